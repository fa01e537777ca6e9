/*
 * ctrain: the command line over the library. Subcommands:
 *
 *     ctrain train JOB.json [flags]      fit the job's model on its data
 *     ctrain evaluate JOB.json [flags]   the model's loss and metrics on the test data
 *     ctrain predict JOB.json [flags]    the model's outputs on the test data, as CSV
 *     ctrain summary MODEL.json|JOB.json model.summary()
 *
 * Flags override the job's fields. The job format is docs/JOBS.md.
 * Exit status: 0 success, 1 a failed job (one line on stderr saying
 * why), 2 a bad command line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launcher/cli.h"
#include "launcher/job.h"
#include "launcher/run.h"

#ifndef CT_VERSION
#define CT_VERSION "unknown"
#endif

static const char USAGE[] =
    "usage: ctrain <command> [arguments]\n"
    "\n"
    "Train Keras models described by JSON job files (docs/JOBS.md).\n"
    "\n"
    "commands:\n"
    "  train JOB.json      build, compile and fit the job's model; then the job's\n"
    "                      \"evaluate\" and \"predict\" sections, if any\n"
    "  evaluate JOB.json   the loss and metrics on the job's test data\n"
    "  predict JOB.json    the outputs on the job's test data, as CSV\n"
    "  summary FILE.json   model.summary() of a Keras model JSON or a job's model\n"
    "\n"
    "ctrain <command> --help describes a command and its flags.\n"
    "ctrain --version prints the version.\n";

static const char HELP_TRAIN[] =
    "usage: ctrain train JOB.json [flags]\n"
    "\n"
    "Builds the job's model, compiles it with the job's \"compile\" (Keras's\n"
    "training_config), fits it on data.train (validating on data.validation)\n"
    "with the job's callbacks and Keras's progress bar, and prints the final\n"
    "epoch's metrics:\n"
    "\n"
    "  final (epoch 5): loss: 0.2980 - accuracy: 0.8896 - val_loss: ... - val_accuracy: ...\n"
    "\n"
    "Then, when the job has them, runs its \"evaluate\" section (on data.test,\n"
    "else data.validation) and its \"predict\" section (CSV output).\n"
    "\n"
    "flags (each overrides the job's field):\n"
    "  --epochs N            fit.epochs\n"
    "  --batch-size N        fit.batch_size; also replaces the batch size of\n"
    "                        data.train's batch transform\n"
    "  --steps-per-epoch N   fit.steps_per_epoch\n"
    "  --verbose N           fit.verbose: 0 silent, 1 progress bar, 2 one line per epoch\n"
    "  --seed N              seed (tf.random.set_seed)\n"
    "  --threads N           threads (the runtime's thread budget)\n"
    "  --resume WHAT         with a BackupAndRestore callback: auto (the default)\n"
    "                        resumes from its backup_dir's latest checkpoint when\n"
    "                        there is one; never removes them and starts afresh;\n"
    "                        a checkpoint file or directory resumes from it\n"
    "  -h, --help            this text\n"
    "\n"
    "SIGINT or SIGTERM stops training after the batch under way. With a\n"
    "BackupAndRestore callback every rank saves there and ctrain exits 75: run\n"
    "the same command again to resume. Without one it exits 130 or 143.\n";

static const char HELP_EVALUATE[] =
    "usage: ctrain evaluate JOB.json [flags]\n"
    "\n"
    "Builds and compiles the job's model and prints model.evaluate() on\n"
    "data.test (else data.validation):\n"
    "\n"
    "  evaluate: loss: 2.3026 - accuracy: 0.1000\n"
    "\n"
    "The weights are freshly initialised unless --weights gives trained ones.\n"
    "\n"
    "flags:\n"
    "  --steps N             evaluate.steps\n"
    "  --weights FILE        load trained weights first: a weights file, a model\n"
    "                        file (ModelCheckpoint's) or a training checkpoint\n"
    "  --batch-size N        fit.batch_size (the batch of unbatched test data)\n"
    "  --verbose N           evaluate.verbose: 0, 1 or 2\n"
    "  --seed N              seed\n"
    "  --threads N           threads\n"
    "  -h, --help            this text\n";

static const char HELP_PREDICT[] =
    "usage: ctrain predict JOB.json [flags]\n"
    "\n"
    "Builds the job's model and writes model.predict() on data.test (else\n"
    "data.validation) as CSV: one row per example, its outputs flattened, no\n"
    "header. The file is predict.output (relative to the job file), else\n"
    "--output, else standard output.\n"
    "\n"
    "The weights are freshly initialised unless --weights gives trained ones.\n"
    "\n"
    "flags:\n"
    "  --output FILE         predict.output (FILE relative to the current directory;\n"
    "                        \"-\" for standard output)\n"
    "  --steps N             predict.steps\n"
    "  --weights FILE        load trained weights first (as evaluate)\n"
    "  --batch-size N        fit.batch_size (the batch of unbatched test data)\n"
    "  --verbose N           predict.verbose: 0, 1 or 2\n"
    "  --seed N              seed\n"
    "  --threads N           threads\n"
    "  -h, --help            this text\n";

static const char HELP_SUMMARY[] =
    "usage: ctrain summary FILE.json\n"
    "\n"
    "Prints model.summary() for FILE.json, which is a Keras model JSON\n"
    "(model.to_json(), a TF.js model.json) or a job file (its \"model\"). A\n"
    "model that declares no input shape is built for the job's training data.\n"
    "\n"
    "flags:\n"
    "  -h, --help            this text\n";

typedef enum { CMD_TRAIN, CMD_EVALUATE, CMD_PREDICT, CMD_SUMMARY } command;

static const struct {
    const char *name;
    const char *help;
} COMMANDS[] = {
    [CMD_TRAIN] = {"train", HELP_TRAIN},
    [CMD_EVALUATE] = {"evaluate", HELP_EVALUATE},
    [CMD_PREDICT] = {"predict", HELP_PREDICT},
    [CMD_SUMMARY] = {"summary", HELP_SUMMARY},
};

/* The flags a command takes, and what the command line gave. */
typedef struct flags {
    int64_t epochs, batch_size, steps_per_epoch, steps, seed, threads, verbose;
    bool has_epochs, has_batch_size, has_steps_per_epoch, has_steps, has_seed, has_threads,
        has_verbose;
    const char *output;
    const char *resume;
    const char *weights;
} flags;

