/*
 * Batching transforms: batch, padded_batch, unbatch, rebatch and window
 * (each window batched into one element). Semantics, cardinalities and
 * errors follow TF's BatchDataset, PaddedBatchDatasetV2, UnbatchDataset,
 * RebatchDatasetV2 and WindowDataset kernels.
 *
 * Batches are assembled by copying each element's bytes once into a new
 * host tensor (no op dispatch per element); unbatch hands out views of
 * the batch's storage, so it copies nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "data/internal.h"

/* ---- shared pieces ------------------------------------------------------------------ */

/* A growable list of owned elements. */
typedef struct {
    ct_element **e;
    int64_t n, cap;
} elist;

static bool elist_push(elist *l, ct_element *e) {
    if (l->n == l->cap) {
        int64_t cap = l->cap ? l->cap * 2 : 16;
        ct_element **p = realloc(l->e, (size_t)cap * sizeof *p);
        if (!p) {
            ct__error(CT_ERR_OUT_OF_MEMORY, "out of host memory buffering %lld elements",
                      (long long)cap);
            return false;
        }
        l->e = p;
        l->cap = cap;
    }
    l->e[l->n++] = e;
    return true;
}

static void elist_clear(elist *l) {
    for (int64_t i = 0; i < l->n; i++) ct_element_free(l->e[i]);
    l->n = 0;
}

static void elist_free(elist *l) {
    elist_clear(l);
    free(l->e);
    l->e = NULL;
    l->cap = 0;
}

/* Drops the first k elements. */
static void elist_drop_front(elist *l, int64_t k) {
    if (k > l->n) k = l->n;
    for (int64_t i = 0; i < k; i++) ct_element_free(l->e[i]);
    memmove(l->e, l->e + k, (size_t)(l->n - k) * sizeof *l->e);
    l->n -= k;
}

static void elist_save(const elist *l, ct__state_writer *w) {
    ct__sw_i64(w, l->n);
    for (int64_t i = 0; i < l->n; i++) ct__sw_element(w, l->e[i]);
}

static ct_status elist_restore(elist *l, ct__state_reader *r) {
    elist_clear(l);
    int64_t n = ct__sr_i64(r);
    if (r->st) return r->st;
    if (n < 0 || (uint64_t)n > r->n - r->pos) return ct__sr_fail(r, "a buffered element count");
    for (int64_t i = 0; i < n; i++) {
        ct_element *e = ct__sr_element(r);
        if (!e) return r->st ? r->st : ct__sr_fail(r, "a buffered element is missing");
        if (!elist_push(l, e)) {
            ct_element_free(e);
            return r->st = ct_last_status();
        }
    }
    return CT_OK;
}

/* Copies a tensor's elements (host or device) to host memory at dst. */
static ct_status copy_out(const ct_tensor *t, void *dst) {
    if (t->storage->dev->kind == CT_DEVICE_CPU) {
        memcpy(dst, ct__data(t), ct__nbytes(t));
        return CT_OK;
    }
    return ct_tensor_read(t, t->dtype, dst, t->size);
}

/* Stacks n elements along a new first axis; every component must agree
 * in dtype and shape with the first element's (TF's batch error). */
static ct_element *stack_elements(ct_element *const *elems, int64_t n, const char *api) {
    const ct_element *first = elems[0];
    for (int64_t k = 1; k < n; k++) {
        if (elems[k]->n != first->n) {
            ct__error(CT_ERR_INVALID_ARGUMENT,
                      "%s: element %lld has %d components but the first element has %d", api,
                      (long long)k, elems[k]->n, first->n);
            return NULL;
        }
        for (int c = 0; c < first->n; c++) {
            const ct_tensor *a = first->t[c], *b = elems[k]->t[c];
            if (a->dtype != b->dtype) {
                ct__error(CT_ERR_INVALID_ARGUMENT,
                          "%s: Cannot batch tensors of different dtypes in component %d. First "
                          "element had dtype %s and element %lld had dtype %s.", api, c,
                          ct_dtype_name(a->dtype), (long long)k, ct_dtype_name(b->dtype));
                return NULL;
            }
            if (a->rank != b->rank || memcmp(a->shape, b->shape, (size_t)a->rank * sizeof(int64_t))) {
                ct__error(CT_ERR_INVALID_ARGUMENT,
                          "%s: Cannot batch tensors with different shapes in component %d. First "
                          "element had shape %s and element %lld had shape %s.", api, c,
                          CT__SHAPE(a->rank, a->shape), (long long)k, CT__SHAPE(b->rank, b->shape));
                return NULL;
            }
        }
    }
    ct_element *out = ct__element_new(first->n);
    if (!out) return NULL;
    for (int c = 0; c < first->n; c++) {
        const ct_tensor *a = first->t[c];
        if (a->rank + 1 > CT_MAX_RANK) {
            ct__error(CT_ERR_INVALID_ARGUMENT, "%s: batching %s would exceed rank %d", api,
                      CT__DESC(a), CT_MAX_RANK);
            ct_element_free(out);
            return NULL;
        }
        int64_t shape[CT_MAX_RANK];
        shape[0] = n;
        memcpy(shape + 1, a->shape, (size_t)a->rank * sizeof(int64_t));
        ct_tensor *t = ct__tensor_alloc(ct__cpu_device(), a->dtype, a->rank + 1, shape, api);
        if (!t) {
            ct_element_free(out);
            return NULL;
        }
        out->t[c] = t;
        out->name[c] = first->name[c];
        size_t row = ct__nbytes(a);
        char *dst = ct__data(t);
        for (int64_t k = 0; k < n; k++) {
            ct_status st = copy_out(elems[k]->t[c], dst + (size_t)k * row);
            if (st) {
                ct_element_free(out);
                return NULL;
            }
        }
    }
    return out;
}

