/* Scans (cumsum, cumprod) and ordering (sort, argsort, top_k). Expected
 * values are TF 2's. */
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(scan_sort, .init = ct_test_begin, .fini = ct_test_end);

static const double NaN = NAN, Inf = INFINITY;

/* ---- cumsum / cumprod ------------------------------------------------------------ */

Test(scan_sort, cumsum_flags) {
    ct_tensor *x = CT_F32(CT_DIMS(4), 1, 2, 3, 4);
    CT_EXPECT(ct_cumsum(x, 0, false, false), CT_FLOAT32, CT_DIMS(4), 0, 1, 3, 6, 10);
    CT_EXPECT(ct_cumsum(x, 0, true, false), CT_FLOAT32, CT_DIMS(4), 0, 0, 1, 3, 6);
    CT_EXPECT(ct_cumsum(x, 0, false, true), CT_FLOAT32, CT_DIMS(4), 0, 10, 9, 7, 4);
    CT_EXPECT(ct_cumsum(x, -1, true, true), CT_FLOAT32, CT_DIMS(4), 0, 9, 7, 4, 0);
    CT_EXPECT(ct_cumprod(x, 0, false, false), CT_FLOAT32, CT_DIMS(4), 0, 1, 2, 6, 24);
    CT_EXPECT(ct_cumprod(x, 0, true, false), CT_FLOAT32, CT_DIMS(4), 0, 1, 1, 2, 6);
    CT_EXPECT(ct_cumprod(x, 0, false, true), CT_FLOAT32, CT_DIMS(4), 0, 24, 24, 12, 4);
    CT_EXPECT(ct_cumprod(x, 0, true, true), CT_FLOAT32, CT_DIMS(4), 0, 24, 12, 4, 1);
}

Test(scan_sort, cumsum_axes_dtypes_empty) {
    ct_tensor *m = CT_I32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_cumsum(m, 0, false, false), CT_INT32, CT_DIMS(2, 3), 0, 1, 2, 3, 5, 7, 9);
    CT_EXPECT(ct_cumsum(m, 1, false, false), CT_INT32, CT_DIMS(2, 3), 0, 1, 3, 6, 4, 9, 15);
    CT_EXPECT(ct_cumsum(m, -2, true, true), CT_INT32, CT_DIMS(2, 3), 0, 4, 5, 6, 0, 0, 0);
    CT_EXPECT(ct_cumprod(ct_cast(m, CT_INT64), 0, true, false), CT_INT64, CT_DIMS(2, 3), 0, 1, 1,
              1, 1, 2, 3);
    ct_tensor *u8 = ct_constant((uint8_t[]){200, 100, 1}, CT_UINT8, CT_DIMS(3));
    CT_EXPECT(ct_cumsum(u8, 0, false, false), CT_UINT8, CT_DIMS(3), 0, 200, 44, 45);
    CT_EXPECT(ct_cumsum(CT_F64(CT_DIMS(3), 1, NaN, 2), 0, false, false), CT_FLOAT64, CT_DIMS(3),
              0, 1, NaN, NaN);
    CT_EXPECT(ct_cumsum(CT_F64(CT_DIMS(3), 1, Inf, -Inf), 0, false, false), CT_FLOAT64,
              CT_DIMS(3), 0, 1, Inf, NaN);
    ct_expect_shape(ct_cumsum(ct_zeros(CT_FLOAT32, CT_DIMS(0, 3)), 0, false, false), 2,
                    (int64_t[]){0, 3});
    CT_EXPECT(ct_cumsum(ct_cast(CT_F32(CT_DIMS(2), 1, 2), CT_BFLOAT16), 0, false, false),
              CT_BFLOAT16, CT_DIMS(2), 0, 1, 3);
    /* a long column scan and a long row scan */
    ct_tensor *ones = ct_ones(CT_FLOAT64, CT_DIMS(500, 70));
    ct_tensor *c0 = ct_cumsum(ones, 0, false, true), *c1 = ct_cumsum(ones, 1, true, false);
    cr_expect_eq(ct_tensor_get(c0, 0), 500);
    cr_expect_eq(ct_tensor_get(c0, 499 * 70 + 3), 1);
    cr_expect_eq(ct_tensor_get(c1, 70 * 9 + 69), 69);
}

