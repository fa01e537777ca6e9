/*
 * The built-in callbacks' resumable state (ct__callback_get_state /
 * ct__callback_set_state), as a training checkpoint uses it: a run is cut
 * after some epochs, a fresh callback from the same config gets the state
 * after its on_train_begin, and the resumed run must then behave as the
 * uninterrupted one (the same stopping epoch, the same reductions, the
 * same CSV file, the same summary steps, the same checkpoint files). Each
 * test also resumes without the state, to show that the state is what
 * makes the difference. Monitor values are scripted per epoch, so runs
 * with different weights see the same numbers.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/internal.h"
#include "support.h"

TestSuite(callback_state, .init = ct_test_layer_begin, .fini = ct_test_end);

/* ---- a model, data, scripted logs ------------------------------------------------------ */

/* Dense(1) on 16 points of y = x0 - x1: 2 batches of 8 per epoch. */
static ct_model *small_model(void) {
    ct_set_random_seed(3);
    ct_model *m = ct_sequential_new(NULL);
    CT_OK(m);
    CT_STATUS_OK(ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 1}")));
    ct_optimizer *o = ct_optimizer_new("sgd", &(ct_optimizer_opts){.learning_rate = 0.1});
    CT_STATUS_OK(ct_model_compile(m, &(ct_compile_opts){.optimizer_obj = o, .loss = "mse"}));
    return m;
}

/* Writes values[epoch] under key into the epoch's logs (ahead of the
 * callback under test in the list). */
typedef struct {
    const char *key;
    const double *values;
    int n;
} script;

static void script_epoch_end(void *c, ct_model *m, int e, ct_logs *l) {
    (void)m;
    script *s = c;
    cr_assert(e < s->n, "epoch %d past the script", e);
    CT_STATUS_OK(ct_logs_set(l, s->key, s->values[e]));
}

/* Puts state into target in on_train_begin, after target's own (it comes
 * after target in the list): what fit does when it resumes. */
typedef struct {
    ct_callback *target;
    const json_t *state;
} setter;

static void setter_train_begin(void *c, ct_model *m, ct_logs *l) {
    (void)m, (void)l;
    setter *s = c;
    CT_STATUS_OK(ct__callback_set_state(s->target, s->state));
}

/* Takes target's state at the end of epoch `at` (or at the beginning of
 * epoch 0 with at == -1): a checkpoint there. */
typedef struct {
    ct_callback *target;
    int at;
    json_t *state;
} grabber;

static void grab(grabber *g) {
    json_decref(g->state);
    g->state = ct__callback_get_state(g->target);
    CT_OK(g->state);
}
static void grabber_epoch_begin(void *c, ct_model *m, int e, ct_logs *l) {
    (void)m, (void)l;
    grabber *g = c;
    if (g->at == -1 && e == 0) grab(g);
}
static void grabber_epoch_end(void *c, ct_model *m, int e, ct_logs *l) {
    (void)m, (void)l;
    grabber *g = c;
    if (e == g->at) grab(g);
}

/* fit over epochs [initial, epochs) with the script, cb and, when not
 * NULL, an extra callback after cb. */
static ct_history *fit_range(ct_model *m, script *sc, ct_callback *cb, ct_callback *extra,
                             int initial, int epochs) {
    ct_tensor *x, *y;
    float xs[32], ys[16];
    for (int i = 0; i < 16; i++) {
        xs[2 * i] = (float)(i % 4) - 1.5f;
        xs[2 * i + 1] = (float)(i / 4) - 1.5f;
        ys[i] = xs[2 * i] - xs[2 * i + 1];
    }
    x = ct_constant(xs, CT_FLOAT32, CT_DIMS(16, 2));
    y = ct_constant(ys, CT_FLOAT32, CT_DIMS(16, 1));
    ct_callback *scb =
        ct_callback_custom(&(ct_callback_hooks){.ctx = sc, .on_epoch_end = script_epoch_end});
    CT_OK(scb);
    ct_callback *cbs[3] = {scb, cb, extra};
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.x = x,
                                                   .y = y,
                                                   .batch_size = 8,
                                                   .initial_epoch = initial,
                                                   .epochs = epochs,
                                                   .ncallbacks = extra ? 3 : 2,
                                                   .callbacks = cbs,
                                                   .verbose = CT_VERBOSE_SILENT});
    ct_callback_free(scb);
    CT_OK(h);
    return h;
}

