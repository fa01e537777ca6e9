/* The layer base: Keras names, the class registry, config parsing and its
 * errors, build on first call, weights, regularization losses and
 * constraints (with Dense as the example layer). */
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(layer_base, .init = ct_test_layer_begin, .fini = ct_test_end);

Test(layer_base, automatic_names_follow_keras) {
    /* Keras: to_snake_case(class) made unique with _1, _2, ... per prefix. */
    static const char *const cases[][2] = {
        {"Dense", "dense"},
        {"Dense", "dense_1"},
        {"Conv2D", "conv2d"},
        {"Conv2DTranspose", "conv2d_transpose"},
        {"MaxPooling2D", "max_pooling2d"},
        {"BatchNormalization", "batch_normalization"},
        {"GlobalAveragePooling2D", "global_average_pooling2d"},
        {"Dense", "dense_2"},
    };
    const char *cfg[] = {"{\"units\": 2}", "{\"units\": 2}", "{\"filters\": 2, \"kernel_size\": 1}",
                         "{\"filters\": 2, \"kernel_size\": 1}", NULL, NULL, NULL, "{\"units\": 2}"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ct_layer *l = ct_layer_new(cases[i][0], cfg[i]);
        cr_assert_not_null(l, "%s: %s", cases[i][0], ct_last_error());
        cr_expect_str_eq(ct_layer_name(l), cases[i][1]);
        ct_layer_free(l);
    }
    ct_layer_reset_names();
    ct_layer *l = ct_layer_new("Dense", "{\"units\": 1}");
    CT_OK(l);
    cr_expect_str_eq(ct_layer_name(l), "dense");
    ct_layer_free(l);
}

Test(layer_base, config_errors_name_the_class_and_key) {
    CT_FAILS(ct_layer_new("Dens", "{}"), "unknown layer class 'Dens'");
    CT_FAILS(ct_layer_new("Dense", "{\"units\": 4, \"unit\": 3}"), "unknown argument 'unit'");
    CT_FAILS(ct_layer_new("Dense", "{\"units\": \"four\"}"), "'units'");
    CT_FAILS(ct_layer_new("Dense", "{\"units\": 4, \"trainable\": 1}"), "'trainable'");
    CT_FAILS(ct_layer_new("Dense", "{\"units\": 4, \"dtype\": \"complex64\"}"), "dtype");
    CT_FAILS(ct_layer_new("Dense", "{\"units\": 4,"), "line 1");
    CT_FAILS(ct_layer_new("Dense", "[1]"), "JSON object");
    CT_FAILS(ct_layer_new("Dense", "{\"units\": 4, \"name\": \"\"}"), "'name'");
    CT_FAILS(ct_layer_from_config("{\"config\": {}}"), "class_name");
    CT_FAILS(ct_layer_from_config("{\"class_name\": \"Dense\", \"config\": 3}"), "config");
}

Test(layer_base, builds_on_first_call_with_keras_weight_names) {
    ct_layer *l = ct_layer_new("Dense", "{\"units\": 3, \"name\": \"fc\"}");
    CT_OK(l);
    cr_expect(!ct_layer_built(l));
    cr_expect_eq(ct_layer_num_weights(l), 0);
    ct_tensor *x = ct_ones(CT_FLOAT32, CT_DIMS(2, 5));
    CT_OK(ct_layer_call(l, x, false));
    cr_expect(ct_layer_built(l));
    cr_assert_eq(ct_layer_num_weights(l), 2);
    cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, 0)), "fc/kernel");
    cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, 1)), "fc/bias");
    ct_expect_shape(ct_variable_value(ct_layer_weight(l, 0)), CT_DIMS(5, 3));
    ct_expect_shape(ct_variable_value(ct_layer_weight(l, 1)), CT_DIMS(3));
    CT_FAILS(ct_layer_weight(l, 2), "index 2");
    /* A second call with another feature size is an error naming the layer. */
    ct_tensor *bad = ct_ones(CT_FLOAT32, CT_DIMS(2, 4));
    CT_FAILS(ct_layer_call(l, bad, false), "Dense 'fc'");
    /* A NULL input keeps the error that made it. */
    ct_clear_error();
    cr_expect_null(ct_layer_call(l, NULL, false));
    ct_layer_free(l);
}

Test(layer_base, wrong_number_of_inputs) {
    ct_layer *l = ct_layer_new("Dense", "{\"units\": 3}");
    CT_OK(l);
    ct_tensor *x = ct_ones(CT_FLOAT32, CT_DIMS(2, 5));
    ct_tensor *xs[2] = {x, x};
    CT_FAILS(ct_layer_call_n(l, 2, xs, false), "expects 1 input, got 2");
    ct_layer_free(l);
}

