/*
 * tf.random.stateless_uniform / stateless_normal / stateless_truncated_normal.
 *
 * Known values: TF's docstrings print none, so the float32 / float64 values
 * below are pinned against the seeded Keras initializers' previous private
 * copy of TF's stateless kernels (checked against TF), which drew with the
 * seed pair [seed, 0]. Integer, float16 and bfloat16 uniforms and seed
 * pairs with a second element are recomputed here from ct__philox and TF's
 * GenerateKey. Then properties: repeatability, seed sensitivity, shapes,
 * ranges, moments, thread independence, and errors.
 */
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* runtime/rng.c: one Philox 4x32-10 block. */
void ct__philox(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4]);

TestSuite(stateless_random, .init = ct_test_begin, .fini = ct_test_end);

#define SEED(a, b) ((const int64_t[]){(a), (b)})

static void expect_f32(const ct_tensor *t, const float *want, const int64_t *idx, int k) {
    CT_OK(t);
    cr_assert_eq(ct_tensor_dtype(t), CT_FLOAT32);
    int64_t n = ct_tensor_size(t);
    float *v = malloc((size_t)n * sizeof *v);
    cr_assert_eq(ct_tensor_read(t, CT_FLOAT32, v, n), CT_OK);
    for (int i = 0; i < k; i++) {
        int64_t j = idx ? idx[i] : i;
        cr_expect_eq(v[j], want[i], "element %lld is %.9g, expected %.9g", (long long)j,
                     (double)v[j], (double)want[i]);
    }
    free(v);
}

static void expect_f64(const ct_tensor *t, const double *want, const int64_t *idx, int k) {
    CT_OK(t);
    cr_assert_eq(ct_tensor_dtype(t), CT_FLOAT64);
    for (int i = 0; i < k; i++) {
        int64_t j = idx ? idx[i] : i;
        double g = ct_tensor_get(t, j);
        cr_expect_eq(g, want[i], "element %lld is %.17g, expected %.17g", (long long)j, g,
                     want[i]);
    }
}

static bool same_bytes(const ct_tensor *a, const ct_tensor *b) {
    int64_t n = ct_tensor_size(a);
    if (n != ct_tensor_size(b) || ct_tensor_dtype(a) != ct_tensor_dtype(b)) return false;
    double *x = malloc((size_t)(n + 1) * sizeof *x), *y = malloc((size_t)(n + 1) * sizeof *y);
    cr_assert_eq(ct_tensor_read(a, CT_FLOAT64, x, n), CT_OK);
    cr_assert_eq(ct_tensor_read(b, CT_FLOAT64, y, n), CT_OK);
    bool same = memcmp(x, y, (size_t)n * sizeof *x) == 0;
    free(x);
    free(y);
    return same;
}

typedef struct {
    double mean, std, min, max;
} stats;

/* The moments and bounds of a draw, in float64, with the library's
 * reductions. */
static stats stats_of(const ct_tensor *t) {
    CT_OK(t);
    ct_tensor *x = ct_cast(t, CT_FLOAT64);
    return (stats){ct_item(ct_reduce_mean(x, CT_ALL, false)),
                   ct_item(ct_reduce_std(x, CT_ALL, false)),
                   ct_item(ct_reduce_min(x, CT_ALL, false)),
                   ct_item(ct_reduce_max(x, CT_ALL, false))};
}

/* TF's GenerateKey and the block g of the stream it starts (g < 2^32). */
static void ref_block(const int64_t seed[2], uint32_t g, uint32_t out[4]) {
    uint64_t s0 = (uint64_t)seed[0], s1 = (uint64_t)seed[1];
    const uint32_t k0[2] = {0x3ec8f720u, 0x02461e29u};
    const uint32_t c0[4] = {(uint32_t)s0, (uint32_t)(s0 >> 32), (uint32_t)s1,
                            (uint32_t)(s1 >> 32)};
    uint32_t mix[4];
    ct__philox(k0, c0, mix);
    const uint32_t key[2] = {mix[0], mix[1]}, ctr[4] = {g, 0, mix[2], mix[3]};
    ct__philox(key, ctr, out);
}

