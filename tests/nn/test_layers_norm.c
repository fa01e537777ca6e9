/* Keras normalization layers: BatchNormalization (batch moments in
 * training with the moving statistics updated as Keras 3 does —
 * population variance, moving = moving * momentum + batch * (1 -
 * momentum) — and the moving statistics in inference or when frozen),
 * LayerNormalization, GroupNormalization and UnitNormalization, checked
 * against reference loops in this file and by finite differences. */
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(layers_norm, .init = ct_test_layer_begin, .fini = ct_test_end);

/* This file's values: twice the default pattern, shifted by 0.1 * seed. */
static double pat(int64_t i, int seed) { return 2 * ct_test_pat(i, seed) + 0.1 * seed; }

/* ---- a reference normalization over arbitrary axes ------------------------------ */

/* For x of shape s (rank r), normalizes over the axes with red[i] true:
 * every group of elements sharing the other coordinates gets its mean and
 * population variance. mean/var (if non-NULL) receive one value per
 * group, indexed by the kept coordinates in row-major order. */
static void ref_moments(int r, const int64_t *s, const bool *red, const double *x, double *mean,
                        double *var, int64_t *ngroups) {
    int64_t n = 1, g = 1;
    for (int i = 0; i < r; i++) {
        n *= s[i];
        if (!red[i]) g *= s[i];
    }
    *ngroups = g;
    double *sum = calloc((size_t)g, sizeof *sum), *sq = calloc((size_t)g, sizeof *sq);
    int64_t *cnt = calloc((size_t)g, sizeof *cnt);
    for (int pass = 0; pass < 2; pass++)
        for (int64_t e = 0; e < n; e++) {
            int64_t rem = e, gi = 0, mul = 1;
            for (int i = r - 1; i >= 0; i--) {
                int64_t c = rem % s[i];
                rem /= s[i];
                if (!red[i]) {
                    gi += c * mul;
                    mul *= s[i];
                }
            }
            if (pass == 0) {
                sum[gi] += x[e];
                cnt[gi]++;
            } else {
                double d = x[e] - sum[gi] / (double)cnt[gi];
                sq[gi] += d * d;
            }
        }
    for (int64_t i = 0; i < g; i++) {
        mean[i] = sum[i] / (double)cnt[i];
        var[i] = sq[i] / (double)cnt[i];
    }
    free(sum), free(sq), free(cnt);
}

/* The group index of flat element e (kept coordinates, row-major). */
static int64_t group_of(int r, const int64_t *s, const bool *red, int64_t e) {
    int64_t gi = 0, mul = 1;
    for (int i = r - 1; i >= 0; i--) {
        int64_t c = e % s[i];
        e /= s[i];
        if (!red[i]) {
            gi += c * mul;
            mul *= s[i];
        }
    }
    return gi;
}

/* ---- BatchNormalization ------------------------------------------------------------ */

Test(layers_norm, batch_norm_weights_and_fresh_inference) {
    ct_layer *l = ct_test_layer("BatchNormalization", "{\"name\": \"bn\"}");
    ct_tensor *x = CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    /* Fresh statistics (mean 0, variance 1): x / sqrt(1 + 0.001). */
    double k = 1 / sqrt(1.001);
    CT_EXPECT(ct_layer_call(l, x, false), CT_FLOAT32, CT_DIMS(2, 3), 1e-6, 1 * k, 2 * k, 3 * k,
              4 * k, 5 * k, 6 * k);
    cr_assert_eq(ct_layer_num_weights(l), 4);
    const char *names[4] = {"bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"};
    for (int i = 0; i < 4; i++) {
        cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, i)), names[i]);
        ct_expect_shape(ct_variable_value(ct_layer_weight(l, i)), CT_DIMS(3));
        cr_expect_eq(ct_variable_trainable(ct_layer_weight(l, i)), i < 2, "weight %d", i);
    }
    ct_layer_free(l);

    l = ct_test_layer("BatchNormalization", "{\"center\": false, \"scale\": false, \"axis\": 1}");
    ct_test_build(l, 4, (int64_t[]){-1, 5, 2, 2});
    cr_assert_eq(ct_layer_num_weights(l), 2);
    ct_expect_shape(ct_variable_value(ct_layer_weight(l, 0)), CT_DIMS(5));
    ct_layer_free(l);

    /* Keras 2's list of axes: weights in the broadcast shape. */
    l = ct_test_layer("BatchNormalization", "{\"axis\": [1, 3]}");
    ct_test_build(l, 4, (int64_t[]){-1, 5, 2, 3});
    ct_expect_shape(ct_variable_value(ct_layer_weight(l, 0)), CT_DIMS(1, 5, 1, 3));
    ct_layer_free(l);
}

