/*
 * The Functional API on Fashion-MNIST: a model with two inputs and two
 * outputs, as a Keras user writes it with keras.Input and layer(x).
 *
 *   inputs:  the image [28, 28, 1] and four hand-made features (the mean
 *            brightness of each quadrant)
 *   outputs: "item", the class (10 logits), and "footwear", whether the
 *            item is a sandal, a sneaker or an ankle boot (a sigmoid)
 *
 * The two losses are weighted (1.0 and 0.5), each output has its own
 * metric, and the logs show tf.keras 2's per-output keys (item_loss,
 * footwear_accuracy, ...).
 *
 *   fashion_mnist_functional [--epochs N] [--steps N] [--verbose N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrain/ctrain.h"

static void die(const char *what) {
    fprintf(stderr, "fashion_mnist_functional: %s: %s\n", what, ct_last_error());
    exit(1);
}

/* A layer from its Keras class and config. */
static ct_layer *layer(const char *cls, const char *config) { return ct_layer_new(cls, config); }

/* The images as float [n, 28, 28, 1] in [0, 1], the quadrant means
 * [n, 4], and whether the label is footwear (5, 7, 9) as float [n, 1]. */
static void prepare(ct_tensor *images8, ct_tensor *labels, ct_tensor **img, ct_tensor **quad,
                    ct_tensor **footwear) {
    int64_t n = ct_tensor_dim(images8, 0);
    *img = ct_reshape(ct_multiply(ct_cast(images8, CT_FLOAT32), ct_scalar(1.0f / 255)),
                      CT_DIMS(n, 28, 28, 1));
    /* [n, 2, 14, 2, 14] -> mean over the 14x14 blocks -> [n, 4]. */
    ct_tensor *blocks = ct_reshape(*img, CT_DIMS(n, 2, 14, 2, 14));
    *quad = ct_reshape(ct_reduce_mean(blocks, CT_AXES(2, 4), false), CT_DIMS(n, 4));
    ct_tensor *l = ct_cast(labels, CT_INT32);
    ct_tensor *is = ct_logical_or(ct_equal(l, ct_scalar_of(CT_INT32, 5)),
                                  ct_logical_or(ct_equal(l, ct_scalar_of(CT_INT32, 7)),
                                                ct_equal(l, ct_scalar_of(CT_INT32, 9))));
    *footwear = ct_reshape(ct_cast(is, CT_FLOAT32), CT_DIMS(n, 1));
    if (!*img || !*quad || !*footwear) die("preparing the data");
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
    ct_tensor *img, *quad, *foot, *timg, *tquad, *tfoot;
    prepare(x8, y, &img, &quad, &foot);
    prepare(xt8, yt, &timg, &tquad, &tfoot);

    /* The graph: a conv branch for the image, a dense one for the
     * features, joined. */
    ct_graph *g = ct_graph_new();
    ct_ktensor *image = ct_input(g, 3, (int64_t[]){28, 28, 1}, CT_FLOAT32, "image");
    ct_ktensor *features = ct_input(g, 1, (int64_t[]){4}, CT_FLOAT32, "quadrants");
    ct_ktensor *x = ct_apply(layer("Conv2D", "{\"filters\": 16, \"kernel_size\": 3, "
                                             "\"activation\": \"relu\"}"),
                             image);
    x = ct_apply(layer("MaxPooling2D", NULL), x);
    x = ct_apply(layer("Flatten", NULL), x);
    ct_ktensor *f = ct_apply(layer("Dense", "{\"units\": 8, \"activation\": \"relu\"}"), features);
    ct_ktensor *joined = ct_apply_n(layer("Concatenate", NULL), 2, (ct_ktensor *[]){x, f});
    ct_ktensor *h = ct_apply(layer("Dense", "{\"units\": 64, \"activation\": \"relu\"}"), joined);
    ct_ktensor *outputs[2] = {
        ct_apply(layer("Dense", "{\"units\": 10, \"name\": \"item\"}"), h),
        ct_apply(layer("Dense", "{\"units\": 1, \"activation\": \"sigmoid\", "
                                "\"name\": \"footwear\"}"),
                 h),
    };
    ct_model *model = ct_functional_new("two_in_two_out", 2, (ct_ktensor *[]){image, features},
                                        2, outputs);
    ct_graph_free(g);
    if (!model) die("the model");
    ct_model_summary(model, stdout);

    /* One loss and one metric per output. */
    ct_output_metrics metrics[2] = {
        {.output = "item", .nmetrics = 1, .metrics = (const char *[]){"accuracy"}},
        {.output = "footwear", .nmetrics = 1, .metrics = (const char *[]){"accuracy"}},
    };
    if (ct_model_compile(model,
                         &(ct_compile_opts){
                             .optimizer = "adam",
                             .nlosses = 2,
                             .loss_objs = (ct_loss *[]){ct_loss_new(
                                                            "SparseCategoricalCrossentropy",
                                                            &(ct_loss_opts){.from_logits = true}),
                                                        ct_loss_new("binary_crossentropy", NULL)},
                             .loss_weights = (double[]){1.0, 0.5},
                             .noutput_metrics = 2,
                             .output_metrics = metrics}))
        die("compile");

    const ct_tensor *train_x[2] = {img, quad}, *train_y[2] = {y, foot};
    const ct_tensor *test_x[2] = {timg, tquad}, *test_y[2] = {yt, tfoot};
    ct_history *hist = ct_model_fit(model, &(ct_fit_opts){.nx = 2, .xs = train_x, .ny = 2,
                                                          .ys = train_y, .batch_size = 128,
                                                          .epochs = epochs,
                                                          .steps_per_epoch = steps,
                                                          .verbose = verbose});
    if (!hist) die("fit");

    ct_logs *res;
    if (ct_model_evaluate(model, &(ct_eval_opts){.nx = 2, .xs = test_x, .ny = 2, .ys = test_y,
                                                 .batch_size = 256,
                                                 .verbose = CT_VERBOSE_SILENT},
                          &res))
        die("evaluate");
    printf("test item accuracy: %.4f, footwear accuracy: %.4f\n",
           ct_logs_get(res, "item_accuracy", NULL), ct_logs_get(res, "footwear_accuracy", NULL));

    ct_logs_free(res);
    ct_history_free(hist);
    ct_model_free(model);
    ct_scope_end();
    return 0;
}
