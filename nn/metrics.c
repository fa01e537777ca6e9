/*
 * keras.metrics: stateful metrics whose state lives in float32 variables
 * (as Keras's, counts included), so that adding each state variable
 * across replicas merges the metrics of their batches.
 *
 * Families, each as in keras/src/metrics/:
 * - Mean, Sum (reduction_metrics.py) and MeanMetricWrapper: the mean of a
 *   function's per-sample values, reduced to one value per sample by
 *   reduce_to_samplewise_values (the accuracies, the regression errors,
 *   every loss by its name, ct_metric_custom); RootMeanSquaredError is a
 *   Mean of squared errors whose result is sqrt(total / count).
 * - The confusion-matrix metrics (confusion_metrics.py): TruePositives ...
 *   FalseNegatives, Precision, Recall, AUC. Updates follow
 *   metrics_utils.update_confusion_matrix_variables: a prediction is
 *   positive when pred > threshold; evenly spaced thresholds take Keras's
 *   bucketed path (ceil(pred * (T - 1)) - 1, segment sums and a reversed
 *   cumulative sum), so boundary cases round as Keras's do.
 * - MeanIoU (iou_metrics.py): a confusion matrix of num_classes^2.
 *
 * Results are computed from the variables with ops (divide_no_nan where
 * Keras uses it), in the variables' device. Updates run ops in the
 * inputs' device, so a metric works wherever its variables were made.
 *
 * Names: ct_metric_new takes what keras.metrics.get takes (class names,
 * their snake_case, "mse", "mae", "mape", "msle", "bce" and upper-case
 * forms), "accuracy"/"acc" (any case) for Accuracy, and any loss name
 * ct_loss_new accepts (a MeanMetricWrapper over the loss's per-sample
 * values, as tf.keras 2 accepted loss functions as metrics). Note:
 * Keras's compile() turns "accuracy"/"acc" (and "crossentropy"/"ce") into
 * the binary, categorical or sparse variant chosen from the loss and the
 * shapes; that choice belongs to the model layer, so here plain
 * "accuracy" is keras.metrics.Accuracy.
 *
 * Default names are Keras's class defaults ("mean_squared_error", "auc",
 * "precision", "mean_io_u"). Keras 3 uniquifies names it generates itself
 * ("precision_1" for a second Precision()); ctrain does not, because the
 * model layer keys logs on these names and gives its own when it wants.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nn/internal.h"

#define EPSILON 1e-7        /* keras.backend.epsilon()                     */
#define NEG_INF (-1e10)     /* metrics_utils.NEG_INF, top_k's threshold    */
#define MAX_VARS 4

typedef enum {
    K_MEAN,      /* Mean                                                  */
    K_SUM,       /* Sum                                                   */
    K_WRAPPER,   /* MeanMetricWrapper family: mean of fn's values          */
    K_RMSE,      /* RootMeanSquaredError                                   */
    K_COUNT,     /* TruePositives, TrueNegatives, FalsePositives, ...      */
    K_PRECISION,
    K_RECALL,
    K_AUC,
    K_MEAN_IOU,
} metric_kind;

typedef enum {
    F_NONE,
    F_ACCURACY,
    F_BINARY_ACCURACY,
    F_CATEGORICAL_ACCURACY,
    F_SPARSE_CATEGORICAL_ACCURACY,
    F_TOP_K,
    F_SPARSE_TOP_K,
    F_MSE,
    F_MAE,
    F_MAPE,
    F_MSLE,
    F_LOG_COSH,
    F_COSINE,
    F_LOSS,      /* a ct_loss's per-sample values                          */
    F_CUSTOM,    /* ct_metric_custom                                       */
} metric_fn;

/* Which confusion-matrix cells a metric accumulates. */
enum { C_TP = 1, C_FP = 2, C_TN = 4, C_FN = 8 };

typedef enum { LOSS_ARGS_NONE = 0, LOSS_ARGS_BCE, LOSS_ARGS_CCE, LOSS_ARGS_SCCE } loss_args;

typedef struct metric_class {
    const char *class_name;   /* Keras's                                    */
    const char *default_name; /* the name Keras gives an instance           */
    metric_kind kind;
    metric_fn fn;
    int cells;                /* K_COUNT: the cell counted                  */
    const char *loss;         /* F_LOSS: the loss's Keras name              */
    loss_args largs;          /* F_LOSS: the loss arguments it takes        */
    const char *aliases[5];   /* other names keras.metrics.get takes        */
} metric_class;

static const metric_class CLASSES[] = {
    {"Mean", "mean", K_MEAN, F_NONE, 0, NULL, 0, {"mean"}},
    {"Sum", "sum", K_SUM, F_NONE, 0, NULL, 0, {"sum"}},
    {"MeanSquaredError", "mean_squared_error", K_WRAPPER, F_MSE, 0, NULL, 0,
     {"mean_squared_error", "mse", "MSE"}},
    {"MeanAbsoluteError", "mean_absolute_error", K_WRAPPER, F_MAE, 0, NULL, 0,
     {"mean_absolute_error", "mae", "MAE"}},
    {"MeanAbsolutePercentageError", "mean_absolute_percentage_error", K_WRAPPER, F_MAPE, 0,
     NULL, 0, {"mean_absolute_percentage_error", "mape", "MAPE"}},
    {"MeanSquaredLogarithmicError", "mean_squared_logarithmic_error", K_WRAPPER, F_MSLE, 0,
     NULL, 0, {"mean_squared_logarithmic_error", "msle", "MSLE"}},
    {"RootMeanSquaredError", "root_mean_squared_error", K_RMSE, F_NONE, 0, NULL, 0,
     {"root_mean_squared_error"}},
    {"LogCoshError", "logcosh", K_WRAPPER, F_LOG_COSH, 0, NULL, 0, {"log_cosh_error", "logcosh"}},
    {"CosineSimilarity", "cosine_similarity", K_WRAPPER, F_COSINE, 0, NULL, 0,
     {"cosine_similarity"}},
    {"Accuracy", "accuracy", K_WRAPPER, F_ACCURACY, 0, NULL, 0, {"accuracy", "acc"}},
    {"BinaryAccuracy", "binary_accuracy", K_WRAPPER, F_BINARY_ACCURACY, 0, NULL, 0,
     {"binary_accuracy"}},
    {"CategoricalAccuracy", "categorical_accuracy", K_WRAPPER, F_CATEGORICAL_ACCURACY, 0, NULL, 0,
     {"categorical_accuracy"}},
    {"SparseCategoricalAccuracy", "sparse_categorical_accuracy", K_WRAPPER,
     F_SPARSE_CATEGORICAL_ACCURACY, 0, NULL, 0, {"sparse_categorical_accuracy"}},
    {"TopKCategoricalAccuracy", "top_k_categorical_accuracy", K_WRAPPER, F_TOP_K, 0, NULL, 0,
     {"top_k_categorical_accuracy"}},
    {"SparseTopKCategoricalAccuracy", "sparse_top_k_categorical_accuracy", K_WRAPPER,
     F_SPARSE_TOP_K, 0, NULL, 0, {"sparse_top_k_categorical_accuracy"}},
    {"TruePositives", "true_positives", K_COUNT, F_NONE, C_TP, NULL, 0, {"true_positives"}},
    {"TrueNegatives", "true_negatives", K_COUNT, F_NONE, C_TN, NULL, 0, {"true_negatives"}},
    {"FalsePositives", "false_positives", K_COUNT, F_NONE, C_FP, NULL, 0, {"false_positives"}},
    {"FalseNegatives", "false_negatives", K_COUNT, F_NONE, C_FN, NULL, 0, {"false_negatives"}},
    {"Precision", "precision", K_PRECISION, F_NONE, C_TP | C_FP, NULL, 0, {"precision"}},
    {"Recall", "recall", K_RECALL, F_NONE, C_TP | C_FN, NULL, 0, {"recall"}},
    {"AUC", "auc", K_AUC, F_NONE, C_TP | C_FP | C_TN | C_FN, NULL, 0, {"auc"}},
    {"MeanIoU", "mean_io_u", K_MEAN_IOU, F_NONE, 0, NULL, 0, {"mean_io_u"}},
    {"BinaryCrossentropy", "binary_crossentropy", K_WRAPPER, F_LOSS, 0, "binary_crossentropy",
     LOSS_ARGS_BCE, {"binary_crossentropy", "bce", "BCE"}},
    {"CategoricalCrossentropy", "categorical_crossentropy", K_WRAPPER, F_LOSS, 0,
     "categorical_crossentropy", LOSS_ARGS_CCE, {"categorical_crossentropy"}},
    {"SparseCategoricalCrossentropy", "sparse_categorical_crossentropy", K_WRAPPER, F_LOSS, 0,
     "sparse_categorical_crossentropy", LOSS_ARGS_SCCE, {"sparse_categorical_crossentropy"}},
    {"KLDivergence", "kl_divergence", K_WRAPPER, F_LOSS, 0, "kl_divergence", 0,
     {"kl_divergence"}},
    {"Poisson", "poisson", K_WRAPPER, F_LOSS, 0, "poisson", 0, {"poisson"}},
    {"Hinge", "hinge", K_WRAPPER, F_LOSS, 0, "hinge", 0, {"hinge"}},
    {"SquaredHinge", "squared_hinge", K_WRAPPER, F_LOSS, 0, "squared_hinge", 0,
     {"squared_hinge"}},
    {"CategoricalHinge", "categorical_hinge", K_WRAPPER, F_LOSS, 0, "categorical_hinge", 0,
     {"categorical_hinge"}},
};
#define NCLASSES (int)(sizeof CLASSES / sizeof CLASSES[0])

