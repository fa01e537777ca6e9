/*
 * keras.activations: values against the Keras 3 / tf.nn formulas computed
 * here in double precision (and the docstring examples of
 * keras/src/activations/activations.py), finite-difference gradients in
 * float64, names and their JSON forms.
 */
#include <string.h>

#include "nn/internal.h"
#include "support.h"

TestSuite(activations, .init = ct_test_begin, .fini = ct_test_end);

#define NPTS 12
/* Negatives, 0, kinks' neighbourhoods and large magnitudes. */
static const double PTS[NPTS] = {-100, -7.5, -3.2, -1, -0.3, 0, 0.25, 1, 2.9, 6.4, 20, 100};

/* The reference formulas (Keras 3's TensorFlow backend). */
static double r_relu6(double x) { return fmin(fmax(x, 0), 6); }
static double r_elu(double x) { return x > 0 ? x : exp(x) - 1; }
static double r_selu(double x) {
    return x > 0 ? 1.0507009873554804934 * x : 1.7580993408473768599 * (exp(x) - 1);
}
static double r_gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double r_gelu_tanh(double x) {
    return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}
static double r_hard_sigmoid(double x) { return r_relu6(x + 3) / 6; }
static double r_hard_swish(double x) { return x * r_hard_sigmoid(x); }
static double r_softsign(double x) { return x / (fabs(x) + 1); }
static double r_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double r_silu(double x) { return x * r_sigmoid(x); }
static double r_softplus(double x) { return x > 30 ? x : log1p(exp(x)); }
static double r_mish(double x) { return x * tanh(r_softplus(x)); }
static double r_leaky02(double x) { return x > 0 ? x : 0.2 * x; }

typedef struct {
    const char *name;
    ct_activation_fn fn;
    double (*ref)(double);
} act_case;

static ct_tensor *gelu_tanh(const ct_tensor *x) { return ct_gelu(x, true); }

static const act_case CASES[] = {
    {"relu6", ct_relu6, r_relu6},
    {"elu", NULL, r_elu},
    {"selu", ct_selu, r_selu},
    {"gelu", NULL, r_gelu},
    {"gelu_tanh", gelu_tanh, r_gelu_tanh},
    {"hard_sigmoid", ct_hard_sigmoid, r_hard_sigmoid},
    {"hard_swish", ct_hard_swish, r_hard_swish},
    {"softsign", ct_softsign, r_softsign},
    {"silu", ct_silu, r_silu},
    {"mish", ct_mish, r_mish},
    {"leaky_relu", NULL, r_leaky02},
    {"sigmoid", NULL, r_sigmoid},
    {"softplus", NULL, r_softplus},
};

static ct_activation_fn case_fn(const act_case *c) {
    return c->fn ? c->fn : ct_activation_get(c->name);
}

static void check_values(ct_dtype dt, double tol) {
    for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++) {
        ct_activation_fn fn = case_fn(&CASES[k]);
        cr_assert_not_null(fn, "%s", CASES[k].name);
        ct_tensor *x = ct_cast(ct_constant(PTS, CT_FLOAT64, CT_DIMS(NPTS)), dt);
        ct_tensor *y = fn(x);
        CT_OK(y);
        cr_assert_eq(ct_tensor_dtype(y), dt, "%s keeps the dtype", CASES[k].name);
        for (int i = 0; i < NPTS; i++) {
            double got = ct_tensor_get(y, i), want = CASES[k].ref(PTS[i]);
            cr_expect(isfinite(got), "%s(%g) = %g is not finite", CASES[k].name, PTS[i], got);
            cr_expect(fabs(got - want) <= tol * fmax(1.0, fabs(want)),
                      "%s(%g) = %.17g, expected %.17g", CASES[k].name, PTS[i], got, want);
        }
    }
}

Test(activations, values_float64) { check_values(CT_FLOAT64, 1e-13); }
Test(activations, values_float32) { check_values(CT_FLOAT32, 3e-7); }

