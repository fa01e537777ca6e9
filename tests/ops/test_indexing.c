/* Indexing ops: slice, strided slice / getitem, gather, gather_nd,
 * boolean_mask, where (both forms), scatter_nd and tensor_scatter_nd_*.
 * Expected values follow TensorFlow (numpy's rules for basic indexing). */
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(indexing, .init = ct_test_begin, .fini = ct_test_end);

/* 0, 1, ..., n-1 as a tensor of the given shape and dtype (built on the
 * host, so these tests need no other op than cast). */
static ct_tensor *iota(ct_dtype dt, int rank, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = (double)i;
    ct_tensor *t = ct_cast(ct_constant(v, CT_FLOAT64, rank, shape), dt);
    free(v);
    return t;
}

/* float64 values in about [-2, 2), fixed by seed. */
static ct_tensor *randn(unsigned seed, int rank, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);
    for (int64_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (double)(x >> 11) / 9007199254740992.0 * 4 - 2;
    }
    ct_tensor *t = ct_constant(v, CT_FLOAT64, rank, shape);
    free(v);
    return t;
}

/* ---- gradient helpers ------------------------------------------------------ */

/* d/dx sum(f(x)^3): checking this function's gradient exercises the
 * gradient of each gradient op (second derivatives). */
typedef struct {
    ct_test_fn f;
    void *ctx;
} wrapped;

static ct_tensor *grad_of_cube(ct_tensor *const *in, void *ctx) {
    wrapped *w = ctx;
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, in[0]);
    ct_tensor *y = w->f(in, w->ctx);
    ct_tensor *s = ct_reduce_sum(ct_multiply(ct_multiply(y, y), y), CT_ALL, false);
    ct_tape_end(tape);
    ct_tensor *g = NULL;
    ct_status st = ct_tape_gradient(tape, s, 1, in, &g, &(ct_gradient_opts){.unconnected_zero = true});
    ct_tape_free(tape);
    return st ? NULL : g;
}

static void gradcheck2(ct_test_fn f, ct_tensor *x, void *ctx) {
    ct_gradcheck(f, 1, &x, ctx, 1e-6);
    wrapped w = {f, ctx};
    ct_gradcheck(grad_of_cube, 1, &x, &w, 1e-5);
}

/* ---- slice ---------------------------------------------------------------- */

Test(indexing, slice_values) {
    ct_tensor *t = iota(CT_FLOAT32, CT_DIMS(3, 4));
    CT_EXPECT(ct_slice(t, (int64_t[]){1, 1}, (int64_t[]){2, -1}), CT_FLOAT32, CT_DIMS(2, 3), 0,
              5, 6, 7, 9, 10, 11);
    CT_EXPECT(ct_slice(t, (int64_t[]){2, 0}, (int64_t[]){1, 4}), CT_FLOAT32, CT_DIMS(1, 4), 0,
              8, 9, 10, 11);
    ct_expect_shape(ct_slice(t, (int64_t[]){3, 0}, (int64_t[]){0, 2}), CT_DIMS(0, 2));
    CT_EXPECT(ct_slice(ct_scalar(7), NULL, NULL), CT_FLOAT32, CT_SCALAR, 0, 7);
    ct_tensor *b = CT_BOOLS(CT_DIMS(4), true, false, false, true);
    CT_EXPECT(ct_slice(b, (int64_t[]){1}, (int64_t[]){-1}), CT_BOOL, CT_DIMS(3), 0, 0, 0, 1);
    ct_tensor *h = ct_cast(CT_F32(CT_DIMS(3), 1.5, -2, 65504), CT_FLOAT16);
    CT_EXPECT(ct_slice(h, (int64_t[]){1}, (int64_t[]){2}), CT_FLOAT16, CT_DIMS(2), 0, -2, 65504);
}

Test(indexing, slice_errors) {
    ct_tensor *t = iota(CT_FLOAT32, CT_DIMS(3, 4));
    CT_FAILS(ct_slice(t, (int64_t[]){-1, 0}, (int64_t[]){1, 1}),
             "ct_slice: Expected begin[0] in [0, 3], but got -1");
    CT_FAILS(ct_slice(t, (int64_t[]){0, 2}, (int64_t[]){1, 3}),
             "Expected size[1] in [0, 2], but got 3");
    CT_FAILS(ct_slice(t, (int64_t[]){0, 2}, (int64_t[]){-2, 1}), "Expected size[0]");
    CT_FAILS(ct_slice(NULL, NULL, NULL), "NULL");
}

static ct_tensor *slice_fn(ct_tensor *const *in, void *ctx) {
    (void)ctx;
    return ct_slice(in[0], (int64_t[]){1, 0, 1}, (int64_t[]){1, -1, 2});
}

Test(indexing, slice_gradient) {
    gradcheck2(slice_fn, randn(1, CT_DIMS(2, 3, 4)), NULL);
}

/* ---- getitem / strided slice -------------------------------------------- */

