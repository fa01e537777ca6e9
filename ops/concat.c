/*
 * tf.concat (ConcatV2), tf.stack, tf.unstack (Unpack), tf.split (SplitV).
 *
 * Along `axis`, a tensor of shape [outer..., d, inner...] is `outer` rows
 * of d * inner elements. Concatenation interleaves the inputs' rows into
 * the output; splitting is the reverse. Both walk the joined tensor in
 * flat byte order as a sequence of (row, part) segments, so the work
 * splits evenly across threads by byte ranges whatever the axis. Copies
 * are by bytes: every dtype, float16 and bool included.
 *
 * ct__run takes at most CT__MAX_IO inputs or outputs per call; longer
 * lists are handled in groups (a concat of concats, a split of splits),
 * which keeps values and gradients exact.
 *
 * A split whose parts are contiguous, cache-line aligned byte ranges of
 * the input (every axis before `axis` has size 1) returns views, as TF
 * does for aligned splits along the first axis.
 */
#include <omp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

typedef struct {
    int axis; /* as given; normalised by infer */
} concat_attrs;

typedef struct {
    int axis;    /* normalised */
    int squeeze; /* Unpack: outputs drop the axis (every size is 1) */
    int n;
    int64_t sizes[CT__MAX_IO];
} split_attrs;

/* ---- the segment copy shared by concat and split ------------------------- */

/* Copies output bytes [b0, b1) of the joined tensor (outer rows of
 * rowbytes, part i contributing len[i] bytes to each row). gather: parts
 * -> joined (concat), else joined -> parts (split). */
static void segments(char *joined, char *const *parts, const size_t *len, const size_t *cum,
                     int n, size_t rowbytes, bool gather, size_t b0, size_t b1) {
    size_t o = b0 / rowbytes, off = b0 % rowbytes, pos = b0;
    int i = 0;
    while (i < n && cum[i] + len[i] <= off) i++;
    while (pos < b1) {
        if (i == n) {
            i = 0;
            o++;
            off = 0;
            while (i < n && len[i] == 0) i++;
            continue;
        }
        size_t within = off - cum[i], take = len[i] - within;
        if (take > b1 - pos) take = b1 - pos;
        char *p = parts[i] + o * len[i] + within;
        if (gather) memcpy(joined + pos, p, take);
        else memcpy(p, joined + pos, take);
        pos += take;
        off += take;
        i++;
        while (i < n && len[i] == 0) i++;
    }
}

static void run_segments(char *joined, char *const *parts, const size_t *len, int n,
                         size_t rowbytes, size_t total, bool gather, int64_t elems) {
    size_t cum[CT__MAX_IO], s = 0;
    for (int i = 0; i < n; i++) cum[i] = s, s += len[i];
    if (total == 0) return;
    int nt = ct__threads_for(elems, 1);
    if (nt <= 1) {
        segments(joined, parts, len, cum, n, rowbytes, gather, 0, total);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), k = omp_get_num_threads();
        size_t chunk = ((total + (size_t)k - 1) / (size_t)k + 63) & ~(size_t)63;
        size_t b0 = (size_t)t * chunk, b1 = b0 + chunk < total ? b0 + chunk : total;
        if (b0 < b1) segments(joined, parts, len, cum, n, rowbytes, gather, b0, b1);
    }
}

/* Elements per row step along axis: product of the dims after it. */
static int64_t inner_of(const ct_tensor *t, int axis) {
    int64_t inner = 1;
    for (int i = axis + 1; i < t->rank; i++) inner *= t->shape[i];
    return inner;
}

/* ---- ConcatV2 ----------------------------------------------------------------- */

static ct_status infer_concat(ct__call *c) {
    const concat_attrs *a = c->attrs;
    const ct_tensor *t0 = c->in[0];
    if (t0->rank == 0)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "cannot concatenate scalars (use ct_stack instead): values[0] is %s",
                              CT__DESC(t0));
    int axis;
    ct_status st = ct__axis(c, a->axis, t0->rank, &axis);
    if (st) return st;
    int64_t shape[CT_MAX_RANK];
    memcpy(shape, t0->shape, sizeof shape);
    for (int i = 1; i < c->n_in; i++) {
        const ct_tensor *t = c->in[i];
        if (t->dtype != t0->dtype)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "all inputs must have the same dtype: values[0] is %s, "
                                  "values[%d] is %s", CT__DESC(t0), i, CT__DESC(t));
        if (t->rank != t0->rank)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "ranks of all inputs must match: values[0] is %s, values[%d] "
                                  "is %s", CT__DESC(t0), i, CT__DESC(t));
        for (int d = 0; d < t0->rank; d++)
            if (d != axis && t->shape[d] != t0->shape[d])
                return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                      "dimension %d must be equal in all inputs: values[0] is "
                                      "%s, values[%d] is %s (concatenating along axis %d)",
                                      d, CT__DESC(t0), i, CT__DESC(t), axis);
        shape[axis] += t->shape[axis];
    }
    ct__spec_set(&c->spec[0], t0->dtype, t0->rank, shape);
    return CT_OK;
}

