/*
 * tf.linalg: definitions, shape rules and gradients (TF's linalg_grad.py).
 * Kernels are in ops/cpu/linalg.c. Shapes: [..., M, N] is a batch of
 * matrices over the leading dims.
 *
 * Gradients use public ops only (so they have gradients themselves) plus
 * a few constants: identity and triangle masks, and 0/1 selection matrices
 * that take or place column blocks by a matmul (the gradient of a column
 * slice is then the transposed selection, with no slice op needed).
 *
 * Eig and Lu have no gradient (TF registers none for Lu's permutation, and
 * Eig's needs complex arithmetic ctrain does not have).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/linalg.h"
#include "ops/matmul.h"

/* ---- shape checks ------------------------------------------------------------ */

static ct_status need_matrix(const ct__call *c, const ct_tensor *t, bool square) {
    if (t->rank < 2)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "expected a (batch of) %smatrices of rank >= 2, got %s",
                              square ? "square " : "", CT__DESC(t));
    if (square && t->shape[t->rank - 1] != t->shape[t->rank - 2])
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "expected a (batch of) square matrices, got %s", CT__DESC(t));
    return CT_OK;
}

static ct_status need_float_matrix(const ct__call *c, const ct_tensor *t, bool square) {
    ct_status st = ct__need_float(c, t);
    return st ? st : need_matrix(c, t, square);
}

static int64_t rows(const ct_tensor *t) { return t->shape[t->rank - 2]; }
static int64_t cols(const ct_tensor *t) { return t->shape[t->rank - 1]; }

/* spec = t's batch dims followed by `extra` dims. */
static void spec_batch(ct__spec *s, ct_dtype dt, const ct_tensor *t, int nextra,
                       const int64_t *extra) {
    int64_t shape[CT_MAX_RANK];
    int r = t->rank - 2;
    memcpy(shape, t->shape, (size_t)r * sizeof *shape);
    for (int i = 0; i < nextra; i++) shape[r + i] = extra[i];
    ct__spec_set(s, dt, r + nextra, shape);
}

/* ---- gradient helpers ----------------------------------------------------------- */

static ct_tensor *mm(const ct_tensor *a, const ct_tensor *b, bool ta, bool tb) {
    return ct_matmul_ex(a, b, ta, tb);
}
static ct_tensor *adj(const ct_tensor *x) { return ct_matrix_transpose(x); }

/* A constant from float64 values in like's dtype, on like's device. */
static ct_tensor *const_like(const ct_tensor *like, const double *v, int rank,
                             const int64_t *shape) {
    if (!like) return NULL;
    ct_device_scope_begin(ct_tensor_device(like));
    ct_tensor *t = ct_constant(v, CT_FLOAT64, rank, shape);
    ct_device_scope_end();
    return like->dtype == CT_FLOAT64 ? t : ct_cast(t, like->dtype);
}

enum { M_EYE, M_LOWER, M_UPPER, M_LOWER_HALF_DIAG, M_OFF_DIAG };

/* An r x cc matrix: the identity, a triangle of ones (diagonal included),
 * the lower triangle with 0.5 on the diagonal, or ones off the diagonal. */
static ct_tensor *mask(const ct_tensor *like, int64_t r, int64_t cc, int kind) {
    if (!like) return NULL;
    double *v = calloc((size_t)(r * cc > 0 ? r * cc : 1), sizeof *v);
    if (!v) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "linalg gradient: out of host memory");
        return NULL;
    }
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < cc; j++) {
            double x = 0;
            switch (kind) {
            case M_EYE: x = i == j; break;
            case M_LOWER: x = i >= j; break;
            case M_UPPER: x = i <= j; break;
            case M_LOWER_HALF_DIAG: x = i > j ? 1 : i == j ? 0.5 : 0; break;
            default: x = i != j; break;
            }
            v[i * cc + j] = x;
        }
    ct_tensor *t = const_like(like, v, 2, (const int64_t[]){r, cc});
    free(v);
    return t;
}

/* x times a mask of its own matrix size. */
static ct_tensor *masked(const ct_tensor *x, int kind) {
    if (!x) return NULL;
    return ct_multiply(x, mask(x, rows(x), cols(x), kind));
}

/* [..., n] -> [..., n, n] with v on the diagonal (tf.linalg.diag). */
static ct_tensor *mdiag(const ct_tensor *v) {
    if (!v) return NULL;
    int64_t n = v->rank ? v->shape[v->rank - 1] : 1;
    return ct_multiply(ct_expand_dims(v, -1), mask(v, n, n, M_EYE));
}

