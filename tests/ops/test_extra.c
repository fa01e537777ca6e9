/* add_n, clip_by_norm / global_norm, matrix diag / band ops, eigvalsh /
 * eigvals, segment reductions and shape / size / rank tensors. Expected
 * values are TensorFlow's (its docs and kernel tests where they give one). */
#include <float.h>
#include <stdint.h>
#include <string.h>

#include "support.h"

TestSuite(extra, .init = ct_test_begin, .fini = ct_test_end);

/* Deterministic float64 values in [-1, 1) of a shape. */
static ct_tensor *rnd(int rank, const int64_t *shape, int seed) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    double v[256];
    cr_assert(n <= 256);
    uint32_t s = 2463534242u + (uint32_t)seed * 7919u;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        v[i] = (double)(s % 20000) / 10000.0 - 1.0;
    }
    return ct_constant(v, CT_FLOAT64, rank, shape);
}

/* ---- add_n ------------------------------------------------------------------------ */

Test(extra, add_n_values) {
    ct_tensor *ts[3] = {CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4), CT_F32(CT_DIMS(2, 2), 10, 20, 30, 40),
                        CT_F32(CT_DIMS(2, 2), 0.5, NAN, INFINITY, -4)};
    CT_EXPECT(ct_add_n(3, ts), CT_FLOAT32, CT_DIMS(2, 2), 0, 11.5, NAN, INFINITY, 40);
    CT_EXPECT(ct_add_n(1, ts), CT_FLOAT32, CT_DIMS(2, 2), 0, 1, 2, 3, 4);
    ct_tensor *is[2] = {CT_I32(CT_DIMS(3), 1, -2, 3), CT_I32(CT_DIMS(3), 4, 5, -6)};
    CT_EXPECT(ct_add_n(2, is), CT_INT32, CT_DIMS(3), 0, 5, 3, -3);
    ct_tensor *ls[2] = {CT_I64(CT_DIMS(1), INT64_C(1) << 40), CT_I64(CT_DIMS(1), 1)};
    CT_EXPECT(ct_add_n(2, ls), CT_INT64, CT_DIMS(1), 0, (double)((INT64_C(1) << 40) + 1));
    ct_tensor *ss[2] = {ct_scalar(2), ct_scalar(3)};
    CT_EXPECT(ct_add_n(2, ss), CT_FLOAT32, CT_SCALAR, 0, 5);
    ct_tensor *es[2] = {ct_zeros(CT_FLOAT64, CT_DIMS(0, 3)), ct_zeros(CT_FLOAT64, CT_DIMS(0, 3))};
    ct_expect_shape(ct_add_n(2, es), CT_DIMS(0, 3));
    ct_tensor *hs[2] = {ct_cast(CT_F32(CT_DIMS(2), 1, 2), CT_FLOAT16),
                        ct_cast(CT_F32(CT_DIMS(2), 0.5, 4), CT_FLOAT16)};
    CT_EXPECT(ct_add_n(2, hs), CT_FLOAT16, CT_DIMS(2), 0, 1.5, 6);
}

Test(extra, add_n_many_inputs) {
    /* More inputs than one op call takes: summed in groups. */
    ct_tensor *ts[150];
    for (int i = 0; i < 150; i++) ts[i] = ct_scalar_of(CT_FLOAT64, i);
    CT_EXPECT(ct_add_n(150, ts), CT_FLOAT64, CT_SCALAR, 0, 149 * 150 / 2);
    ts[100] = ct_zeros(CT_FLOAT64, CT_DIMS(1));
    CT_FAILS(ct_add_n(150, ts), "input 100");
}

Test(extra, add_n_errors) {
    ct_tensor *a = CT_F32(CT_DIMS(2), 1, 2);
    ct_tensor *bad_shape[2] = {a, CT_F32(CT_DIMS(3), 1, 2, 3)};
    CT_FAILS(ct_add_n(2, bad_shape), "same shape");
    ct_tensor *bcast[2] = {a, ct_scalar(1)};
    CT_FAILS(ct_add_n(2, bcast), "same shape");
    ct_tensor *bad_dtype[2] = {a, CT_F64(CT_DIMS(2), 1, 2)};
    CT_FAILS(ct_add_n(2, bad_dtype), "different dtypes");
    ct_tensor *bools[2] = {CT_BOOLS(CT_DIMS(1), true), CT_BOOLS(CT_DIMS(1), true)};
    CT_FAILS(ct_add_n(2, bools), "numeric");
    CT_FAILS(ct_add_n(0, bools), "at least one");
    ct_tensor *nul[2] = {a, NULL};
    CT_FAILS(ct_add_n(2, nul), "ct_add_n");
}

static ct_tensor *f_add_n(ct_tensor *const *in, void *ctx) {
    ct_tensor *ts[4] = {in[0], in[1], in[2], in[0]};
    return ct_add_n(ctx ? 4 : 3, ts);
}

