/*
 * keras.metrics. Expected numbers are the examples of the Keras docstrings
 * (the "Example:" blocks of keras/src/metrics/), unless a comment
 * derives them by hand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(metrics, .init = ct_test_begin, .fini = ct_test_end);

/* update + result as a double (scalar results). */
static double run(ct_metric *m, const ct_tensor *y_true, const ct_tensor *y_pred,
                  const ct_tensor *sw) {
    CT_STATUS_OK(ct_metric_update(m, y_true, y_pred, sw));
    ct_tensor *r = ct_metric_result(m);
    CT_OK(r);
    cr_assert_eq(ct_tensor_rank(r), 0, "result rank %d", ct_tensor_rank(r));
    cr_assert_eq(ct_tensor_dtype(r), CT_FLOAT32);
    return ct_item(r);
}

static ct_metric *make(const char *name, const ct_metric_opts *opts) {
    ct_metric *m = ct_metric_new(name, opts);
    cr_assert_not_null(m, "%s: %s", name, ct_last_error());
    return m;
}

/* got is evaluated once (it usually runs an update). */
#define NEAR(got, want)                                                                    \
    do {                                                                                   \
        double got_ = (got), want_ = (want);                                               \
        cr_expect_float_eq(got_, want_, 1e-6 * fmax(1.0, fabs(want_)), "got %.9g, want %.9g", \
                           got_, want_);                                                   \
    } while (0)

/* The docstring pair: y_true [[0, 1], [0, 0]] with y_pred [[1, 1], [0, 0]],
 * unweighted and with sample_weight [1, 0]. */
static void regression_case(const char *name, double want, double want_weighted) {
    ct_metric *m = make(name, NULL);
    ct_tensor *t = CT_I32(CT_DIMS(2, 2), 0, 1, 0, 0), *p = CT_I32(CT_DIMS(2, 2), 1, 1, 0, 0);
    NEAR(run(m, t, p, NULL), want);
    ct_metric_reset(m);
    NEAR(run(m, t, p, CT_F32(CT_DIMS(2), 1, 0)), want_weighted);
    ct_metric_free(m);
}

Test(metrics, mean_and_sum) {
    ct_metric *m = make("mean", NULL);
    ct_tensor *v = CT_F32(CT_DIMS(4), 1, 3, 5, 7);
    NEAR(run(m, NULL, v, NULL), 4.0);
    ct_metric_reset(m);
    NEAR(run(m, NULL, v, CT_F32(CT_DIMS(4), 1, 1, 0, 0)), 2.0);
    cr_expect_str_eq(ct_metric_name(m), "mean");
    cr_assert_eq(ct_metric_num_variables(m), 2);
    cr_expect_str_eq(ct_variable_name(ct_metric_variable(m, 0)), "mean/total");
    cr_expect_str_eq(ct_variable_name(ct_metric_variable(m, 1)), "mean/count");
    cr_expect(!ct_variable_trainable(ct_metric_variable(m, 0)));
    ct_metric_free(m);

    m = make("Sum", NULL);
    NEAR(run(m, NULL, v, NULL), 16.0);
    ct_metric_reset(m);
    NEAR(run(m, NULL, v, CT_F32(CT_DIMS(4), 1, 1, 0, 0)), 4.0);
    cr_expect_eq(ct_metric_num_variables(m), 1);
    ct_metric_free(m);
}

/* reduce_to_samplewise_values: values [2, 3] with weights [2, 3] are reduced
 * per sample after weighting; weights [2] first reduce the values. */
Test(metrics, mean_samplewise_weights) {
    ct_metric *m = make("mean", NULL);
    ct_tensor *v = CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    /* total = mean(1,4,0) + mean(0,5,12) = 5/3 + 17/3; count = mean(1,2,0) +
     * mean(0,1,2) = 2 -> 22/3 / 2 */
    NEAR(run(m, NULL, v, CT_F32(CT_DIMS(2, 3), 1, 2, 0, 0, 1, 2)), 22.0 / 6.0);
    ct_metric_reset(m);
    /* per-sample means 2 and 5, weights 1 and 3: 17 / 4 */
    NEAR(run(m, NULL, v, CT_F32(CT_DIMS(2), 1, 3)), 17.0 / 4.0);
    ct_metric_reset(m);
    /* [2, 1] weights broadcast the same way */
    NEAR(run(m, NULL, v, CT_F32(CT_DIMS(2, 1), 1, 3)), 17.0 / 4.0);
    ct_metric_reset(m);
    /* a scalar value counts as one sample */
    NEAR(run(m, NULL, ct_scalar(5), NULL), 5.0);
    NEAR(run(m, NULL, ct_scalar(2), NULL), 3.5);
    ct_metric_free(m);
}

Test(metrics, regression_docstrings) {
    regression_case("mse", 0.25, 0.5);
    regression_case("MeanAbsoluteError", 0.25, 0.5);
    regression_case("mape", 250000000.0, 500000000.0);
    regression_case("msle", 0.12011322, 0.24022643);
    regression_case("RootMeanSquaredError", 0.5, 0.70710677);
    regression_case("LogCoshError", 0.10844523, 0.21689045);

    ct_metric *m = make("mse", NULL);
    cr_expect_str_eq(ct_metric_name(m), "mean_squared_error");
    ct_metric_free(m);
    m = make("logcosh", NULL);
    cr_expect_str_eq(ct_metric_name(m), "logcosh");
    ct_metric_free(m);
}