/* The cnt x total 0/1 matrix S with S[i, start + i] = 1: x S places x's
 * cnt columns at [start, start + cnt) of total; x S^T takes them out. */
static ct_tensor *col_select(const ct_tensor *like, int64_t cnt, int64_t total, int64_t start) {
    if (!like) return NULL;
    double *v = calloc((size_t)(cnt * total > 0 ? cnt * total : 1), sizeof *v);
    if (!v) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "linalg gradient: out of host memory");
        return NULL;
    }
    for (int64_t i = 0; i < cnt; i++) v[i * total + start + i] = 1;
    ct_tensor *t = const_like(like, v, 2, (const int64_t[]){cnt, total});
    free(v);
    return t;
}

/* x[..., :, start:start+cnt] */
static ct_tensor *take_cols(const ct_tensor *x, int64_t start, int64_t cnt) {
    if (!x) return NULL;
    return mm(x, col_select(x, cnt, cols(x), start), false, true);
}

/* x ([..., r, cnt]) placed at columns [start, start+cnt) of [..., r, total]. */
static ct_tensor *place_cols(const ct_tensor *x, int64_t start, int64_t total) {
    if (!x) return NULL;
    return mm(x, col_select(x, cols(x), total, start), false, false);
}

/* x * 1 / (x^2 + 1e-20): TF's _SafeReciprocal (a Lorentz broadening that
 * keeps degenerate eigen/singular values from giving inf). */
static ct_tensor *safe_recip(const ct_tensor *x) {
    if (!x) return NULL;
    return ct_multiply(x, ct_reciprocal(ct_add(ct_square(x), ct_scalar_of(x->dtype, 1e-20))));
}

/* f[i, j] = safe_recip(e[j] - e[i]) off the diagonal, 0 on it. */
static ct_tensor *f_matrix(const ct_tensor *e) {
    ct_tensor *d = ct_subtract(ct_expand_dims(e, -2), ct_expand_dims(e, -1));
    return masked(safe_recip(d), M_OFF_DIAG);
}

/* g reshaped to [..., 1, 1] (a per-matrix scalar that broadcasts). */
static ct_tensor *per_matrix(const ct_tensor *g) {
    if (!g) return NULL;
    int64_t shape[CT_MAX_RANK];
    memcpy(shape, g->shape, (size_t)g->rank * sizeof *shape);
    shape[g->rank] = shape[g->rank + 1] = 1;
    return ct_reshape(g, g->rank + 2, shape);
}

/* ---- MatrixTranspose ----------------------------------------------------------- */

static ct_status infer_transpose(ct__call *c) {
    const ct_tensor *t = c->in[0];
    ct_status st = need_matrix(c, t, false);
    if (st) return st;
    spec_batch(&c->spec[0], t->dtype, t, 2, (const int64_t[]){cols(t), rows(t)});
    return CT_OK;
}

static ct_status transpose_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    (void)c;
    dx[0] = adj(dy[0]);
    return ct__grad_status(dx, 1);
}

static const ct__op op_transpose = {
    .name = "MatrixTranspose", .infer = infer_transpose,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_matrix_transpose}, .grad = transpose_grad,
    .flags = CT__OP_NATIVE_HALF,
};

ct_tensor *ct_matrix_transpose(const ct_tensor *t) {
    return ct__run1(&op_transpose, "ct_matrix_transpose", 1, &t, NULL, 0);
}

/* ---- MatrixInverse ---------------------------------------------------------------- */

static ct_status infer_square_same(ct__call *c) {
    const ct_tensor *t = c->in[0];
    ct_status st = need_float_matrix(c, t, true);
    if (!st) ct__spec_set(&c->spec[0], t->dtype, t->rank, t->shape);
    return st;
}

static ct_status inverse_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    ct_tensor *ainv = c->out[0];
    dx[0] = ct_negative(mm(ainv, mm(dy[0], ainv, false, true), true, false));
    return ct__grad_status(dx, 1);
}

static const ct__op op_inverse = {
    .name = "MatrixInverse", .infer = infer_square_same,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_matrix_inverse}, .grad = inverse_grad,
};

ct_tensor *ct_matrix_inverse(const ct_tensor *t) {
    return ct__run1(&op_inverse, "ct_matrix_inverse", 1, &t, NULL, 0);
}

