/* Dtypes: names, sizes, classes and the 16-bit float conversions. */
#include <float.h>
#include <string.h>

#include "support.h"

TestSuite(dtype, .init = ct_test_begin, .fini = ct_test_end);

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float float_of(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

Test(dtype, names_sizes_classes) {
    static const struct {
        ct_dtype dt;
        const char *name;
        size_t size;
        bool is_float, is_int;
    } want[] = {
        {CT_FLOAT32, "float32", 4, true, false},  {CT_FLOAT64, "float64", 8, true, false},
        {CT_FLOAT16, "float16", 2, true, false},  {CT_BFLOAT16, "bfloat16", 2, true, false},
        {CT_INT32, "int32", 4, false, true},      {CT_INT64, "int64", 8, false, true},
        {CT_UINT8, "uint8", 1, false, true},      {CT_BOOL, "bool", 1, false, false},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        cr_expect_str_eq(ct_dtype_name(want[i].dt), want[i].name);
        cr_expect_eq(ct_dtype_size(want[i].dt), want[i].size, "%s", want[i].name);
        cr_expect_eq(ct_dtype_is_float(want[i].dt), want[i].is_float, "%s", want[i].name);
        cr_expect_eq(ct_dtype_is_integer(want[i].dt), want[i].is_int, "%s", want[i].name);
    }
    cr_expect_str_eq(ct_dtype_name(CT_NUM_DTYPES), "invalid");
    cr_expect_str_eq(ct_dtype_name((ct_dtype)-1), "invalid");
    cr_expect_eq(ct_dtype_size((ct_dtype)99), 0);
    cr_expect(!ct_dtype_is_float((ct_dtype)99) && !ct_dtype_is_integer((ct_dtype)99));
    cr_expect_str_eq(ct_status_name(CT_ERR_OUT_OF_MEMORY), "CT_ERR_OUT_OF_MEMORY");
}

/* ---- float16 --------------------------------------------------------------------- */

/* The value of a float16 bit pattern, computed from its definition. */
static double f16_ref(uint16_t h) {
    int s = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

static bool f16_is_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff); }

Test(dtype, f16_exhaustive_round_trip) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ct_f16_to_f32((uint16_t)h);
        double want = f16_ref((uint16_t)h);
        if (isnan(want)) {
            cr_assert(isnan(f), "0x%04x should be NaN, got %g", h, f);
            uint16_t back = ct_f32_to_f16(f);
            cr_assert(f16_is_nan(back) && (back & 0x8000) == (h & 0x8000),
                      "NaN 0x%04x came back as 0x%04x", h, back);
            continue;
        }
        cr_assert(f == want && !signbit(f) == !signbit(want), "0x%04x: %.9g, expected %.9g", h, f,
                  want);
        cr_assert_eq(ct_f32_to_f16(f), h, "0x%04x -> %.9g -> 0x%04x", h, f, ct_f32_to_f16(f));
    }
}

Test(dtype, f16_rounds_half_to_even) {
    /* Between 1 (0x3c00) and the next half up, ulp 2^-10. */
    cr_expect_eq(ct_f32_to_f16(1.0f + 0x1p-11f), 0x3c00, "halfway rounds down to even");
    cr_expect_eq(ct_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02, "halfway rounds up to even");
    cr_expect_eq(ct_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01, "just above halfway");
    cr_expect_eq(ct_f32_to_f16(1.0f + 0x1p-11f - 0x1p-20f), 0x3c00, "just below halfway");
    cr_expect_eq(ct_f32_to_f16(-1.0f - 3 * 0x1p-11f), 0xbc02);
    cr_expect_eq(ct_f32_to_f16(2048.0f + 1.0f), 0x6800, "2049 -> 2048 (ulp 2)");
    cr_expect_eq(ct_f32_to_f16(2048.0f + 3.0f), 0x6802, "2051 -> 2052");
    cr_expect_eq(ct_f32_to_f16(0.1f), 0x2e66);
    cr_expect_eq(ct_f32_to_f16(-0.0f), 0x8000);
    cr_expect_eq(ct_f32_to_f16(0.0f), 0x0000);
}

