/* tf.broadcast_to: a strided copy with zero strides on broadcast axes. */
#include <string.h>

#include "ops/elementwise.h"

typedef struct {
    int rank;
    int64_t shape[CT_MAX_RANK];
} bcast_attrs;

static ct_status infer_broadcast_to(ct__call *c) {
    const bcast_attrs *a = c->attrs;
    const ct_tensor *t = c->in[0];
    if (a->rank < 0 || a->rank > CT_MAX_RANK)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "rank %d is outside [0, %d]", a->rank,
                              CT_MAX_RANK);
    bool ok = a->rank >= t->rank;
    for (int i = 0; ok && i < t->rank; i++) {
        int64_t d = t->shape[i], s = a->shape[a->rank - t->rank + i];
        ok = d == s || d == 1;
    }
    for (int i = 0; ok && i < a->rank; i++) ok = a->shape[i] >= 0;
    if (!ok)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "cannot broadcast %s to shape %s",
                              CT__DESC(t), CT__SHAPE(a->rank, a->shape));
    ct__spec_set(&c->spec[0], t->dtype, a->rank, a->shape);
    return CT_OK;
}

#define COPY_LOOP(T)                                                                       \
    do {                                                                                   \
        const T *src = ct__data(t);                                                        \
        T *dst = ct__data(o);                                                              \
        int r = p.rank;                                                                    \
        int64_t inner = p.shape[r - 1], s = p.sa[r - 1], idx[CT_MAX_RANK] = {0}, off = 0;  \
        for (int64_t pos = 0; pos < p.total; pos += inner) {                               \
            if (s) memcpy(dst + pos, src + off, (size_t)inner * sizeof(T));                \
            else                                                                           \
                for (int64_t i = 0; i < inner; i++) dst[pos + i] = src[off];               \
            for (int d = r - 2; d >= 0; d--) {                                             \
                idx[d]++;                                                                  \
                off += p.sa[d];                                                            \
                if (idx[d] < p.shape[d]) break;                                            \
                off -= idx[d] * p.sa[d];                                                   \
                idx[d] = 0;                                                                \
            }                                                                              \
        }                                                                                  \
    } while (0)

static ct_status cpu_broadcast_to(ct__call *c) {
    ct_tensor *t = c->in[0], *o = c->out[0];
    if (o->size == 0) return CT_OK;
    ct__bplan p;
    ct__bplan_make(&p, t, t, o);
    switch (ct_dtype_size(t->dtype)) {
    case 1: COPY_LOOP(uint8_t); break;
    case 2: COPY_LOOP(uint16_t); break;
    case 4: COPY_LOOP(uint32_t); break;
    default: COPY_LOOP(uint64_t); break;
    }
    return CT_OK;
}

static ct_status broadcast_to_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    dx[0] = ct__unbroadcast(dy[0], c->in[0]->rank, c->in[0]->shape);
    return dx[0] ? CT_OK : ct_last_status();
}

const ct__op ct__op_broadcast_to = {.name = "BroadcastTo", .infer = infer_broadcast_to,
                                    .kernel = {[CT_DEVICE_CPU] = cpu_broadcast_to},
                                    .grad = broadcast_to_grad, .flags = CT__OP_NATIVE_HALF};

ct_tensor *ct_broadcast_to(const ct_tensor *t, int rank, const int64_t *shape) {
    bcast_attrs a = {.rank = rank};
    if (rank > 0 && !shape) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_broadcast_to: rank %d with a NULL shape", rank);
        return NULL;
    }
    if (rank > 0 && rank <= CT_MAX_RANK) memcpy(a.shape, shape, (size_t)rank * sizeof *shape);
    if (t && t->rank == rank && !memcmp(t->shape, a.shape, (size_t)rank * sizeof *shape))
        return ct_identity(t);
    return ct__run1(&ct__op_broadcast_to, "ct_broadcast_to", 1, &t, &a, sizeof a);
}