/* ---- MatrixDeterminant, LogMatrixDeterminant -------------------------------------- */

static ct_status infer_det(ct__call *c) {
    const ct_tensor *t = c->in[0];
    ct_status st = need_float_matrix(c, t, true);
    if (st) return st;
    for (int i = 0; i < c->n_out; i++) spec_batch(&c->spec[i], t->dtype, t, 0, NULL);
    return CT_OK;
}

static ct_status det_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    ct_tensor *a = c->in[0];
    dx[0] = ct_multiply(per_matrix(ct_multiply(dy[0], c->out[0])), adj(ct_matrix_inverse(a)));
    return ct__grad_status(dx, 1);
}

static ct_status slogdet_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    dx[0] = ct_multiply(per_matrix(dy[1]), adj(ct_matrix_inverse(c->in[0])));
    return ct__grad_status(dx, 1);
}

static const ct__op op_det = {
    .name = "MatrixDeterminant", .infer = infer_det,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_matrix_determinant}, .grad = det_grad,
};
static const ct__op op_slogdet = {
    .name = "LogMatrixDeterminant", .infer = infer_det,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_log_matrix_determinant}, .grad = slogdet_grad,
};

ct_tensor *ct_matrix_determinant(const ct_tensor *t) {
    return ct__run1(&op_det, "ct_matrix_determinant", 1, &t, NULL, 0);
}

ct_status ct_log_matrix_determinant(const ct_tensor *t, ct_tensor **sign,
                                    ct_tensor **log_abs_det) {
    ct_tensor *out[2];
    if (!sign || !log_abs_det)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "ct_log_matrix_determinant: sign and log_abs_det must not be NULL");
    ct_status st = ct__run(&op_slogdet, "ct_log_matrix_determinant", 1, &t, NULL, 0, 2, out,
                           NULL);
    *sign = out[0];
    *log_abs_det = out[1];
    return st;
}

/* ---- Trace ------------------------------------------------------------------------ */

static ct_status infer_trace(ct__call *c) {
    const ct_tensor *t = c->in[0];
    ct_status st = ct__need_numeric(c, t);
    if (!st) st = need_matrix(c, t, false);
    if (!st) spec_batch(&c->spec[0], t->dtype, t, 0, NULL);
    return st;
}

static ct_status trace_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct_tensor *a = c->in[0];
    dx[0] = ct_multiply(per_matrix(dy[0]), mask(dy[0], rows(a), cols(a), M_EYE));
    return ct__grad_status(dx, 1);
}

static const ct__op op_trace = {
    .name = "Trace", .infer = infer_trace, .kernel = {[CT_DEVICE_CPU] = ct__cpu_trace},
    .grad = trace_grad,
};

ct_tensor *ct_trace(const ct_tensor *t) { return ct__run1(&op_trace, "ct_trace", 1, &t, NULL, 0); }

/* ---- Cholesky --------------------------------------------------------------------- */

static ct_status cholesky_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    ct_tensor *l = c->out[0];
    int64_t n = rows(l);
    /* l^{-H} ((l^H g) * (tril(ones) - eye / 2)) l^{-1}, symmetrised. */
    ct_tensor *linv = ct_triangular_solve(l, mask(l, n, n, M_EYE), false, false);
    ct_tensor *middle = masked(mm(l, dy[0], true, false), M_LOWER_HALF_DIAG);
    ct_tensor *g = mm(mm(linv, middle, true, false), linv, false, false);
    dx[0] = ct_multiply(ct_add(g, adj(g)), ct_scalar_of(l->dtype, 0.5));
    return ct__grad_status(dx, 1);
}

static const ct__op op_cholesky = {
    .name = "Cholesky", .infer = infer_square_same,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_cholesky}, .grad = cholesky_grad,
};

ct_tensor *ct_cholesky(const ct_tensor *t) {
    return ct__run1(&op_cholesky, "ct_cholesky", 1, &t, NULL, 0);
}

/* ---- SelfAdjointEigV2 (eigh) ------------------------------------------------------ */

static ct_status infer_eigh(ct__call *c) {
    const ct_tensor *t = c->in[0];
    ct_status st = need_float_matrix(c, t, true);
    if (st) return st;
    int64_t n = rows(t);
    spec_batch(&c->spec[0], t->dtype, t, 1, &n);
    ct__spec_set(&c->spec[1], t->dtype, t->rank, t->shape);
    return CT_OK;
}

