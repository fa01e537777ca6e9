/*
 * Keras normalization layers: BatchNormalization, LayerNormalization,
 * GroupNormalization and UnitNormalization.
 *
 * BatchNormalization follows Keras 3: the batch variance is the biased
 * (population) one, sum((x - mean)^2) / N, both for normalizing and for
 * the moving variance (keras/src/layers/normalization/
 * batch_normalization.py calls ops.moments; Keras 2's fused kernel
 * applied Bessel's correction N / (N - 1) to the moving variance). In
 * training (and only when the layer is trainable, as Keras: a frozen
 * BatchNormalization runs in inference mode) it normalizes with the
 * batch moments and updates
 *     moving = moving * momentum + batch * (1 - momentum)
 * with ct_variable_assign (never recorded on a tape); in inference it
 * normalizes with the moving statistics. With one axis, the last (Keras's
 * default on NHWC, NC, NWC, NDHWC inputs), both run the fused op of
 * ops/batch_norm.h (TF's FusedBatchNormV3); other axes compose ct_moments
 * and ct_batch_normalization.
 *
 * float16 / bfloat16 layers compute in float32 and round the output back
 * (Keras opts batch and layer normalization out of mixed precision).
 */
#include <stdio.h>
#include <string.h>

#include "distribute/strategy_internal.h"
#include "nn/internal.h"
#include "ops/batch_norm.h"

typedef enum { BATCH, LAYER, GROUP, UNIT } norm_kind;

typedef struct {
    ct_layer base;
    norm_kind kind;
    int naxes;                 /* axes as given                              */
    int64_t axes[CT_MAX_RANK];
    bool axis_list;            /* axis given as a list (written back so)     */
    int64_t groups;            /* GroupNormalization                         */
    double momentum, epsilon;
    bool center, scale, rms_scaling, synchronized;
    ct_initializer beta_init, gamma_init, mean_init, var_init;
    ct_regularizer beta_reg, gamma_reg;
    ct_constraint beta_con, gamma_con;
    ct_variable *gamma, *beta, *moving_mean, *moving_variance;
    /* From build: the axes normalized to [0, rank), the shape the weights
     * broadcast to ([1 or dim per axis]) and the weights' own shape. */
    int rank;
    int paxes[CT_MAX_RANK];
    int64_t bshape[CT_MAX_RANK + 1];
    int prank;
    int64_t pshape[CT_MAX_RANK];
} norm;

/* ---- config ------------------------------------------------------------------ */

static ct_status read_axis(norm *nm, ct__cfg *c, int64_t dflt) {
    bool present;
    ct_status st = ct__cfg_int_list(c, "axis", CT_MAX_RANK, nm->axes, &nm->naxes, &present);
    if (st) return st;
    if (!present) {
        nm->axes[0] = dflt;
        nm->naxes = 1;
        return CT_OK;
    }
    const json_t *v = c->obj ? json_object_get(c->obj, "axis") : NULL;
    nm->axis_list = json_is_array(v);
    if ((st = ct__cfg_check(c, nm->naxes > 0, "axis", "must name at least one axis")))
        return st;
    for (int i = 0; i < nm->naxes; i++)
        for (int j = 0; j < i; j++)
            if ((st = ct__cfg_check(c, nm->axes[i] != nm->axes[j], "axis",
                                    "names axis %lld twice", (long long)nm->axes[i])))
                return st;
    return CT_OK;
}

