/*
 * The gradient sum of a data-parallel step, overlapped with the backward
 * pass (distribute/strategy_internal.h).
 *
 * Layout. The gradients share one host slab, laid out in the reverse of
 * the order given (a model's weights come first layer first, and the
 * backward pass finishes the last layer first), each tensor at a 16-byte
 * boundary. The slab is cut into buckets of about bucket_bytes, each of
 * one dtype; a large tensor spans several. A model smaller than four
 * buckets is cut into four (but not below 64 KiB): a single bucket could
 * only start once the whole backward pass is done. The layout is kept
 * from step to step while the tensors keep their shapes.
 *
 * A step. begin() resets the counts; ready(i) copies gradient i into the
 * slab as soon as the backward pass has finished it and starts, in bucket
 * order, every bucket whose gradients are all in. Every rank starts the
 * same buckets in the same order whatever the order its gradients arrive
 * in, as collectives must be. end() starts what is left (zeros for a
 * gradient that never came: a replica with no examples), waits for every
 * bucket under the collective's deadline, and gives the sums back as
 * tensors.
 *
 * Progress. Transfers advance only inside the collective's test and wait
 * calls, and the backward pass makes none. A progress thread therefore
 * tests the buckets in flight every 0.5 ms while the pass goes on. It
 * sleeps between tests rather than spinning: on a machine with as many
 * ranks as cores a spinning thread takes a core from the backward pass,
 * and even waking every 50 us cost the 2-rank CNN more than it hid. It
 * only tests; end() does the waiting, on the caller's thread, so the
 * deadline and its message are the collective's own. Without MPI
 * threads (a program that initialised MPI below MPI_THREAD_SERIALIZED)
 * ready() tests instead.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "distribute/internal.h"
#include "distribute/strategy_internal.h"
#include "runtime/internal.h"

#define ALIGN 16
#define MIN_BUCKET ((int64_t)64 << 10)
#define MIN_BUCKETS 4
#define POLL_NS 500000

typedef struct slot {
    ct_dtype dt;
    int64_t n;      /* elements                                  */
    int rank;
    int64_t shape[CT_MAX_RANK];
    size_t off;     /* bytes into the slab                       */
    int b_lo, b_hi; /* the buckets it spans (-1, -2: none)       */
    bool ready;
} slot;

typedef struct bucket {
    size_t lo, hi;  /* bytes of the slab                         */
    ct_dtype dt;
    int pending;    /* gradients not yet in                      */
    ct_collective_handle *h;
    bool done;      /* seen complete by a test (under mu)        */
    double t_start; /* when it was started                       */
} bucket;

struct ct__grad_sync {
    ct_collective *coll;
    int64_t bucket_bytes;
    bool threaded;

    slot *slots;
    int nslots;
    bucket *buckets;
    int nbuckets;
    char *slab;
    size_t slab_bytes;

    /* This step. */
    int launched;        /* buckets started, in order                */
    ct_status failed;    /* the first start that failed              */
    double t_first;      /* the first ready() of the step            */

    /* The progress thread; launched, done and the handles are shared
     * with it under mu. */
    pthread_t thread;
    bool thread_on, quit, polling, busy;
    int shared_launched;
    pthread_mutex_t mu;
    pthread_cond_t cv;

    ct_strategy_stats stats;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void nap_ns(long ns) {
    struct timespec ts = {0, ns};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

/* ---- the progress thread ----------------------------------------------------------------- */

static void *progress_main(void *arg) {
    ct__grad_sync *g = arg;
    pthread_mutex_lock(&g->mu);
    for (;;) {
        while (!g->quit && !(g->polling && g->shared_launched > 0)) pthread_cond_wait(&g->cv, &g->mu);
        if (g->quit) break;
        g->busy = true;
        int upto = g->shared_launched;
        pthread_mutex_unlock(&g->mu);
        bool all = true;
        for (int b = 0; b < upto; b++) {
            bucket *k = &g->buckets[b];
            if (k->done) continue;
            bool done = false;
            /* A failure stays on the handle for end()'s wait to report. */
            if (ct_collective_test(k->h, &done) != CT_OK) done = true;
            if (done) k->done = true;
            else all = false;
        }
        pthread_mutex_lock(&g->mu);
        g->busy = false;
        pthread_cond_broadcast(&g->cv);
        if (all && upto == g->shared_launched) {
            /* Nothing in flight until the next start. */
            while (!g->quit && g->polling && g->shared_launched == upto)
                pthread_cond_wait(&g->cv, &g->mu);
            continue;
        }
        pthread_mutex_unlock(&g->mu);
        nap_ns(POLL_NS);
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

/* ---- making one -------------------------------------------------------------------------- */

ct__grad_sync *ct__grad_sync_new(ct_collective *coll, int64_t bucket_bytes, bool overlap) {
    ct__grad_sync *g = calloc(1, sizeof *g);
    if (!g) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "gradient all-reduce: out of memory");
        return NULL;
    }
    g->coll = coll;
    g->bucket_bytes = bucket_bytes;
    /* MPI below MPI_THREAD_SERIALIZED may not be called from a second
     * thread, even under ctrain's lock. */
    const ct_process_group *pg = ct_collective_group(coll);
    g->threaded = overlap && !(pg->mpi && pg->thread_level < MPI_THREAD_SERIALIZED);
    g->stats.overlap = overlap;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    return g;
}

void ct__grad_sync_free(ct__grad_sync *g) {
    if (!g) return;
    if (g->thread_on) {
        pthread_mutex_lock(&g->mu);
        g->quit = true;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->thread, NULL);
    }
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g->slots);
    free(g->buckets);
    free(g->slab);
    free(g);
}

