/*
 * keras.initializers: names, calls and the JSON config of the initializers.
 *
 * Seeds. A seeded Keras 3 initializer gives the same values on every call:
 * its TensorFlow backend draws with the stateless ops
 * (tf.random.stateless_uniform / _normal / _truncated_normal) keyed by
 * [seed, 0], and so does the seeded path below, through
 * ct_stateless_random_* (TF's values in every float dtype). The runtime's
 * ct_random_* ops are TF's stateful ops, which continue their stream when
 * called again with the same op seed; unseeded initializers use them and
 * so follow ct_set_random_seed, as tf.keras 2's unseeded initializers did.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"

/* ---- names ------------------------------------------------------------------- */

/* Keras's class name for each kind (what to_json writes). */
static const char *const CLASS_NAMES[] = {
    [CT_INIT_DEFAULT] = "default",
    [CT_INIT_ZEROS] = "Zeros",
    [CT_INIT_ONES] = "Ones",
    [CT_INIT_CONSTANT] = "Constant",
    [CT_INIT_RANDOM_UNIFORM] = "RandomUniform",
    [CT_INIT_RANDOM_NORMAL] = "RandomNormal",
    [CT_INIT_TRUNCATED_NORMAL] = "TruncatedNormal",
    [CT_INIT_VARIANCE_SCALING] = "VarianceScaling",
    [CT_INIT_GLOROT_UNIFORM] = "GlorotUniform",
    [CT_INIT_GLOROT_NORMAL] = "GlorotNormal",
    [CT_INIT_HE_UNIFORM] = "HeUniform",
    [CT_INIT_HE_NORMAL] = "HeNormal",
    [CT_INIT_LECUN_UNIFORM] = "LecunUniform",
    [CT_INIT_LECUN_NORMAL] = "LecunNormal",
    [CT_INIT_ORTHOGONAL] = "Orthogonal",
    [CT_INIT_IDENTITY] = "Identity",
};

/* Keras 3's ALL_OBJECTS_DICT: class names, their snake_case forms, the
 * aliases ("uniform", "normal", "one", "zero") and the exported
 * alternatives (OrthogonalInitializer, IdentityInitializer). */
static const struct {
    const char *name;
    ct_init_kind kind;
} INIT_NAMES[] = {
    {"Zeros", CT_INIT_ZEROS},
    {"zeros", CT_INIT_ZEROS},
    {"zero", CT_INIT_ZEROS},
    {"Ones", CT_INIT_ONES},
    {"ones", CT_INIT_ONES},
    {"one", CT_INIT_ONES},
    {"Constant", CT_INIT_CONSTANT},
    {"constant", CT_INIT_CONSTANT},
    {"RandomUniform", CT_INIT_RANDOM_UNIFORM},
    {"random_uniform", CT_INIT_RANDOM_UNIFORM},
    {"uniform", CT_INIT_RANDOM_UNIFORM},
    {"RandomNormal", CT_INIT_RANDOM_NORMAL},
    {"random_normal", CT_INIT_RANDOM_NORMAL},
    {"normal", CT_INIT_RANDOM_NORMAL},
    {"TruncatedNormal", CT_INIT_TRUNCATED_NORMAL},
    {"truncated_normal", CT_INIT_TRUNCATED_NORMAL},
    {"VarianceScaling", CT_INIT_VARIANCE_SCALING},
    {"variance_scaling", CT_INIT_VARIANCE_SCALING},
    {"GlorotUniform", CT_INIT_GLOROT_UNIFORM},
    {"glorot_uniform", CT_INIT_GLOROT_UNIFORM},
    {"GlorotNormal", CT_INIT_GLOROT_NORMAL},
    {"glorot_normal", CT_INIT_GLOROT_NORMAL},
    {"HeUniform", CT_INIT_HE_UNIFORM},
    {"he_uniform", CT_INIT_HE_UNIFORM},
    {"HeNormal", CT_INIT_HE_NORMAL},
    {"he_normal", CT_INIT_HE_NORMAL},
    {"LecunUniform", CT_INIT_LECUN_UNIFORM},
    {"lecun_uniform", CT_INIT_LECUN_UNIFORM},
    {"LecunNormal", CT_INIT_LECUN_NORMAL},
    {"lecun_normal", CT_INIT_LECUN_NORMAL},
    {"Orthogonal", CT_INIT_ORTHOGONAL},
    {"orthogonal", CT_INIT_ORTHOGONAL},
    {"OrthogonalInitializer", CT_INIT_ORTHOGONAL},
    {"orthogonal_initializer", CT_INIT_ORTHOGONAL},
    {"Identity", CT_INIT_IDENTITY},
    {"identity", CT_INIT_IDENTITY},
    {"IdentityInitializer", CT_INIT_IDENTITY},
    {"identity_initializer", CT_INIT_IDENTITY},
};

