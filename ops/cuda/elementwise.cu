/*
 * Broadcasting binary elementwise kernels on the GPU (the CUDA slot of the
 * binary ops in ops/elementwise.c). Expressions are those of the CPU
 * kernels (ops/cpu/elementwise.c): wrapping integer arithmetic,
 * NaN-propagating maximum / minimum, bool results for comparisons.
 *
 * Shapes: the output is contiguous with `n` elements; ct__bplan_make()
 * collapses the broadcast into at most CT_MAX_RANK dims with element
 * strides sa, sb into a and b (0 on broadcast dims). Three cases:
 *   - same shapes, or one input a single element: a flat, 16-byte
 *     vectorised grid-stride loop (when the pointers allow it);
 *   - anything else: a grid-stride loop that turns the output index into
 *     input offsets, with 32-bit index math when n < 2^31.
 * FloorDiv, FloorMod and Pow have no GPU kernel yet (CT_ERR_UNIMPLEMENTED).
 */
#include <stdint.h>
#include <type_traits>

#include "runtime/cuda/cuda_internal.h"

namespace {

constexpr int BLOCK = 256;

/* ---- the expressions ---------------------------------------------------------- */

template <typename T> __device__ __forceinline__ T wrap_add(T x, T y) {
    if constexpr (std::is_integral<T>::value) {
        typedef typename std::make_unsigned<T>::type U;
        return (T)(U)((U)x + (U)y);
    } else {
        return x + y;
    }
}
template <typename T> __device__ __forceinline__ T wrap_sub(T x, T y) {
    if constexpr (std::is_integral<T>::value) {
        typedef typename std::make_unsigned<T>::type U;
        return (T)(U)((U)x - (U)y);
    } else {
        return x - y;
    }
}
template <typename T> __device__ __forceinline__ T wrap_mul(T x, T y) {
    if constexpr (std::is_integral<T>::value) {
        typedef typename std::make_unsigned<T>::type U;
        return (T)(U)((U)x * (U)y);
    } else {
        return x * y;
    }
}

#define CT__BIN_FUNCTOR(NAME, OUT, EXPR)                                                  \
    template <typename T> struct NAME {                                                   \
        typedef OUT out;                                                                  \
        static __device__ __forceinline__ out apply(T x, T y) { return (out)(EXPR); }     \
    };

CT__BIN_FUNCTOR(Add, T, wrap_add(x, y))
CT__BIN_FUNCTOR(Sub, T, wrap_sub(x, y))
CT__BIN_FUNCTOR(Mul, T, wrap_mul(x, y))
CT__BIN_FUNCTOR(Div, T, x / y)
/* NaN wins (x != x only for a NaN x; a NaN y falls through to y). */
CT__BIN_FUNCTOR(Max, T, x != x || x > y ? x : y)
CT__BIN_FUNCTOR(Min, T, x != x || x < y ? x : y)
CT__BIN_FUNCTOR(SqDiff, T, wrap_mul(wrap_sub(x, y), wrap_sub(x, y)))
CT__BIN_FUNCTOR(ReluGrad, T, y > 0 ? x : T(0))
CT__BIN_FUNCTOR(Eq, bool, x == y)
CT__BIN_FUNCTOR(Ne, bool, x != y)
CT__BIN_FUNCTOR(Lt, bool, x < y)
CT__BIN_FUNCTOR(Le, bool, x <= y)
CT__BIN_FUNCTOR(Gt, bool, x > y)
CT__BIN_FUNCTOR(Ge, bool, x >= y)
CT__BIN_FUNCTOR(And, bool, x && y)
CT__BIN_FUNCTOR(Or, bool, x || y)
CT__BIN_FUNCTOR(Xor, bool, x != y)

/* ---- the kernels ---------------------------------------------------------------- */

template <typename T, int V> struct alignas(sizeof(T) * V) Vec {
    T v[V];
};

/* Flat loop, 16 bytes of each non-scalar input per step. SA / SB: that
 * input is one element, read once. */
template <typename T, typename F, bool SA, bool SB>
__global__ void __launch_bounds__(BLOCK)
    bin_flat(const T *__restrict__ a, const T *__restrict__ b, typename F::out *__restrict__ o,
             int64_t n) {
    typedef typename F::out OT;
    constexpr int V = 16 / sizeof(T);
    const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    const T xs = SA ? a[0] : T(), ys = SB ? b[0] : T();
    const int64_t nv = n / V;
    for (int64_t i = tid; i < nv; i += step) {
        Vec<T, V> va, vb;
        Vec<OT, V> vo;
        if (!SA) va = reinterpret_cast<const Vec<T, V> *>(a)[i];
        if (!SB) vb = reinterpret_cast<const Vec<T, V> *>(b)[i];
#pragma unroll
        for (int j = 0; j < V; j++) vo.v[j] = F::apply(SA ? xs : va.v[j], SB ? ys : vb.v[j]);
        reinterpret_cast<Vec<OT, V> *>(o)[i] = vo;
    }
    for (int64_t i = nv * V + tid; i < n; i += step) o[i] = F::apply(SA ? xs : a[i], SB ? ys : b[i]);
}

struct Plan {
    int rank;
    int64_t shape[CT_MAX_RANK], sa[CT_MAX_RANK], sb[CT_MAX_RANK];
};

/* Any broadcast: output index -> (offset in a, offset in b). I is the
 * index type (uint32_t when every index fits, else int64_t). */
template <typename T, typename F, typename I>
__global__ void __launch_bounds__(BLOCK)
    bin_strided(const T *__restrict__ a, const T *__restrict__ b, typename F::out *__restrict__ o,
                Plan p, I n) {
    const I step = (I)gridDim.x * blockDim.x;
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
        I rem = i, ia = 0, ib = 0;
        for (int d = p.rank - 1; d >= 0; d--) {
            I s = (I)p.shape[d], q = rem / s, idx = rem - q * s;
            rem = q;
            ia += idx * (I)p.sa[d];
            ib += idx * (I)p.sb[d];
        }
        o[i] = F::apply(a[ia], b[ib]);
    }
}

