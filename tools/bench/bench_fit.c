/*
 * Training throughput with model.fit: the Keras issue's MLP (784-256-256-10)
 * and CNN (Conv 32 3x3, pool, Conv 64 3x3, pool, Dense 128, Dense 10) on
 * Fashion-MNIST, batch 128, Adam 1e-3, data in memory, shuffled each epoch.
 * One JSON line per epoch as bench_torch_fit.py prints: training and
 * inference samples/s, epoch wall time, test accuracy, peak RSS.
 *
 *   bench_fit [--threads N] [--epochs E] [--model mlp,cnn,linear] [--overhead]
 *             [--batch B]   (fit's batch, the global one under mpirun; 128)
 *             [--tensorboard-cost]
 *   mpirun -np 2 bench_fit ... [--no-overlap] [--bucket-bytes B]
 *       data parallel under the mirrored strategy (--threads per rank, rank
 *       0 prints); each epoch line adds what the gradient sum cost per
 *       step: the wait after the backward pass (exposed), the time from
 *       the first gradient to the last sum (in flight), and the buckets.
 *       --no-overlap starts the all-reduce after the backward pass: its
 *       exposed time is the whole all-reduce, against which the overlapped
 *       run's exposed time gives the share hidden.
 *
 * --overhead also times fit's cost around the step: an epoch of fit
 * (unshuffled) against ct_model_train_on_batch over the same batches made
 * beforehand (both update the metrics; fit adds its batching, callbacks
 * and the History), as the median of alternating pairs, and fit's extra
 * microseconds per step. The "linear" model (one Dense layer) has a step
 * short enough for those microseconds to stand out of the noise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"

static int threads = 1;
static ct_strategy *strategy; /* under mpirun with several ranks */
static int ranks = 1, rank;

static void die(const char *what) { bench_die("bench_fit", what); }

static ct_model *make(const char *kind) {
    ct_model *m = ct_sequential_new(NULL);
    if (!strcmp(kind, "mlp")) {
        ct_sequential_add(m, ct_layer_new("Flatten", "{\"batch_input_shape\": [null, 28, 28]}"));
        ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 256, \"activation\": \"relu\"}"));
        ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 256, \"activation\": \"relu\"}"));
        ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 10}"));
    } else if (!strcmp(kind, "linear")) {
        /* A step of ~0.1 ms: what fit adds per step shows in microseconds. */
        ct_sequential_add(m, ct_layer_new("Flatten", "{\"batch_input_shape\": [null, 28, 28]}"));
        ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 10}"));
        ct_sequential_add(m, ct_layer_new("Activation", "{\"activation\": \"linear\"}"));
        ct_sequential_add(m, ct_layer_new("Activation", "{\"activation\": \"linear\"}"));
    } else {
        ct_sequential_add(m, ct_layer_new("Reshape", "{\"target_shape\": [28, 28, 1], "
                                                     "\"batch_input_shape\": [null, 28, 28]}"));
        ct_sequential_add(m, ct_layer_new("Conv2D", "{\"filters\": 32, \"kernel_size\": 3, "
                                                    "\"activation\": \"relu\"}"));
        ct_sequential_add(m, ct_layer_new("MaxPooling2D", NULL));
        ct_sequential_add(m, ct_layer_new("Conv2D", "{\"filters\": 64, \"kernel_size\": 3, "
                                                    "\"activation\": \"relu\"}"));
        ct_sequential_add(m, ct_layer_new("MaxPooling2D", NULL));
        ct_sequential_add(m, ct_layer_new("Flatten", NULL));
        ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 128, \"activation\": \"relu\"}"));
        ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 10}"));
    }
    if (!m || ct_model_num_layers(m) < 4) die("model");
    ct_loss *loss = ct_loss_new("SparseCategoricalCrossentropy",
                                &(ct_loss_opts){.from_logits = true});
    const char *metrics[] = {"accuracy"};
    /* Under mpirun with several ranks: compiled in the mirrored
     * strategy's scope, so fit is data parallel (batch 128 is global). */
    ct_strategy_scope_begin(strategy);
    ct_status st = ct_model_compile(m, &(ct_compile_opts){.optimizer = "adam", .loss_obj = loss,
                                                          .nmetrics = 1, .metrics = metrics});
    ct_strategy_scope_end();
    if (st) die("compile");
    return m;
}

