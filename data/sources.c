/* In-memory sources: from_tensor_slices, from_tensors, range, from_generator. */
#include <stdlib.h>
#include <string.h>

#include "data/internal.h"

/* ---- from_tensor_slices / from_tensors ------------------------------------------ */

typedef struct {
    ct_dataset base;
    ct_element *src; /* owned references */
    int64_t count;   /* slices (or 1 for from_tensors) */
    bool slices;
} tensors_ds;

typedef struct {
    ct__iter base;
    int64_t pos;
} tensors_it;

static ct_status tensors_next(ct__iter *it, ct_element **out) {
    tensors_it *t = (tensors_it *)it;
    tensors_ds *d = (tensors_ds *)it->ds;
    if (t->pos >= d->count) return CT_OK;
    *out = d->slices ? ct__element_slice(d->src, t->pos) : ct_element_copy(d->src);
    if (!*out) return ct_last_status();
    t->pos++;
    return CT_OK;
}

static ct_status tensors_save(ct__iter *it, ct__state_writer *w) {
    ct__sw_i64(w, ((tensors_ds *)it->ds)->count);
    ct__sw_i64(w, ((tensors_it *)it)->pos);
    return w->st;
}

static ct_status tensors_restore(ct__iter *it, ct__state_reader *r) {
    if (!ct__sr_param(r, it->ds->vt->name, "elements", ((tensors_ds *)it->ds)->count))
        return r->st;
    int64_t pos = ct__sr_i64(r);
    if (r->st) return r->st;
    if (pos < 0 || pos > ((tensors_ds *)it->ds)->count)
        return ct__sr_fail(r, "a position beyond the tensors' slices");
    ((tensors_it *)it)->pos = pos;
    return CT_OK;
}

static void plain_free(ct__iter *it) { free(it); }

static const ct__iter_vt tensors_it_vt = {tensors_next, tensors_save, tensors_restore, plain_free};

static ct__iter *tensors_iterator(ct_dataset *ds) {
    return ct__iter_alloc(sizeof(tensors_it), &tensors_it_vt, ds);
}
static int64_t tensors_card(const ct_dataset *ds) { return ((const tensors_ds *)ds)->count; }
static void tensors_destroy(ct_dataset *ds) { ct_element_free(((tensors_ds *)ds)->src); }

static const ct__dataset_vt slices_vt = {"TensorSliceDataset", tensors_iterator, tensors_card,
                                         tensors_destroy};
static const ct__dataset_vt tensors_vt = {"TensorDataset", tensors_iterator, tensors_card,
                                          tensors_destroy};

static ct_dataset *from_tensors(const ct_element *c, bool slices, const char *api) {
    if (!c) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: NULL components", api);
        return NULL;
    }
    if (c->n < 1 || c->n > CT_MAX_COMPONENTS) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %d components; expected 1 to %d", api, c->n,
                  CT_MAX_COMPONENTS);
        return NULL;
    }
    int64_t count = 1;
    for (int i = 0; i < c->n; i++) {
        const ct_tensor *t = c->t[i];
        if (!t) {
            if (!ct_last_status()) ct__error(CT_ERR_INVALID_ARGUMENT, "%s: component %d is NULL", api, i);
            return NULL;
        }
        if (!slices) continue;
        if (t->rank < 1) {
            ct__error(CT_ERR_INVALID_ARGUMENT,
                      "%s: component %d is a scalar (%s); slicing needs rank >= 1", api, i,
                      CT__DESC(t));
            return NULL;
        }
        if (i == 0) count = t->shape[0];
        else if (t->shape[0] != count) {
            ct__error(CT_ERR_INVALID_ARGUMENT,
                      "%s: components have different first dimensions: component 0 has %lld, "
                      "component %d is %s", api, (long long)count, i, CT__DESC(t));
            return NULL;
        }
    }
    ct_element_spec spec = {.n = c->n};
    for (int i = 0; i < c->n; i++) {
        const ct_tensor *t = c->t[i];
        spec.c[i].dtype = t->dtype;
        spec.c[i].rank = slices ? t->rank - 1 : t->rank;
        memcpy(spec.c[i].shape, t->shape + (slices ? 1 : 0),
               (size_t)spec.c[i].rank * sizeof(int64_t));
        spec.c[i].name = ct__intern(c->name[i]);
    }
    tensors_ds *d = ct__dataset_alloc(sizeof *d, slices ? &slices_vt : &tensors_vt, &spec);
    if (!d) return NULL;
    d->src = ct__element_new(c->n);
    if (!d->src) {
        free(d);
        return NULL;
    }
    for (int i = 0; i < c->n; i++) {
        d->src->t[i] = ct_tensor_ref(c->t[i]);
        d->src->name[i] = spec.c[i].name;
    }
    d->count = count;
    d->slices = slices;
    return &d->base;
}

ct_dataset *ct_dataset_from_tensor_slices(const ct_element *components) {
    return from_tensors(components, true, "ct_dataset_from_tensor_slices");
}

ct_dataset *ct_dataset_from_tensors(const ct_element *components) {
    return from_tensors(components, false, "ct_dataset_from_tensors");
}

/* ---- range -------------------------------------------------------------------------- */

typedef struct {
    ct_dataset base;
    int64_t start, stop, step;
} range_ds;

typedef struct {
    ct__iter base;
    int64_t next;
} range_it;

static bool range_done(const range_ds *d, int64_t v) {
    return d->step > 0 ? v >= d->stop : v <= d->stop;
}

