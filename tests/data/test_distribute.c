/* Distribution helpers: ct_dataset_auto_shard (TF's AutoShardPolicy) and
 * ct_dataset_prefetch_to_device. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctrain/data_distribute.h"
#include "support.h"

static char dir[64];

static void setup(void) {
    ct_test_begin();
    strcpy(dir, "/tmp/ct_dist_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    ct_test_end();
}

TestSuite(distribute, .init = setup, .fini = teardown);

/* ---- helpers ----------------------------------------------------------------------- */

/* Every element's component 0 as int64 values, flattened, into out; the count. */
static int drain_i64(ct_dataset *ds, int64_t *out, int max) {
    ct_iterator *it = ct_dataset_iterator(ds);
    CT_OK(it);
    int n = 0;
    ct_element *e;
    for (;;) {
        CT_STATUS_OK(ct_iterator_next(it, &e));
        if (!e) break;
        int64_t k = ct_tensor_size(e->t[0]);
        cr_assert_leq(n + k, max);
        CT_STATUS_OK(ct_tensor_read(e->t[0], CT_INT64, out + n, k));
        n += (int)k;
        ct_element_free(e);
    }
    ct_iterator_free(it);
    return n;
}

/* Lines "f<file>l<line>" of file `file`, `lines` of them. */
static const char *make_file(int file, int lines) {
    static char paths[8][128];
    char *p = paths[file];
    snprintf(p, sizeof paths[0], "%s/part-%d.txt", dir, file);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    for (int l = 0; l < lines; l++) fprintf(f, "f%dl%d\n", file, l);
    fclose(f);
    return p;
}

/* The file index of each line element ("f<i>l<j>" -> i), in order. */
static int drain_files(ct_dataset *ds, int *file, int *line, int max) {
    ct_iterator *it = ct_dataset_iterator(ds);
    CT_OK(it);
    int n = 0;
    ct_element *e;
    for (;;) {
        CT_STATUS_OK(ct_iterator_next(it, &e));
        if (!e) break;
        char buf[64] = {0};
        int64_t k = ct_tensor_size(e->t[0]);
        cr_assert_lt(k, 63);
        CT_STATUS_OK(ct_tensor_read(e->t[0], CT_UINT8, buf, k));
        cr_assert_lt(n, max);
        cr_assert_eq(sscanf(buf, "f%dl%d", &file[n], &line[n]), 2, "line '%s'", buf);
        n++;
        ct_element_free(e);
    }
    ct_iterator_free(it);
    return n;
}

/* The text lines of the 4 files (3 lines each) as one TextLineDataset. */
static ct_dataset *four_files(void) {
    const char *names[4];
    for (int i = 0; i < 4; i++) names[i] = make_file(i, 3);
    return ct_dataset_text_lines(4, names, CT_COMPRESSION_NONE);
}

/* Whether this build can shard by files (the dataset rebuild hooks of
 * data/internal.h); tests of FILE sharding are skipped where not. */
static bool have_hooks(void) {
    ct_dataset *ds = ct_dataset_auto_shard(four_files(), 2, 0, CT_AUTO_SHARD_FILE);
    bool ok = ds || !strstr(ct_last_error(), "no dataset rebuild hooks");
    ct_dataset_free(ds);
    ct_clear_error();
    return ok;
}
#define SKIP_WITHOUT_HOOKS()                                                              \
    do {                                                                                  \
        if (!have_hooks()) cr_skip_test("this build has no dataset rebuild hooks");       \
    } while (0)

/* ---- DATA / OFF / AUTO without files -------------------------------------------------- */

Test(distribute, data_every_nth_element_and_all_once) {
    for (int64_t n = 1; n <= 4; n++) {
        int seen[10] = {0};
        for (int64_t w = 0; w < n; w++) {
            ct_dataset *ds = ct_dataset_auto_shard(ct_dataset_range(0, 10, 1), n, w,
                                                   CT_AUTO_SHARD_DATA);
            CT_OK(ds);
            cr_assert_eq(ct_dataset_cardinality(ds), 10 / n + (w < 10 % n));
            int64_t v[10];
            int k = drain_i64(ds, v, 10);
            cr_assert_eq(k, 10 / n + (w < 10 % n));
            for (int i = 0; i < k; i++) {
                cr_assert_eq(v[i], w + i * n);
                seen[v[i]]++;
            }
            ct_dataset_free(ds);
        }
        for (int i = 0; i < 10; i++) cr_assert_eq(seen[i], 1, "n=%lld element %d", (long long)n, i);
    }
}

Test(distribute, data_shards_batches_and_stays_below_prefetch) {
    /* range(10).batch(2).prefetch(2) over 2 workers: worker 1 gets the
     * batches [2,3] and [6,7]. */
    ct_dataset *ds = ct_dataset_prefetch(ct_dataset_batch(ct_dataset_range(0, 10, 1), 2, false), 2);
    ds = ct_dataset_auto_shard(ds, 2, 1, CT_AUTO_SHARD_DATA);
    CT_OK(ds);
    int64_t v[10];
    cr_assert_eq(drain_i64(ds, v, 10), 4);
    int64_t want[] = {2, 3, 6, 7};
    for (int i = 0; i < 4; i++) cr_assert_eq(v[i], want[i]);
    ct_dataset_free(ds);
}