static int64_t batch_cardinality(int64_t n, int64_t batch_size, bool drop_remainder) {
    if (n == CT_INFINITE_CARDINALITY || n == CT_UNKNOWN_CARDINALITY) return n;
    return n / batch_size + (n % batch_size == 0 || drop_remainder ? 0 : 1);
}

/* A spec with a leading batch dimension (batch_size, or -1 when the last
 * batch may be partial). */
static bool batched_spec(const ct_element_spec *in, int64_t dim0, ct_element_spec *out,
                         const char *api) {
    *out = *in;
    for (int c = 0; c < in->n; c++) {
        if (in->c[c].rank + 1 > CT_MAX_RANK) {
            ct__error(CT_ERR_INVALID_ARGUMENT, "%s: component %d has rank %d; batching it exceeds %d",
                      api, c, in->c[c].rank, CT_MAX_RANK);
            return false;
        }
        out->c[c].rank = in->c[c].rank + 1;
        out->c[c].shape[0] = dim0;
        memcpy(out->c[c].shape + 1, in->c[c].shape, (size_t)in->c[c].rank * sizeof(int64_t));
    }
    return true;
}

/* ---- batch / padded_batch ------------------------------------------------------------ */

typedef struct {
    ct_dataset base;
    ct_dataset *input;
    int64_t batch_size;
    bool drop_remainder;
    bool padded;
    ct_element_spec padded_shapes; /* padded_batch: per component, -1 = longest */
    double padding[CT_MAX_COMPONENTS];
} batch_ds;

typedef struct {
    ct__iter base;
    ct__iter *input; /* NULL once exhausted */
} batch_it;

static void batch_destroy(ct_dataset *ds) { ct_dataset_free(((batch_ds *)ds)->input); }

static void batch_it_free(ct__iter *it) {
    ct__iter_free(((batch_it *)it)->input);
    free(it);
}

/* Fills n elements of dtype dt at p with value v. */
static void fill_value(void *p, ct_dtype dt, int64_t n, double v) {
    size_t es = ct_dtype_size(dt);
    unsigned char one[8];
    ct__convert(&v, CT_FLOAT64, one, dt, 1);
    bool zero = true;
    for (size_t i = 0; i < es; i++) zero = zero && one[i] == 0;
    if (zero) {
        memset(p, 0, (size_t)n * es);
        return;
    }
    if (n == 0) return;
    memcpy(p, one, es);
    /* Doubling copies: log2(n) memcpy calls. */
    size_t done = 1, total = (size_t)n;
    while (done < total) {
        size_t k = done < total - done ? done : total - done;
        memcpy((char *)p + done * es, p, k * es);
        done += k;
    }
}

/* Copies src (rank r, host bytes at s) into the corner of dst whose
 * dimensions are dshape (>= src's), row by row. */
static void copy_to_larger(const char *s, int r, const int64_t *sshape, char *d,
                           const int64_t *dshape, size_t es) {
    if (r == 0) {
        memcpy(d, s, es);
        return;
    }
    int64_t rows = 1;
    for (int i = 0; i < r - 1; i++) rows *= sshape[i];
    size_t row = (size_t)sshape[r - 1] * es;
    if (rows == 0 || row == 0) return;
    int64_t idx[CT_MAX_RANK] = {0};
    int64_t dstride[CT_MAX_RANK];
    dstride[r - 1] = 1;
    for (int i = r - 2; i >= 0; i--) dstride[i] = dstride[i + 1] * dshape[i + 1];
    for (int64_t k = 0; k < rows; k++) {
        int64_t off = 0;
        for (int i = 0; i < r - 1; i++) off += idx[i] * dstride[i];
        memcpy(d + (size_t)off * es, s + (size_t)k * row, row);
        for (int i = r - 2; i >= 0; i--) {
            if (++idx[i] < sshape[i]) break;
            idx[i] = 0;
        }
    }
}

