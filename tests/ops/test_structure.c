/* Structure ops: transpose, concat, stack, unstack, split, tile, pad,
 * one_hot, reverse, and the view ops reshape, squeeze, expand_dims,
 * broadcast_to. Expected values are TensorFlow's. */
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(structure, .init = ct_test_begin, .fini = ct_test_end);

/* ---- helpers ------------------------------------------------------------------- */

/* 0, 1, 2, ... as a tensor of dtype (through float64). */
static ct_tensor *iota(ct_dtype dt, int rank, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = (double)(i % 251);
    ct_tensor *t = ct_cast(ct_constant(v, CT_FLOAT64, rank, shape), dt);
    free(v);
    return t;
}

static double *read_all(const ct_tensor *t) {
    CT_OK(t);
    int64_t n = ct_tensor_size(t);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    cr_assert_eq(ct_tensor_read(t, CT_FLOAT64, v, n), CT_OK, "%s", ct_last_error());
    return v;
}

static void unravel(int64_t k, int r, const int64_t *s, int64_t *idx) {
    for (int i = r - 1; i >= 0; i--) idx[i] = k % s[i], k /= s[i];
}

static int64_t ravel(int r, const int64_t *s, const int64_t *idx) {
    int64_t k = 0;
    for (int i = 0; i < r; i++) k = k * s[i] + idx[i];
    return k;
}

/* Checks y = transpose(x, perm) element by element. */
static void check_transpose(ct_dtype dt, int r, const int64_t *s, const int *perm) {
    ct_tensor *x = iota(dt, r, s), *y = ct_transpose(x, perm);
    CT_OK(y);
    cr_assert_eq(ct_tensor_dtype(y), dt);
    int64_t os[CT_MAX_RANK], n = ct_tensor_size(x);
    for (int d = 0; d < r; d++) os[d] = s[perm ? perm[d] : r - 1 - d];
    ct_expect_shape(y, r, os);
    double *xv = read_all(x), *yv = read_all(y);
    for (int64_t k = 0; k < n; k++) {
        int64_t oi[CT_MAX_RANK], ii[CT_MAX_RANK];
        unravel(k, r, os, oi);
        for (int d = 0; d < r; d++) ii[perm ? perm[d] : r - 1 - d] = oi[d];
        double e = xv[ravel(r, s, ii)];
        if (yv[k] != e) {
            double got = yv[k];
            free(xv);
            free(yv);
            cr_assert_fail("transpose element %lld is %g, expected %g", (long long)k, got, e);
        }
    }
    free(xv);
    free(yv);
}

/* ---- transpose ---------------------------------------------------------------- */

Test(structure, transpose_values) {
    ct_tensor *a = CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_transpose(a, NULL), CT_FLOAT32, CT_DIMS(3, 2), 0, 1, 4, 2, 5, 3, 6);
    CT_EXPECT(ct_transpose(a, (int[]){0, 1}), CT_FLOAT32, CT_DIMS(2, 3), 0, 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_transpose(ct_scalar(7), NULL), CT_FLOAT32, CT_SCALAR, 0, 7);
    ct_expect_shape(ct_transpose(ct_zeros(CT_FLOAT32, CT_DIMS(0, 3)), NULL), CT_DIMS(3, 0));
    CT_EXPECT(ct_transpose(CT_I32(CT_DIMS(1, 3), 1, 2, 3), NULL), CT_INT32, CT_DIMS(3, 1), 0,
              1, 2, 3);
}

Test(structure, transpose_all_kernels_and_dtypes) {
    /* Tiled 2-D (blocks not multiples of the tile), batched last-two-axes,
     * row copies, general permutations, size-1 axes that merge away. */
    check_transpose(CT_FLOAT32, 2, (int64_t[]){67, 131}, NULL);
    check_transpose(CT_FLOAT64, 3, (int64_t[]){3, 45, 37}, (int[]){0, 2, 1});
    check_transpose(CT_INT32, 3, (int64_t[]){4, 5, 6}, (int[]){1, 0, 2});
    check_transpose(CT_INT64, 4, (int64_t[]){2, 3, 4, 5}, (int[]){3, 1, 0, 2});
    check_transpose(CT_UINT8, 4, (int64_t[]){3, 1, 4, 5}, (int[]){2, 3, 1, 0});
    check_transpose(CT_FLOAT16, 3, (int64_t[]){5, 6, 7}, (int[]){2, 0, 1});
    check_transpose(CT_BFLOAT16, 3, (int64_t[]){5, 6, 7}, NULL);
    check_transpose(CT_BOOL, 3, (int64_t[]){3, 4, 5}, (int[]){1, 2, 0});
    check_transpose(CT_FLOAT32, 5, (int64_t[]){2, 3, 1, 4, 5}, (int[]){4, 2, 0, 3, 1});
    check_transpose(CT_FLOAT32, 4, (int64_t[]){2, 3, 4, 5}, (int[]){2, 3, 0, 1});
    check_transpose(CT_FLOAT32, 2, (int64_t[]){300, 400}, NULL); /* threaded */
}

Test(structure, transpose_errors) {
    ct_tensor *a = ct_zeros(CT_FLOAT32, CT_DIMS(2, 3));
    CT_FAILS(ct_transpose(a, (int[]){0, 0}), "ct_transpose: perm is not a permutation");
    CT_FAILS(ct_transpose(a, (int[]){0, 2}), "out of range");
    CT_FAILS(ct_transpose(a, (int[]){-1, 0}), "out of range");
}

static ct_tensor *f_transpose(ct_tensor *const *in, void *ctx) { return ct_transpose(in[0], ctx); }

Test(structure, transpose_gradient) {
    ct_tensor *x = iota(CT_FLOAT64, CT_DIMS(2, 3, 4));
    ct_gradcheck(f_transpose, 1, &x, (int[]){2, 0, 1}, 1e-6);
    ct_gradcheck(f_transpose, 1, &x, NULL, 1e-6);
}

/* ---- concat and stack ----------------------------------------------------------- */

