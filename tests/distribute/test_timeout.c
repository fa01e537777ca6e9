/*
 * The collective deadline. Under `mpirun -np 2`: rank 1 skips an
 * all-reduce that rank 0 enters; rank 0's wait gives up after 2 s with an
 * error naming the all-reduce, its number and rank 1. Then, without
 * --abort, rank 1 arrives late (after a barrier on a second collective
 * that rank 0 joins only once it has timed out), so the abandoned
 * operation completes inside rank 0's ct_collective_free and both ranks
 * end cleanly; with --abort, rank 0 ends the job with ct_dist_abort(3)
 * while rank 1 still waits, which ctest expects to fail with the message.
 *
 * Alone, it checks the deadline's settings: the default, the setter, the
 * environment variable's precedence and a bad value's error.
 *
 * The sequence is deterministic: rank 1 cannot reach the late all-reduce
 * before rank 0 has timed out, because it first waits (60 s deadline) for
 * rank 0 in the rescue barrier.
 */
#include <math.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dist_check.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- alone -------------------------------------------------------------------------- */

static void test_settings(void) {
    /* The environment is read once per process, at the first use of the
     * deadline: children try it, before this process reads it. */
    struct {
        const char *value;
        int expect; /* exit status of the child */
    } cases[] = {{"7.5", 0}, {"abc", 0}, {"-3", 0}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        pid_t pid = fork();
        CHECK(pid >= 0, "fork failed");
        if (pid == 0) {
            setenv("CT_COLLECTIVE_TIMEOUT", cases[k].value, 1);
            if (k == 0) {
                ct_dist_set_timeout(2); /* the environment wins over this */
                _exit(ct_dist_timeout() == 7.5 && ct_dist_world() != NULL ? 0 : 1);
            }
            ct_clear_error();
            bool refused = ct_dist_world() == NULL &&
                           strstr(ct_last_error(), "CT_COLLECTIVE_TIMEOUT") &&
                           strstr(ct_last_error(), cases[k].value);
            if (!refused) fprintf(stderr, "CT_COLLECTIVE_TIMEOUT=%s: %s\n", cases[k].value,
                                  ct_last_error());
            _exit(refused ? 0 : 1);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == cases[k].expect,
              "CT_COLLECTIVE_TIMEOUT=%s: the child failed", cases[k].value);
    }

    CHECK(ct_dist_timeout() == 300, "default deadline %g s", ct_dist_timeout());
    CHECK_OK(ct_dist_set_timeout(2));
    CHECK(ct_dist_timeout() == 2, "deadline %g s after setting 2", ct_dist_timeout());
    CHECK_OK(ct_dist_set_timeout(INFINITY));
    CHECK(isinf(ct_dist_timeout()), "no deadline: %g", ct_dist_timeout());
    CHECK_OK(ct_dist_set_timeout(0));
    CHECK(ct_dist_timeout() == 300, "0 restores the default, not %g s", ct_dist_timeout());
    CHECK_FAILS(ct_dist_set_timeout(NAN), CT_ERR_INVALID_ARGUMENT, "NaN");

    /* A group of one never waits. */
    ct_process_group *pg = ct_dist_world();
    CHECK(pg != NULL, "ct_dist_world: %s", ct_last_error());
    ct_collective *c = ct_collective_new(pg, NULL);
    CHECK(c != NULL, "ct_collective_new: %s", ct_last_error());
    CHECK_OK(ct_dist_set_timeout(1e-9));
    float x[3] = {1, 2, 3};
    CHECK_OK(ct_all_reduce_buffer(c, x, 3, CT_FLOAT32, CT_REDUCE_SUM));
    CHECK_OK(ct_collective_set_context(c, "step 1"));
    CHECK(ct_collective_count(c) == 1, "count %lld", (long long)ct_collective_count(c));
    ct_collective_free(c);
}

/* ---- two ranks ---------------------------------------------------------------------- */

