/*
 * Keras pooling layers: MaxPooling1D/2D/3D, AveragePooling1D/2D/3D and
 * GlobalMaxPooling1D/2D/3D, GlobalAveragePooling1D/2D/3D.
 *
 * Inputs are [batch, spatial..., channels]: channels_last is the only
 * data_format ctrain's pooling ops take, so "channels_first" is a clear
 * error at construction. Average pooling with "same" padding divides by
 * the number of elements inside the input (TF's rule, which Keras's
 * TensorFlow backend inherits).
 */
#include <stdio.h>
#include <string.h>

#include "nn/internal.h"

typedef struct {
    ct_layer base;
    int rank;             /* spatial dimensions: 1, 2 or 3          */
    bool max;             /* max, else average                      */
    int64_t pool_size[3], strides[3];
    const char *padding;  /* "valid" or "same" (static)             */
    bool keepdims;        /* global pooling                         */
} pool;

static const char *const PADDINGS[] = {"valid", "same", NULL};
static const char *const DATA_FORMATS[] = {"channels_last", "channels_first", NULL};

static ct_status read_data_format(ct__cfg *c) {
    const char *df;
    ct_status st = ct__cfg_str(c, "data_format", "channels_last", DATA_FORMATS, &df);
    if (st) return st;
    return ct__cfg_check(c, !strcmp(df, "channels_last"), "data_format",
                         "'%s' is not supported: ctrain's pooling takes channels_last inputs "
                         "only (transpose the input to [batch, spatial..., channels])",
                         df);
}

static ct_status check_positive(ct__cfg *c, const char *key, int n, const int64_t *v) {
    for (int i = 0; i < n; i++)
        if (v[i] <= 0)
            return ct__cfg_check(c, false, key,
                                 "must be positive integers, got %lld in dimension %d",
                                 (long long)v[i], i);
    return CT_OK;
}

static ct_status pool_init(ct_layer *l, ct__cfg *c, int rank, bool max) {
    pool *p = (pool *)l;
    p->rank = rank;
    p->max = max;
    const int64_t twos[3] = {2, 2, 2};
    ct_status st = ct__cfg_ints(c, "pool_size", rank, twos, p->pool_size) ||
                   check_positive(c, "pool_size", rank, p->pool_size);
    if (st) return st;
    /* strides None means pool_size (Keras). */
    if (ct__cfg_has(c, "strides")) {
        st = ct__cfg_ints(c, "strides", rank, NULL, p->strides) ||
             check_positive(c, "strides", rank, p->strides);
    } else {
        st = ct__cfg_ints(c, "strides", rank, p->pool_size, p->strides);
    }
    return st || ct__cfg_str(c, "padding", "valid", PADDINGS, &p->padding) ||
           read_data_format(c);
}

static ct_status global_init(ct_layer *l, ct__cfg *c, int rank, bool max) {
    pool *p = (pool *)l;
    p->rank = rank;
    p->max = max;
    return read_data_format(c) || ct__cfg_bool(c, "keepdims", false, &p->keepdims);
}

#define POOL_INIT(fn, kind, rank, max)                                                     \
    static ct_status fn(ct_layer *l, ct__cfg *c) { return kind(l, c, rank, max); }
POOL_INIT(max1d_init, pool_init, 1, true)
POOL_INIT(max2d_init, pool_init, 2, true)
POOL_INIT(max3d_init, pool_init, 3, true)
POOL_INIT(avg1d_init, pool_init, 1, false)
POOL_INIT(avg2d_init, pool_init, 2, false)
POOL_INIT(avg3d_init, pool_init, 3, false)
POOL_INIT(gmax1d_init, global_init, 1, true)
POOL_INIT(gmax2d_init, global_init, 2, true)
POOL_INIT(gmax3d_init, global_init, 3, true)
POOL_INIT(gavg1d_init, global_init, 1, false)
POOL_INIT(gavg2d_init, global_init, 2, false)
POOL_INIT(gavg3d_init, global_init, 3, false)

static json_t *int_tuple(int n, const int64_t *v) {
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) json_array_append_new(a, json_integer((json_int_t)v[i]));
    return a;
}

static ct_status pool_get_config(const ct_layer *l, json_t *cfg) {
    const pool *p = (const pool *)l;
    json_object_set_new(cfg, "pool_size", int_tuple(p->rank, p->pool_size));
    json_object_set_new(cfg, "padding", json_string(p->padding));
    json_object_set_new(cfg, "strides", int_tuple(p->rank, p->strides));
    json_object_set_new(cfg, "data_format", json_string("channels_last"));
    return CT_OK;
}

static ct_status global_get_config(const ct_layer *l, json_t *cfg) {
    const pool *p = (const pool *)l;
    json_object_set_new(cfg, "data_format", json_string("channels_last"));
    json_object_set_new(cfg, "keepdims", json_boolean(p->keepdims));
    return CT_OK;
}

static ct_status check_rank(const ct_layer *l, const ct_shape *in) {
    const pool *p = (const pool *)l;
    if (in->rank != p->rank + 2)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "expects an input of rank %d (batch, %d spatial dimension%s, "
                               "channels), got shape %s",
                               p->rank + 2, p->rank, p->rank == 1 ? "" : "s",
                               CT__SHAPE_STR(in));
    return CT_OK;
}

/* Keras's compute_pooling_output_shape: valid floor((in - p) / s) + 1
 * (must be positive), same floor((in - 1) / s) + 1. */
