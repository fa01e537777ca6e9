/*
 * CPU kernels for tf.linalg. Shapes: a batch of matrices [..., R, C],
 * row-major; "matrix b" is the b-th [R, C] block.
 *
 * Decompositions go through LAPACKE in double precision: each matrix is
 * converted into a per-thread double buffer, factored, and the results are
 * rounded back (float32 results are at least as accurate as TF's, which
 * factors in float). Batches of small matrices run one matrix per thread.
 * LAPACKE's NaN check is turned off, so NaN inputs give NaN results as in
 * TF rather than an argument error.
 */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ops/linalg.h"
#include "ops/matmul.h"

#define ROW LAPACK_ROW_MAJOR

static pthread_once_t nancheck_once = PTHREAD_ONCE_INIT;
static void nancheck_off(void) { LAPACKE_set_nancheck(0); }

static int64_t rows_of(const ct_tensor *t) { return t->shape[t->rank - 2]; }
static int64_t cols_of(const ct_tensor *t) { return t->shape[t->rank - 1]; }
static int64_t batch_of(const ct_tensor *t) { return ct__numel(t->rank - 2, t->shape); }

/* n elements of t from element offset off, as doubles. */
static void load(const ct_tensor *t, int64_t off, int64_t n, double *dst) {
    if (t->dtype == CT_FLOAT64) {
        memcpy(dst, (const double *)ct__data(t) + off, (size_t)n * sizeof *dst);
    } else {
        const float *s = (const float *)ct__data(t) + off;
        for (int64_t i = 0; i < n; i++) dst[i] = s[i];
    }
}

static void store(ct_tensor *t, int64_t off, int64_t n, const double *src) {
    if (t->dtype == CT_FLOAT64) {
        memcpy((double *)ct__data(t) + off, src, (size_t)n * sizeof *src);
    } else {
        float *d = (float *)ct__data(t) + off;
        for (int64_t i = 0; i < n; i++) d[i] = (float)src[i];
    }
}

/* Stores the transpose of the r x c matrix src (as a c x r matrix). */
static void store_t(ct_tensor *t, int64_t off, int64_t r, int64_t c, const double *src) {
    for (int64_t j = 0; j < c; j++)
        for (int64_t i = 0; i < r; i++) {
            double v = src[i * c + j];
            if (t->dtype == CT_FLOAT64) ((double *)ct__data(t))[off + j * r + i] = v;
            else ((float *)ct__data(t))[off + j * r + i] = (float)v;
        }
}

static void set_identity(double *a, int64_t n) {
    memset(a, 0, (size_t)(n * n) * sizeof *a);
    for (int64_t i = 0; i < n; i++) a[i * n + i] = 1;
}

/* The index in t's batch of output matrix i, where the output's batch
 * shape (o's dims but the last two) is the broadcast of t's. */
static int64_t bcast_index(const ct_tensor *t, const ct_tensor *o, int64_t i) {
    int r = t->rank - 2, orank = o->rank - 2;
    int64_t idx = 0, stride = 1;
    for (int ax = orank - 1; ax >= 0; ax--) {
        int64_t coord = i % o->shape[ax];
        i /= o->shape[ax];
        int j = ax - (orank - r);
        if (j < 0) continue;
        if (t->shape[j] != 1) idx += coord * stride;
        stride *= t->shape[j];
    }
    return idx;
}

/* ---- the batch driver ------------------------------------------------------- */

/* Works on matrix b with a scratch buffer of the requested size; returns
 * 0, or a LAPACK info code that fails the call. */
typedef lapack_int (*one_fn)(ct__call *c, int64_t b, void *ws);

typedef struct {
    int64_t bad;      /* the first failing matrix, or -1 */
    lapack_int info;  /* its info code                   */
} batch_result;

/* Runs f on matrices [0, nb), one per thread when each costs little
 * (cost_ns: rough time for one matrix). */
static ct_status run_batch(ct__call *c, int64_t nb, size_t ws_bytes, int64_t cost_ns, one_fn f,
                           batch_result *res) {
    pthread_once(&nancheck_once, nancheck_off);
    res->bad = -1;
    res->info = 0;
    if (nb == 0) return CT_OK;
    /* LAPACK calls on big matrices thread themselves (OpenBLAS). */
    int nt = cost_ns < 2000000 ? ct__threads_for(nb, cost_ns) : 1;
    bool oom = false;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        void *ws = malloc(ws_bytes ? ws_bytes : 1);
        if (!ws) {
#pragma omp atomic write
            oom = true;
        }
#pragma omp for schedule(static)
        for (int64_t b = 0; b < nb; b++) {
            if (!ws) continue;
            lapack_int info = f(c, b, ws);
            if (info) {
#pragma omp critical(ct_linalg_batch)
                if (res->bad < 0 || b < res->bad) {
                    res->bad = b;
                    res->info = info;
                }
            }
        }
        free(ws);
    }
    if (oom) return ct__call_error(c, CT_ERR_OUT_OF_MEMORY, "out of host memory for %zu bytes of "
                                   "scratch space", ws_bytes);
    return CT_OK;
}

