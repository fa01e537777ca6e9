/* Softmax and log-softmax along any axis. Expected values are TF 2's. */
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(softmax, .init = ct_test_begin, .fini = ct_test_end);

static const double NaN = NAN, Inf = INFINITY;

/* Reference softmax of n values in double. */
static void ref_softmax(const double *x, double *y, int n, bool lg) {
    double m = -INFINITY, s = 0;
    for (int i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    for (int i = 0; i < n; i++) s += exp(x[i] - m);
    for (int i = 0; i < n; i++) y[i] = lg ? x[i] - m - log(s) : exp(x[i] - m) / s;
}

Test(softmax, last_axis_values) {
    ct_tensor *x = CT_F32(CT_DIMS(2, 3), 1, 2, 3, -1, 0, 1000);
    CT_EXPECT(ct_softmax(x, -1), CT_FLOAT32, CT_DIMS(2, 3), 1e-6, 0.09003057317038046,
              0.24472847105479764, 0.6652409557748219, 0, 0, 1);
    CT_EXPECT(ct_log_softmax(x, 1), CT_FLOAT32, CT_DIMS(2, 3), 1e-6, -2.4076059644443806,
              -1.4076059644443806, -0.4076059644443806, -1001, -1000, 0);
    CT_EXPECT(ct_softmax(CT_F64(CT_DIMS(1), 5), 0), CT_FLOAT64, CT_DIMS(1), 0, 1);
    CT_EXPECT(ct_softmax(ct_cast(x, CT_FLOAT16), -1), CT_FLOAT16, CT_DIMS(2, 3), 2e-3,
              0.09003057317038046, 0.24472847105479764, 0.6652409557748219, 0, 0, 1);
}

Test(softmax, other_axes_match_a_reference) {
    int64_t shape[3] = {3, 5, 7};
    double v[105], want[105], col[5], out[5];
    for (int i = 0; i < 105; i++) v[i] = 3 * sin(0.7 * i) + 0.05 * i;
    for (int lg = 0; lg < 2; lg++)
        for (int dt = 0; dt < 2; dt++) {
            ct_tensor *x = ct_cast(ct_constant(v, CT_FLOAT64, 3, shape),
                                   dt ? CT_FLOAT64 : CT_FLOAT32);
            ct_tensor *y = lg ? ct_log_softmax(x, -2) : ct_softmax(x, 1);
            for (int k = 0; k < 3; k++)
                for (int i = 0; i < 7; i++) {
                    for (int n = 0; n < 5; n++) col[n] = v[k * 35 + n * 7 + i];
                    ref_softmax(col, out, 5, lg);
                    for (int n = 0; n < 5; n++) want[k * 35 + n * 7 + i] = out[n];
                }
            ct_expect(y, dt ? CT_FLOAT64 : CT_FLOAT32, 3, shape, want, dt ? 1e-12 : 2e-6);
            /* axis 0 */
            y = lg ? ct_log_softmax(x, 0) : ct_softmax(x, -3);
            for (int j = 0; j < 35; j++) {
                double c3[3], o3[3];
                for (int k = 0; k < 3; k++) c3[k] = v[k * 35 + j];
                ref_softmax(c3, o3, 3, lg);
                for (int k = 0; k < 3; k++) want[k * 35 + j] = o3[k];
            }
            ct_expect(y, dt ? CT_FLOAT64 : CT_FLOAT32, 3, shape, want, dt ? 1e-12 : 2e-6);
        }
}

Test(softmax, long_rows_match_a_reference) {
    /* rows long enough for the vector loops and their tails */
    int rows = 3, n = 1037;
    double *v = malloc((size_t)(rows * n) * sizeof *v), *want = malloc((size_t)(rows * n) * sizeof *want);
    for (int i = 0; i < rows * n; i++) v[i] = (float)(20 * sin(0.37 * i) - 0.001 * i);
    for (int lg = 0; lg < 2; lg++) {
        for (int r = 0; r < rows; r++) ref_softmax(v + r * n, want + r * n, n, lg);
        ct_tensor *x = ct_cast(ct_constant(v, CT_FLOAT64, CT_DIMS(rows, n)), CT_FLOAT32);
        ct_tensor *y = lg ? ct_log_softmax(x, 1) : ct_softmax(x, 1);
        double *got = malloc((size_t)(rows * n) * sizeof *got);
        CT_STATUS_OK(ct_tensor_read(y, CT_FLOAT64, got, rows * n));
        for (int i = 0; i < rows * n; i++)
            cr_assert(fabs(got[i] - want[i]) <= 2e-6 * fabs(want[i]) + (lg ? 1e-6 : 1e-9),
                      "element %d: %.9g, expected %.9g", i, got[i], want[i]);
        free(got);
    }
    free(v);
    free(want);
}

Test(softmax, extreme_values_as_tf) {
    /* a row with +inf, a row of -inf and a row with NaN are NaN; -inf
     * elements next to finite ones give 0 (log: -inf) */
    ct_tensor *x = CT_F32(CT_DIMS(4, 3), Inf, 1, 2, -Inf, -Inf, -Inf, NaN, 1, 2, -Inf, 0, 0);
    CT_EXPECT(ct_softmax(x, -1), CT_FLOAT32, CT_DIMS(4, 3), 1e-7, NaN, NaN, NaN, NaN, NaN, NaN,
              NaN, NaN, NaN, 0, 0.5, 0.5);
    CT_EXPECT(ct_log_softmax(x, -1), CT_FLOAT32, CT_DIMS(4, 3), 1e-7, NaN, NaN, NaN, NaN, NaN,
              NaN, NaN, NaN, NaN, -Inf, -0.6931471805599453, -0.6931471805599453);
    CT_EXPECT(ct_softmax(CT_F32(CT_DIMS(2), -1e30f, 1e30f), 0), CT_FLOAT32, CT_DIMS(2), 0, 0, 1);
    CT_EXPECT(ct_softmax(CT_F32(CT_DIMS(3), 88, -88, -104), 0), CT_FLOAT32, CT_DIMS(3), 1e-7, 1,
              0, 0);
    ct_expect_shape(ct_softmax(ct_zeros(CT_FLOAT32, CT_DIMS(0, 4)), -1), 2, (int64_t[]){0, 4});
    ct_expect_shape(ct_log_softmax(ct_zeros(CT_FLOAT64, CT_DIMS(4, 0)), -1), 2, (int64_t[]){4, 0});
}

Test(softmax, errors) {
    CT_FAILS(ct_softmax(ct_scalar(1), -1), "ct_softmax: axis -1 is out of range for rank 0");
    CT_FAILS(ct_log_softmax(CT_F32(CT_DIMS(2), 1, 2), 1), "ct_log_softmax: axis 1 is out of range");
    CT_FAILS(ct_softmax(CT_I32(CT_DIMS(2), 1, 2), 0),
             "ct_softmax: expected a floating-point tensor, got int32[2]");
}

typedef struct {
    bool lg;
    int axis;
} smctx;

static ct_tensor *apply(ct_tensor *const *in, void *ctx) {
    smctx *s = ctx;
    return s->lg ? ct_log_softmax(in[0], s->axis) : ct_softmax(in[0], s->axis);
}

Test(softmax, gradients) {
    double v[24];
    for (int i = 0; i < 24; i++) v[i] = 1.5 * sin(1.3 * i + 0.2);
    ct_tensor *x = ct_constant(v, CT_FLOAT64, CT_DIMS(2, 3, 4));
    for (int lg = 0; lg < 2; lg++)
        for (int axis = -3; axis < 3; axis++) {
            smctx s = {lg, axis};
            ct_gradcheck(apply, 1, &x, &s, 1e-6);
        }
}

Test(softmax, second_derivative) {
    /* d/dx0 of the gradient of sum(softmax(x) * w) agrees with finite
     * differences of that gradient. */
    double v[3] = {0.3, -1.2, 0.8}, w[3] = {1, 2, 3};
    double h = 1e-5, num[3];
    ct_tensor *wt = ct_constant(w, CT_FLOAT64, CT_DIMS(3));
    ct_tensor *x = ct_constant(v, CT_FLOAT64, CT_DIMS(3));
    ct_tape *outer = ct_tape_begin(NULL);
    ct_tape_watch(outer, x);
    ct_tape *inner = ct_tape_begin(NULL);
    ct_tape_watch(inner, x);
    ct_tensor *y = ct_reduce_sum(ct_multiply(ct_softmax(x, 0), wt), CT_ALL, false);
    ct_tape_end(inner);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(inner, y, 1, &x, &g, NULL));
    ct_tensor *g0 = ct_reduce_sum(ct_multiply(g, CT_F64(CT_DIMS(3), 1, 0, 0)), CT_ALL, false);
    ct_tape_end(outer);
    ct_tensor *hess;
    CT_STATUS_OK(ct_tape_gradient(outer, g0, 1, &x, &hess, NULL));
    for (int j = 0; j < 3; j++) {
        double gp[3], gm[3];
        for (int s = 0; s < 2; s++) {
            double xv[3] = {v[0], v[1], v[2]};
            xv[j] += s ? -h : h;
            double m = fmax(fmax(xv[0], xv[1]), xv[2]), e[3], sum = 0, dot = 0;
            for (int i = 0; i < 3; i++) sum += e[i] = exp(xv[i] - m);
            for (int i = 0; i < 3; i++) dot += w[i] * e[i] / sum;
            /* d/dx0 sum(w * softmax) = p0 (w0 - dot) */
            (s ? gm : gp)[0] = e[0] / sum * (w[0] - dot);
        }
        num[j] = (gp[0] - gm[0]) / (2 * h);
    }
    CT_EXPECT(hess, CT_FLOAT64, CT_DIMS(3), 1e-6, num[0], num[1], num[2]);
    ct_tape_free(inner);
    ct_tape_free(outer);
}
