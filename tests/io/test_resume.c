/* Training checkpoints (BackupAndRestore, CheckpointManager): a fit
 * stopped on a stop request (a preemption) and run again resumes where it
 * stopped and ends with the weights and epoch losses of a fit that was
 * never stopped, bit for bit; bad checkpoints give clear errors. Each
 * "run" here starts as a new process would: the same seed, fresh names,
 * a new model. tests/io/resume_kill.sh does the same with real SIGKILLs
 * and SIGTERMs. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctrain/checkpoint.h"
#include "h5_test.h"

#define N 100
#define EPOCHS 3

static ct_tensor *x_all, *y_all;

static void data_begin(void) {
    h5_dir_begin();
    float x[N * 6];
    int64_t y[N];
    uint32_t s = 12345;
    for (int i = 0; i < N * 6; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = (float)((s >> 8) % 2000) / 1000.0f - 1.0f;
    }
    for (int i = 0; i < N; i++) y[i] = (x[i * 6] + x[i * 6 + 1] > 0) + (x[i * 6 + 2] > 0.5f);
    x_all = ct_constant(x, CT_FLOAT32, 2, (int64_t[]){N, 6});
    y_all = ct_constant(y, CT_INT64, 1, (int64_t[]){N});
    ct_keep(x_all);
    ct_keep(y_all);
}

static void data_end(void) {
    ct_tensor_free(x_all);
    ct_tensor_free(y_all);
    h5_dir_end();
}

/* A map that adds noise from the element's own values (deterministic). */
static ct_status jitter(const ct_element *in, void *ctx, ct_element **out) {
    (void)ctx;
    ct_scope_begin();
    ct_tensor *x = ct_multiply(in->t[0], ct_scalar_of(CT_FLOAT32, 1.01));
    *out = x ? ct_element_copy(&(ct_element){.n = 2, .t = {x, in->t[1]}}) : NULL;
    ct_scope_end();
    return *out ? CT_OK : ct_last_status();
}

typedef struct {
    int64_t stop_at;  /* the global batch after which a stop is requested; -1 none */
    int64_t copy_at;  /* ... after which the backup is copied to backup.copy; 0 none */
    int64_t seen;
} stopper;

/* Replaces directory `to` (in the test's directory) by a copy of `from`. */
static void copy_dir(const char *from, const char *to) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", path_of(to), path_of(from),
             path_of(to));
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void stop_batch_end(void *ctx, ct_model *m, int64_t batch, ct_logs *logs) {
    (void)m, (void)batch, (void)logs;
    stopper *s = ctx;
    if (s->copy_at && s->seen == s->copy_at) copy_dir("backup", "backup.copy");
    if (s->seen++ == s->stop_at) ct_request_stop(15);
}

typedef struct {
    bool dataset;       /* shuffle + parallel map + batch instead of arrays */
    const char *backup; /* BackupAndRestore's config */
    const char *extra_cb, *extra_cfg;
    double validation_split;
    int64_t copy_at;    /* see stopper */
} setup;

typedef struct {
    float *w;
    int64_t nw;
    double loss[EPOCHS];
    int first_epoch, nepochs;
    bool preempted;
} outcome;

/* One run, as a new process: the model with Dropout and BatchNormalization,
 * Adam, shuffled data. */
