/*
 * keras.initializers: fans, the statistics of large draws against the
 * limits and standard deviations of keras/src/initializers (computed here
 * from Keras's formulas), orthogonality, seeds, JSON and errors.
 */
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"
#include "support.h"

TestSuite(initializers, .init = ct_test_begin, .fini = ct_test_end);

typedef struct {
    double mean, std, min, max;
} stats;

static stats stats_of(const ct_tensor *t) {
    int64_t n = ct_tensor_size(t);
    double *v = malloc((size_t)n * sizeof *v);
    cr_assert_eq(ct_tensor_read(t, CT_FLOAT64, v, n), CT_OK);
    stats s = {0, 0, INFINITY, -INFINITY};
    for (int64_t i = 0; i < n; i++) {
        s.mean += v[i];
        s.min = fmin(s.min, v[i]);
        s.max = fmax(s.max, v[i]);
    }
    s.mean /= (double)n;
    for (int64_t i = 0; i < n; i++) s.std += (v[i] - s.mean) * (v[i] - s.mean);
    s.std = sqrt(s.std / (double)n);
    free(v);
    return s;
}

static ct_tensor *call(ct_initializer init, ct_dtype dt, int rank, const int64_t *shape) {
    ct_tensor *t = ct_initializer_call(&init, dt, rank, shape);
    CT_OK(t);
    ct_expect_shape(t, rank, shape);
    cr_assert_eq(ct_tensor_dtype(t), dt);
    return t;
}

/* Statistical checks draw with fixed seeds, so they cannot fail by chance. */
static ct_initializer seeded(ct_initializer init, int64_t seed) {
    init.seeded = true;
    init.seed = seed;
    return init;
}

#define REL(a, b, tol) (fabs((a) - (double)(b)) <= (tol) * fabs((double)(b)))

Test(initializers, constants) {
    CT_EXPECT(call(ct_initializer_get("zeros"), CT_FLOAT32, CT_DIMS(2, 2)), CT_FLOAT32,
              CT_DIMS(2, 2), 0, 0, 0, 0, 0);
    CT_EXPECT(call(ct_initializer_get("Ones"), CT_INT32, CT_DIMS(3)), CT_INT32, CT_DIMS(3), 0, 1,
              1, 1);
    CT_EXPECT(call((ct_initializer){.kind = CT_INIT_CONSTANT, .value = 2.5}, CT_FLOAT64,
                   CT_DIMS(2)), CT_FLOAT64, CT_DIMS(2), 0, 2.5, 2.5);
    CT_EXPECT(call((ct_initializer){.kind = CT_INIT_CONSTANT, .value = 2.5}, CT_FLOAT32,
                   CT_SCALAR), CT_FLOAT32, CT_SCALAR, 0, 2.5);
    CT_EXPECT(call((ct_initializer){.kind = CT_INIT_IDENTITY, .gain = 0.5}, CT_FLOAT32,
                   CT_DIMS(2, 3)), CT_FLOAT32, CT_DIMS(2, 3), 0, 0.5, 0, 0, 0, 0.5, 0);
    CT_EXPECT(call(ct_initializer_get("identity"), CT_FLOAT32, CT_DIMS(3, 2)), CT_FLOAT32,
              CT_DIMS(3, 2), 0, 1, 0, 0, 1, 0, 0);
}

