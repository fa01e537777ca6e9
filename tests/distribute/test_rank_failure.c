/*
 * A rank that fails in the middle of a data-parallel fit must end the job
 * with a non-zero exit and a message naming it, not leave the others
 * waiting in the next gradient sum:
 *
 *   test_rank_failure kill    rank 1 kills itself (SIGKILL) at batch 5:
 *                             mpirun notices and ends the job
 *   test_rank_failure error   rank 1 meets an error at batch 5 (an op
 *                             that fails) and calls ct_dist_abort, which
 *                             ends every rank, the others being in fit
 *
 * As one process (no mpirun) there is no other rank to fail: it trains and
 * exits 0.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "dist_check.h"

static const char *mode = "kill";

static void on_batch_begin(void *ctx, ct_model *m, int64_t batch, ct_logs *logs) {
    (void)ctx;
    (void)m;
    (void)logs;
    if (check_rank != 1 || batch != 5) return;
    if (!strcmp(mode, "kill")) raise(SIGKILL);
    /* An error on this rank only (a shape that does not fit), handled as
     * a program under mpirun should: end the whole job. */
    ct_scope_begin();
    if (!ct_reshape(ct_zeros(CT_FLOAT32, CT_DIMS(2, 3)), CT_DIMS(7)))
        ct_dist_abort(2);
    ct_scope_end();
}

int main(int argc, char **argv) {
    if (argc > 1) mode = argv[1];
    ct_process_group *pg = ct_dist_world();
    CHECK(pg, "%s", ct_last_error());
    check_rank = ct_process_group_rank(pg);
    ct_scope_begin();
    ct_tensor *x = ct_random_normal(CT_DIMS(512, 8), &(ct_random_opts){.seed = 1});
    ct_tensor *y = ct_reduce_sum(x, CT_AXES(-1), true);
    ct_strategy *s = ct_mirrored_strategy_new(NULL);
    CHECK(s, "%s", ct_last_error());
    ct_strategy_scope_begin(s);
    ct_model *m = ct_sequential_new(NULL);
    CHECK_OK(ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 1, \"input_shape\": [8]}")));
    CHECK_OK(ct_model_compile(m, &(ct_compile_opts){.optimizer = "sgd", .loss = "mse"}));
    ct_strategy_scope_end();
    ct_callback *cb = ct_callback_custom(&(ct_callback_hooks){.on_train_batch_begin = on_batch_begin});
    CHECK(cb, "%s", ct_last_error());
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.x = x, .y = y, .batch_size = 32, .epochs = 2,
                                                  .ncallbacks = 1, .callbacks = &cb,
                                                  .verbose = CT_VERBOSE_SILENT});
    CHECK(h, "%s", ct_last_error());
    ct_history_free(h);
    ct_callback_free(cb);
    ct_model_free(m);
    ct_strategy_free(s);
    ct_scope_end();
    printf("rank failure test: %d process(es), trained to the end\n", ct_process_group_size(pg));
    return 0;
}
