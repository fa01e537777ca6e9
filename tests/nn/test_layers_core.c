/* Core layers: InputLayer, Dense, Activation, Dropout family, noise,
 * Embedding, activation layers, ActivityRegularization. */
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"
#include "support.h"

TestSuite(layers_core, .init = ct_test_layer_begin, .fini = ct_test_end);

/* Every class of the family is found by its Keras name. (Referring to the
 * array also makes a static link take nn/layers/core.c's definition over
 * the weak placeholder.) */
Test(layers_core, registry_lists_the_family) {
    int n = 0;
    for (const ct__layer_vt *const *v = ct__core_layers; *v; v++, n++)
        cr_expect_eq(ct__layer_lookup((*v)->class_name), *v, "%s", (*v)->class_name);
    cr_expect_eq(n, 16);
}

/* ---- InputLayer -------------------------------------------------------------------- */

Test(layers_core, input_layer_identity_and_config) {
    ct_layer *l = ct_test_layer("InputLayer", "{\"shape\": [3]}");
    cr_expect_str_eq(ct_layer_name(l), "input_layer");
    ct_tensor *x = CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_layer_call(l, x, false), CT_FLOAT32, CT_DIMS(2, 3), 0, 1, 2, 3, 4, 5, 6);
    ct_test_config_has(l, "\"batch_input_shape\":[null,3]");
    ct_test_config_has(l, "\"sparse\":false");
    char *s = ct_layer_get_config(l);
    cr_expect(strstr(s, "trainable") == NULL, "%s", s);
    free(s);
    ct_layer *m = ct_test_layer_round_trip(l);
    CT_FAILS(ct_layer_call(m, CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4), false),
             "InputLayer 'input_layer': expected an input of shape (None, 3), got (2, 2)");
    ct_layer_free(m);
    ct_layer_free(l);
    /* Keras 3's batch_shape and Keras 2's batch_input_shape. */
    l = ct_test_layer("InputLayer", "{\"batch_shape\": [4, 2], \"name\": \"in\"}");
    ct_test_config_has(l, "\"batch_input_shape\":[4,2]");
    ct_layer_free(l);
    l = ct_test_layer("InputLayer", "{\"input_shape\": [2], \"batch_size\": 8}");
    ct_test_config_has(l, "\"batch_input_shape\":[8,2]");
    ct_layer_free(l);
    CT_FAILS(ct_layer_new("InputLayer", "{}"), "InputLayer 'input_layer_2': argument 'shape'");
    CT_FAILS(ct_layer_new("InputLayer", "{\"shape\": [2], \"sparse\": true}"), "sparse");
}

/* ---- Dense ---------------------------------------------------------------------------- */

