/*
 * Vectorised float math (see vmath.h for the contract).
 *
 * The functions are written once with GCC vector extensions over W lanes
 * (the second half of this file, included three times with W = 4, 8, 16
 * under the matching target pragma) and picked at load time by cpuid. No
 * -ffast-math: every step is an IEEE operation, so the compiler keeps the
 * rounding tricks below, and a*b + c may become one FMA where the target
 * has it (GCC's default -ffp-contract=fast), which only makes steps more
 * exact.
 *
 * Methods (float32 results):
 * - exp: x = n ln2 + r, |r| <= ln2/2 (ln2 in two parts, Cody-Waite), Cephes's
 *   degree-6 polynomial for e^r; 2^n applied in two halves, so overflow to
 *   inf and gradual underflow into the denormals round once.
 * - expm1: the same reduction; expm1(r) by its Taylor series to r^7, then
 *   (2^n - 1) + 2^n expm1(r), exact for n = 0 (small x keep full accuracy).
 * - log: x = 2^e m with m in [sqrt(1/2), sqrt(2)), Cephes's degree-8
 *   polynomial in m - 1; denormals are scaled by 2^23 first.
 *   log1p(x) = log(1 + x) + c / (1 + x), c the rounding error of 1 + x.
 * - tanh: Cephes's odd polynomial below 0.625, else 1 - 2 / (e^2|x| + 1).
 * - sigmoid: e = exp(-|x|), 1 / (1 + e) or e / (1 + e): no overflow.
 * - erf, sin, cos: in double, where the float error budget is easy to
 *   meet: erf by Chebyshev fits (x P(x^2) below 1, two pieces in x on
 *   [1, 4], 1 beyond); sin/cos reduced by pi/2 in three parts (exact for
 *   |x| < 2^22) and Taylor polynomials on [-pi/4, pi/4]. Larger |x| goes
 *   to libm lane by lane.
 */
#ifndef VM_TEMPLATE

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "ops/cpu/vmath.h"

typedef void (*vm_f32)(const float *, float *, int64_t);
typedef void (*vm_f64)(const double *, double *, int64_t);

#define VM_TEMPLATE

#define W 4
#define SUF sse2
#define SQRT_PS(v) ((vf)_mm_sqrt_ps((__m128)(v)))
#define SQRT_PD(v) ((vd)_mm_sqrt_pd((__m128d)(v)))
#define MAX_PS(a, b) ((vf)_mm_max_ps((__m128)(a), (__m128)(b)))
#define MIN_PS(a, b) ((vf)_mm_min_ps((__m128)(a), (__m128)(b)))
#include "ops/cpu/vmath.c"
#undef W
#undef SUF
#undef SQRT_PS
#undef SQRT_PD
#undef MAX_PS
#undef MIN_PS

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define W 8
#define SUF avx2
#define SQRT_PS(v) ((vf)_mm256_sqrt_ps((__m256)(v)))
#define SQRT_PD(v) ((vd)_mm256_sqrt_pd((__m256d)(v)))
#define MAX_PS(a, b) ((vf)_mm256_max_ps((__m256)(a), (__m256)(b)))
#define MIN_PS(a, b) ((vf)_mm256_min_ps((__m256)(a), (__m256)(b)))
#include "ops/cpu/vmath.c"
#undef W
#undef SUF
#undef SQRT_PS
#undef SQRT_PD
#undef MAX_PS
#undef MIN_PS
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
#define W 16
#define SUF avx512
#define SQRT_PS(v) ((vf)_mm512_sqrt_ps((__m512)(v)))
#define SQRT_PD(v) ((vd)_mm512_sqrt_pd((__m512d)(v)))
#define MAX_PS(a, b) ((vf)_mm512_max_ps((__m512)(a), (__m512)(b)))
#define MIN_PS(a, b) ((vf)_mm512_min_ps((__m512)(a), (__m512)(b)))
/* e * 2^n in one instruction, overflow and denormals included. */
#define SCALEF_PS(e, n) ((vf)_mm512_scalef_ps((__m512)(e), (__m512)(n)))
#include "ops/cpu/vmath.c"
#undef W
#undef SUF
#undef SQRT_PS
#undef SQRT_PD
#undef MAX_PS
#undef MIN_PS
#pragma GCC pop_options

