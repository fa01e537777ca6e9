/*
 * Keras layers, forward and forward+backward at batch 128 (the Keras
 * issue's table), and one step of each optimizer on 2^20 float32 elements. One JSON object per line, as
 * bench_ops; tools/bench/run_nn.sh runs it beside bench_torch_nn.py.
 *
 *   bench_nn [--threads N] [--filter SUBSTRING]
 *
 * Forward+backward is a tape over the call, the sum of the output as the
 * target and the gradients for the input and every weight, as the torch
 * side does with backward().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

static const char *filter;
static int threads = 1;

static void die(const char *what) { bench_die("bench_nn", what); }

static bool wanted(const char *name) { return !filter || strstr(name, filter); }

static void report(const char *name, double sec) {
    printf("{\"bench\": \"%s\", \"impl\": \"ctrain\", \"threads\": %d, \"ns\": %.1f}\n", name,
           threads, sec * 1e9);
    fflush(stdout);
}

typedef struct {
    ct_layer *layer;
    ct_tensor *x;
} layer_case;

static void run_forward(void *ctx, int iters) {
    layer_case *c = ctx;
    for (int i = 0; i < iters; i++) {
        ct_scope_begin();
        if (!ct_layer_call(c->layer, c->x, true)) die("forward");
        ct_scope_end();
    }
}

static void run_backward(void *ctx, int iters) {
    layer_case *c = ctx;
    int nw = ct_layer_num_weights(c->layer);
    ct_tensor *src[8], *grads[8];
    for (int i = 0; i < iters; i++) {
        ct_scope_begin();
        ct_tape *tape = ct_tape_begin(NULL);
        ct_tape_watch(tape, c->x);
        ct_tensor *y = ct_layer_call(c->layer, c->x, true);
        ct_tensor *loss = ct_reduce_sum(y, CT_ALL, false);
        ct_tape_end(tape);
        if (!loss) die("forward");
        int n = 0;
        src[n++] = c->x;
        for (int w = 0; w < nw; w++)
            if (ct_variable_trainable(ct_layer_weight(c->layer, w)))
                src[n++] = ct_variable_value(ct_layer_weight(c->layer, w));
        if (ct_tape_gradient(tape, loss, n, src, grads, NULL)) die("backward");
        ct_tape_free(tape);
        ct_scope_end();
    }
}

static void layer_bench(const char *name, const char *cls, const char *cfg, int rank,
                        const int64_t *shape) {
    char fwd[96], bwd[96];
    snprintf(fwd, sizeof fwd, "%s_fwd", name);
    snprintf(bwd, sizeof bwd, "%s_fwdbwd", name);
    if (!wanted(fwd) && !wanted(bwd)) return;
    layer_case c = {ct_layer_new(cls, cfg),
                    ct_random_normal(rank, shape, &(ct_random_opts){.seed = 1})};
    if (!c.layer || !c.x) die(name);
    if (wanted(fwd)) report(fwd, bench_time_it(run_forward, &c));
    if (wanted(bwd)) report(bwd, bench_time_it(run_backward, &c));
    ct_layer_free(c.layer);
    ct_tensor_free(c.x);
}

typedef struct {
    ct_optimizer *opt;
    ct_variable *var;
    ct_tensor *grad;
} opt_case;

static void run_step(void *ctx, int iters) {
    opt_case *c = ctx;
    for (int i = 0; i < iters; i++)
        if (ct_optimizer_apply_gradients(c->opt, 1, &c->grad, &c->var)) die("optimizer step");
}

/* One apply_gradients step of optimizer `name` (Keras's defaults but for
 * opts) on a float32 variable of 2^20 elements. */
static void opt_bench(const char *bench, const char *name, const ct_optimizer_opts *opts) {
    if (!wanted(bench)) return;
    int64_t n = 1 << 20;
    opt_case c;
    c.opt = ct_optimizer_new(name, opts);
    ct_tensor *init = ct_random_normal(1, &n, &(ct_random_opts){.seed = 2});
    c.var = init ? ct_variable_new(init, &(ct_variable_opts){.name = "w"}) : NULL;
    c.grad = ct_random_normal(1, &n, &(ct_random_opts){.seed = 3});
    if (!c.opt || !c.var || !c.grad) die(bench);
    report(bench, bench_time_it(run_step, &c));
    ct_optimizer_free(c.opt);
    ct_variable_free(c.var);
    ct_tensor_free(init);
    ct_tensor_free(c.grad);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
    }
    ct_set_num_threads(threads);
    /* OpenBLAS's pthreads build spins its idle threads for ~0.13 s of CPU
     * after it loads; let that pass so the first rows measure steady state
     * (torch's side imports for seconds before its first row). */
    nanosleep(&(struct timespec){0, 300 * 1000 * 1000}, NULL);
    layer_bench("dense_784_256", "Dense", "{\"units\": 256}", CT_DIMS(128, 784));
    layer_bench("conv2d_28x28x1_32_3x3", "Conv2D", "{\"filters\": 32, \"kernel_size\": 3}",
                CT_DIMS(128, 28, 28, 1));
    layer_bench("conv2d_13x13x32_64_3x3", "Conv2D", "{\"filters\": 64, \"kernel_size\": 3}",
                CT_DIMS(128, 13, 13, 32));
    layer_bench("maxpool2d_26x26x32_2x2", "MaxPooling2D", "{\"pool_size\": 2}",
                CT_DIMS(128, 26, 26, 32));
    layer_bench("batchnorm_14x14x64", "BatchNormalization", "{}",
                CT_DIMS(128, 14, 14, 64));
    opt_bench("adam_1M_step", "adam", NULL);
    opt_bench("adamw_1M_step", "adamw", NULL);
    opt_bench("adamax_1M_step", "adamax", NULL);
    opt_bench("nadam_1M_step", "nadam", NULL);
    opt_bench("sgd_1M_step", "sgd", NULL);
    opt_bench("sgd_momentum_1M_step", "sgd", &(ct_optimizer_opts){.momentum = 0.9});
    opt_bench("rmsprop_1M_step", "rmsprop", NULL);
    opt_bench("adagrad_1M_step", "adagrad", NULL);
    opt_bench("adadelta_1M_step", "adadelta", NULL);
    opt_bench("ftrl_1M_step", "ftrl", NULL); /* no torch counterpart */
    return 0;
}
