/*
 * ctrain distribute: the process group and the collectives that
 * tf.distribute's strategies are built on (all-reduce, broadcast,
 * all-gather, reduce-scatter, barrier), over MPI or in a single process.
 *
 *     ct_process_group *pg = ct_dist_world();   // MPI_Init under mpirun
 *     if (!pg) { fprintf(stderr, "%s\n", ct_last_error()); return 1; }
 *     ct_collective *coll = ct_collective_new(pg, NULL);   // on every rank
 *     if (!coll) ct_dist_abort(1);
 *
 *     ct_tensor *avg = ct_all_reduce(coll, grad, CT_REDUCE_MEAN);
 *     if (!avg) ct_dist_abort(1);     // prints the error, ends every rank
 *
 *     // Asynchronous and in place, on a slice of a gradient slab:
 *     ct_collective_handle *h;
 *     if (ct_all_reduce_buffer_start(coll, slab, n, CT_FLOAT32, CT_REDUCE_SUM, &h))
 *         ct_dist_abort(1);
 *     ...                              // compute while the bytes travel
 *     if (ct_collective_wait(h, NULL)) ct_dist_abort(1);
 *     ct_collective_free(coll);
 *
 * Process group. Started by an MPI launcher (mpirun, mpiexec, srun with
 * PMI: the environment has OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK or
 * MPI_LOCALNRANKS), ctrain initialises MPI on the first ct_dist_world()
 * (MPI_THREAD_MULTIPLE when the library offers it) and finalises it at
 * exit, unless the program initialised MPI itself, in which case it is the
 * program's to finalise. Otherwise the process is rank 0 of 1 and no MPI
 * call is made at all.
 *
 * Collectives. A ct_collective is one communicator with one implementation
 * behind it: MPI (host memory) or local (one process: every collective is
 * the identity or a copy); NCCL and a host-staged implementation for
 * device tensors come behind the same calls. Every rank must create its
 * collectives, and start operations on each of them, in the same order:
 * operations are matched by their sequence number ("collective #17"), as
 * in MPI. Operations on one collective may be started and waited from
 * several threads; the order of starts is what must agree across ranks.
 *
 * Every operation has a _start form that returns a handle at once and a
 * blocking form (start + wait). Buffer forms work in place on host memory
 * (a variable's storage, a slice of a gradient slab); tensor forms take an
 * immutable tensor and give a new one. Reductions run on float32, float64,
 * int32 and int64 natively, and on float16 and bfloat16 by summing in
 * float32 (one rounding at the end); uint8 and bool reductions are
 * CT_ERR_UNIMPLEMENTED. Broadcast and all-gather move any dtype. MEAN is
 * the sum divided by the group's size (truncating toward zero for
 * integers).
 *
 * Timeouts. Every wait has a deadline: 300 s by default,
 * ct_dist_set_timeout() to change it, and the environment variable
 * CT_COLLECTIVE_TIMEOUT (seconds) overrides both, so an operator can
 * lengthen or shorten a job's deadline without rebuilding it. A wait that
 * runs out returns CT_ERR_DEADLINE_EXCEEDED with an error naming the
 * operation, its sequence number and the ranks that did not arrive, e.g.
 *     ct_collective_wait: all-reduce (collective #17 of 'world',
 *     float32[1048576], sum) on rank 0 of 2 timed out after 2 s: rank 1
 *     did not arrive (it has entered 16 collectives on this communicator)
 * The operation is then still in flight and its ordering with the other
 * ranks is lost: the collective refuses further operations, and the usual
 * reaction is ct_dist_abort(), which ends every rank of the job with a
 * non-zero exit (so it can be resumed from a checkpoint).
 *
 * Ownership and errors. Handles are freed by ct_collective_wait, whatever
 * it returns. Tensors returned belong to the innermost open scope, as op
 * results do. Functions return CT_OK / a pointer, or an error code / NULL
 * with the thread's error (ct_last_error()) naming the function, the
 * operation and the cause; a failed MPI call is named with its file and
 * line.
 */
#ifndef CTRAIN_DISTRIBUTE_H
#define CTRAIN_DISTRIBUTE_H

#include "ctrain/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- process group ------------------------------------------------------ */

typedef struct ct_process_group ct_process_group;

/* The group of every process of the job (MPI_COMM_WORLD under a launcher,
 * rank 0 of 1 otherwise), initialised on the first call. Borrowed: it
 * lives until ct_dist_shutdown() or the end of the process. NULL with an
 * error when MPI cannot be initialised, when CT_COLLECTIVE_TIMEOUT is not
 * a number of seconds > 0, or after ct_dist_shutdown(). Thread-safe. */
