/*
 * The MPI collective: MPI's non-blocking collectives on host memory, a
 * ring all-reduce of our own for large buffers, and the arrival board
 * that lets a timed-out wait name the ranks that never came.
 *
 * Why a ring of our own. Open MPI's MPI_Iallreduce (coll/libnbc) sends
 * the whole buffer up a binomial tree and back down for small groups,
 * which moved half the bytes per second of the blocking MPI_Allreduce
 * here (2 ranks, 1-64 MiB). The ring below -- reduce-scatter then
 * all-gather over MPI_Isend / MPI_Irecv, each rank sending 2 (p - 1) / p
 * of the buffer -- is what the blocking call uses for large buffers, and
 * it stays a state machine advanced by our tests, so it is as asynchronous
 * as MPI_Iallreduce. Small buffers, where latency rules, go to
 * MPI_Iallreduce.
 *
 * Progress. MPI moves bytes only inside MPI calls, and a ring moves to
 * its next step only inside our test. Every test therefore advances every
 * ring in flight in the process, not only the one it was asked about: a
 * rank waiting on operation B must still feed operation A, on which its
 * peer may be waiting first.
 *
 * The arrival board. Each rank holds, in an MPI window, how many
 * operations every rank of the communicator has entered. Entering
 * operation #k, a rank writes k into its own slot of every other rank's
 * window (MPI_Accumulate with MPI_REPLACE: atomic per element, needs no
 * action by the target). A wait that times out reads its own window (a
 * local MPI_Get_accumulate), so it learns who is missing without asking
 * anyone -- a rank that is stuck, busy or dead cannot answer. The window
 * stays under one passive lock_all epoch for its whole life; publishing
 * is completed locally only (MPI_Win_flush_local_all), so entering a
 * collective never waits for a peer. When the communicator lives on one
 * node the window is shared memory (MPI_Win_allocate_shared), where an
 * accumulate is an atomic store; across nodes it is an ordinary window.
 * It costs p - 1 eight-byte accumulates per operation, which is fine for
 * tens of ranks; thousands would want a few witness ranks instead.
 *
 * Locking. All of ctrain's MPI calls go through one process-wide lock,
 * which covers the shared progress list and makes MPI_THREAD_SERIALIZED
 * enough.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "distribute/internal.h"
#include "runtime/internal.h"

/* Buffers of at least this many bytes are all-reduced by the ring. */
#define RING_MIN_BYTES ((size_t)64 << 10)
/* The ring works through a buffer in segments of at most this many
 * elements, so its blocks fit MPI's int counts and its scratch stays
 * bounded. */
#define RING_SEGMENT ((int64_t)1 << 26)
/* MPI's counts are ints: larger transfers are split into pieces. */
#define MAX_PIECE ((int64_t)1 << 30)

static pthread_mutex_t mpi_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct mpi_state {
    MPI_Comm comm;
    int rank, size;
    MPI_Win board;          /* int64 entered[size] on every rank          */
    int64_t *board_mem;
    int64_t published;      /* the origin buffer of our accumulates        */
    void *scratch;          /* a ring's receive block, reused              */
    size_t scratch_bytes;
    bool scratch_busy;
} mpi_state;

typedef struct ring ring;

typedef struct mpi_req {
    mpi_state *st;
    int nreq;               /* MPI requests in flight (non-ring)           */
    MPI_Request *reqs;
    ring *ring;             /* or the ring all-reduce                      */
} mpi_req;

struct ring {
    mpi_state *st;
    char *buf;
    int64_t n;
    ct_dtype dtype;
    MPI_Datatype mdt;
    ct_reduce_op op;
    size_t es;
    int tag;
    int64_t seg_off, seg_len; /* the segment being worked on               */
    int step;                 /* 0 .. 2 (p - 1) within the segment         */
    bool posted;              /* rq[] are in flight for `step`             */
    MPI_Request rq[2];
    char *tmp;                /* the block received during reduce-scatter  */
    bool tmp_is_scratch;
    bool done;
    ct_status error;
    char error_msg[512];
    ring *next;               /* in the progress list                      */
};

static ring *rings; /* every ring in flight in the process */

static mpi_state *state(ct_collective *c) { return c->impl; }

static MPI_Op mpi_op(ct_reduce_op op) {
    switch (op) {
    case CT_REDUCE_MAX: return MPI_MAX;
    case CT_REDUCE_MIN: return MPI_MIN;
    default: return MPI_SUM;
    }
}