/* Numbers TF prints (rounded as TF rounds them). */
Test(activations, known_values) {
    ct_tensor *x = CT_F64(CT_DIMS(3), -1, 0, 1);
    CT_EXPECT(ct_gelu(x, false), CT_FLOAT64, CT_DIMS(3), 1e-15, -0.15865525393145707, 0,
              0.8413447460685429);
    CT_EXPECT(ct_gelu(x, true), CT_FLOAT64, CT_DIMS(3), 1e-15, -0.15880800939172324, 0,
              0.8411919906082768);
    CT_EXPECT(ct_selu(x), CT_FLOAT64, CT_DIMS(3), 1e-15, -1.1113307378125628, 0,
              1.0507009873554805);
    CT_EXPECT(ct_elu(x, 1), CT_FLOAT64, CT_DIMS(3), 1e-15, -0.6321205588285577, 0, 1);
    CT_EXPECT(ct_elu(x, 0.5), CT_FLOAT64, CT_DIMS(3), 1e-15, -0.31606027941427883, 0, 1);
    CT_EXPECT(ct_mish(x), CT_FLOAT64, CT_DIMS(3), 1e-15, -0.30340146137410895, 0,
              0.8650983882673103);
    CT_EXPECT(ct_hard_sigmoid(x), CT_FLOAT64, CT_DIMS(3), 1e-15, 2.0 / 6, 0.5, 4.0 / 6);
    CT_EXPECT(ct_leaky_relu(x, 0.3), CT_FLOAT64, CT_DIMS(3), 1e-15, -0.3, 0, 1);
    /* Saturation without overflow. */
    ct_tensor *big = CT_F32(CT_DIMS(2), -100, 100);
    CT_EXPECT(ct_elu(big, 1), CT_FLOAT32, CT_DIMS(2), 0, -1, 100);
    CT_EXPECT(ct_mish(big), CT_FLOAT32, CT_DIMS(2), 1e-30, 0, 100);
    CT_EXPECT(ct_softplus(big), CT_FLOAT32, CT_DIMS(2), 1e-30, 0, 100);
    CT_EXPECT(ct_selu(big), CT_FLOAT32, CT_DIMS(2), 1e-6, -1.7580993408473768, 105.07009873554805);
}

/* keras.activations.relu's docstring examples. */
Test(activations, relu_ex_docstring) {
    ct_tensor *x = CT_F32(CT_DIMS(5), -10, -5, 0, 5, 10);
    CT_EXPECT(ct_relu_ex(x, 0, INFINITY, 0), CT_FLOAT32, CT_DIMS(5), 0, 0, 0, 0, 5, 10);
    CT_EXPECT(ct_relu_ex(x, 0.5, INFINITY, 0), CT_FLOAT32, CT_DIMS(5), 0, -5, -2.5, 0, 5, 10);
    CT_EXPECT(ct_relu_ex(x, 0, 5, 0), CT_FLOAT32, CT_DIMS(5), 0, 0, 0, 0, 5, 5);
    CT_EXPECT(ct_relu_ex(x, 0, INFINITY, 5), CT_FLOAT32, CT_DIMS(5), 0, 0, 0, 0, 0, 10);
    CT_EXPECT(ct_relu_ex(x, 0, 6, 0), CT_FLOAT32, CT_DIMS(5), 0, 0, 0, 0, 5, 6);
    /* All three: x > 5 kept and capped at 8, below 5 the slope from 5. */
    ct_tensor *z = CT_F64(CT_DIMS(5), -10, 4, 5, 7, 10);
    CT_EXPECT(ct_relu_ex(z, 0.1, 8, 5), CT_FLOAT64, CT_DIMS(5), 1e-15, -1.5, -0.1, 0, 7, 8);
}

/* ---- gradients ------------------------------------------------------------------- */

typedef struct {
    ct_activation_fn fn;
} fn_ctx;

static ct_tensor *apply(ct_tensor *const *in, void *ctx) { return ((fn_ctx *)ctx)->fn(in[0]); }

static ct_tensor *relu_ex_a(const ct_tensor *x) { return ct_relu_ex(x, 0.1, 8, 0.5); }
static ct_tensor *relu_ex_b(const ct_tensor *x) { return ct_relu_ex(x, 0.2, INFINITY, 0); }
static ct_tensor *relu_ex_c(const ct_tensor *x) { return ct_relu_ex(x, 0, 2.5, 0); }
static ct_tensor *elu_07(const ct_tensor *x) { return ct_elu(x, 0.7); }