/* --tensorboard-cost: what the TensorBoard callback at update_freq=1 adds
 * to a step. Its hooks are timed between two probe callbacks, one before
 * and one after it in the list (each batch end and epoch end); the step's
 * logs, which fit makes only when a callback has a batch-end hook, are
 * timed as an epoch with the probes alone against one without
 * callbacks (the median of alternating pairs). */
typedef struct {
    double t_before, in_hooks;
} tb_probe;

static void probe_before(void *ctx, ct_model *m, int64_t b, ct_logs *l) {
    (void)m, (void)b, (void)l;
    ((tb_probe *)ctx)->t_before = bench_now();
}

static void probe_after(void *ctx, ct_model *m, int64_t b, ct_logs *l) {
    (void)m, (void)b, (void)l;
    tb_probe *p = ctx;
    p->in_hooks += bench_now() - p->t_before;
}

static void probe_before_epoch(void *ctx, ct_model *m, int e, ct_logs *l) {
    (void)e;
    probe_before(ctx, m, 0, l);
}

static void probe_after_epoch(void *ctx, ct_model *m, int e, ct_logs *l) {
    (void)e;
    probe_after(ctx, m, 0, l);
}

static void tensorboard_cost(ct_model *m, const char *kind, const ct_tensor *x,
                             const ct_tensor *y) {
    enum { PAIRS = 9 };
    int64_t nb = 60000 / 128;
    tb_probe probe = {0};
    ct_callback *before = ct_callback_custom(&(ct_callback_hooks){
        .ctx = &probe, .on_train_batch_end = probe_before, .on_epoch_end = probe_before_epoch});
    ct_callback *after = ct_callback_custom(&(ct_callback_hooks){
        .ctx = &probe, .on_train_batch_end = probe_after, .on_epoch_end = probe_after_epoch});
    char dir[] = "/tmp/ct_bench_tb_XXXXXX", cfg[128];
    if (!mkdtemp(dir)) die("a temporary directory");
    snprintf(cfg, sizeof cfg, "{\"log_dir\": \"%s\", \"update_freq\": 1}", dir);
    ct_callback *tb = ct_callback_new("TensorBoard", cfg);
    if (!before || !after || !tb) die("the callbacks");
    double hooks[PAIRS], logs_cost[PAIRS], step[PAIRS];
    for (int rep = 0; rep < PAIRS; rep++) {
        ct_fit_opts o = {.x = x, .y = y, .batch_size = 128, .no_shuffle = true,
                         .verbose = CT_VERBOSE_SILENT};
        double t0 = bench_now();
        ct_history *h = ct_model_fit(m, &o);
        double plain = bench_now() - t0;
        ct_history_free(h);
        o.ncallbacks = 2;
        o.callbacks = (ct_callback *[]){before, after};
        t0 = bench_now();
        h = ct_model_fit(m, &o);
        double with_logs = bench_now() - t0;
        ct_history_free(h);
        o.ncallbacks = 3;
        o.callbacks = (ct_callback *[]){before, tb, after};
        probe.in_hooks = 0;
        h = ct_model_fit(m, &o);
        if (!h) die("fit with TensorBoard");
        ct_history_free(h);
        hooks[rep] = probe.in_hooks / (double)nb;
        logs_cost[rep] = (with_logs - plain) / (double)nb;
        step[rep] = plain / (double)nb;
    }
    bench_sort(hooks, PAIRS);
    bench_sort(logs_cost, PAIRS);
    bench_sort(step, PAIRS);
    printf("{\"bench\": \"tensorboard_cost_%s\", \"threads\": %d, \"step_us\": %.1f, "
           "\"tensorboard_hooks_us_per_step\": %.2f, \"step_logs_us_per_step\": %.1f, "
           "\"step_logs_quartiles_us\": [%.1f, %.1f], \"hooks_pct\": %.3f, "
           "\"hooks_and_logs_pct\": %.2f}\n",
           kind, threads, 1e6 * step[PAIRS / 2], 1e6 * hooks[PAIRS / 2],
           1e6 * logs_cost[PAIRS / 2], 1e6 * logs_cost[PAIRS / 4],
           1e6 * logs_cost[3 * PAIRS / 4], 100 * hooks[PAIRS / 2] / step[PAIRS / 2],
           100 * (hooks[PAIRS / 2] + logs_cost[PAIRS / 2]) / step[PAIRS / 2]);
    fflush(stdout);
    ct_callback_free(before);
    ct_callback_free(after);
    ct_callback_free(tb);
    char rm[160];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    if (system(rm)) fprintf(stderr, "bench_fit: could not remove %s\n", dir);
}

