/*
 * The `ctrain` program end to end: it is run (CT_CLI_PATH, from CMake) on
 * job files and data written here, and its exit status, standard output
 * and one-line errors are checked. The training jobs are small synthetic
 * problems with known answers (classes split by a line), so "trains"
 * means reaching an accuracy only a fitted model reaches.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

#ifndef CT_CLI_PATH
#error "CMake passes CT_CLI_PATH, the ctrain program's path"
#endif

static char dir[64];

/* Removes the test's directory (each test runs in its own process). */
static void remove_dir(void) {
    if (!dir[0]) return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(cli, .timeout = 300, .fini = remove_dir);

static void make_dir(void) {
    snprintf(dir, sizeof dir, "/tmp/ct_cli_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void write_file(const char *name, const char *fmt, ...) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
}

static char *read_file(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = calloc((size_t)n + 1, 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return s;
}

typedef struct result {
    int rc;
    char *out, *err;
} result;

/* Runs `ctrain ARGS` in the test's directory (or its subdirectory sub). */
static result run_in(const char *sub, const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s/%s' && '%s' %s > '%s/stdout.txt' 2> '%s/stderr.txt'", dir,
             sub, CT_CLI_PATH, args, dir, dir);
    int st = system(cmd);
    cr_assert(WIFEXITED(st), "ctrain %s did not exit normally", args);
    result r = {.rc = WEXITSTATUS(st), .out = read_file("stdout.txt"), .err = read_file("stderr.txt")};
    cr_assert(r.out && r.err);
    return r;
}

static result run(const char *args) { return run_in(".", args); }

static void result_free(result *r) {
    free(r->out);
    free(r->err);
}

/* Expects a failure whose stderr is exactly one line equal to want. */
static void fails_with(const char *args, const char *want) {
    result r = run(args);
    cr_assert_eq(r.rc, 1, "ctrain %s: exit %d, stderr: %s", args, r.rc, r.err);
    char line[2048];
    snprintf(line, sizeof line, "%s\n", want);
    cr_assert_str_eq(r.err, line);
    result_free(&r);
}

/* The value of `key` in the "final (epoch N): ..." line. */
static double final_metric(const char *out, const char *key) {
    const char *f = strstr(out, "final (epoch ");
    cr_assert_not_null(f, "no final line in: %s", out);
    char pat[64];
    snprintf(pat, sizeof pat, " %s: ", key);
    const char *v = strstr(f, pat);
    cr_assert_not_null(v, "no %s in: %s", key, f);
    return atof(v + strlen(pat));
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* A two-class problem: classes split by the line x0 + x1 = 0. */
static void write_csv(const char *name, int n) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fprintf(f, "x0,x1,label\n");
    for (int i = 0; i < n; i++) {
        double x0 = ((i * 37) % 200) / 100.0 - 1, x1 = ((i * 91 + 17) % 200) / 100.0 - 1;
        fprintf(f, "%g,%g,%d\n", x0, x1, x0 + x1 > 0);
    }
    fclose(f);
}

/* A classifier of `in` features into 2 classes; no input shape when in is 0. */
static void write_model(const char *name, int in) {
    char first[128] = "";
    if (in) snprintf(first, sizeof first, ", \"batch_input_shape\": [null, %d]", in);
    write_file(name,
               "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"toy\", \"layers\": [\n"
               "  {\"class_name\": \"Dense\", \"config\": {\"name\": \"hidden\", \"units\": 16, "
               "\"activation\": \"relu\"%s}},\n"
               "  {\"class_name\": \"Dense\", \"config\": {\"name\": \"logits\", \"units\": 2}}]}}\n",
               first);
}

static const char COMPILE[] =
    "\"compile\": {\"optimizer_config\": {\"class_name\": \"Adam\", \"config\": "
    "{\"learning_rate\": 0.02}},\n"
    "  \"loss\": {\"class_name\": \"SparseCategoricalCrossentropy\", \"config\": {\"from_logits\": "
    "true}},\n"
    "  \"metrics\": [\"accuracy\"]}";

/* A CSV job: model.json, train.csv (400 rows), valid.csv (100 rows). */
static void csv_job(const char *name, const char *fit, const char *extra) {
    write_model("model.json", 2);
    write_csv("train.csv", 400);
    write_csv("valid.csv", 100);
    write_file(name,
               "{\"model\": \"model.json\",\n %s,\n"
               " \"data\": {\"train\": {\"source\": {\"type\": \"csv\", \"files\": \"train.csv\", "
               "\"label\": \"label\"},\n"
               "                    \"transforms\": [{\"shuffle\": {\"buffer_size\": 400, \"seed\": 1}}, "
               "{\"batch\": 32}]},\n"
               "          \"validation\": {\"source\": {\"type\": \"csv\", \"files\": [\"valid.csv\"], "
               "\"label\": \"label\"}}},\n"
               " \"fit\": %s,\n"
               " \"seed\": 7%s}\n",
               COMPILE, fit, extra);
}

Test(cli, a_csv_job_trains) {
    make_dir();
    csv_job("job.json", "{\"epochs\": 20, \"verbose\": 2}", "");
    result r = run("train job.json");
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "Epoch 20/20"), "%s", r.out);
    cr_assert_geq(final_metric(r.out, "accuracy"), 0.95, "%s", r.out);
    cr_assert_geq(final_metric(r.out, "val_accuracy"), 0.95, "%s", r.out);
    cr_assert_leq(final_metric(r.out, "val_loss"), 0.3, "%s", r.out);
    result_free(&r);
}

