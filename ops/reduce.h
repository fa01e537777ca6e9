/* Reductions, arg-reductions and the [K, N, I] view the axis ops share:
 * codes and attributes common to definitions and kernels. */
#ifndef CT_OPS_REDUCE_H
#define CT_OPS_REDUCE_H

#include "ops/op.h"

typedef enum {
    CT__RSUM, CT__RPROD, CT__RMAX, CT__RMIN, CT__RALL, CT__RANY,
    CT__RMEAN, /* a sum divided by the count (integers: in int64, truncated) */
    CT__NUM_REDUCE
} ct__reduce_code;

typedef struct ct__reduce_attrs {
    unsigned mask;   /* bit i: axis i is reduced */
    bool keepdims;
} ct__reduce_attrs;

/* The output shape of reducing t over mask (keepdims keeps size-1 axes). */
int ct__reduced_shape(const ct_tensor *t, unsigned mask, bool keepdims, int64_t *shape);
ct_status ct__cpu_reduce(ct__call *c);
/* Runs reduction op `op` for a public function (axes as in ops.h). */
ct_tensor *ct__reduce(const ct__op *op, const char *api, const ct_tensor *t, const int *axes,
                      int naxes, bool keepdims);

/* ArgMax / ArgMin (code CT__RMAX / CT__RMIN): one axis, int64 output. */
typedef struct ct__arg_attrs {
    int axis; /* normalised to [0, rank) by the public function */
} ct__arg_attrs;
ct_status ct__cpu_argreduce(ct__call *c);

/* A tensor seen as [K, N, I] around `axis`: K = product of the dims before
 * it, N = its size, I = product of the dims after it. */
static inline void ct__axis_view(const ct_tensor *t, int axis, int64_t *K, int64_t *N,
                                 int64_t *I) {
    int64_t k = 1, i = 1;
    for (int d = 0; d < axis; d++) k *= t->shape[d];
    for (int d = axis + 1; d < t->rank; d++) i *= t->shape[d];
    *K = k;
    *N = t->shape[axis];
    *I = i;
}

#endif
