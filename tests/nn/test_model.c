/* keras.Sequential: building (from an input shape, on the first call, as
 * layers are added), calls, model.summary() text, the JSON config both
 * ways (tf.keras 2 and Keras 3 forms), nesting, weights, pop, get_layer
 * and the errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"
#include "support.h"

TestSuite(model, .init = ct_test_layer_begin, .fini = ct_test_end);

/* ---- helpers -------------------------------------------------------------------------------- */

static ct_model *new_model(const char *name) {
    ct_model *m = ct_sequential_new(name);
    cr_assert_not_null(m, "%s", ct_last_error());
    return m;
}

static void add(ct_model *m, const char *cls, const char *cfg) {
    CT_STATUS_OK(ct_sequential_add(m, ct_test_layer(cls, cfg)));
}

/* model.summary() as a string (malloc'ed). */
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

static void expect_summary(const ct_model *m, const char *want) {
    char *got = summary_text(m);
    cr_expect_str_eq(got, want, "got:\n%s\nwant:\n%s", got, want);
    free(got);
}

static char *to_json(const ct_model *m) {
    char *s = ct_model_to_json(m);
    cr_assert_not_null(s, "%s", ct_last_error());
    return s;
}

static void expect_has(const char *text, const char *fragment) {
    cr_expect(strstr(text, fragment) != NULL, "\"%s\" not in %s", fragment, text);
}

/* Copies a's weights into b (same architecture). */
static void copy_weights(ct_model *a, ct_model *b) {
    ct_layer *la = ct_model_layer(a), *lb = ct_model_layer(b);
    cr_assert_eq(ct_layer_num_weights(la), ct_layer_num_weights(lb));
    for (int i = 0; i < ct_layer_num_weights(la); i++)
        ct_test_set_weight(lb, i, ct_variable_value(ct_layer_weight(la, i)));
}

/* Fills every weight of m with a test pattern. */
static void fill_weights(ct_model *m) {
    ct_layer *l = ct_model_layer(m);
    for (int i = 0; i < ct_layer_num_weights(l); i++) free(ct_test_fill_weight(l, i, i + 1));
}

static void expect_same(const ct_tensor *a, const ct_tensor *b) {
    CT_OK(a);
    CT_OK(b);
    double *va = ct_test_read_all(a);
    ct_expect(b, ct_tensor_dtype(a), ct_tensor_rank(a), ct_tensor_shape(a), va, 0);
    free(va);
}

/* ---- construction and building ---------------------------------------------------------- */

Test(model, names_and_registry) {
    ct_model *a = new_model(NULL), *b = new_model(NULL), *c = new_model("net");
    cr_expect_str_eq(ct_model_name(a), "sequential");
    cr_expect_str_eq(ct_model_name(b), "sequential_1");
    cr_expect_str_eq(ct_model_name(c), "net");
    cr_expect_str_eq(ct_layer_class_name(ct_model_layer(a)), "Sequential");
    cr_expect_eq(ct__layer_lookup("Sequential"), ct_model_layer(a)->vt);
    cr_expect_eq(ct_model_num_layers(a), 0);
    cr_expect(!ct_layer_built(ct_model_layer(a)));
    ct_model_free(a);
    ct_model_free(b);
    ct_model_free(c);
    ct_model_free(NULL);
}

Test(model, builds_from_an_input_shape) {
    ct_model *m = new_model(NULL);
    add(m, "Dense", "{\"units\": 8, \"activation\": \"relu\"}");
    add(m, "Dense", "{\"units\": 3}");
    cr_expect(!ct_layer_built(ct_model_layer(m)));
    cr_expect_eq(ct_layer_num_weights(ct_model_layer(m)), 0);
    CT_STATUS_OK(ct_model_build(m, 2, (int64_t[]){-1, 4}));
    cr_expect(ct_layer_built(ct_model_layer(m)));
    cr_expect(ct_layer_built(ct_model_layer_at(m, 0)));
    cr_expect(ct_layer_built(ct_model_layer_at(m, 1)));
    cr_assert_eq(ct_layer_num_weights(ct_model_layer(m)), 4);
    ct_expect_shape(ct_variable_value(ct_layer_weight(ct_model_layer(m), 0)), CT_DIMS(4, 8));
    ct_expect_shape(ct_variable_value(ct_layer_weight(ct_model_layer(m), 2)), CT_DIMS(8, 3));
    /* The same shape again is fine; another one is Keras 3's error. */
    CT_STATUS_OK(ct_model_build(m, 2, (int64_t[]){-1, 4}));
    ct_clear_error();
    cr_expect_neq(ct_model_build(m, 2, (int64_t[]){-1, 5}), CT_OK);
    expect_has(ct_last_error(), "input shape (None, 4)");
    /* The input is written as tf.keras 2 names it: "<first layer>_input". */
    char *j = to_json(m);
    expect_has(j, "{\"class_name\":\"InputLayer\",\"config\":{\"name\":\"dense_input\"");
    expect_has(j, "\"batch_input_shape\":[null,4]");
    free(j);
    ct_tensor *y = ct_model_call(m, ct_ones(CT_FLOAT32, CT_DIMS(5, 4)), false);
    CT_OK(y);
    ct_expect_shape(y, CT_DIMS(5, 3));
    ct_model_free(m);
}