Test(extra, add_n_gradient) {
    ct_tensor *in[3] = {rnd(CT_DIMS(2, 3), 1), rnd(CT_DIMS(2, 3), 2), rnd(CT_DIMS(2, 3), 3)};
    ct_gradcheck(f_add_n, 3, in, NULL, 1e-6);
    ct_gradcheck(f_add_n, 3, in, (void *)1, 1e-6); /* in[0] used twice */
}

/* ---- clip_by_norm / global_norm ------------------------------------------------- */

Test(extra, clip_by_norm_values) {
    /* TF's docstring example. */
    ct_tensor *x = CT_F32(CT_DIMS(1, 5), 1, 2, 3, 4, 5);
    CT_EXPECT(ct_clip_by_norm(x, 2.0, CT_ALL), CT_FLOAT32, CT_DIMS(1, 5), 1e-6, 0.26967996,
              0.5393599, 0.80903983, 1.0787199, 1.3483998);
    /* Under the limit: unchanged. */
    CT_EXPECT(ct_clip_by_norm(x, 100, CT_ALL), CT_FLOAT32, CT_DIMS(1, 5), 0, 1, 2, 3, 4, 5);
    /* Per row (axes 1 and -1), a zero row stays zero. */
    ct_tensor *m = CT_F64(CT_DIMS(3, 2), 3, 4, 0, 0, 0.3, 0.4);
    CT_EXPECT(ct_clip_by_norm(m, 1, CT_AXES(1)), CT_FLOAT64, CT_DIMS(3, 2), 1e-15, 0.6, 0.8, 0,
              0, 0.3, 0.4);
    CT_EXPECT(ct_clip_by_norm(m, 1, CT_AXES(-1)), CT_FLOAT64, CT_DIMS(3, 2), 1e-15, 0.6, 0.8, 0,
              0, 0.3, 0.4);
    /* Per column. */
    CT_EXPECT(ct_clip_by_norm(CT_F64(CT_DIMS(2, 2), 3, 1, 4, 0), 2.5, CT_AXES(0)), CT_FLOAT64,
              CT_DIMS(2, 2), 1e-15, 1.5, 1, 2, 0);
    /* Rank 0, empty, a negative clip_norm (taken as 0), no axes (elementwise). */
    CT_EXPECT(ct_clip_by_norm(ct_scalar(-3), 2, CT_ALL), CT_FLOAT32, CT_SCALAR, 1e-7, -2);
    ct_expect_shape(ct_clip_by_norm(ct_zeros(CT_FLOAT32, CT_DIMS(0, 4)), 1, CT_ALL), CT_DIMS(0, 4));
    CT_EXPECT(ct_clip_by_norm(CT_F32(CT_DIMS(2), 3, 4), -1, CT_ALL), CT_FLOAT32, CT_DIMS(2), 0, 0, 0);
    CT_EXPECT(ct_clip_by_norm(CT_F32(CT_DIMS(2), 3, -0.5), 1, (const int[]){0}, 0), CT_FLOAT32, CT_DIMS(2), 0,
              1, -0.5);
    /* Infinity and NaN propagate as TF's formula gives them. */
    CT_EXPECT(ct_clip_by_norm(CT_F32(CT_DIMS(2), INFINITY, 1), 1, CT_ALL), CT_FLOAT32, CT_DIMS(2),
              0, NAN, 0);
    CT_EXPECT(ct_clip_by_norm(CT_F32(CT_DIMS(2), NAN, 1), 1, CT_ALL), CT_FLOAT32, CT_DIMS(2), 0,
              NAN, NAN);
}

Test(extra, clip_by_norm_errors) {
    CT_FAILS(ct_clip_by_norm(CT_I32(CT_DIMS(2), 1, 2), 1, CT_ALL), "floating-point");
    CT_FAILS(ct_clip_by_norm(CT_F32(CT_DIMS(2), 1, 2), 1, CT_AXES(1)), "out of range");
    CT_FAILS(ct_clip_by_norm(NULL, 1, CT_ALL), "ct_clip_by_norm");
}

Test(extra, clip_by_norm_zero_gradient_is_finite) {
    ct_tensor *x = ct_zeros(CT_FLOAT32, CT_DIMS(3));
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, x);
    ct_tensor *y = ct_reduce_sum(ct_clip_by_norm(x, 1, CT_ALL), CT_ALL, false);
    ct_tape_end(tape);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &x, &g, NULL));
    CT_EXPECT(g, CT_FLOAT32, CT_DIMS(3), 0, 1, 1, 1);
    ct_tape_free(tape);
}

static ct_tensor *f_clip_norm(ct_tensor *const *in, void *ctx) {
    double c = *(const double *)ctx;
    return c < 0 ? ct_clip_by_norm(in[0], 0.8, CT_AXES(-1)) : ct_clip_by_norm(in[0], c, CT_ALL);
}