Test(structure, concat_values) {
    ct_tensor *a = CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4), *b = CT_F32(CT_DIMS(2, 1), 5, 6);
    ct_tensor *e = ct_zeros(CT_FLOAT32, CT_DIMS(2, 0));
    CT_EXPECT(ct_concat(3, (ct_tensor *[]){a, e, b}, 1), CT_FLOAT32, CT_DIMS(2, 3), 0,
              1, 2, 5, 3, 4, 6);
    CT_EXPECT(ct_concat(2, (ct_tensor *[]){a, b}, -1), CT_FLOAT32, CT_DIMS(2, 3), 0,
              1, 2, 5, 3, 4, 6);
    CT_EXPECT(ct_concat(2, (ct_tensor *[]){a, a}, 0), CT_FLOAT32, CT_DIMS(4, 2), 0,
              1, 2, 3, 4, 1, 2, 3, 4);
    CT_EXPECT(ct_concat(1, (ct_tensor *[]){a}, 0), CT_FLOAT32, CT_DIMS(2, 2), 0, 1, 2, 3, 4);
    CT_EXPECT(ct_concat(2, (ct_tensor *[]){CT_I32(CT_DIMS(2), 1, 2), CT_I32(CT_DIMS(1), 3)}, 0),
              CT_INT32, CT_DIMS(3), 0, 1, 2, 3);
    CT_EXPECT(ct_concat(2, (ct_tensor *[]){CT_BOOLS(CT_DIMS(1), true), CT_BOOLS(CT_DIMS(2), false, true)}, 0),
              CT_BOOL, CT_DIMS(3), 0, 1, 0, 1);
    ct_tensor *h = ct_cast(a, CT_FLOAT16);
    CT_EXPECT(ct_concat(2, (ct_tensor *[]){h, h}, 1), CT_FLOAT16, CT_DIMS(2, 4), 0,
              1, 2, 1, 2, 3, 4, 3, 4);
    ct_expect_shape(ct_concat(2, (ct_tensor *[]){e, e}, 0), CT_DIMS(4, 0));
}

Test(structure, concat_many_inputs) {
    enum { N = 150 };
    ct_tensor *ts[N];
    double want[2 * N];
    for (int i = 0; i < N; i++) {
        ts[i] = CT_F64(CT_DIMS(1, 2), i, -i);
        want[2 * i] = i, want[2 * i + 1] = -i;
    }
    ct_expect(ct_concat(N, ts, 0), CT_FLOAT64, CT_DIMS(N, 2), want, 0);
    ct_tensor *s = ct_stack(N, ts, 1);
    ct_expect_shape(s, CT_DIMS(1, N, 2));
    ct_expect(ct_reshape(s, CT_DIMS(2 * N)), CT_FLOAT64, CT_DIMS(2 * N), want, 0);
}

Test(structure, concat_large_threaded) {
    ct_tensor *a = iota(CT_FLOAT32, CT_DIMS(600, 200)), *b = iota(CT_FLOAT32, CT_DIMS(600, 57));
    ct_tensor *c = ct_concat(2, (ct_tensor *[]){a, b}, 1);
    ct_expect_shape(c, CT_DIMS(600, 257));
    double *cv = read_all(c), *av = read_all(a), *bv = read_all(b);
    bool ok = true;
    for (int i = 0; i < 600 && ok; i++)
        for (int j = 0; j < 257 && ok; j++)
            ok = cv[i * 257 + j] == (j < 200 ? av[i * 200 + j] : bv[i * 57 + j - 200]);
    free(cv), free(av), free(bv);
    cr_assert(ok);
}

Test(structure, concat_errors) {
    ct_tensor *a = ct_zeros(CT_FLOAT32, CT_DIMS(2, 2)), *b = ct_zeros(CT_FLOAT32, CT_DIMS(3, 3));
    CT_FAILS(ct_concat(2, (ct_tensor *[]){a, b}, 0), "ct_concat: dimension 1 must be equal");
    CT_FAILS(ct_concat(2, (ct_tensor *[]){a, ct_zeros(CT_FLOAT32, CT_DIMS(2))}, 0), "ranks");
    CT_FAILS(ct_concat(2, (ct_tensor *[]){a, ct_zeros(CT_INT32, CT_DIMS(2, 2))}, 0), "dtype");
    CT_FAILS(ct_concat(2, (ct_tensor *[]){ct_scalar(1), ct_scalar(2)}, 0), "scalars");
    CT_FAILS(ct_concat(2, (ct_tensor *[]){a, a}, 2), "axis 2 is out of range");
    CT_FAILS(ct_concat(2, (ct_tensor *[]){a, a}, -3), "out of range");
    CT_FAILS(ct_concat(0, NULL, 0), "at least one");
    CT_FAILS(ct_concat(2, (ct_tensor *[]){a, NULL}, 0), "NULL");
}

static ct_tensor *f_concat(ct_tensor *const *in, void *ctx) {
    return ct_concat(3, in, *(int *)ctx);
}

Test(structure, concat_gradient) {
    ct_tensor *x[3] = {iota(CT_FLOAT64, CT_DIMS(2, 3)), iota(CT_FLOAT64, CT_DIMS(2, 1)),
                       iota(CT_FLOAT64, CT_DIMS(2, 2))};
    ct_gradcheck(f_concat, 3, x, &(int){-1}, 1e-6);
    ct_tensor *y[3] = {iota(CT_FLOAT64, CT_DIMS(1, 3)), iota(CT_FLOAT64, CT_DIMS(2, 3)),
                       iota(CT_FLOAT64, CT_DIMS(0, 3))};
    ct_gradcheck(f_concat, 3, y, &(int){0}, 1e-6);
}