Test(model, builds_on_first_call_with_hand_computed_values) {
    ct_model *m = new_model(NULL);
    add(m, "Dense", "{\"units\": 2, \"activation\": \"relu\"}");
    add(m, "Dense", "{\"units\": 1, \"use_bias\": false}");
    ct_tensor *x = CT_F32(CT_DIMS(2, 2), 1, 1, 1, -2);
    ct_tensor *y = ct_model_call(m, x, false);
    CT_OK(y);
    cr_expect(ct_layer_built(ct_model_layer(m)));
    ct_layer *l = ct_model_layer(m);
    ct_test_set_weight(l, 0, CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4));
    ct_test_set_weight(l, 1, CT_F32(CT_DIMS(2), 0.5, -1));
    ct_test_set_weight(l, 2, CT_F32(CT_DIMS(2, 1), 1, -1));
    /* x1 = [1, 1]: h = relu([4.5, 5]) -> 4.5 - 5 = -0.5;
     * x2 = [1, -2]: h = relu([-4.5, -7]) = 0 -> 0. */
    CT_EXPECT(ct_model_call(m, x, false), CT_FLOAT32, CT_DIMS(2, 1), 1e-6, -0.5, 0);
    /* Another batch size is fine (the batch is never checked). */
    CT_EXPECT(ct_model_call(m, CT_F32(CT_DIMS(1, 2), 1, 1), true), CT_FLOAT32, CT_DIMS(1, 1),
              1e-6, -0.5);
    /* Keras keeps the batch of the first call in the input shape. */
    char *s = summary_text(m);
    expect_has(s, " dense (Dense)               (2, 2)                    6         \n");
    free(s);
    ct_model_free(m);
}

Test(model, adding_after_build_builds_the_new_layer) {
    ct_model *m = new_model(NULL);
    add(m, "Dense", "{\"units\": 3, \"input_shape\": [5]}");
    /* A first layer's input shape builds the model at once. */
    cr_expect(ct_layer_built(ct_model_layer(m)));
    cr_expect_eq(ct_layer_num_weights(ct_model_layer(m)), 2);
    add(m, "Dense", "{\"units\": 7}");
    cr_expect(ct_layer_built(ct_model_layer_at(m, 1)));
    ct_expect_shape(ct_variable_value(ct_layer_weight(ct_model_layer_at(m, 1), 0)),
                    CT_DIMS(3, 7));
    /* An InputLayer added first declares the shape too. */
    ct_model *n = new_model(NULL);
    CT_STATUS_OK(ct_sequential_add(n, ct_test_layer("InputLayer", "{\"shape\": [6]}")));
    cr_expect_eq(ct_model_num_layers(n), 0);
    cr_expect(!ct_layer_built(ct_model_layer(n)));
    add(n, "Dense", "{\"units\": 2}");
    cr_expect(ct_layer_built(ct_model_layer(n)));
    cr_expect_eq(ct_model_num_layers(n), 1);
    ct_expect_shape(ct_variable_value(ct_layer_weight(ct_model_layer(n), 0)), CT_DIMS(6, 2));
    char *j = to_json(n);
    expect_has(j, "\"name\":\"input_layer\"");
    free(j);
    ct_model_free(n);
    ct_model_free(m);
}

/* ---- summary -------------------------------------------------------------------------------- */

/* The expected texts are what tf.keras 2.10-2.12's print_summary prints
 * (keras/utils/layer_utils.py: line length 65, positions [29, 55, 65],
 * a blank row after each layer); the CNN one is the familiar MNIST model
 * with its "(MaxPooling2D  )" wrap. */
Test(model, summary_of_an_mlp) {
    ct_model *m = new_model(NULL);
    add(m, "Dense", "{\"units\": 128, \"activation\": \"relu\", \"input_shape\": [784]}");
    add(m, "Dense", "{\"units\": 10, \"activation\": \"softmax\"}");
    expect_summary(m,
                   "Model: \"sequential\"\n"
                   "_________________________________________________________________\n"
                   " Layer (type)                Output Shape              Param #   \n"
                   "=================================================================\n"
                   " dense (Dense)               (None, 128)               100480    \n"
                   "                                                                 \n"
                   " dense_1 (Dense)             (None, 10)                1290      \n"
                   "                                                                 \n"
                   "=================================================================\n"
                   "Total params: 101,770\n"
                   "Trainable params: 101,770\n"
                   "Non-trainable params: 0\n"
                   "_________________________________________________________________\n");
    ct_model_free(m);
}

Test(model, summary_of_a_cnn) {
    ct_model *m = new_model(NULL);
    CT_STATUS_OK(ct_sequential_add(m, ct_test_layer("InputLayer", "{\"shape\": [28, 28, 1]}")));
    add(m, "Conv2D", "{\"filters\": 32, \"kernel_size\": 3, \"activation\": \"relu\"}");
    add(m, "MaxPooling2D", "{\"pool_size\": 2}");
    add(m, "Flatten", NULL);
    add(m, "Dense", "{\"units\": 10, \"activation\": \"softmax\"}");
    expect_summary(m,
                   "Model: \"sequential\"\n"
                   "_________________________________________________________________\n"
                   " Layer (type)                Output Shape              Param #   \n"
                   "=================================================================\n"
                   " conv2d (Conv2D)             (None, 26, 26, 32)        320       \n"
                   "                                                                 \n"
                   " max_pooling2d (MaxPooling2D  (None, 13, 13, 32)       0         \n"
                   " )                                                               \n"
                   "                                                                 \n"
                   " flatten (Flatten)           (None, 5408)              0         \n"
                   "                                                                 \n"
                   " dense (Dense)               (None, 10)                54090     \n"
                   "                                                                 \n"
                   "=================================================================\n"
                   "Total params: 54,410\n"
                   "Trainable params: 54,410\n"
                   "Non-trainable params: 0\n"
                   "_________________________________________________________________\n");
    ct_tensor *y = ct_model_call(m, ct_zeros(CT_FLOAT32, CT_DIMS(2, 28, 28, 1)), false);
    CT_OK(y);
    ct_expect_shape(y, CT_DIMS(2, 10));
    ct_model_free(m);
}

