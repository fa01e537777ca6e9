/* Reductions: codes shared by definitions and kernels. */
#ifndef CT_OPS_REDUCE_H
#define CT_OPS_REDUCE_H

#include "ops/op.h"

typedef enum { CT__RSUM, CT__RPROD, CT__RMAX, CT__RMIN, CT__RALL, CT__RANY, CT__NUM_REDUCE } ct__reduce_code;

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

#endif
