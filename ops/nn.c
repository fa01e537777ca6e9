/* tf.nn.bias_add, tf.nn.moments and tf.nn.batch_normalization: composites
 * of public ops written as TF writes them in Python (nn_impl.py), so their
 * gradients come from the ops they use. */
#include <stdio.h>

#include "ops/op.h"

static bool is_half(ct_dtype dt) { return dt == CT_FLOAT16 || dt == CT_BFLOAT16; }

/* Prefixes the error of an op inside a composite with the composite's name. */
static ct_tensor *named_error(const char *api) {
    char msg[800];
    snprintf(msg, sizeof msg, "%s", ct_last_error());
    ct__error(ct_last_status() ? ct_last_status() : CT_ERR_INTERNAL, "%s: %s", api, msg);
    return NULL;
}

ct_tensor *ct_bias_add(const ct_tensor *x, const ct_tensor *bias) {
    const char *api = "ct_bias_add";
    if (!x || !bias) {
        if (!ct_last_status())
            ct__error(CT_ERR_INVALID_ARGUMENT, "%s: input %d is NULL", api, x ? 1 : 0);
        return NULL;
    }
    if (bias->rank != 1) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: bias must be 1-D, got %s", api,
                  CT__DESC(bias));
        return NULL;
    }
    if (x->rank < 2) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: x must be at least 2-D, got %s", api,
                  CT__DESC(x));
        return NULL;
    }
    if (x->shape[x->rank - 1] != bias->shape[0]) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s: bias must have as many elements as x's last dimension: x %s, bias %s",
                  api, CT__DESC(x), CT__DESC(bias));
        return NULL;
    }
    if (x->dtype != bias->dtype) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: x and bias have different dtypes: %s and %s",
                  api, CT__DESC(x), CT__DESC(bias));
        return NULL;
    }
    return ct_add(x, bias);
}

/* TF's moments: the variance is the mean of squared_difference(x,
 * stop_gradient(mean)); 16-bit floats are computed in float32. */
ct_status ct_moments(const ct_tensor *x, const int *axes, int naxes, bool keepdims,
                     ct_tensor **mean, ct_tensor **variance) {
    *mean = *variance = NULL;
    if (!x) {
        if (!ct_last_status())
            ct__error(CT_ERR_INVALID_ARGUMENT, "ct_moments: input 0 is NULL");
        return ct_last_status();
    }
    ct_scope_begin();
    ct_tensor *y = is_half(x->dtype) ? ct_cast(x, CT_FLOAT32) : (ct_tensor *)x;
    ct_tensor *m = ct_reduce_mean(y, axes, naxes, true);
    ct_tensor *v = ct_reduce_mean(ct_squared_difference(y, ct_stop_gradient(m)), axes, naxes,
                                  true);
    if (!keepdims && m && v) {
        /* The shape reduce_mean gives without keepdims. */
        ct_tensor *r = ct_reduce_mean(y, axes, naxes, false);
        if (r) {
            m = ct_reshape(m, ct_tensor_rank(r), ct_tensor_shape(r));
            v = ct_reshape(v, ct_tensor_rank(r), ct_tensor_shape(r));
        } else {
            m = v = NULL;
        }
    }
    if (m && v && is_half(x->dtype)) {
        m = ct_cast(m, x->dtype);
        v = ct_cast(v, x->dtype);
    }
    if (m && v) {
        ct_keep(m);
        ct_keep(v);
    }
    ct_scope_end();
    if (!m || !v) {
        named_error("ct_moments");
        return ct_last_status();
    }
    *mean = m;
    *variance = v;
    return CT_OK;
}

/* TF's batch_normalization: inv = rsqrt(variance + epsilon) * scale;
 * x * inv + (offset - mean * inv). */
ct_tensor *ct_batch_normalization(const ct_tensor *x, const ct_tensor *mean,
                                  const ct_tensor *variance, const ct_tensor *offset,
                                  const ct_tensor *scale, double epsilon) {
    const char *api = "ct_batch_normalization";
    if (!x || !mean || !variance) {
        if (!ct_last_status())
            ct__error(CT_ERR_INVALID_ARGUMENT, "%s: input %d is NULL", api,
                      !x ? 0 : !mean ? 1 : 2);
        return NULL;
    }
    ct_scope_begin();
    ct_tensor *inv = ct_rsqrt(ct_add(variance, ct_scalar_of(variance->dtype, epsilon)));
    if (scale) inv = ct_multiply(inv, scale);
    ct_tensor *shift = ct_multiply(mean, inv);
    shift = offset ? ct_subtract(offset, shift) : ct_negative(shift);
    if (inv && inv->dtype != x->dtype) inv = ct_cast(inv, x->dtype);
    if (shift && shift->dtype != x->dtype) shift = ct_cast(shift, x->dtype);
    ct_tensor *y = ct_add(ct_multiply(x, inv), shift);
    if (y) ct_keep(y);
    ct_scope_end();
    return y ? y : named_error(api);
}
