/*
 * The data layer's worker pool: a FIFO of futures served by detached
 * threads. One lock guards the queue and the thread counts; completions
 * are broadcast on one condition variable (waiters are few: the
 * consumers of parallel stages), so a future needs no lock of its own.
 * A completion wakes the waiters only when one sleeps on that future: a
 * consumer waiting for the oldest of several calls in flight is not
 * woken by each of the others.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "data/pool.h"
#include "runtime/internal.h"

/* A worker idle this long exits; the next submit starts a new one. */
#define IDLE_EXIT_S 2
/* At process exit, how long to wait for running tasks to return. */
#define EXIT_WAIT_S 2

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER; /* a task was queued */
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER; /* a task finished   */
static ct__future *head, *tail;
static int queued;  /* tasks in the queue          */
static int live;    /* worker threads alive        */
static int idle;    /* of those, waiting for work  */
static bool stopping; /* the process is exiting    */
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void at_exit(void) {
    pthread_mutex_lock(&mu);
    stopping = true;
    pthread_cond_broadcast(&work_cv);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += EXIT_WAIT_S;
    while (live > 0)
        if (pthread_cond_timedwait(&done_cv, &mu, &deadline) == ETIMEDOUT) break;
    pthread_mutex_unlock(&mu);
}

/* A forked child has none of the parent's threads: start afresh (tasks
 * queued in the parent belong to the parent). */
static void at_fork_child(void) {
    pthread_mutex_init(&mu, NULL);
    pthread_cond_init(&work_cv, NULL);
    pthread_cond_init(&done_cv, NULL);
    head = tail = NULL;
    queued = live = idle = 0;
    stopping = false;
}

static void install_hooks(void) {
    atexit(at_exit);
    pthread_atfork(NULL, NULL, at_fork_child);
}

static void unlink_locked(ct__future *f) {
    ct__future *prev = NULL;
    for (ct__future *p = head; p; prev = p, p = p->next)
        if (p == f) {
            if (prev) prev->next = p->next;
            else head = p->next;
            if (tail == p) tail = prev;
            queued--;
            f->next = NULL;
            return;
        }
}

/* Marks f done, waking its waiters. f is read before it is marked: its
 * owner may free it as soon as it reads DONE (it does so without the
 * lock). */
static void finish_locked(ct__future *f) {
    bool wake = f->awaited > 0;
    atomic_store(&f->state, CT__FUTURE_DONE);
    if (wake) pthread_cond_broadcast(&done_cv);
}

/* Runs a task the caller took off the queue (state RUNNING), then marks
 * it done. Called without the lock. */
static void run_here(ct__future *f) {
    f->fn(f->arg);
    pthread_mutex_lock(&mu);
    finish_locked(f);
    pthread_mutex_unlock(&mu);
}

static void *worker(void *unused) {
    (void)unused;
    ct__worker_thread_signals();
    pthread_mutex_lock(&mu);
    for (;;) {
        while (!head && !stopping) {
            struct timespec deadline;
            clock_gettime(CLOCK_REALTIME, &deadline);
            deadline.tv_sec += IDLE_EXIT_S;
            idle++;
            int rc = pthread_cond_timedwait(&work_cv, &mu, &deadline);
            idle--;
            if (rc == ETIMEDOUT && !head) goto out;
        }
        if (!head) break; /* stopping, and nothing left to run */
        ct__future *f = head;
        unlink_locked(f);
        atomic_store(&f->state, CT__FUTURE_RUNNING);
        pthread_mutex_unlock(&mu);
        f->fn(f->arg);
        pthread_mutex_lock(&mu);
        finish_locked(f); /* the last touch of f */
    }
out:
    live--;
    pthread_cond_broadcast(&done_cv);
    pthread_mutex_unlock(&mu);
    return NULL;
}

int ct__pool_size(void) {
    int n = ct_get_num_threads();
    return n > 0 ? n : 1;
}

void ct__future_init(ct__future *f) {
    f->fn = NULL;
    f->arg = NULL;
    f->next = NULL;
    f->awaited = 0;
    atomic_init(&f->state, CT__FUTURE_IDLE);
}

