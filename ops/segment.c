/*
 * Segment reductions: tf.math.unsorted_segment_sum / max / min / mean and
 * tf.math.segment_sum, with TF's gradients (math_grad.py).
 *
 * Shape legend: segment_ids (any rank k) is a prefix of data's shape, so
 * data is viewed as [N, I] (N = ids' element count, I = the product of
 * data's remaining dims) and the result as [S, I] with S = num_segments
 * (SegmentSum: the last id + 1). Row i of data goes into row ids[i]; a
 * negative id drops the row (unsorted ops only, as TF).
 *
 * The CPU kernel splits the S output rows among threads, and every thread
 * scans all N ids and reduces the rows that land in its range (TF's
 * scheme): no atomics, and the summation order is the ids' order, so the
 * result does not depend on the thread count.
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "ops/op.h"

typedef enum { SEG_SUM, SEG_MAX, SEG_MIN } seg_code;

typedef struct {
    int64_t num_segments; /* unsorted ops; SegmentSum derives it from ids */
} seg_attrs;

static inline int64_t id_at(const void *p, bool i64, int64_t i) {
    return i64 ? ((const int64_t *)p)[i] : (int64_t)((const int32_t *)p)[i];
}

/* "[1,0]": where flat element i sits in a tensor of ids' shape. */
static const char *id_pos(const ct_tensor *ids, int64_t i, char *buf, size_t cap) {
    int64_t idx[CT_MAX_RANK];
    for (int d = ids->rank - 1; d >= 0; d--) {
        idx[d] = ids->shape[d] ? i % ids->shape[d] : 0;
        i = ids->shape[d] ? i / ids->shape[d] : 0;
    }
    size_t len = 0;
    buf[0] = 0;
    for (int d = 0; d < ids->rank && len < cap; d++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld%s", d ? "," : "[",
                                (long long)idx[d], d == ids->rank - 1 ? "]" : "");
    return buf;
}

static ct_status check_common(const ct__call *c, const ct_tensor *data, const ct_tensor *ids) {
    if (data->dtype == CT_BOOL)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "expected a numeric tensor, got %s",
                              CT__DESC(data));
    if (ids->dtype != CT_INT32 && ids->dtype != CT_INT64)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "segment_ids must be int32 or int64, got %s", CT__DESC(ids));
    return CT_OK;
}

/* ---- inference ------------------------------------------------------------------- */

static ct_status infer_unsorted(ct__call *c) {
    const seg_attrs *a = c->attrs;
    const ct_tensor *data = c->in[0], *ids = c->in[1];
    ct_status st = check_common(c, data, ids);
    if (st) return st;
    bool prefix = ids->rank <= data->rank;
    for (int i = 0; prefix && i < ids->rank; i++) prefix = ids->shape[i] == data->shape[i];
    if (!prefix)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "data.shape = %s does not start with segment_ids.shape = %s",
                              CT__SHAPE(data->rank, data->shape), CT__SHAPE(ids->rank, ids->shape));
    if (a->num_segments < 0)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "num_segments must be >= 0, got %lld",
                              (long long)a->num_segments);
    int r = data->rank - ids->rank + 1;
    if (r > CT_MAX_RANK)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "the result for data %s and scalar segment_ids would have rank %d; "
                              "at most %d", CT__DESC(data), r, CT_MAX_RANK);
    int64_t shape[CT_MAX_RANK];
    shape[0] = a->num_segments;
    for (int i = ids->rank; i < data->rank; i++) shape[i - ids->rank + 1] = data->shape[i];
    ct__spec_set(&c->spec[0], data->dtype, r, shape);
    return CT_OK;
}

/* SegmentSum: the output size comes from the ids, which TF validates here
 * (sorted, non-negative) before anything is allocated. */
