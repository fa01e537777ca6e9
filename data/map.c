/*
 * map and filter.
 *
 * map with num_parallel_calls 0 or 1 calls the function on the consumer's
 * thread. Above 1 (or CT_AUTOTUNE) it keeps up to that many calls in
 * flight on the data pool: the consumer pulls input elements (input
 * iterators are single-threaded), submits a call per element, and hands
 * results back in input order, or in completion order when the dataset's
 * options say nondeterministic. Results are kept in a queue of slots in
 * submission order; the queue is refilled before next() returns, so the
 * workers keep going while the consumer uses the element.
 *
 * The element spec of a map is found at construction by running the
 * function on the input's first element (an iterator made and freed for
 * the purpose). When there is no first element, or the function fails on
 * it, the spec stays a copy of the input's spec and results are not
 * checked against it; the failure itself surfaces when iterating.
 *
 * Save/restore of a parallel map first waits for the calls in flight, then
 * writes the finished results (elements or errors) in queue order
 * followed by the input's state, which is then exactly past the last
 * buffered element.
 */
#include <stdlib.h>
#include <string.h>

#include "data/internal.h"
#include "data/pool.h"

/* ---- map ------------------------------------------------------------------------ */

typedef struct map_ds {
    ct_dataset base;
    ct_dataset *input;
    ct_map_fn fn;
    void *ctx;
    int parallel;    /* num_parallel_calls as given                 */
    bool spec_known; /* base.spec came from a result of fn          */
} map_ds;

/* Calls the map function on one element and checks what it returned. */
static ct_status map_apply(const map_ds *d, const ct_element *in, ct_element **out) {
    *out = NULL;
    ct_status st = d->fn(in, d->ctx, out);
    if (st) {
        ct_element_free(*out);
        *out = NULL;
        if (ct_last_status() == CT_OK)
            ct__error(st, "ct_dataset_map: the map function returned %s without setting an error",
                      ct_status_name(st));
        return st;
    }
    ct_element *e = *out;
    if (!e)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "ct_dataset_map: the map function returned CT_OK but no element");
    for (int i = 0; i < e->n; i++)
        if (!e->t[i]) {
            ct_element_free(e);
            *out = NULL;
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "ct_dataset_map: the map function returned an element whose "
                             "component %d is NULL", i);
        }
    if (!d->spec_known) return CT_OK;
    const ct_element_spec *s = &d->base.spec;
    if (e->n != s->n) {
        ct_element_free(e);
        *out = NULL;
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "ct_dataset_map: the map function returned %d components; its first "
                         "result had %d", e->n, s->n);
    }
    for (int i = 0; i < e->n; i++)
        if (e->t[i]->dtype != s->c[i].dtype) {
            ct_status bad = ct__error(CT_ERR_INVALID_ARGUMENT,
                                      "ct_dataset_map: component %d of a result is %s; the "
                                      "first result's was %s", i, CT__DESC(e->t[i]),
                                      ct_dtype_name(s->c[i].dtype));
            ct_element_free(e);
            *out = NULL;
            return bad;
        }
    return CT_OK;
}

/* ---- sequential map ---- */

typedef struct seq_map_it {
    ct__iter base;
    ct__iter *input;
} seq_map_it;

static ct_status seq_map_next(ct__iter *it, ct_element **out) {
    seq_map_it *m = (seq_map_it *)it;
    ct_element *e;
    ct_status st = ct__iter_next(m->input, &e);
    if (st || !e) return st;
    st = map_apply((const map_ds *)it->ds, e, out);
    ct_element_free(e);
    return st;
}

static ct_status seq_map_save(ct__iter *it, ct__state_writer *w) {
    return ct__iter_save(((seq_map_it *)it)->input, w);
}

static ct_status seq_map_restore(ct__iter *it, ct__state_reader *r) {
    return ct__iter_restore(((seq_map_it *)it)->input, r);
}

static void seq_map_free(ct__iter *it) {
    ct__iter_free(((seq_map_it *)it)->input);
    free(it);
}

static const ct__iter_vt seq_map_it_vt = {seq_map_next, seq_map_save, seq_map_restore,
                                          seq_map_free};

/* ---- parallel map ---- */

typedef struct par_map_it par_map_it;

typedef struct map_slot {
    ct__future fut;     /* the call (IDLE for results not computed here) */
    const map_ds *ds;
    ct_element *in;     /* the argument, until the call takes it       */
    ct_element *out;    /* the result                                  */
    bool input_error;   /* err came from the input, not the function   */
    ct__task_error err;
} map_slot;

