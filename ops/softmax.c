/* Softmax and LogSoftmax along any axis: definitions, fused CPU kernels and
 * gradients.
 *
 * The input is viewed as [K, N, I] around the axis (N = the softmax axis).
 * Along the last axis (I == 1) each row is processed while it is in cache:
 * max, then exp and its sum in one pass, then the normalisation (softmax
 * multiplies by 1 / sum as TF's kernel does; log-softmax subtracts
 * log(sum)). For another axis the same three passes run over blocks of up
 * to 256 columns with per-column max and sum, which vectorises over I and
 * needs no transpose. Shifting by the max keeps exp from overflowing; a
 * row holding +inf, or only -inf, gives NaN, as TF. */
#include <math.h>
#include <string.h>

#include "ops/reduce.h"

typedef struct {
    int axis; /* normalised */
} softmax_attrs;

enum { SM_SOFTMAX, SM_LOG };

#define CH 256

/* float32 kernels use GCC vector extensions: with IEEE semantics kept (no
 * -ffast-math) the compiler vectorises neither float compares nor an exp,
 * so the vector code is written out, once per width: 4 lanes for the SSE2
 * baseline and 8 lanes with AVX2 + FMA, picked at run time.
 *
 * exp(x) = 2^n exp(r) with |r| <= ln2 / 2 and Cephes's degree-6
 * polynomial for exp(r) (about 1 ulp). 2^n is applied in two halves so
 * that results from overflow (inf) down to the denormals come out right;
 * below -104 the result rounds to 0. NaN passes through. The row max
 * ignores NaN, which then turns the whole row to NaN through its exp. */
