/*
 * tf.reverse (ReverseV2) along a set of axes. Size-1 axes are dropped and
 * neighbouring axes that are both reversed or both kept are merged (two
 * adjacent reversed axes reverse as one flat axis). Rows along the last
 * merged axis are then copied with memcpy, or backwards when that axis is
 * reversed. Copies are by element size, so every dtype is supported.
 */
#include <omp.h>
#include <string.h>

#include "ops/op.h"

typedef struct {
    unsigned mask; /* bit i: axis i is reversed */
} reverse_attrs;

typedef struct {
    int r;
    int64_t n[CT_MAX_RANK];
    bool rev[CT_MAX_RANK];
} rplan;

static void rplan_make(rplan *p, const ct_tensor *t, unsigned mask) {
    p->r = 0;
    for (int i = 0; i < t->rank; i++) {
        if (t->shape[i] == 1) continue;
        bool rv = (mask >> i) & 1;
        if (p->r > 0 && p->rev[p->r - 1] == rv) {
            p->n[p->r - 1] *= t->shape[i];
        } else {
            p->n[p->r] = t->shape[i];
            p->rev[p->r] = rv;
            p->r++;
        }
    }
}

static ct_status infer_reverse(ct__call *c) {
    const reverse_attrs *a = c->attrs;
    const ct_tensor *t = c->in[0];
    if (t->rank < CT_MAX_RANK && (a->mask >> t->rank))
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "axes out of range for %s",
                              CT__DESC(t));
    ct__spec_set(&c->spec[0], t->dtype, t->rank, t->shape);
    rplan p;
    rplan_make(&p, t, a->mask);
    bool any = false;
    for (int i = 0; i < p.r; i++) any |= p.rev[i];
    if (!any) c->spec[0].alias = 0; /* nothing moves */
    return CT_OK;
}

#define DEFINE_REV_ROWS(NAME, T)                                                           \
    static void NAME(const rplan *p, const void *vs, void *vd, int64_t k0, int64_t k1) {  \
        const T *src = vs;                                                                 \
        T *dst = vd;                                                                       \
        int r = p->r;                                                                      \
        int64_t w = p->n[r - 1], st[CT_MAX_RANK], idx[CT_MAX_RANK] = {0}, k = k0;          \
        st[r - 1] = w;                                                                     \
        for (int j = r - 2; j >= 0; j--) st[j] = st[j + 1] * p->n[j];                      \
        for (int j = r - 2; j >= 0; j--) idx[j] = k % p->n[j], k /= p->n[j];               \
        for (k = k0; k < k1; k++) {                                                        \
            int64_t off = 0;                                                               \
            for (int j = 0; j < r - 1; j++)                                                \
                off += (p->rev[j] ? p->n[j] - 1 - idx[j] : idx[j]) * st[j + 1];            \
            const T *sp = src + off;                                                       \
            T *dp = dst + k * w;                                                           \
            if (p->rev[r - 1])                                                             \
                for (int64_t q = 0; q < w; q++) dp[q] = sp[w - 1 - q];                     \
            else                                                                           \
                memcpy(dp, sp, (size_t)w * sizeof(T));                                     \
            for (int j = r - 2; j >= 0; j--) {                                             \
                if (++idx[j] < p->n[j]) break;                                             \
                idx[j] = 0;                                                                \
            }                                                                              \
        }                                                                                  \
    }
DEFINE_REV_ROWS(rev_rows_1, uint8_t)
DEFINE_REV_ROWS(rev_rows_2, uint16_t)
DEFINE_REV_ROWS(rev_rows_4, uint32_t)
DEFINE_REV_ROWS(rev_rows_8, uint64_t)

static ct_status cpu_reverse(ct__call *c) {
    const reverse_attrs *a = c->attrs;
    ct_tensor *t = c->in[0], *o = c->out[0];
    if (c->spec[0].alias >= 0 || o->size == 0) return CT_OK;
    rplan p;
    rplan_make(&p, t, a->mask);
    size_t es = ct_dtype_size(t->dtype);
    const void *src = ct__data(t);
    void *dst = ct__data(o);
    int64_t rows = o->size / p.n[p.r - 1];
    int nt = ct__threads_for(o->size, 1);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int th = omp_get_thread_num(), k = omp_get_num_threads();
        int64_t chunk = (rows + k - 1) / k, k0 = th * chunk;
        int64_t k1 = k0 + chunk < rows ? k0 + chunk : rows;
        if (k0 < k1) {
            switch (es) {
            case 1: rev_rows_1(&p, src, dst, k0, k1); break;
            case 2: rev_rows_2(&p, src, dst, k0, k1); break;
            case 4: rev_rows_4(&p, src, dst, k0, k1); break;
            default: rev_rows_8(&p, src, dst, k0, k1); break;
            }
        }
    }
    return CT_OK;
}

static ct_status reverse_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct_tensor *g = dy[0];
    dx[0] = ct__run1(c->op, "ct_reverse", 1, &g, c->attrs, c->attrs_size);
    return dx[0] ? CT_OK : ct_last_status();
}

const ct__op ct__op_reverse = {.name = "ReverseV2", .infer = infer_reverse,
                               .kernel = {[CT_DEVICE_CPU] = cpu_reverse}, .grad = reverse_grad,
                               .flags = CT__OP_NATIVE_HALF};

ct_tensor *ct_reverse(const ct_tensor *t, const int *axes, int naxes) {
    reverse_attrs a = {0};
    if (t) {
        ct__call c = {.api = "ct_reverse"};
        if (ct__axes_mask(&c, axes, naxes, t->rank, &a.mask)) return NULL;
    }
    return ct__run1(&ct__op_reverse, "ct_reverse", 1, &t, &a, sizeof a);
}
