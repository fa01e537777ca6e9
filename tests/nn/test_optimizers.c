/*
 * Optimizers. Each update rule is checked over three steps with fixed
 * gradients against a reference written here in double from Keras 3's
 * update formulas (keras/src/optimizers/<name>.py), on float32 variables
 * (float32 tolerance) and float64 variables (where Keras casts its float32
 * learning rate to float64, so the reference uses the float32-rounded
 * rate). Non-default epsilons make the epsilon placement visible.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/optimizer_kernels.h" /* ct__optimizer_set_fused */
#include "support.h"

TestSuite(optimizers, .init = ct_test_begin, .fini = ct_test_end);

#define CT_FAILS_ST(expr, needle)                                                         \
    do {                                                                                  \
        ct_clear_error();                                                                 \
        ct_status st_ = (expr);                                                           \
        cr_assert_neq(st_, CT_OK, "expected an error containing \"%s\"", (needle));       \
        cr_assert(strstr(ct_last_error(), (needle)) != NULL,                              \
                  "error \"%s\" does not mention \"%s\"", ct_last_error(), (needle));      \
    } while (0)

#define N 3
static const double W0[N] = {1.0, -2.0, 0.5};
static const double G[3][N] = {{0.1, -0.2, 0.3}, {-0.4, 0.5, 0.05}, {0.2, 0.2, -0.1}};

static ct_variable *mkvar(const char *name, ct_dtype dt, int n, const double *vals) {
    ct_scope_begin();
    ct_tensor *t = ct_cast(ct_constant(vals, CT_FLOAT64, 1, (const int64_t[]){n}), dt);
    ct_variable *v = ct_variable_new(t, &(ct_variable_opts){.name = name});
    ct_scope_end();
    CT_OK(v);
    return v;
}

static void apply1(ct_optimizer *o, ct_variable *v, int n, const double *g) {
    ct_scope_begin();
    ct_tensor *gt = ct_cast(ct_constant(g, CT_FLOAT64, 1, (const int64_t[]){n}),
                            ct_tensor_dtype(ct_variable_value(v)));
    CT_STATUS_OK(ct_optimizer_apply_gradients(o, 1, &gt, &v));
    ct_scope_end();
}

static void expect_var(ct_variable *v, int n, const double *want, double tol, const char *what) {
    double got[16];
    CT_STATUS_OK(ct_tensor_read(ct_variable_value(v), CT_FLOAT64, got, n));
    for (int i = 0; i < n; i++)
        cr_assert(fabs(got[i] - want[i]) <= tol * fmax(1.0, fabs(want[i])),
                  "%s: element %d is %.12g, expected %.12g", what, i, got[i], want[i]);
}

/* ---- references (Keras 3 formulas, in double) ------------------------------- */

typedef struct {
    double w[N], s0[N], s1[N], s2[N];
    double u_product; /* Nadam */
} ref_state;

typedef void (*ref_fn)(ref_state *r, const double *g, int t, const ct_optimizer_opts *p);

static void ref_sgd(ref_state *r, const double *g, int t, const ct_optimizer_opts *p) {
    (void)t;
    double lr = p->learning_rate, mu = p->momentum;
    for (int i = 0; i < N; i++) {
        if (mu != 0) {
            r->s0[i] = r->s0[i] * mu - g[i] * lr;
            r->w[i] += p->nesterov ? r->s0[i] * mu - g[i] * lr : r->s0[i];
        } else {
            r->w[i] -= g[i] * lr;
        }
    }
}

/* Adagrad: epsilon inside the square root (Keras 3). */
static void ref_adagrad(ref_state *r, const double *g, int t, const ct_optimizer_opts *p) {
    if (t == 1)
        for (int i = 0; i < N; i++) r->s0[i] = p->initial_accumulator_value;
    for (int i = 0; i < N; i++) {
        r->s0[i] += g[i] * g[i];
        r->w[i] -= p->learning_rate * g[i] / sqrt(r->s0[i] + p->epsilon);
    }
}

/* RMSprop: epsilon inside the square root (Keras 3). */
static void ref_rmsprop(ref_state *r, const double *g, int t, const ct_optimizer_opts *p) {
    (void)t;
    double rho = p->rho;
    for (int i = 0; i < N; i++) {
        r->s0[i] = rho * r->s0[i] + (1 - rho) * g[i] * g[i];
        double den;
        if (p->centered) {
            r->s2[i] = rho * r->s2[i] + (1 - rho) * g[i];
            den = r->s0[i] - r->s2[i] * r->s2[i] + p->epsilon;
        } else {
            den = r->s0[i] + p->epsilon;
        }
        double inc = p->learning_rate * g[i] / sqrt(den);
        if (p->momentum > 0) {
            r->s1[i] = p->momentum * r->s1[i] + inc;
            r->w[i] -= r->s1[i];
        } else {
            r->w[i] -= inc;
        }
    }
}

static void ref_adadelta(ref_state *r, const double *g, int t, const ct_optimizer_opts *p) {
    (void)t;
    double rho = p->rho, eps = p->epsilon;
    for (int i = 0; i < N; i++) {
        r->s0[i] = rho * r->s0[i] + (1 - rho) * g[i] * g[i];
        double d = -sqrt(r->s1[i] + eps) * g[i] / sqrt(r->s0[i] + eps);
        r->s1[i] = rho * r->s1[i] + (1 - rho) * d * d;
        r->w[i] += p->learning_rate * d;
    }
}

/* Adam (AdamW: check_rule applies the weight decay first): alpha = lr sqrt(1 - b2^t) / (1 - b1^t),
 * m alpha / (sqrt(v) + eps). */
static void ref_adam(ref_state *r, const double *g, int t, const ct_optimizer_opts *p) {
    double lr = p->learning_rate, b1 = p->beta_1, b2 = p->beta_2;
    double alpha = lr * sqrt(1 - pow(b2, t)) / (1 - pow(b1, t));
    for (int i = 0; i < N; i++) {
        r->s0[i] += (g[i] - r->s0[i]) * (1 - b1);
        r->s1[i] += (g[i] * g[i] - r->s1[i]) * (1 - b2);
        double v = r->s1[i];
        if (p->amsgrad) {
            r->s2[i] = fmax(r->s2[i], r->s1[i]);
            v = r->s2[i];
        }
        r->w[i] -= r->s0[i] * alpha / (sqrt(v) + p->epsilon);
    }
}

static void ref_adamax(ref_state *r, const double *g, int t, const ct_optimizer_opts *p) {
    double b1 = p->beta_1, b2 = p->beta_2;
    for (int i = 0; i < N; i++) {
        r->s0[i] += (g[i] - r->s0[i]) * (1 - b1);
        r->s1[i] = fmax(b2 * r->s1[i], fabs(g[i]));
        r->w[i] -= p->learning_rate * r->s0[i] / ((1 - pow(b1, t)) * (r->s1[i] + p->epsilon));
    }
}

/* Nadam (Keras 3): u_t = b1 (1 - 0.5 * 0.96^t), u_product the running
 * product of the u_t. */
