/*
 * The data layer's core: datasets and iterators (refcounts, state
 * streams, the public iterator), elements, and the in-memory sources
 * (from_tensor_slices, from_tensors, range, from_generator).
 */
#include <stdlib.h>
#include <string.h>

#include "data/internal.h"
#include "data/pool.h"

/* ---- state streams ---------------------------------------------------------- */

static void sw_raw(ct__state_writer *w, const void *p, size_t n) {
    if (w->st) return;
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->n + n) cap *= 2;
        char *b = realloc(w->buf, cap);
        if (!b) {
            w->st = ct__error(CT_ERR_OUT_OF_MEMORY, "ct_iterator_save: out of host memory");
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    if (n) memcpy(w->buf + w->n, p, n);
    w->n += n;
}

void ct__sw_i64(ct__state_writer *w, int64_t v) { sw_raw(w, &v, sizeof v); }
void ct__sw_f64(ct__state_writer *w, double v) { sw_raw(w, &v, sizeof v); }

void ct__sw_bytes(ct__state_writer *w, const void *p, size_t n) {
    ct__sw_i64(w, (int64_t)n);
    sw_raw(w, p, n);
}

void ct__sw_tensor(ct__state_writer *w, const ct_tensor *t) {
    if (w->st) return;
    ct__sw_i64(w, t->dtype);
    ct__sw_i64(w, t->rank);
    for (int i = 0; i < t->rank; i++) ct__sw_i64(w, t->shape[i]);
    size_t nb = ct__nbytes(t);
    ct__sw_i64(w, (int64_t)nb);
    if (w->st) return;
    char *tmp = malloc(nb + 1);
    if (!tmp) {
        w->st = ct__error(CT_ERR_OUT_OF_MEMORY, "ct_iterator_save: out of host memory");
        return;
    }
    ct_status st = ct_tensor_read(t, t->dtype, tmp, t->size);
    if (st) w->st = st;
    else sw_raw(w, tmp, nb);
    free(tmp);
}

void ct__sw_element(ct__state_writer *w, const ct_element *e) {
    ct__sw_i64(w, e ? e->n : -1);
    if (!e) return;
    for (int i = 0; i < e->n; i++) {
        const char *name = e->name[i];
        ct__sw_bytes(w, name ? name : "", name ? strlen(name) + 1 : 0);
        ct__sw_tensor(w, e->t[i]);
    }
}

static bool sr_raw(ct__state_reader *r, void *p, size_t n) {
    if (r->st) return false;
    if (n > r->n - r->pos) {
        r->st = ct__error(CT_ERR_INVALID_ARGUMENT,
                          "ct_iterator_restore: the state is truncated (needed %zu more bytes at "
                          "offset %zu of %zu)", n, r->pos, r->n);
        return false;
    }
    if (n) memcpy(p, r->buf + r->pos, n);
    r->pos += n;
    return true;
}

ct_status ct__sr_fail(ct__state_reader *r, const char *what) {
    if (!r->st)
        r->st = ct__error(CT_ERR_INVALID_ARGUMENT,
                          "ct_iterator_restore: the state is malformed at offset %zu: %s "
                          "(was it saved from a different pipeline?)", r->pos, what);
    return r->st;
}

bool ct__sr_param(ct__state_reader *r, const char *stage, const char *what, int64_t expected) {
    int64_t v = ct__sr_i64(r);
    if (r->st) return false;
    if (v == expected) return true;
    r->st = ct__error(CT_ERR_INVALID_ARGUMENT,
                      "ct_iterator_restore: the state was saved from a different pipeline: its "
                      "%s (stage %lld from the end) has %s %lld, this pipeline's has %lld",
                      stage, (long long)r->stage, what, (long long)v, (long long)expected);
    return false;
}

int64_t ct__sr_i64(ct__state_reader *r) {
    int64_t v = 0;
    sr_raw(r, &v, sizeof v);
    return v;
}

double ct__sr_f64(ct__state_reader *r) {
    double v = 0;
    sr_raw(r, &v, sizeof v);
    return v;
}

void *ct__sr_bytes(ct__state_reader *r, size_t *n) {
    int64_t len = ct__sr_i64(r);
    if (r->st) return NULL;
    if (len < 0 || (uint64_t)len > r->n - r->pos) {
        ct__sr_fail(r, "a byte string's length does not fit");
        return NULL;
    }
    char *p = malloc((size_t)len + 1);
    if (!p) {
        r->st = ct__error(CT_ERR_OUT_OF_MEMORY, "ct_iterator_restore: out of host memory");
        return NULL;
    }
    sr_raw(r, p, (size_t)len);
    p[len] = '\0';
    if (n) *n = (size_t)len;
    return p;
}

