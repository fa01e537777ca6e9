/*
 * CPU convolution kernels. Legend: N = batch (all batch dims folded),
 * I/K/Y = input, kernel and output spatial sizes (three of each, unused
 * ones 1), C = input channels, O = output channels, G = groups, so a group
 * has C/G input and O/G output channels. Memory is channels last:
 * x [N, I0, I1, I2, C], w [K0, K1, K2, C/G, O] (TF's kernel layout), y
 * [N, Y0, Y1, Y2, O].
 *
 * float32 runs oneDNN's convolution primitives on the tensors' own
 * channels-last layout; only the kernel is reordered into the layout the
 * primitive asks for (it is small). Creating a primitive costs far more
 * than running a small convolution, so primitives are cached by geometry
 * (a mutex-protected LRU list, below, that the pooling kernels share).
 * float64 uses plain loops, threaded over output rows: it serves gradient
 * checks, where exactness matters more than speed.
 *
 * This file also owns the process's oneDNN engine and stream.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv.h"

/* ---- oneDNN engine, stream and primitive cache ------------------------------ */

static pthread_once_t dnnl_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t engine;
static dnnl_status_t engine_status;
/* One stream per thread: oneDNN does not promise that threads may submit
 * to one stream at once. The key's destructor frees a thread's stream. */
static pthread_key_t stream_key;

static void stream_free(void *s) { dnnl_stream_destroy(s); }

static void dnnl_init(void) {
    engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0);
    if (engine_status == dnnl_success && pthread_key_create(&stream_key, stream_free))
        engine_status = dnnl_out_of_memory;
}

ct_status ct__dnnl_error(const char *what, dnnl_status_t s) {
    const char *why = s == dnnl_out_of_memory       ? "out of memory"
                      : s == dnnl_invalid_arguments ? "invalid arguments"
                      : s == dnnl_unimplemented     ? "no implementation for these sizes"
                                                    : "error";
    return ct__error(s == dnnl_out_of_memory ? CT_ERR_OUT_OF_MEMORY : CT_ERR_INTERNAL,
                     "oneDNN %s failed: %s (status %d)", what, why, (int)s);
}

dnnl_engine_t ct__dnnl_engine(void) {
    pthread_once(&dnnl_once, dnnl_init);
    if (engine_status != dnnl_success) {
        ct__dnnl_error("engine creation", engine_status);
        return NULL;
    }
    return engine;
}

dnnl_stream_t ct__dnnl_stream(void) {
    if (!ct__dnnl_engine()) return NULL;
    dnnl_stream_t s = pthread_getspecific(stream_key);
    if (s) return s;
    dnnl_status_t st = dnnl_stream_create(&s, engine, dnnl_stream_default_flags);
    if (st != dnnl_success) {
        ct__dnnl_error("stream creation", st);
        return NULL;
    }
    if (pthread_setspecific(stream_key, s)) {
        dnnl_stream_destroy(s);
        ct__error(CT_ERR_OUT_OF_MEMORY, "out of memory for a oneDNN stream");
        return NULL;
    }
    return s;
}

#define CACHE_CAPACITY 256

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static ct__dnnl_entry *cache_head, *cache_tail;
static int cache_count;

void ct__dnnl_release(ct__dnnl_entry *e) {
    if (e && atomic_fetch_sub(&e->refs, 1) == 1) e->destroy(e);
}