void ct__grad_sync_stats(const ct__grad_sync *g, ct_strategy_stats *out) {
    if (g) *out = g->stats;
}

/* ---- the layout -------------------------------------------------------------------------- */

static bool same_layout(const ct__grad_sync *g, int n, ct_tensor *const *like) {
    if (n != g->nslots) return false;
    for (int i = 0; i < n; i++) {
        const slot *s = &g->slots[i];
        if (ct_tensor_dtype(like[i]) != s->dt || ct_tensor_rank(like[i]) != s->rank) return false;
        for (int d = 0; d < s->rank; d++)
            if (ct_tensor_dim(like[i], d) != s->shape[d]) return false;
    }
    return true;
}

static size_t align_up(size_t x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }

static ct_status build_layout(ct__grad_sync *g, int n, ct_tensor *const *like) {
    free(g->slots);
    free(g->buckets);
    free(g->slab);
    g->slots = NULL;
    g->buckets = NULL;
    g->slab = NULL;
    g->nslots = g->nbuckets = 0;

    size_t total = 0;
    int64_t pieces = 0;
    for (int i = 0; i < n; i++)
        total = align_up(total + (size_t)ct_tensor_size(like[i]) * ct_dtype_size(ct_tensor_dtype(like[i])));
    int64_t cap = g->bucket_bytes;
    int64_t quarter = (int64_t)(total / MIN_BUCKETS);
    if (cap > quarter) cap = quarter > MIN_BUCKET ? quarter : MIN_BUCKET;
    if (cap < 1) cap = 1;
    /* At most one bucket per tensor plus one per cap. */
    pieces = n + (int64_t)(total / (size_t)cap) + 1;
    g->slots = calloc((size_t)(n ? n : 1), sizeof *g->slots);
    g->buckets = calloc((size_t)pieces, sizeof *g->buckets);
    g->slab = calloc(total ? total : 1, 1); /* gaps between tensors stay 0 */
    if (!g->slots || !g->buckets || !g->slab)
        return ct__error(CT_ERR_OUT_OF_MEMORY, "gradient all-reduce: out of memory for %zu bytes",
                         total);
    g->slab_bytes = total;
    g->nslots = n;

    size_t off = 0;
    bucket *cur = NULL;
    for (int i = n - 1; i >= 0; i--) {
        slot *s = &g->slots[i];
        s->dt = ct_tensor_dtype(like[i]);
        s->n = ct_tensor_size(like[i]);
        s->rank = ct_tensor_rank(like[i]);
        for (int d = 0; d < s->rank; d++) s->shape[d] = ct_tensor_dim(like[i], d);
        size_t esz = ct_dtype_size(s->dt), pos = off = align_up(off);
        size_t left = (size_t)s->n * esz;
        s->off = off;
        s->b_lo = -1;
        s->b_hi = -2;
        if (cur && cur->dt != s->dt) cur = NULL;
        while (left > 0) {
            if (!cur) {
                cur = &g->buckets[g->nbuckets++];
                *cur = (bucket){.lo = pos, .hi = pos, .dt = s->dt};
            }
            int at = (int)(cur - g->buckets);
            if (s->b_hi != at) {
                if (s->b_lo < 0) s->b_lo = at;
                s->b_hi = at;
            }
            size_t room = (size_t)cap > pos - cur->lo ? (size_t)cap - (pos - cur->lo) : 0;
            room = room / esz * esz;
            if (room < esz) room = esz;
            size_t take = left < room ? left : room;
            pos += take;
            left -= take;
            cur->hi = pos;
            if (cur->hi - cur->lo >= (size_t)cap) cur = NULL;
        }
        off = pos;
    }
    return CT_OK;
}

/* ---- a step ------------------------------------------------------------------------------ */

