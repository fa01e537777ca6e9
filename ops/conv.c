/* tf.nn.convolution, conv_transpose and depthwise_conv: definitions, TF's
 * padding arithmetic, shape rules and gradients. Kernels are in
 * ops/cpu/conv.c. The three ops (Conv, ConvBackpropInput,
 * ConvBackpropFilter) are each other's gradients, so gradients of any
 * order are convolutions again (see ops/conv.h). */
#include <string.h>
#include <strings.h>

#include "ops/conv.h"

ct_status ct__window(const ct__call *c, int64_t in, int64_t k, int64_t s, int64_t d,
                     int padding, int64_t *out, int64_t *pl, int64_t *pr) {
    int64_t keff = (k - 1) * d + 1;
    if (padding == CT__PAD_SAME) {
        *out = (in + s - 1) / s;
        int64_t need = (*out - 1) * s + keff - in;
        if (need < 0) need = 0;
        *pl = need / 2;
        *pr = need - *pl;
    } else {
        /* C's division truncates toward zero, as TF's int64 arithmetic. */
        *out = (in - keff + s) / s;
        *pl = *pr = 0;
    }
    if (*out < 0)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "computed output size would be negative: %lld (input size %lld, "
                              "effective kernel size %lld, stride %lld, padding valid)",
                              (long long)*out, (long long)in, (long long)keff, (long long)s);
    return CT_OK;
}

ct_status ct__conv_geom_of(const ct__call *c, const ct__conv_attrs *a, int xrank,
                           const int64_t *xs, const int64_t *ws, ct__conv_geom *g) {
    int nsp = a->nsp;
    char xb[96], wb[96];
    memset(g, 0, sizeof *g);
    ct_shape_str(xrank, xs, xb, sizeof xb);
    ct_shape_str(nsp + 2, ws, wb, sizeof wb);
    if (xrank < nsp + 2)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "x must have rank %d ([batch, %d spatial dims, channels]) for a "
                              "kernel of rank %d, got x %s and kernel %s",
                              nsp + 2, nsp, nsp + 2, xb, wb);
    int nb = xrank - nsp - 1;
    g->nsp = nsp;
    g->batch = 1;
    for (int i = 0; i < nb; i++) g->batch *= xs[i];
    g->c = xs[xrank - 1];
    g->o = ws[nsp + 1];
    g->groups = a->groups;
    int64_t icg = ws[nsp];
    if (icg <= 0 || g->c != icg * g->groups)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "input channels (%lld) must equal the kernel's input channels "
                              "(%lld) times groups (%lld): x %s, kernel %s",
                              (long long)g->c, (long long)icg, (long long)g->groups, xb, wb);
    if (g->o % g->groups != 0)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "output channels (%lld) must be divisible by groups (%lld): "
                              "kernel %s", (long long)g->o, (long long)g->groups, wb);
    for (int i = 0; i < 3; i++) {
        g->in[i] = g->k[i] = g->out[i] = g->s[i] = g->d[i] = 1;
        g->pl[i] = g->pr[i] = 0;
    }
    for (int i = 0; i < nsp; i++) {
        g->in[i] = xs[nb + i];
        g->k[i] = ws[i];
        g->s[i] = a->strides[i];
        g->d[i] = a->dilations[i];
        if (g->k[i] <= 0)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "kernel spatial sizes must be positive, got kernel %s", wb);
        ct_status st = ct__window(c, g->in[i], g->k[i], g->s[i], g->d[i], a->padding,
                                  &g->out[i], &g->pl[i], &g->pr[i]);
        if (st) return st;
    }
    return CT_OK;
}

/* The forward output shape of the geometry: x's batch dims, out, o. */
static int out_shape(const ct__conv_geom *g, int xrank, const int64_t *xs, int64_t *shape) {
    int nb = xrank - g->nsp - 1;
    for (int i = 0; i < nb; i++) shape[i] = xs[i];
    for (int i = 0; i < g->nsp; i++) shape[nb + i] = g->out[i];
    shape[xrank - 1] = g->o;
    return xrank;
}

static ct_status need_float_pair(ct__call *c, const ct_tensor *a, const ct_tensor *b) {
    ct_status st = ct__need_float(c, a);
    if (!st) st = ct__need_same_dtype(c, a, b);
    return st;
}