Test(extra, clip_by_norm_gradient) {
    ct_tensor *x = rnd(CT_DIMS(3, 4), 4);
    double clip = 0.5, loose = 100, rows = -1;
    ct_gradcheck(f_clip_norm, 1, &x, &clip, 1e-6);
    ct_gradcheck(f_clip_norm, 1, &x, &loose, 1e-6);
    ct_gradcheck(f_clip_norm, 1, &x, &rows, 1e-6);
}

Test(extra, clip_by_global_norm_values) {
    /* TF's kernel test: the global norm of x0 and x1 is 5. */
    ct_tensor *ts[3] = {CT_F32(CT_DIMS(2, 3), -2, 0, 0, 4, 0, 0), NULL, CT_F32(CT_DIMS(2), 1, -2)};
    ct_tensor *out[3], *norm;
    CT_STATUS_OK(ct_clip_by_global_norm(3, ts, 6, out, &norm));
    CT_EXPECT(norm, CT_FLOAT32, CT_SCALAR, 1e-6, 5);
    CT_EXPECT(out[0], CT_FLOAT32, CT_DIMS(2, 3), 1e-6, -2, 0, 0, 4, 0, 0);
    cr_expect_null(out[1]);
    CT_EXPECT(out[2], CT_FLOAT32, CT_DIMS(2), 1e-6, 1, -2);
    CT_STATUS_OK(ct_clip_by_global_norm(3, ts, 4, out, NULL));
    CT_EXPECT(out[0], CT_FLOAT32, CT_DIMS(2, 3), 1e-6, -1.6, 0, 0, 3.2, 0, 0);
    CT_EXPECT(out[2], CT_FLOAT32, CT_DIMS(2), 1e-6, 0.8, -1.6);
    CT_EXPECT(ct_global_norm(3, ts), CT_FLOAT32, CT_SCALAR, 1e-6, 5);
    /* All zeros: unchanged (scale 1), norm 0. */
    ct_tensor *z[1] = {ct_zeros(CT_FLOAT64, CT_DIMS(2))};
    CT_STATUS_OK(ct_clip_by_global_norm(1, z, 1, out, &norm));
    CT_EXPECT(out[0], CT_FLOAT64, CT_DIMS(2), 0, 0, 0);
    CT_EXPECT(norm, CT_FLOAT64, CT_SCALAR, 0, 0);
    /* An infinite norm makes every output NaN. */
    ct_tensor *inf[2] = {CT_F32(CT_DIMS(2), INFINITY, 1), CT_F32(CT_DIMS(1), 2)};
    CT_STATUS_OK(ct_clip_by_global_norm(2, inf, 1, out, &norm));
    CT_EXPECT(norm, CT_FLOAT32, CT_SCALAR, 0, INFINITY);
    CT_EXPECT(out[0], CT_FLOAT32, CT_DIMS(2), 0, NAN, NAN);
    CT_EXPECT(out[1], CT_FLOAT32, CT_DIMS(1), 0, NAN);
}

Test(extra, clip_by_global_norm_errors) {
    ct_tensor *out[2] = {0}, *norm;
    ct_tensor *none[2] = {NULL, NULL};
    ct_clear_error();
    cr_expect_neq(ct_clip_by_global_norm(2, none, 1, out, &norm), CT_OK);
    cr_expect(strstr(ct_last_error(), "no tensors") != NULL, "%s", ct_last_error());
    ct_tensor *mixed[2] = {CT_F32(CT_DIMS(1), 1), CT_F64(CT_DIMS(1), 1)};
    cr_expect_neq(ct_clip_by_global_norm(2, mixed, 1, out, &norm), CT_OK);
    cr_expect(strstr(ct_last_error(), "one dtype") != NULL, "%s", ct_last_error());
    cr_expect_null(out[0]);
    cr_expect_null(norm);
    ct_tensor *ints[1] = {CT_I32(CT_DIMS(1), 1)};
    cr_expect_neq(ct_clip_by_global_norm(1, ints, 1, out, &norm), CT_OK);
    cr_expect(strstr(ct_last_error(), "floating-point") != NULL, "%s", ct_last_error());
    CT_FAILS(ct_global_norm(0, none), "no tensors");
}

static ct_tensor *f_global_clip(ct_tensor *const *in, void *ctx) {
    ct_tensor *out[2];
    if (ct_clip_by_global_norm(2, in, *(const double *)ctx, out, NULL)) return NULL;
    ct_tensor *flat[2] = {ct_reshape(out[0], CT_DIMS(-1)), ct_reshape(out[1], CT_DIMS(-1))};
    return ct_concat(2, flat, 0);
}

static ct_tensor *f_global_norm(ct_tensor *const *in, void *ctx) {
    return ct_global_norm(2, in);
}

Test(extra, clip_by_global_norm_gradient) {
    ct_tensor *in[2] = {rnd(CT_DIMS(2, 3), 5), rnd(CT_DIMS(4), 6)};
    double tight = 0.7, loose = 50;
    ct_gradcheck(f_global_clip, 2, in, &tight, 1e-6);
    ct_gradcheck(f_global_clip, 2, in, &loose, 1e-6);
    ct_gradcheck(f_global_norm, 2, in, NULL, 1e-6);
}

