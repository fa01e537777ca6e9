/* Every layer class ctrain registers goes through the HDF5 files and comes
 * back the same (issue #7: "save and load every layer kind of the
 * building-blocks issue; optimizer state continues identically").
 *
 * Each case is a small model around one layer (with a config that is not
 * the default where an option changes the weights), then Flatten and
 * Dense(3), compiled with Adam and mse and trained two steps on fixed
 * data. From that point:
 *   (a) ct_model_save -> ct_model_load;
 *   (b) ct_model_save_weights -> the same model built afresh under another
 *       random seed -> ct_model_load_weights, and the optimizer state
 *       through a CheckpointManager save / restore;
 * both copies must predict the same bits, hold the same weights and
 * optimizer variables bit for bit, and still hold the same weights as the
 * original after two more training steps on each (the optimizer's slots
 * and iteration continued identically).
 *
 * The registry is walked at run time: a class without a case here fails
 * registry_has_a_case_for_every_class. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "h5_test.h"
#include "nn/internal.h"

TestSuite(h5_layers, .init = h5_dir_begin, .fini = h5_dir_end);

/* ---- the cases ------------------------------------------------------------------------------ */

typedef enum {
    ONE,    /* input -> layer -> Flatten -> Dense(3)                                  */
    TWO,    /* a, Dense(last dim of b)(b) -> layer -> Flatten -> Dense(3)             */
    NESTED, /* input -> Dense(4) -> inner model (Dense(5), BatchNormalization)
             * -> Flatten -> Dense(3)                                                 */
} rt_kind;

typedef struct rt_case {
    const char *cls;    /* the class it covers                                     */
    const char *cfg;    /* the layer's config (NULL: defaults)                     */
    rt_kind kind;
    bool seq;           /* the outer model is a Sequential (else a Functional)     */
    bool inner_seq;     /* NESTED: the inner model is a Sequential                 */
    bool ids;           /* the input is int32 ids in [0, 10) (Embedding)           */
    int rank;           /* the input's rank and shape, without the batch           */
    int64_t shape[4];
    int rank2;          /* TWO: the second input's                                 */
    int64_t shape2[4];
} rt_case;

/* The input's shape (S), the second input's (T). */
#define S1(a) .rank = 1, .shape = {a}
#define S2(a, b) .rank = 2, .shape = {a, b}
#define S3(a, b, c) .rank = 3, .shape = {a, b, c}
#define S4(a, b, c, d) .rank = 4, .shape = {a, b, c, d}
#define T1(a) .rank2 = 1, .shape2 = {a}
#define T2(a, b) .rank2 = 2, .shape2 = {a, b}