static void test_timeout(ct_process_group *pg, bool abort_after) {
    int rank = ct_process_group_rank(pg);
    ct_collective *a = ct_collective_new(pg, &(ct_collective_opts){.name = "gradients"});
    ct_collective *rescue = ct_collective_new(pg, &(ct_collective_opts){.name = "rescue"});
    CHECK(a && rescue, "ct_collective_new: %s", ct_last_error());
    /* Collective #1 on each: both ranks take part. */
    CHECK_OK(ct_barrier(a));
    CHECK_OK(ct_barrier(rescue));

    float x[8];
    for (int i = 0; i < 8; i++) x[i] = (float)(i + 10 * rank);
    if (rank == 0) {
        CHECK_OK(ct_dist_set_timeout(2));
        CHECK_OK(ct_collective_set_context(a, "epoch 1, step 3"));
        double t0 = now_s();
        ct_clear_error();
        ct_status s = ct_all_reduce_buffer(a, x, 8, CT_FLOAT32, CT_REDUCE_SUM);
        double waited = now_s() - t0;
        const char *msg = ct_last_error();
        printf("rank 0 got: %s\n", msg);
        CHECK(s == CT_ERR_DEADLINE_EXCEEDED, "the wait gave %s: %s", ct_status_name(s), msg);
        CHECK(waited >= 2, "the wait gave up after %g s, before its deadline", waited);
        CHECK(strstr(msg, "all-reduce (collective #2 of 'gradients'"), "%s", msg);
        CHECK(strstr(msg, "float32[8], sum) on rank 0 of 2"), "%s", msg);
        CHECK(strstr(msg, "during epoch 1, step 3"), "%s", msg);
        CHECK(strstr(msg, "rank 1 did not arrive (it has entered 1 collective on this "
                          "communicator)"),
              "%s", msg);
        if (abort_after) ct_dist_abort(3);

        /* The collective refuses new work: its numbering is off. */
        CHECK_FAILS(ct_barrier(a), CT_ERR_INTERNAL, "all-reduce (collective #2 of 'gradients'");
        CHECK_OK(ct_dist_set_timeout(60));
        CHECK_OK(ct_barrier(rescue));
        /* Rank 1 now arrives late; the free gives the abandoned all-reduce
         * its chance to finish, and then x holds the sum. */
        ct_collective_free(a);
        for (int i = 0; i < 8; i++)
            CHECK(x[i] == (float)(2 * i + 10), "the late all-reduce gave x[%d] = %g", i, x[i]);
    } else {
        CHECK_OK(ct_dist_set_timeout(60));
        CHECK_OK(ct_barrier(rescue));
        CHECK_OK(ct_all_reduce_buffer(a, x, 8, CT_FLOAT32, CT_REDUCE_SUM));
        for (int i = 0; i < 8; i++)
            CHECK(x[i] == (float)(2 * i + 10), "the late all-reduce gave x[%d] = %g", i, x[i]);
        ct_collective_free(a);
    }
    CHECK_OK(ct_barrier(rescue));
    ct_collective_free(rescue);
}

int main(int argc, char **argv) {
    bool abort_after = argc > 1 && strcmp(argv[1], "--abort") == 0;
    bool launched = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE");
    if (!launched) {
        test_settings();
        printf("test_timeout: %ld checks passed alone (the timeout itself runs under mpirun: "
               "distribute/test_timeout_np2)\n",
               checks_passed);
        return 0;
    }
    ct_process_group *pg = ct_dist_world();
    CHECK(pg != NULL, "ct_dist_world: %s", ct_last_error());
    check_rank = ct_process_group_rank(pg);
    CHECK(ct_process_group_size(pg) == 2, "run with 2 ranks, not %d", ct_process_group_size(pg));
    test_timeout(pg, abort_after);
    if (check_rank == 0) printf("test_timeout: %ld checks passed on rank 0\n", checks_passed);
    return 0;
}
