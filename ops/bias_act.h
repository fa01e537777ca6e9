/*
 * act(x + bias) in one pass over x (bias along the last axis): what TF's
 * grappler makes of BiasAdd followed by Relu / Sigmoid / Tanh, and what the
 * Dense and Conv layers call instead of bias_add and an activation. Private
 * to ctrain.
 */
#ifndef CT_OPS_BIAS_ACT_H
#define CT_OPS_BIAS_ACT_H

#include "ops/op.h"

typedef enum { CT__ACT_LINEAR, CT__ACT_RELU, CT__ACT_SIGMOID, CT__ACT_TANH } ct__act_kind;

/* x [..., C] (rank >= 1), bias [C] of x's dtype or NULL. Differentiable in
 * both: the gradient is the activation's (one pass, from the output) and
 * the bias's sum over every axis but the last. */
ct_tensor *ct__bias_activation(const ct_tensor *x, const ct_tensor *bias, ct__act_kind act);

#endif