static const rt_case CASES[] = {
    /* core */
    {"InputLayer", "{\"batch_input_shape\": [null, 3, 4]}", ONE, .seq = true, S2(3, 4)},
    {"InputLayer", NULL, ONE, .seq = false, S2(3, 4)},
    {"Dense", "{\"units\": 5, \"use_bias\": false, \"activation\": \"tanh\"}", ONE, .seq = true,
     S1(4)},
    {"Dense", "{\"units\": 5, \"activation\": \"relu\", \"bias_initializer\": \"ones\"}", ONE,
     S2(3, 4)},
    {"Activation", "{\"activation\": \"sigmoid\"}", ONE, S1(4)},
    {"Dropout", "{\"rate\": 0.5, \"seed\": 7, \"noise_shape\": [null, 1, 4]}", ONE, .seq = true,
     S2(3, 4)},
    {"Dropout", "{\"rate\": 0.25}", ONE, S1(6)},
    {"SpatialDropout1D", "{\"rate\": 0.5, \"seed\": 3}", ONE, S2(5, 4)},
    {"SpatialDropout2D", "{\"rate\": 0.5, \"seed\": 3}", ONE, .seq = true, S3(4, 4, 3)},
    {"SpatialDropout3D", "{\"rate\": 0.5, \"seed\": 3}", ONE, S4(3, 3, 3, 2)},
    {"GaussianNoise", "{\"stddev\": 0.1, \"seed\": 5}", ONE, .seq = true, S1(4)},
    {"GaussianDropout", "{\"rate\": 0.3, \"seed\": 5}", ONE, S1(4)},
    {"Embedding", "{\"input_dim\": 10, \"output_dim\": 3}", ONE, .ids = true, S1(4)},
    {"Softmax", "{\"axis\": 1}", ONE, S2(3, 4)},
    {"ReLU", "{\"max_value\": 0.5, \"negative_slope\": 0.1, \"threshold\": 0.2}", ONE,
     .seq = true, S1(4)},
    {"LeakyReLU", "{\"negative_slope\": 0.2}", ONE, S1(4)},
    {"ELU", "{\"alpha\": 0.5}", ONE, .seq = true, S1(4)},
    {"PReLU", "{\"shared_axes\": [1], \"alpha_initializer\": \"ones\"}", ONE, S2(3, 4)},
    {"ActivityRegularization", "{\"l1\": 0.01, \"l2\": 0.02}", ONE, .seq = true, S1(4)},
    /* merge */
    {"Add", NULL, TWO, S1(4), T1(4)},
    {"Subtract", NULL, TWO, S1(4), T1(4)},
    {"Multiply", NULL, TWO, S1(4), T1(4)},
    {"Average", NULL, TWO, S1(4), T1(4)},
    {"Maximum", NULL, TWO, S1(4), T1(4)},
    {"Minimum", NULL, TWO, S1(4), T1(4)},
    {"Concatenate", "{\"axis\": 1}", TWO, S2(3, 4), T2(2, 4)},
    {"Dot", "{\"axes\": 1, \"normalize\": true}", TWO, S1(4), T1(4)},
    /* reshape */
    {"Flatten", NULL, ONE, .seq = true, S3(2, 3, 2)},
    {"Reshape", "{\"target_shape\": [2, 6]}", ONE, S2(3, 4)},
    {"Permute", "{\"dims\": [2, 1]}", ONE, .seq = true, S2(3, 4)},
    {"RepeatVector", "{\"n\": 3}", ONE, S1(4)},
    {"ZeroPadding1D", "{\"padding\": [1, 2]}", ONE, .seq = true, S2(5, 3)},
    {"ZeroPadding2D", "{\"padding\": [[1, 0], [0, 2]]}", ONE, S3(4, 4, 2)},
    {"ZeroPadding3D", "{\"padding\": 1}", ONE, .seq = true, S4(2, 2, 2, 2)},
    {"Cropping1D", "{\"cropping\": [1, 2]}", ONE, S2(6, 3)},
    {"Cropping2D", "{\"cropping\": [[1, 0], [0, 2]]}", ONE, .seq = true, S3(5, 5, 2)},
    {"Cropping3D", "{\"cropping\": 1}", ONE, S4(4, 4, 4, 2)},
    {"UpSampling1D", "{\"size\": 3}", ONE, .seq = true, S2(4, 2)},
    {"UpSampling2D", "{\"size\": [2, 1], \"interpolation\": \"bilinear\"}", ONE, S3(3, 3, 2)},
    {"UpSampling3D", "{\"size\": 2}", ONE, .seq = true, S4(2, 2, 2, 2)},
    /* conv */
    {"Conv1D",
     "{\"filters\": 4, \"kernel_size\": 3, \"groups\": 2, \"use_bias\": false, "
     "\"padding\": \"causal\", \"dilation_rate\": 2}",
     ONE, .seq = true, S2(8, 4)},
    {"Conv2D",
     "{\"filters\": 4, \"kernel_size\": [3, 2], \"strides\": [2, 1], \"groups\": 2, "
     "\"padding\": \"same\", \"activation\": \"relu\"}",
     ONE, S3(6, 6, 4)},
    {"Conv3D", "{\"filters\": 3, \"kernel_size\": 2, \"use_bias\": false}", ONE, .seq = true,
     S4(3, 3, 3, 2)},
    {"Conv1DTranspose", "{\"filters\": 2, \"kernel_size\": 3, \"strides\": 2, \"output_padding\": 1}",
     ONE, S2(4, 3)},
    {"Conv2DTranspose",
     "{\"filters\": 2, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\", "
     "\"use_bias\": false}",
     ONE, .seq = true, S3(3, 3, 2)},
    {"Conv3DTranspose", "{\"filters\": 2, \"kernel_size\": 2, \"strides\": [1, 2, 1]}", ONE,
     S4(2, 2, 2, 2)},
    {"DepthwiseConv1D", "{\"kernel_size\": 3, \"depth_multiplier\": 2, \"use_bias\": false}", ONE,
     .seq = true, S2(6, 3)},
    {"DepthwiseConv2D", "{\"kernel_size\": [2, 3], \"depth_multiplier\": 2, \"padding\": \"same\"}",
     ONE, S3(4, 4, 3)},
    {"SeparableConv1D", "{\"filters\": 4, \"kernel_size\": 3, \"depth_multiplier\": 2}", ONE,
     .seq = true, S2(6, 3)},
    {"SeparableConv2D",
     "{\"filters\": 4, \"kernel_size\": 2, \"depth_multiplier\": 3, \"use_bias\": false}", ONE,
     S3(4, 4, 2)},
    /* pooling */
    {"MaxPooling1D", "{\"pool_size\": 2}", ONE, .seq = true, S2(6, 3)},
    {"MaxPooling2D", "{\"pool_size\": 2, \"strides\": 1, \"padding\": \"same\"}", ONE,
     S3(4, 4, 2)},
    {"MaxPooling3D", "{\"pool_size\": 2}", ONE, .seq = true, S4(4, 4, 4, 2)},
    {"AveragePooling1D", "{\"pool_size\": 3, \"strides\": 1, \"padding\": \"same\"}", ONE,
     S2(6, 3)},
    {"AveragePooling2D", "{\"pool_size\": [2, 1]}", ONE, .seq = true, S3(4, 4, 2)},
    {"AveragePooling3D", "{\"pool_size\": 2, \"padding\": \"same\"}", ONE, S4(3, 3, 3, 2)},
    {"GlobalMaxPooling1D", "{\"keepdims\": true}", ONE, .seq = true, S2(6, 3)},
    {"GlobalMaxPooling2D", NULL, ONE, S3(4, 4, 2)},
    {"GlobalMaxPooling3D", "{\"keepdims\": true}", ONE, .seq = true, S4(2, 2, 2, 3)},
    {"GlobalAveragePooling1D", NULL, ONE, S2(6, 3)},
    {"GlobalAveragePooling2D", "{\"keepdims\": true}", ONE, .seq = true, S3(4, 4, 2)},
    {"GlobalAveragePooling3D", NULL, ONE, S4(2, 2, 2, 3)},
    /* normalization */
    {"BatchNormalization", "{\"center\": false, \"momentum\": 0.9}", ONE, .seq = true, S2(3, 4)},
    {"BatchNormalization", "{\"scale\": false, \"axis\": 1}", ONE, S2(3, 4)},
    {"LayerNormalization", "{\"axis\": [1, 2], \"center\": false}", ONE, S2(3, 4)},
    {"LayerNormalization", "{\"rms_scaling\": true}", ONE, .seq = true, S1(4)},
    {"GroupNormalization", "{\"groups\": 3, \"scale\": false}", ONE, .seq = true, S2(4, 6)},
    {"UnitNormalization", "{\"axis\": -1}", ONE, S2(3, 4)},
    /* models inside models */
    {"Sequential", NULL, NESTED, .seq = true, .inner_seq = true, S1(4)},
    {"Functional", NULL, NESTED, .seq = false, .inner_seq = false, S1(4)},
    {"Sequential", NULL, NESTED, .seq = false, .inner_seq = true, S1(4)},
    {"Functional", NULL, NESTED, .seq = true, .inner_seq = false, S1(4)},
};