/* ---- set-up ------------------------------------------------------------------- */

static ct_status mpi_init(ct_collective *c) {
    mpi_state *st = calloc(1, sizeof *st);
    if (!st) return ct__error(CT_ERR_OUT_OF_MEMORY, "out of memory");
    st->comm = MPI_COMM_NULL;
    st->board = MPI_WIN_NULL;
    c->impl = st;
    ct_status s = CT_OK;
    MPI_Info info = MPI_INFO_NULL;
    pthread_mutex_lock(&mpi_lock);
#define CHECK(call)                                                              \
    do {                                                                         \
        int rc_ = (call);                                                        \
        if (rc_ != MPI_SUCCESS) {                                                \
            s = ct__mpi_error(rc_, #call, __FILE__, __LINE__);                   \
            goto out;                                                            \
        }                                                                        \
    } while (0)
    /* A communicator of its own, so that its collectives and the ring's
     * messages never match anyone else's. */
    CHECK(MPI_Comm_dup(c->group->comm, &st->comm));
    CHECK(MPI_Comm_set_errhandler(st->comm, MPI_ERRORS_RETURN));
    CHECK(MPI_Comm_rank(st->comm, &st->rank));
    CHECK(MPI_Comm_size(st->comm, &st->size));
    /* Only REPLACE and NO_OP accumulates, of one size, in no particular
     * order: lets MPI use hardware atomics or plain shared memory. */
    CHECK(MPI_Info_create(&info));
    CHECK(MPI_Info_set(info, "accumulate_ops", "same_op_no_op"));
    CHECK(MPI_Info_set(info, "accumulate_ordering", "none"));
    CHECK(MPI_Info_set(info, "same_size", "true"));
    /* On one node the board is a shared-memory window (Open MPI's osc/sm:
     * an accumulate is an atomic store). MPI_Win_allocate would get
     * osc/rdma, whose accumulates, even of 8 bytes, slowed the all-reduces
     * that followed them by 20% (2 ranks, 1-16 MiB). Every rank computes
     * the same answer, so all make the same call. */
    MPI_Comm node;
    CHECK(MPI_Comm_split_type(st->comm, MPI_COMM_TYPE_SHARED, st->rank, MPI_INFO_NULL, &node));
    int node_size = 0;
    int rc_size = MPI_Comm_size(node, &node_size);
    MPI_Comm_free(&node);
    CHECK(rc_size);
    MPI_Aint board_bytes = (MPI_Aint)st->size * (MPI_Aint)sizeof(int64_t);
    if (node_size == st->size)
        CHECK(MPI_Win_allocate_shared(board_bytes, sizeof(int64_t), info, st->comm,
                                      &st->board_mem, &st->board));
    else
        CHECK(MPI_Win_allocate(board_bytes, sizeof(int64_t), info, st->comm, &st->board_mem,
                               &st->board));
    CHECK(MPI_Win_set_errhandler(st->board, MPI_ERRORS_RETURN));
    memset(st->board_mem, 0, (size_t)st->size * sizeof(int64_t));
    CHECK(MPI_Win_lock_all(MPI_MODE_NOCHECK, st->board));
    CHECK(MPI_Win_sync(st->board));
    /* Every board is zeroed before anyone writes into it. */
    CHECK(MPI_Barrier(st->comm));
#undef CHECK
out:
    if (info != MPI_INFO_NULL) MPI_Info_free(&info);
    pthread_mutex_unlock(&mpi_lock);
    if (s != CT_OK) {
        /* A failure here is local; the others may be stuck in the same
         * calls, which the caller's abort will end. */
        free(st);
        c->impl = NULL;
    }
    return s;
}

static void unlink_ring(ring *r) {
    for (ring **p = &rings; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            return;
        }
}

static void mpi_destroy(ct_collective *c, bool clean) {
    mpi_state *st = state(c);
    if (!st) return;
    pthread_mutex_lock(&mpi_lock);
    /* Rings left behind (only after a timeout) must no longer be advanced
     * by other collectives' tests. */
    for (ring **p = &rings; *p;) {
        if ((*p)->st == st) *p = (*p)->next;
        else p = &(*p)->next;
    }
    if (clean) {
        MPI_Win_unlock_all(st->board);
        MPI_Win_free(&st->board);
        MPI_Comm_free(&st->comm);
        free(st->scratch);
        free(st);
    }
    /* Otherwise the window, the communicator and the scratch a ring may
     * still be receiving into stay allocated: freeing the window is a
     * collective call the other ranks may never make. */
    pthread_mutex_unlock(&mpi_lock);
}

/* ---- the arrival board ------------------------------------------------------------ */

static ct_status publish(mpi_state *st, int64_t seq) {
    st->published = seq;
    for (int r = 0; r < st->size; r++) {
        if (r == st->rank) continue;
        CT__MPI_CHECK(MPI_Accumulate(&st->published, 1, MPI_INT64_T, r, st->rank, 1,
                                     MPI_INT64_T, MPI_REPLACE, st->board));
    }
    /* Local completion only: `published` may change, and no peer has to
     * take part. */
    CT__MPI_CHECK(MPI_Win_flush_local_all(st->board));
    return CT_OK;
}

static ct_status read_board(mpi_state *st, int64_t *entered) {
    CT__MPI_CHECK(MPI_Get_accumulate(NULL, 0, MPI_INT64_T, entered, st->size, MPI_INT64_T,
                                     st->rank, 0, st->size, MPI_INT64_T, MPI_NO_OP, st->board));
    CT__MPI_CHECK(MPI_Win_flush(st->rank, st->board));
    return CT_OK;
}

static ct_status mpi_arrivals(ct_collective *c, int64_t *entered) {
    pthread_mutex_lock(&mpi_lock);
    ct_status s = read_board(state(c), entered);
    pthread_mutex_unlock(&mpi_lock);
    return s;
}

/* ---- the ring all-reduce ------------------------------------------------------------ */

/* dst[i] = dst[i] op src[i]: the reduce-scatter's local step. */
#define REDUCE_LOOP(T)                                                                  \
    do {                                                                                \
        T *d = dst;                                                                     \
        const T *s = src;                                                               \
        if (op == CT_REDUCE_MAX)                                                        \
            for (int64_t i = 0; i < n; i++) d[i] = s[i] > d[i] ? s[i] : d[i];           \
        else if (op == CT_REDUCE_MIN)                                                   \
            for (int64_t i = 0; i < n; i++) d[i] = s[i] < d[i] ? s[i] : d[i];           \
        else                                                                            \
            for (int64_t i = 0; i < n; i++) d[i] += s[i];                               \
    } while (0)

/* Cloned per instruction set, as the elementwise kernels are: a block of
 * a few MiB is still in cache when it is reduced, so the vector width
 * shows (Open MPI's own ops use AVX when the CPU has it). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define REDUCE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define REDUCE_CLONES
#endif

REDUCE_CLONES
static void reduce_into(void *dst, const void *src, int64_t n, ct_dtype dt, ct_reduce_op op) {
    switch (dt) {
    case CT_FLOAT32: REDUCE_LOOP(float); break;
    case CT_FLOAT64: REDUCE_LOOP(double); break;
    case CT_INT32: REDUCE_LOOP(int32_t); break;
    case CT_INT64: REDUCE_LOOP(int64_t); break;
    default: break;
    }
}

/* Element offset of block b (of p) of the current segment. */
static int64_t block_off(const ring *r, int b) {
    return r->seg_off + r->seg_len * b / r->st->size;
}

static int block_len(const ring *r, int b) { return (int)(block_off(r, b + 1) - block_off(r, b)); }

static int mod(int a, int p) { return ((a % p) + p) % p; }

/* Posts the receive and the send of the ring's current step. */
static ct_status ring_post(ring *r) {
    int p = r->st->size, me = r->st->rank;
    int right = (me + 1) % p, left = (me - 1 + p) % p;
    int sb, rb;
    void *into;
    if (r->step < p - 1) { /* reduce-scatter: receive into tmp, reduce after */
        sb = mod(me - r->step, p);
        rb = mod(me - r->step - 1, p);
        into = r->tmp;
    } else { /* all-gather: receive the finished block in place */
        int s = r->step - (p - 1);
        sb = mod(me + 1 - s, p);
        rb = mod(me - s, p);
        into = r->buf + (size_t)block_off(r, rb) * r->es;
    }
    CT__MPI_CHECK(MPI_Irecv(into, block_len(r, rb), r->mdt, left, r->tag, r->st->comm, &r->rq[0]));
    CT__MPI_CHECK(MPI_Isend(r->buf + (size_t)block_off(r, sb) * r->es, block_len(r, sb), r->mdt,
                            right, r->tag, r->st->comm, &r->rq[1]));
    r->posted = true;
    return CT_OK;
}

/* Moves the ring as far as the completed transfers allow. */
static ct_status ring_advance(ring *r) {
    int p = r->st->size;
    while (!r->done) {
        if (r->posted) {
            int flag = 0;
            CT__MPI_CHECK(MPI_Testall(2, r->rq, &flag, MPI_STATUSES_IGNORE));
            if (!flag) return CT_OK;
            r->posted = false;
            if (r->step < p - 1) {
                int rb = mod(r->st->rank - r->step - 1, p);
                reduce_into(r->buf + (size_t)block_off(r, rb) * r->es, r->tmp, block_len(r, rb),
                            r->dtype, r->op);
            }
            if (++r->step == 2 * (p - 1)) { /* the segment is done */
                r->seg_off += r->seg_len;
                r->step = 0;
                if (r->seg_off >= r->n) {
                    r->done = true;
                    return CT_OK;
                }
                r->seg_len = r->n - r->seg_off < RING_SEGMENT ? r->n - r->seg_off : RING_SEGMENT;
            }
        }
        ct_status s = ring_post(r);
        if (s != CT_OK) return s;
    }
    return CT_OK;
}

/* Advances every ring in flight; a ring that fails keeps its error for its
 * own wait. */
static void progress_all(void) {
    for (ring *r = rings; r; r = r->next) {
        if (r->done) continue;
        if (ring_advance(r) != CT_OK) {
            r->error = ct_last_status();
            snprintf(r->error_msg, sizeof r->error_msg, "%s", ct_last_error());
            r->done = true;
        }
    }
}

static ct_status ring_start(mpi_state *st, const ct__coll_args *a, ring **out) {
    ring *r = calloc(1, sizeof *r);
    if (!r) return ct__error(CT_ERR_OUT_OF_MEMORY, "out of memory for an all-reduce");
    r->st = st;
    r->buf = a->recv;
    r->n = a->n;
    r->dtype = a->dtype;
    r->mdt = ct__mpi_dtype(a->dtype);
    r->op = a->op;
    r->es = ct_dtype_size(a->dtype);
    /* Distinct tags keep two rings in flight on one communicator apart;
     * every rank numbers operations alike, so the tags agree. */
    r->tag = (int)(a->seq % 30000);
    r->seg_len = a->n < RING_SEGMENT ? a->n : RING_SEGMENT;
    size_t tmp_bytes = (size_t)(r->seg_len / st->size + 1) * r->es;
    if (!st->scratch_busy) {
        if (st->scratch_bytes < tmp_bytes) {
            free(st->scratch);
            st->scratch = malloc(tmp_bytes);
            st->scratch_bytes = st->scratch ? tmp_bytes : 0;
        }
        if (st->scratch) {
            r->tmp = st->scratch;
            r->tmp_is_scratch = true;
            st->scratch_busy = true;
        }
    }
    if (!r->tmp && !(r->tmp = malloc(tmp_bytes))) {
        free(r);
        return ct__error(CT_ERR_OUT_OF_MEMORY, "out of memory for %zu bytes of all-reduce scratch",
                         tmp_bytes);
    }
    ct_status s = ring_post(r);
    if (s != CT_OK) {
        if (r->tmp_is_scratch) st->scratch_busy = false;
        else free(r->tmp);
        free(r);
        return s;
    }
    r->next = rings;
    rings = r;
    *out = r;
    return CT_OK;
}

static void ring_free(ring *r) {
    unlink_ring(r);
    if (r->tmp_is_scratch) r->st->scratch_busy = false;
    else free(r->tmp);
    free(r);
}

/* ---- operations -------------------------------------------------------------------- */

/* Requests for `pieces` transfers. */
static ct_status reserve(mpi_req *q, int64_t pieces) {
    q->reqs = malloc((size_t)(pieces > 0 ? pieces : 1) * sizeof *q->reqs);
    if (!q->reqs) return ct__error(CT_ERR_OUT_OF_MEMORY, "out of memory for MPI requests");
    return CT_OK;
}

static int64_t pieces_of(int64_t n) { return n == 0 ? 1 : (n + MAX_PIECE - 1) / MAX_PIECE; }

static ct_status start_op(mpi_state *st, const ct__coll_args *a, mpi_req *q) {
    MPI_Datatype mdt = ct__mpi_dtype(a->dtype);
    size_t es = ct_dtype_size(a->dtype);
    switch (a->kind) {
    case CT__ALL_REDUCE: {
        if (st->size > 1 && a->n >= st->size && (size_t)a->n * es >= RING_MIN_BYTES)
            return ring_start(st, a, &q->ring);
        ct_status s = reserve(q, pieces_of(a->n));
        if (s) return s;
        for (int64_t off = 0; off < a->n || (off == 0 && a->n == 0); off += MAX_PIECE) {
            int cnt = (int)(a->n - off < MAX_PIECE ? a->n - off : MAX_PIECE);
            CT__MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, (char *)a->recv + (size_t)off * es, cnt,
                                         mdt, mpi_op(a->op), st->comm, &q->reqs[q->nreq]));
            q->nreq++;
            if (a->n == 0) break;
        }
        return CT_OK;
    }
    case CT__BROADCAST: {
        ct_status s = reserve(q, pieces_of(a->n));
        if (s) return s;
        for (int64_t off = 0; off < a->n || (off == 0 && a->n == 0); off += MAX_PIECE) {
            int cnt = (int)(a->n - off < MAX_PIECE ? a->n - off : MAX_PIECE);
            CT__MPI_CHECK(MPI_Ibcast((char *)a->recv + (size_t)off * es, cnt, mdt, a->root,
                                     st->comm, &q->reqs[q->nreq]));
            q->nreq++;
            if (a->n == 0) break;
        }
        return CT_OK;
    }
    case CT__ALL_GATHER:
    case CT__REDUCE_SCATTER: {
        if (a->n > INT_MAX)
            return ct__error(CT_ERR_UNIMPLEMENTED,
                             "%lld elements per rank are more than one MPI call takes (%d)",
                             (long long)a->n, INT_MAX);
        ct_status s = reserve(q, 1);
        if (s) return s;
        if (a->kind == CT__ALL_GATHER)
            CT__MPI_CHECK(MPI_Iallgather(a->send ? a->send : MPI_IN_PLACE, (int)a->n, mdt,
                                         a->recv, (int)a->n, mdt, st->comm, &q->reqs[0]));
        else
            CT__MPI_CHECK(MPI_Ireduce_scatter_block(a->send, a->recv, (int)a->n, mdt,
                                                    mpi_op(a->op), st->comm, &q->reqs[0]));
        q->nreq = 1;
        return CT_OK;
    }
    case CT__BARRIER: {
        ct_status s = reserve(q, 1);
        if (s) return s;
        CT__MPI_CHECK(MPI_Ibarrier(st->comm, &q->reqs[0]));
        q->nreq = 1;
        return CT_OK;
    }
    }
    return ct__error(CT_ERR_INTERNAL, "unknown collective kind %d", (int)a->kind);
}