Test(layers_core, dense_forward_weights_and_names) {
    ct_layer *l = ct_test_layer("Dense", "{\"units\": 2}");
    ct_shape in = {.rank = 2, .dim = {-1, 3}};
    CT_STATUS_OK(ct_layer_build(l, 1, &in));
    cr_assert_eq(ct_layer_num_weights(l), 2);
    cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, 0)), "dense/kernel");
    cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, 1)), "dense/bias");
    ct_expect_shape(ct_variable_value(ct_layer_weight(l, 0)), CT_DIMS(3, 2));
    ct_expect_shape(ct_variable_value(ct_layer_weight(l, 1)), CT_DIMS(2));
    /* bias starts at zeros (Keras's default). */
    CT_EXPECT(ct_variable_value(ct_layer_weight(l, 1)), CT_FLOAT32, CT_DIMS(2), 0, 0, 0);
    ct_test_set_weight(l, 0, CT_F32(CT_DIMS(3, 2), 1, 2, 3, 4, 5, 6));
    ct_test_set_weight(l, 1, CT_F32(CT_DIMS(2), 0.5, -1));
    /* [1,0,-1] @ K = [1-5, 2-6] = [-4, -4]; [1,1,1] @ K = [9, 12]. */
    ct_tensor *x = CT_F32(CT_DIMS(2, 3), 1, 0, -1, 1, 1, 1);
    CT_EXPECT(ct_layer_call(l, x, false), CT_FLOAT32, CT_DIMS(2, 2), 1e-6, -3.5, -5, 9.5, 11);
    /* Rank 3 multiplies along the last axis. */
    ct_tensor *x3 = CT_F32(CT_DIMS(1, 2, 3), 1, 0, -1, 1, 1, 1);
    CT_EXPECT(ct_layer_call(l, x3, false), CT_FLOAT32, CT_DIMS(1, 2, 2), 1e-6, -3.5, -5, 9.5,
              11);
    ct_shape out;
    CT_STATUS_OK(ct_layer_output_shape(l, 1, &(ct_shape){.rank = 3, .dim = {-1, 5, 3}}, &out));
    cr_expect(out.rank == 3 && out.dim[0] == -1 && out.dim[1] == 5 && out.dim[2] == 2);
    /* A float64 input is cast to the layer's float32. */
    ct_tensor *x64 = CT_F64(CT_DIMS(1, 3), 1, 1, 1);
    CT_EXPECT(ct_layer_call(l, x64, false), CT_FLOAT32, CT_DIMS(1, 2), 1e-6, 9.5, 11);
    CT_FAILS(ct_layer_call(l, CT_F32(CT_DIMS(1, 4), 1, 2, 3, 4), false),
             "Dense 'dense': expected an input of rank >= 2 with last dimension 3, got shape "
             "(1, 4)");
    ct_layer_free(l);

    l = ct_test_layer("Dense", "{\"units\": 2, \"activation\": \"relu\", \"use_bias\": false}");
    ct_tensor *y = ct_layer_call(l, x, false);
    CT_OK(y);
    cr_expect_eq(ct_layer_num_weights(l), 1);
    cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, 0)), "dense_1/kernel");
    ct_test_set_weight(l, 0, CT_F32(CT_DIMS(3, 2), 1, 2, 3, 4, 5, 6));
    CT_EXPECT(ct_layer_call(l, x, false), CT_FLOAT32, CT_DIMS(2, 2), 1e-6, 0, 0, 9, 12);
    ct_layer_free(l);
}

Test(layers_core, dense_gradients) {
    ct_layer *l =
        ct_test_layer("Dense", "{\"units\": 2, \"activation\": \"tanh\", \"dtype\": \"float64\"}");
    ct_tensor *x = CT_F64(CT_DIMS(2, 1, 3), 0.1, -0.2, 0.3, 0.4, 0.5, -0.6);
    CT_OK(ct_layer_call(l, x, true));
    ct_test_set_weight(l, 1, CT_F64(CT_DIMS(2), 0.3, -0.1));
    ct_test_layer_ctx c = {.layer = l, .n_inputs = 1, .n_weights = 2, .weights = {0, 1},
                           .training = true};
    ct_tensor *in[3] = {x, ct_variable_value(ct_layer_weight(l, 0)),
                        ct_variable_value(ct_layer_weight(l, 1))};
    ct_gradcheck(ct_test_layer_fn, 3, in, &c, 1e-6);
    ct_layer_free(l);
}

Test(layers_core, dense_config_round_trip) {
    ct_layer *l =
        ct_test_layer("Dense", "{\"units\": 3, \"activation\": \"sigmoid\", \"name\": \"d\", "
                               "\"kernel_regularizer\": {\"class_name\": \"L2\", \"config\": "
                               "{\"l2\": 0.5}}}");
    ct_test_config_has(l, "\"units\":3");
    ct_test_config_has(l, "\"activation\":\"sigmoid\"");
    ct_test_config_has(l, "\"activity_regularizer\":null");
    ct_test_config_has(l, "\"use_bias\":true");
    ct_test_config_has(l, "GlorotUniform");
    ct_layer *m = ct_test_layer_round_trip(l);
    ct_tensor *x = CT_F32(CT_DIMS(1, 2), 1, 2);
    CT_OK(ct_layer_call(l, x, false));
    CT_OK(ct_layer_call(m, x, false));
    for (int i = 0; i < 2; i++) ct_test_set_weight(m, i, ct_variable_read(ct_layer_weight(l, i)));
    ct_tensor *a = ct_layer_call(l, x, false), *b = ct_layer_call(m, x, false);
    float av[3], bv[3];
    ct_tensor_read(a, CT_FLOAT32, av, 3);
    ct_tensor_read(b, CT_FLOAT32, bv, 3);
    cr_expect_arr_eq(av, bv, sizeof av);
    /* kernel_regularizer: 0.5 * sum(K^2). */
    ct_test_set_weight(l, 0, CT_F32(CT_DIMS(2, 3), 1, 0, 0, 0, 2, 0));
    CT_EXPECT(ct_layer_regularization_loss(l), CT_FLOAT32, CT_SCALAR, 1e-6, 2.5);
    ct_layer_free(l);
    ct_layer_free(m);
}