static void unlink_entry(ct__dnnl_entry *e) {
    if (e->prev) e->prev->next = e->next;
    else cache_head = e->next;
    if (e->next) e->next->prev = e->prev;
    else cache_tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(ct__dnnl_entry *e) {
    e->prev = NULL;
    e->next = cache_head;
    if (cache_head) cache_head->prev = e;
    cache_head = e;
    if (!cache_tail) cache_tail = e;
}

/* The cached entry for key with a reference for the caller; the lock is
 * held. */
static ct__dnnl_entry *find_locked(const void *key, size_t key_size) {
    for (ct__dnnl_entry *e = cache_head; e; e = e->next) {
        if (e->key_size != key_size || memcmp(e->key, key, key_size)) continue;
        if (e != cache_head) {
            unlink_entry(e);
            push_front(e);
        }
        atomic_fetch_add(&e->refs, 1);
        return e;
    }
    return NULL;
}

ct__dnnl_entry *ct__dnnl_lookup(const void *key, size_t key_size,
                                ct__dnnl_entry *(*build)(const void *key)) {
    if (key_size > sizeof ((ct__dnnl_entry *)0)->key) {
        ct__error(CT_ERR_INTERNAL, "oneDNN cache key of %zu bytes is too long", key_size);
        return NULL;
    }
    pthread_mutex_lock(&cache_mu);
    ct__dnnl_entry *e = find_locked(key, key_size);
    pthread_mutex_unlock(&cache_mu);
    if (e) return e;
    /* Built without the lock: creating a primitive takes milliseconds. */
    ct__dnnl_entry *fresh = build(key);
    if (!fresh) return NULL;
    memcpy(fresh->key, key, key_size);
    fresh->key_size = key_size;
    atomic_init(&fresh->refs, 2); /* the cache's and the caller's */
    ct__dnnl_entry *evicted = NULL;
    pthread_mutex_lock(&cache_mu);
    e = find_locked(key, key_size); /* another thread may have built it */
    if (!e) {
        push_front(fresh);
        e = fresh;
        fresh = NULL;
        if (++cache_count > CACHE_CAPACITY) {
            evicted = cache_tail;
            unlink_entry(evicted);
            cache_count--;
        }
    }
    pthread_mutex_unlock(&cache_mu);
    if (fresh) fresh->destroy(fresh);
    ct__dnnl_release(evicted);
    return e;
}

/* ---- plain loops (float64, and float32 when oneDNN has no primitive) ------ */

/* The sizes the loops read, from a geometry. */
#define GEOM_LOCALS(g)                                                                    \
    const int64_t I0 = (g)->in[0], I1 = (g)->in[1], I2 = (g)->in[2];                      \
    const int64_t K0 = (g)->k[0], K1 = (g)->k[1], K2 = (g)->k[2];                         \
    const int64_t Y0 = (g)->out[0], Y1 = (g)->out[1], Y2 = (g)->out[2];                   \
    const int64_t s0 = (g)->s[0], s1 = (g)->s[1], s2 = (g)->s[2];                         \
    const int64_t d0 = (g)->d[0], d1 = (g)->d[1], d2 = (g)->d[2];                         \
    const int64_t p0 = (g)->pl[0], p1 = (g)->pl[1], p2 = (g)->pl[2];                      \
    const int64_t C = (g)->c, O = (g)->o, G = (g)->groups, CG = C / G, OG = O / G;        \
    (void)I0; (void)I1; (void)I2; (void)K0; (void)K1; (void)K2; (void)Y0; (void)Y1;       \
    (void)Y2; (void)s0; (void)s1; (void)s2; (void)d0; (void)d1; (void)d2; (void)p0;       \
    (void)p1; (void)p2; (void)CG; (void)OG

/* y = conv(x, w): one output row (n, y0, y1) per iteration; each output
 * pixel accumulates w's contiguous rows of O scaled by one input value. */
#define DEFINE_LOOPS(SUF, T)                                                              \
    static void conv_fwd_##SUF(const ct__conv_geom *g, const T *x, const T *w, T *y) {     \
        GEOM_LOCALS(g);                                                                   \
        int64_t rows = g->batch * Y0 * Y1;                                                \
        int nt = ct__threads_for(rows, Y2 * K0 * K1 * K2 * CG * O / 4 + 1);               \
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")          \
        for (int64_t r = 0; r < rows; r++) {                                              \
            int64_t n = r / (Y0 * Y1), o0 = r / Y1 % Y0, o1 = r % Y1;                      \
            for (int64_t o2 = 0; o2 < Y2; o2++) {                                         \
                T *yr = y + (r * Y2 + o2) * O;                                            \
                for (int64_t o = 0; o < O; o++) yr[o] = 0;                                \
                for (int64_t k0 = 0; k0 < K0; k0++) {                                     \
                    int64_t i0 = o0 * s0 - p0 + k0 * d0;                                  \
                    if (i0 < 0 || i0 >= I0) continue;                                     \
                    for (int64_t k1 = 0; k1 < K1; k1++) {                                 \
                        int64_t i1 = o1 * s1 - p1 + k1 * d1;                              \
                        if (i1 < 0 || i1 >= I1) continue;                                 \
                        for (int64_t k2 = 0; k2 < K2; k2++) {                             \
                            int64_t i2 = o2 * s2 - p2 + k2 * d2;                          \
                            if (i2 < 0 || i2 >= I2) continue;                             \
                            const T *xr = x + (((n * I0 + i0) * I1 + i1) * I2 + i2) * C;   \
                            const T *wk = w + ((k0 * K1 + k1) * K2 + k2) * CG * O;         \
                            for (int64_t gi = 0; gi < G; gi++)                            \
                                for (int64_t i = 0; i < CG; i++) {                        \
                                    T xv = xr[gi * CG + i];                               \
                                    const T *wr = wk + i * O + gi * OG;                   \
                                    T *yg = yr + gi * OG;                                 \
                                    for (int64_t o = 0; o < OG; o++) yg[o] += xv * wr[o]; \
                                }                                                         \
                        }                                                                 \
                    }                                                                     \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
    /* dx = conv^T(dy, w), gathered per input pixel from the outputs whose     \
     * windows cover it. */                                                              \
    static void conv_bwd_data_##SUF(const ct__conv_geom *g, const T *dy, const T *w,      \
                                    T *dx) {                                              \
        GEOM_LOCALS(g);                                                                   \
        int64_t rows = g->batch * I0 * I1;                                                \
        int nt = ct__threads_for(rows, I2 * K0 * K1 * K2 * CG * O / 4 + 1);               \
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")          \
        for (int64_t r = 0; r < rows; r++) {                                              \
            int64_t n = r / (I0 * I1), i0 = r / I1 % I0, i1 = r % I1;                      \
            for (int64_t i2 = 0; i2 < I2; i2++) {                                         \
                T *xr = dx + (r * I2 + i2) * C;                                           \
                for (int64_t ch = 0; ch < C; ch++) xr[ch] = 0;                            \
                for (int64_t k0 = 0; k0 < K0; k0++) {                                     \
                    int64_t t0 = i0 + p0 - k0 * d0;                                       \
                    if (t0 < 0 || t0 % s0 || t0 / s0 >= Y0) continue;                     \
                    for (int64_t k1 = 0; k1 < K1; k1++) {                                 \
                        int64_t t1 = i1 + p1 - k1 * d1;                                   \
                        if (t1 < 0 || t1 % s1 || t1 / s1 >= Y1) continue;                 \
                        for (int64_t k2 = 0; k2 < K2; k2++) {                             \
                            int64_t t2 = i2 + p2 - k2 * d2;                               \
                            if (t2 < 0 || t2 % s2 || t2 / s2 >= Y2) continue;             \
                            const T *dr =                                                 \
                                dy + (((n * Y0 + t0 / s0) * Y1 + t1 / s1) * Y2 + t2 / s2) * O; \
                            const T *wk = w + ((k0 * K1 + k1) * K2 + k2) * CG * O;         \
                            for (int64_t gi = 0; gi < G; gi++)                            \
                                for (int64_t i = 0; i < CG; i++) {                        \
                                    const T *wr = wk + i * O + gi * OG;                   \
                                    const T *dg = dr + gi * OG;                           \
                                    T acc = 0;                                            \
                                    for (int64_t o = 0; o < OG; o++) acc += dg[o] * wr[o]; \
                                    xr[gi * CG + i] += acc;                               \
                                }                                                         \
                        }                                                                 \
                    }                                                                     \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
    /* dw = corr(x, dy): each kernel position (one per iteration) sums the     \
     * outer products of the input pixels it met and the output gradients. */ \
    static void conv_bwd_weights_##SUF(const ct__conv_geom *g, const T *x, const T *dy,   \
                                       T *dw) {                                           \
        GEOM_LOCALS(g);                                                                   \
        int64_t kvol = K0 * K1 * K2;                                                      \
        int nt = ct__threads_for(kvol, g->batch * Y0 * Y1 * Y2 * CG * O / 4 + 1);         \
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")          \
        for (int64_t kk = 0; kk < kvol; kk++) {                                           \
            int64_t k0 = kk / (K1 * K2), k1 = kk / K2 % K1, k2 = kk % K2;                 \
            T *dwk = dw + kk * CG * O;                                                    \
            for (int64_t j = 0; j < CG * O; j++) dwk[j] = 0;                              \
            for (int64_t n = 0; n < g->batch; n++)                                        \
                for (int64_t o0 = 0; o0 < Y0; o0++) {                                     \
                    int64_t i0 = o0 * s0 - p0 + k0 * d0;                                  \
                    if (i0 < 0 || i0 >= I0) continue;                                     \
                    for (int64_t o1 = 0; o1 < Y1; o1++) {                                 \
                        int64_t i1 = o1 * s1 - p1 + k1 * d1;                              \
                        if (i1 < 0 || i1 >= I1) continue;                                 \
                        for (int64_t o2 = 0; o2 < Y2; o2++) {                             \
                            int64_t i2 = o2 * s2 - p2 + k2 * d2;                          \
                            if (i2 < 0 || i2 >= I2) continue;                             \
                            const T *xr = x + (((n * I0 + i0) * I1 + i1) * I2 + i2) * C;   \
                            const T *dr = dy + (((n * Y0 + o0) * Y1 + o1) * Y2 + o2) * O;  \
                            for (int64_t gi = 0; gi < G; gi++)                            \
                                for (int64_t i = 0; i < CG; i++) {                        \
                                    T xv = xr[gi * CG + i];                               \
                                    T *dwr = dwk + i * O + gi * OG;                       \
                                    const T *dg = dr + gi * OG;                           \
                                    for (int64_t o = 0; o < OG; o++) dwr[o] += xv * dg[o]; \
                                }                                                         \
                        }                                                                 \
                    }                                                                     \
                }                                                                         \
        }                                                                                 \
    }

DEFINE_LOOPS(f32, float)
DEFINE_LOOPS(f64, double)

/* ---- oneDNN convolution primitives (float32) ------------------------------ */

enum { CONV_FWD, CONV_BWD_DATA, CONV_BWD_WEIGHTS };

typedef struct conv_key {
    int kind, nsp;
    int64_t batch, c, o, groups;
    int64_t in[3], k[3], out[3], s[3], d[3], pl[3], pr[3];
} conv_key;

typedef struct conv_entry {
    ct__dnnl_entry base;
    dnnl_primitive_t prim;
    dnnl_primitive_t wreorder;  /* TF kernel <-> the primitive's layout; NULL:
                                   the primitive reads TF's layout as is  */
    dnnl_memory_desc_t x_md, y_md, w_user_md, w_md;
} conv_entry;

static void conv_entry_destroy(ct__dnnl_entry *base) {
    conv_entry *e = (conv_entry *)base;
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->wreorder) dnnl_primitive_destroy(e->wreorder);
    free(e);
}