Test(model, summary_of_a_nested_model_with_non_trainable_weights) {
    ct_model *m = new_model("outer");
    add(m, "Dense", "{\"units\": 8, \"input_shape\": [4]}");
    ct_model *inner = new_model("inner");
    add(inner, "BatchNormalization", NULL);
    add(inner, "Dense", "{\"units\": 3}");
    CT_STATUS_OK(ct_sequential_add(m, ct_model_layer(inner)));
    /* The inner model was built from the outer one's shapes. */
    cr_expect(ct_layer_built(ct_model_layer(inner)));
    expect_summary(m,
                   "Model: \"outer\"\n"
                   "_________________________________________________________________\n"
                   " Layer (type)                Output Shape              Param #   \n"
                   "=================================================================\n"
                   " dense (Dense)               (None, 8)                 40        \n"
                   "                                                                 \n"
                   " inner (Sequential)          (None, 3)                 59        \n"
                   "                                                                 \n"
                   "=================================================================\n"
                   "Total params: 99\n"
                   "Trainable params: 83\n"
                   "Non-trainable params: 16\n"
                   "_________________________________________________________________\n");
    ct_model_free(m);
}

Test(model, summary_of_an_unbuilt_model_is_an_error) {
    ct_model *m = new_model(NULL);
    add(m, "Dense", "{\"units\": 3}");
    ct_clear_error();
    cr_expect_neq(ct_model_summary(m, stdout), CT_OK);
    expect_has(ct_last_error(), "Sequential 'sequential': This model has not yet been built");
    ct_model_free(m);
}

/* ---- JSON ------------------------------------------------------------------------------------- */

Test(model, json_round_trip_gives_the_same_text_and_outputs) {
    ct_model *m = new_model(NULL);
    add(m, "Conv2D", "{\"filters\": 2, \"kernel_size\": [2, 2], \"input_shape\": [4, 4, 1]}");
    add(m, "BatchNormalization", NULL);
    add(m, "Flatten", NULL);
    add(m, "Dropout", "{\"rate\": 0.25}");
    add(m, "Dense", "{\"units\": 3, \"activation\": \"softmax\"}");
    fill_weights(m);
    char *a = to_json(m);
    /* tf.keras 2's layout: {class_name, config{name, layers}, keras_version,
     * backend}, the InputLayer first. */
    expect_has(a, "{\"class_name\":\"Sequential\",\"config\":{\"name\":\"sequential\",\"layers\":"
                  "[{\"class_name\":\"InputLayer\"");
    expect_has(a, "\"keras_version\":\"2.15.0\",\"backend\":\"tensorflow\"}");
    ct_model *b = ct_model_from_json(a);
    cr_assert_not_null(b, "%s", ct_last_error());
    cr_expect(ct_layer_built(ct_model_layer(b)));
    char *bj = to_json(b);
    cr_expect_str_eq(bj, a);
    copy_weights(m, b);
    ct_tensor *x = ct_test_pattern(CT_FLOAT32, CT_DIMS(3, 4, 4, 1), 7, NULL);
    expect_same(ct_model_call(m, x, false), ct_model_call(b, x, false));
    /* The model as a layer: ct_layer_get_config / ct_layer_from_config. */
    char *lc = ct_layer_get_config(ct_model_layer(m));
    CT_OK(lc);
    ct_layer *c = ct_layer_from_config(lc);
    CT_OK(c);
    cr_expect_str_eq(ct_layer_class_name(c), "Sequential");
    char *cc = ct_layer_get_config(c);
    cr_expect_str_eq(cc, lc);
    free(cc);
    free(lc);
    ct_layer_free(c);
    free(bj);
    free(a);
    ct_model_free(b);
    ct_model_free(m);
}

/* A tf.keras 2.x model.to_json() of Sequential([Input((4,)), Dense(8,
 * relu), Dropout(0.5), Dense(3, softmax)]) (the schema of keras_h5.md
 * section 5.4; json.dumps spacing). */
static const char TF2_JSON[] =
    "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"sequential_7\", \"layers\": ["
    "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 4], "
    "\"dtype\": \"float32\", \"sparse\": false, \"ragged\": false, \"name\": \"input_1\"}}, "
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_3\", \"trainable\": true, "
    "\"dtype\": \"float32\", \"units\": 8, \"activation\": \"relu\", \"use_bias\": true, "
    "\"kernel_initializer\": {\"module\": \"keras.initializers\", \"class_name\": "
    "\"GlorotUniform\", \"config\": {\"seed\": null}, \"registered_name\": null}, "
    "\"bias_initializer\": {\"module\": \"keras.initializers\", \"class_name\": \"Zeros\", "
    "\"config\": {}, \"registered_name\": null}, \"kernel_regularizer\": null, "
    "\"bias_regularizer\": null, \"activity_regularizer\": null, \"kernel_constraint\": null, "
    "\"bias_constraint\": null}}, "
    "{\"class_name\": \"Dropout\", \"config\": {\"name\": \"dropout\", \"trainable\": true, "
    "\"dtype\": \"float32\", \"rate\": 0.5, \"noise_shape\": null, \"seed\": null}}, "
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_4\", \"trainable\": true, "
    "\"dtype\": \"float32\", \"units\": 3, \"activation\": \"softmax\", \"use_bias\": true, "
    "\"kernel_initializer\": {\"class_name\": \"GlorotUniform\", \"config\": {\"seed\": null}}, "
    "\"bias_initializer\": {\"class_name\": \"Zeros\", \"config\": {}}, "
    "\"kernel_regularizer\": null, \"bias_regularizer\": null, \"activity_regularizer\": null, "
    "\"kernel_constraint\": null, \"bias_constraint\": null}}]}, "
    "\"keras_version\": \"2.15.0\", \"backend\": \"tensorflow\"}";