static int64_t cube(int64_t n) { return n * n * n + 1; }

/* A LAPACK argument error is a bug here, not the caller's mistake. */
static ct_status lapack_error(ct__call *c, const batch_result *r, const char *routine) {
    return ct__call_error(c, CT_ERR_INTERNAL, "%s failed with info %d on matrix %lld of %s",
                          routine, (int)r->info, (long long)r->bad, CT__DESC(c->in[0]));
}

/* ---- MatrixTranspose ---------------------------------------------------------- */

#define TBLOCK 32
#define DEFINE_TRANSPOSE(NAME, T)                                                          \
    static void NAME(const void *src, void *dst, int64_t nb, int64_t r, int64_t cc, int nt) { \
        const T *s = src;                                                                  \
        T *d = dst;                                                                        \
        int64_t rb = (r + TBLOCK - 1) / TBLOCK;                                            \
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")           \
        for (int64_t t = 0; t < nb * rb; t++) {                                            \
            int64_t b = t / rb, i0 = (t % rb) * TBLOCK;                                    \
            int64_t i1 = i0 + TBLOCK < r ? i0 + TBLOCK : r;                                \
            const T *sm = s + b * r * cc;                                                  \
            T *dm = d + b * r * cc;                                                        \
            for (int64_t j0 = 0; j0 < cc; j0 += TBLOCK) {                                  \
                int64_t j1 = j0 + TBLOCK < cc ? j0 + TBLOCK : cc;                          \
                for (int64_t i = i0; i < i1; i++)                                          \
                    for (int64_t j = j0; j < j1; j++) dm[j * r + i] = sm[i * cc + j];      \
            }                                                                              \
        }                                                                                  \
    }

DEFINE_TRANSPOSE(transpose_1, uint8_t)
DEFINE_TRANSPOSE(transpose_2, uint16_t)
DEFINE_TRANSPOSE(transpose_4, uint32_t)
DEFINE_TRANSPOSE(transpose_8, uint64_t)

ct_status ct__cpu_matrix_transpose(ct__call *c) {
    ct_tensor *x = c->in[0], *o = c->out[0];
    if (x->size == 0) return CT_OK;
    int64_t r = rows_of(x), cc = cols_of(x), nb = batch_of(x);
    int nt = ct__threads_for(x->size, 1);
    switch (ct_dtype_size(x->dtype)) {
    case 1: transpose_1(ct__data(x), ct__data(o), nb, r, cc, nt); break;
    case 2: transpose_2(ct__data(x), ct__data(o), nb, r, cc, nt); break;
    case 4: transpose_4(ct__data(x), ct__data(o), nb, r, cc, nt); break;
    default: transpose_8(ct__data(x), ct__data(o), nb, r, cc, nt); break;
    }
    return CT_OK;
}

/* ---- MatrixInverse -------------------------------------------------------------- */

static lapack_int inverse_one(ct__call *c, int64_t b, void *ws) {
    int64_t n = rows_of(c->in[0]);
    double *a = ws;
    lapack_int *ipiv = (lapack_int *)(a + n * n);
    load(c->in[0], b * n * n, n * n, a);
    lapack_int info = LAPACKE_dgetrf(ROW, (lapack_int)n, (lapack_int)n, a, (lapack_int)n, ipiv);
    if (info) return info;
    info = LAPACKE_dgetri(ROW, (lapack_int)n, a, (lapack_int)n, ipiv);
    if (info) return info;
    store(c->out[0], b * n * n, n * n, a);
    return 0;
}

ct_status ct__cpu_matrix_inverse(ct__call *c) {
    const ct_tensor *x = c->in[0];
    int64_t n = rows_of(x);
    batch_result r;
    ct_status st = run_batch(c, n ? batch_of(x) : 0,
                             (size_t)(n * n) * sizeof(double) + (size_t)n * sizeof(lapack_int),
                             cube(n), inverse_one, &r);
    if (st) return st;
    if (r.info > 0)
        return ct__call_error(c, CT_ERR_NUMERIC, "input is not invertible: matrix %lld of %s is "
                              "singular (zero pivot in column %d)", (long long)r.bad,
                              CT__DESC(x), (int)r.info);
    return r.info ? lapack_error(c, &r, "getrf/getri") : CT_OK;
}

/* ---- MatrixDeterminant, LogMatrixDeterminant -------------------------------------- */

/* det of an LU factorisation: sign of the row swaps and the diagonal. */
static void lu_slogdet(const double *lu, const lapack_int *ipiv, int64_t n, double *sign,
                       double *logabs) {
    double s = 1, l = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = lu[i * n + i];
        if (ipiv[i] != i + 1) s = -s;
        l += log(fabs(d));
        s *= d > 0 ? 1 : d < 0 ? -1 : d; /* 0 and NaN as Eigen: d / |d| */
    }
    /* TF: a non-finite log gives sign 0 and -inf (+inf when it overflowed). */
    if (!isfinite(l)) {
        s = 0;
        l = l > 0 ? INFINITY : -INFINITY;
    }
    *sign = s;
    *logabs = l;
}

