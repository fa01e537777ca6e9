/* The single-process group and collective (no launcher): rank 0 of 1, every
 * collective the identity or a copy, and the errors that name what was
 * wrong. Runs only as one process (Criterion forks each test, which MPI
 * ranks cannot do; the MPI tests are test_collectives and test_timeout). */
#include <string.h>

#include "support.h"

static ct_collective *local(void) {
    ct_process_group *pg = ct_dist_world();
    CT_OK(pg);
    ct_collective *c = ct_collective_new(pg, NULL);
    CT_OK(c);
    return c;
}

TestSuite(local, .init = ct_test_begin, .fini = ct_test_end);

Test(local, world_is_rank_0_of_1) {
    ct_process_group *pg = ct_dist_world();
    CT_OK(pg);
    cr_expect_eq(ct_process_group_rank(pg), 0);
    cr_expect_eq(ct_process_group_size(pg), 1);
    cr_expect_eq(ct_process_group_local_rank(pg), 0);
    cr_expect_eq(ct_process_group_local_size(pg), 1);
    cr_expect_not(ct_process_group_is_mpi(pg));
    cr_expect_str_eq(ct_process_group_thread_level(pg), "none");
    cr_expect_eq(ct_dist_world(), pg, "the world is made once");
    /* Without MPI a shutdown does not prevent a new group. */
    ct_dist_shutdown();
    CT_OK(ct_dist_world());
}

Test(local, implementations) {
    ct_process_group *pg = ct_dist_world();
    ct_collective *c = ct_collective_new(pg, &(ct_collective_opts){.impl = CT_COLLECTIVE_LOCAL});
    CT_OK(c);
    cr_expect_str_eq(ct_collective_impl_name(c), "local");
    cr_expect_eq(ct_collective_group(c), pg);
    ct_collective_free(c);
    CT_FAILS(ct_collective_new(pg, &(ct_collective_opts){.impl = CT_COLLECTIVE_MPI}),
             "not started by an MPI launcher");
    CT_FAILS(ct_collective_new(pg, &(ct_collective_opts){.impl = (ct_collective_impl)7}),
             "unknown implementation 7");
    CT_FAILS(ct_collective_new(NULL, NULL), "process group is NULL");
}

Test(local, all_reduce_is_the_identity) {
    ct_collective *c = local();
    ct_tensor *x = CT_F32(CT_DIMS(2, 3), 1, -2, 3.5, 4, 5, -6);
    for (int op = CT_REDUCE_SUM; op <= CT_REDUCE_MIN; op++)
        CT_EXPECT(ct_all_reduce(c, x, (ct_reduce_op)op), CT_FLOAT32, CT_DIMS(2, 3), 0, 1, -2, 3.5,
                  4, 5, -6);
    CT_EXPECT(ct_all_reduce(c, CT_I32(CT_DIMS(3), 7, -7, 9), CT_REDUCE_MEAN), CT_INT32, CT_DIMS(3),
              0, 7, -7, 9);
    CT_EXPECT(ct_all_reduce(c, ct_cast(x, CT_FLOAT16), CT_REDUCE_MEAN), CT_FLOAT16, CT_DIMS(2, 3),
              0, 1, -2, 3.5, 4, 5, -6);
    double buf[3] = {1.25, 2, 3};
    CT_STATUS_OK(ct_all_reduce_buffer(c, buf, 3, CT_FLOAT64, CT_REDUCE_SUM));
    cr_expect(buf[0] == 1.25 && buf[1] == 2 && buf[2] == 3);
    cr_expect_eq(ct_collective_count(c), 7);
    ct_collective_free(c);
}

