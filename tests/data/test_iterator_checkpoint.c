/*
 * Iterator checkpoints as fit uses them: one iterator for the whole
 * training, ct_iterator_reset at each epoch's start, its state saved at
 * some batch (at the start, mid-pass, at the end of a pass before the
 * reset, after a reset) and restored in a new process into an iterator of
 * the same pipeline built afresh. What the restored iterator produces,
 * through the rest of its pass and the next passes (reshuffled), must be
 * what the uninterrupted iterator produced, bit for bit.
 *
 * A "new process" here is a pipeline built again after the same
 * ct_set_random_seed (or none), as a resumed job would do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

/* ---- fixtures --------------------------------------------------------------------- */

static char dir[64];

static void setup(void) {
    ct_test_begin();
    strcpy(dir, "/tmp/ct_itckpt_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    ct_clear_random_seed();
    ct_test_end();
}

TestSuite(iterckpt, .init = setup, .fini = teardown);

/* A path in the test's directory (the result lives until the test ends). */
static const char *path_of(const char *name) {
    static char buf[32][256];
    static int next;
    char *p = buf[next++ % 32];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

/* ---- element fingerprints --------------------------------------------------------- */

/* Every component's name, dtype, shape and bytes, as one byte string. */
typedef struct {
    char *p;
    size_t n;
} blob;

static void put(blob *b, const void *p, size_t n) {
    if (n == 0) return;
    b->p = realloc(b->p, b->n + n + 1);
    cr_assert_not_null(b->p);
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static blob fingerprint(const ct_element *e) {
    blob b = {0};
    put(&b, &e->n, sizeof e->n);
    for (int i = 0; i < e->n; i++) {
        const ct_tensor *t = e->t[i];
        const char *name = e->name[i] ? e->name[i] : "";
        put(&b, name, strlen(name) + 1);
        ct_dtype dt = ct_tensor_dtype(t);
        int rank = ct_tensor_rank(t);
        put(&b, &dt, sizeof dt);
        put(&b, &rank, sizeof rank);
        put(&b, ct_tensor_shape(t), (size_t)rank * sizeof(int64_t));
        int64_t size = ct_tensor_size(t);
        size_t nb = (size_t)size * ct_dtype_size(dt);
        char *data = malloc(nb + 1);
        cr_assert_not_null(data);
        CT_STATUS_OK(ct_tensor_read(t, dt, data, size));
        put(&b, data, nb);
        free(data);
    }
    return b;
}

/* The elements of one pass. */
typedef struct {
    blob *e;
    int64_t n;
} pass;

static void pass_free(pass *p) {
    for (int64_t i = 0; i < p->n; i++) free(p->e[i].p);
    free(p->e);
    p->e = NULL;
    p->n = 0;
}

/* The next element's fingerprint into *b; false at the end of the pass. */
static bool next_fp(ct_iterator *it, blob *b) {
    ct_element *e;
    CT_STATUS_OK(ct_iterator_next(it, &e));
    if (!e) return false;
    *b = fingerprint(e);
    ct_element_free(e);
    return true;
}

/* ---- the check ------------------------------------------------------------------------- */

#define PASSES 5
#define MAX_POINTS 8

/* A save point: after `k` elements of pass `p` (k = -1: at the end of the
 * pass, after its end was seen, before the reset). */
typedef struct {
    int p;
    int64_t k;
} point;

typedef ct_dataset *(*build_fn)(void *ctx);

typedef struct {
    build_fn build;
    void *ctx;
    bool global_seed;       /* ct_set_random_seed(1234) before building */
    const char *cache_file; /* a file cache: absent when resuming in its first pass */
} pipeline;

static ct_dataset *make(const pipeline *pl) {
    if (pl->global_seed) ct_set_random_seed(1234);
    else ct_clear_random_seed();
    ct_dataset *ds = pl->build(pl->ctx);
    CT_OK(ds);
    return ds;
}

/* Runs the uninterrupted iterator for PASSES passes (reset between),
 * saving its state at each of the points (which must be in order), then
 * for each state builds the pipeline again, restores the state into a new
 * iterator and checks that it goes on exactly as the first one did, to
 * the end of pass p + 2. Returns the number of elements of pass 0. */
static int64_t check_resume(const pipeline *pl, const point *points, int npoints) {
    if (pl->cache_file) unlink(pl->cache_file);
    ct_dataset *ds = make(pl);
    ct_iterator *it = ct_dataset_iterator(ds);
    CT_OK(it);
    pass ref[PASSES] = {0};
    void *state[MAX_POINTS] = {0};
    size_t len[MAX_POINTS] = {0};
    bool had_file[MAX_POINTS] = {0}; /* the file cache was complete when saved */
    int np = 0;
    for (int p = 0; p < PASSES; p++) {
        if (p > 0) CT_STATUS_OK(ct_iterator_reset(it));
        for (;;) {
            while (np < npoints && points[np].p == p && points[np].k == ref[p].n) {
                CT_STATUS_OK(ct_iterator_save(it, &state[np], &len[np]));
                had_file[np] = pl->cache_file && access(pl->cache_file, F_OK) == 0;
                np++;
            }
            blob b;
            if (!next_fp(it, &b)) break;
            ref[p].e = realloc(ref[p].e, (size_t)(ref[p].n + 1) * sizeof *ref[p].e);
            ref[p].e[ref[p].n++] = b;
        }
        while (np < npoints && points[np].p == p && points[np].k < 0) {
            CT_STATUS_OK(ct_iterator_save(it, &state[np], &len[np]));
            had_file[np] = pl->cache_file && access(pl->cache_file, F_OK) == 0;
            np++;
        }
    }
    cr_assert_eq(np, npoints, "save point %d (pass %d, element %lld) was not reached", np,
                 points[np].p, (long long)points[np].k);
    cr_assert_gt(ref[0].n, 0);
    ct_iterator_free(it);
    ct_dataset_free(ds);

    for (int s = 0; s < npoints; s++) {
        int p0 = points[s].p;
        int64_t k0 = points[s].k < 0 ? ref[p0].n : points[s].k;
        /* A process that stopped before its file cache was complete left
         * no cache file. */
        if (pl->cache_file && !had_file[s]) unlink(pl->cache_file);
        ct_dataset *ds2 = make(pl);
        ct_iterator *it2 = ct_dataset_iterator(ds2);
        CT_OK(it2);
        CT_STATUS_OK(ct_iterator_restore(it2, state[s], len[s]));
        for (int p = p0; p <= p0 + 2 && p < PASSES; p++) {
            if (p > p0) CT_STATUS_OK(ct_iterator_reset(it2));
            int64_t i = p == p0 ? k0 : 0;
            blob b;
            for (; next_fp(it2, &b); i++) {
                cr_assert_lt(i, ref[p].n,
                             "saved at pass %d element %lld: pass %d has more than %lld elements",
                             p0, (long long)k0, p, (long long)ref[p].n);
                cr_assert(b.n == ref[p].e[i].n && !memcmp(b.p, ref[p].e[i].p, b.n),
                          "saved at pass %d element %lld: pass %d element %lld differs", p0,
                          (long long)k0, p, (long long)i);
                free(b.p);
            }
            cr_assert_eq(i, ref[p].n, "saved at pass %d element %lld: pass %d ended at %lld of %lld",
                         p0, (long long)k0, p, (long long)i, (long long)ref[p].n);
        }
        ct_iterator_free(it2);
        ct_dataset_free(ds2);
        free(state[s]);
    }
    int64_t n0 = ref[0].n;
    for (int p = 0; p < PASSES; p++) pass_free(&ref[p]);
    return n0;
}

/* The usual points: the start, mid-pass, the end of the first pass, just
 * after the reset, mid second pass, the end of the second pass. */
static int64_t check_usual(const pipeline *pl, int64_t mid) {
    const point pts[] = {{0, 0}, {0, mid}, {0, -1}, {1, 0}, {1, mid + 1}, {1, -1}};
    return check_resume(pl, pts, 6);
}

/* ---- pipelines --------------------------------------------------------------------- */

typedef struct {
    int64_t shuffle_seed;   /* 0: TF's seed rule */
    int64_t buffer;         /* shuffle buffer    */
    int64_t batch;
    int parallel;           /* map's num_parallel_calls (0: no map) */
    int64_t prefetch;       /* 0: none; else a prefetch buffer (CT_AUTOTUNE allowed) */
    bool no_reshuffle;
} slices_opts;

#define N_SLICES 23

static ct_status scale_fn(const ct_element *in, void *ctx, ct_element **out) {
    (void)ctx;
    ct_scope_begin();
    ct_tensor *y = ct_add(ct_multiply(in->t[0], ct_scalar(2.0)), ct_scalar(1.0));
    ct_element *e = NULL;
    if (y) {
        e = ct_element_copy(in);
        ct_tensor_free(e->t[0]);
        e->t[0] = ct_tensor_ref(y);
    }
    ct_scope_end();
    *out = e;
    return e ? CT_OK : ct_last_status();
}

static ct_dataset *slices_build(void *ctx) {
    const slices_opts *o = ctx;
    float x[N_SLICES * 3];
    int64_t y[N_SLICES];
    for (int i = 0; i < N_SLICES * 3; i++) x[i] = (float)i * 0.25f - 3.0f;
    for (int i = 0; i < N_SLICES; i++) y[i] = i;
    ct_scope_begin();
    ct_tensor *tx = ct_constant(x, CT_FLOAT32, CT_DIMS(N_SLICES, 3));
    ct_tensor *ty = ct_constant(y, CT_INT64, CT_DIMS(N_SLICES));
    ct_dataset *ds = ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {tx, ty}});
    ct_scope_end();
    if (o->parallel) ds = ct_dataset_map(ds, scale_fn, NULL, o->parallel);
    ds = ct_dataset_shuffle(ds, o->buffer,
                            &(ct_shuffle_opts){.seed = o->shuffle_seed,
                                               .no_reshuffle_each_iteration = o->no_reshuffle});
    ds = ct_dataset_batch(ds, o->batch, false);
    if (o->prefetch) ds = ct_dataset_prefetch(ds, o->prefetch);
    return ds;
}

Test(iterckpt, slices_shuffle_batch_op_seed) {
    slices_opts o = {.shuffle_seed = 7, .buffer = 8, .batch = 4};
    cr_expect_eq(check_usual(&(pipeline){slices_build, &o, .global_seed = true}, 2), 6);
}

Test(iterckpt, slices_shuffle_batch_global_seed_only) {
    slices_opts o = {.buffer = 8, .batch = 4};
    check_usual(&(pipeline){slices_build, &o, .global_seed = true}, 3);
}

/* Seeds drawn at random: the restored pipeline takes the saved ones. */
Test(iterckpt, slices_shuffle_batch_no_seed_at_all) {
    slices_opts o = {.buffer = 8, .batch = 4};
    check_usual(&(pipeline){slices_build, &o}, 3);
}

Test(iterckpt, slices_shuffle_op_seed_without_global_seed) {
    slices_opts o = {.shuffle_seed = 99, .buffer = 5, .batch = 3};
    check_usual(&(pipeline){slices_build, &o}, 2);
}

Test(iterckpt, slices_shuffle_no_reshuffle) {
    slices_opts o = {.shuffle_seed = 3, .buffer = 30, .batch = 5, .no_reshuffle = true};
    check_usual(&(pipeline){slices_build, &o, .global_seed = true}, 2);
}

/* A buffer larger than the data: every element sits in the buffer. */
Test(iterckpt, slices_shuffle_whole_buffer) {
    slices_opts o = {.buffer = 1000, .batch = 4};
    check_usual(&(pipeline){slices_build, &o, .global_seed = true}, 2);
}

Test(iterckpt, parallel_map_shuffle_batch) {
    slices_opts o = {.buffer = 8, .batch = 4, .parallel = 3};
    check_usual(&(pipeline){slices_build, &o, .global_seed = true}, 2);
    o.parallel = CT_AUTOTUNE;
    check_usual(&(pipeline){slices_build, &o, .global_seed = true}, 3);
}

Test(iterckpt, parallel_map_shuffle_batch_prefetch) {
    slices_opts o = {.buffer = 8, .batch = 4, .parallel = 4, .prefetch = 2};
    check_usual(&(pipeline){slices_build, &o, .global_seed = true}, 2);
    o.prefetch = CT_AUTOTUNE;
    check_usual(&(pipeline){slices_build, &o, .global_seed = true}, 1);
}

/* Elements buffered by a prefetch of one size come back in a pipeline
 * whose prefetch buffer is smaller (CT_AUTOTUNE depends on the machine's
 * thread budget). */
Test(iterckpt, prefetch_buffer_size_may_differ) {
    slices_opts a = {.buffer = 8, .batch = 2, .prefetch = 5};
    ct_set_random_seed(1234);
    ct_dataset *ds = slices_build(&a);
    ct_iterator *it = ct_dataset_iterator(ds);
    blob b;
    cr_assert(next_fp(it, &b));
    free(b.p);
    /* Let the thread fill its buffer. */
    for (int i = 0; i < 200; i++) usleep(1000);
    void *state;
    size_t len;
    CT_STATUS_OK(ct_iterator_save(it, &state, &len));
    pass rest = {0};
    while (next_fp(it, &b)) {
        rest.e = realloc(rest.e, (size_t)(rest.n + 1) * sizeof *rest.e);
        rest.e[rest.n++] = b;
    }
    ct_iterator_free(it);
    ct_dataset_free(ds);
    for (int64_t buf = 0; buf <= 2; buf++) {
        slices_opts o = a;
        o.prefetch = buf;
        ct_set_random_seed(1234);
        ds = buf ? slices_build(&o) : ct_dataset_prefetch(slices_build(&o), 0);
        it = ct_dataset_iterator(ds);
        CT_STATUS_OK(ct_iterator_restore(it, state, len));
        int64_t i = 0;
        for (; next_fp(it, &b); i++) {
            cr_assert_lt(i, rest.n);
            cr_assert(b.n == rest.e[i].n && !memcmp(b.p, rest.e[i].p, b.n),
                      "prefetch buffer %lld: element %lld differs", (long long)buf, (long long)i);
            free(b.p);
        }
        cr_expect_eq(i, rest.n);
        ct_iterator_free(it);
        ct_dataset_free(ds);
    }
    pass_free(&rest);
    free(state);
}

/* range + shuffle + repeat + take: the repeat's epochs reshuffle, and the
 * take ends inside the second epoch. */
static ct_dataset *range_build(void *ctx) {
    (void)ctx;
    ct_dataset *ds = ct_dataset_range(0, 7, 1);
    ds = ct_dataset_shuffle(ds, 5, NULL);
    ds = ct_dataset_repeat(ds, 2);
    return ct_dataset_take(ds, 11);
}

Test(iterckpt, range_shuffle_repeat_take) {
    pipeline pl = {range_build, NULL, .global_seed = true};
    const point pts[] = {{0, 0}, {0, 5}, {0, 7}, {0, 8}, {0, -1}, {1, 0}, {2, 10}, {2, -1}};
    cr_expect_eq(check_resume(&pl, pts, 8), 11);
}

/* range + repeat + take with nothing random, and a repeat that outlasts
 * the take. */
static ct_dataset *range_plain_build(void *ctx) {
    (void)ctx;
    return ct_dataset_take(ct_dataset_repeat(ct_dataset_range(3, 9, 2), 4), 10);
}

Test(iterckpt, range_repeat_take) {
    pipeline pl = {range_plain_build, NULL};
    cr_expect_eq(check_usual(&pl, 4), 10);
}

/* A shuffle under a finite repeat, saved when the repeat is done (no
 * iterator of the shuffle is alive then): the next epoch's order comes
 * from the shuffle's seed generator, which the state must carry. */
static ct_dataset *repeat_end_build(void *ctx) {
    (void)ctx;
    ct_dataset *ds = ct_dataset_shuffle(ct_dataset_range(0, 9, 1), 4, NULL);
    return ct_dataset_batch(ct_dataset_repeat(ds, 2), 4, false);
}

Test(iterckpt, shuffle_repeat_batch_end_of_pass) {
    pipeline pl = {repeat_end_build, NULL, .global_seed = true};
    check_usual(&pl, 2);
}

/* ---- zip, filter, unbatch, rebatch, memory cache ---- */

static ct_status odd_fn(const ct_element *in, void *ctx, bool *keep) {
    (void)ctx;
    *keep = (int64_t)ct_item(in->t[0]) % 3 != 0;
    return CT_OK;
}

static ct_dataset *zip_filter_build(void *ctx) {
    (void)ctx;
    ct_dataset *a = ct_dataset_shuffle(ct_dataset_range(0, 40, 1), 6, NULL);
    a = ct_dataset_filter(a, odd_fn, NULL);
    ct_dataset *b = ct_dataset_shuffle(ct_dataset_range(100, 125, 1), 3, &(ct_shuffle_opts){.seed = 5});
    ct_dataset *z = ct_dataset_zip(2, (ct_dataset *[]){a, b});
    return ct_dataset_batch(z, 3, false);
}

Test(iterckpt, zip_filter_shuffle_batch) {
    pipeline pl = {zip_filter_build, NULL, .global_seed = true};
    cr_expect_eq(check_usual(&pl, 4), 9); /* 25 pairs in batches of 3 */
}

static ct_dataset *unbatch_build(void *ctx) {
    (void)ctx;
    ct_dataset *ds = ct_dataset_batch(ct_dataset_range(0, 31, 1), 4, false);
    ds = ct_dataset_shuffle(ds, 3, NULL);
    ds = ct_dataset_rebatch(ds, 5, true); /* 6 batches of 5 */
    ds = ct_dataset_unbatch(ds);
    return ct_dataset_batch(ds, 4, false);
}

Test(iterckpt, batch_shuffle_rebatch_unbatch_batch) {
    pipeline pl = {unbatch_build, NULL, .global_seed = true};
    cr_expect_eq(check_usual(&pl, 3), 8);
}

/* The memory cache after a shuffle replays the first pass's order: a
 * restored pipeline must replay the same elements, not read (and
 * shuffle) its input again. Shuffled again after the cache, batched. */
static ct_dataset *mem_cache_build(void *ctx) {
    (void)ctx;
    ct_dataset *ds = ct_dataset_shuffle(ct_dataset_range(0, 20, 1), 6, NULL);
    ds = ct_dataset_cache(ds, NULL);
    ds = ct_dataset_shuffle(ds, 4, NULL);
    return ct_dataset_batch(ds, 3, false);
}

Test(iterckpt, shuffle_memory_cache_shuffle_batch) {
    pipeline pl = {mem_cache_build, NULL, .global_seed = true};
    const point pts[] = {{0, 0}, {0, 3}, {0, -1}, {1, 0}, {1, 4}, {2, -1}};
    cr_expect_eq(check_resume(&pl, pts, 6), 7);
}

/* ---- files: CSV, TFRecord, list_files, interleave, caches ---- */

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    cr_assert_eq(fclose(f), 0);
}