Test(cli, flags_override_the_job) {
    make_dir();
    csv_job("job.json", "{\"epochs\": 9, \"verbose\": 1}", "");
    result r = run("train job.json --epochs 2 --batch-size 100 --verbose 2");
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "final (epoch 2)"), "%s", r.out);
    cr_assert(!strstr(r.out, "Epoch 3/"), "%s", r.out);
    /* 400 rows in batches of 100 (the flag replaces the job's batch 32). */
    cr_assert(strstr(r.out, "4/4 - "), "%s", r.out);
    result_free(&r);

    r = run("train job.json --epochs=1 --steps-per-epoch 3 --verbose=2 --seed 3 --threads 1");
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "3/3 - "), "%s", r.out);
    cr_assert(strstr(r.out, "final (epoch 1)"), "%s", r.out);
    result_free(&r);

    r = run("train job.json --verbose 0 --epochs 1");
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
    cr_assert(!strstr(r.out, "Epoch 1/1"), "%s", r.out);
    cr_assert_eq(count_lines(r.out), 1, "%s", r.out);
    result_free(&r);
}

/* IDX files: a uint8 [n, 4] input and uint8 labels, class = x0 > 127. */
static void write_idx(int n) {
    char path[256];
    snprintf(path, sizeof path, "%s/x.idx", dir);
    FILE *f = fopen(path, "wb");
    unsigned char hx[] = {0, 0, 8, 2, 0, 0, (unsigned char)(n >> 8), (unsigned char)n, 0, 0, 0, 4};
    fwrite(hx, 1, sizeof hx, f);
    unsigned char *labels = malloc((size_t)n);
    uint32_t s = 12345;
    for (int i = 0; i < n; i++) {
        unsigned char row[4];
        for (int k = 0; k < 4; k++) {
            s = s * 1103515245u + 12345u;
            row[k] = (unsigned char)(s >> 16);
        }
        labels[i] = row[0] > 127;
        fwrite(row, 1, 4, f);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/y.idx", dir);
    f = fopen(path, "wb");
    unsigned char hy[] = {0, 0, 8, 1, 0, 0, (unsigned char)(n >> 8), (unsigned char)n};
    fwrite(hy, 1, sizeof hy, f);
    fwrite(labels, 1, (size_t)n, f);
    fclose(f);
    free(labels);
}

Test(cli, an_idx_job_trains_evaluates_and_predicts) {
    make_dir();
    write_idx(512);
    write_model("model.json", 4);
    write_file("job.json",
               "{\"model\": \"model.json\", %s,\n"
               " \"data\": {\"train\": {\"source\": {\"type\": \"idx\", \"x\": \"x.idx\", \"y\": \"y.idx\"},\n"
               "   \"transforms\": [{\"scale\": 0.00392156862745098}, {\"cache\": {}}, {\"shuffle\": 512}, "
               "{\"batch\": 32}, {\"prefetch\": 2}]},\n"
               "  \"test\": {\"source\": {\"type\": \"idx\", \"x\": \"x.idx\", \"y\": \"y.idx\"},\n"
               "   \"transforms\": [{\"scale\": 0.00392156862745098}, {\"take\": 100}]}},\n"
               " \"fit\": {\"epochs\": 25, \"verbose\": 0},\n"
               " \"evaluate\": {\"verbose\": 0}, \"predict\": {\"output\": \"out/pred.csv\"},\n"
               " \"seed\": 1}\n",
               COMPILE);
    char sub[128];
    snprintf(sub, sizeof sub, "%s/out", dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
    result r = run("train job.json");
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
    cr_assert_geq(final_metric(r.out, "accuracy"), 0.95, "%s", r.out);
    const char *ev = strstr(r.out, "evaluate: loss: ");
    cr_assert_not_null(ev, "%s", r.out);
    const char *acc = strstr(ev, "accuracy: ");
    cr_assert_not_null(acc);
    cr_assert_geq(atof(acc + 10), 0.95, "%s", ev);
    result_free(&r);
    /* The test data's 100 examples, two logits each. */
    char *pred = read_file("out/pred.csv");
    cr_assert_not_null(pred);
    cr_assert_eq(count_lines(pred), 100);
    int commas = 0;
    for (const char *c = pred; *c != '\n'; c++) commas += *c == ',';
    cr_assert_eq(commas, 1, "%s", pred);
    free(pred);
}

Test(cli, evaluate_and_predict_commands_use_fresh_weights_and_say_so) {
    make_dir();
    csv_job("job.json", "{\"epochs\": 1}", "");
    result r = run("evaluate job.json --verbose 0");
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "note: the model's weights are freshly initialised"), "%s", r.err);
    cr_assert(strstr(r.out, "evaluate: loss: "), "%s", r.out);
    cr_assert(strstr(r.out, " - accuracy: "), "%s", r.out);
    result_free(&r);

    r = run("predict job.json --verbose 0 --output preds.csv");
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
    result_free(&r);
    char *pred = read_file("preds.csv");
    cr_assert_not_null(pred);
    cr_assert_eq(count_lines(pred), 100); /* valid.csv */
    free(pred);

    r = run("predict job.json --verbose 0 --steps 1");
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
    cr_assert_eq(count_lines(r.out), 32); /* one batch of 32, to stdout */
    result_free(&r);
}