/* A resumed fit: cb gets state after its on_train_begin (NULL: no state,
 * the control: a checkpoint without it). */
static ct_history *fit_resumed(ct_model *m, script *sc, ct_callback *cb, const json_t *state,
                               int initial, int epochs) {
    setter st = {cb, state};
    ct_callback *set = state ? ct_callback_custom(&(ct_callback_hooks){
                                   .ctx = &st, .on_train_begin = setter_train_begin})
                             : NULL;
    if (state) CT_OK(set);
    m->resuming = true;
    ct_history *h = fit_range(m, sc, cb, set, initial, epochs);
    m->resuming = false;
    ct_callback_free(set);
    return h;
}

/* The state after its trip through checkpoint text. */
static json_t *through_text(const json_t *state) {
    char *text = ct__json_dump(state);
    CT_OK(text);
    json_t *back = ct__json_parse(text, "state");
    CT_OK(back);
    free(text);
    return back;
}

static ct_callback *make(const char *cls, const char *cfg) {
    ct_callback *cb = ct_callback_new(cls, cfg);
    CT_OK(cb);
    return cb;
}

static int64_t state_int(const json_t *state, const char *key) {
    const json_t *v = json_object_get(state, key);
    cr_assert(json_is_integer(v), "'%s' is not an integer", key);
    return json_integer_value(v);
}

/* get_state of cb, compared with want (both as text). */
static void expect_state(ct_callback *cb, const json_t *want) {
    json_t *got = ct__callback_get_state(cb);
    CT_OK(got);
    char *a = ct__json_dump(got), *b = ct__json_dump(want);
    cr_assert(json_equal(got, want), "state %s, expected %s", a, b);
    free(a);
    free(b);
    json_decref(got);
}

/* ---- EarlyStopping ------------------------------------------------------------------- */

Test(callback_state, early_stopping_stops_at_the_same_epoch) {
    /* Minimized with min_delta 0.05: best 3 at epoch 2; 3.5, 3.2 and 2.96
     * (not below 3 - 0.05) wait 1, 2, 3: the patience 3 stops at epoch 5.
     * Cut after epoch 3 (wait 1). Without the state the resumed run starts
     * with best inf and does not stop. */
    static const double v[] = {5, 4, 3, 3.5, 3.2, 2.96, 3.3, 1, 1, 1};
    script sc = {"score", v, 10};
    const char *cfgs[] = {
        "{\"monitor\": \"score\", \"patience\": 3, \"min_delta\": 0.05}",
        "{\"monitor\": \"score\", \"patience\": 3, \"min_delta\": 0.05, "
        "\"restore_best_weights\": true}"};
    for (int c = 0; c < 2; c++) {
        ct_model *m = small_model();
        ct_callback *whole = make("EarlyStopping", cfgs[c]);
        ct_history *h = fit_range(m, &sc, whole, NULL, 0, 10);
        cr_assert_eq(ct_history_epochs(h), 6);
        ct_history_free(h);
        json_t *end = ct__callback_get_state(whole);
        CT_OK(end);
        cr_assert_eq(state_int(end, "stopped_epoch"), 5);

        ct_callback *first = make("EarlyStopping", cfgs[c]);
        h = fit_range(m, &sc, first, NULL, 0, 4);
        ct_history_free(h);
        json_t *cut = ct__callback_get_state(first);
        CT_OK(cut);
        cr_assert_eq(state_int(cut, "wait"), 1);
        cr_assert_str_eq(json_string_value(json_object_get(cut, "monitor_op")), "less");
        json_t *text = through_text(cut);

        ct_callback *resumed = make("EarlyStopping", cfgs[c]);
        h = fit_resumed(m, &sc, resumed, text, 4, 10);
        cr_assert_eq(ct_history_epochs(h), 2, "resumed: %d epochs", ct_history_epochs(h));
        ct_history_free(h);
        if (c == 0)
            expect_state(resumed, end);
        else { /* the weights start again at epoch 4 (no weights in the state) */
            json_t *got = ct__callback_get_state(resumed);
            cr_assert_eq(state_int(got, "stopped_epoch"), 5);
            cr_assert_eq(state_int(got, "best_epoch"), 4);
            json_decref(got);
        }

        ct_callback *control = make("EarlyStopping", cfgs[c]);
        h = fit_resumed(m, &sc, control, NULL, 4, 10);
        cr_assert_eq(ct_history_epochs(h), 6);
        ct_history_free(h);

        json_decref(end);
        json_decref(cut);
        json_decref(text);
        ct_callback_free(whole);
        ct_callback_free(first);
        ct_callback_free(resumed);
        ct_callback_free(control);
        ct_model_free(m);
    }
}

