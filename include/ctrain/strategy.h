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

#include "ctrain/data.h"
#include "ctrain/distribute.h"
#include "ctrain/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ct_strategy ct_strategy;

typedef struct ct_strategy_opts {
    ct_collective_impl impl; /* CT_COLLECTIVE_AUTO: MPI under a launcher   */
    int64_t bucket_bytes;    /* gradients all-reduced in buckets of about
                                this many bytes; 0: 25 MiB (a model smaller
                                than four buckets is cut into four, each at
                                least 64 KiB)                              */
    bool no_overlap;         /* start the all-reduce only after the whole
                                backward pass (to measure what the overlap
                                hides); by default each bucket starts as
                                soon as the backward pass has its gradients */
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
/* What the gradient sums of fit's steps (and of apply_gradients in a
 * replica step) have cost so far on this replica. */
typedef struct ct_strategy_stats {
    bool overlap;           /* buckets start during the backward pass    */
    int64_t steps;          /* gradient sums                             */
    int64_t bytes;          /* bytes all-reduced, summed over the steps  */
    int buckets;            /* buckets per step (the last step's)        */
    int64_t buckets_done_early; /* buckets complete before the backward
                                   pass ended, summed over the steps     */
    double exposed_s;       /* waited after the backward pass: the part
                               of the all-reduce the step sees           */
    double in_flight_s;     /* from the first gradient to the last sum   */
} ct_strategy_stats;
/* Zeros for a strategy of one replica (nothing is reduced). */
void ct_strategy_get_stats(const ct_strategy *s, ct_strategy_stats *out);
/* The collective the strategy reduces with. Borrowed. */
ct_collective *ct_strategy_collective(ct_strategy *s);

/* with strategy.scope(): a model compiled while a scope is open trains
 * under that strategy. Scopes nest per thread. */
void ct_strategy_scope_begin(ct_strategy *s);
void ct_strategy_scope_end(void);
/* tf.distribute.get_strategy(): the innermost open scope's, or NULL (the
 * default strategy). */
ct_strategy *ct_current_strategy(void);

/* strategy.run(fn): fn runs this process's replica step, in a replica
 * context: there ct_optimizer_apply_gradients first sums the gradients
 * over the replicas (TF's experimental_aggregate_gradients). A layer's
 * weights created in a scope (or in run) start as rank 0's: their initial
 * values are broadcast, so every rank must build its layers in the same
 * order, as TF's MultiWorkerMirroredStrategy asks. So a custom training
 * loop is the one of a single process when each replica scales its loss
 * by the global batch (ct_compute_average_loss):
 *
 *     static ct_status step(void *ctx) {           // one replica's part
 *         ct_tape *tape = ct_tape_begin(NULL);
 *         ct_tensor *per = ct_loss_call(loss_none, y, ct_model_call(m, x, true), NULL);
 *         ct_tensor *loss = ct_compute_average_loss(per, NULL, global_batch);
 *         ct_tape_end(tape);
 *         ...ct_tape_gradient(tape, loss, n, weights, grads, NULL)...
 *         return ct_optimizer_apply_gradients(opt, n, grads, vars);
 *     }
 *     ct_dataset *mine = ct_strategy_distribute_dataset(s, global_batches);
 *     ...for each element of mine: ct_strategy_run(s, step, &element)...
 */
ct_status ct_strategy_run(ct_strategy *s, ct_status (*fn)(void *ctx), void *ctx);
/* tf.nn.compute_average_loss: the sum of per_example_loss (times
 * sample_weight when given) divided by global_batch_size; 0 takes this
 * replica's examples (the first dimension) times num_replicas_in_sync of
 * the current strategy. A replica with no examples gives 0. */
ct_tensor *ct_compute_average_loss(const ct_tensor *per_example_loss,
                                   const ct_tensor *sample_weight, int64_t global_batch_size);
/* strategy.experimental_distribute_dataset: elements are global batches;
 * this replica gets rows [len * r / R, len * (r + 1) / R) of each
 * component (the replicas' parts in rank order: a part may be empty at
 * the end of an epoch). Every rank must read the same global batches (a
 * seeded shuffle). Takes ds; one replica returns ds itself. */
ct_dataset *ct_strategy_distribute_dataset(ct_strategy *s, ct_dataset *ds);
/* strategy.reduce(op, value, axis=None): value reduced over the replicas
 * (in the current scope). */
ct_tensor *ct_strategy_reduce(ct_strategy *s, ct_reduce_op op, const ct_tensor *value);

#ifdef __cplusplus
}
#endif
#endif
