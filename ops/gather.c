/*
 * tf.gather and tf.gather_nd, with their gradients.
 *
 * Shape legend for Gather: params is viewed as [B, O, A, I] (batch axes,
 * the axes before `axis`, the gathered axis, the axes after it), indices as
 * [B, N]; the result is [B, O, N, I]. GatherV2Grad is the gradient: it adds
 * rows of dy back into zeros of params' shape (TF densifies the IndexedSlices
 * gradient with an unsorted segment sum, which is the same sum), and its own
 * gradient is a gather again.
 *
 * GatherNd views params as [B, P..., S] and indices as [B, N, K]: each of
 * the B*N index tuples selects a slice of S elements. Its gradient is the
 * scatter-add in ops/scatter.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "ops/index.h"

static inline int64_t index_at(const void *p, bool i64, int64_t i) {
    return i64 ? ((const int64_t *)p)[i] : (int64_t)((const int32_t *)p)[i];
}

/* "[1,0]": the position of flat element i in a tensor of the given shape
 * ("" for a scalar). */
static const char *position_str(int rank, const int64_t *shape, int64_t i, char *buf,
                                size_t cap) {
    int64_t idx[CT_MAX_RANK];
    for (int d = rank - 1; d >= 0; d--) {
        idx[d] = shape[d] ? i % shape[d] : 0;
        i = shape[d] ? i / shape[d] : 0;
    }
    size_t len = 0;
    buf[0] = 0;
    for (int d = 0; d < rank && len < cap; d++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld%s", d ? "," : "[",
                                (long long)idx[d], d == rank - 1 ? "]" : "");
    return buf;
}

static ct_status need_index_dtype(const ct__call *c, const ct_tensor *indices) {
    if (indices->dtype == CT_INT32 || indices->dtype == CT_INT64) return CT_OK;
    return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "indices must be int32 or int64, got %s",
                          CT__DESC(indices));
}

static int64_t prod(const int64_t *s, int from, int to) {
    int64_t n = 1;
    for (int i = from; i < to; i++) n *= s[i];
    return n;
}

/* ---- Gather ------------------------------------------------------------------- */

typedef struct {
    int axis, batch_dims;          /* as given (may be negative)          */
    int rank;                      /* GatherV2Grad: params' rank, shape   */
    int64_t shape[CT_MAX_RANK];
} gather_attrs;

/* TF's checks (gather_op.cc) and the normalised axis and batch_dims. */
static ct_status gather_dims(const ct__call *c, int prank, const int64_t *pshape,
                             const ct_tensor *indices, int *axis_out, int *bd_out) {
    const gather_attrs *a = c->attrs;
    int ir = indices->rank, bd = a->batch_dims, axis = a->axis;
    if (prank < 1)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "params must be at least 1 dimensional, got %s",
                              CT__SHAPE(prank, pshape));
    if (axis < -prank || axis >= prank)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "Expected axis in the range [%d, %d), but got %d (params %s)",
                              -prank, prank, axis, CT__SHAPE(prank, pshape));
    if (axis < 0) axis += prank;
    if (bd != 0) {
        if (bd < -ir || bd > ir)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "Expected batch_dims in the range [%d, %d], but got %d "
                                  "(indices %s)", -ir, ir, bd, CT__DESC(indices));
        if (bd < 0) bd += ir;
        if (bd >= prank)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "batch_dims (%d) must be less than rank(params) (%d)", bd,
                                  prank);
        if (axis < bd)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "batch_dims (%d) must be less than or equal to axis (%d)", bd,
                                  axis);
        for (int i = 0; i < bd; i++)
            if (pshape[i] != indices->shape[i])
                return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                      "params.shape[%d]: %lld should be equal to "
                                      "indices.shape[%d]: %lld (params %s, indices %s)", i,
                                      (long long)pshape[i], i, (long long)indices->shape[i],
                                      CT__SHAPE(prank, pshape), CT__DESC(indices));
    }
    if (prank - 1 + ir - bd > CT_MAX_RANK)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "the result of gathering %s with indices %s would have rank %d; "
                              "at most %d", CT__SHAPE(prank, pshape), CT__DESC(indices),
                              prank - 1 + ir - bd, CT_MAX_RANK);
    *axis_out = axis;
    *bd_out = bd;
    return CT_OK;
}

