#include <string.h>

#include "support.h"

TestSuite(tape, .init = ct_test_begin, .fini = ct_test_end);

Test(tape, gradient_of_square_sum) {
    ct_tensor *x = CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4);
    ct_tape *tape = ct_tape_begin(NULL);
    CT_STATUS_OK(ct_tape_watch(tape, x));
    ct_tensor *y = ct_reduce_sum(ct_square(x), CT_ALL, false);
    CT_STATUS_OK(ct_tape_end(tape));
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &x, &g, NULL));
    CT_EXPECT(g, CT_FLOAT32, CT_DIMS(2, 2), 0, 2, 4, 6, 8);
    ct_tape_free(tape);
}

/* The seed's example: f(x) = a x^2 + b x + c; dy/dx and d2y/dx2 at x = 0. */
Test(tape, nested_tapes_give_second_derivative) {
    ct_tensor *x = ct_scalar(0), *a = ct_scalar(1), *b = ct_scalar(-2), *c = ct_scalar(1);
    ct_tape *outer = ct_tape_begin(NULL);
    ct_tape_watch(outer, x);
    ct_tape *inner = ct_tape_begin(NULL);
    ct_tape_watch(inner, x);
    ct_tensor *y = ct_add(ct_add(ct_multiply(a, ct_pow(x, ct_scalar(2))), ct_multiply(b, x)), c);
    CT_STATUS_OK(ct_tape_end(inner));
    ct_tensor *dy;
    CT_STATUS_OK(ct_tape_gradient(inner, y, 1, &x, &dy, NULL));
    CT_STATUS_OK(ct_tape_end(outer));
    ct_tensor *d2y;
    CT_STATUS_OK(ct_tape_gradient(outer, dy, 1, &x, &d2y, NULL));
    cr_expect_float_eq(ct_item(dy), -2.0, 1e-6);
    cr_expect_float_eq(ct_item(d2y), 2.0, 1e-6);
    ct_tape_free(inner);
    ct_tape_free(outer);
}

Test(tape, variables_are_watched_and_assign_is_copy_on_write) {
    ct_variable *v = ct_variable_new(CT_F32(CT_DIMS(3), 1, 2, 3), &(ct_variable_opts){.name = "w"});
    cr_assert_not_null(v);
    ct_tensor *before = ct_variable_read(v);
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tensor *y = ct_reduce_sum(ct_multiply(ct_variable_value(v), ct_variable_value(v)), CT_ALL, false);
    ct_tape_end(tape);
    ct_tensor *g;
    ct_tensor *src = ct_variable_value(v);
    CT_STATUS_OK(ct_variable_assign_sub(v, CT_F32(CT_DIMS(3), 1, 1, 1)));
    CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &src, &g, NULL));
    CT_EXPECT(g, CT_FLOAT32, CT_DIMS(3), 0, 2, 4, 6); /* the value the ops saw */
    CT_EXPECT(before, CT_FLOAT32, CT_DIMS(3), 0, 1, 2, 3);
    CT_EXPECT(ct_variable_value(v), CT_FLOAT32, CT_DIMS(3), 0, 0, 1, 2);
    ct_tape_free(tape);
    ct_variable_free(v);
}

Test(tape, unconnected_and_integer_sources) {
    ct_tensor *x = ct_scalar(3), *z = ct_scalar(1), *i = ct_scalar_of(CT_INT32, 2);
    ct_tape *tape = ct_tape_begin(&(ct_tape_opts){.persistent = true});
    ct_tape_watch(tape, x);
    ct_tensor *y = ct_multiply(x, x);
    ct_tape_end(tape);
    ct_tensor *g[2];
    ct_tensor *src[2] = {x, z};
    CT_STATUS_OK(ct_tape_gradient(tape, y, 2, src, g, NULL));
    cr_expect_float_eq(ct_item(g[0]), 6.0, 1e-6);
    cr_expect_null(g[1]);
    CT_STATUS_OK(ct_tape_gradient(tape, y, 2, src, g, &(ct_gradient_opts){.unconnected_zero = true}));
    cr_expect_eq(ct_item(g[1]), 0.0);
    cr_expect_neq(ct_tape_gradient(tape, y, 1, &i, g, NULL), CT_OK);
    cr_expect(strstr(ct_last_error(), "not differentiable") != NULL, "%s", ct_last_error());
    ct_tape_free(tape);
}

