/*
 * Sequences: tf.range, tf.linspace, tf.eye.
 *
 * The values are computed in the output dtype exactly as TensorFlow's
 * kernels do, so results match bit for bit: Range accumulates
 * `val += delta` in the dtype (not start + i * delta), and linspace is
 * TF 2's linspace_nd, start + delta * i with delta = (stop - start) /
 * (num - 1) and the last value set to stop. float16 / bfloat16 round
 * after every step, as Eigen's half arithmetic does.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ops/op.h"

#if defined(__GNUC__) && !defined(__clang__)
/* a * b + c must round twice, as TF's separate ops do: no fused multiply-add. */
#pragma GCC optimize("fp-contract=off")
#endif

/* Rounds a float to the nearest float16 / bfloat16 value. */
static float round_f16(float x) { return ct_f16_to_f32(ct_f32_to_f16(x)); }
static float round_bf16(float x) { return ct_bf16_to_f32(ct_f32_to_bf16(x)); }
static float round_f32(float x) { return x; }

typedef float (*round_fn)(float);
static round_fn rounder(ct_dtype dt) {
    return dt == CT_FLOAT16 ? round_f16 : dt == CT_BFLOAT16 ? round_bf16 : round_f32;
}

/* ---- Range ------------------------------------------------------------------ */

typedef struct {
    double start, limit, delta;
    ct_dtype dtype;
} range_attrs;

/* The integer value of x for an integer dtype, or an error naming which
 * argument cannot be converted (TF refuses to convert 0.5 to int32). */
static ct_status range_int_arg(const ct__call *c, const char *what, double x, ct_dtype dt,
                               int64_t *out) {
    double lo = dt == CT_INT32 ? -2147483648.0 : dt == CT_UINT8 ? 0.0 : -9223372036854775808.0;
    double hi = dt == CT_INT32 ? 2147483647.0 : dt == CT_UINT8 ? 255.0 : 9223372036854774784.0;
    if (!(x == floor(x)) || x < lo || x > hi)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "%s %.17g cannot be converted to %s",
                              what, x, ct_dtype_name(dt));
    *out = (int64_t)x;
    return CT_OK;
}

static ct_status range_order(const ct__call *c, double start, double limit, double delta) {
    if (delta == 0)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "Requires delta != 0: %.9g", delta);
    if (delta > 0 && !(start <= limit))
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "Requires start <= limit when delta > 0: %.9g/%.9g", start, limit);
    if (!(delta > 0) && !(start >= limit))
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "Requires start >= limit when delta < 0: %.9g/%.9g", start, limit);
    return CT_OK;
}

/* The number of elements, computed in the dtype as TF's RangeOp does. */
static ct_status range_size(const ct__call *c, int64_t *size) {
    const range_attrs *a = c->attrs;
    ct_dtype dt = a->dtype;
    double fsize;
    if (ct_dtype_is_integer(dt)) {
        int64_t s = 0, l = 0, d = 1;
        ct_status st = range_int_arg(c, "start", a->start, dt, &s);
        if (!st) st = range_int_arg(c, "limit", a->limit, dt, &l);
        if (!st) st = range_int_arg(c, "delta", a->delta, dt, &d);
        if (!st) st = range_order(c, (double)s, (double)l, (double)d);
        if (st) return st;
        /* |limit - start| fits in uint64 for every int64 pair. */
        uint64_t span = l >= s ? (uint64_t)l - (uint64_t)s : (uint64_t)s - (uint64_t)l;
        uint64_t ad = d > 0 ? (uint64_t)d : -(uint64_t)d;
        uint64_t n = span / ad + (span % ad != 0);
        if (n > (uint64_t)INT64_MAX / 16)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "range of %" PRIu64 " elements is too large", n);
        *size = (int64_t)n;
        return CT_OK;
    }
    if (dt == CT_FLOAT64) {
        ct_status st = range_order(c, a->start, a->limit, a->delta);
        if (st) return st;
        fsize = ceil(fabs((a->limit - a->start) / a->delta));
    } else {
        round_fn r = rounder(dt);
        float s = r((float)a->start), l = r((float)a->limit), d = r((float)a->delta);
        ct_status st = range_order(c, s, l, d);
        if (st) return st;
        fsize = ceilf(fabsf(r(r(l - s) / d)));
    }
    if (!(fsize <= (double)(INT64_MAX / 16)))
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "Requires ((limit - start) / delta) to be finite and at most %" PRId64
                              "; start %.9g, limit %.9g, delta %.9g", INT64_MAX / 16, a->start,
                              a->limit, a->delta);
    *size = (int64_t)fsize;
    return CT_OK;
}

