/* Reductions: sum, mean, prod, max, min, all, any, logsumexp, variance,
 * std, argmax, argmin. Expected values are TF 2's. */
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(reduce, .init = ct_test_begin, .fini = ct_test_end);

static const double NaN = NAN, Inf = INFINITY;

Test(reduce, sum_axes_keepdims_and_empty_axis_list) {
    ct_tensor *x = CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_reduce_sum(x, CT_AXES(0), false), CT_FLOAT32, CT_DIMS(3), 0, 5, 7, 9);
    CT_EXPECT(ct_reduce_sum(x, CT_AXES(-1), true), CT_FLOAT32, CT_DIMS(2, 1), 0, 6, 15);
    CT_EXPECT(ct_reduce_sum(x, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 0, 21);
    CT_EXPECT(ct_reduce_sum(x, CT_ALL, true), CT_FLOAT32, CT_DIMS(1, 1), 0, 21);
    CT_EXPECT(ct_reduce_sum(x, (const int[]){0}, 0, false), CT_FLOAT32, CT_DIMS(2, 3), 0, 1, 2,
              3, 4, 5, 6);
    CT_EXPECT(ct_reduce_sum(ct_scalar(4), CT_ALL, false), CT_FLOAT32, CT_SCALAR, 0, 4);
    CT_EXPECT(ct_reduce_sum(CT_I32(CT_DIMS(3), 1, 2, INT32_MAX), CT_ALL, false), CT_INT32,
              CT_SCALAR, 0, INT32_MIN + 2); /* wraps as TF */
    CT_EXPECT(ct_reduce_sum(ct_zeros(CT_FLOAT32, CT_DIMS(0, 2)), CT_AXES(0), false), CT_FLOAT32,
              CT_DIMS(2), 0, 0, 0);
    ct_expect_shape(ct_reduce_sum(ct_zeros(CT_FLOAT32, CT_DIMS(0, 2)), CT_AXES(1), false), 1,
                    (int64_t[]){0});
}

Test(reduce, non_adjacent_axes) {
    double v[24];
    for (int i = 0; i < 24; i++) v[i] = i;
    ct_tensor *x = ct_constant(v, CT_FLOAT64, CT_DIMS(2, 3, 4));
    /* sum over axes 0 and 2: for each j, sum_i sum_k (12 i + 4 j + k) */
    CT_EXPECT(ct_reduce_sum(x, CT_AXES(0, 2), false), CT_FLOAT64, CT_DIMS(3), 0, 60, 92, 124);
    CT_EXPECT(ct_reduce_max(x, CT_AXES(2, 0), true), CT_FLOAT64, CT_DIMS(1, 3, 1), 0, 15, 19, 23);
    CT_EXPECT(ct_reduce_min(x, CT_AXES(-3, -1), false), CT_FLOAT64, CT_DIMS(3), 0, 0, 4, 8);
}

