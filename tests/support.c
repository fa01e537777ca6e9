#include "support.h"

#include <stdlib.h>
#include <string.h>

static int64_t live_at_start;

void ct_test_begin(void) {
    ct_clear_error();
    live_at_start = ct_live_tensors();
    ct_scope_begin();
}

void ct_test_end(void) {
    ct_scope_end();
    cr_expect_eq(ct_live_tensors(), live_at_start, "leaked %lld tensors",
                 (long long)(ct_live_tensors() - live_at_start));
}

void ct_expect_shape(const ct_tensor *t, int rank, const int64_t *shape) {
    CT_OK(t);
    cr_assert_eq(ct_tensor_rank(t), rank, "rank %d, expected %d", ct_tensor_rank(t), rank);
    for (int i = 0; i < rank; i++)
        cr_assert_eq(ct_tensor_dim(t, i), shape[i], "dim %d is %lld, expected %lld", i,
                     (long long)ct_tensor_dim(t, i), (long long)shape[i]);
}

void ct_expect(const ct_tensor *t, ct_dtype dtype, int rank, const int64_t *shape,
               const double *values, double tol) {
    ct_expect_shape(t, rank, shape);
    cr_assert_eq(ct_tensor_dtype(t), dtype, "dtype %s, expected %s",
                 ct_dtype_name(ct_tensor_dtype(t)), ct_dtype_name(dtype));
    int64_t n = ct_tensor_size(t);
    double *got = malloc((size_t)(n ? n : 1) * sizeof *got);
    cr_assert_eq(ct_tensor_read(t, CT_FLOAT64, got, n), CT_OK, "%s", ct_last_error());
    for (int64_t i = 0; i < n; i++) {
        double e = values[i], g = got[i];
        bool ok = (isnan(e) && isnan(g)) || e == g || fabs(e - g) <= tol * fmax(1.0, fabs(e));
        if (!ok) {
            free(got);
            cr_assert_fail("element %lld is %.17g, expected %.17g (tol %g)", (long long)i, g, e, tol);
        }
    }
    free(got);
}

static double weight(int64_t i) { return 0.5 + 0.37 * (double)((i * 7919) % 13) / 13.0; }

static double weighted_sum(ct_test_fn f, ct_tensor *const *inputs, void *ctx) {
    ct_scope_begin();
    ct_tensor *y = f(inputs, ctx);
    CT_OK(y);
    int64_t n = ct_tensor_size(y);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v), s = 0;
    cr_assert_eq(ct_tensor_read(y, CT_FLOAT64, v, n), CT_OK, "%s", ct_last_error());
    for (int64_t i = 0; i < n; i++) s += v[i] * weight(i);
    free(v);
    ct_scope_end();
    return s;
}

void ct_gradcheck(ct_test_fn f, int n, ct_tensor *const *inputs, void *ctx, double tol) {
    ct_scope_begin();
    ct_tape *tape = ct_tape_begin(NULL);
    for (int i = 0; i < n; i++) CT_STATUS_OK(ct_tape_watch(tape, inputs[i]));
    ct_tensor *y = f(inputs, ctx);
    CT_OK(y);
    int64_t ny = ct_tensor_size(y);
    double *w = malloc((size_t)(ny ? ny : 1) * sizeof *w);
    for (int64_t i = 0; i < ny; i++) w[i] = weight(i);
    ct_tensor *wt = ct_cast(ct_constant(w, CT_FLOAT64, ct_tensor_rank(y), ct_tensor_shape(y)),
                            ct_tensor_dtype(y));
    free(w);
    ct_tensor *loss = ct_reduce_sum(ct_multiply(y, wt), CT_ALL, false);
    CT_OK(loss);
    CT_STATUS_OK(ct_tape_end(tape));
    ct_tensor *grads[16];
    cr_assert(n <= 16);
    CT_STATUS_OK(ct_tape_gradient(tape, loss, n, inputs, grads, &(ct_gradient_opts){.unconnected_zero = true}));
    ct_tape_free(tape);

    ct_tensor *work[16];
    for (int i = 0; i < n; i++) work[i] = inputs[i];
    for (int i = 0; i < n; i++) {
        ct_tensor *x = inputs[i];
        int64_t m = ct_tensor_size(x);
        cr_assert_eq(ct_tensor_dtype(x), CT_FLOAT64, "gradient checks run in float64");
        double *xv = malloc((size_t)(m ? m : 1) * sizeof *xv);
        double *gv = malloc((size_t)(m ? m : 1) * sizeof *gv);
        ct_tensor_read(x, CT_FLOAT64, xv, m);
        CT_OK(grads[i]);
        ct_expect_shape(grads[i], ct_tensor_rank(x), ct_tensor_shape(x));
        ct_tensor_read(grads[i], CT_FLOAT64, gv, m);
        for (int64_t j = 0; j < m; j++) {
            double x0 = xv[j], h = 1e-6 * fmax(1.0, fabs(x0));
            ct_scope_begin();
            xv[j] = x0 + h;
            work[i] = ct_constant(xv, CT_FLOAT64, ct_tensor_rank(x), ct_tensor_shape(x));
            double lp = weighted_sum(f, work, ctx);
            xv[j] = x0 - h;
            work[i] = ct_constant(xv, CT_FLOAT64, ct_tensor_rank(x), ct_tensor_shape(x));
            double lm = weighted_sum(f, work, ctx);
            xv[j] = x0;
            work[i] = x;
            ct_scope_end();
            double num = (lp - lm) / (2 * h);
            cr_assert(fabs(num - gv[j]) <= tol * fmax(1.0, fabs(num)),
                      "input %d element %lld: tape gradient %.10g, numeric %.10g", i,
                      (long long)j, gv[j], num);
        }
        free(xv);
        free(gv);
    }
    ct_scope_end();
}
