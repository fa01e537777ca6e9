/* Keras convolution layers: Conv1D/2D/3D (TF's 'same' arithmetic, causal,
 * dilation, groups), the transposed convolutions (Keras's
 * deconv_output_length with and without output_padding), DepthwiseConv and
 * SeparableConv. Values are checked against direct reference loops in
 * this file (the definitions of tf.nn.convolution and
 * tf.nn.conv_transpose with TF's padding rule: total max((ceil(in/s) - 1)
 * * s + (k - 1) * d + 1 - in, 0), the smaller half first), gradients by
 * finite differences in float64. */
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(layers_conv, .init = ct_test_layer_begin, .fini = ct_test_end);

/* ---- reference loops ------------------------------------------------------------ */

/* TF's 'same' padding before the data for one dimension. */
static int64_t same_before(int64_t in, int64_t k, int64_t s, int64_t d) {
    int64_t out = (in + s - 1) / s, tot = (out - 1) * s + (k - 1) * d + 1 - in;
    return tot > 0 ? tot / 2 : 0;
}

/* Geometry of a reference convolution; 1- and 2-D ones are 3-D with size-1
 * leading dimensions (kernel 1, stride 1, no padding). */
typedef struct {
    int64_t n, in[3], c, k[3], f, s[3], d[3], pad[3], out[3], groups;
} geom;

static geom geom_of(int rank, int64_t n, const int64_t *in, int64_t c, const int64_t *k,
                    int64_t f, const int64_t *s, const int64_t *d, const char *padding,
                    int64_t groups) {
    geom g = {.n = n, .c = c, .f = f, .groups = groups};
    for (int i = 0; i < 3; i++) {
        int j = i - (3 - rank);
        g.in[i] = j < 0 ? 1 : in[j];
        g.k[i] = j < 0 ? 1 : k[j];
        g.s[i] = j < 0 ? 1 : s[j];
        g.d[i] = j < 0 ? 1 : d[j];
        int64_t kd = (g.k[i] - 1) * g.d[i] + 1;
        if (!strcmp(padding, "same")) {
            g.pad[i] = same_before(g.in[i], g.k[i], g.s[i], g.d[i]);
            g.out[i] = (g.in[i] + g.s[i] - 1) / g.s[i];
        } else if (!strcmp(padding, "causal")) {
            g.pad[i] = kd - 1;
            g.out[i] = (g.in[i] + g.s[i] - 1) / g.s[i];
        } else {
            g.pad[i] = 0;
            g.out[i] = (g.in[i] - kd) / g.s[i] + 1;
        }
    }
    return g;
}

/* y = conv(x, kernel [k..., c / groups, f]) + bias (bias may be NULL). */
static double *ref_conv(const geom *g, const double *x, const double *k, const double *bias) {
    int64_t cg = g->c / g->groups, fg = g->f / g->groups;
    int64_t no = g->n * g->out[0] * g->out[1] * g->out[2] * g->f;
    double *y = calloc((size_t)no, sizeof *y);
    for (int64_t b = 0; b < g->n; b++)
        for (int64_t o0 = 0; o0 < g->out[0]; o0++)
            for (int64_t o1 = 0; o1 < g->out[1]; o1++)
                for (int64_t o2 = 0; o2 < g->out[2]; o2++)
                    for (int64_t f = 0; f < g->f; f++) {
                        double acc = bias ? bias[f] : 0;
                        int64_t grp = f / fg;
                        for (int64_t a = 0; a < g->k[0]; a++)
                            for (int64_t bb = 0; bb < g->k[1]; bb++)
                                for (int64_t cc = 0; cc < g->k[2]; cc++) {
                                    int64_t i0 = o0 * g->s[0] - g->pad[0] + a * g->d[0];
                                    int64_t i1 = o1 * g->s[1] - g->pad[1] + bb * g->d[1];
                                    int64_t i2 = o2 * g->s[2] - g->pad[2] + cc * g->d[2];
                                    if (i0 < 0 || i0 >= g->in[0] || i1 < 0 || i1 >= g->in[1] ||
                                        i2 < 0 || i2 >= g->in[2])
                                        continue;
                                    for (int64_t ci = 0; ci < cg; ci++) {
                                        int64_t xc = grp * cg + ci;
                                        double xv = x[(((b * g->in[0] + i0) * g->in[1] + i1) *
                                                           g->in[2] + i2) * g->c + xc];
                                        double kv = k[(((a * g->k[1] + bb) * g->k[2] + cc) * cg +
                                                       ci) * g->f + f];
                                        acc += xv * kv;
                                    }
                                }
                        y[(((b * g->out[0] + o0) * g->out[1] + o1) * g->out[2] + o2) * g->f + f] =
                            acc;
                    }
    return y;
}

/* The output of layer l on x checked against want (layer dtype). */
static void expect_values(ct_tensor *y, ct_dtype dt, int rank, const int64_t *shape,
                          const double *want, double tol) {
    ct_expect(y, dt, rank, shape, want, tol);
}

