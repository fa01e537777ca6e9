/* Creation ops: fill family, cast, identity, stop_gradient, to_device,
 * range, linspace, eye and the random ops. */
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* The generator itself (runtime/rng.c), for known-answer checks and to
 * recompute TF's streams independently of ops/random.c. */
void ct__philox(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4]);

TestSuite(creation, .init = ct_test_begin, .fini = ct_test_end);

static const ct_dtype all_dtypes[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16,
                                      CT_INT32,   CT_INT64,   CT_UINT8,   CT_BOOL};
#define N_DTYPES ((int)(sizeof all_dtypes / sizeof *all_dtypes))

/* All elements as doubles (caller frees). */
static double *values(const ct_tensor *t) {
    CT_OK(t);
    int64_t n = ct_tensor_size(t);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    cr_assert_eq(ct_tensor_read(t, CT_FLOAT64, v, n), CT_OK, "%s", ct_last_error());
    return v;
}

static bool same_values(const ct_tensor *a, const ct_tensor *b) {
    int64_t n = ct_tensor_size(a);
    if (n != ct_tensor_size(b) || ct_tensor_dtype(a) != ct_tensor_dtype(b)) return false;
    double *x = values(a), *y = values(b);
    bool same = n == 0 || memcmp(x, y, (size_t)n * sizeof *x) == 0;
    free(x);
    free(y);
    return same;
}

/* ---- zeros, ones, fill, *_like ------------------------------------------------ */

Test(creation, zeros_ones_fill_every_dtype) {
    for (int i = 0; i < N_DTYPES; i++) {
        ct_dtype dt = all_dtypes[i];
        CT_EXPECT(ct_zeros(dt, CT_DIMS(2, 2)), dt, CT_DIMS(2, 2), 0, 0, 0, 0, 0);
        CT_EXPECT(ct_ones(dt, CT_DIMS(3)), dt, CT_DIMS(3), 0, 1, 1, 1);
        CT_EXPECT(ct_ones(dt, CT_SCALAR), dt, CT_SCALAR, 0, 1);
        ct_expect_shape(ct_zeros(dt, CT_DIMS(0, 3)), 2, (int64_t[]){0, 3});
    }
    CT_EXPECT(ct_fill(CT_FLOAT32, CT_DIMS(2), 2.5), CT_FLOAT32, CT_DIMS(2), 0, 2.5, 2.5);
    CT_EXPECT(ct_fill(CT_INT32, CT_DIMS(2), 2.7), CT_INT32, CT_DIMS(2), 0, 2, 2);
    CT_EXPECT(ct_fill(CT_INT64, CT_DIMS(1), -2.7), CT_INT64, CT_DIMS(1), 0, -2);
    CT_EXPECT(ct_fill(CT_BOOL, CT_DIMS(2), 0.5), CT_BOOL, CT_DIMS(2), 0, 1, 1);
    CT_EXPECT(ct_fill(CT_FLOAT16, CT_DIMS(1), 1.0 / 3), CT_FLOAT16, CT_DIMS(1), 0,
              0.333251953125);
    CT_EXPECT(ct_fill(CT_BFLOAT16, CT_DIMS(1), 1.0 / 3), CT_BFLOAT16, CT_DIMS(1), 0,
              0.333984375);
    CT_EXPECT(ct_fill(CT_FLOAT64, CT_DIMS(1, 1, 1), NAN), CT_FLOAT64, CT_DIMS(1, 1, 1), 0, NAN);
    CT_EXPECT(ct_fill(CT_FLOAT32, CT_DIMS(1), -0.0), CT_FLOAT32, CT_DIMS(1), 0, 0);
    cr_expect(signbit(ct_item(ct_fill(CT_FLOAT32, CT_DIMS(1), -0.0))), "-0.0 keeps its sign");
    /* A large fill (doubling copies) ends with the value everywhere. */
    ct_tensor *big = ct_fill(CT_INT32, CT_DIMS(1001, 7), 9);
    double *v = values(big);
    for (int64_t i = 0; i < 7007; i++) cr_assert_eq(v[i], 9.0);
    free(v);
}

Test(creation, fill_errors) {
    CT_FAILS(ct_zeros(CT_FLOAT32, CT_DIMS(2, -1)), "ct_fill: negative dimension in shape [2,-1]");
    CT_FAILS(ct_zeros(CT_FLOAT32, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}), "rank 9");
    CT_FAILS(ct_fill(CT_FLOAT32, 2, NULL, 1), "NULL shape");
    CT_FAILS(ct_fill((ct_dtype)42, CT_DIMS(2), 1), "invalid dtype");
    CT_FAILS(ct_zeros_like(NULL), "NULL");
}

Test(creation, like_keeps_dtype_and_shape) {
    ct_tensor *t = CT_I64(CT_DIMS(2, 1, 3), 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_zeros_like(t), CT_INT64, CT_DIMS(2, 1, 3), 0, 0, 0, 0, 0, 0, 0);
    CT_EXPECT(ct_ones_like(t), CT_INT64, CT_DIMS(2, 1, 3), 0, 1, 1, 1, 1, 1, 1);
    CT_EXPECT(ct_fill_like(t, -4), CT_INT64, CT_DIMS(2, 1, 3), 0, -4, -4, -4, -4, -4, -4);
    CT_EXPECT(ct_ones_like(ct_scalar_of(CT_BOOL, 0)), CT_BOOL, CT_SCALAR, 0, 1);
    ct_expect_shape(ct_ones_like(ct_zeros(CT_FLOAT16, CT_DIMS(0))), 1, (int64_t[]){0});
}

/* ---- cast ---------------------------------------------------------------------- */