Test(initializers, random_defaults) {
    /* RandomUniform: [-0.05, 0.05), std 0.1 / sqrt(12). */
    stats s = stats_of(
        call(seeded(ct_initializer_get("random_uniform"), 1), CT_FLOAT32, CT_DIMS(400, 500)));
    cr_expect(s.min >= -0.05 && s.max < 0.05 && s.max > 0.0499 && s.min < -0.0499,
              "range [%g, %g]", s.min, s.max);
    cr_expect(fabs(s.mean) < 5e-4 && REL(s.std, 0.1 / sqrt(12), 0.01), "%g %g", s.mean, s.std);

    s = stats_of(
        call(seeded(ct_initializer_get("RandomNormal"), 2), CT_FLOAT64, CT_DIMS(400, 500)));
    cr_expect(fabs(s.mean) < 5e-4 && REL(s.std, 0.05, 0.01), "%g %g", s.mean, s.std);
    cr_expect(s.max > 0.15, "normal tails reach past 3 sigma: %g", s.max);

    /* Truncated to two standard deviations: std 0.05 * 0.87962566. */
    s = stats_of(
        call(seeded(ct_initializer_get("truncated_normal"), 3), CT_FLOAT32, CT_DIMS(400, 500)));
    cr_expect(s.min > -0.1 && s.max < 0.1, "range [%g, %g]", s.min, s.max);
    cr_expect(fabs(s.mean) < 5e-4 && REL(s.std, 0.05 * .87962566103423978, 0.01), "%g %g",
              s.mean, s.std);

    /* Unseeded draws (the runtime's stateful ops): bounds that always hold. */
    s = stats_of(call(ct_initializer_get("random_uniform"), CT_FLOAT32, CT_DIMS(1000)));
    cr_expect(s.min >= -0.05 && s.max < 0.05 && s.max > s.min, "[%g, %g]", s.min, s.max);
    s = stats_of(call(ct_initializer_get("truncated_normal"), CT_FLOAT64, CT_DIMS(1000)));
    cr_expect(s.min > -0.1 && s.max < 0.1 && s.max > s.min, "[%g, %g]", s.min, s.max);

    s = stats_of(call(
        seeded((ct_initializer){.kind = CT_INIT_RANDOM_UNIFORM, .minval = 2, .maxval = 5}, 4),
                      CT_FLOAT64, CT_DIMS(100000)));
    cr_expect(s.min >= 2 && s.max < 5 && REL(s.mean, 3.5, 0.01) && REL(s.std, 3 / sqrt(12), 0.01),
              "%g %g %g %g", s.min, s.max, s.mean, s.std);
    s = stats_of(call(
        seeded((ct_initializer){.kind = CT_INIT_RANDOM_NORMAL, .mean = 1, .stddev = 2}, 5),
                      CT_FLOAT32, CT_DIMS(100000)));
    cr_expect(REL(s.mean, 1, 0.02) && REL(s.std, 2, 0.01), "%g %g", s.mean, s.std);
}

/* A conv kernel [3, 3, 16, 32]: receptive field 9, fan_in 144, fan_out 288. */
Test(initializers, variance_scaling_fans) {
    const double fan_in = 144, fan_avg = 216; /* fan_out 288 */
    struct {
        const char *name;
        double limit;  /* uniform: the bound; else 0                       */
        double std;    /* the standard deviation of the values             */
    } cases[] = {
        {"glorot_uniform", sqrt(3.0 / fan_avg), sqrt(1.0 / fan_avg)},
        {"GlorotNormal", 0, sqrt(1.0 / fan_avg)},
        {"he_uniform", sqrt(6.0 / fan_in), sqrt(2.0 / fan_in)},
        {"HeNormal", 0, sqrt(2.0 / fan_in)},
        {"lecun_uniform", sqrt(3.0 / fan_in), sqrt(1.0 / fan_in)},
        {"lecun_normal", 0, sqrt(1.0 / fan_in)},
        {"variance_scaling", 0, sqrt(1.0 / fan_in)},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ct_scope_begin();
        ct_initializer init = ct_initializer_get(cases[k].name);
        /* Four kernels' worth of draws for the statistics. */
        stats s = {0};
        double m = 0, v = 0, lo = INFINITY, hi = -INFINITY;
        for (int r = 0; r < 4; r++) {
            stats t = stats_of(call(seeded(init, 10 + r), CT_FLOAT32, CT_DIMS(3, 3, 16, 32)));
            m += t.mean / 4, v += (t.std * t.std + t.mean * t.mean) / 4;
            lo = fmin(lo, t.min), hi = fmax(hi, t.max);
        }
        s.std = sqrt(v - m * m);
        cr_expect(fabs(m) < 0.05 * cases[k].std, "%s: mean %g", cases[k].name, m);
        cr_expect(REL(s.std, cases[k].std, 0.03), "%s: std %g, expected %g", cases[k].name,
                  s.std, cases[k].std);
        if (cases[k].limit > 0)
            cr_expect(lo >= -cases[k].limit && hi <= cases[k].limit &&
                          hi > 0.99 * cases[k].limit,
                      "%s: range [%g, %g], limit %g", cases[k].name, lo, hi, cases[k].limit);
        else /* truncated at two standard deviations of the untruncated normal */
            cr_expect(fmax(-lo, hi) < 2 * cases[k].std / .87962566103423978,
                      "%s: range [%g, %g]", cases[k].name, lo, hi);
        ct_scope_end();
    }
}

