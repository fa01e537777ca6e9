/*
 * The mirrored strategy's promise: N replicas trained with fit on a global
 * batch give the model one process gives on the same global batch. Every
 * rank first trains the reference alone (no strategy), then the same model
 * from the same weights under ct_mirrored_strategy_new, and compares the
 * weights and the epoch losses. Run as one process and under mpirun with 2
 * and 4 ranks; the global batch of 21 on 64 examples ends with a batch of
 * one, so a replica sometimes has no part of a batch.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist_check.h"

enum { N = 64, F = 4, BATCH = 21, EPOCHS = 3 };

/* x [N, F] and y = a fixed nonlinear function of x, [N, 1]. */
static void make_data(ct_tensor **x, ct_tensor **y) {
    float xv[N * F], yv[N];
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int j = 0; j < F; j++) {
            xv[i * F + j] = (float)sin(0.7 * i + 1.3 * j);
            s += (j + 1) * xv[i * F + j];
        }
        yv[i] = (float)tanh(0.5 * s);
    }
    *x = ct_constant(xv, CT_FLOAT32, CT_DIMS(N, F));
    *y = ct_constant(yv, CT_FLOAT32, CT_DIMS(N, 1));
}

/* Sets the model's weights to fixed values (but those whose names contain
 * `keep`), so every rank and every run starts from the same. */
static void fix_weights(ct_model *m, const char *keep) {
    ct_layer *l = ct_model_layer(m);
    for (int i = 0; i < ct_layer_num_weights(l); i++) {
        ct_variable *v = ct_layer_weight(l, i);
        if (keep && strstr(ct_variable_name(v), keep)) continue;
        ct_tensor *cur = ct_variable_value(v);
        int64_t n = ct_tensor_size(cur);
        float *w = malloc((size_t)n * sizeof *w);
        for (int64_t k = 0; k < n; k++) w[k] = (float)(0.3 * cos(0.9 * (double)k + i));
        ct_scope_begin();
        CHECK_OK(ct_variable_assign(v, ct_constant(w, CT_FLOAT32, ct_tensor_rank(cur),
                                                   ct_tensor_shape(cur))));
        ct_scope_end();
        free(w);
    }
}

/* The same model with the same weights every time it is made. */
static ct_model *make_model(void) {
    ct_model *m = ct_sequential_new("net");
    CHECK(m, "%s", ct_last_error());
    CHECK_OK(ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 8, \"activation\": \"tanh\", "
                                                      "\"input_shape\": [4]}")));
    CHECK_OK(ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 1}")));
    fix_weights(m, NULL);
    return m;
}

/* Dense (no bias: BatchNormalization cancels it, and its gradient is only
 * rounding noise, which Adam would blow up), BatchNormalization
 * (synchronized or not), Dense: fixed weights. */
static ct_model *make_bn_model(bool synchronized) {
    ct_model *m = ct_sequential_new("bn_net");
    CHECK(m, "%s", ct_last_error());
    CHECK_OK(ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 6, \"use_bias\": false, "
                                                      "\"input_shape\": [4]}")));
    CHECK_OK(ct_sequential_add(
        m, ct_layer_new("BatchNormalization", synchronized
                                                  ? "{\"momentum\": 0.8, \"synchronized\": true}"
                                                  : "{\"momentum\": 0.8}")));
    CHECK_OK(ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 1}")));
    fix_weights(m, "batch_normalization"); /* its own start as Keras's */
    return m;
}

static void compile(ct_model *m) {
    CHECK_OK(ct_model_compile(m, &(ct_compile_opts){
                                     .optimizer_obj = ct_optimizer_new(
                                         "adam", &(ct_optimizer_opts){.learning_rate = 0.01}),
                                     .loss = "mse",
                                     .nmetrics = 1,
                                     .metrics = (const char *[]){"mae"}}));
}

/* fit from seed 5 (the shuffle draws the same orders), with a CSVLogger
 * given a file of this rank's own: only rank 0 may write one. */