struct par_map_it {
    ct__iter base;
    ct__iter *input;
    int cap;            /* calls in flight plus results kept           */
    bool nondet;        /* hand out results as they finish            */
    bool input_end;     /* the input said end of sequence             */
    bool input_failed;  /* an input error is queued: pull no further   */
    map_slot **q;       /* submission order; n used of qcap            */
    ct__future **futs;  /* scratch for wait_any                        */
    int n, qcap;
};

static void map_task(void *arg) {
    map_slot *s = arg;
    ct_clear_error();
    ct_status st = map_apply(s->ds, s->in, &s->out);
    ct_element_free(s->in);
    s->in = NULL;
    ct__error_capture(&s->err, st, "ct_dataset_map");
}

static ct_status par_map_reserve(par_map_it *m, int n) {
    if (n <= m->qcap) return CT_OK;
    map_slot **q = realloc(m->q, (size_t)n * sizeof *q);
    if (q) m->q = q;
    ct__future **f = realloc(m->futs, (size_t)n * sizeof *f);
    if (f) m->futs = f;
    if (!q || !f) return ct__error(CT_ERR_OUT_OF_MEMORY, "ct_dataset_map: out of host memory");
    m->qcap = n;
    return CT_OK;
}

static map_slot *slot_new(par_map_it *m) {
    map_slot *s = calloc(1, sizeof *s);
    if (!s) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_dataset_map: out of host memory");
        return NULL;
    }
    ct__future_init(&s->fut);
    s->ds = (const map_ds *)m->base.ds;
    return s;
}

/* Pulls input elements and starts calls until cap slots are in use. */
static ct_status par_map_fill(par_map_it *m) {
    while (m->n < m->cap && !m->input_end && !m->input_failed) {
        ct_element *e;
        ct_status st = ct__iter_next(m->input, &e);
        if (!st && !e) {
            m->input_end = true;
            break;
        }
        map_slot *s = slot_new(m);
        if (!s) {
            ct_element_free(e);
            return ct_last_status();
        }
        m->q[m->n++] = s;
        if (st) {
            /* Delivered in order, like a result. */
            ct__error_capture(&s->err, st, "ct_dataset_map");
            s->input_error = true;
            m->input_failed = true;
            break;
        }
        s->in = e;
        ct__pool_submit(&s->fut, map_task, s);
    }
    return CT_OK;
}

static void slot_free(map_slot *s) {
    if (!ct__pool_cancel(&s->fut)) ct__future_wait(&s->fut);
    ct_element_free(s->in);
    ct_element_free(s->out);
    free(s);
}

static ct_status par_map_next(ct__iter *it, ct_element **out) {
    par_map_it *m = (par_map_it *)it;
    ct_status st = par_map_fill(m);
    if (st) return st;
    if (m->n == 0) return CT_OK; /* end of sequence */
    int k = 0;
    if (m->nondet) {
        for (int i = 0; i < m->n; i++) m->futs[i] = &m->q[i]->fut;
        k = ct__future_wait_any(m->futs, m->n);
    } else {
        ct__future_wait(&m->q[0]->fut);
    }
    map_slot *s = m->q[k];
    memmove(m->q + k, m->q + k + 1, (size_t)(m->n - k - 1) * sizeof *m->q);
    m->n--;
    if (s->input_error) m->input_failed = false;
    /* Keep the workers busy while the caller uses this element; an error
     * here (out of memory) shows again on the next call. */
    par_map_fill(m);
    st = ct__error_raise(&s->err);
    *out = s->out;
    s->out = NULL;
    slot_free(s);
    return st;
}

static ct_status par_map_save(ct__iter *it, ct__state_writer *w) {
    par_map_it *m = (par_map_it *)it;
    for (int i = 0; i < m->n; i++) ct__future_wait(&m->q[i]->fut);
    ct__sw_i64(w, m->input_end);
    ct__sw_i64(w, m->n);
    for (int i = 0; i < m->n; i++) {
        map_slot *s = m->q[i];
        ct__sw_i64(w, s->err.st);
        ct__sw_bytes(w, s->err.msg, strlen(s->err.msg));
        ct__sw_i64(w, s->input_error);
        ct__sw_element(w, s->err.st ? NULL : s->out);
    }
    return ct__iter_save(m->input, w);
}

