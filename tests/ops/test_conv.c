/* ct_conv, ct_conv_transpose and ct_depthwise_conv against a naive
 * reference written here in double (its own copy of TF's padding rule),
 * in float64 (the loops) and float32 (oneDNN), plus gradient checks and
 * the error cases. */
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(conv, .init = ct_test_begin, .fini = ct_test_end);

/* Pseudo-random values in [-1, 1). */
static double *rnd_values(int64_t n, unsigned seed) {
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (double)((seed >> 8) % 2000) / 1000.0 - 1.0;
    }
    return v;
}

static double *values(const ct_tensor *t) {
    int64_t n = ct_tensor_size(t);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    cr_assert_eq(ct_tensor_read(t, CT_FLOAT64, v, n), CT_OK, "%s", ct_last_error());
    return v;
}

/* One convolution: sizes of the (up to 3) spatial dims, unused ones 1. */
typedef struct cfg {
    int nsp;
    int64_t n, c, o, g;
    int64_t in[3], k[3], s[3], d[3];
    bool same;
} cfg;

static void ref_window(const cfg *q, int i, int64_t *out, int64_t *pl) {
    int64_t keff = (q->k[i] - 1) * q->d[i] + 1;
    if (q->same) {
        *out = (q->in[i] + q->s[i] - 1) / q->s[i];
        int64_t pad = (*out - 1) * q->s[i] + keff - q->in[i];
        *pl = pad > 0 ? pad / 2 : 0;
    } else {
        *out = q->in[i] >= keff ? (q->in[i] - keff) / q->s[i] + 1 : 0;
        *pl = 0;
    }
}

/* y[n, out..., o] = sum x[n, out * s - pl + k * d, g * C/G + i] w[k, i, o]. */
static double *ref_conv(const cfg *q, const double *x, const double *w, int64_t *out) {
    int64_t pl[3];
    for (int i = 0; i < 3; i++) ref_window(q, i, &out[i], &pl[i]);
    int64_t cg = q->c / q->g, og = q->o / q->g;
    int64_t ny = q->n * out[0] * out[1] * out[2] * q->o;
    double *y = calloc((size_t)(ny ? ny : 1), sizeof *y);
    for (int64_t n = 0; n < q->n; n++)
        for (int64_t a = 0; a < out[0]; a++)
            for (int64_t b = 0; b < out[1]; b++)
                for (int64_t e = 0; e < out[2]; e++)
                    for (int64_t o = 0; o < q->o; o++) {
                        double acc = 0;
                        int64_t grp = o / og;
                        for (int64_t k0 = 0; k0 < q->k[0]; k0++)
                            for (int64_t k1 = 0; k1 < q->k[1]; k1++)
                                for (int64_t k2 = 0; k2 < q->k[2]; k2++) {
                                    int64_t i0 = a * q->s[0] - pl[0] + k0 * q->d[0];
                                    int64_t i1 = b * q->s[1] - pl[1] + k1 * q->d[1];
                                    int64_t i2 = e * q->s[2] - pl[2] + k2 * q->d[2];
                                    if (i0 < 0 || i0 >= q->in[0] || i1 < 0 || i1 >= q->in[1] ||
                                        i2 < 0 || i2 >= q->in[2])
                                        continue;
                                    for (int64_t i = 0; i < cg; i++) {
                                        double xv = x[(((n * q->in[0] + i0) * q->in[1] + i1) *
                                                           q->in[2] + i2) * q->c + grp * cg + i];
                                        double wv = w[(((k0 * q->k[1] + k1) * q->k[2] + k2) * cg +
                                                       i) * q->o + o];
                                        acc += xv * wv;
                                    }
                                }
                        y[(((n * out[0] + a) * out[1] + b) * out[2] + e) * q->o + o] = acc;
                    }
    return y;
}

static int shape_x(const cfg *q, int64_t *s) {
    s[0] = q->n;
    for (int i = 0; i < q->nsp; i++) s[1 + i] = q->in[i];
    s[q->nsp + 1] = q->c;
    return q->nsp + 2;
}

static int shape_w(const cfg *q, int64_t *s) {
    for (int i = 0; i < q->nsp; i++) s[i] = q->k[i];
    s[q->nsp] = q->c / q->g;
    s[q->nsp + 1] = q->o;
    return q->nsp + 2;
}

