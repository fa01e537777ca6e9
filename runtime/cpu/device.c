/* The CPU device: host memory, memcpy copies. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/internal.h"

static void *cpu_raw_alloc(ct_device *dev, size_t bytes) {
    (void)dev;
    /* 64-byte alignment suits AVX-512 loads and oneDNN. */
    return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
}
static void cpu_raw_free(ct_device *dev, void *p) {
    (void)dev;
    free(p);
}
static ct_status cpu_copy(ct_device *dev, void *dst, const void *src, size_t n) {
    (void)dev;
    if (n) memcpy(dst, src, n);
    return CT_OK;
}
static ct_status cpu_memset0(ct_device *dev, void *dst, size_t n) {
    (void)dev;
    if (n) memset(dst, 0, n);
    return CT_OK;
}
static ct_status cpu_sync(ct_device *dev) {
    (void)dev;
    return CT_OK;
}
static size_t cpu_total(ct_device *dev) {
    (void)dev;
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    return pages > 0 && psize > 0 ? (size_t)pages * (size_t)psize : (size_t)1 << 40;
}

static const ct__device_vtable cpu_vt = {
    .raw_alloc = cpu_raw_alloc, .raw_free = cpu_raw_free, .to_host = cpu_copy,
    .from_host = cpu_copy, .copy = cpu_copy, .memset0 = cpu_memset0,
    .synchronize = cpu_sync, .total_memory = cpu_total,
};

static ct_device cpu = {.kind = CT_DEVICE_CPU, .index = 0, .name = "/device:CPU:0", .vt = &cpu_vt};
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void cpu_init(void) {
    cpu.alloc = ct__allocator_new(&cpu);
    if (!cpu.alloc) abort(); /* at start-up: no host memory at all */
    (void)ct_get_num_threads(); /* apply the thread budget before any kernel runs */
}

ct_device *ct__cpu_device(void) {
    pthread_once(&cpu_once, cpu_init);
    return &cpu;
}