#undef VM_TEMPLATE

/* ---- run-time choice ---------------------------------------------------------- */

static int vm_best, vm_isa; /* set before main by vm_init */

__attribute__((constructor)) static void vm_init(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        vm_best = CT__VM_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        vm_best = CT__VM_AVX2;
    else
        vm_best = CT__VM_SSE2;
    vm_isa = vm_best;
}

int ct__vm_isa(void) { return vm_isa; }

int ct__vm_set_isa(int isa) {
    if (isa < CT__VM_SSE2) isa = CT__VM_SSE2;
    vm_isa = isa < vm_best ? isa : vm_best;
    return vm_isa;
}

#define EXPORT(NAME, T, FT)                                                                 \
    void ct__vm_##NAME(const T *x, T *y, int64_t n) {                                      \
        static const FT tab[3] = {NAME##_sse2, NAME##_avx2, NAME##_avx512};                \
        tab[vm_isa](x, y, n);                                                              \
    }
EXPORT(exp_f32, float, vm_f32)
EXPORT(expm1_f32, float, vm_f32)
EXPORT(log_f32, float, vm_f32)
EXPORT(log1p_f32, float, vm_f32)
EXPORT(tanh_f32, float, vm_f32)
EXPORT(sigmoid_f32, float, vm_f32)
EXPORT(softplus_f32, float, vm_f32)
EXPORT(erf_f32, float, vm_f32)
EXPORT(sin_f32, float, vm_f32)
EXPORT(cos_f32, float, vm_f32)
EXPORT(sqrt_f32, float, vm_f32)
EXPORT(rsqrt_f32, float, vm_f32)
EXPORT(floor_f32, float, vm_f32)
EXPORT(ceil_f32, float, vm_f32)
EXPORT(round_f32, float, vm_f32)
EXPORT(sqrt_f64, double, vm_f64)
EXPORT(rsqrt_f64, double, vm_f64)
EXPORT(floor_f64, double, vm_f64)
EXPORT(ceil_f64, double, vm_f64)
EXPORT(round_f64, double, vm_f64)

#else /* VM_TEMPLATE: one instruction set, W float lanes, names end in _SUF */

#define VM_CAT_(a, b) a##_##b
#define VM_CAT(a, b) VM_CAT_(a, b)
#define V(name) VM_CAT(name, SUF)

typedef float V(vf) __attribute__((vector_size(4 * W)));
typedef int32_t V(vi) __attribute__((vector_size(4 * W)));
typedef uint32_t V(vu) __attribute__((vector_size(4 * W)));
/* Half as many lanes in double precision: the same register width. */
typedef float V(vh) __attribute__((vector_size(2 * W)));
typedef double V(vd) __attribute__((vector_size(4 * W)));
typedef int64_t V(vl) __attribute__((vector_size(4 * W)));
typedef uint64_t V(vq) __attribute__((vector_size(4 * W)));
#define vf V(vf)
#define vi V(vi)
#define vu V(vu)
#define vh V(vh)
#define vd V(vd)
#define vl V(vl)
#define vq V(vq)
#define H (W / 2)