static float ref_uniform_f32(uint32_t x) {
    uint32_t v = (127u << 23) | (x & 0x7fffffu);
    float f;
    memcpy(&f, &v, sizeof f);
    return f - 1.0f;
}

/* ---- known values -------------------------------------------------------------------- */

Test(stateless_random, uniform_known_values) {
    expect_f32(ct_stateless_random_uniform(CT_DIMS(8), SEED(1, 0), NULL),
               (const float[]){0.878488183f, 0.459980249f, 0.600291252f, 0.392597675f,
                               0.253193259f, 0.444299221f, 0.342913389f, 0.77647233f},
               NULL, 8);
    expect_f64(ct_stateless_random_uniform(CT_DIMS(5), SEED(1, 0),
                                           &(ct_random_opts){.dtype = CT_FLOAT64}),
               (const double[]){0.027906033135913777, 0.80233089512697919, 0.025547004201075474,
                                0.74330760310678246, 0.3610024188037686},
               NULL, 5);
    /* Keras's seed 3000000000 wraps to the int32 -1294967296. */
    expect_f32(ct_stateless_random_uniform(CT_DIMS(4), SEED(-1294967296, 0), NULL),
               (const float[]){0.430386662f, 0.887718916f, 0.323937178f, 0.657426953f}, NULL, 4);
    /* Far into a large (threaded) draw, scaled u * (hi - lo) + lo. */
    expect_f64(ct_stateless_random_uniform(CT_DIMS(300001), SEED(5, 0),
                                           &(ct_random_opts){.dtype = CT_FLOAT64, .minval = -2,
                                                             .maxval = 3}),
               (const double[]){0.47413329623331402, 1.943086418739993, -1.5837353322922958,
                                1.4608040809196772, -0.29750085533681347, -1.7682212190796036,
                                -0.66122525182218661, 1.7334768730823753},
               (const int64_t[]){0, 1, 2, 3, 4097, 150000, 299999, 300000}, 8);
}

Test(stateless_random, normal_known_values) {
    expect_f32(ct_stateless_random_normal(CT_DIMS(7), SEED(3, 0), NULL),
               (const float[]){-0.671584785f, 1.67605042f, -0.944245458f, 0.607938945f,
                               1.25278509f, 1.35245252f, 0.448382795f},
               NULL, 7);
    expect_f64(ct_stateless_random_normal(CT_DIMS(5), SEED(3, 0),
                                          &(ct_random_opts){.dtype = CT_FLOAT64}),
               (const double[]){1.0633507577851107, -0.054850102995273091, 0.24420008620627701,
                                1.21762502539954, 0.57149895736012879},
               NULL, 5);
    expect_f32(ct_stateless_random_normal(CT_DIMS(300001), SEED(5, 0), NULL),
               (const float[]){-2.05537844f, 1.15818775f, 0.191608623f, -0.129778907f,
                               -0.703813553f, -1.27677166f, -0.574061275f, 0.96216023f},
               (const int64_t[]){0, 1, 2, 3, 4097, 150000, 299999, 300000}, 8);
    /* keras.initializers.RandomNormal(seed=3) on [1000]: stddev 0.05. */
    expect_f32(ct_stateless_random_normal(CT_DIMS(1000), SEED(3, 0),
                                          &(ct_random_opts){.stddev = 0.05}),
               (const float[]){-0.0335792415f, 0.0838025212f, 0.0558150187f},
               (const int64_t[]){0, 1, 999}, 3);
}