static int usage_error(const char *cmd, const char *fmt, const char *arg) {
    fprintf(stderr, "ctrain%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(ctrain %s%s--help for usage)\n", cmd ? cmd : "", cmd ? " " : "");
    return 2;
}

static bool parse_int(const char *s, int64_t min, int64_t max, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!s[0] || *end || errno || v < min || v > max) return false;
    *out = v;
    return true;
}

/* Which flags each command takes. */
static bool takes(command c, const char *flag) {
    static const char *const train[] = {"epochs", "batch-size", "steps-per-epoch", "verbose",
                                        "seed", "threads", "resume", NULL};
    static const char *const evaluate[] = {"steps", "batch-size", "verbose", "seed", "threads",
                                           "weights", NULL};
    static const char *const predict[] = {"output", "steps", "batch-size", "verbose", "seed",
                                          "threads", "weights", NULL};
    const char *const *list = c == CMD_TRAIN ? train : c == CMD_EVALUATE ? evaluate
                                                   : c == CMD_PREDICT    ? predict
                                                                         : NULL;
    for (int i = 0; list && list[i]; i++)
        if (!strcmp(list[i], flag)) return true;
    return false;
}

/* Parses argv[first..] into the one positional file and the flags.
 * Returns 0, 2 (a usage error, printed) or 3 (help printed: exit 0). */
static int parse_args(command c, int argc, char **argv, int first, const char **file, flags *f) {
    const char *cmd = COMMANDS[c].name;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(COMMANDS[c].help, stdout);
            return 3;
        }
        if (strncmp(a, "--", 2) || !a[2]) {
            if (*file) return usage_error(cmd, "unexpected argument \"%s\" (one file only)", a);
            *file = a;
            continue;
        }
        /* --name VALUE or --name=VALUE */
        char name[64];
        const char *eq = strchr(a + 2, '='), *value;
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (len >= sizeof name) return usage_error(cmd, "unknown flag \"%s\"", a);
        memcpy(name, a + 2, len);
        name[len] = '\0';
        if (!takes(c, name)) return usage_error(cmd, "unknown flag \"%s\"", a);
        if (eq) value = eq + 1;
        else if (i + 1 < argc) value = argv[++i];
        else return usage_error(cmd, "flag \"%s\" needs a value", a);
        if (!strcmp(name, "output")) {
            f->output = value;
            continue;
        }
        if (!strcmp(name, "weights")) {
            f->weights = value;
            continue;
        }
        if (!strcmp(name, "resume")) {
            if (!*value) return usage_error(cmd, "--resume: expected auto, never or a checkpoint, got \"%s\"", value);
            f->resume = value;
            continue;
        }
        struct {
            const char *name;
            int64_t *v;
            bool *has;
            int64_t min, max;
        } ints[] = {
            {"epochs", &f->epochs, &f->has_epochs, 1, INT32_MAX},
            {"batch-size", &f->batch_size, &f->has_batch_size, 1, INT64_MAX},
            {"steps-per-epoch", &f->steps_per_epoch, &f->has_steps_per_epoch, 1, INT64_MAX},
            {"steps", &f->steps, &f->has_steps, 1, INT64_MAX},
            {"seed", &f->seed, &f->has_seed, 0, INT64_MAX},
            {"threads", &f->threads, &f->has_threads, 1, 4096},
            {"verbose", &f->verbose, &f->has_verbose, 0, 2},
        };
        for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
            if (strcmp(ints[k].name, name)) continue;
            if (!parse_int(value, ints[k].min, ints[k].max, ints[k].v)) {
                char msg[256];
                snprintf(msg, sizeof msg, "--%s: expected an integer in [%lld, %lld], got \"%%s\"",
                         name, (long long)ints[k].min, (long long)ints[k].max);
                return usage_error(cmd, msg, value);
            }
            *ints[k].has = true;
        }
    }
    if (!*file)
        return usage_error(cmd, "missing the %s file",
                           c == CMD_SUMMARY ? "model or job" : "job");
    return 0;
}