Test(indexing, getitem_values) {
    ct_tensor *t = iota(CT_INT32, CT_DIMS(2, 3, 4));
    /* t[1:, ::-1, None, ..., -1] */
    CT_EXPECT(ct_getitem(t, "1:, ::-1, None, ..., -1"), CT_INT32, CT_DIMS(1, 3, 1), 0, 23, 19,
              15);
    CT_EXPECT(ct_getitem(t, "-1"), CT_INT32, CT_DIMS(3, 4), 0, 12, 13, 14, 15, 16, 17, 18, 19,
              20, 21, 22, 23);
    CT_EXPECT(ct_getitem(t, "..., ::2"), CT_INT32, CT_DIMS(2, 3, 2), 0, 0, 2, 4, 6, 8, 10, 12,
              14, 16, 18, 20, 22);
    CT_EXPECT(ct_getitem(t, "::-2, 1"), CT_INT32, CT_DIMS(1, 4), 0, 16, 17, 18, 19);
    CT_EXPECT(ct_getitem(t, "0, 1:3, 1::2"), CT_INT32, CT_DIMS(2, 2), 0, 5, 7, 9, 11);
    CT_EXPECT(ct_getitem(t, " 1 , -1 , -1 "), CT_INT32, CT_SCALAR, 0, 23);
    CT_EXPECT(ct_getitem(t, "..., 2, tf.newaxis"), CT_INT32, CT_DIMS(2, 3, 1), 0, 2, 6, 10, 14,
              18, 22);
    CT_EXPECT(ct_getitem(t, "None, 1, ..., None, 3"), CT_INT32, CT_DIMS(1, 3, 1), 0, 15, 19, 23);
    CT_EXPECT(ct_getitem(t, "0, 0,"), CT_INT32, CT_DIMS(4), 0, 0, 1, 2, 3);
    ct_expect_shape(ct_getitem(t, ""), CT_DIMS(2, 3, 4));
    ct_expect_shape(ct_getitem(t, "..."), CT_DIMS(2, 3, 4));

    ct_tensor *v = iota(CT_INT64, CT_DIMS(8));
    /* Python: list(range(8))[5:1:-2] == [5, 3], [:-1:-1] == [], [-100:100] == all. */
    CT_EXPECT(ct_getitem(v, "5:1:-2"), CT_INT64, CT_DIMS(2), 0, 5, 3);
    ct_expect_shape(ct_getitem(v, ":-1:-1"), CT_DIMS(0));
    ct_expect_shape(ct_getitem(v, "10:"), CT_DIMS(0));
    ct_expect_shape(ct_getitem(v, "3:3"), CT_DIMS(0));
    CT_EXPECT(ct_getitem(v, "-100:100:3"), CT_INT64, CT_DIMS(3), 0, 0, 3, 6);
    CT_EXPECT(ct_getitem(v, "100:-100:-3"), CT_INT64, CT_DIMS(3), 0, 7, 4, 1);
    CT_EXPECT(ct_getitem(v, "-3::-1"), CT_INT64, CT_DIMS(6), 0, 5, 4, 3, 2, 1, 0);
    CT_EXPECT(ct_getitem(v, ":-6:-1"), CT_INT64, CT_DIMS(5), 0, 7, 6, 5, 4, 3);
    CT_EXPECT(ct_getitem(v, "::100"), CT_INT64, CT_DIMS(1), 0, 0);
    CT_EXPECT(ct_getitem(v, "+2:-4"), CT_INT64, CT_DIMS(2), 0, 2, 3);

    ct_tensor *s = ct_scalar(4);
    CT_EXPECT(ct_getitem(s, "None"), CT_FLOAT32, CT_DIMS(1), 0, 4);
    CT_EXPECT(ct_getitem(s, "..."), CT_FLOAT32, CT_SCALAR, 0, 4);
    CT_EXPECT(ct_getitem(s, "None, ..., None"), CT_FLOAT32, CT_DIMS(1, 1), 0, 4);

    ct_tensor *e = ct_zeros(CT_FLOAT32, CT_DIMS(0, 3));
    ct_expect_shape(ct_getitem(e, ":, 1"), CT_DIMS(0));
    ct_expect_shape(ct_getitem(e, "::-1, None"), CT_DIMS(0, 1, 3));
}

Test(indexing, getitem_dtypes) {
    ct_tensor *b = CT_BOOLS(CT_DIMS(2, 2), true, false, false, true);
    CT_EXPECT(ct_getitem(b, "::-1, ::-1"), CT_BOOL, CT_DIMS(2, 2), 0, 1, 0, 0, 1);
    ct_tensor *h = ct_cast(CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, INFINITY, NAN), CT_FLOAT16);
    CT_EXPECT(ct_getitem(h, ":, ::-2"), CT_FLOAT16, CT_DIMS(2, 2), 0, 3, 1, NAN, 4);
    ct_tensor *bf = ct_cast(CT_F32(CT_DIMS(3), 1, 2, 3), CT_BFLOAT16);
    CT_EXPECT(ct_getitem(bf, "1:"), CT_BFLOAT16, CT_DIMS(2), 0, 2, 3);
    ct_tensor *u = ct_cast(iota(CT_INT32, CT_DIMS(5)), CT_UINT8);
    CT_EXPECT(ct_getitem(u, "::2"), CT_UINT8, CT_DIMS(3), 0, 0, 2, 4);
    ct_tensor *d = iota(CT_FLOAT64, CT_DIMS(2, 2, 2));
    CT_EXPECT(ct_getitem(d, "1"), CT_FLOAT64, CT_DIMS(2, 2), 0, 4, 5, 6, 7);
}

Test(indexing, getitem_errors) {
    ct_tensor *v = iota(CT_FLOAT32, CT_DIMS(3));
    CT_FAILS(ct_getitem(v, "1:x"), "at position 2 ('x')");
    CT_FAILS(ct_getitem(v, "1 2"), "at position 2 ('2'): expected ','");
    CT_FAILS(ct_getitem(v, "1,,2"), "at position 2 (',')");
    CT_FAILS(ct_getitem(v, "::0"), "step cannot be zero");
    CT_FAILS(ct_getitem(v, "Nonesuch"), "at position 0");
    CT_FAILS(ct_getitem(v, "-"), "at position 1");
    CT_FAILS(ct_getitem(v, "99999999999999999999"), "64 bits");
    CT_FAILS(ct_getitem(v, "3"), "ct_getitem: slice index 3 of dimension 0 out of bounds");
    CT_FAILS(ct_getitem(v, "-4"), "slice index -4 of dimension 0 out of bounds");
    CT_FAILS(ct_getitem(v, "..., ..."), "single ellipsis");
    CT_FAILS(ct_getitem(v, "0, 0"), "Index out of range using input dim 1");
    CT_FAILS(ct_getitem(ct_scalar(1), "0"), "too many indices");
    CT_FAILS(ct_getitem(v, NULL), "NULL index");
    CT_FAILS(ct_getitem(ct_zeros(CT_FLOAT32, CT_DIMS(1, 1, 1, 1, 1, 1, 1, 1)), "None"),
             "more than 8 dimensions");
    CT_FAILS(ct_strided_slice(v, 1, (ct_index[]){{.kind = 9}}), "invalid kind");
}

