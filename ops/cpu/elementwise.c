/*
 * CPU kernels of the elementwise families. Each (op, dtype) pair is a
 * function generated from one expression; the loop walks the output in
 * flat order and the inputs with broadcast strides, with unit-stride inner
 * loops the compiler vectorises. Large loops split across the thread
 * budget by flat ranges.
 *
 * The library is built for baseline x86-64 (SSE2), so the generated loops
 * are compiled three times (AVX-512, AVX2, baseline: GCC's target_clones)
 * and the loader picks the widest the processor runs. float32
 * transcendentals and roundings go to the vector math of vmath.c (which
 * dispatches the same way); float64 ones call libm per element.
 */
#include <math.h>
#include <omp.h>

#include "ops/cpu/vmath.h"
#include "ops/elementwise.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CT__CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CT__CLONES
#endif

void ct__bplan_make(ct__bplan *p, const ct_tensor *a, const ct_tensor *b, const ct_tensor *out) {
    int64_t sa[CT_MAX_RANK], sb[CT_MAX_RANK];
    int r = out->rank;
    ct__broadcast_strides(a->rank, a->shape, r, out->shape, sa);
    ct__broadcast_strides(b ? b->rank : 0, b ? b->shape : NULL, r, out->shape, sb);
    p->rank = 0;
    p->total = out->size;
    /* Merge dim i into the previous kept dim when both inputs step through
     * it contiguously (or both broadcast it). */
    for (int i = 0; i < r; i++) {
        if (out->shape[i] == 1) continue;
        int k = p->rank - 1;
        if (k >= 0 && sa[i] * out->shape[i] == p->sa[k] && sb[i] * out->shape[i] == p->sb[k] &&
            !(sa[i] == 0) == !(p->sa[k] == 0) && !(sb[i] == 0) == !(p->sb[k] == 0)) {
            p->shape[k] *= out->shape[i];
            p->sa[k] = sa[i];
            p->sb[k] = sb[i];
        } else {
            p->shape[p->rank] = out->shape[i];
            p->sa[p->rank] = sa[i];
            p->sb[p->rank] = sb[i];
            p->rank++;
        }
    }
    if (p->rank == 0) {
        p->rank = 1;
        p->shape[0] = 1;
        p->sa[0] = p->sb[0] = 1;
    }
}

typedef void (*bin_fn)(const void *a, const void *b, void *o, const ct__bplan *p, int64_t start,
                       int64_t end);

/* Walks output elements [start, end) of plan p, computing EXPR of x and y. */
#define DEFINE_BIN(NAME, T, OT, EXPR)                                                      \
    CT__CLONES static void NAME(const void *va, const void *vb, void *vo, const ct__bplan *p,         \
                     int64_t start, int64_t end) {                                         \
        const T *a = va;                                                                   \
        const T *b = vb;                                                                   \
        OT *o = vo;                                                                        \
        int r = p->rank;                                                                   \
        int64_t inner = p->shape[r - 1], idx[CT_MAX_RANK] = {0};                           \
        int64_t row = 0, col = start, oa = 0, ob = 0;                                      \
        if (r > 1) { /* flat loops skip the divisions */                                   \
            row = start / inner;                                                           \
            col = start % inner;                                                           \
        }                                                                                  \
        for (int d = r - 2; d >= 0; d--) {                                                 \
            idx[d] = row % p->shape[d];                                                    \
            row /= p->shape[d];                                                            \
            oa += idx[d] * p->sa[d];                                                       \
            ob += idx[d] * p->sb[d];                                                       \
        }                                                                                  \
        int64_t sa = p->sa[r - 1], sb = p->sb[r - 1];                                      \
        for (int64_t pos = start; pos < end;) {                                            \
            int64_t len = inner - col < end - pos ? inner - col : end - pos;               \
            const T *pa = a + oa + col * sa;                                               \
            const T *pb = b + ob + col * sb;                                               \
            OT *po = o + pos;                                                              \
            if (sa && sb) {                                                                \
                for (int64_t i = 0; i < len; i++) {                                        \
                    T x = pa[i], y = pb[i];                                                \
                    po[i] = (OT)(EXPR);                                                    \
                }                                                                          \
            } else if (sb) {                                                               \
                T x = pa[0];                                                               \
                for (int64_t i = 0; i < len; i++) {                                        \
                    T y = pb[i];                                                           \
                    po[i] = (OT)(EXPR);                                                    \
                }                                                                          \
            } else if (sa) {                                                               \
                T y = pb[0];                                                               \
                for (int64_t i = 0; i < len; i++) {                                        \
                    T x = pa[i];                                                           \
                    po[i] = (OT)(EXPR);                                                    \
                }                                                                          \
            } else {                                                                       \
                T x = pa[0], y = pb[0];                                                    \
                OT v = (OT)(EXPR);                                                         \
                for (int64_t i = 0; i < len; i++) po[i] = v;                               \
            }                                                                              \
            pos += len;                                                                    \
            col = 0;                                                                       \
            for (int d = r - 2; d >= 0; d--) {                                             \
                idx[d]++;                                                                  \
                oa += p->sa[d];                                                            \
                ob += p->sb[d];                                                            \
                if (idx[d] < p->shape[d]) break;                                           \
                oa -= idx[d] * p->sa[d];                                                   \
                ob -= idx[d] * p->sb[d];                                                   \
                idx[d] = 0;                                                                \
            }                                                                              \
        }                                                                                  \
    }

