/*
 * keras.losses: the loss functions and classes with Keras 3's numbers
 * (keras/src/losses/losses.py, loss.py and the backend's cross-entropies),
 * their names, aliases, argument names, defaults and configs.
 *
 * A loss is one struct for every kind: a kind tag selects the per-sample
 * function, and the fields hold the arguments the kind's Keras class takes.
 * Calls build on the public ops, so gradients come from the tape and the
 * same code runs on every device and inside traced functions.
 *
 * Where Keras 3 and Keras 2 differ, Keras 3 is followed:
 * - cross-entropies on probabilities clip them to [1e-7, 1 - 1e-7] and take
 *   log(p) (Keras 2 added epsilon inside the log in places);
 * - sum_over_batch_size divides the weighted sum by the number of elements of
 *   the per-sample values (loss.reduce_values), and a sparse ignore_class
 *   mask excludes the ignored entries from that count (loss.apply_mask);
 * - sample_weight is multiplied in after squeezing or expanding one trailing
 *   dimension of 1 (squeeze_or_expand_to_same_rank), then broadcast.
 * One deliberate difference: Keras 3 converts y_pred to the loss's dtype
 * (floatx, float32) before the call; ctrain computes in y_pred's own float
 * dtype (an integer y_pred becomes float32), so float64 stays float64.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"

/* keras.backend.epsilon(). */
#define EPSILON 1e-7

typedef enum {
    K_MSE,
    K_MAE,
    K_MAPE,
    K_MSLE,
    K_HUBER,
    K_LOGCOSH,
    K_BCE,
    K_CCE,
    K_SCCE,
    K_BFCE,
    K_CFCE,
    K_HINGE,
    K_SQHINGE,
    K_CHINGE,
    K_KLD,
    K_POISSON,
    K_COSINE,
    K_CUSTOM,
} loss_kind;

/* The arguments a kind's Keras class takes besides name and reduction. */
enum {
    A_FROM_LOGITS = 1 << 0,
    A_LABEL_SMOOTHING = 1 << 1,
    A_AXIS = 1 << 2,
    A_DELTA = 1 << 3,
    A_IGNORE_CLASS = 1 << 4,
    A_BALANCING = 1 << 5,
    A_ALPHA = 1 << 6,
    A_GAMMA = 1 << 7,
};

typedef struct kind_info {
    const char *cls;       /* the Keras class                               */
    const char *fn;        /* the function's name (the name a string gives) */
    const char *cls_name;  /* the class's default name                      */
    unsigned args;
} kind_info;

static const kind_info KINDS[] = {
    [K_MSE] = {"MeanSquaredError", "mean_squared_error", "mean_squared_error", 0},
    [K_MAE] = {"MeanAbsoluteError", "mean_absolute_error", "mean_absolute_error", 0},
    [K_MAPE] = {"MeanAbsolutePercentageError", "mean_absolute_percentage_error",
                "mean_absolute_percentage_error", 0},
    [K_MSLE] = {"MeanSquaredLogarithmicError", "mean_squared_logarithmic_error",
                "mean_squared_logarithmic_error", 0},
    [K_HUBER] = {"Huber", "huber", "huber_loss", A_DELTA},
    [K_LOGCOSH] = {"LogCosh", "log_cosh", "log_cosh", 0},
    [K_BCE] = {"BinaryCrossentropy", "binary_crossentropy", "binary_crossentropy",
               A_FROM_LOGITS | A_LABEL_SMOOTHING | A_AXIS},
    [K_CCE] = {"CategoricalCrossentropy", "categorical_crossentropy",
               "categorical_crossentropy", A_FROM_LOGITS | A_LABEL_SMOOTHING | A_AXIS},
    [K_SCCE] = {"SparseCategoricalCrossentropy", "sparse_categorical_crossentropy",
                "sparse_categorical_crossentropy", A_FROM_LOGITS | A_IGNORE_CLASS},
    [K_BFCE] = {"BinaryFocalCrossentropy", "binary_focal_crossentropy",
                "binary_focal_crossentropy",
                A_FROM_LOGITS | A_LABEL_SMOOTHING | A_AXIS | A_BALANCING | A_ALPHA | A_GAMMA},
    [K_CFCE] = {"CategoricalFocalCrossentropy", "categorical_focal_crossentropy",
                "categorical_focal_crossentropy",
                A_FROM_LOGITS | A_LABEL_SMOOTHING | A_AXIS | A_ALPHA | A_GAMMA},
    [K_HINGE] = {"Hinge", "hinge", "hinge", 0},
    [K_SQHINGE] = {"SquaredHinge", "squared_hinge", "squared_hinge", 0},
    [K_CHINGE] = {"CategoricalHinge", "categorical_hinge", "categorical_hinge", 0},
    [K_KLD] = {"KLDivergence", "kl_divergence", "kl_divergence", 0},
    [K_POISSON] = {"Poisson", "poisson", "poisson", 0},
    [K_COSINE] = {"CosineSimilarity", "cosine_similarity", "cosine_similarity", A_AXIS},
    [K_CUSTOM] = {"LossFunctionWrapper", NULL, "loss_function_wrapper", 0},
};

/* Every string Keras's keras.losses.get accepts (classes, functions and
 * the aliases of ALL_OBJECTS_DICT), plus the Keras 2 names logcosh and
 * kullback_leibler_divergence. */
