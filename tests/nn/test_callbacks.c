/*
 * Callbacks: the order and count of the hooks fit / evaluate / predict
 * call (Keras 3's loops), and the built-in callbacks driven by scripted
 * monitor values (a user callback ahead of them writes the value Keras's
 * logic is checked against into the epoch's logs), with the expected
 * epochs worked out by hand from keras/src/callbacks/<name>.py.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/internal.h"
#include "support.h"

TestSuite(callbacks, .init = ct_test_layer_begin, .fini = ct_test_end);


#define CT_FAILS_ST(expr, needle)                                                                  \
    do {                                                                                           \
        ct_clear_error();                                                                          \
        ct_status st_ = (expr);                                                                    \
        cr_assert_neq(st_, CT_OK, "expected an error containing \"%s\"", (needle));                \
        cr_assert(strstr(ct_last_error(), (needle)) != NULL,                                       \
                  "error \"%s\" does not mention \"%s\"", ct_last_error(), (needle));              \
    } while (0)

/* ---- a model and data --------------------------------------------------------------- */

/* Dense(1) on 16 points of y = x0 - x1. */
static ct_model *small_model(double lr) {
    ct_set_random_seed(3);
    ct_model *m = ct_sequential_new(NULL);
    CT_OK(m);
    CT_STATUS_OK(ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 1}")));
    ct_optimizer *o = ct_optimizer_new("sgd", &(ct_optimizer_opts){.learning_rate = lr});
    CT_STATUS_OK(ct_model_compile(m, &(ct_compile_opts){.optimizer_obj = o, .loss = "mse"}));
    return m;
}

static void data(ct_tensor **x, ct_tensor **y) {
    float xs[32], ys[16];
    for (int i = 0; i < 16; i++) {
        xs[2 * i] = (float)(i % 4) - 1.5f;
        xs[2 * i + 1] = (float)(i / 4) - 1.5f;
        ys[i] = xs[2 * i] - xs[2 * i + 1];
    }
    *x = ct_constant(xs, CT_FLOAT32, CT_DIMS(16, 2));
    *y = ct_constant(ys, CT_FLOAT32, CT_DIMS(16, 1));
}

/* ---- a recording callback --------------------------------------------------------------- */

typedef struct {
    char log[8192];
    int freed;
} recorder;

static void rec(recorder *r, const char *fmt, long long a) {
    char buf[64];
    snprintf(buf, sizeof buf, fmt, a);
    strncat(r->log, buf, sizeof r->log - strlen(r->log) - 1);
    strncat(r->log, " ", sizeof r->log - strlen(r->log) - 1);
}

static void r_train_begin(void *c, ct_model *m, ct_logs *l) { (void)m, (void)l, rec(c, "TB", 0); }
static void r_train_end(void *c, ct_model *m, ct_logs *l) {
    (void)m;
    rec(c, "TE%lld", ct_logs_size(l));
}
static void r_epoch_begin(void *c, ct_model *m, int e, ct_logs *l) {
    (void)m, (void)l, rec(c, "EB%lld", e);
}
static void r_epoch_end(void *c, ct_model *m, int e, ct_logs *l) {
    (void)m;
    bool found;
    ct_logs_get(l, "val_loss", &found);
    rec(c, found ? "EE%lld+v" : "EE%lld", e);
}
static void r_tbb(void *c, ct_model *m, int64_t b, ct_logs *l) {
    (void)m, (void)l, rec(c, "b%lld", b);
}
static void r_tbe(void *c, ct_model *m, int64_t b, ct_logs *l) {
    (void)m;
    bool found;
    ct_logs_get(l, "loss", &found);
    rec(c, found ? "B%lld" : "B%lld-noloss", b);
}
static void r_test_begin(void *c, ct_model *m, ct_logs *l) { (void)m, (void)l, rec(c, "VB", 0); }
static void r_test_end(void *c, ct_model *m, ct_logs *l) {
    (void)m;
    rec(c, "VE%lld", ct_logs_size(l));
}
static void r_vbb(void *c, ct_model *m, int64_t b, ct_logs *l) {
    (void)m, (void)l, rec(c, "v%lld", b);
}
static void r_vbe(void *c, ct_model *m, int64_t b, ct_logs *l) {
    (void)m, (void)l, rec(c, "V%lld", b);
}
static void r_pb(void *c, ct_model *m, ct_logs *l) { (void)m, (void)l, rec(c, "PB", 0); }
static void r_pe(void *c, ct_model *m, ct_logs *l) { (void)m, (void)l, rec(c, "PE", 0); }
static void r_pbb(void *c, ct_model *m, int64_t b, ct_logs *l) {
    (void)m, (void)l, rec(c, "p%lld", b);
}
static void r_pbe(void *c, ct_model *m, int64_t b, ct_logs *l) {
    (void)m, (void)l, rec(c, "P%lld", b);
}
static void r_free(void *c) { ((recorder *)c)->freed++; }

