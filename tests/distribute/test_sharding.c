/*
 * Sharded input under the mirrored strategy: with per-replica datasets
 * (ct_fit_opts.dataset_per_replica, TF's distribute_datasets_from_function)
 * that ct_dataset_auto_shard splits by elements or by files, fit trains on
 * every example exactly once per epoch across the ranks, also when the
 * ranks get different numbers of batches (uneven shards, an empty file, a
 * number of files the ranks do not divide), and no rank waits forever for
 * the others at the end of an epoch.
 *
 * The model is a subclassed one whose call, when training, reads the id
 * column of its input into a per-rank, per-epoch count (the id of an
 * example is its first feature); the counts are summed over the ranks
 * with ct_all_reduce_buffer after fit. Run as one process and under
 * mpirun with 2 and 3 ranks.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist_check.h"

enum { EPOCHS = 2, MAX_IDS = 64 };

/* ---- the recording model ---------------------------------------------------------- */

/* What the model's call records on this rank. */
typedef struct {
    ct_layer *dense;
    int epoch;                       /* set by the callback at each epoch's start */
    int64_t seen[EPOCHS][MAX_IDS];   /* training passes over example id           */
    int64_t batches[EPOCHS];         /* training calls with rows                  */
    int64_t steps[EPOCHS];           /* steps (on_train_batch_end)                */
    int64_t bad;                     /* ids that are no example's                 */
} recorder;

/* x is [batch, 2]: the example's id, then its feature. Training calls
 * record the ids; the output is Dense(1) of the feature. */
static ct_tensor *rec_call(ct_model *self, void *ctx, int n, ct_tensor *const *in, bool training) {
    (void)self;
    (void)n;
    recorder *r = ctx;
    const ct_tensor *x = in[0];
    int64_t rows = ct_tensor_dim(x, 0);
    if (training && rows > 0) {
        float *v = malloc((size_t)rows * 2 * sizeof *v);
        if (!v || ct_tensor_read(x, CT_FLOAT32, v, rows * 2)) {
            free(v);
            return NULL;
        }
        for (int64_t i = 0; i < rows; i++) {
            float id = v[2 * i];
            if (id >= 0 && id < MAX_IDS && id == floorf(id) && r->epoch >= 0 && r->epoch < EPOCHS)
                r->seen[r->epoch][(int)id]++;
            else
                r->bad++;
        }
        if (r->epoch >= 0 && r->epoch < EPOCHS) r->batches[r->epoch]++;
        free(v);
    }
    ct_tensor *f = ct_slice(x, (int64_t[]){0, 1}, (int64_t[]){rows, 1});
    return ct_layer_call(r->dense, f, training);
}

static void on_epoch_begin(void *ctx, ct_model *m, int epoch, ct_logs *logs) {
    (void)m;
    (void)logs;
    ((recorder *)ctx)->epoch = epoch;
}

static void on_batch_end(void *ctx, ct_model *m, int64_t batch, ct_logs *logs) {
    (void)m;
    (void)batch;
    (void)logs;
    recorder *r = ctx;
    if (r->epoch >= 0 && r->epoch < EPOCHS) r->steps[r->epoch]++;
}

static void free_recorder(void *ctx) {
    recorder *r = ctx;
    ct_layer_free(r->dense);
    free(r);
}

/* A recording model, built and compiled under s. */
static ct_model *make_model(ct_strategy *s, recorder **rec) {
    recorder *r = calloc(1, sizeof *r);
    CHECK(r, "out of memory");
    r->epoch = -1;
    r->dense = ct_layer_new("Dense", "{\"units\": 1}");
    CHECK(r->dense, "%s", ct_last_error());
    ct_strategy_scope_begin(s);
    ct_model *m = ct_model_subclass_new("IdRecorder", NULL, rec_call, r, free_recorder);
    CHECK(m, "%s", ct_last_error());
    /* Keras builds a subclassed model by calling it; not training, so
     * nothing is recorded. */
    ct_scope_begin();
    CHECK(ct_model_call(m, ct_zeros(CT_FLOAT32, CT_DIMS(1, 2)), false), "%s", ct_last_error());
    ct_scope_end();
    CHECK_OK(ct_model_compile(m, &(ct_compile_opts){
                                     .optimizer_obj = ct_optimizer_new(
                                         "sgd", &(ct_optimizer_opts){.learning_rate = 0.05}),
                                     .loss = "mse"}));
    ct_strategy_scope_end();
    *rec = r;
    return m;
}

/* ---- the data --------------------------------------------------------------------------- */

static float feature_of(int id) { return (float)sin(0.37 * id); }
static float target_of(int id) { return 2 * feature_of(id) + 1; }

