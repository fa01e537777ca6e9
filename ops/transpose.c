/*
 * tf.transpose (Transpose): a materialising permutation of the axes.
 *
 * Before copying, the permutation is simplified: size-1 axes are dropped
 * and runs of input axes that stay adjacent and in order in the output are
 * merged. What is left is one of
 *   - nothing to move (rank <= 1 after merging): the output is a view,
 *   - the innermost axis stays innermost: row copies (memcpy),
 *   - otherwise: a blocked 2-D transpose between the output axis that is
 *     contiguous in the input and the output's innermost axis, repeated
 *     over every index of the remaining axes. This covers the common
 *     "swap the last two axes" case and every general permutation with
 *     unit-stride writes and cache-sized read tiles.
 * Kernels copy by element size, so every dtype (float16 and bool too)
 * moves as raw bytes.
 */
#include <omp.h>
#include <string.h>

#include "ops/op.h"

typedef struct {
    int perm[CT_MAX_RANK];
} transpose_attrs;

/* The simplified problem: input shape `in` (rank r) and perm p, output
 * axis d takes input axis p[d]. */
typedef struct {
    int r;
    int p[CT_MAX_RANK];
    int64_t in[CT_MAX_RANK];
} tplan;

static void tplan_make(tplan *pl, int rank, const int64_t *shape, const int *perm) {
    int keep[CT_MAX_RANK], nid[CT_MAX_RANK], nk = 0;
    for (int a = 0; a < rank; a++) {
        nid[a] = -1;
        if (shape[a] != 1) nid[a] = nk, keep[nk++] = a;
    }
    int p2[CT_MAX_RANK], n2 = 0;
    for (int d = 0; d < rank; d++)
        if (nid[perm[d]] >= 0) p2[n2++] = nid[perm[d]];
    /* Group output axes into runs of consecutive input axes. */
    int gfirst[CT_MAX_RANK], ng = 0;  /* first input axis of group (in output order) */
    int64_t gsize[CT_MAX_RANK];
    for (int d = 0; d < n2; d++) {
        if (ng > 0 && p2[d] == p2[d - 1] + 1) {
            gsize[ng - 1] *= shape[keep[p2[d]]];
        } else {
            gfirst[ng] = p2[d];
            gsize[ng] = shape[keep[p2[d]]];
            ng++;
        }
    }
    /* Input order of the groups is the order of their first axes. */
    pl->r = ng;
    for (int g = 0; g < ng; g++) {
        int rankpos = 0;
        for (int h = 0; h < ng; h++) rankpos += gfirst[h] < gfirst[g];
        pl->p[g] = rankpos;
        pl->in[rankpos] = gsize[g];
    }
}

static ct_status infer_transpose(ct__call *c) {
    const transpose_attrs *a = c->attrs;
    const ct_tensor *t = c->in[0];
    unsigned seen = 0;
    int64_t shape[CT_MAX_RANK];
    for (int d = 0; d < t->rank; d++) {
        int p = a->perm[d];
        if (p < 0 || p >= t->rank)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "perm[%d] = %d is out of range [0, %d) for %s", d, p, t->rank,
                                  CT__DESC(t));
        if (seen & (1u << p))
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "perm is not a permutation: %d appears twice (input %s)", p,
                                  CT__DESC(t));
        seen |= 1u << p;
        shape[d] = t->shape[p];
    }
    ct__spec_set(&c->spec[0], t->dtype, t->rank, shape);
    tplan pl;
    tplan_make(&pl, t->rank, t->shape, a->perm);
    if (pl.r <= 1) c->spec[0].alias = 0; /* the bytes do not move */
    return CT_OK;
}

enum { TILE = 32 };

/* dst[i * dstride + j] = src[i + j * sstride] for rows [i0, i1) and cols
 * [0, cols), in TILE x TILE blocks; MICRO x MICRO sub-blocks go through
 * the vector transpose KERNEL (where there is one), the edges are scalar. */
