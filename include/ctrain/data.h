/*
 * ctrain data: tf.data input pipelines in C.
 *
 *     ct_dataset *ds = ct_dataset_from_tensor_slices(
 *         &(ct_element){.n = 2, .t = {images, labels}});       // a tuple
 *     ds = ct_dataset_shuffle(ds, 60000, &(ct_shuffle_opts){.seed = 1});
 *     ds = ct_dataset_map(ds, normalise, NULL, CT_AUTOTUNE);
 *     ds = ct_dataset_batch(ds, 128, false);
 *     ds = ct_dataset_prefetch(ds, CT_AUTOTUNE);
 *     ct_iterator *it = ct_dataset_iterator(ds);
 *     ct_element *e;
 *     while (ct_iterator_next(it, &e) == CT_OK && e) {   // e == NULL: end
 *         ... e->t[0], e->t[1] ...
 *         ct_element_free(e);
 *     }
 *     ct_iterator_free(it);
 *     ct_dataset_free(ds);
 *
 * Ownership. A transform takes over the dataset(s) it is given: the
 * result owns its inputs, and freeing the last dataset of a chain frees
 * the chain. To use one dataset in two chains, take a reference first
 * (ct_dataset_ref). A transform given NULL returns NULL (keeping the
 * error), so a chain is checked once at its end; on any failure the
 * inputs are freed. Elements that functions return are owned by the
 * caller: ct_element_free releases their tensors. Tensors inside elements
 * are ordinary caller-owned references (not in a scope).
 *
 * Elements. An element is a tuple of up to CT_MAX_COMPONENTS tensors;
 * components may carry names, which makes the element a dict (as
 * make_csv_dataset's features) — tf.data's (features_dict, label) is the
 * named features followed by an unnamed label.
 *
 * Threads. Pipelines may run user functions on worker threads (parallel
 * map, interleave, prefetch); those functions must be thread-safe. The
 * workers come from one pool per process sized by the thread budget.
 */
#ifndef CTRAIN_DATA_H
#define CTRAIN_DATA_H

#include "ops.h"
#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CT_MAX_COMPONENTS 32
/* tf.data.AUTOTUNE for num_parallel_calls and buffer sizes. */
#define CT_AUTOTUNE (-1)
/* Cardinalities (tf.data.INFINITE_CARDINALITY / UNKNOWN_CARDINALITY). */
#define CT_INFINITE_CARDINALITY (-1)
#define CT_UNKNOWN_CARDINALITY (-2)

typedef struct ct_element {
    int n;                               /* number of components           */
    ct_tensor *t[CT_MAX_COMPONENTS];     /* owned references               */
    const char *name[CT_MAX_COMPONENTS]; /* NULL: positional (tuple); else
                                            a dict key (static or owned by
                                            the dataset that made it)       */
} ct_element;

/* Releases the element's tensors and the element (NULL is ignored). */
void ct_element_free(ct_element *e);
/* The component named `name`, or NULL (borrowed). */
ct_tensor *ct_element_get(const ct_element *e, const char *name);
/* A new element holding new references to the same tensors. */
ct_element *ct_element_copy(const ct_element *e);

/* The static description of every element: dtype and shape per component;
 * -1 in a shape is an unknown dimension (batch's partial last batch...). */
typedef struct ct_component_spec {
    ct_dtype dtype;
    int rank;
    int64_t shape[CT_MAX_RANK];
    const char *name;
} ct_component_spec;
typedef struct ct_element_spec {
    int n;
    ct_component_spec c[CT_MAX_COMPONENTS];
} ct_element_spec;

typedef struct ct_dataset ct_dataset;
typedef struct ct_iterator ct_iterator;

/* ---- datasets ------------------------------------------------------------- */

ct_dataset *ct_dataset_ref(ct_dataset *ds);
void ct_dataset_free(ct_dataset *ds);
const ct_element_spec *ct_dataset_element_spec(const ct_dataset *ds);
/* tf.data.Dataset.cardinality: a count, CT_INFINITE_CARDINALITY or
 * CT_UNKNOWN_CARDINALITY. */
