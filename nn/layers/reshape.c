/*
 * Reshaping layers: Flatten, Reshape, Permute, RepeatVector,
 * ZeroPadding1D/2D/3D, Cropping1D/2D/3D, UpSampling1D/2D/3D.
 *
 * Shape legend: B = batch, C = channels, S = the 1-3 spatial axes (after
 * the batch with channels_last, Keras's default; after C with
 * channels_first, which these layers support too since they only move
 * data along named axes).
 *
 * The layers keep their input's dtype (integer inputs stay integer);
 * floating inputs are cast to the layer's dtype as Keras autocasts.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"

/* ---- helpers -------------------------------------------------------------------- */

static ct_tensor *autocast(const ct_layer *l, ct_tensor *x) {
    ct_dtype dt = ct_tensor_dtype(x);
    return ct_dtype_is_float(dt) && dt != l->dtype ? ct_cast(x, l->dtype) : x;
}

/* The JSON value of key as given (NULL when absent or null), marked read
 * for ct__cfg_finish: for arguments of nested forms the typed getters do
 * not cover (((1, 1), (2, 2)) paddings). */
static const json_t *cfg_raw(ct__cfg *c, const char *key) {
    if (!c->obj) return NULL;
    json_t *v = json_object_get(c->obj, key);
    if (v) json_object_set_new(c->used, key, json_true());
    return v && !json_is_null(v) ? v : NULL;
}

static bool json_int(const json_t *v, int64_t *out) {
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
        fabs(json_real_value(v)) < 9e15) {
        *out = (int64_t)json_real_value(v);
        return true;
    }
    return false;
}

static const char *const DATA_FORMATS[] = {"channels_last", "channels_first", NULL};

static ct_status read_data_format(ct__cfg *c, bool *channels_first) {
    const char *fmt = "channels_last";
    ct_status st = ct__cfg_str(c, "data_format", "channels_last", DATA_FORMATS, &fmt);
    *channels_first = !st && !strcmp(fmt, "channels_first");
    return st;
}

static json_t *data_format_json(bool channels_first) {
    return json_string(channels_first ? "channels_first" : "channels_last");
}

static json_t *int_list_json(int n, const int64_t *v) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_integer(v[i]));
    return a;
}

static ct_status rank_error(const ct_layer *l, int want, const ct_shape *in) {
    return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT, "expected an input of rank %d, got shape %s",
                           want, CT__SHAPE_STR(in));
}

/* Product of dims[from..rank) (-1 when one is unknown). */
static int64_t known_prod(const ct_shape *s, int from) {
    int64_t p = 1;
    for (int i = from; i < s->rank; i++) {
        if (s->dim[i] < 0) return -1;
        p *= s->dim[i];
    }
    return p;
}

/* Checks the input against vt->output_shape (the layers without weights
 * build by validating). */
static ct_status build_by_shape(ct_layer *l, int n, const ct_shape *in) {
    ct_shape out;
    return l->vt->output_shape(l, n, in, &out);
}

/* Validates a call's input through output_shape; the output's static
 * shape into out. */
static ct_status check_call(ct_layer *l, const ct_tensor *x, ct_shape *out) {
    ct_shape s = ct__shape_of(x);
    return l->vt->output_shape(l, 1, &s, out);
}

/* ---- Flatten ---------------------------------------------------------------------- */

/* keras.layers.Flatten: [B, ...] -> [B, prod(...)] ([B] -> [B, 1]);
 * channels_first moves C last first, so the order matches channels_last. */
typedef struct flatten {
    ct_layer base;
    bool channels_first;
} flatten;

static ct_status flatten_init(ct_layer *l, ct__cfg *c) {
    return read_data_format(c, &((flatten *)l)->channels_first);
}

static ct_status flatten_output_shape(const ct_layer *l, int n, const ct_shape *in,
                                      ct_shape *out) {
    (void)n;
    if (in[0].rank < 1)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "expected an input with a batch axis, got shape %s",
                               CT__SHAPE_STR(&in[0]));
    *out = (ct_shape){.rank = 2, .dim = {in[0].dim[0], known_prod(&in[0], 1)}};
    return CT_OK;
}

