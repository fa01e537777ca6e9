/* Subclassed models: a C call function whose layers and variables the
 * model tracks (weights, fit, summary), a tf.Module-style model of bare
 * variables, nesting in a Functional graph, and the errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"
#include "support.h"

TestSuite(subclass, .init = ct_test_layer_begin, .fini = ct_test_end);

/* ---- an MLP as a Model subclass ---------------------------------------------------------- */

typedef struct {
    ct_layer *hidden, *out;
} mlp;

static ct_tensor *mlp_call(ct_model *self, void *ctx, int n, ct_tensor *const *x, bool training) {
    (void)self;
    (void)n;
    mlp *p = ctx;
    return ct_layer_call(p->out, ct_layer_call(p->hidden, x[0], training), training);
}

static void mlp_free(void *ctx) {
    mlp *p = ctx;
    ct_layer_free(p->hidden);
    ct_layer_free(p->out);
    free(p);
}

static ct_model *new_mlp(int hidden, int out, const char *out_activation) {
    mlp *p = calloc(1, sizeof *p);
    cr_assert_not_null(p);
    char cfg[128];
    snprintf(cfg, sizeof cfg, "{\"units\": %d, \"activation\": \"relu\"}", hidden);
    p->hidden = ct_test_layer("Dense", cfg);
    snprintf(cfg, sizeof cfg, "{\"units\": %d, \"activation\": \"%s\"}", out, out_activation);
    p->out = ct_test_layer("Dense", cfg);
    ct_model *m = ct_model_subclass_new("MLP", NULL, mlp_call, p, mlp_free);
    cr_assert_not_null(m, "%s", ct_last_error());
    return m;
}

Test(subclass, tracks_the_layers_its_call_uses_and_fits_to_full_accuracy) {
    ct_set_random_seed(3);
    ct_model *m = new_mlp(16, 1, "sigmoid");
    cr_expect_str_eq(ct_model_name(m), "mlp");
    cr_expect_eq(ct_layer_num_weights(ct_model_layer(m)), 0); /* not built yet */
    /* Two separable blobs: label 1 where x0 + x1 > 0. */
    ct_tensor *x = ct_random_normal(CT_DIMS(256, 2), &(ct_random_opts){.seed = 5});
    ct_tensor *y = ct_cast(ct_greater(ct_reduce_sum(x, CT_AXES(-1), true), ct_scalar(0)),
                           CT_FLOAT32);
    CT_OK(y);
    CT_STATUS_OK(ct_model_compile(m, &(ct_compile_opts){
                                         .optimizer_obj = ct_optimizer_new(
                                             "adam", &(ct_optimizer_opts){.learning_rate = 0.05}),
                                         .loss = "binary_crossentropy",
                                         .nmetrics = 1,
                                         .metrics = (const char *[]){"accuracy"}}));
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.x = x, .y = y, .epochs = 60,
                                                  .batch_size = 64,
                                                  .verbose = CT_VERBOSE_SILENT});
    cr_assert_not_null(h, "%s", ct_last_error());
    cr_expect_eq(ct_model_num_layers(m), 2);
    cr_expect_str_eq(ct_layer_name(ct_model_layer_at(m, 0)), "dense");
    cr_expect_eq(ct_layer_num_weights(ct_model_layer(m)), 4);
    ct_logs *r = NULL;
    CT_STATUS_OK(ct_model_evaluate(m, &(ct_eval_opts){.x = x, .y = y, .verbose = CT_VERBOSE_SILENT},
                                   &r));
    cr_expect_geq(ct_logs_get(r, "accuracy", NULL), 0.99);
    ct_logs_free(r);
    ct_history_free(h);
    ct_model_free(m);
}

Test(subclass, summary_and_config) {
    ct_model *m = new_mlp(4, 2, "linear");
    CT_STATUS_OK(ct_model_build(m, 2, (int64_t[]){-1, 3}));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CT_STATUS_OK(ct_model_summary(m, f));
    fclose(f);
    const char *want =
        "Model: \"mlp\"\n"
        "_________________________________________________________________\n"
        " Layer (type)                Output Shape              Param #   \n"
        "=================================================================\n"
        " dense (Dense)               multiple                  16        \n"
        "                                                                 \n"
        " dense_1 (Dense)             multiple                  10        \n"
        "                                                                 \n"
        "=================================================================\n"
        "Total params: 26\n"
        "Trainable params: 26\n"
        "Non-trainable params: 0\n"
        "_________________________________________________________________\n";
    cr_expect_str_eq(buf, want, "got:\n%s", buf);
    free(buf);
    CT_FAILS(ct_model_to_json(m), "is a subclassed model");
    ct_model_free(m);
}

/* ---- a tf.Module of bare variables --------------------------------------------------------- */

typedef struct {
    ct_variable *w, *b;
} linear;

static ct_tensor *linear_call(ct_model *self, void *ctx, int n, ct_tensor *const *x,
                              bool training) {
    (void)n;
    (void)training;
    linear *p = ctx;
    if (!p->w) {
        /* Made on the first call, from the input's width (Keras's build). */
        p->w = ct_model_add_weight(self, "w", 2, (int64_t[]){ct_tensor_dim(x[0], -1), 1}, "zeros",
                                   true);
        p->b = ct_model_add_weight(self, "b", 1, (int64_t[]){1}, "zeros", true);
        if (!p->w || !p->b) return NULL;
    }
    return ct_add(ct_matmul(x[0], ct_variable_value(p->w)), ct_variable_value(p->b));
}