ct_process_group *ct_dist_world(void);
/* This process's rank in the group, and the group's size. */
int ct_process_group_rank(const ct_process_group *pg);
int ct_process_group_size(const ct_process_group *pg);
/* The rank among the processes of this node, and their number (what picks
 * a device, and divides the thread budget). */
int ct_process_group_local_rank(const ct_process_group *pg);
int ct_process_group_local_size(const ct_process_group *pg);
/* true when the group runs over MPI (the process was started by an MPI
 * launcher). */
bool ct_process_group_is_mpi(const ct_process_group *pg);
/* The MPI thread support obtained ("MPI_THREAD_MULTIPLE",
 * "MPI_THREAD_SERIALIZED", ...; "none" without MPI). Below MULTIPLE,
 * ctrain serialises its MPI calls with a lock (and says so once on
 * stderr). */
const char *ct_process_group_thread_level(const ct_process_group *pg);

/* Finalises MPI if ctrain initialised it (also done at exit). Collectives
 * must have been freed; afterwards ct_dist_world() fails, since MPI cannot
 * be initialised twice. Safe to call more than once, and without MPI. */
void ct_dist_shutdown(void);
/* Ends the whole job with a non-zero exit: prints "ctrain: rank R of N:
 * aborting (code C): <the thread's last error>" on stderr, then
 * MPI_Abort(MPI_COMM_WORLD, code) under MPI, exit(code) otherwise. code 0
 * becomes 1. */
_Noreturn void ct_dist_abort(int code);

/* The deadline of every collective wait in seconds: > 0 sets it
 * (INFINITY: no deadline), <= 0 restores the default of 300 s. NaN is an
 * error. CT_COLLECTIVE_TIMEOUT, when set, wins over this setting. A
 * process-wide setting (each rank sets its own). */
ct_status ct_dist_set_timeout(double seconds);
/* The deadline in effect, in seconds. */
double ct_dist_timeout(void);

/* ---- collectives -------------------------------------------------------- */

/* tf.distribute.ReduceOp, plus MAX and MIN. */
typedef enum {
    CT_REDUCE_SUM = 0,
    CT_REDUCE_MEAN, /* the sum divided by the group's size */
    CT_REDUCE_MAX,
    CT_REDUCE_MIN,
} ct_reduce_op;

/* The implementation behind a collective (TF's CommunicationImplementation). */
typedef enum {
    CT_COLLECTIVE_AUTO = 0, /* MPI when the group runs over MPI, else local */
    CT_COLLECTIVE_MPI,      /* MPI on host memory                           */
    CT_COLLECTIVE_LOCAL,    /* one process: identity and copies             */
} ct_collective_impl;

typedef struct ct_collective_opts {
    ct_collective_impl impl; /* CT_COLLECTIVE_AUTO by default               */
    const char *name;        /* in error messages; NULL: "world"           */
} ct_collective_opts;

typedef struct ct_collective ct_collective;
typedef struct ct_collective_handle ct_collective_handle;

/* A collective over pg (opts may be NULL). Under MPI this is itself a
 * collective call (it duplicates the communicator and creates the arrival
 * board): every rank of pg makes it, in the same order. NULL with an error
 * for an implementation the group cannot use (MPI without a launcher,
 * local on a group of several processes). Free with ct_collective_free. */
ct_collective *ct_collective_new(ct_process_group *pg, const ct_collective_opts *opts);
/* Frees the collective (collectively, under MPI). Operations still in
 * flight must have been waited. After a timeout, the operation that timed
 * out is given until the deadline to finish; if it does, the communicator
 * is freed as usual, otherwise it is left to MPI_Finalize (or to
 * ct_dist_abort, the expected next step). NULL is ignored. */
void ct_collective_free(ct_collective *c);
/* "mpi" or "local". */
const char *ct_collective_impl_name(const ct_collective *c);
/* The group the collective runs over. */
ct_process_group *ct_collective_group(const ct_collective *c);
/* Operations started on c so far (the sequence number of the last one). */
int64_t ct_collective_count(const ct_collective *c);
/* A short description of what the caller is doing ("epoch 3, step 120,
 * gradient bucket 2"), copied and added to timeout errors until changed;
 * NULL clears it. Fails only for a NULL collective. */
ct_status ct_collective_set_context(ct_collective *c, const char *context);