static ct_tensor *flatten_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)n, (void)training;
    ct_shape out;
    if (check_call(l, in[0], &out)) return NULL;
    ct_scope_begin();
    ct_tensor *x = autocast(l, in[0]);
    int r = ct_tensor_rank(x);
    if (((flatten *)l)->channels_first && r > 2) {
        int perm[CT_MAX_RANK] = {0};
        for (int i = 1; i < r - 1; i++) perm[i] = i + 1;
        perm[r - 1] = 1;
        x = ct_transpose(x, perm);
    }
    ct_tensor *y = ct_keep(ct_reshape(x, 2, out.dim));
    ct_scope_end();
    return y;
}

static ct_status flatten_get_config(const ct_layer *l, json_t *cfg) {
    json_object_set_new(cfg, "data_format", data_format_json(((const flatten *)l)->channels_first));
    return CT_OK;
}

static const ct__layer_vt flatten_vt = {
    .class_name = "Flatten", .size = sizeof(flatten), .min_inputs = 1, .max_inputs = 1,
    .init = flatten_init, .get_config = flatten_get_config, .build = build_by_shape,
    .output_shape = flatten_output_shape, .call = flatten_call,
};

/* ---- Reshape ------------------------------------------------------------------------- */

/* keras.layers.Reshape(target_shape): [B, ...] -> [B, target_shape...]
 * with at most one -1 inferred from the per-sample size. */
typedef struct reshape {
    ct_layer base;
    int n;
    int64_t target[CT_MAX_RANK];
} reshape;

static ct_status reshape_init(ct_layer *l, ct__cfg *c) {
    reshape *r = (reshape *)l;
    bool present;
    ct_status st =
        ct__cfg_int_list(c, "target_shape", CT_MAX_RANK - 1, r->target, &r->n, &present);
    if (st) return st;
    if (!present) return ct__cfg_check(c, false, "target_shape", "is required");
    int unknown = 0;
    for (int i = 0; i < r->n; i++) {
        if (r->target[i] == -1) unknown++;
        else if (r->target[i] < 0)
            return ct__cfg_check(c, false, "target_shape",
                                 "entries must be non-negative or -1, got %lld",
                                 (long long)r->target[i]);
    }
    return ct__cfg_check(c, unknown <= 1, "target_shape",
                         "there must be at most one unknown dimension (-1), got %d", unknown);
}

static ct_status reshape_output_shape(const ct_layer *l, int n, const ct_shape *in,
                                      ct_shape *out) {
    (void)n;
    const reshape *r = (const reshape *)l;
    if (in[0].rank < 1)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "expected an input with a batch axis, got shape %s",
                               CT__SHAPE_STR(&in[0]));
    int64_t size = known_prod(&in[0], 1), known = 1;
    int unknown_at = -1;
    ct_shape o = {.rank = r->n + 1, .dim = {in[0].dim[0]}};
    for (int i = 0; i < r->n; i++) {
        o.dim[i + 1] = r->target[i];
        if (r->target[i] < 0) unknown_at = i + 1;
        else known *= r->target[i];
    }
    char tbuf[128];
    ct_shape t = {.rank = r->n};
    memcpy(t.dim, r->target, (size_t)r->n * sizeof t.dim[0]);
    for (int i = 0; i < r->n; i++) t.dim[i] = r->target[i] < 0 ? -1 : r->target[i];
    ct__shape_str(&t, tbuf, sizeof tbuf);
    if (size >= 0) {
        bool ok = unknown_at < 0 ? size == known : known > 0 && size % known == 0;
        if (!ok)
            return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                   "cannot reshape an input of shape %s (%lld values per "
                                   "sample) to target_shape %s (%s%lld values)",
                                   CT__SHAPE_STR(&in[0]), (long long)size, tbuf,
                                   unknown_at < 0 ? "" : "a multiple of ", (long long)known);
        if (unknown_at >= 0) o.dim[unknown_at] = size / known;
    }
    *out = o;
    return CT_OK;
}

