/* Fused batch normalization over the last axis (ops/batch_norm.h):
 * values against the composite ct_moments + ct_batch_normalization on
 * random data (float32 and float64, ranks 1-5, channel counts 1, odd,
 * 64 and more), inference mode, gradients against the composite's and by
 * finite differences (x, gamma, beta, and the statistics' outputs), empty
 * batches, float16 and errors. */
#include <stdlib.h>
#include <string.h>

#include "ops/batch_norm.h"
#include "support.h"

TestSuite(batch_norm, .init = ct_test_begin, .fini = ct_test_end);

static ct_tensor *rnd(ct_dtype dt, int rank, const int64_t *shape, uint64_t seed, double mean,
                      double std) {
    ct_tensor *t = ct_random_normal(rank, shape,
                                    &(ct_random_opts){.dtype = CT_FLOAT64, .seed = seed});
    t = ct_add(ct_multiply(t, ct_scalar_of(CT_FLOAT64, std)), ct_scalar_of(CT_FLOAT64, mean));
    t = ct_cast(t, dt);
    CT_OK(t);
    return t;
}

static double *read_all(const ct_tensor *t) {
    int64_t n = ct_tensor_size(t);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    CT_STATUS_OK(ct_tensor_read(t, CT_FLOAT64, v, n));
    return v;
}

/* |a - b| <= tol (|b| + 1) elementwise, same shape. */
static void expect_close(const char *what, const ct_tensor *a, const ct_tensor *b, double tol) {
    CT_OK(a);
    CT_OK(b);
    cr_assert_eq(ct_tensor_rank(a), ct_tensor_rank(b), "%s: rank", what);
    cr_assert_eq(ct_tensor_size(a), ct_tensor_size(b), "%s: size", what);
    cr_assert_eq(ct_tensor_dtype(a), ct_tensor_dtype(b), "%s: dtype", what);
    double *va = read_all(a), *vb = read_all(b);
    for (int64_t i = 0; i < ct_tensor_size(a); i++)
        cr_assert(fabs(va[i] - vb[i]) <= tol * (fabs(vb[i]) + 1), "%s: [%lld] %.9g vs %.9g", what,
                  (long long)i, va[i], vb[i]);
    free(va), free(vb);
}

/* The composite: moments over every axis but the last, then
 * tf.nn.batch_normalization. */
static void composite(const ct_tensor *x, const ct_tensor *gamma, const ct_tensor *beta,
                      double eps, ct_tensor **y, ct_tensor **mean, ct_tensor **var) {
    int r = ct_tensor_rank(x), axes[CT_MAX_RANK];
    for (int i = 0; i < r - 1; i++) axes[i] = i;
    CT_STATUS_OK(ct_moments(x, axes, r - 1, false, mean, var));
    *y = ct_batch_normalization(x, *mean, *var, beta, gamma, eps);
    CT_OK(*y);
}

static const int64_t shapes[][6] = {
    /* rank, dims */
    {1, 5},          {2, 7, 1},       {2, 9, 3},         {2, 33, 64},    {2, 5, 200},
    {3, 4, 5, 6},    {3, 3, 7, 1},    {4, 2, 3, 4, 65},  {4, 4, 5, 5, 64}, {4, 3, 6, 7, 5},
    {5, 2, 3, 2, 3, 7}, {5, 2, 2, 3, 2, 16}, {2, 1000, 3}, {3, 40, 37, 13},
};

/* Large enough for two threads, with left-over rows (C = 3, 129). */
static const int64_t big_shapes[][6] = {{2, 70001, 3}, {3, 200, 37, 64}, {2, 3001, 129}};

