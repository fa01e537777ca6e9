/*
 * Keras's guide "Writing a training loop from scratch", in C, on
 * Fashion-MNIST: the model, loss, optimizer and metrics are Keras objects,
 * but the loop over epochs and batches is ours, with a gradient tape.
 * The Python it follows:
 *
 *     model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)),
 *                               keras.layers.Dense(256, activation="relu"),
 *                               keras.layers.Dense(256, activation="relu"),
 *                               keras.layers.Dense(10)])
 *     loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
 *     optimizer = keras.optimizers.Adam(learning_rate=1e-3)
 *     train_loss = keras.metrics.Mean(name="loss")
 *     train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
 *     val_acc_metric = keras.metrics.SparseCategoricalAccuracy()
 *
 *     # Reserve 10,000 samples for validation.
 *     train_dataset = tf.data.Dataset.from_tensor_slices(
 *         (x_train[:-10000], y_train[:-10000])).shuffle(1024).batch(128)
 *     val_dataset = tf.data.Dataset.from_tensor_slices(
 *         (x_train[-10000:], y_train[-10000:])).batch(128)
 *
 *     for epoch in range(epochs):
 *         for step, (x, y) in enumerate(train_dataset):
 *             with tf.GradientTape() as tape:
 *                 logits = model(x, training=True)
 *                 loss_value = loss_fn(y, logits)
 *             grads = tape.gradient(loss_value, model.trainable_weights)
 *             optimizer.apply_gradients(zip(grads, model.trainable_weights))
 *             train_loss.update_state(loss_value)
 *             train_acc_metric.update_state(y, logits)
 *         ...  # print the epoch's results, reset the metrics
 *         for x, y in val_dataset:
 *             val_acc_metric.update_state(y, model(x, training=False))
 *
 *   fashion_mnist_custom_loop [--epochs N] [--steps N] [--threads N]
 *
 * --epochs defaults to 2; --steps limits the training batches of each
 * epoch (default: all 391); --threads defaults to all cores.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrain/ctrain.h"

/* More than the model has: model.trainable_weights fits here. */
#define MAX_WEIGHTS 64

static void die(const char *what) {
    fprintf(stderr, "fashion_mnist_custom_loop: %s: %s\n", what, ct_last_error());
    exit(1);
}

static void usage(void) {
    fprintf(stderr, "usage: fashion_mnist_custom_loop [--epochs N] [--steps N] [--threads N]\n");
    exit(2);
}

/* model.add(keras.layers.<class_name>(**config)). */
static void add(ct_model *model, const char *class_name, const char *config) {
    if (ct_sequential_add(model, ct_layer_new(class_name, config))) die(class_name);
}

/* from_tensor_slices((x[begin:end], y[begin:end])): rows of the
 * training set. */
static ct_dataset *rows(ct_tensor *x, ct_tensor *y, const char *range) {
    return ct_dataset_from_tensor_slices(
        &(ct_element){.n = 2, .t = {ct_getitem(x, range), ct_getitem(y, range)}});
}

/* One training step on a batch (Python's train_step): forward pass on a
 * tape, gradients of the loss with respect to the trainable weights, one
 * optimizer update, then the metrics see the batch's loss and logits. */
static void train_step(ct_model *model, ct_loss *loss_fn, ct_optimizer *optimizer, int n,
                       ct_variable *const *weights, const ct_tensor *x, const ct_tensor *y,
                       ct_metric *train_loss, ct_metric *train_acc) {
    ct_scope_begin();
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tensor *logits = ct_model_call(model, x, true);
    ct_tensor *loss_value = ct_loss_call(loss_fn, y, logits, NULL);
    ct_tape_end(tape);
    if (!loss_value) die("forward pass");

    /* A variable's value tensor stands for the variable on the tape, so
     * the gradients with respect to it are the weight's gradients. */
    ct_tensor *sources[MAX_WEIGHTS], *grads[MAX_WEIGHTS];
    for (int i = 0; i < n; i++) sources[i] = ct_variable_value(weights[i]);
    if (ct_tape_gradient(tape, loss_value, n, sources, grads, NULL)) die("tape.gradient");
    if (ct_optimizer_apply_gradients(optimizer, n, grads, weights)) die("apply_gradients");

    if (ct_metric_update(train_loss, NULL, loss_value, NULL) ||
        ct_metric_update(train_acc, y, logits, NULL))
        die("updating the training metrics");
    ct_tape_free(tape);
    ct_scope_end(); /* frees the step's tensors: logits, gradients, ... */
}

/* The model's accuracy over every batch of ds (Python's test_step loop):
 * training=false, no tape, and the metric reset afterwards so the next
 * evaluation starts from zero. */
static double accuracy(ct_model *model, ct_dataset *ds, ct_metric *acc) {
    ct_iterator *it = ct_dataset_iterator(ds);
    if (!it) die("the evaluation dataset");
    ct_element *batch;
    ct_status st;
    while ((st = ct_iterator_next(it, &batch)) == CT_OK && batch) {
        ct_scope_begin();
        ct_tensor *logits = ct_model_call(model, batch->t[0], false);
        if (ct_metric_update(acc, batch->t[1], logits, NULL)) die("evaluating a batch");
        ct_scope_end();
        ct_element_free(batch);
    }
    if (st) die("the next evaluation batch");
    ct_iterator_free(it);
    ct_scope_begin();
    double result = ct_item(ct_metric_result(acc));
    ct_scope_end();
    ct_metric_reset(acc);
    return result;
}