static ct_tensor *reshape_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)n, (void)training;
    ct_shape out;
    if (check_call(l, in[0], &out)) return NULL;
    ct_scope_begin();
    ct_tensor *y = ct_keep(ct_reshape(autocast(l, in[0]), out.rank, out.dim));
    ct_scope_end();
    return y;
}

static ct_status reshape_get_config(const ct_layer *l, json_t *cfg) {
    const reshape *r = (const reshape *)l;
    json_object_set_new(cfg, "target_shape", int_list_json(r->n, r->target));
    return CT_OK;
}

static const ct__layer_vt reshape_vt = {
    .class_name = "Reshape", .size = sizeof(reshape), .min_inputs = 1, .max_inputs = 1,
    .init = reshape_init, .get_config = reshape_get_config, .build = build_by_shape,
    .output_shape = reshape_output_shape, .call = reshape_call,
};

/* ---- Permute -------------------------------------------------------------------------- */

/* keras.layers.Permute(dims): dims a permutation of 1..n (the batch stays
 * first). */
typedef struct permute {
    ct_layer base;
    int n;
    int64_t dims[CT_MAX_RANK];
} permute;

static ct_status permute_init(ct_layer *l, ct__cfg *c) {
    permute *p = (permute *)l;
    bool present;
    ct_status st = ct__cfg_int_list(c, "dims", CT_MAX_RANK - 1, p->dims, &p->n, &present);
    if (st) return st;
    if (!present) return ct__cfg_check(c, false, "dims", "is required");
    bool seen[CT_MAX_RANK + 1] = {false}, ok = p->n >= 1;
    for (int i = 0; ok && i < p->n; i++) {
        ok = p->dims[i] >= 1 && p->dims[i] <= p->n && !seen[p->dims[i]];
        if (ok) seen[p->dims[i]] = true;
    }
    char buf[128];
    ct_shape s = {.rank = p->n};
    memcpy(s.dim, p->dims, (size_t)p->n * sizeof s.dim[0]);
    return ct__cfg_check(c, ok, "dims",
                         "the set of indices must be consecutive and start from 1, got %s",
                         ct__shape_str(&s, buf, sizeof buf));
}

static ct_status permute_output_shape(const ct_layer *l, int n, const ct_shape *in,
                                      ct_shape *out) {
    (void)n;
    const permute *p = (const permute *)l;
    if (in[0].rank != p->n + 1) return rank_error(l, p->n + 1, &in[0]);
    *out = in[0];
    for (int i = 0; i < p->n; i++) out->dim[i + 1] = in[0].dim[p->dims[i]];
    return CT_OK;
}

static ct_tensor *permute_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)n, (void)training;
    permute *p = (permute *)l;
    ct_shape out;
    if (check_call(l, in[0], &out)) return NULL;
    int perm[CT_MAX_RANK] = {0};
    for (int i = 0; i < p->n; i++) perm[i + 1] = (int)p->dims[i];
    ct_scope_begin();
    ct_tensor *y = ct_keep(ct_transpose(autocast(l, in[0]), perm));
    ct_scope_end();
    return y;
}

static ct_status permute_get_config(const ct_layer *l, json_t *cfg) {
    const permute *p = (const permute *)l;
    json_object_set_new(cfg, "dims", int_list_json(p->n, p->dims));
    return CT_OK;
}

static const ct__layer_vt permute_vt = {
    .class_name = "Permute", .size = sizeof(permute), .min_inputs = 1, .max_inputs = 1,
    .init = permute_init, .get_config = permute_get_config, .build = build_by_shape,
    .output_shape = permute_output_shape, .call = permute_call,
};

/* ---- RepeatVector --------------------------------------------------------------------- */

/* keras.layers.RepeatVector(n): [B, F] -> [B, n, F]. */
typedef struct repeat_vector {
    ct_layer base;
    int64_t n;
} repeat_vector;