/* Files of uneven sizes, one of them empty, 7 in all (which neither 2 nor
 * 3 ranks divide): with 2 ranks, rank 0 reads 31 examples and rank 1
 * reads 4; with 3 ranks, 14, 11 and 10. */
enum { NFILES = 7 };
static const int FILE_SIZE[NFILES] = {5, 0, 9, 3, 11, 1, 6};

typedef struct {
    char dir[64];
    char *names[NFILES];
    int nids;
    int file_of[MAX_IDS]; /* the file that holds id */
} files;

/* Writes the TFRecord files of tf.Examples {"x": [id, feature], "y":
 * [target]} into a temporary directory of this rank's (every rank writes
 * the same files, so no file system need be shared). */
static void write_files(files *fs) {
    snprintf(fs->dir, sizeof fs->dir, "/tmp/ct_test_sharding_XXXXXX");
    CHECK(mkdtemp(fs->dir), "mkdtemp failed");
    int id = 0;
    for (int f = 0; f < NFILES; f++) {
        char path[128];
        snprintf(path, sizeof path, "%s/part-%02d.tfrecord", fs->dir, f);
        fs->names[f] = strdup(path);
        ct_tfrecord_writer *w = ct_tfrecord_writer_open(path, CT_COMPRESSION_NONE);
        CHECK(w, "%s", ct_last_error());
        for (int k = 0; k < FILE_SIZE[f]; k++, id++) {
            CHECK(id < MAX_IDS, "too many examples");
            fs->file_of[id] = f;
            float xv[2] = {(float)id, feature_of(id)}, yv = target_of(id);
            ct_example *ex = ct_example_new();
            CHECK(ex, "%s", ct_last_error());
            CHECK_OK(ct_example_add_floats(ex, "x", xv, 2));
            CHECK_OK(ct_example_add_floats(ex, "y", &yv, 1));
            void *buf;
            size_t len;
            CHECK_OK(ct_example_serialize(ex, &buf, &len));
            CHECK_OK(ct_tfrecord_writer_write(w, buf, len));
            free(buf);
            ct_example_free(ex);
        }
        CHECK_OK(ct_tfrecord_writer_close(w));
    }
    fs->nids = id;
}

static void remove_files(files *fs) {
    for (int f = 0; f < NFILES; f++) {
        unlink(fs->names[f]);
        free(fs->names[f]);
    }
    rmdir(fs->dir);
}

static const ct_feature_spec SPECS[2] = {
    {.key = "x", .kind = CT_FEATURE_FIXED_LEN, .dtype = CT_FLOAT32, .rank = 1, .shape = {2}},
    {.key = "y", .kind = CT_FEATURE_FIXED_LEN, .dtype = CT_FLOAT32, .rank = 1, .shape = {1}},
};

/* A record to the unnamed pair (x, y). */
static ct_status parse(const ct_element *in, void *ctx, ct_element **out) {
    (void)ctx;
    ct_element *ex = NULL;
    ct_status st = ct_parse_example(in->t[0], 2, SPECS, &ex);
    if (st) return st;
    ct_element pair = {.n = 2, .t = {ex->t[0], ex->t[1]}};
    *out = ct_element_copy(&pair);
    ct_element_free(ex);
    return *out ? CT_OK : ct_last_status();
}

/* The TFRecord files (the first nfiles), parsed and shuffled (seeded:
 * every rank draws the same orders, which sharding by data needs). */
static ct_dataset *records(const files *fs, int nfiles) {
    ct_dataset *ds = ct_dataset_tfrecord(nfiles, (const char *const *)fs->names,
                                         CT_COMPRESSION_NONE);
    ds = ct_dataset_map(ds, parse, NULL, 2);
    ds = ct_dataset_shuffle(ds, 8, &(ct_shuffle_opts){.seed = 5});
    CHECK(ds, "%s", ct_last_error());
    return ds;
}

/* ---- one run ------------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    int nids;
    const int *file_of; /* NULL: no check of which rank read which file */
    ct_dataset *ds;     /* this rank's batches                          */
} run_spec;

/* fit over the spec's dataset, then the checks: every id seen exactly
 * once per epoch over the ranks, each rank's ids from its own files, the
 * ranks' steps equal to the longest shard's batches. */
