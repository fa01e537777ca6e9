/*
 * What the ctrain benchmark programs share: a monotonic clock, exiting
 * with the library's message, and the fastest-batch timer. Header-only;
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
