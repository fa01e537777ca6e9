/* The fused bias + activation op (ops/bias_act.h) against the ops it
 * replaces, and its gradients. */
#include "ops/bias_act.h"
#include "support.h"

TestSuite(bias_act, .init = ct_test_begin, .fini = ct_test_end);

static ct_tensor *composite(const ct_tensor *x, const ct_tensor *b, ct__act_kind act) {
    ct_tensor *z = b ? ct_add(x, b) : ct_identity(x);
    switch (act) {
    case CT__ACT_RELU: return ct_relu(z);
    case CT__ACT_SIGMOID: return ct_sigmoid(z);
    case CT__ACT_TANH: return ct_tanh(z);
    default: return z;
    }
}

static void expect_same(const ct_tensor *a, const ct_tensor *b, double tol) {
    CT_OK(a);
    CT_OK(b);
    cr_assert_eq(ct_tensor_size(a), ct_tensor_size(b));
    for (int64_t i = 0; i < ct_tensor_size(a); i++) {
        double u = ct_tensor_get(a, i), v = ct_tensor_get(b, i);
        cr_assert(fabs(u - v) <= tol * (1 + fabs(v)), "element %lld: %.9g vs %.9g",
                  (long long)i, u, v);
    }
}

Test(bias_act, matches_bias_add_then_activation) {
    ct_dtype dts[2] = {CT_FLOAT32, CT_FLOAT64};
    for (int d = 0; d < 2; d++)
        for (int act = CT__ACT_LINEAR; act <= CT__ACT_TANH; act++) {
            /* Rank 4 (a conv output), rank 2 (Dense) and rank 1. */
            ct_tensor *x4 = ct_random_normal(CT_DIMS(3, 5, 4, 7),
                                             &(ct_random_opts){.dtype = dts[d], .seed = 1});
            ct_tensor *b = ct_random_normal(CT_DIMS(7), &(ct_random_opts){.dtype = dts[d], .seed = 2});
            ct_tensor *x2 = ct_random_normal(CT_DIMS(64, 7),
                                             &(ct_random_opts){.dtype = dts[d], .seed = 3});
            ct_tensor *x1 = ct_random_normal(CT_DIMS(7), &(ct_random_opts){.dtype = dts[d], .seed = 4});
            /* Same arithmetic: the same bits (0 tolerance) in both dtypes. */
            expect_same(ct__bias_activation(x4, b, act), composite(x4, b, act), 0);
            expect_same(ct__bias_activation(x2, b, act), composite(x2, b, act), 0);
            expect_same(ct__bias_activation(x1, b, act), composite(x1, b, act), 0);
            expect_same(ct__bias_activation(x2, NULL, act), composite(x2, NULL, act), 0);
        }
}

Test(bias_act, large_inputs_split_across_threads_give_the_same_values) {
    ct_tensor *x = ct_random_normal(CT_DIMS(512, 33, 65), &(ct_random_opts){.seed = 5});
    ct_tensor *b = ct_random_normal(CT_DIMS(65), &(ct_random_opts){.seed = 6});
    expect_same(ct__bias_activation(x, b, CT__ACT_TANH), ct_tanh(ct_add(x, b)), 0);
    expect_same(ct__bias_activation(x, b, CT__ACT_RELU), ct_relu(ct_add(x, b)), 0);
}

typedef struct {
    ct__act_kind act;
} act_ctx;

static ct_tensor *fused(ct_tensor *const *in, void *ctx) {
    return ct__bias_activation(in[0], in[1], ((act_ctx *)ctx)->act);
}

Test(bias_act, gradients_in_x_and_bias) {
    for (int act = CT__ACT_LINEAR; act <= CT__ACT_TANH; act++) {
        /* Values away from relu's kink. */
        ct_tensor *x = CT_F64(CT_DIMS(2, 3, 3), 0.3, -1.2, 0.7, 1.1, -0.4, 0.9, -0.8, 0.25, -1.5,
                              0.6, 1.4, -0.9, -0.2, 0.45, 1.7, -1.1, 0.8, 0.35);
        ct_tensor *b = CT_F64(CT_DIMS(3), 0.1, -0.2, 0.05);
        ct_tensor *in[2] = {x, b};
        ct_gradcheck(fused, 2, in, &(act_ctx){act}, 1e-7);
    }
}

Test(bias_act, second_order_through_relu_and_tanh) {
    ct_tensor *x = CT_F64(CT_DIMS(2, 2), 0.3, -1.2, 0.7, 1.1);
    ct_tensor *b = CT_F64(CT_DIMS(2), 0.1, -0.2);
    ct_tape *outer = ct_tape_begin(NULL), *inner = ct_tape_begin(NULL);
    ct_tape_watch(outer, x);
    ct_tape_watch(inner, x);
    ct_tensor *y = ct_reduce_sum(ct__bias_activation(x, b, CT__ACT_TANH), CT_ALL, false);
    ct_tape_end(inner);
    ct_tensor *dy;
    CT_STATUS_OK(ct_tape_gradient(inner, y, 1, &x, &dy, NULL));
    ct_tensor *s = ct_reduce_sum(dy, CT_ALL, false);
    ct_tape_end(outer);
    ct_tensor *d2;
    CT_STATUS_OK(ct_tape_gradient(outer, s, 1, &x, &d2, NULL));
    /* d/dx (1 - tanh^2(x + b)) = -2 tanh(z) (1 - tanh^2(z)). */
    for (int i = 0; i < 4; i++) {
        double z = ct_tensor_get(x, i) + ct_tensor_get(b, i % 2), t = tanh(z);
        cr_expect(fabs(ct_tensor_get(d2, i) - (-2 * t * (1 - t * t))) < 1e-12);
    }
    ct_tape_free(inner);
    ct_tape_free(outer);
}

Test(bias_act, errors_name_the_shapes) {
    ct_tensor *x = ct_ones(CT_FLOAT32, CT_DIMS(2, 3));
    CT_FAILS(ct__bias_activation(x, ct_ones(CT_FLOAT32, CT_DIMS(4)), CT__ACT_RELU),
             "bias must be a vector of x's last dimension");
    CT_FAILS(ct__bias_activation(x, ct_ones(CT_FLOAT64, CT_DIMS(3)), CT__ACT_RELU), "float64");
    CT_FAILS(ct__bias_activation(ct_ones(CT_INT32, CT_DIMS(2, 3)), NULL, CT__ACT_RELU), "int32");
    CT_FAILS(ct__bias_activation(ct_scalar(1), NULL, CT__ACT_RELU), "at least 1-D");
    ct_clear_error();
    cr_expect_null(ct__bias_activation(NULL, NULL, CT__ACT_RELU));
}