Test(reduce, large_rows_columns_and_full) {
    int64_t n = 1003, m = 517;
    ct_tensor *x = ct_ones(CT_FLOAT32, CT_DIMS(n, m));
    double *rows = malloc((size_t)n * sizeof *rows), *cols = malloc((size_t)m * sizeof *cols);
    for (int64_t i = 0; i < n; i++) rows[i] = (double)m;
    for (int64_t i = 0; i < m; i++) cols[i] = (double)n;
    ct_expect(ct_reduce_sum(x, CT_AXES(1), false), CT_FLOAT32, 1, (int64_t[]){n}, rows, 0);
    ct_expect(ct_reduce_sum(x, CT_AXES(0), false), CT_FLOAT32, 1, (int64_t[]){m}, cols, 0);
    CT_EXPECT(ct_reduce_sum(x, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 0, (double)(n * m));
    CT_EXPECT(ct_reduce_sum(ct_ones(CT_FLOAT64, CT_DIMS(3, 200000)), CT_AXES(1), false),
              CT_FLOAT64, CT_DIMS(3), 0, 200000, 200000, 200000);
    ct_set_num_threads(2);
    CT_EXPECT(ct_reduce_sum(ct_ones(CT_FLOAT32, CT_DIMS(1 << 20)), CT_ALL, false), CT_FLOAT32,
              CT_SCALAR, 0, 1 << 20);
    CT_EXPECT(ct_reduce_max(ct_range(0, 1 << 20, 1, CT_FLOAT32), CT_ALL, false), CT_FLOAT32,
              CT_SCALAR, 0, (1 << 20) - 1);
    free(rows);
    free(cols);
}

Test(reduce, mean_float_integer_and_empty) {
    ct_tensor *x = CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4);
    CT_EXPECT(ct_reduce_mean(x, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 0, 2.5);
    CT_EXPECT(ct_reduce_mean(x, CT_AXES(0), false), CT_FLOAT32, CT_DIMS(2), 0, 2, 3);
    /* integers: the int64 sum divided with truncation toward zero */
    CT_EXPECT(ct_reduce_mean(CT_I32(CT_DIMS(3), 1, 2, 4), CT_ALL, false), CT_INT32, CT_SCALAR,
              0, 2);
    CT_EXPECT(ct_reduce_mean(CT_I32(CT_DIMS(3), -1, -2, -4), CT_ALL, false), CT_INT32,
              CT_SCALAR, 0, -2);
    CT_EXPECT(ct_reduce_mean(CT_I32(CT_DIMS(2), INT32_MAX, INT32_MAX), CT_ALL, false), CT_INT32,
              CT_SCALAR, 0, INT32_MAX);
    ct_tensor *u8 = ct_constant((uint8_t[]){200, 200, 255}, CT_UINT8, CT_DIMS(3));
    CT_EXPECT(ct_reduce_mean(u8, CT_ALL, false), CT_UINT8, CT_SCALAR, 0, 218);
    CT_EXPECT(ct_reduce_mean(CT_I64(CT_DIMS(2, 2), 1, 2, 3, 5), CT_AXES(1), true), CT_INT64,
              CT_DIMS(2, 1), 0, 1, 4);
    CT_EXPECT(ct_reduce_mean(ct_zeros(CT_FLOAT32, CT_DIMS(0)), CT_ALL, false), CT_FLOAT32,
              CT_SCALAR, 0, NaN);
    CT_EXPECT(ct_reduce_mean(ct_zeros(CT_INT32, CT_DIMS(0, 2)), CT_AXES(0), false), CT_INT32,
              CT_DIMS(2), 0, 0, 0);
    CT_EXPECT(ct_reduce_mean(ct_cast(x, CT_FLOAT16), CT_ALL, false), CT_FLOAT16, CT_SCALAR, 0,
              2.5);
}

Test(reduce, max_min_prod_values) {
    ct_tensor *x = CT_F32(CT_DIMS(2, 3), 1, -2, 3, 4, 5, -6);
    CT_EXPECT(ct_reduce_max(x, CT_AXES(1), false), CT_FLOAT32, CT_DIMS(2), 0, 3, 5);
    CT_EXPECT(ct_reduce_min(x, CT_AXES(0), false), CT_FLOAT32, CT_DIMS(3), 0, 1, -2, -6);
    CT_EXPECT(ct_reduce_prod(x, CT_AXES(1), false), CT_FLOAT32, CT_DIMS(2), 0, -6, -120);
    CT_EXPECT(ct_reduce_prod(CT_I32(CT_DIMS(3), 2, 3, -4), CT_ALL, false), CT_INT32, CT_SCALAR,
              0, -24);
    CT_EXPECT(ct_reduce_max(CT_I64(CT_DIMS(3), -5, -9, -7), CT_ALL, false), CT_INT64, CT_SCALAR,
              0, -5);
    ct_tensor *u8 = ct_constant((uint8_t[]){7, 0, 255}, CT_UINT8, CT_DIMS(3));
    CT_EXPECT(ct_reduce_min(u8, CT_ALL, false), CT_UINT8, CT_SCALAR, 0, 0);
    CT_EXPECT(ct_reduce_max(u8, CT_ALL, false), CT_UINT8, CT_SCALAR, 0, 255);
    /* NaN propagates through max and min; inf is an ordinary value */
    ct_tensor *n = CT_F64(CT_DIMS(4), 1, NaN, 3, -Inf);
    CT_EXPECT(ct_reduce_max(n, CT_ALL, false), CT_FLOAT64, CT_SCALAR, 0, NaN);
    CT_EXPECT(ct_reduce_min(n, CT_ALL, false), CT_FLOAT64, CT_SCALAR, 0, NaN);
    CT_EXPECT(ct_reduce_min(CT_F64(CT_DIMS(2), 1, -Inf), CT_ALL, false), CT_FLOAT64, CT_SCALAR,
              0, -Inf);
    /* NaN inside a long float32 row (vectorised path) */
    float *big = calloc(1000, sizeof *big);
    big[517] = NAN;
    ct_tensor *b = ct_constant(big, CT_FLOAT32, CT_DIMS(4, 250));
    CT_EXPECT(ct_reduce_max(b, CT_AXES(1), false), CT_FLOAT32, CT_DIMS(4), 0, 0, 0, NaN, 0);
    double col[250];
    CT_STATUS_OK(ct_tensor_read(ct_reduce_min(b, CT_AXES(0), false), CT_FLOAT64, col, 250));
    for (int i = 0; i < 250; i++)
        cr_expect(i == 17 ? isnan(col[i]) : col[i] == 0, "column %d: %g", i, col[i]);
    free(big);
    /* identities for empty inputs */
    ct_tensor *e = ct_zeros(CT_FLOAT32, CT_DIMS(0));
    CT_EXPECT(ct_reduce_max(e, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 0, -Inf);
    CT_EXPECT(ct_reduce_min(e, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 0, Inf);
    CT_EXPECT(ct_reduce_prod(e, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 0, 1);
    CT_EXPECT(ct_reduce_max(ct_zeros(CT_INT32, CT_DIMS(0)), CT_ALL, false), CT_INT32, CT_SCALAR,
              0, INT32_MIN);
}

Test(reduce, all_any) {
    ct_tensor *b = CT_BOOLS(CT_DIMS(2, 2), true, false, true, true);
    CT_EXPECT(ct_reduce_all(b, CT_AXES(1), false), CT_BOOL, CT_DIMS(2), 0, 0, 1);
    CT_EXPECT(ct_reduce_any(b, CT_AXES(0), false), CT_BOOL, CT_DIMS(2), 0, 1, 1);
    CT_EXPECT(ct_reduce_all(b, CT_ALL, false), CT_BOOL, CT_SCALAR, 0, 0);
    CT_EXPECT(ct_reduce_all(ct_zeros(CT_BOOL, CT_DIMS(0)), CT_ALL, false), CT_BOOL, CT_SCALAR, 0,
              1);
    CT_EXPECT(ct_reduce_any(ct_zeros(CT_BOOL, CT_DIMS(0)), CT_ALL, false), CT_BOOL, CT_SCALAR, 0,
              0);
    CT_FAILS(ct_reduce_any(CT_F32(CT_DIMS(1), 1), CT_ALL, false), "ct_reduce_any: expected a bool");
}

Test(reduce, errors) {
    ct_tensor *x = CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    CT_FAILS(ct_reduce_sum(x, CT_AXES(2), false), "ct_reduce_sum: axis 2 is out of range");
    CT_FAILS(ct_reduce_mean(x, CT_AXES(-3), false), "ct_reduce_mean: axis -3 is out of range");
    CT_FAILS(ct_reduce_max(x, CT_AXES(1, -1), false), "listed twice");
    CT_FAILS(ct_reduce_prod(ct_zeros(CT_BOOL, CT_DIMS(2)), CT_ALL, false),
             "ct_reduce_prod: expected a numeric tensor");
    CT_FAILS(ct_reduce_sum(NULL, CT_ALL, false), "NULL");
    CT_FAILS(ct_reduce_variance(CT_I32(CT_DIMS(2), 1, 2), CT_ALL, false),
             "ct_reduce_variance: expected a floating-point tensor");
    CT_FAILS(ct_reduce_std(x, CT_AXES(5), false), "ct_reduce_std: axis 5 is out of range");
    CT_FAILS(ct_reduce_logsumexp(CT_I32(CT_DIMS(1), 1), CT_ALL, false),
             "ct_reduce_logsumexp: expected a floating-point tensor");
}

/* ---- gradients ---------------------------------------------------------------- */

static ct_tensor *grad_of(ct_tensor *(*f)(const ct_tensor *, const int *, int, bool),
                          ct_tensor *x, const int *axes, int naxes, bool keepdims) {
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, x);
    ct_tensor *y = ct_reduce_sum(f(x, axes, naxes, keepdims), CT_ALL, false);
    ct_tape_end(tape);
    ct_tensor *g = NULL;
    CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &x, &g, NULL));
    ct_tape_free(tape);
    return g;
}

Test(reduce, max_gradient_splits_ties) {
    ct_tensor *x = CT_F32(CT_DIMS(2, 3), 1, 3, 3, 5, 2, 4);
    CT_EXPECT(grad_of(ct_reduce_max, x, CT_AXES(1), false), CT_FLOAT32, CT_DIMS(2, 3), 1e-7, 0,
              0.5, 0.5, 1, 0, 0);
    CT_EXPECT(grad_of(ct_reduce_min, x, CT_ALL, true), CT_FLOAT32, CT_DIMS(2, 3), 1e-7, 1, 0, 0,
              0, 0, 0);
    CT_EXPECT(grad_of(ct_reduce_mean, x, CT_AXES(0), false), CT_FLOAT32, CT_DIMS(2, 3), 1e-7,
              0.5, 0.5, 0.5, 0.5, 0.5, 0.5);
}

Test(reduce, prod_gradient_with_zeros) {
    ct_tensor *x = CT_F64(CT_DIMS(2, 3), 2, 0, 3, 0, 0, 4);
    /* row 0: d/dx = [0, 6, 0]; row 1 (two zeros): all 0 */
    CT_EXPECT(grad_of(ct_reduce_prod, x, CT_AXES(1), false), CT_FLOAT64, CT_DIMS(2, 3), 1e-12, 0,
              6, 0, 0, 0, 0);
    CT_EXPECT(grad_of(ct_reduce_prod, CT_F64(CT_DIMS(3), 2, 5, 0), CT_ALL, false), CT_FLOAT64,
              CT_DIMS(3), 1e-12, 0, 0, 10);
}

typedef struct {
    ct_tensor *(*f)(const ct_tensor *, const int *, int, bool);
    int axes[3], naxes;
    bool keepdims;
} rctx;

static ct_tensor *apply(ct_tensor *const *in, void *ctx) {
    rctx *r = ctx;
    return r->f(in[0], r->naxes < 0 ? NULL : r->axes, r->naxes, r->keepdims);
}

static ct_tensor *sample(int rank, const int64_t *shape, double zero_every) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    double *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++) {
        v[i] = 0.3 + 0.9 * sin(1.7 * (double)i + 0.4) + 0.01 * (double)i;
        if (zero_every > 0 && i % (int64_t)zero_every == 1) v[i] = 0;
    }
    ct_tensor *t = ct_constant(v, CT_FLOAT64, rank, shape);
    free(v);
    return t;
}