Test(dtype, f16_overflow_to_inf) {
    cr_expect_eq(ct_f32_to_f16(65504.0f), 0x7bff);
    cr_expect_eq(ct_f32_to_f16(65519.0f), 0x7bff, "below the halfway point to 65536");
    cr_expect_eq(ct_f32_to_f16(65520.0f), 0x7c00, "halfway to 65536 rounds to even: inf");
    cr_expect_eq(ct_f32_to_f16(1e6f), 0x7c00);
    cr_expect_eq(ct_f32_to_f16(-1e6f), 0xfc00);
    cr_expect_eq(ct_f32_to_f16(FLT_MAX), 0x7c00);
    cr_expect_eq(ct_f32_to_f16(INFINITY), 0x7c00);
    cr_expect_eq(ct_f32_to_f16(-INFINITY), 0xfc00);
    cr_expect(isinf(ct_f16_to_f32(0x7c00)) && ct_f16_to_f32(0xfc00) < 0);
}

Test(dtype, f16_subnormals) {
    cr_expect_eq(ct_f32_to_f16(0x1p-24f), 0x0001, "smallest subnormal");
    cr_expect_eq(ct_f32_to_f16(0x1p-25f), 0x0000, "half of it rounds to even: 0");
    cr_expect_eq(ct_f32_to_f16(0x1.8p-25f), 0x0001);
    cr_expect_eq(ct_f32_to_f16(3 * 0x1p-25f), 0x0002, "1.5 ulp rounds to 2");
    cr_expect_eq(ct_f32_to_f16(5 * 0x1p-25f), 0x0002, "2.5 ulp rounds to 2");
    cr_expect_eq(ct_f32_to_f16(0x1p-26f), 0x0000);
    cr_expect_eq(ct_f32_to_f16(-0x1p-24f), 0x8001);
    cr_expect_eq(ct_f32_to_f16(-0x1p-26f), 0x8000, "underflow keeps the sign");
    cr_expect_eq(ct_f32_to_f16(1023 * 0x1p-24f), 0x03ff, "largest subnormal");
    cr_expect_eq(ct_f32_to_f16(0x1p-14f - 0x1p-25f), 0x0400, "rounds up to the smallest normal");
    cr_expect_eq(ct_f32_to_f16(0x1p-14f), 0x0400);
    cr_expect_eq(ct_f32_to_f16(FLT_MIN), 0x0000, "a float normal far below half's range");
    cr_expect_eq(ct_f32_to_f16(float_of(0x00000001)), 0x0000, "a float subnormal");
    cr_expect_eq(ct_f16_to_f32(0x0001), 0x1p-24f);
    cr_expect_eq(ct_f16_to_f32(0x03ff), 1023 * 0x1p-24f);
    cr_expect_eq(ct_f16_to_f32(0x8001), -0x1p-24f);
}

Test(dtype, f16_nan) {
    uint32_t nans[] = {0x7fc00000u, 0x7f800001u, 0x7fbfffffu, 0xffc00000u, 0x7f802000u};
    for (size_t i = 0; i < sizeof nans / sizeof *nans; i++) {
        uint16_t h = ct_f32_to_f16(float_of(nans[i]));
        cr_expect(f16_is_nan(h), "0x%08x -> 0x%04x is not NaN", nans[i], h);
        cr_expect_eq(h & 0x8000, (nans[i] >> 16) & 0x8000, "sign of 0x%08x", nans[i]);
    }
    cr_expect(isnan(ct_f16_to_f32(0x7e00)) && isnan(ct_f16_to_f32(0xfc01)));
}

#ifdef __FLT16_MAX__
/* The compiler's _Float16 conversion (IEEE round to nearest even) as the
 * reference for one float in every 251 bit patterns, all exponents. */
Test(dtype, f16_matches_compiler_float16) {
    for (uint64_t u = 0; u <= 0xffffffffu; u += 251) {
        float f = float_of((uint32_t)u);
        _Float16 r = (_Float16)f;
        uint16_t want;
        memcpy(&want, &r, 2);
        uint16_t got = ct_f32_to_f16(f);
        if (isnan(f)) cr_assert(f16_is_nan(got), "0x%08x", (uint32_t)u);
        else cr_assert_eq(got, want, "0x%08x (%.9g): 0x%04x, expected 0x%04x", (uint32_t)u, f, got, want);
    }
}
#endif

/* ---- bfloat16 -------------------------------------------------------------------------- */