static int gather_shape(int prank, const int64_t *pshape, const ct_tensor *indices, int axis,
                        int bd, int64_t *out) {
    int r = 0;
    for (int i = 0; i < axis; i++) out[r++] = pshape[i];
    for (int i = bd; i < indices->rank; i++) out[r++] = indices->shape[i];
    for (int i = axis + 1; i < prank; i++) out[r++] = pshape[i];
    return r;
}

/* True when some index is outside [0, limit): a branch-free pass the
 * compiler vectorises; the slow search for the culprit runs only then. */
#define ANY_BAD(T)                                                                   \
    do {                                                                             \
        const T *q = p;                                                              \
        for (int64_t j = 0; j < n; j++) bad |= (q[j] < 0) | (q[j] >= limit);         \
    } while (0)
static bool any_bad(const void *p, bool i64, int64_t n, int64_t limit) {
    int bad = 0;
    if (i64) ANY_BAD(int64_t);
    else ANY_BAD(int32_t);
    return bad;
}
#undef ANY_BAD

/* Every index in [0, limit), else an error naming the first bad one as TF. */
static ct_status check_indices(const ct__call *c, const ct_tensor *indices, int64_t limit) {
    const void *p = ct__data(indices);
    bool i64 = indices->dtype == CT_INT64;
    if (!any_bad(p, i64, indices->size, limit)) return CT_OK;
    for (int64_t j = 0; j < indices->size; j++) {
        int64_t v = index_at(p, i64, j);
        if (v < 0 || v >= limit)
            return ct__call_error(c, CT_ERR_OUT_OF_RANGE, "indices%s = %lld is not in [0, %lld)",
                                  position_str(indices->rank, indices->shape, j,
                                               (char[160]){0}, 160),
                                  (long long)v, (long long)limit);
    }
    return CT_OK;
}

static ct_status infer_gather(ct__call *c) {
    const ct_tensor *params = c->in[0], *indices = c->in[1];
    int axis, bd;
    ct_status st = need_index_dtype(c, indices);
    if (!st) st = gather_dims(c, params->rank, params->shape, indices, &axis, &bd);
    if (st) return st;
    int64_t shape[CT_MAX_RANK];
    int r = gather_shape(params->rank, params->shape, indices, axis, bd, shape);
    ct__spec_set(&c->spec[0], params->dtype, r, shape);
    return CT_OK;
}

/* d[j] = rows[ix[j]] for j < n, rows of I elements of es bytes. */
#define GATHER_RUN(IT, T)                                                            \
    do {                                                                             \
        const IT *ix = ip;                                                           \
        T *d = (T *)dst;                                                             \
        const T *s = (const T *)src;                                                 \
        for (int64_t j = 0; j < n; j++) d[j] = s[ix[j]];                             \
    } while (0)
#define GATHER_SIZES(IT)                                                             \
    switch (I == 1 ? es : 0) {                                                       \
    case 1: GATHER_RUN(IT, uint8_t); break;                                          \
    case 2: GATHER_RUN(IT, uint16_t); break;                                         \
    case 4: GATHER_RUN(IT, uint32_t); break;                                         \
    case 8: GATHER_RUN(IT, uint64_t); break;                                         \
    default: {                                                                       \
        const IT *ix = ip;                                                           \
        size_t bytes = (size_t)I * es;                                               \
        for (int64_t j = 0; j < n; j++)                                              \
            memcpy(dst + (size_t)j * bytes, src + (size_t)ix[j] * bytes, bytes);     \
    }                                                                                \
    }
static void gather_run(char *dst, const char *src, const void *ip, bool i64, int64_t n,
                       int64_t I, size_t es) {
    if (i64) GATHER_SIZES(int64_t)
    else GATHER_SIZES(int32_t)
}
#undef GATHER_SIZES
#undef GATHER_RUN