static lapack_int det_one(ct__call *c, int64_t b, void *ws) {
    int64_t n = rows_of(c->in[0]);
    double *a = ws, det;
    load(c->in[0], b * n * n, n * n, a);
    /* Eigen's closed forms for the small sizes TF's CPU kernel uses. */
    if (n == 0) {
        det = 1;
    } else if (n == 1) {
        det = a[0];
    } else if (n == 2) {
        det = a[0] * a[3] - a[2] * a[1];
    } else if (n == 3) {
        det = a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) +
              a[2] * (a[3] * a[7] - a[4] * a[6]);
    } else {
        lapack_int *ipiv = (lapack_int *)(a + n * n);
        lapack_int info = LAPACKE_dgetrf(ROW, (lapack_int)n, (lapack_int)n, a, (lapack_int)n, ipiv);
        if (info < 0) return info;
        det = 1;
        for (int64_t i = 0; i < n; i++) {
            det *= a[i * n + i];
            if (ipiv[i] != i + 1) det = -det;
        }
    }
    store(c->out[0], b, 1, &det);
    return 0;
}

ct_status ct__cpu_matrix_determinant(ct__call *c) {
    const ct_tensor *x = c->in[0];
    int64_t n = rows_of(x);
    batch_result r;
    ct_status st = run_batch(c, batch_of(x),
                             (size_t)(n * n + 1) * sizeof(double) + (size_t)n * sizeof(lapack_int),
                             cube(n), det_one, &r);
    if (st) return st;
    return r.info ? lapack_error(c, &r, "getrf") : CT_OK;
}

static lapack_int slogdet_one(ct__call *c, int64_t b, void *ws) {
    int64_t n = rows_of(c->in[0]);
    double *a = ws, sign = 1, logabs = 0;
    lapack_int *ipiv = (lapack_int *)(a + n * n);
    if (n > 0) {
        load(c->in[0], b * n * n, n * n, a);
        lapack_int info = LAPACKE_dgetrf(ROW, (lapack_int)n, (lapack_int)n, a, (lapack_int)n, ipiv);
        if (info < 0) return info;
        lu_slogdet(a, ipiv, n, &sign, &logabs);
    }
    store(c->out[0], b, 1, &sign);
    store(c->out[1], b, 1, &logabs);
    return 0;
}

ct_status ct__cpu_log_matrix_determinant(ct__call *c) {
    const ct_tensor *x = c->in[0];
    int64_t n = rows_of(x);
    batch_result r;
    ct_status st = run_batch(c, batch_of(x),
                             (size_t)(n * n + 1) * sizeof(double) + (size_t)n * sizeof(lapack_int),
                             cube(n), slogdet_one, &r);
    if (st) return st;
    return r.info ? lapack_error(c, &r, "getrf") : CT_OK;
}

/* ---- Trace ------------------------------------------------------------------------ */

ct_status ct__cpu_trace(ct__call *c) {
    const ct_tensor *x = c->in[0];
    ct_tensor *o = c->out[0];
    int64_t r = rows_of(x), cc = cols_of(x), nb = batch_of(x), k = r < cc ? r : cc;
    CT__SWITCH_NUMERIC(x->dtype, {
        const T *s = ct__data(x);
        T *d = ct__data(o);
        for (int64_t b = 0; b < nb; b++) {
            const T *m = s + b * r * cc;
            T acc = 0;
            for (int64_t i = 0; i < k; i++) acc = (T)(acc + m[i * cc + i]);
            d[b] = acc;
        }
    })
    return CT_OK;
}