static ct_init_kind kind_of(const char *name) {
    for (size_t i = 0; i < sizeof INIT_NAMES / sizeof INIT_NAMES[0]; i++)
        if (!strcmp(INIT_NAMES[i].name, name)) return INIT_NAMES[i].kind;
    return CT_INIT_DEFAULT;
}

ct_initializer ct_initializer_get(const char *name) {
    ct_initializer init = {0};
    if (!name) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_initializer_get: the name is NULL");
        return init;
    }
    init.kind = kind_of(name);
    if (init.kind == CT_INIT_DEFAULT)
        ct__error(CT_ERR_NOT_FOUND, "ct_initializer_get: unknown initializer '%s'", name);
    return init;
}

static const char *class_name(ct_init_kind k) {
    return (unsigned)k < sizeof CLASS_NAMES / sizeof CLASS_NAMES[0] ? CLASS_NAMES[k] : NULL;
}

/* ---- defaults and checks --------------------------------------------------- */

static const char *const MODES[] = {"fan_in", "fan_out", "fan_avg", NULL};
/* Keras 3 lower-cases the distribution and reads "normal" as
 * "truncated_normal". */
static const char *const DISTRIBUTIONS[] = {"truncated_normal", "untruncated_normal", "uniform",
                                            "normal", NULL};

/* init with its zero fields replaced by Keras's defaults and the named
 * VarianceScaling variants expanded; an error names `api`, the class and
 * the argument. */