Test(metrics, cosine_similarity) {
    ct_metric *m = make("CosineSimilarity", &(ct_metric_opts){.axis = 1, .has_axis = true});
    ct_tensor *t = CT_F32(CT_DIMS(2, 2), 0, 1, 1, 1), *p = CT_F32(CT_DIMS(2, 2), 1, 0, 1, 1);
    NEAR(run(m, t, p, NULL), 0.49999997);
    ct_metric_reset(m);
    NEAR(run(m, t, p, CT_F32(CT_DIMS(2), 0.3f, 0.7f)), 0.6999999);
    ct_metric_free(m);
}

Test(metrics, accuracies) {
    ct_metric *m = make("accuracy", NULL);
    ct_tensor *t = CT_I32(CT_DIMS(4, 1), 1, 2, 3, 4), *p = CT_I32(CT_DIMS(4, 1), 0, 2, 3, 4);
    NEAR(run(m, t, p, NULL), 0.75);
    ct_metric_reset(m);
    NEAR(run(m, t, p, CT_F32(CT_DIMS(4), 1, 1, 0, 0)), 0.5);
    cr_expect_str_eq(ct_metric_name(m), "accuracy");
    ct_metric_free(m);

    m = make("binary_accuracy", NULL);
    t = CT_I32(CT_DIMS(4, 1), 1, 1, 0, 0);
    p = CT_F32(CT_DIMS(4, 1), 0.98f, 1, 0, 0.6f);
    NEAR(run(m, t, p, NULL), 0.75);
    ct_metric_reset(m);
    NEAR(run(m, t, p, CT_F32(CT_DIMS(4), 1, 0, 0, 1)), 0.5);
    ct_metric_free(m);
    /* threshold 0.7: 0.6 counts as 0, so all four match */
    m = make("BinaryAccuracy", &(ct_metric_opts){.threshold = 0.7});
    NEAR(run(m, t, p, NULL), 1.0);
    ct_metric_free(m);

    m = make("categorical_accuracy", NULL);
    t = CT_I32(CT_DIMS(2, 3), 0, 0, 1, 0, 1, 0);
    p = CT_F32(CT_DIMS(2, 3), 0.1f, 0.9f, 0.8f, 0.05f, 0.95f, 0);
    NEAR(run(m, t, p, NULL), 0.5);
    ct_metric_reset(m);
    NEAR(run(m, t, p, CT_F32(CT_DIMS(2), 0.7f, 0.3f)), 0.3);
    ct_metric_free(m);

    m = make("TopKCategoricalAccuracy", &(ct_metric_opts){.k = 1});
    NEAR(run(m, t, p, NULL), 0.5);
    ct_metric_reset(m);
    NEAR(run(m, t, p, CT_F32(CT_DIMS(2), 0.7f, 0.3f)), 0.3);
    ct_metric_free(m);
    /* default k = 5 covers the three classes */
    m = make("top_k_categorical_accuracy", NULL);
    NEAR(run(m, t, p, NULL), 1.0);
    ct_metric_free(m);

    m = make("sparse_categorical_accuracy", NULL);
    t = CT_I32(CT_DIMS(2, 1), 2, 1);
    p = CT_F32(CT_DIMS(2, 3), 0.1f, 0.6f, 0.3f, 0.05f, 0.95f, 0);
    NEAR(run(m, t, p, NULL), 0.5);
    ct_metric_reset(m);
    NEAR(run(m, t, p, CT_F32(CT_DIMS(2), 0.7f, 0.3f)), 0.3);
    ct_metric_reset(m);
    /* float labels of shape [2] work the same */
    NEAR(run(m, CT_F32(CT_DIMS(2), 2, 1), p, NULL), 0.5);
    ct_metric_free(m);

    m = make("SparseTopKCategoricalAccuracy", &(ct_metric_opts){.k = 1});
    t = CT_I32(CT_DIMS(2), 2, 1);
    p = CT_F32(CT_DIMS(2, 3), 0.1f, 0.9f, 0.8f, 0.05f, 0.95f, 0);
    NEAR(run(m, t, p, NULL), 0.5);
    ct_metric_reset(m);
    NEAR(run(m, t, p, CT_F32(CT_DIMS(2), 0.7f, 0.3f)), 0.3);
    ct_metric_free(m);
}

/* tf.math.in_top_k: ties at the boundary are in; an out-of-range label and a
 * row with a non-finite prediction are not. */
Test(metrics, in_top_k_edges) {
    ct_metric *m = make("sparse_top_k_categorical_accuracy", &(ct_metric_opts){.k = 1});
    ct_tensor *p = CT_F32(CT_DIMS(3, 3), 0.5f, 0.5f, 0, 0.2f, NAN, 0.9f, 0.1f, 0.2f, 0.7f);
    ct_tensor *t = CT_I64(CT_DIMS(3), 1, 2, 7);
    NEAR(run(m, t, p, NULL), 1.0 / 3.0);
    ct_metric_free(m);
}

