/* Full-model HDF5 files (io/h5.c): ct_model_save / ct_model_load, as
 * tf.keras 2's model.save("m.h5") / keras.models.load_model("m.h5"). A
 * model saved after some training steps and loaded back has the same
 * weights, predicts the same and, its optimizer state restored, trains on
 * to the same weights bit for bit. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5_test.h"

TestSuite(h5_model, .init = h5_dir_begin, .fini = h5_dir_end);

/* ---- helpers -------------------------------------------------------------------------------- */

static void expect_same_weights(ct_model *a, ct_model *b, const char *when) {
    int64_t na, nb;
    float *wa = snapshot(a, &na), *wb = snapshot(b, &nb);
    cr_assert_eq(na, nb, "%s: weight counts differ", when);
    cr_expect(memcmp(wa, wb, (size_t)na * sizeof *wa) == 0, "%s: weights differ", when);
    free(wa);
    free(wb);
}

static void expect_same_tensor(ct_tensor *a, ct_tensor *b, const char *what) {
    CT_OK(a);
    CT_OK(b);
    cr_assert_eq(ct_tensor_size(a), ct_tensor_size(b), "%s: sizes differ", what);
    int64_t n = ct_tensor_size(a);
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    CT_STATUS_OK(ct_tensor_read(a, CT_FLOAT32, x, n));
    CT_STATUS_OK(ct_tensor_read(b, CT_FLOAT32, y, n));
    cr_expect(memcmp(x, y, (size_t)n * sizeof *x) == 0, "%s differ", what);
    free(x);
    free(y);
}

/* The optimizer variables of a and b: same count, names and values. */
static void expect_same_optimizer(ct_model *a, ct_model *b) {
    ct_optimizer *oa = ct_model_optimizer(a), *ob = ct_model_optimizer(b);
    CT_OK(oa);
    CT_OK(ob);
    cr_assert_eq(ct_optimizer_num_variables(oa), ct_optimizer_num_variables(ob));
    cr_expect_eq(ct_optimizer_iterations(oa), ct_optimizer_iterations(ob));
    for (int i = 0; i < ct_optimizer_num_variables(oa); i++) {
        ct_variable *va = ct_optimizer_variable(oa, i), *vb = ct_optimizer_variable(ob, i);
        cr_expect_str_eq(ct_variable_name(va), ct_variable_name(vb));
        if (ct_tensor_dtype(ct_variable_value(va)) == CT_FLOAT32)
            expect_same_tensor(ct_variable_value(va), ct_variable_value(vb),
                               ct_variable_name(va));
    }
}

/* Deterministic data: element e of tensor k is a small pattern. */
static ct_tensor *pattern(int rank, const int64_t *shape, int k) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    float *buf = malloc((size_t)n * sizeof *buf);
    for (int64_t e = 0; e < n; e++) buf[e] = (float)(((e * 5 + k * 3) % 17) / 8.0 - 1.0);
    ct_tensor *t = ct_constant(buf, CT_FLOAT32, rank, shape);
    free(buf);
    CT_OK(t);
    return t;
}

/* cnn: x [4, 8, 8, 3], sparse labels [4] of 10 classes. */
static ct_tensor *cnn_x(void) { return pattern(4, (const int64_t[]){4, 8, 8, 3}, 0); }
static ct_tensor *cnn_y(void) {
    ct_tensor *t = ct_constant((float[]){3, 7, 0, 9}, CT_FLOAT32, 1, (const int64_t[]){4});
    CT_OK(t);
    return t;
}

static void compile_cnn(ct_model *m) {
    ct_loss *loss = ct_loss_new("sparse_categorical_crossentropy",
                                &(ct_loss_opts){.from_logits = true});
    CT_OK(loss);
    CT_STATUS_OK(ct_model_compile(m, &(ct_compile_opts){
                                         .optimizer = "adam",
                                         .loss_obj = loss,
                                         .nmetrics = 1,
                                         .metrics = (const char *const[]){"accuracy"},
                                     }));
}

static void train_cnn(ct_model *m, int steps) {
    for (int s = 0; s < steps; s++) {
        ct_scope_begin();
        CT_STATUS_OK(ct_model_train_on_batch(m, cnn_x(), cnn_y(), NULL, NULL));
        ct_scope_end();
    }
}

