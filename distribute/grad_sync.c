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
 * calls, and the backward pass makes none, so every ready() tests the
 * buckets in flight: the all-reduce moves along at each gradient the
 * backward pass finishes, on the caller's thread. A progress thread that
 * tested every 0.5 ms was measured first and dropped: with 2 ranks of the
 * CNN on 2 cores it took 11-13% more CPU time from the backward passes
 * and trained 12% slower than without the overlap (docs/PERFORMANCE.md).
 * end() waits, under the collective's deadline, for what is left.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "distribute/strategy_internal.h"
#include "runtime/internal.h"

#define ALIGN 16
#define MIN_BUCKET ((int64_t)64 << 10)
#define MIN_BUCKETS 4

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
    bool done;      /* seen complete by a test                   */
} bucket;

struct ct__grad_sync {
    ct_collective *coll;
    int64_t bucket_bytes;

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

    ct_strategy_stats stats;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
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
    g->stats.overlap = overlap;
    return g;
}

void ct__grad_sync_free(ct__grad_sync *g) {
    if (!g) return;
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
    return CT_OK;
}

/* Starts, in order, every bucket whose gradients are all in (all of the
 * rest when `all`). */
static void launch_ready(ct__grad_sync *g, bool all) {
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
        g->launched++;
    }
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
    /* Move what is in flight along (a failure stays on the handle for
     * end()'s wait to report). */
    for (int b = 0; b < g->launched; b++) {
        bucket *k = &g->buckets[b];
        bool done = false;
        if (!k->done && k->h && (ct_collective_test(k->h, &done) != CT_OK || done))
            k->done = true;
    }
    return CT_OK;
}

ct_status ct__grad_sync_end(ct__grad_sync *g, int n, ct_tensor **out) {
    double t_end = now_s();
    for (int i = 0; i < g->nslots; i++)
        if (!g->slots[i].ready) {
            memset(g->slab + g->slots[i].off, 0,
                   (size_t)g->slots[i].n * ct_dtype_size(g->slots[i].dt));
            g->slots[i].ready = true;
        }
    for (int b = 0; b < g->nbuckets; b++) g->buckets[b].pending = 0;
    int hidden = 0;
    for (int b = 0; b < g->nbuckets; b++) hidden += g->buckets[b].done && g->buckets[b].h;
    launch_ready(g, true);
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
