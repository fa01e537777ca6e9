/*
 * flat_map and interleave: a function turns each input element into a
 * dataset whose elements are produced in turn.
 *
 * interleave follows TF's order exactly (InterleaveDatasetOp): a cycle of
 * cycle_length slots, each holding an iterator of one input element's
 * dataset; block_length elements are taken from the current slot before
 * moving to the next; an exhausted slot is closed and the cycle moves on;
 * an empty slot is filled in place from the next input element. So
 * range(1, 6) with from_tensors(x).repeat(6), cycle_length 2 and
 * block_length 4 gives 1,1,1,1,2,2,2,2,1,1,2,2,3,3,3,3,4,4,4,4,3,3,4,4,
 * 5,5,5,5,5,5.
 *
 * With num_parallel_calls > 1 (or CT_AUTOTUNE) the same order is kept (TF's
 * deterministic parallel interleave; nondeterministic options do not
 * reorder here), but each open slot fills a small buffer of its next
 * elements on the data pool, at most num_parallel_calls slots at a time.
 * Input elements are pulled and the function run on the consumer's
 * thread. Save/restore waits for the fetches in flight and writes, per
 * slot, the input element it was made from (so the dataset can be made
 * again), its iterator's state, and its buffered elements.
 *
 * The element spec is that of the dataset the function returns for the
 * first input element (probed at construction; a copy of the input's
 * spec when the input is empty or the function fails on it). Every
 * dataset the function returns must have the same number of components
 * and dtypes.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/internal.h"
#include "data/pool.h"

/* What flat_map and interleave share. */
typedef struct fn_ds {
    ct_dataset base;
    ct_dataset *input;
    ct_dataset_fn fn;
    void *ctx;
    bool spec_known;
    const char *api;
} fn_ds;

/* Runs fn on e and makes an iterator of the dataset it returns. */
static ct_status open_inner(const fn_ds *d, const ct_element *e, ct_dataset **ds_out,
                            ct__iter **it_out) {
    *ds_out = NULL;
    *it_out = NULL;
    ct_dataset *ds = d->fn(e, d->ctx);
    if (!ds) {
        if (ct_last_status() == CT_OK)
            ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the function returned no dataset", d->api);
        return ct_last_status();
    }
    if (d->spec_known) {
        const ct_element_spec *a = &d->base.spec, *b = &ds->spec;
        bool same = a->n == b->n;
        for (int i = 0; same && i < a->n; i++) same = a->c[i].dtype == b->c[i].dtype;
        if (!same) {
            ct_dataset_free(ds);
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: the function returned a dataset of %d components whose "
                             "structure differs from the first one's (%d components)",
                             d->api, b->n, a->n);
        }
    }
    ct__iter *it = ct__iter_make(ds);
    if (!it) {
        ct_dataset_free(ds);
        return ct_last_status();
    }
    *ds_out = ds;
    *it_out = it;
    return CT_OK;
}

/* Learns the spec from the dataset fn makes of the first element; keeps
 * the thread's error as it was (failures show when iterating). */
static ct_status fn_probe(fn_ds *d) {
    ct__task_error before;
    ct__error_capture(&before, ct_last_status(), d->api);
    ct__data_probing++;
    ct__iter *it = ct__iter_make(d->input);
    ct__data_probing--;
    if (!it) return ct_last_status();
    ct_element *e = NULL;
    if (ct__iter_next(it, &e) == CT_OK && e) {
        ct_dataset *ds = d->fn(e, d->ctx);
        if (ds) {
            d->base.spec = ds->spec;
            d->spec_known = true;
            ct_dataset_free(ds);
        }
    }
    ct_element_free(e);
    ct__iter_free(it);
    if (before.st) ct__error_raise(&before);
    else ct_clear_error();
    return CT_OK;
}

static void fn_destroy(ct_dataset *ds) { ct_dataset_free(((fn_ds *)ds)->input); }

/* Allocates a dataset of kind vt over ds (taking it over), probing the
 * spec. NULL with an error. */
