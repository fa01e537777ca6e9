/*
 * TensorFlow's "basic classification" tutorial in C: a Sequential model on
 * Fashion-MNIST, compiled with Adam, sparse categorical cross-entropy from
 * logits and accuracy, trained with fit (Keras's progress bar), evaluated
 * on the test set, and one prediction.
 *
 *   keras_fit [--epochs N]        (default 5, as the tutorial)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrain/ctrain.h"

static void die(const char *what) {
    fprintf(stderr, "keras_fit: %s: %s\n", what, ct_last_error());
    exit(1);
}

int main(int argc, char **argv) {
    int epochs = 5;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = atoi(argv[++i]);
    ct_set_random_seed(42);
    ct_scope_begin();

    ct_tensor *x8, *y, *xt8, *yt;
    if (ct_load_fashion_mnist(NULL, &x8, &y, &xt8, &yt)) die("loading Fashion-MNIST");
    ct_tensor *x = ct_multiply(ct_cast(x8, CT_FLOAT32), ct_scalar(1.0f / 255));
    ct_tensor *xt = ct_multiply(ct_cast(xt8, CT_FLOAT32), ct_scalar(1.0f / 255));

    ct_model *model = ct_sequential_new(NULL);
    ct_sequential_add(model, ct_layer_new("Flatten", "{\"input_shape\": [28, 28]}"));
    ct_sequential_add(model, ct_layer_new("Dense", "{\"units\": 128, \"activation\": \"relu\"}"));
    ct_sequential_add(model, ct_layer_new("Dense", "{\"units\": 10}"));
    if (!model || ct_model_num_layers(model) != 3) die("the model");
    ct_model_summary(model, stdout);

    const char *metrics[] = {"accuracy"};
    if (ct_model_compile(model, &(ct_compile_opts){
                                    .optimizer = "adam",
                                    .loss_obj = ct_loss_new("SparseCategoricalCrossentropy",
                                                            &(ct_loss_opts){.from_logits = true}),
                                    .nmetrics = 1,
                                    .metrics = metrics}))
        die("compile");
    ct_history *h = ct_model_fit(model, &(ct_fit_opts){.x = x, .y = y, .epochs = epochs});
    if (!h) die("fit");

    ct_logs *res;
    if (ct_model_evaluate(model, &(ct_eval_opts){.x = xt, .y = yt, .verbose = CT_VERBOSE_EPOCH},
                          &res))
        die("evaluate");
    printf("test accuracy: %.4f\n", ct_logs_get(res, "accuracy", NULL));

    /* The first test image: the class with the largest logit. */
    ct_tensor *logits = ct_model_predict_on_batch(model, ct_slice(xt, (int64_t[]){0, 0, 0},
                                                                  (int64_t[]){1, 28, 28}));
    ct_tensor *cls = ct_argmax(logits, -1);
    if (!cls) die("predict");
    printf("first test image: predicted class %d, label %d\n", (int)ct_tensor_get(cls, 0),
           (int)ct_tensor_get(yt, 0));

    ct_logs_free(res);
    ct_history_free(h);
    ct_model_free(model);
    ct_scope_end();
    return 0;
}
