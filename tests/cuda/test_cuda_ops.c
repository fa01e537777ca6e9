/*
 * GPU kernels of the creation and unary ops against the CPU: Fill (and
 * the zeros/ones/fill_like family on a GPU tensor), Cast between every
 * pair of dtypes, the unary elementwise family, float16/bfloat16 ops
 * (computed through Cast to float32), and plain tape gradients on the GPU
 * (seeded with ones_like, so they need Fill there).
 *
 * Fill, Cast and the exact unary ops must give the CPU's bits; the
 * transcendental ones (CUDA's libm against glibc's) agree within a few
 * ulp. Without a visible GPU every test is skipped, saying why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(cuda_ops, .init = ct_test_begin, .fini = ct_test_end);

/* GPU 0, or skips the test. */
static ct_device *gpu(void) {
    if (ct_device_count(CT_DEVICE_CUDA) == 0)
        cr_skip_test("no CUDA device visible: these tests need a build with CT_CUDA=ON and a "
                     "GPU with its driver");
    ct_device *d = ct_device_get(CT_DEVICE_CUDA, 0);
    cr_assert_not_null(d, "%s", ct_last_error());
    return d;
}

static ct_device *cpu(void) { return ct_device_get(CT_DEVICE_CPU, 0); }

static const ct_dtype all_dtypes[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16,
                                      CT_INT32,   CT_INT64,   CT_UINT8,   CT_BOOL};
#define N_DTYPES (sizeof all_dtypes / sizeof *all_dtypes)

