/*
 * tf.pad: CONSTANT (Pad/PadV2), REFLECT and SYMMETRIC (MirrorPad), and
 * the gradients: a crop of dy for CONSTANT, MirrorPadGrad's folding for
 * the mirror modes. Both gradient forms are one internal op whose own
 * gradient is tf.pad again, so higher derivatives work.
 *
 * The pad kernel writes each output row once: rows outside the input are
 * filled, rows inside get the left border, a memcpy of the input row and
 * the right border. Rows (all axes but the last) are split across threads.
 *
 * Mirror index maps for input size n, index i = padded index - before:
 *   REFLECT   (edge not repeated): i < 0 -> -i,     i >= n -> 2n - 2 - i
 *   SYMMETRIC (edge repeated):     i < 0 -> -i - 1, i >= n -> 2n - 1 - i
 * TF requires paddings <= n - 1 for REFLECT and <= n for SYMMETRIC, so
 * one reflection always lands inside.
 */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

typedef struct {
    int mode;     /* ct_pad_mode */
    double value; /* CONSTANT fill */
    int64_t pad[CT_MAX_RANK][2];
} pad_attrs;

static ct_status infer_pad(ct__call *c) {
    const pad_attrs *a = c->attrs;
    const ct_tensor *t = c->in[0];
    if (a->mode < CT_PAD_CONSTANT || a->mode > CT_PAD_SYMMETRIC)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "mode %d is not CT_PAD_CONSTANT, CT_PAD_REFLECT or "
                              "CT_PAD_SYMMETRIC", a->mode);
    int64_t shape[CT_MAX_RANK];
    for (int i = 0; i < t->rank; i++) {
        int64_t b = a->pad[i][0], e = a->pad[i][1], d = t->shape[i];
        if (b < 0 || e < 0)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "paddings must be non-negative: axis %d has [%lld, %lld] "
                                  "(input %s)", i, (long long)b, (long long)e, CT__DESC(t));
        if (a->mode == CT_PAD_REFLECT && (b >= d || e >= d))
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "REFLECT paddings must be less than the dimension size: axis "
                                  "%d has [%lld, %lld], not less than %lld (input %s)", i,
                                  (long long)b, (long long)e, (long long)d, CT__DESC(t));
        if (a->mode == CT_PAD_SYMMETRIC && (b > d || e > d))
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "SYMMETRIC paddings must be no greater than the dimension "
                                  "size: axis %d has [%lld, %lld], greater than %lld (input %s)",
                                  i, (long long)b, (long long)e, (long long)d, CT__DESC(t));
        shape[i] = d + b + e;
    }
    ct__spec_set(&c->spec[0], t->dtype, t->rank, shape);
    return CT_OK;
}

static inline int64_t mirror(int64_t i, int64_t n, int mode) {
    int64_t s = mode == CT_PAD_SYMMETRIC;
    if (i < 0) return -i - s;
    if (i >= n) return 2 * n - 2 + s - i;
    return i;
}

typedef struct {
    int r;                      /* >= 1 (a scalar is treated as [1]) */
    int mode;
    int64_t d[CT_MAX_RANK];     /* input shape                      */
    int64_t os[CT_MAX_RANK];    /* output shape                     */
    int64_t b[CT_MAX_RANK];     /* before                           */
    int64_t ist[CT_MAX_RANK];   /* input element strides            */
} pad_plan;

static void plan_make(pad_plan *p, const pad_attrs *a, const ct_tensor *t, const ct_tensor *o) {
    p->mode = a->mode;
    p->r = t->rank ? t->rank : 1;
    for (int i = 0; i < p->r; i++) {
        p->d[i] = t->rank ? t->shape[i] : 1;
        p->os[i] = t->rank ? o->shape[i] : 1;
        p->b[i] = t->rank ? a->pad[i][0] : 0;
    }
    p->ist[p->r - 1] = 1;
    for (int i = p->r - 2; i >= 0; i--) p->ist[i] = p->ist[i + 1] * p->d[i + 1];
}

