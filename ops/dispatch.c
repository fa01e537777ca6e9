/* The one path every op call takes (see op.h for the steps). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

ct_status ct__call_error(const ct__call *c, ct_status code, const char *fmt, ...) {
    char msg[896];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ct__error(code, "%s: %s", c->api, msg);
}

static bool is_half(ct_dtype dt) { return dt == CT_FLOAT16 || dt == CT_BFLOAT16; }

/* float16/bfloat16 inputs: run the op on float32 copies and round the
 * float32 results back. The casts are ordinary recorded ops, so gradients
 * flow through them unchanged. */
static ct_status run_via_f32(const ct__op *op, const char *api, int n_in,
                             const ct_tensor *const *in, const void *attrs, size_t attrs_size,
                             int n_out, ct_tensor **out, ct_device *dev, ct_dtype half) {
    ct_tensor *in32[CT__MAX_IO];
    ct_status st = CT_OK;
    for (int i = 0; i < n_in; i++) {
        in32[i] = is_half(in[i]->dtype) ? ct_cast(in[i], CT_FLOAT32) : (ct_tensor *)in[i];
        if (!in32[i]) st = ct_last_status();
    }
    if (!st) st = ct__run(op, api, n_in, (const ct_tensor *const *)in32, attrs, attrs_size,
                          n_out, out, dev);
    for (int i = 0; i < n_in; i++)
        if (in32[i] && in32[i] != in[i]) ct_tensor_free(in32[i]);
    if (st) return st;
    for (int i = 0; i < n_out; i++) {
        if (out[i]->dtype != CT_FLOAT32) continue;
        ct_tensor *h = ct_cast(out[i], half);
        ct_tensor_free(out[i]);
        out[i] = h;
        if (!h) st = ct_last_status();
    }
    if (st)
        for (int i = 0; i < n_out; i++) {
            ct_tensor_free(out[i]);
            out[i] = NULL;
        }
    return st;
}

ct_status ct__run(const ct__op *op, const char *api, int n_in, const ct_tensor *const *in,
                  const void *attrs, size_t attrs_size, int n_out, ct_tensor **out,
                  ct_device *dev) {
    for (int i = 0; i < n_out; i++) out[i] = NULL;
    if (n_in > CT__MAX_IO || n_out > CT__MAX_IO)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %d inputs and %d outputs; at most %d each",
                         api, n_in, n_out, CT__MAX_IO);
    ct_dtype half = CT_FLOAT32;
    ct_device *idev = NULL;
    for (int i = 0; i < n_in; i++) {
        if (!in[i]) {
            /* Keep the error that made the NULL; name this op if none. */
            if (!ct_last_status())
                ct__error(CT_ERR_INVALID_ARGUMENT, "%s: input %d is NULL", api, i);
            return ct_last_status();
        }
        ct_device *d = in[i]->storage->dev;
        if (!idev) idev = d;
        else if (d != idev)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: inputs are on different devices: input 0 on %s, input %d on "
                             "%s; copy with ct_to_device", api, idev->name, i, d->name);
        if (is_half(in[i]->dtype)) half = in[i]->dtype;
    }
    if (!dev) dev = idev;
    if (!dev) dev = ct_default_device();
    if (half != CT_FLOAT32 && !(op->flags & CT__OP_NATIVE_HALF)) {
        /* Casting to float32 first would hide a dtype mismatch between a
         * 16-bit input and another float input: refuse it here. */
        for (int i = 0; i < n_in; i++)
            if (ct_dtype_is_float(in[i]->dtype) && in[i]->dtype != half)
                return ct__error(CT_ERR_INVALID_ARGUMENT,
                                 "%s: inputs have different dtypes: %s and %s (input %d; cast "
                                 "one with ct_cast)", api, ct_dtype_name(half), CT__DESC(in[i]), i);
        return run_via_f32(op, api, n_in, in, attrs, attrs_size, n_out, out, dev, half);
    }

    ct__spec spec_stack[8];
    ct__spec *spec = n_out <= 8 ? spec_stack : calloc((size_t)n_out, sizeof *spec);
    if (!spec) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
    for (int i = 0; i < n_out; i++) {
        spec[i].alias = -1;
        spec[i].alias_offset = 0;
    }
    ct__call c = {.op = op, .api = api, .n_in = n_in, .n_out = n_out, .in = (ct_tensor **)in,
                  .out = out, .spec = spec, .attrs = attrs, .attrs_size = attrs_size,
                  .dev = dev};
    ct_status st = op->infer(&c);
    for (int i = 0; i < n_out && !st; i++) {
        ct__spec *s = &spec[i];
        if (s->alias >= 0)
            out[i] = ct__tensor_view(in[s->alias], s->rank, s->shape,
                                     in[s->alias]->offset + s->alias_offset);
        else
            out[i] = ct__tensor_alloc(dev, s->dtype, s->rank, s->shape, api);
        if (!out[i]) st = ct_last_status();
    }
    if (!st) {
        ct__kernel_fn k = op->kernel[dev->kind];
        bool all_alias = true;
        for (int i = 0; i < n_out; i++) all_alias &= spec[i].alias >= 0;
        if (k && dev->kind == CT_DEVICE_CPU) ct__threads_sync();
        if (k) st = k(&c);
        else if (!all_alias)
            st = ct__call_error(&c, CT_ERR_UNIMPLEMENTED, "op %s has no kernel for %s", op->name,
                                dev->name);
    }
    if (!st && ct__tapes_active && ct__tape_wants(&c)) ct__tape_record(&c);
    if (spec != spec_stack) free(spec);
    for (int i = 0; i < n_out; i++) {
        if (st) {
            ct__tensor_release(out[i]);
            out[i] = NULL;
        } else {
            ct__scoped(out[i]);
        }
    }
    return st;
}

