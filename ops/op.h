/*
 * How an op is defined. Every op is one `ct__op` value: a name, shape and
 * dtype inference, a kernel per device kind and a gradient written with
 * public ops. Every call goes through ct__run(), which
 *
 *   1. returns NULL at once for a NULL input (keeping the first error),
 *   2. checks that the inputs share a device,
 *   3. computes float16/bfloat16 ops in float32 unless the op opts out,
 *   4. runs infer() to validate and fill the output specs,
 *   5. allocates outputs (or makes views for aliasing ops),
 *   6. runs the device's kernel,
 *   7. records the call on every active tape that watches an input,
 *   8. hands the outputs to the innermost scope.
 *
 * A typical definition (see ops/elementwise.c):
 *
 *     static ct_status exp_grad(const ct__call *c, ct_tensor *const *dy,
 *                               ct_tensor **dx) {
 *         dx[0] = ct_multiply(dy[0], c->out[0]);
 *         return dx[0] ? CT_OK : ct_last_status();
 *     }
 *     const ct__op ct__op_exp = {
 *         .name = "Exp", .infer = ct__infer_unary_float,
 *         .kernel = {[CT_DEVICE_CPU] = ct__cpu_unary}, .grad = exp_grad,
 *     };
 *     ct_tensor *ct_exp(const ct_tensor *t) { return ct__run1(&ct__op_exp, 1, &t, NULL, 0); }
 *
 * Attributes are a plain struct (no pointers: tapes keep a byte copy).
 * Anything variable-length that a kernel needs is derived from the input
 * and output shapes (split sizes are the outputs' extents).
 */
#ifndef CT_OPS_OP_H
#define CT_OPS_OP_H

#include "runtime/internal.h"

#define CT__MAX_IO 64 /* most inputs or outputs a call may have on the stack */

typedef struct ct__spec {
    ct_dtype dtype;
    int rank;
    int64_t shape[CT_MAX_RANK];
    int alias;  /* >= 0: output is a view of input `alias` (same size) */
    size_t alias_offset; /* byte offset into the aliased input's data  */
} ct__spec;

typedef struct ct__op ct__op;

typedef struct ct__call {
    const ct__op *op;
    const char *api;          /* the public name for messages: "ct_add" */
    int n_in, n_out;
    ct_tensor **in;
    ct_tensor **out;          /* filled by ct__run before the kernel   */
    ct__spec *spec;           /* n_out entries, filled by infer        */
    const void *attrs;
    size_t attrs_size;
    ct_device *dev;
} ct__call;

typedef ct_status (*ct__infer_fn)(ct__call *c);
typedef ct_status (*ct__kernel_fn)(ct__call *c);
/* dy[n_out]: upstream gradients (zeros stand in for unconnected outputs).
 * dx[n_in]: set each to a tensor of the input's shape and dtype, or NULL
 * where the input is not differentiable. Tensors go to the scope. */
typedef ct_status (*ct__grad_fn)(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx);

enum {
    CT__OP_NATIVE_HALF = 1 << 0,  /* kernels handle float16/bfloat16 */
    CT__OP_NOT_DIFFERENTIABLE = 1 << 1, /* never recorded (comparisons) */
};

struct ct__op {
    const char *name;        /* TensorFlow's op name: "AddV2", "MatMul"   */
    ct__infer_fn infer;
    ct__kernel_fn kernel[CT_NUM_DEVICE_KINDS];
    ct__grad_fn grad;        /* NULL and not NOT_DIFFERENTIABLE: gradient()
                                reports that the op has no gradient      */
    unsigned flags;
    int code;                /* which member of a family (kernels share) */
};

/* A kernel slot for the CUDA device that vanishes in CPU-only builds:
 * .kernel = {[CT_DEVICE_CPU] = cpu_fn, CT__CUDA(ct__cuda_fn)}. */
#ifdef CT_HAVE_CUDA
#define CT__CUDA(fn) [CT_DEVICE_CUDA] = fn
#else
#define CT__CUDA(fn) [CT_DEVICE_CUDA] = NULL
#endif
/* Runs an op. `out` receives n_out tensors owned by the innermost scope.
 * `dev` may be NULL (the inputs' device, else the default device). */
ct_status ct__run(const ct__op *op, const char *api, int n_in, const ct_tensor *const *in,
                  const void *attrs, size_t attrs_size, int n_out, ct_tensor **out,
                  ct_device *dev);
