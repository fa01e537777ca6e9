/*
 * tf.distribute strategies: how a model trains over the job's processes.
 *
 *     ct_strategy *s = ct_mirrored_strategy_new(NULL);   // every rank, under mpirun
 *     ct_strategy_scope_begin(s);
 *     ct_model *m = ...;                                  // built and compiled in the scope
 *     ct_model_compile(m, &opts);
 *     ct_strategy_scope_end();
 *     ct_model_fit(m, &fit_opts);                         // data parallel over the ranks
 *
 * The mirrored strategy keeps one replica of the model per process
 * (TensorFlow's MultiWorkerMirroredStrategy, one worker per rank). fit
 * starts by broadcasting rank 0's weights and checks, with a checksum,
 * that every rank then holds the same. Each step splits the global batch
 * (fit's batch_size) across the replicas in rank order, each replica
 * computes the gradients of its part, and they are summed over the ranks
 * with every replica's loss scaled by its share of the global batch (its
 * examples / the global batch's): the update is the one a single process
 * makes on the whole global batch, so N replicas need no change of
 * learning rate (what changes it is a larger global batch). The epoch's
 * metrics and the validation metrics are merged over the ranks (their
 * states are sums); a stop decision (model.stop_training, EarlyStopping)
 * is taken by all ranks together. train_on_batch / test_on_batch take
 * each replica's own part of a global batch (the replicas agree on its
 * size; the results they return are the replica's own). predict runs each replica on its rows
 * and gathers the outputs back in order on every rank. Only rank 0 prints
 * the progress bar; the per-batch logs callbacks see are the replica's
 * own.
 *
 * The default strategy (no scope) and the one-device strategy run one
 * replica in this process.
 */
#ifndef CTRAIN_STRATEGY_H
#define CTRAIN_STRATEGY_H

#include "ctrain/distribute.h"
#include "ctrain/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ct_strategy ct_strategy;

typedef struct ct_strategy_opts {
    ct_collective_impl impl; /* CT_COLLECTIVE_AUTO: MPI under a launcher   */
    int64_t bucket_bytes;    /* gradients all-reduced in buckets of about
                                this many bytes; 0: 25 MiB                 */
} ct_strategy_opts;

/* tf.distribute.MultiWorkerMirroredStrategy over the job's processes (all
 * of them call it, in the same order). opts may be NULL. Without a
 * launcher it is one replica, as TF's strategy on one worker. */
ct_strategy *ct_mirrored_strategy_new(const ct_strategy_opts *opts);
/* tf.distribute.OneDeviceStrategy: one replica, in this process. */
ct_strategy *ct_one_device_strategy_new(void);
/* Frees the strategy (collectively under MPI); models compiled under it
 * must have been freed or recompiled outside it. */
void ct_strategy_free(ct_strategy *s);

/* strategy.num_replicas_in_sync, and this process's replica. */
int ct_strategy_num_replicas_in_sync(const ct_strategy *s);
int ct_strategy_replica_id(const ct_strategy *s);
/* The collective the strategy reduces with. Borrowed. */
ct_collective *ct_strategy_collective(ct_strategy *s);

/* with strategy.scope(): a model compiled while a scope is open trains
 * under that strategy. Scopes nest per thread. */
void ct_strategy_scope_begin(ct_strategy *s);
void ct_strategy_scope_end(void);
/* tf.distribute.get_strategy(): the innermost open scope's, or NULL (the
 * default strategy). */
ct_strategy *ct_current_strategy(void);

/* strategy.run(fn): fn runs this process's replica step. */
ct_status ct_strategy_run(ct_strategy *s, ct_status (*fn)(void *ctx), void *ctx);
/* strategy.reduce(op, value, axis=None): value reduced over the replicas
 * (in the current scope). */
ct_tensor *ct_strategy_reduce(ct_strategy *s, ct_reduce_op op, const ct_tensor *value);

#ifdef __cplusplus
}
#endif
#endif