static outcome run(const setup *su, int64_t stop_at) {
    outcome r = {0};
    ct_set_random_seed(42);
    ct_layer_reset_names();
    ct_model *m = made(ct_sequential_new(NULL));
    CT_STATUS_OK(ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 16, \"activation\": \"relu\"}")));
    CT_STATUS_OK(ct_sequential_add(m, ct_layer_new("BatchNormalization", NULL)));
    CT_STATUS_OK(ct_sequential_add(m, ct_layer_new("Dropout", "{\"rate\": 0.3}")));
    CT_STATUS_OK(ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 3}")));
    CT_STATUS_OK(ct_model_build(m, 2, (int64_t[]){-1, 6}));
    CT_STATUS_OK(ct_model_compile(
        m, &(ct_compile_opts){.optimizer = "adam",
                              .loss = "sparse_categorical_crossentropy",
                              .nmetrics = 1,
                              .metrics = (const char *[]){"accuracy"}}));
    ct_dataset *ds = NULL;
    if (su->dataset) {
        ds = ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {x_all, y_all}});
        ds = ct_dataset_shuffle(ds, 40, NULL);
        ds = ct_dataset_map(ds, jitter, NULL, 2);
        ds = ct_dataset_batch(ds, 16, false);
        CT_OK(ds);
    }
    stopper sp = {.stop_at = stop_at, .copy_at = su->copy_at};
    ct_callback *cbs[3];
    int ncb = 0;
    cbs[ncb++] = ct_callback_custom(&(ct_callback_hooks){.ctx = &sp, .on_train_batch_end = stop_batch_end});
    CT_OK(cbs[ncb++] = ct_callback_new("BackupAndRestore", su->backup));
    if (su->extra_cb) CT_OK(cbs[ncb++] = ct_callback_new(su->extra_cb, su->extra_cfg));
    ct_clear_stop_request();
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.x = ds ? NULL : x_all,
                                                   .y = ds ? NULL : y_all,
                                                   .dataset = ds,
                                                   .batch_size = 16,
                                                   .epochs = EPOCHS,
                                                   .validation_split = su->validation_split,
                                                   .verbose = CT_VERBOSE_SILENT,
                                                   .ncallbacks = ncb,
                                                   .callbacks = cbs});
    ct_clear_stop_request();
    CT_OK(h);
    r.preempted = ct_model_preempted(m);
    r.nepochs = ct_history_epochs(h);
    for (int i = 0; i < r.nepochs && i < EPOCHS; i++) r.loss[i] = ct_history_value(h, "loss", i);
    r.w = snapshot(m, &r.nw);
    ct_history_free(h);
    for (int i = 0; i < ncb; i++) ct_callback_free(cbs[i]);
    ct_dataset_free(ds);
    ct_model_free(m);
    return r;
}

/* Stops after global batch stop_at, runs again, and compares with a run
 * that was never stopped. */
static void check_resume(const setup *su, int64_t stop_at) {
    outcome straight = run(su, -1);
    cr_assert_not(straight.preempted);
    cr_assert_eq(straight.nepochs, EPOCHS);
    outcome first = run(su, stop_at);
    cr_assert(first.preempted, "the stop request did not preempt fit");
    int done = first.nepochs; /* epochs the first run finished */
    outcome second = run(su, -1);
    cr_assert_not(second.preempted);
    cr_assert_eq(done + second.nepochs, EPOCHS, "resumed %d epochs after %d", second.nepochs,
                 done);
    for (int i = 0; i < done; i++)
        cr_expect_eq(first.loss[i], straight.loss[i], "epoch %d loss %.17g vs %.17g", i,
                     first.loss[i], straight.loss[i]);
    for (int i = 0; i < second.nepochs; i++)
        cr_expect_eq(second.loss[i], straight.loss[done + i], "epoch %d loss %.17g vs %.17g",
                     done + i, second.loss[i], straight.loss[done + i]);
    cr_assert_eq(second.nw, straight.nw);
    for (int64_t i = 0; i < straight.nw; i++)
        cr_assert_eq(second.w[i], straight.w[i], "weight %lld: %.9g vs %.9g", (long long)i,
                     second.w[i], straight.w[i]);
    free(straight.w);
    free(first.w);
    free(second.w);
}

static char cfg[512];

static const char *backup_cfg(const char *extra) {
    snprintf(cfg, sizeof cfg, "{\"backup_dir\": \"%s\"%s}", path_of("backup"), extra);
    return cfg;
}

TestSuite(resume, .init = data_begin, .fini = data_end, .timeout = 120);

Test(resume, arrays_mid_epoch) {
    setup su = {.backup = backup_cfg("")};
    check_resume(&su, 10); /* epoch 1, batch 3 of 7 */
}

Test(resume, arrays_first_batch_and_last_batch) {
    setup su = {.backup = backup_cfg("")};
    check_resume(&su, 0);
    check_resume(&su, 6); /* the last batch of epoch 0 */
}

Test(resume, dataset_shuffle_parallel_map) {
    setup su = {.dataset = true, .backup = backup_cfg(", \"save_freq\": 2")};
    check_resume(&su, 9);
}