/* A conv layer on a pattern input compared with ref_conv. */
static void check_conv(const char *cls, const char *cfg, int rank, int64_t n, const int64_t *in,
                       int64_t c, const int64_t *k, int64_t f, const int64_t *s,
                       const int64_t *d, const char *padding, int64_t groups, bool bias) {
    ct_layer *l = ct_test_layer(cls, cfg);
    int64_t xshape[5] = {n};
    memcpy(xshape + 1, in, (size_t)rank * sizeof in[0]);
    xshape[rank + 1] = c;
    ct_test_build(l, rank + 2, xshape);
    double *kv = ct_test_fill_weight(l, 0, 1), *bv = bias ? ct_test_fill_weight(l, 1, 2) : NULL,
           *xv;
    ct_tensor *x = ct_test_pattern(CT_FLOAT64, rank + 2, xshape, 3, &xv);
    geom g = geom_of(rank, n, in, c, k, f, s, d, padding, groups);
    double *want = ref_conv(&g, xv, kv, bv);
    int64_t yshape[5] = {n};
    for (int i = 0; i < rank; i++) yshape[1 + i] = g.out[3 - rank + i];
    yshape[rank + 1] = f;
    ct_tensor *y = ct_layer_call(l, x, false);
    CT_OK(y);
    expect_values(y, CT_FLOAT64, rank + 2, yshape, want, 1e-12);
    /* The static output shape agrees, with an unknown batch too. */
    ct_shape si = {.rank = rank + 2}, so;
    memcpy(si.dim, xshape, sizeof xshape);
    si.dim[0] = -1;
    CT_STATUS_OK(ct_layer_output_shape(l, 1, &si, &so));
    cr_expect_eq(so.rank, rank + 2);
    cr_expect_eq(so.dim[0], -1);
    for (int i = 1; i < rank + 2; i++) cr_expect_eq(so.dim[i], yshape[i], "dim %d", i);
    free(kv), free(bv), free(xv), free(want);
    ct_layer_free(l);
}

/* ---- Conv1D / 2D / 3D ------------------------------------------------------------ */

Test(layers_conv, conv2d_same_stride2_on_odd_and_even_sizes) {
    /* 5 -> 3 (total padding 2: 1 before, 1 after), 6 -> 3 (total 1: 0
     * before, 1 after), and a 5x6 image mixing both. */
    const char *cfg = "{\"filters\": 2, \"kernel_size\": 3, \"strides\": 2, \"padding\": "
                      "\"same\", \"dtype\": \"float64\", \"bias_initializer\": \"ones\"}";
    const int64_t k[2] = {3, 3}, s[2] = {2, 2}, d[2] = {1, 1};
    check_conv("Conv2D", cfg, 2, 2, (int64_t[]){5, 5}, 3, k, 2, s, d, "same", 1, true);
    check_conv("Conv2D", cfg, 2, 1, (int64_t[]){6, 6}, 3, k, 2, s, d, "same", 1, true);
    check_conv("Conv2D", cfg, 2, 1, (int64_t[]){5, 6}, 1, k, 2, s, d, "same", 1, true);
    /* An even kernel: 4 on 7 with stride 2 pads 3 (1 before, 2 after). */
    check_conv("Conv2D",
               "{\"filters\": 3, \"kernel_size\": [4, 2], \"strides\": [2, 1], \"padding\": "
               "\"same\", \"dtype\": \"float64\"}",
               2, 1, (int64_t[]){7, 4}, 2, (int64_t[]){4, 2}, 3, (int64_t[]){2, 1}, d, "same", 1,
               true);
}

Test(layers_conv, conv2d_valid_with_dilation_and_groups) {
    check_conv("Conv2D",
               "{\"filters\": 2, \"kernel_size\": [3, 2], \"dilation_rate\": [2, 1], "
               "\"dtype\": \"float64\"}",
               2, 2, (int64_t[]){7, 5}, 3, (int64_t[]){3, 2}, 2, (int64_t[]){1, 1},
               (int64_t[]){2, 1}, "valid", 1, true);
    /* groups 2: input channels 0-1 feed filters 0-2, channels 2-3 filters 3-5. */
    check_conv("Conv2D",
               "{\"filters\": 6, \"kernel_size\": 2, \"groups\": 2, \"strides\": 2, \"padding\": "
               "\"same\", \"dtype\": \"float64\"}",
               2, 2, (int64_t[]){5, 4}, 4, (int64_t[]){2, 2}, 6, (int64_t[]){2, 2},
               (int64_t[]){1, 1}, "same", 2, true);
}

Test(layers_conv, conv1d_and_conv3d) {
    check_conv("Conv1D",
               "{\"filters\": 3, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\", "
               "\"dtype\": \"float64\"}",
               1, 2, (int64_t[]){8}, 2, (int64_t[]){3}, 3, (int64_t[]){2}, (int64_t[]){1}, "same",
               1, true);
    check_conv("Conv1D",
               "{\"filters\": 4, \"kernel_size\": 2, \"groups\": 2, \"use_bias\": false, "
               "\"dtype\": \"float64\"}",
               1, 1, (int64_t[]){5}, 6, (int64_t[]){2}, 4, (int64_t[]){1}, (int64_t[]){1}, "valid",
               2, false);
    check_conv("Conv3D",
               "{\"filters\": 2, \"kernel_size\": [2, 3, 2], \"strides\": [2, 2, 1], "
               "\"padding\": \"same\", \"dtype\": \"float64\"}",
               3, 1, (int64_t[]){3, 5, 4}, 2, (int64_t[]){2, 3, 2}, 2, (int64_t[]){2, 2, 1},
               (int64_t[]){1, 1, 1}, "same", 1, true);
    check_conv("Conv3D", "{\"filters\": 1, \"kernel_size\": 2, \"dtype\": \"float64\"}", 3, 1,
               (int64_t[]){3, 3, 3}, 1, (int64_t[]){2, 2, 2}, 1, (int64_t[]){1, 1, 1},
               (int64_t[]){1, 1, 1}, "valid", 1, true);
}

