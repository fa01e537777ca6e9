/*
 * Fused batch normalization, channels last (TensorFlow's FusedBatchNormV3
 * and FusedBatchNormGradV3 with data_format NHWC, generalised to any rank
 * >= 1): the statistics are per channel (the last axis) over every other
 * axis. Private to the library (Keras's BatchNormalization uses it for
 * axis=-1); no public name.
 *
 * Legend: x is [rows..., C]; gamma, beta, mean and var are [C]; N is the
 * number of elements per channel (x's size / C).
 *
 *   FusedBatchNormV3, training:  in (x, gamma, beta), out (y, mean, var)
 *       mean = sum(x) / N, var = sum((x - mean)^2) / N (population),
 *       y = x * s + (beta - mean * s) with s = gamma * rsqrt(var + eps)
 *       (tf.nn.batch_normalization's arrangement). An empty batch gives
 *       NaN statistics, as TF's kernel and the composite do.
 *   FusedBatchNormV3, inference: in (x, gamma, beta, mean, var), out (y)
 *       the same y with the given statistics.
 *   FusedBatchNormGradV3, training: in (dy, x, gamma, mean, var, dmean,
 *       dvar), out (dx, dgamma, dbeta), with xhat = (x - mean) * inv_std,
 *       inv_std = rsqrt(var + eps):
 *         dbeta  = sum(dy), dgamma = sum(dy * xhat),
 *         dx = gamma * inv_std * (dy - dbeta / N - xhat * dgamma / N)
 *              + dmean / N + 2 dvar (x - mean) / N
 *       (the last two terms carry gradients that reach the batch mean and
 *       variance outputs; TF drops them, and they are zero in Keras, which
 *       only feeds the statistics to the moving averages).
 *   FusedBatchNormGradV3, inference: in (dy, x, gamma, mean, var), out
 *       (dx, dgamma, dbeta), dx = gamma * inv_std * dy.
 *
 * The gradient of FusedBatchNormGradV3 (second order) is not implemented:
 * asking for it is an error naming the op (TF has one; it is rarely used).
 */
#ifndef CT_OPS_BATCH_NORM_H
#define CT_OPS_BATCH_NORM_H

#include "ops/op.h"

typedef struct ct__batch_norm_attrs {
    double epsilon;
    int64_t training; /* 1: batch statistics; 0: the given mean and variance */
} ct__batch_norm_attrs;

extern const ct__op ct__op_fused_batch_norm, ct__op_fused_batch_norm_grad;

/* Training: y and the batch mean and population variance ([C]), all owned
 * by the innermost scope. x is float with rank >= 1; gamma and beta are
 * [C] of x's dtype. On error all three are NULL and the status is set. */
ct_status ct__fused_batch_norm(const ct_tensor *x, const ct_tensor *gamma,
                               const ct_tensor *beta, double epsilon, ct_tensor **y,
                               ct_tensor **mean, ct_tensor **variance);
/* Inference: y normalized with the given mean and variance ([C]). */
ct_tensor *ct__fused_batch_norm_inference(const ct_tensor *x, const ct_tensor *gamma,
                                          const ct_tensor *beta, const ct_tensor *mean,
                                          const ct_tensor *variance, double epsilon);

/* CPU kernels (ops/cpu/batch_norm.c), float32 and float64. */
ct_status ct__cpu_fused_batch_norm(ct__call *c);
ct_status ct__cpu_fused_batch_norm_grad(ct__call *c);

#endif