/* A MeanMetricWrapper over a loss given by name, or over a C function. */
static const metric_class WRAPPER_LOSS = {"MeanMetricWrapper", "mean_metric_wrapper",
                                          K_WRAPPER, F_LOSS, 0, NULL, 0, {NULL}};
static const metric_class WRAPPER_CUSTOM = {"MeanMetricWrapper", "mean_metric_wrapper",
                                            K_WRAPPER, F_CUSTOM, 0, NULL, 0, {NULL}};

struct ct_metric {
    const metric_class *cls;
    char *name;
    int nvars;
    ct_variable *vars[MAX_VARS]; /* Keras's order                         */

    /* accuracies, CosineSimilarity, the loss metrics */
    double threshold;         /* BinaryAccuracy                            */
    int64_t k;                /* top-k accuracies                          */
    int64_t axis;             /* CosineSimilarity, CCE/SCCE, MeanIoU       */
    bool has_axis;

    /* the confusion-matrix metrics */
    int nthr;
    double *thr;              /* the thresholds compared against (AUC: with
                                 the -eps and 1 + eps ends)                */
    bool evenly;              /* Keras's bucketed update applies           */
    bool init_thr_given;      /* config: thresholds (else null)            */
    bool init_thr_scalar;     /* given as a number, not a list             */
    int ninit_thr;
    double *init_thr;
    int64_t top_k;            /* 0: none                                   */
    bool has_class_id;
    int64_t class_id;

    /* AUC */
    bool curve_pr;
    int summation;            /* 0 interpolation, 1 minoring, 2 majoring   */
    bool multi_label;
    int64_t num_labels;       /* 0: none given                             */
    int64_t built_labels;     /* the labels the state was built for        */
    double *label_weights;
    int nlabel_weights;
    bool from_logits;
    bool built;

    /* MeanIoU */
    int64_t num_classes;
    bool has_ignore_class;
    int64_t ignore_class;
    bool sparse_y_true, sparse_y_pred;

    /* loss metrics and custom functions */
    double label_smoothing;
    char *fn_name;            /* MeanMetricWrapper over a named loss       */
    ct_loss *loss;
    ct_loss_fn custom;
    void *custom_ctx;
};

static const char *const SUMMATIONS[] = {"interpolation", "minoring", "majoring", NULL};

/* ---- errors ------------------------------------------------------------------ */

static ct_status metric_error(const ct_metric *m, ct_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ct_status metric_error(const ct_metric *m, ct_status code, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ct__error(code, "%s '%s': %s", m->cls->class_name, m->name ? m->name : "?", msg);
}

/* An op in `stage` returned NULL: the op's error, prefixed with the block. */
static ct_status op_failed(const ct_metric *m, const char *stage) {
    char cause[768];
    ct_status code = ct_last_status() ? ct_last_status() : CT_ERR_INTERNAL;
    snprintf(cause, sizeof cause, "%s", ct_last_error()[0] ? ct_last_error() : "failed");
    return metric_error(m, code, "%s: %s", stage, cause);
}

/* ---- tensor helpers -------------------------------------------------------------- */

static ct_tensor *as_f32(const ct_tensor *t) {
    if (!t) return NULL;
    return ct_tensor_dtype(t) == CT_FLOAT32 ? (ct_tensor *)t : ct_cast(t, CT_FLOAT32);
}

/* t itself when floating point, else t as float32 (Keras computes integer
 * inputs in floatx). */
static ct_tensor *as_float(const ct_tensor *t) {
    if (!t) return NULL;
    return ct_dtype_is_float(ct_tensor_dtype(t)) ? (ct_tensor *)t : ct_cast(t, CT_FLOAT32);
}

static ct_tensor *as_dtype(const ct_tensor *t, ct_dtype dt) {
    if (!t) return NULL;
    return ct_tensor_dtype(t) == dt ? (ct_tensor *)t : ct_cast(t, dt);
}

/* A scalar of t's dtype on the current default device. */
static ct_tensor *scalar_like(const ct_tensor *t, double v) {
    return ct_scalar_of(t ? ct_tensor_dtype(t) : CT_FLOAT32, v);
}

/* keras.losses.loss.squeeze_or_expand_to_same_rank. */
static void same_rank(ct_tensor **x1, ct_tensor **x2, bool expand_rank_1) {
    if (!*x1 || !*x2) return;
    int r1 = ct_tensor_rank(*x1), r2 = ct_tensor_rank(*x2);
    if (r1 == r2 + 1) {
        if (ct_tensor_dim(*x1, -1) == 1) {
            if (r2 == 1 && expand_rank_1) *x2 = ct_expand_dims(*x2, -1);
            else *x1 = ct_squeeze(*x1, CT_AXES(-1));
        }
    } else if (r2 == r1 + 1) {
        if (ct_tensor_dim(*x2, -1) == 1) {
            if (r1 == 1 && expand_rank_1) *x1 = ct_expand_dims(*x1, -1);
            else *x2 = ct_squeeze(*x2, CT_AXES(-1));
        }
    }
}

/* Reduces the axes [from, rank) with mean or sum (nothing when none). */
static ct_tensor *reduce_from(const ct_tensor *t, int from, bool mean) {
    if (!t) return NULL;
    int r = ct_tensor_rank(t), axes[CT_MAX_RANK], n = 0;
    for (int i = from; i < r; i++) axes[n++] = i;
    if (!n) return (ct_tensor *)t;
    return mean ? ct_reduce_mean(t, axes, n, false) : ct_reduce_sum(t, axes, n, false);
}

/* ops.divide_no_nan: a / b, 0 where b == 0. */
static ct_tensor *divide_no_nan(const ct_tensor *a, const ct_tensor *b) {
    if (!a || !b) return NULL;
    ct_tensor *zero = ct_equal(b, scalar_like(b, 0));
    ct_tensor *safe = ct_where(zero, scalar_like(b, 1), b);
    return ct_where(zero, scalar_like(a, 0), ct_divide(a, safe));
}

static ct_tensor *flatten(const ct_tensor *t) { return ct_reshape(t, CT_DIMS(-1)); }

/* t[:n] / t[1:] along axis 0 (any rank). */
static ct_tensor *head(const ct_tensor *t, int64_t n) {
    if (!t) return NULL;
    int64_t begin[CT_MAX_RANK] = {0}, size[CT_MAX_RANK];
    for (int i = 0; i < CT_MAX_RANK; i++) size[i] = -1;
    size[0] = n;
    return ct_slice(t, begin, size);
}
static ct_tensor *tail(const ct_tensor *t) {
    if (!t) return NULL;
    int64_t begin[CT_MAX_RANK] = {0}, size[CT_MAX_RANK];
    for (int i = 0; i < CT_MAX_RANK; i++) size[i] = -1;
    begin[0] = 1;
    return ct_slice(t, begin, size);
}

/* ---- reduce_to_samplewise_values and the Mean / Sum updates --------------------------- */

/* keras.metrics.reduction_metrics.reduce_to_samplewise_values: values as
 * float32 reduced to one value per sample (weighted), and the weights
 * broadcast and reduced alike (*sw_out NULL when sw is NULL). */
static ct_tensor *samplewise(const ct_tensor *values, const ct_tensor *sw, bool mean,
                             ct_tensor **sw_out) {
    ct_tensor *v = as_f32(values);
    ct_tensor *w = NULL;
    if (sw && v) {
        w = as_f32(sw);
        same_rank(&v, &w, true);
        if (!v || !w) return NULL;
        int wn = ct_tensor_rank(w), vn = ct_tensor_rank(v);
        if (vn > wn) v = reduce_from(v, wn, mean);
        if (!v) return NULL;
        w = ct_broadcast_to(w, ct_tensor_rank(v), ct_tensor_shape(v));
        v = ct_multiply(v, w);
        if (wn > 1) w = reduce_from(w, 1, mean);
        if (!w) return NULL;
    }
    if (v && ct_tensor_rank(v) > 1) v = reduce_from(v, 1, mean);
    *sw_out = w;
    return v;
}

static ct_status mean_update(ct_metric *m, const ct_tensor *values, const ct_tensor *sw) {
    ct_tensor *w = NULL;
    ct_tensor *v = samplewise(values, sw, true, &w);
    if (!v) return op_failed(m, "update");
    ct_tensor *count;
    if (w) count = ct_reduce_sum(w, CT_ALL, false);
    else count = ct_scalar((double)(ct_tensor_rank(v) >= 1 ? ct_tensor_dim(v, 0) : 1));
    ct_tensor *total = ct_reduce_sum(v, CT_ALL, false);
    if (!count || !total) return op_failed(m, "update");
    ct_status st = ct_variable_assign_add(m->vars[0], total);
    if (!st) st = ct_variable_assign_add(m->vars[1], count);
    return st ? op_failed(m, "update") : CT_OK;
}

static ct_status sum_update(ct_metric *m, const ct_tensor *values, const ct_tensor *sw) {
    ct_tensor *w = NULL;
    ct_tensor *v = samplewise(values, sw, false, &w);
    ct_tensor *total = ct_reduce_sum(v, CT_ALL, false);
    if (!total || ct_variable_assign_add(m->vars[0], total)) return op_failed(m, "update");
    return CT_OK;
}

/* ---- the per-sample functions (accuracy_metrics.py, losses.py) --------------------------- */

/* accuracy: mean(y_true == y_pred, axis=-1), y_true cast to y_pred's dtype. */
static ct_tensor *fn_accuracy(const ct_tensor *y_true, const ct_tensor *y_pred) {
    ct_tensor *p = (ct_tensor *)y_pred, *t = as_dtype(y_true, ct_tensor_dtype(y_pred));
    same_rank(&t, &p, true);
    return ct_reduce_mean(ct_cast(ct_equal(t, p), CT_FLOAT32), CT_AXES(-1), false);
}

/* binary_accuracy: y_pred > threshold (as y_true's dtype) == y_true. */
static ct_tensor *fn_binary_accuracy(const ct_metric *m, const ct_tensor *y_true,
                                     const ct_tensor *y_pred) {
    ct_tensor *t = (ct_tensor *)y_true, *p = as_float(y_pred);
    same_rank(&t, &p, true);
    if (!t || !p) return NULL;
    p = ct_cast(ct_greater(p, scalar_like(p, m->threshold)), ct_tensor_dtype(t));
    return ct_reduce_mean(ct_cast(ct_equal(t, p), CT_FLOAT32), CT_AXES(-1), false);
}

/* argmax(y_pred) compared with y_true in y_true's dtype; reshape_matches as
 * Keras's categorical_accuracy / sparse_categorical_accuracy. */
static ct_tensor *argmax_matches(ct_tensor *t, const ct_tensor *y_pred, bool sparse) {
    if (!t || !y_pred) return NULL;
    int tr = ct_tensor_rank(t), pr = ct_tensor_rank(y_pred);
    int64_t org[CT_MAX_RANK];
    for (int i = 0; i < tr; i++) org[i] = ct_tensor_dim(t, i);
    bool reshape = false;
    if (tr == pr && (!sparse || (tr > 0 && ct_tensor_dim(t, -1) == 1))) {
        t = ct_squeeze(t, CT_AXES(-1));
        reshape = true;
    }
    ct_tensor *p = ct_argmax(y_pred, -1);
    if (!t || !p) return NULL;
    p = as_dtype(p, ct_tensor_dtype(t));
    ct_tensor *matches = ct_cast(ct_equal(t, p), CT_FLOAT32);
    if (reshape) matches = ct_reshape(matches, tr, org);
    if (sparse && matches && ct_tensor_rank(matches) > 1 && ct_tensor_dim(matches, -1) == 1)
        matches = ct_squeeze(matches, CT_AXES(-1));
    return matches;
}

/* tf.math.in_top_k(targets, predictions, k): the target's prediction has
 * fewer than k strictly greater ones in its row (ties straddling the
 * boundary count as in); an out-of-range target or a non-finite
 * prediction in the row gives false. targets [M], predictions [M, C]. */
static ct_tensor *in_top_k(const ct_tensor *targets, const ct_tensor *pred, int64_t k) {
    if (!targets || !pred) return NULL;
    int64_t c = ct_tensor_dim(pred, -1);
    ct_tensor *t = ct_cast(targets, CT_INT64);
    ct_tensor *valid = ct_logical_and(ct_greater_equal(t, ct_scalar_of(CT_INT64, 0)),
                                      ct_less(t, ct_scalar_of(CT_INT64, (double)c)));
    ct_tensor *hot = ct_greater(ct_one_hot(t, c, 1, 0, -1, CT_FLOAT32), ct_scalar(0));
    ct_tensor *score = ct_reduce_sum(ct_where(hot, pred, scalar_like(pred, 0)), CT_AXES(-1), true);
    ct_tensor *finite = ct_reduce_all(ct_is_finite(pred), CT_AXES(-1), false);
    ct_tensor *more = ct_reduce_sum(ct_cast(ct_greater(pred, score), CT_FLOAT32), CT_AXES(-1),
                                    false);
    ct_tensor *in = ct_less(more, ct_scalar((double)k));
    return ct_logical_and(ct_logical_and(valid, finite), in);
}

/* (sparse_)top_k_categorical_accuracy. */
static ct_tensor *fn_top_k(const ct_metric *m, const ct_tensor *y_true, const ct_tensor *y_pred,
                           bool sparse) {
    ct_tensor *t = sparse ? (ct_tensor *)y_true : ct_argmax(y_true, -1);
    ct_tensor *p = as_float(y_pred);
    if (!t || !p) return NULL;
    int tr = ct_tensor_rank(t), pr = ct_tensor_rank(p);
    int64_t org[CT_MAX_RANK];
    for (int i = 0; i < tr; i++) org[i] = ct_tensor_dim(t, i);
    if (pr > 2) p = ct_reshape(p, CT_DIMS(-1, ct_tensor_dim(p, -1)));
    if (tr > 1) t = flatten(t);
    if (pr < 2) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "y_pred must have a class axis ([batch, classes]), got rank %d", pr);
        return NULL;
    }
    ct_tensor *matches = ct_cast(in_top_k(t, p, m->k), CT_FLOAT32);
    if (tr > 1) matches = ct_reshape(matches, tr, org);
    return matches;
}