/* Training steps on the same batch, then inference from the moving stats. */
static void check_batch_norm(const char *cfg, int r, const int64_t *shape, const bool *red,
                             double momentum, double eps, int steps) {
    ct_layer *l = ct_test_layer("BatchNormalization", cfg);
    double *xv;
    ct_tensor *x = ct_test_pattern_with(pat, CT_FLOAT64, r, shape, 3, &xv);
    ct_test_build(l, r, shape);
    double *gamma = ct_test_fill_weight_with(pat, l, 0, 1),
           *beta = ct_test_fill_weight_with(pat, l, 1, 2);
    int64_t n = ct_tensor_size(x), g;
    double mean[64], var[64];
    ref_moments(r, shape, red, xv, mean, var, &g);
    double *want = malloc((size_t)n * sizeof *want);
    for (int64_t e = 0; e < n; e++) {
        int64_t gi = group_of(r, shape, red, e);
        want[e] = (xv[e] - mean[gi]) / sqrt(var[gi] + eps) * gamma[gi] + beta[gi];
    }
    double mm[64], mv[64];
    for (int64_t i = 0; i < g; i++) mm[i] = 0, mv[i] = 1;
    for (int s = 0; s < steps; s++) {
        ct_scope_begin();
        ct_tensor *y = ct_layer_call(l, x, true);
        CT_OK(y);
        ct_expect(y, CT_FLOAT64, r, shape, want, 1e-10);
        ct_scope_end();
        for (int64_t i = 0; i < g; i++) {
            mm[i] = mm[i] * momentum + mean[i] * (1 - momentum);
            mv[i] = mv[i] * momentum + var[i] * (1 - momentum);
        }
    }
    ct_tensor *mmv = ct_variable_value(ct_layer_weight(l, 2));
    ct_tensor *mvv = ct_variable_value(ct_layer_weight(l, 3));
    ct_expect(mmv, CT_FLOAT64, ct_tensor_rank(mmv), ct_tensor_shape(mmv), mm, 1e-12);
    ct_expect(mvv, CT_FLOAT64, ct_tensor_rank(mvv), ct_tensor_shape(mvv), mv, 1e-12);
    /* Inference normalizes with the moving statistics. */
    for (int64_t e = 0; e < n; e++) {
        int64_t gi = group_of(r, shape, red, e);
        want[e] = (xv[e] - mm[gi]) / sqrt(mv[gi] + eps) * gamma[gi] + beta[gi];
    }
    ct_expect(ct_layer_call(l, x, false), CT_FLOAT64, r, shape, want, 1e-10);
    /* Frozen (trainable false): inference even with training true, and
     * the statistics stay. */
    ct_layer_set_trainable(l, false);
    ct_expect(ct_layer_call(l, x, true), CT_FLOAT64, r, shape, want, 1e-10);
    ct_expect(ct_variable_value(ct_layer_weight(l, 2)), CT_FLOAT64, ct_tensor_rank(mmv),
              ct_tensor_shape(mmv), mm, 1e-12);
    free(xv), free(gamma), free(beta), free(want);
    ct_layer_free(l);
}