static void check_values(ct_dtype dt, double tol, size_t nshapes, const int64_t (*shp)[6]) {
    for (size_t s = 0; s < nshapes; s++) {
        int r = (int)shp[s][0];
        const int64_t *shape = shp[s] + 1;
        int64_t ch = shape[r - 1];
        ct_scope_begin();
        ct_tensor *x = rnd(dt, r, shape, 10 + s, 3.0, 2.0);
        ct_tensor *gamma = rnd(dt, 1, &ch, 100 + s, 1.0, 0.5);
        ct_tensor *beta = rnd(dt, 1, &ch, 200 + s, 0.0, 1.0);
        ct_tensor *y, *m, *v, *cy, *cm, *cv;
        CT_STATUS_OK(ct__fused_batch_norm(x, gamma, beta, 1e-3, &y, &m, &v));
        composite(x, gamma, beta, 1e-3, &cy, &cm, &cv);
        expect_close("y", y, cy, tol);
        expect_close("mean", m, cm, tol);
        expect_close("variance", v, cv, tol);
        /* Inference with given statistics. */
        ct_tensor *mm = rnd(dt, 1, &ch, 300 + s, 0.5, 1.0);
        ct_tensor *mv = ct_add(ct_abs(rnd(dt, 1, &ch, 400 + s, 0.0, 2.0)), ct_scalar_of(dt, 0.1));
        expect_close("inference", ct__fused_batch_norm_inference(x, gamma, beta, mm, mv, 0.01),
                     ct_batch_normalization(x, mm, mv, beta, gamma, 0.01), tol);
        ct_scope_end();
    }
}

#define NSHAPES (sizeof shapes / sizeof shapes[0])
#define NBIG (sizeof big_shapes / sizeof big_shapes[0])

Test(batch_norm, values_match_composite_float32) { check_values(CT_FLOAT32, 1e-5, NSHAPES, shapes); }
Test(batch_norm, values_match_composite_float64) {
    check_values(CT_FLOAT64, 1e-12, NSHAPES, shapes);
}

Test(batch_norm, hand_computed) {
    /* Channel 0: [1, 3] mean 2 variance 1; channel 1: [0, 4] mean 2 variance 4. */
    ct_tensor *x = CT_F32(CT_DIMS(2, 2), 1, 0, 3, 4);
    ct_tensor *y, *m, *v;
    CT_STATUS_OK(ct__fused_batch_norm(x, CT_F32(CT_DIMS(2), 1, 2), CT_F32(CT_DIMS(2), 0, 10), 0,
                                      &y, &m, &v));
    CT_EXPECT(y, CT_FLOAT32, CT_DIMS(2, 2), 1e-6, -1, 8, 1, 12);
    CT_EXPECT(m, CT_FLOAT32, CT_DIMS(2), 1e-6, 2, 2);
    CT_EXPECT(v, CT_FLOAT32, CT_DIMS(2), 1e-6, 1, 4);
    /* A large offset: the variance keeps its digits (no E[x^2] - E[x]^2). */
    CT_OK(x = ct_add(rnd(CT_FLOAT32, CT_DIMS(4096, 3), 7, 0, 1), ct_scalar_of(CT_FLOAT32, 1e4)));
    CT_STATUS_OK(ct__fused_batch_norm(x, ct_ones(CT_FLOAT32, CT_DIMS(3)),
                                      ct_zeros(CT_FLOAT32, CT_DIMS(3)), 0, &y, &m, &v));
    ct_tensor *cy, *cm, *cv;
    composite(ct_cast(x, CT_FLOAT64), ct_ones(CT_FLOAT64, CT_DIMS(3)),
              ct_zeros(CT_FLOAT64, CT_DIMS(3)), 0, &cy, &cm, &cv);
    expect_close("offset variance", ct_cast(v, CT_FLOAT64), cv, 1e-5);
}

/* ---- gradients ---------------------------------------------------------------- */

/* Gradients of sum(y w) + sum(mean u) + sum(var v) (stats: whether the
 * statistics enter) for x, gamma and beta, fused and composite. */
static void grads_of(bool fused, bool stats, ct_tensor *x, ct_tensor *gamma, ct_tensor *beta,
                     ct_tensor *w, ct_tensor *u, ct_tensor *vv, ct_tensor **g) {
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, x);
    ct_tape_watch(tape, gamma);
    ct_tape_watch(tape, beta);
    ct_tensor *y, *m, *v;
    if (fused) CT_STATUS_OK(ct__fused_batch_norm(x, gamma, beta, 1e-3, &y, &m, &v));
    else composite(x, gamma, beta, 1e-3, &y, &m, &v);
    ct_tensor *loss = ct_reduce_sum(ct_multiply(y, w), CT_ALL, false);
    if (stats)
        loss = ct_add(loss, ct_add(ct_reduce_sum(ct_multiply(m, u), CT_ALL, false),
                                   ct_reduce_sum(ct_multiply(v, vv), CT_ALL, false)));
    ct_tape_end(tape);
    CT_OK(loss);
    ct_tensor *src[3] = {x, gamma, beta};
    CT_STATUS_OK(ct_tape_gradient(tape, loss, 3, src, g, NULL));
    ct_tape_free(tape);
}