Test(resume, callbacks_state) {
    char csv[300];
    snprintf(csv, sizeof csv, "{\"filename\": \"%s\"}", path_of("log.csv"));
    setup su = {.backup = backup_cfg(""), .extra_cb = "CSVLogger", .extra_cfg = csv};
    check_resume(&su, 12);
}

/* EarlyStopping keeps epoch 0's weights as the best (min_delta is too
 * large for later epochs to count as better) and puts them back at the
 * end: a resumed run must have them too. */
Test(resume, early_stopping_best_weights) {
    setup su = {.backup = backup_cfg(""),
                .extra_cb = "EarlyStopping",
                .extra_cfg = "{\"monitor\": \"loss\", \"patience\": 10, \"min_delta\": 5, "
                             "\"restore_best_weights\": true}"};
    check_resume(&su, 16); /* in epoch 2 */
}

Test(resume, backup_removed_when_training_ends) {
    setup su = {.backup = backup_cfg("")};
    outcome r = run(&su, -1);
    free(r.w);
    struct stat sb;
    cr_expect_neq(stat(path_of("backup/checkpoint"), &sb), 0, "the backup was not deleted");
    su.backup = backup_cfg(", \"delete_checkpoint\": false");
    r = run(&su, -1);
    free(r.w);
    cr_expect_eq(stat(path_of("backup/checkpoint"), &sb), 0, "the backup was deleted");
}

/* The events of the event files in dir, in TensorBoard's order (by file
 * name), as one byte string: each Event's fields but its wall_time (field
 * 1), the file_version events left out. */
static size_t events_of(const char *dir, uint8_t **out, int *nfiles) {
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    cr_assert_geq(n, 0, "no %s", dir);
    size_t len = 0, cap = 1 << 16;
    *out = malloc(cap);
    *nfiles = 0;
    for (int i = 0; i < n; i++) {
        if (strncmp(names[i]->d_name, "events.out.tfevents.", 20)) {
            free(names[i]);
            continue;
        }
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        free(names[i]);
        ++*nfiles;
        FILE *f = fopen(path, "rb");
        cr_assert_not_null(f, "%s", path);
        uint8_t head[12];
        while (fread(head, 1, 12, f) == 12) {
            uint64_t rn;
            memcpy(&rn, head, 8);
            uint8_t *rec = malloc(rn + 4);
            cr_assert_eq(fread(rec, 1, rn + 4, f), rn + 4, "%s: a torn record", path);
            /* An Event: wall_time is field 1 (a double, key 0x09, first). */
            size_t skip = rn >= 9 && rec[0] == 0x09 ? 9 : 0;
            bool version = rn > skip && rec[skip] == 0x1a; /* field 3: file_version */
            if (!version) {
                while (len + rn + 8 > cap) *out = realloc(*out, cap *= 2);
                memcpy(*out + len, &rn, 8);
                memcpy(*out + len + 8, rec + skip, rn - skip);
                len += 8 + rn - skip;
            }
            free(rec);
        }
        fclose(f);
    }
    free(names);
    return len;
}

/* A process killed after its last checkpoint has written events past it,
 * and one killed before its first leaves a whole file of them; resuming
 * rolls both back, so that TensorBoard's logs are event for event those of
 * a run never interrupted (the graph, batch and epoch scalars, validation,
 * histograms). The kills are played here by putting back a copy of the
 * backup taken earlier. */