/* The regression errors of keras.losses (mean over the last axis). */
static ct_tensor *fn_regression(const ct_metric *m, const ct_tensor *y_true,
                                const ct_tensor *y_pred) {
    ct_tensor *p = as_float(y_pred), *t = as_dtype(y_true, p ? ct_tensor_dtype(p) : CT_FLOAT32);
    same_rank(&t, &p, true);
    if (!t || !p) return NULL;
    ct_tensor *v;
    switch (m->cls->fn) {
    case F_MSE: v = ct_square(ct_subtract(t, p)); break;
    case F_MAE: v = ct_abs(ct_subtract(t, p)); break;
    case F_MAPE:
        v = ct_multiply(ct_abs(ct_divide(ct_subtract(t, p),
                                         ct_maximum(ct_abs(t), scalar_like(t, EPSILON)))),
                        scalar_like(t, 100));
        break;
    case F_MSLE: {
        ct_tensor *a = ct_log(ct_add(ct_maximum(p, scalar_like(p, EPSILON)), scalar_like(p, 1)));
        ct_tensor *b = ct_log(ct_add(ct_maximum(t, scalar_like(t, EPSILON)), scalar_like(t, 1)));
        v = ct_square(ct_subtract(a, b));
        break;
    }
    case F_LOG_COSH: {
        /* x + softplus(-2 x) - log(2), x = y_pred - y_true */
        ct_tensor *x = ct_subtract(p, t);
        v = ct_subtract(ct_add(x, ct_softplus(ct_multiply(x, scalar_like(x, -2)))),
                        scalar_like(x, log(2.0)));
        break;
    }
    case F_COSINE: {
        /* sum(l2_normalize(y_true) * l2_normalize(y_pred)) along axis, with
         * ops.normalize's x * min(rsqrt(sum(x^2)), 1 / epsilon). */
        int ax = (int)m->axis;
        ct_tensor *nt = ct_multiply(
            t, ct_minimum(ct_rsqrt(ct_reduce_sum(ct_square(t), &ax, 1, true)),
                          scalar_like(t, 1 / EPSILON)));
        ct_tensor *np_ = ct_multiply(
            p, ct_minimum(ct_rsqrt(ct_reduce_sum(ct_square(p), &ax, 1, true)),
                          scalar_like(p, 1 / EPSILON)));
        return ct_reduce_sum(ct_multiply(nt, np_), &ax, 1, false);
    }
    default: return NULL;
    }
    return ct_reduce_mean(v, CT_AXES(-1), false);
}

/* The per-sample values of a MeanMetricWrapper. */
static ct_tensor *wrapper_values(ct_metric *m, const ct_tensor *y_true, const ct_tensor *y_pred) {
    switch (m->cls->fn) {
    case F_ACCURACY: return fn_accuracy(y_true, y_pred);
    case F_BINARY_ACCURACY: return fn_binary_accuracy(m, y_true, y_pred);
    case F_CATEGORICAL_ACCURACY: return argmax_matches(ct_argmax(y_true, -1), y_pred, false);
    case F_SPARSE_CATEGORICAL_ACCURACY: return argmax_matches((ct_tensor *)y_true, y_pred, true);
    case F_TOP_K: return fn_top_k(m, y_true, y_pred, false);
    case F_SPARSE_TOP_K: return fn_top_k(m, y_true, y_pred, true);
    case F_MSE:
    case F_MAE:
    case F_MAPE:
    case F_MSLE:
    case F_LOG_COSH:
    case F_COSINE: return fn_regression(m, y_true, y_pred);
    case F_LOSS: return ct_loss_values(m->loss, y_true, y_pred);
    case F_CUSTOM: return m->custom(y_true, y_pred, m->custom_ctx);
    default: return NULL;
    }
}

/* ---- the confusion-matrix update (metrics_utils.py) ------------------------------------ */

/* _filter_top_k: the k largest values of the last axis kept, the rest
 * NEG_INF. */
static ct_tensor *filter_top_k(const ct_tensor *x, int64_t k) {
    ct_tensor *vals = NULL, *idx = NULL;
    if (!x || ct_top_k(x, k, true, &vals, &idx)) return NULL;
    ct_tensor *mask =
        ct_reduce_sum(ct_one_hot(idx, ct_tensor_dim(x, -1), 1, 0, -1, CT_FLOAT32), CT_AXES(-2),
                      false);
    return ct_add(ct_multiply(x, mask),
                  ct_multiply(ct_scalar(NEG_INF), ct_subtract(ct_scalar(1), mask)));
}

/* x[..., id, None]. */
static ct_tensor *class_slice(const ct_tensor *x, int64_t id) {
    ct_index items[3] = {{.kind = CT_IX_ELLIPSIS},
                         {.kind = CT_IX_INDEX, .start = id},
                         {.kind = CT_IX_NEWAXIS}};
    return ct_strided_slice(x, 3, items);
}