ct_status ct__grad_sync_begin(ct__grad_sync *g, int n, ct_tensor *const *like) {
    ct_status st = CT_OK;
    if (!same_layout(g, n, like) && (st = build_layout(g, n, like))) return st;
    for (int i = 0; i < g->nslots; i++) g->slots[i].ready = false;
    for (int b = 0; b < g->nbuckets; b++) {
        bucket *k = &g->buckets[b];
        k->pending = 0;
        k->h = NULL;
        k->done = false;
    }
    for (int i = 0; i < g->nslots; i++)
        for (int b = g->slots[i].b_lo; b <= g->slots[i].b_hi; b++) g->buckets[b].pending++;
    g->launched = 0;
    g->failed = CT_OK;
    g->t_first = 0;
    if (g->threaded && !g->thread_on) {
        if (pthread_create(&g->thread, NULL, progress_main, g) == 0) g->thread_on = true;
        else g->threaded = false; /* ready() tests instead */
    }
    pthread_mutex_lock(&g->mu);
    g->shared_launched = 0;
    g->polling = g->threaded;
    pthread_mutex_unlock(&g->mu);
    return CT_OK;
}

/* Starts, in order, every bucket whose gradients are all in (all of the
 * rest when `all`). */
static void launch_ready(ct__grad_sync *g, bool all) {
    int from = g->launched;
    while (g->launched < g->nbuckets && (all || g->buckets[g->launched].pending == 0)) {
        bucket *k = &g->buckets[g->launched];
        size_t esz = ct_dtype_size(k->dt);
        ct_status st = ct_all_reduce_buffer_start(g->coll, g->slab + k->lo,
                                                  (int64_t)((k->hi - k->lo) / esz), k->dt,
                                                  CT_REDUCE_SUM, &k->h);
        if (st) {
            /* The collective keeps the failure; later starts fail too. */
            if (!g->failed) g->failed = st;
            k->h = NULL;
            k->done = true;
        }
        k->t_start = now_s();
        g->launched++;
    }
    if (g->launched == from) return;
    pthread_mutex_lock(&g->mu);
    g->shared_launched = g->launched;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

ct_status ct__grad_sync_ready(ct__grad_sync *g, int i, const ct_tensor *grad) {
    if (i < 0 || i >= g->nslots || g->slots[i].ready)
        return ct__error(CT_ERR_INTERNAL, "gradient all-reduce: gradient %d handed over twice or "
                                          "out of range (%d gradients)", i, g->nslots);
    slot *s = &g->slots[i];
    if (!g->t_first) g->t_first = now_s();
    if (grad) {
        if (ct_tensor_size(grad) != s->n || ct_tensor_dtype(grad) != s->dt)
            return ct__error(CT_ERR_INTERNAL, "gradient all-reduce: gradient %d is %s with %lld "
                                              "values, its weight %s with %lld",
                             i, ct_dtype_name(ct_tensor_dtype(grad)),
                             (long long)ct_tensor_size(grad), ct_dtype_name(s->dt),
                             (long long)s->n);
        ct_status st = ct_tensor_read(grad, s->dt, g->slab + s->off, s->n);
        if (st) return st;
    } else {
        memset(g->slab + s->off, 0, (size_t)s->n * ct_dtype_size(s->dt));
    }
    s->ready = true;
    for (int b = s->b_lo; b <= s->b_hi; b++) g->buckets[b].pending--;
    launch_ready(g, false);
    if (!g->threaded) {
        /* No progress thread: move what is in flight along now. */
        for (int b = 0; b < g->launched; b++) {
            bucket *k = &g->buckets[b];
            bool done = false;
            if (!k->done && k->h && (ct_collective_test(k->h, &done) != CT_OK || done))
                k->done = true;
        }
    }
    return CT_OK;
}

ct_status ct__grad_sync_end(ct__grad_sync *g, int n, ct_tensor **out) {
    double t_end = now_s();
    for (int i = 0; i < g->nslots; i++)
        if (!g->slots[i].ready) {
            memset(g->slab + g->slots[i].off, 0, (size_t)g->slots[i].n * ct_dtype_size(g->slots[i].dt));
            g->slots[i].ready = true;
        }
    for (int b = 0; b < g->nbuckets; b++) g->buckets[b].pending = 0;
    launch_ready(g, true);
    /* Take the handles back from the progress thread. */
    pthread_mutex_lock(&g->mu);
    g->polling = false;
    while (g->busy) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    int hidden = 0;
    for (int b = 0; b < g->nbuckets; b++) hidden += g->buckets[b].done && g->buckets[b].h;
    ct_status st = g->failed;
    for (int b = 0; b < g->nbuckets; b++) {
        bucket *k = &g->buckets[b];
        if (!k->h) continue;
        ct_status w = ct_collective_wait(k->h, NULL);
        k->h = NULL;
        if (!st) st = w;
    }
    double t_done = now_s();
    for (int i = 0; !st && i < n; i++) {
        slot *s = &g->slots[i];
        out[i] = ct_constant(g->slab + s->off, s->dt, s->rank, s->shape);
        if (!out[i]) st = ct_last_status();
    }
    ct_strategy_stats *x = &g->stats;
    x->steps++;
    x->bytes += (int64_t)g->slab_bytes;
    x->buckets = g->nbuckets;
    x->buckets_done_early += hidden;
    x->exposed_s += t_done - t_end;
    if (g->t_first) x->in_flight_s += t_done - g->t_first;
    return st;
}