/* What tf.cast gives for one value (in range for the target). */
static double cast_ref(double v, ct_dtype to) {
    switch (to) {
    case CT_FLOAT32: return (float)v;
    case CT_FLOAT64: return v;
    case CT_FLOAT16: return ct_f16_to_f32(ct_f32_to_f16((float)v));
    case CT_BFLOAT16: return ct_bf16_to_f32(ct_f32_to_bf16((float)v));
    case CT_INT32:
    case CT_INT64: return isnan(v) ? 0 : trunc(v);
    case CT_UINT8: return isnan(v) ? 0 : (double)(uint8_t)(int64_t)trunc(v);
    case CT_BOOL: return v != 0;
    default: return NAN;
    }
}

Test(creation, cast_every_dtype_pair) {
    /* Values every source dtype holds exactly (uint8 and bool get theirs). */
    static const double floats[] = {0, 1, -1, 2.5, -2.75, 3.875, 100, -0.5};
    static const double ints[] = {0, 1, -1, 2, 100, -7, 127, 3};
    static const double u8s[] = {0, 1, 2, 200, 255, 7, 128, 3};
    static const double bools[] = {0, 1, 1, 0, 1, 0, 0, 1};
    for (int i = 0; i < N_DTYPES; i++) {
        ct_dtype from = all_dtypes[i];
        const double *src = ct_dtype_is_float(from) ? floats
                            : from == CT_UINT8      ? u8s
                            : from == CT_BOOL       ? bools
                                                    : ints;
        ct_tensor *x = ct_cast(ct_constant(src, CT_FLOAT64, CT_DIMS(2, 4)), from);
        CT_OK(x);
        for (int j = 0; j < N_DTYPES; j++) {
            ct_dtype to = all_dtypes[j];
            ct_tensor *y = ct_cast(x, to);
            double want[8];
            for (int k = 0; k < 8; k++) want[k] = cast_ref(src[k], to);
            ct_expect(y, to, CT_DIMS(2, 4), want, 0);
        }
    }
}

Test(creation, cast_special_values) {
    ct_tensor *f = CT_F32(CT_DIMS(6), -2.9f, 2.9f, -0.5f, 0.5f, NAN, 1e-3f);
    /* float -> int truncates toward zero; NaN gives 0 in ctrain. */
    CT_EXPECT(ct_cast(f, CT_INT32), CT_INT32, CT_DIMS(6), 0, -2, 2, 0, 0, 0, 0);
    CT_EXPECT(ct_cast(f, CT_INT64), CT_INT64, CT_DIMS(6), 0, -2, 2, 0, 0, 0, 0);
    CT_EXPECT(ct_cast(f, CT_UINT8), CT_UINT8, CT_DIMS(6), 0, 254, 2, 0, 0, 0, 0);
    /* -> bool is x != 0 (NaN != 0). */
    CT_EXPECT(ct_cast(f, CT_BOOL), CT_BOOL, CT_DIMS(6), 0, 1, 1, 1, 1, 1, 1);
    /* Integer narrowing wraps (two's complement), as static_cast in TF. */
    ct_tensor *big = CT_I64(CT_DIMS(3), 4294967301LL, -1, 9007199254740993LL);
    CT_EXPECT(ct_cast(big, CT_INT32), CT_INT32, CT_DIMS(3), 0, 5, -1, 1);
    CT_EXPECT(ct_cast(CT_I32(CT_DIMS(3), 300, -1, 256), CT_UINT8), CT_UINT8, CT_DIMS(3), 0, 44,
              255, 0);
    int64_t back[3];
    CT_STATUS_OK(ct_tensor_read(ct_cast(ct_cast(big, CT_INT64), CT_INT64), CT_INT64, back, 3));
    cr_expect_eq(back[2], 9007199254740993LL, "int64 -> int64 keeps 2^53 + 1");
    CT_EXPECT(ct_cast(big, CT_FLOAT64), CT_FLOAT64, CT_DIMS(3), 0, 4294967301.0, -1,
              9007199254740992.0);
    /* inf and NaN survive float casts. */
    ct_tensor *s = CT_F64(CT_DIMS(4), INFINITY, -INFINITY, NAN, 1e300);
    CT_EXPECT(ct_cast(s, CT_FLOAT32), CT_FLOAT32, CT_DIMS(4), 0, INFINITY, -INFINITY, NAN,
              INFINITY);
    CT_EXPECT(ct_cast(s, CT_FLOAT16), CT_FLOAT16, CT_DIMS(4), 0, INFINITY, -INFINITY, NAN,
              INFINITY);
    CT_EXPECT(ct_cast(s, CT_BFLOAT16), CT_BFLOAT16, CT_DIMS(4), 0, INFINITY, -INFINITY, NAN,
              INFINITY);
}

Test(creation, cast_half_round_trip) {
    ct_tensor *x = CT_F32(CT_DIMS(6), 0.1f, 1.0f / 3, 65504, 65520, 1e-8f, -2.5f);
    CT_EXPECT(ct_cast(ct_cast(x, CT_FLOAT16), CT_FLOAT32), CT_FLOAT32, CT_DIMS(6), 0,
              0.0999755859375, 0.333251953125, 65504, INFINITY, 0, -2.5);
    CT_EXPECT(ct_cast(ct_cast(x, CT_BFLOAT16), CT_FLOAT32), CT_FLOAT32, CT_DIMS(6), 0,
              0.10009765625, 0.333984375, 65536, 65536, 1.34375 * 0x1p-27, -2.5);
    /* Values a 16-bit float holds come back unchanged. */
    ct_tensor *exact = CT_F32(CT_DIMS(4), 0.5f, -1024, 0.25f, 3);
    cr_expect(same_values(ct_cast(ct_cast(exact, CT_FLOAT16), CT_FLOAT32), exact));
    cr_expect(same_values(ct_cast(ct_cast(exact, CT_BFLOAT16), CT_FLOAT32), exact));
    /* float16 <-> bfloat16 directly. */
    CT_EXPECT(ct_cast(ct_cast(x, CT_FLOAT16), CT_BFLOAT16), CT_BFLOAT16, CT_DIMS(6), 0,
              0.10009765625, 0.333984375, 65536, INFINITY, 0, -2.5);
}

