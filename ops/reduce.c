/* Reduction ops: definitions and gradients (kernels in ops/cpu/reduce.c). */
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

/* dy broadcast back over the reduced axes of x. */
static ct_tensor *expand_back(const ct__call *c, ct_tensor *dy) {
    const ct__reduce_attrs *a = c->attrs;
    const ct_tensor *x = c->in[0];
    int64_t kshape[CT_MAX_RANK];
    int kr = ct__reduced_shape(x, a->mask, true, kshape);
    return ct_broadcast_to(ct_reshape(dy, kr, kshape), x->rank, x->shape);
}

static ct_status sum_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    dx[0] = expand_back(c, dy[0]);
    return dx[0] ? CT_OK : ct_last_status();
}

const ct__op ct__op_sum = {.name = "Sum", .infer = infer_reduce,
                           .kernel = {[CT_DEVICE_CPU] = ct__cpu_reduce}, .grad = sum_grad,
                           .code = CT__RSUM};

ct_tensor *ct__reduce(const ct__op *op, const char *api, const ct_tensor *t, const int *axes,
                      int naxes, bool keepdims) {
    ct__reduce_attrs a = {.keepdims = keepdims};
    if (t) {
        ct__call c = {.api = api};
        if (ct__axes_mask(&c, axes, naxes, t->rank, &a.mask)) return NULL;
    }
    return ct__run1(op, api, 1, &t, &a, sizeof a);
}

ct_tensor *ct_reduce_sum(const ct_tensor *t, const int *axes, int naxes, bool keepdims) {
    return ct__reduce(&ct__op_sum, "ct_reduce_sum", t, axes, naxes, keepdims);
}
