/*
 * Resuming (issue #7): the cost of training checkpoints in fit and the
 * time to the first resumed step, on the main job's model and pipeline
 * (examples/fashion_mnist/mlp.json: the MLP of mlp_model.json, Adam,
 * Fashion-MNIST scaled to float32, shuffle(60000, seed 1), batch 128,
 * prefetch).
 *
 *   bench_resume [--reps N] [--save-freq K] [--threads T] [--dir D] [--model FILE]
 *
 * Per repetition, alternating so that drift hits all alike:
 *   - one epoch without a backup, and one with BackupAndRestore saving
 *     every K batches: the difference over the number of saves is the
 *     cost of one save in fit (state gathered, files written and fsynced,
 *     the list replaced);
 *   - from fit's call to the end of its first batch, fresh (nothing to
 *     resume) and resumed from checkpoints saved after batch 1 (the
 *     shuffle buffer nearly full: the largest iterator state) and batch
 *     400 (nearly empty). A resumed fit reads the checkpoint, restores
 *     weights, optimizer, random state, metrics, callbacks and the data
 *     iterator, then trains.
 * Loading Fashion-MNIST and building the model come before fit in both
 * cases and are reported once ("startup_s"). One JSON line per
 * measurement, then the medians.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "ctrain/checkpoint.h"

static void die(const char *what) { bench_die("bench_resume", what); }

static const char *model_file = "examples/fashion_mnist/mlp_model.json";
static ct_tensor *x_train, *y_train;

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench_resume: cannot read '%s' (run from the repository root or give "
                        "--model)\n",
                path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (!s || fread(s, 1, (size_t)n, f) != (size_t)n) exit(1);
    s[n] = 0;
    fclose(f);
    return s;
}

static ct_model *make_model(void) {
    ct_set_random_seed(42);
    ct_layer_reset_names();
    char *json = read_text(model_file);
    ct_model *m = ct_model_from_json(json);
    free(json);
    if (!m) die("the model");
    ct_optimizer *adam = ct_optimizer_new("adam", &(ct_optimizer_opts){.learning_rate = 0.001});
    ct_loss *loss = ct_loss_from_config("{\"class_name\": \"SparseCategoricalCrossentropy\", "
                                        "\"config\": {\"from_logits\": true}}");
    if (!adam || !loss) die("the optimizer and loss");
    if (ct_model_compile(m, &(ct_compile_opts){.optimizer_obj = adam,
                                               .loss_obj = loss,
                                               .nmetrics = 1,
                                               .metrics = (const char *[]){"accuracy"}}))
        die("compile");
    return m;
}

static ct_dataset *make_data(void) {
    ct_dataset *ds = ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {x_train, y_train}});
    ds = ct_dataset_shuffle(ds, 60000, &(ct_shuffle_opts){.seed = 1});
    ds = ct_dataset_prefetch(ct_dataset_batch(ds, 128, false), CT_AUTOTUNE);
    if (!ds) die("the dataset");
    return ds;
}

/* A callback that notes the time of the first batch's end and asks fit to
 * stop there (stop_at >= 0: after that batch). */
typedef struct {
    double first_end;
    int64_t stop_at, seen;
} probe;

static void probe_batch_end(void *ctx, ct_model *m, int64_t batch, ct_logs *logs) {
    (void)m, (void)batch, (void)logs;
    probe *p = ctx;
    if (p->seen == 0) p->first_end = bench_now();
    if (p->seen++ == p->stop_at) ct_request_stop(1);
}

/* One fit of `epochs` with the probe and, when backup_json, a
 * BackupAndRestore; returns fit's seconds (first_s: to the first batch's
 * end). */
static double run_fit(const char *backup_json, int64_t stop_at, double *first_s) {
    ct_model *m = make_model();
    ct_dataset *ds = make_data();
    probe p = {.stop_at = stop_at};
    ct_callback *cbs[2];
    int n = 0;
    cbs[n++] = ct_callback_custom(&(ct_callback_hooks){.ctx = &p, .on_train_batch_end = probe_batch_end});
    if (backup_json && !(cbs[n++] = ct_callback_new("BackupAndRestore", backup_json)))
        die("BackupAndRestore");
    ct_clear_stop_request();
    double t0 = bench_now();
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.dataset = ds,
                                                   .epochs = 1,
                                                   .verbose = CT_VERBOSE_SILENT,
                                                   .ncallbacks = n,
                                                   .callbacks = cbs});
    double s = bench_now() - t0;
    ct_clear_stop_request();
    if (!h) die("fit");
    if (first_s) *first_s = p.first_end - t0;
    ct_history_free(h);
    for (int i = 0; i < n; i++) ct_callback_free(cbs[i]);
    ct_dataset_free(ds);
    ct_model_free(m);
    return s;
}