Test(callback_state, early_stopping_state_round_trips_exactly) {
    ct_callback *cb = make("EarlyStopping", "{\"monitor\": \"acc\"}");
    ct_callback *fresh = make("EarlyStopping", "{\"monitor\": \"acc\"}");
    const ct_callback_hooks *hk = ct__callback_hooks(fresh);
    const double bests[] = {0.1 + 0.2, -INFINITY, INFINITY, NAN,
                            5e-324,    -0.0,      1.7976931348623157e308};
    for (size_t i = 0; i < sizeof bests / sizeof *bests; i++) {
        json_t *st = json_pack("{s:i, s:i, s:i, s:s}", "wait", 2, "stopped_epoch", 0,
                               "best_epoch", 3, "monitor_op", "greater");
        json_object_set_new(st, "best", isnan(bests[i])   ? json_string("nan")
                                        : isinf(bests[i]) ? json_string(bests[i] > 0 ? "inf"
                                                                                     : "-inf")
                                                          : json_real(bests[i]));
        CT_STATUS_OK(ct__callback_set_state(cb, st));
        json_t *got = ct__callback_get_state(cb);
        CT_OK(got);
        json_t *text = through_text(got);
        hk->on_train_begin(hk->ctx, NULL, NULL);
        CT_STATUS_OK(ct__callback_set_state(fresh, text));
        json_t *again = ct__callback_get_state(fresh);
        cr_assert(json_equal(again, st), "best %g does not round-trip", bests[i]);
        const json_t *b = json_object_get(again, "best");
        if (json_is_real(b)) {
            double d = json_real_value(b);
            cr_assert(memcmp(&d, &bests[i], sizeof d) == 0, "best %.17g came back as %.17g",
                      bests[i], d);
        }
        json_decref(st);
        json_decref(got);
        json_decref(text);
        json_decref(again);
    }
    /* Before the first epoch end there is no direction yet: null. */
    ct_callback *unused = make("EarlyStopping", NULL);
    json_t *st = ct__callback_get_state(unused);
    cr_assert(json_is_null(json_object_get(st, "monitor_op")));
    CT_STATUS_OK(ct__callback_set_state(fresh, st));
    json_decref(st);
    ct_callback_free(unused);
    ct_callback_free(cb);
    ct_callback_free(fresh);
}

/* ---- ReduceLROnPlateau ------------------------------------------------------------------ */

