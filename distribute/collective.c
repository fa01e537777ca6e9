/*
 * Collectives: what every implementation shares. Checks the arguments,
 * numbers the operations, stages 16-bit floats through float32, divides
 * MEAN, wraps tensors, and waits with a deadline. The implementation
 * behind the vtable only moves and reduces bytes.
 *
 * Waiting. A wait polls the implementation's test. While every rank has
 * entered the operation (the arrival board says so) the bytes are moving
 * and MPI progresses only inside our calls, so the loop spins, yielding
 * the core between tests; while a rank is missing nothing can move, so it
 * sleeps in growing naps (up to 1 ms) instead of burning a core that a
 * straggler on the same node may need. Past the deadline the wait names
 * the ranks that had not arrived, from the same board.
 */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "distribute/internal.h"
#include "runtime/internal.h"

struct ct_collective_handle {
    ct_collective *c;
    ct__coll_args args;   /* what the implementation was given          */
    void *req;            /* the implementation's request               */
    bool done;            /* the implementation reported completion     */
    ct_status error;      /* a failure seen by test, reported by wait   */
    char error_msg[768];
    const char *caller;   /* the public function that started it        */
    /* What happens on completion. */
    bool mean;            /* divide args.recv by the group's size        */
    ct_dtype user_dtype;  /* the caller's dtype (float16 / bfloat16 staged) */
    void *user_out;       /* staged: where the converted result goes    */
    int64_t out_n;        /* elements of the result                     */
    void *stage;          /* float32 staging memory, or NULL            */
    const ct_tensor *in;  /* tensor input kept alive while in flight    */
    ct_tensor *out;       /* tensor result (caller-owned until the wait) */
};

const char *ct__coll_kind_name(ct__coll_kind kind) {
    switch (kind) {
    case CT__ALL_REDUCE: return "all-reduce";
    case CT__BROADCAST: return "broadcast";
    case CT__ALL_GATHER: return "all-gather";
    case CT__REDUCE_SCATTER: return "reduce-scatter";
    case CT__BARRIER: return "barrier";
    }
    return "collective";
}

static const char *op_name(ct_reduce_op op) {
    switch (op) {
    case CT_REDUCE_SUM: return "sum";
    case CT_REDUCE_MEAN: return "mean";
    case CT_REDUCE_MAX: return "max";
    case CT_REDUCE_MIN: return "min";
    }
    return "?";
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- collectives --------------------------------------------------------------- */

ct_collective *ct_collective_new(ct_process_group *pg, const ct_collective_opts *opts) {
    if (!pg) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_collective_new: process group is NULL");
        return NULL;
    }
    ct_collective_opts o = opts ? *opts : (ct_collective_opts){0};
    const ct__collective_vtable *vt;
    switch (o.impl) {
    case CT_COLLECTIVE_AUTO: vt = pg->mpi ? &ct__collective_mpi : &ct__collective_local; break;
    case CT_COLLECTIVE_MPI:
        if (!pg->mpi) {
            ct__error(CT_ERR_INVALID_ARGUMENT,
                      "ct_collective_new: the MPI implementation was asked for, but this "
                      "process was not started by an MPI launcher (mpirun)");
            return NULL;
        }
        vt = &ct__collective_mpi;
        break;
    case CT_COLLECTIVE_LOCAL:
        if (pg->size != 1) {
            ct__error(CT_ERR_INVALID_ARGUMENT,
                      "ct_collective_new: the local implementation serves one process; the "
                      "group has %d",
                      pg->size);
            return NULL;
        }
        vt = &ct__collective_local;
        break;
    default:
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_collective_new: unknown implementation %d",
                  (int)o.impl);
        return NULL;
    }
    ct_collective *c = calloc(1, sizeof *c);
    if (!c) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_collective_new: out of memory");
        return NULL;
    }
    c->vt = vt;
    c->group = pg;
    snprintf(c->name, sizeof c->name, "%s", o.name ? o.name : "world");
    pthread_mutex_init(&c->lock, NULL);
    if (vt->init(c) != CT_OK) {
        char msg[768];
        snprintf(msg, sizeof msg, "%s", ct_last_error());
        ct__error(ct_last_status(), "ct_collective_new: '%s' (%s): %s", c->name, vt->name, msg);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
    }
    return c;
}