Test(layers_conv, conv1d_causal) {
    /* Hand-computed: kernel [1, 1, 1] over [1, 2, 3, 4] left-padded by 2
     * gives running sums of three: [1, 3, 6, 9]. */
    ct_layer *l =
        ct_test_layer("Conv1D", "{\"filters\": 1, \"kernel_size\": 3, \"padding\": \"causal\", "
                                "\"use_bias\": false, \"kernel_initializer\": \"ones\"}");
    ct_tensor *x = CT_F32(CT_DIMS(1, 4, 1), 1, 2, 3, 4);
    CT_EXPECT(ct_layer_call(l, x, false), CT_FLOAT32, CT_DIMS(1, 4, 1), 1e-6, 1, 3, 6, 9);
    ct_layer_free(l);
    /* Dilation 2 pads (3 - 1) * 2 = 4 on the left: y[t] = x[t] + x[t-2] + x[t-4]. */
    l = ct_test_layer("Conv1D",
                      "{\"filters\": 1, \"kernel_size\": 3, \"padding\": \"causal\", "
                      "\"dilation_rate\": 2, \"use_bias\": false, \"kernel_initializer\": "
                      "\"ones\"}");
    x = CT_F32(CT_DIMS(1, 6, 1), 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_layer_call(l, x, false), CT_FLOAT32, CT_DIMS(1, 6, 1), 1e-6, 1, 2, 4, 6, 9, 12);
    ct_layer_free(l);
    /* Against the reference, with channels, stride and a bias. */
    check_conv("Conv1D",
               "{\"filters\": 2, \"kernel_size\": 3, \"padding\": \"causal\", \"dilation_rate\": "
               "2, \"dtype\": \"float64\"}",
               1, 2, (int64_t[]){7}, 3, (int64_t[]){3}, 2, (int64_t[]){1}, (int64_t[]){2},
               "causal", 1, true);
    check_conv("Conv1D",
               "{\"filters\": 2, \"kernel_size\": 2, \"padding\": \"causal\", \"strides\": 2, "
               "\"dtype\": \"float64\"}",
               1, 1, (int64_t[]){7}, 1, (int64_t[]){2}, 2, (int64_t[]){2}, (int64_t[]){1},
               "causal", 1, true);
}

Test(layers_conv, float32_with_activation_and_integer_input) {
    /* relu(conv) with a float32 layer; an int32 input is cast to float32. */
    ct_layer *l =
        ct_test_layer("Conv2D", "{\"filters\": 1, \"kernel_size\": 2, \"activation\": \"relu\", "
                                "\"kernel_initializer\": \"ones\", \"bias_initializer\": "
                                "{\"class_name\": \"Constant\", \"config\": {\"value\": -10}}}");
    ct_tensor *x = CT_I32(CT_DIMS(1, 3, 3, 1), 1, 2, 3, 4, 5, 6, 7, 8, 9);
    /* Window sums 12, 16, 24, 28 minus 10. */
    CT_EXPECT(ct_layer_call(l, x, false), CT_FLOAT32, CT_DIMS(1, 2, 2, 1), 1e-6, 2, 6, 14, 18);
    ct_tensor *x2 = CT_F32(CT_DIMS(1, 2, 2, 1), 1, 1, 1, 1);
    CT_EXPECT(ct_layer_call(l, x2, false), CT_FLOAT32, CT_DIMS(1, 1, 1, 1), 1e-6, 0);
    ct_layer_free(l);
}

Test(layers_conv, conv_gradients) {
    ct_layer *l =
        ct_test_layer("Conv2D", "{\"filters\": 4, \"kernel_size\": [3, 2], \"strides\": 2, "
                                "\"padding\": \"same\", \"groups\": 2, \"dtype\": \"float64\", "
                                "\"activation\": \"tanh\"}");
    ct_tensor *x = ct_test_pattern(CT_FLOAT64, 4, (int64_t[]){2, 5, 4, 2}, 5, NULL);
    ct_test_build(l, 4, (int64_t[]){2, 5, 4, 2});
    free(ct_test_fill_weight(l, 0, 1));
    free(ct_test_fill_weight(l, 1, 2));
    ct_test_layer_gradcheck(l, x, true, 1e-6);
    ct_layer_free(l);

    l = ct_test_layer("Conv1D", "{\"filters\": 2, \"kernel_size\": 3, \"padding\": \"causal\", "
                                "\"dilation_rate\": 2, \"dtype\": \"float64\"}");
    x = ct_test_pattern(CT_FLOAT64, 3, (int64_t[]){2, 6, 2}, 4, NULL);
    ct_test_build(l, 3, (int64_t[]){2, 6, 2});
    free(ct_test_fill_weight(l, 0, 1));
    free(ct_test_fill_weight(l, 1, 2));
    ct_test_layer_gradcheck(l, x, true, 1e-6);
    ct_layer_free(l);

    l = ct_test_layer("Conv3D", "{\"filters\": 2, \"kernel_size\": 2, \"dtype\": \"float64\"}");
    x = ct_test_pattern(CT_FLOAT64, 5, (int64_t[]){1, 3, 3, 2, 2}, 4, NULL);
    ct_test_build(l, 5, (int64_t[]){1, 3, 3, 2, 2});
    free(ct_test_fill_weight(l, 0, 1));
    ct_test_layer_gradcheck(l, x, true, 1e-6);
    ct_layer_free(l);
}

