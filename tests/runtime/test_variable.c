/* Variables: assignment, errors, and how tapes watch them. */
#include <string.h>

#include "support.h"

TestSuite(variable, .init = ct_test_begin, .fini = ct_test_end);

#define CT_STATUS_FAILS(expr, code, needle)                                                \
    do {                                                                                  \
        ct_clear_error();                                                                 \
        cr_expect_eq((expr), (code), "expected %s", ct_status_name(code));                \
        cr_expect(strstr(ct_last_error(), (needle)) != NULL,                              \
                  "error \"%s\" does not mention \"%s\"", ct_last_error(), (needle));      \
    } while (0)

Test(variable, names_and_trainable) {
    ct_variable *a = ct_variable_new(ct_scalar(1), NULL);
    ct_variable *b = ct_variable_new(ct_scalar(1), &(ct_variable_opts){.name = "dense/kernel",
                                                                       .non_trainable = true});
    cr_assert(a && b, "%s", ct_last_error());
    cr_expect_str_eq(ct_variable_name(a), "Variable");
    cr_expect_str_eq(ct_variable_name(b), "dense/kernel");
    cr_expect(ct_variable_trainable(a));
    cr_expect(!ct_variable_trainable(b));
    cr_expect_null(ct_variable_name(NULL));
    cr_expect(!ct_variable_trainable(NULL));
    ct_variable_free(a);
    ct_variable_free(b);
    ct_variable_free(NULL);
}

Test(variable, new_errors) {
    ct_clear_error();
    cr_expect_null(ct_variable_new(NULL, NULL));
    cr_expect(strstr(ct_last_error(), "ct_variable_new: NULL initial value") != NULL, "%s",
              ct_last_error());
    /* A failed op's NULL keeps the op's error. */
    cr_expect_null(ct_variable_new(ct_constant(NULL, CT_FLOAT32, CT_DIMS(-1)), NULL));
    cr_expect(strstr(ct_last_error(), "ct_constant") != NULL, "%s", ct_last_error());
    ct_clear_error();
    cr_expect_null(ct_variable_value(NULL));
    cr_expect(strstr(ct_last_error(), "NULL variable") != NULL, "%s", ct_last_error());
}

Test(variable, assign_add_sub) {
    ct_variable *v = ct_variable_new(CT_F32(CT_DIMS(3), 1, 2, 3), &(ct_variable_opts){.name = "w"});
    cr_assert_not_null(v);
    ct_tensor *snap = ct_variable_read(v);
    CT_STATUS_OK(ct_variable_assign(v, CT_F32(CT_DIMS(3), 10, 20, 30)));
    CT_EXPECT(ct_variable_value(v), CT_FLOAT32, CT_DIMS(3), 0, 10, 20, 30);
    CT_STATUS_OK(ct_variable_assign_add(v, CT_F32(CT_DIMS(3), 1, 1, 1)));
    CT_EXPECT(ct_variable_value(v), CT_FLOAT32, CT_DIMS(3), 0, 11, 21, 31);
    CT_STATUS_OK(ct_variable_assign_sub(v, CT_F32(CT_DIMS(3), 0.5f, 1, 2)));
    CT_EXPECT(ct_variable_value(v), CT_FLOAT32, CT_DIMS(3), 0, 10.5, 20, 29);
    CT_EXPECT(ct_variable_read(v), CT_FLOAT32, CT_DIMS(3), 0, 10.5, 20, 29);
    /* A snapshot read before keeps its values. */
    CT_EXPECT(snap, CT_FLOAT32, CT_DIMS(3), 0, 1, 2, 3);
    /* Assigning a tensor and then changing the variable leaves the tensor. */
    ct_tensor *src = CT_F32(CT_DIMS(3), 7, 8, 9);
    CT_STATUS_OK(ct_variable_assign(v, src));
    CT_STATUS_OK(ct_variable_assign_add(v, src));
    CT_EXPECT(src, CT_FLOAT32, CT_DIMS(3), 0, 7, 8, 9);
    CT_EXPECT(ct_variable_value(v), CT_FLOAT32, CT_DIMS(3), 0, 14, 16, 18);
    ct_variable_free(v);
}

Test(variable, integer_and_scalar_variables) {
    ct_variable *step = ct_variable_new(ct_scalar_of(CT_INT64, 0), &(ct_variable_opts){
                                                                       .name = "step",
                                                                       .non_trainable = true});
    for (int i = 0; i < 5; i++) CT_STATUS_OK(ct_variable_assign_add(step, ct_scalar_of(CT_INT64, 1)));
    cr_expect_eq(ct_item(ct_variable_value(step)), 5.0);
    CT_STATUS_OK(ct_variable_assign_sub(step, ct_scalar_of(CT_INT64, 7)));
    cr_expect_eq(ct_item(ct_variable_value(step)), -2.0);
    ct_variable_free(step);
}