Test(structure, stack_values_and_errors) {
    ct_tensor *a = CT_F32(CT_DIMS(2), 1, 2), *b = CT_F32(CT_DIMS(2), 3, 4);
    CT_EXPECT(ct_stack(2, (ct_tensor *[]){a, b}, 0), CT_FLOAT32, CT_DIMS(2, 2), 0, 1, 2, 3, 4);
    CT_EXPECT(ct_stack(2, (ct_tensor *[]){a, b}, 1), CT_FLOAT32, CT_DIMS(2, 2), 0, 1, 3, 2, 4);
    CT_EXPECT(ct_stack(2, (ct_tensor *[]){a, b}, -1), CT_FLOAT32, CT_DIMS(2, 2), 0, 1, 3, 2, 4);
    CT_EXPECT(ct_stack(3, (ct_tensor *[]){ct_scalar(1), ct_scalar(2), ct_scalar(3)}, 0),
              CT_FLOAT32, CT_DIMS(3), 0, 1, 2, 3);
    CT_EXPECT(ct_stack(1, (ct_tensor *[]){a}, 0), CT_FLOAT32, CT_DIMS(1, 2), 0, 1, 2);
    CT_EXPECT(ct_stack(2, (ct_tensor *[]){CT_I64(CT_DIMS(1), 5), CT_I64(CT_DIMS(1), 6)}, 1),
              CT_INT64, CT_DIMS(1, 2), 0, 5, 6);
    ct_expect_shape(ct_stack(2, (ct_tensor *[]){ct_zeros(CT_FLOAT32, CT_DIMS(0)),
                                                ct_zeros(CT_FLOAT32, CT_DIMS(0))}, 1),
                    CT_DIMS(0, 2));
    CT_FAILS(ct_stack(2, (ct_tensor *[]){a, CT_F32(CT_DIMS(3), 1, 2, 3)}, 0),
             "ct_stack: shapes and dtypes of all inputs must match");
    CT_FAILS(ct_stack(2, (ct_tensor *[]){a, b}, 2), "out of range");
    CT_FAILS(ct_stack(2, (ct_tensor *[]){a, b}, -3), "out of range");
}

static ct_tensor *f_stack(ct_tensor *const *in, void *ctx) { return ct_stack(2, in, *(int *)ctx); }

Test(structure, stack_gradient) {
    ct_tensor *x[2] = {iota(CT_FLOAT64, CT_DIMS(2, 3)), iota(CT_FLOAT64, CT_DIMS(2, 3))};
    ct_gradcheck(f_stack, 2, x, &(int){1}, 1e-6);
    ct_gradcheck(f_stack, 2, x, &(int){-1}, 1e-6);
}

/* ---- unstack and split ----------------------------------------------------------- */

Test(structure, unstack_values) {
    ct_tensor *a = CT_I32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6), *o[3];
    CT_STATUS_OK(ct_unstack(a, 1, o));
    CT_EXPECT(o[0], CT_INT32, CT_DIMS(2), 0, 1, 4);
    CT_EXPECT(o[2], CT_INT32, CT_DIMS(2), 0, 3, 6);
    CT_STATUS_OK(ct_unstack(a, -2, o));
    CT_EXPECT(o[1], CT_INT32, CT_DIMS(3), 0, 4, 5, 6);
    CT_STATUS_OK(ct_unstack(CT_F32(CT_DIMS(2), 7, 8), 0, o));
    CT_EXPECT(o[1], CT_FLOAT32, CT_SCALAR, 0, 8);
    CT_STATUS_OK(ct_unstack(ct_zeros(CT_FLOAT32, CT_DIMS(0, 3)), 0, o)); /* no outputs */
    CT_STATUS_OK(ct_unstack(ct_zeros(CT_FLOAT32, CT_DIMS(2, 0)), 0, o));
    ct_expect_shape(o[1], CT_DIMS(0));
    cr_assert_neq(ct_unstack(ct_scalar(1), 0, o), CT_OK);
    cr_assert(strstr(ct_last_error(), "ct_unstack: cannot split a scalar"), "%s", ct_last_error());
    cr_assert_neq(ct_unstack(a, 2, o), CT_OK);
    cr_assert(strstr(ct_last_error(), "out of range"), "%s", ct_last_error());
}

Test(structure, unstack_many) {
    enum { N = 200 };
    ct_tensor *o[N];
    CT_STATUS_OK(ct_unstack(iota(CT_FLOAT64, CT_DIMS(N, 2)), 0, o));
    for (int i = 0; i < N; i++) CT_EXPECT(o[i], CT_FLOAT64, CT_DIMS(2), 0, 2 * i % 251, (2 * i + 1) % 251);
}

static ct_tensor *f_unstack(ct_tensor *const *in, void *ctx) {
    ct_tensor *o[4];
    if (ct_unstack(in[0], *(int *)ctx, o)) return NULL;
    /* o[1] unconnected: its gradient is zero. */
    return ct_concat(3, (ct_tensor *[]){o[2], o[0], o[2]}, 0);
}

Test(structure, unstack_gradient) {
    ct_tensor *x = iota(CT_FLOAT64, CT_DIMS(2, 3, 4));
    ct_gradcheck(f_unstack, 1, &x, &(int){1}, 1e-6);
    ct_gradcheck(f_unstack, 1, &x, &(int){-1}, 1e-6);
}

Test(structure, split_values) {
    ct_tensor *a = iota(CT_FLOAT32, CT_DIMS(6, 2)), *o[6];
    CT_STATUS_OK(ct_split(a, 3, 0, o));
    CT_EXPECT(o[1], CT_FLOAT32, CT_DIMS(2, 2), 0, 4, 5, 6, 7);
    CT_STATUS_OK(ct_split(a, 2, -1, o));
    CT_EXPECT(o[1], CT_FLOAT32, CT_DIMS(6, 1), 0, 1, 3, 5, 7, 9, 11);
    CT_STATUS_OK(ct_split_sizes(a, 3, (int64_t[]){1, -1, 2}, 0, o));
    ct_expect_shape(o[0], CT_DIMS(1, 2));
    CT_EXPECT(o[1], CT_FLOAT32, CT_DIMS(3, 2), 0, 2, 3, 4, 5, 6, 7);
    CT_EXPECT(o[2], CT_FLOAT32, CT_DIMS(2, 2), 0, 8, 9, 10, 11);
    CT_STATUS_OK(ct_split_sizes(a, 3, (int64_t[]){0, 6, 0}, 0, o));
    ct_expect_shape(o[0], CT_DIMS(0, 2));
    CT_STATUS_OK(ct_split_sizes(a, 2, (int64_t[]){6, -1}, 0, o));
    ct_expect_shape(o[1], CT_DIMS(0, 2));
    CT_STATUS_OK(ct_split(a, 1, 1, o));
    ct_expect_shape(o[0], CT_DIMS(6, 2));
    /* Aligned parts along the first axis come back as views. */
    ct_tensor *big = iota(CT_INT32, CT_DIMS(4, 16));
    CT_STATUS_OK(ct_split(big, 2, 0, o));
    CT_EXPECT(ct_reduce_sum(ct_cast(o[1], CT_FLOAT64), CT_ALL, false), CT_FLOAT64, CT_SCALAR, 0,
              (32 + 63) * 32 / 2);
    CT_STATUS_OK(ct_split(CT_BOOLS(CT_DIMS(4), true, false, false, true), 2, 0, o));
    CT_EXPECT(o[1], CT_BOOL, CT_DIMS(2), 0, 0, 1);
}

