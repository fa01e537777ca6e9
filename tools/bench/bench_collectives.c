/*
 * All-reduce bandwidth (issue #6): ctrain's collective (sum, float32, in
 * place) against plain MPI_Allreduce on the same buffers, for 1, 16 and
 * 64 MiB. Algorithm bandwidth = bytes / time, the time of one operation
 * being the slowest rank's; the median of --reps runs, the two taking
 * turns at going first so that neither always finds the caches warm.
 * JSON lines like the other benchmarks, on rank 0:
 *
 *   {"bench": "all_reduce_f32_16MiB", "impl": "ctrain", "ranks": 2, ...}
 *   {"bench": "all_reduce_f32_16MiB", "impl": "mpi", ...}
 *   {"bench": "all_reduce_f32_16MiB", "impl": "ratio", "ctrain_over_mpi": 0.98}
 *
 *   OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
 *     mpirun -np 2 --oversubscribe --bind-to none build/bench_collectives [--reps N]
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static void die(const char *what) {
    bench_die("bench_collectives", what);
}

static void refill(float *buf, int64_t n) {
    for (int64_t i = 0; i < n; i++) buf[i] = 1.0f;
}

/* Seconds of one all-reduce on the slowest rank. */
static double time_one(ct_collective *c, float *buf, int64_t n, bool ours) {
    refill(buf, n);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = bench_now();
    if (ours) {
        if (ct_all_reduce_buffer(c, buf, n, CT_FLOAT32, CT_REDUCE_SUM) != CT_OK) die("ct_all_reduce_buffer");
    } else if (MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) !=
               MPI_SUCCESS) {
        die("MPI_Allreduce");
    }
    double dt = bench_now() - t0, slowest = dt;
    MPI_Allreduce(&dt, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return slowest;
}

int main(int argc, char **argv) {
    int reps = 15;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: mpirun -np 2 bench_collectives [--reps N]\n");
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    ct_process_group *pg = ct_dist_world();
    if (!pg) die("ct_dist_world");
    if (!ct_process_group_is_mpi(pg)) {
        fprintf(stderr, "bench_collectives: run it under mpirun (it compares with MPI_Allreduce)\n");
        return 2;
    }
    int rank = ct_process_group_rank(pg), size = ct_process_group_size(pg);
    ct_collective *c = ct_collective_new(pg, NULL);
    if (!c) die("ct_collective_new");

    static const int mibs[] = {1, 16, 64};
    double *t_ours = malloc((size_t)reps * sizeof(double));
    double *t_mpi = malloc((size_t)reps * sizeof(double));
    for (size_t k = 0; k < sizeof mibs / sizeof *mibs; k++) {
        int64_t n = (int64_t)mibs[k] << 18; /* float32 elements */
        size_t bytes = (size_t)n * sizeof(float);
        float *buf = malloc(bytes);
        if (!buf || !t_ours || !t_mpi) {
            fprintf(stderr, "bench_collectives: out of memory\n");
            return 1;
        }
        /* Warm-up (first touch of the pages, MPI's connections), and a
         * check that ours adds. */
        time_one(c, buf, n, true);
        if (buf[0] != (float)size || buf[n - 1] != (float)size) {
            fprintf(stderr, "bench_collectives: the all-reduce gave %g, not %d\n", buf[0], size);
            return 1;
        }
        time_one(c, buf, n, false);
        for (int r = 0; r < reps; r++) {
            bool ours_first = r % 2 == 0;
            double a = time_one(c, buf, n, ours_first);
            double b = time_one(c, buf, n, !ours_first);
            t_ours[r] = ours_first ? a : b;
            t_mpi[r] = ours_first ? b : a;
        }
        double mo = bench_median(t_ours, reps), mm = bench_median(t_mpi, reps);
        if (rank == 0) {
            const char *impls[] = {"ctrain", "mpi"};
            double med[] = {mo, mm};
            for (int i = 0; i < 2; i++)
                printf("{\"bench\": \"all_reduce_f32_%dMiB\", \"impl\": \"%s\", \"ranks\": %d, "
                       "\"bytes\": %zu, \"reps\": %d, \"median_ms\": %.3f, \"algbw_GBps\": %.3f}\n",
                       mibs[k], impls[i], size, bytes, reps, 1e3 * med[i], bytes / med[i] / 1e9);
            printf("{\"bench\": \"all_reduce_f32_%dMiB\", \"impl\": \"ratio\", \"ranks\": %d, "
                   "\"ctrain_over_mpi\": %.3f}\n",
                   mibs[k], size, mm / mo);
            fflush(stdout);
        }
        free(buf);
    }
    free(t_ours);
    free(t_mpi);
    ct_collective_free(c);
    return 0;
}
