/*
 * zip and concatenate: tf.data's ZipDataset (tuples of the inputs'
 * components, ending with the shortest input) and ConcatenateDataset
 * (the first input's elements, then the second's).
 */
#include <stdlib.h>
#include <string.h>

#include "data/internal.h"

/* ---- zip ----------------------------------------------------------------------------- */

typedef struct {
    ct_dataset base;
    int n;
    ct_dataset **inputs;
} zip_ds;

typedef struct {
    ct__iter base;
    bool ended;      /* an input ended: the zip stays at its end */
    ct__iter **inputs;
} zip_it;

static void zip_drop_inputs(zip_it *z, int n) {
    if (!z->inputs) return;
    for (int i = 0; i < n; i++) ct__iter_free(z->inputs[i]);
    free(z->inputs);
    z->inputs = NULL;
}

static ct_status zip_next(ct__iter *it, ct_element **out) {
    zip_it *z = (zip_it *)it;
    const zip_ds *d = (const zip_ds *)it->ds;
    if (z->ended) return CT_OK;
    ct_element *r = ct__element_new(d->base.spec.n);
    if (!r) return ct_last_status();
    int k = 0;
    for (int i = 0; i < d->n; i++) {
        ct_element *e;
        ct_status st = ct__iter_next(z->inputs[i], &e);
        if (st) {
            r->n = k;
            ct_element_free(r);
            return st;
        }
        if (!e) {
            /* TF pulls the inputs in order and stops at the first end; the
             * elements already taken from earlier inputs are dropped. */
            r->n = k;
            ct_element_free(r);
            zip_drop_inputs(z, d->n);
            z->ended = true;
            return CT_OK;
        }
        if (k + e->n > r->n) {
            r->n = k;
            ct_element_free(r);
            ct_status bad = ct__error(CT_ERR_INVALID_ARGUMENT,
                                      "ct_dataset_zip: input %d gave an element of %d components, "
                                      "more than its spec says", i, e->n);
            ct_element_free(e);
            return bad;
        }
        for (int c = 0; c < e->n; c++) {
            r->t[k] = e->t[c];
            r->name[k++] = e->name[c];
        }
        free(e); /* its references moved to r */
    }
    r->n = k;
    *out = r;
    return CT_OK;
}

static ct_status zip_save(ct__iter *it, ct__state_writer *w) {
    zip_it *z = (zip_it *)it;
    const zip_ds *d = (const zip_ds *)it->ds;
    ct__sw_i64(w, z->ended);
    if (!z->ended)
        for (int i = 0; i < d->n; i++) ct__iter_save(z->inputs[i], w);
    return w->st;
}

static ct_status zip_restore(ct__iter *it, ct__state_reader *r) {
    zip_it *z = (zip_it *)it;
    const zip_ds *d = (const zip_ds *)it->ds;
    int64_t ended = ct__sr_i64(r);
    if (r->st) return r->st;
    if (ended != 0 && ended != 1) return ct__sr_fail(r, "zip's end flag is not 0 or 1");
    if (ended) {
        zip_drop_inputs(z, d->n);
        z->ended = true;
        return CT_OK;
    }
    for (int i = 0; i < d->n; i++)
        if (ct__iter_restore(z->inputs[i], r)) return r->st;
    return CT_OK;
}

static void zip_it_free(ct__iter *it) {
    zip_drop_inputs((zip_it *)it, ((zip_ds *)it->ds)->n);
    free(it);
}

static const ct__iter_vt zip_it_vt = {zip_next, zip_save, zip_restore, zip_it_free};

static ct__iter *zip_iterator(ct_dataset *ds) {
    zip_ds *d = (zip_ds *)ds;
    zip_it *z = ct__iter_alloc(sizeof *z, &zip_it_vt, ds);
    if (!z) return NULL;
    z->inputs = calloc((size_t)d->n, sizeof *z->inputs);
    if (!z->inputs) {
        free(z);
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_dataset_zip: out of host memory");
        return NULL;
    }
    for (int i = 0; i < d->n; i++) {
        z->inputs[i] = ct__iter_make(d->inputs[i]);
        if (!z->inputs[i]) {
            zip_it_free(&z->base);
            return NULL;
        }
    }
    return &z->base;
}

static int64_t zip_card(const ct_dataset *ds) {
    const zip_ds *d = (const zip_ds *)ds;
    int64_t result = CT_INFINITE_CARDINALITY;
    for (int i = 0; i < d->n; i++) {
        int64_t n = ct_dataset_cardinality(d->inputs[i]);
        if (n == CT_UNKNOWN_CARDINALITY) return CT_UNKNOWN_CARDINALITY;
        if (n != CT_INFINITE_CARDINALITY && (result == CT_INFINITE_CARDINALITY || n < result))
            result = n;
    }
    return result;
}