Test(metrics, confusion_counts) {
    struct {
        const char *name;
        float t[4], p[4];
    } cases[] = {{"FalsePositives", {0, 1, 0, 0}, {0, 0, 1, 1}},
                 {"false_negatives", {0, 1, 1, 1}, {0, 1, 0, 0}},
                 {"TrueNegatives", {0, 1, 0, 0}, {1, 1, 0, 0}},
                 {"true_positives", {0, 1, 1, 1}, {1, 0, 1, 1}}};
    for (int i = 0; i < 4; i++) {
        ct_metric *m = make(cases[i].name, NULL);
        ct_tensor *t = ct_constant(cases[i].t, CT_FLOAT32, CT_DIMS(4));
        ct_tensor *p = ct_constant(cases[i].p, CT_FLOAT32, CT_DIMS(4));
        NEAR(run(m, t, p, NULL), 2.0);
        ct_metric_reset(m);
        NEAR(run(m, t, p, CT_F32(CT_DIMS(4), 0, 0, 1, 0)), 1.0);
        char want[128];
        snprintf(want, sizeof want, "%s/accumulator", ct_metric_name(m));
        cr_expect_str_eq(ct_variable_name(ct_metric_variable(m, 0)), want);
        ct_metric_free(m);
    }
    /* Several thresholds give a vector: preds > 0.3 / 0.5 / 0.8 */
    ct_metric *m = make("TruePositives", &(ct_metric_opts){.nthresholds = 3,
                                                            .thresholds =
                                                                (double[]){0.3, 0.5, 0.8}});
    CT_STATUS_OK(ct_metric_update(m, CT_F32(CT_DIMS(4), 1, 1, 1, 0),
                                  CT_F32(CT_DIMS(4), 0.4f, 0.9f, 0.6f, 0.95f), NULL));
    CT_EXPECT(ct_metric_result(m), CT_FLOAT32, CT_DIMS(3), 0, 3, 2, 1);
    ct_metric_free(m);
}

Test(metrics, precision_recall) {
    ct_tensor *t = CT_I32(CT_DIMS(4), 0, 1, 1, 1), *p = CT_I32(CT_DIMS(4), 1, 0, 1, 1);
    ct_tensor *w = CT_F32(CT_DIMS(4), 0, 0, 1, 0);
    ct_metric *m = make("precision", NULL);
    NEAR(run(m, t, p, NULL), 0.6666667);
    ct_metric_reset(m);
    NEAR(run(m, t, p, w), 1.0);
    ct_metric_free(m);
    m = make("Recall", NULL);
    NEAR(run(m, t, p, NULL), 0.6666667);
    ct_metric_reset(m);
    NEAR(run(m, t, p, w), 1.0);
    cr_expect_str_eq(ct_variable_name(ct_metric_variable(m, 1)), "recall/false_negatives");
    ct_metric_free(m);

    /* top_k over the last axis of a vector: the first k of [1, 1, 1, 1] */
    t = CT_F32(CT_DIMS(4), 0, 0, 1, 1);
    p = CT_F32(CT_DIMS(4), 1, 1, 1, 1);
    m = make("Precision", &(ct_metric_opts){.top_k = 2});
    NEAR(run(m, t, p, NULL), 0.0);
    ct_metric_free(m);
    m = make("Precision", &(ct_metric_opts){.top_k = 4});
    NEAR(run(m, t, p, NULL), 0.5);
    ct_metric_free(m);

    /* class_id 1: predictions 0.7, 0.3, 0.4 (> 0.5: the first), labels 1, 0, 1
     * -> precision 1/1, recall 1/2 (by hand). */
    t = CT_F32(CT_DIMS(3, 3), 0, 1, 0, 1, 0, 0, 0, 1, 0);
    p = CT_F32(CT_DIMS(3, 3), 0.2f, 0.7f, 0.1f, 0.6f, 0.3f, 0.1f, 0.1f, 0.4f, 0.5f);
    m = make("precision", &(ct_metric_opts){.has_class_id = true, .class_id = 1});
    NEAR(run(m, t, p, NULL), 1.0);
    ct_metric_free(m);
    m = make("recall", &(ct_metric_opts){.has_class_id = true, .class_id = 1});
    NEAR(run(m, t, p, NULL), 0.5);
    ct_metric_free(m);
    /* top_k = 1 with class_id 0: row 2's top class is 0 (0.6), a true label;
     * rows 1 and 3 are not in the top 1 for class 0 -> precision 1, recall 1 */
    m = make("recall", &(ct_metric_opts){.top_k = 1, .has_class_id = true, .class_id = 0});
    NEAR(run(m, t, p, NULL), 1.0);
    ct_metric_free(m);

    /* thresholds 0.3, 0.5, 0.8 (by hand: 2/3, 1/2, 0/1) */
    t = CT_F32(CT_DIMS(4), 0, 1, 1, 1);
    p = CT_F32(CT_DIMS(4), 0.9f, 0.4f, 0.6f, 0.2f);
    m = make("precision",
             &(ct_metric_opts){.nthresholds = 3, .thresholds = (double[]){0.3, 0.5, 0.8}});
    CT_STATUS_OK(ct_metric_update(m, t, p, NULL));
    CT_EXPECT(ct_metric_result(m), CT_FLOAT32, CT_DIMS(3), 1e-6, 2.0 / 3, 0.5, 0);
    ct_metric_free(m);
    /* evenly spaced thresholds 0, 0.5, 1 take Keras's bucketed path; 0.5 and
     * 0 sit on thresholds and are not above them (by hand: 3/5, 1/2, 0). */
    m = make("precision",
             &(ct_metric_opts){.nthresholds = 3, .thresholds = (double[]){0, 0.5, 1}});
    CT_STATUS_OK(ct_metric_update(m, CT_F32(CT_DIMS(6), 0, 1, 1, 1, 0, 1),
                                  CT_F32(CT_DIMS(6), 0.9f, 0.4f, 0.6f, 0.2f, 0.5f, 0), NULL));
    CT_EXPECT(ct_metric_result(m), CT_FLOAT32, CT_DIMS(3), 1e-6, 0.6, 0.5, 0);
    ct_metric_free(m);
}