static void check_grads(ct_dtype dt, double tol, size_t nshapes, const int64_t (*shp)[6]) {
    for (size_t s = 0; s < nshapes; s++) {
        int r = (int)shp[s][0];
        const int64_t *shape = shp[s] + 1;
        int64_t ch = shape[r - 1];
        ct_scope_begin();
        ct_tensor *x = rnd(dt, r, shape, 20 + s, -1.0, 3.0);
        ct_tensor *gamma = rnd(dt, 1, &ch, 120 + s, 1.0, 0.5);
        ct_tensor *beta = rnd(dt, 1, &ch, 220 + s, 0.0, 1.0);
        ct_tensor *w = rnd(dt, r, shape, 320 + s, 0.3, 1.0);
        ct_tensor *u = rnd(dt, 1, &ch, 420 + s, 0.0, 1.0);
        ct_tensor *v = rnd(dt, 1, &ch, 520 + s, 0.0, 1.0);
        for (int stats = 0; stats < 2; stats++) {
            ct_tensor *gf[3], *gc[3];
            grads_of(true, stats, x, gamma, beta, w, u, v, gf);
            /* The reference: the composite in float64 on the same values. */
            ct_tensor *d[6] = {x, gamma, beta, w, u, v};
            for (int i = 0; i < 6; i++) d[i] = ct_cast(d[i], CT_FLOAT64);
            grads_of(false, stats, d[0], d[1], d[2], d[3], d[4], d[5], gc);
            expect_close("dx", ct_cast(gf[0], CT_FLOAT64), gc[0], tol);
            /* Sums over N = size / C terms: float32 rounding grows as sqrt(N). */
            double stol = tol * sqrt((double)ct_tensor_size(x) / (double)ch);
            expect_close("dgamma", ct_cast(gf[1], CT_FLOAT64), gc[1], stol);
            expect_close("dbeta", ct_cast(gf[2], CT_FLOAT64), gc[2], stol);
            if (dt == CT_FLOAT32) {
                /* And the float32 composite, whose float sums over 10^5
                 * elements are the less exact of the two (1e-4 off). */
                grads_of(false, stats, x, gamma, beta, w, u, v, gc);
                expect_close("dx (float32 composite)", gf[0], gc[0], 1e-3);
                expect_close("dgamma (float32 composite)", gf[1], gc[1], 1e-3);
            }
        }
        ct_scope_end();
    }
}

Test(batch_norm, gradients_match_composite_float32) {
    check_grads(CT_FLOAT32, 1e-5, NSHAPES, shapes);
}
Test(batch_norm, gradients_match_composite_float64) {
    check_grads(CT_FLOAT64, 1e-10, NSHAPES, shapes);
}

Test(batch_norm, two_threads_match_composite) {
    ct_set_num_threads(2);
    check_values(CT_FLOAT32, 1e-5, NBIG, big_shapes);
    check_values(CT_FLOAT64, 1e-12, NBIG, big_shapes);
    check_grads(CT_FLOAT32, 1e-5, NBIG, big_shapes);
    check_grads(CT_FLOAT64, 1e-10, NBIG, big_shapes);
}

static ct_tensor *fused_train(ct_tensor *const *in, void *ctx) {
    int mode = *(int *)ctx;
    ct_tensor *y, *m, *v;
    if (ct__fused_batch_norm(in[0], in[1], in[2], 1e-3, &y, &m, &v)) return NULL;
    if (mode == 0) return y;
    /* The statistics as well, broadcast against y. */
    return ct_add(y, ct_add(ct_multiply(m, ct_scalar_of(CT_FLOAT64, 2)),
                            ct_multiply(v, ct_scalar_of(CT_FLOAT64, -3))));
}