static ct_element *pad_elements(const batch_ds *d, ct_element *const *elems, int64_t n) {
    const char *api = "ct_dataset_padded_batch";
    int ncomp = d->base.spec.n;
    ct_element *out = ct__element_new(ncomp);
    if (!out) return NULL;
    char *host = NULL;
    for (int64_t k = 0; k < n; k++)
        if (elems[k]->n != ncomp) {
            ct__error(CT_ERR_INVALID_ARGUMENT, "%s: element %lld has %d components; expected %d",
                      api, (long long)k, elems[k]->n, ncomp);
            goto fail;
        }
    for (int c = 0; c < ncomp; c++) {
        const ct_component_spec *ps = &d->padded_shapes.c[c];
        ct_dtype dt = elems[0]->t[c]->dtype;
        int64_t shape[CT_MAX_RANK];
        shape[0] = n;
        for (int i = 0; i < ps->rank; i++) shape[i + 1] = ps->shape[i] >= 0 ? ps->shape[i] : 0;
        for (int64_t k = 0; k < n; k++) {
            const ct_tensor *t = elems[k]->t[c];
            if (t->dtype != dt || t->rank != ps->rank) {
                ct__error(CT_ERR_INVALID_ARGUMENT,
                          "%s: element %lld component %d is %s; expected %s of rank %d", api,
                          (long long)k, c, CT__DESC(t), ct_dtype_name(dt), ps->rank);
                goto fail;
            }
            for (int i = 0; i < ps->rank; i++) {
                if (ps->shape[i] < 0) {
                    if (t->shape[i] > shape[i + 1]) shape[i + 1] = t->shape[i];
                } else if (t->shape[i] > ps->shape[i]) {
                    ct__error(CT_ERR_INVALID_ARGUMENT,
                              "%s: Attempted to pad to a smaller size than the input element: "
                              "component %d of element %lld has shape %s but the padded shape "
                              "is %s", api, c, (long long)k, CT__SHAPE(t->rank, t->shape),
                              CT__SHAPE(ps->rank, ps->shape));
                    goto fail;
                }
            }
        }
        ct_tensor *bt = ct__tensor_alloc(ct__cpu_device(), dt, ps->rank + 1, shape, api);
        if (!bt) goto fail;
        out->t[c] = bt;
        out->name[c] = elems[0]->name[c];
        char *dst = ct__data(bt);
        fill_value(dst, dt, bt->size, d->padding[c]);
        size_t es = ct_dtype_size(dt);
        size_t slab = (size_t)(bt->size / (n ? n : 1)) * es;
        for (int64_t k = 0; k < n; k++) {
            const ct_tensor *t = elems[k]->t[c];
            const char *src = ct__data(t);
            if (t->storage->dev->kind != CT_DEVICE_CPU) {
                free(host);
                host = malloc(ct__nbytes(t) + 1);
                if (!host) {
                    ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
                    goto fail;
                }
                if (ct_tensor_read(t, dt, host, t->size)) goto fail;
                src = host;
            }
            copy_to_larger(src, t->rank, t->shape, dst + (size_t)k * slab, shape + 1, es);
        }
    }
    free(host);
    return out;
fail:
    free(host);
    ct_element_free(out);
    return NULL;
}

static ct_status batch_next(ct__iter *it, ct_element **out) {
    batch_it *b = (batch_it *)it;
    const batch_ds *d = (const batch_ds *)it->ds;
    if (!b->input) return CT_OK;
    elist l = {0};
    ct_status st = CT_OK;
    while (l.n < d->batch_size) {
        ct_element *e;
        st = ct__iter_next(b->input, &e);
        if (st) break;
        if (!e) {
            ct__iter_free(b->input);
            b->input = NULL;
            break;
        }
        if (!elist_push(&l, e)) {
            ct_element_free(e);
            st = ct_last_status();
            break;
        }
    }
    if (!st && l.n > 0 && !(d->drop_remainder && l.n < d->batch_size)) {
        const char *api = d->padded ? "ct_dataset_padded_batch" : "ct_dataset_batch";
        *out = d->padded ? pad_elements(d, l.e, l.n) : stack_elements(l.e, l.n, api);
        if (!*out) st = ct_last_status();
    }
    elist_free(&l);
    return st;
}