/* ---- transposed convolutions ---------------------------------------------------- */

/* conv_transpose(x, kernel [k..., f, c]) + bias: every input element
 * scatters into o = i * s + kk * d - pad, on an output of size out. */
static double *ref_transpose(int rank, int64_t n, const int64_t *in, int64_t c, const int64_t *k,
                             int64_t f, const int64_t *s, const int64_t *d, const int64_t *out,
                             const int64_t *pad, const double *x, const double *kern,
                             const double *bias) {
    int64_t I[3], K[3], S[3], D[3], O[3], P[3];
    for (int i = 0; i < 3; i++) {
        int j = i - (3 - rank);
        I[i] = j < 0 ? 1 : in[j];
        K[i] = j < 0 ? 1 : k[j];
        S[i] = j < 0 ? 1 : s[j];
        D[i] = j < 0 ? 1 : d[j];
        O[i] = j < 0 ? 1 : out[j];
        P[i] = j < 0 ? 0 : pad[j];
    }
    int64_t no = n * O[0] * O[1] * O[2] * f;
    double *y = calloc((size_t)no, sizeof *y);
    for (int64_t b = 0; b < n; b++)
        for (int64_t i0 = 0; i0 < I[0]; i0++)
            for (int64_t i1 = 0; i1 < I[1]; i1++)
                for (int64_t i2 = 0; i2 < I[2]; i2++)
                    for (int64_t a = 0; a < K[0]; a++)
                        for (int64_t bb = 0; bb < K[1]; bb++)
                            for (int64_t cc = 0; cc < K[2]; cc++) {
                                int64_t o0 = i0 * S[0] + a * D[0] - P[0];
                                int64_t o1 = i1 * S[1] + bb * D[1] - P[1];
                                int64_t o2 = i2 * S[2] + cc * D[2] - P[2];
                                if (o0 < 0 || o0 >= O[0] || o1 < 0 || o1 >= O[1] || o2 < 0 ||
                                    o2 >= O[2])
                                    continue;
                                for (int64_t fo = 0; fo < f; fo++)
                                    for (int64_t ci = 0; ci < c; ci++)
                                        y[(((b * O[0] + o0) * O[1] + o1) * O[2] + o2) * f + fo] +=
                                            x[(((b * I[0] + i0) * I[1] + i1) * I[2] + i2) * c +
                                              ci] *
                                            kern[(((a * K[1] + bb) * K[2] + cc) * f + fo) * c + ci];
                            }
    if (bias)
        for (int64_t i = 0; i < no; i++) y[i] += bias[i % f];
    return y;
}

/* Keras's output length and TF's padding before the data. */
static void transpose_geom(int64_t in, int64_t k, int64_t s, int64_t d, bool same, int64_t op,
                           int64_t *out, int64_t *pad) {
    int64_t kd = (k - 1) * d + 1;
    if (!same) *out = (in - 1) * s + kd + (op >= 0 ? op : (kd > s ? kd : s) - kd);
    else *out = op >= 0 ? (in - 1) * s + kd % 2 + op : in * s;
    int64_t tot = same ? (in - 1) * s + kd - *out : 0;
    *pad = tot > 0 ? tot / 2 : 0;
}

static void check_transpose(const char *cls, const char *cfg, int rank, int64_t n,
                            const int64_t *in, int64_t c, const int64_t *k, int64_t f,
                            const int64_t *s, const int64_t *d, bool same, const int64_t *op,
                            const int64_t *want_out) {
    ct_layer *l = ct_test_layer(cls, cfg);
    int64_t xshape[5] = {n};
    memcpy(xshape + 1, in, (size_t)rank * sizeof in[0]);
    xshape[rank + 1] = c;
    ct_test_build(l, rank + 2, xshape);
    double *kv = ct_test_fill_weight(l, 0, 1), *bv = ct_test_fill_weight(l, 1, 2), *xv;
    ct_tensor *x = ct_test_pattern(CT_FLOAT64, rank + 2, xshape, 3, &xv);
    int64_t out[3], pad[3], yshape[5] = {n};
    for (int i = 0; i < rank; i++) {
        transpose_geom(in[i], k[i], s[i], d[i], same, op ? op[i] : -1, &out[i], &pad[i]);
        cr_assert_eq(out[i], want_out[i], "reference output size %lld, expected %lld",
                     (long long)out[i], (long long)want_out[i]);
        yshape[1 + i] = out[i];
    }
    yshape[rank + 1] = f;
    double *want = ref_transpose(rank, n, in, c, k, f, s, d, out, pad, xv, kv, bv);
    ct_tensor *y = ct_layer_call(l, x, false);
    CT_OK(y);
    expect_values(y, CT_FLOAT64, rank + 2, yshape, want, 1e-12);
    ct_shape si = {.rank = rank + 2}, so;
    memcpy(si.dim, xshape, sizeof xshape);
    CT_STATUS_OK(ct_layer_output_shape(l, 1, &si, &so));
    for (int i = 0; i < rank + 2; i++) cr_expect_eq(so.dim[i], yshape[i], "dim %d", i);
    free(kv), free(bv), free(xv), free(want);
    ct_layer_free(l);
}

