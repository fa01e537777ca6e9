/*
 * keras.losses. Reference numbers are the Keras 3 docstring examples
 * (keras/src/losses/losses.py), or were computed by hand with Python's math
 * module following Keras 3's formulas (epsilon 1e-7, clipping to
 * [1e-7, 1 - 1e-7]); each case says which.
 */
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(losses, .init = ct_test_begin, .fini = ct_test_end);

/* The loss of l on (y_true, y_pred[, sample_weight]) as a double. */
static double call(ct_loss *l, ct_tensor *yt, ct_tensor *yp, ct_tensor *sw) {
    ct_tensor *r = ct_loss_call(l, yt, yp, sw);
    CT_OK(r);
    cr_assert_eq(ct_tensor_rank(r), 0, "expected a scalar");
    return ct_item(r);
}

static ct_loss *make(const char *name, const ct_loss_opts *o) {
    ct_loss *l = ct_loss_new(name, o);
    cr_assert_not_null(l, "%s", ct_last_error());
    return l;
}

/* ---- names --------------------------------------------------------------------- */

Test(losses, names_aliases_and_default_names) {
    static const char *const pairs[][2] = {
        {"mse", "mean_squared_error"},
        {"MSE", "mean_squared_error"},
        {"mean_squared_error", "mean_squared_error"},
        {"MeanSquaredError", "mean_squared_error"},
        {"mae", "mean_absolute_error"},
        {"MeanAbsoluteError", "mean_absolute_error"},
        {"mape", "mean_absolute_percentage_error"},
        {"MeanAbsolutePercentageError", "mean_absolute_percentage_error"},
        {"msle", "mean_squared_logarithmic_error"},
        {"MeanSquaredLogarithmicError", "mean_squared_logarithmic_error"},
        {"huber", "huber"},
        {"Huber", "huber_loss"},
        {"log_cosh", "log_cosh"},
        {"logcosh", "log_cosh"},
        {"LogCosh", "log_cosh"},
        {"binary_crossentropy", "binary_crossentropy"},
        {"bce", "binary_crossentropy"},
        {"BinaryCrossentropy", "binary_crossentropy"},
        {"categorical_crossentropy", "categorical_crossentropy"},
        {"CategoricalCrossentropy", "categorical_crossentropy"},
        {"sparse_categorical_crossentropy", "sparse_categorical_crossentropy"},
        {"SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"},
        {"binary_focal_crossentropy", "binary_focal_crossentropy"},
        {"BinaryFocalCrossentropy", "binary_focal_crossentropy"},
        {"categorical_focal_crossentropy", "categorical_focal_crossentropy"},
        {"CategoricalFocalCrossentropy", "categorical_focal_crossentropy"},
        {"hinge", "hinge"},
        {"Hinge", "hinge"},
        {"squared_hinge", "squared_hinge"},
        {"SquaredHinge", "squared_hinge"},
        {"categorical_hinge", "categorical_hinge"},
        {"CategoricalHinge", "categorical_hinge"},
        {"kl_divergence", "kl_divergence"},
        {"kld", "kl_divergence"},
        {"KLD", "kl_divergence"},
        {"kullback_leibler_divergence", "kl_divergence"},
        {"KLDivergence", "kl_divergence"},
        {"poisson", "poisson"},
        {"Poisson", "poisson"},
        {"cosine_similarity", "cosine_similarity"},
        {"CosineSimilarity", "cosine_similarity"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        ct_loss *l = make(pairs[i][0], NULL);
        cr_expect_str_eq(ct_loss_name(l), pairs[i][1], "%s", pairs[i][0]);
        ct_loss_free(l);
    }
    ct_loss *l = make("mse", &(ct_loss_opts){.name = "my_loss"});
    cr_expect_str_eq(ct_loss_name(l), "my_loss");
    ct_loss_free(l);
}

Test(losses, unknown_names_and_arguments_are_errors) {
    CT_FAILS(ct_loss_new("mean_squared_errr", NULL), "unknown loss 'mean_squared_errr'");
    CT_FAILS(ct_loss_new(NULL, NULL), "NULL");
    CT_FAILS(ct_loss_new("mse", &(ct_loss_opts){.from_logits = true}),
             "MeanSquaredError 'mean_squared_error': argument 'from_logits' does not apply");
    CT_FAILS(ct_loss_new("Huber", &(ct_loss_opts){.label_smoothing = 0.1}), "label_smoothing");
    CT_FAILS(ct_loss_new("SparseCategoricalCrossentropy", &(ct_loss_opts){.has_axis = true}),
             "'axis' does not apply");
    CT_FAILS(ct_loss_new("binary_crossentropy", &(ct_loss_opts){.reduction = 42}), "reduction");
    CT_FAILS(ct_loss_custom("f", NULL, NULL, NULL), "NULL");
}

/* ---- regression losses (Keras docstring examples) ---------------------------------- */

Test(losses, mean_squared_and_absolute_error) {
    /* MeanSquaredError / MeanAbsoluteError docstrings: 0.5, 0.25, 1.0, [0.5, 0.5]. */
    ct_tensor *yt = CT_F32(CT_DIMS(2, 2), 0, 1, 0, 0), *yp = CT_F32(CT_DIMS(2, 2), 1, 1, 1, 0);
    ct_tensor *sw = CT_F32(CT_DIMS(2), 0.7, 0.3);
    const char *names[] = {"MeanSquaredError", "MeanAbsoluteError"};
    for (int i = 0; i < 2; i++) {
        ct_loss *l = make(names[i], NULL);
        cr_expect_float_eq(call(l, yt, yp, NULL), 0.5, 1e-6);
        cr_expect_float_eq(call(l, yt, yp, sw), 0.25, 1e-6);
        ct_loss_free(l);
        l = make(names[i], &(ct_loss_opts){.reduction = CT_REDUCTION_SUM});
        cr_expect_float_eq(call(l, yt, yp, NULL), 1.0, 1e-6);
        ct_loss_free(l);
        l = make(names[i], &(ct_loss_opts){.reduction = CT_REDUCTION_NONE});
        CT_EXPECT(ct_loss_call(l, yt, yp, NULL), CT_FLOAT32, CT_DIMS(2), 1e-6, 0.5, 0.5);
        ct_loss_free(l);
    }
}

Test(losses, mean_absolute_percentage_and_squared_log_error) {
    /* MAPE docstring: 50, 20 with weights [0.7, 0.3], 100, [25, 75]. */
    ct_loss *l = make("mape", NULL);
    ct_tensor *yt = CT_F32(CT_DIMS(2, 2), 2, 1, 2, 3), *yp = CT_F32(CT_DIMS(2, 2), 1, 1, 1, 0);
    cr_expect_float_eq(call(l, yt, yp, NULL), 50, 1e-4);
    cr_expect_float_eq(call(l, yt, yp, CT_F32(CT_DIMS(2), 0.7, 0.3)), 20, 1e-4);
    CT_EXPECT(ct_loss_values(l, yt, yp), CT_FLOAT32, CT_DIMS(2), 1e-4, 25, 75);
    /* y_true 0 divides by epsilon: 100 * 1 / 1e-7 (hand). */
    CT_EXPECT(ct_loss_values(l, CT_F64(CT_DIMS(1), 0), CT_F64(CT_DIMS(1), 1)), CT_FLOAT64,
              CT_SCALAR, 1, 1e9);
    ct_loss_free(l);
    /* MSLE docstring: 0.240 (hand: 0.24022643764439106), 0.120, 0.480. */
    l = make("MeanSquaredLogarithmicError", NULL);
    yt = CT_F64(CT_DIMS(2, 2), 0, 1, 0, 0);
    yp = CT_F64(CT_DIMS(2, 2), 1, 1, 1, 0);
    cr_expect_float_eq(call(l, yt, yp, NULL), 0.24022643764439106, 1e-12);
    cr_expect_float_eq(call(l, yt, yp, CT_F64(CT_DIMS(2), 0.7, 0.3)), 0.12011321882219553, 1e-12);
    /* Negative values count as epsilon. */
    cr_expect_float_eq(call(l, CT_F64(CT_DIMS(1), -5), CT_F64(CT_DIMS(1), 0), NULL), 0, 1e-15);
    ct_loss_free(l);
}

Test(losses, huber_and_log_cosh) {
    /* keras.losses.huber docstring: 0.155; per-sample (hand) [0.18, 0.13]. */
    ct_tensor *yt = CT_F64(CT_DIMS(2, 2), 0, 1, 0, 0);
    ct_tensor *yp = CT_F64(CT_DIMS(2, 2), 0.6, 0.4, 0.4, 0.6);
    ct_loss *l = make("huber", NULL);
    cr_expect_float_eq(call(l, yt, yp, NULL), 0.155, 1e-12);
    CT_EXPECT(ct_loss_values(l, yt, yp), CT_FLOAT64, CT_DIMS(2), 1e-12, 0.18, 0.13);
    ct_loss_free(l);
    /* delta 0.5 (hand): |0.6| > 0.5 gives 0.5 * 0.6 - 0.125 = 0.175. */
    l = make("Huber", &(ct_loss_opts){.delta = 0.5});
    CT_EXPECT(ct_loss_values(l, yt, yp), CT_FLOAT64, CT_DIMS(2), 1e-12, 0.175, 0.1275);
    ct_loss_free(l);
    /* LogCosh docstring: 0.108, 0.087 with weights [0.8, 0.2]
     * (hand: log(cosh(1)) / 4 = 0.10844520762075678). */
    l = make("LogCosh", NULL);
    yt = CT_F64(CT_DIMS(2, 2), 0, 1, 0, 0);
    yp = CT_F64(CT_DIMS(2, 2), 1, 1, 0, 0);
    cr_expect_float_eq(call(l, yt, yp, NULL), 0.10844520762075678, 1e-12);
    cr_expect_float_eq(call(l, yt, yp, CT_F64(CT_DIMS(2), 0.8, 0.2)), 0.08675616609660542, 1e-12);
    /* No overflow far out: log(cosh(1000)) = 1000 - log 2. */
    CT_EXPECT(ct_loss_values(l, CT_F32(CT_DIMS(1), 0), CT_F32(CT_DIMS(1), 1000)), CT_FLOAT32,
              CT_SCALAR, 1e-3, 1000 - log(2.0));
    ct_loss_free(l);
}

Test(losses, hinges) {
    /* Hinge / SquaredHinge / CategoricalHinge docstrings (tf.keras):
     * 1.3 / 1.86 / 1.4; weights [1, 0]: 0.55 / 0.73 / 0.6; none [1.1, 1.5] /
     * [1.46, 2.26] / [1.2, 1.6]. 0/1 labels become -1/1 for the first two. */
    ct_tensor *yt = CT_F64(CT_DIMS(2, 2), 0, 1, 0, 0);
    ct_tensor *yp = CT_F64(CT_DIMS(2, 2), 0.6, 0.4, 0.4, 0.6);
    ct_tensor *sw = CT_F64(CT_DIMS(2), 1, 0);
    struct {
        const char *name;
        double mean, weighted, v0, v1;
    } cases[] = {{"Hinge", 1.3, 0.55, 1.1, 1.5},
                 {"SquaredHinge", 1.86, 0.73, 1.46, 2.26},
                 {"CategoricalHinge", 1.4, 0.6, 1.2, 1.6}};
    for (int i = 0; i < 3; i++) {
        ct_loss *l = make(cases[i].name, NULL);
        cr_expect_float_eq(call(l, yt, yp, NULL), cases[i].mean, 1e-12, "%s", cases[i].name);
        cr_expect_float_eq(call(l, yt, yp, sw), cases[i].weighted, 1e-12, "%s", cases[i].name);
        CT_EXPECT(ct_loss_values(l, yt, yp), CT_FLOAT64, CT_DIMS(2), 1e-12, cases[i].v0,
                  cases[i].v1);
        ct_loss_free(l);
    }
    /* -1/1 labels pass unchanged: max(1 - (-1)(0.6), 0), max(1 - 0.4, 0). */
    ct_loss *l = make("hinge", NULL);
    CT_EXPECT(ct_loss_values(l, CT_F64(CT_DIMS(1, 2), -1, 1), CT_F64(CT_DIMS(1, 2), 0.6, 0.4)),
              CT_FLOAT64, CT_DIMS(1), 1e-12, 1.1);
    ct_loss_free(l);
}

Test(losses, kl_divergence_poisson_cosine) {
    ct_tensor *yt = CT_F64(CT_DIMS(2, 2), 0, 1, 0, 0);
    /* KLDivergence docstring: 0.458, none [0.916, -3.08e-06] (hand values). */
    ct_loss *l = make("kld", NULL);
    ct_tensor *yp = CT_F64(CT_DIMS(2, 2), 0.6, 0.4, 0.4, 0.6);
    CT_EXPECT(ct_loss_values(l, yt, yp), CT_FLOAT64, CT_DIMS(2), 1e-12, 0.9162891711471524,
              -3.080907494627649e-06);
    ct_loss_free(l);
    /* Poisson docstring: 0.5, 0.4 with [0.8, 0.2], sum 0.999, none [0.999, 0]. */
    l = make("Poisson", NULL);
    yp = CT_F64(CT_DIMS(2, 2), 1, 1, 0, 0);
    cr_expect_float_eq(call(l, yt, yp, NULL), 0.9999999500000025 / 2, 1e-12);
    cr_expect_float_eq(call(l, yt, yp, CT_F64(CT_DIMS(2), 0.8, 0.2)), 0.39999998, 1e-8);
    CT_EXPECT(ct_loss_values(l, yt, yp), CT_FLOAT64, CT_DIMS(2), 1e-12, 0.9999999500000025, 0);
    ct_loss_free(l);
    /* keras.losses.cosine_similarity docstring: [-0, -1, 1]. */
    l = make("cosine_similarity", NULL);
    CT_EXPECT(ct_loss_values(l, CT_F32(CT_DIMS(3, 2), 0, 1, 1, 1, 1, 1),
                             CT_F32(CT_DIMS(3, 2), 1, 0, 1, 1, -1, -1)),
              CT_FLOAT32, CT_DIMS(3), 1e-6, 0, -1, 1);
    /* CosineSimilarity docstring: -0.5, weights [0.8, 0.2]: -0.1. */
    yt = CT_F32(CT_DIMS(2, 2), 0, 1, 1, 1);
    yp = CT_F32(CT_DIMS(2, 2), 1, 0, 1, 1);
    cr_expect_float_eq(call(l, yt, yp, NULL), -0.5, 1e-6);
    cr_expect_float_eq(call(l, yt, yp, CT_F32(CT_DIMS(2), 0.8, 0.2)), -0.1, 1e-6);
    /* A zero vector gives 0, not NaN. */
    CT_EXPECT(ct_loss_values(l, CT_F32(CT_DIMS(1, 2), 0, 0), CT_F32(CT_DIMS(1, 2), 1, 2)),
              CT_FLOAT32, CT_DIMS(1), 0, 0);
    ct_loss_free(l);
    /* axis 0: similarity down the columns. */
    l = make("CosineSimilarity", &(ct_loss_opts){.axis = 0, .has_axis = true});
    CT_EXPECT(ct_loss_values(l, CT_F64(CT_DIMS(2, 2), 1, 0, 0, 1), CT_F64(CT_DIMS(2, 2), 1, 1, 0, 1)),
              CT_FLOAT64, CT_DIMS(2), 1e-12, -1, -sqrt(0.5));
    ct_loss_free(l);
}

/* ---- cross-entropies -------------------------------------------------------------- */

Test(losses, binary_crossentropy) {
    /* keras.losses.binary_crossentropy docstring: [0.916, 0.714]. */
    ct_loss *l = make("binary_crossentropy", NULL);
    CT_EXPECT(ct_loss_values(l, CT_F32(CT_DIMS(2, 2), 0, 1, 0, 0),
                             CT_F32(CT_DIMS(2, 2), 0.6, 0.4, 0.4, 0.6)),
              CT_FLOAT32, CT_DIMS(2), 1e-3, 0.916, 0.714);
    /* Clipping: p = 0 and p = 1 give -log(1e-7) for the wrong label. */
    CT_EXPECT(ct_loss_values(l, CT_F64(CT_DIMS(2), 1, 0), CT_F64(CT_DIMS(2), 0, 1)), CT_FLOAT64,
              CT_SCALAR, 1e-9, -log(1e-7));
    ct_loss_free(l);
    /* BinaryCrossentropy(from_logits=True) docstring: 0.8654 (1-D and 2x2),
     * 0.243 with [0.8, 0.2], sum 1.730, none [0.235, 1.496]; hand values. */
    ct_tensor *yt = CT_I32(CT_DIMS(2, 2), 0, 1, 0, 0);
    ct_tensor *x = CT_F64(CT_DIMS(2, 2), -18.6, 0.51, 2.94, -12.8);
    l = make("BinaryCrossentropy", &(ct_loss_opts){.from_logits = true});
    cr_expect_float_eq(call(l, CT_I32(CT_DIMS(4), 0, 1, 0, 0),
                            CT_F64(CT_DIMS(4), -18.6, 0.51, 2.94, -12.8), NULL),
                       0.8654579497810972, 1e-12);
    cr_expect_float_eq(call(l, yt, x, NULL), 0.8654579497810972, 1e-12);
    cr_expect_float_eq(call(l, yt, x, CT_F64(CT_DIMS(2), 0.8, 0.2)), 0.24363858891670923, 1e-12);
    ct_loss_free(l);
    l = make("BinaryCrossentropy", &(ct_loss_opts){.from_logits = true,
                                                   .reduction = CT_REDUCTION_SUM});
    cr_expect_float_eq(call(l, yt, x, NULL), 2 * 0.8654579497810972, 1e-12);
    ct_loss_free(l);
    l = make("BinaryCrossentropy", &(ct_loss_opts){.from_logits = true,
                                                   .reduction = CT_REDUCTION_NONE});
    CT_EXPECT(ct_loss_call(l, yt, x, NULL), CT_FLOAT64, CT_DIMS(2), 1e-12, 0.23515666320163253,
              1.495759236360562);
    ct_loss_free(l);
}

Test(losses, binary_crossentropy_logits_agree_with_probabilities_and_smoothing) {
    ct_tensor *yt = CT_F64(CT_DIMS(2, 3), 1, 0, 1, 0, 0, 1);
    ct_tensor *x = CT_F64(CT_DIMS(2, 3), 0.3, -1.2, 2.0, 0.7, -0.4, 1.5);
    for (double ls = 0; ls <= 0.3; ls += 0.3) {
        ct_loss *a = make("binary_crossentropy", &(ct_loss_opts){.from_logits = true,
                                                                 .label_smoothing = ls});
        ct_loss *b = make("binary_crossentropy", &(ct_loss_opts){.label_smoothing = ls});
        ct_tensor *va = ct_loss_values(a, yt, x), *vb = ct_loss_values(b, yt, ct_sigmoid(x));
        CT_OK(va);
        CT_OK(vb);
        for (int i = 0; i < 2; i++)
            cr_expect_float_eq(ct_tensor_get(va, i), ct_tensor_get(vb, i), 1e-12);
        ct_loss_free(a);
        ct_loss_free(b);
    }
    /* label_smoothing 0.2 (hand): labels become y * 0.8 + 0.1. */
    ct_loss *l = make("bce", &(ct_loss_opts){.label_smoothing = 0.2});
    CT_EXPECT(ct_loss_values(l, CT_F64(CT_DIMS(2, 2), 1, 0, 0, 1),
                             CT_F64(CT_DIMS(2, 2), 0.8, 0.3, 0.25, 0.9)),
              CT_FLOAT64, CT_DIMS(2), 1e-12, 0.4015888587018258, 0.36131313735502);
    ct_loss_free(l);
    /* axis 0 averages over the first axis. */
    l = make("binary_crossentropy", &(ct_loss_opts){.axis = 0, .has_axis = true});
    ct_tensor *v = ct_loss_values(l, CT_F64(CT_DIMS(2, 2), 0, 1, 0, 0),
                                  CT_F64(CT_DIMS(2, 2), 0.6, 0.4, 0.4, 0.6));
    CT_EXPECT(v, CT_FLOAT64, CT_DIMS(2), 1e-12, -(log(0.4) + log(0.6)) / 2, -(log(0.4) * 2) / 2);
    ct_loss_free(l);
}

Test(losses, categorical_crossentropy) {
    /* CategoricalCrossentropy docstring: 1.177, 0.814 with [0.3, 0.7], sum
     * 2.354, none [0.0513, 2.303] (hand: 0.05129329438755058, 2.3025850929940455,
     * the 0 probability clipped to 1e-7). */
    ct_tensor *yt = CT_F64(CT_DIMS(2, 3), 0, 1, 0, 0, 0, 1);
    ct_tensor *yp = CT_F64(CT_DIMS(2, 3), 0.05, 0.95, 0, 0.1, 0.8, 0.1);
    ct_loss *l = make("CategoricalCrossentropy", NULL);
    cr_expect_float_eq(call(l, yt, yp, NULL), 1.176939193690798, 1e-12);
    cr_expect_float_eq(call(l, yt, yp, CT_F64(CT_DIMS(2), 0.3, 0.7)),
                       (0.3 * 0.05129329438755058 + 0.7 * 2.3025850929940455) / 2, 1e-12);
    CT_EXPECT(ct_loss_values(l, yt, yp), CT_FLOAT64, CT_DIMS(2), 1e-12, 0.05129329438755058,
              2.3025850929940455);
    /* Unnormalised probabilities are normalised first. */
    CT_EXPECT(ct_loss_values(l, CT_F64(CT_DIMS(1, 2), 1, 0), CT_F64(CT_DIMS(1, 2), 2, 2)),
              CT_FLOAT64, CT_DIMS(1), 1e-12, log(2.0));
    ct_loss_free(l);
    /* label_smoothing 0.3 (hand): y * 0.7 + 0.1. */
    l = make("categorical_crossentropy", &(ct_loss_opts){.label_smoothing = 0.3});
    CT_EXPECT(ct_loss_values(l, yt, yp), CT_FLOAT64, CT_DIMS(2), 1e-12, 1.9524174279612714,
              2.094640938826062);
    ct_loss_free(l);
    /* Logits agree with softmax probabilities, smoothing too. */
    ct_tensor *x = CT_F64(CT_DIMS(2, 3), 1.0, 2.0, 0.5, 0.3, -1.0, 2.0);
    for (double ls = 0; ls <= 0.2; ls += 0.2) {
        ct_loss *a = make("categorical_crossentropy", &(ct_loss_opts){.from_logits = true,
                                                                      .label_smoothing = ls});
        ct_loss *b = make("categorical_crossentropy", &(ct_loss_opts){.label_smoothing = ls});
        ct_tensor *va = ct_loss_values(a, yt, x), *vb = ct_loss_values(b, yt, ct_softmax(x, -1));
        CT_OK(va);
        CT_OK(vb);
        for (int i = 0; i < 2; i++)
            cr_expect_float_eq(ct_tensor_get(va, i), ct_tensor_get(vb, i), 1e-12);
        ct_loss_free(a);
        ct_loss_free(b);
    }
    /* axis 0 (classes first) equals the transposed problem on axis -1. */
    ct_loss *a = make("categorical_crossentropy",
                      &(ct_loss_opts){.from_logits = true, .axis = 0, .has_axis = true});
    ct_loss *b = make("categorical_crossentropy", &(ct_loss_opts){.from_logits = true});
    ct_tensor *va = ct_loss_values(a, ct_transpose(yt, NULL), ct_transpose(x, NULL));
    ct_tensor *vb = ct_loss_values(b, yt, x);
    CT_OK(va);
    CT_OK(vb);
    for (int i = 0; i < 2; i++) cr_expect_float_eq(ct_tensor_get(va, i), ct_tensor_get(vb, i), 1e-12);
    ct_loss_free(a);
    ct_loss_free(b);
}

Test(losses, sparse_categorical_crossentropy) {
    /* SparseCategoricalCrossentropy docstring: as the categorical one. */
    ct_tensor *yp = CT_F32(CT_DIMS(2, 3), 0.05, 0.95, 0, 0.1, 0.8, 0.1);
    ct_loss *l = make("SparseCategoricalCrossentropy", NULL);
    cr_expect_float_eq(call(l, CT_I32(CT_DIMS(2), 1, 2), yp, NULL), 1.177, 1e-3);
    cr_expect_float_eq(call(l, CT_I64(CT_DIMS(2, 1), 1, 2), yp, NULL), 1.177, 1e-3);
    cr_expect_float_eq(call(l, CT_F32(CT_DIMS(2), 1, 2), yp, CT_F32(CT_DIMS(2), 0.3, 0.7)), 0.814,
                       1e-3);
    CT_EXPECT(ct_loss_values(l, CT_I32(CT_DIMS(2), 1, 2), yp), CT_FLOAT32, CT_DIMS(2), 1e-4,
              0.0513, 2.3026);
    ct_loss_free(l);
    /* from_logits agrees with the categorical loss on one-hot labels, and
     * with probabilities on softmax(x). */
    ct_tensor *x = CT_F64(CT_DIMS(2, 2, 3), 1.0, 2.0, 0.5, 0.3, -1.0, 2.0, 0.1, 0.2, 3.0, 2, 1, 0);
    ct_tensor *labels = CT_I64(CT_DIMS(2, 2), 1, 2, 2, 0);
    ct_loss *s = make("sparse_categorical_crossentropy", &(ct_loss_opts){.from_logits = true});
    ct_loss *sp = make("sparse_categorical_crossentropy", NULL);
    ct_loss *c = make("categorical_crossentropy", &(ct_loss_opts){.from_logits = true});
    ct_tensor *vs = ct_loss_values(s, labels, x);
    ct_tensor *vp = ct_loss_values(sp, labels, ct_softmax(x, -1));
    ct_tensor *vc = ct_loss_values(c, ct_one_hot(labels, 3, 1, 0, -1, CT_FLOAT64), x);
    ct_expect_shape(vs, CT_DIMS(2, 2));
    for (int i = 0; i < 4; i++) {
        cr_expect_float_eq(ct_tensor_get(vs, i), ct_tensor_get(vc, i), 1e-12);
        cr_expect_float_eq(ct_tensor_get(vs, i), ct_tensor_get(vp, i), 1e-12);
    }
    ct_loss_free(s);
    ct_loss_free(sp);
    ct_loss_free(c);
    /* Out-of-range labels are an error. */
    l = make("sparse_categorical_crossentropy", NULL);
    CT_FAILS(ct_loss_call(l, CT_I32(CT_DIMS(2), 1, 3), yp, NULL),
             "SparseCategoricalCrossentropy 'sparse_categorical_crossentropy': a label is outside "
             "[0, 3)");
    ct_loss_free(l);
}

Test(losses, sparse_ignore_class_leaves_the_denominator) {
    /* Hand: -log_softmax of rows 0 and 2 at labels 1 and 2; row 1 ignored. */
    const double l0 = 0.46436878410794513, l2 = 0.10960146452146535;
    ct_tensor *x = CT_F64(CT_DIMS(3, 3), 1.0, 2.0, 0.5, 0.3, -1.0, 2.0, 0.1, 0.2, 3.0);
    ct_tensor *labels = CT_I32(CT_DIMS(3), 1, -1, 2);
    ct_loss_opts o = {.from_logits = true, .has_ignore_class = true, .ignore_class = -1};
    ct_loss *l = make("SparseCategoricalCrossentropy", &o);
    CT_EXPECT(ct_loss_values(l, labels, x), CT_FLOAT64, CT_DIMS(3), 1e-12, l0, 0, l2);
    cr_expect_float_eq(call(l, labels, x, NULL), (l0 + l2) / 2, 1e-12);
    cr_expect_float_eq(call(l, labels, x, CT_F64(CT_DIMS(3), 0.5, 9, 2)), (0.5 * l0 + 2 * l2) / 2,
                       1e-12);
    ct_loss_free(l);
    o.reduction = CT_REDUCTION_SUM;
    l = make("SparseCategoricalCrossentropy", &o);
    cr_expect_float_eq(call(l, labels, x, NULL), l0 + l2, 1e-12);
    ct_loss_free(l);
    o.reduction = CT_REDUCTION_NONE;
    l = make("SparseCategoricalCrossentropy", &o);
    CT_EXPECT(ct_loss_call(l, labels, x, NULL), CT_FLOAT64, CT_DIMS(3), 1e-12, l0, 0, l2);
    ct_loss_free(l);
    /* Everything ignored: 0, not NaN. */
    o.reduction = CT_REDUCTION_DEFAULT;
    l = make("SparseCategoricalCrossentropy", &o);
    cr_expect_float_eq(call(l, CT_I32(CT_DIMS(3), -1, -1, -1), x, NULL), 0, 0);
    ct_loss_free(l);
}

Test(losses, focal_crossentropies) {
    /* keras.losses.binary_focal_crossentropy docstring, gamma 2: [0.330, 0.206]. */
    ct_loss *l = make("binary_focal_crossentropy", NULL);
    CT_EXPECT(ct_loss_values(l, CT_F64(CT_DIMS(2, 2), 0, 1, 0, 0),
                             CT_F64(CT_DIMS(2, 2), 0.6, 0.4, 0.4, 0.6)),
              CT_FLOAT64, CT_DIMS(2), 1e-12, 0.3298646634746958, 0.20579838163862715);
    ct_loss_free(l);
    /* BinaryFocalCrossentropy(from_logits=True) docstring: gamma 3: 0.647,
     * balanced 0.482; gamma 5 none [0.0017, 1.1561], balanced [0.0004,
     * 0.8670]; gamma 4 sum 1.222 (hand values). */
    ct_tensor *yt = CT_F64(CT_DIMS(2, 2), 0, 1, 0, 0);
    ct_tensor *x = CT_F64(CT_DIMS(2, 2), -18.6, 0.51, 2.94, -12.8);
    l = make("BinaryFocalCrossentropy", &(ct_loss_opts){.from_logits = true, .gamma = 3});
    cr_expect_float_eq(call(l, yt, x, NULL), 0.6469950118866967, 1e-12);
    ct_loss_free(l);
    l = make("BinaryFocalCrossentropy",
             &(ct_loss_opts){.from_logits = true, .gamma = 3, .apply_class_balancing = true});
    cr_expect_float_eq(call(l, yt, x, NULL), 0.48214124681934606, 1e-12);
    ct_loss_free(l);
    l = make("BinaryFocalCrossentropy", &(ct_loss_opts){.from_logits = true, .gamma = 5,
                                                        .reduction = CT_REDUCTION_NONE});
    CT_EXPECT(ct_loss_call(l, yt, x, NULL), CT_FLOAT64, CT_DIMS(2), 1e-12, 0.0017483724663243595,
              1.1561025133779397);
    ct_loss_free(l);
    l = make("BinaryFocalCrossentropy",
             &(ct_loss_opts){.from_logits = true, .gamma = 5, .apply_class_balancing = true,
                             .reduction = CT_REDUCTION_NONE});
    CT_EXPECT(ct_loss_call(l, yt, x, NULL), CT_FLOAT64, CT_DIMS(2), 1e-12, 0.0004370931165810899,
              0.8670768850334547);
    ct_loss_free(l);
    l = make("BinaryFocalCrossentropy",
             &(ct_loss_opts){.from_logits = true, .gamma = 4, .reduction = CT_REDUCTION_SUM});
    cr_expect_float_eq(call(l, yt, x, NULL), 1.2218806369838828, 1e-12);
    ct_loss_free(l);
    /* CategoricalFocalCrossentropy docstring: 0.23315276, none
     * [3.2058331e-05, 4.6627346e-01]. */
    l = make("CategoricalFocalCrossentropy", NULL);
    ct_tensor *ct = CT_F32(CT_DIMS(2, 3), 0, 1, 0, 0, 0, 1);
    ct_tensor *cp = CT_F32(CT_DIMS(2, 3), 0.05, 0.95, 0, 0.1, 0.8, 0.1);
    cr_expect_float_eq(call(l, ct, cp, NULL), 0.23315276, 1e-6);
    CT_EXPECT(ct_loss_values(l, ct, cp), CT_FLOAT32, CT_DIMS(2), 1e-6, 3.2058331e-05, 4.6627346e-01);
    ct_loss_free(l);
}

/* ---- weights and reductions ------------------------------------------------------- */

Test(losses, sample_weight_shapes) {
    ct_tensor *yt = CT_F64(CT_DIMS(2, 2), 0, 1, 0, 0), *yp = CT_F64(CT_DIMS(2, 2), 1, 1, 1, 0);
    ct_loss *l = make("mse", NULL);
    /* A trailing 1 is squeezed; a scalar broadcasts. */
    cr_expect_float_eq(call(l, yt, yp, CT_F64(CT_DIMS(2, 1), 0.7, 0.3)), 0.25, 1e-12);
    cr_expect_float_eq(call(l, yt, yp, ct_scalar_of(CT_FLOAT64, 3)), 1.5, 1e-12);
    /* Float32 weights with float64 values are cast. */
    cr_expect_float_eq(call(l, yt, yp, CT_F32(CT_DIMS(2), 0.5, 0.5)), 0.25, 1e-7);
    CT_FAILS(ct_loss_call(l, yt, yp, CT_F64(CT_DIMS(3), 1, 2, 3)),
             "MeanSquaredError 'mean_squared_error': sample_weight [3] does not broadcast to the "
             "per-sample loss [2]");
    /* Per-element weights on [batch, time] values (rank-3 inputs). */
    ct_tensor *yt3 = CT_F64(CT_DIMS(1, 2, 2), 0, 1, 0, 0), *yp3 = CT_F64(CT_DIMS(1, 2, 2), 1, 1, 1, 0);
    cr_expect_float_eq(call(l, yt3, yp3, CT_F64(CT_DIMS(1, 2), 0.7, 0.3)), 0.25, 1e-12);
    ct_loss_free(l);
    /* y_true [batch, 1] against y_pred [batch]: y_pred gets the trailing 1. */
    l = make("mae", &(ct_loss_opts){.reduction = CT_REDUCTION_NONE});
    CT_EXPECT(ct_loss_call(l, CT_F64(CT_DIMS(2, 1), 1, 2), CT_F64(CT_DIMS(2), 0, 0), NULL),
              CT_FLOAT64, CT_DIMS(2), 0, 1, 2);
    ct_loss_free(l);
    /* mean_with_sample_weight (Keras 3, from a config): divides by sum(w). */
    l = ct_loss_from_config(
        "{\"class_name\": \"MeanSquaredError\", \"config\": {\"reduction\": "
        "\"mean_with_sample_weight\"}}");
    CT_OK(l);
    cr_expect_float_eq(call(l, yt, yp, CT_F64(CT_DIMS(2), 0.2, 0.3)), 0.5, 1e-12);
    cr_expect_float_eq(call(l, yt, yp, NULL), 0.5, 1e-12);
    ct_loss_free(l);
}

Test(losses, empty_batch_and_integer_inputs) {
    ct_loss *l = make("mse", NULL);
    /* An empty batch reduces to an empty vector, as Keras returns it. */
    ct_tensor *r = ct_loss_call(l, ct_zeros(CT_FLOAT32, CT_DIMS(0, 3)),
                                ct_zeros(CT_FLOAT32, CT_DIMS(0, 3)), NULL);
    CT_OK(r);
    ct_expect_shape(r, CT_DIMS(0));
    /* Integer predictions are computed in float32. */
    r = ct_loss_call(l, CT_I32(CT_DIMS(1, 2), 0, 1), CT_I32(CT_DIMS(1, 2), 2, 1), NULL);
    CT_EXPECT(r, CT_FLOAT32, CT_SCALAR, 0, 2);
    ct_loss_free(l);
}

/* ---- shape errors ------------------------------------------------------------------ */

Test(losses, bad_shapes_are_errors) {
    ct_tensor *a = ct_zeros(CT_FLOAT32, CT_DIMS(2, 3)), *b = ct_zeros(CT_FLOAT32, CT_DIMS(2, 4));
    ct_loss *l = make("binary_crossentropy", NULL);
    CT_FAILS(ct_loss_call(l, a, b, NULL),
             "BinaryCrossentropy 'binary_crossentropy': y_true and y_pred must have the same "
             "shape, got y_true [2,3] and y_pred [2,4]");
    ct_loss_free(l);
    l = make("CategoricalCrossentropy", NULL);
    CT_FAILS(ct_loss_call(l, a, b, NULL), "y_true [2,3] and y_pred [2,4]");
    ct_loss_free(l);
    l = make("mse", NULL);
    CT_FAILS(ct_loss_call(l, a, b, NULL),
             "MeanSquaredError 'mean_squared_error': y_true [2,3] and y_pred [2,4] have "
             "incompatible shapes");
    CT_FAILS(ct_loss_call(l, ct_scalar(1), ct_scalar(2), NULL), "scalars");
    CT_FAILS(ct_loss_call(l, NULL, b, NULL), "y_true is NULL");
    ct_loss_free(l);
    l = make("sparse_categorical_crossentropy", NULL);
    CT_FAILS(ct_loss_call(l, CT_I32(CT_DIMS(3), 0, 1, 2), b, NULL),
             "SparseCategoricalCrossentropy 'sparse_categorical_crossentropy': y_true must have "
             "y_pred's shape without its last dimension, got y_true [3] and y_pred [2,4]");
    ct_loss_free(l);
    l = make("categorical_crossentropy", &(ct_loss_opts){.axis = 2, .has_axis = true});
    CT_FAILS(ct_loss_call(l, a, a, NULL), "argument 'axis' is 2");
    ct_loss_free(l);
}

/* ---- custom losses ----------------------------------------------------------------- */

static ct_tensor *abs_sum(const ct_tensor *y_true, const ct_tensor *y_pred, void *ctx) {
    double scale = *(double *)ctx;
    ct_tensor *d = ct_reduce_sum(ct_abs(ct_subtract(y_true, y_pred)), CT_AXES(-1), false);
    return ct_multiply(d, ct_scalar_of(ct_tensor_dtype(d), scale));
}

static ct_tensor *returns_input(const ct_tensor *y_true, const ct_tensor *y_pred, void *ctx) {
    (void)y_true, (void)ctx;
    return (ct_tensor *)y_pred;
}

Test(losses, custom_loss) {
    double scale = 2;
    ct_loss *l = ct_loss_custom("abs_sum", abs_sum, &scale, NULL);
    CT_OK(l);
    cr_expect_str_eq(ct_loss_name(l), "abs_sum");
    ct_tensor *yt = CT_I32(CT_DIMS(2, 2), 0, 1, 0, 0), *yp = CT_F64(CT_DIMS(2, 2), 1, 1, 1, 0);
    cr_expect_float_eq(call(l, yt, yp, NULL), 2.0, 1e-12);
    cr_expect_float_eq(call(l, yt, yp, CT_F64(CT_DIMS(2), 1, 0)), 1.0, 1e-12);
    char *cfg = ct_loss_get_config(l);
    CT_OK(cfg);
    cr_expect(strstr(cfg, "\"class_name\":\"LossFunctionWrapper\"") != NULL, "%s", cfg);
    CT_FAILS(ct_loss_from_config(cfg), "unknown loss function 'abs_sum'");
    free(cfg);
    ct_loss_free(l);
    /* A function returning one of its inputs still gives a result the
     * caller's scope owns. */
    l = ct_loss_custom(NULL, returns_input, NULL,
                       &(ct_loss_opts){.reduction = CT_REDUCTION_NONE});
    CT_OK(l);
    cr_expect_str_eq(ct_loss_name(l), "loss_function_wrapper");
    CT_EXPECT(ct_loss_call(l, yp, yp, NULL), CT_FLOAT64, CT_DIMS(2, 2), 0, 1, 1, 1, 0);
    ct_loss_free(l);
}

/* ---- configs -------------------------------------------------------------------------- */

Test(losses, config_round_trips) {
    struct {
        const char *name;
        ct_loss_opts opts;
        const char *needle;
    } cases[] = {
        {"MeanSquaredError", {0}, "\"name\":\"mean_squared_error\",\"reduction\":\"sum_over_batch_size\""},
        {"mae", {.reduction = CT_REDUCTION_SUM}, "\"reduction\":\"sum\""},
        {"mape", {0}, "MeanAbsolutePercentageError"},
        {"msle", {.reduction = CT_REDUCTION_NONE}, "\"reduction\":\"none\""},
        {"Huber", {.delta = 2.5}, "\"delta\":2.5"},
        {"LogCosh", {0}, "\"name\":\"log_cosh\""},
        {"BinaryCrossentropy", {.from_logits = true, .label_smoothing = 0.25},
         "\"from_logits\":true,\"label_smoothing\":0.25,\"axis\":-1"},
        {"CategoricalCrossentropy", {.axis = 1, .has_axis = true}, "\"axis\":1"},
        {"SparseCategoricalCrossentropy", {.has_ignore_class = true, .ignore_class = 255},
         "\"from_logits\":false,\"ignore_class\":255"},
        {"sparse_categorical_crossentropy", {0}, "\"ignore_class\":null"},
        {"BinaryFocalCrossentropy", {.apply_class_balancing = true, .alpha = 0.5, .gamma = 3},
         "\"apply_class_balancing\":true,\"alpha\":0.5,\"gamma\":3.0"},
        {"CategoricalFocalCrossentropy", {.gamma = 1.5}, "\"gamma\":1.5"},
        {"Hinge", {0}, "Hinge"},
        {"SquaredHinge", {0}, "SquaredHinge"},
        {"CategoricalHinge", {0}, "CategoricalHinge"},
        {"kld", {0}, "\"class_name\":\"KLDivergence\""},
        {"Poisson", {.name = "pois"}, "\"name\":\"pois\""},
        {"CosineSimilarity", {.axis = 0, .has_axis = true}, "\"axis\":0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ct_loss *l = make(cases[i].name, &cases[i].opts);
        char *c1 = ct_loss_get_config(l);
        CT_OK(c1);
        cr_expect(strstr(c1, cases[i].needle) != NULL, "%s: %s lacks %s", cases[i].name, c1,
                  cases[i].needle);
        ct_loss *l2 = ct_loss_from_config(c1);
        cr_assert_not_null(l2, "%s: %s", c1, ct_last_error());
        char *c2 = ct_loss_get_config(l2);
        cr_expect_str_eq(c2, c1);
        cr_expect_str_eq(ct_loss_name(l2), ct_loss_name(l));
        free(c1);
        free(c2);
        ct_loss_free(l);
        ct_loss_free(l2);
    }
}

Test(losses, configs_keras_forms) {
    /* Keras 3's serialize_keras_object form, reduction None and a dtype. */
    ct_loss *l = ct_loss_from_config(
        "{\"module\": \"keras.losses\", \"class_name\": \"BinaryCrossentropy\", \"config\": "
        "{\"name\": \"bce\", \"reduction\": null, \"from_logits\": true, \"label_smoothing\": 0.0, "
        "\"axis\": -1, \"dtype\": \"float32\"}, \"registered_name\": null}");
    CT_OK(l);
    cr_expect_str_eq(ct_loss_name(l), "bce");
    CT_EXPECT(ct_loss_call(l, CT_F64(CT_DIMS(2, 1), 0, 1), CT_F64(CT_DIMS(2, 1), 0, 0), NULL),
              CT_FLOAT64, CT_DIMS(2), 1e-12, log(2.0), log(2.0));
    char *c = ct_loss_get_config(l);
    cr_expect(strstr(c, "\"reduction\":null") != NULL, "%s", c);
    free(c);
    ct_loss_free(l);
    /* Names: JSON strings, bare names, Keras 3's functions. */
    const char *forms[] = {"\"mse\"", "mse",
                           "{\"module\": \"keras.losses\", \"class_name\": \"function\", "
                           "\"config\": \"mean_squared_error\", \"registered_name\": "
                           "\"mean_squared_error\"}",
                           "{\"class_name\": \"MeanSquaredError\"}",
                           "{\"class_name\": \"LossFunctionWrapper\", \"config\": {\"name\": "
                           "\"mean_squared_error\", \"reduction\": \"sum_over_batch_size\", \"fn\": "
                           "{\"module\": \"keras.losses\", \"class_name\": \"function\", "
                           "\"config\": \"mean_squared_error\", \"registered_name\": null}}}",
                           "{\"class_name\": \"MeanSquaredError\", \"config\": {\"name\": "
                           "\"mean_squared_error\", \"reduction\": \"auto\", \"fn\": "
                           "\"mean_squared_error\"}}"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        l = ct_loss_from_config(forms[i]);
        cr_assert_not_null(l, "%s: %s", forms[i], ct_last_error());
        cr_expect_str_eq(ct_loss_name(l), "mean_squared_error", "%s", forms[i]);
        cr_expect_float_eq(call(l, CT_F32(CT_DIMS(1, 2), 0, 1), CT_F32(CT_DIMS(1, 2), 1, 1), NULL),
                           0.5, 1e-6);
        ct_loss_free(l);
    }
    /* A wrapper's function keyword arguments. */
    l = ct_loss_from_config("{\"class_name\": \"LossFunctionWrapper\", \"config\": {\"fn\": "
                            "\"huber\", \"delta\": 0.5, \"reduction\": \"sum\"}}");
    CT_OK(l);
    cr_expect_str_eq(ct_loss_name(l), "huber");
    cr_expect_float_eq(call(l, CT_F64(CT_DIMS(1, 1), 0), CT_F64(CT_DIMS(1, 1), 0.6), NULL), 0.175,
                       1e-12);
    ct_loss_free(l);
}

Test(losses, config_errors) {
    CT_FAILS(ct_loss_from_config("{\"class_name\": \"MeanSquaredErr\", \"config\": {}}"),
             "unknown loss class 'MeanSquaredErr'");
    CT_FAILS(ct_loss_from_config("nonsense_loss"), "unknown loss 'nonsense_loss'");
    CT_FAILS(ct_loss_from_config("{\"class_name\": \"MeanSquaredError\", \"config\": "
                                 "{\"from_logits\": true}}"),
             "MeanSquaredError: unknown argument 'from_logits'");
    CT_FAILS(ct_loss_from_config("{\"class_name\": \"Huber\", \"config\": {\"name\": \"h\", "
                                 "\"delta\": \"big\"}}"),
             "Huber 'h': argument 'delta': must be a number");
    CT_FAILS(ct_loss_from_config("{\"class_name\": \"Huber\", \"config\": {\"reduction\": "
                                 "\"average\"}}"),
             "argument 'reduction': must be one of");
    CT_FAILS(ct_loss_from_config("{\"class_name\": \"CategoricalFocalCrossentropy\", \"config\": "
                                 "{\"alpha\": [0.1, 0.9]}}"),
             "per-class alphas");
    CT_FAILS(ct_loss_from_config("{\"config\": {}}"), "class_name");
    CT_FAILS(ct_loss_from_config("{\"class_name\": \"Poisson\", "), "bad JSON");
    CT_FAILS(ct_loss_from_config("[1, 2]"), "expected a loss name");
}

/* ---- gradients ------------------------------------------------------------------------ */

typedef struct {
    ct_loss *loss;
    ct_tensor *y_true, *sample_weight;
    bool reduce;
} grad_ctx;

static ct_tensor *loss_of(ct_tensor *const *in, void *p) {
    grad_ctx *g = p;
    return g->reduce ? ct_loss_call(g->loss, g->y_true, in[0], g->sample_weight)
                     : ct_loss_values(g->loss, g->y_true, in[0]);
}

/* Checks d/dy_pred of the per-sample values and of the weighted reduction. */
static void check_grad(const char *name, const ct_loss_opts *o, ct_tensor *yt, ct_tensor *yp,
                       ct_tensor *sw) {
    ct_loss *l = make(name, o);
    grad_ctx g = {l, yt, NULL, false};
    ct_gradcheck(loss_of, 1, &yp, &g, 1e-6);
    g = (grad_ctx){l, yt, sw, true};
    ct_gradcheck(loss_of, 1, &yp, &g, 1e-6);
    ct_loss_free(l);
}

Test(losses, gradients_of_regression_losses) {
    /* Points away from kinks (|e| = delta, abs at 0, hinge margins). */
    ct_tensor *yt = CT_F64(CT_DIMS(2, 3), 0.5, 1.5, -0.7, 2.0, 0.1, 0.9);
    ct_tensor *yp = CT_F64(CT_DIMS(2, 3), 0.2, 2.1, 0.4, 1.1, 0.35, 0.3);
    ct_tensor *sw = CT_F64(CT_DIMS(2), 0.3, 1.7);
    const char *names[] = {"mse", "mae", "mape", "msle", "huber", "log_cosh", "cosine_similarity"};
    for (int i = 0; i < 7; i++) check_grad(names[i], NULL, yt, yp, sw);
    check_grad("Huber", &(ct_loss_opts){.delta = 0.5}, yt, yp, sw);
    ct_tensor *pos = CT_F64(CT_DIMS(2, 3), 0.2, 2.1, 0.4, 1.1, 0.35, 0.3);
    ct_tensor *cnt = CT_F64(CT_DIMS(2, 3), 0, 3, 1, 2, 0, 1);
    check_grad("poisson", NULL, cnt, pos, sw);
    ct_tensor *lab = CT_F64(CT_DIMS(2, 3), 0, 1, 1, 1, 0, 0);
    ct_tensor *p = CT_F64(CT_DIMS(2, 3), 0.3, 1.6, -0.4, 0.2, -2.5, 0.45);
    check_grad("hinge", NULL, lab, p, sw);
    check_grad("squared_hinge", NULL, lab, p, sw);
    ct_tensor *oh = CT_F64(CT_DIMS(2, 3), 0, 1, 0, 0, 0, 1);
    check_grad("categorical_hinge", NULL, oh, CT_F64(CT_DIMS(2, 3), 0.3, 0.6, 0.1, 0.5, 0.2, 0.3),
               sw);
    ct_tensor *dist = CT_F64(CT_DIMS(2, 3), 0.2, 0.5, 0.3, 0.6, 0.1, 0.3);
    check_grad("kld", NULL, dist, CT_F64(CT_DIMS(2, 3), 0.3, 0.4, 0.3, 0.2, 0.2, 0.6), sw);
}

Test(losses, gradients_of_crossentropies) {
    ct_tensor *sw = CT_F64(CT_DIMS(2), 0.3, 1.7);
    ct_tensor *bt = CT_F64(CT_DIMS(2, 3), 1, 0, 1, 0, 0, 1);
    ct_tensor *bp = CT_F64(CT_DIMS(2, 3), 0.7, 0.2, 0.4, 0.35, 0.6, 0.9);
    ct_tensor *bx = CT_F64(CT_DIMS(2, 3), 0.3, -1.2, 2.0, 0.7, -0.4, 1.5);
    check_grad("binary_crossentropy", NULL, bt, bp, sw);
    check_grad("binary_crossentropy", &(ct_loss_opts){.from_logits = true, .label_smoothing = 0.1},
               bt, bx, sw);
    check_grad("binary_focal_crossentropy", NULL, bt, bp, sw);
    check_grad("binary_focal_crossentropy",
               &(ct_loss_opts){.from_logits = true, .apply_class_balancing = true, .gamma = 3},
               bt, bx, sw);
    ct_tensor *ct = CT_F64(CT_DIMS(2, 3), 0, 1, 0, 0, 0, 1);
    ct_tensor *cp = CT_F64(CT_DIMS(2, 3), 0.2, 0.5, 0.3, 0.6, 0.1, 0.3);
    check_grad("categorical_crossentropy", NULL, ct, cp, sw);
    check_grad("categorical_crossentropy",
               &(ct_loss_opts){.from_logits = true, .label_smoothing = 0.2}, ct, bx, sw);
    check_grad("categorical_focal_crossentropy", NULL, ct, cp, sw);
    check_grad("categorical_focal_crossentropy", &(ct_loss_opts){.from_logits = true}, ct, bx, sw);
    ct_tensor *labels = CT_I32(CT_DIMS(2), 1, 2);
    check_grad("sparse_categorical_crossentropy", NULL, labels, cp, sw);
    check_grad("sparse_categorical_crossentropy", &(ct_loss_opts){.from_logits = true}, labels,
               bx, sw);
    check_grad("sparse_categorical_crossentropy",
               &(ct_loss_opts){.from_logits = true, .has_ignore_class = true, .ignore_class = 2},
               labels, bx, sw);
}
