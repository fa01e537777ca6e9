#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(linalg, .init = ct_test_begin, .fini = ct_test_end);

static ct_tensor *rnd(int rank, const int64_t *shape, unsigned seed) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (double)((seed >> 8) % 2000) / 1000.0 - 1.0;
    }
    ct_tensor *t = ct_constant(v, CT_FLOAT64, rank, shape);
    free(v);
    return t;
}

/* The n x n identity in float64 (built here: the test needs no other op). */
static ct_tensor *eye64(int64_t n) {
    double *v = calloc((size_t)(n * n > 0 ? n * n : 1), sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i * n + i] = 1;
    ct_tensor *t = ct_constant(v, CT_FLOAT64, 2, (const int64_t[]){n, n});
    free(v);
    return t;
}

/* max |a - b| over all elements. */
static double max_diff(const ct_tensor *a, const ct_tensor *b) {
    CT_OK(a);
    CT_OK(b);
    ct_tensor *d = ct_abs(ct_subtract(a, b));
    CT_OK(d);
    double m = 0;
    for (int64_t i = 0; i < ct_tensor_size(d); i++) m = fmax(m, ct_tensor_get(d, i));
    return m;
}

/* ---- transpose, inverse, determinant, trace ------------------------------------ */

Test(linalg, matrix_transpose) {
    ct_tensor *x = CT_I32(CT_DIMS(2, 2, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
    CT_EXPECT(ct_matrix_transpose(x), CT_INT32, CT_DIMS(2, 3, 2), 0, 1, 4, 2, 5, 3, 6, 7, 10, 8,
              11, 9, 12);
    CT_EXPECT(ct_matrix_transpose(CT_BOOLS(CT_DIMS(1, 2), true, false)), CT_BOOL, CT_DIMS(2, 1), 0,
              1, 0);
    ct_tensor *big = rnd(2, (const int64_t[]){70, 45}, 1);
    cr_expect_eq(max_diff(ct_matrix_transpose(ct_matrix_transpose(big)), big), 0);
    cr_expect_eq(ct_tensor_get(ct_matrix_transpose(big), 3 * 70 + 5), ct_tensor_get(big, 5 * 45 + 3));
    ct_expect_shape(ct_matrix_transpose(ct_zeros(CT_FLOAT32, CT_DIMS(0, 3))), 2,
                    (const int64_t[]){3, 0});
    CT_FAILS(ct_matrix_transpose(CT_F32(CT_DIMS(3), 1, 2, 3)), "rank >= 2");
}

Test(linalg, inverse) {
    /* The seed's example: tf.linalg.inv([[1., 2], [3, 4]]). */
    CT_EXPECT(ct_matrix_inverse(CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4)), CT_FLOAT32, CT_DIMS(2, 2), 1e-6,
              -2, 1, 1.5, -0.5);
    CT_EXPECT(ct_matrix_inverse(CT_F64(CT_DIMS(2, 2, 2), 4, 7, 2, 6, 2, 0, 0, 4)), CT_FLOAT64,
              CT_DIMS(2, 2, 2), 1e-12, 0.6, -0.7, -0.2, 0.4, 0.5, 0, 0, 0.25);
    ct_expect_shape(ct_matrix_inverse(ct_zeros(CT_FLOAT32, CT_DIMS(3, 0, 0))), 3,
                    (const int64_t[]){3, 0, 0});
    ct_tensor *a = rnd(3, (const int64_t[]){5, 6, 6}, 2);
    ct_tensor *eye = ct_matmul(a, ct_matrix_inverse(a));
    ct_tensor *want = ct_broadcast_to(eye64(6), 3, (const int64_t[]){5, 6, 6});
    cr_expect_lt(max_diff(eye, want), 1e-10);
    CT_FAILS(ct_matrix_inverse(CT_F32(CT_DIMS(2, 2, 2), 1, 0, 0, 1, 1, 2, 2, 4)), "matrix 1");
    cr_expect_eq(ct_last_status(), CT_ERR_NUMERIC);
    CT_FAILS(ct_matrix_inverse(CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6)), "square");
    CT_FAILS(ct_matrix_inverse(CT_I32(CT_DIMS(1, 1), 1)), "floating-point");
}