Test(distribute, auto_without_files_shards_by_data) {
    /* A range has no files: AUTO falls back to DATA (TF logs a warning). */
    ct_dataset *ds = ct_dataset_auto_shard(ct_dataset_batch(ct_dataset_range(0, 12, 1), 3, false), 2, 0,
                               CT_AUTO_SHARD_AUTO);
    CT_OK(ds);
    int64_t v[12];
    cr_assert_eq(drain_i64(ds, v, 12), 6);
    int64_t want[] = {0, 1, 2, 6, 7, 8};
    for (int i = 0; i < 6; i++) cr_assert_eq(v[i], want[i]);
    ct_dataset_free(ds);
}

Test(distribute, off_and_one_worker_return_the_dataset) {
    ct_dataset *r = ct_dataset_range(0, 5, 1);
    cr_assert_eq(ct_dataset_auto_shard(r, 4, 3, CT_AUTO_SHARD_OFF), r);
    cr_assert_eq(ct_dataset_auto_shard(r, 1, 0, CT_AUTO_SHARD_DATA), r);
    cr_assert_eq(ct_dataset_auto_shard(r, 1, 0, CT_AUTO_SHARD_FILE), r);
    int64_t v[5];
    cr_assert_eq(drain_i64(r, v, 5), 5);
    ct_dataset_free(r);
}

Test(distribute, errors) {
    CT_FAILS(ct_dataset_auto_shard(ct_dataset_range(0, 5, 1), 0, 0, CT_AUTO_SHARD_DATA),
             "num_workers should be >= 1, currently 0");
    CT_FAILS(ct_dataset_auto_shard(ct_dataset_range(0, 5, 1), 3, 3, CT_AUTO_SHARD_AUTO),
             "index should be >= 0 and < 3, currently 3");
    CT_FAILS(ct_dataset_auto_shard(ct_dataset_range(0, 5, 1), 3, -1, CT_AUTO_SHARD_OFF),
             "index should be >= 0 and < 3, currently -1");
    CT_FAILS(ct_dataset_auto_shard(ct_dataset_range(0, 5, 1), 2, 0, (ct_auto_shard_policy)9),
             "auto_shard_policy 9 is invalid");
    /* FILE with no file source: TF's NotFound. */
    CT_FAILS(ct_dataset_auto_shard(ct_dataset_range(0, 5, 1), 2, 0, CT_AUTO_SHARD_FILE),
             "Found an unshardable source dataset: RangeDataset");
    cr_assert_eq(ct_last_status(), CT_ERR_NOT_FOUND);
    ct_dataset *ds = ct_dataset_batch(ct_dataset_from_tensor_slices(&(ct_element){
                                          .n = 1, .t = {ct_range(0, 4, 1, CT_INT64)}}),
                                      2, false);
    bool hooks = have_hooks();
    CT_FAILS(ct_dataset_auto_shard(ds, 2, 1, CT_AUTO_SHARD_FILE),
             hooks ? "Found an unshardable source dataset: TensorSliceDataset"
                   : "no dataset rebuild hooks");
    cr_assert_eq(ct_last_status(), CT_ERR_NOT_FOUND);
    /* A NULL input keeps its error. */
    CT_FAILS(ct_dataset_auto_shard(ct_dataset_shard(ct_dataset_range(0, 5, 1), 0, 0), 2, 0,
                                   CT_AUTO_SHARD_AUTO),
             "Number of shards must be greater than zero");
}

/* ---- FILE / AUTO with files ---------------------------------------------------------- */

Test(distribute, file_reads_every_nth_file) {
    SKIP_WITHOUT_HOOKS();
    for (int w = 0; w < 2; w++) {
        ct_dataset *ds = ct_dataset_auto_shard(four_files(), 2, w, CT_AUTO_SHARD_FILE);
        CT_OK(ds);
        int file[12], line[12];
        int n = drain_files(ds, file, line, 12);
        cr_assert_eq(n, 6);
        for (int i = 0; i < n; i++) {
            cr_assert_eq(file[i], w + 2 * (i / 3));
            cr_assert_eq(line[i], i % 3);
        }
        ct_dataset_free(ds);
    }
}

Test(distribute, auto_with_enough_files_shards_files_through_transforms) {
    SKIP_WITHOUT_HOOKS();
    /* text_lines -> batch(2) -> prefetch: worker 1 of 3 reads file 1 only. */
    ct_dataset *ds = ct_dataset_prefetch(ct_dataset_batch(four_files(), 2, false), 1);
    ds = ct_dataset_auto_shard(ds, 3, 1, CT_AUTO_SHARD_AUTO);
    CT_OK(ds);
    ct_iterator *it = ct_dataset_iterator(ds);
    CT_OK(it);
    int batches = 0, lines = 0;
    ct_element *e;
    for (;;) {
        CT_STATUS_OK(ct_iterator_next(it, &e));
        if (!e) break;
        cr_assert_eq(ct_tensor_rank(e->t[0]), 2);
        lines += (int)ct_tensor_shape(e->t[0])[0];
        char buf[16] = {0}; /* "f1l0f1l1": lines of equal length batch as [k,4] */
        cr_assert_leq(ct_tensor_size(e->t[0]), 8);
        CT_STATUS_OK(ct_tensor_read(e->t[0], CT_UINT8, buf, ct_tensor_size(e->t[0])));
        for (int64_t r = 0; r < ct_tensor_shape(e->t[0])[0]; r++)
            cr_assert_eq(buf[4 * r + 1], '1', "got '%s'", buf);
        batches++;
        ct_element_free(e);
    }
    ct_iterator_free(it);
    cr_assert_eq(batches, 2);
    cr_assert_eq(lines, 3);
    ct_dataset_free(ds);
}

