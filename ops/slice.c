/*
 * tf.slice and numpy basic indexing (tf.Tensor.__getitem__ / tf.strided_slice).
 *
 * Both resolve their arguments, before the op runs, into one region of the
 * input: per input axis a first element, a step and a count. StridedSlice
 * copies that region out (its result shape may add size-1 axes for new
 * axes and drop the axes a single index removed: the data order is the same,
 * so those are only the shape it reports). A region that is contiguous in
 * the input becomes a view instead of a copy. StridedSliceGrad scatters a
 * region back into zeros of the input's shape; the two are each other's
 * gradients.
 */
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "ops/index.h"

typedef struct {
    int rank;                      /* of the sliced tensor                */
    int64_t shape[CT_MAX_RANK];    /* the sliced tensor's shape           */
    int64_t begin[CT_MAX_RANK];    /* first element taken on each axis    */
    int64_t stride[CT_MAX_RANK];   /* step (1 where count <= 1)           */
    int64_t count[CT_MAX_RANK];    /* elements taken on each axis         */
    int out_rank;                  /* the result, after new/removed axes  */
    int64_t out_shape[CT_MAX_RANK];
} ss_attrs;


static int64_t region_size(const ss_attrs *a) {
    int64_t n = 1;
    for (int i = 0; i < a->rank; i++) n *= a->count[i];
    return n;
}

static void full_strides(const ss_attrs *a, int64_t *st) {
    int64_t s = 1;
    for (int i = a->rank - 1; i >= 0; i--) {
        st[i] = s;
        s *= a->shape[i];
    }
}

/* True when the region is one contiguous run of the sliced tensor, starting
 * at element *first: leading axes take one element, then one axis takes a
 * unit-step run and every later axis is taken whole. */
static bool region_contiguous(const ss_attrs *a, int64_t *first) {
    int64_t st[CT_MAX_RANK], off = 0;
    full_strides(a, st);
    if (region_size(a) == 0) return false;
    int k = 0;
    while (k < a->rank && a->count[k] == 1) {
        off += a->begin[k] * st[k];
        k++;
    }
    if (k < a->rank) {
        if (a->stride[k] != 1) return false;
        off += a->begin[k] * st[k];
        for (int j = k + 1; j < a->rank; j++)
            if (a->count[j] != a->shape[j] || a->begin[j] != 0 ||
                (a->shape[j] > 1 && a->stride[j] != 1))
                return false;
    }
    *first = off;
    return true;
}

/* Moves the region between `full` (the sliced tensor's layout) and `dense`
 * (the region packed row-major): gather copies full -> dense, else dense ->
 * full. Trailing axes that are contiguous in both are merged into blocks
 * copied with memcpy; a block of one element is copied with a typed loop
 * along the innermost remaining axis. */