const char *ct_collective_impl_name(const ct_collective *c) { return c ? c->vt->name : "none"; }
ct_process_group *ct_collective_group(const ct_collective *c) { return c ? c->group : NULL; }

int64_t ct_collective_count(const ct_collective *c) {
    if (!c) return 0;
    pthread_mutex_lock((pthread_mutex_t *)&c->lock);
    int64_t n = c->seq;
    pthread_mutex_unlock((pthread_mutex_t *)&c->lock);
    return n;
}

ct_status ct_collective_set_context(ct_collective *c, const char *context) {
    if (!c)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_collective_set_context: collective is NULL");
    pthread_mutex_lock(&c->lock);
    snprintf(c->context, sizeof c->context, "%s", context ? context : "");
    pthread_mutex_unlock(&c->lock);
    return CT_OK;
}

/* ---- handles --------------------------------------------------------------------- */

static void handle_free(ct_collective_handle *h) {
    if (!h) return;
    free(h->stage);
    if (h->in) ct__tensor_release((ct_tensor *)h->in);
    if (h->out) ct_tensor_free(h->out);
    free(h);
}

/* "float32[1048576], sum" */
static void describe(const ct_collective_handle *h, char *buf, size_t cap) {
    const ct__coll_args *a = &h->args;
    switch (a->kind) {
    case CT__ALL_REDUCE:
        snprintf(buf, cap, "%s[%lld], %s", ct_dtype_name(h->user_dtype), (long long)a->n,
                 op_name(h->mean ? CT_REDUCE_MEAN : a->op));
        break;
    case CT__REDUCE_SCATTER:
        snprintf(buf, cap, "%s[%lld] per rank, %s", ct_dtype_name(h->user_dtype),
                 (long long)a->n, op_name(h->mean ? CT_REDUCE_MEAN : a->op));
        break;
    case CT__BROADCAST:
        snprintf(buf, cap, "%s[%lld] from rank %d", ct_dtype_name(h->user_dtype),
                 (long long)a->n, a->root);
        break;
    case CT__ALL_GATHER:
        snprintf(buf, cap, "%s[%lld] per rank", ct_dtype_name(h->user_dtype), (long long)a->n);
        break;
    case CT__BARRIER: snprintf(buf, cap, "no data"); break;
    }
}

/* "all-reduce (collective #17 of 'world', float32[8], sum) on rank 0 of 2" */
static void name_op(const ct_collective_handle *h, char *buf, size_t cap) {
    char what[96];
    describe(h, what, sizeof what);
    const ct_collective *c = h->c;
    snprintf(buf, cap, "%s (collective #%lld of '%s', %s) on rank %d of %d",
             ct__coll_kind_name(h->args.kind), (long long)h->args.seq, c->name, what,
             c->group->rank, c->group->size);
}

/* The last step of every completed operation, on the caller's thread. */
static void finish(ct_collective_handle *h) {
    ct__coll_args *a = &h->args;
    int64_t n = h->out_n;
    if (h->mean && h->c->group->size > 1) {
        int size = h->c->group->size;
        switch (a->dtype) {
        case CT_FLOAT32: {
            float *p = a->recv;
            for (int64_t i = 0; i < n; i++) p[i] /= (float)size;
            break;
        }
        case CT_FLOAT64: {
            double *p = a->recv;
            for (int64_t i = 0; i < n; i++) p[i] /= size;
            break;
        }
        case CT_INT32: {
            int32_t *p = a->recv;
            for (int64_t i = 0; i < n; i++) p[i] /= size;
            break;
        }
        case CT_INT64: {
            int64_t *p = a->recv;
            for (int64_t i = 0; i < n; i++) p[i] /= size;
            break;
        }
        default: break;
        }
    }
    if (h->stage) ct__convert(a->recv, CT_FLOAT32, h->user_out, h->user_dtype, n);
}

/* ---- starting ---------------------------------------------------------------------- */

static bool reducible(ct_dtype dt) {
    return dt == CT_FLOAT32 || dt == CT_FLOAT64 || dt == CT_INT32 || dt == CT_INT64 ||
           dt == CT_FLOAT16 || dt == CT_BFLOAT16;
}