Test(model, reads_a_tf_keras_2_config) {
    ct_model *m = ct_model_from_json(TF2_JSON);
    cr_assert_not_null(m, "%s", ct_last_error());
    cr_expect_str_eq(ct_model_name(m), "sequential_7");
    /* model.layers leaves the InputLayer out. */
    cr_assert_eq(ct_model_num_layers(m), 3);
    cr_expect_str_eq(ct_layer_name(ct_model_layer_at(m, 0)), "dense_3");
    cr_expect_str_eq(ct_layer_class_name(ct_model_layer_at(m, 1)), "Dropout");
    cr_expect(ct_layer_built(ct_model_layer(m)));
    ct_layer *l = ct_model_layer(m);
    cr_assert_eq(ct_layer_num_weights(l), 4);
    cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, 0)), "dense_3/kernel");
    cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, 3)), "dense_4/bias");
    ct_expect_shape(ct_variable_value(ct_layer_weight(l, 2)), CT_DIMS(8, 3));
    /* The same as the HDF5 "model_config" attribute (no version keys). */
    char *j = to_json(m);
    expect_has(j, "\"name\":\"input_1\"");
    char *cfg = ct_layer_get_config(l);
    ct_model *m2 = ct_model_from_json(cfg);
    cr_assert_not_null(m2, "%s", ct_last_error());
    char *j2 = to_json(m2);
    cr_expect_str_eq(j2, j);
    free(j2);
    free(cfg);
    free(j);
    ct_tensor *y = ct_model_call(m, ct_ones(CT_FLOAT32, CT_DIMS(2, 4)), false);
    CT_OK(y);
    ct_expect_shape(y, CT_DIMS(2, 3));
    ct_model_free(m2);
    ct_model_free(m);
}

Test(model, reads_a_first_layer_batch_input_shape_and_a_bare_layer_list) {
    /* Keras 2 files without an InputLayer: the first layer's
     * batch_input_shape gives the input. */
    ct_model *m = ct_model_from_json(
        "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"seq\", \"layers\": ["
        "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d1\", \"batch_input_shape\": "
        "[null, 3], \"units\": 2}}, {\"class_name\": \"Dense\", \"config\": {\"name\": \"d2\", "
        "\"units\": 1}}]}}");
    cr_assert_not_null(m, "%s", ct_last_error());
    cr_expect(ct_layer_built(ct_model_layer(m)));
    char *j = to_json(m);
    expect_has(j, "\"name\":\"d1_input\"");
    expect_has(j, "\"batch_input_shape\":[null,3]");
    free(j);
    ct_model_free(m);
    /* Early Keras 2: "config" is the list of layers itself. */
    m = ct_model_from_json("{\"class_name\": \"Sequential\", \"config\": ["
                           "{\"class_name\": \"Dense\", \"config\": {\"units\": 2}}]}");
    cr_assert_not_null(m, "%s", ct_last_error());
    cr_expect_eq(ct_model_num_layers(m), 1);
    cr_expect_str_eq(ct_model_name(m), "sequential");
    cr_expect(!ct_layer_built(ct_model_layer(m)));
    ct_model_free(m);
}

/* A Keras 3 model.to_json() of Sequential([Input((4,)), Dense(8, relu),
 * Dense(2)]): "module" / "registered_name", DTypePolicy objects,
 * build_config beside each config, build_input_shape in the model's. */
#define K3_POLICY                                                                          \
    "{\"module\": \"keras\", \"class_name\": \"DTypePolicy\", \"config\": {\"name\": "    \
    "\"float32\"}, \"registered_name\": null}"
#define K3_DENSE(name, units, act)                                                        \
    "{\"module\": \"keras.layers\", \"class_name\": \"Dense\", \"config\": {\"name\": \"" \
    name "\", \"trainable\": true, \"dtype\": " K3_POLICY ", \"units\": " units           \
    ", \"activation\": \"" act "\", \"use_bias\": true, \"kernel_initializer\": "         \
    "{\"module\": \"keras.initializers\", \"class_name\": \"GlorotUniform\", \"config\": " \
    "{\"seed\": null}, \"registered_name\": null}, \"bias_initializer\": {\"module\": "    \
    "\"keras.initializers\", \"class_name\": \"Zeros\", \"config\": {}, "                  \
    "\"registered_name\": null}, \"kernel_regularizer\": null, \"bias_regularizer\": "     \
    "null, \"kernel_constraint\": null, \"bias_constraint\": null}, \"registered_name\": " \
    "null, \"build_config\": {\"input_shape\": [null, "
static const char K3_JSON[] =
    "{\"module\": \"keras\", \"class_name\": \"Sequential\", \"config\": {\"name\": "
    "\"sequential\", \"trainable\": true, \"dtype\": " K3_POLICY ", \"layers\": ["
    "{\"module\": \"keras.layers\", \"class_name\": \"InputLayer\", \"config\": "
    "{\"batch_shape\": [null, 4], \"dtype\": \"float32\", \"sparse\": false, \"name\": "
    "\"input_layer\"}, \"registered_name\": null}, " K3_DENSE("dense", "8", "relu") "4]}}, " K3_DENSE(
        "dense_1", "2", "linear") "8]}}], \"build_input_shape\": [null, 4]}, \"registered_name\": "
                                  "null, \"build_config\": {\"input_shape\": [null, 4]}, "
                                  "\"compile_config\": null}";