Test(indexing, strided_slice_items) {
    ct_tensor *t = iota(CT_FLOAT32, CT_DIMS(3, 4));
    ct_index ix[] = {
        {.kind = CT_IX_RANGE, .start = -1, .has_start = true, .step = -1},
        {.kind = CT_IX_NEWAXIS},
        {.kind = CT_IX_INDEX, .start = -2},
    };
    CT_EXPECT(ct_strided_slice(t, 3, ix), CT_FLOAT32, CT_DIMS(3, 1), 0, 10, 6, 2);
    /* Fewer items than axes: the rest are taken whole; step 0 means 1. */
    ct_index one = {.kind = CT_IX_RANGE, .stop = 2, .has_stop = true};
    CT_EXPECT(ct_strided_slice(t, 1, &one), CT_FLOAT32, CT_DIMS(2, 4), 0, 0, 1, 2, 3, 4, 5, 6,
              7);
    CT_EXPECT(ct_strided_slice(t, 0, NULL), CT_FLOAT32, CT_DIMS(3, 4), 0, 0, 1, 2, 3, 4, 5, 6,
              7, 8, 9, 10, 11);
}

static ct_tensor *getitem_fn(ct_tensor *const *in, void *ctx) { return ct_getitem(in[0], ctx); }

Test(indexing, getitem_gradient) {
    ct_tensor *x = randn(2, CT_DIMS(2, 3, 4));
    gradcheck2(getitem_fn, x, "1:, ::-1, None, ..., -1");
    gradcheck2(getitem_fn, x, "::-1, 1::2, :3");
    gradcheck2(getitem_fn, x, "..., 1");
    gradcheck2(getitem_fn, x, "...");
    gradcheck2(getitem_fn, x, "1, 1:");
}

/* A slice's result must not change when its input is replaced: views are
 * only taken of immutable tensors, so a contiguous slice shares storage. */
Test(indexing, getitem_view_is_stable) {
    ct_variable *var = ct_variable_new(iota(CT_FLOAT32, CT_DIMS(3, 2)), NULL);
    ct_tensor *row = ct_getitem(ct_variable_value(var), "1");
    CT_STATUS_OK(ct_variable_assign(var, ct_zeros(CT_FLOAT32, CT_DIMS(3, 2))));
    CT_EXPECT(row, CT_FLOAT32, CT_DIMS(2), 0, 2, 3);
    ct_variable_free(var);
}

/* ---- gather ----------------------------------------------------------------- */

Test(indexing, gather_values) {
    ct_tensor *p = CT_F32(CT_DIMS(3, 2), 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_gather(p, CT_I32(CT_DIMS(2), 2, 0), 0, 0), CT_FLOAT32, CT_DIMS(2, 2), 0, 5, 6,
              1, 2);
    CT_EXPECT(ct_gather(p, CT_I64(CT_DIMS(2, 2), 1, 0, 0, 1), -1, 0), CT_FLOAT32,
              CT_DIMS(3, 2, 2), 0, 2, 1, 1, 2, 4, 3, 3, 4, 6, 5, 5, 6);
    CT_EXPECT(ct_gather(p, ct_scalar_of(CT_INT32, 1), 0, 0), CT_FLOAT32, CT_DIMS(2), 0, 3, 4);
    ct_expect_shape(ct_gather(p, ct_zeros(CT_INT32, CT_DIMS(0)), 0, 0), CT_DIMS(0, 2));
    ct_expect_shape(ct_gather(p, ct_zeros(CT_INT64, CT_DIMS(2, 0)), 1, 0), CT_DIMS(3, 2, 0));

    /* batch_dims: row b picks params[b, indices[b, j]]. */
    ct_tensor *q = CT_F64(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    ct_tensor *bi = CT_I32(CT_DIMS(2, 2), 2, 0, 1, 1);
    CT_EXPECT(ct_gather(q, bi, 1, 1), CT_FLOAT64, CT_DIMS(2, 2), 0, 3, 1, 5, 5);
    CT_EXPECT(ct_gather(q, bi, -1, -1), CT_FLOAT64, CT_DIMS(2, 2), 0, 3, 1, 5, 5);
    /* batch_dims 1 with a gathered axis after another axis: [2, 2, 3] */
    ct_tensor *r = iota(CT_INT32, CT_DIMS(2, 2, 3));
    CT_EXPECT(ct_gather(r, CT_I64(CT_DIMS(2, 1), 2, 0), 2, 1), CT_INT32, CT_DIMS(2, 2, 1), 0, 2,
              5, 6, 9);
    CT_EXPECT(ct_gather(r, CT_I64(CT_DIMS(2), 1, 0), 1, 1), CT_INT32, CT_DIMS(2, 3), 0, 3, 4, 5,
              6, 7, 8);

    ct_tensor *b = CT_BOOLS(CT_DIMS(3), true, false, true);
    CT_EXPECT(ct_gather(b, CT_I32(CT_DIMS(3), 1, 1, 2), 0, 0), CT_BOOL, CT_DIMS(3), 0, 0, 0, 1);
    ct_tensor *h = ct_cast(CT_F32(CT_DIMS(3), 0.5, NAN, -INFINITY), CT_FLOAT16);
    CT_EXPECT(ct_gather(h, CT_I32(CT_DIMS(3), 2, 1, 0), 0, 0), CT_FLOAT16, CT_DIMS(3), 0,
              -INFINITY, NAN, 0.5);
}

Test(indexing, gather_errors) {
    ct_tensor *p = CT_F32(CT_DIMS(3, 2), 1, 2, 3, 4, 5, 6);
    CT_FAILS(ct_gather(p, CT_I32(CT_DIMS(2), 0, 5), 0, 0), "ct_gather: indices[1] = 5 is not in [0, 3)");
    CT_FAILS(ct_gather(p, CT_I64(CT_DIMS(2, 2), 0, 1, -1, 0), 0, 0),
             "indices[1,0] = -1 is not in [0, 3)");
    CT_FAILS(ct_gather(p, CT_I32(CT_DIMS(1), 2), 1, 0), "indices[0] = 2 is not in [0, 2)");
    CT_FAILS(ct_gather(p, CT_F32(CT_DIMS(1), 0), 0, 0), "indices must be int32 or int64");
    CT_FAILS(ct_gather(p, CT_I32(CT_DIMS(1), 0), 2, 0), "Expected axis in the range [-2, 2), but got 2");
    CT_FAILS(ct_gather(ct_scalar(1), CT_I32(CT_DIMS(1), 0), 0, 0), "at least 1 dimensional");
    CT_FAILS(ct_gather(p, CT_I32(CT_DIMS(3, 1), 0, 0, 0), 0, 1), "must be less than or equal to axis");
    CT_FAILS(ct_gather(p, CT_I32(CT_DIMS(3), 0, 0, 0), 1, 2), "Expected batch_dims in the range [-1, 1]");
    CT_FAILS(ct_gather(p, CT_I32(CT_DIMS(2, 1), 0, 0), 1, 1),
             "params.shape[0]: 3 should be equal to indices.shape[0]: 2");
}

typedef struct {
    ct_tensor *indices;
    int axis, batch_dims;
} gather_ctx;

static ct_tensor *gather_fn(ct_tensor *const *in, void *ctx) {
    gather_ctx *g = ctx;
    return ct_gather(in[0], g->indices, g->axis, g->batch_dims);
}

Test(indexing, gather_gradient) {
    ct_tensor *x = randn(3, CT_DIMS(2, 3, 4));
    gather_ctx a = {CT_I32(CT_DIMS(2, 2), 2, 0, 2, 2), 1, 0};
    gradcheck2(gather_fn, x, &a);
    gather_ctx b = {CT_I64(CT_DIMS(3), 0, 0, 1), 0, 0};
    gradcheck2(gather_fn, x, &b);
    gather_ctx c = {CT_I64(CT_DIMS(2, 3), 3, 3, 0, 1, 2, 1), -1, 1};
    gradcheck2(gather_fn, x, &c);
    gather_ctx d = {ct_scalar_of(CT_INT32, 3), 2, 0};
    gradcheck2(gather_fn, x, &d);
}

Test(indexing, gather_gradient_float32_dtype) {
    ct_tensor *x = CT_F32(CT_DIMS(3), 1, 2, 3);
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, x);
    ct_tensor *y = ct_gather(x, CT_I32(CT_DIMS(4), 0, 2, 2, 2), 0, 0);
    ct_tape_end(tape);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &x, &g, NULL));
    CT_EXPECT(g, CT_FLOAT32, CT_DIMS(3), 0, 1, 0, 3);
    ct_tape_free(tape);

    ct_tensor *h = ct_cast(x, CT_FLOAT16);
    tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, h);
    y = ct_gather(h, CT_I32(CT_DIMS(2), 1, 1), 0, 0);
    ct_tape_end(tape);
    CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &h, &g, NULL));
    CT_EXPECT(g, CT_FLOAT16, CT_DIMS(3), 0, 0, 2, 0);
    ct_tape_free(tape);
}

