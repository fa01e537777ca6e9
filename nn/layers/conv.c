/*
 * Keras convolution layers: Conv1D/2D/3D, Conv1D/2D/3DTranspose,
 * DepthwiseConv1D/2D and SeparableConv1D/2D.
 *
 * One struct serves every class; the class fixes the number of spatial
 * dimensions (`rank`) and the kind of convolution. Shapes, channels last
 * (the only data_format ctrain's conv ops take: "channels_first" is a
 * clear error at construction):
 *
 *   x            [batch, spatial..., in]
 *   conv         kernel [k..., in / groups, filters], bias [filters]
 *   transpose    kernel [k..., filters, in],          bias [filters]
 *   depthwise    depthwise_kernel [k..., in, mult],   bias [in * mult]
 *   separable    depthwise_kernel [k..., in, mult], pointwise_kernel
 *                [1..., in * mult, filters],           bias [filters]
 *
 * Weight names: Keras 3 calls DepthwiseConv's kernel "kernel"; ctrain
 * keeps Keras 2's "depthwise_kernel" (the name in Keras 2 HDF5 files,
 * which is the layout ctrain writes; Keras 3 loads those by order).
 */
#include <stdio.h>
#include <string.h>

#include "nn/internal.h"

typedef enum { CONV, TRANSPOSE, DEPTHWISE, SEPARABLE } conv_kind;

typedef struct {
    ct_layer base;
    int rank;                  /* spatial dimensions: 1, 2 or 3            */
    conv_kind kind;
    int64_t filters;           /* CONV, TRANSPOSE, SEPARABLE               */
    int64_t depth_multiplier;  /* DEPTHWISE, SEPARABLE                     */
    int64_t groups;            /* CONV                                     */
    int64_t kernel_size[3], strides[3], dilation_rate[3];
    bool has_output_padding;   /* TRANSPOSE: Keras's output_padding=None   */
    int64_t output_padding[3];
    const char *padding;       /* "valid", "same", "causal" (static)       */
    ct_activation_fn activation;
    bool use_bias;
    /* kernel_* (CONV, TRANSPOSE) or depthwise_* (DEPTHWISE, SEPARABLE). */
    ct_initializer kernel_init, pointwise_init, bias_init;
    ct_regularizer kernel_reg, pointwise_reg, bias_reg;
    ct_constraint kernel_con, pointwise_con, bias_con;
    ct_variable *kernel, *pointwise, *bias;
} conv;

static const char *const PADDINGS[] = {"valid", "same", NULL};
static const char *const PADDINGS_CAUSAL[] = {"valid", "same", "causal", NULL};
static const char *const DATA_FORMATS[] = {"channels_last", "channels_first", NULL};

/* The config keys of the main kernel's initializer / regularizer /
 * constraint: Keras's depthwise layers say "depthwise_". */
static const char *kernel_prefix(const conv *cv) {
    return cv->kind == DEPTHWISE || cv->kind == SEPARABLE ? "depthwise" : "kernel";
}

static ct_status check_positive(ct__cfg *c, const char *key, int n, const int64_t *v,
                                bool allow_zero) {
    for (int i = 0; i < n; i++)
        if (v[i] < 0 || (!allow_zero && v[i] == 0)) {
            char buf[96];
            int o = 0;
            for (int j = 0; j < n; j++)
                o += snprintf(buf + o, sizeof buf - (size_t)o, "%s%lld", j ? ", " : "",
                              (long long)v[j]);
            return ct__cfg_check(c, false, key, "must be %s integers, got (%s)",
                                 allow_zero ? "non-negative" : "positive", buf);
        }
    return CT_OK;
}

/* Reads data_format: channels_last only (ctrain's conv and pooling ops
 * are channels-last). */
