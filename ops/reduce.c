/* Reduction ops: definitions and gradients (kernels in ops/cpu/reduce.c),
 * ArgMax / ArgMin, and the composite reductions TF writes in Python
 * (reduce_logsumexp, reduce_variance, reduce_std). */
#include <string.h>

#include "ops/reduce.h"

int ct__reduced_shape(const ct_tensor *t, unsigned mask, bool keepdims, int64_t *shape) {
    int r = 0;
    for (int i = 0; i < t->rank; i++) {
        if (!((mask >> i) & 1)) shape[r++] = t->shape[i];
        else if (keepdims) shape[r++] = 1;
    }
    return r;
}

static ct_status infer_reduce(ct__call *c) {
    const ct__reduce_attrs *a = c->attrs;
    const ct_tensor *t = c->in[0];
    int code = c->op->code;
    if (code == CT__RALL || code == CT__RANY) {
        if (t->dtype != CT_BOOL)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "expected a bool tensor, got %s",
                                  CT__DESC(t));
    } else {
        ct_status st = ct__need_numeric(c, t);
        if (st) return st;
    }
    int64_t shape[CT_MAX_RANK];
    int r = ct__reduced_shape(t, a->mask, a->keepdims, shape);
    ct__spec_set(&c->spec[0], t->dtype, r, shape);
    return CT_OK;
}

/* t (the output's shape) reshaped to keep the reduced axes as size 1. */
static ct_tensor *keep_dims(const ct__call *c, ct_tensor *t) {
    const ct__reduce_attrs *a = c->attrs;
    int64_t kshape[CT_MAX_RANK];
    int kr = ct__reduced_shape(c->in[0], a->mask, true, kshape);
    return ct_reshape(t, kr, kshape);
}

/* dy broadcast back over the reduced axes of x. */
static ct_tensor *expand_back(const ct__call *c, ct_tensor *dy) {
    const ct_tensor *x = c->in[0];
    return ct_broadcast_to(keep_dims(c, dy), x->rank, x->shape);
}

static ct_status sum_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    dx[0] = expand_back(c, dy[0]);
    return dx[0] ? CT_OK : ct_last_status();
}

/* TF's _MeanGrad: the sum's gradient over input_size / max(output_size, 1). */
static ct_status mean_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    int64_t in = c->in[0]->size, out = c->out[0]->size;
    int64_t factor = in / (out > 1 ? out : 1);
    dx[0] = ct_divide(expand_back(c, dy[0]), ct_scalar_of(dy[0]->dtype, (double)factor));
    return dx[0] ? CT_OK : ct_last_status();
}

/* TF's _MinOrMaxGrad: the gradient is shared equally by the elements equal
 * to the result (ties split it; a NaN result gives NaN). */
static ct_status minmax_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct__reduce_attrs *a = c->attrs;
    ct_tensor *x = c->in[0];
    ct_tensor *y = keep_dims(c, c->out[0]), *g = keep_dims(c, dy[0]);
    ct_tensor *ind = ct_cast(ct_equal(y, x), dy[0]->dtype);
    int axes[CT_MAX_RANK], n = 0;
    for (int i = 0; i < x->rank; i++)
        if ((a->mask >> i) & 1) axes[n++] = i;
    ct_tensor *num = ct_reduce_sum(ind, axes, n, true);
    dx[0] = ct_multiply(ct_divide(ind, num), g);
    return dx[0] ? CT_OK : ct_last_status();
}

/* exclusive cumprod from the left times from the right: the product of
 * every other element along axis. */
static ct_tensor *others_product(ct_tensor *z, int axis) {
    return ct_multiply(ct_cumprod(z, axis, true, false), ct_cumprod(z, axis, true, true));
}

/* TF's _ProdGrad computes, without dividing (so zeros are handled), the
 * product of every other element of each reduced group with exclusive
 * cumprods. Here x is viewed with adjacent reduced axes merged and the
 * kept ones merged too; for reduced groups g1 < ... < gm the product of
 * the others is prod_k others_g_k(prod over g_{k+1..m} of x). */