static ct_status need_kernel_rank(ct__call *c, const ct__conv_attrs *a, int rank,
                                  const int64_t *shape) {
    if (rank != a->nsp + 2)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "expected a kernel of rank %d, got %s", a->nsp + 2,
                              CT__SHAPE(rank, shape));
    return CT_OK;
}

static ct_status infer_conv(ct__call *c) {
    const ct__conv_attrs *a = c->attrs;
    const ct_tensor *x = c->in[0], *w = c->in[1];
    ct_status st = need_float_pair(c, x, w);
    if (!st) st = need_kernel_rank(c, a, w->rank, w->shape);
    if (st) return st;
    ct__conv_geom g;
    if ((st = ct__conv_geom_of(c, a, x->rank, x->shape, w->shape, &g))) return st;
    int64_t shape[CT_MAX_RANK];
    int r = out_shape(&g, x->rank, x->shape, shape);
    ct__spec_set(&c->spec[0], x->dtype, r, shape);
    return CT_OK;
}

/* dy must be the forward output of the geometry. */
static ct_status check_dy(ct__call *c, const ct__conv_geom *g, int xrank, const int64_t *xs,
                          const ct_tensor *dy) {
    int64_t shape[CT_MAX_RANK];
    int r = out_shape(g, xrank, xs, shape);
    if (dy->rank == r && !memcmp(dy->shape, shape, (size_t)r * sizeof *shape)) return CT_OK;
    return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                          "the gradient (or transposed input) %s does not match the "
                          "convolution output %s of an input of shape %s",
                          CT__DESC(dy), CT__SHAPE(r, shape), CT__SHAPE(xrank, xs));
}

static ct_status infer_backprop_input(ct__call *c) {
    const ct__conv_attrs *a = c->attrs;
    const ct_tensor *dy = c->in[0], *w = c->in[1];
    ct_status st = need_float_pair(c, dy, w);
    if (!st) st = need_kernel_rank(c, a, w->rank, w->shape);
    if (st) return st;
    ct__conv_geom g;
    if ((st = ct__conv_geom_of(c, a, a->rank, a->shape, w->shape, &g))) return st;
    if ((st = check_dy(c, &g, a->rank, a->shape, dy))) return st;
    ct__spec_set(&c->spec[0], dy->dtype, a->rank, a->shape);
    return CT_OK;
}

static ct_status infer_backprop_filter(ct__call *c) {
    const ct__conv_attrs *a = c->attrs;
    const ct_tensor *x = c->in[0], *dy = c->in[1];
    ct_status st = need_float_pair(c, x, dy);
    if (!st) st = need_kernel_rank(c, a, a->rank, a->shape);
    if (st) return st;
    ct__conv_geom g;
    if ((st = ct__conv_geom_of(c, a, x->rank, x->shape, a->shape, &g))) return st;
    if ((st = check_dy(c, &g, x->rank, x->shape, dy))) return st;
    ct__spec_set(&c->spec[0], x->dtype, a->rank, a->shape);
    return CT_OK;
}

/* ---- running the three ops ------------------------------------------------ */

static ct_tensor *run_conv(const char *api, const ct__conv_attrs *a, const ct_tensor *x,
                           const ct_tensor *w) {
    const ct_tensor *in[2] = {x, w};
    return ct__run1(&ct__op_conv, api, 2, in, a, sizeof *a);
}

static ct_tensor *run_backprop_input(const char *api, const ct__conv_attrs *base,
                                     const ct_tensor *dy, const ct_tensor *w, int rank,
                                     const int64_t *shape) {
    ct__conv_attrs a = *base;
    a.rank = rank;
    memset(a.shape, 0, sizeof a.shape);
    memcpy(a.shape, shape, (size_t)rank * sizeof *shape);
    const ct_tensor *in[2] = {dy, w};
    return ct__run1(&ct__op_conv_backprop_input, api, 2, in, &a, sizeof a);
}

static ct_tensor *run_backprop_filter(const char *api, const ct__conv_attrs *base,
                                      const ct_tensor *x, const ct_tensor *dy, int rank,
                                      const int64_t *shape) {
    ct__conv_attrs a = *base;
    a.rank = rank;
    memset(a.shape, 0, sizeof a.shape);
    memcpy(a.shape, shape, (size_t)rank * sizeof *shape);
    const ct_tensor *in[2] = {x, dy};
    return ct__run1(&ct__op_conv_backprop_filter, api, 2, in, &a, sizeof a);
}

/* ---- gradients -------------------------------------------------------------- */