static ct_status pool_output_shape(const ct_layer *l, int n, const ct_shape *in, ct_shape *out) {
    (void)n;
    const pool *p = (const pool *)l;
    ct_status st = check_rank(l, in);
    if (st) return st;
    *out = *in;
    bool same = !strcmp(p->padding, "same");
    for (int i = 0; i < p->rank; i++) {
        int64_t d = in->dim[1 + i], k = p->pool_size[i], s = p->strides[i];
        if (d < 0) continue;
        int64_t o = same ? (d - 1) / s + 1 : d >= k ? (d - k) / s + 1 : 0;
        if (o <= 0)
            return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                   "the output would be empty: input %s, pool_size %lld in "
                                   "spatial dimension %d, strides %lld, padding '%s'",
                                   CT__SHAPE_STR(in), (long long)k, i, (long long)s, p->padding);
        out->dim[1 + i] = o;
    }
    return CT_OK;
}

static ct_status global_output_shape(const ct_layer *l, int n, const ct_shape *in,
                                     ct_shape *out) {
    (void)n;
    const pool *p = (const pool *)l;
    ct_status st = check_rank(l, in);
    if (st) return st;
    if (p->keepdims) {
        *out = *in;
        for (int i = 0; i < p->rank; i++) out->dim[1 + i] = 1;
    } else {
        *out = (ct_shape){.rank = 2, .dim = {in->dim[0], in->dim[p->rank + 1]}};
    }
    return CT_OK;
}

static ct_status pool_build(ct_layer *l, int n, const ct_shape *in) {
    ct_shape out;
    return pool_output_shape(l, n, in, &out);
}

static ct_status global_build(ct_layer *l, int n, const ct_shape *in) {
    (void)n;
    return check_rank(l, in);
}

static const ct_tensor *cast_input(const ct_layer *l, const ct_tensor *x) {
    /* Keras autocasts floating inputs to the layer's dtype; ctrain casts
     * every input (max pooling of integers is not a Keras use). */
    return ct_tensor_dtype(x) == l->dtype ? x : ct_cast(x, l->dtype);
}

static ct_tensor *pool_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)n, (void)training;
    const pool *p = (const pool *)l;
    ct_shape s = ct__shape_of(in[0]), out;
    if (pool_output_shape(l, 1, &s, &out)) return NULL;
    ct_pool_opts o = {.padding = p->padding};
    for (int i = 0; i < p->rank; i++) {
        o.pool_size[i] = (int)p->pool_size[i];
        o.strides[i] = (int)p->strides[i];
    }
    ct_scope_begin();
    const ct_tensor *x = cast_input(l, in[0]);
    ct_tensor *y = p->max ? ct_max_pool(x, &o) : ct_avg_pool(x, &o);
    ct_keep(y);
    ct_scope_end();
    return y;
}

static ct_tensor *global_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)n, (void)training;
    const pool *p = (const pool *)l;
    ct_shape s = ct__shape_of(in[0]);
    if (check_rank(l, &s)) return NULL;
    int axes[3];
    for (int i = 0; i < p->rank; i++) axes[i] = 1 + i;
    ct_scope_begin();
    const ct_tensor *x = cast_input(l, in[0]);
    ct_tensor *y = p->max ? ct_reduce_max(x, axes, p->rank, p->keepdims)
                          : ct_reduce_mean(x, axes, p->rank, p->keepdims);
    ct_keep(y);
    ct_scope_end();
    return y;
}

#define POOL_VT(var, cls, init)                                                           \
    static const ct__layer_vt var = {cls,       sizeof(pool),      1,         1,             \
                                     init,      pool_get_config,   pool_build,               \
                                     pool_output_shape, pool_call, NULL}
#define GLOBAL_VT(var, cls, init)                                                         \
    static const ct__layer_vt var = {cls,       sizeof(pool),        1,            1,         \
                                     init,      global_get_config,   global_build,            \
                                     global_output_shape, global_call, NULL}
POOL_VT(max1d_vt, "MaxPooling1D", max1d_init);
POOL_VT(max2d_vt, "MaxPooling2D", max2d_init);
POOL_VT(max3d_vt, "MaxPooling3D", max3d_init);
POOL_VT(avg1d_vt, "AveragePooling1D", avg1d_init);
POOL_VT(avg2d_vt, "AveragePooling2D", avg2d_init);
POOL_VT(avg3d_vt, "AveragePooling3D", avg3d_init);
GLOBAL_VT(gmax1d_vt, "GlobalMaxPooling1D", gmax1d_init);
GLOBAL_VT(gmax2d_vt, "GlobalMaxPooling2D", gmax2d_init);
GLOBAL_VT(gmax3d_vt, "GlobalMaxPooling3D", gmax3d_init);
GLOBAL_VT(gavg1d_vt, "GlobalAveragePooling1D", gavg1d_init);
GLOBAL_VT(gavg2d_vt, "GlobalAveragePooling2D", gavg2d_init);
GLOBAL_VT(gavg3d_vt, "GlobalAveragePooling3D", gavg3d_init);

const ct__layer_vt *const ct__pool_layers[] = {
    &max1d_vt,  &max2d_vt,  &max3d_vt,  &avg1d_vt,  &avg2d_vt,  &avg3d_vt,
    &gmax1d_vt, &gmax2d_vt, &gmax3d_vt, &gavg1d_vt, &gavg2d_vt, &gavg3d_vt, NULL,
};