Test(model, reads_a_keras_3_config) {
    ct_model *m = ct_model_from_json(K3_JSON);
    cr_assert_not_null(m, "%s", ct_last_error());
    cr_expect_eq(ct_model_num_layers(m), 2);
    cr_expect(ct_layer_built(ct_model_layer(m)));
    ct_layer *l = ct_model_layer(m);
    cr_assert_eq(ct_layer_num_weights(l), 4);
    ct_expect_shape(ct_variable_value(ct_layer_weight(l, 0)), CT_DIMS(4, 8));
    ct_expect_shape(ct_variable_value(ct_layer_weight(l, 2)), CT_DIMS(8, 2));
    /* Written back in tf.keras 2's form, which Keras 3 reads too. */
    char *j = to_json(m);
    expect_has(j, "\"config\":{\"name\":\"sequential\",\"layers\":[{\"class_name\":"
                  "\"InputLayer\",\"config\":{\"name\":\"input_layer\"");
    cr_expect(strstr(j, "DTypePolicy") == NULL, "%s", j);
    free(j);
    ct_model_free(m);
    /* Without an InputLayer (a Keras 3 model built by build()): the first
     * layer's build_config gives the shape. */
    m = ct_model_from_json("{\"module\": \"keras\", \"class_name\": \"Sequential\", \"config\": "
                           "{\"name\": \"s\", \"layers\": [" K3_DENSE("d", "5", "tanh") "3]}}]}, "
                           "\"registered_name\": null}");
    cr_assert_not_null(m, "%s", ct_last_error());
    cr_expect(ct_layer_built(ct_model_layer(m)));
    ct_expect_shape(ct_variable_value(ct_layer_weight(ct_model_layer(m), 0)), CT_DIMS(3, 5));
    ct_model_free(m);
}

/* ---- nesting and weights ------------------------------------------------------------------- */

Test(model, nested_sequential_is_a_layer) {
    ct_model *inner = new_model(NULL);
    add(inner, "Dense", "{\"units\": 4, \"activation\": \"tanh\"}");
    add(inner, "Dense", "{\"units\": 2}");
    ct_model *m = new_model(NULL);
    add(m, "Dense", "{\"units\": 5, \"activation\": \"relu\"}");
    CT_STATUS_OK(ct_sequential_add(m, ct_model_layer(inner)));
    cr_expect_eq(ct_model_num_layers(m), 2);
    cr_expect_eq(ct_model_layer_at(m, 1), ct_model_layer(inner));
    ct_tensor *x = ct_test_pattern(CT_FLOAT32, CT_DIMS(3, 6), 2, NULL);
    ct_tensor *y = ct_model_call(m, x, false);
    CT_OK(y);
    ct_expect_shape(y, CT_DIMS(3, 2));
    /* The inner model's weights are the outer model's. */
    cr_expect_eq(ct_layer_num_weights(ct_model_layer(m)), 6);
    cr_expect_eq(ct_layer_num_weights(ct_model_layer(inner)), 4);
    fill_weights(m);
    ct_tensor *h = ct_layer_call(ct_model_layer_at(m, 0), x, false);
    expect_same(ct_model_call(m, x, false), ct_model_call(inner, h, false));
    /* The nested config round trip. */
    char *a = to_json(m);
    expect_has(a, "{\"class_name\":\"Sequential\",\"config\":{\"name\":\"sequential_1\",\"layers\":"
                  "[{\"class_name\":\"InputLayer\",\"config\":{\"name\":\"dense_2_input\"");
    /* The inner model has its own input, made when the outer one built it. */
    expect_has(a, "{\"class_name\":\"Sequential\",\"config\":{\"name\":\"sequential\",\"layers\":"
                  "[{\"class_name\":\"InputLayer\",\"config\":{\"name\":\"dense_input\"");
    ct_model *b = ct_model_from_json(a);
    cr_assert_not_null(b, "%s", ct_last_error());
    char *bj = to_json(b);
    cr_expect_str_eq(bj, a);
    /* A nested model from JSON is built with its outer one, and behaves
     * the same once the weights are copied. */
    copy_weights(m, b);
    expect_same(ct_model_call(m, x, false), ct_model_call(b, x, false));
    free(bj);
    free(a);
    ct_model_free(b);
    ct_model_free(m);
}

Test(model, weights_in_keras_order_trainable_first) {
    ct_model *m = new_model(NULL);
    add(m, "Dense", "{\"units\": 4, \"input_shape\": [3]}");
    add(m, "BatchNormalization", NULL);
    add(m, "Dense", "{\"units\": 2}");
    ct_layer *l = ct_model_layer(m);
    static const char *const names[] = {
        "dense/kernel",   "dense/bias",   "batch_normalization/gamma",
        "batch_normalization/beta", "dense_1/kernel", "dense_1/bias",
        "batch_normalization/moving_mean", "batch_normalization/moving_variance",
    };
    cr_assert_eq(ct_layer_num_weights(l), 8);
    for (int i = 0; i < 8; i++) {
        cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, i)), names[i]);
        cr_expect_eq(ct_variable_trainable(ct_layer_weight(l, i)), i < 6, "%d", i);
    }
    /* A frozen layer's weights move behind the trainable ones. */
    ct_layer_set_trainable(ct_model_layer_at(m, 0), false);
    cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, 0)), "batch_normalization/gamma");
    cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, 4)), "dense/kernel");
    char *s = summary_text(m);
    /* dense 3*4+4, batch_normalization 4*4 (half non-trainable), dense_1 4*2+2. */
    expect_has(s, "Total params: 42\nTrainable params: 18\nNon-trainable params: 24\n");
    free(s);
    ct_model_free(m);
}

