/* tf.nn.max_pool and avg_pool: definitions, shape rules and gradients.
 * Kernels are in ops/cpu/pool.c; the ops are listed in ops/pool.h. */
#include <string.h>

#include "ops/pool.h"

ct_status ct__pool_geom_of(const ct__call *c, const ct__pool_attrs *a, int xrank,
                           const int64_t *xs, ct__conv_geom *g) {
    memset(g, 0, sizeof *g);
    if (xrank != a->nsp + 2)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "x must have rank %d ([batch, %d spatial dims, channels]), got %s",
                              a->nsp + 2, a->nsp, CT__SHAPE(xrank, xs));
    g->nsp = a->nsp;
    g->batch = xs[0];
    g->c = g->o = xs[xrank - 1];
    g->groups = 1;
    for (int i = 0; i < 3; i++) {
        g->in[i] = g->k[i] = g->out[i] = g->s[i] = g->d[i] = 1;
        g->pl[i] = g->pr[i] = 0;
    }
    for (int i = 0; i < a->nsp; i++) {
        g->in[i] = xs[1 + i];
        g->k[i] = a->k[i];
        g->s[i] = a->s[i];
        ct_status st = ct__window(c, g->in[i], g->k[i], g->s[i], 1, a->padding, &g->out[i],
                                  &g->pl[i], &g->pr[i]);
        if (st) return st;
    }
    return CT_OK;
}

static void pooled_shape(const ct__conv_geom *g, int64_t *shape) {
    shape[0] = g->batch;
    for (int i = 0; i < g->nsp; i++) shape[1 + i] = g->out[i];
    shape[g->nsp + 1] = g->c;
}

static ct_status infer_pool(ct__call *c) {
    const ct__pool_attrs *a = c->attrs;
    const ct_tensor *x = c->in[0];
    bool avg = c->op->code == 1;
    ct_status st = avg ? ct__need_float(c, x) : ct__need_numeric(c, x);
    if (st) return st;
    ct__conv_geom g;
    if ((st = ct__pool_geom_of(c, a, x->rank, x->shape, &g))) return st;
    int64_t shape[CT_MAX_RANK];
    pooled_shape(&g, shape);
    ct__spec_set(&c->spec[0], x->dtype, x->rank, shape);
    return CT_OK;
}

/* MaxPoolGrad (x, dy) -> x's shape; MaxPoolGradGrad (x, g) -> y's shape. */
static ct_status infer_max_grad(ct__call *c) {
    const ct__pool_attrs *a = c->attrs;
    const ct_tensor *x = c->in[0], *d = c->in[1];
    ct_status st = ct__need_float(c, x);
    if (!st) st = ct__need_same_dtype(c, x, d);
    if (st) return st;
    ct__conv_geom g;
    if ((st = ct__pool_geom_of(c, a, x->rank, x->shape, &g))) return st;
    int64_t shape[CT_MAX_RANK];
    pooled_shape(&g, shape);
    bool grad = c->op == &ct__op_max_pool_grad;
    const int64_t *want = grad ? shape : x->shape;
    if (d->rank != x->rank || memcmp(d->shape, want, (size_t)x->rank * sizeof *want))
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "the gradient %s does not match the pooled shape %s of x %s",
                              CT__DESC(d), CT__SHAPE(x->rank, want), CT__DESC(x));
    ct__spec_set(&c->spec[0], x->dtype, x->rank, grad ? x->shape : shape);
    return CT_OK;
}

static ct_status infer_avg_grad(ct__call *c) {
    const ct__pool_attrs *a = c->attrs;
    const ct_tensor *dy = c->in[0];
    ct_status st = ct__need_float(c, dy);
    if (st) return st;
    ct__conv_geom g;
    if ((st = ct__pool_geom_of(c, a, a->rank, a->shape, &g))) return st;
    int64_t shape[CT_MAX_RANK];
    pooled_shape(&g, shape);
    if (dy->rank != a->rank || memcmp(dy->shape, shape, (size_t)a->rank * sizeof *shape))
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "the gradient %s does not match the pooled shape %s of x %s",
                              CT__DESC(dy), CT__SHAPE(a->rank, shape),
                              CT__SHAPE(a->rank, a->shape));
    ct__spec_set(&c->spec[0], dy->dtype, a->rank, a->shape);
    return CT_OK;
}

static ct_tensor *run2(const ct__op *op, const char *api, const ct__pool_attrs *a,
                       const ct_tensor *x, const ct_tensor *d) {
    const ct_tensor *in[2] = {x, d};
    return ct__run1(op, api, 2, in, a, sizeof *a);
}

static ct_status max_pool_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    dx[0] = run2(&ct__op_max_pool_grad, "MaxPool (gradient)", c->attrs, c->in[0], dy[0]);
    return ct__grad_status(dx, 1);
}