/* ---- matrix diag / band --------------------------------------------------------- */

Test(extra, matrix_diag_values) {
    CT_EXPECT(ct_matrix_diag(CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4)), CT_FLOAT32, CT_DIMS(2, 2, 2), 0,
              1, 0, 0, 2, 3, 0, 0, 4);
    CT_EXPECT(ct_matrix_diag(CT_I64(CT_DIMS(3), 7, -1, 5)), CT_INT64, CT_DIMS(3, 3), 0, 7, 0, 0,
              0, -1, 0, 0, 0, 5);
    CT_EXPECT(ct_matrix_diag(CT_BOOLS(CT_DIMS(2), true, true)), CT_BOOL, CT_DIMS(2, 2), 0, 1, 0,
              0, 1);
    ct_tensor *h = ct_matrix_diag(ct_cast(CT_F32(CT_DIMS(2), 1.5, NAN), CT_FLOAT16));
    CT_EXPECT(h, CT_FLOAT16, CT_DIMS(2, 2), 0, 1.5, 0, 0, NAN);
    ct_expect_shape(ct_matrix_diag(ct_zeros(CT_FLOAT32, CT_DIMS(0))), CT_DIMS(0, 0));
    ct_expect_shape(ct_matrix_diag(ct_zeros(CT_FLOAT32, CT_DIMS(0, 3))), CT_DIMS(0, 3, 3));
    CT_FAILS(ct_matrix_diag(ct_scalar(1)), "at least 1-dim");
    CT_FAILS(ct_matrix_diag(ct_zeros(CT_FLOAT32, CT_DIMS(1, 1, 1, 1, 1, 1, 1, 2))), "rank 9");
}

Test(extra, matrix_diag_part_values) {
    ct_tensor *m = CT_I32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_matrix_diag_part(m), CT_INT32, CT_DIMS(2), 0, 1, 5);
    CT_EXPECT(ct_matrix_diag_part(CT_F64(CT_DIMS(3, 2), 1, 2, 3, 4, 5, 6)), CT_FLOAT64, CT_DIMS(2),
              0, 1, 4);
    ct_tensor *b = CT_F32(CT_DIMS(2, 2, 2), 1, 2, 3, 4, 5, 6, 7, 8);
    CT_EXPECT(ct_matrix_diag_part(b), CT_FLOAT32, CT_DIMS(2, 2), 0, 1, 4, 5, 8);
    ct_expect_shape(ct_matrix_diag_part(ct_zeros(CT_FLOAT32, CT_DIMS(3, 0, 4))), CT_DIMS(3, 0));
    CT_FAILS(ct_matrix_diag_part(CT_F32(CT_DIMS(2), 1, 2)), "at least 2-dim");
}

Test(extra, matrix_set_diag_values) {
    ct_tensor *m = CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_matrix_set_diag(m, CT_F32(CT_DIMS(2), -1, -5)), CT_FLOAT32, CT_DIMS(2, 3), 0, -1,
              2, 3, 4, -5, 6);
    ct_tensor *b = ct_zeros(CT_INT32, CT_DIMS(2, 3, 2));
    CT_EXPECT(ct_matrix_set_diag(b, CT_I32(CT_DIMS(2, 2), 1, 2, 3, 4)), CT_INT32, CT_DIMS(2, 3, 2),
              0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 0, 0);
    CT_FAILS(ct_matrix_set_diag(m, CT_F32(CT_DIMS(3), 1, 2, 3)), "[2]");
    CT_FAILS(ct_matrix_set_diag(b, CT_I32(CT_DIMS(2), 1, 2)), "diagonal must have the shape");
    CT_FAILS(ct_matrix_set_diag(m, CT_F64(CT_DIMS(2), 1, 2)), "different dtypes");
    CT_FAILS(ct_matrix_set_diag(CT_F32(CT_DIMS(2), 1, 2), CT_F32(CT_DIMS(1), 1)), "2-dim");
}