static ct_status read_data_format(ct__cfg *c) {
    const char *df;
    ct_status st = ct__cfg_str(c, "data_format", "channels_last", DATA_FORMATS, &df);
    if (st) return st;
    return ct__cfg_check(c, !strcmp(df, "channels_last"), "data_format",
                         "'%s' is not supported: ctrain's convolutions take channels_last "
                         "inputs only (transpose the input to [batch, spatial..., channels])",
                         df);
}

static ct_status conv_init(ct_layer *l, ct__cfg *c, int rank, conv_kind kind) {
    conv *cv = (conv *)l;
    cv->rank = rank;
    cv->kind = kind;
    const int64_t ones[3] = {1, 1, 1};
    char key[64];
    const char *pre = kernel_prefix(cv);
    ct_status st = CT_OK;

    if (kind != DEPTHWISE) {
        st = ct__cfg_int(c, "filters", CT__REQUIRED, &cv->filters) ||
             ct__cfg_check(c, cv->filters > 0, "filters",
                           "must be a positive integer, got %lld", (long long)cv->filters);
        if (st) return st;
    }
    if (kind == DEPTHWISE || kind == SEPARABLE) {
        st = ct__cfg_int(c, "depth_multiplier", 1, &cv->depth_multiplier) ||
             ct__cfg_check(c, cv->depth_multiplier > 0, "depth_multiplier",
                           "must be a positive integer, got %lld",
                           (long long)cv->depth_multiplier);
        if (st) return st;
    }
    st = ct__cfg_ints(c, "kernel_size", rank, NULL, cv->kernel_size) ||
         check_positive(c, "kernel_size", rank, cv->kernel_size, false) ||
         ct__cfg_ints(c, "strides", rank, ones, cv->strides) ||
         check_positive(c, "strides", rank, cv->strides, false) ||
         ct__cfg_ints(c, "dilation_rate", rank, ones, cv->dilation_rate) ||
         check_positive(c, "dilation_rate", rank, cv->dilation_rate, false) ||
         ct__cfg_str(c, "padding", "valid",
                     kind == CONV && rank == 1 ? PADDINGS_CAUSAL : PADDINGS, &cv->padding) ||
         read_data_format(c);
    if (st) return st;

    int64_t smax = 1, dmax = 1;
    for (int i = 0; i < rank; i++) {
        if (cv->strides[i] > smax) smax = cv->strides[i];
        if (cv->dilation_rate[i] > dmax) dmax = cv->dilation_rate[i];
    }
    if ((st = ct__cfg_check(c, !(smax > 1 && dmax > 1), "strides",
                            "strides > 1 is not supported together with dilation_rate > 1 "
                            "(strides %lld, dilation_rate %lld)",
                            (long long)smax, (long long)dmax)))
        return st;

    /* groups: Conv's argument. Keras 2 configs of the other layers carry
     * groups 1 (inherited from Conv); accept exactly that. */
    cv->groups = 1;
    if (kind == CONV) {
        st = ct__cfg_int(c, "groups", 1, &cv->groups) ||
             ct__cfg_check(c, cv->groups > 0, "groups", "must be a positive integer, got %lld",
                           (long long)cv->groups) ||
             ct__cfg_check(c, cv->filters % cv->groups == 0, "groups",
                           "filters (%lld) must be divisible by groups (%lld)",
                           (long long)cv->filters, (long long)cv->groups);
        if (st) return st;
    } else {
        int64_t g;
        st = ct__cfg_int(c, "groups", 1, &g) ||
             ct__cfg_check(c, g == 1, "groups", "is not an argument of this layer (got %lld)",
                           (long long)g);
        if (st) return st;
    }

    if (kind == TRANSPOSE) {
        int64_t op[CT_MAX_RANK];
        int n;
        bool present;
        if ((st = ct__cfg_int_list(c, "output_padding", CT_MAX_RANK, op, &n, &present)))
            return st;
        if (present) {
            if ((st = ct__cfg_check(c, n == 1 || n == rank, "output_padding",
                                    "must be an integer or a list of %d integers", rank)))
                return st;
            for (int i = 0; i < rank; i++) cv->output_padding[i] = op[n == 1 ? 0 : i];
            cv->has_output_padding = true;
            if ((st = check_positive(c, "output_padding", rank, cv->output_padding, true)))
                return st;
            for (int i = 0; i < rank; i++)
                if ((st = ct__cfg_check(c, cv->output_padding[i] < cv->strides[i],
                                        "output_padding",
                                        "must be less than strides: output_padding %lld, "
                                        "strides %lld in dimension %d",
                                        (long long)cv->output_padding[i],
                                        (long long)cv->strides[i], i)))
                    return st;
        }
    }

    st = ct__cfg_activation(c, "activation", NULL, &cv->activation) ||
         ct__cfg_bool(c, "use_bias", true, &cv->use_bias);
    if (st) return st;
    snprintf(key, sizeof key, "%s_initializer", pre);
    if ((st = ct__cfg_initializer(c, key, "glorot_uniform", &cv->kernel_init))) return st;
    snprintf(key, sizeof key, "%s_regularizer", pre);
    if ((st = ct__cfg_regularizer(c, key, &cv->kernel_reg))) return st;
    snprintf(key, sizeof key, "%s_constraint", pre);
    if ((st = ct__cfg_constraint(c, key, &cv->kernel_con))) return st;
    if (kind == SEPARABLE) {
        st = ct__cfg_initializer(c, "pointwise_initializer", "glorot_uniform",
                                 &cv->pointwise_init) ||
             ct__cfg_regularizer(c, "pointwise_regularizer", &cv->pointwise_reg) ||
             ct__cfg_constraint(c, "pointwise_constraint", &cv->pointwise_con);
        if (st) return st;
    }
    return ct__cfg_initializer(c, "bias_initializer", "zeros", &cv->bias_init) ||
           ct__cfg_regularizer(c, "bias_regularizer", &cv->bias_reg) ||
           ct__cfg_constraint(c, "bias_constraint", &cv->bias_con);
}

