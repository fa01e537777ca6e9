/*
 * Core Keras layers: InputLayer, Dense, Activation, Embedding, the dropout
 * and noise family (Dropout, SpatialDropout1D/2D/3D, GaussianNoise,
 * GaussianDropout), the activation layers (Softmax, ReLU, LeakyReLU, ELU,
 * PReLU) and ActivityRegularization.
 *
 * Shape legend: B = batch, F = features (the last axis), U = units.
 *
 * Inputs. As Keras autocasts, a floating input of another dtype than the
 * layer's (l->dtype, float32 by default) is cast to it; Dense casts integer
 * inputs too (Keras 3's ops.matmul promotes int x float to float).
 *
 * Randomness. The dropout family draws with the runtime's TF-compatible
 * random ops: a layer with a seed passes it as the op seed, so its masks
 * repeat after ct_set_random_seed (and across runs); Keras's seed 0 maps to
 * the op seed 2^31 - 1, which TF's seed truncation also turns into 0
 * (ct_random_opts reads 0 as "no seed").
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"

/* ---- helpers -------------------------------------------------------------------- */

/* x cast to the layer's dtype when it is floating and differs (Keras's
 * autocast). */
static ct_tensor *autocast(const ct_layer *l, ct_tensor *x) {
    ct_dtype dt = ct_tensor_dtype(x);
    return ct_dtype_is_float(dt) && dt != l->dtype ? ct_cast(x, l->dtype) : x;
}

/* The activation's Keras name as JSON (an error for a function that has
 * none). */
static ct_status put_activation(const ct_layer *l, json_t *cfg, const char *key,
                                ct_activation_fn fn) {
    const char *name = fn ? ct_activation_name(fn) : "linear";
    if (!name)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "get_config: the activation '%s' has no Keras name", key);
    json_object_set_new(cfg, key, json_string(name));
    return CT_OK;
}

/* Writes activity_regularizer null when the base did not (Keras writes the
 * key for Dense and Embedding always). */
static void put_null_activity(json_t *cfg) {
    if (!json_object_get(cfg, "activity_regularizer"))
        json_object_set_new(cfg, "activity_regularizer", json_null());
}

/* A seed argument: null (none) or an integer. */
typedef struct seed_arg {
    bool has;
    int64_t value;
} seed_arg;

static ct_status read_seed(ct__cfg *c, seed_arg *s) {
    s->has = ct__cfg_has(c, "seed");
    return ct__cfg_int(c, "seed", 0, &s->value);
}

static json_t *seed_json(const seed_arg *s) {
    return s->has ? json_integer((json_int_t)s->value) : json_null();
}

/* The op seed for ct_random_opts (see the comment at the top). */
static int64_t op_seed(const seed_arg *s) {
    if (!s->has) return 0;
    return s->value ? s->value : 2147483647;
}

/* The dtype random numbers are drawn in for x (float16/bfloat16 draw in
 * float32 and are cast). */
static ct_dtype draw_dtype(const ct_tensor *x) {
    ct_dtype dt = ct_tensor_dtype(x);
    return dt == CT_FLOAT64 ? CT_FLOAT64 : CT_FLOAT32;
}

static ct_tensor *call_identity(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)n, (void)training;
    ct_scope_begin();
    ct_tensor *y = ct_keep(ct_identity(autocast(l, in[0])));
    ct_scope_end();
    return y;
}

/* ---- InputLayer ------------------------------------------------------------------- */

/* keras.layers.InputLayer: the identity that fixes a model's input shape
 * and dtype. Keras 3 takes shape / batch_size / batch_shape, Keras 2
 * batch_input_shape / input_shape: all are read (the base reads the last
 * three), and the config is written in the form both read:
 * batch_input_shape, dtype, sparse, ragged, name (Keras 3 itself writes
 * batch_shape; it reads batch_input_shape too). Integer dtypes are not
 * representable by the layer base yet: an integer input passes unchanged. */
typedef struct input_layer {
    ct_layer base;
    bool optional;
} input_layer;

static ct_status input_init(ct_layer *l, ct__cfg *c) {
    input_layer *il = (input_layer *)l;
    int64_t shape[CT_MAX_RANK], batch;
    int n;
    bool has_shape, sparse, ragged;
    ct_status st = ct__cfg_int_list(c, "shape", CT_MAX_RANK - 1, shape, &n, &has_shape) ||
                   ct__cfg_int(c, "batch_size", -1, &batch) ||
                   ct__cfg_bool(c, "sparse", false, &sparse) ||
                   ct__cfg_bool(c, "ragged", false, &ragged) ||
                   ct__cfg_bool(c, "optional", false, &il->optional) ||
                   ct__cfg_check(c, !sparse, "sparse", "sparse inputs are not supported") ||
                   ct__cfg_check(c, !ragged, "ragged", "ragged inputs are not supported") ||
                   ct__cfg_check(c, batch == -1 || batch > 0, "batch_size",
                                 "must be a positive integer, got %lld", (long long)batch);
    if (st) return st;
    const json_t *given = l->batch_input_shape;
    if (has_shape) {
        if (given && c->obj && (json_object_get(c->obj, "batch_shape") ||
                                json_object_get(c->obj, "batch_input_shape")))
            return ct__cfg_check(c, false, "shape",
                                 "cannot be given together with batch_shape");
        json_t *b = json_array();
        json_array_append_new(b, batch > 0 ? json_integer(batch) : json_null());
        for (int i = 0; i < n; i++)
            json_array_append_new(b, shape[i] < 0 ? json_null() : json_integer(shape[i]));
        json_decref(l->batch_input_shape);
        l->batch_input_shape = b;
    } else if (!given) {
        return ct__cfg_check(c, false, "shape",
                             "is required (give shape, batch_shape or batch_input_shape)");
    } else if (batch > 0) {
        if (c->obj && !json_object_get(c->obj, "input_shape"))
            return ct__cfg_check(c, false, "batch_size",
                                 "cannot be given together with batch_shape");
        json_t *b = json_deep_copy(l->batch_input_shape);
        json_array_set_new(b, 0, json_integer(batch));
        json_decref(l->batch_input_shape);
        l->batch_input_shape = b;
    }
    if (json_array_size(l->batch_input_shape) < 1 ||
        json_array_size(l->batch_input_shape) > CT_MAX_RANK)
        return ct__cfg_check(c, false, "batch_shape", "must have between 1 and %d entries",
                             CT_MAX_RANK);
    for (size_t i = 0; i < json_array_size(l->batch_input_shape); i++) {
        const json_t *d = json_array_get(l->batch_input_shape, i);
        if (!json_is_null(d) && (!json_is_integer(d) || json_integer_value(d) < 0))
            return ct__cfg_check(c, false, "batch_shape",
                                 "entry %zu must be a non-negative integer or null", i);
    }
    return CT_OK;
}

