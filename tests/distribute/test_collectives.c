/*
 * Every collective against a reference computed locally, on every dtype it
 * takes and on odd sizes, as one process (every collective is then the
 * identity or a copy) and under `mpirun -np 2` (ctest runs both).
 *
 * Rank r's data are a hash of (case, r, index), so every rank can compute
 * every other rank's input and hence the expected result. Floats are
 * multiples of 1/256 below 4 in magnitude: their sums are exact in every
 * float format, so results are compared exactly whatever order MPI adds
 * them in.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "dist_check.h"

static int rank, size;

static uint64_t mix(uint64_t x) { /* splitmix64's finaliser */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void store(ct_dtype dt, void *p, int64_t i, double v) {
    switch (dt) {
    case CT_FLOAT32: ((float *)p)[i] = (float)v; break;
    case CT_FLOAT64: ((double *)p)[i] = v; break;
    case CT_FLOAT16: ((uint16_t *)p)[i] = ct_f32_to_f16((float)v); break;
    case CT_BFLOAT16: ((uint16_t *)p)[i] = ct_f32_to_bf16((float)v); break;
    case CT_INT32: ((int32_t *)p)[i] = (int32_t)v; break;
    case CT_INT64: ((int64_t *)p)[i] = (int64_t)v; break;
    case CT_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case CT_BOOL: ((bool *)p)[i] = v != 0; break;
    default: break;
    }
}

static double load(ct_dtype dt, const void *p, int64_t i) {
    switch (dt) {
    case CT_FLOAT32: return ((const float *)p)[i];
    case CT_FLOAT64: return ((const double *)p)[i];
    case CT_FLOAT16: return ct_f16_to_f32(((const uint16_t *)p)[i]);
    case CT_BFLOAT16: return ct_bf16_to_f32(((const uint16_t *)p)[i]);
    case CT_INT32: return ((const int32_t *)p)[i];
    case CT_INT64: return (double)((const int64_t *)p)[i];
    case CT_UINT8: return ((const uint8_t *)p)[i];
    case CT_BOOL: return ((const bool *)p)[i];
    default: return NAN;
    }
}

/* v as the dtype stores it. */
static double stored(ct_dtype dt, double v) {
    uint64_t cell = 0;
    store(dt, &cell, 0, v);
    return load(dt, &cell, 0);
}

/* Rank r's element i in test case `seed`, as the dtype stores it. int64
 * values need more than 32 bits, so a truncation to 32 would show. */
static double value(ct_dtype dt, uint64_t seed, int r, int64_t i) {
    uint64_t h = mix(mix(seed) ^ mix((uint64_t)r * 0x100000001b3ull + (uint64_t)i));
    double k = (double)((int64_t)(h % 2001) - 1000);
    switch (dt) {
    case CT_INT32: return k;
    case CT_INT64: return k * 68719476736.0; /* 2^36 */
    case CT_UINT8: return (double)(h % 256);
    case CT_BOOL: return (double)(h & 1);
    default: return stored(dt, k / 256);
    }
}

static void fill(ct_dtype dt, void *p, int64_t n, uint64_t seed, int r, int64_t first) {
    for (int64_t i = 0; i < n; i++) store(dt, p, i, value(dt, seed, r, first + i));
}

/* The reduction over ranks of element i (as each rank's input holds it),
 * computed as the library does: sums exact, MEAN divides in the dtype's
 * arithmetic (float32 for the staged 16-bit floats), then stored. */
static double reference(ct_dtype dt, ct_reduce_op op, uint64_t seed, int64_t i) {
    double acc = value(dt, seed, 0, i);
    for (int r = 1; r < size; r++) {
        double v = value(dt, seed, r, i);
        if (op == CT_REDUCE_MAX) acc = fmax(acc, v);
        else if (op == CT_REDUCE_MIN) acc = fmin(acc, v);
        else acc += v;
    }
    if (op == CT_REDUCE_MEAN) {
        switch (dt) {
        case CT_FLOAT64: acc = acc / size; break;
        case CT_INT32:
        case CT_INT64: acc = (double)((int64_t)acc / size); break;
        default: acc = (double)((float)acc / (float)size); break;
        }
    }
    return stored(dt, acc);
}

