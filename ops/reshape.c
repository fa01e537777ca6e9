/* The reshape family: views that share their input's storage. */
#include <string.h>

#include "ops/op.h"

typedef struct {
    int rank;
    int64_t shape[CT_MAX_RANK];
} shape_attrs;

static ct_status infer_reshape(ct__call *c) {
    const shape_attrs *a = c->attrs;
    const ct_tensor *t = c->in[0];
    if (a->rank < 0 || a->rank > CT_MAX_RANK)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "rank %d is outside [0, %d]", a->rank,
                              CT_MAX_RANK);
    int64_t shape[CT_MAX_RANK], known = 1;
    int infer_at = -1;
    for (int i = 0; i < a->rank; i++) {
        shape[i] = a->shape[i];
        if (shape[i] == -1 && infer_at < 0) infer_at = i;
        else if (shape[i] < 0)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "shape %s may have one -1 and no other negative dimension",
                                  CT__SHAPE(a->rank, a->shape));
        else known *= shape[i];
    }
    if (infer_at >= 0) {
        if (known == 0 || t->size % known)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "cannot reshape %s (%lld elements) to %s", CT__DESC(t),
                                  (long long)t->size, CT__SHAPE(a->rank, a->shape));
        shape[infer_at] = t->size / known;
        known *= shape[infer_at];
    }
    if (known != t->size)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "cannot reshape %s (%lld elements) to %s (%lld elements)",
                              CT__DESC(t), (long long)t->size, CT__SHAPE(a->rank, a->shape),
                              (long long)known);
    ct__spec_set(&c->spec[0], t->dtype, a->rank, shape);
    c->spec[0].alias = 0;
    return CT_OK;
}

static ct_status reshape_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    dx[0] = ct_reshape(dy[0], c->in[0]->rank, c->in[0]->shape);
    return dx[0] ? CT_OK : ct_last_status();
}

const ct__op ct__op_reshape = {.name = "Reshape", .infer = infer_reshape, .grad = reshape_grad,
                               .flags = CT__OP_NATIVE_HALF};

ct_tensor *ct_reshape(const ct_tensor *t, int rank, const int64_t *shape) {
    shape_attrs a = {.rank = rank};
    if (rank > 0 && !shape) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_reshape: rank %d with a NULL shape", rank);
        return NULL;
    }
    if (rank > 0 && rank <= CT_MAX_RANK) memcpy(a.shape, shape, (size_t)rank * sizeof *shape);
    return ct__run1(&ct__op_reshape, "ct_reshape", 1, &t, &a, sizeof a);
}

/* squeeze and expand_dims compute the new shape here and run Reshape, so
 * they share its gradient; errors still name the public function. */
ct_tensor *ct_squeeze(const ct_tensor *t, const int *axes, int naxes) {
    if (!t) return ct_reshape(t, 0, NULL);
    ct__call c = {.api = "ct_squeeze"};
    unsigned mask = 0;
    bool all = !axes || naxes <= 0; /* TF: axis=[] squeezes every size-1 axis */
    if (!all && ct__axes_mask(&c, axes, naxes, t->rank, &mask)) return NULL;
    shape_attrs a = {0};
    for (int i = 0; i < t->rank; i++) {
        bool drop = all ? t->shape[i] == 1 : (mask >> i) & 1;
        if (drop && t->shape[i] != 1) {
            ct__call_error(&c, CT_ERR_INVALID_ARGUMENT,
                           "cannot squeeze axis %d of %s: its size is %lld, not 1", i,
                           CT__DESC(t), (long long)t->shape[i]);
            return NULL;
        }
        if (!drop) a.shape[a.rank++] = t->shape[i];
    }
    return ct__run1(&ct__op_reshape, "ct_squeeze", 1, &t, &a, sizeof a);
}

ct_tensor *ct_expand_dims(const ct_tensor *t, int axis) {
    if (!t) return ct_reshape(t, 0, NULL);
    ct__call c = {.api = "ct_expand_dims"};
    int ax;
    if (ct__axis(&c, axis, t->rank + 1, &ax)) return NULL;
    if (t->rank == CT_MAX_RANK) {
        ct__call_error(&c, CT_ERR_INVALID_ARGUMENT, "%s already has the maximum rank %d",
                       CT__DESC(t), CT_MAX_RANK);
        return NULL;
    }
    shape_attrs a = {.rank = t->rank + 1};
    for (int i = 0, j = 0; i < a.rank; i++) a.shape[i] = i == ax ? 1 : t->shape[j++];
    return ct__run1(&ct__op_reshape, "ct_expand_dims", 1, &t, &a, sizeof a);
}
