/*
 * The training loop: compile, fit, evaluate, predict and the *_on_batch
 * calls on small synthetic problems. Values are checked against hand
 * computations (one SGD step of a one-weight Dense layer), against the
 * library's own pieces (predict vs the model call, evaluate vs the
 * predictions, "accuracy" vs the metric Keras resolves it to), and
 * against the known solutions of the problems (the true weights of a
 * linear regression, XOR, separable classes). Every run is seeded.
 */
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(fit, .init = ct_test_layer_begin, .fini = ct_test_end);

#define CT_FAILS_ST(expr, needle)                                                                  \
    do {                                                                                           \
        ct_clear_error();                                                                          \
        ct_status st_ = (expr);                                                                    \
        cr_assert_neq(st_, CT_OK, "expected an error containing \"%s\"", (needle));                \
        cr_assert(strstr(ct_last_error(), (needle)) != NULL,                                       \
                  "error \"%s\" does not mention \"%s\"", ct_last_error(), (needle));              \
    } while (0)

/* A Sequential model of Dense layers from their configs. */
static ct_model *dense_model(int n, const char *const *cfgs) {
    ct_model *m = ct_sequential_new(NULL);
    CT_OK(m);
    for (int i = 0; i < n; i++)
        CT_STATUS_OK(ct_sequential_add(m, ct_layer_new("Dense", cfgs[i])));
    return m;
}

static void compile(ct_model *m, ct_optimizer *opt, const char *loss, int nmetrics,
                    const char *const *metrics) {
    CT_STATUS_OK(ct_model_compile(
        m, &(ct_compile_opts){
               .optimizer_obj = opt, .loss = loss, .nmetrics = nmetrics, .metrics = metrics}));
}

static ct_optimizer *sgd(double lr) {
    ct_optimizer *o = ct_optimizer_new("sgd", &(ct_optimizer_opts){.learning_rate = lr});
    CT_OK(o);
    return o;
}

static ct_optimizer *adam(double lr) {
    ct_optimizer *o = ct_optimizer_new("adam", &(ct_optimizer_opts){.learning_rate = lr});
    CT_OK(o);
    return o;
}

static double last(const ct_history *h, const char *key) {
    return ct_history_value(h, key, ct_history_epochs(h) - 1);
}

static double weight_at(ct_model *m, int w, int64_t i) {
    ct_variable *v = ct_layer_weight(ct_model_layer(m), w);
    CT_OK(v);
    return ct_tensor_get(ct_variable_value(v), i);
}

/* y = 2 x0 - 3 x1 + 1 on 64 points. */
static void linear_data(ct_tensor **x, ct_tensor **y) {
    float xs[128], ys[64];
    for (int i = 0; i < 64; i++) {
        xs[2 * i] = (float)((i % 8) / 4.0 - 1.0);
        xs[2 * i + 1] = (float)(((i * 3) % 7) / 3.5 - 1.0);
        ys[i] = 2 * xs[2 * i] - 3 * xs[2 * i + 1] + 1;
    }
    *x = ct_constant(xs, CT_FLOAT32, CT_DIMS(64, 2));
    *y = ct_constant(ys, CT_FLOAT32, CT_DIMS(64, 1));
}

Test(fit, linear_regression_converges_to_the_true_weights) {
    ct_set_random_seed(1);
    ct_tensor *x, *y;
    linear_data(&x, &y);
    ct_model *m = dense_model(1, (const char *[]){"{\"units\": 1}"});
    compile(m, sgd(0.1), "mse", 0, NULL);
    ct_history *h = ct_model_fit(
        m, &(ct_fit_opts){
               .x = x, .y = y, .batch_size = 16, .epochs = 150, .verbose = CT_VERBOSE_SILENT});
    CT_OK(h);
    cr_assert_eq(ct_history_epochs(h), 150);
    cr_assert_eq(ct_history_num_keys(h), 1);
    cr_assert_str_eq(ct_history_key(h, 0), "loss");
    cr_assert(last(h, "loss") < 1e-6, "final loss %g", last(h, "loss"));
    cr_assert(ct_history_value(h, "loss", 0) > last(h, "loss"));
    cr_assert_float_eq(weight_at(m, 0, 0), 2.0, 1e-3);
    cr_assert_float_eq(weight_at(m, 0, 1), -3.0, 1e-3);
    cr_assert_float_eq(weight_at(m, 1, 0), 1.0, 1e-3);
    ct_history_free(h);
    ct_model_free(m);
}

