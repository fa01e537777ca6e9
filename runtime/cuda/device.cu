/*
 * The CUDA devices: one ct_device per visible GPU, created on first use,
 * each with its own non-blocking stream and cuBLAS handle.
 *
 * Ordering. Every copy, memset and kernel of a device is queued on its one
 * stream, so work runs in the order it was issued. That is also what makes
 * the caching allocator safe without events: a chunk freed on the host
 * while a kernel still reads it can only be handed to work queued after
 * that kernel. The host waits only where it must: copies to host memory
 * and ct_device_synchronize.
 *
 * No GPU, no driver: ct__cuda_device_count() is 0 and nothing else here
 * is ever reached; the library still loads (libcudart finds no driver and
 * says so through a status, never an abort).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cuda/cuda_internal.h"

/* __FILE__ is absolute under CMake; messages name the file from the
 * project root ("runtime/cuda/device.cu"). */
static const char *project_path(const char *file) {
    const char *best = file;
    for (const char *p = file; *p; p++)
        if (*p == '/' && (!strncmp(p + 1, "runtime/", 8) || !strncmp(p + 1, "ops/", 4)))
            best = p + 1;
    return best;
}

ct_status ct__cuda_fail(cudaError_t e, const char *call, const char *file, int line) {
    (void)cudaGetLastError(); /* clear a non-sticky error so the next call starts clean */
    return ct__error(CT_ERR_INTERNAL, "CUDA call %s failed at %s:%d: %s (%s)", call,
                     project_path(file), line, cudaGetErrorName(e), cudaGetErrorString(e));
}

ct_status ct__cublas_fail(cublasStatus_t s, const char *call, const char *file, int line) {
    return ct__error(CT_ERR_INTERNAL, "cuBLAS call %s failed at %s:%d: %s (%s)", call,
                     project_path(file), line, cublasGetStatusName(s), cublasGetStatusString(s));
}

/* ---- the vtable -------------------------------------------------------------- */

static cudaStream_t stream_of(ct_device *dev) { return ct__cuda_impl_of(dev)->stream; }

static void *cuda_raw_alloc(ct_device *dev, size_t bytes) {
    void *p = NULL;
    if (ct__cuda_enter(dev)) return NULL;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
        /* The allocator reports the out-of-memory error (request, limit,
         * peak); only clear CUDA's error so later calls are not blamed. */
        (void)cudaGetLastError();
        return NULL;
    }
    return p;
}

static void cuda_raw_free(ct_device *dev, void *p) {
    if (!p || ct__cuda_enter(dev)) return;
    /* cudaFree waits for the device, so no queued kernel still uses p. */
    cudaError_t e = cudaFree(p);
    if (e != cudaSuccess) ct__cuda_fail(e, "cudaFree(p)", __FILE__, __LINE__);
}

/* Device to pageable host memory: queued on the stream (after the work
 * that produces src), then waited for. */
static ct_status cuda_to_host(ct_device *dev, void *host_dst, const void *src, size_t bytes) {
    if (!bytes) return CT_OK;
    ct_status st = ct__cuda_enter(dev);
    if (st) return st;
    CT__CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, stream_of(dev)));
    CT__CUDA_CHECK(cudaStreamSynchronize(stream_of(dev)));
    return CT_OK;
}

/* Pageable host memory to the device. For pageable sources CUDA copies
 * the bytes into its own staging buffer before cudaMemcpyAsync returns,
 * so the caller may reuse host_src at once; the transfer itself stays
 * ordered on the stream. */
static ct_status cuda_from_host(ct_device *dev, void *dst, const void *host_src, size_t bytes) {
    if (!bytes) return CT_OK;
    ct_status st = ct__cuda_enter(dev);
    if (st) return st;
    CT__CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream_of(dev)));
    return CT_OK;
}

static ct_status cuda_copy(ct_device *dev, void *dst, const void *src, size_t bytes) {
    if (!bytes) return CT_OK;
    ct_status st = ct__cuda_enter(dev);
    if (st) return st;
    CT__CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_of(dev)));
    return CT_OK;
}

static ct_status cuda_memset0(ct_device *dev, void *dst, size_t bytes) {
    if (!bytes) return CT_OK;
    ct_status st = ct__cuda_enter(dev);
    if (st) return st;
    CT__CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, stream_of(dev)));
    return CT_OK;
}