static void write_csvs(void) {
    char buf[4096];
    for (int k = 0; k < 3; k++) {
        int n = snprintf(buf, sizeof buf, "a,b,label\n");
        for (int i = 0; i < 7 + 2 * k; i++)
            n += snprintf(buf + n, sizeof buf - (size_t)n, "%d.5,%d,%d\n", k * 100 + i, -i, i % 2);
        char name[32];
        snprintf(name, sizeof name, "part%d.csv", k);
        write_text(path_of(name), buf);
    }
}

typedef struct {
    const char *cache; /* NULL: memory; else a file cache's path */
    bool interleave;
} files_opts;

static ct_dataset *csv_one(const ct_element *in, void *ctx) {
    (void)ctx;
    char name[512];
    int64_t n = ct_tensor_size(in->t[0]);
    cr_assert_lt(n, (int64_t)sizeof name);
    CT_STATUS_OK(ct_tensor_read(in->t[0], CT_UINT8, name, n));
    name[n] = '\0';
    return ct_make_csv_dataset(1, (const char *[]){name}, &(ct_csv_opts){.label_name = "label"});
}

static ct_dataset *csv_build(void *ctx) {
    const files_opts *o = ctx;
    ct_dataset *ds;
    if (o->interleave) {
        char pattern[128];
        snprintf(pattern, sizeof pattern, "%s/*.csv", dir);
        ds = ct_dataset_list_files(pattern, true, 0);
        ds = ct_dataset_interleave(ds, csv_one, NULL, 2, 3, 2);
    } else {
        ds = ct_make_csv_dataset(3,
                                 (const char *[]){path_of("part0.csv"), path_of("part1.csv"),
                                                  path_of("part2.csv")},
                                 &(ct_csv_opts){.label_name = "label"});
    }
    ds = ct_dataset_cache(ds, o->cache);
    ds = ct_dataset_shuffle(ds, 10, NULL);
    ds = ct_dataset_batch(ds, 4, false);
    return ct_dataset_prefetch(ds, 2);
}