/* ---- launching -------------------------------------------------------------------- */

bool aligned(const void *p, size_t to) { return ((uintptr_t)p & (to - 1)) == 0; }

template <typename T, typename F> ct_status launch(ct__call *c) {
    typedef typename F::out OT;
    constexpr int V = 16 / sizeof(T);
    const ct_tensor *ta = c->in[0], *tb = c->in[1];
    ct_tensor *to = c->out[0];
    const T *a = (const T *)ct__data(ta);
    const T *b = (const T *)ct__data(tb);
    OT *o = (OT *)ct__data(to);
    const int64_t n = to->size;
    if (n == 0) return CT_OK;
    ct_status st = ct__cuda_enter(c->dev);
    if (st) return st;
    cudaStream_t s = ct__cuda_impl_of(c->dev)->stream;

    ct__bplan bp;
    ct__bplan_make(&bp, ta, tb, to);
    bool vec_ok = aligned(a, 16) && aligned(b, 16) && aligned(o, sizeof(OT) * V);
    if (bp.rank == 1 && vec_ok && !(bp.sa[0] == 0 && bp.sb[0] == 0)) {
        unsigned grid = ct__cuda_blocks(c->dev, (n + V - 1) / V, BLOCK);
        if (bp.sa[0] && bp.sb[0]) bin_flat<T, F, false, false><<<grid, BLOCK, 0, s>>>(a, b, o, n);
        else if (bp.sb[0]) bin_flat<T, F, true, false><<<grid, BLOCK, 0, s>>>(a, b, o, n);
        else bin_flat<T, F, false, true><<<grid, BLOCK, 0, s>>>(a, b, o, n);
        CT__CUDA_CHECK_LAUNCH();
        return CT_OK;
    }
    Plan p;
    p.rank = bp.rank;
    for (int d = 0; d < CT_MAX_RANK; d++) {
        p.shape[d] = d < bp.rank ? bp.shape[d] : 1;
        p.sa[d] = d < bp.rank ? bp.sa[d] : 0;
        p.sb[d] = d < bp.rank ? bp.sb[d] : 0;
    }
    unsigned grid = ct__cuda_blocks(c->dev, n, BLOCK);
    /* Input offsets never exceed the inputs' sizes, which never exceed n. */
    if (n < ((int64_t)1 << 31))
        bin_strided<T, F, uint32_t><<<grid, BLOCK, 0, s>>>(a, b, o, p, (uint32_t)n);
    else
        bin_strided<T, F, int64_t><<<grid, BLOCK, 0, s>>>(a, b, o, p, n);
    CT__CUDA_CHECK_LAUNCH();
    return CT_OK;
}

