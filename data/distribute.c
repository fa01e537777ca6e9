/*
 * Distribution helpers: tf.distribute's auto-shard rewrite and
 * tf.data.experimental.prefetch_to_device.
 *
 * Auto-shard follows tensorflow/core/grappler/optimizers/data/auto_shard.cc.
 * TF rewrites the dataset graph; here the pipeline is rebuilt from the
 * end towards its sources with two optional dataset hooks (data/internal.h):
 * `remake` re-creates a transform over new inputs, `shard_files` copies a
 * file source over a subset of its files. Which kinds pass elements on,
 * read files or are unshardable sources is decided here, by TF's class
 * names (ct__dataset_vt.name), as auto_shard.cc decides by op names. A
 * build without the hooks cannot shard by files: FILE fails and AUTO
 * shards by data.
 */
#include <stdlib.h>
#include <string.h>

#include "ctrain/data_distribute.h"
#include "data/internal.h"

#ifdef CT_HAVE_CUDA
#include <cuda_runtime.h>
#endif

static const char *const SHARD_API = "ct_dataset_auto_shard";

/* ---- dataset kinds by TF name ------------------------------------------------------ */

/* TF's MatchesAnyVersionRE: `name` is one of `kinds`, or one of them
 * followed by "V<digits>" (ShuffleDatasetV3 is a ShuffleDataset). */
static bool kind_in(const ct_dataset *ds, const char *const *kinds) {
    const char *name = ds->vt->name ? ds->vt->name : "";
    for (; *kinds; kinds++) {
        size_t n = strlen(*kinds);
        if (strncmp(name, *kinds, n) != 0) continue;
        const char *rest = name + n;
        if (!*rest) return true;
        if (rest[0] == 'V' && rest[1]) {
            const char *p = rest + 1;
            while (*p >= '0' && *p <= '9') p++;
            if (!*p) return true;
        }
    }
    return false;
}

/* auto_shard.cc's kPassThroughOps that ctrain has (plus ModelDataset-like
 * stages it may grow). */
static const char *const PASS_THROUGH[] = {
    "BatchDataset",   "CacheDataset",   "FilterDataset",      "MapDataset",
    "MapAndBatchDataset", "PaddedBatchDataset", "ParallelMapDataset", "ParseExampleDataset",
    "PrefetchDataset", "RebatchDataset", "RepeatDataset",     "ShardDataset",
    "ShuffleAndRepeatDataset", "ShuffleDataset", "SkipDataset", "TakeDataset",
    "WindowDataset",  "ModelDataset",   "OptimizeDataset",    "AssertNextDataset",
    NULL};
static const char *const MULTI_INPUT[] = {"ConcatenateDataset", "ZipDataset", NULL};
static const char *const FUNC_DATASETS[] = {"FlatMapDataset", "InterleaveDataset",
                                            "ParallelInterleaveDataset",
                                            "LegacyParallelInterleaveDataset", NULL};
static const char *const UNSHARDABLE[] = {"GeneratorDataset", "RangeDataset",
                                          "SparseTensorSliceDataset", "TensorDataset",
                                          "TensorSliceDataset", NULL};
/* kReaderDatasetOps, with CSV (TF reaches CsvDataset through the
 * flat_map that make_csv_dataset builds over the file names). */
static const char *const READERS[] = {"FixedLengthRecordDataset", "RecordIODataset",
                                      "SSTableDataset", "TextLineDataset", "TFRecordDataset",
                                      "CsvDataset", NULL};
#ifdef CT__DATASET_REMAKE
static const char *const SHUFFLES[] = {"ShuffleDataset", NULL};
static const char *const PREFETCHES[] = {"PrefetchDataset", NULL};
#endif

/* ---- prefetch_to_device ------------------------------------------------------------ */

/* TF builds prefetch_to_device as copy_to_device(dev).prefetch(buffer):
 * here `copy_ds` copies, and `devpf_ds` is the pair as one dataset that
 * remembers its arguments (so auto-shard can rebuild it over a new
 * input). */
typedef struct {
    ct_dataset base;
    ct_dataset *input;
    ct_device *dev;
} copy_ds;

typedef struct {
    ct__iter base;
    ct__iter *input;
#ifdef CT_HAVE_CUDA
    void *pinned;      /* page-locked staging buffer (cudaHostAlloc) */
    size_t pinned_cap; /* its bytes                                  */
    bool no_pinned;    /* cudaHostAlloc failed once: copy pageable   */
#endif
} copy_it;