static ct_status cpu_gather(ct__call *c) {
    const ct_tensor *params = c->in[0], *indices = c->in[1];
    ct_tensor *o = c->out[0];
    int axis, bd;
    gather_dims(c, params->rank, params->shape, indices, &axis, &bd);
    const int64_t *ps = params->shape;
    int64_t O = prod(ps, bd, axis), A = ps[axis], I = prod(ps, axis + 1, params->rank),
            N = prod(indices->shape, bd, indices->rank);
    ct_status st = check_indices(c, indices, A);
    if (st || o->size == 0) return st;
    size_t es = ct_dtype_size(o->dtype), isz = ct_dtype_size(indices->dtype);
    const char *src = ct__data(params), *ip = ct__data(indices);
    char *dst = ct__data(o);
    bool i64 = indices->dtype == CT_INT64;
    int64_t rows = o->size / I; /* B * O * N rows of I elements */
    int nt = ct__threads_for(o->size, 1);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int t = omp_get_thread_num(), k = omp_get_num_threads();
        int64_t lo = rows * t / k, hi = rows * (t + 1) / k;
        /* Runs of rows that share a (b, o) block: one index row each. */
        for (int64_t r = lo; r < hi;) {
            int64_t bo = r / N, n = r % N, end = (bo + 1) * N < hi ? (bo + 1) * N : hi;
            int64_t b = bo / O;
            gather_run(dst + (size_t)(r * I) * es, src + (size_t)(bo * A * I) * es,
                       ip + (size_t)(b * N + n) * isz, i64, end - r, I, es);
            r = end;
        }
    }
    return CT_OK;
}


static ct_status infer_gather_grad(ct__call *c) {
    const gather_attrs *a = c->attrs;
    const ct_tensor *dy = c->in[0], *indices = c->in[1];
    int axis, bd;
    ct_status st = need_index_dtype(c, indices);
    if (!st) st = gather_dims(c, a->rank, a->shape, indices, &axis, &bd);
    if (st) return st;
    int64_t shape[CT_MAX_RANK];
    int r = gather_shape(a->rank, a->shape, indices, axis, bd, shape);
    bool ok = r == dy->rank;
    for (int i = 0; ok && i < r; i++) ok = shape[i] == dy->shape[i];
    if (!ok)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "gradient %s does not match the gather result %s", CT__DESC(dy),
                              CT__SHAPE(r, shape));
    ct__spec_set(&c->spec[0], dy->dtype, a->rank, a->shape);
    return CT_OK;
}

/* rows[ix[j]] += d[j] for j < n (I == 1), in the gradient's dtype. */
#define ADD_RUN(IT, T)                                                               \
    do {                                                                             \
        const IT *ix = ip;                                                           \
        T *o = (T *)out;                                                             \
        const T *s = (const T *)src;                                                 \
        for (int64_t j = 0; j < n; j++) o[ix[j]] += s[j];                            \
    } while (0)
#define ADD_TYPES(IT)                                                                \
    switch (dt) {                                                                    \
    case CT_FLOAT32: ADD_RUN(IT, float); break;                                      \
    case CT_FLOAT64: ADD_RUN(IT, double); break;                                     \
    default: {                                                                       \
        const IT *ix = ip;                                                           \
        for (int64_t j = 0; j < n; j++)                                              \
            ct__add_run(out + (size_t)ix[j] * es, src + (size_t)j * es, 1, dt);          \
    }                                                                                \
    }
static void scatter_add_scalars(char *out, const char *src, const void *ip, bool i64,
                                int64_t n, ct_dtype dt, size_t es) {
    if (i64) ADD_TYPES(int64_t)
    else ADD_TYPES(int32_t)
}
#undef ADD_TYPES
#undef ADD_RUN

static ct_status cpu_gather_grad(ct__call *c) {
    const gather_attrs *a = c->attrs;
    const ct_tensor *dy = c->in[0], *indices = c->in[1];
    ct_tensor *o = c->out[0];
    int axis, bd;
    gather_dims(c, a->rank, a->shape, indices, &axis, &bd);
    const int64_t *ps = a->shape;
    int64_t B = prod(ps, 0, bd), O = prod(ps, bd, axis), A = ps[axis],
            I = prod(ps, axis + 1, a->rank), N = prod(indices->shape, bd, indices->rank);
    ct_status st = check_indices(c, indices, A);
    if (st) return st;
    memset(ct__data(o), 0, ct__nbytes(o));
    if (o->size == 0 || dy->size == 0) return CT_OK;
    size_t es = ct_dtype_size(o->dtype), isz = ct_dtype_size(indices->dtype);
    const char *src = ct__data(dy), *ip = ct__data(indices);
    char *dst = ct__data(o);
    bool i64 = indices->dtype == CT_INT64;
    int64_t BO = B * O;
    int nt = ct__threads_for(dy->size, 1);
    /* Rows with the same index add into the same output row, so threads
     * split the (b, o) blocks when there are enough, else the columns. */
    bool by_block = BO >= nt;
    if (!by_block && I < 64) nt = 1;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int t = omp_get_thread_num(), k = omp_get_num_threads();
        int64_t b0 = by_block ? BO * t / k : 0, b1 = by_block ? BO * (t + 1) / k : BO;
        int64_t c0 = by_block ? 0 : I * t / k, c1 = by_block ? I : I * (t + 1) / k;
        for (int64_t bo = b0; bo < b1; bo++) {
            int64_t b = bo / O;
            const char *ib = ip + (size_t)(b * N) * isz;
            if (I == 1) {
                scatter_add_scalars(dst + (size_t)(bo * A) * es, src + (size_t)(bo * N) * es, ib,
                                    i64, N, o->dtype, es);
                continue;
            }
            for (int64_t n = 0; n < N; n++) {
                int64_t v = index_at(ib, i64, n);
                ct__add_run(dst + (size_t)((bo * A + v) * I + c0) * es,
                        src + (size_t)((bo * N + n) * I + c0) * es, c1 - c0, o->dtype);
            }
        }
    }
    return CT_OK;
}

