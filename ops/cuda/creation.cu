/*
 * Fill and Cast on the GPU (the CUDA slots of ops/creation.c), with the
 * CPU's conversion rules bit for bit (runtime/dtype.c):
 *
 *   - a float to an integer truncates toward zero, NaN gives 0, values
 *     out of range saturate (int64's upper bound is the largest double
 *     below 2^63, as ct__store's); uint8 truncates and wraps mod 256;
 *   - int64 to int32 and int64 to uint8 wrap (ct__convert's direct loops);
 *   - anything to bool is x != 0 (NaN gives true);
 *   - float16 / bfloat16 round to nearest even from float32, after
 *     rounding a double to float32 first, as the CPU does;
 *   - everything else goes through double, as ct__load / ct__store do
 *     (so int64 to float32 rounds twice, exactly as on the CPU);
 *   - a NaN keeps its sign and payload bits through float32 <-> float64
 *     as on x86 (the GPU's own conversions would make a canonical NaN).
 *
 * Fill stores its value once on the host with ct__store itself, then
 * replicates those bytes: the same bits as the CPU by construction.
 *
 * Both kernels are flat grid-stride loops over the output (n elements),
 * 16 bytes per store where the pointers allow it.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "runtime/cuda/cuda_internal.h"

#include "ops/creation.h"
#include "ops/cuda/kernels.h"

namespace {

constexpr int BLOCK = 256;

/* ---- conversions (host and device, so they can be checked on a host) --------- */

/* The 16-bit floats, as distinct types over their bits. */
struct f16 {
    uint16_t bits;
};
struct bf16 {
    uint16_t bits;
};

__host__ __device__ __forceinline__ uint32_t f2u(float f) {
#ifdef __CUDA_ARCH__
    return __float_as_uint(f);
#else
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
#endif
}
__host__ __device__ __forceinline__ float u2f(uint32_t u) {
#ifdef __CUDA_ARCH__
    return __uint_as_float(u);
#else
    float f;
    memcpy(&f, &u, 4);
    return f;
#endif
}

/* The algorithms of ct_f32_to_bf16, ct_bf16_to_f32, ct_f32_to_f16 and
 * ct_f16_to_f32 in runtime/dtype.c, line for line (NaNs keep their sign
 * and become the same quiet NaN bits). */
__host__ __device__ __forceinline__ uint16_t f32_to_bf16(float f) {
    uint32_t u = f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
__host__ __device__ __forceinline__ float bf16_to_f32(uint16_t h) { return u2f((uint32_t)h << 16); }

__host__ __device__ __forceinline__ uint16_t f32_to_f16(float f) {
    uint32_t u = f2u(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) return sign | 0x7c00u | (a > 0x7f800000u ? 0x200u : 0u);
    if (a >= 0x477ff000u) return sign | 0x7c00u;
    if (a < 0x38800000u) {
        /* The float addition rounds to nearest even at the half's last
         * subnormal bit (nvcc keeps denormals unless -ftz=true; a float
         * denormal rounds to a zero half either way). */
        float r = u2f(a) + 0.5f;
        return sign | (uint16_t)(f2u(r) - f2u(0.5f));
    }
    uint32_t mant_odd = (a >> 13) & 1u;
    a += ((uint32_t)(15 - 127) << 23) + 0xfffu + mant_odd;
    return sign | (uint16_t)(a >> 13);
}
__host__ __device__ __forceinline__ float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f) return u2f(sign | 0x7f800000u | (m << 13));
    if (e == 0) {
        float v = (float)m * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return u2f(sign | ((e + 112u) << 23) | (m << 13));
}

/* float <-> double keeping a NaN's sign and payload as x86 does (the
 * GPU's conversions return the canonical NaN instead): the payload's top
 * bits carry over, the quiet bit is set. */
__host__ __device__ __forceinline__ double widen(float x) {
    if (x == x) return (double)x;
    uint32_t u = f2u(x);
    uint64_t b = ((uint64_t)(u >> 31) << 63) | 0x7ff8000000000000ull |
                 ((uint64_t)(u & 0x7fffffu) << 29);
#ifdef __CUDA_ARCH__
    return __longlong_as_double((long long)b);
#else
    double v;
    memcpy(&v, &b, 8);
    return v;
#endif
}
__host__ __device__ __forceinline__ float narrow(double v) {
    if (v == v) return (float)v;
#ifdef __CUDA_ARCH__
    uint64_t b = (uint64_t)__double_as_longlong(v);
#else
    uint64_t b;
    memcpy(&b, &v, 8);
#endif
    return u2f((uint32_t)(b >> 63) << 31 | 0x7fc00000u | (uint32_t)((b >> 29) & 0x3fffffu));
}