static ct_status mpi_start(ct_collective *c, const ct__coll_args *a, void **req) {
    mpi_state *st = state(c);
    mpi_req *q = calloc(1, sizeof *q);
    if (!q) return ct__error(CT_ERR_OUT_OF_MEMORY, "out of memory for a request");
    q->st = st;
    pthread_mutex_lock(&mpi_lock);
    ct_status s = publish(st, a->seq);
    if (s == CT_OK) s = start_op(st, a, q);
    pthread_mutex_unlock(&mpi_lock);
    if (s != CT_OK) {
        free(q->reqs);
        free(q);
        return s;
    }
    *req = q;
    return CT_OK;
}

static ct_status mpi_test(ct_collective *c, void *req, bool *done) {
    mpi_req *q = req;
    ct_status s = CT_OK;
    pthread_mutex_lock(&mpi_lock);
    progress_all();
    if (q->ring) {
        *done = q->ring->done;
        if (q->ring->error)
            s = ct__error(q->ring->error, "%s", q->ring->error_msg);
    } else {
        int flag = 0;
        int rc = MPI_Testall(q->nreq, q->reqs, &flag, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) {
            s = ct__mpi_error(rc, "MPI_Testall", __FILE__, __LINE__);
            flag = 1;
        }
        *done = flag != 0;
    }
    pthread_mutex_unlock(&mpi_lock);
    return s;
}

static void mpi_release(ct_collective *c, void *req) {
    mpi_req *q = req;
    if (!q) return;
    pthread_mutex_lock(&mpi_lock);
    if (q->ring) ring_free(q->ring);
    pthread_mutex_unlock(&mpi_lock);
    free(q->reqs);
    free(q);
}

const ct__collective_vtable ct__collective_mpi = {
    .name = "mpi",
    .init = mpi_init,
    .destroy = mpi_destroy,
    .start = mpi_start,
    .test = mpi_test,
    .release = mpi_release,
    .arrivals = mpi_arrivals,
};
