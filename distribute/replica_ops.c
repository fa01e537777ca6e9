/*
 * Ops a replica step records on the gradient tape (strategy_internal.h):
 * the sum of a tensor over the replicas, whose gradient is the sum of the
 * upstream gradients over the replicas (each replica's output is every
 * replica's input summed, so every input reaches every replica's loss).
 * Every replica must make the same calls in the same order, forward and
 * backward, as for any collective. Synchronized BatchNormalization is
 * built on it.
 */
#include <string.h>

#include "distribute/strategy_internal.h"
#include "ops/op.h"

typedef struct replica_sum_attrs {
    uintptr_t coll; /* the ct_collective, which outlives the tapes */
} replica_sum_attrs;

static ct_status replica_sum_infer(ct__call *c) {
    const ct_tensor *x = c->in[0];
    ct_status st = ct__need_float(c, x);
    if (st) return st;
    ct__spec_set(&c->spec[0], x->dtype, x->rank, x->shape);
    return CT_OK;
}

static ct_status replica_sum_kernel(ct__call *c) {
    const replica_sum_attrs *a = c->attrs;
    const ct_tensor *x = c->in[0];
    ct_tensor *y = c->out[0];
    int64_t n = ct_tensor_size(x);
    memcpy(ct__data(y), ct__data(x), (size_t)n * ct_dtype_size(x->dtype));
    return n ? ct_all_reduce_buffer((ct_collective *)a->coll, ct__data(y), n, x->dtype,
                                    CT_REDUCE_SUM)
             : CT_OK;
}

static ct_status replica_sum_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const replica_sum_attrs *a = c->attrs;
    dx[0] = ct__replica_sum((ct_collective *)a->coll, dy[0]);
    return ct__grad_status(dx, 1);
}

static const ct__op replica_sum_op = {
    .name = "CollectiveReduceV2",
    .infer = replica_sum_infer,
    .kernel = {[CT_DEVICE_CPU] = replica_sum_kernel},
    .grad = replica_sum_grad,
};

ct_tensor *ct__replica_sum(ct_collective *coll, const ct_tensor *x) {
    replica_sum_attrs a = {(uintptr_t)coll};
    const ct_tensor *in[1] = {x};
    return ct__run1(&replica_sum_op, "all-reduce in a replica step", 1, in, &a, sizeof a);
}