/* The update of the cells in `cells` (C_TP ...) into vars (tp, fp, tn, fn
 * order of the bits; NULL for cells not kept). */
static ct_status confusion_update(ct_metric *m, int cells, ct_variable *tpv, ct_variable *fpv,
                                  ct_variable *tnv, ct_variable *fnv, const ct_tensor *y_true,
                                  const ct_tensor *y_pred, const ct_tensor *sample_weight,
                                  const ct_tensor *label_weights) {
    int64_t nt = m->nthr;
    ct_tensor *yt = as_f32(y_true), *yp = as_f32(y_pred), *sw = NULL;
    same_rank(&yp, &yt, true);
    if (!yt || !yp) return op_failed(m, "update");
    if (sample_weight) {
        ct_tensor *yt2 = yt;
        sw = ct_expand_dims(as_f32(sample_weight), -1);
        same_rank(&yt2, &sw, false);
        if (!sw) return op_failed(m, "update: sample_weight");
    }
    if (m->top_k > 0) {
        int64_t c = ct_tensor_rank(yp) ? ct_tensor_dim(yp, -1) : 0;
        if (m->top_k > c)
            return metric_error(m, CT_ERR_INVALID_ARGUMENT,
                                "top_k %lld is more than the %lld predictions of the last axis "
                                "of y_pred %s",
                                (long long)m->top_k, (long long)c, CT__DESC(yp));
        yp = filter_top_k(yp, m->top_k);
        if (!yp) return op_failed(m, "update: top_k");
    }
    if (m->has_class_id) {
        if (ct_tensor_rank(yp) <= 1)
            return metric_error(m, CT_ERR_INVALID_ARGUMENT,
                                "when class_id is given, y_pred must have shape (num_samples, "
                                "num_classes), got %s",
                                CT__DESC(yp));
        int64_t c = ct_tensor_dim(yp, -1);
        if (m->class_id >= c || m->class_id < -c || ct_tensor_dim(yt, -1) != c)
            return metric_error(m, CT_ERR_INVALID_ARGUMENT,
                                "class_id %lld is outside the classes of y_true %s and y_pred %s",
                                (long long)m->class_id, CT__DESC(yt), CT__DESC(yp));
        yt = class_slice(yt, m->class_id);
        yp = class_slice(yp, m->class_id);
        if (!yt || !yp) return op_failed(m, "update: class_id");
    }
    /* Shapes must agree (Keras fails in the tile or the segment sum). */
    bool same = ct_tensor_rank(yt) == ct_tensor_rank(yp);
    for (int i = 0; same && i < ct_tensor_rank(yp); i++)
        same = ct_tensor_dim(yt, i) == ct_tensor_dim(yp, i);
    if (!same)
        return metric_error(m, CT_ERR_INVALID_ARGUMENT,
                            "y_true %s and y_pred %s have different shapes", CT__DESC(yt),
                            CT__DESC(yp));
    bool multi = m->multi_label;
    ct_tensor *w = NULL; /* weights of yp's shape (multi) or flattened */
    if (sw) {
        w = ct_broadcast_to(sw, ct_tensor_rank(yp), ct_tensor_shape(yp));
        if (!w)
            return metric_error(m, CT_ERR_INVALID_ARGUMENT,
                                "sample_weight %s does not broadcast to y_pred %s",
                                CT__DESC(sample_weight), CT__DESC(yp));
    }
    if (label_weights && !multi) {
        ct_tensor *lw = ct_broadcast_to(ct_expand_dims(label_weights, 0), ct_tensor_rank(yp),
                                        ct_tensor_shape(yp));
        if (!lw) return op_failed(m, "update: label_weights");
        w = w ? ct_multiply(w, lw) : lw;
    }
    ct_tensor *tp = NULL, *fp = NULL, *tn = NULL, *fn = NULL;
    if (m->evenly) {
        /* _update_confusion_matrix_variables_optimized */
        bool with_eps = m->thr[0] < 0 || m->thr[nt - 1] > 1;
        ct_tensor *p = ct_clip_by_value(yp, 0, 1);
        ct_tensor *t = ct_cast(ct_cast(yt, CT_BOOL), CT_FLOAT32);
        if (!multi) {
            p = flatten(p);
            t = flatten(t);
            if (w) w = flatten(w);
        }
        ct_tensor *tl = w ? ct_multiply(t, w) : t;
        ct_tensor *fl = ct_subtract(ct_scalar(1), t);
        if (w) fl = ct_multiply(fl, w);
        ct_tensor *bucket =
            ct_subtract(ct_ceil(ct_multiply(p, ct_scalar((double)(nt - 1)))), ct_scalar(1));
        if (with_eps) bucket = ct_relu(bucket);
        bucket = ct_cast(bucket, CT_INT32);
        if (!tl || !fl || !bucket) return op_failed(m, "update");
        if (!multi) {
            tp = ct_cumsum(ct_unsorted_segment_sum(tl, bucket, nt), 0, false, true);
            fp = ct_cumsum(ct_unsorted_segment_sum(fl, bucket, nt), 0, false, true);
        } else {
            /* One segment sum over (bucket, label) pairs: segment
             * bucket * L + label; a negative bucket stays negative and is
             * dropped, as Keras's per-label segment sums drop it. */
            int64_t nl = ct_tensor_dim(p, -1);
            ct_tensor *lab = ct_range(0, (double)nl, 1, CT_INT32);
            ct_tensor *seg = flatten(ct_add(ct_multiply(bucket, ct_scalar_of(CT_INT32,
                                                                             (double)nl)),
                                            lab));
            tp = ct_reshape(ct_unsorted_segment_sum(flatten(tl), seg, nt * nl), CT_DIMS(nt, nl));
            fp = ct_reshape(ct_unsorted_segment_sum(flatten(fl), seg, nt * nl), CT_DIMS(nt, nl));
            tp = ct_cumsum(tp, 0, false, true);
            fp = ct_cumsum(fp, 0, false, true);
        }
        if (cells & (C_TN | C_FN)) {
            ct_tensor *tot_t = multi ? ct_reduce_sum(tl, CT_AXES(0), false)
                                     : ct_reduce_sum(tl, CT_ALL, false);
            ct_tensor *tot_f = multi ? ct_reduce_sum(fl, CT_AXES(0), false)
                                     : ct_reduce_sum(fl, CT_ALL, false);
            tn = ct_subtract(tot_f, fp);
            fn = ct_subtract(tot_t, tp);
        }
    } else {
        ct_tensor *th = ct_cast(ct_constant(m->thr, CT_FLOAT64, CT_DIMS(nt)), CT_FLOAT32);
        ct_tensor *preds, *labels, *wt = NULL;
        if (multi) {
            th = ct_reshape(th, CT_DIMS(nt, 1, 1));
            preds = ct_expand_dims(yp, 0);
            labels = ct_expand_dims(ct_cast(yt, CT_BOOL), 0);
            if (w) wt = ct_expand_dims(w, 0);
        } else {
            th = ct_reshape(th, CT_DIMS(nt, 1));
            preds = ct_reshape(yp, CT_DIMS(1, -1));
            labels = ct_reshape(ct_cast(yt, CT_BOOL), CT_DIMS(1, -1));
            if (w) wt = ct_reshape(w, CT_DIMS(1, -1));
        }
        ct_tensor *pos = ct_greater(preds, th);
        ct_tensor *neg = ct_logical_not(pos);
        ct_tensor *lneg = ct_logical_not(labels);
        if (!pos || !neg || !lneg) return op_failed(m, "update");
#define CELL(lab, pr)                                                                      \
    ct_reduce_sum(wt ? ct_multiply(ct_cast(ct_logical_and(lab, pr), CT_FLOAT32), wt)       \
                     : ct_cast(ct_logical_and(lab, pr), CT_FLOAT32),                       \
                  CT_AXES(1), false)
        if (cells & C_TP) tp = CELL(labels, pos);
        if (cells & C_FP) fp = CELL(lneg, pos);
        if (cells & C_TN) tn = CELL(lneg, neg);
        if (cells & C_FN) fn = CELL(labels, neg);
#undef CELL
    }
    ct_status st = CT_OK;
    if ((cells & C_TP) && !tp) return op_failed(m, "update");
    if ((cells & C_FP) && !fp) return op_failed(m, "update");
    if ((cells & C_TN) && !tn) return op_failed(m, "update");
    if ((cells & C_FN) && !fn) return op_failed(m, "update");
    if (cells & C_TP) st = st ? st : ct_variable_assign_add(tpv, tp);
    if (cells & C_FP) st = st ? st : ct_variable_assign_add(fpv, fp);
    if (cells & C_TN) st = st ? st : ct_variable_assign_add(tnv, tn);
    if (cells & C_FN) st = st ? st : ct_variable_assign_add(fnv, fn);
    return st ? op_failed(m, "update") : CT_OK;
}

/* is_evenly_distributed_thresholds: at least 3, allclose to i / (n - 1)
 * (numpy's rtol 1e-5, atol epsilon, the even ones in float32). */
static bool evenly_distributed(const double *t, int n) {
    if (n < 3) return false;
    for (int i = 0; i < n; i++) {
        double e = (double)((float)i / (float)(n - 1));
        if (!(fabs(t[i] - e) <= EPSILON + 1e-5 * fabs(e))) return false;
    }
    return true;
}

/* ---- variables -------------------------------------------------------------------- */

