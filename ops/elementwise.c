/* Elementwise ops: definitions, dtype rules and gradients. Kernels are in
 * ops/cpu/elementwise.c (and ops/cuda for the ops the GPU has). */
#include <math.h>

#include "ops/elementwise.h"

/* ---- binary ---------------------------------------------------------------- */

static ct_status infer_binary(ct__call *c) {
    const ct_tensor *a = c->in[0], *b = c->in[1];
    int code = c->op->code;
    ct_status st = ct__need_same_dtype(c, a, b);
    if (st) return st;
    if (code == CT__AND || code == CT__OR || code == CT__XOR) {
        if (a->dtype != CT_BOOL)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "expected bool tensors, got %s",
                                  CT__DESC(a));
    } else if (code != CT__EQ && code != CT__NE && a->dtype == CT_BOOL) {
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "bool tensors are not supported (got %s); use the logical ops "
                              "or cast with ct_cast", CT__DESC(a));
    }
    if ((code == CT__DIV || code == CT__RELU_GRAD) && (st = ct__need_float(c, a))) return st;
    /* TF defines Pow and SquaredDifference for signed integers only. */
    if ((code == CT__POW || code == CT__SQDIFF) && a->dtype == CT_UINT8)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "uint8 is not supported (got %s); cast to int32 or a float type",
                              CT__DESC(a));
    int rank;
    int64_t shape[CT_MAX_RANK];
    if ((st = ct__broadcast_shapes(c, a->rank, a->shape, b->rank, b->shape, &rank, shape)))
        return st;
    ct__spec_set(&c->spec[0], code >= CT__EQ ? CT_BOOL : a->dtype, rank, shape);
    return CT_OK;
}

static ct_status add_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct_tensor *a = c->in[0], *b = c->in[1];
    dx[0] = ct__unbroadcast(dy[0], a->rank, a->shape);
    dx[1] = ct__unbroadcast(c->op->code == CT__SUB ? ct_negative(dy[0]) : dy[0], b->rank, b->shape);
    return ct__grad_status(dx, 2);
}

static ct_status mul_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct_tensor *a = c->in[0], *b = c->in[1];
    dx[0] = ct__unbroadcast(ct_multiply(dy[0], b), a->rank, a->shape);
    dx[1] = ct__unbroadcast(ct_multiply(a, dy[0]), b->rank, b->shape);
    return ct__grad_status(dx, 2);
}

/* TF's _RealDivGrad: (dy / b, dy * ((-a / b) / b)). */
static ct_status div_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct_tensor *a = c->in[0], *b = c->in[1];
    dx[0] = ct__unbroadcast(ct_divide(dy[0], b), a->rank, a->shape);
    dx[1] = ct__unbroadcast(ct_multiply(dy[0], ct_divide(ct_divide(ct_negative(a), b), b)),
                            b->rank, b->shape);
    return ct__grad_status(dx, 2);
}

/* TF: FloorDiv has no gradient (None, None); FloorMod's is
 * (dy, dy * -floor_div(a, b)). Integer calls never reach here. */
static ct_status floor_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    dx[0] = dx[1] = NULL;
    if (c->op->code != CT__FLOORMOD) return CT_OK;
    const ct_tensor *a = c->in[0], *b = c->in[1];
    dx[0] = ct__unbroadcast(dy[0], a->rank, a->shape);
    dx[1] = ct__unbroadcast(ct_multiply(dy[0], ct_negative(ct_floordiv(a, b))), b->rank,
                            b->shape);
    return ct__grad_status(dx, 2);
}

/* TF's _PowGrad: dx = dy * y * x^(y-1); dy' = dy * z * log(x) where x > 0
 * and 0 elsewhere (no false singularity at x = 0). */
static ct_status pow_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct_tensor *x = c->in[0], *y = c->in[1];
    ct_tensor *one = ct_scalar_of(x->dtype, 1), *zero = ct_zeros_like(x);
    dx[0] = ct__unbroadcast(ct_multiply(ct_multiply(dy[0], y), ct_pow(x, ct_subtract(y, one))),
                            x->rank, x->shape);
    ct_tensor *mask = ct_greater(x, zero);
    ct_tensor *logx = ct_where(mask, ct_log(ct_where(mask, x, ct_ones_like(x))), zero);
    dx[1] = ct__unbroadcast(ct_multiply(ct_multiply(dy[0], c->out[0]), logx), y->rank, y->shape);
    return ct__grad_status(dx, 2);
}