/* Whether an element of dtype dt (its bytes at p) is a NaN. */
static bool is_nan_elem(ct_dtype dt, const unsigned char *p) {
    uint16_t h;
    switch (dt) {
    case CT_FLOAT32: { float f; memcpy(&f, p, 4); return isnan(f); }
    case CT_FLOAT64: { double v; memcpy(&v, p, 8); return isnan(v); }
    case CT_FLOAT16: memcpy(&h, p, 2); return (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
    case CT_BFLOAT16: memcpy(&h, p, 2); return (h & 0x7f80) == 0x7f80 && (h & 0x7f);
    default: return false;
    }
}

/* Asserts that got (on the GPU) and want (on the CPU) have one dtype and
 * shape and the same bytes element by element. any_nan: two NaNs match
 * whatever their sign and payload (arithmetic on the GPU makes CUDA's
 * canonical NaN where x86 makes a negative one or keeps an input's). */
static void expect_bits_ex(const ct_tensor *got, const ct_tensor *want, bool any_nan,
                           const char *what) {
    CT_OK(got);
    CT_OK(want);
    ct_dtype dt = ct_tensor_dtype(want);
    cr_assert_eq(ct_tensor_dtype(got), dt, "%s: dtype %s, expected %s", what,
                 ct_dtype_name(ct_tensor_dtype(got)), ct_dtype_name(dt));
    ct_expect_shape(got, ct_tensor_rank(want), ct_tensor_shape(want));
    int64_t n = ct_tensor_size(want);
    size_t es = ct_dtype_size(dt);
    unsigned char *g = malloc((size_t)n * es + 1), *w = malloc((size_t)n * es + 1);
    CT_STATUS_OK(ct_tensor_read(got, dt, g, n));
    CT_STATUS_OK(ct_tensor_read(want, dt, w, n));
    for (int64_t i = 0; i < n; i++) {
        const unsigned char *gi = g + (size_t)i * es, *wi = w + (size_t)i * es;
        if (!memcmp(gi, wi, es) || (any_nan && is_nan_elem(dt, gi) && is_nan_elem(dt, wi)))
            continue;
        uint64_t gb = 0, wb = 0;
        memcpy(&gb, gi, es);
        memcpy(&wb, wi, es);
        free(g);
        free(w);
        cr_assert_fail("%s: element %lld is %.17g (bits %#llx) on the GPU, %.17g (bits %#llx) "
                       "on the CPU", what, (long long)i, ct_tensor_get(got, i),
                       (unsigned long long)gb, ct_tensor_get(want, i), (unsigned long long)wb);
    }
    free(g);
    free(w);
}
#define expect_bits(got, want, what) expect_bits_ex((got), (want), false, (what))
#define expect_equal(got, want, what) expect_bits_ex((got), (want), true, (what))

/* As expect_bits for values within tol relative to max(1, |want|), NaN
 * equal to NaN, infinities exactly. */
static void expect_close(const ct_tensor *got, const ct_tensor *want, double tol, const char *what) {
    CT_OK(got);
    CT_OK(want);
    cr_assert_eq(ct_tensor_dtype(got), ct_tensor_dtype(want), "%s: dtype %s, expected %s", what,
                 ct_dtype_name(ct_tensor_dtype(got)), ct_dtype_name(ct_tensor_dtype(want)));
    ct_expect_shape(got, ct_tensor_rank(want), ct_tensor_shape(want));
    int64_t n = ct_tensor_size(want);
    double *g = malloc((size_t)(n ? n : 1) * sizeof *g), *w = malloc((size_t)(n ? n : 1) * sizeof *w);
    CT_STATUS_OK(ct_tensor_read(got, CT_FLOAT64, g, n));
    CT_STATUS_OK(ct_tensor_read(want, CT_FLOAT64, w, n));
    for (int64_t i = 0; i < n; i++) {
        bool ok = (isnan(g[i]) && isnan(w[i])) || g[i] == w[i] ||
                  (isfinite(w[i]) && fabs(g[i] - w[i]) <= tol * fmax(1.0, fabs(w[i])));
        if (!ok) {
            double gi = g[i], wi = w[i];
            free(g);
            free(w);
            cr_assert_fail("%s: element %lld is %.17g on the GPU, %.17g on the CPU", what,
                           (long long)i, gi, wi);
        }
    }
    free(g);
    free(w);
}

/* Values that probe every conversion rule: signed zeros, NaN, infinities,
 * ties of every rounding, the edges of uint8, int32, int64, float16
 * (65504, its overflow at 65520, subnormals) and bfloat16. */
static const double specials[] = {
    0.0, -0.0, NAN, -NAN, INFINITY, -INFINITY, 1, -1, 0.5, -0.5, 1.5, 2.5, -2.5, 0.3,
    1.0 / 3, 255, 255.9, 256, 257.5, -1.5, -128, -129.7, 300.7, 2147483647.0, 2147483647.5,
    2147483648.0, -2147483648.0, -2147483649.5, 3e9, -3e9, 9007199254740993.0,
    9223372036854775807.0, -9223372036854775808.0, 1e19, -1e19, 1e300, -1e300, 65504, 65505,
    65519.99, 65520, -65520, 6.0e-8, 2.98e-8, 2.9802322387695312e-08, 5.96e-8, 1e-8, 6.1e-5,
    1.00390625, 1.01171875, 3.4e38, 3.5e38, 1e-40, -1e-45, 1e-310,
};
#define N_SPECIALS (sizeof specials / sizeof *specials)

/* int64 values a float64 cannot carry. */
static const int64_t int64_specials[] = {
    INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1, ((int64_t)1 << 53) + 1,
    -(((int64_t)1 << 53) + 1), ((int64_t)1 << 62) + 12345, 4294967296 + 300, -4294967296 - 1,
    2147483648, -2147483649, 257, -255, 0, 1, -1, 16777217, -16777217,
};
#define N_INT64_SPECIALS (sizeof int64_specials / sizeof *int64_specials)

/* Deterministic values in [-scale, scale), after the specials when
 * `specials` is set. */
static ct_tensor *values_of(ct_dtype dt, int64_t n, double scale, uint64_t seed, bool with_specials) {
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(s >> 11) / 9007199254740992.0;
        v[i] = with_specials && (size_t)i < N_SPECIALS ? specials[i] : scale * (2 * u - 1);
    }
    ct_tensor *f = ct_constant(v, CT_FLOAT64, CT_DIMS(n));
    free(v);
    return dt == CT_FLOAT64 ? f : ct_cast(f, dt);
}
static ct_tensor *test_values(ct_dtype dt, int64_t n, double scale, uint64_t seed) {
    return values_of(dt, n, scale, seed, true);
}

