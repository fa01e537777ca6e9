/* Cumsum and Cumprod (tf.math.cumsum / cumprod with exclusive and reverse):
 * definitions, CPU kernels and gradients.
 *
 * The input is viewed as [K, N, I] around the scan axis. With I == 1 each
 * row is a sequential scan; with I > 1 whole rows of I are combined with
 * the previous output row, which vectorises over I. */
#include <string.h>

#include "ops/reduce.h"

typedef struct {
    int axis; /* normalised */
    bool exclusive, reverse;
} scan_attrs;

enum { SCAN_SUM, SCAN_PROD };

static ct_status infer_scan(ct__call *c) {
    const ct_tensor *t = c->in[0];
    ct_status st = ct__need_numeric(c, t);
    if (st) return st;
    ct__spec_set(&c->spec[0], t->dtype, t->rank, t->shape);
    return CT_OK;
}

/* One (op, type): y[k, n, i] = OP over the elements before (exclusive) or
 * up to (inclusive) n, in reverse order when asked. */
#define DEFINE_SCAN(NAME, T, ACC, INIT, OP)                                                \
    static void NAME(const T *x, T *y, int64_t K, int64_t N, int64_t I, bool excl,         \
                     bool rev, int nt) {                                                   \
        int64_t step = rev ? -1 : 1, first = rev ? N - 1 : 0;                              \
        if (I == 1) {                                                                      \
            _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")       \
            for (int64_t k = 0; k < K; k++) {                                              \
                const T *p = x + k * N;                                                    \
                T *q = y + k * N;                                                          \
                ACC a = (ACC)(INIT);                                                       \
                int64_t n = first;                                                         \
                if (excl)                                                                  \
                    for (int64_t s = 0; s < N; s++, n += step) {                           \
                        q[n] = (T)a;                                                       \
                        a = OP(a, (ACC)p[n]);                                              \
                    }                                                                      \
                else                                                                       \
                    for (int64_t s = 0; s < N; s++, n += step) {                           \
                        a = OP(a, (ACC)p[n]);                                              \
                        q[n] = (T)a;                                                       \
                    }                                                                      \
            }                                                                              \
            return;                                                                        \
        }                                                                                  \
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")           \
        for (int64_t k = 0; k < K; k++) {                                                  \
            const T *p = x + k * N * I;                                                    \
            T *q = y + k * N * I;                                                          \
            if (N == 0) continue;                                                          \
            T *o0 = q + first * I;                                                         \
            const T *p0 = p + first * I;                                                   \
            for (int64_t i = 0; i < I; i++) o0[i] = excl ? (T)(INIT) : p0[i];              \
            int64_t n = first + step;                                                      \
            for (int64_t s = 1; s < N; s++, n += step) {                                   \
                T *o = q + n * I;                                                          \
                const T *prev = q + (n - step) * I;                                        \
                const T *src = p + (excl ? n - step : n) * I;                              \
                for (int64_t i = 0; i < I; i++) o[i] = (T)OP((ACC)prev[i], (ACC)src[i]);   \
            }                                                                              \
        }                                                                                  \
    }

#define ADD(a, b) ((a) + (b))
#define MUL(a, b) ((a) * (b))
#define SCAN_PAIR(SUF, T, ACC)                                                             \
    DEFINE_SCAN(cumsum_##SUF, T, ACC, 0, ADD)                                              \
    DEFINE_SCAN(cumprod_##SUF, T, ACC, 1, MUL)
SCAN_PAIR(f32, float, float)
SCAN_PAIR(f64, double, double)
SCAN_PAIR(i32, int32_t, uint32_t) /* integers wrap */
SCAN_PAIR(i64, int64_t, uint64_t)
SCAN_PAIR(u8, uint8_t, uint32_t)

static ct_status cpu_scan(ct__call *c) {
    const scan_attrs *a = c->attrs;
    ct_tensor *t = c->in[0], *o = c->out[0];
    if (t->size == 0) return CT_OK;
    int64_t K, N, I;
    ct__axis_view(t, a->axis, &K, &N, &I);
    /* A row scan is serial: threads only across rows. */
    int nt = ct__threads_for(t->size, 2);
    if (nt > K) nt = (int)(K > 0 ? K : 1);
    bool sum = c->op->code == SCAN_SUM;
#define RUN(SUF)                                                                           \
    (sum ? cumsum_##SUF : cumprod_##SUF)(ct__data(t), ct__data(o), K, N, I, a->exclusive,  \
                                         a->reverse, nt)
    switch (t->dtype) {
    case CT_FLOAT32: RUN(f32); break;
    case CT_FLOAT64: RUN(f64); break;
    case CT_INT32: RUN(i32); break;
    case CT_INT64: RUN(i64); break;
    case CT_UINT8: RUN(u8); break;
    default:
        return ct__call_error(c, CT_ERR_UNIMPLEMENTED, "no CPU kernel for %s", CT__DESC(t));
    }
#undef RUN
    return CT_OK;
}

/* TF's _CumsumGrad: the cumsum of dy in the other direction. */
static ct_status cumsum_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const scan_attrs *a = c->attrs;
    dx[0] = ct_cumsum(dy[0], a->axis, a->exclusive, !a->reverse);
    return dx[0] ? CT_OK : ct_last_status();
}

/* TF's _CumprodGrad: cumsum(cumprod(x) * dy, reversed) / x, with
 * div_no_nan (0 where x == 0; TF notes this is wrong at zeros, and ctrain
 * follows TF so both give the same numbers). */
static ct_status cumprod_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const scan_attrs *a = c->attrs;
    ct_tensor *x = c->in[0];
    ct_tensor *prod = ct_cumprod(x, a->axis, a->exclusive, a->reverse);
    ct_tensor *out = ct_cumsum(ct_multiply(prod, dy[0]), a->axis, a->exclusive, !a->reverse);
    ct_tensor *zero = ct_zeros_like(x);
    ct_tensor *is0 = ct_equal(x, zero);
    ct_tensor *safe = ct_where(is0, ct_ones_like(x), x);
    dx[0] = ct_where(is0, zero, ct_divide(out, safe));
    return dx[0] ? CT_OK : ct_last_status();
}

static const ct__op ct__op_cumsum = {.name = "Cumsum", .infer = infer_scan,
                                     .kernel = {[CT_DEVICE_CPU] = cpu_scan},
                                     .grad = cumsum_grad, .code = SCAN_SUM};
static const ct__op ct__op_cumprod = {.name = "Cumprod", .infer = infer_scan,
                                      .kernel = {[CT_DEVICE_CPU] = cpu_scan},
                                      .grad = cumprod_grad, .code = SCAN_PROD};

static ct_tensor *scan(const ct__op *op, const char *api, const ct_tensor *t, int axis,
                       bool exclusive, bool reverse) {
    scan_attrs a;
    memset(&a, 0, sizeof a); /* no stray padding bytes in the tape's copy */
    a.exclusive = exclusive;
    a.reverse = reverse;
    if (t) {
        ct__call c = {.api = api};
        if (ct__axis(&c, axis, t->rank, &a.axis)) return NULL;
    }
    return ct__run1(op, api, 1, &t, &a, sizeof a);
}

ct_tensor *ct_cumsum(const ct_tensor *t, int axis, bool exclusive, bool reverse) {
    return scan(&ct__op_cumsum, "ct_cumsum", t, axis, exclusive, reverse);
}

ct_tensor *ct_cumprod(const ct_tensor *t, int axis, bool exclusive, bool reverse) {
    return scan(&ct__op_cumprod, "ct_cumprod", t, axis, exclusive, reverse);
}
