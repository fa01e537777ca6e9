/* Private runtime structures shared by runtime/ and ops/. Not installed. */
#ifndef CT_RUNTIME_INTERNAL_H
#define CT_RUNTIME_INTERNAL_H

#include <signal.h>
#include <stdatomic.h>

#include "ctrain/ops.h"
#include "ctrain/runtime.h"

/* Per-thread variables. The library is built with TLS descriptors
 * (-mtls-dialect=gnu2, see CMakeLists.txt), so an access costs a few
 * instructions instead of a __tls_get_addr call, and the library can
 * still be loaded with dlopen (the initial-exec model cannot: the whole
 * module's TLS would have to fit glibc's small static reserve). */
#define CT__TLS _Thread_local

/* ---- errors --------------------------------------------------------------- */

/* Sets the thread's error (printf format) and returns code. */
ct_status ct__error(ct_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- devices ---------------------------------------------------------------- */

typedef struct ct__allocator ct__allocator;
typedef struct ct__chunk ct__chunk;

/* What varies between device kinds: raw memory and copies. Everything
 * else (caching, statistics, limits) is common code in allocator.c. */
typedef struct ct__device_vtable {
    /* Raw memory from the system; NULL when it has none to give. */
    void *(*raw_alloc)(ct_device *dev, size_t bytes);
    void (*raw_free)(ct_device *dev, void *ptr);
    /* Copies; `host` memory is ordinary pageable memory. */
    ct_status (*to_host)(ct_device *dev, void *host_dst, const void *src, size_t bytes);
    ct_status (*from_host)(ct_device *dev, void *dst, const void *host_src, size_t bytes);
    ct_status (*copy)(ct_device *dev, void *dst, const void *src, size_t bytes);
    ct_status (*memset0)(ct_device *dev, void *dst, size_t bytes);
    ct_status (*synchronize)(ct_device *dev);
    size_t (*total_memory)(ct_device *dev); /* what a limit defaults to */
} ct__device_vtable;

struct ct_device {
    ct_device_kind kind;
    int index;
    char name[32];                /* "/device:CPU:0"                     */
    const ct__device_vtable *vt;
    ct__allocator *alloc;
    void *impl;                   /* the backend's own state (streams)   */
};

/* The CPU device (created on first use). */
ct_device *ct__cpu_device(void);
/* Registers the CUDA devices; defined in runtime/cuda when built. */
int ct__cuda_device_count(void);
ct_device *ct__cuda_device(int index);

/* ---- allocator -------------------------------------------------------------- */

ct__allocator *ct__allocator_new(ct_device *dev);
/* A block of at least `bytes` (64-byte aligned), or NULL with an out-of-
 * memory error naming `what` (an op name), the request, limit and peak. */
ct__chunk *ct__alloc(ct__allocator *a, size_t bytes, const char *what);
void ct__free(ct__allocator *a, ct__chunk *c);
void *ct__chunk_ptr(const ct__chunk *c);
void ct__allocator_stats(ct__allocator *a, ct_memory_stats *out);
ct_status ct__allocator_set_limit(ct__allocator *a, size_t bytes);
ct_status ct__allocator_set_growth(ct__allocator *a, bool growth);
void ct__allocator_empty_cache(ct__allocator *a);

/* ---- tensors -------------------------------------------------------------- */

typedef struct ct__storage {
    atomic_long refs;
    ct_device *dev;
    ct__chunk *chunk;
    void *data;
    size_t bytes;
} ct__storage;

typedef struct ct__scope ct__scope;
struct ct_variable;

struct ct_tensor {
    atomic_long refs;
    int64_t id;
    ct_dtype dtype;
    int rank;
    int64_t shape[CT_MAX_RANK];
    int64_t size;               /* elements                                */
    ct__storage *storage;       /* NULL only while being built             */
    size_t offset;              /* bytes into storage                      */
    struct ct_variable *var;    /* set on a variable's value tensor        */
    ct__scope *scope;           /* the scope holding a reference, or NULL  */
    int64_t scope_slot;
};

/* The element data (device memory for device tensors). */
static inline void *ct__data(const ct_tensor *t) {
    return (char *)t->storage->data + t->offset;
}
static inline size_t ct__nbytes(const ct_tensor *t) {
    return (size_t)t->size * ct_dtype_size(t->dtype);
}

/* A new tensor with fresh storage on dev (contents undefined), owned by
 * the caller (not in a scope). `what` names the op for OOM errors. */
ct_tensor *ct__tensor_alloc(ct_device *dev, ct_dtype dt, int rank, const int64_t *shape,
                            const char *what);
/* A new tensor sharing src's storage with another shape (same size) and
 * byte offset; owned by the caller. */
ct_tensor *ct__tensor_view(const ct_tensor *src, int rank, const int64_t *shape,
                           size_t offset);
/* Puts a caller-owned tensor into the innermost scope (if any). */
ct_tensor *ct__scoped(ct_tensor *t);
/* Drops a reference to a storage record (freeing its memory at zero). */
void ct__storage_release(ct__storage *s);
/* Drops a reference the runtime holds (not the scope's). */
void ct__tensor_release(ct_tensor *t);
static inline ct_tensor *ct__tensor_retain(ct_tensor *t) {
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    return t;
}
int64_t ct__numel(int rank, const int64_t *shape);
/* "float32[2,3]" into buf (for error messages). */
const char *ct__desc(const ct_tensor *t, char *buf, size_t cap);
#define CT__DESC(t) ct__desc((t), (char[96]){0}, 96)
#define CT__SHAPE(r, s) ct_shape_str((r), (s), (char[96]){0}, 96)

/* Converts n elements between dtypes on the host (ct_cast's rules). */
void ct__convert(const void *src, ct_dtype sdt, void *dst, ct_dtype ddt, int64_t n);
/* Element i of a host buffer as a double / stored from a double. */
double ct__load(const void *p, ct_dtype dt, int64_t i);
void ct__store(void *p, ct_dtype dt, int64_t i, double v);

/* ---- variables ------------------------------------------------------------ */

struct ct_variable {
    ct_tensor *value;     /* its storage is replaced or written on assign */
    char *name;
    bool trainable;
};

/* The variable's elements for writing in place (an optimizer's fused
 * update): when other tensors share its storage (earlier reads, tape
 * snapshots, the initial value) it first gets a private copy, so they keep
 * the values they saw. Device memory for a device variable. NULL with an
 * out-of-memory error. Writes are not recorded on tapes. */
void *ct__variable_data_for_write(ct_variable *v);

/* ---- threads ---------------------------------------------------------------- */

/* Applies the process's thread budget to the calling thread's OpenMP
 * settings if it has not yet (cheap when it has). */
void ct__threads_sync(void);
/* Threads for a loop of n elements at cost_per_elem (rough ns): 1 for
 * small loops, so tiny ops never pay for a thread team. */
int ct__threads_for(int64_t n, int64_t cost_per_elem);

/* ---- RNG -------------------------------------------------------------------- */

/* Philox 4x32-10 on (key, counter): four 32-bit outputs. */
void ct__philox(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4]);
/* The (seed, seed2) pair TF's rule (random_seed.get_seed) gives the next
 * random op (op_seed 0 means none was given), and for an op-seeded pair
 * how many draws it has made since the last set_seed (0 otherwise).
 * random.c reserves 256 samples per output element per call, as TF's
 * kernels do, to continue a seeded op's stream. */