static ct_status par_map_restore(ct__iter *it, ct__state_reader *r) {
    par_map_it *m = (par_map_it *)it;
    while (m->n > 0) slot_free(m->q[--m->n]);
    m->input_failed = false;
    m->input_end = ct__sr_i64(r) != 0;
    int64_t n = ct__sr_i64(r);
    if (r->st) return r->st;
    if (n < 0 || n > (1 << 24)) return ct__sr_fail(r, "ct_dataset_map: a bad buffered count");
    if (par_map_reserve(m, (int)n)) return r->st = ct_last_status();
    for (int64_t i = 0; i < n; i++) {
        map_slot *s = slot_new(m);
        if (!s) return r->st = ct_last_status();
        m->q[m->n++] = s;
        s->err.st = (ct_status)ct__sr_i64(r);
        size_t len;
        char *msg = ct__sr_bytes(r, &len);
        if (msg) {
            snprintf(s->err.msg, sizeof s->err.msg, "%s", msg);
            free(msg);
        }
        s->input_error = ct__sr_i64(r) != 0;
        s->out = ct__sr_element(r);
        if (r->st) return r->st;
        if (s->input_error && s->err.st) m->input_failed = true;
        if (!s->err.st && !s->out) return ct__sr_fail(r, "ct_dataset_map: a result is missing");
    }
    return ct__iter_restore(m->input, r);
}

static void par_map_free(ct__iter *it) {
    par_map_it *m = (par_map_it *)it;
    /* Calls not started are dropped; running ones are waited for, so no
     * worker touches the slots once they are freed. */
    for (int i = 0; i < m->n; i++) slot_free(m->q[i]);
    ct__iter_free(m->input);
    free(m->q);
    free(m->futs);
    free(m);
}

static const ct__iter_vt par_map_it_vt = {par_map_next, par_map_save, par_map_restore,
                                          par_map_free};

static ct__iter *map_iterator(ct_dataset *ds) {
    map_ds *d = (map_ds *)ds;
    ct__iter *input = ct__iter_make(d->input);
    if (!input) return NULL;
    if (d->parallel == 0 || d->parallel == 1) {
        seq_map_it *m = ct__iter_alloc(sizeof *m, &seq_map_it_vt, ds);
        if (!m) {
            ct__iter_free(input);
            return NULL;
        }
        m->input = input;
        return &m->base;
    }
    par_map_it *m = ct__iter_alloc(sizeof *m, &par_map_it_vt, ds);
    if (!m) {
        ct__iter_free(input);
        return NULL;
    }
    m->input = input;
    if (d->parallel == CT_AUTOTUNE) {
        /* Two calls per thread of the budget (at least four): a worker
         * that finishes finds the next call queued instead of waiting for
         * the consumer to collect a result and submit another. */
        m->cap = 2 * ct__pool_size();
        if (m->cap < 4) m->cap = 4;
    } else {
        m->cap = d->parallel;
    }
    m->nondet = ds->opts.nondeterministic;
    if (par_map_reserve(m, m->cap)) {
        par_map_free(&m->base);
        return NULL;
    }
    return &m->base;
}

static int64_t map_cardinality(const ct_dataset *ds) {
    return ct_dataset_cardinality(((const map_ds *)ds)->input);
}

static void map_destroy(ct_dataset *ds) { ct_dataset_free(((map_ds *)ds)->input); }

static ct_dataset *map_remake(ct_dataset *ds, ct__remake_fn f, void *ctx);
static const ct__dataset_vt map_vt = {"MapDataset", map_iterator, map_cardinality, map_destroy,
                                      map_remake, .input = ct__dataset_first_input};
static const ct__dataset_vt par_map_vt = {"ParallelMapDataset", map_iterator, map_cardinality,
                                          map_destroy, map_remake,
                                          .input = ct__dataset_first_input};

/* The same map (function, parallelism and the element spec ds found) over
 * f(input). The function is not probed again: the spec stays ds's, as a
 * rewritten TF graph keeps the map's output signature. */
static ct_dataset *map_remake(ct_dataset *ds, ct__remake_fn f, void *ctx) {
    const map_ds *d = (const map_ds *)ds;
    ct_dataset *input = f(d->input, ctx);
    if (!input) return NULL;
    map_ds *r = ct__dataset_alloc(sizeof *r, ds->vt, &ds->spec);
    if (!r) {
        ct_dataset_free(input);
        return NULL;
    }
    r->input = input;
    r->fn = d->fn;
    r->ctx = d->ctx;
    r->parallel = d->parallel;
    r->spec_known = d->spec_known;
    r->base.opts = ds->opts;
    return &r->base;
}

/* Learns the spec from fn's result on the first element. Leaves the
 * thread's error as it was: a failure here is reported when iterating. */
static ct_status map_probe(map_ds *d) {
    ct__task_error before;
    ct__error_capture(&before, ct_last_status(), "ct_dataset_map");
    ct__data_probing++;
    ct__iter *it = ct__iter_make(d->input);
    ct__data_probing--;
    if (!it) return ct_last_status();
    ct_element *e = NULL, *o = NULL;
    if (ct__iter_next(it, &e) == CT_OK && e && map_apply(d, e, &o) == CT_OK) {
        ct__element_spec_of(o, &d->base.spec);
        d->spec_known = true;
    }
    ct_element_free(o);
    ct_element_free(e);
    ct__iter_free(it);
    if (before.st) ct__error_raise(&before);
    else ct_clear_error();
    return CT_OK;
}