Test(layers_norm, batch_norm_training_updates_moving_statistics) {
    /* Hand-computed: the batch [[1], [3]] has mean 2 and population
     * variance 1 (Keras 3: biased; Keras 2's fused kernel would have used
     * 2). After one step with momentum 0.5: moving_mean 1, moving_variance
     * 1 * 0.5 + 1 * 0.5 = 1. */
    ct_layer *l = ct_test_layer("BatchNormalization", "{\"momentum\": 0.5, \"epsilon\": 0}");
    ct_tensor *x = CT_F32(CT_DIMS(2, 1), 1, 3);
    CT_EXPECT(ct_layer_call(l, x, true), CT_FLOAT32, CT_DIMS(2, 1), 1e-6, -1, 1);
    CT_EXPECT(ct_variable_value(ct_layer_weight(l, 2)), CT_FLOAT32, CT_DIMS(1), 1e-6, 1);
    CT_EXPECT(ct_variable_value(ct_layer_weight(l, 3)), CT_FLOAT32, CT_DIMS(1), 1e-6, 1);
    /* Batch [[0], [4]]: mean 2, variance 4 -> moving 1.5 and 2.5. */
    CT_OK(ct_layer_call(l, CT_F32(CT_DIMS(2, 1), 0, 4), true));
    CT_EXPECT(ct_variable_value(ct_layer_weight(l, 2)), CT_FLOAT32, CT_DIMS(1), 1e-6, 1.5);
    CT_EXPECT(ct_variable_value(ct_layer_weight(l, 3)), CT_FLOAT32, CT_DIMS(1), 1e-6, 2.5);
    /* Inference: (x - 1.5) / sqrt(2.5). */
    CT_EXPECT(ct_layer_call(l, x, false), CT_FLOAT32, CT_DIMS(2, 1), 1e-6, -0.5 / sqrt(2.5),
              1.5 / sqrt(2.5));
    ct_layer_free(l);

    /* Default momentum 0.99 and epsilon 1e-3, channels last. */
    check_batch_norm("{\"dtype\": \"float64\"}", 2, (int64_t[]){5, 3}, (bool[]){true, false},
                     0.99, 1e-3, 3);
    check_batch_norm("{\"dtype\": \"float64\", \"momentum\": 0.8}", 4, (int64_t[]){2, 3, 2, 4},
                     (bool[]){true, true, true, false}, 0.8, 1e-3, 4);
    /* axis 1 (channels first) and a list of axes. */
    check_batch_norm("{\"dtype\": \"float64\", \"axis\": 1, \"epsilon\": 0.01}", 4,
                     (int64_t[]){3, 2, 2, 3}, (bool[]){true, false, true, true}, 0.99, 0.01, 2);
    check_batch_norm("{\"dtype\": \"float64\", \"axis\": [1, -1], \"momentum\": 0.5}", 3,
                     (int64_t[]){4, 2, 3}, (bool[]){true, false, false}, 0.5, 1e-3, 3);
}

Test(layers_norm, batch_norm_gradients) {
    ct_layer *l = ct_test_layer("BatchNormalization", "{\"dtype\": \"float64\"}");
    ct_tensor *x = ct_test_pattern_with(pat, CT_FLOAT64, 3, (int64_t[]){3, 2, 2}, 5, NULL);
    ct_test_build(l, 3, (int64_t[]){3, 2, 2});
    free(ct_test_fill_weight_with(pat, l, 0, 1));
    free(ct_test_fill_weight_with(pat, l, 1, 2));
    free(ct_test_fill_weight_with(pat, l, 3, 4));
    CT_STATUS_OK(ct_variable_assign(ct_layer_weight(l, 3),
                                    ct_abs(ct_variable_value(ct_layer_weight(l, 3)))));
    ct_test_layer_gradcheck(l, x, true, 1e-6);
    ct_test_layer_gradcheck(l, x, false, 1e-6);
    /* The moving statistics are not trainable and not differentiated. */
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tensor *y = ct_layer_call(l, x, true);
    ct_tape_end(tape);
    ct_tensor *src = ct_variable_value(ct_layer_weight(l, 2)), *gm;
    CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &src, &gm, NULL));
    cr_expect_null(gm);
    ct_tape_free(tape);
    ct_layer_free(l);
}

/* Channels last runs the fused op: float32 results within rounding of the
 * composite ops the other axes use (ct_moments, ct_batch_normalization),
 * the moving statistics updated as before, and center / scale off. */
static void expect_close32(const ct_tensor *a, const ct_tensor *b, double tol) {
    CT_OK(a);
    CT_OK(b);
    cr_assert_eq(ct_tensor_size(a), ct_tensor_size(b));
    double *va = ct_test_read_all(a), *vb = ct_test_read_all(b);
    for (int64_t i = 0; i < ct_tensor_size(a); i++)
        cr_assert(fabs(va[i] - vb[i]) <= tol * (fabs(vb[i]) + 1), "[%lld] %.9g vs %.9g",
                  (long long)i, va[i], vb[i]);
    free(va), free(vb);
}