static ct_status prod_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct__reduce_attrs *a = c->attrs;
    ct_tensor *x = c->in[0];
    if (x->size == 0) {
        dx[0] = ct_zeros_like(x);
        return dx[0] ? CT_OK : ct_last_status();
    }
    int64_t gshape[CT_MAX_RANK] = {0}, kshape[CT_MAX_RANK] = {0};
    bool gred[CT_MAX_RANK];
    int ng = 0;
    for (int i = 0; i < x->rank; i++) {
        if (x->shape[i] == 1) continue;
        bool red = (a->mask >> i) & 1;
        if (ng && gred[ng - 1] == red) gshape[ng - 1] *= x->shape[i];
        else {
            gshape[ng] = x->shape[i];
            gred[ng++] = red;
        }
    }
    for (int g = 0; g < ng; g++) kshape[g] = gred[g] ? 1 : gshape[g];
    ct_tensor *xr = ct_reshape(x, ng, gshape);
    ct_tensor *others = ct_reshape(dy[0], ng, kshape); /* dy first, then factors */
    ct_tensor *inner = xr;
    for (int g = ng - 1; g >= 0; g--) {
        if (!gred[g]) continue;
        others = ct_multiply(others, others_product(inner, g));
        inner = ct_reduce_prod(inner, (const int[]){g}, 1, true);
    }
    dx[0] = ct_reshape(ct_broadcast_to(others, ng, gshape), x->rank, x->shape);
    return dx[0] ? CT_OK : ct_last_status();
}

#define REDUCE_OP(var, tfname, CODE, GRAD, FLAGS)                                         \
    static const ct__op var = {.name = tfname, .infer = infer_reduce,                           \
                        .kernel = {[CT_DEVICE_CPU] = ct__cpu_reduce}, .grad = GRAD,      \
                        .flags = FLAGS, .code = CODE};

REDUCE_OP(ct__op_sum, "Sum", CT__RSUM, sum_grad, 0)
REDUCE_OP(ct__op_mean, "Mean", CT__RMEAN, mean_grad, 0)
REDUCE_OP(ct__op_prod, "Prod", CT__RPROD, prod_grad, 0)
REDUCE_OP(ct__op_max_reduce, "Max", CT__RMAX, minmax_grad, 0)
REDUCE_OP(ct__op_min_reduce, "Min", CT__RMIN, minmax_grad, 0)
REDUCE_OP(ct__op_all, "All", CT__RALL, NULL, CT__OP_NOT_DIFFERENTIABLE)
REDUCE_OP(ct__op_any, "Any", CT__RANY, NULL, CT__OP_NOT_DIFFERENTIABLE)

ct_tensor *ct__reduce(const ct__op *op, const char *api, const ct_tensor *t, const int *axes,
                      int naxes, bool keepdims) {
    ct__reduce_attrs a = {.keepdims = keepdims};
    if (t) {
        ct__call c = {.api = api};
        if (ct__axes_mask(&c, axes, naxes, t->rank, &a.mask)) return NULL;
    }
    return ct__run1(op, api, 1, &t, &a, sizeof a);
}

#define REDUCE_API(fn, var)                                                               \
    ct_tensor *fn(const ct_tensor *t, const int *axes, int naxes, bool keepdims) {        \
        return ct__reduce(&var, #fn, t, axes, naxes, keepdims);                           \
    }
REDUCE_API(ct_reduce_sum, ct__op_sum)
REDUCE_API(ct_reduce_mean, ct__op_mean)
REDUCE_API(ct_reduce_prod, ct__op_prod)
REDUCE_API(ct_reduce_max, ct__op_max_reduce)
REDUCE_API(ct_reduce_min, ct__op_min_reduce)
REDUCE_API(ct_reduce_all, ct__op_all)
REDUCE_API(ct_reduce_any, ct__op_any)

/* ---- ArgMax / ArgMin ------------------------------------------------------------ */

static ct_status infer_arg(ct__call *c) {
    const ct__arg_attrs *a = c->attrs;
    const ct_tensor *t = c->in[0];
    if (t->shape[a->axis] == 0)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "reduction axis %d is empty in %s", a->axis, CT__DESC(t));
    int64_t shape[CT_MAX_RANK];
    int r = ct__reduced_shape(t, 1u << a->axis, false, shape);
    ct__spec_set(&c->spec[0], CT_INT64, r, shape);
    return CT_OK;
}