Test(layers_core, dense_bad_arguments) {
    CT_FAILS(ct_layer_new("Dense", "{\"units\": -1}"),
             "Dense 'dense': argument 'units': must be a positive integer, got -1");
    CT_FAILS(ct_layer_new("Dense", "{}"), "argument 'units': is required");
    CT_FAILS(ct_layer_new("Dense", "{\"units\": 2, \"unitz\": 3}"),
             "Dense 'dense_2': unknown argument 'unitz'");
    CT_FAILS(ct_layer_new("Dense", "{\"units\": 2, \"activation\": \"nope\"}"), "nope");
    ct_layer *l = ct_test_layer("Dense", "{\"units\": 2}");
    CT_FAILS(ct_layer_call(l, CT_F32(CT_DIMS(3), 1, 2, 3), false),
             "Dense 'dense_4': expected an input of rank >= 2, got shape (3,)");
    cr_expect(!ct_layer_built(l));
    ct_layer_free(l);
}

/* ---- Activation ------------------------------------------------------------------------ */

Test(layers_core, activation_layer) {
    ct_layer *l = ct_test_layer("Activation", "{\"activation\": \"relu\"}");
    CT_EXPECT(ct_layer_call(l, CT_F32(CT_DIMS(1, 3), -1, 0, 2), false), CT_FLOAT32,
              CT_DIMS(1, 3), 0, 0, 0, 2);
    ct_test_config_has(l, "\"activation\":\"relu\"");
    ct_layer_free(ct_test_layer_round_trip(l));
    ct_layer_free(l);
    CT_FAILS(ct_layer_new("Activation", "{}"), "Activation 'activation_1': argument 'activation'");
}

/* ---- Dropout family -------------------------------------------------------------------- */

static ct_tensor *ones_f32(int rank, const int64_t *shape) { return ct_ones(CT_FLOAT32, rank, shape); }

Test(layers_core, dropout_inference_and_training) {
    ct_layer *l = ct_test_layer("Dropout", "{\"rate\": 0.5, \"seed\": 3}");
    ct_tensor *x = ones_f32(CT_DIMS(40, 50));
    ct_tensor *y = ct_layer_call(l, x, false);
    CT_OK(y);
    cr_expect_float_eq(ct_item(ct_reduce_sum(y, CT_ALL, false)), 2000.0, 1e-6);
    ct_set_random_seed(7);
    y = ct_layer_call(l, x, true);
    CT_OK(y);
    float *v = malloc(2000 * sizeof *v);
    ct_tensor_read(y, CT_FLOAT32, v, 2000);
    int zeros = 0;
    for (int i = 0; i < 2000; i++) {
        cr_assert(v[i] == 0.0f || v[i] == 2.0f, "element %d is %g", i, v[i]);
        zeros += v[i] == 0.0f;
    }
    cr_expect(zeros > 850 && zeros < 1150, "%d zeros of 2000", zeros);
    /* A seeded layer repeats its masks after set_seed. */
    ct_set_random_seed(7);
    ct_tensor *y2 = ct_layer_call(l, x, true);
    cr_expect_float_eq(ct_item(ct_reduce_max(ct_abs(ct_subtract(y, y2)), CT_ALL, false)), 0.0,
                       0);
    free(v);
    ct_test_config_has(l, "\"rate\":0.5");
    ct_test_config_has(l, "\"seed\":3");
    ct_test_config_has(l, "\"noise_shape\":null");
    ct_layer_free(ct_test_layer_round_trip(l));
    ct_layer_free(l);
}

