/*
 * tf.data.Dataset.reduce: folds fn over the elements, starting from
 * `initial`. As TF, the new state must keep the initial state's structure
 * and dtypes (its shapes may change).
 */
#include <stdlib.h>

#include "data/internal.h"

ct_status ct_dataset_reduce(ct_dataset *ds, const ct_element *initial, ct_reduce_fn fn, void *ctx,
                            ct_element **result) {
    const char *api = "ct_dataset_reduce";
    if (!result) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: NULL result", api);
    *result = NULL;
    if (ct__dataset_null(ds, api)) return ct_last_status();
    if (!initial || !fn) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: NULL initial state or function", api);
    for (int i = 0; i < initial->n; i++)
        if (!initial->t[i]) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: component %d of the initial state is NULL", api, i);
    ct_element *state = ct_element_copy(initial);
    if (!state) return ct_last_status();
    ct_iterator *it = ct_dataset_iterator(ds);
    if (!it) {
        ct_element_free(state);
        return ct_last_status();
    }
    ct_status st = CT_OK;
    for (;;) {
        ct_element *e;
        st = ct_iterator_next(it, &e);
        if (st || !e) break;
        ct_element *next = NULL;
        st = fn(state, e, ctx, &next);
        ct_element_free(e);
        if (!st && !next)
            st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the reduce function returned no state", api);
        if (!st && next->n != state->n)
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "%s: The element classes for the new state must match the initial "
                           "state: expected %d components, got %d.", api, state->n, next->n);
        for (int i = 0; !st && i < next->n; i++) {
            if (!next->t[i])
                st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: component %d of the new state is NULL",
                               api, i);
            else if (next->t[i]->dtype != state->t[i]->dtype)
                st = ct__error(CT_ERR_INVALID_ARGUMENT,
                               "%s: The element types for the new state must match the initial "
                               "state. Expected %s; got %s (component %d).", api,
                               ct_dtype_name(state->t[i]->dtype), ct_dtype_name(next->t[i]->dtype), i);
        }
        if (st) {
            if (next) {
                /* A half-built state may hold NULL components. */
                for (int i = 0; i < next->n; i++)
                    if (next->t[i]) ct__tensor_release(next->t[i]);
                free(next);
            }
            break;
        }
        ct_element_free(state);
        state = next;
    }
    ct_iterator_free(it);
    if (st) {
        ct_element_free(state);
        return st;
    }
    *result = state;
    return CT_OK;
}