#define CONV_INIT(fn, rank, kind)                                                          \
    static ct_status fn(ct_layer *l, ct__cfg *c) { return conv_init(l, c, rank, kind); }
CONV_INIT(conv1d_init, 1, CONV)
CONV_INIT(conv2d_init, 2, CONV)
CONV_INIT(conv3d_init, 3, CONV)
CONV_INIT(conv1d_transpose_init, 1, TRANSPOSE)
CONV_INIT(conv2d_transpose_init, 2, TRANSPOSE)
CONV_INIT(conv3d_transpose_init, 3, TRANSPOSE)
CONV_INIT(depthwise1d_init, 1, DEPTHWISE)
CONV_INIT(depthwise2d_init, 2, DEPTHWISE)
CONV_INIT(separable1d_init, 1, SEPARABLE)
CONV_INIT(separable2d_init, 2, SEPARABLE)

/* ---- config ------------------------------------------------------------------ */

static json_t *int_tuple(int n, const int64_t *v) {
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) json_array_append_new(a, json_integer((json_int_t)v[i]));
    return a;
}

static json_t *activation_json(ct_activation_fn fn) {
    const char *name = fn ? ct_activation_name(fn) : "linear";
    return json_string(name ? name : "linear");
}

static ct_status conv_get_config(const ct_layer *l, json_t *cfg) {
    const conv *cv = (const conv *)l;
    char key[64];
    const char *pre = kernel_prefix(cv);
    if (cv->kind == DEPTHWISE || cv->kind == SEPARABLE)
        json_object_set_new(cfg, "depth_multiplier", json_integer(cv->depth_multiplier));
    if (cv->kind != DEPTHWISE) json_object_set_new(cfg, "filters", json_integer(cv->filters));
    json_object_set_new(cfg, "kernel_size", int_tuple(cv->rank, cv->kernel_size));
    json_object_set_new(cfg, "strides", int_tuple(cv->rank, cv->strides));
    json_object_set_new(cfg, "padding", json_string(cv->padding));
    if (cv->kind == TRANSPOSE)
        /* Keras 3 leaves output_padding out of get_config (so a round trip
         * loses it); Keras 2 wrote it. ctrain writes it, null for None. */
        json_object_set_new(cfg, "output_padding",
                            cv->has_output_padding ? int_tuple(cv->rank, cv->output_padding)
                                                   : json_null());
    json_object_set_new(cfg, "data_format", json_string("channels_last"));
    json_object_set_new(cfg, "dilation_rate", int_tuple(cv->rank, cv->dilation_rate));
    if (cv->kind == CONV) json_object_set_new(cfg, "groups", json_integer(cv->groups));
    json_object_set_new(cfg, "activation", activation_json(cv->activation));
    json_object_set_new(cfg, "use_bias", json_boolean(cv->use_bias));
    snprintf(key, sizeof key, "%s_initializer", pre);
    json_object_set_new(cfg, key, ct__initializer_to_json(&cv->kernel_init));
    if (cv->kind == SEPARABLE)
        json_object_set_new(cfg, "pointwise_initializer",
                            ct__initializer_to_json(&cv->pointwise_init));
    json_object_set_new(cfg, "bias_initializer", ct__initializer_to_json(&cv->bias_init));
    snprintf(key, sizeof key, "%s_regularizer", pre);
    json_object_set_new(cfg, key, ct__regularizer_to_json(&cv->kernel_reg));
    if (cv->kind == SEPARABLE)
        json_object_set_new(cfg, "pointwise_regularizer",
                            ct__regularizer_to_json(&cv->pointwise_reg));
    json_object_set_new(cfg, "bias_regularizer", ct__regularizer_to_json(&cv->bias_reg));
    if (!json_object_get(cfg, "activity_regularizer"))
        json_object_set_new(cfg, "activity_regularizer", json_null());
    snprintf(key, sizeof key, "%s_constraint", pre);
    json_object_set_new(cfg, key, ct__constraint_to_json(&cv->kernel_con));
    if (cv->kind == SEPARABLE)
        json_object_set_new(cfg, "pointwise_constraint",
                            ct__constraint_to_json(&cv->pointwise_con));
    json_object_set_new(cfg, "bias_constraint", ct__constraint_to_json(&cv->bias_con));
    return CT_OK;
}