/* The declared shape (-1 for None). */
static ct_shape input_declared(const ct_layer *l) {
    ct_shape s = {.rank = (int)json_array_size(l->batch_input_shape)};
    for (int i = 0; i < s.rank; i++) {
        const json_t *d = json_array_get(l->batch_input_shape, (size_t)i);
        s.dim[i] = json_is_integer(d) ? (int64_t)json_integer_value(d) : -1;
    }
    return s;
}

static ct_status input_check(const ct_layer *l, const ct_shape *in) {
    ct_shape want = input_declared(l);
    bool ok = want.rank == in->rank;
    for (int i = 0; ok && i < in->rank; i++)
        ok = want.dim[i] < 0 || in->dim[i] < 0 || want.dim[i] == in->dim[i];
    if (!ok)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "expected an input of shape %s, got %s", CT__SHAPE_STR(&want),
                               CT__SHAPE_STR(in));
    return CT_OK;
}

static ct_status input_build(ct_layer *l, int n, const ct_shape *in) {
    (void)n;
    return input_check(l, &in[0]);
}

static ct_status input_output_shape(const ct_layer *l, int n, const ct_shape *in,
                                    ct_shape *out) {
    (void)n;
    ct_status st = input_check(l, &in[0]);
    if (!st) *out = in[0];
    return st;
}

static ct_tensor *input_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    ct_shape s = ct__shape_of(in[0]);
    if (input_check(l, &s)) return NULL;
    return call_identity(l, n, in, training);
}

static ct_status input_get_config(const ct_layer *l, json_t *cfg) {
    const input_layer *il = (const input_layer *)l;
    /* Neither Keras writes trainable for an InputLayer. */
    json_object_del(cfg, "trainable");
    json_object_set_new(cfg, "sparse", json_false());
    json_object_set_new(cfg, "ragged", json_false());
    if (il->optional) json_object_set_new(cfg, "optional", json_true());
    return CT_OK;
}

static const ct__layer_vt input_vt = {
    .class_name = "InputLayer", .size = sizeof(input_layer), .min_inputs = 1, .max_inputs = 1,
    .init = input_init, .get_config = input_get_config, .build = input_build,
    .output_shape = input_output_shape, .call = input_call,
};

/* ---- Dense -------------------------------------------------------------------------- */

/* keras.layers.Dense: activation(x @ kernel + bias), kernel [F, U], bias
 * [U]; inputs of rank > 2 multiply along their last axis. */
typedef struct dense {
    ct_layer base;
    int64_t units;
    ct_activation_fn activation;
    bool use_bias;
    ct_initializer kernel_init, bias_init;
    ct_regularizer kernel_reg, bias_reg;
    ct_constraint kernel_con, bias_con;
    ct_variable *kernel, *bias;
} dense;

static ct_status dense_init(ct_layer *l, ct__cfg *c) {
    dense *d = (dense *)l;
    return ct__cfg_int(c, "units", CT__REQUIRED, &d->units) ||
           ct__cfg_check(c, d->units > 0, "units", "must be a positive integer, got %lld",
                         (long long)d->units) ||
           ct__cfg_activation(c, "activation", NULL, &d->activation) ||
           ct__cfg_bool(c, "use_bias", true, &d->use_bias) ||
           ct__cfg_initializer(c, "kernel_initializer", "glorot_uniform", &d->kernel_init) ||
           ct__cfg_initializer(c, "bias_initializer", "zeros", &d->bias_init) ||
           ct__cfg_regularizer(c, "kernel_regularizer", &d->kernel_reg) ||
           ct__cfg_regularizer(c, "bias_regularizer", &d->bias_reg) ||
           ct__cfg_constraint(c, "kernel_constraint", &d->kernel_con) ||
           ct__cfg_constraint(c, "bias_constraint", &d->bias_con);
}

static ct_status dense_output_shape(const ct_layer *l, int n, const ct_shape *in,
                                    ct_shape *out) {
    (void)n;
    const dense *d = (const dense *)l;
    if (in[0].rank < 2)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "expected an input of rank >= 2, got shape %s",
                               CT__SHAPE_STR(&in[0]));
    *out = in[0];
    out->dim[out->rank - 1] = d->units;
    return CT_OK;
}

static ct_status dense_build(ct_layer *l, int n, const ct_shape *in) {
    dense *d = (dense *)l;
    ct_shape out;
    ct_status st = dense_output_shape(l, n, in, &out);
    if (st) return st;
    int64_t f = in[0].dim[in[0].rank - 1];
    if (f < 0)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "the last dimension of the input must be known, got shape %s",
                               CT__SHAPE_STR(&in[0]));
    d->kernel = ct__layer_add_weight(l, "kernel", 2, (int64_t[]){f, d->units}, &d->kernel_init,
                                     &d->kernel_reg, &d->kernel_con, true);
    if (!d->kernel) return ct_last_status();
    d->bias = NULL;
    if (d->use_bias) {
        d->bias = ct__layer_add_weight(l, "bias", 1, &d->units, &d->bias_init, &d->bias_reg,
                                       &d->bias_con, true);
        if (!d->bias) return ct_last_status();
    }
    return CT_OK;
}