static const char *op_names[] = {"sum", "mean", "max", "min"};

static void *alloc(int64_t n, ct_dtype dt) {
    void *p = malloc((size_t)(n > 0 ? n : 1) * ct_dtype_size(dt));
    CHECK(p != NULL, "out of memory for %lld elements", (long long)n);
    return p;
}

/* ---- all-reduce --------------------------------------------------------------- */

static const ct_dtype reducible[] = {CT_FLOAT32, CT_FLOAT64, CT_INT32,
                                     CT_INT64,   CT_FLOAT16, CT_BFLOAT16};
/* Odd sizes; 16411 float32 is just over the ring's 64 KiB threshold and
 * 2^20 + 3 splits unevenly into the ring's blocks. */
static const int64_t sizes[] = {1, 7, 1023, 16411, (1 << 20) + 3};

static void test_all_reduce(ct_collective *c) {
    uint64_t seed = 100;
    for (size_t d = 0; d < sizeof reducible / sizeof *reducible; d++)
        for (int op = CT_REDUCE_SUM; op <= CT_REDUCE_MIN; op++)
            for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
                ct_dtype dt = reducible[d];
                int64_t n = sizes[k];
                seed++;
                void *buf = alloc(n, dt);
                fill(dt, buf, n, seed, rank, 0);
                CHECK_OK(ct_all_reduce_buffer(c, buf, n, dt, (ct_reduce_op)op));
                for (int64_t i = 0; i < n; i++) {
                    double got = load(dt, buf, i), want = reference(dt, op, seed, i);
                    CHECK(got == want, "all-reduce %s %s n=%lld: element %lld is %.17g, not %.17g",
                          ct_dtype_name(dt), op_names[op], (long long)n, (long long)i, got, want);
                }
                free(buf);
            }
    /* No elements: still a collective every rank takes part in. */
    CHECK_OK(ct_all_reduce_buffer(c, NULL, 0, CT_FLOAT32, CT_REDUCE_SUM));
}

/* ---- broadcast ------------------------------------------------------------------ */

static void test_broadcast(ct_collective *c) {
    /* Root 1 under mpirun: not the rank that is special everywhere else. */
    int root = size - 1;
    uint64_t seed = 2000;
    for (int dt = 0; dt < CT_NUM_DTYPES; dt++)
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            int64_t n = sizes[k];
            seed++;
            void *buf = alloc(n, (ct_dtype)dt);
            fill((ct_dtype)dt, buf, n, seed, rank, 0);
            CHECK_OK(ct_broadcast_buffer(c, buf, n, (ct_dtype)dt, root));
            for (int64_t i = 0; i < n; i++) {
                double got = load((ct_dtype)dt, buf, i), want = value((ct_dtype)dt, seed, root, i);
                CHECK(got == want, "broadcast %s n=%lld from %d: element %lld is %.17g, not %.17g",
                      ct_dtype_name((ct_dtype)dt), (long long)n, root, (long long)i, got, want);
            }
            free(buf);
        }
}

/* ---- all-gather -------------------------------------------------------------------- */

static void test_all_gather(ct_collective *c) {
    uint64_t seed = 3000;
    for (int dt = 0; dt < CT_NUM_DTYPES; dt++)
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
            for (int in_place = 0; in_place < 2; in_place++) {
                int64_t n = sizes[k];
                size_t es = ct_dtype_size((ct_dtype)dt);
                seed++;
                char *recv = alloc(n * size, (ct_dtype)dt);
                char *send = in_place ? recv + (size_t)rank * (size_t)n * es
                                      : alloc(n, (ct_dtype)dt);
                fill((ct_dtype)dt, send, n, seed, rank, 0);
                CHECK_OK(ct_all_gather_buffer(c, send, recv, n, (ct_dtype)dt));
                for (int r = 0; r < size; r++)
                    for (int64_t i = 0; i < n; i++) {
                        double got = load((ct_dtype)dt, recv, r * n + i);
                        double want = value((ct_dtype)dt, seed, r, i);
                        CHECK(got == want,
                              "all-gather %s n=%lld%s: rank %d's element %lld is %.17g, not %.17g",
                              ct_dtype_name((ct_dtype)dt), (long long)n,
                              in_place ? " in place" : "", r, (long long)i, got, want);
                    }
                if (!in_place) free(send);
                free(recv);
            }
}