static ct_status read_affine(norm *nm, ct__cfg *c) {
    return ct__cfg_double(c, "epsilon", 1e-3, &nm->epsilon) ||
           ct__cfg_check(c, nm->epsilon >= 0, "epsilon", "must be non-negative, got %g",
                         nm->epsilon) ||
           ct__cfg_bool(c, "center", true, &nm->center) ||
           ct__cfg_bool(c, "scale", true, &nm->scale) ||
           ct__cfg_initializer(c, "beta_initializer", "zeros", &nm->beta_init) ||
           ct__cfg_initializer(c, "gamma_initializer", "ones", &nm->gamma_init) ||
           ct__cfg_regularizer(c, "beta_regularizer", &nm->beta_reg) ||
           ct__cfg_regularizer(c, "gamma_regularizer", &nm->gamma_reg) ||
           ct__cfg_constraint(c, "beta_constraint", &nm->beta_con) ||
           ct__cfg_constraint(c, "gamma_constraint", &nm->gamma_con);
}

static ct_status batch_init(ct_layer *l, ct__cfg *c) {
    norm *nm = (norm *)l;
    nm->kind = BATCH;
    /* Keras 3 takes one int axis; Keras 2 also took a list. Both read. */
    ct_status st = read_axis(nm, c, -1) ||
                   ct__cfg_double(c, "momentum", 0.99, &nm->momentum) || read_affine(nm, c) ||
                   ct__cfg_initializer(c, "moving_mean_initializer", "zeros", &nm->mean_init) ||
                   ct__cfg_initializer(c, "moving_variance_initializer", "ones",
                                       &nm->var_init) ||
                   ct__cfg_bool(c, "synchronized", false, &nm->synchronized);
    if (st) return st;
    /* Keras 2 configs carry these; only their defaults are supported. */
    bool renorm, fused;
    int64_t vbs;
    st = ct__cfg_bool(c, "renorm", false, &renorm) ||
         ct__cfg_check(c, !renorm, "renorm", "batch renormalization is not supported") ||
         ct__cfg_bool(c, "fused", false, &fused) ||
         ct__cfg_int(c, "virtual_batch_size", 0, &vbs) ||
         ct__cfg_check(c, vbs == 0, "virtual_batch_size", "is not supported (got %lld)",
                       (long long)vbs);
    if (st) return st;
    if (ct__cfg_has(c, "renorm_clipping") || ct__cfg_has(c, "adjustment"))
        return ct__cfg_check(c, false, ct__cfg_has(c, "adjustment") ? "adjustment"
                                                                    : "renorm_clipping",
                             "is not supported");
    double rm;
    return ct__cfg_double(c, "renorm_momentum", 0.99, &rm) ||
           ct__cfg_int_list(c, "renorm_clipping", 1, &vbs, &(int){0}, NULL) ||
           ct__cfg_int_list(c, "adjustment", 1, &vbs, &(int){0}, NULL);
}

static ct_status layer_init(ct_layer *l, ct__cfg *c) {
    norm *nm = (norm *)l;
    nm->kind = LAYER;
    return read_axis(nm, c, -1) || read_affine(nm, c) ||
           ct__cfg_bool(c, "rms_scaling", false, &nm->rms_scaling);
}

static ct_status group_init(ct_layer *l, ct__cfg *c) {
    norm *nm = (norm *)l;
    nm->kind = GROUP;
    ct_status st = ct__cfg_int(c, "groups", 32, &nm->groups) ||
                   ct__cfg_check(c, nm->groups > 0 || nm->groups == -1, "groups",
                                 "must be positive or -1 (one group per channel), got %lld",
                                 (long long)nm->groups) ||
                   ct__cfg_int(c, "axis", -1, &nm->axes[0]) || read_affine(nm, c);
    nm->naxes = 1;
    return st;
}

static ct_status unit_init(ct_layer *l, ct__cfg *c) {
    norm *nm = (norm *)l;
    nm->kind = UNIT;
    return read_axis(nm, c, -1);
}

static json_t *axis_json(const norm *nm) {
    if (!nm->axis_list && nm->naxes == 1) return json_integer((json_int_t)nm->axes[0]);
    json_t *a = json_array();
    for (int i = 0; a && i < nm->naxes; i++) json_array_append_new(a, json_integer(nm->axes[i]));
    return a;
}

