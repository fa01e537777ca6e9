/*
 * Checkpoint throughput (issue #7): ct_model_save_weights and
 * ct_model_load_weights on a model of ~100 MB of float32 weights (a
 * Sequential of --layers Dense(--units) on --input features; the default
 * 4 x Dense(2560) on 2560 is 26.2M parameters, 105 MB), against the limit:
 * a plain C write() of the same bytes into one file, fsync, close, and the
 * same rename + directory fsync the save does, and a plain read() back.
 * bench_checkpoint_h5py.py does the same with h5py; run_checkpoint.sh
 * runs both in one window and prints the table and the ratios.
 *
 *   bench_checkpoint [--dir D] [--reps N] [--layers L] [--units U] [--input I]
 *
 * Each repetition runs, in this order, save, load, plain write, plain
 * read (alternating, so drift hits all alike); one JSON line per
 * operation and repetition, then one line of the medians. GB/s is the
 * weights' bytes (not the file's, which adds HDF5's metadata) over the
 * seconds. Writes include their fsyncs; reads come from the page cache
 * (the file was just written and nothing drops caches), so they measure
 * the library's copy and parse cost, not the disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "ctrain/checkpoint.h"

static void die(const char *what) { bench_die("bench_checkpoint", what); }

static void die_errno(const char *what, const char *path) {
    fprintf(stderr, "bench_checkpoint: %s '%s': %s\n", what, path, strerror(errno));
    exit(1);
}

static void fsync_dir(const char *path) {
    char *d = strdup(path);
    int fd = open(dirname(d), O_RDONLY | O_DIRECTORY);
    if (fd < 0 || fsync(fd) != 0) die_errno("fsync of the directory of", path);
    close(fd);
    free(d);
}

/* The limit of a durable write: write() of each weight's bytes into one
 * file, fsync, close, rename over the target, fsync the directory. */
static void plain_write(const char *path, const char *tmp, int n, void *const *buf,
                        const size_t *len) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die_errno("cannot create", tmp);
    for (int i = 0; i < n; i++)
        for (size_t done = 0; done < len[i];) {
            ssize_t w = write(fd, (char *)buf[i] + done, len[i] - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) die_errno("write to", tmp);
            done += (size_t)w;
        }
    if (fsync(fd) != 0) die_errno("fsync of", tmp);
    if (close(fd) != 0) die_errno("close of", tmp);
    if (rename(tmp, path) != 0) die_errno("rename to", path);
    fsync_dir(path);
}

/* And of a read: read() of each weight's bytes into its buffer. */
static void plain_read(const char *path, int n, void *const *buf, const size_t *len) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) die_errno("cannot open", path);
    for (int i = 0; i < n; i++)
        for (size_t done = 0; done < len[i];) {
            ssize_t r = read(fd, (char *)buf[i] + done, len[i] - done);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) die_errno("read of", path);
            done += (size_t)r;
        }
    close(fd);
}

static long long file_size(const char *path) {
    struct stat s;
    return stat(path, &s) == 0 ? (long long)s.st_size : -1;
}