static ct_callback *recording(recorder *r) {
    memset(r, 0, sizeof *r);
    ct_callback *cb = ct_callback_custom(&(ct_callback_hooks){
        .ctx = r,
        .on_train_begin = r_train_begin,
        .on_train_end = r_train_end,
        .on_epoch_begin = r_epoch_begin,
        .on_epoch_end = r_epoch_end,
        .on_train_batch_begin = r_tbb,
        .on_train_batch_end = r_tbe,
        .on_test_begin = r_test_begin,
        .on_test_end = r_test_end,
        .on_test_batch_begin = r_vbb,
        .on_test_batch_end = r_vbe,
        .on_predict_begin = r_pb,
        .on_predict_end = r_pe,
        .on_predict_batch_begin = r_pbb,
        .on_predict_batch_end = r_pbe,
        .free_ctx = r_free,
    });
    CT_OK(cb);
    return cb;
}

Test(callbacks, hooks_come_in_keras_order) {
    ct_model *m = small_model(0.01);
    ct_tensor *x, *y;
    data(&x, &y);
    recorder r;
    ct_callback *cb = recording(&r);
    /* 12 training samples in batches of 5 (3 steps), 4 validation samples
     * in one batch. */
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.x = x,
                                                   .y = y,
                                                   .batch_size = 5,
                                                   .epochs = 2,
                                                   .validation_split = 0.25,
                                                   .ncallbacks = 1,
                                                   .callbacks = &cb,
                                                   .verbose = CT_VERBOSE_SILENT});
    CT_OK(h);
    cr_assert_str_eq(r.log, "TB EB0 b0 B0 b1 B1 b2 B2 VB v0 V0 VE1 EE0+v "
                            "EB1 b0 B0 b1 B1 b2 B2 VB v0 V0 VE1 EE1+v TE2 ");
    r.log[0] = 0;
    ct_logs *res;
    CT_STATUS_OK(ct_model_evaluate(m,
                                   &(ct_eval_opts){.x = x,
                                                   .y = y,
                                                   .batch_size = 10,
                                                   .ncallbacks = 1,
                                                   .callbacks = &cb,
                                                   .verbose = CT_VERBOSE_SILENT},
                                   &res));
    cr_assert_str_eq(r.log, "VB v0 V0 v1 V1 VE1 ");
    ct_logs_free(res);
    r.log[0] = 0;
    CT_OK(ct_model_predict(m, &(ct_eval_opts){.x = x,
                                              .batch_size = 6,
                                              .ncallbacks = 1,
                                              .callbacks = &cb,
                                              .verbose = CT_VERBOSE_SILENT}));
    cr_assert_str_eq(r.log, "PB p0 P0 p1 P1 p2 P2 PE ");
    ct_callback_free(cb);
    cr_assert_eq(r.freed, 1);
    ct_history_free(h);
    ct_model_free(m);
}