/* One output; NULL on error. */
ct_tensor *ct__run1(const ct__op *op, const char *api, int n_in, const ct_tensor *const *in,
                    const void *attrs, size_t attrs_size);

/* Sets an error "<api>: <message>" for the call and returns code. */
ct_status ct__call_error(const ct__call *c, ct_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- helpers for infer ------------------------------------------------------ */

/* Normalises axis in [-rank, rank) to [0, rank); error naming the op. */
ct_status ct__axis(const ct__call *c, int axis, int rank, int *out);
/* Axis list to a bitmask of axes (CT_ALL -> all); duplicates are errors. */
ct_status ct__axes_mask(const ct__call *c, const int *axes, int naxes, int rank,
                        unsigned *mask);
/* The numpy broadcast of two shapes into out (rank in *orank). */
ct_status ct__broadcast_shapes(const ct__call *c, int ra, const int64_t *sa, int rb,
                               const int64_t *sb, int *orank, int64_t *oshape);
/* Sets spec[0] to dtype and shape. */
void ct__spec_set(ct__spec *s, ct_dtype dt, int rank, const int64_t *shape);
/* Requires dtype to satisfy a class; error names the op and the dtype. */
ct_status ct__need_float(const ct__call *c, const ct_tensor *t);
ct_status ct__need_numeric(const ct__call *c, const ct_tensor *t); /* not bool */
ct_status ct__need_same_dtype(const ct__call *c, const ct_tensor *a, const ct_tensor *b);

/* ---- helpers for gradients -------------------------------------------------- */

/* Sums g over the axes along which `shape` was broadcast to g's shape and
 * reshapes to `shape` (the gradient of a broadcasting op's input). */
ct_tensor *ct__unbroadcast(ct_tensor *g, int rank, const int64_t *shape);
static inline ct_status ct__grad_status(ct_tensor *const *dx, int n) {
    for (int i = 0; i < n; i++)
        if (!dx[i]) return ct_last_status() ? ct_last_status() : CT_ERR_INTERNAL;
    return CT_OK;
}

/* ---- strided iteration for broadcasting kernels ---------------------------- */

/* Element strides (0 on broadcast axes) of a tensor of rank `r`, shape `s`
 * against an output of rank `orank`, shape `oshape`. */
void ct__broadcast_strides(int r, const int64_t *s, int orank, const int64_t *oshape,
                           int64_t *strides);

/* ---- dtype switches for kernels ------------------------------------------- */

#define CT__CASE(DT, CT, ...)                                                 \
    case DT: {                                                                \
        typedef CT T;                                                         \
        __VA_ARGS__;                                                          \
    } break;
/* Runs the body with T bound to the C type of dt, for every storable
 * numeric dtype except the 16-bit floats (computed in float32). */
#define CT__SWITCH_ALL(dt, ...)                                               \
    switch (dt) {                                                             \
        CT__CASE(CT_FLOAT32, float, __VA_ARGS__)                              \
        CT__CASE(CT_FLOAT64, double, __VA_ARGS__)                             \
        CT__CASE(CT_INT32, int32_t, __VA_ARGS__)                              \
        CT__CASE(CT_INT64, int64_t, __VA_ARGS__)                              \
        CT__CASE(CT_UINT8, uint8_t, __VA_ARGS__)                              \
        CT__CASE(CT_BOOL, bool, __VA_ARGS__)                                  \
    default: break;                                                           \
    }
#define CT__SWITCH_FLOAT(dt, ...)                                             \
    switch (dt) {                                                             \
        CT__CASE(CT_FLOAT32, float, __VA_ARGS__)                              \
        CT__CASE(CT_FLOAT64, double, __VA_ARGS__)                             \
    default: break;                                                           \
    }
#define CT__SWITCH_NUMERIC(dt, ...)                                           \
    switch (dt) {                                                             \
        CT__CASE(CT_FLOAT32, float, __VA_ARGS__)                              \
        CT__CASE(CT_FLOAT64, double, __VA_ARGS__)                             \
        CT__CASE(CT_INT32, int32_t, __VA_ARGS__)                              \
        CT__CASE(CT_INT64, int64_t, __VA_ARGS__)                              \
        CT__CASE(CT_UINT8, uint8_t, __VA_ARGS__)                              \
    default: break;                                                           \
    }

/* The CUDA kernels the CT__CUDA() slots name. */
#include "ops/cuda/kernels.h"

#endif
