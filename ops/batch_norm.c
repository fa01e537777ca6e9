/* Fused batch normalization over the last axis (FusedBatchNormV3 and its
 * gradient FusedBatchNormGradV3, see ops/batch_norm.h): definitions, shape
 * rules and gradients. Kernels are in ops/cpu/batch_norm.c. */
#include <string.h>

#include "ops/batch_norm.h"

/* A [C] parameter of x's dtype. */
static ct_status need_channel_vector(ct__call *c, const char *what, const ct_tensor *x,
                                     const ct_tensor *p) {
    int64_t ch = x->shape[x->rank - 1];
    if (p->rank != 1 || p->shape[0] != ch)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "%s must be a vector of the %lld channels (x's last dimension), "
                              "got x %s and %s %s",
                              what, (long long)ch, CT__DESC(x), what, CT__DESC(p));
    return ct__need_same_dtype(c, x, p);
}

static ct_status need_io(ct__call *c, int n_in, int n_out) {
    if (c->n_in != n_in || c->n_out != n_out)
        return ct__call_error(c, CT_ERR_INTERNAL, "expected %d inputs and %d outputs, got %d and %d",
                              n_in, n_out, c->n_in, c->n_out);
    return CT_OK;
}

static ct_status need_x(ct__call *c, const ct_tensor *x) {
    ct_status st = ct__need_float(c, x);
    if (st) return st;
    if (x->rank < 1)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "x must have at least one dimension (the channels), got %s",
                              CT__DESC(x));
    return CT_OK;
}

static const char *const fwd_names[5] = {"x", "scale", "offset", "mean", "variance"};

static ct_status infer_fused(ct__call *c) {
    const ct__batch_norm_attrs *a = c->attrs;
    ct_status st = need_io(c, a->training ? 3 : 5, a->training ? 3 : 1);
    if (!st) st = need_x(c, c->in[0]);
    for (int i = 1; !st && i < c->n_in; i++)
        st = need_channel_vector(c, fwd_names[i], c->in[0], c->in[i]);
    if (st) return st;
    const ct_tensor *x = c->in[0];
    ct__spec_set(&c->spec[0], x->dtype, x->rank, x->shape);
    for (int i = 1; i < c->n_out; i++) ct__spec_set(&c->spec[i], x->dtype, 1, &x->shape[x->rank - 1]);
    return CT_OK;
}

static const char *const grad_names[7] = {"y_backprop", "x",  "scale", "mean",
                                          "variance",   "mean_backprop", "variance_backprop"};

static ct_status infer_fused_grad(ct__call *c) {
    const ct__batch_norm_attrs *a = c->attrs;
    ct_status st = need_io(c, a->training ? 7 : 5, 3);
    const ct_tensor *dy = c->in[0], *x = c->in[1];
    if (!st) st = need_x(c, x);
    if (!st) st = ct__need_same_dtype(c, x, dy);
    if (st) return st;
    if (dy->rank != x->rank || memcmp(dy->shape, x->shape, (size_t)x->rank * sizeof *x->shape))
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "y_backprop %s and x %s must have the same shape", CT__DESC(dy),
                              CT__DESC(x));
    for (int i = 2; i < c->n_in; i++)
        if ((st = need_channel_vector(c, grad_names[i], x, c->in[i]))) return st;
    ct__spec_set(&c->spec[0], x->dtype, x->rank, x->shape);
    for (int i = 1; i < 3; i++) ct__spec_set(&c->spec[i], x->dtype, 1, &x->shape[x->rank - 1]);
    return CT_OK;
}

/* ---- gradients -------------------------------------------------------------- */

static ct_status run_grad(const char *api, const ct__batch_norm_attrs *a, int n_in,
                          const ct_tensor *const *in, ct_tensor **out) {
    return ct__run(&ct__op_fused_batch_norm_grad, api, n_in, in, a, sizeof *a, 3, out, NULL);
}

/* Training: the gradient op with the batch statistics the forward call
 * returned and the gradients that reach them (zeros when unconnected).
 * Inference: the gradient op gives dx, dgamma = sum(dy * xhat) and dbeta =
 * sum(dy); the statistics' gradients follow from those two:
 *   dmean = -gamma * inv_std * dbeta,  dvar = -gamma * inv_std^2 * dgamma / 2. */