Test(stateless_random, truncated_normal_known_values) {
    expect_f32(ct_stateless_truncated_normal(CT_DIMS(9), SEED(7, 0), NULL),
               (const float[]){-0.674172759f, -0.358692557f, -1.87958169f, -1.47289312f,
                               -0.725244522f, 0.760357916f, -0.0607664958f, -1.99276924f,
                               -0.0921461061f},
               NULL, 9);
    expect_f64(ct_stateless_truncated_normal(CT_DIMS(5), SEED(7, 0),
                                             &(ct_random_opts){.dtype = CT_FLOAT64}),
               (const double[]){0.051117446221050009, -0.21137948648118993, -1.7107834434009144,
                                -1.3954322855670063, 0.56974197440371799},
               NULL, 5);
    const int64_t far[] = {0, 1, 2, 3, 4097, 150000, 299999, 300000};
    expect_f32(ct_stateless_truncated_normal(CT_DIMS(300001), SEED(5, 0), NULL),
               (const float[]){1.15818775f, 0.191608623f, -0.129778907f, 0.906847179f,
                               -0.111467563f, -0.41871348f, -1.32056415f, 0.0633484051f},
               far, 8);
    expect_f64(ct_stateless_truncated_normal(CT_DIMS(300001), SEED(5, 0),
                                             &(ct_random_opts){.dtype = CT_FLOAT64}),
               (const double[]){-1.1514631005437763, 0.28500570213622906, 0.67477057454525469,
                                -0.46004942224361023, -1.7601879901149442, 0.29678427562762671,
                                0.66983689660599188, -0.69118124640360745},
               far, 8);
}

/* keras.initializers.GlorotUniform(seed=1) on [3, 3, 16, 32] and
 * HeNormal(seed=7) on [100, 50], written with the stateless ops as Keras's
 * VarianceScaling does. */
Test(stateless_random, keras_initializer_values) {
    double scale = 1.0;
    scale /= fmax(1.0, (144.0 + 288.0) / 2.0);
    double limit = sqrt(3.0 * scale);
    const int64_t idx[] = {0, 1, 2, 3, 4607};
    expect_f32(ct_stateless_random_uniform(CT_DIMS(3, 3, 16, 32), SEED(1, 0),
                                           &(ct_random_opts){.minval = -limit, .maxval = limit}),
               (const float[]){0.0892105177f, -0.00943274796f, 0.0236388817f, -0.0253149718f,
                               -0.0922653526f},
               idx, 5);
    scale = 2.0;
    scale /= fmax(1.0, 100.0);
    double stddev = sqrt(scale) / .87962566103423978;
    expect_f32(ct_stateless_truncated_normal(CT_DIMS(100, 50), SEED(7, 0),
                                             &(ct_random_opts){.stddev = stddev}),
               (const float[]){-0.10838978f, -0.0576686114f, -0.302188784f, -0.236803636f,
                               0.154477492f},
               idx, 5);
    expect_f64(ct_stateless_truncated_normal(CT_DIMS(100, 50), SEED(7, 0),
                                             &(ct_random_opts){.dtype = CT_FLOAT64,
                                                               .stddev = stddev}),
               (const double[]){0.0082183807183033378, -0.033984426538634468,
                                -0.27505031459589724, -0.22434989689839538,
                                -0.13217508848619466},
               idx, 5);
    /* The initializer itself draws the same numbers. */
    ct_initializer he = {.kind = CT_INIT_HE_NORMAL, .seeded = true, .seed = 7};
    cr_expect(same_bytes(ct_initializer_call(&he, CT_FLOAT32, CT_DIMS(100, 50)),
                         ct_stateless_truncated_normal(CT_DIMS(100, 50), SEED(7, 0),
                                                       &(ct_random_opts){.stddev = stddev})));
}

/* ---- values recomputed from the generator ---------------------------------------------- */

Test(stateless_random, seed_pair_is_tf_generate_key) {
    /* Both seed words matter, including high words and signs. */
    const int64_t seeds[][2] = {{123, -456}, {0x123456789abLL, 7}, {-1, INT64_MIN}, {0, 0}};
    for (int s = 0; s < 4; s++) {
        ct_tensor *u = ct_stateless_random_uniform(CT_DIMS(10), seeds[s], NULL);
        CT_OK(u);
        for (int i = 0; i < 10; i++) {
            uint32_t r[4];
            ref_block(seeds[s], (uint32_t)(i / 4), r);
            cr_expect_eq((float)ct_tensor_get(u, i), ref_uniform_f32(r[i % 4]),
                         "seed %d element %d", s, i);
        }
    }
}