static ct_status batch_save(ct__iter *it, ct__state_writer *w) {
    batch_it *b = (batch_it *)it;
    const batch_ds *d = (const batch_ds *)it->ds;
    ct__sw_i64(w, d->batch_size);
    ct__sw_i64(w, d->drop_remainder);
    ct__sw_i64(w, b->input != NULL);
    if (b->input) ct__iter_save(b->input, w);
    return w->st;
}

static ct_status batch_restore(ct__iter *it, ct__state_reader *r) {
    batch_it *b = (batch_it *)it;
    const batch_ds *d = (const batch_ds *)it->ds;
    if (!ct__sr_param(r, it->ds->vt->name, "batch_size", d->batch_size) ||
        !ct__sr_param(r, it->ds->vt->name, "drop_remainder", d->drop_remainder))
        return r->st;
    int64_t present = ct__sr_i64(r);
    if (r->st) return r->st;
    if (present != 0 && present != 1) return ct__sr_fail(r, "an input flag is not 0 or 1");
    if (!present) {
        ct__iter_free(b->input);
        b->input = NULL;
        return CT_OK;
    }
    return ct__iter_restore(b->input, r);
}

static const ct__iter_vt batch_it_vt = {batch_next, batch_save, batch_restore, batch_it_free};

static ct__iter *batch_iterator(ct_dataset *ds) {
    batch_it *b = ct__iter_alloc(sizeof *b, &batch_it_vt, ds);
    if (!b) return NULL;
    b->input = ct__iter_make(((batch_ds *)ds)->input);
    if (!b->input) {
        free(b);
        return NULL;
    }
    return &b->base;
}

static int64_t batch_card(const ct_dataset *ds) {
    const batch_ds *d = (const batch_ds *)ds;
    return batch_cardinality(ct_dataset_cardinality(d->input), d->batch_size, d->drop_remainder);
}

static ct_dataset *batch_remake(ct_dataset *ds, ct__remake_fn f, void *ctx);
static const ct__dataset_vt batch_vt = {"BatchDataset", batch_iterator, batch_card, batch_destroy,
                                        batch_remake, .input = ct__dataset_first_input};
static const ct__dataset_vt padded_batch_vt = {"PaddedBatchDatasetV2", batch_iterator, batch_card,
                                               batch_destroy, batch_remake,
                                               .input = ct__dataset_first_input};

static batch_ds *batch_make(const ct__dataset_vt *vt, ct_dataset *ds, int64_t batch_size,
                            bool drop_remainder, const char *api) {
    if (batch_size <= 0) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: batch_size must be greater than zero (got %lld).",
                  api, (long long)batch_size);
        return NULL;
    }
    ct_element_spec spec;
    if (!batched_spec(&ds->spec, drop_remainder ? batch_size : -1, &spec, api)) return NULL;
    batch_ds *d = ct__dataset_alloc(sizeof *d, vt, &spec);
    if (!d) return NULL;
    d->input = ds;
    d->batch_size = batch_size;
    d->drop_remainder = drop_remainder;
    d->base.opts = ds->opts;
    return d;
}

/* The same batch or padded_batch (padded shapes and values as resolved)
 * over f(input). */
static ct_dataset *batch_remake(ct_dataset *ds, ct__remake_fn f, void *ctx) {
    batch_ds *d = (batch_ds *)ds;
    ct_dataset *input = f(d->input, ctx);
    if (!input) return NULL;
    ct_dataset *r = d->padded ? ct_dataset_padded_batch(input, d->batch_size, &d->padded_shapes,
                                                        d->padding, d->drop_remainder)
                              : ct_dataset_batch(input, d->batch_size, d->drop_remainder);
    if (r) r->opts = ds->opts;
    return r;
}

ct_dataset *ct_dataset_batch(ct_dataset *ds, int64_t batch_size, bool drop_remainder) {
    if (ct__dataset_null(ds, "ct_dataset_batch")) return NULL;
    batch_ds *d = batch_make(&batch_vt, ds, batch_size, drop_remainder, "ct_dataset_batch");
    if (!d) {
        ct_dataset_free(ds);
        return NULL;
    }
    return &d->base;
}