static ct_status cuda_synchronize(ct_device *dev) {
    ct_status st = ct__cuda_enter(dev);
    if (st) return st;
    CT__CUDA_CHECK(cudaStreamSynchronize(stream_of(dev)));
    return CT_OK;
}

static size_t cuda_total_memory(ct_device *dev) {
    size_t free_b = 0, total = 0;
    if (!ct__cuda_enter(dev) && cudaMemGetInfo(&free_b, &total) == cudaSuccess && total)
        return total;
    (void)cudaGetLastError();
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, dev->index) == cudaSuccess && prop.totalGlobalMem)
        return prop.totalGlobalMem;
    (void)cudaGetLastError();
    return (size_t)1 << 40;
}

static const ct__device_vtable cuda_vt = {
    cuda_raw_alloc, cuda_raw_free, cuda_to_host, cuda_from_host,
    cuda_copy,      cuda_memset0,  cuda_synchronize, cuda_total_memory,
};

/* ---- the registry --------------------------------------------------------------- */

#define MAX_GPUS 64

static int gpu_count;
static pthread_once_t count_once = PTHREAD_ONCE_INIT;
static ct_device *gpus[MAX_GPUS];
static pthread_mutex_t gpus_mu = PTHREAD_MUTEX_INITIALIZER;

static void count_init(void) {
    int n = 0;
    /* No driver gives cudaErrorInsufficientDriver, no GPU
     * cudaErrorNoDevice: both mean "none visible". */
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        n = 0;
    }
    gpu_count = n < 0 ? 0 : n > MAX_GPUS ? MAX_GPUS : n;
}

int ct__cuda_device_count(void) {
    pthread_once(&count_once, count_init);
    return gpu_count;
}

static void destroy(ct_device *dev) {
    ct__cuda_impl *impl = ct__cuda_impl_of(dev);
    if (impl) {
        if (impl->blas) cublasDestroy(impl->blas);
        if (impl->stream) cudaStreamDestroy(impl->stream);
        free(impl);
    }
    free(dev);
}

static ct_status setup(ct_device *dev, int index) {
    ct__cuda_impl *impl = ct__cuda_impl_of(dev);
    CT__CUDA_CHECK(cudaSetDevice(index));
    CT__CUDA_CHECK(cudaStreamCreateWithFlags(&impl->stream, cudaStreamNonBlocking));
    CT__CUDA_CHECK(cudaDeviceGetAttribute(&impl->sm_count, cudaDevAttrMultiProcessorCount, index));
    CT__CUBLAS_CHECK(cublasCreate(&impl->blas));
    CT__CUBLAS_CHECK(cublasSetStream(impl->blas, impl->stream));
    /* Full float32 precision (no TF32 tensor-core rounding), so results
     * match the CPU to float32 accuracy. */
    CT__CUBLAS_CHECK(cublasSetMathMode(impl->blas, CUBLAS_DEFAULT_MATH));
    dev->alloc = ct__allocator_new(dev);
    if (!dev->alloc)
        return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: no host memory for the allocator", dev->name);
    return CT_OK;
}

static ct_device *create(int index) {
    ct_device *dev = (ct_device *)calloc(1, sizeof *dev);
    ct__cuda_impl *impl = (ct__cuda_impl *)calloc(1, sizeof *impl);
    if (!dev || !impl) {
        free(dev);
        free(impl);
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_device_get: no host memory for GPU %d", index);
        return NULL;
    }
    dev->kind = CT_DEVICE_CUDA;
    dev->index = index;
    snprintf(dev->name, sizeof dev->name, "/device:GPU:%d", index);
    dev->vt = &cuda_vt;
    dev->impl = impl;
    if (setup(dev, index)) {
        destroy(dev);
        return NULL;
    }
    return dev;
}

ct_device *ct__cuda_device(int index) {
    if (index < 0 || index >= ct__cuda_device_count()) return NULL;
    ct_device *d = __atomic_load_n(&gpus[index], __ATOMIC_ACQUIRE);
    if (d) return d;
    pthread_mutex_lock(&gpus_mu);
    d = gpus[index];
    if (!d) {
        d = create(index);
        if (d) __atomic_store_n(&gpus[index], d, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&gpus_mu);
    return d;
}