static ct_tensor *dense_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)n, (void)training;
    dense *d = (dense *)l;
    ct_tensor *x = in[0];
    int r = ct_tensor_rank(x);
    ct_tensor *kernel = ct_variable_value(d->kernel);
    int64_t f = ct_tensor_dim(kernel, 0);
    ct_shape xs = ct__shape_of(x);
    if (r < 2 || xs.dim[r - 1] != f) {
        ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                        "expected an input of rank >= 2 with last dimension %lld, got shape %s",
                        (long long)f, CT__SHAPE_STR(&xs));
        return NULL;
    }
    ct_scope_begin();
    x = ct_dtype_is_float(ct_tensor_dtype(x)) ? autocast(l, x) : ct_cast(x, l->dtype);
    ct_tensor *y;
    if (r == 2) {
        y = ct_matmul(x, kernel);
    } else {
        /* [B, ..., F] -> [B*..., F] @ [F, U] -> [B, ..., U]. */
        int64_t rows = 1;
        for (int i = 0; i < r - 1; i++) rows *= xs.dim[i];
        ct_shape ys = xs;
        ys.dim[r - 1] = d->units;
        y = ct_reshape(ct_matmul(ct_reshape(x, 2, (int64_t[]){rows, f}), kernel), r, ys.dim);
    }
    y = ct__bias_and_activation(y, d->bias ? ct_variable_value(d->bias) : NULL, d->activation);
    ct_keep(y);
    ct_scope_end();
    return y;
}

static ct_status dense_get_config(const ct_layer *l, json_t *cfg) {
    const dense *d = (const dense *)l;
    json_object_set_new(cfg, "units", json_integer(d->units));
    ct_status st = put_activation(l, cfg, "activation", d->activation);
    if (st) return st;
    json_object_set_new(cfg, "use_bias", json_boolean(d->use_bias));
    json_object_set_new(cfg, "kernel_initializer", ct__initializer_to_json(&d->kernel_init));
    json_object_set_new(cfg, "bias_initializer", ct__initializer_to_json(&d->bias_init));
    json_object_set_new(cfg, "kernel_regularizer", ct__regularizer_to_json(&d->kernel_reg));
    json_object_set_new(cfg, "bias_regularizer", ct__regularizer_to_json(&d->bias_reg));
    put_null_activity(cfg);
    json_object_set_new(cfg, "kernel_constraint", ct__constraint_to_json(&d->kernel_con));
    json_object_set_new(cfg, "bias_constraint", ct__constraint_to_json(&d->bias_con));
    return CT_OK;
}

static const ct__layer_vt dense_vt = {
    .class_name = "Dense", .size = sizeof(dense), .min_inputs = 1, .max_inputs = 1,
    .init = dense_init, .get_config = dense_get_config, .build = dense_build,
    .output_shape = dense_output_shape, .call = dense_call,
};

/* ---- Activation --------------------------------------------------------------------- */

typedef struct activation_layer {
    ct_layer base;
    ct_activation_fn fn;
} activation_layer;

static ct_status activation_init(ct_layer *l, ct__cfg *c) {
    activation_layer *a = (activation_layer *)l;
    if (!ct__cfg_has(c, "activation")) return ct__cfg_check(c, false, "activation", "is required");
    return ct__cfg_activation(c, "activation", NULL, &a->fn);
}

static ct_tensor *activation_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)n, (void)training;
    activation_layer *a = (activation_layer *)l;
    ct_scope_begin();
    ct_tensor *x = autocast(l, in[0]);
    ct_tensor *y = ct_keep(a->fn ? a->fn(x) : ct_identity(x));
    ct_scope_end();
    return y;
}

static ct_status activation_get_config(const ct_layer *l, json_t *cfg) {
    return put_activation(l, cfg, "activation", ((const activation_layer *)l)->fn);
}

static const ct__layer_vt activation_vt = {
    .class_name = "Activation", .size = sizeof(activation_layer), .min_inputs = 1,
    .max_inputs = 1, .init = activation_init, .get_config = activation_get_config,
    .call = activation_call,
};

/* ---- Dropout and SpatialDropout1D/2D/3D ----------------------------------------------- */

/* keras.layers.Dropout: in training, x * (u >= rate) / (1 - rate) with u
 * uniform in [0, 1) of noise_shape (None entries take the input's
 * dimension); the identity otherwise. Keras accepts rate 1 but TF's dropout
 * refuses it when it runs: so does the call here. The spatial variants use
 * the noise shape [B, 1, ..., C] (channels_first: [B, C, 1, ...]). */
typedef struct dropout {
    ct_layer base;
    double rate;
    seed_arg seed;
    bool has_noise_shape;
    int noise_rank;
    int64_t noise_shape[CT_MAX_RANK]; /* -1 for None                        */
    int spatial;                      /* 0: Dropout; 1, 2, 3: SpatialDropoutND */
    bool channels_first;
} dropout;

static const char *const DATA_FORMATS[] = {"channels_last", "channels_first", NULL};

static ct_status read_rate(ct__cfg *c, double *rate) {
    if (!ct__cfg_has(c, "rate")) return ct__cfg_check(c, false, "rate", "is required");
    return ct__cfg_double(c, "rate", 0, rate) ||
           ct__cfg_check(c, *rate >= 0 && *rate <= 1, "rate",
                         "expected a float value between 0 and 1, got %g", *rate);
}