Test(metrics, auc_docstring_and_methods) {
    ct_tensor *t = CT_F32(CT_DIMS(4), 0, 0, 1, 1), *p = CT_F32(CT_DIMS(4), 0, 0.5f, 0.3f, 0.9f);
    ct_metric *m = make("AUC", &(ct_metric_opts){.num_thresholds = 3});
    NEAR(run(m, t, p, NULL), 0.75);
    ct_metric_reset(m);
    NEAR(run(m, t, p, CT_F32(CT_DIMS(4), 1, 0, 0, 1)), 1.0);
    cr_expect_str_eq(ct_metric_name(m), "auc");
    cr_assert_eq(ct_metric_num_variables(m), 4);
    cr_expect_str_eq(ct_variable_name(ct_metric_variable(m, 2)), "auc/true_negatives");
    ct_metric_reset(m);
    CT_STATUS_OK(ct_metric_update(m, t, p, NULL));
    /* tp = [2, 1, 0], fp = [2, 0, 0], tn = [0, 2, 2], fn = [0, 1, 2] */
    CT_EXPECT(ct_variable_value(ct_metric_variable(m, 0)), CT_FLOAT32, CT_DIMS(3), 0, 2, 1, 0);
    CT_EXPECT(ct_variable_value(ct_metric_variable(m, 1)), CT_FLOAT32, CT_DIMS(3), 0, 2, 0, 0);
    CT_EXPECT(ct_variable_value(ct_metric_variable(m, 2)), CT_FLOAT32, CT_DIMS(3), 0, 0, 2, 2);
    CT_EXPECT(ct_variable_value(ct_metric_variable(m, 3)), CT_FLOAT32, CT_DIMS(3), 0, 0, 1, 2);
    ct_metric_free(m);

    /* By hand from the counts above: recall [1, .5, 0], fp rate [1, 0, 0],
     * precision [.5, 1, 0]. */
    struct {
        const char *curve, *sum;
        double want;
    } cases[] = {
        {"ROC", "minoring", 0.5},
        {"ROC", "majoring", 1.0},
        {"PR", "minoring", 0.25},
        {"PR", "majoring", 1.0},
        /* interpolate_pr_auc: slopes [1/3, 1], intercepts [2/3, 0], p ratios
         * [4, 1]: (1/3 (1 + 2/3 ln 4)) / 2 + 1 / 2 */
        {"PR", "interpolation", (1.0 + 2.0 / 3.0 * log(4.0)) / 6.0 + 0.5},
    };
    for (int i = 0; i < 5; i++) {
        m = make("auc", &(ct_metric_opts){.num_thresholds = 3,
                                           .curve = cases[i].curve,
                                           .summation_method = cases[i].sum});
        NEAR(run(m, t, p, NULL), cases[i].want);
        ct_metric_free(m);
    }

    /* 200 thresholds, separable scores: exactly 1; reversed: 0 */
    m = make("auc", NULL);
    NEAR(run(m, CT_F32(CT_DIMS(4), 0, 0, 1, 1), CT_F32(CT_DIMS(4), 0.1f, 0.4f, 0.35f, 0.8f), NULL),
         0.75);
    ct_metric_reset(m);
    NEAR(run(m, t, CT_F32(CT_DIMS(4), 0, 0.2f, 0.7f, 1), NULL), 1.0);
    ct_metric_reset(m);
    NEAR(run(m, t, CT_F32(CT_DIMS(4), 1, 0.7f, 0.2f, 0), NULL), 0.0);
    ct_metric_free(m);

    /* from_logits: sigmoid(-3, 0.1, -1, 3) = .047, .525, .269, .953 fall in
     * buckets 0, 1, 0, 1 of 3 thresholds: tp [2, 1, 0], fp [2, 1, 0], so the
     * ROC runs along the diagonal: 0.5 */
    m = make("auc", &(ct_metric_opts){.num_thresholds = 3, .from_logits = true});
    NEAR(run(m, t, CT_F32(CT_DIMS(4), -3, 0.1f, -1, 3), NULL), 0.5);
    ct_metric_free(m);
}