static ct_conv_opts opts_of(const cfg *q) {
    ct_conv_opts o = {.padding = q->same ? "same" : "valid", .groups = (int)q->g};
    for (int i = 0; i < q->nsp; i++) {
        o.strides[i] = (int)q->s[i];
        o.dilations[i] = (int)q->d[i];
    }
    return o;
}

/* Runs ct_conv in dt on q and compares with the reference. */
static void check_conv(const cfg *q, ct_dtype dt, double tol, unsigned seed) {
    int64_t xs[5], ws[5];
    int xr = shape_x(q, xs), wr = shape_w(q, ws);
    int64_t nx = 1, nw = 1;
    for (int i = 0; i < xr; i++) nx *= xs[i];
    for (int i = 0; i < wr; i++) nw *= ws[i];
    double *x = rnd_values(nx, seed), *w = rnd_values(nw, seed + 1);
    int64_t out[3];
    double *ref = ref_conv(q, x, w, out);
    ct_conv_opts o = opts_of(q);
    ct_tensor *tx = ct_cast(ct_constant(x, CT_FLOAT64, xr, xs), dt);
    ct_tensor *tw = ct_cast(ct_constant(w, CT_FLOAT64, wr, ws), dt);
    ct_tensor *y = ct_conv(tx, tw, &o);
    CT_OK(y);
    int64_t ys[5];
    ys[0] = q->n;
    for (int i = 0; i < q->nsp; i++) ys[1 + i] = out[i];
    ys[q->nsp + 1] = q->o;
    ct_expect(y, dt, xr, ys, ref, tol);
    free(x);
    free(w);
    free(ref);
}

Test(conv, matches_reference_over_many_geometries) {
    unsigned seed = 1;
    for (int nsp = 1; nsp <= 3; nsp++)
        for (int same = 0; same <= 1; same++)
            for (int64_t s = 1; s <= 2; s++)
                for (int64_t d = 1; d <= 2; d++)
                    for (int64_t g = 1; g <= 2; g++) {
                        cfg q = {.nsp = nsp, .n = 2, .c = 2 * g, .o = 3 * g, .g = g,
                                 .same = same};
                        for (int i = 0; i < 3; i++) {
                            bool used = i < nsp;
                            q.in[i] = used ? (nsp == 3 ? 5 : 7) + i : 1;
                            q.k[i] = used ? 3 - i % 2 : 1;
                            q.s[i] = used ? s : 1;
                            q.d[i] = used ? d : 1;
                        }
                        check_conv(&q, CT_FLOAT64, 1e-12, seed);
                        check_conv(&q, CT_FLOAT32, 1e-4, seed);
                        seed += 7;
                    }
}

Test(conv, uneven_strides_large_channels_and_1x1) {
    /* Mixed strides and dilations per dim, channel counts that exercise
     * oneDNN's blocked kernels, a 1x1 kernel, and odd SAME padding. */
    cfg qs[] = {
        {.nsp = 2, .n = 3, .c = 17, .o = 33, .g = 1, .in = {9, 11, 1}, .k = {3, 2, 1},
         .s = {2, 3, 1}, .d = {1, 2, 1}, .same = true},
        {.nsp = 2, .n = 2, .c = 32, .o = 64, .g = 4, .in = {8, 8, 1}, .k = {3, 3, 1},
         .s = {1, 1, 1}, .d = {1, 1, 1}, .same = true},
        {.nsp = 2, .n = 4, .c = 16, .o = 8, .g = 1, .in = {5, 6, 1}, .k = {1, 1, 1},
         .s = {1, 2, 1}, .d = {1, 1, 1}, .same = false},
        {.nsp = 1, .n = 2, .c = 3, .o = 5, .g = 1, .in = {10, 1, 1}, .k = {4, 1, 1},
         .s = {3, 1, 1}, .d = {2, 1, 1}, .same = true},
        {.nsp = 2, .n = 1, .c = 1, .o = 2, .g = 1, .in = {2, 2, 1}, .k = {5, 5, 1},
         .s = {1, 1, 1}, .d = {1, 1, 1}, .same = true}, /* kernel larger than input */
    };
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++) {
        check_conv(&qs[i], CT_FLOAT64, 1e-12, 100 + (unsigned)i);
        check_conv(&qs[i], CT_FLOAT32, 1e-4, 100 + (unsigned)i);
    }
}