static void region_copy(char *full, char *dense, const ss_attrs *a, size_t es, bool gather) {
    int64_t st[CT_MAX_RANK], total = region_size(a);
    if (total == 0) return;
    full_strides(a, st);
    for (int i = 0; i < a->rank; i++) full += (size_t)(a->begin[i] * st[i]) * es;
    int64_t block = 1;
    int i = a->rank - 1;
    while (i >= 0 && a->count[i] == a->shape[i] && (a->shape[i] <= 1 || a->stride[i] == 1)) {
        block *= a->shape[i];
        i--;
    }
    if (i >= 0 && a->stride[i] == 1) block *= a->count[i--];
    int64_t n = i >= 0 ? a->count[i] : 1, step = i >= 0 ? a->stride[i] * st[i] : 0;
    int64_t rows = total / (n * block);
    int nt = ct__threads_for(total, 1);
    const int outer = i; /* axes [0, outer) index the rows */
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t row = 0; row < rows; row++) {
        int64_t rem = row, off = 0;
        for (int d = outer - 1; d >= 0; d--) {
            int64_t q = rem % a->count[d];
            rem /= a->count[d];
            off += q * a->stride[d] * st[d];
        }
        char *f = full + off * (int64_t)es, *dn = dense + row * n * block * (int64_t)es;
        if (block == 1) {
#define CT__RUN(T)                                                                   \
    do {                                                                             \
        T *fp = (T *)f, *dp = (T *)dn;                                               \
        if (gather && step == -1) /* reversal: a constant stride vectorises */      \
            for (int64_t j = 0; j < n; j++) dp[j] = fp[-j];                          \
        else if (gather)                                                             \
            for (int64_t j = 0; j < n; j++) dp[j] = fp[j * step];                    \
        else if (step == -1)                                                         \
            for (int64_t j = 0; j < n; j++) fp[-j] = dp[j];                          \
        else                                                                         \
            for (int64_t j = 0; j < n; j++) fp[j * step] = dp[j];                    \
    } while (0)
            switch (es) {
            case 1: CT__RUN(uint8_t); break;
            case 2: CT__RUN(uint16_t); break;
            case 4: CT__RUN(uint32_t); break;
            default: CT__RUN(uint64_t); break;
            }
#undef CT__RUN
        } else {
            size_t bytes = (size_t)block * es;
            for (int64_t j = 0; j < n; j++) {
                char *fj = f + j * step * (int64_t)es, *dj = dn + j * (int64_t)bytes;
                if (gather) memcpy(dj, fj, bytes);
                else memcpy(fj, dj, bytes);
            }
        }
    }
}

static ct_status check_attrs(ct__call *c, const ss_attrs *a, const ct_tensor *t, bool full) {
    bool ok = c->attrs_size == sizeof *a;
    if (ok && full) {
        ok = t->rank == a->rank;
        for (int i = 0; ok && i < a->rank; i++) ok = t->shape[i] == a->shape[i];
    } else if (ok) {
        ok = t->size == region_size(a) && ct__numel(a->out_rank, a->out_shape) == t->size;
    }
    if (!ok)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "the slice was resolved for another input shape than %s",
                              CT__DESC(t));
    return CT_OK;
}

static ct_status infer_ss(ct__call *c) {
    const ss_attrs *a = c->attrs;
    const ct_tensor *t = c->in[0];
    ct_status st = check_attrs(c, a, t, true);
    if (st) return st;
    ct__spec_set(&c->spec[0], t->dtype, a->out_rank, a->out_shape);
    int64_t first;
    if (region_contiguous(a, &first)) {
        c->spec[0].alias = 0;
        c->spec[0].alias_offset = (size_t)first * ct_dtype_size(t->dtype);
    }
    return CT_OK;
}

static ct_status infer_ss_grad(ct__call *c) {
    const ss_attrs *a = c->attrs;
    const ct_tensor *dy = c->in[0];
    ct_status st = check_attrs(c, a, dy, false);
    if (st) return st;
    ct__spec_set(&c->spec[0], dy->dtype, a->rank, a->shape);
    int64_t first;
    /* The region is the whole tensor in order: the gradient is dy itself. */
    if (region_size(a) == ct__numel(a->rank, a->shape) && region_contiguous(a, &first) &&
        first == 0)
        c->spec[0].alias = 0;
    return CT_OK;
}

static ct_status cpu_ss(ct__call *c) {
    if (c->spec[0].alias >= 0) return CT_OK;
    ct_tensor *t = c->in[0], *o = c->out[0];
    region_copy(ct__data(t), ct__data(o), c->attrs, ct_dtype_size(t->dtype), true);
    return CT_OK;
}

static ct_status cpu_ss_grad(ct__call *c) {
    if (c->spec[0].alias >= 0) return CT_OK;
    ct_tensor *dy = c->in[0], *o = c->out[0];
    memset(ct__data(o), 0, ct__nbytes(o));
    region_copy(ct__data(o), ct__data(dy), c->attrs, ct_dtype_size(dy->dtype), false);
    return CT_OK;
}

static ct_status ss_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx);
static ct_status ss_grad_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx);

static const ct__op op_strided_slice = {
    .name = "StridedSlice", .infer = infer_ss, .kernel = {[CT_DEVICE_CPU] = cpu_ss},
    .grad = ss_grad, .flags = CT__OP_NATIVE_HALF};