/* Stops from a batch hook: the epoch ends after that batch. */
static void stop_at_batch_1(void *c, ct_model *m, int64_t b, ct_logs *l) {
    (void)c, (void)l;
    if (b == 1) ct_model_stop_training(m);
}

Test(callbacks, stop_training_ends_after_the_batch_and_epoch) {
    ct_model *m = small_model(0.01);
    ct_tensor *x, *y;
    data(&x, &y);
    recorder r;
    ct_callback *cbs[2] = {
        ct_callback_custom(&(ct_callback_hooks){.on_train_batch_end = stop_at_batch_1}),
        recording(&r)};
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.x = x,
                                                   .y = y,
                                                   .batch_size = 4,
                                                   .epochs = 5,
                                                   .ncallbacks = 2,
                                                   .callbacks = cbs,
                                                   .verbose = CT_VERBOSE_SILENT});
    CT_OK(h);
    cr_assert_eq(ct_history_epochs(h), 1);
    cr_assert_str_eq(r.log, "TB EB0 b0 B0 b1 B1 EE0 TE1 ");
    cr_assert_eq(ct_optimizer_iterations(ct_model_optimizer(m)), 2);
    ct_callback_free(cbs[0]);
    ct_callback_free(cbs[1]);
    ct_history_free(h);
    ct_model_free(m);
}

/* ---- scripted monitor values --------------------------------------------------------------- */

typedef struct {
    const char *key;
    const double *values;
    int n;
    double kernel[32]; /* the first weight's first element at each epoch end */
} script;

static void script_epoch_end(void *c, ct_model *m, int e, ct_logs *l) {
    script *s = c;
    cr_assert(e < s->n, "epoch %d past the script", e);
    CT_STATUS_OK(ct_logs_set(l, s->key, s->values[e]));
    s->kernel[e] = ct_tensor_get(ct_variable_value(ct_layer_weight(ct_model_layer(m), 0)), 0);
}

static ct_callback *scripted(script *s) {
    ct_callback *cb =
        ct_callback_custom(&(ct_callback_hooks){.ctx = s, .on_epoch_end = script_epoch_end});
    CT_OK(cb);
    return cb;
}

static ct_history *fit_with(ct_model *m, ct_callback *a, ct_callback *b, int epochs) {
    ct_tensor *x, *y;
    data(&x, &y);
    ct_callback *cbs[2] = {a, b};
    return ct_model_fit(m, &(ct_fit_opts){.x = x,
                                          .y = y,
                                          .batch_size = 8,
                                          .epochs = epochs,
                                          .ncallbacks = 2,
                                          .callbacks = cbs,
                                          .verbose = CT_VERBOSE_SILENT});
}

Test(callbacks, early_stopping_with_restore_best_weights) {
    ct_model *m = small_model(0.05);
    /* best 3 at epoch 2; epochs 3 and 4 do not improve: wait reaches the
     * patience 2 at epoch 4. */
    script s = {.key = "score", .values = (const double[]){5, 4, 3, 3.5, 3.2, 1, 1, 1}, .n = 8};
    ct_callback *sc = scripted(&s);
    ct_callback *es = ct_callback_new(
        "EarlyStopping",
        "{\"monitor\": \"score\", \"patience\": 2, \"restore_best_weights\": true}");
    CT_OK(es);
    ct_history *h = fit_with(m, sc, es, 8);
    CT_OK(h);
    cr_assert_eq(ct_history_epochs(h), 5);
    cr_assert_eq(ct_history_value(h, "score", 4), 3.2);
    double k = ct_tensor_get(ct_variable_value(ct_layer_weight(ct_model_layer(m), 0)), 0);
    cr_assert_eq(k, s.kernel[2], "restored %g, best epoch's %g", k, s.kernel[2]);
    cr_assert_neq(k, s.kernel[4]);
    ct_history_free(h);
    /* Reused, with min_delta: 4 -> 3.95 is no improvement (needs < 4 - 0.1). */
    ct_callback_free(es);
    es = ct_callback_new("EarlyStopping",
                         "{\"monitor\": \"score\", \"patience\": 1, \"min_delta\": 0.1}");
    s.values = (const double[]){4, 3.95, 3.0, 2.99, 2.0, 1, 1, 1};
    h = fit_with(m, sc, es, 8);
    CT_OK(h);
    cr_assert_eq(ct_history_epochs(h), 2);
    ct_history_free(h);
    ct_callback_free(es);
    ct_callback_free(sc);
    ct_model_free(m);
}