Test(stateless_random, integer_uniform_values) {
    const int64_t seed[2] = {17, 4};
    ct_tensor *a = ct_stateless_random_uniform(
        CT_DIMS(2, 5), seed, &(ct_random_opts){.dtype = CT_INT32, .minval = -7, .maxval = 1000});
    CT_OK(a);
    cr_assert_eq(ct_tensor_dtype(a), CT_INT32);
    int32_t v[10];
    cr_assert_eq(ct_tensor_read(a, CT_INT32, v, 10), CT_OK);
    for (int i = 0; i < 10; i++) {
        uint32_t r[4];
        ref_block(seed, (uint32_t)(i / 4), r);
        cr_expect_eq(v[i], (int32_t)(-7 + (int64_t)(r[i % 4] % 1007u)), "element %d", i);
    }
    /* int64 from two words per output, range beyond 32 bits. */
    ct_tensor *b = ct_stateless_random_uniform(
        CT_DIMS(5), seed, &(ct_random_opts){.dtype = CT_INT64, .minval = -3, .maxval = 1e12});
    CT_OK(b);
    int64_t w[5];
    cr_assert_eq(ct_tensor_read(b, CT_INT64, w, 5), CT_OK);
    for (int i = 0; i < 5; i++) {
        uint32_t r[4];
        ref_block(seed, (uint32_t)(i / 2), r);
        uint64_t bits = r[2 * (i % 2)] | (uint64_t)r[2 * (i % 2) + 1] << 32;
        cr_expect_eq(w[i], -3 + (int64_t)(bits % 1000000000003ull), "element %d", i);
    }
    /* Fractional bounds truncate as tf.cast does. */
    ct_tensor *c = ct_stateless_random_uniform(
        CT_DIMS(64), seed, &(ct_random_opts){.dtype = CT_INT32, .minval = 2.7, .maxval = 3.9});
    stats s = stats_of(c);
    cr_expect(s.min == 2 && s.max == 2);
}

Test(stateless_random, half_uniform_values) {
    /* TF's Uint16ToHalf / Uint16ToGfloat16: 10 / 7 low bits of each word. */
    const int64_t seed[2] = {9, 9};
    ct_tensor *h = ct_stateless_random_uniform(CT_DIMS(6), seed,
                                               &(ct_random_opts){.dtype = CT_FLOAT16});
    ct_tensor *b = ct_stateless_random_uniform(CT_DIMS(6), seed,
                                               &(ct_random_opts){.dtype = CT_BFLOAT16});
    CT_OK(h);
    CT_OK(b);
    cr_assert_eq(ct_tensor_dtype(h), CT_FLOAT16);
    cr_assert_eq(ct_tensor_dtype(b), CT_BFLOAT16);
    for (int i = 0; i < 6; i++) {
        uint32_t r[4];
        ref_block(seed, (uint32_t)(i / 4), r);
        cr_expect_eq(ct_tensor_get(h, i), (double)(r[i % 4] & 0x3ffu) / 1024, "f16 %d", i);
        cr_expect_eq(ct_tensor_get(b, i), (double)(r[i % 4] & 0x7fu) / 128, "bf16 %d", i);
    }
}

/* ---- properties ------------------------------------------------------------------------ */

Test(stateless_random, same_seed_same_values) {
    ct_set_random_seed(1);
    ct_tensor *a = ct_stateless_random_normal(CT_DIMS(33), SEED(4, 5), NULL);
    ct_tensor *b = ct_stateless_random_normal(CT_DIMS(33), SEED(4, 5), NULL);
    ct_set_random_seed(2);
    /* Neither the global seed nor opts->seed changes anything. */
    ct_tensor *c = ct_stateless_random_normal(CT_DIMS(33), SEED(4, 5),
                                              &(ct_random_opts){.seed = 99});
    ct_clear_random_seed();
    cr_expect(same_bytes(a, b));
    cr_expect(same_bytes(a, c));
    /* A prefix of a longer draw: counters depend only on the index. */
    ct_tensor *d = ct_stateless_truncated_normal(CT_DIMS(10), SEED(4, 5), NULL);
    ct_tensor *e = ct_stateless_truncated_normal(CT_DIMS(3), SEED(4, 5), NULL);
    for (int i = 0; i < 3; i++) cr_expect_eq(ct_tensor_get(d, i), ct_tensor_get(e, i));
}