static long long file_bytes(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* A checkpoint saved after batch `after` (a stop request there), in dir;
 * its path. */
static char *make_checkpoint(const char *dir, int64_t after) {
    char cfg[512];
    snprintf(cfg, sizeof cfg, "{\"backup_dir\": \"%s\", \"delete_checkpoint\": false}", dir);
    run_fit(cfg, after, NULL);
    ct_model *m = make_model();
    ct_checkpoint_manager *cm = ct_checkpoint_manager_new(m, dir, NULL);
    const char *latest = cm ? ct_checkpoint_manager_latest(cm) : NULL;
    if (!latest) die("the checkpoint");
    char *path = strdup(latest);
    ct_checkpoint_manager_free(cm);
    ct_model_free(m);
    return path;
}

int main(int argc, char **argv) {
    int reps = 5, threads = 2;
    int64_t save_freq = 50;
    const char *dir = "/tmp/ct_bench_resume";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--save-freq") && i + 1 < argc) save_freq = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model_file = argv[++i];
        else {
            fprintf(stderr, "usage: bench_resume [--reps N] [--save-freq K] [--threads T] "
                            "[--dir D] [--model FILE]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > 100 || save_freq < 1) return 2;
    ct_set_num_threads(threads);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0) return 1;

    double t0 = bench_now();
    ct_scope_begin();
    ct_tensor *x8, *xt8, *yt;
    if (ct_load_fashion_mnist(NULL, &x8, &y_train, &xt8, &yt)) die("Fashion-MNIST");
    x_train = ct_keep(ct_multiply(ct_cast(x8, CT_FLOAT32), ct_scalar(1.0 / 255)));
    ct_keep(y_train);
    double load_s = bench_now() - t0;
    t0 = bench_now();
    ct_model_free(make_model());
    double build_s = bench_now() - t0;
    printf("{\"bench\": \"resume_startup\", \"load_fashion_mnist_s\": %.3f, \"build_model_s\": "
           "%.4f, \"threads\": %d}\n",
           load_s, build_s, threads);

    char early_dir[512], late_dir[512], scratch[512], save_dir[512];
    snprintf(early_dir, sizeof early_dir, "%s/after1", dir);
    snprintf(late_dir, sizeof late_dir, "%s/after400", dir);
    snprintf(scratch, sizeof scratch, "%s/scratch", dir);
    snprintf(save_dir, sizeof save_dir, "%s/saves", dir);
    char *early = make_checkpoint(early_dir, 0), *late = make_checkpoint(late_dir, 399);
    printf("{\"bench\": \"resume_checkpoint_bytes\", \"after_batch_1\": %lld, "
           "\"after_batch_400\": %lld}\n",
           file_bytes(early), file_bytes(late));

    double *plain = calloc((size_t)reps, sizeof *plain), *saving = calloc((size_t)reps, sizeof *saving);
    double *fresh = calloc((size_t)reps, sizeof *fresh), *res1 = calloc((size_t)reps, sizeof *res1);
    double *res400 = calloc((size_t)reps, sizeof *res400);
    int64_t saves = 469 / save_freq;
    char save_cfg[600], r1_cfg[1200], r400_cfg[1200];
    snprintf(save_cfg, sizeof save_cfg,
             "{\"backup_dir\": \"%s\", \"save_freq\": %lld, \"delete_checkpoint\": false}",
             save_dir, (long long)save_freq);
    /* Resumed fits stop after their first batch without saving. */
    snprintf(r1_cfg, sizeof r1_cfg,
             "{\"backup_dir\": \"%s\", \"restore_from\": \"%s\", \"save_freq\": false, "
             "\"save_before_preemption\": false, \"delete_checkpoint\": false}",
             scratch, early);
    snprintf(r400_cfg, sizeof r400_cfg,
             "{\"backup_dir\": \"%s\", \"restore_from\": \"%s\", \"save_freq\": false, "
             "\"save_before_preemption\": false, \"delete_checkpoint\": false}",
             scratch, late);
    for (int r = 0; r < reps; r++) {
        plain[r] = run_fit(NULL, -1, NULL);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", save_dir);
        if (system(cmd) != 0) return 1;
        saving[r] = run_fit(save_cfg, -1, NULL);
        run_fit(NULL, 0, &fresh[r]);
        run_fit(r1_cfg, 0, &res1[r]);
        run_fit(r400_cfg, 0, &res400[r]);
        printf("{\"bench\": \"resume\", \"rep\": %d, \"epoch_s\": %.3f, \"epoch_with_saves_s\": "
               "%.3f, \"saves\": %lld, \"first_step_fresh_s\": %.4f, "
               "\"first_step_resumed_after_1_s\": %.4f, \"first_step_resumed_after_400_s\": "
               "%.4f}\n",
               r, plain[r], saving[r], (long long)saves, fresh[r], res1[r], res400[r]);
        fflush(stdout);
    }
    double p = bench_median(plain, reps), s = bench_median(saving, reps);
    printf("{\"bench\": \"resume_median\", \"reps\": %d, \"epoch_s\": %.3f, "
           "\"epoch_with_saves_s\": %.3f, \"save_freq\": %lld, \"ms_per_save\": %.1f, "
           "\"first_step_fresh_s\": %.4f, \"first_step_resumed_after_1_s\": %.4f, "
           "\"first_step_resumed_after_400_s\": %.4f}\n",
           reps, p, s, (long long)save_freq, 1e3 * (s - p) / (double)saves,
           bench_median(fresh, reps), bench_median(res1, reps), bench_median(res400, reps));
    free(early);
    free(late);
    free(plain);
    free(saving);
    free(fresh);
    free(res1);
    free(res400);
    ct_scope_end();
    return 0;
}