Test(extra, matrix_band_part_values) {
    /* TF's docstring example: a 4x4 with band_part(input, 1, -1) and (2, 1). */
    double v[16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) v[i * 4 + j] = j - i;
    ct_tensor *t = ct_constant(v, CT_FLOAT64, CT_DIMS(4, 4));
    CT_EXPECT(ct_matrix_band_part(t, 1, -1), CT_FLOAT64, CT_DIMS(4, 4), 0, 0, 1, 2, 3, -1, 0, 1, 2,
              0, -1, 0, 1, 0, 0, -1, 0);
    CT_EXPECT(ct_matrix_band_part(t, 2, 1), CT_FLOAT64, CT_DIMS(4, 4), 0, 0, 1, 0, 0, -1, 0, 1, 0,
              -2, -1, 0, 1, 0, -2, -1, 0);
    ct_tensor *ones = ct_ones(CT_INT32, CT_DIMS(2, 3, 4));
    /* Lower triangle, upper triangle, diagonal, everything; non-square, batched. */
    CT_EXPECT(ct_matrix_band_part(ones, -1, 0), CT_INT32, CT_DIMS(2, 3, 4), 0, 1, 0, 0, 0, 1, 1,
              0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0);
    CT_EXPECT(ct_matrix_band_part(ones, 0, -1), CT_INT32, CT_DIMS(2, 3, 4), 0, 1, 1, 1, 1, 0, 1,
              1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1);
    CT_EXPECT(ct_matrix_band_part(ct_ones(CT_BOOL, CT_DIMS(3, 2)), 0, 0), CT_BOOL, CT_DIMS(3, 2),
              0, 1, 0, 0, 1, 0, 0);
    CT_EXPECT(ct_matrix_band_part(ct_ones(CT_FLOAT32, CT_DIMS(2, 2)), -1, -1), CT_FLOAT32,
              CT_DIMS(2, 2), 0, 1, 1, 1, 1);
    CT_EXPECT(ct_matrix_band_part(ct_ones(CT_FLOAT32, CT_DIMS(2, 2)), 2, 2), CT_FLOAT32,
              CT_DIMS(2, 2), 0, 1, 1, 1, 1);
    ct_tensor *h = ct_matrix_band_part(ct_cast(CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4), CT_BFLOAT16), 0, -1);
    CT_EXPECT(h, CT_BFLOAT16, CT_DIMS(2, 2), 0, 1, 2, 0, 4);
    ct_expect_shape(ct_matrix_band_part(ct_zeros(CT_FLOAT32, CT_DIMS(0, 2, 2)), 0, 0), CT_DIMS(0, 2, 2));
    CT_FAILS(ct_matrix_band_part(t, 5, 0), "num_lower must be negative or less or equal");
    CT_FAILS(ct_matrix_band_part(t, 0, 5), "num_upper");
    CT_FAILS(ct_matrix_band_part(CT_F32(CT_DIMS(2), 1, 2), 0, 0), "at least 2-dim");
}

static ct_tensor *f_diag(ct_tensor *const *in, void *ctx) {
    switch ((int)(intptr_t)ctx) {
    case 0: return ct_matrix_diag(in[0]);
    case 1: return ct_matrix_diag_part(in[0]);
    case 2: return ct_matrix_set_diag(in[0], in[1]);
    case 3: return ct_matrix_band_part(in[0], 1, 0);
    default: return ct_matrix_band_part(in[0], -1, 2);
    }
}

Test(extra, matrix_diag_gradients) {
    ct_tensor *v = rnd(CT_DIMS(2, 3), 7);
    ct_gradcheck(f_diag, 1, &v, (void *)0, 1e-6);
    ct_tensor *sq = rnd(CT_DIMS(2, 3, 3), 8), *wide = rnd(CT_DIMS(2, 4), 9);
    ct_gradcheck(f_diag, 1, &sq, (void *)1, 1e-6);
    ct_gradcheck(f_diag, 1, &wide, (void *)1, 1e-6);
    ct_tensor *sd[2] = {rnd(CT_DIMS(2, 4, 3), 10), rnd(CT_DIMS(2, 3), 11)};
    ct_gradcheck(f_diag, 2, sd, (void *)2, 1e-6);
    ct_gradcheck(f_diag, 1, &sd[0], (void *)3, 1e-6);
    ct_gradcheck(f_diag, 1, &sd[0], (void *)4, 1e-6);
}

static ct_tensor *f_diag_second(ct_tensor *const *in, void *ctx) {
    /* d/dx of sum(diag_part(diag(x))^3) through a nested tape. */
    ct_tensor *x = in[0];
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, x);
    ct_tensor *y = ct_reduce_sum(ct_pow(ct_matrix_diag_part(ct_matrix_band_part(
                                            ct_matrix_diag(x), 0, 0)), ct_scalar_of(CT_FLOAT64, 3)),
                                 CT_ALL, false);
    ct_tape_end(tape);
    ct_tensor *g = NULL;
    ct_status st = ct_tape_gradient(tape, y, 1, &x, &g, NULL);
    ct_tape_free(tape);
    return st ? NULL : g;
}

Test(extra, matrix_diag_second_order) {
    ct_tensor *x = rnd(CT_DIMS(4), 12);
    ct_gradcheck(f_diag_second, 1, &x, NULL, 1e-6);
}

/* ---- eigvalsh / eigvals -------------------------------------------------------- */

Test(extra, eigvalsh_values) {
    CT_EXPECT(ct_eigvalsh(CT_F64(CT_DIMS(2, 2), 2, 1, 1, 2)), CT_FLOAT64, CT_DIMS(2), 1e-12, 1, 3);
    CT_EXPECT(ct_eigvalsh(CT_F32(CT_DIMS(2, 2, 2), 1, 0, 0, 2, 0, 1, 1, 0)), CT_FLOAT32,
              CT_DIMS(2, 2), 1e-6, 1, 2, -1, 1);
    CT_FAILS(ct_eigvalsh(CT_F32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6)), "ct_eigvalsh");
    CT_FAILS(ct_eigvalsh(CT_I32(CT_DIMS(1, 1), 1)), "floating-point");
}