static ct_status infer_range(ct__call *c) {
    const range_attrs *a = c->attrs;
    if ((unsigned)a->dtype >= CT_NUM_DTYPES || a->dtype == CT_BOOL)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "dtype %s is not numeric",
                              ct_dtype_name(a->dtype));
    int64_t n;
    ct_status st = range_size(c, &n);
    if (st) return st;
    ct__spec_set(&c->spec[0], a->dtype, 1, &n);
    return CT_OK;
}

static ct_status cpu_range(ct__call *c) {
    const range_attrs *a = c->attrs;
    ct_tensor *o = c->out[0];
    int64_t n = o->size;
    void *d = ct__data(o);
    switch (a->dtype) {
    case CT_FLOAT64: {
        double *p = d, v = a->start;
        for (int64_t i = 0; i < n; i++, v += a->delta) p[i] = v;
        break;
    }
    case CT_FLOAT32: {
        float *p = d, v = (float)a->start, dl = (float)a->delta;
        for (int64_t i = 0; i < n; i++, v += dl) p[i] = v;
        break;
    }
    case CT_FLOAT16:
    case CT_BFLOAT16: {
        round_fn r = rounder(a->dtype);
        uint16_t *p = d;
        float v = r((float)a->start), dl = r((float)a->delta);
        bool h = a->dtype == CT_FLOAT16;
        for (int64_t i = 0; i < n; i++, v = r(v + dl)) p[i] = h ? ct_f32_to_f16(v) : ct_f32_to_bf16(v);
        break;
    }
    case CT_INT32:
    case CT_INT64:
    case CT_UINT8: {
        /* Unsigned steps: the value one past the end may overflow. */
        uint64_t v = (uint64_t)(int64_t)a->start, dl = (uint64_t)(int64_t)a->delta;
        if (a->dtype == CT_INT32)
            for (int64_t i = 0; i < n; i++, v += dl) ((int32_t *)d)[i] = (int32_t)(int64_t)v;
        else if (a->dtype == CT_INT64)
            for (int64_t i = 0; i < n; i++, v += dl) ((int64_t *)d)[i] = (int64_t)v;
        else
            for (int64_t i = 0; i < n; i++, v += dl) ((uint8_t *)d)[i] = (uint8_t)v;
        break;
    }
    default:
        return ct__call_error(c, CT_ERR_UNIMPLEMENTED, "no kernel for %s",
                              ct_dtype_name(a->dtype));
    }
    return CT_OK;
}

const ct__op ct__op_range = {.name = "Range", .infer = infer_range,
                             .kernel = {[CT_DEVICE_CPU] = cpu_range},
                             .flags = CT__OP_NOT_DIFFERENTIABLE | CT__OP_NATIVE_HALF};

ct_tensor *ct_range(double start, double limit, double delta, ct_dtype dtype) {
    range_attrs a = {.start = start, .limit = limit, .delta = delta, .dtype = dtype};
    ct_tensor *out;
    return ct__run(&ct__op_range, "ct_range", 0, NULL, &a, sizeof a, 1, &out, NULL) ? NULL : out;
}

/* ---- LinSpace ------------------------------------------------------------------ */

typedef struct {
    double start, stop;
    int64_t num;
    ct_dtype dtype;
} linspace_attrs;

static ct_status infer_linspace(ct__call *c) {
    const linspace_attrs *a = c->attrs;
    if ((unsigned)a->dtype >= CT_NUM_DTYPES || !ct_dtype_is_float(a->dtype))
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "dtype %s is not a floating-point type", ct_dtype_name(a->dtype));
    if (a->num <= 0) /* tf.linspace: "If num <= 0, ValueError is raised." */
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "Requires num > 0: %" PRId64, a->num);
    if (a->num > INT64_MAX / 16)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "num %" PRId64 " is too large", a->num);
    ct__spec_set(&c->spec[0], a->dtype, 1, &a->num);
    return CT_OK;
}

