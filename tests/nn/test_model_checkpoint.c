/*
 * ModelCheckpoint (weights files): the file names Python's str.format
 * would give, saving every epoch / the best epochs / every N batches with
 * the counts of keras/src/callbacks/model_checkpoint.py, the files read
 * back into a fresh model, and the errors (construction, formatting, a
 * path that cannot be written). Each test works in a temporary directory
 * of its own and removes it.
 */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/internal.h"
#include "support.h"

TestSuite(model_checkpoint, .init = ct_test_layer_begin, .fini = ct_test_end);

/* ---- a model, data, a temporary directory ----------------------------------------------- */

/* Dense(1) on 16 points of y = x0 - x1. */
static ct_model *small_model(void) {
    ct_set_random_seed(3);
    ct_model *m = ct_sequential_new(NULL);
    CT_OK(m);
    CT_STATUS_OK(ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 1}")));
    ct_optimizer *o = ct_optimizer_new("sgd", &(ct_optimizer_opts){.learning_rate = 0.05});
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

static char *make_tmpdir(void) {
    static char dir[64];
    strcpy(dir, "/tmp/ct_mckpt_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void rm_tree(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static bool exists(const char *dir, const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static int count_files(const char *dir) {
    int n = 0;
    for (int e = 1; e <= 9; e++)
        for (int b = 0; b <= 9; b++) {
            char name[64];
            snprintf(name, sizeof name, b ? "b-%d-%d.h5" : "best-%d.h5", e, b);
            n += exists(dir, name);
        }
    return n;
}

/* ---- scripted values and weight snapshots --------------------------------------------------- */

/* Writes values[e] under key into each epoch's logs (ahead of the
 * checkpoint) and keeps the weights (kernel 2, bias 1) each epoch ended with. */
typedef struct {
    const char *key;
    const double *values;
    double w[16][3];
} script;

static void snap(ct_model *m, double *w) {
    ct_layer *l = ct_model_layer(m);
    w[0] = ct_tensor_get(ct_variable_value(ct_layer_weight(l, 0)), 0);
    w[1] = ct_tensor_get(ct_variable_value(ct_layer_weight(l, 0)), 1);
    w[2] = ct_tensor_get(ct_variable_value(ct_layer_weight(l, 1)), 0);
}

static void script_epoch_end(void *c, ct_model *m, int e, ct_logs *l) {
    script *s = c;
    if (s->key) CT_STATUS_OK(ct_logs_set(l, s->key, s->values[e]));
    snap(m, s->w[e]);
}

static ct_callback *scripted(script *s) {
    ct_callback *cb =
        ct_callback_custom(&(ct_callback_hooks){.ctx = s, .on_epoch_end = script_epoch_end});
    CT_OK(cb);
    return cb;
}

static ct_history *fit(ct_model *m, ct_callback *a, ct_callback *b, int epochs, int batch_size) {
    ct_tensor *x, *y;
    data(&x, &y);
    ct_callback *cbs[2] = {a, b};
    return ct_model_fit(m, &(ct_fit_opts){.x = x,
                                          .y = y,
                                          .batch_size = batch_size,
                                          .epochs = epochs,
                                          .ncallbacks = b ? 2 : 1,
                                          .callbacks = cbs,
                                          .verbose = CT_VERBOSE_SILENT});
}

static ct_callback *checkpoint(const char *fmt, const char *dir, const char *extra) {
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "{\"filepath\": \"%s/%s\", \"save_weights_only\": true%s%s}", dir,
             fmt, extra ? ", " : "", extra ? extra : "");
    ct_callback *cb = ct_callback_new("ModelCheckpoint", cfg);
    CT_OK(cb);
    return cb;
}

/* The file read back into a fresh model has the weights w. */
static void expect_file_weights(const char *dir, const char *name, const double *w) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ct_model *fresh = small_model();
    CT_STATUS_OK(ct_model_build(fresh, 2, (const int64_t[]){-1, 2}));
    CT_STATUS_OK(ct_model_load_weights(fresh, p, NULL));
    double got[3];
    snap(fresh, got);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(got[i], w[i], "%s: weight %d is %g, want %g", name, i, got[i], w[i]);
    ct_model_free(fresh);
}

/* Runs fit with stdout and stderr sent to a file; returns what they got. */
static char captured[8192];

static void capture_begin(int *saved) {
    fflush(stdout);
    fflush(stderr);
    char path[] = "/tmp/ct_mckpt_out_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    unlink(path);
    saved[0] = dup(1);
    saved[1] = dup(2);
    saved[2] = fd;
    dup2(fd, 1);
    dup2(fd, 2);
}

static void capture_end(int *saved) {
    fflush(stdout);
    fflush(stderr);
    dup2(saved[0], 1);
    dup2(saved[1], 2);
    close(saved[0]);
    close(saved[1]);
    ssize_t n = pread(saved[2], captured, sizeof captured - 1, 0);
    captured[n > 0 ? n : 0] = 0;
    close(saved[2]);
}