#define NCASES ((int)(sizeof CASES / sizeof CASES[0]))
enum { BATCH = 2, OUT = 3 };

static const char *case_name(const rt_case *c, char *buf, size_t cap) {
    if (c->kind == NESTED)
        snprintf(buf, cap, "%s in %s", c->inner_seq ? "Sequential" : "Functional",
                 c->seq ? "Sequential" : "Functional");
    else
        snprintf(buf, cap, "%s %s (in a %s)", c->cls, c->cfg ? c->cfg : "{}",
                 c->seq ? "Sequential" : "Functional");
    return buf;
}

/* ---- models ----------------------------------------------------------------------------------- */

static ct_layer *layer(const char *cls, const char *cfg) {
    ct_layer *l = ct_layer_new(cls, cfg);
    cr_assert_not_null(l, "%s: %s", cls, ct_last_error());
    return l;
}

static void add(ct_model *m, ct_layer *l) {
    CT_STATUS_OK(ct_sequential_add(m, l));
}

/* The inner model of a NESTED case: [4] -> Dense(5) -> BatchNormalization
 * (no beta: a non-trainable moving mean and variance, a trainable
 * gamma). Owned by the caller until handed to the outer model. */
static ct_layer *inner_model(bool seq) {
    const char *dense = "{\"units\": 5, \"activation\": \"tanh\"}";
    const char *bn = "{\"center\": false}";
    if (seq) {
        ct_model *m = made(ct_sequential_new(NULL));
        add(m, layer("Dense", dense));
        add(m, layer("BatchNormalization", bn));
        CT_STATUS_OK(ct_model_build(m, 2, (const int64_t[]){-1, 4}));
        return ct_model_layer(m);
    }
    ct_graph *g = ct_graph_new();
    ct_ktensor *in = ct_input(g, 1, (const int64_t[]){4}, CT_FLOAT32, NULL);
    ct_ktensor *x = ct_apply(layer("Dense", dense), in);
    x = ct_apply(layer("BatchNormalization", bn), x);
    ct_model *m = made(ct_functional_new(NULL, 1, &in, 1, &x));
    ct_graph_free(g);
    return ct_model_layer(m);
}