Test(scan_sort, scan_errors) {
    CT_FAILS(ct_cumsum(ct_scalar(1), 0, false, false), "ct_cumsum: axis 0 is out of range");
    CT_FAILS(ct_cumprod(CT_F32(CT_DIMS(2), 1, 2), -2, false, false),
             "ct_cumprod: axis -2 is out of range");
    CT_FAILS(ct_cumsum(ct_zeros(CT_BOOL, CT_DIMS(2)), 0, false, false),
             "ct_cumsum: expected a numeric tensor");
}

typedef struct {
    int op; /* 0 cumsum, 1 cumprod, 2 sort, 3 top_k values */
    int axis;
    bool a, b;
    int64_t k;
} sctx;

static ct_tensor *apply(ct_tensor *const *in, void *ctx) {
    sctx *s = ctx;
    switch (s->op) {
    case 0: return ct_cumsum(in[0], s->axis, s->a, s->b);
    case 1: return ct_cumprod(in[0], s->axis, s->a, s->b);
    case 2: return ct_sort(in[0], s->axis, s->a);
    default: {
        ct_tensor *v = NULL, *i = NULL;
        ct_top_k(in[0], s->k, true, &v, &i);
        return v;
    }
    }
}

static ct_tensor *sample(int rank, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    double *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = 0.4 + 0.9 * sin(2.3 * (double)i + 0.1);
    ct_tensor *t = ct_constant(v, CT_FLOAT64, rank, shape);
    free(v);
    return t;
}

Test(scan_sort, scan_gradients) {
    ct_tensor *x = sample(CT_DIMS(3, 4));
    for (int op = 0; op < 2; op++)
        for (int f = 0; f < 4; f++)
            for (int axis = -1; axis <= 0; axis++) {
                sctx s = {.op = op, .axis = axis, .a = f & 1, .b = f & 2};
                ct_gradcheck(apply, 1, &x, &s, 1e-6);
            }
}

/* TF's _CumprodGrad divides by x with div_no_nan: 0 where x is 0. */
Test(scan_sort, cumprod_gradient_at_zero_is_tfs) {
    ct_tensor *x = CT_F64(CT_DIMS(3), 2, 0, 3);
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, x);
    ct_tensor *y = ct_reduce_sum(ct_cumprod(x, 0, false, false), CT_ALL, false);
    ct_tape_end(tape);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &x, &g, NULL));
    CT_EXPECT(g, CT_FLOAT64, CT_DIMS(3), 1e-12, 1, 0, 0);
    ct_tape_free(tape);
}

/* ---- sort / argsort ------------------------------------------------------------- */

Test(scan_sort, sort_and_argsort_are_stable) {
    ct_tensor *x = CT_F32(CT_DIMS(6), 3, 1, 2, 1, 3, 0);
    CT_EXPECT(ct_sort(x, -1, false), CT_FLOAT32, CT_DIMS(6), 0, 0, 1, 1, 2, 3, 3);
    CT_EXPECT(ct_argsort(x, 0, false), CT_INT32, CT_DIMS(6), 0, 5, 1, 3, 2, 0, 4);
    CT_EXPECT(ct_sort(x, 0, true), CT_FLOAT32, CT_DIMS(6), 0, 3, 3, 2, 1, 1, 0);
    CT_EXPECT(ct_argsort(x, 0, true), CT_INT32, CT_DIMS(6), 0, 0, 4, 2, 1, 3, 5);
    ct_tensor *m = CT_I64(CT_DIMS(2, 3), 5, -1, 5, INT64_MIN, 7, INT64_MAX);
    CT_EXPECT(ct_sort(m, 1, false), CT_INT64, CT_DIMS(2, 3), 0, -1, 5, 5, (double)INT64_MIN, 7,
              (double)INT64_MAX);
    CT_EXPECT(ct_argsort(m, 0, false), CT_INT32, CT_DIMS(2, 3), 0, 1, 0, 0, 0, 1, 1);
    CT_EXPECT(ct_argsort(m, 0, true), CT_INT32, CT_DIMS(2, 3), 0, 0, 1, 1, 1, 0, 0);
    ct_tensor *u8 = ct_constant((uint8_t[]){255, 0, 7}, CT_UINT8, CT_DIMS(3));
    CT_EXPECT(ct_sort(u8, 0, true), CT_UINT8, CT_DIMS(3), 0, 255, 7, 0);
    CT_EXPECT(ct_sort(ct_cast(x, CT_FLOAT16), 0, false), CT_FLOAT16, CT_DIMS(6), 0, 0, 1, 1, 2,
              3, 3);
    /* -0 and 0 are equal: order kept */
    CT_EXPECT(ct_argsort(CT_F64(CT_DIMS(3), 0.0, -0.0, -1), 0, false), CT_INT32, CT_DIMS(3), 0,
              2, 0, 1);
    ct_expect_shape(ct_sort(ct_zeros(CT_FLOAT32, CT_DIMS(2, 0)), 1, false), 2, (int64_t[]){2, 0});
}