/* ---- tests ----------------------------------------------------------------------------------- */

/* save_weights_only false (Keras's default): full-model files, which
 * ct_model_load rebuilds, compiled, with the epoch's weights. */
Test(model_checkpoint, saves_full_models) {
    char *dir = make_tmpdir();
    ct_model *m = small_model();
    script s = {0};
    ct_callback *sc = scripted(&s);
    char cfg[512];
    snprintf(cfg, sizeof cfg, "{\"filepath\": \"%s/m-{epoch}.h5\"}", dir);
    ct_callback *mc = ct_callback_new("ModelCheckpoint", cfg);
    CT_OK(mc);
    ct_history *h = fit(m, sc, mc, 2, 8);
    CT_OK(h);
    for (int e = 0; e < 2; e++) {
        char p[512];
        snprintf(p, sizeof p, "%s/m-%d.h5", dir, e + 1);
        ct_model *back = ct_model_load(p, NULL);
        CT_OK(back);
        double got[3];
        snap(back, got);
        for (int i = 0; i < 3; i++)
            cr_assert_eq(got[i], s.w[e][i], "epoch %d weight %d", e + 1, i);
        cr_assert_not_null(ct_model_optimizer(back), "the file's model is compiled");
        ct_model_free(back);
    }
    ct_history_free(h);
    ct_callback_free(mc);
    ct_callback_free(sc);
    ct_model_free(m);
    rm_tree(dir);
}

Test(model_checkpoint, saves_every_epoch_and_reads_back) {
    char *dir = make_tmpdir();
    ct_model *m = small_model();
    script s = {0};
    ct_callback *sc = scripted(&s);
    /* Parents that do not exist yet are created. */
    ct_callback *mc = checkpoint("a/b/w-{epoch:02d}-{loss:.4f}.weights.h5", dir, NULL);
    ct_history *h = fit(m, sc, mc, 3, 8);
    CT_OK(h);
    for (int e = 0; e < 3; e++) {
        char name[128];
        snprintf(name, sizeof name, "a/b/w-%02d-%.4f.weights.h5", e + 1,
                 ct_history_value(h, "loss", e));
        cr_assert(exists(dir, name), "%s not written", name);
        expect_file_weights(dir, name, s.w[e]);
    }
    ct_history_free(h);
    ct_callback_free(mc);
    ct_callback_free(sc);
    ct_model_free(m);
    rm_tree(dir);
}

Test(model_checkpoint, file_names_as_python_str_format) {
    char *dir = make_tmpdir();
    ct_model *m = small_model();
    script s = {.key = "score", .values = (const double[]){9, 0.1234}};
    ct_callback *sc = scripted(&s);
    ct_callback *mc = checkpoint(
        "{{x}}-{epoch}-{epoch:+05d}-{epoch:<3d}|-{score:.2e}-{score:g}-{score:.1%}-{score}-"
        "{score:8.3f}-{score:^9.2f}-{score:.3}-{score:=+9.3f}-{score:E}-{epoch:.1f}-"
        "{epoch:*>4}-{score:.1}.h5",
        dir, NULL);
    ct_history *h = fit(m, sc, mc, 2, 8);
    CT_OK(h);
    /* Python 3: the same format with epoch=2, score=0.1234. */
    const char *want = "{x}-2-+0002-2  |-1.23e-01-0.1234-12.3%-0.1234-   0.123-  0.12   -0.123-"
                       "+   0.123-1.234000E-01-2.0-***2-0.1.h5";
    cr_assert(exists(dir, want), "%s not written", want);
    cr_assert(exists(dir, "{x}-1-+0001-1  |-9.00e+00-9-900.0%-9.0-   9.000-  9.00   -9.0-"
                          "+   9.000-9.000000E+00-1.0-***1-9e+00.h5"));
    ct_history_free(h);
    ct_callback_free(mc);
    ct_callback_free(sc);
    ct_model_free(m);
    rm_tree(dir);
}

static void expect_format_error(const char *fmt, const char *needle) {
    char *dir = make_tmpdir();
    ct_model *m = small_model();
    ct_callback *mc = checkpoint(fmt, dir, NULL);
    ct_clear_error();
    cr_assert_null(fit(m, mc, NULL, 2, 8), "%s formatted", fmt);
    cr_assert(strstr(ct_last_error(), "Failed to format this callback filepath"), "%s",
              ct_last_error());
    cr_assert(strstr(ct_last_error(), needle), "\"%s\" does not mention \"%s\"", ct_last_error(),
              needle);
    ct_callback_free(mc);
    ct_model_free(m);
    rm_tree(dir);
}