#define DEFINE_TILE2D(NAME, T, MICRO, KERNEL)                                              \
    static void NAME(const void *vs, void *vd, int64_t i0, int64_t i1, int64_t cols,       \
                     int64_t sstride, int64_t dstride) {                                   \
        const T *restrict s = vs;                                                          \
        T *restrict d = vd;                                                                \
        for (int64_t ib = i0; ib < i1; ib += TILE) {                                       \
            int64_t ie = ib + TILE < i1 ? ib + TILE : i1;                                  \
            int64_t iv = ib + (ie - ib) / (MICRO) * (MICRO);                                \
            for (int64_t jb = 0; jb < cols; jb += TILE) {                                  \
                int64_t je = jb + TILE < cols ? jb + TILE : cols;                          \
                int64_t jv = jb + (je - jb) / (MICRO) * (MICRO);                            \
                for (int64_t j = jb; j < jv; j += (MICRO))                              \
                    for (int64_t i = ib; i < iv; i += (MICRO))                          \
                        KERNEL(s + i + j * sstride, sstride, d + i * dstride + j, dstride); \
                for (int64_t i = ib; i < ie; i++) {                                        \
                    const T *sp = s + i;                                                   \
                    T *dp = d + i * dstride;                                               \
                    int64_t j = i < iv ? jv : jb;                                          \
                    for (; j < je; j++) dp[j] = sp[j * sstride];                           \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
    }

#ifdef __SSE2__
#include <emmintrin.h>
/* 4x4 block of 32-bit elements: four row loads, a register transpose,
 * four row stores. */
static inline void micro4x4_32(const uint32_t *s, int64_t ss, uint32_t *d, int64_t ds) {
    __m128i r0 = _mm_loadu_si128((const __m128i *)(s));
    __m128i r1 = _mm_loadu_si128((const __m128i *)(s + ss));
    __m128i r2 = _mm_loadu_si128((const __m128i *)(s + 2 * ss));
    __m128i r3 = _mm_loadu_si128((const __m128i *)(s + 3 * ss));
    __m128i t0 = _mm_unpacklo_epi32(r0, r1), t1 = _mm_unpacklo_epi32(r2, r3);
    __m128i t2 = _mm_unpackhi_epi32(r0, r1), t3 = _mm_unpackhi_epi32(r2, r3);
    _mm_storeu_si128((__m128i *)(d), _mm_unpacklo_epi64(t0, t1));
    _mm_storeu_si128((__m128i *)(d + ds), _mm_unpackhi_epi64(t0, t1));
    _mm_storeu_si128((__m128i *)(d + 2 * ds), _mm_unpacklo_epi64(t2, t3));
    _mm_storeu_si128((__m128i *)(d + 3 * ds), _mm_unpackhi_epi64(t2, t3));
}
/* 2x2 block of 64-bit elements. */
static inline void micro2x2_64(const uint64_t *s, int64_t ss, uint64_t *d, int64_t ds) {
    __m128i r0 = _mm_loadu_si128((const __m128i *)(s));
    __m128i r1 = _mm_loadu_si128((const __m128i *)(s + ss));
    _mm_storeu_si128((__m128i *)(d), _mm_unpacklo_epi64(r0, r1));
    _mm_storeu_si128((__m128i *)(d + ds), _mm_unpackhi_epi64(r0, r1));
}
DEFINE_TILE2D(tile2d_4, uint32_t, 4, micro4x4_32)
DEFINE_TILE2D(tile2d_8, uint64_t, 2, micro2x2_64)
#else
#define NO_MICRO(s, ss, d, ds) ((void)0)
DEFINE_TILE2D(tile2d_4, uint32_t, 1 << 30, NO_MICRO)
DEFINE_TILE2D(tile2d_8, uint64_t, 1 << 30, NO_MICRO)
#endif
#define NO_MICRO_SMALL(s, ss, d, ds) ((void)0)
DEFINE_TILE2D(tile2d_1, uint8_t, 1 << 30, NO_MICRO_SMALL)
DEFINE_TILE2D(tile2d_2, uint16_t, 1 << 30, NO_MICRO_SMALL)

typedef void (*tile2d_fn)(const void *, void *, int64_t, int64_t, int64_t, int64_t, int64_t);

/* Byte offsets of outer item `k` (flat index over the outer axes). */
static void outer_offsets(int64_t k, int no, const int64_t *oshape, const int64_t *sst,
                          const int64_t *dst, int64_t *so, int64_t *doff) {
    int64_t s = 0, d = 0;
    for (int i = no - 1; i >= 0; i--) {
        int64_t ix = k % oshape[i];
        k /= oshape[i];
        s += ix * sst[i];
        d += ix * dst[i];
    }
    *so = s;
    *doff = d;
}

static ct_status cpu_transpose(ct__call *c) {
    const transpose_attrs *a = c->attrs;
    ct_tensor *t = c->in[0], *o = c->out[0];
    if (c->spec[0].alias >= 0 || o->size == 0) return CT_OK;
    size_t es = ct_dtype_size(t->dtype);
    const char *src = ct__data(t);
    char *dst = ct__data(o);
    tplan pl;
    tplan_make(&pl, t->rank, t->shape, a->perm);
    int r = pl.r;
    int64_t ist[CT_MAX_RANK], os[CT_MAX_RANK], ost[CT_MAX_RANK], sst[CT_MAX_RANK];
    ist[r - 1] = 1;
    for (int i = r - 2; i >= 0; i--) ist[i] = ist[i + 1] * pl.in[i + 1];
    for (int d = 0; d < r; d++) os[d] = pl.in[pl.p[d]], sst[d] = ist[pl.p[d]];
    ost[r - 1] = 1;
    for (int i = r - 2; i >= 0; i--) ost[i] = ost[i + 1] * os[i + 1];

    /* Outer axes (element strides in source and destination). */
    int64_t oshape[CT_MAX_RANK], osrc[CT_MAX_RANK], odst[CT_MAX_RANK], nouter = 1;
    int no = 0;
    if (pl.p[r - 1] == r - 1) {
        /* Rows of os[r-1] contiguous elements move as a whole. */
        for (int d = 0; d < r - 1; d++) {
            oshape[no] = os[d], osrc[no] = sst[d] * (int64_t)es, odst[no] = ost[d] * (int64_t)es;
            nouter *= os[d];
            no++;
        }
        size_t row = (size_t)os[r - 1] * es;
        int nt = ct__threads_for(o->size, 1);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (int64_t k = 0; k < nouter; k++) {
            int64_t so, dof;
            outer_offsets(k, no, oshape, osrc, odst, &so, &dof);
            memcpy(dst + dof, src + so, row);
        }
        return CT_OK;
    }
    int kx = 0; /* output axis that is contiguous in the input */
    while (pl.p[kx] != r - 1) kx++;
    for (int d = 0; d < r - 1; d++) {
        if (d == kx) continue;
        oshape[no] = os[d], osrc[no] = sst[d] * (int64_t)es, odst[no] = ost[d] * (int64_t)es;
        nouter *= os[d];
        no++;
    }
    tile2d_fn fn = es == 1 ? tile2d_1 : es == 2 ? tile2d_2 : es == 4 ? tile2d_4 : tile2d_8;
    int64_t rows = os[kx], cols = os[r - 1], sstride = sst[r - 1], dstride = ost[kx];
    /* Work items: (outer index, block of TILE rows). */
    int64_t nblk = (rows + TILE - 1) / TILE, items = nouter * nblk;
    int nt = ct__threads_for(o->size, 2);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t w = 0; w < items; w++) {
        int64_t k = w / nblk, b = w % nblk, so, dof;
        outer_offsets(k, no, oshape, osrc, odst, &so, &dof);
        int64_t i0 = b * TILE, i1 = i0 + TILE < rows ? i0 + TILE : rows;
        fn(src + so, dst + dof, i0, i1, cols, sstride, dstride);
    }
    return CT_OK;
}

static ct_status transpose_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const transpose_attrs *a = c->attrs;
    int inv[CT_MAX_RANK];
    for (int d = 0; d < c->in[0]->rank; d++) inv[a->perm[d]] = d;
    dx[0] = ct_transpose(dy[0], inv);
    return dx[0] ? CT_OK : ct_last_status();
}

const ct__op ct__op_transpose = {.name = "Transpose", .infer = infer_transpose,
                                 .kernel = {[CT_DEVICE_CPU] = cpu_transpose},
                                 .grad = transpose_grad, .flags = CT__OP_NATIVE_HALF};

ct_tensor *ct_transpose(const ct_tensor *t, const int *perm) {
    transpose_attrs a = {{0}};
    if (t) {
        for (int d = 0; d < t->rank; d++) a.perm[d] = perm ? perm[d] : t->rank - 1 - d;
    }
    return ct__run1(&ct__op_transpose, "ct_transpose", 1, &t, &a, sizeof a);
}
