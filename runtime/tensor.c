/* Tensors, their storage, reference counts and scopes. */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/internal.h"

static atomic_llong next_id = 1;
static atomic_llong live_tensors = 0;

int64_t ct__numel(int rank, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    return n;
}

/* Per-thread free lists of tensor headers and storage records: eager code
 * makes and drops them by the thousand, and a scope ends by freeing a
 * whole batch, which overflows malloc's own per-thread cache. */
#ifdef __SANITIZE_ADDRESS__
#define FREELIST_MAX 0 /* every header goes back to malloc: ASan sees misuse */
#else
#define FREELIST_MAX 4096
#endif
typedef struct freelist {
    void *head;
    int n;
} freelist;
static CT__TLS freelist tensor_free_list, storage_free_list;

static void *fl_get(freelist *fl, size_t size) {
    void *p = fl->head;
    if (!p) return malloc(size);
    fl->head = *(void **)p;
    fl->n--;
    return p;
}

/* The lists are returned to malloc when their thread exits (pool workers
 * and prefetch threads come and go). */
static pthread_key_t fl_key;
static pthread_once_t fl_once = PTHREAD_ONCE_INIT;
static CT__TLS bool fl_registered;

static void fl_drain(freelist *fl) {
    while (fl->head) {
        void *p = fl->head;
        fl->head = *(void **)p;
        free(p);
    }
    fl->n = 0;
}
static void fl_thread_exit(void *unused) {
    (void)unused;
    fl_drain(&tensor_free_list);
    fl_drain(&storage_free_list);
}
static void fl_key_init(void) { pthread_key_create(&fl_key, fl_thread_exit); }

static void fl_put(freelist *fl, void *p) {
    if (!fl_registered) {
        pthread_once(&fl_once, fl_key_init);
        pthread_setspecific(fl_key, (void *)1);
        fl_registered = true;
    }
    if (fl->n >= FREELIST_MAX) {
        free(p);
        return;
    }
    *(void **)p = fl->head;
    fl->head = p;
    fl->n++;
}

static ct_tensor *tensor_struct(ct_dtype dt, int rank, const int64_t *shape) {
    ct_tensor *t = fl_get(&tensor_free_list, sizeof *t);
    if (!t) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "out of host memory for a tensor header");
        return NULL;
    }
    atomic_init(&t->refs, 1);
    t->id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
    t->dtype = dt;
    t->rank = rank;
    if (rank) memcpy(t->shape, shape, (size_t)rank * sizeof *shape);
    t->size = ct__numel(rank, shape);
    t->storage = NULL;
    t->offset = 0;
    t->var = NULL;
    t->scope = NULL;
    t->scope_slot = -1;
    atomic_fetch_add_explicit(&live_tensors, 1, memory_order_relaxed);
    return t;
}

ct_tensor *ct__tensor_alloc(ct_device *dev, ct_dtype dt, int rank, const int64_t *shape,
                            const char *what) {
    ct_tensor *t = tensor_struct(dt, rank, shape);
    if (!t) return NULL;
    size_t bytes = (size_t)t->size * ct_dtype_size(dt);
    ct__storage *s = fl_get(&storage_free_list, sizeof *s);
    ct__chunk *chunk = s ? ct__alloc(dev->alloc, bytes, what) : NULL;
    if (!chunk) {
        if (!s) ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", what);
        if (s) fl_put(&storage_free_list, s);
        fl_put(&tensor_free_list, t);
        atomic_fetch_sub_explicit(&live_tensors, 1, memory_order_relaxed);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->dev = dev;
    s->chunk = chunk;
    s->data = ct__chunk_ptr(chunk);
    s->bytes = bytes;
    t->storage = s;
    return t;
}

ct_tensor *ct__tensor_view(const ct_tensor *src, int rank, const int64_t *shape,
                           size_t offset) {
    ct_tensor *t = tensor_struct(src->dtype, rank, shape);
    if (!t) return NULL;
    t->storage = src->storage;
    atomic_fetch_add_explicit(&t->storage->refs, 1, memory_order_relaxed);
    t->offset = offset;
    return t;
}

void ct__storage_release(ct__storage *s) {
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
        ct__free(s->dev->alloc, s->chunk);
        fl_put(&storage_free_list, s);
    }
}

void ct__tensor_release(ct_tensor *t) {
    if (!t) return;
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
        if (t->storage) ct__storage_release(t->storage);
        atomic_fetch_sub_explicit(&live_tensors, 1, memory_order_relaxed);
        fl_put(&tensor_free_list, t);
    }
}

int64_t ct_live_tensors(void) { return atomic_load(&live_tensors); }

/* ---- scopes ------------------------------------------------------------------ */