static const struct {
    const char *name;
    loss_kind kind;
    bool is_class;
} NAMES[] = {
    {"MeanSquaredError", K_MSE, true},
    {"MeanAbsoluteError", K_MAE, true},
    {"MeanAbsolutePercentageError", K_MAPE, true},
    {"MeanSquaredLogarithmicError", K_MSLE, true},
    {"Huber", K_HUBER, true},
    {"LogCosh", K_LOGCOSH, true},
    {"BinaryCrossentropy", K_BCE, true},
    {"CategoricalCrossentropy", K_CCE, true},
    {"SparseCategoricalCrossentropy", K_SCCE, true},
    {"BinaryFocalCrossentropy", K_BFCE, true},
    {"CategoricalFocalCrossentropy", K_CFCE, true},
    {"Hinge", K_HINGE, true},
    {"SquaredHinge", K_SQHINGE, true},
    {"CategoricalHinge", K_CHINGE, true},
    {"KLDivergence", K_KLD, true},
    {"Poisson", K_POISSON, true},
    {"CosineSimilarity", K_COSINE, true},
    {"mean_squared_error", K_MSE, false},
    {"mse", K_MSE, false},
    {"MSE", K_MSE, false},
    {"mean_absolute_error", K_MAE, false},
    {"mae", K_MAE, false},
    {"MAE", K_MAE, false},
    {"mean_absolute_percentage_error", K_MAPE, false},
    {"mape", K_MAPE, false},
    {"MAPE", K_MAPE, false},
    {"mean_squared_logarithmic_error", K_MSLE, false},
    {"msle", K_MSLE, false},
    {"MSLE", K_MSLE, false},
    {"huber", K_HUBER, false},
    {"log_cosh", K_LOGCOSH, false},
    {"logcosh", K_LOGCOSH, false},
    {"binary_crossentropy", K_BCE, false},
    {"bce", K_BCE, false},
    {"BCE", K_BCE, false},
    {"categorical_crossentropy", K_CCE, false},
    {"sparse_categorical_crossentropy", K_SCCE, false},
    {"binary_focal_crossentropy", K_BFCE, false},
    {"categorical_focal_crossentropy", K_CFCE, false},
    {"hinge", K_HINGE, false},
    {"squared_hinge", K_SQHINGE, false},
    {"categorical_hinge", K_CHINGE, false},
    {"kl_divergence", K_KLD, false},
    {"kld", K_KLD, false},
    {"KLD", K_KLD, false},
    {"kullback_leibler_divergence", K_KLD, false},
    {"poisson", K_POISSON, false},
    {"cosine_similarity", K_COSINE, false},
};
#define NUM_NAMES (int)(sizeof NAMES / sizeof NAMES[0])

/* Reductions: the three of ct_reduction plus Keras 3's
 * "mean_with_sample_weight", which divides by the sum of the weights. */
typedef enum { R_SUM_OVER_BATCH_SIZE, R_SUM, R_NONE, R_MEAN_WITH_SAMPLE_WEIGHT } red_mode;

/* The strings a config may hold, with what each does. "auto" is Keras 2's
 * default (sum over batch size outside a distribution strategy); "mean" is
 * Keras 3's synonym of sum_over_batch_size. */
static const char *const RED_NAMES[] = {"sum_over_batch_size", "sum", "none", "mean",
                                        "mean_with_sample_weight", "auto", NULL};
static const red_mode RED_MODES[] = {R_SUM_OVER_BATCH_SIZE, R_SUM, R_NONE, R_SUM_OVER_BATCH_SIZE,
                                     R_MEAN_WITH_SAMPLE_WEIGHT, R_SUM_OVER_BATCH_SIZE};

struct ct_loss {
    loss_kind kind;
    char *name;                 /* the instance's name                          */
    red_mode reduction;
    const char *red_str;        /* written back to configs; NULL writes null    */
    bool from_logits;
    double label_smoothing;
    int axis;                   /* -1 unless given                              */
    double delta;               /* Huber                                        */
    bool has_ignore_class;      /* SparseCategoricalCrossentropy                */
    int64_t ignore_class;
    bool apply_class_balancing; /* BinaryFocalCrossentropy                      */
    double alpha, gamma;        /* focal losses                                 */
    ct_loss_fn fn;              /* custom                                       */
    void *ctx;
};

/* ---- errors ------------------------------------------------------------------ */