static void affine_config(const norm *nm, json_t *cfg) {
    json_object_set_new(cfg, "epsilon", json_real(nm->epsilon));
    json_object_set_new(cfg, "center", json_boolean(nm->center));
    json_object_set_new(cfg, "scale", json_boolean(nm->scale));
    if (nm->kind == LAYER) json_object_set_new(cfg, "rms_scaling", json_boolean(nm->rms_scaling));
    json_object_set_new(cfg, "beta_initializer", ct__initializer_to_json(&nm->beta_init));
    json_object_set_new(cfg, "gamma_initializer", ct__initializer_to_json(&nm->gamma_init));
    if (nm->kind == BATCH) {
        json_object_set_new(cfg, "moving_mean_initializer",
                            ct__initializer_to_json(&nm->mean_init));
        json_object_set_new(cfg, "moving_variance_initializer",
                            ct__initializer_to_json(&nm->var_init));
    }
    json_object_set_new(cfg, "beta_regularizer", ct__regularizer_to_json(&nm->beta_reg));
    json_object_set_new(cfg, "gamma_regularizer", ct__regularizer_to_json(&nm->gamma_reg));
    json_object_set_new(cfg, "beta_constraint", ct__constraint_to_json(&nm->beta_con));
    json_object_set_new(cfg, "gamma_constraint", ct__constraint_to_json(&nm->gamma_con));
}

static ct_status norm_get_config(const ct_layer *l, json_t *cfg) {
    const norm *nm = (const norm *)l;
    if (nm->kind == GROUP) json_object_set_new(cfg, "groups", json_integer(nm->groups));
    json_object_set_new(cfg, "axis", axis_json(nm));
    if (nm->kind == BATCH) json_object_set_new(cfg, "momentum", json_real(nm->momentum));
    if (nm->kind != UNIT) affine_config(nm, cfg);
    if (nm->kind == BATCH) json_object_set_new(cfg, "synchronized", json_boolean(nm->synchronized));
    return CT_OK;
}

/* ---- build ----------------------------------------------------------------------- */

/* Normalizes the axes against the input's rank and fills paxes/bshape. */
static ct_status resolve_axes(norm *nm, const ct_shape *in) {
    const ct_layer *l = &nm->base;
    nm->rank = in->rank;
    for (int i = 0; i < in->rank; i++) nm->bshape[i] = 1;
    for (int i = 0; i < nm->naxes; i++) {
        int64_t a = nm->axes[i];
        if (a < -in->rank || a >= in->rank)
            return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                   "axis %lld is out of bounds for an input of shape %s", (long long)a,
                                   CT__SHAPE_STR(in));
        int p = (int)(a < 0 ? a + in->rank : a);
        for (int j = 0; j < i; j++)
            if (nm->paxes[j] == p)
                return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                       "axis %lld names the same dimension as axis %lld (input "
                                       "shape %s)",
                                       (long long)a, (long long)nm->axes[j], CT__SHAPE_STR(in));
        if (nm->kind != UNIT && in->dim[p] < 0)
            return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                   "axis %lld of the input must have a known size, got shape %s",
                                   (long long)a, CT__SHAPE_STR(in));
        nm->paxes[i] = p;
        nm->bshape[p] = in->dim[p];
    }
    return CT_OK;
}

static ct_status add_affine(norm *nm, const int64_t *shape, int rank, bool gamma, bool beta) {
    ct_layer *l = &nm->base;
    if (gamma && !(nm->gamma = ct__layer_add_weight(l, "gamma", rank, shape, &nm->gamma_init,
                                                    &nm->gamma_reg, &nm->gamma_con, true)))
        return ct_last_status();
    if (beta && !(nm->beta = ct__layer_add_weight(l, "beta", rank, shape, &nm->beta_init,
                                                  &nm->beta_reg, &nm->beta_con, true)))
        return ct_last_status();
    return CT_OK;
}

