/*
 * A job's data part as a ct_dataset (pipeline.h): the source as (x, y)
 * elements, then the transforms in the job's order.
 */
#include "launcher/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launcher/cli.h"

/* Fashion-MNIST's four tensors, loaded once per directory. */
typedef struct fm_entry {
    char *dir; /* NULL: Debian's default */
    ct_tensor *t[4]; /* x_train, y_train, x_test, y_test (own references) */
    struct fm_entry *next;
} fm_entry;

/* What a map function needs; kept until pipeline_free because the
 * datasets call the functions as long as they live. */
typedef struct xform_ctx {
    job_transform_kind kind;
    double factor;
    int rank;
    int64_t shape[CT_MAX_RANK];
    bool batched;
} xform_ctx;

typedef struct pack_ctx {
    int nfeatures; /* the first nfeatures components are x's */
    bool has_label;
} pack_ctx;

typedef struct parse_ctx {
    int n;
    ct_feature_spec *specs;
    int label; /* index of the label feature, -1: none */
} parse_ctx;

typedef struct owned {
    void *p;
    void (*free_fn)(void *);
    struct owned *next;
} owned;

struct pipeline {
    const job *j;
    fm_entry *fm;
    owned *owned;
};

pipeline *pipeline_new(const job *j) {
    pipeline *p = calloc(1, sizeof *p);
    if (p) p->j = j;
    return p;
}

static void free_parse_ctx(void *v) {
    parse_ctx *c = v;
    for (int i = 0; i < c->n; i++) ct_tensor_free((ct_tensor *)c->specs[i].default_value);
    free(c->specs);
    free(c);
}

void pipeline_free(pipeline *p) {
    if (!p) return;
    for (fm_entry *e = p->fm, *next; e; e = next) {
        next = e->next;
        for (int i = 0; i < 4; i++) ct_tensor_free(e->t[i]);
        free(e->dir);
        free(e);
    }
    for (owned *o = p->owned, *next; o; o = next) {
        next = o->next;
        o->free_fn(o->p);
        free(o);
    }
    free(p);
}

/* Hands ptr to the pipeline (freed by pipeline_free); false when out of
 * memory (ptr is then freed). */
static bool keep(pipeline *p, void *ptr, void (*free_fn)(void *)) {
    owned *o = malloc(sizeof *o);
    if (!o) {
        free_fn(ptr);
        return false;
    }
    *o = (owned){.p = ptr, .free_fn = free_fn, .next = p->owned};
    p->owned = o;
    return true;
}

/* The library's last error at the job field w. */
static ct_dataset *fail_lib(const pipeline *p, const job_where *w) {
    char msg[1536];
    snprintf(msg, sizeof msg, "%s", ct_last_error());
    job_fail_at(p->j, w, "%s", msg);
    return NULL;
}

/* ---- map functions ------------------------------------------------------------------ */

/* *out = in with x (component 0) replaced; x in the current scope. */
static ct_status with_x(const ct_element *in, ct_tensor *x, ct_element **out) {
    if (!x) return ct_last_status() ? ct_last_status() : CT_ERR_INTERNAL;
    ct_element tmp = *in;
    tmp.t[0] = x;
    /* ct_element_copy takes references of its own, so the element outlives
     * the scope x belongs to. */
    *out = ct_element_copy(&tmp);
    return *out ? CT_OK : ct_last_status();
}

static ct_status xform_fn(const ct_element *in, void *ctx, ct_element **out) {
    const xform_ctx *c = ctx;
    ct_scope_begin();
    ct_tensor *x = NULL;
    if (c->kind == JOB_T_SCALE) {
        x = ct_multiply(ct_cast(in->t[0], CT_FLOAT32), ct_scalar(c->factor));
    } else {
        int64_t shape[CT_MAX_RANK + 1];
        int r = 0;
        /* A batch keeps its own first axis; the shape is per example. */
        if (c->batched) shape[r++] = ct_tensor_dim(in->t[0], 0);
        for (int i = 0; i < c->rank; i++) shape[r++] = c->shape[i];
        x = ct_reshape(in->t[0], r, shape);
    }
    ct_status st = with_x(in, x, out);
    ct_scope_end();
    return st;
}

