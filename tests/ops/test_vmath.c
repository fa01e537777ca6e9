/*
 * The vectorised float math (ops/cpu/vmath.c) against float64 libm, for
 * every instruction-set variant this processor runs: the largest error in
 * ulp over a sweep of float bit patterns plus edge values, exact special
 * values (NaN, infinities, signed zeros, overflow, underflow, denormals),
 * and the same functions reached through the ops with odd sizes (vector
 * tails). Also tf.where (SelectV2) against a naive broadcast reference.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../ops/cpu/vmath.h"
#include "support.h"

TestSuite(vmath, .init = ct_test_begin, .fini = ct_test_end);

typedef void (*vm_fn)(const float *, float *, int64_t);

static double ref_sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }
static double ref_softplus(double x) {
    const double th = -13.942385; /* TF's float32 thresholds: log(FLT_EPSILON) + 2 */
    return x > -th ? x : x < th ? exp(x) : log1p(exp(x));
}
static double ref_rsqrt(double x) { return 1 / sqrt(x); }

/* Error of y in units in the last place of the float nearest r; 1e9 for
 * a wrong special value (NaN, infinity, sign of zero). */
static double ulp_error(float y, double r) {
    if (isnan(r)) return isnan(y) ? 0 : 1e9;
    if (isnan(y)) return 1e9;
    float rf = (float)r;
    if (isinf(rf)) return y == rf ? 0 : 1e9;
    if (isinf(y)) return 1e9;
    if (y == 0 && r == 0) return !signbit(y) == !signbit(r) ? 0 : 1e9;
    int e;
    frexp(r, &e);
    double u = ldexp(1, e - 24 < -149 ? -149 : e - 24);
    return fabs((double)y - r) / u;
}

static const float edges[] = {
    0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 1.0f, -1.0f, 0.5f, -0.5f, 1.5f, -1.5f, 2.5f,
    -2.5f, 0x1p-149f, -0x1p-149f, 0x1p-126f, -0x1p-126f, 0x1.fffffcp-127f, 0x1p-25f, 0x1p-24f,
    -0x1p-25f, 1e-30f, -1e-30f, 0.3466f, -0.3466f, 0.625f, -0.625f, 0.9999999f, 1.0000001f,
    88.7228394f, 88.72284f, 88.8f, 89.0f, -87.33f, -87.34f, -103.97f, -103.98f, -104.0f,
    -150.0f, 9.0f, -9.0f, 13.94f, -13.94f, 13.95f, -13.95f, 16.0f, 3.92f, 4.0f, -4.0f,
    0x1.fffffep21f, 0x1p22f, -0x1p22f, 0x1p23f, 0x1.fffffep22f, 8388609.0f, 3.14159265f,
    1.57079633f, 4.71238898f, 1e10f, -1e10f, 3.4e38f, -3.4e38f, 0x1.fffffep127f, -2.0f, 1e-7f,
};

typedef struct {
    const char *name;
    vm_fn f;
    double (*ref)(double);
    double tol; /* ulp */
} vm_case;

static const vm_case cases[] = {
    {"exp", ct__vm_exp_f32, exp, 1.5},
    {"expm1", ct__vm_expm1_f32, expm1, 2.0},
    {"log", ct__vm_log_f32, log, 1.5},
    {"log1p", ct__vm_log1p_f32, log1p, 2.0},
    {"tanh", ct__vm_tanh_f32, tanh, 2.0},
    {"sigmoid", ct__vm_sigmoid_f32, ref_sigmoid, 2.5},
    {"softplus", ct__vm_softplus_f32, ref_softplus, 2.5},
    {"erf", ct__vm_erf_f32, erf, 1.0},
    {"sin", ct__vm_sin_f32, sin, 1.0},
    {"cos", ct__vm_cos_f32, cos, 1.0},
    {"sqrt", ct__vm_sqrt_f32, sqrt, 0.5},
    {"rsqrt", ct__vm_rsqrt_f32, ref_rsqrt, 1.5},
    {"floor", ct__vm_floor_f32, floor, 0},
    {"ceil", ct__vm_ceil_f32, ceil, 0},
    {"round", ct__vm_round_f32, nearbyint, 0},
};