/* Points near but not on the kinks (0, +-3 for hard_sigmoid, 6 for relu6). */
Test(activations, gradients_float64) {
    static const double pts[] = {-7.1, -3.05, -2.95, -1.3, -0.01, 0.01, 0.45, 0.55,
                                 1.7, 2.45, 2.55, 2.95, 3.05, 5.95, 6.05, 8.2, 12.5};
    ct_activation_fn fns[] = {ct_relu6, ct_selu, ct_hard_sigmoid, ct_hard_swish, ct_softsign,
                              ct_silu, ct_mish, gelu_tanh, elu_07, relu_ex_a, relu_ex_b,
                              relu_ex_c};
    const char *names[] = {"leaky_relu", "elu", "gelu", "softmax", "log_softmax", "linear",
                           "exponential", "swish", "crelu"};
    int nf = (int)(sizeof fns / sizeof fns[0]), nn = (int)(sizeof names / sizeof names[0]);
    for (int k = 0; k < nf + nn; k++) {
        fn_ctx c = {k < nf ? fns[k] : ct_activation_get(names[k - nf])};
        cr_assert_not_null(c.fn);
        ct_scope_begin();
        ct_tensor *x = ct_constant(pts, CT_FLOAT64, CT_DIMS(17));
        /* exponential: keep the values small enough for a relative check. */
        if (k >= nf && !strcmp(names[k - nf], "exponential"))
            x = ct_multiply(x, ct_scalar_of(CT_FLOAT64, 0.2));
        ct_gradcheck(apply, 1, &x, &c, 1e-6);
        ct_scope_end();
    }
}

/* The gradient at large magnitudes is finite (the unused where() branch
 * must not produce 0 * inf). */
Test(activations, gradients_finite_at_extremes) {
    ct_activation_fn fns[] = {ct_selu, elu_07, ct_mish, ct_silu, ct_softsign};
    for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++) {
        ct_tensor *x = CT_F32(CT_DIMS(2), -100, 100);
        ct_tape *tape = ct_tape_begin(NULL);
        ct_tape_watch(tape, x);
        ct_tensor *y = ct_reduce_sum(fns[k](x), CT_ALL, false);
        ct_tape_end(tape);
        ct_tensor *g;
        CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &x, &g, NULL));
        cr_expect(isfinite(ct_tensor_get(g, 0)) && isfinite(ct_tensor_get(g, 1)),
                  "activation %zu: gradient %g, %g", k, ct_tensor_get(g, 0), ct_tensor_get(g, 1));
        ct_tape_free(tape);
    }
}

/* ---- names -------------------------------------------------------------------- */

Test(activations, get_and_name) {
    static const char *const names[] = {
        "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid",
        "hard_sigmoid", "hard_swish", "tanh", "softmax", "log_softmax", "softplus",
        "softsign", "swish", "silu", "exponential", "mish", "hard_silu", "crelu"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ct_activation_fn fn = ct_activation_get(names[i]);
        cr_assert_not_null(fn, "%s: %s", names[i], ct_last_error());
        const char *back = ct_activation_name(fn);
        cr_assert_not_null(back, "%s has no name", names[i]);
        cr_expect_eq(ct_activation_get(back), fn, "%s -> %s", names[i], back);
    }
    /* Keras 3 serializes the functions by their __name__. */
    cr_expect_eq(ct_activation_get("swish"), ct_activation_get("silu"));
    cr_expect_str_eq(ct_activation_name(ct_activation_get("swish")), "silu");
    cr_expect_str_eq(ct_activation_name(ct_activation_get("hard_swish")), "hard_silu");
    cr_expect_str_eq(ct_activation_name(ct_relu), "relu");
    cr_expect_str_eq(ct_activation_name(ct_exp), "exponential");
    cr_expect_null(ct_activation_name(ct_sqrt));
    cr_expect_null(ct_activation_name(NULL));
    ct_clear_error();
    cr_expect_null(ct_activation_get("relu7"));
    cr_expect(strstr(ct_last_error(), "unknown activation 'relu7'"), "%s", ct_last_error());
}