static ct_status norm_build(ct_layer *l, int n, const ct_shape *in) {
    (void)n;
    norm *nm = (norm *)l;
    ct_status st = resolve_axes(nm, in);
    if (st) return st;
    switch (nm->kind) {
    case BATCH:
        /* Keras 2: one axis gives [dim]; several give the broadcast shape. */
        if (nm->naxes == 1) {
            nm->prank = 1;
            nm->pshape[0] = in->dim[nm->paxes[0]];
        } else {
            nm->prank = in->rank;
            memcpy(nm->pshape, nm->bshape, (size_t)in->rank * sizeof nm->pshape[0]);
        }
        if ((st = add_affine(nm, nm->pshape, nm->prank, nm->scale, nm->center))) return st;
        nm->moving_mean = ct__layer_add_weight(l, "moving_mean", nm->prank, nm->pshape,
                                               &nm->mean_init, NULL, NULL, false);
        if (!nm->moving_mean) return ct_last_status();
        nm->moving_variance = ct__layer_add_weight(l, "moving_variance", nm->prank, nm->pshape,
                                                   &nm->var_init, NULL, NULL, false);
        if (!nm->moving_variance) return ct_last_status();
        return CT_OK;
    case LAYER:
        /* Keras: the weights have the sizes of the axes in the order given. */
        nm->prank = nm->naxes;
        for (int i = 0; i < nm->naxes; i++) nm->pshape[i] = in->dim[nm->paxes[i]];
        return add_affine(nm, nm->pshape, nm->prank, nm->scale || nm->rms_scaling,
                          nm->center && !nm->rms_scaling);
    case GROUP: {
        int p = nm->paxes[0];
        int64_t dim = in->dim[p];
        if (in->rank + 1 > CT_MAX_RANK)
            return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                   "an input of shape %s has too many dimensions to split into "
                                   "groups (rank at most %d)",
                                   CT__SHAPE_STR(in), CT_MAX_RANK - 1);
        if (nm->groups == -1) nm->groups = dim; /* as Keras, which writes it back */
        if (dim < nm->groups)
            return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                   "the number of groups (%lld) cannot be more than the number of "
                                   "channels (%lld; input shape %s)",
                                   (long long)nm->groups, (long long)dim, CT__SHAPE_STR(in));
        if (dim % nm->groups != 0)
            return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                   "the number of channels (%lld) must be a multiple of the "
                                   "number of groups (%lld; input shape %s)",
                                   (long long)dim, (long long)nm->groups, CT__SHAPE_STR(in));
        /* [1..., groups, dim / groups, 1...] with the groups at axis p. */
        for (int i = 0; i <= in->rank; i++) nm->bshape[i] = 1;
        nm->bshape[p] = nm->groups;
        nm->bshape[p + 1] = dim / nm->groups;
        nm->prank = 1;
        nm->pshape[0] = dim;
        return add_affine(nm, nm->pshape, 1, nm->scale, nm->center);
    }
    case UNIT:
        return CT_OK;
    }
    return CT_OK;
}

/* ---- call -------------------------------------------------------------------------- */

static ct_status check_call_shape(const norm *nm, const ct_tensor *x) {
    const ct_layer *l = &nm->base;
    ct_shape s = ct__shape_of(x);
    const ct_shape *b = &l->input_shapes[0];
    bool ok = s.rank == b->rank;
    for (int i = 0; ok && i < nm->naxes && nm->kind != UNIT; i++)
        ok = s.dim[nm->paxes[i]] == b->dim[nm->paxes[i]];
    if (!ok)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "was built for inputs of shape %s, got shape %s",
                               CT__SHAPE_STR(b), CT__SHAPE_STR(&s));
    return CT_OK;
}

/* A weight read in the compute dtype and reshaped to broadcast. */
static ct_tensor *weight_as(ct_variable *v, ct_dtype dt, int rank, const int64_t *shape) {
    if (!v) return NULL;
    ct_tensor *w = ct_variable_value(v);
    if (ct_tensor_dtype(w) != dt) w = ct_cast(w, dt);
    return ct_reshape(w, rank, shape);
}