Test(initializers, variance_scaling_modes_and_ranks) {
    /* fan_out of [20, 4000] is 4000: std sqrt(2 / 4000), untruncated. */
    stats s = stats_of(call(seeded((ct_initializer){.kind = CT_INIT_VARIANCE_SCALING, .scale = 2,
                                                    .mode = "fan_out",
                                                    .distribution = "untruncated_normal"}, 6),
                            CT_FLOAT64, CT_DIMS(20, 4000)));
    cr_expect(REL(s.std, sqrt(2.0 / 4000), 0.02), "%g", s.std);
    /* A vector: fan_in = fan_out = its length. */
    s = stats_of(call(seeded((ct_initializer){.kind = CT_INIT_VARIANCE_SCALING, .mode = "fan_avg",
                                              .distribution = "uniform"}, 7),
                      CT_FLOAT32, CT_DIMS(50000)));
    double limit = sqrt(3.0 / 50000);
    cr_expect(s.max <= limit && s.min >= -limit && REL(s.std, limit / sqrt(3), 0.02), "%g %g",
              s.max, s.std);
    /* A scalar: fans 1 (limit sqrt(3)); "Normal" reads as truncated_normal. */
    ct_tensor *t = call((ct_initializer){.kind = CT_INIT_VARIANCE_SCALING, .distribution = "Normal"},
                        CT_FLOAT32, CT_SCALAR);
    cr_expect(fabs(ct_item(t)) < 2 / .87962566103423978);
}

static void expect_identity(const ct_tensor *m, double gain2) {
    int64_t n = ct_tensor_dim(m, 0);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double v = ct_tensor_get(m, i * n + j), e = i == j ? gain2 : 0;
            cr_assert(fabs(v - e) < 1e-5, "[%lld,%lld] = %g, expected %g", (long long)i,
                      (long long)j, v, e);
        }
}

Test(initializers, orthogonal) {
    ct_initializer o = ct_initializer_get("orthogonal");
    /* Tall: orthonormal columns. */
    ct_tensor *q = call(o, CT_FLOAT32, CT_DIMS(6, 4));
    expect_identity(ct_matmul_ex(q, q, true, false), 1);
    /* Wide: orthonormal rows. */
    q = call(o, CT_FLOAT64, CT_DIMS(3, 7));
    expect_identity(ct_matmul_ex(q, q, false, true), 1);
    /* A conv kernel flattens to [3 * 3 * 4, 8]; gain 2 scales Q. */
    q = call((ct_initializer){.kind = CT_INIT_ORTHOGONAL, .gain = 2, .seeded = true, .seed = 5},
             CT_FLOAT32, CT_DIMS(3, 3, 4, 8));
    ct_tensor *flat = ct_reshape(q, CT_DIMS(36, 8));
    expect_identity(ct_matmul_ex(flat, flat, true, false), 4);
    /* Square: orthogonal both ways. */
    q = call(o, CT_FLOAT64, CT_DIMS(5, 5));
    expect_identity(ct_matmul_ex(q, q, false, true), 1);
    expect_identity(ct_matmul_ex(q, q, true, false), 1);
}

static bool same_values(const ct_tensor *a, const ct_tensor *b) {
    int64_t n = ct_tensor_size(a);
    for (int64_t i = 0; i < n; i++)
        if (ct_tensor_get(a, i) != ct_tensor_get(b, i)) return false;
    return true;
}