Test(reduce, gradchecks) {
    ct_tensor *x = sample(CT_DIMS(2, 3, 4), 0);
    ct_tensor *z = sample(CT_DIMS(2, 3, 4), 5);
    rctx cases[] = {
        {ct_reduce_sum, {0, 2}, 2, false},  {ct_reduce_mean, {1}, 1, true},
        {ct_reduce_mean, {0}, -1, false},   {ct_reduce_max, {-1}, 1, false},
        {ct_reduce_min, {0, 1}, 2, true},   {ct_reduce_prod, {0, 2}, 2, false},
        {ct_reduce_prod, {1}, 1, true},     {ct_reduce_prod, {0}, -1, false},
        {ct_reduce_logsumexp, {2}, 1, false}, {ct_reduce_logsumexp, {0}, -1, true},
        {ct_reduce_variance, {0, 2}, 2, true}, {ct_reduce_std, {1}, 1, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ct_gradcheck(apply, 1, &x, &cases[i], 1e-6);
        if (cases[i].f == ct_reduce_prod) ct_gradcheck(apply, 1, &z, &cases[i], 1e-6);
    }
}

Test(reduce, prod_second_derivative) {
    /* d2/dx0 dx1 of x0 x1 x2 is x2: the gradient of the gradient works. */
    ct_tensor *x = CT_F64(CT_DIMS(3), 2, 3, 4);
    ct_tape *outer = ct_tape_begin(NULL);
    ct_tape_watch(outer, x);
    ct_tape *inner = ct_tape_begin(NULL);
    ct_tape_watch(inner, x);
    ct_tensor *y = ct_reduce_prod(x, CT_ALL, false);
    ct_tape_end(inner);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(inner, y, 1, &x, &g, NULL));
    CT_EXPECT(g, CT_FLOAT64, CT_DIMS(3), 1e-12, 12, 8, 6);
    ct_tensor *g0 = ct_reduce_sum(ct_multiply(g, CT_F64(CT_DIMS(3), 1, 0, 0)), CT_ALL, false);
    ct_tape_end(outer);
    ct_tensor *h;
    CT_STATUS_OK(ct_tape_gradient(outer, g0, 1, &x, &h, NULL));
    CT_EXPECT(h, CT_FLOAT64, CT_DIMS(3), 1e-12, 0, 4, 3);
    ct_tape_free(inner);
    ct_tape_free(outer);
}