static ct_status minmax_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct_tensor *a = c->in[0], *b = c->in[1];
    /* Ties send the gradient to a, as TF's _MaximumMinimumGrad. */
    ct_tensor *pick_a = c->op->code == CT__MAX ? ct_greater_equal(a, b) : ct_less_equal(a, b);
    ct_tensor *zero = ct_zeros_like(dy[0]);
    dx[0] = ct__unbroadcast(ct_where(pick_a, dy[0], zero), a->rank, a->shape);
    dx[1] = ct__unbroadcast(ct_where(pick_a, zero, dy[0]), b->rank, b->shape);
    return ct__grad_status(dx, 2);
}

static ct_status sqdiff_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct_tensor *a = c->in[0], *b = c->in[1];
    ct_tensor *g = ct_multiply(ct_multiply(ct_scalar_of(a->dtype, 2), dy[0]), ct_subtract(a, b));
    dx[0] = ct__unbroadcast(g, a->rank, a->shape);
    dx[1] = ct__unbroadcast(ct_negative(g), b->rank, b->shape);
    return ct__grad_status(dx, 2);
}

/* ReluGrad(dy, x) = x > 0 ? dy : 0 is linear in dy. */
static ct_status relu_grad_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx);

#define BINARY_OP(var, tfname, CODE, GRAD, FLAGS)                                         \
    const ct__op var = {.name = tfname, .infer = infer_binary,                           \
                        .kernel = {[CT_DEVICE_CPU] = ct__cpu_binary,                     \
                                   CT__CUDA(ct__cuda_binary)}, .grad = GRAD,             \
                        .flags = FLAGS, .code = CODE};

BINARY_OP(ct__op_add, "AddV2", CT__ADD, add_grad, 0)
BINARY_OP(ct__op_sub, "Sub", CT__SUB, add_grad, 0)
BINARY_OP(ct__op_mul, "Mul", CT__MUL, mul_grad, 0)
BINARY_OP(ct__op_div, "RealDiv", CT__DIV, div_grad, 0)
BINARY_OP(ct__op_floordiv, "FloorDiv", CT__FLOORDIV, floor_grad, 0)
BINARY_OP(ct__op_floormod, "FloorMod", CT__FLOORMOD, floor_grad, 0)
BINARY_OP(ct__op_pow, "Pow", CT__POW, pow_grad, 0)
BINARY_OP(ct__op_max, "Maximum", CT__MAX, minmax_grad, 0)
BINARY_OP(ct__op_min, "Minimum", CT__MIN, minmax_grad, 0)
BINARY_OP(ct__op_sqdiff, "SquaredDifference", CT__SQDIFF, sqdiff_grad, 0)
BINARY_OP(ct__op_relu_grad, "ReluGrad", CT__RELU_GRAD, relu_grad_grad, 0)
BINARY_OP(ct__op_eq, "Equal", CT__EQ, NULL, CT__OP_NOT_DIFFERENTIABLE)
BINARY_OP(ct__op_ne, "NotEqual", CT__NE, NULL, CT__OP_NOT_DIFFERENTIABLE)
BINARY_OP(ct__op_lt, "Less", CT__LT, NULL, CT__OP_NOT_DIFFERENTIABLE)
BINARY_OP(ct__op_le, "LessEqual", CT__LE, NULL, CT__OP_NOT_DIFFERENTIABLE)
BINARY_OP(ct__op_gt, "Greater", CT__GT, NULL, CT__OP_NOT_DIFFERENTIABLE)
BINARY_OP(ct__op_ge, "GreaterEqual", CT__GE, NULL, CT__OP_NOT_DIFFERENTIABLE)
BINARY_OP(ct__op_and, "LogicalAnd", CT__AND, NULL, CT__OP_NOT_DIFFERENTIABLE)
BINARY_OP(ct__op_or, "LogicalOr", CT__OR, NULL, CT__OP_NOT_DIFFERENTIABLE)
BINARY_OP(ct__op_xor, "LogicalXor", CT__XOR, NULL, CT__OP_NOT_DIFFERENTIABLE)

static ct_status relu_grad_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct_tensor *in[2] = {dy[0], c->in[1]};
    dx[0] = ct__run1(&ct__op_relu_grad, "ReluGrad", 2, in, NULL, 0);
    dx[1] = ct_zeros_like(c->in[1]); /* piecewise constant in x; TF gives zeros */
    return ct__grad_status(dx, 2);
}

static bool is_half(ct_dtype dt) { return dt == CT_FLOAT16 || dt == CT_BFLOAT16; }