/* two_inputs: a [4, 4], b [4, 6], y [4, 1] in {0, 1}. */
static void train_two(ct_model *m, int steps) {
    for (int s = 0; s < steps; s++) {
        ct_scope_begin();
        const ct_tensor *x[2] = {pattern(2, (const int64_t[]){4, 4}, 1),
                                 pattern(2, (const int64_t[]){4, 6}, 2)};
        const ct_tensor *y[1] = {
            ct_constant((float[]){1, 0, 0, 1}, CT_FLOAT32, 2, (const int64_t[]){4, 1})};
        CT_STATUS_OK(ct_model_train_on_batch_n(m, 2, x, 1, y, NULL, NULL));
        ct_scope_end();
    }
}

static bool has_attr(const char *path, const char *obj, const char *name) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    bool has = H5Aexists_by_name(f, obj, name, H5P_DEFAULT) > 0;
    H5Fclose(f);
    return has;
}

static bool has_link(const char *path, const char *name) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    bool has = H5Lexists(f, name, H5P_DEFAULT) > 0;
    H5Fclose(f);
    return has;
}

/* Replaces the root's scalar string attribute name by value. */
static void set_root_str(const char *path, const char *name, const char *value) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    if (H5Aexists(f, name) > 0) H5Adelete(f, name);
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(a, 0);
    cr_assert_geq(H5Awrite(a, t, &value), 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    H5Fclose(f);
}

/* ---- round trips ----------------------------------------------------------------------------- */

Test(h5_model, sequential_cnn_continues_training_identically) {
    ct_model *a = made(h5m_cnn());
    CT_STATUS_OK(h5m_fill(a, 0));
    compile_cnn(a);
    train_cnn(a, 3);
    CT_STATUS_OK(ct_model_save(a, path_of("m.h5"), NULL));
    cr_expect(has_attr(path_of("m.h5"), "/", "model_config"));
    cr_expect(has_attr(path_of("m.h5"), "/", "training_config"));
    cr_expect(has_link(path_of("m.h5"), "optimizer_weights"));
    ct_model *b = made(ct_model_load(path_of("m.h5"), NULL));
    cr_expect_str_eq(ct_model_name(b), ct_model_name(a));
    cr_expect_eq(ct_model_num_layers(b), ct_model_num_layers(a));
    expect_same_weights(a, b, "after load");
    expect_same_optimizer(a, b);
    ct_tensor *x = cnn_x();
    expect_same_tensor(ct_model_predict_on_batch(a, x), ct_model_predict_on_batch(b, x),
                       "predictions");
    train_cnn(a, 2);
    train_cnn(b, 2);
    expect_same_weights(a, b, "after two more steps");
    expect_same_optimizer(a, b);
    ct_model_free(a);
    ct_model_free(b);
}

Test(h5_model, functional_two_inputs_continues_training_identically) {
    ct_model *a = made(h5m_two_inputs());
    CT_STATUS_OK(h5m_fill(a, 0));
    ct_optimizer *opt = ct_optimizer_new(
        "rmsprop", &(ct_optimizer_opts){.learning_rate = 0.01, .momentum = 0.5, .centered = true});
    CT_OK(opt);
    CT_STATUS_OK(ct_model_compile(a, &(ct_compile_opts){
                                         .optimizer_obj = opt,
                                         .loss = "binary_crossentropy",
                                         .nmetrics = 2,
                                         .metrics = (const char *const[]){"accuracy", "mse"},
                                     }));
    train_two(a, 3);
    CT_STATUS_OK(ct_model_save(a, path_of("f.h5"), NULL));
    ct_model *b = made(ct_model_load(path_of("f.h5"), &(ct_load_model_opts){.compile = true}));
    cr_expect_eq(ct_model_num_inputs(b), 2);
    expect_same_weights(a, b, "after load");
    expect_same_optimizer(a, b);
    ct_tensor *xs[2] = {pattern(2, (const int64_t[]){4, 4}, 1),
                        pattern(2, (const int64_t[]){4, 6}, 2)};
    ct_tensor *pa, *pb;
    CT_STATUS_OK(ct_model_call_multi(a, 2, xs, false, 1, &pa));
    CT_STATUS_OK(ct_model_call_multi(b, 2, xs, false, 1, &pb));
    expect_same_tensor(pa, pb, "predictions");
    train_two(a, 1);
    train_two(b, 1);
    expect_same_weights(a, b, "after one more step");
    ct_model_free(a);
    ct_model_free(b);
}