static ct_status infer_sorted(ct__call *c) {
    const ct_tensor *data = c->in[0], *ids = c->in[1];
    ct_status st = check_common(c, data, ids);
    if (st) return st;
    if (ids->rank != 1)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "segment_ids should be a vector, got %s",
                              CT__DESC(ids));
    if (data->rank < 1 || data->shape[0] != ids->shape[0])
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "segment_ids should be the same size as dimension 0 of input: "
                              "data %s, segment_ids %s", CT__DESC(data), CT__DESC(ids));
    int64_t n = ids->size, rows = 0;
    if (n > 0) {
        int64_t *v = malloc((size_t)n * sizeof *v);
        if (!v) return ct__call_error(c, CT_ERR_OUT_OF_MEMORY, "out of host memory");
        st = ct_tensor_read(ids, CT_INT64, v, n);
        for (int64_t i = 0; !st && i < n; i++) {
            if (v[i] < 0)
                st = ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                    "segment ids must be >= 0: segment_ids[%lld] = %lld",
                                    (long long)i, (long long)v[i]);
            else if (i > 0 && v[i] < v[i - 1])
                st = ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                    "segment ids are not increasing: segment_ids[%lld] = %lld "
                                    "after %lld (use ct_unsorted_segment_sum)", (long long)i,
                                    (long long)v[i], (long long)v[i - 1]);
        }
        if (!st) rows = v[n - 1] + 1;
        free(v);
        if (st) return st;
    }
    int64_t shape[CT_MAX_RANK];
    memcpy(shape, data->shape, (size_t)data->rank * sizeof *shape);
    shape[0] = rows;
    ct__spec_set(&c->spec[0], data->dtype, data->rank, shape);
    return CT_OK;
}

/* ---- CPU kernel ------------------------------------------------------------------ */

/* out[S, I] = init; out[ids[i]] op= data[i] for ids[i] in [lo, hi). */
#define SEG_LOOP(T, OP, INIT)                                                              \
    do {                                                                                   \
        const T *d = dp;                                                                   \
        T *o = op_;                                                                        \
        _Pragma("omp parallel num_threads(nt) if (nt > 1)")                                \
        {                                                                                  \
            int th = omp_get_thread_num(), nth = omp_get_num_threads();                    \
            int64_t lo = S * th / nth, hi = S * (th + 1) / nth;                            \
            for (int64_t j = lo * I; j < hi * I; j++) o[j] = (INIT);                       \
            for (int64_t i = 0; i < N; i++) {                                              \
                int64_t s = id_at(ip, i64, i);                                             \
                if (s < lo || s >= hi) continue;                                           \
                const T *src = d + i * I;                                                  \
                T *dst = o + s * I;                                                        \
                for (int64_t k = 0; k < I; k++) OP;                                        \
            }                                                                              \
        }                                                                                  \
    } while (0)

/* The reductions as TF's CPU functors compute them: Eigen's cwiseMax(data,
 * out) is (data < out ? out : data), so a NaN row wins and a later number
 * replaces a NaN; min likewise. Empty segments hold 0, lowest(), max(). */
#define SEG_OPS(T, LOWEST, HIGHEST)                                                        \
    switch (code) {                                                                        \
    case SEG_SUM: SEG_LOOP(T, dst[k] += src[k], (T)0); break;                              \
    case SEG_MAX: SEG_LOOP(T, dst[k] = src[k] < dst[k] ? dst[k] : src[k], (T)(LOWEST)); break; \
    case SEG_MIN: SEG_LOOP(T, dst[k] = dst[k] < src[k] ? dst[k] : src[k], (T)(HIGHEST)); break; \
    }

static void seg_run(seg_code code, ct_dtype dt, const void *dp, const void *ip, bool i64,
                    void *op_, int64_t N, int64_t I, int64_t S, int nt, float lo32,
                    float hi32) {
    switch (dt) {
    case CT_FLOAT32: SEG_OPS(float, lo32, hi32) break;
    case CT_FLOAT64: SEG_OPS(double, -DBL_MAX, DBL_MAX) break;
    case CT_INT32: SEG_OPS(int32_t, INT32_MIN, INT32_MAX) break;
    case CT_INT64: SEG_OPS(int64_t, INT64_MIN, INT64_MAX) break;
    case CT_UINT8: SEG_OPS(uint8_t, 0, UINT8_MAX) break;
    default: break;
    }
}