static ct_status resolve(const ct_initializer *in, ct_initializer *out, const char *api) {
    *out = *in;
    const char *cls = class_name(in->kind);
    if (!cls || in->kind == CT_INIT_DEFAULT)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: no initializer given (kind %d; CT_INIT_DEFAULT stands for the "
                         "layer's default and must be replaced by it)", api, (int)in->kind);
    switch (in->kind) {
    case CT_INIT_RANDOM_UNIFORM:
        if (in->minval == 0 && in->maxval == 0) out->minval = -0.05, out->maxval = 0.05;
        break;
    case CT_INIT_RANDOM_NORMAL:
    case CT_INIT_TRUNCATED_NORMAL:
        if (in->stddev == 0) out->stddev = 0.05;
        /* Keras does not check this; a negative stddev is surely a mistake. */
        if (!(out->stddev > 0) || !isfinite(out->stddev))
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: %s: argument 'stddev' must be positive, got %g", api, cls,
                             in->stddev);
        break;
    case CT_INIT_VARIANCE_SCALING: {
        if (in->scale == 0) out->scale = 1.0;
        if (!(out->scale > 0) || !isfinite(out->scale))
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: %s: argument 'scale' must be a positive float, got %g", api,
                             cls, in->scale);
        out->mode = NULL;
        const char *m = in->mode ? in->mode : "fan_in";
        for (int i = 0; MODES[i]; i++)
            if (!strcmp(MODES[i], m)) out->mode = MODES[i];
        if (!out->mode)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: %s: argument 'mode' must be one of 'fan_in', 'fan_out', "
                             "'fan_avg', got '%s'", api, cls, m);
        out->distribution = NULL;
        const char *d = in->distribution ? in->distribution : "truncated_normal";
        for (int i = 0; DISTRIBUTIONS[i]; i++)
            if (!strcasecmp(DISTRIBUTIONS[i], d)) out->distribution = DISTRIBUTIONS[i];
        if (!out->distribution)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: %s: argument 'distribution' must be one of "
                             "'truncated_normal', 'untruncated_normal', 'uniform', got '%s'",
                             api, cls, d);
        if (!strcmp(out->distribution, "normal")) out->distribution = "truncated_normal";
        break;
    }
    case CT_INIT_GLOROT_UNIFORM:
    case CT_INIT_GLOROT_NORMAL:
    case CT_INIT_HE_UNIFORM:
    case CT_INIT_HE_NORMAL:
    case CT_INIT_LECUN_UNIFORM:
    case CT_INIT_LECUN_NORMAL: {
        bool uniform = in->kind == CT_INIT_GLOROT_UNIFORM || in->kind == CT_INIT_HE_UNIFORM ||
                       in->kind == CT_INIT_LECUN_UNIFORM;
        bool he = in->kind == CT_INIT_HE_UNIFORM || in->kind == CT_INIT_HE_NORMAL;
        bool glorot = in->kind == CT_INIT_GLOROT_UNIFORM || in->kind == CT_INIT_GLOROT_NORMAL;
        out->scale = he ? 2.0 : 1.0;
        out->mode = glorot ? "fan_avg" : "fan_in";
        out->distribution = uniform ? "uniform" : "truncated_normal";
        break;
    }
    case CT_INIT_ORTHOGONAL:
    case CT_INIT_IDENTITY:
        if (in->gain == 0) out->gain = 1.0;
        break;
    default:
        break;
    }
    return CT_OK;
}

/* Keras's compute_fans: a scalar counts 1, a vector its length, a matrix
 * [in, out], a conv kernel [k..., in, out] multiplies both by the
 * receptive field prod(k). */
static void compute_fans(int rank, const int64_t *shape, double *fan_in, double *fan_out) {
    if (rank < 1) {
        *fan_in = *fan_out = 1;
    } else if (rank == 1) {
        *fan_in = *fan_out = (double)shape[0];
    } else {
        double rf = 1;
        for (int i = 0; i < rank - 2; i++) rf *= (double)shape[i];
        *fan_in = (double)shape[rank - 2] * rf;
        *fan_out = (double)shape[rank - 1] * rf;
    }
}

/* ---- drawing ------------------------------------------------------------------- */

enum { DIST_UNIFORM, DIST_NORMAL, DIST_TRUNCATED };

/* One draw: seeded initializers are stateless (the same values on every
 * call), the others use the runtime's stateful ops. */
static ct_tensor *draw(const char *api, const ct_initializer *init, int dist, ct_dtype dtype,
                       int rank, const int64_t *shape, double a, double b) {
    if (!ct_dtype_is_float(dtype)) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %s draws random values and needs a "
                  "floating-point dtype, got %s", api, class_name(init->kind),
                  ct_dtype_name(dtype));
        return NULL;
    }
    ct_random_opts o = {.dtype = dtype};
    if (dist == DIST_UNIFORM) o.minval = a, o.maxval = b;
    else o.mean = a, o.stddev = b;
    if (init->seeded) {
        /* Keras 3's seed pair [seed, 0]: the seed made uint32 and then
         * int32 (tf.cast wraps), which TF widens with its sign. */
        const int64_t pair[2] = {(int32_t)(uint32_t)init->seed, 0};
        return dist == DIST_UNIFORM  ? ct_stateless_random_uniform(rank, shape, pair, &o)
               : dist == DIST_NORMAL ? ct_stateless_random_normal(rank, shape, pair, &o)
                                     : ct_stateless_truncated_normal(rank, shape, pair, &o);
    }
    return dist == DIST_UNIFORM  ? ct_random_uniform(rank, shape, &o)
           : dist == DIST_NORMAL ? ct_random_normal(rank, shape, &o)
                                 : ct_truncated_normal(rank, shape, &o);
}