static fn_ds *fn_ds_new(size_t size, const ct__dataset_vt *vt, ct_dataset *ds, ct_dataset_fn fn,
                        void *ctx, const char *api) {
    fn_ds *d = ct__dataset_alloc(size, vt, &ds->spec);
    if (!d) {
        ct_dataset_free(ds);
        return NULL;
    }
    d->input = ds;
    d->fn = fn;
    d->ctx = ctx;
    d->api = api;
    d->base.opts = ds->opts;
    if (fn_probe(d)) {
        ct_dataset_free(&d->base);
        return NULL;
    }
    return d;
}

/* ---- flat_map ------------------------------------------------------------------------ */

typedef struct flat_map_it {
    ct__iter base;
    ct__iter *input;
    ct_element *arg; /* the input element of the current dataset */
    ct_dataset *cur_ds;
    ct__iter *cur;
} flat_map_it;

static void flat_map_close(flat_map_it *f) {
    ct__iter_free(f->cur);
    ct_dataset_free(f->cur_ds);
    ct_element_free(f->arg);
    f->cur = NULL;
    f->cur_ds = NULL;
    f->arg = NULL;
}

static ct_status flat_map_next(ct__iter *it, ct_element **out) {
    flat_map_it *f = (flat_map_it *)it;
    const fn_ds *d = (const fn_ds *)it->ds;
    for (;;) {
        if (f->cur) {
            ct_status st = ct__iter_next(f->cur, out);
            if (st || *out) return st;
            flat_map_close(f);
        }
        ct_element *e;
        ct_status st = ct__iter_next(f->input, &e);
        if (st || !e) return st;
        st = open_inner(d, e, &f->cur_ds, &f->cur);
        if (st) {
            ct_element_free(e);
            return st;
        }
        f->arg = e;
    }
}

static ct_status flat_map_save(ct__iter *it, ct__state_writer *w) {
    flat_map_it *f = (flat_map_it *)it;
    ct__sw_i64(w, f->cur != NULL);
    if (f->cur) {
        ct__sw_element(w, f->arg);
        ct__iter_save(f->cur, w);
    }
    return ct__iter_save(f->input, w);
}

static ct_status flat_map_restore(ct__iter *it, ct__state_reader *r) {
    flat_map_it *f = (flat_map_it *)it;
    flat_map_close(f);
    int64_t has = ct__sr_i64(r);
    if (r->st) return r->st;
    if (has) {
        ct_element *e = ct__sr_element(r);
        if (!e) return r->st ? r->st : ct__sr_fail(r, "flat_map: the current element is missing");
        if (open_inner((const fn_ds *)it->ds, e, &f->cur_ds, &f->cur)) {
            ct_element_free(e);
            return r->st = ct_last_status();
        }
        f->arg = e;
        if (ct__iter_restore(f->cur, r)) return r->st;
    }
    return ct__iter_restore(f->input, r);
}

static void flat_map_free(ct__iter *it) {
    flat_map_it *f = (flat_map_it *)it;
    flat_map_close(f);
    ct__iter_free(f->input);
    free(f);
}

static const ct__iter_vt flat_map_it_vt = {flat_map_next, flat_map_save, flat_map_restore,
                                           flat_map_free};

static ct__iter *flat_map_iterator(ct_dataset *ds) {
    ct__iter *input = ct__iter_make(((fn_ds *)ds)->input);
    if (!input) return NULL;
    flat_map_it *f = ct__iter_alloc(sizeof *f, &flat_map_it_vt, ds);
    if (!f) {
        ct__iter_free(input);
        return NULL;
    }
    f->input = input;
    return &f->base;
}

static ct_dataset *flat_map_remake(ct_dataset *ds, ct__remake_fn f, void *ctx) {
    fn_ds *d = (fn_ds *)ds;
    ct_dataset *input = f(d->input, ctx);
    if (!input) return NULL;
    ct_dataset *r = ct_dataset_flat_map(input, d->fn, d->ctx);
    if (r) r->opts = ds->opts;
    return r;
}

static const ct__dataset_vt flat_map_vt = {"FlatMapDataset", flat_map_iterator, NULL, fn_destroy,
                                           flat_map_remake, .input = ct__dataset_first_input};