Test(fit, xor_mlp_reaches_full_accuracy) {
    ct_set_random_seed(3);
    ct_tensor *x = CT_F32(CT_DIMS(4, 2), 0, 0, 0, 1, 1, 0, 1, 1);
    ct_tensor *y = CT_F32(CT_DIMS(4, 1), 0, 1, 1, 0);
    ct_model *m = dense_model(2, (const char *[]){"{\"units\": 8, \"activation\": \"tanh\"}",
                                                  "{\"units\": 1, \"activation\": \"sigmoid\"}"});
    compile(m, adam(0.05), "binary_crossentropy", 2,
            (const char *[]){"accuracy", "binary_accuracy"});
    ct_history *h = ct_model_fit(
        m, &(ct_fit_opts){
               .x = x, .y = y, .batch_size = 4, .epochs = 300, .verbose = CT_VERBOSE_SILENT});
    CT_OK(h);
    /* "accuracy" on a one-unit output is BinaryAccuracy, logged as "accuracy". */
    for (int e = 0; e < 300; e++)
        cr_assert_eq(ct_history_value(h, "accuracy", e), ct_history_value(h, "binary_accuracy", e));
    cr_assert_eq(last(h, "accuracy"), 1.0);
    ct_tensor *p = ct_model_predict(m, &(ct_eval_opts){.x = x, .verbose = CT_VERBOSE_SILENT});
    CT_OK(p);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ct_tensor_get(p, i) > 0.5, ct_tensor_get(y, i) > 0.5, "sample %d", i);
    ct_history_free(h);
    ct_model_free(m);
}

/* Three separable clusters, 30 points. */
static void cluster_data(ct_tensor **x, ct_tensor **labels, ct_tensor **onehot) {
    static const float c[3][2] = {{0, 3}, {3, 0}, {-3, -3}};
    float xs[60], oh[90] = {0};
    int32_t ls[30];
    for (int i = 0; i < 30; i++) {
        int k = i % 3;
        xs[2 * i] = c[k][0] + (float)(((i * 7) % 5) - 2) * 0.2f;
        xs[2 * i + 1] = c[k][1] + (float)(((i * 3) % 5) - 2) * 0.2f;
        ls[i] = k;
        oh[3 * i + k] = 1;
    }
    *x = ct_constant(xs, CT_FLOAT32, CT_DIMS(30, 2));
    if (labels) *labels = ct_constant(ls, CT_INT32, CT_DIMS(30));
    if (onehot) *onehot = ct_constant(oh, CT_FLOAT32, CT_DIMS(30, 3));
}

Test(fit, sparse_labels_resolve_accuracy_to_sparse_categorical) {
    ct_set_random_seed(5);
    ct_tensor *x, *labels;
    cluster_data(&x, &labels, NULL);
    ct_model *m = dense_model(1, (const char *[]){"{\"units\": 3, \"activation\": \"softmax\"}"});
    compile(m, adam(0.05), "sparse_categorical_crossentropy", 2,
            (const char *[]){"accuracy", "sparse_categorical_accuracy"});
    ct_history *h = ct_model_fit(
        m, &(ct_fit_opts){
               .x = x, .y = labels, .batch_size = 8, .epochs = 40, .verbose = CT_VERBOSE_SILENT});
    CT_OK(h);
    cr_assert_str_eq(ct_history_key(h, 0), "loss");
    cr_assert_str_eq(ct_history_key(h, 1), "accuracy");
    for (int e = 0; e < 40; e++)
        cr_assert_eq(ct_history_value(h, "accuracy", e),
                     ct_history_value(h, "sparse_categorical_accuracy", e));
    cr_assert_eq(last(h, "accuracy"), 1.0);
    cr_assert(last(h, "loss") < ct_history_value(h, "loss", 0));
    ct_history_free(h);
    ct_model_free(m);
}

Test(fit, one_hot_labels_resolve_acc_to_categorical) {
    ct_set_random_seed(5);
    ct_tensor *x, *onehot;
    cluster_data(&x, NULL, &onehot);
    ct_model *m = dense_model(1, (const char *[]){"{\"units\": 3, \"activation\": \"softmax\"}"});
    compile(m, adam(0.05), "categorical_crossentropy", 2,
            (const char *[]){"acc", "categorical_accuracy"});
    ct_history *h = ct_model_fit(
        m, &(ct_fit_opts){
               .x = x, .y = onehot, .batch_size = 8, .epochs = 5, .verbose = CT_VERBOSE_SILENT});
    CT_OK(h);
    cr_assert_str_eq(ct_history_key(h, 1), "acc");
    for (int e = 0; e < 5; e++)
        cr_assert_eq(ct_history_value(h, "acc", e), ct_history_value(h, "categorical_accuracy", e));
    ct_history_free(h);
    ct_model_free(m);
}

