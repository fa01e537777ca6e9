/* The CUDA kernels of ops defined in the C files of ops/: the functions
 * their CT__CUDA() kernel slots name. Defined in the .cu files of
 * ops/cuda, built only with CT_CUDA=ON (CT__CUDA() drops the reference
 * otherwise). */
#ifndef CT_OPS_CUDA_KERNELS_H
#define CT_OPS_CUDA_KERNELS_H

#include "ops/op.h"

#ifdef __cplusplus
extern "C" {
#endif

ct_status ct__cuda_binary(ct__call *c); /* the binary family (ops/elementwise.c) */
ct_status ct__cuda_matmul(ct__call *c); /* MatMul on cuBLAS (ops/matmul.c)        */
ct_status ct__cuda_fill(ct__call *c);  /* Fill, every dtype (ops/creation.c)   */
ct_status ct__cuda_cast(ct__call *c);  /* Cast, every pair of dtypes           */
ct_status ct__cuda_unary(ct__call *c); /* the unary family (ops/elementwise.c) */

#ifdef __cplusplus
}
#endif

#endif