ct_dataset *ct_dataset_flat_map(ct_dataset *ds, ct_dataset_fn fn, void *ctx) {
    if (ct__dataset_null(ds, "ct_dataset_flat_map")) return NULL;
    if (!fn) {
        ct_dataset_free(ds);
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_dataset_flat_map: the function is NULL");
        return NULL;
    }
    fn_ds *d = fn_ds_new(sizeof *d, &flat_map_vt, ds, fn, ctx, "ct_dataset_flat_map");
    return d ? &d->base : NULL;
}

/* ---- interleave --------------------------------------------------------------------- */

typedef struct interleave_ds {
    fn_ds f;
    int cycle;    /* cycle_length, resolved                      */
    int block;    /* block_length, resolved                      */
    int parallel; /* fetches at a time; 0: sequential            */
} interleave_ds;

typedef struct il_entry {
    ct_element *e;      /* NULL when err is set */
    ct__task_error err;
} il_entry;

typedef struct il_it il_it;

typedef struct il_slot {
    il_it *owner;
    ct_element *arg;  /* the input element the dataset came from     */
    ct_dataset *ds;
    ct__iter *it;     /* NULL: the slot is empty                      */
    /* Parallel only; buf/count/ended/running/stop under owner->mu. */
    ct__future fut;
    il_entry *buf;    /* a ring of `target` entries                  */
    int head, count;
    bool ended;       /* it reached its end after the buffered ones  */
    bool running;     /* a fetch task owns `it`                      */
    bool stop;        /* the fetch task should return                */
} il_slot;