Test(model, regularization_losses_of_the_layers) {
    ct_model *m = new_model(NULL);
    add(m, "Dense", "{\"units\": 1, \"input_shape\": [2], \"use_bias\": false, "
                    "\"kernel_regularizer\": {\"class_name\": \"L2\", \"config\": {\"l2\": 0.5}}}");
    add(m, "Dense", "{\"units\": 1, \"use_bias\": false, \"kernel_regularizer\": "
                    "{\"class_name\": \"L1\", \"config\": {\"l1\": 0.1}}}");
    ct_layer *l = ct_model_layer(m);
    ct_test_set_weight(l, 0, CT_F32(CT_DIMS(2, 1), 1, -2));
    ct_test_set_weight(l, 1, CT_F32(CT_DIMS(1, 1), -3));
    /* 0.5 * (1 + 4) + 0.1 * 3 = 2.8 */
    CT_EXPECT(ct_layer_regularization_loss(l), CT_FLOAT32, CT_SCALAR, 1e-6, 2.8);
    ct_model_free(m);
}

/* ---- pop, get_layer ------------------------------------------------------------------------- */

Test(model, pop_get_layer_and_layer_at) {
    ct_model *m = new_model(NULL);
    add(m, "Dense", "{\"units\": 4, \"input_shape\": [3]}");
    add(m, "Dense", "{\"units\": 2, \"name\": \"head\"}");
    cr_expect_eq(ct_model_get_layer(m, "head"), ct_model_layer_at(m, 1));
    CT_FAILS(ct_model_get_layer(m, "tail"),
             "no such layer: tail. Existing layers are: ['dense', 'head'].");
    CT_FAILS(ct_model_get_layer(m, "dense_input"), "no such layer");
    CT_FAILS(ct_model_layer_at(m, 2), "layer index 2 outside [0, 2)");
    CT_STATUS_OK(ct_sequential_pop(m));
    cr_expect_eq(ct_model_num_layers(m), 1);
    cr_expect_eq(ct_layer_num_weights(ct_model_layer(m)), 2);
    ct_tensor *y = ct_model_call(m, ct_ones(CT_FLOAT32, CT_DIMS(2, 3)), false);
    CT_OK(y);
    ct_expect_shape(y, CT_DIMS(2, 4));
    /* A new head builds from the output of the last layer left. */
    add(m, "Dense", "{\"units\": 6, \"name\": \"head\"}");
    ct_expect_shape(ct_variable_value(ct_layer_weight(ct_model_layer(m), 2)), CT_DIMS(4, 6));
    CT_STATUS_OK(ct_sequential_pop(m));
    CT_STATUS_OK(ct_sequential_pop(m));
    cr_expect(!ct_layer_built(ct_model_layer(m)));
    ct_clear_error();
    cr_expect_neq(ct_sequential_pop(m), CT_OK);
    expect_has(ct_last_error(), "Sequential 'sequential': there are no layers in the model");
    /* Keras 3: the input shape stays, and the next layer builds from it. */
    add(m, "Dense", "{\"units\": 1}");
    cr_expect(ct_layer_built(ct_model_layer(m)));
    ct_expect_shape(ct_variable_value(ct_layer_weight(ct_model_layer(m), 0)), CT_DIMS(3, 1));
    ct_model_free(m);
}

/* ---- errors ---------------------------------------------------------------------------------- */

Test(model, a_layer_that_does_not_fit_is_an_error_naming_both) {
    ct_model *m = new_model(NULL);
    add(m, "Dense", "{\"units\": 4, \"input_shape\": [3]}");
    ct_clear_error();
    cr_expect_neq(ct_sequential_add(m, ct_test_layer("Conv2D", "{\"filters\": 2, "
                                                               "\"kernel_size\": 3}")),
                  CT_OK);
    expect_has(ct_last_error(), "Sequential 'sequential': layer Conv2D 'conv2d' does not fit "
                                "the output of Dense 'dense', of shape (None, 4)");
    /* The model is as it was (the failed layer was freed: ASan checks). */
    cr_expect_eq(ct_model_num_layers(m), 1);
    /* A layer built before for other inputs. */
    ct_layer *d = ct_test_layer("Dense", "{\"units\": 2, \"name\": \"pre\"}");
    ct_test_build(d, 2, (int64_t[]){-1, 5});
    ct_clear_error();
    cr_expect_neq(ct_sequential_add(m, d), CT_OK);
    expect_has(ct_last_error(), "layer Dense 'pre' does not fit the output of Dense 'dense'");
    expect_has(ct_last_error(), "was built for inputs of shape (None, 5), got (None, 4)");
    /* The error comes when the model builds when it has no input shape yet. */
    ct_model *n = new_model(NULL);
    add(n, "Dense", "{\"units\": 4}");
    add(n, "Conv2D", "{\"filters\": 2, \"kernel_size\": 3}");
    ct_clear_error();
    cr_expect_null(ct_model_call(n, ct_ones(CT_FLOAT32, CT_DIMS(2, 3)), false));
    expect_has(ct_last_error(), "layer Conv2D 'conv2d_1' does not fit the output of Dense "
                                "'dense_1', of shape (2, 4)");
    cr_expect(!ct_layer_built(ct_model_layer(n)));
    /* The first layer against the input. */
    ct_model *k = new_model(NULL);
    CT_STATUS_OK(ct_sequential_add(k, ct_test_layer("InputLayer", "{\"shape\": [5]}")));
    ct_clear_error();
    cr_expect_neq(ct_sequential_add(k, ct_test_layer("MaxPooling2D", NULL)), CT_OK);
    expect_has(ct_last_error(), "layer MaxPooling2D 'max_pooling2d' does not fit the output of "
                                "the model's input (InputLayer 'input_layer'), of shape (None, 5)");
    ct_model_free(k);
    ct_model_free(n);
    ct_model_free(m);
}