/* tf.nn.conv2d's docstring input: a 5x5 image and a 2x2x1x2 kernel. */
Test(conv, tf_conv2d_docstring_example) {
    ct_tensor *x = CT_F32(CT_DIMS(1, 5, 5, 1), 2, 1, 2, 0, 1, 1, 3, 2, 2, 3, 1, 1, 3, 3, 0, 2,
                          2, 0, 1, 1, 0, 0, 3, 1, 2);
    ct_tensor *k = CT_F32(CT_DIMS(2, 2, 1, 2), 2, 0.1f, 3, 0.2f, 0, 0.3f, 1, 0.4f);
    ct_tensor *y = ct_conv(x, k, &(ct_conv_opts){.padding = "VALID"});
    /* out[0,0] = 2*2 + 1*3 + 1*0 + 3*1 = 10; second channel .2 + .2 + .3 + 1.2. */
    CT_OK(y);
    ct_expect_shape(y, 4, (const int64_t[]){1, 4, 4, 2});
    double *v = values(y);
    cr_expect_float_eq(v[0], 10.0, 1e-5);
    cr_expect_float_eq(v[1], 1.9, 1e-5);
    free(v);
    /* SAME, stride 2: out ceil(5/2) = 3, total padding (3-1)*2+2-5 = 1,
     * its smaller half (0) before, so the last window hangs over the end. */
    y = ct_conv(x, k, &(ct_conv_opts){.padding = "SAME", .strides = {2, 2}});
    CT_OK(y);
    ct_expect_shape(y, 4, (const int64_t[]){1, 3, 3, 2});
    v = values(y);
    /* out[2,2] reads x[4,4] = 2 (w[0,0]) and padding: 2 * 2 = 4. */
    cr_expect_float_eq(v[(2 * 3 + 2) * 2], 4.0, 1e-5);
    free(v);
}

Test(conv, hand_computed_1d_same_and_batch_dims) {
    /* x [1, 4, 1] = 1 2 3 4, kernel [3, 1, 1] = 1 1 1, same: pad 1 each side. */
    ct_tensor *x = CT_F64(CT_DIMS(1, 4, 1), 1, 2, 3, 4);
    ct_tensor *k = CT_F64(CT_DIMS(3, 1, 1), 1, 1, 1);
    CT_EXPECT(ct_conv(x, k, &(ct_conv_opts){.padding = "same"}), CT_FLOAT64, CT_DIMS(1, 4, 1),
              0, 3, 6, 9, 7);
    /* Even kernel: total padding 1, the smaller half (0) before. */
    ct_tensor *k2 = CT_F64(CT_DIMS(2, 1, 1), 1, 10);
    CT_EXPECT(ct_conv(x, k2, &(ct_conv_opts){.padding = "same"}), CT_FLOAT64,
              CT_DIMS(1, 4, 1), 0, 21, 32, 43, 4);
    /* Two batch dims fold into one. */
    ct_tensor *xb = CT_F32(CT_DIMS(2, 1, 3, 1), 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_conv(xb, ct_cast(k2, CT_FLOAT32), NULL), CT_FLOAT32, CT_DIMS(2, 1, 2, 1), 1e-6,
              21, 32, 54, 65);
}

Test(conv, empty_batch_and_half_precision) {
    ct_tensor *x = ct_zeros(CT_FLOAT32, CT_DIMS(0, 5, 5, 2));
    ct_tensor *k = ct_ones(CT_FLOAT32, CT_DIMS(3, 3, 2, 4));
    ct_tensor *y = ct_conv(x, k, NULL);
    ct_expect_shape(y, 4, (const int64_t[]){0, 3, 3, 4});
    /* VALID with the kernel one larger than the input: an empty output, as TF. */
    ct_tensor *x1 = ct_ones(CT_FLOAT32, CT_DIMS(1, 2, 2, 2));
    ct_expect_shape(ct_conv(x1, k, NULL), 4, (const int64_t[]){1, 0, 0, 4});
    ct_tensor *h = ct_cast(ct_ones(CT_FLOAT32, CT_DIMS(1, 3, 3, 2)), CT_FLOAT16);
    ct_tensor *yh = ct_conv(h, ct_cast(k, CT_FLOAT16), NULL);
    CT_EXPECT(yh, CT_FLOAT16, CT_DIMS(1, 1, 1, 4), 0, 18, 18, 18, 18);
}