static ct_status dropout_init(ct_layer *l, ct__cfg *c) {
    dropout *d = (dropout *)l;
    ct_status st = read_rate(c, &d->rate) || read_seed(c, &d->seed);
    if (st) return st;
    st = ct__cfg_int_list(c, "noise_shape", CT_MAX_RANK, d->noise_shape, &d->noise_rank,
                          &d->has_noise_shape);
    if (st) return st;
    if (d->has_noise_shape && c->obj && !json_is_array(json_object_get(c->obj, "noise_shape")))
        return ct__cfg_check(c, false, "noise_shape", "must be a list of integers or nulls");
    for (int i = 0; i < d->noise_rank; i++)
        if (d->noise_shape[i] == 0 || d->noise_shape[i] < -1 ||
            (d->noise_shape[i] == -1 &&
             !json_is_null(json_array_get(json_object_get(c->obj, "noise_shape"), (size_t)i))))
            return ct__cfg_check(c, false, "noise_shape",
                                 "entry %d must be a positive integer or null, got %lld", i,
                                 (long long)d->noise_shape[i]);
    return CT_OK;
}

static ct_status spatial_init(ct_layer *l, ct__cfg *c, int nd) {
    dropout *d = (dropout *)l;
    d->spatial = nd;
    const char *fmt = "channels_last";
    /* tf.keras's configs carry Dropout's noise_shape (null): accepted. */
    int nns;
    bool ns_given;
    ct_status st = read_rate(c, &d->rate) || read_seed(c, &d->seed) ||
                   ct__cfg_int_list(c, "noise_shape", CT_MAX_RANK, d->noise_shape, &nns,
                                    &ns_given) ||
                   ct__cfg_check(c, !ns_given, "noise_shape",
                                 "is fixed by the layer ([batch, 1, ..., channels])");
    if (!st && nd > 1) st = ct__cfg_str(c, "data_format", "channels_last", DATA_FORMATS, &fmt);
    d->channels_first = fmt && !strcmp(fmt, "channels_first");
    return st;
}
static ct_status spatial1_init(ct_layer *l, ct__cfg *c) { return spatial_init(l, c, 1); }
static ct_status spatial2_init(ct_layer *l, ct__cfg *c) { return spatial_init(l, c, 2); }
static ct_status spatial3_init(ct_layer *l, ct__cfg *c) { return spatial_init(l, c, 3); }

static ct_status dropout_check(const ct_layer *l, const ct_shape *in) {
    const dropout *d = (const dropout *)l;
    if (d->spatial && in->rank != d->spatial + 2)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "expected an input of rank %d, got shape %s", d->spatial + 2,
                               CT__SHAPE_STR(in));
    if (d->has_noise_shape && d->noise_rank != in->rank)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "noise_shape has %d entries but the input has shape %s",
                               d->noise_rank, CT__SHAPE_STR(in));
    return CT_OK;
}

static ct_status dropout_build(ct_layer *l, int n, const ct_shape *in) {
    (void)n;
    return dropout_check(l, &in[0]);
}

static ct_tensor *dropout_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    dropout *d = (dropout *)l;
    ct_shape s = ct__shape_of(in[0]);
    if (dropout_check(l, &s)) return NULL;
    if (!training || d->rate == 0) return call_identity(l, n, in, training);
    if (d->rate >= 1) {
        ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                        "rate must be in the range [0, 1) to drop in training, got %g", d->rate);
        return NULL;
    }
    /* The mask's shape: noise_shape, or the spatial one, or x's. */
    ct_shape ns = s;
    if (d->has_noise_shape) {
        for (int i = 0; i < s.rank; i++)
            if (d->noise_shape[i] > 0) ns.dim[i] = d->noise_shape[i];
    } else if (d->spatial) {
        for (int i = 1; i < s.rank; i++)
            if (d->channels_first ? i >= 2 : i < s.rank - 1) ns.dim[i] = 1;
    }
    ct_scope_begin();
    ct_tensor *x = autocast(l, in[0]);
    ct_dtype dt = ct_tensor_dtype(x);
    ct_tensor *u = ct_random_uniform(
        ns.rank, ns.dim, &(ct_random_opts){.dtype = draw_dtype(x), .seed = op_seed(&d->seed)});
    ct_tensor *keep = ct_greater_equal(u, ct_scalar_of(ct_tensor_dtype(u), d->rate));
    ct_tensor *mask = ct_multiply(ct_cast(keep, dt), ct_scalar_of(dt, 1.0 / (1.0 - d->rate)));
    ct_tensor *y = ct_keep(ct_multiply(x, mask));
    ct_scope_end();
    return y;
}

static ct_status dropout_get_config(const ct_layer *l, json_t *cfg) {
    const dropout *d = (const dropout *)l;
    json_object_set_new(cfg, "rate", json_real(d->rate));
    json_object_set_new(cfg, "seed", seed_json(&d->seed));
    if (d->spatial) {
        /* Keras 3's SpatialDropout takes (rate, seed, name, dtype[,
         * data_format]) only: no trainable. */
        json_object_del(cfg, "trainable");
        if (d->spatial > 1)
            json_object_set_new(cfg, "data_format", json_string(d->channels_first
                                                                    ? "channels_first"
                                                                    : "channels_last"));
        return CT_OK;
    }
    json_t *ns = json_null();
    if (d->has_noise_shape) {
        ns = json_array();
        for (int i = 0; i < d->noise_rank; i++)
            json_array_append_new(ns, d->noise_shape[i] > 0 ? json_integer(d->noise_shape[i])
                                                            : json_null());
    }
    json_object_set_new(cfg, "noise_shape", ns);
    return CT_OK;
}