static const char *const DEVICE_API = "ct_dataset_prefetch_to_device";

#ifdef CT_HAVE_CUDA
#define PIN_ALIGN ((size_t)256)

static size_t pin_round(size_t n) { return (n + PIN_ALIGN - 1) / PIN_ALIGN * PIN_ALIGN; }

/* Copies the host components of e marked in `todo` to dev through the
 * iterator's pinned buffer: all of them are packed into the buffer, each
 * copy is queued on the device's stream, and the stage waits for the
 * stream before the buffer is reused. (The runtime queues everything of a
 * device on one stream, so the copies run after the compute queued before
 * them in any case; waiting here blocks only this background thread.)
 * Returns CT_OK with out[c] set for each marked c, or an error (and
 * out[] released). Falls back to *fallback = true when no pinned memory
 * can be had. */
static ct_status copy_pinned(copy_it *c, ct_device *dev, const ct_element *e, const bool *todo,
                             ct_tensor **out, bool *fallback) {
    size_t total = 0;
    for (int k = 0; k < e->n; k++)
        if (todo[k]) total += pin_round(ct__nbytes(e->t[k]));
    *fallback = false;
    if (total == 0 || c->no_pinned) {
        *fallback = true;
        return CT_OK;
    }
    if (total > c->pinned_cap) {
        if (c->pinned) cudaFreeHost(c->pinned);
        c->pinned = NULL;
        c->pinned_cap = 0;
        if (cudaHostAlloc(&c->pinned, total, cudaHostAllocPortable) != cudaSuccess) {
            cudaGetLastError(); /* clear the sticky-free error state */
            c->pinned = NULL;
            c->no_pinned = true;
            *fallback = true;
            return CT_OK;
        }
        c->pinned_cap = total;
    }
    ct_status st = CT_OK;
    size_t off = 0;
    for (int k = 0; k < e->n && !st; k++) {
        if (!todo[k]) continue;
        const ct_tensor *t = e->t[k];
        size_t bytes = ct__nbytes(t);
        out[k] = ct__tensor_alloc(dev, t->dtype, t->rank, t->shape, DEVICE_API);
        if (!out[k]) {
            st = ct_last_status();
            break;
        }
        char *stage = (char *)c->pinned + off;
        if (bytes) memcpy(stage, ct__data(t), bytes);
        st = dev->vt->from_host(dev, ct__data(out[k]), stage, bytes);
        off += pin_round(bytes);
    }
    /* Wait even after a failure: queued copies may still read the buffer. */
    ct_status sync = dev->vt->synchronize(dev);
    if (!st) st = sync;
    if (st)
        for (int k = 0; k < e->n; k++) {
            if (todo[k] && out[k]) ct_tensor_free(out[k]);
            out[k] = NULL;
        }
    return st;
}
#endif

/* The element with every component on dev: components already there are
 * passed on (the same references), the others copied. */
static ct_status copy_element(copy_it *c, ct_device *dev, ct_element *e, ct_element **out) {
    bool todo[CT_MAX_COMPONENTS];
    ct_tensor *moved[CT_MAX_COMPONENTS];
    int need = 0;
    for (int k = 0; k < e->n; k++) {
        todo[k] = ct_tensor_device(e->t[k]) != dev;
        moved[k] = NULL;
        need += todo[k];
    }
    if (!need) {
        *out = e;
        return CT_OK;
    }
    bool fallback = true;
    ct_status st = CT_OK;
#ifdef CT_HAVE_CUDA
    bool all_host = ct_device_kind_of(dev) == CT_DEVICE_CUDA;
    for (int k = 0; k < e->n && all_host; k++)
        if (todo[k] && ct_device_kind_of(ct_tensor_device(e->t[k])) != CT_DEVICE_CPU)
            all_host = false;
    if (all_host) st = copy_pinned(c, dev, e, todo, moved, &fallback);
#else
    (void)c;
#endif
    if (!st && fallback) {
        ct_scope_begin();
        for (int k = 0; k < e->n && !st; k++) {
            if (!todo[k]) continue;
            moved[k] = ct__unscope(ct_to_device(e->t[k], dev));
            if (!moved[k]) st = ct_last_status();
        }
        ct_scope_end();
        if (st)
            for (int k = 0; k < e->n; k++) ct_tensor_free(moved[k]);
    }
    if (st) {
        ct_element_free(e);
        return st;
    }
    for (int k = 0; k < e->n; k++) {
        if (!todo[k]) continue;
        ct_tensor_free(e->t[k]);
        e->t[k] = moved[k];
    }
    *out = e;
    return CT_OK;
}