Test(cli, a_tfrecord_job_trains) {
    make_dir();
    char path[256];
    snprintf(path, sizeof path, "%s/train.tfrecord", dir);
    ct_tfrecord_writer *w = ct_tfrecord_writer_open(path, CT_COMPRESSION_GZIP);
    CT_OK(w);
    for (int i = 0; i < 300; i++) {
        float x[3] = {(float)(((i * 37) % 200) / 100.0 - 1), (float)(((i * 91 + 17) % 200) / 100.0 - 1),
                      (float)((i % 7) / 7.0)};
        int64_t y = x[0] + x[1] > 0;
        ct_example *ex = ct_example_new();
        CT_STATUS_OK(ct_example_add_floats(ex, "x", x, 2));
        CT_STATUS_OK(ct_example_add_floats(ex, "noise", x + 2, 1));
        CT_STATUS_OK(ct_example_add_int64s(ex, "y", &y, 1));
        void *buf;
        size_t len;
        CT_STATUS_OK(ct_example_serialize(ex, &buf, &len));
        CT_STATUS_OK(ct_tfrecord_writer_write(w, buf, len));
        free(buf);
        ct_example_free(ex);
    }
    CT_STATUS_OK(ct_tfrecord_writer_close(w));
    write_model("model.json", 0); /* built from the data: x is [3] */
    write_file("job.json",
               "{\"model\": \"model.json\", %s,\n"
               " \"data\": {\"train\": {\"source\": {\"type\": \"tfrecord\", \"files\": \"*.tfrecord\",\n"
               "   \"compression_type\": \"GZIP\", \"label\": \"y\",\n"
               "   \"features\": {\"x\": {\"dtype\": \"float32\", \"shape\": [2]}, \"noise\": {\"dtype\": "
               "\"float32\"},\n"
               "                \"y\": {\"dtype\": \"int64\"}}},\n"
               "   \"transforms\": [{\"cache\": {}}, {\"shuffle\": 300}, {\"batch\": 30}]}},\n"
               " \"fit\": {\"epochs\": 25, \"verbose\": 0}, \"seed\": 2}\n",
               COMPILE);
    result r = run("train job.json");
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
    cr_assert_geq(final_metric(r.out, "accuracy"), 0.93, "%s", r.out);
    result_free(&r);
    r = run("summary job.json");
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
    /* 3 inputs: 3 * 16 + 16 + 16 * 2 + 2 = 98 */
    cr_assert(strstr(r.out, "Total params: 98"), "%s", r.out);
    result_free(&r);
}

