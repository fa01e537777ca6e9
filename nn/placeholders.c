/*
 * TEMPORARY (development only; removed before the nn blocks land): weak
 * stand-ins so that every part of nn/ links while the others are written.
 * A real definition anywhere in the library overrides these.
 */
#include "nn/internal.h"

#define WEAK __attribute__((weak))
#define TODO(what) ct__error(CT_ERR_UNIMPLEMENTED, "%s is not written yet", what)

WEAK ct_status ct__activation_from_json(const json_t *j, ct_activation_fn *out, const char *w) {
    (void)j, (void)out;
    return TODO(w);
}
WEAK ct_status ct__initializer_from_json(const json_t *j, ct_initializer *out, const char *w) {
    (void)j, (void)out;
    return TODO(w);
}
WEAK json_t *ct__initializer_to_json(const ct_initializer *init) {
    (void)init;
    return json_null();
}
WEAK ct_status ct__regularizer_from_json(const json_t *j, ct_regularizer *out, const char *w) {
    (void)j, (void)out;
    return TODO(w);
}
WEAK json_t *ct__regularizer_to_json(const ct_regularizer *r) {
    (void)r;
    return json_null();
}
WEAK ct_status ct__constraint_from_json(const json_t *j, ct_constraint *out, const char *w) {
    (void)j, (void)out;
    return TODO(w);
}
WEAK json_t *ct__constraint_to_json(const ct_constraint *c) {
    (void)c;
    return json_null();
}
WEAK ct_activation_fn ct_activation_get(const char *name) {
    TODO(name ? name : "activation");
    return NULL;
}
WEAK const char *ct_activation_name(ct_activation_fn fn) {
    (void)fn;
    return NULL;
}
WEAK ct_tensor *ct_initializer_call(const ct_initializer *init, ct_dtype dtype, int rank,
                                    const int64_t *shape) {
    (void)init, (void)dtype, (void)rank, (void)shape;
    TODO("ct_initializer_call");
    return NULL;
}
WEAK ct_tensor *ct_regularizer_call(const ct_regularizer *r, const ct_tensor *w) {
    (void)r, (void)w;
    TODO("ct_regularizer_call");
    return NULL;
}
WEAK ct_tensor *ct_constraint_call(const ct_constraint *c, const ct_tensor *w) {
    (void)c, (void)w;
    TODO("ct_constraint_call");
    return NULL;
}
WEAK const ct__layer_vt *const ct__core_layers[] = {NULL};
WEAK const ct__layer_vt *const ct__merge_layers[] = {NULL};
WEAK const ct__layer_vt *const ct__reshape_layers[] = {NULL};
WEAK const ct__layer_vt *const ct__conv_layers[] = {NULL};
WEAK const ct__layer_vt *const ct__pool_layers[] = {NULL};
WEAK const ct__layer_vt *const ct__norm_layers[] = {NULL};
