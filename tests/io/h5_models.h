/* Small models for the HDF5 weights tests (tests/io/test_h5.c) and the
 * sample files that tests/io/check_keras_h5.py checks with h5py
 * (tests/io/write_sample_h5.c). Each returns NULL with the library's
 * error set on failure. Layer names are Keras's automatic ones, so call
 * ct_layer_reset_names() first to get the names the checker expects. */
#ifndef CT_TESTS_IO_H5_MODELS_H
#define CT_TESTS_IO_H5_MODELS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrain/checkpoint.h"
#include "ctrain/ctrain.h"

/* Sequential: input [N, 8, 8, 3] -> Conv2D(4, 3x3, same) ->
 * BatchNormalization -> MaxPooling2D(2) -> Flatten -> Dense(10). */
static inline ct_model *h5m_cnn(void) {
    ct_model *m = ct_sequential_new(NULL);
    if (!m) return NULL;
    const char *cls[] = {"Conv2D", "BatchNormalization", "MaxPooling2D", "Flatten", "Dense"};
    const char *cfg[] = {"{\"filters\": 4, \"kernel_size\": 3, \"padding\": \"same\"}", NULL,
                         "{\"pool_size\": 2}", NULL, "{\"units\": 10}"};
    for (int i = 0; i < 5; i++)
        if (ct_sequential_add(m, ct_layer_new(cls[i], cfg[i])) != CT_OK) goto fail;
    if (ct_model_build(m, 4, (const int64_t[]){-1, 8, 8, 3}) != CT_OK) goto fail;
    return m;
fail:
    ct_model_free(m);
    return NULL;
}

/* The spec's two-input Functional (§5.5): input_a [4] -> dense(8),
 * input_b [6] -> dense_1(8), concatenate -> dense_2(1). */
static inline ct_model *h5m_two_inputs(void) {
    ct_graph *g = ct_graph_new();
    ct_ktensor *a = ct_input(g, 1, (const int64_t[]){4}, CT_FLOAT32, "input_a");
    ct_ktensor *b = ct_input(g, 1, (const int64_t[]){6}, CT_FLOAT32, "input_b");
    ct_ktensor *x = ct_apply(ct_layer_new("Dense", "{\"units\": 8, \"activation\": \"relu\"}"), a);
    ct_ktensor *y = ct_apply(ct_layer_new("Dense", "{\"units\": 8, \"activation\": \"relu\"}"), b);
    ct_ktensor *xy[2] = {x, y};
    ct_ktensor *c = ct_apply_n(ct_layer_new("Concatenate", NULL), 2, xy);
    ct_ktensor *out = ct_apply(ct_layer_new("Dense", "{\"units\": 1, \"activation\": \"sigmoid\"}"), c);
    ct_ktensor *ins[2] = {a, b};
    ct_model *m = out ? ct_functional_new("model", 2, ins, 1, &out) : NULL;
    ct_graph_free(g);
    return m;
}

/* A Functional with Conv2D, BatchNormalization, Embedding-free layers:
 * input [6, 6, 2] -> Conv2D(3, 3x3) -> BatchNormalization -> Flatten ->
 * Dense(2). */
static inline ct_model *h5m_func_cnn(void) {
    ct_graph *g = ct_graph_new();
    ct_ktensor *in = ct_input(g, 3, (const int64_t[]){6, 6, 2}, CT_FLOAT32, NULL);
    ct_ktensor *x = ct_apply(ct_layer_new("Conv2D", "{\"filters\": 3, \"kernel_size\": 3}"), in);
    x = ct_apply(ct_layer_new("BatchNormalization", NULL), x);
    x = ct_apply(ct_layer_new("Flatten", NULL), x);
    x = ct_apply(ct_layer_new("Dense", "{\"units\": 2}"), x);
    ct_model *m = x ? ct_functional_new(NULL, 1, &in, 1, &x) : NULL;
    ct_graph_free(g);
    return m;
}