Test(cli, summary_prints_the_table) {
    make_dir();
    write_model("model.json", 2);
    result r = run("summary model.json");
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "Model: \"toy\""), "%s", r.out);
    cr_assert(strstr(r.out, "Layer (type)"), "%s", r.out);
    cr_assert(strstr(r.out, " hidden (Dense)"), "%s", r.out);
    cr_assert(strstr(r.out, "(None, 16)"), "%s", r.out);
    cr_assert(strstr(r.out, "Total params: 82"), "%s", r.out);
    result_free(&r);

    csv_job("job.json", "{}", "");
    r = run("summary job.json");
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "Total params: 82"), "%s", r.out);
    result_free(&r);

    write_file("bad_model.json", "{\"class_name\": \"Sequential\",\n \"config\": {\"layers\": [\n"
                                 "  {\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 2, "
                                 "\"activaton\": \"relu\"}}]}}");
    fails_with("summary bad_model.json",
               "bad_model.json:3:63: config.layers[0].config.activaton: Sequential 'sequential': "
               "layers[0]: Dense 'd': unknown argument 'activaton'");
}

Test(cli, bad_job_files_give_one_line_with_the_place) {
    make_dir();
    write_model("model.json", 2);
    write_csv("train.csv", 10);
    write_file("syntax.json", "{\"model\": \"model.json\",\n \"fit\": {\"epochs\": 1,}}");
    fails_with("train syntax.json", "syntax.json:2:22: syntax error: string or '}' expected near '}'");
    write_file("key.json", "{\"model\": \"model.json\",\n \"fit\": {\"epoch\": 1}}");
    fails_with("train key.json",
               "key.json:2:10: fit.epoch: unknown key \"epoch\" (expected one of: epochs, batch_size, "
               "verbose, steps_per_epoch, validation_steps, validation_freq, validation_batch_size, "
               "initial_epoch, class_weight, shuffle)");
    write_file("type.json", "{\"model\": \"model.json\",\n \"fit\": {\"epochs\": [1]}}");
    fails_with("train type.json", "type.json:2:20: fit.epochs: expected an integer, found an array");
    write_file("nomodel.json", "{\"model\": \"absent.json\"}");
    fails_with("train nomodel.json", "nomodel.json:1:11: model: cannot open \"absent.json\": No such "
                                     "file or directory");
    write_file("transform.json",
               "{\"model\": \"model.json\", \"data\": {\"train\": {\"source\": {\"type\": \"csv\", "
               "\"files\": \"train.csv\", \"label\": \"label\"},\n"
               "  \"transforms\": [{\"batch\": 2}, {\"shufle\": 10}]}}}");
    fails_with("train transform.json",
               "transform.json:2:33: data.train.transforms[1]: unknown transform \"shufle\" (expected "
               "one of: scale, reshape, cache, shuffle, batch, unbatch, prefetch, repeat, take, skip, "
               "shard)");
    fails_with("train absent.json", "ctrain train: cannot open \"absent.json\": No such file or directory");
}

