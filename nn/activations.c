/*
 * keras.activations: the activation functions and their names.
 *
 * Every function is a composite of public ops, so the tape differentiates
 * it like any other op chain, and each follows the TensorFlow backend of
 * Keras 3 operation by operation (the same roundings in float32): where
 * Keras 3 calls a tf.nn kernel, the comment gives that kernel's formula.
 */
#include <math.h>
#include <string.h>

#include "nn/internal.h"
#include "ops/bias_act.h"

/* A scalar of x's dtype (x non-NULL). */
static ct_tensor *cst(const ct_tensor *x, double v) {
    return ct_scalar_of(ct_tensor_dtype(x), v);
}

/* NULL in, NULL out (keeping the first error, naming api when none), and
 * only floating-point inputs for the functions that need non-integer
 * constants. */
static bool bad_input(const char *api, const ct_tensor *x, bool need_float) {
    if (!x) {
        if (!ct_last_status()) ct__error(CT_ERR_INVALID_ARGUMENT, "%s: x is NULL", api);
        return true;
    }
    if (need_float && !ct_dtype_is_float(ct_tensor_dtype(x))) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: x must be a floating-point tensor, got %s",
                  api, CT__DESC(x));
        return true;
    }
    return false;
}

/* Ends the function's scope, moving r (possibly NULL) to the caller's. */
static ct_tensor *finish(ct_tensor *r) {
    r = ct_keep(r);
    ct_scope_end();
    return r;
}

/* ---- the functions ---------------------------------------------------------- */

/* Keras 3's ReLU.static_call, step by step: a negative slope with no cap and
 * no threshold is tf.nn.leaky_relu; a threshold keeps x only where
 * x > threshold (strictly: relu(threshold) is 0); max_value 6 alone uses
 * relu6; a cap clips to [0, max_value]; the negative part is subtracted
 * last. */
ct_tensor *ct_relu_ex(const ct_tensor *x, double negative_slope, double max_value,
                      double threshold) {
    if (bad_input("ct_relu_ex", x, false)) return NULL;
    bool has_max = !(isinf(max_value) && max_value > 0); /* INFINITY: None */
    if (negative_slope != 0 && !has_max && threshold == 0)
        return ct_leaky_relu(x, negative_slope);
    ct_scope_begin();
    ct_tensor *neg = NULL;
    if (negative_slope != 0)
        neg = ct_relu(threshold != 0 ? ct_add(ct_negative(x), cst(x, threshold))
                                     : ct_negative(x));
    ct_tensor *y;
    bool clip = has_max;
    if (threshold != 0) {
        y = ct_multiply(x, ct_cast(ct_greater(x, cst(x, threshold)), ct_tensor_dtype(x)));
    } else if (max_value == 6) {
        y = ct_relu6(x);
        clip = false;
    } else {
        y = ct_relu(x);
    }
    if (clip) y = ct_clip_by_value(y, 0, max_value);
    if (negative_slope != 0) y = ct_subtract(y, ct_multiply(cst(x, negative_slope), neg));
    return finish(y);
}

/* tf.nn.relu6: min(max(x, 0), 6). */
ct_tensor *ct_relu6(const ct_tensor *x) {
    if (bad_input("ct_relu6", x, false)) return NULL;
    ct_scope_begin();
    return finish(ct_minimum(ct_relu(x), cst(x, 6)));
}

/* tf.nn.leaky_relu's kernel: x > 0 ? x : x * alpha (the same values as
 * nn.h's x >= 0 form; the gradient at 0 is alpha, as TF's). */
ct_tensor *ct_leaky_relu(const ct_tensor *x, double alpha) {
    if (bad_input("ct_leaky_relu", x, true)) return NULL;
    ct_scope_begin();
    return finish(ct_where(ct_greater(x, cst(x, 0)), x, ct_multiply(x, cst(x, alpha))));
}

/* exp(min(x, 0)) - 1: TF's Elu/Selu kernels use exp(x) - 1 (not expm1);
 * the min keeps the branch where() drops finite, so its zero gradient
 * stays zero instead of 0 * inf = NaN at large x. */
static ct_tensor *exp_minus_one_neg(const ct_tensor *x) {
    return ct_subtract(ct_exp(ct_minimum(x, cst(x, 0))), cst(x, 1));
}

/* Keras 3 (TF backend): res = tf.nn.elu(x) = x > 0 ? x : exp(x) - 1, then
 * where(x > 0, res, alpha * res) when alpha != 1. */