static const ct__layer_vt dropout_vt = {
    .class_name = "Dropout", .size = sizeof(dropout), .min_inputs = 1, .max_inputs = 1,
    .init = dropout_init, .get_config = dropout_get_config, .build = dropout_build,
    .call = dropout_call,
};
static const ct__layer_vt spatial1_vt = {
    .class_name = "SpatialDropout1D", .size = sizeof(dropout), .min_inputs = 1,
    .max_inputs = 1, .init = spatial1_init, .get_config = dropout_get_config,
    .build = dropout_build, .call = dropout_call,
};
static const ct__layer_vt spatial2_vt = {
    .class_name = "SpatialDropout2D", .size = sizeof(dropout), .min_inputs = 1,
    .max_inputs = 1, .init = spatial2_init, .get_config = dropout_get_config,
    .build = dropout_build, .call = dropout_call,
};
static const ct__layer_vt spatial3_vt = {
    .class_name = "SpatialDropout3D", .size = sizeof(dropout), .min_inputs = 1,
    .max_inputs = 1, .init = spatial3_init, .get_config = dropout_get_config,
    .build = dropout_build, .call = dropout_call,
};

/* ---- GaussianNoise and GaussianDropout ------------------------------------------------ */

/* GaussianNoise: x + N(0, stddev) in training. GaussianDropout: x *
 * N(1, sqrt(rate / (1 - rate))) in training. Both the identity otherwise.
 * Keras 3 limits stddev to [0, 1]. */
typedef struct gaussian {
    ct_layer base;
    double value; /* stddev (noise) or rate (dropout) */
    seed_arg seed;
    bool is_dropout;
} gaussian;

static ct_status gnoise_init(ct_layer *l, ct__cfg *c) {
    gaussian *g = (gaussian *)l;
    if (!ct__cfg_has(c, "stddev")) return ct__cfg_check(c, false, "stddev", "is required");
    return ct__cfg_double(c, "stddev", 0, &g->value) ||
           ct__cfg_check(c, g->value >= 0 && g->value <= 1, "stddev",
                         "expected a float value between 0 and 1, got %g", g->value) ||
           read_seed(c, &g->seed);
}

static ct_status gdropout_init(ct_layer *l, ct__cfg *c) {
    gaussian *g = (gaussian *)l;
    g->is_dropout = true;
    return read_rate(c, &g->value) || read_seed(c, &g->seed);
}

static ct_tensor *gaussian_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    gaussian *g = (gaussian *)l;
    if (!training || g->value == 0) return call_identity(l, n, in, training);
    ct_scope_begin();
    ct_tensor *x = autocast(l, in[0]);
    ct_dtype dt = ct_tensor_dtype(x);
    ct_random_opts o = {.dtype = draw_dtype(x), .seed = op_seed(&g->seed)};
    if (g->is_dropout) {
        o.mean = 1.0;
        o.stddev = sqrt(g->value / (1.0 - g->value));
    } else {
        o.stddev = g->value;
    }
    ct_tensor *noise = ct_cast(ct_random_normal(ct_tensor_rank(x), ct_tensor_shape(x), &o), dt);
    ct_tensor *y = ct_keep(g->is_dropout ? ct_multiply(x, noise) : ct_add(x, noise));
    ct_scope_end();
    return y;
}

static ct_status gaussian_get_config(const ct_layer *l, json_t *cfg) {
    const gaussian *g = (const gaussian *)l;
    json_object_set_new(cfg, g->is_dropout ? "rate" : "stddev", json_real(g->value));
    json_object_set_new(cfg, "seed", seed_json(&g->seed));
    return CT_OK;
}

static const ct__layer_vt gnoise_vt = {
    .class_name = "GaussianNoise", .size = sizeof(gaussian), .min_inputs = 1, .max_inputs = 1,
    .init = gnoise_init, .get_config = gaussian_get_config, .call = gaussian_call,
};
static const ct__layer_vt gdropout_vt = {
    .class_name = "GaussianDropout", .size = sizeof(gaussian), .min_inputs = 1,
    .max_inputs = 1, .init = gdropout_init, .get_config = gaussian_get_config,
    .call = gaussian_call,
};

/* ---- Embedding ---------------------------------------------------------------------- */

/* keras.layers.Embedding: embeddings [input_dim, output_dim]; integer
 * indices of any shape S give [S..., output_dim] (non-integer indices are
 * cast to int32, as Keras 3). An index outside [0, input_dim) is an error
 * (TF's CPU gather). mask_zero is kept and written back; the mask itself
 * propagates once layers carry masks (a later issue). input_length (Keras
 * 2) is accepted, kept for the config, and otherwise ignored (Keras 3). */
typedef struct embedding {
    ct_layer base;
    int64_t input_dim, output_dim;
    ct_initializer init;
    ct_regularizer reg;
    ct_constraint con;
    bool mask_zero;
    json_t *input_length; /* as given, or NULL */
    ct_variable *embeddings;
} embedding;

static ct_status embedding_init(ct_layer *l, ct__cfg *c) {
    embedding *e = (embedding *)l;
    ct_status st =
        ct__cfg_int(c, "input_dim", CT__REQUIRED, &e->input_dim) ||
        ct__cfg_check(c, e->input_dim > 0, "input_dim", "must be a positive integer, got %lld",
                      (long long)e->input_dim) ||
        ct__cfg_int(c, "output_dim", CT__REQUIRED, &e->output_dim) ||
        ct__cfg_check(c, e->output_dim > 0, "output_dim",
                      "must be a positive integer, got %lld", (long long)e->output_dim) ||
        ct__cfg_initializer(c, "embeddings_initializer", "uniform", &e->init) ||
        ct__cfg_regularizer(c, "embeddings_regularizer", &e->reg) ||
        ct__cfg_constraint(c, "embeddings_constraint", &e->con) ||
        ct__cfg_bool(c, "mask_zero", false, &e->mask_zero);
    if (st) return st;
    const json_t *il = c->obj ? json_object_get(c->obj, "input_length") : NULL;
    if (il && !json_is_null(il)) {
        if (!json_is_integer(il) && !json_is_array(il))
            return ct__cfg_check(c, false, "input_length",
                                 "must be an integer, a list of integers or null");
        e->input_length = json_deep_copy(il);
    }
    return CT_OK;
}