Test(cli, library_errors_are_placed_at_their_field) {
    make_dir();
    write_model("model.json", 2);
    write_csv("train.csv", 10);
    write_file("opt.json",
               "{\"model\": \"model.json\",\n \"compile\": {\"optimizer_config\": {\"class_name\": "
               "\"Adam\",\n   \"config\": {\"learning_rat\": 0.1}}, \"loss\": \"mse\"}}");
    result r = run("train opt.json");
    cr_assert_eq(r.rc, 1);
    cr_assert(!strncmp(r.err, "opt.json:3:15: compile.optimizer_config.config.learning_rat: ", 61),
              "%s", r.err);
    cr_assert(strstr(r.err, "unknown argument 'learning_rat'"), "%s", r.err);
    result_free(&r);

    const char *data = "\"data\": {\"train\": {\"source\": {\"type\": \"csv\", \"files\": \"train.csv\", "
                       "\"label\": \"label\"}}}";
    write_file("cb.json",
               "{\"model\": \"model.json\", %s, %s,\n \"callbacks\": [{\"class_name\": "
               "\"EarlyStopping\", \"config\": {\"patiense\": 2}}]}",
               COMPILE, data);
    r = run("train cb.json");
    cr_assert_eq(r.rc, 1);
    cr_assert(strstr(r.err, "cb.json:4:59: callbacks[0].config.patiense: "), "%s", r.err);
    result_free(&r);

    write_file("nolabel.json",
               "{\"model\": \"model.json\", %s,\n \"data\": {\"train\": {\"source\": {\"type\": \"csv\", "
               "\"files\": \"train.csv\", \"select_columns\": [\"x0\", \"x1\"]}}}}",
               COMPILE);
    fails_with("train nolabel.json",
               "nolabel.json:4:31: data.train.source: this source has no labels, which fit and "
               "evaluate need: give \"label\", the label column or feature");

    write_file("bs.json",
               "{\"model\": \"model.json\", %s,\n \"data\": {\"train\": {\"source\": {\"type\": \"csv\", "
               "\"files\": \"train.csv\", \"label\": \"label\"}, \"transforms\": [{\"batch\": 5}]}},\n"
               " \"fit\": {\"batch_size\": 4}}",
               COMPILE);
    fails_with("train bs.json",
               "bs.json:5:24: fit.batch_size: batch_size 4 conflicts with "
               "data.train.transforms[0].batch (5): the train data are batched by their transforms; "
               "remove one");
}

