/* The Functional API: keras.Input, layers applied to symbolic tensors,
 * keras.Model(inputs, outputs) with several inputs and outputs, shared
 * layers, residual connections and nested models; calls, the JSON config
 * both ways (tf.keras 2, Keras 3 and TF.js forms), model.summary() and the
 * errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"
#include "support.h"

TestSuite(functional, .init = ct_test_layer_begin, .fini = ct_test_end);

/* ---- helpers -------------------------------------------------------------------------------- */

static ct_ktensor *input(ct_graph *g, int64_t width, const char *name) {
    ct_ktensor *t = ct_input(g, 1, (int64_t[]){width}, CT_FLOAT32, name);
    cr_assert_not_null(t, "%s", ct_last_error());
    return t;
}

static ct_ktensor *dense(ct_ktensor *x, int units, const char *extra) {
    char cfg[256];
    snprintf(cfg, sizeof cfg, "{\"units\": %d%s}", units, extra ? extra : "");
    return ct_apply(ct_test_layer("Dense", cfg), x);
}

static char *summary_text(const ct_model *m) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    ct_status st = ct_model_summary(m, f);
    fclose(f);
    cr_assert_eq(st, CT_OK, "%s", ct_last_error());
    return buf;
}

static char *to_json(const ct_model *m) {
    char *s = ct_model_to_json(m);
    cr_assert_not_null(s, "%s", ct_last_error());
    return s;
}

static void expect_has(const char *text, const char *fragment) {
    cr_expect(strstr(text, fragment) != NULL, "\"%s\" not in %s", fragment, text);
}

/* Fills every weight of m with a test pattern. */
static void fill_weights(ct_model *m) {
    ct_layer *l = ct_model_layer(m);
    for (int i = 0; i < ct_layer_num_weights(l); i++) free(ct_test_fill_weight(l, i, i + 1));
}

static void copy_weights(ct_model *a, ct_model *b) {
    ct_layer *la = ct_model_layer(a), *lb = ct_model_layer(b);
    cr_assert_eq(ct_layer_num_weights(la), ct_layer_num_weights(lb));
    for (int i = 0; i < ct_layer_num_weights(la); i++)
        ct_test_set_weight(lb, i, ct_variable_value(ct_layer_weight(la, i)));
}

static void expect_close(const ct_tensor *a, const ct_tensor *b, double tol) {
    CT_OK(a);
    CT_OK(b);
    double *va = ct_test_read_all(a);
    ct_expect(b, ct_tensor_dtype(a), ct_tensor_rank(a), ct_tensor_shape(a), va, tol);
    free(va);
}

/* The two-input model of specs/keras_h5.md §5.5. */
static ct_model *two_input_model(void) {
    ct_graph *g = ct_graph_new();
    ct_ktensor *a = input(g, 4, "input_a"), *b = input(g, 6, "input_b");
    ct_ktensor *ha = dense(a, 8, ", \"activation\": \"relu\""), *hb = dense(b, 8, ", \"activation\": \"relu\"");
    ct_ktensor *c = ct_apply_n(ct_test_layer("Concatenate", NULL), 2, (ct_ktensor *[]){ha, hb});
    ct_ktensor *out = dense(c, 1, ", \"activation\": \"sigmoid\"");
    ct_model *m = ct_functional_new(NULL, 2, (ct_ktensor *[]){a, b}, 1, &out);
    ct_graph_free(g);
    cr_assert_not_null(m, "%s", ct_last_error());
    return m;
}