static const ct__op op_slice = {
    .name = "Slice", .infer = infer_ss, .kernel = {[CT_DEVICE_CPU] = cpu_ss},
    .grad = ss_grad, .flags = CT__OP_NATIVE_HALF};
static const ct__op op_strided_slice_grad = {
    .name = "StridedSliceGrad", .infer = infer_ss_grad,
    .kernel = {[CT_DEVICE_CPU] = cpu_ss_grad}, .grad = ss_grad_grad,
    .flags = CT__OP_NATIVE_HALF};

static ct_status ss_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct_tensor *g = dy[0];
    dx[0] = ct__run1(&op_strided_slice_grad, "StridedSliceGrad", 1, &g, c->attrs,
                     c->attrs_size);
    return ct__grad_status(dx, 1);
}

static ct_status ss_grad_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct_tensor *g = dy[0];
    dx[0] = ct__run1(&op_strided_slice, "StridedSlice", 1, &g, c->attrs, c->attrs_size);
    return ct__grad_status(dx, 1);
}

/* ---- tf.slice ------------------------------------------------------------- */

ct_tensor *ct_slice(const ct_tensor *t, const int64_t *begin, const int64_t *size) {
    const char *api = "ct_slice";
    if (!t) return ct__run1(&op_slice, api, 1, &t, NULL, 0);
    ct__call c = {.api = api};
    if (t->rank > 0 && (!begin || !size)) {
        ct__call_error(&c, CT_ERR_INVALID_ARGUMENT, "%s needs %d begin and size entries, got "
                       "NULL", CT__DESC(t), t->rank);
        return NULL;
    }
    ss_attrs a = {.rank = t->rank, .out_rank = t->rank};
    for (int i = 0; i < t->rank; i++) {
        int64_t dim = t->shape[i], b = begin[i], s = size[i];
        if (b < 0 || b > dim) {
            ct__call_error(&c, CT_ERR_INVALID_ARGUMENT,
                           "Expected begin[%d] in [0, %lld], but got %lld (input %s)", i,
                           (long long)dim, (long long)b, CT__DESC(t));
            return NULL;
        }
        if (s == -1) s = dim - b;
        if (s < 0 || s > dim - b) {
            ct__call_error(&c, CT_ERR_INVALID_ARGUMENT,
                           "Expected size[%d] in [0, %lld], but got %lld (input %s, begin "
                           "%lld)", i, (long long)(dim - b), (long long)size[i], CT__DESC(t),
                           (long long)b);
            return NULL;
        }
        a.shape[i] = dim;
        a.begin[i] = b;
        a.stride[i] = 1;
        a.count[i] = s;
        a.out_shape[i] = s;
    }
    return ct__run1(&op_slice, api, 1, &t, &a, sizeof a);
}

/* ---- numpy basic indexing --------------------------------------------------- */

/* The elements start:stop:step takes from an axis of size dim (numpy's rule:
 * negative bounds count from the end, then bounds clamp to the axis). */
static void resolve_range(const ct_index *ix, int64_t dim, int64_t *begin, int64_t *stride,
                          int64_t *count) {
    int64_t step = ix->step ? ix->step : 1;
    if (step == INT64_MIN) step = -INT64_MAX; /* takes at most one element either way */
    int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? dim : dim - 1;
    int64_t s, e;
    if (!ix->has_start) s = step > 0 ? 0 : dim - 1;
    else {
        s = ix->start < 0 ? ix->start + dim : ix->start;
        s = s < lo ? lo : s > hi ? hi : s;
    }
    if (!ix->has_stop) e = step > 0 ? dim : -1;
    else {
        e = ix->stop < 0 ? ix->stop + dim : ix->stop;
        e = e < lo ? lo : e > hi ? hi : e;
    }
    int64_t n = 0;
    if (step > 0 && e > s) n = (e - s - 1) / step + 1;
    else if (step < 0 && s > e) n = (s - e - 1) / -step + 1;
    *begin = n ? s : 0;
    *stride = n > 1 ? step : 1;
    *count = n;
}