static bool staged(ct_dtype dt) { return dt == CT_FLOAT16 || dt == CT_BFLOAT16; }

/* The checks every start makes; h_out is cleared first so that a caller
 * that ignores the status never waits on garbage. */
static ct_status check_common(const char *fn, ct_collective *c, ct_collective_handle **h_out,
                              int64_t n, ct_dtype dt) {
    if (h_out) *h_out = NULL;
    if (!h_out) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: handle pointer is NULL", fn);
    if (!c) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: collective is NULL", fn);
    if (n < 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: element count is negative (%lld)", fn,
                         (long long)n);
    if ((int)dt < 0 || dt >= CT_NUM_DTYPES)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: invalid dtype %d", fn, (int)dt);
    return CT_OK;
}

static ct_status check_reduction(const char *fn, const char *what, ct_dtype dt,
                                 ct_reduce_op op) {
    if ((int)op < 0 || op > CT_REDUCE_MIN)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: unknown reduce op %d", fn, (int)op);
    if (!reducible(dt))
        return ct__error(CT_ERR_UNIMPLEMENTED,
                         "%s: %s of %s is not supported (float16, bfloat16, float32, float64, "
                         "int32 and int64 are)",
                         fn, what, ct_dtype_name(dt));
    return CT_OK;
}

static ct_collective_handle *handle_new(const char *fn, ct_collective *c, ct__coll_kind kind,
                                        ct_dtype dt) {
    ct_collective_handle *h = calloc(1, sizeof *h);
    if (!h) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory for a handle", fn);
        return NULL;
    }
    h->c = c;
    h->caller = fn;
    h->args.kind = kind;
    h->args.dtype = dt;
    h->user_dtype = dt;
    return h;
}

/* For a reduction of a 16-bit float: float32 staging of `send_n` input
 * elements (converted from src, NULL to skip) and `recv_n` result elements.
 * Sets args.send / args.recv into it. */
static ct_status stage_f32(const char *fn, ct_collective_handle *h, const void *src,
                           int64_t send_n, int64_t recv_n, bool in_place) {
    size_t total = (size_t)(in_place ? recv_n : send_n + recv_n);
    h->stage = malloc(total * sizeof(float) + 1);
    if (!h->stage)
        return ct__error(CT_ERR_OUT_OF_MEMORY,
                         "%s: out of memory for %zu bytes of float32 staging of %s", fn,
                         total * sizeof(float), ct_dtype_name(h->user_dtype));
    float *f = h->stage;
    if (in_place) {
        ct__convert(src, h->user_dtype, f, CT_FLOAT32, recv_n);
        h->args.recv = f;
    } else {
        ct__convert(src, h->user_dtype, f, CT_FLOAT32, send_n);
        h->args.send = f;
        h->args.recv = f + send_n;
    }
    h->args.dtype = CT_FLOAT32;
    return CT_OK;
}

/* Numbers the operation and hands it to the implementation. On failure
 * the handle is freed. */
static ct_status launch(ct_collective_handle *h, ct_collective_handle **h_out) {
    ct_collective *c = h->c;
    const char *fn = h->caller;
    pthread_mutex_lock(&c->lock);
    if (c->failure[0]) {
        ct_status s = ct__error(CT_ERR_INTERNAL, "%s: %s cannot start on '%s': %s", fn,
                                ct__coll_kind_name(h->args.kind), c->name, c->failure);
        pthread_mutex_unlock(&c->lock);
        handle_free(h);
        return s;
    }
    h->args.seq = ++c->seq;
    ct_status s = c->vt->start(c, &h->args, &h->req);
    if (s != CT_OK) {
        /* The other ranks may have started it: the numbering can no longer
         * be trusted to match theirs. */
        char msg[768], op[256];
        snprintf(msg, sizeof msg, "%s", ct_last_error());
        name_op(h, op, sizeof op);
        /* Precisions keep the message within the buffer (the start of the
         * cause is the part that matters). */
        snprintf(c->failure, sizeof c->failure, "%.200s failed to start: %.290s", op, msg);
        s = ct__error(s, "%s: %s failed to start: %s", fn, op, msg);
        pthread_mutex_unlock(&c->lock);
        handle_free(h);
        return s;
    }
    pthread_mutex_unlock(&c->lock);
    *h_out = h;
    return CT_OK;
}

