/*
 * CPU reduction kernels. The input's dims are collapsed into alternating
 * kept / reduced groups; each reduced group is then one pass over a
 * [K, R, I] view (K outer kept, R reduced, I inner kept), innermost group
 * first.
 *
 * Summing rows (I == 1) uses several accumulators so the loop vectorises
 * and rounding error grows more slowly; when there are fewer rows than
 * threads each row is split into per-thread segments whose partial results
 * are combined at the end (a full reduction still uses every core).
 * Summing columns (I > 1) adds four input rows at a time into the output
 * row, which keeps the output row in L1 and streams the input once.
 */
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "ops/reduce.h"

#define ACC_LANES 16
#define MAX_THREADS 256

/* Four float rows at once with explicit vectors: four input streams keep
 * more loads in flight than one (about twice the bandwidth of a row at a
 * time here), and IEEE compares (max / min) only vectorise when written
 * out. V is the 16-byte vector of T, VI the integer vector of its size. */
#define DEFINE_ROWS4(NAME, T, V, VI, INIT, OP, VOP)                                        \
    static bool NAME##_rows4(const T *in, T *out, int64_t R) {                             \
        enum { W = 16 / sizeof(T) };                                                       \
        const T *p[4] = {in, in + R, in + 2 * R, in + 3 * R};                              \
        V a[4], b[4];                                                                      \
        for (int j = 0; j < 4; j++) a[j] = b[j] = (V){0} + (T)(INIT);                      \
        int64_t r = 0;                                                                     \
        for (; r + 2 * W <= R; r += 2 * W)                                                 \
            for (int j = 0; j < 4; j++) {                                                  \
                V x, y;                                                                    \
                memcpy(&x, p[j] + r, sizeof x);                                            \
                memcpy(&y, p[j] + r + W, sizeof y);                                        \
                a[j] = VOP(a[j], x);                                                       \
                b[j] = VOP(b[j], y);                                                       \
            }                                                                              \
        for (int j = 0; j < 4; j++) {                                                      \
            V v = VOP(a[j], b[j]);                                                         \
            T t = v[0];                                                                    \
            for (int l = 1; l < W; l++) t = OP(t, v[l]);                                   \
            for (int64_t q = r; q < R; q++) t = OP(t, p[j][q]);                            \
            out[j] = t;                                                                    \
        }                                                                                  \
        return true;                                                                       \
    }
#define NO_ROWS4(NAME, T)                                                                  \
    static bool NAME##_rows4(const T *in, T *out, int64_t R) {                             \
        (void)in;                                                                          \
        (void)out;                                                                         \
        (void)R;                                                                           \
        return false;                                                                      \
    }

/* out[k, i] = reduce_r in[k, r, i] for one (op, type). OP(a, b) combines
 * two ACC values; INIT is the identity. NAME##_rows4 must exist. */