static ct_status eigh_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    ct_tensor *e = c->out[0], *v = c->out[1];
    ct_tensor *inner = ct_add(mdiag(dy[0]), ct_multiply(f_matrix(e), mm(v, dy[1], true, false)));
    ct_tensor *g = mm(v, mm(inner, v, false, true), false, false);
    /* The kernel reads the lower triangle only: symmetrise into it. */
    dx[0] = masked(ct_add(g, adj(g)), M_LOWER_HALF_DIAG);
    return ct__grad_status(dx, 1);
}

static const ct__op op_eigh = {
    .name = "SelfAdjointEigV2", .infer = infer_eigh, .kernel = {[CT_DEVICE_CPU] = ct__cpu_eigh},
    .grad = eigh_grad,
};

ct_status ct_eigh(const ct_tensor *t, ct_tensor **eigenvalues, ct_tensor **eigenvectors) {
    ct_tensor *out[2];
    if (!eigenvalues)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_eigh: eigenvalues must not be NULL");
    ct_status st = ct__run(&op_eigh, "ct_eigh", 1, &t, NULL, 0, 2, out, NULL);
    *eigenvalues = out[0];
    if (eigenvectors) *eigenvectors = out[1];
    return st;
}

/* ---- Eig -------------------------------------------------------------------------- */

static ct_status infer_eig(ct__call *c) {
    const ct_tensor *t = c->in[0];
    ct_status st = need_float_matrix(c, t, true);
    if (st) return st;
    int64_t n = rows(t);
    spec_batch(&c->spec[0], t->dtype, t, 1, &n);
    spec_batch(&c->spec[1], t->dtype, t, 1, &n);
    ct__spec_set(&c->spec[2], t->dtype, t->rank, t->shape);
    ct__spec_set(&c->spec[3], t->dtype, t->rank, t->shape);
    return CT_OK;
}

static const ct__op op_eig = {
    .name = "Eig", .infer = infer_eig, .kernel = {[CT_DEVICE_CPU] = ct__cpu_eig},
};

ct_status ct_eig(const ct_tensor *t, ct_tensor **w_real, ct_tensor **w_imag, ct_tensor **v_real,
                 ct_tensor **v_imag) {
    ct_tensor *out[4];
    if (!w_real || !w_imag)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_eig: w_real and w_imag must not be NULL");
    ct_status st = ct__run(&op_eig, "ct_eig", 1, &t, NULL, 0, 4, out, NULL);
    *w_real = out[0];
    *w_imag = out[1];
    if (v_real) *v_real = out[2];
    if (v_imag) *v_imag = out[3];
    return st;
}

/* ---- Lu --------------------------------------------------------------------------- */

static ct_status infer_lu(ct__call *c) {
    const ct_tensor *t = c->in[0];
    ct_status st = need_float_matrix(c, t, true);
    if (st) return st;
    int64_t n = rows(t);
    ct__spec_set(&c->spec[0], t->dtype, t->rank, t->shape);
    spec_batch(&c->spec[1], CT_INT32, t, 1, &n);
    return CT_OK;
}

static const ct__op op_lu = {
    .name = "Lu", .infer = infer_lu, .kernel = {[CT_DEVICE_CPU] = ct__cpu_lu},
};

ct_status ct_lu(const ct_tensor *t, ct_tensor **lu, ct_tensor **p) {
    ct_tensor *out[2];
    if (!lu || !p) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_lu: lu and p must not be NULL");
    ct_status st = ct__run(&op_lu, "ct_lu", 1, &t, NULL, 0, 2, out, NULL);
    *lu = out[0];
    *p = out[1];
    return st;
}

/* ---- Qr --------------------------------------------------------------------------- */

static ct_status infer_qr(ct__call *c) {
    const ct__linalg_attrs *at = c->attrs;
    const ct_tensor *t = c->in[0];
    ct_status st = need_float_matrix(c, t, false);
    if (st) return st;
    int64_t m = rows(t), n = cols(t), k = m < n ? m : n, qc = at->full_matrices ? m : k;
    spec_batch(&c->spec[0], t->dtype, t, 2, (const int64_t[]){m, qc});
    spec_batch(&c->spec[1], t->dtype, t, 2, (const int64_t[]){qc, n});
    return CT_OK;
}

/* x r^{-H} for upper-triangular r (TF's _TriangularSolve in _QrGrad). */
static ct_tensor *solve_rt(const ct_tensor *x, const ct_tensor *r) {
    return adj(ct_triangular_solve(r, adj(x), true, false));
}