static bool bf16_is_nan(uint16_t h) { return (h & 0x7f80) == 0x7f80 && (h & 0x7f); }

Test(dtype, bf16_exhaustive_round_trip) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ct_bf16_to_f32((uint16_t)h);
        cr_assert_eq(bits_of(f), h << 16, "0x%04x", h);
        uint16_t back = ct_f32_to_bf16(f);
        if (bf16_is_nan((uint16_t)h))
            cr_assert(bf16_is_nan(back) && (back & 0x8000) == (h & 0x8000), "NaN 0x%04x -> 0x%04x",
                      h, back);
        else
            cr_assert_eq(back, h, "0x%04x -> 0x%04x", h, back);
    }
}

/* Nearest bfloat16 by comparing distances in double, ties to even. */
static uint16_t bf16_ref(float f) {
    uint32_t u = bits_of(f);
    uint32_t lo = u & 0xffff0000u, hi = lo + 0x10000u;
    double dl = fabs((double)f - (double)float_of(lo));
    double dh = (hi & 0x7f800000u) == 0x7f800000u && (lo & 0x7f800000u) != 0x7f800000u
                    ? fabs(ldexp(1.0, 128) - fabs((double)f)) /* rounding past the max: inf */
                    : fabs((double)float_of(hi) - (double)f);
    if (dl < dh || (dl == dh && !((lo >> 16) & 1))) return (uint16_t)(lo >> 16);
    return (uint16_t)(hi >> 16);
}

Test(dtype, bf16_rounding_sampled) {
    for (uint64_t u = 0; u <= 0xffffffffu; u += 1009) {
        float f = float_of((uint32_t)u);
        if (isnan(f) || isinf(f)) continue;
        cr_assert_eq(ct_f32_to_bf16(f), bf16_ref(f), "0x%08x", (uint32_t)u);
    }
}

Test(dtype, bf16_rounds_half_to_even_and_overflows) {
    cr_expect_eq(ct_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80, "halfway down to even");
    cr_expect_eq(ct_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82, "halfway up to even");
    cr_expect_eq(ct_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
    cr_expect_eq(ct_f32_to_bf16(0.1f), 0x3dcd);
    cr_expect_eq(ct_f32_to_bf16(FLT_MAX), 0x7f80, "past the largest bfloat16: inf");
    cr_expect_eq(ct_f32_to_bf16(-FLT_MAX), 0xff80);
    cr_expect_eq(ct_f32_to_bf16(float_of(0x7f7f7fffu)), 0x7f7f, "below halfway stays finite");
    cr_expect_eq(ct_f32_to_bf16(INFINITY), 0x7f80);
    cr_expect_eq(ct_f32_to_bf16(float_of(0x00010000u)), 0x0001, "subnormal");
    cr_expect_eq(ct_f32_to_bf16(float_of(0x00008000u)), 0x0000, "half the smallest: even 0");
    cr_expect_eq(ct_f32_to_bf16(float_of(0x00018000u)), 0x0002, "1.5 ulp: even 2");
    cr_expect_eq(ct_f32_to_bf16(-0.0f), 0x8000);
    uint16_t n = ct_f32_to_bf16(float_of(0x7f800001u));
    cr_expect(bf16_is_nan(n), "signalling NaN with a low payload stays NaN: 0x%04x", n);
    cr_expect(bf16_is_nan(ct_f32_to_bf16(NAN)));
    cr_expect_eq(ct_f32_to_bf16(float_of(0xffc00000u)) & 0x8000, 0x8000);
}

/* ---- conversions through tensors ------------------------------------------------------------- */

Test(dtype, tensors_convert_through_the_same_rules) {
    float src[4] = {1.0f + 0x1p-11f, 65520.0f, 0x1p-25f, 1.0f + 0x1p-8f};
    ct_tensor *t = ct_constant(src, CT_FLOAT32, CT_DIMS(4));
    uint16_t h[4], b[4];
    CT_STATUS_OK(ct_tensor_read(t, CT_FLOAT16, h, 4));
    CT_STATUS_OK(ct_tensor_read(t, CT_BFLOAT16, b, 4));
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(h[i], ct_f32_to_f16(src[i]), "float16 element %d", i);
        cr_expect_eq(b[i], ct_f32_to_bf16(src[i]), "bfloat16 element %d", i);
    }
}