static ct_status add_var(ct_metric *m, const char *name, int rank, const int64_t *shape) {
    char full[256];
    snprintf(full, sizeof full, "%s/%s", m->name, name);
    ct_scope_begin();
    ct_tensor *z = ct_zeros(CT_FLOAT32, rank, shape);
    ct_variable *v = z ? ct_variable_new(z, &(ct_variable_opts){.name = full,
                                                                .non_trainable = true})
                       : NULL;
    ct_scope_end();
    if (!v) return op_failed(m, "making its state");
    m->vars[m->nvars++] = v;
    return CT_OK;
}

/* AUC's four [T] or [T, labels] variables. */
static ct_status auc_build(ct_metric *m, int64_t labels) {
    int64_t shape[2] = {m->nthr, labels};
    int rank = m->multi_label ? 2 : 1;
    ct_status st = add_var(m, "true_positives", rank, shape);
    if (!st) st = add_var(m, "false_positives", rank, shape);
    if (!st) st = add_var(m, "true_negatives", rank, shape);
    if (!st) st = add_var(m, "false_negatives", rank, shape);
    if (!st) {
        m->built = true;
        m->built_labels = labels;
    }
    return st;
}

static ct_status make_state(ct_metric *m) {
    int64_t t = m->nthr;
    switch (m->cls->kind) {
    case K_MEAN:
    case K_WRAPPER:
    case K_RMSE: {
        ct_status st = add_var(m, "total", CT_SCALAR);
        return st ? st : add_var(m, "count", CT_SCALAR);
    }
    case K_SUM: return add_var(m, "total", CT_SCALAR);
    case K_COUNT: return add_var(m, "accumulator", CT_DIMS(t));
    case K_PRECISION: {
        ct_status st = add_var(m, "true_positives", CT_DIMS(t));
        return st ? st : add_var(m, "false_positives", CT_DIMS(t));
    }
    case K_RECALL: {
        ct_status st = add_var(m, "true_positives", CT_DIMS(t));
        return st ? st : add_var(m, "false_negatives", CT_DIMS(t));
    }
    case K_AUC:
        if (!m->multi_label) return auc_build(m, 0);
        return m->num_labels > 0 ? auc_build(m, m->num_labels) : CT_OK;
    case K_MEAN_IOU:
        return add_var(m, "total_confusion_matrix", CT_DIMS(m->num_classes, m->num_classes));
    }
    return CT_OK;
}

/* ---- construction from a config ------------------------------------------------------ */

static const metric_class *find_class(const char *name) {
    for (int i = 0; i < NCLASSES; i++) {
        if (!strcmp(CLASSES[i].class_name, name)) return &CLASSES[i];
        for (int j = 0; j < 5 && CLASSES[i].aliases[j]; j++)
            if (!strcmp(CLASSES[i].aliases[j], name)) return &CLASSES[i];
    }
    /* compile() lower-cases these two. */
    if (!strcasecmp(name, "accuracy") || !strcasecmp(name, "acc")) return find_class("Accuracy");
    return NULL;
}

/* Marks a config key read and returns its value (NULL when absent or
 * null), as the getters of nn/config.c do. */
static const json_t *cfg_take(ct__cfg *c, const char *key) {
    if (!c->obj) return NULL;
    json_t *v = json_object_get(c->obj, key);
    if (v) json_object_set_new(c->used, key, json_true());
    return v && !json_is_null(v) ? v : NULL;
}

/* A number or a list of numbers into a malloc'ed array (*n 0 and NULL when
 * absent or null). */
static ct_status cfg_doubles(ct__cfg *c, const char *key, double **out, int *n, bool *scalar) {
    const json_t *v = cfg_take(c, key);
    *out = NULL;
    *n = 0;
    if (scalar) *scalar = false;
    if (!v) return CT_OK;
    if (json_is_number(v)) {
        *out = malloc(sizeof **out);
        if (!*out) return ct__error(CT_ERR_OUT_OF_MEMORY, "out of host memory");
        (*out)[0] = json_number_value(v);
        *n = 1;
        if (scalar) *scalar = true;
        return CT_OK;
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return ct__cfg_check(c, false, key, "must be a number or a non-empty list of numbers");
    size_t len = json_array_size(v);
    *out = malloc(len * sizeof **out);
    if (!*out) return ct__error(CT_ERR_OUT_OF_MEMORY, "out of host memory");
    for (size_t i = 0; i < len; i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_number(e)) {
            free(*out);
            *out = NULL;
            return ct__cfg_check(c, false, key, "element %zu must be a number", i);
        }
        (*out)[i] = json_number_value(e);
    }
    *n = (int)len;
    return CT_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The arguments of the confusion-count, Precision and Recall metrics. */
static ct_status read_thresholds(ct_metric *m, ct__cfg *c) {
    ct_status st = cfg_doubles(c, "thresholds", &m->init_thr, &m->ninit_thr, &m->init_thr_scalar);
    if (st) return st;
    m->init_thr_given = m->init_thr != NULL;
    for (int i = 0; i < m->ninit_thr; i++)
        if (!(m->init_thr[i] >= 0 && m->init_thr[i] <= 1))
            return ct__cfg_check(c, false, "thresholds",
                                 "threshold values must be in [0, 1], got %g", m->init_thr[i]);
    int n = m->init_thr_given ? m->ninit_thr : 1;
    m->thr = malloc((size_t)n * sizeof *m->thr);
    if (!m->thr) return ct__error(CT_ERR_OUT_OF_MEMORY, "out of host memory");
    if (m->init_thr_given) memcpy(m->thr, m->init_thr, (size_t)n * sizeof *m->thr);
    else m->thr[0] = m->top_k > 0 ? NEG_INF : 0.5;
    m->nthr = n;
    m->evenly = evenly_distributed(m->thr, n);
    return CT_OK;
}

static ct_status read_auc(ct_metric *m, ct__cfg *c) {
    int64_t num = 0;
    const char *curve = NULL, *summation = NULL;
    static const char *const CURVES[] = {"ROC", "PR", NULL};
    double *user = NULL;
    int nuser = 0;
    ct_status st = ct__cfg_int(c, "num_thresholds", 200, &num) ||
                   ct__cfg_str(c, "curve", "ROC", CURVES, &curve) ||
                   ct__cfg_str(c, "summation_method", "interpolation", SUMMATIONS, &summation) ||
                   ct__cfg_bool(c, "multi_label", false, &m->multi_label) ||
                   ct__cfg_int(c, "num_labels", 0, &m->num_labels) ||
                   ct__cfg_bool(c, "from_logits", false, &m->from_logits);
    if (st) return st;
    st = cfg_doubles(c, "label_weights", &m->label_weights, &m->nlabel_weights, NULL);
    if (st) return st;
    st = cfg_doubles(c, "thresholds", &user, &nuser, NULL);
    if (st) return st;
    m->init_thr = user; /* freed with the metric from here on */
    m->ninit_thr = nuser;
    m->curve_pr = !strcmp(curve, "PR");
    m->summation = !strcmp(summation, "minoring") ? 1 : !strcmp(summation, "majoring") ? 2 : 0;
    if (m->num_labels < 0)
        return ct__cfg_check(c, false, "num_labels", "must be positive, got %lld",
                             (long long)m->num_labels);
    if (m->num_labels > 0 && !m->multi_label)
        return ct__cfg_check(c, false, "num_labels", "is needed only when multi_label is true");
    for (int i = 0; i < m->nlabel_weights; i++)
        if (m->label_weights[i] < 0)
            return ct__cfg_check(c, false, "label_weights", "must be non-negative, got %g",
                                 m->label_weights[i]);
    if (m->multi_label && m->num_labels > 0 && m->label_weights &&
        m->nlabel_weights != m->num_labels)
        return ct__cfg_check(c, false, "label_weights", "has %d weights for %lld labels",
                             m->nlabel_weights, (long long)m->num_labels);
    if (user) {
        /* Given thresholds: sorted, num_thresholds = len + 2 (Keras). */
        qsort(user, (size_t)nuser, sizeof *user, cmp_double);
        m->init_thr_given = true;
        num = nuser + 2;
    } else if (num <= 1 || num > INT32_MAX) {
        return ct__cfg_check(c, false, "num_thresholds", "must be an integer > 1, got %lld",
                             (long long)num);
    }
    m->nthr = (int)num;
    m->thr = malloc((size_t)num * sizeof *m->thr);
    if (!m->thr) return ct__error(CT_ERR_OUT_OF_MEMORY, "out of host memory");
    /* The endpoint thresholds -epsilon and 1 + epsilon catch predictions of
     * exactly 0 and 1; Keras checks evenness on [0, given..., 1]. */
    m->thr[0] = 0.0;
    m->thr[num - 1] = 1.0;
    for (int64_t i = 1; i < num - 1; i++)
        m->thr[i] = user ? user[i - 1] : (double)i * 1.0 / (double)(num - 1);
    m->evenly = user ? evenly_distributed(m->thr, (int)num) : true;
    m->thr[0] = 0.0 - EPSILON;
    m->thr[num - 1] = 1.0 + EPSILON;
    return CT_OK;
}

static ct_status read_loss(ct_metric *m, ct__cfg *c, const char *loss_name, loss_args args) {
    bool bce = args == LOSS_ARGS_BCE, cce = args == LOSS_ARGS_CCE, scce = args == LOSS_ARGS_SCCE;
    ct_status st = CT_OK;
    if (bce || cce || scce || m->cls == &WRAPPER_LOSS) {
        st = ct__cfg_bool(c, "from_logits", false, &m->from_logits);
        if (!st && (bce || cce || m->cls == &WRAPPER_LOSS))
            st = ct__cfg_double(c, "label_smoothing", 0, &m->label_smoothing);
        if (!st && (cce || scce || m->cls == &WRAPPER_LOSS)) {
            m->has_axis = ct__cfg_has(c, "axis");
            st = ct__cfg_int(c, "axis", -1, &m->axis);
        }
    }
    if (st) return st;
    ct_loss_opts lo = {.from_logits = m->from_logits,
                       .label_smoothing = m->label_smoothing,
                       .axis = (int)m->axis,
                       .has_axis = m->has_axis};
    m->loss = ct_loss_new(loss_name, &lo);
    if (!m->loss) return op_failed(m, "making the loss");
    return CT_OK;
}

static void metric_destroy(ct_metric *m) {
    if (!m) return;
    for (int i = 0; i < m->nvars; i++) ct_variable_free(m->vars[i]);
    ct_loss_free(m->loss);
    free(m->thr);
    free(m->init_thr);
    free(m->label_weights);
    free(m->fn_name);
    free(m->name);
    free(m);
}

/* The loss name of a MeanMetricWrapper's "fn" (a string, or Keras 3's
 * {"module", "class_name": "function", "config": "<name>"}). */
static const char *wrapper_fn_name(const json_t *fn) {
    if (json_is_string(fn)) return json_string_value(fn);
    if (json_is_object(fn)) {
        const json_t *cfgv = json_object_get(fn, "config");
        if (json_is_string(cfgv)) return json_string_value(cfgv);
        const json_t *reg = json_object_get(fn, "registered_name");
        if (json_is_string(reg)) return json_string_value(reg);
    }
    return NULL;
}

/* Makes a metric of class cls from its config dict (NULL: defaults).
 * fn_name: the loss of a MeanMetricWrapper made by name. */
static ct_metric *metric_make(const metric_class *cls, const json_t *cfg, const char *fn_name,
                              const char *dflt_name) {
    ct_metric *m = calloc(1, sizeof *m);
    if (!m) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", cls->class_name);
        return NULL;
    }
    m->cls = cls;
    const json_t *jn = cfg ? json_object_get(cfg, "name") : NULL;
    if (jn && !json_is_null(jn) && !json_is_string(jn)) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: argument 'name': must be a string",
                  cls->class_name);
        free(m);
        return NULL;
    }
    const char *name = jn && json_is_string(jn) ? json_string_value(jn)
                                                : dflt_name ? dflt_name : cls->default_name;
    m->name = strdup(name);
    if (!m->name) {
        free(m);
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", cls->class_name);
        return NULL;
    }
    m->axis = -1;
    m->k = 5;
    m->threshold = 0.5;
    m->sparse_y_true = m->sparse_y_pred = true;
    ct__cfg c;
    if (ct__cfg_begin(&c, cfg, cls->class_name, m->name)) {
        metric_destroy(m);
        return NULL;
    }
    ct_status st = CT_OK;
    switch (cls->kind) {
    case K_WRAPPER:
        switch (cls->fn) {
        case F_BINARY_ACCURACY:
            st = ct__cfg_double(&c, "threshold", 0.5, &m->threshold) ||
                 ct__cfg_check(&c, m->threshold > 0 && m->threshold < 1, "threshold",
                               "must be in the interval (0, 1), got %g", m->threshold);
            break;
        case F_TOP_K:
        case F_SPARSE_TOP_K:
            st = ct__cfg_int(&c, "k", 5, &m->k) ||
                 ct__cfg_check(&c, m->k > 0, "k", "must be positive, got %lld", (long long)m->k);
            break;
        case F_COSINE: st = ct__cfg_int(&c, "axis", -1, &m->axis); break;
        case F_LOSS: {
            if (cls == &WRAPPER_LOSS) {
                const json_t *fn = cfg_take(&c, "fn");
                const char *lname = fn ? wrapper_fn_name(fn) : fn_name;
                if (!lname) {
                    st = ct__cfg_check(&c, false, "fn", "must name a loss function");
                    break;
                }
                m->fn_name = strdup(lname);
                if (!m->fn_name) {
                    st = ct__error(CT_ERR_OUT_OF_MEMORY, "out of host memory");
                    break;
                }
            }
            st = read_loss(m, &c, m->fn_name ? m->fn_name : cls->loss, cls->largs);
            break;
        }
        default: break;
        }
        break;
    case K_COUNT: st = read_thresholds(m, &c); break;
    case K_PRECISION:
    case K_RECALL: {
        m->has_class_id = ct__cfg_has(&c, "class_id");
        st = ct__cfg_int(&c, "top_k", 0, &m->top_k) ||
             ct__cfg_check(&c, m->top_k >= 0, "top_k", "must be positive, got %lld",
                           (long long)m->top_k) ||
             ct__cfg_int(&c, "class_id", 0, &m->class_id) || read_thresholds(m, &c);
        break;
    }
    case K_AUC: st = read_auc(m, &c); break;
    case K_MEAN_IOU:
        m->has_ignore_class = ct__cfg_has(&c, "ignore_class");
        st = ct__cfg_int(&c, "num_classes", CT__REQUIRED, &m->num_classes) ||
             ct__cfg_check(&c, m->num_classes > 0, "num_classes", "must be positive, got %lld",
                           (long long)m->num_classes) ||
             ct__cfg_int(&c, "ignore_class", 0, &m->ignore_class) ||
             ct__cfg_bool(&c, "sparse_y_true", true, &m->sparse_y_true) ||
             ct__cfg_bool(&c, "sparse_y_pred", true, &m->sparse_y_pred) ||
             ct__cfg_int(&c, "axis", -1, &m->axis);
        break;
    default: break;
    }
    if (st) {
        ct__cfg_end(&c);
        metric_destroy(m);
        return NULL;
    }
    if (ct__cfg_finish(&c) || make_state(m)) {
        metric_destroy(m);
        return NULL;
    }
    return m;
}

