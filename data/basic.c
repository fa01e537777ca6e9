/*
 * Counting transforms: repeat, take, skip, shard, enumerate. Each follows
 * the TF kernel of the same name (tensorflow/core/kernels/data/<name>_op.cc):
 * its iterator semantics, its cardinality arithmetic and its errors.
 */
#include <stdlib.h>
#include <string.h>

#include "data/internal.h"

/* A transform over one input whose iterator may have dropped its input
 * (NULL once the input is exhausted, as TF resets input_impl_). */
typedef struct {
    ct_dataset base;
    ct_dataset *input;
    int64_t count; /* repeat/take/skip count, shard's num_shards, enumerate's start */
    int64_t index; /* shard's index */
} unary_ds;

typedef struct {
    ct__iter base;
    ct__iter *input; /* NULL: exhausted (or, for repeat, between epochs) */
    int64_t i;       /* elements / epochs counted so far                */
    int64_t flag;    /* repeat: first call of an epoch; skip: skipping done */
} unary_it;

static void unary_destroy(ct_dataset *ds) { ct_dataset_free(((unary_ds *)ds)->input); }

static void unary_free(ct__iter *it) {
    ct__iter_free(((unary_it *)it)->input);
    free(it);
}

/* The input's state after a present/absent flag, so an exhausted input
 * stays exhausted after a restore. */
static ct_status save_input(ct__iter *input, ct__state_writer *w) {
    ct__sw_i64(w, input != NULL);
    if (input) ct__iter_save(input, w);
    return w->st;
}

static ct_status restore_input(ct_dataset *ds, ct__iter **input, ct__state_reader *r) {
    int64_t present = ct__sr_i64(r);
    if (r->st) return r->st;
    if (present != 0 && present != 1) return ct__sr_fail(r, "an input flag is not 0 or 1");
    ct__iter_free(*input);
    *input = NULL;
    if (!present) return CT_OK;
    *input = ct__iter_make(ds);
    if (!*input) return r->st = ct_last_status();
    return ct__iter_restore(*input, r);
}

/* What the stage's count argument is called. */
static const char *count_name(const ct_dataset *ds) {
    if (!strcmp(ds->vt->name, "ShardDataset")) return "num_shards";
    if (!strcmp(ds->vt->name, "ZipDataset")) return "start"; /* enumerate */
    return "count";
}

static ct_status unary_save(ct__iter *it, ct__state_writer *w) {
    unary_it *u = (unary_it *)it;
    unary_ds *d = (unary_ds *)it->ds;
    ct__sw_i64(w, d->count);
    ct__sw_i64(w, d->index);
    ct__sw_i64(w, u->i);
    ct__sw_i64(w, u->flag);
    return save_input(u->input, w);
}

static ct_status unary_restore(ct__iter *it, ct__state_reader *r) {
    unary_it *u = (unary_it *)it;
    unary_ds *d = (unary_ds *)it->ds;
    if (!ct__sr_param(r, it->ds->vt->name, count_name(it->ds), d->count) ||
        !ct__sr_param(r, it->ds->vt->name, "index", d->index))
        return r->st;
    u->i = ct__sr_i64(r);
    u->flag = ct__sr_i64(r);
    if (r->st) return r->st;
    if (u->i < 0) return ct__sr_fail(r, "a negative count");
    return restore_input(((unary_ds *)it->ds)->input, &u->input, r);
}

/* An iterator with its input opened (most stages). */
static ct__iter *unary_iterator(ct_dataset *ds, const ct__iter_vt *vt) {
    unary_it *u = ct__iter_alloc(sizeof *u, vt, ds);
    if (!u) return NULL;
    u->input = ct__iter_make(((unary_ds *)ds)->input);
    if (!u->input) {
        free(u);
        return NULL;
    }
    return &u->base;
}

/* Makes a unary dataset over input with input's spec (or spec). Frees
 * input on failure. */
static ct_dataset *unary_make(const ct__dataset_vt *vt, ct_dataset *input, const ct_element_spec *spec,
                              int64_t count, int64_t index) {
    unary_ds *d = ct__dataset_alloc(sizeof *d, vt, spec ? spec : &input->spec);
    if (!d) {
        ct_dataset_free(input);
        return NULL;
    }
    d->input = input;
    d->count = count;
    d->index = index;
    d->base.opts = input->opts;
    return &d->base;
}