ct_tensor *ct_elu(const ct_tensor *x, double alpha) {
    if (bad_input("ct_elu", x, true)) return NULL;
    ct_scope_begin();
    ct_tensor *pos = ct_greater(x, cst(x, 0));
    ct_tensor *neg = exp_minus_one_neg(x);
    if (alpha != 1) neg = ct_multiply(cst(x, alpha), neg);
    return finish(ct_where(pos, x, neg));
}

/* tf.nn.selu's kernel: x < 0 ? scale_alpha * (exp(x) - 1) : scale * x with
 * TF's full-precision constants (Keras's docstring rounds them to
 * alpha = 1.67326324, scale = 1.05070098; the float32 values are equal). */
ct_tensor *ct_selu(const ct_tensor *x) {
    if (bad_input("ct_selu", x, true)) return NULL;
    const double scale = 1.0507009873554804934193349852946;
    const double scale_alpha = 1.7580993408473768599402175208123;
    ct_scope_begin();
    ct_tensor *neg = ct_multiply(cst(x, scale_alpha), exp_minus_one_neg(x));
    return finish(ct_where(ct_less(x, cst(x, 0)), neg, ct_multiply(cst(x, scale), x)));
}

/* tf.nn.gelu: 0.5 * x * (1 + erf(x / 1.4142135623730951)), or with
 * approximate 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 *
 * x^3))), evaluated left to right as in TF. Keras's activation default is
 * the exact form. */
ct_tensor *ct_gelu(const ct_tensor *x, bool approximate) {
    if (bad_input("ct_gelu", x, true)) return NULL;
    ct_scope_begin();
    ct_tensor *half_x = ct_multiply(cst(x, 0.5), x), *inner;
    if (approximate) {
        ct_tensor *cube = ct_pow(x, cst(x, 3));
        ct_tensor *arg = ct_multiply(cst(x, 0.7978845608028654),
                                     ct_add(x, ct_multiply(cst(x, 0.044715), cube)));
        inner = ct_tanh(arg);
    } else {
        inner = ct_erf(ct_divide(x, cst(x, 1.4142135623730951)));
    }
    return finish(ct_multiply(half_x, ct_add(cst(x, 1), inner)));
}

/* Keras 3: relu6(x + 3) / 6. (Keras 2 used clip(0.2 x + 0.5, 0, 1).) */
ct_tensor *ct_hard_sigmoid(const ct_tensor *x) {
    if (bad_input("ct_hard_sigmoid", x, true)) return NULL;
    ct_scope_begin();
    return finish(ct_divide(ct_relu6(ct_add(x, cst(x, 3))), cst(x, 6)));
}

/* Keras 3's hard_silu (alias hard_swish): x * hard_sigmoid(x). */
ct_tensor *ct_hard_swish(const ct_tensor *x) {
    if (bad_input("ct_hard_swish", x, true)) return NULL;
    ct_scope_begin();
    return finish(ct_multiply(x, ct_hard_sigmoid(x)));
}

/* tf.nn.softsign's kernel: x / (|x| + 1). */
ct_tensor *ct_softsign(const ct_tensor *x) {
    if (bad_input("ct_softsign", x, true)) return NULL;
    ct_scope_begin();
    return finish(ct_divide(x, ct_add(ct_abs(x), cst(x, 1))));
}

/* tf.nn.silu: x * sigmoid(x). */
ct_tensor *ct_silu(const ct_tensor *x) {
    if (bad_input("ct_silu", x, true)) return NULL;
    ct_scope_begin();
    return finish(ct_multiply(x, ct_sigmoid(x)));
}

/* Keras's Mish: x * tanh(softplus(x)); ct_softplus is the stable
 * tf.math.softplus, so +-100 stay finite. */
ct_tensor *ct_mish(const ct_tensor *x) {
    if (bad_input("ct_mish", x, true)) return NULL;
    ct_scope_begin();
    return finish(ct_multiply(x, ct_tanh(ct_softplus(x))));
}

/* ---- one-argument forms with Keras's defaults ------------------------------------ */

/* keras.activations.linear returns its input; here a new reference to the
 * same values (tf.identity), which tapes see as x. */
static ct_tensor *act_linear(const ct_tensor *x) { return ct_identity(x); }
/* keras.activations.leaky_relu's default negative_slope is 0.2. */
static ct_tensor *act_leaky_relu(const ct_tensor *x) { return ct_leaky_relu(x, 0.2); }
static ct_tensor *act_elu(const ct_tensor *x) { return ct_elu(x, 1.0); }
static ct_tensor *act_gelu(const ct_tensor *x) { return ct_gelu(x, false); }
static ct_tensor *act_softmax(const ct_tensor *x) { return ct_softmax(x, -1); }
static ct_tensor *act_log_softmax(const ct_tensor *x) { return ct_log_softmax(x, -1); }
/* keras.activations.crelu(x, axis=-1): concat(relu(x), relu(-x)) on the
 * last axis. */