Test(metrics, auc_uneven_thresholds_and_multi_label) {
    /* Given thresholds 0.4 and 0.2 (sorted to 0.2, 0.4; not evenly spaced:
     * the direct comparison path). Scores 0, .5, .3, .9 for labels 0, 0, 1, 1:
     * thresholds -eps, .2, .4, 1+eps -> tp [2, 2, 1, 0], fp [2, 1, 1, 0],
     * fpr [1, .5, .5, 0], recall [1, 1, .5, 0]: 0.5 * 1 + 0 + 0.5 * 0.25 */
    ct_tensor *t = CT_F32(CT_DIMS(4), 0, 0, 1, 1), *p = CT_F32(CT_DIMS(4), 0, 0.5f, 0.3f, 0.9f);
    ct_metric *m = make("AUC", &(ct_metric_opts){.nthresholds = 2,
                                                  .thresholds = (double[]){0.4, 0.2}});
    NEAR(run(m, t, p, NULL), 0.625);
    char *cfg = ct_metric_get_config(m);
    CT_OK(cfg);
    cr_expect(strstr(cfg, "\"thresholds\":[0.2,0.4]") != NULL,
              "%s", cfg);
    cr_expect(strstr(cfg, "\"num_thresholds\":4") != NULL, "%s", cfg);
    free(cfg);
    ct_metric_free(m);

    /* multi_label: label 0 separable (AUC 1), label 1 reversed (AUC 0) */
    ct_tensor *mt = CT_F32(CT_DIMS(4, 2), 0, 1, 1, 0, 1, 1, 0, 0);
    ct_tensor *mp = CT_F32(CT_DIMS(4, 2), 0.1f, 0.2f, 0.8f, 0.9f, 0.7f, 0.4f, 0.3f, 0.6f);
    m = make("auc", &(ct_metric_opts){.multi_label = true});
    cr_expect_eq(ct_metric_num_variables(m), 0, "built on the first update");
    NEAR(run(m, mt, mp, NULL), 0.5);
    cr_assert_eq(ct_metric_num_variables(m), 4);
    ct_expect_shape(ct_variable_value(ct_metric_variable(m, 0)), CT_DIMS(200, 2));
    ct_metric_free(m);
    /* the same through the direct path, and label weights 1 and 3 */
    m = ct_metric_from_config("{\"class_name\": \"AUC\", \"config\": {\"multi_label\": true, "
                              "\"thresholds\": [0.25, 0.5, 0.65], \"label_weights\": [1, 3], "
                              "\"num_labels\": 2}}");
    CT_OK(m);
    cr_expect_eq(ct_metric_num_variables(m), 4);
    NEAR(run(m, mt, mp, NULL), 0.25);
    ct_metric_free(m);
    /* not multi_label: the 8 pairs are flattened; by hand with 200
     * thresholds: positives .2 .8 .7 .4, negatives .1 .9 .3 .6 -> 9 of 16
     * pairs ordered: 0.5625 */
    m = make("auc", NULL);
    NEAR(run(m, mt, mp, NULL), 0.5625);
    ct_metric_free(m);
}

Test(metrics, mean_iou) {
    ct_metric *m = make("MeanIoU", &(ct_metric_opts){.num_classes = 2});
    ct_tensor *t = CT_I32(CT_DIMS(4), 0, 0, 1, 1), *p = CT_I32(CT_DIMS(4), 0, 1, 0, 1);
    NEAR(run(m, t, p, NULL), 0.33333334);
    ct_metric_reset(m);
    NEAR(run(m, t, p, CT_F32(CT_DIMS(4), 0.3f, 0.3f, 0.3f, 0.1f)), 0.23809525);
    cr_expect_str_eq(ct_metric_name(m), "mean_io_u");
    cr_expect_str_eq(ct_variable_name(ct_metric_variable(m, 0)),
                     "mean_io_u/total_confusion_matrix");
    ct_metric_free(m);

    /* ignore_class -1: the last sample drops out; cm [[1, 1], [1, 0]] ->
     * (1/3 + 0) / 2 (by hand) */
    m = ct_metric_from_config(
        "{\"class_name\": \"MeanIoU\", \"config\": {\"num_classes\": 2, \"ignore_class\": -1}}");
    CT_OK(m);
    NEAR(run(m, CT_I32(CT_DIMS(4), 0, 0, 1, -1), CT_I32(CT_DIMS(4), 0, 1, 0, 1), NULL),
         1.0 / 6.0);
    ct_metric_free(m);

    /* OneHotMeanIoU's docstring through sparse_y_true / sparse_y_pred false:
     * (0 + 0 + 0.1 / 0.7) / 3 */
    m = ct_metric_from_config("{\"class_name\": \"MeanIoU\", \"config\": {\"num_classes\": 3, "
                              "\"sparse_y_true\": false, \"sparse_y_pred\": false}}");
    CT_OK(m);
    NEAR(run(m, CT_I32(CT_DIMS(4, 3), 0, 0, 1, 1, 0, 0, 0, 1, 0, 1, 0, 0),
             CT_F32(CT_DIMS(4, 3), 0.2f, 0.3f, 0.5f, 0.1f, 0.2f, 0.7f, 0.5f, 0.3f, 0.1f, 0.1f,
                    0.4f, 0.5f),
             CT_F32(CT_DIMS(4), 0.1f, 0.2f, 0.3f, 0.4f)),
         0.1 / 0.7 / 3);
    ct_metric_free(m);
}

Test(metrics, updates_accumulate) {
    ct_metric *m = make("mse", NULL);
    CT_STATUS_OK(ct_metric_update(m, CT_F32(CT_DIMS(2, 2), 0, 1, 0, 0),
                                  CT_F32(CT_DIMS(2, 2), 1, 1, 0, 0), NULL));
    CT_STATUS_OK(ct_metric_update(m, CT_F32(CT_DIMS(1, 2), 2, 2), CT_F32(CT_DIMS(1, 2), 0, 0),
                                  NULL));
    /* per-sample [0.5, 0, 4] -> 1.5 */
    CT_EXPECT(ct_metric_result(m), CT_FLOAT32, CT_SCALAR, 1e-6, 1.5);
    CT_EXPECT(ct_variable_value(ct_metric_variable(m, 1)), CT_FLOAT32, CT_SCALAR, 0, 3);
    ct_metric_reset(m);
    CT_EXPECT(ct_metric_result(m), CT_FLOAT32, CT_SCALAR, 0, 0); /* divide_no_nan */
    ct_metric_free(m);

    m = make("precision", NULL);
    CT_EXPECT(ct_metric_result(m), CT_FLOAT32, CT_SCALAR, 0, 0);
    CT_STATUS_OK(ct_metric_update(m, CT_F32(CT_DIMS(2), 1, 0), CT_F32(CT_DIMS(2), 0.9f, 0.8f),
                                  NULL));
    CT_STATUS_OK(ct_metric_update(m, CT_F32(CT_DIMS(2), 1, 1), CT_F32(CT_DIMS(2), 0.7f, 0.1f),
                                  NULL));
    CT_EXPECT(ct_metric_result(m), CT_FLOAT32, CT_SCALAR, 1e-6, 2.0 / 3.0);
    ct_metric_free(m);
}