/* ---- shapes -------------------------------------------------------------------- */

/* The number of output channels for `in` input channels. */
static int64_t out_channels(const conv *cv, int64_t in) {
    if (cv->kind == DEPTHWISE) return in < 0 ? -1 : in * cv->depth_multiplier;
    return cv->filters;
}

/* Keras's compute_conv_output_shape (conv, depthwise, separable; causal
 * counts as same) and compute_conv_transpose_output_shape (Keras's
 * deconv_output_length with k' = (k - 1) * d + 1:
 *   valid: (in - 1) * s + k' + output_padding, where output_padding
 *          None means max(k', s) - k';
 *   same:  in * s when output_padding is None, else
 *          (in - 1) * s + k' % 2 + output_padding). */
static ct_status conv_output_shape(const ct_layer *l, int n, const ct_shape *in, ct_shape *out) {
    (void)n;
    const conv *cv = (const conv *)l;
    if (in->rank != cv->rank + 2)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "expects an input of rank %d (batch, %d spatial dimension%s, "
                               "channels), got shape %s",
                               cv->rank + 2, cv->rank, cv->rank == 1 ? "" : "s",
                               CT__SHAPE_STR(in));
    *out = *in;
    bool same = strcmp(cv->padding, "valid") != 0;
    for (int i = 0; i < cv->rank; i++) {
        int64_t d = in->dim[1 + i], k = (cv->kernel_size[i] - 1) * cv->dilation_rate[i] + 1;
        int64_t s = cv->strides[i], o;
        if (d < 0) {
            o = -1;
        } else if (cv->kind == TRANSPOSE) {
            if (!same)
                o = (d - 1) * s + k +
                    (cv->has_output_padding ? cv->output_padding[i] : (k > s ? k : s) - k);
            else if (!cv->has_output_padding)
                o = d * s;
            else
                o = (d - 1) * s + k % 2 + cv->output_padding[i];
        } else if (same) {
            o = (d - 1) / s + 1;
        } else {
            o = d >= k ? (d - k) / s + 1 : 0;
        }
        if (d >= 0 && o <= 0)
            return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                   "the output would be empty: input %s, kernel size %lld "
                                   "(dilated %lld) in spatial dimension %d, strides %lld, "
                                   "padding '%s'",
                                   CT__SHAPE_STR(in), (long long)cv->kernel_size[i],
                                   (long long)k, i, (long long)s, cv->padding);
        out->dim[1 + i] = o;
    }
    out->dim[cv->rank + 1] = out_channels(cv, in->dim[cv->rank + 1]);
    return CT_OK;
}