Test(callback_state, reduce_lr_reduces_at_the_same_epochs) {
    /* A flat val_loss with patience 2 and cooldown 1 reduces at epochs 2,
     * 4 and 6; cut after epoch 3 (wait 1). Without the state the resumed
     * run starts with best inf: it reduces at epoch 6 only. */
    static const double v[] = {1, 1, 1, 1, 1, 1, 1, 1};
    script sc = {"val_loss", v, 8};
    const char *cfg = "{\"factor\": 0.5, \"patience\": 2, \"cooldown\": 1, \"min_lr\": 0.001}";
    ct_model *m = small_model();
    ct_callback *whole = make("ReduceLROnPlateau", cfg);
    ct_history *hw = fit_range(m, &sc, whole, NULL, 0, 8);
    double final_lr = ct_optimizer_learning_rate(ct_model_optimizer(m));
    cr_assert_float_eq(final_lr, (double)0.0125f, 1e-9);
    json_t *end = ct__callback_get_state(whole);
    ct_model_free(m);

    m = small_model();
    ct_callback *first = make("ReduceLROnPlateau", cfg);
    ct_history_free(fit_range(m, &sc, first, NULL, 0, 4));
    json_t *cut = ct__callback_get_state(first);
    CT_OK(cut);
    cr_assert_eq(state_int(cut, "wait"), 1);
    json_t *text = through_text(cut);
    ct_callback *resumed = make("ReduceLROnPlateau", cfg);
    ct_history *hr = fit_resumed(m, &sc, resumed, text, 4, 8);
    cr_assert_eq(ct_history_epochs(hr), 4);
    for (int e = 0; e < 4; e++)
        cr_assert_eq(ct_history_value(hr, "learning_rate", e),
                     ct_history_value(hw, "learning_rate", e + 4), "epoch %d: %g, want %g", e + 4,
                     ct_history_value(hr, "learning_rate", e),
                     ct_history_value(hw, "learning_rate", e + 4));
    cr_assert_eq(ct_optimizer_learning_rate(ct_model_optimizer(m)), final_lr);
    expect_state(resumed, end);
    ct_model_free(m);

    m = small_model();
    ct_history_free(fit_range(m, &sc, first, NULL, 0, 4));
    ct_callback *control = make("ReduceLROnPlateau", cfg);
    ct_history_free(fit_resumed(m, &sc, control, NULL, 4, 8));
    cr_assert_neq(ct_optimizer_learning_rate(ct_model_optimizer(m)), final_lr);
    ct_model_free(m);

    ct_history_free(hw);
    ct_history_free(hr);
    json_decref(end);
    json_decref(cut);
    json_decref(text);
    ct_callback_free(whole);
    ct_callback_free(first);
    ct_callback_free(resumed);
    ct_callback_free(control);
}

/* ---- CSVLogger ------------------------------------------------------------------------- */

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = calloc((size_t)n + 1, 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return s;
}

static void temp_path(char *path) {
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
}

/* The file of a run cut at epoch `at` (-1: before the first epoch
 * ended) and resumed from there, after the cut run wrote up to epoch 2. */
static char *csv_resumed(const char *cfg, const char *path, script *sc, int at, bool with_state) {
    ct_model *m = small_model();
    ct_callback *first = make("CSVLogger", cfg);
    grabber g = {first, at, NULL};
    ct_callback *gcb = ct_callback_custom(&(ct_callback_hooks){
        .ctx = &g, .on_epoch_begin = grabber_epoch_begin, .on_epoch_end = grabber_epoch_end});
    ct_history_free(fit_range(m, sc, first, gcb, 0, 3));
    CT_OK(g.state);
    json_t *text = through_text(g.state);
    ct_callback *resumed = make("CSVLogger", cfg);
    ct_history_free(fit_resumed(m, sc, resumed, with_state ? text : NULL, at + 1, 5));
    json_decref(g.state);
    json_decref(text);
    ct_callback_free(gcb);
    ct_callback_free(first);
    ct_callback_free(resumed);
    ct_model_free(m);
    return slurp(path);
}

Test(callback_state, csv_logger_file_equals_an_uninterrupted_run) {
    static const double v[] = {0.5, 0.25, 0.125, 0.0625, 1e-7};
    script sc = {"loss", v, 5};
    char whole_path[] = "/tmp/ct_csvstate_XXXXXX", path[] = "/tmp/ct_csvstate_XXXXXX";
    temp_path(whole_path);
    temp_path(path);
    char cfg[160];
    snprintf(cfg, sizeof cfg, "{\"filename\": \"%s\"}", whole_path);
    ct_model *m = small_model();
    ct_callback *whole = make("CSVLogger", cfg);
    ct_history_free(fit_range(m, &sc, whole, NULL, 0, 5));
    ct_callback_free(whole);
    ct_model_free(m);
    char *want = slurp(whole_path);
    cr_assert_str_eq(want, "epoch,loss\r\n0,0.5\r\n1,0.25\r\n2,0.125\r\n3,0.0625\r\n4,1e-07\r\n");

    snprintf(cfg, sizeof cfg, "{\"filename\": \"%s\"}", path);
    /* Cut after epoch 1 (epoch 2's row is dropped and written again), and
     * before any row (the header is written again). */
    for (int at = -1; at <= 1; at++) {
        char *got = csv_resumed(cfg, path, &sc, at, true);
        cr_assert_str_eq(got, want, "cut at %d:\n%s", at, got);
        free(got);
    }
    /* Without the state the interrupted run's epoch-2 row stays. */
    char *got = csv_resumed(cfg, path, &sc, 1, false);
    cr_assert_str_neq(got, want);
    cr_assert_not_null(strstr(got, "2,0.125\r\n2,0.125\r\n"), "%s", got);
    free(got);
    /* append=true on a file with rows of its own: they stay. */
    FILE *f = fopen(path, "w");
    fputs("old\r\n", f);
    fclose(f);
    snprintf(cfg, sizeof cfg, "{\"filename\": \"%s\", \"append\": true}", path);
    got = csv_resumed(cfg, path, &sc, 1, true);
    cr_assert_str_eq(got, "old\r\n0,0.5\r\n1,0.25\r\n2,0.125\r\n3,0.0625\r\n4,1e-07\r\n");
    free(got);
    free(want);
    unlink(whole_path);
    unlink(path);
}