static ct_dtype compute_dtype(ct_dtype dt) {
    return dt == CT_FLOAT16 || dt == CT_BFLOAT16 ? CT_FLOAT32 : dt;
}

/* moving = moving * momentum + batch * (1 - momentum), from values only. */
static ct_status update_moving(ct_variable *v, const ct_tensor *batch, double momentum) {
    ct_tensor *old = ct_variable_read(v);
    ct_dtype dt = ct_tensor_dtype(old);
    ct_tensor *b = ct_cast(ct_stop_gradient(batch), dt);
    b = ct_reshape(b, ct_tensor_rank(old), ct_tensor_shape(old));
    ct_tensor *upd = ct_add(ct_multiply(old, ct_scalar_of(dt, momentum)),
                            ct_multiply(b, ct_scalar_of(dt, 1.0 - momentum)));
    return upd ? ct_variable_assign(v, upd) : ct_last_status();
}

/* Channels last (one axis, the last): the fused op (ops/batch_norm.h), one
 * pass for the statistics and one to normalize, and a fused gradient.
 * Absent gamma / beta (scale / center false) are ones / zeros. */
static ct_tensor *batch_call_fused(norm *nm, const ct_tensor *x, bool training) {
    ct_layer *l = &nm->base;
    ct_dtype cd = ct_tensor_dtype(x);
    int64_t ch = nm->pshape[0];
    ct_tensor *gamma = nm->scale ? weight_as(nm->gamma, cd, 1, &ch) : ct_ones(cd, 1, &ch);
    ct_tensor *beta = nm->center ? weight_as(nm->beta, cd, 1, &ch) : ct_zeros(cd, 1, &ch);
    if (!gamma || !beta) return NULL;
    if (training && l->trainable) {
        ct_tensor *y, *mean, *var;
        if (ct__fused_batch_norm(x, gamma, beta, nm->epsilon, &y, &mean, &var) ||
            update_moving(nm->moving_mean, mean, nm->momentum) ||
            update_moving(nm->moving_variance, var, nm->momentum))
            return NULL;
        return y;
    }
    ct_tensor *mean = weight_as(nm->moving_mean, cd, 1, &ch);
    ct_tensor *var = weight_as(nm->moving_variance, cd, 1, &ch);
    return ct__fused_batch_norm_inference(x, gamma, beta, mean, var, nm->epsilon);
}

/* Keras 3's synchronized moments (_compute_moments_sync): the sums, the
 * sums of squares and the counts over the replicas of the step, then
 * mean = sum / count and variance = max(mean of squares - mean^2, 0).
 * The sums are recorded on the tape, so the gradient goes through them
 * to every replica's examples. */
static ct_status sync_moments(ct_collective *c, const ct_tensor *x, const int *red, int nred,
                              ct_tensor **mean, ct_tensor **var) {
    ct_tensor *s1 = ct__replica_sum(c, ct_reduce_sum(x, red, nred, true));
    ct_tensor *s2 = ct__replica_sum(c, ct_reduce_sum(ct_square(x), red, nred, true));
    ct_tensor *n = ct__replica_sum(c, ct_reduce_sum(ct_ones_like(ct_stop_gradient(x)), red,
                                                    nred, true));
    ct_tensor *none = n ? ct_equal(n, ct_zeros_like(n)) : NULL;
    ct_tensor *safe = none ? ct_where(none, ct_ones_like(n), n) : NULL; /* divide_no_nan */
    *mean = s1 && safe ? ct_divide(s1, safe) : NULL;
    ct_tensor *sq = s2 && safe ? ct_divide(s2, safe) : NULL;
    *var = *mean && sq ? ct_maximum(ct_subtract(sq, ct_square(*mean)), ct_zeros_like(sq)) : NULL;
    return *var ? CT_OK : ct_last_status();
}

