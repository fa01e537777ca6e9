/*
 * Fused CPU updates of the Keras optimizers (see optimizer_kernels.h).
 *
 * Bit-identical to the op chain in optimizers.c: each statement below is
 * one op of that chain (one IEEE operation in the variable's dtype), in the
 * same order and with the same operands, and this file is compiled without
 * floating-point contraction, so a * b + c never becomes one FMA (the AVX2
 * and AVX-512 clones have FMA instructions). Square roots go through
 * vmath's vector sqrt over blocks, the very function ct_sqrt runs (libm's
 * sqrtf would not vectorise: with errno it keeps a call per element, and
 * -fno-math-errno cannot be set per file or function). Ftrl's pow is
 * libm's, per element, as the op's kernel calls it.
 *
 * Each rule's loop is an always-inline function of its flags (weight decay,
 * momentum, ...), called with constant flags so that each variant is a
 * branch-free loop the compiler vectorises (the maxima and clips become
 * vector selects); the loops are compiled for AVX-512, AVX2 and the SSE2
 * baseline (target_clones), as the elementwise kernels are.
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#else
#pragma GCC optimize("fp-contract=off")
#endif

#include "nn/optimizer_kernels.h"

#include <math.h>
#include <omp.h>

#include "ops/cpu/vmath.h"
#include "runtime/internal.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CT__CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CT__CLONES
#endif
#define INLINE static inline __attribute__((always_inline))

/* Elements per block of the rules with a square root: a first loop updates
 * the slots and leaves the radicands in a buffer on the stack, vmath's
 * vector sqrt (the one ct_sqrt runs) takes their roots there, and a second
 * loop, on data still in L1, finishes the variable. */
#define BLOCK 256

/* The ops' NaN-propagating maximum / minimum (ops/cpu/elementwise.c). */
#define FMAX(x, y) ((x) != (x) || (x) > (y) ? (x) : (y))
#define FMIN(x, y) ((x) != (x) || (x) < (y) ? (x) : (y))

/* The arrays of a, and the coefficients every rule may use, as type T. */
#define ARRAYS(T)                                                                          \
    const T *restrict g = (const T *)a->g;                                                 \
    T *restrict w = (T *)a->w;                                                             \
    T *restrict s0 = (T *)a->s[0];                                                         \
    T *restrict s1 = (T *)a->s[1];                                                         \
    T *restrict s2 = (T *)a->s[2];                                                         \
    const T lr = (T)a->lr, wd = (T)a->weight_decay, eps = (T)a->eps;                       \
    (void)s0, (void)s1, (void)s2, (void)lr, (void)wd, (void)eps

/* Element i of the variable after the decoupled weight decay:
 * variable - variable * weight_decay * lr. */
#define LOAD_W(T) T wi = decay ? w[i] - (w[i] * wd) * lr : w[i]

/* Calls LOOP(decay, flag) with both flags as constants. */
#define DISPATCH2(LOOP, a, s, e, f)                                                        \
    do {                                                                                   \
        if ((a)->decay) {                                                                  \
            if (f) LOOP(a, s, e, true, true);                                              \
            else LOOP(a, s, e, true, false);                                               \
        } else {                                                                           \
            if (f) LOOP(a, s, e, false, true);                                             \
            else LOOP(a, s, e, false, false);                                              \
        }                                                                                  \
    } while (0)