/* Output rows [k0, k1) (flat index over all axes but the last). */
#define DEFINE_PAD_ROWS(NAME, T)                                                           \
    static void NAME(const pad_plan *p, const void *vs, void *vd, T fill, int64_t k0,      \
                     int64_t k1) {                                                         \
        const T *src = vs;                                                                 \
        T *dst = vd;                                                                       \
        int r = p->r;                                                                      \
        int64_t n = p->d[r - 1], bl = p->b[r - 1], w = p->os[r - 1];                       \
        int64_t idx[CT_MAX_RANK] = {0}, k = k0;                                            \
        for (int j = r - 2; j >= 0; j--) idx[j] = k % p->os[j], k /= p->os[j];             \
        for (k = k0; k < k1; k++) {                                                        \
            T *dp = dst + k * w;                                                           \
            int64_t off = 0;                                                               \
            bool inside = true;                                                            \
            for (int j = 0; j < r - 1; j++) {                                              \
                int64_t i = idx[j] - p->b[j];                                              \
                if (p->mode == CT_PAD_CONSTANT) inside &= i >= 0 && i < p->d[j];           \
                else i = mirror(i, p->d[j], p->mode);                                      \
                off += i * p->ist[j];                                                      \
            }                                                                              \
            if (!inside) {                                                                 \
                for (int64_t q = 0; q < w; q++) dp[q] = fill;                              \
            } else {                                                                       \
                const T *sp = src + off;                                                   \
                if (p->mode == CT_PAD_CONSTANT) {                                          \
                    for (int64_t q = 0; q < bl; q++) dp[q] = fill;                         \
                    for (int64_t q = bl + n; q < w; q++) dp[q] = fill;                     \
                } else {                                                                   \
                    for (int64_t q = 0; q < bl; q++) dp[q] = sp[mirror(q - bl, n, p->mode)]; \
                    for (int64_t q = bl + n; q < w; q++)                                   \
                        dp[q] = sp[mirror(q - bl, n, p->mode)];                            \
                }                                                                          \
                if (n) memcpy(dp + bl, sp, (size_t)n * sizeof(T));                         \
            }                                                                              \
            for (int j = r - 2; j >= 0; j--) {                                             \
                if (++idx[j] < p->os[j]) break;                                            \
                idx[j] = 0;                                                                \
            }                                                                              \
        }                                                                                  \
    }
DEFINE_PAD_ROWS(pad_rows_1, uint8_t)
DEFINE_PAD_ROWS(pad_rows_2, uint16_t)
DEFINE_PAD_ROWS(pad_rows_4, uint32_t)
DEFINE_PAD_ROWS(pad_rows_8, uint64_t)

static ct_status cpu_pad(ct__call *c) {
    const pad_attrs *a = c->attrs;
    ct_tensor *t = c->in[0], *o = c->out[0];
    if (o->size == 0) return CT_OK;
    pad_plan p;
    plan_make(&p, a, t, o);
    size_t es = ct_dtype_size(t->dtype);
    uint64_t fill = 0;
    ct__convert(&a->value, CT_FLOAT64, &fill, t->dtype, 1);
    const void *src = ct__data(t);
    void *dst = ct__data(o);
    int64_t rows = o->size / p.os[p.r - 1];
    int nt = ct__threads_for(o->size, 1);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int th = omp_get_thread_num(), k = omp_get_num_threads();
        int64_t chunk = (rows + k - 1) / k, k0 = th * chunk;
        int64_t k1 = k0 + chunk < rows ? k0 + chunk : rows;
        if (k0 < k1) {
            switch (es) {
            case 1: pad_rows_1(&p, src, dst, (uint8_t)fill, k0, k1); break;
            case 2: pad_rows_2(&p, src, dst, (uint16_t)fill, k0, k1); break;
            case 4: pad_rows_4(&p, src, dst, (uint32_t)fill, k0, k1); break;
            default: pad_rows_8(&p, src, dst, fill, k0, k1); break;
            }
        }
    }
    return CT_OK;
}

/* ---- the gradient: crop (CONSTANT) or fold (MirrorPadGrad) -------------------- */