static ct_status loss_error(const ct_loss *l, ct_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "<Class> '<name>': <message>". */
static ct_status loss_error(const ct_loss *l, ct_status code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ct__error(code, "%s '%s': %s", KINDS[l->kind].cls, l->name, msg);
}

#define SHAPE(t) ct_shape_str(ct_tensor_rank(t), ct_tensor_shape(t), (char[128]){0}, 128)

/* ---- construction --------------------------------------------------------------- */

static int find_name(const char *name) {
    for (int i = 0; i < NUM_NAMES; i++)
        if (!strcmp(NAMES[i].name, name)) return i;
    return -1;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* A loss of kind with Keras's defaults and the given name (copied). */
static ct_loss *loss_alloc(loss_kind kind, const char *name) {
    ct_loss *l = calloc(1, sizeof *l);
    char *n = dup_str(name);
    if (!l || !n) {
        free(l);
        free(n);
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_loss_new: out of memory");
        return NULL;
    }
    l->kind = kind;
    l->name = n;
    l->reduction = R_SUM_OVER_BATCH_SIZE;
    l->red_str = RED_NAMES[0];
    l->axis = -1;
    l->delta = 1.0;
    l->alpha = 0.25;
    l->gamma = 2.0;
    return l;
}

void ct_loss_free(ct_loss *l) {
    if (!l) return;
    free(l->name);
    free(l);
}

/* Applies the nonzero fields of opts, refusing those the kind's class does
 * not take (as Keras's constructors refuse unexpected keyword arguments). */
static ct_status apply_opts(ct_loss *l, const ct_loss_opts *o) {
    if (!o) return CT_OK;
    unsigned args = KINDS[l->kind].args;
    static const struct {
        unsigned bit;
        const char *key;
    } ARGS[] = {{A_FROM_LOGITS, "from_logits"}, {A_LABEL_SMOOTHING, "label_smoothing"},
                {A_AXIS, "axis"},               {A_DELTA, "delta"},
                {A_IGNORE_CLASS, "ignore_class"}, {A_BALANCING, "apply_class_balancing"},
                {A_ALPHA, "alpha"},             {A_GAMMA, "gamma"}};
    const bool given[] = {o->from_logits,       o->label_smoothing != 0, o->has_axis,
                          o->delta != 0,        o->has_ignore_class,     o->apply_class_balancing,
                          o->alpha != 0,        o->gamma != 0};
    for (int i = 0; i < (int)(sizeof ARGS / sizeof ARGS[0]); i++)
        if (given[i] && !(args & ARGS[i].bit))
            return loss_error(l, CT_ERR_INVALID_ARGUMENT, "argument '%s' does not apply to %s",
                              ARGS[i].key, KINDS[l->kind].cls);
    switch (o->reduction) {
    case CT_REDUCTION_DEFAULT:
    case CT_REDUCTION_SUM_OVER_BATCH_SIZE:
        l->reduction = R_SUM_OVER_BATCH_SIZE;
        l->red_str = "sum_over_batch_size";
        break;
    case CT_REDUCTION_SUM:
        l->reduction = R_SUM;
        l->red_str = "sum";
        break;
    case CT_REDUCTION_NONE:
        l->reduction = R_NONE;
        l->red_str = "none";
        break;
    default:
        return loss_error(l, CT_ERR_INVALID_ARGUMENT, "argument 'reduction': unknown value %d",
                          (int)o->reduction);
    }
    l->from_logits = o->from_logits;
    l->label_smoothing = o->label_smoothing;
    if (o->has_axis) l->axis = o->axis;
    if (o->delta != 0) l->delta = o->delta;
    l->has_ignore_class = o->has_ignore_class;
    l->ignore_class = o->ignore_class;
    l->apply_class_balancing = o->apply_class_balancing;
    if (o->alpha != 0) l->alpha = o->alpha;
    if (o->gamma != 0) l->gamma = o->gamma;
    return CT_OK;
}

ct_loss *ct_loss_new(const char *name, const ct_loss_opts *opts) {
    if (!name) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_loss_new: the name is NULL");
        return NULL;
    }
    int i = find_name(name);
    if (i < 0) {
        ct__error(CT_ERR_NOT_FOUND, "ct_loss_new: unknown loss '%s'", name);
        return NULL;
    }
    loss_kind k = NAMES[i].kind;
    const char *dflt = NAMES[i].is_class ? KINDS[k].cls_name : KINDS[k].fn;
    ct_loss *l = loss_alloc(k, opts && opts->name ? opts->name : dflt);
    if (!l) return NULL;
    if (apply_opts(l, opts) != CT_OK) {
        ct_loss_free(l);
        return NULL;
    }
    return l;
}

ct_loss *ct_loss_custom(const char *name, ct_loss_fn fn, void *ctx, const ct_loss_opts *opts) {
    if (!fn) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_loss_custom: the loss function is NULL");
        return NULL;
    }
    /* Keras's LossFunctionWrapper(fn, name=None) names itself after its class. */
    const char *n = name ? name : opts && opts->name ? opts->name : KINDS[K_CUSTOM].cls_name;
    ct_loss *l = loss_alloc(K_CUSTOM, n);
    if (!l) return NULL;
    l->fn = fn;
    l->ctx = ctx;
    if (apply_opts(l, opts) != CT_OK) {
        ct_loss_free(l);
        return NULL;
    }
    return l;
}

const char *ct_loss_name(const ct_loss *l) { return l ? l->name : NULL; }

/* ---- shapes -------------------------------------------------------------------- */

/* Keras's squeeze_or_expand_to_same_rank: when the ranks differ by one and
 * the longer has a trailing 1, squeeze it, or (expand_rank_1, the other of
 * rank 1) give the other a trailing 1. */
static void squeeze_or_expand(ct_tensor **x1, ct_tensor **x2, bool expand_rank_1) {
    int r1 = ct_tensor_rank(*x1), r2 = ct_tensor_rank(*x2);
    if (r1 == r2) return;
    if (r1 == r2 + 1 && ct_tensor_dim(*x1, -1) == 1) {
        if (r2 == 1 && expand_rank_1) *x2 = ct_expand_dims(*x2, -1);
        else *x1 = ct_squeeze(*x1, CT_AXES(-1));
    }
    if (r2 == r1 + 1 && ct_tensor_dim(*x2, -1) == 1) {
        if (r1 == 1 && expand_rank_1) *x1 = ct_expand_dims(*x1, -1);
        else *x2 = ct_squeeze(*x2, CT_AXES(-1));
    }
}

static bool broadcastable(const ct_tensor *a, const ct_tensor *b) {
    int ra = ct_tensor_rank(a), rb = ct_tensor_rank(b);
    for (int i = 1; i <= ra && i <= rb; i++) {
        int64_t da = ct_tensor_dim(a, -i), db = ct_tensor_dim(b, -i);
        if (da != db && da != 1 && db != 1) return false;
    }
    return true;
}

static bool same_shape(const ct_tensor *a, const ct_tensor *b) {
    int r = ct_tensor_rank(a);
    if (r != ct_tensor_rank(b)) return false;
    for (int i = 0; i < r; i++)
        if (ct_tensor_dim(a, i) != ct_tensor_dim(b, i)) return false;
    return true;
}

/* axis normalised against rank, or -1 with an error. */
static int norm_axis(const ct_loss *l, int axis, int rank) {
    if (axis < -rank || axis >= rank) {
        loss_error(l, CT_ERR_INVALID_ARGUMENT,
                   "argument 'axis' is %d, outside [%d, %d) for y_pred of rank %d", axis, -rank,
                   rank, rank);
        return -1;
    }
    return axis < 0 ? axis + rank : axis;
}

/* ---- the per-sample functions ----------------------------------------------------- */

static ct_tensor *sc(ct_dtype dt, double v) { return ct_scalar_of(dt, v); }

static ct_tensor *mean_last(ct_tensor *t) { return ct_reduce_mean(t, CT_AXES(-1), false); }

/* Keras's convert_binary_labels_to_hinge: 0/1 labels (all of them) become
 * -1/1, anything else passes unchanged. */
