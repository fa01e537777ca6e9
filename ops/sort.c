/* tf.sort, tf.argsort and tf.math.top_k: definitions, CPU kernels and
 * gradients, plus the two private ops their gradients are made of
 * (TakeAlongAxis and its transpose ScatterAlongAxis, each the other's
 * gradient, so higher-order gradients work).
 *
 * Order. TF sorts through top_k (ascending is top_k of the negated
 * values), so both directions are stable: equal elements keep their
 * original order, and top_k lists ties lower index first. TF's CPU
 * comparator leaves NaN unordered (its position is unspecified); ctrain
 * fixes it as the largest value, as numpy and PyTorch do: last in an
 * ascending sort, first in a descending sort and in top_k.
 *
 * Kernels sort (value, index) pairs with a bottom-up merge sort (insertion
 * sort for runs of 16), stable by construction. top_k with a small k keeps
 * the k best pairs in a sorted buffer instead of sorting the row. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/reduce.h"

typedef struct {
    int axis; /* normalised */
    bool descending;
} sort_attrs;

typedef struct {
    int64_t k;
    bool sorted;
} topk_attrs;

typedef struct {
    int axis;  /* normalised */
    int64_t n; /* ScatterAlongAxis: the output's size along axis */
} along_attrs;

#define RUN 16

/* Stable merge sort of n pairs; BEFORE(a, b) is the strict order. The
 * result ends in a (tmp is scratch of the same size). */
#define DEFINE_MSORT(NAME, P, BEFORE)                                                      \
    static void NAME(P *a, P *tmp, int64_t n) {                                            \
        for (int64_t s = 0; s < n; s += RUN) {                                             \
            int64_t e = s + RUN < n ? s + RUN : n;                                         \
            for (int64_t i = s + 1; i < e; i++) {                                          \
                P x = a[i];                                                                \
                int64_t j = i;                                                             \
                while (j > s && BEFORE(x, a[j - 1])) {                                     \
                    a[j] = a[j - 1];                                                       \
                    j--;                                                                   \
                }                                                                          \
                a[j] = x;                                                                  \
            }                                                                              \
        }                                                                                  \
        P *src = a, *dst = tmp;                                                            \
        for (int64_t w = RUN; w < n; w *= 2) {                                             \
            for (int64_t s = 0; s < n; s += 2 * w) {                                       \
                int64_t m = s + w < n ? s + w : n, e = s + 2 * w < n ? s + 2 * w : n;      \
                int64_t i = s, j = m, o = s;                                               \
                while (i < m && j < e) dst[o++] = BEFORE(src[j], src[i]) ? src[j++] : src[i++]; \
                while (i < m) dst[o++] = src[i++];                                         \
                while (j < e) dst[o++] = src[j++];                                         \
            }                                                                              \
            P *t = src;                                                                    \
            src = dst;                                                                     \
            dst = t;                                                                       \
        }                                                                                  \
        if (src != a) memcpy(a, src, (size_t)n * sizeof *a);                               \
    }

#define ISNAN_F(v) ((v) != (v))
#define ISNAN_I(v) false

/* Per type: the pair, ascending and descending orders and sorts, and the
 * top-k selection. NaN is the largest value. */