Test(scan_sort, sort_nan_is_largest) {
    ct_tensor *x = CT_F64(CT_DIMS(5), 2, NaN, -Inf, Inf, 1);
    CT_EXPECT(ct_sort(x, 0, false), CT_FLOAT64, CT_DIMS(5), 0, -Inf, 1, 2, Inf, NaN);
    CT_EXPECT(ct_argsort(x, 0, true), CT_INT32, CT_DIMS(5), 0, 1, 3, 0, 4, 2);
}

Test(scan_sort, sort_long_rows_and_columns) {
    int n = 1000;
    int32_t *v = malloc((size_t)n * 2 * sizeof *v);
    for (int i = 0; i < 2 * n; i++) v[i] = (i * 7919) % 1009 - 500;
    ct_tensor *x = ct_constant(v, CT_INT32, CT_DIMS(2, n));
    int32_t *s = malloc((size_t)n * 2 * sizeof *s), *idx = malloc((size_t)n * 2 * sizeof *idx);
    CT_STATUS_OK(ct_tensor_read(ct_sort(x, 1, false), CT_INT32, s, 2 * n));
    CT_STATUS_OK(ct_tensor_read(ct_argsort(x, 1, false), CT_INT32, idx, 2 * n));
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < n; i++) {
            cr_assert_eq(s[r * n + i], v[r * n + idx[r * n + i]]);
            if (i) {
                cr_assert(s[r * n + i - 1] <= s[r * n + i]);
                if (s[r * n + i - 1] == s[r * n + i]) cr_assert(idx[r * n + i - 1] < idx[r * n + i]);
            }
        }
    /* the same data as columns gives the same order */
    int32_t *vt = malloc((size_t)n * 2 * sizeof *vt);
    for (int i = 0; i < n; i++) {
        vt[2 * i] = v[i];
        vt[2 * i + 1] = v[n + i];
    }
    ct_tensor *xt = ct_constant(vt, CT_INT32, CT_DIMS(n, 2));
    free(vt);
    int32_t *it = malloc((size_t)n * 2 * sizeof *it);
    CT_STATUS_OK(ct_tensor_read(ct_argsort(xt, 0, false), CT_INT32, it, 2 * n));
    for (int i = 0; i < n; i++) {
        cr_assert_eq(it[i * 2], idx[i]);
        cr_assert_eq(it[i * 2 + 1], idx[n + i]);
    }
    free(v);
    free(s);
    free(idx);
    free(it);
}

Test(scan_sort, sort_errors_and_gradient) {
    CT_FAILS(ct_sort(ct_scalar(1), 0, false), "ct_sort: axis 0 is out of range for rank 0");
    CT_FAILS(ct_argsort(CT_F32(CT_DIMS(2), 1, 2), 2, false), "ct_argsort: axis 2 is out of range");
    CT_FAILS(ct_sort(ct_zeros(CT_BOOL, CT_DIMS(2)), 0, false), "ct_sort: expected a numeric");
    ct_tensor *x = sample(CT_DIMS(3, 4));
    sctx s[] = {{.op = 2, .axis = 0, .a = false}, {.op = 2, .axis = -1, .a = true}};
    for (int i = 0; i < 2; i++) ct_gradcheck(apply, 1, &x, &s[i], 1e-6);
}

/* ---- top_k ------------------------------------------------------------------------ */

