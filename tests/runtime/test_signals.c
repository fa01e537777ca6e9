/* A signal handled on a thread that trains must not hurt the training.
 * oneDNN's JIT GEMM kernels (Debian's 2.6, and up to 3.11:
 * uxlfoundation/oneDNN#4845) point the stack pointer into a heap buffer
 * while they run, so the frame of a signal handled then is written into
 * the heap; before ctrain held asynchronous signals around them, this
 * test's fit aborted in malloc nearly every time with oneDNN's AVX2
 * kernels and about one time in seven with its AVX-512 ones. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support.h"

static void suite_init(void) {
    /* The kernels that failed most often; set before oneDNN starts. */
    setenv("ONEDNN_MAX_CPU_ISA", "AVX2", 1);
    ct_test_begin();
}

TestSuite(signals, .init = suite_init, .fini = ct_test_end, .timeout = 120);

static atomic_int handled;
static void on_usr1(int sig) {
    (void)sig;
    atomic_fetch_add(&handled, 1);
}

typedef struct {
    pthread_t target;
    atomic_bool stop;
    int sent;
} pelter;

/* Signals the training thread every 20 microseconds until told to stop. */
static void *pelt(void *arg) {
    pelter *p = arg;
    while (!atomic_load(&p->stop)) {
        pthread_kill(p->target, SIGUSR1);
        p->sent++;
        nanosleep(&(struct timespec){0, 20 * 1000}, NULL);
    }
    return NULL;
}

/* An MLP fit on fixed data: its final weights. */
static float *train(int64_t *nw) {
    enum { N = 4096, D = 784 };
    float *xv = malloc(sizeof(float) * N * D);
    int64_t *yv = malloc(sizeof(int64_t) * N);
    for (int i = 0; i < N * D; i++) xv[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
    for (int i = 0; i < N; i++) yv[i] = i % 10;
    ct_set_random_seed(7);
    ct_layer_reset_names();
    ct_tensor *x = ct_constant(xv, CT_FLOAT32, 2, (int64_t[]){N, D});
    ct_tensor *y = ct_constant(yv, CT_INT64, 1, (int64_t[]){N});
    free(xv);
    free(yv);
    ct_model *m = ct_sequential_new(NULL);
    CT_OK(m);
    CT_STATUS_OK(ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 256, \"activation\": \"relu\"}")));
    CT_STATUS_OK(ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 10}")));
    CT_STATUS_OK(ct_model_build(m, 2, (int64_t[]){-1, D}));
    CT_STATUS_OK(ct_model_compile(m, &(ct_compile_opts){.optimizer = "adam",
                                                        .loss = "sparse_categorical_crossentropy"}));
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.x = x, .y = y, .batch_size = 64,
                                                   .epochs = 3, .verbose = CT_VERBOSE_SILENT});
    CT_OK(h);
    ct_history_free(h);
    ct_layer *l = ct_model_layer(m);
    int64_t total = 0;
    for (int i = 0; i < ct_layer_num_weights(l); i++)
        total += ct_tensor_size(ct_variable_value(ct_layer_weight(l, i)));
    float *w = malloc(sizeof(float) * (size_t)total), *at = w;
    for (int i = 0; i < ct_layer_num_weights(l); i++) {
        const ct_tensor *t = ct_variable_value(ct_layer_weight(l, i));
        CT_STATUS_OK(ct_tensor_read(t, CT_FLOAT32, at, ct_tensor_size(t)));
        at += ct_tensor_size(t);
    }
    ct_model_free(m);
    *nw = total;
    return w;
}

Test(signals, handler_on_the_training_thread) {
    int64_t n0, n1;
    float *quiet = train(&n0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART; /* on the thread's own stack, as most handlers */
    cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    pelter p = {.target = pthread_self()};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, pelt, &p), 0);
    float *pelted = train(&n1); /* heap corruption aborts here */
    atomic_store(&p.stop, true);
    pthread_join(th, NULL);
    cr_assert_gt(atomic_load(&handled), 100, "only %d of %d signals handled", atomic_load(&handled),
                 p.sent);
    cr_assert_eq(n0, n1);
    for (int64_t i = 0; i < n0; i++)
        cr_assert_eq(pelted[i], quiet[i], "weight %lld: %.9g with signals, %.9g without",
                     (long long)i, pelted[i], quiet[i]);
    free(quiet);
    free(pelted);
}