static const char SPEC_TWO_INPUT[] =
    "{\"class_name\": \"Functional\", \"config\": {\"name\": \"model\", \"layers\": ["
    "{\"class_name\": \"InputLayer\", \"name\": \"input_a\", \"inbound_nodes\": [],"
    " \"config\": {\"batch_input_shape\": [null, 4], \"dtype\": \"float32\", \"sparse\": false,"
    " \"ragged\": false, \"name\": \"input_a\"}},"
    "{\"class_name\": \"InputLayer\", \"name\": \"input_b\", \"inbound_nodes\": [],"
    " \"config\": {\"batch_input_shape\": [null, 6], \"dtype\": \"float32\", \"sparse\": false,"
    " \"ragged\": false, \"name\": \"input_b\"}},"
    "{\"class_name\": \"Dense\", \"name\": \"dense\", \"inbound_nodes\": [[[\"input_a\", 0, 0, {}]]],"
    " \"config\": {\"name\": \"dense\", \"trainable\": true, \"dtype\": \"float32\", \"units\": 8,"
    " \"activation\": \"relu\", \"use_bias\": true,"
    " \"kernel_initializer\": {\"class_name\": \"GlorotUniform\", \"config\": {\"seed\": null}},"
    " \"bias_initializer\": {\"class_name\": \"Zeros\", \"config\": {}},"
    " \"kernel_regularizer\": null, \"bias_regularizer\": null, \"activity_regularizer\": null,"
    " \"kernel_constraint\": null, \"bias_constraint\": null}},"
    "{\"class_name\": \"Dense\", \"name\": \"dense_1\", \"inbound_nodes\": [[[\"input_b\", 0, 0, {}]]],"
    " \"config\": {\"name\": \"dense_1\", \"trainable\": true, \"dtype\": \"float32\", \"units\": 8,"
    " \"activation\": \"relu\", \"use_bias\": true,"
    " \"kernel_initializer\": {\"class_name\": \"GlorotUniform\", \"config\": {\"seed\": null}},"
    " \"bias_initializer\": {\"class_name\": \"Zeros\", \"config\": {}},"
    " \"kernel_regularizer\": null, \"bias_regularizer\": null, \"activity_regularizer\": null,"
    " \"kernel_constraint\": null, \"bias_constraint\": null}},"
    "{\"class_name\": \"Concatenate\", \"name\": \"concatenate\","
    " \"inbound_nodes\": [[[\"dense\", 0, 0, {}], [\"dense_1\", 0, 0, {}]]],"
    " \"config\": {\"name\": \"concatenate\", \"trainable\": true, \"dtype\": \"float32\", \"axis\": -1}},"
    "{\"class_name\": \"Dense\", \"name\": \"dense_2\", \"inbound_nodes\": [[[\"concatenate\", 0, 0, {}]]],"
    " \"config\": {\"name\": \"dense_2\", \"trainable\": true, \"dtype\": \"float32\", \"units\": 1,"
    " \"activation\": \"sigmoid\", \"use_bias\": true,"
    " \"kernel_initializer\": {\"class_name\": \"GlorotUniform\", \"config\": {\"seed\": null}},"
    " \"bias_initializer\": {\"class_name\": \"Zeros\", \"config\": {}},"
    " \"kernel_regularizer\": null, \"bias_regularizer\": null, \"activity_regularizer\": null,"
    " \"kernel_constraint\": null, \"bias_constraint\": null}}],"
    " \"input_layers\": [[\"input_a\", 0, 0], [\"input_b\", 0, 0]],"
    " \"output_layers\": [[\"dense_2\", 0, 0]]}}";

/* ---- building and calling ------------------------------------------------------------------ */

Test(functional, two_inputs_build_layers_in_keras_order_and_call) {
    ct_model *m = two_input_model();
    cr_expect_str_eq(ct_model_name(m), "model");
    cr_expect_eq(ct_model_num_inputs(m), 2);
    cr_expect_eq(ct_model_num_outputs(m), 1);
    cr_expect_str_eq(ct_model_input_name(m, 1), "input_b");
    cr_expect_str_eq(ct_model_output_name(m, 0), "dense_2");
    const char *want[] = {"input_a", "input_b", "dense", "dense_1", "concatenate", "dense_2"};
    cr_assert_eq(ct_model_num_layers(m), 6);
    for (int i = 0; i < 6; i++) cr_expect_str_eq(ct_layer_name(ct_model_layer_at(m, i)), want[i]);
    /* Weights: dense (4x8 + 8), dense_1 (6x8 + 8), dense_2 (16x1 + 1). */
    cr_expect_eq(ct_layer_num_weights(ct_model_layer(m)), 6);
    fill_weights(m);
    ct_tensor *a = ct_test_pattern(CT_FLOAT32, CT_DIMS(3, 4), 1, NULL);
    ct_tensor *b = ct_test_pattern(CT_FLOAT32, CT_DIMS(3, 6), 2, NULL);
    ct_tensor *y;
    CT_STATUS_OK(ct_model_call_multi(m, 2, (ct_tensor *[]){a, b}, false, 1, &y));
    cr_expect_eq(ct_tensor_dim(y, 0), 3);
    cr_expect_eq(ct_tensor_dim(y, 1), 1);
    /* The same by hand, layer by layer. */
    ct_tensor *ha = ct_layer_call(ct_model_get_layer(m, "dense"), a, false);
    ct_tensor *hb = ct_layer_call(ct_model_get_layer(m, "dense_1"), b, false);
    ct_tensor *c = ct_concat(2, (ct_tensor *[]){ha, hb}, -1);
    expect_close(ct_layer_call(ct_model_get_layer(m, "dense_2"), c, false), y, 1e-6);
    ct_model_free(m);
}

