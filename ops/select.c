/* tf.where(cond, x, y) (SelectV2): elementwise choice with broadcasting. */
#include "ops/op.h"

static ct_status infer_select(ct__call *c) {
    const ct_tensor *cond = c->in[0], *x = c->in[1], *y = c->in[2];
    if (cond->dtype != CT_BOOL)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "condition must be bool, got %s",
                              CT__DESC(cond));
    ct_status st = ct__need_same_dtype(c, x, y);
    int r1, r2;
    int64_t s1[CT_MAX_RANK], s2[CT_MAX_RANK];
    if (!st) st = ct__broadcast_shapes(c, x->rank, x->shape, y->rank, y->shape, &r1, s1);
    if (!st) st = ct__broadcast_shapes(c, cond->rank, cond->shape, r1, s1, &r2, s2);
    if (!st) ct__spec_set(&c->spec[0], x->dtype, r2, s2);
    return st;
}

static ct_status cpu_select(ct__call *c) {
    ct_tensor *cond = c->in[0], *x = c->in[1], *y = c->in[2], *o = c->out[0];
    int r = o->rank;
    int64_t sc[CT_MAX_RANK], sx[CT_MAX_RANK], sy[CT_MAX_RANK], idx[CT_MAX_RANK] = {0};
    ct__broadcast_strides(cond->rank, cond->shape, r, o->shape, sc);
    ct__broadcast_strides(x->rank, x->shape, r, o->shape, sx);
    ct__broadcast_strides(y->rank, y->shape, r, o->shape, sy);
    const bool *pc = ct__data(cond);
    size_t es = ct_dtype_size(o->dtype);
    const char *px = ct__data(x), *py = ct__data(y);
    char *po = ct__data(o);
    int64_t oc = 0, ox = 0, oy = 0;
    for (int64_t i = 0; i < o->size; i++) {
        const char *src = pc[oc] ? px + (size_t)ox * es : py + (size_t)oy * es;
        switch (es) {
        case 1: po[i] = *src; break;
        case 2: ((uint16_t *)po)[i] = *(const uint16_t *)src; break;
        case 4: ((uint32_t *)po)[i] = *(const uint32_t *)src; break;
        default: ((uint64_t *)po)[i] = *(const uint64_t *)src; break;
        }
        for (int d = r - 1; d >= 0; d--) {
            idx[d]++;
            oc += sc[d];
            ox += sx[d];
            oy += sy[d];
            if (idx[d] < o->shape[d]) break;
            oc -= idx[d] * sc[d];
            ox -= idx[d] * sx[d];
            oy -= idx[d] * sy[d];
            idx[d] = 0;
        }
    }
    return CT_OK;
}

static ct_status select_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct_tensor *x = c->in[1], *y = c->in[2];
    ct_tensor *zero = ct_zeros_like(dy[0]);
    dx[0] = NULL;
    dx[1] = ct__unbroadcast(ct_where(c->in[0], dy[0], zero), x->rank, x->shape);
    dx[2] = ct__unbroadcast(ct_where(c->in[0], zero, dy[0]), y->rank, y->shape);
    return dx[1] && dx[2] ? CT_OK : ct_last_status();
}

const ct__op ct__op_select = {.name = "SelectV2", .infer = infer_select,
                              .kernel = {[CT_DEVICE_CPU] = cpu_select}, .grad = select_grad,
                              .flags = CT__OP_NATIVE_HALF};

ct_tensor *ct_where(const ct_tensor *cond, const ct_tensor *x, const ct_tensor *y) {
    const ct_tensor *in[3] = {cond, x, y};
    return ct__run1(&ct__op_select, "ct_where", 3, in, NULL, 0);
}