Test(layers_norm, batch_norm_channels_last_matches_composite) {
    const int64_t shapes[][6] = {{2, 6, 5}, {3, 4, 3, 7}, {4, 2, 3, 4, 64}, {5, 2, 2, 3, 2, 1},
                                 {4, 8, 5, 5, 33}};
    const char *cfgs[] = {"{\"momentum\": 0.9}", "{\"center\": false, \"scale\": false}",
                          "{\"center\": false, \"axis\": -1}", "{\"scale\": false}"};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++) {
            ct_scope_begin();
            int r = (int)shapes[s][0];
            const int64_t *shape = shapes[s] + 1;
            int64_t ch = shape[r - 1];
            ct_layer *l = ct_test_layer("BatchNormalization", cfgs[k]);
            ct_test_build(l, r, shape);
            ct_tensor *x = ct_random_normal(r, shape, &(ct_random_opts){.seed = 5 + s, .mean = 2});
            ct_tensor *gamma = ct_ones(CT_FLOAT32, 1, &ch), *beta = ct_zeros(CT_FLOAT32, 1, &ch);
            for (int i = 0; i < ct_layer_num_weights(l); i++) {
                ct_variable *v = ct_layer_weight(l, i);
                const char *nm = ct_variable_name(v);
                ct_tensor *val = ct_random_uniform(1, &ch, &(ct_random_opts){
                                                               .seed = 50 + i, .minval = 0.5,
                                                               .maxval = 1.5});
                if (strstr(nm, "gamma")) CT_STATUS_OK(ct_variable_assign(v, gamma = val));
                if (strstr(nm, "beta")) CT_STATUS_OK(ct_variable_assign(v, beta = val));
            }
            int nw = ct_layer_num_weights(l);
            ct_variable *mm = ct_layer_weight(l, nw - 2), *mv = ct_layer_weight(l, nw - 1);
            int axes[CT_MAX_RANK];
            for (int i = 0; i < r - 1; i++) axes[i] = i;
            ct_tensor *mean, *var;
            CT_STATUS_OK(ct_moments(x, axes, r - 1, false, &mean, &var));
            ct_tensor *want = ct_batch_normalization(x, mean, var, beta, gamma, 1e-3);
            expect_close32(ct_layer_call(l, x, true), want, 1e-5);
            /* Fresh statistics (0, 1) moved once. */
            double mom = k == 0 ? 0.9 : 0.99;
            ct_tensor *wm = ct_multiply(mean, ct_scalar_of(CT_FLOAT32, 1 - mom));
            ct_tensor *wv = ct_add(ct_multiply(var, ct_scalar_of(CT_FLOAT32, 1 - mom)),
                                   ct_scalar_of(CT_FLOAT32, mom));
            expect_close32(ct_variable_value(mm), wm, 1e-5);
            expect_close32(ct_variable_value(mv), wv, 1e-5);
            /* Inference with the moving statistics. */
            want = ct_batch_normalization(x, ct_variable_value(mm), ct_variable_value(mv), beta,
                                          gamma, 1e-3);
            expect_close32(ct_layer_call(l, x, false), want, 1e-5);
            ct_layer_free(l);
            ct_scope_end();
        }
    /* Gradients (float64, finite differences) with center and scale off. */
    ct_layer *l = ct_test_layer("BatchNormalization", "{\"dtype\": \"float64\", \"center\": false, "
                                                      "\"scale\": false}");
    ct_tensor *x = ct_test_pattern_with(pat, CT_FLOAT64, 3, (int64_t[]){3, 2, 2}, 5, NULL);
    ct_test_build(l, 3, (int64_t[]){3, 2, 2});
    ct_test_layer_gradcheck(l, x, true, 1e-6);
    ct_test_layer_gradcheck(l, x, false, 1e-6);
    ct_layer_free(l);
}

Test(layers_norm, batch_norm_float16_input_to_float32_layer) {
    ct_layer *l = ct_test_layer("BatchNormalization", "{\"epsilon\": 0}");
    ct_tensor *x = ct_cast(CT_F32(CT_DIMS(2, 1), 1, 3), CT_FLOAT16);
    CT_EXPECT(ct_layer_call(l, x, true), CT_FLOAT32, CT_DIMS(2, 1), 1e-6, -1, 1);
    ct_layer_free(l);
}

/* ---- LayerNormalization ------------------------------------------------------------ */