/* The gradient for m >= n, reduced (q is m x n, r is n x n). */
static ct_tensor *qr_grad_deep(const ct_tensor *q, const ct_tensor *r, const ct_tensor *dq,
                               const ct_tensor *dr) {
    ct_tensor *qdq = mm(q, dq, true, false);
    ct_tensor *rdr = mm(r, dr, false, true);
    ct_tensor *tril = masked(ct_add(ct_subtract(qdq, adj(qdq)), ct_subtract(rdr, adj(rdr))),
                             M_LOWER);
    ct_tensor *ga = mm(q, ct_add(dr, solve_rt(tril, r)), false, false);
    ct_tensor *gb = solve_rt(ct_subtract(dq, mm(q, qdq, false, false)), r);
    return ct_add(ga, gb);
}

static ct_status qr_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    ct_tensor *a = c->in[0], *q = c->out[0], *r = c->out[1];
    int64_t m = rows(a), n = cols(a);
    if (m > n && cols(q) == m)
        return ct__call_error(c, CT_ERR_UNIMPLEMENTED, "the QR gradient is not implemented when "
                              "rows > columns and full_matrices is true (input %s)",
                              CT__DESC(a));
    if (m >= n) {
        dx[0] = qr_grad_deep(q, r, dy[0], dy[1]);
        return ct__grad_status(dx, 1);
    }
    /* Wide: a = [x, y], r = [u, v]; reduce to the square case. */
    ct_tensor *y = take_cols(a, m, n - m), *u = take_cols(r, 0, m);
    ct_tensor *dv = take_cols(dy[1], m, n - m), *du = take_cols(dy[1], 0, m);
    ct_tensor *gy = mm(q, dv, false, false);
    ct_tensor *gx = qr_grad_deep(q, u, ct_add(dy[0], mm(y, dv, false, true)), du);
    dx[0] = ct_add(place_cols(gx, 0, n), place_cols(gy, m, n));
    return ct__grad_status(dx, 1);
}

static const ct__op op_qr = {
    .name = "Qr", .infer = infer_qr, .kernel = {[CT_DEVICE_CPU] = ct__cpu_qr}, .grad = qr_grad,
};

ct_status ct_qr(const ct_tensor *t, bool full_matrices, ct_tensor **q, ct_tensor **r) {
    ct_tensor *out[2];
    if (!q || !r) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_qr: q and r must not be NULL");
    ct__linalg_attrs at = {.full_matrices = full_matrices};
    ct_status st = ct__run(&op_qr, "ct_qr", 1, &t, &at, sizeof at, 2, out, NULL);
    *q = out[0];
    *r = out[1];
    return st;
}

/* ---- Svd -------------------------------------------------------------------------- */

static ct_status infer_svd(ct__call *c) {
    const ct__linalg_attrs *at = c->attrs;
    const ct_tensor *t = c->in[0];
    ct_status st = need_float_matrix(c, t, false);
    if (st) return st;
    int64_t m = rows(t), n = cols(t), k = m < n ? m : n;
    spec_batch(&c->spec[0], t->dtype, t, 1, &k);
    if (at->compute_uv) {
        int64_t ucol = at->full_matrices ? m : k, vcol = at->full_matrices ? n : k;
        spec_batch(&c->spec[1], t->dtype, t, 2, (const int64_t[]){m, ucol});
        spec_batch(&c->spec[2], t->dtype, t, 2, (const int64_t[]){n, vcol});
    }
    return CT_OK;
}

static ct_status svd_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx);

static const ct__op op_svd = {
    .name = "Svd", .infer = infer_svd, .kernel = {[CT_DEVICE_CPU] = ct__cpu_svd},
    .grad = svd_grad,
};