static char csv_path[64];

static ct_history *train(ct_model *m, ct_tensor *x, ct_tensor *y, bool distributed) {
    ct_set_random_seed(5);
    snprintf(csv_path, sizeof csv_path, "/tmp/ct_mirrored_%d_rank%d.csv", (int)getppid(),
             check_rank);
    char cfg[128];
    snprintf(cfg, sizeof cfg, "{\"filename\": \"%s\"}", csv_path);
    ct_callback *csv = ct_callback_new("CSVLogger", cfg);
    CHECK(csv, "%s", ct_last_error());
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.x = x, .y = y, .batch_size = BATCH,
                                                  .epochs = EPOCHS,
                                                  .ncallbacks = 1,
                                                  .callbacks = &csv,
                                                  .verbose = CT_VERBOSE_SILENT});
    ct_callback_free(csv);
    FILE *f = fopen(csv_path, "r");
    int lines = 0;
    for (int ch; f && (ch = fgetc(f)) != EOF;) lines += ch == '\n';
    if (f) fclose(f);
    remove(csv_path);
    if (!distributed || check_rank == 0)
        CHECK(lines == EPOCHS + 1, "rank 0's CSVLogger wrote %d lines", lines);
    else
        CHECK(!f, "rank %d's CSVLogger wrote %s", check_rank, csv_path);
    CHECK(h, "%s", ct_last_error());
    return h;
}

/* from_tensor_slices((x, y)).shuffle(N, seed=3).batch(BATCH): a fresh one
 * reshuffles from the start, as on every rank of a job. */
static ct_dataset *make_dataset(ct_tensor *x, ct_tensor *y) {
    ct_dataset *ds = ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {x, y}});
    ds = ct_dataset_batch(ct_dataset_shuffle(ds, N, &(ct_shuffle_opts){.seed = 3}), BATCH, false);
    CHECK(ds, "%s", ct_last_error());
    return ds;
}

static double rel_diff(ct_variable *a, ct_variable *b) {
    int64_t n = ct_tensor_size(ct_variable_value(a));
    double *va = malloc((size_t)n * sizeof *va), *vb = malloc((size_t)n * sizeof *vb);
    CHECK_OK(ct_tensor_read(ct_variable_value(a), CT_FLOAT64, va, n));
    CHECK_OK(ct_tensor_read(ct_variable_value(b), CT_FLOAT64, vb, n));
    double worst = 0;
    for (int64_t k = 0; k < n; k++) {
        double d = fabs(va[k] - vb[k]) / fmax(1e-3, fabs(va[k]));
        if (d > worst) worst = d;
    }
    free(va);
    free(vb);
    return worst;
}

/* A custom training loop (TF's "custom training with tf.distribute"):
 * each replica's step scales its summed loss by the global batch, and
 * apply_gradients in the replica context sums the gradients. */
typedef struct loop_ctx {
    ct_model *m;
    ct_loss *loss; /* reduction none */
    ct_optimizer *opt;
    const ct_element *e;
} loop_ctx;

static ct_status loop_step(void *ctx) {
    loop_ctx *c = ctx;
    ct_layer *l = ct_model_layer(c->m);
    int n = ct_layer_num_weights(l);
    ct_variable *vars[8];
    ct_tensor *src[8], *grads[8];
    for (int i = 0; i < n; i++) src[i] = ct_variable_value(vars[i] = ct_layer_weight(l, i));
    ct_scope_begin();
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tensor *pred = ct_model_call(c->m, c->e->t[0], true);
    ct_tensor *loss = ct_compute_average_loss(ct_loss_call(c->loss, c->e->t[1], pred, NULL), NULL,
                                              16);
    ct_tape_end(tape);
    ct_status st = loss ? ct_tape_gradient(tape, loss, n, src, grads, NULL) : ct_last_status();
    if (!st) st = ct_optimizer_apply_gradients(c->opt, n, grads, vars);
    ct_tape_free(tape);
    ct_scope_end();
    return st;
}