static ct_tensor *bin(const ct__op *op, const char *api, const ct_tensor *a, const ct_tensor *b) {
    const ct_tensor *in[2] = {a, b};
    /* ct__run computes 16-bit floats in float32 before infer sees them, so
     * a float16/bfloat16 dtype mismatch must be caught here. */
    if (a && b && a->dtype != b->dtype && (is_half(a->dtype) || is_half(b->dtype))) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s: inputs have different dtypes: %s and %s (cast one with ct_cast)", api,
                  CT__DESC(a), CT__DESC(b));
        return NULL;
    }
    return ct__run1(op, api, 2, in, NULL, 0);
}

ct_tensor *ct_add(const ct_tensor *a, const ct_tensor *b) { return bin(&ct__op_add, "ct_add", a, b); }
ct_tensor *ct_subtract(const ct_tensor *a, const ct_tensor *b) { return bin(&ct__op_sub, "ct_subtract", a, b); }
ct_tensor *ct_multiply(const ct_tensor *a, const ct_tensor *b) { return bin(&ct__op_mul, "ct_multiply", a, b); }
ct_tensor *ct_floordiv(const ct_tensor *a, const ct_tensor *b) { return bin(&ct__op_floordiv, "ct_floordiv", a, b); }
ct_tensor *ct_floormod(const ct_tensor *a, const ct_tensor *b) { return bin(&ct__op_floormod, "ct_floormod", a, b); }
ct_tensor *ct_pow(const ct_tensor *a, const ct_tensor *b) { return bin(&ct__op_pow, "ct_pow", a, b); }
ct_tensor *ct_maximum(const ct_tensor *a, const ct_tensor *b) { return bin(&ct__op_max, "ct_maximum", a, b); }
ct_tensor *ct_minimum(const ct_tensor *a, const ct_tensor *b) { return bin(&ct__op_min, "ct_minimum", a, b); }
ct_tensor *ct_squared_difference(const ct_tensor *a, const ct_tensor *b) { return bin(&ct__op_sqdiff, "ct_squared_difference", a, b); }
ct_tensor *ct_equal(const ct_tensor *a, const ct_tensor *b) { return bin(&ct__op_eq, "ct_equal", a, b); }
ct_tensor *ct_not_equal(const ct_tensor *a, const ct_tensor *b) { return bin(&ct__op_ne, "ct_not_equal", a, b); }
ct_tensor *ct_less(const ct_tensor *a, const ct_tensor *b) { return bin(&ct__op_lt, "ct_less", a, b); }
ct_tensor *ct_less_equal(const ct_tensor *a, const ct_tensor *b) { return bin(&ct__op_le, "ct_less_equal", a, b); }
ct_tensor *ct_greater(const ct_tensor *a, const ct_tensor *b) { return bin(&ct__op_gt, "ct_greater", a, b); }
ct_tensor *ct_greater_equal(const ct_tensor *a, const ct_tensor *b) { return bin(&ct__op_ge, "ct_greater_equal", a, b); }
ct_tensor *ct_logical_and(const ct_tensor *a, const ct_tensor *b) { return bin(&ct__op_and, "ct_logical_and", a, b); }
ct_tensor *ct_logical_or(const ct_tensor *a, const ct_tensor *b) { return bin(&ct__op_or, "ct_logical_or", a, b); }
ct_tensor *ct_logical_xor(const ct_tensor *a, const ct_tensor *b) { return bin(&ct__op_xor, "ct_logical_xor", a, b); }

/* tf.math.divide: integers are divided as floats (float32 for uint8,
 * float64 for int32/int64), as TF's truediv. */
ct_tensor *ct_divide(const ct_tensor *a, const ct_tensor *b) {
    if (a && b && a->dtype == b->dtype && ct_dtype_is_integer(a->dtype)) {
        ct_dtype f = a->dtype == CT_UINT8 ? CT_FLOAT32 : CT_FLOAT64;
        return bin(&ct__op_div, "ct_divide", ct_cast(a, f), ct_cast(b, f));
    }
    return bin(&ct__op_div, "ct_divide", a, b);
}

/* ---- unary ------------------------------------------------------------------ */