static ct_tensor *f_eigvalsh(ct_tensor *const *in, void *ctx) {
    return ct_eigvalsh(ct_add(in[0], ct_matrix_transpose(in[0])));
}

Test(extra, eigvalsh_gradient) {
    ct_tensor *x = rnd(CT_DIMS(2, 3, 3), 13);
    ct_gradcheck(f_eigvalsh, 1, &x, NULL, 1e-6);
}

Test(extra, eigvals_values) {
    /* The seed's example: tf.linalg.eigvals([[1., 2], [3, 4]]). */
    ct_tensor *re, *im;
    CT_STATUS_OK(ct_eigvals(CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4), &re, &im));
    CT_EXPECT(re, CT_FLOAT32, CT_DIMS(2), 1e-6, -0.37228132, 5.37228132);
    CT_EXPECT(im, CT_FLOAT32, CT_DIMS(2), 0, 0, 0);
    CT_STATUS_OK(ct_eigvals(CT_F64(CT_DIMS(2, 2), 0, -1, 1, 0), &re, &im));
    CT_EXPECT(re, CT_FLOAT64, CT_DIMS(2), 1e-12, 0, 0);
    cr_expect_float_eq(fabs(ct_tensor_get(im, 0)), 1, 1e-12);
    cr_expect_float_eq(ct_tensor_get(im, 0), -ct_tensor_get(im, 1), 1e-12);
    ct_clear_error();
    cr_expect_neq(ct_eigvals(CT_F32(CT_DIMS(3), 1, 2, 3), &re, &im), CT_OK);
    cr_expect(strstr(ct_last_error(), "ct_eigvals") != NULL, "%s", ct_last_error());
    cr_expect_null(re);
    cr_expect_neq(ct_eigvals(ct_scalar(1), NULL, &im), CT_OK);
}

/* ---- segment reductions --------------------------------------------------------- */

Test(extra, unsorted_segment_sum_values) {
    /* TF's docstring example. */
    ct_tensor *c = CT_I32(CT_DIMS(3, 4), 1, 2, 3, 4, 5, 6, 7, 8, 4, 3, 2, 1);
    CT_EXPECT(ct_unsorted_segment_sum(c, CT_I32(CT_DIMS(3), 0, 1, 0), 2), CT_INT32, CT_DIMS(2, 4),
              0, 5, 5, 5, 5, 5, 6, 7, 8);
    /* Negative ids drop their rows; unused segments are zero; int64 ids. */
    CT_EXPECT(ct_unsorted_segment_sum(c, CT_I64(CT_DIMS(3), 2, -1, 2), 4), CT_INT32,
              CT_DIMS(4, 4), 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 5, 5, 5, 0, 0, 0, 0);
    /* 2-D ids over a 2-D prefix, scalar rows. */
    ct_tensor *x = CT_F64(CT_DIMS(2, 3), 1, 2, 3, 4, 5, NAN);
    CT_EXPECT(ct_unsorted_segment_sum(x, CT_I32(CT_DIMS(2, 3), 1, 0, 1, 0, 0, 2), 3), CT_FLOAT64,
              CT_DIMS(3), 0, 11, 4, NAN);
    /* Scalar ids and data; empty data; zero segments. */
    CT_EXPECT(ct_unsorted_segment_sum(ct_scalar(2), ct_scalar_of(CT_INT32, 1), 2), CT_FLOAT32,
              CT_DIMS(2), 0, 0, 2);
    CT_EXPECT(ct_unsorted_segment_sum(ct_zeros(CT_FLOAT32, CT_DIMS(0, 2)),
                                      ct_zeros(CT_INT32, CT_DIMS(0)), 2),
              CT_FLOAT32, CT_DIMS(2, 2), 0, 0, 0, 0, 0);
    ct_expect_shape(ct_unsorted_segment_sum(c, CT_I32(CT_DIMS(3), -1, -1, -1), 0), CT_DIMS(0, 4));
    ct_tensor *h = ct_cast(CT_F32(CT_DIMS(3), 1, 2, 3), CT_FLOAT16);
    CT_EXPECT(ct_unsorted_segment_sum(h, CT_I32(CT_DIMS(3), 0, 0, 1), 2), CT_FLOAT16, CT_DIMS(2),
              0, 3, 3);
}