Test(distribute, too_few_files) {
    /* FILE: an error; AUTO: sharded by lines instead. */
    CT_FAILS(ct_dataset_auto_shard(four_files(), 5, 0, CT_AUTO_SHARD_FILE),
             "ct_dataset_auto_shard:");
    cr_assert_eq(ct_last_status(), CT_ERR_NOT_FOUND);
    if (!strstr(ct_last_error(), "no dataset rebuild hooks"))
        cr_assert(strstr(ct_last_error(), "only has 4 file(s), which is not enough for the "
                                          "required 5 shards/workers"),
                  "%s", ct_last_error());
    ct_dataset *ds = ct_dataset_auto_shard(four_files(), 5, 2, CT_AUTO_SHARD_AUTO);
    CT_OK(ds);
    int file[12], line[12];
    int n = drain_files(ds, file, line, 12);
    cr_assert_eq(n, 2); /* lines 2 and 7 of the 12: f0l2, f2l1 */
    cr_assert(file[0] == 0 && line[0] == 2);
    cr_assert(file[1] == 2 && line[1] == 1);
    ct_dataset_free(ds);
}

static ct_dataset *read_lines(const ct_element *in, void *ctx) {
    (void)ctx;
    char name[256] = {0};
    int64_t k = ct_tensor_size(in->t[0]);
    if (k >= (int64_t)sizeof name) return NULL;
    if (ct_tensor_read(in->t[0], CT_UINT8, name, k)) return NULL;
    const char *names[] = {name};
    return ct_dataset_text_lines(1, names, CT_COMPRESSION_NONE);
}

Test(distribute, list_files_interleave_shards_the_names) {
    SKIP_WITHOUT_HOOKS();
    for (int i = 0; i < 4; i++) make_file(i, 3);
    char pattern[128];
    snprintf(pattern, sizeof pattern, "%s/part-*.txt", dir);
    for (int shuffle = 0; shuffle < 2; shuffle++) {
        ct_dataset *ds = ct_dataset_list_files(pattern, shuffle, 42);
        ds = ct_dataset_interleave(ds, read_lines, NULL, 2, 1, 0);
        ds = ct_dataset_auto_shard(ds, 2, 1, CT_AUTO_SHARD_AUTO);
        CT_OK(ds);
        int file[12], line[12];
        int n = drain_files(ds, file, line, 12);
        cr_assert_eq(n, 6);
        int per_file[4] = {0};
        for (int i = 0; i < n; i++) per_file[file[i]]++;
        /* Worker 1 reads files 1 and 3 of the sorted list (shuffled or not). */
        cr_assert(per_file[0] == 0 && per_file[1] == 3 && per_file[2] == 0 && per_file[3] == 3,
                  "shuffle=%d: %d %d %d %d", shuffle, per_file[0], per_file[1], per_file[2],
                  per_file[3]);
        ct_dataset_free(ds);
    }
}

Test(distribute, files_and_data_workers_see_everything_once) {
    SKIP_WITHOUT_HOOKS();
    for (int policy = CT_AUTO_SHARD_AUTO; policy <= CT_AUTO_SHARD_DATA; policy++) {
        int seen[4][3] = {{0}};
        for (int w = 0; w < 2; w++) {
            ct_dataset *ds = ct_dataset_auto_shard(four_files(), 2, w, (ct_auto_shard_policy)policy);
                CT_OK(ds);
            int file[12], line[12];
            int n = drain_files(ds, file, line, 12);
            cr_assert_eq(n, 6);
            for (int i = 0; i < n; i++) seen[file[i]][line[i]]++;
            ct_dataset_free(ds);
        }
        for (int f = 0; f < 4; f++)
            for (int l = 0; l < 3; l++) cr_assert_eq(seen[f][l], 1);
    }
}

/* ---- FILE sharding of TFRecord and CSV pipelines --------------------------------------- */

#define TFR_FILES 4

/* Records of file f: f + 2 of them, "f<f>r<r>". */
static int tfr_records(int f) { return f + 2; }

static void write_tfrecords(const char **paths, ct_compression comp) {
    static char names[TFR_FILES][128];
    for (int f = 0; f < TFR_FILES; f++) {
        snprintf(names[f], sizeof names[f], "%s/part-%d.tfrecord", dir, f);
        ct_tfrecord_writer *w = ct_tfrecord_writer_open(names[f], comp);
        CT_OK(w);
        for (int r = 0; r < tfr_records(f); r++) {
            char rec[32];
            int len = snprintf(rec, sizeof rec, "f%dr%d", f, r);
            CT_STATUS_OK(ct_tfrecord_writer_write(w, rec, (size_t)len));
        }
        CT_STATUS_OK(ct_tfrecord_writer_close(w));
        paths[f] = names[f];
    }
}