Test(layer_base, config_round_trip_keeps_base_keys) {
    ct_layer *l = ct_layer_new("Dense", "{\"units\": 3, \"name\": \"head\", \"trainable\": false, "
                                        "\"batch_input_shape\": [null, 5], "
                                        "\"activity_regularizer\": {\"class_name\": \"L2\", "
                                        "\"config\": {\"l2\": 0.5}}}");
    CT_OK(l);
    cr_expect(!ct_layer_trainable(l));
    char *cfg = ct_layer_get_config(l);
    CT_OK(cfg);
    cr_expect(strstr(cfg, "\"class_name\":\"Dense\"") != NULL, "%s", cfg);
    cr_expect(strstr(cfg, "\"name\":\"head\"") != NULL, "%s", cfg);
    cr_expect(strstr(cfg, "\"trainable\":false") != NULL, "%s", cfg);
    cr_expect(strstr(cfg, "\"batch_input_shape\":[null,5]") != NULL, "%s", cfg);
    cr_expect(strstr(cfg, "\"dtype\":\"float32\"") != NULL, "%s", cfg);
    ct_layer *again = ct_layer_from_config(cfg);
    CT_OK(again);
    char *cfg2 = ct_layer_get_config(again);
    CT_OK(cfg2);
    cr_expect_str_eq(cfg2, cfg);
    free(cfg);
    free(cfg2);
    ct_layer_free(again);
    ct_layer_free(l);
}

Test(layer_base, keras3_config_forms) {
    /* Keras 3 writes the dtype as a policy and the shape as batch_shape. */
    ct_layer *l = ct_layer_from_config(
        "{\"module\": \"keras.layers\", \"class_name\": \"Dense\", \"registered_name\": null, "
        "\"config\": {\"name\": \"d\", \"units\": 2, \"dtype\": {\"module\": \"keras\", "
        "\"class_name\": \"DTypePolicy\", \"config\": {\"name\": \"float64\"}, "
        "\"registered_name\": null}}}");
    CT_OK(l);
    ct_tensor *x = ct_ones(CT_FLOAT64, CT_DIMS(1, 3));
    ct_tensor *y = ct_layer_call(l, x, false);
    CT_OK(y);
    cr_expect_eq(ct_tensor_dtype(y), CT_FLOAT64);
    ct_layer_free(l);
}

Test(layer_base, regularization_loss_sums_weight_and_activity_penalties) {
    ct_layer *l = ct_layer_new(
        "Dense", "{\"units\": 2, \"kernel_initializer\": \"ones\", \"bias_initializer\": "
                 "\"ones\", \"kernel_regularizer\": {\"class_name\": \"L1\", \"config\": "
                 "{\"l1\": 0.5}}, \"bias_regularizer\": {\"class_name\": \"L2\", \"config\": "
                 "{\"l2\": 0.25}}, \"activity_regularizer\": {\"class_name\": \"L1\", "
                 "\"config\": {\"l1\": 0.1}}}");
    CT_OK(l);
    ct_tensor *x = ct_ones(CT_FLOAT32, CT_DIMS(1, 3));
    /* y = [1 1 1] @ ones(3, 2) + 1 = [4 4]. */
    CT_EXPECT(ct_layer_call(l, x, true), CT_FLOAT32, CT_DIMS(1, 2), 1e-6, 4, 4);
    /* 0.5 * 6 (kernel L1) + 0.25 * 2 (bias L2) + 0.1 * 8 (activity L1). */
    CT_EXPECT(ct_layer_regularization_loss(l), CT_FLOAT32, CT_SCALAR, 1e-5, 3 + 0.5 + 0.8);
    ct_layer_free(l);
}

Test(layer_base, constraints_apply_to_their_weights) {
    ct_layer *l = ct_layer_new("Dense", "{\"units\": 2, \"kernel_initializer\": {\"class_name\": "
                                        "\"Constant\", \"config\": {\"value\": -1.0}}, "
                                        "\"kernel_constraint\": \"non_neg\"}");
    CT_OK(l);
    CT_OK(ct_layer_call(l, ct_ones(CT_FLOAT32, CT_DIMS(1, 2)), false));
    CT_STATUS_OK(ct_layer_apply_constraints(l));
    CT_EXPECT(ct_variable_value(ct_layer_weight(l, 0)), CT_FLOAT32, CT_DIMS(2, 2), 0, 0, 0, 0,
              0);
    ct_layer_free(l);
}

Test(layer_base, output_shape_without_building) {
    ct_layer *l = ct_layer_new("Dense", "{\"units\": 7}");
    CT_OK(l);
    ct_shape in = {.rank = 3, .dim = {-1, 4, 5}}, out;
    CT_STATUS_OK(ct_layer_output_shape(l, 1, &in, &out));
    cr_expect_eq(out.rank, 3);
    cr_expect_eq(out.dim[0], -1);
    cr_expect_eq(out.dim[1], 4);
    cr_expect_eq(out.dim[2], 7);
    cr_expect(!ct_layer_built(l));
    ct_layer_free(l);
}