/* Every 4099th bit pattern (both signs, all exponents) and the edges. */
static float *sweep_inputs(int64_t *n) {
    int64_t cap = (int64_t)((1ull << 32) / 4099) + (int64_t)(sizeof edges / sizeof *edges) + 1;
    float *x = malloc((size_t)cap * sizeof *x);
    cr_assert_not_null(x);
    int64_t k = 0;
    for (uint64_t b = 0; b < (1ull << 32); b += 4099) {
        uint32_t u = (uint32_t)b;
        memcpy(&x[k++], &u, sizeof u);
    }
    memcpy(x + k, edges, sizeof edges);
    *n = k + (int64_t)(sizeof edges / sizeof *edges);
    return x;
}

static void check_isa(int want) {
    int isa = ct__vm_set_isa(want);
    if (isa != want) cr_log_info("instruction set %d not available; testing %d", want, isa);
    int64_t n;
    float *x = sweep_inputs(&n);
    float *y = malloc((size_t)n * sizeof *y);
    cr_assert_not_null(y);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        cases[c].f(x, y, n);
        double worst = 0;
        float wx = 0, wy = 0;
        for (int64_t i = 0; i < n; i++) {
            double e = ulp_error(y[i], cases[c].ref(x[i]));
            if (e > worst) {
                worst = e;
                wx = x[i];
                wy = y[i];
            }
        }
        cr_expect(worst <= cases[c].tol,
                  "isa %d: %s(%a) = %a, reference %a: %.3g ulp (allowed %.3g)", isa,
                  cases[c].name, (double)wx, (double)wy, cases[c].ref(wx), worst, cases[c].tol);
        /* In place gives the same answers. */
        float *z = malloc((size_t)n * sizeof *z);
        cr_assert_not_null(z);
        memcpy(z, x, (size_t)n * sizeof *z);
        cases[c].f(z, z, n);
        cr_expect(memcmp(z, y, (size_t)n * sizeof *z) == 0, "isa %d: %s in place differs", isa,
                  cases[c].name);
        free(z);
    }
    free(y);
    free(x);
}

Test(vmath, accuracy_avx512) { check_isa(CT__VM_AVX512); }
Test(vmath, accuracy_avx2) { check_isa(CT__VM_AVX2); }
Test(vmath, accuracy_sse2) { check_isa(CT__VM_SSE2); }

Test(vmath, special_values) {
    for (int isa = CT__VM_SSE2; isa <= CT__VM_AVX512; isa++) {
        ct__vm_set_isa(isa);
        float x[] = {-INFINITY, INFINITY, 0.0f, -0.0f, 100.0f, -200.0f, -1.0f, -2.0f};
        float y[8];
        ct__vm_exp_f32(x, y, 6);
        cr_expect(y[0] == 0 && y[1] == INFINITY && y[2] == 1 && y[3] == 1 &&
                  y[4] == INFINITY && y[5] == 0);
        ct__vm_log_f32(x, y, 8);
        cr_expect(isnan(y[0]) && y[1] == INFINITY && y[2] == -INFINITY && y[3] == -INFINITY &&
                  isnan(y[6]) && isnan(y[7]));
        ct__vm_log1p_f32(x, y, 8);
        cr_expect(isnan(y[0]) && y[1] == INFINITY && y[3] == 0 && signbit(y[3]) &&
                  y[6] == -INFINITY && isnan(y[7]));
        ct__vm_expm1_f32(x, y, 6);
        cr_expect(y[0] == -1 && y[1] == INFINITY && signbit(y[3]) && y[4] == INFINITY &&
                  y[5] == -1);
        ct__vm_tanh_f32(x, y, 6);
        cr_expect(y[0] == -1 && y[1] == 1 && y[3] == 0 && signbit(y[3]) && y[4] == 1 &&
                  y[5] == -1);
        ct__vm_sigmoid_f32(x, y, 6);
        cr_expect(y[0] == 0 && y[1] == 1 && y[2] == 0.5f && y[4] == 1 && y[5] == 0);
        ct__vm_softplus_f32(x, y, 6);
        cr_expect(y[0] == 0 && y[1] == INFINITY && y[4] == 100 && y[5] == 0);
        ct__vm_erf_f32(x, y, 6);
        cr_expect(y[0] == -1 && y[1] == 1 && y[3] == 0 && signbit(y[3]) && y[4] == 1);
        ct__vm_sin_f32(x, y, 4);
        cr_expect(isnan(y[0]) && isnan(y[1]) && y[3] == 0 && signbit(y[3]));
        /* A denormal result of exp rounds once. */
        float d = -100.0f, e;
        ct__vm_exp_f32(&d, &e, 1);
        cr_expect(e == expf(-100.0f), "exp(-100) = %a, libm %a", (double)e, (double)expf(-100.0f));
    }
}