static ct_tensor *hinge_labels(ct_tensor *y) {
    ct_dtype dt = ct_tensor_dtype(y);
    ct_tensor *binary = ct_reduce_all(
        ct_logical_or(ct_equal(y, sc(dt, 0)), ct_equal(y, sc(dt, 1))), CT_ALL, false);
    return ct_where(binary, ct_subtract(ct_multiply(sc(dt, 2), y), sc(dt, 1)), y);
}

/* keras.ops.nn.normalize(x, axis, order=2): x * min(rsqrt(sum(x^2)), 1/eps). */
static ct_tensor *l2_normalize(ct_tensor *x, int axis) {
    ct_dtype dt = ct_tensor_dtype(x);
    ct_tensor *inv = ct_rsqrt(ct_reduce_sum(ct_square(x), CT_AXES(axis), true));
    return ct_multiply(x, ct_minimum(inv, sc(dt, 1.0 / EPSILON)));
}

/* The backend's binary_crossentropy, elementwise: with logits TF's
 * sigmoid_cross_entropy_with_logits max(x, 0) - x z + log1p(exp(-|x|));
 * else -(z log(p) + (1 - z) log(1 - p)) on p clipped to [eps, 1 - eps]. */
static ct_tensor *bce_elems(ct_tensor *z, ct_tensor *p, bool from_logits) {
    ct_dtype dt = ct_tensor_dtype(p);
    if (from_logits)
        return ct_add(ct_subtract(ct_relu(p), ct_multiply(p, z)),
                      ct_log1p(ct_exp(ct_negative(ct_abs(p)))));
    p = ct_clip_by_value(p, EPSILON, 1.0 - EPSILON);
    ct_tensor *one = sc(dt, 1);
    ct_tensor *b = ct_add(ct_multiply(z, ct_log(p)),
                          ct_multiply(ct_subtract(one, z), ct_log(ct_subtract(one, p))));
    return ct_negative(b);
}

static ct_tensor *smooth_binary(const ct_loss *l, ct_tensor *y) {
    if (!l->label_smoothing) return y;
    ct_dtype dt = ct_tensor_dtype(y);
    return ct_add(ct_multiply(y, sc(dt, 1.0 - l->label_smoothing)),
                  sc(dt, 0.5 * l->label_smoothing));
}

/* Categorical smoothing uses the last axis's size whatever the axis, as
 * Keras does. */
static ct_tensor *smooth_categorical(const ct_loss *l, ct_tensor *y) {
    if (!l->label_smoothing) return y;
    ct_dtype dt = ct_tensor_dtype(y);
    double k = (double)ct_tensor_dim(y, -1);
    return ct_add(ct_multiply(y, sc(dt, 1.0 - l->label_smoothing)),
                  sc(dt, l->label_smoothing / k));
}

static ct_status need_same_shape(const ct_loss *l, const ct_tensor *yt, const ct_tensor *yp) {
    if (same_shape(yt, yp)) return CT_OK;
    return loss_error(l, CT_ERR_INVALID_ARGUMENT,
                      "y_true and y_pred must have the same shape, got y_true %s and y_pred %s",
                      SHAPE(yt), SHAPE(yp));
}

static ct_tensor *cce_values(const ct_loss *l, ct_tensor *yt, ct_tensor *yp) {
    if (need_same_shape(l, yt, yp)) return NULL;
    int axis = norm_axis(l, l->axis, ct_tensor_rank(yp));
    if (axis < 0) return NULL;
    yt = smooth_categorical(l, yt);
    if (l->from_logits) /* TF's softmax_cross_entropy_with_logits */
        return ct_negative(
            ct_reduce_sum(ct_multiply(yt, ct_log_softmax(yp, axis)), CT_AXES(axis), false));
    ct_tensor *p = ct_divide(yp, ct_reduce_sum(yp, CT_AXES(axis), true));
    p = ct_clip_by_value(p, EPSILON, 1.0 - EPSILON);
    return ct_negative(ct_reduce_sum(ct_multiply(yt, ct_log(p)), CT_AXES(axis), false));
}

static ct_tensor *cfce_values(const ct_loss *l, ct_tensor *yt, ct_tensor *yp) {
    if (need_same_shape(l, yt, yp)) return NULL;
    int axis = norm_axis(l, l->axis, ct_tensor_rank(yp));
    if (axis < 0) return NULL;
    ct_dtype dt = ct_tensor_dtype(yp);
    yt = smooth_categorical(l, yt);
    if (l->from_logits) yp = ct_softmax(yp, axis);
    ct_tensor *p = ct_divide(yp, ct_reduce_sum(yp, CT_AXES(axis), true));
    p = ct_clip_by_value(p, EPSILON, 1.0 - EPSILON);
    ct_tensor *cce = ct_negative(ct_multiply(yt, ct_log(p)));
    ct_tensor *w = ct_multiply(ct_pow(ct_subtract(sc(dt, 1), p), sc(dt, l->gamma)),
                               sc(dt, l->alpha));
    return ct_reduce_sum(ct_multiply(w, cce), CT_AXES(axis), false);
}

static ct_tensor *bce_values(const ct_loss *l, ct_tensor *yt, ct_tensor *yp) {
    if (need_same_shape(l, yt, yp)) return NULL;
    int axis = norm_axis(l, l->axis, ct_tensor_rank(yp));
    if (axis < 0) return NULL;
    yt = smooth_binary(l, yt);
    return ct_reduce_mean(bce_elems(yt, yp, l->from_logits), CT_AXES(axis), false);
}

static ct_tensor *bfce_values(const ct_loss *l, ct_tensor *yt, ct_tensor *yp) {
    if (need_same_shape(l, yt, yp)) return NULL;
    int axis = norm_axis(l, l->axis, ct_tensor_rank(yp));
    if (axis < 0) return NULL;
    ct_dtype dt = ct_tensor_dtype(yp);
    ct_tensor *one = sc(dt, 1);
    yt = smooth_binary(l, yt);
    if (l->from_logits) yp = ct_sigmoid(yp);
    ct_tensor *bce = bce_elems(yt, yp, false);
    /* p_t from the unclipped probabilities, as Keras. */
    ct_tensor *p_t = ct_add(ct_multiply(yt, yp),
                            ct_multiply(ct_subtract(one, yt), ct_subtract(one, yp)));
    ct_tensor *focal = ct_multiply(ct_pow(ct_subtract(one, p_t), sc(dt, l->gamma)), bce);
    if (l->apply_class_balancing) {
        ct_tensor *w = ct_add(ct_multiply(yt, sc(dt, l->alpha)),
                              ct_multiply(ct_subtract(one, yt), sc(dt, 1.0 - l->alpha)));
        focal = ct_multiply(w, focal);
    }
    return ct_reduce_mean(focal, CT_AXES(axis), false);
}

