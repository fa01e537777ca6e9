/*
 * More of tf.math / tf.linalg that users of the low-level API reach for:
 * add_n (the AddN op), the clipping composites TF writes in Python
 * (clip_ops.py: clip_by_norm, global_norm, clip_by_global_norm), the
 * eigenvalue-only wrappers over eigh / eig, and tf.shape / size / rank.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "ops/op.h"

/* A rank-0 tensor of dtype on like's device. */
static ct_tensor *scalar_like(const ct_tensor *like, ct_dtype dtype, double v) {
    ct_device_scope_begin(like->storage->dev);
    ct_tensor *s = ct_scalar_of(dtype, v);
    ct_device_scope_end();
    return s;
}

/* NULL input: keep the error that made it, else name the function. */
static bool need_input(const char *api, const ct_tensor *t) {
    if (t) return true;
    if (!ct_last_status()) ct__error(CT_ERR_INVALID_ARGUMENT, "%s: input is NULL", api);
    return false;
}

/* ---- AddN ---------------------------------------------------------------------- */

static ct_status infer_add_n(ct__call *c) {
    const ct_tensor *t0 = c->in[0];
    ct_status st = ct__need_numeric(c, t0);
    if (st) return st;
    for (int i = 1; i < c->n_in; i++) {
        const ct_tensor *t = c->in[i];
        if (t->dtype != t0->dtype)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "inputs have different dtypes: input 0 is %s, input %d is %s",
                                  CT__DESC(t0), i, CT__DESC(t));
        bool same = t->rank == t0->rank;
        for (int d = 0; same && d < t->rank; d++) same = t->shape[d] == t0->shape[d];
        if (!same)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "inputs must have the same shape (no broadcasting): input 0 "
                                  "is %s, input %d is %s", CT__DESC(t0), i, CT__DESC(t));
    }
    ct__spec_set(&c->spec[0], t0->dtype, t0->rank, t0->shape);
    return CT_OK;
}

/* Blocks of ADDN_BLOCK elements: each block adds every input into the
 * output while it is in L1, in contiguous loops the compiler vectorises. */
#define ADDN_BLOCK 2048

static ct_status cpu_add_n(ct__call *c) {
    ct_tensor *o = c->out[0];
    int n = c->n_in;
    int64_t size = o->size, nblocks = (size + ADDN_BLOCK - 1) / ADDN_BLOCK;
    int nt = ct__threads_for(size * n, 1);
    CT__SWITCH_NUMERIC(o->dtype, {
        T *y = ct__data(o);
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")
        for (int64_t b = 0; b < nblocks; b++) {
            int64_t lo = b * ADDN_BLOCK, hi = lo + ADDN_BLOCK < size ? lo + ADDN_BLOCK : size;
            const T *x0 = ct__data(c->in[0]);
            if (n == 1) {
                for (int64_t i = lo; i < hi; i++) y[i] = x0[i];
                continue;
            }
            const T *x1 = ct__data(c->in[1]);
            for (int64_t i = lo; i < hi; i++) y[i] = (T)(x0[i] + x1[i]);
            for (int k = 2; k < n; k++) {
                const T *xk = ct__data(c->in[k]);
                for (int64_t i = lo; i < hi; i++) y[i] = (T)(y[i] + xk[i]);
            }
        }
    })
    return CT_OK;
}

static ct_status add_n_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    for (int i = 0; i < c->n_in; i++) dx[i] = dy[0];
    return ct__grad_status(dx, c->n_in);
}

static const ct__op op_add_n = {.name = "AddN", .infer = infer_add_n,
                                .kernel = {[CT_DEVICE_CPU] = cpu_add_n}, .grad = add_n_grad};

/* Sums ts[0..n) left to right with AddN calls of at most CT__MAX_IO inputs
 * each (the running total is the first input of the next call). */
static ct_tensor *add_n_run(const char *api, int n, ct_tensor *const *ts) {
    if (n <= CT__MAX_IO) return ct__run1(&op_add_n, api, n, (const ct_tensor *const *)ts, NULL, 0);
    const ct_tensor *buf[CT__MAX_IO];
    ct_tensor *total = NULL;
    for (int i = 0; i < n;) {
        int k = 0;
        if (total) buf[k++] = total;
        while (k < CT__MAX_IO && i < n) buf[k++] = ts[i++];
        total = ct__run1(&op_add_n, api, k, buf, NULL, 0);
        if (!total) return NULL;
    }
    return total;
}