int64_t ct_dataset_cardinality(const ct_dataset *ds);

/* ---- iterators ---------------------------------------------------------- */

/* A new iterator at the start of ds (ds must outlive it). */
ct_iterator *ct_dataset_iterator(ct_dataset *ds);
/* The next element into *out (owned by the caller), or *out = NULL at the
 * end of the sequence. On error *out is NULL and the status says why. */
ct_status ct_iterator_next(ct_iterator *it, ct_element **out);
/* Back to the start of the dataset. */
ct_status ct_iterator_reset(ct_iterator *it);
/* The iterator's position as bytes (malloc'd into *buf; free() it), such
 * that an iterator of the same pipeline restored from them produces
 * exactly the elements this one would have produced next. */
ct_status ct_iterator_save(ct_iterator *it, void **buf, size_t *len);
ct_status ct_iterator_restore(ct_iterator *it, const void *buf, size_t len);
/* Stops the iterator's worker threads and frees it. */
void ct_iterator_free(ct_iterator *it);

/* ---- sources ---------------------------------------------------------------- */

/* tf.data.Dataset.from_tensor_slices: slices every component along its
 * first axis (all must agree). Takes new references to the tensors. */
ct_dataset *ct_dataset_from_tensor_slices(const ct_element *components);
/* tf.data.Dataset.from_tensors: one element. */
ct_dataset *ct_dataset_from_tensors(const ct_element *components);
/* tf.data.Dataset.range(start, stop, step): int64 scalars. */
ct_dataset *ct_dataset_range(int64_t start, int64_t stop, int64_t step);

/* tf.data.Dataset.from_generator: fn fills *out with the next element
 * (matching spec) and returns CT_OK, or sets *out to NULL at the end.
 * reset (optional) restarts the generator for a new iteration. Generators
 * are not checkpointable (save fails with a clear error), as in TF. */
typedef ct_status (*ct_generator_fn)(void *ctx, ct_element **out);
ct_dataset *ct_dataset_from_generator(ct_generator_fn fn, void (*reset)(void *ctx), void *ctx,
                                      const ct_element_spec *spec);

/* ---- transforms ------------------------------------------------------------ */

/* A user function on elements: writes the new element to *out (owned by
 * the caller) and returns CT_OK, or returns an error status (after
 * setting the error, e.g. by returning a failed op's status). The
 * element's tensors must be references the function owns: compute inside
 * ct_scope_begin()/ct_scope_end() and hand out ct_tensor_ref(t) (or build
 * the element with ct_element_copy, which takes references) — not
 * ct_keep(t), which gives the reference to an enclosing scope instead. */
typedef ct_status (*ct_map_fn)(const ct_element *in, void *ctx, ct_element **out);
/* A predicate: *keep = whether the element stays. */
typedef ct_status (*ct_filter_fn)(const ct_element *in, void *ctx, bool *keep);
/* An element to a dataset (flat_map, interleave). */
typedef ct_dataset *(*ct_dataset_fn)(const ct_element *in, void *ctx);

/* tf.data.Dataset.map; num_parallel_calls 0 or 1: sequential; > 1 or
 * CT_AUTOTUNE: parallel, order kept unless options say deterministic =
 * false. The element spec of the result is found by running fn on the
 * first element. */
ct_dataset *ct_dataset_map(ct_dataset *ds, ct_map_fn fn, void *ctx, int num_parallel_calls);
ct_dataset *ct_dataset_filter(ct_dataset *ds, ct_filter_fn fn, void *ctx);
ct_dataset *ct_dataset_flat_map(ct_dataset *ds, ct_dataset_fn fn, void *ctx);
/* cycle_length 0 or CT_AUTOTUNE: the thread budget; block_length 0: 1. */
ct_dataset *ct_dataset_interleave(ct_dataset *ds, ct_dataset_fn fn, void *ctx,
                                  int cycle_length, int block_length, int num_parallel_calls);