static ct_status infer_unary(ct__call *c) {
    const ct_tensor *a = c->in[0];
    int code = c->op->code;
    ct_status st = CT_OK;
    if (code == CT__NOT) {
        if (a->dtype != CT_BOOL)
            st = ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "expected a bool tensor, got %s",
                                CT__DESC(a));
    } else if (code == CT__RELU || code == CT__SQUARE) {
        if (a->dtype == CT_BOOL) /* TF's Relu and Square take every real type */
            st = ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "expected a numeric tensor, got %s",
                                CT__DESC(a));
    } else if (code == CT__NEG || code == CT__ABS || code == CT__SIGN || code == CT__ROUND) {
        /* TF registers these for signed types: no uint8 Neg, Abs or Sign. */
        if (a->dtype == CT_BOOL || a->dtype == CT_UINT8)
            st = ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "expected a signed numeric tensor, got %s",
                                CT__DESC(a));
    } else {
        st = ct__need_float(c, a);
    }
    if (st) return st;
    ct__spec_set(&c->spec[0], code >= CT__ISNAN ? CT_BOOL : a->dtype, a->rank, a->shape);
    return CT_OK;
}

#define X (c->in[0])
#define Y (c->out[0])
#define ONE ct_scalar_of(X->dtype, 1)
#define UNARY_GRAD(fname, EXPR)                                                           \
    static ct_status fname(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {      \
        dx[0] = (EXPR);                                                                   \
        return dx[0] ? CT_OK : ct_last_status();                                          \
    }

UNARY_GRAD(neg_grad, ct_negative(dy[0]))
UNARY_GRAD(abs_grad, ct_multiply(dy[0], ct_sign(X)))
UNARY_GRAD(sign_grad, ct_zeros_like(X))
UNARY_GRAD(sqrt_grad, ct_divide(ct_multiply(dy[0], ct_scalar_of(X->dtype, 0.5)), Y))
UNARY_GRAD(rsqrt_grad, ct_multiply(ct_multiply(ct_scalar_of(X->dtype, -0.5), ct_multiply(dy[0], Y)),
                                   ct_square(Y)))
UNARY_GRAD(square_grad, ct_multiply(dy[0], ct_multiply(ct_scalar_of(X->dtype, 2), X)))
UNARY_GRAD(recip_grad, ct_multiply(ct_multiply(ct_negative(dy[0]), Y), Y))
UNARY_GRAD(exp_grad, ct_multiply(dy[0], Y))
UNARY_GRAD(expm1_grad, ct_multiply(dy[0], ct_exp(X)))
UNARY_GRAD(log_grad, ct_multiply(dy[0], ct_reciprocal(X)))
UNARY_GRAD(log1p_grad, ct_multiply(dy[0], ct_reciprocal(ct_add(ONE, X))))
UNARY_GRAD(sin_grad, ct_multiply(dy[0], ct_cos(X)))
UNARY_GRAD(cos_grad, ct_negative(ct_multiply(dy[0], ct_sin(X))))
UNARY_GRAD(tanh_grad, ct_multiply(dy[0], ct_subtract(ONE, ct_square(Y))))
UNARY_GRAD(sigmoid_grad, ct_multiply(ct_multiply(dy[0], Y), ct_subtract(ONE, Y)))
UNARY_GRAD(relu_grad, bin(&ct__op_relu_grad, "ReluGrad", dy[0], X))
UNARY_GRAD(softplus_grad, ct_multiply(dy[0], ct_sigmoid(X)))
UNARY_GRAD(erf_grad, ct_multiply(ct_multiply(dy[0], ct_scalar_of(X->dtype, 1.1283791670955126)),
                                  ct_exp(ct_negative(ct_square(X)))))

static ct_status no_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    (void)c;
    (void)dy;
    dx[0] = NULL; /* TF registers None for Floor, Ceil and Round */
    return CT_OK;
}

#define UNARY_OP(var, tfname, CODE, GRAD, FLAGS)                                          \
    const ct__op var = {.name = tfname, .infer = infer_unary,                            \
                        .kernel = {[CT_DEVICE_CPU] = ct__cpu_unary,                      \
                                   CT__CUDA(ct__cuda_unary)}, .grad = GRAD,              \
                        .flags = FLAGS, .code = CODE};                                   \