static ct_status range_next(ct__iter *it, ct_element **out) {
    range_it *r = (range_it *)it;
    const range_ds *d = (const range_ds *)it->ds;
    if (range_done(d, r->next)) return CT_OK;
    ct_element *e = ct__element_new(1);
    if (!e) return ct_last_status();
    /* Elements live in host memory, whatever device scope the caller has. */
    ct_device_scope_begin(ct_device_get(CT_DEVICE_CPU, 0));
    ct_scope_begin();
    e->t[0] = ct__unscope(ct_constant(&r->next, CT_INT64, CT_SCALAR));
    ct_scope_end();
    ct_device_scope_end();
    if (!e->t[0]) {
        ct_element_free(e);
        return ct_last_status();
    }
    r->next += d->step;
    *out = e;
    return CT_OK;
}

static ct_status range_save(ct__iter *it, ct__state_writer *w) {
    const range_ds *d = (const range_ds *)it->ds;
    ct__sw_i64(w, d->start);
    ct__sw_i64(w, d->stop);
    ct__sw_i64(w, d->step);
    ct__sw_i64(w, ((range_it *)it)->next);
    return w->st;
}
static ct_status range_restore(ct__iter *it, ct__state_reader *r) {
    const range_ds *d = (const range_ds *)it->ds;
    const char *name = it->ds->vt->name;
    if (!ct__sr_param(r, name, "start", d->start) || !ct__sr_param(r, name, "stop", d->stop) ||
        !ct__sr_param(r, name, "step", d->step))
        return r->st;
    ((range_it *)it)->next = ct__sr_i64(r);
    return r->st;
}
static const ct__iter_vt range_it_vt = {range_next, range_save, range_restore, plain_free};

static ct__iter *range_iterator(ct_dataset *ds) {
    range_it *r = ct__iter_alloc(sizeof *r, &range_it_vt, ds);
    if (r) r->next = ((range_ds *)ds)->start;
    return &r->base;
}

static int64_t range_card(const ct_dataset *ds) {
    const range_ds *d = (const range_ds *)ds;
    if (range_done(d, d->start)) return 0;
    int64_t span = d->step > 0 ? d->stop - d->start : d->start - d->stop;
    int64_t step = d->step > 0 ? d->step : -d->step;
    return (span + step - 1) / step;
}

static const ct__dataset_vt range_vt = {"RangeDataset", range_iterator, range_card, NULL};

ct_dataset *ct_dataset_range(int64_t start, int64_t stop, int64_t step) {
    if (step == 0) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_dataset_range: step must not be 0");
        return NULL;
    }
    ct_element_spec spec = {.n = 1, .c = {{.dtype = CT_INT64, .rank = 0}}};
    range_ds *d = ct__dataset_alloc(sizeof *d, &range_vt, &spec);
    if (!d) return NULL;
    d->start = start;
    d->stop = stop;
    d->step = step;
    return &d->base;
}

/* ---- from_generator ------------------------------------------------------------------- */

typedef struct {
    ct_dataset base;
    ct_generator_fn fn;
    void (*reset)(void *ctx);
    void *ctx;
} gen_ds;

static ct_status check_spec(const ct_element_spec *spec, const ct_element *e, const char *api) {
    if (e->n != spec->n)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: the generator returned %d components, the signature has %d", api,
                         e->n, spec->n);
    for (int i = 0; i < e->n; i++) {
        const ct_component_spec *c = &spec->c[i];
        const ct_tensor *t = e->t[i];
        bool ok = t && t->dtype == c->dtype && t->rank == c->rank;
        for (int k = 0; ok && k < t->rank; k++) ok = c->shape[k] < 0 || c->shape[k] == t->shape[k];
        if (!ok)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: component %d is %s, the signature says %s%s", api, i,
                             CT__DESC(t), ct_dtype_name(c->dtype), CT__SHAPE(c->rank, c->shape));
    }
    return CT_OK;
}

static ct_status gen_next(ct__iter *it, ct_element **out) {
    gen_ds *d = (gen_ds *)it->ds;
    ct_status st = d->fn(d->ctx, out);
    if (!st && *out) st = check_spec(&d->base.spec, *out, "ct_dataset_from_generator");
    if (st && *out) {
        ct_element_free(*out);
        *out = NULL;
    }
    return st;
}

static const ct__iter_vt gen_it_vt = {gen_next, NULL, NULL, plain_free};

static ct__iter *gen_iterator(ct_dataset *ds) {
    gen_ds *d = (gen_ds *)ds;
    if (d->reset) d->reset(d->ctx);
    return ct__iter_alloc(sizeof(ct__iter), &gen_it_vt, ds);
}

static const ct__dataset_vt gen_vt = {"GeneratorDataset", gen_iterator, NULL, NULL};

ct_dataset *ct_dataset_from_generator(ct_generator_fn fn, void (*reset)(void *ctx), void *ctx,
                                      const ct_element_spec *spec) {
    if (!fn || !spec || spec->n < 1 || spec->n > CT_MAX_COMPONENTS) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_dataset_from_generator: needs a function and an output signature of 1 to "
                  "%d components", CT_MAX_COMPONENTS);
        return NULL;
    }
    gen_ds *d = ct__dataset_alloc(sizeof *d, &gen_vt, spec);
    if (!d) return NULL;
    for (int i = 0; i < spec->n; i++) d->base.spec.c[i].name = ct__intern(spec->c[i].name);
    d->fn = fn;
    d->reset = reset;
    d->ctx = ctx;
    return &d->base;
}
