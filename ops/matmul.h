/* MatMul (BatchMatMulV2): the attributes and the shape rule shared by the
 * definition (ops/matmul.c) and the kernels (ops/cpu/matmul.c, ops/cuda).
 *
 * Shapes: a is [..., M, K] (or [..., K, M] with transpose_a), b is
 * [..., K, N] (or [..., N, K] with transpose_b); the batch dims ("...")
 * broadcast by numpy's rules and the output is [batch..., M, N]. */
#ifndef CT_OPS_MATMUL_H
#define CT_OPS_MATMUL_H

#include "ops/op.h"

typedef struct {
    bool transpose_a, transpose_b;
} ct__matmul_attrs;

/* The geometry of one matmul call, derived from the inputs and attrs. */
typedef struct ct__matmul_dims {
    int64_t m, n, k;          /* out[b] = op(a[b]) [m, k] x op(b[b]) [k, n]       */
    int64_t batch;            /* number of output matrices                        */
    int brank;                /* rank of the broadcast batch shape                */
    int64_t bshape[CT_MAX_RANK];
    int64_t a_batch, b_batch; /* number of matrices stored in a and in b          */
} ct__matmul_dims;

/* Fills d from a call's inputs (shapes already validated by infer). */
void ct__matmul_dims_of(const ct__call *c, ct__matmul_dims *d);
/* The index of output matrix `i`'s operand in a (which = 0) or b (which =
 * 1), following the broadcast of the batch dims. */
int64_t ct__matmul_batch_index(const ct__call *c, const ct__matmul_dims *d, int which, int64_t i);

extern const ct__op ct__op_matmul;
/* The CPU kernel (ops/cpu/matmul.c). */
ct_status ct__cpu_matmul(ct__call *c);

#endif
