/*
 * The unary elementwise family on the GPU (the CUDA slot of the unary ops
 * in ops/elementwise.c). Each expression is the CPU kernel's
 * (ops/cpu/elementwise.c), with the same dtypes per op:
 *
 *   - integer Neg, Abs and Square wrap (computed in unsigned); Sign is
 *     (x > 0) - (x < 0); Relu is max(x, 0); Round is the identity;
 *   - float Relu is x < 0 ? 0 : x, so NaN and -0 pass as in TF;
 *   - float Sign keeps NaN and gives +0 for either zero;
 *   - Sigmoid is the stable split at 0, Softplus TF's thresholded form;
 *   - Rsqrt is 1 / sqrt(x) (not the approximate rsqrt instruction), Round
 *     is nearbyint (ties to even); IsNan / IsInf / IsFinite give bool.
 *
 * Sqrt and division are IEEE-rounded as on the CPU (nvcc's defaults);
 * the transcendental functions are CUDA's (within 1-2 ulp of glibc's).
 * The loop is a flat grid-stride loop over the n output elements, 16
 * bytes of input per step when the pointers allow.
 */
#include <math.h>
#include <stdint.h>
#include <type_traits>

#include "runtime/cuda/cuda_internal.h"

#include "ops/cuda/kernels.h"