/* ---- asynchronous operations on host buffers -----------------------------
 * Each returns at once with *h set (NULL on failure). Buffers must stay
 * valid, and must not be touched, until ct_collective_wait returns. */

/* In place: buf's n elements become the reduction over all ranks. */
ct_status ct_all_reduce_buffer_start(ct_collective *c, void *buf, int64_t n, ct_dtype dtype,
                                     ct_reduce_op op, ct_collective_handle **h);
/* In place: buf's n elements become root's. Any dtype. */
ct_status ct_broadcast_buffer_start(ct_collective *c, void *buf, int64_t n, ct_dtype dtype,
                                    int root, ct_collective_handle **h);
/* recv (n * size elements) gets every rank's n elements of send, in rank
 * order. Any dtype. send == recv + rank * n elements (this rank's part of
 * recv) works in place; other overlaps are not allowed. */
ct_status ct_all_gather_buffer_start(ct_collective *c, const void *send, void *recv, int64_t n,
                                     ct_dtype dtype, ct_collective_handle **h);
/* send holds n * size elements; recv (n elements) gets block `rank` of
 * their reduction over all ranks. send and recv must not overlap. */
ct_status ct_reduce_scatter_buffer_start(ct_collective *c, const void *send, void *recv,
                                         int64_t n, ct_dtype dtype, ct_reduce_op op,
                                         ct_collective_handle **h);
/* Completes when every rank has started it. */
ct_status ct_barrier_start(ct_collective *c, ct_collective_handle **h);

/* ---- asynchronous operations on tensors --------------------------------
 * Host (CPU) tensors; the result comes from ct_collective_wait. */

/* The element-wise reduction of t over all ranks (same dtype and shape on
 * every rank). */
ct_status ct_all_reduce_start(ct_collective *c, const ct_tensor *t, ct_reduce_op op,
                              ct_collective_handle **h);
/* root's t (every rank passes a tensor of the same dtype and shape; only
 * root's values are read). */
ct_status ct_broadcast_start(ct_collective *c, const ct_tensor *t, int root,
                             ct_collective_handle **h);
/* Every rank's t concatenated along axis 0 in rank order: [d0, ...] gives
 * [size * d0, ...]. Every rank passes the same shape; rank >= 1. */
ct_status ct_all_gather_start(ct_collective *c, const ct_tensor *t, ct_collective_handle **h);
/* The reduction of t over all ranks, split evenly along axis 0, block
 * `rank` of it: [d0, ...] gives [d0 / size, ...]. d0 must divide evenly. */
ct_status ct_reduce_scatter_start(ct_collective *c, const ct_tensor *t, ct_reduce_op op,
                                  ct_collective_handle **h);

/* ---- completion --------------------------------------------------------- */

/* *done = whether h has completed (it still has to be waited); advances
 * the transfers in flight. An error (other than a timeout, which only
 * waits report) leaves *done true and is reported again by the wait. */
ct_status ct_collective_test(ct_collective_handle *h, bool *done);
/* Waits for h until the deadline (ct_dist_timeout()) and frees it. For a
 * tensor operation *out gets the result (owned by the innermost scope);
 * out may be NULL for buffer operations and barriers. Errors:
 * CT_ERR_DEADLINE_EXCEEDED (see Timeouts above), CT_ERR_INTERNAL for a
 * failed MPI call. */
ct_status ct_collective_wait(ct_collective_handle *h, ct_tensor **out);

/* ---- blocking forms (start + wait) ------------------------------------------ */

ct_status ct_all_reduce_buffer(ct_collective *c, void *buf, int64_t n, ct_dtype dtype,
                               ct_reduce_op op);
ct_status ct_broadcast_buffer(ct_collective *c, void *buf, int64_t n, ct_dtype dtype, int root);
ct_status ct_all_gather_buffer(ct_collective *c, const void *send, void *recv, int64_t n,
                               ct_dtype dtype);
ct_status ct_reduce_scatter_buffer(ct_collective *c, const void *send, void *recv, int64_t n,
                                   ct_dtype dtype, ct_reduce_op op);
ct_status ct_barrier(ct_collective *c);
/* NULL with the thread's error on failure. */
ct_tensor *ct_all_reduce(ct_collective *c, const ct_tensor *t, ct_reduce_op op);
ct_tensor *ct_broadcast(ct_collective *c, const ct_tensor *t, int root);
ct_tensor *ct_all_gather(ct_collective *c, const ct_tensor *t);
ct_tensor *ct_reduce_scatter(ct_collective *c, const ct_tensor *t, ct_reduce_op op);

#ifdef __cplusplus
}
#endif
#endif