UNARY_OP(ct__op_neg, "Neg", CT__NEG, neg_grad, 0)
UNARY_OP(ct__op_abs, "Abs", CT__ABS, abs_grad, 0)
UNARY_OP(ct__op_sign, "Sign", CT__SIGN, sign_grad, 0)
UNARY_OP(ct__op_sqrt, "Sqrt", CT__SQRT, sqrt_grad, 0)
UNARY_OP(ct__op_rsqrt, "Rsqrt", CT__RSQRT, rsqrt_grad, 0)
UNARY_OP(ct__op_square, "Square", CT__SQUARE, square_grad, 0)
UNARY_OP(ct__op_recip, "Reciprocal", CT__RECIP, recip_grad, 0)
UNARY_OP(ct__op_exp, "Exp", CT__EXP, exp_grad, 0)
UNARY_OP(ct__op_expm1, "Expm1", CT__EXPM1, expm1_grad, 0)
UNARY_OP(ct__op_log, "Log", CT__LOG, log_grad, 0)
UNARY_OP(ct__op_log1p, "Log1p", CT__LOG1P, log1p_grad, 0)
UNARY_OP(ct__op_sin, "Sin", CT__SIN, sin_grad, 0)
UNARY_OP(ct__op_cos, "Cos", CT__COS, cos_grad, 0)
UNARY_OP(ct__op_tanh, "Tanh", CT__TANH, tanh_grad, 0)
UNARY_OP(ct__op_sigmoid, "Sigmoid", CT__SIGMOID, sigmoid_grad, 0)
UNARY_OP(ct__op_relu, "Relu", CT__RELU, relu_grad, 0)
UNARY_OP(ct__op_softplus, "Softplus", CT__SOFTPLUS, softplus_grad, 0)
UNARY_OP(ct__op_erf, "Erf", CT__ERF, erf_grad, 0)
UNARY_OP(ct__op_floor, "Floor", CT__FLOOR, no_grad, 0)
UNARY_OP(ct__op_ceil, "Ceil", CT__CEIL, no_grad, 0)
UNARY_OP(ct__op_round, "Round", CT__ROUND, no_grad, 0)
UNARY_OP(ct__op_isnan, "IsNan", CT__ISNAN, NULL, CT__OP_NOT_DIFFERENTIABLE)
UNARY_OP(ct__op_isinf, "IsInf", CT__ISINF, NULL, CT__OP_NOT_DIFFERENTIABLE)
UNARY_OP(ct__op_isfinite, "IsFinite", CT__ISFINITE, NULL, CT__OP_NOT_DIFFERENTIABLE)
UNARY_OP(ct__op_not, "LogicalNot", CT__NOT, NULL, CT__OP_NOT_DIFFERENTIABLE)

#define UNARY_API(fn, var)                                                                \
    ct_tensor *fn(const ct_tensor *t) { return ct__run1(&var, #fn, 1, &t, NULL, 0); }

UNARY_API(ct_negative, ct__op_neg)
UNARY_API(ct_abs, ct__op_abs)
UNARY_API(ct_sign, ct__op_sign)
UNARY_API(ct_sqrt, ct__op_sqrt)
UNARY_API(ct_rsqrt, ct__op_rsqrt)
UNARY_API(ct_square, ct__op_square)
UNARY_API(ct_reciprocal, ct__op_recip)
UNARY_API(ct_exp, ct__op_exp)
UNARY_API(ct_expm1, ct__op_expm1)
UNARY_API(ct_log, ct__op_log)
UNARY_API(ct_log1p, ct__op_log1p)
UNARY_API(ct_sin, ct__op_sin)
UNARY_API(ct_cos, ct__op_cos)
UNARY_API(ct_tanh, ct__op_tanh)
UNARY_API(ct_sigmoid, ct__op_sigmoid)
UNARY_API(ct_relu, ct__op_relu)
UNARY_API(ct_softplus, ct__op_softplus)
UNARY_API(ct_erf, ct__op_erf)
UNARY_API(ct_floor, ct__op_floor)
UNARY_API(ct_ceil, ct__op_ceil)
UNARY_API(ct_round, ct__op_round)
UNARY_API(ct_is_nan, ct__op_isnan)
UNARY_API(ct_is_inf, ct__op_isinf)
UNARY_API(ct_is_finite, ct__op_isfinite)
UNARY_API(ct_logical_not, ct__op_not)

/* tf.clip_by_value is minimum then maximum, so its gradient passes at
 * the bounds exactly as TF's does. */
ct_tensor *ct_clip_by_value(const ct_tensor *t, double clip_min, double clip_max) {
    if (!t) {
        if (!ct_last_status()) ct__error(CT_ERR_INVALID_ARGUMENT, "ct_clip_by_value: input 0 is NULL");
        return NULL;
    }
    /* clip_min > clip_max is not an error in TF: every element becomes
     * clip_min (maximum is applied last). */
    ct_tensor *hi = ct_scalar_of(t->dtype, clip_max), *lo = ct_scalar_of(t->dtype, clip_min);
    return bin(&ct__op_max, "ct_clip_by_value", bin(&ct__op_min, "ct_clip_by_value", t, hi), lo);
}