/* ---- Fill --------------------------------------------------------------------------- */

static const double fill_values[] = {0, -0.0, 1, -1.5, 2.5, 0.1, 1e10, -1e10, 300.7, -129.7,
                                     65519.99, 65520, 1e-8, 3e38, 1e300, NAN, INFINITY,
                                     -INFINITY, 9.3e18, -9.3e18};

Test(cuda_ops, fill_equals_cpu_for_every_dtype_and_value) {
    ct_device *d = gpu();
    static const struct {
        int rank;
        int64_t shape[3];
    } shapes[] = {{0, {0}}, {1, {0}}, {1, {1}}, {1, {7}}, {1, {1001}}, {3, {3, 5, 67}}};
    for (size_t k = 0; k < N_DTYPES; k++)
        for (size_t v = 0; v < sizeof fill_values / sizeof *fill_values; v++)
            for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
                ct_scope_begin();
                char what[128];
                snprintf(what, sizeof what, "fill(%s, %s, %g)", ct_dtype_name(all_dtypes[k]),
                         ct_shape_str(shapes[s].rank, shapes[s].shape, (char[64]){0}, 64),
                         fill_values[v]);
                ct_tensor *want = ct_fill(all_dtypes[k], shapes[s].rank, shapes[s].shape,
                                          fill_values[v]);
                ct_device_scope_begin(d);
                ct_tensor *got = ct_fill(all_dtypes[k], shapes[s].rank, shapes[s].shape,
                                         fill_values[v]);
                ct_device_scope_end();
                CT_OK(got);
                cr_assert_eq(ct_tensor_device(got), d, "%s ran on %s", what,
                             ct_device_name(ct_tensor_device(got)));
                expect_bits(got, want, what);
                ct_scope_end();
            }
}

Test(cuda_ops, zeros_ones_and_fill_like_run_on_the_input_device) {
    ct_device *d = gpu();
    for (size_t k = 0; k < N_DTYPES; k++) {
        ct_scope_begin();
        ct_tensor *x = ct_cast(CT_F64(CT_DIMS(2, 3), 1, -2, 3, 0, 5, 6), all_dtypes[k]);
        ct_tensor *gx = ct_to_device(x, d);
        CT_OK(gx);
        const char *dn = ct_dtype_name(all_dtypes[k]);
        ct_tensor *z = ct_zeros_like(gx), *o = ct_ones_like(gx), *f = ct_fill_like(gx, -7.75);
        CT_OK(z);
        CT_OK(o);
        CT_OK(f);
        cr_expect_eq(ct_tensor_device(z), d, "zeros_like %s", dn);
        cr_expect_eq(ct_tensor_device(o), d, "ones_like %s", dn);
        cr_expect_eq(ct_tensor_device(f), d, "fill_like %s", dn);
        expect_bits(z, ct_zeros_like(x), "zeros_like");
        expect_bits(o, ct_ones_like(x), "ones_like");
        expect_bits(f, ct_fill_like(x, -7.75), "fill_like");
        ct_scope_end();
    }
    /* rank 0 and empty */
    expect_bits(ct_ones_like(ct_to_device(ct_scalar(3), d)), ct_ones_like(ct_scalar(3)), "scalar");
    ct_tensor *e = ct_constant(NULL, CT_FLOAT16, CT_DIMS(4, 0));
    expect_bits(ct_fill_like(ct_to_device(e, d), 2), ct_fill_like(e, 2), "empty");
}

/* ---- Cast ------------------------------------------------------------------------------ */