static ct_status cpu_concat(ct__call *c) {
    ct_tensor *o = c->out[0];
    int axis = c->attrs ? ((const concat_attrs *)c->attrs)->axis : 0;
    if (axis < 0) axis += o->rank;
    size_t es = ct_dtype_size(o->dtype), len[CT__MAX_IO], rowbytes = 0;
    char *parts[CT__MAX_IO];
    int64_t inner = inner_of(o, axis);
    for (int i = 0; i < c->n_in; i++) {
        len[i] = (size_t)(c->in[i]->shape[axis] * inner) * es;
        parts[i] = ct__data(c->in[i]);
        rowbytes += len[i];
    }
    run_segments(ct__data(o), parts, len, c->n_in, rowbytes, ct__nbytes(o), true, o->size);
    return CT_OK;
}

static ct_status run_split(const ct_tensor *t, const split_attrs *a, ct_tensor **out);

static ct_status concat_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const concat_attrs *ca = c->attrs;
    split_attrs a = {.axis = ca->axis < 0 ? ca->axis + c->in[0]->rank : ca->axis,
                     .n = c->n_in};
    for (int i = 0; i < c->n_in; i++) a.sizes[i] = c->in[i]->shape[a.axis];
    return run_split(dy[0], &a, dx);
}

const ct__op ct__op_concat = {.name = "ConcatV2", .infer = infer_concat,
                              .kernel = {[CT_DEVICE_CPU] = cpu_concat}, .grad = concat_grad,
                              .flags = CT__OP_NATIVE_HALF};

static ct_tensor *run_concat(int n, ct_tensor *const *ts, int axis) {
    concat_attrs a = {.axis = axis};
    return ct__run1(&ct__op_concat, "ct_concat", n, (const ct_tensor *const *)ts, &a, sizeof a);
}

ct_tensor *ct_concat(int n, ct_tensor *const *ts, int axis) {
    if (n <= 0 || !ts) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_concat: needs at least one tensor, got %d", n);
        return NULL;
    }
    /* TF returns the single input unchanged (axis is not checked). */
    if (n == 1) return ct_identity(ts[0]);
    if (n <= CT__MAX_IO) return run_concat(n, ts, axis);
    /* Concatenate groups, then the groups' results. */
    int ng = (n + CT__MAX_IO - 1) / CT__MAX_IO;
    ct_tensor *groups[CT__MAX_IO];
    int per = (n + ng - 1) / ng;
    for (int g = 0; g < ng; g++) {
        int lo = g * per, hi = lo + per < n ? lo + per : n;
        groups[g] = hi - lo == 1 ? ts[lo] : run_concat(hi - lo, ts + lo, axis);
        if (!groups[g]) return NULL;
    }
    return run_concat(ng, groups, axis);
}

/* ---- SplitV and Unpack ------------------------------------------------------- */

static ct_status infer_split(ct__call *c) {
    const split_attrs *a = c->attrs;
    const ct_tensor *t = c->in[0];
    int64_t sum = 0, inner = inner_of(t, a->axis), outer = 1;
    for (int i = 0; i < a->axis; i++) outer *= t->shape[i];
    size_t es = ct_dtype_size(t->dtype), off = 0;
    bool view = outer == 1;
    for (int i = 0; i < a->n; i++) {
        ct__spec *s = &c->spec[i];
        s->dtype = t->dtype;
        s->rank = 0;
        for (int d = 0; d < t->rank; d++) {
            if (d != a->axis) s->shape[s->rank++] = t->shape[d];
            else if (!a->squeeze) s->shape[s->rank++] = a->sizes[i];
        }
        if ((t->offset + off) % 64) view = false;
        off += (size_t)(a->sizes[i] * inner) * es;
        sum += a->sizes[i];
    }
    if (sum != t->shape[a->axis])
        return ct__call_error(c, CT_ERR_INTERNAL, "split sizes add up to %lld, not %lld",
                              (long long)sum, (long long)t->shape[a->axis]);
    if (view) {
        off = 0;
        for (int i = 0; i < a->n; i++) {
            c->spec[i].alias = 0;
            c->spec[i].alias_offset = off;
            off += (size_t)(a->sizes[i] * inner) * es;
        }
    }
    return CT_OK;
}