ct_tensor *ct__sr_tensor(ct__state_reader *r) {
    int64_t dt = ct__sr_i64(r), rank = ct__sr_i64(r);
    if (r->st) return NULL;
    if (dt < 0 || dt >= CT_NUM_DTYPES || rank < 0 || rank > CT_MAX_RANK) {
        ct__sr_fail(r, "a tensor's dtype or rank is invalid");
        return NULL;
    }
    int64_t shape[CT_MAX_RANK];
    for (int i = 0; i < rank; i++) shape[i] = ct__sr_i64(r);
    int64_t nb = ct__sr_i64(r);
    if (r->st) return NULL;
    /* The byte count of the shape, without overflowing on a corrupt one. */
    int64_t want = (int64_t)ct_dtype_size((ct_dtype)dt);
    bool zero = false, overflow = false;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0) {
            ct__sr_fail(r, "a tensor's dimension is negative");
            return NULL;
        }
        zero = zero || shape[i] == 0;
        overflow = overflow || __builtin_mul_overflow(want, shape[i], &want);
    }
    if (zero) want = 0;
    if (nb < 0 || (uint64_t)nb > r->n - r->pos || (!zero && overflow) || nb != want) {
        ct__sr_fail(r, "a tensor's byte count does not match its shape");
        return NULL;
    }
    /* In a scope of its own: the caller's (a test's, fit's) must not keep
     * a reference to what the pipeline owns. */
    ct_scope_begin();
    ct_tensor *t = ct__unscope(ct_constant(r->buf + r->pos, (ct_dtype)dt, (int)rank, shape));
    ct_scope_end();
    if (!t) {
        r->st = ct_last_status();
        return NULL;
    }
    r->pos += (size_t)nb;
    return t;
}

ct_element *ct__sr_element(ct__state_reader *r) {
    int64_t n = ct__sr_i64(r);
    if (r->st || n < 0) return NULL;
    if (n > CT_MAX_COMPONENTS) {
        ct__sr_fail(r, "an element has too many components");
        return NULL;
    }
    ct_element *e = ct__element_new((int)n);
    if (!e) {
        r->st = ct_last_status();
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        size_t len;
        char *name = ct__sr_bytes(r, &len);
        /* Interned, so the name outlives this stream. */
        e->name[i] = name && len ? ct__intern(name) : NULL;
        free(name);
        e->t[i] = ct__sr_tensor(r);
        if (!e->t[i]) {
            ct_element_free(e);
            return NULL;
        }
    }
    return e;
}

/* ---- interned names -------------------------------------------------------------- */

/* Component names live as long as the process: datasets hand out element
 * names as plain pointers, and elements may outlive their dataset. */
#include <pthread.h>
static pthread_mutex_t intern_mu = PTHREAD_MUTEX_INITIALIZER;
static char **interned;
static size_t n_interned, cap_interned;

const char *ct__intern(const char *s) {
    if (!s) return NULL;
    pthread_mutex_lock(&intern_mu);
    const char *found = NULL;
    for (size_t i = 0; i < n_interned && !found; i++)
        if (!strcmp(interned[i], s)) found = interned[i];
    if (!found && n_interned == cap_interned) {
        size_t cap = cap_interned ? cap_interned * 2 : 64;
        char **p = realloc(interned, cap * sizeof *p);
        if (p) {
            interned = p;
            cap_interned = cap;
        }
    }
    if (!found && n_interned < cap_interned) {
        char *copy = strdup(s);
        if (copy) found = interned[n_interned++] = copy;
    }
    pthread_mutex_unlock(&intern_mu);
    return found;
}

/* ---- iterators --------------------------------------------------------------------- */

void *ct__iter_alloc(size_t size, const ct__iter_vt *vt, ct_dataset *ds) {
    ct__iter *it = calloc(1, size);
    if (!it) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory for an iterator", ds->vt->name);
        return NULL;
    }
    it->vt = vt;
    it->ds = ds;
    return it;
}

ct__iter *ct__iter_make(ct_dataset *ds) { return ds->vt->iterator(ds); }

ct_status ct__iter_next(ct__iter *it, ct_element **out) {
    *out = NULL;
    return it->vt->next(it, out);
}

