/* Keras pooling layers: MaxPooling / AveragePooling 1D-3D (TF's 'same'
 * padding: total max((ceil(in/s) - 1) * s + p - in, 0), the smaller half
 * first; average pooling divides by the elements inside the input) against
 * reference loops in this file, and the global poolings. */
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(layers_pool, .init = ct_test_layer_begin, .fini = ct_test_end);

/* Distinct values (no ties, so max pooling is differentiable); one pattern
 * whatever the seed. */
static double distinct(int64_t i, int seed) { return (double)((i * 37) % 211) / 16.0 - 6.0; }

static ct_tensor *input(ct_dtype dt, int rank, const int64_t *shape, double **out) {
    return ct_test_pattern_with(distinct, dt, rank, shape, 0, out);
}

/* Reference pooling with 1- and 2-D as 3-D (size-1 leading dimensions). */
static double *ref_pool(int rank, bool max, const int64_t *xshape, const int64_t *p,
                        const int64_t *s, bool same, const double *x, int64_t *yshape) {
    int64_t I[3], P[3], S[3], O[3], B[3], n = xshape[0], c = xshape[rank + 1];
    for (int i = 0; i < 3; i++) {
        int j = i - (3 - rank);
        I[i] = j < 0 ? 1 : xshape[1 + j];
        P[i] = j < 0 ? 1 : p[j];
        S[i] = j < 0 ? 1 : s[j];
        O[i] = same ? (I[i] + S[i] - 1) / S[i] : (I[i] - P[i]) / S[i] + 1;
        int64_t tot = (O[i] - 1) * S[i] + P[i] - I[i];
        B[i] = same && tot > 0 ? tot / 2 : 0;
        if (j >= 0) yshape[1 + j] = O[i];
    }
    yshape[0] = n;
    yshape[rank + 1] = c;
    double *y = malloc((size_t)(n * O[0] * O[1] * O[2] * c) * sizeof *y);
    for (int64_t b = 0; b < n; b++)
        for (int64_t o0 = 0; o0 < O[0]; o0++)
            for (int64_t o1 = 0; o1 < O[1]; o1++)
                for (int64_t o2 = 0; o2 < O[2]; o2++)
                    for (int64_t ch = 0; ch < c; ch++) {
                        double acc = max ? -INFINITY : 0;
                        int64_t cnt = 0;
                        for (int64_t a = 0; a < P[0]; a++)
                            for (int64_t bb = 0; bb < P[1]; bb++)
                                for (int64_t cc = 0; cc < P[2]; cc++) {
                                    int64_t i0 = o0 * S[0] - B[0] + a, i1 = o1 * S[1] - B[1] + bb,
                                            i2 = o2 * S[2] - B[2] + cc;
                                    if (i0 < 0 || i0 >= I[0] || i1 < 0 || i1 >= I[1] || i2 < 0 ||
                                        i2 >= I[2])
                                        continue;
                                    double v =
                                        x[(((b * I[0] + i0) * I[1] + i1) * I[2] + i2) * c + ch];
                                    acc = max ? fmax(acc, v) : acc + v;
                                    cnt++;
                                }
                        y[(((b * O[0] + o0) * O[1] + o1) * O[2] + o2) * c + ch] =
                            max ? acc : acc / (double)cnt;
                    }
    return y;
}

static void check_pool(const char *cls, const char *cfg, int rank, const int64_t *xshape,
                       const int64_t *p, const int64_t *s, bool same) {
    bool max = strstr(cls, "Max") != NULL;
    ct_layer *l = ct_test_layer(cls, cfg);
    double *xv;
    ct_tensor *x = input(CT_FLOAT64, rank + 2, xshape, &xv);
    int64_t yshape[5];
    double *want = ref_pool(rank, max, xshape, p, s, same, xv, yshape);
    ct_tensor *y = ct_layer_call(l, x, false);
    CT_OK(y);
    ct_expect(y, CT_FLOAT64, rank + 2, yshape, want, 1e-12);
    ct_shape si = {.rank = rank + 2}, so;
    memcpy(si.dim, xshape, (size_t)(rank + 2) * sizeof si.dim[0]);
    si.dim[0] = -1;
    CT_STATUS_OK(ct_layer_output_shape(l, 1, &si, &so));
    cr_expect_eq(so.dim[0], -1);
    for (int i = 1; i < rank + 2; i++) cr_expect_eq(so.dim[i], yshape[i], "dim %d", i);
    ct_test_layer_gradcheck(l, x, true, 1e-6);
    free(xv);
    free(want);
    ct_layer_free(l);
}