static ct_status cpu_split(ct__call *c) {
    const split_attrs *a = c->attrs;
    ct_tensor *t = c->in[0];
    if (c->n_out == 0 || c->spec[0].alias >= 0) return CT_OK;
    size_t es = ct_dtype_size(t->dtype), len[CT__MAX_IO], rowbytes = 0;
    char *parts[CT__MAX_IO];
    int64_t inner = inner_of(t, a->axis);
    for (int i = 0; i < a->n; i++) {
        len[i] = (size_t)(a->sizes[i] * inner) * es;
        parts[i] = ct__data(c->out[i]);
        rowbytes += len[i];
    }
    run_segments(ct__data(t), parts, len, a->n, rowbytes, ct__nbytes(t), false, t->size);
    return CT_OK;
}

static ct_status split_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const split_attrs *a = c->attrs;
    if (a->squeeze) {
        dx[0] = ct_stack(c->n_out, dy, a->axis);
    } else if (c->n_out == 1) {
        dx[0] = ct_identity(dy[0]);
    } else {
        dx[0] = run_concat(c->n_out, dy, a->axis);
    }
    return dx[0] ? CT_OK : ct_last_status();
}

const ct__op ct__op_split = {.name = "SplitV", .infer = infer_split,
                             .kernel = {[CT_DEVICE_CPU] = cpu_split}, .grad = split_grad,
                             .flags = CT__OP_NATIVE_HALF};
const ct__op ct__op_unpack = {.name = "Unpack", .infer = infer_split,
                              .kernel = {[CT_DEVICE_CPU] = cpu_split}, .grad = split_grad,
                              .flags = CT__OP_NATIVE_HALF};

static ct_status run_split(const ct_tensor *t, const split_attrs *a, ct_tensor **out) {
    if (a->n == 0) return CT_OK;
    size_t size = offsetof(split_attrs, sizes) + (size_t)a->n * sizeof a->sizes[0];
    return ct__run(a->squeeze ? &ct__op_unpack : &ct__op_split,
                   a->squeeze ? "ct_unstack" : "ct_split", 1, &t, a, size, a->n, out, NULL);
}

/* Splits t along axis (normalised) into n parts of the given sizes (all
 * valid), in groups of at most CT__MAX_IO per op call. */
static ct_status split_many(const ct_tensor *t, int axis, int n, const int64_t *sizes,
                            bool squeeze, ct_tensor **out) {
    if (n <= CT__MAX_IO) {
        split_attrs a = {.axis = axis, .squeeze = squeeze, .n = n};
        memcpy(a.sizes, sizes, (size_t)n * sizeof *sizes);
        return run_split(t, &a, out);
    }
    int per = (n + CT__MAX_IO - 1) / CT__MAX_IO, ng = (n + per - 1) / per;
    split_attrs a = {.axis = axis, .n = ng};
    for (int g = 0; g < ng; g++) {
        a.sizes[g] = 0;
        for (int i = g * per; i < n && i < (g + 1) * per; i++) a.sizes[g] += sizes[i];
    }
    ct_tensor *groups[CT__MAX_IO];
    ct_status st = run_split(t, &a, groups);
    for (int g = 0; g < ng && !st; g++) {
        int lo = g * per, hi = lo + per < n ? lo + per : n;
        st = split_many(groups[g], axis, hi - lo, sizes + lo, squeeze, out + lo);
    }
    return st;
}

/* Common argument checks; sets *axis_out. */
static ct_status split_args(const char *api, const ct_tensor *t, int axis, ct_tensor **out,
                            int *axis_out) {
    if (!t)
        return ct_last_status() ? ct_last_status()
                                : ct__error(CT_ERR_INVALID_ARGUMENT, "%s: input is NULL", api);
    if (!out) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: out is NULL", api);
    ct__call c = {.api = api};
    if (t->rank == 0)
        return ct__call_error(&c, CT_ERR_INVALID_ARGUMENT, "cannot split a scalar %s",
                              CT__DESC(t));
    return ct__axis(&c, axis, t->rank, axis_out);
}