static ct_status embedding_output_shape(const ct_layer *l, int n, const ct_shape *in,
                                        ct_shape *out) {
    (void)n;
    const embedding *e = (const embedding *)l;
    if (in[0].rank >= CT_MAX_RANK)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "the input of shape %s has too many dimensions",
                               CT__SHAPE_STR(&in[0]));
    *out = in[0];
    out->dim[out->rank++] = e->output_dim;
    return CT_OK;
}

static ct_status embedding_build(ct_layer *l, int n, const ct_shape *in) {
    embedding *e = (embedding *)l;
    ct_shape out;
    ct_status st = embedding_output_shape(l, n, in, &out);
    if (st) return st;
    e->embeddings = ct__layer_add_weight(l, "embeddings", 2,
                                         (int64_t[]){e->input_dim, e->output_dim}, &e->init,
                                         &e->reg, &e->con, true);
    return e->embeddings ? CT_OK : ct_last_status();
}

static ct_tensor *embedding_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)n, (void)training;
    embedding *e = (embedding *)l;
    ct_tensor *idx = in[0];
    if (ct_tensor_rank(idx) >= CT_MAX_RANK) {
        ct_shape s = ct__shape_of(idx);
        ct__layer_error(l, CT_ERR_INVALID_ARGUMENT, "the input of shape %s has too many dimensions",
                        CT__SHAPE_STR(&s));
        return NULL;
    }
    ct_scope_begin();
    ct_dtype dt = ct_tensor_dtype(idx);
    if (dt != CT_INT32 && dt != CT_INT64) idx = ct_cast(idx, CT_INT32);
    ct_tensor *y = ct_gather(ct_variable_value(e->embeddings), idx, 0, 0);
    if (y && ct_tensor_dtype(y) != l->dtype) y = ct_cast(y, l->dtype);
    ct_keep(y);
    ct_scope_end();
    return y; /* an index out of range: ct_gather's error, which the base prefixes */
}

static ct_status embedding_get_config(const ct_layer *l, json_t *cfg) {
    const embedding *e = (const embedding *)l;
    json_object_set_new(cfg, "input_dim", json_integer(e->input_dim));
    json_object_set_new(cfg, "output_dim", json_integer(e->output_dim));
    json_object_set_new(cfg, "embeddings_initializer", ct__initializer_to_json(&e->init));
    json_object_set_new(cfg, "embeddings_regularizer", ct__regularizer_to_json(&e->reg));
    put_null_activity(cfg);
    json_object_set_new(cfg, "embeddings_constraint", ct__constraint_to_json(&e->con));
    json_object_set_new(cfg, "mask_zero", json_boolean(e->mask_zero));
    json_object_set_new(cfg, "input_length",
                        e->input_length ? json_incref(e->input_length) : json_null());
    return CT_OK;
}

static void embedding_destroy(ct_layer *l) { json_decref(((embedding *)l)->input_length); }

static const ct__layer_vt embedding_vt = {
    .class_name = "Embedding", .size = sizeof(embedding), .min_inputs = 1, .max_inputs = 1,
    .init = embedding_init, .get_config = embedding_get_config, .build = embedding_build,
    .output_shape = embedding_output_shape, .call = embedding_call,
    .destroy = embedding_destroy,
};

/* ---- Softmax ------------------------------------------------------------------------ */

/* keras.layers.Softmax(axis=-1): axis may be a list, normalising over
 * several axes as exp(x - logsumexp(x, axes)). */
typedef struct softmax_layer {
    ct_layer base;
    bool axis_list;
    int naxes;
    int64_t axes[CT_MAX_RANK];
} softmax_layer;

static ct_status softmax_init(ct_layer *l, ct__cfg *c) {
    softmax_layer *s = (softmax_layer *)l;
    const json_t *a = c->obj ? json_object_get(c->obj, "axis") : NULL;
    s->axis_list = a && json_is_array(a);
    bool present;
    ct_status st = ct__cfg_int_list(c, "axis", CT_MAX_RANK, s->axes, &s->naxes, &present);
    if (st) return st;
    if (!present) {
        s->axes[0] = -1;
        s->naxes = 1;
    }
    return ct__cfg_check(c, s->naxes >= 1, "axis", "must name at least one axis");
}

static ct_status softmax_check(const ct_layer *l, const ct_shape *in) {
    const softmax_layer *s = (const softmax_layer *)l;
    for (int i = 0; i < s->naxes; i++)
        if (s->axes[i] < -in->rank || s->axes[i] >= in->rank)
            return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                   "axis %lld is out of range for an input of shape %s",
                                   (long long)s->axes[i], CT__SHAPE_STR(in));
    return CT_OK;
}

static ct_status softmax_build(ct_layer *l, int n, const ct_shape *in) {
    (void)n;
    return softmax_check(l, &in[0]);
}

static ct_tensor *softmax_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)n, (void)training;
    softmax_layer *s = (softmax_layer *)l;
    ct_shape sh = ct__shape_of(in[0]);
    if (softmax_check(l, &sh)) return NULL;
    ct_scope_begin();
    ct_tensor *x = autocast(l, in[0]), *y;
    if (s->naxes == 1) {
        y = ct_softmax(x, (int)s->axes[0]);
    } else {
        int axes[CT_MAX_RANK];
        for (int i = 0; i < s->naxes; i++) axes[i] = (int)s->axes[i];
        y = ct_exp(ct_subtract(x, ct_reduce_logsumexp(x, axes, s->naxes, true)));
    }
    ct_keep(y);
    ct_scope_end();
    return y;
}