Test(vmath, float64_roundings) {
    double x[] = {-0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0x1p52 + 1, -0x1p53, INFINITY, -INFINITY,
                  NAN, 1e300, -3.7, 3.7, 0x1p-1074, -0x1p-1074, 4.0};
    int n = (int)(sizeof x / sizeof *x);
    double y[sizeof x / sizeof *x];
    for (int isa = CT__VM_SSE2; isa <= CT__VM_AVX512; isa++) {
        ct__vm_set_isa(isa);
        struct {
            void (*f)(const double *, double *, int64_t);
            double (*ref)(double);
        } fs[] = {{ct__vm_floor_f64, floor}, {ct__vm_ceil_f64, ceil},
                  {ct__vm_round_f64, nearbyint}, {ct__vm_sqrt_f64, sqrt}};
        for (int k = 0; k < 4; k++) {
            fs[k].f(x, y, n);
            for (int i = 0; i < n; i++) {
                double r = fs[k].ref(x[i]);
                cr_expect((isnan(r) && isnan(y[i])) ||
                              (r == y[i] && !signbit(r) == !signbit(y[i])),
                          "isa %d fn %d: x %a gives %a, libm %a", isa, k, x[i], y[i], r);
            }
        }
        ct__vm_rsqrt_f64(x + 17, y, 1);
        cr_expect(y[0] == 0.5);
    }
}

/* Through the ops: sizes around the vector widths exercise the tails. */
Test(vmath, ops_match_reference) {
    typedef ct_tensor *(*op_fn)(const ct_tensor *);
    struct {
        op_fn op;
        double (*ref)(double);
        double lo, hi, tol;
    } ops[] = {
        {ct_exp, exp, -90, 90, 1.5},       {ct_expm1, expm1, -20, 20, 2},
        {ct_log, log, 0, 1e4, 1.5},        {ct_log1p, log1p, -1, 100, 2},
        {ct_tanh, tanh, -10, 10, 2},       {ct_sigmoid, ref_sigmoid, -30, 30, 2.5},
        {ct_softplus, ref_softplus, -30, 30, 2.5}, {ct_erf, erf, -5, 5, 1},
        {ct_sin, sin, -100, 100, 1},       {ct_cos, cos, -100, 100, 1},
        {ct_sqrt, sqrt, 0, 100, 0.5},      {ct_floor, floor, -10, 10, 0},
        {ct_ceil, ceil, -10, 10, 0},       {ct_round, nearbyint, -10, 10, 0},
    };
    const int64_t sizes[] = {1, 3, 7, 8, 15, 17, 33, 1000};
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            int64_t n = sizes[s];
            float *v = malloc((size_t)n * sizeof *v), *got = malloc((size_t)n * sizeof *got);
            cr_assert(v && got);
            for (int64_t i = 0; i < n; i++)
                v[i] = (float)(ops[k].lo + (ops[k].hi - ops[k].lo) * (double)(i * 7919 % n) / (double)n);
            ct_tensor *t = ct_constant(v, CT_FLOAT32, 1, &n);
            ct_tensor *r = ops[k].op(t);
            CT_OK(r);
            CT_STATUS_OK(ct_tensor_read(r, CT_FLOAT32, got, n));
            for (int64_t i = 0; i < n; i++) {
                /* A denormal result is flushed to zero (as TensorFlow
                 * computes on the CPU: runtime/threads.c). */
                double want = ops[k].ref(v[i]);
                if (fabs(want) < FLT_MIN && got[i] == 0) continue;
                double e = ulp_error(got[i], want);
                cr_expect(e <= ops[k].tol, "op %zu n %lld: f(%a) = %a, libm %a (%.3g ulp)", k,
                          (long long)n, (double)v[i], (double)got[i], ops[k].ref(v[i]), e);
            }
            free(v);
            free(got);
        }
}

/* ---- tf.where --------------------------------------------------------------- */

static uint64_t rng_state = 88172645463325252ull;
static uint64_t next_rand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int64_t numel(int r, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < r; i++) n *= shape[i];
    return n;
}

/* A random shape of rank r broadcastable to out: each dim out[i] or 1,
 * leading dims sometimes dropped. */
static int random_operand_shape(int r, const int64_t *out, int64_t *shape) {
    int drop = (int)(next_rand() % (uint64_t)(r + 1));
    if (next_rand() % 2) drop = 0;
    for (int i = drop; i < r; i++) shape[i - drop] = next_rand() % 3 == 0 ? 1 : out[i];
    return r - drop;
}