static ct_status conv_build(ct_layer *l, int n, const ct_shape *in) {
    conv *cv = (conv *)l;
    ct_shape out;
    ct_status st = conv_output_shape(l, n, in, &out);
    if (st) return st;
    int r = cv->rank;
    int64_t ch = in->dim[r + 1];
    if (ch <= 0)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "the channel dimension of the input must be known, got shape %s",
                               CT__SHAPE_STR(in));
    if (cv->kind == CONV && ch % cv->groups != 0)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "the number of input channels must be divisible by groups: "
                               "groups %lld, input shape %s",
                               (long long)cv->groups, CT__SHAPE_STR(in));
    int64_t shape[5];
    memcpy(shape, cv->kernel_size, (size_t)r * sizeof shape[0]);
    const char *kname = "kernel";
    switch (cv->kind) {
    case CONV:
        shape[r] = ch / cv->groups;
        shape[r + 1] = cv->filters;
        break;
    case TRANSPOSE:
        shape[r] = cv->filters;
        shape[r + 1] = ch;
        break;
    case DEPTHWISE:
    case SEPARABLE:
        kname = "depthwise_kernel";
        shape[r] = ch;
        shape[r + 1] = cv->depth_multiplier;
        break;
    }
    cv->kernel = ct__layer_add_weight(l, kname, r + 2, shape, &cv->kernel_init, &cv->kernel_reg,
                                      &cv->kernel_con, true);
    if (!cv->kernel) return ct_last_status();
    if (cv->kind == SEPARABLE) {
        int64_t pw[5] = {1, 1, 1, 1, 1};
        pw[r] = ch * cv->depth_multiplier;
        pw[r + 1] = cv->filters;
        cv->pointwise = ct__layer_add_weight(l, "pointwise_kernel", r + 2, pw, &cv->pointwise_init,
                                             &cv->pointwise_reg, &cv->pointwise_con, true);
        if (!cv->pointwise) return ct_last_status();
    }
    if (cv->use_bias) {
        int64_t nb = out_channels(cv, ch);
        cv->bias = ct__layer_add_weight(l, "bias", 1, &nb, &cv->bias_init, &cv->bias_reg,
                                        &cv->bias_con, true);
        if (!cv->bias) return ct_last_status();
    }
    return CT_OK;
}

/* ---- call ---------------------------------------------------------------------- */

static ct_conv_opts op_opts(const conv *cv, const char *padding) {
    ct_conv_opts o = {.padding = padding, .groups = (int)cv->groups};
    for (int i = 0; i < cv->rank; i++) {
        o.strides[i] = (int)cv->strides[i];
        o.dilations[i] = (int)cv->dilation_rate[i];
    }
    return o;
}