/* The case's model, built (not compiled). */
static ct_model *build(const rt_case *c) {
    char nm[512];
    const char *head = "{\"units\": 3}";
    bool input_layer = !strcmp(c->cls, "InputLayer");
    if (c->seq) {
        ct_model *m = made(ct_sequential_new(NULL));
        if (c->kind == NESTED) {
            add(m, layer("Dense", "{\"units\": 4}"));
            add(m, inner_model(c->inner_seq));
        } else {
            cr_assert_eq(c->kind, ONE, "%s: a Sequential takes one input", case_name(c, nm, 512));
            add(m, layer(c->cls, c->cfg));
        }
        add(m, layer("Flatten", NULL));
        add(m, layer("Dense", head));
        if (!input_layer) {
            int64_t shape[5] = {-1};
            memcpy(shape + 1, c->shape, (size_t)c->rank * sizeof shape[0]);
            CT_STATUS_OK(ct_model_build(m, c->rank + 1, shape));
        }
        return m;
    }
    ct_graph *g = ct_graph_new();
    ct_ktensor *ins[2] = {ct_input(g, c->rank, c->shape, c->ids ? CT_INT32 : CT_FLOAT32, NULL),
                          NULL};
    ct_ktensor *x = ins[0];
    int nin = 1;
    if (c->kind == TWO) {
        ins[1] = ct_input(g, c->rank2, c->shape2, CT_FLOAT32, NULL);
        char dense[64];
        snprintf(dense, sizeof dense, "{\"units\": %lld}", (long long)c->shape2[c->rank2 - 1]);
        ct_ktensor *xs[2] = {ins[0], ct_apply(layer("Dense", dense), ins[1])};
        x = ct_apply_n(layer(c->cls, c->cfg), 2, xs);
        nin = 2;
    } else if (c->kind == NESTED) {
        x = ct_apply(layer("Dense", "{\"units\": 4}"), x);
        x = ct_apply(inner_model(c->inner_seq), x);
    } else if (!input_layer) {
        x = ct_apply(layer(c->cls, c->cfg), x);
    }
    x = ct_apply(layer("Flatten", NULL), x);
    x = ct_apply(layer("Dense", head), x);
    ct_model *m = ct_functional_new(NULL, nin, ins, 1, &x);
    cr_assert_not_null(m, "%s: %s", case_name(c, nm, sizeof nm), ct_last_error());
    ct_graph_free(g);
    return m;
}

