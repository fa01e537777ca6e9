/*
 * CPU pooling kernels. Legend as in ops/cpu/conv.c: x [N, I0, I1, I2, C],
 * y [N, Y0, Y1, Y2, C], window K0 x K1 x K2 with strides s and leading
 * padding p (unused spatial dims have size 1).
 *
 * Forward float32 pooling runs oneDNN's pooling primitive on the
 * channels-last tensors (cached like the convolutions). Everything else
 * is a plain loop over channels-last rows, vectorised along C: float64 and
 * integer pooling, and the gradients, which are memory-bound anyway.
 *
 * Max pooling takes each window's first maximum in row-major window order
 * (a later element must be strictly greater to win), as TF's CPU kernels
 * do when they route gradients; a NaN never replaces a value.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/pool.h"

/* The clipped window [b, e) of output o along one dim. */
#define WINDOW(o, s, p, K, I, b, e)                                                       \
    int64_t b = (o) * (s) - (p), e = b + (K);                                             \
    if (b < 0) b = 0;                                                                     \
    if (e > (I)) e = (I)

#define POOL_LOCALS(g)                                                                    \
    const int64_t I0 = (g)->in[0], I1 = (g)->in[1], I2 = (g)->in[2];                      \
    const int64_t K0 = (g)->k[0], K1 = (g)->k[1], K2 = (g)->k[2];                         \
    const int64_t Y0 = (g)->out[0], Y1 = (g)->out[1], Y2 = (g)->out[2];                   \
    const int64_t s0 = (g)->s[0], s1 = (g)->s[1], s2 = (g)->s[2];                         \
    const int64_t p0 = (g)->pl[0], p1 = (g)->pl[1], p2 = (g)->pl[2];                      \
    const int64_t C = (g)->c, KV = K0 * K1 * K2;                                          \
    (void)KV

/* Loops over output pixel (n, o0, o1, o2) with row pointer index r * Y2 +
 * o2 and the clipped window bounds a0..e2 in scope. */
#define FOR_WINDOWS(BODY)                                                                 \
    for (int64_t o2 = 0; o2 < Y2; o2++) {                                                 \
        WINDOW(o0, s0, p0, K0, I0, a0, e0);                                               \
        WINDOW(o1, s1, p1, K1, I1, a1, e1);                                               \
        WINDOW(o2, s2, p2, K2, I2, a2, e2);                                               \
        BODY                                                                              \
    }

#define XROW(n, i0, i1, i2) ((((n) * I0 + (i0)) * I1 + (i1)) * I2 + (i2)) * C

/* Forward max and average pooling; one output row (n, o0, o1) per
 * iteration. */
