/* Attributes of the creation ops (ops/creation.c), shared with their
 * device kernels (ops/cuda/creation.cu). Plain structs: tapes keep byte
 * copies. */
#ifndef CT_OPS_CREATION_H
#define CT_OPS_CREATION_H

#include <stdint.h>

#include "ctrain/runtime.h"

/* Fill: a new tensor of dtype and shape with every element `value`
 * stored as ct__store() stores a double. */
typedef struct ct__fill_attrs {
    ct_dtype dtype;
    int rank;
    int64_t shape[CT_MAX_RANK];
    double value;
} ct__fill_attrs;

/* Cast: the input converted to dtype with ct__convert()'s rules. */
typedef struct ct__cast_attrs {
    ct_dtype dtype;
} ct__cast_attrs;

#endif