/* Integer helpers with Python's rounding. y == -1 is taken apart so that
 * INT_MIN // -1 wraps (as TF's two's-complement result) instead of trapping;
 * U is the unsigned type of T. Zero divisors are refused before the loop. */
#define IFLOORDIV(T, U, x, y)                                                              \
    ((y) == -1 ? (T)(U)(0 - (U)(x))                                                      \
               : (T)((x) / (y) - (((x) % (y) != 0) && (((x) < 0) != ((y) < 0)))))
#define IFLOORMOD(T, x, y)                                                                 \
    ((y) == -1 ? (T)0                                                                     \
               : (T)((x) % (y) + ((((x) % (y)) != 0 && ((((x) % (y)) < 0) != ((y) < 0))) ? (y) : 0)))

/* TF's FloorMod on floats: fmod, moved into the divisor's sign. */
static inline double fmod_floor(double x, double y) {
    double m = fmod(x, y);
    return m != 0 && ((y < 0) != (m < 0)) ? m + y : m;
}
static inline float fmodf_floor(float x, float y) {
    float m = fmodf(x, y);
    return m != 0 && ((y < 0) != (m < 0)) ? m + y : m;
}
/* x^y for y >= 0 by squaring, in unsigned arithmetic so overflow wraps as
 * TF's does; negative exponents are refused before the loop. */
static inline int64_t ipow64(int64_t x, int64_t y) {
    uint64_t ux = (uint64_t)x, ur = 1;
    while (y > 0) {
        if (y & 1) ur *= ux;
        ux *= ux;
        y >>= 1;
    }
    return (int64_t)ur;
}
/* NaN-propagating max/min (TF's Maximum/Minimum return NaN if either is). */
#define FMAX(x, y) ((x) != (x) || (x) > (y) ? (x) : (y))
#define FMIN(x, y) ((x) != (x) || (x) < (y) ? (x) : (y))
#define IMAX(x, y) ((x) > (y) ? (x) : (y))
#define IMIN(x, y) ((x) < (y) ? (x) : (y))

/* Wrapping arithmetic on small ints: computed in unsigned to avoid UB. */
#define WRAP(T, U, e) ((T)(U)(e))