/* One fit of a freshly seeded model: from tensors, or the same batches
 * from a dataset. */
static ct_history *seeded_fit(ct_tensor *x, ct_tensor *y, bool dataset) {
    ct_set_random_seed(11);
    ct_model *m = dense_model(
        2, (const char *[]){"{\"units\": 4, \"activation\": \"relu\"}", "{\"units\": 1}"});
    compile(m, sgd(0.05), "mse", 1, (const char *[]){"mae"});
    ct_dataset *ds = NULL;
    if (dataset) {
        ds = ct_dataset_batch(ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {x, y}}), 16,
                              false);
        CT_OK(ds);
    }
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.x = dataset ? NULL : x,
                                                   .y = dataset ? NULL : y,
                                                   .dataset = ds,
                                                   .batch_size = dataset ? 0 : 16,
                                                   .epochs = 4,
                                                   .no_shuffle = true,
                                                   .verbose = CT_VERBOSE_SILENT});
    CT_OK(h);
    ct_dataset_free(ds);
    ct_model_free(m);
    return h;
}

Test(fit, dataset_and_tensors_give_the_same_history) {
    ct_tensor *x, *y;
    linear_data(&x, &y);
    ct_history *a = seeded_fit(x, y, false), *b = seeded_fit(x, y, true);
    cr_assert_eq(ct_history_epochs(a), 4);
    cr_assert_eq(ct_history_epochs(b), 4);
    for (int e = 0; e < 4; e++) {
        cr_assert_eq(ct_history_value(a, "loss", e), ct_history_value(b, "loss", e), "epoch %d", e);
        cr_assert_eq(ct_history_value(a, "mae", e), ct_history_value(b, "mae", e), "epoch %d", e);
    }
    ct_history_free(a);
    ct_history_free(b);
}

Test(fit, shuffling_is_seeded) {
    ct_tensor *x, *y;
    linear_data(&x, &y);
    ct_history *h[2];
    for (int k = 0; k < 2; k++) {
        ct_set_random_seed(21);
        ct_model *m = dense_model(1, (const char *[]){"{\"units\": 1}"});
        compile(m, sgd(0.05), "mse", 0, NULL);
        h[k] = ct_model_fit(
            m, &(ct_fit_opts){
                   .x = x, .y = y, .batch_size = 8, .epochs = 3, .verbose = CT_VERBOSE_SILENT});
        CT_OK(h[k]);
        ct_model_free(m);
    }
    for (int e = 0; e < 3; e++)
        cr_assert_eq(ct_history_value(h[0], "loss", e), ct_history_value(h[1], "loss", e));
    ct_history_free(h[0]);
    ct_history_free(h[1]);
}

Test(fit, validation_split_takes_the_last_fraction) {
    ct_set_random_seed(2);
    ct_tensor *x, *y;
    linear_data(&x, &y);
    ct_model *m = dense_model(1, (const char *[]){"{\"units\": 1}"});
    compile(m, sgd(0.05), "mse", 1, (const char *[]){"mae"});
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.x = x,
                                                   .y = y,
                                                   .batch_size = 8,
                                                   .epochs = 3,
                                                   .validation_split = 0.25,
                                                   .verbose = CT_VERBOSE_SILENT});
    CT_OK(h);
    const char *keys[] = {"loss", "mae", "val_loss", "val_mae"};
    cr_assert_eq(ct_history_num_keys(h), 4);
    for (int i = 0; i < 4; i++)
        cr_assert_str_eq(ct_history_key(h, i), keys[i]);
    /* The last epoch's validation ran on the final weights over rows 48..63. */
    ct_tensor *vx = ct_getitem(x, "48:"), *vy = ct_getitem(y, "48:");
    ct_logs *r;
    CT_STATUS_OK(ct_model_evaluate(
        m, &(ct_eval_opts){.x = vx, .y = vy, .batch_size = 8, .verbose = CT_VERBOSE_SILENT}, &r));
    cr_assert_float_eq(ct_logs_get(r, "loss", NULL), last(h, "val_loss"), 1e-6);
    cr_assert_float_eq(ct_logs_get(r, "mae", NULL), last(h, "val_mae"), 1e-6);
    ct_logs_free(r);
    ct_history_free(h);
    ct_model_free(m);
}