static ct_dataset *tfrecords(ct_compression comp) {
    const char *paths[TFR_FILES];
    write_tfrecords(paths, comp);
    return ct_dataset_tfrecord(TFR_FILES, paths, comp);
}

static ct_element *elem1(ct_tensor *t) {
    ct_element *e = calloc(1, sizeof *e);
    cr_assert_not_null(e);
    e->n = 1;
    e->t[0] = t;
    return e;
}

static ct_tensor *int64_scalar(int64_t v) {
    ct_scope_begin();
    ct_tensor *t = ct_tensor_ref(ct_scalar_of(CT_INT64, (double)v));
    ct_scope_end();
    return t;
}

/* A record "f<f>r<r>" -> int64 100 f + r. */
static ct_status record_id(const ct_element *in, void *ctx, ct_element **out) {
    (void)ctx;
    char buf[32] = {0};
    int64_t k = ct_tensor_size(in->t[0]);
    if (k >= (int64_t)sizeof buf) return CT_ERR_INVALID_ARGUMENT;
    ct_status st = ct_tensor_read(in->t[0], CT_UINT8, buf, k);
    if (st) return st;
    int f, r;
    if (sscanf(buf, "f%dr%d", &f, &r) != 2) return CT_ERR_INVALID_ARGUMENT;
    ct_tensor *t = int64_scalar(100 * (int64_t)f + r);
    if (!t) return ct_last_status();
    *out = elem1(t);
    return CT_OK;
}

/* Drops record 1 of every file. */
static ct_status not_record_1(const ct_element *in, void *ctx, bool *keep) {
    (void)ctx;
    *keep = (int64_t)ct_item(in->t[0]) % 100 != 1;
    return CT_OK;
}

/* The id as a vector [id] (for padded_batch). */
static ct_status id_vector(const ct_element *in, void *ctx, ct_element **out) {
    (void)ctx;
    ct_scope_begin();
    ct_tensor *t = ct_tensor_ref(ct_reshape(in->t[0], 1, (int64_t[]){1}));
    ct_scope_end();
    if (!t) return ct_last_status();
    *out = elem1(t);
    return CT_OK;
}

/* The ids worker w of n reads with FILE sharding: the records of files
 * w, w + n, ..., in order (record 1 dropped with `filtered`). */
static int tfr_expected(int64_t n, int64_t w, bool filtered, int64_t *out) {
    int k = 0;
    for (int64_t f = w; f < TFR_FILES; f += n)
        for (int r = 0; r < tfr_records((int)f); r++)
            if (!filtered || r != 1) out[k++] = 100 * f + r;
    return k;
}

/* Drains a sharded pipeline's component 0 (int64) dropping `skip` values
 * (padding) and checks it against tfr_expected; marks each id in seen. */
static void check_worker(ct_dataset *ds, int64_t n, int64_t w, bool filtered, int64_t skip,
                         int *seen, const char *what) {
    int64_t got[256], want[64];
    int k = drain_i64(ds, got, 256), m = 0;
    for (int i = 0; i < k; i++)
        if (got[i] != skip) got[m++] = got[i];
    int e = tfr_expected(n, w, filtered, want);
    cr_assert_eq(m, e, "%s: worker %lld of %lld got %d ids, want %d", what, (long long)w,
                 (long long)n, m, e);
    for (int i = 0; i < m; i++) {
        cr_assert_eq(got[i], want[i], "%s: worker %lld of %lld, id %d: %lld, want %lld", what,
                     (long long)w, (long long)n, i, (long long)got[i], (long long)want[i]);
        seen[got[i]]++;
    }
}

/* Every record once over all workers (record 1 of each file never with
 * `filtered`). */
static void check_all_once(const int *seen, bool filtered, const char *what) {
    for (int f = 0; f < TFR_FILES; f++)
        for (int r = 0; r < 100; r++) {
            int want = r < tfr_records(f) && !(filtered && r == 1);
            cr_assert_eq(seen[100 * f + r], want, "%s: record %d of file %d seen %d times", what,
                         r, f, seen[100 * f + r]);
        }
}

Test(distribute, file_shards_tfrecord_through_map_batch_prefetch) {
    SKIP_WITHOUT_HOOKS();
    int calls[] = {0, 3, CT_AUTOTUNE};
    for (int c = 0; c < 3; c++)
        for (int64_t n = 2; n <= 4; n++)
            for (int policy = CT_AUTO_SHARD_AUTO; policy <= CT_AUTO_SHARD_FILE; policy++) {
                int seen[400] = {0};
                for (int64_t w = 0; w < n; w++) {
                    ct_dataset *ds = ct_dataset_map(tfrecords(CT_COMPRESSION_NONE), record_id,
                                                    NULL, calls[c]);
                    ds = ct_dataset_prefetch(ct_dataset_batch(ds, 3, false), 2);
                    CT_OK(ds);
                    ct_element_spec spec = *ct_dataset_element_spec(ds);
                    ds = ct_dataset_auto_shard(ds, n, w, (ct_auto_shard_policy)policy);
                    CT_OK(ds);
                    const ct_element_spec *s = ct_dataset_element_spec(ds);
                    cr_assert(s->n == 1 && s->c[0].dtype == spec.c[0].dtype &&
                              s->c[0].rank == 1 && s->c[0].shape[0] == -1);
                    /* Batches of 3 of the worker's own records. */
                    ct_iterator *it = ct_dataset_iterator(ds);
                    CT_OK(it);
                    ct_element *e;
                    int left = tfr_expected(n, w, false, (int64_t[64]){0});
                    for (;;) {
                        CT_STATUS_OK(ct_iterator_next(it, &e));
                        if (!e) break;
                        cr_assert_eq(ct_tensor_shape(e->t[0])[0], left < 3 ? left : 3);
                        left -= (int)ct_tensor_shape(e->t[0])[0];
                        ct_element_free(e);
                    }
                    ct_iterator_free(it);
                    cr_assert_eq(left, 0);
                    check_worker(ds, n, w, false, -1, seen, "map+batch+prefetch");
                    ct_dataset_free(ds);
                }
                check_all_once(seen, false, "map+batch+prefetch");
            }
}