ct_status ct__iter_save(ct__iter *it, ct__state_writer *w) {
    if (w->st) return w->st;
    if (!it->vt->save)
        return w->st = ct__error(CT_ERR_UNIMPLEMENTED,
                                 "ct_iterator_save: %s cannot be checkpointed",
                                 it->ds->vt->name);
    const char *name = it->ds->vt->name;
    w->stage++;
    ct__sw_bytes(w, name, strlen(name));
    ct_status st = it->vt->save(it, w);
    if (st && !w->st) w->st = st;
    return w->st;
}

/* Reads a stage's kind and checks that it is `name`. */
static ct_status expect_kind(ct__state_reader *r, const char *name, const char *what) {
    size_t len;
    char *saved = ct__sr_bytes(r, &len);
    if (!saved) return r->st;
    if (len != strlen(name) || memcmp(saved, name, len))
        r->st = ct__error(CT_ERR_INVALID_ARGUMENT,
                          "ct_iterator_restore: the state was saved from a different pipeline: "
                          "%s %lld from the end is %.*s there, %s here", what, (long long)r->stage,
                          (int)(len > 64 ? 64 : len), saved, name);
    free(saved);
    return r->st;
}

ct_status ct__iter_restore(ct__iter *it, ct__state_reader *r) {
    if (r->st) return r->st;
    if (!it->vt->restore)
        return r->st = ct__error(CT_ERR_UNIMPLEMENTED,
                                 "ct_iterator_restore: %s cannot be checkpointed",
                                 it->ds->vt->name);
    r->stage++;
    if (expect_kind(r, it->ds->vt->name, "stage")) return r->st;
    ct_status st = it->vt->restore(it, r);
    if (st && !r->st) r->st = st;
    return r->st;
}

void ct__iter_free(ct__iter *it) {
    if (it) it->vt->free(it);
}

struct ct_iterator {
    ct_dataset *ds;
    ct__iter *it;
};

ct_iterator *ct_dataset_iterator(ct_dataset *ds) {
    if (ct__dataset_null(ds, "ct_dataset_iterator")) return NULL;
    ct_iterator *i = calloc(1, sizeof *i);
    if (!i) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_dataset_iterator: out of host memory");
        return NULL;
    }
    i->ds = ds;
    i->it = ct__iter_make(ds);
    if (!i->it) {
        free(i);
        return NULL;
    }
    return i;
}

ct_status ct_iterator_next(ct_iterator *it, ct_element **out) {
    if (!out) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_iterator_next: NULL out");
    *out = NULL;
    if (!it) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_iterator_next: NULL iterator");
    ct_status st = ct__iter_next(it->it, out);
    if (st && *out) {
        ct_element_free(*out);
        *out = NULL;
    }
    return st;
}

ct_status ct_iterator_reset(ct_iterator *it) {
    if (!it) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_iterator_reset: NULL iterator");
    ct__iter *fresh = ct__iter_make(it->ds);
    if (!fresh) return ct_last_status();
    ct__iter_free(it->it);
    it->it = fresh;
    return CT_OK;
}

#define STATE_MAGIC 0x5649544354ll /* "CTIT" + version 0x56 (0x56: a shuffle saves by replay) */

/* ---- the datasets' own state ---- */

/* The datasets of a pipeline, each once, depth-first from the last stage. */
typedef struct {
    ct_dataset **ds;
    size_t n, cap;
} ds_list;

static bool ds_walk(ds_list *l, ct_dataset *ds) {
    for (size_t i = 0; i < l->n; i++)
        if (l->ds[i] == ds) return true;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        ct_dataset **p = realloc(l->ds, cap * sizeof *p);
        if (!p) {
            ct__error(CT_ERR_OUT_OF_MEMORY, "ct_iterator_save: out of host memory");
            return false;
        }
        l->ds = p;
        l->cap = cap;
    }
    l->ds[l->n++] = ds;
    if (!ds->vt->input) return true;
    ct_dataset *in;
    for (int i = 0; (in = ds->vt->input(ds, i)) != NULL; i++)
        if (!ds_walk(l, in)) return false;
    return true;
}

static ct_status datasets_save(ds_list *l, ct__state_writer *w) {
    int64_t n = 0;
    for (size_t i = 0; i < l->n; i++) n += l->ds[i]->vt->save_state != NULL;
    ct__sw_i64(w, n);
    for (size_t i = 0; i < l->n && !w->st; i++) {
        ct_dataset *ds = l->ds[i];
        if (!ds->vt->save_state) continue;
        ct__sw_bytes(w, ds->vt->name, strlen(ds->vt->name));
        ct_status st = ds->vt->save_state(ds, w);
        if (st && !w->st) w->st = st;
    }
    return w->st;
}