struct ct__scope {
    ct_tensor **items;
    int64_t n, cap;
    ct__scope *parent;
};

static CT__TLS ct__scope *scope_top;
static CT__TLS int scope_depth;
/* Ended scopes, kept with their slot arrays for the next begin; a thread
 * key frees them when the thread exits. */
static CT__TLS ct__scope *scope_pool;
static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_free(void *p) {
    for (ct__scope *s = p, *next; s; s = next) {
        next = s->parent;
        free(s->items);
        free(s);
    }
}
static void pool_key_init(void) { pthread_key_create(&pool_key, pool_free); }

static void pool_push(ct__scope *s) {
    s->parent = scope_pool;
    scope_pool = s;
    pthread_once(&pool_once, pool_key_init);
    pthread_setspecific(pool_key, scope_pool);
}

void ct_scope_begin(void) {
    ct__scope *s = scope_pool;
    if (s) {
        scope_pool = s->parent;
        pthread_setspecific(pool_key, scope_pool);
    } else {
        s = calloc(1, sizeof *s);
    }
    if (!s) abort(); /* a few bytes of host memory: nothing sane to do */
    s->n = 0;
    s->parent = scope_top;
    scope_top = s;
    scope_depth++;
}

void ct_scope_end(void) {
    ct__scope *s = scope_top;
    if (!s) return;
    /* Release newest first, so views go before the tensors they alias. */
    for (int64_t i = s->n - 1; i >= 0; i--) {
        ct_tensor *t = s->items[i];
        if (!t) continue;
        t->scope = NULL;
        t->scope_slot = -1;
        ct__tensor_release(t);
    }
    scope_top = s->parent;
    scope_depth--;
    if (s->cap > 65536) { /* do not hoard a huge slot array */
        free(s->items);
        s->items = NULL;
        s->cap = 0;
    }
    pool_push(s);
}

int ct_scope_depth(void) { return scope_depth; }

static void scope_add(ct__scope *s, ct_tensor *t) {
    if (s->n == s->cap) {
        int64_t cap = s->cap ? s->cap * 2 : 64;
        ct_tensor **items = realloc(s->items, (size_t)cap * sizeof *items);
        if (!items) abort();
        s->items = items;
        s->cap = cap;
    }
    t->scope = s;
    t->scope_slot = s->n;
    s->items[s->n++] = t;
}

static void scope_remove(ct_tensor *t) {
    ct__scope *s = t->scope;
    s->items[t->scope_slot] = NULL;
    /* Keep the list short for loops that free what they make. */
    while (s->n > 0 && s->items[s->n - 1] == NULL) s->n--;
    t->scope = NULL;
    t->scope_slot = -1;
}

ct_tensor *ct__scoped(ct_tensor *t) {
    if (t && scope_top) scope_add(scope_top, t);
    return t;
}

ct_tensor *ct_keep(ct_tensor *t) {
    if (!t || !t->scope) return t;
    ct__scope *parent = t->scope->parent;
    scope_remove(t);
    if (parent) scope_add(parent, t);
    return t;
}

ct_tensor *ct_tensor_ref(ct_tensor *t) { return t ? ct__tensor_retain(t) : NULL; }

void ct_tensor_free(ct_tensor *t) {
    if (!t) return;
    if (t->var && t == t->var->value) return; /* owned by its variable */
    if (t->scope) scope_remove(t);
    ct__tensor_release(t);
}

/* ---- construction and access ------------------------------------------------- */

static ct_status check_shape(const char *api, int rank, const int64_t *shape) {
    if (rank < 0 || rank > CT_MAX_RANK)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: rank %d is outside [0, %d]", api, rank,
                         CT_MAX_RANK);
    if (rank > 0 && !shape)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: rank %d with a NULL shape", api, rank);
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0)
            return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: dimension %d is %" PRId64
                             " in shape %s", api, i, shape[i], CT__SHAPE(rank, shape));
        if (shape[i] && n > INT64_MAX / 16 / shape[i])
            return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: shape %s has too many elements",
                             api, CT__SHAPE(rank, shape));
        n *= shape[i];
    }
    return CT_OK;
}

ct_tensor *ct_constant(const void *data, ct_dtype dtype, int rank, const int64_t *shape) {
    if ((unsigned)dtype >= CT_NUM_DTYPES) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_constant: invalid dtype %d", (int)dtype);
        return NULL;
    }
    if (check_shape("ct_constant", rank, shape)) return NULL;
    ct_device *dev = ct_default_device();
    ct_tensor *t = ct__tensor_alloc(dev, dtype, rank, shape, "ct_constant");
    if (!t) return NULL;
    ct_status st = data ? dev->vt->from_host(dev, ct__data(t), data, ct__nbytes(t))
                        : dev->vt->memset0(dev, ct__data(t), ct__nbytes(t));
    if (st) {
        ct__tensor_release(t);
        return NULL;
    }
    return ct__scoped(t);
}