static ct_status copy_next(ct__iter *it, ct_element **out) {
    copy_it *c = (copy_it *)it;
    ct_element *e;
    *out = NULL;
    ct_status st = ct__iter_next(c->input, &e);
    if (st || !e) return st;
    return copy_element(c, ((copy_ds *)it->ds)->dev, e, out);
}

/* The copy keeps no position of its own: its state is its input's. */
static ct_status copy_save(ct__iter *it, ct__state_writer *w) {
    return ct__iter_save(((copy_it *)it)->input, w);
}

static ct_status copy_restore(ct__iter *it, ct__state_reader *r) {
    return ct__iter_restore(((copy_it *)it)->input, r);
}

static void copy_it_free(ct__iter *it) {
    copy_it *c = (copy_it *)it;
    ct__iter_free(c->input);
#ifdef CT_HAVE_CUDA
    if (c->pinned) cudaFreeHost(c->pinned);
#endif
    free(c);
}

static const ct__iter_vt copy_it_vt = {copy_next, copy_save, copy_restore, copy_it_free};

static ct__iter *copy_iterator(ct_dataset *ds) {
    copy_it *c = ct__iter_alloc(sizeof *c, &copy_it_vt, ds);
    if (!c) return NULL;
    c->input = ct__iter_make(((copy_ds *)ds)->input);
    if (!c->input) {
        free(c);
        return NULL;
    }
    return &c->base;
}

static int64_t copy_card(const ct_dataset *ds) {
    return ct_dataset_cardinality(((const copy_ds *)ds)->input);
}

static void copy_destroy(ct_dataset *ds) { ct_dataset_free(((copy_ds *)ds)->input); }

static const ct__dataset_vt copy_vt = {"CopyToDeviceDataset", copy_iterator, copy_card,
                                       copy_destroy, .input = ct__dataset_first_input};

/* prefetch(copy_to_device(input)), remembering input, dev and the buffer. */
typedef struct {
    ct_dataset base;
    ct_dataset *input;  /* a reference, for rebuilding              */
    ct_device *dev;
    int64_t buffer_size; /* as given (CT_AUTOTUNE kept)             */
    ct_dataset *inner;   /* prefetch(copy(input)), what is iterated */
} devpf_ds;

typedef struct {
    ct__iter base;
    ct__iter *inner;
} devpf_it;

static ct_status devpf_next(ct__iter *it, ct_element **out) {
    return ct__iter_next(((devpf_it *)it)->inner, out);
}
static ct_status devpf_save(ct__iter *it, ct__state_writer *w) {
    return ct__iter_save(((devpf_it *)it)->inner, w);
}
static ct_status devpf_restore(ct__iter *it, ct__state_reader *r) {
    return ct__iter_restore(((devpf_it *)it)->inner, r);
}
static void devpf_it_free(ct__iter *it) {
    ct__iter_free(((devpf_it *)it)->inner);
    free(it);
}

static const ct__iter_vt devpf_it_vt = {devpf_next, devpf_save, devpf_restore, devpf_it_free};

static ct__iter *devpf_iterator(ct_dataset *ds) {
    devpf_it *p = ct__iter_alloc(sizeof *p, &devpf_it_vt, ds);
    if (!p) return NULL;
    p->inner = ct__iter_make(((devpf_ds *)ds)->inner);
    if (!p->inner) {
        free(p);
        return NULL;
    }
    return &p->base;
}

static int64_t devpf_card(const ct_dataset *ds) {
    return ct_dataset_cardinality(((const devpf_ds *)ds)->input);
}

static void devpf_destroy(ct_dataset *ds) {
    devpf_ds *d = (devpf_ds *)ds;
    ct_dataset_free(d->inner);
    ct_dataset_free(d->input);
}

/* TF's prefetch_to_device ends in a PrefetchDataset. */
static ct_dataset *devpf_input(const ct_dataset *ds, int i) {
    return i == 0 ? ((const devpf_ds *)ds)->inner : NULL;
}