#define DEFINE_TYPE(SUF, T, ISNAN)                                                         \
    typedef struct {                                                                       \
        T v;                                                                               \
        int32_t i;                                                                         \
    } pair_##SUF;                                                                          \
    static inline bool asc_##SUF(pair_##SUF a, pair_##SUF b) {                             \
        return a.v < b.v || (ISNAN(b.v) && !ISNAN(a.v));                                   \
    }                                                                                      \
    static inline bool desc_##SUF(pair_##SUF a, pair_##SUF b) {                            \
        return a.v > b.v || (ISNAN(a.v) && !ISNAN(b.v));                                   \
    }                                                                                      \
    DEFINE_MSORT(msort_asc_##SUF, pair_##SUF, asc_##SUF)                                   \
    DEFINE_MSORT(msort_desc_##SUF, pair_##SUF, desc_##SUF)                                 \
    /* Sorts the lines of [K, N, I] along N. */                                            \
    static ct_status sort_##SUF(const T *x, T *y, int32_t *yi, int64_t K, int64_t N,       \
                                int64_t I, bool desc, int nt) {                            \
        int64_t lines = K * I;                                                             \
        bool oom = false;                                                                  \
        _Pragma("omp parallel num_threads(nt) if (nt > 1)")                                \
        {                                                                                  \
            pair_##SUF *buf = malloc((size_t)(2 * N + 1) * sizeof *buf);                   \
            if (!buf) {                                                                    \
                _Pragma("omp atomic write") oom = true;                                    \
            } else {                                                                       \
                _Pragma("omp for schedule(static)")                                        \
                for (int64_t l = 0; l < lines; l++) {                                      \
                    int64_t k = l / I, i = l % I, base = k * N * I + i;                    \
                    for (int64_t n = 0; n < N; n++) {                                      \
                        buf[n].v = x[base + n * I];                                        \
                        buf[n].i = (int32_t)n;                                             \
                    }                                                                      \
                    if (desc) msort_desc_##SUF(buf, buf + N, N);                           \
                    else msort_asc_##SUF(buf, buf + N, N);                                 \
                    for (int64_t n = 0; n < N; n++) {                                      \
                        y[base + n * I] = buf[n].v;                                        \
                        yi[base + n * I] = buf[n].i;                                       \
                    }                                                                      \
                }                                                                          \
                free(buf);                                                                 \
            }                                                                              \
        }                                                                                  \
        return oom ? CT_ERR_OUT_OF_MEMORY : CT_OK;                                         \
    }                                                                                      \
    /* The k largest of each of R rows of N, descending, ties by index. */                 \
    static ct_status topk_##SUF(const T *x, T *y, int32_t *yi, int64_t R, int64_t N,       \
                                int64_t k, int nt) {                                       \
        bool small = k <= 32 && k * 8 <= N;                                                \
        bool oom = false;                                                                  \
        _Pragma("omp parallel num_threads(nt) if (nt > 1)")                                \
        {                                                                                  \
            int64_t cap = small ? k + 1 : 2 * N + 1;                                       \
            pair_##SUF *buf = malloc((size_t)cap * sizeof *buf);                           \
            if (!buf) {                                                                    \
                _Pragma("omp atomic write") oom = true;                                    \
            } else {                                                                       \
                _Pragma("omp for schedule(static)")                                        \
                for (int64_t r = 0; r < R; r++) {                                          \
                    const T *p = x + r * N;                                                \
                    if (small) {                                                           \
                        int64_t have = 0;                                                  \
                        for (int64_t n = 0; n < N; n++) {                                  \
                            pair_##SUF e = {p[n], (int32_t)n};                             \
                            if (have == k && !desc_##SUF(e, buf[k - 1])) continue;         \
                            int64_t j = have < k ? have++ : k - 1;                         \
                            while (j > 0 && desc_##SUF(e, buf[j - 1])) {                   \
                                buf[j] = buf[j - 1];                                       \
                                j--;                                                       \
                            }                                                              \
                            buf[j] = e;                                                    \
                        }                                                                  \
                    } else {                                                               \
                        for (int64_t n = 0; n < N; n++) {                                  \
                            buf[n].v = p[n];                                               \
                            buf[n].i = (int32_t)n;                                         \
                        }                                                                  \
                        msort_desc_##SUF(buf, buf + N, N);                                 \
                    }                                                                      \
                    for (int64_t j = 0; j < k; j++) {                                      \
                        y[r * k + j] = buf[j].v;                                           \
                        yi[r * k + j] = buf[j].i;                                          \
                    }                                                                      \
                }                                                                          \
                free(buf);                                                                 \
            }                                                                              \
        }                                                                                  \
        return oom ? CT_ERR_OUT_OF_MEMORY : CT_OK;                                         \
    }

DEFINE_TYPE(f32, float, ISNAN_F)
DEFINE_TYPE(f64, double, ISNAN_F)
DEFINE_TYPE(i32, int32_t, ISNAN_I)
DEFINE_TYPE(i64, int64_t, ISNAN_I)
DEFINE_TYPE(u8, uint8_t, ISNAN_I)

static ct_status need_int32_dim(const ct__call *c, const ct_tensor *t, int axis) {
    if (t->shape[axis] <= INT32_MAX) return CT_OK;
    return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                          "axis %d of %s is longer than int32 indices can address", axis,
                          CT__DESC(t));
}