/* cast(src, to) on the GPU has the CPU's bits, for src on the CPU. */
static void check_cast(ct_tensor *src, ct_dtype to, const char *what_src) {
    ct_device *d = gpu();
    char what[160];
    snprintf(what, sizeof what, "cast(%s %s -> %s)", ct_dtype_name(ct_tensor_dtype(src)),
             what_src, ct_dtype_name(to));
    ct_tensor *want = ct_cast(src, to);
    cr_assert_not_null(want, "%s on the CPU: %s", what, ct_last_error());
    ct_tensor *got = ct_cast(ct_to_device(src, d), to);
    cr_assert_not_null(got, "%s on the GPU: %s", what, ct_last_error());
    cr_assert_eq(ct_tensor_device(got), d, "%s ran on %s", what,
                 ct_device_name(ct_tensor_device(got)));
    expect_bits(got, want, what);
}

Test(cuda_ops, cast_equals_cpu_for_every_pair_of_dtypes) {
    gpu();
    for (size_t i = 0; i < N_DTYPES; i++)
        for (size_t j = 0; j < N_DTYPES; j++) {
            ct_scope_begin();
            /* Specials then random values on a scale that overflows the
             * small types; 4099 elements leave a tail after the vector loop. */
            ct_tensor *src = test_values(all_dtypes[i], 4099, 70000, 1 + i);
            CT_OK(src);
            check_cast(src, all_dtypes[j], "specials + random");
            check_cast(test_values(all_dtypes[i], 1000, 3, 7 + i), all_dtypes[j], "small");
            ct_tensor *big = ct_constant(int64_specials, CT_INT64, CT_DIMS(N_INT64_SPECIALS));
            check_cast(ct_cast(big, all_dtypes[i]), all_dtypes[j], "int64 extremes");
            ct_scope_end();
        }
}

Test(cuda_ops, cast_of_every_half_bit_pattern) {
    gpu();
    uint16_t *bits = malloc(65536 * sizeof *bits);
    for (int i = 0; i < 65536; i++) bits[i] = (uint16_t)i;
    const ct_dtype halves[] = {CT_FLOAT16, CT_BFLOAT16};
    for (int h = 0; h < 2; h++) {
        ct_tensor *src = ct_constant(bits, halves[h], CT_DIMS(65536));
        CT_OK(src);
        for (size_t j = 0; j < N_DTYPES; j++) {
            ct_scope_begin();
            check_cast(src, all_dtypes[j], "every bit pattern");
            ct_scope_end();
        }
    }
    free(bits);
    /* float32 near every float16 / bfloat16 rounding boundary */
    int64_t n = 1 << 20;
    uint32_t *f = malloc((size_t)n * sizeof *f);
    for (int64_t i = 0; i < n; i++) /* every 4096th float bit pattern, offset by the low bits */
        f[i] = (uint32_t)(i << 12) | (uint32_t)((i * 2654435761u) & 0xfff) |
               ((i & 1) ? 0x1000u : 0) | ((i % 3 == 0) ? 0x7fffu : 0);
    ct_tensor *fs = ct_constant(f, CT_FLOAT32, CT_DIMS(n));
    free(f);
    check_cast(fs, CT_FLOAT16, "float32 bit patterns");
    check_cast(fs, CT_BFLOAT16, "float32 bit patterns");
}

Test(cuda_ops, cast_of_scalars_empties_and_misaligned_views) {
    ct_device *d = gpu();
    for (size_t j = 0; j < N_DTYPES; j++) {
        ct_scope_begin();
        check_cast(ct_scalar(-3.75), all_dtypes[j], "scalar");
        check_cast(ct_constant(NULL, CT_FLOAT64, CT_DIMS(0, 3)), all_dtypes[j], "empty");
        /* Views at odd element offsets take the scalar loop. */
        for (size_t i = 0; i < N_DTYPES; i++) {
            ct_tensor *src = test_values(all_dtypes[i], 1003, 500, 3);
            ct_tensor *view = ct_slice(src, (const int64_t[]){1}, (const int64_t[]){1001});
            ct_tensor *gview = ct_slice(ct_to_device(src, d), (const int64_t[]){1},
                                        (const int64_t[]){1001});
            CT_OK(gview);
            expect_bits(ct_cast(gview, all_dtypes[j]), ct_cast(view, all_dtypes[j]),
                        "cast of an offset view");
        }
        ct_scope_end();
    }
}