Test(distribute, file_shards_compressed_tfrecord_through_filter_and_cache) {
    SKIP_WITHOUT_HOOKS();
    /* GZIP files (the shard keeps the compression), parallel map, filter,
     * a memory cache iterated twice, batch, prefetch. */
    int seen[400] = {0};
    for (int64_t w = 0; w < 2; w++) {
        ct_dataset *ds = ct_dataset_map(tfrecords(CT_COMPRESSION_GZIP), record_id, NULL, 2);
        ds = ct_dataset_cache(ct_dataset_filter(ds, not_record_1, NULL), NULL);
        ds = ct_dataset_prefetch(ct_dataset_batch(ds, 2, false), CT_AUTOTUNE);
        ds = ct_dataset_auto_shard(ds, 2, w, CT_AUTO_SHARD_FILE);
        CT_OK(ds);
        int scratch[400] = {0};
        check_worker(ds, 2, w, true, -1, scratch, "filter+cache (filling)");
        check_worker(ds, 2, w, true, -1, seen, "filter+cache (replaying)");
        ct_dataset_free(ds);
    }
    check_all_once(seen, true, "filter+cache");
}

Test(distribute, file_shards_tfrecord_through_batching_stages) {
    SKIP_WITHOUT_HOOKS();
    for (int kind = 0; kind < 3; kind++) {
        const char *what = kind == 0 ? "padded_batch" : kind == 1 ? "window" : "rebatch";
        int seen[400] = {0};
        for (int64_t w = 0; w < 3; w++) {
            ct_dataset *ds = ct_dataset_map(tfrecords(CT_COMPRESSION_NONE), record_id, NULL, 0);
            if (kind == 0) {
                /* [id] padded to [2] with -1: rows [id, -1]. */
                ct_element_spec ps = {.n = 1, .c = {{.dtype = CT_INT64, .rank = 1, .shape = {2}}}};
                ds = ct_dataset_padded_batch(ct_dataset_map(ds, id_vector, NULL, 0), 2, &ps,
                                             (double[]){-1}, false);
            } else if (kind == 1) {
                ds = ct_dataset_window(ds, 2, 2, 1, false);
            } else {
                ds = ct_dataset_rebatch(ct_dataset_batch(ds, 2, false), 3, false);
            }
            ds = ct_dataset_auto_shard(ds, 3, w, CT_AUTO_SHARD_FILE);
            CT_OK(ds);
            if (kind == 0) cr_assert_eq(ct_dataset_element_spec(ds)->c[0].shape[1], 2);
            check_worker(ds, 3, w, false, -1, seen, what);
            ct_dataset_free(ds);
        }
        check_all_once(seen, false, what);
    }
}

Test(distribute, file_shards_every_input_of_zip_and_concatenate) {
    SKIP_WITHOUT_HOOKS();
    for (int64_t w = 0; w < 2; w++) {
        /* zip(ids, ids + padding row): both read the worker's files. */
        ct_dataset *a = ct_dataset_map(tfrecords(CT_COMPRESSION_NONE), record_id, NULL, 0);
        ct_dataset *b = ct_dataset_map(tfrecords(CT_COMPRESSION_NONE), record_id, NULL, 2);
        ct_dataset *ds = ct_dataset_zip(2, (ct_dataset *[]){a, b});
        ds = ct_dataset_auto_shard(ct_dataset_batch(ds, 2, false), 2, w, CT_AUTO_SHARD_FILE);
        CT_OK(ds);
        ct_iterator *it = ct_dataset_iterator(ds);
        CT_OK(it);
        int64_t want[64];
        int k = tfr_expected(2, w, false, want), i = 0;
        ct_element *e;
        for (;;) {
            CT_STATUS_OK(ct_iterator_next(it, &e));
            if (!e) break;
            cr_assert_eq(e->n, 2);
            int64_t x[2], y[2], m = ct_tensor_size(e->t[0]);
            CT_STATUS_OK(ct_tensor_read(e->t[0], CT_INT64, x, m));
            CT_STATUS_OK(ct_tensor_read(e->t[1], CT_INT64, y, m));
            for (int64_t j = 0; j < m; j++, i++) {
                cr_assert_lt(i, k);
                cr_assert(x[j] == want[i] && y[j] == want[i]);
            }
            ct_element_free(e);
        }
        cr_assert_eq(i, k);
        ct_iterator_free(it);
        ct_dataset_free(ds);

        /* concatenate(ids, filtered ids): the worker's records, then again
         * without record 1. */
        a = ct_dataset_map(tfrecords(CT_COMPRESSION_NONE), record_id, NULL, 0);
        b = ct_dataset_filter(ct_dataset_map(tfrecords(CT_COMPRESSION_NONE), record_id, NULL, 0),
                              not_record_1, NULL);
        ds = ct_dataset_auto_shard(ct_dataset_concatenate(a, b), 2, w, CT_AUTO_SHARD_AUTO);
        CT_OK(ds);
        int64_t got[128];
        int n = drain_i64(ds, got, 128);
        int k2 = tfr_expected(2, w, true, want + k);
        cr_assert_eq(n, k + k2);
        for (int j = 0; j < n; j++) cr_assert_eq(got[j], want[j]);
        ct_dataset_free(ds);
    }
}