/* A channels-last data descriptor [N, ch, spatial...] in oneDNN's order. */
static dnnl_status_t data_md(dnnl_memory_desc_t *md, const conv_key *k, int64_t ch,
                             const int64_t *sp) {
    dnnl_dims_t dims, strides;
    int64_t st = ch;
    dims[0] = k->batch;
    dims[1] = ch;
    strides[1] = 1;
    for (int i = k->nsp - 1; i >= 0; i--) {
        dims[2 + i] = sp[i];
        strides[2 + i] = st;
        st *= sp[i];
    }
    strides[0] = st;
    return dnnl_memory_desc_init_by_strides(md, k->nsp + 2, dims, dnnl_f32, strides);
}

/* The kernel: oneDNN's dims are [O, C, k...] ([G, O/G, C/G, k...] with
 * groups); TF's memory is [k..., C/G, O]. any: let the primitive choose. */
static dnnl_status_t weights_md(dnnl_memory_desc_t *md, const conv_key *k, bool any) {
    int64_t cg = k->c / k->groups, og = k->o / k->groups;
    dnnl_dims_t dims, strides, kstr;
    kstr[k->nsp - 1] = cg * k->o;
    for (int i = k->nsp - 2; i >= 0; i--) kstr[i] = kstr[i + 1] * k->k[i + 1];
    int nd = 0;
    if (k->groups > 1) {
        dims[nd] = k->groups;
        strides[nd++] = og;
    }
    dims[nd] = og;
    strides[nd++] = 1;
    dims[nd] = cg;
    strides[nd++] = k->o;
    for (int i = 0; i < k->nsp; i++) {
        dims[nd] = k->k[i];
        strides[nd++] = kstr[i];
    }
    if (any) return dnnl_memory_desc_init_by_tag(md, nd, dims, dnnl_f32, dnnl_format_tag_any);
    return dnnl_memory_desc_init_by_strides(md, nd, dims, dnnl_f32, strides);
}