Test(initializers, seeds) {
    ct_init_kind kinds[] = {CT_INIT_RANDOM_UNIFORM, CT_INIT_RANDOM_NORMAL,
                            CT_INIT_TRUNCATED_NORMAL, CT_INIT_GLOROT_UNIFORM,
                            CT_INIT_HE_NORMAL, CT_INIT_ORTHOGONAL};
    ct_dtype dts[] = {CT_FLOAT32, CT_FLOAT64};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (int d = 0; d < 2; d++) {
            ct_scope_begin();
            ct_initializer s1 = {.kind = kinds[k], .seeded = true, .seed = 1337};
            ct_initializer s2 = {.kind = kinds[k], .seeded = true, .seed = 1338};
            ct_initializer un = {.kind = kinds[k]};
            ct_tensor *a = call(s1, dts[d], CT_DIMS(7, 9)), *b = call(s1, dts[d], CT_DIMS(7, 9));
            cr_expect(same_values(a, b), "kind %d: a seeded initializer repeats", (int)kinds[k]);
            cr_expect(!same_values(a, call(s2, dts[d], CT_DIMS(7, 9))),
                      "kind %d: another seed differs", (int)kinds[k]);
            cr_expect(!same_values(call(un, dts[d], CT_DIMS(7, 9)),
                                   call(un, dts[d], CT_DIMS(7, 9))),
                      "kind %d: unseeded calls differ", (int)kinds[k]);
            /* Seed 0 is a seed. */
            ct_initializer z = {.kind = kinds[k], .seeded = true, .seed = 0};
            cr_expect(same_values(call(z, dts[d], CT_DIMS(3, 2)), call(z, dts[d], CT_DIMS(3, 2))));
            ct_scope_end();
        }
    /* Unseeded initializers follow the global seed. */
    ct_initializer g = ct_initializer_get("glorot_normal");
    ct_set_random_seed(7);
    ct_tensor *a = call(g, CT_FLOAT32, CT_DIMS(4, 4));
    ct_set_random_seed(7);
    ct_tensor *b = call(g, CT_FLOAT32, CT_DIMS(4, 4));
    ct_clear_random_seed();
    cr_expect(same_values(a, b));
    /* Half types are drawn in float32 and rounded. */
    ct_tensor *h = call((ct_initializer){.kind = CT_INIT_RANDOM_NORMAL, .seeded = true, .seed = 3},
                        CT_FLOAT16, CT_DIMS(1000));
    stats s = stats_of(h);
    cr_expect(REL(s.std, 0.05, 0.1), "%g", s.std);
}

