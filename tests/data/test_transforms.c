/* Transforms: batch, padded_batch, unbatch, rebatch, window, shuffle, repeat,
 * take, skip, shard, zip, concatenate, enumerate, cache, reduce — TF's
 * documented examples, edge cases, errors, and save/restore equivalence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

TestSuite(transforms, .init = ct_test_begin, .fini = ct_test_end);

/* ---- helpers ------------------------------------------------------------------------- */

/* A flat record of elements: per element, per component, rank, dims and
 * values, appended to a growing array; enough to compare sequences. */
typedef struct {
    double *v;
    int64_t n, cap;
    int64_t count; /* elements */
} rec;

static void rec_put(rec *r, double x) {
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->v = realloc(r->v, (size_t)r->cap * sizeof *r->v);
        cr_assert_not_null(r->v);
    }
    r->v[r->n++] = x;
}

static void rec_element(rec *r, const ct_element *e) {
    rec_put(r, e->n);
    for (int c = 0; c < e->n; c++) {
        const ct_tensor *t = e->t[c];
        rec_put(r, ct_tensor_dtype(t));
        rec_put(r, ct_tensor_rank(t));
        for (int i = 0; i < ct_tensor_rank(t); i++) rec_put(r, (double)ct_tensor_shape(t)[i]);
        for (int64_t i = 0; i < ct_tensor_size(t); i++) rec_put(r, ct_tensor_get(t, i));
    }
    r->count++;
}

/* Pulls up to max elements (max < 0: all) into r. */
static void pull(ct_iterator *it, rec *r, int64_t max) {
    for (int64_t k = 0; max < 0 || k < max; k++) {
        ct_element *e;
        CT_STATUS_OK(ct_iterator_next(it, &e));
        if (!e) break;
        rec_element(r, e);
        ct_element_free(e);
    }
}

/* Which case a failed comparison belongs to. */
static char label[64];

static void rec_eq(const rec *a, const rec *b) {
    cr_assert_eq(a->count, b->count, "%s: element counts differ: %lld vs %lld", label,
                 (long long)a->count, (long long)b->count);
    cr_assert_eq(a->n, b->n, "%s", label);
    for (int64_t i = 0; i < a->n; i++)
        cr_assert_eq(a->v[i], b->v[i], "%s: differ at %lld", label, (long long)i);
}

/* Component 0 of every element, flattened, into vals; element sizes into
 * sizes (may be NULL). Returns the element count. */
static int64_t values(ct_dataset *ds, double *vals, int64_t cap, int64_t *sizes) {
    cr_assert_not_null(ds, "%s", ct_last_error());
    ct_iterator *it = ct_dataset_iterator(ds);
    cr_assert_not_null(it, "%s", ct_last_error());
    int64_t n = 0, k = 0;
    for (;;) {
        ct_element *e;
        CT_STATUS_OK(ct_iterator_next(it, &e));
        if (!e) break;
        const ct_tensor *t = e->t[0];
        if (sizes) sizes[k] = ct_tensor_size(t);
        for (int64_t i = 0; i < ct_tensor_size(t); i++) {
            cr_assert_lt(n, cap);
            vals[n++] = ct_tensor_get(t, i);
        }
        k++;
        ct_element_free(e);
    }
    ct_iterator_free(it);
    return k;
}

#define EXPECT_VALUES(ds, ...)                                                              \
    do {                                                                                    \
        const double want_[] = {__VA_ARGS__};                                               \
        int64_t nw_ = (int64_t)(sizeof want_ / sizeof want_[0]);                            \
        double got_[512];                                                                   \
        int64_t ng_ = 0;                                                                    \
        ct_iterator *it_ = ct_dataset_iterator(ds);                                         \
        cr_assert_not_null(it_, "%s", ct_last_error());                                     \
        for (;;) {                                                                          \
            ct_element *e_;                                                                 \
            CT_STATUS_OK(ct_iterator_next(it_, &e_));                                       \
            if (!e_) break;                                                                 \
            for (int64_t i_ = 0; i_ < ct_tensor_size(e_->t[0]); i_++) {                     \
                cr_assert_lt(ng_, 512);                                                     \
                got_[ng_++] = ct_tensor_get(e_->t[0], i_);                                  \
            }                                                                               \
            ct_element_free(e_);                                                            \
        }                                                                                   \
        ct_iterator_free(it_);                                                              \
        cr_assert_eq(ng_, nw_, "got %lld values, expected %lld", (long long)ng_,            \
                     (long long)nw_);                                                       \
        for (int64_t i_ = 0; i_ < nw_; i_++)                                                \
            cr_assert_eq(got_[i_], want_[i_], "value %lld: got %g expected %g",             \
                         (long long)i_, got_[i_], want_[i_]);                               \
    } while (0)

/* Every element count in a dataset. */
static int64_t count_of(ct_dataset *ds) {
    double v[4096];
    return values(ds, v, 4096, NULL);
}

/* A pipeline builder for the save/restore checks. */
typedef ct_dataset *(*builder)(void);

/* Saves after k elements, restores into a fresh iterator of a freshly
 * built pipeline and checks that the rest is what the original iterator
 * goes on to give; also restores into a second iterator of the same
 * dataset. */
static void check_restore(builder make, int64_t k) {
    ct_dataset *ds = make();
    cr_assert_not_null(ds, "%s", ct_last_error());
    ct_iterator *it = ct_dataset_iterator(ds);
    cr_assert_not_null(it, "%s", ct_last_error());
    rec head = {0}, rest = {0}, again = {0}, again2 = {0};
    pull(it, &head, k);
    void *buf;
    size_t len;
    CT_STATUS_OK(ct_iterator_save(it, &buf, &len));
    pull(it, &rest, 10000);

    ct_dataset *ds2 = make();
    ct_iterator *it2 = ct_dataset_iterator(ds2);
    cr_assert_not_null(it2, "%s", ct_last_error());
    CT_STATUS_OK(ct_iterator_restore(it2, buf, len));
    pull(it2, &again, 10000);
    rec_eq(&rest, &again);

    ct_iterator *it3 = ct_dataset_iterator(ds);
    CT_STATUS_OK(ct_iterator_restore(it3, buf, len));
    pull(it3, &again2, 10000);
    rec_eq(&rest, &again2);

    free(buf);
    free(head.v);
    free(rest.v);
    free(again.v);
    free(again2.v);
    ct_iterator_free(it);
    ct_iterator_free(it2);
    ct_iterator_free(it3);
    ct_dataset_free(ds);
    ct_dataset_free(ds2);
}

/* Elements of increasing length [1], [2, 2], [3, 3, 3], ... (TF's
 * range(1, n).map(lambda x: tf.fill([x], x))). */
static ct_dataset *fills(int n) {
    ct_dataset *ds = NULL;
    for (int x = 1; x <= n; x++) {
        int64_t v[16];
        for (int i = 0; i < x; i++) v[i] = x;
        ct_dataset *one = ct_dataset_from_tensors(
            &(ct_element){.n = 1, .t = {ct_constant(v, CT_INT64, 1, (int64_t[]){x})}});
        ds = ds ? ct_dataset_concatenate(ds, one) : one;
    }
    return ds;
}