/* ---- Cholesky --------------------------------------------------------------------- */

static lapack_int cholesky_one(ct__call *c, int64_t b, void *ws) {
    int64_t n = rows_of(c->in[0]);
    double *a = ws;
    load(c->in[0], b * n * n, n * n, a);
    lapack_int info = LAPACKE_dpotrf(ROW, 'L', (lapack_int)n, a, (lapack_int)n);
    if (info) return info;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) a[i * n + j] = 0;
    store(c->out[0], b * n * n, n * n, a);
    return 0;
}

ct_status ct__cpu_cholesky(ct__call *c) {
    const ct_tensor *x = c->in[0];
    int64_t n = rows_of(x);
    batch_result r;
    ct_status st = run_batch(c, n ? batch_of(x) : 0, (size_t)(n * n) * sizeof(double), cube(n) / 3,
                             cholesky_one, &r);
    if (st) return st;
    if (r.info > 0)
        return ct__call_error(c, CT_ERR_NUMERIC, "Cholesky decomposition was not successful: "
                              "matrix %lld of %s is not positive definite (leading minor %d)",
                              (long long)r.bad, CT__DESC(x), (int)r.info);
    return r.info ? lapack_error(c, &r, "potrf") : CT_OK;
}

/* ---- SelfAdjointEigV2 (eigh) ------------------------------------------------------ */

static lapack_int eigh_one(ct__call *c, int64_t b, void *ws) {
    int64_t n = rows_of(c->in[0]);
    double *a = ws, *w = a + n * n;
    load(c->in[0], b * n * n, n * n, a);
    /* Reads the lower triangle, as TF's Eigen kernel does. */
    lapack_int info = LAPACKE_dsyevd(ROW, 'V', 'L', (lapack_int)n, a, (lapack_int)n, w);
    if (info) return info;
    store(c->out[0], b * n, n, w);
    store(c->out[1], b * n * n, n * n, a);
    return 0;
}

ct_status ct__cpu_eigh(ct__call *c) {
    const ct_tensor *x = c->in[0];
    int64_t n = rows_of(x);
    batch_result r;
    ct_status st = run_batch(c, n ? batch_of(x) : 0, (size_t)(n * n + n) * sizeof(double),
                             4 * cube(n), eigh_one, &r);
    if (st) return st;
    if (r.info > 0)
        return ct__call_error(c, CT_ERR_NUMERIC, "the eigen decomposition of matrix %lld of %s "
                              "did not converge", (long long)r.bad, CT__DESC(x));
    return r.info ? lapack_error(c, &r, "syevd") : CT_OK;
}

/* ---- Eig -------------------------------------------------------------------------- */

static lapack_int eig_one(ct__call *c, int64_t b, void *ws) {
    int64_t n = rows_of(c->in[0]), nn = n * n;
    double *a = ws, *wr = a + nn, *wi = wr + n, *vr = wi + n, *ure = vr + nn, *uim = ure + nn;
    load(c->in[0], b * nn, nn, a);
    lapack_int info = LAPACKE_dgeev(ROW, 'N', 'V', (lapack_int)n, a, (lapack_int)n, wr, wi, NULL,
                                    1, vr, (lapack_int)n);
    if (info) return info;
    /* geev packs a conjugate pair's vectors as re, im in columns j, j+1. */
    for (int64_t j = 0; j < n; j++) {
        bool pair = wi[j] != 0 && j + 1 < n;
        for (int64_t i = 0; i < n; i++) {
            ure[i * n + j] = vr[i * n + j];
            uim[i * n + j] = pair ? vr[i * n + j + 1] : 0;
            if (pair) {
                ure[i * n + j + 1] = vr[i * n + j];
                uim[i * n + j + 1] = -vr[i * n + j + 1];
            }
        }
        if (pair) j++;
    }
    /* Eigen's ComplexEigenSolver order: a selection sort by |lambda|
     * ascending (the first smallest wins ties). */
    for (int64_t i = 0; i < n; i++) {
        int64_t k = i;
        for (int64_t j = i + 1; j < n; j++)
            if (hypot(wr[j], wi[j]) < hypot(wr[k], wi[k])) k = j;
        if (k == i) continue;
        double t = wr[i];
        wr[i] = wr[k];
        wr[k] = t;
        t = wi[i];
        wi[i] = wi[k];
        wi[k] = t;
        for (int64_t r = 0; r < n; r++) {
            t = ure[r * n + i];
            ure[r * n + i] = ure[r * n + k];
            ure[r * n + k] = t;
            t = uim[r * n + i];
            uim[r * n + i] = uim[r * n + k];
            uim[r * n + k] = t;
        }
    }
    store(c->out[0], b * n, n, wr);
    store(c->out[1], b * n, n, wi);
    store(c->out[2], b * nn, nn, ure);
    store(c->out[3], b * nn, nn, uim);
    return 0;
}