static ct_tensor *batch_call(norm *nm, const ct_tensor *x, bool training) {
    ct_layer *l = &nm->base;
    ct_dtype cd = ct_tensor_dtype(x);
    int r = nm->rank;
    /* synchronized: only in a replica step of several replicas, as Keras
     * (elsewhere it is the ordinary layer). */
    ct_strategy *sync = nm->synchronized && training && l->trainable
                            ? ct__strategy_replica_context()
                            : NULL;
    if (ct_strategy_num_replicas_in_sync(sync) < 2) sync = NULL;
    if (!sync && nm->naxes == 1 && nm->paxes[0] == r - 1)
        return batch_call_fused(nm, x, training);
    ct_tensor *mean, *var;
    if (training && l->trainable) {
        int red[CT_MAX_RANK], nred = 0;
        for (int i = 0; i < r; i++) {
            bool keep = false;
            for (int j = 0; j < nm->naxes; j++) keep |= nm->paxes[j] == i;
            if (!keep) red[nred++] = i;
        }
        if (sync ? sync_moments(ct_strategy_collective(sync), x, red, nred, &mean, &var)
                 : ct_moments(x, red, nred, true, &mean, &var))
            return NULL;
        if (update_moving(nm->moving_mean, mean, nm->momentum) ||
            update_moving(nm->moving_variance, var, nm->momentum))
            return NULL;
    } else {
        mean = weight_as(nm->moving_mean, cd, r, nm->bshape);
        var = weight_as(nm->moving_variance, cd, r, nm->bshape);
    }
    ct_tensor *gamma = nm->scale ? weight_as(nm->gamma, cd, r, nm->bshape) : NULL;
    ct_tensor *beta = nm->center ? weight_as(nm->beta, cd, r, nm->bshape) : NULL;
    if ((nm->scale && !gamma) || (nm->center && !beta)) return NULL;
    return ct_batch_normalization(x, mean, var, beta, gamma, nm->epsilon);
}

static ct_tensor *layer_call(norm *nm, const ct_tensor *x) {
    ct_dtype cd = ct_tensor_dtype(x);
    int r = nm->rank, axes[CT_MAX_RANK];
    for (int i = 0; i < nm->naxes; i++) axes[i] = nm->paxes[i];
    /* Keras reshapes (not transposes) the weights to the broadcast shape. */
    ct_tensor *gamma = nm->gamma ? weight_as(nm->gamma, cd, r, nm->bshape) : NULL;
    ct_tensor *beta = nm->beta ? weight_as(nm->beta, cd, r, nm->bshape) : NULL;
    ct_tensor *mean, *var;
    if (nm->rms_scaling) {
        /* Keras 3's rms_scaling: x * rsqrt(var(x) + epsilon) * gamma (the
         * variance, not the mean square, as Keras computes it). */
        var = ct_reduce_variance(x, axes, nm->naxes, true);
        ct_tensor *inv = ct_rsqrt(ct_add(var, ct_scalar_of(cd, nm->epsilon)));
        return ct_multiply(ct_multiply(x, inv), gamma);
    }
    if (ct_moments(x, axes, nm->naxes, true, &mean, &var)) return NULL;
    /* Keras: inv = rsqrt(var + eps) * gamma; x * inv + (beta - mean * inv). */
    ct_tensor *inv = ct_rsqrt(ct_add(var, ct_scalar_of(cd, nm->epsilon)));
    if (gamma) inv = ct_multiply(inv, gamma);
    ct_tensor *res = ct_negative(ct_multiply(mean, inv));
    if (beta) res = ct_add(res, beta);
    return ct_add(ct_multiply(x, inv), res);
}

