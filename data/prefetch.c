/*
 * prefetch: a background thread per iterator pulls the input into a
 * bounded queue of buffer_size elements, so the input's work overlaps the
 * consumer's. buffer_size 0 passes elements through on the consumer's
 * thread (no thread); CT_AUTOTUNE picks twice the thread budget, between
 * 2 and 8.
 *
 * The thread starts at the first next(), so a restored iterator starts
 * from its restored position. Errors from the input are queued in order
 * with the elements (carried across threads) and the thread goes on, as
 * TF's does. Save pauses the thread between two input calls and writes
 * the queued elements, then the input's state; restore reads them back.
 * Freeing the iterator stops and joins the thread (after the input call
 * it may be in returns).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/internal.h"
#include "data/pool.h"

typedef struct prefetch_ds {
    ct_dataset base;
    ct_dataset *input;
    int64_t buffer_size; /* resolved: >= 0 */
} prefetch_ds;

typedef struct pf_entry {
    ct_element *e;      /* NULL when err is set */
    ct__task_error err;
} pf_entry;

typedef struct prefetch_it {
    ct__iter base;
    ct__iter *input;
    int64_t cap;       /* buffer_size: the thread fills up to it        */
    int64_t ring;      /* entries in buf: cap, or more after a restore  */
    pf_entry *buf;     /* a ring of `ring` entries; head, count under mu */
    int64_t head, count;
    bool ended;        /* the input ended after the queued elements    */
    bool started;      /* the thread runs                              */
    bool no_thread;    /* it could not start: work on the caller's one */
    bool cancel;       /* the thread should exit                       */
    bool pause;        /* the thread should not call the input         */
    bool busy;         /* the thread is inside the input's next        */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t got; /* an element was queued, or busy went false   */
    pthread_cond_t room; /* room in the queue, unpause or cancel        */
} prefetch_it;

static void *pf_thread(void *arg) {
    prefetch_it *p = arg;
    ct__worker_thread_signals();
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->cancel && (p->pause || p->ended || p->count >= p->cap))
            pthread_cond_wait(&p->room, &p->mu);
        if (p->cancel) break;
        p->busy = true;
        pthread_mutex_unlock(&p->mu);
        ct_clear_error();
        ct_element *e;
        ct_status st = ct__iter_next(p->input, &e);
        pf_entry en = {.e = e};
        ct__error_capture(&en.err, st, "ct_dataset_prefetch");
        pthread_mutex_lock(&p->mu);
        p->busy = false;
        if (!st && !e) {
            p->ended = true;
        } else {
            p->buf[(p->head + p->count) % p->ring] = en;
            p->count++;
        }
        pthread_cond_broadcast(&p->got);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static ct_status pf_next(ct__iter *it, ct_element **out) {
    prefetch_it *p = (prefetch_it *)it;
    if (p->cap == 0 && p->count == 0) return ct__iter_next(p->input, out);
    if (!p->started && !p->no_thread && p->cap > 0) {
        if (pthread_create(&p->th, NULL, pf_thread, p) == 0) p->started = true;
        else p->no_thread = true;
    }
    pthread_mutex_lock(&p->mu);
    if ((p->no_thread || p->cap == 0) && p->count == 0 && !p->ended) {
        pthread_mutex_unlock(&p->mu);
        return ct__iter_next(p->input, out);
    }
    while (p->count == 0 && !p->ended) pthread_cond_wait(&p->got, &p->mu);
    if (p->count == 0) {
        pthread_mutex_unlock(&p->mu);
        return CT_OK; /* end of sequence */
    }
    pf_entry en = p->buf[p->head];
    p->head = (p->head + 1) % p->ring;
    p->count--;
    pthread_cond_signal(&p->room);
    pthread_mutex_unlock(&p->mu);
    *out = en.e;
    return ct__error_raise(&en.err);
}

/* Holds the thread between input calls (so the input may be saved or
 * restored on this thread) until pf_resume. */