static void compile(ct_model *m) {
    ct_optimizer *opt = ct_optimizer_new("adam", &(ct_optimizer_opts){.learning_rate = 0.01});
    CT_OK(opt);
    CT_STATUS_OK(ct_model_compile(m, &(ct_compile_opts){.optimizer_obj = opt, .loss = "mse"}));
}

/* ---- data ------------------------------------------------------------------------------------- */

static ct_tensor *with_batch(int rank, const int64_t *shape, ct_dtype dt, int k) {
    int64_t s[5] = {BATCH}, n = BATCH;
    for (int i = 0; i < rank; i++) n *= (s[i + 1] = shape[i]);
    ct_tensor *t;
    if (dt == CT_INT32) {
        int32_t *buf = malloc((size_t)n * sizeof *buf);
        for (int64_t e = 0; e < n; e++) buf[e] = (int32_t)((e * 3 + k) % 10);
        t = ct_constant(buf, CT_INT32, rank + 1, s);
        free(buf);
    } else {
        float *buf = malloc((size_t)n * sizeof *buf);
        for (int64_t e = 0; e < n; e++) buf[e] = (float)(((e * 5 + k * 3) % 17) / 8.0 - 1.0);
        t = ct_constant(buf, CT_FLOAT32, rank + 1, s);
        free(buf);
    }
    CT_OK(t);
    return t;
}

/* The case's inputs (in the current scope); returns how many. */
static int inputs(const rt_case *c, ct_tensor **x) {
    x[0] = with_batch(c->rank, c->shape, c->ids ? CT_INT32 : CT_FLOAT32, 1);
    if (c->kind != TWO) return 1;
    x[1] = with_batch(c->rank2, c->shape2, CT_FLOAT32, 2);
    return 2;
}

static void train(const rt_case *c, ct_model *m, int steps) {
    for (int s = 0; s < steps; s++) {
        ct_scope_begin();
        ct_tensor *x[2];
        int nin = inputs(c, x);
        const ct_tensor *y = with_batch(1, (const int64_t[]){OUT}, CT_FLOAT32, 4 + s);
        CT_STATUS_OK(
            ct_model_train_on_batch_n(m, nin, (const ct_tensor *const *)x, 1, &y, NULL, NULL));
        ct_scope_end();
    }
}

/* ---- comparisons ------------------------------------------------------------------------------ */

static bool same_floats(const ct_tensor *a, const ct_tensor *b) {
    int64_t n = ct_tensor_size(a);
    if (n != ct_tensor_size(b)) return false;
    float *x = malloc((size_t)(n ? n : 1) * sizeof *x), *y = malloc((size_t)(n ? n : 1) * sizeof *y);
    CT_STATUS_OK(ct_tensor_read(a, CT_FLOAT32, x, n));
    CT_STATUS_OK(ct_tensor_read(b, CT_FLOAT32, y, n));
    bool same = memcmp(x, y, (size_t)n * sizeof *x) == 0;
    free(x);
    free(y);
    return same;
}