int main(int argc, char **argv) {
    int epochs = 3;
    bool overhead = false, tb_cost = false;
    ct_strategy_opts so = {0};
    int batch = 128;
    const char *models = "mlp,cnn";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) models = argv[++i];
        else if (!strcmp(argv[i], "--overhead")) overhead = true;
        else if (!strcmp(argv[i], "--tensorboard-cost")) tb_cost = true;
        else if (!strcmp(argv[i], "--no-overlap")) so.no_overlap = true;
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bucket-bytes") && i + 1 < argc) so.bucket_bytes = atoll(argv[++i]);
    }
    ct_set_num_threads(threads);
    ct_process_group *pg = ct_dist_world();
    if (!pg) die("the process group");
    ranks = ct_process_group_size(pg);
    rank = ct_process_group_rank(pg);
    if (ranks > 1 && !(strategy = ct_mirrored_strategy_new(&so))) die("the strategy");
    ct_set_random_seed(1);
    ct_scope_begin();
    ct_tensor *x8, *y, *xt8, *yt;
    if (ct_load_fashion_mnist(NULL, &x8, &y, &xt8, &yt)) die("Fashion-MNIST");
    ct_tensor *x = ct_keep(ct_multiply(ct_cast(x8, CT_FLOAT32), ct_scalar(1.0f / 255)));
    ct_tensor *xt = ct_keep(ct_multiply(ct_cast(xt8, CT_FLOAT32), ct_scalar(1.0f / 255)));
    (void)x;
    (void)xt;
    char list[64];
    snprintf(list, sizeof list, "%s", models);
    for (char *kind = strtok(list, ","); kind; kind = strtok(NULL, ",")) {
        ct_model *m = make(kind);
        for (int e = 0; e < epochs; e++) {
            ct_strategy_stats s0, s1;
            ct_strategy_get_stats(strategy, &s0);
            double t0 = bench_now();
            ct_history *h = ct_model_fit(m, &(ct_fit_opts){.x = x, .y = y, .batch_size = batch,
                                                           .epochs = 1,
                                                           .verbose = CT_VERBOSE_SILENT});
            double train_s = bench_now() - t0;
            ct_strategy_get_stats(strategy, &s1);
            if (!h) die("fit");
            ct_history_free(h);
            t0 = bench_now();
            ct_logs *res;
            if (ct_model_evaluate(m, &(ct_eval_opts){.x = xt, .y = yt, .batch_size = 128,
                                                     .verbose = CT_VERBOSE_SILENT},
                                  &res))
                die("evaluate");
            double infer_s = bench_now() - t0;
            struct rusage ru;
            getrusage(RUSAGE_SELF, &ru);
            if (rank == 0)
                printf("{\"bench\": \"fit_%s\", \"impl\": \"ctrain\", \"ranks\": %d, "
                       "\"threads\": %d, \"epoch\": %d, \"train_samples_per_s\": %.1f, "
                       "\"infer_samples_per_s\": %.1f, \"epoch_s\": %.3f, \"test_accuracy\": "
                       "%.4f, \"peak_rss_mb\": %.1f}\n",
                       kind, ranks, threads, e + 1, 60000 / train_s, 10000 / infer_s, train_s,
                       ct_logs_get(res, "accuracy", NULL), ru.ru_maxrss / 1024.0);
            int64_t steps = s1.steps - s0.steps;
            if (rank == 0 && steps > 0)
                printf("{\"bench\": \"fit_%s_allreduce\", \"ranks\": %d, \"overlap\": %s, "
                       "\"epoch\": %d, \"buckets\": %d, \"bytes_per_step\": %lld, "
                       "\"exposed_ms_per_step\": %.4f, \"in_flight_ms_per_step\": %.4f, "
                       "\"buckets_done_before_backward_end\": %.3f}\n",
                       kind, ranks, s1.overlap ? "true" : "false", e + 1, s1.buckets,
                       (long long)((s1.bytes - s0.bytes) / steps),
                       1e3 * (s1.exposed_s - s0.exposed_s) / (double)steps,
                       1e3 * (s1.in_flight_s - s0.in_flight_s) / (double)steps,
                       (double)(s1.buckets_done_early - s0.buckets_done_early) /
                           (double)(steps * s1.buckets));
            fflush(stdout);
            ct_logs_free(res);
        }
        if (tb_cost) tensorboard_cost(m, kind, x, y);
        for (int logs_each = 0; overhead && logs_each < 2; logs_each++) {
            /* fit's cost around the step: one silent epoch of fit against
             * train_on_batch over the same batches made beforehand. */
            int64_t nb = 60000 / 128;
            ct_tensor **bx = malloc((size_t)nb * sizeof *bx), **by = malloc((size_t)nb * sizeof *by);
            for (int64_t b = 0; b < nb; b++) {
                int64_t begin[4] = {b * 128, 0, 0, 0}, size[4] = {128, 28, 28, 1};
                bx[b] = ct_keep(ct_slice(x, begin, size));
                by[b] = ct_keep(ct_slice(y, begin, size));
            }
            /* Pairs of one loop epoch and one fit epoch, alternating;
             * the median of the pairs' ratios rides out the machine's
             * drift better than the best of each. */
            enum { PAIRS = 11 };
            double ratio[PAIRS], fit_s[PAIRS], loop_s[PAIRS];
            for (int rep = 0; rep < PAIRS; rep++) {
                double t0 = bench_now();
                for (int64_t b = 0; b < nb; b++) {
                    ct_scope_begin();
                    ct_logs *lg = NULL;
                    if (ct_model_train_on_batch(m, bx[b], by[b], NULL, logs_each ? &lg : NULL))
                        die("train_on_batch");
                    ct_logs_free(lg);
                    ct_scope_end();
                }
                loop_s[rep] = bench_now() - t0;
                t0 = bench_now();
                /* In order, as the loop: what differs is fit's own work
                 * (batching, metrics, callbacks, History), not a shuffled
                 * batch's copy, which is the input pipeline's. */
                ct_history *h = ct_model_fit(m, &(ct_fit_opts){.x = x, .y = y, .batch_size = 128,
                                                               .steps_per_epoch = nb,
                                                               .no_shuffle = true,
                                                               .verbose = CT_VERBOSE_SILENT});
                fit_s[rep] = bench_now() - t0;
                if (!h) die("fit");
                ct_history_free(h);
                ratio[rep] = fit_s[rep] / loop_s[rep];
            }
            /* Medians and quartiles. */
            bench_sort(ratio, PAIRS);
            bench_sort(fit_s, PAIRS);
            bench_sort(loop_s, PAIRS);
            printf("{\"bench\": \"fit_overhead_%s\", \"impl\": \"ctrain\", \"threads\": %d, "
                   "\"logs_each_step\": %d, \"fit_s\": %.3f, \"train_on_batch_s\": %.3f, "
                   "\"overhead_pct_median\": %.2f, \"overhead_pct_quartiles\": [%.2f, %.2f], "
                   "\"overhead_us_per_step\": %.1f}\n",
                   kind, threads, logs_each, fit_s[PAIRS / 2], loop_s[PAIRS / 2],
                   100 * (ratio[PAIRS / 2] - 1), 100 * (ratio[PAIRS / 4] - 1),
                   100 * (ratio[3 * PAIRS / 4] - 1),
                   1e6 * (fit_s[PAIRS / 2] - loop_s[PAIRS / 2]) / (double)nb);
            fflush(stdout);
            free(bx);
            free(by);
        }
        ct_model_free(m);
    }
    ct_strategy_free(strategy);
    ct_scope_end();
    return 0;
}