ct_status ct_all_reduce_buffer_start(ct_collective *c, void *buf, int64_t n, ct_dtype dtype,
                                     ct_reduce_op op, ct_collective_handle **h) {
    static const char fn[] = "ct_all_reduce_buffer_start";
    ct_status s = check_common(fn, c, h, n, dtype);
    if (!s) s = check_reduction(fn, "all-reduce", dtype, op);
    if (!s && n > 0 && !buf) s = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: buffer is NULL", fn);
    if (s) return s;
    ct_collective_handle *hd = handle_new(fn, c, CT__ALL_REDUCE, dtype);
    if (!hd) return ct_last_status();
    hd->args.recv = buf;
    hd->args.n = n;
    hd->args.op = op == CT_REDUCE_MEAN ? CT_REDUCE_SUM : op;
    hd->mean = op == CT_REDUCE_MEAN;
    hd->out_n = n;
    hd->user_out = buf;
    if (staged(dtype) && (s = stage_f32(fn, hd, buf, 0, n, true))) {
        handle_free(hd);
        return s;
    }
    return launch(hd, h);
}

ct_status ct_broadcast_buffer_start(ct_collective *c, void *buf, int64_t n, ct_dtype dtype,
                                    int root, ct_collective_handle **h) {
    static const char fn[] = "ct_broadcast_buffer_start";
    ct_status s = check_common(fn, c, h, n, dtype);
    if (!s && (root < 0 || root >= c->group->size))
        s = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: root %d is not a rank of the group [0, %d)",
                      fn, root, c->group->size);
    if (!s && n > 0 && !buf) s = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: buffer is NULL", fn);
    if (s) return s;
    ct_collective_handle *hd = handle_new(fn, c, CT__BROADCAST, dtype);
    if (!hd) return ct_last_status();
    hd->args.recv = buf;
    hd->args.n = n;
    hd->args.root = root;
    hd->out_n = n;
    return launch(hd, h);
}

static bool overlap(const void *a, size_t an, const void *b, size_t bn) {
    const char *pa = a, *pb = b;
    return an && bn && pa < pb + bn && pb < pa + an;
}

ct_status ct_all_gather_buffer_start(ct_collective *c, const void *send, void *recv, int64_t n,
                                     ct_dtype dtype, ct_collective_handle **h) {
    static const char fn[] = "ct_all_gather_buffer_start";
    ct_status s = check_common(fn, c, h, n, dtype);
    if (s) return s;
    int size = c->group->size, rank = c->group->rank;
    size_t es = ct_dtype_size(dtype);
    if (n > INT64_MAX / size / (int64_t)es)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %lld elements per rank times %d ranks "
                         "overflow", fn, (long long)n, size);
    if (n > 0 && (!send || !recv))
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %s buffer is NULL", fn,
                         send ? "receive" : "send");
    size_t part = (size_t)n * es;
    bool in_place = n > 0 && send == (const char *)recv + (size_t)rank * part;
    if (!in_place && overlap(send, part, recv, part * (size_t)size))
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: send and receive buffers overlap other than in place (send at "
                         "rank %d's part of receive)",
                         fn, rank);
    ct_collective_handle *hd = handle_new(fn, c, CT__ALL_GATHER, dtype);
    if (!hd) return ct_last_status();
    hd->args.send = in_place ? NULL : send;
    hd->args.recv = recv;
    hd->args.n = n;
    hd->out_n = n * size;
    return launch(hd, h);
}