/* ct__load: any element as a double. */
template <typename T> __host__ __device__ __forceinline__ double load(T x) { return (double)x; }
template <> __host__ __device__ __forceinline__ double load<float>(float x) { return widen(x); }
template <> __host__ __device__ __forceinline__ double load<f16>(f16 x) {
    return widen(f16_to_f32(x.bits));
}
template <> __host__ __device__ __forceinline__ double load<bf16>(bf16 x) {
    return widen(bf16_to_f32(x.bits));
}

/* sat_i64 of runtime/dtype.c. */
__host__ __device__ __forceinline__ int64_t sat_i64(double v, double lo, double hi) {
    if (v != v) return 0;
    if (v <= lo) return (int64_t)lo;
    if (v >= hi) return (int64_t)hi;
    return (int64_t)v;
}

/* ct__store: a double as any dtype. */
template <typename T> struct Store;
template <> struct Store<float> {
    static __host__ __device__ __forceinline__ float from(double v) { return narrow(v); }
};
template <> struct Store<double> {
    static __host__ __device__ __forceinline__ double from(double v) { return v; }
};
template <> struct Store<f16> {
    static __host__ __device__ __forceinline__ f16 from(double v) { return f16{f32_to_f16(narrow(v))}; }
};
template <> struct Store<bf16> {
    static __host__ __device__ __forceinline__ bf16 from(double v) {
        return bf16{f32_to_bf16(narrow(v))};
    }
};
template <> struct Store<int32_t> {
    static __host__ __device__ __forceinline__ int32_t from(double v) {
        return (int32_t)sat_i64(v, -2147483648.0, 2147483647.0);
    }
};
template <> struct Store<int64_t> {
    static __host__ __device__ __forceinline__ int64_t from(double v) {
        return sat_i64(v, -9223372036854775808.0, 9223372036854774784.0);
    }
};
template <> struct Store<uint8_t> {
    static __host__ __device__ __forceinline__ uint8_t from(double v) {
        return (uint8_t)(sat_i64(v, -1e18, 1e18) & 0xff);
    }
};
template <> struct Store<bool> {
    static __host__ __device__ __forceinline__ bool from(double v) { return v != 0; }
};

/* One element from S to D: ct__convert's rules. Through double unless
 * ct__convert has a direct loop whose result differs from that path
 * (int64 to int32 and to uint8 wrap); the direct loops it has for the
 * other pairs give the same values as the double path. */
template <typename S, typename D> struct Cvt {
    static __host__ __device__ __forceinline__ D apply(S x) { return Store<D>::from(load(x)); }
};
template <> struct Cvt<int64_t, int32_t> {
    static __host__ __device__ __forceinline__ int32_t apply(int64_t x) {
        return (int32_t)(uint32_t)(uint64_t)x;
    }
};
template <> struct Cvt<int64_t, uint8_t> {
    static __host__ __device__ __forceinline__ uint8_t apply(int64_t x) { return (uint8_t)x; }
};
/* Exact shortcuts that skip the double round trip (same results). */
template <> struct Cvt<f16, float> {
    static __host__ __device__ __forceinline__ float apply(f16 x) { return f16_to_f32(x.bits); }
};
template <> struct Cvt<bf16, float> {
    static __host__ __device__ __forceinline__ float apply(bf16 x) { return bf16_to_f32(x.bits); }
};
template <> struct Cvt<float, f16> {
    static __host__ __device__ __forceinline__ f16 apply(float x) { return f16{f32_to_f16(x)}; }
};
template <> struct Cvt<float, bf16> {
    static __host__ __device__ __forceinline__ bf16 apply(float x) { return bf16{f32_to_bf16(x)}; }
};
template <> struct Cvt<int32_t, float> {
    static __host__ __device__ __forceinline__ float apply(int32_t x) { return (float)x; }
};
template <> struct Cvt<int32_t, int64_t> {
    static __host__ __device__ __forceinline__ int64_t apply(int32_t x) { return x; }
};