/* dx = route(x, dy) is linear in dy, with adjoint gather(x, .); it is
 * piecewise constant in x. */
static ct_status max_pool_grad_grad(const ct__call *c, ct_tensor *const *g, ct_tensor **dx) {
    dx[0] = ct_zeros_like(c->in[0]);
    dx[1] = run2(&ct__op_max_pool_grad_grad, "MaxPoolGrad (gradient)", c->attrs, c->in[0],
                 g[0]);
    return ct__grad_status(dx, 2);
}

static ct_status max_pool_grad_grad_grad(const ct__call *c, ct_tensor *const *g,
                                         ct_tensor **dx) {
    dx[0] = ct_zeros_like(c->in[0]);
    dx[1] = run2(&ct__op_max_pool_grad, "MaxPoolGradGrad (gradient)", c->attrs, c->in[0],
                 g[0]);
    return ct__grad_status(dx, 2);
}

static ct_tensor *run_avg_grad(const char *api, const ct__pool_attrs *base,
                               const ct_tensor *dy, int rank, const int64_t *shape) {
    ct__pool_attrs a = *base;
    a.rank = rank;
    memset(a.shape, 0, sizeof a.shape);
    memcpy(a.shape, shape, (size_t)rank * sizeof *shape);
    return ct__run1(&ct__op_avg_pool_grad, api, 1, &dy, &a, sizeof a);
}

static ct_status avg_pool_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct_tensor *x = c->in[0];
    dx[0] = run_avg_grad("AvgPool (gradient)", c->attrs, dy[0], x->rank, x->shape);
    return ct__grad_status(dx, 1);
}

/* AvgPoolGrad is AvgPool's adjoint, so its own adjoint is AvgPool. */
static ct_status avg_pool_grad_grad(const ct__call *c, ct_tensor *const *g, ct_tensor **dx) {
    const ct_tensor *in = g[0];
    dx[0] = ct__run1(&ct__op_avg_pool, "AvgPoolGrad (gradient)", 1, &in, c->attrs,
                     c->attrs_size);
    return ct__grad_status(dx, 1);
}

const ct__op ct__op_max_pool = {
    .name = "MaxPool", .infer = infer_pool,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_pool}, .grad = max_pool_grad, .code = 0,
};
const ct__op ct__op_max_pool_grad = {
    .name = "MaxPoolGrad", .infer = infer_max_grad,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_max_pool_grad}, .grad = max_pool_grad_grad,
};
const ct__op ct__op_max_pool_grad_grad = {
    .name = "MaxPoolGradGrad", .infer = infer_max_grad,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_max_pool_grad_grad}, .grad = max_pool_grad_grad_grad,
};
const ct__op ct__op_avg_pool = {
    .name = "AvgPool", .infer = infer_pool,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_pool}, .grad = avg_pool_grad, .code = 1,
};
const ct__op ct__op_avg_pool_grad = {
    .name = "AvgPoolGrad", .infer = infer_avg_grad,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_avg_pool_grad}, .grad = avg_pool_grad_grad,
};

static ct_tensor *pool(const ct__op *op, const char *api, const ct_tensor *x,
                       const ct_pool_opts *o) {
    if (!x) {
        if (!ct_last_status()) ct__error(CT_ERR_INVALID_ARGUMENT, "%s: input 0 is NULL", api);
        return NULL;
    }
    ct__pool_attrs a;
    memset(&a, 0, sizeof a);
    a.nsp = x->rank - 2;
    if (a.nsp < 1 || a.nsp > 3) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s: x must have rank 3, 4 or 5 ([batch, spatial..., channels]), got %s", api,
                  CT__DESC(x));
        return NULL;
    }
    if (!o) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: pool_size is required (opts is NULL)", api);
        return NULL;
    }
    for (int i = 0; i < 3; i++) {
        a.k[i] = a.s[i] = 1;
        if (i >= a.nsp) continue;
        a.k[i] = o->pool_size[i];
        a.s[i] = o->strides[i] ? o->strides[i] : o->pool_size[i];
        if (a.k[i] <= 0 || a.s[i] <= 0) {
            ct__error(CT_ERR_INVALID_ARGUMENT,
                      "%s: pool_size and strides must be positive, got pool_size %d and "
                      "stride %d in spatial dimension %d for x %s", api, o->pool_size[i],
                      o->strides[i], i, CT__DESC(x));
            return NULL;
        }
    }
    if (ct__parse_padding(api, o->padding, &a.padding)) return NULL;
    return ct__run1(op, api, 1, &x, &a, sizeof a);
}

ct_tensor *ct_max_pool(const ct_tensor *x, const ct_pool_opts *opts) {
    return pool(&ct__op_max_pool, "ct_max_pool", x, opts);
}

ct_tensor *ct_avg_pool(const ct_tensor *x, const ct_pool_opts *opts) {
    return pool(&ct__op_avg_pool, "ct_avg_pool", x, opts);
}