Test(distribute, file_sharded_pipeline_saves_and_restores) {
    SKIP_WITHOUT_HOOKS();
    ct_dataset *ds = ct_dataset_map(tfrecords(CT_COMPRESSION_NONE), record_id, NULL, CT_AUTOTUNE);
    ds = ct_dataset_prefetch(ct_dataset_batch(ds, 2, false), 2);
    ds = ct_dataset_auto_shard(ds, 2, 1, CT_AUTO_SHARD_FILE);
    CT_OK(ds);
    int64_t want[64];
    int k = tfr_expected(2, 1, false, want); /* files 1 and 3: 3 + 5 records */
    for (int skip = 0; skip <= 4; skip++) {
        ct_iterator *it = ct_dataset_iterator(ds);
        CT_OK(it);
        ct_element *e;
        int i = 0;
        for (int b = 0; b < skip; b++) {
            CT_STATUS_OK(ct_iterator_next(it, &e));
            if (!e) break;
            i += (int)ct_tensor_size(e->t[0]);
            ct_element_free(e);
        }
        void *buf;
        size_t len;
        CT_STATUS_OK(ct_iterator_save(it, &buf, &len));
        ct_iterator_free(it);
        it = ct_dataset_iterator(ds);
        CT_OK(it);
        CT_STATUS_OK(ct_iterator_restore(it, buf, len));
        free(buf);
        for (;;) {
            CT_STATUS_OK(ct_iterator_next(it, &e));
            if (!e) break;
            int64_t v[2], m = ct_tensor_size(e->t[0]);
            CT_STATUS_OK(ct_tensor_read(e->t[0], CT_INT64, v, m));
            for (int64_t j = 0; j < m; j++, i++) cr_assert_eq(v[j], want[i], "skip %d", skip);
            ct_element_free(e);
        }
        cr_assert_eq(i, k, "skip %d", skip);
        ct_iterator_free(it);
    }
    ct_dataset_free(ds);
}

Test(distribute, file_stops_at_enumerate_and_unbatch_as_tf) {
    SKIP_WITHOUT_HOOKS();
    /* TF's enumerate is zip(range, ds): FILE finds the unshardable range;
     * unbatch is not one of TF's pass-through kinds. AUTO shards by data. */
    CT_FAILS(ct_dataset_auto_shard(ct_dataset_enumerate(tfrecords(CT_COMPRESSION_NONE), 5), 2, 0,
                                   CT_AUTO_SHARD_FILE),
             "Found an unshardable source dataset: RangeDataset");
    cr_assert_eq(ct_last_status(), CT_ERR_NOT_FOUND);
    ct_dataset *ds = ct_dataset_map(tfrecords(CT_COMPRESSION_NONE), record_id, NULL, 0);
    ds = ct_dataset_unbatch(ct_dataset_batch(ds, 4, false));
    CT_FAILS(ct_dataset_auto_shard(ct_dataset_ref(ds), 2, 0, CT_AUTO_SHARD_FILE),
             "UnbatchDataset");
    cr_assert_eq(ct_last_status(), CT_ERR_NOT_FOUND);
    ds = ct_dataset_auto_shard(ds, 2, 1, CT_AUTO_SHARD_AUTO);
    CT_OK(ds);
    int64_t got[16];
    cr_assert_eq(drain_i64(ds, got, 16), 7); /* every other one of the 14 records */
    cr_assert(got[0] == 1 && got[1] == 101 && got[2] == 200 && got[6] == 304);
    ct_dataset_free(ds);
    ds = ct_dataset_auto_shard(ct_dataset_enumerate(tfrecords(CT_COMPRESSION_NONE), 5), 2, 1,
                               CT_AUTO_SHARD_AUTO);
    CT_OK(ds);
    cr_assert_eq(drain_i64(ds, got, 16), 7);
    for (int i = 0; i < 7; i++) cr_assert_eq(got[i], 5 + 1 + 2 * i);
    ct_dataset_free(ds);
}

/* CSV: 3 files "id,name,score,note", file f with f + 2 rows; id 100 f + r,
 * name "n<f>_<r>", score r (r + 0.5 in file 1: the column is float32 only
 * because of file 1), note "x"; score of row 1 of file 2 is NA. */
#define CSV_FILES 3