Test(linalg, determinant_and_slogdet) {
    CT_EXPECT(ct_matrix_determinant(CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4)), CT_FLOAT32, CT_SCALAR, 1e-6,
              -2);
    CT_EXPECT(ct_matrix_determinant(CT_F64(CT_DIMS(2, 3, 3), 2, 0, 0, 0, 3, 0, 0, 0, 4, 1, 2, 3, 4,
                                           5, 6, 7, 8, 10)),
              CT_FLOAT64, CT_DIMS(2), 1e-12, 24, -3);
    /* 4x4 through LU: a permuted diagonal. */
    CT_EXPECT(ct_matrix_determinant(CT_F64(CT_DIMS(4, 4), 0, 2, 0, 0, 3, 0, 0, 0, 0, 0, 0, 5, 0, 0,
                                           7, 0)),
              CT_FLOAT64, CT_SCALAR, 1e-12, 210);
    CT_EXPECT(ct_matrix_determinant(ct_zeros(CT_FLOAT32, CT_DIMS(0, 0))), CT_FLOAT32, CT_SCALAR, 0, 1);
    CT_EXPECT(ct_matrix_determinant(ct_zeros(CT_FLOAT64, CT_DIMS(5, 5))), CT_FLOAT64, CT_SCALAR, 0, 0);

    ct_tensor *s, *l;
    CT_STATUS_OK(ct_log_matrix_determinant(CT_F64(CT_DIMS(3, 2, 2), 1, 2, 3, 4, 2, 0, 0, 3, 1, 2, 2,
                                                  4), &s, &l));
    CT_EXPECT(s, CT_FLOAT64, CT_DIMS(3), 0, -1, 1, 0);
    CT_EXPECT(l, CT_FLOAT64, CT_DIMS(3), 1e-12, log(2.0), log(6.0), -INFINITY);
    CT_STATUS_OK(ct_log_matrix_determinant(ct_zeros(CT_FLOAT32, CT_DIMS(0, 0)), &s, &l));
    CT_EXPECT(s, CT_FLOAT32, CT_SCALAR, 0, 1);
    CT_EXPECT(l, CT_FLOAT32, CT_SCALAR, 0, 0);
    CT_FAILS(ct_matrix_determinant(CT_F32(CT_DIMS(1, 2), 1, 2)), "square");
}

Test(linalg, trace) {
    CT_EXPECT(ct_trace(CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4)), CT_FLOAT32, CT_SCALAR, 0, 5);
    CT_EXPECT(ct_trace(CT_I32(CT_DIMS(2, 2, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)), CT_INT32,
              CT_DIMS(2), 0, 6, 18);
    CT_EXPECT(ct_trace(ct_zeros(CT_FLOAT64, CT_DIMS(2, 0, 3))), CT_FLOAT64, CT_DIMS(2), 0, 0, 0);
    CT_FAILS(ct_trace(CT_F32(CT_DIMS(2), 1, 2)), "rank >= 2");
    CT_FAILS(ct_trace(CT_BOOLS(CT_DIMS(1, 1), true)), "numeric");
}

/* ---- gradients of the simple ops -------------------------------------------------- */

static ct_tensor *f_transpose(ct_tensor *const *in, void *ctx) {
    (void)ctx;
    return ct_matrix_transpose(in[0]);
}
static ct_tensor *f_inverse(ct_tensor *const *in, void *ctx) {
    (void)ctx;
    return ct_matrix_inverse(in[0]);
}
static ct_tensor *f_det(ct_tensor *const *in, void *ctx) {
    (void)ctx;
    return ct_matrix_determinant(in[0]);
}
static ct_tensor *f_slogdet(ct_tensor *const *in, void *ctx) {
    (void)ctx;
    ct_tensor *s, *l;
    return ct_log_matrix_determinant(in[0], &s, &l) ? NULL : ct_add(l, s);
}
static ct_tensor *f_trace(ct_tensor *const *in, void *ctx) {
    (void)ctx;
    return ct_trace(in[0]);
}