static ct_tensor *group_call(norm *nm, const ct_tensor *x) {
    ct_dtype cd = ct_tensor_dtype(x);
    int r = nm->rank, p = nm->paxes[0];
    /* [batch, ..., groups, dim / groups, ...]: the moments over every axis
     * but the batch and the groups. */
    int64_t gshape[CT_MAX_RANK + 1];
    const int64_t *xs = ct_tensor_shape(x);
    for (int i = 0, o = 0; i < r; i++) {
        if (i == p) {
            gshape[o++] = nm->groups;
            gshape[o++] = xs[i] / nm->groups;
        } else {
            gshape[o++] = xs[i];
        }
    }
    ct_tensor *g = ct_reshape(x, r + 1, gshape);
    int red[CT_MAX_RANK], nred = 0;
    for (int i = 1; i <= r; i++)
        if (i != p) red[nred++] = i;
    ct_tensor *mean, *var;
    if (ct_moments(g, red, nred, true, &mean, &var)) return NULL;
    ct_tensor *inv = ct_rsqrt(ct_add(var, ct_scalar_of(cd, nm->epsilon)));
    if (nm->gamma) inv = ct_multiply(inv, weight_as(nm->gamma, cd, r + 1, nm->bshape));
    ct_tensor *res = ct_negative(ct_multiply(mean, inv));
    if (nm->beta) res = ct_add(res, weight_as(nm->beta, cd, r + 1, nm->bshape));
    return ct_reshape(ct_add(ct_multiply(g, inv), res), r, xs);
}

static ct_tensor *unit_call(norm *nm, const ct_tensor *x) {
    ct_dtype cd = ct_tensor_dtype(x);
    int axes[CT_MAX_RANK];
    for (int i = 0; i < nm->naxes; i++) axes[i] = nm->paxes[i];
    ct_tensor *ss = ct_reduce_sum(ct_square(x), axes, nm->naxes, true);
    return ct_multiply(x, ct_rsqrt(ct_maximum(ss, ct_scalar_of(cd, 1e-12))));
}

static ct_tensor *norm_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)n;
    norm *nm = (norm *)l;
    if (check_call_shape(nm, in[0])) return NULL;
    ct_scope_begin();
    const ct_tensor *x = in[0];
    /* Keras autocasts inputs to the layer's dtype; 16-bit layers compute
     * in float32 and give their dtype back. */
    ct_dtype cd = compute_dtype(l->dtype);
    if (ct_tensor_dtype(x) != cd) x = ct_cast(x, cd);
    ct_tensor *y = NULL;
    if (x) {
        switch (nm->kind) {
        case BATCH: y = batch_call(nm, x, training); break;
        case LAYER: y = layer_call(nm, x); break;
        case GROUP: y = group_call(nm, x); break;
        case UNIT: y = unit_call(nm, x); break;
        }
    }
    if (y && ct_tensor_dtype(y) != l->dtype) y = ct_cast(y, l->dtype);
    ct_keep(y);
    ct_scope_end();
    return y;
}

static ct_status norm_output_shape(const ct_layer *l, int n, const ct_shape *in, ct_shape *out) {
    (void)n;
    const norm *nm = (const norm *)l;
    for (int i = 0; i < nm->naxes; i++)
        if (nm->axes[i] < -in->rank || nm->axes[i] >= in->rank)
            return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                   "axis %lld is out of bounds for an input of shape %s",
                                   (long long)nm->axes[i], CT__SHAPE_STR(in));
    *out = *in;
    return CT_OK;
}

#define NORM_VT(var, cls, init)                                                           \
    static const ct__layer_vt var = {cls,  sizeof(norm),     1,         1,                   \
                                     init, norm_get_config,  norm_build, norm_output_shape,  \
                                     norm_call, NULL}
NORM_VT(batch_vt, "BatchNormalization", batch_init);
NORM_VT(layer_vt, "LayerNormalization", layer_init);
NORM_VT(group_vt, "GroupNormalization", group_init);
NORM_VT(unit_vt, "UnitNormalization", unit_init);

const ct__layer_vt *const ct__norm_layers[] = {&batch_vt, &layer_vt, &group_vt, &unit_vt, NULL};
