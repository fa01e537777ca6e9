/*
 * Part of ctrain/data.h: see there for conventions.
 *
 * Input pipelines for several workers (tf.distribute's input side):
 * auto-sharding a dataset so that each worker reads its own part, and
 * prefetching batches onto the device that will consume them.
 *
 *     ct_dataset *ds = ct_dataset_list_files("/data/train-*.txt", true, 7);
 *     ds = ct_dataset_interleave(ds, read_lines, NULL, 4, 1, CT_AUTOTUNE);
 *     ds = ct_dataset_batch(ds, 64, true);
 *     ds = ct_dataset_auto_shard(ds, num_workers, worker_index, CT_AUTO_SHARD_AUTO);
 *     ds = ct_dataset_prefetch_to_device(ds, ct_device_get(CT_DEVICE_CUDA, 0), CT_AUTOTUNE);
 *
 * Ownership and errors as for every transform: the result owns ds; on
 * failure ds is released and NULL is returned with the thread's error set.
 */
#ifndef CTRAIN_DATA_DISTRIBUTE_H
#define CTRAIN_DATA_DISTRIBUTE_H

#include "data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* tf.data.experimental.AutoShardPolicy. */
typedef enum {
    CT_AUTO_SHARD_AUTO = 0, /* FILE when possible, else DATA                    */
    CT_AUTO_SHARD_FILE,     /* worker i reads files i, i + n, ... of the source */
    CT_AUTO_SHARD_DATA,     /* worker i gets elements i, i + n, ...             */
    CT_AUTO_SHARD_OFF       /* the dataset unchanged                            */
} ct_auto_shard_policy;

/* tf.distribute's auto-shard rewrite (tensorflow/core/grappler/optimizers/
 * data/auto_shard.cc) for worker `index` of `num_workers`.
 *
 * FILE walks from the end of the pipeline towards its sources through the
 * transforms that pass elements on (map, filter, batch, shuffle, repeat,
 * take, skip, shard, cache, prefetch, window, zip, concatenate, ...) to
 * the file-based sources (text lines, CSV, TFRecord; or the file names that
 * a flat_map / interleave reads), and rebuilds the pipeline so that each
 * source reads only files index, index + num_workers, ... A shuffle of
 * the file names stays after the sharding, so every worker splits the
 * same list. It fails (CT_ERR_NOT_FOUND, naming the dataset that stopped
 * the walk) when a path ends at a source without files (range,
 * from_tensor_slices, a generator...) or at a stage that cannot be
 * rebuilt, or when a source has fewer files than workers.
 *
 * DATA shards elements: ct_dataset_shard(num_workers, index) at the end of
 * the pipeline, before any final prefetch (so prefetch buffers the
 * worker's own elements). AUTO tries FILE and, when it fails with
 * CT_ERR_NOT_FOUND (no files, or fewer files than workers), does DATA.
 * OFF, and one worker (num_workers 1, index 0), return ds unchanged.
 *
 * Errors (NULL): num_workers < 1, index outside [0, num_workers), an
 * unknown policy, FILE's failures above. */
ct_dataset *ct_dataset_auto_shard(ct_dataset *ds, int64_t num_workers, int64_t index,
                                  ct_auto_shard_policy policy);

/* tf.data.experimental.prefetch_to_device(device, buffer_size): a
 * background stage that copies every component of each element to `dev`
 * (as ct_to_device; components already there pass through) up to
 * buffer_size elements ahead of the consumer. buffer_size CT_AUTOTUNE (TF's
 * None) lets the runtime choose; 0 copies on the consumer's thread. On the
 * CPU device it is ct_dataset_prefetch. On a CUDA device host tensors are
 * staged through a pinned (page-locked) buffer of the stage's own, so the
 * transfer runs by DMA. Save and restore as ct_dataset_prefetch (the
 * buffered elements are written with their values). Errors (NULL): dev
 * NULL, buffer_size < 0 other than CT_AUTOTUNE. */
ct_dataset *ct_dataset_prefetch_to_device(ct_dataset *ds, ct_device *dev, int64_t buffer_size);

#ifdef __cplusplus
}
#endif
#endif