Test(callbacks, early_stopping_modes_baseline_and_start) {
    ct_model *m = small_model(0.05);
    script s = {.key = "val_accuracy",
                .values = (const double[]){0.5, 0.6, 0.55, 0.58, 0.9, 1, 1, 1},
                .n = 8};
    ct_callback *sc = scripted(&s);
    /* auto on an accuracy maximizes: best 0.6 at epoch 1, stop at epoch 3. */
    ct_callback *es =
        ct_callback_new("EarlyStopping", "{\"monitor\": \"val_accuracy\", \"patience\": 2}");
    ct_history *h = fit_with(m, sc, es, 8);
    cr_assert_eq(ct_history_epochs(h), 4);
    ct_history_free(h);
    ct_callback_free(es);
    /* A baseline not beaten keeps the wait running; an improving epoch
     * returns before the stop check: 0.5 (wait 1), 0.6 (wait 2), 0.55
     * stops at epoch 2. */
    es = ct_callback_new("EarlyStopping",
                         "{\"monitor\": \"val_accuracy\", \"patience\": 1, \"baseline\": 0.95, "
                         "\"mode\": \"max\"}");
    h = fit_with(m, sc, es, 8);
    cr_assert_eq(ct_history_epochs(h), 3);
    ct_history_free(h);
    ct_callback_free(es);
    /* Nothing counts before start_from_epoch 3: 0.58 then 0.9, 1, 1, 1 with patience 1 and
     * mode min: 0.58 best, 0.9 worse -> stop at epoch 4. */
    es = ct_callback_new("EarlyStopping",
                         "{\"monitor\": \"val_accuracy\", \"patience\": 1, \"mode\": \"min\", "
                         "\"start_from_epoch\": 3}");
    h = fit_with(m, sc, es, 8);
    cr_assert_eq(ct_history_epochs(h), 5);
    ct_history_free(h);
    ct_callback_free(es);
    ct_callback_free(sc);
    ct_model_free(m);
}

Test(callbacks, reduce_lr_on_plateau) {
    ct_model *m = small_model(0.1);
    script s = {
        .key = "val_loss", .values = (const double[]){1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5}, .n = 8};
    ct_callback *sc = scripted(&s);
    ct_callback *rl =
        ct_callback_new("ReduceLROnPlateau",
                        "{\"factor\": 0.5, \"patience\": 1, \"cooldown\": 1, \"min_lr\": 0.02}");
    CT_OK(rl);
    ct_history *h = fit_with(m, sc, rl, 8);
    CT_OK(h);
    /* The rate each epoch ran with is logged (before the epoch's
     * reduction). By hand from Keras's rules: e1 no better, wait 1 -> 0.05,
     * cooldown 1; e2 the cooldown counts down to 0 first, so it is over and
     * the wait reaches 1 again -> 0.025; e3 likewise -> 0.0125, floored at
     * min_lr 0.02; e4 better; e5.. wait, but the rate is at min_lr. */
    const double want[8] = {0.1, 0.1, 0.05, 0.025, 0.02, 0.02, 0.02, 0.02};
    for (int e = 0; e < 8; e++)
        cr_assert_float_eq(ct_history_value(h, "learning_rate", e), (double)(float)want[e], 1e-9,
                           "epoch %d: %g", e, ct_history_value(h, "learning_rate", e));
    cr_assert_float_eq(ct_optimizer_learning_rate(ct_model_optimizer(m)), (double)0.02f, 1e-9);
    ct_history_free(h);
    ct_callback_free(rl);
    ct_callback_free(sc);
    ct_model_free(m);
}

