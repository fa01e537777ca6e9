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