Test(layers_core, dropout_noise_shape_and_gradient) {
    ct_layer *l = ct_test_layer("Dropout", "{\"rate\": 0.5, \"noise_shape\": [null, 1]}");
    ct_tensor *x = ones_f32(CT_DIMS(64, 6));
    ct_tensor *y = ct_layer_call(l, x, true);
    CT_OK(y);
    float v[64 * 6];
    ct_tensor_read(y, CT_FLOAT32, v, 64 * 6);
    for (int r = 0; r < 64; r++)
        for (int k = 1; k < 6; k++) cr_assert_eq(v[r * 6 + k], v[r * 6], "row %d differs", r);
    ct_test_config_has(l, "\"noise_shape\":[null,1]");
    ct_layer_free(ct_test_layer_round_trip(l));
    CT_FAILS(ct_layer_call(l, ones_f32(CT_DIMS(2, 3, 4)), true),
             "noise_shape has 2 entries but the input has shape (2, 3, 4)");
    ct_layer_free(l);

    /* The gradient is the mask, scaled: reseeding makes f deterministic. */
    l = ct_test_layer("Dropout", "{\"rate\": 0.25, \"seed\": 11, \"dtype\": \"float64\"}");
    ct_test_layer_ctx c = {.layer = l, .n_inputs = 1, .training = true, .reseed = 5};
    ct_tensor *x64 = CT_F64(CT_DIMS(2, 4), 1, -2, 3, -4, 5, -6, 7, -8);
    ct_gradcheck(ct_test_layer_fn, 1, &x64, &c, 1e-6);
    ct_layer_free(l);

    CT_FAILS(ct_layer_new("Dropout", "{\"rate\": 1.5}"),
             "Dropout 'dropout_2': argument 'rate': expected a float value between 0 and 1");
    CT_FAILS(ct_layer_new("Dropout", "{}"), "argument 'rate': is required");
    CT_FAILS(ct_layer_new("Dropout", "{\"rate\": 0.1, \"noise_shape\": [0, 2]}"),
             "argument 'noise_shape'");
    l = ct_test_layer("Dropout", "{\"rate\": 1}");
    CT_OK(ct_layer_call(l, x, false));
    CT_FAILS(ct_layer_call(l, x, true), "rate must be in the range [0, 1)");
    ct_layer_free(l);
}

Test(layers_core, spatial_dropout) {
    ct_layer *l = ct_test_layer("SpatialDropout2D", "{\"rate\": 0.5, \"seed\": 1}");
    ct_tensor *x = ones_f32(CT_DIMS(4, 3, 5, 8));
    ct_tensor *y = ct_layer_call(l, x, true);
    CT_OK(y);
    float v[4 * 3 * 5 * 8];
    ct_tensor_read(y, CT_FLOAT32, v, 4 * 3 * 5 * 8);
    /* One mask value per (batch, channel). */
    for (int b = 0; b < 4; b++)
        for (int c = 0; c < 8; c++) {
            float first = v[b * 120 + c];
            cr_assert(first == 0.0f || first == 2.0f);
            for (int s = 0; s < 15; s++) cr_assert_eq(v[b * 120 + s * 8 + c], first);
        }
    ct_test_config_has(l, "\"data_format\":\"channels_last\"");
    char *s = ct_layer_get_config(l);
    cr_expect(strstr(s, "trainable") == NULL && strstr(s, "noise_shape") == NULL, "%s", s);
    free(s);
    ct_layer_free(ct_test_layer_round_trip(l));
    CT_FAILS(ct_layer_call(l, ones_f32(CT_DIMS(4, 3, 5)), true),
             "SpatialDropout2D 'spatial_dropout2d': expected an input of rank 4, got shape "
             "(4, 3, 5)");
    ct_layer_free(l);
    l = ct_test_layer("SpatialDropout1D", "{\"rate\": 0.5}");
    y = ct_layer_call(l, ones_f32(CT_DIMS(2, 6, 3)), true);
    CT_OK(y);
    float w[36];
    ct_tensor_read(y, CT_FLOAT32, w, 36);
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < 3; c++)
            for (int t = 1; t < 6; t++) cr_assert_eq(w[b * 18 + t * 3 + c], w[b * 18 + c]);
    ct_layer_free(l);
    /* tf.keras writes Dropout's noise_shape (null) and trainable. */
    l = ct_test_layer("SpatialDropout1D",
                      "{\"rate\": 0.5, \"noise_shape\": null, \"trainable\": true}");
    ct_layer_free(l);
    CT_FAILS(ct_layer_new("SpatialDropout1D", "{\"rate\": 0.5, \"noise_shape\": [1, 1, 1]}"),
             "argument 'noise_shape'");
    l = ct_test_layer("SpatialDropout3D", "{\"rate\": 0.2, \"data_format\": \"channels_first\"}");
    CT_OK(ct_layer_call(l, ones_f32(CT_DIMS(2, 3, 2, 2, 2)), true));
    ct_layer_free(l);
}

