/*
 * MatMul on the GPU with cuBLAS (the CUDA slot of ct__op_matmul).
 *
 * cuBLAS is column-major; ctrain is row-major. A row-major [r, s] matrix
 * is the column-major s x r matrix, its transpose, so out = A B (row-major)
 * is computed as out^T = B^T A^T (column-major) by passing b first:
 *
 *     gemm(op_b, op_a, n, m, k, B, ldb, A, lda, C, ldc = n)
 *
 * where op_x is T when x is stored transposed, and ld is the stored last
 * dimension (b: n, or k when transposed; a: k, or m when transposed).
 *
 * Batches (B = batch, M/N/K as in ops/matmul.h):
 *   - b is one matrix and a is not transposed: a's batch folds into M
 *     ([B*M, K] x [K, N]), one plain gemm;
 *   - each input holds either every batch matrix or a single one: one
 *     strided-batched gemm (stride 0 for the single matrix);
 *   - any other broadcast of the batch dims: one gemm per output matrix.
 * float32 / float64 only (cuBLAS has no integer gemm): int32 / int64 are
 * CT_ERR_UNIMPLEMENTED on the GPU.
 */
#include "runtime/cuda/cuda_internal.h"

extern "C" {
#include "ops/matmul.h"
}

namespace {

template <typename T> struct Gemm;
template <> struct Gemm<float> {
    static cublasStatus_t one(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                              int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                              const float *b, int64_t ldb, float *c, int64_t ldc) {
        const float alpha = 1, beta = 0;
        return cublasSgemm_64(h, ta, tb, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc);
    }
    static cublasStatus_t strided(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                  int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                                  int64_t sa, const float *b, int64_t ldb, int64_t sb, float *c,
                                  int64_t ldc, int64_t sc, int64_t count) {
        const float alpha = 1, beta = 0;
        return cublasSgemmStridedBatched_64(h, ta, tb, m, n, k, &alpha, a, lda, sa, b, ldb, sb,
                                            &beta, c, ldc, sc, count);
    }
};
template <> struct Gemm<double> {
    static cublasStatus_t one(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                              int64_t m, int64_t n, int64_t k, const double *a, int64_t lda,
                              const double *b, int64_t ldb, double *c, int64_t ldc) {
        const double alpha = 1, beta = 0;
        return cublasDgemm_64(h, ta, tb, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc);
    }
    static cublasStatus_t strided(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                  int64_t m, int64_t n, int64_t k, const double *a, int64_t lda,
                                  int64_t sa, const double *b, int64_t ldb, int64_t sb,
                                  double *c, int64_t ldc, int64_t sc, int64_t count) {
        const double alpha = 1, beta = 0;
        return cublasDgemmStridedBatched_64(h, ta, tb, m, n, k, &alpha, a, lda, sa, b, ldb, sb,
                                            &beta, c, ldc, sc, count);
    }
};

template <typename T> ct_status run(ct__call *c, const ct__matmul_dims *d) {
    const ct__matmul_attrs *at = (const ct__matmul_attrs *)c->attrs;
    const T *a = (const T *)ct__data(c->in[0]);
    const T *b = (const T *)ct__data(c->in[1]);
    T *o = (T *)ct__data(c->out[0]);
    cublasHandle_t h = ct__cuda_impl_of(c->dev)->blas;
    const int64_t m = d->m, n = d->n, k = d->k;
    const cublasOperation_t op_a = at->transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_b = at->transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int64_t lda = at->transpose_a ? m : k, ldb = at->transpose_b ? k : n;

    if (d->b_batch == 1 && !at->transpose_a && d->a_batch == d->batch) {
        CT__CUBLAS_CHECK(Gemm<T>::one(h, op_b, op_a, n, m * d->batch, k, b, ldb, a, lda, o, n));
        return CT_OK;
    }
    if ((d->a_batch == d->batch || d->a_batch == 1) && (d->b_batch == d->batch || d->b_batch == 1)) {
        int64_t sa = d->a_batch == 1 ? 0 : m * k, sb = d->b_batch == 1 ? 0 : k * n;
        CT__CUBLAS_CHECK(Gemm<T>::strided(h, op_b, op_a, n, m, k, b, ldb, sb, a, lda, sa, o, n,
                                          m * n, d->batch));
        return CT_OK;
    }
    for (int64_t i = 0; i < d->batch; i++) {
        int64_t ia = ct__matmul_batch_index(c, d, 0, i), ib = ct__matmul_batch_index(c, d, 1, i);
        CT__CUBLAS_CHECK(Gemm<T>::one(h, op_b, op_a, n, m, k, b + ib * k * n, ldb,
                                      a + ia * m * k, lda, o + i * m * n, n));
    }
    return CT_OK;
}

} // namespace

ct_status ct__cuda_matmul(ct__call *c) {
    if (!c->attrs || c->attrs_size != sizeof(ct__matmul_attrs))
        return ct__call_error(c, CT_ERR_INTERNAL, "op %s: the GPU kernel got no matmul attributes",
                              c->op->name);
    ct_dtype dt = c->in[0]->dtype;
    if (dt != CT_FLOAT32 && dt != CT_FLOAT64)
        return ct__call_error(c, CT_ERR_UNIMPLEMENTED, "op %s has no kernel for %s on %s",
                              c->op->name, ct_dtype_name(dt), c->dev->name);
    ct__matmul_dims d;
    ct__matmul_dims_of(c, &d);
    if (c->out[0]->size == 0) return CT_OK;
    ct_status st = ct__cuda_enter(c->dev);
    if (st) return st;
    if (d.k == 0) { /* a sum of nothing */
        CT__CUDA_CHECK(cudaMemsetAsync(ct__data(c->out[0]), 0, ct__nbytes(c->out[0]),
                                       ct__cuda_impl_of(c->dev)->stream));
        return CT_OK;
    }
    return dt == CT_FLOAT32 ? run<float>(c, &d) : run<double>(c, &d);
}