static const ct__dataset_vt devpf_vt = {"PrefetchDataset", devpf_iterator, devpf_card,
                                        devpf_destroy, .input = devpf_input};

ct_dataset *ct_dataset_prefetch_to_device(ct_dataset *ds, ct_device *dev, int64_t buffer_size) {
    if (ct__dataset_null(ds, DEVICE_API)) return NULL;
    if (!dev) {
        ct_dataset_free(ds);
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the device is NULL", DEVICE_API);
        return NULL;
    }
    if (buffer_size < 0 && buffer_size != CT_AUTOTUNE) {
        ct_dataset_free(ds);
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s: buffer_size must be >= 0 or CT_AUTOTUNE (%d), got %lld", DEVICE_API,
                  CT_AUTOTUNE, (long long)buffer_size);
        return NULL;
    }
    devpf_ds *d = ct__dataset_alloc(sizeof *d, &devpf_vt, &ds->spec);
    if (!d) {
        ct_dataset_free(ds);
        return NULL;
    }
    d->input = ds;
    d->dev = dev;
    d->buffer_size = buffer_size;
    d->base.opts = ds->opts;
    ct_dataset *inner = ct_dataset_ref(ds);
    if (ct_device_kind_of(dev) != CT_DEVICE_CPU || ct_device_index(dev) != 0) {
        copy_ds *c = ct__dataset_alloc(sizeof *c, &copy_vt, &ds->spec);
        if (!c) {
            ct_dataset_free(inner);
            ct_dataset_free(&d->base);
            return NULL;
        }
        c->input = inner;
        c->dev = dev;
        c->base.opts = ds->opts;
        inner = &c->base;
    }
    d->inner = ct_dataset_prefetch(inner, buffer_size);
    if (!d->inner) {
        ct_dataset_free(&d->base);
        return NULL;
    }
    return &d->base;
}

/* ---- auto-shard ------------------------------------------------------------------ */

typedef struct {
    int64_t n, index;
} shard_ctx;

static ct_dataset *not_found(const char *fmt, const char *name) {
    ct__error(CT_ERR_NOT_FOUND, fmt, SHARD_API, name ? name : "?");
    return NULL;
}

static ct_dataset *file_shard(ct_dataset *ds, void *ctx);

#ifdef CT__DATASET_REMAKE
static ct_dataset *too_few_files(int64_t files, int64_t n) {
    ct__error(CT_ERR_NOT_FOUND,
              "%s: Could not apply FILE based sharding: the dataset only has %lld file(s), which "
              "is not enough for the required %lld shards/workers. Consider setting the auto "
              "sharding policy to DATA or OFF, or splitting the input into more files than "
              "workers.", SHARD_API, (long long)files, (long long)n);
    return NULL;
}

/* The file names an interleave reads, sharded: shard(names) placed under
 * any shuffles directly above the names (TF removes the shuffles before
 * the reader and adds one after the new shard, so every worker splits the
 * same, unshuffled list and shuffles its own part). */
static ct_dataset *names_shard(ct_dataset *names, void *ctx) {
    shard_ctx *c = ctx;
    const ct_element_spec *s = &names->spec;
    if (s->n != 1 || s->c[0].dtype != CT_UINT8 || s->c[0].rank != 1)
        return not_found("%s: the input of a flat_map or interleave (%s) is not file names "
                         "(single strings)", names->vt->name);
    if (kind_in(names, SHUFFLES) && names->vt->remake)
        return names->vt->remake(names, names_shard, ctx);
    int64_t files = ct_dataset_cardinality(names);
    if (files >= 0 && files < c->n) return too_few_files(files, c->n);
    return ct_dataset_shard(ct_dataset_ref(names), c->n, c->index);
}
#endif

/* auto_shard.cc's RecursivelyHandleOp: a new reference to ds rebuilt so
 * that its file sources read only this worker's files; NULL with
 * CT_ERR_NOT_FOUND when that cannot be done. */
