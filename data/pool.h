/*
 * The data layer's worker pool (private to data/): one per process, sized
 * by the thread budget (ct_get_num_threads()), shared by every parallel
 * stage (map, interleave).
 *
 *     ct__future f;
 *     ct__future_init(&f);
 *     ct__pool_submit(&f, work, arg);   // runs work(arg) on a worker
 *     ...
 *     ct__future_wait(&f);              // work(arg) has returned
 *
 * A future is the task itself (the queue links through it), so a submit
 * allocates nothing; the caller keeps it alive until it is done or
 * cancelled. A waiter whose task is still queued runs it on its own
 * thread, so a wait never depends on a free worker: stages nested inside
 * pool tasks (an interleave over parallel maps) cannot deadlock the pool.
 *
 * Threads start on demand (up to the budget, read at each submit), exit
 * after a short idle period, and are stopped at process exit.
 */
#ifndef CT_DATA_POOL_H
#define CT_DATA_POOL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "ctrain/runtime.h"

typedef void (*ct__task_fn)(void *arg);

typedef struct ct__future {
    ct__task_fn fn;          /* the task                                  */
    void *arg;
    struct ct__future *next; /* the pool's queue (under its lock)        */
    atomic_int state;        /* CT__FUTURE_*                              */
    int awaited;             /* threads asleep on it (under the lock)     */
} ct__future;

enum { CT__FUTURE_IDLE, CT__FUTURE_QUEUED, CT__FUTURE_RUNNING, CT__FUTURE_DONE };

/* An idle future (also what a done future may be reused as). */
void ct__future_init(ct__future *f);
/* Queues fn(arg) on the pool; f must be idle or done. When the pool
 * cannot start a thread the task runs at once on the calling thread (it
 * is done on return). */
void ct__pool_submit(ct__future *f, ct__task_fn fn, void *arg);
/* Whether f's task has returned (or f was never submitted). */
bool ct__future_done(ct__future *f);
/* Blocks until f's task has returned; runs it here if still queued. */
void ct__future_wait(ct__future *f);
/* Blocks until one of the n futures is done and returns its index (the
 * lowest done one); a queued one may be run here. n must be >= 1. */
int ct__future_wait_any(ct__future *const *f, int n);
/* Takes f's task off the queue if it has not started: true when it will
 * never run (f is then done); false when it is running or done (wait). */
bool ct__pool_cancel(ct__future *f);
/* Threads the pool may use now (the thread budget, at least 1). */
int ct__pool_size(void);

/* An error raised on a worker thread, carried to the consumer's thread
 * (errors are per thread). */
typedef struct ct__task_error {
    ct_status st;
    char msg[1024];
} ct__task_error;
/* Records st with the thread's last error message; when fn failed
 * without setting one, a message naming `api` says so. */
void ct__error_capture(ct__task_error *e, ct_status st, const char *api);
/* Raises the recorded error on this thread and returns its status. */
ct_status ct__error_raise(const ct__task_error *e);

#endif
