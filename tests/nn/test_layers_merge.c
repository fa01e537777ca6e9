/* Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum,
 * Concatenate, Dot. */
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"
#include "support.h"

TestSuite(layers_merge, .init = ct_test_layer_begin, .fini = ct_test_end);

static ct_tensor *call2(ct_layer *l, ct_tensor *a, ct_tensor *b) {
    ct_tensor *in[2] = {a, b};
    return ct_layer_call_n(l, 2, in, false);
}

/* Referring to the array also makes a static link take merge.c's definition
 * over the weak placeholder. */
Test(layers_merge, registry_lists_the_family) {
    int n = 0;
    for (const ct__layer_vt *const *v = ct__merge_layers; *v; v++, n++)
        cr_expect_eq(ct__layer_lookup((*v)->class_name), *v, "%s", (*v)->class_name);
    cr_expect_eq(n, 8);
}

Test(layers_merge, elementwise_values) {
    ct_tensor *a = CT_F32(CT_DIMS(2, 2), 1, 5, -3, 4), *b = CT_F32(CT_DIMS(2, 2), 2, 2, 2, -8);
    ct_tensor *c = CT_F32(CT_DIMS(2, 2), 0, 1, 0, 1);
    ct_tensor *abc[3] = {a, b, c};
    struct {
        const char *cls;
        double v[4];
    } cases[] = {
        {"Add", {3, 8, -1, -3}},     {"Multiply", {0, 10, 0, -32}},
        {"Average", {1, 8 / 3.0, -1 / 3.0, -1}}, {"Maximum", {2, 5, 2, 4}},
        {"Minimum", {0, 1, -3, -8}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ct_layer *l = ct_test_layer(cases[i].cls, NULL);
        ct_expect(ct_layer_call_n(l, 3, abc, false), CT_FLOAT32, CT_DIMS(2, 2), cases[i].v, 1e-6);
        ct_test_config_round_trip(l, cases[i].cls);
        ct_layer_free(l);
    }
    ct_layer *l = ct_test_layer("Subtract", NULL);
    CT_EXPECT(call2(l, a, b), CT_FLOAT32, CT_DIMS(2, 2), 0, -1, 3, -5, 12);
    CT_FAILS(ct_layer_call_n(l, 3, abc, false), "Subtract 'subtract': expects 2 inputs, got 3");
    ct_layer_free(l);
    /* Keras 3 merges a single input too. */
    l = ct_test_layer("Add", NULL);
    CT_EXPECT(ct_layer_call_n(l, 1, abc, false), CT_FLOAT32, CT_DIMS(2, 2), 0, 1, 5, -3, 4);
    ct_layer_free(l);
}

Test(layers_merge, broadcasting_and_errors) {
    ct_layer *l = ct_test_layer("Add", NULL);
    /* [2, 1, 3] + [2, 2, 3]; then [2, 3] gains an axis after the batch. */
    ct_tensor *a = CT_F32(CT_DIMS(2, 1, 3), 1, 2, 3, 4, 5, 6);
    ct_tensor *b = ct_zeros(CT_FLOAT32, CT_DIMS(2, 2, 3));
    CT_EXPECT(call2(l, a, b), CT_FLOAT32, CT_DIMS(2, 2, 3), 0, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5,
              6);
    ct_tensor *v = CT_F32(CT_DIMS(2, 3), 10, 20, 30, 40, 50, 60);
    CT_EXPECT(call2(l, v, b), CT_FLOAT32, CT_DIMS(2, 2, 3), 0, 10, 20, 30, 10, 20, 30, 40, 50, 60,
              40, 50, 60);
    ct_shape out, in[2] = {{.rank = 2, .dim = {-1, 3}}, {.rank = 3, .dim = {-1, 4, 3}}};
    CT_STATUS_OK(ct_layer_output_shape(l, 2, in, &out));
    cr_expect(out.rank == 3 && out.dim[0] == -1 && out.dim[1] == 4 && out.dim[2] == 3);
    CT_FAILS(call2(l, CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6), CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4)),
             "Add 'add': inputs have incompatible shapes (2, 3), (2, 2)");
    CT_FAILS(call2(l, CT_F32(CT_DIMS(2, 1), 1, 2), CT_F32(CT_DIMS(3, 1), 1, 2, 3)),
             "cannot merge tensors with different batch sizes");
    /* A float64 input is cast to the layer's float32. */
    CT_EXPECT(call2(l, CT_F64(CT_DIMS(1, 2), 1, 2), CT_F32(CT_DIMS(1, 2), 3, 4)), CT_FLOAT32,
              CT_DIMS(1, 2), 0, 4, 6);
    ct_layer_free(l);
    CT_FAILS(ct_layer_new("Add", "{\"axis\": 1}"), "Add 'add_1': unknown argument 'axis'");
}