ct_dataset *ct_dataset_padded_batch(ct_dataset *ds, int64_t batch_size,
                                    const ct_element_spec *padded_shapes,
                                    const double *padding_values, bool drop_remainder) {
    const char *api = "ct_dataset_padded_batch";
    if (ct__dataset_null(ds, api)) return NULL;
    const ct_element_spec *in = &ds->spec;
    const ct_element_spec *ps = padded_shapes ? padded_shapes : in;
    if (ps->n != in->n) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s: padded_shapes has %d components but the elements have %d", api, ps->n, in->n);
        goto fail;
    }
    for (int c = 0; c < in->n; c++) {
        const ct_component_spec *p = &ps->c[c], *s = &in->c[c];
        bool ok = p->rank == s->rank;
        for (int i = 0; ok && i < p->rank; i++) {
            if (p->shape[i] < -1) ok = false;
            else if (p->shape[i] >= 0 && s->shape[i] >= 0 && p->shape[i] < s->shape[i]) ok = false;
        }
        if (!ok) {
            ct__error(CT_ERR_INVALID_ARGUMENT,
                      "%s: The padded shape %s is not compatible with the shape %s of the "
                      "corresponding input component (component %d).", api,
                      CT__SHAPE(p->rank, p->shape), CT__SHAPE(s->rank, s->shape), c);
            goto fail;
        }
    }
    batch_ds *d = batch_make(&padded_batch_vt, ds, batch_size, drop_remainder, api);
    if (!d) goto fail;
    d->padded = true;
    d->padded_shapes = *ps;
    for (int c = 0; c < in->n; c++) {
        d->padding[c] = padding_values ? padding_values[c] : 0.0;
        /* The output's known dimensions are the padded shape's. */
        memcpy(d->base.spec.c[c].shape + 1, ps->c[c].shape, (size_t)ps->c[c].rank * sizeof(int64_t));
    }
    return &d->base;
fail:
    ct_dataset_free(ds);
    return NULL;
}

/* ---- unbatch --------------------------------------------------------------------------- */

typedef struct {
    ct_dataset base;
    ct_dataset *input;
    int64_t batch_dim; /* the inputs' first dimension when known, else -1 */
} unbatch_ds;

typedef struct {
    ct__iter base;
    ct__iter *input;   /* NULL once exhausted */
    ct_element *cur;   /* the batch being split */
    int64_t pos;       /* next row of cur */
} unbatch_it;

static void unbatch_destroy(ct_dataset *ds) { ct_dataset_free(((unbatch_ds *)ds)->input); }

static void unbatch_it_free(ct__iter *it) {
    unbatch_it *u = (unbatch_it *)it;
    ct__iter_free(u->input);
    ct_element_free(u->cur);
    free(it);
}

/* Checks a batch: every component of rank >= 1 with the same first
 * dimension (TF's messages). */
static ct_status unbatch_check(const ct_element *e) {
    for (int c = 0; c < e->n; c++) {
        if (e->t[c]->rank < 1)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "ct_dataset_unbatch: Input element must have a non-scalar value in "
                             "each component (component %d is %s).", c, CT__DESC(e->t[c]));
        if (e->t[c]->shape[0] != e->t[0]->shape[0])
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "ct_dataset_unbatch: Input element must have the same batch size in "
                             "each component. Component 0 had size %lld but component %d had size "
                             "%lld.", (long long)e->t[0]->shape[0], c, (long long)e->t[c]->shape[0]);
    }
    return CT_OK;
}

/* Row i of every component: views of the batch's storage. */
static ct_element *unbatch_row(const ct_element *e, int64_t i) {
    ct_element *r = ct__element_new(e->n);
    if (!r) return NULL;
    for (int c = 0; c < e->n; c++) {
        const ct_tensor *t = e->t[c];
        size_t row = (size_t)(t->shape[0] ? t->size / t->shape[0] : 0) * ct_dtype_size(t->dtype);
        r->t[c] = ct__tensor_view(t, t->rank - 1, t->shape + 1, t->offset + (size_t)i * row);
        r->name[c] = e->name[c];
        if (!r->t[c]) {
            ct_element_free(r);
            return NULL;
        }
    }
    return r;
}

static ct_status unbatch_next(ct__iter *it, ct_element **out) {
    unbatch_it *u = (unbatch_it *)it;
    for (;;) {
        if (u->cur && u->pos < u->cur->t[0]->shape[0]) {
            *out = unbatch_row(u->cur, u->pos);
            if (!*out) return ct_last_status();
            u->pos++;
            return CT_OK;
        }
        ct_element_free(u->cur);
        u->cur = NULL;
        u->pos = 0;
        if (!u->input) return CT_OK;
        ct_element *e;
        ct_status st = ct__iter_next(u->input, &e);
        if (st) return st;
        if (!e) {
            ct__iter_free(u->input);
            u->input = NULL;
            return CT_OK;
        }
        if (e->n == 0) {
            ct_element_free(e);
            continue;
        }
        st = unbatch_check(e);
        if (st) {
            ct_element_free(e);
            return st;
        }
        u->cur = e;
    }
}