Test(iterckpt, csv_memory_cache_shuffle_batch_prefetch) {
    write_csvs();
    files_opts o = {0};
    cr_expect_eq(check_usual(&(pipeline){csv_build, &o, .global_seed = true}, 2), 7);
}

Test(iterckpt, csv_file_cache_shuffle_batch_prefetch) {
    write_csvs();
    files_opts o = {.cache = path_of("csv.cache")};
    check_usual(&(pipeline){csv_build, &o, .global_seed = true, .cache_file = o.cache}, 3);
}

Test(iterckpt, list_files_interleave_csv_caches) {
    write_csvs();
    files_opts o = {.interleave = true};
    check_usual(&(pipeline){csv_build, &o, .global_seed = true}, 2);
    o.cache = path_of("il.cache");
    check_usual(&(pipeline){csv_build, &o, .global_seed = true, .cache_file = o.cache}, 4);
}

static const ct_feature_spec tfr_specs[] = {
    {.key = "x", .dtype = CT_FLOAT32, .rank = 1, .shape = {2}},
    {.key = "label", .dtype = CT_INT64},
};

static ct_status parse_fn(const ct_element *in, void *ctx, ct_element **out) {
    (void)ctx;
    return ct_parse_example(in->t[0], 2, tfr_specs, out);
}