ct_status ct__cpu_eig(ct__call *c) {
    const ct_tensor *x = c->in[0];
    int64_t n = rows_of(x);
    batch_result r;
    ct_status st = run_batch(c, n ? batch_of(x) : 0, (size_t)(4 * n * n + 2 * n) * sizeof(double),
                             10 * cube(n), eig_one, &r);
    if (st) return st;
    if (r.info > 0)
        return ct__call_error(c, CT_ERR_NUMERIC, "the eigen decomposition of matrix %lld of %s "
                              "did not converge", (long long)r.bad, CT__DESC(x));
    return r.info ? lapack_error(c, &r, "geev") : CT_OK;
}

/* ---- Lu --------------------------------------------------------------------------- */

static lapack_int lu_one(ct__call *c, int64_t b, void *ws) {
    int64_t n = rows_of(c->in[0]);
    double *a = ws;
    lapack_int *ipiv = (lapack_int *)(a + n * n);
    load(c->in[0], b * n * n, n * n, a);
    lapack_int info = LAPACKE_dgetrf(ROW, (lapack_int)n, (lapack_int)n, a, (lapack_int)n, ipiv);
    if (info) return info;
    store(c->out[0], b * n * n, n * n, a);
    /* The row swaps applied in order give p with x[p] = L U. */
    int32_t *p = (int32_t *)ct__data(c->out[1]) + b * n;
    for (int64_t i = 0; i < n; i++) p[i] = (int32_t)i;
    for (int64_t i = 0; i < n; i++) {
        int64_t j = ipiv[i] - 1;
        int32_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    return 0;
}

ct_status ct__cpu_lu(ct__call *c) {
    const ct_tensor *x = c->in[0];
    int64_t n = rows_of(x);
    batch_result r;
    ct_status st = run_batch(c, n ? batch_of(x) : 0,
                             (size_t)(n * n) * sizeof(double) + (size_t)n * sizeof(lapack_int),
                             cube(n) / 3, lu_one, &r);
    if (st) return st;
    if (r.info > 0)
        return ct__call_error(c, CT_ERR_NUMERIC, "input is not invertible: matrix %lld of %s is "
                              "singular (zero pivot in column %d)", (long long)r.bad,
                              CT__DESC(x), (int)r.info);
    return r.info ? lapack_error(c, &r, "getrf") : CT_OK;
}

/* ---- Qr --------------------------------------------------------------------------- */

static lapack_int qr_one(ct__call *c, int64_t b, void *ws) {
    const ct__linalg_attrs *at = c->attrs;
    int64_t m = rows_of(c->in[0]), n = cols_of(c->in[0]), k = m < n ? m : n;
    int64_t qc = at->full_matrices ? m : k, rr = qc;
    double *a = ws, *tau = a + m * n, *q = tau + k + 1, *r = q + m * qc;
    load(c->in[0], b * m * n, m * n, a);
    lapack_int info = 0;
    if (k > 0) info = LAPACKE_dgeqrf(ROW, (lapack_int)m, (lapack_int)n, a, (lapack_int)n, tau);
    if (info) return info;
    for (int64_t i = 0; i < rr; i++)
        for (int64_t j = 0; j < n; j++) r[i * n + j] = j >= i && i < k ? a[i * n + j] : 0;
    if (k == 0) {
        memset(q, 0, (size_t)(m * qc) * sizeof *q);
        for (int64_t i = 0; i < m && i < qc; i++) q[i * qc + i] = 1;
    } else {
        memset(q, 0, (size_t)(m * qc) * sizeof *q);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < k; j++) q[i * qc + j] = a[i * n + j];
        info = LAPACKE_dorgqr(ROW, (lapack_int)m, (lapack_int)qc, (lapack_int)k, q,
                              (lapack_int)qc, tau);
        if (info) return info;
    }
    store(c->out[0], b * m * qc, m * qc, q);
    store(c->out[1], b * rr * n, rr * n, r);
    return 0;
}