static void expect_same_weights(ct_model *a, ct_model *b, const char *what, const char *when) {
    ct_layer *la = ct_model_layer(a), *lb = ct_model_layer(b);
    cr_assert_eq(ct_layer_num_weights(la), ct_layer_num_weights(lb), "%s: %s: weight counts differ",
                 what, when);
    for (int i = 0; i < ct_layer_num_weights(la); i++) {
        ct_variable *va = ct_layer_weight(la, i), *vb = ct_layer_weight(lb, i);
        cr_expect(same_floats(ct_variable_value(va), ct_variable_value(vb)),
                  "%s: %s: weight %d (%s / %s) differs", what, when, i, ct_variable_name(va),
                  ct_variable_name(vb));
    }
}

static bool same_weights(ct_model *a, ct_model *b) {
    int64_t na, nb;
    float *wa = snapshot(a, &na), *wb = snapshot(b, &nb);
    bool same = na == nb && memcmp(wa, wb, (size_t)na * sizeof *wa) == 0;
    free(wa);
    free(wb);
    return same;
}

static void expect_same_optimizer(ct_model *a, ct_model *b, const char *what, const char *when) {
    ct_optimizer *oa = ct_model_optimizer(a), *ob = ct_model_optimizer(b);
    CT_OK(oa);
    CT_OK(ob);
    cr_assert_eq(ct_optimizer_num_variables(oa), ct_optimizer_num_variables(ob),
                 "%s: %s: optimizer variable counts differ", what, when);
    cr_expect_eq(ct_optimizer_iterations(oa), ct_optimizer_iterations(ob),
                 "%s: %s: iterations differ", what, when);
    for (int i = 0; i < ct_optimizer_num_variables(oa); i++) {
        ct_tensor *va = ct_variable_value(ct_optimizer_variable(oa, i));
        ct_tensor *vb = ct_variable_value(ct_optimizer_variable(ob, i));
        cr_assert_eq(ct_tensor_dtype(va), ct_tensor_dtype(vb));
        if (ct_tensor_dtype(va) == CT_FLOAT32)
            cr_expect(same_floats(va, vb), "%s: %s: optimizer variable %d (%s) differs", what,
                      when, i, ct_variable_name(ct_optimizer_variable(oa, i)));
    }
}

static void expect_same_predictions(const rt_case *c, ct_model *a, ct_model *b, const char *what) {
    ct_scope_begin();
    ct_tensor *x[2], *pa, *pb;
    int nin = inputs(c, x);
    CT_STATUS_OK(ct_model_call_multi(a, nin, x, false, 1, &pa));
    CT_STATUS_OK(ct_model_call_multi(b, nin, x, false, 1, &pb));
    cr_expect(same_floats(pa, pb), "%s: predictions differ", what);
    ct_scope_end();
}

/* ---- the tests -------------------------------------------------------------------------------- */

Test(h5_layers, registry_has_a_case_for_every_class) {
    int n = ct__layer_num_classes();
    cr_assert_gt(n, 0);
    cr_expect_null(ct__layer_class(n));
    cr_expect_null(ct__layer_class(-1));
    for (int i = 0; i < n; i++) {
        const char *cls = ct__layer_class(i);
        cr_assert_not_null(cls);
        bool found = false;
        for (int k = 0; k < NCASES && !found; k++) found = !strcmp(CASES[k].cls, cls);
        cr_expect(found, "no round-trip case for layer %s", cls);
    }
    /* And every case names a registered class by its own name (no alias,
     * no typo). */
    for (int k = 0; k < NCASES; k++) {
        const ct__layer_vt *vt = ct__layer_lookup(CASES[k].cls);
        cr_expect(vt && !strcmp(vt->class_name, CASES[k].cls), "case %d: '%s' is not a class", k,
                  CASES[k].cls);
    }
}

/* Criterion copies the parameters into the worker, which may run at
 * other addresses: pass indices into CASES, not its pointers. */