static ct_status softmax_get_config(const ct_layer *l, json_t *cfg) {
    const softmax_layer *s = (const softmax_layer *)l;
    if (!s->axis_list) {
        json_object_set_new(cfg, "axis", json_integer(s->axes[0]));
        return CT_OK;
    }
    json_t *a = json_array();
    for (int i = 0; i < s->naxes; i++) json_array_append_new(a, json_integer(s->axes[i]));
    json_object_set_new(cfg, "axis", a);
    return CT_OK;
}

static const ct__layer_vt softmax_vt = {
    .class_name = "Softmax", .size = sizeof(softmax_layer), .min_inputs = 1, .max_inputs = 1,
    .init = softmax_init, .get_config = softmax_get_config, .build = softmax_build,
    .call = softmax_call,
};

/* ---- ReLU, LeakyReLU, ELU ------------------------------------------------------------ */

/* ReLU(max_value=None, negative_slope=0, threshold=0), LeakyReLU
 * (Keras 3: negative_slope=0.3; Keras 2's "alpha" is read as it), ELU
 * (alpha=1; Keras 3's ELU writes no config of its own, tf.keras writes
 * alpha: we write alpha, which Keras 3 reads). */
typedef struct relu_layer {
    ct_layer base;
    bool has_max;
    double max_value, negative_slope, threshold;
} relu_layer;

static ct_status relu_init(ct_layer *l, ct__cfg *c) {
    relu_layer *r = (relu_layer *)l;
    r->has_max = ct__cfg_has(c, "max_value");
    return ct__cfg_double(c, "max_value", INFINITY, &r->max_value) ||
           ct__cfg_check(c, !(r->max_value < 0), "max_value",
                         "cannot be a negative value, got %g", r->max_value) ||
           ct__cfg_double(c, "negative_slope", 0.0, &r->negative_slope) ||
           ct__cfg_check(c, r->negative_slope >= 0, "negative_slope",
                         "cannot be a negative value, got %g", r->negative_slope) ||
           ct__cfg_double(c, "threshold", 0.0, &r->threshold) ||
           ct__cfg_check(c, r->threshold >= 0, "threshold",
                         "cannot be a negative value, got %g", r->threshold);
}

static ct_tensor *relu_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)n, (void)training;
    relu_layer *r = (relu_layer *)l;
    ct_scope_begin();
    ct_tensor *y = ct_keep(
        ct_relu_ex(autocast(l, in[0]), r->negative_slope, r->max_value, r->threshold));
    ct_scope_end();
    return y;
}

static ct_status relu_get_config(const ct_layer *l, json_t *cfg) {
    const relu_layer *r = (const relu_layer *)l;
    json_object_set_new(cfg, "max_value", r->has_max ? json_real(r->max_value) : json_null());
    json_object_set_new(cfg, "negative_slope", json_real(r->negative_slope));
    json_object_set_new(cfg, "threshold", json_real(r->threshold));
    return CT_OK;
}

static const ct__layer_vt relu_vt = {
    .class_name = "ReLU", .size = sizeof(relu_layer), .min_inputs = 1, .max_inputs = 1,
    .init = relu_init, .get_config = relu_get_config, .call = relu_call,
};

static ct_status leaky_init(ct_layer *l, ct__cfg *c) {
    relu_layer *r = (relu_layer *)l;
    double alpha;
    ct_status st = ct__cfg_double(c, "negative_slope", 0.3, &r->negative_slope) ||
                   ct__cfg_double(c, "alpha", NAN, &alpha);
    if (!st && !isnan(alpha)) r->negative_slope = alpha; /* Keras 2's name wins, as Keras 3 */
    return st || ct__cfg_check(c, r->negative_slope >= 0, "negative_slope",
                               "cannot be a negative value, got %g", r->negative_slope);
}

static ct_tensor *leaky_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)n, (void)training;
    relu_layer *r = (relu_layer *)l;
    ct_scope_begin();
    ct_tensor *y = ct_keep(ct_leaky_relu(autocast(l, in[0]), r->negative_slope));
    ct_scope_end();
    return y;
}

static ct_status leaky_get_config(const ct_layer *l, json_t *cfg) {
    json_object_set_new(cfg, "negative_slope", json_real(((const relu_layer *)l)->negative_slope));
    return CT_OK;
}

static const ct__layer_vt leaky_vt = {
    .class_name = "LeakyReLU", .size = sizeof(relu_layer), .min_inputs = 1, .max_inputs = 1,
    .init = leaky_init, .get_config = leaky_get_config, .call = leaky_call,
};

static ct_status elu_init(ct_layer *l, ct__cfg *c) {
    return ct__cfg_double(c, "alpha", 1.0, &((relu_layer *)l)->negative_slope);
}

static ct_tensor *elu_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)n, (void)training;
    relu_layer *r = (relu_layer *)l;
    ct_scope_begin();
    ct_tensor *y = ct_keep(ct_elu(autocast(l, in[0]), r->negative_slope));
    ct_scope_end();
    return y;
}

static ct_status elu_get_config(const ct_layer *l, json_t *cfg) {
    json_object_set_new(cfg, "alpha", json_real(((const relu_layer *)l)->negative_slope));
    return CT_OK;
}

static const ct__layer_vt elu_vt = {
    .class_name = "ELU", .size = sizeof(relu_layer), .min_inputs = 1, .max_inputs = 1,
    .init = elu_init, .get_config = elu_get_config, .call = elu_call,
};

/* ---- PReLU -------------------------------------------------------------------------- */

/* keras.layers.PReLU: relu(x) - alpha * relu(-x), alpha of the input's
 * shape without the batch, size 1 along shared_axes (1-based, as Keras). */
