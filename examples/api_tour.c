/* The README's tour of the API, as a program the build compiles and the
 * tests run (so the README cannot drift from the code). */
#include <stdio.h>

#include "ctrain/ctrain.h"

int main(void) {
    ct_scope_begin(); /* tensors made from here on belong to the scope */

    ct_tensor *a = ct_constant((float[]){1, 2, 3, 4, 5, 6}, CT_FLOAT32, CT_DIMS(2, 3));
    ct_tensor *b = ct_range(0, 3, 1, CT_FLOAT32);        /* [0, 1, 2]                  */
    ct_tensor *c = ct_add(a, b);                         /* broadcasting: shape [2, 3] */
    ct_tensor *row = ct_getitem(c, "1, ::-1");          /* c[1, ::-1]                 */
    ct_tensor *s = ct_reduce_sum(c, CT_AXES(-1), true); /* shape [2, 1]               */
    ct_tensor *m = ct_matmul(a, ct_transpose(a, NULL)); /* [2, 2]                     */
    ct_tensor *g = ct_gather(a, ct_constant((int32_t[]){2, 0}, CT_INT32, CT_DIMS(2)), 1, 0);
    ct_tensor_print(row, stdout);
    ct_tensor_print(s, stdout);
    ct_tensor_print(m, stdout);
    ct_tensor_print(g, stdout);

    /* Errors: NULL and a message; a NULL input makes the next op return
     * NULL, so a chain is checked once at its end. */
    ct_tensor *bad = ct_exp(ct_matmul(a, a));
    if (!bad) printf("error: %s\n", ct_last_error());

    /* Gradients: the seed's d/dx and d2/dx2 of x^2 - 2x + 1 at x = 0. */
    ct_tensor *x = ct_scalar(0);
    ct_tape *outer = ct_tape_begin(NULL), *inner = ct_tape_begin(NULL);
    ct_tape_watch(outer, x);
    ct_tape_watch(inner, x);
    ct_tensor *y = ct_add(ct_add(ct_square(x), ct_multiply(ct_scalar(-2), x)), ct_scalar(1));
    ct_tape_end(inner);
    ct_tensor *dy, *d2y;
    ct_tape_gradient(inner, y, 1, &x, &dy, NULL);
    ct_tape_end(outer);
    ct_tape_gradient(outer, dy, 1, &x, &d2y, NULL);
    printf("dy/dx = %g, d2y/dx2 = %g\n", ct_item(dy), ct_item(d2y));
    ct_tape_free(inner);
    ct_tape_free(outer);

    /* Variables are watched by tapes automatically and updated in place. */
    ct_variable *w = ct_variable_new(ct_zeros(CT_FLOAT32, CT_DIMS(3, 1)), NULL);
    ct_variable_assign_sub(w, ct_fill(CT_FLOAT32, CT_DIMS(3, 1), 0.1));
    ct_tensor_print(ct_variable_value(w), stdout);
    ct_variable_free(w);

    ct_scope_end(); /* frees every tensor above */
    return 0;
}