Test(layers_conv, conv2d_transpose_output_sizes_and_values) {
    const int64_t in[2] = {3, 3}, s2[2] = {2, 2}, d1[2] = {1, 1};
    /* same: in * s = 6; valid: (3 - 1) * 2 + 3 = 7. */
    check_transpose("Conv2DTranspose",
                    "{\"filters\": 2, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\", "
                    "\"dtype\": \"float64\"}",
                    2, 2, in, 2, (int64_t[]){3, 3}, 2, s2, d1, true, NULL, (int64_t[]){6, 6});
    check_transpose("Conv2DTranspose",
                    "{\"filters\": 2, \"kernel_size\": 3, \"strides\": 2, \"dtype\": \"float64\"}",
                    2, 1, in, 2, (int64_t[]){3, 3}, 2, s2, d1, false, NULL, (int64_t[]){7, 7});
    /* valid with a kernel smaller than the stride: (3 - 1) * 3 + max(2, 3) = 9. */
    check_transpose("Conv2DTranspose",
                    "{\"filters\": 1, \"kernel_size\": 2, \"strides\": 3, \"dtype\": \"float64\"}",
                    2, 1, in, 1, (int64_t[]){2, 2}, 1, (int64_t[]){3, 3}, d1, false, NULL,
                    (int64_t[]){9, 9});
    /* output_padding: same with kernel 4 gives (3 - 1) * 2 + 0 + 1 = 5;
     * valid with kernel 3 gives (3 - 1) * 2 + 3 + 1 = 8. */
    check_transpose("Conv2DTranspose",
                    "{\"filters\": 2, \"kernel_size\": 4, \"strides\": 2, \"padding\": \"same\", "
                    "\"output_padding\": 1, \"dtype\": \"float64\"}",
                    2, 1, in, 3, (int64_t[]){4, 4}, 2, s2, d1, true, (int64_t[]){1, 1},
                    (int64_t[]){5, 5});
    check_transpose("Conv2DTranspose",
                    "{\"filters\": 2, \"kernel_size\": 3, \"strides\": 2, \"output_padding\": "
                    "[1, 0], \"dtype\": \"float64\"}",
                    2, 1, in, 2, (int64_t[]){3, 3}, 2, s2, d1, false, (int64_t[]){1, 0},
                    (int64_t[]){8, 7});
    /* Dilation 2 with stride 1, same: in * 1 = 3. */
    check_transpose("Conv2DTranspose",
                    "{\"filters\": 2, \"kernel_size\": 2, \"dilation_rate\": 2, \"padding\": "
                    "\"same\", \"dtype\": \"float64\"}",
                    2, 1, (int64_t[]){4, 3}, 2, (int64_t[]){2, 2}, 2, (int64_t[]){1, 1},
                    (int64_t[]){2, 2}, true, NULL, (int64_t[]){4, 3});
}

Test(layers_conv, conv1d_and_conv3d_transpose) {
    check_transpose("Conv1DTranspose",
                    "{\"filters\": 3, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\", "
                    "\"dtype\": \"float64\"}",
                    1, 2, (int64_t[]){4}, 2, (int64_t[]){3}, 3, (int64_t[]){2}, (int64_t[]){1},
                    true, NULL, (int64_t[]){8});
    check_transpose("Conv3DTranspose",
                    "{\"filters\": 2, \"kernel_size\": 2, \"strides\": [1, 2, 2], \"dtype\": "
                    "\"float64\"}",
                    3, 1, (int64_t[]){2, 2, 3}, 2, (int64_t[]){2, 2, 2}, 2, (int64_t[]){1, 2, 2},
                    (int64_t[]){1, 1, 1}, false, NULL, (int64_t[]){3, 4, 6});
}

Test(layers_conv, transpose_gradients) {
    ct_layer *l =
        ct_test_layer("Conv2DTranspose", "{\"filters\": 2, \"kernel_size\": 3, \"strides\": 2, "
                                         "\"padding\": \"same\", \"dtype\": \"float64\"}");
    ct_tensor *x = ct_test_pattern(CT_FLOAT64, 4, (int64_t[]){1, 3, 2, 2}, 5, NULL);
    ct_test_build(l, 4, (int64_t[]){1, 3, 2, 2});
    free(ct_test_fill_weight(l, 0, 1));
    free(ct_test_fill_weight(l, 1, 2));
    ct_test_layer_gradcheck(l, x, true, 1e-6);
    ct_layer_free(l);
}

/* ---- depthwise and separable ------------------------------------------------------ */

/* Depthwise as a grouped convolution: channel c, multiplier m writes
 * output channel c * mult + m. Returns the kernel rearranged to
 * [k..., 1, c * mult] for ref_conv with groups = c. */
static double *depthwise_as_grouped(int64_t kn, int64_t c, int64_t mult, const double *dk) {
    double *g = malloc((size_t)(kn * c * mult) * sizeof *g);
    for (int64_t p = 0; p < kn; p++)
        for (int64_t ci = 0; ci < c; ci++)
            for (int64_t m = 0; m < mult; m++)
                g[p * c * mult + ci * mult + m] = dk[(p * c + ci) * mult + m];
    return g;
}

