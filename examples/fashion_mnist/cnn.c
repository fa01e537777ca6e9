/*
 * A convolutional network on Fashion-MNIST fed by a tf.data pipeline, with
 * an EarlyStopping callback, in C. The Python it follows:
 *
 *     def normalize(image, label):
 *         return tf.cast(image, tf.float32)[..., tf.newaxis] / 255.0, label
 *
 *     train_ds = (tf.data.Dataset.from_tensor_slices((x_train, y_train))
 *                 .map(normalize, num_parallel_calls=tf.data.AUTOTUNE)
 *                 .cache().shuffle(60000).batch(128).prefetch(tf.data.AUTOTUNE))
 *     test_ds = (tf.data.Dataset.from_tensor_slices((x_test, y_test))
 *                .map(normalize, num_parallel_calls=tf.data.AUTOTUNE)
 *                .batch(128).cache().prefetch(tf.data.AUTOTUNE))
 *     model = keras.Sequential([
 *         keras.layers.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),
 *         keras.layers.MaxPooling2D(2),
 *         keras.layers.Conv2D(64, 3, activation="relu"),
 *         keras.layers.MaxPooling2D(2),
 *         keras.layers.Flatten(),
 *         keras.layers.Dense(128, activation="relu"),
 *         keras.layers.Dense(10),
 *     ])
 *     model.compile(optimizer=keras.optimizers.Adam(1e-3),
 *                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
 *                   metrics=["accuracy"])
 *     early_stopping = keras.callbacks.EarlyStopping(
 *         monitor="val_loss", patience=2, restore_best_weights=True)
 *     model.fit(train_ds, epochs=3, validation_data=test_ds, callbacks=[early_stopping])
 *     test_loss, test_acc = model.evaluate(test_ds, verbose=2)
 *
 *   fashion_mnist_cnn [--epochs N] [--steps N] [--threads N] [--verbose 0|1|2]
 *
 * --epochs defaults to 3; --steps (fit's steps_per_epoch) to the whole
 * training set; --threads to all cores; --verbose is Keras's (0 silent,
 * 1 progress bar, 2 one line per epoch; default 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrain/ctrain.h"

static void die(const char *what) {
    fprintf(stderr, "fashion_mnist_cnn: %s: %s\n", what, ct_last_error());
    exit(1);
}

static void usage(void) {
    fprintf(stderr, "usage: fashion_mnist_cnn [--epochs N] [--steps N] [--threads N] "
                    "[--verbose 0|1|2]\n");
    exit(2);
}

/* model.add(keras.layers.<class_name>(**config)). */
static void add(ct_model *model, const char *class_name, const char *config) {
    if (ct_sequential_add(model, ct_layer_new(class_name, config))) die(class_name);
}

/* The map function: a uint8 image [28,28] becomes float32 [28,28,1] in
 * [0, 1] (Conv2D wants a channels axis); the label passes through. It runs
 * on the pipeline's worker threads, so it keeps no state. The results are
 * computed in a scope of their own and handed out as references the
 * element owns (data.h's rule for map functions). */
static ct_status normalize(const ct_element *in, void *ctx, ct_element **out) {
    ct_scope_begin();
    ct_tensor *image = ct_multiply(ct_expand_dims(ct_cast(in->t[0], CT_FLOAT32), -1),
                                   ct_scalar(1.0 / 255));
    ct_status st = image ? CT_OK : ct_last_status();
    if (!st) {
        *out = ct_element_copy(&(ct_element){.n = 2, .t = {image, in->t[1]}});
        if (!*out) st = ct_last_status();
    }
    ct_scope_end();
    return st;
}

/* from_tensor_slices((x, y)).map(normalize): the examples as the model
 * sees them. */
static ct_dataset *normalized(ct_tensor *x, ct_tensor *y) {
    return ct_dataset_map(ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {x, y}}),
                          normalize, NULL, CT_AUTOTUNE);
}