Test(resume, tensorboard_logs_roll_back_to_the_checkpoint) {
    char tb[2][400];
    const char *dirs[2] = {"logs.straight", "logs"};
    for (int i = 0; i < 2; i++)
        snprintf(tb[i], sizeof tb[i],
                 "{\"log_dir\": \"%s\", \"update_freq\": \"batch\", \"histogram_freq\": 1}",
                 path_of(dirs[i]));
    /* 80 examples to train on: 5 batches an epoch, 15 in all. */
    setup su = {.backup = backup_cfg(", \"save_freq\": 3"),
                .extra_cb = "TensorBoard",
                .extra_cfg = tb[0],
                .validation_split = 0.2};
    outcome straight = run(&su, -1);
    cr_assert_eq(straight.nepochs, EPOCHS);
    su.extra_cfg = tb[1];
    /* Earlier trainings' files in the same log directory stay: one of
     * long ago, one named in the second this training starts. */
    char old[2][300];
    snprintf(old[0], sizeof old[0], "%s",
             path_of("logs/train/events.out.tfevents.0000000001.x.1.0.v2"));
    snprintf(old[1], sizeof old[1], "%s/logs/train/events.out.tfevents.%010lld.y.1.0.v2", h5_dir,
             (long long)time(NULL));
    cr_assert_eq(mkdir(path_of("logs"), 0755), 0);
    cr_assert_eq(mkdir(path_of("logs/train"), 0755), 0);
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(old[i], "w");
        cr_assert_not_null(f);
        fclose(f);
    }
    /* The first process: checkpoints after batches 3 and 6, copied after
     * batch 5 (while the one of batch 3 is the latest), stopped after
     * batch 8; its files hold epoch 0's end and validation. Back to the
     * copy: batch 3. */
    su.copy_at = 4;
    outcome r = run(&su, 7);
    cr_assert(r.preempted);
    free(r.w);
    copy_dir("backup.copy", "backup");
    /* The second: resumes after batch 3, a file of its own up to batch 7;
     * back to batch 3 again, so that file is all past the checkpoint. */
    su.copy_at = 0;
    r = run(&su, 3);
    cr_assert(r.preempted);
    free(r.w);
    copy_dir("backup.copy", "backup");
    int nfiles;
    uint8_t *ev;
    events_of(path_of("logs/train"), &ev, &nfiles);
    free(ev);
    cr_assert_eq(nfiles, 4, "the second process wrote no file of its own");
    /* The third resumes after batch 3 and ends. */
    r = run(&su, -1);
    cr_assert_not(r.preempted);
    cr_assert_eq(r.nw, straight.nw);
    cr_assert_eq(memcmp(r.w, straight.w, (size_t)r.nw * sizeof *r.w), 0);
    free(r.w);
    free(straight.w);
    const char *runs[2] = {"train", "validation"};
    for (int k = 0; k < 2; k++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "logs.straight/%s", runs[k]);
        snprintf(b, sizeof b, "logs/%s", runs[k]);
        uint8_t *want, *got;
        int nwant, ngot;
        size_t lwant = events_of(path_of(a), &want, &nwant);
        size_t lgot = events_of(path_of(b), &got, &ngot);
        cr_expect_eq(nwant, 1);
        /* train: the earlier trainings' two, the first process's file
         * cut back, the third's; the second's removed. validation: only
         * the third's (the first's validation came after batch 3). */
        cr_expect_eq(ngot, k ? 1 : 4, "%s: %d event files", runs[k], ngot);
        cr_assert_gt(lwant, k ? 300 : 3000, "%s: %zu bytes of events", runs[k], lwant);
        cr_expect_eq(lgot, lwant, "%s: %zu bytes of events, not %zu", runs[k], lgot, lwant);
        cr_expect(lgot == lwant && !memcmp(got, want, lwant), "%s: the events differ", runs[k]);
        free(want);
        free(got);
    }
    struct stat sb;
    for (int i = 0; i < 2; i++)
        cr_expect_eq(stat(old[i], &sb), 0, "an earlier training's file was removed: %s", old[i]);
}

/* ---- CheckpointManager ---------------------------------------------------------------- */

static ct_model *small_model(void) {
    ct_layer_reset_names();
    ct_model *m = made(ct_sequential_new(NULL));
    CT_STATUS_OK(ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 3}")));
    CT_STATUS_OK(ct_model_build(m, 2, (int64_t[]){-1, 6}));
    CT_STATUS_OK(ct_model_compile(m, &(ct_compile_opts){.optimizer = "adam",
                                                        .loss = "sparse_categorical_crossentropy"}));
    return m;
}