/* Sparse categorical cross-entropy. labels are int64. Keras's backend takes
 * log(clip(p)) as logits when y_pred holds probabilities, so both paths end
 * in TF's sparse_softmax_cross_entropy_with_logits: -log_softmax[label]. An
 * out-of-range label is an error (from the gather, as TF on the CPU). */
static ct_tensor *scce_values(const ct_loss *l, ct_tensor *labels, ct_tensor *yp,
                              ct_tensor **mask) {
    int rp = ct_tensor_rank(yp);
    if (rp < 1)
        return loss_error(l, CT_ERR_INVALID_ARGUMENT, "y_pred must have rank >= 1, got shape %s",
                          SHAPE(yp)),
               NULL;
    if (l->axis != -1 && l->axis != rp - 1)
        return loss_error(l, CT_ERR_INVALID_ARGUMENT,
                          "only axis=-1 is supported, got axis=%d", l->axis),
               NULL;
    if (ct_tensor_rank(labels) == rp && ct_tensor_dim(labels, -1) == 1)
        labels = ct_squeeze(labels, CT_AXES(-1));
    bool ok = ct_tensor_rank(labels) == rp - 1;
    for (int i = 0; ok && i < rp - 1; i++) ok = ct_tensor_dim(labels, i) == ct_tensor_dim(yp, i);
    if (!ok)
        return loss_error(l, CT_ERR_INVALID_ARGUMENT,
                          "y_true must have y_pred's shape without its last dimension, got "
                          "y_true %s and y_pred %s",
                          SHAPE(labels), SHAPE(yp)),
               NULL;
    ct_dtype dt = ct_tensor_dtype(yp);
    ct_tensor *valid = NULL;
    if (l->has_ignore_class) {
        valid = ct_not_equal(labels, ct_scalar_of(CT_INT64, (double)l->ignore_class));
        labels = ct_multiply(labels, ct_cast(valid, CT_INT64));
        yp = ct_multiply(yp, ct_cast(ct_expand_dims(valid, -1), dt));
    }
    ct_tensor *logits = l->from_logits ? yp : ct_log(ct_clip_by_value(yp, EPSILON, 1.0 - EPSILON));
    int64_t c = ct_tensor_dim(yp, -1);
    ct_tensor *logp = ct_reshape(ct_log_softmax(logits, -1), CT_DIMS(-1, c));
    ct_tensor *flat = ct_reshape(labels, CT_DIMS(-1));
    ct_tensor *picked = ct_gather(logp, flat, 1, 1);
    if (!picked && logp && flat) {
        char why[256];
        snprintf(why, sizeof why, "%s", ct_last_error());
        return loss_error(l, CT_ERR_OUT_OF_RANGE, "a label is outside [0, %lld) (%s)",
                          (long long)c, why),
               NULL;
    }
    ct_tensor *res = ct_reshape(ct_negative(picked), rp - 1, ct_tensor_shape(yp));
    if (valid) {
        res = ct_where(valid, res, sc(dt, 0));
        *mask = valid;
    }
    return res;
}

/* The per-sample values of a built-in loss; y_true already in y_pred's dtype
 * (int64 for the sparse loss) and brought to y_pred's rank as Keras's
 * LossFunctionWrapper does. */