static ct_status cpu_segment(ct__call *c) {
    ct_tensor *data = c->in[0], *ids = c->in[1], *out = c->out[0];
    int64_t N = ids->size, S = out->shape[0];
    int64_t I = 1;
    for (int d = ids->rank; d < data->rank; d++) I *= data->shape[d];
    const void *ip = ct__data(ids);
    bool i64 = ids->dtype == CT_INT64;
    /* Out-of-range ids are an error before anything is written (TF checks
     * them all first too). Negative ids are dropped. */
    for (int64_t i = 0; i < N; i++) {
        int64_t s = id_at(ip, i64, i);
        if (s >= S) {
            char pos[96];
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "segment_ids%s = %lld is out of range [0, %lld)",
                                  id_pos(ids, i, pos, sizeof pos), (long long)s, (long long)S);
        }
    }
    seg_code code = (seg_code)c->op->code;
    int nt = ct__threads_for(N * I + S * I, 1);
    if (nt > S) nt = S > 0 ? (int)S : 1;
    ct_dtype dt = data->dtype;
    if (dt != CT_FLOAT16 && dt != CT_BFLOAT16) {
        seg_run(code, dt, ct__data(data), ip, i64, ct__data(out), N, I, S, nt, -FLT_MAX,
                FLT_MAX);
        return CT_OK;
    }
    /* 16-bit floats: reduce in float32 with the 16-bit type's own extremes
     * for empty segments (float32's would round to infinity). */
    float big = dt == CT_FLOAT16 ? 65504.0f : 3.38953139e38f;
    float *d32 = malloc((size_t)(N * I > 0 ? N * I : 1) * sizeof *d32);
    float *o32 = malloc((size_t)(S * I > 0 ? S * I : 1) * sizeof *o32);
    if (!d32 || !o32) {
        free(d32);
        free(o32);
        return ct__call_error(c, CT_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    ct__convert(ct__data(data), dt, d32, CT_FLOAT32, N * I);
    seg_run(code, CT_FLOAT32, d32, ip, i64, o32, N, I, S, nt, -big, big);
    ct__convert(o32, CT_FLOAT32, ct__data(out), dt, S * I);
    free(d32);
    free(o32);
    return CT_OK;
}

/* ---- gradients ------------------------------------------------------------------- */

/* TF's _GatherDropNegatives: params gathered at max(ids, 0), with zeros
 * where the id is negative. is_positive is returned (reshaped to
 * broadcast against the result) for the min / max gradient. */
static ct_tensor *gather_drop_negatives(ct_tensor *params, const ct_tensor *ids,
                                        ct_tensor **is_positive_out) {
    ct_tensor *zero = ct_zeros_like(ids);
    ct_tensor *clipped = ct_maximum(ids, zero);
    ct_tensor *gathered = ct_gather(params, clipped, 0, 0);
    if (!gathered) return NULL;
    int64_t shape[CT_MAX_RANK];
    int r = gathered->rank;
    for (int i = 0; i < r; i++) shape[i] = i < ids->rank ? ids->shape[i] : 1;
    ct_tensor *pos = ct_reshape(ct_greater_equal(ids, zero), r, shape);
    if (is_positive_out) *is_positive_out = pos;
    return ct_where(pos, gathered, ct_zeros_like(gathered));
}

static ct_status unsorted_sum_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    dx[0] = gather_drop_negatives(dy[0], c->in[1], NULL);
    return ct__grad_status(dx, 1);
}

static ct_status sorted_sum_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    dx[0] = ct_gather(dy[0], c->in[1], 0, 0);
    return ct__grad_status(dx, 1);
}

/* TF's _UnsortedSegmentMinOrMaxGrad: dy is shared equally among the rows
 * that attain their segment's extreme. */