Test(activations, get_computes_keras_defaults) {
    ct_tensor *x = CT_F64(CT_DIMS(2, 3), -1, 0, 2, 1, 1, 1);
    CT_EXPECT(ct_activation_get("leaky_relu")(x), CT_FLOAT64, CT_DIMS(2, 3), 1e-15, -0.2, 0, 2,
              1, 1, 1);
    CT_EXPECT(ct_activation_get("exponential")(x), CT_FLOAT64, CT_DIMS(2, 3), 1e-15, exp(-1), 1,
              exp(2), M_E, M_E, M_E);
    CT_EXPECT(ct_activation_get("softmax")(x), CT_FLOAT64, CT_DIMS(2, 3), 1e-15,
              exp(-1) / (exp(-1) + 1 + exp(2)), 1 / (exp(-1) + 1 + exp(2)),
              exp(2) / (exp(-1) + 1 + exp(2)), 1.0 / 3, 1.0 / 3, 1.0 / 3);
    CT_EXPECT(ct_activation_get("log_softmax")(x), CT_FLOAT64, CT_DIMS(2, 3), 1e-14,
              -1 - log(exp(-1) + 1 + exp(2)), -log(exp(-1) + 1 + exp(2)),
              2 - log(exp(-1) + 1 + exp(2)), -log(3), -log(3), -log(3));
    CT_EXPECT(ct_activation_get("crelu")(x), CT_FLOAT64, CT_DIMS(2, 6), 0, 0, 0, 2, 1, 0, 0, 1,
              1, 1, 0, 0, 0);
    ct_tensor *lin = ct_activation_get("linear")(x);
    CT_EXPECT(lin, CT_FLOAT64, CT_DIMS(2, 3), 0, -1, 0, 2, 1, 1, 1);
    cr_expect_neq(lin, x, "linear gives a new reference");
}

Test(activations, from_json_forms) {
    ct_activation_fn fn = NULL;
    json_t *j = json_string("gelu");
    CT_STATUS_OK(ct__activation_from_json(j, &fn, "Dense 'd': argument 'activation'"));
    cr_expect_eq(fn, ct_activation_get("gelu"));
    json_decref(j);

    j = json_null();
    CT_STATUS_OK(ct__activation_from_json(j, &fn, "x"));
    cr_expect_eq(fn, ct_activation_get("linear"));
    json_decref(j);

    j = ct__json_parse("{\"module\": \"keras.activations\", \"class_name\": \"function\", "
                       "\"config\": \"swish\", \"registered_name\": \"function\"}", "test");
    CT_STATUS_OK(ct__activation_from_json(j, &fn, "x"));
    cr_expect_eq(fn, ct_silu);
    json_decref(j);

    j = json_string("gelux");
    cr_expect_neq(ct__activation_from_json(j, &fn, "Dense 'd': argument 'activation'"), CT_OK);
    cr_expect(strstr(ct_last_error(), "Dense 'd': argument 'activation': unknown activation "
                                      "'gelux'"), "%s", ct_last_error());
    json_decref(j);

    j = ct__json_parse("{\"class_name\": \"LeakyReLU\", \"config\": {}}", "test");
    cr_expect_neq(ct__activation_from_json(j, &fn, "act"), CT_OK);
    cr_expect(strstr(ct_last_error(), "act:"), "%s", ct_last_error());
    json_decref(j);

    j = json_integer(3);
    cr_expect_neq(ct__activation_from_json(j, &fn, "act"), CT_OK);
    json_decref(j);
}

Test(activations, bad_inputs) {
    CT_FAILS(ct_gelu(CT_I32(CT_DIMS(2), 1, 2), false), "ct_gelu: x must be a floating-point");
    CT_FAILS(ct_selu(NULL), "ct_selu: x is NULL");
    /* NULL keeps the first error. */
    ct_tensor *bad = ct_add(CT_F32(CT_DIMS(2), 1, 2), CT_F32(CT_DIMS(3), 1, 2, 3));
    cr_assert_null(bad);
    cr_expect_null(ct_mish(bad));
    cr_expect(strstr(ct_last_error(), "ct_add"), "%s", ct_last_error());
}