static void ref_nadam(ref_state *r, const double *g, int t, const ct_optimizer_opts *p) {
    double b1 = p->beta_1, b2 = p->beta_2;
    if (t == 1) r->u_product = 1.0;
    double u_t = b1 * (1 - 0.5 * pow(0.96, t)), u_t1 = b1 * (1 - 0.5 * pow(0.96, t + 1));
    r->u_product *= u_t;
    double u_prod1 = r->u_product * u_t1;
    for (int i = 0; i < N; i++) {
        r->s0[i] += (g[i] - r->s0[i]) * (1 - b1);
        r->s1[i] += (g[i] * g[i] - r->s1[i]) * (1 - b2);
        double m_hat = u_t1 * r->s0[i] / (1 - u_prod1) + (1 - u_t) * g[i] / (1 - r->u_product);
        double v_hat = r->s1[i] / (1 - pow(b2, t));
        r->w[i] -= m_hat * p->learning_rate / (sqrt(v_hat) + p->epsilon);
    }
}

/* Ftrl as keras/src/optimizers/ftrl.py (s0 accumulator, s1 linear). */
static void ref_ftrl(ref_state *r, const double *g, int t, const ct_optimizer_opts *p) {
    double lr = p->learning_rate, pw = -p->learning_rate_power;
    double l1 = p->l1_regularization_strength;
    double l2_reg = p->l2_regularization_strength + p->beta / (2.0 * lr);
    if (t == 1)
        for (int i = 0; i < N; i++) r->s0[i] = p->initial_accumulator_value;
    for (int i = 0; i < N; i++) {
        double gtu = g[i] + 2 * p->l2_shrinkage_regularization_strength * r->w[i];
        double acc = r->s0[i] + g[i] * g[i];
        r->s1[i] += gtu - (pow(acc, pw) - pow(r->s0[i], pw)) / lr * r->w[i];
        double quad = pow(acc, pw) / lr + 2 * l2_reg;
        double clipped = fmin(fmax(r->s1[i], -l1), l1);
        r->w[i] = (clipped - r->s1[i]) / quad;
        r->s0[i] = acc;
    }
}

/* Three steps of optimizer `name` with p on a variable of dtype dt, checked
 * after every step. p must spell out the hyper-parameters ref uses. */
static void check_rule(const char *name, ct_optimizer_opts p, ref_fn ref, ct_dtype dt) {
    ct_optimizer *o = ct_optimizer_new(name, &p);
    CT_OK(o);
    ct_variable *v = mkvar("w", dt, N, W0);
    ref_state r = {0};
    memcpy(r.w, W0, sizeof r.w);
    ct_optimizer_opts rp = p;
    /* Keras holds the rate in a float32 variable, cast to the var's dtype. */
    rp.learning_rate = (double)(float)p.learning_rate;
    for (int t = 1; t <= 3; t++) {
        apply1(o, v, N, G[t - 1]);
        /* Decoupled weight decay before the update, for every optimizer. */
        if (rp.has_weight_decay)
            for (int i = 0; i < N; i++) r.w[i] -= r.w[i] * rp.weight_decay * rp.learning_rate;
        ref(&r, G[t - 1], t, &rp);
        char what[64];
        snprintf(what, sizeof what, "%s %s step %d", name, ct_dtype_name(dt), t);
        expect_var(v, N, r.w, dt == CT_FLOAT32 ? 2e-6 : 1e-12, what);
        cr_assert_eq(ct_optimizer_iterations(o), t);
    }
    ct_variable_free(v);
    ct_optimizer_free(o);
}

static void check_both(const char *name, ct_optimizer_opts p, ref_fn ref) {
    check_rule(name, p, ref, CT_FLOAT32);
    check_rule(name, p, ref, CT_FLOAT64);
}

Test(optimizers, sgd) {
    check_both("sgd", (ct_optimizer_opts){.learning_rate = 0.1}, ref_sgd);
    check_both("SGD", (ct_optimizer_opts){.learning_rate = 0.1, .momentum = 0.9}, ref_sgd);
    check_both("sgd", (ct_optimizer_opts){.learning_rate = 0.1, .momentum = 0.9, .nesterov = true},
               ref_sgd);
}

Test(optimizers, adagrad) {
    check_both("adagrad",
               (ct_optimizer_opts){.learning_rate = 0.1, .initial_accumulator_value = 0.1,
                                   .epsilon = 0.01},
               ref_adagrad);
    check_both("Adagrad",
               (ct_optimizer_opts){.learning_rate = 0.1, .initial_accumulator_value = 0.5,
                                   .epsilon = 1e-7},
               ref_adagrad);
}

Test(optimizers, rmsprop) {
    check_both("rmsprop", (ct_optimizer_opts){.learning_rate = 0.01, .rho = 0.9, .epsilon = 0.01},
               ref_rmsprop);
    check_both("RMSprop",
               (ct_optimizer_opts){.learning_rate = 0.01, .rho = 0.8, .epsilon = 1e-3,
                                   .momentum = 0.5, .centered = true},
               ref_rmsprop);
}

Test(optimizers, adadelta) {
    check_both("adadelta", (ct_optimizer_opts){.learning_rate = 1.0, .rho = 0.95, .epsilon = 1e-3},
               ref_adadelta);
}

Test(optimizers, adam) {
    check_both("adam",
               (ct_optimizer_opts){.learning_rate = 0.01, .beta_1 = 0.9, .beta_2 = 0.999,
                                   .epsilon = 1e-3},
               ref_adam);
    check_both("adam",
               (ct_optimizer_opts){.learning_rate = 0.01, .beta_1 = 0.9, .beta_2 = 0.999,
                                   .epsilon = 1e-7},
               ref_adam);
    /* beta_2 0.5 makes v shrink, so AMSGrad's running maximum matters. */
    check_both("Adam",
               (ct_optimizer_opts){.learning_rate = 0.01, .beta_1 = 0.9, .beta_2 = 0.5,
                                   .epsilon = 1e-3, .amsgrad = true},
               ref_adam);
}

Test(optimizers, adamw) {
    /* AdamW's default weight decay is 0.004. */
    ct_optimizer *o = ct_optimizer_new("adamw", NULL);
    CT_OK(o);
    char *cfg = ct_optimizer_get_config(o);
    cr_expect(strstr(cfg, "\"weight_decay\":0.004") != NULL, "%s", cfg);
    free(cfg);
    ct_optimizer_free(o);
    check_both("adamw",
               (ct_optimizer_opts){.learning_rate = 0.01, .beta_1 = 0.9, .beta_2 = 0.999,
                                   .epsilon = 1e-3, .has_weight_decay = true,
                                   .weight_decay = 0.004},
               ref_adam);
    check_both("AdamW",
               (ct_optimizer_opts){.learning_rate = 0.01, .beta_1 = 0.9, .beta_2 = 0.999,
                                   .epsilon = 1e-3, .has_weight_decay = true,
                                   .weight_decay = 0.5},
               ref_adam);
}

Test(optimizers, adamax) {
    check_both("adamax",
               (ct_optimizer_opts){.learning_rate = 0.01, .beta_1 = 0.9, .beta_2 = 0.999,
                                   .epsilon = 1e-3},
               ref_adamax);
}

Test(optimizers, nadam) {
    check_both("nadam",
               (ct_optimizer_opts){.learning_rate = 0.01, .beta_1 = 0.9, .beta_2 = 0.999,
                                   .epsilon = 1e-3},
               ref_nadam);
}