static void zip_destroy(ct_dataset *ds) {
    zip_ds *d = (zip_ds *)ds;
    for (int i = 0; i < d->n; i++) ct_dataset_free(d->inputs[i]);
    free(d->inputs);
}

/* The same zip over f of each input, in order (the first failure stops). */
static ct_dataset *zip_remake(ct_dataset *ds, ct__remake_fn f, void *ctx) {
    const zip_ds *d = (const zip_ds *)ds;
    ct_dataset **in = malloc((size_t)d->n * sizeof *in);
    if (!in) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_dataset_zip: out of host memory");
        return NULL;
    }
    for (int i = 0; i < d->n; i++) {
        in[i] = f(d->inputs[i], ctx);
        if (!in[i]) {
            for (int j = 0; j < i; j++) ct_dataset_free(in[j]);
            free(in);
            return NULL;
        }
    }
    ct_dataset *r = ct_dataset_zip(d->n, in);
    free(in);
    if (r) r->opts = ds->opts;
    return r;
}

static ct_dataset *zip_input(const ct_dataset *ds, int i) {
    const zip_ds *d = (const zip_ds *)ds;
    return i < d->n ? d->inputs[i] : NULL;
}

static const ct__dataset_vt zip_vt = {"ZipDataset", zip_iterator, zip_card, zip_destroy,
                                      zip_remake, .input = zip_input};

ct_dataset *ct_dataset_zip(int n, ct_dataset *const *datasets) {
    const char *api = "ct_dataset_zip";
    if (n <= 0 || !datasets) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: Invalid `datasets`: expected at least one dataset, got %d",
                  api, n);
        return NULL;
    }
    ct_element_spec spec = {0};
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        if (ct__dataset_null(datasets[i], api)) {
            ok = false;
        } else if (spec.n + datasets[i]->spec.n > CT_MAX_COMPONENTS) {
            ct__error(CT_ERR_INVALID_ARGUMENT,
                      "%s: the zipped elements would have more than %d components", api,
                      CT_MAX_COMPONENTS);
            ok = false;
        } else {
            for (int c = 0; c < datasets[i]->spec.n; c++) spec.c[spec.n++] = datasets[i]->spec.c[c];
        }
    }
    zip_ds *d = NULL;
    if (ok) d = ct__dataset_alloc(sizeof *d, &zip_vt, &spec);
    if (d) {
        d->inputs = malloc((size_t)n * sizeof *d->inputs);
        if (!d->inputs) {
            ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
            free(d);
            d = NULL;
        }
    }
    if (!d) {
        for (int i = 0; i < n; i++) ct_dataset_free(datasets[i]);
        return NULL;
    }
    d->n = n;
    memcpy(d->inputs, datasets, (size_t)n * sizeof *d->inputs);
    d->base.opts = datasets[0]->opts;
    return &d->base;
}

/* ---- concatenate ---------------------------------------------------------------------- */

typedef struct {
    ct_dataset base;
    ct_dataset *in[2];
} concat_ds;

typedef struct {
    ct__iter base;
    int64_t i;       /* the input being read: 0, 1, or 2 at the end */
    ct__iter *input;
} concat_it;

static ct_status concat_next(ct__iter *it, ct_element **out) {
    concat_it *c = (concat_it *)it;
    const concat_ds *d = (const concat_ds *)it->ds;
    while (c->i < 2) {
        if (!c->input) {
            c->input = ct__iter_make(d->in[c->i]);
            if (!c->input) return ct_last_status();
        }
        ct_status st = ct__iter_next(c->input, out);
        if (st || *out) return st;
        ct__iter_free(c->input);
        c->input = NULL;
        c->i++;
    }
    return CT_OK;
}

static ct_status concat_save(ct__iter *it, ct__state_writer *w) {
    concat_it *c = (concat_it *)it;
    ct__sw_i64(w, c->i);
    ct__sw_i64(w, c->input != NULL);
    if (c->input) ct__iter_save(c->input, w);
    return w->st;
}