Test(extra, unsorted_segment_errors) {
    ct_tensor *c = CT_F32(CT_DIMS(3, 2), 1, 2, 3, 4, 5, 6);
    CT_FAILS(ct_unsorted_segment_sum(c, CT_I32(CT_DIMS(3), 0, 2, 0), 2),
             "segment_ids[1] = 2 is out of range [0, 2)");
    CT_FAILS(ct_unsorted_segment_sum(c, CT_I32(CT_DIMS(2), 0, 1), 2), "does not start with");
    CT_FAILS(ct_unsorted_segment_sum(c, CT_F32(CT_DIMS(3), 0, 1, 0), 2), "int32 or int64");
    CT_FAILS(ct_unsorted_segment_max(c, CT_I32(CT_DIMS(3), 0, 1, 0), -1), "num_segments");
    CT_FAILS(ct_unsorted_segment_min(ct_ones(CT_BOOL, CT_DIMS(1)), CT_I32(CT_DIMS(1), 0), 1),
             "numeric");
    CT_FAILS(ct_unsorted_segment_mean(c, CT_I64(CT_DIMS(3, 2), 0, 1, 5, 0, 1, 1), 2), "[1,0] = 5");
}

Test(extra, unsorted_segment_max_min_values) {
    ct_tensor *c = CT_F32(CT_DIMS(4, 2), 1, 8, 5, 2, 3, 3, -4, 7);
    ct_tensor *ids = CT_I32(CT_DIMS(4), 0, 0, 2, 0);
    /* Segment 1 is empty: float32's lowest / highest, not infinities. */
    CT_EXPECT(ct_unsorted_segment_max(c, ids, 3), CT_FLOAT32, CT_DIMS(3, 2), 0, 5, 8, -FLT_MAX,
              -FLT_MAX, 3, 3);
    CT_EXPECT(ct_unsorted_segment_min(c, ids, 3), CT_FLOAT32, CT_DIMS(3, 2), 0, -4, 2, FLT_MAX,
              FLT_MAX, 3, 3);
    ct_tensor *ci = ct_cast(c, CT_INT32);
    ids = CT_I32(CT_DIMS(4), 0, 0, -1, 0);
    CT_EXPECT(ct_unsorted_segment_max(ci, ids, 2), CT_INT32, CT_DIMS(2, 2), 0, 5, 8, INT32_MIN,
              INT32_MIN);
    CT_EXPECT(ct_unsorted_segment_min(ct_cast(ct_abs(c), CT_UINT8), CT_I32(CT_DIMS(4), -1, 0, 0, -1), 2),
              CT_UINT8, CT_DIMS(2, 2), 0, 3, 2, 255, 255);
    CT_EXPECT(ct_unsorted_segment_max(ct_cast(c, CT_FLOAT64), ids, 2), CT_FLOAT64, CT_DIMS(2, 2),
              0, 5, 8, -DBL_MAX, -DBL_MAX);
    CT_EXPECT(ct_unsorted_segment_max(ct_cast(c, CT_FLOAT16), ids, 2), CT_FLOAT16, CT_DIMS(2, 2),
              0, 5, 8, -65504, -65504);
    /* NaN: Eigen's max(data, out) keeps a NaN row, and a later row replaces
     * an earlier NaN (TF's CPU kernel). */
    ct_tensor *n = CT_F32(CT_DIMS(3), 1, NAN, 2);
    CT_EXPECT(ct_unsorted_segment_max(n, CT_I32(CT_DIMS(3), 0, 0, 1), 2), CT_FLOAT32, CT_DIMS(2),
              0, NAN, 2);
    CT_EXPECT(ct_unsorted_segment_max(n, CT_I32(CT_DIMS(3), 0, 0, 0), 1), CT_FLOAT32, CT_DIMS(1),
              0, 2);
}

Test(extra, unsorted_segment_mean_values) {
    ct_tensor *c = CT_F32(CT_DIMS(3, 2), 1, 2, 3, 4, 6, 8);
    CT_EXPECT(ct_unsorted_segment_mean(c, CT_I32(CT_DIMS(3), 0, 0, 2), 3), CT_FLOAT32,
              CT_DIMS(3, 2), 1e-7, 2, 3, 0, 0, 6, 8);
    /* Integers divide truly into float64, as TF's `summed / N`. */
    CT_EXPECT(ct_unsorted_segment_mean(CT_I32(CT_DIMS(3), 1, 2, 4), CT_I64(CT_DIMS(3), 1, 1, -1),
                                       2), CT_FLOAT64, CT_DIMS(2), 0, 0, 1.5);
}