static void write_tfrecords(void) {
    for (int k = 0; k < 2; k++) {
        char name[32];
        snprintf(name, sizeof name, "part%d.tfrecord", k);
        ct_tfrecord_writer *w =
            ct_tfrecord_writer_open(path_of(name), k ? CT_COMPRESSION_GZIP : CT_COMPRESSION_NONE);
        CT_OK(w);
        for (int i = 0; i < 9 + k; i++) {
            ct_example *ex = ct_example_new();
            CT_STATUS_OK(ct_example_add_floats(ex, "x", (float[]){(float)i, (float)(k - i)}, 2));
            CT_STATUS_OK(ct_example_add_int64s(ex, "label", (int64_t[]){k * 10 + i}, 1));
            void *buf;
            size_t len;
            CT_STATUS_OK(ct_example_serialize(ex, &buf, &len));
            CT_STATUS_OK(ct_tfrecord_writer_write(w, buf, len));
            free(buf);
            ct_example_free(ex);
        }
        CT_STATUS_OK(ct_tfrecord_writer_close(w));
    }
}

static ct_dataset *tfr_build(void *ctx) {
    const files_opts *o = ctx;
    /* The files differ in compression: each is read with its own. */
    ct_dataset *a = ct_dataset_tfrecord(1, (const char *[]){path_of("part0.tfrecord")},
                                        CT_COMPRESSION_NONE);
    ct_dataset *b = ct_dataset_tfrecord(1, (const char *[]){path_of("part1.tfrecord")},
                                        CT_COMPRESSION_GZIP);
    ct_dataset *ds = ct_dataset_concatenate(a, b);
    ds = ct_dataset_map(ds, parse_fn, NULL, CT_AUTOTUNE);
    ds = ct_dataset_cache(ds, o->cache);
    ds = ct_dataset_shuffle(ds, 6, NULL);
    ds = ct_dataset_batch(ds, 4, false);
    return ct_dataset_prefetch(ds, CT_AUTOTUNE);
}

Test(iterckpt, tfrecord_parse_caches_shuffle_batch_prefetch) {
    write_tfrecords();
    files_opts o = {0};
    cr_expect_eq(check_usual(&(pipeline){tfr_build, &o, .global_seed = true}, 2), 5);
    o.cache = path_of("tfr.cache");
    check_usual(&(pipeline){tfr_build, &o, .global_seed = true, .cache_file = o.cache}, 3);
}

/* ---- states that do not fit ---------------------------------------------------------- */

/* A state of `a` after `k` elements, restored into an iterator of `b`,
 * must fail with an error mentioning each needle; the iterator of `b` is
 * then unchanged (it still produces b's first elements). */