static ct_status repeat_init(ct_layer *l, ct__cfg *c) {
    repeat_vector *r = (repeat_vector *)l;
    return ct__cfg_int(c, "n", CT__REQUIRED, &r->n) ||
           ct__cfg_check(c, r->n >= 0, "n", "must be a non-negative integer, got %lld",
                         (long long)r->n);
}

static ct_status repeat_output_shape(const ct_layer *l, int n, const ct_shape *in,
                                     ct_shape *out) {
    (void)n;
    if (in[0].rank != 2) return rank_error(l, 2, &in[0]);
    *out = (ct_shape){.rank = 3,
                      .dim = {in[0].dim[0], ((const repeat_vector *)l)->n, in[0].dim[1]}};
    return CT_OK;
}

static ct_tensor *repeat_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)n, (void)training;
    ct_shape out;
    if (check_call(l, in[0], &out)) return NULL;
    ct_scope_begin();
    ct_tensor *x = ct_expand_dims(autocast(l, in[0]), 1);
    ct_tensor *y = ct_keep(ct_tile(x, (int64_t[]){1, ((repeat_vector *)l)->n, 1}));
    ct_scope_end();
    return y;
}

static ct_status repeat_get_config(const ct_layer *l, json_t *cfg) {
    json_object_set_new(cfg, "n", json_integer(((const repeat_vector *)l)->n));
    return CT_OK;
}

static const ct__layer_vt repeat_vt = {
    .class_name = "RepeatVector", .size = sizeof(repeat_vector), .min_inputs = 1,
    .max_inputs = 1, .init = repeat_init, .get_config = repeat_get_config,
    .build = build_by_shape, .output_shape = repeat_output_shape, .call = repeat_call,
};

/* ---- ZeroPadding, Cropping, UpSampling (1D/2D/3D) ------------------------------------- */

typedef enum { SP_PAD, SP_CROP, SP_UPSAMPLE } spatial_kind;

typedef struct spatial {
    ct_layer base;
    spatial_kind kind;
    int nd;              /* spatial axes: 1, 2 or 3                      */
    bool channels_first;
    bool has_data_format; /* 2D and 3D (1D reads it but writes it only if
                             channels_first)                            */
    int64_t amount[3][2]; /* padding / cropping (before, after) per axis */
    int64_t size[3];      /* upsampling factors                          */
    bool bilinear;        /* UpSampling2D interpolation                  */
} spatial;

/* Keras's forms: an int (every side); for 1D a pair (before, after); for
 * 2D/3D a list of nd entries, each an int (both sides) or a pair. */
static ct_status read_amounts(ct__cfg *c, const char *key, int nd, int64_t dflt,
                              int64_t out[3][2]) {
    const json_t *v = cfg_raw(c, key);
    int64_t x;
    for (int i = 0; i < nd; i++) out[i][0] = out[i][1] = dflt;
    if (!v) return CT_OK;
    const char *forms = nd == 1 ? "an int or a list of 2 ints (before, after)"
                                : (nd == 2 ? "an int, a list of 2 ints or a list of 2 pairs of ints "
                                             "((top, bottom), (left, right))"
                                           : "an int, a list of 3 ints or a list of 3 pairs of ints");
    if (json_int(v, &x)) {
        for (int i = 0; i < nd; i++) out[i][0] = out[i][1] = x;
    } else if (nd == 1) {
        if (!json_is_array(v) || json_array_size(v) != 2 || !json_int(json_array_get(v, 0), &out[0][0]) ||
            !json_int(json_array_get(v, 1), &out[0][1]))
            return ct__cfg_check(c, false, key, "must be %s", forms);
    } else {
        if (!json_is_array(v) || (int)json_array_size(v) != nd)
            return ct__cfg_check(c, false, key, "must be %s", forms);
        for (int i = 0; i < nd; i++) {
            const json_t *e = json_array_get(v, (size_t)i);
            if (json_int(e, &x)) {
                out[i][0] = out[i][1] = x;
            } else if (!json_is_array(e) || json_array_size(e) != 2 ||
                       !json_int(json_array_get(e, 0), &out[i][0]) ||
                       !json_int(json_array_get(e, 1), &out[i][1])) {
                return ct__cfg_check(c, false, key, "entry %d must be an int or a pair of ints; "
                                     "the whole must be %s", i, forms);
            }
        }
    }
    for (int i = 0; i < nd; i++)
        for (int j = 0; j < 2; j++)
            if (out[i][j] < 0)
                return ct__cfg_check(c, false, key, "cannot be negative, got %lld",
                                     (long long)out[i][j]);
    return CT_OK;
}