/* ---- the public API --------------------------------------------------------------------- */

/* opts in the config keys of the class (only those the class takes). */
static json_t *opts_config(const metric_class *cls, const ct_metric_opts *o) {
    json_t *j = json_object();
    if (!j || !o) return j;
    if (o->name) json_object_set_new(j, "name", json_string(o->name));
    json_t *thr = NULL;
    if (o->nthresholds > 0 && o->thresholds) {
        thr = json_array();
        for (int i = 0; i < o->nthresholds; i++)
            json_array_append_new(thr, json_real(o->thresholds[i]));
    }
    switch (cls->kind) {
    case K_WRAPPER:
        if (cls->fn == F_BINARY_ACCURACY && o->threshold != 0)
            json_object_set_new(j, "threshold", json_real(o->threshold));
        if ((cls->fn == F_TOP_K || cls->fn == F_SPARSE_TOP_K) && o->k != 0)
            json_object_set_new(j, "k", json_integer(o->k));
        if (cls->fn == F_COSINE && o->has_axis) json_object_set_new(j, "axis", json_integer(o->axis));
        if (cls->fn == F_LOSS) {
            bool logits = cls->largs != LOSS_ARGS_NONE || cls == &WRAPPER_LOSS;
            bool axis = cls->largs == LOSS_ARGS_CCE || cls->largs == LOSS_ARGS_SCCE ||
                        cls == &WRAPPER_LOSS;
            if (logits && o->from_logits) json_object_set_new(j, "from_logits", json_true());
            if (axis && o->has_axis) json_object_set_new(j, "axis", json_integer(o->axis));
        }
        break;
    case K_COUNT:
        if (thr) json_object_set(j, "thresholds", thr);
        break;
    case K_PRECISION:
    case K_RECALL:
        if (thr) json_object_set(j, "thresholds", thr);
        if (o->top_k) json_object_set_new(j, "top_k", json_integer(o->top_k));
        if (o->has_class_id) json_object_set_new(j, "class_id", json_integer(o->class_id));
        break;
    case K_AUC:
        if (o->num_thresholds)
            json_object_set_new(j, "num_thresholds", json_integer(o->num_thresholds));
        if (o->curve) json_object_set_new(j, "curve", json_string(o->curve));
        if (o->summation_method)
            json_object_set_new(j, "summation_method", json_string(o->summation_method));
        if (thr) json_object_set(j, "thresholds", thr);
        if (o->multi_label) json_object_set_new(j, "multi_label", json_true());
        if (o->from_logits) json_object_set_new(j, "from_logits", json_true());
        break;
    case K_MEAN_IOU:
        if (o->num_classes) json_object_set_new(j, "num_classes", json_integer(o->num_classes));
        if (o->has_axis) json_object_set_new(j, "axis", json_integer(o->axis));
        break;
    default: break;
    }
    json_decref(thr);
    return j;
}

ct_metric *ct_metric_new(const char *name, const ct_metric_opts *opts) {
    if (!name) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_metric_new: NULL name");
        return NULL;
    }
    const metric_class *cls = find_class(name);
    const char *fn_name = NULL;
    if (!cls) {
        /* Any loss by its name: the mean of its per-sample values. */
        ct_loss *probe = ct_loss_new(name, NULL);
        if (!probe) {
            ct__error(CT_ERR_NOT_FOUND,
                      "ct_metric_new: unknown metric '%s' (expected a keras.metrics class or "
                      "name such as 'accuracy', 'mse', 'AUC', 'precision', or a loss name)",
                      name);
            return NULL;
        }
        ct_loss_free(probe);
        cls = &WRAPPER_LOSS;
        fn_name = name;
    }
    json_t *cfg = opts_config(cls, opts);
    if (!cfg) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_metric_new: out of host memory");
        return NULL;
    }
    ct_metric *m = metric_make(cls, cfg, fn_name, fn_name);
    json_decref(cfg);
    return m;
}

