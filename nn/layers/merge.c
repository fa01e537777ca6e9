/*
 * Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum,
 * Concatenate, Dot.
 *
 * Shapes (Keras 3's Merge): the inputs' batch sizes must agree; the other
 * dimensions broadcast numpy-style from the right (1 against n, None
 * against anything), and an input of lower rank gains size-1 axes right
 * after the batch axis before the operation. Keras 3 takes one input or
 * more (Keras 2 wanted two); Subtract and Dot take exactly two.
 *
 * Dtypes: floating inputs are cast to the layer's dtype (Keras's autocast);
 * when the inputs still differ (an integer among floats), all are cast to
 * it, as Keras 3's ops promote int with float to float.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "nn/internal.h"

/* ---- helpers -------------------------------------------------------------------- */

/* "(None, 3), (None, 4)" into buf. */
static const char *shapes_str(int n, const ct_shape *in, char *buf, size_t cap) {
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && o < cap; i++) {
        char one[128];
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "",
                              ct__shape_str(&in[i], one, sizeof one));
    }
    return buf;
}
#define SHAPES_STR(n, in) shapes_str((n), (in), (char[512]){0}, 512)

/* The inputs cast as the file comment says, into out[] (current scope). */
static ct_status cast_inputs(const ct_layer *l, int n, ct_tensor *const *in, ct_tensor **out) {
    bool mixed = false;
    for (int i = 0; i < n; i++) {
        ct_dtype dt = ct_tensor_dtype(in[i]);
        out[i] = ct_dtype_is_float(dt) && dt != l->dtype ? ct_cast(in[i], l->dtype) : in[i];
        if (!out[i]) return ct_last_status();
        if (ct_tensor_dtype(out[i]) != ct_tensor_dtype(out[0])) mixed = true;
    }
    for (int i = 0; mixed && i < n; i++)
        if (ct_tensor_dtype(out[i]) != l->dtype && !(out[i] = ct_cast(out[i], l->dtype)))
            return ct_last_status();
    return CT_OK;
}

/* ---- elementwise merges ------------------------------------------------------------ */

typedef enum { M_ADD, M_SUBTRACT, M_MULTIPLY, M_AVERAGE, M_MAXIMUM, M_MINIMUM } merge_op;

typedef struct merge {
    ct_layer base;
    merge_op op;
} merge;

/* Keras's Merge.compute_output_shape (with its build's checks). */
static ct_status merge_output_shape(const ct_layer *l, int n, const ct_shape *in,
                                    ct_shape *out) {
    int64_t batch = -1;
    for (int i = 0; i < n; i++) {
        if (in[i].rank < 1)
            return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                   "inputs need a batch axis; got shapes %s", SHAPES_STR(n, in));
        if (in[i].dim[0] >= 0) {
            if (batch >= 0 && batch != in[i].dim[0])
                return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                       "cannot merge tensors with different batch sizes; got "
                                       "shapes %s",
                                       SHAPES_STR(n, in));
            batch = in[i].dim[0];
        }
    }
    /* The shapes without the batch, broadcast from the right. */
    ct_shape acc = {.rank = in[0].rank - 1};
    memcpy(acc.dim, in[0].dim + 1, (size_t)acc.rank * sizeof acc.dim[0]);
    for (int i = 1; i < n; i++) {
        int r = in[i].rank - 1;
        const int64_t *d = in[i].dim + 1;
        ct_shape next = {.rank = acc.rank > r ? acc.rank : r};
        for (int k = 0; k < next.rank; k++) {
            int ia = acc.rank - next.rank + k, ib = r - next.rank + k;
            int64_t a = ia >= 0 ? acc.dim[ia] : 1, b = ib >= 0 ? d[ib] : 1;
            /* Keras: only the common trailing axes are compared. */
            if (ia < 0) a = b;
            if (ib < 0) b = a;
            int64_t v;
            if (a < 0 || b < 0) v = -1;
            else if (a == 1) v = b;
            else if (b == 1) v = a;
            else if (a == b) v = a;
            else
                return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                       "inputs have incompatible shapes %s", SHAPES_STR(n, in));
            next.dim[k] = v;
        }
        acc = next;
    }
    out->rank = acc.rank + 1;
    out->dim[0] = batch;
    memcpy(out->dim + 1, acc.dim, (size_t)acc.rank * sizeof acc.dim[0]);
    return CT_OK;
}

static ct_status merge_build(ct_layer *l, int n, const ct_shape *in) {
    ct_shape out;
    return merge_output_shape(l, n, in, &out);
}

