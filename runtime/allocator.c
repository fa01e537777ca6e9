/*
 * The caching allocator every device uses: best-fit with coalescing over
 * large regions obtained from the device (TensorFlow's BFC design).
 *
 * Free chunks sit in bins by size class (bin i holds [256 << i, 256 << (i+1)));
 * a request takes the smallest free chunk that fits, from the first bin
 * with one, and splits off the remainder. Freeing a chunk merges it with
 * free neighbours of the same region. Regions grow by doubling, so a
 * steady workload stops calling the system after its first steps. The
 * limit caps the bytes reserved from the device; when a request would
 * pass it, wholly free regions are returned first, then the request fails
 * with an error naming the request, the limit, what is in use and the
 * peak.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>

#include "runtime/internal.h"

#define MIN_CHUNK 256
#define NUM_BINS 21
#define FIRST_REGION (1u << 20)
#define MAX_GROWTH_REGION ((size_t)1 << 30)
/* Freed chunks up to SMALL_MAX bytes wait in exact-size lists instead of
 * merging back, so the small tensors of eager code are recycled without
 * splitting, merging or bookkeeping allocations (as PyTorch's caching
 * allocator keeps small blocks apart). They merge when memory runs short. */
#define SMALL_MAX (64 * 1024)
#define NUM_SMALL (SMALL_MAX / MIN_CHUNK)

typedef struct region {
    void *base;
    size_t size;
    struct region *next;
    ct__chunk *first;
} region;

struct ct__chunk {
    char *ptr;
    size_t size;
    bool in_use;                    /* allocated, or parked in a small list */
    ct__chunk *prev, *next;         /* address neighbours in the region */
    ct__chunk *bin_prev, *bin_next; /* the free list of its bin         */
    region *reg;
};

struct ct__allocator {
    pthread_mutex_t mu;
    ct_device *dev;
    ct__chunk *bins[NUM_BINS];
    ct__chunk *small[NUM_SMALL + 1]; /* parked chunks by size / MIN_CHUNK */
    size_t small_bytes;
    region *regions;
    size_t next_region;
    bool growth, growth_locked;
    ct_memory_stats st;
};

ct__allocator *ct__allocator_new(ct_device *dev) {
    ct__allocator *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    pthread_mutex_init(&a->mu, NULL);
    a->dev = dev;
    a->next_region = FIRST_REGION;
    a->growth = true;
    a->st.limit = dev->vt->total_memory(dev);
    return a;
}

void *ct__chunk_ptr(const ct__chunk *c) { return c->ptr; }

static int bin_of(size_t size) {
    int b = 0;
    for (size_t s = size / MIN_CHUNK; s > 1 && b < NUM_BINS - 1; s >>= 1) b++;
    return b;
}

static void bin_insert(ct__allocator *a, ct__chunk *c) {
    int b = bin_of(c->size);
    c->bin_prev = NULL;
    c->bin_next = a->bins[b];
    if (a->bins[b]) a->bins[b]->bin_prev = c;
    a->bins[b] = c;
}

static void bin_remove(ct__allocator *a, ct__chunk *c) {
    if (c->bin_prev) c->bin_prev->bin_next = c->bin_next;
    else a->bins[bin_of(c->size)] = c->bin_next;
    if (c->bin_next) c->bin_next->bin_prev = c->bin_prev;
    c->bin_prev = c->bin_next = NULL;
}

static void release_chunk(ct__allocator *a, ct__chunk *c);

/* Returns every parked small chunk to the bins (merging neighbours). */
static void flush_small(ct__allocator *a) {
    for (int i = 0; i <= NUM_SMALL; i++) {
        while (a->small[i]) {
            ct__chunk *c = a->small[i];
            a->small[i] = c->bin_next;
            c->bin_next = NULL;
            release_chunk(a, c);
        }
    }
    a->small_bytes = 0;
}

static ct__chunk *best_fit(ct__allocator *a, size_t size) {
    for (int b = bin_of(size); b < NUM_BINS; b++) {
        ct__chunk *best = NULL;
        for (ct__chunk *c = a->bins[b]; c; c = c->bin_next)
            if (c->size >= size && (!best || c->size < best->size)) best = c;
        if (best) return best;
    }
    return NULL;
}

static bool add_region(ct__allocator *a, size_t size) {
    void *base = a->dev->vt->raw_alloc(a->dev, size);
    region *r = base ? malloc(sizeof *r) : NULL;
    ct__chunk *c = r ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        if (base) a->dev->vt->raw_free(a->dev, base);
        free(r);
        return false;
    }
    r->base = base;
    r->size = size;
    r->first = c;
    r->next = a->regions;
    a->regions = r;
    c->ptr = base;
    c->size = size;
    c->reg = r;
    bin_insert(a, c);
    a->st.reserved += size;
    return true;
}

/* Returns the regions that hold no live chunk to the device. */
static void release_free_regions(ct__allocator *a) {
    for (region **rp = &a->regions; *rp;) {
        region *r = *rp;
        ct__chunk *c = r->first;
        if (!c->in_use && !c->next) {
            bin_remove(a, c);
            free(c);
            a->dev->vt->raw_free(a->dev, r->base);
            a->st.reserved -= r->size;
            *rp = r->next;
            free(r);
        } else {
            rp = &r->next;
        }
    }
}

