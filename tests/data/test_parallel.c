/* map, filter, flat_map, interleave and prefetch: values and order as in
 * tf.data, parallel determinism, error propagation, early frees and
 * save/restore equivalence. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support.h"

TestSuite(parallel, .init = ct_test_begin, .fini = ct_test_end);

/* ---- helpers ------------------------------------------------------------------- */

static ct_element *elem1(ct_tensor *t) {
    ct_element *e = calloc(1, sizeof *e);
    e->n = 1;
    e->t[0] = t;
    return e;
}

static int64_t value(const ct_element *e) { return (int64_t)ct_item(e->t[0]); }

static void sleep_us(long us) {
    struct timespec ts = {.tv_sec = 0, .tv_nsec = us * 1000};
    nanosleep(&ts, NULL);
}

/* x -> x * x as int64, after a delay that varies with x so that parallel
 * calls finish out of order. */
static ct_status square(const ct_element *in, void *ctx, ct_element **out) {
    int64_t x = value(in);
    long jitter = ctx ? *(long *)ctx : 0;
    if (jitter) sleep_us((long)((x * 7919) % 5) * jitter);
    ct_scope_begin();
    ct_tensor *t = ct_tensor_ref(ct_scalar_of(CT_INT64, (double)(x * x)));
    ct_scope_end();
    *out = elem1(t);
    return CT_OK;
}

/* Fails on x == 5 with a failed op's status (the op's message). */
static ct_status fail_on_5(const ct_element *in, void *ctx, ct_element **out) {
    (void)ctx;
    int64_t x = value(in);
    if (x == 5) {
        ct_scope_begin();
        ct_tensor *bad = ct_reshape(in->t[0], 1, (int64_t[]){7});
        ct_scope_end();
        if (!bad) return ct_last_status();
    }
    ct_scope_begin();
    ct_tensor *t = ct_tensor_ref(ct_scalar_of(CT_INT64, (double)x));
    ct_scope_end();
    *out = elem1(t);
    return CT_OK;
}

static ct_status to_float(const ct_element *in, void *ctx, ct_element **out) {
    (void)ctx;
    ct_scope_begin();
    ct_tensor *t = ct_tensor_ref(ct_scalar_of(CT_FLOAT32, ct_item(in->t[0]) / 2));
    ct_scope_end();
    *out = elem1(t);
    return CT_OK;
}

static ct_status is_even(const ct_element *in, void *ctx, bool *keep) {
    (void)ctx;
    *keep = value(in) % 2 == 0;
    return CT_OK;
}

static ct_status bad_predicate(const ct_element *in, void *ctx, bool *keep) {
    (void)ctx;
    *keep = true;
    if (value(in) == 3) return ct_item(NULL), ct_last_status();
    return CT_OK;
}

/* x -> Dataset.from_tensors(x).repeat(6) (TF's interleave example). */
static ct_dataset *repeat6(const ct_element *in, void *ctx) {
    (void)ctx;
    return ct_dataset_repeat(ct_dataset_from_tensors(in), 6);
}

/* x -> Dataset.from_tensors(x).repeat(x). */
static ct_dataset *repeat_x(const ct_element *in, void *ctx) {
    (void)ctx;
    return ct_dataset_repeat(ct_dataset_from_tensors(in), value(in));
}

static ct_dataset *slices(const ct_element *in, void *ctx) {
    (void)ctx;
    return ct_dataset_from_tensor_slices(in);
}

/* Runs the iterator to its end (or `limit` elements) into vals. */
static int drain(ct_iterator *it, int64_t *vals, int cap, int limit) {
    int n = 0;
    for (;;) {
        if (limit >= 0 && n == limit) break;
        ct_element *e;
        CT_STATUS_OK(ct_iterator_next(it, &e));
        if (!e) break;
        cr_assert_lt(n, cap);
        vals[n++] = value(e);
        ct_element_free(e);
    }
    return n;
}

static int all_values(ct_dataset *ds, int64_t *vals, int cap) {
    ct_iterator *it = ct_dataset_iterator(ds);
    CT_OK(it);
    int n = drain(it, vals, cap, -1);
    ct_iterator_free(it);
    return n;
}