Test(cuda_ops, cast_errors_name_the_op) {
    ct_device *d = gpu();
    ct_tensor *x = ct_to_device(CT_F32(CT_DIMS(2), 1, 2), d);
    CT_FAILS(ct_cast(x, (ct_dtype)99), "invalid dtype");
}

/* ---- unary ----------------------------------------------------------------------------- */

typedef ct_tensor *(*unary_fn)(const ct_tensor *);
enum { F = 1, SI = 2, U8 = 4, B = 8 };
static const struct {
    const char *name;
    unary_fn fn;
    unsigned dtypes; /* the dtype classes the op takes */
    bool exact;      /* IEEE-exact on both devices: the same bits */
} unaries[] = {
    {"negative", ct_negative, F | SI, true},   {"abs", ct_abs, F | SI, true},
    {"sign", ct_sign, F | SI, true},           {"sqrt", ct_sqrt, F, true},
    {"rsqrt", ct_rsqrt, F, true},              {"square", ct_square, F | SI | U8, true},
    {"reciprocal", ct_reciprocal, F, true},    {"exp", ct_exp, F, false},
    {"expm1", ct_expm1, F, false},             {"log", ct_log, F, false},
    {"log1p", ct_log1p, F, false},             {"sin", ct_sin, F, false},
    {"cos", ct_cos, F, false},                 {"tanh", ct_tanh, F, false},
    {"sigmoid", ct_sigmoid, F, false},         {"relu", ct_relu, F | SI | U8, true},
    {"softplus", ct_softplus, F, false},       {"erf", ct_erf, F, false},
    {"floor", ct_floor, F, true},              {"ceil", ct_ceil, F, true},
    {"round", ct_round, F | SI, true},         {"is_nan", ct_is_nan, F, true},
    {"is_inf", ct_is_inf, F, true},            {"is_finite", ct_is_finite, F, true},
};

static bool takes(unsigned classes, ct_dtype dt) {
    switch (dt) {
    case CT_FLOAT32: case CT_FLOAT64: case CT_FLOAT16: case CT_BFLOAT16: return classes & F;
    case CT_INT32: case CT_INT64: return classes & SI;
    case CT_UINT8: return classes & U8;
    case CT_BOOL: return classes & B;
    default: return false;
    }
}

/* fn(x) on the GPU against the CPU: bits where exact, else a few ulp. */
static void check_unary(size_t k, ct_tensor *x, const char *what_x) {
    ct_device *d = gpu();
    char what[160];
    ct_dtype dt = ct_tensor_dtype(x);
    snprintf(what, sizeof what, "%s(%s %s)", unaries[k].name, ct_dtype_name(dt), what_x);
    ct_tensor *want = unaries[k].fn(x);
    cr_assert_not_null(want, "%s on the CPU: %s", what, ct_last_error());
    ct_tensor *got = unaries[k].fn(ct_to_device(x, d));
    cr_assert_not_null(got, "%s on the GPU: %s", what, ct_last_error());
    cr_assert_eq(ct_tensor_device(got), d, "%s ran on %s", what,
                 ct_device_name(ct_tensor_device(got)));
    if (unaries[k].exact || !ct_dtype_is_float(dt)) {
        expect_equal(got, want, what);
    } else {
        /* CUDA's float functions are within 2 ulp (2^-22 relative), the
         * double ones within 2 ulp too; the 16-bit types round the float32
         * result, so they may differ by one of their ulps. */
        double tol = dt == CT_FLOAT64 ? 1e-15 : dt == CT_FLOAT32 ? 1e-6
                   : dt == CT_FLOAT16 ? 1e-3 : 8e-3;
        expect_close(got, want, tol, what);
    }
}

