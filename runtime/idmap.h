/* A small open-addressing map from tensor ids (> 0) to pointers, for the
 * tape's tracked set and its gradient sums. */
#ifndef CT_RUNTIME_IDMAP_H
#define CT_RUNTIME_IDMAP_H

#include <stdint.h>
#include <stdlib.h>

typedef struct ct__idmap {
    int64_t *keys; /* 0 = empty */
    void **vals;
    int64_t cap, n;
} ct__idmap;

static inline uint64_t ct__idhash(int64_t k) {
    uint64_t x = (uint64_t)k * 0x9E3779B97F4A7C15ull;
    return x ^ (x >> 29);
}

static inline void **ct__idmap_slot(const ct__idmap *m, int64_t k) {
    if (!m->cap) return NULL;
    for (uint64_t h = ct__idhash(k) & (uint64_t)(m->cap - 1);; h = (h + 1) & (uint64_t)(m->cap - 1)) {
        if (m->keys[h] == k) return &m->vals[h];
        if (m->keys[h] == 0) return NULL;
    }
}

static inline void *ct__idmap_get(const ct__idmap *m, int64_t k) {
    void **s = ct__idmap_slot(m, k);
    return s ? *s : NULL;
}

static inline int ct__idmap_has(const ct__idmap *m, int64_t k) { return ct__idmap_slot(m, k) != NULL; }

/* Inserts or replaces; returns 0, or -1 when out of memory. */
static inline int ct__idmap_put(ct__idmap *m, int64_t k, void *v) {
    if (2 * (m->n + 1) > m->cap) {
        int64_t cap = m->cap ? m->cap * 2 : 64;
        int64_t *keys = calloc((size_t)cap, sizeof *keys);
        void **vals = calloc((size_t)cap, sizeof *vals);
        if (!keys || !vals) {
            free(keys);
            free(vals);
            return -1;
        }
        for (int64_t i = 0; i < m->cap; i++) {
            if (!m->keys[i]) continue;
            uint64_t h = ct__idhash(m->keys[i]) & (uint64_t)(cap - 1);
            while (keys[h]) h = (h + 1) & (uint64_t)(cap - 1);
            keys[h] = m->keys[i];
            vals[h] = m->vals[i];
        }
        free(m->keys);
        free(m->vals);
        m->keys = keys;
        m->vals = vals;
        m->cap = cap;
    }
    uint64_t h = ct__idhash(k) & (uint64_t)(m->cap - 1);
    while (m->keys[h] && m->keys[h] != k) h = (h + 1) & (uint64_t)(m->cap - 1);
    if (!m->keys[h]) m->n++;
    m->keys[h] = k;
    m->vals[h] = v;
    return 0;
}

static inline void ct__idmap_free(ct__idmap *m) {
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->n = 0;
}

#endif