#define DEFINE_F32(SUF, W, ATTR)                                                           \
    typedef float vf_##SUF __attribute__((vector_size(4 * W)));                            \
    typedef int32_t vi_##SUF __attribute__((vector_size(4 * W)));                          \
    ATTR static inline vf_##SUF vsel_##SUF(vi_##SUF m, vf_##SUF a, vf_##SUF b) {           \
        return (vf_##SUF)((m & (vi_##SUF)a) | (~m & (vi_##SUF)b));                         \
    }                                                                                      \
    ATTR static inline vf_##SUF vload_##SUF(const float *p) {                              \
        vf_##SUF v;                                                                        \
        memcpy(&v, p, sizeof v);                                                           \
        return v;                                                                          \
    }                                                                                      \
    /* n < W trailing elements, the other lanes `pad`. */                                  \
    ATTR static inline vf_##SUF vtail_##SUF(const float *p, int64_t n, float pad) {        \
        float b[W];                                                                        \
        for (int l = 0; l < W; l++) b[l] = l < n ? p[l] : pad;                             \
        return vload_##SUF(b);                                                             \
    }                                                                                      \
    ATTR static inline void vstore_##SUF(float *p, vf_##SUF v) { memcpy(p, &v, sizeof v); } \
    ATTR static inline vf_##SUF vmax_##SUF(vf_##SUF m, vf_##SUF x) {                       \
        return vsel_##SUF(x > m, x, m);                                                    \
    }                                                                                      \
    ATTR static inline vf_##SUF vexp_##SUF(vf_##SUF x) {                                   \
        const vf_##SUF z = {0};                                                            \
        vi_##SUF nan = x != x;                                                             \
        vf_##SUF xc = vsel_##SUF(x < -104.0f, z - 104.0f, x);                              \
        xc = vsel_##SUF(xc > 88.8f, z + 88.8f, xc);                                        \
        xc = vsel_##SUF(nan, z, xc);                                                       \
        vf_##SUF fn = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;             \
        vf_##SUF r = xc - fn * 0.693359375f;                                               \
        r = r - fn * -2.12194440e-4f;                                                      \
        vf_##SUF p = z + 1.9875691500e-4f;                                                 \
        p = p * r + 1.3981999507e-3f;                                                      \
        p = p * r + 8.3334519073e-3f;                                                      \
        p = p * r + 4.1665795894e-2f;                                                      \
        p = p * r + 1.6666665459e-1f;                                                      \
        p = p * r + 5.0000001201e-1f;                                                      \
        vf_##SUF e = p * r * r + r + 1.0f;                                                 \
        vi_##SUF n = __builtin_convertvector(fn, vi_##SUF), n1 = n >> 1, n2 = n - n1;      \
        vf_##SUF s1 = (vf_##SUF)((n1 + 127) << 23), s2 = (vf_##SUF)((n2 + 127) << 23);     \
        return vsel_##SUF(nan, x, e * s1 * s2);                                            \
    }                                                                                      \
    /* One row of N contiguous elements. */                                                \
    ATTR static void row_##SUF(const float *p, float *q, int64_t N, bool lg) {             \
        const vf_##SUF z = {0};                                                            \
        vf_##SUF m0 = z - INFINITY, m1 = m0, m2 = m0, m3 = m0;                             \
        int64_t j = 0;                                                                     \
        for (; j + 4 * W <= N; j += 4 * W) {                                               \
            m0 = vmax_##SUF(m0, vload_##SUF(p + j));                                       \
            m1 = vmax_##SUF(m1, vload_##SUF(p + j + W));                                   \
            m2 = vmax_##SUF(m2, vload_##SUF(p + j + 2 * W));                               \
            m3 = vmax_##SUF(m3, vload_##SUF(p + j + 3 * W));                               \
        }                                                                                  \
        for (; j + W <= N; j += W) m0 = vmax_##SUF(m0, vload_##SUF(p + j));                \
        if (j < N) m0 = vmax_##SUF(m0, vtail_##SUF(p + j, N - j, -INFINITY));              \
        vf_##SUF mv = vmax_##SUF(vmax_##SUF(m0, m1), vmax_##SUF(m2, m3));                  \
        float m = mv[0];                                                                   \
        for (int l = 1; l < W; l++) m = mv[l] > m ? mv[l] : m;                             \
        /* exp(x - m) into q (log-softmax overwrites it below), and its sum. */            \
        vf_##SUF s0 = z, s1 = z, s2 = z, s3 = z;                                           \
        for (j = 0; j + 4 * W <= N; j += 4 * W) {                                          \
            vf_##SUF e0 = vexp_##SUF(vload_##SUF(p + j) - m);                              \
            vf_##SUF e1 = vexp_##SUF(vload_##SUF(p + j + W) - m);                          \
            vf_##SUF e2 = vexp_##SUF(vload_##SUF(p + j + 2 * W) - m);                      \
            vf_##SUF e3 = vexp_##SUF(vload_##SUF(p + j + 3 * W) - m);                      \
            vstore_##SUF(q + j, e0);                                                       \
            vstore_##SUF(q + j + W, e1);                                                   \
            vstore_##SUF(q + j + 2 * W, e2);                                               \
            vstore_##SUF(q + j + 3 * W, e3);                                               \
            s0 += e0;                                                                      \
            s1 += e1;                                                                      \
            s2 += e2;                                                                      \
            s3 += e3;                                                                      \
        }                                                                                  \
        for (; j + W <= N; j += W) {                                                       \
            vf_##SUF e = vexp_##SUF(vload_##SUF(p + j) - m);                               \
            vstore_##SUF(q + j, e);                                                        \
            s0 += e;                                                                       \
        }                                                                                  \
        vf_##SUF sv = (s0 + s1) + (s2 + s3);                                               \
        float s = 0;                                                                       \
        for (int l = 0; l < W; l++) s += sv[l];                                            \
        if (j < N) {                                                                       \
            vf_##SUF e = vexp_##SUF(vtail_##SUF(p + j, N - j, 0) - m);                     \
            for (int64_t l = 0; l < N - j; l++) {                                          \
                q[j + l] = e[l];                                                           \
                s += e[l];                                                                 \
            }                                                                              \
        }                                                                                  \
        if (lg) {                                                                          \
            float ls = logf(s);                                                            \
            for (j = 0; j < N; j++) q[j] = (p[j] - m) - ls;                                \
        } else {                                                                           \
            float inv = 1 / s;                                                             \
            for (j = 0; j < N; j++) q[j] *= inv;                                           \
        }                                                                                  \
    }                                                                                      \
    /* Columns [0, w) (w <= CH) of one [N, I] slab. */                                     \
    ATTR static void cols_##SUF(const float *x, float *y, int64_t N, int64_t I, int64_t w, \
                                bool lg) {                                                 \
        float m[CH], s[CH];                                                                \
        for (int64_t i = 0; i < w; i++) {                                                  \
            m[i] = -INFINITY;                                                              \
            s[i] = 0;                                                                      \
        }                                                                                  \
        for (int64_t n = 0; n < N; n++) {                                                  \
            const float *p = x + n * I;                                                    \
            for (int64_t i = 0; i < w; i++)                                                \
                m[i] = __builtin_isgreater(p[i], m[i]) ? p[i] : m[i];                      \
        }                                                                                  \
        for (int64_t n = 0; n < N; n++) {                                                  \
            const float *p = x + n * I;                                                    \
            float *q = y + n * I;                                                          \
            int64_t i = 0;                                                                 \
            for (; i + W <= w; i += W) {                                                   \
                vf_##SUF e = vexp_##SUF(vload_##SUF(p + i) - vload_##SUF(m + i));          \
                vstore_##SUF(q + i, e);                                                    \
                vstore_##SUF(s + i, vload_##SUF(s + i) + e);                               \
            }                                                                              \
            if (i < w) {                                                                   \
                vf_##SUF e = vexp_##SUF(vtail_##SUF(p + i, w - i, 0) -                     \
                                        vtail_##SUF(m + i, w - i, 0));                     \
                for (int64_t l = 0; l < w - i; l++) {                                      \
                    q[i + l] = e[l];                                                       \
                    s[i + l] += e[l];                                                      \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
        if (lg)                                                                            \
            for (int64_t i = 0; i < w; i++) s[i] = logf(s[i]);                             \
        else                                                                               \
            for (int64_t i = 0; i < w; i++) s[i] = 1 / s[i];                               \
        for (int64_t n = 0; n < N; n++) {                                                  \
            const float *p = x + n * I;                                                    \
            float *q = y + n * I;                                                          \
            if (lg)                                                                        \
                for (int64_t i = 0; i < w; i++) q[i] = (p[i] - m[i]) - s[i];               \
            else                                                                           \
                for (int64_t i = 0; i < w; i++) q[i] *= s[i];                              \
        }                                                                                  \
    }

DEFINE_F32(sse, 4, )
#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_AVX2_F32 1
DEFINE_F32(avx2, 8, __attribute__((target("avx2,fma"))))
#endif

/* float64: the same passes, scalar, with libm's exp. */
static void row_f64(const double *p, double *q, int64_t N, bool lg) {
    double m = -INFINITY, s = 0;
    for (int64_t j = 0; j < N; j++) m = p[j] > m ? p[j] : m;
    for (int64_t j = 0; j < N; j++) {
        q[j] = exp(p[j] - m);
        s += q[j];
    }
    if (lg) {
        double ls = log(s);
        for (int64_t j = 0; j < N; j++) q[j] = (p[j] - m) - ls;
    } else {
        double inv = 1 / s;
        for (int64_t j = 0; j < N; j++) q[j] *= inv;
    }
}

static void cols_f64(const double *x, double *y, int64_t N, int64_t I, int64_t w, bool lg) {
    double m[CH], s[CH];
    for (int64_t i = 0; i < w; i++) {
        m[i] = -INFINITY;
        s[i] = 0;
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < w; i++) m[i] = x[n * I + i] > m[i] ? x[n * I + i] : m[i];
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < w; i++) {
            y[n * I + i] = exp(x[n * I + i] - m[i]);
            s[i] += y[n * I + i];
        }
    for (int64_t i = 0; i < w; i++) s[i] = lg ? log(s[i]) : 1 / s[i];
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < w; i++)
            y[n * I + i] = lg ? (x[n * I + i] - m[i]) - s[i] : y[n * I + i] * s[i];
}

#define DEFINE_SOFTMAX(SUF, T, ROW, COLS)                                                  \
    static void softmax_##SUF(const T *x, T *y, int64_t K, int64_t N, int64_t I, bool lg,  \
                              int nt) {                                                    \
        if (I == 1) {                                                                      \
            _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")       \
            for (int64_t k = 0; k < K; k++) ROW(x + k * N, y + k * N, N, lg);              \
            return;                                                                        \
        }                                                                                  \
        int64_t nic = (I + CH - 1) / CH;                                                   \
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static) collapse(2)")\
        for (int64_t k = 0; k < K; k++)                                                    \
            for (int64_t c = 0; c < nic; c++) {                                            \
                int64_t i0 = c * CH, w = i0 + CH < I ? CH : I - i0;                        \
                COLS(x + k * N * I + i0, y + k * N * I + i0, N, I, w, lg);                 \
            }                                                                              \
    }