static ct_status gather_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx);
static ct_status gather_grad_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx);

static const ct__op op_gather = {
    .name = "GatherV2", .infer = infer_gather, .kernel = {[CT_DEVICE_CPU] = cpu_gather},
    .grad = gather_grad, .flags = CT__OP_NATIVE_HALF};
static const ct__op op_gather_grad = {
    .name = "GatherV2Grad", .infer = infer_gather_grad,
    .kernel = {[CT_DEVICE_CPU] = cpu_gather_grad}, .grad = gather_grad_grad};

static ct_status gather_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct_tensor *params = c->in[0];
    gather_attrs a = *(const gather_attrs *)c->attrs;
    a.rank = params->rank;
    memcpy(a.shape, params->shape, sizeof a.shape);
    const ct_tensor *in[2] = {dy[0], c->in[1]};
    dx[0] = ct__run1(&op_gather_grad, "GatherV2Grad", 2, in, &a, sizeof a);
    dx[1] = NULL;
    return dx[0] ? CT_OK : ct_last_status();
}

static ct_status gather_grad_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const gather_attrs *a = c->attrs;
    dx[0] = ct_gather(dy[0], c->in[1], a->axis, a->batch_dims);
    dx[1] = NULL;
    return dx[0] ? CT_OK : ct_last_status();
}

ct_tensor *ct_gather(const ct_tensor *params, const ct_tensor *indices, int axis,
                     int batch_dims) {
    gather_attrs a = {.axis = axis, .batch_dims = batch_dims};
    const ct_tensor *in[2] = {params, indices};
    return ct__run1(&op_gather, "ct_gather", 2, in, &a, sizeof a);
}

/* ---- GatherNd ----------------------------------------------------------------- */

typedef struct {
    int batch_dims;
} gather_nd_attrs;

static ct_status infer_gather_nd(ct__call *c) {
    const gather_nd_attrs *a = c->attrs;
    const ct_tensor *params = c->in[0], *indices = c->in[1];
    int bd = a->batch_dims, ir = indices->rank;
    ct_status st = need_index_dtype(c, indices);
    if (st) return st;
    if (bd < 0)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "batch_dims must be non-negative, "
                              "got %d", bd);
    if (ir < 1)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "indices must be at least a vector, got %s", CT__DESC(indices));
    if (bd >= ir)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "batch_dims (%d) must be less than rank(indices) (%d)", bd, ir);
    if (bd > params->rank)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "batch_dims (%d) must be at most rank(params) (%d)", bd,
                              params->rank);
    for (int i = 0; i < bd; i++)
        if (params->shape[i] != indices->shape[i])
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "params.shape[%d]: %lld should be equal to indices.shape[%d]: "
                                  "%lld (params %s, indices %s)", i, (long long)params->shape[i],
                                  i, (long long)indices->shape[i], CT__DESC(params),
                                  CT__DESC(indices));
    int64_t K = indices->shape[ir - 1];
    if (K > params->rank - bd)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "index innermost dimension length must be <= params rank; saw: "
                              "%lld vs. %d (params %s, indices %s, batch_dims %d)", (long long)K,
                              params->rank - bd, CT__DESC(params), CT__DESC(indices), bd);
    int64_t shape[CT_MAX_RANK];
    int r = 0;
    if (ir - 1 + params->rank - bd - (int)K > CT_MAX_RANK)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "the result would have more than %d "
                              "dimensions", CT_MAX_RANK);
    for (int i = 0; i < ir - 1; i++) shape[r++] = indices->shape[i];
    for (int i = bd + (int)K; i < params->rank; i++) shape[r++] = params->shape[i];
    ct__spec_set(&c->spec[0], params->dtype, r, shape);
    return CT_OK;
}