Test(creation, cast_rank0_empty_and_null) {
    CT_EXPECT(ct_cast(ct_scalar(7.9), CT_INT32), CT_INT32, CT_SCALAR, 0, 7);
    ct_expect_shape(ct_cast(ct_zeros(CT_FLOAT32, CT_DIMS(2, 0)), CT_INT64), 2, (int64_t[]){2, 0});
    CT_FAILS(ct_cast(ct_scalar(1), (ct_dtype)99), "invalid dtype");
    ct_clear_error();
    cr_expect_null(ct_cast(NULL, CT_INT32));
}

Test(creation, cast_gradient) {
    ct_tensor *x = CT_F32(CT_DIMS(2), 1, 2);
    ct_tape *tape = ct_tape_begin(&(ct_tape_opts){.persistent = true});
    ct_tape_watch(tape, x);
    ct_tensor *y = ct_multiply(ct_cast(x, CT_FLOAT64), ct_scalar_of(CT_FLOAT64, 3));
    ct_tensor *z = ct_cast(x, CT_INT32);
    ct_tape_end(tape);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &x, &g, NULL));
    CT_EXPECT(g, CT_FLOAT32, CT_DIMS(2), 0, 3, 3);
    /* Casting to an integer cuts the gradient (TF: not differentiable). */
    cr_expect_neq(ct_tape_gradient(tape, z, 1, &x, &g, NULL), CT_OK);
    ct_tape_free(tape);
}

/* ---- identity, stop_gradient, to_device --------------------------------------- */

static ct_tensor *f_identity(ct_tensor *const *x, void *ctx) {
    (void)ctx;
    return ct_multiply(ct_identity(x[0]), x[0]);
}

Test(creation, identity_values_and_gradient) {
    ct_tensor *x = CT_BOOLS(CT_DIMS(3), 1, 0, 1);
    CT_EXPECT(ct_identity(x), CT_BOOL, CT_DIMS(3), 0, 1, 0, 1);
    CT_EXPECT(ct_identity(ct_scalar_of(CT_FLOAT16, 1.5)), CT_FLOAT16, CT_SCALAR, 0, 1.5);
    ct_expect_shape(ct_identity(ct_zeros(CT_INT32, CT_DIMS(0))), 1, (int64_t[]){0});
    ct_tensor *in = CT_F64(CT_DIMS(2, 2), 1, -2, 3, 0.5);
    ct_gradcheck(f_identity, 1, &in, NULL, 1e-6);
}

Test(creation, stop_gradient_blocks_the_gradient) {
    ct_tensor *x = CT_F32(CT_DIMS(2), 3, 4);
    CT_EXPECT(ct_stop_gradient(x), CT_FLOAT32, CT_DIMS(2), 0, 3, 4);
    ct_tape *tape = ct_tape_begin(&(ct_tape_opts){.persistent = true});
    ct_tape_watch(tape, x);
    ct_tensor *s = ct_stop_gradient(x);
    ct_tensor *y = ct_multiply(s, x); /* d/dx = stop_gradient(x) = x, not 2x */
    ct_tape_end(tape);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &x, &g, NULL));
    CT_EXPECT(g, CT_FLOAT32, CT_DIMS(2), 0, 3, 4);
    CT_STATUS_OK(ct_tape_gradient(tape, s, 1, &x, &g, NULL));
    cr_expect_null(g, "the gradient through stop_gradient is none");
    CT_STATUS_OK(ct_tape_gradient(tape, s, 1, &x, &g, &(ct_gradient_opts){.unconnected_zero = true}));
    CT_EXPECT(g, CT_FLOAT32, CT_DIMS(2), 0, 0, 0);
    ct_tape_free(tape);
}

static ct_tensor *f_to_device(ct_tensor *const *x, void *ctx) {
    return ct_square(ct_to_device(x[0], ctx));
}

Test(creation, to_device_cpu_to_cpu) {
    ct_device *cpu = ct_device_get(CT_DEVICE_CPU, 0);
    cr_assert_not_null(cpu);
    ct_tensor *x = CT_I32(CT_DIMS(2, 2), 1, 2, 3, 4);
    ct_tensor *y = ct_to_device(x, cpu);
    CT_EXPECT(y, CT_INT32, CT_DIMS(2, 2), 0, 1, 2, 3, 4);
    cr_expect_eq(ct_tensor_device(y), cpu);
    CT_FAILS(ct_to_device(x, NULL), "NULL device");
    ct_tensor *in = CT_F64(CT_DIMS(3), 1, -2, 0.5);
    ct_gradcheck(f_to_device, 1, &in, cpu, 1e-6);
}

/* ---- range ------------------------------------------------------------------------ */

Test(creation, range_integers) {
    CT_EXPECT(ct_range(0, 5, 1, CT_INT32), CT_INT32, CT_DIMS(5), 0, 0, 1, 2, 3, 4);
    CT_EXPECT(ct_range(5, 0, -2, CT_INT32), CT_INT32, CT_DIMS(3), 0, 5, 3, 1);
    CT_EXPECT(ct_range(-3, 4, 3, CT_INT64), CT_INT64, CT_DIMS(3), 0, -3, 0, 3);
    CT_EXPECT(ct_range(1, 2, 10, CT_UINT8), CT_UINT8, CT_DIMS(1), 0, 1);
    ct_expect_shape(ct_range(4, 4, 1, CT_INT32), 1, (int64_t[]){0});
    ct_expect_shape(ct_range(4, 4, -1, CT_INT64), 1, (int64_t[]){0});
    /* int64 beyond 2^53 stays exact. */
    int64_t v[3];
    double b = 9007199254740992.0;
    CT_STATUS_OK(ct_tensor_read(ct_range(b, b + 6, 2, CT_INT64), CT_INT64, v, 3));
    cr_expect_eq(v[1], 9007199254740994LL);
    /* The int32 extremes, where the value after the last overflows. */
    CT_EXPECT(ct_range(2147483646.0, 2147483647.0, 1, CT_INT32), CT_INT32, CT_DIMS(1), 0,
              2147483646.0);
}

