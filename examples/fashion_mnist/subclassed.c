/*
 * A subclassed model on Fashion-MNIST: the forward pass is a C function,
 * the way a Keras user subclasses keras.Model and writes call(). The
 * model has a residual block (x + Dense(Dense(x))) and a learned scale on
 * its logits, a bare variable made with ct_model_add_weight (the
 * tf.Module way). The model finds its layers and variables itself: no
 * list is kept by hand, and fit trains them all.
 *
 *   fashion_mnist_subclassed [--epochs N] [--steps N] [--verbose N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrain/ctrain.h"

static void die(const char *what) {
    fprintf(stderr, "fashion_mnist_subclassed: %s: %s\n", what, ct_last_error());
    exit(1);
}

/* The model's state: its layers and its one variable (made at the first
 * call, when the model is built). */
typedef struct {
    ct_layer *flatten, *embed, *block1, *block2, *logits;
    ct_variable *scale;
} residual_mlp;

static ct_tensor *residual_call(ct_model *self, void *ctx, int n, ct_tensor *const *inputs,
                                bool training) {
    (void)n;
    residual_mlp *p = ctx;
    if (!p->scale && !(p->scale = ct_model_add_weight(self, "scale", 0, NULL, "ones", true)))
        return NULL;
    ct_tensor *x = ct_layer_call(p->embed, ct_layer_call(p->flatten, inputs[0], training), training);
    ct_tensor *r = ct_layer_call(p->block2, ct_layer_call(p->block1, x, training), training);
    x = ct_relu(ct_add(x, r));
    return ct_multiply(ct_layer_call(p->logits, x, training), ct_variable_value(p->scale));
}

static void residual_free(void *ctx) {
    residual_mlp *p = ctx;
    ct_layer_free(p->flatten);
    ct_layer_free(p->embed);
    ct_layer_free(p->block1);
    ct_layer_free(p->block2);
    ct_layer_free(p->logits);
    free(p);
}

int main(int argc, char **argv) {
    int epochs = 2, verbose = CT_VERBOSE_AUTO;
    int64_t steps = 0;
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--epochs")) epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps")) steps = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--verbose")) verbose = atoi(argv[++i]);
    }
    ct_set_random_seed(42);
    ct_scope_begin();

    ct_tensor *x8, *y, *xt8, *yt;
    if (ct_load_fashion_mnist(NULL, &x8, &y, &xt8, &yt)) die("loading Fashion-MNIST");
    ct_tensor *x = ct_multiply(ct_cast(x8, CT_FLOAT32), ct_scalar(1.0f / 255));
    ct_tensor *xt = ct_multiply(ct_cast(xt8, CT_FLOAT32), ct_scalar(1.0f / 255));

    residual_mlp *p = calloc(1, sizeof *p);
    if (!p) die("out of memory");
    p->flatten = ct_layer_new("Flatten", NULL);
    p->embed = ct_layer_new("Dense", "{\"units\": 128, \"activation\": \"relu\"}");
    p->block1 = ct_layer_new("Dense", "{\"units\": 128, \"activation\": \"relu\"}");
    p->block2 = ct_layer_new("Dense", "{\"units\": 128}");
    p->logits = ct_layer_new("Dense", "{\"units\": 10}");
    ct_model *model = ct_model_subclass_new("ResidualMLP", NULL, residual_call, p, residual_free);
    if (!model || !p->flatten || !p->embed || !p->block1 || !p->block2 || !p->logits)
        die("the model");

    /* Keras builds a subclassed model by calling it on the input shape. */
    if (ct_model_build(model, 3, (int64_t[]){-1, 28, 28})) die("build");
    ct_model_summary(model, stdout);

    if (ct_model_compile(model, &(ct_compile_opts){
                                    .optimizer = "adam",
                                    .loss_obj = ct_loss_new("SparseCategoricalCrossentropy",
                                                            &(ct_loss_opts){.from_logits = true}),
                                    .nmetrics = 1,
                                    .metrics = (const char *[]){"accuracy"}}))
        die("compile");
    ct_history *h = ct_model_fit(model, &(ct_fit_opts){.x = x, .y = y, .batch_size = 128,
                                                       .epochs = epochs, .steps_per_epoch = steps,
                                                       .verbose = verbose});
    if (!h) die("fit");

    ct_logs *res;
    if (ct_model_evaluate(model, &(ct_eval_opts){.x = xt, .y = yt, .batch_size = 256,
                                                 .verbose = CT_VERBOSE_SILENT},
                          &res))
        die("evaluate");
    printf("layers tracked: %d, weights: %d, logit scale: %.3f\n", ct_model_num_layers(model),
           ct_layer_num_weights(ct_model_layer(model)),
           ct_tensor_get(ct_variable_value(p->scale), 0));
    printf("test accuracy: %.4f\n", ct_logs_get(res, "accuracy", NULL));

    ct_logs_free(res);
    ct_history_free(h);
    ct_model_free(model);
    ct_scope_end();
    return 0;
}