#define ARITH_FLOAT(SUF, T, FL)                                                           \
    DEFINE_BIN(add_##SUF, T, T, x + y)                                                   \
    DEFINE_BIN(sub_##SUF, T, T, x - y)                                                   \
    DEFINE_BIN(mul_##SUF, T, T, x * y)                                                   \
    DEFINE_BIN(div_##SUF, T, T, x / y)                                                   \
    DEFINE_BIN(floordiv_##SUF, T, T, floor##FL(x / y))                                   \
    DEFINE_BIN(floormod_##SUF, T, T, fmod##FL##_floor(x, y))                             \
    DEFINE_BIN(pow_##SUF, T, T, pow##FL(x, y))                                           \
    DEFINE_BIN(max_##SUF, T, T, FMAX(x, y))                                              \
    DEFINE_BIN(min_##SUF, T, T, FMIN(x, y))                                              \
    DEFINE_BIN(sqdiff_##SUF, T, T, (x - y) * (x - y))                                    \
    DEFINE_BIN(relugrad_##SUF, T, T, x * (T)(y > 0)) /* TF: dy * (x > 0) */

ARITH_FLOAT(f32, float, f)
ARITH_FLOAT(f64, double, )

#define ARITH_INT(SUF, T, U, FDIV, FMOD)                                                  \
    DEFINE_BIN(add_##SUF, T, T, WRAP(T, U, (U)x + (U)y))                                 \
    DEFINE_BIN(sub_##SUF, T, T, WRAP(T, U, (U)x - (U)y))                                 \
    DEFINE_BIN(mul_##SUF, T, T, WRAP(T, U, (U)x * (U)y))                                 \
    DEFINE_BIN(floordiv_##SUF, T, T, FDIV)                                               \
    DEFINE_BIN(floormod_##SUF, T, T, FMOD)                                               \
    DEFINE_BIN(max_##SUF, T, T, IMAX(x, y))                                              \
    DEFINE_BIN(min_##SUF, T, T, IMIN(x, y))
/* Pow and SquaredDifference exist for signed integers only in TF. */
#define ARITH_SIGNED(SUF, T, U)                                                           \
    DEFINE_BIN(pow_##SUF, T, T, (T)ipow64((int64_t)x, (int64_t)y))                       \
    DEFINE_BIN(sqdiff_##SUF, T, T, WRAP(T, U, ((U)x - (U)y) * ((U)x - (U)y)))

ARITH_INT(i32, int32_t, uint32_t, IFLOORDIV(int32_t, uint32_t, x, y), IFLOORMOD(int32_t, x, y))
ARITH_INT(i64, int64_t, uint64_t, IFLOORDIV(int64_t, uint64_t, x, y), IFLOORMOD(int64_t, x, y))
ARITH_INT(u8, uint8_t, uint8_t, x / y, x % y)
ARITH_SIGNED(i32, int32_t, uint32_t)
ARITH_SIGNED(i64, int64_t, uint64_t)

#define COMPARE(SUF, T)                                                                   \
    DEFINE_BIN(eq_##SUF, T, bool, x == y)                                                \
    DEFINE_BIN(ne_##SUF, T, bool, x != y)                                                \
    DEFINE_BIN(lt_##SUF, T, bool, x < y)                                                 \
    DEFINE_BIN(le_##SUF, T, bool, x <= y)                                                \
    DEFINE_BIN(gt_##SUF, T, bool, x > y)                                                 \
    DEFINE_BIN(ge_##SUF, T, bool, x >= y)

COMPARE(f32, float)
COMPARE(f64, double)
COMPARE(i32, int32_t)
COMPARE(i64, int64_t)
COMPARE(u8, uint8_t)
COMPARE(b, bool)
DEFINE_BIN(and_b, bool, bool, x && y)
DEFINE_BIN(or_b, bool, bool, x || y)
DEFINE_BIN(xor_b, bool, bool, x != y)

/* Index: [code][dtype]. NULL: the dtype is refused by infer already. */
enum { F32, F64, I32, I64, U8, B, NDT };
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

#define ROW_ARITH(n) {n##_f32, n##_f64, n##_i32, n##_i64, n##_u8, NULL}
#define ROW_CMP(n) {n##_f32, n##_f64, n##_i32, n##_i64, n##_u8, n##_b}
static const bin_fn bin_table[CT__NUM_BINARY][NDT] = {
    [CT__ADD] = ROW_ARITH(add),       [CT__SUB] = ROW_ARITH(sub),
    [CT__MUL] = ROW_ARITH(mul),       [CT__DIV] = {div_f32, div_f64},
    [CT__FLOORDIV] = ROW_ARITH(floordiv), [CT__FLOORMOD] = ROW_ARITH(floormod),
    [CT__POW] = {pow_f32, pow_f64, pow_i32, pow_i64},
    [CT__MAX] = ROW_ARITH(max),       [CT__MIN] = ROW_ARITH(min),
    [CT__SQDIFF] = {sqdiff_f32, sqdiff_f64, sqdiff_i32, sqdiff_i64},
    [CT__RELU_GRAD] = {relugrad_f32, relugrad_f64},
    [CT__EQ] = ROW_CMP(eq), [CT__NE] = ROW_CMP(ne), [CT__LT] = ROW_CMP(lt),
    [CT__LE] = ROW_CMP(le), [CT__GT] = ROW_CMP(gt), [CT__GE] = ROW_CMP(ge),
    [CT__AND] = {[B] = and_b}, [CT__OR] = {[B] = or_b}, [CT__XOR] = {[B] = xor_b},
};

/* Splits [0, total) across threads; each runs fn on its range. */
static void run_split(bin_fn fn, const void *a, const void *b, void *o, const ct__bplan *p,
                      int64_t cost) {
    int nt = ct__threads_for(p->total, cost);
    if (nt <= 1) {
        fn(a, b, o, p, 0, p->total);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), n = omp_get_num_threads();
        /* Ranges aligned to 16 elements keep vector loops whole. */
        int64_t chunk = ((p->total + n - 1) / n + 15) & ~(int64_t)15;
        int64_t s = (int64_t)t * chunk, e = s + chunk < p->total ? s + chunk : p->total;
        if (s < e) fn(a, b, o, p, s, e);
    }
}

/* Index of the first element of b that is zero (want_neg false) or
 * negative (want_neg true), or -1. */
static int64_t find_bad_int(const ct_tensor *b, bool want_neg) {
    const void *d = ct__data(b);
    int64_t n = b->size;
#define FIND_BAD(T)                                                                        \
    do {                                                                                   \
        const T *v = d;                                                                    \
        for (int64_t i = 0; i < n; i++)                                                    \
            if (want_neg ? v[i] < 0 : v[i] == 0) return i;                                 \
    } while (0)
    switch (b->dtype) {
    case CT_INT32: FIND_BAD(int32_t); break;
    case CT_INT64: FIND_BAD(int64_t); break;
    case CT_UINT8: if (!want_neg) FIND_BAD(uint8_t); break;
    default: break;
    }
#undef FIND_BAD
    return -1;
}

/* TF's integer kernels refuse a zero divisor (FloorDiv, FloorMod) and a
 * negative exponent (Pow) anywhere in the second input. */
static ct_status check_int_operand(ct__call *c) {
    const ct_tensor *b = c->in[1];
    int code = c->op->code;
    if (!ct_dtype_is_integer(b->dtype)) return CT_OK;
    if (code == CT__FLOORDIV || code == CT__FLOORMOD) {
        int64_t i = find_bad_int(b, false);
        if (i >= 0)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "integer division by zero (divisor %s, element %lld)",
                                  CT__DESC(b), (long long)i);
    } else if (code == CT__POW) {
        int64_t i = find_bad_int(b, true);
        if (i < 0) return CT_OK;
        long long v = b->dtype == CT_INT32 ? ((const int32_t *)ct__data(b))[i]
                                           : ((const int64_t *)ct__data(b))[i];
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "integers to negative integer powers are not allowed (exponent "
                              "%s, element %lld is %lld); cast to a float type first",
                              CT__DESC(b), (long long)i, v);
    }
    return CT_OK;
}

ct_status ct__cpu_binary(ct__call *c) {
    ct_tensor *a = c->in[0], *b = c->in[1], *o = c->out[0];
    int di = dt_index(a->dtype);
    bin_fn fn = di >= 0 ? bin_table[c->op->code][di] : NULL;
    if (!fn)
        return ct__call_error(c, CT_ERR_UNIMPLEMENTED, "no CPU kernel for %s", CT__DESC(a));
    if (o->size == 0) return CT_OK;
    if (di == I32 || di == I64 || di == U8) {
        ct_status st = check_int_operand(c);
        if (st) return st;
    }
    ct__bplan p;
    int64_t n = o->size;
    if ((a->size == n || a->size == 1) && (b->size == n || b->size == 1)) {
        /* Equal shapes or a scalar side: one flat loop, no plan to build.
         * (An input with as many elements as the output has its layout.) */
        p.rank = 1;
        p.shape[0] = p.total = n;
        p.sa[0] = a->size == n ? 1 : 0;
        p.sb[0] = b->size == n ? 1 : 0;
    } else {
        ct__bplan_make(&p, a, b, o);
    }
    int code = c->op->code;
    int64_t cost = code == CT__POW || code == CT__FLOORMOD ? 20 : code == CT__FLOORDIV ? 8 : 1;
    run_split(fn, ct__data(a), ct__data(b), ct__data(o), &p, cost);
    return CT_OK;
}

/* ---- unary ------------------------------------------------------------------- */

typedef void (*un_fn)(const void *a, void *o, int64_t start, int64_t end);

/* Loops of inline expressions, cloned per instruction set. */
#define DEFINE_UN(NAME, T, OT, EXPR)                                                       \
    CT__CLONES static void NAME(const void *va, void *vo, int64_t start, int64_t end) {    \
        const T *a = va;                                                                   \
        OT *o = vo;                                                                        \
        for (int64_t i = start; i < end; i++) {                                            \
            T x = a[i];                                                                    \
            o[i] = (OT)(EXPR);                                                             \
        }                                                                                  \
    }
/* Loops that call libm per element (float64 transcendentals). */
#define DEFINE_UN_LIBM(NAME, T, EXPR)                                                      \
    static void NAME(const void *va, void *vo, int64_t start, int64_t end) {               \
        const T *a = va;                                                                   \
        T *o = vo;                                                                         \
        for (int64_t i = start; i < end; i++) {                                            \
            T x = a[i];                                                                    \
            o[i] = EXPR;                                                                   \
        }                                                                                  \
    }
/* Kernels of the vector math library (vmath.h). */
#define DEFINE_UN_VM(NAME, T, FN)                                                          \
    static void NAME(const void *va, void *vo, int64_t start, int64_t end) {               \
        FN((const T *)va + start, (T *)vo + start, end - start);                           \
    }

static inline double sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }
/* softplus(x) = log(1 + e^x) as TF's kernel computes it: x where e^x would
 * overflow and the correction is below epsilon, e^x where it is tiny, the
 * formula between. The threshold is log(epsilon) + 2. (float32: vmath.c) */
static inline double softplus(double x) {
    const double th = -34.043653389117154; /* log(DBL_EPSILON) + 2 */
    return x > -th ? x : x < th ? exp(x) : log1p(exp(x));
}

#define UNARY_FLOAT(SUF, T, FL)                                                            \
    DEFINE_UN(neg_##SUF, T, T, -x)                                                        \
    DEFINE_UN(abs_##SUF, T, T, fabs##FL(x))                                               \
    DEFINE_UN(sign_##SUF, T, T, x > 0 ? 1 : x < 0 ? -1 : x == 0 ? 0 : x)                  \
    DEFINE_UN(square_##SUF, T, T, x * x)                                                  \
    DEFINE_UN(recip_##SUF, T, T, 1 / x)                                                   \
    DEFINE_UN(relu_##SUF, T, T, x < 0 ? 0 : x) /* NaN, -0 pass: TF's max(x, 0) */       \
    DEFINE_UN(isnan_##SUF, T, bool, x != x)                                               \
    DEFINE_UN(isinf_##SUF, T, bool, fabs##FL(x) == (T)INFINITY)                           \
    DEFINE_UN(isfinite_##SUF, T, bool, fabs##FL(x) < (T)INFINITY)                         \
    DEFINE_UN_VM(sqrt_##SUF, T, ct__vm_sqrt_##SUF)                                        \
    DEFINE_UN_VM(rsqrt_##SUF, T, ct__vm_rsqrt_##SUF)                                      \
    DEFINE_UN_VM(floor_##SUF, T, ct__vm_floor_##SUF)                                      \
    DEFINE_UN_VM(ceil_##SUF, T, ct__vm_ceil_##SUF)                                        \
    DEFINE_UN_VM(round_##SUF, T, ct__vm_round_##SUF)

UNARY_FLOAT(f32, float, f)
UNARY_FLOAT(f64, double, )

DEFINE_UN_VM(exp_f32, float, ct__vm_exp_f32)
DEFINE_UN_VM(expm1_f32, float, ct__vm_expm1_f32)
DEFINE_UN_VM(log_f32, float, ct__vm_log_f32)
DEFINE_UN_VM(log1p_f32, float, ct__vm_log1p_f32)
DEFINE_UN_VM(sin_f32, float, ct__vm_sin_f32)
DEFINE_UN_VM(cos_f32, float, ct__vm_cos_f32)
DEFINE_UN_VM(tanh_f32, float, ct__vm_tanh_f32)
DEFINE_UN_VM(sigmoid_f32, float, ct__vm_sigmoid_f32)
DEFINE_UN_VM(softplus_f32, float, ct__vm_softplus_f32)
DEFINE_UN_VM(erf_f32, float, ct__vm_erf_f32)

DEFINE_UN_LIBM(exp_f64, double, exp(x))
DEFINE_UN_LIBM(expm1_f64, double, expm1(x))
DEFINE_UN_LIBM(log_f64, double, log(x))
DEFINE_UN_LIBM(log1p_f64, double, log1p(x))
DEFINE_UN_LIBM(sin_f64, double, sin(x))
DEFINE_UN_LIBM(cos_f64, double, cos(x))
DEFINE_UN_LIBM(tanh_f64, double, tanh(x))
DEFINE_UN_LIBM(sigmoid_f64, double, sigmoid(x))
DEFINE_UN_LIBM(softplus_f64, double, softplus(x))
DEFINE_UN_LIBM(erf_f64, double, erf(x))

#define UNARY_INT(SUF, T, U)                                                               \
    DEFINE_UN(neg_##SUF, T, T, WRAP(T, U, 0 - (U)x))                                      \
    DEFINE_UN(abs_##SUF, T, T, x < 0 ? WRAP(T, U, 0 - (U)x) : x)                          \
    DEFINE_UN(sign_##SUF, T, T, (x > 0) - (x < 0))                                        \
    DEFINE_UN(square_##SUF, T, T, WRAP(T, U, (U)x * (U)x))                                \
    DEFINE_UN(relu_##SUF, T, T, x > 0 ? x : 0)                                            \
    DEFINE_UN(round_##SUF, T, T, x)

UNARY_INT(i32, int32_t, uint32_t)
UNARY_INT(i64, int64_t, uint64_t)
DEFINE_UN(square_u8, uint8_t, uint8_t, (uint8_t)(x * x))
DEFINE_UN(relu_u8, uint8_t, uint8_t, x)
DEFINE_UN(not_b, bool, bool, !x)

#define UROW_F(n) {n##_f32, n##_f64}
#define UROW_I(n) {n##_f32, n##_f64, n##_i32, n##_i64}
static const un_fn un_table[CT__NUM_UNARY][NDT] = {
    [CT__NEG] = UROW_I(neg), [CT__ABS] = UROW_I(abs), [CT__SIGN] = UROW_I(sign),
    [CT__SQRT] = UROW_F(sqrt), [CT__RSQRT] = UROW_F(rsqrt),
    [CT__SQUARE] = {square_f32, square_f64, square_i32, square_i64, square_u8},
    [CT__RECIP] = UROW_F(recip), [CT__EXP] = UROW_F(exp), [CT__EXPM1] = UROW_F(expm1),
    [CT__LOG] = UROW_F(log), [CT__LOG1P] = UROW_F(log1p), [CT__SIN] = UROW_F(sin),
    [CT__COS] = UROW_F(cos), [CT__TANH] = UROW_F(tanh), [CT__SIGMOID] = UROW_F(sigmoid),
    [CT__RELU] = {relu_f32, relu_f64, relu_i32, relu_i64, relu_u8},
    [CT__SOFTPLUS] = UROW_F(softplus), [CT__ERF] = UROW_F(erf),
    [CT__FLOOR] = UROW_F(floor), [CT__CEIL] = UROW_F(ceil), [CT__ROUND] = UROW_I(round),
    [CT__ISNAN] = UROW_F(isnan), [CT__ISINF] = UROW_F(isinf),
    [CT__ISFINITE] = UROW_F(isfinite), [CT__NOT] = {[B] = not_b},
};

ct_status ct__cpu_unary(ct__call *c) {
    ct_tensor *a = c->in[0], *o = c->out[0];
    int di = dt_index(a->dtype);
    un_fn fn = di >= 0 ? un_table[c->op->code][di] : NULL;
    if (!fn)
        return ct__call_error(c, CT_ERR_UNIMPLEMENTED, "no CPU kernel for %s", CT__DESC(a));
    /* Rough ns per element: the transcendentals are vectorised in float32
     * and call libm per element in float64. */
    int code = c->op->code;
    bool transcendental = (code >= CT__EXP && code <= CT__SIGMOID) || code == CT__SOFTPLUS ||
                          code == CT__ERF;
    int64_t cost = !transcendental ? 1 : a->dtype == CT_FLOAT32 ? 2 : 15;
    int64_t n = o->size;
    const void *src = ct__data(a);
    void *dst = ct__data(o);
    int nt = ct__threads_for(n, cost);
    if (nt <= 1) {
        fn(src, dst, 0, n);
        return CT_OK;
    }
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), k = omp_get_num_threads();
        int64_t chunk = ((n + k - 1) / k + 15) & ~(int64_t)15;
        int64_t s = (int64_t)t * chunk, e = s + chunk < n ? s + chunk : n;
        if (s < e) fn(src, dst, s, e);
    }
    return CT_OK;
}