ct_dataset *ct_dataset_map(ct_dataset *ds, ct_map_fn fn, void *ctx, int num_parallel_calls) {
    if (ct__dataset_null(ds, "ct_dataset_map")) return NULL;
    if (!fn) {
        ct_dataset_free(ds);
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_dataset_map: the map function is NULL");
        return NULL;
    }
    if (num_parallel_calls < 0 && num_parallel_calls != CT_AUTOTUNE) {
        ct_dataset_free(ds);
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_dataset_map: num_parallel_calls must be greater than zero or "
                  "CT_AUTOTUNE, got %d", num_parallel_calls);
        return NULL;
    }
    bool par = num_parallel_calls > 1 || num_parallel_calls == CT_AUTOTUNE;
    map_ds *d = ct__dataset_alloc(sizeof *d, par ? &par_map_vt : &map_vt, &ds->spec);
    if (!d) {
        ct_dataset_free(ds);
        return NULL;
    }
    d->input = ds;
    d->fn = fn;
    d->ctx = ctx;
    d->parallel = num_parallel_calls;
    d->base.opts = ds->opts;
    if (map_probe(d)) {
        ct_dataset_free(&d->base);
        return NULL;
    }
    return &d->base;
}

/* ---- filter ------------------------------------------------------------------------- */

typedef struct filter_ds {
    ct_dataset base;
    ct_dataset *input;
    ct_filter_fn fn;
    void *ctx;
} filter_ds;

typedef struct filter_it {
    ct__iter base;
    ct__iter *input;
} filter_it;

static ct_status filter_next(ct__iter *it, ct_element **out) {
    filter_it *f = (filter_it *)it;
    const filter_ds *d = (const filter_ds *)it->ds;
    for (;;) {
        ct_element *e;
        ct_status st = ct__iter_next(f->input, &e);
        if (st || !e) return st;
        bool keep = false;
        st = d->fn(e, d->ctx, &keep);
        if (st) {
            ct_element_free(e);
            if (ct_last_status() == CT_OK)
                ct__error(st, "ct_dataset_filter: the predicate returned %s without setting an "
                          "error", ct_status_name(st));
            return st;
        }
        if (keep) {
            *out = e;
            return CT_OK;
        }
        ct_element_free(e);
    }
}

static ct_status filter_save(ct__iter *it, ct__state_writer *w) {
    return ct__iter_save(((filter_it *)it)->input, w);
}

static ct_status filter_restore(ct__iter *it, ct__state_reader *r) {
    return ct__iter_restore(((filter_it *)it)->input, r);
}

static void filter_free(ct__iter *it) {
    ct__iter_free(((filter_it *)it)->input);
    free(it);
}

static const ct__iter_vt filter_it_vt = {filter_next, filter_save, filter_restore, filter_free};

static ct__iter *filter_iterator(ct_dataset *ds) {
    ct__iter *input = ct__iter_make(((filter_ds *)ds)->input);
    if (!input) return NULL;
    filter_it *f = ct__iter_alloc(sizeof *f, &filter_it_vt, ds);
    if (!f) {
        ct__iter_free(input);
        return NULL;
    }
    f->input = input;
    return &f->base;
}

static void filter_destroy(ct_dataset *ds) { ct_dataset_free(((filter_ds *)ds)->input); }

static ct_dataset *filter_remake(ct_dataset *ds, ct__remake_fn f, void *ctx) {
    const filter_ds *d = (const filter_ds *)ds;
    ct_dataset *input = f(d->input, ctx);
    if (!input) return NULL;
    ct_dataset *r = ct_dataset_filter(input, d->fn, d->ctx);
    if (r) r->opts = ds->opts;
    return r;
}

static const ct__dataset_vt filter_vt = {"FilterDataset", filter_iterator, NULL, filter_destroy,
                                         filter_remake, .input = ct__dataset_first_input};

ct_dataset *ct_dataset_filter(ct_dataset *ds, ct_filter_fn fn, void *ctx) {
    if (ct__dataset_null(ds, "ct_dataset_filter")) return NULL;
    if (!fn) {
        ct_dataset_free(ds);
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_dataset_filter: the predicate is NULL");
        return NULL;
    }
    filter_ds *d = ct__dataset_alloc(sizeof *d, &filter_vt, &ds->spec);
    if (!d) {
        ct_dataset_free(ds);
        return NULL;
    }
    d->input = ds;
    d->fn = fn;
    d->ctx = ctx;
    d->base.opts = ds->opts;
    return &d->base;
}