#define DEFINE_FWD(SUF, T, ACC)                                                           \
    static void max_fwd_##SUF(const ct__conv_geom *g, const T *x, T *y) {                 \
        POOL_LOCALS(g);                                                                   \
        int64_t rows = g->batch * Y0 * Y1;                                                \
        int nt = ct__threads_for(rows, Y2 * KV * C / 4 + 1);                              \
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")          \
        for (int64_t r = 0; r < rows; r++) {                                              \
            int64_t n = r / (Y0 * Y1), o0 = r / Y1 % Y0, o1 = r % Y1;                      \
            FOR_WINDOWS({                                                                 \
                T *yr = y + (r * Y2 + o2) * C;                                            \
                bool first = true;                                                        \
                for (int64_t i0 = a0; i0 < e0; i0++)                                      \
                    for (int64_t i1 = a1; i1 < e1; i1++)                                  \
                        for (int64_t i2 = a2; i2 < e2; i2++) {                            \
                            const T *xr = x + XROW(n, i0, i1, i2);                        \
                            if (first) {                                                  \
                                memcpy(yr, xr, (size_t)C * sizeof *yr);                   \
                                first = false;                                            \
                                continue;                                                 \
                            }                                                             \
                            for (int64_t ch = 0; ch < C; ch++)                            \
                                yr[ch] = xr[ch] > yr[ch] ? xr[ch] : yr[ch];               \
                        }                                                                 \
            })                                                                            \
        }                                                                                 \
    }                                                                                     \
    static void avg_fwd_##SUF(const ct__conv_geom *g, const T *x, T *y) {                 \
        POOL_LOCALS(g);                                                                   \
        int64_t rows = g->batch * Y0 * Y1;                                                \
        int nt = ct__threads_for(rows, Y2 * KV * C / 4 + 1);                              \
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")          \
        for (int64_t r = 0; r < rows; r++) {                                              \
            int64_t n = r / (Y0 * Y1), o0 = r / Y1 % Y0, o1 = r % Y1;                      \
            FOR_WINDOWS({                                                                 \
                T *yr = y + (r * Y2 + o2) * C;                                            \
                for (int64_t ch = 0; ch < C; ch++) yr[ch] = 0;                            \
                for (int64_t i0 = a0; i0 < e0; i0++)                                      \
                    for (int64_t i1 = a1; i1 < e1; i1++)                                  \
                        for (int64_t i2 = a2; i2 < e2; i2++) {                            \
                            const T *xr = x + XROW(n, i0, i1, i2);                        \
                            for (int64_t ch = 0; ch < C; ch++) yr[ch] += xr[ch];          \
                        }                                                                 \
                ACC cnt = (ACC)((e0 - a0) * (e1 - a1) * (e2 - a2));                       \
                for (int64_t ch = 0; ch < C; ch++) yr[ch] = (T)(yr[ch] / cnt);            \
            })                                                                            \
        }                                                                                 \
    }

DEFINE_FWD(f32, float, float)
DEFINE_FWD(f64, double, double)

/* Integer max pooling (average pooling takes floats only). */
#define DEFINE_MAX_ONLY(SUF, T)                                                           \
    static void max_fwd_##SUF(const ct__conv_geom *g, const T *x, T *y) {                 \
        POOL_LOCALS(g);                                                                   \
        int64_t rows = g->batch * Y0 * Y1;                                                \
        int nt = ct__threads_for(rows, Y2 * KV * C / 4 + 1);                              \
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")          \
        for (int64_t r = 0; r < rows; r++) {                                              \
            int64_t n = r / (Y0 * Y1), o0 = r / Y1 % Y0, o1 = r % Y1;                      \
            FOR_WINDOWS({                                                                 \
                T *yr = y + (r * Y2 + o2) * C;                                            \
                bool first = true;                                                        \
                for (int64_t i0 = a0; i0 < e0; i0++)                                      \
                    for (int64_t i1 = a1; i1 < e1; i1++)                                  \
                        for (int64_t i2 = a2; i2 < e2; i2++) {                            \
                            const T *xr = x + XROW(n, i0, i1, i2);                        \
                            if (first) {                                                  \
                                memcpy(yr, xr, (size_t)C * sizeof *yr);                   \
                                first = false;                                            \
                                continue;                                                 \
                            }                                                             \
                            for (int64_t ch = 0; ch < C; ch++)                            \
                                yr[ch] = xr[ch] > yr[ch] ? xr[ch] : yr[ch];               \
                        }                                                                 \
            })                                                                            \
        }                                                                                 \
    }

DEFINE_MAX_ONLY(i32, int32_t)
DEFINE_MAX_ONLY(i64, int64_t)
DEFINE_MAX_ONLY(u8, uint8_t)

/* Gradients. The first maximum of each window per channel is found with
 * a running best and its offset into x (per-thread scratch of C each).
 * route: dx[argmax] += dy (one batch item per iteration, so writes never
 * collide); gather: gy = g[argmax] (one output row per iteration). */