Test(cuda_ops, every_unary_kernel_equals_cpu) {
    gpu();
    const ct_dtype dts[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16,
                            CT_INT32,   CT_INT64,   CT_UINT8};
    for (size_t k = 0; k < sizeof unaries / sizeof *unaries; k++)
        for (size_t j = 0; j < sizeof dts / sizeof *dts; j++) {
            if (!takes(unaries[k].dtypes, dts[j])) continue;
            ct_scope_begin();
            /* integers: random values and the int64 extremes (wraparound) */
            if (ct_dtype_is_integer(dts[j])) {
                check_unary(k, test_values(dts[j], 4099, 1e9, 11 + k), "random");
                check_unary(k, ct_cast(ct_constant(int64_specials, CT_INT64,
                                                   CT_DIMS(N_INT64_SPECIALS)), dts[j]),
                            "extremes");
            } else {
                check_unary(k, test_values(dts[j], 4099, 30, 11 + k), "specials + random");
                check_unary(k, test_values(dts[j], 1000, 1.5, 13 + k), "small");
            }
            ct_scope_end();
        }
}

Test(cuda_ops, unary_of_scalars_empties_views_and_bools) {
    ct_device *d = gpu();
    for (size_t k = 0; k < sizeof unaries / sizeof *unaries; k++) {
        ct_scope_begin();
        check_unary(k, ct_scalar(-0.75), "scalar");
        check_unary(k, ct_constant(NULL, CT_FLOAT32, CT_DIMS(3, 0)), "empty");
        ct_tensor *x = test_values(CT_FLOAT64, 1003, 4, 5);
        ct_tensor *view = ct_slice(x, (const int64_t[]){1}, (const int64_t[]){1001});
        ct_tensor *gview = ct_slice(ct_to_device(x, d), (const int64_t[]){1}, (const int64_t[]){1001});
        char what[64];
        snprintf(what, sizeof what, "%s of an offset view", unaries[k].name);
        ct_tensor *want = unaries[k].fn(view), *got = unaries[k].fn(gview);
        if (unaries[k].exact) expect_equal(got, want, what);
        else expect_close(got, want, 1e-15, what);
        ct_scope_end();
    }
    ct_tensor *p = CT_BOOLS(CT_DIMS(37), 1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 1,
                            0, 1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1, 1);
    expect_bits(ct_logical_not(ct_to_device(p, d)), ct_logical_not(p), "logical_not");
    /* a wrong dtype is refused on the GPU as on the CPU */
    CT_FAILS(ct_logical_not(ct_to_device(CT_F32(CT_DIMS(1), 1), d)), "bool");
    CT_FAILS(ct_exp(ct_to_device(CT_I32(CT_DIMS(1), 1), d)), "int32");
}

/* ---- float16 and bfloat16 --------------------------------------------------------------- */

Test(cuda_ops, half_ops_run_through_float32_on_the_gpu) {
    ct_device *d = gpu();
    const ct_dtype halves[] = {CT_FLOAT16, CT_BFLOAT16};
    for (int h = 0; h < 2; h++) {
        ct_scope_begin();
        ct_tensor *a = test_values(halves[h], 1001, 100, 1);
        ct_tensor *b = test_values(halves[h], 1001, 100, 2);
        ct_tensor *row = ct_cast(CT_F64(CT_DIMS(1), 0.1), halves[h]);
        ct_tensor *ga = ct_to_device(a, d), *gb = ct_to_device(b, d);
        ct_tensor *sum = ct_add(ga, gb);
        CT_OK(sum);
        cr_expect_eq(ct_tensor_device(sum), d);
        /* float32 add and multiply round alike on both devices, and so does
         * the cast back: the same halves (NaNs aside). */
        expect_equal(sum, ct_add(a, b), "half add");
        expect_equal(ct_multiply(ga, ct_to_device(row, d)), ct_multiply(a, row), "half multiply");
        expect_equal(ct_relu(ga), ct_relu(a), "half relu");
        expect_close(ct_tanh(ga), ct_tanh(a), halves[h] == CT_FLOAT16 ? 1e-3 : 8e-3, "half tanh");
        ct_scope_end();
    }
}