Test(layers_merge, elementwise_gradients) {
    const char *classes[] = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"};
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        ct_layer *l = ct_test_layer(classes[i], "{\"dtype\": \"float64\"}");
        ct_tensor *in[2] = {CT_F64(CT_DIMS(2, 1, 3), 0.5, -1, 2, 0.25, 3, -2),
                            CT_F64(CT_DIMS(2, 2, 3), 1, 0.1, -0.3, 0.7, 0.2, -1.5, -0.4, 0.6,
                                   0.9, 1.1, -2.2, 0.8)};
        ct_test_layer_ctx c = {.layer = l, .n_inputs = 2};
        ct_gradcheck(ct_test_layer_fn, 2, in, &c, 1e-6);
        ct_layer_free(l);
    }
}

Test(layers_merge, concatenate) {
    ct_layer *l = ct_test_layer("Concatenate", NULL);
    ct_tensor *a = CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4), *b = CT_F32(CT_DIMS(2, 1), 5, 6);
    CT_EXPECT(call2(l, a, b), CT_FLOAT32, CT_DIMS(2, 3), 0, 1, 2, 5, 3, 4, 6);
    ct_test_config_round_trip(l, "\"axis\":-1");
    CT_FAILS(call2(l, a, CT_F32(CT_DIMS(3, 1), 1, 2, 3)),
             "Concatenate 'concatenate': a Concatenate layer requires inputs with matching "
             "shapes except for the concatenation axis -1; got shapes (2, 2), (3, 1)");
    CT_FAILS(call2(l, a, CT_F32(CT_DIMS(2), 1, 2)), "needs inputs of one rank");
    ct_layer_free(l);
    l = ct_test_layer("Concatenate", "{\"axis\": 1, \"dtype\": \"float64\"}");
    ct_tensor *in[3] = {CT_F64(CT_DIMS(1, 1, 2), 1, 2), CT_F64(CT_DIMS(1, 2, 2), 3, 4, 5, 6),
                        CT_F64(CT_DIMS(1, 1, 2), 7, 8)};
    CT_EXPECT(ct_layer_call_n(l, 3, in, false), CT_FLOAT64, CT_DIMS(1, 4, 2), 0, 1, 2, 3, 4, 5, 6,
              7, 8);
    ct_shape out, sh[2] = {{.rank = 3, .dim = {-1, 2, 5}}, {.rank = 3, .dim = {-1, 3, -1}}};
    CT_STATUS_OK(ct_layer_output_shape(l, 2, sh, &out));
    cr_expect(out.dim[0] == -1 && out.dim[1] == 5 && out.dim[2] == 5);
    ct_test_layer_ctx c = {.layer = l, .n_inputs = 3};
    ct_gradcheck(ct_test_layer_fn, 3, in, &c, 1e-6);
    ct_test_config_round_trip(l, "\"axis\":1");
    ct_layer_free(l);
}

