/* Pooling (tf.nn.max_pool, avg_pool): the attributes and ops shared by the
 * definitions (ops/pool.c) and the CPU kernels (ops/cpu/pool.c). Window
 * arithmetic and geometry are convolution's (ops/conv.h) with one group,
 * unit dilation and as many output channels as input channels.
 *
 * Ops, closed under differentiation:
 *   MaxPool          y  = max over each window of x
 *   MaxPoolGrad      dx = dy routed to each window's first maximum of x
 *   MaxPoolGradGrad  gy = g gathered from each window's first maximum of x
 *   AvgPool          y  = mean over each window's elements inside x
 *   AvgPoolGrad      dx = dy spread evenly over those elements (x's shape in
 *                         the attrs)
 */
#ifndef CT_OPS_POOL_H
#define CT_OPS_POOL_H

#include "ops/conv.h"

typedef struct ct__pool_attrs {
    int nsp;                 /* spatial dimensions, 1..3                   */
    int padding;             /* CT__PAD_VALID or CT__PAD_SAME              */
    int64_t k[3], s[3];      /* window and strides, >= 1                   */
    int rank;                /* AvgPoolGrad: the shape of x                */
    int64_t shape[CT_MAX_RANK];
} ct__pool_attrs;

/* The geometry of pooling x (rank xrank = nsp + 2, shape xs). */
ct_status ct__pool_geom_of(const ct__call *c, const ct__pool_attrs *a, int xrank,
                           const int64_t *xs, ct__conv_geom *g);

extern const ct__op ct__op_max_pool, ct__op_max_pool_grad, ct__op_max_pool_grad_grad,
    ct__op_avg_pool, ct__op_avg_pool_grad;

/* CPU kernels (ops/cpu/pool.c); op->code tells max (0) from avg (1). */
ct_status ct__cpu_pool(ct__call *c);
ct_status ct__cpu_max_pool_grad(ct__call *c);
ct_status ct__cpu_max_pool_grad_grad(ct__call *c);
ct_status ct__cpu_avg_pool_grad(ct__call *c);

#endif