#define DEFINE_GRADS(SUF, T)                                                              \
    /* The first maximum per channel of one window: best[] and its window  \
     * position k[] (32-bit like the values, so the loop vectorises with    \
     * blends); offs[k] is that position's row offset into x. Returns the  \
     * number of positions (0 for an empty window). */                      \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))          \
    static int argmax_window_##SUF(const T *restrict x, int64_t n, int64_t a0, int64_t e0,    \
                                   int64_t a1, int64_t e1, int64_t a2, int64_t e2,          \
                                   int64_t I0, int64_t I1, int64_t I2, int64_t C,           \
                                   T *restrict best, int32_t *restrict k,                    \
                                   int64_t *restrict offs) {                                \
        int32_t pos = 0;                                                                  \
        for (int64_t i0 = a0; i0 < e0; i0++)                                              \
            for (int64_t i1 = a1; i1 < e1; i1++)                                          \
                for (int64_t i2 = a2; i2 < e2; i2++, pos++) {                             \
                    int64_t off = XROW(n, i0, i1, i2);                                    \
                    const T *restrict xr = x + off;                                       \
                    offs[pos] = off;                                                      \
                    if (pos == 0) {                                                       \
                        for (int64_t ch = 0; ch < C; ch++) {                              \
                            best[ch] = xr[ch];                                            \
                            k[ch] = 0;                                                    \
                        }                                                                 \
                        continue;                                                         \
                    }                                                                     \
                    for (int64_t ch = 0; ch < C; ch++) {                                  \
                        bool gt = xr[ch] > best[ch]; /* NaN never replaces */             \
                        best[ch] = gt ? xr[ch] : best[ch];                                \
                        k[ch] = gt ? pos : k[ch];                                         \
                    }                                                                     \
                }                                                                         \
        return pos;                                                                       \
    }                                                                                     \
    /* Per-thread scratch: best and k of C each, offs of KV. */               \
    typedef struct {                                                                      \
        T *best;                                                                          \
        int32_t *k;                                                                       \
        int64_t *offs;                                                                    \
    } scratch_##SUF;                                                                      \
    static bool scratch_new_##SUF(scratch_##SUF *sc, int64_t C, int64_t KV) {             \
        sc->best = malloc((size_t)(C ? C : 1) * sizeof *sc->best);                        \
        sc->k = malloc((size_t)(C ? C : 1) * sizeof *sc->k);                              \
        sc->offs = malloc((size_t)(KV ? KV : 1) * sizeof *sc->offs);                      \
        return sc->best && sc->k && sc->offs;                                             \
    }                                                                                     \
    static void scratch_free_##SUF(scratch_##SUF *sc) {                                   \
        free(sc->best);                                                                   \
        free(sc->k);                                                                      \
        free(sc->offs);                                                                   \
    }                                                                                     \
    static int max_route_##SUF(const ct__conv_geom *g, const T *x, const T *dy, T *dx) {  \
        POOL_LOCALS(g);                                                                   \
        int nt = ct__threads_for(g->batch, Y0 * Y1 * Y2 * KV * C / 2 + 1);                \
        int fail = 0;                                                                     \
        memset(dx, 0, (size_t)(g->batch * I0 * I1 * I2 * C) * sizeof *dx);                \
        _Pragma("omp parallel num_threads(nt) if (nt > 1)")                               \
        {                                                                                 \
            scratch_##SUF sc;                                                             \
            bool ok = scratch_new_##SUF(&sc, C, KV);                                      \
            if (!ok) {                                                                    \
                _Pragma("omp atomic write") fail = 1;                                     \
            }                                                                             \
            _Pragma("omp for schedule(static)")                                           \
            for (int64_t n = 0; n < g->batch; n++) {                                      \
                if (!ok) continue;                                                        \
                for (int64_t o0 = 0; o0 < Y0; o0++)                                       \
                    for (int64_t o1 = 0; o1 < Y1; o1++) {                                 \
                        int64_t r = (n * Y0 + o0) * Y1 + o1;                              \
                        FOR_WINDOWS({                                                     \
                            int np = argmax_window_##SUF(x, n, a0, e0, a1, e1, a2, e2, I0, \
                                                         I1, I2, C, sc.best, sc.k, sc.offs); \
                            const T *dr = dy + (r * Y2 + o2) * C;                         \
                            if (np > 0)                                                   \
                                for (int64_t ch = 0; ch < C; ch++)                        \
                                    dx[sc.offs[sc.k[ch]] + ch] += dr[ch];                 \
                        })                                                                \
                    }                                                                     \
            }                                                                             \
            scratch_free_##SUF(&sc);                                                      \
        }                                                                                 \
        return fail;                                                                      \
    }                                                                                     \
    static int max_gather_##SUF(const ct__conv_geom *g, const T *x, const T *gx, T *gy) { \
        POOL_LOCALS(g);                                                                   \
        int64_t rows = g->batch * Y0 * Y1;                                                \
        int nt = ct__threads_for(rows, Y2 * KV * C / 2 + 1);                              \
        int fail = 0;                                                                     \
        _Pragma("omp parallel num_threads(nt) if (nt > 1)")                               \
        {                                                                                 \
            scratch_##SUF sc;                                                             \
            bool ok = scratch_new_##SUF(&sc, C, KV);                                      \
            if (!ok) {                                                                    \
                _Pragma("omp atomic write") fail = 1;                                     \
            }                                                                             \
            _Pragma("omp for schedule(static)")                                           \
            for (int64_t r = 0; r < rows; r++) {                                          \
                if (!ok) continue;                                                        \
                int64_t n = r / (Y0 * Y1), o0 = r / Y1 % Y0, o1 = r % Y1;                  \
                FOR_WINDOWS({                                                             \
                    int np = argmax_window_##SUF(x, n, a0, e0, a1, e1, a2, e2, I0, I1, I2, \
                                                 C, sc.best, sc.k, sc.offs);              \
                    T *gr = gy + (r * Y2 + o2) * C;                                       \
                    for (int64_t ch = 0; ch < C; ch++)                                    \
                        gr[ch] = np > 0 ? gx[sc.offs[sc.k[ch]] + ch] : 0;                 \
                })                                                                        \
            }                                                                             \
            scratch_free_##SUF(&sc);                                                      \
        }                                                                                 \
        return fail;                                                                      \
    }                                                                                     \
    static void avg_spread_##SUF(const ct__conv_geom *g, const T *dy, T *dx) {            \
        POOL_LOCALS(g);                                                                   \
        int nt = ct__threads_for(g->batch, Y0 * Y1 * Y2 * KV * C / 4 + 1);                \
        memset(dx, 0, (size_t)(g->batch * I0 * I1 * I2 * C) * sizeof *dx);                \
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")          \
        for (int64_t n = 0; n < g->batch; n++)                                            \
            for (int64_t o0 = 0; o0 < Y0; o0++)                                           \
                for (int64_t o1 = 0; o1 < Y1; o1++) {                                     \
                    int64_t r = (n * Y0 + o0) * Y1 + o1;                                  \
                    FOR_WINDOWS({                                                         \
                        const T *dr = dy + (r * Y2 + o2) * C;                             \
                        T cnt = (T)((e0 - a0) * (e1 - a1) * (e2 - a2));                   \
                        for (int64_t i0 = a0; i0 < e0; i0++)                              \
                            for (int64_t i1 = a1; i1 < e1; i1++)                          \
                                for (int64_t i2 = a2; i2 < e2; i2++) {                    \
                                    T *xr = dx + XROW(n, i0, i1, i2);                     \
                                    for (int64_t ch = 0; ch < C; ch++)                    \
                                        xr[ch] += dr[ch] / cnt;                           \
                                }                                                         \
                    })                                                                    \
                }                                                                         \
    }