Test(callback_state, csv_logger_file_shorter_than_the_state) {
    static const double v[] = {0.5, 0.25, 0.125};
    script sc = {"loss", v, 3};
    char path[] = "/tmp/ct_csvstate_XXXXXX";
    temp_path(path);
    char cfg[160];
    snprintf(cfg, sizeof cfg, "{\"filename\": \"%s\"}", path);
    ct_model *m = small_model();
    ct_callback *first = make("CSVLogger", cfg);
    ct_history_free(fit_range(m, &sc, first, NULL, 0, 3));
    json_t *st = ct__callback_get_state(first);
    CT_OK(st);
    cr_assert_eq(state_int(st, "size"),
                 (int64_t)strlen("epoch,loss\r\n0,0.5\r\n1,0.25\r\n2,0.125\r\n"));
    cr_assert_eq(truncate(path, 7), 0);
    ct_callback *resumed = make("CSVLogger", cfg);
    const ct_callback_hooks *hk = ct__callback_hooks(resumed);
    m->resuming = true;
    hk->on_train_begin(hk->ctx, m, NULL);
    CT_STATUS_OK(ct__callback_take_error(resumed));
    CT_FAILS_STATUS(ct__callback_set_state(resumed, st), "has 7 bytes, fewer than the 36");
    cr_assert(strstr(ct_last_error(), path) && strstr(ct_last_error(), "CSVLogger"));
    /* A bad state changes nothing. */
    json_t *bad =
        json_pack("{s:i, s:[s,i], s:b}", "size", 0, "keys", "loss", 3, "append_header", 1);
    CT_FAILS_STATUS(ct__callback_set_state(resumed, bad),
                    "CSVLogger: resumed state: 'keys' must be a list of strings or null");
    json_decref(bad);
    m->resuming = false;
    hk->on_train_end(hk->ctx, m, NULL);
    char *text = slurp(path);
    cr_assert_str_eq(text, "epoch,l");
    free(text);
    json_decref(st);
    ct_callback_free(first);
    ct_callback_free(resumed);
    ct_model_free(m);
    unlink(path);
}

/* ---- TensorBoard --------------------------------------------------------------------------- */

static uint64_t varint(const uint8_t **p, const uint8_t *end) {
    uint64_t v = 0;
    for (int s = 0; *p < end; s += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) break;
    }
    return v;
}

/* How often each step 0..63 carries a "batch_loss" scalar in the event
 * files of dir (TFRecord framing; the Event's step is field 2). */
static void batch_steps(const char *dir, int counts[64]) {
    memset(counts, 0, 64 * sizeof *counts);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "no %s", dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "events.", 7)) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        cr_assert_not_null(f);
        uint8_t head[12];
        while (fread(head, 1, 12, f) == 12) {
            uint64_t n = 0;
            memcpy(&n, head, 8);
            uint8_t *rec = malloc(n + 4);
            cr_assert_eq(fread(rec, 1, n + 4, f), n + 4);
            if (memmem(rec, n, "batch_loss", 10)) {
                const uint8_t *p = rec, *end = rec + n;
                while (p < end) {
                    uint64_t key = varint(&p, end);
                    int wt = (int)(key & 7), field = (int)(key >> 3);
                    if (wt == 0) {
                        uint64_t v = varint(&p, end);
                        if (field == 2 && v < 64) counts[v]++;
                    } else if (wt == 1) {
                        p += 8;
                    } else if (wt == 2) {
                        p += varint(&p, end);
                    } else {
                        p += 4;
                    }
                }
            }
            free(rec);
        }
        fclose(f);
    }
    closedir(d);
}

