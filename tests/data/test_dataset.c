/* The data layer's core: elements, iterators, state, in-memory sources. */
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(dataset, .init = ct_test_begin, .fini = ct_test_end);

/* Drains an iterator, returning component 0 of each element as doubles
 * (scalars) into out; returns the count. */
static int64_t drain(ct_iterator *it, double *out, int64_t cap) {
    int64_t n = 0;
    for (;;) {
        ct_element *e;
        CT_STATUS_OK(ct_iterator_next(it, &e));
        if (!e) break;
        if (n < cap) out[n] = ct_item(e->t[0]);
        n++;
        ct_element_free(e);
    }
    return n;
}

Test(dataset, range_values_and_cardinality) {
    ct_dataset *ds = ct_dataset_range(1, 10, 3);
    cr_assert_not_null(ds, "%s", ct_last_error());
    cr_expect_eq(ct_dataset_cardinality(ds), 3);
    ct_iterator *it = ct_dataset_iterator(ds);
    double v[8];
    cr_assert_eq(drain(it, v, 8), 3);
    cr_expect(v[0] == 1 && v[1] == 4 && v[2] == 7);
    ct_element *e;
    CT_STATUS_OK(ct_iterator_next(it, &e)); /* stays at the end */
    cr_expect_null(e);
    CT_STATUS_OK(ct_iterator_reset(it));
    cr_expect_eq(drain(it, v, 8), 3);
    ct_iterator_free(it);
    ct_dataset_free(ds);

    ds = ct_dataset_range(5, 0, -2); /* 5, 3, 1 */
    cr_expect_eq(ct_dataset_cardinality(ds), 3);
    it = ct_dataset_iterator(ds);
    cr_expect_eq(drain(it, v, 8), 3);
    cr_expect(v[2] == 1);
    ct_iterator_free(it);
    ct_dataset_free(ds);
    cr_expect_eq(ct_dataset_cardinality(ds = ct_dataset_range(3, 3, 1)), 0);
    ct_dataset_free(ds);
    CT_FAILS(ct_dataset_range(0, 5, 0), "step must not be 0");
}

Test(dataset, from_tensor_slices_tuple_and_dict) {
    ct_tensor *x = CT_F32(CT_DIMS(3, 2), 1, 2, 3, 4, 5, 6), *y = CT_I64(CT_DIMS(3), 7, 8, 9);
    ct_dataset *ds = ct_dataset_from_tensor_slices(
        &(ct_element){.n = 2, .t = {x, y}, .name = {"feat", NULL}});
    cr_assert_not_null(ds, "%s", ct_last_error());
    const ct_element_spec *spec = ct_dataset_element_spec(ds);
    cr_expect_eq(spec->n, 2);
    cr_expect_eq(spec->c[0].rank, 1);
    cr_expect_eq(spec->c[0].shape[0], 2);
    cr_expect_str_eq(spec->c[0].name, "feat");
    cr_expect_eq(spec->c[1].dtype, CT_INT64);
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e;
    CT_STATUS_OK(ct_iterator_next(it, &e)); /* skip the first */
    ct_element_free(e);
    CT_STATUS_OK(ct_iterator_next(it, &e));
    cr_assert_not_null(e);
    CT_EXPECT(ct_element_get(e, "feat"), CT_FLOAT32, CT_DIMS(2), 0, 3, 4);
    CT_EXPECT(e->t[1], CT_INT64, CT_SCALAR, 0, 8);
    cr_expect_null(ct_element_get(e, "nope"));
    ct_element_free(e);
    ct_iterator_free(it);
    ct_dataset_free(ds);

    CT_FAILS(ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {x, CT_I64(CT_DIMS(2), 1, 2)}}),
             "different first dimensions");
    CT_FAILS(ct_dataset_from_tensor_slices(&(ct_element){.n = 1, .t = {ct_scalar(1)}}),
             "slicing needs rank >= 1");
}

Test(dataset, from_tensors_is_one_element) {
    ct_dataset *ds = ct_dataset_from_tensors(&(ct_element){.n = 1, .t = {CT_F32(CT_DIMS(2), 1, 2)}});
    cr_expect_eq(ct_dataset_cardinality(ds), 1);
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e;
    CT_STATUS_OK(ct_iterator_next(it, &e));
    CT_EXPECT(e->t[0], CT_FLOAT32, CT_DIMS(2), 0, 1, 2);
    ct_element_free(e);
    CT_STATUS_OK(ct_iterator_next(it, &e));
    cr_expect_null(e);
    ct_iterator_free(it);
    ct_dataset_free(ds);
}