Test(layers_conv, depthwise_conv2d_and_1d) {
    for (int rank = 1; rank <= 2; rank++) {
        const char *cls = rank == 1 ? "DepthwiseConv1D" : "DepthwiseConv2D";
        ct_layer *l =
            ct_test_layer(cls, "{\"kernel_size\": 3, \"depth_multiplier\": 2, \"strides\": 2, "
                               "\"padding\": \"same\", \"dtype\": \"float64\"}");
        int64_t xshape[4] = {2, 5, 6, 3};
        if (rank == 1) xshape[2] = 3;
        int64_t in[2] = {5, 6}, c = 3, mult = 2;
        ct_test_build(l, rank + 2, xshape);
        cr_assert_eq(ct_layer_num_weights(l), 2);
        char want_name[64];
        snprintf(want_name, sizeof want_name, "%s/depthwise_kernel", ct_layer_name(l));
        cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, 0)), want_name);
        if (rank == 2)
            ct_expect_shape(ct_variable_value(ct_layer_weight(l, 0)), CT_DIMS(3, 3, 3, 2));
        else
            ct_expect_shape(ct_variable_value(ct_layer_weight(l, 0)), CT_DIMS(3, 3, 2));
        ct_expect_shape(ct_variable_value(ct_layer_weight(l, 1)), CT_DIMS(6));
        double *kv = ct_test_fill_weight(l, 0, 1), *bv = ct_test_fill_weight(l, 1, 2), *xv;
        ct_tensor *x = ct_test_pattern(CT_FLOAT64, rank + 2, xshape, 3, &xv);
        int64_t kn = rank == 1 ? 3 : 9;
        double *gk = depthwise_as_grouped(kn, c, mult, kv);
        int64_t k[2] = {3, 3}, s[2] = {2, 2}, d[2] = {1, 1};
        geom g = geom_of(rank, 2, in, c, k, c * mult, s, d, "same", c);
        double *want = ref_conv(&g, xv, gk, bv);
        int64_t yshape[4] = {2, 3, 3, 6};
        if (rank == 1) yshape[2] = 6;
        ct_tensor *y = ct_layer_call(l, x, false);
        CT_OK(y);
        expect_values(y, CT_FLOAT64, rank + 2, yshape, want, 1e-12);
        ct_test_layer_gradcheck(l, x, true, 1e-6);
        free(kv), free(bv), free(xv), free(gk), free(want);
        ct_layer_free(l);
    }
}

Test(layers_conv, separable_conv2d_and_1d) {
    for (int rank = 1; rank <= 2; rank++) {
        const char *cls = rank == 1 ? "SeparableConv1D" : "SeparableConv2D";
        ct_layer *l =
            ct_test_layer(cls, "{\"filters\": 4, \"kernel_size\": 2, \"depth_multiplier\": 2, "
                               "\"padding\": \"valid\", \"dtype\": \"float64\"}");
        int64_t xshape[4] = {1, 4, 3, 2};
        if (rank == 1) xshape[2] = 2;
        int64_t in[2] = {4, 3}, c = 2, mult = 2;
        ct_test_build(l, rank + 2, xshape);
        cr_assert_eq(ct_layer_num_weights(l), 3);
        const char *names[3] = {"depthwise_kernel", "pointwise_kernel", "bias"};
        for (int i = 0; i < 3; i++) {
            char want_name[64];
            snprintf(want_name, sizeof want_name, "%s/%s", ct_layer_name(l), names[i]);
            cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, i)), want_name);
        }
        if (rank == 2) {
            ct_expect_shape(ct_variable_value(ct_layer_weight(l, 0)), CT_DIMS(2, 2, 2, 2));
            ct_expect_shape(ct_variable_value(ct_layer_weight(l, 1)), CT_DIMS(1, 1, 4, 4));
        } else {
            ct_expect_shape(ct_variable_value(ct_layer_weight(l, 0)), CT_DIMS(2, 2, 2));
            ct_expect_shape(ct_variable_value(ct_layer_weight(l, 1)), CT_DIMS(1, 4, 4));
        }
        ct_expect_shape(ct_variable_value(ct_layer_weight(l, 2)), CT_DIMS(4));
        double *dk = ct_test_fill_weight(l, 0, 1), *pk = ct_test_fill_weight(l, 1, 4),
               *bv = ct_test_fill_weight(l, 2, 2);
        double *xv;
        ct_tensor *x = ct_test_pattern(CT_FLOAT64, rank + 2, xshape, 3, &xv);
        int64_t kn = rank == 1 ? 2 : 4;
        double *gk = depthwise_as_grouped(kn, c, mult, dk);
        int64_t k[2] = {2, 2}, s[2] = {1, 1}, d[2] = {1, 1}, k1[2] = {1, 1};
        geom g1 = geom_of(rank, 1, in, c, k, c * mult, s, d, "valid", c);
        double *mid = ref_conv(&g1, xv, gk, NULL);
        int64_t mid_in[2] = {g1.out[1], g1.out[2]};
        if (rank == 1) mid_in[0] = g1.out[2];
        geom g2 = geom_of(rank, 1, mid_in, c * mult, k1, 4, s, d, "valid", 1);
        double *want = ref_conv(&g2, mid, pk, bv);
        int64_t yshape[4] = {1, 3, 2, 4};
        if (rank == 1) yshape[2] = 4;
        ct_tensor *y = ct_layer_call(l, x, false);
        CT_OK(y);
        expect_values(y, CT_FLOAT64, rank + 2, yshape, want, 1e-12);
        ct_test_layer_gradcheck(l, x, true, 1e-6);
        free(dk), free(pk), free(bv), free(xv), free(gk), free(mid), free(want);
        ct_layer_free(l);
    }
}