Test(scan_sort, top_k_values_indices_ties) {
    ct_tensor *x = CT_F32(CT_DIMS(2, 5), 1, 5, 3, 5, 2, -1, -2, -1, -4, -1);
    ct_tensor *v, *i;
    CT_STATUS_OK(ct_top_k(x, 3, true, &v, &i));
    CT_EXPECT(v, CT_FLOAT32, CT_DIMS(2, 3), 0, 5, 5, 3, -1, -1, -1);
    CT_EXPECT(i, CT_INT32, CT_DIMS(2, 3), 0, 1, 3, 2, 0, 2, 4);
    CT_STATUS_OK(ct_top_k(x, 5, false, &v, &i));
    CT_EXPECT(i, CT_INT32, CT_DIMS(2, 5), 0, 1, 3, 2, 4, 0, 0, 2, 4, 1, 3);
    CT_STATUS_OK(ct_top_k(x, 0, true, &v, &i));
    ct_expect_shape(v, 2, (int64_t[]){2, 0});
    CT_STATUS_OK(ct_top_k(CT_F64(CT_DIMS(4), 1, NaN, 3, Inf), 2, true, &v, &i));
    CT_EXPECT(v, CT_FLOAT64, CT_DIMS(2), 0, NaN, Inf);
    CT_EXPECT(i, CT_INT32, CT_DIMS(2), 0, 1, 3);
    CT_STATUS_OK(ct_top_k(CT_I32(CT_DIMS(4), 4, 9, 9, 1), 1, true, &v, &i));
    CT_EXPECT(v, CT_INT32, CT_DIMS(1), 0, 9);
    CT_EXPECT(i, CT_INT32, CT_DIMS(1), 0, 1);
    /* small k over a long row (selection path) agrees with a full sort */
    int n = 997;
    double *d = malloc((size_t)n * sizeof *d);
    for (int j = 0; j < n; j++) d[j] = (double)((j * 37) % 101);
    ct_tensor *row = ct_constant(d, CT_FLOAT64, CT_DIMS(n));
    CT_STATUS_OK(ct_top_k(row, 5, true, &v, &i));
    CT_EXPECT(v, CT_FLOAT64, CT_DIMS(5), 0, 100, 100, 100, 100, 100);
    int32_t want[997], got[5];
    CT_STATUS_OK(ct_tensor_read(ct_argsort(row, 0, true), CT_INT32, want, n));
    CT_STATUS_OK(ct_tensor_read(i, CT_INT32, got, 5));
    for (int j = 0; j < 5; j++) cr_expect_eq(got[j], want[j]);
    free(d);
}

Test(scan_sort, top_k_errors_and_gradient) {
    ct_tensor *v, *i;
    ct_tensor *x = CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    ct_clear_error();
    cr_expect_neq(ct_top_k(x, 4, true, &v, &i), CT_OK);
    cr_expect(strstr(ct_last_error(), "ct_top_k: input must have at least k columns") != NULL,
              "%s", ct_last_error());
    cr_expect_null(v);
    cr_expect_neq(ct_top_k(x, -1, true, &v, &i), CT_OK);
    cr_expect(strstr(ct_last_error(), "k must be non-negative") != NULL, "%s", ct_last_error());
    cr_expect_neq(ct_top_k(ct_scalar(1), 1, true, &v, &i), CT_OK);
    cr_expect(strstr(ct_last_error(), "at least 1-D") != NULL, "%s", ct_last_error());
    /* the gradient of the values scatters dy to the chosen positions */
    ct_tensor *y = CT_F64(CT_DIMS(2, 3), 1, 3, 2, 6, 5, 4);
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, y);
    CT_STATUS_OK(ct_top_k(y, 2, true, &v, &i));
    ct_tensor *loss = ct_reduce_sum(ct_multiply(v, CT_F64(CT_DIMS(2, 2), 10, 20, 30, 40)),
                                    CT_ALL, false);
    ct_tape_end(tape);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(tape, loss, 1, &y, &g, NULL));
    CT_EXPECT(g, CT_FLOAT64, CT_DIMS(2, 3), 0, 0, 10, 20, 30, 40, 0);
    ct_tape_free(tape);
    ct_tensor *z = sample(CT_DIMS(3, 5));
    sctx s = {.op = 3, .k = 2};
    ct_gradcheck(apply, 1, &z, &s, 1e-6);
}