/* ---- TakeAlongAxis / ScatterAlongAxis --------------------------------------------
 * take:    y[k, m, i] = x[k, idx[k, m, i], i]
 * scatter: y[k, idx[k, m, i], i] += u[k, m, i]   (y has n rows along axis) */

static const ct__op ct__op_take_along, ct__op_scatter_along;

static ct_tensor *take_along(const ct_tensor *x, const ct_tensor *idx, int axis) {
    along_attrs a;
    memset(&a, 0, sizeof a);
    a.axis = axis;
    const ct_tensor *in[2] = {x, idx};
    return ct__run1(&ct__op_take_along, "TakeAlongAxis", 2, in, &a, sizeof a);
}

static ct_tensor *scatter_along(const ct_tensor *u, const ct_tensor *idx, int axis, int64_t n) {
    along_attrs a;
    memset(&a, 0, sizeof a);
    a.axis = axis;
    a.n = n;
    const ct_tensor *in[2] = {u, idx};
    return ct__run1(&ct__op_scatter_along, "ScatterAlongAxis", 2, in, &a, sizeof a);
}

static ct_status infer_along(ct__call *c) {
    const along_attrs *a = c->attrs;
    const ct_tensor *x = c->in[0], *idx = c->in[1];
    ct_status st = ct__need_numeric(c, x);
    if (st) return st;
    if (idx->dtype != CT_INT32 || idx->rank != x->rank || a->axis < 0 || a->axis >= x->rank)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "bad indices %s for %s",
                              CT__DESC(idx), CT__DESC(x));
    for (int d = 0; d < x->rank; d++)
        if (d != a->axis && idx->shape[d] != x->shape[d])
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "indices %s do not match %s off axis %d", CT__DESC(idx),
                                  CT__DESC(x), a->axis);
    int64_t shape[CT_MAX_RANK];
    memcpy(shape, idx->shape, sizeof shape);
    bool scatter = c->op == &ct__op_scatter_along;
    if (scatter) {
        if (idx->shape[a->axis] != x->shape[a->axis])
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "indices %s do not match %s",
                                  CT__DESC(idx), CT__DESC(x));
        shape[a->axis] = a->n;
    }
    ct__spec_set(&c->spec[0], x->dtype, x->rank, shape);
    return CT_OK;
}

static ct_status cpu_along(ct__call *c) {
    const along_attrs *a = c->attrs;
    ct_tensor *x = c->in[0], *idx = c->in[1], *o = c->out[0];
    bool scatter = c->op == &ct__op_scatter_along;
    int64_t K, M, I, N;
    ct__axis_view(idx, a->axis, &K, &M, &I);
    N = scatter ? o->shape[a->axis] : x->shape[a->axis];
    const int32_t *ix = ct__data(idx);
    for (int64_t j = 0; j < idx->size; j++)
        if (ix[j] < 0 || ix[j] >= N)
            return ct__call_error(c, CT_ERR_OUT_OF_RANGE, "index %d is outside [0, %lld)",
                                  (int)ix[j], (long long)N);
    if (scatter) memset(ct__data(o), 0, ct__nbytes(o));
    CT__SWITCH_NUMERIC(x->dtype, {
        const T *src = ct__data(x);
        T *dst = ct__data(o);
        for (int64_t k = 0; k < K; k++)
            for (int64_t m = 0; m < M; m++) {
                const int32_t *ir = ix + (k * M + m) * I;
                if (scatter) {
                    const T *u = src + (k * M + m) * I;
                    for (int64_t i = 0; i < I; i++) dst[(k * N + ir[i]) * I + i] += u[i];
                } else {
                    T *y = dst + (k * M + m) * I;
                    for (int64_t i = 0; i < I; i++) y[i] = src[(k * N + ir[i]) * I + i];
                }
            }
    })
    return CT_OK;
}