static void pf_pause(prefetch_it *p) {
    pthread_mutex_lock(&p->mu);
    p->pause = true;
    while (p->busy) pthread_cond_wait(&p->got, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static void pf_resume(prefetch_it *p) {
    pthread_mutex_lock(&p->mu);
    p->pause = false;
    pthread_cond_broadcast(&p->room);
    pthread_mutex_unlock(&p->mu);
}

static ct_status pf_save(ct__iter *it, ct__state_writer *w) {
    prefetch_it *p = (prefetch_it *)it;
    pf_pause(p);
    ct__sw_i64(w, p->count);
    for (int64_t k = 0; k < p->count; k++) {
        pf_entry *en = &p->buf[(p->head + k) % p->ring];
        ct__sw_i64(w, en->err.st);
        ct__sw_bytes(w, en->err.msg, strlen(en->err.msg));
        ct__sw_element(w, en->err.st ? NULL : en->e);
    }
    ct__sw_i64(w, p->ended);
    ct_status st = ct__iter_save(p->input, w);
    pf_resume(p);
    return st;
}

static void pf_clear(prefetch_it *p) {
    for (int64_t k = 0; k < p->count; k++) ct_element_free(p->buf[(p->head + k) % p->ring].e);
    p->head = p->count = 0;
    p->ended = false;
}

static ct_status pf_restore(ct__iter *it, ct__state_reader *r) {
    prefetch_it *p = (prefetch_it *)it;
    pf_pause(p);
    pf_clear(p);
    /* The saved buffer may hold more than this one (CT_AUTOTUNE depends
     * on the machine): the ring grows to hold them, and the thread refills
     * only once the queue is below buffer_size again. */
    int64_t count = ct__sr_i64(r);
    if (!r->st && (count < 0 || (uint64_t)count > r->n - r->pos))
        ct__sr_fail(r, "prefetch: a buffered element count");
    if (!r->st && count > p->ring) {
        pf_entry *b = realloc(p->buf, (size_t)count * sizeof *b);
        if (!b) r->st = ct__error(CT_ERR_OUT_OF_MEMORY, "ct_dataset_prefetch: out of host memory");
        else {
            p->buf = b;
            p->ring = count;
        }
    }
    for (int64_t k = 0; k < count && !r->st; k++) {
        pf_entry en = {0};
        en.err.st = (ct_status)ct__sr_i64(r);
        size_t len;
        char *msg = ct__sr_bytes(r, &len);
        if (msg) {
            snprintf(en.err.msg, sizeof en.err.msg, "%s", msg);
            free(msg);
        }
        en.e = ct__sr_element(r);
        if (r->st) break;
        if (!en.err.st && !en.e) {
            ct__sr_fail(r, "prefetch: a buffered element is missing");
            break;
        }
        p->buf[p->count++] = en;
    }
    p->ended = ct__sr_i64(r) != 0;
    if (!r->st) ct__iter_restore(p->input, r);
    pf_resume(p);
    return r->st;
}

static void pf_free(ct__iter *it) {
    prefetch_it *p = (prefetch_it *)it;
    if (p->started) {
        pthread_mutex_lock(&p->mu);
        p->cancel = true;
        pthread_cond_broadcast(&p->room);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->th, NULL);
    }
    if (p->buf) pf_clear(p);
    free(p->buf);
    ct__iter_free(p->input);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->got);
    pthread_cond_destroy(&p->room);
    free(p);
}

static const ct__iter_vt pf_it_vt = {pf_next, pf_save, pf_restore, pf_free};

static ct__iter *pf_iterator(ct_dataset *ds) {
    prefetch_ds *d = (prefetch_ds *)ds;
    ct__iter *input = ct__iter_make(d->input);
    if (!input) return NULL;
    prefetch_it *p = ct__iter_alloc(sizeof *p, &pf_it_vt, ds);
    if (!p) {
        ct__iter_free(input);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->got, NULL);
    pthread_cond_init(&p->room, NULL);
    p->input = input;
    p->cap = p->ring = d->buffer_size;
    if (p->cap > 0 && !(p->buf = calloc((size_t)p->cap, sizeof *p->buf))) {
        pf_free(&p->base);
        ct__error(CT_ERR_OUT_OF_MEMORY,
                  "ct_dataset_prefetch: out of host memory for a buffer of %lld elements",
                  (long long)d->buffer_size);
        return NULL;
    }
    return &p->base;
}

static int64_t pf_cardinality(const ct_dataset *ds) {
    return ct_dataset_cardinality(((const prefetch_ds *)ds)->input);
}

static void pf_destroy(ct_dataset *ds) { ct_dataset_free(((prefetch_ds *)ds)->input); }

static ct_dataset *pf_remake(ct_dataset *ds, ct__remake_fn f, void *ctx) {
    prefetch_ds *d = (prefetch_ds *)ds;
    ct_dataset *input = f(d->input, ctx);
    if (!input) return NULL;
    ct_dataset *r = ct_dataset_prefetch(input, d->buffer_size);
    if (r) r->opts = ds->opts;
    return r;
}

static const ct__dataset_vt prefetch_vt = {"PrefetchDataset", pf_iterator, pf_cardinality,
                                           pf_destroy, pf_remake, .input = ct__dataset_first_input};

ct_dataset *ct_dataset_prefetch(ct_dataset *ds, int64_t buffer_size) {
    if (ct__dataset_null(ds, "ct_dataset_prefetch")) return NULL;
    if (buffer_size < 0 && buffer_size != CT_AUTOTUNE) {
        ct_dataset_free(ds);
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_dataset_prefetch: buffer_size must be >= 0 or CT_AUTOTUNE (%d), got %lld",
                  CT_AUTOTUNE, (long long)buffer_size);
        return NULL;
    }
    if (buffer_size == CT_AUTOTUNE) {
        buffer_size = 2 * (int64_t)ct__pool_size();
        if (buffer_size < 2) buffer_size = 2;
        if (buffer_size > 8) buffer_size = 8;
    }
    prefetch_ds *d = ct__dataset_alloc(sizeof *d, &prefetch_vt, &ds->spec);
    if (!d) {
        ct_dataset_free(ds);
        return NULL;
    }
    d->input = ds;
    d->buffer_size = buffer_size;
    d->base.opts = ds->opts;
    return &d->base;
}
