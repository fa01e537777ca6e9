/* tf.matmul (BatchMatMulV2): definition, shape rule and gradient. Kernels
 * are in ops/cpu/matmul.c and ops/cuda. */
#include "ops/matmul.h"

static ct_status infer_matmul(ct__call *c) {
    const ct__matmul_attrs *at = c->attrs;
    const ct_tensor *a = c->in[0], *b = c->in[1];
    ct_status st = ct__need_same_dtype(c, a, b);
    if (st) return st;
    if (a->dtype == CT_BOOL || a->dtype == CT_UINT8)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "expected float or int32/int64 tensors, got %s", CT__DESC(a));
    if (a->rank < 2 || b->rank < 2)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "inputs must have rank >= 2, got a %s and b %s", CT__DESC(a),
                              CT__DESC(b));
    int64_t ka = at->transpose_a ? a->shape[a->rank - 2] : a->shape[a->rank - 1];
    int64_t kb = at->transpose_b ? b->shape[b->rank - 1] : b->shape[b->rank - 2];
    if (ka != kb)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "inner dimensions differ: a is %s%s, b is %s%s (%lld vs %lld)",
                              CT__DESC(a), at->transpose_a ? " (transposed)" : "", CT__DESC(b),
                              at->transpose_b ? " (transposed)" : "", (long long)ka,
                              (long long)kb);
    int rank;
    int64_t shape[CT_MAX_RANK];
    if ((st = ct__broadcast_shapes(c, a->rank - 2, a->shape, b->rank - 2, b->shape, &rank,
                                   shape)))
        return st;
    shape[rank] = at->transpose_a ? a->shape[a->rank - 1] : a->shape[a->rank - 2];
    shape[rank + 1] = at->transpose_b ? b->shape[b->rank - 2] : b->shape[b->rank - 1];
    ct__spec_set(&c->spec[0], a->dtype, rank + 2, shape);
    return CT_OK;
}

void ct__matmul_dims_of(const ct__call *c, ct__matmul_dims *d) {
    const ct__matmul_attrs *at = c->attrs;
    const ct_tensor *a = c->in[0], *b = c->in[1], *o = c->out[0];
    d->m = o->shape[o->rank - 2];
    d->n = o->shape[o->rank - 1];
    d->k = at->transpose_a ? a->shape[a->rank - 2] : a->shape[a->rank - 1];
    d->brank = o->rank - 2;
    d->batch = 1;
    for (int i = 0; i < d->brank; i++) {
        d->bshape[i] = o->shape[i];
        d->batch *= o->shape[i];
    }
    d->a_batch = ct__numel(a->rank - 2, a->shape);
    d->b_batch = ct__numel(b->rank - 2, b->shape);
}

int64_t ct__matmul_batch_index(const ct__call *c, const ct__matmul_dims *d, int which,
                               int64_t i) {
    const ct_tensor *t = c->in[which];
    int r = t->rank - 2;
    if ((which == 0 ? d->a_batch : d->b_batch) == d->batch && r == d->brank) return i;
    int64_t idx = 0, stride = 1;
    for (int ax = d->brank - 1; ax >= 0; ax--) {
        int64_t coord = i % d->bshape[ax];
        i /= d->bshape[ax];
        int j = ax - (d->brank - r);
        if (j < 0) continue;
        if (t->shape[j] != 1) idx += coord * stride;
        stride *= t->shape[j];
    }
    return idx;
}

static ct_tensor *mm(const ct_tensor *a, const ct_tensor *b, bool ta, bool tb) {
    return ct_matmul_ex(a, b, ta, tb);
}

/* TF's _BatchMatMulV2Grad: the product rule for each transpose case, then
 * a sum over the batch dims each input was broadcast along. */
static ct_status matmul_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct__matmul_attrs *at = c->attrs;
    const ct_tensor *a = c->in[0], *b = c->in[1];
    ct_tensor *g = dy[0], *ga, *gb;
    if (!at->transpose_a && !at->transpose_b) {
        ga = mm(g, b, false, true);
        gb = mm(a, g, true, false);
    } else if (!at->transpose_a && at->transpose_b) {
        ga = mm(g, b, false, false);
        gb = mm(g, a, true, false);
    } else if (at->transpose_a && !at->transpose_b) {
        ga = mm(b, g, false, true);
        gb = mm(a, g, false, false);
    } else {
        ga = mm(b, g, true, true);
        gb = mm(g, a, true, true);
    }
    dx[0] = ct__unbroadcast(ga, a->rank, a->shape);
    dx[1] = ct__unbroadcast(gb, b->rank, b->shape);
    return ct__grad_status(dx, 2);
}

const ct__op ct__op_matmul = {
    .name = "BatchMatMulV2", .infer = infer_matmul,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_matmul, CT__CUDA(ct__cuda_matmul)},
    .grad = matmul_grad,
};

ct_tensor *ct_matmul_ex(const ct_tensor *a, const ct_tensor *b, bool transpose_a,
                        bool transpose_b) {
    const ct_tensor *in[2] = {a, b};
    ct__matmul_attrs at = {.transpose_a = transpose_a, .transpose_b = transpose_b};
    return ct__run1(&ct__op_matmul, "ct_matmul", 2, in, &at, sizeof at);
}

ct_tensor *ct_matmul(const ct_tensor *a, const ct_tensor *b) {
    return ct_matmul_ex(a, b, false, false);
}