static ct_status infer_pad_grad(ct__call *c) {
    const pad_attrs *a = c->attrs;
    const ct_tensor *g = c->in[0];
    int64_t shape[CT_MAX_RANK];
    for (int i = 0; i < g->rank; i++) {
        shape[i] = g->shape[i] - a->pad[i][0] - a->pad[i][1];
        if (shape[i] < 0 || a->pad[i][0] < 0 || a->pad[i][1] < 0)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "paddings [%lld, %lld] do not fit axis %d of %s",
                                  (long long)a->pad[i][0], (long long)a->pad[i][1], i,
                                  CT__DESC(g));
    }
    ct__spec_set(&c->spec[0], g->dtype, g->rank, shape);
    return CT_OK;
}

/* One fold along an axis: src [outer, P, inner] -> dst [outer, n, inner]
 * with P = n + b + e: each kept row plus the padded rows mirrored onto it. */
#define DEFINE_FOLD(NAME, T)                                                               \
    static void NAME(const void *vs, void *vd, int64_t outer, int64_t n, int64_t b,        \
                     int64_t e, int64_t inner, int mode) {                                 \
        const T *src = vs;                                                                 \
        T *dst = vd;                                                                       \
        int64_t P = n + b + e, s = mode == CT_PAD_SYMMETRIC;                               \
        int nt = ct__threads_for(outer * P * inner, 1);                                    \
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")           \
        for (int64_t o = 0; o < outer; o++) {                                              \
            const T *sp = src + o * P * inner;                                             \
            T *dp = dst + o * n * inner;                                                   \
            memcpy(dp, sp + b * inner, (size_t)(n * inner) * sizeof(T));                   \
            for (int64_t q = 0; q < b; q++) { /* padded row q -> row b - q - s */          \
                T *d = dp + (b - q - s) * inner;                                           \
                const T *x = sp + q * inner;                                               \
                for (int64_t i = 0; i < inner; i++) d[i] += x[i];                          \
            }                                                                              \
            for (int64_t q = 0; q < e; q++) { /* row b+n+q -> row n - 2 + s - q */         \
                T *d = dp + (n - 2 + s - q) * inner;                                       \
                const T *x = sp + (b + n + q) * inner;                                     \
                for (int64_t i = 0; i < inner; i++) d[i] += x[i];                          \
            }                                                                              \
        }                                                                                  \
    }
DEFINE_FOLD(fold_f32, float)
DEFINE_FOLD(fold_f64, double)
DEFINE_FOLD(fold_i32, int32_t)
DEFINE_FOLD(fold_i64, int64_t)

typedef void (*fold_fn)(const void *, void *, int64_t, int64_t, int64_t, int64_t, int64_t, int);

static ct_status mirror_fold(ct__call *c) {
    const pad_attrs *a = c->attrs;
    ct_tensor *g = c->in[0], *o = c->out[0];
    size_t es = ct_dtype_size(g->dtype);
    int r = g->rank, last = -1;
    for (int i = 0; i < r; i++)
        if (a->pad[i][0] || a->pad[i][1]) last = i;
    if (last < 0) {
        memcpy(ct__data(o), ct__data(g), ct__nbytes(o));
        return CT_OK;
    }
    fold_fn fold = g->dtype == CT_FLOAT32 ? fold_f32
                 : g->dtype == CT_FLOAT64 ? fold_f64
                 : g->dtype == CT_INT32   ? fold_i32
                 : g->dtype == CT_INT64   ? fold_i64 : NULL;
    if (!fold)
        return ct__call_error(c, CT_ERR_UNIMPLEMENTED, "no %s kernel for %s", c->op->name,
                              CT__DESC(g));
    void *bufs[2] = {NULL, NULL};
    int64_t cur[CT_MAX_RANK];
    memcpy(cur, g->shape, (size_t)r * sizeof *cur);
    const void *src = ct__data(g);
    int which = 0;
    ct_status st = CT_OK;
    for (int i = 0; i < r && !st; i++) {
        int64_t b = a->pad[i][0], e = a->pad[i][1];
        if (!b && !e) continue;
        int64_t outer = 1, inner = 1, n = cur[i] - b - e;
        for (int j = 0; j < i; j++) outer *= cur[j];
        for (int j = i + 1; j < r; j++) inner *= cur[j];
        void *dst;
        if (i == last) {
            dst = ct__data(o);
        } else {
            if (!bufs[which]) bufs[which] = malloc((size_t)(outer * n * inner) * es + 1);
            if (!bufs[which]) {
                st = ct__call_error(c, CT_ERR_OUT_OF_MEMORY, "out of host memory");
                break;
            }
            dst = bufs[which];
        }
        fold(src, dst, outer, n, b, e, inner, a->mode);
        cur[i] = n;
        src = dst;
        which ^= 1;
    }
    free(bufs[0]);
    free(bufs[1]);
    return st;
}

static ct_status cpu_pad_grad(ct__call *c) {
    const pad_attrs *a = c->attrs;
    ct_tensor *g = c->in[0], *o = c->out[0];
    if (o->size == 0) return CT_OK;
    if (a->mode != CT_PAD_CONSTANT) return mirror_fold(c);
    size_t es = ct_dtype_size(g->dtype);
    int r = g->rank;
    if (r == 0) {
        memcpy(ct__data(o), ct__data(g), es);
        return CT_OK;
    }
    int64_t gst[CT_MAX_RANK];
    gst[r - 1] = (int64_t)es;
    for (int i = r - 2; i >= 0; i--) gst[i] = gst[i + 1] * g->shape[i + 1];
    size_t row = (size_t)o->shape[r - 1] * es;
    int64_t rows = o->size / o->shape[r - 1];
    const char *src = (const char *)ct__data(g) + a->pad[r - 1][0] * (int64_t)es;
    char *dst = ct__data(o);
    int nt = ct__threads_for(o->size, 1);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t k = 0; k < rows; k++) {
        int64_t off = 0, q = k;
        for (int j = r - 2; j >= 0; j--) {
            off += (q % o->shape[j] + a->pad[j][0]) * gst[j];
            q /= o->shape[j];
        }
        memcpy(dst + (size_t)k * row, src + off, row);
    }
    return CT_OK;
}

