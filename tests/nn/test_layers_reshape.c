/* Reshaping layers: Flatten, Reshape, Permute, RepeatVector, ZeroPadding,
 * Cropping, UpSampling. */
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"
#include "support.h"

TestSuite(layers_reshape, .init = ct_test_layer_begin, .fini = ct_test_end);

/* 0, 1, 2, ... of a shape. */
static ct_tensor *iota(ct_dtype dt, int rank, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    return ct_reshape(ct_range(0, (double)n, 1, dt), rank, shape);
}

/* A float64 input for gradient checks: varied, non-integer values. */
static ct_tensor *wiggle(int rank, const int64_t *shape) {
    return ct_sin(ct_multiply(iota(CT_FLOAT64, rank, shape), ct_scalar_of(CT_FLOAT64, 0.7)));
}

/* Referring to the array also makes a static link take reshape.c's
 * definition over the weak placeholder. */
Test(layers_reshape, registry_lists_the_family) {
    int n = 0;
    for (const ct__layer_vt *const *v = ct__reshape_layers; *v; v++, n++)
        cr_expect_eq(ct__layer_lookup((*v)->class_name), *v, "%s", (*v)->class_name);
    cr_expect_eq(n, 13);
}

Test(layers_reshape, flatten) {
    ct_layer *l = ct_test_layer("Flatten", NULL);
    ct_tensor *y = ct_layer_call(l, iota(CT_FLOAT32, CT_DIMS(2, 3, 2)), false);
    CT_EXPECT(y, CT_FLOAT32, CT_DIMS(2, 6), 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
    CT_EXPECT(ct_layer_call(l, CT_F32(CT_DIMS(3), 1, 2, 3), false), CT_FLOAT32, CT_DIMS(3, 1), 0,
              1, 2, 3);
    /* Integers stay integers. */
    CT_EXPECT(ct_layer_call(l, CT_I32(CT_DIMS(1, 2, 2), 1, 2, 3, 4), false), CT_INT32,
              CT_DIMS(1, 4), 0, 1, 2, 3, 4);
    ct_shape out;
    CT_STATUS_OK(ct_layer_output_shape(l, 1, &(ct_shape){.rank = 4, .dim = {-1, 28, 28, 1}}, &out));
    cr_expect(out.rank == 2 && out.dim[0] == -1 && out.dim[1] == 784);
    CT_STATUS_OK(ct_layer_output_shape(l, 1, &(ct_shape){.rank = 3, .dim = {-1, -1, 4}}, &out));
    cr_expect(out.dim[1] == -1);
    ct_test_config_round_trip(l, "\"data_format\":\"channels_last\"");
    ct_layer_free(l);
    /* channels_first: [B, C, H, W] flattens in channels_last order. */
    l = ct_test_layer("Flatten", "{\"data_format\": \"channels_first\"}");
    CT_EXPECT(ct_layer_call(l, iota(CT_FLOAT32, CT_DIMS(1, 2, 3)), false), CT_FLOAT32,
              CT_DIMS(1, 6), 0, 0, 3, 1, 4, 2, 5);
    ct_test_config_round_trip(l, "channels_first");
    ct_layer_free(l);
    CT_FAILS(ct_layer_new("Flatten", "{\"data_format\": \"nhwc\"}"),
             "Flatten 'flatten_2': argument 'data_format'");
}

Test(layers_reshape, reshape) {
    ct_layer *l = ct_test_layer("Reshape", "{\"target_shape\": [3, -1]}");
    ct_tensor *y = ct_layer_call(l, iota(CT_FLOAT32, CT_DIMS(2, 12)), false);
    ct_expect_shape(y, CT_DIMS(2, 3, 4));
    ct_shape out;
    CT_STATUS_OK(ct_layer_output_shape(l, 1, &(ct_shape){.rank = 3, .dim = {-1, 2, 6}}, &out));
    cr_expect(out.rank == 3 && out.dim[0] == -1 && out.dim[1] == 3 && out.dim[2] == 4);
    CT_FAILS(ct_layer_call(l, iota(CT_FLOAT32, CT_DIMS(2, 7)), false),
             "Reshape 'reshape': cannot reshape an input of shape (2, 7) (7 values per sample) "
             "to target_shape (3, None) (a multiple of 3 values)");
    ct_test_config_round_trip(l, "\"target_shape\":[3,-1]");
    ct_layer_free(l);
    l = ct_test_layer("Reshape", "{\"target_shape\": [2, 2]}");
    CT_FAILS(ct_layer_call(l, iota(CT_FLOAT32, CT_DIMS(1, 5)), false),
             "(5 values per sample) to target_shape (2, 2) (4 values)");
    ct_layer_free(l);
    l = ct_test_layer("Reshape", "{\"target_shape\": [2, 2], \"dtype\": \"float64\"}");
    ct_test_layer_gradcheck(l, wiggle(CT_DIMS(2, 4)), false, 1e-6);
    ct_layer_free(l);
    CT_FAILS(ct_layer_new("Reshape", "{\"target_shape\": [-1, -1]}"),
             "at most one unknown dimension");
    CT_FAILS(ct_layer_new("Reshape", "{}"), "argument 'target_shape': is required");
}

Test(layers_reshape, permute_and_repeat_vector) {
    ct_layer *l = ct_test_layer("Permute", "{\"dims\": [2, 1]}");
    CT_EXPECT(ct_layer_call(l, iota(CT_FLOAT32, CT_DIMS(1, 2, 3)), false), CT_FLOAT32,
              CT_DIMS(1, 3, 2), 0, 0, 3, 1, 4, 2, 5);
    ct_test_config_round_trip(l, "\"dims\":[2,1]");
    CT_FAILS(ct_layer_call(l, iota(CT_FLOAT32, CT_DIMS(1, 2)), false),
             "Permute 'permute': expected an input of rank 3, got shape (1, 2)");
    ct_layer_free(l);
    CT_FAILS(ct_layer_new("Permute", "{\"dims\": [0, 1]}"),
             "argument 'dims': the set of indices must be consecutive and start from 1");
    CT_FAILS(ct_layer_new("Permute", "{\"dims\": [1, 1]}"), "argument 'dims'");
    l = ct_test_layer("Permute", "{\"dims\": [3, 1, 2], \"dtype\": \"float64\"}");
    ct_test_layer_gradcheck(l, wiggle(CT_DIMS(2, 2, 3, 2)), false, 1e-6);
    ct_layer_free(l);

    l = ct_test_layer("RepeatVector", "{\"n\": 3}");
    CT_EXPECT(ct_layer_call(l, CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4), false), CT_FLOAT32,
              CT_DIMS(2, 3, 2), 0, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4);
    ct_test_config_round_trip(l, "\"n\":3");
    CT_FAILS(ct_layer_call(l, iota(CT_FLOAT32, CT_DIMS(1, 2, 2)), false),
             "RepeatVector 'repeat_vector': expected an input of rank 2, got shape (1, 2, 2)");
    ct_layer_free(l);
    l = ct_test_layer("RepeatVector", "{\"n\": 2, \"dtype\": \"float64\"}");
    ct_test_layer_gradcheck(l, wiggle(CT_DIMS(2, 3)), false, 1e-6);
    ct_layer_free(l);
    CT_FAILS(ct_layer_new("RepeatVector", "{}"), "argument 'n': is required");
}