static ct_status fused_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct__batch_norm_attrs *a = c->attrs;
    const char *api = "FusedBatchNormV3 (gradient)";
    ct_tensor *g[3];
    if (a->training) {
        const ct_tensor *in[7] = {dy[0], c->in[0], c->in[1], c->out[1], c->out[2], dy[1], dy[2]};
        if (run_grad(api, a, 7, in, g)) return ct_last_status();
        for (int i = 0; i < 3; i++) dx[i] = g[i];
        return CT_OK;
    }
    const ct_tensor *in[5] = {dy[0], c->in[0], c->in[1], c->in[3], c->in[4]};
    if (run_grad(api, a, 5, in, g)) return ct_last_status();
    for (int i = 0; i < 3; i++) dx[i] = g[i];
    ct_tensor *gamma = c->in[1], *var = c->in[4];
    ct_tensor *inv = ct_rsqrt(ct_add(var, ct_scalar_of(var->dtype, a->epsilon)));
    ct_tensor *k = ct_multiply(gamma, inv);
    dx[3] = ct_negative(ct_multiply(k, g[2]));
    dx[4] = ct_multiply(ct_multiply(k, ct_multiply(inv, g[1])), ct_scalar_of(var->dtype, -0.5));
    return ct__grad_status(dx, 5);
}

static ct_status fused_grad_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    (void)dy;
    (void)dx;
    return ct__call_error(c, CT_ERR_UNIMPLEMENTED,
                          "second-order gradients of fused batch normalization are not "
                          "supported (x %s)",
                          CT__DESC(c->in[1]));
}

const ct__op ct__op_fused_batch_norm = {
    .name = "FusedBatchNormV3", .infer = infer_fused,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_fused_batch_norm}, .grad = fused_grad,
};
const ct__op ct__op_fused_batch_norm_grad = {
    .name = "FusedBatchNormGradV3", .infer = infer_fused_grad,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_fused_batch_norm_grad}, .grad = fused_grad_grad,
};

/* ---- entry points ----------------------------------------------------------- */

static bool any_null(const char *api, int n, const ct_tensor *const *in) {
    for (int i = 0; i < n; i++)
        if (!in[i]) {
            if (!ct_last_status())
                ct__error(CT_ERR_INVALID_ARGUMENT, "%s: input %d is NULL", api, i);
            return true;
        }
    return false;
}

static ct_status check_epsilon(const char *api, double epsilon) {
    if (!(epsilon >= 0))
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: epsilon must be non-negative, got %g",
                         api, epsilon);
    return CT_OK;
}

ct_status ct__fused_batch_norm(const ct_tensor *x, const ct_tensor *gamma,
                               const ct_tensor *beta, double epsilon, ct_tensor **y,
                               ct_tensor **mean, ct_tensor **variance) {
    const char *api = "ct__fused_batch_norm";
    *y = *mean = *variance = NULL;
    const ct_tensor *in[3] = {x, gamma, beta};
    if (any_null(api, 3, in)) return ct_last_status();
    ct_status st = check_epsilon(api, epsilon);
    if (st) return st;
    ct__batch_norm_attrs a = {.epsilon = epsilon, .training = 1};
    ct_tensor *out[3];
    if ((st = ct__run(&ct__op_fused_batch_norm, api, 3, in, &a, sizeof a, 3, out, NULL)))
        return st;
    *y = out[0];
    *mean = out[1];
    *variance = out[2];
    return CT_OK;
}

ct_tensor *ct__fused_batch_norm_inference(const ct_tensor *x, const ct_tensor *gamma,
                                          const ct_tensor *beta, const ct_tensor *mean,
                                          const ct_tensor *variance, double epsilon) {
    const char *api = "ct__fused_batch_norm_inference";
    const ct_tensor *in[5] = {x, gamma, beta, mean, variance};
    if (any_null(api, 5, in) || check_epsilon(api, epsilon)) return NULL;
    ct__batch_norm_attrs a = {.epsilon = epsilon, .training = 0};
    return ct__run1(&ct__op_fused_batch_norm, api, 5, in, &a, sizeof a);
}
