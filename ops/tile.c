/*
 * tf.tile (Tile): the output is the input repeated multiples[i] times
 * along each axis i.
 *
 * The kernel builds the output in place from the inside out: each input
 * row is copied into its first tile and doubled along the last axis, then
 * for each axis from the second-to-last outwards, the finished block of
 * that axis is doubled m times. Every step is a memcpy of a contiguous
 * block (log2(m) copies per block), so any dtype moves as raw bytes.
 */
#include <omp.h>
#include <string.h>

#include "ops/op.h"

typedef struct {
    int64_t multiples[CT_MAX_RANK];
} tile_attrs;

static ct_status infer_tile(ct__call *c) {
    const tile_attrs *a = c->attrs;
    const ct_tensor *t = c->in[0];
    int64_t shape[CT_MAX_RANK];
    for (int i = 0; i < t->rank; i++) {
        if (a->multiples[i] < 0)
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "multiples[%d] = %lld must be non-negative (input %s)", i,
                                  (long long)a->multiples[i], CT__DESC(t));
        if (t->shape[i] && a->multiples[i] > INT64_MAX / t->shape[i])
            return ct__call_error(c, CT_ERR_INVALID_ARGUMENT,
                                  "multiples[%d] = %lld overflows axis %d of %s", i,
                                  (long long)a->multiples[i], i, CT__DESC(t));
        shape[i] = t->shape[i] * a->multiples[i];
    }
    ct__spec_set(&c->spec[0], t->dtype, t->rank, shape);
    return CT_OK;
}

/* Fills dst[0, m * bytes) with m copies of the block already at dst. */
static void double_up(char *dst, size_t bytes, int64_t m) {
    size_t total = bytes * (size_t)m;
    for (size_t have = bytes; have < total;) {
        size_t k = have < total - have ? have : total - have;
        memcpy(dst + have, dst, k);
        have += k;
    }
}

/* Byte offset in the output of index k over axes [0, n) of the input
 * shape d, with output byte strides ost. */
static size_t unravel(int64_t k, int n, const int64_t *d, const int64_t *ost) {
    size_t off = 0;
    for (int i = n - 1; i >= 0; i--) {
        off += (size_t)(k % d[i] * ost[i]);
        k /= d[i];
    }
    return off;
}

static ct_status cpu_tile(ct__call *c) {
    const tile_attrs *a = c->attrs;
    ct_tensor *t = c->in[0], *o = c->out[0];
    if (o->size == 0) return CT_OK;
    size_t es = ct_dtype_size(t->dtype);
    const char *src = ct__data(t);
    char *dst = ct__data(o);
    int r = t->rank;
    if (r == 0) {
        memcpy(dst, src, es);
        return CT_OK;
    }
    const int64_t *d = t->shape, *m = a->multiples;
    int64_t ost[CT_MAX_RANK]; /* output byte strides */
    ost[r - 1] = (int64_t)es;
    for (int i = r - 2; i >= 0; i--) ost[i] = ost[i + 1] * o->shape[i + 1];

    /* Input rows into their first tile, repeated along the last axis. */
    int64_t rows = t->size / d[r - 1];
    size_t row = (size_t)d[r - 1] * es;
    int nt = ct__threads_for(rows * d[r - 1] * m[r - 1], 1);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t k = 0; k < rows; k++) {
        char *p = dst + unravel(k, r - 1, d, ost);
        memcpy(p, src + (size_t)k * row, row);
        double_up(p, row, m[r - 1]);
    }
    /* Then each axis's finished block, from the inside out. */
    int64_t outer = rows;
    for (int k = r - 2; k >= 0; k--) {
        outer /= d[k];
        if (m[k] == 1) continue;
        size_t block = (size_t)(d[k] * ost[k]);
        int nt2 = ct__threads_for(outer * (int64_t)(block / es) * m[k], 1);
#pragma omp parallel for num_threads(nt2) if (nt2 > 1) schedule(static)
        for (int64_t j = 0; j < outer; j++) double_up(dst + unravel(j, k, d, ost), block, m[k]);
    }
    return CT_OK;
}

/* The sum of dy over the copies: dy viewed as [m0, d0, m1, d1, ...]
 * summed over the m axes (axes with m == 1 or d == 1 need no split). */
static ct_status tile_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const tile_attrs *a = c->attrs;
    const ct_tensor *x = c->in[0];
    int r = x->rank;
    int64_t shape[2 * CT_MAX_RANK];
    int axes[2 * CT_MAX_RANK], n = 0, na = 0;
    for (int i = 0; i < r; i++) {
        if (a->multiples[i] != 1) axes[na++] = n, shape[n++] = a->multiples[i];
        if (a->multiples[i] == 1 || x->shape[i] != 1) shape[n++] = x->shape[i];
    }
    if (na == 0) {
        dx[0] = ct_identity(dy[0]);
    } else if (n <= CT_MAX_RANK) {
        dx[0] = ct_reshape(ct_reduce_sum(ct_reshape(dy[0], n, shape), axes, na, false), r,
                           x->shape);
    } else {
        /* Too many axes for one view: fold one axis at a time. */
        ct_tensor *g = dy[0];
        int64_t cur[CT_MAX_RANK];
        memcpy(cur, dy[0]->shape, (size_t)r * sizeof *cur);
        for (int i = 0; i < r && g; i++) {
            if (a->multiples[i] == 1) continue;
            int64_t pre = 1, post = 1;
            for (int j = 0; j < i; j++) pre *= cur[j];
            for (int j = i + 1; j < r; j++) post *= cur[j];
            int64_t v[4] = {pre, a->multiples[i], x->shape[i], post};
            g = ct_reduce_sum(ct_reshape(g, 4, v), CT_AXES(1), false);
            cur[i] = x->shape[i];
        }
        dx[0] = ct_reshape(g, r, x->shape);
    }
    return dx[0] ? CT_OK : ct_last_status();
}

const ct__op ct__op_tile = {.name = "Tile", .infer = infer_tile,
                            .kernel = {[CT_DEVICE_CPU] = cpu_tile}, .grad = tile_grad,
                            .flags = CT__OP_NATIVE_HALF};

ct_tensor *ct_tile(const ct_tensor *t, const int64_t *multiples) {
    tile_attrs a = {{0}};
    if (t && t->rank > 0) {
        if (!multiples) {
            ct__error(CT_ERR_INVALID_ARGUMENT, "ct_tile: multiples is NULL for %s", CT__DESC(t));
            return NULL;
        }
        memcpy(a.multiples, multiples, (size_t)t->rank * sizeof *multiples);
    }
    return ct__run1(&ct__op_tile, "ct_tile", 1, &t, &a, sizeof a);
}