Test(structure, split_many) {
    enum { N = 130 };
    ct_tensor *o[N];
    CT_STATUS_OK(ct_split(iota(CT_INT64, CT_DIMS(2, N)), N, 1, o));
    for (int i = 0; i < N; i++) CT_EXPECT(o[i], CT_INT64, CT_DIMS(2, 1), 0, i, (N + i) % 251);
}

Test(structure, split_errors) {
    ct_tensor *a = ct_zeros(CT_FLOAT32, CT_DIMS(5, 2)), *o[8];
    cr_assert_neq(ct_split(a, 2, 0, o), CT_OK);
    cr_assert(strstr(ct_last_error(), "ct_split: the number of splits 2 must evenly divide"),
              "%s", ct_last_error());
    cr_assert_neq(ct_split(a, 0, 0, o), CT_OK);
    cr_assert(strstr(ct_last_error(), "must be positive"), "%s", ct_last_error());
    cr_assert_neq(ct_split_sizes(a, 2, (int64_t[]){-1, -1}, 0, o), CT_OK);
    cr_assert(strstr(ct_last_error(), "at most one -1"), "%s", ct_last_error());
    cr_assert_neq(ct_split_sizes(a, 2, (int64_t[]){2, 2}, 0, o), CT_OK);
    cr_assert(strstr(ct_last_error(), "add up to 4"), "%s", ct_last_error());
    cr_assert_neq(ct_split_sizes(a, 2, (int64_t[]){6, -1}, 0, o), CT_OK);
    cr_assert(strstr(ct_last_error(), "add up to 6"), "%s", ct_last_error());
    cr_assert_neq(ct_split_sizes(a, 2, (int64_t[]){7, -2}, 0, o), CT_OK);
    cr_assert(strstr(ct_last_error(), "negative"), "%s", ct_last_error());
    cr_assert_neq(ct_split(a, 1, 2, o), CT_OK);
    cr_assert(strstr(ct_last_error(), "out of range"), "%s", ct_last_error());
    cr_assert_neq(ct_split(ct_scalar(1), 1, 0, o), CT_OK);
    cr_assert(strstr(ct_last_error(), "scalar"), "%s", ct_last_error());
}

static ct_tensor *f_split(ct_tensor *const *in, void *ctx) {
    ct_tensor *o[3];
    if (ct_split_sizes(in[0], 3, (int64_t[]){1, -1, 2}, *(int *)ctx, o)) return NULL;
    return ct_concat(2, (ct_tensor *[]){o[2], o[0]}, *(int *)ctx); /* o[1] unconnected */
}

Test(structure, split_gradient) {
    ct_tensor *x = iota(CT_FLOAT64, CT_DIMS(2, 5, 3));
    ct_gradcheck(f_split, 1, &x, &(int){1}, 1e-6);
    ct_tensor *y = iota(CT_FLOAT64, CT_DIMS(5, 16)); /* view path */
    ct_gradcheck(f_split, 1, &y, &(int){0}, 1e-6);
}

/* ---- tile ---------------------------------------------------------------------- */

Test(structure, tile_values) {
    ct_tensor *a = CT_I32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_tile(a, (int64_t[]){1, 2}), CT_INT32, CT_DIMS(2, 6), 0,
              1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6);
    CT_EXPECT(ct_tile(a, (int64_t[]){2, 1}), CT_INT32, CT_DIMS(4, 3), 0,
              1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_tile(CT_F32(CT_DIMS(2, 1), 1, 2), (int64_t[]){2, 3}), CT_FLOAT32, CT_DIMS(4, 3),
              0, 1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2);
    CT_EXPECT(ct_tile(ct_scalar(3), NULL), CT_FLOAT32, CT_SCALAR, 0, 3);
    ct_expect_shape(ct_tile(a, (int64_t[]){0, 2}), CT_DIMS(0, 6));
    ct_expect_shape(ct_tile(ct_zeros(CT_UINT8, CT_DIMS(0, 2)), (int64_t[]){3, 2}), CT_DIMS(0, 4));
    CT_EXPECT(ct_tile(CT_BOOLS(CT_DIMS(2), true, false), (int64_t[]){2}), CT_BOOL, CT_DIMS(4), 0,
              1, 0, 1, 0);
    CT_EXPECT(ct_tile(ct_cast(CT_F32(CT_DIMS(1, 2), 1.5, 2), CT_BFLOAT16), (int64_t[]){2, 1}),
              CT_BFLOAT16, CT_DIMS(2, 2), 0, 1.5, 2, 1.5, 2);
    /* Rank 3, every axis tiled, against a reference. */
    ct_tensor *x = iota(CT_FLOAT64, CT_DIMS(2, 3, 4)), *y = ct_tile(x, (int64_t[]){3, 2, 5});
    ct_expect_shape(y, CT_DIMS(6, 6, 20));
    double *xv = read_all(x), *yv = read_all(y);
    bool ok = true;
    for (int64_t k = 0; k < 6 * 6 * 20 && ok; k++) {
        int64_t i[3];
        unravel(k, 3, (int64_t[]){6, 6, 20}, i);
        ok = yv[k] == xv[(i[0] % 2) * 12 + (i[1] % 3) * 4 + i[2] % 4];
    }
    free(xv), free(yv);
    cr_assert(ok);
}

Test(structure, tile_errors) {
    CT_FAILS(ct_tile(ct_zeros(CT_FLOAT32, CT_DIMS(2)), (int64_t[]){-1}),
             "ct_tile: multiples[0] = -1 must be non-negative");
    CT_FAILS(ct_tile(ct_zeros(CT_FLOAT32, CT_DIMS(2)), NULL), "NULL");
}

static ct_tensor *f_tile(ct_tensor *const *in, void *ctx) { return ct_tile(in[0], ctx); }