Test(functional, a_shared_layer_has_one_set_of_weights_and_two_nodes) {
    ct_graph *g = ct_graph_new();
    ct_ktensor *a = input(g, 5, NULL), *b = input(g, 5, NULL);
    ct_layer *shared = ct_test_layer("Dense", "{\"units\": 3, \"name\": \"shared\"}");
    ct_ktensor *ya = ct_apply(shared, a);
    ct_ktensor *yb = ct_apply(shared, b); /* the graph holds it already */
    ct_ktensor *sum = ct_apply_n(ct_test_layer("Add", NULL), 2, (ct_ktensor *[]){ya, yb});
    ct_model *m = ct_functional_new("siamese", 2, (ct_ktensor *[]){a, b}, 1, &sum);
    ct_graph_free(g);
    cr_assert_not_null(m, "%s", ct_last_error());
    cr_expect_str_eq(ct_model_input_name(m, 0), "input_1");
    cr_expect_str_eq(ct_model_input_name(m, 1), "input_2");
    cr_expect_eq(ct_layer_num_weights(ct_model_layer(m)), 2);
    cr_expect_eq(ct_model_num_layers(m), 4);
    char *js = to_json(m);
    expect_has(js, "\"inbound_nodes\":[[[\"input_1\",0,0,{}]],[[\"input_2\",0,0,{}]]]");
    expect_has(js, "\"inbound_nodes\":[[[\"shared\",0,0,{}],[\"shared\",1,0,{}]]]");
    /* A round trip keeps the sharing. */
    ct_model *back = ct_model_from_json(js);
    cr_assert_not_null(back, "%s", ct_last_error());
    cr_expect_eq(ct_layer_num_weights(ct_model_layer(back)), 2);
    char *js2 = to_json(back);
    cr_expect_str_eq(js2, js);
    fill_weights(m);
    copy_weights(m, back);
    ct_tensor *x1 = ct_test_pattern(CT_FLOAT32, CT_DIMS(2, 5), 1, NULL);
    ct_tensor *x2 = ct_test_pattern(CT_FLOAT32, CT_DIMS(2, 5), 3, NULL);
    ct_tensor *y1, *y2;
    CT_STATUS_OK(ct_model_call_multi(m, 2, (ct_tensor *[]){x1, x2}, false, 1, &y1));
    CT_STATUS_OK(ct_model_call_multi(back, 2, (ct_tensor *[]){x1, x2}, false, 1, &y2));
    expect_close(y1, y2, 0);
    free(js);
    free(js2);
    ct_model_free(back);
    ct_model_free(m);
}

Test(functional, a_shared_layer_adds_the_activity_losses_of_both_calls) {
    ct_graph *g = ct_graph_new();
    ct_ktensor *a = input(g, 2, "a"), *b = input(g, 2, "b");
    ct_layer *shared = ct_test_layer(
        "Dense", "{\"units\": 1, \"name\": \"s\", \"use_bias\": false, "
                 "\"kernel_initializer\": \"ones\", \"activity_regularizer\": "
                 "{\"class_name\": \"L1\", \"config\": {\"l1\": 1.0}}}");
    ct_ktensor *sum = ct_apply_n(ct_test_layer("Add", NULL), 2,
                                 (ct_ktensor *[]){ct_apply(shared, a), ct_apply(shared, b)});
    ct_model *m = ct_functional_new("m", 2, (ct_ktensor *[]){a, b}, 1, &sum);
    ct_graph_free(g);
    cr_assert_not_null(m, "%s", ct_last_error());
    ct_tensor *xa = CT_F32(CT_DIMS(1, 2), 1, 2), *xb = CT_F32(CT_DIMS(1, 2), 3, 4);
    ct_tensor *y;
    CT_STATUS_OK(ct_model_call_multi(m, 2, (ct_tensor *[]){xa, xb}, true, 1, &y));
    /* |1 + 2| + |3 + 4| from the two calls, as Keras's model.losses. */
    cr_expect_float_eq(ct_item(ct_layer_regularization_loss(ct_model_layer(m))), 10.0, 1e-6);
    /* A new pass starts afresh. */
    CT_STATUS_OK(ct_model_call_multi(m, 2, (ct_tensor *[]){xa, xa}, true, 1, &y));
    cr_expect_float_eq(ct_item(ct_layer_regularization_loss(ct_model_layer(m))), 6.0, 1e-6);
    ct_model_free(m);
}

Test(functional, a_residual_block_and_several_outputs) {
    ct_graph *g = ct_graph_new();
    ct_ktensor *x = input(g, 4, "x");
    ct_ktensor *h = dense(x, 4, ", \"activation\": \"relu\", \"name\": \"h\"");
    ct_ktensor *r = ct_apply_n(ct_test_layer("Add", "{\"name\": \"residual\"}"), 2,
                               (ct_ktensor *[]){x, h});
    ct_ktensor *outs[2] = {dense(r, 2, ", \"name\": \"head_a\""), dense(r, 1, ", \"name\": \"head_b\"")};
    ct_model *m = ct_functional_new("two_heads", 1, &x, 2, outs);
    ct_graph_free(g);
    cr_assert_not_null(m, "%s", ct_last_error());
    cr_expect_eq(ct_model_num_outputs(m), 2);
    cr_expect_str_eq(ct_model_output_name(m, 1), "head_b");
    fill_weights(m);
    ct_tensor *in = ct_test_pattern(CT_FLOAT32, CT_DIMS(3, 4), 1, NULL);
    ct_tensor *y[2];
    CT_STATUS_OK(ct_model_call_multi(m, 1, &in, false, 2, y));
    cr_expect_eq(ct_tensor_dim(y[0], 1), 2);
    cr_expect_eq(ct_tensor_dim(y[1], 1), 1);
    ct_tensor *hh = ct_layer_call(ct_model_get_layer(m, "h"), in, false);
    ct_tensor *rr = ct_add(in, hh);
    expect_close(ct_layer_call(ct_model_get_layer(m, "head_b"), rr, false), y[1], 1e-6);
    /* A model with two outputs is no single-output layer. */
    CT_FAILS(ct_model_call(m, in, false), "has 2 outputs");
    ct_model_free(m);
}

