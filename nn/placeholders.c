/*
 * TEMPORARY (development only; removed before the nn blocks land): weak
 * stand-ins so that every part of nn/ links while the others are written.
 * A real definition anywhere in the library overrides these.
 */
#include "nn/internal.h"

#define WEAK __attribute__((weak))

WEAK const ct__layer_vt *const ct__core_layers[] = {NULL};
WEAK const ct__layer_vt *const ct__merge_layers[] = {NULL};
WEAK const ct__layer_vt *const ct__reshape_layers[] = {NULL};
WEAK const ct__layer_vt *const ct__conv_layers[] = {NULL};
WEAK const ct__layer_vt *const ct__pool_layers[] = {NULL};
WEAK const ct__layer_vt *const ct__norm_layers[] = {NULL};