static ct_tensor *builtin_values(const ct_loss *l, ct_tensor *yt, ct_tensor *yp,
                                 ct_tensor **mask) {
    ct_dtype dt = ct_tensor_dtype(yp);
    ct_tensor *one = sc(dt, 1);
    switch (l->kind) {
    case K_SCCE:
        return scce_values(l, yt, yp, mask);
    case K_CCE:
        return cce_values(l, yt, yp);
    case K_CFCE:
        return cfce_values(l, yt, yp);
    case K_BCE:
        return bce_values(l, yt, yp);
    case K_BFCE:
        return bfce_values(l, yt, yp);
    default:
        break;
    }
    /* The rest combine y_true and y_pred elementwise (broadcasting, as
     * Keras) and then reduce the last axis. */
    if (!broadcastable(yt, yp))
        return loss_error(l, CT_ERR_INVALID_ARGUMENT,
                          "y_true %s and y_pred %s have incompatible shapes", SHAPE(yt),
                          SHAPE(yp)),
               NULL;
    if (ct_tensor_rank(yp) < 1 && ct_tensor_rank(yt) < 1)
        return loss_error(l, CT_ERR_INVALID_ARGUMENT,
                          "y_true and y_pred are scalars; the loss reduces their last axis"),
               NULL;
    switch (l->kind) {
    case K_MSE:
        return mean_last(ct_square(ct_subtract(yt, yp)));
    case K_MAE:
        return mean_last(ct_abs(ct_subtract(yt, yp)));
    case K_MAPE: {
        ct_tensor *d = ct_abs(
            ct_divide(ct_subtract(yt, yp), ct_maximum(ct_abs(yt), sc(dt, EPSILON))));
        return ct_multiply(sc(dt, 100), mean_last(d));
    }
    case K_MSLE: {
        ct_tensor *a = ct_log(ct_add(ct_maximum(yp, sc(dt, EPSILON)), one));
        ct_tensor *b = ct_log(ct_add(ct_maximum(yt, sc(dt, EPSILON)), one));
        return mean_last(ct_square(ct_subtract(a, b)));
    }
    case K_HUBER: {
        ct_tensor *e = ct_subtract(yp, yt), *ae = ct_abs(e), *half = sc(dt, 0.5);
        ct_tensor *delta = sc(dt, l->delta);
        ct_tensor *quad = ct_multiply(half, ct_square(e));
        ct_tensor *lin = ct_subtract(ct_multiply(delta, ae), ct_multiply(half, ct_square(delta)));
        return mean_last(ct_where(ct_less_equal(ae, delta), quad, lin));
    }
    case K_LOGCOSH: {
        /* x + softplus(-2x) - log(2): log(cosh(x)) without overflow. */
        ct_tensor *x = ct_subtract(yp, yt);
        ct_tensor *v = ct_subtract(ct_add(x, ct_softplus(ct_multiply(x, sc(dt, -2)))),
                                   sc(dt, log(2.0)));
        return mean_last(v);
    }
    case K_HINGE:
        return mean_last(ct_maximum(ct_subtract(one, ct_multiply(hinge_labels(yt), yp)),
                                    sc(dt, 0)));
    case K_SQHINGE:
        return mean_last(ct_square(
            ct_maximum(ct_subtract(one, ct_multiply(hinge_labels(yt), yp)), sc(dt, 0))));
    case K_CHINGE: {
        ct_tensor *pos = ct_reduce_sum(ct_multiply(yt, yp), CT_AXES(-1), false);
        ct_tensor *neg = ct_reduce_max(ct_multiply(ct_subtract(one, yt), yp), CT_AXES(-1), false);
        return ct_maximum(ct_add(ct_subtract(neg, pos), one), sc(dt, 0));
    }
    case K_KLD: {
        ct_tensor *t = ct_clip_by_value(yt, EPSILON, 1);
        ct_tensor *p = ct_clip_by_value(yp, EPSILON, 1);
        return ct_reduce_sum(ct_multiply(t, ct_log(ct_divide(t, p))), CT_AXES(-1), false);
    }
    case K_POISSON:
        return mean_last(
            ct_subtract(yp, ct_multiply(yt, ct_log(ct_add(yp, sc(dt, EPSILON))))));
    case K_COSINE: {
        int r = ct_tensor_rank(yp) > ct_tensor_rank(yt) ? ct_tensor_rank(yp) : ct_tensor_rank(yt);
        int axis = norm_axis(l, l->axis, r);
        if (axis < 0) return NULL;
        axis -= r; /* count from the end so both operands agree */
        return ct_negative(ct_reduce_sum(ct_multiply(l2_normalize(yt, axis), l2_normalize(yp, axis)),
                                         CT_AXES(axis), false));
    }
    default:
        return loss_error(l, CT_ERR_INTERNAL, "unknown loss kind %d", (int)l->kind), NULL;
    }
}

/* The per-sample values in the current scope; *mask receives the valid-entry
 * mask of a sparse loss with ignore_class (else stays NULL). */
static ct_tensor *values_of(ct_loss *l, const ct_tensor *y_true, const ct_tensor *y_pred,
                            ct_tensor **mask) {
    *mask = NULL;
    if (!l) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_loss_call: the loss is NULL");
        return NULL;
    }
    if (!y_true || !y_pred) {
        if (ct_last_status() == CT_OK)
            loss_error(l, CT_ERR_INVALID_ARGUMENT, "%s is NULL", y_true ? "y_pred" : "y_true");
        return NULL;
    }
    ct_tensor *yp = (ct_tensor *)y_pred, *yt = (ct_tensor *)y_true;
    /* Keras casts predictions to a float dtype; integer ones to floatx. */
    if (!ct_dtype_is_float(ct_tensor_dtype(yp))) yp = ct_cast(yp, CT_FLOAT32);
    ct_dtype dt = ct_tensor_dtype(yp);
    if (l->kind == K_SCCE) {
        /* Integer labels (Keras casts float labels to int64, truncating). */
        if (ct_tensor_dtype(yt) != CT_INT64) yt = ct_cast(yt, CT_INT64);
    } else if (ct_tensor_dtype(yt) != dt) {
        yt = ct_cast(yt, dt);
    }
    if (!yt || !yp) return NULL;
    squeeze_or_expand(&yt, &yp, true);
    if (!yt || !yp) return NULL;
    if (l->kind != K_CUSTOM) return builtin_values(l, yt, yp, mask);
    ct_tensor *v = l->fn(yt, yp, l->ctx);
    if (!v) {
        if (ct_last_status() == CT_OK)
            loss_error(l, CT_ERR_INVALID_ARGUMENT, "the loss function returned NULL");
        return NULL;
    }
    /* A new tensor of this scope, whatever the function returned. */
    return ct_identity(v);
}

ct_tensor *ct_loss_values(ct_loss *l, const ct_tensor *y_true, const ct_tensor *y_pred) {
    ct_scope_begin();
    ct_tensor *mask;
    ct_tensor *v = ct_keep(values_of(l, y_true, y_pred, &mask));
    ct_scope_end();
    return v;
}

/* ---- weighting and reduction (keras/src/losses/loss.py) --------------------------- */

/* a / b, or 0 where b is 0 (divide_no_nan), with a finite gradient. */
static ct_tensor *divide_no_nan(ct_tensor *a, ct_tensor *b) {
    ct_dtype dt = ct_tensor_dtype(b);
    ct_tensor *zero = ct_equal(b, sc(dt, 0));
    ct_tensor *safe = ct_where(zero, sc(dt, 1), b);
    return ct_where(zero, sc(dt, 0), ct_divide(a, safe));
}