/* CSV records: the named feature columns (scalars) stacked into one
 * float32 vector, then the label. */
static ct_status pack_fn(const ct_element *in, void *ctx, ct_element **out) {
    const pack_ctx *c = ctx;
    ct_scope_begin();
    ct_tensor *cols[CT_MAX_COMPONENTS];
    for (int i = 0; i < c->nfeatures; i++) cols[i] = ct_cast(in->t[i], CT_FLOAT32);
    ct_element tmp = {.n = c->has_label ? 2 : 1};
    tmp.t[0] = ct_stack(c->nfeatures, cols, 0);
    if (c->has_label) tmp.t[1] = in->t[c->nfeatures];
    ct_status st = CT_OK;
    if (!tmp.t[0]) st = ct_last_status() ? ct_last_status() : CT_ERR_INTERNAL;
    else if (!(*out = ct_element_copy(&tmp))) st = ct_last_status();
    ct_scope_end();
    return st;
}

/* TFRecord records: parse the tf.Example, then x from the non-label
 * features and y from the label. */
static ct_status parse_fn(const ct_element *in, void *ctx, ct_element **out) {
    const parse_ctx *c = ctx;
    ct_element *ex = NULL;
    ct_status st = ct_parse_example(in->t[0], c->n, c->specs, &ex);
    if (st) return st;
    ct_scope_begin();
    ct_element tmp = {.n = c->label >= 0 ? 2 : 1};
    int nx = c->n - (c->label >= 0);
    if (nx == 1) {
        tmp.t[0] = ex->t[c->label == 0 ? 1 : 0];
    } else {
        ct_tensor *parts[CT_MAX_COMPONENTS];
        int k = 0;
        for (int i = 0; i < c->n; i++)
            if (i != c->label)
                parts[k++] = ct_reshape(ct_cast(ex->t[i], CT_FLOAT32), 1, (int64_t[]){-1});
        tmp.t[0] = ct_concat(k, parts, 0);
    }
    if (c->label >= 0) tmp.t[1] = ex->t[c->label];
    if (!tmp.t[0]) st = ct_last_status() ? ct_last_status() : CT_ERR_INTERNAL;
    else if (!(*out = ct_element_copy(&tmp))) st = ct_last_status();
    ct_scope_end();
    ct_element_free(ex);
    return st;
}

/* ---- sources ------------------------------------------------------------------------ */

static const char *label_hint(const job_source *s) {
    switch (s->kind) {
    case JOB_SOURCE_IDX: return "give \"y\", the IDX file of the labels";
    default: return "give \"label\", the label column or feature";
    }
}