typedef struct {
    int64_t next, stop, calls, value_base;
} gen_ctx;

static ct_status gen_fn(void *ctx, ct_element **out) {
    gen_ctx *g = ctx;
    g->calls++;
    *out = NULL;
    if (g->next >= g->stop) return CT_OK;
    int64_t v = g->value_base + g->next++;
    ct_element *e = calloc(1, sizeof *e);
    e->n = 1;
    e->t[0] = ct_constant(&v, CT_INT64, CT_SCALAR);
    /* Element tensors are plain references, outside any scope. */
    ct_tensor_ref(e->t[0]);
    ct_tensor_free(e->t[0]);
    *out = e;
    return CT_OK;
}

static void gen_reset(void *ctx) { ((gen_ctx *)ctx)->next = 0; }

static ct_dataset *gen_dataset(gen_ctx *g) {
    ct_element_spec spec = {.n = 1, .c = {{.dtype = CT_INT64, .rank = 0}}};
    return ct_dataset_from_generator(gen_fn, gen_reset, g, &spec);
}

/* ---- batch ----------------------------------------------------------------------------- */

Test(transforms, batch_with_and_without_remainder) {
    ct_dataset *ds = ct_dataset_batch(ct_dataset_range(0, 8, 1), 3, false);
    cr_assert_not_null(ds, "%s", ct_last_error());
    const ct_element_spec *s = ct_dataset_element_spec(ds);
    cr_expect_eq(s->c[0].rank, 1);
    cr_expect_eq(s->c[0].shape[0], -1);
    cr_expect_eq(s->c[0].dtype, CT_INT64);
    cr_expect_eq(ct_dataset_cardinality(ds), 3);
    double v[16];
    int64_t sz[8];
    cr_assert_eq(values(ds, v, 16, sz), 3);
    cr_expect(sz[0] == 3 && sz[1] == 3 && sz[2] == 2);
    for (int i = 0; i < 8; i++) cr_expect_eq(v[i], i);
    ct_dataset_free(ds);

    ds = ct_dataset_batch(ct_dataset_range(0, 8, 1), 3, true);
    cr_expect_eq(ct_dataset_element_spec(ds)->c[0].shape[0], 3);
    cr_expect_eq(ct_dataset_cardinality(ds), 2);
    EXPECT_VALUES(ds, 0, 1, 2, 3, 4, 5);
    ct_dataset_free(ds);

    /* Exact multiple; batch larger than the data; empty input. */
    ds = ct_dataset_batch(ct_dataset_range(0, 6, 1), 3, false);
    cr_expect_eq(ct_dataset_cardinality(ds), 2);
    cr_expect_eq(count_of(ds), 2);
    ct_dataset_free(ds);
    ds = ct_dataset_batch(ct_dataset_range(0, 2, 1), 5, true);
    cr_expect_eq(ct_dataset_cardinality(ds), 0);
    cr_expect_eq(count_of(ds), 0);
    ct_dataset_free(ds);
    ds = ct_dataset_batch(ct_dataset_range(0, 0, 1), 4, false);
    cr_expect_eq(count_of(ds), 0);
    ct_dataset_free(ds);
    ds = ct_dataset_batch(ct_dataset_repeat(ct_dataset_range(0, 3, 1), -1), 2, false);
    cr_expect_eq(ct_dataset_cardinality(ds), CT_INFINITE_CARDINALITY);
    ct_dataset_free(ds);
}

Test(transforms, batch_tuples_and_shapes) {
    ct_tensor *x = CT_F32(CT_DIMS(4, 2), 1, 2, 3, 4, 5, 6, 7, 8);
    ct_tensor *y = CT_I32(CT_DIMS(4), 10, 20, 30, 40);
    ct_dataset *ds = ct_dataset_batch(
        ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {x, y}, .name = {"x", "y"}}), 2,
        true);
    cr_assert_not_null(ds, "%s", ct_last_error());
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e;
    CT_STATUS_OK(ct_iterator_next(it, &e));
    cr_assert_not_null(e);
    CT_EXPECT(e->t[0], CT_FLOAT32, CT_DIMS(2, 2), 0, 1, 2, 3, 4);
    CT_EXPECT(e->t[1], CT_INT32, CT_DIMS(2), 0, 10, 20);
    cr_expect_str_eq(e->name[0], "x");
    ct_element_free(e);
    CT_STATUS_OK(ct_iterator_next(it, &e));
    CT_EXPECT(e->t[0], CT_FLOAT32, CT_DIMS(2, 2), 0, 5, 6, 7, 8);
    ct_element_free(e);
    ct_iterator_free(it);
    ct_dataset_free(ds);
}

Test(transforms, batch_errors) {
    CT_FAILS(ct_dataset_batch(ct_dataset_range(0, 3, 1), 0, false), "batch_size must be greater than zero");
    CT_FAILS(ct_dataset_batch(ct_dataset_range(0, 3, 1), -2, false), "batch_size");
    CT_FAILS(ct_dataset_batch(NULL, 2, false), "NULL dataset");
    /* Elements of different shapes cannot be batched. */
    ct_dataset *ds = ct_dataset_batch(fills(3), 2, false);
    cr_assert_not_null(ds, "%s", ct_last_error());
    cr_expect_eq(ct_dataset_element_spec(ds)->c[0].shape[1], -1);
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e;
    ct_clear_error();
    cr_expect_neq(ct_iterator_next(it, &e), CT_OK);
    cr_expect_null(e);
    cr_expect(strstr(ct_last_error(), "Cannot batch tensors with different shapes in component 0") != NULL,
              "%s", ct_last_error());
    ct_iterator_free(it);
    ct_dataset_free(ds);
}

/* ---- padded_batch ------------------------------------------------------------------------ */

Test(transforms, padded_batch_tf_examples) {
    /* A.padded_batch(2): [[1, 0], [2, 2]], [[3, 3, 3, 0], [4, 4, 4, 4]]. */
    ct_dataset *ds = ct_dataset_padded_batch(fills(4), 2, NULL, NULL, false);
    cr_assert_not_null(ds, "%s", ct_last_error());
    cr_expect_eq(ct_dataset_cardinality(ds), 2);
    int64_t sz[4];
    double v[64];
    cr_assert_eq(values(ds, v, 64, sz), 2);
    cr_expect(sz[0] == 4 && sz[1] == 8);
    const double want[] = {1, 0, 2, 2, 3, 3, 3, 0, 4, 4, 4, 4};
    for (int i = 0; i < 12; i++) cr_expect_eq(v[i], want[i], "at %d", i);
    ct_dataset_free(ds);

    /* padded_shapes [5]: [[1, 0, 0, 0, 0], [2, 2, 0, 0, 0]] ... */
    ct_element_spec ps = {.n = 1, .c = {{.dtype = CT_INT64, .rank = 1, .shape = {5}}}};
    ds = ct_dataset_padded_batch(fills(4), 2, &ps, NULL, false);
    cr_assert_not_null(ds, "%s", ct_last_error());
    cr_expect_eq(ct_dataset_element_spec(ds)->c[0].shape[1], 5);
    EXPECT_VALUES(ds, 1, 0, 0, 0, 0, 2, 2, 0, 0, 0, 3, 3, 3, 0, 0, 4, 4, 4, 4, 0);
    ct_dataset_free(ds);

    /* padding_values -1, remainder dropped. */
    ds = ct_dataset_padded_batch(fills(3), 2, NULL, (double[]){-1}, true);
    cr_expect_eq(ct_dataset_cardinality(ds), 1);
    cr_expect_eq(ct_dataset_element_spec(ds)->c[0].shape[0], 2);
    EXPECT_VALUES(ds, 1, -1, 2, 2);
    ct_dataset_free(ds);
}