Test(fit, validation_data_every_other_epoch) {
    ct_set_random_seed(2);
    ct_tensor *x, *y;
    linear_data(&x, &y);
    ct_model *m = dense_model(1, (const char *[]){"{\"units\": 1}"});
    compile(m, sgd(0.05), "mse", 0, NULL);
    ct_dataset *vds = ct_dataset_batch(
        ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {x, y}}), 10, false);
    CT_OK(vds);
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.x = x,
                                                   .y = y,
                                                   .epochs = 4,
                                                   .validation_data = vds,
                                                   .validation_freq = 2,
                                                   .verbose = CT_VERBOSE_SILENT});
    CT_OK(h);
    /* history.history["val_loss"] holds the two validations (epochs 2 and 4). */
    cr_assert_eq(ct_history_epochs(h), 4);
    cr_assert(isfinite(ct_history_value(h, "val_loss", 0)));
    cr_assert(isfinite(ct_history_value(h, "val_loss", 1)));
    cr_assert(isnan(ct_history_value(h, "val_loss", 2)));
    cr_assert(isnan(ct_history_value(h, "nope", 0)));
    ct_logs *r;
    CT_STATUS_OK(
        ct_model_evaluate(m, &(ct_eval_opts){.x = x, .y = y, .verbose = CT_VERBOSE_SILENT}, &r));
    cr_assert_float_eq(ct_logs_get(r, "loss", NULL), ct_history_value(h, "val_loss", 1), 1e-6);
    ct_logs_free(r);
    ct_dataset_free(vds);
    ct_history_free(h);
    ct_model_free(m);
}

/* Binary labels and the per-sample weights class_weight {1, 3} gives them. */
static ct_history *weighted_fit(bool use_class_weight) {
    ct_tensor *x, *y;
    linear_data(&x, &y);
    y = ct_cast(ct_greater(y, ct_scalar(0)), CT_FLOAT32);
    ct_tensor *sw = ct_add(ct_multiply(ct_reshape(y, CT_DIMS(64)), ct_scalar(2)), ct_scalar(1));
    ct_set_random_seed(4);
    ct_model *m = dense_model(1, (const char *[]){"{\"units\": 1, \"activation\": \"sigmoid\"}"});
    compile(m, sgd(0.1), "binary_crossentropy", 0, NULL);
    ct_history *h = ct_model_fit(
        m, &(ct_fit_opts){.x = x,
                          .y = y,
                          .batch_size = 16,
                          .epochs = 2,
                          .no_shuffle = true,
                          .sample_weight = use_class_weight ? NULL : sw,
                          .nclass_weight = use_class_weight ? 2 : 0,
                          .class_weight = use_class_weight ? (const double[]){1, 3} : NULL,
                          .verbose = CT_VERBOSE_SILENT});
    CT_OK(h);
    ct_model_free(m);
    return h;
}

Test(fit, class_weight_equals_the_sample_weights_it_implies) {
    ct_history *a = weighted_fit(true), *b = weighted_fit(false);
    for (int e = 0; e < 2; e++)
        cr_assert_float_eq(ct_history_value(a, "loss", e), ct_history_value(b, "loss", e), 1e-7);
    ct_history_free(a);
    ct_history_free(b);
}

Test(fit, class_weight_errors) {
    ct_tensor *x, *y;
    linear_data(&x, &y);
    ct_tensor *lab = ct_cast(ct_greater(y, ct_scalar(0)), CT_FLOAT32);
    ct_model *m = dense_model(1, (const char *[]){"{\"units\": 1}"});
    compile(m, sgd(0.1), "mse", 0, NULL);
    CT_FAILS(ct_model_fit(m, &(ct_fit_opts){.x = x,
                                            .y = lab,
                                            .sample_weight = ct_ones(CT_FLOAT32, CT_DIMS(64)),
                                            .nclass_weight = 2,
                                            .class_weight = (const double[]){1, 2},
                                            .verbose = CT_VERBOSE_SILENT}),
             "class_weight and sample_weight");
    CT_FAILS(ct_model_fit(m, &(ct_fit_opts){.x = x,
                                            .y = lab,
                                            .nclass_weight = 1,
                                            .class_weight = (const double[]){1},
                                            .verbose = CT_VERBOSE_SILENT}),
             "class_weight has 1 entries but a label is 1");
    ct_model_free(m);
}

/* Dense(1) without bias, kernel 0, x = [[1], [2]], y = [[2], [4]]. */
static ct_model *one_weight_model(void) {
    ct_model *m = dense_model(
        1,
        (const char *[]){"{\"units\": 1, \"use_bias\": false, \"kernel_initializer\": \"zeros\"}"});
    compile(m, sgd(0.1), "mse", 0, NULL);
    return m;
}