static ct_tensor *fused_infer(ct_tensor *const *in, void *ctx) {
    (void)ctx;
    return ct__fused_batch_norm_inference(in[0], in[1], in[2], in[3], in[4], 0.01);
}

Test(batch_norm, gradcheck_float64) {
    const int64_t sh[][5] = {{2, 6, 1}, {2, 5, 3}, {3, 3, 4, 2}, {4, 2, 3, 2, 5}, {2, 70, 2}};
    for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++) {
        int r = (int)sh[s][0];
        const int64_t *shape = sh[s] + 1;
        int64_t ch = shape[r - 1];
        ct_scope_begin();
        ct_tensor *in[5] = {rnd(CT_FLOAT64, r, shape, 30 + s, 0.5, 2.0),
                            rnd(CT_FLOAT64, 1, &ch, 130 + s, 1.0, 0.5),
                            rnd(CT_FLOAT64, 1, &ch, 230 + s, 0.0, 1.0),
                            rnd(CT_FLOAT64, 1, &ch, 330 + s, 0.0, 1.0),
                            ct_add(ct_abs(rnd(CT_FLOAT64, 1, &ch, 430 + s, 0.0, 1.0)),
                                   ct_scalar_of(CT_FLOAT64, 0.5))};
        for (int mode = 0; mode < 2; mode++) ct_gradcheck(fused_train, 3, in, &mode, 1e-6);
        ct_gradcheck(fused_infer, 5, in, NULL, 1e-6);
        ct_scope_end();
    }
}

Test(batch_norm, second_order_is_an_error) {
    ct_tensor *x = rnd(CT_FLOAT64, CT_DIMS(4, 3), 1, 0, 1);
    ct_tensor *g = ct_ones(CT_FLOAT64, CT_DIMS(3)), *b = ct_zeros(CT_FLOAT64, CT_DIMS(3));
    ct_tape *outer = ct_tape_begin(NULL);
    ct_tape_watch(outer, x);
    ct_tape *inner = ct_tape_begin(NULL);
    ct_tape_watch(inner, x);
    ct_tensor *y, *m, *v;
    CT_STATUS_OK(ct__fused_batch_norm(x, g, b, 1e-3, &y, &m, &v));
    ct_tensor *loss = ct_reduce_sum(ct_square(y), CT_ALL, false);
    ct_tape_end(inner);
    ct_tensor *dx;
    CT_STATUS_OK(ct_tape_gradient(inner, loss, 1, &x, &dx, NULL));
    ct_tensor *s = ct_reduce_sum(ct_square(dx), CT_ALL, false);
    ct_tape_end(outer);
    ct_tensor *ddx;
    cr_expect_neq(ct_tape_gradient(outer, s, 1, &x, &ddx, NULL), CT_OK);
    cr_expect(strstr(ct_last_error(), "FusedBatchNormGradV3") &&
                  strstr(ct_last_error(), "second-order"),
              "%s", ct_last_error());
    ct_tape_free(inner);
    ct_tape_free(outer);
}

/* ---- edge cases ------------------------------------------------------------------ */