void ct__random_seeds(int64_t op_seed, uint64_t *seed, uint64_t *seed2, uint64_t *call);
/* The global seed state (the seed, the op-seed generator's position and
 * every seeded op's draw count) as bytes (malloc'ed into *buf), and back:
 * a process that restores them draws what the saving one would have
 * drawn next. For training checkpoints. */
ct_status ct__rng_get_state(void **buf, size_t *len);
/* Called first by every thread the library starts (data pool, prefetch,
 * event-file flusher): blocks the asynchronous signals (SIGINT, SIGTERM,
 * SIGUSR1, ...) in it, so that the process's signals are handled on the
 * application's threads, never on ours. */
void ct__worker_thread_signals(void);
/* Blocks the asynchronous signals on the calling thread (the old mask into
 * *saved) while it runs oneDNN kernels, and puts the mask back. oneDNN's
 * JIT GEMM kernels (Debian's 2.6; fixed after 3.11, uxlfoundation/oneDNN
 * #4845) point the stack pointer into a heap buffer while they run: a
 * signal handled on the thread then writes its frame into the heap. A
 * signal that arrives meanwhile is delivered when the kernel returns. */
void ct__signals_hold(sigset_t *saved);
void ct__signals_release(const sigset_t *saved);
ct_status ct__rng_set_state(const void *buf, size_t len);

/* ---- tape hooks (tape.c) -------------------------------------------------- */

struct ct__call;
/* True when some active tape watches one of the call's inputs. */
bool ct__tape_wants(const struct ct__call *c);
/* Records a finished call on the active tapes that watch its inputs. */
void ct__tape_record(const struct ct__call *c);
/* Number of tapes recording on this thread (fast check). */
extern CT__TLS int ct__tapes_active;

#endif