Test(layers_core, gaussian_noise_and_dropout) {
    ct_layer *l = ct_test_layer("GaussianNoise", "{\"stddev\": 0.5, \"seed\": 2}");
    ct_tensor *x = ones_f32(CT_DIMS(100, 100));
    CT_EXPECT(ct_reduce_max(ct_layer_call(l, x, false), CT_ALL, false), CT_FLOAT32, CT_SCALAR, 0,
              1);
    ct_tensor *y = ct_layer_call(l, x, true);
    CT_OK(y);
    double mean = ct_item(ct_reduce_mean(y, CT_ALL, false));
    double sd = ct_item(ct_reduce_std(y, CT_ALL, false));
    cr_expect(fabs(mean - 1.0) < 0.02 && fabs(sd - 0.5) < 0.02, "mean %g sd %g", mean, sd);
    ct_test_config_has(l, "\"stddev\":0.5");
    ct_layer_free(ct_test_layer_round_trip(l));
    ct_layer_free(l);
    CT_FAILS(ct_layer_new("GaussianNoise", "{\"stddev\": 2}"), "argument 'stddev'");

    l = ct_test_layer("GaussianDropout", "{\"rate\": 0.2}");
    y = ct_layer_call(l, ct_fill(CT_FLOAT32, CT_DIMS(100, 100), 2.0), true);
    mean = ct_item(ct_reduce_mean(y, CT_ALL, false));
    sd = ct_item(ct_reduce_std(y, CT_ALL, false));
    /* 2 * N(1, sqrt(0.2 / 0.8) = 0.5). */
    cr_expect(fabs(mean - 2.0) < 0.04 && fabs(sd - 1.0) < 0.04, "mean %g sd %g", mean, sd);
    ct_layer_free(l);
}

/* ---- Embedding --------------------------------------------------------------------------- */

Test(layers_core, embedding_lookup_and_errors) {
    ct_layer *l = ct_test_layer("Embedding", "{\"input_dim\": 5, \"output_dim\": 2}");
    ct_tensor *idx = CT_I32(CT_DIMS(2, 2), 0, 4, 2, 1);
    ct_tensor *y = ct_layer_call(l, idx, false);
    ct_expect_shape(y, CT_DIMS(2, 2, 2));
    cr_assert_eq(ct_layer_num_weights(l), 1);
    cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, 0)), "embedding/embeddings");
    /* "uniform": RandomUniform(-0.05, 0.05). */
    ct_tensor *e = ct_variable_value(ct_layer_weight(l, 0));
    ct_expect_shape(e, CT_DIMS(5, 2));
    cr_expect(ct_item(ct_reduce_max(ct_abs(e), CT_ALL, false)) <= 0.05);
    ct_test_set_weight(l, 0, CT_F32(CT_DIMS(5, 2), 0, 1, 10, 11, 20, 21, 30, 31, 40, 41));
    CT_EXPECT(ct_layer_call(l, idx, false), CT_FLOAT32, CT_DIMS(2, 2, 2), 0, 0, 1, 40, 41, 20,
              21, 10, 11);
    /* int64, scalar-per-sample and float indices. */
    CT_EXPECT(ct_layer_call(l, CT_I64(CT_DIMS(3), 3, 3, 0), false), CT_FLOAT32, CT_DIMS(3, 2), 0,
              30, 31, 30, 31, 0, 1);
    CT_EXPECT(ct_layer_call(l, CT_F32(CT_DIMS(1, 1), 2), false), CT_FLOAT32, CT_DIMS(1, 1, 2), 0,
              20, 21);
    CT_FAILS(ct_layer_call(l, CT_I32(CT_DIMS(1, 2), 1, 5), false), "Embedding 'embedding'");
    CT_FAILS(ct_layer_call(l, CT_I32(CT_DIMS(1, 2), 1, 5), false), "5");
    CT_FAILS(ct_layer_call(l, CT_I32(CT_DIMS(1, 2), -1, 0), false), "Embedding 'embedding'");
    ct_test_config_has(l, "\"input_dim\":5");
    ct_test_config_has(l, "\"mask_zero\":false");
    ct_test_config_has(l, "RandomUniform");
    ct_layer_free(ct_test_layer_round_trip(l));
    ct_layer_free(l);
    l = ct_test_layer(
        "Embedding",
        "{\"input_dim\": 3, \"output_dim\": 4, \"mask_zero\": true, \"input_length\": 7}");
    ct_test_config_has(l, "\"mask_zero\":true");
    ct_test_config_has(l, "\"input_length\":7");
    ct_layer_free(l);
    CT_FAILS(ct_layer_new("Embedding", "{\"input_dim\": 0, \"output_dim\": 2}"),
             "Embedding 'embedding_2': argument 'input_dim': must be a positive integer");
    CT_FAILS(ct_layer_new("Embedding", "{\"input_dim\": 3}"), "argument 'output_dim': is required");
}