#define DNNL_TRY(call, what)                                                              \
    do {                                                                                  \
        dnnl_status_t s_ = (call);                                                        \
        if (s_ != dnnl_success) {                                                         \
            ct__dnnl_error(what, s_);                                                     \
            goto fail;                                                                    \
        }                                                                                 \
    } while (0)

static ct__dnnl_entry *conv_build(const void *keyp) {
    const conv_key *k = keyp;
    dnnl_engine_t eng = ct__dnnl_engine();
    if (!eng) return NULL;
    conv_entry *e = calloc(1, sizeof *e);
    if (!e) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "out of host memory for a oneDNN primitive");
        return NULL;
    }
    e->base.destroy = conv_entry_destroy;
    dnnl_primitive_desc_t fpd = NULL, pd = NULL, rpd = NULL;
    dnnl_memory_desc_t w_any;
    dnnl_dims_t strides, dil, pl, pr;
    for (int i = 0; i < k->nsp; i++) {
        strides[i] = k->s[i];
        dil[i] = k->d[i] - 1;
        pl[i] = k->pl[i];
        pr[i] = k->pr[i];
    }
    DNNL_TRY(data_md(&e->x_md, k, k->c, k->in), "memory descriptor");
    DNNL_TRY(data_md(&e->y_md, k, k->o, k->out), "memory descriptor");
    DNNL_TRY(weights_md(&e->w_user_md, k, false), "memory descriptor");
    DNNL_TRY(weights_md(&w_any, k, true), "memory descriptor");
    dnnl_convolution_desc_t fd, bd;
    DNNL_TRY(dnnl_dilated_convolution_forward_desc_init(
                 &fd, dnnl_forward_training, dnnl_convolution_direct, &e->x_md, &w_any, NULL,
                 &e->y_md, strides, dil, pl, pr),
             "convolution descriptor");
    dnnl_status_t ps = dnnl_primitive_desc_create(&fpd, &fd, NULL, eng, NULL);
    dnnl_query_t wq = dnnl_query_weights_md;
    if (ps == dnnl_success && k->kind == CONV_FWD) {
        pd = fpd;
        fpd = NULL;
    } else if (ps == dnnl_success && k->kind == CONV_BWD_DATA) {
        DNNL_TRY(dnnl_dilated_convolution_backward_data_desc_init(
                     &bd, dnnl_convolution_direct, &e->x_md, &w_any, &e->y_md, strides, dil,
                     pl, pr),
                 "convolution descriptor");
        ps = dnnl_primitive_desc_create(&pd, &bd, NULL, eng, fpd);
    } else if (ps == dnnl_success) {
        DNNL_TRY(dnnl_dilated_convolution_backward_weights_desc_init(
                     &bd, dnnl_convolution_direct, &e->x_md, &w_any, NULL, &e->y_md, strides,
                     dil, pl, pr),
                 "convolution descriptor");
        ps = dnnl_primitive_desc_create(&pd, &bd, NULL, eng, fpd);
        wq = dnnl_query_diff_weights_md;
    }
    if (ps == dnnl_unimplemented) { /* an entry without a primitive: use the loops */
        if (fpd) dnnl_primitive_desc_destroy(fpd);
        return &e->base;
    }
    DNNL_TRY(ps, "convolution");
    e->w_md = *dnnl_primitive_desc_query_md(pd, wq, 0);
    if (!dnnl_memory_desc_equal(&e->w_md, &e->w_user_md)) {
        if (k->kind == CONV_BWD_WEIGHTS)
            DNNL_TRY(dnnl_reorder_primitive_desc_create(&rpd, &e->w_md, eng, &e->w_user_md, eng,
                                                        NULL),
                     "reorder");
        else
            DNNL_TRY(dnnl_reorder_primitive_desc_create(&rpd, &e->w_user_md, eng, &e->w_md, eng,
                                                        NULL),
                     "reorder");
        DNNL_TRY(dnnl_primitive_create(&e->wreorder, rpd), "reorder");
    }
    DNNL_TRY(dnnl_primitive_create(&e->prim, pd), "convolution");
    dnnl_primitive_desc_destroy(pd);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    return &e->base;
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    conv_entry_destroy(&e->base);
    return NULL;
}