/* ---- reduce-scatter ----------------------------------------------------------------- */

static void test_reduce_scatter(ct_collective *c) {
    static const int64_t per_rank[] = {1, 7, 1023, (1 << 18) + 3};
    uint64_t seed = 4000;
    for (size_t d = 0; d < sizeof reducible / sizeof *reducible; d++)
        for (int op = CT_REDUCE_SUM; op <= CT_REDUCE_MIN; op++)
            for (size_t k = 0; k < sizeof per_rank / sizeof *per_rank; k++) {
                ct_dtype dt = reducible[d];
                int64_t n = per_rank[k];
                seed++;
                void *send = alloc(n * size, dt), *recv = alloc(n, dt);
                fill(dt, send, n * size, seed, rank, 0);
                CHECK_OK(ct_reduce_scatter_buffer(c, send, recv, n, dt, (ct_reduce_op)op));
                for (int64_t i = 0; i < n; i++) {
                    double got = load(dt, recv, i);
                    double want = reference(dt, op, seed, rank * n + i);
                    CHECK(got == want,
                          "reduce-scatter %s %s n=%lld: element %lld is %.17g, not %.17g",
                          ct_dtype_name(dt), op_names[op], (long long)n, (long long)i, got, want);
                }
                free(send);
                free(recv);
            }
}

/* ---- tensors ------------------------------------------------------------------------ */

/* A tensor of rank r's values for `seed`. */
static ct_tensor *tensor_of(ct_dtype dt, int nd, const int64_t *shape, uint64_t seed, int r) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= shape[i];
    void *buf = alloc(n, dt);
    fill(dt, buf, n, seed, r, 0);
    ct_tensor *t = ct_constant(buf, dt, nd, shape);
    free(buf);
    CHECK(t != NULL, "ct_constant: %s", ct_last_error());
    return t;
}

static void expect_shape(const ct_tensor *t, int nd, const int64_t *shape, const char *what) {
    char got[64], want[64];
    ct_shape_str(ct_tensor_rank(t), ct_tensor_shape(t), got, sizeof got);
    ct_shape_str(nd, shape, want, sizeof want);
    CHECK(strcmp(got, want) == 0, "%s: shape %s, not %s", what, got, want);
}