/* ---- kernels ------------------------------------------------------------------- */

template <typename T, int V> struct alignas(sizeof(T) * V) Vec {
    T v[V];
};

/* Cast n elements; V elements per step when both sides allow (VEC). */
template <typename S, typename D, bool VEC>
__global__ void __launch_bounds__(BLOCK)
    cast_kernel(const S *__restrict__ src, D *__restrict__ dst, int64_t n) {
    constexpr int V = 16 / (sizeof(S) > sizeof(D) ? sizeof(S) : sizeof(D));
    const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    int64_t done = 0;
    if (VEC) {
        const int64_t nv = n / V;
        for (int64_t i = tid; i < nv; i += step) {
            Vec<S, V> a = reinterpret_cast<const Vec<S, V> *>(src)[i];
            Vec<D, V> o;
#pragma unroll
            for (int j = 0; j < V; j++) o.v[j] = Cvt<S, D>::apply(a.v[j]);
            reinterpret_cast<Vec<D, V> *>(dst)[i] = o;
        }
        done = nv * V;
    }
    for (int64_t i = done + tid; i < n; i += step) dst[i] = Cvt<S, D>::apply(src[i]);
}

/* Writes the element `pattern` (W is an unsigned type of the element's
 * size) to n elements, 16 bytes per store from the first aligned one. */
template <typename W>
__global__ void __launch_bounds__(BLOCK) fill_kernel(W *__restrict__ dst, W pattern, int64_t n) {
    constexpr int V = 16 / sizeof(W);
    const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    const int64_t nv = n / V;
    Vec<W, V> p;
#pragma unroll
    for (int j = 0; j < V; j++) p.v[j] = pattern;
    for (int64_t i = tid; i < nv; i += step) reinterpret_cast<Vec<W, V> *>(dst)[i] = p;
    for (int64_t i = nv * V + tid; i < n; i += step) dst[i] = pattern;
}

/* ---- launching ------------------------------------------------------------------- */

bool aligned(const void *p, size_t to) { return ((uintptr_t)p & (to - 1)) == 0; }

template <typename S, typename D> ct_status launch_cast(ct__call *c) {
    constexpr int V = 16 / (sizeof(S) > sizeof(D) ? sizeof(S) : sizeof(D));
    const S *src = (const S *)ct__data(c->in[0]);
    D *dst = (D *)ct__data(c->out[0]);
    const int64_t n = c->out[0]->size;
    cudaStream_t s = ct__cuda_impl_of(c->dev)->stream;
    if (aligned(src, sizeof(S) * V) && aligned(dst, sizeof(D) * V)) {
        unsigned grid = ct__cuda_blocks(c->dev, (n + V - 1) / V, BLOCK);
        cast_kernel<S, D, true><<<grid, BLOCK, 0, s>>>(src, dst, n);
    } else {
        unsigned grid = ct__cuda_blocks(c->dev, n, BLOCK);
        cast_kernel<S, D, false><<<grid, BLOCK, 0, s>>>(src, dst, n);
    }
    CT__CUDA_CHECK_LAUNCH();
    return CT_OK;
}

/* The second half of the 8 x 8 dispatch: S is known. */
template <typename S> ct_status cast_from(ct__call *c) {
    switch (c->out[0]->dtype) {
    case CT_FLOAT32: return launch_cast<S, float>(c);
    case CT_FLOAT64: return launch_cast<S, double>(c);
    case CT_FLOAT16: return launch_cast<S, f16>(c);
    case CT_BFLOAT16: return launch_cast<S, bf16>(c);
    case CT_INT32: return launch_cast<S, int32_t>(c);
    case CT_INT64: return launch_cast<S, int64_t>(c);
    case CT_UINT8: return launch_cast<S, uint8_t>(c);
    case CT_BOOL: return launch_cast<S, bool>(c);
    default: break;
    }
    return ct__call_error(c, CT_ERR_INTERNAL, "op %s: no GPU kernel from %s to %s on %s",
                          c->op->name, ct_dtype_name(c->in[0]->dtype),
                          ct_dtype_name(c->out[0]->dtype), c->dev->name);
}