/* y = conv(x, w): dx = conv^T(dy, w), dw = corr(x, dy). */
static ct_status conv_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct__conv_attrs *a = c->attrs;
    const ct_tensor *x = c->in[0], *w = c->in[1];
    dx[0] = run_backprop_input("Conv (gradient)", a, dy[0], w, x->rank, x->shape);
    dx[1] = run_backprop_filter("Conv (gradient)", a, x, dy[0], w->rank, w->shape);
    return ct__grad_status(dx, 2);
}

/* dx = conv^T(dy, w) is bilinear, and <g, conv^T(dy, w)> = <conv(g, w), dy>
 * = <corr(g, dy), w>. */
static ct_status backprop_input_grad(const ct__call *c, ct_tensor *const *g, ct_tensor **dx) {
    const ct__conv_attrs *a = c->attrs;
    const ct_tensor *dy = c->in[0], *w = c->in[1];
    dx[0] = run_conv("ConvBackpropInput (gradient)", a, g[0], w);
    dx[1] = run_backprop_filter("ConvBackpropInput (gradient)", a, g[0], dy, w->rank,
                                w->shape);
    return ct__grad_status(dx, 2);
}

/* dw = corr(x, dy): <g, corr(x, dy)> = <conv^T(dy, g), x> = <conv(x, g), dy>. */
static ct_status backprop_filter_grad(const ct__call *c, ct_tensor *const *g, ct_tensor **dx) {
    const ct__conv_attrs *a = c->attrs;
    const ct_tensor *x = c->in[0], *dy = c->in[1];
    dx[0] = run_backprop_input("ConvBackpropFilter (gradient)", a, dy, g[0], x->rank,
                               x->shape);
    dx[1] = run_conv("ConvBackpropFilter (gradient)", a, x, g[0]);
    return ct__grad_status(dx, 2);
}

const ct__op ct__op_conv = {
    .name = "Conv", .infer = infer_conv,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_conv}, .grad = conv_grad,
};
const ct__op ct__op_conv_backprop_input = {
    .name = "ConvBackpropInput", .infer = infer_backprop_input,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_conv_backprop_input}, .grad = backprop_input_grad,
};
const ct__op ct__op_conv_backprop_filter = {
    .name = "ConvBackpropFilter", .infer = infer_backprop_filter,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_conv_backprop_filter}, .grad = backprop_filter_grad,
};

/* ---- public functions ------------------------------------------------------- */

ct_status ct__parse_padding(const char *api, const char *padding, int *out) {
    if (!padding || !strcasecmp(padding, "valid")) *out = CT__PAD_VALID;
    else if (!strcasecmp(padding, "same")) *out = CT__PAD_SAME;
    else
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: padding must be \"valid\" or \"same\", got \"%s\"", api, padding);
    return CT_OK;
}

/* NULL inputs: keep the error that made them, or name the op. */
static bool any_null(const char *api, const ct_tensor *a, const ct_tensor *b) {
    if (a && b) return false;
    if (!ct_last_status())
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: input %d is NULL", api, a ? 1 : 0);
    return true;
}

/* Attributes from the public options for nsp spatial dims. */
static ct_status attrs_of(const char *api, const ct_conv_opts *o, int nsp,
                          ct__conv_attrs *a) {
    memset(a, 0, sizeof *a);
    a->nsp = nsp;
    a->groups = o && o->groups ? o->groups : 1;
    if (a->groups < 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: groups must be positive, got %lld", api,
                         (long long)a->groups);
    for (int i = 0; i < 3; i++) {
        a->strides[i] = o && o->strides[i] ? o->strides[i] : 1;
        a->dilations[i] = o && o->dilations[i] ? o->dilations[i] : 1;
        if (i >= nsp) a->strides[i] = a->dilations[i] = 1;
        if (a->strides[i] < 0 || a->dilations[i] < 0)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: strides and dilations must be positive, got stride %lld and "
                             "dilation %lld in spatial dimension %d", api,
                             (long long)a->strides[i], (long long)a->dilations[i], i);
    }
    return ct__parse_padding(api, o ? o->padding : NULL, &a->padding);
}

static ct_status spatial_dims(const char *api, const ct_tensor *kernel, int max_nsp,
                              const char *layout, int *nsp) {
    *nsp = kernel->rank - 2;
    if (*nsp < 1 || *nsp > max_nsp)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: expected a kernel of rank 3 to %d (%s), got %s", api,
                         max_nsp + 2, layout, CT__DESC(kernel));
    return CT_OK;
}