ct_metric *ct_metric_custom(const char *name, ct_loss_fn fn, void *ctx) {
    if (!fn) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_metric_custom: NULL function");
        return NULL;
    }
    ct_metric *m = metric_make(&WRAPPER_CUSTOM, NULL, NULL, name);
    if (m) {
        m->custom = fn;
        m->custom_ctx = ctx;
    }
    return m;
}

ct_metric *ct_metric_from_config(const char *json) {
    json_t *j = ct__json_parse(json, "ct_metric_from_config");
    if (!j) return NULL;
    ct_metric *m = NULL;
    const json_t *cn = json_object_get(j, "class_name");
    const json_t *cfg = json_object_get(j, "config");
    if (!json_is_object(j) || !json_is_string(cn)) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_metric_from_config: expected {\"class_name\": ..., \"config\": {...}}");
    } else if (cfg && !json_is_null(cfg) && !json_is_object(cfg)) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_metric_from_config: %s: the config must be an object",
                  json_string_value(cn));
    } else {
        const char *name = json_string_value(cn);
        const metric_class *cls = NULL;
        if (!strcmp(name, "MeanMetricWrapper")) cls = &WRAPPER_LOSS;
        else
            for (int i = 0; i < NCLASSES && !cls; i++)
                if (!strcmp(CLASSES[i].class_name, name)) cls = &CLASSES[i];
        if (!cls)
            ct__error(CT_ERR_NOT_FOUND, "ct_metric_from_config: unknown metric class '%s'", name);
        else
            m = metric_make(cls, json_is_object(cfg) ? cfg : NULL, NULL, NULL);
    }
    json_decref(j);
    return m;
}

static json_t *doubles_json(const double *v, int n) {
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) json_array_append_new(a, json_real(v[i]));
    return a;
}

char *ct_metric_get_config(const ct_metric *m) {
    if (!m) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_metric_get_config: NULL metric");
        return NULL;
    }
    json_t *c = json_object();
    json_object_set_new(c, "name", json_string(m->name));
    json_object_set_new(c, "dtype", json_string("float32"));
    const metric_class *cls = m->cls;
    switch (cls->kind) {
    case K_WRAPPER:
        if (cls->fn == F_BINARY_ACCURACY)
            json_object_set_new(c, "threshold", json_real(m->threshold));
        if (cls->fn == F_TOP_K || cls->fn == F_SPARSE_TOP_K)
            json_object_set_new(c, "k", json_integer(m->k));
        if (cls->fn == F_COSINE) json_object_set_new(c, "axis", json_integer(m->axis));
        if (cls->fn == F_CUSTOM) json_object_set_new(c, "fn", json_string(m->name));
        if (cls->fn == F_LOSS) {
            if (cls == &WRAPPER_LOSS) {
                json_object_set_new(c, "fn", json_string(m->fn_name));
                if (m->from_logits) json_object_set_new(c, "from_logits", json_true());
                if (m->label_smoothing != 0)
                    json_object_set_new(c, "label_smoothing", json_real(m->label_smoothing));
                if (m->has_axis) json_object_set_new(c, "axis", json_integer(m->axis));
            } else if (cls->largs != LOSS_ARGS_NONE) {
                json_object_set_new(c, "from_logits", json_boolean(m->from_logits));
                if (cls->largs != LOSS_ARGS_SCCE)
                    json_object_set_new(c, "label_smoothing", json_real(m->label_smoothing));
                if (cls->largs != LOSS_ARGS_BCE)
                    json_object_set_new(c, "axis", json_integer(m->axis));
            }
        }
        break;
    case K_COUNT:
    case K_PRECISION:
    case K_RECALL:
        json_object_set_new(c, "thresholds",
                            !m->init_thr_given ? json_null()
                            : m->init_thr_scalar ? json_real(m->init_thr[0])
                                                 : doubles_json(m->init_thr, m->ninit_thr));
        if (cls->kind != K_COUNT) {
            json_object_set_new(c, "top_k", m->top_k ? json_integer(m->top_k) : json_null());
            json_object_set_new(c, "class_id",
                                m->has_class_id ? json_integer(m->class_id) : json_null());
        }
        break;
    case K_AUC:
        json_object_set_new(c, "num_thresholds", json_integer(m->nthr));
        json_object_set_new(c, "curve", json_string(m->curve_pr ? "PR" : "ROC"));
        json_object_set_new(c, "summation_method", json_string(SUMMATIONS[m->summation]));
        json_object_set_new(c, "multi_label", json_boolean(m->multi_label));
        json_object_set_new(c, "num_labels",
                            m->num_labels ? json_integer(m->num_labels) : json_null());
        json_object_set_new(c, "label_weights",
                            m->label_weights ? doubles_json(m->label_weights, m->nlabel_weights)
                                             : json_null());
        json_object_set_new(c, "from_logits", json_boolean(m->from_logits));
        if (m->init_thr_given)
            json_object_set_new(c, "thresholds", doubles_json(m->init_thr, m->ninit_thr));
        break;
    case K_MEAN_IOU:
        json_object_set_new(c, "num_classes", json_integer(m->num_classes));
        json_object_set_new(c, "ignore_class",
                            m->has_ignore_class ? json_integer(m->ignore_class) : json_null());
        json_object_set_new(c, "sparse_y_true", json_boolean(m->sparse_y_true));
        json_object_set_new(c, "sparse_y_pred", json_boolean(m->sparse_y_pred));
        json_object_set_new(c, "axis", json_integer(m->axis));
        break;
    default: break;
    }
    json_t *j = json_object();
    json_object_set_new(j, "class_name", json_string(cls->class_name));
    json_object_set_new(j, "config", c);
    char *s = ct__json_dump(j);
    json_decref(j);
    return s;
}

const char *ct_metric_name(const ct_metric *m) { return m ? m->name : NULL; }

void ct_metric_free(ct_metric *m) { metric_destroy(m); }

int ct_metric_num_variables(const ct_metric *m) { return m ? m->nvars : 0; }

ct_variable *ct_metric_variable(const ct_metric *m, int i) {
    if (!m || i < 0 || i >= m->nvars) {
        if (m)
            metric_error(m, CT_ERR_OUT_OF_RANGE, "variable %d of %d", i, m->nvars);
        else
            ct__error(CT_ERR_INVALID_ARGUMENT, "ct_metric_variable: NULL metric");
        return NULL;
    }
    return m->vars[i];
}

void ct_metric_reset(ct_metric *m) {
    if (!m) return;
    ct_scope_begin();
    for (int i = 0; i < m->nvars; i++)
        ct_variable_assign(m->vars[i], ct_zeros_like(ct_variable_value(m->vars[i])));
    ct_scope_end();
}

/* ---- update ------------------------------------------------------------------------------ */

static ct_tensor *label_weights_tensor(const ct_metric *m) {
    if (!m->label_weights) return NULL;
    return ct_cast(ct_constant(m->label_weights, CT_FLOAT64, CT_DIMS(m->nlabel_weights)),
                   CT_FLOAT32);
}

static ct_status auc_update(ct_metric *m, const ct_tensor *y_true, const ct_tensor *y_pred,
                            const ct_tensor *sw) {
    if (m->multi_label) {
        if (ct_tensor_rank(y_pred) != 2)
            return metric_error(m, CT_ERR_INVALID_ARGUMENT,
                                "y_pred must have rank 2 when multi_label is true, got %s",
                                CT__DESC(y_pred));
        int64_t labels = ct_tensor_dim(y_pred, 1);
        if (!m->built) {
            if (m->label_weights && m->nlabel_weights != labels)
                return metric_error(m, CT_ERR_INVALID_ARGUMENT,
                                    "label_weights has %d weights for %lld labels",
                                    m->nlabel_weights, (long long)labels);
            ct_status st = auc_build(m, labels);
            if (st) return st;
        } else if (labels != m->built_labels) {
            return metric_error(m, CT_ERR_INVALID_ARGUMENT,
                                "y_pred %s has %lld labels, the metric was built for %lld",
                                CT__DESC(y_pred), (long long)labels, (long long)m->built_labels);
        }
    }
    ct_tensor *p = as_f32(y_pred);
    if (m->from_logits) p = ct_sigmoid(p);
    if (!p) return op_failed(m, "update");
    ct_tensor *lw = m->multi_label ? NULL : label_weights_tensor(m);
    return confusion_update(m, C_TP | C_FP | C_TN | C_FN, m->vars[0], m->vars[1], m->vars[2],
                            m->vars[3], y_true, p, sw, lw);
}

/* confusion_matrix of iou_metrics: labels along rows, predictions along
 * columns, weighted. */
static ct_status iou_update(ct_metric *m, const ct_tensor *y_true, const ct_tensor *y_pred,
                            const ct_tensor *sw) {
    int ax = (int)m->axis;
    ct_tensor *t = m->sparse_y_true ? (ct_tensor *)y_true : ct_argmax(y_true, ax);
    ct_tensor *p = m->sparse_y_pred ? (ct_tensor *)y_pred : ct_argmax(y_pred, ax);
    t = flatten(as_f32(t));
    p = flatten(as_f32(p));
    if (!t || !p) return op_failed(m, "update");
    if (ct_tensor_dim(t, 0) != ct_tensor_dim(p, 0))
        return metric_error(m, CT_ERR_INVALID_ARGUMENT,
                            "y_true %s and y_pred %s hold different numbers of labels",
                            CT__DESC(y_true), CT__DESC(y_pred));
    ct_tensor *w = sw ? as_f32(sw) : ct_scalar(1);
    if (w && ct_tensor_rank(w) > 1) w = flatten(w);
    ct_tensor *wb = ct_broadcast_to(w, ct_tensor_rank(t), ct_tensor_shape(t));
    if (!wb)
        return metric_error(m, CT_ERR_INVALID_ARGUMENT,
                            "sample_weight %s does not broadcast to the %lld labels",
                            CT__DESC(sw), (long long)ct_tensor_dim(t, 0));
    if (m->has_ignore_class) {
        ct_tensor *valid = ct_cast(ct_not_equal(t, ct_scalar((double)m->ignore_class)),
                                   CT_FLOAT32);
        t = ct_multiply(t, valid);
        p = ct_multiply(p, valid);
        wb = ct_multiply(wb, valid);
    }
    ct_tensor *ti = ct_cast(t, CT_INT64), *pi = ct_cast(p, CT_INT64);
    if (!ti || !pi || !wb) return op_failed(m, "update");
    /* A label outside [0, num_classes) fails in the scatter, as Keras's. */
    ct_tensor *idx = ct_stack(2, (ct_tensor *[]){ti, pi}, 1);
    ct_tensor *cm = ct_scatter_nd(idx, wb, CT_DIMS(m->num_classes, m->num_classes));
    if (!cm || ct_variable_assign_add(m->vars[0], cm)) return op_failed(m, "update");
    return CT_OK;
}