Test(conv, errors_name_op_and_shapes) {
    ct_tensor *x = ct_ones(CT_FLOAT32, CT_DIMS(1, 5, 5, 3));
    ct_tensor *k = ct_ones(CT_FLOAT32, CT_DIMS(3, 3, 2, 4));
    CT_FAILS(ct_conv(x, k, NULL), "ct_conv: input channels (3)");
    CT_FAILS(ct_conv(x, k, NULL), "[1,5,5,3]");
    ct_tensor *k3 = ct_ones(CT_FLOAT32, CT_DIMS(3, 3, 3, 4));
    CT_FAILS(ct_conv(x, k3, &(ct_conv_opts){.groups = 3}), "input channels (3)");
    ct_tensor *k1 = ct_ones(CT_FLOAT32, CT_DIMS(3, 3, 1, 4));
    CT_FAILS(ct_conv(x, k1, &(ct_conv_opts){.groups = 3}), "divisible by groups");
    CT_FAILS(ct_conv(x, k3, &(ct_conv_opts){.strides = {-1, 1}}), "strides and dilations");
    CT_FAILS(ct_conv(x, k3, &(ct_conv_opts){.padding = "full"}), "padding must be");
    CT_FAILS(ct_conv(x, ct_ones(CT_FLOAT32, CT_DIMS(3, 3)), NULL), "kernel of rank 3 to 5");
    CT_FAILS(ct_conv(ct_ones(CT_FLOAT32, CT_DIMS(5, 3)), k3, NULL), "x must have rank 4");
    ct_tensor *big = ct_ones(CT_FLOAT32, CT_DIMS(7, 7, 3, 1));
    CT_FAILS(ct_conv(x, big, NULL), "would be negative");
    CT_FAILS(ct_conv(ct_ones(CT_INT32, CT_DIMS(1, 5, 5, 3)), ct_cast(k3, CT_INT32), NULL),
             "ct_conv");
    CT_FAILS(ct_conv(x, ct_cast(k3, CT_FLOAT64), NULL), "ct_conv");
    CT_FAILS(ct_conv(NULL, k3, NULL), "ct_conv");
}

/* ---- gradients ---------------------------------------------------------------- */

static ct_tensor *conv_fn(ct_tensor *const *in, void *ctx) {
    return ct_conv(in[0], in[1], ctx);
}

static ct_tensor *rnd64(int rank, const int64_t *shape, unsigned seed) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    double *v = rnd_values(n, seed);
    ct_tensor *t = ct_constant(v, CT_FLOAT64, rank, shape);
    free(v);
    return t;
}

Test(conv, gradcheck_2d_strides_dilations_groups) {
    ct_conv_opts os[] = {
        {.padding = "same", .strides = {2, 1}},
        {.padding = "valid", .dilations = {2, 1}},
        {.padding = "same", .groups = 2, .strides = {1, 2}},
        {.padding = "same", .dilations = {1, 2}, .strides = {2, 2}},
    };
    for (size_t i = 0; i < sizeof os / sizeof *os; i++) {
        ct_tensor *in[2] = {rnd64(4, (const int64_t[]){2, 6, 5, 4}, 3 + (unsigned)i),
                            rnd64(4, (const int64_t[]){3, 2, 4 / (os[i].groups ? os[i].groups : 1), 4},
                                  30 + (unsigned)i)};
        ct_gradcheck(conv_fn, 2, in, &os[i], 1e-6);
    }
}

Test(conv, gradcheck_1d_and_3d) {
    ct_conv_opts o1 = {.padding = "same", .strides = {2}};
    ct_tensor *in1[2] = {rnd64(3, (const int64_t[]){2, 7, 3}, 5),
                         rnd64(3, (const int64_t[]){3, 3, 2}, 6)};
    ct_gradcheck(conv_fn, 2, in1, &o1, 1e-6);
    ct_conv_opts o3 = {.padding = "same", .strides = {1, 2, 1}};
    ct_tensor *in3[2] = {rnd64(5, (const int64_t[]){1, 3, 4, 3, 2}, 7),
                         rnd64(5, (const int64_t[]){2, 2, 2, 2, 3}, 8)};
    ct_gradcheck(conv_fn, 2, in3, &o3, 1e-6);
}

/* The float32 gradients (oneDNN's backward primitives) agree with the
 * float64 loops. */