static ct_status spatial_format(ct_layer *l, ct__cfg *c, int nd) {
    spatial *s = (spatial *)l;
    s->nd = nd;
    s->has_data_format = nd > 1;
    return read_data_format(c, &s->channels_first);
}

static ct_status pad_init(ct_layer *l, ct__cfg *c, int nd) {
    spatial *s = (spatial *)l;
    s->kind = SP_PAD;
    return spatial_format(l, c, nd) || read_amounts(c, "padding", nd, 1, s->amount);
}
static ct_status pad1_init(ct_layer *l, ct__cfg *c) { return pad_init(l, c, 1); }
static ct_status pad2_init(ct_layer *l, ct__cfg *c) { return pad_init(l, c, 2); }
static ct_status pad3_init(ct_layer *l, ct__cfg *c) { return pad_init(l, c, 3); }

/* Keras's defaults: Cropping1D (1, 1), Cropping2D ((0, 0), (0, 0)),
 * Cropping3D ((1, 1), (1, 1), (1, 1)). */
static ct_status crop_init(ct_layer *l, ct__cfg *c, int nd) {
    spatial *s = (spatial *)l;
    s->kind = SP_CROP;
    return spatial_format(l, c, nd) || read_amounts(c, "cropping", nd, nd == 2 ? 0 : 1, s->amount);
}
static ct_status crop1_init(ct_layer *l, ct__cfg *c) { return crop_init(l, c, 1); }
static ct_status crop2_init(ct_layer *l, ct__cfg *c) { return crop_init(l, c, 2); }
static ct_status crop3_init(ct_layer *l, ct__cfg *c) { return crop_init(l, c, 3); }

static const char *const INTERPOLATIONS[] = {"nearest", "bilinear", NULL};

static ct_status up_init(ct_layer *l, ct__cfg *c, int nd) {
    spatial *s = (spatial *)l;
    s->kind = SP_UPSAMPLE;
    ct_status st = spatial_format(l, c, nd);
    if (st) return st;
    if (nd == 1) {
        st = ct__cfg_int(c, "size", 2, &s->size[0]);
    } else {
        const int64_t dflt[3] = {2, 2, 2};
        st = ct__cfg_ints(c, "size", nd, dflt, s->size);
    }
    for (int i = 0; !st && i < nd; i++)
        st = ct__cfg_check(c, s->size[i] >= 1, "size", "must be positive, got %lld",
                           (long long)s->size[i]);
    if (!st && nd == 2) {
        /* Keras 3 also names bicubic, lanczos3/5 and area (tf.image.resize):
         * not supported here. */
        const char *interp = "nearest";
        st = ct__cfg_str(c, "interpolation", "nearest", INTERPOLATIONS, &interp);
        s->bilinear = !st && !strcmp(interp, "bilinear");
    }
    return st;
}
static ct_status up1_init(ct_layer *l, ct__cfg *c) { return up_init(l, c, 1); }
static ct_status up2_init(ct_layer *l, ct__cfg *c) { return up_init(l, c, 2); }
static ct_status up3_init(ct_layer *l, ct__cfg *c) { return up_init(l, c, 3); }

/* The axis of spatial dimension i. */
static int sp_axis(const spatial *s, int i) { return s->channels_first ? i + 2 : i + 1; }

