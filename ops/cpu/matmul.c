/*
 * CPU matmul. Shapes: out[b] (M x N) = op(a[b]) (M x K) x op(b[b]) (K x N),
 * row-major, b over the broadcast batch.
 *
 * float32 goes to oneDNN's dnnl_sgemm: it generates AVX-512 code for the
 * CPU it runs on, where Debian's OpenBLAS 0.3.21 misdetects these CPUs and
 * runs its generic kernels unless OPENBLAS_CORETYPE is set (see the numbers
 * in the commit that added this file). float64 goes to cblas_dgemm. Small
 * products and the integer types use a plain loop: a library call costs
 * more than a 4x4 product.
 *
 * Batches: when b has no batch and a is not transposed, the batch folds
 * into M and the whole call is one GEMM. Otherwise small matrices run one
 * GEMM per thread over the batch (oneDNN runs sequentially inside an
 * OpenMP region), large ones one threaded GEMM after another.
 */
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include <dnnl.h>

#include "ops/matmul.h"

/* Products below this many multiply-adds use the plain loop. */
#define SMALL_MNK (16 * 16 * 16)
/* Matrices below this many multiply-adds run one per thread in a batch. */
#define PER_THREAD_MNK (192 * 192 * 192)

/* C = op(A) op(B) with a plain loop; integers wrap as TF's Eigen kernels do
 * (computed in the unsigned type so the overflow is defined). */
#define DEFINE_NAIVE(NAME, T, U)                                                          \
    static void NAME(const T *A, const T *B, T *C, int64_t m, int64_t n, int64_t k,       \
                     bool ta, bool tb) {                                                  \
        for (int64_t i = 0; i < m; i++) {                                                 \
            U *c = (U *)(void *)(C + i * n);                                              \
            for (int64_t j = 0; j < n; j++) c[j] = 0;                                     \
            for (int64_t p = 0; p < k; p++) {                                             \
                U a = (U)(ta ? A[p * m + i] : A[i * k + p]);                              \
                if (tb) {                                                                 \
                    for (int64_t j = 0; j < n; j++) c[j] += a * (U)B[j * k + p];          \
                } else {                                                                  \
                    const T *b = B + p * n;                                               \
                    for (int64_t j = 0; j < n; j++) c[j] += a * (U)b[j];                  \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
    }

DEFINE_NAIVE(naive_f32, float, float)
DEFINE_NAIVE(naive_f64, double, double)
DEFINE_NAIVE(naive_i32, int32_t, uint32_t)
DEFINE_NAIVE(naive_i64, int64_t, uint64_t)

static void gemm_f32(const float *A, const float *B, float *C, int64_t m, int64_t n, int64_t k,
                     bool ta, bool tb) {
    if (m * n * k < SMALL_MNK) {
        naive_f32(A, B, C, m, n, k, ta, tb);
        return;
    }
    sigset_t saved;
    ct__signals_hold(&saved); /* its JIT kernels cannot take a signal */
    dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.0f, A, ta ? m : k, B, tb ? k : n,
               0.0f, C, n);
    ct__signals_release(&saved);
}

static void gemm_f64(const double *A, const double *B, double *C, int64_t m, int64_t n,
                     int64_t k, bool ta, bool tb) {
    if (m * n * k < SMALL_MNK) {
        naive_f64(A, B, C, m, n, k, ta, tb);
        return;
    }
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (blasint)m, (blasint)n, (blasint)k, 1.0, A, (blasint)(ta ? m : k), B,
                (blasint)(tb ? k : n), 0.0, C, (blasint)n);
}

static void gemm_i32(const int32_t *A, const int32_t *B, int32_t *C, int64_t m, int64_t n,
                     int64_t k, bool ta, bool tb) {
    naive_i32(A, B, C, m, n, k, ta, tb);
}

static void gemm_i64(const int64_t *A, const int64_t *B, int64_t *C, int64_t m, int64_t n,
                     int64_t k, bool ta, bool tb) {
    naive_i64(A, B, C, m, n, k, ta, tb);
}

/* Product i of a batch (in RUN_BATCHED's scope). */
#define GEMM_ONE(GEMM, i)                                                                 \
    GEMM(A + ct__matmul_batch_index(c, &d, 0, i) * sa,                                    \
         B + ct__matmul_batch_index(c, &d, 1, i) * sb, C + (i) * sc, d.m, d.n, d.k,        \
         at->transpose_a, at->transpose_b)

#define RUN_BATCHED(GEMM, T)                                                              \
    do {                                                                                  \
        const T *A = ct__data(a);                                                         \
        const T *B = ct__data(b);                                                         \
        T *C = ct__data(o);                                                               \
        int64_t sa = d.m * d.k, sb = d.k * d.n, sc = d.m * d.n;                           \
        if (fold) {                                                                       \
            GEMM(A, B, C, d.batch * d.m, d.n, d.k, false, at->transpose_b);               \
            break;                                                                        \
        }                                                                                 \
        /* Only split batches across threads when asked: a GEMM inside a   \
         * parallel region, even a team of one, would open a nested one. */ \
        if (nt == 1) {                                                                    \
            for (int64_t i = 0; i < d.batch; i++) GEMM_ONE(GEMM, i);                      \
            break;                                                                        \
        }                                                                                 \
        _Pragma("omp parallel for num_threads(nt) schedule(static)")                      \
        for (int64_t i = 0; i < d.batch; i++) GEMM_ONE(GEMM, i);                          \
    } while (0)

ct_status ct__cpu_matmul(ct__call *c) {
    const ct__matmul_attrs *at = c->attrs;
    ct_tensor *a = c->in[0], *b = c->in[1], *o = c->out[0];
    ct__matmul_dims d;
    ct__matmul_dims_of(c, &d);
    if (o->size == 0) return CT_OK;
    if (d.k == 0) {
        memset(ct__data(o), 0, ct__nbytes(o));
        return CT_OK;
    }
    bool flt = o->dtype == CT_FLOAT32 || o->dtype == CT_FLOAT64;
    bool fold = flt && d.batch > 1 && d.b_batch == 1 && d.a_batch == d.batch &&
                !at->transpose_a;
    int64_t mnk = d.m * d.n * d.k;
    /* One matrix per thread when each is small (or computed by our loop);
     * else the library threads each product. */
    int nt = 1;
    if (!fold && d.batch > 1 && (!flt || mnk < PER_THREAD_MNK))
        nt = ct__threads_for(d.batch, mnk / 8 + 1);
    switch (o->dtype) {
    case CT_FLOAT32: RUN_BATCHED(gemm_f32, float); break;
    case CT_FLOAT64: RUN_BATCHED(gemm_f64, double); break;
    case CT_INT32: RUN_BATCHED(gemm_i32, int32_t); break;
    case CT_INT64: RUN_BATCHED(gemm_i64, int64_t); break;
    default:
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "no CPU kernel for %s",
                              CT__DESC(o));
    }
    return CT_OK;
}
