/*
 * One thread budget per process. ctrain's kernels (OpenMP), oneDNN (built
 * on OpenMP in Debian) and OpenBLAS (its own pthreads) all draw from it, so
 * they never oversubscribe the cores between them. Under mpirun the cores
 * are divided among the ranks of this node.
 */
#include <omp.h>
#include <pthread.h>
#include <signal.h>
#if defined(__SSE3__) || defined(__x86_64__)
#include <pmmintrin.h>
#include <xmmintrin.h>
#define CT_HAVE_MXCSR 1
#endif
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "runtime/internal.h"

void openblas_set_num_threads(int num_threads); /* from libopenblas */

static int budget;
static atomic_int generation = 1; /* bumped whenever the budget changes */
static CT__TLS int applied; /* the generation this thread applied */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int local_ranks(void) {
    static const char *vars[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS",
                                 "MV2_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 0) return atoi(v);
    }
    return 1;
}

static int default_budget(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n = (int)(cores > 0 ? cores : 1) / local_ranks();
    return n > 0 ? n : 1;
}

/* TensorFlow computes on the CPU with denormals flushed to zero (its
 * thread pools run under ScopedFlushDenormal), and so does ctrain: the
 * thread that calls sets flush-to-zero and denormals-are-zero. Besides
 * TF's numbers, this keeps speed: Adam's first moment of a weight whose
 * gradient is mostly zero (a Fashion-MNIST border pixel) decays by 0.9 a
 * step into the denormal range, where each update costs ~100 cycles; an
 * MLP epoch slowed by a third from one epoch to the next before. */
static void flush_denormals(void) {
#ifdef CT_HAVE_MXCSR
    _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
    _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
#endif
}

/* The OpenMP team of the calling thread (oneDNN's too) is made once and
 * reused: each of its threads flushes denormals, and the workers (not the
 * caller) block asynchronous signals, which oneDNN's GEMM kernels cannot
 * take (ct__signals_hold): a signal to the process goes to a thread that
 * takes it. A team that grows later does this again (apply, or a new
 * generation in ct__threads_sync). */
static void prepare_team(int n) {
#pragma omp parallel num_threads(n)
    {
        flush_denormals();
        if (omp_get_thread_num() != 0) ct__worker_thread_signals();
    }
}

static void apply(int n) {
    budget = n;
    flush_denormals();
    /* ctrain never nests thread teams: a library call (oneDNN, OpenBLAS)
     * made inside one of our parallel regions runs on its thread alone
     * instead of starting (and ending) a nested team of new threads. */
    omp_set_max_active_levels(1);
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
    prepare_team(n);
    applied = atomic_fetch_add(&generation, 1) + 1;
}

static void init(void);

void ct__threads_sync(void) {
    /* omp_set_num_threads is per thread: a thread that runs kernels (a
     * pipeline worker, a user's thread) adopts the budget before its first
     * kernel and after every change, so oneDNN's teams follow it too. */
    if (applied == atomic_load_explicit(&generation, memory_order_relaxed)) return;
    pthread_once(&once, init);
    applied = atomic_load(&generation);
    omp_set_num_threads(budget);
    prepare_team(budget); /* this thread's own team (libgomp: one per thread) */
}

static void init(void) { apply(default_budget()); }

void ct_set_num_threads(int n) {
    pthread_once(&once, init);
    apply(n > 0 ? n : default_budget());
}

int ct_get_num_threads(void) {
    pthread_once(&once, init);
    return budget;
}

int ct__threads_for(int64_t n, int64_t cost_per_elem) {
    /* A thread team costs a few microseconds to wake: only loops of more
     * than ~64 us of work on one core are worth splitting. */
    const int64_t grain_ns = 64 * 1000;
    int64_t work = n * (cost_per_elem > 0 ? cost_per_elem : 1);
    if (work < 2 * grain_ns) return 1;
    int b = ct_get_num_threads();
    int64_t t = work / grain_ns;
    return t < b ? (int)t : b;
}

/* The asynchronous signals: all but the faults, which stay deliverable
 * where they happen. */
static sigset_t async_signals;
static pthread_once_t async_once = PTHREAD_ONCE_INIT;

static void async_init(void) {
    sigfillset(&async_signals);
    sigdelset(&async_signals, SIGSEGV);
    sigdelset(&async_signals, SIGBUS);
    sigdelset(&async_signals, SIGFPE);
    sigdelset(&async_signals, SIGILL);
    sigdelset(&async_signals, SIGTRAP);
}

void ct__worker_thread_signals(void) {
    pthread_once(&async_once, async_init);
    pthread_sigmask(SIG_BLOCK, &async_signals, NULL);
}

void ct__signals_hold(sigset_t *saved) {
    pthread_once(&async_once, async_init);
    pthread_sigmask(SIG_BLOCK, &async_signals, saved);
}

void ct__signals_release(const sigset_t *saved) { pthread_sigmask(SIG_SETMASK, saved, NULL); }