static void check_layer_norm(const char *cfg, int r, const int64_t *shape, const bool *red,
                             double eps, bool rms) {
    ct_layer *l = ct_test_layer("LayerNormalization", cfg);
    double *xv;
    ct_tensor *x = ct_test_pattern_with(pat, CT_FLOAT64, r, shape, 3, &xv);
    ct_test_build(l, r, shape);
    double *gamma = ct_test_fill_weight_with(pat, l, 0, 1),
           *beta = rms ? NULL : ct_test_fill_weight_with(pat, l, 1, 2);
    int64_t n = ct_tensor_size(x), g;
    double mean[64], var[64];
    ref_moments(r, shape, red, xv, mean, var, &g);
    /* gamma/beta index: the coordinates along the normalized axes. */
    bool keep[CT_MAX_RANK];
    for (int i = 0; i < r; i++) keep[i] = !red[i];
    double *want = malloc((size_t)n * sizeof *want);
    for (int64_t e = 0; e < n; e++) {
        int64_t gi = group_of(r, shape, red, e), wi = group_of(r, shape, keep, e);
        want[e] = rms ? xv[e] / sqrt(var[gi] + eps) * gamma[wi]
                      : (xv[e] - mean[gi]) / sqrt(var[gi] + eps) * gamma[wi] + beta[wi];
    }
    ct_expect(ct_layer_call(l, x, true), CT_FLOAT64, r, shape, want, 1e-10);
    ct_test_layer_gradcheck(l, x, true, 1e-6);
    free(xv), free(gamma), free(beta), free(want);
    ct_layer_free(l);
}

Test(layers_norm, layer_norm) {
    /* Hand-computed: [1, 2, 3] has mean 2, variance 2/3. */
    ct_layer *l = ct_test_layer("LayerNormalization", "{\"name\": \"ln\"}");
    ct_tensor *x = CT_F32(CT_DIMS(1, 3), 1, 2, 3);
    double k = 1 / sqrt(2.0 / 3 + 1e-3);
    CT_EXPECT(ct_layer_call(l, x, false), CT_FLOAT32, CT_DIMS(1, 3), 1e-6, -k, 0, k);
    cr_assert_eq(ct_layer_num_weights(l), 2);
    cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, 0)), "ln/gamma");
    cr_expect_str_eq(ct_variable_name(ct_layer_weight(l, 1)), "ln/beta");
    ct_layer_free(l);

    /* Normalized over the last axis: one (mean, variance) per row. */
    check_layer_norm("{\"dtype\": \"float64\"}", 3, (int64_t[]){2, 3, 4},
                     (bool[]){false, false, true}, 1e-3, false);
    check_layer_norm("{\"dtype\": \"float64\", \"axis\": [1, 2], \"epsilon\": 0.1}", 3,
                     (int64_t[]){2, 3, 4}, (bool[]){false, true, true}, 0.1, false);
    check_layer_norm("{\"dtype\": \"float64\", \"axis\": 1}", 3, (int64_t[]){2, 3, 2},
                     (bool[]){false, true, false}, 1e-3, false);
    /* rms_scaling: x * rsqrt(variance + epsilon) * gamma, no beta. */
    check_layer_norm("{\"dtype\": \"float64\", \"rms_scaling\": true}", 2, (int64_t[]){3, 4},
                     (bool[]){false, true}, 1e-3, true);

    l = ct_test_layer("LayerNormalization", "{\"axis\": [1, 2], \"center\": false}");
    ct_test_build(l, 3, (int64_t[]){-1, 3, 4});
    cr_assert_eq(ct_layer_num_weights(l), 1);
    ct_expect_shape(ct_variable_value(ct_layer_weight(l, 0)), CT_DIMS(3, 4));
    ct_layer_free(l);
}

/* ---- GroupNormalization and UnitNormalization ------------------------------------ */