static ct_status unbatch_save(ct__iter *it, ct__state_writer *w) {
    unbatch_it *u = (unbatch_it *)it;
    ct__sw_i64(w, u->pos);
    ct__sw_element(w, u->cur);
    ct__sw_i64(w, u->input != NULL);
    if (u->input) ct__iter_save(u->input, w);
    return w->st;
}

static ct_status unbatch_restore(ct__iter *it, ct__state_reader *r) {
    unbatch_it *u = (unbatch_it *)it;
    u->pos = ct__sr_i64(r);
    ct_element_free(u->cur);
    u->cur = ct__sr_element(r);
    int64_t present = ct__sr_i64(r);
    if (r->st) return r->st;
    if (u->cur && (u->cur->n == 0 || unbatch_check(u->cur) || u->pos < 0 ||
                   u->pos > u->cur->t[0]->shape[0]))
        return ct__sr_fail(r, "unbatch's current batch");
    if (present != 0 && present != 1) return ct__sr_fail(r, "an input flag is not 0 or 1");
    if (!present) {
        ct__iter_free(u->input);
        u->input = NULL;
        return CT_OK;
    }
    return ct__iter_restore(u->input, r);
}

static const ct__iter_vt unbatch_it_vt = {unbatch_next, unbatch_save, unbatch_restore,
                                          unbatch_it_free};

static ct__iter *unbatch_iterator(ct_dataset *ds) {
    unbatch_it *u = ct__iter_alloc(sizeof *u, &unbatch_it_vt, ds);
    if (!u) return NULL;
    u->input = ct__iter_make(((unbatch_ds *)ds)->input);
    if (!u->input) {
        free(u);
        return NULL;
    }
    return &u->base;
}

static int64_t unbatch_card(const ct_dataset *ds) {
    const unbatch_ds *d = (const unbatch_ds *)ds;
    int64_t n = ct_dataset_cardinality(d->input);
    if (n == CT_INFINITE_CARDINALITY || n == CT_UNKNOWN_CARDINALITY) return n;
    if (d->batch_dim > 0) return n * d->batch_dim;
    return CT_UNKNOWN_CARDINALITY;
}

static ct_dataset *unbatch_remake(ct_dataset *ds, ct__remake_fn f, void *ctx) {
    ct_dataset *input = f(((unbatch_ds *)ds)->input, ctx);
    if (!input) return NULL;
    ct_dataset *r = ct_dataset_unbatch(input);
    if (r) r->opts = ds->opts;
    return r;
}

static const ct__dataset_vt unbatch_vt = {"UnbatchDataset", unbatch_iterator, unbatch_card,
                                          unbatch_destroy, unbatch_remake,
                                          .input = ct__dataset_first_input};

ct_dataset *ct_dataset_unbatch(ct_dataset *ds) {
    if (ct__dataset_null(ds, "ct_dataset_unbatch")) return NULL;
    ct_element_spec spec = ds->spec;
    int64_t batch_dim = -1;
    for (int c = 0; c < spec.n; c++) {
        const ct_component_spec *s = &ds->spec.c[c];
        if (s->rank < 1) {
            ct__error(CT_ERR_INVALID_ARGUMENT,
                      "ct_dataset_unbatch: Cannot unbatch an input with scalar components "
                      "(component %d).", c);
            ct_dataset_free(ds);
            return NULL;
        }
        /* The known batch size: all components agree on a known one. */
        if (c == 0) batch_dim = s->shape[0];
        else if (s->shape[0] != batch_dim) batch_dim = -1;
        spec.c[c].rank = s->rank - 1;
        memmove(spec.c[c].shape, s->shape + 1, (size_t)(s->rank - 1) * sizeof(int64_t));
        spec.c[c].shape[s->rank - 1] = 0;
    }
    unbatch_ds *d = ct__dataset_alloc(sizeof *d, &unbatch_vt, &spec);
    if (!d) {
        ct_dataset_free(ds);
        return NULL;
    }
    d->input = ds;
    d->batch_dim = batch_dim;
    d->base.opts = ds->opts;
    return &d->base;
}

/* ---- rebatch ----------------------------------------------------------------------------- */

/* TF's rebatch(batch_size, drop_remainder) is unbatch().batch(batch_size,
 * drop_remainder) done without materialising single elements; here it is
 * that composition (unbatch hands out views, so only the batch copies). */
typedef struct {
    ct_dataset base;
    ct_dataset *inner;
} rebatch_ds;