static bool grow(ct__allocator *a, size_t need) {
    if (!a->growth) {
        /* Reserve the whole limit at once; afterwards never grow. */
        if (a->regions) return false;
        return need <= a->st.limit && add_region(a, a->st.limit);
    }
    size_t size = a->next_region > need ? a->next_region : need;
    if (a->st.reserved + size > a->st.limit) size = need; /* no room to double */
    if (a->st.reserved + size > a->st.limit) {
        flush_small(a);
        release_free_regions(a);
        if (a->st.reserved + size > a->st.limit) return false;
    }
    if (!add_region(a, size)) {
        flush_small(a);
        release_free_regions(a);
        if (!add_region(a, need)) return false;
    }
    if (a->next_region < MAX_GROWTH_REGION) a->next_region *= 2;
    return true;
}

ct__chunk *ct__alloc(ct__allocator *a, size_t bytes, const char *what) {
    size_t size = bytes < MIN_CHUNK ? MIN_CHUNK : (bytes + MIN_CHUNK - 1) & ~(size_t)(MIN_CHUNK - 1);
    pthread_mutex_lock(&a->mu);
    a->growth_locked = true;
    if (size <= SMALL_MAX && a->small[size / MIN_CHUNK]) {
        ct__chunk *c = a->small[size / MIN_CHUNK];
        a->small[size / MIN_CHUNK] = c->bin_next;
        c->bin_next = NULL;
        a->small_bytes -= c->size;
        a->st.in_use += c->size;
        if (a->st.in_use > a->st.peak_in_use) a->st.peak_in_use = a->st.in_use;
        a->st.num_allocs++;
        pthread_mutex_unlock(&a->mu);
        return c;
    }
    ct__chunk *c = best_fit(a, size);
    if (!c && !a->growth && a->small_bytes) {
        flush_small(a);
        c = best_fit(a, size);
    }
    if (!c && grow(a, size)) c = best_fit(a, size);
    if (!c && a->small_bytes) {
        flush_small(a);
        c = best_fit(a, size);
    }
    if (!c) {
        a->st.num_ooms++;
        ct_memory_stats st = a->st;
        pthread_mutex_unlock(&a->mu);
        ct__error(CT_ERR_OUT_OF_MEMORY,
                  "%s: out of memory on %s: requested %zu bytes; limit %zu, in use %zu, "
                  "reserved %zu, peak %zu",
                  what, a->dev->name, bytes, st.limit, st.in_use, st.reserved, st.peak_in_use);
        return NULL;
    }
    bin_remove(a, c);
    if (c->size - size >= MIN_CHUNK) {
        ct__chunk *rest = calloc(1, sizeof *rest);
        if (rest) {
            rest->ptr = c->ptr + size;
            rest->size = c->size - size;
            rest->reg = c->reg;
            rest->prev = c;
            rest->next = c->next;
            if (c->next) c->next->prev = rest;
            c->next = rest;
            c->size = size;
            bin_insert(a, rest);
        }
    }
    c->in_use = true;
    a->st.in_use += c->size;
    if (a->st.in_use > a->st.peak_in_use) a->st.peak_in_use = a->st.in_use;
    a->st.num_allocs++;
    pthread_mutex_unlock(&a->mu);
    return c;
}

void ct__free(ct__allocator *a, ct__chunk *c) {
    if (!c) return;
    pthread_mutex_lock(&a->mu);
    a->st.in_use -= c->size;
    if (c->size <= SMALL_MAX) {
        /* Park it (still counted as taken by its neighbours). */
        c->bin_next = a->small[c->size / MIN_CHUNK];
        a->small[c->size / MIN_CHUNK] = c;
        a->small_bytes += c->size;
    } else {
        release_chunk(a, c);
    }
    pthread_mutex_unlock(&a->mu);
}

/* Marks c free, merges it with free neighbours and bins the result. Called
 * with the lock held. */
static void release_chunk(ct__allocator *a, ct__chunk *c) {
    c->in_use = false;
    if (c->next && !c->next->in_use) { /* absorb the next chunk */
        ct__chunk *n = c->next;
        bin_remove(a, n);
        c->size += n->size;
        c->next = n->next;
        if (n->next) n->next->prev = c;
        free(n);
    }
    if (c->prev && !c->prev->in_use) { /* merge into the previous chunk */
        ct__chunk *p = c->prev;
        bin_remove(a, p);
        p->size += c->size;
        p->next = c->next;
        if (c->next) c->next->prev = p;
        free(c);
        c = p;
    }
    bin_insert(a, c);
}

void ct__allocator_stats(ct__allocator *a, ct_memory_stats *out) {
    pthread_mutex_lock(&a->mu);
    *out = a->st;
    pthread_mutex_unlock(&a->mu);
}

ct_status ct__allocator_set_limit(ct__allocator *a, size_t bytes) {
    ct_status st = CT_OK;
    pthread_mutex_lock(&a->mu);
    if (bytes == 0) bytes = a->dev->vt->total_memory(a->dev);
    if (bytes < a->st.in_use) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "ct_device_set_memory_limit: %s has %zu bytes in use, more than the "
                       "new limit %zu", a->dev->name, a->st.in_use, bytes);
    } else {
        a->st.limit = bytes;
        if (a->st.reserved > bytes) {
            flush_small(a);
            release_free_regions(a);
        }
    }
    pthread_mutex_unlock(&a->mu);
    return st;
}

ct_status ct__allocator_set_growth(ct__allocator *a, bool growth) {
    ct_status st = CT_OK;
    pthread_mutex_lock(&a->mu);
    if (a->growth_locked && growth != a->growth)
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "ct_device_set_memory_growth: %s has already allocated memory; set "
                       "memory growth before the first tensor is placed on it", a->dev->name);
    else
        a->growth = growth;
    pthread_mutex_unlock(&a->mu);
    return st;
}

void ct__allocator_empty_cache(ct__allocator *a) {
    pthread_mutex_lock(&a->mu);
    flush_small(a);
    release_free_regions(a);
    pthread_mutex_unlock(&a->mu);
}