#define DEFINE_PASS(NAME, T, ACC, INIT, OP)                                                \
    static ACC NAME##_seg(const T *p, int64_t n) {                                         \
        ACC lanes[ACC_LANES];                                                              \
        for (int l = 0; l < ACC_LANES; l++) lanes[l] = (ACC)(INIT);                        \
        int64_t r = 0;                                                                     \
        for (; r + ACC_LANES <= n; r += ACC_LANES)                                         \
            for (int l = 0; l < ACC_LANES; l++) lanes[l] = OP(lanes[l], (ACC)p[r + l]);    \
        for (int l = ACC_LANES / 2; l > 0; l /= 2)                                         \
            for (int j = 0; j < l; j++) lanes[j] = OP(lanes[j], lanes[j + l]);             \
        ACC a = lanes[0];                                                                  \
        for (; r < n; r++) a = OP(a, (ACC)p[r]);                                           \
        return a;                                                                          \
    }                                                                                      \
    static void NAME##_cols(const T *in, T *o, int64_t R, int64_t I, int64_t i0,           \
                            int64_t i1) {                                                  \
        for (int64_t i = i0; i < i1; i++) o[i] = (T)(INIT);                                \
        int64_t r = 0;                                                                     \
        for (; r + 4 <= R; r += 4) {                                                       \
            const T *p0 = in + r * I, *p1 = p0 + I, *p2 = p1 + I, *p3 = p2 + I;            \
            for (int64_t i = i0; i < i1; i++)                                              \
                o[i] = (T)OP((ACC)o[i], OP(OP((ACC)p0[i], (ACC)p1[i]),                     \
                                           OP((ACC)p2[i], (ACC)p3[i])));                   \
        }                                                                                  \
        for (; r < R; r++) {                                                               \
            const T *p = in + r * I;                                                       \
            for (int64_t i = i0; i < i1; i++) o[i] = (T)OP((ACC)o[i], (ACC)p[i]);          \
        }                                                                                  \
    }                                                                                      \
    static void NAME(const T *in, T *out, int64_t K, int64_t R, int64_t I, int nt) {       \
        if (nt > MAX_THREADS) nt = MAX_THREADS;                                            \
        if (I == 1 && (K >= nt || R < 4 * ACC_LANES * nt)) {                               \
            int64_t G = (K + 3) / 4;                                                       \
            _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")       \
            for (int64_t g = 0; g < G; g++) {                                              \
                int64_t k0 = 4 * g, k1 = k0 + 4 < K ? k0 + 4 : K;                          \
                if (k1 - k0 == 4 && NAME##_rows4(in + k0 * R, out + k0, R)) continue;      \
                for (int64_t k = k0; k < k1; k++) out[k] = (T)NAME##_seg(in + k * R, R);   \
            }                                                                              \
            return;                                                                        \
        }                                                                                  \
        if (I == 1) {                                                                      \
            /* Few long rows: nt segments per row, then combine. */                        \
            ACC part[MAX_THREADS];                                                         \
            int64_t seg = (R + nt - 1) / nt;                                               \
            for (int64_t k = 0; k < K; k++) {                                              \
                const T *p = in + k * R;                                                   \
                _Pragma("omp parallel for num_threads(nt) schedule(static)")               \
                for (int s = 0; s < nt; s++) {                                             \
                    int64_t r0 = s * seg, r1 = r0 + seg < R ? r0 + seg : R;                \
                    part[s] = r0 < r1 ? NAME##_seg(p + r0, r1 - r0) : (ACC)(INIT);         \
                }                                                                          \
                ACC a = part[0];                                                           \
                for (int s = 1; s < nt; s++) a = OP(a, part[s]);                           \
                out[k] = (T)a;                                                             \
            }                                                                              \
            return;                                                                        \
        }                                                                                  \
        /* Rows of I: parallel over K, or over chunks of I when K is small. */             \
        int64_t ichunk = K >= nt ? I : (I + nt - 1) / nt;                                  \
        if (ichunk < 16) ichunk = 16;                                                      \
        int64_t nic = (I + ichunk - 1) / ichunk;                                           \
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static) collapse(2)")\
        for (int64_t k = 0; k < K; k++)                                                    \
            for (int64_t c = 0; c < nic; c++) {                                            \
                int64_t i0 = c * ichunk, i1 = i0 + ichunk < I ? i0 + ichunk : I;           \
                NAME##_cols(in + k * R * I, out + k * I, R, I, i0, i1);                    \
            }                                                                              \
    }

#define ADD(a, b) ((a) + (b))
#define MUL(a, b) ((a) * (b))
/* Float max / min propagate NaN, as TF. The quiet compares let the
 * column loops vectorise. */
#define FMAXN(a, b) (__builtin_isunordered(a, a) || __builtin_isgreater(a, b) ? (a) : (b))
#define FMINN(a, b) (__builtin_isunordered(a, a) || __builtin_isless(a, b) ? (a) : (b))
#define NMAX(a, b) ((a) > (b) ? (a) : (b))
#define NMIN(a, b) ((a) < (b) ? (a) : (b))
#define AND(a, b) ((a) && (b))
#define OR(a, b) ((a) || (b))

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef double v2d __attribute__((vector_size(16)));
typedef int64_t v2l __attribute__((vector_size(16)));
#define VSEL(VI, V, m, a, b) ((V)(((m) & (VI)(a)) | (~(m) & (VI)(b))))
#define VADD(a, b) ((a) + (b))
#define VMUL(a, b) ((a) * (b))
#define VMAX4(a, b) VSEL(v4i, v4f, ((a) != (a)) | ((a) > (b)), a, b)
#define VMIN4(a, b) VSEL(v4i, v4f, ((a) != (a)) | ((a) < (b)), a, b)
#define VMAX2(a, b) VSEL(v2l, v2d, ((a) != (a)) | ((a) > (b)), a, b)
#define VMIN2(a, b) VSEL(v2l, v2d, ((a) != (a)) | ((a) < (b)), a, b)