ct_dataset *ct_dataset_batch(ct_dataset *ds, int64_t batch_size, bool drop_remainder);
/* padded_shapes: per component, -1 dims pad to the batch's longest;
 * padding_values per component (NULL: zeros). */
ct_dataset *ct_dataset_padded_batch(ct_dataset *ds, int64_t batch_size,
                                    const ct_element_spec *padded_shapes,
                                    const double *padding_values, bool drop_remainder);
ct_dataset *ct_dataset_unbatch(ct_dataset *ds);
ct_dataset *ct_dataset_rebatch(ct_dataset *ds, int64_t batch_size, bool drop_remainder);
/* tf.data.Dataset.window: each element is a tuple of datasets in TF; here
 * each window is batched into one element (window(...).flat_map(batch)),
 * the way windows are almost always consumed. shift 0 means size;
 * stride 0 means 1. */
ct_dataset *ct_dataset_window(ct_dataset *ds, int64_t size, int64_t shift, int64_t stride,
                              bool drop_remainder);

typedef struct ct_shuffle_opts {
    int64_t seed;                  /* 0: TF's seed rule (global seed...)  */
    bool no_reshuffle_each_iteration; /* TF's reshuffle_each_iteration=False */
} ct_shuffle_opts;
ct_dataset *ct_dataset_shuffle(ct_dataset *ds, int64_t buffer_size, const ct_shuffle_opts *opts);
/* count -1: forever. */
ct_dataset *ct_dataset_repeat(ct_dataset *ds, int64_t count);
ct_dataset *ct_dataset_take(ct_dataset *ds, int64_t count);
ct_dataset *ct_dataset_skip(ct_dataset *ds, int64_t count);
ct_dataset *ct_dataset_shard(ct_dataset *ds, int64_t num_shards, int64_t index);
/* tf.data.Dataset.zip: components of each, concatenated into one tuple. */
ct_dataset *ct_dataset_zip(int n, ct_dataset *const *datasets);
ct_dataset *ct_dataset_concatenate(ct_dataset *a, ct_dataset *b);
/* (int64 index, components...). */
ct_dataset *ct_dataset_enumerate(ct_dataset *ds, int64_t start);
/* filename NULL or "": in memory; else a file that later runs reuse. */
ct_dataset *ct_dataset_cache(ct_dataset *ds, const char *filename);
/* buffer_size CT_AUTOTUNE: chosen by the runtime. A background thread. */
ct_dataset *ct_dataset_prefetch(ct_dataset *ds, int64_t buffer_size);

/* tf.data.Dataset.reduce: state = fn(state, element) over the dataset.
 * It consumes elements, not the dataset: ds stays the caller's. *result
 * is owned by the caller. */
typedef ct_status (*ct_reduce_fn)(const ct_element *state, const ct_element *elem, void *ctx,
                                  ct_element **out);
ct_status ct_dataset_reduce(ct_dataset *ds, const ct_element *initial, ct_reduce_fn fn,
                            void *ctx, ct_element **result);

typedef struct ct_dataset_options {
    bool nondeterministic;  /* TF's deterministic=False: order may vary   */
    int private_threadpool_size; /* 0: the process's pool                 */
} ct_dataset_options;
ct_dataset *ct_dataset_with_options(ct_dataset *ds, const ct_dataset_options *opts);

#ifdef __cplusplus
}
#endif

/* File formats read as data: text lines, CSV, file lists, IDX and
 * Fashion-MNIST (data_files.h); TFRecord and tf.Example (data_tfrecord.h);
 * auto-sharding and prefetch to a device (data_distribute.h).
 * ctrain has no string dtype: a string (a line, a record, a file name) is
 * a uint8 tensor of its bytes, shape [length]. */
#include "data_distribute.h"
#include "data_files.h"
#include "data_tfrecord.h"

#endif