ct_status ct__cpu_qr(ct__call *c) {
    const ct__linalg_attrs *at = c->attrs;
    const ct_tensor *x = c->in[0];
    int64_t m = rows_of(x), n = cols_of(x), k = m < n ? m : n;
    int64_t qc = at->full_matrices ? m : k;
    batch_result r;
    ct_status st = run_batch(c, batch_of(x),
                             (size_t)(m * n + k + 1 + m * qc + qc * n) * sizeof(double),
                             2 * m * n * k + 1, qr_one, &r);
    if (st) return st;
    return r.info ? lapack_error(c, &r, "geqrf/orgqr") : CT_OK;
}

/* ---- Svd -------------------------------------------------------------------------- */

static lapack_int svd_one(ct__call *c, int64_t b, void *ws) {
    const ct__linalg_attrs *at = c->attrs;
    int64_t m = rows_of(c->in[0]), n = cols_of(c->in[0]), k = m < n ? m : n;
    bool full = at->full_matrices, uv = at->compute_uv;
    int64_t ucol = full ? m : k, vrow = full ? n : k;
    int64_t usz = (m ? m : 1) * (ucol ? ucol : 1);
    double *a = ws, *s = a + m * n, *u = s + k + 1, *vt = u + usz;
    load(c->in[0], b * m * n, m * n, a);
    if (k > 0) {
        char jobz = !uv ? 'N' : full ? 'A' : 'S';
        lapack_int info = LAPACKE_dgesdd(ROW, jobz, (lapack_int)m, (lapack_int)n, a,
                                         (lapack_int)n, s, u, (lapack_int)(ucol ? ucol : 1), vt,
                                         (lapack_int)(n ? n : 1));
        if (info) return info;
    } else if (uv) {
        /* No singular values: full bases are identities, reduced ones empty. */
        if (full) {
            set_identity(u, m);
            set_identity(vt, n);
        }
    }
    store(c->out[0], b * k, k, s);
    if (uv) {
        store(c->out[1], b * m * ucol, m * ucol, u);
        store_t(c->out[2], b * n * vrow, vrow, n, vt);
    }
    return 0;
}

ct_status ct__cpu_svd(ct__call *c) {
    const ct__linalg_attrs *at = c->attrs;
    const ct_tensor *x = c->in[0];
    int64_t m = rows_of(x), n = cols_of(x), k = m < n ? m : n;
    int64_t ucol = at->full_matrices ? m : k, vrow = at->full_matrices ? n : k;
    int64_t usz = (m ? m : 1) * (ucol ? ucol : 1), vsz = (vrow ? vrow : 1) * (n ? n : 1);
    batch_result r;
    ct_status st = run_batch(c, batch_of(x), (size_t)(m * n + k + 1 + usz + vsz) * sizeof(double),
                             8 * m * n * k + 1, svd_one, &r);
    if (st) return st;
    if (r.info > 0)
        return ct__call_error(c, CT_ERR_NUMERIC, "the SVD of matrix %lld of %s did not converge",
                              (long long)r.bad, CT__DESC(x));
    return r.info ? lapack_error(c, &r, "gesdd") : CT_OK;
}

/* ---- MatrixSolve ------------------------------------------------------------------ */

static lapack_int solve_one(ct__call *c, int64_t b, void *ws) {
    const ct__linalg_attrs *at = c->attrs;
    int64_t n = rows_of(c->in[0]), k = cols_of(c->in[1]);
    double *a = ws, *x = a + n * n;
    lapack_int *ipiv = (lapack_int *)(x + n * k);
    load(c->in[0], b * n * n, n * n, a);
    load(c->in[1], b * n * k, n * k, x);
    lapack_int info = LAPACKE_dgetrf(ROW, (lapack_int)n, (lapack_int)n, a, (lapack_int)n, ipiv);
    if (info) return info;
    if (k == 0) return 0;
    info = LAPACKE_dgetrs(ROW, at->adjoint ? 'T' : 'N', (lapack_int)n, (lapack_int)k, a,
                          (lapack_int)n, ipiv, x, (lapack_int)k);
    if (info) return info;
    store(c->out[0], b * n * k, n * k, x);
    return 0;
}