static void run(ct_strategy *s, run_spec *rs, bool want_uneven) {
    int R = ct_strategy_num_replicas_in_sync(s);
    ct_collective *coll = ct_strategy_collective(s);
    recorder *r;
    ct_model *m = make_model(s, &r);
    ct_callback *cb = ct_callback_custom(&(ct_callback_hooks){
        .ctx = r, .on_epoch_begin = on_epoch_begin, .on_train_batch_end = on_batch_end});
    CHECK(cb, "%s", ct_last_error());
    ct_set_random_seed(7);
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.dataset = rs->ds,
                                                  .epochs = EPOCHS,
                                                  .dataset_per_replica = true,
                                                  .ncallbacks = 1,
                                                  .callbacks = (ct_callback *[]){cb},
                                                  .verbose = CT_VERBOSE_SILENT});
    CHECK(h, "%s: %s", rs->name, ct_last_error());
    CHECK(ct_history_epochs(h) == EPOCHS, "%s: the history has %d epochs", rs->name,
          ct_history_epochs(h));
    for (int e = 0; e < EPOCHS; e++)
        CHECK(isfinite(ct_history_value(h, "loss", e)), "%s: epoch %d loss %g", rs->name, e,
              ct_history_value(h, "loss", e));
    CHECK(r->bad == 0, "%s: %lld rows with an id that is no example's", rs->name,
          (long long)r->bad);

    /* Each rank's ids come from its files: i, i + R, ... */
    for (int e = 0; rs->file_of && e < EPOCHS; e++)
        for (int id = 0; id < rs->nids; id++)
            CHECK(!r->seen[e][id] || rs->file_of[id] % R == check_rank,
                  "%s: epoch %d: rank %d read id %d, of file %d", rs->name, e, check_rank, id,
                  rs->file_of[id]);

    /* Steps: every rank takes part in each one, so all count the steps of
     * the longest shard. */
    int64_t most[EPOCHS], least[EPOCHS];
    memcpy(most, r->batches, sizeof most);
    memcpy(least, r->batches, sizeof least);
    CHECK_OK(ct_all_reduce_buffer(coll, most, EPOCHS, CT_INT64, CT_REDUCE_MAX));
    CHECK_OK(ct_all_reduce_buffer(coll, least, EPOCHS, CT_INT64, CT_REDUCE_MIN));
    for (int e = 0; e < EPOCHS; e++) {
        CHECK(r->steps[e] == most[e], "%s: epoch %d: rank %d took %lld steps, the longest shard "
                                      "has %lld batches",
              rs->name, e, check_rank, (long long)r->steps[e], (long long)most[e]);
        if (want_uneven && R > 1)
            CHECK(least[e] < most[e], "%s: epoch %d: the shards were meant to be uneven (%lld "
                                      "batches on every rank)",
                  rs->name, e, (long long)most[e]);
    }

    /* Every example exactly once per epoch, over all ranks. */
    int64_t total[EPOCHS][MAX_IDS];
    memcpy(total, r->seen, sizeof total);
    CHECK_OK(ct_all_reduce_buffer(coll, &total[0][0], EPOCHS * MAX_IDS, CT_INT64, CT_REDUCE_SUM));
    for (int e = 0; e < EPOCHS; e++)
        for (int id = 0; id < MAX_IDS; id++)
            CHECK(total[e][id] == (id < rs->nids ? 1 : 0),
                  "%s: epoch %d: example %d was trained on %lld times over the ranks", rs->name,
                  e, id, (long long)total[e][id]);

    ct_history_free(h);
    ct_callback_free(cb);
    ct_model_free(m);
    ct_dataset_free(rs->ds);
    rs->ds = NULL;
}

/* steps_per_epoch over per-replica shards of unequal length: 13 examples,
 * every R-th per rank, in batches of 2 per rank. The replicas' passes
 * last as long as the longest shard (with 2 ranks 4 batches, 7 and 6
 * examples), so with 3 steps per epoch the first epoch takes 3 steps and
 * the second the 1 left, as one process on the global batches, on every
 * rank (before, each rank counted its own batches and they parted). */
static void steps_per_epoch(ct_strategy *s) {
    int R = ct_strategy_num_replicas_in_sync(s);
    enum { N = 13 };
    float xv[N * 2], yv[N];
    for (int i = 0; i < N; i++) {
        xv[2 * i] = (float)i;
        xv[2 * i + 1] = feature_of(i);
        yv[i] = target_of(i);
    }
    ct_dataset *ds = ct_dataset_from_tensor_slices(
        &(ct_element){.n = 2,
                      .t = {ct_constant(xv, CT_FLOAT32, CT_DIMS(N, 2)),
                            ct_constant(yv, CT_FLOAT32, CT_DIMS(N, 1))}});
    ds = ct_dataset_batch(ct_dataset_auto_shard(ds, R, check_rank, CT_AUTO_SHARD_DATA), 2, false);
    CHECK(ds, "%s", ct_last_error());
    int64_t longest = ((N + R - 1) / R + 1) / 2;
    recorder *r;
    ct_model *m = make_model(s, &r);
    ct_callback *cb = ct_callback_custom(&(ct_callback_hooks){
        .ctx = r, .on_epoch_begin = on_epoch_begin, .on_train_batch_end = on_batch_end});
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.dataset = ds,
                                                  .epochs = 2,
                                                  .steps_per_epoch = longest - 1,
                                                  .dataset_per_replica = true,
                                                  .ncallbacks = 1,
                                                  .callbacks = (ct_callback *[]){cb},
                                                  .verbose = CT_VERBOSE_SILENT});
    CHECK(h, "steps_per_epoch: %s", ct_last_error());
    CHECK(r->steps[0] == longest - 1 && r->steps[1] == 1,
          "steps_per_epoch %lld over %lld batches: rank %d took %lld then %lld steps",
          (long long)(longest - 1), (long long)longest, check_rank, (long long)r->steps[0],
          (long long)r->steps[1]);
    ct_history_free(h);
    ct_callback_free(cb);
    ct_model_free(m);
    ct_dataset_free(ds);
}