static void rm_rf(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        rm_rf(sub);
    }
    closedir(d);
    rmdir(path);
}

Test(callback_state, tensorboard_batch_steps_continue) {
    static const double v[] = {1, 1, 1, 1};
    script sc = {"score", v, 4};
    char dir[] = "/tmp/ct_tbstate_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    const char *runs[] = {"whole", "resumed", "control"};
    for (int r = 0; r < 3; r++) {
        char cfg[256], train[512];
        snprintf(cfg, sizeof cfg,
                 "{\"log_dir\": \"%s/%s\", \"update_freq\": \"batch\", \"write_graph\": false}",
                 dir, runs[r]);
        snprintf(train, sizeof train, "%s/%s/train", dir, runs[r]);
        ct_model *m = small_model();
        ct_callback *first = make("TensorBoard", cfg);
        ct_history_free(fit_range(m, &sc, first, NULL, 0, r ? 2 : 4));
        json_t *cut = ct__callback_get_state(first);
        CT_OK(cut);
        cr_assert_eq(state_int(cut, "global_batch"), r ? 4 : 8);
        if (r) {
            ct_callback *resumed = make("TensorBoard", cfg);
            json_t *text = through_text(cut);
            ct_history_free(fit_resumed(m, &sc, resumed, r == 1 ? text : NULL, 2, 4));
            json_t *end = ct__callback_get_state(resumed);
            cr_assert_eq(state_int(end, "global_batch"), r == 1 ? 8 : 4);
            json_decref(end);
            json_decref(text);
            ct_callback_free(resumed);
        }
        int counts[64];
        batch_steps(train, counts);
        /* Steps 1..8 once each; the control writes 1..4 twice. */
        for (int s = 0; s < 64; s++) {
            int want = r < 2 ? (s >= 1 && s <= 8) : (s >= 1 && s <= 4) * 2;
            cr_assert_eq(counts[s], want, "%s: step %d written %d times", runs[r], s, counts[s]);
        }
        json_decref(cut);
        ct_callback_free(first);
        ct_model_free(m);
    }
    rm_rf(dir);
}

/* ---- ModelCheckpoint ------------------------------------------------------------------------- */

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The file names in dir, sorted, joined by spaces. */
static void list_dir(const char *dir, char *out, size_t cap) {
    char *names[64];
    int n = 0;
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && n < 64) names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_names);
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        strncat(out, names[i], cap - strlen(out) - 1);
        strncat(out, " ", cap - strlen(out) - 1);
        free(names[i]);
    }
}