static void custom_loop(ct_model *m, ct_dataset *ds, ct_strategy *s) {
    loop_ctx c = {.m = m,
                  .loss = ct_loss_new("mse", &(ct_loss_opts){.reduction = CT_REDUCTION_NONE}),
                  .opt = ct_optimizer_new("adam", &(ct_optimizer_opts){.learning_rate = 0.01})};
    CHECK(c.loss && c.opt, "%s", ct_last_error());
    ct_iterator *it = ct_dataset_iterator(ds);
    CHECK(it, "%s", ct_last_error());
    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        CHECK_OK(ct_iterator_reset(it));
        ct_element *e;
        while (!ct_iterator_next(it, &e) && e) {
            c.e = e;
            CHECK_OK(s ? ct_strategy_run(s, loop_step, &c) : loop_step(&c));
            ct_element_free(e);
        }
        CHECK(!ct_last_status(), "%s", ct_last_error());
    }
    ct_iterator_free(it);
    ct_optimizer_free(c.opt);
    ct_loss_free(c.loss);
}

/* A stop request (a signal's handler) on the last rank after its second
 * batch: every rank stops after that batch. */
static int stop_batches;

static void stop_on_last_rank(void *ctx, ct_model *m, int64_t batch, ct_logs *logs) {
    (void)ctx, (void)m, (void)logs;
    stop_batches++;
    if (batch == 1 && check_rank == ct_process_group_size(ct_dist_world()) - 1)
        ct_request_stop(15);
}