Test(variable, mismatch_errors_name_the_variable) {
    ct_variable *v = ct_variable_new(CT_F32(CT_DIMS(3), 1, 2, 3), &(ct_variable_opts){.name = "w"});
    CT_STATUS_FAILS(ct_variable_assign(v, CT_F64(CT_DIMS(3), 1, 2, 3)), CT_ERR_INVALID_ARGUMENT,
                    "ct_variable_assign: variable 'w' is float32[3]");
    cr_expect(strstr(ct_last_error(), "the value is float64[3]") != NULL, "%s", ct_last_error());
    CT_STATUS_FAILS(ct_variable_assign_add(v, CT_F32(CT_DIMS(2), 1, 2)), CT_ERR_INVALID_ARGUMENT,
                    "ct_variable_assign_add: variable 'w' is float32[3]");
    cr_expect(strstr(ct_last_error(), "float32[2]") != NULL, "%s", ct_last_error());
    CT_STATUS_FAILS(ct_variable_assign_sub(v, CT_F32(CT_DIMS(1, 3), 1, 2, 3)),
                    CT_ERR_INVALID_ARGUMENT, "variable 'w' is float32[3]");
    /* No broadcasting in assign_add, as TF. */
    CT_STATUS_FAILS(ct_variable_assign_add(v, ct_scalar(1)), CT_ERR_INVALID_ARGUMENT, "'w'");
    CT_STATUS_FAILS(ct_variable_assign(v, NULL), CT_ERR_INVALID_ARGUMENT, "ct_variable_assign: NULL value");
    CT_STATUS_FAILS(ct_variable_assign(NULL, ct_scalar(1)), CT_ERR_INVALID_ARGUMENT, "NULL variable");
    /* The value is untouched by failed assignments. */
    CT_EXPECT(ct_variable_value(v), CT_FLOAT32, CT_DIMS(3), 0, 1, 2, 3);
    ct_variable_free(v);
}

Test(variable, value_tensor_belongs_to_the_variable) {
    int64_t live0 = ct_live_tensors();
    ct_variable *v = ct_variable_new(CT_F32(CT_DIMS(2), 1, 2), NULL);
    ct_tensor *val = ct_variable_value(v);
    ct_tensor_free(val); /* ignored: the variable owns it */
    CT_EXPECT(ct_variable_value(v), CT_FLOAT32, CT_DIMS(2), 0, 1, 2);
    cr_expect_eq(ct_variable_value(v), val, "the value tensor keeps its identity");
    cr_expect_eq(ct_tensor_id(ct_variable_value(v)), ct_tensor_id(val));
    CT_STATUS_OK(ct_variable_assign(v, CT_F32(CT_DIMS(2), 3, 4)));
    cr_expect_eq(ct_variable_value(v), val, "assignment keeps the identity too");
    ct_variable_free(v);
    ct_scope_end();
    cr_expect_eq(ct_live_tensors(), live0, "freeing the variable releases its value");
    ct_scope_begin();
}

/* ---- tapes ------------------------------------------------------------------------------ */

static ct_tensor *grad_of(ct_tape *tape, ct_tensor *y, ct_tensor *x) {
    ct_tensor *g = NULL;
    CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &x, &g, NULL));
    return g;
}

Test(variable, trainable_variables_are_watched) {
    ct_variable *v = ct_variable_new(CT_F32(CT_DIMS(2), 1, 2), NULL);
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tensor *y = ct_reduce_sum(ct_square(ct_variable_value(v)), CT_ALL, false);
    ct_tape_end(tape);
    CT_EXPECT(grad_of(tape, y, ct_variable_value(v)), CT_FLOAT32, CT_DIMS(2), 0, 2, 4);
    ct_tape_free(tape);
    ct_variable_free(v);
}