int main(int argc, char **argv) {
    int epochs = 2;
    int64_t max_steps = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 == argc) usage();
        if (!strcmp(argv[i], "--epochs")) epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps")) max_steps = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--threads")) ct_set_num_threads(atoi(argv[++i]));
        else usage();
    }
    ct_set_random_seed(42);
    ct_scope_begin();

    ct_tensor *x8, *y_train, *xt8, *y_test;
    if (ct_load_fashion_mnist(NULL, &x8, &y_train, &xt8, &y_test)) die("loading Fashion-MNIST");
    ct_tensor *x_train = ct_multiply(ct_cast(x8, CT_FLOAT32), ct_scalar(1.0 / 255));
    ct_tensor *x_test = ct_multiply(ct_cast(xt8, CT_FLOAT32), ct_scalar(1.0 / 255));

    /* The last 10,000 training images are held out for validation; the
     * test set is kept for the very end. */
    ct_dataset *train_ds = ct_dataset_shuffle(rows(x_train, y_train, ":-10000"), 1024,
                                              &(ct_shuffle_opts){.seed = 1});
    train_ds = ct_dataset_prefetch(ct_dataset_batch(train_ds, 128, false), CT_AUTOTUNE);
    ct_dataset *val_ds = ct_dataset_batch(rows(x_train, y_train, "-10000:"), 128, false);
    ct_dataset *test_ds = ct_dataset_batch(
        ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {x_test, y_test}}), 128, false);
    if (!train_ds || !val_ds || !test_ds) die("the datasets");

    ct_model *model = ct_sequential_new(NULL);
    if (!model) die("the model");
    add(model, "Flatten", "{\"input_shape\": [28, 28]}");
    add(model, "Dense", "{\"units\": 256, \"activation\": \"relu\"}");
    add(model, "Dense", "{\"units\": 256, \"activation\": \"relu\"}");
    add(model, "Dense", "{\"units\": 10}");

    ct_loss *loss_fn =
        ct_loss_new("SparseCategoricalCrossentropy", &(ct_loss_opts){.from_logits = true});
    ct_optimizer *optimizer = ct_optimizer_new("adam", &(ct_optimizer_opts){.learning_rate = 1e-3});
    ct_metric *train_loss = ct_metric_new("Mean", &(ct_metric_opts){.name = "loss"});
    ct_metric *train_acc = ct_metric_new("SparseCategoricalAccuracy", NULL);
    ct_metric *val_acc = ct_metric_new("SparseCategoricalAccuracy", NULL);
    if (!loss_fn || !optimizer || !train_loss || !train_acc || !val_acc)
        die("the loss, optimizer or metrics");

    /* The model was built by input_shape, so its weights exist already. */
    ct_variable *weights[MAX_WEIGHTS];
    int nweights = ct_layer_trainable_weights(ct_model_layer(model), weights, MAX_WEIGHTS);
    if (nweights < 0 || nweights > MAX_WEIGHTS) die("model.trainable_weights");

    for (int epoch = 0; epoch < epochs; epoch++) {
        /* A new iterator per epoch is Python's `for ... in train_dataset`:
         * the shuffle draws a new order each time. */
        ct_iterator *it = ct_dataset_iterator(train_ds);
        if (!it) die("the training dataset");
        ct_element *batch;
        for (int64_t step = 0; max_steps == 0 || step < max_steps; step++) {
            if (ct_iterator_next(it, &batch)) die("the next training batch");
            if (!batch) break; /* the end of the epoch */
            train_step(model, loss_fn, optimizer, nweights, weights, batch->t[0], batch->t[1],
                       train_loss, train_acc);
            ct_element_free(batch);
        }
        ct_iterator_free(it);

        /* result() then reset_state(): each epoch's numbers are its own. */
        ct_scope_begin();
        double loss = ct_item(ct_metric_result(train_loss));
        double acc = ct_item(ct_metric_result(train_acc));
        ct_scope_end();
        ct_metric_reset(train_loss);
        ct_metric_reset(train_acc);
        printf("epoch %d: loss %.4f accuracy %.4f val_accuracy %.4f\n", epoch + 1, loss, acc,
               accuracy(model, val_ds, val_acc));
        fflush(stdout);
    }

    printf("test accuracy: %.4f\n", accuracy(model, test_ds, val_acc));

    ct_metric_free(val_acc);
    ct_metric_free(train_acc);
    ct_metric_free(train_loss);
    ct_optimizer_free(optimizer);
    ct_loss_free(loss_fn);
    ct_model_free(model);
    ct_dataset_free(test_ds);
    ct_dataset_free(val_ds);
    ct_dataset_free(train_ds);
    ct_scope_end();
    return 0;
}