Test(h5_model, functional_cnn_with_sgd_momentum) {
    ct_model *a = made(h5m_func_cnn());
    ct_optimizer *opt =
        ct_optimizer_new("sgd", &(ct_optimizer_opts){.learning_rate = 0.05, .momentum = 0.9});
    CT_STATUS_OK(ct_model_compile(a, &(ct_compile_opts){.optimizer_obj = opt, .loss = "mse"}));
    for (int s = 0; s < 2; s++) {
        ct_scope_begin();
        CT_STATUS_OK(ct_model_train_on_batch(a, pattern(4, (const int64_t[]){3, 6, 6, 2}, 4),
                                             pattern(2, (const int64_t[]){3, 2}, 5), NULL,
                                             NULL));
        ct_scope_end();
    }
    CT_STATUS_OK(ct_model_save(a, path_of("c.h5"), NULL));
    ct_model *b = made(ct_model_load(path_of("c.h5"), NULL));
    expect_same_optimizer(a, b);
    for (ct_model *m = a;; m = b) {
        ct_scope_begin();
        CT_STATUS_OK(ct_model_train_on_batch(m, pattern(4, (const int64_t[]){3, 6, 6, 2}, 4),
                                             pattern(2, (const int64_t[]){3, 2}, 5), NULL,
                                             NULL));
        ct_scope_end();
        if (m == b) break;
    }
    expect_same_weights(a, b, "after one more step");
    ct_model_free(a);
    ct_model_free(b);
}

Test(h5_model, compile_false_loads_an_uncompiled_model) {
    ct_model *a = made(h5m_cnn());
    compile_cnn(a);
    train_cnn(a, 1);
    CT_STATUS_OK(ct_model_save(a, path_of("m.h5"), NULL));
    ct_model *b = made(ct_model_load(path_of("m.h5"), &(ct_load_model_opts){.compile = false}));
    expect_same_weights(a, b, "after load");
    ct_tensor *x = cnn_x();
    expect_same_tensor(ct_model_predict_on_batch(a, x), ct_model_predict_on_batch(b, x),
                       "predictions");
    ct_clear_error();
    cr_expect_neq(ct_model_train_on_batch(b, x, cnn_y(), NULL, NULL), CT_OK,
                  "an uncompiled model trained");
    ct_model_free(a);
    ct_model_free(b);
}

Test(h5_model, uncompiled_and_untrained_models) {
    /* Not compiled: no training_config, no optimizer_weights. */
    ct_model *a = made(h5m_cnn());
    CT_STATUS_OK(h5m_fill(a, 0));
    CT_STATUS_OK(ct_model_save(a, path_of("u.h5"), NULL));
    cr_expect(!has_attr(path_of("u.h5"), "/", "training_config"));
    cr_expect(!has_link(path_of("u.h5"), "optimizer_weights"));
    ct_model *b = made(ct_model_load(path_of("u.h5"), NULL));
    expect_same_weights(a, b, "uncompiled");
    ct_model_free(b);
    /* Compiled, never trained: training_config but no optimizer_weights;
     * the loaded model is compiled and trains as the original. */
    compile_cnn(a);
    CT_STATUS_OK(ct_model_save(a, path_of("c.h5"), NULL));
    cr_expect(has_attr(path_of("c.h5"), "/", "training_config"));
    cr_expect(!has_link(path_of("c.h5"), "optimizer_weights"));
    b = made(ct_model_load(path_of("c.h5"), NULL));
    train_cnn(a, 2);
    train_cnn(b, 2);
    expect_same_weights(a, b, "compiled, untrained");
    ct_model_free(a);
    ct_model_free(b);
}

Test(h5_model, load_weights_reads_a_full_model_file) {
    ct_model *a = made(h5m_cnn());
    CT_STATUS_OK(h5m_fill(a, 0));
    compile_cnn(a);
    train_cnn(a, 1);
    CT_STATUS_OK(ct_model_save(a, path_of("m.h5"), NULL));
    ct_layer_reset_names();
    ct_model *b = made(h5m_cnn());
    CT_STATUS_OK(ct_model_load_weights(b, path_of("m.h5"), NULL));
    expect_same_weights(a, b, "load_weights");
    ct_model_free(a);
    ct_model_free(b);
}

/* ---- errors ---------------------------------------------------------------------------------- */

Test(h5_model, a_weights_file_is_an_error) {
    ct_model *a = made(h5m_cnn());
    CT_STATUS_OK(ct_model_save_weights(a, path_of("w.h5"), NULL));
    CT_FAILS(ct_model_load(path_of("w.h5"), NULL),
             "no model_config: a weights file; build the model and use ct_model_load_weights");
    ct_model_free(a);
}