typedef struct prelu {
    ct_layer base;
    ct_initializer init;
    ct_regularizer reg;
    ct_constraint con;
    bool has_shared;
    int nshared;
    int64_t shared[CT_MAX_RANK];
    ct_variable *alpha;
} prelu;

static ct_status prelu_init(ct_layer *l, ct__cfg *c) {
    prelu *p = (prelu *)l;
    ct_status st = ct__cfg_initializer(c, "alpha_initializer", "zeros", &p->init) ||
                   ct__cfg_regularizer(c, "alpha_regularizer", &p->reg) ||
                   ct__cfg_constraint(c, "alpha_constraint", &p->con) ||
                   ct__cfg_int_list(c, "shared_axes", CT_MAX_RANK, p->shared, &p->nshared,
                                    &p->has_shared);
    for (int i = 0; !st && i < p->nshared; i++)
        st = ct__cfg_check(c, p->shared[i] >= 1, "shared_axes",
                           "axes count from 1 (0 is the batch), got %lld",
                           (long long)p->shared[i]);
    return st;
}

static ct_status prelu_build(ct_layer *l, int n, const ct_shape *in) {
    (void)n;
    prelu *p = (prelu *)l;
    if (in[0].rank < 2)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "expected an input of rank >= 2, got shape %s",
                               CT__SHAPE_STR(&in[0]));
    int64_t shape[CT_MAX_RANK];
    int r = in[0].rank - 1;
    memcpy(shape, in[0].dim + 1, (size_t)r * sizeof shape[0]);
    for (int i = 0; i < p->nshared; i++) {
        if (p->shared[i] > r)
            return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                   "shared_axes entry %lld is out of range for input shape %s",
                                   (long long)p->shared[i], CT__SHAPE_STR(&in[0]));
        shape[p->shared[i] - 1] = 1;
    }
    p->alpha = ct__layer_add_weight(l, "alpha", r, shape, &p->init, &p->reg, &p->con, true);
    return p->alpha ? CT_OK : ct_last_status();
}

static ct_tensor *prelu_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)n, (void)training;
    prelu *p = (prelu *)l;
    ct_tensor *alpha = ct_variable_value(p->alpha);
    ct_shape s = ct__shape_of(in[0]);
    bool ok = s.rank == ct_tensor_rank(alpha) + 1;
    for (int i = 1; ok && i < s.rank; i++)
        ok = ct_tensor_dim(alpha, i - 1) == 1 || ct_tensor_dim(alpha, i - 1) == s.dim[i];
    if (!ok) {
        ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                        "the input of shape %s does not match alpha of shape %s",
                        CT__SHAPE_STR(&s), CT__SHAPE(ct_tensor_rank(alpha), ct_tensor_shape(alpha)));
        return NULL;
    }
    ct_scope_begin();
    ct_tensor *x = autocast(l, in[0]);
    ct_tensor *y = ct_keep(
        ct_subtract(ct_relu(x), ct_multiply(alpha, ct_relu(ct_negative(x)))));
    ct_scope_end();
    return y;
}

static ct_status prelu_get_config(const ct_layer *l, json_t *cfg) {
    const prelu *p = (const prelu *)l;
    json_object_set_new(cfg, "alpha_initializer", ct__initializer_to_json(&p->init));
    json_object_set_new(cfg, "alpha_regularizer", ct__regularizer_to_json(&p->reg));
    json_object_set_new(cfg, "alpha_constraint", ct__constraint_to_json(&p->con));
    json_t *sa = json_null();
    if (p->has_shared) {
        sa = json_array();
        for (int i = 0; i < p->nshared; i++) json_array_append_new(sa, json_integer(p->shared[i]));
    }
    json_object_set_new(cfg, "shared_axes", sa);
    return CT_OK;
}

static const ct__layer_vt prelu_vt = {
    .class_name = "PReLU", .size = sizeof(prelu), .min_inputs = 1, .max_inputs = 1,
    .init = prelu_init, .get_config = prelu_get_config, .build = prelu_build,
    .call = prelu_call,
};

/* ---- ActivityRegularization ---------------------------------------------------------- */

/* The identity with an L1L2(l1, l2) activity regularizer (the base adds
 * its penalty of the output after each call). */
typedef struct activity_reg {
    ct_layer base;
    double l1, l2;
} activity_reg;

static ct_status activity_init(ct_layer *l, ct__cfg *c) {
    activity_reg *a = (activity_reg *)l;
    ct_status st = ct__cfg_double(c, "l1", 0.0, &a->l1) || ct__cfg_double(c, "l2", 0.0, &a->l2);
    if (!st) l->activity_regularizer = (ct_regularizer){.kind = CT_REG_L1L2, .l1 = a->l1, .l2 = a->l2};
    return st;
}

static ct_status activity_get_config(const ct_layer *l, json_t *cfg) {
    const activity_reg *a = (const activity_reg *)l;
    json_object_del(cfg, "activity_regularizer");
    json_object_set_new(cfg, "l1", json_real(a->l1));
    json_object_set_new(cfg, "l2", json_real(a->l2));
    return CT_OK;
}

static const ct__layer_vt activity_vt = {
    .class_name = "ActivityRegularization", .size = sizeof(activity_reg), .min_inputs = 1,
    .max_inputs = 1, .init = activity_init, .get_config = activity_get_config,
    .call = call_identity,
};

const ct__layer_vt *const ct__core_layers[] = {
    &input_vt,    &dense_vt,    &activation_vt, &dropout_vt, &spatial1_vt,
    &spatial2_vt, &spatial3_vt, &gnoise_vt,     &gdropout_vt, &embedding_vt,
    &softmax_vt,  &relu_vt,     &leaky_vt,      &elu_vt,     &prelu_vt,
    &activity_vt, NULL,
};