Test(optimizers, ftrl) {
    check_both("ftrl",
               (ct_optimizer_opts){.learning_rate = 0.1, .learning_rate_power = -0.5,
                                   .initial_accumulator_value = 0.1},
               ref_ftrl);
    check_both("Ftrl",
               (ct_optimizer_opts){.learning_rate = 0.1, .learning_rate_power = -0.7,
                                   .initial_accumulator_value = 0.2,
                                   .l1_regularization_strength = 0.05,
                                   .l2_regularization_strength = 0.02,
                                   .l2_shrinkage_regularization_strength = 0.01, .beta = 0.1},
               ref_ftrl);
}

/* Weight decay (decoupled, before the update) works for every optimizer. */
Test(optimizers, weight_decay_on_other_optimizers) {
    check_both("sgd",
               (ct_optimizer_opts){.learning_rate = 0.1, .momentum = 0.5,
                                   .has_weight_decay = true, .weight_decay = 0.2},
               ref_sgd);
    check_both("rmsprop",
               (ct_optimizer_opts){.learning_rate = 0.01, .rho = 0.9, .epsilon = 0.01,
                                   .has_weight_decay = true, .weight_decay = 0.3},
               ref_rmsprop);
}

static const char *var_name(const ct_optimizer *o, int i) {
    return ct_variable_name(ct_optimizer_variable(o, i));
}

