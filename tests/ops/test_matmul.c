#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(matmul, .init = ct_test_begin, .fini = ct_test_end);

/* Values of t as doubles (malloc'd). */
static double *values(const ct_tensor *t) {
    int64_t n = ct_tensor_size(t);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    cr_assert_eq(ct_tensor_read(t, CT_FLOAT64, v, n), CT_OK, "%s", ct_last_error());
    return v;
}

/* A tensor of pseudo-random values in [-1, 1). */
static ct_tensor *rnd(ct_dtype dt, int rank, const int64_t *shape, unsigned seed) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (double)((seed >> 8) % 2000) / 1000.0 - 1.0;
    }
    ct_tensor *t = ct_cast(ct_constant(v, CT_FLOAT64, rank, shape), dt);
    free(v);
    return t;
}

/* Checks out = op(a) op(b) for a and b without batch dims against a loop
 * in double precision. */
static void check_2d(const ct_tensor *a, const ct_tensor *b, bool ta, bool tb, double tol) {
    ct_tensor *o = ct_matmul_ex(a, b, ta, tb);
    CT_OK(o);
    int64_t m = ct_tensor_dim(o, 0), n = ct_tensor_dim(o, 1);
    int64_t k = ta ? ct_tensor_dim(a, 0) : ct_tensor_dim(a, 1);
    int64_t lda = ct_tensor_dim(a, 1), ldb = ct_tensor_dim(b, 1);
    double *A = values(a), *B = values(b), *O = values(o);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += (ta ? A[p * lda + i] : A[i * lda + p]) * (tb ? B[j * ldb + p] : B[p * ldb + j]);
            cr_assert(fabs(O[i * n + j] - s) <= tol * fmax(1, fabs(s)),
                      "[%lld,%lld]: %g, expected %g", (long long)i, (long long)j, O[i * n + j], s);
        }
    free(A);
    free(B);
    free(O);
}

Test(matmul, small_values) {
    ct_tensor *a = CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    ct_tensor *b = CT_F32(CT_DIMS(3, 2), 7, 8, 9, 10, 11, 12);
    CT_EXPECT(ct_matmul(a, b), CT_FLOAT32, CT_DIMS(2, 2), 0, 58, 64, 139, 154);
    CT_EXPECT(ct_matmul_ex(a, a, false, true), CT_FLOAT32, CT_DIMS(2, 2), 0, 14, 32, 32, 77);
    CT_EXPECT(ct_matmul_ex(a, a, true, false), CT_FLOAT32, CT_DIMS(3, 3), 0, 17, 22, 27, 22, 29,
              36, 27, 36, 45);
    CT_EXPECT(ct_matmul_ex(b, a, true, true), CT_FLOAT32, CT_DIMS(2, 2), 0, 58, 139, 64, 154);
}

Test(matmul, library_sizes_and_transposes) {
    for (int dt = 0; dt < 2; dt++) {
        ct_dtype d = dt ? CT_FLOAT64 : CT_FLOAT32;
        double tol = dt ? 1e-12 : 1e-5;
        ct_tensor *a = rnd(d, 2, (const int64_t[]){67, 45}, 1);
        ct_tensor *b = rnd(d, 2, (const int64_t[]){45, 33}, 2);
        ct_tensor *at = rnd(d, 2, (const int64_t[]){45, 67}, 3);
        ct_tensor *bt = rnd(d, 2, (const int64_t[]){33, 45}, 4);
        check_2d(a, b, false, false, tol);
        check_2d(a, bt, false, true, tol);
        check_2d(at, b, true, false, tol);
        check_2d(at, bt, true, true, tol);
    }
}