static void conv_key_of(conv_key *k, int kind, const ct__conv_geom *g) {
    memset(k, 0, sizeof *k);
    k->kind = kind;
    k->nsp = g->nsp;
    k->batch = g->batch;
    k->c = g->c;
    k->o = g->o;
    k->groups = g->groups;
    for (int i = 0; i < g->nsp; i++) {
        k->in[i] = g->in[i];
        k->k[i] = g->k[i];
        k->out[i] = g->out[i];
        k->s[i] = g->s[i];
        k->d[i] = g->d[i];
        k->pl[i] = g->pl[i];
        k->pr[i] = g->pr[i];
    }
}

/* Runs one float32 convolution of kind on x, w, y (each the data pointer
 * of its tensor; w is TF's kernel, y the output side). */
static ct_status conv_dnnl(const ct__call *c, int kind, const ct__conv_geom *g, float *x,
                           float *w, float *y) {
    conv_key key;
    conv_key_of(&key, kind, g);
    conv_entry *e = (conv_entry *)ct__dnnl_lookup(&key, sizeof key, conv_build);
    if (!e) return ct__call_error(c, ct_last_status(), "%s", ct_last_error());
    if (!e->prim) { /* oneDNN has no implementation for this geometry */
        ct__dnnl_release(&e->base);
        if (kind == CONV_FWD) conv_fwd_f32(g, x, w, y);
        else if (kind == CONV_BWD_DATA) conv_bwd_data_f32(g, y, w, x);
        else conv_bwd_weights_f32(g, x, y, w);
        return CT_OK;
    }
    dnnl_engine_t eng = ct__dnnl_engine();
    dnnl_stream_t str = ct__dnnl_stream();
    dnnl_memory_t mx = NULL, my = NULL, mwu = NULL, mw = NULL;
    void *wbuf = NULL;
    ct_status st = CT_OK;
    sigset_t saved;
    bool held = false;
    if (!str) goto fail;
    DNNL_TRY(dnnl_memory_create(&mx, &e->x_md, eng, x), "memory");
    DNNL_TRY(dnnl_memory_create(&my, &e->y_md, eng, y), "memory");
    DNNL_TRY(dnnl_memory_create(&mwu, &e->w_user_md, eng, w), "memory");
    if (e->wreorder) {
        size_t bytes = dnnl_memory_desc_get_size(&e->w_md);
        wbuf = aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!wbuf) {
            st = ct__call_error(c, CT_ERR_OUT_OF_MEMORY, "out of host memory (%zu bytes)",
                                bytes);
            goto done;
        }
        DNNL_TRY(dnnl_memory_create(&mw, &e->w_md, eng, wbuf), "memory");
    } else {
        mw = mwu;
    }
    ct__threads_sync();
    /* A convolution may run on oneDNN's GEMM kernels, which cannot take a
     * signal (ct__signals_hold). */
    ct__signals_hold(&saved);
    held = true;
    if (kind != CONV_BWD_WEIGHTS && e->wreorder) {
        dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, mwu}, {DNNL_ARG_TO, mw}};
        DNNL_TRY(dnnl_primitive_execute(e->wreorder, str, 2, ra), "reorder");
    }
    dnnl_exec_arg_t args[3];
    if (kind == CONV_FWD) {
        args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, mx};
        args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, mw};
        args[2] = (dnnl_exec_arg_t){DNNL_ARG_DST, my};
    } else if (kind == CONV_BWD_DATA) {
        args[0] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_SRC, mx};
        args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, mw};
        args[2] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, my};
    } else {
        args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, mx};
        args[1] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_WEIGHTS, mw};
        args[2] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, my};
    }
    DNNL_TRY(dnnl_primitive_execute(e->prim, str, 3, args), "convolution");
    if (kind == CONV_BWD_WEIGHTS && e->wreorder) {
        dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, mw}, {DNNL_ARG_TO, mwu}};
        DNNL_TRY(dnnl_primitive_execute(e->wreorder, str, 2, ra), "reorder");
    }
    DNNL_TRY(dnnl_stream_wait(str), "stream wait");
    goto done;