static ct_tensor *merge_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)training;
    merge *m = (merge *)l;
    ct_shape shapes[16], out;
    for (int i = 0; i < n && i < 16; i++) shapes[i] = ct__shape_of(in[i]);
    if (merge_output_shape(l, n, shapes, &out)) return NULL;
    ct_scope_begin();
    ct_tensor *xs[16];
    ct_tensor *y = NULL;
    if (cast_inputs(l, n, in, xs)) goto out;
    /* Lower ranks gain axes after the batch (Keras's _reshape_required). */
    for (int i = 0; i < n; i++)
        while (xs[i] && ct_tensor_rank(xs[i]) < out.rank) xs[i] = ct_expand_dims(xs[i], 1);
    y = xs[0];
    for (int i = 1; i < n && y; i++) {
        switch (m->op) {
        case M_ADD:
        case M_AVERAGE: y = ct_add(y, xs[i]); break;
        case M_SUBTRACT: y = ct_subtract(y, xs[i]); break;
        case M_MULTIPLY: y = ct_multiply(y, xs[i]); break;
        case M_MAXIMUM: y = ct_maximum(y, xs[i]); break;
        case M_MINIMUM: y = ct_minimum(y, xs[i]); break;
        }
    }
    if (y && m->op == M_AVERAGE) y = ct_divide(y, ct_scalar_of(ct_tensor_dtype(y), n));
    /* One input: a new tensor all the same (the caller's scope owns it). */
    if (y && n == 1) y = ct_identity(y);
out:
    ct_keep(y);
    ct_scope_end();
    return y;
}

#define MERGE_INIT(fn, OP)                                                                   \
    static ct_status fn(ct_layer *l, ct__cfg *c) {                                           \
        (void)c;                                                                             \
        ((merge *)l)->op = OP;                                                               \
        return CT_OK;                                                                        \
    }
MERGE_INIT(add_init, M_ADD)
MERGE_INIT(subtract_init, M_SUBTRACT)
MERGE_INIT(multiply_init, M_MULTIPLY)
MERGE_INIT(average_init, M_AVERAGE)
MERGE_INIT(maximum_init, M_MAXIMUM)
MERGE_INIT(minimum_init, M_MINIMUM)

#define MERGE_VT(var, name, init_fn, lo, hi)                                                 \
    static const ct__layer_vt var = {                                                        \
        .class_name = name, .size = sizeof(merge), .min_inputs = lo, .max_inputs = hi,       \
        .init = init_fn, .build = merge_build, .output_shape = merge_output_shape,           \
        .call = merge_call,                                                                  \
    };
MERGE_VT(add_vt, "Add", add_init, 1, INT_MAX)
MERGE_VT(subtract_vt, "Subtract", subtract_init, 2, 2)
MERGE_VT(multiply_vt, "Multiply", multiply_init, 1, INT_MAX)
MERGE_VT(average_vt, "Average", average_init, 1, INT_MAX)
MERGE_VT(maximum_vt, "Maximum", maximum_init, 1, INT_MAX)
MERGE_VT(minimum_vt, "Minimum", minimum_init, 1, INT_MAX)

/* ---- Concatenate -------------------------------------------------------------------- */

/* keras.layers.Concatenate(axis=-1): inputs of one rank whose dimensions
 * agree except along axis (None agrees with anything). */
typedef struct concatenate {
    ct_layer base;
    int64_t axis;
} concatenate;

static ct_status concat_init(ct_layer *l, ct__cfg *c) {
    return ct__cfg_int(c, "axis", -1, &((concatenate *)l)->axis);
}

static ct_status concat_output_shape(const ct_layer *l, int n, const ct_shape *in,
                                     ct_shape *out) {
    const concatenate *cc = (const concatenate *)l;
    int r = in[0].rank;
    int64_t ax = cc->axis < 0 ? cc->axis + r : cc->axis;
    bool ok = ax >= 0 && ax < r;
    for (int i = 1; ok && i < n; i++) ok = in[i].rank == r;
    if (!ok)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "axis %lld needs inputs of one rank that have it; got shapes %s",
                               (long long)cc->axis, SHAPES_STR(n, in));
    *out = in[0];
    for (int i = 1; i < n; i++)
        for (int k = 0; k < r; k++) {
            int64_t a = out->dim[k], b = in[i].dim[k];
            if (k == ax) {
                out->dim[k] = a < 0 || b < 0 ? -1 : a + b;
            } else if (a >= 0 && b >= 0 && a != b) {
                return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                       "a Concatenate layer requires inputs with matching "
                                       "shapes except for the concatenation axis %lld; got "
                                       "shapes %s",
                                       (long long)cc->axis, SHAPES_STR(n, in));
            } else if (a < 0) {
                out->dim[k] = b;
            }
        }
    return CT_OK;
}