Test(tape, null_inputs_propagate_the_first_error) {
    ct_tensor *a = CT_F32(CT_DIMS(2), 1, 2), *b = CT_F32(CT_DIMS(3), 1, 2, 3);
    ct_tensor *r = ct_exp(ct_add(ct_add(a, b), a));
    cr_assert_null(r);
    cr_expect(strstr(ct_last_error(), "ct_add: shapes [2] and [3] are not broadcastable") != NULL,
              "%s", ct_last_error());
}

static ct_tensor *f_mix(ct_tensor *const *x, void *ctx) {
    (void)ctx;
    return ct_divide(ct_multiply(ct_tanh(x[0]), ct_exp(x[1])), ct_add(ct_square(x[1]), x[0]));
}

Test(tape, gradcheck_broadcasting_chain) {
    ct_tensor *in[2] = {CT_F64(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6), CT_F64(CT_DIMS(3), 0.1, -0.2, 0.3)};
    ct_gradcheck(f_mix, 2, in, NULL, 1e-6);
}

/* on_ready: each source's gradient is handed over once, as soon as the
 * backward pass has walked past the first op that used it (so the last
 * used first), with the final values; unconnected sources come last. */
typedef struct ready_log {
    int n, order[8];
    double value[8];
    bool null[8];
    int stop_after; /* return an error at this call (0: never) */
} ready_log;

static ct_status log_ready(void *ctx, int i, const ct_tensor *g) {
    ready_log *l = ctx;
    l->order[l->n] = i;
    l->null[l->n] = g == NULL;
    l->value[l->n] = g ? ct_item(g) : 0;
    l->n++;
    if (l->stop_after && l->n == l->stop_after)
        return CT_ERR_OUT_OF_RANGE; /* any status: the hook's own */
    return CT_OK;
}

Test(tape, on_ready_hands_each_gradient_over_when_final) {
    ct_tensor *x1 = ct_scalar(1), *x2 = ct_scalar(2), *x3 = ct_scalar(3), *x4 = ct_scalar(4);
    ct_tape *tape = ct_tape_begin(&(ct_tape_opts){.persistent = true});
    ct_tensor *src[4] = {x1, x2, x3, x4};
    for (int i = 0; i < 4; i++) ct_tape_watch(tape, src[i]);
    /* y = (2 x1) x2 + 3 x3 + x1: x1 is used first and again last. */
    ct_tensor *a = ct_multiply(x1, ct_scalar(2));
    ct_tensor *b = ct_multiply(a, x2);
    ct_tensor *y = ct_add(ct_add(b, ct_multiply(x3, ct_scalar(3))), x1);
    ct_tape_end(tape);
    ready_log log = {0};
    ct_tensor *g[4];
    CT_STATUS_OK(ct_tape_gradient(tape, y, 4, src, g,
                                  &(ct_gradient_opts){.on_ready = log_ready, .ready_ctx = &log}));
    cr_assert_eq(log.n, 4);
    int want_order[4] = {2, 1, 0, 3};
    double want[4] = {3, 2, 5, 0};
    for (int k = 0; k < 4; k++) {
        cr_expect_eq(log.order[k], want_order[k], "call %d: source %d", k, log.order[k]);
        if (k < 3) cr_expect_float_eq(log.value[k], want[k], 1e-6, "call %d", k);
    }
    cr_expect(log.null[3], "the unconnected source is NULL");
    cr_expect_float_eq(ct_item(g[0]), 5.0, 1e-6);
    cr_expect_null(g[3]);

    /* With unconnected_zero it is zeros; an error from the hook stops the
     * pass and is returned, with no gradients. */
    log = (ready_log){0};
    CT_STATUS_OK(ct_tape_gradient(tape, y, 4, src, g,
                                  &(ct_gradient_opts){.unconnected_zero = true,
                                                      .on_ready = log_ready,
                                                      .ready_ctx = &log}));
    cr_expect(!log.null[3]);
    cr_expect_float_eq(log.value[3], 0.0, 1e-9);
    log = (ready_log){.stop_after = 2};
    cr_expect_eq(ct_tape_gradient(tape, y, 4, src, g,
                                  &(ct_gradient_opts){.on_ready = log_ready, .ready_ctx = &log}),
                 CT_ERR_OUT_OF_RANGE);
    cr_expect_eq(log.n, 2);
    for (int i = 0; i < 4; i++) cr_expect_null(g[i]);
    ct_tape_free(tape);
}
