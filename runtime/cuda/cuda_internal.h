/*
 * What the CUDA sources (runtime/cuda, ops/cuda) share: the
 * per-device state, the check macros and a C++ bridge to the C headers.
 * Include this instead of runtime/internal.h or ops/op.h from a .cu file.
 *
 * The bridge. runtime/internal.h is C11: it keeps reference counts in
 * `atomic_long` from <stdatomic.h> and declares a `_Thread_local`. C++
 * before C++23 has neither name, so they are supplied here the way C++23's
 * <stdatomic.h> does it (atomic_long is std::atomic<long>, which GCC lays
 * out exactly as C's _Atomic long: 8 bytes, 8-byte aligned).
 *
 * Only header-only parts of the C++ library are used (no std::mutex,
 * std::call_once, new or exceptions), so the library links with a C linker
 * and needs no libstdc++.
 */
#ifndef CT_RUNTIME_CUDA_CUDA_INTERNAL_H
#define CT_RUNTIME_CUDA_CUDA_INTERNAL_H

#ifndef __cplusplus
#error "runtime/cuda/cuda_internal.h is for CUDA C++ sources"
#endif

#include <atomic>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#if __cplusplus <= 202002L
using std::atomic_fetch_add_explicit;
using std::atomic_fetch_sub_explicit;
using std::atomic_long;
using std::memory_order_acq_rel;
using std::memory_order_acquire;
using std::memory_order_relaxed;
using std::memory_order_release;
#ifndef _Thread_local
#define _Thread_local thread_local
#endif
#endif

extern "C" {
#include "ops/elementwise.h"
#include "ops/op.h"
#include "runtime/internal.h"
}

static_assert(sizeof(atomic_long) == sizeof(long) && alignof(atomic_long) == alignof(long),
              "atomic_long must match C11's _Atomic long");

/* The backend state of one GPU (ct_device.impl). */
typedef struct ct__cuda_impl {
    cudaStream_t stream;   /* every copy and kernel of the device runs here */
    cublasHandle_t blas;   /* bound to `stream`                              */
    int sm_count;          /* multiprocessors, for grid sizes                */
} ct__cuda_impl;

static inline ct__cuda_impl *ct__cuda_impl_of(const ct_device *dev) {
    return (ct__cuda_impl *)dev->impl;
}

/* Record a failed CUDA / cuBLAS call (the call's text, file and line, and
 * the library's name for the error) in the thread's error as
 * CT_ERR_INTERNAL and return that code. */
extern "C" ct_status ct__cuda_fail(cudaError_t e, const char *call, const char *file, int line);
extern "C" ct_status ct__cublas_fail(cublasStatus_t s, const char *call, const char *file,
                                     int line);

/* Run a CUDA runtime / cuBLAS call; on failure record it and return the
 * status from the enclosing function (which must return ct_status). */
#define CT__CUDA_CHECK(call)                                                              \
    do {                                                                                  \
        cudaError_t ct__cu_e = (call);                                                    \
        if (ct__cu_e != cudaSuccess) return ct__cuda_fail(ct__cu_e, #call, __FILE__, __LINE__); \
    } while (0)
#define CT__CUBLAS_CHECK(call)                                                            \
    do {                                                                                  \
        cublasStatus_t ct__cb_s = (call);                                                 \
        if (ct__cb_s != CUBLAS_STATUS_SUCCESS)                                            \
            return ct__cublas_fail(ct__cb_s, #call, __FILE__, __LINE__);                  \
    } while (0)
/* After a <<<...>>> launch: a bad configuration shows up here. */
#define CT__CUDA_CHECK_LAUNCH() CT__CUDA_CHECK(cudaGetLastError())

/* Makes dev the calling thread's current CUDA device (kernels launched
 * next run there). */
static inline ct_status ct__cuda_enter(const ct_device *dev) {
    CT__CUDA_CHECK(cudaSetDevice(dev->index));
    return CT_OK;
}

/* Blocks for a grid-stride loop over n work items with `threads` threads
 * per block: enough to fill the device, never more than the work. */
static inline unsigned ct__cuda_blocks(const ct_device *dev, int64_t n, int threads) {
    int64_t want = (n + threads - 1) / threads;
    int64_t cap = (int64_t)ct__cuda_impl_of(dev)->sm_count * 32;
    if (cap < 1) cap = 1;
    if (want > cap) want = cap;
    return (unsigned)(want < 1 ? 1 : want);
}

#endif