Test(batch_norm, empty_batch) {
    /* TF's kernel: empty y, NaN batch statistics; zero dgamma and dbeta. */
    ct_tensor *x = ct_zeros(CT_FLOAT32, CT_DIMS(0, 4, 3));
    ct_tensor *g = ct_ones(CT_FLOAT32, CT_DIMS(3)), *b = ct_zeros(CT_FLOAT32, CT_DIMS(3));
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, g);
    ct_tape_watch(tape, b);
    ct_tensor *y, *m, *v;
    CT_STATUS_OK(ct__fused_batch_norm(x, g, b, 1e-3, &y, &m, &v));
    ct_tensor *loss = ct_reduce_sum(y, CT_ALL, false);
    ct_tape_end(tape);
    ct_expect_shape(y, CT_DIMS(0, 4, 3));
    CT_EXPECT(m, CT_FLOAT32, CT_DIMS(3), 0, NAN, NAN, NAN);
    CT_EXPECT(v, CT_FLOAT32, CT_DIMS(3), 0, NAN, NAN, NAN);
    ct_tensor *src[2] = {g, b}, *gr[2];
    CT_STATUS_OK(ct_tape_gradient(tape, loss, 2, src, gr, NULL));
    CT_EXPECT(gr[0], CT_FLOAT32, CT_DIMS(3), 0, 0, 0, 0);
    CT_EXPECT(gr[1], CT_FLOAT32, CT_DIMS(3), 0, 0, 0, 0);
    ct_tape_free(tape);
    /* No channels. */
    CT_STATUS_OK(ct__fused_batch_norm(ct_zeros(CT_FLOAT64, CT_DIMS(2, 0)),
                                      ct_zeros(CT_FLOAT64, CT_DIMS(0)),
                                      ct_zeros(CT_FLOAT64, CT_DIMS(0)), 1e-3, &y, &m, &v));
    ct_expect_shape(y, CT_DIMS(2, 0));
    ct_expect_shape(m, CT_DIMS(0));
    /* Inference on an empty batch. */
    ct_expect_shape(ct__fused_batch_norm_inference(x, g, b, b, g, 1e-3), CT_DIMS(0, 4, 3));
}

Test(batch_norm, float16_computes_in_float32) {
    ct_tensor *x = ct_cast(CT_F32(CT_DIMS(2, 1), 1, 3), CT_FLOAT16);
    ct_tensor *g = ct_ones(CT_FLOAT16, CT_DIMS(1)), *b = ct_zeros(CT_FLOAT16, CT_DIMS(1));
    ct_tensor *y, *m, *v;
    CT_STATUS_OK(ct__fused_batch_norm(x, g, b, 0, &y, &m, &v));
    CT_EXPECT(y, CT_FLOAT16, CT_DIMS(2, 1), 1e-3, -1, 1);
    CT_EXPECT(m, CT_FLOAT16, CT_DIMS(1), 1e-3, 2);
    CT_EXPECT(v, CT_FLOAT16, CT_DIMS(1), 1e-3, 1);
}

Test(batch_norm, errors) {
    ct_tensor *x = ct_ones(CT_FLOAT32, CT_DIMS(2, 3));
    ct_tensor *g = ct_ones(CT_FLOAT32, CT_DIMS(3)), *b = ct_zeros(CT_FLOAT32, CT_DIMS(3));
    ct_tensor *y, *m, *v;
    ct_clear_error();
    cr_expect_neq(ct__fused_batch_norm(x, ct_ones(CT_FLOAT32, CT_DIMS(4)), b, 1e-3, &y, &m, &v),
                  CT_OK);
    cr_expect(strstr(ct_last_error(), "FusedBatchNormV3") || strstr(ct_last_error(), "fused"),
              "%s", ct_last_error());
    cr_expect(strstr(ct_last_error(), "scale must be a vector of the 3 channels"), "%s",
              ct_last_error());
    cr_expect_null(y);
    ct_clear_error();
    cr_expect_neq(ct__fused_batch_norm(x, g, ct_zeros(CT_FLOAT64, CT_DIMS(3)), 1e-3, &y, &m, &v),
                  CT_OK);
    ct_clear_error();
    cr_expect_neq(ct__fused_batch_norm(ct_ones(CT_INT32, CT_DIMS(2, 3)), g, b, 1e-3, &y, &m, &v),
                  CT_OK);
    ct_clear_error();
    cr_expect_neq(ct__fused_batch_norm(ct_scalar_of(CT_FLOAT32, 1), g, b, 1e-3, &y, &m, &v), CT_OK);
    cr_expect(strstr(ct_last_error(), "at least one dimension"), "%s", ct_last_error());
    ct_clear_error();
    cr_expect_neq(ct__fused_batch_norm(x, g, b, -1, &y, &m, &v), CT_OK);
    cr_expect(strstr(ct_last_error(), "epsilon"), "%s", ct_last_error());
    ct_clear_error();
    cr_expect_neq(ct__fused_batch_norm(NULL, g, b, 1e-3, &y, &m, &v), CT_OK);
    CT_FAILS(ct__fused_batch_norm_inference(x, g, b, g, ct_ones(CT_FLOAT32, CT_DIMS(2, 3)), 1e-3),
             "variance must be a vector");
}