Test(creation, range_floats_accumulate_in_the_dtype) {
    CT_EXPECT(ct_range(1, 2, 0.25, CT_FLOAT64), CT_FLOAT64, CT_DIMS(4), 0, 1, 1.25, 1.5, 1.75);
    CT_EXPECT(ct_range(1, 0, -0.25, CT_FLOAT64), CT_FLOAT64, CT_DIMS(4), 0, 1, .75, .5, .25);
    CT_EXPECT(ct_range(0, 1, 0.3, CT_FLOAT64), CT_FLOAT64, CT_DIMS(4), 0, 0, 0.3, 0.6, 0.8999999999999999);
    /* TF's kernel adds delta repeatedly in float32. */
    ct_tensor *t = ct_range(0, 1, 0.1, CT_FLOAT32);
    ct_expect_shape(t, 1, (int64_t[]){10});
    float want = 0, got[10];
    CT_STATUS_OK(ct_tensor_read(t, CT_FLOAT32, got, 10));
    for (int i = 0; i < 10; i++, want += 0.1f) cr_expect_eq(got[i], want, "element %d", i);
    CT_EXPECT(ct_range(0, 2, 0.5, CT_FLOAT16), CT_FLOAT16, CT_DIMS(4), 0, 0, 0.5, 1, 1.5);
    CT_EXPECT(ct_range(0, 2, 0.5, CT_BFLOAT16), CT_BFLOAT16, CT_DIMS(4), 0, 0, 0.5, 1, 1.5);
    CT_EXPECT(ct_range(-1, -1, 0.5, CT_FLOAT32), CT_FLOAT32, CT_DIMS(0), 0, 0);
}

Test(creation, range_errors) {
    CT_FAILS(ct_range(0, 5, 0, CT_INT32), "ct_range: Requires delta != 0");
    CT_FAILS(ct_range(5, 3, 1, CT_INT32), "Requires start <= limit when delta > 0: 5/3");
    CT_FAILS(ct_range(3, 5, -1, CT_FLOAT32), "Requires start >= limit when delta < 0: 3/5");
    CT_FAILS(ct_range(0.5, 3, 1, CT_INT32), "start 0.5 cannot be converted to int32");
    CT_FAILS(ct_range(0, 3e9, 1, CT_INT32), "limit 3000000000 cannot be converted to int32");
    CT_FAILS(ct_range(0, 1, 1, CT_BOOL), "dtype bool is not numeric");
    CT_FAILS(ct_range(0, INFINITY, 1, CT_FLOAT64), "finite");
    CT_FAILS(ct_range(NAN, 1, 1, CT_FLOAT64), "Requires start <= limit");
}

/* ---- linspace ---------------------------------------------------------------------- */

Test(creation, linspace_values) {
    CT_EXPECT(ct_linspace(0, 1, 5, CT_FLOAT32), CT_FLOAT32, CT_DIMS(5), 0, 0, .25, .5, .75, 1);
    CT_EXPECT(ct_linspace(10, 20, 3, CT_FLOAT64), CT_FLOAT64, CT_DIMS(3), 0, 10, 15, 20);
    CT_EXPECT(ct_linspace(1, 0, 3, CT_FLOAT64), CT_FLOAT64, CT_DIMS(3), 0, 1, .5, 0);
    CT_EXPECT(ct_linspace(3, 7, 1, CT_FLOAT32), CT_FLOAT32, CT_DIMS(1), 0, 3);
    CT_EXPECT(ct_linspace(3, 7, 2, CT_FLOAT32), CT_FLOAT32, CT_DIMS(2), 0, 3, 7);
    CT_EXPECT(ct_linspace(0, 1, 3, CT_FLOAT16), CT_FLOAT16, CT_DIMS(3), 0, 0, .5, 1);
    CT_EXPECT(ct_linspace(0, 1, 3, CT_BFLOAT16), CT_BFLOAT16, CT_DIMS(3), 0, 0, .5, 1);
    /* start + delta * i in float32, and the last value is stop exactly. */
    float got[7];
    CT_STATUS_OK(ct_tensor_read(ct_linspace(0.1, 0.7, 7, CT_FLOAT32), CT_FLOAT32, got, 7));
    float d = (0.7f - 0.1f) / 6.0f;
    for (int i = 1; i < 6; i++) cr_expect_eq(got[i], 0.1f + d * (float)i, "element %d", i);
    cr_expect_eq(got[6], 0.7f);
    cr_expect_eq(got[0], 0.1f);
}

Test(creation, linspace_errors) {
    CT_FAILS(ct_linspace(0, 1, -1, CT_FLOAT32), "ct_linspace: Requires num > 0: -1");
    CT_FAILS(ct_linspace(0, 1, 0, CT_FLOAT32), "ct_linspace: Requires num > 0: 0");
    CT_FAILS(ct_linspace(0, 1, 3, CT_INT32), "dtype int32 is not a floating-point type");
}

/* ---- eye ------------------------------------------------------------------------------ */

Test(creation, eye_shapes_and_dtypes) {
    CT_EXPECT(ct_eye(3, 0, CT_FLOAT32), CT_FLOAT32, CT_DIMS(3, 3), 0, 1, 0, 0, 0, 1, 0, 0, 0, 1);
    CT_EXPECT(ct_eye(2, 3, CT_INT32), CT_INT32, CT_DIMS(2, 3), 0, 1, 0, 0, 0, 1, 0);
    CT_EXPECT(ct_eye(3, 2, CT_BOOL), CT_BOOL, CT_DIMS(3, 2), 0, 1, 0, 0, 1, 0, 0);
    CT_EXPECT(ct_eye(2, 2, CT_FLOAT16), CT_FLOAT16, CT_DIMS(2, 2), 0, 1, 0, 0, 1);
    CT_EXPECT(ct_eye(2, 0, CT_BFLOAT16), CT_BFLOAT16, CT_DIMS(2, 2), 0, 1, 0, 0, 1);
    CT_EXPECT(ct_eye(1, 1, CT_UINT8), CT_UINT8, CT_DIMS(1, 1), 0, 1);
    ct_expect_shape(ct_eye(0, 0, CT_FLOAT64), 2, (int64_t[]){0, 0});
    ct_expect_shape(ct_eye(0, 4, CT_INT64), 2, (int64_t[]){0, 4});
    CT_FAILS(ct_eye(-1, 0, CT_FLOAT32), "ct_eye: num_rows and num_columns must be >= 0");
    CT_FAILS(ct_eye(2, -3, CT_FLOAT32), "got 2 and -3");
}