static ct_dataset *file_shard(ct_dataset *ds, void *ctx) {
    shard_ctx *c = ctx;
    if (ds->vt == &devpf_vt) {
        devpf_ds *d = (devpf_ds *)ds;
        ct_dataset *in = file_shard(d->input, ctx);
        return in ? ct_dataset_prefetch_to_device(in, d->dev, d->buffer_size) : NULL;
    }
    if (kind_in(ds, UNSHARDABLE))
        return not_found("%s: Found an unshardable source dataset: %s", ds->vt->name);
#ifdef CT__DATASET_REMAKE
    if (ds->vt->shard_files) { /* a reader dataset */
        int64_t files = -1;
        ct_dataset *r = ds->vt->shard_files(ds, c->n, c->index, &files);
        if (!r && files >= 0 && files < c->n) return too_few_files(files, c->n);
        return r;
    }
    if (kind_in(ds, READERS))
        return not_found("%s: cannot shard the files of %s (it cannot be rebuilt over a subset "
                         "of its files)", ds->vt->name);
    if (kind_in(ds, FUNC_DATASETS)) {
        /* TF shards the input of a flat_map / interleave whose function
         * reads its argument as a file name (names_shard checks that the
         * input is strings: a C function cannot be looked into). */
        if (!ds->vt->remake)
            return not_found("%s: cannot rebuild %s over sharded file names", ds->vt->name);
        return ds->vt->remake(ds, names_shard, ctx);
    }
    if (kind_in(ds, PASS_THROUGH) || kind_in(ds, MULTI_INPUT)) {
        if (!ds->vt->remake)
            return not_found("%s: cannot rebuild %s over a sharded input", ds->vt->name);
        return ds->vt->remake(ds, file_shard, ctx);
    }
#else
    (void)c;
    if (kind_in(ds, READERS) || kind_in(ds, PASS_THROUGH) || kind_in(ds, MULTI_INPUT) ||
        kind_in(ds, FUNC_DATASETS))
        return not_found("%s: cannot rebuild %s to shard its files (this build has no "
                         "dataset rebuild hooks)", ds->vt->name);
#endif
    return not_found("%s: Did not find a shardable source, walked to a node which is not a "
                     "dataset: %s. Consider either turning off auto-sharding or switching the "
                     "auto_shard_policy to DATA to shard this dataset.", ds->vt->name);
}

/* auto_shard.cc's ShardByData: shard(n, index) at the end, below any
 * final prefetches. A new reference. */
static ct_dataset *data_shard(ct_dataset *ds, void *ctx) {
    shard_ctx *c = ctx;
    if (ds->vt == &devpf_vt) {
        devpf_ds *d = (devpf_ds *)ds;
        ct_dataset *in = data_shard(d->input, ctx);
        return in ? ct_dataset_prefetch_to_device(in, d->dev, d->buffer_size) : NULL;
    }
#ifdef CT__DATASET_REMAKE
    if (kind_in(ds, PREFETCHES) && ds->vt->remake) return ds->vt->remake(ds, data_shard, ctx);
#endif
    return ct_dataset_shard(ct_dataset_ref(ds), c->n, c->index);
}

ct_dataset *ct_dataset_auto_shard(ct_dataset *ds, int64_t num_workers, int64_t index,
                                  ct_auto_shard_policy policy) {
    if (ct__dataset_null(ds, SHARD_API)) return NULL;
    if ((unsigned)policy > CT_AUTO_SHARD_OFF) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: auto_shard_policy %d is invalid.", SHARD_API,
                  (int)policy);
        ct_dataset_free(ds);
        return NULL;
    }
    if (num_workers < 1) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: num_workers should be >= 1, currently %lld",
                  SHARD_API, (long long)num_workers);
        ct_dataset_free(ds);
        return NULL;
    }
    if (index < 0 || index >= num_workers) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: index should be >= 0 and < %lld, currently %lld",
                  SHARD_API, (long long)num_workers, (long long)index);
        ct_dataset_free(ds);
        return NULL;
    }
    if (policy == CT_AUTO_SHARD_OFF || (num_workers == 1 && index == 0)) return ds;
    shard_ctx c = {num_workers, index};
    ct_dataset *r = NULL;
    if (policy != CT_AUTO_SHARD_DATA) {
        r = file_shard(ds, &c);
        if (!r && policy == CT_AUTO_SHARD_AUTO && ct_last_status() == CT_ERR_NOT_FOUND) {
            ct_clear_error();
            r = data_shard(ds, &c);
        }
    } else {
        r = data_shard(ds, &c);
    }
    ct_dataset_free(ds);
    return r;
}