static ct_status unsorted_minmax_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const seg_attrs *a = c->attrs;
    ct_tensor *data = c->in[0], *ids = c->in[1];
    ct_tensor *pos = NULL;
    ct_tensor *gathered_out = gather_drop_negatives(c->out[0], ids, &pos);
    ct_tensor *sel = ct_logical_and(ct_equal(data, gathered_out), pos);
    ct_tensor *num = ct_unsorted_segment_sum(ct_cast(sel, dy[0]->dtype), ids, a->num_segments);
    ct_tensor *weighted = ct_divide(dy[0], num);
    ct_tensor *g = gather_drop_negatives(weighted, ids, NULL);
    dx[0] = g ? ct_where(sel, g, ct_zeros_like(g)) : NULL;
    return ct__grad_status(dx, 1);
}

#define SEG_OP(var, tfname, inferfn, codev, gradfn)                                        \
    static const ct__op var = {.name = tfname, .infer = inferfn,                           \
                               .kernel = {[CT_DEVICE_CPU] = cpu_segment}, .grad = gradfn,  \
                               .flags = CT__OP_NATIVE_HALF, .code = codev};
SEG_OP(op_unsorted_sum, "UnsortedSegmentSum", infer_unsorted, SEG_SUM, unsorted_sum_grad)
SEG_OP(op_unsorted_max, "UnsortedSegmentMax", infer_unsorted, SEG_MAX, unsorted_minmax_grad)
SEG_OP(op_unsorted_min, "UnsortedSegmentMin", infer_unsorted, SEG_MIN, unsorted_minmax_grad)
SEG_OP(op_segment_sum, "SegmentSum", infer_sorted, SEG_SUM, sorted_sum_grad)

/* ---- public functions ------------------------------------------------------------ */

static ct_tensor *unsorted(const ct__op *op, const char *api, const ct_tensor *data,
                           const ct_tensor *ids, int64_t num_segments) {
    const ct_tensor *in[2] = {data, ids};
    seg_attrs a = {.num_segments = num_segments};
    return ct__run1(op, api, 2, in, &a, sizeof a);
}

ct_tensor *ct_unsorted_segment_sum(const ct_tensor *data, const ct_tensor *segment_ids,
                                   int64_t num_segments) {
    return unsorted(&op_unsorted_sum, "ct_unsorted_segment_sum", data, segment_ids,
                    num_segments);
}

ct_tensor *ct_unsorted_segment_max(const ct_tensor *data, const ct_tensor *segment_ids,
                                   int64_t num_segments) {
    return unsorted(&op_unsorted_max, "ct_unsorted_segment_max", data, segment_ids,
                    num_segments);
}

ct_tensor *ct_unsorted_segment_min(const ct_tensor *data, const ct_tensor *segment_ids,
                                   int64_t num_segments) {
    return unsorted(&op_unsorted_min, "ct_unsorted_segment_min", data, segment_ids,
                    num_segments);
}

/* TF writes unsorted_segment_mean in Python: the sum divided by the
 * per-segment count (at least 1), so integer data gives float64 (true
 * division) and empty segments give 0. */
ct_tensor *ct_unsorted_segment_mean(const ct_tensor *data, const ct_tensor *segment_ids,
                                    int64_t num_segments) {
    const char *api = "ct_unsorted_segment_mean";
    ct_tensor *sum = unsorted(&op_unsorted_sum, api, data, segment_ids, num_segments);
    if (!sum) return NULL;
    ct_scope_begin();
    ct_tensor *ones = ct_fill_like(segment_ids, 1);
    ct_tensor *n = unsorted(&op_unsorted_sum, api, ones ? ct_cast(ones, data->dtype) : NULL,
                            segment_ids, num_segments);
    ct_tensor *res = NULL;
    if (n) {
        int64_t shape[CT_MAX_RANK];
        for (int i = 0; i < sum->rank; i++) shape[i] = i ? 1 : num_segments;
        n = ct_reshape(n, sum->rank, shape);
        n = ct_maximum(n, ct_ones_like(n));
        res = ct_keep(ct_divide(sum, n));
    }
    ct_scope_end();
    return res;
}

ct_tensor *ct_segment_sum(const ct_tensor *data, const ct_tensor *segment_ids) {
    const ct_tensor *in[2] = {data, segment_ids};
    return ct__run1(&op_segment_sum, "ct_segment_sum", 2, in, NULL, 0);
}