static ct_status datasets_restore(ds_list *l, ct__state_reader *r, bool apply) {
    int64_t n = 0;
    for (size_t i = 0; i < l->n; i++) n += l->ds[i]->vt->save_state != NULL;
    if (!ct__sr_param(r, "pipeline", "datasets with a state of their own, numbering", n))
        return r->st;
    for (size_t i = 0; i < l->n && !r->st; i++) {
        ct_dataset *ds = l->ds[i];
        if (!ds->vt->save_state) continue;
        r->stage = (int64_t)i + 1;
        if (expect_kind(r, ds->vt->name, "dataset with a state of its own")) break;
        ct_status st = ds->vt->restore_state(ds, r, apply);
        if (st && !r->st) r->st = st;
    }
    r->stage = 0;
    return r->st;
}

/* The stream: the magic, the iterators' state (length-prefixed), then the
 * datasets' own state. */
ct_status ct_iterator_save(ct_iterator *it, void **buf, size_t *len) {
    if (!it || !buf || !len) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_iterator_save: NULL argument");
    *buf = NULL;
    *len = 0;
    ds_list l = {0};
    if (!ds_walk(&l, it->ds)) {
        free(l.ds);
        return ct_last_status();
    }
    /* The iterators first: saving waits for work in flight (prefetch,
     * parallel map), which may still make iterators and so move a seed
     * generator. */
    ct__state_writer iw = {0};
    ct__iter_save(it->it, &iw);
    ct__state_writer w = {.st = iw.st};
    ct__sw_i64(&w, STATE_MAGIC);
    ct__sw_bytes(&w, iw.buf, iw.n);
    free(iw.buf);
    datasets_save(&l, &w);
    free(l.ds);
    if (w.st) {
        free(w.buf);
        return w.st;
    }
    *buf = w.buf;
    *len = w.n;
    return CT_OK;
}

/* On failure the iterator and its pipeline are as they were. */
ct_status ct_iterator_restore(ct_iterator *it, const void *buf, size_t len) {
    if (!it || (!buf && len))
        return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_iterator_restore: NULL argument");
    ct__state_reader r = {.buf = buf, .n = len};
    if (ct__sr_i64(&r) != STATE_MAGIC)
        return ct__sr_fail(&r, "not an iterator state (of this version)");
    int64_t iter_len = ct__sr_i64(&r);
    if (r.st) return r.st;
    if (iter_len < 0 || (uint64_t)iter_len > r.n - r.pos)
        return ct__sr_fail(&r, "the iterators' state is longer than the whole");
    ds_list l = {0};
    if (!ds_walk(&l, it->ds)) {
        free(l.ds);
        return ct_last_status();
    }
    /* Making the fresh iterators moves seed generators, which the saved
     * state then puts back; should anything fail, the datasets get back
     * what they had (undo). */
    ct__state_writer undo = {0};
    if (datasets_save(&l, &undo)) {
        free(l.ds);
        free(undo.buf);
        return undo.st;
    }
    ct__state_reader ir = {.buf = r.buf + r.pos, .n = (size_t)iter_len};
    r.pos += (size_t)iter_len;
    ct__iter *fresh = ct__iter_make(it->ds);
    if (fresh) {
        ct__iter_restore(fresh, &ir);
        if (!ir.st && ir.pos != ir.n) ct__sr_fail(&ir, "bytes left over after the last stage");
        r.st = ir.st;
    } else {
        r.st = ct_last_status();
    }
    size_t ds_pos = r.pos;
    if (!r.st) datasets_restore(&l, &r, false);
    if (!r.st && r.pos != r.n) ct__sr_fail(&r, "bytes left over after the datasets' state");
    if (!r.st) {
        r.pos = ds_pos;
        datasets_restore(&l, &r, true); /* checked: only out of memory fails now */
    }
    if (r.st) {
        ct__iter_free(fresh);
        ct__task_error err;
        ct__error_capture(&err, r.st, "ct_iterator_restore");
        ct__state_reader back = {.buf = undo.buf, .n = undo.n};
        datasets_restore(&l, &back, true);
        ct__error_raise(&err);
    } else {
        ct__iter_free(it->it);
        it->it = fresh;
    }
    free(undo.buf);
    free(l.ds);
    return r.st;
}

void ct_iterator_free(ct_iterator *it) {
    if (!it) return;
    ct__iter_free(it->it);
    free(it);
}

/* ---- datasets --------------------------------------------------------------------- */

