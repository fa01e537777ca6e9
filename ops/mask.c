/*
 * tf.boolean_mask and tf.where(cond) (coordinates of the true elements).
 *
 * Shape legend for BooleanMask: t is viewed as [O, M, I] (the axes before
 * `axis`, the k masked axes flattened, the axes after them) and the mask as
 * [M]; the result is [O, C, I] where C counts the true mask elements. The
 * result's size depends on the mask's values, so inference reads the mask
 * (through the device interface). BooleanMaskGrad writes the rows back into
 * zeros of t's shape; the two ops are each other's gradients.
 *
 * A numeric mask or condition counts non-zero elements as true (NaN too),
 * as ct_cast to bool does.
 */
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "ops/op.h"

typedef struct {
    int axis;                   /* as given (may be negative)          */
    int rank;                   /* BooleanMaskGrad: t's rank and shape */
    int64_t shape[CT_MAX_RANK];
} mask_attrs;

/* The mask as bools on the host (caller frees), with its true count. */
static ct_status read_mask(const ct__call *c, const ct_tensor *m, bool **out, int64_t *count) {
    *out = NULL;
    *count = 0;
    bool *v = malloc((size_t)(m->size ? m->size : 1));
    if (!v) return ct__call_error(c, CT_ERR_OUT_OF_MEMORY, "out of host memory");
    ct_status st = ct_tensor_read(m, CT_BOOL, v, m->size);
    if (st) {
        free(v);
        return st;
    }
    int64_t n = 0;
    for (int64_t i = 0; i < m->size; i++) n += v[i];
    *out = v;
    *count = n;
    return CT_OK;
}

/* Checks the mask against t's shape [rank, shape] and normalises the axis. */
static ct_status mask_dims(const ct__call *c, int rank, const int64_t *shape,
                           const ct_tensor *mask, int *axis_out) {
    const mask_attrs *a = c->attrs;
    int k = mask->rank, axis = a->axis;
    if (k == 0)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "mask cannot be scalar (mask %s)",
                              CT__DESC(mask));
    if (axis < -rank || axis >= rank)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "axis %d is out of range for a tensor of shape %s (expected [%d, "
                              "%d))", axis, CT__SHAPE(rank, shape), -rank, rank);
    if (axis < 0) axis += rank;
    bool ok = axis + k <= rank;
    for (int i = 0; ok && i < k; i++) ok = shape[axis + i] == mask->shape[i];
    if (!ok)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "mask shape %s is incompatible with the tensor's shape %s at "
                              "axis %d: they must match along the mask's %d axes",
                              CT__DESC(mask), CT__SHAPE(rank, shape), axis, k);
    *axis_out = axis;
    return CT_OK;
}

static int masked_shape(int rank, const int64_t *shape, int axis, int k, int64_t count,
                        int64_t *out) {
    int r = 0;
    for (int i = 0; i < axis; i++) out[r++] = shape[i];
    out[r++] = count;
    for (int i = axis + k; i < rank; i++) out[r++] = shape[i];
    return r;
}

static ct_status infer_mask(ct__call *c) {
    const ct_tensor *t = c->in[0], *mask = c->in[1];
    int axis;
    ct_status st = mask_dims(c, t->rank, t->shape, mask, &axis);
    if (st) return st;
    bool *v;
    int64_t count, shape[CT_MAX_RANK];
    if ((st = read_mask(c, mask, &v, &count))) return st;
    free(v);
    int r = masked_shape(t->rank, t->shape, axis, mask->rank, count, shape);
    ct__spec_set(&c->spec[0], t->dtype, r, shape);
    return CT_OK;
}

static ct_status infer_mask_grad(ct__call *c) {
    const mask_attrs *a = c->attrs;
    const ct_tensor *dy = c->in[0], *mask = c->in[1];
    int axis;
    ct_status st = mask_dims(c, a->rank, a->shape, mask, &axis);
    if (st) return st;
    bool *v;
    int64_t count, shape[CT_MAX_RANK];
    if ((st = read_mask(c, mask, &v, &count))) return st;
    free(v);
    int r = masked_shape(a->rank, a->shape, axis, mask->rank, count, shape);
    bool ok = r == dy->rank;
    for (int i = 0; ok && i < r; i++) ok = dy->shape[i] == shape[i];
    if (!ok)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "gradient %s does not match the masked result %s", CT__DESC(dy),
                              CT__SHAPE(r, shape));
    ct__spec_set(&c->spec[0], dy->dtype, a->rank, a->shape);
    return CT_OK;
}

/* Moves rows of I elements between `full` [O, M, I] and `packed` [O, C, I]
 * (gather: full -> packed). */