static ct_status update_body(ct_metric *m, const ct_tensor *y_true, const ct_tensor *y_pred,
                             const ct_tensor *sw) {
    switch (m->cls->kind) {
    case K_MEAN: return mean_update(m, y_pred, sw);
    case K_SUM: return sum_update(m, y_pred, sw);
    case K_WRAPPER: {
        ct_tensor *v = wrapper_values(m, y_true, y_pred);
        if (!v) return op_failed(m, "update");
        return mean_update(m, v, sw);
    }
    case K_RMSE: {
        ct_tensor *t = as_f32(y_true), *p = as_f32(y_pred);
        same_rank(&t, &p, true);
        ct_tensor *e = ct_square(ct_subtract(p, t));
        if (!e) return op_failed(m, "update");
        return mean_update(m, e, sw);
    }
    case K_COUNT: {
        int cell = m->cls->cells;
        ct_variable *v = m->vars[0];
        return confusion_update(m, cell, cell == C_TP ? v : NULL, cell == C_FP ? v : NULL,
                                cell == C_TN ? v : NULL, cell == C_FN ? v : NULL, y_true, y_pred,
                                sw, NULL);
    }
    case K_PRECISION:
        return confusion_update(m, C_TP | C_FP, m->vars[0], m->vars[1], NULL, NULL, y_true,
                                y_pred, sw, NULL);
    case K_RECALL:
        return confusion_update(m, C_TP | C_FN, m->vars[0], NULL, NULL, m->vars[1], y_true,
                                y_pred, sw, NULL);
    case K_AUC: return auc_update(m, y_true, y_pred, sw);
    case K_MEAN_IOU: return iou_update(m, y_true, y_pred, sw);
    }
    return CT_OK;
}

ct_status ct_metric_update(ct_metric *m, const ct_tensor *y_true, const ct_tensor *y_pred,
                           const ct_tensor *sample_weight) {
    if (!m) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_metric_update: NULL metric");
    bool values_only = m->cls->kind == K_MEAN || m->cls->kind == K_SUM;
    if (values_only && !y_pred) y_pred = y_true; /* Mean(values): either slot */
    if (!y_pred || (!values_only && !y_true)) {
        if (ct_last_status()) return op_failed(m, "update (an input is NULL)");
        return metric_error(m, CT_ERR_INVALID_ARGUMENT, "update: %s is NULL",
                            !y_pred ? "y_pred" : "y_true");
    }
    if (m->cls->fn == F_LOSS && !m->loss)
        return metric_error(m, CT_ERR_UNIMPLEMENTED, "update: no loss function");
    /* Constants go where the inputs are. */
    ct_device_scope_begin(ct_tensor_device(y_pred));
    ct_scope_begin();
    ct_status st = update_body(m, y_true, y_pred, sample_weight);
    ct_scope_end();
    ct_device_scope_end();
    return st;
}

/* ---- result ------------------------------------------------------------------------------ */

static ct_tensor *first_or_all(ct_tensor *v, int n) {
    return n == 1 ? ct_reshape(v, CT_SCALAR) : v;
}

/* AUC.interpolate_pr_auc (Davis & Goadrich interpolation). */
static ct_tensor *interpolate_pr_auc(const ct_metric *m, ct_tensor *tp, ct_tensor *fp,
                                     ct_tensor *fn) {
    int64_t nt = m->nthr;
    ct_tensor *dtp = ct_subtract(head(tp, nt - 1), tail(tp));
    ct_tensor *p = ct_add(tp, fp);
    ct_tensor *p0 = head(p, nt - 1), *p1 = tail(p);
    ct_tensor *dp = ct_subtract(p0, p1);
    ct_tensor *slope = divide_no_nan(dtp, ct_maximum(dp, ct_scalar(0)));
    ct_tensor *intercept = ct_subtract(tail(tp), ct_multiply(slope, p1));
    ct_tensor *both = ct_logical_and(ct_greater(p0, ct_scalar(0)), ct_greater(p1, ct_scalar(0)));
    ct_tensor *ratio = ct_where(both, divide_no_nan(p0, ct_maximum(p1, ct_scalar(0))),
                                ct_ones_like(p1));
    ct_tensor *inc = divide_no_nan(
        ct_multiply(slope, ct_add(dtp, ct_multiply(intercept, ct_log(ratio)))),
        ct_maximum(ct_add(tail(tp), tail(fn)), ct_scalar(0)));
    return inc;
}

static ct_tensor *auc_result(const ct_metric *m) {
    if (!m->built) return ct_scalar(0); /* multi_label before any update */
    ct_tensor *tp = ct_variable_value(m->vars[0]), *fp = ct_variable_value(m->vars[1]);
    ct_tensor *tn = ct_variable_value(m->vars[2]), *fn = ct_variable_value(m->vars[3]);
    int64_t nt = m->nthr;
    ct_tensor *terms;
    if (m->curve_pr && m->summation == 0) {
        terms = interpolate_pr_auc(m, tp, fp, fn);
    } else {
        ct_tensor *recall = divide_no_nan(tp, ct_add(tp, fn));
        ct_tensor *x, *y;
        if (!m->curve_pr) {
            x = divide_no_nan(fp, ct_add(fp, tn));
            y = recall;
        } else {
            x = recall;
            y = divide_no_nan(tp, ct_add(tp, fp));
        }
        ct_tensor *y0 = head(y, nt - 1), *y1 = tail(y), *heights;
        if (m->summation == 0) heights = ct_divide(ct_add(y0, y1), ct_scalar(2));
        else if (m->summation == 1) heights = ct_minimum(y0, y1);
        else heights = ct_maximum(y0, y1);
        terms = ct_multiply(ct_subtract(head(x, nt - 1), tail(x)), heights);
    }
    if (!m->multi_label) return ct_reduce_sum(terms, CT_ALL, false);
    ct_tensor *by_label = ct_reduce_sum(terms, CT_AXES(0), false);
    if (!m->label_weights) return ct_reduce_mean(by_label, CT_ALL, false);
    ct_tensor *lw = label_weights_tensor(m);
    return divide_no_nan(ct_reduce_sum(ct_multiply(by_label, lw), CT_ALL, false),
                         ct_reduce_sum(lw, CT_ALL, false));
}

/* IoU.result over every class (MeanIoU's target_class_ids). */
static ct_tensor *iou_result(const ct_metric *m) {
    ct_tensor *cm = ct_variable_value(m->vars[0]);
    ct_tensor *rows = ct_reduce_sum(cm, CT_AXES(0), false);
    ct_tensor *cols = ct_reduce_sum(cm, CT_AXES(1), false);
    ct_tensor *tp = ct_matrix_diag_part(cm);
    ct_tensor *den = ct_subtract(ct_add(rows, cols), tp);
    ct_tensor *valid = ct_reduce_sum(ct_cast(ct_greater(den, ct_scalar(1e-9)), CT_FLOAT32),
                                     CT_ALL, false);
    ct_tensor *iou = ct_divide(tp, ct_add(den, ct_scalar(EPSILON)));
    return ct_divide(ct_reduce_sum(iou, CT_ALL, false), ct_add(valid, ct_scalar(EPSILON)));
}

static ct_tensor *result_body(const ct_metric *m) {
    ct_tensor *v0 = m->nvars > 0 ? ct_variable_value(m->vars[0]) : NULL;
    ct_tensor *v1 = m->nvars > 1 ? ct_variable_value(m->vars[1]) : NULL;
    switch (m->cls->kind) {
    case K_MEAN:
    case K_WRAPPER: return divide_no_nan(v0, v1);
    case K_RMSE: return ct_sqrt(divide_no_nan(v0, v1));
    case K_SUM: return ct_identity(v0);
    case K_COUNT: return first_or_all(ct_identity(v0), m->nthr);
    case K_PRECISION:
    case K_RECALL: return first_or_all(divide_no_nan(v0, ct_add(v0, v1)), m->nthr);
    case K_AUC: return auc_result(m);
    case K_MEAN_IOU: return iou_result(m);
    }
    return NULL;
}

ct_tensor *ct_metric_result(ct_metric *m) {
    if (!m) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_metric_result: NULL metric");
        return NULL;
    }
    bool dev = m->nvars > 0;
    if (dev) ct_device_scope_begin(ct_tensor_device(ct_variable_value(m->vars[0])));
    ct_scope_begin();
    ct_tensor *r = result_body(m);
    if (!r) op_failed(m, "result");
    ct_keep(r);
    ct_scope_end();
    if (dev) ct_device_scope_end();
    return r;
}