Test(layers_norm, group_norm) {
    /* [2, 3, 4] with 2 groups over the channels: group j of sample b holds
     * x[b, :, 2j:2j+2]. */
    ct_layer *l = ct_test_layer("GroupNormalization", "{\"groups\": 2, \"dtype\": \"float64\"}");
    int64_t shape[3] = {2, 3, 4};
    double *xv;
    ct_tensor *x = ct_test_pattern_with(pat, CT_FLOAT64, 3, shape, 3, &xv);
    ct_test_build(l, 3, shape);
    double *gamma = ct_test_fill_weight_with(pat, l, 0, 1),
           *beta = ct_test_fill_weight_with(pat, l, 1, 2);
    double want[24];
    for (int b = 0; b < 2; b++)
        for (int j = 0; j < 2; j++) {
            double s = 0, q = 0;
            for (int t = 0; t < 3; t++)
                for (int c = 2 * j; c < 2 * j + 2; c++) s += xv[(b * 3 + t) * 4 + c];
            double m = s / 6;
            for (int t = 0; t < 3; t++)
                for (int c = 2 * j; c < 2 * j + 2; c++)
                    q += (xv[(b * 3 + t) * 4 + c] - m) * (xv[(b * 3 + t) * 4 + c] - m);
            double v = q / 6;
            for (int t = 0; t < 3; t++)
                for (int c = 2 * j; c < 2 * j + 2; c++) {
                    int e = (b * 3 + t) * 4 + c;
                    want[e] = (xv[e] - m) / sqrt(v + 1e-3) * gamma[c] + beta[c];
                }
        }
    ct_expect(ct_layer_call(l, x, false), CT_FLOAT64, CT_DIMS(2, 3, 4), want, 1e-10);
    ct_test_layer_gradcheck(l, x, false, 1e-6);
    free(xv), free(gamma), free(beta);
    ct_layer_free(l);

    /* groups -1: one group per channel (instance normalization); Keras
     * writes the resolved number back. */
    l = ct_test_layer("GroupNormalization", "{\"groups\": -1}");
    ct_test_build(l, 3, (int64_t[]){-1, 5, 3});
    char *cfg = ct_layer_get_config(l);
    cr_expect(strstr(cfg, "\"groups\":3") != NULL, "%s", cfg);
    free(cfg);
    ct_layer_free(l);

    l = ct_test_layer("GroupNormalization", "{\"groups\": 4, \"name\": \"gn\"}");
    ct_shape s = {.rank = 2, .dim = {2, 6}};
    cr_expect_neq(ct_layer_build(l, 1, &s), CT_OK);
    cr_expect(strstr(ct_last_error(), "GroupNormalization 'gn'") &&
                  strstr(ct_last_error(), "multiple"),
              "%s", ct_last_error());
    ct_layer_free(l);
    l = ct_test_layer("GroupNormalization", "{}"); /* 32 groups by default */
    s.dim[1] = 16;
    cr_expect_neq(ct_layer_build(l, 1, &s), CT_OK);
    cr_expect(strstr(ct_last_error(), "cannot be more than") != NULL, "%s", ct_last_error());
    ct_layer_free(l);
}

Test(layers_norm, unit_norm) {
    ct_layer *l = ct_test_layer("UnitNormalization", NULL);
    ct_tensor *x = CT_F32(CT_DIMS(2, 2), 3, 4, 0, 0);
    /* [3, 4] / 5; an all-zero row stays 0 (the 1e-12 floor). */
    CT_EXPECT(ct_layer_call(l, x, false), CT_FLOAT32, CT_DIMS(2, 2), 1e-6, 0.6, 0.8, 0, 0);
    ct_layer_free(l);
    l = ct_test_layer("UnitNormalization", "{\"axis\": [1, 2], \"dtype\": \"float64\"}");
    ct_tensor *x3 = CT_F64(CT_DIMS(1, 2, 2), 1, 1, 1, 1);
    CT_EXPECT(ct_layer_call(l, x3, false), CT_FLOAT64, CT_DIMS(1, 2, 2), 1e-12, 0.5, 0.5, 0.5,
              0.5);
    ct_tensor *xg = ct_test_pattern_with(pat, CT_FLOAT64, 3, (int64_t[]){2, 3, 2}, 1, NULL);
    ct_test_layer_gradcheck(l, xg, false, 1e-6);
    ct_layer_free(l);
}

/* ---- config and errors ------------------------------------------------------------- */

static void round_trip(const char *cls, const char *cfg, int rank, const int64_t *xshape,
                       const char *must_have) {
    ct_layer *a = ct_test_layer(cls, cfg);
    ct_tensor *x = ct_test_pattern_with(pat, CT_FLOAT32, rank, xshape, 2, NULL);
    CT_OK(ct_layer_call(a, x, true));
    ct_test_config_has(a, must_have);
    ct_test_layer_round_trip_output(a, x);
    ct_layer_free(a);
}