static void test_tensors(ct_collective *c) {
    int64_t live = ct_live_tensors();
    ct_scope_begin();

    /* all-reduce keeps dtype and shape; the input is left as it was. */
    ct_tensor *x = tensor_of(CT_FLOAT32, 2, (int64_t[]){3, 5}, 5001, rank);
    ct_tensor *y = ct_all_reduce(c, x, CT_REDUCE_MEAN);
    CHECK(y != NULL, "ct_all_reduce: %s", ct_last_error());
    CHECK(ct_tensor_dtype(y) == CT_FLOAT32, "all-reduce changed the dtype");
    expect_shape(y, 2, (int64_t[]){3, 5}, "all-reduce");
    for (int64_t i = 0; i < 15; i++) {
        CHECK(ct_tensor_get(y, i) == reference(CT_FLOAT32, CT_REDUCE_MEAN, 5001, i),
              "all-reduce mean tensor element %lld", (long long)i);
        CHECK(ct_tensor_get(x, i) == value(CT_FLOAT32, 5001, rank, i), "the input changed");
    }

    /* A scalar. */
    ct_tensor *s = ct_all_reduce(c, ct_scalar_of(CT_INT64, rank + 1), CT_REDUCE_SUM);
    CHECK(s != NULL && ct_tensor_rank(s) == 0, "scalar all-reduce: %s", ct_last_error());
    CHECK(ct_item(s) == size * (size + 1) / 2, "scalar all-reduce gave %g", ct_item(s));

    /* broadcast from the last rank. */
    ct_tensor *b = ct_broadcast(c, tensor_of(CT_INT64, 2, (int64_t[]){4, 2}, 5002, rank), size - 1);
    CHECK(b != NULL, "ct_broadcast: %s", ct_last_error());
    expect_shape(b, 2, (int64_t[]){4, 2}, "broadcast");
    for (int64_t i = 0; i < 8; i++)
        CHECK(ct_tensor_get(b, i) == value(CT_INT64, 5002, size - 1, i),
              "broadcast tensor element %lld", (long long)i);

    /* all-gather: [2, 3] from each rank gives [2 * size, 3], in rank order. */
    ct_tensor *g = ct_all_gather(c, tensor_of(CT_BFLOAT16, 2, (int64_t[]){2, 3}, 5003, rank));
    CHECK(g != NULL, "ct_all_gather: %s", ct_last_error());
    expect_shape(g, 2, (int64_t[]){2 * size, 3}, "all-gather");
    for (int r = 0; r < size; r++)
        for (int64_t i = 0; i < 6; i++)
            CHECK(ct_tensor_get(g, r * 6 + i) == value(CT_BFLOAT16, 5003, r, i),
                  "all-gather tensor: rank %d element %lld", r, (long long)i);

    /* reduce-scatter: [2 * size, 3] gives [2, 3], block `rank` of the sum. */
    ct_tensor *rs = ct_reduce_scatter(
        c, tensor_of(CT_FLOAT64, 2, (int64_t[]){2 * size, 3}, 5004, rank), CT_REDUCE_SUM);
    CHECK(rs != NULL, "ct_reduce_scatter: %s", ct_last_error());
    expect_shape(rs, 2, (int64_t[]){2, 3}, "reduce-scatter");
    for (int64_t i = 0; i < 6; i++)
        CHECK(ct_tensor_get(rs, i) == reference(CT_FLOAT64, CT_REDUCE_SUM, 5004, rank * 6 + i),
              "reduce-scatter tensor element %lld", (long long)i);

    /* Wrong uses fail before any rank is involved: the count of started
     * operations does not move. */
    int64_t count = ct_collective_count(c);
    ct_clear_error();
    CHECK(ct_all_gather(c, ct_scalar(1)) == NULL && strstr(ct_last_error(), "rank >= 1"),
          "all-gather of a scalar: %s", ct_last_error());
    if (size > 1) {
        ct_clear_error();
        ct_tensor *odd = ct_zeros(CT_FLOAT32, CT_DIMS(2 * size + 1, 3));
        CHECK(ct_reduce_scatter(c, odd, CT_REDUCE_SUM) == NULL &&
                  strstr(ct_last_error(), "does not split evenly over 2 ranks"),
              "uneven reduce-scatter: %s", ct_last_error());
    }
    ct_clear_error();
    CHECK(ct_all_reduce(c, ct_zeros(CT_UINT8, CT_DIMS(3)), CT_REDUCE_SUM) == NULL &&
              ct_last_status() == CT_ERR_UNIMPLEMENTED,
          "uint8 all-reduce: %s", ct_last_error());
    CHECK(ct_collective_count(c) == count, "failed checks started operations");

    ct_scope_end();
    CHECK(ct_live_tensors() == live, "%lld tensors leaked",
          (long long)(ct_live_tensors() - live));
}

/* ---- asynchronous operations ------------------------------------------------------- */