static ct_tensor *act_crelu(const ct_tensor *x) {
    if (bad_input("crelu", x, false)) return NULL;
    ct_scope_begin();
    ct_tensor *parts[2] = {ct_relu(x), ct_relu(ct_negative(x))};
    return finish(parts[0] && parts[1] ? ct_concat(2, parts, -1) : NULL);
}

/* Keras 3's ALL_OBJECTS_DICT. The first name of a function is the one
 * Keras 3 serializes (the Python function's __name__: "silu" for swish,
 * "hard_silu" for hard_swish). */
static const struct {
    const char *name;
    ct_activation_fn fn;
} ACTIVATIONS[] = {
    {"linear", act_linear},
    {"relu", ct_relu},
    {"relu6", ct_relu6},
    {"leaky_relu", act_leaky_relu},
    {"elu", act_elu},
    {"selu", ct_selu},
    {"gelu", act_gelu},
    {"sigmoid", ct_sigmoid},
    {"hard_sigmoid", ct_hard_sigmoid},
    {"hard_silu", ct_hard_swish},
    {"hard_swish", ct_hard_swish},
    {"tanh", ct_tanh},
    {"softmax", act_softmax},
    {"log_softmax", act_log_softmax},
    {"softplus", ct_softplus},
    {"softsign", ct_softsign},
    {"silu", ct_silu},
    {"swish", ct_silu},
    {"exponential", ct_exp},
    {"mish", ct_mish},
    {"crelu", act_crelu},
};
#define NUM_ACTIVATIONS (sizeof ACTIVATIONS / sizeof ACTIVATIONS[0])

static ct_activation_fn lookup(const char *name) {
    for (size_t i = 0; i < NUM_ACTIVATIONS; i++)
        if (!strcmp(ACTIVATIONS[i].name, name)) return ACTIVATIONS[i].fn;
    return NULL;
}

ct_activation_fn ct_activation_get(const char *name) {
    if (!name) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_activation_get: the name is NULL");
        return NULL;
    }
    ct_activation_fn fn = lookup(name);
    if (!fn) ct__error(CT_ERR_NOT_FOUND, "ct_activation_get: unknown activation '%s'", name);
    return fn;
}

const char *ct_activation_name(ct_activation_fn fn) {
    if (!fn) return NULL;
    for (size_t i = 0; i < NUM_ACTIVATIONS; i++)
        if (ACTIVATIONS[i].fn == fn) return ACTIVATIONS[i].name;
    return NULL;
}

/* A name string; null (None) is linear; Keras 3 may also write a function
 * as {"module": "keras.activations", "class_name": "function", "config":
 * "relu", "registered_name": "function"}. */
ct_status ct__activation_from_json(const json_t *j, ct_activation_fn *out, const char *what) {
    const char *w = what ? what : "activation";
    *out = NULL;
    if (!j || json_is_null(j)) {
        *out = act_linear;
        return CT_OK;
    }
    const char *name = NULL;
    if (json_is_string(j)) {
        name = json_string_value(j);
    } else if (json_is_object(j)) {
        const json_t *cls = json_object_get(j, "class_name");
        const json_t *cfg = json_object_get(j, "config");
        if (!json_is_string(cls) || strcmp(json_string_value(cls), "function") ||
            !json_is_string(cfg))
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: an activation object must be {\"class_name\": \"function\", "
                             "\"config\": \"<name>\"}; got class_name %s", w,
                             json_is_string(cls) ? json_string_value(cls) : "(missing)");
        name = json_string_value(cfg);
    } else {
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: an activation must be a name string, null or a function object",
                         w);
    }
    *out = lookup(name);
    if (!*out)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: unknown activation '%s'", w, name);
    return CT_OK;
}

ct_tensor *ct__bias_and_activation(const ct_tensor *x, const ct_tensor *bias,
                                   ct_activation_fn activation) {
    int kind = !activation || activation == act_linear ? CT__ACT_LINEAR
               : activation == ct_relu                 ? CT__ACT_RELU
               : activation == ct_sigmoid              ? CT__ACT_SIGMOID
               : activation == ct_tanh                 ? CT__ACT_TANH
                                                       : -1;
    if (kind == CT__ACT_LINEAR && !bias) return ct_identity(x);
    if (kind >= 0) return ct__bias_activation(x, bias, (ct__act_kind)kind);
    ct_tensor *y = bias ? ct_bias_add(x, bias) : ct_identity(x);
    return y ? activation(y) : NULL;
}