Test(layers_norm, config_round_trip) {
    round_trip("BatchNormalization",
               "{\"momentum\": 0.9, \"epsilon\": 0.01, \"gamma_regularizer\": \"l2\", "
               "\"moving_variance_initializer\": \"zeros\"}",
               2, (int64_t[]){4, 3}, "\"momentum\":0.9");
    round_trip("BatchNormalization", "{}", 4, (int64_t[]){2, 2, 2, 3},
               "\"epsilon\":0.001,\"center\":true,\"scale\":true");
    round_trip("BatchNormalization", "{\"axis\": [1, 2], \"center\": false}", 3,
               (int64_t[]){2, 2, 3}, "\"axis\":[1,2]");
    round_trip("LayerNormalization", "{\"axis\": [-2, -1], \"scale\": false}", 3,
               (int64_t[]){2, 2, 3}, "\"rms_scaling\":false");
    round_trip("GroupNormalization", "{\"groups\": 3, \"epsilon\": 1e-5}", 3,
               (int64_t[]){2, 2, 6}, "\"groups\":3,\"axis\":-1");
    round_trip("UnitNormalization", "{\"axis\": [1]}", 2, (int64_t[]){2, 3}, "\"axis\":[1]");
    /* A Keras 2 BatchNormalization config. */
    ct_layer *l = ct_layer_from_config(
        "{\"class_name\": \"BatchNormalization\", \"config\": {\"name\": \"bn\", \"axis\": [3], "
        "\"momentum\": 0.99, \"epsilon\": 0.001, \"center\": true, \"scale\": true, "
        "\"beta_initializer\": {\"class_name\": \"Zeros\", \"config\": {}}, "
        "\"gamma_initializer\": {\"class_name\": \"Ones\", \"config\": {}}, "
        "\"moving_mean_initializer\": {\"class_name\": \"Zeros\", \"config\": {}}, "
        "\"moving_variance_initializer\": {\"class_name\": \"Ones\", \"config\": {}}, "
        "\"beta_regularizer\": null, \"gamma_regularizer\": null, \"beta_constraint\": null, "
        "\"gamma_constraint\": null, \"renorm\": false, \"fused\": null, "
        "\"virtual_batch_size\": null, \"adjustment\": null, \"renorm_clipping\": null}}");
    cr_assert_not_null(l, "%s", ct_last_error());
    ct_layer_free(l);
}

Test(layers_norm, bad_configs_and_inputs) {
    CT_FAILS(ct_layer_new("BatchNormalization", "{\"momentun\": 0.9, \"name\": \"bn\"}"),
             "BatchNormalization 'bn': unknown argument 'momentun'");
    CT_FAILS(ct_layer_new("BatchNormalization", "{\"axis\": \"x\"}"), "'axis'");
    CT_FAILS(ct_layer_new("BatchNormalization", "{\"axis\": [1, 1]}"), "twice");
    CT_FAILS(ct_layer_new("BatchNormalization", "{\"renorm\": true}"), "'renorm'");
    CT_FAILS(ct_layer_new("BatchNormalization", "{\"epsilon\": -1}"), "'epsilon'");
    CT_FAILS(ct_layer_new("LayerNormalization", "{\"momentum\": 0.9}"),
             "unknown argument 'momentum'");
    CT_FAILS(ct_layer_new("GroupNormalization", "{\"groups\": 0}"), "'groups'");

    ct_layer *l = ct_test_layer("BatchNormalization", "{\"axis\": 3, \"name\": \"bn\"}");
    CT_FAILS(ct_layer_call(l, ct_ones(CT_FLOAT32, CT_DIMS(2, 3)), true),
             "BatchNormalization 'bn': axis 3 is out of bounds");
    CT_OK(ct_layer_call(l, ct_ones(CT_FLOAT32, CT_DIMS(2, 1, 1, 3)), true));
    CT_FAILS(ct_layer_call(l, ct_ones(CT_FLOAT32, CT_DIMS(2, 1, 1, 4)), true), "built for");
    ct_layer_free(l);
    l = ct_test_layer("BatchNormalization", NULL);
    ct_shape s = {.rank = 2, .dim = {4, -1}};
    cr_expect_neq(ct_layer_build(l, 1, &s), CT_OK);
    cr_expect(strstr(ct_last_error(), "known size") != NULL, "%s", ct_last_error());
    ct_layer_free(l);
    l = ct_test_layer("LayerNormalization", "{\"axis\": [1, 2], \"name\": \"ln\"}");
    CT_FAILS(ct_layer_call(l, ct_ones(CT_FLOAT32, CT_DIMS(2, 3)), true),
             "LayerNormalization 'ln': axis 2 is out of bounds");
    ct_layer_free(l);
}