Test(h5_model, file_errors) {
    CT_FAILS(ct_model_load(path_of("missing.h5"), NULL), "cannot read it");
    FILE *f = fopen(path_of("text.h5"), "w");
    fputs("not hdf5\n", f);
    fclose(f);
    CT_FAILS(ct_model_load(path_of("text.h5"), NULL), "not an HDF5 file");
    /* Cut short. */
    ct_model *a = made(h5m_cnn());
    CT_STATUS_OK(ct_model_save(a, path_of("m.h5"), NULL));
    cr_assert_eq(truncate(path_of("m.h5"), 1500), 0);
    ct_clear_error();
    cr_expect_null(ct_model_load(path_of("m.h5"), NULL));
    cr_expect(strstr(ct_last_error(), path_of("m.h5")) != NULL, "%s", ct_last_error());
    ct_model_free(a);
}

Test(h5_model, bad_model_config_json) {
    ct_model *a = made(h5m_cnn());
    CT_STATUS_OK(ct_model_save(a, path_of("m.h5"), NULL));
    set_root_str(path_of("m.h5"), "model_config", "{\"class_name\": \"Sequential\", ");
    CT_FAILS(ct_model_load(path_of("m.h5"), NULL), "model_config is not valid JSON");
    ct_model_free(a);
}

Test(h5_model, a_config_ctrain_cannot_build) {
    ct_model *a = made(h5m_cnn());
    CT_STATUS_OK(ct_model_save(a, path_of("m.h5"), NULL));
    set_root_str(path_of("m.h5"), "model_config",
                 "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": "
                 "[{\"class_name\": \"NoSuchLayer\", \"config\": {}}]}}");
    char want[300];
    snprintf(want, sizeof want, "ct_model_load: '%s': model_config: ", path_of("m.h5"));
    CT_FAILS(ct_model_load(path_of("m.h5"), NULL), want);
    cr_expect(strstr(ct_last_error(), "NoSuchLayer") != NULL, "%s", ct_last_error());
    ct_model_free(a);
}

Test(h5_model, bad_training_config) {
    ct_model *a = made(h5m_cnn());
    compile_cnn(a);
    CT_STATUS_OK(ct_model_save(a, path_of("m.h5"), NULL));
    set_root_str(path_of("m.h5"), "training_config", "{\"loss\": ");
    CT_FAILS(ct_model_load(path_of("m.h5"), NULL), "training_config is not valid JSON");
    /* compile false ignores it. */
    ct_model *b = made(ct_model_load(path_of("m.h5"), &(ct_load_model_opts){.compile = false}));
    ct_model_free(b);
    set_root_str(path_of("m.h5"), "training_config",
                 "{\"loss\": \"no_such_loss\", \"optimizer_config\": {\"class_name\": \"Adam\", "
                 "\"config\": {}}}");
    CT_FAILS(ct_model_load(path_of("m.h5"), NULL), "training_config");
    ct_model_free(a);
}