/* The same stage over f(input). */
static ct_dataset *unary_remake(ct_dataset *ds, ct__remake_fn f, void *ctx) {
    unary_ds *d = (unary_ds *)ds;
    ct_dataset *input = f(d->input, ctx);
    if (!input) return NULL;
    ct_dataset *r = unary_make(ds->vt, input, &ds->spec, d->count, d->index);
    if (r) r->opts = ds->opts;
    return r;
}

/* ---- repeat ----------------------------------------------------------------------- */

/* TF's RepeatDataset: count < 0 repeats forever, but an epoch that yields
 * nothing ends the sequence (an empty input repeated forever ends rather
 * than spinning); count 0 yields nothing; else count epochs, each with a
 * fresh input iterator (so a shuffle below reshuffles every epoch). */
static ct_status repeat_next(ct__iter *it, ct_element **out) {
    unary_it *u = (unary_it *)it;
    unary_ds *d = (unary_ds *)it->ds;
    for (;;) {
        if (d->count >= 0 && u->i >= d->count) return CT_OK;
        if (!u->input) {
            u->input = ct__iter_make(d->input);
            if (!u->input) return ct_last_status();
            u->flag = 1; /* the epoch's first call */
        }
        ct_status st = ct__iter_next(u->input, out);
        if (st) return st;
        if (*out) {
            u->flag = 0;
            return CT_OK;
        }
        bool empty_epoch = u->flag;
        ct__iter_free(u->input);
        u->input = NULL;
        if (d->count < 0 && empty_epoch) {
            u->i = 0;
            u->flag = 2; /* ended for good */
            return CT_OK;
        }
        u->i++;
    }
}

static ct_status repeat_forever_next(ct__iter *it, ct_element **out) {
    if (((unary_it *)it)->flag == 2) return CT_OK;
    return repeat_next(it, out);
}

static const ct__iter_vt repeat_it_vt = {repeat_forever_next, unary_save, unary_restore, unary_free};

/* As TF, the first epoch's input iterator is made with the iterator (so
 * its state, a shuffle's seeds included, is in a checkpoint taken before
 * the first element). */
static ct__iter *repeat_iterator(ct_dataset *ds) {
    if (((unary_ds *)ds)->count == 0) return ct__iter_alloc(sizeof(unary_it), &repeat_it_vt, ds);
    unary_it *u = (unary_it *)unary_iterator(ds, &repeat_it_vt);
    if (u) u->flag = 1;
    return u ? &u->base : NULL;
}

static int64_t repeat_card(const ct_dataset *ds) {
    const unary_ds *d = (const unary_ds *)ds;
    int64_t n = ct_dataset_cardinality(d->input);
    if (d->count < 0) return n == 0 ? 0 : CT_INFINITE_CARDINALITY;
    if (d->count == 0) return 0;
    if (n == CT_INFINITE_CARDINALITY || n == CT_UNKNOWN_CARDINALITY) return n;
    return d->count * n;
}

static const ct__dataset_vt repeat_vt = {"RepeatDataset", repeat_iterator, repeat_card, unary_destroy,
                                     unary_remake, .input = ct__dataset_first_input};

ct_dataset *ct_dataset_repeat(ct_dataset *ds, int64_t count) {
    if (ct__dataset_null(ds, "ct_dataset_repeat")) return NULL;
    return unary_make(&repeat_vt, ds, NULL, count, 0);
}

/* ---- take ------------------------------------------------------------------------- */

/* count < 0: everything (TF's take(-1)). */
static ct_status take_next(ct__iter *it, ct_element **out) {
    unary_it *u = (unary_it *)it;
    int64_t count = ((unary_ds *)it->ds)->count;
    if (!u->input || (count >= 0 && u->i >= count)) return CT_OK;
    ct_status st = ct__iter_next(u->input, out);
    if (st) return st;
    if (*out) {
        u->i++;
    } else {
        ct__iter_free(u->input);
        u->input = NULL;
    }
    return CT_OK;
}

static const ct__iter_vt take_it_vt = {take_next, unary_save, unary_restore, unary_free};

static ct__iter *take_iterator(ct_dataset *ds) {
    if (((unary_ds *)ds)->count == 0) /* TF's EmptyIterator: the input is never opened */
        return ct__iter_alloc(sizeof(unary_it), &take_it_vt, ds);
    return unary_iterator(ds, &take_it_vt);
}

static int64_t take_card(const ct_dataset *ds) {
    const unary_ds *d = (const unary_ds *)ds;
    int64_t n = ct_dataset_cardinality(d->input);
    if (n == CT_UNKNOWN_CARDINALITY) return CT_UNKNOWN_CARDINALITY;
    if (n == CT_INFINITE_CARDINALITY) return d->count < 0 ? CT_INFINITE_CARDINALITY : d->count;
    if (d->count < 0) return n;
    return n < d->count ? n : d->count;
}