Test(fit, train_on_batch_is_one_sgd_step) {
    ct_model *m = one_weight_model();
    ct_tensor *x = CT_F32(CT_DIMS(2, 1), 1, 2), *y = CT_F32(CT_DIMS(2, 1), 2, 4);
    ct_logs *r;
    /* loss = ((0-2)^2 + (0-4)^2) / 2 = 10; dL/dw = (2(-2)(1) + 2(-4)(2)) / 2 = -10. */
    CT_STATUS_OK(ct_model_train_on_batch(m, x, y, NULL, &r));
    cr_assert_eq(ct_logs_size(r), 1);
    cr_assert_str_eq(ct_logs_key(r, 0), "loss");
    cr_assert_float_eq(ct_logs_value(r, 0), 10.0, 1e-6);
    cr_assert_float_eq(weight_at(m, 0, 0), 1.0, 1e-6);
    ct_logs_free(r);
    /* w = 1: loss (1 + 4) / 2 = 2.5; Keras 3 keeps the tracker running
     * across calls: (10 * 2 + 2.5 * 2) / 4. */
    CT_STATUS_OK(ct_model_train_on_batch(m, x, y, NULL, &r));
    cr_assert_float_eq(ct_logs_get(r, "loss", NULL), 6.25, 1e-6);
    cr_assert_float_eq(weight_at(m, 0, 0), 1.5, 1e-6);
    ct_logs_free(r);
    /* evaluate resets: w = 1.5, loss = (0.25 + 1) / 2. */
    CT_STATUS_OK(
        ct_model_evaluate(m, &(ct_eval_opts){.x = x, .y = y, .verbose = CT_VERBOSE_SILENT}, &r));
    cr_assert_float_eq(ct_logs_get(r, "loss", NULL), 0.625, 1e-6);
    ct_logs_free(r);
    CT_STATUS_OK(ct_model_test_on_batch(m, x, y, NULL, &r));
    cr_assert_float_eq(ct_logs_get(r, "loss", NULL), 0.625, 1e-6);
    ct_logs_free(r);
    CT_STATUS_OK(ct_model_train_on_batch(m, x, y, NULL, NULL));
    ct_tensor *p = ct_model_predict_on_batch(m, x);
    CT_EXPECT(p, CT_FLOAT32, CT_DIMS(2, 1), 1e-6, 1.75, 3.5);
    ct_model_free(m);
}

Test(fit, sample_weight_scales_the_per_sample_losses) {
    ct_model *m = one_weight_model();
    ct_tensor *x = CT_F32(CT_DIMS(2, 1), 1, 2), *y = CT_F32(CT_DIMS(2, 1), 2, 4);
    ct_logs *r;
    /* (1 * 4 + 0 * 16) / 2 = 2; dL/dw = (1 * 2 (-2)(1)) / 2 = -2. */
    CT_STATUS_OK(ct_model_train_on_batch(m, x, y, CT_F32(CT_DIMS(2), 1, 0), &r));
    cr_assert_float_eq(ct_logs_get(r, "loss", NULL), 2.0, 1e-6);
    cr_assert_float_eq(weight_at(m, 0, 0), 0.2, 1e-6);
    ct_logs_free(r);
    ct_model_free(m);
}

Test(fit, regularization_loss_is_added) {
    ct_model *m = dense_model(
        1, (const char *[]){
               "{\"units\": 1, \"use_bias\": false, \"kernel_initializer\": \"ones\", "
               "\"kernel_regularizer\": {\"class_name\": \"L2\", \"config\": {\"l2\": 0.5}}}"});
    compile(m, sgd(0.1), "mse", 0, NULL);
    ct_logs *r;
    /* w = 1: mse 0 plus 0.5 * 1^2; the gradient 2 * 0.5 * w moves w to 0.9. */
    CT_STATUS_OK(ct_model_train_on_batch(m, CT_F32(CT_DIMS(2, 1), 1, 2),
                                         CT_F32(CT_DIMS(2, 1), 1, 2), NULL, &r));
    cr_assert_float_eq(ct_logs_get(r, "loss", NULL), 0.5, 1e-6);
    cr_assert_float_eq(weight_at(m, 0, 0), 0.9, 1e-6);
    ct_logs_free(r);
    ct_model_free(m);
}