Test(vmath, where_broadcast_matches_reference) {
    const ct_dtype dts[] = {CT_FLOAT32, CT_FLOAT64, CT_INT32, CT_UINT8, CT_FLOAT16, CT_BOOL};
    for (int trial = 0; trial < 300; trial++) {
        int r = (int)(next_rand() % 5);
        int64_t out[CT_MAX_RANK], sc[CT_MAX_RANK], sx[CT_MAX_RANK], sy[CT_MAX_RANK];
        for (int i = 0; i < r; i++) out[i] = 1 + (int64_t)(next_rand() % 5);
        int rc = random_operand_shape(r, out, sc), rx = random_operand_shape(r, out, sx);
        int ry = random_operand_shape(r, out, sy);
        /* The output is the broadcast of the three (a dim of out may be 1 in all). */
        int64_t nc = numel(rc, sc), nx = numel(rx, sx);
        int64_t ny = numel(ry, sy);
        ct_dtype dt = dts[trial % (int)(sizeof dts / sizeof *dts)];
        bool *cv = malloc((size_t)nc + 1);
        double *xv = malloc((size_t)(nx + 1) * sizeof *xv), *yv = malloc((size_t)(ny + 1) * sizeof *yv);
        cr_assert(cv && xv && yv);
        for (int64_t i = 0; i < nc; i++) cv[i] = next_rand() % 2;
        for (int64_t i = 0; i < nx; i++) xv[i] = (double)(next_rand() % 100);
        for (int64_t i = 0; i < ny; i++) yv[i] = -(double)(next_rand() % 100) - 1;
        ct_tensor *c = ct_constant(cv, CT_BOOL, rc, sc);
        ct_tensor *x = ct_cast(ct_constant(xv, CT_FLOAT64, rx, sx), dt);
        ct_tensor *y = ct_cast(ct_constant(yv, CT_FLOAT64, ry, sy), dt);
        ct_tensor *w = ct_where(c, x, y);
        CT_OK(w);
        int orank = ct_tensor_rank(w);
        const int64_t *oshape = ct_tensor_shape(w);
        int64_t n = ct_tensor_size(w);
        double *got = malloc((size_t)(n + 1) * sizeof *got);
        cr_assert_not_null(got);
        CT_STATUS_OK(ct_tensor_read(w, CT_FLOAT64, got, n));
        double *xc = malloc((size_t)(nx + 1) * sizeof *xc), *yc = malloc((size_t)(ny + 1) * sizeof *yc);
        cr_assert(xc && yc);
        CT_STATUS_OK(ct_tensor_read(x, CT_FLOAT64, xc, nx));
        CT_STATUS_OK(ct_tensor_read(y, CT_FLOAT64, yc, ny));
        for (int64_t i = 0; i < n; i++) {
            /* Index of output element i in each operand (numpy broadcasting). */
            int64_t rem = i, ic = 0, ix = 0, iy = 0, mc = 1, mx = 1, my = 1;
            for (int d = orank - 1; d >= 0; d--) {
                int64_t k = rem % oshape[d];
                rem /= oshape[d];
                int dc = d - (orank - rc), dx = d - (orank - rx), dy = d - (orank - ry);
                if (dc >= 0) {
                    ic += (sc[dc] == 1 ? 0 : k) * mc;
                    mc *= sc[dc];
                }
                if (dx >= 0) {
                    ix += (sx[dx] == 1 ? 0 : k) * mx;
                    mx *= sx[dx];
                }
                if (dy >= 0) {
                    iy += (sy[dy] == 1 ? 0 : k) * my;
                    my *= sy[dy];
                }
            }
            double want = cv[ic] ? xc[ix] : yc[iy];
            cr_assert_eq(got[i], want, "trial %d (%s): element %lld is %g, expected %g", trial,
                         ct_dtype_name(dt), (long long)i, got[i], want);
        }
        free(got);
        free(xc);
        free(yc);
        free(cv);
        free(xv);
        free(yv);
    }
}

/* Large enough to be split across threads (when there are several). */
Test(vmath, where_large_flat) {
    int64_t n = 1 << 20;
    ct_set_num_threads(2);
    ct_tensor *x = ct_random_uniform(1, &n, NULL);
    ct_tensor *y = ct_random_uniform(1, &n, NULL);
    ct_tensor *w = ct_where(ct_greater(x, y), x, y);
    ct_tensor *m = ct_maximum(x, y);
    CT_OK(w);
    CT_OK(m);
    cr_expect_eq(ct_item(ct_reduce_max(ct_abs(ct_subtract(w, m)), CT_ALL, false)), 0);
    ct_set_num_threads(0);
}