static ct_tensor *reduce_weighted(ct_loss *l, ct_tensor *values, const ct_tensor *sample_weight,
                                  ct_tensor *mask) {
    ct_dtype dt = ct_tensor_dtype(values);
    ct_tensor *w = NULL;
    if (sample_weight) {
        w = (ct_tensor *)sample_weight;
        if (ct_tensor_dtype(w) != dt) w = ct_cast(w, dt);
        if (!w) return NULL;
    }
    if (mask) {
        /* apply_mask: valid entries weigh total / valid under the averaging
         * reductions, so the ignored ones leave the denominator. */
        ct_tensor *m = ct_cast(mask, dt);
        if (l->reduction == R_SUM_OVER_BATCH_SIZE) {
            ct_tensor *total = sc(dt, (double)ct_tensor_size(m));
            m = ct_multiply(m, divide_no_nan(total, ct_reduce_sum(m, CT_ALL, false)));
        }
        if (w) {
            squeeze_or_expand(&m, &w, true);
            if (m && w && !broadcastable(m, w))
                return loss_error(l, CT_ERR_INVALID_ARGUMENT,
                                  "sample_weight %s does not broadcast to the per-sample loss %s",
                                  SHAPE(w), SHAPE(m)),
                       NULL;
            w = ct_multiply(w, m);
        } else {
            w = m;
        }
    }
    if (w) {
        ct_tensor *v0 = values;
        squeeze_or_expand(&values, &w, true);
        if (!values || !w) return NULL;
        if (!broadcastable(values, w))
            return loss_error(l, CT_ERR_INVALID_ARGUMENT,
                              "sample_weight %s does not broadcast to the per-sample loss %s",
                              SHAPE(w), SHAPE(v0)),
                   NULL;
        values = ct_multiply(values, w);
        if (!values) return NULL;
    }
    /* reduce_values: no reduction, or a scalar or an empty vector as is. */
    int r = ct_tensor_rank(values);
    if (l->reduction == R_NONE || r == 0 || (r == 1 && ct_tensor_dim(values, 0) == 0))
        return values;
    ct_tensor *loss = ct_reduce_sum(values, CT_ALL, false);
    if (l->reduction == R_SUM) return loss;
    if (l->reduction == R_MEAN_WITH_SAMPLE_WEIGHT && w)
        return divide_no_nan(loss, ct_reduce_sum(w, CT_ALL, false));
    int64_t n = ct_tensor_size(values);
    if (n == 0) return ct_multiply(loss, sc(dt, 0));
    return ct_divide(loss, sc(dt, (double)n));
}

ct_tensor *ct_loss_call(ct_loss *l, const ct_tensor *y_true, const ct_tensor *y_pred,
                        const ct_tensor *sample_weight) {
    ct_scope_begin();
    ct_tensor *mask, *r = NULL;
    ct_tensor *v = values_of(l, y_true, y_pred, &mask);
    if (v) r = reduce_weighted(l, v, sample_weight, mask);
    ct_keep(r);
    ct_scope_end();
    return r;
}

/* ---- configs --------------------------------------------------------------------- */

char *ct_loss_get_config(const ct_loss *l) {
    if (!l) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_loss_get_config: the loss is NULL");
        return NULL;
    }
    json_t *c = json_object();
    json_t *top = json_object();
    if (!c || !top) {
        json_decref(c);
        json_decref(top);
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_loss_get_config: out of memory");
        return NULL;
    }
    json_object_set_new(c, "name", json_string(l->name));
    json_object_set_new(c, "reduction", l->red_str ? json_string(l->red_str) : json_null());
    if (l->kind == K_CUSTOM) json_object_set_new(c, "fn", json_string(l->name));
    unsigned a = KINDS[l->kind].args;
    /* Keras's key order. Huber's delta and CosineSimilarity's axis are
     * written too, although Keras 3's get_config leaves them out (their
     * constructors take them, so a round trip keeps them). */
    if (a & A_DELTA) json_object_set_new(c, "delta", json_real(l->delta));
    if (a & A_FROM_LOGITS) json_object_set_new(c, "from_logits", json_boolean(l->from_logits));
    if (a & A_LABEL_SMOOTHING)
        json_object_set_new(c, "label_smoothing", json_real(l->label_smoothing));
    if (a & A_AXIS) json_object_set_new(c, "axis", json_integer(l->axis));
    if (a & A_IGNORE_CLASS)
        json_object_set_new(c, "ignore_class",
                            l->has_ignore_class ? json_integer(l->ignore_class) : json_null());
    if (a & A_BALANCING)
        json_object_set_new(c, "apply_class_balancing", json_boolean(l->apply_class_balancing));
    if (a & A_ALPHA) json_object_set_new(c, "alpha", json_real(l->alpha));
    if (a & A_GAMMA) json_object_set_new(c, "gamma", json_real(l->gamma));
    json_object_set_new(top, "class_name", json_string(KINDS[l->kind].cls));
    json_object_set_new(top, "config", c);
    char *s = ct__json_dump(top);
    json_decref(top);
    return s;
}

/* A function's name from a LossFunctionWrapper's "fn": a string, or Keras
 * 3's {"class_name": "function", "config": "<name>", ...}. */
static const char *fn_name_of(const json_t *fn) {
    if (json_is_string(fn)) return json_string_value(fn);
    if (json_is_object(fn) && json_is_string(json_object_get(fn, "config")))
        return json_string_value(json_object_get(fn, "config"));
    return NULL;
}