Test(layers_pool, max_pooling2d_defaults_hand_computed) {
    /* 4x4 of 0..15: pool 2, strides 2 (Keras's default = pool_size). */
    ct_layer *l = ct_test_layer("MaxPooling2D", NULL);
    ct_tensor *x = ct_reshape(ct_range(0, 16, 1, CT_FLOAT32), CT_DIMS(1, 4, 4, 1));
    CT_EXPECT(ct_layer_call(l, x, false), CT_FLOAT32, CT_DIMS(1, 2, 2, 1), 0, 5, 7, 13, 15);
    ct_layer_free(l);
    /* Average of each 2x2 block; the odd last row/column is dropped (valid). */
    l = ct_test_layer("AveragePooling2D", "{\"pool_size\": [2, 2]}");
    x = ct_reshape(ct_range(0, 25, 1, CT_FLOAT32), CT_DIMS(1, 5, 5, 1));
    CT_EXPECT(ct_layer_call(l, x, false), CT_FLOAT32, CT_DIMS(1, 2, 2, 1), 1e-6, 3, 5, 13, 15);
    ct_layer_free(l);
    /* same on 5x5, stride 2: padding 1 after each axis only; the corner
     * window holds just element 24, the bottom ones 20,21 / 22,23. */
    l = ct_test_layer("AveragePooling2D", "{\"padding\": \"same\"}");
    CT_EXPECT(ct_layer_call(l, x, false), CT_FLOAT32, CT_DIMS(1, 3, 3, 1), 1e-6, 3, 5, 6.5, 13,
              15, 16.5, 20.5, 22.5, 24);
    ct_layer_free(l);
}

Test(layers_pool, same_padding_stride2_on_odd_and_even_sizes) {
    const int64_t p3[2] = {3, 3}, s2[2] = {2, 2};
    const char *cfg = "{\"pool_size\": 3, \"strides\": 2, \"padding\": \"same\", \"dtype\": "
                      "\"float64\"}";
    check_pool("MaxPooling2D", cfg, 2, (int64_t[]){2, 5, 5, 2}, p3, s2, true);
    check_pool("MaxPooling2D", cfg, 2, (int64_t[]){1, 6, 6, 2}, p3, s2, true);
    check_pool("AveragePooling2D", cfg, 2, (int64_t[]){2, 5, 6, 2}, p3, s2, true);
    check_pool("AveragePooling2D", cfg, 2, (int64_t[]){1, 6, 7, 1}, p3, s2, true);
    /* An even pool: 2 on 5 with stride 2 pads 1 after. */
    check_pool("AveragePooling2D",
               "{\"pool_size\": 2, \"padding\": \"same\", \"dtype\": \"float64\"}", 2,
               (int64_t[]){1, 5, 4, 1}, (int64_t[]){2, 2}, (int64_t[]){2, 2}, true);
}

Test(layers_pool, valid_with_strides_and_1d_3d) {
    check_pool("MaxPooling2D",
               "{\"pool_size\": [3, 2], \"strides\": 1, \"dtype\": \"float64\"}", 2,
               (int64_t[]){1, 5, 4, 3}, (int64_t[]){3, 2}, (int64_t[]){1, 1}, false);
    check_pool("MaxPooling1D", "{\"dtype\": \"float64\"}", 1, (int64_t[]){2, 7, 3},
               (int64_t[]){2}, (int64_t[]){2}, false);
    check_pool("AveragePooling1D",
               "{\"pool_size\": 3, \"strides\": 2, \"padding\": \"same\", \"dtype\": "
               "\"float64\"}",
               1, (int64_t[]){2, 8, 2}, (int64_t[]){3}, (int64_t[]){2}, true);
    check_pool("MaxPooling3D", "{\"padding\": \"same\", \"dtype\": \"float64\"}", 3,
               (int64_t[]){1, 3, 4, 5, 2}, (int64_t[]){2, 2, 2}, (int64_t[]){2, 2, 2}, true);
    check_pool("AveragePooling3D",
               "{\"pool_size\": [2, 1, 3], \"strides\": [1, 1, 2], \"dtype\": \"float64\"}", 3,
               (int64_t[]){1, 3, 2, 7, 2}, (int64_t[]){2, 1, 3}, (int64_t[]){1, 1, 2}, false);
}