Test(layers_merge, dot_values_and_shapes) {
    /* Keras's docstring: x = arange(10).reshape(1, 5, 2), y = arange(10,
     * 20).reshape(1, 2, 5), Dot(axes=(1, 2)) -> [[[260, 360], [320, 445]]]. */
    double xv[10], yv[10];
    for (int i = 0; i < 10; i++) xv[i] = i, yv[i] = 10 + i;
    ct_tensor *x = ct_constant(xv, CT_FLOAT64, CT_DIMS(1, 5, 2));
    ct_tensor *y = ct_constant(yv, CT_FLOAT64, CT_DIMS(1, 2, 5));
    ct_layer *l = ct_test_layer("Dot", "{\"axes\": [1, 2], \"dtype\": \"float64\"}");
    CT_EXPECT(call2(l, x, y), CT_FLOAT64, CT_DIMS(1, 2, 2), 1e-12, 260, 360, 320, 445);
    ct_test_config_round_trip(l, "\"axes\":[1,2]");
    ct_tensor *in[2] = {x, y};
    ct_test_layer_ctx c = {.layer = l, .n_inputs = 2};
    ct_gradcheck(ct_test_layer_fn, 2, in, &c, 1e-6);
    ct_layer_free(l);

    /* Two [B, F] inputs give [B, 1]. */
    l = ct_test_layer("Dot", "{\"axes\": 1}");
    ct_tensor *a = CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6), *b = CT_F32(CT_DIMS(2, 3), 1, 0, 1, 2, 1, 0);
    CT_EXPECT(call2(l, a, b), CT_FLOAT32, CT_DIMS(2, 1), 1e-6, 4, 13);
    ct_test_config_round_trip(l, "\"axes\":1");
    CT_FAILS(call2(l, a, CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4)),
             "Dot 'dot_1': incompatible input shapes: axis values 3 (at axis 1) != 2 (at axis 1)");
    ct_layer_free(l);
    /* [B, 3] with [B, 3, 4] along (1, 1) -> [B, 4]; output_shape agrees. */
    l = ct_test_layer("Dot", "{\"axes\": [1, 1]}");
    ct_shape out, sh[2] = {{.rank = 2, .dim = {-1, 3}}, {.rank = 3, .dim = {-1, 3, 4}}};
    CT_STATUS_OK(ct_layer_output_shape(l, 2, sh, &out));
    cr_expect(out.rank == 2 && out.dim[1] == 4);
    ct_tensor *m = ct_reshape(ct_range(0, 12, 1, CT_FLOAT32), CT_DIMS(1, 3, 4));
    CT_EXPECT(call2(l, CT_F32(CT_DIMS(1, 3), 1, 1, 1), m), CT_FLOAT32, CT_DIMS(1, 4), 1e-6, 12,
              15, 18, 21);
    ct_layer_free(l);
    /* Negative axes count from each input's end. */
    l = ct_test_layer("Dot", "{\"axes\": -1}");
    CT_EXPECT(call2(l, CT_F32(CT_DIMS(1, 2, 2), 1, 2, 3, 4), CT_F32(CT_DIMS(1, 2, 2), 1, 0, 0, 1)),
              CT_FLOAT32, CT_DIMS(1, 2, 2), 1e-6, 1, 2, 3, 4);
    ct_layer_free(l);
    CT_FAILS(ct_layer_new("Dot", "{}"), "Dot 'dot_4': argument 'axes': is required");
    CT_FAILS(ct_layer_new("Dot", "{\"axes\": [1, 2, 3]}"), "should contain two elements");
    l = ct_test_layer("Dot", "{\"axes\": 0}");
    CT_FAILS(call2(l, a, b), "cannot perform batch_dot over axis 0");
    ct_layer_free(l);
}

Test(layers_merge, dot_normalize) {
    ct_layer *l =
        ct_test_layer("Dot", "{\"axes\": 1, \"normalize\": true, \"dtype\": \"float64\"}");
    ct_tensor *a = CT_F64(CT_DIMS(2, 2), 3, 4, 1, 0), *b = CT_F64(CT_DIMS(2, 2), 4, 3, 0, 2);
    /* Cosine similarity: 24/25 and 0. */
    CT_EXPECT(call2(l, a, b), CT_FLOAT64, CT_DIMS(2, 1), 1e-12, 0.96, 0);
    ct_test_config_round_trip(l, "\"normalize\":true");
    ct_tensor *in[2] = {a, b};
    ct_test_layer_ctx c = {.layer = l, .n_inputs = 2};
    ct_gradcheck(ct_test_layer_fn, 2, in, &c, 1e-6);
    ct_layer_free(l);
}