/* Sequential inside a Sequential: input [5] -> Sequential(Dense(3),
 * BatchNormalization) -> Dense(2); and an Embedding model:
 * input [4] (ids) -> Embedding(10, 3) -> Flatten -> Dense(1). */
static inline ct_model *h5m_nested(void) {
    ct_model *inner = ct_sequential_new(NULL);
    ct_model *m = ct_sequential_new(NULL);
    if (!inner || !m) goto fail;
    if (ct_sequential_add(inner, ct_layer_new("Dense", "{\"units\": 3}")) != CT_OK ||
        ct_sequential_add(inner, ct_layer_new("BatchNormalization", NULL)) != CT_OK)
        goto fail;
    ct_status st = ct_sequential_add(m, ct_model_layer(inner));
    inner = NULL; /* m owns it now (also when the add failed) */
    if (st != CT_OK || ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 2}")) != CT_OK ||
        ct_model_build(m, 2, (const int64_t[]){-1, 5}) != CT_OK)
        goto fail;
    return m;
fail:
    if (inner) ct_model_free(inner);
    if (m) ct_model_free(m);
    return NULL;
}

static inline ct_model *h5m_embedding(void) {
    ct_model *m = ct_sequential_new(NULL);
    if (!m) return NULL;
    if (ct_sequential_add(m, ct_layer_new("Embedding", "{\"input_dim\": 10, \"output_dim\": 3}")) ||
        ct_sequential_add(m, ct_layer_new("Flatten", NULL)) ||
        ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 1}")) ||
        ct_model_build(m, 2, (const int64_t[]){-1, 4})) {
        ct_model_free(m);
        return NULL;
    }
    return m;
}

/* n Dense(1) layers with names of about 200 characters: layer_names is
 * over Keras's 64512-byte attribute limit when n >= 330, so it is split. */
static inline ct_model *h5m_long_names(int n) {
    ct_model *m = ct_sequential_new(NULL);
    if (!m) return NULL;
    for (int i = 0; i < n; i++) {
        char cfg[400];
        snprintf(cfg, sizeof cfg, "{\"units\": 1, \"name\": \"dense_%04d_%0190d\"}", i, 0);
        if (ct_sequential_add(m, ct_layer_new("Dense", cfg)) != CT_OK) goto fail;
    }
    if (ct_model_build(m, 2, (const int64_t[]){-1, 1}) != CT_OK) goto fail;
    return m;
fail:
    ct_model_free(m);
    return NULL;
}

/* Sets every weight of the model to a pattern that the checker
 * recomputes: weight number w (counting over model.layers in order and
 * each layer's weights in Keras's order), element e (row-major) is
 * w + ((e * 7) % 13) / 8 - 0.75 (exact in float32). */
static inline ct_status h5m_fill(ct_model *m, double offset) {
    int w = 0;
    for (int i = 0; i < ct_model_num_layers(m); i++) {
        ct_layer *l = ct_model_layer_at(m, i);
        for (int j = 0; j < ct_layer_num_weights(l); j++, w++) {
            ct_variable *v = ct_layer_weight(l, j);
            ct_tensor *cur = ct_variable_value(v);
            int64_t n = ct_tensor_size(cur);
            float *buf = malloc((size_t)(n ? n : 1) * sizeof *buf);
            if (!buf) return CT_ERR_OUT_OF_MEMORY;
            for (int64_t e = 0; e < n; e++)
                buf[e] = (float)(offset + w + ((e * 7) % 13) / 8.0 - 0.75);
            ct_scope_begin();
            ct_tensor *t = ct_constant(buf, CT_FLOAT32, ct_tensor_rank(cur), ct_tensor_shape(cur));
            ct_status st = t ? ct_variable_assign(v, t) : ct_last_status();
            ct_scope_end();
            free(buf);
            if (st != CT_OK) return st;
        }
    }
    return CT_OK;
}

#endif
