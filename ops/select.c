/* tf.where(cond, x, y) (SelectV2): elementwise choice with broadcasting. */
#include <omp.h>

#include "ops/op.h"

static ct_status infer_select(ct__call *c) {
    const ct_tensor *cond = c->in[0], *x = c->in[1], *y = c->in[2];
    if (cond->dtype != CT_BOOL)
        return ct__call_error(c, CT_ERR_INVALID_ARGUMENT, "condition must be bool, got %s",
                              CT__DESC(cond));
    ct_status st = ct__need_same_dtype(c, x, y);
    int r1, r2;
    int64_t s1[CT_MAX_RANK], s2[CT_MAX_RANK];
    if (!st) st = ct__broadcast_shapes(c, x->rank, x->shape, y->rank, y->shape, &r1, s1);
    if (!st) st = ct__broadcast_shapes(c, cond->rank, cond->shape, r1, s1, &r2, s2);
    if (!st) ct__spec_set(&c->spec[0], x->dtype, r2, s2);
    return st;
}

/* The kernel moves bits, so one loop per element width serves every dtype
 * (float16 included). Loops are cloned per instruction set, as the
 * elementwise kernels: the flat case becomes vector blends. The condition
 * is read as bytes: GCC does not vectorise conversions from bool. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SELECT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SELECT_CLONES
#endif

/* n output elements; sc, sx, sy: element strides of the inputs (0 or 1,
 * the inner dimension of a broadcast). The choice is a bit mask (bools
 * are 0 or 1), so the loop has no branch to mispredict and vectorises. */
#define DEFINE_SELECT(NAME, T)                                                             \
    SELECT_CLONES static void NAME(const uint8_t *c, const void *vx, const void *vy, void *vo, \
                                   int64_t n, int64_t sc, int64_t sx, int64_t sy) {         \
        const T *x = vx, *y = vy;                                                          \
        T *o = vo;                                                                         \
        if (sc && sx && sy) {                                                              \
            for (int64_t i = 0; i < n; i++) {                                              \
                T m = (T)0 - (T)c[i];                                                      \
                o[i] = (x[i] & m) | (y[i] & (T)~m);                                        \
            }                                                                              \
        } else {                                                                           \
            for (int64_t i = 0; i < n; i++) {                                              \
                T m = (T)0 - (T)c[i * sc];                                                 \
                o[i] = (x[i * sx] & m) | (y[i * sy] & (T)~m);                              \
            }                                                                              \
        }                                                                                  \
    }
DEFINE_SELECT(select_1, uint8_t)
DEFINE_SELECT(select_2, uint16_t)
DEFINE_SELECT(select_4, uint32_t)
DEFINE_SELECT(select_8, uint64_t)

typedef void (*select_fn)(const uint8_t *, const void *, const void *, void *, int64_t, int64_t,
                          int64_t, int64_t);

static ct_status cpu_select(ct__call *c) {
    ct_tensor *cond = c->in[0], *x = c->in[1], *y = c->in[2], *o = c->out[0];
    size_t es = ct_dtype_size(o->dtype);
    select_fn fn = es == 1 ? select_1 : es == 2 ? select_2 : es == 4 ? select_4 : select_8;
    const uint8_t *pc = ct__data(cond); /* bools, read as bytes (0 or 1) */
    const char *px = ct__data(x), *py = ct__data(y);
    char *po = ct__data(o);
    int64_t n = o->size;
    if (n == 0) return CT_OK;
    /* An input with as many elements as the output has its layout; one
     * element is a broadcast scalar: one flat loop. */
    if ((cond->size == n || cond->size == 1) && (x->size == n || x->size == 1) &&
        (y->size == n || y->size == 1)) {
        int64_t sc = cond->size == n, sx = x->size == n, sy = y->size == n;
        int nt = ct__threads_for(n, 1);
        if (nt <= 1) {
            fn(pc, px, py, po, n, sc, sx, sy);
            return CT_OK;
        }
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), m = omp_get_num_threads();
            int64_t chunk = ((n + m - 1) / m + 63) & ~(int64_t)63;
            int64_t s = (int64_t)t * chunk, e = s + chunk < n ? s + chunk : n;
            if (s < e)
                fn(pc + s * sc, px + (size_t)(s * sx) * es, py + (size_t)(s * sy) * es,
                   po + (size_t)s * es, e - s, sc, sx, sy);
        }
        return CT_OK;
    }
    /* General broadcast: collapse the output dims where all three inputs
     * step contiguously (or all broadcast), then loop over rows of the
     * last kept dim. */
    int r = o->rank, k = 0;
    int64_t sc[CT_MAX_RANK], sx[CT_MAX_RANK], sy[CT_MAX_RANK], shape[CT_MAX_RANK];
    int64_t bc[CT_MAX_RANK], bx[CT_MAX_RANK], by[CT_MAX_RANK];
    ct__broadcast_strides(cond->rank, cond->shape, r, o->shape, bc);
    ct__broadcast_strides(x->rank, x->shape, r, o->shape, bx);
    ct__broadcast_strides(y->rank, y->shape, r, o->shape, by);
    for (int i = 0; i < r; i++) {
        int64_t d = o->shape[i];
        if (d == 1) continue;
        if (k > 0 && bc[i] * d == sc[k - 1] && bx[i] * d == sx[k - 1] && by[i] * d == sy[k - 1] &&
            !bc[i] == !sc[k - 1] && !bx[i] == !sx[k - 1] && !by[i] == !sy[k - 1]) {
            shape[k - 1] *= d;
        } else {
            shape[k] = d;
            k++;
        }
        sc[k - 1] = bc[i];
        sx[k - 1] = bx[i];
        sy[k - 1] = by[i];
    }
    /* n > 1 here (else the flat case took it), so k >= 1. */
    int64_t inner = shape[k - 1], rows = n / inner, idx[CT_MAX_RANK] = {0};
    int64_t oc = 0, ox = 0, oy = 0;
    for (int64_t row = 0; row < rows; row++) {
        fn(pc + oc, px + (size_t)ox * es, py + (size_t)oy * es, po + (size_t)(row * inner) * es,
           inner, sc[k - 1], sx[k - 1], sy[k - 1]);
        for (int d = k - 2; d >= 0; d--) {
            idx[d]++;
            oc += sc[d];
            ox += sx[d];
            oy += sy[d];
            if (idx[d] < shape[d]) break;
            oc -= idx[d] * sc[d];
            ox -= idx[d] * sx[d];
            oy -= idx[d] * sy[d];
            idx[d] = 0;
        }
    }
    return CT_OK;
}

static ct_status select_grad(const ct__call *c, ct_tensor *const *dy, ct_tensor **dx) {
    const ct_tensor *x = c->in[1], *y = c->in[2];
    ct_tensor *zero = ct_zeros_like(dy[0]);
    dx[0] = NULL;
    dx[1] = ct__unbroadcast(ct_where(c->in[0], dy[0], zero), x->rank, x->shape);
    dx[2] = ct__unbroadcast(ct_where(c->in[0], zero, dy[0]), y->rank, y->shape);
    return dx[1] && dx[2] ? CT_OK : ct_last_status();
}

const ct__op ct__op_select = {.name = "SelectV2", .infer = infer_select,
                              .kernel = {[CT_DEVICE_CPU] = cpu_select}, .grad = select_grad,
                              .flags = CT__OP_NATIVE_HALF};

ct_tensor *ct_where(const ct_tensor *cond, const ct_tensor *x, const ct_tensor *y) {
    const ct_tensor *in[3] = {cond, x, y};
    return ct__run1(&ct__op_select, "ct_where", 3, in, NULL, 0);
}