Test(matmul, batch_broadcast) {
    /* a [2,1,2,3] x b [3,3,2] -> [2,3,2,2]; checked matrix by matrix. */
    ct_tensor *a = rnd(CT_FLOAT64, 4, (const int64_t[]){2, 1, 2, 3}, 5);
    ct_tensor *b = rnd(CT_FLOAT64, 3, (const int64_t[]){3, 3, 2}, 6);
    ct_tensor *o = ct_matmul(a, b);
    ct_expect_shape(o, 4, (const int64_t[]){2, 3, 2, 2});
    double *A = values(a), *B = values(b), *O = values(o);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int r = 0; r < 2; r++)
                for (int cc = 0; cc < 2; cc++) {
                    double s = 0;
                    for (int p = 0; p < 3; p++) s += A[i * 6 + r * 3 + p] * B[j * 6 + p * 2 + cc];
                    cr_assert_float_eq(O[((i * 3 + j) * 2 + r) * 2 + cc], s, 1e-12);
                }
    free(A);
    free(B);
    free(O);
}

Test(matmul, folded_batch_matches_per_matrix) {
    /* b without batch dims: the batch folds into one GEMM. */
    ct_tensor *a = rnd(CT_FLOAT32, 3, (const int64_t[]){8, 16, 32}, 7);
    ct_tensor *b = rnd(CT_FLOAT32, 2, (const int64_t[]){32, 24}, 8);
    ct_tensor *o = ct_matmul(a, b);
    ct_expect_shape(o, 3, (const int64_t[]){8, 16, 24});
    ct_tensor *o2 = ct_matmul(ct_reshape(a, 2, (const int64_t[]){128, 32}), b);
    double *O = values(o), *O2 = values(o2);
    for (int i = 0; i < 8 * 16 * 24; i++) cr_assert_float_eq(O[i], O2[i], 1e-5);
    free(O);
    free(O2);
    /* The same with a broadcast b [1, 32, 24] and with batched b. */
    ct_tensor *o3 = ct_matmul(a, ct_reshape(b, 3, (const int64_t[]){1, 32, 24}));
    ct_tensor *o4 = ct_matmul(a, ct_broadcast_to(b, 3, (const int64_t[]){8, 32, 24}));
    double *O3 = values(o3), *O4 = values(o4), *O1 = values(o);
    for (int i = 0; i < 8 * 16 * 24; i++) {
        cr_assert_float_eq(O3[i], O1[i], 1e-5);
        cr_assert_float_eq(O4[i], O1[i], 1e-5);
    }
    free(O1);
    free(O3);
    free(O4);
}

Test(matmul, integers_wrap) {
    ct_tensor *a = CT_I32(CT_DIMS(2, 2), 1, 2, 3, 4), *b = CT_I32(CT_DIMS(2, 2), 5, 6, 7, 8);
    CT_EXPECT(ct_matmul(a, b), CT_INT32, CT_DIMS(2, 2), 0, 19, 22, 43, 50);
    CT_EXPECT(ct_matmul_ex(a, b, true, true), CT_INT32, CT_DIMS(2, 2), 0, 23, 31, 34, 46);
    ct_tensor *c = CT_I64(CT_DIMS(1, 2), 3, -4), *d = CT_I64(CT_DIMS(2, 1), 5, 6);
    CT_EXPECT(ct_matmul(c, d), CT_INT64, CT_DIMS(1, 1), 0, -9);
    /* int32 overflow wraps (2^31 - 1) * 2 = -2 */
    ct_tensor *big = CT_I32(CT_DIMS(1, 1), 2147483647), *two = CT_I32(CT_DIMS(1, 1), 2);
    CT_EXPECT(ct_matmul(big, two), CT_INT32, CT_DIMS(1, 1), 0, -2);
}

Test(matmul, empty_and_half) {
    ct_tensor *o = ct_matmul(ct_zeros(CT_FLOAT32, CT_DIMS(0, 3)), ct_ones(CT_FLOAT32, CT_DIMS(3, 2)));
    ct_expect_shape(o, 2, (const int64_t[]){0, 2});
    CT_EXPECT(ct_matmul(ct_zeros(CT_FLOAT32, CT_DIMS(2, 0)), ct_zeros(CT_FLOAT32, CT_DIMS(0, 3))),
              CT_FLOAT32, CT_DIMS(2, 3), 0, 0, 0, 0, 0, 0, 0);
    ct_tensor *h = ct_cast(CT_F32(CT_DIMS(1, 2), 1, 2), CT_FLOAT16);
    CT_EXPECT(ct_matmul(h, ct_cast(CT_F32(CT_DIMS(2, 1), 3, 4), CT_FLOAT16)), CT_FLOAT16,
              CT_DIMS(1, 1), 0, 11);
    ct_tensor *x = CT_F32(CT_DIMS(1, 2), NAN, 1), *y = CT_F32(CT_DIMS(2, 1), 1, INFINITY);
    CT_EXPECT(ct_matmul(x, y), CT_FLOAT32, CT_DIMS(1, 1), 0, NAN);
}