Test(dataset, save_and_restore_continue_exactly) {
    ct_dataset *ds = ct_dataset_from_tensor_slices(
        &(ct_element){.n = 1, .t = {ct_range(0, 10, 1, CT_INT32)}});
    ct_iterator *a = ct_dataset_iterator(ds), *b = ct_dataset_iterator(ds);
    double v[16];
    ct_element *e;
    for (int i = 0; i < 4; i++) {
        CT_STATUS_OK(ct_iterator_next(a, &e));
        ct_element_free(e);
    }
    void *buf;
    size_t len;
    CT_STATUS_OK(ct_iterator_save(a, &buf, &len));
    CT_STATUS_OK(ct_iterator_restore(b, buf, len));
    cr_assert_eq(drain(b, v, 16), 6);
    cr_expect_eq(v[0], 4);
    cr_expect_eq(v[5], 9);
    /* Truncated or foreign state: a clear error, the iterator unchanged. */
    CT_STATUS_OK(ct_iterator_reset(b));
    cr_expect_neq(ct_iterator_restore(b, buf, len - 1), CT_OK);
    cr_expect(strstr(ct_last_error(), "truncated") != NULL, "%s", ct_last_error());
    cr_expect_neq(ct_iterator_restore(b, "garbage!", 8), CT_OK);
    cr_expect(strstr(ct_last_error(), "not an iterator state") != NULL, "%s", ct_last_error());
    cr_expect_eq(drain(b, v, 16), 10);
    free(buf);
    ct_iterator_free(a);
    ct_iterator_free(b);
    ct_dataset_free(ds);
}

typedef struct {
    int i, n;
} counter;

static ct_status count_up(void *ctx, ct_element **out) {
    counter *c = ctx;
    if (c->i >= c->n) return CT_OK;
    ct_element *e = calloc(1, sizeof *e);
    e->n = 1;
    ct_scope_begin();
    e->t[0] = ct_tensor_ref(ct_scalar_of(CT_INT32, c->i++));
    ct_scope_end();
    *out = e;
    return CT_OK;
}
static void count_reset(void *ctx) { ((counter *)ctx)->i = 0; }

Test(dataset, from_generator_checks_the_signature) {
    counter c = {0, 3};
    ct_element_spec spec = {.n = 1, .c = {{.dtype = CT_INT32, .rank = 0}}};
    ct_dataset *ds = ct_dataset_from_generator(count_up, count_reset, &c, &spec);
    ct_iterator *it = ct_dataset_iterator(ds);
    double v[4];
    cr_expect_eq(drain(it, v, 4), 3);
    void *buf;
    size_t len;
    cr_expect_neq(ct_iterator_save(it, &buf, &len), CT_OK);
    cr_expect(strstr(ct_last_error(), "GeneratorDataset cannot be checkpointed") != NULL, "%s",
              ct_last_error());
    ct_iterator_free(it);
    ct_dataset_free(ds);

    ct_element_spec wrong = {.n = 1, .c = {{.dtype = CT_FLOAT32, .rank = 0}}};
    ds = ct_dataset_from_generator(count_up, count_reset, &c, &wrong);
    it = ct_dataset_iterator(ds);
    ct_element *e;
    cr_expect_neq(ct_iterator_next(it, &e), CT_OK);
    cr_expect_null(e);
    cr_expect(strstr(ct_last_error(), "component 0 is int32[], the signature says float32[]") != NULL,
              "%s", ct_last_error());
    ct_iterator_free(it);
    ct_dataset_free(ds);
}

Test(dataset, null_inputs_and_refs) {
    ct_clear_error();
    cr_expect_null(ct_dataset_iterator(NULL));
    cr_expect(strstr(ct_last_error(), "NULL dataset") != NULL);
    ct_dataset *ds = ct_dataset_range(0, 3, 1);
    ct_dataset_ref(ds);
    ct_dataset_free(ds);
    cr_expect_eq(ct_dataset_cardinality(ds), 3); /* still alive */
    ct_dataset_free(ds);
}