ct_status ct_split_sizes(const ct_tensor *t, int n, const int64_t *sizes, int axis,
                         ct_tensor **out) {
    const char *api = "ct_split";
    int ax;
    if (out && n > 0)
        for (int i = 0; i < n; i++) out[i] = NULL;
    ct_status st = split_args(api, t, axis, out, &ax);
    if (st) return st;
    ct__call c = {.api = api};
    if (n <= 0 || !sizes)
        return ct__call_error(&c, CT_ERR_INVALID_ARGUMENT,
                              "size_splits must have at least one entry, got %d", n);
    int64_t dim = t->shape[ax], known = 0;
    int infer_at = -1;
    for (int i = 0; i < n; i++) {
        if (sizes[i] == -1) {
            if (infer_at >= 0)
                return ct__call_error(&c, CT_ERR_INVALID_ARGUMENT,
                                      "size_splits may contain at most one -1 (entries %d and "
                                      "%d are -1)", infer_at, i);
            infer_at = i;
        } else if (sizes[i] < 0) {
            return ct__call_error(&c, CT_ERR_INVALID_ARGUMENT,
                                  "size_splits[%d] = %lld is negative (only one -1 is allowed)",
                                  i, (long long)sizes[i]);
        } else {
            known += sizes[i];
        }
    }
    if ((infer_at < 0 && known != dim) || (infer_at >= 0 && known > dim))
        return ct__call_error(&c, CT_ERR_INVALID_ARGUMENT,
                              "size_splits add up to %lld, which must %s the size %lld of axis "
                              "%d of %s", (long long)known,
                              infer_at < 0 ? "equal" : "not exceed", (long long)dim, ax,
                              CT__DESC(t));
    int64_t *sz = malloc((size_t)n * sizeof *sz);
    if (!sz) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
    for (int i = 0; i < n; i++) sz[i] = i == infer_at ? dim - known : sizes[i];
    st = split_many(t, ax, n, sz, false, out);
    free(sz);
    return st;
}

ct_status ct_split(const ct_tensor *t, int num, int axis, ct_tensor **out) {
    const char *api = "ct_split";
    int ax;
    if (out && num > 0)
        for (int i = 0; i < num; i++) out[i] = NULL;
    ct_status st = split_args(api, t, axis, out, &ax);
    if (st) return st;
    ct__call c = {.api = api};
    if (num <= 0)
        return ct__call_error(&c, CT_ERR_INVALID_ARGUMENT, "num_split must be positive, got %d",
                              num);
    int64_t dim = t->shape[ax];
    if (dim % num)
        return ct__call_error(&c, CT_ERR_INVALID_ARGUMENT,
                              "the number of splits %d must evenly divide the size %lld of "
                              "axis %d of %s", num, (long long)dim, ax, CT__DESC(t));
    int64_t *sz = malloc((size_t)num * sizeof *sz);
    if (!sz) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
    for (int i = 0; i < num; i++) sz[i] = dim / num;
    st = split_many(t, ax, num, sz, false, out);
    free(sz);
    return st;
}

ct_status ct_unstack(const ct_tensor *t, int axis, ct_tensor **out) {
    const char *api = "ct_unstack";
    int ax;
    ct_status st = split_args(api, t, axis, out, &ax);
    if (st) return st;
    int64_t dim = t->shape[ax];
    if (dim > 0x7fffffff)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: axis %d of %s has too many entries", api,
                         ax, CT__DESC(t));
    for (int64_t i = 0; i < dim; i++) out[i] = NULL;
    int64_t *sz = malloc((size_t)(dim ? dim : 1) * sizeof *sz);
    if (!sz) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
    for (int64_t i = 0; i < dim; i++) sz[i] = 1;
    st = split_many(t, ax, (int)dim, sz, true, out);
    free(sz);
    return st;
}

/* ---- stack: expand_dims views joined by ConcatV2 ----------------------------- */

ct_tensor *ct_stack(int n, ct_tensor *const *ts, int axis) {
    const char *api = "ct_stack";
    if (n <= 0 || !ts) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: needs at least one tensor, got %d", api, n);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!ts[i]) {
            if (!ct_last_status())
                ct__error(CT_ERR_INVALID_ARGUMENT, "%s: values[%d] is NULL", api, i);
            return NULL;
        }
    ct__call c = {.api = api};
    const ct_tensor *t0 = ts[0];
    int ax;
    if (ct__axis(&c, axis, t0->rank + 1, &ax)) return NULL;
    if (t0->rank == CT_MAX_RANK) {
        ct__call_error(&c, CT_ERR_INVALID_ARGUMENT, "values[0] %s already has the maximum rank %d",
                       CT__DESC(t0), CT_MAX_RANK);
        return NULL;
    }
    for (int i = 1; i < n; i++) {
        const ct_tensor *t = ts[i];
        bool same = t->rank == t0->rank && t->dtype == t0->dtype;
        for (int d = 0; same && d < t0->rank; d++) same = t->shape[d] == t0->shape[d];
        if (!same) {
            ct__call_error(&c, CT_ERR_INVALID_ARGUMENT,
                           "shapes and dtypes of all inputs must match: values[0] is %s, "
                           "values[%d] is %s", CT__DESC(t0), i, CT__DESC(t));
            return NULL;
        }
    }
    ct_tensor **ex = malloc((size_t)n * sizeof *ex);
    if (!ex) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
        return NULL;
    }
    ct_tensor *r = NULL;
    int i = 0;
    for (; i < n; i++)
        if (!(ex[i] = ct_expand_dims(ts[i], ax))) break;
    if (i == n) r = n == 1 ? ex[0] : ct_concat(n, ex, ax);
    free(ex);
    return r;
}