Test(h5_model, optimizer_weights_that_do_not_fit) {
    ct_model *a = made(h5m_cnn());
    compile_cnn(a);
    train_cnn(a, 1);
    CT_STATUS_OK(ct_model_save(a, path_of("m.h5"), NULL));
    /* One name fewer in weight_names. */
    hid_t f = H5Fopen(path_of("m.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    hid_t g = H5Gopen2(f, "optimizer_weights", H5P_DEFAULT);
    H5Adelete(g, "weight_names");
    const char names[2][24] = {"iteration:0", "m/conv2d/kernel:0"};
    hsize_t dims[1] = {2};
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate_simple(1, dims, NULL);
    H5Tset_size(t, 24);
    hid_t at = H5Acreate2(g, "weight_names", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(at, t, names);
    H5Aclose(at);
    H5Sclose(sp);
    H5Tclose(t);
    H5Gclose(g);
    H5Fclose(f);
    CT_FAILS(ct_model_load(path_of("m.h5"), NULL), "optimizer_weights holds 2 variables");
    /* Without compile the file still loads. */
    ct_model *b = made(ct_model_load(path_of("m.h5"), &(ct_load_model_opts){.compile = false}));
    ct_model_free(b);
    ct_model_free(a);
}

Test(h5_model, mismatched_model_weights) {
    ct_model *a = made(h5m_cnn());
    CT_STATUS_OK(ct_model_save(a, path_of("m.h5"), NULL));
    /* A config whose Dense has other units than the weights. */
    char *cfg = ct_model_to_json(a);
    CT_OK(cfg);
    char *p = strstr(cfg, "\"units\":10");
    cr_assert_not_null(p, "%s", cfg);
    memcpy(p, "\"units\":11", 10);
    set_root_str(path_of("m.h5"), "model_config", cfg);
    free(cfg);
    CT_FAILS(ct_model_load(path_of("m.h5"), NULL), "does not match the model's");
    ct_model_free(a);
}

static ct_tensor *identity_call(ct_model *self, void *ctx, int n, ct_tensor *const *x,
                                bool training) {
    (void)self, (void)ctx, (void)n, (void)training;
    return x[0];
}

Test(h5_model, a_subclassed_model_has_no_config) {
    ct_model *m = made(ct_model_subclass_new("Sub", NULL, identity_call, NULL, NULL));
    CT_OK(ct_model_call(m, pattern(2, (const int64_t[]){2, 3}, 0), false));
    CT_FAILS_STATUS(ct_model_save(m, path_of("s.h5"), NULL), "has no config");
    cr_expect(access(path_of("s.h5"), F_OK) != 0, "a failed save left a file");
    ct_model_free(m);
}

/* Two outputs: a loss per output (one from logits), loss_weights and
 * metrics per output come back from training_config. */
Test(h5_model, two_outputs_with_losses_weights_and_metrics) {
    ct_graph *g = ct_graph_new();
    ct_ktensor *in = ct_input(g, 1, (const int64_t[]){5}, CT_FLOAT32, "x");
    ct_ktensor *h = ct_apply(ct_layer_new("Dense", "{\"units\": 6, \"activation\": \"tanh\"}"), in);
    ct_ktensor *o1 = ct_apply(ct_layer_new("Dense", "{\"units\": 2, \"name\": \"reg\"}"), h);
    ct_ktensor *o2 = ct_apply(ct_layer_new("Dense", "{\"units\": 1, \"name\": \"cls\"}"), h);
    ct_ktensor *outs[2] = {o1, o2};
    ct_model *a = made(ct_functional_new("two_out", 1, &in, 2, outs));
    ct_graph_free(g);
    ct_loss *bce = ct_loss_new("binary_crossentropy", &(ct_loss_opts){.from_logits = true});
    CT_OK(bce);
    ct_output_metrics om[2] = {
        {.output = "reg", .nmetrics = 1, .metrics = (const char *const[]){"mae"}},
        {.output = "cls", .nmetrics = 1, .metrics = (const char *const[]){"accuracy"}},
    };
    CT_STATUS_OK(ct_model_compile(a, &(ct_compile_opts){
                                         .optimizer = "nadam",
                                         .nlosses = 2,
                                         .losses = (const char *const[]){"mse", NULL},
                                         .loss_objs = (ct_loss *const[]){NULL, bce},
                                         .loss_weights = (const double[]){0.3, 0.7},
                                         .noutput_metrics = 2,
                                         .output_metrics = om,
                                     }));
    ct_model *models[2] = {a, NULL};
    for (int phase = 0; phase < 2; phase++) {
        if (phase == 1) {
            CT_STATUS_OK(ct_model_save(a, path_of("two.h5"), NULL));
            models[1] = made(ct_model_load(path_of("two.h5"), NULL));
            expect_same_weights(a, models[1], "after load");
            expect_same_optimizer(a, models[1]);
        }
        for (int k = 0; k <= phase; k++) {
            ct_model *m = models[k];
            for (int s = 0; s < 2; s++) {
                ct_scope_begin();
                const ct_tensor *x[1] = {pattern(2, (const int64_t[]){4, 5}, 7)};
                const ct_tensor *y[2] = {pattern(2, (const int64_t[]){4, 2}, 8),
                                         ct_constant((float[]){1, 0, 1, 1}, CT_FLOAT32, 2,
                                                     (const int64_t[]){4, 1})};
                ct_logs *logs = NULL;
                CT_STATUS_OK(ct_model_train_on_batch_n(m, 1, x, 2, y, NULL, &logs));
                bool found;
                ct_logs_get(logs, "cls_accuracy", &found);
                cr_expect(found, "no cls_accuracy in the logs");
                ct_logs_get(logs, "reg_mae", &found);
                cr_expect(found, "no reg_mae in the logs");
                ct_logs_free(logs);
                ct_scope_end();
            }
        }
    }
    expect_same_weights(a, models[1], "after two more steps");
    ct_model_free(a);
    ct_model_free(models[1]);
}