Test(structure, tile_gradient) {
    ct_tensor *x = iota(CT_FLOAT64, CT_DIMS(2, 1, 3));
    ct_gradcheck(f_tile, 1, &x, (int64_t[]){2, 3, 2}, 1e-6);
    ct_gradcheck(f_tile, 1, &x, (int64_t[]){1, 1, 1}, 1e-6);
    ct_gradcheck(f_tile, 1, &x, (int64_t[]){1, 0, 2}, 1e-6);
    /* Ten split axes: more than one view can hold, folded one at a time. */
    ct_tensor *z = iota(CT_FLOAT64, CT_DIMS(2, 2, 2, 2, 2));
    ct_gradcheck(f_tile, 1, &z, (int64_t[]){2, 2, 2, 2, 2}, 1e-6);
}

/* ---- pad ----------------------------------------------------------------------- */

Test(structure, pad_constant) {
    ct_tensor *t = CT_I32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_pad(t, (int64_t[]){1, 1, 2, 2}, CT_PAD_CONSTANT, 0), CT_INT32, CT_DIMS(4, 7), 0,
              0, 0, 0, 0, 0, 0, 0,
              0, 0, 1, 2, 3, 0, 0,
              0, 0, 4, 5, 6, 0, 0,
              0, 0, 0, 0, 0, 0, 0);
    CT_EXPECT(ct_pad(CT_F32(CT_DIMS(2), 1, 2), (int64_t[]){0, 2}, CT_PAD_CONSTANT, -1.5),
              CT_FLOAT32, CT_DIMS(4), 0, 1, 2, -1.5, -1.5);
    CT_EXPECT(ct_pad(ct_cast(CT_F32(CT_DIMS(1), 2), CT_FLOAT16), (int64_t[]){1, 0},
                     CT_PAD_CONSTANT, 0.5), CT_FLOAT16, CT_DIMS(2), 0, 0.5, 2);
    CT_EXPECT(ct_pad(CT_BOOLS(CT_DIMS(1), false), (int64_t[]){1, 1}, CT_PAD_CONSTANT, 1),
              CT_BOOL, CT_DIMS(3), 0, 1, 0, 1);
    CT_EXPECT(ct_pad(ct_scalar(4), NULL, CT_PAD_CONSTANT, 0), CT_FLOAT32, CT_SCALAR, 0, 4);
    CT_EXPECT(ct_pad(ct_zeros(CT_FLOAT64, CT_DIMS(0, 1)), (int64_t[]){1, 0, 0, 1},
                     CT_PAD_CONSTANT, 9), CT_FLOAT64, CT_DIMS(1, 2), 0, 9, 9);
    CT_EXPECT(ct_pad(CT_F64(CT_DIMS(1), NAN), (int64_t[]){1, 0}, CT_PAD_CONSTANT, INFINITY),
              CT_FLOAT64, CT_DIMS(2), 0, INFINITY, NAN);
}

Test(structure, pad_mirror) {
    ct_tensor *t = CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_pad(t, (int64_t[]){1, 1, 2, 2}, CT_PAD_REFLECT, 0), CT_FLOAT32, CT_DIMS(4, 7), 0,
              6, 5, 4, 5, 6, 5, 4,
              3, 2, 1, 2, 3, 2, 1,
              6, 5, 4, 5, 6, 5, 4,
              3, 2, 1, 2, 3, 2, 1);
    CT_EXPECT(ct_pad(t, (int64_t[]){1, 1, 2, 2}, CT_PAD_SYMMETRIC, 0), CT_FLOAT32, CT_DIMS(4, 7),
              0,
              2, 1, 1, 2, 3, 3, 2,
              2, 1, 1, 2, 3, 3, 2,
              5, 4, 4, 5, 6, 6, 5,
              5, 4, 4, 5, 6, 6, 5);
    CT_EXPECT(ct_pad(CT_I64(CT_DIMS(3), 1, 2, 3), (int64_t[]){3, 3}, CT_PAD_SYMMETRIC, 0),
              CT_INT64, CT_DIMS(9), 0, 3, 2, 1, 1, 2, 3, 3, 2, 1);
    CT_EXPECT(ct_pad(CT_I64(CT_DIMS(3), 1, 2, 3), (int64_t[]){2, 0}, CT_PAD_REFLECT, 0),
              CT_INT64, CT_DIMS(5), 0, 3, 2, 1, 2, 3);
    CT_EXPECT(ct_pad(ct_scalar(4), NULL, CT_PAD_REFLECT, 0), CT_FLOAT32, CT_SCALAR, 0, 4);
    ct_expect_shape(ct_pad(ct_zeros(CT_FLOAT32, CT_DIMS(0, 2)), (int64_t[]){0, 0, 1, 1},
                           CT_PAD_SYMMETRIC, 0), CT_DIMS(0, 4));
}

Test(structure, pad_errors) {
    ct_tensor *t = ct_zeros(CT_FLOAT32, CT_DIMS(2, 3));
    CT_FAILS(ct_pad(t, (int64_t[]){-1, 0, 0, 0}, CT_PAD_CONSTANT, 0),
             "ct_pad: paddings must be non-negative");
    CT_FAILS(ct_pad(t, (int64_t[]){0, 0, 3, 0}, CT_PAD_REFLECT, 0), "less than the dimension");
    CT_FAILS(ct_pad(t, (int64_t[]){2, 0, 0, 0}, CT_PAD_REFLECT, 0), "less than the dimension");
    CT_FAILS(ct_pad(t, (int64_t[]){0, 0, 0, 4}, CT_PAD_SYMMETRIC, 0), "no greater than");
    CT_FAILS(ct_pad(ct_zeros(CT_FLOAT32, CT_DIMS(0)), (int64_t[]){0, 0}, CT_PAD_REFLECT, 0),
             "less than the dimension");
    CT_FAILS(ct_pad(t, NULL, CT_PAD_CONSTANT, 0), "NULL");
    CT_FAILS(ct_pad(t, (int64_t[]){0, 0, 0, 0}, (ct_pad_mode)7, 0), "mode");
    CT_OK(ct_pad(t, (int64_t[]){2, 2, 3, 3}, CT_PAD_SYMMETRIC, 0));
}

typedef struct {
    int64_t pad[6];
    ct_pad_mode mode;
} pad_ctx;

