/* Creation ops (fill family), cast, identity, stop_gradient, to_device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/creation.h"
#include "ops/op.h"

/* ---- Fill ---------------------------------------------------------------- */

typedef ct__fill_attrs fill_attrs;

static ct_status infer_fill(ct__call *c) {
    const fill_attrs *a = c->attrs;
    if ((unsigned)a->dtype >= CT_NUM_DTYPES)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "invalid dtype %d", (int)a->dtype);
    if (a->rank < 0 || a->rank > CT_MAX_RANK)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "rank %d is outside [0, %d]", a->rank,
                              CT_MAX_RANK);
    for (int i = 0; i < a->rank; i++)
        if (a->shape[i] < 0)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "negative dimension in shape %s",
                                  CT__SHAPE(a->rank, a->shape));
    ct__spec_set(&c->spec[0], a->dtype, a->rank, a->shape);
    return CT_OK;
}

static ct_status cpu_fill(ct__call *c) {
    const fill_attrs *a = c->attrs;
    ct_tensor *o = c->out[0];
    void *d = ct__data(o);
    int64_t n = o->size;
    if (a->value == 0 && !signbit(a->value)) {
        memset(d, 0, ct__nbytes(o));
        return CT_OK;
    }
    size_t es = ct_dtype_size(o->dtype);
    if (n == 0) return CT_OK;
    ct__store(d, o->dtype, 0, a->value);
    /* Doubling copies: log2(n) memcpy calls. */
    for (int64_t have = 1; have < n;) {
        int64_t k = have < n - have ? have : n - have;
        memcpy((char *)d + (size_t)have * es, d, (size_t)k * es);
        have += k;
    }
    return CT_OK;
}

const ct__op ct__op_fill = {.name = "Fill", .infer = infer_fill,
                            .kernel = {[CT_DEVICE_CPU] = cpu_fill, CT__CUDA(ct__cuda_fill)},
                            .flags = CT__OP_NOT_DIFFERENTIABLE | CT__OP_NATIVE_HALF};

ct_tensor *ct_fill(ct_dtype dtype, int rank, const int64_t *shape, double value) {
    fill_attrs a = {.dtype = dtype, .rank = rank, .value = value};
    if (rank > 0 && !shape) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_fill: rank %d with a NULL shape", rank);
        return NULL;
    }
    if (rank > 0 && rank <= CT_MAX_RANK) memcpy(a.shape, shape, (size_t)rank * sizeof *shape);
    ct_tensor *out;
    return ct__run(&ct__op_fill, "ct_fill", 0, NULL, &a, sizeof a, 1, &out, NULL) ? NULL : out;
}

ct_tensor *ct_zeros(ct_dtype dtype, int rank, const int64_t *shape) { return ct_fill(dtype, rank, shape, 0); }
ct_tensor *ct_ones(ct_dtype dtype, int rank, const int64_t *shape) { return ct_fill(dtype, rank, shape, 1); }

ct_tensor *ct_fill_like(const ct_tensor *t, double value) {
    if (!t) {
        if (!ct_last_status()) ct__error(CT_ERR_INVALID_ARGUMENT, "ct_fill_like: NULL input");
        return NULL;
    }
    fill_attrs a = {.dtype = t->dtype, .rank = t->rank, .value = value};
    if (t->rank) memcpy(a.shape, t->shape, (size_t)t->rank * sizeof *t->shape);
    ct_tensor *out;
    return ct__run(&ct__op_fill, "ct_fill_like", 0, NULL, &a, sizeof a, 1, &out,
                   t->storage->dev) ? NULL : out;
}
ct_tensor *ct_zeros_like(const ct_tensor *t) { return ct_fill_like(t, 0); }
ct_tensor *ct_ones_like(const ct_tensor *t) { return ct_fill_like(t, 1); }

/* ---- Cast ----------------------------------------------------------------- */

typedef ct__cast_attrs cast_attrs;

static ct_status infer_cast(ct__call *c) {
    const cast_attrs *a = c->attrs;
    if ((unsigned)a->dtype >= CT_NUM_DTYPES)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "invalid dtype %d", (int)a->dtype);
    ct__spec_set(&c->spec[0], a->dtype, c->in[0]->rank, c->in[0]->shape);
    return CT_OK;
}

static ct_status cpu_cast(ct__call *c) {
    ct__convert(ct__data(c->in[0]), c->in[0]->dtype, ct__data(c->out[0]), c->out[0]->dtype,
                c->in[0]->size);
    return CT_OK;
}