Test(callback_state, model_checkpoint_saves_the_same_files) {
    /* save_best_only on score: saves at epochs 1, 2, 4, 7 (numbered from
     * 1); every 3 batches (2 per epoch): at global batches 3, 6, 9, 12,
     * 15. Cut after epoch 4 (best 1.5, 2 batches since the last save). */
    static const double v[] = {3, 2, 2.5, 1.5, 1.8, 1.7, 1.0, 1.2};
    script sc = {"score", v, 8};
    char dir[] = "/tmp/ct_mcstate_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char listing[3][1024];
    for (int r = 0; r < 3; r++) {
        char best_cfg[512], batch_cfg[512];
        snprintf(best_cfg, sizeof best_cfg,
                 "{\"filepath\": \"%s/%d/b_{epoch}.weights.h5\", \"monitor\": \"score\", "
                 "\"save_best_only\": true, \"save_weights_only\": true}",
                 dir, r);
        snprintf(batch_cfg, sizeof batch_cfg,
                 "{\"filepath\": \"%s/%d/n_{epoch}_{batch}.weights.h5\", \"save_freq\": 3, "
                 "\"save_weights_only\": true}",
                 dir, r);
        ct_model *m = small_model();
        ct_callback *best = make("ModelCheckpoint", best_cfg),
                    *batch = make("ModelCheckpoint", batch_cfg);
        ct_history_free(fit_range(m, &sc, best, batch, 0, r ? 4 : 8));
        if (r) {
            json_t *bs = ct__callback_get_state(best), *ns = ct__callback_get_state(batch);
            CT_OK(bs);
            CT_OK(ns);
            cr_assert_eq(json_real_value(json_object_get(bs, "best")), 1.5);
            cr_assert_eq(state_int(ns, "batches_since_save"), 2);
            json_t *bt = through_text(bs), *nt = through_text(ns);
            ct_callback_free(best);
            ct_callback_free(batch);
            best = make("ModelCheckpoint", best_cfg);
            batch = make("ModelCheckpoint", batch_cfg);
            if (r == 1) {
                /* ModelCheckpoint has no on_train_begin: the states go in
                 * before the resumed fit. */
                CT_STATUS_OK(ct__callback_set_state(best, bt));
                CT_STATUS_OK(ct__callback_set_state(batch, nt));
            }
            m->resuming = true;
            ct_history_free(fit_range(m, &sc, best, batch, 4, 8));
            m->resuming = false;
            json_decref(bs);
            json_decref(ns);
            json_decref(bt);
            json_decref(nt);
        }
        char sub[512];
        snprintf(sub, sizeof sub, "%s/%d", dir, r);
        list_dir(sub, listing[r], sizeof listing[r]);
        ct_callback_free(best);
        ct_callback_free(batch);
        ct_model_free(m);
    }
    cr_assert_str_eq(listing[0], "b_1.weights.h5 b_2.weights.h5 b_4.weights.h5 b_7.weights.h5 "
                                 "n_2_1.weights.h5 n_3_2.weights.h5 n_5_1.weights.h5 "
                                 "n_6_2.weights.h5 n_8_1.weights.h5 ");
    cr_assert_str_eq(listing[1], listing[0]);
    cr_assert_str_neq(listing[2], listing[0]);
    rm_rf(dir);
}

/* ---- bad states, callbacks without state ---------------------------------------------- */

static void expect_bad(const char *cls, const char *cfg, const char *state_json,
                       const char *needle) {
    ct_callback *cb = make(cls, cfg);
    json_t *st = json_loads(state_json, JSON_DECODE_ANY, NULL);
    cr_assert_not_null(st, "bad test JSON %s", state_json);
    CT_FAILS_STATUS(ct__callback_set_state(cb, st), needle);
    json_decref(st);
    ct_callback_free(cb);
}