/* ---- weights, config, errors ------------------------------------------------------- */

Test(layers_conv, weight_names_shapes_and_order) {
    ct_layer *l =
        ct_test_layer("Conv2D", "{\"filters\": 6, \"kernel_size\": [3, 2], \"groups\": 3, "
                                "\"name\": \"c\"}");
    ct_test_build(l, 4, (int64_t[]){-1, 8, 8, 9});
    cr_assert_eq(ct_layer_num_weights(l), 2);
    cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, 0)), "c/kernel");
    cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, 1)), "c/bias");
    ct_expect_shape(ct_variable_value(ct_layer_weight(l, 0)), CT_DIMS(3, 2, 3, 6));
    ct_expect_shape(ct_variable_value(ct_layer_weight(l, 1)), CT_DIMS(6));
    ct_layer_free(l);

    l = ct_test_layer("Conv2DTranspose",
                      "{\"filters\": 5, \"kernel_size\": 3, \"use_bias\": false}");
    ct_test_build(l, 4, (int64_t[]){2, 4, 4, 7});
    cr_assert_eq(ct_layer_num_weights(l), 1);
    cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, 0)), "conv2d_transpose/kernel");
    ct_expect_shape(ct_variable_value(ct_layer_weight(l, 0)), CT_DIMS(3, 3, 5, 7));
    ct_layer_free(l);

    l = ct_test_layer("Conv1D", "{\"filters\": 2, \"kernel_size\": 4}");
    ct_test_build(l, 3, (int64_t[]){2, 10, 3});
    ct_expect_shape(ct_variable_value(ct_layer_weight(l, 0)), CT_DIMS(4, 3, 2));
    ct_layer_free(l);
}

/* get_config -> from_config gives the same config and, with the weights
 * copied, the same output. */
static void round_trip(const char *cls, const char *cfg, int rank, const int64_t *xshape) {
    ct_layer *a = ct_test_layer(cls, cfg);
    ct_tensor *x = ct_test_pattern(CT_FLOAT32, rank, xshape, 7, NULL);
    CT_OK(ct_layer_call(a, x, false));
    ct_test_layer_round_trip_output(a, x);
    ct_layer_free(a);
}

