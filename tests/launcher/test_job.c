/*
 * The job-file reader (launcher/job.c, launcher/jsonpos.c) compiled in:
 * every field parsed into its struct, and every kind of bad job file
 * rejected with the file, line, column and field path of the culprit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher/cli.h"
#include "launcher/job.h"
#include "launcher/jsonpos.h"
#include "launcher/pipeline.h"
#include "support.h"

/* The directory of a test that writes files (each test runs in its own
 * process), removed after it. */
static char dir[64];

static void remove_dir(void) {
    if (!dir[0]) return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(job, .fini = remove_dir);

static const char MODEL[] = "{\"class_name\": \"Sequential\", \"config\": {\"layers\": []}}";

/* A job from text whose model is inline (so no file is needed). */
static job *parse(const char *text) { return job_parse(text, "job.json", "/jobs"); }

/* Expects text to be rejected with exactly `want` as the message. */
static void rejects(const char *text, const char *want) {
    cli_clear_error();
    job *j = parse(text);
    cr_assert_null(j, "expected \"%s\"", want);
    cr_assert_str_eq(cli_error(), want);
}

Test(job, a_full_job_fills_every_field) {
    char text[4096];
    snprintf(text, sizeof text,
             "{\"model\": %s,\n"
             " \"compile\": {\"optimizer\": \"sgd\", \"loss\": \"mse\", \"metrics\": [[\"mae\", "
             "{\"class_name\": \"AUC\", \"config\": {}}]], \"loss_weights\": null},\n"
             " \"data\": {\"train\": {\"source\": {\"type\": \"idx\", \"x\": \"x.idx\", \"y\": "
             "\"/abs/y.idx\"},\n"
             "   \"transforms\": [{\"scale\": 0.5}, {\"reshape\": [2, -1]}, {\"cache\": {}},\n"
             "     {\"shuffle\": {\"buffer_size\": 10, \"seed\": 3, \"reshuffle_each_iteration\": "
             "false}},\n"
             "     {\"batch\": {\"batch_size\": 4, \"drop_remainder\": true}}, {\"prefetch\": "
             "\"autotune\"},\n"
             "     {\"repeat\": null}, {\"take\": 5}, {\"skip\": {\"count\": 1}}, {\"shard\": "
             "{\"num_shards\": 2, \"index\": 1}}, {\"unbatch\": {}}]},\n"
             "  \"test\": {\"source\": {\"type\": \"fashion_mnist\", \"split\": \"test\", \"dir\": "
             "\"fm\"}}},\n"
             " \"fit\": {\"epochs\": 7, \"batch_size\": 4, \"verbose\": 2, \"steps_per_epoch\": 3, "
             "\"validation_freq\": 2, \"initial_epoch\": 1, \"class_weight\": {\"1\": 2.5, \"0\": 1}, "
             "\"shuffle\": false},\n"
             " \"callbacks\": [{\"class_name\": \"CSVLogger\", \"config\": {\"filename\": "
             "\"log.csv\"}}],\n"
             " \"evaluate\": {\"steps\": 2, \"verbose\": 0}, \"predict\": {\"output\": \"p.csv\"},\n"
             " \"seed\": 42, \"threads\": 2}",
             MODEL);
    job *j = parse(text);
    cr_assert_not_null(j, "%s", cli_error());
    cr_assert_null(j->model_file);
    cr_assert(strstr(j->model_json, "Sequential"));
    cr_assert_str_eq(j->optimizer.name, "sgd");
    cr_assert_str_eq(j->loss.name, "mse");
    cr_assert_eq(j->nmetrics, 2);
    cr_assert_str_eq(j->metrics[0].name, "mae");
    cr_assert(strstr(j->metrics[1].config_json, "\"AUC\""));
    /* Relative paths start at the job's directory; absolute ones stay. */
    cr_assert_str_eq(j->train.source.x_path, "/jobs/x.idx");
    cr_assert_str_eq(j->train.source.y_path, "/abs/y.idx");
    cr_assert_eq(j->train.ntransforms, 11);
    const job_transform *t = j->train.transforms;
    cr_assert_eq(t[0].kind, JOB_T_SCALE);
    cr_assert_float_eq(t[0].factor, 0.5, 0);
    cr_assert_eq(t[1].kind, JOB_T_RESHAPE);
    cr_assert_eq(t[1].rank, 2);
    cr_assert_eq(t[1].shape[1], -1);
    cr_assert_eq(t[2].kind, JOB_T_CACHE);
    cr_assert_null(t[2].filename);
    cr_assert_eq(t[3].n, 10);
    cr_assert_eq(t[3].seed, 3);
    cr_assert(t[3].no_reshuffle);
    cr_assert_eq(t[4].n, 4);
    cr_assert(t[4].drop_remainder);
    cr_assert_eq(t[5].n, CT_AUTOTUNE);
    cr_assert_eq(t[6].n, -1);
    cr_assert_eq(t[7].n, 5);
    cr_assert_eq(t[8].n, 1);
    cr_assert_eq(t[9].n, 2);
    cr_assert_eq(t[9].index, 1);
    cr_assert_eq(t[10].kind, JOB_T_UNBATCH);
    cr_assert_str_eq(t[4].where.path, "data.train.transforms[4].batch");
    cr_assert(!j->validation.present);
    cr_assert(j->test.present);
    cr_assert(j->test.source.test_split);
    cr_assert_str_eq(j->test.source.dir, "/jobs/fm");
    cr_assert_eq(j->epochs, 7);
    cr_assert_eq(j->batch_size, 4);
    cr_assert_eq(j->verbose, CT_VERBOSE_EPOCH);
    cr_assert_eq(j->steps_per_epoch, 3);
    cr_assert_eq(j->validation_freq, 2);
    cr_assert_eq(j->initial_epoch, 1);
    cr_assert_eq(j->nclass_weight, 2);
    cr_assert_float_eq(j->class_weight[0], 1.0, 0);
    cr_assert_float_eq(j->class_weight[1], 2.5, 0);
    cr_assert(j->no_shuffle);
    cr_assert_eq(j->ncallbacks, 1);
    cr_assert_str_eq(j->callbacks[0].class_name, "CSVLogger");
    cr_assert(strstr(j->callbacks[0].config_json, "/jobs/log.csv"), "%s", j->callbacks[0].config_json);
    cr_assert(j->has_evaluate);
    cr_assert_eq(j->evaluate_steps, 2);
    cr_assert_eq(j->evaluate_verbose, CT_VERBOSE_SILENT);
    cr_assert_str_eq(j->predict_output, "/jobs/p.csv");
    cr_assert(j->has_seed);
    cr_assert_eq(j->seed, 42);
    cr_assert_eq(j->threads, 2);
    job_free(j);
}

Test(job, defaults_are_keras_defaults) {
    char text[512];
    snprintf(text, sizeof text, "{\"model\": %s, \"compile\": {\"optimizer_config\": "
                                "{\"class_name\": \"Adam\", \"config\": {}}}}",
             MODEL);
    job *j = parse(text);
    cr_assert_not_null(j, "%s", cli_error());
    cr_assert(strstr(j->optimizer.config_json, "\"Adam\""));
    cr_assert_null(j->optimizer.name);
    cr_assert_eq(j->epochs, 0);     /* fit's 1 */
    cr_assert_eq(j->batch_size, 0); /* fit's 32 */
    cr_assert_eq(j->verbose, CT_VERBOSE_AUTO);
    cr_assert(!j->no_shuffle);
    cr_assert(!j->has_seed);
    cr_assert(!j->train.present);
    job_free(j);
}

Test(job, syntax_errors_give_jansson_line_and_column) {
    rejects("{\n  \"model\": \"m.json\",\n  \"fit\": {\"epochs\": 3,}\n}",
            "job.json:3:23: syntax error: string or '}' expected near '}'");
}

Test(job, unknown_keys_are_placed_at_the_key) {
    char text[512];
    snprintf(text, sizeof text, "{\"model\": %s,\n \"fit\": {\"epochs\": 2,\n   \"epoch\": 3}}", MODEL);
    rejects(text, "job.json:3:4: fit.epoch: unknown key \"epoch\" (expected one of: epochs, "
                  "batch_size, verbose, steps_per_epoch, validation_steps, validation_freq, "
                  "validation_batch_size, initial_epoch, class_weight, shuffle)");
    rejects("{\"model\": {}, \"modle\": 1}",
            "job.json:1:15: modle: unknown key \"modle\" (expected one of: model, compile, data, "
            "fit, callbacks, evaluate, predict, seed, threads, description)");
}

Test(job, wrong_types_are_placed_at_the_value) {
    char text[512];
    snprintf(text, sizeof text, "{\"model\": %s,\n \"fit\": {\"epochs\": \"3\"}}", MODEL);
    rejects(text, "job.json:2:20: fit.epochs: expected an integer, found a string");
    snprintf(text, sizeof text, "{\"model\": %s, \"fit\": {\"epochs\": 0}}", MODEL);
    cr_assert_null(parse(text));
    cr_assert(strstr(cli_error(), "fit.epochs: must be at least 1, got 0"), "%s", cli_error());
    snprintf(text, sizeof text, "{\"model\": %s, \"fit\": {\"verbose\": 3}}", MODEL);
    cr_assert_null(parse(text));
    cr_assert(strstr(cli_error(), "fit.verbose: expected 0, 1, 2 or \"auto\""), "%s", cli_error());
    rejects("[1, 2]", "job.json:1:1: a job file is a JSON object, found an array");
    rejects("{\"model\": 3}", "job.json:1:11: model: expected a Keras model JSON file name or an "
                              "inline model object, found an integer");
}

Test(job, bad_transforms_name_the_transform_and_the_choices) {
    char text[1024];
    snprintf(text, sizeof text,
             "{\"model\": %s,\n \"data\": {\"train\": {\"source\": {\"type\": \"fashion_mnist\"},\n"
             "  \"transforms\": [{\"batch\": 2},\n                 {\"shufle\": 10}]}}}",
             MODEL);
    rejects(text, "job.json:4:19: data.train.transforms[1]: unknown transform \"shufle\" "
                  "(expected one of: scale, reshape, cache, shuffle, batch, unbatch, prefetch, "
                  "repeat, take, skip, shard)");
    snprintf(text, sizeof text,
             "{\"model\": %s, \"data\": {\"train\": {\"source\": {\"type\": \"fashion_mnist\"}, "
             "\"transforms\": [{\"batch\": 0}]}}}",
             MODEL);
    cr_assert_null(parse(text));
    cr_assert(strstr(cli_error(), "data.train.transforms[0].batch: must be at least 1, got 0"),
              "%s", cli_error());
    snprintf(text, sizeof text,
             "{\"model\": %s, \"data\": {\"train\": {\"source\": {\"type\": \"fashion_mnist\"}, "
             "\"transforms\": [{\"batch\": 2, \"take\": 1}]}}}",
             MODEL);
    cr_assert_null(parse(text));
    cr_assert(strstr(cli_error(), "data.train.transforms[0]: a transform is an object with one "
                                  "key"),
              "%s", cli_error());
    snprintf(text, sizeof text,
             "{\"model\": %s, \"data\": {\"train\": {\"source\": {\"type\": \"fashion_mnist\"}, "
             "\"transforms\": [{\"shuffle\": {\"buffer_size\": 8, \"sed\": 1}}]}}}",
             MODEL);
    cr_assert_null(parse(text));
    cr_assert(strstr(cli_error(), "data.train.transforms[0].shuffle.sed: unknown key \"sed\""),
              "%s", cli_error());
}

Test(job, bad_sources) {
    char text[1024];
    snprintf(text, sizeof text,
             "{\"model\": %s, \"data\": {\"train\": {\"source\": {\"type\": \"parquet\"}}}}", MODEL);
    cr_assert_null(parse(text));
    cr_assert(strstr(cli_error(), "data.train.source.type: unknown source type \"parquet\" "
                                  "(expected one of: fashion_mnist, idx, csv, tfrecord)"),
              "%s", cli_error());
    snprintf(text, sizeof text,
             "{\"model\": %s, \"data\": {\"train\": {\"source\": {\"type\": \"csv\", \"files\": "
             "[\"no_such_dir/*.csv\"]}}}}",
             MODEL);
    cr_assert_null(parse(text));
    cr_assert(strstr(cli_error(), "data.train.source.files[0]: No files matched pattern: "
                                  "/jobs/no_such_dir/*.csv"),
              "%s", cli_error());
    snprintf(text, sizeof text,
             "{\"model\": %s, \"data\": {\"train\": {\"source\": {\"type\": \"tfrecord\", \"files\": "
             "\"a.tfrecord\", \"features\": {\"x\": {\"dtype\": \"string\"}}}}}}",
             MODEL);
    cr_assert_null(parse(text));
    cr_assert(strstr(cli_error(), "data.train.source.features.x.dtype: unsupported dtype "
                                  "\"string\""),
              "%s", cli_error());
    snprintf(text, sizeof text,
             "{\"model\": %s, \"data\": {\"validation\": {\"source\": {\"type\": \"tfrecord\", "
             "\"files\": \"a.tfrecord\", \"features\": {\"x\": {\"dtype\": \"float32\", \"shape\": "
             "[2]}}, \"label\": \"y\"}}}}",
             MODEL);
    cr_assert_null(parse(text));
    cr_assert(strstr(cli_error(), "data.validation.source.label: the label \"y\" is not one of "
                                  "the features"),
              "%s", cli_error());
}

/* A job whose data.train has `options` (the text after "options": on
 * line 3) and a validation part without. */
static job *with_options(const char *options) {
    char text[1024];
    snprintf(text, sizeof text,
             "{\"model\": %s,\n"
             " \"data\": {\"train\": {\"source\": {\"type\": \"fashion_mnist\"},\n"
             "   \"options\": %s},\n"
             "  \"validation\": {\"source\": {\"type\": \"fashion_mnist\"}}}}",
             MODEL, options);
    cli_clear_error();
    return parse(text);
}

Test(job, auto_shard_policy_mirrors_tf_data_options) {
    static const char *const names[] = {"AUTO", "FILE", "DATA", "OFF"};
    static const ct_auto_shard_policy want[] = {CT_AUTO_SHARD_AUTO, CT_AUTO_SHARD_FILE,
                                                CT_AUTO_SHARD_DATA, CT_AUTO_SHARD_OFF};
    for (int i = 0; i < 4; i++) {
        char opt[128];
        snprintf(opt, sizeof opt, "{\"experimental_distribute\": {\"auto_shard_policy\": \"%s\"}}",
                 names[i]);
        job *j = with_options(opt);
        cr_assert_not_null(j, "%s", cli_error());
        cr_assert_eq(j->train.shard_policy, want[i], "%s", names[i]);
        cr_assert_str_eq(j->train.shard_policy_where.path,
                         "data.train.options.experimental_distribute.auto_shard_policy");
        cr_assert_eq(j->train.shard_policy_where.line, 3);
        cr_assert_eq(j->train.shard_policy_where.col, 65);
        /* Not given: AUTO, as tf.data.Options. */
        cr_assert_eq(j->validation.shard_policy, CT_AUTO_SHARD_AUTO);
        cr_assert_str_eq(j->validation.shard_policy_where.path, "");
        job_free(j);
    }
    /* Empty objects are TF's defaults too. */
    job *j = with_options("{\"experimental_distribute\": {}}");
    cr_assert_not_null(j, "%s", cli_error());
    cr_assert_eq(j->train.shard_policy, CT_AUTO_SHARD_AUTO);
    job_free(j);
    j = with_options("{}");
    cr_assert_not_null(j, "%s", cli_error());
    job_free(j);
}

Test(job, bad_auto_shard_policies_are_placed_at_the_field) {
    static const char PATH[] = "data.train.options.experimental_distribute.auto_shard_policy";
    struct {
        const char *options, *error;
    } cases[] = {
        {"{\"experimental_distribute\": {\"auto_shard_policy\": \"SHARD\"}}",
         "job.json:3:65: %s: unknown auto_shard_policy \"SHARD\" (expected one of: AUTO, FILE, "
         "DATA, OFF)"},
        {"{\"experimental_distribute\": {\"auto_shard_policy\": \"data\"}}",
         "job.json:3:65: %s: unknown auto_shard_policy \"data\" (expected one of: AUTO, FILE, "
         "DATA, OFF)"},
        {"{\"experimental_distribute\": {\"auto_shard_policy\": \"HINT\"}}",
         "job.json:3:65: %s: HINT is not available (no transform takes "
         "tf.data.experimental.SHARD_HINT); expected one of: AUTO, FILE, DATA, OFF"},
        {"{\"experimental_distribute\": {\"auto_shard_policy\": 2}}",
         "job.json:3:65: %s: expected a policy name (one of: AUTO, FILE, DATA, OFF), found an "
         "integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[512];
        snprintf(want, sizeof want, cases[i].error, PATH);
        cr_assert_null(with_options(cases[i].options), "%s", cases[i].options);
        cr_assert_str_eq(cli_error(), want);
    }
    cr_assert_null(with_options("{\"experimental_distribute\": {\"auto_shard\": \"DATA\"}}"));
    cr_assert_str_eq(cli_error(), "job.json:3:44: data.train.options.experimental_distribute."
                                  "auto_shard: unknown key \"auto_shard\" (expected one of: "
                                  "auto_shard_policy)");
    cr_assert_null(with_options("{\"experimental_deterministic\": true}"));
    cr_assert_str_eq(cli_error(), "job.json:3:16: data.train.options.experimental_deterministic: "
                                  "unknown key \"experimental_deterministic\" (expected one of: "
                                  "experimental_distribute)");
    cr_assert_null(with_options("\"DATA\""));
    cr_assert_str_eq(cli_error(), "job.json:3:15: data.train.options: expected an object, found a "
                                  "string");
    cr_assert_null(with_options("{\"experimental_distribute\": \"DATA\"}"));
    cr_assert_str_eq(cli_error(), "job.json:3:43: data.train.options.experimental_distribute: "
                                  "expected an object, found a string");
}

Test(job, compile_checks) {
    char text[1024];
    snprintf(text, sizeof text,
             "{\"model\": %s, \"compile\": {\"optimizer\": \"adam\", \"optimizer_config\": "
             "{\"class_name\": \"Adam\"}}}",
             MODEL);
    cr_assert_null(parse(text));
    cr_assert(strstr(cli_error(), "give \"optimizer_config\" or \"optimizer\", not both"), "%s",
              cli_error());
    snprintf(text, sizeof text, "{\"model\": %s, \"compile\": {\"loss_weights\": [0.5]}}", MODEL);
    cr_assert_null(parse(text));
    cr_assert(strstr(cli_error(), "compile.loss_weights: loss_weights other than null or 1 are "
                                  "not available yet"),
              "%s", cli_error());
    snprintf(text, sizeof text, "{\"model\": %s, \"compile\": {\"loss\": {\"config\": {}}}}", MODEL);
    cr_assert_null(parse(text));
    cr_assert(strstr(cli_error(), "compile.loss: one loss"), "%s", cli_error());
}

Test(job, class_weight_keys_are_every_class) {
    char text[512];
    snprintf(text, sizeof text, "{\"model\": %s, \"fit\": {\"class_weight\": {\"0\": 1, \"2\": 3}}}",
             MODEL);
    cr_assert_null(parse(text));
    cr_assert(strstr(cli_error(), "fit.class_weight[\"2\"]: class_weight's keys must be the classes "
                                  "0 to 1"),
              "%s", cli_error());
}

/* TensorBoard's log_dir and ModelCheckpoint's filepath are relative to
 * the job file, as every path; log_dir's default is Keras's "logs". */
Test(job, callback_paths_are_relative_to_the_job) {
    char text[768];
    snprintf(text, sizeof text,
             "{\"model\": %s, \"callbacks\": [{\"class_name\": \"TensorBoard\", \"config\": "
             "{\"log_dir\": \"tb\", \"histogram_freq\": 1}}, {\"class_name\": \"TensorBoard\"}, "
             "{\"class_name\": \"ModelCheckpoint\", \"config\": {\"filepath\": \"ck/w{epoch}.h5\", "
             "\"save_weights_only\": true}}]}",
             MODEL);
    job *j = parse(text);
    cr_assert_not_null(j, "%s", cli_error());
    cr_assert_eq(j->ncallbacks, 3);
    cr_assert(strstr(j->callbacks[2].config_json, "\"/jobs/ck/w{epoch}.h5\""), "%s",
              j->callbacks[2].config_json);
    cr_assert(strstr(j->callbacks[0].config_json, "\"/jobs/tb\""), "%s",
              j->callbacks[0].config_json);
    cr_assert(strstr(j->callbacks[0].config_json, "\"histogram_freq\": 1") ||
                  strstr(j->callbacks[0].config_json, "\"histogram_freq\":1"),
              "%s", j->callbacks[0].config_json);
    cr_assert(strstr(j->callbacks[1].config_json, "\"/jobs/logs\""), "%s",
              j->callbacks[1].config_json);
    job_free(j);
}

/* BackupAndRestore's backup_dir is relative to the job file too. */
Test(job, backup_dir_is_relative_to_the_job) {
    char text[512];
    snprintf(text, sizeof text,
             "{\"model\": %s, \"callbacks\": [{\"class_name\": \"BackupAndRestore\", \"config\": "
             "{\"backup_dir\": \"b\", \"save_freq\": 10}}]}",
             MODEL);
    job *j = parse(text);
    cr_assert_not_null(j, "%s", cli_error());
    cr_assert(strstr(j->callbacks[0].config_json, "\"/jobs/b\""), "%s",
              j->callbacks[0].config_json);
    job_free(j);
}

Test(job, duplicate_keys_are_rejected) {
    char text[512];
    snprintf(text, sizeof text, "{\"model\": %s, \"seed\": 1, \"seed\": 2}", MODEL);
    cr_assert_null(parse(text));
    cr_assert(strstr(cli_error(), "syntax error: duplicate object key"), "%s", cli_error());
}

/* A model file beside a job file, in a fresh directory. */

static void write_file(const char *name, const char *text) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void make_dir(void) {
    snprintf(dir, sizeof dir, "/tmp/ct_job_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

Test(job, model_files_are_read_relative_to_the_job) {
    make_dir();
    write_file("m.json", MODEL);
    write_file("job.json", "{\"model\": \"m.json\"}");
    char path[256];
    snprintf(path, sizeof path, "%s/job.json", dir);
    job *j = job_load(path);
    cr_assert_not_null(j, "%s", cli_error());
    char want[256];
    snprintf(want, sizeof want, "%s/m.json", dir);
    cr_assert_str_eq(j->model_file, want);
    cr_assert_str_eq(j->model_json, MODEL);
    job_free(j);

    write_file("job.json", "{\n  \"model\": \"missing.json\"}");
    cr_assert_null(job_load(path));
    char msg[512];
    snprintf(msg, sizeof msg, "%s:2:12: model: cannot open \"%s/missing.json\": No such file or "
                              "directory",
             path, dir);
    cr_assert_str_eq(cli_error(), msg);

    /* A syntax error inside the model file is placed in that file. */
    write_file("m.json", "{\"class_name\": \"Sequential\",\n \"config\": {]}");
    write_file("job.json", "{\"model\": \"m.json\"}");
    cr_assert_null(job_load(path));
    snprintf(msg, sizeof msg, "%s/m.json:2:13: syntax error:", dir);
    cr_assert(!strncmp(cli_error(), msg, strlen(msg)), "%s", cli_error());
}

Test(job, tells_jobs_from_models) {
    cr_assert(job_text_is_job("{\"model\": \"m.json\"}"));
    cr_assert(!job_text_is_job(MODEL));
    cr_assert(!job_text_is_job("{\"modelTopology\": {}, \"model\": 1}"));
    cr_assert(!job_text_is_job("not json"));
}

/* ---- a part split over ranks (pipeline.c under mpirun) ------------------------ */

/* CSV files part-0..2 of 7, 1 and 4 rows: ids 0..11 in order, a feature,
 * a label. */
enum { NIDS = 12 };

static void write_parts(void) {
    static const int sizes[3] = {7, 1, 4};
    make_dir();
    int id = 0;
    for (int f = 0; f < 3; f++) {
        char name[32], text[512];
        size_t n = (size_t)snprintf(text, sizeof text, "id,f,y\n");
        for (int k = 0; k < sizes[f]; k++, id++)
            n += (size_t)snprintf(text + n, sizeof text - n, "%d,%g,%d\n", id, 0.5 * id, id % 2);
        snprintf(name, sizeof name, "part-%d.csv", f);
        write_file(name, text);
    }
}

/* A job training on the parts with `transforms` and auto_shard_policy
 * `policy` (on line 4, its value at column 65). */
static job *parts_job(const char *transforms, const char *policy) {
    char text[1024];
    snprintf(text, sizeof text,
             "{\"model\": %s,\n"
             " \"data\": {\"train\": {\"source\": {\"type\": \"csv\", \"files\": \"part-*.csv\", "
             "\"label\": \"y\"},\n"
             "   \"transforms\": %s,\n"
             "   \"options\": {\"experimental_distribute\": {\"auto_shard_policy\": \"%s\"}}}}}",
             MODEL, transforms, policy);
    job *j = job_parse(text, "job.json", dir);
    cr_assert_not_null(j, "%s", cli_error());
    return j;
}

/* Counts the ids that replica r of R reads from the train part into
 * count[], checking that no batch has more than max_rows rows; returns
 * the number of batches. */
static int64_t read_part(const job *j, int R, int r, int64_t max_rows, int *count) {
    pipeline *p = pipeline_new(j);
    ct_dataset *ds = pipeline_build(p, &j->train, &(pipeline_opts){.need_label = true,
                                                                   .replicas = R, .replica = r});
    cr_assert_not_null(ds, "%s", cli_error());
    ct_iterator *it = ct_dataset_iterator(ds);
    CT_OK(it);
    int64_t batches = 0;
    for (;;) {
        ct_element *e = NULL;
        CT_STATUS_OK(ct_iterator_next(it, &e));
        if (!e) break;
        int64_t rows = ct_tensor_dim(e->t[0], 0);
        cr_assert_leq(rows, max_rows);
        float x[64];
        cr_assert_leq(rows * 2, 64);
        CT_STATUS_OK(ct_tensor_read(e->t[0], CT_FLOAT32, x, rows * 2));
        for (int64_t i = 0; i < rows; i++) {
            int id = (int)x[2 * i];
            cr_assert(id >= 0 && id < NIDS, "id %d", id);
            count[id]++;
        }
        ct_element_free(e);
        batches++;
    }
    ct_iterator_free(it);
    ct_dataset_free(ds);
    pipeline_free(p);
    return batches;
}

/* Every id read `times` times over the R replicas. */
static void read_all(const job *j, int R, int64_t max_rows, int times, int64_t *batches) {
    int count[NIDS] = {0};
    for (int r = 0; r < R; r++) {
        int64_t b = read_part(j, R, r, max_rows, count);
        if (batches) batches[r] = b;
    }
    for (int id = 0; id < NIDS; id++)
        cr_assert_eq(count[id], times, "id %d read %d times", id, count[id]);
}

static const char SHUFFLE_BATCH[] = "[{\"shuffle\": {\"buffer_size\": 16, \"seed\": 1}}, "
                                    "{\"batch\": 4}]";

Test(job, ranks_split_a_part_by_its_auto_shard_policy, .fini = remove_dir) {
    write_parts();
    int64_t nb[4];
    /* FILE, and AUTO (3 files, 2 ranks): rank 0 reads files 0 and 2 (11
     * rows, 6 batches of 2), rank 1 file 1 (1 row). */
    static const char *const by_file[] = {"FILE", "AUTO"};
    for (int i = 0; i < 2; i++) {
        job *j = parts_job(SHUFFLE_BATCH, by_file[i]);
        read_all(j, 2, 2, 1, nb);
        cr_assert_eq(nb[0], 6, "%s", by_file[i]);
        cr_assert_eq(nb[1], 1, "%s", by_file[i]);
        int count[NIDS] = {0};
        read_part(j, 2, 1, 2, count);
        cr_assert_eq(count[7], 1, "%s", by_file[i]);
        job_free(j);
    }
    /* DATA: every rank reads the shuffled stream (seeded) and keeps every
     * R-th row. */
    job *j = parts_job(SHUFFLE_BATCH, "DATA");
    read_all(j, 2, 2, 1, nb);
    cr_assert(nb[0] == 3 && nb[1] == 3, "%lld %lld", (long long)nb[0], (long long)nb[1]);
    job_free(j);
    /* AUTO with more ranks than files falls back to DATA. */
    j = parts_job("[{\"batch\": 4}]", "AUTO");
    read_all(j, 4, 1, 1, nb);
    for (int r = 0; r < 4; r++) cr_assert_eq(nb[r], 3);
    job_free(j);
    /* OFF: every rank reads every row, in its part of each global batch. */
    j = parts_job(SHUFFLE_BATCH, "OFF");
    read_all(j, 2, 2, 2, nb);
    cr_assert(nb[0] == 6 && nb[1] == 6);
    job_free(j);
    /* The part is taken once, at the first batch, however many follow. */
    j = parts_job("[{\"batch\": 4}, {\"unbatch\": {}}, {\"batch\": 6}]", "DATA");
    read_all(j, 2, 3, 1, NULL);
    job_free(j);
    j = parts_job("[{\"batch\": 6}, {\"unbatch\": {}}, {\"batch\": 3}]", "FILE");
    read_all(j, 3, 2, 1, NULL);
    job_free(j);
}

Test(job, each_rank_caches_its_part_in_a_file_of_its_own, .fini = remove_dir) {
    write_parts();
    /* A cache file before the batch (FILE: each rank's part) and one
     * after it (each rank's batches): read twice, the second time from
     * the files that the first wrote. */
    job *j = parts_job("[{\"cache\": {\"filename\": \"c1\"}}, {\"batch\": 4}, "
                       "{\"cache\": {\"filename\": \"c2\"}}]",
                       "FILE");
    for (int pass = 0; pass < 2; pass++) read_all(j, 2, 2, 1, NULL);
    static const char *const names[] = {"c1.rank0-of-2", "c1.rank1-of-2", "c2.rank0-of-2",
                                        "c2.rank1-of-2"};
    for (int i = 0; i < 4; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        cr_assert_eq(access(path, R_OK), 0, "%s", path);
    }
    job_free(j);
}

Test(job, file_sharding_errors_are_placed_at_the_policy, .fini = remove_dir) {
    write_parts();
    /* More ranks than files. */
    job *j = parts_job(SHUFFLE_BATCH, "FILE");
    pipeline *p = pipeline_new(j);
    cli_clear_error();
    cr_assert_null(pipeline_build(p, &j->train, &(pipeline_opts){.need_label = true, .replicas = 4,
                                                                 .replica = 1}));
    cr_assert(strstr(cli_error(), "job.json:4:65: data.train.options.experimental_distribute."
                                  "auto_shard_policy: ct_dataset_auto_shard: Could not apply FILE "
                                  "based sharding: the dataset only has 3 file(s)"),
              "%s", cli_error());
    /* One process: nothing to split, so any policy builds. */
    ct_dataset *ds = pipeline_build(p, &j->train, &(pipeline_opts){.need_label = true});
    cr_assert_not_null(ds, "%s", cli_error());
    ct_dataset_free(ds);
    pipeline_free(p);
    job_free(j);
    /* A source without files. */
    char text[512];
    snprintf(text, sizeof text,
             "{\"model\": %s,\n \"data\": {\"train\": {\"source\": {\"type\": \"idx\", \"x\": "
             "\"x.idx\", \"y\": \"y.idx\"},\n"
             "   \"options\": {\"experimental_distribute\": {\"auto_shard_policy\": \"FILE\"}}}}}",
             MODEL);
    j = job_parse(text, "job.json", dir);
    cr_assert_not_null(j, "%s", cli_error());
    p = pipeline_new(j);
    cli_clear_error();
    cr_assert_null(
        pipeline_build(p, &j->train, &(pipeline_opts){.need_label = true, .replicas = 2}));
    cr_assert_str_eq(cli_error(), "job.json:3:65: data.train.options.experimental_distribute."
                                  "auto_shard_policy: FILE sharding needs a source that reads "
                                  "files (csv, tfrecord), and the idx source is sliced from "
                                  "tensors in memory: give \"DATA\" or \"AUTO\"");
    pipeline_free(p);
    job_free(j);
}

Test(jsonpos, columns_count_characters_and_paths_quote_odd_keys) {
    /* "é" is two bytes and one column, as jansson counts. */
    const char *text = "{\"é\": [1,\n  {\"a b\": true, \"c\": \"\\u00e9x\", \"d\": 2}]}";
    jpos *p = jpos_scan(text);
    cr_assert_not_null(p);
    int line, col;
    cr_assert(jpos_find(p, "", false, &line, &col));
    cr_assert_eq(line, 1);
    cr_assert_eq(col, 1);
    cr_assert(jpos_find(p, "[\"é\"]", true, &line, &col));
    cr_assert_eq(col, 2);
    cr_assert(jpos_find(p, "[\"é\"]", false, &line, &col));
    cr_assert_eq(col, 7);
    cr_assert(jpos_find(p, "[\"é\"][1][\"a b\"]", false, &line, &col));
    cr_assert_eq(line, 2);
    cr_assert_eq(col, 11);
    cr_assert(jpos_find(p, "[\"é\"][1].d", true, &line, &col));
    cr_assert_eq(col, 33);
    cr_assert(!jpos_find(p, "[\"é\"][2]", false, &line, &col));
    jpos_free(p);
}

Test(jsonpos, escaped_keys_are_decoded) {
    jpos *p = jpos_scan("{\"a\\u0062\\\"\": 1, \"\\ud83d\\ude00\": 2}");
    int line, col;
    cr_assert(jpos_find(p, "[\"ab\"\"]", false, &line, &col));
    cr_assert_eq(col, 15);
    cr_assert(jpos_find(p, "[\"\xF0\x9F\x98\x80\"]", false, &line, &col));
    jpos_free(p);
}