/* ---- random: the generator and TF's streams --------------------------------------------- */

/* Random123's known answers for Philox 4x32-10. */
Test(creation, philox_known_answers) {
    uint32_t out[4];
    ct__philox((uint32_t[]){0, 0}, (uint32_t[]){0, 0, 0, 0}, out);
    cr_expect(out[0] == 0x6627e8d5u && out[1] == 0xe169c58du && out[2] == 0xbc57ac4cu &&
              out[3] == 0x9b00dbd8u, "zero key/counter: %08x %08x %08x %08x", out[0], out[1],
              out[2], out[3]);
    ct__philox((uint32_t[]){0xffffffffu, 0xffffffffu},
               (uint32_t[]){0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, out);
    cr_expect(out[0] == 0x408f276du && out[1] == 0x41c83b0eu && out[2] == 0xa20bc7c6u &&
              out[3] == 0x6d5451fdu, "all ones: %08x %08x %08x %08x", out[0], out[1], out[2],
              out[3]);
    ct__philox((uint32_t[]){0xa4093822u, 0x299f31d0u},
               (uint32_t[]){0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, out);
    cr_expect(out[0] == 0xd16cfe09u && out[1] == 0x94fdccebu && out[2] == 0x5001e420u &&
              out[3] == 0x24126ea1u, "pi digits: %08x %08x %08x %08x", out[0], out[1], out[2],
              out[3]);
}

/* Block `b` of the stream TF's PhiloxRandom(seed, seed2) gives, skipped by
 * `skip` blocks first (words 0 and 1 of the counter; no carry needed here). */
static void tf_block(uint64_t seed, uint64_t seed2, uint64_t skip, uint64_t b, uint32_t out[4]) {
    uint64_t c = skip + b;
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t ctr[4] = {(uint32_t)c, (uint32_t)(c >> 32), (uint32_t)seed2, (uint32_t)(seed2 >> 32)};
    ct__philox(key, ctr, out);
}

static float tf_u32_to_float(uint32_t x) { return (float)(x & 0x7fffffu) / 8388608.0f; }

Test(creation, random_uniform_is_tf_stream) {
    ct_set_random_seed(7);
    ct_tensor *a = ct_random_uniform(CT_DIMS(10), &(ct_random_opts){.seed = 3});
    ct_tensor *b = ct_random_uniform(CT_DIMS(2, 3), &(ct_random_opts){.seed = 3});
    ct_tensor *d = ct_random_uniform(CT_DIMS(3), &(ct_random_opts){.seed = 3, .dtype = CT_FLOAT64});
    float av[10], bv[6];
    double dv[3];
    CT_STATUS_OK(ct_tensor_read(a, CT_FLOAT32, av, 10));
    CT_STATUS_OK(ct_tensor_read(b, CT_FLOAT32, bv, 6));
    CT_STATUS_OK(ct_tensor_read(d, CT_FLOAT64, dv, 3));
    uint32_t r[4];
    for (int i = 0; i < 10; i++) {
        tf_block(7, 3, 0, (uint64_t)i / 4, r);
        cr_expect_eq(av[i], tf_u32_to_float(r[i % 4]), "first call, element %d", i);
    }
    /* The kernel reserved 256 blocks per output of the first call. */
    for (int i = 0; i < 6; i++) {
        tf_block(7, 3, 10 * 256, (uint64_t)i / 4, r);
        cr_expect_eq(bv[i], tf_u32_to_float(r[i % 4]), "second call, element %d", i);
    }
    /* [minval, maxval) scales in float32 as TF's wrapper: u * (hi - lo) + lo. */
    ct_tensor *w = ct_random_uniform(CT_DIMS(5), &(ct_random_opts){.seed = 3, .minval = -3,
                                                                    .maxval = 5.5});
    float wv[5];
    CT_STATUS_OK(ct_tensor_read(w, CT_FLOAT32, wv, 5));
    for (int i = 0; i < 5; i++) {
        tf_block(7, 3, (10 + 6) * 256, (uint64_t)i / 4, r);
        float u = tf_u32_to_float(r[i % 4]) * 8.5f;
        cr_expect_eq(wv[i], u + -3.0f, "scaled element %d", i);
    }
    /* float64 is another kernel: its own stream from the start. */
    for (int i = 0; i < 3; i++) {
        tf_block(7, 3, 0, (uint64_t)i / 2, r);
        uint64_t m = ((uint64_t)(r[(i % 2) * 2] & 0xfffffu) << 32) | r[(i % 2) * 2 + 1];
        cr_expect_eq(dv[i], (double)m / 4503599627370496.0, "float64 element %d", i);
    }
}

Test(creation, random_uniform_int_is_tf_stream) {
    ct_set_random_seed(11);
    ct_tensor *a = ct_random_uniform(CT_DIMS(5), &(ct_random_opts){.seed = 2, .dtype = CT_INT32,
                                                                    .minval = -5, .maxval = 9});
    ct_tensor *b = ct_random_uniform(CT_DIMS(3), &(ct_random_opts){.seed = 2, .dtype = CT_INT64,
                                                                    .minval = -1e12, .maxval = 1e12});
    int32_t av[5];
    int64_t bv[3];
    CT_STATUS_OK(ct_tensor_read(a, CT_INT32, av, 5));
    CT_STATUS_OK(ct_tensor_read(b, CT_INT64, bv, 3));
    uint32_t r[4];
    for (int i = 0; i < 5; i++) {
        tf_block(11, 2, 0, (uint64_t)i / 4, r);
        cr_expect_eq(av[i], -5 + (int32_t)(r[i % 4] % 14u), "int32 element %d", i);
    }
    for (int i = 0; i < 3; i++) {
        tf_block(11, 2, 0, (uint64_t)i / 2, r);
        uint64_t bits = r[(i % 2) * 2] | (uint64_t)r[(i % 2) * 2 + 1] << 32;
        cr_expect_eq(bv[i], (int64_t)-1000000000000LL + (int64_t)(bits % 2000000000000ULL),
                     "int64 element %d", i);
    }
}

static void box_muller(uint32_t x0, uint32_t x1, float *f0, float *f1) {
    float u1 = tf_u32_to_float(x0);
    if (u1 < 1e-7f) u1 = 1e-7f;
    float v1 = (float)(2.0 * M_PI * (double)tf_u32_to_float(x1));
    float u2 = sqrtf(-2.0f * logf(u1));
    *f0 = sinf(v1) * u2;
    *f1 = cosf(v1) * u2;
}

Test(creation, random_normal_and_truncated_are_tf_streams) {
    ct_clear_random_seed();
    ct_tensor *a = ct_random_normal(CT_DIMS(6), &(ct_random_opts){.seed = 5});
    ct_tensor *t = ct_truncated_normal(CT_DIMS(6), &(ct_random_opts){.seed = 5});
    float av[6], tv[6];
    CT_STATUS_OK(ct_tensor_read(a, CT_FLOAT32, av, 6));
    CT_STATUS_OK(ct_tensor_read(t, CT_FLOAT32, tv, 6));
    /* No global seed: TF's default graph seed 87654321 with the op seed. */
    uint32_t r[4];
    for (int i = 0; i < 6; i += 2) {
        float f[2];
        tf_block(87654321, 5, 0, (uint64_t)i / 4, r);
        box_muller(r[i % 4], r[i % 4 + 1], &f[0], &f[1]);
        cr_expect_float_eq(av[i], f[0], 1e-6, "normal element %d", i);
        cr_expect_float_eq(av[i + 1], f[1], 1e-6, "normal element %d", i + 1);
    }
    /* Truncated: group g of 4 starts at block 256 g; samples with |x| >= 2
     * are skipped. */
    for (int g = 0; g < 2; g++) {
        int k = 0;
        for (uint64_t blk = 0; k < 4 && g * 4 + k < 6; blk++) {
            tf_block(87654321, 5, (uint64_t)g * 256, blk, r);
            for (int j = 0; j < 4 && k < 4 && g * 4 + k < 6; j += 2) {
                float f[2];
                box_muller(r[j], r[j + 1], &f[0], &f[1]);
                for (int m = 0; m < 2 && k < 4 && g * 4 + k < 6; m++)
                    if (fabsf(f[m]) < 2) {
                        cr_expect_float_eq(tv[g * 4 + k], f[m], 1e-6, "truncated element %d",
                                           g * 4 + k);
                        k++;
                    }
            }
        }
    }
}

/* ---- random: seeds ------------------------------------------------------------------------ */

Test(creation, random_same_seeds_same_numbers) {
    ct_set_random_seed(1234);
    ct_tensor *a = ct_random_uniform(CT_DIMS(4, 5), &(ct_random_opts){.seed = 9});
    ct_set_random_seed(1234);
    ct_tensor *b = ct_random_uniform(CT_DIMS(4, 5), &(ct_random_opts){.seed = 9});
    cr_expect(same_values(a, b));
    /* Op seed alone (no global seed) is deterministic too. */
    ct_clear_random_seed();
    ct_tensor *c = ct_random_normal(CT_DIMS(7), &(ct_random_opts){.seed = 4});
    ct_clear_random_seed();
    ct_tensor *d = ct_random_normal(CT_DIMS(7), &(ct_random_opts){.seed = 4});
    cr_expect(same_values(c, d));
}

Test(creation, random_different_op_seeds_differ) {
    ct_set_random_seed(1);
    ct_tensor *a = ct_random_uniform(CT_DIMS(16), &(ct_random_opts){.seed = 1});
    ct_tensor *b = ct_random_uniform(CT_DIMS(16), &(ct_random_opts){.seed = 2});
    cr_expect(!same_values(a, b));
    ct_set_random_seed(2);
    ct_tensor *c = ct_random_uniform(CT_DIMS(16), &(ct_random_opts){.seed = 1});
    cr_expect(!same_values(a, c), "the global seed changes the numbers too");
}

Test(creation, random_set_seed_restarts_the_sequence) {
    ct_set_random_seed(42);
    ct_tensor *a = ct_random_uniform(CT_DIMS(8), NULL);
    ct_tensor *b = ct_random_uniform(CT_DIMS(8), NULL);
    ct_tensor *s1 = ct_random_normal(CT_DIMS(8), &(ct_random_opts){.seed = 3});
    ct_tensor *s2 = ct_random_normal(CT_DIMS(8), &(ct_random_opts){.seed = 3});
    cr_expect(!same_values(a, b), "successive unseeded draws differ");
    cr_expect(!same_values(s1, s2), "a seeded op called again continues its stream");
    ct_set_random_seed(42);
    ct_tensor *a2 = ct_random_uniform(CT_DIMS(8), NULL);
    ct_tensor *b2 = ct_random_uniform(CT_DIMS(8), NULL);
    ct_tensor *s1b = ct_random_normal(CT_DIMS(8), &(ct_random_opts){.seed = 3});
    ct_tensor *s2b = ct_random_normal(CT_DIMS(8), &(ct_random_opts){.seed = 3});
    cr_expect(same_values(a, a2) && same_values(b, b2));
    cr_expect(same_values(s1, s1b) && same_values(s2, s2b));
}

Test(creation, random_unseeded_draws_differ) {
    ct_clear_random_seed();
    ct_tensor *a = ct_random_uniform(CT_DIMS(16), NULL);
    ct_tensor *b = ct_random_uniform(CT_DIMS(16), NULL);
    cr_expect(!same_values(a, b));
}

Test(creation, random_independent_of_thread_count) {
    ct_random_opts o = {.seed = 77};
    int64_t n = 1 << 20;
    for (int kind = 0; kind < 3; kind++) {
        ct_tensor *x[2];
        for (int k = 0; k < 2; k++) {
            ct_set_num_threads(k ? 2 : 1);
            ct_set_random_seed(5);
            x[k] = kind == 0 ? ct_random_uniform(1, &n, &o)
                   : kind == 1 ? ct_random_normal(1, &n, &o) : ct_truncated_normal(1, &n, &o);
        }
        cr_expect(same_values(x[0], x[1]), "kind %d", kind);
    }
    ct_set_num_threads(0);
}

/* ---- random: statistics --------------------------------------------------------------------- */

static void moments(const ct_tensor *t, double *mean, double *std, double *lo, double *hi) {
    int64_t n = ct_tensor_size(t);
    double *v = values(t), s = 0, s2 = 0;
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        s += v[i];
        *lo = fmin(*lo, v[i]);
        *hi = fmax(*hi, v[i]);
    }
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) s2 += (v[i] - *mean) * (v[i] - *mean);
    *std = sqrt(s2 / (double)n);
    free(v);
}