static ct_dataset *csv_files(const ct_csv_opts *o) {
    static char names[CSV_FILES][128];
    const char *paths[CSV_FILES];
    for (int f = 0; f < CSV_FILES; f++) {
        snprintf(names[f], sizeof names[f], "%s/part-%d.csv", dir, f);
        FILE *fp = fopen(names[f], "w");
        cr_assert_not_null(fp);
        fprintf(fp, "id,name,score,note\n");
        for (int r = 0; r < f + 2; r++) {
            if (f == 2 && r == 1) fprintf(fp, "%d,n%d_%d,NA,x\n", 100 * f + r, f, r);
            else if (f == 1) fprintf(fp, "%d,n%d_%d,%d.5,x\n", 100 * f + r, f, r, r);
            else fprintf(fp, "%d,n%d_%d,%d,x\n", 100 * f + r, f, r, r);
        }
        fclose(fp);
        paths[f] = names[f];
    }
    return ct_make_csv_dataset(CSV_FILES, paths, o);
}

/* (name, score, id) -> (id as int64, score). */
static ct_status csv_row(const ct_element *in, void *ctx, ct_element **out) {
    (void)ctx;
    if (in->n != 3) return CT_ERR_INVALID_ARGUMENT;
    ct_tensor *id = int64_scalar((int64_t)ct_item(in->t[2]));
    if (!id) return ct_last_status();
    ct_element *e = elem1(id);
    e->n = 2;
    e->t[1] = ct_tensor_ref(in->t[1]);
    *out = e;
    return CT_OK;
}

Test(distribute, file_shards_csv_through_map_batch_prefetch) {
    SKIP_WITHOUT_HOOKS();
    const ct_csv_opts o = {.select_columns = (const char *[]){"score", "id", "name"},
                           .num_select_columns = 3,
                           .label_name = "id",
                           .na_value = "NA"};
    ct_dataset *whole = csv_files(&o);
    CT_OK(whole);
    const ct_element_spec *ws = ct_dataset_element_spec(whole);
    cr_assert_eq(ws->n, 3);
    cr_assert_eq(ws->c[1].dtype, CT_FLOAT32); /* from file 1's rows */
    for (int64_t n = 2; n <= 3; n++)
        for (int policy = CT_AUTO_SHARD_AUTO; policy <= CT_AUTO_SHARD_FILE; policy++) {
            int seen[400] = {0};
            for (int64_t w = 0; w < n; w++) {
                ct_dataset *src = csv_files(&o);
                CT_OK(src);
                /* The sharded source itself keeps the spec (worker 0 of 2
                 * reads files 0 and 2, whose scores alone would be ints). */
                ct_dataset *s0 = ct_dataset_auto_shard(ct_dataset_ref(src), n, w,
                                                       (ct_auto_shard_policy)policy);
                CT_OK(s0);
                const ct_element_spec *ss = ct_dataset_element_spec(s0);
                cr_assert_eq(ss->n, ws->n);
                for (int c = 0; c < ws->n; c++) {
                    cr_assert_eq(ss->c[c].dtype, ws->c[c].dtype);
                    cr_assert_eq(ss->c[c].rank, ws->c[c].rank);
                    cr_assert((ss->c[c].name == NULL) == (ws->c[c].name == NULL));
                    if (ws->c[c].name) cr_assert_str_eq(ss->c[c].name, ws->c[c].name);
                }
                ct_dataset_free(s0);
                ct_dataset *ds = ct_dataset_map(src, csv_row, NULL, w == 0 ? 0 : CT_AUTOTUNE);
                ds = ct_dataset_prefetch(ct_dataset_batch(ds, 2, false), 2);
                ds = ct_dataset_auto_shard(ds, n, w, (ct_auto_shard_policy)policy);
                CT_OK(ds);
                ct_iterator *it = ct_dataset_iterator(ds);
                CT_OK(it);
                int64_t want[16];
                int k = 0, i = 0;
                for (int64_t f = w; f < CSV_FILES; f += n)
                    for (int r = 0; r < f + 2; r++) want[k++] = 100 * f + r;
                ct_element *e;
                for (;;) {
                    CT_STATUS_OK(ct_iterator_next(it, &e));
                    if (!e) break;
                    cr_assert_eq(ct_tensor_dtype(e->t[1]), CT_FLOAT32);
                    int64_t id[2], m = ct_tensor_size(e->t[0]);
                    float score[2];
                    CT_STATUS_OK(ct_tensor_read(e->t[0], CT_INT64, id, m));
                    CT_STATUS_OK(ct_tensor_read(e->t[1], CT_FLOAT32, score, m));
                    for (int64_t j = 0; j < m; j++, i++) {
                        cr_assert_lt(i, k);
                        cr_assert_eq(id[j], want[i], "worker %lld of %lld", (long long)w,
                                     (long long)n);
                        int f = (int)(id[j] / 100), r = (int)(id[j] % 100);
                        float sc = f == 2 && r == 1 ? 0.0f : f == 1 ? (float)r + 0.5f : (float)r;
                        cr_assert_eq(score[j], sc);
                        seen[id[j]]++;
                    }
                    ct_element_free(e);
                }
                cr_assert_eq(i, k);
                ct_iterator_free(it);
                ct_dataset_free(ds);
            }
            for (int f = 0; f < CSV_FILES; f++)
                for (int r = 0; r < 100; r++) cr_assert_eq(seen[100 * f + r], r < f + 2);
        }
    /* Fewer files than workers: FILE fails, AUTO shards the rows. */
    CT_FAILS(ct_dataset_auto_shard(csv_files(&o), 4, 0, CT_AUTO_SHARD_FILE),
             "only has 3 file(s), which is not enough for the required 4 shards/workers");
    ct_dataset *ds = ct_dataset_auto_shard(csv_files(&o), 4, 3, CT_AUTO_SHARD_AUTO);
    CT_OK(ds);
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e;
    int rows = 0;
    for (;;) {
        CT_STATUS_OK(ct_iterator_next(it, &e));
        if (!e) break;
        cr_assert_eq((int64_t)ct_item(e->t[2]), rows == 0 ? 101 : 202); /* rows 3 and 7 */
        rows++;
        ct_element_free(e);
    }
    cr_assert_eq(rows, 2);
    ct_iterator_free(it);
    ct_dataset_free(ds);
    ct_dataset_free(whole);
}