/* ---- gather_nd -------------------------------------------------------------- */

Test(indexing, gather_nd_values) {
    ct_tensor *p = CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4);
    CT_EXPECT(ct_gather_nd(p, CT_I32(CT_DIMS(2, 2), 0, 0, 1, 1), 0), CT_FLOAT32, CT_DIMS(2), 0,
              1, 4);
    CT_EXPECT(ct_gather_nd(p, CT_I64(CT_DIMS(1, 1), 1), 0), CT_FLOAT32, CT_DIMS(1, 2), 0, 3, 4);
    CT_EXPECT(ct_gather_nd(p, CT_I64(CT_DIMS(2, 1, 2), 0, 1, 1, 0), 0), CT_FLOAT32,
              CT_DIMS(2, 1), 0, 2, 3);
    CT_EXPECT(ct_gather_nd(p, CT_I32(CT_DIMS(2), 1, 0), 0), CT_FLOAT32, CT_SCALAR, 0, 3);
    /* An empty index tuple selects everything. */
    CT_EXPECT(ct_gather_nd(p, ct_zeros(CT_INT32, CT_DIMS(2, 0)), 0), CT_FLOAT32,
              CT_DIMS(2, 2, 2), 0, 1, 2, 3, 4, 1, 2, 3, 4);
    ct_expect_shape(ct_gather_nd(p, ct_zeros(CT_INT32, CT_DIMS(0, 1)), 0), CT_DIMS(0, 2));
    /* batch_dims 1: row b picks params[b][indices[b]]. */
    ct_tensor *q = iota(CT_INT64, CT_DIMS(2, 2, 2));
    CT_EXPECT(ct_gather_nd(q, CT_I32(CT_DIMS(2, 1), 1, 0), 1), CT_INT64, CT_DIMS(2, 2), 0, 2, 3,
              4, 5);
    CT_EXPECT(ct_gather_nd(q, CT_I32(CT_DIMS(2, 2), 1, 1, 0, 1), 1), CT_INT64, CT_DIMS(2), 0, 3,
              5);
    ct_tensor *b = CT_BOOLS(CT_DIMS(2, 2), true, false, false, true);
    CT_EXPECT(ct_gather_nd(b, CT_I32(CT_DIMS(2, 2), 0, 1, 1, 1), 0), CT_BOOL, CT_DIMS(2), 0, 0,
              1);
}

Test(indexing, gather_nd_errors) {
    ct_tensor *p = CT_F32(CT_DIMS(3), 0, 1, 2);
    CT_FAILS(ct_gather_nd(p, CT_I32(CT_DIMS(1, 2, 1), 0, 7), 0),
             "ct_gather_nd: indices[0,1] = [7] does not index into param shape [3]");
    ct_tensor *q = ct_zeros(CT_FLOAT32, CT_DIMS(2, 3));
    CT_FAILS(ct_gather_nd(q, CT_I64(CT_DIMS(2), 1, 3), 0), "indices = [1, 3] does not index into param shape [2,3]");
    CT_FAILS(ct_gather_nd(q, CT_I32(CT_DIMS(1, 3), 0, 0, 0), 0),
             "index innermost dimension length must be <= params rank; saw: 3 vs. 2");
    CT_FAILS(ct_gather_nd(q, ct_scalar_of(CT_INT32, 0), 0), "at least a vector");
    CT_FAILS(ct_gather_nd(q, CT_F32(CT_DIMS(1), 0), 0), "int32 or int64");
    CT_FAILS(ct_gather_nd(q, CT_I32(CT_DIMS(3, 1), 0, 0, 0), 1), "should be equal to indices.shape[0]");
    CT_FAILS(ct_gather_nd(q, CT_I32(CT_DIMS(2, 1), 0, 0), 2), "must be less than rank(indices)");
}