/* Keras 2.11+ slot names and the order of its build() loops. */
Test(optimizers, slot_names_and_order) {
    const double b0[2] = {0, 0};
    ct_variable *k = mkvar("dense/kernel", CT_FLOAT32, N, W0);
    ct_variable *b = mkvar("dense/bias:0", CT_FLOAT32, 2, b0);
    ct_variable *vars[2] = {k, b};
    struct {
        const char *name;
        ct_optimizer_opts opts;
        const char *want[8];
    } cases[] = {
        {"adam", {.amsgrad = true},
         {"iteration", "m/dense/kernel", "v/dense/kernel", "m/dense/bias", "v/dense/bias",
          "vhat/dense/kernel", "vhat/dense/bias"}},
        {"rmsprop", {.momentum = 0.5, .centered = true},
         {"iteration", "velocity/dense/kernel", "velocity/dense/bias", "momentum/dense/kernel",
          "momentum/dense/bias", "average_gradient/dense/kernel", "average_gradient/dense/bias"}},
        {"rmsprop", {0}, {"iteration", "velocity/dense/kernel", "velocity/dense/bias"}},
        {"sgd", {0}, {"iteration", "m/dense/kernel", "m/dense/bias"}},
        {"adagrad", {0}, {"iteration", "accumulator/dense/kernel", "accumulator/dense/bias"}},
        {"adadelta", {0},
         {"iteration", "accumulated_grad/dense/kernel", "accumulated_delta_var/dense/kernel",
          "accumulated_grad/dense/bias", "accumulated_delta_var/dense/bias"}},
        {"adamax", {0}, {"iteration", "m/dense/kernel", "u/dense/kernel", "m/dense/bias",
                         "u/dense/bias"}},
        {"nadam", {0}, {"iteration", "m/dense/kernel", "v/dense/kernel", "m/dense/bias",
                        "v/dense/bias"}},
        {"ftrl", {0}, {"iteration", "accumulator/dense/kernel", "linear/dense/kernel",
                       "accumulator/dense/bias", "linear/dense/bias"}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        ct_optimizer *o = ct_optimizer_new(cases[c].name, &cases[c].opts);
        CT_OK(o);
        cr_assert_eq(ct_optimizer_num_variables(o), 1);
        ct_tensor *it = ct_variable_value(ct_optimizer_variable(o, 0));
        CT_EXPECT(it, CT_INT64, CT_SCALAR, 0, 0);
        ct_scope_begin();
        ct_tensor *g[2] = {CT_F32(CT_DIMS(N), 0.1, 0.2, 0.3), CT_F32(CT_DIMS(2), 1, 1)};
        CT_STATUS_OK(ct_optimizer_apply_gradients(o, 2, g, vars));
        ct_scope_end();
        int n = 0;
        while (cases[c].want[n]) n++;
        cr_assert_eq(ct_optimizer_num_variables(o), n, "%s: %d variables, expected %d",
                     cases[c].name, ct_optimizer_num_variables(o), n);
        for (int i = 0; i < n; i++)
            cr_expect_str_eq(var_name(o, i), cases[c].want[i], "%s variable %d", cases[c].name,
                             i);
        CT_EXPECT(it, CT_INT64, CT_SCALAR, 0, 1);
        ct_variable *s1 = ct_optimizer_variable(o, 1);
        cr_expect(!ct_variable_trainable(s1));
        ct_expect_shape(ct_variable_value(s1), 1, (const int64_t[]){N});
        cr_expect_null(ct_optimizer_variable(o, n));
        ct_optimizer_free(o);
    }
    ct_variable_free(k);
    ct_variable_free(b);
}

/* A slot takes its variable's dtype; the accumulators start at
 * initial_accumulator_value. */
Test(optimizers, slot_initial_values_and_dtype) {
    ct_variable *v = mkvar("w", CT_FLOAT64, N, W0);
    ct_optimizer *o = ct_optimizer_new("adagrad", &(ct_optimizer_opts){.initial_accumulator_value = 0.25});
    CT_OK(o);
    ct_scope_begin();
    ct_tensor *g = CT_F64(CT_DIMS(N), 0, 0, 0);
    CT_STATUS_OK(ct_optimizer_apply_gradients(o, 1, &g, &v));
    ct_scope_end();
    CT_EXPECT(ct_variable_value(ct_optimizer_variable(o, 1)), CT_FLOAT64, CT_DIMS(N), 0, 0.25,
              0.25, 0.25);
    ct_optimizer_free(o);
    ct_variable_free(v);
}

Test(optimizers, clipnorm_per_gradient) {
    ct_variable *a = mkvar("a", CT_FLOAT32, 2, (const double[]){0, 0});
    ct_variable *b = mkvar("b", CT_FLOAT32, 1, (const double[]){0});
    ct_optimizer *o = ct_optimizer_new("sgd", &(ct_optimizer_opts){.learning_rate = 1, .clipnorm = 1});
    CT_OK(o);
    ct_variable *vars[2] = {a, b};
    ct_tensor *g[2] = {CT_F32(CT_DIMS(2), 3, 4), CT_F32(CT_DIMS(1), 0.5)};
    CT_STATUS_OK(ct_optimizer_apply_gradients(o, 2, g, vars));
    CT_EXPECT(ct_variable_value(a), CT_FLOAT32, CT_DIMS(2), 1e-6, -0.6, -0.8);
    CT_EXPECT(ct_variable_value(b), CT_FLOAT32, CT_DIMS(1), 1e-6, -0.5); /* under the norm */
    ct_optimizer_free(o);
    ct_variable_free(a);
    ct_variable_free(b);
}

Test(optimizers, clipvalue) {
    ct_variable *a = mkvar("a", CT_FLOAT32, 3, (const double[]){0, 0, 0});
    ct_optimizer *o =
        ct_optimizer_new("sgd", &(ct_optimizer_opts){.learning_rate = 1, .clipvalue = 0.5});
    CT_OK(o);
    ct_tensor *g = CT_F32(CT_DIMS(3), 3, -4, 0.25);
    CT_STATUS_OK(ct_optimizer_apply_gradients(o, 1, &g, &a));
    CT_EXPECT(ct_variable_value(a), CT_FLOAT32, CT_DIMS(3), 1e-6, -0.5, 0.5, -0.25);
    ct_optimizer_free(o);
    ct_variable_free(a);
}

/* global_clipnorm: every gradient scaled by clip / max(global norm, clip). */
Test(optimizers, global_clipnorm) {
    ct_variable *a = mkvar("a", CT_FLOAT32, 2, (const double[]){0, 0});
    ct_variable *b = mkvar("b", CT_FLOAT32, 1, (const double[]){0});
    ct_optimizer *o =
        ct_optimizer_new("sgd", &(ct_optimizer_opts){.learning_rate = 1, .global_clipnorm = 5});
    CT_OK(o);
    ct_variable *vars[2] = {a, b};
    ct_tensor *g[2] = {CT_F32(CT_DIMS(2), 3, 4), CT_F32(CT_DIMS(1), 12)}; /* norm 13 */
    CT_STATUS_OK(ct_optimizer_apply_gradients(o, 2, g, vars));
    CT_EXPECT(ct_variable_value(a), CT_FLOAT32, CT_DIMS(2), 1e-6, -15.0 / 13, -20.0 / 13);
    CT_EXPECT(ct_variable_value(b), CT_FLOAT32, CT_DIMS(1), 1e-6, -60.0 / 13);
    ct_optimizer_free(o);
    ct_variable_free(a);
    ct_variable_free(b);
}

/* A schedule is evaluated at the iteration count before each update. */
Test(optimizers, schedule_drives_the_rate) {
    ct_lr_schedule *s = ct_lr_schedule_from_config(
        "{\"class_name\": \"ExponentialDecay\", \"config\": {\"initial_learning_rate\": 0.1, "
        "\"decay_steps\": 1, \"decay_rate\": 0.5}}");
    CT_OK(s);
    ct_optimizer *o = ct_optimizer_new("sgd", &(ct_optimizer_opts){.schedule = s});
    CT_OK(o);
    ct_variable *v = mkvar("w", CT_FLOAT64, 1, (const double[]){0});
    double want = 0, lr = 0.1;
    for (int t = 0; t < 4; t++, lr /= 2) {
        cr_expect_eq(ct_optimizer_learning_rate(o), (double)(float)lr);
        apply1(o, v, 1, (const double[]){1.0});
        want -= (double)(float)lr;
        expect_var(v, 1, &want, 1e-12, "sgd with ExponentialDecay");
    }
    char *cfg = ct_optimizer_get_config(o);
    CT_OK(cfg);
    cr_expect(strstr(cfg, "\"learning_rate\":{") != NULL, "%s", cfg);
    cr_expect(strstr(cfg, "\"class_name\":\"ExponentialDecay\"") != NULL, "%s", cfg);
    ct_optimizer *o2 = ct_optimizer_from_config(cfg);
    CT_OK(o2);
    cr_expect_eq(ct_optimizer_learning_rate(o2), (double)0.1f);
    free(cfg);
    ct_optimizer_free(o2);
    ct_optimizer_free(o);
    ct_lr_schedule_free(s);
    ct_variable_free(v);
}

Test(optimizers, learning_rate_is_float32_and_loss_scale) {
    ct_optimizer *o = ct_optimizer_new("adam", NULL);
    CT_OK(o);
    cr_expect_eq(ct_optimizer_learning_rate(o), (double)0.001f);
    cr_expect_eq(ct_optimizer_iterations(o), 0);
    ct_optimizer_free(o);
    o = ct_optimizer_new("sgd", NULL);
    cr_expect_eq(ct_optimizer_learning_rate(o), (double)0.01f);
    ct_optimizer_free(o);
    /* Keras 3's loss_scale_factor: gradients are divided by it. */
    o = ct_optimizer_from_config("{\"class_name\": \"SGD\", \"config\": {\"learning_rate\": "
                                 "1.0, \"loss_scale_factor\": 4.0}}");
    CT_OK(o);
    ct_variable *v = mkvar("w", CT_FLOAT32, 1, (const double[]){0});
    apply1(o, v, 1, (const double[]){4});
    CT_EXPECT(ct_variable_value(v), CT_FLOAT32, CT_DIMS(1), 0, -1);
    ct_optimizer_free(o);
    ct_variable_free(v);
}

Test(optimizers, null_gradient_skips_its_variable) {
    ct_variable *a = mkvar("a", CT_FLOAT32, 1, (const double[]){1});
    ct_variable *b = mkvar("b", CT_FLOAT32, 1, (const double[]){1});
    ct_optimizer *o = ct_optimizer_new("sgd", &(ct_optimizer_opts){.learning_rate = 0.5,
                                                                   .has_weight_decay = true,
                                                                   .weight_decay = 0.1});
    CT_OK(o);
    ct_variable *vars[2] = {a, b};
    ct_tensor *g[2] = {NULL, CT_F32(CT_DIMS(1), 1)};
    CT_STATUS_OK(ct_optimizer_apply_gradients(o, 2, g, vars));
    CT_EXPECT(ct_variable_value(a), CT_FLOAT32, CT_DIMS(1), 0, 1); /* no decay either */
    CT_EXPECT(ct_variable_value(b), CT_FLOAT32, CT_DIMS(1), 1e-6, 1 - 0.05 - 0.5);
    cr_expect_eq(ct_optimizer_iterations(o), 1);
    /* Keras builds slots for every variable given. */
    cr_expect_eq(ct_optimizer_num_variables(o), 3);
    ct_tensor *none[2] = {NULL, NULL};
    CT_FAILS_ST(ct_optimizer_apply_gradients(o, 2, none, vars), "no gradients provided");
    cr_expect_eq(ct_optimizer_iterations(o), 1);
    CT_STATUS_OK(ct_optimizer_apply_gradients(o, 0, NULL, NULL));
    ct_optimizer_free(o);
    ct_variable_free(a);
    ct_variable_free(b);
}

/* Variables met later get their slots then; those met before keep theirs. */
Test(optimizers, slots_on_first_sight) {
    ct_variable *a = mkvar("a", CT_FLOAT32, 1, (const double[]){1});
    ct_variable *b = mkvar("b", CT_FLOAT32, 1, (const double[]){1});
    ct_optimizer *o = ct_optimizer_new("adam", NULL);
    CT_OK(o);
    apply1(o, a, 1, (const double[]){1});
    cr_expect_eq(ct_optimizer_num_variables(o), 3);
    ct_variable *vars[2] = {a, b};
    ct_tensor *g[2] = {CT_F32(CT_DIMS(1), 1), CT_F32(CT_DIMS(1), 1)};
    CT_STATUS_OK(ct_optimizer_apply_gradients(o, 2, g, vars));
    cr_expect_eq(ct_optimizer_num_variables(o), 5);
    cr_expect_str_eq(var_name(o, 3), "m/b");
    ct_optimizer_free(o);
    ct_variable_free(a);
    ct_variable_free(b);
}

typedef struct {
    ct_variable *w;
    ct_tensor *target;
} quad_ctx;

/* sum((w - target)^2) */
static ct_tensor *quadratic(void *p) {
    quad_ctx *q = p;
    return ct_reduce_sum(ct_square(ct_subtract(ct_variable_value(q->w), q->target)), CT_ALL, false);
}

Test(optimizers, minimize_converges_on_a_quadratic) {
    const char *names[] = {"sgd", "adam", "rmsprop", "adamax", "nadam", "adagrad", "adamw"};
    const double lrs[] = {0.1, 0.1, 0.05, 0.1, 0.1, 0.5, 0.1};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        quad_ctx q = {mkvar("w", CT_FLOAT32, N, W0), ct_keep(CT_F32(CT_DIMS(N), 3, -1, 2))};
        ct_optimizer *o = ct_optimizer_new(
            names[k], &(ct_optimizer_opts){.learning_rate = lrs[k], .has_weight_decay = false});
        CT_OK(o);
        for (int i = 0; i < 400; i++)
            CT_STATUS_OK(ct_optimizer_minimize(o, quadratic, &q, 1, &q.w));
        double tol = !strcmp(names[k], "adamw") ? 0.05 : 2e-2;
        CT_EXPECT(ct_variable_value(q.w), CT_FLOAT32, CT_DIMS(N), tol, 3, -1, 2);
        cr_expect_eq(ct_optimizer_iterations(o), 400);
        ct_optimizer_free(o);
        ct_variable_free(q.w);
        ct_tensor_free(q.target);
    }
}