ct_status ct_reduce_scatter_buffer_start(ct_collective *c, const void *send, void *recv,
                                         int64_t n, ct_dtype dtype, ct_reduce_op op,
                                         ct_collective_handle **h) {
    static const char fn[] = "ct_reduce_scatter_buffer_start";
    ct_status s = check_common(fn, c, h, n, dtype);
    if (!s) s = check_reduction(fn, "reduce-scatter", dtype, op);
    if (s) return s;
    int size = c->group->size;
    size_t es = ct_dtype_size(dtype);
    if (n > INT64_MAX / size / 8) /* float32 staging, or 8-byte elements */
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %lld elements per rank times %d ranks "
                         "overflow", fn, (long long)n, size);
    if (n > 0 && (!send || !recv))
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %s buffer is NULL", fn,
                         send ? "receive" : "send");
    if (overlap(send, (size_t)n * size * es, recv, (size_t)n * es))
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: send and receive buffers overlap", fn);
    ct_collective_handle *hd = handle_new(fn, c, CT__REDUCE_SCATTER, dtype);
    if (!hd) return ct_last_status();
    hd->args.send = send;
    hd->args.recv = recv;
    hd->args.n = n;
    hd->args.op = op == CT_REDUCE_MEAN ? CT_REDUCE_SUM : op;
    hd->mean = op == CT_REDUCE_MEAN;
    hd->out_n = n;
    hd->user_out = recv;
    if (staged(dtype) && (s = stage_f32(fn, hd, send, n * size, n, false))) {
        handle_free(hd);
        return s;
    }
    return launch(hd, h);
}

ct_status ct_barrier_start(ct_collective *c, ct_collective_handle **h) {
    static const char fn[] = "ct_barrier_start";
    ct_status s = check_common(fn, c, h, 0, CT_FLOAT32);
    if (s) return s;
    ct_collective_handle *hd = handle_new(fn, c, CT__BARRIER, CT_FLOAT32);
    if (!hd) return ct_last_status();
    return launch(hd, h);
}

/* ---- tensors ------------------------------------------------------------------------- */

static ct_status check_tensor(const char *fn, ct_collective *c, const ct_tensor *t,
                              ct_collective_handle **h, int min_rank) {
    ct_status s = check_common(fn, c, h, 0, CT_FLOAT32);
    if (s) return s;
    if (!t) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: tensor is NULL", fn);
    if (ct_device_kind_of(t->storage->dev) != CT_DEVICE_CPU)
        return ct__error(CT_ERR_UNIMPLEMENTED,
                         "%s: %s is on %s; the %s collective works on host tensors (device "
                         "tensors come with the NCCL and host-staged implementations)",
                         fn, CT__DESC(t), ct_device_name(t->storage->dev), c->vt->name);
    if (t->rank < min_rank)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %s needs rank >= 1 (it works along axis 0)",
                         fn, CT__DESC(t));
    return CT_OK;
}

/* The result tensor on the CPU, owned by the handle until the wait. */
static ct_tensor *alloc_out(const char *fn, const ct_tensor *t, int64_t dim0) {
    int64_t shape[CT_MAX_RANK];
    memcpy(shape, t->shape, sizeof shape);
    if (t->rank > 0) shape[0] = dim0;
    return ct__tensor_alloc(ct__cpu_device(), t->dtype, t->rank, shape, fn);
}

/* Attaches out (and the input to keep alive) to a started handle, or
 * frees out when the start failed. */
static ct_status attach(ct_status s, ct_collective_handle **h, ct_tensor *out,
                        const ct_tensor *in) {
    if (s != CT_OK) {
        ct_tensor_free(out);
        return s;
    }
    (*h)->out = out;
    if (in) (*h)->in = ct__tensor_retain((ct_tensor *)in);
    return CT_OK;
}

ct_status ct_all_reduce_start(ct_collective *c, const ct_tensor *t, ct_reduce_op op,
                              ct_collective_handle **h) {
    static const char fn[] = "ct_all_reduce";
    ct_status s = check_tensor(fn, c, t, h, 0);
    if (!s) s = check_reduction(fn, "all-reduce", t->dtype, op);
    if (s) return s;
    ct_tensor *out = alloc_out(fn, t, t->rank ? t->shape[0] : 0);
    if (!out) return ct_last_status();
    memcpy(ct__data(out), ct__data(t), ct__nbytes(t));
    s = ct_all_reduce_buffer_start(c, ct__data(out), t->size, t->dtype, op, h);
    return attach(s, h, out, NULL);
}

ct_status ct_broadcast_start(ct_collective *c, const ct_tensor *t, int root,
                             ct_collective_handle **h) {
    static const char fn[] = "ct_broadcast";
    ct_status s = check_tensor(fn, c, t, h, 0);
    if (s) return s;
    ct_tensor *out = alloc_out(fn, t, t->rank ? t->shape[0] : 0);
    if (!out) return ct_last_status();
    /* Only the root's values matter; the others' are overwritten. */
    if (c->group->rank == root) memcpy(ct__data(out), ct__data(t), ct__nbytes(t));
    s = ct_broadcast_buffer_start(c, ct__data(out), t->size, t->dtype, root, h);
    return attach(s, h, out, NULL);
}