static const ct__dataset_vt take_vt = {"TakeDataset", take_iterator, take_card, unary_destroy,
                                     unary_remake, .input = ct__dataset_first_input};

ct_dataset *ct_dataset_take(ct_dataset *ds, int64_t count) {
    if (ct__dataset_null(ds, "ct_dataset_take")) return NULL;
    return unary_make(&take_vt, ds, NULL, count, 0);
}

/* ---- skip ------------------------------------------------------------------------- */

/* count < 0: skips everything (TF's skip(-1)). The skipping happens on the
 * first call; flag records that it is done. */
static ct_status skip_next(ct__iter *it, ct_element **out) {
    unary_it *u = (unary_it *)it;
    int64_t count = ((unary_ds *)it->ds)->count;
    if (!u->input) return CT_OK;
    while (!u->flag && (count < 0 || u->i < count)) {
        ct_status st = ct__iter_next(u->input, out);
        if (st) return st;
        if (!*out) {
            ct__iter_free(u->input);
            u->input = NULL;
            return CT_OK;
        }
        ct_element_free(*out);
        *out = NULL;
        u->i++;
    }
    u->flag = 1;
    ct_status st = ct__iter_next(u->input, out);
    if (!st && !*out) {
        ct__iter_free(u->input);
        u->input = NULL;
    }
    return st;
}

static const ct__iter_vt skip_it_vt = {skip_next, unary_save, unary_restore, unary_free};

static ct__iter *skip_iterator(ct_dataset *ds) { return unary_iterator(ds, &skip_it_vt); }

static int64_t skip_card(const ct_dataset *ds) {
    const unary_ds *d = (const unary_ds *)ds;
    int64_t n = ct_dataset_cardinality(d->input);
    if (n == CT_INFINITE_CARDINALITY || n == CT_UNKNOWN_CARDINALITY) return n;
    if (d->count < 0) return 0;
    return n > d->count ? n - d->count : 0;
}

static const ct__dataset_vt skip_vt = {"SkipDataset", skip_iterator, skip_card, unary_destroy,
                                     unary_remake, .input = ct__dataset_first_input};

ct_dataset *ct_dataset_skip(ct_dataset *ds, int64_t count) {
    if (ct__dataset_null(ds, "ct_dataset_skip")) return NULL;
    return unary_make(&skip_vt, ds, NULL, count, 0);
}

/* ---- shard ------------------------------------------------------------------------ */

/* Element k of the input goes to shard k % num_shards; i counts the input
 * elements consumed so far. */
static ct_status shard_next(ct__iter *it, ct_element **out) {
    unary_it *u = (unary_it *)it;
    unary_ds *d = (unary_ds *)it->ds;
    if (!u->input) return CT_OK;
    int64_t skip = (d->index - u->i % d->count + d->count) % d->count;
    for (int64_t k = 0; k <= skip; k++) {
        ct_status st = ct__iter_next(u->input, out);
        if (st) return st;
        if (!*out) {
            ct__iter_free(u->input);
            u->input = NULL;
            return CT_OK;
        }
        u->i++;
        if (k < skip) {
            ct_element_free(*out);
            *out = NULL;
        }
    }
    return CT_OK;
}

static const ct__iter_vt shard_it_vt = {shard_next, unary_save, unary_restore, unary_free};

static ct__iter *shard_iterator(ct_dataset *ds) { return unary_iterator(ds, &shard_it_vt); }

static int64_t shard_card(const ct_dataset *ds) {
    const unary_ds *d = (const unary_ds *)ds;
    int64_t n = ct_dataset_cardinality(d->input);
    if (n == CT_INFINITE_CARDINALITY || n == CT_UNKNOWN_CARDINALITY) return n;
    return n / d->count + (d->index < n % d->count ? 1 : 0);
}

static const ct__dataset_vt shard_vt = {"ShardDataset", shard_iterator, shard_card, unary_destroy,
                                     unary_remake, .input = ct__dataset_first_input};

ct_dataset *ct_dataset_shard(ct_dataset *ds, int64_t num_shards, int64_t index) {
    if (ct__dataset_null(ds, "ct_dataset_shard")) return NULL;
    if (num_shards <= 0) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_dataset_shard: Number of shards must be greater than zero (currently "
                  "num_shards = %lld).", (long long)num_shards);
        ct_dataset_free(ds);
        return NULL;
    }
    if (index < 0 || index >= num_shards) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_dataset_shard: Index must be between 0 and %lld (currently index = %lld).",
                  (long long)(num_shards - 1), (long long)index);
        ct_dataset_free(ds);
        return NULL;
    }
    return unary_make(&shard_vt, ds, NULL, num_shards, index);
}