ParameterizedTestParameters(h5_layers, round_trip) {
    static int index[NCASES];
    for (int k = 0; k < NCASES; k++) index[k] = k;
    return cr_make_param_array(int, index, (size_t)NCASES, NULL);
}

ParameterizedTest(int *index, h5_layers, round_trip) {
    const rt_case *c = &CASES[*index];
    char what[512];
    case_name(c, what, sizeof what);
    enum { CONTINUE_SEED = 99 };

    /* The original: two steps, then every file at the same point. */
    ct_set_random_seed(1);
    ct_model *a = build(c);
    compile(a);
    train(c, a, 2);
    CT_STATUS_OK(ct_model_save(a, path_of("m.h5"), NULL));
    CT_STATUS_OK(ct_model_save_weights(a, path_of("w.h5"), NULL));
    ct_checkpoint_manager *cma = ct_checkpoint_manager_new(a, path_of("ckpt"), NULL);
    CT_OK(cma);
    cr_assert_not_null(ct_checkpoint_manager_save(cma), "%s: %s", what, ct_last_error());
    ct_checkpoint_manager_free(cma);

    /* (a) the full-model file. */
    ct_model *b = ct_model_load(path_of("m.h5"), NULL);
    cr_assert_not_null(b, "%s: ct_model_load: %s", what, ct_last_error());
    cr_expect_str_eq(ct_layer_class_name(ct_model_layer(b)),
                     ct_layer_class_name(ct_model_layer(a)), "%s", what);
    cr_expect_eq(ct_model_num_layers(b), ct_model_num_layers(a), "%s", what);
    expect_same_weights(a, b, what, "ct_model_load");
    expect_same_optimizer(a, b, what, "ct_model_load");
    expect_same_predictions(c, a, b, what);

    /* (b) a fresh model under another seed, the weights file, then the
     * optimizer's state from the training checkpoint. */
    ct_set_random_seed(12345);
    ct_model *f = build(c);
    compile(f);
    cr_expect(!same_weights(a, f), "%s: the fresh model starts with the original's weights",
              what);
    CT_STATUS_OK(ct_model_load_weights(f, path_of("w.h5"), NULL));
    expect_same_weights(a, f, what, "ct_model_load_weights");
    expect_same_predictions(c, a, f, what);
    ct_checkpoint_manager *cmf = ct_checkpoint_manager_new(f, path_of("ckpt"), NULL);
    CT_OK(cmf);
    cr_assert_eq(ct_checkpoint_manager_restore(cmf, NULL), CT_OK, "%s: restore: %s", what,
                 ct_last_error());
    ct_checkpoint_manager_free(cmf);
    expect_same_weights(a, f, what, "checkpoint restore");
    expect_same_optimizer(a, f, what, "checkpoint restore");
    expect_same_predictions(c, a, f, what);

    /* Two more steps on each, their random layers drawing the same
     * numbers. */
    int64_t nbefore;
    float *before = snapshot(a, &nbefore);
    ct_model *ms[3] = {a, b, f};
    for (int k = 0; k < 3; k++) {
        ct_set_random_seed(CONTINUE_SEED);
        train(c, ms[k], 2);
    }
    int64_t nafter;
    float *after = snapshot(a, &nafter);
    cr_expect(memcmp(before, after, (size_t)nafter * sizeof *after) != 0,
              "%s: two more steps left the weights as they were", what);
    free(before);
    free(after);
    expect_same_weights(a, b, what, "ct_model_load, then two more steps");
    expect_same_optimizer(a, b, what, "ct_model_load, then two more steps");
    expect_same_weights(a, f, what, "load_weights + restore, then two more steps");
    expect_same_optimizer(a, f, what, "load_weights + restore, then two more steps");
    expect_same_predictions(c, a, b, what);
    expect_same_predictions(c, a, f, what);

    ct_model_free(a);
    ct_model_free(b);
    ct_model_free(f);
}
