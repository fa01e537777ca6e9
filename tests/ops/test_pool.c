/* ct_max_pool and ct_avg_pool: Keras docstring examples, a naive
 * reference over many geometries (float32 through oneDNN, float64 and
 * integers through the loops), TF's tie rule for gradients, gradient
 * checks (first and second order) and errors. */
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(pool, .init = ct_test_begin, .fini = ct_test_end);

static double *rnd_values(int64_t n, unsigned seed) {
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (double)((seed >> 8) % 2000) / 1000.0 - 1.0;
    }
    return v;
}

static ct_tensor *rnd64(int rank, const int64_t *shape, unsigned seed) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    double *v = rnd_values(n, seed);
    ct_tensor *t = ct_constant(v, CT_FLOAT64, rank, shape);
    free(v);
    return t;
}

/* The Keras MaxPooling2D / AveragePooling2D docstring examples. */
Test(pool, keras_docstring_examples) {
    ct_tensor *x = CT_F32(CT_DIMS(1, 3, 3, 1), 1, 2, 3, 4, 5, 6, 7, 8, 9);
    ct_pool_opts v = {.pool_size = {2, 2}, .strides = {1, 1}, .padding = "valid"};
    ct_pool_opts s = {.pool_size = {2, 2}, .strides = {1, 1}, .padding = "same"};
    CT_EXPECT(ct_max_pool(x, &v), CT_FLOAT32, CT_DIMS(1, 2, 2, 1), 0, 5, 6, 8, 9);
    CT_EXPECT(ct_max_pool(x, &s), CT_FLOAT32, CT_DIMS(1, 3, 3, 1), 0, 5, 6, 6, 8, 9, 9, 8, 9, 9);
    CT_EXPECT(ct_avg_pool(x, &v), CT_FLOAT32, CT_DIMS(1, 2, 2, 1), 1e-6, 3, 4, 6, 7);
    /* SAME averages only the elements inside the input. */
    CT_EXPECT(ct_avg_pool(x, &s), CT_FLOAT32, CT_DIMS(1, 3, 3, 1), 1e-6, 3, 4, 4.5, 6, 7, 7.5,
              7.5, 8.5, 9);
    ct_tensor *x2 = CT_F32(CT_DIMS(1, 3, 4, 1), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
    ct_pool_opts k2 = {.pool_size = {2, 2}, .padding = "valid"}; /* strides = pool_size */
    CT_EXPECT(ct_max_pool(x2, &k2), CT_FLOAT32, CT_DIMS(1, 1, 2, 1), 0, 6, 8);
    CT_EXPECT(ct_avg_pool(x2, &k2), CT_FLOAT32, CT_DIMS(1, 1, 2, 1), 1e-6, 3.5, 5.5);
    /* float64 runs the loops: the same answers. */
    ct_tensor *x64 = ct_cast(x, CT_FLOAT64);
    CT_EXPECT(ct_max_pool(x64, &s), CT_FLOAT64, CT_DIMS(1, 3, 3, 1), 0, 5, 6, 6, 8, 9, 9, 8, 9,
              9);
    CT_EXPECT(ct_avg_pool(x64, &s), CT_FLOAT64, CT_DIMS(1, 3, 3, 1), 1e-12, 3, 4, 4.5, 6, 7,
              7.5, 7.5, 8.5, 9);
}

typedef struct pcfg {
    int nsp;
    int64_t n, c, in[3], k[3], s[3];
    bool same;
} pcfg;

/* Naive pooling in double with its own copy of TF's SAME rule. */
static double *ref_pool(const pcfg *q, const double *x, bool avg, int64_t *out) {
    int64_t pl[3];
    for (int i = 0; i < 3; i++) {
        if (q->same) {
            out[i] = (q->in[i] + q->s[i] - 1) / q->s[i];
            int64_t pad = (out[i] - 1) * q->s[i] + q->k[i] - q->in[i];
            pl[i] = pad > 0 ? pad / 2 : 0;
        } else {
            out[i] = q->in[i] >= q->k[i] ? (q->in[i] - q->k[i]) / q->s[i] + 1 : 0;
            pl[i] = 0;
        }
    }
    int64_t ny = q->n * out[0] * out[1] * out[2] * q->c;
    double *y = malloc((size_t)(ny ? ny : 1) * sizeof *y);
    for (int64_t n = 0; n < q->n; n++)
        for (int64_t a = 0; a < out[0]; a++)
            for (int64_t b = 0; b < out[1]; b++)
                for (int64_t e = 0; e < out[2]; e++)
                    for (int64_t c = 0; c < q->c; c++) {
                        double acc = avg ? 0 : -INFINITY;
                        int64_t cnt = 0;
                        for (int64_t k0 = 0; k0 < q->k[0]; k0++)
                            for (int64_t k1 = 0; k1 < q->k[1]; k1++)
                                for (int64_t k2 = 0; k2 < q->k[2]; k2++) {
                                    int64_t i0 = a * q->s[0] - pl[0] + k0;
                                    int64_t i1 = b * q->s[1] - pl[1] + k1;
                                    int64_t i2 = e * q->s[2] - pl[2] + k2;
                                    if (i0 < 0 || i0 >= q->in[0] || i1 < 0 || i1 >= q->in[1] ||
                                        i2 < 0 || i2 >= q->in[2])
                                        continue;
                                    double v = x[(((n * q->in[0] + i0) * q->in[1] + i1) *
                                                      q->in[2] + i2) * q->c + c];
                                    acc = avg ? acc + v : fmax(acc, v);
                                    cnt++;
                                }
                        y[(((n * out[0] + a) * out[1] + b) * out[2] + e) * q->c + c] =
                            avg ? acc / (double)cnt : acc;
                    }
    return y;
}

Test(pool, matches_reference_over_many_geometries) {
    unsigned seed = 1;
    for (int nsp = 1; nsp <= 3; nsp++)
        for (int same = 0; same <= 1; same++)
            for (int64_t st = 1; st <= 3; st++)
                for (int64_t kk = 1; kk <= 3; kk++) {
                    pcfg q = {.nsp = nsp, .n = 2, .c = nsp == 2 ? 19 : 3, .same = same};
                    int64_t xs[5] = {q.n};
                    int64_t nx = q.n * q.c;
                    for (int i = 0; i < 3; i++) {
                        bool used = i < nsp;
                        q.in[i] = used ? 5 + i : 1;
                        q.k[i] = used ? kk + (i == 1) : 1;
                        q.s[i] = used ? st : 1;
                        if (used) xs[1 + i] = q.in[i];
                        nx *= q.in[i];
                    }
                    xs[nsp + 1] = q.c;
                    double *x = rnd_values(nx, seed++);
                    ct_pool_opts o = {.padding = same ? "same" : "valid"};
                    for (int i = 0; i < nsp; i++) {
                        o.pool_size[i] = (int)q.k[i];
                        o.strides[i] = (int)q.s[i];
                    }
                    for (int avg = 0; avg <= 1; avg++) {
                        int64_t out[3];
                        double *ref = ref_pool(&q, x, avg, out);
                        int64_t ys[5] = {q.n};
                        for (int i = 0; i < nsp; i++) ys[1 + i] = out[i];
                        ys[nsp + 1] = q.c;
                        for (int p = 0; p < 2; p++) {
                            ct_dtype dt = p ? CT_FLOAT32 : CT_FLOAT64;
                            ct_tensor *tx = ct_cast(ct_constant(x, CT_FLOAT64, nsp + 2, xs), dt);
                            ct_tensor *y = avg ? ct_avg_pool(tx, &o) : ct_max_pool(tx, &o);
                            ct_expect(y, dt, nsp + 2, ys, ref, p ? 1e-5 : 1e-12);
                        }
                        free(ref);
                    }
                    free(x);
                }
}

Test(pool, integer_max_pool_and_empty) {
    ct_tensor *x = CT_I32(CT_DIMS(1, 4, 1), -5, 7, 2, 9);
    ct_pool_opts o = {.pool_size = {2}};
    CT_EXPECT(ct_max_pool(x, &o), CT_INT32, CT_DIMS(1, 2, 1), 0, 7, 9);
    ct_tensor *u = ct_cast(CT_I32(CT_DIMS(1, 3, 1), 1, 200, 3), CT_UINT8);
    CT_EXPECT(ct_max_pool(u, &(ct_pool_opts){.pool_size = {2}, .strides = {1}}), CT_UINT8,
              CT_DIMS(1, 2, 1), 0, 200, 200);
    ct_tensor *e = ct_zeros(CT_FLOAT32, CT_DIMS(0, 4, 4, 3));
    ct_expect_shape(ct_max_pool(e, &(ct_pool_opts){.pool_size = {2, 2}}), 4,
                    (const int64_t[]){0, 2, 2, 3});
    CT_FAILS(ct_avg_pool(x, &o), "ct_avg_pool");
}

/* TF routes a window's gradient to its first maximum. */
Test(pool, max_pool_gradient_goes_to_first_maximum) {
    ct_tensor *x = CT_F64(CT_DIMS(1, 4, 1), 1, 3, 3, 2);
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, x);
    ct_tensor *y = ct_max_pool(x, &(ct_pool_opts){.pool_size = {2}, .strides = {1}});
    ct_tensor *l = ct_reduce_sum(y, CT_ALL, false);
    ct_tape_end(tape);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(tape, l, 1, &x, &g, NULL));
    CT_EXPECT(g, CT_FLOAT64, CT_DIMS(1, 4, 1), 0, 0, 2, 1, 0);
    ct_tape_free(tape);
    /* float32, 2-D, all equal: each window's top-left element. */
    ct_tensor *x2 = ct_ones(CT_FLOAT32, CT_DIMS(1, 2, 4, 1));
    tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, x2);
    l = ct_reduce_sum(ct_max_pool(x2, &(ct_pool_opts){.pool_size = {2, 2}}), CT_ALL, false);
    ct_tape_end(tape);
    CT_STATUS_OK(ct_tape_gradient(tape, l, 1, &x2, &g, NULL));
    CT_EXPECT(g, CT_FLOAT32, CT_DIMS(1, 2, 4, 1), 0, 1, 0, 1, 0, 0, 0, 0, 0);
    ct_tape_free(tape);
}