static ct_status spatial_output_shape(const ct_layer *l, int n, const ct_shape *in,
                                      ct_shape *out) {
    (void)n;
    const spatial *s = (const spatial *)l;
    if (in[0].rank != s->nd + 2) return rank_error(l, s->nd + 2, &in[0]);
    *out = in[0];
    for (int i = 0; i < s->nd; i++) {
        int ax = sp_axis(s, i);
        int64_t d = in[0].dim[ax], both = s->amount[i][0] + s->amount[i][1];
        if (d < 0) continue;
        if (s->kind == SP_PAD) {
            out->dim[ax] = d + both;
        } else if (s->kind == SP_UPSAMPLE) {
            out->dim[ax] = d * s->size[i];
        } else {
            if (both >= d)
                return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                       "cropping (%lld, %lld) must be smaller than the spatial "
                                       "dimension %lld of the input of shape %s",
                                       (long long)s->amount[i][0], (long long)s->amount[i][1],
                                       (long long)d, CT__SHAPE_STR(&in[0]));
            out->dim[ax] = d - both;
        }
    }
    return CT_OK;
}

/* Nearest upsampling along axis: element i of the output is input i / f
 * (Keras's ops.repeat). */
static ct_tensor *repeat_axis(ct_tensor *x, int axis, int64_t f) {
    int64_t in = ct_tensor_dim(x, axis);
    int64_t *idx = malloc((size_t)(in * f > 0 ? in * f : 1) * sizeof *idx);
    if (!idx) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "UpSampling: out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < in * f; i++) idx[i] = i / f;
    ct_tensor *t = ct_constant(idx, CT_INT64, 1, (int64_t[]){in * f});
    free(idx);
    return ct_gather(x, t, axis, 0);
}

/* Linear resizing of one axis from in to out as tf.image.resize's bilinear
 * (half_pixel_centers, no antialiasing): source position (o + 0.5) * in /
 * out - 0.5 in float, lower index floor of it clamped at 0, upper
 * min(ceil, in - 1), weight position - floor. Bilinear is this along
 * height and then width. */
static ct_tensor *linear_axis(ct_tensor *x, int axis, int64_t out) {
    int64_t in = ct_tensor_dim(x, axis);
    int r = ct_tensor_rank(x);
    int64_t *lo = malloc((size_t)out * sizeof *lo), *hi = malloc((size_t)out * sizeof *hi);
    double *w = malloc((size_t)out * sizeof *w);
    if (!lo || !hi || !w) {
        free(lo), free(hi), free(w);
        ct__error(CT_ERR_OUT_OF_MEMORY, "UpSampling2D: out of memory");
        return NULL;
    }
    float scale = (float)in / (float)out;
    for (int64_t o = 0; o < out; o++) {
        float pos = ((float)o + 0.5f) * scale - 0.5f;
        float fl = floorf(pos);
        lo[o] = fl > 0 ? (int64_t)fl : 0;
        int64_t c = (int64_t)ceilf(pos);
        hi[o] = c < in - 1 ? c : in - 1;
        if (hi[o] < 0) hi[o] = 0;
        w[o] = pos - fl;
    }
    int64_t wshape[CT_MAX_RANK];
    for (int i = 0; i < r; i++) wshape[i] = i == axis ? out : 1;
    ct_tensor *tl = ct_constant(lo, CT_INT64, 1, &out), *th = ct_constant(hi, CT_INT64, 1, &out);
    ct_tensor *tw = ct_cast(ct_constant(w, CT_FLOAT64, r, wshape), ct_tensor_dtype(x));
    free(lo), free(hi), free(w);
    ct_tensor *a = ct_gather(x, tl, axis, 0), *b = ct_gather(x, th, axis, 0);
    return ct_add(a, ct_multiply(ct_subtract(b, a), tw));
}