Test(creation, random_uniform_statistics) {
    ct_set_random_seed(3);
    const ct_dtype dts[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16};
    for (int i = 0; i < 4; i++) {
        double m, s, lo, hi;
        ct_tensor *u = ct_random_uniform(CT_DIMS(100000), &(ct_random_opts){.dtype = dts[i]});
        cr_assert_eq(ct_tensor_dtype(u), dts[i]);
        moments(u, &m, &s, &lo, &hi);
        cr_expect(fabs(m - 0.5) < 0.01, "%s mean %g", ct_dtype_name(dts[i]), m);
        cr_expect(fabs(s - sqrt(1.0 / 12)) < 0.01, "%s std %g", ct_dtype_name(dts[i]), s);
        cr_expect(lo >= 0 && hi < 1, "%s range [%g, %g]", ct_dtype_name(dts[i]), lo, hi);
        ct_tensor *w = ct_random_uniform(CT_DIMS(100000), &(ct_random_opts){.dtype = dts[i],
                                                                           .minval = -3, .maxval = 5});
        moments(w, &m, &s, &lo, &hi);
        cr_expect(fabs(m - 1) < 0.05, "%s mean %g", ct_dtype_name(dts[i]), m);
        cr_expect(fabs(s - 8 / sqrt(12.0)) < 0.05, "%s std %g", ct_dtype_name(dts[i]), s);
        cr_expect(lo >= -3 && hi <= 5, "%s range [%g, %g]", ct_dtype_name(dts[i]), lo, hi);
    }
    /* float16 draws are multiples of 2^-10. */
    double *h = values(ct_random_uniform(CT_DIMS(64), &(ct_random_opts){.dtype = CT_FLOAT16}));
    for (int i = 0; i < 64; i++) cr_expect_eq(h[i] * 1024, floor(h[i] * 1024));
    free(h);
}