/* ---- the call ------------------------------------------------------------------ */

/* Keras's VarianceScaling.__call__. */
static ct_tensor *variance_scaling(const char *api, const ct_initializer *init, ct_dtype dtype,
                                   int rank, const int64_t *shape) {
    double fan_in, fan_out, scale = init->scale;
    compute_fans(rank, shape, &fan_in, &fan_out);
    if (!strcmp(init->mode, "fan_in")) scale /= fmax(1.0, fan_in);
    else if (!strcmp(init->mode, "fan_out")) scale /= fmax(1.0, fan_out);
    else scale /= fmax(1.0, (fan_in + fan_out) / 2.0);
    if (!strcmp(init->distribution, "truncated_normal")) {
        /* The stddev of a unit normal truncated to (-2, 2). */
        double stddev = sqrt(scale) / .87962566103423978;
        return draw(api, init, DIST_TRUNCATED, dtype, rank, shape, 0.0, stddev);
    }
    if (!strcmp(init->distribution, "untruncated_normal"))
        return draw(api, init, DIST_NORMAL, dtype, rank, shape, 0.0, sqrt(scale));
    double limit = sqrt(3.0 * scale);
    return draw(api, init, DIST_UNIFORM, dtype, rank, shape, -limit, limit);
}

/* Keras's Orthogonal: QR of a normal [max(r, c), min(r, c)] matrix for the
 * flattened [prod(shape[:-1]), shape[-1]], Q's columns times the signs of
 * R's diagonal, transposed when r < c, times gain. */
static ct_tensor *orthogonal(const char *api, const ct_initializer *init, ct_dtype dtype,
                             int rank, const int64_t *shape) {
    if (rank < 2) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: Orthogonal: the tensor to initialize must be "
                  "at least two-dimensional, got shape %s of rank %d", api,
                  CT__SHAPE(rank, shape), rank);
        return NULL;
    }
    int64_t rows = 1, cols = shape[rank - 1];
    for (int i = 0; i < rank - 1; i++) rows *= shape[i];
    int64_t flat[2] = {rows > cols ? rows : cols, rows < cols ? rows : cols};
    ct_scope_begin();
    ct_tensor *a = draw(api, init, DIST_NORMAL, dtype, 2, flat, 0.0, 1.0), *q = NULL, *r = NULL;
    if (a && ct_qr(a, false, &q, &r) == CT_OK) {
        q = ct_multiply(q, ct_sign(ct_matrix_diag_part(r)));
        if (rows < cols) q = ct_transpose(q, NULL);
        q = ct_multiply(ct_scalar_of(dtype, init->gain), ct_reshape(q, rank, shape));
    } else {
        q = NULL;
    }
    q = ct_keep(q);
    ct_scope_end();
    return q;
}

static ct_status check_shape(const char *api, int rank, const int64_t *shape) {
    if (rank < 0 || rank > CT_MAX_RANK)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: rank %d is outside [0, %d]", api, rank,
                         CT_MAX_RANK);
    if (rank > 0 && !shape)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: rank %d with a NULL shape", api, rank);
    for (int i = 0; i < rank; i++)
        if (shape[i] < 0)
            return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: negative dimension in shape %s",
                             api, CT__SHAPE(rank, shape));
    return CT_OK;
}