static ct_status take_along_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const along_attrs *a = c->attrs;
    dx[0] = scatter_along(dy[0], c->in[1], a->axis, c->in[0]->shape[a->axis]);
    dx[1] = NULL;
    return dx[0] ? CT_OK : ct_last_status();
}

static ct_status scatter_along_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const along_attrs *a = c->attrs;
    dx[0] = take_along(dy[0], c->in[1], a->axis);
    dx[1] = NULL;
    return dx[0] ? CT_OK : ct_last_status();
}

static const ct__op ct__op_take_along = {.name = "TakeAlongAxis", .infer = infer_along,
                                         .kernel = {[CT_DEVICE_CPU] = cpu_along},
                                         .grad = take_along_grad};
static const ct__op ct__op_scatter_along = {.name = "ScatterAlongAxis", .infer = infer_along,
                                            .kernel = {[CT_DEVICE_CPU] = cpu_along},
                                            .grad = scatter_along_grad};

/* ---- Sort ------------------------------------------------------------------------ */

static ct_status infer_sort(ct__call *c) {
    const sort_attrs *a = c->attrs;
    const ct_tensor *t = c->in[0];
    ct_status st = ct__need_numeric(c, t);
    if (!st) st = need_int32_dim(c, t, a->axis);
    if (st) return st;
    ct__spec_set(&c->spec[0], t->dtype, t->rank, t->shape);
    ct__spec_set(&c->spec[1], CT_INT32, t->rank, t->shape);
    return CT_OK;
}

#define DISPATCH(dt, CALL)                                                                 \
    switch (dt) {                                                                          \
    case CT_FLOAT32: st = CALL(f32, float); break;                                         \
    case CT_FLOAT64: st = CALL(f64, double); break;                                        \
    case CT_INT32: st = CALL(i32, int32_t); break;                                         \
    case CT_INT64: st = CALL(i64, int64_t); break;                                         \
    case CT_UINT8: st = CALL(u8, uint8_t); break;                                          \
    default: st = CT_ERR_UNIMPLEMENTED; break;                                             \
    }

static ct_status cpu_sort(ct__call *c) {
    const sort_attrs *a = c->attrs;
    ct_tensor *t = c->in[0];
    if (t->size == 0) return CT_OK;
    int64_t K, N, I;
    ct__axis_view(t, a->axis, &K, &N, &I);
    int nt = ct__threads_for(t->size, 20);
    if (nt > K * I) nt = (int)(K * I);
    ct_status st;
#define SORT_CALL(SUF, T)                                                                  \
    sort_##SUF(ct__data(t), ct__data(c->out[0]), ct__data(c->out[1]), K, N, I,             \
               a->descending, nt)
    DISPATCH(t->dtype, SORT_CALL)
#undef SORT_CALL
    if (st == CT_ERR_OUT_OF_MEMORY)
        return ct__call_error(c, st, "no host memory to sort rows of %lld", (long long)N);
    if (st) return ct__call_error(c, st, "no CPU kernel for %s", CT__DESC(t));
    return CT_OK;
}

/* The values' gradient goes back to where each value came from. */
static ct_status sort_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const sort_attrs *a = c->attrs;
    dx[0] = scatter_along(dy[0], c->out[1], a->axis, c->in[0]->shape[a->axis]);
    return dx[0] ? CT_OK : ct_last_status();
}

static const ct__op ct__op_sort = {.name = "Sort", .infer = infer_sort,
                                   .kernel = {[CT_DEVICE_CPU] = cpu_sort}, .grad = sort_grad};