Test(cli, csv_logger_writes_beside_the_job) {
    make_dir();
    csv_job("job.json", "{\"epochs\": 3, \"verbose\": 0}",
            ",\n \"callbacks\": [{\"class_name\": \"CSVLogger\", \"config\": {\"filename\": \"log.csv\"}},\n"
            "               {\"class_name\": \"EarlyStopping\", \"config\": {\"monitor\": \"loss\", "
            "\"patience\": 5}}]");
    /* Run from elsewhere: the log still lands beside the job file. */
    char sub[128];
    snprintf(sub, sizeof sub, "%s/elsewhere", dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
    result r = run_in("elsewhere", "train ../job.json");
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
    result_free(&r);
    char *log = read_file("log.csv");
    cr_assert_not_null(log);
    cr_assert(!strncmp(log, "epoch,", 6), "%s", log);
    cr_assert_eq(count_lines(log), 4, "%s", log);
    free(log);
}

Test(cli, help_and_usage) {
    make_dir();
    result r = run("train --help");
    cr_assert_eq(r.rc, 0);
    cr_assert(strstr(r.out, "usage: ctrain train JOB.json"), "%s", r.out);
    cr_assert(strstr(r.out, "--batch-size N"), "%s", r.out);
    result_free(&r);
    const char *cmds[] = {"evaluate --help", "predict -h", "summary --help", "help train", "--help"};
    for (int i = 0; i < 5; i++) {
        r = run(cmds[i]);
        cr_assert_eq(r.rc, 0, "%s", cmds[i]);
        cr_assert(strstr(r.out, "usage: ctrain"), "%s: %s", cmds[i], r.out);
        result_free(&r);
    }
    r = run("--version");
    cr_assert_eq(r.rc, 0);
    cr_assert(!strncmp(r.out, "ctrain ", 7));
    result_free(&r);
    r = run("train job.json --epochs zero");
    cr_assert_eq(r.rc, 2);
    cr_assert(strstr(r.err, "--epochs: expected an integer"), "%s", r.err);
    result_free(&r);
    r = run("summary model.json --epochs 2");
    cr_assert_eq(r.rc, 2);
    cr_assert(strstr(r.err, "unknown flag \"--epochs\""), "%s", r.err);
    result_free(&r);
    r = run("fly job.json");
    cr_assert_eq(r.rc, 2);
    result_free(&r);
    r = run("");
    cr_assert_eq(r.rc, 2);
    result_free(&r);
}

/* A run that fails (exit 1) with needle in its stderr. */
static void fails_mentioning(const char *args, const char *needle) {
    result r = run(args);
    cr_assert_eq(r.rc, 1, "%s: exit %d, stderr: %s", args, r.rc, r.err);
    cr_assert(strstr(r.err, needle), "%s: stderr \"%s\" does not mention \"%s\"", args, r.err,
              needle);
    result_free(&r);
}

/* The evaluate line's loss ("evaluate: loss: 0.1234 - ..."). */
static double evaluate_loss(const char *out) {
    const char *ev = strstr(out, "evaluate: loss: ");
    return ev ? atof(ev + 16) : NAN;
}

Test(cli, evaluate_and_predict_load_trained_weights) {
    make_dir();
    csv_job("job.json", "{\"epochs\": 5, \"verbose\": 0}",
            ",\n \"callbacks\": [{\"class_name\": \"ModelCheckpoint\", \"config\": "
            "{\"filepath\": \"w.weights.h5\", \"save_weights_only\": true}}],\n"
            " \"evaluate\": {\"verbose\": 0}");
    result r = run("train job.json");
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
    double trained = evaluate_loss(r.out);
    result_free(&r);
    r = run("evaluate job.json --verbose 0 --weights w.weights.h5");
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
    cr_assert(!strstr(r.err, "freshly initialised"), "%s", r.err);
    cr_assert_float_eq(evaluate_loss(r.out), trained, 1e-4, "%s vs %g", r.out, trained);
    result_free(&r);
    r = run("predict job.json --verbose 0 --steps 1 --weights w.weights.h5");
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
    result_free(&r);
    fails_mentioning("evaluate job.json --weights missing.h5", "--weights: ct_model_load_weights: 'missing.h5': cannot read it");
}

Test(cli, resume_flag) {
    make_dir();
    csv_job("job.json", "{\"epochs\": 2, \"verbose\": 0}",
            ",\n \"callbacks\": [{\"class_name\": \"BackupAndRestore\", \"config\": "
            "{\"backup_dir\": \"bk\", \"delete_checkpoint\": false}}]");
    result r = run("train job.json");
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "final (epoch 2)"), "%s", r.out);
    result_free(&r);
    /* Everything was trained: auto resumes after the last epoch. */
    r = run("train job.json --epochs 3");
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "final (epoch 3)"), "%s", r.out);
    result_free(&r);
    r = run("train job.json --epochs 3 --resume never");
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "final (epoch 3)"), "%s", r.out);
    result_free(&r);
    fails_mentioning("train job.json --resume nowhere", "--resume nowhere: No such file");
    fails_mentioning("train job.json --resume .", "no complete checkpoint");
}