Test(layers_reshape, zero_padding) {
    ct_layer *l = ct_test_layer("ZeroPadding1D", "{\"padding\": [1, 2]}");
    CT_EXPECT(ct_layer_call(l, CT_F32(CT_DIMS(1, 2, 1), 5, 6), false), CT_FLOAT32,
              CT_DIMS(1, 5, 1), 0, 0, 5, 6, 0, 0);
    ct_test_config_round_trip(l, "\"padding\":[1,2]");
    ct_layer_free(l);
    l = ct_test_layer("ZeroPadding1D", NULL);
    ct_test_config_round_trip(l, "\"padding\":[1,1]");
    ct_layer_free(l);
    /* Keras's docstring: ZeroPadding2D(padding=1) of arange(4) [1, 1, 2, 2]. */
    l = ct_test_layer("ZeroPadding2D", "{\"padding\": 1}");
    ct_tensor *y = ct_layer_call(l, iota(CT_FLOAT32, CT_DIMS(1, 1, 2, 2)), false);
    CT_EXPECT(y, CT_FLOAT32, CT_DIMS(1, 3, 4, 2), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0,
              0, 0, 0, 0, 0, 0, 0, 0);
    ct_test_config_round_trip(l, "\"padding\":[[1,1],[1,1]]");
    ct_layer_free(l);
    l = ct_test_layer("ZeroPadding2D",
                      "{\"padding\": [[0, 1], [2, 0]], \"data_format\": \"channels_first\"}");
    y = ct_layer_call(l, CT_F32(CT_DIMS(1, 1, 1, 1), 7), false);
    CT_EXPECT(y, CT_FLOAT32, CT_DIMS(1, 1, 2, 3), 0, 0, 0, 7, 0, 0, 0);
    ct_test_config_round_trip(l, "\"padding\":[[0,1],[2,0]]");
    ct_layer_free(l);
    l = ct_test_layer("ZeroPadding2D", "{\"padding\": [2, 1]}");
    ct_shape out;
    CT_STATUS_OK(ct_layer_output_shape(l, 1, &(ct_shape){.rank = 4, .dim = {-1, 3, -1, 5}}, &out));
    cr_expect(out.dim[1] == 7 && out.dim[2] == -1 && out.dim[3] == 5);
    CT_FAILS(ct_layer_call(l, iota(CT_FLOAT32, CT_DIMS(1, 2, 2)), false),
             "ZeroPadding2D 'zero_padding2d_2': expected an input of rank 4, got shape (1, 2, 2)");
    ct_layer_free(l);
    l = ct_test_layer("ZeroPadding3D", "{\"padding\": [1, [0, 1], 0], \"dtype\": \"float64\"}");
    y = ct_layer_call(l, wiggle(CT_DIMS(1, 2, 2, 2, 1)), false);
    ct_expect_shape(y, CT_DIMS(1, 4, 3, 2, 1));
    ct_test_layer_gradcheck(l, wiggle(CT_DIMS(1, 2, 2, 2, 1)), false, 1e-6);
    ct_test_config_round_trip(l, "\"padding\":[[1,1],[0,1],[0,0]]");
    ct_layer_free(l);
    CT_FAILS(ct_layer_new("ZeroPadding2D", "{\"padding\": [1, 2, 3]}"),
             "ZeroPadding2D 'zero_padding2d_3': argument 'padding'");
    CT_FAILS(ct_layer_new("ZeroPadding1D", "{\"padding\": -1}"), "cannot be negative");
}

