/* tf.linalg: the attributes and CPU kernels shared by the definitions
 * (ops/linalg.c) and the kernels (ops/cpu/linalg.c). */
#ifndef CT_OPS_LINALG_H
#define CT_OPS_LINALG_H

#include "ops/op.h"

/* One attribute struct for the linalg family; each op reads its fields. */
typedef struct {
    bool adjoint;       /* MatrixSolve, MatrixTriangularSolve                  */
    bool lower;         /* MatrixTriangularSolve                               */
    bool full_matrices; /* Qr, Svd                                             */
    bool compute_uv;    /* Svd                                                 */
    int axis0, axis1;   /* norm helpers: the (normalised) axes they work on    */
} ct__linalg_attrs;

ct_status ct__cpu_matrix_transpose(ct__call *c);
ct_status ct__cpu_matrix_inverse(ct__call *c);
ct_status ct__cpu_matrix_determinant(ct__call *c);
ct_status ct__cpu_log_matrix_determinant(ct__call *c);
ct_status ct__cpu_trace(ct__call *c);
ct_status ct__cpu_cholesky(ct__call *c);
ct_status ct__cpu_eigh(ct__call *c);
ct_status ct__cpu_eig(ct__call *c);
ct_status ct__cpu_lu(ct__call *c);
ct_status ct__cpu_qr(ct__call *c);
ct_status ct__cpu_svd(ct__call *c);
ct_status ct__cpu_matrix_solve(ct__call *c);
ct_status ct__cpu_triangular_solve(ct__call *c);
/* Max over axis0, kept as size 1 (NaN propagates). */
ct_status ct__cpu_norm_max(ct__call *c);
/* Largest singular value of the matrices on axes (axis0, axis1), which are
 * kept as size 1; and the gradient direction of that value (x's shape). */
ct_status ct__cpu_matrix_norm2(ct__call *c);
ct_status ct__cpu_matrix_norm2_dir(ct__call *c);

#endif