ct_status ct__cpu_matrix_solve(ct__call *c) {
    const ct_tensor *a = c->in[0], *rhs = c->in[1];
    int64_t n = rows_of(a), k = cols_of(rhs);
    batch_result r;
    ct_status st = run_batch(c, n ? batch_of(a) : 0,
                             (size_t)(n * n + n * k) * sizeof(double) +
                                 (size_t)n * sizeof(lapack_int),
                             cube(n) / 3 + 2 * n * n * k, solve_one, &r);
    if (st) return st;
    if (r.info > 0)
        return ct__call_error(c, CT_ERR_NUMERIC, "input matrix is not invertible: matrix %lld of "
                              "%s is singular (zero pivot in column %d)", (long long)r.bad,
                              CT__DESC(a), (int)r.info);
    return r.info ? lapack_error(c, &r, "getrf/getrs") : CT_OK;
}

/* ---- MatrixTriangularSolve -------------------------------------------------------- */

static lapack_int trisolve_one(ct__call *c, int64_t b, void *ws) {
    const ct__linalg_attrs *at = c->attrs;
    const ct_tensor *a = c->in[0], *rhs = c->in[1];
    ct_tensor *o = c->out[0];
    int64_t n = rows_of(a), k = cols_of(rhs);
    double *m = ws, *x = m + n * n;
    load(a, bcast_index(a, o, b) * n * n, n * n, m);
    load(rhs, bcast_index(rhs, o, b) * n * k, n * k, x);
    /* trsm does not test the diagonal: a zero gives inf/NaN, as in TF. */
    cblas_dtrsm(CblasRowMajor, CblasLeft, at->lower ? CblasLower : CblasUpper,
                at->adjoint ? CblasTrans : CblasNoTrans, CblasNonUnit, (blasint)n, (blasint)k, 1.0,
                m, (blasint)n, x, (blasint)k);
    store(o, b * n * k, n * k, x);
    return 0;
}

ct_status ct__cpu_triangular_solve(ct__call *c) {
    ct_tensor *o = c->out[0];
    int64_t n = rows_of(o), k = cols_of(o);
    if (o->size == 0) return CT_OK;
    batch_result r;
    return run_batch(c, batch_of(o), (size_t)(n * n + n * k) * sizeof(double), n * n * k + 1,
                     trisolve_one, &r);
}

/* ---- norm helpers ----------------------------------------------------------------- */

ct_status ct__cpu_norm_max(ct__call *c) {
    const ct__linalg_attrs *at = c->attrs;
    const ct_tensor *x = c->in[0];
    ct_tensor *o = c->out[0];
    int64_t outer = 1, inner = 1, n = x->shape[at->axis0];
    for (int i = 0; i < at->axis0; i++) outer *= x->shape[i];
    for (int i = at->axis0 + 1; i < x->rank; i++) inner *= x->shape[i];
    CT__SWITCH_FLOAT(x->dtype, {
        const T *s = ct__data(x);
        T *d = ct__data(o);
        for (int64_t q = 0; q < outer; q++) {
            T *dq = d + q * inner;
            for (int64_t i = 0; i < inner; i++) dq[i] = (T)-INFINITY;
            for (int64_t r = 0; r < n; r++) {
                const T *sr = s + (q * n + r) * inner;
                for (int64_t i = 0; i < inner; i++) {
                    T v = sr[i];
                    dq[i] = (v > dq[i] || v != v) ? v : dq[i];
                }
            }
        }
    })
    return CT_OK;
}

/* The matrices of x on axes (axis0, axis1): element (i, j) of matrix q is
 * at base(q) + i * s0 + j * s1, q running over the other axes in order. */
typedef struct {
    int64_t r, cc, s0, s1, count;
    int nother;
    int64_t odim[CT_MAX_RANK], ostride[CT_MAX_RANK];
} mat_view;

static void mat_view_of(const ct_tensor *x, int a0, int a1, mat_view *v) {
    int64_t st[CT_MAX_RANK], s = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        st[i] = s;
        s *= x->shape[i];
    }
    v->r = x->shape[a0];
    v->cc = x->shape[a1];
    v->s0 = st[a0];
    v->s1 = st[a1];
    v->nother = 0;
    v->count = 1;
    for (int i = 0; i < x->rank; i++)
        if (i != a0 && i != a1) {
            v->odim[v->nother] = x->shape[i];
            v->ostride[v->nother++] = st[i];
            v->count *= x->shape[i];
        }
}

static int64_t mat_base(const mat_view *v, int64_t q) {
    int64_t off = 0;
    for (int i = v->nother - 1; i >= 0; i--) {
        off += (q % v->odim[i]) * v->ostride[i];
        q /= v->odim[i];
    }
    return off;
}