Test(subclass, a_module_of_variables_learns_the_true_weights) {
    ct_set_random_seed(11);
    linear *p = calloc(1, sizeof *p);
    ct_model *m = ct_model_subclass_new("Linear", "linear", linear_call, p, free);
    cr_assert_not_null(m, "%s", ct_last_error());
    ct_tensor *x = ct_random_normal(CT_DIMS(200, 3), &(ct_random_opts){.seed = 2});
    ct_tensor *w = ct_constant((float[]){2, -1, 0.5f}, CT_FLOAT32, CT_DIMS(3, 1));
    ct_tensor *y = ct_add(ct_matmul(x, w), ct_scalar(0.25f));
    CT_STATUS_OK(ct_model_compile(m, &(ct_compile_opts){
                                         .optimizer_obj = ct_optimizer_new(
                                             "sgd", &(ct_optimizer_opts){.learning_rate = 0.1}),
                                         .loss = "mse"}));
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.x = x, .y = y, .epochs = 30,
                                                  .batch_size = 20,
                                                  .verbose = CT_VERBOSE_SILENT});
    cr_assert_not_null(h, "%s", ct_last_error());
    cr_expect_eq(ct_model_num_layers(m), 0);
    cr_expect_eq(ct_layer_num_weights(ct_model_layer(m)), 2);
    cr_expect_str_eq(ct_variable_name(ct_layer_weight(ct_model_layer(m), 0)), "linear/w");
    ct_expect(ct_variable_value(p->w), CT_FLOAT32, CT_DIMS(3, 1), (double[]){2, -1, 0.5}, 1e-3);
    ct_expect(ct_variable_value(p->b), CT_FLOAT32, CT_DIMS(1), (double[]){0.25}, 1e-3);
    ct_history_free(h);
    ct_model_free(m);
}

/* ---- nesting ------------------------------------------------------------------------------ */

typedef struct {
    ct_model *body; /* a Sequential the subclass calls */
} wrapper;

static ct_tensor *wrapper_call(ct_model *self, void *ctx, int n, ct_tensor *const *x,
                               bool training) {
    (void)self;
    (void)n;
    wrapper *p = ctx;
    return ct_relu(ct_model_call(p->body, x[0], training));
}

static void wrapper_free(void *ctx) {
    wrapper *p = ctx;
    ct_model_free(p->body);
    free(p);
}

Test(subclass, tracks_only_what_it_calls_directly_and_nests_in_a_graph) {
    wrapper *p = calloc(1, sizeof *p);
    p->body = ct_sequential_new("body");
    CT_STATUS_OK(ct_sequential_add(p->body, ct_test_layer("Dense", "{\"units\": 3}")));
    CT_STATUS_OK(ct_sequential_add(p->body, ct_test_layer("Dense", "{\"units\": 2}")));
    ct_model *w = ct_model_subclass_new("Wrapper", NULL, wrapper_call, p, wrapper_free);
    cr_assert_not_null(w, "%s", ct_last_error());
    /* Used as a layer of a Functional model: its output shape comes from
     * a dry run. */
    ct_graph *g = ct_graph_new();
    ct_ktensor *in = ct_input(g, 1, (int64_t[]){5}, CT_FLOAT32, "in");
    ct_ktensor *out = ct_apply(ct_layer_ref(ct_model_layer(w)), in);
    CT_OK(out);
    cr_expect_eq(ct_ktensor_rank(out), 2);
    cr_expect_eq(ct_ktensor_shape(out)[0], -1);
    cr_expect_eq(ct_ktensor_shape(out)[1], 2);
    ct_model *f = ct_functional_new("outer", 1, &in, 1, &out);
    ct_graph_free(g);
    cr_assert_not_null(f, "%s", ct_last_error());
    cr_expect_eq(ct_model_num_layers(w), 1); /* the Sequential, not its Dense layers */
    cr_expect_eq(ct_layer_num_weights(ct_model_layer(f)), 4);
    ct_tensor *x = ct_test_pattern(CT_FLOAT32, CT_DIMS(4, 5), 1, NULL);
    ct_tensor *y = ct_model_call(f, x, false);
    CT_OK(y);
    ct_tensor *direct = ct_model_call(w, x, false);
    double *a = ct_test_read_all(y);
    ct_expect(direct, CT_FLOAT32, CT_DIMS(4, 2), a, 0);
    free(a);
    ct_model_free(f);
    ct_model_free(w);
}

static ct_tensor *failing_call(ct_model *self, void *ctx, int n, ct_tensor *const *x,
                               bool training) {
    (void)self;
    (void)ctx;
    (void)n;
    (void)training;
    return ct_reshape(x[0], CT_DIMS(7, 7)); /* cannot fit */
}

Test(subclass, errors_name_the_model) {
    CT_FAILS(ct_model_subclass_new("X", NULL, NULL, NULL, NULL), "the call function is NULL");
    ct_model *m = ct_model_subclass_new("Broken", NULL, failing_call, NULL, NULL);
    CT_OK(m);
    CT_FAILS(ct_model_call(m, ct_ones(CT_FLOAT32, CT_DIMS(2, 3)), false), "Broken 'broken'");
    CT_FAILS(ct_model_add_weight(m, "w", 1, (int64_t[]){2}, "nope", true), "unknown initializer");
    ct_model_free(m);
}