Test(conv, float32_gradients_match_float64) {
    ct_conv_opts os[] = {{.padding = "same", .strides = {2, 2}},
                         {.padding = "valid", .groups = 4, .dilations = {2, 1}}};
    for (size_t i = 0; i < 2; i++) {
        ct_tensor *x = rnd64(4, (const int64_t[]){3, 9, 8, 8}, 40 + (unsigned)i);
        ct_tensor *w = rnd64(4, (const int64_t[]){3, 3, 8 / (os[i].groups ? os[i].groups : 1), 16},
                             50 + (unsigned)i);
        ct_tensor *g64[2], *g32[2];
        for (int pass = 0; pass < 2; pass++) {
            ct_dtype dt = pass ? CT_FLOAT32 : CT_FLOAT64;
            ct_tensor *src[2] = {ct_cast(x, dt), ct_cast(w, dt)};
            ct_tape *tape = ct_tape_begin(NULL);
            ct_tape_watch(tape, src[0]);
            ct_tape_watch(tape, src[1]);
            ct_tensor *y = ct_conv(src[0], src[1], &os[i]);
            ct_tensor *l = ct_reduce_sum(ct_multiply(y, ct_cast(ct_sin(ct_cast(y, CT_FLOAT64)), dt)),
                                         CT_ALL, false);
            ct_tape_end(tape);
            CT_STATUS_OK(ct_tape_gradient(tape, l, 2, src, pass ? g32 : g64, NULL));
            ct_tape_free(tape);
        }
        for (int j = 0; j < 2; j++) {
            double *a = values(g64[j]), *b = values(g32[j]);
            for (int64_t e = 0; e < ct_tensor_size(g64[j]); e++)
                cr_assert(fabs(a[e] - b[e]) <= 1e-3 * fmax(1, fabs(a[e])),
                          "input %d element %lld: %g vs %g", j, (long long)e, a[e], b[e]);
            free(a);
            free(b);
        }
    }
}

/* d/dx of sum(conv(x, w)^2) is itself differentiable: the three ops'
 * gradients are each other. */
static ct_tensor *grad_of_conv(ct_tensor *const *in, void *ctx) {
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, in[0]);
    ct_tape_watch(tape, in[1]);
    ct_tensor *l = ct_reduce_sum(ct_square(ct_conv(in[0], in[1], ctx)), CT_ALL, false);
    ct_tape_end(tape);
    ct_tensor *g[2];
    ct_status st = ct_tape_gradient(tape, l, 2, in, g, NULL);
    ct_tape_free(tape);
    if (st) return NULL;
    return ct_add(ct_reduce_sum(ct_square(g[0]), CT_ALL, false),
                  ct_reduce_sum(ct_square(g[1]), CT_ALL, false));
}

Test(conv, second_order_gradcheck) {
    ct_conv_opts o = {.padding = "same", .strides = {2, 1}};
    ct_tensor *in[2] = {rnd64(4, (const int64_t[]){1, 5, 4, 2}, 61),
                        rnd64(4, (const int64_t[]){2, 3, 2, 3}, 62)};
    ct_gradcheck(grad_of_conv, 2, in, &o, 1e-5);
}

/* ---- conv_transpose ------------------------------------------------------------ */

/* Scatter form of the transposed convolution: y[n, a * s - pl + k * d, o]
 * += x[n, a, c] w[k, o, c] (kernel [k..., out, in], one group), 2-D. */
static double *ref_conv_transpose(const double *x, const int64_t *xs, const double *w,
                                  const int64_t *ws, const int64_t *out, const int64_t *s,
                                  const int64_t *d, bool same) {
    int64_t O = ws[2], C = ws[3], pl[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        if (!same) continue;
        int64_t keff = (ws[i] - 1) * d[i] + 1;
        int64_t pad = (xs[1 + i] - 1) * s[i] + keff - out[i];
        pl[i] = pad > 0 ? pad / 2 : 0;
    }
    int64_t ny = xs[0] * out[0] * out[1] * O;
    double *y = calloc((size_t)ny, sizeof *y);
    for (int64_t n = 0; n < xs[0]; n++)
        for (int64_t a = 0; a < xs[1]; a++)
            for (int64_t b = 0; b < xs[2]; b++)
                for (int64_t k0 = 0; k0 < ws[0]; k0++)
                    for (int64_t k1 = 0; k1 < ws[1]; k1++) {
                        int64_t i0 = a * s[0] - pl[0] + k0 * d[0];
                        int64_t i1 = b * s[1] - pl[1] + k1 * d[1];
                        if (i0 < 0 || i0 >= out[0] || i1 < 0 || i1 >= out[1]) continue;
                        for (int64_t o = 0; o < O; o++)
                            for (int64_t c = 0; c < C; c++)
                                y[((n * out[0] + i0) * out[1] + i1) * O + o] +=
                                    x[((n * xs[1] + a) * xs[2] + b) * C + c] *
                                    w[((k0 * ws[1] + k1) * O + o) * C + c];
                    }
    return y;
}

