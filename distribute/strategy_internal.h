/*
 * What nn/fit.c asks of a strategy (distribute/strategy.c). A NULL
 * strategy, or one of a single replica, makes every call a no-op.
 */
#ifndef CT_DISTRIBUTE_STRATEGY_INTERNAL_H
#define CT_DISTRIBUTE_STRATEGY_INTERNAL_H

#include "ctrain/strategy.h"

int ct__strategy_replicas(const ct_strategy *s);
int ct__strategy_rank(const ct_strategy *s);
/* ts[i] becomes the sum of ts[i] over the replicas (a new tensor in the
 * current scope), in buckets. */
ct_status ct__strategy_sum(ct_strategy *s, int n, ct_tensor **ts);
/* v[0..n) summed over the replicas, in place. */
ct_status ct__strategy_sum_doubles(ct_strategy *s, double *v, int64_t n);
/* *flag becomes true when it is true on any replica. */
ct_status ct__strategy_any(ct_strategy *s, bool *flag);
/* Every replica's vars become rank 0's, checked by a checksum. */
ct_status ct__strategy_sync_variables(ct_strategy *s, int n, ct_variable *const *vars);

#endif