static void mat_gather(const ct_tensor *x, const mat_view *v, int64_t q, double *dst) {
    int64_t base = mat_base(v, q);
    for (int64_t i = 0; i < v->r; i++)
        for (int64_t j = 0; j < v->cc; j++) {
            int64_t e = base + i * v->s0 + j * v->s1;
            dst[i * v->cc + j] = x->dtype == CT_FLOAT64 ? ((const double *)ct__data(x))[e]
                                                        : ((const float *)ct__data(x))[e];
        }
}

static lapack_int norm2_one(ct__call *c, int64_t q, void *ws) {
    const ct__linalg_attrs *at = c->attrs;
    mat_view v;
    mat_view_of(c->in[0], at->axis0, at->axis1, &v);
    int64_t k = v.r < v.cc ? v.r : v.cc;
    double *a = ws, *s = a + v.r * v.cc, dummy[2], out = -INFINITY; /* max of no values */
    mat_gather(c->in[0], &v, q, a);
    if (k > 0) {
        lapack_int info = LAPACKE_dgesdd(ROW, 'N', (lapack_int)v.r, (lapack_int)v.cc, a,
                                         (lapack_int)v.cc, s, dummy, 1, dummy, (lapack_int)v.cc);
        if (info) return info;
        out = s[0];
    }
    store(c->out[0], q, 1, &out);
    return 0;
}

ct_status ct__cpu_matrix_norm2(ct__call *c) {
    const ct__linalg_attrs *at = c->attrs;
    mat_view v;
    mat_view_of(c->in[0], at->axis0, at->axis1, &v);
    int64_t k = v.r < v.cc ? v.r : v.cc;
    batch_result r;
    ct_status st = run_batch(c, v.count, (size_t)(v.r * v.cc + k + 1) * sizeof(double),
                             4 * v.r * v.cc * k + 1, norm2_one, &r);
    if (st) return st;
    if (r.info > 0)
        return ct__call_error(c, CT_ERR_NUMERIC, "the SVD of matrix %lld of %s did not converge",
                              (long long)r.bad, CT__DESC(c->in[0]));
    return r.info ? lapack_error(c, &r, "gesdd") : CT_OK;
}

/* d s_max / d x = sum over the singular values tied with the largest of
 * u_i v_i^T / ties (TF's reduce_max gradient through Svd), 0 when s_max
 * is 0 (the gradient of |s| there). */
static lapack_int norm2_dir_one(ct__call *c, int64_t q, void *ws) {
    const ct__linalg_attrs *at = c->attrs;
    mat_view v;
    mat_view_of(c->in[0], at->axis0, at->axis1, &v);
    int64_t r = v.r, n = v.cc, k = r < n ? r : n;
    double *a = ws, *s = a + r * n, *u = s + k + 1, *vt = u + r * k, *g = vt + k * n;
    mat_gather(c->in[0], &v, q, a);
    memset(g, 0, (size_t)(r * n) * sizeof *g);
    if (k > 0) {
        lapack_int info = LAPACKE_dgesdd(ROW, 'S', (lapack_int)r, (lapack_int)n, a, (lapack_int)n,
                                         s, u, (lapack_int)k, vt, (lapack_int)n);
        if (info) return info;
        int64_t ties = 0;
        for (int64_t t = 0; t < k; t++) ties += s[t] == s[0];
        for (int64_t t = 0; t < k && s[0] != 0; t++) {
            if (s[t] != s[0]) continue;
            for (int64_t i = 0; i < r; i++)
                for (int64_t j = 0; j < n; j++)
                    g[i * n + j] += u[i * k + t] * vt[t * n + j] / (double)ties;
        }
    }
    int64_t base = mat_base(&v, q);
    ct_tensor *o = c->out[0];
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < n; j++) store(o, base + i * v.s0 + j * v.s1, 1, &g[i * n + j]);
    return 0;
}

ct_status ct__cpu_matrix_norm2_dir(ct__call *c) {
    const ct__linalg_attrs *at = c->attrs;
    mat_view v;
    mat_view_of(c->in[0], at->axis0, at->axis1, &v);
    int64_t k = v.r < v.cc ? v.r : v.cc;
    batch_result r;
    ct_status st = run_batch(c, v.count,
                             (size_t)(2 * v.r * v.cc + k + 1 + v.r * k + k * v.cc) * sizeof(double),
                             8 * v.r * v.cc * k + 1, norm2_dir_one, &r);
    if (st) return st;
    if (r.info > 0)
        return ct__call_error(c, CT_ERR_NUMERIC, "the SVD of matrix %lld of %s did not converge",
                              (long long)r.bad, CT__DESC(c->in[0]));
    return r.info ? lapack_error(c, &r, "gesdd") : CT_OK;
}