Test(conv, conv_transpose_matches_reference_and_keras_sizes) {
    int64_t xs[4] = {2, 3, 4, 3}, ws[4] = {3, 2, 5, 3};
    double *x = rnd_values(2 * 3 * 4 * 3, 71), *w = rnd_values(3 * 2 * 5 * 3, 72);
    for (int same = 0; same <= 1; same++)
        for (int64_t st = 1; st <= 3; st++)
            for (int64_t dl = 1; dl <= 2; dl++) {
                int64_t s[2] = {st, st == 3 ? 1 : st}, d[2] = {dl, 1}, out[2];
                for (int i = 0; i < 2; i++) {
                    int64_t keff = (ws[i] - 1) * d[i] + 1;
                    /* Keras's deconv_output_length with no output_padding. */
                    out[i] = same ? xs[1 + i] * s[i]
                                  : xs[1 + i] * s[i] + (keff > s[i] ? keff - s[i] : 0);
                }
                double *ref = ref_conv_transpose(x, xs, w, ws, out, s, d, same);
                ct_conv_opts o = {.padding = same ? "same" : "valid",
                                  .strides = {(int)s[0], (int)s[1]},
                                  .dilations = {(int)d[0], (int)d[1]}};
                for (int p = 0; p < 2; p++) {
                    ct_dtype dt = p ? CT_FLOAT32 : CT_FLOAT64;
                    ct_tensor *y = ct_conv_transpose(ct_cast(ct_constant(x, CT_FLOAT64, 4, xs), dt),
                                                     ct_cast(ct_constant(w, CT_FLOAT64, 4, ws), dt),
                                                     NULL, &o);
                    ct_expect(y, dt, 4, (const int64_t[]){2, out[0], out[1], 5}, ref,
                              p ? 1e-4 : 1e-12);
                }
                free(ref);
            }
    free(x);
    free(w);
}

Test(conv, conv_transpose_output_shape_and_errors) {
    /* 1-D, stride 2, same: an explicit odd output length 5 (ceil(5/2) = 3). */
    ct_tensor *x = CT_F64(CT_DIMS(1, 3, 1), 1, 2, 3);
    ct_tensor *k = CT_F64(CT_DIMS(2, 1, 1), 1, 10);
    /* forward pad for in 5, k 2, s 2: out 3, pad max(2*2+2-5, 0) = 1, before 0:
     * y[a*2 + k] += x[a] w[k]. */
    CT_EXPECT(ct_conv_transpose(x, k, (const int64_t[]){5}, &(ct_conv_opts){.padding = "same",
                                                                           .strides = {2}}),
              CT_FLOAT64, CT_DIMS(1, 5, 1), 0, 1, 10, 2, 20, 3);
    CT_FAILS(ct_conv_transpose(x, k, (const int64_t[]){8},
                               &(ct_conv_opts){.padding = "same", .strides = {2}}),
             "ct_conv_transpose: the gradient (or transposed input) float64[1,3,1] does not "
             "match the convolution output [1,4,1]");
    CT_FAILS(ct_conv_transpose(ct_ones(CT_FLOAT64, CT_DIMS(1, 3, 2)), k, NULL, NULL),
             "input channels");
}

static ct_tensor *convt_fn(ct_tensor *const *in, void *ctx) {
    return ct_conv_transpose(in[0], in[1], NULL, ctx);
}

Test(conv, conv_transpose_gradcheck) {
    ct_conv_opts o = {.padding = "same", .strides = {2, 1}};
    ct_tensor *in[2] = {rnd64(4, (const int64_t[]){2, 3, 3, 2}, 81),
                        rnd64(4, (const int64_t[]){3, 2, 3, 2}, 82)};
    ct_gradcheck(convt_fn, 2, in, &o, 1e-6);
    ct_conv_opts o2 = {.padding = "valid", .strides = {2}, .dilations = {1}};
    ct_tensor *in2[2] = {rnd64(3, (const int64_t[]){2, 4, 2}, 83),
                         rnd64(3, (const int64_t[]){3, 3, 2}, 84)};
    ct_gradcheck(convt_fn, 2, in2, &o2, 1e-6);
}

