#include "support.h"

#include <stdlib.h>
#include <string.h>

static int64_t live_at_start;

void ct_test_begin(void) {
    ct_clear_error();
    live_at_start = ct_live_tensors();
    ct_scope_begin();
}

void ct_test_end(void) {
    ct_scope_end();
    cr_expect_eq(ct_live_tensors(), live_at_start, "leaked %lld tensors",
                 (long long)(ct_live_tensors() - live_at_start));
}

void ct_expect_shape(const ct_tensor *t, int rank, const int64_t *shape) {
    CT_OK(t);
    cr_assert_eq(ct_tensor_rank(t), rank, "rank %d, expected %d", ct_tensor_rank(t), rank);
    for (int i = 0; i < rank; i++)
        cr_assert_eq(ct_tensor_dim(t, i), shape[i], "dim %d is %lld, expected %lld", i,
                     (long long)ct_tensor_dim(t, i), (long long)shape[i]);
}

void ct_expect(const ct_tensor *t, ct_dtype dtype, int rank, const int64_t *shape,
               const double *values, double tol) {
    ct_expect_shape(t, rank, shape);
    cr_assert_eq(ct_tensor_dtype(t), dtype, "dtype %s, expected %s",
                 ct_dtype_name(ct_tensor_dtype(t)), ct_dtype_name(dtype));
    int64_t n = ct_tensor_size(t);
    double *got = malloc((size_t)(n ? n : 1) * sizeof *got);
    cr_assert_eq(ct_tensor_read(t, CT_FLOAT64, got, n), CT_OK, "%s", ct_last_error());
    for (int64_t i = 0; i < n; i++) {
        double e = values[i], g = got[i];
        bool ok = (isnan(e) && isnan(g)) || e == g || fabs(e - g) <= tol * fmax(1.0, fabs(e));
        if (!ok) {
            free(got);
            cr_assert_fail("element %lld is %.17g, expected %.17g (tol %g)", (long long)i, g, e, tol);
        }
    }
    free(got);
}

static double weight(int64_t i) { return 0.5 + 0.37 * (double)((i * 7919) % 13) / 13.0; }

static double weighted_sum(ct_test_fn f, ct_tensor *const *inputs, void *ctx) {
    ct_scope_begin();
    ct_tensor *y = f(inputs, ctx);
    CT_OK(y);
    int64_t n = ct_tensor_size(y);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v), s = 0;
    cr_assert_eq(ct_tensor_read(y, CT_FLOAT64, v, n), CT_OK, "%s", ct_last_error());
    for (int64_t i = 0; i < n; i++) s += v[i] * weight(i);
    free(v);
    ct_scope_end();
    return s;
}

void ct_gradcheck(ct_test_fn f, int n, ct_tensor *const *inputs, void *ctx, double tol) {
    ct_scope_begin();
    ct_tape *tape = ct_tape_begin(NULL);
    for (int i = 0; i < n; i++) CT_STATUS_OK(ct_tape_watch(tape, inputs[i]));
    ct_tensor *y = f(inputs, ctx);
    CT_OK(y);
    int64_t ny = ct_tensor_size(y);
    double *w = malloc((size_t)(ny ? ny : 1) * sizeof *w);
    for (int64_t i = 0; i < ny; i++) w[i] = weight(i);
    ct_tensor *wt = ct_cast(ct_constant(w, CT_FLOAT64, ct_tensor_rank(y), ct_tensor_shape(y)),
                            ct_tensor_dtype(y));
    free(w);
    ct_tensor *loss = ct_reduce_sum(ct_multiply(y, wt), CT_ALL, false);
    CT_OK(loss);
    CT_STATUS_OK(ct_tape_end(tape));
    ct_tensor *grads[16];
    cr_assert(n <= 16);
    CT_STATUS_OK(ct_tape_gradient(tape, loss, n, inputs, grads, &(ct_gradient_opts){.unconnected_zero = true}));
    ct_tape_free(tape);

    ct_tensor *work[16];
    for (int i = 0; i < n; i++) work[i] = inputs[i];
    for (int i = 0; i < n; i++) {
        ct_tensor *x = inputs[i];
        int64_t m = ct_tensor_size(x);
        cr_assert_eq(ct_tensor_dtype(x), CT_FLOAT64, "gradient checks run in float64");
        double *xv = malloc((size_t)(m ? m : 1) * sizeof *xv);
        double *gv = malloc((size_t)(m ? m : 1) * sizeof *gv);
        ct_tensor_read(x, CT_FLOAT64, xv, m);
        CT_OK(grads[i]);
        ct_expect_shape(grads[i], ct_tensor_rank(x), ct_tensor_shape(x));
        ct_tensor_read(grads[i], CT_FLOAT64, gv, m);
        for (int64_t j = 0; j < m; j++) {
            double x0 = xv[j], h = 1e-6 * fmax(1.0, fabs(x0));
            ct_scope_begin();
            xv[j] = x0 + h;
            work[i] = ct_constant(xv, CT_FLOAT64, ct_tensor_rank(x), ct_tensor_shape(x));
            double lp = weighted_sum(f, work, ctx);
            xv[j] = x0 - h;
            work[i] = ct_constant(xv, CT_FLOAT64, ct_tensor_rank(x), ct_tensor_shape(x));
            double lm = weighted_sum(f, work, ctx);
            xv[j] = x0;
            work[i] = x;
            ct_scope_end();
            double num = (lp - lm) / (2 * h);
            cr_assert(fabs(num - gv[j]) <= tol * fmax(1.0, fabs(num)),
                      "input %d element %lld: tape gradient %.10g, numeric %.10g", i,
                      (long long)j, gv[j], num);
        }
        free(xv);
        free(gv);
    }
    ct_scope_end();
}