Test(callback_state, bad_states_name_the_callback_and_key) {
    const char *es = "{\"wait\": 1, \"stopped_epoch\": 0, \"best_epoch\": 0, \"best\": 2.5, "
                     "\"monitor_op\": \"less\"";
    char buf[256];
    expect_bad("EarlyStopping", NULL, "[1]", "EarlyStopping: resumed state: must be a JSON object");
    expect_bad("EarlyStopping", NULL, "{\"wait\": 1}",
               "EarlyStopping: resumed state: 'stopped_epoch' is missing");
    snprintf(buf, sizeof buf, "%s, \"patience\": 3}", es);
    expect_bad("EarlyStopping", NULL, buf, "EarlyStopping: resumed state: unknown key 'patience'");
    expect_bad("EarlyStopping", NULL,
               "{\"wait\": \"1\", \"stopped_epoch\": 0, \"best_epoch\": 0, \"best\": 2.5, "
               "\"monitor_op\": null}",
               "EarlyStopping: resumed state: 'wait' must be an integer >= 0, got \"1\"");
    expect_bad("EarlyStopping", NULL,
               "{\"wait\": -1, \"stopped_epoch\": 0, \"best_epoch\": 0, \"best\": 2.5, "
               "\"monitor_op\": null}",
               "'wait' must be an integer >= 0, got -1");
    expect_bad("EarlyStopping", NULL,
               "{\"wait\": 1, \"stopped_epoch\": 0, \"best_epoch\": 0, \"best\": \"Infinity\", "
               "\"monitor_op\": null}",
               "EarlyStopping: resumed state: 'best' must be a number or \"inf\", \"-inf\", "
               "\"nan\", got \"Infinity\"");
    expect_bad("EarlyStopping", NULL,
               "{\"wait\": 1, \"stopped_epoch\": 0, \"best_epoch\": 0, \"best\": 1, "
               "\"monitor_op\": \"max\"}",
               "'monitor_op' must be \"less\", \"greater\" or null, got \"max\"");
    expect_bad("ReduceLROnPlateau", NULL, "{\"wait\": 0, \"cooldown_counter\": 1.5, \"best\": 1}",
               "ReduceLROnPlateau: resumed state: 'cooldown_counter' must be an integer");
    expect_bad("ReduceLROnPlateau", NULL, "{\"wait\": 0, \"cooldown_counter\": 1}",
               "ReduceLROnPlateau: resumed state: 'best' is missing");
    expect_bad("TensorBoard", NULL,
               "{\"global_batch\": true, \"started\": 0, \"train\": [], \"validation\": []}",
               "TensorBoard: resumed state: 'global_batch' must be an integer");
    expect_bad("TensorBoard", NULL,
               "{\"global_batch\": 1, \"started\": 0, \"train\": [[\"../x\", 1]], "
               "\"validation\": []}",
               "TensorBoard: resumed state: 'train' must be a list of [event file name, size >= "
               "-1] pairs, got [[\"../x\",1]]");
    expect_bad("TensorBoard", NULL,
               "{\"global_batch\": 1, \"started\": 0, \"train\": [], "
               "\"validation\": [[\"events.out.tfevents.1.h.2.0.v2\", -2]]}",
               "'validation' must be a list of [event file name, size >= -1] pairs");
    expect_bad("TensorBoard", NULL,
               "{\"global_batch\": 1, \"started\": 0, \"train\": [], \"validation\": {}}",
               "'validation' must be a list");
    expect_bad("TensorBoard", NULL, "{}", "TensorBoard: resumed state: 'global_batch' is missing");
    const char *mc = "{\"filepath\": \"/tmp/ct_never_written.h5\"}";
    expect_bad("ModelCheckpoint", mc,
               "{\"best\": null, \"batches_since_save\": 0, \"last_batch_seen\": 0, \"epoch\": 0}",
               "ModelCheckpoint: resumed state: 'best' must be a number");
    expect_bad("ModelCheckpoint", mc,
               "{\"best\": 1, \"batches_since_save\": 0, \"last_batch_seen\": 0, \"epoch\": "
               "4294967296}",
               "ModelCheckpoint: resumed state: 'epoch' must be an epoch index");
    expect_bad("CSVLogger", "{\"filename\": \"/tmp/ct_never_written.csv\"}",
               "{\"size\": 0, \"keys\": \"loss\", \"append_header\": true}",
               "CSVLogger: resumed state: 'keys' must be a list of strings or null");
    expect_bad("CSVLogger", "{\"filename\": \"/tmp/ct_never_written.csv\"}",
               "{\"size\": 0, \"keys\": null, \"append_header\": 1}",
               "CSVLogger: resumed state: 'append_header' must be true or false, got 1");
    /* A bad state leaves the callback as it was. */
    ct_callback *cb = make("ReduceLROnPlateau", NULL);
    json_t *before = ct__callback_get_state(cb);
    json_t *bad = json_pack("{s:i, s:i, s:s}", "wait", 5, "cooldown_counter", -2, "best", "inf");
    CT_FAILS_STATUS(ct__callback_set_state(cb, bad), "'cooldown_counter'");
    expect_state(cb, before);
    json_decref(bad);
    json_decref(before);
    ct_callback_free(cb);
}

Test(callback_state, callbacks_without_state) {
    const char *classes[][2] = {{"TerminateOnNaN", NULL},
                                {"BackupAndRestore", "{\"backup_dir\": \"/tmp/ct_never\"}"}};
    for (int i = 0; i < 2; i++) {
        ct_callback *cb = make(classes[i][0], classes[i][1]);
        ct_clear_error();
        cr_assert_null(ct__callback_get_state(cb));
        cr_assert_eq(ct_last_status(), CT_OK);
        CT_STATUS_OK(ct__callback_set_state(cb, NULL));
        ct_callback_free(cb);
    }
    ct_callback *custom = ct_callback_custom(&(ct_callback_hooks){0});
    CT_OK(custom);
    cr_assert_null(ct__callback_get_state(custom));
    ct_callback_free(custom);
}