DEFINE_GRADS(f32, float)
DEFINE_GRADS(f64, double)

/* ---- oneDNN pooling (float32 forward) ----------------------------------- */

typedef struct pool_key {
    int alg, nsp;
    int64_t batch, c;
    int64_t in[3], k[3], out[3], s[3], pl[3], pr[3];
} pool_key;

typedef struct pool_entry {
    ct__dnnl_entry base;
    dnnl_primitive_t prim; /* NULL: oneDNN has none for this geometry */
    dnnl_memory_desc_t x_md, y_md;
} pool_entry;

static void pool_entry_destroy(ct__dnnl_entry *base) {
    pool_entry *e = (pool_entry *)base;
    if (e->prim) dnnl_primitive_destroy(e->prim);
    free(e);
}

static dnnl_status_t nhwc_md(dnnl_memory_desc_t *md, const pool_key *k, const int64_t *sp) {
    dnnl_dims_t dims, strides;
    int64_t st = k->c;
    dims[0] = k->batch;
    dims[1] = k->c;
    strides[1] = 1;
    for (int i = k->nsp - 1; i >= 0; i--) {
        dims[2 + i] = sp[i];
        strides[2 + i] = st;
        st *= sp[i];
    }
    strides[0] = st;
    return dnnl_memory_desc_init_by_strides(md, k->nsp + 2, dims, dnnl_f32, strides);
}