Test(linalg, simple_gradients) {
    ct_tensor *a = rnd(3, (const int64_t[]){2, 3, 3}, 3);
    ct_tensor *r = rnd(3, (const int64_t[]){2, 3, 4}, 4);
    ct_gradcheck(f_transpose, 1, &r, NULL, 1e-6);
    ct_gradcheck(f_inverse, 1, &a, NULL, 1e-6);
    ct_gradcheck(f_det, 1, &a, NULL, 1e-6);
    ct_gradcheck(f_slogdet, 1, &a, NULL, 1e-6);
    ct_gradcheck(f_trace, 1, &r, NULL, 1e-6);
}

/* ---- norm ---------------------------------------------------------------------------- */

Test(linalg, norm_values) {
    ct_tensor *v = CT_F32(CT_DIMS(2), 3, -4);
    CT_EXPECT(ct_norm(v, 0, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 1e-6, 5);
    CT_EXPECT(ct_norm(v, 1, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 1e-6, 7);
    CT_EXPECT(ct_norm(v, INFINITY, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 1e-6, 4);
    CT_EXPECT(ct_norm(v, 3, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 1e-6, cbrt(91.0));
    CT_EXPECT(ct_norm(v, 0.5, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 1e-5, pow(sqrt(3.0) + 2, 2));
    /* The seed's example: tf.linalg.norm([[1., 2], [3, 4]]) is Frobenius over all. */
    ct_tensor *m = CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4);
    CT_EXPECT(ct_norm(m, 0, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 1e-6, sqrt(30.0));
    CT_EXPECT(ct_norm(m, 0, CT_ALL, true), CT_FLOAT32, CT_DIMS(1, 1), 1e-6, sqrt(30.0));
    CT_EXPECT(ct_norm(m, 0, CT_AXES(-2, -1), false), CT_FLOAT32, CT_SCALAR, 1e-6, sqrt(30.0));
    CT_EXPECT(ct_norm(m, 1, CT_AXES(0, 1), false), CT_FLOAT32, CT_SCALAR, 1e-6, 6);
    CT_EXPECT(ct_norm(m, 1, CT_AXES(1, 0), false), CT_FLOAT32, CT_SCALAR, 1e-6, 7);
    CT_EXPECT(ct_norm(m, INFINITY, CT_AXES(0, 1), false), CT_FLOAT32, CT_SCALAR, 1e-6, 7);
    CT_EXPECT(ct_norm(m, 2, CT_AXES(0, 1), true), CT_FLOAT32, CT_DIMS(1, 1), 1e-5, 5.4649857);
    CT_EXPECT(ct_norm(m, 2, CT_AXES(1), false), CT_FLOAT32, CT_DIMS(2), 1e-6, sqrt(5.0), 5);
    CT_EXPECT(ct_norm(m, INFINITY, CT_AXES(0), true), CT_FLOAT32, CT_DIMS(1, 2), 0, 3, 4);
    /* A batch of matrices on axes (0, 2) of a [2,3,2] tensor. */
    ct_tensor *b = CT_F64(CT_DIMS(2, 3, 2), 1, 0, 2, 0, 0, 3, 0, 1, 0, 0, 4, 0);
    CT_EXPECT(ct_norm(b, 2, CT_AXES(0, 2), false), CT_FLOAT64, CT_DIMS(3), 1e-12, 1, 2, 4);
    CT_EXPECT(ct_norm(b, 2, CT_AXES(2, 0), true), CT_FLOAT64, CT_DIMS(1, 3, 1), 1e-12, 1, 2, 4);
    CT_EXPECT(ct_norm(ct_zeros(CT_FLOAT32, CT_DIMS(0)), 0, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 0, 0);
    CT_EXPECT(ct_norm(CT_F32(CT_DIMS(2), NAN, 1), INFINITY, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 0,
              NAN);
    CT_EXPECT(ct_norm(ct_scalar(-2), 0, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 0, 2);
}

Test(linalg, norm_errors) {
    ct_tensor *m = CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4);
    CT_FAILS(ct_norm(m, 3, CT_AXES(0, 1), false), "supported matrix norm");
    CT_FAILS(ct_norm(m, -1, CT_ALL, false), "supported vector norm");
    CT_FAILS(ct_norm(m, 0, CT_AXES(0, 0), false), "2 unique integers");
    CT_FAILS(ct_norm(m, 0, CT_AXES(0, 1, 1), false), "'axis'");
    CT_FAILS(ct_norm(m, 0, CT_AXES(2), false), "out of range");
    CT_FAILS(ct_norm(CT_I32(CT_DIMS(2), 1, 2), 0, CT_ALL, false), "floating-point");
}

typedef struct {
    double ord;
    int naxes;
    int axes[2];
} norm_ctx;

static ct_tensor *f_norm(ct_tensor *const *in, void *ctx) {
    const norm_ctx *n = ctx;
    return ct_norm(in[0], n->ord, n->naxes ? n->axes : NULL, n->naxes ? n->naxes : -1, false);
}

Test(linalg, norm_gradients) {
    ct_tensor *x = rnd(3, (const int64_t[]){2, 3, 4}, 5);
    norm_ctx cases[] = {
        {0, 0, {0}},     {0, 1, {1}},     {0, 2, {0, 2}},  {1, 1, {-1}},  {3, 1, {0}},
        {1.5, 0, {0}},   {INFINITY, 1, {1}}, {1, 2, {1, 2}}, {INFINITY, 2, {2, 1}},
        {2, 2, {-2, -1}}, {2, 2, {0, 2}},  {INFINITY, 0, {0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) ct_gradcheck(f_norm, 1, &x, &cases[i], 1e-6);
}

/* ---- decompositions ---------------------------------------------------------------- */

Test(linalg, cholesky) {
    CT_EXPECT(ct_cholesky(CT_F64(CT_DIMS(2, 2), 4, 2, 2, 3)), CT_FLOAT64, CT_DIMS(2, 2), 1e-12, 2, 0,
              1, sqrt(2.0));
    /* Only the lower triangle is read. */
    CT_EXPECT(ct_cholesky(CT_F32(CT_DIMS(2, 2), 4, 99, 2, 3)), CT_FLOAT32, CT_DIMS(2, 2), 1e-6, 2, 0,
              1, sqrt(2.0));
    CT_FAILS(ct_cholesky(CT_F32(CT_DIMS(2, 2, 2), 1, 0, 0, 1, 1, 2, 2, 1)), "matrix 1");
    cr_expect_eq(ct_last_status(), CT_ERR_NUMERIC);
}

static ct_tensor *spd(const ct_tensor *x) {
    int64_t n = ct_tensor_dim(x, -1);
    return ct_add(ct_matmul_ex(x, x, false, true), eye64(n));
}

static ct_tensor *f_cholesky(ct_tensor *const *in, void *ctx) {
    (void)ctx;
    return ct_cholesky(spd(in[0]));
}

Test(linalg, cholesky_gradient) {
    ct_tensor *x = rnd(3, (const int64_t[]){2, 3, 3}, 6);
    ct_gradcheck(f_cholesky, 1, &x, NULL, 1e-6);
}

Test(linalg, eigh) {
    ct_tensor *e, *v;
    ct_tensor *a = CT_F64(CT_DIMS(2, 2), 2, 1, 1, 2);
    CT_STATUS_OK(ct_eigh(a, &e, &v));
    CT_EXPECT(e, CT_FLOAT64, CT_DIMS(2), 1e-12, 1, 3);
    /* a v = v diag(e) */
    cr_expect_lt(max_diff(ct_matmul(a, v), ct_multiply(v, e)), 1e-12);
    ct_tensor *b = rnd(3, (const int64_t[]){3, 4, 4}, 7);
    b = ct_add(b, ct_matrix_transpose(b));
    CT_STATUS_OK(ct_eigh(ct_cast(b, CT_FLOAT32), &e, &v));
    cr_expect_lt(max_diff(ct_cast(ct_matmul(ct_cast(b, CT_FLOAT32), v), CT_FLOAT64),
                          ct_cast(ct_multiply(v, ct_expand_dims(e, -2)), CT_FLOAT64)), 1e-5);
    for (int i = 0; i < 3; i++) cr_expect_leq(ct_tensor_get(e, i * 4), ct_tensor_get(e, i * 4 + 1));
    CT_FAILS(ct_eigh(CT_F32(CT_DIMS(1, 2), 1, 2), &e, &v) ? NULL : e, "square");
}

static ct_tensor *f_eigh(ct_tensor *const *in, void *ctx) {
    ct_tensor *e, *v, *x = in[0];
    if (ct_eigh(ct_add(x, ct_matrix_transpose(x)), &e, &v)) return NULL;
    /* v's columns have arbitrary signs: use sign-free functions of them. */
    return ctx ? ct_square(v) : e;
}

Test(linalg, eigh_gradients) {
    ct_tensor *x = rnd(3, (const int64_t[]){2, 3, 3}, 8);
    ct_gradcheck(f_eigh, 1, &x, NULL, 1e-6);
    ct_gradcheck(f_eigh, 1, &x, (void *)1, 1e-5);
}

Test(linalg, eig) {
    /* The seed's example: tf.linalg.eigvals([[1., 2], [3, 4]]), ordered as TF
     * (by |lambda|). */
    ct_tensor *wr, *wi, *vr, *vi;
    CT_STATUS_OK(ct_eig(CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4), &wr, &wi, &vr, &vi));
    CT_EXPECT(wr, CT_FLOAT32, CT_DIMS(2), 1e-6, -0.37228132, 5.37228132);
    CT_EXPECT(wi, CT_FLOAT32, CT_DIMS(2), 0, 0, 0);
    CT_STATUS_OK(ct_eig(CT_F64(CT_DIMS(2, 2), 0, -1, 1, 0), &wr, &wi, &vr, &vi));
    CT_EXPECT(wr, CT_FLOAT64, CT_DIMS(2), 1e-12, 0, 0);
    cr_expect_float_eq(fabs(ct_tensor_get(wi, 0)), 1, 1e-12);
    cr_expect_float_eq(ct_tensor_get(wi, 0), -ct_tensor_get(wi, 1), 1e-12);
    /* a v = v w for the complex pair: re and im parts. */
    ct_tensor *a = CT_F64(CT_DIMS(2, 2), 0, -1, 1, 0);
    ct_tensor *lhs_re = ct_matmul(a, vr), *lhs_im = ct_matmul(a, vi);
    ct_tensor *rhs_re = ct_subtract(ct_multiply(vr, wr), ct_multiply(vi, wi));
    ct_tensor *rhs_im = ct_add(ct_multiply(vr, wi), ct_multiply(vi, wr));
    cr_expect_lt(max_diff(lhs_re, rhs_re), 1e-12);
    cr_expect_lt(max_diff(lhs_im, rhs_im), 1e-12);
}

Test(linalg, lu) {
    ct_tensor *lu, *p;
    CT_STATUS_OK(ct_lu(CT_F64(CT_DIMS(2, 2), 1, 2, 3, 4), &lu, &p));
    CT_EXPECT(lu, CT_FLOAT64, CT_DIMS(2, 2), 1e-12, 3, 4, 1.0 / 3, 2.0 / 3);
    CT_EXPECT(p, CT_INT32, CT_DIMS(2), 0, 1, 0);
    CT_STATUS_OK(ct_lu(CT_F32(CT_DIMS(3, 3), 0, 0, 1, 0, 2, 0, 3, 0, 0), &lu, &p));
    CT_EXPECT(p, CT_INT32, CT_DIMS(3), 0, 2, 1, 0);
    CT_EXPECT(lu, CT_FLOAT32, CT_DIMS(3, 3), 0, 3, 0, 0, 0, 2, 0, 0, 0, 1);
    cr_expect_neq(ct_lu(CT_F32(CT_DIMS(2, 2), 1, 2, 2, 4), &lu, &p), CT_OK);
    cr_expect(strstr(ct_last_error(), "not invertible") != NULL, "%s", ct_last_error());
}

Test(linalg, qr) {
    /* The seed's example: tf.linalg.qr([[1., 2], [3, 4]]). */
    ct_tensor *q, *r;
    CT_STATUS_OK(ct_qr(CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4), false, &q, &r));
    CT_EXPECT(q, CT_FLOAT32, CT_DIMS(2, 2), 1e-6, -0.31622777, -0.94868330, -0.94868330, 0.31622777);
    CT_EXPECT(r, CT_FLOAT32, CT_DIMS(2, 2), 1e-6, -3.16227766, -4.42718872, 0, -0.63245553);
    ct_tensor *tall = rnd(3, (const int64_t[]){2, 5, 3}, 9), *wide = rnd(2, (const int64_t[]){3, 5}, 10);
    bool fulls[2] = {false, true};
    for (int f = 0; f < 2; f++) {
        CT_STATUS_OK(ct_qr(tall, fulls[f], &q, &r));
        ct_expect_shape(q, 3, f ? (const int64_t[]){2, 5, 5} : (const int64_t[]){2, 5, 3});
        ct_expect_shape(r, 3, f ? (const int64_t[]){2, 5, 3} : (const int64_t[]){2, 3, 3});
        cr_expect_lt(max_diff(ct_matmul(q, r), tall), 1e-12);
        CT_STATUS_OK(ct_qr(wide, fulls[f], &q, &r));
        ct_expect_shape(q, 2, (const int64_t[]){3, 3});
        ct_expect_shape(r, 2, (const int64_t[]){3, 5});
        cr_expect_lt(max_diff(ct_matmul(q, r), wide), 1e-12);
    }
    CT_STATUS_OK(ct_qr(ct_zeros(CT_FLOAT32, CT_DIMS(2, 0)), true, &q, &r));
    CT_EXPECT(q, CT_FLOAT32, CT_DIMS(2, 2), 0, 1, 0, 0, 1);
}

static ct_tensor *f_qr(ct_tensor *const *in, void *ctx) {
    ct_tensor *q, *r;
    if (ct_qr(in[0], ctx != NULL, &q, &r)) return NULL;
    return ct_add(ct_reduce_sum(q, CT_ALL, false), ct_reduce_sum(ct_multiply(r, r), CT_ALL, false));
}

Test(linalg, qr_gradients) {
    ct_tensor *sq = rnd(3, (const int64_t[]){2, 3, 3}, 11);
    ct_tensor *tall = rnd(2, (const int64_t[]){4, 3}, 12);
    ct_tensor *wide = rnd(2, (const int64_t[]){2, 4}, 13);
    ct_gradcheck(f_qr, 1, &sq, NULL, 1e-6);
    ct_gradcheck(f_qr, 1, &tall, NULL, 1e-6);
    ct_gradcheck(f_qr, 1, &wide, NULL, 1e-6);
    ct_gradcheck(f_qr, 1, &wide, (void *)1, 1e-6);
}

Test(linalg, svd) {
    ct_tensor *s, *u, *v;
    /* The seed's example: tf.linalg.svd([[1., 2], [3, 4]]). */
    ct_tensor *a = CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4);
    CT_STATUS_OK(ct_svd(a, false, &s, &u, &v));
    CT_EXPECT(s, CT_FLOAT32, CT_DIMS(2), 1e-6, 5.46498570, 0.36596619);
    cr_expect_lt(max_diff(ct_matmul_ex(ct_multiply(u, s), v, false, true), a), 1e-5);
    CT_STATUS_OK(ct_svd(a, false, &s, NULL, NULL));
    CT_EXPECT(s, CT_FLOAT32, CT_DIMS(2), 1e-6, 5.46498570, 0.36596619);
    ct_tensor *t = rnd(3, (const int64_t[]){2, 5, 3}, 14);
    CT_STATUS_OK(ct_svd(t, true, &s, &u, &v));
    ct_expect_shape(u, 3, (const int64_t[]){2, 5, 5});
    ct_expect_shape(v, 3, (const int64_t[]){2, 3, 3});
    CT_STATUS_OK(ct_svd(t, false, &s, &u, &v));
    ct_expect_shape(u, 3, (const int64_t[]){2, 5, 3});
    cr_expect_lt(max_diff(ct_matmul_ex(ct_multiply(u, ct_expand_dims(s, -2)), v, false, true), t),
                 1e-12);
    CT_STATUS_OK(ct_svd(ct_matrix_transpose(t), false, &s, &u, &v));
    ct_expect_shape(v, 3, (const int64_t[]){2, 5, 3});
    for (int i = 0; i < 2; i++) cr_expect_geq(ct_tensor_get(s, 3 * i), ct_tensor_get(s, 3 * i + 1));
    CT_STATUS_OK(ct_svd(ct_zeros(CT_FLOAT64, CT_DIMS(0, 2)), true, &s, &u, &v));
    ct_expect_shape(s, 1, (const int64_t[]){0});
    CT_EXPECT(v, CT_FLOAT64, CT_DIMS(2, 2), 0, 1, 0, 0, 1);
}

typedef struct {
    bool full, uv;
    int what; /* 0: s, 1: u^2, 2: v^2 */
} svd_ctx;

static ct_tensor *f_svd(ct_tensor *const *in, void *ctx) {
    const svd_ctx *c = ctx;
    ct_tensor *s, *u, *v;
    if (ct_svd(in[0], c->full, &s, c->uv ? &u : NULL, c->uv ? &v : NULL)) return NULL;
    return c->what == 0 ? s : c->what == 1 ? ct_square(u) : ct_square(v);
}

Test(linalg, svd_gradients) {
    ct_tensor *shapes[3] = {rnd(3, (const int64_t[]){2, 3, 3}, 15), rnd(2, (const int64_t[]){4, 3}, 16),
                            rnd(2, (const int64_t[]){3, 4}, 17)};
    for (int i = 0; i < 3; i++) {
        ct_gradcheck(f_svd, 1, &shapes[i], &(svd_ctx){.uv = false}, 1e-6);
        ct_gradcheck(f_svd, 1, &shapes[i], &(svd_ctx){.uv = true}, 1e-6);
        ct_gradcheck(f_svd, 1, &shapes[i], &(svd_ctx){.uv = true, .what = 1}, 1e-5);
        ct_gradcheck(f_svd, 1, &shapes[i], &(svd_ctx){.uv = true, .what = 2}, 1e-5);
    }
    /* full_matrices with |m - n| == 1: the extra columns' squares. */
    ct_gradcheck(f_svd, 1, &shapes[2], &(svd_ctx){.uv = true, .full = true, .what = 0}, 1e-6);
    ct_gradcheck(f_svd, 1, &shapes[1], &(svd_ctx){.uv = true, .full = true, .what = 2}, 1e-5);
}

/* ---- solves ---------------------------------------------------------------------------------- */

Test(linalg, matrix_solve) {
    ct_tensor *a = CT_F64(CT_DIMS(2, 2), 3, 1, 1, 2), *b = CT_F64(CT_DIMS(2, 1), 9, 8);
    CT_EXPECT(ct_matrix_solve(a, b, false), CT_FLOAT64, CT_DIMS(2, 1), 1e-12, 2, 3);
    ct_tensor *n = CT_F32(CT_DIMS(2, 2), 1, 2, 0, 1), *rhs = CT_F32(CT_DIMS(2, 2), 5, 1, 2, 0);
    /* adjoint: n^T x = rhs, n^T = [[1,0],[2,1]] */
    CT_EXPECT(ct_matrix_solve(n, rhs, true), CT_FLOAT32, CT_DIMS(2, 2), 1e-6, 5, 1, -8, -2);
    ct_expect_shape(ct_matrix_solve(a, ct_zeros(CT_FLOAT64, CT_DIMS(2, 0)), false), 2,
                    (const int64_t[]){2, 0});
    CT_FAILS(ct_matrix_solve(CT_F64(CT_DIMS(2, 2), 1, 2, 2, 4), b, false), "not invertible");
    CT_FAILS(ct_matrix_solve(a, CT_F64(CT_DIMS(3, 1), 1, 2, 3), false), "rows");
    CT_FAILS(ct_matrix_solve(ct_zeros(CT_FLOAT64, CT_DIMS(2, 2, 2)), ct_zeros(CT_FLOAT64, CT_DIMS(2, 1)),
                             false), "batch dimensions");
    CT_FAILS(ct_matrix_solve(a, ct_cast(b, CT_FLOAT32), false), "different dtypes");
}

Test(linalg, triangular_solve) {
    ct_tensor *l = CT_F64(CT_DIMS(2, 2), 2, 7, 1, 1), *b = CT_F64(CT_DIMS(2, 1), 2, 3);
    CT_EXPECT(ct_triangular_solve(l, b, false, false), CT_FLOAT64, CT_DIMS(2, 1), 1e-12, 1, 2);
    /* upper: [[2,7],[0,1]] x = b -> x1 = 3, x0 = (2 - 21) / 2 */
    CT_EXPECT(ct_triangular_solve(l, b, true, false), CT_FLOAT64, CT_DIMS(2, 1), 1e-12, -9.5, 3);
    /* lower, adjoint: [[2,1],[0,1]] x = b -> x1 = 3, x0 = -0.5 */
    CT_EXPECT(ct_triangular_solve(l, b, false, true), CT_FLOAT64, CT_DIMS(2, 1), 1e-12, -0.5, 3);
    /* Broadcast: matrix [2,2] against rhs [3,2,1]. */
    ct_tensor *bb = CT_F64(CT_DIMS(3, 2, 1), 2, 3, 4, 6, 0, 0);
    CT_EXPECT(ct_triangular_solve(l, bb, false, false), CT_FLOAT64, CT_DIMS(3, 2, 1), 1e-12, 1, 2, 2,
              4, 0, 0);
    CT_EXPECT(ct_triangular_solve(CT_F32(CT_DIMS(1, 1), 0), CT_F32(CT_DIMS(1, 1), 1), false, false),
              CT_FLOAT32, CT_DIMS(1, 1), 0, INFINITY);
    CT_FAILS(ct_triangular_solve(ct_zeros(CT_FLOAT64, CT_DIMS(2, 2, 2)),
                                 ct_zeros(CT_FLOAT64, CT_DIMS(3, 2, 1)), false, false),
             "not broadcastable");
}

typedef struct {
    bool adjoint, upper, tri;
} solve_ctx;

static ct_tensor *f_solve(ct_tensor *const *in, void *ctx) {
    const solve_ctx *s = ctx;
    if (s->tri) return ct_triangular_solve(in[0], in[1], s->upper, s->adjoint);
    return ct_matrix_solve(in[0], in[1], s->adjoint);
}

Test(linalg, solve_gradients) {
    ct_tensor *a = ct_add(rnd(3, (const int64_t[]){2, 3, 3}, 18),
                          ct_multiply(ct_scalar_of(CT_FLOAT64, 3), eye64(3)));
    CT_OK(a);
    ct_tensor *in[2] = {a, rnd(3, (const int64_t[]){2, 3, 2}, 19)};
    for (int i = 0; i < 2; i++) ct_gradcheck(f_solve, 2, in, &(solve_ctx){.adjoint = i}, 1e-6);
    for (int i = 0; i < 4; i++)
        ct_gradcheck(f_solve, 2, in, &(solve_ctx){.tri = true, .adjoint = i & 1, .upper = i & 2},
                     1e-6);
    /* Broadcast gradients: matrix [3,3] with rhs [2,3,2]. */
    ct_tensor *in2[2] = {ct_add(rnd(2, (const int64_t[]){3, 3}, 20), eye64(3)), in[1]};
    ct_gradcheck(f_solve, 2, in2, &(solve_ctx){.tri = true}, 1e-6);
}
