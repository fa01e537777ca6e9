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
