/*
 * tf.one_hot (OneHot): indices of shape S give an output of shape S with
 * a new axis of size depth at `axis` (-1 appends). Index values outside
 * [0, depth), negative ones included, give an all-off_value row, as TF.
 * The output is viewed as [outer, depth, inner] (outer: the index axes
 * before `axis`, inner: those from it); each [depth, inner] block is
 * filled with off_value and the on_value entries are then set. Not
 * differentiable: indices are integers and on/off values are constants.
 */
#include <omp.h>
#include <string.h>

#include "ops/op.h"

typedef struct {
    int64_t depth;
    double on, off;
    int axis;
    ct_dtype dtype;
} one_hot_attrs;

static ct_status infer_one_hot(ct__call *c) {
    const one_hot_attrs *a = c->attrs;
    const ct_tensor *t = c->in[0];
    if (t->dtype != CT_INT32 && t->dtype != CT_INT64 && t->dtype != CT_UINT8)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "indices must be int32, int64 or uint8, got %s", CT__DESC(t));
    if ((unsigned)a->dtype >= CT_NUM_DTYPES)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "invalid dtype %d", (int)a->dtype);
    if (a->depth < 0)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "depth must be non-negative, got %lld",
                              (long long)a->depth);
    if (a->axis < -1 || a->axis > t->rank)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "axis must be -1 or in [0, %d], got %d (indices %s)", t->rank,
                              a->axis, CT__DESC(t));
    if (t->rank == CT_MAX_RANK)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                              "indices %s already have the maximum rank %d", CT__DESC(t),
                              CT_MAX_RANK);
    int ax = a->axis < 0 ? t->rank : a->axis;
    int64_t shape[CT_MAX_RANK];
    for (int i = 0, j = 0; i <= t->rank; i++) shape[i] = i == ax ? a->depth : t->shape[j++];
    ct__spec_set(&c->spec[0], a->dtype, t->rank + 1, shape);
    return CT_OK;
}

#define DEFINE_ONE_HOT(NAME, IT, OT)                                                       \
    static void NAME(const void *vi, void *vo, int64_t outer, int64_t depth, int64_t inner, \
                     uint64_t onb, uint64_t offb) {                                        \
        const IT *ix = vi;                                                                 \
        OT *out = vo, on = (OT)onb, off = (OT)offb;                                        \
        int nt = ct__threads_for(outer * depth * inner, 1);                                \
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")           \
        for (int64_t o = 0; o < outer; o++) {                                              \
            OT *blk = out + o * depth * inner;                                             \
            const IT *ip = ix + o * inner;                                                 \
            for (int64_t k = 0; k < depth * inner; k++) blk[k] = off;                      \
            for (int64_t i = 0; i < inner; i++) {                                          \
                int64_t v = (int64_t)ip[i];                                                \
                if (v >= 0 && v < depth) blk[v * inner + i] = on;                          \
            }                                                                              \
        }                                                                                  \
    }
#define DEFINE_ONE_HOT_SIZES(IN, IT)                                                       \
    DEFINE_ONE_HOT(one_hot_##IN##_1, IT, uint8_t)                                          \
    DEFINE_ONE_HOT(one_hot_##IN##_2, IT, uint16_t)                                         \
    DEFINE_ONE_HOT(one_hot_##IN##_4, IT, uint32_t)                                         \
    DEFINE_ONE_HOT(one_hot_##IN##_8, IT, uint64_t)
DEFINE_ONE_HOT_SIZES(u8, uint8_t)
DEFINE_ONE_HOT_SIZES(i32, int32_t)
DEFINE_ONE_HOT_SIZES(i64, int64_t)

typedef void (*one_hot_fn)(const void *, void *, int64_t, int64_t, int64_t, uint64_t, uint64_t);

static ct_status cpu_one_hot(ct__call *c) {
    const one_hot_attrs *a = c->attrs;
    ct_tensor *t = c->in[0], *o = c->out[0];
    if (o->size == 0) return CT_OK;
    int ax = a->axis < 0 ? t->rank : a->axis;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < t->rank; i++) {
        if (i < ax) outer *= t->shape[i];
        else inner *= t->shape[i];
    }
    static const one_hot_fn fns[3][4] = {
        {one_hot_u8_1, one_hot_u8_2, one_hot_u8_4, one_hot_u8_8},
        {one_hot_i32_1, one_hot_i32_2, one_hot_i32_4, one_hot_i32_8},
        {one_hot_i64_1, one_hot_i64_2, one_hot_i64_4, one_hot_i64_8},
    };
    int it = t->dtype == CT_UINT8 ? 0 : t->dtype == CT_INT32 ? 1 : 2;
    size_t es = ct_dtype_size(o->dtype);
    int ot = es == 1 ? 0 : es == 2 ? 1 : es == 4 ? 2 : 3;
    /* The values' bit patterns in the output dtype (low bytes). */
    uint64_t onb = 0, offb = 0;
    ct__convert(&a->on, CT_FLOAT64, &onb, o->dtype, 1);
    ct__convert(&a->off, CT_FLOAT64, &offb, o->dtype, 1);
    fns[it][ot](ct__data(t), ct__data(o), outer, a->depth, inner, onb, offb);
    return CT_OK;
}

const ct__op ct__op_one_hot = {.name = "OneHot", .infer = infer_one_hot,
                               .kernel = {[CT_DEVICE_CPU] = cpu_one_hot},
                               .flags = CT__OP_NOT_DIFFERENTIABLE | CT__OP_NATIVE_HALF};

ct_tensor *ct_one_hot(const ct_tensor *indices, int64_t depth, double on_value,
                      double off_value, int axis, ct_dtype dtype) {
    one_hot_attrs a = {.depth = depth, .on = on_value, .off = off_value, .axis = axis,
                       .dtype = dtype};
    return ct__run1(&ct__op_one_hot, "ct_one_hot", 1, &indices, &a, sizeof a);
}