ct_tensor *ct_initializer_call(const ct_initializer *init, ct_dtype dtype, int rank,
                               const int64_t *shape) {
    const char *api = "ct_initializer_call";
    if (!init) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the initializer is NULL", api);
        return NULL;
    }
    if ((unsigned)dtype >= CT_NUM_DTYPES) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: invalid dtype %d", api, (int)dtype);
        return NULL;
    }
    ct_initializer in;
    if (check_shape(api, rank, shape) || resolve(init, &in, api)) return NULL;
    switch (in.kind) {
    case CT_INIT_ZEROS:
        return ct_zeros(dtype, rank, shape);
    case CT_INIT_ONES:
        return ct_ones(dtype, rank, shape);
    case CT_INIT_CONSTANT: /* cast(value, dtype) * ones(shape, dtype) */
        return ct_fill(dtype, rank, shape, in.value);
    case CT_INIT_RANDOM_UNIFORM:
        return draw(api, &in, DIST_UNIFORM, dtype, rank, shape, in.minval, in.maxval);
    case CT_INIT_RANDOM_NORMAL:
        return draw(api, &in, DIST_NORMAL, dtype, rank, shape, in.mean, in.stddev);
    case CT_INIT_TRUNCATED_NORMAL:
        return draw(api, &in, DIST_TRUNCATED, dtype, rank, shape, in.mean, in.stddev);
    case CT_INIT_ORTHOGONAL:
        return orthogonal(api, &in, dtype, rank, shape);
    case CT_INIT_IDENTITY: {
        if (rank != 2) {
            ct__error(CT_ERR_INVALID_ARGUMENT, "%s: Identity: the identity matrix initializer "
                      "can only be used for 2D matrices, got shape %s of rank %d", api,
                      CT__SHAPE(rank, shape), rank);
            return NULL;
        }
        ct_scope_begin();
        /* ct_eye reads 0 columns as "square". */
        ct_tensor *eye = shape[0] == 0 || shape[1] == 0 ? ct_zeros(dtype, 2, shape)
                                                        : ct_eye(shape[0], shape[1], dtype);
        ct_tensor *r = ct_keep(ct_multiply(ct_scalar_of(dtype, in.gain), eye));
        ct_scope_end();
        return r;
    }
    default: /* VarianceScaling and its named forms */
        return variance_scaling(api, &in, dtype, rank, shape);
    }
}

/* ---- JSON ----------------------------------------------------------------------- */

/* Reads the config dict of class `kind` into out (kind already set). */
static ct_status read_config(ct__cfg *c, ct_initializer *out) {
    ct_status st = CT_OK;
    if (out->kind != CT_INIT_ZEROS && out->kind != CT_INIT_ONES &&
        out->kind != CT_INIT_CONSTANT && out->kind != CT_INIT_IDENTITY) {
        /* null (None) or absent: unseeded; reading it marks it read. */
        out->seeded = ct__cfg_has(c, "seed");
        st = ct__cfg_int(c, "seed", 0, &out->seed);
        if (st) return st;
    }
    switch (out->kind) {
    case CT_INIT_CONSTANT:
        return ct__cfg_double(c, "value", 0.0, &out->value);
    case CT_INIT_RANDOM_UNIFORM:
        return ct__cfg_double(c, "minval", -0.05, &out->minval) ||
               ct__cfg_double(c, "maxval", 0.05, &out->maxval);
    case CT_INIT_RANDOM_NORMAL:
    case CT_INIT_TRUNCATED_NORMAL:
        st = ct__cfg_double(c, "mean", 0.0, &out->mean) ||
             ct__cfg_double(c, "stddev", 0.05, &out->stddev);
        if (st) return st;
        return ct__cfg_check(c, out->stddev >= 0 && isfinite(out->stddev), "stddev",
                             "must be non-negative, got %g", out->stddev);
    case CT_INIT_VARIANCE_SCALING:
        st = ct__cfg_double(c, "scale", 1.0, &out->scale) ||
             ct__cfg_check(c, out->scale > 0 && isfinite(out->scale), "scale",
                           "must be a positive float, got %g", out->scale) ||
             ct__cfg_str(c, "mode", "fan_in", MODES, &out->mode) ||
             ct__cfg_str(c, "distribution", "truncated_normal", DISTRIBUTIONS,
                         &out->distribution);
        if (!st && !strcmp(out->distribution, "normal")) out->distribution = "truncated_normal";
        return st;
    case CT_INIT_ORTHOGONAL:
    case CT_INIT_IDENTITY:
        return ct__cfg_double(c, "gain", 1.0, &out->gain);
    default:
        return CT_OK;
    }
}