void *ct__dataset_alloc(size_t size, const ct__dataset_vt *vt, const ct_element_spec *spec) {
    ct_dataset *ds = calloc(1, size);
    if (!ds) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", vt->name);
        return NULL;
    }
    atomic_init(&ds->refs, 1);
    ds->vt = vt;
    if (spec) ds->spec = *spec;
    return ds;
}

ct_dataset *ct__dataset_first_input(const ct_dataset *ds, int i) {
    typedef struct {
        ct_dataset base;
        ct_dataset *input;
    } unary;
    return i == 0 ? ((const unary *)ds)->input : NULL;
}

bool ct__dataset_null(const ct_dataset *input, const char *api) {
    if (input) return false;
    if (!ct_last_status()) ct__error(CT_ERR_INVALID_ARGUMENT, "%s: NULL dataset", api);
    return true;
}

ct_dataset *ct_dataset_ref(ct_dataset *ds) {
    if (ds) atomic_fetch_add(&ds->refs, 1);
    return ds;
}

void ct_dataset_free(ct_dataset *ds) {
    if (!ds || atomic_fetch_sub(&ds->refs, 1) != 1) return;
    if (ds->vt->destroy) ds->vt->destroy(ds);
    free(ds);
}

const ct_element_spec *ct_dataset_element_spec(const ct_dataset *ds) { return ds ? &ds->spec : NULL; }

int64_t ct_dataset_cardinality(const ct_dataset *ds) {
    if (!ds) return CT_UNKNOWN_CARDINALITY;
    return ds->vt->cardinality ? ds->vt->cardinality(ds) : CT_UNKNOWN_CARDINALITY;
}

/* with_options: the same dataset, new options (a reference, so chains
 * keep their shape). */
ct_dataset *ct_dataset_with_options(ct_dataset *ds, const ct_dataset_options *opts) {
    if (ct__dataset_null(ds, "ct_dataset_with_options")) return NULL;
    if (opts) ds->opts = *opts;
    return ds;
}

/* ---- elements ------------------------------------------------------------------------ */

_Thread_local int ct__data_probing;

ct_element *ct__element_new(int n) {
    if (n < 0 || n > CT_MAX_COMPONENTS) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "an element has %d components; at most %d", n,
                  CT_MAX_COMPONENTS);
        return NULL;
    }
    ct_element *e = calloc(1, sizeof *e);
    if (!e) ct__error(CT_ERR_OUT_OF_MEMORY, "out of host memory for an element");
    else e->n = n;
    return e;
}

void ct_element_free(ct_element *e) {
    if (!e) return;
    /* The element holds plain references: release them without touching
     * any scope the tensors may also belong to. */
    for (int i = 0; i < e->n; i++) ct__tensor_release(e->t[i]);
    free(e);
}

ct_tensor *ct_element_get(const ct_element *e, const char *name) {
    if (!e || !name) return NULL;
    for (int i = 0; i < e->n; i++)
        if (e->name[i] && !strcmp(e->name[i], name)) return e->t[i];
    return NULL;
}

ct_element *ct_element_copy(const ct_element *e) {
    if (!e) return NULL;
    ct_element *c = ct__element_new(e->n);
    if (!c) return NULL;
    for (int i = 0; i < e->n; i++) {
        c->t[i] = e->t[i] ? ct_tensor_ref(e->t[i]) : NULL;
        c->name[i] = e->name[i];
    }
    return c;
}

ct_tensor *ct__unscope(ct_tensor *t) {
    /* A reference of the caller's own; the scope's goes when it ends. */
    return t ? ct_tensor_ref(t) : NULL;
}

void ct__element_spec_of(const ct_element *e, ct_element_spec *spec) {
    memset(spec, 0, sizeof *spec);
    spec->n = e->n;
    for (int i = 0; i < e->n; i++) {
        const ct_tensor *t = e->t[i];
        spec->c[i].dtype = t->dtype;
        spec->c[i].rank = t->rank;
        memcpy(spec->c[i].shape, t->shape, sizeof t->shape);
        spec->c[i].name = e->name[i];
    }
}

ct_element *ct__element_slice(const ct_element *e, int64_t i) {
    ct_element *s = ct__element_new(e->n);
    if (!s) return NULL;
    ct_scope_begin();
    for (int c = 0; c < e->n; c++) {
        ct_index ix = {.kind = CT_IX_INDEX, .start = i};
        s->t[c] = ct__unscope(ct_strided_slice(e->t[c], 1, &ix));
        s->name[c] = e->name[c];
    }
    ct_scope_end();
    for (int c = 0; c < e->n; c++)
        if (!s->t[c]) {
            ct_element_free(s);
            return NULL;
        }
    return s;
}