int main(int argc, char **argv) {
    int epochs = 3, verbose = CT_VERBOSE_AUTO;
    int64_t steps = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 == argc) usage();
        if (!strcmp(argv[i], "--epochs")) epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps")) steps = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--threads")) ct_set_num_threads(atoi(argv[++i]));
        else if (!strcmp(argv[i], "--verbose")) verbose = atoi(argv[++i]);
        else usage();
    }
    /* Keras's verbose=0 is silence; ctrain's 0 is "auto". */
    if (verbose == 0) verbose = CT_VERBOSE_SILENT;
    ct_set_random_seed(42);
    ct_scope_begin();

    ct_tensor *x_train, *y_train, *x_test, *y_test;
    if (ct_load_fashion_mnist(NULL, &x_train, &y_train, &x_test, &y_test))
        die("loading Fashion-MNIST");

    /* The input pipelines. cache() after map keeps the normalized images,
     * so map runs once, in the first epoch; shuffle after cache draws a
     * new order every epoch; prefetch prepares the next batch on a
     * background thread while the model trains on this one. */
    ct_dataset *train_ds = ct_dataset_cache(normalized(x_train, y_train), NULL);
    train_ds = ct_dataset_shuffle(train_ds, 60000, &(ct_shuffle_opts){.seed = 1});
    train_ds = ct_dataset_prefetch(ct_dataset_batch(train_ds, 128, false), CT_AUTOTUNE);
    ct_dataset *test_ds = ct_dataset_batch(normalized(x_test, y_test), 128, false);
    test_ds = ct_dataset_prefetch(ct_dataset_cache(test_ds, NULL), CT_AUTOTUNE);
    if (!train_ds || !test_ds) die("the input pipelines");

    ct_model *model = ct_sequential_new(NULL);
    if (!model) die("the model");
    add(model, "Conv2D",
        "{\"filters\": 32, \"kernel_size\": 3, \"activation\": \"relu\","
        " \"input_shape\": [28, 28, 1]}");
    add(model, "MaxPooling2D", "{\"pool_size\": 2}");
    add(model, "Conv2D", "{\"filters\": 64, \"kernel_size\": 3, \"activation\": \"relu\"}");
    add(model, "MaxPooling2D", "{\"pool_size\": 2}");
    add(model, "Flatten", NULL);
    add(model, "Dense", "{\"units\": 128, \"activation\": \"relu\"}");
    add(model, "Dense", "{\"units\": 10}");
    if (verbose != CT_VERBOSE_SILENT) ct_model_summary(model, stdout);

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

    /* Stop when val_loss has not improved for 2 epochs in a row, and put
     * back the weights of the best epoch when training ends. */
    ct_callback *early_stopping = ct_callback_new(
        "EarlyStopping",
        "{\"monitor\": \"val_loss\", \"patience\": 2, \"restore_best_weights\": true}");
    if (!early_stopping) die("EarlyStopping");

    /* A dataset brings its own batches (no batch_size) and is not shuffled
     * by fit: shuffle() in the pipeline does that. */
    ct_history *history = ct_model_fit(model, &(ct_fit_opts){.dataset = train_ds,
                                                             .epochs = epochs,
                                                             .steps_per_epoch = steps,
                                                             .validation_data = test_ds,
                                                             .ncallbacks = 1,
                                                             .callbacks = &early_stopping,
                                                             .verbose = verbose});
    if (!history) die("fit");

    ct_logs *results;
    if (ct_model_evaluate(model,
                          &(ct_eval_opts){.dataset = test_ds,
                                          .verbose = verbose == CT_VERBOSE_SILENT
                                                         ? CT_VERBOSE_SILENT
                                                         : CT_VERBOSE_EPOCH},
                          &results))
        die("evaluate");
    printf("test accuracy: %.4f\n", ct_logs_get(results, "accuracy", NULL));

    ct_logs_free(results);
    ct_history_free(history);
    ct_callback_free(early_stopping);
    ct_model_free(model);
    ct_dataset_free(test_ds);
    ct_dataset_free(train_ds);
    ct_scope_end();
    return 0;
}