Test(model, bad_adds) {
    ct_model *m = new_model(NULL);
    ct_layer *d = ct_test_layer("Dense", "{\"units\": 2}");
    CT_STATUS_OK(ct_sequential_add(m, d));
    ct_clear_error();
    cr_expect_neq(ct_sequential_add(m, d), CT_OK); /* not freed: the model owns it */
    expect_has(ct_last_error(), "Dense 'dense' is in the model already");
    cr_expect_neq(ct_sequential_add(m, ct_model_layer(m)), CT_OK);
    expect_has(ct_last_error(), "Sequential 'sequential' is in the model already");
    cr_expect_neq(ct_sequential_add(m, ct_test_layer("Dense", "{\"units\": 1, \"name\": "
                                                              "\"dense\"}")),
                  CT_OK);
    expect_has(ct_last_error(), "\"dense\" is already the name of a layer in this model");
    cr_expect_neq(ct_sequential_add(m, ct_test_layer("InputLayer", "{\"shape\": [2]}")), CT_OK);
    expect_has(ct_last_error(), "must be added before the other layers");
    /* A NULL layer keeps the cause. */
    ct_clear_error();
    cr_expect_neq(ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": -1}")), CT_OK);
    expect_has(ct_last_error(), "ct_sequential_add: the layer is NULL (Dense 'dense_");
    expect_has(ct_last_error(), "argument 'units'");
    cr_expect_eq(ct_model_num_layers(m), 1);
    /* A model without layers cannot be built. */
    ct_model *e = new_model(NULL);
    ct_clear_error();
    cr_expect_neq(ct_model_build(e, 2, (int64_t[]){-1, 3}), CT_OK);
    expect_has(ct_last_error(), "cannot be built because it has no layers");
    cr_expect_neq(ct_model_build(m, 0, (int64_t[]){1}), CT_OK);
    expect_has(ct_last_error(), "1 to 8 dimensions");
    ct_model_free(e);
    ct_model_free(m);
}

Test(model, bad_json) {
    CT_FAILS(ct_model_from_json(
                 "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": "
                 "[{\"class_name\": \"Dense\", \"config\": {\"units\": 2}}, "
                 "{\"class_name\": \"Densse\", \"config\": {}}]}}"),
             "Sequential 's': layers[1]: ct_layer_from_config: unknown layer class 'Densse'");
    CT_FAILS(ct_model_from_json("{\"class_name\": \"Sequential\", \"config\": {\"layers\": "
                                "[{\"class_name\": \"Dense\", \"config\": {\"units\": 0}}]}}"),
             "layers[0]: Dense 'dense");
    CT_FAILS(ct_model_from_json("{\"class_name\": \"Functional\", \"config\": {}}"),
             "argument 'layers': must be a list");
    CT_FAILS(ct_model_from_json("{\"class_name\": \"Dense\", \"config\": {}}"),
             "'Dense' is not a model class");
    CT_FAILS(ct_model_from_json("{\"class_name\": \"Sequential\", \"config\": {\"layers\": 3}}"),
             "argument 'layers': must be a list");
    CT_FAILS(ct_model_from_json("{\"class_name\": \"Sequential\", \"config\": {\"layers\": [], "
                                "\"optimizer\": 3}}"),
             "unknown argument 'optimizer'");
    CT_FAILS(ct_model_from_json("{\"class_name\": \"Sequential\", \"config\": {\"layers\": ["
                                "{\"class_name\": \"Dense\", \"config\": {\"units\": 2}}, "
                                "{\"class_name\": \"InputLayer\", \"config\": {\"shape\": [2]}}"
                                "]}}"),
             "layers[1]: an InputLayer must be the first layer");
    CT_FAILS(ct_model_from_json("{\"class_name\": \"Sequential\", \"config\": {\"layers\": ["
                                "{\"class_name\": \"InputLayer\", \"config\": {\"shape\": [2]}}, "
                                "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 1, "
                                "\"kernel_size\": 1}}]}}"),
             "does not fit");
    CT_FAILS(ct_model_from_json("[1, 2]"), "class_name");
    CT_FAILS(ct_model_from_json("{\"class_name\": \"Sequential\""), "line 1");
    CT_FAILS(ct_model_from_json(NULL), "NULL");
}