/* Runs Sort and returns output `which` (0 values, 1 indices). */
static ct_tensor *run_sort(const char *api, const ct_tensor *t, int axis, bool descending,
                           int which) {
    sort_attrs a;
    memset(&a, 0, sizeof a);
    a.descending = descending;
    if (t) {
        ct__call c = {.api = api};
        if (ct__axis(&c, axis, t->rank, &a.axis)) return NULL;
    }
    ct_tensor *out[2];
    if (ct__run(&ct__op_sort, api, 1, &t, &a, sizeof a, 2, out, NULL)) return NULL;
    ct_tensor_free(out[1 - which]);
    return out[which];
}

ct_tensor *ct_sort(const ct_tensor *t, int axis, bool descending) {
    return run_sort("ct_sort", t, axis, descending, 0);
}

ct_tensor *ct_argsort(const ct_tensor *t, int axis, bool descending) {
    return run_sort("ct_argsort", t, axis, descending, 1);
}

/* ---- TopKV2 ----------------------------------------------------------------------- */

static ct_status infer_topk(ct__call *c) {
    const topk_attrs *a = c->attrs;
    const ct_tensor *t = c->in[0];
    ct_status st = ct__need_numeric(c, t);
    if (st) return st;
    if (t->rank < 1)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "input must be at least 1-D, got %s",
                              CT__DESC(t));
    int last = t->rank - 1;
    if (a->k < 0)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "k must be non-negative, got %lld",
                              (long long)a->k);
    if (t->shape[last] < a->k)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "input must have at least k columns: %s has %lld, k is %lld",
                              CT__DESC(t), (long long)t->shape[last], (long long)a->k);
    if ((st = need_int32_dim(c, t, last))) return st;
    int64_t shape[CT_MAX_RANK];
    memcpy(shape, t->shape, sizeof shape);
    shape[last] = a->k;
    ct__spec_set(&c->spec[0], t->dtype, t->rank, shape);
    ct__spec_set(&c->spec[1], CT_INT32, t->rank, shape);
    return CT_OK;
}

static ct_status cpu_topk(ct__call *c) {
    const topk_attrs *a = c->attrs;
    ct_tensor *t = c->in[0];
    if (c->out[0]->size == 0) return CT_OK;
    int64_t N = t->shape[t->rank - 1], R = t->size / N;
    int nt = ct__threads_for(t->size, a->k <= 32 ? 4 : 20);
    if (nt > R) nt = (int)R;
    ct_status st;
#define TOPK_CALL(SUF, T)                                                                  \
    topk_##SUF(ct__data(t), ct__data(c->out[0]), ct__data(c->out[1]), R, N, a->k, nt)
    DISPATCH(t->dtype, TOPK_CALL)
#undef TOPK_CALL
    if (st == CT_ERR_OUT_OF_MEMORY)
        return ct__call_error(c, st, "no host memory to sort rows of %lld", (long long)N);
    if (st) return ct__call_error(c, st, "no CPU kernel for %s", CT__DESC(t));
    return CT_OK;
}

/* TF's _TopKGrad: dy scattered to the input positions of the values. */
static ct_status topk_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct_tensor *t = c->in[0];
    int last = t->rank - 1;
    dx[0] = scatter_along(dy[0], c->out[1], last, t->shape[last]);
    return dx[0] ? CT_OK : ct_last_status();
}

static const ct__op ct__op_topk = {.name = "TopKV2", .infer = infer_topk,
                                   .kernel = {[CT_DEVICE_CPU] = cpu_topk}, .grad = topk_grad};

/* sorted == false allows any order; ctrain returns the sorted order then
 * too (TF's CPU kernel also sorts whenever k is the whole row). */
ct_status ct_top_k(const ct_tensor *t, int64_t k, bool sorted, ct_tensor **values,
                   ct_tensor **indices) {
    if (values) *values = NULL;
    if (indices) *indices = NULL;
    if (!values || !indices)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_top_k: values and indices must not be NULL");
    topk_attrs a;
    memset(&a, 0, sizeof a);
    a.k = k;
    a.sorted = sorted;
    ct_tensor *out[2];
    ct_status st = ct__run(&ct__op_topk, "ct_top_k", 1, &t, &a, sizeof a, 2, out, NULL);
    if (st) return st;
    *values = out[0];
    *indices = out[1];
    return CT_OK;
}