/* ---- Keras layers ------------------------------------------------------------------ */

void ct_test_layer_begin(void) {
    ct_test_begin();
    ct_layer_reset_names();
}

ct_layer *ct_test_layer(const char *cls, const char *cfg) {
    ct_layer *l = ct_layer_new(cls, cfg);
    cr_assert_not_null(l, "%s %s: %s", cls, cfg ? cfg : "", ct_last_error());
    return l;
}

void ct_test_build(ct_layer *l, int rank, const int64_t *shape) {
    ct_shape s = {.rank = rank};
    memcpy(s.dim, shape, (size_t)rank * sizeof s.dim[0]);
    CT_STATUS_OK(ct_layer_build(l, 1, &s));
}

double ct_test_pat(int64_t i, int seed) {
    return (double)(((i + 3) * (7 + 2 * seed) + seed) % 17 - 8) / 8.0;
}

ct_tensor *ct_test_pattern_with(ct_test_pat_fn pat, ct_dtype dtype, int rank,
                                const int64_t *shape, int seed, double **values) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = pat(i, seed);
    ct_tensor *t = ct_cast(ct_constant(v, CT_FLOAT64, rank, shape), dtype);
    if (values) *values = v;
    else free(v);
    return t;
}

ct_tensor *ct_test_pattern(ct_dtype dtype, int rank, const int64_t *shape, int seed,
                           double **values) {
    return ct_test_pattern_with(ct_test_pat, dtype, rank, shape, seed, values);
}

double *ct_test_read_all(const ct_tensor *t) {
    int64_t n = ct_tensor_size(t);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    CT_STATUS_OK(ct_tensor_read(t, CT_FLOAT64, v, n));
    return v;
}

void ct_test_set_weight(ct_layer *l, int i, ct_tensor *value) {
    ct_variable *v = ct_layer_weight(l, i);
    cr_assert_not_null(v, "%s", ct_last_error());
    CT_STATUS_OK(ct_variable_assign(v, value));
}

double *ct_test_fill_weight_with(ct_test_pat_fn pat, ct_layer *l, int i, int seed) {
    ct_variable *v = ct_layer_weight(l, i);
    cr_assert_not_null(v, "%s", ct_last_error());
    ct_tensor *cur = ct_variable_value(v);
    double *vals;
    ct_tensor *t = ct_test_pattern_with(pat, ct_tensor_dtype(cur), ct_tensor_rank(cur),
                                        ct_tensor_shape(cur), seed, &vals);
    CT_STATUS_OK(ct_variable_assign(v, t));
    return vals;
}

double *ct_test_fill_weight(ct_layer *l, int i, int seed) {
    return ct_test_fill_weight_with(ct_test_pat, l, i, seed);
}

ct_tensor *ct_test_layer_fn(ct_tensor *const *inputs, void *ctx) {
    ct_test_layer_ctx *c = ctx;
    for (int i = 0; i < c->n_weights; i++) {
        ct_variable *v = ct_layer_weight(c->layer, c->weights[i]);
        if (inputs[c->n_inputs + i] != ct_variable_value(v))
            CT_STATUS_OK(ct_variable_assign(v, inputs[c->n_inputs + i]));
    }
    if (c->reseed) ct_set_random_seed(c->reseed);
    return ct_layer_call_n(c->layer, c->n_inputs, inputs, c->training);
}

/* The weight gradient check's fixed weights of the layer's output. */
static double output_weight(int64_t i) { return 0.5 + 0.37 * sin(1.3 * (double)i + 0.2); }

static double weighted_output(ct_layer *l, ct_tensor *x, bool training) {
    ct_scope_begin();
    ct_tensor *y = ct_layer_call(l, x, training);
    CT_OK(y);
    double *v = ct_test_read_all(y), s = 0;
    for (int64_t i = 0; i < ct_tensor_size(y); i++) s += v[i] * output_weight(i);
    free(v);
    ct_scope_end();
    return s;
}

/* The tape's gradient of sum(layer(x) * w) with respect to every trainable
 * weight against central differences made by assigning perturbed values. */
