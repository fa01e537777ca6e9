/* The fused bias + activation op (ops/bias_act.h). */
#include "ops/bias_act.h"

#include <math.h>

#include "ops/cpu/vmath.h"
#include "ops/elementwise.h"

typedef struct {
    int act; /* ct__act_kind */
} bias_act_attrs;

static ct_status infer(ct__call *c) {
    const ct_tensor *x = c->in[0];
    ct_status st = ct__need_float(c, x);
    if (st) return st;
    if (x->rank < 1)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "x must be at least 1-D, got %s",
                              CT__DESC(x));
    if (c->n_in == 2) {
        const ct_tensor *b = c->in[1];
        if ((st = ct__need_same_dtype(c, x, b))) return st;
        if (b->rank != 1 || b->shape[0] != x->shape[x->rank - 1])
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "bias must be a vector of x's last dimension: x %s, bias %s",
                                  CT__DESC(x), CT__DESC(b));
    }
    ct__spec_set(&c->spec[0], x->dtype, x->rank, x->shape);
    return CT_OK;
}

/* Rows of C channels: y = act(x + b), the activation over each row while
 * it is in cache. */
#define ROWS(T, VEC_SIGMOID, VEC_TANH)                                                     \
    do {                                                                                   \
        const T *restrict X = ct__data(x);                                                 \
        const T *restrict B = b ? (const T *)ct__data(b) : NULL;                           \
        T *restrict Y = ct__data(y);                                                       \
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")           \
        for (int64_t r = 0; r < rows; r++) {                                               \
            const T *xr = X + r * ch;                                                      \
            T *yr = Y + r * ch;                                                            \
            if (B)                                                                         \
                for (int64_t i = 0; i < ch; i++) yr[i] = xr[i] + B[i];                     \
            else if (yr != xr)                                                             \
                for (int64_t i = 0; i < ch; i++) yr[i] = xr[i];                            \
            switch (act) {                                                                 \
            case CT__ACT_RELU:                                                             \
                for (int64_t i = 0; i < ch; i++) yr[i] = yr[i] > 0 ? yr[i] : (T)0;         \
                break;                                                                     \
            case CT__ACT_SIGMOID:                                                          \
                VEC_SIGMOID;                                                               \
                break;                                                                     \
            case CT__ACT_TANH:                                                             \
                VEC_TANH;                                                                  \
                break;                                                                     \
            default:                                                                       \
                break;                                                                     \
            }                                                                              \
        }                                                                                  \
    } while (0)

static double sigmoid64(double v) { return v >= 0 ? 1 / (1 + exp(-v)) : exp(v) / (1 + exp(v)); }

static ct_status cpu_kernel(ct__call *c) {
    const ct_tensor *x = c->in[0], *b = c->n_in == 2 ? c->in[1] : NULL;
    ct_tensor *y = c->out[0];
    int act = ((const bias_act_attrs *)c->attrs)->act;
    int64_t ch = x->shape[x->rank - 1], rows = ch ? x->size / ch : 0;
    if (rows == 0 || ch == 0) return CT_OK;
    int cost = act == CT__ACT_SIGMOID || act == CT__ACT_TANH ? 8 : 1;
    int nt = ct__threads_for(x->size, cost);
    if (x->dtype == CT_FLOAT32) {
        ROWS(float, ct__vm_sigmoid_f32(yr, yr, ch), ct__vm_tanh_f32(yr, yr, ch));
    } else {
        ROWS(double, for (int64_t i = 0; i < ch; i++) yr[i] = sigmoid64(yr[i]),
             for (int64_t i = 0; i < ch; i++) yr[i] = tanh(yr[i]));
    }
    return CT_OK;
}

static ct_status grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    int act = ((const bias_act_attrs *)c->attrs)->act;
    ct_tensor *y = c->out[0], *dz;
    ct_tensor *one = ct_scalar_of(y->dtype, 1);
    switch (act) {
    case CT__ACT_RELU: {
        /* y > 0 exactly where x + b > 0. */
        const ct_tensor *in[2] = {dy[0], y};
        dz = ct__run1(&ct__op_relu_grad, "ReluGrad", 2, in, NULL, 0);
        break;
    }
    case CT__ACT_SIGMOID:
        dz = ct_multiply(ct_multiply(dy[0], y), ct_subtract(one, y));
        break;
    case CT__ACT_TANH:
        dz = ct_multiply(dy[0], ct_subtract(one, ct_square(y)));
        break;
    default:
        dz = ct_identity(dy[0]);
        break;
    }
    dx[0] = dz;
    if (c->n_in == 2) {
        int axes[CT_MAX_RANK], n = 0;
        for (int i = 0; i < y->rank - 1; i++) axes[n++] = i;
        dx[1] = n ? ct_reduce_sum(dz, axes, n, false) : ct_identity(dz);
    }
    return ct__grad_status(dx, c->n_in);
}

static const ct__op op_bias_act = {
    .name = "BiasActivation",
    .infer = infer,
    .kernel = {[CT_DEVICE_CPU] = cpu_kernel},
    .grad = grad,
};

ct_tensor *ct__bias_activation(const ct_tensor *x, const ct_tensor *bias, ct__act_kind act) {
    bias_act_attrs a = {act};
    const ct_tensor *in[2] = {x, bias};
    return ct__run1(&op_bias_act, "ct__bias_activation", bias ? 2 : 1, in, &a, sizeof a);
}