static ct_tensor *max_fn(ct_tensor *const *in, void *ctx) { return ct_max_pool(in[0], ctx); }
static ct_tensor *avg_fn(ct_tensor *const *in, void *ctx) { return ct_avg_pool(in[0], ctx); }

Test(pool, gradchecks) {
    ct_pool_opts os[] = {
        {.pool_size = {2, 3}, .strides = {1, 2}, .padding = "same"},
        {.pool_size = {3, 2}, .strides = {2, 1}, .padding = "valid"},
        {.pool_size = {2, 2}, .padding = "same"},
    };
    for (size_t i = 0; i < sizeof os / sizeof *os; i++) {
        ct_tensor *x = rnd64(4, (const int64_t[]){2, 5, 6, 3}, 10 + (unsigned)i);
        ct_gradcheck(max_fn, 1, &x, &os[i], 1e-6);
        ct_gradcheck(avg_fn, 1, &x, &os[i], 1e-6);
    }
    ct_pool_opts o1 = {.pool_size = {3}, .strides = {2}, .padding = "same"};
    ct_tensor *x1 = rnd64(3, (const int64_t[]){2, 8, 2}, 20);
    ct_gradcheck(max_fn, 1, &x1, &o1, 1e-6);
    ct_gradcheck(avg_fn, 1, &x1, &o1, 1e-6);
    ct_pool_opts o3 = {.pool_size = {2, 2, 2}, .strides = {1, 2, 1}, .padding = "same"};
    ct_tensor *x3 = rnd64(5, (const int64_t[]){1, 3, 4, 3, 2}, 21);
    ct_gradcheck(max_fn, 1, &x3, &o3, 1e-6);
    ct_gradcheck(avg_fn, 1, &x3, &o3, 1e-6);
}