static void expect_mismatch(const slices_opts *a, ct_dataset *(*wrap_a)(ct_dataset *),
                            const slices_opts *b, ct_dataset *(*wrap_b)(ct_dataset *), int k,
                            const char *needle1, const char *needle2) {
    ct_set_random_seed(1234);
    ct_dataset *da = slices_build((void *)a);
    if (wrap_a) da = wrap_a(da);
    CT_OK(da);
    ct_iterator *ia = ct_dataset_iterator(da);
    blob fp;
    for (int i = 0; i < k; i++) {
        cr_assert(next_fp(ia, &fp));
        free(fp.p);
    }
    void *state;
    size_t len;
    CT_STATUS_OK(ct_iterator_save(ia, &state, &len));
    ct_iterator_free(ia);
    ct_dataset_free(da);

    ct_set_random_seed(1234);
    ct_dataset *db = slices_build((void *)b);
    if (wrap_b) db = wrap_b(db);
    CT_OK(db);
    ct_iterator *ib = ct_dataset_iterator(db);
    cr_assert(next_fp(ib, &fp));
    free(fp.p);
    CT_STATUS_OK(ct_iterator_reset(ib));
    void *mine;
    size_t mine_len;
    CT_STATUS_OK(ct_iterator_save(ib, &mine, &mine_len));
    ct_clear_error();
    cr_assert_neq(ct_iterator_restore(ib, state, len), CT_OK, "restoring into a different pipeline worked");
    cr_expect(strstr(ct_last_error(), needle1) != NULL, "error \"%s\" does not mention \"%s\"",
              ct_last_error(), needle1);
    if (needle2)
        cr_expect(strstr(ct_last_error(), needle2) != NULL, "error \"%s\" does not mention \"%s\"",
                  ct_last_error(), needle2);
    /* The iterator and the pipeline are unchanged: what comes next, and
     * after a reset, is what comes after restoring the iterator's own
     * state. */
    blob after, after_reset, want, want_reset;
    cr_assert(next_fp(ib, &after));
    CT_STATUS_OK(ct_iterator_reset(ib));
    cr_assert(next_fp(ib, &after_reset));
    CT_STATUS_OK(ct_iterator_restore(ib, mine, mine_len));
    cr_assert(next_fp(ib, &want));
    CT_STATUS_OK(ct_iterator_reset(ib));
    cr_assert(next_fp(ib, &want_reset));
    cr_expect(after.n == want.n && !memcmp(after.p, want.p, want.n));
    cr_expect(after_reset.n == want_reset.n && !memcmp(after_reset.p, want_reset.p, want.n));
    free(after.p);
    free(after_reset.p);
    free(want.p);
    free(want_reset.p);
    free(mine);
    ct_iterator_free(ib);
    ct_dataset_free(db);
    free(state);
}

static ct_dataset *with_take(ct_dataset *ds) { return ct_dataset_take(ds, 100); }
static ct_dataset *with_skip(ct_dataset *ds) { return ct_dataset_skip(ds, 0); }
static ct_dataset *with_repeat(ct_dataset *ds) { return ct_dataset_repeat(ds, 3); }

Test(iterckpt, restore_into_a_different_pipeline_fails_naming_it) {
    slices_opts base = {.buffer = 8, .batch = 4};
    slices_opts buf = base;
    buf.buffer = 9;
    expect_mismatch(&base, NULL, &buf, NULL, 1, "buffer_size", "ShuffleDatasetV3");
    slices_opts bs = base;
    bs.batch = 5;
    expect_mismatch(&base, NULL, &bs, NULL, 2, "batch_size", "BatchDataset");
    /* Another stage on top (take and skip have the same name length). */
    expect_mismatch(&base, with_take, &base, with_skip, 1, "TakeDataset", "SkipDataset");
    expect_mismatch(&base, with_take, &base, with_repeat, 1, "TakeDataset", "RepeatDataset");
    expect_mismatch(&base, with_repeat, &base, NULL, 1, "different pipeline", "RepeatDataset");
    /* A stage more in the middle. */
    slices_opts mapped = base;
    mapped.parallel = 2;
    expect_mismatch(&base, NULL, &mapped, NULL, 1, "different pipeline", "ParallelMapDataset");
    slices_opts seeded = base, other_seed = base;
    seeded.shuffle_seed = 1;
    other_seed.shuffle_seed = 2;
    expect_mismatch(&seeded, NULL, &other_seed, NULL, 1, "seed", "ShuffleDatasetV3");
    slices_opts fixed = base;
    fixed.no_reshuffle = true;
    expect_mismatch(&base, NULL, &fixed, NULL, 1, "reshuffle_each_iteration", NULL);
    slices_opts count = base;
    count.batch = 4;
    count.prefetch = 2;
    expect_mismatch(&count, NULL, &base, NULL, 1, "PrefetchDataset", "BatchDataset");
}

static ct_dataset *range_a(void *ctx) {
    (void)ctx;
    return ct_dataset_batch(ct_dataset_range(0, 10, 1), 2, false);
}

static ct_dataset *range_b(void *ctx) {
    (void)ctx;
    return ct_dataset_batch(ct_dataset_range(0, 12, 1), 2, false);
}

Test(iterckpt, restore_into_a_different_source_fails) {
    ct_dataset *a = range_a(NULL), *b = range_b(NULL);
    ct_iterator *ia = ct_dataset_iterator(a), *ib = ct_dataset_iterator(b);
    ct_element *e;
    CT_STATUS_OK(ct_iterator_next(ia, &e));
    ct_element_free(e);
    void *state;
    size_t len;
    CT_STATUS_OK(ct_iterator_save(ia, &state, &len));
    CT_FAILS_STATUS(ct_iterator_restore(ib, state, len), "RangeDataset");
    free(state);
    ct_iterator_free(ia);
    ct_iterator_free(ib);
    ct_dataset_free(a);
    ct_dataset_free(b);
}

/* Every truncation of a state fails cleanly (no crash, no partial
 * restore), and so do a few corrupted bytes. */
