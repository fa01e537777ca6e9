/*
 * Variables: the one mutable container. A variable owns a value tensor
 * whose identity (id) stays fixed, so tapes can key gradients on it; an
 * assignment points that tensor at new immutable storage. Tensors read
 * earlier keep the storage they saw, which gives copy-on-write for free.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/internal.h"

ct_variable *ct_variable_new(const ct_tensor *initial, const ct_variable_opts *opts) {
    if (!initial) {
        if (!ct_last_status())
            ct__error(CT_ERR_INVALID_ARGUMENT, "ct_variable_new: NULL initial value");
        return NULL;
    }
    ct_variable *v = calloc(1, sizeof *v);
    const char *name = opts && opts->name ? opts->name : "Variable";
    if (v) v->name = strdup(name);
    if (!v || !v->name) {
        if (v) free(v);
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_variable_new: out of host memory");
        return NULL;
    }
    v->trainable = !(opts && opts->non_trainable);
    v->value = ct__tensor_view(initial, initial->rank, initial->shape, initial->offset);
    if (!v->value) {
        free(v->name);
        free(v);
        return NULL;
    }
    v->value->var = v;
    return v;
}

void ct_variable_free(ct_variable *v) {
    if (!v) return;
    /* Tapes may still hold the value tensor; it outlives the variable as a
     * plain tensor then. */
    v->value->var = NULL;
    ct__tensor_release(v->value);
    free(v->name);
    free(v);
}

ct_tensor *ct_variable_value(ct_variable *v) {
    if (!v) {
        if (!ct_last_status()) ct__error(CT_ERR_INVALID_ARGUMENT, "ct_variable_value: NULL variable");
        return NULL;
    }
    return v->value;
}

ct_tensor *ct_variable_read(ct_variable *v) { return ct_identity(ct_variable_value(v)); }

const char *ct_variable_name(const ct_variable *v) { return v ? v->name : NULL; }
bool ct_variable_trainable(const ct_variable *v) { return v && v->trainable; }

static ct_status check_like(const char *api, const ct_variable *v, const ct_tensor *t) {
    if (!v) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: NULL variable", api);
    if (!t) return ct_last_status() ? ct_last_status()
                                    : ct__error(CT_ERR_INVALID_ARGUMENT, "%s: NULL value", api);
    const ct_tensor *cur = v->value;
    bool same = t->dtype == cur->dtype && t->rank == cur->rank &&
                t->storage->dev == cur->storage->dev;
    for (int i = 0; same && i < t->rank; i++) same = t->shape[i] == cur->shape[i];
    if (!same)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: variable '%s' is %s on %s, the value is %s on %s", api, v->name,
                         CT__DESC(cur), cur->storage->dev->name, CT__DESC(t),
                         t->storage->dev->name);
    return CT_OK;
}

/* Points the value tensor at t's storage (immutable, so sharing is safe). */
static void take_storage(ct_variable *v, const ct_tensor *t) {
    ct__storage *old = v->value->storage;
    atomic_fetch_add_explicit(&t->storage->refs, 1, memory_order_relaxed);
    v->value->storage = t->storage;
    v->value->offset = t->offset;
    ct__storage_release(old);
}

ct_status ct_variable_assign(ct_variable *v, const ct_tensor *value) {
    ct_status st = check_like("ct_variable_assign", v, value);
    if (!st) take_storage(v, value);
    return st;
}

/* Runs value op delta unrecorded (assignments are not differentiable) and
 * takes the result. */
static ct_status update(const char *api, ct_variable *v, const ct_tensor *delta, bool sub) {
    ct_status st = check_like(api, v, delta);
    if (st) return st;
    int saved = ct__tapes_active;
    ct__tapes_active = 0;
    ct_tensor *r = sub ? ct_subtract(v->value, delta) : ct_add(v->value, delta);
    ct__tapes_active = saved;
    if (!r) return ct_last_status();
    take_storage(v, r);
    ct_tensor_free(r);
    return CT_OK;
}

ct_status ct_variable_assign_add(ct_variable *v, const ct_tensor *delta) {
    return update("ct_variable_assign_add", v, delta, false);
}
ct_status ct_variable_assign_sub(ct_variable *v, const ct_tensor *delta) {
    return update("ct_variable_assign_sub", v, delta, true);
}

void *ct__variable_data_for_write(ct_variable *v) {
    ct_tensor *t = v->value;
    if (atomic_load_explicit(&t->storage->refs, memory_order_acquire) == 1) return ct__data(t);
    ct_tensor *copy = ct__tensor_alloc(t->storage->dev, t->dtype, t->rank, t->shape,
                                       "ct_variable (copy on write)");
    if (!copy) return NULL;
    ct_device *dev = t->storage->dev;
    if (dev->vt->copy(dev, ct__data(copy), ct__data(t), ct__nbytes(t))) {
        ct__tensor_release(copy);
        return NULL;
    }
    take_storage(v, copy);
    ct__tensor_release(copy);
    return ct__data(t);
}