Test(functional, models_nest_as_layers) {
    /* A Sequential and a Functional used inside another Functional. */
    ct_model *inner = ct_sequential_new("inner");
    CT_STATUS_OK(ct_sequential_add(inner, ct_test_layer("Dense", "{\"units\": 3, \"input_shape\": [4]}")));
    ct_graph *g = ct_graph_new();
    ct_ktensor *x = input(g, 4, "x");
    ct_ktensor *h = ct_apply(ct_model_layer(inner), x);
    ct_ktensor *y = dense(h, 2, NULL);
    ct_model *mid = ct_functional_new("mid", 1, &x, 1, &y);
    ct_graph_free(g);
    cr_assert_not_null(mid, "%s", ct_last_error());
    g = ct_graph_new();
    ct_ktensor *z = input(g, 4, "z");
    ct_ktensor *w = ct_apply(ct_model_layer(mid), z);
    ct_model *outer = ct_functional_new("outer", 1, &z, 1, &w);
    ct_graph_free(g);
    cr_assert_not_null(outer, "%s", ct_last_error());
    cr_expect_eq(ct_layer_num_weights(ct_model_layer(outer)), 4);
    char *js = to_json(outer);
    /* Keras counts a nested model's construction as its node 0. */
    expect_has(js, "\"inbound_nodes\":[[[\"z\",0,0,{}]]]");
    expect_has(js, "\"output_layers\":[[\"mid\",1,0]]");
    ct_model *back = ct_model_from_json(js);
    cr_assert_not_null(back, "%s", ct_last_error());
    char *js2 = to_json(back);
    cr_expect_str_eq(js2, js);
    fill_weights(outer);
    copy_weights(outer, back);
    ct_tensor *in = ct_test_pattern(CT_FLOAT32, CT_DIMS(2, 4), 1, NULL);
    expect_close(ct_model_call(outer, in, false), ct_model_call(back, in, false), 0);
    free(js);
    free(js2);
    ct_model_free(back);
    ct_model_free(outer);
}

Test(functional, trains_on_a_batch) {
    ct_graph *g = ct_graph_new();
    ct_ktensor *x = input(g, 2, NULL);
    ct_ktensor *y = dense(dense(x, 8, ", \"activation\": \"tanh\""), 1, NULL);
    ct_model *m = ct_functional_new(NULL, 1, &x, 1, &y);
    ct_graph_free(g);
    cr_assert_not_null(m, "%s", ct_last_error());
    CT_STATUS_OK(ct_model_compile(m, &(ct_compile_opts){.optimizer = "adam", .loss = "mse"}));
    ct_tensor *xs = ct_constant((float[]){0, 0, 0, 1, 1, 0, 1, 1}, CT_FLOAT32, CT_DIMS(4, 2));
    ct_tensor *ys = ct_constant((float[]){0, 1, 1, 0}, CT_FLOAT32, CT_DIMS(4, 1));
    ct_logs *first = NULL, *last = NULL;
    CT_STATUS_OK(ct_model_train_on_batch(m, xs, ys, NULL, &first));
    for (int i = 0; i < 50; i++) {
        ct_logs_free(last);
        last = NULL;
        CT_STATUS_OK(ct_model_train_on_batch(m, xs, ys, NULL, &last));
    }
    cr_expect_lt(ct_logs_get(last, "loss", NULL), ct_logs_get(first, "loss", NULL));
    ct_logs_free(first);
    ct_logs_free(last);
    ct_model_free(m);
}

/* ---- configs ------------------------------------------------------------------------------- */

Test(functional, reads_the_tf_keras_2_two_input_config_and_writes_it_back) {
    ct_model *m = ct_model_from_json(SPEC_TWO_INPUT);
    cr_assert_not_null(m, "%s", ct_last_error());
    cr_expect_eq(ct_model_num_inputs(m), 2);
    cr_expect_eq(ct_model_num_layers(m), 6);
    cr_expect_eq(ct_tensor_dim(ct_variable_value(ct_layer_weight(ct_model_layer(m), 4)), 0), 16);
    char *js = to_json(m);
    expect_has(js, "\"class_name\":\"Functional\"");
    expect_has(js, "\"input_layers\":[[\"input_a\",0,0],[\"input_b\",0,0]]");
    expect_has(js, "\"name\":\"concatenate\",\"inbound_nodes\":[[[\"dense\",0,0,{}],[\"dense_1\",0,0,{}]]]");
    /* Our own model of the same shape writes the same config. */
    ct_layer_reset_names();
    ct_model *ours = two_input_model();
    char *js2 = to_json(ours);
    cr_expect_str_eq(js2, js);
    free(js);
    free(js2);
    ct_model_free(ours);
    ct_model_free(m);
}