Test(iterckpt, truncated_and_corrupted_states_fail_cleanly) {
    slices_opts o = {.buffer = 6, .batch = 3, .parallel = 2};
    ct_set_random_seed(1234);
    ct_dataset *ds = ct_dataset_cache(slices_build(&o), NULL);
    ct_iterator *it = ct_dataset_iterator(ds);
    blob fp;
    /* Past the first pass, so the cache's elements are in the state. */
    while (next_fp(it, &fp)) free(fp.p);
    CT_STATUS_OK(ct_iterator_reset(it));
    cr_assert(next_fp(it, &fp));
    free(fp.p);
    void *state;
    size_t len;
    CT_STATUS_OK(ct_iterator_save(it, &state, &len));
    blob expect;
    cr_assert(next_fp(it, &expect));
    ct_iterator_free(it);
    ct_dataset_free(ds);

    ct_set_random_seed(1234);
    ds = ct_dataset_cache(slices_build(&o), NULL);
    it = ct_dataset_iterator(ds);
    for (size_t n = 0; n < len; n++) {
        ct_clear_error();
        cr_assert_neq(ct_iterator_restore(it, state, n), CT_OK, "a state cut to %zu of %zu bytes was accepted", n, len);
        cr_assert(strstr(ct_last_error(), "ct_iterator_restore") != NULL, "%s", ct_last_error());
    }
    char *bad = malloc(len + 1);
    memcpy(bad, state, len);
    bad[len] = 0;
    cr_expect_neq(ct_iterator_restore(it, bad, len + 1), CT_OK); /* a byte too many */
    for (size_t pos = 0; pos < len; pos += 7) {
        memcpy(bad, state, len);
        bad[pos] ^= 0x5a;
        /* Either refused, or (a changed element value) accepted: never a crash. */
        ct_clear_error();
        (void)ct_iterator_restore(it, bad, len);
    }
    free(bad);
    CT_STATUS_OK(ct_iterator_restore(it, state, len));
    cr_assert(next_fp(it, &fp));
    cr_expect(fp.n == expect.n && !memcmp(fp.p, expect.p, fp.n));
    free(fp.p);
    free(expect.p);
    ct_iterator_free(it);
    ct_dataset_free(ds);
    free(state);
}

/* A generator cannot be checkpointed: save says so, naming the stage. */
static ct_status gen_fn(void *ctx, ct_element **out) {
    int *n = ctx;
    *out = NULL;
    if (*n >= 3) return CT_OK;
    int64_t v = (*n)++;
    ct_scope_begin();
    ct_tensor *t = ct_constant(&v, CT_INT64, CT_SCALAR);
    ct_element tmp = {.n = 1, .t = {t}};
    *out = ct_element_copy(&tmp);
    ct_scope_end();
    return CT_OK;
}

Test(iterckpt, generator_save_fails_naming_it) {
    int n = 0;
    ct_element_spec spec = {.n = 1, .c = {{.dtype = CT_INT64, .rank = 0}}};
    ct_dataset *ds = ct_dataset_batch(ct_dataset_from_generator(gen_fn, NULL, &n, &spec), 2, false);
    ct_iterator *it = ct_dataset_iterator(ds);
    void *state = NULL;
    size_t len = 0;
    CT_FAILS_STATUS(ct_iterator_save(it, &state, &len), "GeneratorDataset cannot be checkpointed");
    cr_expect_null(state);
    ct_iterator_free(it);
    ct_dataset_free(ds);
}

/* ---- shuffle saved by replay ----------------------------------------------------------
 *
 * A shuffle saves its input's state at the start of the pass, its seeds
 * and the number of elements produced, and restore replays the pass up to
 * there (data/shuffle.c). These check that replay at every position of a
 * pass, and the cases that fall back to saving the buffer, still resume
 * bit for bit, and that the saved state no longer holds the buffer. */

static ct_dataset *slices_elements_build(void *ctx) {
    const slices_opts *o = ctx;
    slices_opts e = *o;
    e.batch = 1;
    return ct_dataset_unbatch(slices_build(&e));
}

/* Every save position of the first and second pass (after the reset),
 * one element at a time, with buffers smaller than, equal to and larger
 * than the data, reshuffling or not, seeded or not, after a parallel map. */
Test(iterckpt, replay_at_every_position) {
    const int64_t buffers[] = {1, 8, N_SLICES, 1000};
    for (size_t b = 0; b < sizeof buffers / sizeof *buffers; b++)
        for (int variant = 0; variant < 4; variant++) {
            slices_opts o = {.buffer = buffers[b],
                             .no_reshuffle = variant == 1,
                             .shuffle_seed = variant == 2 ? 17 : 0,
                             .parallel = variant == 3 ? 2 : 0};
            pipeline pl = {slices_elements_build, &o, .global_seed = variant != 2};
            for (int p = 0; p < 2; p++)
                for (int64_t k = -1; k <= N_SLICES; k++) {
                    const point pts[] = {{p, k}};
                    cr_assert_eq(check_resume(&pl, pts, 1), N_SLICES);
                }
        }
}

/* repeat then shuffle: one pass of the shuffle's input spans the repeat's
 * three epochs, and replay runs through them. */
static ct_dataset *repeat_shuffle_build(void *ctx) {
    (void)ctx;
    ct_dataset *ds = ct_dataset_repeat(ct_dataset_range(0, 7, 1), 3);
    ds = ct_dataset_shuffle(ds, 5, NULL);
    return ct_dataset_batch(ds, 2, false);
}

Test(iterckpt, repeat_then_shuffle_replays_across_repeats) {
    pipeline pl = {repeat_shuffle_build, NULL, .global_seed = true};
    const point pts[] = {{0, 0}, {0, 3}, {0, 4}, {0, 7}, {0, 10}, {0, -1}, {1, 0}, {1, 6}};
    cr_expect_eq(check_resume(&pl, pts, 8), 11);
}

/* An infinite input: no pass end, so the shuffle saves its buffer. */
static ct_dataset *repeat_forever_shuffle_build(void *ctx) {
    (void)ctx;
    ct_dataset *ds = ct_dataset_repeat(ct_dataset_range(0, 7, 1), -1);
    ds = ct_dataset_shuffle(ds, 5, NULL);
    return ct_dataset_batch(ct_dataset_take(ds, 20), 3, false);
}

Test(iterckpt, shuffle_of_an_infinite_input_saves_its_buffer) {
    pipeline pl = {repeat_forever_shuffle_build, NULL, .global_seed = true};
    const point pts[] = {{0, 0}, {0, 2}, {0, 5}, {0, -1}, {1, 0}, {1, 4}};
    cr_expect_eq(check_resume(&pl, pts, 6), 7);
}

/* An input of unknown size that never ends (a filter over repeat()): the
 * shuffle replays while its pass is short beside its buffer (16 buffers),
 * then saves its buffer. */
static ct_dataset *repeat_forever_filter_shuffle_build(void *ctx) {
    (void)ctx;
    ct_dataset *ds = ct_dataset_repeat(ct_dataset_range(0, 7, 1), -1);
    ds = ct_dataset_shuffle(ct_dataset_filter(ds, odd_fn, NULL), 3, NULL);
    return ct_dataset_batch(ct_dataset_take(ds, 100), 5, false);
}