ct_status ct_all_gather_start(ct_collective *c, const ct_tensor *t, ct_collective_handle **h) {
    static const char fn[] = "ct_all_gather";
    ct_status s = check_tensor(fn, c, t, h, 1);
    if (s) return s;
    int size = c->group->size;
    if (t->shape[0] > INT64_MAX / size)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %s times %d ranks overflows", fn,
                         CT__DESC(t), size);
    ct_tensor *out = alloc_out(fn, t, t->shape[0] * size);
    if (!out) return ct_last_status();
    s = ct_all_gather_buffer_start(c, ct__data(t), ct__data(out), t->size, t->dtype, h);
    return attach(s, h, out, t);
}

ct_status ct_reduce_scatter_start(ct_collective *c, const ct_tensor *t, ct_reduce_op op,
                                  ct_collective_handle **h) {
    static const char fn[] = "ct_reduce_scatter";
    ct_status s = check_tensor(fn, c, t, h, 1);
    if (!s) s = check_reduction(fn, "reduce-scatter", t->dtype, op);
    if (s) return s;
    int size = c->group->size;
    if (t->shape[0] % size != 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: axis 0 of %s (%lld) does not split evenly over %d ranks", fn,
                         CT__DESC(t), (long long)t->shape[0], size);
    ct_tensor *out = alloc_out(fn, t, t->shape[0] / size);
    if (!out) return ct_last_status();
    s = ct_reduce_scatter_buffer_start(c, ct__data(t), ct__data(out), t->size / size, t->dtype,
                                       op, h);
    return attach(s, h, out, t);
}

/* ---- completion --------------------------------------------------------------------- */

/* One poll of the implementation; records a failure on the handle (and
 * the collective, whose ordering it breaks). */
static void poll_once(ct_collective_handle *h) {
    if (h->done) return;
    ct_collective *c = h->c;
    bool done = false;
    pthread_mutex_lock(&c->lock);
    ct_status s = c->vt->test(c, h->req, &done);
    if (s != CT_OK) {
        char op[256];
        name_op(h, op, sizeof op);
        snprintf(h->error_msg, sizeof h->error_msg, "%s failed: %s", op, ct_last_error());
        h->error = s;
        if (!c->failure[0]) snprintf(c->failure, sizeof c->failure, "%.500s", h->error_msg);
        done = true;
    }
    pthread_mutex_unlock(&c->lock);
    h->done = done;
}

ct_status ct_collective_test(ct_collective_handle *h, bool *done) {
    if (!h || !done) {
        if (done) *done = true;
        return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_collective_test: %s is NULL",
                         h ? "done" : "handle");
    }
    poll_once(h);
    *done = h->done;
    if (h->error) return ct__error(h->error, "ct_collective_test: %s", h->error_msg);
    return CT_OK;
}

/* Reads the arrival board into entered[size] (entered[rank] is ours).
 * false when the implementation keeps none or it cannot be read. */
static bool read_arrivals(ct_collective *c, int64_t *entered) {
    if (!c->vt->arrivals) return false;
    pthread_mutex_lock(&c->lock);
    ct_status s = c->vt->arrivals(c, entered);
    if (s == CT_OK) entered[c->group->rank] = c->seq;
    pthread_mutex_unlock(&c->lock);
    return s == CT_OK;
}

