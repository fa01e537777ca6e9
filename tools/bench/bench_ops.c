/*
 * Micro-benchmarks of the runtime and the low-level ops. Prints one JSON
 * object per line: {"bench": name, "threads": n, "ns": per call, ...}.
 * tools/bench/run.sh runs this beside bench_torch.py and prints ratios.
 *
 *   bench_ops [--threads N] [--filter SUBSTRING]
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

static const char *filter;
static int threads = 1;

static void die(const char *what) { bench_die("bench_ops", what); }

static bool wanted(const char *name) { return !filter || strstr(name, filter); }

static void report(const char *name, double sec, const char *extra_key, double extra) {
    printf("{\"bench\": \"%s\", \"impl\": \"ctrain\", \"threads\": %d, \"ns\": %.1f", name,
           threads, sec * 1e9);
    if (extra_key) printf(", \"%s\": %.2f", extra_key, extra);
    printf("}\n");
    fflush(stdout);
}

/* ---- the cases ---------------------------------------------------------------- */

typedef struct {
    ct_tensor *a, *b;
} pair;

static void run_add(void *ctx, int iters) {
    pair *p = ctx;
    ct_scope_begin();
    for (int i = 0; i < iters; i++) {
        ct_tensor *r = ct_add(p->a, p->b);
        if (!r) die("add");
        ct_tensor_free(r);
    }
    ct_scope_end();
}
static void run_mul(void *ctx, int iters) {
    pair *p = ctx;
    for (int i = 0; i < iters; i++) {
        ct_tensor *r = ct_multiply(p->a, p->b);
        if (!r) die("multiply");
        ct_tensor_free(r);
    }
}
static void run_relu(void *ctx, int iters) {
    pair *p = ctx;
    for (int i = 0; i < iters; i++) {
        ct_tensor *r = ct_relu(p->a);
        if (!r) die("relu");
        ct_tensor_free(r);
    }
}

typedef struct {
    void *dst, *src;
    size_t n;
} copy_ctx;
/* memcpy split across the same number of threads the ops may use: the
 * bandwidth an elementwise op can hope for. */
static void run_memcpy(void *ctx, int iters) {
    copy_ctx *c = ctx;
    for (int i = 0; i < iters; i++) {
#pragma omp parallel num_threads(threads)
        {
            int t = omp_get_thread_num(), n = omp_get_num_threads();
            size_t chunk = (c->n / (size_t)n + 63) & ~(size_t)63;
            size_t s = (size_t)t * chunk, e = s + chunk < c->n ? s + chunk : c->n;
            if (s < e) memcpy((char *)c->dst + s, (const char *)c->src + s, e - s);
        }
        __asm__ volatile("" ::: "memory");
    }
}

static void run_matmul(void *ctx, int iters) {
    pair *p = ctx;
    for (int i = 0; i < iters; i++) {
        ct_tensor *r = ct_matmul(p->a, p->b);
        if (!r) die("matmul");
        ct_tensor_free(r);
    }
}

typedef struct {
    ct_tensor *x;
    int axis;
} red_ctx;
static void run_reduce(void *ctx, int iters) {
    red_ctx *c = ctx;
    for (int i = 0; i < iters; i++) {
        ct_tensor *r = ct_reduce_sum(c->x, &c->axis, 1, false);
        if (!r) die("reduce_sum");
        ct_tensor_free(r);
    }
}