static ct_status concat_restore(ct__iter *it, ct__state_reader *r) {
    concat_it *c = (concat_it *)it;
    const concat_ds *d = (const concat_ds *)it->ds;
    int64_t i = ct__sr_i64(r), present = ct__sr_i64(r);
    if (r->st) return r->st;
    if (i < 0 || i > 2 || present < 0 || present > 1 || (present && i == 2))
        return ct__sr_fail(r, "concatenate's position");
    ct__iter_free(c->input);
    c->input = NULL;
    c->i = i;
    if (!present) return CT_OK;
    c->input = ct__iter_make(d->in[i]);
    if (!c->input) return r->st = ct_last_status();
    return ct__iter_restore(c->input, r);
}

static void concat_it_free(ct__iter *it) {
    ct__iter_free(((concat_it *)it)->input);
    free(it);
}

static const ct__iter_vt concat_it_vt = {concat_next, concat_save, concat_restore, concat_it_free};

static ct__iter *concat_iterator(ct_dataset *ds) {
    concat_it *c = ct__iter_alloc(sizeof *c, &concat_it_vt, ds);
    return c ? &c->base : NULL;
}

static int64_t concat_card(const ct_dataset *ds) {
    const concat_ds *d = (const concat_ds *)ds;
    int64_t a = ct_dataset_cardinality(d->in[0]), b = ct_dataset_cardinality(d->in[1]);
    if (a == CT_INFINITE_CARDINALITY || b == CT_INFINITE_CARDINALITY) return CT_INFINITE_CARDINALITY;
    if (a == CT_UNKNOWN_CARDINALITY || b == CT_UNKNOWN_CARDINALITY) return CT_UNKNOWN_CARDINALITY;
    return a + b;
}

static void concat_destroy(ct_dataset *ds) {
    concat_ds *d = (concat_ds *)ds;
    ct_dataset_free(d->in[0]);
    ct_dataset_free(d->in[1]);
}

static ct_dataset *concat_remake(ct_dataset *ds, ct__remake_fn f, void *ctx) {
    const concat_ds *d = (const concat_ds *)ds;
    ct_dataset *a = f(d->in[0], ctx);
    if (!a) return NULL;
    ct_dataset *b = f(d->in[1], ctx);
    if (!b) {
        ct_dataset_free(a);
        return NULL;
    }
    ct_dataset *r = ct_dataset_concatenate(a, b);
    if (r) r->opts = ds->opts;
    return r;
}

static ct_dataset *concat_input(const ct_dataset *ds, int i) {
    return i < 2 ? ((const concat_ds *)ds)->in[i] : NULL;
}

static const ct__dataset_vt concat_vt = {"ConcatenateDataset", concat_iterator, concat_card,
                                         concat_destroy, concat_remake, .input = concat_input};

static bool same_name(const char *a, const char *b) {
    return a == b || (a && b && !strcmp(a, b));
}

ct_dataset *ct_dataset_concatenate(ct_dataset *a, ct_dataset *b) {
    const char *api = "ct_dataset_concatenate";
    if (ct__dataset_null(a, api) || ct__dataset_null(b, api)) goto fail;
    const ct_element_spec *sa = &a->spec, *sb = &b->spec;
    if (sa->n != sb->n) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s: Incompatible dataset elements: the first has %d components, the second %d",
                  api, sa->n, sb->n);
        goto fail;
    }
    /* The most specific shape compatible with both: dimensions that differ
     * become unknown. Different dtypes, ranks or names are an error. */
    ct_element_spec spec = *sa;
    for (int c = 0; c < sa->n; c++) {
        const ct_component_spec *x = &sa->c[c], *y = &sb->c[c];
        if (x->dtype != y->dtype || x->rank != y->rank || !same_name(x->name, y->name)) {
            ct__error(CT_ERR_INVALID_ARGUMENT,
                      "%s: Incompatible dataset elements: component %d is %s%s%s%s in the first "
                      "dataset and %s%s%s%s in the second", api, c, x->name ? x->name : "",
                      x->name ? ": " : "", ct_dtype_name(x->dtype), CT__SHAPE(x->rank, x->shape),
                      y->name ? y->name : "", y->name ? ": " : "", ct_dtype_name(y->dtype),
                      CT__SHAPE(y->rank, y->shape));
            goto fail;
        }
        for (int i = 0; i < x->rank; i++)
            if (x->shape[i] != y->shape[i]) spec.c[c].shape[i] = -1;
    }
    concat_ds *d = ct__dataset_alloc(sizeof *d, &concat_vt, &spec);
    if (!d) goto fail;
    d->in[0] = a;
    d->in[1] = b;
    d->base.opts = a->opts;
    return &d->base;
fail:
    ct_dataset_free(a);
    ct_dataset_free(b);
    return NULL;
}