Test(stateless_random, different_seeds_differ) {
    const int64_t seeds[][2] = {{4, 5}, {5, 5}, {4, 6}, {4 + (1LL << 32), 5}, {4, 5 + (1LL << 32)}};
    ct_tensor *t[3][5];
    for (int s = 0; s < 5; s++) {
        t[0][s] = ct_stateless_random_uniform(CT_DIMS(16), seeds[s], NULL);
        t[1][s] = ct_stateless_random_normal(CT_DIMS(16), seeds[s], NULL);
        t[2][s] = ct_stateless_truncated_normal(CT_DIMS(16), seeds[s],
                                                &(ct_random_opts){.dtype = CT_FLOAT64});
    }
    for (int k = 0; k < 3; k++)
        for (int s = 0; s < 5; s++)
            for (int r = s + 1; r < 5; r++)
                cr_expect(!same_bytes(t[k][s], t[k][r]), "op %d: seeds %d and %d agree", k, s, r);
}

Test(stateless_random, shapes_and_dtypes) {
    const ct_dtype floats[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16};
    for (int d = 0; d < 4; d++) {
        ct_random_opts o = {.dtype = floats[d]};
        ct_tensor *u = ct_stateless_random_uniform(CT_DIMS(2, 3, 4), SEED(1, 2), &o);
        ct_tensor *n = ct_stateless_random_normal(0, NULL, SEED(1, 2), &o);
        ct_tensor *t = ct_stateless_truncated_normal(CT_DIMS(0, 3), SEED(1, 2), &o);
        CT_OK(u);
        CT_OK(n);
        CT_OK(t);
        ct_expect_shape(u, 3, (const int64_t[]){2, 3, 4});
        cr_expect_eq(ct_tensor_rank(n), 0);
        cr_expect_eq(ct_tensor_size(n), 1);
        ct_expect_shape(t, 2, (const int64_t[]){0, 3});
        cr_expect_eq(ct_tensor_dtype(u), floats[d]);
        cr_expect_eq(ct_tensor_dtype(n), floats[d]);
        cr_expect_eq(ct_tensor_dtype(t), floats[d]);
    }
    /* An empty integer draw needs no valid range, as TF's kernel. */
    ct_tensor *e = ct_stateless_random_uniform(CT_DIMS(3, 0), SEED(1, 2),
                                               &(ct_random_opts){.dtype = CT_INT64});
    CT_OK(e);
    ct_expect_shape(e, 2, (const int64_t[]){3, 0});
    cr_expect_eq(ct_tensor_dtype(e), CT_INT64);
}

Test(stateless_random, ranges_and_moments) {
    const ct_dtype dts[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16};
    for (int d = 0; d < 4; d++) {
        double tol = d >= 2 ? 0.05 : 0.01;
        stats u = stats_of(ct_stateless_random_uniform(
            CT_DIMS(200000), SEED(11, d), &(ct_random_opts){.dtype = dts[d], .minval = -1,
                                                            .maxval = 3}));
        cr_expect(u.min >= -1 && u.max < 3, "dtype %d: uniform in [%g, %g]", d, u.min, u.max);
        cr_expect(fabs(u.mean - 1) < 0.02, "dtype %d: uniform mean %g", d, u.mean);
        cr_expect(fabs(u.std - 4 / sqrt(12)) < tol * 2, "dtype %d: uniform std %g", d, u.std);
        stats z = stats_of(ct_stateless_random_uniform(CT_DIMS(100000), SEED(12, d),
                                                       &(ct_random_opts){.dtype = dts[d]}));
        cr_expect(z.min >= 0 && z.max < 1, "dtype %d: [0, 1) default", d);

        stats n = stats_of(ct_stateless_random_normal(
            CT_DIMS(200000), SEED(13, d), &(ct_random_opts){.dtype = dts[d], .mean = 2,
                                                            .stddev = 3}));
        cr_expect(fabs(n.mean - 2) < 0.03, "dtype %d: normal mean %g", d, n.mean);
        cr_expect(fabs(n.std - 3) < 3 * tol, "dtype %d: normal std %g", d, n.std);

        stats t = stats_of(ct_stateless_truncated_normal(
            CT_DIMS(200000), SEED(14, d), &(ct_random_opts){.dtype = dts[d], .mean = -1,
                                                            .stddev = 0.5}));
        cr_expect(t.min >= -2 && t.max <= 0, "dtype %d: truncated in [%g, %g]", d, t.min, t.max);
        if (d < 2) cr_expect(t.min > -2 && t.max < 0);
        cr_expect(fabs(t.mean + 1) < 0.01, "dtype %d: truncated mean %g", d, t.mean);
        cr_expect(fabs(t.std - 0.5 * .87962566103423978) < tol, "dtype %d: truncated std %g",
                  d, t.std);
    }
    stats i = stats_of(ct_stateless_random_uniform(
        CT_DIMS(100000), SEED(15, 0), &(ct_random_opts){.dtype = CT_INT32, .minval = -5,
                                                        .maxval = 5}));
    cr_expect(i.min == -5 && i.max == 4);
    cr_expect(fabs(i.mean + 0.5) < 0.05);
}

