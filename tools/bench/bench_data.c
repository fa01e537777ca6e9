/*
 * Input-pipeline benchmarks (issue #3). JSON lines like bench_ops:
 *   fmnist_epoch        Fashion-MNIST from the Debian IDX files through
 *                       shuffle(60000) -> batch(128) -> prefetch: batches/s
 *   map50us_seq/_par    map of a ~50 us function, sequential vs parallel
 *   map_elem/map_batch  per-element map vs the same map after batch
 *   tfrecord_read       TFRecord read MB/s vs a plain sequential read
 * and the process's peak RSS after the shuffle(60000) pipeline.
 *
 *   bench_data [--threads N] [--filter SUBSTRING]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static int threads = 1;
static const char *filter;

static void die(const char *what) { bench_die("bench_data", what); }

static bool wanted(const char *name) { return !filter || strstr(name, filter); }

static void report(const char *name, const char *key, double value, const char *key2, double v2) {
    printf("{\"bench\": \"%s\", \"impl\": \"ctrain\", \"threads\": %d, \"%s\": %.2f", name,
           threads, key, value);
    if (key2) printf(", \"%s\": %.2f", key2, v2);
    printf("}\n");
    fflush(stdout);
}

/* Runs a pipeline to its end; returns elements seen. */
static int64_t run(ct_dataset *ds) {
    ct_iterator *it = ct_dataset_iterator(ds);
    if (!it) die("iterator");
    int64_t n = 0;
    for (;;) {
        ct_element *e;
        if (ct_iterator_next(it, &e)) die("next");
        if (!e) break;
        n++;
        ct_element_free(e);
    }
    ct_iterator_free(it);
    return n;
}

/* ~50 us of arithmetic on the element (kept from being optimised away). */
static volatile double sink;
static ct_status busy_map(const ct_element *in, void *ctx, ct_element **out) {
    (void)ctx;
    double t0 = bench_now(), x = 0;
    while (bench_now() - t0 < 50e-6) x += 1.0;
    sink = x;
    *out = ct_element_copy(in);
    return *out ? CT_OK : ct_last_status();
}

/* x * 2 + 1 on whatever shape comes in (one element or a batch). */
static ct_status affine_map(const ct_element *in, void *ctx, ct_element **out) {
    (void)ctx;
    ct_scope_begin();
    ct_tensor *y = ct_add(ct_multiply(ct_cast(in->t[0], CT_FLOAT32), ct_scalar(2)), ct_scalar(1));
    ct_element *e = y ? ct_element_copy(&(ct_element){.n = 1, .t = {y}}) : NULL;
    ct_scope_end();
    *out = e;
    return e ? CT_OK : ct_last_status();
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
    }
    ct_set_num_threads(threads);
    ct_set_random_seed(1);

    if (wanted("fmnist")) {
        ct_tensor *x, *y, *xt, *yt;
        if (ct_load_fashion_mnist(NULL, &x, &y, &xt, &yt)) die("fashion-mnist");
        double best = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            ct_dataset *ds = ct_dataset_from_tensor_slices(&(ct_element){.n = 2, .t = {x, y}});
            ds = ct_dataset_shuffle(ds, 60000, &(ct_shuffle_opts){.seed = 7});
            ds = ct_dataset_batch(ds, 128, false);
            ds = ct_dataset_prefetch(ds, CT_AUTOTUNE);
            double t0 = bench_now();
            int64_t n = run(ds);
            double dt = bench_now() - t0;
            if (n != 469) die("expected 469 batches");
            if (dt < best) best = dt;
            ct_dataset_free(ds);
        }
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        report("fmnist_epoch", "batches_per_s", 469 / best, "peak_rss_mb", ru.ru_maxrss / 1024.0);
        ct_tensor_free(x);
        ct_tensor_free(y);
        ct_tensor_free(xt);
        ct_tensor_free(yt);
    }

    if (wanted("map50us")) {
        /* Best of three runs of each, alternating, as the other figures. */
        double t[2] = {1e30, 1e30};
        for (int rep = 0; rep < 3; rep++)
            for (int par = 0; par < 2; par++) {
                ct_dataset *ds = ct_dataset_range(0, 2000, 1);
                ds = ct_dataset_map(ds, busy_map, NULL, par ? CT_AUTOTUNE : 1);
                double t0 = bench_now();
                run(ds);
                double dt = bench_now() - t0;
                if (dt < t[par]) t[par] = dt;
                ct_dataset_free(ds);
            }
        report("map50us", "speedup", t[0] / t[1], "us_per_elem_seq", t[0] / 2000 * 1e6);
    }

    if (wanted("map_batch")) {
        /* The seed's advice: map after batch (vectorised) beats per element. */
        ct_tensor *data = ct_range(0, 60000, 1, CT_FLOAT32);
        double t[2];
        for (int after = 0; after < 2; after++) {
            ct_dataset *ds = ct_dataset_from_tensor_slices(&(ct_element){.n = 1, .t = {data}});
            if (after) ds = ct_dataset_map(ct_dataset_batch(ds, 128, false), affine_map, NULL, 1);
            else ds = ct_dataset_batch(ct_dataset_map(ds, affine_map, NULL, 1), 128, false);
            double t0 = bench_now();
            run(ds);
            t[after] = bench_now() - t0;
            ct_dataset_free(ds);
        }
        report("map_elem_vs_batch", "ratio", t[0] / t[1], "elem_ms", t[0] * 1e3);
        ct_tensor_free(data);
    }

    if (wanted("tfrecord")) {
        char path[] = "/tmp/ct_bench_XXXXXX";
        int fd = mkstemp(path);
        if (fd < 0) die("mkstemp");
        close(fd);
        ct_tfrecord_writer *w = ct_tfrecord_writer_open(path, CT_COMPRESSION_NONE);
        if (!w) die("writer");
        static char rec[4096];
        for (size_t i = 0; i < sizeof rec; i++) rec[i] = (char)(i * 31);
        const int nrec = 32768; /* 128 MB */
        for (int i = 0; i < nrec; i++)
            if (ct_tfrecord_writer_write(w, rec, sizeof rec)) die("write");
        if (ct_tfrecord_writer_close(w)) die("close");
        double best_plain = 1e30, best_rec = 1e30;
        char *buf = malloc(1 << 20);
        for (int rep = 0; rep < 5; rep++) {
            double t0 = bench_now();
            int f = open(path, O_RDONLY);
            ssize_t got;
            size_t total = 0;
            while ((got = read(f, buf, 1 << 20)) > 0) total += (size_t)got;
            close(f);
            double dt = bench_now() - t0;
            if (dt < best_plain) best_plain = dt;
            const char *files[1] = {path};
            ct_dataset *ds = ct_dataset_tfrecord(1, files, CT_COMPRESSION_NONE);
            t0 = bench_now();
            if (run(ds) != nrec) die("record count");
            dt = bench_now() - t0;
            if (dt < best_rec) best_rec = dt;
            ct_dataset_free(ds);
            (void)total;
        }
        free(buf);
        double mb = (double)nrec * (sizeof rec + 16) / 1e6;
        report("tfrecord_read", "MBps", mb / best_rec, "plain_read_MBps", mb / best_plain);
        unlink(path);
    }
    return 0;
}