ct_tensor *ct_scalar_of(ct_dtype dtype, double value) {
    if ((unsigned)dtype >= CT_NUM_DTYPES) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_scalar_of: invalid dtype %d", (int)dtype);
        return NULL;
    }
    unsigned char buf[8];
    ct__store(buf, dtype, 0, value);
    return ct_constant(buf, dtype, CT_SCALAR);
}

ct_tensor *ct_scalar(double value) { return ct_scalar_of(CT_FLOAT32, value); }

ct_dtype ct_tensor_dtype(const ct_tensor *t) { return t ? t->dtype : CT_FLOAT32; }
int ct_tensor_rank(const ct_tensor *t) { return t ? t->rank : -1; }
const int64_t *ct_tensor_shape(const ct_tensor *t) { return t && t->rank ? t->shape : NULL; }
int64_t ct_tensor_size(const ct_tensor *t) { return t ? t->size : -1; }
ct_device *ct_tensor_device(const ct_tensor *t) { return t ? t->storage->dev : NULL; }
int64_t ct_tensor_id(const ct_tensor *t) { return t ? t->id : 0; }

int64_t ct_tensor_dim(const ct_tensor *t, int axis) {
    if (!t) return -1;
    if (axis < 0) axis += t->rank;
    return axis >= 0 && axis < t->rank ? t->shape[axis] : -1;
}

ct_status ct_tensor_read(const ct_tensor *t, ct_dtype as, void *dst, int64_t n) {
    if (!t) return ct_last_status() ? ct_last_status()
                                    : ct__error(CT_ERR_INVALID_ARGUMENT, "ct_tensor_read: NULL tensor");
    if ((unsigned)as >= CT_NUM_DTYPES)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_tensor_read: invalid dtype %d", (int)as);
    if (n < t->size)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "ct_tensor_read: destination holds %" PRId64 " elements, %s has %" PRId64,
                         n, CT__DESC(t), t->size);
    ct_device *dev = t->storage->dev;
    if (dev->kind == CT_DEVICE_CPU) {
        ct__convert(ct__data(t), t->dtype, dst, as, t->size);
        return CT_OK;
    }
    void *tmp = as == t->dtype ? dst : malloc(ct__nbytes(t) + 1);
    if (!tmp) return ct__error(CT_ERR_OUT_OF_MEMORY, "ct_tensor_read: out of host memory");
    ct_status st = dev->vt->to_host(dev, tmp, ct__data(t), ct__nbytes(t));
    if (!st && tmp != dst) ct__convert(tmp, t->dtype, dst, as, t->size);
    if (tmp != dst) free(tmp);
    return st;
}

double ct_tensor_get(const ct_tensor *t, int64_t i) {
    if (!t) return NAN;
    if (i < 0 || i >= t->size) {
        ct__error(CT_ERR_OUT_OF_RANGE, "ct_tensor_get: index %" PRId64 " outside %s", i,
                  CT__DESC(t));
        return NAN;
    }
    unsigned char buf[8];
    size_t es = ct_dtype_size(t->dtype);
    ct_device *dev = t->storage->dev;
    const char *p = (const char *)ct__data(t) + (size_t)i * es;
    if (dev->kind == CT_DEVICE_CPU) return ct__load(p, t->dtype, 0);
    if (dev->vt->to_host(dev, buf, p, es)) return NAN;
    return ct__load(buf, t->dtype, 0);
}

double ct_item(const ct_tensor *t) {
    if (!t) {
        if (!ct_last_status()) ct__error(CT_ERR_INVALID_ARGUMENT, "ct_item: NULL tensor");
        return NAN;
    }
    if (t->size != 1) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_item: %s has %" PRId64 " elements, not 1",
                  CT__DESC(t), t->size);
        return NAN;
    }
    return ct_tensor_get(t, 0);
}

const char *ct_shape_str(int rank, const int64_t *shape, char *buf, size_t cap) {
    size_t n = 0;
    if (!cap) return buf;
    buf[0] = '\0';
    n += (size_t)snprintf(buf + n, cap - n, "[");
    for (int i = 0; i < rank && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ",%" PRId64 : "%" PRId64, shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
    return buf;
}

const char *ct__desc(const ct_tensor *t, char *buf, size_t cap) {
    if (!t) {
        snprintf(buf, cap, "NULL");
        return buf;
    }
    int n = snprintf(buf, cap, "%s", ct_dtype_name(t->dtype));
    if (n > 0 && (size_t)n < cap) ct_shape_str(t->rank, t->shape, buf + n, cap - (size_t)n);
    return buf;
}