ct_tensor *ct__strided_slice_named(const ct_tensor *t, int n, const ct_index *items,
                                   const char *api) {
    if (!t) return ct__run1(&op_strided_slice, api, 1, &t, NULL, 0);
    ct__call c = {.api = api};
    if (n < 0 || (n > 0 && !items)) {
        ct__call_error(&c, CT_ERR_INVALID_ARGUMENT, "%d index items with a %s array", n,
                       items ? "non-NULL" : "NULL");
        return NULL;
    }
    int n_ellipsis = 0, n_axes = 0;
    for (int k = 0; k < n; k++) {
        switch (items[k].kind) {
        case CT_IX_ELLIPSIS: n_ellipsis++; break;
        case CT_IX_RANGE:
        case CT_IX_INDEX: n_axes++; break;
        case CT_IX_NEWAXIS: break;
        default:
            ct__call_error(&c, CT_ERR_INVALID_ARGUMENT, "index item %d has an invalid kind %d",
                           k, (int)items[k].kind);
            return NULL;
        }
    }
    if (n_ellipsis > 1) {
        ct__call_error(&c, CT_ERR_INVALID_ARGUMENT,
                       "an index can only have a single ellipsis ('...'), got %d", n_ellipsis);
        return NULL;
    }
    if (n_axes > t->rank) {
        ct__call_error(&c, CT_ERR_INVALID_ARGUMENT,
                       "too many indices: Index out of range using input dim %d; input %s has "
                       "only %d dims", t->rank, CT__DESC(t), t->rank);
        return NULL;
    }
    ss_attrs a = {.rank = t->rank};
    if (t->rank) memcpy(a.shape, t->shape, (size_t)t->rank * sizeof *t->shape);
    int ax = 0;
    for (int k = 0; k <= n; k++) {
        /* The end of the list acts as a trailing ellipsis when there is none. */
        if (k == n && n_ellipsis) break;
        ct_index_kind kind = k < n ? items[k].kind : CT_IX_ELLIPSIS;
        int take = kind == CT_IX_ELLIPSIS ? t->rank - n_axes : kind == CT_IX_NEWAXIS ? 0 : 1;
        int adds = kind == CT_IX_ELLIPSIS ? take : kind == CT_IX_INDEX ? 0 : 1;
        if (a.out_rank + adds > CT_MAX_RANK) {
            ct__call_error(&c, CT_ERR_INVALID_ARGUMENT,
                           "indexing %s gives more than %d dimensions", CT__DESC(t),
                           CT_MAX_RANK);
            return NULL;
        }
        if (kind == CT_IX_NEWAXIS) {
            a.out_shape[a.out_rank++] = 1;
            continue;
        }
        if (kind == CT_IX_ELLIPSIS) {
            for (int j = 0; j < take; j++, ax++) {
                a.stride[ax] = 1;
                a.count[ax] = t->shape[ax];
                a.out_shape[a.out_rank++] = t->shape[ax];
            }
            continue;
        }
        int64_t dim = t->shape[ax];
        if (kind == CT_IX_INDEX) {
            int64_t i = items[k].start < 0 ? items[k].start + dim : items[k].start;
            if (i < 0 || i >= dim) {
                ct__call_error(&c, CT_ERR_OUT_OF_RANGE,
                               "slice index %lld of dimension %d out of bounds: %s has %lld "
                               "elements there (item %d)", (long long)items[k].start, ax,
                               CT__DESC(t), (long long)dim, k);
                return NULL;
            }
            a.begin[ax] = i;
            a.stride[ax] = 1;
            a.count[ax] = 1;
        } else {
            resolve_range(&items[k], dim, &a.begin[ax], &a.stride[ax], &a.count[ax]);
            a.out_shape[a.out_rank++] = a.count[ax];
        }
        ax++;
    }
    return ct__run1(&op_strided_slice, api, 1, &t, &a, sizeof a);
}

ct_tensor *ct_strided_slice(const ct_tensor *t, int n, const ct_index *items) {
    return ct__strided_slice_named(t, n, items, "ct_strided_slice");
}