static ct_status concat_build(ct_layer *l, int n, const ct_shape *in) {
    ct_shape out;
    return concat_output_shape(l, n, in, &out);
}

static ct_tensor *concat_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)training;
    ct_shape shapes[16], out;
    for (int i = 0; i < n && i < 16; i++) shapes[i] = ct__shape_of(in[i]);
    if (concat_output_shape(l, n, shapes, &out)) return NULL;
    ct_scope_begin();
    ct_tensor *xs[16];
    ct_tensor *y = cast_inputs(l, n, in, xs) ? NULL
                                             : ct_concat(n, xs, (int)((concatenate *)l)->axis);
    ct_keep(y);
    ct_scope_end();
    return y;
}

static ct_status concat_get_config(const ct_layer *l, json_t *cfg) {
    json_object_set_new(cfg, "axis", json_integer(((const concatenate *)l)->axis));
    return CT_OK;
}

static const ct__layer_vt concat_vt = {
    .class_name = "Concatenate", .size = sizeof(concatenate), .min_inputs = 1,
    .max_inputs = INT_MAX, .init = concat_init, .get_config = concat_get_config,
    .build = concat_build, .output_shape = concat_output_shape, .call = concat_call,
};

/* ---- Dot ------------------------------------------------------------------------------- */

/* keras.layers.Dot(axes, normalize=False): Keras's batch_dot of two
 * inputs of rank >= 2 along axes[0] of the first and axes[1] of the second
 * (an int means both). The result is x's shape without its axis, then y's
 * without the batch and its axis; rank 1 becomes [B, 1]. normalize first
 * L2-normalises each input along its axis as Keras 3's ops.normalize:
 * x * min(rsqrt(sum(x^2)), 1 / 1e-7). */
typedef struct dot {
    ct_layer base;
    bool axes_list; /* written back as a list (else an int) */
    int64_t axes[2];
    bool normalize;
} dot;

static ct_status dot_init(ct_layer *l, ct__cfg *c) {
    dot *d = (dot *)l;
    const json_t *a = c->obj ? json_object_get(c->obj, "axes") : NULL;
    if (!a || json_is_null(a)) return ct__cfg_check(c, false, "axes", "is required");
    d->axes_list = json_is_array(a);
    if (d->axes_list && json_array_size(a) != 2)
        return ct__cfg_check(c, false, "axes", "should contain two elements, got %zu",
                             json_array_size(a));
    return ct__cfg_ints(c, "axes", 2, NULL, d->axes) ||
           ct__cfg_bool(c, "normalize", false, &d->normalize);
}

/* The two axes made non-negative for these ranks (Keras: axis % rank). */
static void dot_axes(const dot *d, int r0, int r1, int ax[2]) {
    int r[2] = {r0, r1};
    for (int i = 0; i < 2; i++) {
        int64_t a = d->axes[i];
        ax[i] = (int)(a < 0 ? ((a % r[i]) + r[i]) % r[i] : a);
    }
}

static ct_status dot_output_shape(const ct_layer *l, int n, const ct_shape *in, ct_shape *out) {
    (void)n;
    const dot *d = (const dot *)l;
    const ct_shape *x = &in[0], *y = &in[1];
    if (x->rank < 2 || y->rank < 2)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "cannot do batch_dot on inputs with rank < 2; got shapes %s",
                               SHAPES_STR(2, in));
    if (x->dim[0] >= 0 && y->dim[0] >= 0 && x->dim[0] != y->dim[0])
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "cannot do batch_dot on inputs with different batch sizes; got "
                               "shapes %s",
                               SHAPES_STR(2, in));
    int ax[2];
    dot_axes(d, x->rank, y->rank, ax);
    if (ax[0] >= x->rank || ax[1] >= y->rank)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "axes (%lld, %lld) are out of range for shapes %s",
                               (long long)d->axes[0], (long long)d->axes[1], SHAPES_STR(2, in));
    if (ax[0] == 0 || ax[1] == 0)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "cannot perform batch_dot over axis 0 (the batch); got axes "
                               "(%lld, %lld)",
                               (long long)d->axes[0], (long long)d->axes[1]);
    int64_t d0 = x->dim[ax[0]], d1 = y->dim[ax[1]];
    if (d0 >= 0 && d1 >= 0 && d0 != d1)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "incompatible input shapes: axis values %lld (at axis %d) != "
                               "%lld (at axis %d); full input shapes %s",
                               (long long)d0, ax[0], (long long)d1, ax[1], SHAPES_STR(2, in));
    ct_shape o = {0};
    for (int i = 0; i < x->rank; i++)
        if (i != ax[0]) o.dim[o.rank++] = x->dim[i];
    for (int i = 1; i < y->rank; i++)
        if (i != ax[1]) {
            if (o.rank >= CT_MAX_RANK)
                return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                       "the result of shapes %s would have rank > %d",
                                       SHAPES_STR(2, in), CT_MAX_RANK);
            o.dim[o.rank++] = y->dim[i];
        }
    if (o.rank == 1) o.dim[o.rank++] = 1;
    *out = o;
    return CT_OK;
}

