/*
 * A job's data sources and transforms as a ct_dataset of (x, y) batches.
 *
 *     pipeline *p = pipeline_new(j);
 *     ct_dataset *ds = pipeline_build(p, &j->train, &(pipeline_opts){.need_label = true});
 *     ... ct_model_fit(m, &(ct_fit_opts){.dataset = ds}) ...
 *     ct_dataset_free(ds);
 *     pipeline_free(p);           // after every dataset it built
 *
 * Every source yields (x, y) elements (x alone when it has no label):
 *   fashion_mnist  uint8 images [28,28] and uint8 labels, loaded once per
 *                  directory with ct_load_fashion_mnist (both splits);
 *   idx            the x and y IDX files, sliced along their first axis;
 *   csv            make_csv_dataset's records, the feature columns packed
 *                  into one float32 vector x in column order, the label y;
 *   tfrecord       tf.Examples parsed by the job's feature specs; x is the
 *                  one non-label feature as parsed, or several flattened
 *                  to float32 and concatenated in the order listed.
 * The transforms then apply in order. "scale" and "reshape" act on x only,
 * per example or per batch alike. On the tensor sources (fashion_mnist,
 * idx), leading scale / reshape transforms are applied once to the whole
 * tensor before slicing: the same numbers, without a map over every
 * example each epoch.
 *
 * Errors name the job file, line, column and field (job_fail_at); the
 * pipeline's own errors inside files come later from the iterator, as
 * the library reports them (file, line, column for CSV).
 */
#ifndef CT_LAUNCHER_PIPELINE_H
#define CT_LAUNCHER_PIPELINE_H

#include "launcher/job.h"

typedef struct pipeline pipeline;

typedef struct pipeline_opts {
    bool need_label;        /* fit / evaluate: a source without labels is an error */
    int64_t default_batch;  /* appended (before trailing prefetches) when the
                               transforms have no batch; 0: 32 (Keras)    */
    int64_t batch_override; /* > 0: replaces every batch transform's size  */
    int replicas, replica;  /* > 1: this rank's shard, batched by its part of
                               each global batch (fit's dataset_per_replica) */
} pipeline_opts;

/* State shared by a job's pipelines (Fashion-MNIST loaded once, the map
 * functions' contexts). NULL when out of memory. */
pipeline *pipeline_new(const job *j);
/* Frees the state; call after every dataset built from it is freed. */
void pipeline_free(pipeline *p);

/* The dataset for d (data.train, .validation or .test). NULL with
 * cli_error() set. */
ct_dataset *pipeline_build(pipeline *p, const job_data *d, const pipeline_opts *opts);

/* d's first batch transform, or NULL. */
const job_transform *pipeline_find_batch(const job_data *d);

#endif