Test(creation, random_uniform_int_statistics) {
    ct_set_random_seed(3);
    ct_tensor *u = ct_random_uniform(CT_DIMS(100000), &(ct_random_opts){
                                                          .dtype = CT_INT32, .minval = -5,
                                                          .maxval = 5});
    cr_assert_eq(ct_tensor_dtype(u), CT_INT32);
    double *v = values(u);
    int count[10] = {0};
    for (int i = 0; i < 100000; i++) {
        cr_assert(v[i] >= -5 && v[i] < 5 && v[i] == floor(v[i]), "value %g", v[i]);
        count[(int)v[i] + 5]++;
    }
    for (int k = 0; k < 10; k++) cr_expect(abs(count[k] - 10000) < 500, "count of %d: %d", k - 5, count[k]);
    free(v);
    double m, s, lo, hi;
    ct_tensor *w = ct_random_uniform(CT_DIMS(100000), &(ct_random_opts){
                                                          .dtype = CT_INT64, .minval = 0,
                                                          .maxval = 4e18});
    cr_assert_eq(ct_tensor_dtype(w), CT_INT64);
    moments(w, &m, &s, &lo, &hi);
    cr_expect(lo >= 0 && hi < 4e18);
    /* TF draws bits % range: with range R = 4e18 each value below
     * 2^64 - 4R has five of the 2^64 bit patterns, the rest four, so the
     * mean is below R / 2. */
    double r = 18446744073709551616.0 - 4 * 4e18;
    double want = (2 * 4e18 * 4e18 + r * r / 2) / 18446744073709551616.0;
    cr_expect(fabs(m / want - 1) < 0.01, "mean %g, expected %g", m, want);
    moments(ct_random_uniform(CT_DIMS(100000), &(ct_random_opts){.dtype = CT_INT64,
                                                                 .minval = -1e12, .maxval = 1e12}),
            &m, &s, &lo, &hi);
    cr_expect(lo >= -1e12 && hi < 1e12 && fabs(m) < 0.01e12, "mean %g in [%g, %g]", m, lo, hi);
}

Test(creation, random_normal_statistics) {
    ct_set_random_seed(8);
    const ct_dtype dts[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16};
    for (int i = 0; i < 4; i++) {
        double m, s, lo, hi, tol = dts[i] == CT_BFLOAT16 ? 0.1 : 0.05;
        ct_tensor *z = ct_random_normal(CT_DIMS(100000), &(ct_random_opts){
                                                             .dtype = dts[i], .mean = 2,
                                                             .stddev = 3});
        moments(z, &m, &s, &lo, &hi);
        cr_expect(fabs(m - 2) < tol, "%s mean %g", ct_dtype_name(dts[i]), m);
        cr_expect(fabs(s - 3) < tol, "%s std %g", ct_dtype_name(dts[i]), s);
        ct_tensor *u = ct_random_normal(CT_DIMS(100000), &(ct_random_opts){.dtype = dts[i]});
        moments(u, &m, &s, &lo, &hi);
        cr_expect(fabs(m) < 0.02 && fabs(s - 1) < 0.02, "%s: mean %g std %g",
                  ct_dtype_name(dts[i]), m, s);
    }
}