/* ---- logsumexp, variance, std ------------------------------------------------- */

Test(reduce, logsumexp_values) {
    CT_EXPECT(ct_reduce_logsumexp(CT_F32(CT_DIMS(3), 1, 2, 3), CT_ALL, false), CT_FLOAT32,
              CT_SCALAR, 1e-6, 3.4076059644443806);
    CT_EXPECT(ct_reduce_logsumexp(CT_F32(CT_DIMS(2), 1000, 1000), CT_ALL, false), CT_FLOAT32,
              CT_SCALAR, 1e-6, 1000.6931471805599);
    CT_EXPECT(ct_reduce_logsumexp(CT_F64(CT_DIMS(2, 2), -Inf, -Inf, Inf, 1), CT_AXES(1), true),
              CT_FLOAT64, CT_DIMS(2, 1), 0, -Inf, Inf);
    CT_EXPECT(ct_reduce_logsumexp(ct_zeros(CT_FLOAT32, CT_DIMS(0)), CT_ALL, false), CT_FLOAT32,
              CT_SCALAR, 0, -Inf);
    CT_EXPECT(ct_reduce_logsumexp(CT_F64(CT_DIMS(2), NaN, 1), CT_ALL, false), CT_FLOAT64,
              CT_SCALAR, 0, NaN);
}

