/*
 * Diagonals and bands of (batches of) matrices: tf.linalg.diag, diag_part,
 * set_diag and band_part (TF's MatrixDiag / MatrixDiagPart / MatrixSetDiag
 * / MatrixBandPart with k = 0), with the gradients of TF's array_grad.py.
 *
 * Shape legend: B = the product of the batch dims, M x N the matrix, K =
 * min(M, N) the diagonal's length. The kernels only move elements, so they
 * work on every dtype by element size (16-bit floats natively).
 */
#include <string.h>

#include <omp.h>

#include "ops/op.h"

typedef struct {
    int64_t num_lower, num_upper; /* BandPart only */
} diag_attrs;

/* Runs the body with T an unsigned integer type of the element size. */
#define SWITCH_BITS(es, ...)                                                               \
    switch (es) {                                                                          \
        CT__CASE(1, uint8_t, __VA_ARGS__)                                                  \
        CT__CASE(2, uint16_t, __VA_ARGS__)                                                 \
        CT__CASE(4, uint32_t, __VA_ARGS__)                                                 \
        CT__CASE(8, uint64_t, __VA_ARGS__)                                                 \
    default: break;                                                                        \
    }

static int64_t batch_of(const ct_tensor *t, int matrix_dims) {
    int64_t b = 1;
    for (int i = 0; i < t->rank - matrix_dims; i++) b *= t->shape[i];
    return b;
}

static ct_status need_matrix(const ct__call *c, const ct_tensor *t) {
    if (t->rank >= 2) return CT_OK;
    return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "input must be at least 2-dim, got %s",
                          CT__DESC(t));
}

/* ---- MatrixDiag: [..., K] -> [..., K, K] ------------------------------------------- */

static ct_status infer_diag(ct__call *c) {
    const ct_tensor *t = c->in[0];
    if (t->rank < 1)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "input must be at least 1-dim, got %s",
                              CT__DESC(t));
    if (t->rank == CT_MAX_RANK)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "the result for %s would have rank %d; at most %d", CT__DESC(t),
                              t->rank + 1, CT_MAX_RANK);
    int64_t shape[CT_MAX_RANK];
    memcpy(shape, t->shape, (size_t)t->rank * sizeof *shape);
    shape[t->rank] = t->shape[t->rank - 1];
    ct__spec_set(&c->spec[0], t->dtype, t->rank + 1, shape);
    return CT_OK;
}

static ct_status cpu_diag(ct__call *c) {
    const ct_tensor *t = c->in[0];
    ct_tensor *o = c->out[0];
    int64_t K = t->shape[t->rank - 1], B = batch_of(t, 1);
    memset(ct__data(o), 0, ct__nbytes(o));
    int nt = ct__threads_for(o->size, 1);
    SWITCH_BITS(ct_dtype_size(t->dtype), {
        const T *x = ct__data(t);
        T *y = ct__data(o);
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < K; i++) y[(b * K + i) * K + i] = x[b * K + i];
    })
    return CT_OK;
}

/* ---- MatrixDiagPart: [..., M, N] -> [..., K] --------------------------------------- */

static ct_status infer_diag_part(ct__call *c) {
    const ct_tensor *t = c->in[0];
    ct_status st = need_matrix(c, t);
    if (st) return st;
    int64_t shape[CT_MAX_RANK], m = t->shape[t->rank - 2], n = t->shape[t->rank - 1];
    memcpy(shape, t->shape, (size_t)t->rank * sizeof *shape);
    shape[t->rank - 2] = m < n ? m : n;
    ct__spec_set(&c->spec[0], t->dtype, t->rank - 1, shape);
    return CT_OK;
}

static ct_status cpu_diag_part(ct__call *c) {
    const ct_tensor *t = c->in[0];
    ct_tensor *o = c->out[0];
    int64_t M = t->shape[t->rank - 2], N = t->shape[t->rank - 1], K = M < N ? M : N;
    int64_t B = batch_of(t, 2);
    int nt = ct__threads_for(o->size, 4);
    SWITCH_BITS(ct_dtype_size(t->dtype), {
        const T *x = ct__data(t);
        T *y = ct__data(o);
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < K; i++) y[b * K + i] = x[b * M * N + i * N + i];
    })
    return CT_OK;
}

/* ---- MatrixSetDiag: ([..., M, N], [..., K]) -> [..., M, N] ------------------------- */

static ct_status infer_set_diag(ct__call *c) {
    const ct_tensor *t = c->in[0], *d = c->in[1];
    ct_status st = need_matrix(c, t);
    if (!st) st = ct__need_same_dtype(c, t, d);
    if (st) return st;
    int64_t m = t->shape[t->rank - 2], n = t->shape[t->rank - 1];
    bool ok = d->rank == t->rank - 1 && d->shape[d->rank - 1] == (m < n ? m : n);
    for (int i = 0; ok && i < t->rank - 2; i++) ok = d->shape[i] == t->shape[i];
    if (!ok) {
        int64_t want[CT_MAX_RANK];
        memcpy(want, t->shape, (size_t)(t->rank - 2) * sizeof *want);
        want[t->rank - 2] = m < n ? m : n;
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "diagonal must have the shape %s (the batch dims and min(M, N)) "
                              "for input %s, got %s", CT__SHAPE(t->rank - 1, want), CT__DESC(t),
                              CT__DESC(d));
    }
    ct__spec_set(&c->spec[0], t->dtype, t->rank, t->shape);
    return CT_OK;
}