Test(callbacks, terminate_on_nan) {
    ct_model *m = small_model(0.01);
    float xs[32] = {0};
    xs[10] = NAN; /* sample 5: in the second batch of 4 */
    ct_tensor *x = ct_constant(xs, CT_FLOAT32, CT_DIMS(16, 2)),
              *y = ct_zeros(CT_FLOAT32, CT_DIMS(16, 1));
    recorder r;
    ct_callback *cbs[2] = {ct_callback_new("TerminateOnNaN", NULL), recording(&r)};
    CT_OK(cbs[0]);
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.x = x,
                                                   .y = y,
                                                   .batch_size = 4,
                                                   .epochs = 3,
                                                   .no_shuffle = true,
                                                   .ncallbacks = 2,
                                                   .callbacks = cbs,
                                                   .verbose = CT_VERBOSE_SILENT});
    CT_OK(h);
    cr_assert_str_eq(r.log, "TB EB0 b0 B0 b1 B1 EE0 TE1 ");
    cr_assert(isnan(ct_history_value(h, "loss", 0)));
    ct_history_free(h);
    ct_callback_free(cbs[0]);
    /* raise_error: fit fails with the message, without on_train_end (a
     * fresh model: the first one's weights are NaN now). */
    ct_model_free(m);
    m = small_model(0.01);
    cbs[0] = ct_callback_new("TerminateOnNaN", "{\"raise_error\": true}");
    CT_OK(cbs[0]);
    r.log[0] = 0;
    CT_FAILS(ct_model_fit(m, &(ct_fit_opts){.x = x,
                                            .y = y,
                                            .batch_size = 4,
                                            .no_shuffle = true,
                                            .ncallbacks = 2,
                                            .callbacks = cbs,
                                            .verbose = CT_VERBOSE_SILENT}),
             "NaN or Inf loss encountered at batch 1");
    cr_assert_null(strstr(r.log, "TE"));
    ct_callback_free(cbs[0]);
    ct_callback_free(cbs[1]);
    ct_model_free(m);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = calloc((size_t)n + 1, 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return s;
}

Test(callbacks, csv_logger_writes_keras_rows) {
    char path[] = "/tmp/ct_csv_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    ct_model *m = small_model(0.05);
    ct_tensor *x, *y;
    data(&x, &y);
    char cfg[128];
    snprintf(cfg, sizeof cfg, "{\"filename\": \"%s\"}", path);
    ct_callback *csv = ct_callback_new("CSVLogger", cfg);
    CT_OK(csv);
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.x = x,
                                                   .y = y,
                                                   .batch_size = 4,
                                                   .epochs = 2,
                                                   .validation_split = 0.25,
                                                   .ncallbacks = 1,
                                                   .callbacks = &csv,
                                                   .verbose = CT_VERBOSE_SILENT});
    CT_OK(h);
    char *text = slurp(path);
    /* Sorted keys, csv.excel's \r\n, values as Python's str(float). */
    char want[1024], a[64], b[64];
    size_t len = (size_t)snprintf(want, sizeof want, "epoch,loss,val_loss\r\n");
    for (int e = 0; e < 2; e++)
        len += (size_t)snprintf(want + len, sizeof want - len, "%d,%s,%s\r\n", e,
                                ct__py_float_repr(ct_history_value(h, "loss", e), a, sizeof a),
                                ct__py_float_repr(ct_history_value(h, "val_loss", e), b, sizeof b));
    cr_assert_str_eq(text, want);
    free(text);
    ct_history_free(h);
    ct_callback_free(csv);
    /* append: rows follow the existing ones without a second header; a
     * custom separator. */
    snprintf(cfg, sizeof cfg, "{\"filename\": \"%s\", \"append\": true, \"separator\": \";\"}",
             path);
    csv = ct_callback_new("CSVLogger", cfg);
    CT_OK(csv);
    h = ct_model_fit(m, &(ct_fit_opts){.x = x,
                                       .y = y,
                                       .batch_size = 4,
                                       .ncallbacks = 1,
                                       .callbacks = &csv,
                                       .verbose = CT_VERBOSE_SILENT});
    CT_OK(h);
    text = slurp(path);
    snprintf(want, sizeof want, "\r\n0;%s\r\n",
             ct__py_float_repr(ct_history_value(h, "loss", 0), a, sizeof a));
    cr_assert(strlen(text) > strlen(want));
    cr_assert_str_eq(text + strlen(text) - strlen(want), want);
    cr_assert_eq(strstr(text + 1, "epoch"), NULL, "a second header in %s", text);
    free(text);
    ct_history_free(h);
    ct_callback_free(csv);
    unlink(path);
    ct_model_free(m);
}