Test(reduce, variance_std_values) {
    ct_tensor *x = CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4);
    CT_EXPECT(ct_reduce_variance(x, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 1e-7, 1.25);
    CT_EXPECT(ct_reduce_variance(x, CT_AXES(0), false), CT_FLOAT32, CT_DIMS(2), 1e-7, 1, 1);
    CT_EXPECT(ct_reduce_std(x, CT_AXES(-1), true), CT_FLOAT32, CT_DIMS(2, 1), 1e-7, 0.5, 0.5);
    CT_EXPECT(ct_reduce_std(x, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 1e-7, 1.118033988749895);
    CT_EXPECT(ct_reduce_variance(ct_zeros(CT_FLOAT64, CT_DIMS(0)), CT_ALL, false), CT_FLOAT64,
              CT_SCALAR, 0, NaN);
}

/* ---- argmax / argmin ------------------------------------------------------------ */

Test(reduce, argmax_argmin) {
    ct_tensor *x = CT_F32(CT_DIMS(2, 3), 1, 3, 3, 5, 2, 5);
    CT_EXPECT(ct_argmax(x, 1), CT_INT64, CT_DIMS(2), 0, 1, 0);
    CT_EXPECT(ct_argmax(x, 0), CT_INT64, CT_DIMS(3), 0, 1, 0, 1);
    CT_EXPECT(ct_argmin(x, -1), CT_INT64, CT_DIMS(2), 0, 0, 1);
    CT_EXPECT(ct_argmin(x, -2), CT_INT64, CT_DIMS(3), 0, 0, 1, 0);
    CT_EXPECT(ct_argmax(CT_I32(CT_DIMS(4), -3, 7, 7, 2), 0), CT_INT64, CT_SCALAR, 0, 1);
    CT_EXPECT(ct_argmin(ct_constant((uint8_t[]){9, 4, 4}, CT_UINT8, CT_DIMS(3)), 0), CT_INT64,
              CT_SCALAR, 0, 1);
    CT_EXPECT(ct_argmax(CT_BOOLS(CT_DIMS(3), false, true, true), 0), CT_INT64, CT_SCALAR, 0, 1);
    CT_EXPECT(ct_argmax(ct_cast(x, CT_FLOAT16), 1), CT_INT64, CT_DIMS(2), 0, 1, 0);
    /* TF's CPU kernel never picks NaN: the largest other value, 0 if none */
    CT_EXPECT(ct_argmax(CT_F64(CT_DIMS(3), NaN, 1, 3), 0), CT_INT64, CT_SCALAR, 0, 2);
    CT_EXPECT(ct_argmin(CT_F64(CT_DIMS(3), 1, NaN, 3), 0), CT_INT64, CT_SCALAR, 0, 0);
    CT_EXPECT(ct_argmax(CT_F64(CT_DIMS(2), NaN, NaN), 0), CT_INT64, CT_SCALAR, 0, 0);
    CT_EXPECT(ct_argmax(CT_F64(CT_DIMS(3), -Inf, -Inf, 2), 0), CT_INT64, CT_SCALAR, 0, 2);
    CT_EXPECT(ct_argmin(CT_F64(CT_DIMS(3), 2, Inf, -Inf), 0), CT_INT64, CT_SCALAR, 0, 2);
    /* columns (strided path) with NaN and ties */
    ct_tensor *c = CT_F32(CT_DIMS(3, 2), NaN, 1, 4, 7, 4, 7);
    CT_EXPECT(ct_argmax(c, 0), CT_INT64, CT_DIMS(2), 0, 1, 1);
    ct_expect_shape(ct_argmax(ct_zeros(CT_FLOAT32, CT_DIMS(0, 3)), 1), 1, (int64_t[]){0});
}

Test(reduce, argmax_errors) {
    CT_FAILS(ct_argmax(ct_scalar(1), 0), "ct_argmax: axis 0 is out of range for rank 0");
    CT_FAILS(ct_argmin(CT_F32(CT_DIMS(2), 1, 2), 1), "ct_argmin: axis 1 is out of range");
    CT_FAILS(ct_argmax(ct_zeros(CT_FLOAT32, CT_DIMS(2, 0)), 1),
             "ct_argmax: reduction axis 1 is empty in float32[2,0]");
}