static ct_status cpu_set_diag(ct__call *c) {
    const ct_tensor *t = c->in[0], *d = c->in[1];
    ct_tensor *o = c->out[0];
    int64_t M = t->shape[t->rank - 2], N = t->shape[t->rank - 1], K = M < N ? M : N;
    int64_t B = batch_of(t, 2);
    memcpy(ct__data(o), ct__data(t), ct__nbytes(o));
    int nt = ct__threads_for(B * K, 4);
    SWITCH_BITS(ct_dtype_size(t->dtype), {
        const T *x = ct__data(d);
        T *y = ct__data(o);
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < K; i++) y[b * M * N + i * N + i] = x[b * K + i];
    })
    return CT_OK;
}

/* ---- MatrixBandPart ---------------------------------------------------------------- */

static ct_status infer_band(ct__call *c) {
    const diag_attrs *a = c->attrs;
    const ct_tensor *t = c->in[0];
    ct_status st = need_matrix(c, t);
    if (st) return st;
    int64_t m = t->shape[t->rank - 2], n = t->shape[t->rank - 1];
    if (a->num_lower > m)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "num_lower must be negative or less or equal to number of rows "
                              "(%lld) got: %lld (input %s)", (long long)m,
                              (long long)a->num_lower, CT__DESC(t));
    if (a->num_upper > n)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "num_upper must be negative or less or equal to number of columns "
                              "(%lld) got: %lld (input %s)", (long long)n,
                              (long long)a->num_upper, CT__DESC(t));
    ct__spec_set(&c->spec[0], t->dtype, t->rank, t->shape);
    return CT_OK;
}

/* Row i keeps columns [max(0, i - num_lower), min(N, i + num_upper + 1)):
 * one copy and two zero fills per row. */
static ct_status cpu_band(ct__call *c) {
    const diag_attrs *a = c->attrs;
    const ct_tensor *t = c->in[0];
    ct_tensor *o = c->out[0];
    int64_t M = t->shape[t->rank - 2], N = t->shape[t->rank - 1], rows = batch_of(t, 2) * M;
    size_t es = ct_dtype_size(t->dtype);
    const char *x = ct__data(t);
    char *y = ct__data(o);
    int64_t lower = a->num_lower, upper = a->num_upper;
    int nt = ct__threads_for(t->size, 1);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t i = r % M;
        int64_t lo = lower < 0 ? 0 : i - lower, hi = upper < 0 ? N : i + upper + 1;
        if (lo < 0) lo = 0;
        if (lo > N) lo = N;
        if (hi > N) hi = N;
        if (hi < lo) hi = lo;
        size_t row = (size_t)(r * N) * es;
        memset(y + row, 0, (size_t)lo * es);
        memcpy(y + row + (size_t)lo * es, x + row + (size_t)lo * es, (size_t)(hi - lo) * es);
        memset(y + row + (size_t)hi * es, 0, (size_t)(N - hi) * es);
    }
    return CT_OK;
}

/* ---- gradients --------------------------------------------------------------------- */

static ct_status diag_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    dx[0] = ct_matrix_diag_part(dy[0]);
    return ct__grad_status(dx, 1);
}

static ct_status diag_part_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct_tensor *t = c->in[0];
    if (t->shape[t->rank - 1] == t->shape[t->rank - 2])
        dx[0] = ct_matrix_diag(dy[0]);
    else
        dx[0] = ct_matrix_set_diag(ct_zeros_like(t), dy[0]);
    return ct__grad_status(dx, 1);
}

static ct_status set_diag_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    dx[0] = ct_matrix_set_diag(dy[0], ct_zeros_like(c->in[1]));
    dx[1] = ct_matrix_diag_part(dy[0]);
    return ct__grad_status(dx, 2);
}

static ct_status band_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const diag_attrs *a = c->attrs;
    dx[0] = ct_matrix_band_part(dy[0], a->num_lower, a->num_upper);
    return ct__grad_status(dx, 1);
}

static const ct__op op_diag = {.name = "MatrixDiagV3", .infer = infer_diag,
                               .kernel = {[CT_DEVICE_CPU] = cpu_diag}, .grad = diag_grad,
                               .flags = CT__OP_NATIVE_HALF};
static const ct__op op_diag_part = {.name = "MatrixDiagPartV3", .infer = infer_diag_part,
                                    .kernel = {[CT_DEVICE_CPU] = cpu_diag_part},
                                    .grad = diag_part_grad, .flags = CT__OP_NATIVE_HALF};
static const ct__op op_set_diag = {.name = "MatrixSetDiagV3", .infer = infer_set_diag,
                                   .kernel = {[CT_DEVICE_CPU] = cpu_set_diag},
                                   .grad = set_diag_grad, .flags = CT__OP_NATIVE_HALF};
static const ct__op op_band = {.name = "MatrixBandPart", .infer = infer_band,
                               .kernel = {[CT_DEVICE_CPU] = cpu_band}, .grad = band_grad,
                               .flags = CT__OP_NATIVE_HALF};

ct_tensor *ct_matrix_diag(const ct_tensor *t) {
    return ct__run1(&op_diag, "ct_matrix_diag", 1, &t, NULL, 0);
}

ct_tensor *ct_matrix_diag_part(const ct_tensor *t) {
    return ct__run1(&op_diag_part, "ct_matrix_diag_part", 1, &t, NULL, 0);
}

ct_tensor *ct_matrix_set_diag(const ct_tensor *t, const ct_tensor *diagonal) {
    const ct_tensor *in[2] = {t, diagonal};
    return ct__run1(&op_set_diag, "ct_matrix_set_diag", 2, in, NULL, 0);
}

ct_tensor *ct_matrix_band_part(const ct_tensor *t, int64_t num_lower, int64_t num_upper) {
    diag_attrs a = {.num_lower = num_lower, .num_upper = num_upper};
    return ct__run1(&op_band, "ct_matrix_band_part", 1, &t, &a, sizeof a);
}