typedef struct {
    ct_tensor *indices;
    int batch_dims;
} nd_ctx;

static ct_tensor *gather_nd_fn(ct_tensor *const *in, void *ctx) {
    nd_ctx *g = ctx;
    return ct_gather_nd(in[0], g->indices, g->batch_dims);
}

Test(indexing, gather_nd_gradient) {
    ct_tensor *x = randn(4, CT_DIMS(2, 3, 2));
    nd_ctx a = {CT_I32(CT_DIMS(3, 2), 0, 1, 1, 2, 0, 1), 0};
    gradcheck2(gather_nd_fn, x, &a);
    nd_ctx b = {CT_I64(CT_DIMS(2, 2, 1), 2, 2, 0, 1), 1};
    gradcheck2(gather_nd_fn, x, &b);
    nd_ctx c = {CT_I64(CT_DIMS(2, 3), 1, 2, 1, 0, 0, 0), 0};
    gradcheck2(gather_nd_fn, x, &c);
}

/* ---- boolean_mask -------------------------------------------------------- */

Test(indexing, boolean_mask_values) {
    ct_tensor *t = CT_F32(CT_DIMS(3, 2), 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_boolean_mask(t, CT_BOOLS(CT_DIMS(3), true, false, true), 0), CT_FLOAT32,
              CT_DIMS(2, 2), 0, 1, 2, 5, 6);
    ct_expect_shape(ct_boolean_mask(t, CT_BOOLS(CT_DIMS(3), false, false, false), 0),
                    CT_DIMS(0, 2));
    ct_tensor *u = iota(CT_INT32, CT_DIMS(2, 3));
    CT_EXPECT(ct_boolean_mask(u, CT_BOOLS(CT_DIMS(2, 3), true, false, true, false, false, true), 0),
              CT_INT32, CT_DIMS(3), 0, 0, 2, 5);
    CT_EXPECT(ct_boolean_mask(u, CT_BOOLS(CT_DIMS(3), false, true, true), 1), CT_INT32,
              CT_DIMS(2, 2), 0, 1, 2, 4, 5);
    CT_EXPECT(ct_boolean_mask(u, CT_BOOLS(CT_DIMS(3), true, false, true), -1), CT_INT32,
              CT_DIMS(2, 2), 0, 0, 2, 3, 5);
    /* A numeric mask: non-zero is true. */
    CT_EXPECT(ct_boolean_mask(u, CT_F32(CT_DIMS(2), 0, NAN), 0), CT_INT32, CT_DIMS(1, 3), 0, 3,
              4, 5);
    ct_tensor *h = ct_cast(CT_F32(CT_DIMS(3), 1, NAN, 3), CT_FLOAT16);
    CT_EXPECT(ct_boolean_mask(h, CT_BOOLS(CT_DIMS(3), false, true, true), 0), CT_FLOAT16,
              CT_DIMS(2), 0, NAN, 3);
    ct_tensor *b = CT_BOOLS(CT_DIMS(2), true, false);
    CT_EXPECT(ct_boolean_mask(b, b, 0), CT_BOOL, CT_DIMS(1), 0, 1);
    ct_expect_shape(ct_boolean_mask(ct_zeros(CT_FLOAT32, CT_DIMS(0, 2)), ct_zeros(CT_BOOL, CT_DIMS(0)), 0),
                    CT_DIMS(0, 2));
}

Test(indexing, boolean_mask_errors) {
    ct_tensor *t = ct_zeros(CT_FLOAT32, CT_DIMS(3, 2));
    CT_FAILS(ct_boolean_mask(t, CT_BOOLS(CT_SCALAR, true), 0), "mask cannot be scalar");
    CT_FAILS(ct_boolean_mask(t, CT_BOOLS(CT_DIMS(2), true, true), 0),
             "mask shape bool[2] is incompatible with the tensor's shape [3,2] at axis 0");
    CT_FAILS(ct_boolean_mask(t, ct_zeros(CT_BOOL, CT_DIMS(2, 2)), 1), "incompatible");
    CT_FAILS(ct_boolean_mask(t, CT_BOOLS(CT_DIMS(2), true, true), 2), "axis 2 is out of range");
}

typedef struct {
    ct_tensor *mask;
    int axis;
} mask_ctx;

static ct_tensor *mask_fn(ct_tensor *const *in, void *ctx) {
    mask_ctx *m = ctx;
    return ct_boolean_mask(in[0], m->mask, m->axis);
}

Test(indexing, boolean_mask_gradient) {
    ct_tensor *x = randn(5, CT_DIMS(2, 3, 2));
    mask_ctx a = {CT_BOOLS(CT_DIMS(3, 2), true, false, false, true, true, true), 1};
    gradcheck2(mask_fn, x, &a);
    mask_ctx b = {CT_BOOLS(CT_DIMS(2), false, true), 0};
    gradcheck2(mask_fn, x, &b);
}

/* ---- where ------------------------------------------------------------------ */

Test(indexing, where_coords_values) {
    CT_EXPECT(ct_where_coords(CT_BOOLS(CT_DIMS(2, 2), true, false, false, true)), CT_INT64,
              CT_DIMS(2, 2), 0, 0, 0, 1, 1);
    CT_EXPECT(ct_where_coords(CT_F32(CT_DIMS(4), 0, -0.0, NAN, 2)), CT_INT64, CT_DIMS(2, 1), 0,
              2, 3);
    CT_EXPECT(ct_where_coords(CT_I32(CT_DIMS(2, 1, 2), 0, 5, -1, 0)), CT_INT64, CT_DIMS(2, 3),
              0, 0, 0, 1, 1, 0, 0);
    ct_expect_shape(ct_where_coords(CT_BOOLS(CT_SCALAR, true)), CT_DIMS(1, 0));
    ct_expect_shape(ct_where_coords(CT_BOOLS(CT_SCALAR, false)), CT_DIMS(0, 0));
    ct_expect_shape(ct_where_coords(ct_zeros(CT_BOOL, CT_DIMS(0, 3))), CT_DIMS(0, 2));
    ct_tensor *h = ct_cast(CT_F32(CT_DIMS(3), -0.0, 1e-7, 0), CT_FLOAT16);
    CT_EXPECT(ct_where_coords(h), CT_INT64, CT_DIMS(1, 1), 0, 1);
}