static ct_status cpu_linspace(ct__call *c) {
    const linspace_attrs *a = c->attrs;
    int64_t n = a->num, steps = n > 1 ? n - 1 : 1;
    void *d = ct__data(c->out[0]);
    if (n == 0) return CT_OK;
    if (a->dtype == CT_FLOAT64) {
        double *p = d, s = a->start, delta = (a->stop - s) / (double)steps;
        p[0] = s;
        for (int64_t i = 1; i < n - 1; i++) p[i] = s + delta * (double)i;
        if (n > 1) p[n - 1] = a->stop;
    } else if (a->dtype == CT_FLOAT32) {
        float *p = d, s = (float)a->start, delta = ((float)a->stop - s) / (float)steps;
        p[0] = s;
        for (int64_t i = 1; i < n - 1; i++) p[i] = s + delta * (float)i;
        if (n > 1) p[n - 1] = (float)a->stop;
    } else {
        round_fn r = rounder(a->dtype);
        uint16_t (*to16)(float) = a->dtype == CT_FLOAT16 ? ct_f32_to_f16 : ct_f32_to_bf16;
        uint16_t *p = d;
        float s = r((float)a->start), e = r((float)a->stop);
        float delta = r(r(e - s) / r((float)steps));
        p[0] = to16(s);
        for (int64_t i = 1; i < n - 1; i++) p[i] = to16(r(s + r(delta * r((float)i))));
        if (n > 1) p[n - 1] = to16(e);
    }
    return CT_OK;
}

const ct__op ct__op_linspace = {.name = "LinSpace", .infer = infer_linspace,
                                .kernel = {[CT_DEVICE_CPU] = cpu_linspace},
                                .flags = CT__OP_NOT_DIFFERENTIABLE | CT__OP_NATIVE_HALF};

ct_tensor *ct_linspace(double start, double stop, int64_t num, ct_dtype dtype) {
    linspace_attrs a = {.start = start, .stop = stop, .num = num, .dtype = dtype};
    ct_tensor *out;
    return ct__run(&ct__op_linspace, "ct_linspace", 0, NULL, &a, sizeof a, 1, &out, NULL)
               ? NULL : out;
}

/* ---- Eye ------------------------------------------------------------------------ */

typedef struct {
    int64_t rows, cols;
    ct_dtype dtype;
} eye_attrs;

static ct_status infer_eye(ct__call *c) {
    const eye_attrs *a = c->attrs;
    if ((unsigned)a->dtype >= CT_NUM_DTYPES)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "invalid dtype %d", (int)a->dtype);
    if (a->rows < 0 || a->cols < 0)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "num_rows and num_columns must be >= 0, got %" PRId64 " and %" PRId64,
                              a->rows, a->cols);
    if (a->cols && a->rows > INT64_MAX / 16 / a->cols)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "[%" PRId64 ",%" PRId64 "] is too large",
                              a->rows, a->cols);
    int64_t shape[2] = {a->rows, a->cols};
    ct__spec_set(&c->spec[0], a->dtype, 2, shape);
    return CT_OK;
}

static ct_status cpu_eye(ct__call *c) {
    ct_tensor *o = c->out[0];
    const eye_attrs *a = c->attrs;
    size_t es = ct_dtype_size(o->dtype);
    unsigned char one[8];
    ct__store(one, o->dtype, 0, 1.0);
    memset(ct__data(o), 0, ct__nbytes(o));
    char *p = ct__data(o);
    int64_t k = a->rows < a->cols ? a->rows : a->cols;
    for (int64_t i = 0; i < k; i++) memcpy(p + (size_t)(i * a->cols + i) * es, one, es);
    return CT_OK;
}

const ct__op ct__op_eye = {.name = "Eye", .infer = infer_eye,
                           .kernel = {[CT_DEVICE_CPU] = cpu_eye},
                           .flags = CT__OP_NOT_DIFFERENTIABLE | CT__OP_NATIVE_HALF};

ct_tensor *ct_eye(int64_t num_rows, int64_t num_columns, ct_dtype dtype) {
    eye_attrs a = {.rows = num_rows, .cols = num_columns ? num_columns : num_rows, .dtype = dtype};
    ct_tensor *out;
    return ct__run(&ct__op_eye, "ct_eye", 0, NULL, &a, sizeof a, 1, &out, NULL) ? NULL : out;
}