DEFINE_SOFTMAX(f32_sse, float, row_sse, cols_sse)
DEFINE_SOFTMAX(f64, double, row_f64, cols_f64)
#ifdef HAVE_AVX2_F32
DEFINE_SOFTMAX(f32_avx2, float, row_avx2, cols_avx2)
static bool have_avx2(void) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

static ct_status infer_softmax(ct__call *c) {
    const ct_tensor *t = c->in[0];
    ct_status st = ct__need_float(c, t);
    if (st) return st;
    ct__spec_set(&c->spec[0], t->dtype, t->rank, t->shape);
    return CT_OK;
}

static ct_status cpu_softmax(ct__call *c) {
    const softmax_attrs *a = c->attrs;
    ct_tensor *t = c->in[0], *o = c->out[0];
    if (t->size == 0) return CT_OK;
    int64_t K, N, I;
    ct__axis_view(t, a->axis, &K, &N, &I);
    bool lg = c->op->code == SM_LOG;
    int nt = ct__threads_for(t->size, 8);
    if (t->dtype == CT_FLOAT32) {
#ifdef HAVE_AVX2_F32
        if (have_avx2()) {
            softmax_f32_avx2(ct__data(t), ct__data(o), K, N, I, lg, nt);
            return CT_OK;
        }
#endif
        softmax_f32_sse(ct__data(t), ct__data(o), K, N, I, lg, nt);
    }
    else if (t->dtype == CT_FLOAT64)
        softmax_f64(ct__data(t), ct__data(o), K, N, I, lg, nt);
    else
        return ct__call_error(c, CT_ERR_UNIMPLEMENTED, "no CPU kernel for %s", CT__DESC(t));
    return CT_OK;
}