Test(iterckpt, shuffle_of_an_endless_unknown_input_replays_then_saves_its_buffer) {
    pipeline pl = {repeat_forever_filter_shuffle_build, NULL, .global_seed = true};
    const point pts[] = {{0, 0}, {0, 2}, {0, 9}, {0, 10}, {0, 12}, {0, -1}, {1, 0}, {1, 15}};
    cr_expect_eq(check_resume(&pl, pts, 8), 20);
}

/* A shuffle over a shuffle under a repeat: the inner seed generator moves
 * during the outer pass (a dataset state of its own), so the outer shuffle
 * saves its buffer; the inner ones replay. */
static ct_dataset *shuffle_repeat_shuffle_build(void *ctx) {
    (void)ctx;
    ct_dataset *ds = ct_dataset_shuffle(ct_dataset_range(0, 9, 1), 4, NULL);
    ds = ct_dataset_shuffle(ct_dataset_repeat(ds, 2), 6, NULL);
    return ct_dataset_batch(ds, 4, false);
}

Test(iterckpt, shuffle_over_a_reshuffling_input_saves_its_buffer) {
    pipeline pl = {shuffle_repeat_shuffle_build, NULL, .global_seed = true};
    const point pts[] = {{0, 0}, {0, 1}, {0, 2}, {0, 4}, {0, -1}, {1, 0}, {1, 3}, {2, -1}};
    cr_expect_eq(check_resume(&pl, pts, 8), 5);
}

/* A state restored by replay saves by replay again, and resumes again. */
Test(iterckpt, replayed_state_saves_and_resumes_again) {
    slices_opts o = {.buffer = 1000, .batch = 1};
    pipeline pl = {slices_elements_build, &o, .global_seed = true};
    ct_dataset *ds = make(&pl);
    ct_iterator *it = ct_dataset_iterator(ds);
    void *s0;
    size_t l0;
    CT_STATUS_OK(ct_iterator_save(it, &s0, &l0));
    blob b;
    for (int i = 0; i < 3; i++) {
        cr_assert(next_fp(it, &b));
        free(b.p);
    }
    void *s1;
    size_t l1;
    CT_STATUS_OK(ct_iterator_save(it, &s1, &l1));
    pass rest = {0};
    while (next_fp(it, &b)) {
        rest.e = realloc(rest.e, (size_t)(rest.n + 1) * sizeof *rest.e);
        rest.e[rest.n++] = b;
    }
    cr_assert_eq(rest.n, N_SLICES - 3);
    ct_iterator_free(it);
    ct_dataset_free(ds);

    ds = make(&pl);
    it = ct_dataset_iterator(ds);
    CT_STATUS_OK(ct_iterator_restore(it, s1, l1));
    for (int i = 0; i < 5; i++) {
        cr_assert(next_fp(it, &b));
        cr_assert(b.n == rest.e[i].n && !memcmp(b.p, rest.e[i].p, b.n));
        free(b.p);
    }
    void *s2;
    size_t l2;
    CT_STATUS_OK(ct_iterator_save(it, &s2, &l2));
    /* The buffer (20 elements of 3 floats and an int64) is not in it. */
    cr_expect_eq(l2, l1, "a replayed state grew from %zu to %zu bytes", l1, l2);
    ct_iterator_free(it);
    ct_dataset_free(ds);

    ds = make(&pl);
    it = ct_dataset_iterator(ds);
    CT_STATUS_OK(ct_iterator_restore(it, s2, l2));
    int64_t i = 5;
    for (; next_fp(it, &b); i++) {
        cr_assert_lt(i, rest.n);
        cr_assert(b.n == rest.e[i].n && !memcmp(b.p, rest.e[i].p, b.n), "element %lld differs",
                  (long long)i);
        free(b.p);
    }
    cr_expect_eq(i, rest.n);
    ct_iterator_free(it);
    ct_dataset_free(ds);

    /* Saved at the pass's start (nothing buffered: no replay needed),
     * restored and run 3 elements: the same state as the first run's. */
    ds = make(&pl);
    it = ct_dataset_iterator(ds);
    CT_STATUS_OK(ct_iterator_restore(it, s0, l0));
    for (int k = 0; k < 3; k++) {
        cr_assert(next_fp(it, &b));
        free(b.p);
    }
    void *s3;
    size_t l3;
    CT_STATUS_OK(ct_iterator_save(it, &s3, &l3));
    cr_expect(l3 == l1 && !memcmp(s3, s1, l1), "saved after a restore at the start: %zu bytes, "
              "%zu uninterrupted", l3, l1);
    ct_iterator_free(it);
    ct_dataset_free(ds);
    pass_free(&rest);
    free(s0);
    free(s1);
    free(s2);
    free(s3);
}

/* A generator cannot be saved at the pass's start; once it is exhausted
 * (a buffer larger than its data) the shuffle saves its buffer. */
Test(iterckpt, shuffle_of_a_generator_saves_its_buffer_once_it_ended) {
    ct_element_spec spec = {.n = 1, .c = {{.dtype = CT_INT64, .rank = 0}}};
    int n = 0;
    ct_set_random_seed(1234);
    ct_dataset *ds = ct_dataset_shuffle(ct_dataset_from_generator(gen_fn, NULL, &n, &spec), 10, NULL);
    ct_iterator *it = ct_dataset_iterator(ds);
    cr_expect_str_empty(ct_last_error());
    blob first, b;
    cr_assert(next_fp(it, &first));
    void *state;
    size_t len;
    CT_STATUS_OK(ct_iterator_save(it, &state, &len));
    pass rest = {0};
    while (next_fp(it, &b)) {
        rest.e = realloc(rest.e, (size_t)(rest.n + 1) * sizeof *rest.e);
        rest.e[rest.n++] = b;
    }
    cr_assert_eq(rest.n, 2);
    ct_iterator_free(it);
    ct_dataset_free(ds);

    int m = 0;
    ct_set_random_seed(1234);
    ds = ct_dataset_shuffle(ct_dataset_from_generator(gen_fn, NULL, &m, &spec), 10, NULL);
    it = ct_dataset_iterator(ds);
    CT_STATUS_OK(ct_iterator_restore(it, state, len));
    int64_t i = 0;
    for (; next_fp(it, &b); i++) {
        cr_assert_lt(i, rest.n);
        cr_assert(b.n == rest.e[i].n && !memcmp(b.p, rest.e[i].p, b.n));
        free(b.p);
    }
    cr_expect_eq(i, rest.n);
    cr_expect_eq(m, 0, "the restored generator was read");
    ct_iterator_free(it);
    ct_dataset_free(ds);
    pass_free(&rest);
    free(first.p);
    free(state);
}