Test(transforms, padded_batch_2d_and_tuples) {
    ct_tensor *a = CT_F32(CT_DIMS(1, 2), 1, 2), *b = CT_F32(CT_DIMS(2, 1), 3, 4);
    ct_dataset *ds = ct_dataset_concatenate(
        ct_dataset_from_tensors(&(ct_element){.n = 2, .t = {a, ct_scalar_of(CT_INT32, 7)}}),
        ct_dataset_from_tensors(&(ct_element){.n = 2, .t = {b, ct_scalar_of(CT_INT32, 8)}}));
    ct_element_spec ps = {.n = 2, .c = {{.rank = 2, .shape = {-1, 3}}, {.rank = 0}}};
    ds = ct_dataset_padded_batch(ds, 2, &ps, (double[]){0.5, 0}, false);
    cr_assert_not_null(ds, "%s", ct_last_error());
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e;
    CT_STATUS_OK(ct_iterator_next(it, &e));
    cr_assert_not_null(e);
    CT_EXPECT(e->t[0], CT_FLOAT32, CT_DIMS(2, 2, 3), 0, 1, 2, .5, .5, .5, .5, 3, .5, .5, 4, .5, .5);
    CT_EXPECT(e->t[1], CT_INT32, CT_DIMS(2), 0, 7, 8);
    ct_element_free(e);
    ct_iterator_free(it);
    ct_dataset_free(ds);
}

Test(transforms, padded_batch_errors) {
    ct_element_spec small = {.n = 1, .c = {{.rank = 1, .shape = {2}}}};
    ct_dataset *ds = ct_dataset_padded_batch(fills(3), 3, &small, NULL, false);
    cr_assert_not_null(ds, "%s", ct_last_error());
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e;
    ct_clear_error();
    cr_expect_neq(ct_iterator_next(it, &e), CT_OK);
    cr_expect(strstr(ct_last_error(), "Attempted to pad to a smaller size than the input element") != NULL,
              "%s", ct_last_error());
    ct_iterator_free(it);
    ct_dataset_free(ds);

    ct_tensor *x = CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    ct_element_spec rank2 = {.n = 1, .c = {{.rank = 2, .shape = {3, 3}}}};
    CT_FAILS(ct_dataset_padded_batch(ct_dataset_from_tensor_slices(&(ct_element){.n = 1, .t = {x}}),
                                     2, &rank2, NULL, false),
             "is not compatible with the shape");
    ct_element_spec tiny = {.n = 1, .c = {{.rank = 1, .shape = {2}}}};
    CT_FAILS(ct_dataset_padded_batch(ct_dataset_from_tensor_slices(&(ct_element){.n = 1, .t = {x}}),
                                     2, &tiny, NULL, false),
             "is not compatible with the shape");
    ct_element_spec two = {.n = 2};
    CT_FAILS(ct_dataset_padded_batch(ct_dataset_range(0, 3, 1), 2, &two, NULL, false), "components");
    CT_FAILS(ct_dataset_padded_batch(ct_dataset_range(0, 3, 1), 0, NULL, NULL, false),
             "batch_size must be greater than zero");
}

/* ---- unbatch / rebatch ------------------------------------------------------------------ */

Test(transforms, unbatch_and_rebatch) {
    ct_dataset *ds = ct_dataset_unbatch(ct_dataset_batch(ct_dataset_range(0, 7, 1), 3, false));
    cr_assert_not_null(ds, "%s", ct_last_error());
    cr_expect_eq(ct_dataset_element_spec(ds)->c[0].rank, 0);
    cr_expect_eq(ct_dataset_cardinality(ds), CT_UNKNOWN_CARDINALITY);
    EXPECT_VALUES(ds, 0, 1, 2, 3, 4, 5, 6);
    ct_dataset_free(ds);

    /* A known batch dimension gives a known cardinality. */
    ct_tensor *x = CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6), *y = CT_I64(CT_DIMS(2), 8, 9);
    ds = ct_dataset_unbatch(
        ct_dataset_repeat(ct_dataset_from_tensors(&(ct_element){.n = 2, .t = {x, y}}), 2));
    cr_assert_not_null(ds, "%s", ct_last_error());
    cr_expect_eq(ct_dataset_cardinality(ds), 4);
    cr_expect_eq(ct_dataset_element_spec(ds)->c[0].shape[0], 3);
    EXPECT_VALUES(ds, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6);
    ct_dataset_free(ds);

    /* Empty batches yield nothing. */
    ct_tensor *empty = ct_constant(NULL, CT_FLOAT32, CT_DIMS(0, 3));
    ds = ct_dataset_unbatch(ct_dataset_from_tensors(&(ct_element){.n = 1, .t = {empty}}));
    cr_expect_eq(count_of(ds), 0);
    ct_dataset_free(ds);

    CT_FAILS(ct_dataset_unbatch(ct_dataset_range(0, 3, 1)), "Cannot unbatch an input with scalar components");

    ds = ct_dataset_rebatch(ct_dataset_batch(ct_dataset_range(0, 10, 1), 4, false), 3, false);
    cr_assert_not_null(ds, "%s", ct_last_error());
    int64_t sz[8];
    double v[16];
    cr_assert_eq(values(ds, v, 16, sz), 4);
    cr_expect(sz[0] == 3 && sz[3] == 1);
    for (int i = 0; i < 10; i++) cr_expect_eq(v[i], i);
    ct_dataset_free(ds);
    ds = ct_dataset_rebatch(ct_dataset_batch(ct_dataset_range(0, 10, 1), 4, false), 3, true);
    cr_expect_eq(ct_dataset_element_spec(ds)->c[0].shape[0], 3);
    cr_expect_eq(count_of(ds), 3);
    ct_dataset_free(ds);
    CT_FAILS(ct_dataset_rebatch(ct_dataset_batch(ct_dataset_range(0, 4, 1), 2, false), 0, false),
             "batch_size must be greater than zero");
}

Test(transforms, unbatch_mismatched_components_fail) {
    ct_tensor *x = CT_F32(CT_DIMS(2), 1, 2), *y = CT_F32(CT_DIMS(3), 1, 2, 3);
    ct_dataset *ds = ct_dataset_unbatch(ct_dataset_from_tensors(&(ct_element){.n = 2, .t = {x, y}}));
    cr_assert_not_null(ds, "%s", ct_last_error());
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e;
    ct_clear_error();
    cr_expect_neq(ct_iterator_next(it, &e), CT_OK);
    cr_expect(strstr(ct_last_error(), "same batch size") != NULL, "%s", ct_last_error());
    ct_iterator_free(it);
    ct_dataset_free(ds);
}