Test(functional, reads_keras_3_and_tfjs_forms) {
    /* Keras 3: inbound nodes as {"args", "kwargs"} with __keras_tensor__
     * objects; "module" / "registered_name" beside the class. */
    const char *k3 =
        "{\"module\": \"keras\", \"class_name\": \"Functional\", \"registered_name\": "
        "\"Functional\", \"config\": {\"name\": \"functional\", \"trainable\": true, \"layers\": ["
        "{\"module\": \"keras.layers\", \"class_name\": \"InputLayer\", \"config\": "
        "{\"batch_shape\": [null, 3], \"dtype\": \"float32\", \"sparse\": false, \"name\": "
        "\"input_layer\"}, \"registered_name\": null, \"name\": \"input_layer\", "
        "\"inbound_nodes\": []},"
        "{\"module\": \"keras.layers\", \"class_name\": \"Dense\", \"config\": {\"name\": "
        "\"dense\", \"trainable\": true, \"dtype\": {\"module\": \"keras\", \"class_name\": "
        "\"DTypePolicy\", \"config\": {\"name\": \"float32\"}, \"registered_name\": null}, "
        "\"units\": 2, \"activation\": \"linear\", \"use_bias\": true}, \"registered_name\": "
        "null, \"build_config\": {\"input_shape\": [null, 3]}, \"name\": \"dense\", "
        "\"inbound_nodes\": [{\"args\": [{\"class_name\": \"__keras_tensor__\", \"config\": "
        "{\"shape\": [null, 3], \"dtype\": \"float32\", \"keras_history\": [\"input_layer\", 0, "
        "0]}}], \"kwargs\": {}}]},"
        "{\"module\": \"keras.layers\", \"class_name\": \"Dense\", \"config\": {\"name\": "
        "\"dense_1\", \"units\": 1}, \"registered_name\": null, \"name\": \"dense_1\", "
        "\"inbound_nodes\": [{\"args\": [{\"class_name\": \"__keras_tensor__\", \"config\": "
        "{\"shape\": [null, 2], \"dtype\": \"float32\", \"keras_history\": [\"dense\", 0, 0]}}], "
        "\"kwargs\": {}}]}],"
        "\"input_layers\": [[\"input_layer\", 0, 0]], \"output_layers\": [[\"dense_1\", 0, 0]]},"
        "\"build_config\": {\"input_shape\": null}}";
    ct_model *m = ct_model_from_json(k3);
    cr_assert_not_null(m, "%s", ct_last_error());
    cr_expect_str_eq(ct_model_name(m), "functional");
    cr_expect_eq(ct_layer_num_weights(ct_model_layer(m)), 4);
    ct_model_free(m);
    /* TF.js: class "Model" under modelTopology. */
    const char *tfjs =
        "{\"format\": \"layers-model\", \"modelTopology\": {\"class_name\": \"Model\", "
        "\"config\": {\"name\": \"m\", \"layers\": [{\"class_name\": \"InputLayer\", \"name\": "
        "\"in\", \"inbound_nodes\": [], \"config\": {\"batch_input_shape\": [null, 2], \"dtype\": "
        "\"float32\", \"sparse\": false, \"name\": \"in\"}}, {\"class_name\": \"Dense\", "
        "\"name\": \"d\", \"inbound_nodes\": [[[\"in\", 0, 0, {}]]], \"config\": {\"name\": "
        "\"d\", \"units\": 3}}], \"input_layers\": [[\"in\", 0, 0]], \"output_layers\": "
        "[[\"d\", 0, 0]]}}, \"weightsManifest\": []}";
    m = ct_model_from_json(tfjs);
    cr_assert_not_null(m, "%s", ct_last_error());
    cr_expect_eq(ct_layer_num_weights(ct_model_layer(m)), 2);
    ct_model_free(m);
}

Test(functional, a_layer_shared_at_different_depths_loads) {
    /* a(b(a(x))): a's second node waits for b's node. */
    ct_graph *g = ct_graph_new();
    ct_ktensor *x = input(g, 3, "x");
    ct_layer *a = ct_test_layer("Dense", "{\"units\": 3, \"name\": \"a\"}");
    ct_ktensor *h = ct_apply(a, x);
    h = ct_apply(ct_test_layer("Dense", "{\"units\": 3, \"name\": \"b\"}"), h);
    h = ct_apply(a, h);
    ct_model *m = ct_functional_new("loop", 1, &x, 1, &h);
    ct_graph_free(g);
    cr_assert_not_null(m, "%s", ct_last_error());
    char *js = to_json(m);
    expect_has(js, "\"output_layers\":[[\"a\",1,0]]");
    ct_model *back = ct_model_from_json(js);
    cr_assert_not_null(back, "%s", ct_last_error());
    char *js2 = to_json(back);
    cr_expect_str_eq(js2, js);
    free(js);
    free(js2);
    ct_model_free(back);
    ct_model_free(m);
}

/* ---- summary ------------------------------------------------------------------------------- */