/* A map that fails on one element: the pass goes on after the error (the
 * caller saw it), which a replay would not, so the shuffle saves its
 * buffer from then on. */
static ct_status fail_on_5(const ct_element *in, void *ctx, ct_element **out) {
    (void)ctx;
    *out = NULL;
    if ((int64_t)ct_item(in->t[1]) == 5) return CT_ERR_INVALID_ARGUMENT;
    *out = ct_element_copy(in);
    return *out ? CT_OK : ct_last_status();
}

static ct_dataset *failing_build(void) {
    float x[N_SLICES];
    int64_t y[N_SLICES];
    for (int i = 0; i < N_SLICES; i++) {
        x[i] = (float)i * 0.5f;
        y[i] = i;
    }
    ct_set_random_seed(1234);
    ct_scope_begin();
    ct_tensor *tx = ct_constant(x, CT_FLOAT32, CT_DIMS(N_SLICES));
    ct_tensor *ty = ct_constant(y, CT_INT64, CT_DIMS(N_SLICES));
    ct_dataset *ds = ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {tx, ty}});
    ct_scope_end();
    ds = ct_dataset_map(ds, fail_on_5, NULL, 0);
    return ct_dataset_shuffle(ds, 4, &(ct_shuffle_opts){.seed = 3});
}

Test(iterckpt, shuffle_after_an_error_saves_its_buffer) {
    ct_dataset *ds = failing_build();
    CT_OK(ds);
    ct_iterator *it = ct_dataset_iterator(ds);
    int errors = 0;
    int64_t got = 0;
    ct_element *e;
    /* Up to and past the error. */
    while (errors == 0 || got < 8) {
        ct_status st = ct_iterator_next(it, &e);
        if (st) {
            errors++;
            ct_clear_error();
            continue;
        }
        cr_assert_not_null(e);
        ct_element_free(e);
        got++;
    }
    cr_assert_eq(errors, 1);
    void *state;
    size_t len;
    CT_STATUS_OK(ct_iterator_save(it, &state, &len));
    pass rest = {0};
    blob b;
    while (next_fp(it, &b)) {
        rest.e = realloc(rest.e, (size_t)(rest.n + 1) * sizeof *rest.e);
        rest.e[rest.n++] = b;
    }
    cr_assert_eq(got + rest.n, N_SLICES - 1);
    ct_iterator_free(it);
    ct_dataset_free(ds);

    ds = failing_build();
    it = ct_dataset_iterator(ds);
    CT_STATUS_OK(ct_iterator_restore(it, state, len));
    int64_t i = 0;
    for (; next_fp(it, &b); i++) {
        cr_assert_lt(i, rest.n);
        cr_assert(b.n == rest.e[i].n && !memcmp(b.p, rest.e[i].p, b.n));
        free(b.p);
    }
    cr_expect_eq(i, rest.n);
    ct_iterator_free(it);
    ct_dataset_free(ds);
    pass_free(&rest);
    free(state);
}

/* ctrain's main job: Fashion-MNIST sized (60000 x 784 float32, 188 MB),
 * shuffle(60000), batch(128), saved after one batch. The state must not
 * hold the buffer; the restore (which replays the pass so far) is timed
 * and printed, not asserted. */
#define BIG_N 60000
#define BIG_D 784

static ct_dataset *big_build(bool fallback) {
    float *x = malloc((size_t)BIG_N * BIG_D * sizeof *x);
    cr_assert_not_null(x);
    for (size_t i = 0; i < (size_t)BIG_N * BIG_D; i++) x[i] = (float)(i % 251) / 255.0f;
    int64_t *y = malloc(BIG_N * sizeof *y);
    cr_assert_not_null(y);
    for (int64_t i = 0; i < BIG_N; i++) y[i] = i % 10;
    ct_scope_begin();
    ct_tensor *tx = ct_constant(x, CT_FLOAT32, CT_DIMS(BIG_N, BIG_D));
    ct_tensor *ty = ct_constant(y, CT_INT64, CT_DIMS(BIG_N));
    ct_dataset *ds = ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {tx, ty}});
    ct_scope_end();
    free(x);
    free(y);
    /* A shuffle of buffer 1 (the identity) below: a dataset with a state
     * of its own, so the shuffle falls back to saving its buffer, as every
     * shuffle did before replay. */
    if (fallback) ds = ct_dataset_shuffle(ds, 1, NULL);
    ds = ct_dataset_shuffle(ds, BIG_N, NULL);
    return ct_dataset_batch(ds, 128, false);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

Test(iterckpt, fashion_mnist_sized_state_is_small, .timeout = 600) {
    size_t sizes[2];
    for (int fallback = 0; fallback < 2; fallback++) {
        ct_set_random_seed(1234);
        ct_dataset *ds = big_build(fallback);
        CT_OK(ds);
        ct_iterator *it = ct_dataset_iterator(ds);
        blob b;
        cr_assert(next_fp(it, &b));
        free(b.p);
        void *state;
        size_t len;
        double t0 = now_s();
        CT_STATUS_OK(ct_iterator_save(it, &state, &len));
        double t_save = now_s() - t0;
        blob want;
        cr_assert(next_fp(it, &want));
        ct_iterator_free(it);
        ct_dataset_free(ds);
        sizes[fallback] = len;

        ct_set_random_seed(1234);
        ds = big_build(fallback);
        it = ct_dataset_iterator(ds);
        t0 = now_s();
        CT_STATUS_OK(ct_iterator_restore(it, state, len));
        double t_restore = now_s() - t0;
        cr_assert(next_fp(it, &b));
        cr_expect(b.n == want.n && !memcmp(b.p, want.p, b.n), "the batch after the restore differs");
        free(b.p);
        free(want.p);
        fprintf(stderr, "shuffle(60000) of 60000 x 784 float32, batch 128, saved after 1 batch (%s): "
                        "state %zu bytes, save %.3f s, restore %.3f s\n",
                fallback ? "buffer saved" : "replay", len, t_save, t_restore);
        ct_iterator_free(it);
        ct_dataset_free(ds);
        free(state);
    }
    cr_expect_lt(sizes[0], (size_t)1 << 20, "the state is %zu bytes", sizes[0]);
    cr_expect_gt(sizes[1], (size_t)BIG_N * BIG_D * 4 / 2, "the buffer save is %zu bytes", sizes[1]);
}