Test(callbacks, python_float_repr) {
    char buf[64];
    cr_assert_str_eq(ct__py_float_repr(0.1, buf, sizeof buf), "0.1");
    cr_assert_str_eq(ct__py_float_repr((double)0.1f, buf, sizeof buf), "0.10000000149011612");
    cr_assert_str_eq(ct__py_float_repr(1.0, buf, sizeof buf), "1.0");
    cr_assert_str_eq(ct__py_float_repr(123.0, buf, sizeof buf), "123.0");
    cr_assert_str_eq(ct__py_float_repr(-2.5, buf, sizeof buf), "-2.5");
    cr_assert_str_eq(ct__py_float_repr(1e-4, buf, sizeof buf), "0.0001");
    cr_assert_str_eq(ct__py_float_repr(1e-5, buf, sizeof buf), "1e-05");
    cr_assert_str_eq(ct__py_float_repr(1.5e-7, buf, sizeof buf), "1.5e-07");
    cr_assert_str_eq(ct__py_float_repr(1e16, buf, sizeof buf), "1e+16");
    cr_assert_str_eq(ct__py_float_repr(1234567890123456.0, buf, sizeof buf), "1234567890123456.0");
    cr_assert_str_eq(ct__py_float_repr(NAN, buf, sizeof buf), "nan");
    cr_assert_str_eq(ct__py_float_repr(-INFINITY, buf, sizeof buf), "-inf");
    cr_assert_str_eq(ct__py_float_repr(0.0, buf, sizeof buf), "0.0");
}

Test(callbacks, config_errors) {
    CT_FAILS(ct_callback_new("ModelCheckpointz", NULL),
             "unknown callback class 'ModelCheckpointz'");
    CT_FAILS(ct_callback_new("EarlyStopping", "{\"patienc\": 2}"), "patienc");
    CT_FAILS(ct_callback_new("EarlyStopping", "{\"patience\": \"two\"}"), "patience");
    CT_FAILS(ct_callback_new("ReduceLROnPlateau", "{\"factor\": 1.0}"), "factor >= 1.0");
    CT_FAILS(ct_callback_new("CSVLogger", "{}"), "filename");
    CT_FAILS(ct_callback_new("TerminateOnNaN", "{\"raise_error\": 3}"), "raise_error");
    CT_FAILS(ct_callback_new("EarlyStopping", "[1]"), "JSON object");
    CT_FAILS(ct_callback_custom(NULL), "hooks");
    ct_callback *cb = ct_callback_new("EarlyStopping", "{}");
    CT_OK(cb);
    ct_callback_free(cb);
    ct_callback_free(NULL);
}

