/*
 * tf.scatter_nd, tf.tensor_scatter_nd_update and tf.tensor_scatter_nd_add.
 *
 * Shape legend: the output is viewed as [B, P..., S] (batch axes, the K axes
 * an index tuple addresses, the slice each tuple selects), indices as
 * [B, N, K] and updates as [B, N, S]. Row n of updates goes to the slice
 * indices[n] selects: added (ScatterNd into zeros, TensorScatterAdd) or
 * written (TensorScatterUpdate; with duplicate indices the last row wins,
 * as TF's CPU kernel). Batch axes (B) are only used internally, by the
 * gradient of gather_nd with batch_dims.
 */
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "ops/index.h"

enum { SCATTER_NEW = 0, SCATTER_UPDATE, SCATTER_ADD };

typedef struct {
    int batch_dims;
    int rank;                   /* ScatterNd: the output shape */
    int64_t shape[CT_MAX_RANK];
} scatter_attrs;

static int64_t prod(const int64_t *s, int from, int to) {
    int64_t n = 1;
    for (int i = from; i < to; i++) n *= s[i];
    return n;
}

/* The inputs by role, whichever op this is. */
static void roles(const ct__call *c, const ct_tensor **tensor, const ct_tensor **indices,
                  const ct_tensor **updates) {
    bool new = c->op->code == SCATTER_NEW;
    *tensor = new ? NULL : c->in[0];
    *indices = c->in[new ? 0 : 1];
    *updates = c->in[new ? 1 : 2];
}

static ct_status infer_scatter(ct__call *c) {
    const scatter_attrs *a = c->attrs;
    const ct_tensor *tensor, *indices, *updates;
    roles(c, &tensor, &indices, &updates);
    int orank = tensor ? tensor->rank : a->rank, bd = a->batch_dims, ir = indices->rank;
    const int64_t *oshape = tensor ? tensor->shape : a->shape;
    if (indices->dtype != CT_INT32 && indices->dtype != CT_INT64)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "indices must be int32 or int64, got %s", CT__DESC(indices));
    if (tensor && tensor->dtype != updates->dtype)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "tensor %s and updates %s have different dtypes",
                              CT__DESC(tensor), CT__DESC(updates));
    if (orank < 0 || orank > CT_MAX_RANK)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "rank %d is outside [0, %d]", orank,
                              CT_MAX_RANK);
    for (int i = 0; i < orank; i++)
        if (oshape[i] < 0)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "negative dimension in shape %s", CT__SHAPE(orank, oshape));
    if (orank < 1)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "Output must be at least 1-D, got shape %s",
                              CT__SHAPE(orank, oshape));
    if (ir < 1)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "indices must have rank at least one, got %s", CT__DESC(indices));
    if (bd < 0 || bd >= ir || bd > orank)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "batch_dims %d does not fit indices %s and shape %s", bd,
                              CT__DESC(indices), CT__SHAPE(orank, oshape));
    int64_t K = indices->shape[ir - 1];
    if (K > orank - bd)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "index innermost dimension length must be <= output rank; saw: "
                              "%lld vs. %d (indices %s, shape %s)", (long long)K, orank - bd,
                              CT__DESC(indices), CT__SHAPE(orank, oshape));
    int64_t want[2 * CT_MAX_RANK];
    int wr = 0;
    for (int i = 0; i < ir - 1; i++) want[wr++] = indices->shape[i];
    for (int i = bd + (int)K; i < orank; i++) want[wr++] = oshape[i];
    bool ok = wr == updates->rank;
    for (int i = 0; ok && i < wr; i++) ok = want[i] == updates->shape[i];
    for (int i = 0; ok && i < bd; i++) ok = indices->shape[i] == oshape[i];
    if (!ok)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "updates must have shape indices.shape[:-1] + shape[%lld:] = %s "
                              "(indices %s, shape %s), got %s", (long long)(bd + K),
                              wr <= CT_MAX_RANK ? CT__SHAPE(wr, want) : "(rank > 8)",
                              CT__DESC(indices), CT__SHAPE(orank, oshape), CT__DESC(updates));
    ct__spec_set(&c->spec[0], updates->dtype, orank, oshape);
    return CT_OK;
}

/* d[0:n] += s[0:n] in dtype dt (integers wrap; bool is logical or). */
void ct__add_run(void *d, const void *s, int64_t n, ct_dtype dt) {
    switch (dt) {
    case CT_FLOAT32:
        for (int64_t i = 0; i < n; i++) ((float *)d)[i] += ((const float *)s)[i];
        break;
    case CT_FLOAT64:
        for (int64_t i = 0; i < n; i++) ((double *)d)[i] += ((const double *)s)[i];
        break;
    case CT_INT32:
        for (int64_t i = 0; i < n; i++) ((uint32_t *)d)[i] += ((const uint32_t *)s)[i];
        break;
    case CT_INT64:
        for (int64_t i = 0; i < n; i++) ((uint64_t *)d)[i] += ((const uint64_t *)s)[i];
        break;
    case CT_UINT8:
        for (int64_t i = 0; i < n; i++) ((uint8_t *)d)[i] += ((const uint8_t *)s)[i];
        break;
    case CT_BOOL:
        for (int64_t i = 0; i < n; i++) ((bool *)d)[i] |= ((const bool *)s)[i];
        break;
    default: break;
    }
}