ct_tensor *ct__run1(const ct__op *op, const char *api, int n_in, const ct_tensor *const *in,
                    const void *attrs, size_t attrs_size) {
    ct_tensor *out;
    return ct__run(op, api, n_in, in, attrs, attrs_size, 1, &out, NULL) ? NULL : out;
}

/* ---- infer helpers -------------------------------------------------------------- */

ct_status ct__axis(const ct__call *c, int axis, int rank, int *out) {
    int a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "axis %d is out of range for rank %d "
                              "(expected [%d, %d))", axis, rank, -rank, rank);
    *out = a;
    return CT_OK;
}

ct_status ct__axes_mask(const ct__call *c, const int *axes, int naxes, int rank, unsigned *mask) {
    *mask = 0;
    if (!axes || naxes < 0) {
        *mask = rank ? (1u << rank) - 1 : 0;
        return CT_OK;
    }
    for (int i = 0; i < naxes; i++) {
        int a;
        ct_status st = ct__axis(c, axes[i], rank, &a);
        if (st) return st;
        if (*mask & (1u << a))
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "axis %d is listed twice", axes[i]);
        *mask |= 1u << a;
    }
    return CT_OK;
}

ct_status ct__broadcast_shapes(const ct__call *c, int ra, const int64_t *sa, int rb,
                               const int64_t *sb, int *orank, int64_t *oshape) {
    int r = ra > rb ? ra : rb;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - ra), ib = i - (r - rb);
        int64_t da = ia >= 0 ? sa[ia] : 1, db = ib >= 0 ? sb[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "shapes %s and %s are not broadcastable (dimension %d: %lld vs %lld)",
                                  CT__SHAPE(ra, sa), CT__SHAPE(rb, sb), i, (long long)da,
                                  (long long)db);
        oshape[i] = da == 1 ? db : da;
    }
    *orank = r;
    return CT_OK;
}

void ct__spec_set(ct__spec *s, ct_dtype dt, int rank, const int64_t *shape) {
    s->dtype = dt;
    s->rank = rank;
    if (rank) memcpy(s->shape, shape, (size_t)rank * sizeof *shape);
}

ct_status ct__need_float(const ct__call *c, const ct_tensor *t) {
    if (ct_dtype_is_float(t->dtype)) return CT_OK;
    return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "expected a floating-point tensor, got %s",
                          CT__DESC(t));
}

ct_status ct__need_numeric(const ct__call *c, const ct_tensor *t) {
    if (t->dtype != CT_BOOL) return CT_OK;
    return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "expected a numeric tensor, got %s",
                          CT__DESC(t));
}

ct_status ct__need_same_dtype(const ct__call *c, const ct_tensor *a, const ct_tensor *b) {
    if (a->dtype == b->dtype) return CT_OK;
    return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                          "inputs have different dtypes: %s and %s (cast one with ct_cast)",
                          CT__DESC(a), CT__DESC(b));
}

/* ---- gradient helpers -------------------------------------------------------- */

ct_tensor *ct__unbroadcast(ct_tensor *g, int rank, const int64_t *shape) {
    if (!g) return NULL;
    int gr = g->rank;
    int axes[CT_MAX_RANK], n = 0;
    for (int i = 0; i < gr; i++) {
        int j = i - (gr - rank);
        if (j < 0 || (shape[j] == 1 && g->shape[i] != 1)) axes[n++] = i;
    }
    if (n == 0 && gr == rank) return g;
    ct_tensor *s = n ? ct_reduce_sum(g, axes, n, false) : g;
    return ct_reshape(s, rank, shape);
}

void ct__broadcast_strides(int r, const int64_t *s, int orank, const int64_t *oshape,
                           int64_t *strides) {
    int64_t st = 1;
    for (int i = orank - 1; i >= 0; i--) {
        int j = i - (orank - r);
        if (j < 0 || (s[j] == 1 && oshape[i] != 1)) {
            strides[i] = 0;
        } else {
            strides[i] = st;
        }
        if (j >= 0) st *= s[j];
    }
}