static inline vf V(fs)(float c) {
    vf v;
    for (int l = 0; l < W; l++) v[l] = c;
    return v;
}
static inline vd V(ds)(double c) {
    vd v;
    for (int l = 0; l < H; l++) v[l] = c;
    return v;
}
/* m ? a : b lane by lane (m lanes are 0 or all ones). */
static inline vf V(sel)(vi m, vf a, vf b) { return (vf)((m & (vi)a) | (~m & (vi)b)); }
static inline vd V(seld)(vl m, vd a, vd b) { return (vd)((m & (vl)a) | (~m & (vl)b)); }
static inline vf V(absf)(vf x) { return (vf)((vu)x & 0x7fffffffu); }
static inline vd V(absd)(vd x) { return (vd)((vq)x & 0x7fffffffffffffffull); }
/* |a| with the sign of s. */
static inline vf V(signf)(vf a, vf s) { return (vf)((vu)a | ((vu)s & 0x80000000u)); }
static inline vd V(signd)(vd a, vd s) { return (vd)((vq)a | ((vq)s & 0x8000000000000000ull)); }

/* ---- float32 ---------------------------------------------------------------- */

/* Clamping with max/min (which return the second operand for NaN) keeps
 * NaN lanes finite until the final select gives them back. */
static inline vf V(exp)(vf x) {
    vf xc = MIN_PS(MAX_PS(x, V(fs)(-104.0f)), V(fs)(88.8f));
    vf fn = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    vf r = xc - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    vf p = V(fs)(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    vf e = p * r * r + r + 1.0f;
#ifdef SCALEF_PS
    vf res = SCALEF_PS(e, fn);
#else
    vi n = __builtin_convertvector(fn, vi), n1 = n >> 1, n2 = n - n1;
    vf s1 = (vf)((vu)(n1 + 127) << 23), s2 = (vf)((vu)(n2 + 127) << 23);
    vf res = e * s1 * s2;
#endif
    return V(sel)(x != x, x, res);
}

static inline vf V(expm1)(vf x) {
    vi keep = (x != x) | (x == 0); /* NaN and +-0 are their own results */
    vf xc = MIN_PS(MAX_PS(x, V(fs)(-30.0f)), V(fs)(88.8f));
    vf fn = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    vf r = xc - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    vf q = V(fs)(1.0f / 5040);
    q = q * r + 1.0f / 720;
    q = q * r + 1.0f / 120;
    q = q * r + 1.0f / 24;
    q = q * r + 1.0f / 6;
    q = q * r + 0.5f;
    vf p = (r * r) * q + r;
    /* n = 128 (just below overflow) scales by 2^127 and then by 2. */
    vi n = __builtin_convertvector(fn, vi), m = (n > 127) & 1;
    vf u = (vf)((vu)(n - m + 127) << 23), s = (vf)((vu)(m + 127) << 23);
    vf res = ((u - 1.0f) + u * p) * s;
    return V(sel)(keep, x, res);
}

static inline vf V(log)(vf x) {
    vi den = x < 0x1p-126f;
    vf xs = V(sel)(den, x * 0x1p23f, x);
    vu b = (vu)xs;
    vi e = (vi)(b - 0x3f3504f3u) >> 23;
    vf m = (vf)(b - ((vu)e << 23));
    vf fe = __builtin_convertvector(e, vf) - (vf)(den & (vi)V(fs)(23.0f));
    vf f = m - 1.0f;
    vf z = f * f;
    vf p = V(fs)(7.0376836292e-2f);
    p = p * f - 1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f - 1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f - 1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f - 2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    vf y = f * z * p;
    y = y + fe * -2.12194440e-4f;
    y = y - 0.5f * z;
    vf r = f + y;
    r = r + fe * 0.693359375f;
    r = V(sel)(x == 0, V(fs)(-INFINITY), r);
    r = V(sel)(x < 0, V(fs)(NAN), r);
    return V(sel)((x != x) | (x == INFINITY), x, r);
}

static inline vf V(log1p)(vf x) {
    vf u = 1.0f + x;
    /* The rounding error of 1 + x, exactly (Fast2Sum, larger operand
     * first); 0 where u is 0 or inf, whose log is already the answer. */
    vf c = V(sel)(x > 1.0f, 1.0f - (u - x), x - (u - 1.0f));
    vi ok = (u > 0) & (u < INFINITY);
    vf r = V(log)(u) + (vf)(ok & (vi)(c / V(sel)(ok, u, V(fs)(1.0f))));
    /* Below 2^-25, log1p(x) rounds to x (keeps -0 and denormals). */
    return V(sel)(V(absf)(x) < 0x1p-25f, x, r);
}

static inline vf V(tanh)(vf x) {
    vf a = V(absf)(x);
    vf z = a * a;
    vf p = V(fs)(-5.70498872745e-3f);
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    vf small = p * z * a + a;
    vf big = 1.0f - 2.0f / (V(exp)(a + a) + 1.0f);
    return V(signf)(V(sel)(a < 0.625f, small, big), x);
}

static inline vf V(sigmoid)(vf x) {
    vf e = V(exp)(-V(absf)(x));
    return V(sel)(x >= 0, V(fs)(1.0f), e) / (1.0f + e);
}

static inline vf V(softplus)(vf x) {
    const float th = -13.942385f; /* log(FLT_EPSILON) + 2, as TF */
    vf e = V(exp)(x);
    vf r = V(sel)(x < th, e, V(log1p)(e));
    return V(sel)(x > -th, x, r);
}

/* Round to integral, half to even: adding and subtracting 2^23 rounds in
 * the current (nearest) mode; |x| >= 2^23, inf and NaN are integral. */
static inline vf V(rint)(vf x) {
    vf a = V(absf)(x);
    vf r = V(signf)((a + 0x1p23f) - 0x1p23f, x);
    return V(sel)(a < 0x1p23f, r, x);
}
/* floor and ceil have the sign of x (ceil(-0.5) is -0). */
static inline vf V(floorv)(vf x) {
    vf t = V(rint)(x);
    return V(signf)(V(absf)(t - (vf)((t > x) & (vi)V(fs)(1.0f))), x);
}
static inline vf V(ceilv)(vf x) {
    vf t = V(rint)(x);
    return V(signf)(V(absf)(t + (vf)((t < x) & (vi)V(fs)(1.0f))), x);
}
static inline vf V(sqrtv)(vf x) { return SQRT_PS(x); }
static inline vf V(rsqrtv)(vf x) { return 1.0f / SQRT_PS(x); }

/* ---- double precision helpers ------------------------------------------------- */

static inline vd V(erfd)(vd x) {
    vd a = V(absd)(x);
    a = V(seld)(a > 4.0, V(ds)(4.0), a); /* erf(4) rounds to 1 in float */
    vd z = a * a;
    vd s = V(ds)(-9.7284079033802546e-06);
    s = s * z + 0.0001128817455611587;
    s = s * z - 0.0008487267697179741;
    s = s * z + 0.0052212614925702568;
    s = s * z - 0.026865517442786688;
    s = s * z + 0.11283784111787699;
    s = s * z - 0.37612638590423747;
    s = s * z + 1.1283791670822854;
    s = s * a;
    /* [1, 2.5] around 1.75 and [2.5, 4] around 3.25, degree 12 each. */
    static const double A[13] = {
        0.98667167120873112,     0.05277499714306097,     -0.092356241057095459,
        0.090157223620105073,    -0.048102261601605509,   0.0066252448046599036,
        0.0089635969750463951,   -0.0060642695449696837,  0.00072725115211012077,
        0.00091120595511233352,  -0.00043546650850862054, -3.1632014028091695e-05,
        5.9312539855989513e-05};
    static const double B[13] = {
        0.99999569722042803,     2.9189066960944921e-05,  -9.4864313945437157e-05,
        0.00019580762320109808,  -0.00028656985003944083, 0.00031382731208217534,
        -0.00026352326803267146, 0.00016980456471620236,  -8.1672494354315974e-05,
        2.6484516769846756e-05,  -2.2715855206847143e-06, -3.7240563774280834e-06,
        1.8500572098470672e-06};
    vl lo = a < 2.5;
    vd t = a - V(seld)(lo, V(ds)(1.75), V(ds)(3.25));
    vd b = V(seld)(lo, V(ds)(A[12]), V(ds)(B[12]));
    for (int k = 11; k >= 0; k--) b = b * t + V(seld)(lo, V(ds)(A[k]), V(ds)(B[k]));
    return V(signd)(V(seld)(a < 1.0, s, b), x);
}

/* sin(x) (cosine 0) or cos(x) (cosine 1) for |x| < 2^22. */
static inline vd V(sincosd)(vd x, int cosine) {
    const double magic = 6755399441055744.0; /* 1.5 * 2^52 */
    vd t = x * 0.6366197723675814 + magic;
    vd y = t - magic;
    vl q = (vl)t + cosine; /* low bits: the quadrant */
    /* pi/2 = P1 + P2 + P3, P1 and P2 with 30 bits: y * P1, y * P2 exact. */
    vd r = x - y * 1.570796325802803;
    r = r - y * 9.920935791635221e-10;
    r = r - y * 5.170182981794105e-19;
    vd z = r * r;
    vd s = V(ds)(1.0 / 362880);
    s = s * z - 1.0 / 5040;
    s = s * z + 1.0 / 120;
    s = s * z - 1.0 / 6;
    s = (s * z) * r + r;
    vd c = V(ds)(-1.0 / 3628800);
    c = c * z + 1.0 / 40320;
    c = c * z - 1.0 / 720;
    c = c * z + 1.0 / 24;
    c = c * z - 0.5;
    c = c * z + 1.0;
    vd v = V(seld)((q & 1) != 0, c, s);
    v = (vd)((vq)v ^ ((vq)(q & 2) << 62));
    /* sin(-0) is -0, which r + r^3 s(r) loses. */
    return cosine ? v : V(seld)(x == 0.0, x, v);
}

static inline vd V(rintd)(vd x) {
    vd a = V(absd)(x);
    vd r = V(signd)((a + 0x1p52) - 0x1p52, x);
    return V(seld)(a < 0x1p52, r, x);
}
static inline vd V(floord)(vd x) {
    vd t = V(rintd)(x);
    return V(signd)(V(absd)(t - (vd)((t > x) & (vl)V(ds)(1.0))), x);
}
static inline vd V(ceild)(vd x) {
    vd t = V(rintd)(x);
    return V(signd)(V(absd)(t + (vd)((t < x) & (vl)V(ds)(1.0))), x);
}
static inline vd V(sqrtd)(vd x) { return SQRT_PD(x); }
static inline vd V(rsqrtd)(vd x) { return 1.0 / SQRT_PD(x); }

/* ---- array loops -------------------------------------------------------------- */

/* float -> float, W lanes; the tail is padded with `pad`. */
#define MAP_F(NAME, FN, PAD)                                                               \
    static void V(NAME)(const float *x, float *y, int64_t n) {                              \
        int64_t i = 0;                                                                     \
        for (; i + W <= n; i += W) {                                                       \
            vf v;                                                                          \
            memcpy(&v, x + i, sizeof v);                                                   \
            v = FN(v);                                                                     \
            memcpy(y + i, &v, sizeof v);                                                   \
        }                                                                                  \
        if (i < n) {                                                                       \
            vf v = V(fs)(PAD);                                                             \
            for (int64_t l = 0; l < n - i; l++) v[l] = x[i + l];                           \
            v = FN(v);                                                                     \
            for (int64_t l = 0; l < n - i; l++) y[i + l] = v[l];                           \
        }                                                                                  \
    }
/* float -> float computed in double, H lanes. */
#define MAP_H(NAME, FN, PAD)                                                               \
    static void V(NAME)(const float *x, float *y, int64_t n) {                              \
        int64_t i = 0;                                                                     \
        for (; i + H <= n; i += H) {                                                       \
            vh v;                                                                          \
            memcpy(&v, x + i, sizeof v);                                                   \
            v = __builtin_convertvector(FN(__builtin_convertvector(v, vd)), vh);           \
            memcpy(y + i, &v, sizeof v);                                                   \
        }                                                                                  \
        if (i < n) {                                                                       \
            vd v = V(ds)(PAD);                                                             \
            for (int64_t l = 0; l < n - i; l++) v[l] = x[i + l];                           \
            v = FN(v);                                                                     \
            for (int64_t l = 0; l < n - i; l++) y[i + l] = (float)v[l];                    \
        }                                                                                  \
    }
/* double -> double, H lanes. */
#define MAP_D(NAME, FN, PAD)                                                               \
    static void V(NAME)(const double *x, double *y, int64_t n) {                            \
        int64_t i = 0;                                                                     \
        for (; i + H <= n; i += H) {                                                       \
            vd v;                                                                          \
            memcpy(&v, x + i, sizeof v);                                                   \
            v = FN(v);                                                                     \
            memcpy(y + i, &v, sizeof v);                                                   \
        }                                                                                  \
        if (i < n) {                                                                       \
            vd v = V(ds)(PAD);                                                             \
            for (int64_t l = 0; l < n - i; l++) v[l] = x[i + l];                           \
            v = FN(v);                                                                     \
            for (int64_t l = 0; l < n - i; l++) y[i + l] = v[l];                           \
        }                                                                                  \
    }

MAP_F(exp_f32, V(exp), 0)
MAP_F(expm1_f32, V(expm1), 0)
MAP_F(log_f32, V(log), 1)
MAP_F(log1p_f32, V(log1p), 0)
MAP_F(tanh_f32, V(tanh), 0)
MAP_F(sigmoid_f32, V(sigmoid), 0)
MAP_F(softplus_f32, V(softplus), 0)
MAP_F(sqrt_f32, V(sqrtv), 1)
MAP_F(rsqrt_f32, V(rsqrtv), 1)
MAP_F(floor_f32, V(floorv), 0)
MAP_F(ceil_f32, V(ceilv), 0)
MAP_F(round_f32, V(rint), 0)
MAP_H(erf_f32, V(erfd), 0)
MAP_D(sqrt_f64, V(sqrtd), 1)
MAP_D(rsqrt_f64, V(rsqrtd), 1)
MAP_D(floor_f64, V(floord), 0)
MAP_D(ceil_f64, V(ceild), 0)
MAP_D(round_f64, V(rintd), 0)

/* sin and cos: lanes with |x| >= 2^22, inf or NaN are redone by libm. */
static inline void V(trig)(const float *x, float *y, int64_t n, int cosine) {
    for (int64_t i = 0; i < n; i += H) {
        int64_t len = n - i < H ? n - i : H;
        vd d = V(ds)(0);
        if (len == H) {
            vh v;
            memcpy(&v, x + i, sizeof v);
            d = __builtin_convertvector(v, vd);
        } else {
            for (int64_t l = 0; l < len; l++) d[l] = x[i + l];
        }
        vl big = ~(V(absd)(d) < 0x1p22);
        vd r = V(sincosd)(V(seld)(big, V(ds)(0), d), cosine);
        int64_t any = 0;
        for (int l = 0; l < H; l++) any |= big[l];
        if (any)
            for (int l = 0; l < len; l++)
                if (big[l]) r[l] = cosine ? cosf((float)d[l]) : sinf((float)d[l]);
        if (len == H) {
            vh v = __builtin_convertvector(r, vh);
            memcpy(y + i, &v, sizeof v);
        } else {
            for (int64_t l = 0; l < len; l++) y[i + l] = (float)r[l];
        }
    }
}
static void V(sin_f32)(const float *x, float *y, int64_t n) { V(trig)(x, y, n, 0); }
static void V(cos_f32)(const float *x, float *y, int64_t n) { V(trig)(x, y, n, 1); }

#undef MAP_F
#undef MAP_H
#undef MAP_D
#undef vf
#undef vi
#undef vu
#undef vh
#undef vd
#undef vl
#undef vq
#undef H
#undef V
#undef VM_CAT
#undef VM_CAT_

#endif /* VM_TEMPLATE */