ct_status ct__initializer_from_json(const json_t *j, ct_initializer *out, const char *what) {
    const char *w = what ? what : "initializer";
    *out = (ct_initializer){0};
    if (!j || json_is_null(j)) return CT_OK;
    const char *name;
    const json_t *cfg = NULL;
    if (json_is_string(j)) {
        name = json_string_value(j);
    } else if (json_is_object(j)) {
        const json_t *cn = json_object_get(j, "class_name");
        if (!json_is_string(cn))
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: an initializer object needs a string \"class_name\"", w);
        name = json_string_value(cn);
        cfg = json_object_get(j, "config");
        if (cfg && json_is_null(cfg)) cfg = NULL;
        if (cfg && !json_is_object(cfg))
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: the \"config\" of initializer '%s' must be an object", w, name);
    } else {
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: an initializer must be a name, null or {\"class_name\": ..., "
                         "\"config\": {...}}", w);
    }
    ct_initializer r = {.kind = kind_of(name)};
    if (r.kind == CT_INIT_DEFAULT)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: unknown initializer '%s'", w, name);
    char cls[384];
    snprintf(cls, sizeof cls, "%s: %s", w, class_name(r.kind));
    ct__cfg c;
    ct_status st = ct__cfg_begin(&c, cfg, cls, NULL);
    if (st) return st;
    st = read_config(&c, &r);
    if (st) {
        ct__cfg_end(&c);
        return st;
    }
    st = ct__cfg_finish(&c);
    if (st) return st;
    *out = r;
    return CT_OK;
}

/* Sets key to a new JSON value (steals it); false when out of memory. */
static bool put(json_t *obj, const char *key, json_t *v) {
    return v && json_object_set_new(obj, key, v) == 0;
}

json_t *ct__initializer_to_json(const ct_initializer *init) {
    if (!init || init->kind == CT_INIT_DEFAULT) return json_null();
    ct_initializer in;
    if (resolve(init, &in, "ct__initializer_to_json")) return NULL;
    json_t *cfg = json_object(), *top = json_object();
    bool ok = cfg && top;
    bool has_seed = in.kind != CT_INIT_ZEROS && in.kind != CT_INIT_ONES &&
                    in.kind != CT_INIT_CONSTANT && in.kind != CT_INIT_IDENTITY;
    switch (in.kind) {
    case CT_INIT_CONSTANT:
        ok = ok && put(cfg, "value", json_real(in.value));
        break;
    case CT_INIT_RANDOM_UNIFORM:
        ok = ok && put(cfg, "minval", json_real(in.minval)) &&
             put(cfg, "maxval", json_real(in.maxval));
        break;
    case CT_INIT_RANDOM_NORMAL:
    case CT_INIT_TRUNCATED_NORMAL:
        ok = ok && put(cfg, "mean", json_real(in.mean)) &&
             put(cfg, "stddev", json_real(in.stddev));
        break;
    case CT_INIT_VARIANCE_SCALING:
        ok = ok && put(cfg, "scale", json_real(in.scale)) &&
             put(cfg, "mode", json_string(in.mode)) &&
             put(cfg, "distribution", json_string(in.distribution));
        break;
    case CT_INIT_ORTHOGONAL:
    case CT_INIT_IDENTITY:
        ok = ok && put(cfg, "gain", json_real(in.gain));
        break;
    default:
        break;
    }
    if (has_seed)
        ok = ok && put(cfg, "seed", in.seeded ? json_integer((json_int_t)in.seed) : json_null());
    ok = ok && put(top, "class_name", json_string(class_name(in.kind)));
    if (ok && json_object_set_new(top, "config", cfg) == 0) return top;
    if (!ok) json_decref(cfg);
    json_decref(top);
    ct__error(CT_ERR_OUT_OF_MEMORY, "ct__initializer_to_json: out of memory");
    return NULL;
}
