/*
 * A multilayer perceptron on Fashion-MNIST with Keras's compile / fit /
 * evaluate, in C. The Python it follows:
 *
 *     (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
 *     x_train, x_test = x_train / 255.0, x_test / 255.0
 *     model = keras.Sequential([
 *         keras.layers.Flatten(input_shape=(28, 28)),
 *         keras.layers.Dense(256, activation="relu"),
 *         keras.layers.Dense(256, activation="relu"),
 *         keras.layers.Dense(10),
 *     ])
 *     model.compile(optimizer=keras.optimizers.Adam(1e-3),
 *                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
 *                   metrics=["accuracy"])
 *     model.fit(x_train, y_train, batch_size=128, epochs=3,
 *               validation_data=(x_test, y_test))
 *     test_loss, test_acc = model.evaluate(x_test, y_test, verbose=2)
 *
 *   fashion_mnist_mlp [--epochs N] [--threads N] [--verbose 0|1|2]
 *
 * --epochs defaults to 3; --threads to all cores; --verbose is Keras's
 * (0 silent, 1 progress bar, 2 one line per epoch; default 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrain/ctrain.h"

static void die(const char *what) {
    fprintf(stderr, "fashion_mnist_mlp: %s: %s\n", what, ct_last_error());
    exit(1);
}

static void usage(void) {
    fprintf(stderr, "usage: fashion_mnist_mlp [--epochs N] [--threads N] [--verbose 0|1|2]\n");
    exit(2);
}

/* model.add(keras.layers.<class_name>(**config)). */
static void add(ct_model *model, const char *class_name, const char *config) {
    if (ct_sequential_add(model, ct_layer_new(class_name, config))) die(class_name);
}

int main(int argc, char **argv) {
    int epochs = 3, verbose = CT_VERBOSE_AUTO;
    for (int i = 1; i < argc; i++) {
        if (i + 1 == argc) usage();
        if (!strcmp(argv[i], "--epochs")) epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads")) ct_set_num_threads(atoi(argv[++i]));
        else if (!strcmp(argv[i], "--verbose")) verbose = atoi(argv[++i]);
        else usage();
    }
    /* Keras's verbose=0 is silence; ctrain's 0 is "auto". */
    if (verbose == 0) verbose = CT_VERBOSE_SILENT;
    ct_set_random_seed(42);
    ct_scope_begin();

    /* The images are uint8 in 0..255; the model sees float32 in [0, 1]. */
    ct_tensor *x8, *y_train, *xt8, *y_test;
    if (ct_load_fashion_mnist(NULL, &x8, &y_train, &xt8, &y_test)) die("loading Fashion-MNIST");
    ct_tensor *x_train = ct_multiply(ct_cast(x8, CT_FLOAT32), ct_scalar(1.0 / 255));
    ct_tensor *x_test = ct_multiply(ct_cast(xt8, CT_FLOAT32), ct_scalar(1.0 / 255));
    if (!x_train || !x_test) die("scaling the images");

    /* input_shape on the first layer builds the model at once, so the
     * summary can show every shape. */
    ct_model *model = ct_sequential_new(NULL);
    if (!model) die("the model");
    add(model, "Flatten", "{\"input_shape\": [28, 28]}");
    add(model, "Dense", "{\"units\": 256, \"activation\": \"relu\"}");
    add(model, "Dense", "{\"units\": 256, \"activation\": \"relu\"}");
    add(model, "Dense", "{\"units\": 10}");
    if (verbose != CT_VERBOSE_SILENT) ct_model_summary(model, stdout);

    /* The last layer gives logits (no softmax), so the loss applies the
     * softmax itself: from_logits. "accuracy" becomes
     * sparse_categorical_accuracy for this loss, as in Keras. */
    const char *metrics[] = {"accuracy"};
    if (ct_model_compile(
            model, &(ct_compile_opts){
                       .optimizer_obj =
                           ct_optimizer_new("adam", &(ct_optimizer_opts){.learning_rate = 1e-3}),
                       .loss_obj = ct_loss_new("SparseCategoricalCrossentropy",
                                               &(ct_loss_opts){.from_logits = true}),
                       .nmetrics = 1,
                       .metrics = metrics}))
        die("compile");

    /* The test set doubles as validation data, so each epoch's line shows
     * val_loss and val_accuracy. */
    ct_history *history = ct_model_fit(model, &(ct_fit_opts){.x = x_train,
                                                             .y = y_train,
                                                             .batch_size = 128,
                                                             .epochs = epochs,
                                                             .val_x = x_test,
                                                             .val_y = y_test,
                                                             .verbose = verbose});
    if (!history) die("fit");

    ct_logs *results;
    if (ct_model_evaluate(model,
                          &(ct_eval_opts){.x = x_test,
                                          .y = y_test,
                                          .batch_size = 128,
                                          .verbose = verbose == CT_VERBOSE_SILENT
                                                         ? CT_VERBOSE_SILENT
                                                         : CT_VERBOSE_EPOCH},
                          &results))
        die("evaluate");
    printf("test accuracy: %.4f\n", ct_logs_get(results, "accuracy", NULL));

    ct_logs_free(results);
    ct_history_free(history);
    ct_model_free(model);
    ct_scope_end();
    return 0;
}