static ct_tensor *spatial_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)n, (void)training;
    spatial *s = (spatial *)l;
    ct_shape out;
    if (check_call(l, in[0], &out)) return NULL;
    ct_scope_begin();
    ct_tensor *x = autocast(l, in[0]);
    int r = ct_tensor_rank(x);
    if (s->kind == SP_PAD) {
        int64_t pads[2 * CT_MAX_RANK] = {0};
        for (int i = 0; i < s->nd; i++) {
            pads[2 * sp_axis(s, i)] = s->amount[i][0];
            pads[2 * sp_axis(s, i) + 1] = s->amount[i][1];
        }
        x = ct_pad(x, pads, CT_PAD_CONSTANT, 0);
    } else if (s->kind == SP_CROP) {
        int64_t begin[CT_MAX_RANK] = {0}, size[CT_MAX_RANK];
        for (int i = 0; i < r; i++) size[i] = -1;
        for (int i = 0; i < s->nd; i++) {
            begin[sp_axis(s, i)] = s->amount[i][0];
            size[sp_axis(s, i)] = out.dim[sp_axis(s, i)];
        }
        x = ct_slice(x, begin, size);
    } else {
        if (s->bilinear && !ct_dtype_is_float(ct_tensor_dtype(x)))
            x = ct_cast(x, CT_FLOAT32); /* tf.image.resize gives float32 */
        for (int i = 0; i < s->nd && x; i++) {
            int ax = sp_axis(s, i);
            if (s->size[i] == 1) continue;
            x = s->bilinear ? linear_axis(x, ax, out.dim[ax]) : repeat_axis(x, ax, s->size[i]);
        }
        if (x && s->nd > 0 && x == in[0]) x = ct_identity(x);
    }
    ct_keep(x);
    ct_scope_end();
    return x;
}

static json_t *amounts_json(const spatial *s) {
    if (s->nd == 1) return int_list_json(2, s->amount[0]);
    json_t *a = json_array();
    for (int i = 0; i < s->nd; i++) json_array_append_new(a, int_list_json(2, s->amount[i]));
    return a;
}

static ct_status spatial_get_config(const ct_layer *l, json_t *cfg) {
    const spatial *s = (const spatial *)l;
    if (s->kind == SP_PAD) json_object_set_new(cfg, "padding", amounts_json(s));
    else if (s->kind == SP_CROP) json_object_set_new(cfg, "cropping", amounts_json(s));
    else if (s->nd == 1) json_object_set_new(cfg, "size", json_integer(s->size[0]));
    else json_object_set_new(cfg, "size", int_list_json(s->nd, s->size));
    if (s->has_data_format || s->channels_first)
        json_object_set_new(cfg, "data_format", data_format_json(s->channels_first));
    if (s->kind == SP_UPSAMPLE && s->nd == 2)
        json_object_set_new(cfg, "interpolation", json_string(s->bilinear ? "bilinear" : "nearest"));
    return CT_OK;
}

#define SPATIAL_VT(var, name, init_fn)                                                       \
    static const ct__layer_vt var = {                                                        \
        .class_name = name, .size = sizeof(spatial), .min_inputs = 1, .max_inputs = 1,       \
        .init = init_fn, .get_config = spatial_get_config, .build = build_by_shape,          \
        .output_shape = spatial_output_shape, .call = spatial_call,                          \
    };
SPATIAL_VT(pad1_vt, "ZeroPadding1D", pad1_init)
SPATIAL_VT(pad2_vt, "ZeroPadding2D", pad2_init)
SPATIAL_VT(pad3_vt, "ZeroPadding3D", pad3_init)
SPATIAL_VT(crop1_vt, "Cropping1D", crop1_init)
SPATIAL_VT(crop2_vt, "Cropping2D", crop2_init)
SPATIAL_VT(crop3_vt, "Cropping3D", crop3_init)
SPATIAL_VT(up1_vt, "UpSampling1D", up1_init)
SPATIAL_VT(up2_vt, "UpSampling2D", up2_init)
SPATIAL_VT(up3_vt, "UpSampling3D", up3_init)

const ct__layer_vt *const ct__reshape_layers[] = {
    &flatten_vt, &reshape_vt, &permute_vt, &repeat_vt, &pad1_vt, &pad2_vt, &pad3_vt,
    &crop1_vt,   &crop2_vt,   &crop3_vt,   &up1_vt,    &up2_vt,  &up3_vt,  NULL,
};