/* ---- gradients -------------------------------------------------------------------------- */

/* y = exp(tanh(x * w + b)) * x - w on dev, with no output gradient (the
 * tape seeds ones_like(y)); the gradients of x, w and b. */
static ct_status chain_grads(ct_device *dev, ct_tensor *x, ct_tensor *w, ct_tensor *b,
                             ct_tensor **out) {
    ct_tensor *src[3] = {ct_to_device(x, dev), ct_to_device(w, dev), ct_to_device(b, dev)};
    if (!src[0] || !src[1] || !src[2]) return ct_last_status();
    ct_tape *tape = ct_tape_begin(NULL);
    for (int i = 0; i < 3; i++) ct_tape_watch(tape, src[i]);
    ct_tensor *y = ct_subtract(
        ct_multiply(ct_exp(ct_tanh(ct_add(ct_multiply(src[0], src[1]), src[2]))), src[0]),
        src[1]);
    ct_tape_end(tape);
    ct_status st = y ? ct_tape_gradient(tape, y, 3, src, out, NULL) : ct_last_status();
    ct_tape_free(tape);
    return st;
}

static void check_chain(ct_dtype dt, double tol) {
    ct_device *d = gpu();
    ct_scope_begin();
    ct_tensor *x = values_of(dt, 200, 2, 21, false);
    ct_tensor *w = values_of(dt, 200, 2, 22, false);
    ct_tensor *b = values_of(dt, 200, 2, 23, false);
    ct_tensor *want[3], *got[3];
    CT_STATUS_OK(chain_grads(cpu(), x, w, b, want));
    ct_status st = chain_grads(d, x, w, b, got);
    cr_assert_eq(st, CT_OK, "gradient on the GPU (%s): %s", ct_dtype_name(dt), ct_last_error());
    const char *names[3] = {"d/dx", "d/dw", "d/db"};
    for (int i = 0; i < 3; i++) {
        CT_OK(got[i]);
        cr_expect_eq(ct_tensor_device(got[i]), d, "%s is on %s", names[i],
                     ct_device_name(ct_tensor_device(got[i])));
        char what[64];
        snprintf(what, sizeof what, "%s %s", names[i], ct_dtype_name(dt));
        expect_close(got[i], want[i], tol, what);
    }
    ct_scope_end();
}

/* Tolerances: CUDA's tanh and exp differ from glibc's by an ulp or two,
 * and 1 - tanh^2 near 1 multiplies that by up to ~20. In float16 the
 * float32 results round to the same half nearly always, but one that
 * lands on the other side of a rounding boundary is a half ulp (5e-4
 * near 1) apart, amplified the same way. */
Test(cuda_ops, plain_gradient_of_an_elementwise_chain_on_the_gpu) {
    check_chain(CT_FLOAT64, 1e-13);
    check_chain(CT_FLOAT32, 3e-5);
}

Test(cuda_ops, plain_gradient_through_float16_on_the_gpu) {
    check_chain(CT_FLOAT16, 2e-2);
}

Test(cuda_ops, gradient_of_a_single_op_seeds_ones_on_the_gpu) {
    ct_device *d = gpu();
    ct_tensor *x = ct_to_device(CT_F32(CT_DIMS(2, 2), 1, -2, 0.5, 3), d);
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, x);
    ct_tensor *y = ct_add(x, x);
    ct_tape_end(tape);
    ct_tensor *g = NULL;
    ct_status st = ct_tape_gradient(tape, y, 1, &x, &g, NULL);
    ct_tape_free(tape);
    CT_STATUS_OK(st);
    cr_expect_eq(ct_tensor_device(g), d);
    CT_EXPECT(g, CT_FLOAT32, CT_DIMS(2, 2), 0, 2, 2, 2, 2);
}