Test(layers_pool, global_pooling) {
    /* [2, 3, 2]: batch 0 = 0..5, batch 1 = 6..11. */
    ct_tensor *x = ct_reshape(ct_range(0, 12, 1, CT_FLOAT32), CT_DIMS(2, 3, 2));
    ct_layer *l = ct_test_layer("GlobalAveragePooling1D", NULL);
    CT_EXPECT(ct_layer_call(l, x, false), CT_FLOAT32, CT_DIMS(2, 2), 1e-6, 2, 3, 8, 9);
    ct_layer_free(l);
    l = ct_test_layer("GlobalMaxPooling1D", "{\"keepdims\": true}");
    CT_EXPECT(ct_layer_call(l, x, false), CT_FLOAT32, CT_DIMS(2, 1, 2), 0, 4, 5, 10, 11);
    ct_layer_free(l);

    ct_tensor *x4 = ct_reshape(ct_range(0, 16, 1, CT_FLOAT32), CT_DIMS(2, 2, 2, 2));
    l = ct_test_layer("GlobalAveragePooling2D", "{\"keepdims\": true}");
    CT_EXPECT(ct_layer_call(l, x4, false), CT_FLOAT32, CT_DIMS(2, 1, 1, 2), 1e-6, 3, 4, 11, 12);
    ct_shape si = {.rank = 4, .dim = {-1, 7, 9, 5}}, so;
    CT_STATUS_OK(ct_layer_output_shape(l, 1, &si, &so));
    cr_expect(so.rank == 4 && so.dim[0] == -1 && so.dim[1] == 1 && so.dim[2] == 1 &&
              so.dim[3] == 5);
    ct_layer_free(l);
    l = ct_test_layer("GlobalMaxPooling2D", NULL);
    CT_EXPECT(ct_layer_call(l, x4, false), CT_FLOAT32, CT_DIMS(2, 2), 0, 6, 7, 14, 15);
    CT_STATUS_OK(ct_layer_output_shape(l, 1, &si, &so));
    cr_expect(so.rank == 2 && so.dim[0] == -1 && so.dim[1] == 5);
    ct_layer_free(l);

    ct_tensor *x5 = ct_reshape(ct_range(0, 16, 1, CT_FLOAT32), CT_DIMS(1, 2, 2, 2, 2));
    l = ct_test_layer("GlobalAveragePooling3D", NULL);
    CT_EXPECT(ct_layer_call(l, x5, false), CT_FLOAT32, CT_DIMS(1, 2), 1e-6, 7, 8);
    ct_layer_free(l);
    l = ct_test_layer("GlobalMaxPool3D", NULL); /* Keras's alias */
    CT_EXPECT(ct_layer_call(l, x5, false), CT_FLOAT32, CT_DIMS(1, 2), 0, 14, 15);
    cr_expect_str_eq(ct_layer_class_name(l), "GlobalMaxPooling3D");
    ct_layer_free(l);

    /* Gradients in float64. */
    l = ct_test_layer("GlobalAveragePooling2D", "{\"dtype\": \"float64\"}");
    ct_tensor *xg = input(CT_FLOAT64, 4, (int64_t[]){2, 3, 2, 2}, NULL);
    ct_test_layer_gradcheck(l, xg, true, 1e-6);
    ct_layer_free(l);
    l = ct_test_layer("GlobalMaxPooling1D", "{\"dtype\": \"float64\"}");
    xg = input(CT_FLOAT64, 3, (int64_t[]){2, 5, 3}, NULL);
    ct_test_layer_gradcheck(l, xg, true, 1e-6);
    ct_layer_free(l);
}