/* The gradient as a function of the upstream gradient dy (x fixed): its
 * derivative is MaxPoolGradGrad / AvgPool, and theirs the gradients again. */
typedef struct {
    ct_tensor *x;
    ct_pool_opts o;
    bool avg;
} grad_ctx;

static ct_tensor *pool_grad_fn(ct_tensor *const *in, void *p) {
    grad_ctx *g = p;
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, g->x);
    ct_tensor *y = g->avg ? ct_avg_pool(g->x, &g->o) : ct_max_pool(g->x, &g->o);
    ct_tensor *l = ct_reduce_sum(ct_multiply(y, in[0]), CT_ALL, false);
    ct_tape_end(tape);
    ct_tensor *dx;
    ct_status st = ct_tape_gradient(tape, l, 1, &g->x, &dx, NULL);
    ct_tape_free(tape);
    return st ? NULL : ct_square(dx);
}

Test(pool, second_order_gradchecks) {
    grad_ctx g = {.x = rnd64(4, (const int64_t[]){1, 5, 5, 2}, 31),
                  .o = {.pool_size = {2, 2}, .strides = {2, 1}, .padding = "same"}};
    ct_tensor *dy = rnd64(4, (const int64_t[]){1, 3, 5, 2}, 32);
    ct_gradcheck(pool_grad_fn, 1, &dy, &g, 1e-6);
    g.avg = true;
    ct_gradcheck(pool_grad_fn, 1, &dy, &g, 1e-6);
}

Test(pool, errors) {
    ct_tensor *x = ct_ones(CT_FLOAT32, CT_DIMS(1, 4, 4, 2));
    CT_FAILS(ct_max_pool(ct_ones(CT_FLOAT32, CT_DIMS(4, 2)), &(ct_pool_opts){.pool_size = {2}}),
             "ct_max_pool: x must have rank 3, 4 or 5");
    CT_FAILS(ct_max_pool(x, &(ct_pool_opts){.pool_size = {2, 0}}), "pool_size and strides");
    CT_FAILS(ct_avg_pool(x, &(ct_pool_opts){.pool_size = {2, 2}, .strides = {-1, 1}}),
             "ct_avg_pool: pool_size and strides must be positive");
    CT_FAILS(ct_max_pool(x, &(ct_pool_opts){.pool_size = {2, 2}, .padding = "SAMEISH"}),
             "padding must be");
    CT_FAILS(ct_max_pool(x, NULL), "pool_size is required");
    CT_FAILS(ct_max_pool(x, &(ct_pool_opts){.pool_size = {7, 7}, .strides = {1, 1}}),
             "would be negative");
    CT_FAILS(ct_avg_pool(NULL, &(ct_pool_opts){.pool_size = {2}}), "ct_avg_pool");
}