Test(fit, predict_and_evaluate_in_batches) {
    ct_set_random_seed(9);
    ct_model *m = dense_model(1, (const char *[]){"{\"units\": 2}"});
    compile(m, sgd(0.1), "mse", 1, (const char *[]){"mae"});
    ct_tensor *x = ct_test_pattern(CT_FLOAT32, CT_DIMS(10, 3), 1, NULL);
    ct_tensor *y = ct_test_pattern(CT_FLOAT32, CT_DIMS(10, 2), 2, NULL);
    ct_tensor *p =
        ct_model_predict(m, &(ct_eval_opts){.x = x, .batch_size = 4, .verbose = CT_VERBOSE_SILENT});
    CT_OK(p);
    ct_expect_shape(p, CT_DIMS(10, 2));
    ct_tensor *whole = ct_model_call(m, x, false);
    double *want = ct_test_read_all(whole);
    ct_expect(p, CT_FLOAT32, CT_DIMS(10, 2), want, 1e-6);
    free(want);
    /* The batch-size-weighted mean of the batch losses is the mean over
     * every sample. */
    double *pv = ct_test_read_all(p), *yv = ct_test_read_all(y);
    double mse = 0, mae = 0;
    for (int i = 0; i < 20; i++) {
        mse += (pv[i] - yv[i]) * (pv[i] - yv[i]) / 20;
        mae += fabs(pv[i] - yv[i]) / 20;
    }
    free(pv);
    free(yv);
    ct_logs *r;
    CT_STATUS_OK(ct_model_evaluate(
        m, &(ct_eval_opts){.x = x, .y = y, .batch_size = 4, .verbose = CT_VERBOSE_SILENT}, &r));
    cr_assert_eq(ct_logs_size(r), 2);
    cr_assert_float_eq(ct_logs_get(r, "loss", NULL), mse, 1e-5);
    cr_assert_float_eq(ct_logs_get(r, "mae", NULL), mae, 1e-5);
    ct_logs_free(r);
    /* A dataset's elements: predict takes their first component. */
    ct_dataset *ds = ct_dataset_batch(
        ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {x, y}}), 3, false);
    CT_OK(ds);
    ct_tensor *pd =
        ct_model_predict(m, &(ct_eval_opts){.dataset = ds, .verbose = CT_VERBOSE_SILENT});
    CT_OK(pd);
    want = ct_test_read_all(p);
    ct_expect(pd, CT_FLOAT32, CT_DIMS(10, 2), want, 0);
    free(want);
    ct_dataset_free(ds);
    ct_model_free(m);
}

Test(fit, compile_choices) {
    ct_model *m = dense_model(1, (const char *[]){"{\"units\": 1}"});
    /* No optimizer: RMSprop, as Keras. */
    CT_STATUS_OK(ct_model_compile(m, &(ct_compile_opts){.loss = "mse"}));
    char *cfg = ct_optimizer_get_config(ct_model_optimizer(m));
    CT_OK(cfg);
    cr_assert(strstr(cfg, "RMSprop"), "%s", cfg);
    free(cfg);
    /* Recompiling replaces the state; metric names log as given. */
    ct_metric *auc = ct_metric_new("AUC", NULL);
    CT_STATUS_OK(
        ct_model_compile(m, &(ct_compile_opts){.optimizer = "adam",
                                               .loss = "mse",
                                               .nmetrics = 2,
                                               .metrics = (const char *[]){"mse", "Precision"},
                                               .nmetric_objs = 1,
                                               .metric_objs = (ct_metric *[]){auc}}));
    cfg = ct_optimizer_get_config(ct_model_optimizer(m));
    cr_assert(strstr(cfg, "Adam"), "%s", cfg);
    free(cfg);
    ct_tensor *x = CT_F32(CT_DIMS(4, 1), 0, 1, 2, 3), *y = CT_F32(CT_DIMS(4, 1), 0, 1, 1, 0);
    ct_logs *r;
    CT_STATUS_OK(ct_model_test_on_batch(m, x, y, NULL, &r));
    const char *keys[] = {"loss", "mse", "precision", "auc"};
    cr_assert_eq(ct_logs_size(r), 4);
    for (int i = 0; i < 4; i++)
        cr_assert_str_eq(ct_logs_key(r, i), keys[i]);
    ct_logs_free(r);
    /* A failed compile keeps the previous state and frees what it was given. */
    ct_optimizer *o = sgd(0.1);
    CT_FAILS_ST(ct_model_compile(m, &(ct_compile_opts){.optimizer_obj = o, .loss = "no_such_loss"}),
                "no_such_loss");
    cfg = ct_optimizer_get_config(ct_model_optimizer(m));
    cr_assert(strstr(cfg, "Adam"), "%s", cfg);
    free(cfg);
    CT_FAILS_ST(ct_model_compile(m, &(ct_compile_opts){.optimizer = "nadamx"}), "nadamx");
    ct_model_free(m);
}