int main(int argc, char **argv) {
    const char *dir = "/tmp";
    int reps = 5, layers = 4;
    int64_t units = 2560, input = 2560;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--layers") && i + 1 < argc) layers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--units") && i + 1 < argc) units = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--input") && i + 1 < argc) input = atoll(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_checkpoint [--dir D] [--reps N] [--layers L] "
                            "[--units U] [--input I]\n");
            return 2;
        }
    }
    if (reps < 1 || layers < 1 || units < 1 || input < 1) {
        fprintf(stderr, "bench_checkpoint: --reps, --layers, --units, --input must be >= 1\n");
        return 2;
    }
    ct_set_random_seed(1);
    ct_model *m = ct_sequential_new(NULL);
    if (!m) die("the model");
    char cfg[64];
    snprintf(cfg, sizeof cfg, "{\"units\": %lld}", (long long)units);
    for (int i = 0; i < layers; i++)
        if (ct_sequential_add(m, ct_layer_new("Dense", cfg))) die("Dense");
    if (ct_model_build(m, 2, (int64_t[]){-1, input})) die("build");

    /* The weights' bytes, host copies for the plain write and read. */
    int nw = 0;
    for (int i = 0; i < ct_model_num_layers(m); i++)
        nw += ct_layer_num_weights(ct_model_layer_at(m, i));
    void **buf = malloc((size_t)nw * sizeof *buf), **orig = malloc((size_t)nw * sizeof *orig);
    size_t *len = malloc((size_t)nw * sizeof *len);
    if (!buf || !orig || !len) die("out of memory");
    size_t bytes = 0;
    for (int i = 0, k = 0; i < ct_model_num_layers(m); i++) {
        ct_layer *l = ct_model_layer_at(m, i);
        for (int j = 0; j < ct_layer_num_weights(l); j++, k++) {
            ct_tensor *t = ct_variable_value(ct_layer_weight(l, j));
            if (ct_tensor_dtype(t) != CT_FLOAT32) die("a weight that is not float32");
            int64_t n = ct_tensor_size(t);
            len[k] = (size_t)n * sizeof(float);
            buf[k] = malloc(len[k] ? len[k] : 1);
            orig[k] = malloc(len[k] ? len[k] : 1);
            if (!buf[k] || !orig[k]) die("out of memory");
            if (ct_tensor_read(t, CT_FLOAT32, orig[k], n)) die("reading a weight");
            memcpy(buf[k], orig[k], len[k]);
            bytes += len[k];
        }
    }

    size_t plen = strlen(dir) + 64;
    char *h5 = malloc(plen), *raw = malloc(plen), *rawtmp = malloc(plen);
    snprintf(h5, plen, "%s/ctrain.h5", dir);
    snprintf(raw, plen, "%s/plain.bin", dir);
    snprintf(rawtmp, plen, "%s/plain.bin.tmp-%ld", dir, (long)getpid());

    enum { SAVE, LOAD, PWRITE, PREAD, NOPS };
    static const char *impl[NOPS] = {"ctrain", "ctrain", "plain", "plain"};
    static const char *op[NOPS] = {"write", "read", "write", "read"};
    double *secs[NOPS];
    for (int o = 0; o < NOPS; o++)
        if (!(secs[o] = malloc((size_t)reps * sizeof(double)))) die("out of memory");
    for (int r = 0; r < reps; r++) {
        for (int o = 0; o < NOPS; o++) {
            double t0 = bench_now();
            switch (o) {
            case SAVE:
                if (ct_model_save_weights(m, h5, NULL)) die("save_weights");
                break;
            case LOAD:
                if (ct_model_load_weights(m, h5, NULL)) die("load_weights");
                break;
            case PWRITE: plain_write(raw, rawtmp, nw, buf, len); break;
            case PREAD: plain_read(raw, nw, buf, len); break;
            }
            double dt = bench_now() - t0;
            secs[o][r] = dt;
            printf("{\"bench\": \"checkpoint\", \"impl\": \"%s\", \"op\": \"%s\", \"rep\": %d, "
                   "\"bytes\": %zu, \"file_bytes\": %lld, \"s\": %.6f, \"gb_per_s\": %.3f, "
                   "\"fsync\": %s, \"page_cache\": %s}\n",
                   impl[o], op[o], r + 1, bytes, file_size(o < PWRITE ? h5 : raw), dt,
                   (double)bytes / dt / 1e9, o % 2 ? "false" : "true", o % 2 ? "true" : "false");
            fflush(stdout);
        }
    }
    /* What was loaded is what was saved, and the plain read got the bytes. */
    for (int i = 0, k = 0; i < ct_model_num_layers(m); i++) {
        ct_layer *l = ct_model_layer_at(m, i);
        for (int j = 0; j < ct_layer_num_weights(l); j++, k++) {
            ct_tensor *t = ct_variable_value(ct_layer_weight(l, j));
            if (ct_tensor_read(t, CT_FLOAT32, buf[k], ct_tensor_size(t))) die("reading a weight");
            if (memcmp(buf[k], orig[k], len[k])) die("the loaded weights differ from the saved");
        }
    }
    for (int o = 0; o < NOPS; o++) {
        double med = bench_median(secs[o], reps);
        printf("{\"bench\": \"checkpoint_median\", \"impl\": \"%s\", \"op\": \"%s\", "
               "\"reps\": %d, \"bytes\": %zu, \"s\": %.6f, \"gb_per_s\": %.3f}\n",
               impl[o], op[o], reps, bytes, med, (double)bytes / med / 1e9);
    }
    unlink(raw);
    for (int k = 0; k < nw; k++) {
        free(buf[k]);
        free(orig[k]);
    }
    for (int o = 0; o < NOPS; o++) free(secs[o]);
    free(buf);
    free(orig);
    free(len);
    free(h5);
    free(raw);
    free(rawtmp);
    ct_model_free(m);
    return 0;
}