/* The part of the timeout message about who is missing. */
static void describe_missing(ct_collective_handle *h, char *buf, size_t cap) {
    ct_collective *c = h->c;
    int size = c->group->size;
    int64_t *entered = calloc((size_t)size, sizeof *entered);
    if (!entered || !read_arrivals(c, entered)) {
        snprintf(buf, cap, "which ranks did not arrive is unknown (the %s implementation could "
                 "not read an arrival board)", c->vt->name);
        free(entered);
        return;
    }
    enum { MAX_LISTED = 16 };
    int missing = 0, listed[MAX_LISTED];
    for (int r = 0; r < size; r++)
        if (entered[r] < h->args.seq) {
            if (missing < MAX_LISTED) listed[missing] = r;
            missing++;
        }
    if (missing == 0) {
        snprintf(buf, cap, "every rank has entered it, but it did not complete (a rank may have "
                 "died during the transfer, or the network stalled)");
        free(entered);
        return;
    }
    size_t len = 0;
    int shown = missing < MAX_LISTED ? missing : MAX_LISTED;
#define CT__APPEND(...)                                                                    \
    do {                                                                                   \
        if (len < cap) len += (size_t)snprintf(buf + len, cap - len, __VA_ARGS__);         \
    } while (0)
    CT__APPEND("%s ", missing == 1 ? "rank" : "ranks");
    for (int i = 0; i < shown; i++) CT__APPEND("%s%d", i ? ", " : "", listed[i]);
    if (missing > shown) CT__APPEND(" and %d more", missing - shown);
    CT__APPEND(" did not arrive (%s entered ", missing == 1 ? "it has" : "they have");
    for (int i = 0; i < shown; i++)
        CT__APPEND("%s%lld", i ? ", " : "", (long long)entered[listed[i]]);
    CT__APPEND(" collective%s on this communicator)",
               missing == 1 && entered[listed[0]] == 1 ? "" : "s");
#undef CT__APPEND
    free(entered);
}

static ct_status timed_out(ct_collective_handle *h, double waited) {
    ct_collective *c = h->c;
    char op[256], missing[512], context[160] = "";
    name_op(h, op, sizeof op);
    describe_missing(h, missing, sizeof missing);
    pthread_mutex_lock(&c->lock);
    if (c->context[0]) snprintf(context, sizeof context, " during %s", c->context);
    /* The operation stays in flight (MPI cannot cancel a collective): the
     * collective keeps it, with its buffers, and refuses new operations,
     * whose numbering would no longer match the other ranks'. */
    ct__abandoned *a = malloc(sizeof *a);
    if (a) {
        a->req = h;
        a->next = c->abandoned;
        c->abandoned = a;
    }
    if (!c->failure[0]) snprintf(c->failure, sizeof c->failure, "%s timed out", op);
    pthread_mutex_unlock(&c->lock);
    return ct__error(CT_ERR_DEADLINE_EXCEEDED,
                     "ct_collective_wait: %s%s timed out after %g s: %s. The ranks no longer "
                     "agree on the order of collectives: end the job (ct_dist_abort)",
                     op, context, waited, missing);
}