static void weight_gradcheck(ct_layer *l, ct_tensor *x, bool training, double tol) {
    for (int wi = 0; wi < ct_layer_num_weights(l); wi++) {
        ct_variable *v = ct_layer_weight(l, wi);
        if (!ct_variable_trainable(v)) continue;
        ct_scope_begin();
        ct_tape *tape = ct_tape_begin(NULL);
        ct_tensor *y = ct_layer_call(l, x, training);
        CT_OK(y);
        int64_t ny = ct_tensor_size(y);
        double *w = malloc((size_t)(ny ? ny : 1) * sizeof *w);
        for (int64_t i = 0; i < ny; i++) w[i] = output_weight(i);
        ct_tensor *wt = ct_constant(w, CT_FLOAT64, ct_tensor_rank(y), ct_tensor_shape(y));
        free(w);
        ct_tensor *loss = ct_reduce_sum(ct_multiply(y, wt), CT_ALL, false);
        CT_OK(loss);
        CT_STATUS_OK(ct_tape_end(tape));
        ct_tensor *src = ct_variable_value(v), *g;
        CT_STATUS_OK(ct_tape_gradient(tape, loss, 1, &src, &g,
                                      &(ct_gradient_opts){.unconnected_zero = true}));
        ct_tape_free(tape);
        int64_t m = ct_tensor_size(src);
        double *val = ct_test_read_all(src), *gv = ct_test_read_all(g);
        int rank = ct_tensor_rank(src);
        int64_t shape[CT_MAX_RANK];
        memcpy(shape, ct_tensor_shape(src), (size_t)rank * sizeof shape[0]);
        for (int64_t j = 0; j < m; j++) {
            double x0 = val[j], h = 1e-6 * fmax(1.0, fabs(x0));
            val[j] = x0 + h;
            CT_STATUS_OK(ct_variable_assign(v, ct_constant(val, CT_FLOAT64, rank, shape)));
            double lp = weighted_output(l, x, training);
            val[j] = x0 - h;
            CT_STATUS_OK(ct_variable_assign(v, ct_constant(val, CT_FLOAT64, rank, shape)));
            double lm = weighted_output(l, x, training);
            val[j] = x0;
            CT_STATUS_OK(ct_variable_assign(v, ct_constant(val, CT_FLOAT64, rank, shape)));
            double num = (lp - lm) / (2 * h);
            cr_assert(fabs(num - gv[j]) <= tol * fmax(1.0, fabs(num)),
                      "weight %s element %lld: tape %.10g, numeric %.10g", ct_variable_name(v),
                      (long long)j, gv[j], num);
        }
        free(val);
        free(gv);
        ct_scope_end();
    }
}

void ct_test_layer_gradcheck(ct_layer *l, ct_tensor *x, bool training, double tol) {
    ct_test_layer_ctx c = {.layer = l, .n_inputs = 1, .training = training};
    ct_gradcheck(ct_test_layer_fn, 1, &x, &c, tol);
    weight_gradcheck(l, x, training, tol);
}

void ct_test_squeeze_blanks(char *s) {
    char *o = s;
    bool quoted = false;
    for (char *p = s; *p; p++) {
        if (*p == '"' && (p == s || p[-1] != '\\')) quoted = !quoted;
        if (!quoted && (*p == ' ' || *p == '\n')) continue;
        *o++ = *p;
    }
    *o = '\0';
}

void ct_test_config_has(const ct_layer *l, const char *fragment) {
    char *s = ct_layer_get_config(l);
    cr_assert_not_null(s, "%s", ct_last_error());
    ct_test_squeeze_blanks(s);
    cr_expect(strstr(s, fragment) != NULL, "config %s lacks %s", s, fragment);
    free(s);
}

ct_layer *ct_test_layer_round_trip(ct_layer *l) {
    char *a = ct_layer_get_config(l);
    cr_assert_not_null(a, "%s", ct_last_error());
    ct_layer *m = ct_layer_from_config(a);
    cr_assert_not_null(m, "%s (config %s)", ct_last_error(), a);
    char *b = ct_layer_get_config(m);
    cr_assert_not_null(b, "%s", ct_last_error());
    cr_expect_str_eq(a, b);
    free(a);
    free(b);
    return m;
}

void ct_test_config_round_trip(ct_layer *l, const char *fragment) {
    if (fragment) ct_test_config_has(l, fragment);
    ct_layer_free(ct_test_layer_round_trip(l));
}

void ct_test_layer_round_trip_output(ct_layer *a, ct_tensor *x) {
    ct_layer *b = ct_test_layer_round_trip(a);
    ct_tensor *ya = ct_layer_call(a, x, false);
    CT_OK(ya);
    ct_test_build(b, ct_tensor_rank(x), ct_tensor_shape(x));
    cr_assert_eq(ct_layer_num_weights(b), ct_layer_num_weights(a));
    for (int i = 0; i < ct_layer_num_weights(a); i++)
        ct_test_set_weight(b, i, ct_variable_value(ct_layer_weight(a, i)));
    ct_tensor *yb = ct_layer_call(b, x, false);
    CT_OK(yb);
    double *va = ct_test_read_all(ya);
    ct_expect(yb, ct_tensor_dtype(ya), ct_tensor_rank(ya), ct_tensor_shape(ya), va, 0);
    free(va);
    ct_layer_free(b);
}