/* ---- depthwise ------------------------------------------------------------------- */

Test(conv, depthwise_matches_per_channel_reference) {
    /* x [2, 6, 5, 3], kernel [3, 2, 3, 2]: channel c * 2 + m from channel c. */
    int64_t xs[4] = {2, 6, 5, 3}, ws[4] = {3, 2, 3, 2};
    double *x = rnd_values(2 * 6 * 5 * 3, 91), *w = rnd_values(3 * 2 * 3 * 2, 92);
    for (int same = 0; same <= 1; same++) {
        int64_t s[2] = {2, 1};
        int64_t out[2], pl[2];
        for (int i = 0; i < 2; i++) {
            cfg q = {.in = {xs[1 + i]}, .k = {ws[i]}, .s = {s[i]}, .d = {1}, .same = same};
            ref_window(&q, 0, &out[i], &pl[i]);
        }
        double *ref = calloc((size_t)(2 * out[0] * out[1] * 6), sizeof *ref);
        for (int64_t n = 0; n < 2; n++)
            for (int64_t a = 0; a < out[0]; a++)
                for (int64_t b = 0; b < out[1]; b++)
                    for (int64_t c = 0; c < 3; c++)
                        for (int64_t m = 0; m < 2; m++) {
                            double acc = 0;
                            for (int64_t k0 = 0; k0 < 3; k0++)
                                for (int64_t k1 = 0; k1 < 2; k1++) {
                                    int64_t i0 = a * s[0] - pl[0] + k0, i1 = b * s[1] - pl[1] + k1;
                                    if (i0 < 0 || i0 >= 6 || i1 < 0 || i1 >= 5) continue;
                                    acc += x[((n * 6 + i0) * 5 + i1) * 3 + c] *
                                           w[((k0 * 2 + k1) * 3 + c) * 2 + m];
                                }
                            ref[((n * out[0] + a) * out[1] + b) * 6 + c * 2 + m] = acc;
                        }
        ct_conv_opts o = {.padding = same ? "same" : "valid", .strides = {2, 1}};
        for (int p = 0; p < 2; p++) {
            ct_dtype dt = p ? CT_FLOAT32 : CT_FLOAT64;
            ct_tensor *y = ct_depthwise_conv(ct_cast(ct_constant(x, CT_FLOAT64, 4, xs), dt),
                                             ct_cast(ct_constant(w, CT_FLOAT64, 4, ws), dt), &o);
            ct_expect(y, dt, 4, (const int64_t[]){2, out[0], out[1], 6}, ref, p ? 1e-4 : 1e-12);
        }
        free(ref);
    }
    free(x);
    free(w);
    CT_FAILS(ct_depthwise_conv(ct_ones(CT_FLOAT32, CT_DIMS(1, 4, 4, 2)),
                               ct_ones(CT_FLOAT32, CT_DIMS(2, 2, 3, 1)), NULL),
             "ct_depthwise_conv: x must be");
    CT_FAILS(ct_depthwise_conv(ct_ones(CT_FLOAT32, CT_DIMS(1, 4, 4, 4, 2)),
                               ct_ones(CT_FLOAT32, CT_DIMS(2, 2, 2, 2, 1)), NULL),
             "kernel of rank 3 to 4");
}

static ct_tensor *dw_fn(ct_tensor *const *in, void *ctx) {
    return ct_depthwise_conv(in[0], in[1], ctx);
}

Test(conv, depthwise_gradcheck) {
    ct_conv_opts o = {.padding = "same", .strides = {2, 1}, .dilations = {1, 1}};
    ct_tensor *in[2] = {rnd64(4, (const int64_t[]){2, 5, 4, 3}, 93),
                        rnd64(4, (const int64_t[]){3, 2, 3, 2}, 94)};
    ct_gradcheck(dw_fn, 2, in, &o, 1e-6);
    ct_conv_opts o1 = {.padding = "valid", .dilations = {2}};
    ct_tensor *in1[2] = {rnd64(3, (const int64_t[]){2, 7, 2}, 95),
                         rnd64(3, (const int64_t[]){2, 2, 3}, 96)};
    ct_gradcheck(dw_fn, 2, in1, &o1, 1e-6);
}