ct_status no_kernel(ct__call *c) {
    return ct__call_error(c, CT_ERR_UNIMPLEMENTED, "op %s has no kernel for %s on %s",
                          c->op->name, ct_dtype_name(c->in[0]->dtype), c->dev->name);
}

/* Dtype classes an op accepts on the GPU. */
enum { FLOATS = 1, INTS = 2, BOOLS = 4 };

template <template <typename> class F, unsigned CLASSES> ct_status dispatch(ct__call *c) {
    switch (c->in[0]->dtype) {
    case CT_FLOAT32:
        if constexpr ((CLASSES & FLOATS) != 0) return launch<float, F<float>>(c);
        break;
    case CT_FLOAT64:
        if constexpr ((CLASSES & FLOATS) != 0) return launch<double, F<double>>(c);
        break;
    case CT_INT32:
        if constexpr ((CLASSES & INTS) != 0) return launch<int32_t, F<int32_t>>(c);
        break;
    case CT_INT64:
        if constexpr ((CLASSES & INTS) != 0) return launch<int64_t, F<int64_t>>(c);
        break;
    case CT_UINT8:
        if constexpr ((CLASSES & INTS) != 0) return launch<uint8_t, F<uint8_t>>(c);
        break;
    case CT_BOOL:
        if constexpr ((CLASSES & BOOLS) != 0) return launch<bool, F<bool>>(c);
        break;
    default: break;
    }
    return no_kernel(c);
}

} // namespace

ct_status ct__cuda_binary(ct__call *c) {
    if (c->n_in != 2 || c->n_out != 1 || c->in[0]->dtype != c->in[1]->dtype)
        return ct__call_error(c, CT_ERR_INTERNAL, "op %s: the GPU kernel expects two inputs of "
                              "one dtype and one output", c->op->name);
    switch (c->op->code) {
    case CT__ADD: return dispatch<Add, FLOATS | INTS>(c);
    case CT__SUB: return dispatch<Sub, FLOATS | INTS>(c);
    case CT__MUL: return dispatch<Mul, FLOATS | INTS>(c);
    case CT__DIV: return dispatch<Div, FLOATS>(c);
    case CT__MAX: return dispatch<Max, FLOATS | INTS>(c);
    case CT__MIN: return dispatch<Min, FLOATS | INTS>(c);
    case CT__SQDIFF: return dispatch<SqDiff, FLOATS | INTS>(c);
    case CT__RELU_GRAD: return dispatch<ReluGrad, FLOATS>(c);
    case CT__EQ: return dispatch<Eq, FLOATS | INTS | BOOLS>(c);
    case CT__NE: return dispatch<Ne, FLOATS | INTS | BOOLS>(c);
    case CT__LT: return dispatch<Lt, FLOATS | INTS | BOOLS>(c);
    case CT__LE: return dispatch<Le, FLOATS | INTS | BOOLS>(c);
    case CT__GT: return dispatch<Gt, FLOATS | INTS | BOOLS>(c);
    case CT__GE: return dispatch<Ge, FLOATS | INTS | BOOLS>(c);
    case CT__AND: return dispatch<And, BOOLS>(c);
    case CT__OR: return dispatch<Or, BOOLS>(c);
    case CT__XOR: return dispatch<Xor, BOOLS>(c);
    default: return no_kernel(c);
    }
}