static ct_status svd_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct__linalg_attrs *at = c->attrs;
    ct_tensor *a = c->in[0], *gs = dy[0];
    if (!at->compute_uv) {
        /* Recompute u and v (reduced) and take u diag(gs) v^T. */
        ct_tensor *out[3];
        ct__linalg_attrs uv = {.compute_uv = true};
        ct_status st = ct__run(&op_svd, "ct_svd", 1, (const ct_tensor *const *)&a, &uv,
                               sizeof uv, 3, out, NULL);
        if (st) return st;
        dx[0] = mm(out[1], mm(mdiag(gs), out[2], false, true), false, false);
        return ct__grad_status(dx, 1);
    }
    ct_tensor *s = c->out[0], *u = c->out[1], *v = c->out[2], *gu = dy[1], *gv = dy[2];
    int64_t m = rows(a), n = cols(a);
    bool use_adjoint = m > n;
    if (use_adjoint) {
        /* The gradient of a^H = v s u^H, transposed at the end. */
        int64_t t = m;
        m = n;
        n = t;
        ct_tensor *x = u;
        u = v;
        v = x;
        x = gu;
        gu = gv;
        gv = x;
    }
    if (at->full_matrices && n - m > 1)
        return ct__call_error(c, CT_ERR_UNIMPLEMENTED, "the SVD gradient is not implemented for "
                              "|rows - columns| > 1 with full_matrices (input %s)", CT__DESC(a));
    ct_tensor *s_mat = mdiag(s);
    ct_tensor *f = f_matrix(ct_square(s));
    ct_tensor *v1 = n > m ? take_cols(v, 0, m) : v, *gv1 = n > m ? take_cols(gv, 0, m) : gv;
    ct_tensor *f_u = ct_multiply(f, mm(u, gu, true, false));
    ct_tensor *f_v = ct_multiply(f, mm(v1, gv1, true, false));
    ct_tensor *t1 = ct_add(ct_add(mdiag(gs), mm(ct_add(f_u, adj(f_u)), s_mat, false, false)),
                           mm(s_mat, ct_add(f_v, adj(f_v)), false, false));
    ct_tensor *g = mm(u, mm(t1, v1, false, true), false, false);
    if (m != n) {
        ct_tensor *gv1t = adj(gv1);
        ct_tensor *t2 = ct_subtract(gv1t, mm(mm(gv1t, v1, false, false), v1, false, true));
        if (at->full_matrices) {
            ct_tensor *v2 = take_cols(v, m, n - m), *gv2 = take_cols(gv, m, n - m);
            t2 = ct_subtract(t2, mm(mm(v1, gv2, true, false), v2, false, true));
        }
        ct_tensor *u_s_inv = mm(u, mdiag(safe_recip(s)), false, false);
        g = ct_add(g, mm(u_s_inv, t2, false, false));
    }
    dx[0] = use_adjoint ? adj(g) : g;
    return ct__grad_status(dx, 1);
}

ct_status ct_svd(const ct_tensor *t, bool full_matrices, ct_tensor **s, ct_tensor **u,
                 ct_tensor **v) {
    ct_tensor *out[3] = {NULL, NULL, NULL};
    if (!s) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_svd: s must not be NULL");
    bool uv = u || v;
    ct__linalg_attrs at = {.full_matrices = full_matrices && uv, .compute_uv = uv};
    ct_status st = ct__run(&op_svd, "ct_svd", 1, &t, &at, sizeof at, uv ? 3 : 1, out, NULL);
    *s = out[0];
    if (u) *u = out[1];
    if (v) *v = out[2];
    return st;
}

/* ---- MatrixSolve ------------------------------------------------------------------ */

static ct_status infer_solve(ct__call *c) {
    const ct_tensor *a = c->in[0], *b = c->in[1];
    ct_status st = need_float_matrix(c, a, true);
    if (!st) st = ct__need_same_dtype(c, a, b);
    if (!st) st = need_matrix(c, b, false);
    if (st) return st;
    if (rows(b) != rows(a))
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "matrix %s and rhs %s have different numbers of rows", CT__DESC(a),
                              CT__DESC(b));
    /* Like TF's MatrixSolve, no broadcasting of the batch dims. */
    bool same = a->rank == b->rank;
    for (int i = 0; same && i < a->rank - 2; i++) same = a->shape[i] == b->shape[i];
    if (!same)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "matrix %s and rhs %s must have the same batch dimensions",
                              CT__DESC(a), CT__DESC(b));
    ct__spec_set(&c->spec[0], b->dtype, b->rank, b->shape);
    return CT_OK;
}

static ct_status solve_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct__linalg_attrs *at = c->attrs;
    ct_tensor *a = c->in[0], *x = c->out[0];
    dx[1] = ct_matrix_solve(a, dy[0], !at->adjoint);
    dx[0] = ct_negative(at->adjoint ? mm(x, dx[1], false, true) : mm(dx[1], x, false, true));
    return ct__grad_status(dx, 2);
}

static const ct__op op_solve = {
    .name = "MatrixSolve", .infer = infer_solve,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_matrix_solve}, .grad = solve_grad,
};