Test(model, call_with_the_wrong_input) {
    ct_model *m = new_model(NULL);
    add(m, "Dense", "{\"units\": 2, \"input_shape\": [4]}");
    CT_FAILS(ct_model_call(m, ct_ones(CT_FLOAT32, CT_DIMS(4)), false),
             "Sequential 'sequential': input 0 is incompatible with the model: expected "
             "shape=(None, 4), found shape=(4,)");
    CT_FAILS(ct_model_call(m, ct_ones(CT_FLOAT32, CT_DIMS(2, 3, 4)), false),
             "expected shape=(None, 4), found shape=(2, 3, 4)");
    CT_FAILS(ct_model_call(m, ct_ones(CT_FLOAT32, CT_DIMS(2, 5)), false),
             "expected shape=(None, 4), found shape=(2, 5)");
    /* Keras 3 squeezes a last axis of size 1 that makes the rank one too
     * many. */
    ct_tensor *y = ct_model_call(m, ct_ones(CT_FLOAT32, CT_DIMS(2, 4, 1)), false);
    CT_OK(y);
    ct_expect_shape(y, CT_DIMS(2, 2));
    /* ... and adds one that is missing. */
    ct_model *n = new_model(NULL);
    add(n, "Dense", "{\"units\": 3, \"input_shape\": [1]}");
    y = ct_model_call(n, ct_ones(CT_FLOAT32, CT_DIMS(5)), false);
    CT_OK(y);
    ct_expect_shape(y, CT_DIMS(5, 3));
    /* A model built on the first call checks later inputs the same way. */
    ct_model *k = new_model(NULL);
    add(k, "Dense", "{\"units\": 3}");
    CT_OK(ct_model_call(k, ct_ones(CT_FLOAT32, CT_DIMS(2, 6)), false));
    CT_FAILS(ct_model_call(k, ct_ones(CT_FLOAT32, CT_DIMS(2, 6, 6)), false),
             "found shape=(2, 6, 6)");
    CT_FAILS(ct_model_call(NULL, ct_ones(CT_FLOAT32, CT_DIMS(2, 6)), false), "NULL");
    ct_model_free(k);
    ct_model_free(n);
    ct_model_free(m);
}

Test(model, gradients_flow_through_the_model) {
    ct_model *m = new_model(NULL);
    add(m, "Dense", "{\"units\": 3, \"activation\": \"tanh\", \"dtype\": \"float64\", "
                    "\"input_shape\": [2]}");
    add(m, "Dense", "{\"units\": 2, \"dtype\": \"float64\"}");
    fill_weights(m);
    ct_tensor *x = ct_test_pattern(CT_FLOAT64, CT_DIMS(3, 2), 4, NULL);
    ct_test_layer_gradcheck(ct_model_layer(m), x, false, 1e-6);
    ct_model_free(m);
}

/* ---- ownership of what compile attached ----------------------------------------------------- */

Test(model, free_releases_the_compiled_objects) {
    ct_model *m = new_model(NULL);
    add(m, "Dense", "{\"units\": 2, \"input_shape\": [3]}");
    /* What nn/fit.c's compile attaches; ct_model_free owns them. */
    m->optimizer = ct_optimizer_new("adam", NULL);
    m->loss = ct_loss_new("mse", NULL);
    m->nmetrics = 2;
    m->metrics = calloc(2, sizeof *m->metrics);
    cr_assert_not_null(m->metrics);
    m->metrics[0] = ct_metric_new("mae", NULL);
    m->metrics[1] = ct_metric_new("accuracy", NULL);
    CT_OK(m->optimizer);
    CT_OK(m->loss);
    CT_OK(m->metrics[0]);
    CT_OK(m->metrics[1]);
    m->compiled = true;
    ct_model_free(m);
}

Test(model, reads_a_tfjs_model_json) {
    /* tensorflowjs_converter's model.json (tfjs_layers.md 2.1, form 1) and
     * the bare form tfjs-layers saves (form 2). */
    const char *converter =
        "{\"format\": \"layers-model\", \"generatedBy\": \"keras v2.15.0\", \"convertedBy\": "
        "\"TensorFlow.js Converter v4.17.0\", \"modelTopology\": {\"keras_version\": \"2.15.0\", "
        "\"backend\": \"tensorflow\", \"model_config\": {\"class_name\": \"Sequential\", "
        "\"config\": {\"name\": \"tiny\", \"layers\": [{\"class_name\": \"InputLayer\", "
        "\"config\": {\"batch_input_shape\": [null, 4], \"dtype\": \"float32\", \"sparse\": "
        "false, \"ragged\": false, \"name\": \"in\"}}, {\"class_name\": \"Dense\", \"config\": "
        "{\"name\": \"out\", \"units\": 3, \"activation\": \"softmax\"}}]}}}, "
        "\"weightsManifest\": [{\"paths\": [\"group1-shard1of1.bin\"], \"weights\": []}]}";
    const char *bare =
        "{\"modelTopology\": {\"class_name\": \"Sequential\", \"config\": {\"name\": \"tiny\", "
        "\"layers\": [{\"class_name\": \"Dense\", \"config\": {\"name\": \"out\", \"units\": 3, "
        "\"batch_input_shape\": [null, 4]}}]}, \"keras_version\": \"tfjs-layers 4.17.0\", "
        "\"backend\": \"tensor_flow.js\"}, \"weightsManifest\": []}";
    const char *forms[2] = {converter, bare};
    for (int i = 0; i < 2; i++) {
        ct_model *m = ct_model_from_json(forms[i]);
        cr_assert_not_null(m, "form %d: %s", i, ct_last_error());
        cr_expect_str_eq(ct_model_name(m), "tiny");
        cr_expect_eq(ct_model_num_layers(m), 1);
        ct_tensor *y = ct_model_call(m, ct_ones(CT_FLOAT32, CT_DIMS(2, 4)), false);
        CT_OK(y);
        ct_expect_shape(y, CT_DIMS(2, 3));
        ct_model_free(m);
    }
    CT_FAILS(ct_model_from_json("{\"modelTopology\": {\"model_config\": {\"class_name\": "
                                "\"Sequential\", \"config\": {\"layers\": [{\"class_name\": "
                                "\"Dense3D\", \"config\": {}}]}}}}"),
             "Dense3D");
}