Test(functional, summary_of_a_chain_is_sequential_like) {
    ct_graph *g = ct_graph_new();
    ct_ktensor *x = input(g, 784, NULL);
    ct_ktensor *y = dense(dense(x, 64, NULL), 10, NULL);
    ct_model *m = ct_functional_new(NULL, 1, &x, 1, &y);
    ct_graph_free(g);
    cr_assert_not_null(m, "%s", ct_last_error());
    char *got = summary_text(m);
    const char *want =
        "Model: \"model\"\n"
        "_________________________________________________________________\n"
        " Layer (type)                Output Shape              Param #   \n"
        "=================================================================\n"
        " input_1 (InputLayer)        [(None, 784)]             0         \n"
        "                                                                 \n"
        " dense (Dense)               (None, 64)                50240     \n"
        "                                                                 \n"
        " dense_1 (Dense)             (None, 10)                650       \n"
        "                                                                 \n"
        "=================================================================\n"
        "Total params: 50,890\n"
        "Trainable params: 50,890\n"
        "Non-trainable params: 0\n"
        "_________________________________________________________________\n";
    cr_expect_str_eq(got, want, "got:\n%s", got);
    free(got);
    ct_model_free(m);
}

Test(functional, summary_with_connections) {
    ct_model *m = two_input_model();
    char *got = summary_text(m);
    const char *want =
        "Model: \"model\"\n"
        "__________________________________________________________________________________________________\n"
        " Layer (type)                   Output Shape         Param #     Connected to                     \n"
        "==================================================================================================\n"
        " input_a (InputLayer)           [(None, 4)]          0           []                               \n"
        "                                                                                                  \n"
        " input_b (InputLayer)           [(None, 6)]          0           []                               \n"
        "                                                                                                  \n"
        " dense (Dense)                  (None, 8)            40          ['input_a[0][0]']                \n"
        "                                                                                                  \n"
        " dense_1 (Dense)                (None, 8)            56          ['input_b[0][0]']                \n"
        "                                                                                                  \n"
        " concatenate (Concatenate)      (None, 16)           0           ['dense[0][0]',                  \n"
        "                                                                  'dense_1[0][0]']                \n"
        "                                                                                                  \n"
        " dense_2 (Dense)                (None, 1)            17          ['concatenate[0][0]']            \n"
        "                                                                                                  \n"
        "==================================================================================================\n"
        "Total params: 113\n"
        "Trainable params: 113\n"
        "Non-trainable params: 0\n"
        "__________________________________________________________________________________________________\n";
    cr_expect_str_eq(got, want, "got:\n%s", got);
    free(got);
    ct_model_free(m);
}

/* ---- errors -------------------------------------------------------------------------------- */

Test(functional, errors_name_the_layer_and_the_cause) {
    ct_graph *g = ct_graph_new();
    ct_ktensor *a = input(g, 4, "a"), *b = input(g, 5, "b");
    /* Shapes that do not fit: the layer and the shapes. */
    CT_FAILS(ct_apply_n(ct_test_layer("Add", "{\"name\": \"add\"}"), 2, (ct_ktensor *[]){a, b}),
             "Add 'add'");
    /* A shared layer applied to a new shape. */
    ct_layer *d = ct_test_layer("Dense", "{\"units\": 2, \"name\": \"d\"}");
    CT_OK(ct_apply(d, a));
    CT_FAILS(ct_apply(d, b), "was built for inputs of shape (None, 4), got (None, 5)");
    /* A NULL keeps the first error and ends in the model's. */
    ct_ktensor *bad = ct_apply(ct_layer_new("Dense", "{\"units\": 0}"), a);
    cr_expect_null(bad);
    ct_ktensor *after = ct_apply(ct_test_layer("Dense", "{\"units\": 1}"), bad);
    CT_FAILS(ct_functional_new("m", 1, &a, 1, &after), "units");
    /* Outputs that need an input the model does not have. */
    ct_ktensor *s = ct_apply_n(ct_test_layer("Concatenate", "{\"name\": \"cat\"}"), 2,
                               (ct_ktensor *[]){a, b});
    CT_OK(s);
    CT_FAILS(ct_functional_new("m", 1, &a, 1, &s), "Graph disconnected");
    /* An input that is not from ct_input. */
    CT_FAILS(ct_functional_new("m", 1, &s, 1, &s), "must come from ct_input");
    ct_graph_free(g);
    /* Configs: an unknown class named, a reference to no layer. */
    CT_FAILS(ct_model_from_json("{\"class_name\": \"Functional\", \"config\": {\"name\": \"m\","
                                " \"layers\": [{\"class_name\": \"Dense2\", \"name\": \"x\","
                                " \"config\": {}, \"inbound_nodes\": []}],"
                                " \"input_layers\": [], \"output_layers\": []}}"),
             "unknown layer class 'Dense2'");
    CT_FAILS(ct_model_from_json(
                 "{\"class_name\": \"Functional\", \"config\": {\"name\": \"m\", \"layers\": ["
                 "{\"class_name\": \"InputLayer\", \"name\": \"in\", \"inbound_nodes\": [],"
                 " \"config\": {\"batch_input_shape\": [null, 2], \"name\": \"in\"}},"
                 "{\"class_name\": \"Dense\", \"name\": \"d\", \"config\": {\"name\": \"d\","
                 " \"units\": 1}, \"inbound_nodes\": [[[\"nope\", 0, 0, {}]]]}],"
                 " \"input_layers\": [[\"in\", 0, 0]], \"output_layers\": [[\"d\", 0, 0]]}}"),
             "no layer named 'nope'");
    /* A call with the wrong input shape names the input. */
    ct_model *m = two_input_model();
    ct_tensor *x = ct_test_pattern(CT_FLOAT32, CT_DIMS(2, 4), 1, NULL);
    ct_tensor *y;
    cr_expect_neq(ct_model_call_multi(m, 2, (ct_tensor *[]){x, x}, false, 1, &y), CT_OK);
    cr_expect(strstr(ct_last_error(), "input 1 ('input_b')") != NULL, "%s", ct_last_error());
    ct_model_free(m);
}