Test(initializers, names) {
    static const struct {
        const char *name;
        ct_init_kind kind;
    } names[] = {
        {"zeros", CT_INIT_ZEROS}, {"Zeros", CT_INIT_ZEROS}, {"zero", CT_INIT_ZEROS},
        {"ones", CT_INIT_ONES}, {"one", CT_INIT_ONES}, {"Constant", CT_INIT_CONSTANT},
        {"uniform", CT_INIT_RANDOM_UNIFORM}, {"RandomUniform", CT_INIT_RANDOM_UNIFORM},
        {"normal", CT_INIT_RANDOM_NORMAL}, {"random_normal", CT_INIT_RANDOM_NORMAL},
        {"TruncatedNormal", CT_INIT_TRUNCATED_NORMAL}, {"VarianceScaling", CT_INIT_VARIANCE_SCALING},
        {"GlorotUniform", CT_INIT_GLOROT_UNIFORM}, {"glorot_normal", CT_INIT_GLOROT_NORMAL},
        {"he_uniform", CT_INIT_HE_UNIFORM}, {"HeNormal", CT_INIT_HE_NORMAL},
        {"LecunUniform", CT_INIT_LECUN_UNIFORM}, {"lecun_normal", CT_INIT_LECUN_NORMAL},
        {"Orthogonal", CT_INIT_ORTHOGONAL}, {"OrthogonalInitializer", CT_INIT_ORTHOGONAL},
        {"Identity", CT_INIT_IDENTITY}, {"IdentityInitializer", CT_INIT_IDENTITY},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_expect_eq(ct_initializer_get(names[i].name).kind, names[i].kind, "%s", names[i].name);
    ct_clear_error();
    cr_expect_eq(ct_initializer_get("glorot").kind, CT_INIT_DEFAULT);
    cr_expect(strstr(ct_last_error(), "unknown initializer 'glorot'"), "%s", ct_last_error());
}

Test(initializers, bad_arguments) {
    CT_FAILS(ct_initializer_call(&(ct_initializer){.kind = CT_INIT_RANDOM_NORMAL, .stddev = -1},
                                 CT_FLOAT32, CT_DIMS(2)),
             "RandomNormal: argument 'stddev' must be positive");
    CT_FAILS(ct_initializer_call(&(ct_initializer){.kind = CT_INIT_VARIANCE_SCALING,
                                                   .mode = "fan_mid"},
                                 CT_FLOAT32, CT_DIMS(2)),
             "argument 'mode' must be one of 'fan_in', 'fan_out', 'fan_avg', got 'fan_mid'");
    CT_FAILS(ct_initializer_call(&(ct_initializer){.kind = CT_INIT_VARIANCE_SCALING,
                                                   .distribution = "cauchy"},
                                 CT_FLOAT32, CT_DIMS(2)),
             "argument 'distribution'");
    CT_FAILS(ct_initializer_call(&(ct_initializer){.kind = CT_INIT_VARIANCE_SCALING, .scale = -1},
                                 CT_FLOAT32, CT_DIMS(2)),
             "argument 'scale' must be a positive float");
    CT_FAILS(ct_initializer_call(&(ct_initializer){.kind = CT_INIT_IDENTITY}, CT_FLOAT32,
                                 CT_DIMS(2, 2, 2)),
             "Identity: the identity matrix initializer can only be used for 2D matrices");
    CT_FAILS(ct_initializer_call(&(ct_initializer){.kind = CT_INIT_ORTHOGONAL}, CT_FLOAT32,
                                 CT_DIMS(4)),
             "at least two-dimensional");
    CT_FAILS(ct_initializer_call(&(ct_initializer){0}, CT_FLOAT32, CT_DIMS(2)),
             "no initializer given");
    CT_FAILS(ct_initializer_call(&(ct_initializer){.kind = CT_INIT_HE_NORMAL}, CT_INT32,
                                 CT_DIMS(2)),
             "HeNormal draws random values and needs a floating-point dtype, got int32");
    CT_FAILS(ct_initializer_call(&(ct_initializer){.kind = CT_INIT_ZEROS}, CT_FLOAT32,
                                 CT_DIMS(2, -1)),
             "negative dimension");
}

/* ---- JSON --------------------------------------------------------------------- */

static ct_initializer from_text(const char *text) {
    json_t *j = ct__json_parse(text, "test");
    cr_assert_not_null(j, "%s", ct_last_error());
    ct_initializer init;
    ct_status st = ct__initializer_from_json(j, &init, "Dense 'd': kernel_initializer");
    json_decref(j);
    cr_assert_eq(st, CT_OK, "%s: %s", text, ct_last_error());
    return init;
}

static char *to_text(const ct_initializer *init) {
    json_t *j = ct__initializer_to_json(init);
    cr_assert_not_null(j, "%s", ct_last_error());
    char *s = ct__json_dump(j);
    json_decref(j);
    return s;
}

/* init's JSON equals `want` (as JSON values), and reads back to the same. */
static void expect_json(const ct_initializer *init, const char *want) {
    char *s = to_text(init);
    json_t *got = ct__json_parse(s, "got"), *exp = ct__json_parse(want, "want");
    cr_expect(json_equal(got, exp), "%s, expected %s", s, want);
    ct_initializer again = from_text(s);
    json_t *back = ct__initializer_to_json(&again);
    cr_expect(json_equal(back, got), "%s does not read back", s);
    json_decref(got);
    json_decref(exp);
    json_decref(back);
    free(s);
}

Test(initializers, json_round_trips) {
    expect_json(&(ct_initializer){.kind = CT_INIT_GLOROT_UNIFORM},
                "{\"class_name\":\"GlorotUniform\",\"config\":{\"seed\":null}}");
    expect_json(&(ct_initializer){.kind = CT_INIT_HE_NORMAL, .seeded = true, .seed = 42},
                "{\"class_name\":\"HeNormal\",\"config\":{\"seed\":42}}");
    expect_json(&(ct_initializer){.kind = CT_INIT_ZEROS},
                "{\"class_name\":\"Zeros\",\"config\":{}}");
    expect_json(&(ct_initializer){.kind = CT_INIT_CONSTANT, .value = 0.25},
                "{\"class_name\":\"Constant\",\"config\":{\"value\":0.25}}");
    expect_json(&(ct_initializer){.kind = CT_INIT_RANDOM_UNIFORM},
                "{\"class_name\":\"RandomUniform\",\"config\":{\"minval\":-0.050000000000000003,"
                "\"maxval\":0.050000000000000003,\"seed\":null}}");
    expect_json(&(ct_initializer){.kind = CT_INIT_TRUNCATED_NORMAL, .mean = 1, .stddev = 0.5},
                "{\"class_name\":\"TruncatedNormal\",\"config\":{\"mean\":1.0,\"stddev\":0.5,"
                "\"seed\":null}}");
    expect_json(&(ct_initializer){.kind = CT_INIT_VARIANCE_SCALING, .scale = 2, .mode = "fan_avg",
                                  .distribution = "uniform", .seeded = true, .seed = 3},
                "{\"class_name\":\"VarianceScaling\",\"config\":{\"scale\":2.0,\"mode\":\"fan_avg\","
                "\"distribution\":\"uniform\",\"seed\":3}}");
    expect_json(&(ct_initializer){.kind = CT_INIT_ORTHOGONAL},
                "{\"class_name\":\"Orthogonal\",\"config\":{\"gain\":1.0,\"seed\":null}}");
    expect_json(&(ct_initializer){.kind = CT_INIT_IDENTITY, .gain = 3},
                "{\"class_name\":\"Identity\",\"config\":{\"gain\":3.0}}");
    json_t *j = ct__initializer_to_json(&(ct_initializer){0});
    cr_expect(json_is_null(j));
    json_decref(j);
}

Test(initializers, json_forms) {
    ct_initializer i = from_text("\"he_uniform\"");
    cr_expect_eq(i.kind, CT_INIT_HE_UNIFORM);
    cr_expect(!i.seeded);
    /* Keras 3's form. */
    i = from_text("{\"module\": \"keras.initializers\", \"class_name\": \"RandomNormal\", "
                  "\"config\": {\"mean\": 0.5, \"stddev\": 2, \"seed\": 9}, "
                  "\"registered_name\": null}");
    cr_expect(i.kind == CT_INIT_RANDOM_NORMAL && i.mean == 0.5 && i.stddev == 2 && i.seeded &&
              i.seed == 9);
    i = from_text("{\"class_name\": \"VarianceScaling\", \"config\": {\"scale\": 0.5, \"mode\": "
                  "\"fan_out\", \"distribution\": \"normal\", \"seed\": null}}");
    cr_expect(i.kind == CT_INIT_VARIANCE_SCALING && i.scale == 0.5 &&
              !strcmp(i.mode, "fan_out") && !strcmp(i.distribution, "truncated_normal"));
    i = from_text("{\"class_name\": \"Ones\"}");
    cr_expect_eq(i.kind, CT_INIT_ONES);
    i = from_text("null");
    cr_expect_eq(i.kind, CT_INIT_DEFAULT);
}

static void expect_json_error(const char *text, const char *needle) {
    json_t *j = ct__json_parse(text, "test");
    cr_assert_not_null(j);
    ct_initializer init;
    ct_clear_error();
    cr_expect_neq(ct__initializer_from_json(j, &init, "Dense 'd': kernel_initializer"), CT_OK,
                  "%s", text);
    cr_expect(strstr(ct_last_error(), needle), "\"%s\" does not mention \"%s\"", ct_last_error(),
              needle);
    json_decref(j);
}

Test(initializers, json_errors) {
    expect_json_error("\"glorot\"", "Dense 'd': kernel_initializer: unknown initializer 'glorot'");
    expect_json_error("{\"class_name\": \"RandomNormal\", \"config\": {\"stddev\": -0.1}}",
                      "RandomNormal: argument 'stddev': must be non-negative");
    expect_json_error("{\"class_name\": \"VarianceScaling\", \"config\": {\"mode\": \"fan\"}}",
                      "argument 'mode': must be one of 'fan_in', 'fan_out', 'fan_avg', got 'fan'");
    expect_json_error("{\"class_name\": \"VarianceScaling\", \"config\": {\"scale\": 0}}",
                      "argument 'scale': must be a positive float");
    expect_json_error("{\"class_name\": \"GlorotUniform\", \"config\": {\"sed\": 1}}",
                      "GlorotUniform: unknown argument 'sed'");
    expect_json_error("{\"class_name\": \"GlorotUniform\", \"config\": {\"seed\": \"x\"}}",
                      "argument 'seed': must be an integer");
    expect_json_error("{\"config\": {}}", "needs a string \"class_name\"");
    expect_json_error("[1]", "Dense 'd': kernel_initializer");
}