Test(resume, manager_keeps_newest) {
    ct_model *m = small_model();
    const char *dir = path_of("ckpts");
    ct_checkpoint_manager *cm =
        ct_checkpoint_manager_new(m, dir, &(ct_checkpoint_manager_opts){.max_to_keep = 2});
    CT_OK(cm);
    cr_assert_null(ct_checkpoint_manager_latest(cm));
    for (int i = 0; i < 4; i++) CT_OK(ct_checkpoint_manager_save(cm));
    cr_assert_eq(ct_checkpoint_manager_num_checkpoints(cm), 2);
    cr_expect(strstr(ct_checkpoint_manager_checkpoint(cm, 0), "ckpt-3.h5"));
    cr_expect(strstr(ct_checkpoint_manager_latest(cm), "ckpt-4.h5"));
    struct stat sb;
    cr_expect_neq(stat(path_of("ckpts/ckpt-1.h5"), &sb), 0);
    cr_expect_eq(stat(path_of("ckpts/ckpt-3.h5"), &sb), 0);
    ct_checkpoint_manager_free(cm);
    /* A new manager reads the list; a save interrupted after its file was
     * written (ckpt-5.h5, not listed) is removed, and numbers go on. */
    FILE *f = fopen(path_of("ckpts/ckpt-5.h5"), "w");
    fputs("half a file", f);
    fclose(f);
    cm = ct_checkpoint_manager_new(m, dir, &(ct_checkpoint_manager_opts){.max_to_keep = 2});
    CT_OK(cm);
    cr_expect(strstr(ct_checkpoint_manager_latest(cm), "ckpt-4.h5"));
    cr_expect_neq(stat(path_of("ckpts/ckpt-5.h5"), &sb), 0, "the torn checkpoint stayed");
    const char *p = ct_checkpoint_manager_save(cm);
    CT_OK(p);
    cr_expect(strstr(p, "ckpt-6.h5"), "%s", p);
    /* delete_all removes an older unlisted file too (a sweep cut short),
     * then the directory. */
    f = fopen(path_of("ckpts/ckpt-2.h5"), "w");
    fclose(f);
    CT_STATUS_OK(ct_checkpoint_manager_delete_all(cm));
    cr_expect_neq(stat(dir, &sb), 0, "the directory is still there");
    ct_checkpoint_manager_free(cm);
    ct_model_free(m);
}

Test(resume, manager_restores_weights_and_iterator) {
    ct_model *m = small_model();
    ct_dataset *ds = ct_dataset_shuffle(ct_dataset_range(0, 50, 1), 10, &(ct_shuffle_opts){.seed = 3});
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_checkpoint_manager *cm = ct_checkpoint_manager_new(m, path_of("c"), NULL);
    CT_OK(cm);
    CT_STATUS_OK(ct_checkpoint_manager_track_iterator(cm, "train", it));
    ct_element *e;
    for (int i = 0; i < 7; i++) {
        CT_STATUS_OK(ct_iterator_next(it, &e));
        ct_element_free(e);
    }
    int64_t n;
    float *before = snapshot(m, &n);
    CT_OK(ct_checkpoint_manager_save(cm));
    int64_t next[5];
    for (int i = 0; i < 5; i++) {
        CT_STATUS_OK(ct_iterator_next(it, &e));
        next[i] = (int64_t)ct_tensor_get(e->t[0], 0);
        ct_element_free(e);
    }
    CT_STATUS_OK(h5m_fill(m, 3.0));
    /* Back to the checkpoint: the weights and the iterator's position. */
    CT_STATUS_OK(ct_checkpoint_manager_restore(cm, NULL));
    float *after = snapshot(m, &n);
    for (int64_t i = 0; i < n; i++) cr_assert_eq(before[i], after[i]);
    for (int i = 0; i < 5; i++) {
        CT_STATUS_OK(ct_iterator_next(it, &e));
        cr_expect_eq((int64_t)ct_tensor_get(e->t[0], 0), next[i]);
        ct_element_free(e);
    }
    free(before);
    free(after);
    ct_checkpoint_manager_free(cm);
    ct_iterator_free(it);
    ct_dataset_free(ds);
    ct_model_free(m);
}