/* The flags into the job's fields. */
static void apply_flags(command c, job *j, const flags *f) {
    static const int verbose[] = {CT_VERBOSE_SILENT, CT_VERBOSE_BAR, CT_VERBOSE_EPOCH};
    if (f->has_epochs) j->epochs = (int)f->epochs;
    if (f->has_batch_size) {
        j->batch_size = f->batch_size;
        j->batch_size_from_flag = true;
    }
    if (f->has_steps_per_epoch) j->steps_per_epoch = f->steps_per_epoch;
    if (f->has_seed) {
        j->has_seed = true;
        j->seed = f->seed;
    }
    if (f->has_threads) j->threads = (int)f->threads;
    if (f->resume && strcmp(f->resume, "auto")) j->resume = f->resume;
    if (f->weights) j->weights = f->weights;
    if (f->has_verbose) {
        if (c == CMD_TRAIN) j->verbose = verbose[f->verbose];
        if (c == CMD_EVALUATE) j->evaluate_verbose = verbose[f->verbose];
        if (c == CMD_PREDICT) j->predict_verbose = verbose[f->verbose];
    }
    if (f->has_steps) {
        if (c == CMD_EVALUATE) j->evaluate_steps = f->steps;
        if (c == CMD_PREDICT) j->predict_steps = f->steps;
    }
    if (f->output) {
        free(j->predict_output);
        /* On the command line a path is the shell's: relative to the
         * current directory. "-" is standard output. */
        j->predict_output = strcmp(f->output, "-") ? cli_strdup(f->output) : NULL;
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(USAGE, stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "-h") || !strcmp(name, "--help") || !strcmp(name, "help")) {
        if (argc > 2 && !strcmp(name, "help")) {
            for (size_t c = 0; c < sizeof COMMANDS / sizeof COMMANDS[0]; c++)
                if (!strcmp(argv[2], COMMANDS[c].name)) {
                    fputs(COMMANDS[c].help, stdout);
                    return 0;
                }
            return usage_error(NULL, "unknown command \"%s\"", argv[2]);
        }
        fputs(USAGE, stdout);
        return 0;
    }
    if (!strcmp(name, "--version")) {
        printf("ctrain %s\n", CT_VERSION);
        return 0;
    }
    int c = -1;
    for (size_t k = 0; k < sizeof COMMANDS / sizeof COMMANDS[0]; k++)
        if (!strcmp(name, COMMANDS[k].name)) c = (int)k;
    if (c < 0)
        return usage_error(NULL, "unknown command \"%s\" (train, evaluate, predict, summary)", name);

    const char *file = NULL;
    flags f = {0};
    int rc = parse_args((command)c, argc, argv, 2, &file, &f);
    if (rc) return rc == 3 ? 0 : rc;
    if (c == CMD_SUMMARY) return run_summary(file);

    job *j = job_load(file);
    if (!j) {
        const char *msg = cli_error();
        /* A job file that cannot be read has no position to give. */
        if (!strncmp(msg, "cannot", 6)) fprintf(stderr, "ctrain %s: %s\n", name, msg);
        else fprintf(stderr, "%s\n", msg);
        return 1;
    }
    apply_flags((command)c, j, &f);
    if (c == CMD_TRAIN) rc = run_train(j);
    else if (c == CMD_EVALUATE) rc = run_evaluate(j);
    else rc = run_predict(j);
    job_free(j);
    return rc;
}
