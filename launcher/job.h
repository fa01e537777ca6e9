/*
 * A ctrain job file: what to train and how, read into plain C structs.
 *
 *     job *j = job_load("examples/fashion_mnist/cnn.json");
 *     if (!j) fprintf(stderr, "%s\n", cli_error());
 *     ... j->epochs, j->train.transforms[i], ...
 *     job_free(j);
 *
 * The schema is documented field by field in docs/JOBS.md. job_load
 * checks everything it can without building library objects: JSON
 * syntax, unknown keys (a typo never passes silently), types, ranges,
 * the model file. Every error is one line,
 *
 *     cnn.json:14:18: data.train.transforms[2]: unknown transform "shufle" (expected ...)
 *
 * naming the job file, the line and column of the field (of the key for
 * an unknown key, else of the value) and the field's JSON path. Later
 * stages (building the model, the data pipeline, the callbacks) report
 * their errors at the field they came from with job_fail_at, using the
 * job_where each part keeps.
 */
#ifndef CT_LAUNCHER_JOB_H
#define CT_LAUNCHER_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "ctrain/ctrain.h"

#define JOB_PATH_MAX 256

/* A field's place: its JSON path and where its value starts. */
typedef struct job_where {
    char path[JOB_PATH_MAX];
    int line, col; /* 0 when unknown */
} job_where;

/* ---- data -------------------------------------------------------------------------- */

typedef enum {
    JOB_SOURCE_FASHION_MNIST = 0,
    JOB_SOURCE_IDX,
    JOB_SOURCE_CSV,
    JOB_SOURCE_TFRECORD,
} job_source_kind;

/* A tf.Example feature to parse (tf.io.FixedLenFeature). */
typedef struct job_feature {
    char *name;
    ct_dtype dtype;        /* CT_FLOAT32 or CT_INT64                      */
    int rank;
    int64_t shape[CT_MAX_RANK];
    bool has_default;      /* default_value given: the feature may be absent */
    double *default_value; /* prod(shape) values                         */
    job_where where;
} job_feature;

typedef struct job_source {
    job_source_kind kind;
    job_where where;           /* the "source" object                        */
    /* fashion_mnist */
    bool test_split;           /* "split": "test"                            */
    char *dir;                 /* resolved; NULL: Debian's default            */
    /* idx */
    char *x_path, *y_path;     /* resolved; y may be NULL                    */
    job_where x_where, y_where;
    /* csv, tfrecord */
    int nfiles;
    char **files;              /* resolved, globs expanded                   */
    job_where files_where;
    char *label;               /* the label column / feature; NULL: none     */
    job_where label_where;
    ct_compression compression;
    /* csv: make_csv_dataset's options */
    int ncolumn_names;
    char **column_names;
    int nselect;
    char **select_columns;
    char field_delim;
    bool no_quote_delim;
    char *na_value;
    bool no_header;
    int64_t num_rows_for_inference;
    /* tfrecord */
    int nfeatures;
    job_feature *features;
} job_source;

typedef enum {
    JOB_T_SCALE = 0, /* x * factor, as float32                           */
    JOB_T_RESHAPE,   /* each example's x to shape                        */
    JOB_T_CACHE,
    JOB_T_SHUFFLE,
    JOB_T_BATCH,
    JOB_T_UNBATCH,
    JOB_T_PREFETCH,
    JOB_T_REPEAT,
    JOB_T_TAKE,
    JOB_T_SKIP,
    JOB_T_SHARD,
} job_transform_kind;

typedef struct job_transform {
    job_transform_kind kind;
    job_where where;
    double factor;              /* scale                                   */
    int rank;                   /* reshape                                 */
    int64_t shape[CT_MAX_RANK];
    int64_t n;                  /* batch size, buffer size (CT_AUTOTUNE),
                                   count (-1: forever), num_shards        */
    int64_t index;              /* shard                                   */
    bool drop_remainder;        /* batch                                   */
    int64_t seed;               /* shuffle; 0: the global seed             */
    bool no_reshuffle;          /* shuffle's reshuffle_each_iteration=false */
    char *filename;             /* cache; NULL: in memory (resolved)       */
} job_transform;