/* Builds a loss of kind from a config dict (NULL: all defaults). */
static ct_loss *loss_from_cfg(loss_kind kind, const char *cls, const json_t *cfg_in,
                              const char *dflt_name) {
    json_t *cfg = NULL;
    if (cfg_in) {
        if (!json_is_object(cfg_in)) {
            ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the config must be a JSON object", cls);
            return NULL;
        }
        /* "fn" (Keras 3.0's LossFunctionWrapper configs) is known already. */
        cfg = json_copy((json_t *)cfg_in);
        if (!cfg) {
            ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", cls);
            return NULL;
        }
        json_object_del(cfg, "fn");
    }
    const json_t *jname = cfg ? json_object_get(cfg, "name") : NULL;
    const json_t *jred = cfg ? json_object_get(cfg, "reduction") : NULL;
    ct__cfg c;
    if (ct__cfg_begin(&c, cfg, cls, json_is_string(jname) ? json_string_value(jname) : NULL)) {
        json_decref(cfg);
        return NULL;
    }
    const char *name = NULL, *red = NULL;
    unsigned a = KINDS[kind].args;
    ct_loss tmp = {0};
    bool has_ignore = ct__cfg_has(&c, "ignore_class");
    const json_t *jalpha = cfg ? json_object_get(cfg, "alpha") : NULL;
    ct_status st =
        ct__cfg_str(&c, "name", dflt_name, NULL, &name) ||
        ct__cfg_str(&c, "reduction", RED_NAMES[0], RED_NAMES, &red) ||
        ((a & A_FROM_LOGITS) && ct__cfg_bool(&c, "from_logits", false, &tmp.from_logits)) ||
        ((a & A_LABEL_SMOOTHING) &&
         ct__cfg_double(&c, "label_smoothing", 0.0, &tmp.label_smoothing)) ||
        ((a & A_DELTA) && ct__cfg_double(&c, "delta", 1.0, &tmp.delta)) ||
        ((a & A_BALANCING) &&
         ct__cfg_bool(&c, "apply_class_balancing", false, &tmp.apply_class_balancing)) ||
        ((a & A_ALPHA) &&
         (ct__cfg_check(&c, !json_is_array(jalpha), "alpha",
                        "a list of per-class alphas is not supported; give one number") ||
          ct__cfg_double(&c, "alpha", 0.25, &tmp.alpha))) ||
        ((a & A_GAMMA) && ct__cfg_double(&c, "gamma", 2.0, &tmp.gamma)) ||
        ((a & A_IGNORE_CLASS) && ct__cfg_int(&c, "ignore_class", 0, &tmp.ignore_class));
    int64_t axis = -1;
    if (!st && (a & A_AXIS)) {
        st = ct__cfg_int(&c, "axis", -1, &axis) ||
             ct__cfg_check(&c, axis >= -CT_MAX_RANK - 1 && axis <= CT_MAX_RANK, "axis",
                           "%lld is not a valid axis", (long long)axis);
    }
    if (st) {
        ct__cfg_end(&c);
        json_decref(cfg);
        return NULL;
    }
    ct_loss *l = loss_alloc(kind, name);
    if (!l || ct__cfg_finish(&c)) {
        if (l) ct_loss_free(l);
        else ct__cfg_end(&c);
        json_decref(cfg);
        return NULL;
    }
    for (int i = 0; RED_NAMES[i]; i++)
        if (red == RED_NAMES[i]) {
            l->reduction = RED_MODES[i];
            l->red_str = i == 5 ? RED_NAMES[0] : RED_NAMES[i]; /* "auto" is Keras 2's */
        }
    if (jred && json_is_null(jred)) { /* Keras 3's reduction=None */
        l->reduction = R_NONE;
        l->red_str = NULL;
    }
    if (a & A_FROM_LOGITS) l->from_logits = tmp.from_logits;
    if (a & A_LABEL_SMOOTHING) l->label_smoothing = tmp.label_smoothing;
    if (a & A_DELTA) l->delta = tmp.delta;
    if (a & A_BALANCING) l->apply_class_balancing = tmp.apply_class_balancing;
    if (a & A_ALPHA) l->alpha = tmp.alpha;
    if (a & A_GAMMA) l->gamma = tmp.gamma;
    if (a & A_IGNORE_CLASS) {
        l->has_ignore_class = has_ignore;
        l->ignore_class = tmp.ignore_class;
    }
    l->axis = (int)axis;
    json_decref(cfg);
    return l;
}

static ct_loss *loss_from_json(const json_t *j) {
    if (json_is_string(j)) return ct_loss_new(json_string_value(j), NULL);
    if (!json_is_object(j)) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_loss_from_config: expected a loss name or {\"class_name\": ..., "
                  "\"config\": {...}}");
        return NULL;
    }
    const json_t *jc = json_object_get(j, "class_name");
    if (!json_is_string(jc)) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_loss_from_config: \"class_name\" is missing or not a string");
        return NULL;
    }
    const char *cls = json_string_value(jc);
    const json_t *cfg = json_object_get(j, "config");
    if (cfg && json_is_null(cfg)) cfg = NULL;
    /* Keras 3 serialises a plain loss function as class "function". */
    if (!strcmp(cls, "function")) {
        if (!json_is_string(cfg)) {
            ct__error(CT_ERR_INVALID_ARGUMENT,
                      "ct_loss_from_config: a \"function\" needs its name as \"config\"");
            return NULL;
        }
        return ct_loss_new(json_string_value(cfg), NULL);
    }
    if (!strcmp(cls, "LossFunctionWrapper")) {
        const char *fn = cfg && json_is_object(cfg) ? fn_name_of(json_object_get(cfg, "fn")) : NULL;
        int i = fn ? find_name(fn) : -1;
        if (i < 0 || NAMES[i].is_class) {
            ct__error(CT_ERR_NOT_FOUND,
                      "LossFunctionWrapper: unknown loss function '%s' (a C function given to "
                      "ct_loss_custom cannot be rebuilt from a config)",
                      fn ? fn : "(none)");
            return NULL;
        }
        return loss_from_cfg(NAMES[i].kind, cls, cfg, KINDS[NAMES[i].kind].fn);
    }
    int i = find_name(cls);
    if (i < 0) {
        ct__error(CT_ERR_NOT_FOUND, "ct_loss_from_config: unknown loss class '%s'", cls);
        return NULL;
    }
    loss_kind k = NAMES[i].kind;
    return loss_from_cfg(k, KINDS[k].cls, cfg,
                         NAMES[i].is_class ? KINDS[k].cls_name : KINDS[k].fn);
}

/* A bare name (mse) that is not JSON text. */
static bool is_identifier(const char *s) {
    if (!*s) return false;
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

ct_loss *ct_loss_from_config(const char *json) {
    if (json && is_identifier(json)) return ct_loss_new(json, NULL);
    json_t *j = ct__json_parse(json, "ct_loss_from_config");
    if (!j) return NULL;
    ct_loss *l = loss_from_json(j);
    json_decref(j);
    return l;
}