int main(void) {
    ct_process_group *pg = ct_dist_world();
    CHECK(pg, "%s", ct_last_error());
    check_rank = ct_process_group_rank(pg);
    int R = ct_process_group_size(pg);
    ct_scope_begin();
    ct_strategy *s = ct_mirrored_strategy_new(NULL);
    CHECK(s, "%s", ct_last_error());
    CHECK(ct_strategy_num_replicas_in_sync(s) == R, "replicas %d",
          ct_strategy_num_replicas_in_sync(s));

    /* (a) Sharding by elements: 37 examples shuffled the same way on every
     * rank, every R-th kept (DATA), in batches of 3: with 2 ranks 19 and
     * 18 examples (7 and 6 batches), with 3 ranks 13, 12, 12 (5, 4, 4). */
    {
        enum { N = 37 };
        float xv[N * 2], yv[N];
        for (int i = 0; i < N; i++) {
            xv[2 * i] = (float)i;
            xv[2 * i + 1] = feature_of(i);
            yv[i] = target_of(i);
        }
        ct_tensor *x = ct_constant(xv, CT_FLOAT32, CT_DIMS(N, 2));
        ct_tensor *y = ct_constant(yv, CT_FLOAT32, CT_DIMS(N, 1));
        ct_dataset *ds = ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {x, y}});
        ds = ct_dataset_shuffle(ds, N, &(ct_shuffle_opts){.seed = 11});
        ds = ct_dataset_auto_shard(ds, R, check_rank, CT_AUTO_SHARD_DATA);
        ds = ct_dataset_batch(ds, 3, false);
        CHECK(ds, "%s", ct_last_error());
        run(s, &(run_spec){.name = "element sharding", .nids = N, .ds = ds}, true);
    }

    steps_per_epoch(s);

    files fs = {0};
    write_files(&fs);

    /* (b) Sharding by files, as TF's auto-shard does a batched dataset:
     * the rewrite goes through the prefetch, the batch, the shuffle and
     * the parsing map to the TFRecord reader. */
    {
        ct_dataset *ds = ct_dataset_prefetch(ct_dataset_batch(records(&fs, NFILES), 3, false), 2);
        ds = ct_dataset_auto_shard(ds, R, check_rank, CT_AUTO_SHARD_FILE);
        CHECK(ds, "%s", ct_last_error());
        run(s, &(run_spec){.name = "file sharding", .nids = fs.nids, .file_of = fs.file_of,
                           .ds = ds},
            true);
    }

    /* (c) AUTO before the batch (as `ctrain train` under mpirun shards):
     * 7 files, at least one per rank, so it shards by files. */
    {
        ct_dataset *ds = ct_dataset_auto_shard(records(&fs, NFILES), R, check_rank,
                                               CT_AUTO_SHARD_AUTO);
        ds = ct_dataset_batch(ds, 2, false);
        CHECK(ds, "%s", ct_last_error());
        run(s, &(run_spec){.name = "AUTO (files)", .nids = fs.nids, .file_of = fs.file_of,
                           .ds = ds},
            true);
    }

    /* (d) AUTO with fewer files than ranks falls back to sharding by
     * elements: the first file alone (5 examples). */
    {
        ct_dataset *ds = ct_dataset_auto_shard(records(&fs, 1), R, check_rank,
                                               CT_AUTO_SHARD_AUTO);
        ds = ct_dataset_batch(ds, 2, false);
        CHECK(ds, "%s", ct_last_error());
        run(s, &(run_spec){.name = "AUTO (one file)", .nids = FILE_SIZE[0], .ds = ds}, false);
    }

    remove_files(&fs);
    ct_strategy_free(s);
    ct_scope_end();
    if (check_rank == 0) printf("sharding: %ld checks passed\n", checks_passed);
    return 0;
}