static void test_async(ct_collective *c) {
    int64_t n = (1 << 20) + 3;
    float *a = alloc(n, CT_FLOAT32), *b = alloc(n, CT_FLOAT32);
    double *d = alloc(1023, CT_FLOAT64);
    int32_t *e = alloc(7, CT_INT32);
    fill(CT_FLOAT32, a, n, 6001, rank, 0);
    fill(CT_FLOAT32, b, n, 6002, rank, 0);
    fill(CT_FLOAT64, d, 1023, 6003, rank, 0);
    fill(CT_INT32, e, 7, 6004, rank, 0);
    ct_collective_handle *ha, *hb, *hd, *he, *hbar;
    CHECK_OK(ct_all_reduce_buffer_start(c, a, n, CT_FLOAT32, CT_REDUCE_SUM, &ha));
    CHECK_OK(ct_all_reduce_buffer_start(c, b, n, CT_FLOAT32, CT_REDUCE_MAX, &hb));
    CHECK_OK(ct_all_reduce_buffer_start(c, d, 1023, CT_FLOAT64, CT_REDUCE_MEAN, &hd));
    CHECK_OK(ct_broadcast_buffer_start(c, e, 7, CT_INT32, 0, &he));
    CHECK_OK(ct_barrier_start(c, &hbar));
    /* The ranks wait in opposite orders: each waits first for what its
     * peer waits for last, which only completes if every wait advances
     * every operation in flight. */
    ct_collective_handle *order0[] = {ha, hb, hd, he, hbar}, *order1[] = {hbar, he, hd, hb, ha};
    for (int i = 0; i < 5; i++) CHECK_OK(ct_collective_wait(rank % 2 ? order1[i] : order0[i], NULL));
    for (int64_t i = 0; i < n; i++) {
        CHECK(a[i] == reference(CT_FLOAT32, CT_REDUCE_SUM, 6001, i), "async sum element %lld",
              (long long)i);
        CHECK(b[i] == reference(CT_FLOAT32, CT_REDUCE_MAX, 6002, i), "async max element %lld",
              (long long)i);
    }
    for (int64_t i = 0; i < 1023; i++)
        CHECK(d[i] == reference(CT_FLOAT64, CT_REDUCE_MEAN, 6003, i), "async mean element %lld",
              (long long)i);
    for (int64_t i = 0; i < 7; i++)
        CHECK(e[i] == value(CT_INT32, 6004, 0, i), "async broadcast element %lld", (long long)i);

    /* Polling with ct_collective_test, then the wait; a tensor result. */
    ct_scope_begin();
    ct_collective_handle *ht;
    CHECK_OK(ct_all_reduce_start(c, ct_scalar_of(CT_FLOAT32, 1.5), CT_REDUCE_SUM, &ht));
    bool done = false;
    while (!done) CHECK_OK(ct_collective_test(ht, &done));
    ct_tensor *t = NULL;
    CHECK_OK(ct_collective_wait(ht, &t));
    CHECK(t && ct_item(t) == 1.5 * size, "all-reduce of 1.5 gave %g", t ? ct_item(t) : NAN);
    ct_scope_end();
    free(a);
    free(b);
    free(d);
    free(e);
}

/* ---- threads ------------------------------------------------------------------------ */

/* Two threads, each with its own collective, all-reduce at the same time:
 * the operations of one collective keep their order across ranks while
 * the two interleave freely (what a backward pass launching gradient
 * buckets beside the main thread does). */
typedef struct thread_job {
    ct_collective *c;
    uint64_t seed;
    int64_t n;
    int failures;
} thread_job;

static void *thread_main(void *arg) {
    thread_job *job = arg;
    float *buf = malloc((size_t)job->n * sizeof(float));
    for (int k = 0; k < 20 && buf; k++) {
        uint64_t seed = job->seed + (uint64_t)k;
        fill(CT_FLOAT32, buf, job->n, seed, rank, 0);
        if (ct_all_reduce_buffer(job->c, buf, job->n, CT_FLOAT32, CT_REDUCE_SUM) != CT_OK) {
            fprintf(stderr, "rank %d: thread all-reduce %d: %s\n", rank, k, ct_last_error());
            job->failures++;
            break;
        }
        for (int64_t i = 0; i < job->n; i++)
            if (buf[i] != reference(CT_FLOAT32, CT_REDUCE_SUM, seed, i)) {
                job->failures++;
                break;
            }
    }
    free(buf);
    return NULL;
}

static void test_threads(ct_collective *c1, ct_collective *c2) {
    /* One size takes the ring, the other MPI_Iallreduce. */
    thread_job jobs[2] = {{.c = c1, .seed = 7000, .n = 100003}, {.c = c2, .seed = 8000, .n = 1001}};
    pthread_t tids[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&tids[i], NULL, thread_main, &jobs[i]) == 0, "pthread_create");
    for (int i = 0; i < 2; i++) pthread_join(tids[i], NULL);
    for (int i = 0; i < 2; i++)
        CHECK(jobs[i].failures == 0, "thread %d had %d failed all-reduces", i, jobs[i].failures);
}

/* ---- arguments ---------------------------------------------------------------------- */