Test(model_checkpoint, file_name_errors) {
    expect_format_error("w-{val_loss:.2f}.h5", "Reason: 'val_loss'");
    expect_format_error("w-{loss:02d}.h5", "Unknown format code 'd' for object of type 'float'");
    expect_format_error("w-{epoch:.2d}.h5", "Precision not allowed");
    expect_format_error("w-{loss:q}.h5", "Unknown format code 'q'");
    expect_format_error("w-}.h5", "Single '}'");
    expect_format_error("w-{epoch.h5", "expected '}'");
    expect_format_error("w-{}.h5", "positional");
}

Test(model_checkpoint, save_best_only_modes) {
    char *dir = make_tmpdir();
    ct_model *m = small_model();
    /* Up, then down: a maximized metric improves at epochs 0, 1 and 3. */
    script s = {.key = "val_accuracy", .values = (const double[]){0.5, 0.7, 0.6, 0.8, 0.4}};
    ct_callback *sc = scripted(&s);
    const char *modes[3] = {"\"auto\"", "\"max\"", "\"min\""};
    for (int i = 0; i < 3; i++) {
        char extra[128];
        snprintf(extra, sizeof extra,
                 "\"monitor\": \"val_accuracy\", \"save_best_only\": true, \"mode\": %s",
                 modes[i]);
        ct_callback *mc = checkpoint("best-{epoch}.h5", dir, extra);
        ct_history *h = fit(m, sc, mc, 5, 8);
        CT_OK(h);
        bool want[5] = {true, true, false, true, false};
        if (i == 2) /* minimized: 0.5, then 0.4 */
            memcpy(want, (bool[5]){true, false, false, false, true}, sizeof want);
        for (int e = 0; e < 5; e++) {
            char name[32];
            snprintf(name, sizeof name, "best-%d.h5", e + 1);
            cr_assert_eq(exists(dir, name), want[e], "mode %s: %s", modes[i], name);
            if (want[e]) expect_file_weights(dir, name, s.w[e]);
        }
        ct_history_free(h);
        ct_callback_free(mc);
        rm_tree(dir);
        cr_assert_eq(mkdir(dir, 0700), 0);
    }
    /* auto on a name that is not maximized minimizes; one fixed file holds
     * the best epoch's weights. */
    s.key = "score";
    ct_callback *mc =
        checkpoint("best.h5", dir, "\"monitor\": \"score\", \"save_best_only\": true, "
                                   "\"verbose\": 1");
    int saved[3];
    capture_begin(saved);
    ct_history *h = fit(m, sc, mc, 5, 8);
    capture_end(saved);
    CT_OK(h);
    expect_file_weights(dir, "best.h5", s.w[4]);
    char want[2048];
    snprintf(want, sizeof want,
             "\nEpoch 1: score improved from inf to 0.50000, saving model to %s/best.h5\n"
             "\nEpoch 2: score did not improve from 0.50000\n"
             "\nEpoch 3: score did not improve from 0.50000\n"
             "\nEpoch 4: score did not improve from 0.50000\n"
             "\nEpoch 5: score improved from 0.50000 to 0.40000, saving model to %s/best.h5\n",
             dir, dir);
    cr_assert_str_eq(captured, want);
    ct_history_free(h);
    ct_callback_free(mc);
    ct_callback_free(sc);
    ct_model_free(m);
    rm_tree(dir);
}

Test(model_checkpoint, initial_value_threshold) {
    char *dir = make_tmpdir();
    ct_model *m = small_model();
    script s = {.key = "val_accuracy", .values = (const double[]){0.5, 0.7, 0.6, 0.8, 0.4}};
    ct_callback *sc = scripted(&s);
    ct_callback *mc =
        checkpoint("best-{epoch}.h5", dir,
                   "\"monitor\": \"val_accuracy\", \"save_best_only\": true, \"mode\": \"max\", "
                   "\"initial_value_threshold\": 0.75");
    ct_history *h = fit(m, sc, mc, 5, 8);
    CT_OK(h);
    cr_assert_eq(count_files(dir), 1);
    cr_assert(exists(dir, "best-4.h5"));
    ct_history_free(h);
    ct_callback_free(mc);
    ct_callback_free(sc);
    ct_model_free(m);
    rm_tree(dir);
}

