/* Dtypes: names, sizes, and conversions including the 16-bit floats. */
#include <math.h>
#include <string.h>

#include "runtime/internal.h"

static const struct {
    const char *name;
    size_t size;
} dtypes[CT_NUM_DTYPES] = {
    [CT_FLOAT32] = {"float32", 4}, [CT_FLOAT64] = {"float64", 8},
    [CT_FLOAT16] = {"float16", 2}, [CT_BFLOAT16] = {"bfloat16", 2},
    [CT_INT32] = {"int32", 4},     [CT_INT64] = {"int64", 8},
    [CT_UINT8] = {"uint8", 1},     [CT_BOOL] = {"bool", 1},
};

const char *ct_dtype_name(ct_dtype dt) {
    return (unsigned)dt < CT_NUM_DTYPES ? dtypes[dt].name : "invalid";
}
size_t ct_dtype_size(ct_dtype dt) { return (unsigned)dt < CT_NUM_DTYPES ? dtypes[dt].size : 0; }
bool ct_dtype_is_float(ct_dtype dt) {
    return dt == CT_FLOAT32 || dt == CT_FLOAT64 || dt == CT_FLOAT16 || dt == CT_BFLOAT16;
}
bool ct_dtype_is_integer(ct_dtype dt) {
    return dt == CT_INT32 || dt == CT_INT64 || dt == CT_UINT8;
}

static uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t ct_f32_to_bf16(float f) {
    uint32_t u = f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
    return (uint16_t)(u >> 16);
}
float ct_bf16_to_f32(uint16_t h) { return u2f((uint32_t)h << 16); }

uint16_t ct_f32_to_f16(float f) {
    uint32_t u = f2u(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) /* inf or NaN */
        return sign | 0x7c00u | (a > 0x7f800000u ? 0x200u : 0u);
    if (a >= 0x477ff000u) return sign | 0x7c00u; /* rounds past 65504: inf */
    if (a < 0x38800000u) {
        /* Subnormal half (or zero): scale so the float addition rounds to
         * nearest even at the half's last subnormal bit. */
        float r = u2f(a) + 0.5f;
        return sign | (uint16_t)(f2u(r) - f2u(0.5f));
    }
    uint32_t mant_odd = (a >> 13) & 1u;
    a += ((uint32_t)(15 - 127) << 23) + 0xfffu + mant_odd;
    return sign | (uint16_t)(a >> 13);
}

float ct_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f) return u2f(sign | 0x7f800000u | (m << 13));
    if (e == 0) { /* zero or subnormal: m * 2^-24 */
        float v = (float)m * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return u2f(sign | ((e + 112u) << 23) | (m << 13));
}

double ct__load(const void *p, ct_dtype dt, int64_t i) {
    switch (dt) {
    case CT_FLOAT32: return ((const float *)p)[i];
    case CT_FLOAT64: return ((const double *)p)[i];
    case CT_FLOAT16: return ct_f16_to_f32(((const uint16_t *)p)[i]);
    case CT_BFLOAT16: return ct_bf16_to_f32(((const uint16_t *)p)[i]);
    case CT_INT32: return ((const int32_t *)p)[i];
    case CT_INT64: return (double)((const int64_t *)p)[i];
    case CT_UINT8: return ((const uint8_t *)p)[i];
    case CT_BOOL: return ((const bool *)p)[i];
    default: return NAN;
    }
}

/* Float to integer as C and TF's CPU kernels do: truncation toward zero,
 * with NaN and out-of-range values saturated instead of undefined. */
static int64_t sat_i64(double v, double lo, double hi) {
    if (isnan(v)) return 0;
    if (v <= lo) return (int64_t)lo;
    if (v >= hi) return (int64_t)hi;
    return (int64_t)v;
}

void ct__store(void *p, ct_dtype dt, int64_t i, double v) {
    switch (dt) {
    case CT_FLOAT32: ((float *)p)[i] = (float)v; break;
    case CT_FLOAT64: ((double *)p)[i] = v; break;
    case CT_FLOAT16: ((uint16_t *)p)[i] = ct_f32_to_f16((float)v); break;
    case CT_BFLOAT16: ((uint16_t *)p)[i] = ct_f32_to_bf16((float)v); break;
    case CT_INT32: ((int32_t *)p)[i] = (int32_t)sat_i64(v, -2147483648.0, 2147483647.0); break;
    case CT_INT64:
        ((int64_t *)p)[i] = sat_i64(v, -9223372036854775808.0, 9223372036854774784.0);
        break;
    case CT_UINT8: ((uint8_t *)p)[i] = (uint8_t)(sat_i64(v, -1e18, 1e18) & 0xff); break;
    case CT_BOOL: ((bool *)p)[i] = v != 0; break;
    default: break;
    }
}

#define CONVERT_LOOP(ST, DT, EXPR)                                            \
    do {                                                                      \
        const ST *s = src;                                                    \
        DT *d = dst;                                                          \
        for (int64_t i = 0; i < n; i++) d[i] = EXPR;                          \
    } while (0)

void ct__convert(const void *src, ct_dtype sdt, void *dst, ct_dtype ddt, int64_t n) {
    if (sdt == ddt) {
        memcpy(dst, src, (size_t)n * ct_dtype_size(sdt));
        return;
    }
    /* The common fast paths; the rest go through double, which holds every
     * value of every dtype except int64 beyond 2^53 (cast through int64
     * keeps those exact below). */
    if (sdt == CT_FLOAT32 && ddt == CT_FLOAT64) CONVERT_LOOP(float, double, s[i]);
    else if (sdt == CT_FLOAT64 && ddt == CT_FLOAT32) CONVERT_LOOP(double, float, (float)s[i]);
    else if (sdt == CT_INT32 && ddt == CT_INT64) CONVERT_LOOP(int32_t, int64_t, s[i]);
    else if (sdt == CT_INT64 && ddt == CT_INT32) CONVERT_LOOP(int64_t, int32_t, (int32_t)s[i]);
    else if (sdt == CT_INT32 && ddt == CT_FLOAT32) CONVERT_LOOP(int32_t, float, (float)s[i]);
    else if (sdt == CT_FLOAT16 && ddt == CT_FLOAT32) CONVERT_LOOP(uint16_t, float, ct_f16_to_f32(s[i]));
    else if (sdt == CT_FLOAT32 && ddt == CT_FLOAT16) CONVERT_LOOP(float, uint16_t, ct_f32_to_f16(s[i]));
    else if (sdt == CT_BFLOAT16 && ddt == CT_FLOAT32) CONVERT_LOOP(uint16_t, float, ct_bf16_to_f32(s[i]));
    else if (sdt == CT_FLOAT32 && ddt == CT_BFLOAT16) CONVERT_LOOP(float, uint16_t, ct_f32_to_bf16(s[i]));
    else if (sdt == CT_INT64 && ddt == CT_UINT8) CONVERT_LOOP(int64_t, uint8_t, (uint8_t)s[i]);
    else if (sdt == CT_INT64 && ddt == CT_BOOL) CONVERT_LOOP(int64_t, bool, s[i] != 0);
    else if (sdt == CT_BOOL && ddt == CT_INT64) CONVERT_LOOP(bool, int64_t, s[i]);
    else if (sdt == CT_UINT8 && ddt == CT_INT64) CONVERT_LOOP(uint8_t, int64_t, s[i]);
    else
        for (int64_t i = 0; i < n; i++) ct__store(dst, ddt, i, ct__load(src, sdt, i));
}