fail:
    st = ct__call_error(c, ct_last_status(), "%s", ct_last_error());
done:
    if (held) ct__signals_release(&saved);
    if (mx) dnnl_memory_destroy(mx);
    if (my) dnnl_memory_destroy(my);
    if (mw && mw != mwu) dnnl_memory_destroy(mw);
    if (mwu) dnnl_memory_destroy(mwu);
    free(wbuf);
    ct__dnnl_release(&e->base);
    return st;
}

/* ---- kernels ---------------------------------------------------------------- */

static void zero(ct_tensor *t) { memset(ct__data(t), 0, ct__nbytes(t)); }

static ct_status no_kernel(const ct__call *c, const ct_tensor *t) {
    return ct__call_error(c, CT_ERR_UNIMPLEMENTED, "no CPU kernel for %s", CT__DESC(t));
}

ct_status ct__cpu_conv(ct__call *c) {
    const ct__conv_attrs *a = c->attrs;
    ct_tensor *x = c->in[0], *w = c->in[1], *y = c->out[0];
    ct__conv_geom g;
    ct_status st = ct__conv_geom_of(c, a, x->rank, x->shape, w->shape, &g);
    if (st || y->size == 0) return st;
    if (x->size == 0) { /* only an empty input spatial dim with padding */
        zero(y);
        return CT_OK;
    }
    switch (y->dtype) {
    case CT_FLOAT32:
        return conv_dnnl(c, CONV_FWD, &g, ct__data(x), ct__data(w), ct__data(y));
    case CT_FLOAT64: conv_fwd_f64(&g, ct__data(x), ct__data(w), ct__data(y)); return CT_OK;
    default: return no_kernel(c, y);
    }
}

