/* The elementwise op families: codes shared by definitions and kernels. */
#ifndef CT_OPS_ELEMENTWISE_H
#define CT_OPS_ELEMENTWISE_H

#include "ops/op.h"

typedef enum {
    CT__ADD, CT__SUB, CT__MUL, CT__DIV, CT__FLOORDIV, CT__FLOORMOD, CT__POW, CT__MAX,
    CT__MIN, CT__SQDIFF, CT__RELU_GRAD,
    /* results are bool from here on */
    CT__EQ, CT__NE, CT__LT, CT__LE, CT__GT, CT__GE, CT__AND, CT__OR, CT__XOR,
    CT__NUM_BINARY
} ct__binary_code;

typedef enum {
    CT__NEG, CT__ABS, CT__SIGN, CT__SQRT, CT__RSQRT, CT__SQUARE, CT__RECIP, CT__EXP,
    CT__EXPM1, CT__LOG, CT__LOG1P, CT__SIN, CT__COS, CT__TANH, CT__SIGMOID, CT__RELU,
    CT__SOFTPLUS, CT__ERF, CT__FLOOR, CT__CEIL, CT__ROUND,
    /* results are bool from here on */
    CT__ISNAN, CT__ISINF, CT__ISFINITE, CT__NOT,
    CT__NUM_UNARY
} ct__unary_code;

/* A broadcast iteration plan: output dims collapsed where both inputs
 * are contiguous, with element strides (0 on broadcast axes). */
typedef struct ct__bplan {
    int rank;
    int64_t shape[CT_MAX_RANK];
    int64_t sa[CT_MAX_RANK], sb[CT_MAX_RANK];
    int64_t total;
} ct__bplan;

void ct__bplan_make(ct__bplan *p, const ct_tensor *a, const ct_tensor *b, const ct_tensor *out);

/* ReluGrad(dy, x) = x > 0 ? dy : 0 (TF's), for fused ops' gradients. */
extern const ct__op ct__op_relu_grad;

ct_status ct__cpu_binary(ct__call *c);
ct_status ct__cpu_unary(ct__call *c);

#endif