Test(indexing, where_select_values) {
    ct_tensor *cond = CT_BOOLS(CT_DIMS(2, 1), true, false);
    ct_tensor *x = CT_F32(CT_DIMS(1, 3), 1, 2, 3), *y = ct_scalar(-1);
    CT_EXPECT(ct_where(cond, x, y), CT_FLOAT32, CT_DIMS(2, 3), 0, 1, 2, 3, -1, -1, -1);
    /* cond broadcast against x and y along another axis. */
    CT_EXPECT(ct_where(CT_BOOLS(CT_DIMS(3), true, false, true), CT_F32(CT_DIMS(2, 1), 10, 20),
                       CT_F32(CT_DIMS(2, 3), 0, 1, 2, 3, 4, 5)),
              CT_FLOAT32, CT_DIMS(2, 3), 0, 10, 1, 10, 20, 4, 20);
    /* NaN in the branch not taken does not leak. */
    CT_EXPECT(ct_where(CT_BOOLS(CT_DIMS(2), true, false), CT_F32(CT_DIMS(2), 1, NAN),
                       CT_F32(CT_DIMS(2), NAN, 2)),
              CT_FLOAT32, CT_DIMS(2), 0, 1, 2);
    CT_EXPECT(ct_where(CT_BOOLS(CT_SCALAR, false), ct_scalar_of(CT_INT64, 3),
                       ct_scalar_of(CT_INT64, 4)),
              CT_INT64, CT_SCALAR, 0, 4);
    ct_tensor *h = ct_cast(CT_F32(CT_DIMS(2), 1.5, 2.5), CT_FLOAT16);
    CT_EXPECT(ct_where(CT_BOOLS(CT_DIMS(2), false, true), h, ct_cast(ct_scalar(0), CT_FLOAT16)),
              CT_FLOAT16, CT_DIMS(2), 0, 0, 2.5);
    CT_EXPECT(ct_where(CT_BOOLS(CT_DIMS(2), false, true), CT_BOOLS(CT_DIMS(2), true, true),
                       CT_BOOLS(CT_DIMS(1), false)),
              CT_BOOL, CT_DIMS(2), 0, 0, 1);
    ct_expect_shape(ct_where(ct_zeros(CT_BOOL, CT_DIMS(0, 1)), x, y), CT_DIMS(0, 3));
    CT_FAILS(ct_where(CT_F32(CT_DIMS(1), 1), x, y), "condition must be bool");
    CT_FAILS(ct_where(cond, x, ct_scalar_of(CT_INT32, 1)), "different dtypes");
    CT_FAILS(ct_where(CT_BOOLS(CT_DIMS(4), 1, 1, 1, 1), x, y), "not broadcastable");
}

static ct_tensor *select_fn(ct_tensor *const *in, void *ctx) {
    return ct_where(ctx, in[0], in[1]);
}

static ct_tensor *select_x_fn(ct_tensor *const *in, void *ctx) {
    ct_tensor **pair = ctx;
    return ct_where(pair[0], in[0], pair[1]);
}

Test(indexing, where_select_gradient) {
    ct_tensor *cond = CT_BOOLS(CT_DIMS(2, 1, 3), true, false, true, false, false, true);
    ct_tensor *in[2] = {
        randn(6, CT_DIMS(4, 1)),
        randn(7, CT_DIMS(3)),
    };
    ct_gradcheck(select_fn, 2, in, cond, 1e-6);
    ct_tensor *pair[2] = {cond, in[1]};
    wrapped w = {select_x_fn, pair};
    ct_gradcheck(grad_of_cube, 1, in, &w, 1e-5);
}

/* ---- scatter ---------------------------------------------------------------- */

Test(indexing, scatter_nd_values) {
    ct_tensor *idx = CT_I32(CT_DIMS(4, 1), 4, 3, 1, 7);
    CT_EXPECT(ct_scatter_nd(idx, CT_F32(CT_DIMS(4), 9, 10, 11, 12), CT_DIMS(8)), CT_FLOAT32,
              CT_DIMS(8), 0, 0, 11, 0, 10, 9, 0, 0, 12);
    /* Duplicates add up, integers too. */
    CT_EXPECT(ct_scatter_nd(CT_I64(CT_DIMS(3, 1), 1, 1, 0), CT_I32(CT_DIMS(3), 1, 2, 5), CT_DIMS(3)),
              CT_INT32, CT_DIMS(3), 0, 5, 3, 0);
    /* Slices: indices address the first axis. */
    CT_EXPECT(ct_scatter_nd(CT_I32(CT_DIMS(2, 1), 0, 2), CT_F64(CT_DIMS(2, 2), 5, 6, 7, 8),
                            CT_DIMS(3, 2)),
              CT_FLOAT64, CT_DIMS(3, 2), 0, 5, 6, 0, 0, 7, 8);
    CT_EXPECT(ct_scatter_nd(CT_I32(CT_DIMS(2, 2), 0, 1, 1, 0), CT_F32(CT_DIMS(2), 3, 4),
                            CT_DIMS(2, 2)),
              CT_FLOAT32, CT_DIMS(2, 2), 0, 0, 3, 4, 0);
    ct_tensor *h = ct_cast(CT_F32(CT_DIMS(2), 0.5, 0.25), CT_FLOAT16);
    CT_EXPECT(ct_scatter_nd(CT_I32(CT_DIMS(2, 1), 1, 1), h, CT_DIMS(2)), CT_FLOAT16, CT_DIMS(2),
              0, 0, 0.75);
    CT_EXPECT(ct_scatter_nd(CT_I32(CT_DIMS(2, 1), 1, 1), CT_BOOLS(CT_DIMS(2), true, false),
                            CT_DIMS(3)),
              CT_BOOL, CT_DIMS(3), 0, 0, 1, 0);
    ct_expect_shape(ct_scatter_nd(ct_zeros(CT_INT32, CT_DIMS(0, 1)), ct_zeros(CT_FLOAT32, CT_DIMS(0, 2)),
                                  CT_DIMS(3, 2)),
                    CT_DIMS(3, 2));
}