/* ---- prefetch_to_device ------------------------------------------------------------ */

Test(distribute, prefetch_to_device_on_the_cpu) {
    ct_device *cpu = ct_device_get(CT_DEVICE_CPU, 0);
    CT_OK(cpu);
    int64_t sizes[] = {0, 1, 3, CT_AUTOTUNE};
    for (int s = 0; s < 4; s++) {
        ct_dataset *ds = ct_dataset_prefetch_to_device(
            ct_dataset_batch(ct_dataset_range(0, 10, 1), 3, false), cpu, sizes[s]);
        CT_OK(ds);
        cr_assert_eq(ct_dataset_cardinality(ds), 4);
        cr_assert_eq(ct_dataset_element_spec(ds)->c[0].dtype, CT_INT64);
        ct_iterator *it = ct_dataset_iterator(ds);
        CT_OK(it);
        int64_t next = 0;
        ct_element *e;
        for (;;) {
            CT_STATUS_OK(ct_iterator_next(it, &e));
            if (!e) break;
            cr_assert_eq(ct_tensor_device(e->t[0]), cpu);
            int64_t v[3], k = ct_tensor_size(e->t[0]);
            CT_STATUS_OK(ct_tensor_read(e->t[0], CT_INT64, v, k));
            for (int64_t i = 0; i < k; i++) cr_assert_eq(v[i], next++);
            ct_element_free(e);
        }
        cr_assert_eq(next, 10);
        ct_iterator_free(it);
        ct_dataset_free(ds);
    }
}

Test(distribute, prefetch_to_device_save_restore) {
    ct_device *cpu = ct_device_get(CT_DEVICE_CPU, 0);
    for (int64_t k = 0; k <= 10; k += 3) {
        ct_dataset *ds = ct_dataset_prefetch_to_device(ct_dataset_range(0, 10, 1), cpu, 4);
        CT_OK(ds);
        ct_iterator *it = ct_dataset_iterator(ds);
        ct_element *e;
        for (int64_t i = 0; i < k; i++) {
            CT_STATUS_OK(ct_iterator_next(it, &e));
            cr_assert_not_null(e);
            ct_element_free(e);
        }
        void *buf;
        size_t len;
        CT_STATUS_OK(ct_iterator_save(it, &buf, &len));
        ct_iterator *it2 = ct_dataset_iterator(ds);
        CT_STATUS_OK(ct_iterator_restore(it2, buf, len));
        free(buf);
        for (int64_t i = k;; i++) {
            ct_element *a, *b;
            CT_STATUS_OK(ct_iterator_next(it, &a));
            CT_STATUS_OK(ct_iterator_next(it2, &b));
            cr_assert_eq(a == NULL, b == NULL, "k=%lld i=%lld", (long long)k, (long long)i);
            if (!a) {
                cr_assert_eq(i, 10);
                break;
            }
            int64_t va, vb;
            CT_STATUS_OK(ct_tensor_read(a->t[0], CT_INT64, &va, 1));
            CT_STATUS_OK(ct_tensor_read(b->t[0], CT_INT64, &vb, 1));
            cr_assert_eq(va, i);
            cr_assert_eq(vb, i);
            ct_element_free(a);
            ct_element_free(b);
        }
        ct_iterator_free(it);
        ct_iterator_free(it2);
        ct_dataset_free(ds);
    }
}

Test(distribute, prefetch_to_device_errors_and_sharding_below_it) {
    CT_FAILS(ct_dataset_prefetch_to_device(ct_dataset_range(0, 3, 1), NULL, 1), "device is NULL");
    CT_FAILS(ct_dataset_prefetch_to_device(ct_dataset_range(0, 3, 1),
                                           ct_device_get(CT_DEVICE_CPU, 0), -5),
             "buffer_size must be >= 0 or CT_AUTOTUNE");
    /* DATA puts the shard below the device prefetch. */
    ct_dataset *ds = ct_dataset_prefetch_to_device(ct_dataset_range(0, 9, 1),
                                                   ct_device_get(CT_DEVICE_CPU, 0), 2);
    ds = ct_dataset_auto_shard(ds, 3, 2, CT_AUTO_SHARD_AUTO);
    CT_OK(ds);
    int64_t v[9];
    cr_assert_eq(drain_i64(ds, v, 9), 3);
    cr_assert(v[0] == 2 && v[1] == 5 && v[2] == 8);
    ct_dataset_free(ds);
}