int main(void) {
    ct_process_group *pg = ct_dist_world();
    CHECK(pg, "%s", ct_last_error());
    check_rank = ct_process_group_rank(pg);
    ct_scope_begin();
    ct_tensor *x, *y;
    make_data(&x, &y);

    /* The reference: one process, the whole global batch. */
    ct_model *ref = make_model();
    compile(ref);
    ct_history *href = train(ref, x, y, false);

    /* The same under the mirrored strategy. */
    ct_strategy *s = ct_mirrored_strategy_new(NULL);
    CHECK(s, "%s", ct_last_error());
    CHECK(ct_strategy_num_replicas_in_sync(s) == ct_process_group_size(pg), "replicas %d",
          ct_strategy_num_replicas_in_sync(s));
    ct_strategy_scope_begin(s);
    ct_model *m = make_model();
    compile(m);
    ct_strategy_scope_end();
    /* A rank that starts from other weights is brought to rank 0's. */
    if (check_rank == 1) {
        ct_scope_begin();
        ct_variable *v = ct_layer_weight(ct_model_layer(m), 0);
        CHECK_OK(ct_variable_assign(v, ct_zeros_like(ct_variable_value(v))));
        ct_scope_end();
    }
    ct_history *h = train(m, x, y, true);

    int nw = ct_layer_num_weights(ct_model_layer(m));
    CHECK(nw == 4, "%d weights", nw);
    for (int i = 0; i < nw; i++) {
        double d = rel_diff(ct_layer_weight(ct_model_layer(ref), i),
                            ct_layer_weight(ct_model_layer(m), i));
        CHECK(d < 1e-5, "weight %d differs from the single-process run by %.3g (relative)", i, d);
    }
    for (int e = 0; e < EPOCHS; e++) {
        double a = ct_history_value(href, "loss", e), b = ct_history_value(h, "loss", e);
        CHECK(fabs(a - b) <= 1e-5 * fabs(a) + 1e-7, "epoch %d loss %.9g vs %.9g", e, b, a);
        a = ct_history_value(href, "mae", e);
        b = ct_history_value(h, "mae", e);
        CHECK(fabs(a - b) <= 1e-5 * fabs(a) + 1e-7, "epoch %d mae %.9g vs %.9g", e, b, a);
    }
    /* The loss went down, so the comparison was of a model that learned. */
    CHECK(ct_history_value(h, "loss", EPOCHS - 1) < ct_history_value(h, "loss", 0), "no learning");

    /* train_on_batch under the strategy: each replica passes its part of a
     * global batch (rows [r*N/R, (r+1)*N/R)); the step equals one on the
     * whole batch. */
    {
        int R = ct_process_group_size(pg);
        int64_t lo = (int64_t)N * check_rank / R, hi = (int64_t)N * (check_rank + 1) / R;
        ct_model *bref = make_model(), *bm;
        compile(bref);
        ct_strategy_scope_begin(s);
        bm = make_model();
        compile(bm);
        ct_strategy_scope_end();
        ct_tensor *xs = ct_slice(x, (int64_t[]){lo, 0}, (int64_t[]){hi - lo, F});
        ct_tensor *ys = ct_slice(y, (int64_t[]){lo, 0}, (int64_t[]){hi - lo, 1});
        for (int k = 0; k < 3; k++) {
            CHECK_OK(ct_model_train_on_batch(bref, x, y, NULL, NULL));
            CHECK_OK(ct_model_train_on_batch(bm, xs, ys, NULL, NULL));
        }
        for (int i = 0; i < nw; i++) {
            double d = rel_diff(ct_layer_weight(ct_model_layer(bref), i),
                                ct_layer_weight(ct_model_layer(bm), i));
            CHECK(d < 1e-5, "train_on_batch: weight %d differs by %.3g", i, d);
        }
        ct_model_free(bref);
        ct_model_free(bm);
    }

    /* A dataset of global batches (seeded shuffle, so every rank reads
     * the same order): each replica keeps its part of every batch. */
    ct_dataset *ds = make_dataset(x, y), *ds2 = make_dataset(x, y);
    ct_model *dref = make_model(), *dm;
    compile(dref);
    ct_set_random_seed(5);
    ct_history *hd1 = ct_model_fit(dref, &(ct_fit_opts){.dataset = ds, .epochs = EPOCHS,
                                                       .verbose = CT_VERBOSE_SILENT});
    CHECK(hd1, "%s", ct_last_error());
    ct_strategy_scope_begin(s);
    dm = make_model();
    compile(dm);
    ct_strategy_scope_end();
    ct_set_random_seed(5);
    ct_history *hd2 = ct_model_fit(dm, &(ct_fit_opts){.dataset = ds2, .epochs = EPOCHS,
                                                     .verbose = CT_VERBOSE_SILENT});
    CHECK(hd2, "%s", ct_last_error());
    for (int i = 0; i < nw; i++) {
        double d = rel_diff(ct_layer_weight(ct_model_layer(dref), i),
                            ct_layer_weight(ct_model_layer(dm), i));
        CHECK(d < 1e-5, "dataset: weight %d differs from the single-process run by %.3g", i, d);
    }
    double l1 = ct_history_value(hd1, "loss", EPOCHS - 1), l2 = ct_history_value(hd2, "loss", EPOCHS - 1);
    CHECK(fabs(l1 - l2) <= 1e-5 * fabs(l1) + 1e-7, "dataset: loss %.9g vs %.9g", l2, l1);
    ct_history_free(hd1);
    ct_history_free(hd2);
    ct_model_free(dref);
    ct_model_free(dm);
    ct_dataset_free(ds);
    ct_dataset_free(ds2);

    /* Per-replica datasets (TF's distribute_datasets_from_function): each
     * rank shards the shuffled stream (every R-th example) and batches its
     * part of a global batch of 20; the k-th batches of all ranks make the
     * k-th global batch, so the run equals one process on batches of 20. */
    {
        int R = ct_process_group_size(pg);
        ct_dataset *g = ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {x, y}});
        g = ct_dataset_batch(ct_dataset_shuffle(g, N, &(ct_shuffle_opts){.seed = 3}), 20, false);
        ct_dataset *mine = ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {x, y}});
        mine = ct_dataset_shuffle(mine, N, &(ct_shuffle_opts){.seed = 3});
        mine = ct_dataset_batch(ct_dataset_shard(mine, R, check_rank), 20 / R, false);
        CHECK(g && mine, "%s", ct_last_error());
        ct_model *pref = make_model(), *pm;
        compile(pref);
        ct_set_random_seed(5);
        ct_history *g1 = ct_model_fit(pref, &(ct_fit_opts){.dataset = g, .epochs = EPOCHS,
                                                           .verbose = CT_VERBOSE_SILENT});
        CHECK(g1, "%s", ct_last_error());
        ct_strategy_scope_begin(s);
        pm = make_model();
        compile(pm);
        ct_strategy_scope_end();
        ct_set_random_seed(5);
        ct_history *g2 = ct_model_fit(pm, &(ct_fit_opts){.dataset = mine, .epochs = EPOCHS,
                                                         .dataset_per_replica = true,
                                                         .verbose = CT_VERBOSE_SILENT});
        CHECK(g2, "%s", ct_last_error());
        for (int i = 0; i < nw; i++) {
            double d = rel_diff(ct_layer_weight(ct_model_layer(pref), i),
                                ct_layer_weight(ct_model_layer(pm), i));
            CHECK(d < 1e-5, "per-replica dataset: weight %d differs by %.3g", i, d);
        }
        double a1 = ct_history_value(g1, "loss", EPOCHS - 1);
        double a2 = ct_history_value(g2, "loss", EPOCHS - 1);
        CHECK(fabs(a1 - a2) <= 1e-5 * fabs(a1) + 1e-7, "per-replica dataset: loss %.9g vs %.9g",
              a2, a1);
        ct_history_free(g1);
        ct_history_free(g2);
        ct_model_free(pref);
        ct_model_free(pm);
        ct_dataset_free(g);
        ct_dataset_free(mine);
    }

    /* The gradient buckets: cut to 36 bytes (9 floats, so tensors span
     * buckets and buckets span tensors), started during the backward pass
     * or after it, the sums are the same. */
    for (int mode = 0; mode < 2; mode++) {
        ct_strategy *bs = ct_mirrored_strategy_new(
            &(ct_strategy_opts){.bucket_bytes = 36, .no_overlap = mode == 1});
        CHECK(bs, "%s", ct_last_error());
        ct_strategy_scope_begin(bs);
        ct_model *bm = make_model();
        compile(bm);
        ct_strategy_scope_end();
        ct_history *hb = train(bm, x, y, true);
        for (int i = 0; i < nw; i++) {
            double d = rel_diff(ct_layer_weight(ct_model_layer(ref), i),
                                ct_layer_weight(ct_model_layer(bm), i));
            CHECK(d < 1e-5, "36-byte buckets (%s): weight %d differs by %.3g",
                  mode ? "after the backward pass" : "overlapped", i, d);
        }
        ct_strategy_stats st;
        ct_strategy_get_stats(bs, &st);
        if (ct_process_group_size(pg) > 1) {
            /* 1, 8, 8 and 32 floats, each from a 16-byte boundary: 208 bytes. */
            CHECK(st.overlap == (mode == 0) && st.steps == EPOCHS * ((N + BATCH - 1) / BATCH) &&
                      st.buckets >= 208 / 36 && st.bytes == st.steps * 208,
                  "stats: overlap %d, %lld steps, %d buckets, %lld bytes", st.overlap,
                  (long long)st.steps, st.buckets, (long long)st.bytes);
        } else {
            CHECK(st.steps == 0, "one replica sums nothing, %lld steps", (long long)st.steps);
        }
        ct_history_free(hb);
        ct_model_free(bm);
        ct_strategy_free(bs);
    }

    /* Synchronized BatchNormalization: its statistics are the global
     * batch's, so N replicas train the model one process trains, moving
     * statistics included (the batch of 21 ends with a batch of one, so
     * with 4 replicas three run their step on no examples). Without
     * synchronized each replica normalizes its own rows: not the same. */
    for (int synced = 1; synced >= 0; synced--) {
        ct_model *bref = make_bn_model(synced), *bm;
        compile(bref);
        ct_history *h1 = train(bref, x, y, false);
        ct_strategy_scope_begin(s);
        bm = make_bn_model(synced);
        compile(bm);
        ct_strategy_scope_end();
        ct_history *h2 = train(bm, x, y, true);
        double worst = 0;
        int nbw = ct_layer_num_weights(ct_model_layer(bm));
        for (int i = 0; i < nbw; i++) {
            double d = rel_diff(ct_layer_weight(ct_model_layer(bref), i),
                                ct_layer_weight(ct_model_layer(bm), i));
            if (synced)
                CHECK(d < 1e-5, "synchronized BatchNormalization: weight %d (%s) differs by %.3g",
                      i, ct_variable_name(ct_layer_weight(ct_model_layer(bm), i)), d);
            worst = fmax(worst, d);
        }
        if (!synced && ct_process_group_size(pg) > 1)
            CHECK(worst > 1e-3, "BatchNormalization without sync matched one process (%.3g)",
                  worst);
        ct_history_free(h1);
        ct_history_free(h2);
        ct_model_free(bref);
        ct_model_free(bm);
    }

    {
        ct_strategy_scope_begin(s);
        ct_model *sm = make_model();
        compile(sm);
        ct_strategy_scope_end();
        ct_callback *cb = ct_callback_custom(
            &(ct_callback_hooks){.on_train_batch_end = stop_on_last_rank});
        ct_history *hs = ct_model_fit(sm, &(ct_fit_opts){.x = x, .y = y, .batch_size = 4,
                                                        .epochs = EPOCHS,
                                                        .ncallbacks = 1,
                                                        .callbacks = &cb,
                                                        .verbose = CT_VERBOSE_SILENT});
        CHECK(hs, "%s", ct_last_error());
        CHECK(ct_stop_requested() == (check_rank == ct_process_group_size(pg) - 1 ? 15 : 0),
              "stop request %d", ct_stop_requested());
        ct_clear_stop_request();
        CHECK(stop_batches == 2 && ct_history_epochs(hs) == 1,
              "a stop request on one rank: this rank ran %d batches, %d epochs", stop_batches,
              ct_history_epochs(hs));
        ct_history_free(hs);
        ct_callback_free(cb);
        ct_model_free(sm);
    }

    /* Weights made in the scope start as rank 0's, whatever each rank's
     * initializer drew. */
    {
        ct_set_random_seed(100 + check_rank);
        ct_strategy_scope_begin(s);
        ct_layer *d = ct_layer_new("Dense", "{\"units\": 3, \"input_shape\": [5]}");
        CHECK(d && !ct_layer_build(d, 1, &(ct_shape){2, {-1, 5}}), "%s", ct_last_error());
        ct_strategy_scope_end();
        float k[15], lo[15], hi[15];
        CHECK_OK(ct_tensor_read(ct_variable_value(ct_layer_weight(d, 0)), CT_FLOAT32, k, 15));
        for (int i = 0; i < 15; i++) lo[i] = hi[i] = k[i];
        ct_collective *c = ct_strategy_collective(s);
        if (c) {
            CHECK_OK(ct_all_reduce_buffer(c, lo, 15, CT_FLOAT32, CT_REDUCE_MIN));
            CHECK_OK(ct_all_reduce_buffer(c, hi, 15, CT_FLOAT32, CT_REDUCE_MAX));
        }
        for (int i = 0; i < 15; i++)
            CHECK(lo[i] == hi[i], "kernel value %d differs between ranks: %g to %g", i, lo[i],
                  hi[i]);
        ct_layer_free(d);
    }

    /* The custom loop: global batches of 16 from a seeded shuffle, each
     * replica its rows (ct_strategy_distribute_dataset). */
    {
        ct_model *cref = make_model(), *cm = make_model();
        ct_set_random_seed(5);
        ct_dataset *g = ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {x, y}});
        g = ct_dataset_batch(ct_dataset_shuffle(g, N, &(ct_shuffle_opts){.seed = 3}), 16, false);
        ct_set_random_seed(5);
        ct_dataset *mine = ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {x, y}});
        mine = ct_dataset_batch(ct_dataset_shuffle(mine, N, &(ct_shuffle_opts){.seed = 3}), 16,
                                false);
        mine = ct_strategy_distribute_dataset(s, mine);
        CHECK(g && mine, "%s", ct_last_error());
        ct_strategy_stats before, after;
        ct_strategy_get_stats(s, &before);
        ct_set_random_seed(5); /* the shuffles draw the same orders */
        custom_loop(cref, g, NULL);
        ct_set_random_seed(5);
        custom_loop(cm, mine, s);
        ct_strategy_get_stats(s, &after);
        for (int i = 0; i < nw; i++) {
            double d = rel_diff(ct_layer_weight(ct_model_layer(cref), i),
                                ct_layer_weight(ct_model_layer(cm), i));
            CHECK(d < 1e-5, "custom loop: weight %d differs by %.3g", i, d);
        }
        if (ct_process_group_size(pg) > 1)
            CHECK(after.steps - before.steps == EPOCHS * N / 16, "custom loop: %lld sums",
                  (long long)(after.steps - before.steps));
        ct_model_free(cref);
        ct_model_free(cm);
        ct_dataset_free(g);
        ct_dataset_free(mine);
    }

    /* evaluate under the strategy: each replica its part, merged. */
    ct_logs *r1 = NULL, *r2 = NULL;
    CHECK_OK(ct_model_evaluate(ref, &(ct_eval_opts){.x = x, .y = y, .batch_size = BATCH,
                                                    .verbose = CT_VERBOSE_SILENT},
                               &r1));
    CHECK_OK(ct_model_evaluate(m, &(ct_eval_opts){.x = x, .y = y, .batch_size = BATCH,
                                                  .verbose = CT_VERBOSE_SILENT},
                               &r2));
    double a = ct_logs_get(r1, "loss", NULL), b = ct_logs_get(r2, "loss", NULL);
    CHECK(fabs(a - b) <= 1e-5 * fabs(a) + 1e-7, "evaluate loss %.9g vs %.9g", b, a);

    /* predict under the strategy: each replica its part, gathered back in
     * order (a batch of 5 on 64 rows ends with 4: uneven parts). */
    ct_tensor *p1 = ct_model_predict(ref, &(ct_eval_opts){.x = x, .batch_size = 5,
                                                         .verbose = CT_VERBOSE_SILENT});
    ct_tensor *p2 = ct_model_predict(m, &(ct_eval_opts){.x = x, .batch_size = 5,
                                                       .verbose = CT_VERBOSE_SILENT});
    CHECK(p1 && p2, "%s", ct_last_error());
    CHECK(ct_tensor_dim(p2, 0) == N, "predict gave %lld rows", (long long)ct_tensor_dim(p2, 0));
    double pv1[N], pv2[N];
    CHECK_OK(ct_tensor_read(p1, CT_FLOAT64, pv1, N));
    CHECK_OK(ct_tensor_read(p2, CT_FLOAT64, pv2, N));
    for (int i = 0; i < N; i++)
        CHECK(fabs(pv1[i] - pv2[i]) <= 1e-5 * fabs(pv1[i]) + 1e-6, "prediction %d: %.9g vs %.9g",
              i, pv2[i], pv1[i]);

    ct_logs_free(r1);
    ct_logs_free(r2);
    ct_history_free(h);
    ct_history_free(href);
    ct_model_free(m);
    ct_model_free(ref);
    ct_strategy_free(s);
    ct_scope_end();
    if (check_rank == 0) printf("mirrored fit: %ld checks passed\n", checks_passed);
    return 0;
}