template <typename W> ct_status launch_fill(ct__call *c, const unsigned char *bytes) {
    W pattern;
    memcpy(&pattern, bytes, sizeof pattern);
    W *dst = (W *)ct__data(c->out[0]);
    const int64_t n = c->out[0]->size;
    cudaStream_t s = ct__cuda_impl_of(c->dev)->stream;
    if (!aligned(dst, sizeof pattern)) /* never for a fresh allocation */
        return ct__call_error(c, CT_ERR_INTERNAL, "op %s: output on %s is misaligned",
                              c->op->name, c->dev->name);
    /* Peel elements until the 16-byte boundary; the kernel takes the rest. */
    int64_t head = (int64_t)((16 - ((uintptr_t)dst & 15)) & 15) / (int64_t)sizeof pattern;
    if (head > n) head = n;
    if (head) {
        fill_kernel<W><<<1, 32, 0, s>>>(dst, pattern, head);
        CT__CUDA_CHECK_LAUNCH();
    }
    if (n > head) {
        constexpr int V = 16 / sizeof(W);
        unsigned grid = ct__cuda_blocks(c->dev, (n - head + V - 1) / V, BLOCK);
        fill_kernel<W><<<grid, BLOCK, 0, s>>>(dst + head, pattern, n - head);
        CT__CUDA_CHECK_LAUNCH();
    }
    return CT_OK;
}

} // namespace

/* Fill: the value stored once on the host (ct__store, the CPU's rules),
 * its bytes replicated; a memset when they are all equal (zeros, bool,
 * uint8). */
ct_status ct__cuda_fill(ct__call *c) {
    const ct__fill_attrs *a = (const ct__fill_attrs *)c->attrs;
    ct_tensor *o = c->out[0];
    if (o->dtype != a->dtype || c->attrs_size != sizeof *a)
        return ct__call_error(c, CT_ERR_INTERNAL, "op %s: attributes do not match the output",
                              c->op->name);
    if (o->size == 0) return CT_OK;
    ct_status st = ct__cuda_enter(c->dev);
    if (st) return st;
    unsigned char bytes[8] = {0};
    size_t es = ct_dtype_size(o->dtype);
    ct__store(bytes, o->dtype, 0, a->value);
    bool uniform = true;
    for (size_t i = 1; i < es; i++) uniform &= bytes[i] == bytes[0];
    if (uniform) {
        CT__CUDA_CHECK(cudaMemsetAsync(ct__data(o), bytes[0], ct__nbytes(o),
                                       ct__cuda_impl_of(c->dev)->stream));
        return CT_OK;
    }
    switch (es) {
    case 2: return launch_fill<uint16_t>(c, bytes);
    case 4: return launch_fill<uint32_t>(c, bytes);
    case 8: return launch_fill<uint64_t>(c, bytes);
    default: break;
    }
    return ct__call_error(c, CT_ERR_INTERNAL, "op %s: no GPU kernel for %s on %s", c->op->name,
                          ct_dtype_name(o->dtype), c->dev->name);
}

/* Cast: a copy for equal dtypes, else one kernel per (source, target). */
ct_status ct__cuda_cast(ct__call *c) {
    const ct_tensor *in = c->in[0];
    ct_tensor *o = c->out[0];
    if (o->size == 0) return CT_OK;
    ct_status st = ct__cuda_enter(c->dev);
    if (st) return st;
    if (in->dtype == o->dtype) {
        CT__CUDA_CHECK(cudaMemcpyAsync(ct__data(o), ct__data(in), ct__nbytes(o),
                                       cudaMemcpyDeviceToDevice, ct__cuda_impl_of(c->dev)->stream));
        return CT_OK;
    }
    switch (in->dtype) {
    case CT_FLOAT32: return cast_from<float>(c);
    case CT_FLOAT64: return cast_from<double>(c);
    case CT_FLOAT16: return cast_from<f16>(c);
    case CT_BFLOAT16: return cast_from<bf16>(c);
    case CT_INT32: return cast_from<int32_t>(c);
    case CT_INT64: return cast_from<int64_t>(c);
    case CT_UINT8: return cast_from<uint8_t>(c);
    case CT_BOOL: return cast_from<bool>(c);
    default: break;
    }
    return ct__call_error(c, CT_ERR_INTERNAL, "op %s: no GPU kernel from %s to %s on %s",
                          c->op->name, ct_dtype_name(in->dtype), ct_dtype_name(o->dtype),
                          c->dev->name);
}
