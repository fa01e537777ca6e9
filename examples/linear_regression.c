/*
 * The seed's low-level example: fit y = 2x + 1 + noise with a gradient
 * tape and a plain gradient-descent step, as in
 *
 *     w = tf.Variable(tf.random.normal([1, 1])); b = tf.Variable(tf.zeros([1]))
 *     for step in range(steps):
 *         with tf.GradientTape() as tape:
 *             loss = tf.reduce_mean((x @ w + b - y) ** 2) / 2
 *         dw, db = tape.gradient(loss, [w, b])
 *         w.assign_sub(lr * dw); b.assign_sub(lr * db)
 *
 *   linear_regression [--steps N] [--lr RATE] [--samples N] [--seed S]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrain/ctrain.h"

#define CHECK(x)                                                                          \
    do {                                                                                  \
        if (!(x)) {                                                                       \
            fprintf(stderr, "linear_regression: %s\n", ct_last_error());                  \
            return 1;                                                                     \
        }                                                                                 \
    } while (0)

int main(int argc, char **argv) {
    int steps = 1000, every = 100;
    int64_t n = 400;
    double lr = 0.1;
    int64_t seed = 42;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--lr")) lr = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--samples")) n = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed")) seed = atoll(argv[i + 1]);
        else {
            fprintf(stderr, "usage: %s [--steps N] [--lr RATE] [--samples N] [--seed S]\n", argv[0]);
            return 2;
        }
    }
    if (steps < 1 || n < 1 || lr <= 0) {
        fprintf(stderr, "linear_regression: --steps and --samples must be >= 1, --lr > 0\n");
        return 2;
    }
    ct_set_random_seed(seed);
    ct_scope_begin();

    /* Data: x uniform in [-10, 10), y = 2x + 1 + N(0, 2). */
    ct_tensor *x = ct_random_uniform(CT_DIMS(n, 1), &(ct_random_opts){.minval = -10, .maxval = 10});
    ct_tensor *noise = ct_random_normal(CT_DIMS(n, 1), &(ct_random_opts){.stddev = 2.0});
    ct_tensor *y = ct_add(ct_add(ct_multiply(ct_scalar(2), x), ct_scalar(1)), noise);
    CHECK(y);
    /* Standardise x so one learning rate suits both parameters, and map the
     * fitted weights back at the end (as the seed's example does with its
     * data's scale). */
    ct_variable *w = ct_variable_new(ct_random_normal(CT_DIMS(1, 1), NULL), &(ct_variable_opts){.name = "w"});
    ct_variable *b = ct_variable_new(ct_zeros(CT_FLOAT32, CT_DIMS(1)), &(ct_variable_opts){.name = "b"});
    CHECK(w && b);
    ct_tensor *mean = ct_reduce_mean(x, CT_ALL, false);
    ct_tensor *std = ct_reduce_std(x, CT_ALL, false);
    ct_tensor *xs = ct_divide(ct_subtract(x, mean), std);
    CHECK(xs);
    ct_tensor *lr_t = ct_scalar(lr);

    for (int step = 1; step <= steps; step++) {
        ct_scope_begin();
        ct_tape *tape = ct_tape_begin(NULL);
        CHECK(tape);
        ct_tensor *pred = ct_add(ct_matmul(xs, ct_variable_value(w)), ct_variable_value(b));
        ct_tensor *loss = ct_divide(ct_reduce_mean(ct_square(ct_subtract(pred, y)), CT_ALL, false),
                                    ct_scalar(2));
        CHECK(loss);
        ct_tape_end(tape);
        ct_tensor *params[2] = {ct_variable_value(w), ct_variable_value(b)}, *grads[2];
        CHECK(ct_tape_gradient(tape, loss, 2, params, grads, NULL) == CT_OK);
        ct_tape_free(tape);
        CHECK(ct_variable_assign_sub(w, ct_multiply(lr_t, grads[0])) == CT_OK);
        CHECK(ct_variable_assign_sub(b, ct_multiply(lr_t, grads[1])) == CT_OK);
        if (step % every == 0 || step == 1) printf("step %4d  loss %.6f\n", step, ct_item(loss));
        ct_scope_end();
    }

    /* y = ws * (x - mean) / std + bs  =>  w = ws / std, b = bs - ws * mean / std. */
    double ws = ct_item(ct_variable_value(w)), bs = ct_item(ct_variable_value(b));
    double m = ct_item(mean), s = ct_item(std);
    printf("w = %.4f  b = %.4f   (true: w = 2, b = 1)\n", ws / s, bs - ws * m / s);
    ct_variable_free(w);
    ct_variable_free(b);
    ct_scope_end();
    return 0;
}