/* TF's _SoftmaxGrad: (dy - sum(dy * y, axis, keepdims)) * y. */
static ct_status softmax_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const softmax_attrs *a = c->attrs;
    ct_tensor *y = c->out[0];
    ct_tensor *s = ct_reduce_sum(ct_multiply(dy[0], y), (const int[]){a->axis}, 1, true);
    dx[0] = ct_multiply(ct_subtract(dy[0], s), y);
    return dx[0] ? CT_OK : ct_last_status();
}

/* TF's _LogSoftmaxGrad: dy - exp(y) * sum(dy, axis, keepdims). */
static ct_status log_softmax_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const softmax_attrs *a = c->attrs;
    ct_tensor *s = ct_reduce_sum(dy[0], (const int[]){a->axis}, 1, true);
    dx[0] = ct_subtract(dy[0], ct_multiply(ct_exp(c->out[0]), s));
    return dx[0] ? CT_OK : ct_last_status();
}

static const ct__op ct__op_softmax = {.name = "Softmax", .infer = infer_softmax,
                                      .kernel = {[CT_DEVICE_CPU] = cpu_softmax},
                                      .grad = softmax_grad, .code = SM_SOFTMAX};
static const ct__op ct__op_log_softmax = {.name = "LogSoftmax", .infer = infer_softmax,
                                          .kernel = {[CT_DEVICE_CPU] = cpu_softmax},
                                          .grad = log_softmax_grad, .code = SM_LOG};

static ct_tensor *softmax(const ct__op *op, const char *api, const ct_tensor *t, int axis) {
    softmax_attrs a;
    memset(&a, 0, sizeof a);
    if (t) {
        ct__call c = {.api = api};
        if (ct__axis(&c, axis, t->rank, &a.axis)) return NULL;
    }
    return ct__run1(op, api, 1, &t, &a, sizeof a);
}

ct_tensor *ct_softmax(const ct_tensor *t, int axis) {
    return softmax(&ct__op_softmax, "ct_softmax", t, axis);
}

ct_tensor *ct_log_softmax(const ct_tensor *t, int axis) {
    return softmax(&ct__op_log_softmax, "ct_log_softmax", t, axis);
}