/* Offsets (in slices of S elements within params, batch included) of every
 * index tuple, or an error naming the first that does not fit `what`
 * ("param shape" for gathers, "shape" for scatters, as TF says). Shared
 * with ops/scatter.c. */
ct_status ct__nd_offsets(const ct__call *c, const ct_tensor *indices, int bd, int prank,
                         const int64_t *pshape, const char *what, int64_t *offs) {
    int ir = indices->rank;
    int64_t K = indices->shape[ir - 1];
    int64_t B = prod(pshape, 0, bd), N = prod(indices->shape, bd, ir - 1);
    int64_t per_batch = prod(pshape, bd, bd + (int)K); /* slices per batch */
    int64_t str[CT_MAX_RANK];
    for (int64_t k = K - 1, s = 1; k >= 0; k--) {
        str[k] = s;
        s *= pshape[bd + k];
    }
    const void *p = ct__data(indices);
    bool i64 = indices->dtype == CT_INT64;
    for (int64_t j = 0; j < B * N; j++) {
        int64_t off = (j / (N ? N : 1)) * per_batch;
        for (int k = 0; k < K; k++) {
            int64_t v = index_at(p, i64, j * K + k);
            if (v < 0 || v >= pshape[bd + k]) {
                char tuple[160];
                size_t len = 0;
                tuple[0] = 0;
                for (int q = 0; q < K && len < sizeof tuple; q++)
                    len += (size_t)snprintf(tuple + len, sizeof tuple - len, "%s%lld",
                                            q ? ", " : "", (long long)index_at(p, i64, j * K + q));
                return ct__call_error(c, CT_ERR_OUT_OF_RANGE,
                                      "indices%s = [%s] does not index into %s %s",
                                      position_str(ir - 1, indices->shape, j, (char[160]){0}, 160),
                                      tuple, what, CT__SHAPE(prank, pshape));
            }
            off += v * str[k];
        }
        offs[j] = off;
    }
    return CT_OK;
}

static ct_status cpu_gather_nd(ct__call *c) {
    const gather_nd_attrs *a = c->attrs;
    const ct_tensor *params = c->in[0], *indices = c->in[1];
    ct_tensor *o = c->out[0];
    int bd = a->batch_dims, ir = indices->rank;
    int64_t K = indices->shape[ir - 1];
    int64_t rows = prod(indices->shape, 0, ir - 1);
    int64_t S = prod(params->shape, bd + (int)K, params->rank);
    int64_t *offs = malloc((size_t)(rows ? rows : 1) * sizeof *offs);
    if (!offs) return ct__call_error(c, CT_ERR_OUT_OF_MEMORY, "out of host memory");
    ct_status st = ct__nd_offsets(c, indices, bd, params->rank, params->shape, "param shape", offs);
    if (!st && o->size) {
        size_t es = ct_dtype_size(o->dtype), bytes = (size_t)S * es;
        const char *src = ct__data(params);
        char *dst = ct__data(o);
        int nt = ct__threads_for(o->size, 1);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (int64_t j = 0; j < rows; j++)
            memcpy(dst + (size_t)j * bytes, src + (size_t)offs[j] * bytes, bytes);
    }
    free(offs);
    return st;
}

static ct_status gather_nd_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const gather_nd_attrs *a = c->attrs;
    const ct_tensor *params = c->in[0];
    dx[0] = ct__scatter_nd_batch(c->in[1], dy[0], a->batch_dims, params->rank, params->shape);
    dx[1] = NULL;
    return dx[0] ? CT_OK : ct_last_status();
}

static const ct__op op_gather_nd = {
    .name = "GatherNd", .infer = infer_gather_nd, .kernel = {[CT_DEVICE_CPU] = cpu_gather_nd},
    .grad = gather_nd_grad, .flags = CT__OP_NATIVE_HALF};

ct_tensor *ct_gather_nd(const ct_tensor *params, const ct_tensor *indices, int batch_dims) {
    gather_nd_attrs a = {.batch_dims = batch_dims};
    const ct_tensor *in[2] = {params, indices};
    return ct__run1(&op_gather_nd, "ct_gather_nd", 2, in, &a, sizeof a);
}