Test(matmul, errors) {
    ct_tensor *a = CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    CT_FAILS(ct_matmul(a, a), "inner dimensions differ");
    CT_FAILS(ct_matmul(CT_F32(CT_DIMS(3), 1, 2, 3), a), "rank >= 2");
    CT_FAILS(ct_matmul(a, ct_cast(a, CT_FLOAT64)), "different dtypes");
    CT_FAILS(ct_matmul(ct_cast(a, CT_BOOL), ct_cast(a, CT_BOOL)), "expected float");
    CT_FAILS(ct_matmul(ct_zeros(CT_FLOAT32, CT_DIMS(2, 2, 3)), ct_zeros(CT_FLOAT32, CT_DIMS(3, 3, 2))),
             "not broadcastable");
    CT_FAILS(ct_matmul(NULL, a), "NULL");
}

typedef struct {
    bool ta, tb;
} mm_ctx;

static ct_tensor *mm_fn(ct_tensor *const *in, void *ctx) {
    const mm_ctx *m = ctx;
    return ct_matmul_ex(in[0], in[1], m->ta, m->tb);
}

Test(matmul, gradients) {
    for (int t = 0; t < 4; t++) {
        mm_ctx m = {.ta = t & 1, .tb = t & 2};
        ct_tensor *in[2] = {
            rnd(CT_FLOAT64, 3, m.ta ? (const int64_t[]){2, 4, 3} : (const int64_t[]){2, 3, 4}, 11),
            rnd(CT_FLOAT64, 2, m.tb ? (const int64_t[]){5, 4} : (const int64_t[]){4, 5}, 12),
        };
        ct_gradcheck(mm_fn, 2, in, &m, 1e-6);
    }
    /* Broadcast on both sides: a [3,1,2,2], b [2,2,2]. */
    mm_ctx m = {0};
    ct_tensor *in[2] = {rnd(CT_FLOAT64, 4, (const int64_t[]){3, 1, 2, 2}, 13),
                        rnd(CT_FLOAT64, 3, (const int64_t[]){2, 2, 2}, 14)};
    ct_gradcheck(mm_fn, 2, in, &m, 1e-6);
}

Test(matmul, second_order) {
    /* d/dx sum((x x)^T w) twice: the gradient of a gradient runs matmul. */
    ct_tensor *x = CT_F64(CT_DIMS(2, 2), 1, 2, 3, 4);
    ct_tape *outer = ct_tape_begin(NULL);
    ct_tape_watch(outer, x);
    ct_tape *inner = ct_tape_begin(NULL);
    ct_tape_watch(inner, x);
    ct_tensor *y = ct_reduce_sum(ct_matmul(x, x), CT_ALL, false);
    ct_tape_end(inner);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(inner, y, 1, &x, &g, NULL));
    ct_tensor *gs = ct_reduce_sum(g, CT_ALL, false);
    ct_tape_end(outer);
    ct_tensor *g2;
    CT_STATUS_OK(ct_tape_gradient(outer, gs, 1, &x, &g2, NULL));
    /* sum(x x) = sum_ijk x_ij x_jk; its gradient summed is linear in x with
     * constant second derivative: d/dx_ab sum_{ij} g_ij = 2 * 2 = 4 each. */
    CT_EXPECT(g2, CT_FLOAT64, CT_DIMS(2, 2), 1e-12, 4, 4, 4, 4);
    ct_tape_free(inner);
    ct_tape_free(outer);
}
