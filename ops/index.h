/* Private helpers shared by the indexing ops (slice, getitem, gather,
 * scatter). */
#ifndef CT_OPS_INDEX_H
#define CT_OPS_INDEX_H

#include "ops/op.h"

/* ct_strided_slice with errors naming `api` (ops/slice.c). */
ct_tensor *ct__strided_slice_named(const ct_tensor *t, int n, const ct_index *items,
                                   const char *api);
/* Element offsets into a tensor of shape pshape (prank dims after bd
 * batch dims) of every index tuple in `indices`; errors name `what`
 * (ops/gather.c). */
ct_status ct__nd_offsets(const ct__call *c, const ct_tensor *indices, int bd, int prank,
                         const int64_t *pshape, const char *what, int64_t *offs);
/* Scatter-add of updates into zeros of `shape`, with batch axes: the
 * gradient of gather_nd (ops/scatter.c). */
ct_tensor *ct__scatter_nd_batch(const ct_tensor *indices, const ct_tensor *updates,
                                int batch_dims, int rank, const int64_t *shape);

#endif