#define FLOAT_PASSES(SUF, T, V, VI, BIG, VMAX, VMIN)                                       \
    DEFINE_ROWS4(sum_##SUF, T, V, VI, 0, ADD, VADD)                                        \
    DEFINE_ROWS4(prod_##SUF, T, V, VI, 1, MUL, VMUL)                                       \
    DEFINE_ROWS4(max_##SUF, T, V, VI, -BIG, FMAXN, VMAX)                                   \
    DEFINE_ROWS4(min_##SUF, T, V, VI, BIG, FMINN, VMIN)                                    \
    DEFINE_PASS(sum_##SUF, T, T, 0, ADD)                                                   \
    DEFINE_PASS(prod_##SUF, T, T, 1, MUL)                                                  \
    DEFINE_PASS(max_##SUF, T, T, -BIG, FMAXN)                                              \
    DEFINE_PASS(min_##SUF, T, T, BIG, FMINN)
FLOAT_PASSES(f32, float, v4f, v4i, INFINITY, VMAX4, VMIN4)
FLOAT_PASSES(f64, double, v2d, v2l, INFINITY, VMAX2, VMIN2)

/* Integer sums and products wrap (unsigned accumulators avoid UB). */
#define INT_PASSES(SUF, T, U, LO, HI)                                                      \
    NO_ROWS4(sum_##SUF, T)                                                                 \
    NO_ROWS4(prod_##SUF, T)                                                                \
    NO_ROWS4(max_##SUF, T)                                                                 \
    NO_ROWS4(min_##SUF, T)                                                                 \
    DEFINE_PASS(sum_##SUF, T, U, 0, ADD)                                                   \
    DEFINE_PASS(prod_##SUF, T, U, 1, MUL)                                                  \
    DEFINE_PASS(max_##SUF, T, T, LO, NMAX)                                                 \
    DEFINE_PASS(min_##SUF, T, T, HI, NMIN)
INT_PASSES(i32, int32_t, uint32_t, INT32_MIN, INT32_MAX)
INT_PASSES(i64, int64_t, uint64_t, INT64_MIN, INT64_MAX)
INT_PASSES(u8, uint8_t, uint32_t, 0, UINT8_MAX)
NO_ROWS4(all_b, bool)
NO_ROWS4(any_b, bool)
DEFINE_PASS(all_b, bool, bool, 1, AND)
DEFINE_PASS(any_b, bool, bool, 0, OR)

typedef void (*pass_fn)(const void *in, void *out, int64_t K, int64_t R, int64_t I, int nt);
enum { F32, F64, I32, I64, U8, B, NDT };
#define ROW(n) {(pass_fn)n##_f32, (pass_fn)n##_f64, (pass_fn)n##_i32, (pass_fn)n##_i64, (pass_fn)n##_u8}
static const pass_fn passes[CT__NUM_REDUCE][NDT] = {
    [CT__RSUM] = ROW(sum), [CT__RPROD] = ROW(prod), [CT__RMAX] = ROW(max), [CT__RMIN] = ROW(min),
    [CT__RALL] = {[B] = (pass_fn)all_b}, [CT__RANY] = {[B] = (pass_fn)any_b},
    [CT__RMEAN] = {(pass_fn)sum_f32, (pass_fn)sum_f64},
};

static int dt_index(ct_dtype dt) {
    switch (dt) {
    case CT_FLOAT32: return F32;
    case CT_FLOAT64: return F64;
    case CT_INT32: return I32;
    case CT_INT64: return I64;
    case CT_UINT8: return U8;
    case CT_BOOL: return B;
    default: return -1;
    }
}

/* Reduces src (the input's shape, element size es) over the call's mask
 * into dst (the output's element count) with pass fn. */
static ct_status reduce_into(ct__call *c, pass_fn fn, const void *src, void *dst, size_t es) {
    const ct__reduce_attrs *a = c->attrs;
    const ct_tensor *t = c->in[0], *o = c->out[0];

    /* Collapse into groups: dims of size 1 vanish, neighbours with the same
     * kept/reduced status merge. */
    int64_t gsize[CT_MAX_RANK];
    bool gred[CT_MAX_RANK];
    int ng = 0;
    for (int i = 0; i < t->rank; i++) {
        if (t->shape[i] == 1) continue;
        bool red = (a->mask >> i) & 1;
        if (ng && gred[ng - 1] == red) gsize[ng - 1] *= t->shape[i];
        else {
            gsize[ng] = t->shape[i];
            gred[ng++] = red;
        }
    }
    bool any_red = false;
    for (int g = 0; g < ng; g++) any_red |= gred[g];
    if (!any_red) { /* nothing reduced: a copy */
        if (o->size) memcpy(dst, src, (size_t)o->size * es);
        return CT_OK;
    }
    if (t->size == 0) { /* empty input: the identity, via a pass with R = 0 */
        fn(src, dst, 1, 0, o->size, 1);
        return CT_OK;
    }

    void *tmp = NULL;
    int64_t total = t->size;
    /* Passes from the innermost reduced group out; each removes one group. */
    for (int g = ng - 1; g >= 0; g--) {
        if (!gred[g]) continue;
        int64_t I = 1, K = 1;
        for (int j = g + 1; j < ng; j++) I *= gsize[j];
        for (int j = 0; j < g; j++) K *= gsize[j];
        int64_t R = gsize[g];
        bool last = true;
        for (int j = 0; j < g; j++) last &= !gred[j];
        void *out = last ? dst : malloc((size_t)(K * I) * es + 1);
        if (!out) {
            free(tmp);
            return ct__call_error(c, CT_ERR_OUT_OF_MEMORY, "no host memory for a partial result");
        }
        fn(src, out, K, R, I, ct__threads_for(total, 1));
        free(tmp);
        tmp = last ? NULL : out;
        src = out;
        total = K * I;
        gsize[g] = 1;
        gred[g] = false;
    }
    return CT_OK;
}

/* Mean: float sums divided by the count; integers summed in int64 and
 * divided with truncation, as TF (whose empty integer mean is 0). */
static ct_status cpu_mean(ct__call *c) {
    ct_tensor *t = c->in[0], *o = c->out[0];
    int64_t count = o->size ? t->size / o->size : 0;
    if (ct_dtype_is_float(t->dtype)) {
        ct_status st = reduce_into(c, passes[CT__RMEAN][dt_index(t->dtype)], ct__data(t),
                                   ct__data(o), ct_dtype_size(t->dtype));
        if (st) return st;
        int64_t n = o->size;
        CT__SWITCH_FLOAT(t->dtype, {
            T *y = ct__data(o);
            T cnt = (T)count; /* 0 for an empty input: 0 / 0 is NaN */
            for (int64_t i = 0; i < n; i++) y[i] = y[i] / cnt;
        })
        return CT_OK;
    }
    int64_t *x64 = t->dtype == CT_INT64 ? ct__data(t) : malloc((size_t)t->size * 8 + 8);
    int64_t *y64 = malloc((size_t)o->size * 8 + 8);
    ct_status st = CT_OK;
    if (!x64 || !y64) {
        st = ct__call_error(c, CT_ERR_OUT_OF_MEMORY, "no host memory for an int64 copy of %s",
                            CT__DESC(t));
        goto out;
    }
    if (x64 != ct__data(t)) ct__convert(ct__data(t), t->dtype, x64, CT_INT64, t->size);
    if ((st = reduce_into(c, (pass_fn)sum_i64, x64, y64, 8))) goto out;
    for (int64_t i = 0; i < o->size; i++) y64[i] = count ? y64[i] / count : 0;
    ct__convert(y64, CT_INT64, ct__data(o), o->dtype, o->size);
out:
    if (x64 != ct__data(t)) free(x64);
    free(y64);
    return st;
}

ct_status ct__cpu_reduce(ct__call *c) {
    ct_tensor *t = c->in[0];
    if (c->op->code == CT__RMEAN) return cpu_mean(c);
    int di = dt_index(t->dtype);
    pass_fn fn = di >= 0 ? passes[c->op->code][di] : NULL;
    if (!fn) return ct__call_error(c, CT_ERR_UNIMPLEMENTED, "no CPU kernel for %s", CT__DESC(t));
    return reduce_into(c, fn, ct__data(t), ct__data(c->out[0]), ct_dtype_size(t->dtype));
}

/* ---- ArgMax / ArgMin ------------------------------------------------------------
 *
 * TF's CPU kernel (Eigen's arg-max reducer) starts from (index 0, lowest
 * finite value) and takes an element only when it is strictly greater:
 * ties give the first index, NaN is never taken, and neither is -inf (for
 * argmin +inf), so a row with nothing else gives 0. The best value is
 * found first, then its first index. */

#define GT(a, b) ((a) > (b))
#define LT(a, b) ((a) < (b))

#define DEFINE_ARG(NAME, T, START, BETTER)                                                 \
    static void NAME(const T *in, int64_t *out, int64_t K, int64_t N, int64_t I, int nt) { \
        if (I == 1) {                                                                      \
            _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")       \
            for (int64_t k = 0; k < K; k++) {                                              \
                const T *p = in + k * N;                                                   \
                T best = (START);                                                          \
                for (int64_t n = 0; n < N; n++) best = BETTER(p[n], best) ? p[n] : best;   \
                int64_t bi = 0;                                                            \
                if (best != (START))                                                       \
                    while (p[bi] != best) bi++;                                            \
                out[k] = bi;                                                               \
            }                                                                              \
            return;                                                                        \
        }                                                                                  \
        enum { CH = 256 };                                                                 \
        int64_t nic = (I + CH - 1) / CH;                                                   \
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static) collapse(2)")\
        for (int64_t k = 0; k < K; k++)                                                    \
            for (int64_t c = 0; c < nic; c++) {                                            \
                int64_t i0 = c * CH, m = i0 + CH < I ? CH : I - i0;                        \
                T best[CH];                                                                \
                int64_t *bi = out + k * I + i0;                                            \
                for (int64_t i = 0; i < m; i++) {                                          \
                    best[i] = (START);                                                     \
                    bi[i] = 0;                                                             \
                }                                                                          \
                for (int64_t n = 0; n < N; n++) {                                          \
                    const T *p = in + (k * N + n) * I + i0;                                \
                    for (int64_t i = 0; i < m; i++) {                                      \
                        bool b = BETTER(p[i], best[i]);                                    \
                        best[i] = b ? p[i] : best[i];                                      \
                        bi[i] = b ? n : bi[i];                                             \
                    }                                                                      \
                }                                                                          \
            }                                                                              \
    }

#define ARG_PAIR(SUF, T, LO, HI)                                                           \
    DEFINE_ARG(argmax_##SUF, T, LO, GT)                                                    \
    DEFINE_ARG(argmin_##SUF, T, HI, LT)
ARG_PAIR(f32, float, -FLT_MAX, FLT_MAX)
ARG_PAIR(f64, double, -DBL_MAX, DBL_MAX)
ARG_PAIR(i32, int32_t, INT32_MIN, INT32_MAX)
ARG_PAIR(i64, int64_t, INT64_MIN, INT64_MAX)
ARG_PAIR(u8, uint8_t, 0, UINT8_MAX)
ARG_PAIR(b, bool, false, true)

typedef void (*arg_fn)(const void *in, int64_t *out, int64_t K, int64_t N, int64_t I, int nt);
#define AROW(n) {(arg_fn)n##_f32, (arg_fn)n##_f64, (arg_fn)n##_i32, (arg_fn)n##_i64, (arg_fn)n##_u8, (arg_fn)n##_b}
static const arg_fn arg_fns[2][NDT] = {AROW(argmax), AROW(argmin)};

ct_status ct__cpu_argreduce(ct__call *c) {
    const ct__arg_attrs *a = c->attrs;
    ct_tensor *t = c->in[0], *o = c->out[0];
    int di = dt_index(t->dtype);
    if (di < 0) return ct__call_error(c, CT_ERR_UNIMPLEMENTED, "no CPU kernel for %s", CT__DESC(t));
    int64_t K, N, I;
    ct__axis_view(t, a->axis, &K, &N, &I);
    if (o->size == 0) return CT_OK;
    arg_fns[c->op->code == CT__RMIN][di](ct__data(t), ct__data(o), K, N, I,
                                         ct__threads_for(t->size, 1));
    return CT_OK;
}