static ct_tensor *f_pad(ct_tensor *const *in, void *ctx) {
    const pad_ctx *p = ctx;
    return ct_pad(in[0], p->pad, p->mode, 3);
}

Test(structure, pad_gradient) {
    ct_tensor *x = iota(CT_FLOAT64, CT_DIMS(3, 4, 2));
    ct_gradcheck(f_pad, 1, &x, &(pad_ctx){{1, 2, 0, 3, 2, 0}, CT_PAD_CONSTANT}, 1e-6);
    ct_gradcheck(f_pad, 1, &x, &(pad_ctx){{2, 2, 0, 3, 1, 0}, CT_PAD_REFLECT}, 1e-6);
    ct_gradcheck(f_pad, 1, &x, &(pad_ctx){{3, 1, 4, 2, 2, 2}, CT_PAD_SYMMETRIC}, 1e-6);
    ct_tensor *s = ct_scalar_of(CT_FLOAT64, 2);
    ct_gradcheck(f_pad, 1, &s, &(pad_ctx){{0}, CT_PAD_REFLECT}, 1e-6);
}

/* TF's MirrorPadGrad example: folding [[1,2,3],[4,5,6],[7,8,9]] padded by
 * [[0,1],[0,1]] SYMMETRIC gives [[1,5],[11,28]]. */
Test(structure, mirror_pad_grad_matches_tf) {
    ct_tensor *x = ct_zeros(CT_FLOAT32, CT_DIMS(2, 2));
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, x);
    ct_tensor *y = ct_pad(x, (int64_t[]){0, 1, 0, 1}, CT_PAD_SYMMETRIC, 0);
    ct_tape_end(tape);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient_ex(tape, y, CT_F32(CT_DIMS(3, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9),
                                     1, &x, &g, NULL));
    CT_EXPECT(g, CT_FLOAT32, CT_DIMS(2, 2), 0, 1, 5, 11, 28);
    ct_tape_free(tape);
}

Test(structure, pad_gradient_half) {
    ct_tensor *x = ct_cast(CT_F32(CT_DIMS(3), 1, 2, 3), CT_FLOAT16);
    ct_tape *tape = ct_tape_begin(&(ct_tape_opts){.persistent = true});
    ct_tape_watch(tape, x);
    ct_tensor *r = ct_pad(x, (int64_t[]){1, 1}, CT_PAD_REFLECT, 0);
    ct_tensor *c = ct_pad(x, (int64_t[]){2, 1}, CT_PAD_CONSTANT, 0);
    ct_tape_end(tape);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(tape, r, 1, &x, &g, NULL));
    CT_EXPECT(g, CT_FLOAT16, CT_DIMS(3), 0, 1, 3, 1);
    CT_STATUS_OK(ct_tape_gradient(tape, c, 1, &x, &g, NULL));
    CT_EXPECT(g, CT_FLOAT16, CT_DIMS(3), 0, 1, 1, 1);
    ct_tape_free(tape);
}

/* d/dx of sum(w * pad(x)^2), differentiated again: exercises the
 * gradients of the gradient ops (crop and MirrorPadGrad). */
static ct_tensor *f_pad_grad(ct_tensor *const *in, void *ctx) {
    const pad_ctx *p = ctx;
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, in[0]);
    ct_tensor *y = ct_pad(in[0], p->pad, p->mode, 0);
    CT_OK(y);
    ct_tensor *w = ct_reshape(ct_range(1, 1 + (double)ct_tensor_size(y), 1, CT_FLOAT64),
                              ct_tensor_rank(y), ct_tensor_shape(y));
    ct_tensor *l = ct_reduce_sum(ct_multiply(ct_square(y), w), CT_ALL, false);
    ct_tape_end(tape);
    ct_tensor *g = NULL;
    if (ct_tape_gradient(tape, l, 1, in, &g, NULL)) g = NULL;
    ct_tape_free(tape);
    return g;
}

Test(structure, pad_second_order) {
    ct_tensor *x = iota(CT_FLOAT64, CT_DIMS(3, 4));
    ct_gradcheck(f_pad_grad, 1, &x, &(pad_ctx){{2, 1, 1, 3}, CT_PAD_REFLECT}, 1e-6);
    ct_gradcheck(f_pad_grad, 1, &x, &(pad_ctx){{3, 1, 1, 4}, CT_PAD_SYMMETRIC}, 1e-6);
    ct_gradcheck(f_pad_grad, 1, &x, &(pad_ctx){{1, 0, 2, 1}, CT_PAD_CONSTANT}, 1e-6);
}

/* ---- one_hot -------------------------------------------------------------------- */

Test(structure, one_hot_values) {
    ct_tensor *i = CT_I32(CT_DIMS(4), 0, 2, -1, 3);
    CT_EXPECT(ct_one_hot(i, 3, 1, 0, -1, CT_FLOAT32), CT_FLOAT32, CT_DIMS(4, 3), 0,
              1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0);
    CT_EXPECT(ct_one_hot(i, 3, 5, -1, 0, CT_INT32), CT_INT32, CT_DIMS(3, 4), 0,
              5, -1, -1, -1, -1, -1, -1, -1, -1, 5, -1, -1);
    CT_EXPECT(ct_one_hot(ct_cast(CT_I32(CT_DIMS(2), 1, 200), CT_UINT8), 2, 1, 0, -1, CT_BOOL),
              CT_BOOL, CT_DIMS(2, 2), 0, 0, 1, 0, 0);
    CT_EXPECT(ct_one_hot(CT_I64(CT_DIMS(2), 1, 0), 2, 0.5, 0.25, -1, CT_FLOAT16), CT_FLOAT16,
              CT_DIMS(2, 2), 0, 0.25, 0.5, 0.5, 0.25);
    CT_EXPECT(ct_one_hot(CT_I64(CT_DIMS(2), 1, 0), 2, 1, 0, -1, CT_FLOAT64), CT_FLOAT64,
              CT_DIMS(2, 2), 0, 0, 1, 1, 0);
    /* Rank 2 indices, the new axis in the middle: out[a, d, b]. */
    CT_EXPECT(ct_one_hot(CT_I32(CT_DIMS(2, 2), 0, 1, 1, 5), 2, 1, 0, 1, CT_UINT8), CT_UINT8,
              CT_DIMS(2, 2, 2), 0, 1, 0, 0, 1, 0, 0, 1, 0);
    CT_EXPECT(ct_one_hot(ct_scalar_of(CT_INT32, 1), 3, 1, 0, -1, CT_FLOAT32), CT_FLOAT32,
              CT_DIMS(3), 0, 0, 1, 0);
    ct_expect_shape(ct_one_hot(i, 0, 1, 0, -1, CT_FLOAT32), CT_DIMS(4, 0));
    ct_expect_shape(ct_one_hot(ct_zeros(CT_INT32, CT_DIMS(0)), 3, 1, 0, -1, CT_FLOAT32),
                    CT_DIMS(0, 3));
    ct_expect_shape(ct_one_hot(CT_I32(CT_DIMS(2, 3), 0, 0, 0, 0, 0, 0), 4, 1, 0, 2, CT_FLOAT32),
                    CT_DIMS(2, 3, 4));
}