Test(fit, errors_name_the_cause) {
    ct_model *m = dense_model(1, (const char *[]){"{\"units\": 3}"});
    ct_tensor *x = ct_zeros(CT_FLOAT32, CT_DIMS(8, 2)), *y = ct_zeros(CT_FLOAT32, CT_DIMS(8, 2));
    CT_FAILS(ct_model_fit(m, &(ct_fit_opts){.x = x, .y = y, .verbose = CT_VERBOSE_SILENT}),
             "compile()");
    CT_FAILS_ST(ct_model_evaluate(m, &(ct_eval_opts){.x = x, .y = y}, NULL), "compile()");
    CT_STATUS_OK(ct_model_compile(m, &(ct_compile_opts){.optimizer = "sgd"}));
    CT_FAILS(ct_model_fit(m, &(ct_fit_opts){.x = x, .y = y, .verbose = CT_VERBOSE_SILENT}),
             "without a loss");
    compile(m, sgd(0.1), "mse", 0, NULL);
    CT_FAILS(ct_model_fit(m, &(ct_fit_opts){.x = x, .y = y, .verbose = CT_VERBOSE_SILENT}),
             "y [8,2] and y_pred [8,3]");
    CT_FAILS(ct_model_fit(m, &(ct_fit_opts){.x = x,
                                            .y = ct_zeros(CT_FLOAT32, CT_DIMS(7, 3)),
                                            .verbose = CT_VERBOSE_SILENT}),
             "x has 8 samples, y has 7");
    CT_FAILS(ct_model_fit(m, &(ct_fit_opts){.x = x, .verbose = CT_VERBOSE_SILENT}), "y is NULL");
    CT_FAILS(ct_model_fit(m, &(ct_fit_opts){.x = x,
                                            .y = ct_zeros(CT_FLOAT32, CT_DIMS(8, 3)),
                                            .validation_split = 0.95,
                                            .verbose = CT_VERBOSE_SILENT}),
             "not sufficient to split");
    CT_FAILS(ct_model_fit(m, &(ct_fit_opts){.x = x,
                                            .y = ct_zeros(CT_FLOAT32, CT_DIMS(8, 3)),
                                            .validation_split = 1.5,
                                            .verbose = CT_VERBOSE_SILENT}),
             "validation_split must be in [0, 1)");
    CT_FAILS(ct_model_predict(m, &(ct_eval_opts){.x = ct_zeros(CT_FLOAT32, CT_DIMS(0, 2)),
                                                 .verbose = CT_VERBOSE_SILENT}),
             "no samples");
    ct_model_free(m);
}

Test(fit, long_fit_keeps_live_tensors_flat) {
    ct_set_random_seed(1);
    ct_tensor *x, *y;
    linear_data(&x, &y);
    ct_model *m = dense_model(
        2, (const char *[]){"{\"units\": 4, \"activation\": \"relu\"}", "{\"units\": 1}"});
    compile(m, adam(0.01), "mse", 1, (const char *[]){"mae"});
    ct_fit_opts o = {.x = x,
                     .y = y,
                     .batch_size = 16,
                     .epochs = 1,
                     .validation_split = 0.25,
                     .verbose = CT_VERBOSE_SILENT};
    ct_history *h = ct_model_fit(m, &o); /* builds the model and the optimizer's slots */
    CT_OK(h);
    ct_history_free(h);
    int64_t before = ct_live_tensors();
    o.epochs = 50;
    h = ct_model_fit(m, &o);
    CT_OK(h);
    cr_assert_eq(ct_history_epochs(h), 50);
    cr_assert_eq(ct_live_tensors(), before, "live tensors %lld -> %lld", (long long)before,
                 (long long)ct_live_tensors());
    ct_history_free(h);
    ct_model_free(m);
}