Test(layers_reshape, cropping) {
    ct_layer *l = ct_test_layer("Cropping1D", NULL);
    CT_EXPECT(ct_layer_call(l, CT_F32(CT_DIMS(1, 4, 1), 1, 2, 3, 4), false), CT_FLOAT32,
              CT_DIMS(1, 2, 1), 0, 2, 3);
    ct_test_config_round_trip(l, "\"cropping\":[1,1]");
    CT_FAILS(ct_layer_call(l, CT_F32(CT_DIMS(1, 2, 1), 1, 2), false),
             "Cropping1D 'cropping1d': cropping (1, 1) must be smaller than the spatial "
             "dimension 2 of the input of shape (1, 2, 1)");
    ct_layer_free(l);
    /* Keras's docstring: Cropping2D(((2, 2), (4, 4))) of [2, 28, 28, 3] -> [2, 24, 20, 3]. */
    l = ct_test_layer("Cropping2D", "{\"cropping\": [[2, 2], [4, 4]]}");
    ct_tensor *y = ct_layer_call(l, ct_zeros(CT_FLOAT32, CT_DIMS(2, 28, 28, 3)), false);
    ct_expect_shape(y, CT_DIMS(2, 24, 20, 3));
    ct_test_config_round_trip(l, "\"cropping\":[[2,2],[4,4]]");
    ct_layer_free(l);
    l = ct_test_layer("Cropping2D", "{\"cropping\": [[1, 0], [0, 1]]}");
    CT_EXPECT(ct_layer_call(l, iota(CT_FLOAT32, CT_DIMS(1, 3, 3, 1)), false), CT_FLOAT32,
              CT_DIMS(1, 2, 2, 1), 0, 3, 4, 6, 7);
    ct_layer_free(l);
    l = ct_test_layer("Cropping2D", NULL);
    ct_test_config_round_trip(l, "\"cropping\":[[0,0],[0,0]]");
    ct_layer_free(l);
    l = ct_test_layer("Cropping3D", "{\"dtype\": \"float64\"}");
    y = ct_layer_call(l, wiggle(CT_DIMS(1, 3, 4, 3, 2)), false);
    ct_expect_shape(y, CT_DIMS(1, 1, 2, 1, 2));
    ct_test_layer_gradcheck(l, wiggle(CT_DIMS(1, 3, 4, 3, 2)), false, 1e-6);
    ct_test_config_round_trip(l, "\"cropping\":[[1,1],[1,1],[1,1]]");
    ct_layer_free(l);
}