Test(structure, one_hot_errors) {
    ct_tensor *i = CT_I32(CT_DIMS(2), 0, 1);
    CT_FAILS(ct_one_hot(CT_F32(CT_DIMS(1), 0), 2, 1, 0, -1, CT_FLOAT32),
             "ct_one_hot: indices must be int32, int64 or uint8");
    CT_FAILS(ct_one_hot(i, -1, 1, 0, -1, CT_FLOAT32), "depth must be non-negative");
    CT_FAILS(ct_one_hot(i, 2, 1, 0, -2, CT_FLOAT32), "axis must be -1 or in [0, 1]");
    CT_FAILS(ct_one_hot(i, 2, 1, 0, 2, CT_FLOAT32), "axis");
}

Test(structure, one_hot_is_not_differentiable) {
    ct_tensor *x = ct_scalar_of(CT_FLOAT64, 2);
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, x);
    ct_tensor *y = ct_reduce_sum(ct_multiply(x, ct_one_hot(CT_I32(CT_DIMS(2), 0, 1), 2, 1, 0, -1,
                                                           CT_FLOAT64)), CT_ALL, false);
    ct_tape_end(tape);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &x, &g, NULL));
    CT_EXPECT(g, CT_FLOAT64, CT_SCALAR, 0, 2);
    ct_tape_free(tape);
}

/* ---- reverse ------------------------------------------------------------------- */

Test(structure, reverse_values) {
    ct_tensor *a = CT_I32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_reverse(a, CT_AXES(1)), CT_INT32, CT_DIMS(2, 3), 0, 3, 2, 1, 6, 5, 4);
    CT_EXPECT(ct_reverse(a, CT_AXES(-2)), CT_INT32, CT_DIMS(2, 3), 0, 4, 5, 6, 1, 2, 3);
    CT_EXPECT(ct_reverse(a, CT_AXES(0, 1)), CT_INT32, CT_DIMS(2, 3), 0, 6, 5, 4, 3, 2, 1);
    CT_EXPECT(ct_reverse(a, (const int[]){0}, 0), CT_INT32, CT_DIMS(2, 3), 0, 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_reverse(ct_scalar(2), (const int[]){0}, 0), CT_FLOAT32, CT_SCALAR, 0, 2);
    CT_EXPECT(ct_reverse(CT_BOOLS(CT_DIMS(3), true, false, false), CT_AXES(0)), CT_BOOL,
              CT_DIMS(3), 0, 0, 0, 1);
    CT_EXPECT(ct_reverse(ct_cast(CT_F32(CT_DIMS(1, 2), 1, 2), CT_FLOAT16), CT_AXES(0, 1)),
              CT_FLOAT16, CT_DIMS(1, 2), 0, 2, 1);
    ct_expect_shape(ct_reverse(ct_zeros(CT_FLOAT32, CT_DIMS(0, 2)), CT_AXES(1)), CT_DIMS(0, 2));
    CT_EXPECT(ct_reverse(a, CT_ALL), CT_INT32, CT_DIMS(2, 3), 0, 6, 5, 4, 3, 2, 1);
    /* Rank 4 against a reference. */
    int64_t s[4] = {2, 3, 4, 5};
    ct_tensor *x = iota(CT_INT64, 4, s), *y = ct_reverse(x, CT_AXES(0, 2, 3));
    double *xv = read_all(x), *yv = read_all(y);
    bool ok = true;
    for (int64_t k = 0; k < 120 && ok; k++) {
        int64_t i[4];
        unravel(k, 4, s, i);
        i[0] = 1 - i[0], i[2] = 3 - i[2], i[3] = 4 - i[3];
        ok = yv[k] == xv[ravel(4, s, i)];
    }
    free(xv), free(yv);
    cr_assert(ok);
}

Test(structure, reverse_errors) {
    ct_tensor *a = ct_zeros(CT_FLOAT32, CT_DIMS(2, 3));
    CT_FAILS(ct_reverse(a, CT_AXES(0, -2)), "ct_reverse: axis -2 is listed twice");
    CT_FAILS(ct_reverse(a, CT_AXES(2)), "out of range");
}

static ct_tensor *f_reverse(ct_tensor *const *in, void *ctx) {
    return ct_reverse(in[0], CT_AXES(0, -1));
}

Test(structure, reverse_gradient) {
    ct_tensor *x = iota(CT_FLOAT64, CT_DIMS(2, 3, 4));
    ct_gradcheck(f_reverse, 1, &x, NULL, 1e-6);
}