/* ---- training with several inputs and outputs ------------------------------------------ */

/* Inputs a [n, 3] and b [n, 2]; head "cls" says whether sum(a) > sum(b)
 * (sigmoid), head "reg" is a . [1, -2, 0.5] + b . [3, 1] (linear). */
static ct_model *two_by_two(void) {
    ct_graph *g = ct_graph_new();
    ct_ktensor *a = input(g, 3, "a"), *b = input(g, 2, "b");
    ct_ktensor *ab = ct_apply_n(ct_test_layer("Concatenate", NULL), 2, (ct_ktensor *[]){a, b});
    ct_ktensor *h = dense(ab, 16, ", \"activation\": \"tanh\"");
    ct_ktensor *outs[2] = {dense(h, 1, ", \"activation\": \"sigmoid\", \"name\": \"cls\""),
                           dense(ab, 1, ", \"name\": \"reg\"")};
    ct_model *m = ct_functional_new("two_by_two", 2, (ct_ktensor *[]){a, b}, 2, outs);
    ct_graph_free(g);
    cr_assert_not_null(m, "%s", ct_last_error());
    return m;
}

typedef struct {
    ct_tensor *a, *b, *cls, *reg;
} two_data;

static two_data make_two_data(int64_t n) {
    ct_tensor *a = ct_random_normal(CT_DIMS(n, 3), &(ct_random_opts){.seed = 3});
    ct_tensor *b = ct_random_normal(CT_DIMS(n, 2), &(ct_random_opts){.seed = 4});
    ct_tensor *sa = ct_reduce_sum(a, CT_AXES(-1), true), *sb = ct_reduce_sum(b, CT_AXES(-1), true);
    ct_tensor *cls = ct_cast(ct_greater(sa, sb), CT_FLOAT32);
    ct_tensor *wa = ct_constant((float[]){1, -2, 0.5f}, CT_FLOAT32, CT_DIMS(3, 1));
    ct_tensor *wb = ct_constant((float[]){3, 1}, CT_FLOAT32, CT_DIMS(2, 1));
    ct_tensor *reg = ct_add(ct_matmul(a, wa), ct_matmul(b, wb));
    CT_OK(cls);
    CT_OK(reg);
    return (two_data){a, b, cls, reg};
}

Test(functional, fits_two_inputs_and_two_outputs) {
    ct_set_random_seed(7);
    ct_model *m = two_by_two();
    const char *losses[] = {"binary_crossentropy", "mse"};
    const char *cls_metrics[] = {"accuracy"};
    const char *all_metrics[] = {"mae"};
    ct_output_metrics om = {.output = "cls", .nmetrics = 1, .metrics = cls_metrics};
    CT_STATUS_OK(ct_model_compile(m, &(ct_compile_opts){
                                         .optimizer_obj = ct_optimizer_new(
                                             "adam", &(ct_optimizer_opts){.learning_rate = 0.02}),
                                         .nlosses = 2,
                                         .losses = losses,
                                         .loss_weights = (double[]){0.5, 2.0},
                                         .nmetrics = 1,
                                         .metrics = all_metrics,
                                         .noutput_metrics = 1,
                                         .output_metrics = &om}));
    two_data d = make_two_data(512);
    const ct_tensor *xs[2] = {d.a, d.b}, *ys[2] = {d.cls, d.reg};
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.nx = 2, .xs = xs, .ny = 2, .ys = ys,
                                                  .epochs = 40, .batch_size = 64,
                                                  .verbose = CT_VERBOSE_SILENT,
                                                  .validation_split = 0.25});
    cr_assert_not_null(h, "%s", ct_last_error());
    /* tf.keras 2's keys, in its order. */
    const char *keys[] = {"loss", "cls_loss", "reg_loss", "cls_mae", "cls_accuracy", "reg_mae",
                          "val_loss", "val_cls_loss", "val_reg_loss", "val_cls_mae",
                          "val_cls_accuracy", "val_reg_mae"};
    cr_assert_eq(ct_history_num_keys(h), 12);
    for (int i = 0; i < 12; i++) cr_expect_str_eq(ct_history_key(h, i), keys[i]);
    cr_expect_gt(ct_history_value(h, "val_cls_accuracy", 39), 0.9);
    cr_expect_lt(ct_history_value(h, "val_reg_loss", 39), 0.05);
    /* The total is the weighted sum (no regularization here). */
    ct_logs *r = NULL;
    CT_STATUS_OK(ct_model_test_on_batch_n(m, 2, xs, 2, ys, NULL, &r));
    double total = ct_logs_get(r, "loss", NULL);
    double want = 0.5 * ct_logs_get(r, "cls_loss", NULL) + 2.0 * ct_logs_get(r, "reg_loss", NULL);
    cr_expect_float_eq(total, want, 1e-5 * fabs(want) + 1e-7);
    ct_logs_free(r);
    /* predict gives both heads. */
    ct_tensor *p[2];
    CT_STATUS_OK(ct_model_predict_multi(m, &(ct_eval_opts){.nx = 2, .xs = xs, .batch_size = 100,
                                                           .verbose = CT_VERBOSE_SILENT},
                                        2, p));
    cr_expect_eq(ct_tensor_dim(p[0], 0), 512);
    cr_expect_eq(ct_tensor_dim(p[1], 1), 1);
    CT_FAILS(ct_model_predict(m, &(ct_eval_opts){.nx = 2, .xs = xs}), "ct_model_predict_multi");
    ct_history_free(h);
    ct_model_free(m);
}