static ct_tensor *conv_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)n, (void)training;
    conv *cv = (conv *)l;
    int r = cv->rank;
    const ct_tensor *x = in[0];
    ct_shape s = ct__shape_of(x), built = l->input_shapes[0];
    if (s.rank != r + 2 || s.dim[r + 1] != built.dim[r + 1]) {
        ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                        "was built for inputs of shape %s, got shape %s (expected rank %d with "
                        "%lld channels)",
                        CT__SHAPE_STR(&built), CT__SHAPE_STR(&s), r + 2,
                        (long long)built.dim[r + 1]);
        return NULL;
    }
    ct_shape out;
    if (conv_output_shape(l, 1, &s, &out)) return NULL;

    ct_scope_begin();
    ct_tensor *y = NULL;
    if (ct_tensor_dtype(x) != l->dtype) x = ct_cast(x, l->dtype); /* Keras's autocast */
    ct_tensor *kernel = ct_variable_value(cv->kernel);
    switch (cv->kind) {
    case CONV: {
        const char *padding = cv->padding;
        if (!strcmp(padding, "causal")) {
            /* Keras: left-pad the steps by (k - 1) * dilation, then valid. */
            int64_t pads[6] = {0, 0, (cv->kernel_size[0] - 1) * cv->dilation_rate[0], 0, 0, 0};
            x = ct_pad(x, pads, CT_PAD_CONSTANT, 0);
            padding = "valid";
        }
        ct_conv_opts o = op_opts(cv, padding);
        y = ct_conv(x, kernel, &o);
        break;
    }
    case TRANSPOSE: {
        ct_conv_opts o = op_opts(cv, cv->padding);
        y = ct_conv_transpose(x, kernel, &out.dim[1], &o);
        break;
    }
    case DEPTHWISE:
    case SEPARABLE: {
        ct_conv_opts o = op_opts(cv, cv->padding);
        y = ct_depthwise_conv(x, kernel, &o);
        if (cv->kind == SEPARABLE) y = ct_conv(y, ct_variable_value(cv->pointwise), &(ct_conv_opts){0});
        break;
    }
    }
    y = ct__bias_and_activation(y, cv->use_bias ? ct_variable_value(cv->bias) : NULL,
                                cv->activation);
    ct_keep(y);
    ct_scope_end();
    return y;
}

/* ---- the classes ------------------------------------------------------------- */

#define CONV_VT(var, cls, init)                                                           \
    static const ct__layer_vt var = {cls,           sizeof(conv),      1,         1,         \
                                     init,          conv_get_config,   conv_build,           \
                                     conv_output_shape, conv_call,     NULL}
CONV_VT(conv1d_vt, "Conv1D", conv1d_init);
CONV_VT(conv2d_vt, "Conv2D", conv2d_init);
CONV_VT(conv3d_vt, "Conv3D", conv3d_init);
CONV_VT(conv1d_transpose_vt, "Conv1DTranspose", conv1d_transpose_init);
CONV_VT(conv2d_transpose_vt, "Conv2DTranspose", conv2d_transpose_init);
CONV_VT(conv3d_transpose_vt, "Conv3DTranspose", conv3d_transpose_init);
CONV_VT(depthwise1d_vt, "DepthwiseConv1D", depthwise1d_init);
CONV_VT(depthwise2d_vt, "DepthwiseConv2D", depthwise2d_init);
CONV_VT(separable1d_vt, "SeparableConv1D", separable1d_init);
CONV_VT(separable2d_vt, "SeparableConv2D", separable2d_init);

const ct__layer_vt *const ct__conv_layers[] = {
    &conv1d_vt,       &conv2d_vt,       &conv3d_vt,           &conv1d_transpose_vt,
    &conv2d_transpose_vt, &conv3d_transpose_vt, &depthwise1d_vt, &depthwise2d_vt,
    &separable1d_vt,  &separable2d_vt,  NULL,
};