Test(layers_reshape, upsampling_nearest) {
    ct_layer *l = ct_test_layer("UpSampling1D", "{\"size\": 3}");
    CT_EXPECT(ct_layer_call(l, CT_F32(CT_DIMS(1, 2, 1), 1, 2), false), CT_FLOAT32,
              CT_DIMS(1, 6, 1), 0, 1, 1, 1, 2, 2, 2);
    ct_test_config_round_trip(l, "\"size\":3");
    ct_layer_free(l);
    /* Keras's docstring: UpSampling2D(size=(1, 2)) of arange(6) [2, 2, 1, 3]. */
    l = ct_test_layer("UpSampling2D", "{\"size\": [1, 2]}");
    CT_EXPECT(ct_layer_call(l, iota(CT_FLOAT32, CT_DIMS(2, 2, 1, 3)), false), CT_FLOAT32,
              CT_DIMS(2, 2, 2, 3), 0, 0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5, 6, 7, 8, 6, 7, 8, 9, 10,
              11, 9, 10, 11);
    ct_test_config_round_trip(l, "\"interpolation\":\"nearest\"");
    ct_layer_free(l);
    l = ct_test_layer("UpSampling2D", "{\"dtype\": \"float64\"}");
    ct_test_layer_gradcheck(l, wiggle(CT_DIMS(1, 2, 3, 2)), false, 1e-6);
    ct_test_config_round_trip(l, "\"size\":[2,2]");
    ct_layer_free(l);
    l = ct_test_layer("UpSampling3D", "{\"size\": [2, 1, 1]}");
    CT_EXPECT(ct_layer_call(l, CT_F32(CT_DIMS(1, 2, 1, 1, 1), 1, 2), false), CT_FLOAT32,
              CT_DIMS(1, 4, 1, 1, 1), 0, 1, 1, 2, 2);
    ct_test_config_round_trip(l, "\"size\":[2,1,1]");
    ct_layer_free(l);
    CT_FAILS(ct_layer_new("UpSampling2D", "{\"interpolation\": \"bicubic\"}"),
             "UpSampling2D 'up_sampling2d_2': argument 'interpolation': must be one of");
    CT_FAILS(ct_layer_new("UpSampling1D", "{\"size\": 0}"), "argument 'size'");
}

Test(layers_reshape, upsampling_bilinear) {
    /* tf.image.resize([[1, 2], [3, 4]], (4, 4), "bilinear") (half-pixel
     * centres, TF 2's default). */
    ct_layer *l = ct_test_layer("UpSampling2D", "{\"interpolation\": \"bilinear\"}");
    ct_tensor *y = ct_layer_call(l, CT_F32(CT_DIMS(1, 2, 2, 1), 1, 2, 3, 4), false);
    CT_EXPECT(y, CT_FLOAT32, CT_DIMS(1, 4, 4, 1), 1e-6, 1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5,
              2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4);
    ct_test_config_round_trip(l, "\"interpolation\":\"bilinear\"");
    ct_layer_free(l);
    /* Factor 3 along width of [0, 3]: positions -1/3, 0, 1/3, 2/3, 1, 4/3
     * -> 0, 0, 1, 2, 3, 3. */
    l = ct_test_layer("UpSampling2D", "{\"size\": [1, 3], \"interpolation\": \"bilinear\"}");
    CT_EXPECT(ct_layer_call(l, CT_F32(CT_DIMS(1, 1, 2, 1), 0, 3), false), CT_FLOAT32,
              CT_DIMS(1, 1, 6, 1), 1e-6, 0, 0, 1, 2, 3, 3);
    ct_layer_free(l);
    l = ct_test_layer("UpSampling2D",
                      "{\"size\": [2, 3], \"interpolation\": \"bilinear\", \"dtype\": "
                      "\"float64\", \"data_format\": \"channels_first\"}");
    ct_expect_shape(ct_layer_call(l, wiggle(CT_DIMS(1, 2, 2, 3)), false), CT_DIMS(1, 2, 4, 9));
    ct_test_layer_gradcheck(l, wiggle(CT_DIMS(1, 2, 2, 3)), false, 1e-6);
    ct_layer_free(l);
}