static void nap(double seconds) {
    struct timespec ts = {.tv_sec = (time_t)seconds,
                          .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

ct_status ct_collective_wait(ct_collective_handle *h, ct_tensor **out) {
    if (out) *out = NULL;
    if (!h) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_collective_wait: handle is NULL");
    ct_collective *c = h->c;
    double timeout = ct_dist_timeout();
    double start = now_s(), deadline = start + timeout;
    double next_check = start + 1e-3, sleep_s = 0;
    bool all_here = true;
    int size = c->group->size;
    int64_t *entered = NULL;
    unsigned polls = 0;
    for (;;) {
        poll_once(h);
        if (h->done) break;
        double t = now_s();
        if (t >= deadline) {
            free(entered);
            return timed_out(h, t - start);
        }
        /* After the first millisecond, look at the board every 5 ms to
         * choose between spinning and napping (see the top of the file). */
        if (t >= next_check && c->vt->arrivals) {
            if (!entered) entered = calloc((size_t)size, sizeof *entered);
            if (entered && read_arrivals(c, entered)) {
                all_here = true;
                for (int r = 0; r < size; r++)
                    if (entered[r] < h->args.seq) all_here = false;
            }
            next_check = t + 5e-3;
        }
        if (all_here) {
            /* Yield only now and then: a yield that hands the core to
             * another process can cost the transfer a whole time slice. */
            sleep_s = 0;
            if (++polls % 64 == 0) sched_yield();
        } else {
            sleep_s = sleep_s > 0 ? fmin(2 * sleep_s, 1e-3) : 2e-5;
            nap(fmin(sleep_s, deadline - t));
        }
    }
    free(entered);
    pthread_mutex_lock(&c->lock);
    c->vt->release(c, h->req);
    pthread_mutex_unlock(&c->lock);
    h->req = NULL;
    ct_status s = h->error;
    if (s != CT_OK) {
        ct__error(s, "ct_collective_wait: %s", h->error_msg);
    } else {
        finish(h);
        if (h->out) {
            if (out) *out = ct__scoped(h->out);
            else ct_tensor_free(h->out);
            h->out = NULL;
        }
    }
    handle_free(h);
    return s;
}

/* ---- blocking forms ------------------------------------------------------------------ */

/* Each is start then wait; the handle is read only after the start has
 * set it. */
#define CT__BLOCKING_STATUS(start_call)                                                  \
    do {                                                                                 \
        ct_collective_handle *h_;                                                        \
        ct_status s_ = (start_call);                                                     \
        return s_ != CT_OK ? s_ : ct_collective_wait(h_, NULL);                          \
    } while (0)

#define CT__BLOCKING_TENSOR(start_call)                                                  \
    do {                                                                                 \
        ct_collective_handle *h_;                                                        \
        ct_tensor *out_ = NULL;                                                          \
        if ((start_call) == CT_OK) ct_collective_wait(h_, &out_);                        \
        return out_;                                                                     \
    } while (0)

ct_status ct_all_reduce_buffer(ct_collective *c, void *buf, int64_t n, ct_dtype dtype,
                               ct_reduce_op op) {
    CT__BLOCKING_STATUS(ct_all_reduce_buffer_start(c, buf, n, dtype, op, &h_));
}

ct_status ct_broadcast_buffer(ct_collective *c, void *buf, int64_t n, ct_dtype dtype, int root) {
    CT__BLOCKING_STATUS(ct_broadcast_buffer_start(c, buf, n, dtype, root, &h_));
}

ct_status ct_all_gather_buffer(ct_collective *c, const void *send, void *recv, int64_t n,
                               ct_dtype dtype) {
    CT__BLOCKING_STATUS(ct_all_gather_buffer_start(c, send, recv, n, dtype, &h_));
}

ct_status ct_reduce_scatter_buffer(ct_collective *c, const void *send, void *recv, int64_t n,
                                   ct_dtype dtype, ct_reduce_op op) {
    CT__BLOCKING_STATUS(ct_reduce_scatter_buffer_start(c, send, recv, n, dtype, op, &h_));
}

ct_status ct_barrier(ct_collective *c) { CT__BLOCKING_STATUS(ct_barrier_start(c, &h_)); }

ct_tensor *ct_all_reduce(ct_collective *c, const ct_tensor *t, ct_reduce_op op) {
    CT__BLOCKING_TENSOR(ct_all_reduce_start(c, t, op, &h_));
}

ct_tensor *ct_broadcast(ct_collective *c, const ct_tensor *t, int root) {
    CT__BLOCKING_TENSOR(ct_broadcast_start(c, t, root, &h_));
}

ct_tensor *ct_all_gather(ct_collective *c, const ct_tensor *t) {
    CT__BLOCKING_TENSOR(ct_all_gather_start(c, t, &h_));
}

ct_tensor *ct_reduce_scatter(ct_collective *c, const ct_tensor *t, ct_reduce_op op) {
    CT__BLOCKING_TENSOR(ct_reduce_scatter_start(c, t, op, &h_));
}

/* ---- freeing ------------------------------------------------------------------------- */

void ct_collective_free(ct_collective *c) {
    if (!c) return;
    /* Operations that timed out get until the deadline to finish (a late
     * rank may still arrive); a communicator whose operations all ended is
     * freed collectively as usual, one with an operation still in flight
     * is left to MPI_Finalize, since the other ranks may never join. */
    bool clean = true;
    double deadline = now_s() + ct_dist_timeout();
    while (c->abandoned) {
        ct__abandoned *a = c->abandoned;
        ct_collective_handle *h = a->req;
        while (!h->done && now_s() < deadline) {
            poll_once(h);
            if (!h->done) nap(1e-4);
        }
        if (h->done && !h->error) {
            c->vt->release(c, h->req);
            handle_free(h);
        } else {
            clean = false; /* its buffers stay with MPI: leaked on purpose */
        }
        c->abandoned = a->next;
        free(a);
    }
    c->vt->destroy(c, clean);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