static ct_status pad_grad_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const pad_attrs *a = c->attrs;
    dx[0] = ct_pad(dy[0], &a->pad[0][0], (ct_pad_mode)a->mode, 0);
    return dx[0] ? CT_OK : ct_last_status();
}

static const ct__op op_pad_crop = {.name = "Slice", .infer = infer_pad_grad,
                                   .kernel = {[CT_DEVICE_CPU] = cpu_pad_grad},
                                   .grad = pad_grad_grad, .flags = CT__OP_NATIVE_HALF};
static const ct__op op_mirror_pad_grad = {.name = "MirrorPadGrad", .infer = infer_pad_grad,
                                          .kernel = {[CT_DEVICE_CPU] = cpu_pad_grad},
                                          .grad = pad_grad_grad};

static ct_status pad_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const pad_attrs *a = c->attrs;
    const ct__op *op = a->mode == CT_PAD_CONSTANT ? &op_pad_crop : &op_mirror_pad_grad;
    const ct_tensor *g = dy[0];
    dx[0] = ct__run1(op, op->name, 1, &g, a, sizeof *a);
    return dx[0] ? CT_OK : ct_last_status();
}

const ct__op ct__op_pad = {.name = "PadV2", .infer = infer_pad,
                           .kernel = {[CT_DEVICE_CPU] = cpu_pad}, .grad = pad_grad,
                           .flags = CT__OP_NATIVE_HALF};
const ct__op ct__op_mirror_pad = {.name = "MirrorPad", .infer = infer_pad,
                                  .kernel = {[CT_DEVICE_CPU] = cpu_pad}, .grad = pad_grad,
                                  .flags = CT__OP_NATIVE_HALF};

ct_tensor *ct_pad(const ct_tensor *t, const int64_t *paddings, ct_pad_mode mode,
                  double constant_value) {
    pad_attrs a = {.mode = (int)mode, .value = constant_value};
    if (t && t->rank > 0) {
        if (!paddings) {
            ct__error(CT_ERR_INVALID_ARGUMENT, "ct_pad: paddings is NULL for %s", CT__DESC(t));
            return NULL;
        }
        memcpy(a.pad, paddings, (size_t)t->rank * 2 * sizeof *paddings);
    }
    return ct__run1(mode == CT_PAD_CONSTANT ? &ct__op_pad : &ct__op_mirror_pad, "ct_pad", 1, &t,
                    &a, sizeof a);
}