Test(variable, non_trainable_variables_are_not_watched) {
    ct_variable *v = ct_variable_new(CT_F32(CT_DIMS(2), 1, 2), &(ct_variable_opts){.non_trainable = true});
    ct_tape *tape = ct_tape_begin(&(ct_tape_opts){.persistent = true});
    ct_tensor *y = ct_reduce_sum(ct_square(ct_variable_value(v)), CT_ALL, false);
    ct_tape_end(tape);
    cr_expect_null(grad_of(tape, y, ct_variable_value(v)), "not watched: no gradient");
    ct_tape_free(tape);
    /* Watching one explicitly works. */
    tape = ct_tape_begin(NULL);
    CT_STATUS_OK(ct_tape_watch(tape, ct_variable_value(v)));
    y = ct_reduce_sum(ct_square(ct_variable_value(v)), CT_ALL, false);
    ct_tape_end(tape);
    CT_EXPECT(grad_of(tape, y, ct_variable_value(v)), CT_FLOAT32, CT_DIMS(2), 0, 2, 4);
    ct_tape_free(tape);
    ct_variable_free(v);
}

Test(variable, no_watch_variables_option) {
    ct_variable *v = ct_variable_new(CT_F32(CT_DIMS(2), 1, 2), NULL);
    ct_tape *tape = ct_tape_begin(&(ct_tape_opts){.no_watch_variables = true});
    ct_tensor *y = ct_reduce_sum(ct_square(ct_variable_value(v)), CT_ALL, false);
    ct_tape_end(tape);
    cr_expect_null(grad_of(tape, y, ct_variable_value(v)));
    ct_tape_free(tape);
    tape = ct_tape_begin(&(ct_tape_opts){.no_watch_variables = true});
    CT_STATUS_OK(ct_tape_watch(tape, ct_variable_value(v)));
    y = ct_reduce_sum(ct_square(ct_variable_value(v)), CT_ALL, false);
    ct_tape_end(tape);
    CT_EXPECT(grad_of(tape, y, ct_variable_value(v)), CT_FLOAT32, CT_DIMS(2), 0, 2, 4);
    ct_tape_free(tape);
    ct_variable_free(v);
}

Test(variable, gradient_of_a_variable_used_twice) {
    ct_variable *v = ct_variable_new(CT_F64(CT_DIMS(3), 1, -2, 0.5), NULL);
    ct_variable *w = ct_variable_new(CT_F64(CT_DIMS(1), 3), NULL);
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tensor *x = ct_variable_value(v);
    /* y = sum(v * v + v * w): dy/dv = 2v + w, dy/dw = sum(v) (broadcast). */
    ct_tensor *y = ct_reduce_sum(ct_add(ct_multiply(x, x), ct_multiply(x, ct_variable_value(w))),
                                 CT_ALL, false);
    ct_tape_end(tape);
    ct_tensor *g[2];
    ct_tensor *src[2] = {ct_variable_value(v), ct_variable_value(w)};
    CT_STATUS_OK(ct_tape_gradient(tape, y, 2, src, g, NULL));
    CT_EXPECT(g[0], CT_FLOAT64, CT_DIMS(3), 1e-12, 5, -1, 4);
    CT_EXPECT(g[1], CT_FLOAT64, CT_DIMS(1), 1e-12, -0.5);
    ct_tape_free(tape);
    ct_variable_free(v);
    ct_variable_free(w);
}

Test(variable, assignments_are_not_recorded) {
    ct_variable *v = ct_variable_new(CT_F32(CT_DIMS(2), 1, 2), NULL);
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tensor *y = ct_reduce_sum(ct_multiply(ct_variable_value(v), ct_scalar(3)), CT_ALL, false);
    CT_STATUS_OK(ct_variable_assign_add(v, CT_F32(CT_DIMS(2), 5, 5)));
    ct_tensor *z = ct_add(y, ct_reduce_sum(ct_variable_value(v), CT_ALL, false));
    ct_tape_end(tape);
    /* z = 3 v_old + v_new summed; v_new = v_old + 5 is not on the tape, so
     * the gradient is 3 + 1 per element, through the reads alone. */
    CT_EXPECT(grad_of(tape, z, ct_variable_value(v)), CT_FLOAT32, CT_DIMS(2), 0, 4, 4);
    cr_expect_float_eq(ct_item(z), 3 * 3 + 13.0, 1e-6);
    ct_tape_free(tape);
    ct_variable_free(v);
}

Test(variable, integer_variables_are_not_differentiable) {
    ct_variable *v = ct_variable_new(CT_I32(CT_DIMS(2), 1, 2), NULL);
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tensor *y = ct_cast(ct_variable_value(v), CT_FLOAT32);
    ct_tape_end(tape);
    ct_tensor *src = ct_variable_value(v), *g;
    cr_expect_neq(ct_tape_gradient(tape, y, 1, &src, &g, NULL), CT_OK);
    ct_tape_free(tape);
    ct_variable_free(v);
}