#define RULES(SUF, T, VSQRT, FABS, POW)                                                     \
    /* SGD: momentum 0 w - g lr; else m = m mom - g lr, then w + m, or with               \
     * Nesterov w + (m mom - g lr). */                                                     \
    INLINE void sgd_loop_##SUF(const ct__optk *a, int64_t s, int64_t e, bool decay,        \
                               bool momentum, bool nesterov) {                             \
        ARRAYS(T);                                                                         \
        const T mom = (T)a->mom;                                                           \
        for (int64_t i = s; i < e; i++) {                                                  \
            T gi = g[i];                                                                   \
            LOAD_W(T);                                                                     \
            if (!momentum) {                                                               \
                wi = wi - gi * lr;                                                         \
            } else {                                                                       \
                T m = s0[i] * mom - gi * lr;                                               \
                s0[i] = m;                                                                 \
                wi = nesterov ? wi + (m * mom - gi * lr) : wi + m;                         \
            }                                                                              \
            w[i] = wi;                                                                     \
        }                                                                                  \
    }                                                                                      \
    CT__CLONES static void sgd_##SUF(const ct__optk *a, int64_t s, int64_t e) {            \
        if (!a->momentum) {                                                                \
            if (a->decay) sgd_loop_##SUF(a, s, e, true, false, false);                     \
            else sgd_loop_##SUF(a, s, e, false, false, false);                             \
        } else if (a->nesterov) {                                                          \
            if (a->decay) sgd_loop_##SUF(a, s, e, true, true, true);                       \
            else sgd_loop_##SUF(a, s, e, false, true, true);                               \
        } else {                                                                           \
            if (a->decay) sgd_loop_##SUF(a, s, e, true, true, false);                      \
            else sgd_loop_##SUF(a, s, e, false, true, false);                              \
        }                                                                                  \
    }                                                                                      \
                                                                                           \
    /* Adagrad: acc = acc + g^2; w - lr g / sqrt(acc + eps). */                            \
    INLINE void adagrad_loop_##SUF(const ct__optk *a, int64_t s, int64_t e, bool decay,    \
                                   bool unused) {                                          \
        ARRAYS(T);                                                                         \
        T r[BLOCK];                                                                        \
        for (int64_t b = s; b < e; b += BLOCK) {                                           \
            int64_t len = e - b < BLOCK ? e - b : BLOCK;                                   \
            for (int64_t j = 0, i = b; j < len; j++, i++) {                                \
                T gi = g[i];                                                               \
                T acc = s0[i] + gi * gi;                                                   \
                s0[i] = acc;                                                               \
                r[j] = acc + eps;                                                          \
            }                                                                              \
            VSQRT(r, r, len);                                                              \
            for (int64_t j = 0, i = b; j < len; j++, i++) {                                \
                T gi = g[i];                                                               \
                LOAD_W(T);                                                                 \
                w[i] = wi - (lr * gi) / r[j];                                              \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
    CT__CLONES static void adagrad_##SUF(const ct__optk *a, int64_t s, int64_t e) {        \
        DISPATCH2(adagrad_loop_##SUF, a, s, e, false);                                     \
    }                                                                                      \
                                                                                           \
    /* RMSprop: vel = rho vel + (1 - rho) g^2; centered: avg = rho avg +                   \
     * (1 - rho) g and the denominator vel - avg^2 + eps, else vel + eps;                  \
     * inc = lr g / sqrt(denominator); with momentum mom = momentum mom + inc              \
     * and w - mom, else w - inc. */                                                       \
    INLINE void rmsprop_loop_##SUF(const ct__optk *a, int64_t s, int64_t e, bool decay,    \
                                   bool centered, bool momentum) {                         \
        ARRAYS(T);                                                                         \
        const T rho = (T)a->rho, one_m_rho = (T)a->one_m_rho, mom = (T)a->mom;             \
        T r[BLOCK];                                                                        \
        for (int64_t b = s; b < e; b += BLOCK) {                                           \
            int64_t len = e - b < BLOCK ? e - b : BLOCK;                                   \
            for (int64_t j = 0, i = b; j < len; j++, i++) {                                \
                T gi = g[i];                                                               \
                T vel = rho * s0[i] + one_m_rho * (gi * gi);                               \
                s0[i] = vel;                                                               \
                if (centered) {                                                            \
                    T avg = rho * s2[i] + one_m_rho * gi;                                  \
                    s2[i] = avg;                                                           \
                    r[j] = (vel - avg * avg) + eps;                                        \
                } else {                                                                   \
                    r[j] = vel + eps;                                                      \
                }                                                                          \
            }                                                                              \
            VSQRT(r, r, len);                                                              \
            for (int64_t j = 0, i = b; j < len; j++, i++) {                                \
                T gi = g[i];                                                               \
                LOAD_W(T);                                                                 \
                T inc = (lr * gi) / r[j];                                                  \
                if (momentum) {                                                            \
                    T m = mom * s1[i] + inc;                                               \
                    s1[i] = m;                                                             \
                    wi = wi - m;                                                           \
                } else {                                                                   \
                    wi = wi - inc;                                                         \
                }                                                                          \
                w[i] = wi;                                                                 \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
    INLINE void rmsprop_c_loop_##SUF(const ct__optk *a, int64_t s, int64_t e, bool decay,  \
                                     bool momentum) {                                      \
        rmsprop_loop_##SUF(a, s, e, decay, true, momentum);                                \
    }                                                                                      \
    INLINE void rmsprop_u_loop_##SUF(const ct__optk *a, int64_t s, int64_t e, bool decay,  \
                                     bool momentum) {                                      \
        rmsprop_loop_##SUF(a, s, e, decay, false, momentum);                               \
    }                                                                                      \
    CT__CLONES static void rmsprop_##SUF(const ct__optk *a, int64_t s, int64_t e) {        \
        if (a->centered) DISPATCH2(rmsprop_c_loop_##SUF, a, s, e, a->momentum);            \
        else DISPATCH2(rmsprop_u_loop_##SUF, a, s, e, a->momentum);                        \
    }                                                                                      \
                                                                                           \
    /* Adadelta: ag = rho ag + (1 - rho) g^2; delta = -(sqrt(ad + eps) g /                 \
     * sqrt(ag + eps)); ad = rho ad + (1 - rho) delta^2; w + lr delta. */                  \
    INLINE void adadelta_loop_##SUF(const ct__optk *a, int64_t s, int64_t e, bool decay,   \
                                    bool unused) {                                         \
        ARRAYS(T);                                                                         \
        const T rho = (T)a->rho, one_m_rho = (T)a->one_m_rho;                              \
        T r[2 * BLOCK];                                                                    \
        for (int64_t b = s; b < e; b += BLOCK) {                                           \
            int64_t len = e - b < BLOCK ? e - b : BLOCK;                                   \
            for (int64_t j = 0, i = b; j < len; j++, i++) {                                \
                T gi = g[i];                                                               \
                T ag = rho * s0[i] + one_m_rho * (gi * gi);                                \
                s0[i] = ag;                                                                \
                r[j] = s1[i] + eps;                                                        \
                r[BLOCK + j] = ag + eps;                                                   \
            }                                                                              \
            VSQRT(r, r, len);                                                              \
            VSQRT(r + BLOCK, r + BLOCK, len);                                              \
            for (int64_t j = 0, i = b; j < len; j++, i++) {                                \
                T gi = g[i];                                                               \
                LOAD_W(T);                                                                 \
                T delta = -((r[j] * gi) / r[BLOCK + j]);                                   \
                s1[i] = rho * s1[i] + one_m_rho * (delta * delta);                         \
                w[i] = wi + lr * delta;                                                    \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
    CT__CLONES static void adadelta_##SUF(const ct__optk *a, int64_t s, int64_t e) {       \
        DISPATCH2(adadelta_loop_##SUF, a, s, e, false);                                    \
    }                                                                                      \
                                                                                           \
    /* Adam: m = m + (g - m)(1 - b1); v = v + (g^2 - v)(1 - b2); AMSGrad                   \
     * vhat = max(vhat, v) in v's place; w - m alpha / (sqrt(v) + eps). */                 \
    INLINE void adam_loop_##SUF(const ct__optk *a, int64_t s, int64_t e, bool decay,       \
                                bool amsgrad) {                                            \
        ARRAYS(T);                                                                         \
        const T one_m_b1 = (T)a->one_m_b1, one_m_b2 = (T)a->one_m_b2, alpha = (T)a->alpha; \
        T r[BLOCK];                                                                        \
        for (int64_t b = s; b < e; b += BLOCK) {                                           \
            int64_t len = e - b < BLOCK ? e - b : BLOCK;                                   \
            for (int64_t j = 0, i = b; j < len; j++, i++) {                                \
                T gi = g[i];                                                               \
                T m = s0[i] + (gi - s0[i]) * one_m_b1;                                     \
                T v = s1[i] + (gi * gi - s1[i]) * one_m_b2;                                \
                s0[i] = m;                                                                 \
                s1[i] = v;                                                                 \
                if (amsgrad) {                                                             \
                    v = FMAX(s2[i], v);                                                    \
                    s2[i] = v;                                                             \
                }                                                                          \
                r[j] = v;                                                                  \
            }                                                                              \
            VSQRT(r, r, len);                                                              \
            for (int64_t j = 0, i = b; j < len; j++, i++) {                                \
                LOAD_W(T);                                                                 \
                w[i] = wi - (s0[i] * alpha) / (r[j] + eps);                                \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
    CT__CLONES static void adam_##SUF(const ct__optk *a, int64_t s, int64_t e) {           \
        DISPATCH2(adam_loop_##SUF, a, s, e, a->amsgrad);                                   \
    }                                                                                      \
                                                                                           \
    /* Adamax: m = m + (g - m)(1 - b1); u = max(b2 u, |g|);                                \
     * w - lr m / ((1 - b1^t)(u + eps)). */                                                \
    INLINE void adamax_loop_##SUF(const ct__optk *a, int64_t s, int64_t e, bool decay,     \
                                  bool unused) {                                           \
        ARRAYS(T);                                                                         \
        const T one_m_b1 = (T)a->one_m_b1, b2 = (T)a->b2, one_m_b1p = (T)a->one_m_b1p;     \
        for (int64_t i = s; i < e; i++) {                                                  \
            T gi = g[i];                                                                   \
            LOAD_W(T);                                                                     \
            T m = s0[i] + (gi - s0[i]) * one_m_b1;                                         \
            T bu = b2 * s1[i], ag = FABS(gi);                                              \
            T u = FMAX(bu, ag);                                                            \
            s0[i] = m;                                                                     \
            s1[i] = u;                                                                     \
            w[i] = wi - (lr * m) / (one_m_b1p * (u + eps));                                \
        }                                                                                  \
    }                                                                                      \
    CT__CLONES static void adamax_##SUF(const ct__optk *a, int64_t s, int64_t e) {         \
        DISPATCH2(adamax_loop_##SUF, a, s, e, false);                                      \
    }                                                                                      \
                                                                                           \
    /* Nadam: m and v as Adam's; m_hat = u_{t+1} m / (1 - prod_{t+1}) +                    \
     * (1 - u_t) g / (1 - prod_t); v_hat = v / (1 - b2^t);                                 \
     * w - m_hat lr / (sqrt(v_hat) + eps). */                                              \
    INLINE void nadam_loop_##SUF(const ct__optk *a, int64_t s, int64_t e, bool decay,      \
                                 bool unused) {                                            \
        ARRAYS(T);                                                                         \
        const T one_m_b1 = (T)a->one_m_b1, one_m_b2 = (T)a->one_m_b2;                      \
        const T u_t_1 = (T)a->u_t_1, one_m_u_prod_t_1 = (T)a->one_m_u_prod_t_1;            \
        const T one_m_u_t = (T)a->one_m_u_t, one_m_u_prod_t = (T)a->one_m_u_prod_t;        \
        const T one_m_b2p = (T)a->one_m_b2p;                                               \
        T r[BLOCK];                                                                        \
        for (int64_t b = s; b < e; b += BLOCK) {                                           \
            int64_t len = e - b < BLOCK ? e - b : BLOCK;                                   \
            for (int64_t j = 0, i = b; j < len; j++, i++) {                                \
                T gi = g[i];                                                               \
                T m = s0[i] + (gi - s0[i]) * one_m_b1;                                     \
                T v = s1[i] + (gi * gi - s1[i]) * one_m_b2;                                \
                s0[i] = m;                                                                 \
                s1[i] = v;                                                                 \
                r[j] = v / one_m_b2p;                                                      \
            }                                                                              \
            VSQRT(r, r, len);                                                              \
            for (int64_t j = 0, i = b; j < len; j++, i++) {                                \
                T gi = g[i];                                                               \
                LOAD_W(T);                                                                 \
                T m_hat =                                                                  \
                    (u_t_1 * s0[i]) / one_m_u_prod_t_1 + (one_m_u_t * gi) / one_m_u_prod_t; \
                w[i] = wi - (m_hat * lr) / (r[j] + eps);                                   \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
    CT__CLONES static void nadam_##SUF(const ct__optk *a, int64_t s, int64_t e) {          \
        DISPATCH2(nadam_loop_##SUF, a, s, e, false);                                       \
    }                                                                                      \
                                                                                           \
    /* Ftrl (keras/src/optimizers/ftrl.py): with acc' = acc + g^2,                         \
     * linear = linear + (g + 2 l2_shrinkage w) - (acc'^p - acc^p) / lr w;                 \
     * w = (clip(linear, -l1, l1) - linear) / (acc'^p / lr + 2 l2_reg);                    \
     * acc = acc'. The powers are libm's pow per element (the op's), taken                 \
     * over a block between two vector loops. */                                           \
    INLINE void ftrl_loop_##SUF(const ct__optk *a, int64_t s, int64_t e, bool decay,       \
                                bool unused) {                                             \
        ARRAYS(T);                                                                         \
        const T p = (T)a->power, shrinkage2 = (T)a->shrinkage2, l2_reg2 = (T)a->l2_reg2;   \
        const T hi = (T)a->l1, lo = (T)(-a->l1);                                           \
        T r[2 * BLOCK];                                                                    \
        for (int64_t b = s; b < e; b += BLOCK) {                                           \
            int64_t len = e - b < BLOCK ? e - b : BLOCK;                                   \
            for (int64_t j = 0, i = b; j < len; j++, i++) {                                \
                T gi = g[i];                                                               \
                r[j] = s0[i];                                                              \
                r[BLOCK + j] = s0[i] + gi * gi;                                            \
            }                                                                              \
            for (int64_t j = 0; j < len; j++) {                                            \
                r[j] = POW(r[j], p);                                                       \
                r[BLOCK + j] = POW(r[BLOCK + j], p);                                       \
            }                                                                              \
            for (int64_t j = 0, i = b; j < len; j++, i++) {                                \
                T gi = g[i];                                                               \
                LOAD_W(T);                                                                 \
                T grad_to_use = gi + shrinkage2 * wi;                                      \
                T new_acc = s0[i] + gi * gi;                                               \
                T new_pow = r[BLOCK + j];                                                  \
                T lin = s1[i] + (grad_to_use - ((new_pow - r[j]) / lr) * wi);              \
                T quadratic = new_pow / lr + l2_reg2;                                      \
                T lo_clipped = FMIN(lin, hi);                                              \
                T clipped = FMAX(lo_clipped, lo);                                          \
                s1[i] = lin;                                                               \
                s0[i] = new_acc;                                                           \
                w[i] = (clipped - lin) / quadratic;                                        \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
    CT__CLONES static void ftrl_##SUF(const ct__optk *a, int64_t s, int64_t e) {           \
        DISPATCH2(ftrl_loop_##SUF, a, s, e, false);                                        \
    }

RULES(f32, float, ct__vm_sqrt_f32, fabsf, powf)
RULES(f64, double, ct__vm_sqrt_f64, fabs, pow)

typedef void (*optk_fn)(const ct__optk *a, int64_t s, int64_t e);

#define ROW(name) {name##_f32, name##_f64}
static const optk_fn TABLE[CT__OPTK_COUNT][2] = {
    [CT__OPTK_SGD] = ROW(sgd),           [CT__OPTK_ADAGRAD] = ROW(adagrad),
    [CT__OPTK_RMSPROP] = ROW(rmsprop),   [CT__OPTK_ADADELTA] = ROW(adadelta),
    [CT__OPTK_ADAM] = ROW(adam),         [CT__OPTK_ADAMAX] = ROW(adamax),
    [CT__OPTK_NADAM] = ROW(nadam),       [CT__OPTK_FTRL] = ROW(ftrl),
};

/* Rough ns per element on one core (memory traffic of 3-5 arrays; Ftrl's
 * two pow calls), for ct__threads_for. */
static const int64_t COST[CT__OPTK_COUNT] = {
    [CT__OPTK_SGD] = 1,  [CT__OPTK_ADAGRAD] = 2, [CT__OPTK_RMSPROP] = 2, [CT__OPTK_ADADELTA] = 3,
    [CT__OPTK_ADAM] = 2, [CT__OPTK_ADAMAX] = 2,  [CT__OPTK_NADAM] = 3,   [CT__OPTK_FTRL] = 40,
};

void ct__optk_run(ct__optk_rule rule, ct_dtype dt, const ct__optk *a) {
    optk_fn fn = TABLE[rule][dt == CT_FLOAT64];
    int64_t n = a->n;
    int nt = ct__threads_for(n, COST[rule]);
    if (nt <= 1) {
        fn(a, 0, n);
        return;
    }
    ct__threads_sync();
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), k = omp_get_num_threads();
        /* Ranges of multiples of 16 elements keep the vector loops whole
         * and the threads off each other's cache lines. */
        int64_t chunk = ((n + k - 1) / k + 15) & ~(int64_t)15;
        int64_t s = (int64_t)t * chunk, e = s + chunk < n ? s + chunk : n;
        if (s < e) fn(a, s, e);
    }
}