ct_tensor *ct_conv(const ct_tensor *x, const ct_tensor *kernel, const ct_conv_opts *opts) {
    const char *api = "ct_conv";
    if (any_null(api, x, kernel)) return NULL;
    int nsp;
    ct__conv_attrs a;
    if (spatial_dims(api, kernel, 3, "[k..., in / groups, out]", &nsp) ||
        attrs_of(api, opts, nsp, &a))
        return NULL;
    return run_conv(api, &a, x, kernel);
}

ct_tensor *ct_conv_transpose(const ct_tensor *x, const ct_tensor *kernel,
                             const int64_t *output_spatial, const ct_conv_opts *opts) {
    const char *api = "ct_conv_transpose";
    if (any_null(api, x, kernel)) return NULL;
    int nsp;
    ct__conv_attrs a;
    if (spatial_dims(api, kernel, 3, "[k..., out / groups, in]", &nsp) ||
        attrs_of(api, opts, nsp, &a))
        return NULL;
    if (x->rank < nsp + 2) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s: x must have rank %d ([batch, %d spatial dims, channels]) for a kernel "
                  "of rank %d, got x %s and kernel %s", api, nsp + 2, nsp, nsp + 2,
                  CT__DESC(x), CT__DESC(kernel));
        return NULL;
    }
    if (x->shape[x->rank - 1] != kernel->shape[nsp + 1]) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s: input channels of x (%lld) must equal the kernel's in (its last "
                  "dimension, %lld; kernel [k..., out / groups, in]): x %s, kernel %s", api,
                  (long long)x->shape[x->rank - 1], (long long)kernel->shape[nsp + 1],
                  CT__DESC(x), CT__DESC(kernel));
        return NULL;
    }
    /* The result is the input of a forward convolution whose output is x. */
    int64_t shape[CT_MAX_RANK];
    int nb = x->rank - nsp - 1;
    for (int i = 0; i < nb; i++) shape[i] = x->shape[i];
    for (int i = 0; i < nsp; i++) {
        int64_t in = x->shape[nb + i], s = a.strides[i];
        int64_t keff = (kernel->shape[i] - 1) * a.dilations[i] + 1;
        if (output_spatial) shape[nb + i] = output_spatial[i];
        else if (a.padding == CT__PAD_SAME) shape[nb + i] = in * s;
        else shape[nb + i] = in * s + (keff > s ? keff - s : 0);
        if (shape[nb + i] < 0) {
            ct__error(CT_ERR_INVALID_ARGUMENT,
                      "%s: output spatial sizes must be non-negative, got %lld in dimension "
                      "%d", api, (long long)shape[nb + i], i);
            return NULL;
        }
    }
    shape[x->rank - 1] = kernel->shape[nsp] * a.groups;
    return run_backprop_input(api, &a, x, kernel, x->rank, shape);
}

ct_tensor *ct_depthwise_conv(const ct_tensor *x, const ct_tensor *kernel,
                             const ct_conv_opts *opts) {
    const char *api = "ct_depthwise_conv";
    if (any_null(api, x, kernel)) return NULL;
    int nsp;
    ct__conv_attrs a;
    if (spatial_dims(api, kernel, 2, "[k..., in, multiplier]", &nsp) ||
        attrs_of(api, opts, nsp, &a))
        return NULL;
    int64_t cin = kernel->shape[nsp];
    if (x->rank < nsp + 2 || x->shape[x->rank - 1] != cin || cin <= 0) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s: x must be [batch, %d spatial dims, channels] with the kernel's %lld "
                  "input channels, got x %s and kernel %s", api, nsp, (long long)cin,
                  CT__DESC(x), CT__DESC(kernel));
        return NULL;
    }
    /* [k..., in, m] is [k..., 1, in * m] in memory: a convolution with one
     * group per input channel whose output channel c m + j reads channel c. */
    int64_t ws[CT_MAX_RANK];
    memcpy(ws, kernel->shape, (size_t)nsp * sizeof *ws);
    ws[nsp] = 1;
    ws[nsp + 1] = cin * kernel->shape[nsp + 1];
    a.groups = cin;
    ct_tensor *w = ct_reshape(kernel, nsp + 2, ws);
    if (!w) return NULL;
    ct_tensor *y = run_conv(api, &a, x, w);
    ct_tensor_free(w);
    return y;
}