static ct_status dot_build(ct_layer *l, int n, const ct_shape *in) {
    ct_shape out;
    return dot_output_shape(l, n, in, &out);
}

static ct_tensor *l2_normalize(ct_tensor *x, int axis) {
    ct_dtype dt = ct_tensor_dtype(x);
    ct_tensor *inv = ct_rsqrt(ct_reduce_sum(ct_square(x), &axis, 1, true));
    return ct_multiply(x, ct_minimum(inv, ct_scalar_of(dt, 1.0 / 1e-7)));
}

/* Moves axis `from` of t to position `to` keeping the others' order. */
static ct_tensor *move_axis(ct_tensor *t, int from, int to) {
    int r = ct_tensor_rank(t), perm[CT_MAX_RANK], k = 0;
    if (from == to) return t;
    for (int i = 0; i < r; i++)
        if (i != from) perm[k++] = i;
    for (int i = r - 1; i > to; i--) perm[i] = perm[i - 1];
    perm[to] = from;
    return ct_transpose(t, perm);
}

static ct_tensor *dot_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)training;
    dot *d = (dot *)l;
    ct_shape shapes[2] = {ct__shape_of(in[0]), ct__shape_of(in[1])}, out;
    if (dot_output_shape(l, n, shapes, &out)) return NULL;
    int ax[2];
    dot_axes(d, shapes[0].rank, shapes[1].rank, ax);
    ct_scope_begin();
    ct_tensor *xs[2], *y = NULL;
    if (cast_inputs(l, 2, in, xs)) goto out;
    ct_tensor *x = xs[0], *w = xs[1];
    if (d->normalize) {
        x = l2_normalize(x, ax[0]);
        w = l2_normalize(w, ax[1]);
    }
    /* x -> [B, M, K] with K its dot axis, w -> [B, K, N]; matmul; then the
     * kept dimensions back: [B, x's rest..., w's rest...]. */
    int64_t b = shapes[0].dim[0], k = shapes[0].dim[ax[0]], m = 1, nn = 1;
    for (int i = 1; i < shapes[0].rank; i++)
        if (i != ax[0]) m *= shapes[0].dim[i];
    for (int i = 1; i < shapes[1].rank; i++)
        if (i != ax[1]) nn *= shapes[1].dim[i];
    x = ct_reshape(move_axis(x, ax[0], shapes[0].rank - 1), 3, (int64_t[]){b, m, k});
    w = ct_reshape(move_axis(w, ax[1], 1), 3, (int64_t[]){b, k, nn});
    y = ct_reshape(ct_matmul(x, w), out.rank, out.dim);
out:
    ct_keep(y);
    ct_scope_end();
    return y;
}

static ct_status dot_get_config(const ct_layer *l, json_t *cfg) {
    const dot *d = (const dot *)l;
    json_object_set_new(cfg, "axes",
                        d->axes_list ? json_pack("[II]", (json_int_t)d->axes[0],
                                                 (json_int_t)d->axes[1])
                                     : json_integer(d->axes[0]));
    json_object_set_new(cfg, "normalize", json_boolean(d->normalize));
    return CT_OK;
}

static const ct__layer_vt dot_vt = {
    .class_name = "Dot", .size = sizeof(dot), .min_inputs = 2, .max_inputs = 2,
    .init = dot_init, .get_config = dot_get_config, .build = dot_build,
    .output_shape = dot_output_shape, .call = dot_call,
};

const ct__layer_vt *const ct__merge_layers[] = {
    &add_vt,     &subtract_vt, &multiply_vt, &average_vt, &maximum_vt,
    &minimum_vt, &concat_vt,   &dot_vt,      NULL,
};