Test(local, broadcast_gather_scatter_copy) {
    ct_collective *c = local();
    ct_tensor *x = CT_I64(CT_DIMS(2, 2), 1, 2, 3, 4);
    CT_EXPECT(ct_broadcast(c, x, 0), CT_INT64, CT_DIMS(2, 2), 0, 1, 2, 3, 4);
    CT_EXPECT(ct_all_gather(c, x), CT_INT64, CT_DIMS(2, 2), 0, 1, 2, 3, 4);
    CT_EXPECT(ct_reduce_scatter(c, x, CT_REDUCE_SUM), CT_INT64, CT_DIMS(2, 2), 0, 1, 2, 3, 4);
    CT_EXPECT(ct_broadcast(c, CT_BOOLS(CT_DIMS(2), true, false), 0), CT_BOOL, CT_DIMS(2), 0, 1, 0);
    float send[3] = {1, 2, 3}, recv[3] = {0};
    CT_STATUS_OK(ct_all_gather_buffer(c, send, recv, 3, CT_FLOAT32));
    cr_expect(recv[0] == 1 && recv[1] == 2 && recv[2] == 3);
    float back[3] = {0};
    CT_STATUS_OK(ct_reduce_scatter_buffer(c, send, back, 3, CT_FLOAT32, CT_REDUCE_MAX));
    cr_expect(back[0] == 1 && back[1] == 2 && back[2] == 3);
    /* In place: send is rank 0's part of recv. */
    CT_STATUS_OK(ct_all_gather_buffer(c, send, send, 3, CT_FLOAT32));
    CT_STATUS_OK(ct_barrier(c));
    ct_collective_free(c);
}

Test(local, handles) {
    ct_collective *c = local();
    ct_collective_handle *h;
    CT_STATUS_OK(ct_all_reduce_start(c, ct_scalar(2.5), CT_REDUCE_SUM, &h));
    bool done = false;
    CT_STATUS_OK(ct_collective_test(h, &done));
    cr_expect(done, "a group of one completes at once");
    ct_tensor *y;
    CT_STATUS_OK(ct_collective_wait(h, &y));
    CT_EXPECT(y, CT_FLOAT32, CT_SCALAR, 0, 2.5);
    /* A tensor operation waited without asking for the result frees it. */
    CT_STATUS_OK(ct_all_gather_start(c, CT_F32(CT_DIMS(1), 1), &h));
    CT_STATUS_OK(ct_collective_wait(h, NULL));
    CT_FAILS_STATUS(ct_collective_wait(NULL, NULL), "handle is NULL");
    CT_FAILS_STATUS(ct_collective_test(NULL, &done), "handle is NULL");
    CT_FAILS_STATUS(ct_barrier_start(c, NULL), "handle pointer is NULL");
    ct_collective_free(c);
}

Test(local, errors_name_the_problem) {
    ct_collective *c = local();
    CT_FAILS(ct_broadcast(c, ct_scalar(1), 1), "root 1 is not a rank of the group [0, 1)");
    CT_FAILS(ct_all_gather(c, ct_scalar(1)), "float32[] needs rank >= 1");
    CT_FAILS(ct_all_reduce(c, CT_BOOLS(CT_DIMS(1), true), CT_REDUCE_MAX),
             "all-reduce of bool is not supported");
    CT_FAILS(ct_reduce_scatter(c, ct_zeros(CT_UINT8, CT_DIMS(2)), CT_REDUCE_SUM),
             "reduce-scatter of uint8 is not supported");
    CT_FAILS(ct_all_reduce(c, NULL, CT_REDUCE_SUM), "tensor is NULL");
    float x[4] = {0};
    CT_FAILS_STATUS(ct_all_reduce_buffer(c, x, 4, CT_FLOAT32, (ct_reduce_op)-1),
                    "unknown reduce op -1");
    CT_FAILS_STATUS(ct_all_gather_buffer(c, x, x + 1, 2, CT_FLOAT32), "overlap");
    CT_FAILS_STATUS(ct_all_reduce_buffer(c, x, 4, (ct_dtype)99, CT_REDUCE_SUM),
                    "invalid dtype 99");
    CT_FAILS_STATUS(ct_collective_set_context(NULL, "x"), "collective is NULL");
    cr_expect_eq(ct_collective_count(c), 0, "nothing started");
    ct_collective_free(c);
}

Test(local, abort_exits_with_the_code, .exit_code = 3) { ct_dist_abort(3); }

Test(local, abort_never_exits_0, .exit_code = 1) { ct_dist_abort(0); }