namespace {

constexpr int BLOCK = 256;

/* ---- math by type (the CPU calls expf for float, exp for double) ------------- */

#define CT__MATH1(NAME, FN)                                                                \
    __host__ __device__ __forceinline__ float NAME(float x) { return FN##f(x); }          \
    __host__ __device__ __forceinline__ double NAME(double x) { return FN(x); }

CT__MATH1(m_fabs, fabs)
CT__MATH1(m_sqrt, sqrt)
CT__MATH1(m_exp, exp)
CT__MATH1(m_expm1, expm1)
CT__MATH1(m_log, log)
CT__MATH1(m_log1p, log1p)
CT__MATH1(m_sin, sin)
CT__MATH1(m_cos, cos)
CT__MATH1(m_tanh, tanh)
CT__MATH1(m_erf, erf)
CT__MATH1(m_floor, floor)
CT__MATH1(m_ceil, ceil)
CT__MATH1(m_nearbyint, nearbyint)
#undef CT__MATH1

template <typename T> __host__ __device__ __forceinline__ T sigmoid(T x) {
    return x >= 0 ? 1 / (1 + m_exp(-x)) : m_exp(x) / (1 + m_exp(x));
}
/* Thresholds log(epsilon) + 2 of each type, as the CPU's softplus. */
__host__ __device__ __forceinline__ float softplus(float x) {
    const float th = -13.942385f;
    return x > -th ? x : x < th ? expf(x) : log1pf(expf(x));
}
__host__ __device__ __forceinline__ double softplus(double x) {
    const double th = -34.043653389117154;
    return x > -th ? x : x < th ? exp(x) : log1p(exp(x));
}

/* ---- the expressions -------------------------------------------------------------- */

template <typename T> using U = typename std::make_unsigned<T>::type;

template <typename T> __host__ __device__ __forceinline__ T neg(T x) {
    if constexpr (std::is_integral<T>::value) return (T)(U<T>)((U<T>)0 - (U<T>)x);
    else return -x;
}
template <typename T> __host__ __device__ __forceinline__ T absval(T x) {
    if constexpr (std::is_integral<T>::value) return x < 0 ? (T)(U<T>)((U<T>)0 - (U<T>)x) : x;
    else return m_fabs(x);
}
template <typename T> __host__ __device__ __forceinline__ T sign(T x) {
    if constexpr (std::is_integral<T>::value) return (T)((x > 0) - (x < 0));
    else return x > 0 ? T(1) : x < 0 ? T(-1) : x == 0 ? T(0) : x;
}
template <typename T> __host__ __device__ __forceinline__ T square(T x) {
    if constexpr (std::is_integral<T>::value) return (T)(U<T>)((U<T>)x * (U<T>)x);
    else return x * x;
}
template <typename T> __host__ __device__ __forceinline__ T relu(T x) {
    if constexpr (std::is_integral<T>::value) return x > 0 ? x : T(0);
    else return x < 0 ? T(0) : x;
}
template <typename T> __host__ __device__ __forceinline__ T round_even(T x) {
    if constexpr (std::is_integral<T>::value) return x;
    else return m_nearbyint(x);
}

#define CT__UN_FUNCTOR(NAME, OUT, EXPR)                                                   \
    template <typename T> struct NAME {                                                   \
        typedef T in;                                                                     \
        typedef OUT out;                                                                  \
        static __host__ __device__ __forceinline__ out apply(T x) { return (out)(EXPR); } \
    };

CT__UN_FUNCTOR(Neg, T, neg(x))
CT__UN_FUNCTOR(Abs, T, absval(x))
CT__UN_FUNCTOR(Sign, T, sign(x))
CT__UN_FUNCTOR(Sqrt, T, m_sqrt(x))
CT__UN_FUNCTOR(Rsqrt, T, 1 / m_sqrt(x))
CT__UN_FUNCTOR(Square, T, square(x))
CT__UN_FUNCTOR(Recip, T, 1 / x)
CT__UN_FUNCTOR(Exp, T, m_exp(x))
CT__UN_FUNCTOR(Expm1, T, m_expm1(x))
CT__UN_FUNCTOR(Log, T, m_log(x))
CT__UN_FUNCTOR(Log1p, T, m_log1p(x))
CT__UN_FUNCTOR(Sin, T, m_sin(x))
CT__UN_FUNCTOR(Cos, T, m_cos(x))
CT__UN_FUNCTOR(Tanh, T, m_tanh(x))
CT__UN_FUNCTOR(Sigmoid, T, sigmoid(x))
CT__UN_FUNCTOR(Relu, T, relu(x))
CT__UN_FUNCTOR(Softplus, T, softplus(x))
CT__UN_FUNCTOR(Erf, T, m_erf(x))
CT__UN_FUNCTOR(Floor, T, m_floor(x))
CT__UN_FUNCTOR(Ceil, T, m_ceil(x))
CT__UN_FUNCTOR(Round, T, round_even(x))
CT__UN_FUNCTOR(IsNan, bool, x != x)
CT__UN_FUNCTOR(IsInf, bool, x == (T)INFINITY || x == -(T)INFINITY)
CT__UN_FUNCTOR(IsFinite, bool, m_fabs(x) < (T)INFINITY)
CT__UN_FUNCTOR(Not, bool, !x)
#undef CT__UN_FUNCTOR

/* ---- the kernel ----------------------------------------------------------------- */

template <typename T, int V> struct alignas(sizeof(T) * V) Vec {
    T v[V];
};

/* o[i] = F(a[i]) for n elements; 16 bytes of input per step when VEC. */
template <typename F, bool VEC>
__global__ void __launch_bounds__(BLOCK)
    unary_kernel(const typename F::in *__restrict__ a, typename F::out *__restrict__ o,
                 int64_t n) {
    typedef typename F::in T;
    typedef typename F::out OT;
    constexpr int V = 16 / sizeof(T);
    const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    int64_t done = 0;
    if (VEC) {
        const int64_t nv = n / V;
        for (int64_t i = tid; i < nv; i += step) {
            Vec<T, V> va = reinterpret_cast<const Vec<T, V> *>(a)[i];
            Vec<OT, V> vo;
#pragma unroll
            for (int j = 0; j < V; j++) vo.v[j] = F::apply(va.v[j]);
            reinterpret_cast<Vec<OT, V> *>(o)[i] = vo;
        }
        done = nv * V;
    }
    for (int64_t i = done + tid; i < n; i += step) o[i] = F::apply(a[i]);
}

bool aligned(const void *p, size_t to) { return ((uintptr_t)p & (to - 1)) == 0; }

template <typename F> ct_status launch(ct__call *c) {
    typedef typename F::in T;
    typedef typename F::out OT;
    constexpr int V = 16 / sizeof(T);
    const T *a = (const T *)ct__data(c->in[0]);
    OT *o = (OT *)ct__data(c->out[0]);
    const int64_t n = c->out[0]->size;
    if (n == 0) return CT_OK;
    ct_status st = ct__cuda_enter(c->dev);
    if (st) return st;
    cudaStream_t s = ct__cuda_impl_of(c->dev)->stream;
    if (aligned(a, 16) && aligned(o, sizeof(OT) * V)) {
        unsigned grid = ct__cuda_blocks(c->dev, (n + V - 1) / V, BLOCK);
        unary_kernel<F, true><<<grid, BLOCK, 0, s>>>(a, o, n);
    } else {
        unsigned grid = ct__cuda_blocks(c->dev, n, BLOCK);
        unary_kernel<F, false><<<grid, BLOCK, 0, s>>>(a, o, n);
    }
    CT__CUDA_CHECK_LAUNCH();
    return CT_OK;
}

ct_status no_kernel(ct__call *c) {
    return ct__call_error(c, CT_ERR_UNIMPLEMENTED, "op %s has no kernel for %s on %s",
                          c->op->name, ct_dtype_name(c->in[0]->dtype), c->dev->name);
}

/* Dtype classes per op, as the CPU's table: floats, signed ints (int32,
 * int64), uint8, bool. */
enum { FLOATS = 1, SINTS = 2, U8 = 4, BOOLS = 8 };

template <template <typename> class F, unsigned CLASSES> ct_status dispatch(ct__call *c) {
    switch (c->in[0]->dtype) {
    case CT_FLOAT32:
        if constexpr ((CLASSES & FLOATS) != 0) return launch<F<float>>(c);
        break;
    case CT_FLOAT64:
        if constexpr ((CLASSES & FLOATS) != 0) return launch<F<double>>(c);
        break;
    case CT_INT32:
        if constexpr ((CLASSES & SINTS) != 0) return launch<F<int32_t>>(c);
        break;
    case CT_INT64:
        if constexpr ((CLASSES & SINTS) != 0) return launch<F<int64_t>>(c);
        break;
    case CT_UINT8:
        if constexpr ((CLASSES & U8) != 0) return launch<F<uint8_t>>(c);
        break;
    case CT_BOOL:
        if constexpr ((CLASSES & BOOLS) != 0) return launch<F<bool>>(c);
        break;
    default: break;
    }
    return no_kernel(c);
}

} // namespace

ct_status ct__cuda_unary(ct__call *c) {
    if (c->n_in != 1 || c->n_out != 1)
        return ct__call_error(c, CT_ERR_INTERNAL, "op %s: the GPU kernel expects one input "
                              "and one output", c->op->name);
    switch (c->op->code) {
    case CT__NEG: return dispatch<Neg, FLOATS | SINTS>(c);
    case CT__ABS: return dispatch<Abs, FLOATS | SINTS>(c);
    case CT__SIGN: return dispatch<Sign, FLOATS | SINTS>(c);
    case CT__SQRT: return dispatch<Sqrt, FLOATS>(c);
    case CT__RSQRT: return dispatch<Rsqrt, FLOATS>(c);
    case CT__SQUARE: return dispatch<Square, FLOATS | SINTS | U8>(c);
    case CT__RECIP: return dispatch<Recip, FLOATS>(c);
    case CT__EXP: return dispatch<Exp, FLOATS>(c);
    case CT__EXPM1: return dispatch<Expm1, FLOATS>(c);
    case CT__LOG: return dispatch<Log, FLOATS>(c);
    case CT__LOG1P: return dispatch<Log1p, FLOATS>(c);
    case CT__SIN: return dispatch<Sin, FLOATS>(c);
    case CT__COS: return dispatch<Cos, FLOATS>(c);
    case CT__TANH: return dispatch<Tanh, FLOATS>(c);
    case CT__SIGMOID: return dispatch<Sigmoid, FLOATS>(c);
    case CT__RELU: return dispatch<Relu, FLOATS | SINTS | U8>(c);
    case CT__SOFTPLUS: return dispatch<Softplus, FLOATS>(c);
    case CT__ERF: return dispatch<Erf, FLOATS>(c);
    case CT__FLOOR: return dispatch<Floor, FLOATS>(c);
    case CT__CEIL: return dispatch<Ceil, FLOATS>(c);
    case CT__ROUND: return dispatch<Round, FLOATS | SINTS>(c);
    case CT__ISNAN: return dispatch<IsNan, FLOATS>(c);
    case CT__ISINF: return dispatch<IsInf, FLOATS>(c);
    case CT__ISFINITE: return dispatch<IsFinite, FLOATS>(c);
    case CT__NOT: return dispatch<Not, BOOLS>(c);
    default: return no_kernel(c);
    }
}