Test(layers_conv, config_round_trip) {
    round_trip("Conv2D",
               "{\"filters\": 4, \"kernel_size\": [3, 2], \"strides\": 2, \"padding\": \"SAME\", "
               "\"groups\": 2, \"activation\": \"relu\", \"kernel_regularizer\": \"l2\", "
               "\"bias_initializer\": \"ones\"}",
               4, (int64_t[]){2, 5, 5, 4});
    round_trip("Conv1D", "{\"filters\": 2, \"kernel_size\": 3, \"padding\": \"causal\", "
                         "\"dilation_rate\": 2}",
               3, (int64_t[]){1, 6, 2});
    round_trip("Conv3D", "{\"filters\": 2, \"kernel_size\": 2, \"use_bias\": false}", 5,
               (int64_t[]){1, 3, 3, 3, 1});
    round_trip("Conv2DTranspose", "{\"filters\": 2, \"kernel_size\": 4, \"strides\": 2, "
                                  "\"padding\": \"same\", \"output_padding\": 1}",
               4, (int64_t[]){1, 3, 3, 2});
    round_trip("DepthwiseConv2D", "{\"kernel_size\": 3, \"depth_multiplier\": 2, "
                                  "\"depthwise_initializer\": \"he_normal\"}",
               4, (int64_t[]){1, 4, 4, 2});
    round_trip("SeparableConv2D", "{\"filters\": 3, \"kernel_size\": 2, \"pointwise_initializer\": "
                                  "\"zeros\", \"depthwise_constraint\": \"non_neg\"}",
               4, (int64_t[]){1, 4, 4, 2});

    /* The written config has Keras's keys and value forms. */
    ct_layer *l = ct_test_layer("Conv2D", "{\"filters\": 8, \"kernel_size\": 3, \"name\": \"c1\"}");
    char *cfg = ct_layer_get_config(l);
    cr_assert_not_null(cfg, "%s", ct_last_error());
    const char *want[] = {"\"class_name\":\"Conv2D\"", "\"filters\":8", "\"kernel_size\":[3,3]",
                          "\"strides\":[1,1]", "\"padding\":\"valid\"",
                          "\"data_format\":\"channels_last\"", "\"dilation_rate\":[1,1]",
                          "\"groups\":1", "\"activation\":\"linear\"", "\"use_bias\":true",
                          "\"kernel_regularizer\":null", "\"bias_constraint\":null"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect(strstr(cfg, want[i]) != NULL, "%s not in %s", want[i], cfg);
    free(cfg);
    ct_layer_free(l);

    /* Keras's aliases and a Keras 2 config of the depthwise layer. */
    l = ct_layer_from_config("{\"class_name\": \"Convolution2D\", \"config\": {\"filters\": 2, "
                             "\"kernel_size\": [1, 1]}}");
    cr_assert_not_null(l, "%s", ct_last_error());
    cr_expect_str_eq(ct_layer_class_name(l), "Conv2D");
    ct_layer_free(l);
    l = ct_test_layer("DepthwiseConv2D",
                      "{\"kernel_size\": [3, 3], \"groups\": 1, \"data_format\": null}");
    ct_layer_free(l);
}

Test(layers_conv, bad_configs_name_the_layer_and_argument) {
    CT_FAILS(ct_layer_new("Conv2D", "{\"filters\": -1, \"kernel_size\": 3, \"name\": \"c\"}"),
             "Conv2D 'c': argument 'filters'");
    CT_FAILS(ct_layer_new("Conv2D", "{\"filters\": 0, \"kernel_size\": 3}"), "positive");
    CT_FAILS(ct_layer_new("Conv2D", "{\"kernel_size\": 3}"), "'filters': is required");
    CT_FAILS(ct_layer_new("Conv2D", "{\"filters\": 2}"), "'kernel_size'");
    CT_FAILS(ct_layer_new("Conv2D", "{\"filters\": 3, \"kernel_size\": 3, \"groups\": 2}"),
             "divisible by groups");
    CT_FAILS(ct_layer_new("Conv2D", "{\"filters\": 3, \"kernel_size\": 3, \"groups\": 0}"),
             "'groups'");
    CT_FAILS(ct_layer_new("Conv2D", "{\"filters\": 3, \"kernel_size\": 3, \"strides\": 2, "
                                    "\"dilation_rate\": 2}"),
             "dilation_rate > 1");
    CT_FAILS(ct_layer_new("Conv2D", "{\"filters\": 3, \"kernel_size\": [3, 0]}"), "kernel_size");
    CT_FAILS(ct_layer_new("Conv2D", "{\"filters\": 3, \"kernel_size\": [3, 3, 3]}"),
             "list of 2 integers");
    CT_FAILS(ct_layer_new("Conv2D", "{\"filters\": 3, \"kernel_size\": 3, \"padding\": "
                                    "\"causal\"}"),
             "'padding'");
    CT_FAILS(ct_layer_new("Conv2D", "{\"filters\": 3, \"kernel_size\": 3, \"data_format\": "
                                    "\"channels_first\"}"),
             "channels_last");
    CT_FAILS(ct_layer_new("Conv2D", "{\"filters\": 3, \"kernel_size\": 3, \"kernel\": 3}"),
             "unknown argument 'kernel'");
    CT_FAILS(ct_layer_new("Conv2DTranspose", "{\"filters\": 3, \"kernel_size\": 3, "
                                             "\"output_padding\": 1}"),
             "less than strides");
    CT_FAILS(ct_layer_new("Conv2DTranspose", "{\"filters\": 3, \"kernel_size\": 3, "
                                             "\"groups\": 3}"),
             "'groups'");
    CT_FAILS(ct_layer_new("DepthwiseConv2D", "{\"kernel_size\": 3, \"depth_multiplier\": 0}"),
             "'depth_multiplier'");
    CT_FAILS(ct_layer_new("DepthwiseConv2D", "{\"kernel_size\": 3, \"filters\": 3}"),
             "unknown argument 'filters'");
    CT_FAILS(ct_layer_new("SeparableConv2D", "{\"kernel_size\": 3}"), "'filters'");
}

Test(layers_conv, bad_inputs_name_the_layer_and_shape) {
    ct_layer *l = ct_test_layer("Conv2D", "{\"filters\": 2, \"kernel_size\": 3, \"name\": \"c\"}");
    CT_FAILS(ct_layer_call(l, ct_ones(CT_FLOAT32, CT_DIMS(2, 5, 5)), false),
             "Conv2D 'c': expects an input of rank 4");
    CT_FAILS(ct_layer_call(l, ct_ones(CT_FLOAT32, CT_DIMS(1, 2, 5, 1)), false),
             "output would be empty");
    cr_expect(!ct_layer_built(l));
    CT_OK(ct_layer_call(l, ct_ones(CT_FLOAT32, CT_DIMS(1, 5, 5, 3)), false));
    CT_FAILS(ct_layer_call(l, ct_ones(CT_FLOAT32, CT_DIMS(1, 5, 5, 2)), false), "3 channels");
    /* Built for 5x5, but any spatial size that fits the kernel works. */
    CT_OK(ct_layer_call(l, ct_ones(CT_FLOAT32, CT_DIMS(2, 7, 3, 3)), false));
    CT_FAILS(ct_layer_call(l, ct_ones(CT_FLOAT32, CT_DIMS(1, 2, 7, 3)), false), "empty");
    ct_layer_free(l);

    l = ct_test_layer("Conv2D", "{\"filters\": 2, \"kernel_size\": 1, \"groups\": 2}");
    CT_FAILS(ct_layer_call(l, ct_ones(CT_FLOAT32, CT_DIMS(1, 2, 2, 3)), false),
             "divisible by groups");
    ct_layer_free(l);

    l = ct_test_layer("Conv1D", "{\"filters\": 2, \"kernel_size\": 1}");
    ct_shape s = {.rank = 3, .dim = {2, 4, -1}};
    cr_expect_neq(ct_layer_build(l, 1, &s), CT_OK);
    cr_expect(strstr(ct_last_error(), "channel dimension") != NULL, "%s", ct_last_error());
    ct_layer_free(l);
}