static ct_tensor *null_loss(void *p) {
    (void)p;
    return NULL;
}

/* The gradient minimize applies is the tape's: one SGD step of lr * 2 (w - c). */
Test(optimizers, minimize_applies_the_tape_gradient) {
    quad_ctx q = {mkvar("w", CT_FLOAT64, 2, (const double[]){1, 2}),
                  ct_keep(CT_F64(CT_DIMS(2), 0, 0))};
    ct_optimizer *o = ct_optimizer_new("sgd", &(ct_optimizer_opts){.learning_rate = 0.25});
    CT_STATUS_OK(ct_optimizer_minimize(o, quadratic, &q, 1, &q.w));
    CT_EXPECT(ct_variable_value(q.w), CT_FLOAT64, CT_DIMS(2), 1e-12, 0.5, 1.0);
    CT_FAILS_ST(ct_optimizer_minimize(o, null_loss, NULL, 1, &q.w), "returned NULL");
    ct_optimizer_free(o);
    ct_variable_free(q.w);
    ct_tensor_free(q.target);
}

Test(optimizers, config_round_trip) {
    struct {
        const char *name;
        ct_optimizer_opts opts;
    } cases[] = {
        {"sgd", {.learning_rate = 0.05, .momentum = 0.9, .nesterov = true, .clipnorm = 1.5}},
        {"adagrad", {.initial_accumulator_value = 0.3, .epsilon = 1e-5}},
        {"rmsprop", {.rho = 0.8, .momentum = 0.1, .centered = true, .clipvalue = 2}},
        {"adadelta", {.learning_rate = 1.0, .rho = 0.9}},
        {"adam", {.beta_1 = 0.8, .beta_2 = 0.99, .amsgrad = true, .global_clipnorm = 3}},
        {"adamw", {.has_weight_decay = true, .weight_decay = 0.01, .name = "my_adamw"}},
        {"adamax", {.epsilon = 1e-6}},
        {"nadam", {.beta_1 = 0.95, .has_weight_decay = true, .weight_decay = 0.1}},
        {"ftrl",
         {.learning_rate_power = -0.6, .l1_regularization_strength = 0.1,
          .l2_regularization_strength = 0.2, .l2_shrinkage_regularization_strength = 0.3,
          .beta = 0.4}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        ct_optimizer *a = ct_optimizer_new(cases[c].name, &cases[c].opts);
        CT_OK(a);
        char *t1 = ct_optimizer_get_config(a);
        CT_OK(t1);
        ct_optimizer *b = ct_optimizer_from_config(t1);
        CT_OK(b);
        char *t2 = ct_optimizer_get_config(b);
        CT_OK(t2);
        cr_expect_str_eq(t1, t2);
        /* The copy updates exactly as the original. */
        ct_variable *va = mkvar("w", CT_FLOAT32, N, W0), *vb = mkvar("w", CT_FLOAT32, N, W0);
        for (int t = 0; t < 3; t++) {
            apply1(a, va, N, G[t]);
            apply1(b, vb, N, G[t]);
        }
        double wa[N];
        ct_tensor_read(ct_variable_value(va), CT_FLOAT64, wa, N);
        expect_var(vb, N, wa, 0, cases[c].name);
        free(t1);
        free(t2);
        ct_variable_free(va);
        ct_variable_free(vb);
        ct_optimizer_free(a);
        ct_optimizer_free(b);
    }
}

Test(optimizers, config_has_keras_names) {
    ct_optimizer *o = ct_optimizer_new("rmsprop", NULL);
    char *t = ct_optimizer_get_config(o);
    CT_OK(t);
    const char *want[] = {"\"class_name\":\"RMSprop\"", "\"name\":\"rmsprop\"", "\"rho\":0.9",
                          "\"centered\":false", "\"clipnorm\":null", "\"weight_decay\":null",
                          "\"use_ema\":false"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        cr_expect(strstr(t, want[i]) != NULL, "%s lacks %s", t, want[i]);
    free(t);
    ct_optimizer_free(o);
}

/* Configs as Keras 3 and Keras 2.11+ (tf_keras) write them. */
Test(optimizers, keras_configs) {
    ct_optimizer *o = ct_optimizer_from_config(
        "{\"module\": \"keras.optimizers\", \"class_name\": \"Adam\", \"config\": {\"name\": "
        "\"adam\", \"learning_rate\": {\"module\": \"keras.optimizers.schedules\", "
        "\"class_name\": \"PiecewiseConstantDecay\", \"config\": {\"boundaries\": [2], "
        "\"values\": [0.01, 0.001], \"name\": \"PiecewiseConstant\"}, \"registered_name\": "
        "null}, \"weight_decay\": null, \"clipnorm\": null, \"global_clipnorm\": null, "
        "\"clipvalue\": null, \"use_ema\": false, \"ema_momentum\": 0.99, "
        "\"ema_overwrite_frequency\": null, \"loss_scale_factor\": null, "
        "\"gradient_accumulation_steps\": null, \"beta_1\": 0.9, \"beta_2\": 0.999, "
        "\"epsilon\": 1e-07, \"amsgrad\": false}, \"registered_name\": null}");
    CT_OK(o);
    cr_expect_eq(ct_optimizer_learning_rate(o), (double)0.01f);
    ct_optimizer_free(o);
    o = ct_optimizer_from_config(
        "{\"class_name\": \"Custom>SGD\", \"config\": {\"name\": \"SGD\", \"weight_decay\": null, "
        "\"clipnorm\": null, \"global_clipnorm\": null, \"clipvalue\": null, \"use_ema\": false, "
        "\"ema_momentum\": 0.99, \"ema_overwrite_frequency\": null, \"jit_compile\": true, "
        "\"is_legacy_optimizer\": false, \"learning_rate\": 0.009999999776482582, "
        "\"momentum\": 0.0, \"nesterov\": false}}");
    CT_OK(o);
    cr_expect_eq(ct_optimizer_learning_rate(o), (double)0.01f);
    ct_optimizer_free(o);
}

/* A checkpoint holds the optimizer's variables: copying them (and the model
 * variable) into a fresh optimizer continues bit for bit. */
Test(optimizers, state_restored_through_variables_resumes_exactly) {
    const char *names[] = {"nadam", "adam", "ftrl", "rmsprop"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        ct_optimizer *a = ct_optimizer_new(names[k], &(ct_optimizer_opts){.learning_rate = 0.01});
        ct_optimizer *b = ct_optimizer_new(names[k], &(ct_optimizer_opts){.learning_rate = 0.01});
        CT_OK(a);
        CT_OK(b);
        ct_variable *wa = mkvar("w", CT_FLOAT32, N, W0), *wb = mkvar("w", CT_FLOAT32, N, W0);
        for (int t = 0; t < 4; t++) apply1(a, wa, N, G[t % 3]);
        apply1(b, wb, N, G[2]); /* builds b's slots */
        cr_assert_eq(ct_optimizer_num_variables(a), ct_optimizer_num_variables(b));
        for (int i = 0; i < ct_optimizer_num_variables(a); i++)
            CT_STATUS_OK(ct_variable_assign(ct_optimizer_variable(b, i),
                                            ct_variable_value(ct_optimizer_variable(a, i))));
        CT_STATUS_OK(ct_variable_assign(wb, ct_variable_value(wa)));
        cr_expect_eq(ct_optimizer_iterations(b), 4);
        apply1(a, wa, N, G[1]);
        apply1(b, wb, N, G[1]);
        double want[N];
        ct_tensor_read(ct_variable_value(wa), CT_FLOAT64, want, N);
        expect_var(wb, N, want, 0, names[k]);
        ct_variable_free(wa);
        ct_variable_free(wb);
        ct_optimizer_free(a);
        ct_optimizer_free(b);
    }
}

Test(optimizers, float64_and_float32_variables_together) {
    ct_variable *a = mkvar("a", CT_FLOAT32, 1, (const double[]){1});
    ct_variable *b = mkvar("b", CT_FLOAT64, 1, (const double[]){1});
    ct_optimizer *o = ct_optimizer_new("nadam", &(ct_optimizer_opts){.global_clipnorm = 1});
    CT_OK(o);
    ct_variable *vars[2] = {a, b};
    ct_tensor *g[2] = {CT_F32(CT_DIMS(1), 3), CT_F64(CT_DIMS(1), 4)};
    CT_STATUS_OK(ct_optimizer_apply_gradients(o, 2, g, vars));
    cr_expect_eq(ct_tensor_dtype(ct_variable_value(ct_optimizer_variable(o, 3))), CT_FLOAT64);
    cr_expect(ct_item(ct_variable_value(a)) < 1 && ct_item(ct_variable_value(b)) < 1);
    ct_optimizer_free(o);
    ct_variable_free(a);
    ct_variable_free(b);
}

Test(optimizers, errors) {
    CT_FAILS(ct_optimizer_new("adamz", NULL), "unknown optimizer 'adamz'");
    CT_FAILS(ct_optimizer_new("adam", &(ct_optimizer_opts){.learning_rate = -0.1}),
             "'learning_rate'");
    CT_FAILS(ct_optimizer_new("adam", &(ct_optimizer_opts){.clipnorm = 1, .clipvalue = 1}),
             "only one of `clipnorm`, `clipvalue` and `global_clipnorm`");
    CT_FAILS(ct_optimizer_new("sgd", &(ct_optimizer_opts){.momentum = 1.5}), "'momentum'");
    CT_FAILS(ct_optimizer_new("ftrl", &(ct_optimizer_opts){.learning_rate_power = 0.5}),
             "learning_rate_power");
    CT_FAILS(ct_optimizer_from_config("{\"class_name\": \"Adam\", \"config\": {\"betta\": 1}}"),
             "Adam 'adam': unknown argument 'betta'");
    CT_FAILS(ct_optimizer_from_config("{\"class_name\": \"Lion\", \"config\": {}}"),
             "unknown optimizer 'Lion'");
    CT_FAILS(ct_optimizer_from_config(
                 "{\"class_name\": \"AdamW\", \"config\": {\"weight_decay\": null}}"),
             "weight_decay");
    CT_FAILS(ct_optimizer_from_config(
                 "{\"class_name\": \"SGD\", \"config\": {\"clipnorm\": 1, \"global_clipnorm\": 2}}"),
             "only one of");
    CT_FAILS(ct_optimizer_from_config(
                 "{\"class_name\": \"SGD\", \"config\": {\"learning_rate\": -1}}"),
             "learning_rate");
    CT_FAILS(ct_optimizer_from_config(
                 "{\"class_name\": \"SGD\", \"config\": {\"use_ema\": true}}"),
             "use_ema");

    ct_variable *k = mkvar("dense/kernel", CT_FLOAT32, N, W0);
    ct_optimizer *o = ct_optimizer_new("adam", NULL);
    CT_OK(o);
    ct_tensor *bad = CT_F32(CT_DIMS(2), 1, 2);
    CT_FAILS_ST(ct_optimizer_apply_gradients(o, 1, &bad, &k), "'dense/kernel'");
    CT_FAILS_ST(ct_optimizer_apply_gradients(o, 1, &bad, &k), "float32[2]");
    ct_tensor *good = CT_F32(CT_DIMS(N), 1, 2, 3);
    ct_variable *twice[2] = {k, k};
    ct_tensor *gg[2] = {good, good};
    CT_FAILS_ST(ct_optimizer_apply_gradients(o, 2, gg, twice), "given twice");
    ct_tensor *ig = CT_I32(CT_DIMS(N), 1, 2, 3);
    CT_FAILS_ST(ct_optimizer_apply_gradients(o, 1, &ig, &k), "not a floating-point");
    /* Nothing changed on the failed calls. */
    cr_expect_eq(ct_optimizer_iterations(o), 0);
    cr_expect_eq(ct_optimizer_num_variables(o), 1);
    ct_optimizer_free(o);
    ct_variable_free(k);
}

/* ---- the fused CPU kernels ---------------------------------------------------- */

/* Equal bits, or both NaN (which NaN an operation returns when two meet is
 * up to the instruction's operand order, not a rounding). */
static bool same_value(const void *a, const void *b, ct_dtype dt, int64_t i) {
    if (dt == CT_FLOAT32) {
        float x = ((const float *)a)[i], y = ((const float *)b)[i];
        return !memcmp(&x, &y, sizeof x) || (isnan(x) && isnan(y));
    }
    double x = ((const double *)a)[i], y = ((const double *)b)[i];
    return !memcmp(&x, &y, sizeof x) || (isnan(x) && isnan(y));
}

/* Every element of a and b the same (same_value); int64 counters exactly. */
static void expect_same_tensor(const ct_tensor *a, const ct_tensor *b, const char *what) {
    ct_dtype dt = ct_tensor_dtype(a);
    cr_assert_eq(dt, ct_tensor_dtype(b), "%s: dtypes differ", what);
    int64_t n = ct_tensor_size(a);
    cr_assert_eq(n, ct_tensor_size(b), "%s: sizes differ", what);
    size_t bytes = (size_t)n * ct_dtype_size(dt);
    void *x = malloc(bytes ? bytes : 1), *y = malloc(bytes ? bytes : 1);
    cr_assert(x && y);
    CT_STATUS_OK(ct_tensor_read(a, dt, x, n));
    CT_STATUS_OK(ct_tensor_read(b, dt, y, n));
    int64_t bad = -1;
    if (dt == CT_INT64) {
        if (memcmp(x, y, bytes)) bad = 0;
    } else {
        for (int64_t i = 0; i < n && bad < 0; i++)
            if (!same_value(x, y, dt, i)) bad = i;
    }
    double xv = bad >= 0 && dt != CT_INT64 ? (dt == CT_FLOAT32 ? ((float *)x)[bad] : ((double *)x)[bad]) : 0;
    double yv = bad >= 0 && dt != CT_INT64 ? (dt == CT_FLOAT32 ? ((float *)y)[bad] : ((double *)y)[bad]) : 0;
    free(x);
    free(y);
    cr_assert(bad < 0, "%s: element %lld differs: fused %.17g, ops %.17g", what, (long long)bad,
              xv, yv);
}

/* Random normal values of dtype dt (the same for the same seed), with a few special values at
 * the front when `special`: zeros of both signs, a tiny value whose square
 * underflows and a huge one whose square overflows float32. */
static ct_tensor *random_values(int64_t n, ct_dtype dt, int64_t seed, double stddev,
                                bool special) {
    ct_scope_begin();
    ct_tensor *t = ct_stateless_random_normal(1, &n, (const int64_t[]){seed, 7},
                                              &(ct_random_opts){.dtype = CT_FLOAT64,
                                                                .stddev = stddev});
    CT_OK(t);
    double *v = malloc((size_t)n * sizeof *v);
    cr_assert(v);
    CT_STATUS_OK(ct_tensor_read(t, CT_FLOAT64, v, n));
    if (special && n >= 4) {
        v[0] = 0.0;
        v[1] = -0.0;
        v[2] = 1e-30;
        v[3] = 1e20;
    }
    ct_tensor *out = ct_keep(ct_cast(ct_constant(v, CT_FLOAT64, 1, &n), dt));
    free(v);
    ct_scope_end();
    CT_OK(out);
    return out;
}

/* Three steps of optimizer `name` with opts p on the fused path and on the
 * op chain, from the same variable and gradients (of dtype gdt): the
 * variable, every slot and the counter agree bit for bit after each. */
static void check_fused_matches_ops(const char *name, ct_optimizer_opts p, ct_dtype dt,
                                    ct_dtype gdt, int64_t n, bool special) {
    ct_optimizer *fused = ct_optimizer_new(name, &p), *ops = ct_optimizer_new(name, &p);
    CT_OK(fused);
    CT_OK(ops);
    ct__optimizer_set_fused(ops, false);
    ct_tensor *init = random_values(n, dt, 11, 1.0, false);
    ct_variable *va = ct_variable_new(init, &(ct_variable_opts){.name = "w"});
    ct_variable *vb = ct_variable_new(init, &(ct_variable_opts){.name = "w"});
    CT_OK(va);
    CT_OK(vb);
    for (int t = 0; t < 3; t++) {
        ct_tensor *g = random_values(n, gdt, 100 + t, t == 1 ? 3.0 : 0.5, special && t == 1);
        CT_STATUS_OK(ct_optimizer_apply_gradients(fused, 1, &g, &va));
        CT_STATUS_OK(ct_optimizer_apply_gradients(ops, 1, &g, &vb));
        ct_tensor_free(g);
        char what[160];
        snprintf(what, sizeof what, "%s %s (gradient %s) n=%lld step %d: variable", name,
                 ct_dtype_name(dt), ct_dtype_name(gdt), (long long)n, t + 1);
        expect_same_tensor(ct_variable_value(va), ct_variable_value(vb), what);
        cr_assert_eq(ct_optimizer_num_variables(fused), ct_optimizer_num_variables(ops));
        for (int i = 0; i < ct_optimizer_num_variables(fused); i++) {
            snprintf(what, sizeof what, "%s %s n=%lld step %d: %s", name, ct_dtype_name(dt),
                     (long long)n, t + 1, var_name(fused, i));
            expect_same_tensor(ct_variable_value(ct_optimizer_variable(fused, i)),
                               ct_variable_value(ct_optimizer_variable(ops, i)), what);
        }
    }
    /* The initial value both variables came from is untouched. */
    ct_tensor *again = random_values(n, dt, 11, 1.0, false);
    expect_same_tensor(init, again, "the initial value");
    ct_tensor_free(again);
    ct_tensor_free(init);
    ct_variable_free(va);
    ct_variable_free(vb);
    ct_optimizer_free(fused);
    ct_optimizer_free(ops);
}

/* Every rule and each of its variants, with and without weight decay, in
 * float32 and float64, at a size that is not a multiple of the vector
 * width or block (1003) and one large enough to split across threads. */
Test(optimizers, fused_kernels_match_the_op_chain_bit_for_bit) {
    struct {
        const char *name;
        ct_optimizer_opts opts;
    } cases[] = {
        {"sgd", {.learning_rate = 0.1}},
        {"sgd", {.learning_rate = 0.1, .momentum = 0.9}},
        {"sgd", {.learning_rate = 0.1, .momentum = 0.9, .nesterov = true}},
        {"adagrad", {.learning_rate = 0.1, .epsilon = 1e-3}},
        {"rmsprop", {.learning_rate = 0.01}},
        {"rmsprop", {.learning_rate = 0.01, .rho = 0.8, .momentum = 0.5}},
        {"rmsprop", {.learning_rate = 0.01, .centered = true}},
        {"rmsprop", {.learning_rate = 0.01, .momentum = 0.3, .centered = true, .epsilon = 1e-3}},
        {"adadelta", {.learning_rate = 1.0, .rho = 0.9}},
        {"adam", {.learning_rate = 0.01}},
        {"adam", {.learning_rate = 0.01, .beta_2 = 0.5, .amsgrad = true}},
        {"adamw", {.learning_rate = 0.01}},
        {"adamw", {.learning_rate = 0.01, .has_weight_decay = true, .weight_decay = 0.3,
                   .amsgrad = true}},
        {"adamax", {.learning_rate = 0.01}},
        {"nadam", {.learning_rate = 0.01, .beta_1 = 0.8}},
        {"ftrl", {.learning_rate = 0.1}},
        {"ftrl", {.learning_rate = 0.1, .learning_rate_power = -0.7,
                  .initial_accumulator_value = 0.2, .l1_regularization_strength = 0.05,
                  .l2_regularization_strength = 0.02,
                  .l2_shrinkage_regularization_strength = 0.01, .beta = 0.1}},
    };
    const int64_t sizes[] = {1003, 200003};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (int wd = 0; wd < 2; wd++) {
            ct_optimizer_opts p = cases[c].opts;
            if (wd && !p.has_weight_decay) {
                p.has_weight_decay = true;
                p.weight_decay = 0.05;
            }
            for (int s = 0; s < 2; s++) {
                check_fused_matches_ops(cases[c].name, p, CT_FLOAT32, CT_FLOAT32, sizes[s], !s);
                check_fused_matches_ops(cases[c].name, p, CT_FLOAT64, CT_FLOAT64, sizes[s], !s);
            }
        }
    /* A gradient of another dtype is cast first; clipping and loss scaling
     * stay ops before the fused update. */
    check_fused_matches_ops("adam", (ct_optimizer_opts){.learning_rate = 0.01}, CT_FLOAT32,
                            CT_FLOAT64, 1003, false);
    check_fused_matches_ops("nadam", (ct_optimizer_opts){.learning_rate = 0.01}, CT_FLOAT64,
                            CT_FLOAT32, 1003, false);
    check_fused_matches_ops("rmsprop", (ct_optimizer_opts){.learning_rate = 0.01, .clipnorm = 1},
                            CT_FLOAT32, CT_FLOAT32, 1003, false);
    check_fused_matches_ops("sgd",
                            (ct_optimizer_opts){.learning_rate = 0.1, .momentum = 0.5,
                                                .global_clipnorm = 2},
                            CT_FLOAT32, CT_FLOAT32, 1003, false);
    check_fused_matches_ops("adagrad", (ct_optimizer_opts){.learning_rate = 0.1, .clipvalue = 0.2},
                            CT_FLOAT64, CT_FLOAT64, 1003, false);
    /* Empty variables. */
    check_fused_matches_ops("adam", (ct_optimizer_opts){.learning_rate = 0.01}, CT_FLOAT32,
                            CT_FLOAT32, 0, false);
}

/* An op recorded on a tape before a step keeps the variable's value it saw
 * (the step writes a private copy), so its gradient uses the old value. */
Test(optimizers, tape_snapshot_keeps_the_value_before_the_step) {
    ct_variable *w = mkvar("w", CT_FLOAT32, N, W0);
    ct_optimizer *o = ct_optimizer_new("adam", &(ct_optimizer_opts){.learning_rate = 0.1});
    CT_OK(o);
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, ct_variable_value(w));
    ct_tensor *y = ct_reduce_sum(ct_square(ct_variable_value(w)), CT_ALL, false);
    ct_tape_end(tape);
    CT_OK(y);
    apply1(o, w, N, G[0]);
    double now[N];
    CT_STATUS_OK(ct_tensor_read(ct_variable_value(w), CT_FLOAT64, now, N));
    for (int i = 0; i < N; i++) cr_expect(now[i] != W0[i], "element %d did not move", i);
    ct_tensor *src = ct_variable_value(w), *dw = NULL;
    CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &src, &dw, NULL));
    CT_EXPECT(dw, CT_FLOAT32, CT_DIMS(N), 0, 2 * W0[0], 2 * W0[1], 2 * W0[2]);
    ct_tape_free(tape);
    ct_optimizer_free(o);
    ct_variable_free(w);
}

