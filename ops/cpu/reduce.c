/*
 * CPU reduction kernels. The input's dims are collapsed into alternating
 * kept / reduced groups; each reduced group is then one pass over a
 * [K, R, I] view (K outer kept, R reduced, I inner kept), innermost group
 * first. Summing rows (I == 1) uses several accumulators so the loop
 * vectorises and rounding error grows more slowly; summing columns
 * (I > 1) adds whole rows into the output row, which streams memory once.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "ops/reduce.h"

#define ACC_LANES 16

/* out[k, i] = reduce_r in[k, r, i] for one (op, type). */
#define DEFINE_PASS(NAME, T, ACC, INIT, COMBINE)                                           \
    static void NAME(const T *in, T *out, int64_t K, int64_t R, int64_t I, int nt) {       \
        if (I == 1) {                                                                      \
            _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")       \
            for (int64_t k = 0; k < K; k++) {                                              \
                const T *p = in + k * R;                                                   \
                ACC lanes[ACC_LANES];                                                      \
                for (int l = 0; l < ACC_LANES; l++) lanes[l] = (ACC)(INIT);                \
                int64_t r = 0;                                                             \
                for (; r + ACC_LANES <= R; r += ACC_LANES)                                 \
                    for (int l = 0; l < ACC_LANES; l++) {                                  \
                        ACC a = lanes[l];                                                  \
                        ACC x = (ACC)p[r + l];                                             \
                        lanes[l] = (COMBINE);                                              \
                    }                                                                      \
                ACC a = (ACC)(INIT);                                                       \
                for (int l = 0; l < ACC_LANES; l++) {                                      \
                    ACC x = lanes[l];                                                      \
                    a = (COMBINE);                                                         \
                }                                                                          \
                for (; r < R; r++) {                                                       \
                    ACC x = (ACC)p[r];                                                     \
                    a = (COMBINE);                                                         \
                }                                                                          \
                out[k] = (T)a;                                                             \
            }                                                                              \
            return;                                                                        \
        }                                                                                  \
        /* Rows of I: parallel over K, or over chunks of I when K is small. */             \
        int64_t ichunk = K >= nt ? I : (I + nt - 1) / nt;                                  \
        int64_t nic = (I + ichunk - 1) / ichunk;                                           \
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static) collapse(2)")\
        for (int64_t k = 0; k < K; k++)                                                    \
            for (int64_t c = 0; c < nic; c++) {                                            \
                int64_t i0 = c * ichunk, i1 = i0 + ichunk < I ? i0 + ichunk : I;           \
                T *o = out + k * I;                                                        \
                for (int64_t i = i0; i < i1; i++) o[i] = (T)(INIT);                        \
                for (int64_t r = 0; r < R; r++) {                                          \
                    const T *p = in + (k * R + r) * I;                                     \
                    for (int64_t i = i0; i < i1; i++) {                                    \
                        T a = o[i], x = p[i];                                              \
                        o[i] = (T)(COMBINE);                                               \
                    }                                                                      \
                }                                                                          \
            }                                                                              \
    }

#define FMAXN(a, x) ((a) != (a) || (a) > (x) ? (a) : (x))
#define FMINN(a, x) ((a) != (a) || (a) < (x) ? (a) : (x))
#define NMAX(a, x) ((a) > (x) ? (a) : (x))
#define NMIN(a, x) ((a) < (x) ? (a) : (x))

#define FLOAT_PASSES(SUF, T, BIG)                                                          \
    DEFINE_PASS(sum_##SUF, T, T, 0, a + x)                                                 \
    DEFINE_PASS(prod_##SUF, T, T, 1, a * x)                                                \
    DEFINE_PASS(max_##SUF, T, T, -BIG, FMAXN(a, x))                                        \
    DEFINE_PASS(min_##SUF, T, T, BIG, FMINN(a, x))
FLOAT_PASSES(f32, float, INFINITY)
FLOAT_PASSES(f64, double, INFINITY)

#define INT_PASSES(SUF, T, U, LO, HI)                                                      \
    DEFINE_PASS(sum_##SUF, T, U, 0, a + x)                                                 \
    DEFINE_PASS(prod_##SUF, T, U, 1, a * x)                                                \
    DEFINE_PASS(max_##SUF, T, T, LO, NMAX(a, x))                                           \
    DEFINE_PASS(min_##SUF, T, T, HI, NMIN(a, x))
INT_PASSES(i32, int32_t, uint32_t, INT32_MIN, INT32_MAX)
INT_PASSES(i64, int64_t, uint64_t, INT64_MIN, INT64_MAX)
INT_PASSES(u8, uint8_t, uint8_t, 0, UINT8_MAX)
DEFINE_PASS(all_b, bool, bool, 1, a && x)
DEFINE_PASS(any_b, bool, bool, 0, a || x)

typedef void (*pass_fn)(const void *in, void *out, int64_t K, int64_t R, int64_t I, int nt);
enum { F32, F64, I32, I64, U8, B, NDT };
#define ROW(n) {(pass_fn)n##_f32, (pass_fn)n##_f64, (pass_fn)n##_i32, (pass_fn)n##_i64, (pass_fn)n##_u8}
static const pass_fn passes[CT__NUM_REDUCE][NDT] = {
    [CT__RSUM] = ROW(sum), [CT__RPROD] = ROW(prod), [CT__RMAX] = ROW(max), [CT__RMIN] = ROW(min),
    [CT__RALL] = {[B] = (pass_fn)all_b}, [CT__RANY] = {[B] = (pass_fn)any_b},
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

ct_status ct__cpu_reduce(ct__call *c) {
    const ct__reduce_attrs *a = c->attrs;
    ct_tensor *t = c->in[0], *o = c->out[0];
    int di = dt_index(t->dtype);
    pass_fn fn = di >= 0 ? passes[c->op->code][di] : NULL;
    if (!fn) return ct__call_error(c, CT_ERR_UNIMPLEMENTED, "no CPU kernel for %s", CT__DESC(t));
    size_t es = ct_dtype_size(t->dtype);

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
    if (!any_red || t->size == 0) {
        /* Nothing reduced (a copy), or empty input: fill with the identity
         * value via a pass with R = 0 when there is output. */
        if (!any_red) {
            memcpy(ct__data(o), ct__data(t), ct__nbytes(o));
            return CT_OK;
        }
        fn(ct__data(t), ct__data(o), 1, 0, o->size, 1);
        return CT_OK;
    }

    const void *src = ct__data(t);
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
        void *dst = last ? ct__data(o) : malloc((size_t)(K * I) * es + 1);
        if (!dst) {
            free(tmp);
            return ct__call_error(c, CT_ERR_OUT_OF_MEMORY, "no host memory for a partial result");
        }
        fn(src, dst, K, R, I, ct__threads_for(total, 1));
        if (tmp) free(tmp);
        tmp = last ? NULL : dst;
        src = dst;
        total = K * I;
        gsize[g] = 1;
        gred[g] = false;
    }
    return CT_OK;
}