Test(indexing, scatter_nd_errors) {
    ct_tensor *u = CT_F32(CT_DIMS(3), -3, -4, -5);
    CT_FAILS(ct_scatter_nd(CT_I32(CT_DIMS(3, 1), 2, 0, 6), u, CT_DIMS(6)),
             "ct_scatter_nd: indices[2] = [6] does not index into shape [6]");
    CT_FAILS(ct_scatter_nd(CT_I32(CT_DIMS(3, 1), -1, 0, 5), u, CT_DIMS(6)),
             "indices[0] = [-1] does not index into shape [6]");
    CT_FAILS(ct_scatter_nd(CT_I32(CT_DIMS(2, 1), 0, 1), u, CT_DIMS(6)), "updates must have shape");
    CT_FAILS(ct_scatter_nd(CT_I32(CT_DIMS(3, 2), 0, 0, 0, 0, 0, 0), u, CT_DIMS(6)),
             "index innermost dimension length");
    CT_FAILS(ct_scatter_nd(CT_I32(CT_DIMS(3, 1), 0, 0, 0), u, CT_DIMS(-1)), "negative dimension");
    CT_FAILS(ct_scatter_nd(CT_F32(CT_DIMS(3, 1), 0, 0, 0), u, CT_DIMS(6)), "int32 or int64");
    CT_FAILS(ct_tensor_scatter_nd_update(ct_zeros(CT_FLOAT64, CT_DIMS(6)),
                                         CT_I32(CT_DIMS(3, 1), 0, 1, 2), u),
             "different dtypes");
    CT_FAILS(ct_tensor_scatter_nd_add(ct_zeros(CT_FLOAT32, CT_DIMS(6)),
                                      CT_I64(CT_DIMS(3, 1), 0, 1, 9), u),
             "ct_tensor_scatter_nd_add: indices[2] = [9] does not index into shape [6]");
    CT_FAILS(ct_tensor_scatter_nd_update(ct_scalar(1), CT_I32(CT_DIMS(1, 0)), CT_F32(CT_DIMS(1), 2)),
             "at least 1-D");
    CT_FAILS(ct_tensor_scatter_nd_update(ct_zeros(CT_FLOAT32, CT_DIMS(3)), CT_I32(CT_DIMS(1), 1),
                                         ct_scalar(2)),
             "Updates shape must have rank at least one");
}

Test(indexing, tensor_scatter_values) {
    ct_tensor *t = CT_F32(CT_DIMS(8), 1, 2, 3, 4, 5, 6, 7, 8);
    ct_tensor *idx = CT_I32(CT_DIMS(4, 1), 4, 3, 1, 7);
    ct_tensor *u = CT_F32(CT_DIMS(4), 9, 10, 11, 12);
    CT_EXPECT(ct_tensor_scatter_nd_update(t, idx, u), CT_FLOAT32, CT_DIMS(8), 0, 1, 11, 3, 10, 9,
              6, 7, 12);
    CT_EXPECT(ct_tensor_scatter_nd_add(t, idx, u), CT_FLOAT32, CT_DIMS(8), 0, 1, 13, 3, 14, 14, 6,
              7, 20);
    CT_EXPECT(t, CT_FLOAT32, CT_DIMS(8), 0, 1, 2, 3, 4, 5, 6, 7, 8); /* unchanged */
    ct_tensor *m = iota(CT_INT64, CT_DIMS(2, 3));
    CT_EXPECT(ct_tensor_scatter_nd_update(m, CT_I64(CT_DIMS(1, 1), 1), CT_I64(CT_DIMS(1, 3), 7, 8, 9)),
              CT_INT64, CT_DIMS(2, 3), 0, 0, 1, 2, 7, 8, 9);
    CT_EXPECT(ct_tensor_scatter_nd_add(m, CT_I64(CT_DIMS(2, 2), 0, 2, 0, 2), CT_I64(CT_DIMS(2), 10, 20)),
              CT_INT64, CT_DIMS(2, 3), 0, 0, 1, 32, 3, 4, 5);
    ct_tensor *h = ct_cast(CT_F32(CT_DIMS(3), 1, 2, 3), CT_FLOAT16);
    CT_EXPECT(ct_tensor_scatter_nd_update(h, CT_I32(CT_DIMS(1, 1), 0), ct_cast(CT_F32(CT_DIMS(1), NAN), CT_FLOAT16)),
              CT_FLOAT16, CT_DIMS(3), 0, NAN, 2, 3);
    CT_EXPECT(ct_tensor_scatter_nd_add(h, CT_I32(CT_DIMS(1, 1), 2), ct_cast(CT_F32(CT_DIMS(1), 0.5), CT_FLOAT16)),
              CT_FLOAT16, CT_DIMS(3), 0, 1, 2, 3.5);
    ct_tensor *b = CT_BOOLS(CT_DIMS(2), false, true);
    CT_EXPECT(ct_tensor_scatter_nd_update(b, CT_I32(CT_DIMS(2, 1), 0, 1), CT_BOOLS(CT_DIMS(2), true, false)),
              CT_BOOL, CT_DIMS(2), 0, 1, 0);
}

typedef struct {
    ct_tensor *indices;
    int which; /* 0 scatter_nd, 1 update, 2 add */
} scatter_ctx;

static ct_tensor *scatter_fn(ct_tensor *const *in, void *ctx) {
    scatter_ctx *s = ctx;
    if (s->which == 0) return ct_scatter_nd(s->indices, in[0], CT_DIMS(4, 2));
    if (s->which == 1) return ct_tensor_scatter_nd_update(in[0], s->indices, in[1]);
    return ct_tensor_scatter_nd_add(in[0], s->indices, in[1]);
}

Test(indexing, scatter_gradients) {
    scatter_ctx a = {CT_I32(CT_DIMS(3, 1), 3, 0, 3), 0};
    ct_tensor *u = randn(8, CT_DIMS(3, 2));
    gradcheck2(scatter_fn, u, &a);
    /* update: no duplicate indices, or the overwritten rows' gradients
     * (TF passes them gather_nd(dy)) would differ from finite differences. */
    scatter_ctx b = {CT_I64(CT_DIMS(2, 2), 0, 1, 3, 0), 1};
    ct_tensor *in[2] = {randn(8, CT_DIMS(4, 2)), randn(8, CT_DIMS(2))};
    ct_gradcheck(scatter_fn, 2, in, &b, 1e-6);
    scatter_ctx c = {CT_I64(CT_DIMS(3, 2), 0, 1, 3, 0, 0, 1), 2};
    ct_tensor *in2[2] = {in[0], randn(8, CT_DIMS(3))};
    ct_gradcheck(scatter_fn, 2, in2, &c, 1e-6);
}