/* Sizes above the threading grain, against element-wise references. */
Test(structure, large_threaded) {
    int64_t s[2] = {300, 500};
    ct_tensor *x = iota(CT_FLOAT32, 2, s);
    double *xv = read_all(x);
    ct_tensor *p = ct_pad(x, (int64_t[]){2, 3, 4, 1}, CT_PAD_REFLECT, 0);
    ct_tensor *r = ct_reverse(x, CT_AXES(0, 1));
    ct_tensor *t = ct_tile(x, (int64_t[]){2, 2});
    ct_tensor *h = ct_one_hot(ct_cast(ct_reshape(x, CT_DIMS(-1)), CT_INT32), 300, 1, 0, -1,
                              CT_UINT8);
    double *pv = read_all(p), *rv = read_all(r), *tv = read_all(t), *hv = read_all(h);
    bool ok = true;
    for (int64_t i = 0; i < 305 && ok; i++)
        for (int64_t j = 0; j < 505 && ok; j++) {
            int64_t a = i - 2, b = j - 4;
            a = a < 0 ? -a : a >= 300 ? 598 - a : a;
            b = b < 0 ? -b : b >= 500 ? 998 - b : b;
            ok = pv[i * 505 + j] == xv[a * 500 + b];
        }
    cr_expect(ok, "pad");
    for (int64_t k = 0; k < 150000 && ok; k++) ok = rv[k] == xv[149999 - k];
    cr_expect(ok, "reverse");
    for (int64_t i = 0; i < 600 && ok; i++)
        for (int64_t j = 0; j < 1000 && ok; j++) ok = tv[i * 1000 + j] == xv[i % 300 * 500 + j % 500];
    cr_expect(ok, "tile");
    for (int64_t k = 0; k < 150000 && ok; k++)
        for (int64_t d = 0; d < 300 && ok; d++) ok = hv[k * 300 + d] == (xv[k] == d);
    cr_expect(ok, "one_hot");
    free(xv), free(pv), free(rv), free(tv), free(hv);
}

/* ---- view ops: reshape, squeeze, expand_dims, broadcast_to -------------------- */

Test(structure, reshape) {
    ct_tensor *a = iota(CT_FLOAT32, CT_DIMS(2, 3));
    CT_EXPECT(ct_reshape(a, CT_DIMS(3, -1)), CT_FLOAT32, CT_DIMS(3, 2), 0, 0, 1, 2, 3, 4, 5);
    CT_EXPECT(ct_reshape(a, CT_DIMS(-1)), CT_FLOAT32, CT_DIMS(6), 0, 0, 1, 2, 3, 4, 5);
    CT_EXPECT(ct_reshape(CT_F32(CT_DIMS(1), 5), CT_SCALAR), CT_FLOAT32, CT_SCALAR, 0, 5);
    ct_expect_shape(ct_reshape(ct_zeros(CT_FLOAT32, CT_DIMS(0, 3)), CT_DIMS(-1, 3)),
                    CT_DIMS(0, 3));
    CT_FAILS(ct_reshape(a, CT_DIMS(4, -1)), "ct_reshape: cannot reshape");
    CT_FAILS(ct_reshape(a, CT_DIMS(-1, -1)), "one -1");
    CT_FAILS(ct_reshape(a, CT_DIMS(5)), "cannot reshape");
    CT_FAILS(ct_reshape(a, CT_DIMS(-2, -3)), "no other negative");
    CT_FAILS(ct_reshape(ct_zeros(CT_FLOAT32, CT_DIMS(0, 3)), CT_DIMS(-1, 0)), "cannot reshape");
}

Test(structure, squeeze_and_expand_dims) {
    ct_tensor *a = ct_zeros(CT_FLOAT32, CT_DIMS(1, 2, 1, 3));
    ct_expect_shape(ct_squeeze(a, CT_ALL), CT_DIMS(2, 3));
    ct_expect_shape(ct_squeeze(a, CT_AXES(2)), CT_DIMS(1, 2, 3));
    ct_expect_shape(ct_squeeze(a, CT_AXES(-4)), CT_DIMS(2, 1, 3));
    ct_expect_shape(ct_squeeze(ct_zeros(CT_FLOAT32, CT_DIMS(1, 1)), CT_ALL), 0, NULL);
    CT_FAILS(ct_squeeze(a, CT_AXES(1)), "ct_squeeze: cannot squeeze axis 1");
    CT_FAILS(ct_squeeze(a, CT_AXES(4)), "out of range");
    ct_expect_shape(ct_expand_dims(a, -1), CT_DIMS(1, 2, 1, 3, 1));
    ct_expect_shape(ct_expand_dims(a, 0), CT_DIMS(1, 1, 2, 1, 3));
    ct_expect_shape(ct_expand_dims(a, -5), CT_DIMS(1, 1, 2, 1, 3));
    ct_expect_shape(ct_expand_dims(ct_scalar(1), -1), CT_DIMS(1));
    CT_FAILS(ct_expand_dims(a, 5), "ct_expand_dims: axis 5 is out of range");
    CT_FAILS(ct_expand_dims(a, -6), "out of range");
}

static ct_tensor *f_squeeze_expand(ct_tensor *const *in, void *ctx) {
    return ct_expand_dims(ct_squeeze(in[0], CT_ALL), -2);
}

Test(structure, view_gradients) {
    ct_tensor *x = iota(CT_FLOAT64, CT_DIMS(1, 3, 1, 2));
    ct_gradcheck(f_squeeze_expand, 1, &x, NULL, 1e-6);
}

Test(structure, broadcast_to) {
    CT_EXPECT(ct_broadcast_to(CT_F32(CT_DIMS(3), 1, 2, 3), CT_DIMS(2, 3)), CT_FLOAT32,
              CT_DIMS(2, 3), 0, 1, 2, 3, 1, 2, 3);
    CT_EXPECT(ct_broadcast_to(CT_I32(CT_DIMS(2, 1), 1, 2), CT_DIMS(2, 3)), CT_INT32,
              CT_DIMS(2, 3), 0, 1, 1, 1, 2, 2, 2);
    CT_EXPECT(ct_broadcast_to(ct_scalar(4), CT_DIMS(2)), CT_FLOAT32, CT_DIMS(2), 0, 4, 4);
    ct_expect_shape(ct_broadcast_to(CT_F32(CT_DIMS(1), 1), CT_DIMS(0)), CT_DIMS(0));
    CT_FAILS(ct_broadcast_to(CT_F32(CT_DIMS(3), 1, 2, 3), CT_DIMS(2, 2)),
             "ct_broadcast_to: cannot broadcast");
    CT_FAILS(ct_broadcast_to(CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6), CT_DIMS(3)),
             "cannot broadcast");
}

static ct_tensor *f_broadcast(ct_tensor *const *in, void *ctx) {
    return ct_broadcast_to(in[0], CT_DIMS(2, 3, 4));
}

Test(structure, broadcast_to_gradient) {
    ct_tensor *x = iota(CT_FLOAT64, CT_DIMS(3, 1));
    ct_gradcheck(f_broadcast, 1, &x, NULL, 1e-6);
}