/* Adding the state variables of metrics updated on two halves gives the
 * metric of the whole batch: what a mirrored strategy's all-reduce does. */
static void merge_case(const char *name, const ct_metric_opts *opts, ct_tensor *t, ct_tensor *p,
                       ct_tensor *w, int64_t half) {
    ct_metric *whole = make(name, opts), *a = make(name, opts), *b = make(name, opts);
    CT_STATUS_OK(ct_metric_update(whole, t, p, w));
    int64_t n = ct_tensor_dim(t, 0);
    int rt = ct_tensor_rank(t), rp = ct_tensor_rank(p);
    int64_t b0[CT_MAX_RANK] = {0}, s0[CT_MAX_RANK], b1[CT_MAX_RANK] = {0}, s1[CT_MAX_RANK];
    for (int i = 0; i < CT_MAX_RANK; i++) s0[i] = s1[i] = -1;
    s0[0] = half;
    b1[0] = half;
    s1[0] = n - half;
    (void)rt, (void)rp;
    CT_STATUS_OK(ct_metric_update(a, ct_slice(t, b0, s0), ct_slice(p, b0, s0),
                                  w ? ct_slice(w, b0, s0) : NULL));
    CT_STATUS_OK(ct_metric_update(b, ct_slice(t, b1, s1), ct_slice(p, b1, s1),
                                  w ? ct_slice(w, b1, s1) : NULL));
    cr_assert_eq(ct_metric_num_variables(a), ct_metric_num_variables(whole));
    for (int i = 0; i < ct_metric_num_variables(a); i++)
        CT_STATUS_OK(ct_variable_assign_add(ct_metric_variable(a, i),
                                            ct_variable_value(ct_metric_variable(b, i))));
    ct_tensor *ra = ct_metric_result(a), *rw = ct_metric_result(whole);
    CT_OK(ra);
    CT_OK(rw);
    int64_t nr = ct_tensor_size(rw);
    for (int64_t i = 0; i < nr; i++)
        cr_expect_float_eq(ct_tensor_get(ra, i), ct_tensor_get(rw, i), 1e-5, "%s: %g vs %g", name,
                           ct_tensor_get(ra, i), ct_tensor_get(rw, i));
    ct_metric_free(whole);
    ct_metric_free(a);
    ct_metric_free(b);
}

Test(metrics, merging_states_gives_the_union) {
    ct_tensor *t = CT_F32(CT_DIMS(6), 0, 1, 1, 0, 1, 0);
    ct_tensor *p = CT_F32(CT_DIMS(6), 0.2f, 0.7f, 0.4f, 0.6f, 0.9f, 0.1f);
    ct_tensor *w = CT_F32(CT_DIMS(6), 1, 2, 0.5f, 1, 1, 3);
    merge_case("mean", NULL, t, p, w, 2);
    /* per-sample functions want a feature axis (on [6] they give one value) */
    ct_tensor *t2 = ct_reshape(t, CT_DIMS(6, 1)), *p2 = ct_reshape(p, CT_DIMS(6, 1));
    merge_case("mse", NULL, t2, p2, w, 4);
    merge_case("RootMeanSquaredError", NULL, t, p, NULL, 3);
    merge_case("binary_accuracy", NULL, t2, p2, w, 3);
    merge_case("precision", NULL, t, p, w, 3);
    merge_case("recall", &(ct_metric_opts){.nthresholds = 2, .thresholds = (double[]){0.3, 0.65}},
               t, p, NULL, 3);
    merge_case("auc", NULL, t, p, w, 3);
    merge_case("auc", &(ct_metric_opts){.curve = "PR"}, t, p, NULL, 2);
    merge_case("MeanIoU", &(ct_metric_opts){.num_classes = 2}, t,
               CT_F32(CT_DIMS(6), 0, 1, 0, 0, 1, 1), w, 2);
}

static ct_tensor *abs_diff_fn(const ct_tensor *y_true, const ct_tensor *y_pred, void *ctx) {
    double *scale = ctx;
    return ct_multiply(ct_reduce_mean(ct_abs(ct_subtract(y_true, y_pred)), CT_AXES(-1), false),
                       ct_scalar(*scale));
}

Test(metrics, custom_function) {
    double scale = 2;
    ct_metric *m = ct_metric_custom("scaled_mae", abs_diff_fn, &scale);
    CT_OK(m);
    cr_expect_str_eq(ct_metric_name(m), "scaled_mae");
    NEAR(run(m, CT_F32(CT_DIMS(2, 2), 0, 1, 0, 0), CT_F32(CT_DIMS(2, 2), 1, 1, 0, 0), NULL), 0.5);
    ct_metric_free(m);
    m = ct_metric_custom(NULL, abs_diff_fn, &scale);
    CT_OK(m);
    cr_expect_str_eq(ct_metric_name(m), "mean_metric_wrapper");
    ct_metric_free(m);
}