Test(indexing, tensor_scatter_update_gradient_of_duplicates_follows_tf) {
    ct_tensor *t = CT_F32(CT_DIMS(3), 1, 2, 3), *u = CT_F32(CT_DIMS(2), 5, 6);
    ct_tape *tape = ct_tape_begin(&(ct_tape_opts){.persistent = true});
    ct_tape_watch(tape, t);
    ct_tape_watch(tape, u);
    ct_tensor *y = ct_tensor_scatter_nd_update(t, CT_I32(CT_DIMS(2, 1), 1, 1), u);
    ct_tape_end(tape);
    ct_tensor *src[2] = {t, u}, *g[2];
    CT_STATUS_OK(ct_tape_gradient_ex(tape, y, CT_F32(CT_DIMS(3), 10, 20, 30), 2, src, g, NULL));
    CT_EXPECT(g[0], CT_FLOAT32, CT_DIMS(3), 0, 10, 0, 30);
    CT_EXPECT(g[1], CT_FLOAT32, CT_DIMS(2), 0, 20, 20);
    ct_tape_free(tape);
}

/* ---- large tensors (the threaded paths) ---------------------------------- */

static void expect_host(const ct_tensor *t, const float *want, int64_t n) {
    CT_OK(t);
    cr_assert_eq(ct_tensor_size(t), n);
    float *got = malloc((size_t)n * sizeof *got);
    CT_STATUS_OK(ct_tensor_read(t, CT_FLOAT32, got, n));
    for (int64_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            float g = got[i], w = want[i];
            free(got);
            cr_assert_fail("element %lld is %g, expected %g", (long long)i, g, w);
        }
    free(got);
}

Test(indexing, large_tensors) {
    enum { R = 512, C = 600 };
    ct_tensor *x = iota(CT_FLOAT32, CT_DIMS(R, C));
    float *want = malloc((size_t)R * C * sizeof *want);
    /* x[::-1, 1::3] */
    int64_t n = 0;
    for (int i = R - 1; i >= 0; i--)
        for (int j = 1; j < C; j += 3) want[n++] = (float)(i * C + j);
    expect_host(ct_getitem(x, "::-1, 1::3"), want, n);
    /* x[:, ::-1] */
    n = 0;
    for (int i = 0; i < R; i++)
        for (int j = C - 1; j >= 0; j--) want[n++] = (float)(i * C + j);
    expect_host(ct_getitem(x, ":, ::-1"), want, n);
    /* gather columns 599, 0, 7 repeated */
    int32_t cols[300];
    for (int k = 0; k < 300; k++) cols[k] = (k * 7 + 599) % C;
    ct_tensor *ci = ct_constant(cols, CT_INT32, CT_DIMS(300));
    n = 0;
    for (int i = 0; i < R; i++)
        for (int k = 0; k < 300; k++) want[n++] = (float)(i * C + cols[k]);
    expect_host(ct_gather(x, ci, 1, 0), want, n);
    /* gather rows */
    n = 0;
    for (int k = 0; k < 300; k++)
        for (int j = 0; j < C; j++) want[n++] = (float)((cols[k] % R) * C + j);
    for (int k = 0; k < 300; k++) cols[k] %= R;
    expect_host(ct_gather(x, ct_constant(cols, CT_INT32, CT_DIMS(300)), 0, 0), want, n);
    /* the gather gradient (scatter-add) along each axis: counts of each index */
    ct_tape *tape = ct_tape_begin(&(ct_tape_opts){.persistent = true});
    ct_tape_watch(tape, x);
    ct_tensor *y1 = ct_gather(x, ci, 1, 0);
    ct_tensor *y0 = ct_gather(x, ct_constant(cols, CT_INT32, CT_DIMS(300)), 0, 0);
    ct_tape_end(tape);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(tape, y1, 1, &x, &g, NULL));
    int count[C] = {0};
    for (int k = 0; k < 300; k++) count[(k * 7 + 599) % C]++;
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) want[i * C + j] = (float)count[j];
    expect_host(g, want, (int64_t)R * C);
    CT_STATUS_OK(ct_tape_gradient(tape, y0, 1, &x, &g, NULL));
    int rc[R] = {0};
    for (int k = 0; k < 300; k++) rc[cols[k]]++;
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) want[i * C + j] = (float)rc[i];
    expect_host(g, want, (int64_t)R * C);
    ct_tape_free(tape);
    /* boolean_mask on rows and where_coords */
    bool *m = malloc(R);
    n = 0;
    for (int i = 0; i < R; i++) m[i] = i % 3 == 1;
    for (int i = 0; i < R; i++)
        if (m[i])
            for (int j = 0; j < C; j++) want[n++] = (float)(i * C + j);
    ct_tensor *mt = ct_constant(m, CT_BOOL, CT_DIMS(R));
    expect_host(ct_boolean_mask(x, mt, 0), want, n);
    n = 0;
    for (int i = 0; i < R; i++)
        if (m[i]) want[n++] = (float)i;
    expect_host(ct_where_coords(mt), want, n);
    free(m);
    free(want);
}

Test(indexing, large_scatter) {
    enum { K = 30, S = 5000 };
    ct_tensor *u = iota(CT_FLOAT64, CT_DIMS(K, S));
    int64_t idx[K];
    for (int k = 0; k < K; k++) idx[k] = k % 2;
    ct_tensor *out = ct_scatter_nd(ct_constant(idx, CT_INT64, CT_DIMS(K, 1)), u, CT_DIMS(2, S));
    CT_OK(out);
    double *got = malloc(2 * S * sizeof *got);
    CT_STATUS_OK(ct_tensor_read(out, CT_FLOAT64, got, 2 * S));
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < S; j++) {
            double w = 0;
            for (int k = r; k < K; k += 2) w += (double)k * S + j;
            cr_assert_eq(got[r * S + j], w, "element [%d,%d]", r, j);
        }
    free(got);
}
