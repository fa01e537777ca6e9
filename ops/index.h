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

/* d[0:n] += s[0:n] in dtype dt; integers wrap, bool is logical or
 * (ops/scatter.c; the scatter-adds of gather's and scatter's kernels). */
void ct__add_run(void *d, const void *s, int64_t n, ct_dtype dt);

#endif