static ct__iter *rebatch_iterator(ct_dataset *ds) { return ct__iter_make(((rebatch_ds *)ds)->inner); }

static int64_t rebatch_card(const ct_dataset *ds) {
    /* As TF's RebatchDatasetV2: infinite stays infinite, else unknown. */
    const batch_ds *b = (const batch_ds *)((const rebatch_ds *)ds)->inner;
    const unbatch_ds *u = (const unbatch_ds *)b->input;
    return ct_dataset_cardinality(u->input) == CT_INFINITE_CARDINALITY ? CT_INFINITE_CARDINALITY
                                                                        : CT_UNKNOWN_CARDINALITY;
}

static void rebatch_destroy(ct_dataset *ds) { ct_dataset_free(((rebatch_ds *)ds)->inner); }

/* The same rebatch over f(input): input is below the inner unbatch. */
static ct_dataset *rebatch_remake(ct_dataset *ds, ct__remake_fn f, void *ctx) {
    const batch_ds *b = (const batch_ds *)((const rebatch_ds *)ds)->inner;
    const unbatch_ds *u = (const unbatch_ds *)b->input;
    ct_dataset *input = f(u->input, ctx);
    if (!input) return NULL;
    ct_dataset *r = ct_dataset_rebatch(input, b->batch_size, b->drop_remainder);
    if (r) r->opts = ds->opts;
    return r;
}

static const ct__dataset_vt rebatch_vt = {"RebatchDatasetV2", rebatch_iterator, rebatch_card,
                                          rebatch_destroy, rebatch_remake,
                                          .input = ct__dataset_first_input};

ct_dataset *ct_dataset_rebatch(ct_dataset *ds, int64_t batch_size, bool drop_remainder) {
    const char *api = "ct_dataset_rebatch";
    if (ct__dataset_null(ds, api)) return NULL;
    if (batch_size <= 0) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: batch_size must be greater than zero (got %lld).",
                  api, (long long)batch_size);
        ct_dataset_free(ds);
        return NULL;
    }
    for (int c = 0; c < ds->spec.n; c++)
        if (ds->spec.c[c].rank < 1) {
            ct__error(CT_ERR_INVALID_ARGUMENT,
                      "%s: Cannot rebatch an input with scalar components (component %d).", api, c);
            ct_dataset_free(ds);
            return NULL;
        }
    ct_dataset *inner = ct_dataset_batch(ct_dataset_unbatch(ds), batch_size, drop_remainder);
    if (!inner) return NULL;
    rebatch_ds *d = ct__dataset_alloc(sizeof *d, &rebatch_vt, &inner->spec);
    if (!d) {
        ct_dataset_free(inner);
        return NULL;
    }
    d->inner = inner;
    d->base.opts = inner->opts;
    return &d->base;
}

/* ---- window ------------------------------------------------------------------------------ */

/* TF's WindowDataset: window k starts at input element k * shift and
 * takes every stride-th element of the next (size - 1) * stride + 1;
 * without drop_remainder the windows that run past the end come out
 * shorter, down to one element. Each window is batched here. */
typedef struct {
    ct_dataset base;
    ct_dataset *input;
    int64_t size, shift, stride;
    bool drop_remainder;
} window_ds;

typedef struct {
    ct__iter base;
    ct__iter *input; /* NULL once exhausted */
    elist buf;       /* the elements from the current window's start */
} window_it;

static void window_destroy(ct_dataset *ds) { ct_dataset_free(((window_ds *)ds)->input); }

static void window_it_free(ct__iter *it) {
    window_it *w = (window_it *)it;
    ct__iter_free(w->input);
    elist_free(&w->buf);
    free(it);
}

static ct_status window_next(ct__iter *it, ct_element **out) {
    window_it *w = (window_it *)it;
    const window_ds *d = (const window_ds *)it->ds;
    int64_t target = (d->size - 1) * d->stride + 1;
    while (w->input && w->buf.n < target) {
        ct_element *e;
        ct_status st = ct__iter_next(w->input, &e);
        if (st) return st;
        if (!e) {
            ct__iter_free(w->input);
            w->input = NULL;
            break;
        }
        if (!elist_push(&w->buf, e)) {
            ct_element_free(e);
            return ct_last_status();
        }
    }
    if (w->buf.n == 0 || (d->drop_remainder && w->buf.n < target)) return CT_OK;
    int64_t n = 1 + (w->buf.n - 1) / d->stride;
    ct_element **pick = malloc((size_t)n * sizeof *pick);
    if (!pick) return ct__error(CT_ERR_OUT_OF_MEMORY, "ct_dataset_window: out of host memory");
    for (int64_t i = 0; i < n; i++) pick[i] = w->buf.e[i * d->stride];
    *out = stack_elements(pick, n, "ct_dataset_window");
    free(pick);
    if (!*out) return ct_last_status();
    /* Shift, discarding input elements when the shift passes the buffer. */
    if (d->shift >= w->buf.n) {
        for (int64_t i = w->buf.n; w->input && i < d->shift; i++) {
            ct_element *e;
            ct_status st = ct__iter_next(w->input, &e);
            if (st) {
                ct_element_free(*out);
                *out = NULL;
                return st;
            }
            if (!e) {
                ct__iter_free(w->input);
                w->input = NULL;
            }
            ct_element_free(e);
        }
        elist_clear(&w->buf);
    } else {
        elist_drop_front(&w->buf, d->shift);
    }
    return CT_OK;
}