void ct__pool_submit(ct__future *f, ct__task_fn fn, void *arg) {
    pthread_once(&hooks_once, install_hooks);
    int budget = ct__pool_size();
    f->fn = fn;
    f->arg = arg;
    f->next = NULL;
    pthread_mutex_lock(&mu);
    if (stopping) {
        /* After exit began no worker takes new tasks: run it now. */
        atomic_store(&f->state, CT__FUTURE_RUNNING);
        pthread_mutex_unlock(&mu);
        run_here(f);
        return;
    }
    atomic_store(&f->state, CT__FUTURE_QUEUED);
    if (tail) tail->next = f;
    else head = f;
    tail = f;
    queued++;
    if (idle < queued && live < budget) {
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &attr, worker, NULL) == 0) live++;
        pthread_attr_destroy(&attr);
    }
    if (live == 0) {
        /* No thread could start: the caller does the work. */
        unlink_locked(f);
        atomic_store(&f->state, CT__FUTURE_RUNNING);
        pthread_mutex_unlock(&mu);
        run_here(f);
        return;
    }
    pthread_cond_signal(&work_cv);
    pthread_mutex_unlock(&mu);
}

bool ct__future_done(ct__future *f) {
    int s = atomic_load(&f->state);
    return s == CT__FUTURE_DONE || s == CT__FUTURE_IDLE;
}

void ct__future_wait(ct__future *f) {
    if (ct__future_done(f)) return;
    pthread_mutex_lock(&mu);
    if (atomic_load(&f->state) == CT__FUTURE_QUEUED) {
        unlink_locked(f);
        atomic_store(&f->state, CT__FUTURE_RUNNING);
        pthread_mutex_unlock(&mu);
        run_here(f);
        return;
    }
    f->awaited++;
    while (!ct__future_done(f)) pthread_cond_wait(&done_cv, &mu);
    f->awaited--;
    pthread_mutex_unlock(&mu);
}

int ct__future_wait_any(ct__future *const *f, int n) {
    pthread_mutex_lock(&mu);
    for (;;) {
        for (int i = 0; i < n; i++)
            if (ct__future_done(f[i])) {
                pthread_mutex_unlock(&mu);
                return i;
            }
        for (int i = 0; i < n; i++)
            if (atomic_load(&f[i]->state) == CT__FUTURE_QUEUED) {
                unlink_locked(f[i]);
                atomic_store(&f[i]->state, CT__FUTURE_RUNNING);
                pthread_mutex_unlock(&mu);
                run_here(f[i]);
                return i;
            }
        for (int i = 0; i < n; i++) f[i]->awaited++;
        pthread_cond_wait(&done_cv, &mu);
        for (int i = 0; i < n; i++) f[i]->awaited--;
    }
}

bool ct__pool_cancel(ct__future *f) {
    int s = atomic_load(&f->state);
    if (s == CT__FUTURE_IDLE) return true;
    if (s == CT__FUTURE_DONE) return false;
    bool cancelled = false;
    pthread_mutex_lock(&mu);
    if (atomic_load(&f->state) == CT__FUTURE_QUEUED) {
        unlink_locked(f);
        atomic_store(&f->state, CT__FUTURE_DONE);
        cancelled = true;
    }
    pthread_mutex_unlock(&mu);
    return cancelled;
}

void ct__error_capture(ct__task_error *e, ct_status st, const char *api) {
    e->st = st;
    e->msg[0] = '\0';
    if (st == CT_OK) return;
    const char *m = ct_last_error();
    if (ct_last_status() != CT_OK && m && *m) snprintf(e->msg, sizeof e->msg, "%s", m);
    else
        snprintf(e->msg, sizeof e->msg, "%s: the function returned %s without setting an error",
                 api, ct_status_name(st));
}

ct_status ct__error_raise(const ct__task_error *e) {
    if (e->st == CT_OK) return CT_OK;
    return ct__error(e->st, "%s", e->msg);
}
