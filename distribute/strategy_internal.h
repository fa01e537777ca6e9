/*
 * What nn/fit.c asks of a strategy (distribute/strategy.c). A NULL
 * strategy, or one of a single replica, makes every call a no-op.
 */
#ifndef CT_DISTRIBUTE_STRATEGY_INTERNAL_H
#define CT_DISTRIBUTE_STRATEGY_INTERNAL_H

#include "ctrain/strategy.h"

int ct__strategy_replicas(const ct_strategy *s);
/* The strategy whose replica step this thread is in (ct_strategy_run, or
 * fit's train step), or NULL. */
ct_strategy *ct__strategy_replica_context(void);
/* Enters / leaves a replica step of s (returns the one it replaces). */
ct_strategy *ct__strategy_enter_replica(ct_strategy *s);
void ct__strategy_leave_replica(ct_strategy *outer);
/* x summed over the replicas, recorded on the tape: the gradient is the
 * upstream gradients summed over the replicas (distribute/replica_ops.c). */
ct_tensor *ct__replica_sum(ct_collective *coll, const ct_tensor *x);
int ct__strategy_rank(const ct_strategy *s);
/* ts[i] becomes the sum of ts[i] over the replicas (a new tensor in the
 * current scope), in buckets. */
ct_status ct__strategy_sum(ct_strategy *s, int n, ct_tensor **ts);
/* The same in three steps around a backward pass (distribute/grad_sync.c):
 * begin with tensors shaped as the gradients will be (the weights),
 * ready(i) as each gradient is final (NULL: zeros) -- the gradient
 * tape's on_ready -- and end, which gives the sums (in the current
 * scope). end must follow every begin, also after a failure, so that
 * every rank starts the same all-reduces. overlap() says whether the
 * backward pass should hand gradients over as they come. */
ct_status ct__strategy_sum_begin(ct_strategy *s, int n, ct_tensor *const *like);
ct_status ct__strategy_sum_ready(void *strategy, int i, const ct_tensor *grad);
ct_status ct__strategy_sum_end(ct_strategy *s, int n, ct_tensor **sums);
bool ct__strategy_overlap(const ct_strategy *s);

typedef struct ct__grad_sync ct__grad_sync;
ct__grad_sync *ct__grad_sync_new(ct_collective *coll, int64_t bucket_bytes, bool overlap);
void ct__grad_sync_free(ct__grad_sync *g);
ct_status ct__grad_sync_begin(ct__grad_sync *g, int n, ct_tensor *const *like);
ct_status ct__grad_sync_ready(ct__grad_sync *g, int i, const ct_tensor *grad);
ct_status ct__grad_sync_end(ct__grad_sync *g, int n, ct_tensor **out);
void ct__grad_sync_stats(const ct__grad_sync *g, ct_strategy_stats *out);
/* v[0..n) summed over the replicas, in place (max: the largest). */
ct_status ct__strategy_sum_doubles(ct_strategy *s, double *v, int64_t n);
ct_status ct__strategy_max_doubles(ct_strategy *s, double *v, int64_t n);
/* *flag becomes true when it is true on any replica. */
ct_status ct__strategy_any(ct_strategy *s, bool *flag);
/* Every replica's vars become rank 0's, checked by a checksum. */
ct_status ct__strategy_sync_variables(ct_strategy *s, int n, ct_variable *const *vars);

#endif