static const ct__op ct__op_argmax = {.name = "ArgMax", .infer = infer_arg,
                              .kernel = {[CT_DEVICE_CPU] = ct__cpu_argreduce},
                              .flags = CT__OP_NOT_DIFFERENTIABLE, .code = CT__RMAX};
static const ct__op ct__op_argmin = {.name = "ArgMin", .infer = infer_arg,
                              .kernel = {[CT_DEVICE_CPU] = ct__cpu_argreduce},
                              .flags = CT__OP_NOT_DIFFERENTIABLE, .code = CT__RMIN};

static ct_tensor *arg_reduce(const ct__op *op, const char *api, const ct_tensor *t, int axis) {
    ct__arg_attrs a = {0};
    if (t) {
        ct__call c = {.api = api};
        if (ct__axis(&c, axis, t->rank, &a.axis)) return NULL;
    }
    return ct__run1(op, api, 1, &t, &a, sizeof a);
}

ct_tensor *ct_argmax(const ct_tensor *t, int axis) {
    return arg_reduce(&ct__op_argmax, "ct_argmax", t, axis);
}
ct_tensor *ct_argmin(const ct_tensor *t, int axis) {
    return arg_reduce(&ct__op_argmin, "ct_argmin", t, axis);
}

/* ---- composites (TF defines these in Python from other ops) ------------------- */

/* Checks t and its axes for a composite reduction before any op runs, so
 * errors name the public function. */
static bool composite_ok(const char *api, const ct_tensor *t, const int *axes, int naxes) {
    if (!t) {
        if (!ct_last_status()) ct__error(CT_ERR_INVALID_ARGUMENT, "%s: input is NULL", api);
        return false;
    }
    ct__call c = {.api = api};
    unsigned mask;
    if (ct__axes_mask(&c, axes, naxes, t->rank, &mask)) return false;
    return ct__need_float(&c, t) == CT_OK;
}

/* TF's reduce_logsumexp: log(sum(exp(x - m))) + m with m the max where it
 * is finite, else 0 (so all -inf gives -inf and +inf gives +inf); m is
 * held constant for the gradient, which comes out as softmax(x) * dy. */
ct_tensor *ct_reduce_logsumexp(const ct_tensor *t, const int *axes, int naxes, bool keepdims) {
    if (!composite_ok("ct_reduce_logsumexp", t, axes, naxes)) return NULL;
    ct_tensor *raw = ct_reduce_max(t, axes, naxes, true);
    ct_tensor *m = ct_stop_gradient(ct_where(ct_is_finite(raw), raw, ct_zeros_like(raw)));
    ct_tensor *s = ct_log(ct_reduce_sum(ct_exp(ct_subtract(t, m)), axes, naxes, keepdims));
    if (!keepdims && s) m = ct_reshape(m, s->rank, s->shape);
    return ct_add(s, m);
}

/* TF's reduce_variance: mean(square(x - mean(x, keepdims))) (population). */
ct_tensor *ct_reduce_variance(const ct_tensor *t, const int *axes, int naxes, bool keepdims) {
    if (!composite_ok("ct_reduce_variance", t, axes, naxes)) return NULL;
    ct_tensor *mean = ct_reduce_mean(t, axes, naxes, true);
    return ct_reduce_mean(ct_square(ct_subtract(t, mean)), axes, naxes, keepdims);
}

ct_tensor *ct_reduce_std(const ct_tensor *t, const int *axes, int naxes, bool keepdims) {
    if (!composite_ok("ct_reduce_std", t, axes, naxes)) return NULL;
    return ct_sqrt(ct_reduce_variance(t, axes, naxes, keepdims));
}