ct_tensor *ct_add_n(int n, ct_tensor *const *ts) {
    const char *api = "ct_add_n";
    if (n < 1 || !ts) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s: inputs must be a list of at least one tensor with the same dtype and "
                  "shape, got %d", api, n);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!need_input(api, ts[i])) return NULL;
    /* TF's add_n returns a single input as it is, without checks. */
    if (n == 1) return ct_identity(ts[0]);
    if (n <= CT__MAX_IO) return add_n_run(api, n, ts);
    /* Check all inputs before the grouped sum, so the message names the
     * input that differs and no partial sums are left behind. */
    for (int i = 1; i < n; i++) {
        bool same = ts[i]->dtype == ts[0]->dtype && ts[i]->rank == ts[0]->rank;
        for (int d = 0; same && d < ts[i]->rank; d++) same = ts[i]->shape[d] == ts[0]->shape[d];
        if (!same) {
            ct__error(CT_ERR_INVALID_ARGUMENT,
                      "%s: inputs must have the same dtype and shape (no broadcasting): input "
                      "0 is %s, input %d is %s", api, CT__DESC(ts[0]), i, CT__DESC(ts[i]));
            return NULL;
        }
    }
    ct_scope_begin();
    ct_tensor *r = ct_keep(add_n_run(api, n, ts));
    ct_scope_end();
    return r;
}

/* ---- clipping (clip_ops.py) ------------------------------------------------------ */

/* tf.clip_by_norm as TF writes it: the two-tap where keeps the gradient
 * finite for an all-zero slice (l2norm is then 0 and the input passes
 * through). A negative clip_norm is taken as 0. */
ct_tensor *ct_clip_by_norm(const ct_tensor *t, double clip_norm, const int *axes, int naxes) {
    const char *api = "ct_clip_by_norm";
    if (!need_input(api, t)) return NULL;
    ct__call c = {.api = api};
    unsigned mask;
    if (ct__need_float(&c, t) || ct__axes_mask(&c, axes, naxes, t->rank, &mask)) return NULL;
    if (clip_norm < 0) clip_norm = 0;
    ct_scope_begin();
    ct_tensor *cn = scalar_like(t, t->dtype, clip_norm);
    ct_tensor *l2sum = ct_reduce_sum(ct_multiply(t, t), axes, naxes, true);
    ct_tensor *pred = ct_greater(l2sum, ct_zeros_like(l2sum));
    ct_tensor *safe = ct_where(pred, l2sum, ct_ones_like(l2sum));
    ct_tensor *l2norm = ct_where(pred, ct_sqrt(safe), l2sum);
    ct_tensor *r = ct_keep(ct_divide(ct_multiply(t, cn), ct_maximum(l2norm, cn)));
    ct_scope_end();
    return r;
}

/* tf.linalg.global_norm: sqrt(2 * sum of l2_loss(t)), l2_loss(t) being
 * sum(t^2) / 2. NULL entries are skipped (TF's None). */
static ct_tensor *global_norm(const char *api, int n, ct_tensor *const *ts) {
    if (n < 0 || (n > 0 && !ts)) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %d tensors with a NULL list", api, n);
        return NULL;
    }
    const ct_tensor *first = NULL;
    int count = 0;
    for (int i = 0; i < n; i++) {
        const ct_tensor *t = ts[i];
        if (!t) continue;
        ct__call c = {.api = api};
        if (ct__need_float(&c, t)) return NULL;
        if (first && t->dtype != first->dtype) {
            ct__error(CT_ERR_INVALID_ARGUMENT,
                      "%s: all tensors must have one dtype (TF stacks their l2 losses): "
                      "tensor 0 is %s, tensor %d is %s", api, CT__DESC(first), i, CT__DESC(t));
            return NULL;
        }
        if (!first) first = t;
        count++;
    }
    if (!count) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: no tensors (all %d entries are NULL)", api, n);
        return NULL;
    }
    ct_tensor **halves = malloc((size_t)count * sizeof *halves);
    if (!halves) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
        return NULL;
    }
    ct_tensor *half = scalar_like(first, first->dtype, 0.5), *total = NULL;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!ts[i]) continue;
        halves[k] = ct_multiply(ct_reduce_sum(ct_square(ts[i]), CT_ALL, false), half);
        if (!halves[k++]) goto out;
    }
    total = k == 1 ? halves[0] : add_n_run(api, k, halves);
out:
    free(halves);
    return total ? ct_sqrt(ct_multiply(total, scalar_like(first, first->dtype, 2.0))) : NULL;
}

ct_tensor *ct_global_norm(int n, ct_tensor *const *ts) {
    ct_scope_begin();
    ct_tensor *r = ct_keep(global_norm("ct_global_norm", n, ts));
    ct_scope_end();
    return r;
}