Test(resume, bad_checkpoints) {
    ct_model *m = small_model();
    ct_checkpoint_manager *cm = ct_checkpoint_manager_new(m, path_of("b"), NULL);
    CT_OK(cm);
    const char *p = ct_checkpoint_manager_save(cm);
    CT_OK(p);
    char saved[256];
    snprintf(saved, sizeof saved, "%s", p);
    /* A model of another shape. */
    ct_layer_reset_names();
    ct_model *other = made(ct_sequential_new(NULL));
    CT_STATUS_OK(ct_sequential_add(other, ct_layer_new("Dense", "{\"units\": 4}")));
    CT_STATUS_OK(ct_model_build(other, 2, (int64_t[]){-1, 6}));
    ct_checkpoint_manager *cm2 = ct_checkpoint_manager_new(other, path_of("b"), NULL);
    CT_OK(cm2);
    CT_FAILS_STATUS(ct_checkpoint_manager_restore(cm2, NULL), "shape");
    ct_checkpoint_manager_free(cm2);
    ct_model_free(other);
    /* A tracked iterator the checkpoint has no position for. */
    ct_dataset *ds = ct_dataset_range(0, 5, 1);
    ct_iterator *it = ct_dataset_iterator(ds);
    CT_STATUS_OK(ct_checkpoint_manager_track_iterator(cm, "eval", it));
    CT_FAILS_STATUS(ct_checkpoint_manager_restore(cm, NULL), "iterator 'eval'");
    /* A file cut short, and a plain model file. */
    truncate(saved, 100);
    CT_FAILS_STATUS(ct_checkpoint_manager_restore(cm, saved), "cut short");
    CT_STATUS_OK(ct_model_save_weights(m, path_of("w.h5"), NULL));
    CT_FAILS_STATUS(ct_checkpoint_manager_restore(cm, path_of("w.h5")), "no training_state");
    /* A damaged list. */
    FILE *f = fopen(path_of("b/checkpoint"), "w");
    fputs("model_checkpoint_path: \"ckpt-1.h5\"\nbogus line\n", f);
    fclose(f);
    CT_FAILS(ct_checkpoint_manager_new(m, path_of("b"), NULL), "line 2");
    ct_checkpoint_manager_free(cm);
    ct_iterator_free(it);
    ct_dataset_free(ds);
    ct_model_free(m);
}

/* TF's sweep: of the checkpoints max_to_keep drops, one every
 * keep_checkpoint_every_n_hours stays on disk, unlisted. The list's
 * timestamps are moved back: ckpt-1 half an hour old, the last preserved
 * one three hours. */
Test(resume, manager_keeps_one_every_n_hours) {
    ct_model *m = small_model();
    const char *dir = path_of("hours");
    ct_checkpoint_manager_opts o = {.max_to_keep = 1, .keep_checkpoint_every_n_hours = 1};
    ct_checkpoint_manager *cm = ct_checkpoint_manager_new(m, dir, &o);
    CT_OK(cm);
    CT_OK(ct_checkpoint_manager_save(cm));
    ct_checkpoint_manager_free(cm);
    double now = (double)time(NULL);
    FILE *f = fopen(path_of("hours/checkpoint"), "w");
    fprintf(f, "model_checkpoint_path: \"ckpt-1.h5\"\nall_model_checkpoint_paths: \"ckpt-1.h5\"\n"
               "all_model_checkpoint_timestamps: %.3f\nlast_preserved_timestamp: %.3f\n",
            now - 1800, now - 3 * 3600);
    fclose(f);
    cm = ct_checkpoint_manager_new(m, dir, &o);
    CT_OK(cm);
    /* Drops ckpt-1 from the list; 2.5 hours after the last preserved one,
     * its file stays. */
    CT_OK(ct_checkpoint_manager_save(cm));
    /* Drops ckpt-2, which is not an hour newer than ckpt-1: removed. */
    CT_OK(ct_checkpoint_manager_save(cm));
    cr_assert_eq(ct_checkpoint_manager_num_checkpoints(cm), 1);
    struct stat sb;
    cr_expect_eq(stat(path_of("hours/ckpt-1.h5"), &sb), 0, "ckpt-1 was not preserved");
    cr_expect_neq(stat(path_of("hours/ckpt-2.h5"), &sb), 0, "ckpt-2 was preserved");
    cr_expect_eq(stat(path_of("hours/ckpt-3.h5"), &sb), 0);
    ct_checkpoint_manager_free(cm);
    ct_model_free(m);
}