Test(stateless_random, threads_do_not_change_values) {
    int nt = ct_get_num_threads();
    ct_random_opts f64 = {.dtype = CT_FLOAT64};
    ct_tensor *a[4], *b[4];
    for (int pass = 0; pass < 2; pass++) {
        ct_set_num_threads(pass ? 1 : (nt > 1 ? nt : 2));
        ct_tensor **t = pass ? b : a;
        t[0] = ct_stateless_random_uniform(CT_DIMS(1 << 20), SEED(3, 1), NULL);
        t[1] = ct_stateless_random_normal(CT_DIMS(300007), SEED(3, 1), &f64);
        t[2] = ct_stateless_truncated_normal(CT_DIMS(300007), SEED(3, 1), NULL);
        t[3] = ct_stateless_truncated_normal(CT_DIMS(300007), SEED(3, 1), &f64);
    }
    ct_set_num_threads(nt);
    for (int k = 0; k < 4; k++) cr_expect(same_bytes(a[k], b[k]), "op %d", k);
}

/* ---- errors ---------------------------------------------------------------------------- */

Test(stateless_random, errors) {
    const int64_t *seed = SEED(1, 2);
    CT_FAILS(ct_stateless_random_uniform(CT_DIMS(3), NULL, NULL), "seed pair is NULL");
    CT_FAILS(ct_stateless_random_normal(CT_DIMS(3), seed, &(ct_random_opts){.dtype = CT_INT32}),
             "dtype int32 is not supported");
    CT_FAILS(ct_stateless_truncated_normal(CT_DIMS(3), seed,
                                           &(ct_random_opts){.dtype = CT_INT64}),
             "ct_stateless_truncated_normal: dtype int64 is not supported");
    CT_FAILS(ct_stateless_random_uniform(CT_DIMS(3), seed, &(ct_random_opts){.dtype = CT_BOOL}),
             "dtype bool is not supported");
    CT_FAILS(ct_stateless_random_uniform(CT_DIMS(3), seed, &(ct_random_opts){.dtype = 99}),
             "invalid dtype");
    CT_FAILS(ct_stateless_random_normal(CT_DIMS(2, -1), seed, NULL), "negative dimension");
    CT_FAILS(ct_stateless_random_uniform(9, (const int64_t[9]){1}, seed, NULL), "rank 9");
    CT_FAILS(ct_stateless_random_uniform(2, NULL, seed, NULL), "NULL shape");
    CT_FAILS(ct_stateless_random_uniform(CT_DIMS(3), seed, &(ct_random_opts){.dtype = CT_INT32}),
             "Need minval < maxval");
    CT_FAILS(ct_stateless_random_uniform(CT_DIMS(3), seed,
                                         &(ct_random_opts){.dtype = CT_INT64, .minval = 5,
                                                           .maxval = 5}),
             "Need minval < maxval, got 5 >= 5");
    CT_FAILS(ct_stateless_random_uniform(CT_DIMS(3), seed,
                                         &(ct_random_opts){.dtype = CT_INT32, .minval = 5,
                                                           .maxval = 1}),
             "Need minval < maxval");
    CT_FAILS(ct_stateless_random_uniform(CT_DIMS(3), seed,
                                         &(ct_random_opts){.dtype = CT_INT32, .maxval = 3e9}),
             "outside the range of int32");
}
