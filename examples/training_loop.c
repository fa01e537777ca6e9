/*
 * A training loop written from scratch with the Keras blocks (Keras's guide
 * "Writing a training loop from scratch", in C): Fashion-MNIST through a
 * tf.data pipeline into Flatten -> Dense(128, relu) -> Dropout(0.2) ->
 * Dense(10), sparse categorical cross-entropy from logits, Adam, and the
 * sparse categorical accuracy on the test set.
 *
 *   training_loop [--steps N]       (default: one epoch, 469 steps)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrain/ctrain.h"

#define NLAYERS 4

static void die(const char *what) {
    fprintf(stderr, "training_loop: %s: %s\n", what, ct_last_error());
    exit(1);
}

/* The model: the layers applied in order. */
static ct_tensor *forward(ct_layer *const *layers, const ct_tensor *x, bool training) {
    ct_tensor *h = ct_multiply(ct_cast(x, CT_FLOAT32), ct_scalar(1.0f / 255));
    for (int i = 0; i < NLAYERS; i++) h = ct_layer_call(layers[i], h, training);
    return h;
}

int main(int argc, char **argv) {
    int64_t steps = 469;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoll(argv[++i]);
    ct_set_random_seed(42);
    ct_scope_begin();

    ct_tensor *x, *y, *xt, *yt;
    if (ct_load_fashion_mnist(NULL, &x, &y, &xt, &yt)) die("loading Fashion-MNIST");
    ct_dataset *ds = ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {x, y}});
    ds = ct_dataset_shuffle(ds, 60000, &(ct_shuffle_opts){.seed = 1});
    ds = ct_dataset_prefetch(ct_dataset_batch(ds, 128, false), CT_AUTOTUNE);
    ct_iterator *it = ct_dataset_iterator(ds);
    if (!it) die("the pipeline");

    ct_layer *layers[NLAYERS] = {
        ct_layer_new("Flatten", NULL),
        ct_layer_new("Dense", "{\"units\": 128, \"activation\": \"relu\"}"),
        ct_layer_new("Dropout", "{\"rate\": 0.2}"),
        ct_layer_new("Dense", "{\"units\": 10}"),
    };
    ct_loss *loss_fn = ct_loss_new("SparseCategoricalCrossentropy",
                                   &(ct_loss_opts){.from_logits = true});
    ct_optimizer *opt = ct_optimizer_new("adam", NULL);
    ct_metric *train_acc = ct_metric_new("sparse_categorical_accuracy", NULL);
    for (int i = 0; i < NLAYERS; i++)
        if (!layers[i]) die("a layer");
    if (!loss_fn || !opt || !train_acc) die("the loss, optimizer or metric");

    for (int64_t step = 0; step < steps; step++) {
        ct_element *batch;
        if (ct_iterator_next(it, &batch)) die("next batch");
        if (!batch) break;
        ct_scope_begin();
        ct_tape *tape = ct_tape_begin(NULL);
        ct_tensor *logits = forward(layers, batch->t[0], true);
        ct_tensor *loss = ct_loss_call(loss_fn, batch->t[1], logits, NULL);
        ct_tape_end(tape);
        if (!loss) die("forward");
        ct_variable *vars[8];
        ct_tensor *srcs[8], *grads[8];
        int n = 0;
        for (int i = 0; i < NLAYERS; i++)
            for (int w = 0; w < ct_layer_num_weights(layers[i]); w++) {
                vars[n] = ct_layer_weight(layers[i], w);
                srcs[n] = ct_variable_value(vars[n]);
                n++;
            }
        if (ct_tape_gradient(tape, loss, n, srcs, grads, NULL)) die("gradients");
        if (ct_optimizer_apply_gradients(opt, n, grads, vars)) die("apply_gradients");
        if (ct_metric_update(train_acc, batch->t[1], logits, NULL)) die("metric");
        if (step % 100 == 0)
            printf("step %4lld  loss %.4f  accuracy %.4f\n", (long long)step,
                   ct_item(loss), ct_item(ct_metric_result(train_acc)));
        ct_tape_free(tape);
        ct_scope_end();
        ct_element_free(batch);
    }

    /* The test set, in batches of 1000. */
    ct_metric *test_acc = ct_metric_new("sparse_categorical_accuracy", NULL);
    if (!test_acc) die("metric");
    for (int64_t i = 0; i < 10000; i += 1000) {
        ct_scope_begin();
        ct_tensor *xb = ct_slice(xt, (int64_t[]){i, 0, 0}, (int64_t[]){1000, 28, 28});
        ct_tensor *yb = ct_slice(yt, (int64_t[]){i}, (int64_t[]){1000});
        if (ct_metric_update(test_acc, yb, forward(layers, xb, false), NULL)) die("evaluate");
        ct_scope_end();
    }
    printf("test accuracy: %.4f\n", ct_item(ct_metric_result(test_acc)));

    ct_metric_free(test_acc);
    ct_metric_free(train_acc);
    ct_optimizer_free(opt);
    ct_loss_free(loss_fn);
    for (int i = 0; i < NLAYERS; i++) ct_layer_free(layers[i]);
    ct_iterator_free(it);
    ct_dataset_free(ds);
    ct_scope_end();
    return 0;
}