/* One of data.train / data.validation / data.test. */
typedef struct job_data {
    bool present;
    job_where where;
    job_source source;
    int ntransforms;
    job_transform *transforms;
    /* "options": tf.data.Options' experimental_distribute.auto_shard_policy,
     * how each rank under mpirun takes its part (default AUTO) */
    ct_auto_shard_policy shard_policy;
    job_where shard_policy_where; /* zeroed (path "") when not given    */
} job_data;

/* ---- compile, callbacks ------------------------------------------------------------ */

/* A Keras object given by name or by {"class_name", "config"}: name is
 * set for the first, config_json (the whole object) for the second. */
typedef struct job_object {
    char *name;
    char *config_json;
    job_where where;
} job_object;

typedef struct job_callback {
    char *class_name;
    char *config_json;  /* the "config" object (paths made relative to the
                           job's directory); "{}" when absent            */
    job_where where;
} job_callback;

/* ---- the job ----------------------------------------------------------------------- */

typedef struct job {
    char *path;          /* as given (the name errors use)                */
    char *dir;           /* the job file's directory: paths start there   */
    struct jpos *pos;    /* the job file's positions                      */

    /* "model": a file or an inline object; model_json is the text for
     * ct_model_from_json either way. */
    char *model_json;
    char *model_file;    /* resolved path, or NULL when inline            */
    job_where model_where;

    /* "compile" */
    bool has_compile;
    job_where compile_where;
    job_object optimizer; /* neither set: Keras's default, rmsprop         */
    job_object loss;
    int nmetrics;
    job_object *metrics;

    /* "data" */
    job_data train, validation, test;

    /* "fit"; zero fields take Keras's defaults */
    int epochs;
    int64_t batch_size;  /* 0: unset                                      */
    job_where batch_size_where;
    /* --resume: "auto" (NULL), "never" or a checkpoint file or directory
     * (borrowed from argv). */
    const char *resume;
    /* --weights FILE (evaluate, predict): trained weights to load. */
    const char *weights;
    bool batch_size_from_flag; /* --batch-size: replaces the train
                                  pipeline's batch size                  */
    int64_t validation_batch_size;
    int verbose;         /* CT_VERBOSE_*                                  */
    int64_t steps_per_epoch, validation_steps;
    int validation_freq;
    int initial_epoch;
    int nclass_weight;
    double *class_weight;
    bool no_shuffle;

    int ncallbacks;
    job_callback *callbacks;

    /* "evaluate", "predict": run after fit by `train`, and by the
     * evaluate / predict commands */
    bool has_evaluate;
    int64_t evaluate_steps;
    int evaluate_verbose;
    bool has_predict;
    char *predict_output; /* resolved; NULL: none written                */
    job_where predict_output_where;
    int64_t predict_steps;
    int predict_verbose;

    bool has_seed;
    int64_t seed;
    int threads;          /* 0: the runtime's default                     */
} job;

/* Reads and checks the job file at path. NULL with cli_error() set. */
job *job_load(const char *path);
/* The same from text; name is what errors call the file, dir is where
 * relative paths start. */
job *job_parse(const char *text, const char *name, const char *dir);
void job_free(job *j);

/* Sets cli_error() to "<job>:<line>:<col>: <path>: <message>" for the
 * field at w; returns -1. */
int job_fail_at(const job *j, const job_where *w, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The place of the value at path in the job file (line 0 when the file
 * has no such field). */
job_where job_where_of(const job *j, const char *path);

/* Whether a model file's JSON is a job file rather than a model (a
 * top-level "model" key and no "class_name"): `ctrain summary` takes
 * both. */
bool job_text_is_job(const char *text);

/* Reads a Keras model JSON file (syntax errors with file:line:col) into a
 * malloc'ed string. */
char *job_read_model_file(const char *path);

#endif