/* ---- window ---------------------------------------------------------------------------- */

Test(transforms, window_tf_examples) {
    /* range(7).window(3): [0 1 2] [3 4 5] [6]. */
    ct_dataset *ds = ct_dataset_window(ct_dataset_range(0, 7, 1), 3, 0, 0, false);
    cr_assert_not_null(ds, "%s", ct_last_error());
    cr_expect_eq(ct_dataset_cardinality(ds), 3);
    cr_expect_eq(ct_dataset_element_spec(ds)->c[0].shape[0], -1);
    int64_t sz[16];
    double v[64];
    cr_assert_eq(values(ds, v, 64, sz), 3);
    cr_expect(sz[0] == 3 && sz[1] == 3 && sz[2] == 1);
    cr_expect_eq(v[6], 6);
    ct_dataset_free(ds);

    /* window(3, drop_remainder=True): [0 1 2] [3 4 5]. */
    ds = ct_dataset_window(ct_dataset_range(0, 7, 1), 3, 0, 0, true);
    cr_expect_eq(ct_dataset_cardinality(ds), 2);
    cr_expect_eq(ct_dataset_element_spec(ds)->c[0].shape[0], 3);
    EXPECT_VALUES(ds, 0, 1, 2, 3, 4, 5);
    ct_dataset_free(ds);

    /* window(3, shift=2, drop_remainder=True): [0 1 2] [2 3 4] [4 5 6]. */
    ds = ct_dataset_window(ct_dataset_range(0, 7, 1), 3, 2, 0, true);
    cr_expect_eq(ct_dataset_cardinality(ds), 3);
    EXPECT_VALUES(ds, 0, 1, 2, 2, 3, 4, 4, 5, 6);
    ct_dataset_free(ds);

    /* window(3, shift=1, drop_remainder=True): five windows. */
    ds = ct_dataset_window(ct_dataset_range(0, 7, 1), 3, 1, 0, true);
    cr_expect_eq(ct_dataset_cardinality(ds), 5);
    EXPECT_VALUES(ds, 0, 1, 2, 1, 2, 3, 2, 3, 4, 3, 4, 5, 4, 5, 6);
    ct_dataset_free(ds);

    /* window(3, shift=1, stride=2, drop_remainder=True): [0 2 4] [1 3 5] [2 4 6]. */
    ds = ct_dataset_window(ct_dataset_range(0, 7, 1), 3, 1, 2, true);
    cr_expect_eq(ct_dataset_cardinality(ds), 3);
    EXPECT_VALUES(ds, 0, 2, 4, 1, 3, 5, 2, 4, 6);
    ct_dataset_free(ds);

    /* Without drop_remainder the tail windows shrink: shift 2 gives
     * [0 1 2] [2 3 4] [4 5 6] [6]. */
    ds = ct_dataset_window(ct_dataset_range(0, 7, 1), 3, 2, 0, false);
    cr_expect_eq(ct_dataset_cardinality(ds), 4);
    EXPECT_VALUES(ds, 0, 1, 2, 2, 3, 4, 4, 5, 6, 6);
    ct_dataset_free(ds);

    /* stride without drop: window(3, 1, 2) over range(5):
     * [0 2 4] [1 3] [2 4] [3] [4]. */
    ds = ct_dataset_window(ct_dataset_range(0, 5, 1), 3, 1, 2, false);
    cr_expect_eq(ct_dataset_cardinality(ds), 5);
    EXPECT_VALUES(ds, 0, 2, 4, 1, 3, 2, 4, 3, 4);
    ct_dataset_free(ds);

    /* A shift beyond the window skips elements: window(2, 5) over range(12):
     * [0 1] [5 6] [10 11]. */
    ds = ct_dataset_window(ct_dataset_range(0, 12, 1), 2, 5, 0, false);
    cr_expect_eq(ct_dataset_cardinality(ds), 3);
    EXPECT_VALUES(ds, 0, 1, 5, 6, 10, 11);
    ct_dataset_free(ds);

    ds = ct_dataset_window(ct_dataset_range(0, 0, 1), 2, 0, 0, false);
    cr_expect_eq(count_of(ds), 0);
    cr_expect_eq(ct_dataset_cardinality(ds), 0);
    ct_dataset_free(ds);
    ds = ct_dataset_window(ct_dataset_range(0, 2, 1), 3, 0, 0, true);
    cr_expect_eq(count_of(ds), 0);
    cr_expect_eq(ct_dataset_cardinality(ds), 0);
    ct_dataset_free(ds);

    CT_FAILS(ct_dataset_window(ct_dataset_range(0, 3, 1), 0, 0, 0, false), "size must be greater than zero");
    CT_FAILS(ct_dataset_window(ct_dataset_range(0, 3, 1), 2, -1, 0, false), "shift must be greater than zero");
    CT_FAILS(ct_dataset_window(ct_dataset_range(0, 3, 1), 2, 1, -3, false), "stride must be greater than zero");
}

/* ---- shuffle ---------------------------------------------------------------------------- */

static bool is_permutation(const double *v, int64_t n) {
    bool seen[256] = {0};
    for (int64_t i = 0; i < n; i++) {
        if (v[i] < 0 || v[i] >= n || seen[(int)v[i]]) return false;
        seen[(int)v[i]] = true;
    }
    return true;
}

static bool same(const double *a, const double *b, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (a[i] != b[i]) return false;
    return true;
}