static ct__dnnl_entry *pool_build(const void *keyp) {
    const pool_key *k = keyp;
    dnnl_engine_t eng = ct__dnnl_engine();
    if (!eng) return NULL;
    pool_entry *e = calloc(1, sizeof *e);
    if (!e) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "out of host memory for a oneDNN primitive");
        return NULL;
    }
    e->base.destroy = pool_entry_destroy;
    dnnl_dims_t strides, kernel, dil, pl, pr;
    for (int i = 0; i < k->nsp; i++) {
        strides[i] = k->s[i];
        kernel[i] = k->k[i];
        dil[i] = 0;
        pl[i] = k->pl[i];
        pr[i] = k->pr[i];
    }
    dnnl_pooling_v2_desc_t pd_desc;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = nhwc_md(&e->x_md, k, k->in);
    if (s == dnnl_success) s = nhwc_md(&e->y_md, k, k->out);
    if (s == dnnl_success)
        s = dnnl_pooling_v2_forward_desc_init(&pd_desc, dnnl_forward_inference,
                                              (dnnl_alg_kind_t)k->alg, &e->x_md, &e->y_md,
                                              strides, kernel, dil, pl, pr);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&pd, &pd_desc, NULL, eng, NULL);
    if (s == dnnl_success) s = dnnl_primitive_create(&e->prim, pd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (s == dnnl_success || s == dnnl_unimplemented) return &e->base;
    ct__dnnl_error("pooling", s);
    pool_entry_destroy(&e->base);
    return NULL;
}

/* 1: ran; 0: no primitive (use the loops); < 0: error set for the call. */
static int pool_dnnl(const ct__call *c, bool avg, const ct__conv_geom *g, float *x,
                     float *y) {
    pool_key key;
    memset(&key, 0, sizeof key);
    key.alg = avg ? dnnl_pooling_avg_exclude_padding : dnnl_pooling_max;
    key.nsp = g->nsp;
    key.batch = g->batch;
    key.c = g->c;
    for (int i = 0; i < g->nsp; i++) {
        key.in[i] = g->in[i];
        key.k[i] = g->k[i];
        key.out[i] = g->out[i];
        key.s[i] = g->s[i];
        key.pl[i] = g->pl[i];
        key.pr[i] = g->pr[i];
    }
    pool_entry *e = (pool_entry *)ct__dnnl_lookup(&key, sizeof key, pool_build);
    if (!e) {
        ct__call_error(c, ct_last_status(), "%s", ct_last_error());
        return -1;
    }
    int ran = 0;
    dnnl_stream_t str = e->prim ? ct__dnnl_stream() : NULL;
    if (e->prim && !str) {
        ct__call_error(c, ct_last_status(), "%s", ct_last_error());
        ran = -1;
    } else if (e->prim) {
        dnnl_engine_t eng = ct__dnnl_engine();
        dnnl_memory_t mx = NULL, my = NULL;
        dnnl_status_t s = dnnl_memory_create(&mx, &e->x_md, eng, x);
        if (s == dnnl_success) s = dnnl_memory_create(&my, &e->y_md, eng, y);
        if (s == dnnl_success) {
            ct__threads_sync();
            dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, mx}, {DNNL_ARG_DST, my}};
            s = dnnl_primitive_execute(e->prim, str, 2, args);
        }
        if (s == dnnl_success) s = dnnl_stream_wait(str);
        if (mx) dnnl_memory_destroy(mx);
        if (my) dnnl_memory_destroy(my);
        if (s == dnnl_success) {
            ran = 1;
        } else {
            ct__dnnl_error("pooling", s);
            ct__call_error(c, ct_last_status(), "%s", ct_last_error());
            ran = -1;
        }
    }
    ct__dnnl_release(&e->base);
    return ran;
}