static void round_trip(const char *name, const ct_metric_opts *opts) {
    ct_metric *m = make(name, opts);
    char *c1 = ct_metric_get_config(m);
    CT_OK(c1);
    ct_metric *m2 = ct_metric_from_config(c1);
    cr_assert_not_null(m2, "%s: %s", c1, ct_last_error());
    char *c2 = ct_metric_get_config(m2);
    CT_OK(c2);
    cr_expect_str_eq(c1, c2);
    cr_expect_eq(ct_metric_num_variables(m), ct_metric_num_variables(m2));
    free(c1);
    free(c2);
    ct_metric_free(m);
    ct_metric_free(m2);
}

Test(metrics, config_round_trip) {
    round_trip("mean", NULL);
    round_trip("mse", &(ct_metric_opts){.name = "my_mse"});
    round_trip("BinaryAccuracy", &(ct_metric_opts){.threshold = 0.3});
    round_trip("TopKCategoricalAccuracy", &(ct_metric_opts){.k = 3});
    round_trip("CosineSimilarity", &(ct_metric_opts){.axis = 1, .has_axis = true});
    round_trip("Precision", &(ct_metric_opts){.top_k = 2, .has_class_id = true, .class_id = 1,
                                              .nthresholds = 2,
                                              .thresholds = (double[]){0.25, 0.75}});
    round_trip("false_negatives", NULL);
    round_trip("AUC", &(ct_metric_opts){.num_thresholds = 50, .curve = "PR",
                                        .summation_method = "majoring", .from_logits = true});
    round_trip("AUC", &(ct_metric_opts){.nthresholds = 2, .thresholds = (double[]){0.3, 0.6}});
    round_trip("MeanIoU", &(ct_metric_opts){.num_classes = 4});

    ct_metric *m = make("Precision", &(ct_metric_opts){.top_k = 2});
    char *c = ct_metric_get_config(m);
    cr_expect_str_eq(c, "{\"class_name\":\"Precision\",\"config\":{\"name\":\"precision\","
                        "\"dtype\":\"float32\",\"thresholds\":null,\"top_k\":2,"
                        "\"class_id\":null}}");
    free(c);
    ct_metric_free(m);

    /* Keras 3's form: module, registered_name and a scalar threshold */
    m = ct_metric_from_config(
        "{\"module\": \"keras.metrics\", \"class_name\": \"Recall\", \"config\": {\"name\": "
        "\"rec\", \"dtype\": \"float32\", \"thresholds\": 0.7, \"top_k\": null, \"class_id\": "
        "null}, \"registered_name\": null}");
    CT_OK(m);
    cr_expect_str_eq(ct_metric_name(m), "rec");
    NEAR(run(m, CT_F32(CT_DIMS(3), 1, 1, 0), CT_F32(CT_DIMS(3), 0.8f, 0.6f, 0.9f), NULL), 0.5);
    c = ct_metric_get_config(m);
    cr_expect(strstr(c, "\"thresholds\":0.7") != NULL, "%s", c);
    free(c);
    ct_metric_free(m);
}