Test(functional, fits_a_dataset_of_named_inputs) {
    ct_set_random_seed(7);
    ct_model *m = two_by_two();
    CT_STATUS_OK(ct_model_compile(m, &(ct_compile_opts){.optimizer = "adam",
                                                        .nlosses = 2,
                                                        .losses = (const char *[]){NULL, "mse"}}));
    two_data d = make_two_data(256);
    /* ({"a": a, "b": b}, reg) — with the unused head's target absent the
     * element needs both targets: give cls too. */
    ct_dataset *ds = ct_dataset_from_tensor_slices(&(ct_element){
        .n = 4, .t = {d.b, d.a, d.cls, d.reg}, .name = {"b", "a", NULL, NULL}});
    ds = ct_dataset_batch(ds, 32, false);
    CT_OK(ds);
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.dataset = ds, .epochs = 2,
                                                  .verbose = CT_VERBOSE_SILENT});
    cr_assert_not_null(h, "%s", ct_last_error());
    /* The untrained head has no loss key. */
    cr_expect_eq(ct_history_num_keys(h), 2);
    cr_expect_str_eq(ct_history_key(h, 1), "reg_loss");
    ct_history_free(h);
    /* An element that fits neither form is an error naming the forms. */
    ct_dataset *bad = ct_dataset_batch(
        ct_dataset_from_tensor_slices(&(ct_element){.n = 3, .t = {d.a, d.b, d.cls}}), 32, false);
    CT_FAILS(ct_model_fit(m, &(ct_fit_opts){.dataset = bad, .verbose = CT_VERBOSE_SILENT}),
             "has 2 inputs and 2 outputs: dataset elements must be");
    ct_dataset_free(bad);
    ct_dataset_free(ds);
    ct_model_free(m);
}

Test(functional, compile_errors_for_several_outputs) {
    ct_model *m = two_by_two();
    CT_FAILS_STATUS(ct_model_compile(m, &(ct_compile_opts){.nlosses = 1,
                                                           .losses = (const char *[]){"mse"}}),
                    "1 losses for a model with 2 outputs");
    CT_FAILS_STATUS(ct_model_compile(m, &(ct_compile_opts){
                                            .loss = "mse",
                                            .noutput_metrics = 1,
                                            .output_metrics = &(ct_output_metrics){
                                                .output = "nope", .nmetrics = 1,
                                                .metrics = (const char *[]){"mae"}}}),
                    "the outputs are ['cls', 'reg']");
    /* Objects handed over on a failed compile are freed (ASan checks). */
    CT_FAILS_STATUS(ct_model_compile(m, &(ct_compile_opts){
                                            .loss = "mse",
                                            .nmetric_objs = 1,
                                            .metric_objs = (ct_metric *[]){ct_metric_new("mae", NULL)}}),
                    "give metric objects per output");
    /* One loss for all outputs; missing targets are an error. */
    CT_STATUS_OK(ct_model_compile(m, &(ct_compile_opts){.loss = "mse"}));
    two_data d = make_two_data(8);
    const ct_tensor *xs[2] = {d.a, d.b};
    cr_expect_neq(ct_model_train_on_batch_n(m, 2, xs, 1, (const ct_tensor *[]){d.reg}, NULL, NULL),
                  CT_OK);
    cr_expect(strstr(ct_last_error(), "has 2 outputs, got 1 target array") != NULL, "%s",
              ct_last_error());
    ct_model_free(m);
}