static bool same_dir(const char *a, const char *b) {
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The tensors of a tensor source into x, y (own references; y may be
 * NULL). */
static int tensor_source(pipeline *p, const job_source *s, ct_tensor **x, ct_tensor **y) {
    *x = *y = NULL;
    if (s->kind == JOB_SOURCE_FASHION_MNIST) {
        fm_entry *e = p->fm;
        while (e && !same_dir(e->dir, s->dir)) e = e->next;
        if (!e) {
            e = calloc(1, sizeof *e);
            if (!e || (s->dir && !(e->dir = cli_strdup(s->dir)))) {
                free(e);
                return job_fail_at(p->j, &s->where, "out of memory");
            }
            ct_tensor *t[4];
            ct_scope_begin();
            ct_status st = ct_load_fashion_mnist(s->dir, &t[0], &t[1], &t[2], &t[3]);
            if (!st)
                for (int i = 0; i < 4; i++) e->t[i] = ct_tensor_ref(t[i]);
            ct_scope_end();
            if (st) {
                free(e->dir);
                free(e);
                fail_lib(p, &s->where);
                return -1;
            }
            e->next = p->fm;
            p->fm = e;
        }
        int k = s->test_split ? 2 : 0;
        *x = ct_tensor_ref(e->t[k]);
        *y = ct_tensor_ref(e->t[k + 1]);
        return 0;
    }
    /* idx */
    ct_scope_begin();
    ct_tensor *tx = NULL, *ty = NULL;
    int rc = 0;
    if (ct_load_idx(s->x_path, &tx)) {
        fail_lib(p, &s->x_where);
        rc = -1;
    } else if (s->y_path && ct_load_idx(s->y_path, &ty)) {
        fail_lib(p, &s->y_where);
        rc = -1;
    } else if (ty && ct_tensor_dim(tx, 0) != ct_tensor_dim(ty, 0)) {
        rc = job_fail_at(p->j, &s->where,
                         "x has %lld examples (%s) but y has %lld (%s)",
                         (long long)ct_tensor_dim(tx, 0), s->x_path, (long long)ct_tensor_dim(ty, 0),
                         s->y_path);
    } else if (ct_tensor_rank(tx) < 1) {
        rc = job_fail_at(p->j, &s->x_where, "x is a scalar: IDX data need an examples axis");
    } else {
        *x = ct_tensor_ref(tx);
        *y = ty ? ct_tensor_ref(ty) : NULL;
    }
    ct_scope_end();
    return rc;
}

static ct_dataset *csv_source(pipeline *p, const job_source *s) {
    ct_csv_opts o = {
        .column_names = (const char *const *)s->column_names,
        .num_column_names = s->ncolumn_names,
        .select_columns = (const char *const *)s->select_columns,
        .num_select_columns = s->nselect,
        .label_name = s->label,
        .field_delim = s->field_delim,
        .no_header = s->no_header,
        .no_quote_delim = s->no_quote_delim,
        .na_value = s->na_value,
        .num_rows_for_inference = s->num_rows_for_inference,
        .compression = s->compression,
    };
    ct_dataset *ds = ct_make_csv_dataset(s->nfiles, (const char *const *)s->files, &o);
    if (!ds) return fail_lib(p, &s->where);
    const ct_element_spec *spec = ct_dataset_element_spec(ds);
    int nf = spec->n - (s->label ? 1 : 0);
    for (int i = 0; i < nf; i++) {
        if (spec->c[i].dtype == CT_CSV_STRING) {
            ct_dataset_free(ds);
            return job_fail_at(p->j, &s->where,
                               "column \"%s\" holds strings, and x must be numbers (leave it out "
                               "with \"select_columns\")",
                               spec->c[i].name ? spec->c[i].name : "?"),
                   NULL;
        }
    }
    if (nf < 1) {
        ct_dataset_free(ds);
        return job_fail_at(p->j, &s->where, "no feature columns are left for x"), NULL;
    }
    pack_ctx *c = malloc(sizeof *c);
    if (!c || !keep(p, c, free)) {
        ct_dataset_free(ds);
        return job_fail_at(p->j, &s->where, "out of memory"), NULL;
    }
    *c = (pack_ctx){.nfeatures = nf, .has_label = s->label != NULL};
    ds = ct_dataset_map(ds, pack_fn, c, 1);
    return ds ? ds : fail_lib(p, &s->where);
}

static ct_dataset *tfrecord_source(pipeline *p, const job_source *s) {
    parse_ctx *c = calloc(1, sizeof *c);
    if (c) c->specs = calloc((size_t)s->nfeatures, sizeof *c->specs);
    if (!c || !c->specs) {
        free(c);
        return job_fail_at(p->j, &s->where, "out of memory"), NULL;
    }
    c->n = s->nfeatures;
    c->label = -1;
    if (!keep(p, c, free_parse_ctx)) return job_fail_at(p->j, &s->where, "out of memory"), NULL;
    for (int i = 0; i < s->nfeatures; i++) {
        const job_feature *f = &s->features[i];
        ct_feature_spec *sp = &c->specs[i];
        *sp = (ct_feature_spec){.key = f->name, .kind = CT_FEATURE_FIXED_LEN, .dtype = f->dtype,
                                .rank = f->rank};
        memcpy(sp->shape, f->shape, sizeof sp->shape);
        if (f->has_default) {
            ct_scope_begin();
            ct_tensor *d = ct_cast(ct_constant(f->default_value, CT_FLOAT64, f->rank, f->shape),
                                   f->dtype);
            sp->default_value = d ? ct_tensor_ref(d) : NULL;
            ct_scope_end();
            if (!sp->default_value) return fail_lib(p, &f->where);
        }
        if (s->label && !strcmp(s->label, f->name)) c->label = i;
    }
    ct_dataset *ds = ct_dataset_tfrecord(s->nfiles, (const char *const *)s->files, s->compression);
    ds = ct_dataset_map(ds, parse_fn, c, CT_AUTOTUNE);
    return ds ? ds : fail_lib(p, &s->files_where);
}

/* ---- transforms ------------------------------------------------------------------------ */

const job_transform *pipeline_find_batch(const job_data *d) {
    for (int i = 0; i < d->ntransforms; i++)
        if (d->transforms[i].kind == JOB_T_BATCH) return &d->transforms[i];
    return NULL;
}

/* Whether a reshape to t's shape fits x of the dataset's element spec
 * (when the sizes are known): an error at the transform now beats one
 * from a worker thread later. */
static int check_reshape(pipeline *p, ct_dataset *ds, const job_transform *t, bool batched) {
    const ct_element_spec *spec = ct_dataset_element_spec(ds);
    if (!spec || spec->n < 1) return 0;
    const ct_component_spec *x = &spec->c[0];
    int64_t have = 1, want = 1;
    for (int i = batched ? 1 : 0; i < x->rank; i++) {
        if (x->shape[i] < 0) return 0;
        have *= x->shape[i];
    }
    bool unknown = false;
    for (int i = 0; i < t->rank; i++) {
        if (t->shape[i] < 0) unknown = true;
        else want *= t->shape[i];
    }
    if (unknown ? have % want == 0 : have == want) return 0;
    char got[128], to[128];
    ct_shape_str(x->rank - (batched ? 1 : 0), x->shape + (batched ? 1 : 0), got, sizeof got);
    ct_shape_str(t->rank, t->shape, to, sizeof to);
    return job_fail_at(p->j, &t->where, "cannot reshape an example's x of shape %s (%lld values) "
                                        "to %s",
                       got, (long long)have, to);
}

/* What one pipeline_build carries through its transforms. */
typedef struct build {
    const job_data *d;
    const pipeline_opts *opts;
    bool batched; /* the elements are batches now                       */
    bool sharded; /* this replica's part was taken (at the first batch) */
} build;

/* batch(size): or, with several replicas, this replica's part of the
 * examples in batches of its part of the global batch, so the k-th
 * batches of all replicas make the k-th global batch (TF's
 * distribute_datasets_from_function with a per-replica batch size). The
 * part is taken once, at the first batch, by the part's auto_shard_policy
 * (ct_dataset_auto_shard over the pipeline so far): AUTO reads every R-th
 * file of a csv / tfrecord source with at least R files (FILE), else
 * keeps every R-th example (DATA); OFF reads every example on every rank,
 * as TF gives every worker the whole dataset. */
static ct_dataset *global_batch(pipeline *p, build *b, ct_dataset *ds, int64_t size,
                                bool drop_remainder, const job_where *where) {
    const pipeline_opts *opts = b->opts;
    if (opts->replicas > 1) {
        if (size % opts->replicas) {
            ct_dataset_free(ds);
            return job_fail_at(p->j, where,
                               "the batch of %lld (the global batch) does not split evenly over "
                               "the %d ranks of the job",
                               (long long)size, opts->replicas),
                   NULL;
        }
        if (!b->sharded) {
            ds = ct_dataset_auto_shard(ds, opts->replicas, opts->replica, b->d->shard_policy);
            /* FILE's errors (a source without files, fewer files than
             * ranks) belong to the policy, when the job gives one. */
            const job_where *pw = &b->d->shard_policy_where;
            if (!ds) return fail_lib(p, pw->path[0] ? pw : where);
            b->sharded = true;
        }
        size /= opts->replicas;
    }
    ds = ds ? ct_dataset_batch(ds, size, drop_remainder) : NULL;
    return ds ? ds : fail_lib(p, where);
}

static ct_dataset *apply(pipeline *p, build *b, ct_dataset *ds, const job_transform *t) {
    const pipeline_opts *opts = b->opts;
    bool *batched = &b->batched;
    switch (t->kind) {
    case JOB_T_SCALE:
    case JOB_T_RESHAPE: {
        if (t->kind == JOB_T_RESHAPE && check_reshape(p, ds, t, *batched)) {
            ct_dataset_free(ds);
            return NULL;
        }
        xform_ctx *c = malloc(sizeof *c);
        if (!c || !keep(p, c, free)) {
            ct_dataset_free(ds);
            return job_fail_at(p->j, &t->where, "out of memory"), NULL;
        }
        *c = (xform_ctx){.kind = t->kind, .factor = t->factor, .rank = t->rank,
                         .batched = *batched};
        memcpy(c->shape, t->shape, sizeof c->shape);
        ds = ct_dataset_map(ds, xform_fn, c, *batched ? 1 : CT_AUTOTUNE);
        break;
    }
    case JOB_T_CACHE:
        if (t->filename && opts->replicas > 1) {
            /* Each rank caches what it reads, which is its own part (FILE
             * sharding, or any cache after the batch): one file per rank,
             * or a rank would read back another's part. */
            size_t len = strlen(t->filename) + 32;
            char *name = malloc(len);
            if (!name) {
                ct_dataset_free(ds);
                return job_fail_at(p->j, &t->where, "out of memory"), NULL;
            }
            snprintf(name, len, "%s.rank%d-of-%d", t->filename, opts->replica, opts->replicas);
            ds = ct_dataset_cache(ds, name);
            free(name);
        } else {
            ds = ct_dataset_cache(ds, t->filename);
        }
        break;
    case JOB_T_SHUFFLE:
        ds = ct_dataset_shuffle(ds, t->n,
                                &(ct_shuffle_opts){.seed = t->seed,
                                                   .no_reshuffle_each_iteration = t->no_reshuffle});
        break;
    case JOB_T_BATCH:
        ds = global_batch(p, b, ds, opts->batch_override > 0 ? opts->batch_override : t->n,
                          t->drop_remainder, &t->where);
        if (!ds) return NULL;
        *batched = true;
        break;
    case JOB_T_UNBATCH:
        ds = ct_dataset_unbatch(ds);
        *batched = false;
        break;
    case JOB_T_PREFETCH: ds = ct_dataset_prefetch(ds, t->n); break;
    case JOB_T_REPEAT: ds = ct_dataset_repeat(ds, t->n); break;
    case JOB_T_TAKE: ds = ct_dataset_take(ds, t->n); break;
    case JOB_T_SKIP: ds = ct_dataset_skip(ds, t->n); break;
    case JOB_T_SHARD: ds = ct_dataset_shard(ds, t->n, t->index); break;
    }
    return ds ? ds : fail_lib(p, &t->where);
}

ct_dataset *pipeline_build(pipeline *p, const job_data *d, const pipeline_opts *opts) {
    const job_source *s = &d->source;
    bool has_label = s->kind == JOB_SOURCE_FASHION_MNIST || (s->kind == JOB_SOURCE_IDX && s->y_path) ||
                     ((s->kind == JOB_SOURCE_CSV || s->kind == JOB_SOURCE_TFRECORD) && s->label);
    if (opts->need_label && !has_label)
        return job_fail_at(p->j, &s->where, "this source has no labels, which fit and evaluate "
                                            "need: %s",
                           label_hint(s)),
               NULL;
    /* The tensor sources are sliced from memory: FILE has no files to
     * split (the library would say so later, in its terms). */
    bool tensors = s->kind == JOB_SOURCE_FASHION_MNIST || s->kind == JOB_SOURCE_IDX;
    if (opts->replicas > 1 && d->shard_policy == CT_AUTO_SHARD_FILE && tensors)
        return job_fail_at(p->j, &d->shard_policy_where,
                           "FILE sharding needs a source that reads files (csv, tfrecord), and "
                           "the %s source is sliced from tensors in memory: give \"DATA\" or "
                           "\"AUTO\"",
                           s->kind == JOB_SOURCE_IDX ? "idx" : "fashion_mnist"),
               NULL;
    ct_dataset *ds = NULL;
    int first = 0; /* the first transform not applied yet */
    if (tensors) {
        ct_tensor *x, *y;
        if (tensor_source(p, s, &x, &y)) return NULL;
        ct_scope_begin();
        ct_tensor *cur = x;
        int rc = 0;
        /* Leading scale / reshape once on the whole tensor. */
        for (; first < d->ntransforms && !rc; first++) {
            const job_transform *t = &d->transforms[first];
            ct_tensor *next;
            if (t->kind == JOB_T_SCALE) {
                next = ct_multiply(ct_cast(cur, CT_FLOAT32), ct_scalar(t->factor));
                if (!next) rc = (fail_lib(p, &t->where), -1);
            } else if (t->kind == JOB_T_RESHAPE) {
                int64_t shape[CT_MAX_RANK + 1] = {ct_tensor_dim(cur, 0)};
                memcpy(shape + 1, t->shape, (size_t)t->rank * sizeof *shape);
                next = t->rank < CT_MAX_RANK ? ct_reshape(cur, t->rank + 1, shape) : NULL;
                if (!next) {
                    char got[128], to[128];
                    ct_shape_str(ct_tensor_rank(cur) - 1, ct_tensor_shape(cur) + 1, got, sizeof got);
                    ct_shape_str(t->rank, t->shape, to, sizeof to);
                    rc = job_fail_at(p->j, &t->where,
                                     "cannot reshape an example's x of shape %s to %s", got, to);
                }
            } else {
                break;
            }
            cur = next;
        }
        if (!rc) {
            ct_element e = {.n = y ? 2 : 1, .t = {cur, y}};
            if (!(ds = ct_dataset_from_tensor_slices(&e))) fail_lib(p, &s->where);
        }
        ct_scope_end();
        ct_tensor_free(x);
        ct_tensor_free(y);
        if (!ds) return NULL;
    } else if (s->kind == JOB_SOURCE_CSV) {
        if (!(ds = csv_source(p, s))) return NULL;
    } else {
        if (!(ds = tfrecord_source(p, s))) return NULL;
    }

    /* A pipeline without a batch gets one, before its trailing prefetches
     * (Keras batches unbatched tensors by batch_size the same way). */
    int batch_at = -1;
    if (!pipeline_find_batch(d)) {
        batch_at = d->ntransforms;
        while (batch_at > first && d->transforms[batch_at - 1].kind == JOB_T_PREFETCH) batch_at--;
    }
    int64_t bs = opts->batch_override > 0   ? opts->batch_override
                 : opts->default_batch > 0 ? opts->default_batch
                                           : 32;
    build b = {.d = d, .opts = opts};
    for (int i = first; i <= d->ntransforms && ds; i++) {
        if (i == batch_at) {
            ds = global_batch(p, &b, ds, bs, false, &d->where);
            b.batched = true;
            if (!ds) return NULL;
        }
        if (i < d->ntransforms) ds = apply(p, &b, ds, &d->transforms[i]);
    }
    return ds;
}