/* ---- enumerate ---------------------------------------------------------------------- */

/* TF's enumerate is zip(range(start, int64 max), ds): (index, components...). */
static ct_status enumerate_next(ct__iter *it, ct_element **out) {
    unary_it *u = (unary_it *)it;
    unary_ds *d = (unary_ds *)it->ds;
    if (!u->input) return CT_OK;
    ct_element *e;
    ct_status st = ct__iter_next(u->input, &e);
    if (st) return st;
    if (!e) {
        ct__iter_free(u->input);
        u->input = NULL;
        return CT_OK;
    }
    ct_element *r = ct__element_new(e->n + 1);
    ct_tensor *idx = NULL;
    if (r) {
        int64_t v = d->count + u->i;
        ct_scope_begin();
        idx = ct__unscope(ct_constant(&v, CT_INT64, CT_SCALAR));
        ct_scope_end();
    }
    if (!idx) {
        ct_element_free(r);
        ct_element_free(e);
        return ct_last_status();
    }
    r->t[0] = idx;
    for (int c = 0; c < e->n; c++) {
        r->t[c + 1] = e->t[c];
        r->name[c + 1] = e->name[c];
    }
    free(e); /* its references moved to r */
    u->i++;
    *out = r;
    return CT_OK;
}

static const ct__iter_vt enumerate_it_vt = {enumerate_next, unary_save, unary_restore, unary_free};

static ct__iter *enumerate_iterator(ct_dataset *ds) { return unary_iterator(ds, &enumerate_it_vt); }

static int64_t enumerate_card(const ct_dataset *ds) {
    const unary_ds *d = (const unary_ds *)ds;
    int64_t n = ct_dataset_cardinality(d->input);
    /* zip's rule with range(start, INT64_MAX), whose cardinality is finite. */
    int64_t range_n = d->count < INT64_MAX ? INT64_MAX - d->count : 0;
    if (n == CT_UNKNOWN_CARDINALITY) return n;
    if (n == CT_INFINITE_CARDINALITY) return range_n;
    return n < range_n ? n : range_n;
}

/* TF's enumerate is zip(range(start, INT64_MAX), ds), and a rewrite sees
 * both inputs: f goes over that range first (auto-shard's FILE policy
 * stops there, as TF's does, at an unshardable RangeDataset), then over
 * ds. When f keeps the range as it is the result is an enumerate again,
 * else the zip of what f made of the two. */
static ct_dataset *enumerate_remake(ct_dataset *ds, ct__remake_fn f, void *ctx) {
    unary_ds *d = (unary_ds *)ds;
    ct_dataset *range = ct_dataset_range(d->count, INT64_MAX, 1);
    if (!range) return NULL;
    ct_dataset *index = f(range, ctx);
    if (!index) {
        ct_dataset_free(range);
        return NULL;
    }
    ct_dataset *input = f(d->input, ctx);
    ct_dataset *r = NULL;
    if (!input) {
        ct_dataset_free(index);
    } else if (index == range) {
        ct_dataset_free(index);
        r = unary_make(ds->vt, input, &ds->spec, d->count, d->index);
    } else {
        r = ct_dataset_zip(2, (ct_dataset *[]){index, input});
    }
    ct_dataset_free(range);
    if (r) r->opts = ds->opts;
    return r;
}

static const ct__dataset_vt enumerate_vt = {"ZipDataset", enumerate_iterator, enumerate_card,
                                            unary_destroy, enumerate_remake,
                                            .input = ct__dataset_first_input};

ct_dataset *ct_dataset_enumerate(ct_dataset *ds, int64_t start) {
    if (ct__dataset_null(ds, "ct_dataset_enumerate")) return NULL;
    if (ds->spec.n + 1 > CT_MAX_COMPONENTS) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_dataset_enumerate: the elements have %d components; with the index that is "
                  "more than %d", ds->spec.n, CT_MAX_COMPONENTS);
        ct_dataset_free(ds);
        return NULL;
    }
    ct_element_spec spec = {.n = ds->spec.n + 1};
    spec.c[0].dtype = CT_INT64;
    spec.c[0].rank = 0;
    for (int c = 0; c < ds->spec.n; c++) spec.c[c + 1] = ds->spec.c[c];
    return unary_make(&enumerate_vt, ds, &spec, start, 0);
}