Test(layers_core, embedding_gradient) {
    ct_layer *l =
        ct_test_layer("Embedding", "{\"input_dim\": 4, \"output_dim\": 3, \"dtype\": \"float64\"}");
    ct_tensor *idx = CT_I32(CT_DIMS(2, 3), 0, 3, 3, 1, 0, 2);
    CT_OK(ct_layer_call(l, idx, true));
    /* d/dE of sum(E[idx]): each row counts its lookups. */
    ct_tensor *e = ct_variable_value(ct_layer_weight(l, 0));
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tensor *sum = ct_reduce_sum(ct_layer_call(l, idx, true), CT_ALL, false);
    ct_tape_end(tape);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(tape, sum, 1, &e, &g, NULL));
    cr_assert_not_null(g, "no gradient: %s", ct_last_error());
    CT_EXPECT(g, CT_FLOAT64, CT_DIMS(4, 3), 0, 2, 2, 2, 1, 1, 1, 1, 1, 1, 2, 2, 2);
    ct_tape_free(tape);
    ct_layer_free(l);
}

/* ---- activation layers -------------------------------------------------------------------- */

Test(layers_core, softmax_layer) {
    ct_layer *l = ct_test_layer("Softmax", NULL);
    /* Keras's docstring example: [1, 2, 1] -> [0.21194157, 0.5761169, 0.21194157]. */
    CT_EXPECT(ct_layer_call(l, CT_F32(CT_DIMS(1, 3), 1, 2, 1), false), CT_FLOAT32, CT_DIMS(1, 3),
              1e-6, 0.21194157, 0.5761169, 0.21194157);
    ct_test_config_has(l, "\"axis\":-1");
    ct_layer_free(ct_test_layer_round_trip(l));
    ct_layer_free(l);
    l = ct_test_layer("Softmax", "{\"axis\": [1, 2]}");
    ct_tensor *y = ct_layer_call(l, CT_F32(CT_DIMS(1, 2, 2), 0, 0, 0, 0), false);
    CT_EXPECT(y, CT_FLOAT32, CT_DIMS(1, 2, 2), 1e-6, 0.25, 0.25, 0.25, 0.25);
    ct_test_config_has(l, "\"axis\":[1,2]");
    CT_FAILS(ct_layer_call(l, CT_F32(CT_DIMS(1, 2), 0, 0), false), "axis 2 is out of range");
    ct_layer_free(l);
    l = ct_test_layer("Softmax", "{\"axis\": [1, 2], \"dtype\": \"float64\"}");
    ct_test_layer_ctx c = {.layer = l, .n_inputs = 1};
    ct_tensor *x = CT_F64(CT_DIMS(2, 2, 2), 0.1, -0.5, 0.3, 0.9, 1.5, -1, 0.2, 0.0);
    ct_gradcheck(ct_test_layer_fn, 1, &x, &c, 1e-6);
    ct_layer_free(l);
}

