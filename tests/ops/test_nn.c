/* ct_bias_add, ct_moments and ct_batch_normalization: values, TF's error
 * cases and gradient checks. */
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(nn, .init = ct_test_begin, .fini = ct_test_end);

static ct_tensor *rnd64(int rank, const int64_t *shape, unsigned seed, double lo) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = lo + (double)((seed >> 8) % 2000) / 1000.0;
    }
    ct_tensor *t = ct_constant(v, CT_FLOAT64, rank, shape);
    free(v);
    return t;
}

Test(nn, bias_add_values_and_errors) {
    ct_tensor *x = CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    ct_tensor *b = CT_F32(CT_DIMS(3), 10, 20, 30);
    CT_EXPECT(ct_bias_add(x, b), CT_FLOAT32, CT_DIMS(2, 3), 0, 11, 22, 33, 14, 25, 36);
    ct_tensor *x4 = ct_ones(CT_INT32, CT_DIMS(1, 2, 1, 2));
    CT_EXPECT(ct_bias_add(x4, CT_I32(CT_DIMS(2), -1, 5)), CT_INT32, CT_DIMS(1, 2, 1, 2), 0, 0,
              6, 0, 6);
    ct_expect_shape(ct_bias_add(ct_zeros(CT_FLOAT32, CT_DIMS(0, 3)), b), 2,
                    (const int64_t[]){0, 3});
    CT_FAILS(ct_bias_add(x, CT_F32(CT_DIMS(1, 3), 1, 2, 3)), "ct_bias_add: bias must be 1-D");
    CT_FAILS(ct_bias_add(b, b), "ct_bias_add: x must be at least 2-D, got float32[3]");
    CT_FAILS(ct_bias_add(x, CT_F32(CT_DIMS(2), 1, 2)), "as many elements as x's last dimension");
    CT_FAILS(ct_bias_add(x, CT_F64(CT_DIMS(3), 1, 2, 3)), "different dtypes");
    CT_FAILS(ct_bias_add(NULL, b), "ct_bias_add");
}

static ct_tensor *bias_fn(ct_tensor *const *in, void *ctx) {
    (void)ctx;
    return ct_bias_add(in[0], in[1]);
}

Test(nn, bias_add_gradcheck) {
    ct_tensor *in[2] = {rnd64(4, (const int64_t[]){2, 3, 2, 4}, 1, -1),
                        rnd64(1, (const int64_t[]){4}, 2, -1)};
    ct_gradcheck(bias_fn, 2, in, NULL, 1e-6);
}

Test(nn, moments_values) {
    ct_tensor *x = CT_F32(CT_DIMS(2, 2), 1, 2, 3, 5);
    ct_tensor *m, *v;
    CT_STATUS_OK(ct_moments(x, CT_AXES(0), false, &m, &v));
    CT_EXPECT(m, CT_FLOAT32, CT_DIMS(2), 1e-6, 2, 3.5);
    CT_EXPECT(v, CT_FLOAT32, CT_DIMS(2), 1e-6, 1, 2.25);
    CT_STATUS_OK(ct_moments(x, CT_AXES(-1), true, &m, &v));
    CT_EXPECT(m, CT_FLOAT32, CT_DIMS(2, 1), 1e-6, 1.5, 4);
    CT_EXPECT(v, CT_FLOAT32, CT_DIMS(2, 1), 1e-6, 0.25, 1);
    CT_STATUS_OK(ct_moments(x, CT_ALL, false, &m, &v));
    CT_EXPECT(m, CT_FLOAT32, CT_DIMS(), 1e-6, 2.75);
    CT_EXPECT(v, CT_FLOAT32, CT_DIMS(), 1e-6, 2.1875);
    /* Batch-norm style: over every axis but the channels of an NHWC tensor. */
    ct_tensor *x4 = ct_reshape(ct_range(0, 16, 1, CT_FLOAT64), 4, (const int64_t[]){2, 2, 2, 2});
    CT_STATUS_OK(ct_moments(x4, CT_AXES(0, 1, 2), false, &m, &v));
    CT_EXPECT(m, CT_FLOAT64, CT_DIMS(2), 1e-12, 7, 8);
    CT_EXPECT(v, CT_FLOAT64, CT_DIMS(2), 1e-12, 21, 21);
    ct_tensor *h = ct_cast(x, CT_FLOAT16);
    CT_STATUS_OK(ct_moments(h, CT_AXES(0), false, &m, &v));
    CT_EXPECT(v, CT_FLOAT16, CT_DIMS(2), 1e-3, 1, 2.25);
    ct_clear_error();
    cr_expect_neq(ct_moments(x, CT_AXES(2), false, &m, &v), CT_OK);
    cr_expect(strstr(ct_last_error(), "ct_moments") != NULL, "%s", ct_last_error());
    cr_expect_null(m);
    cr_expect_null(v);
}

static ct_tensor *moments_fn(ct_tensor *const *in, void *ctx) {
    (void)ctx;
    ct_tensor *m, *v;
    if (ct_moments(in[0], CT_AXES(0, 2), false, &m, &v)) return NULL;
    return ct_add(ct_multiply(m, m), v);
}

Test(nn, moments_gradcheck) {
    ct_tensor *x = rnd64(3, (const int64_t[]){3, 2, 4}, 3, -1);
    ct_gradcheck(moments_fn, 1, &x, NULL, 1e-6);
}

Test(nn, batch_normalization_values) {
    ct_tensor *x = CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4);
    ct_tensor *mean = CT_F32(CT_DIMS(2), 2, 3), *var = CT_F32(CT_DIMS(2), 1, 4);
    ct_tensor *off = CT_F32(CT_DIMS(2), 10, 20), *scale = CT_F32(CT_DIMS(2), 2, 3);
    /* (x - mean) / sqrt(var + 0) * scale + offset. */
    CT_EXPECT(ct_batch_normalization(x, mean, var, off, scale, 0), CT_FLOAT32, CT_DIMS(2, 2),
              1e-6, 8, 18.5, 12, 21.5);
    CT_EXPECT(ct_batch_normalization(x, mean, var, NULL, NULL, 0), CT_FLOAT32, CT_DIMS(2, 2),
              1e-6, -1, -0.5, 1, 0.5);
    /* epsilon: 1 / sqrt(1 + 3) = 0.5 on channel 0. */
    CT_EXPECT(ct_batch_normalization(x, mean, var, NULL, scale, 3), CT_FLOAT32, CT_DIMS(2, 2),
              1e-6, -1, -3 * 1 / sqrt(7), 1, 3 * 1 / sqrt(7));
    CT_FAILS(ct_batch_normalization(x, CT_F32(CT_DIMS(3), 1, 2, 3), var, NULL, NULL, 0),
             "ct_batch_normalization");
    CT_FAILS(ct_batch_normalization(x, NULL, var, NULL, NULL, 0), "ct_batch_normalization");
}

static ct_tensor *bn_fn(ct_tensor *const *in, void *ctx) {
    (void)ctx;
    return ct_batch_normalization(in[0], in[1], in[2], in[3], in[4], 1e-3);
}

Test(nn, batch_normalization_gradcheck) {
    ct_tensor *in[5] = {rnd64(3, (const int64_t[]){2, 3, 4}, 5, -1),
                        rnd64(1, (const int64_t[]){4}, 6, -1),
                        rnd64(1, (const int64_t[]){4}, 7, 0.5), /* variance > 0 */
                        rnd64(1, (const int64_t[]){4}, 8, -1),
                        rnd64(1, (const int64_t[]){4}, 9, -1)};
    ct_gradcheck(bn_fn, 5, in, NULL, 1e-6);
}