Test(metrics, bad_arguments) {
    CT_FAILS(ct_metric_new("no_such_metric", NULL), "unknown metric 'no_such_metric'");
    CT_FAILS(ct_metric_new("MeanIoU", NULL), "'num_classes': is required");
    CT_FAILS(ct_metric_new("AUC", &(ct_metric_opts){.num_thresholds = 1}), "num_thresholds");
    CT_FAILS(ct_metric_new("AUC", &(ct_metric_opts){.curve = "XY"}), "curve");
    CT_FAILS(ct_metric_new("BinaryAccuracy", &(ct_metric_opts){.threshold = 1.5}), "threshold");
    CT_FAILS(ct_metric_new("precision",
                           &(ct_metric_opts){.nthresholds = 1, .thresholds = (double[]){2}}),
             "[0, 1]");
    CT_FAILS(ct_metric_from_config("{\"class_name\": \"Nope\", \"config\": {}}"),
             "unknown metric class 'Nope'");
    CT_FAILS(ct_metric_from_config("{\"class_name\": \"Mean\", \"config\": {\"bogus\": 1}}"),
             "unknown argument 'bogus'");
    CT_FAILS(ct_metric_from_config("{\"class_name\": \"Mean\""), "bad JSON");

    ct_metric *m = make("mse", NULL);
    ct_clear_error();
    cr_expect_neq(ct_metric_update(m, CT_F32(CT_DIMS(2, 3), 0, 0, 0, 0, 0, 0),
                                   CT_F32(CT_DIMS(2, 4), 0, 0, 0, 0, 0, 0, 0, 0), NULL),
                  CT_OK);
    cr_expect(strstr(ct_last_error(), "MeanSquaredError 'mean_squared_error'") != NULL, "%s",
              ct_last_error());
    ct_clear_error();
    cr_expect_neq(ct_metric_update(m, CT_F32(CT_DIMS(2, 2), 0, 0, 0, 0),
                                   CT_F32(CT_DIMS(2, 2), 0, 0, 0, 0), CT_F32(CT_DIMS(3), 1, 1, 1)),
                  CT_OK);
    ct_clear_error();
    cr_expect_neq(ct_metric_update(m, NULL, CT_F32(CT_DIMS(2), 0, 0), NULL), CT_OK);
    cr_expect(strstr(ct_last_error(), "y_true is NULL") != NULL, "%s", ct_last_error());
    /* nothing was added by the failed updates */
    CT_EXPECT(ct_variable_value(ct_metric_variable(m, 1)), CT_FLOAT32, CT_SCALAR, 0, 0);
    ct_metric_free(m);

    m = make("precision", NULL);
    ct_clear_error();
    cr_expect_neq(ct_metric_update(m, CT_F32(CT_DIMS(3), 0, 1, 1), CT_F32(CT_DIMS(2), 0, 1), NULL),
                  CT_OK);
    cr_expect(strstr(ct_last_error(), "different shapes") != NULL, "%s", ct_last_error());
    ct_metric_free(m);
    m = make("precision", &(ct_metric_opts){.has_class_id = true, .class_id = 3});
    cr_expect_neq(ct_metric_update(m, CT_F32(CT_DIMS(1, 2), 0, 1), CT_F32(CT_DIMS(1, 2), 0, 1),
                                   NULL),
                  CT_OK);
    cr_expect(strstr(ct_last_error(), "class_id 3") != NULL, "%s", ct_last_error());
    ct_metric_free(m);
    m = make("MeanIoU", &(ct_metric_opts){.num_classes = 2});
    cr_expect_neq(ct_metric_update(m, CT_I32(CT_DIMS(2), 0, 2), CT_I32(CT_DIMS(2), 0, 1), NULL),
                  CT_OK);
    cr_expect(strstr(ct_last_error(), "MeanIoU 'mean_io_u': update") != NULL, "%s",
              ct_last_error());
    ct_metric_free(m);
    m = make("auc", &(ct_metric_opts){.multi_label = true});
    cr_expect_neq(ct_metric_update(m, CT_F32(CT_DIMS(2), 0, 1), CT_F32(CT_DIMS(2), 0, 1), NULL),
                  CT_OK);
    cr_expect(strstr(ct_last_error(), "rank 2") != NULL, "%s", ct_last_error());
    ct_metric_free(m);
    CT_FAILS(ct_metric_variable(NULL, 0), "NULL metric");
}

static void loss_case(const char *name, ct_tensor *t, ct_tensor *p, double want,
                      double want_weighted) {
    ct_metric *m = make(name, NULL);
    NEAR(run(m, t, p, NULL), want);
    ct_metric_reset(m);
    NEAR(run(m, t, p, CT_F32(CT_DIMS(2), 1, 0)), want_weighted);
    ct_metric_free(m);
}

Test(metrics, loss_metrics) {
    ct_tensor *t = CT_F32(CT_DIMS(2, 2), 0, 1, 0, 0);
    ct_tensor *p = CT_F32(CT_DIMS(2, 2), 0.6f, 0.4f, 0.4f, 0.6f);
    loss_case("binary_crossentropy", t, p, 0.81492424, 0.9162905);
    loss_case("KLDivergence", t, p, 0.45814306, 0.9162892);
    loss_case("hinge", t, p, 1.3, 1.1);
    loss_case("SquaredHinge", t, p, 1.86, 1.46);
    loss_case("categorical_hinge", t, p, 1.4000001, 1.2);
    loss_case("poisson", t, CT_F32(CT_DIMS(2, 2), 1, 1, 0, 0), 0.49999997, 0.99999994);

    ct_tensor *ct = CT_F32(CT_DIMS(2, 3), 0, 1, 0, 0, 0, 1);
    ct_tensor *cp = CT_F32(CT_DIMS(2, 3), 0.05f, 0.95f, 0, 0.1f, 0.8f, 0.1f);
    ct_metric *m = make("CategoricalCrossentropy", NULL);
    NEAR(run(m, ct, cp, NULL), 1.1769392);
    ct_metric_reset(m);
    NEAR(run(m, ct, cp, CT_F32(CT_DIMS(2), 0.3f, 0.7f)), 1.6271976);
    ct_metric_free(m);
    m = make("sparse_categorical_crossentropy", NULL);
    NEAR(run(m, CT_I32(CT_DIMS(2), 1, 2), cp, NULL), 1.1769392);
    ct_metric_reset(m);
    NEAR(run(m, CT_I32(CT_DIMS(2), 1, 2), cp, CT_F32(CT_DIMS(2), 0.3f, 0.7f)), 1.6271976);
    ct_metric_free(m);

    /* any loss by its name: huber = mean(0.5 x^2) for |x| <= 1 */
    m = make("huber", NULL);
    cr_expect_str_eq(ct_metric_name(m), "huber");
    NEAR(run(m, t, p, NULL), 0.155);
    char *c = ct_metric_get_config(m);
    cr_expect(strstr(c, "\"class_name\":\"MeanMetricWrapper\"") && strstr(c, "\"fn\":\"huber\""),
              "%s", c);
    ct_metric *m2 = ct_metric_from_config(c);
    CT_OK(m2);
    free(c);
    ct_metric_free(m2);
    ct_metric_free(m);
    round_trip("binary_crossentropy", &(ct_metric_opts){.from_logits = true});
    round_trip("CategoricalCrossentropy", &(ct_metric_opts){.axis = 1, .has_axis = true});
}