ct_status ct__cpu_conv_backprop_input(ct__call *c) {
    const ct__conv_attrs *a = c->attrs;
    ct_tensor *dy = c->in[0], *w = c->in[1], *dx = c->out[0];
    ct__conv_geom g;
    ct_status st = ct__conv_geom_of(c, a, a->rank, a->shape, w->shape, &g);
    if (st || dx->size == 0) return st;
    if (dy->size == 0) {
        zero(dx);
        return CT_OK;
    }
    switch (dx->dtype) {
    case CT_FLOAT32:
        return conv_dnnl(c, CONV_BWD_DATA, &g, ct__data(dx), ct__data(w), ct__data(dy));
    case CT_FLOAT64:
        conv_bwd_data_f64(&g, ct__data(dy), ct__data(w), ct__data(dx));
        return CT_OK;
    default: return no_kernel(c, dx);
    }
}

ct_status ct__cpu_conv_backprop_filter(ct__call *c) {
    const ct__conv_attrs *a = c->attrs;
    ct_tensor *x = c->in[0], *dy = c->in[1], *dw = c->out[0];
    ct__conv_geom g;
    ct_status st = ct__conv_geom_of(c, a, x->rank, x->shape, a->shape, &g);
    if (st || dw->size == 0) return st;
    if (dy->size == 0 || x->size == 0) {
        zero(dw);
        return CT_OK;
    }
    switch (dw->dtype) {
    case CT_FLOAT32:
        return conv_dnnl(c, CONV_BWD_WEIGHTS, &g, ct__data(x), ct__data(dw), ct__data(dy));
    case CT_FLOAT64:
        conv_bwd_weights_f64(&g, ct__data(x), ct__data(dy), ct__data(dw));
        return CT_OK;
    default: return no_kernel(c, dw);
    }
}