struct il_it {
    ct__iter base;
    ct__iter *input;
    int cycle, block, parallel, target;
    il_slot *slots;
    int cycle_index, block_index, num_open;
    bool end_of_input;
    int inflight; /* fetch tasks submitted and not finished (under mu) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* A pool task: buffers the slot's next elements until `target` are
 * ready, the iterator ends or the consumer asks it to stop. */
static void il_fetch(void *arg) {
    il_slot *s = arg;
    il_it *m = s->owner;
    pthread_mutex_lock(&m->mu);
    while (!s->stop && !s->ended && s->count < m->target) {
        pthread_mutex_unlock(&m->mu);
        ct_clear_error();
        ct_element *e;
        ct_status st = ct__iter_next(s->it, &e);
        il_entry en = {.e = e};
        ct__error_capture(&en.err, st, "ct_dataset_interleave");
        pthread_mutex_lock(&m->mu);
        if (!st && !e) {
            s->ended = true;
        } else {
            s->buf[(s->head + s->count) % m->target] = en;
            s->count++;
        }
        pthread_cond_broadcast(&m->cv);
    }
    s->running = false;
    m->inflight--;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* Starts a fetch for slot s when it needs one and the limit allows;
 * false when none was started. */
static bool il_schedule(il_it *m, il_slot *s) {
    if (!m->parallel || !s->it) return false;
    pthread_mutex_lock(&m->mu);
    bool go = !s->running && !s->ended && !s->stop && s->count < m->target &&
              m->inflight < m->parallel;
    if (go) {
        s->running = true;
        m->inflight++;
    }
    pthread_mutex_unlock(&m->mu);
    if (!go) return false;
    /* The previous fetch cleared `running` as its last act: let it return. */
    ct__future_wait(&s->fut);
    ct__pool_submit(&s->fut, il_fetch, s);
    return true;
}

/* Starts fetches for the open slots, nearest in the cycle first. */
static void il_schedule_all(il_it *m) {
    if (!m->parallel) return;
    for (int k = 0; k < m->cycle; k++) il_schedule(m, &m->slots[(m->cycle_index + k) % m->cycle]);
}

/* Stops the slot's fetch: afterwards no task touches it. */
static void il_quiesce(il_it *m, il_slot *s) {
    if (!m->parallel) return;
    pthread_mutex_lock(&m->mu);
    s->stop = true;
    pthread_mutex_unlock(&m->mu);
    bool cancelled = ct__pool_cancel(&s->fut);
    if (!cancelled) ct__future_wait(&s->fut);
    pthread_mutex_lock(&m->mu);
    if (cancelled && s->running) {
        s->running = false;
        m->inflight--;
    }
    s->stop = false;
    pthread_mutex_unlock(&m->mu);
}

static void il_close(il_it *m, il_slot *s) {
    il_quiesce(m, s);
    for (int k = 0; k < s->count; k++) ct_element_free(s->buf[(s->head + k) % m->target].e);
    s->head = s->count = 0;
    s->ended = false;
    ct__iter_free(s->it);
    ct_dataset_free(s->ds);
    ct_element_free(s->arg);
    s->it = NULL;
    s->ds = NULL;
    s->arg = NULL;
}

/* The slot's next element into *e, or *end. An error is returned without
 * moving the cycle, as TF does. */
static ct_status il_get(il_it *m, il_slot *s, ct_element **e, bool *end) {
    *e = NULL;
    *end = false;
    if (!m->parallel) {
        ct_status st = ct__iter_next(s->it, e);
        *end = !st && !*e;
        return st;
    }
    pthread_mutex_lock(&m->mu);
    for (;;) {
        if (s->count > 0) {
            il_entry en = s->buf[s->head];
            s->head = (s->head + 1) % m->target;
            s->count--;
            pthread_mutex_unlock(&m->mu);
            il_schedule(m, s);
            *e = en.e;
            return ct__error_raise(&en.err);
        }
        if (s->ended) {
            pthread_mutex_unlock(&m->mu);
            *end = true;
            return CT_OK;
        }
        if (!s->running) {
            pthread_mutex_unlock(&m->mu);
            if (il_schedule(m, s)) {
                pthread_mutex_lock(&m->mu);
                continue;
            }
            /* At the limit of fetches: take one element here (no task owns
             * the iterator, and only this thread starts fetches), rather
             * than wait for fetches that may sit behind busy workers. */
            ct_status st = ct__iter_next(s->it, e);
            if (!st && !*e) {
                pthread_mutex_lock(&m->mu);
                s->ended = true;
                pthread_mutex_unlock(&m->mu);
                *end = true;
            }
            return st;
        }
        pthread_mutex_unlock(&m->mu);
        /* A fetch still queued behind busy workers runs here instead. */
        if (ct__pool_cancel(&s->fut)) il_fetch(s);
        pthread_mutex_lock(&m->mu);
        if (s->count == 0 && !s->ended && s->running) pthread_cond_wait(&m->cv, &m->mu);
    }
}

static void il_advance(il_it *m) {
    m->block_index = 0;
    m->cycle_index = (m->cycle_index + 1) % m->cycle;
}

static ct_status il_open(il_it *m, il_slot *s, ct_element *arg) {
    ct_status st = open_inner((const fn_ds *)m->base.ds, arg, &s->ds, &s->it);
    if (st) return st;
    s->arg = arg;
    m->num_open++;
    return CT_OK;
}

static ct_status il_next(ct__iter *it, ct_element **out) {
    il_it *m = (il_it *)it;
    ct_status st = CT_OK;
    while (!m->end_of_input || m->num_open > 0) {
        il_slot *s = &m->slots[m->cycle_index];
        if (s->it) {
            ct_element *e;
            bool end;
            st = il_get(m, s, &e, &end);
            if (st) break;
            if (!end) {
                if (++m->block_index == m->block) il_advance(m);
                *out = e;
                break;
            }
            il_close(m, s);
            m->num_open--;
            il_advance(m);
        } else if (!m->end_of_input) {
            ct_element *e;
            st = ct__iter_next(m->input, &e);
            if (st) break;
            if (!e) {
                m->end_of_input = true;
                continue;
            }
            st = il_open(m, s, e);
            if (st) {
                ct_element_free(e);
                break;
            }
        } else {
            il_advance(m);
        }
    }
    il_schedule_all(m);
    return st;
}

static ct_status il_save(ct__iter *it, ct__state_writer *w) {
    il_it *m = (il_it *)it;
    for (int i = 0; i < m->cycle; i++)
        if (m->slots[i].it) il_quiesce(m, &m->slots[i]);
    ct__sw_i64(w, m->cycle);
    ct__sw_i64(w, m->block);
    ct__sw_i64(w, m->cycle_index);
    ct__sw_i64(w, m->block_index);
    ct__sw_i64(w, m->end_of_input);
    for (int i = 0; i < m->cycle; i++) {
        il_slot *s = &m->slots[i];
        ct__sw_i64(w, s->it != NULL);
        if (!s->it) continue;
        ct__sw_element(w, s->arg);
        ct__iter_save(s->it, w);
        ct__sw_i64(w, s->count);
        for (int k = 0; k < s->count; k++) {
            il_entry *en = &s->buf[(s->head + k) % m->target];
            ct__sw_i64(w, en->err.st);
            ct__sw_bytes(w, en->err.msg, strlen(en->err.msg));
            ct__sw_element(w, en->err.st ? NULL : en->e);
        }
        ct__sw_i64(w, s->ended);
    }
    ct_status st = ct__iter_save(m->input, w);
    il_schedule_all(m);
    return st;
}

static ct_status il_restore(ct__iter *it, ct__state_reader *r) {
    il_it *m = (il_it *)it;
    for (int i = 0; i < m->cycle; i++)
        if (m->slots[i].it) il_close(m, &m->slots[i]);
    m->num_open = 0;
    m->cycle_index = m->block_index = 0;
    if (!ct__sr_param(r, it->ds->vt->name, "cycle_length", m->cycle) ||
        !ct__sr_param(r, it->ds->vt->name, "block_length", m->block))
        return r->st;
    m->cycle_index = (int)ct__sr_i64(r);
    m->block_index = (int)ct__sr_i64(r);
    m->end_of_input = ct__sr_i64(r) != 0;
    if (r->st) return r->st;
    if (m->cycle_index < 0 || m->cycle_index >= m->cycle || m->block_index < 0 ||
        m->block_index >= m->block) {
        m->cycle_index = m->block_index = 0;
        return ct__sr_fail(r, "interleave: the cycle position does not fit this cycle");
    }
    for (int i = 0; i < m->cycle; i++) {
        il_slot *s = &m->slots[i];
        int64_t has = ct__sr_i64(r);
        if (r->st) return r->st;
        if (!has) continue;
        ct_element *e = ct__sr_element(r);
        if (!e) return r->st ? r->st : ct__sr_fail(r, "interleave: a slot's element is missing");
        if (il_open(m, s, e)) {
            ct_element_free(e);
            return r->st = ct_last_status();
        }
        if (ct__iter_restore(s->it, r)) return r->st;
        int64_t count = ct__sr_i64(r);
        if (r->st) return r->st;
        if (count < 0 || count > (m->parallel ? m->target : 0))
            return ct__sr_fail(r, "interleave: a slot's buffer does not fit");
        for (int64_t k = 0; k < count; k++) {
            il_entry en = {0};
            en.err.st = (ct_status)ct__sr_i64(r);
            size_t len;
            char *msg = ct__sr_bytes(r, &len);
            if (msg) {
                snprintf(en.err.msg, sizeof en.err.msg, "%s", msg);
                free(msg);
            }
            en.e = ct__sr_element(r);
            if (r->st) return r->st;
            if (!en.err.st && !en.e) return ct__sr_fail(r, "interleave: a buffered element is missing");
            s->buf[s->count++] = en;
        }
        s->ended = ct__sr_i64(r) != 0;
        if (r->st) return r->st;
    }
    return ct__iter_restore(m->input, r);
}

static void il_free(ct__iter *it) {
    il_it *m = (il_it *)it;
    for (int i = 0; i < m->cycle; i++)
        if (m->slots[i].it) il_close(m, &m->slots[i]);
    if (m->slots)
        for (int i = 0; i < m->cycle; i++) free(m->slots[i].buf);
    free(m->slots);
    ct__iter_free(m->input);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m);
}

static const ct__iter_vt il_it_vt = {il_next, il_save, il_restore, il_free};

static ct__iter *il_iterator(ct_dataset *ds) {
    interleave_ds *d = (interleave_ds *)ds;
    ct__iter *input = ct__iter_make(d->f.input);
    if (!input) return NULL;
    il_it *m = ct__iter_alloc(sizeof *m, &il_it_vt, ds);
    if (!m) {
        ct__iter_free(input);
        return NULL;
    }
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    m->input = input;
    m->cycle = d->cycle;
    m->block = d->block;
    m->parallel = d->parallel;
    m->target = d->block < 2 ? 2 : d->block;
    m->slots = calloc((size_t)m->cycle, sizeof *m->slots);
    bool ok = m->slots != NULL;
    for (int i = 0; ok && i < m->cycle; i++) {
        il_slot *s = &m->slots[i];
        s->owner = m;
        ct__future_init(&s->fut);
        if (m->parallel) ok = (s->buf = calloc((size_t)m->target, sizeof *s->buf)) != NULL;
    }
    if (!ok) {
        il_free(&m->base);
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_dataset_interleave: out of host memory");
        return NULL;
    }
    return &m->base;
}

static ct_dataset *il_remake(ct_dataset *ds, ct__remake_fn f, void *ctx);
static const ct__dataset_vt interleave_vt = {"InterleaveDataset", il_iterator, NULL, fn_destroy,
                                             il_remake, .input = ct__dataset_first_input};
static const ct__dataset_vt par_interleave_vt = {"ParallelInterleaveDatasetV4", il_iterator, NULL,
                                                 fn_destroy, il_remake,
                                                 .input = ct__dataset_first_input};

/* The same interleave (cycle, block and parallelism as resolved) over f(input). */
static ct_dataset *il_remake(ct_dataset *ds, ct__remake_fn f, void *ctx) {
    interleave_ds *d = (interleave_ds *)ds;
    ct_dataset *input = f(d->f.input, ctx);
    if (!input) return NULL;
    interleave_ds *r =
        (interleave_ds *)fn_ds_new(sizeof *r, ds->vt, input, d->f.fn, d->f.ctx, d->f.api);
    if (!r) return NULL;
    r->cycle = d->cycle;
    r->block = d->block;
    r->parallel = d->parallel;
    r->f.base.opts = ds->opts;
    return &r->f.base;
}

ct_dataset *ct_dataset_interleave(ct_dataset *ds, ct_dataset_fn fn, void *ctx, int cycle_length,
                                  int block_length, int num_parallel_calls) {
    const char *api = "ct_dataset_interleave";
    if (ct__dataset_null(ds, api)) return NULL;
    const char *bad = NULL;
    char msg[160];
    if (!fn) bad = "the function is NULL";
    else if (cycle_length < 0 && cycle_length != CT_AUTOTUNE) {
        snprintf(msg, sizeof msg, "cycle_length must be CT_AUTOTUNE or greater than 0, got %d",
                 cycle_length);
        bad = msg;
    } else if (block_length < 0) {
        snprintf(msg, sizeof msg, "block_length must be greater than 0, got %d", block_length);
        bad = msg;
    } else if (num_parallel_calls < 0 && num_parallel_calls != CT_AUTOTUNE) {
        snprintf(msg, sizeof msg,
                 "num_parallel_calls must be greater than 0 or CT_AUTOTUNE, got %d",
                 num_parallel_calls);
        bad = msg;
    } else if (cycle_length > 0 && num_parallel_calls > cycle_length) {
        snprintf(msg, sizeof msg,
                 "if cycle_length is set to a fixed value, num_parallel_calls must be "
                 "CT_AUTOTUNE or at most cycle_length; got %d > %d", num_parallel_calls,
                 cycle_length);
        bad = msg;
    }
    if (bad) {
        ct_dataset_free(ds);
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %s", api, bad);
        return NULL;
    }
    int cycle = cycle_length > 0 ? cycle_length : ct__pool_size();
    bool par = num_parallel_calls > 1 || num_parallel_calls == CT_AUTOTUNE;
    interleave_ds *d = (interleave_ds *)fn_ds_new(sizeof *d, par ? &par_interleave_vt : &interleave_vt,
                                                 ds, fn, ctx, api);
    if (!d) return NULL;
    d->cycle = cycle;
    d->block = block_length > 0 ? block_length : 1;
    d->parallel = !par ? 0 : num_parallel_calls == CT_AUTOTUNE ? cycle : num_parallel_calls;
    return &d->f.base;
}