Test(creation, truncated_normal_statistics) {
    ct_set_random_seed(9);
    /* The standard normal cut at +-2 has std 0.8796. */
    const ct_dtype dts[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16};
    for (int i = 0; i < 4; i++) {
        double m, s, lo, hi;
        ct_tensor *z = ct_truncated_normal(CT_DIMS(100000), &(ct_random_opts){.dtype = dts[i]});
        moments(z, &m, &s, &lo, &hi);
        cr_expect(lo > -2 - 1e-2 && hi < 2 + 1e-2, "%s range [%g, %g]", ct_dtype_name(dts[i]),
                  lo, hi);
        cr_expect(fabs(m) < 0.02, "%s mean %g", ct_dtype_name(dts[i]), m);
        cr_expect(fabs(s - 0.8796) < 0.02, "%s std %g", ct_dtype_name(dts[i]), s);
        ct_tensor *w = ct_truncated_normal(CT_DIMS(100000), &(ct_random_opts){
                                                                .dtype = dts[i], .mean = -1,
                                                                .stddev = 0.5});
        moments(w, &m, &s, &lo, &hi);
        cr_expect(lo >= -2.01 && hi <= 0.01, "%s range [%g, %g]", ct_dtype_name(dts[i]), lo, hi);
        cr_expect(fabs(m + 1) < 0.02 && fabs(s - 0.4398) < 0.02, "%s mean %g std %g",
                  ct_dtype_name(dts[i]), m, s);
    }
    /* float32/float64 draws lie strictly inside two standard deviations. */
    double m, s, lo, hi;
    moments(ct_truncated_normal(CT_DIMS(200000), NULL), &m, &s, &lo, &hi);
    cr_expect(lo > -2 && hi < 2, "range [%g, %g]", lo, hi);
}

/* ---- random: shapes and errors ---------------------------------------------------------------- */

Test(creation, random_shapes) {
    ct_expect_shape(ct_random_uniform(CT_SCALAR, NULL), 0, NULL);
    ct_expect_shape(ct_random_normal(CT_DIMS(2, 0, 3), NULL), 3, (int64_t[]){2, 0, 3});
    ct_expect_shape(ct_truncated_normal(CT_DIMS(1, 2, 1, 2, 1, 2, 1, 2), NULL), 8,
                    (int64_t[]){1, 2, 1, 2, 1, 2, 1, 2});
    cr_expect_eq(ct_tensor_dtype(ct_random_uniform(CT_DIMS(2), NULL)), CT_FLOAT32);
    /* An empty integer draw needs no valid range (as TF). */
    ct_expect_shape(ct_random_uniform(CT_DIMS(0), &(ct_random_opts){.dtype = CT_INT32}), 1,
                    (int64_t[]){0});
}

Test(creation, random_errors) {
    CT_FAILS(ct_random_uniform(CT_DIMS(3), &(ct_random_opts){.dtype = CT_INT32, .minval = 4,
                                                             .maxval = 4}),
             "ct_random_uniform: Need minval < maxval, got 4 >= 4");
    CT_FAILS(ct_random_uniform(CT_DIMS(3), &(ct_random_opts){.dtype = CT_INT64}),
             "Need minval < maxval, got 0 >= 0");
    CT_FAILS(ct_random_uniform(CT_DIMS(3), &(ct_random_opts){.dtype = CT_INT32, .maxval = 3e9}),
             "outside the range of int32");
    CT_FAILS(ct_random_uniform(CT_DIMS(3), &(ct_random_opts){.dtype = CT_BOOL}),
             "dtype bool is not supported");
    CT_FAILS(ct_random_uniform(CT_DIMS(3), &(ct_random_opts){.dtype = CT_UINT8, .maxval = 3}),
             "dtype uint8 is not supported");
    CT_FAILS(ct_random_normal(CT_DIMS(3), &(ct_random_opts){.dtype = CT_INT32}),
             "ct_random_normal: dtype int32 is not supported");
    CT_FAILS(ct_truncated_normal(CT_DIMS(2, -1), NULL),
             "ct_truncated_normal: negative dimension in shape [2,-1]");
    CT_FAILS(ct_random_normal(9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}, NULL), "rank 9");
    CT_FAILS(ct_random_normal(2, NULL, NULL), "NULL shape");
}

Test(creation, random_ops_are_not_recorded) {
    ct_tensor *x = CT_F32(CT_DIMS(3), 1, 2, 3);
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, x);
    ct_tensor *r = ct_random_uniform(CT_DIMS(3), &(ct_random_opts){.seed = 1});
    ct_tensor *y = ct_multiply(x, r);
    ct_tape_end(tape);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &x, &g, NULL));
    cr_expect(same_values(g, r), "d(x * r)/dx = r");
    ct_tape_free(tape);
}

/* runtime/rng.c records every (seed, seed2) pair it hands out in a fixed
 * table of 4096, auto-generated pairs included; once full, a seeded op
 * never sees its call count grow and repeats its first draw. Disabled
 * until rng.c stops recording pairs that cannot repeat (see the report). */
Test(creation, seeded_stream_continues_after_many_unseeded_draws) {
    ct_set_random_seed(1);
    for (int i = 0; i < 4100; i++) ct_tensor_free(ct_random_uniform(CT_DIMS(1), NULL));
    ct_tensor *a = ct_random_uniform(CT_DIMS(8), &(ct_random_opts){.seed = 100000});
    ct_tensor *b = ct_random_uniform(CT_DIMS(8), &(ct_random_opts){.seed = 100000});
    cr_expect(!same_values(a, b), "a seeded op called again continues its stream");
}
