/*
 * Private structures of distribute/: the process group, the collective
 * and the vtable an implementation fills (MPI and local now; NCCL and a
 * host-staged one later). Not installed.
 *
 * The split of work: collective.c does everything that does not depend on
 * the transport — argument checks, sequence numbers, float16 staging, the
 * division of MEAN, tensors, the wait loop with its deadline and the
 * timeout message. An implementation only moves and reduces bytes
 * (start / test / release) and, if it can, says how many operations each
 * rank has entered (arrivals), which is how a timeout names the ranks that
 * did not arrive.
 */
#ifndef CT_DISTRIBUTE_INTERNAL_H
#define CT_DISTRIBUTE_INTERNAL_H

#include <mpi.h>
#include <pthread.h>

#include "ctrain/distribute.h"

struct ct_process_group {
    int rank, size;             /* in the world                              */
    int local_rank, local_size; /* among the processes of this node          */
    bool mpi;                   /* runs over MPI                             */
    int thread_level;           /* MPI_THREAD_* obtained (-1 without MPI)    */
    MPI_Comm comm;              /* a duplicate of MPI_COMM_WORLD, or NULL    */
};

/* The operations, named as errors name them. */
typedef enum {
    CT__ALL_REDUCE = 0,
    CT__BROADCAST,
    CT__ALL_GATHER,
    CT__REDUCE_SCATTER,
    CT__BARRIER,
} ct__coll_kind;

/* "all-reduce", "broadcast", ... */
const char *ct__coll_kind_name(ct__coll_kind kind);

/* One operation as an implementation sees it. Element counts are 64-bit;
 * an implementation splits what its transport cannot take at once. */
typedef struct ct__coll_args {
    ct__coll_kind kind;
    const void *send;   /* all-gather, reduce-scatter: the input (NULL for
                         * all-gather in place); else unused            */
    void *recv;         /* the output; all-reduce and broadcast work in
                         * place on it                                  */
    int64_t n;          /* all-reduce, broadcast: elements of recv;
                         * all-gather: elements sent per rank;
                         * reduce-scatter: elements received per rank   */
    ct_dtype dtype;     /* reductions: float32/64, int32/64 (16-bit
                         * floats arrive staged as float32); else any   */
    ct_reduce_op op;    /* SUM, MAX or MIN (MEAN arrives as SUM)        */
    int root;           /* broadcast                                    */
    int64_t seq;        /* 1-based, the same on every rank              */
} ct__coll_args;

/* What varies between implementations. Calls on one collective are
 * serialised by the collective's lock; an implementation that shares
 * state between collectives (MPI's progress list) guards it itself, and
 * must never take a collective's lock (the order is collective, then
 * implementation). */
typedef struct ct__collective_vtable {
    const char *name; /* "mpi", "local" */
    /* Sets up c->impl over c->group (collective across the group). */
    ct_status (*init)(ct_collective *c);
    /* Frees c->impl. clean: false after a timeout whose operation never
     * finished, when the other ranks cannot be trusted to join a
     * collective free (the communicator is then left to MPI_Finalize). */
    void (*destroy)(ct_collective *c, bool clean);
    /* Starts the operation; *req is the implementation's request. Also
     * records on the arrival board that this rank entered a->seq. */
    ct_status (*start)(ct_collective *c, const ct__coll_args *a, void **req);
    /* *done = whether req has completed; advances every transfer of the
     * implementation in flight, not only req's (so waiting on one
     * operation never starves another one the peers are waiting on). */
    ct_status (*test)(ct_collective *c, void *req, bool *done);
    /* Frees a completed request. */
    void (*release)(ct_collective *c, void *req);
    /* entered[r] = how many operations rank r has entered on c, as far as
     * this rank knows. NULL when the implementation cannot tell. */
    ct_status (*arrivals)(ct_collective *c, int64_t *entered);
} ct__collective_vtable;

extern const ct__collective_vtable ct__collective_mpi;
extern const ct__collective_vtable ct__collective_local;

/* An operation that timed out: still in flight, kept so that the free can
 * give it a last chance to finish. */
typedef struct ct__abandoned {
    void *req;
    struct ct__abandoned *next;
} ct__abandoned;

struct ct_collective {
    const ct__collective_vtable *vt;
    ct_process_group *group;
    char name[64];              /* for messages: "world", "gradients"     */
    char context[128];          /* ct_collective_set_context, or ""       */
    pthread_mutex_t lock;       /* seq, failure, impl calls               */
    int64_t seq;                /* operations started                     */
    char failure[512];          /* why no more operations may start, or "" */
    ct__abandoned *abandoned;   /* timed-out operations still in flight   */
    void *impl;                 /* the implementation's state             */
};

/* ---- MPI helpers (process_group.c) ----------------------------------------- */

/* Records a failed MPI call (its name, file and line, MPI's message) as the
 * thread's error; returns CT_ERR_INTERNAL. */
ct_status ct__mpi_error(int rc, const char *call, const char *file, int line);
/* Checks an MPI call's result in a function returning ct_status. */
#define CT__MPI_CHECK(call)                                                      \
    do {                                                                         \
        int ct__mpi_rc_ = (call);                                                \
        if (ct__mpi_rc_ != MPI_SUCCESS)                                          \
            return ct__mpi_error(ct__mpi_rc_, #call, __FILE__, __LINE__);        \
    } while (0)

/* The MPI datatype of a dtype's elements (MPI_BYTE-sized types for the
 * 16-bit floats, bool and uint8, which only move). */
MPI_Datatype ct__mpi_dtype(ct_dtype dt);

#endif