/* Tensors read from a variable or a slot before a step (copies, views,
 * the initial value) keep their values; the step's result is as usual. */
Test(optimizers, earlier_reads_keep_their_values) {
    ct_tensor *init = ct_keep(CT_F64(CT_DIMS(N), 1.0, -2.0, 0.5));
    ct_variable *w = ct_variable_new(init, &(ct_variable_opts){.name = "w"});
    CT_OK(w);
    ct_optimizer *o = ct_optimizer_new("sgd", &(ct_optimizer_opts){.learning_rate = 0.5,
                                                                   .momentum = 0.5});
    CT_OK(o);
    ct_tensor *read = ct_keep(ct_variable_read(w));
    ct_tensor *view = ct_keep(ct_reshape(ct_variable_value(w), 2, (const int64_t[]){1, N}));
    apply1(o, w, N, (const double[]){1, 1, 1});
    /* m = -0.5, w = w - 0.5 */
    CT_EXPECT(ct_variable_value(w), CT_FLOAT64, CT_DIMS(N), 0, 0.5, -2.5, 0.0);
    ct_tensor *m_before = ct_keep(ct_variable_read(ct_optimizer_variable(o, 1)));
    ct_tensor *w_before = ct_keep(ct_variable_read(w));
    apply1(o, w, N, (const double[]){1, 1, 1});
    /* m = -0.5 * 0.5 - 0.5 = -0.75, w = w - 0.75 */
    CT_EXPECT(ct_variable_value(w), CT_FLOAT64, CT_DIMS(N), 0, -0.25, -3.25, -0.75);
    CT_EXPECT(ct_variable_value(ct_optimizer_variable(o, 1)), CT_FLOAT64, CT_DIMS(N), 0, -0.75,
              -0.75, -0.75);
    CT_EXPECT(init, CT_FLOAT64, CT_DIMS(N), 0, 1.0, -2.0, 0.5);
    CT_EXPECT(read, CT_FLOAT64, CT_DIMS(N), 0, 1.0, -2.0, 0.5);
    CT_EXPECT(view, CT_FLOAT64, CT_DIMS(1, N), 0, 1.0, -2.0, 0.5);
    CT_EXPECT(m_before, CT_FLOAT64, CT_DIMS(N), 0, -0.5, -0.5, -0.5);
    CT_EXPECT(w_before, CT_FLOAT64, CT_DIMS(N), 0, 0.5, -2.5, 0.0);
    /* The counter read earlier keeps its value too. */
    ct_tensor *it = ct_keep(ct_variable_read(ct_optimizer_variable(o, 0)));
    apply1(o, w, N, (const double[]){0, 0, 0});
    CT_EXPECT(it, CT_INT64, CT_SCALAR, 0, 2);
    cr_expect_eq(ct_optimizer_iterations(o), 3);
    ct_tensor_free(init);
    ct_tensor_free(read);
    ct_tensor_free(view);
    ct_tensor_free(m_before);
    ct_tensor_free(w_before);
    ct_tensor_free(it);
    ct_optimizer_free(o);
    ct_variable_free(w);
}

/* A variable's own live value as its gradient (read again by the op chain
 * after the weight decay's assignment) takes the op path, with its result. */
Test(optimizers, live_variable_value_as_gradient) {
    ct_variable *w = mkvar("w", CT_FLOAT64, N, W0);
    ct_optimizer *o = ct_optimizer_new("sgd", &(ct_optimizer_opts){.learning_rate = 0.5,
                                                                   .has_weight_decay = true,
                                                                   .weight_decay = 0.5});
    CT_OK(o);
    ct_tensor *g = ct_variable_value(w);
    CT_STATUS_OK(ct_optimizer_apply_gradients(o, 1, &g, &w));
    /* decay: w * 0.75, then w - 0.5 w with the decayed w: 0.375 w */
    CT_EXPECT(ct_variable_value(w), CT_FLOAT64, CT_DIMS(N), 0, 0.375 * W0[0], 0.375 * W0[1],
              0.375 * W0[2]);
    ct_optimizer_free(o);
    ct_variable_free(w);
}