Test(transforms, shuffle_buffer_one_is_identity) {
    ct_dataset *ds = ct_dataset_shuffle(ct_dataset_range(0, 10, 1), 1, &(ct_shuffle_opts){.seed = 3});
    cr_expect_eq(ct_dataset_cardinality(ds), 10);
    EXPECT_VALUES(ds, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    ct_dataset_free(ds);
}

Test(transforms, shuffle_full_buffer_is_a_permutation_and_seeded) {
    double a[64], b[64], c[64];
    ct_dataset *ds = ct_dataset_shuffle(ct_dataset_range(0, 50, 1), 100, &(ct_shuffle_opts){.seed = 42});
    cr_assert_eq(values(ds, a, 64, NULL), 50);
    cr_expect(is_permutation(a, 50));
    double sorted[50];
    for (int i = 0; i < 50; i++) sorted[i] = i;
    cr_expect(!same(a, sorted, 50), "a 50-element shuffle left the order alone");
    /* The next iterator reshuffles (reshuffle_each_iteration defaults to true). */
    cr_assert_eq(values(ds, b, 64, NULL), 50);
    cr_expect(is_permutation(b, 50));
    cr_expect(!same(a, b, 50));
    ct_dataset_free(ds);

    /* The same seed gives the same orders, epoch after epoch. */
    ds = ct_dataset_shuffle(ct_dataset_range(0, 50, 1), 100, &(ct_shuffle_opts){.seed = 42});
    cr_assert_eq(values(ds, c, 64, NULL), 50);
    cr_expect(same(a, c, 50));
    cr_assert_eq(values(ds, c, 64, NULL), 50);
    cr_expect(same(b, c, 50));
    ct_dataset_free(ds);

    /* A different seed, a different order. */
    ds = ct_dataset_shuffle(ct_dataset_range(0, 50, 1), 100, &(ct_shuffle_opts){.seed = 43});
    cr_assert_eq(values(ds, c, 64, NULL), 50);
    cr_expect(!same(a, c, 50));
    ct_dataset_free(ds);

    /* reshuffle_each_iteration=False: the same order every time. */
    ds = ct_dataset_shuffle(ct_dataset_range(0, 50, 1), 10,
                            &(ct_shuffle_opts){.seed = 7, .no_reshuffle_each_iteration = true});
    cr_assert_eq(values(ds, a, 64, NULL), 50);
    cr_assert_eq(values(ds, b, 64, NULL), 50);
    cr_expect(is_permutation(a, 50));
    cr_expect(same(a, b, 50));
    ct_dataset_free(ds);
}

static ct_status copy_element(const ct_element *in, void *ctx, ct_element **out) {
    (void)ctx;
    *out = ct_element_copy(in);
    return *out ? CT_OK : ct_last_status();
}

/* A map after a shuffle leaves its orders alone: the map learns its
 * element spec from a first element without advancing the shuffle's seed
 * generator, as TF's tracing does. */
Test(transforms, shuffle_orders_do_not_depend_on_a_later_map) {
    double a[2][64], b[2][64];
    ct_dataset *plain = ct_dataset_shuffle(ct_dataset_range(0, 50, 1), 100, &(ct_shuffle_opts){.seed = 9});
    ct_dataset *mapped = ct_dataset_shuffle(ct_dataset_range(0, 50, 1), 100, &(ct_shuffle_opts){.seed = 9});
    mapped = ct_dataset_map(mapped, copy_element, NULL, 1);
    cr_assert_not_null(mapped);
    for (int e = 0; e < 2; e++) {
        cr_assert_eq(values(plain, a[e], 64, NULL), 50);
        cr_assert_eq(values(mapped, b[e], 64, NULL), 50);
        cr_expect(same(a[e], b[e], 50), "epoch %d: the map changed the shuffle's order", e);
    }
    ct_dataset_free(plain);
    ct_dataset_free(mapped);
}

Test(transforms, shuffle_small_buffer_is_local) {
    /* With buffer k, element i comes out no earlier than position i - k + 1. */
    double a[64];
    ct_dataset *ds = ct_dataset_shuffle(ct_dataset_range(0, 40, 1), 4, &(ct_shuffle_opts){.seed = 9});
    cr_assert_eq(values(ds, a, 64, NULL), 40);
    cr_expect(is_permutation(a, 40));
    for (int p = 0; p < 40; p++) cr_expect_leq(a[p], p + 3, "position %d holds %g", p, a[p]);
    ct_dataset_free(ds);
}

Test(transforms, shuffle_global_seed_rule) {
    double a[32], b[32], c[32];
    ct_set_random_seed(1234);
    ct_dataset *ds = ct_dataset_shuffle(ct_dataset_range(0, 20, 1), 20, NULL);
    cr_assert_eq(values(ds, a, 32, NULL), 20);
    ct_dataset_free(ds);
    ct_set_random_seed(1234);
    ds = ct_dataset_shuffle(ct_dataset_range(0, 20, 1), 20, NULL);
    cr_assert_eq(values(ds, b, 32, NULL), 20);
    ct_dataset_free(ds);
    cr_expect(same(a, b, 20), "set_seed must make the shuffle repeat");
    /* A second shuffle after the same set_seed draws the next op seed. */
    ct_set_random_seed(1234);
    ct_dataset *d1 = ct_dataset_shuffle(ct_dataset_range(0, 20, 1), 20, NULL);
    ct_dataset *d2 = ct_dataset_shuffle(ct_dataset_range(0, 20, 1), 20, NULL);
    cr_assert_eq(values(d2, c, 32, NULL), 20);
    cr_expect(!same(a, c, 20));
    ct_dataset_free(d1);
    ct_dataset_free(d2);
    ct_clear_random_seed();
    CT_FAILS(ct_dataset_shuffle(ct_dataset_range(0, 3, 1), 0, NULL), "buffer_size must be greater than zero");
}

Test(transforms, shuffle_then_repeat_vs_repeat_then_shuffle) {
    double a[64];
    /* shuffle(5).repeat(3): each epoch is a permutation, and epochs differ. */
    ct_dataset *ds = ct_dataset_repeat(
        ct_dataset_shuffle(ct_dataset_range(0, 5, 1), 5, &(ct_shuffle_opts){.seed = 11}), 3);
    cr_expect_eq(ct_dataset_cardinality(ds), 15);
    cr_assert_eq(values(ds, a, 64, NULL), 15);
    for (int e = 0; e < 3; e++) cr_expect(is_permutation(a + 5 * e, 5), "epoch %d", e);
    cr_expect(!(same(a, a + 5, 5) && same(a + 5, a + 10, 5)));
    ct_dataset_free(ds);

    /* The same with reshuffling off repeats one order. */
    ds = ct_dataset_repeat(ct_dataset_shuffle(ct_dataset_range(0, 5, 1), 5,
                                              &(ct_shuffle_opts){.seed = 11,
                                                                 .no_reshuffle_each_iteration = true}),
                           3);
    cr_assert_eq(values(ds, a, 64, NULL), 15);
    cr_expect(same(a, a + 5, 5) && same(a + 5, a + 10, 5));
    ct_dataset_free(ds);

    /* repeat(3).shuffle(15): epochs blend; every value three times. */
    ds = ct_dataset_shuffle(ct_dataset_repeat(ct_dataset_range(0, 5, 1), 3), 15,
                            &(ct_shuffle_opts){.seed = 11});
    cr_assert_eq(values(ds, a, 64, NULL), 15);
    int counts[5] = {0};
    for (int i = 0; i < 15; i++) counts[(int)a[i]]++;
    for (int i = 0; i < 5; i++) cr_expect_eq(counts[i], 3);
    bool blended = false;
    for (int e = 0; e < 3; e++) blended = blended || !is_permutation(a + 5 * e, 5);
    cr_expect(blended, "a full-buffer shuffle of three epochs kept the epochs apart");
    ct_dataset_free(ds);

    /* Shuffling an empty dataset is empty. */
    ds = ct_dataset_shuffle(ct_dataset_range(0, 0, 1), 8, NULL);
    cr_expect_eq(count_of(ds), 0);
    ct_dataset_free(ds);
}

/* ---- repeat / take / skip ------------------------------------------------------------------ */

Test(transforms, repeat_counts_and_empty_inputs) {
    ct_dataset *ds = ct_dataset_repeat(ct_dataset_range(0, 3, 1), 2);
    cr_expect_eq(ct_dataset_cardinality(ds), 6);
    EXPECT_VALUES(ds, 0, 1, 2, 0, 1, 2);
    ct_dataset_free(ds);

    ds = ct_dataset_take(ct_dataset_repeat(ct_dataset_range(0, 3, 1), -1), 7);
    cr_expect_eq(ct_dataset_cardinality(ds), 7);
    EXPECT_VALUES(ds, 0, 1, 2, 0, 1, 2, 0);
    ct_dataset_free(ds);

    ds = ct_dataset_repeat(ct_dataset_range(0, 3, 1), -1);
    cr_expect_eq(ct_dataset_cardinality(ds), CT_INFINITE_CARDINALITY);
    ct_dataset_free(ds);

    /* An empty input repeated forever ends at once. */
    ds = ct_dataset_repeat(ct_dataset_range(0, 0, 1), -1);
    cr_expect_eq(ct_dataset_cardinality(ds), 0);
    cr_expect_eq(count_of(ds), 0);
    ct_dataset_free(ds);
    /* Also when the emptiness is only found while iterating. */
    gen_ctx g = {.stop = 0};
    ds = ct_dataset_repeat(gen_dataset(&g), -1);
    cr_expect_eq(ct_dataset_cardinality(ds), CT_INFINITE_CARDINALITY);
    cr_expect_eq(count_of(ds), 0);
    ct_dataset_free(ds);

    ds = ct_dataset_repeat(ct_dataset_range(0, 3, 1), 0);
    cr_expect_eq(ct_dataset_cardinality(ds), 0);
    cr_expect_eq(count_of(ds), 0);
    ct_dataset_free(ds);
}

Test(transforms, take_and_skip) {
    ct_dataset *ds = ct_dataset_take(ct_dataset_range(0, 5, 1), 3);
    cr_expect_eq(ct_dataset_cardinality(ds), 3);
    EXPECT_VALUES(ds, 0, 1, 2);
    ct_dataset_free(ds);
    ds = ct_dataset_take(ct_dataset_range(0, 5, 1), -1);
    cr_expect_eq(ct_dataset_cardinality(ds), 5);
    EXPECT_VALUES(ds, 0, 1, 2, 3, 4);
    ct_dataset_free(ds);
    ds = ct_dataset_take(ct_dataset_range(0, 5, 1), 0);
    cr_expect_eq(ct_dataset_cardinality(ds), 0);
    cr_expect_eq(count_of(ds), 0);
    ct_dataset_free(ds);
    ds = ct_dataset_take(ct_dataset_range(0, 5, 1), 10);
    cr_expect_eq(ct_dataset_cardinality(ds), 5);
    cr_expect_eq(count_of(ds), 5);
    ct_dataset_free(ds);

    ds = ct_dataset_skip(ct_dataset_range(0, 5, 1), 2);
    cr_expect_eq(ct_dataset_cardinality(ds), 3);
    EXPECT_VALUES(ds, 2, 3, 4);
    ct_dataset_free(ds);
    ds = ct_dataset_skip(ct_dataset_range(0, 5, 1), -1);
    cr_expect_eq(ct_dataset_cardinality(ds), 0);
    cr_expect_eq(count_of(ds), 0);
    ct_dataset_free(ds);
    ds = ct_dataset_skip(ct_dataset_range(0, 5, 1), 9);
    cr_expect_eq(ct_dataset_cardinality(ds), 0);
    cr_expect_eq(count_of(ds), 0);
    ct_dataset_free(ds);
    ds = ct_dataset_skip(ct_dataset_range(0, 5, 1), 0);
    cr_expect_eq(count_of(ds), 5);
    ct_dataset_free(ds);
    ds = ct_dataset_skip(ct_dataset_repeat(ct_dataset_range(0, 5, 1), -1), 3);
    cr_expect_eq(ct_dataset_cardinality(ds), CT_INFINITE_CARDINALITY);
    ct_dataset_free(ds);
}

/* ---- shard ------------------------------------------------------------------------------- */

Test(transforms, shard_uneven_sizes_and_errors) {
    ct_dataset *ds = ct_dataset_shard(ct_dataset_range(0, 10, 1), 3, 0);
    cr_expect_eq(ct_dataset_cardinality(ds), 4);
    EXPECT_VALUES(ds, 0, 3, 6, 9);
    ct_dataset_free(ds);
    ds = ct_dataset_shard(ct_dataset_range(0, 10, 1), 3, 1);
    cr_expect_eq(ct_dataset_cardinality(ds), 3);
    EXPECT_VALUES(ds, 1, 4, 7);
    ct_dataset_free(ds);
    ds = ct_dataset_shard(ct_dataset_range(0, 10, 1), 3, 2);
    cr_expect_eq(ct_dataset_cardinality(ds), 3);
    EXPECT_VALUES(ds, 2, 5, 8);
    ct_dataset_free(ds);
    ds = ct_dataset_shard(ct_dataset_range(0, 2, 1), 4, 3);
    cr_expect_eq(ct_dataset_cardinality(ds), 0);
    cr_expect_eq(count_of(ds), 0);
    ct_dataset_free(ds);
    ds = ct_dataset_shard(ct_dataset_range(0, 5, 1), 1, 0);
    cr_expect_eq(count_of(ds), 5);
    ct_dataset_free(ds);
    CT_FAILS(ct_dataset_shard(ct_dataset_range(0, 5, 1), 0, 0), "Number of shards must be greater than zero");
    CT_FAILS(ct_dataset_shard(ct_dataset_range(0, 5, 1), 2, 2), "Index must be between 0 and 1");
    CT_FAILS(ct_dataset_shard(ct_dataset_range(0, 5, 1), 2, -1), "Index must be between 0 and 1");
}

/* ---- zip / concatenate / enumerate ------------------------------------------------------------ */

Test(transforms, zip_ends_at_the_shortest) {
    ct_tensor *x = CT_F32(CT_DIMS(3), 10, 20, 30);
    ct_dataset *parts[3] = {ct_dataset_range(0, 5, 1),
                            ct_dataset_from_tensor_slices(&(ct_element){.n = 1, .t = {x}, .name = {"x"}}),
                            ct_dataset_repeat(ct_dataset_range(7, 8, 1), -1)};
    ct_dataset *ds = ct_dataset_zip(3, parts);
    cr_assert_not_null(ds, "%s", ct_last_error());
    cr_expect_eq(ct_dataset_cardinality(ds), 3);
    const ct_element_spec *s = ct_dataset_element_spec(ds);
    cr_expect_eq(s->n, 3);
    cr_expect_eq(s->c[1].dtype, CT_FLOAT32);
    cr_expect_str_eq(s->c[1].name, "x");
    ct_iterator *it = ct_dataset_iterator(ds);
    int n = 0;
    for (;;) {
        ct_element *e;
        CT_STATUS_OK(ct_iterator_next(it, &e));
        if (!e) break;
        cr_expect_eq(e->n, 3);
        cr_expect_eq(ct_item(e->t[0]), n);
        cr_expect_eq(ct_item(e->t[1]), 10 * (n + 1));
        cr_expect_eq(ct_item(e->t[2]), 7);
        cr_expect_str_eq(e->name[1], "x");
        ct_element_free(e);
        n++;
    }
    cr_expect_eq(n, 3);
    ct_iterator_free(it);
    ct_dataset_free(ds);

    ct_dataset *inf[2] = {ct_dataset_repeat(ct_dataset_range(0, 1, 1), -1),
                          ct_dataset_repeat(ct_dataset_range(0, 1, 1), -1)};
    ds = ct_dataset_zip(2, inf);
    cr_expect_eq(ct_dataset_cardinality(ds), CT_INFINITE_CARDINALITY);
    ct_dataset_free(ds);
    CT_FAILS(ct_dataset_zip(0, NULL), "at least one dataset");
    ct_dataset *bad[2] = {ct_dataset_range(0, 1, 1), NULL};
    CT_FAILS(ct_dataset_zip(2, bad), "NULL dataset");
}

Test(transforms, concatenate_and_compatibility) {
    ct_dataset *ds = ct_dataset_concatenate(ct_dataset_range(1, 4, 1), ct_dataset_range(4, 8, 1));
    cr_expect_eq(ct_dataset_cardinality(ds), 7);
    EXPECT_VALUES(ds, 1, 2, 3, 4, 5, 6, 7);
    ct_dataset_free(ds);
    ds = ct_dataset_concatenate(ct_dataset_range(0, 0, 1), ct_dataset_range(0, 2, 1));
    EXPECT_VALUES(ds, 0, 1);
    ct_dataset_free(ds);
    ds = ct_dataset_concatenate(ct_dataset_range(0, 2, 1), ct_dataset_repeat(ct_dataset_range(0, 2, 1), -1));
    cr_expect_eq(ct_dataset_cardinality(ds), CT_INFINITE_CARDINALITY);
    ct_dataset_free(ds);

    /* Shapes that differ become unknown dimensions. */
    ds = fills(3);
    cr_expect_eq(ct_dataset_element_spec(ds)->c[0].shape[0], -1);
    ct_dataset_free(ds);

    ct_tensor *f = CT_F32(CT_DIMS(2), 1, 2);
    CT_FAILS(ct_dataset_concatenate(ct_dataset_range(0, 2, 1),
                                    ct_dataset_from_tensor_slices(&(ct_element){.n = 1, .t = {f}})),
             "Incompatible dataset elements");
    CT_FAILS(ct_dataset_concatenate(ct_dataset_range(0, 2, 1),
                                    ct_dataset_zip(2, (ct_dataset *[]){ct_dataset_range(0, 2, 1),
                                                                      ct_dataset_range(0, 2, 1)})),
             "Incompatible dataset elements");
}

Test(transforms, enumerate_adds_an_int64_index) {
    ct_tensor *x = CT_I32(CT_DIMS(3), 7, 8, 9);
    ct_dataset *ds = ct_dataset_enumerate(ct_dataset_from_tensor_slices(&(ct_element){.n = 1, .t = {x}}), 5);
    cr_assert_not_null(ds, "%s", ct_last_error());
    cr_expect_eq(ct_dataset_cardinality(ds), 3);
    const ct_element_spec *s = ct_dataset_element_spec(ds);
    cr_expect(s->n == 2 && s->c[0].dtype == CT_INT64 && s->c[0].rank == 0 && s->c[1].dtype == CT_INT32);
    ct_iterator *it = ct_dataset_iterator(ds);
    for (int i = 0; i < 3; i++) {
        ct_element *e;
        CT_STATUS_OK(ct_iterator_next(it, &e));
        cr_assert_not_null(e);
        CT_EXPECT(e->t[0], CT_INT64, CT_SCALAR, 0, 5 + i);
        CT_EXPECT(e->t[1], CT_INT32, CT_SCALAR, 0, 7 + i);
        ct_element_free(e);
    }
    ct_iterator_free(it);
    ct_dataset_free(ds);
}

/* ---- cache -------------------------------------------------------------------------------- */

Test(transforms, memory_cache_fills_once_then_replays) {
    gen_ctx g = {.stop = 4};
    ct_dataset *ds = ct_dataset_cache(gen_dataset(&g), NULL);
    cr_assert_not_null(ds, "%s", ct_last_error());
    EXPECT_VALUES(ds, 0, 1, 2, 3);
    int64_t calls = g.calls;
    EXPECT_VALUES(ds, 0, 1, 2, 3);
    cr_expect_eq(g.calls, calls, "the second pass must replay the cache");
    ct_dataset_free(ds);

    /* Under repeat, the first epoch fills and the others replay. */
    g = (gen_ctx){.stop = 3};
    ds = ct_dataset_repeat(ct_dataset_cache(gen_dataset(&g), ""), 3);
    EXPECT_VALUES(ds, 0, 1, 2, 0, 1, 2, 0, 1, 2);
    cr_expect_eq(g.calls, 4);
    ct_dataset_free(ds);

    /* A partial first pass is not kept. */
    g = (gen_ctx){.stop = 5};
    ds = ct_dataset_cache(gen_dataset(&g), NULL);
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e;
    CT_STATUS_OK(ct_iterator_next(it, &e));
    ct_element_free(e);
    ct_iterator_free(it);
    EXPECT_VALUES(ds, 0, 1, 2, 3, 4);
    ct_dataset_free(ds);
}

static char cache_path[256];

static void cache_path_init(const char *tag) {
    snprintf(cache_path, sizeof cache_path, "/tmp/ct_test_cache_%s_%ld", tag, (long)getpid());
    unlink(cache_path);
}

Test(transforms, file_cache_is_reused_by_later_pipelines) {
    cache_path_init("reuse");
    gen_ctx g = {.stop = 4, .value_base = 100};
    ct_dataset *ds = ct_dataset_cache(gen_dataset(&g), cache_path);
    cr_assert_not_null(ds, "%s", ct_last_error());
    /* A partial pass leaves no cache file. */
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e;
    CT_STATUS_OK(ct_iterator_next(it, &e));
    ct_element_free(e);
    ct_iterator_free(it);
    cr_expect_neq(access(cache_path, F_OK), 0, "a partial cache must not appear");
    EXPECT_VALUES(ds, 100, 101, 102, 103);
    cr_expect_eq(access(cache_path, F_OK), 0);
    ct_dataset_free(ds);

    /* A new pipeline over a different source reads the file instead. */
    gen_ctx g2 = {.stop = 2, .value_base = 0};
    ds = ct_dataset_cache(gen_dataset(&g2), cache_path);
    EXPECT_VALUES(ds, 100, 101, 102, 103);
    cr_expect_eq(g2.calls, 0);
    ct_dataset_free(ds);

    /* A cache of other elements is refused. */
    ct_tensor *f = CT_F32(CT_DIMS(2), 1, 2);
    ds = ct_dataset_cache(ct_dataset_from_tensor_slices(&(ct_element){.n = 1, .t = {f}}), cache_path);
    cr_assert_not_null(ds);
    ct_clear_error();
    cr_expect_null(ct_dataset_iterator(ds));
    cr_expect(strstr(ct_last_error(), "is not a cache of this dataset") != NULL, "%s", ct_last_error());
    ct_dataset_free(ds);
    unlink(cache_path);
}

/* ---- reduce ------------------------------------------------------------------------------- */

static ct_status sum_fn(const ct_element *state, const ct_element *elem, void *ctx, ct_element **out) {
    (void)ctx;
    ct_element *r = calloc(1, sizeof *r);
    r->n = 1;
    ct_scope_begin();
    r->t[0] = ct_tensor_ref(ct_add(state->t[0], elem->t[0]));
    ct_scope_end();
    *out = r;
    return r->t[0] ? CT_OK : ct_last_status();
}

static ct_status to_float_fn(const ct_element *state, const ct_element *elem, void *ctx,
                             ct_element **out) {
    (void)state, (void)elem, (void)ctx;
    ct_element *r = calloc(1, sizeof *r);
    r->n = 1;
    ct_scope_begin();
    r->t[0] = ct_tensor_ref(ct_scalar(1));
    ct_scope_end();
    *out = r;
    return CT_OK;
}

Test(transforms, reduce_sums_and_checks_the_state) {
    ct_dataset *ds = ct_dataset_range(1, 6, 1);
    ct_element *res;
    ct_tensor *zero = ct_scalar_of(CT_INT64, 0);
    CT_STATUS_OK(ct_dataset_reduce(ds, &(ct_element){.n = 1, .t = {zero}}, sum_fn, NULL, &res));
    CT_EXPECT(res->t[0], CT_INT64, CT_SCALAR, 0, 15);
    ct_element_free(res);
    /* The empty dataset gives the initial state. */
    ct_dataset *empty = ct_dataset_range(0, 0, 1);
    CT_STATUS_OK(ct_dataset_reduce(empty, &(ct_element){.n = 1, .t = {zero}}, sum_fn, NULL, &res));
    CT_EXPECT(res->t[0], CT_INT64, CT_SCALAR, 0, 0);
    ct_element_free(res);
    ct_clear_error();
    cr_expect_neq(ct_dataset_reduce(ds, &(ct_element){.n = 1, .t = {zero}}, to_float_fn, NULL, &res), CT_OK);
    cr_expect_null(res);
    cr_expect(strstr(ct_last_error(), "must match the initial state") != NULL, "%s", ct_last_error());
    ct_dataset_free(ds);
    ct_dataset_free(empty);
}

/* ---- save / restore ----------------------------------------------------------------------- */

static ct_dataset *b_batch(void) { return ct_dataset_batch(ct_dataset_range(0, 11, 1), 3, false); }
static ct_dataset *b_padded(void) { return ct_dataset_padded_batch(fills(7), 2, NULL, (double[]){-1}, false); }
static ct_dataset *b_unbatch(void) {
    return ct_dataset_unbatch(ct_dataset_batch(ct_dataset_range(0, 10, 1), 4, false));
}
static ct_dataset *b_rebatch(void) {
    return ct_dataset_rebatch(ct_dataset_batch(ct_dataset_range(0, 13, 1), 4, false), 3, false);
}
static ct_dataset *b_window(void) { return ct_dataset_window(ct_dataset_range(0, 15, 1), 4, 3, 2, false); }
static ct_dataset *b_shuffle(void) {
    return ct_dataset_shuffle(ct_dataset_range(0, 30, 1), 8, &(ct_shuffle_opts){.seed = 5});
}
static ct_dataset *b_shuffle_repeat(void) {
    return ct_dataset_batch(
        ct_dataset_repeat(ct_dataset_shuffle(ct_dataset_range(0, 10, 1), 4, &(ct_shuffle_opts){.seed = 17}), 3),
        4, false);
}
static ct_dataset *b_repeat_forever(void) {
    return ct_dataset_take(ct_dataset_repeat(ct_dataset_range(0, 4, 1), -1), 11);
}
static ct_dataset *b_skip_shard(void) {
    return ct_dataset_shard(ct_dataset_skip(ct_dataset_range(0, 30, 1), 3), 4, 1);
}
static ct_dataset *b_zip_enum(void) {
    return ct_dataset_enumerate(
        ct_dataset_zip(2, (ct_dataset *[]){ct_dataset_range(0, 9, 1), ct_dataset_range(100, 200, 3)}), 2);
}
static ct_dataset *b_concat(void) {
    return ct_dataset_concatenate(ct_dataset_range(0, 4, 1), ct_dataset_range(10, 14, 1));
}
static ct_dataset *b_cache_repeat(void) {
    return ct_dataset_repeat(ct_dataset_cache(ct_dataset_range(0, 5, 1), NULL), 3);
}
static ct_dataset *b_file_cache(void) {
    return ct_dataset_repeat(ct_dataset_cache(ct_dataset_range(0, 6, 1), cache_path), 2);
}

Test(transforms, save_restore_every_stage) {
    builder all[] = {b_batch,         b_padded,     b_unbatch,  b_rebatch, b_window,
                     b_shuffle,       b_shuffle_repeat, b_repeat_forever, b_skip_shard,
                     b_zip_enum,      b_concat,     b_cache_repeat};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        for (int64_t k = 0; k < 14; k += 3) {
            snprintf(label, sizeof label, "pipeline %zu saved after %lld", i, (long long)k);
            check_restore(all[i], k);
        }
}

Test(transforms, save_restore_file_cache) {
    cache_path_init("restore");
    /* While writing (k < 6), while reading (k >= 6), and at the end. */
    for (int64_t k = 0; k <= 13; k++) {
        unlink(cache_path);
        snprintf(label, sizeof label, "file cache saved after %lld", (long long)k);
        check_restore(b_file_cache, k);
    }
    unlink(cache_path);
}

Test(transforms, save_restore_unseeded_shuffle) {
    /* No seed anywhere: the iterator's stream travels in its state. */
    ct_dataset *ds = ct_dataset_shuffle(ct_dataset_range(0, 40, 1), 10, NULL);
    ct_iterator *it = ct_dataset_iterator(ds), *it2 = ct_dataset_iterator(ds);
    rec head = {0}, rest = {0}, again = {0};
    pull(it, &head, 13);
    void *buf;
    size_t len;
    CT_STATUS_OK(ct_iterator_save(it, &buf, &len));
    pull(it, &rest, -1);
    CT_STATUS_OK(ct_iterator_restore(it2, buf, len));
    pull(it2, &again, -1);
    rec_eq(&rest, &again);
    cr_expect_eq(head.count + rest.count, 40);
    /* A state from another pipeline is refused. */
    ct_dataset *other = ct_dataset_batch(ct_dataset_range(0, 3, 1), 2, false);
    ct_iterator *it3 = ct_dataset_iterator(other);
    cr_expect_neq(ct_iterator_restore(it3, buf, len), CT_OK);
    free(buf);
    free(head.v);
    free(rest.v);
    free(again.v);
    ct_iterator_free(it);
    ct_iterator_free(it2);
    ct_iterator_free(it3);
    ct_dataset_free(ds);
    ct_dataset_free(other);
}