static ct_status cpu_scatter(ct__call *c) {
    const scatter_attrs *a = c->attrs;
    const ct_tensor *tensor, *indices, *updates;
    roles(c, &tensor, &indices, &updates);
    ct_tensor *o = c->out[0];
    int bd = a->batch_dims, ir = indices->rank;
    int64_t K = indices->shape[ir - 1];
    int64_t rows = prod(indices->shape, 0, ir - 1), S = prod(o->shape, bd + (int)K, o->rank);
    int64_t *offs = malloc((size_t)(rows ? rows : 1) * sizeof *offs);
    if (!offs) return ct__call_error(c, CT_ERR_OUT_OF_MEMORY, "out of host memory");
    ct_status st = ct__nd_offsets(c, indices, bd, o->rank, o->shape, "shape", offs);
    if (st) {
        free(offs);
        return st;
    }
    if (tensor) memcpy(ct__data(o), ct__data(tensor), ct__nbytes(o));
    else memset(ct__data(o), 0, ct__nbytes(o));
    size_t es = ct_dtype_size(o->dtype);
    const char *src = ct__data(updates);
    char *dst = ct__data(o);
    bool add = c->op->code != SCATTER_UPDATE;
    /* Rows may repeat an index, so they run in order; threads split the
     * columns of each slice when slices are wide. */
    int nt = S >= 4096 ? ct__threads_for(rows * S, 1) : 1;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int t = omp_get_thread_num(), k = omp_get_num_threads();
        int64_t c0 = S * t / k, c1 = S * (t + 1) / k;
        for (int64_t j = 0; j < rows && c1 > c0; j++) {
            char *d = dst + (offs[j] * S + c0) * (int64_t)es;
            const char *s = src + (j * S + c0) * (int64_t)es;
            if (add) ct__add_run(d, s, c1 - c0, o->dtype);
            else memcpy(d, s, (size_t)(c1 - c0) * es);
        }
    }
    free(offs);
    return CT_OK;
}

static ct_status scatter_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const scatter_attrs *a = c->attrs;
    const ct_tensor *tensor, *indices, *updates;
    roles(c, &tensor, &indices, &updates);
    int code = c->op->code;
    ct_tensor *du = ct_gather_nd(dy[0], indices, a->batch_dims);
    if (code == SCATTER_NEW) {
        dx[0] = NULL;
        dx[1] = du;
        return du ? CT_OK : ct_last_status();
    }
    dx[0] = code == SCATTER_ADD
                ? dy[0]
                : ct_tensor_scatter_nd_update(dy[0], indices, ct_zeros_like(updates));
    dx[1] = NULL;
    dx[2] = du;
    return dx[0] && dx[2] ? CT_OK : ct_last_status();
}

static const ct__op op_scatter_nd = {
    .name = "ScatterNd", .infer = infer_scatter, .kernel = {[CT_DEVICE_CPU] = cpu_scatter},
    .grad = scatter_grad, .code = SCATTER_NEW};
static const ct__op op_tensor_scatter_update = {
    .name = "TensorScatterUpdate", .infer = infer_scatter,
    .kernel = {[CT_DEVICE_CPU] = cpu_scatter}, .grad = scatter_grad,
    .flags = CT__OP_NATIVE_HALF, .code = SCATTER_UPDATE};
static const ct__op op_tensor_scatter_add = {
    .name = "TensorScatterAdd", .infer = infer_scatter,
    .kernel = {[CT_DEVICE_CPU] = cpu_scatter}, .grad = scatter_grad, .code = SCATTER_ADD};

ct_tensor *ct__scatter_nd_batch(const ct_tensor *indices, const ct_tensor *updates,
                                int batch_dims, int rank, const int64_t *shape) {
    scatter_attrs a = {.batch_dims = batch_dims, .rank = rank};
    if (rank > 0 && !shape) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_scatter_nd: rank %d with a NULL shape", rank);
        return NULL;
    }
    if (rank > 0 && rank <= CT_MAX_RANK) memcpy(a.shape, shape, (size_t)rank * sizeof *shape);
    const ct_tensor *in[2] = {indices, updates};
    return ct__run1(&op_scatter_nd, "ct_scatter_nd", 2, in, &a, sizeof a);
}

/* TF's scatter kernels refuse an empty batch shape: one index tuple with
 * a scalar update must be written as indices [1, depth], updates [1]. (The
 * internal gradient uses of the op may pass scalars.) */
static bool scalar_updates(const char *api, const ct_tensor *indices, const ct_tensor *updates) {
    if (!indices || !updates || updates->rank >= 1) return false;
    ct__error(CT_ERR_INVALID_ARGUMENT,
              "%s: Updates shape must have rank at least one, got %s (indices %s): the batch "
              "shape cannot be empty", api, CT__DESC(updates), CT__DESC(indices));
    return true;
}

ct_tensor *ct_scatter_nd(const ct_tensor *indices, const ct_tensor *updates, int rank,
                         const int64_t *shape) {
    if (scalar_updates("ct_scatter_nd", indices, updates)) return NULL;
    return ct__scatter_nd_batch(indices, updates, 0, rank, shape);
}

ct_tensor *ct_tensor_scatter_nd_update(const ct_tensor *t, const ct_tensor *indices,
                                       const ct_tensor *updates) {
    if (scalar_updates("ct_tensor_scatter_nd_update", indices, updates)) return NULL;
    scatter_attrs a = {0};
    const ct_tensor *in[3] = {t, indices, updates};
    return ct__run1(&op_tensor_scatter_update, "ct_tensor_scatter_nd_update", 3, in, &a,
                    sizeof a);
}

ct_tensor *ct_tensor_scatter_nd_add(const ct_tensor *t, const ct_tensor *indices,
                                    const ct_tensor *updates) {
    if (scalar_updates("ct_tensor_scatter_nd_add", indices, updates)) return NULL;
    scatter_attrs a = {0};
    const ct_tensor *in[3] = {t, indices, updates};
    return ct__run1(&op_tensor_scatter_add, "ct_tensor_scatter_nd_add", 3, in, &a, sizeof a);
}