static void test_arguments(ct_collective *c) {
    float x[4] = {0};
    ct_collective_handle *h = (ct_collective_handle *)x; /* must come back NULL */
    int64_t count = ct_collective_count(c);
    CHECK_FAILS(ct_broadcast_buffer_start(c, x, 4, CT_FLOAT32, size, &h),
                CT_ERR_INVALID_ARGUMENT, "root");
    CHECK(h == NULL, "a failed start left a handle");
    CHECK_FAILS(ct_all_reduce_buffer(c, x, -1, CT_FLOAT32, CT_REDUCE_SUM),
                CT_ERR_INVALID_ARGUMENT, "negative");
    CHECK_FAILS(ct_all_reduce_buffer(c, NULL, 4, CT_FLOAT32, CT_REDUCE_SUM),
                CT_ERR_INVALID_ARGUMENT, "buffer is NULL");
    CHECK_FAILS(ct_all_reduce_buffer(c, x, 4, CT_BOOL, CT_REDUCE_MAX), CT_ERR_UNIMPLEMENTED,
                "all-reduce of bool is not supported");
    /* send spans 2 * size elements from x[0]; recv is x[1..3). */
    CHECK_FAILS(ct_reduce_scatter_buffer(c, x, x + 1, 2, CT_FLOAT32, CT_REDUCE_SUM),
                CT_ERR_INVALID_ARGUMENT, "overlap");
    CHECK_FAILS(ct_all_reduce_buffer(c, x, 4, CT_FLOAT32, (ct_reduce_op)9),
                CT_ERR_INVALID_ARGUMENT, "unknown reduce op 9");
    CHECK_FAILS(ct_barrier(NULL), CT_ERR_INVALID_ARGUMENT, "collective is NULL");
    CHECK(ct_collective_count(c) == count, "failed checks started operations");
}

int main(void) {
    ct_process_group *pg = ct_dist_world();
    if (!pg) {
        fprintf(stderr, "ct_dist_world: %s\n", ct_last_error());
        return 1;
    }
    rank = check_rank = ct_process_group_rank(pg);
    size = ct_process_group_size(pg);

    bool launched = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE");
    CHECK(ct_process_group_is_mpi(pg) == launched, "is_mpi is %d under %s",
          ct_process_group_is_mpi(pg), launched ? "mpirun" : "no launcher");
    if (launched) {
        CHECK(size == atoi(getenv("OMPI_COMM_WORLD_SIZE") ? getenv("OMPI_COMM_WORLD_SIZE")
                                                          : getenv("PMI_SIZE")),
              "size %d", size);
        /* Open MPI says how many ranks share this node (several nodes:
         * tests/distribute/multinode_netns.sh); otherwise there is one. */
        const char *ls = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
        const char *lr = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
        int local_size = ls ? atoi(ls) : size, local_rank = lr ? atoi(lr) : rank;
        CHECK(ct_process_group_local_size(pg) == local_size, "local size %d, not %d",
              ct_process_group_local_size(pg), local_size);
        CHECK(ct_process_group_local_rank(pg) == local_rank, "local rank %d, not %d",
              ct_process_group_local_rank(pg), local_rank);
    } else {
        CHECK(rank == 0 && size == 1, "alone: rank %d of %d", rank, size);
        CHECK(strcmp(ct_process_group_thread_level(pg), "none") == 0, "thread level %s",
              ct_process_group_thread_level(pg));
    }

    ct_collective *c = ct_collective_new(pg, NULL);
    CHECK(c != NULL, "ct_collective_new: %s", ct_last_error());
    CHECK(strcmp(ct_collective_impl_name(c), launched ? "mpi" : "local") == 0, "impl %s",
          ct_collective_impl_name(c));
    test_all_reduce(c);
    test_broadcast(c);
    test_all_gather(c);
    test_reduce_scatter(c);
    test_tensors(c);
    test_async(c);
    test_arguments(c);
    ct_collective *c2 = ct_collective_new(pg, &(ct_collective_opts){.name = "second"});
    CHECK(c2 != NULL, "ct_collective_new: %s", ct_last_error());
    test_threads(c, c2);
    CHECK_OK(ct_barrier(c));
    ct_collective_free(c2);
    ct_collective_free(c);
    if (rank == 0)
        printf("test_collectives: %ld checks passed on each of %d rank%s\n", checks_passed, size,
               size == 1 ? "" : "s");
    return 0;
}