ct_status ct_clip_by_global_norm(int n, ct_tensor *const *ts, double clip_norm, ct_tensor **out,
                                 ct_tensor **global_norm_out) {
    const char *api = "ct_clip_by_global_norm";
    if (global_norm_out) *global_norm_out = NULL;
    if (n > 0 && !out)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: out must not be NULL", api);
    for (int i = 0; i < n; i++) out[i] = NULL;
    ct_scope_begin();
    ct_tensor *norm = global_norm(api, n, ts);
    ct_tensor *scale = NULL;
    if (norm) {
        /* scale = clip_norm * min(1 / norm, 1 / clip_norm), plus (norm - norm)
         * so an inf or NaN norm makes every output NaN, as TF. */
        ct_tensor *one = scalar_like(norm, norm->dtype, 1.0);
        ct_tensor *cn = scalar_like(norm, norm->dtype, clip_norm);
        scale = ct_add(ct_multiply(cn, ct_minimum(ct_divide(one, norm), ct_divide(one, cn))),
                       ct_subtract(norm, norm));
    }
    ct_status st = scale ? CT_OK : ct_last_status();
    for (int i = 0; i < n && !st; i++) {
        if (!ts[i]) continue;
        out[i] = ct_multiply(ts[i], ct_cast(scale, ts[i]->dtype));
        if (!out[i]) st = ct_last_status();
    }
    if (!st) {
        for (int i = 0; i < n; i++) ct_keep(out[i]);
        if (global_norm_out) *global_norm_out = ct_keep(norm);
    } else {
        for (int i = 0; i < n; i++) out[i] = NULL;
    }
    ct_scope_end();
    return st;
}

/* ---- eigenvalues only ------------------------------------------------------------- */

static bool need_square_float(const char *api, const ct_tensor *t) {
    if (!need_input(api, t)) return false;
    ct__call c = {.api = api};
    if (ct__need_float(&c, t)) return false;
    if (t->rank < 2 || t->shape[t->rank - 1] != t->shape[t->rank - 2]) {
        ct__call_error(&c, CT_ERR_INVALID_ARGUMENT,
                       "expected a (batch of) square matrices of rank >= 2, got %s", CT__DESC(t));
        return false;
    }
    return true;
}

/* tf.linalg.eigvalsh: the eigenvalues of ct_eigh, whose gradient they
 * carry (the eigenvectors are computed, as TF's gradient needs them). */
ct_tensor *ct_eigvalsh(const ct_tensor *t) {
    if (!need_square_float("ct_eigvalsh", t)) return NULL;
    ct_tensor *e = NULL, *v = NULL;
    if (ct_eigh(t, &e, &v)) return NULL;
    ct_tensor_free(v);
    return e;
}

ct_status ct_eigvals(const ct_tensor *t, ct_tensor **re, ct_tensor **im) {
    const char *api = "ct_eigvals";
    if (re) *re = NULL;
    if (im) *im = NULL;
    if (!re || !im) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: re and im must not be NULL", api);
    if (!need_square_float(api, t)) return ct_last_status();
    ct_tensor *vr = NULL, *vi = NULL;
    ct_status st = ct_eig(t, re, im, &vr, &vi);
    ct_tensor_free(vr);
    ct_tensor_free(vi);
    return st;
}

/* ---- tf.shape / tf.size / tf.rank --------------------------------------------------- */

/* An int32 tensor of the given values on t's device; values over int32's
 * range are an error (TF's out_type=int32). */
static ct_tensor *int32_tensor(const char *api, const ct_tensor *t, int rank, const int64_t *v,
                               int n) {
    int32_t buf[CT_MAX_RANK > 1 ? CT_MAX_RANK : 1];
    for (int i = 0; i < n; i++) {
        if (v[i] > INT32_MAX) {
            ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %s has a value %lld too large for int32",
                      api, CT__DESC(t), (long long)v[i]);
            return NULL;
        }
        buf[i] = (int32_t)v[i];
    }
    int64_t shape[1] = {n};
    ct_device_scope_begin(t->storage->dev);
    ct_tensor *r = ct_constant(buf, CT_INT32, rank, shape);
    ct_device_scope_end();
    return r;
}

ct_tensor *ct_shape_tensor(const ct_tensor *t) {
    if (!need_input("ct_shape_tensor", t)) return NULL;
    return int32_tensor("ct_shape_tensor", t, 1, t->shape, t->rank);
}

ct_tensor *ct_size_tensor(const ct_tensor *t) {
    if (!need_input("ct_size_tensor", t)) return NULL;
    return int32_tensor("ct_size_tensor", t, 0, &t->size, 1);
}

ct_tensor *ct_rank_tensor(const ct_tensor *t) {
    if (!need_input("ct_rank_tensor", t)) return NULL;
    int64_t r = t->rank;
    return int32_tensor("ct_rank_tensor", t, 0, &r, 1);
}