static ct_status cast_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    /* TF: the gradient of a cast between float types is cast back; casts
     * from or to integers are not differentiable. */
    if (!ct_dtype_is_float(c->in[0]->dtype) || !dy[0]) return CT_OK;
    dx[0] = ct_cast(dy[0], c->in[0]->dtype);
    return dx[0] ? CT_OK : ct_last_status();
}

const ct__op ct__op_cast = {.name = "Cast", .infer = infer_cast,
                            .kernel = {[CT_DEVICE_CPU] = cpu_cast, CT__CUDA(ct__cuda_cast)},
                            .grad = cast_grad,
                            .flags = CT__OP_NATIVE_HALF};

ct_tensor *ct_cast(const ct_tensor *t, ct_dtype dtype) {
    cast_attrs a = {dtype};
    if (t && t->dtype == dtype) return ct_identity(t);
    return ct__run1(&ct__op_cast, "ct_cast", 1, &t, &a, sizeof a);
}

/* ---- Identity, StopGradient (views) ----------------------------------------- */

static ct_status infer_view_same(ct__call *c) {
    ct__spec_set(&c->spec[0], c->in[0]->dtype, c->in[0]->rank, c->in[0]->shape);
    c->spec[0].alias = 0;
    return CT_OK;
}

static ct_status identity_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    (void)c;
    dx[0] = ct_identity(dy[0]);
    return dx[0] ? CT_OK : ct_last_status();
}

const ct__op ct__op_identity = {.name = "Identity", .infer = infer_view_same,
                                .grad = identity_grad, .flags = CT__OP_NATIVE_HALF};
const ct__op ct__op_stop_gradient = {.name = "StopGradient", .infer = infer_view_same,
                                     .flags = CT__OP_NATIVE_HALF | CT__OP_NOT_DIFFERENTIABLE};

ct_tensor *ct_identity(const ct_tensor *t) {
    return ct__run1(&ct__op_identity, "ct_identity", 1, &t, NULL, 0);
}
ct_tensor *ct_stop_gradient(const ct_tensor *t) {
    return ct__run1(&ct__op_stop_gradient, "ct_stop_gradient", 1, &t, NULL, 0);
}

/* ---- Copies between devices --------------------------------------------------- */

static ct_status infer_copy(ct__call *c) {
    ct__spec_set(&c->spec[0], c->in[0]->dtype, c->in[0]->rank, c->in[0]->shape);
    return CT_OK;
}

/* Runs on the destination device (the call's device); the source may be
 * anywhere, so the copy goes through the host unless both are the same. */
static ct_status copy_kernel(ct__call *c) {
    ct_tensor *src = c->in[0], *dst = c->out[0];
    ct_device *sd = src->storage->dev, *dd = dst->storage->dev;
    size_t n = ct__nbytes(src);
    if (sd == dd) return dd->vt->copy(dd, ct__data(dst), ct__data(src), n);
    if (sd->kind == CT_DEVICE_CPU) return dd->vt->from_host(dd, ct__data(dst), ct__data(src), n);
    if (dd->kind == CT_DEVICE_CPU) return sd->vt->to_host(sd, ct__data(dst), ct__data(src), n);
    void *tmp = malloc(n + 1);
    if (!tmp) return ct__call_error(c, CT_ERR_OUT_OF_MEMORY, "no host memory to stage %zu bytes", n);
    ct_status st = sd->vt->to_host(sd, tmp, ct__data(src), n);
    if (!st) st = dd->vt->from_host(dd, ct__data(dst), tmp, n);
    free(tmp);
    return st;
}

static ct_status copy_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    dx[0] = ct_to_device(dy[0], c->in[0]->storage->dev);
    return dx[0] ? CT_OK : ct_last_status();
}

const ct__op ct__op_copy = {.name = "_Copy", .infer = infer_copy,
                            .kernel = {[CT_DEVICE_CPU] = copy_kernel, [CT_DEVICE_CUDA] = copy_kernel},
                            .grad = copy_grad, .flags = CT__OP_NATIVE_HALF};

ct_tensor *ct_to_device(const ct_tensor *t, ct_device *dev) {
    if (!dev) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_to_device: NULL device");
        return NULL;
    }
    if (t && t->storage->dev == dev) return ct_identity(t);
    ct_tensor *out;
    /* Dispatch checks that inputs share the call's device; a copy is the
     * one op whose input lives elsewhere, so it skips that check by
     * passing the destination explicitly and having no same-device rule. */
    return ct__run(&ct__op_copy, "ct_to_device", 1, &t, NULL, 0, 1, &out, dev) ? NULL : out;
}