static void expect_values(ct_dataset *ds, const int64_t *want, int n) {
    int64_t got[512];
    int m = all_values(ds, got, 512);
    cr_assert_eq(m, n, "got %d elements, expected %d", m, n);
    for (int i = 0; i < n; i++) cr_assert_eq(got[i], want[i], "element %d: got %lld, expected %lld",
                                             i, (long long)got[i], (long long)want[i]);
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ---- map ------------------------------------------------------------------------ */

Test(parallel, map_sequential_values_and_spec) {
    ct_dataset *ds = ct_dataset_map(ct_dataset_range(0, 6, 1), square, NULL, 0);
    CT_OK(ds);
    expect_values(ds, (int64_t[]){0, 1, 4, 9, 16, 25}, 6);
    cr_expect_eq(ct_dataset_cardinality(ds), 6);
    const ct_element_spec *s = ct_dataset_element_spec(ds);
    cr_expect_eq(s->n, 1);
    cr_expect_eq(s->c[0].dtype, CT_INT64);
    cr_expect_eq(s->c[0].rank, 0);
    ct_dataset_free(ds);
}

Test(parallel, map_spec_comes_from_the_function) {
    ct_dataset *ds = ct_dataset_map(ct_dataset_range(0, 3, 1), to_float, NULL, CT_AUTOTUNE);
    CT_OK(ds);
    cr_expect_eq(ct_dataset_element_spec(ds)->c[0].dtype, CT_FLOAT32);
    ct_dataset_free(ds);
    /* Empty input: the input's spec is kept. */
    ds = ct_dataset_map(ct_dataset_range(0, 0, 1), to_float, NULL, 1);
    CT_OK(ds);
    cr_expect_eq(ct_dataset_element_spec(ds)->n, 1);
    cr_expect_eq(ct_dataset_element_spec(ds)->c[0].dtype, CT_INT64);
    expect_values(ds, NULL, 0);
    ct_dataset_free(ds);
}

Test(parallel, parallel_map_keeps_order_on_two_threads) {
    ct_set_num_threads(2);
    long jitter = 50;
    int64_t want[300];
    for (int i = 0; i < 300; i++) want[i] = (int64_t)i * i;
    int calls[] = {2, 3, 8, CT_AUTOTUNE};
    for (size_t k = 0; k < sizeof calls / sizeof *calls; k++) {
        ct_dataset *ds = ct_dataset_map(ct_dataset_range(0, 300, 1), square, &jitter, calls[k]);
        CT_OK(ds);
        expect_values(ds, want, 300);
        ct_dataset_free(ds);
    }
    ct_set_num_threads(0);
}

Test(parallel, nondeterministic_map_gives_the_same_elements) {
    ct_set_num_threads(2);
    long jitter = 100;
    ct_dataset *ds = ct_dataset_map(ct_dataset_range(0, 100, 1), square, &jitter, 4);
    ds = ct_dataset_with_options(ds, &(ct_dataset_options){.nondeterministic = true});
    CT_OK(ds);
    int64_t got[100];
    cr_assert_eq(all_values(ds, got, 100), 100);
    qsort(got, 100, sizeof *got, cmp64);
    for (int i = 0; i < 100; i++) cr_assert_eq(got[i], (int64_t)i * i);
    ct_dataset_free(ds);
    ct_set_num_threads(0);
}

static void check_error_then_continue(ct_dataset *ds) {
    ct_iterator *it = ct_dataset_iterator(ds);
    CT_OK(it);
    int64_t vals[8];
    cr_assert_eq(drain(it, vals, 8, 5), 5);
    for (int i = 0; i < 5; i++) cr_assert_eq(vals[i], i);
    ct_element *e = (ct_element *)1;
    ct_clear_error();
    cr_assert_neq(ct_iterator_next(it, &e), CT_OK);
    cr_assert_null(e);
    cr_assert(strstr(ct_last_error(), "ct_reshape"), "message: %s", ct_last_error());
    /* As in tf.data, the iterator goes on after a function's error. */
    cr_assert_eq(drain(it, vals, 8, -1), 4);
    cr_assert_eq(vals[0], 6);
    cr_assert_eq(vals[3], 9);
    ct_iterator_free(it);
}

Test(parallel, map_errors_carry_the_functions_message) {
    ct_set_num_threads(2);
    for (int calls = 0; calls <= 4; calls += 2) {
        ct_dataset *ds = ct_dataset_map(ct_dataset_range(0, 10, 1), fail_on_5, NULL, calls);
        CT_OK(ds);
        check_error_then_continue(ds);
        ct_dataset_free(ds);
    }
    /* Through a prefetch thread too. */
    ct_dataset *ds = ct_dataset_prefetch(
        ct_dataset_map(ct_dataset_range(0, 10, 1), fail_on_5, NULL, 3), 2);
    CT_OK(ds);
    check_error_then_continue(ds);
    ct_dataset_free(ds);
    ct_set_num_threads(0);
}

Test(parallel, map_argument_errors) {
    CT_FAILS(ct_dataset_map(ct_dataset_range(0, 3, 1), NULL, NULL, 0), "map function is NULL");
    CT_FAILS(ct_dataset_map(ct_dataset_range(0, 3, 1), square, NULL, -7), "num_parallel_calls");
    CT_FAILS(ct_dataset_map(NULL, square, NULL, 0), "");
}

/* ---- filter ------------------------------------------------------------------------- */

Test(parallel, filter_keeps_matching_elements) {
    ct_dataset *ds = ct_dataset_filter(ct_dataset_range(0, 10, 1), is_even, NULL);
    CT_OK(ds);
    expect_values(ds, (int64_t[]){0, 2, 4, 6, 8}, 5);
    cr_expect_eq(ct_dataset_cardinality(ds), CT_UNKNOWN_CARDINALITY);
    ct_dataset_free(ds);
    CT_FAILS(ct_dataset_filter(ct_dataset_range(0, 3, 1), NULL, NULL), "predicate is NULL");
}

Test(parallel, filter_errors_propagate) {
    ct_dataset *ds = ct_dataset_filter(ct_dataset_range(0, 10, 1), bad_predicate, NULL);
    ct_iterator *it = ct_dataset_iterator(ds);
    CT_OK(it);
    int64_t vals[4];
    cr_assert_eq(drain(it, vals, 4, 3), 3);
    ct_element *e;
    ct_clear_error();
    cr_assert_neq(ct_iterator_next(it, &e), CT_OK);
    cr_assert_neq(ct_last_error()[0], '\0');
    ct_iterator_free(it);
    ct_dataset_free(ds);
}

/* ---- flat_map and interleave ------------------------------------------------------------ */

Test(parallel, flat_map_as_in_tf_docs) {
    /* from_tensor_slices([[1,2,3],[4,5,6],[7,8,9]]).flat_map(from_tensor_slices) */
    ct_tensor *m = CT_I64(CT_DIMS(3, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9);
    ct_dataset *ds = ct_dataset_flat_map(ct_dataset_from_tensor_slices(&(ct_element){.n = 1, .t = {m}}),
                                         slices, NULL);
    CT_OK(ds);
    expect_values(ds, (int64_t[]){1, 2, 3, 4, 5, 6, 7, 8, 9}, 9);
    cr_expect_eq(ct_dataset_element_spec(ds)->c[0].rank, 0);
    ct_dataset_free(ds);
    /* Empty inner datasets are skipped. */
    ds = ct_dataset_flat_map(ct_dataset_range(0, 4, 1), repeat_x, NULL);
    expect_values(ds, (int64_t[]){1, 2, 2, 3, 3, 3}, 6);
    ct_dataset_free(ds);
}

static const int64_t tf_interleave_doc[] = {1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3,
                                            3, 4, 4, 4, 4, 3, 3, 4, 4, 5, 5, 5, 5, 5, 5};

Test(parallel, interleave_matches_tf_docs_example) {
    /* range(1, 6).interleave(lambda x: from_tensors(x).repeat(6),
     *                        cycle_length=2, block_length=4) */
    ct_set_num_threads(2);
    int calls[] = {0, 1, 2, CT_AUTOTUNE};
    for (size_t k = 0; k < sizeof calls / sizeof *calls; k++) {
        ct_dataset *ds = ct_dataset_interleave(ct_dataset_range(1, 6, 1), repeat6, NULL, 2, 4,
                                               calls[k]);
        CT_OK(ds);
        expect_values(ds, tf_interleave_doc, 30);
        ct_dataset_free(ds);
    }
    ct_set_num_threads(0);
}

Test(parallel, interleave_uneven_inputs_and_defaults) {
    /* Exhausted slots are refilled in place from the next input element. */
    const int64_t want[] = {1, 2, 2, 3, 3, 4, 3, 4, 4, 4};
    for (int calls = 0; calls <= 2; calls += 2) {
        ct_dataset *ds = ct_dataset_interleave(ct_dataset_range(1, 5, 1), repeat_x, NULL, 2, 1,
                                               calls);
        CT_OK(ds);
        expect_values(ds, want, 10);
        ct_dataset_free(ds);
    }
    /* cycle_length 1 is flat_map. */
    ct_dataset *ds = ct_dataset_interleave(ct_dataset_range(0, 4, 1), repeat_x, NULL, 1, 0, 0);
    expect_values(ds, (int64_t[]){1, 2, 2, 3, 3, 3}, 6);
    ct_dataset_free(ds);
    /* Default cycle (the thread budget) with 3 threads and block 1. */
    ct_set_num_threads(3);
    ds = ct_dataset_interleave(ct_dataset_range(1, 4, 1), repeat_x, NULL, 0, 0, CT_AUTOTUNE);
    expect_values(ds, (int64_t[]){1, 2, 3, 2, 3, 3}, 6);
    ct_dataset_free(ds);
    ct_set_num_threads(0);
}

Test(parallel, interleave_argument_errors) {
    CT_FAILS(ct_dataset_interleave(ct_dataset_range(0, 3, 1), repeat6, NULL, -3, 1, 0),
             "cycle_length");
    CT_FAILS(ct_dataset_interleave(ct_dataset_range(0, 3, 1), repeat6, NULL, 2, -1, 0),
             "block_length");
    CT_FAILS(ct_dataset_interleave(ct_dataset_range(0, 3, 1), repeat6, NULL, 2, 1, 3),
             "num_parallel_calls");
    CT_FAILS(ct_dataset_interleave(ct_dataset_range(0, 3, 1), NULL, NULL, 2, 1, 0), "NULL");
    CT_FAILS(ct_dataset_flat_map(ct_dataset_range(0, 3, 1), NULL, NULL), "NULL");
}

/* ---- prefetch ---------------------------------------------------------------------------- */

Test(parallel, prefetch_passes_elements_through) {
    int64_t buffers[] = {0, 1, 3, CT_AUTOTUNE};
    int64_t want[50];
    for (int i = 0; i < 50; i++) want[i] = i;
    for (size_t k = 0; k < sizeof buffers / sizeof *buffers; k++) {
        ct_dataset *ds = ct_dataset_prefetch(ct_dataset_range(0, 50, 1), buffers[k]);
        CT_OK(ds);
        expect_values(ds, want, 50);
        cr_expect_eq(ct_dataset_cardinality(ds), 50);
        ct_dataset_free(ds);
    }
    CT_FAILS(ct_dataset_prefetch(ct_dataset_range(0, 3, 1), -5), "buffer_size");
}

/* ---- freeing midway ------------------------------------------------------------------------- */

/* A pipeline with work in flight in every stage. */
static ct_dataset *busy_pipeline(long *jitter) {
    ct_dataset *ds = ct_dataset_interleave(ct_dataset_range(1, 30, 1), repeat_x, NULL, 4, 2, 4);
    ds = ct_dataset_map(ds, square, jitter, 4);
    return ct_dataset_prefetch(ds, 4);
}

Test(parallel, freeing_an_iterator_midway_stops_its_work) {
    ct_set_num_threads(2);
    long jitter = 200;
    ct_dataset *ds = busy_pipeline(&jitter);
    CT_OK(ds);
    for (int taken = 0; taken < 6; taken++) {
        ct_iterator *it = ct_dataset_iterator(ds);
        CT_OK(it);
        int64_t vals[8];
        cr_assert_eq(drain(it, vals, 8, taken), taken);
        if (taken == 3) sleep_us(2000); /* let the workers fill buffers */
        ct_iterator_free(it);
    }
    ct_dataset_free(ds);
    ct_set_num_threads(0);
}

/* ---- save / restore ----------------------------------------------------------------------- */

/* For several k: take k elements, save, restore into a fresh iterator and
 * check that it and the original both give the rest of the reference. */
static void check_save_restore(ct_dataset *ds) {
    CT_OK(ds);
    int64_t ref[512];
    int n = all_values(ds, ref, 512);
    int ks[] = {0, 1, 2, 3, 5, 8, 13, n / 2, n - 1, n};
    for (size_t j = 0; j < sizeof ks / sizeof *ks; j++) {
        int k = ks[j];
        if (k < 0 || k > n) continue;
        ct_iterator *a = ct_dataset_iterator(ds);
        CT_OK(a);
        int64_t got[512];
        cr_assert_eq(drain(a, got, 512, k), k);
        void *buf;
        size_t len;
        CT_STATUS_OK(ct_iterator_save(a, &buf, &len));
        ct_iterator *b = ct_dataset_iterator(ds);
        CT_OK(b);
        CT_STATUS_OK(ct_iterator_restore(b, buf, len));
        free(buf);
        int m = drain(b, got, 512, -1);
        cr_assert_eq(m, n - k, "restored after %d: %d elements, expected %d", k, m, n - k);
        for (int i = 0; i < m; i++)
            cr_assert_eq(got[i], ref[k + i], "restored after %d, element %d: %lld != %lld", k, i,
                         (long long)got[i], (long long)ref[k + i]);
        m = drain(a, got, 512, -1);
        cr_assert_eq(m, n - k);
        for (int i = 0; i < m; i++) cr_assert_eq(got[i], ref[k + i]);
        ct_iterator_free(a);
        ct_iterator_free(b);
    }
    ct_dataset_free(ds);
}

Test(parallel, save_restore_map_and_filter) {
    ct_set_num_threads(2);
    long jitter = 20;
    check_save_restore(ct_dataset_map(ct_dataset_range(0, 40, 1), square, NULL, 0));
    check_save_restore(ct_dataset_map(ct_dataset_range(0, 40, 1), square, &jitter, 4));
    check_save_restore(ct_dataset_filter(ct_dataset_range(0, 40, 1), is_even, NULL));
    ct_set_num_threads(0);
}

Test(parallel, save_restore_flat_map_and_interleave) {
    ct_set_num_threads(2);
    check_save_restore(ct_dataset_flat_map(ct_dataset_range(0, 8, 1), repeat_x, NULL));
    check_save_restore(ct_dataset_interleave(ct_dataset_range(1, 6, 1), repeat6, NULL, 2, 4, 0));
    check_save_restore(ct_dataset_interleave(ct_dataset_range(1, 6, 1), repeat6, NULL, 2, 4, 2));
    check_save_restore(ct_dataset_interleave(ct_dataset_range(1, 9, 1), repeat_x, NULL, 3, 2,
                                             CT_AUTOTUNE));
    ct_set_num_threads(0);
}

Test(parallel, save_restore_prefetch_and_a_whole_pipeline) {
    ct_set_num_threads(2);
    long jitter = 20;
    check_save_restore(ct_dataset_prefetch(ct_dataset_range(0, 30, 1), 3));
    check_save_restore(ct_dataset_prefetch(ct_dataset_range(0, 30, 1), 0));
    check_save_restore(busy_pipeline(&jitter));
    ct_set_num_threads(0);
}