static ct_status window_save(ct__iter *it, ct__state_writer *wr) {
    window_it *w = (window_it *)it;
    elist_save(&w->buf, wr);
    ct__sw_i64(wr, w->input != NULL);
    if (w->input) ct__iter_save(w->input, wr);
    return wr->st;
}

static ct_status window_restore(ct__iter *it, ct__state_reader *r) {
    window_it *w = (window_it *)it;
    if (elist_restore(&w->buf, r)) return r->st;
    int64_t present = ct__sr_i64(r);
    if (r->st) return r->st;
    if (present != 0 && present != 1) return ct__sr_fail(r, "an input flag is not 0 or 1");
    if (!present) {
        ct__iter_free(w->input);
        w->input = NULL;
        return CT_OK;
    }
    return ct__iter_restore(w->input, r);
}

static const ct__iter_vt window_it_vt = {window_next, window_save, window_restore, window_it_free};

static ct__iter *window_iterator(ct_dataset *ds) {
    window_it *w = ct__iter_alloc(sizeof *w, &window_it_vt, ds);
    if (!w) return NULL;
    w->input = ct__iter_make(((window_ds *)ds)->input);
    if (!w->input) {
        free(w);
        return NULL;
    }
    return &w->base;
}

static int64_t window_card(const ct_dataset *ds) {
    const window_ds *d = (const window_ds *)ds;
    int64_t n = ct_dataset_cardinality(d->input);
    if (n == CT_INFINITE_CARDINALITY || n == CT_UNKNOWN_CARDINALITY) return n;
    if (d->drop_remainder) {
        int64_t rest = n - ((d->size - 1) * d->stride + 1);
        return rest < 0 ? 0 : rest / d->shift + 1;
    }
    return n / d->shift + (n % d->shift == 0 ? 0 : 1);
}

/* The same window (shift and stride as resolved) over f(input). */
static ct_dataset *window_remake(ct_dataset *ds, ct__remake_fn f, void *ctx) {
    const window_ds *d = (const window_ds *)ds;
    ct_dataset *input = f(d->input, ctx);
    if (!input) return NULL;
    ct_dataset *r = ct_dataset_window(input, d->size, d->shift, d->stride, d->drop_remainder);
    if (r) r->opts = ds->opts;
    return r;
}

static const ct__dataset_vt window_vt = {"WindowDataset", window_iterator, window_card,
                                         window_destroy, window_remake,
                                         .input = ct__dataset_first_input};

ct_dataset *ct_dataset_window(ct_dataset *ds, int64_t size, int64_t shift, int64_t stride,
                              bool drop_remainder) {
    const char *api = "ct_dataset_window";
    if (ct__dataset_null(ds, api)) return NULL;
    if (shift == 0) shift = size;
    if (stride == 0) stride = 1;
    const char *bad = size <= 0 ? "Window size must be greater than zero"
                      : shift <= 0 ? "Window shift must be greater than zero"
                      : stride <= 0 ? "Window stride must be greater than zero" : NULL;
    if (bad) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %s (size = %lld, shift = %lld, stride = %lld).", api,
                  bad, (long long)size, (long long)shift, (long long)stride);
        ct_dataset_free(ds);
        return NULL;
    }
    ct_element_spec spec;
    if (!batched_spec(&ds->spec, drop_remainder ? size : -1, &spec, api)) {
        ct_dataset_free(ds);
        return NULL;
    }
    window_ds *d = ct__dataset_alloc(sizeof *d, &window_vt, &spec);
    if (!d) {
        ct_dataset_free(ds);
        return NULL;
    }
    d->input = ds;
    d->size = size;
    d->shift = shift;
    d->stride = stride;
    d->drop_remainder = drop_remainder;
    d->base.opts = ds->opts;
    return &d->base;
}