static void round_trip(const char *cls, const char *cfg, int rank, const int64_t *xshape,
                       const char *must_have) {
    ct_layer *a = ct_test_layer(cls, cfg);
    ct_test_config_has(a, must_have);
    ct_test_layer_round_trip_output(a, input(CT_FLOAT32, rank, xshape, NULL));
    ct_layer_free(a);
}

Test(layers_pool, config_round_trip) {
    round_trip("MaxPooling2D", "{\"pool_size\": [3, 2]}", 4, (int64_t[]){1, 6, 6, 2},
               "\"pool_size\":[3,2],\"padding\":\"valid\",\"strides\":[3,2],\"data_format\":"
               "\"channels_last\"");
    round_trip("AveragePooling1D", "{\"pool_size\": 3, \"strides\": 1, \"padding\": \"Same\"}", 3,
               (int64_t[]){2, 5, 2}, "\"strides\":[1]");
    round_trip("MaxPooling3D", "{\"strides\": [1, 2, 1]}", 5, (int64_t[]){1, 3, 4, 3, 1},
               "\"pool_size\":[2,2,2]");
    round_trip("GlobalAveragePooling2D", "{\"keepdims\": true}", 4, (int64_t[]){2, 3, 3, 2},
               "\"keepdims\":true");
    round_trip("GlobalMaxPooling1D", NULL, 3, (int64_t[]){2, 3, 2}, "\"keepdims\":false");
    /* Keras 2's alias and a null strides. */
    ct_layer *l = ct_layer_from_config("{\"class_name\": \"MaxPool2D\", \"config\": "
                                       "{\"pool_size\": [2, 2], \"strides\": null}}");
    cr_assert_not_null(l, "%s", ct_last_error());
    cr_expect_str_eq(ct_layer_class_name(l), "MaxPooling2D");
    cr_expect(!strncmp(ct_layer_name(l), "max_pooling2d", 13), "%s", ct_layer_name(l));
    ct_layer_free(l);
}

Test(layers_pool, bad_configs_and_inputs) {
    CT_FAILS(ct_layer_new("MaxPooling2D", "{\"pool_size\": 0, \"name\": \"p\"}"),
             "MaxPooling2D 'p': argument 'pool_size'");
    CT_FAILS(ct_layer_new("MaxPooling2D", "{\"strides\": [1, -1]}"), "'strides'");
    CT_FAILS(ct_layer_new("MaxPooling2D", "{\"pool_size\": [2, 2, 2]}"), "'pool_size'");
    CT_FAILS(ct_layer_new("AveragePooling1D", "{\"padding\": \"causal\"}"), "'padding'");
    CT_FAILS(ct_layer_new("AveragePooling2D", "{\"data_format\": \"channels_first\"}"),
             "channels_last");
    CT_FAILS(ct_layer_new("GlobalAveragePooling2D", "{\"data_format\": \"channels_first\"}"),
             "channels_last");
    CT_FAILS(ct_layer_new("MaxPooling2D", "{\"pool\": 2}"), "unknown argument 'pool'");
    CT_FAILS(ct_layer_new("GlobalMaxPooling2D", "{\"pool_size\": 2}"),
             "unknown argument 'pool_size'");

    ct_layer *l = ct_test_layer("MaxPooling2D", "{\"name\": \"p\", \"pool_size\": 3}");
    CT_FAILS(ct_layer_call(l, ct_ones(CT_FLOAT32, CT_DIMS(1, 4, 4)), false),
             "MaxPooling2D 'p': expects an input of rank 4");
    CT_FAILS(ct_layer_call(l, ct_ones(CT_FLOAT32, CT_DIMS(1, 2, 4, 1)), false),
             "output would be empty");
    CT_OK(ct_layer_call(l, ct_ones(CT_FLOAT32, CT_DIMS(1, 3, 3, 1)), false));
    CT_FAILS(ct_layer_call(l, ct_ones(CT_FLOAT32, CT_DIMS(1, 3, 3)), false), "rank 4");
    ct_layer_free(l);
    l = ct_test_layer("GlobalAveragePooling1D", "{\"name\": \"g\"}");
    CT_FAILS(ct_layer_call(l, ct_ones(CT_FLOAT32, CT_DIMS(2, 3, 4, 1)), false),
             "GlobalAveragePooling1D 'g': expects an input of rank 3");
    ct_layer_free(l);
}