Test(layers_core, relu_leaky_elu) {
    /* Keras's docstring examples. */
    ct_tensor *x = CT_F32(CT_DIMS(1, 5), -10, -5, 0, 5, 10);
    ct_layer *l =
        ct_test_layer("ReLU", "{\"max_value\": 10, \"negative_slope\": 0.5, \"threshold\": 0}");
    CT_EXPECT(ct_layer_call(l, x, false), CT_FLOAT32, CT_DIMS(1, 5), 1e-6, -5, -2.5, 0, 5, 10);
    ct_test_config_has(l, "\"max_value\":10");
    ct_layer_free(ct_test_layer_round_trip(l));
    ct_layer_free(l);
    /* Keras keeps x only where x > threshold (strictly). */
    l = ct_test_layer("ReLU", "{\"threshold\": 1}");
    CT_EXPECT(ct_layer_call(l, CT_F32(CT_DIMS(1, 3), 0.5, 1, 3), false), CT_FLOAT32, CT_DIMS(1, 3),
              0, 0, 0, 3);
    ct_test_config_has(l, "\"max_value\":null");
    ct_layer_free(l);
    CT_FAILS(ct_layer_new("ReLU", "{\"max_value\": -1}"), "argument 'max_value'");
    CT_FAILS(ct_layer_new("ReLU", "{\"negative_slope\": -1}"), "argument 'negative_slope'");

    l = ct_test_layer("LeakyReLU", NULL);
    CT_EXPECT(ct_layer_call(l, x, false), CT_FLOAT32, CT_DIMS(1, 5), 1e-6, -3, -1.5, 0, 5, 10);
    ct_test_config_has(l, "\"negative_slope\":0.3");
    ct_layer_free(l);
    l = ct_test_layer("LeakyReLU", "{\"alpha\": 0.5}");
    CT_EXPECT(ct_layer_call(l, x, false), CT_FLOAT32, CT_DIMS(1, 5), 1e-6, -5, -2.5, 0, 5, 10);
    ct_test_config_has(l, "\"negative_slope\":0.5");
    ct_layer_free(ct_test_layer_round_trip(l));
    ct_layer_free(l);
    CT_FAILS(ct_layer_new("LeakyReLU", "{\"negative_slope\": -0.1}"), "LeakyReLU 'leaky_re_lu_2'");

    l = ct_test_layer("ELU", "{\"alpha\": 2}");
    CT_EXPECT(ct_layer_call(l, CT_F32(CT_DIMS(1, 2), -1, 3), false), CT_FLOAT32, CT_DIMS(1, 2),
              1e-6, 2 * (exp(-1) - 1), 3);
    ct_test_config_has(l, "\"alpha\":2");
    ct_layer_free(ct_test_layer_round_trip(l));
    ct_layer_free(l);
}

Test(layers_core, prelu) {
    ct_layer *l = ct_test_layer("PReLU", "{\"shared_axes\": [1], \"dtype\": \"float64\"}");
    ct_tensor *x = CT_F64(CT_DIMS(2, 3, 2), -1, 2, -3, -4, 5, 6, 0.5, -0.5, -1, 1, 2, -2);
    CT_OK(ct_layer_call(l, x, false));
    cr_assert_eq(ct_layer_num_weights(l), 1);
    cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, 0)), "p_re_lu/alpha");
    ct_expect_shape(ct_variable_value(ct_layer_weight(l, 0)), CT_DIMS(1, 2));
    ct_test_set_weight(l, 0, CT_F64(CT_DIMS(1, 2), 0.1, 0.2));
    CT_EXPECT(ct_layer_call(l, x, false), CT_FLOAT64, CT_DIMS(2, 3, 2), 1e-12, -0.1, 2, -0.3,
              -0.8, 5, 6, 0.5, -0.1, -0.1, 1, 2, -0.4);
    ct_test_layer_ctx c = {.layer = l, .n_inputs = 1, .n_weights = 1, .weights = {0}};
    ct_tensor *in[2] = {x, ct_variable_value(ct_layer_weight(l, 0))};
    ct_gradcheck(ct_test_layer_fn, 2, in, &c, 1e-6);
    ct_test_config_has(l, "\"shared_axes\":[1]");
    ct_test_config_has(l, "Zeros");
    ct_layer_free(ct_test_layer_round_trip(l));
    ct_layer_free(l);
}

Test(layers_core, activity_regularization) {
    ct_layer *l = ct_test_layer("ActivityRegularization", "{\"l1\": 0.1, \"l2\": 0.01}");
    ct_tensor *y = ct_layer_call(l, CT_F32(CT_DIMS(1, 3), 1, -2, 3), true);
    CT_EXPECT(y, CT_FLOAT32, CT_DIMS(1, 3), 0, 1, -2, 3);
    /* 0.1 * 6 + 0.01 * 14 (Keras 3: not divided by the batch size). */
    CT_EXPECT(ct_layer_regularization_loss(l), CT_FLOAT32, CT_SCALAR, 1e-6, 0.74);
    char *s = ct_layer_get_config(l);
    ct_test_squeeze_blanks(s);
    cr_expect(strstr(s, "activity_regularizer") == NULL, "%s", s);
    cr_expect(strstr(s, "\"l1\":0.1") != NULL, "%s", s);
    free(s);
    ct_layer_free(ct_test_layer_round_trip(l));
    ct_layer_free(l);
}