Test(extra, segment_sum_values) {
    /* TF's docstring example. */
    ct_tensor *c = CT_I32(CT_DIMS(3, 4), 1, 2, 3, 4, 4, 3, 2, 1, 5, 6, 7, 8);
    CT_EXPECT(ct_segment_sum(c, CT_I32(CT_DIMS(3), 0, 0, 1)), CT_INT32, CT_DIMS(2, 4), 0, 5, 5, 5,
              5, 5, 6, 7, 8);
    /* A gap holds zeros; the output has last id + 1 rows. */
    CT_EXPECT(ct_segment_sum(CT_F64(CT_DIMS(3), 1, 2, 3), CT_I64(CT_DIMS(3), 0, 2, 2)), CT_FLOAT64,
              CT_DIMS(3), 0, 1, 0, 5);
    CT_EXPECT(ct_segment_sum(CT_F64(CT_DIMS(2), 1, 2), CT_I64(CT_DIMS(2), 1, 1)), CT_FLOAT64,
              CT_DIMS(2), 0, 0, 3);
    ct_expect_shape(ct_segment_sum(ct_zeros(CT_FLOAT32, CT_DIMS(0, 3)), ct_zeros(CT_INT32, CT_DIMS(0))),
                    CT_DIMS(0, 3));
    CT_FAILS(ct_segment_sum(c, CT_I32(CT_DIMS(3), 0, 1, 0)), "segment ids are not increasing");
    CT_FAILS(ct_segment_sum(c, CT_I32(CT_DIMS(3), -1, 0, 0)), "segment ids must be >= 0");
    CT_FAILS(ct_segment_sum(c, CT_I32(CT_DIMS(2), 0, 0)), "same size as dimension 0");
    CT_FAILS(ct_segment_sum(c, CT_I32(CT_DIMS(3, 1), 0, 0, 0)), "vector");
    CT_FAILS(ct_segment_sum(ct_scalar(1), CT_I32(CT_DIMS(1), 0)), "dimension 0");
}

typedef struct {
    int which;
    const ct_tensor *ids;
    int64_t n;
} seg_ctx;

static ct_tensor *f_seg(ct_tensor *const *in, void *ctx) {
    const seg_ctx *s = ctx;
    switch (s->which) {
    case 0: return ct_unsorted_segment_sum(in[0], s->ids, s->n);
    case 1: return ct_unsorted_segment_max(in[0], s->ids, s->n);
    case 2: return ct_unsorted_segment_min(in[0], s->ids, s->n);
    case 3: return ct_unsorted_segment_mean(in[0], s->ids, s->n);
    default: return ct_segment_sum(in[0], s->ids);
    }
}

Test(extra, segment_gradients) {
    ct_tensor *x = rnd(CT_DIMS(5, 3), 14);
    /* Every segment non-empty: an empty one holds -DBL_MAX for max, which
     * overflows the check's weighted sum. Empty segments for sum / mean. */
    ct_tensor *ids = CT_I32(CT_DIMS(5), 2, -1, 0, 1, 0);
    for (int w = 0; w < 4; w++) {
        seg_ctx s = {w, ids, 3};
        ct_gradcheck(f_seg, 1, &x, &s, 1e-6);
    }
    ct_tensor *ids2 = CT_I64(CT_DIMS(5, 3), 0, 1, 1, 2, 0, -1, 1, 1, 1, 0, 2, 2, 0, 0, 1);
    for (int w = 0; w < 4; w++) {
        seg_ctx s = {w, ids2, 3};
        ct_gradcheck(f_seg, 1, &x, &s, 1e-6);
    }
    seg_ctx sum_gap = {0, ids, 5}, mean_gap = {3, ids, 5};
    ct_gradcheck(f_seg, 1, &x, &sum_gap, 1e-6);
    ct_gradcheck(f_seg, 1, &x, &mean_gap, 1e-6);
    seg_ctx sorted = {4, CT_I32(CT_DIMS(5), 0, 0, 1, 3, 3), 0};
    ct_gradcheck(f_seg, 1, &x, &sorted, 1e-6);
}

Test(extra, segment_max_gradient_splits_ties) {
    ct_tensor *x = CT_F32(CT_DIMS(4), 3, 1, 3, 2);
    ct_tensor *ids = CT_I32(CT_DIMS(4), 0, 0, 0, 1);
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, x);
    ct_tensor *y = ct_reduce_sum(ct_unsorted_segment_max(x, ids, 3), CT_ALL, false);
    ct_tape_end(tape);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &x, &g, NULL));
    CT_EXPECT(g, CT_FLOAT32, CT_DIMS(4), 0, 0.5, 0, 0.5, 1);
    ct_tape_free(tape);
}

/* ---- shape / size / rank ------------------------------------------------------- */

Test(extra, shape_size_rank) {
    ct_tensor *t = ct_zeros(CT_FLOAT32, CT_DIMS(2, 3, 4));
    CT_EXPECT(ct_shape_tensor(t), CT_INT32, CT_DIMS(3), 0, 2, 3, 4);
    CT_EXPECT(ct_size_tensor(t), CT_INT32, CT_SCALAR, 0, 24);
    CT_EXPECT(ct_rank_tensor(t), CT_INT32, CT_SCALAR, 0, 3);
    ct_tensor *s = ct_scalar(1);
    ct_expect(ct_shape_tensor(s), CT_INT32, CT_DIMS(0), NULL, 0);
    CT_EXPECT(ct_size_tensor(s), CT_INT32, CT_SCALAR, 0, 1);
    CT_EXPECT(ct_rank_tensor(s), CT_INT32, CT_SCALAR, 0, 0);
    CT_EXPECT(ct_size_tensor(ct_zeros(CT_BOOL, CT_DIMS(5, 0))), CT_INT32, CT_SCALAR, 0, 0);
    CT_FAILS(ct_shape_tensor(NULL), "ct_shape_tensor");
}