/* Ten ops on [256,256]: what a small layer stack does per step. */
typedef struct {
    ct_tensor *x, *w, *b;
} chain_ctx;
static ct_tensor *chain(chain_ctx *c) {
    ct_tensor *h = ct_multiply(c->x, c->w);
    h = ct_add(h, c->b);
    h = ct_tanh(h);
    h = ct_multiply(h, c->x);
    h = ct_sigmoid(h);
    h = ct_subtract(h, c->b);
    h = ct_square(h);
    h = ct_exp(ct_negative(h));
    h = ct_relu(h);
    return ct_reduce_sum(h, CT_ALL, false);
}
static void run_forward(void *ctx, int iters) {
    for (int i = 0; i < iters; i++) {
        ct_scope_begin();
        if (!chain(ctx)) die("chain");
        ct_scope_end();
    }
}
static void run_backward(void *ctx, int iters) {
    chain_ctx *c = ctx;
    for (int i = 0; i < iters; i++) {
        ct_scope_begin();
        ct_tape *tape = ct_tape_begin(NULL);
        ct_tape_watch(tape, c->w);
        ct_tape_watch(tape, c->b);
        ct_tensor *y = chain(c);
        ct_tape_end(tape);
        ct_tensor *src[2] = {c->w, c->b}, *g[2];
        if (!y || ct_tape_gradient(tape, y, 2, src, g, NULL)) die("chain gradient");
        ct_tape_free(tape);
        ct_scope_end();
    }
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
    }
    ct_set_num_threads(threads);
    ct_set_random_seed(1);

    if (wanted("tiny_add")) {
        pair p = {ct_ones(CT_FLOAT32, CT_DIMS(1)), ct_ones(CT_FLOAT32, CT_DIMS(1))};
        report("tiny_add_1", bench_time_it(run_add, &p), NULL, 0);
        ct_tensor_free(p.a);
        ct_tensor_free(p.b);
        p = (pair){ct_ones(CT_FLOAT32, CT_DIMS(32, 32)), ct_ones(CT_FLOAT32, CT_DIMS(32, 32))};
        report("tiny_add_32x32", bench_time_it(run_add, &p), NULL, 0);
        ct_tensor_free(p.a);
        ct_tensor_free(p.b);
    }

    const int64_t big = 16 * 1024 * 1024;
    if (wanted("memcpy") || wanted("add_16M") || wanted("mul_16M") || wanted("relu_16M")) {
        size_t bytes = (size_t)big * 4;
        copy_ctx c = {aligned_alloc(64, bytes), aligned_alloc(64, bytes), bytes};
        memset(c.src, 1, bytes);
        memset(c.dst, 0, bytes);
        double t = bench_time_it(run_memcpy, &c);
        /* memcpy reads and writes each byte: 2 * bytes of traffic. */
        report("memcpy_64MB", t, "GBps", 2.0 * (double)bytes / t / 1e9);
        free(c.dst);
        free(c.src);
        pair p = {ct_random_uniform(CT_DIMS(big), NULL), ct_random_uniform(CT_DIMS(big), NULL)};
        if (!p.a || !p.b) die("inputs");
        t = bench_time_it(run_add, &p);
        report("add_16M", t, "GBps", 3.0 * (double)bytes / t / 1e9);
        t = bench_time_it(run_mul, &p);
        report("mul_16M", t, "GBps", 3.0 * (double)bytes / t / 1e9);
        t = bench_time_it(run_relu, &p);
        report("relu_16M", t, "GBps", 2.0 * (double)bytes / t / 1e9);
        ct_tensor_free(p.a);
        ct_tensor_free(p.b);
    }

    struct {
        const char *name;
        int64_t m, k, n;
    } mm[] = {{"matmul_1024", 1024, 1024, 1024},
              {"matmul_128x784x256", 128, 784, 256},
              {"matmul_128x256x784", 128, 256, 784},
              {"matmul_784x128x256", 784, 128, 256}};
    for (size_t i = 0; i < sizeof mm / sizeof *mm; i++) {
        if (!wanted(mm[i].name)) continue;
        pair p = {ct_random_uniform(CT_DIMS(mm[i].m, mm[i].k), NULL),
                  ct_random_uniform(CT_DIMS(mm[i].k, mm[i].n), NULL)};
        double t = bench_time_it(run_matmul, &p);
        report(mm[i].name, t, "GFLOPs", 2.0 * (double)(mm[i].m * mm[i].k * mm[i].n) / t / 1e9);
        ct_tensor_free(p.a);
        ct_tensor_free(p.b);
    }

    if (wanted("reduce_sum")) {
        red_ctx r = {ct_random_uniform(CT_DIMS(4096, 4096), NULL), 1};
        double t = bench_time_it(run_reduce, &r);
        report("reduce_sum_rows_4096", t, "GBps", 4096.0 * 4096 * 4 / t / 1e9);
        r.axis = 0;
        t = bench_time_it(run_reduce, &r);
        report("reduce_sum_cols_4096", t, "GBps", 4096.0 * 4096 * 4 / t / 1e9);
        ct_tensor_free(r.x);
    }

    if (wanted("chain")) {
        chain_ctx c = {ct_random_uniform(CT_DIMS(256, 256), NULL),
                       ct_random_uniform(CT_DIMS(256, 256), NULL),
                       ct_random_uniform(CT_DIMS(256), NULL)};
        double f = bench_time_it(run_forward, &c), fb = bench_time_it(run_backward, &c);
        report("chain10_forward_256", f, NULL, 0);
        report("chain10_forward_backward_256", fb, "backward_over_forward", (fb - f) / f);
        ct_tensor_free(c.x);
        ct_tensor_free(c.w);
        ct_tensor_free(c.b);
    }
    return 0;
}