ct_tensor *ct_matrix_solve(const ct_tensor *matrix, const ct_tensor *rhs, bool adjoint) {
    const ct_tensor *in[2] = {matrix, rhs};
    ct__linalg_attrs at = {.adjoint = adjoint};
    return ct__run1(&op_solve, "ct_matrix_solve", 2, in, &at, sizeof at);
}

/* ---- MatrixTriangularSolve -------------------------------------------------------- */

static ct_status infer_trisolve(ct__call *c) {
    const ct_tensor *a = c->in[0], *b = c->in[1];
    ct_status st = need_float_matrix(c, a, true);
    if (!st) st = ct__need_same_dtype(c, a, b);
    if (!st) st = need_matrix(c, b, false);
    if (st) return st;
    if (rows(b) != rows(a))
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "matrix %s and rhs %s have different numbers of rows", CT__DESC(a),
                              CT__DESC(b));
    int r;
    int64_t shape[CT_MAX_RANK];
    if ((st = ct__broadcast_shapes(c, a->rank - 2, a->shape, b->rank - 2, b->shape, &r, shape)))
        return st;
    shape[r] = rows(b);
    shape[r + 1] = cols(b);
    ct__spec_set(&c->spec[0], b->dtype, r + 2, shape);
    return CT_OK;
}

static ct_status trisolve_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct__linalg_attrs *at = c->attrs;
    ct_tensor *a = c->in[0], *b = c->in[1], *x = c->out[0];
    ct_tensor *gb = ct_triangular_solve(a, dy[0], !at->lower, !at->adjoint);
    ct_tensor *ga = ct_negative(at->adjoint ? mm(x, gb, false, true) : mm(gb, x, false, true));
    dx[0] = ct__unbroadcast(masked(ga, at->lower ? M_LOWER : M_UPPER), a->rank, a->shape);
    dx[1] = ct__unbroadcast(gb, b->rank, b->shape);
    return ct__grad_status(dx, 2);
}

static const ct__op op_trisolve = {
    .name = "MatrixTriangularSolve", .infer = infer_trisolve,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_triangular_solve}, .grad = trisolve_grad,
};

ct_tensor *ct_triangular_solve(const ct_tensor *matrix, const ct_tensor *rhs, bool upper,
                               bool adjoint) {
    const ct_tensor *in[2] = {matrix, rhs};
    ct__linalg_attrs at = {.lower = !upper, .adjoint = adjoint};
    return ct__run1(&op_trisolve, "ct_triangular_solve", 2, in, &at, sizeof at);
}

/* ---- norm ------------------------------------------------------------------------- */

/* x with axis0 (or axes 0 and 1 for the matrix 2-norm) kept as size 1. */
static ct_status infer_norm_helper(ct__call *c) {
    const ct__linalg_attrs *at = c->attrs;
    const ct_tensor *t = c->in[0];
    int64_t shape[CT_MAX_RANK];
    memcpy(shape, t->shape, (size_t)t->rank * sizeof *shape);
    shape[at->axis0] = 1;
    if (c->op->code) shape[at->axis1] = 1;
    ct__spec_set(&c->spec[0], t->dtype, t->rank, shape);
    return CT_OK;
}

static ct_status infer_norm2_dir(ct__call *c) {
    const ct_tensor *t = c->in[0];
    ct__spec_set(&c->spec[0], t->dtype, t->rank, t->shape);
    return CT_OK;
}

/* TF's reduce_max gradient: dy shared equally among the maxima. */
static ct_status norm_max_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct__linalg_attrs *at = c->attrs;
    ct_tensor *x = c->in[0];
    ct_tensor *ind = ct_cast(ct_equal(c->out[0], x), x->dtype);
    ct_tensor *num = ct_reduce_sum(ind, &at->axis0, 1, true);
    dx[0] = ct_multiply(ct_divide(ind, num), dy[0]);
    return ct__grad_status(dx, 1);
}

static const ct__op op_norm2_dir = {
    .name = "MatrixNorm2Grad", .infer = infer_norm2_dir,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_matrix_norm2_dir},
};

static ct_status norm2_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    dx[0] = ct_multiply(dy[0], ct__run1(&op_norm2_dir, "ct_norm", 1,
                                        (const ct_tensor *const *)c->in, c->attrs,
                                        c->attrs_size));
    return ct__grad_status(dx, 1);
}

