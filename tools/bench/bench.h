/*
 * What the ctrain benchmark programs share: a monotonic clock, exiting
 * with the library's message, the fastest-batch timer, and medians. Header-only;
 * each benchmark includes it.
 */
#ifndef CT_TOOLS_BENCH_H
#define CT_TOOLS_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ctrain/ctrain.h"

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "<prog>: <what>: <the library's last error>" on stderr, exit 1. */
__attribute__((noreturn)) static inline void bench_die(const char *prog, const char *what) {
    fprintf(stderr, "%s: %s: %s\n", prog, what, ct_last_error());
    exit(1);
}

static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v[0..n) in increasing order (for medians and quartiles). */
static inline void bench_sort(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
}

/* The median of v[0..n) (sorts v). */
static inline double bench_median(double *v, int n) {
    bench_sort(v, n);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Runs fn(ctx, iters) with iters grown until a batch takes 50 ms, then
 * five such batches; the fastest batch's seconds per call (the least
 * disturbed measurement). */
typedef void (*bench_fn)(void *ctx, int iters);
static inline double bench_time_it(bench_fn fn, void *ctx) {
    int iters = 1;
    for (;;) {
        double t0 = bench_now();
        fn(ctx, iters);
        double dt = bench_now() - t0;
        if (dt > 0.05) break;
        iters *= dt < 0.005 ? 10 : 2;
    }
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = bench_now();
        fn(ctx, iters);
        double dt = (bench_now() - t0) / iters;
        if (dt < best) best = dt;
    }
    return best;
}

#endif