Test(model_checkpoint, save_freq_counts_batches_across_epochs) {
    char *dir = make_tmpdir();
    ct_model *m = small_model();
    ct_callback *mc = checkpoint("b-{epoch}-{batch}.h5", dir, "\"save_freq\": 3, \"verbose\": 1");
    /* 4 batches an epoch, 3 epochs: saves after batches 3, 6, 9 and 12 of
     * the run, i.e. (epoch, batch) (1, 3), (2, 2), (3, 1), (3, 4), and
     * none at an epoch's end. */
    int saved[3];
    capture_begin(saved);
    ct_history *h = fit(m, mc, NULL, 3, 4);
    capture_end(saved);
    CT_OK(h);
    cr_assert_eq(count_files(dir), 4);
    cr_assert(exists(dir, "b-1-3.h5") && exists(dir, "b-2-2.h5") && exists(dir, "b-3-1.h5") &&
              exists(dir, "b-3-4.h5"));
    char want[2048];
    snprintf(want, sizeof want,
             "\nEpoch 1: saving model to %s/b-1-3.h5\n\nEpoch 2: saving model to %s/b-2-2.h5\n"
             "\nEpoch 3: saving model to %s/b-3-1.h5\n\nEpoch 3: saving model to %s/b-3-4.h5\n",
             dir, dir, dir, dir);
    cr_assert_str_eq(captured, want);
    ct_history_free(h);
    ct_callback_free(mc);
    ct_model_free(m);
    rm_tree(dir);
}

Test(model_checkpoint, missing_monitor_warns_and_skips) {
    char *dir = make_tmpdir();
    ct_model *m = small_model();
    /* Keras makes the directory even when it does not save. */
    ct_callback *mc = checkpoint("sub/best-{epoch}.h5", dir, "\"save_best_only\": true");
    int saved[3];
    capture_begin(saved);
    ct_history *h = fit(m, mc, NULL, 2, 8);
    capture_end(saved);
    CT_OK(h);
    cr_assert(exists(dir, "sub") && !exists(dir, "sub/best-1.h5") && !exists(dir, "sub/best-2.h5"));
    cr_assert_str_eq(captured,
                     "WARNING: Can save best model only with val_loss available, skipping.\n"
                     "WARNING: Can save best model only with val_loss available, skipping.\n");
    ct_history_free(h);
    ct_callback_free(mc);
    ct_model_free(m);
    rm_tree(dir);
}

Test(model_checkpoint, construction_errors) {
    CT_FAILS(ct_callback_new("ModelCheckpoint", "{\"save_weights_only\": true}"), "filepath");
    CT_FAILS(ct_callback_new("ModelCheckpoint",
                             "{\"filepath\": \"m.keras\", \"save_weights_only\": true}"),
             "ctrain writes HDF5");
    CT_FAILS(ct_callback_new("ModelCheckpoint",
                             "{\"filepath\": \"w.h5\", \"save_weights_only\": true, "
                             "\"save_freq\": \"batch\"}"),
             "Unrecognized save_freq: \"batch\"");
    CT_FAILS(ct_callback_new("ModelCheckpoint",
                             "{\"filepath\": \"w.h5\", \"save_weights_only\": true, "
                             "\"save_freq\": 0}"),
             "save_freq");
    CT_FAILS(ct_callback_new("ModelCheckpoint",
                             "{\"filepath\": \"w.h5\", \"save_weights_only\": true, "
                             "\"period\": 2}"),
             "period");
    CT_FAILS(ct_callback_new("ModelCheckpoint",
                             "{\"filepath\": \"w.h5\", \"save_weights_only\": true, "
                             "\"initial_value_threshold\": \"x\"}"),
             "initial_value_threshold");
    const char *ok[] = {"w.h5", "w.hdf5", "w.weights.h5"};
    for (int i = 0; i < 3; i++) {
        char cfg[256];
        snprintf(cfg, sizeof cfg,
                 "{\"filepath\": \"%s\", \"save_weights_only\": true, \"save_freq\": \"epoch\"}",
                 ok[i]);
        ct_callback *cb = ct_callback_new("ModelCheckpoint", cfg);
        CT_OK(cb);
        ct_callback_free(cb);
    }
}

Test(model_checkpoint, unwritable_path_fails_fit) {
    char *dir = make_tmpdir();
    /* A regular file where a directory should be. */
    char file[256];
    snprintf(file, sizeof file, "%s/plain", dir);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    ct_model *m = small_model();
    ct_callback *mc = checkpoint("plain/w-{epoch}.h5", dir, NULL);
    ct_clear_error();
    cr_assert_null(fit(m, mc, NULL, 2, 8));
    cr_assert(strstr(ct_last_error(), "ModelCheckpoint") && strstr(ct_last_error(), "plain/w-1.h5"),
              "%s", ct_last_error());
    ct_callback_free(mc);
    /* An existing directory as the file path. */
    snprintf(file, sizeof file, "%s/d.h5", dir);
    cr_assert_eq(mkdir(file, 0700), 0);
    mc = checkpoint("d.h5", dir, NULL);
    ct_clear_error();
    cr_assert_null(fit(m, mc, NULL, 2, 8));
    cr_assert(strstr(ct_last_error(), "non-directory filepath"), "%s", ct_last_error());
    ct_callback_free(mc);
    ct_model_free(m);
    rm_tree(dir);
}