/* ---- kernels ---------------------------------------------------------------- */

static ct_status no_kernel(const ct__call *c, const ct_tensor *t) {
    return ct__call_error(c, CT_ERR_UNIMPLEMENTED, "no CPU kernel for %s", CT__DESC(t));
}

static ct_status oom(const ct__call *c) {
    return ct__call_error(c, CT_ERR_OUT_OF_MEMORY, "out of host memory for scratch rows");
}

ct_status ct__cpu_pool(ct__call *c) {
    ct_tensor *x = c->in[0], *y = c->out[0];
    bool avg = c->op->code == 1;
    ct__conv_geom g;
    ct_status st = ct__pool_geom_of(c, c->attrs, x->rank, x->shape, &g);
    if (st || y->size == 0) return st;
    void *xp = ct__data(x), *yp = ct__data(y);
    switch (x->dtype) {
    case CT_FLOAT32: {
        int r = pool_dnnl(c, avg, &g, xp, yp);
        if (r < 0) return ct_last_status();
        if (r == 0) avg ? avg_fwd_f32(&g, xp, yp) : max_fwd_f32(&g, xp, yp);
        return CT_OK;
    }
    case CT_FLOAT64: avg ? avg_fwd_f64(&g, xp, yp) : max_fwd_f64(&g, xp, yp); return CT_OK;
    case CT_INT32: if (avg) break; max_fwd_i32(&g, xp, yp); return CT_OK;
    case CT_INT64: if (avg) break; max_fwd_i64(&g, xp, yp); return CT_OK;
    case CT_UINT8: if (avg) break; max_fwd_u8(&g, xp, yp); return CT_OK;
    default: break;
    }
    return no_kernel(c, x);
}

ct_status ct__cpu_max_pool_grad(ct__call *c) {
    ct_tensor *x = c->in[0], *dy = c->in[1], *dx = c->out[0];
    ct__conv_geom g;
    ct_status st = ct__pool_geom_of(c, c->attrs, x->rank, x->shape, &g);
    if (st || dx->size == 0) return st;
    int fail;
    switch (x->dtype) {
    case CT_FLOAT32: fail = max_route_f32(&g, ct__data(x), ct__data(dy), ct__data(dx)); break;
    case CT_FLOAT64: fail = max_route_f64(&g, ct__data(x), ct__data(dy), ct__data(dx)); break;
    default: return no_kernel(c, x);
    }
    return fail ? oom(c) : CT_OK;
}

ct_status ct__cpu_max_pool_grad_grad(ct__call *c) {
    ct_tensor *x = c->in[0], *gx = c->in[1], *gy = c->out[0];
    ct__conv_geom g;
    ct_status st = ct__pool_geom_of(c, c->attrs, x->rank, x->shape, &g);
    if (st || gy->size == 0) return st;
    int fail;
    switch (x->dtype) {
    case CT_FLOAT32: fail = max_gather_f32(&g, ct__data(x), ct__data(gx), ct__data(gy)); break;
    case CT_FLOAT64: fail = max_gather_f64(&g, ct__data(x), ct__data(gx), ct__data(gy)); break;
    default: return no_kernel(c, x);
    }
    return fail ? oom(c) : CT_OK;
}

ct_status ct__cpu_avg_pool_grad(ct__call *c) {
    const ct__pool_attrs *a = c->attrs;
    ct_tensor *dy = c->in[0], *dx = c->out[0];
    ct__conv_geom g;
    ct_status st = ct__pool_geom_of(c, a, a->rank, a->shape, &g);
    if (st || dx->size == 0) return st;
    switch (dx->dtype) {
    case CT_FLOAT32: avg_spread_f32(&g, ct__data(dy), ct__data(dx)); return CT_OK;
    case CT_FLOAT64: avg_spread_f64(&g, ct__data(dy), ct__data(dx)); return CT_OK;
    default: return no_kernel(c, dx);
    }
}