static const ct__op op_norm_max = {
    .name = "Max", .infer = infer_norm_helper, .kernel = {[CT_DEVICE_CPU] = ct__cpu_norm_max},
    .grad = norm_max_grad, .code = 0,
};
static const ct__op op_norm2 = {
    .name = "MatrixNorm2", .infer = infer_norm_helper,
    .kernel = {[CT_DEVICE_CPU] = ct__cpu_matrix_norm2}, .grad = norm2_grad, .code = 1,
};

static ct_tensor *norm_max(const ct_tensor *t, int axis) {
    ct__linalg_attrs at = {.axis0 = axis};
    return ct__run1(&op_norm_max, "ct_norm", 1, &t, &at, sizeof at);
}

/* tf.norm: composed of public ops as TF composes it, so its gradient is
 * TF's (NaN at 0 for the euclidean norm, as TF). */
ct_tensor *ct_norm(const ct_tensor *t, double ord, const int *axes, int naxes, bool keepdims) {
    if (!t) return ct_abs(t);
    ct__call c = {.api = "ct_norm"};
    bool all = !axes || naxes < 0, matrix = !all && naxes == 2;
    int ax[2] = {0, 0};
    if (!all && naxes != 1 && naxes != 2) {
        ct__call_error(&c, CT_ERR_INVALID_ARGUMENT, "'axis' must be None, an integer, or a "
                       "tuple of 2 unique integers, got %d axes", naxes);
        return NULL;
    }
    for (int i = 0; !all && i < naxes; i++)
        if (ct__axis(&c, axes[i], t->rank, &ax[i])) return NULL;
    if (matrix && ax[0] == ax[1]) {
        ct__call_error(&c, CT_ERR_INVALID_ARGUMENT, "'axis' must be None, an integer, or a "
                       "tuple of 2 unique integers, got (%d, %d)", axes[0], axes[1]);
        return NULL;
    }
    if (matrix ? !(ord == 0 || ord == 1 || ord == 2 || ord == INFINITY) : !(ord >= 0)) {
        ct__call_error(&c, CT_ERR_INVALID_ARGUMENT, matrix
                       ? "'ord' must be a supported matrix norm in ['euclidean', 'fro', 1, 2, "
                         "inf], got %g" : "'ord' must be a supported vector norm, got %g", ord);
        return NULL;
    }
    if (ct__need_float(&c, t)) return NULL;

    /* The reduced axes and the result's shape. */
    int red[CT_MAX_RANK], nred = 0;
    if (all) {
        for (int i = 0; i < t->rank; i++) red[nred++] = i;
    } else {
        for (int i = 0; i < naxes; i++) red[nred++] = ax[i];
    }
    int64_t kshape[CT_MAX_RANK], oshape[CT_MAX_RANK];
    int orank = 0;
    for (int i = 0; i < t->rank; i++) {
        bool r = false;
        for (int j = 0; j < nred; j++) r |= red[j] == i;
        kshape[i] = r ? 1 : t->shape[i];
        if (!r) oshape[orank++] = t->shape[i];
    }

    ct_tensor *res;
    if (ord == 0 || (ord == 2 && !matrix)) {
        res = ct_sqrt(ct_reduce_sum(ct_multiply(t, t), red, nred, true));
    } else if (ord == 2) {
        ct__linalg_attrs at = {.axis0 = ax[0], .axis1 = ax[1]};
        res = ct__run1(&op_norm2, "ct_norm", 1, &t, &at, sizeof at);
    } else if (ord == 1 && matrix) {
        res = norm_max(ct_reduce_sum(ct_abs(t), &ax[0], 1, true), ax[1]);
    } else if (ord == INFINITY && matrix) {
        res = norm_max(ct_reduce_sum(ct_abs(t), &ax[1], 1, true), ax[0]);
    } else if (ord == 1) {
        res = ct_reduce_sum(ct_abs(t), red, nred, true);
    } else if (ord == INFINITY) {
        if (all) {
            int64_t n = t->size;
            res = ct_reshape(norm_max(ct_reshape(ct_abs(t), 1, &n), 0), t->rank, kshape);
        } else {
            res = norm_max(ct_abs(t), ax[0]);
        }
    } else {
        ct_tensor *p = ct_scalar_of(t->dtype, ord);
        res = ct_pow(ct_reduce_sum(ct_pow(ct_abs(t), p), red, nred, true),
                     ct_scalar_of(t->dtype, 1.0 / ord));
    }
    return keepdims ? res : ct_reshape(res, orank, oshape);
}