static ct_status mask_copy(ct__call *c, const ct_tensor *mask, int rank, const int64_t *shape,
                           char *full, char *packed, size_t es, bool gather) {
    int axis;
    ct_status st = mask_dims(c, rank, shape, mask, &axis);
    bool *v;
    int64_t C;
    if (st || (st = read_mask(c, mask, &v, &C))) return st;
    int64_t M = mask->size, O = 1, I = 1;
    for (int i = 0; i < axis; i++) O *= shape[i];
    for (int i = axis + mask->rank; i < rank; i++) I *= shape[i];
    int64_t *pos = malloc((size_t)(C ? C : 1) * sizeof *pos);
    if (!pos) {
        free(v);
        return ct__call_error(c, CT_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    for (int64_t m = 0, j = 0; m < M; m++)
        if (v[m]) pos[j++] = m;
    free(v);
    int64_t rows = O * C;
    size_t bytes = (size_t)I * es;
    int nt = ct__threads_for(rows * I, 1);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t o = r / C, j = r % C;
        char *f = full + (size_t)(o * M + pos[j]) * bytes, *p = packed + (size_t)r * bytes;
        if (gather) memcpy(p, f, bytes);
        else memcpy(f, p, bytes);
    }
    free(pos);
    return CT_OK;
}

static ct_status cpu_mask(ct__call *c) {
    const ct_tensor *t = c->in[0];
    ct_tensor *o = c->out[0];
    return mask_copy(c, c->in[1], t->rank, t->shape, ct__data(t), ct__data(o),
                     ct_dtype_size(t->dtype), true);
}

static ct_status cpu_mask_grad(ct__call *c) {
    const ct_tensor *dy = c->in[0];
    ct_tensor *o = c->out[0];
    memset(ct__data(o), 0, ct__nbytes(o));
    return mask_copy(c, c->in[1], o->rank, o->shape, ct__data(o), ct__data(dy),
                     ct_dtype_size(o->dtype), false);
}

static ct_status mask_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx);
static ct_status mask_grad_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx);

static const ct__op op_boolean_mask = {
    .name = "BooleanMask", .infer = infer_mask, .kernel = {[CT_DEVICE_CPU] = cpu_mask},
    .grad = mask_grad, .flags = CT__OP_NATIVE_HALF};
static const ct__op op_boolean_mask_grad = {
    .name = "BooleanMaskGrad", .infer = infer_mask_grad,
    .kernel = {[CT_DEVICE_CPU] = cpu_mask_grad}, .grad = mask_grad_grad,
    .flags = CT__OP_NATIVE_HALF};

static ct_status mask_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct_tensor *t = c->in[0];
    mask_attrs a = *(const mask_attrs *)c->attrs;
    a.rank = t->rank;
    memcpy(a.shape, t->shape, sizeof a.shape);
    const ct_tensor *in[2] = {dy[0], c->in[1]};
    dx[0] = ct__run1(&op_boolean_mask_grad, "BooleanMaskGrad", 2, in, &a, sizeof a);
    dx[1] = NULL;
    return dx[0] ? CT_OK : ct_last_status();
}

static ct_status mask_grad_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const mask_attrs *a = c->attrs;
    dx[0] = ct_boolean_mask(dy[0], c->in[1], a->axis);
    dx[1] = NULL;
    return dx[0] ? CT_OK : ct_last_status();
}

ct_tensor *ct_boolean_mask(const ct_tensor *t, const ct_tensor *mask, int axis) {
    mask_attrs a = {.axis = axis};
    const ct_tensor *in[2] = {t, mask};
    return ct__run1(&op_boolean_mask, "ct_boolean_mask", 2, in, &a, sizeof a);
}

/* ---- Where (coordinates) ---------------------------------------------------- */

static ct_status infer_where(ct__call *c) {
    const ct_tensor *cond = c->in[0];
    bool *v;
    int64_t count;
    ct_status st = read_mask(c, cond, &v, &count);
    if (st) return st;
    free(v);
    int64_t shape[2] = {count, cond->rank};
    ct__spec_set(&c->spec[0], CT_INT64, 2, shape);
    return CT_OK;
}

static ct_status cpu_where(ct__call *c) {
    const ct_tensor *cond = c->in[0];
    ct_tensor *o = c->out[0];
    bool *v;
    int64_t count;
    ct_status st = read_mask(c, cond, &v, &count);
    if (st) return st;
    int r = cond->rank;
    int64_t idx[CT_MAX_RANK] = {0}, *out = ct__data(o), j = 0;
    for (int64_t i = 0; i < cond->size && j < o->shape[0]; i++) {
        if (v[i]) {
            for (int d = 0; d < r; d++) out[j * r + d] = idx[d];
            j++;
        }
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < cond->shape[d]) break;
            idx[d] = 0;
        }
    }
    free(v);
    return CT_OK;
}

static const ct__op op_where = {
    .name = "Where", .infer = infer_where, .kernel = {[CT_DEVICE_CPU] = cpu_where},
    .flags = CT__OP_NATIVE_HALF | CT__OP_NOT_DIFFERENTIABLE};

ct_tensor *ct_where_coords(const ct_tensor *cond) {
    return ct__run1(&op_where, "ct_where_coords", 1, &cond, NULL, 0);
}