Test(fit, steps_per_epoch_and_initial_epoch) {
    ct_set_random_seed(1);
    ct_tensor *x, *y;
    linear_data(&x, &y);
    ct_model *m = one_weight_model();
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.x = ct_getitem(x, ":, :1"),
                                                   .y = y,
                                                   .batch_size = 16,
                                                   .epochs = 5,
                                                   .initial_epoch = 2,
                                                   .steps_per_epoch = 2,
                                                   .verbose = CT_VERBOSE_SILENT});
    CT_OK(h);
    cr_assert_eq(ct_history_epochs(h), 3);
    /* Four batches a pass, two a step-limited epoch: the pass carries over
     * into the next epoch, then a new one starts. */
    cr_assert_eq(ct_optimizer_iterations(ct_model_optimizer(m)), 6);
    ct_history_free(h);
    ct_model_free(m);
}

/* ---- the progress bar ------------------------------------------------------------------ */

static char *read_file(FILE *f) {
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *s = calloc((size_t)n + 1, 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    return s;
}

static void expect_match(const char *line, const char *pattern) {
    regex_t re;
    cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0, "bad pattern %s", pattern);
    int rc = regexec(&re, line, 0, NULL, 0);
    regfree(&re);
    cr_assert_eq(rc, 0, "\"%s\" does not match %s", line, pattern);
}

Test(fit, progress_bar_off_a_terminal_writes_final_lines) {
    ct_set_random_seed(1);
    ct_tensor *x, *y;
    linear_data(&x, &y);
    ct_model *m = dense_model(1, (const char *[]){"{\"units\": 1}"});
    compile(m, sgd(0.05), "mse", 1, (const char *[]){"mae"});
    FILE *f = tmpfile();
    CT_OK(f);
    ct_history *h = ct_model_fit(
        m, &(ct_fit_opts){
               .x = x, .y = y, .batch_size = 8, .epochs = 2, .validation_split = 0.5, .out = f});
    CT_OK(h);
    char *text = read_file(f);
    cr_assert_null(strchr(text, '\r'), "control characters in %s", text);
    cr_assert_null(strchr(text, '\b'));
    char *lines[8] = {0};
    int n = 0;
    for (char *save, *t = strtok_r(text, "\n", &save); t && n < 8; t = strtok_r(NULL, "\n", &save))
        lines[n++] = t;
    cr_assert_eq(n, 4, "output:\n%s", text);
    cr_assert_str_eq(lines[0], "Epoch 1/2");
    cr_assert_str_eq(lines[2], "Epoch 2/2");
    const char *pat =
        "^4/4 \\[==============================\\] - [0-9]+s [0-9]+(us|ms|s)/step - "
        "loss: [0-9]+\\.[0-9]{4} - mae: [0-9]+\\.[0-9]{4} - val_loss: [0-9]+\\.[0-9]{4} - "
        "val_mae: [0-9]+\\.[0-9]{4}$";
    expect_match(lines[1], pat);
    expect_match(lines[3], pat);
    char want[64];
    snprintf(want, sizeof want, " - loss: %.4f - ", ct_history_value(h, "loss", 1));
    cr_assert(strstr(lines[3], want), "%s lacks %s", lines[3], want);
    free(text);
    fclose(f);
    ct_history_free(h);
    ct_model_free(m);
}

Test(fit, progress_verbose_2_and_small_values) {
    ct_model *m = dense_model(
        1,
        (const char *[]){"{\"units\": 1, \"use_bias\": false, \"kernel_initializer\": \"ones\"}"});
    compile(m, sgd(0.0), "mse", 0, NULL);
    ct_tensor *x = CT_F32(CT_DIMS(12, 1), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
    FILE *f = tmpfile();
    ct_history *h = ct_model_fit(
        m, &(ct_fit_opts){.x = x, .y = x, .batch_size = 4, .verbose = CT_VERBOSE_EPOCH, .out = f});
    CT_OK(h);
    char *text = read_file(f);
    /* One epoch: no "Epoch" line; Keras 2's verbose=2 line; 0 prints as %.4e. */
    expect_match(text, "^3/3 - [0-9]+s - loss: 0\\.0000e\\+00 - [0-9]+(us|ms|s)/epoch - "
                       "[0-9]+(us|ms|s)/step\n$");
    free(text);
    fclose(f);
    f = tmpfile();
    CT_STATUS_OK(ct_model_evaluate(
        m,
        &(ct_eval_opts){.x = x, .y = ct_multiply(x, ct_scalar(1.001)), .batch_size = 12, .out = f},
        NULL));
    text = read_file(f);
    /* mean((0.001 i)^2) = 5.41666e-05. */
    expect_match(text, "^1/1 \\[==============================\\] - [0-9]+s [0-9]+(us|ms|s)/step - "
                       "loss: 5\\.41[0-9]{2}e-05\n$");
    free(text);
    fclose(f);
    ct_history_free(h);
    ct_model_free(m);
}
