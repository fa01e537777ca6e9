/* The device registry, the thread's device scope and the public device
 * functions. Backends live in runtime/cpu and runtime/cuda. */
#include <stdlib.h>

#include "runtime/internal.h"


#ifndef CT_HAVE_CUDA
int ct__cuda_device_count(void) { return 0; }
ct_device *ct__cuda_device(int index) {
    (void)index;
    return NULL;
}
#endif

int ct_device_count(ct_device_kind kind) {
    switch (kind) {
    case CT_DEVICE_CPU: return 1;
    case CT_DEVICE_CUDA: return ct__cuda_device_count();
    default: return 0;
    }
}

ct_device *ct_device_get(ct_device_kind kind, int index) {
    ct_device *d = NULL;
    if (kind == CT_DEVICE_CPU && index == 0) d = ct__cpu_device();
    else if (kind == CT_DEVICE_CUDA && index >= 0 && index < ct__cuda_device_count()) {
        d = ct__cuda_device(index);
        if (!d) return NULL; /* the error names the CUDA call that failed */
    }
    if (!d)
        ct__error(CT_ERR_NOT_FOUND, "ct_device_get: no %s device %d (%d visible)",
                  kind == CT_DEVICE_CUDA ? "GPU" : kind == CT_DEVICE_CPU ? "CPU" : "unknown",
                  index, ct_device_count(kind));
    return d;
}

#define MAX_DEVICE_SCOPES 64
static _Thread_local ct_device *dev_stack[MAX_DEVICE_SCOPES];
static _Thread_local int dev_depth, dev_overflow;

ct_device *ct_default_device(void) {
    if (dev_depth > 0) return dev_stack[dev_depth - 1];
    return ct__cpu_device();
}

void ct_device_scope_begin(ct_device *dev) {
    if (dev_depth < MAX_DEVICE_SCOPES) dev_stack[dev_depth++] = dev ? dev : ct__cpu_device();
    else dev_overflow++;
}

void ct_device_scope_end(void) {
    if (dev_overflow) dev_overflow--;
    else if (dev_depth) dev_depth--;
}

ct_device_kind ct_device_kind_of(const ct_device *dev) { return dev ? dev->kind : CT_DEVICE_CPU; }
int ct_device_index(const ct_device *dev) { return dev ? dev->index : -1; }
const char *ct_device_name(const ct_device *dev) { return dev ? dev->name : "NULL"; }

ct_status ct_device_memory_stats(ct_device *dev, ct_memory_stats *out) {
    if (!dev || !out)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_device_memory_stats: NULL argument");
    ct__allocator_stats(dev->alloc, out);
    return CT_OK;
}

ct_status ct_device_set_memory_limit(ct_device *dev, size_t bytes) {
    if (!dev) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_device_set_memory_limit: NULL device");
    return ct__allocator_set_limit(dev->alloc, bytes);
}

ct_status ct_device_set_memory_growth(ct_device *dev, bool growth) {
    if (!dev) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_device_set_memory_growth: NULL device");
    return ct__allocator_set_growth(dev->alloc, growth);
}

void ct_device_empty_cache(ct_device *dev) {
    if (dev) ct__allocator_empty_cache(dev->alloc);
}

ct_status ct_device_synchronize(ct_device *dev) {
    if (!dev) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_device_synchronize: NULL device");
    return dev->vt->synchronize(dev);
}