Test(callbacks, csv_logger_unwritable_path_fails_fit) {
    ct_model *m = small_model(0.05);
    ct_tensor *x, *y;
    data(&x, &y);
    ct_callback *csv = ct_callback_new("CSVLogger", "{\"filename\": \"/nonexistent/dir/log.csv\"}");
    CT_OK(csv);
    CT_FAILS(ct_model_fit(m, &(ct_fit_opts){.x = x,
                                            .y = y,
                                            .ncallbacks = 1,
                                            .callbacks = &csv,
                                            .verbose = CT_VERBOSE_SILENT}),
             "/nonexistent/dir/log.csv");
    ct_callback_free(csv);
    ct_model_free(m);
}

Test(callbacks, set_learning_rate) {
    ct_optimizer *o = ct_optimizer_new("adam", NULL);
    CT_OK(o);
    cr_assert_float_eq(ct_optimizer_learning_rate(o), (double)0.001f, 1e-12);
    CT_STATUS_OK(ct_optimizer_set_learning_rate(o, 0.25));
    cr_assert_eq(ct_optimizer_learning_rate(o), 0.25);
    CT_FAILS_ST(ct_optimizer_set_learning_rate(o, -1), "non-negative");
    CT_FAILS_ST(ct_optimizer_set_learning_rate(NULL, 1), "NULL");
    ct_optimizer_free(o);
    ct_lr_schedule *s = ct_lr_schedule_from_config(
        "{\"class_name\": \"ExponentialDecay\", \"config\": {\"initial_learning_rate\": 0.1, "
        "\"decay_steps\": 10, \"decay_rate\": 0.5}}");
    CT_OK(s);
    o = ct_optimizer_new("sgd", &(ct_optimizer_opts){.schedule = s});
    CT_OK(o);
    CT_FAILS_ST(ct_optimizer_set_learning_rate(o, 0.5), "not settable");
    ct_optimizer_free(o);
    ct_lr_schedule_free(s);
}

/* Keras's docstring schedule: keep the rate for 2 epochs, then multiply
 * by exp(-0.1) each epoch. */
static double decay_after_two(int epoch, double lr, void *ctx) {
    (*(int *)ctx)++;
    return epoch < 2 ? lr : lr * exp(-0.1);
}

static double bad_schedule(int epoch, double lr, void *ctx) {
    (void)lr, (void)ctx;
    return epoch == 1 ? NAN : 0.01;
}

static ct_history *fit_one(ct_model *m, ct_callback *cb, int epochs) {
    ct_tensor *x, *y;
    data(&x, &y);
    return ct_model_fit(m, &(ct_fit_opts){.x = x,
                                          .y = y,
                                          .batch_size = 8,
                                          .epochs = epochs,
                                          .ncallbacks = 1,
                                          .callbacks = &cb,
                                          .verbose = CT_VERBOSE_SILENT});
}

Test(callbacks, learning_rate_scheduler) {
    ct_model *m = small_model(0.1);
    int calls = 0;
    ct_callback *ls = ct_callback_learning_rate_scheduler(decay_after_two, &calls, 0);
    CT_OK(ls);
    ct_history *h = fit_one(m, ls, 4);
    CT_OK(h);
    cr_expect_eq(calls, 4);
    /* The optimizer keeps its rate in float32, as Keras's variable does. */
    double want = 0.1;
    for (int e = 0; e < 4; e++) {
        if (e >= 2) want = (double)(float)((double)(float)want * exp(-0.1));
        cr_expect_float_eq(ct_history_value(h, "learning_rate", e), (double)(float)want, 1e-7,
                           "epoch %d: %g", e, ct_history_value(h, "learning_rate", e));
    }
    ct_history_free(h);
    ct_callback_free(ls);
    /* A schedule that returns NaN stops fit with an error. */
    ct_callback *bad = ct_callback_learning_rate_scheduler(bad_schedule, NULL, 0);
    CT_OK(bad);
    CT_FAILS(fit_one(m, bad, 3), "LearningRateScheduler");
    ct_callback_free(bad);
    CT_FAILS(ct_callback_learning_rate_scheduler(NULL, NULL, 0), "schedule is NULL");
    ct_model_free(m);
}
