/*
 * The CUDA device against the CPU: copies, memory accounting, the binary
 * elementwise kernels, cuBLAS matmul and a gradient computed on the GPU.
 * Every GPU result is compared with the same op on the CPU.
 *
 * Without a visible GPU (a CPU-only build, no driver, no device) every
 * test is skipped, saying why.
 */
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(cuda, .init = ct_test_begin, .fini = ct_test_end);

/* GPU 0, or skips the test. */
static ct_device *gpu(void) {
    if (ct_device_count(CT_DEVICE_CUDA) == 0)
        cr_skip_test("no CUDA device visible: these tests need a build with CT_CUDA=ON and a "
                     "GPU with its driver");
    ct_device *d = ct_device_get(CT_DEVICE_CUDA, 0);
    cr_assert_not_null(d, "%s", ct_last_error());
    return d;
}

static ct_device *cpu(void) { return ct_device_get(CT_DEVICE_CPU, 0); }

/* Deterministic values in [-2, 2) with a few exact repeats (so ties and
 * equal elements occur in comparisons and max / min). */
static ct_tensor *rand_tensor(ct_dtype dt, int rank, const int64_t *shape, uint64_t seed) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(s >> 11) / 9007199254740992.0; /* [0, 1) */
        v[i] = (i % 7 == 3) ? 1.0 : -2.0 + 4.0 * u;
        if (ct_dtype_is_integer(dt)) v[i] = (double)(int64_t)(v[i] * 40);
        if (dt == CT_UINT8) v[i] = fabs(v[i]);
    }
    ct_tensor *f = ct_constant(v, CT_FLOAT64, rank, shape);
    free(v);
    return dt == CT_FLOAT64 ? f : ct_cast(f, dt);
}

/* Asserts that got (any device) equals want (any device): dtype, shape,
 * and values within tol relative to max(1, |want|), NaN equal to NaN. */
static void expect_same(const ct_tensor *got, const ct_tensor *want, double tol, const char *what) {
    CT_OK(got);
    CT_OK(want);
    cr_assert_eq(ct_tensor_dtype(got), ct_tensor_dtype(want), "%s: dtype %s, expected %s", what,
                 ct_dtype_name(ct_tensor_dtype(got)), ct_dtype_name(ct_tensor_dtype(want)));
    ct_expect_shape(got, ct_tensor_rank(want), ct_tensor_shape(want));
    int64_t n = ct_tensor_size(want);
    double *g = malloc((size_t)(n ? n : 1) * sizeof *g), *w = malloc((size_t)(n ? n : 1) * sizeof *w);
    CT_STATUS_OK(ct_tensor_read(got, CT_FLOAT64, g, n));
    CT_STATUS_OK(ct_tensor_read(want, CT_FLOAT64, w, n));
    for (int64_t i = 0; i < n; i++) {
        bool ok = (isnan(g[i]) && isnan(w[i])) || g[i] == w[i] ||
                  fabs(g[i] - w[i]) <= tol * fmax(1.0, fabs(w[i]));
        if (!ok) {
            double gi = g[i], wi = w[i];
            free(g);
            free(w);
            cr_assert_fail("%s: element %lld is %.17g on the GPU, %.17g on the CPU", what,
                           (long long)i, gi, wi);
        }
    }
    free(g);
    free(w);
}

/* ---- the device and copies ---------------------------------------------------- */

Test(cuda, devices_are_named_and_cached) {
    ct_device *d = gpu();
    cr_expect_eq(ct_device_get(CT_DEVICE_CUDA, 0), d);
    cr_expect_eq(ct_device_kind_of(d), CT_DEVICE_CUDA);
    cr_expect_eq(ct_device_index(d), 0);
    cr_expect_str_eq(ct_device_name(d), "/device:GPU:0");
    int n = ct_device_count(CT_DEVICE_CUDA);
    ct_clear_error();
    cr_expect_null(ct_device_get(CT_DEVICE_CUDA, n));
    cr_expect_eq(ct_last_status(), CT_ERR_NOT_FOUND);
    CT_STATUS_OK(ct_device_synchronize(d));
}

Test(cuda, round_trip_every_dtype) {
    ct_device *d = gpu();
    const ct_dtype dts[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16,
                            CT_INT32,   CT_INT64,   CT_UINT8,   CT_BOOL};
    for (size_t i = 0; i < sizeof dts / sizeof *dts; i++) {
        ct_tensor *x = ct_cast(CT_F64(CT_DIMS(2, 3), 1, 0, -2, 3.5, 100, 7), dts[i]);
        CT_OK(x);
        ct_tensor *g = ct_to_device(x, d);
        CT_OK(g);
        cr_expect_eq(ct_tensor_device(g), d);
        ct_tensor *back = ct_to_device(g, cpu());
        expect_same(back, x, 0, ct_dtype_name(dts[i]));
        cr_expect_eq(ct_tensor_device(back), cpu());
        expect_same(g, x, 0, "read directly from the GPU");
    }
    /* rank 0, empty, and one large enough for several DMA chunks */
    expect_same(ct_to_device(ct_scalar(-3.25), d), ct_scalar(-3.25), 0, "scalar");
    ct_tensor *e = ct_constant(NULL, CT_FLOAT32, CT_DIMS(0, 4));
    expect_same(ct_to_device(ct_to_device(e, d), cpu()), e, 0, "empty");
    ct_tensor *big = rand_tensor(CT_FLOAT32, CT_DIMS(3, 1000, 1001), 1);
    expect_same(ct_to_device(ct_to_device(big, d), cpu()), big, 0, "3M floats");
    cr_expect_float_eq(ct_item(ct_to_device(ct_scalar(2.5), d)), 2.5, 0);
    cr_expect_float_eq(ct_tensor_get(ct_to_device(big, d), 2999), ct_tensor_get(big, 2999), 0);
}

Test(cuda, constants_under_a_device_scope_live_on_the_gpu) {
    ct_device *d = gpu();
    ct_device_scope_begin(d);
    ct_tensor *x = CT_F32(CT_DIMS(3), 1, 2, 3);
    ct_tensor *z = ct_constant(NULL, CT_INT64, CT_DIMS(2, 2));
    ct_device_scope_end();
    cr_expect_eq(ct_tensor_device(x), d);
    CT_EXPECT(x, CT_FLOAT32, CT_DIMS(3), 0, 1, 2, 3);
    CT_EXPECT(z, CT_INT64, CT_DIMS(2, 2), 0, 0, 0, 0, 0);
}

Test(cuda, inputs_on_different_devices_are_an_error) {
    ct_device *d = gpu();
    ct_tensor *a = CT_F32(CT_DIMS(2), 1, 2);
    CT_FAILS(ct_add(a, ct_to_device(a, d)), "different devices");
    CT_FAILS(ct_add(a, ct_to_device(a, d)), "/device:GPU:0");
}

/* ---- memory ----------------------------------------------------------------------- */

Test(cuda, memory_stats_follow_tensors) {
    ct_device *d = gpu();
    ct_memory_stats before, during, after;
    CT_STATUS_OK(ct_device_memory_stats(d, &before));
    cr_expect_gt(before.limit, 0);
    ct_scope_begin();
    ct_device_scope_begin(d);
    ct_tensor *t = ct_constant(NULL, CT_FLOAT32, CT_DIMS(1024, 1024)); /* 4 MiB */
    ct_device_scope_end();
    CT_OK(t);
    CT_STATUS_OK(ct_device_memory_stats(d, &during));
    cr_expect_geq(during.in_use, before.in_use + (4u << 20));
    cr_expect_geq(during.peak_in_use, during.in_use);
    cr_expect_geq(during.reserved, during.in_use);
    cr_expect_gt(during.num_allocs, before.num_allocs);
    ct_scope_end();
    CT_STATUS_OK(ct_device_memory_stats(d, &after));
    cr_expect_eq(after.in_use, before.in_use);
    ct_device_empty_cache(d);
    CT_STATUS_OK(ct_device_memory_stats(d, &after));
    cr_expect_leq(after.reserved, during.reserved);
}

Test(cuda, memory_limit_gives_an_out_of_memory_error) {
    ct_device *d = gpu();
    ct_memory_stats st;
    CT_STATUS_OK(ct_device_memory_stats(d, &st));
    CT_STATUS_OK(ct_device_set_memory_limit(d, st.in_use + (64u << 20)));
    ct_device_scope_begin(d);
    ct_clear_error();
    ct_tensor *t = ct_constant(NULL, CT_FLOAT32, CT_DIMS(256, 1024, 1024)); /* 1 GiB */
    ct_device_scope_end();
    cr_expect_null(t);
    cr_expect_eq(ct_last_status(), CT_ERR_OUT_OF_MEMORY);
    cr_expect(strstr(ct_last_error(), "out of memory on /device:GPU:0") != NULL, "%s",
              ct_last_error());
    ct_memory_stats st2;
    CT_STATUS_OK(ct_device_memory_stats(d, &st2));
    cr_expect_gt(st2.num_ooms, st.num_ooms);
    /* A small tensor still fits, and the limit can be lifted again. */
    ct_device_scope_begin(d);
    CT_OK(ct_constant(NULL, CT_FLOAT32, CT_DIMS(1024)));
    ct_device_scope_end();
    CT_STATUS_OK(ct_device_set_memory_limit(d, 0));
}

/* ---- binary elementwise ------------------------------------------------------------ */

typedef ct_tensor *(*binary_fn)(const ct_tensor *, const ct_tensor *);
static const struct {
    const char *name;
    binary_fn fn;
    bool float_only, bool_ok; /* bool_ok: defined for bool inputs (TF: only ==, !=) */
} binaries[] = {
    {"add", ct_add, false, false},
    {"subtract", ct_subtract, false, false},
    {"multiply", ct_multiply, false, false},
    {"divide", ct_divide, true, false},
    {"maximum", ct_maximum, false, false},
    {"minimum", ct_minimum, false, false},
    {"squared_difference", ct_squared_difference, false, false},
    {"equal", ct_equal, false, true},
    {"not_equal", ct_not_equal, false, true},
    {"less", ct_less, false, false},
    {"less_equal", ct_less_equal, false, false},
    {"greater", ct_greater, false, false},
    {"greater_equal", ct_greater_equal, false, false},
};

/* op(a, b) on the GPU equals op(a, b) on the CPU. */
static void check_binary(binary_fn fn, const char *name, ct_tensor *a, ct_tensor *b) {
    ct_device *d = gpu();
    char what[160];
    snprintf(what, sizeof what, "%s(%s, %s)", name, ct_dtype_name(ct_tensor_dtype(a)),
             ct_shape_str(ct_tensor_rank(a), ct_tensor_shape(a), (char[64]){0}, 64));
    ct_tensor *want = fn(a, b);
    CT_OK(want);
    ct_tensor *got = fn(ct_to_device(a, d), ct_to_device(b, d));
    CT_OK(got);
    cr_assert_eq(ct_tensor_device(got), d, "%s ran on %s", what, ct_device_name(ct_tensor_device(got)));
    expect_same(got, want, 0, what);
}

Test(cuda, add_equals_cpu_with_broadcasting) {
    gpu();
    static const struct {
        int ra, rb;
        int64_t sa[4], sb[4];
    } cases[] = {
        {2, 2, {37, 1000}, {37, 1000}},   /* same shape, vectorised, with a tail */
        {1, 1, {1048579}, {1048579}},     /* 2^20 + 3: many blocks and a tail   */
        {0, 1, {0}, {7}},                 /* scalar + vector                    */
        {1, 0, {4099}, {0}},              /* vector + scalar                    */
        {2, 1, {300, 17}, {17}},          /* row broadcast                      */
        {2, 2, {300, 17}, {300, 1}},      /* column broadcast                   */
        {3, 2, {4, 1, 5}, {3, 1}},        /* both broadcast: [4, 3, 5]          */
        {4, 2, {2, 3, 1, 6}, {5, 6}},     /* rank 4: [2, 3, 5, 6]               */
        {2, 1, {0, 3}, {3}},              /* empty                              */
        {1, 1, {1}, {1}},                 /* one element                        */
    };
    const ct_dtype dts[] = {CT_FLOAT32, CT_FLOAT64, CT_INT32, CT_INT64, CT_UINT8};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (size_t j = 0; j < sizeof dts / sizeof *dts; j++) {
            ct_scope_begin();
            ct_tensor *a = rand_tensor(dts[j], cases[i].ra, cases[i].sa, 10 + i);
            ct_tensor *b = rand_tensor(dts[j], cases[i].rb, cases[i].sb, 20 + i);
            check_binary(ct_add, "add", a, b);
            ct_scope_end();
        }
}

Test(cuda, every_binary_kernel_equals_cpu) {
    gpu();
    const ct_dtype dts[] = {CT_FLOAT32, CT_FLOAT64, CT_INT32, CT_INT64, CT_UINT8};
    for (size_t k = 0; k < sizeof binaries / sizeof *binaries; k++)
        for (size_t j = 0; j < sizeof dts / sizeof *dts; j++) {
            if (binaries[k].float_only && !ct_dtype_is_float(dts[j])) continue;
            ct_scope_begin();
            ct_tensor *a = rand_tensor(dts[j], CT_DIMS(64, 33), 3 + k);
            ct_tensor *b = rand_tensor(dts[j], CT_DIMS(64, 33), 5 + k);
            ct_tensor *row = rand_tensor(dts[j], CT_DIMS(33), 7 + k);
            if (binaries[k].fn == ct_divide) b = ct_add(ct_maximum(b, ct_scalar_of(dts[j], 0)),
                                                        ct_scalar_of(dts[j], 0.5));
            check_binary(binaries[k].fn, binaries[k].name, a, b);
            check_binary(binaries[k].fn, binaries[k].name, a, row);
            check_binary(binaries[k].fn, binaries[k].name, row, a);
            ct_scope_end();
        }
    /* bool comparisons and logic */
    ct_tensor *p = CT_BOOLS(CT_DIMS(4), true, true, false, false);
    ct_tensor *q = CT_BOOLS(CT_DIMS(4), true, false, true, false);
    for (size_t k = 0; k < sizeof binaries / sizeof *binaries; k++)
        if (binaries[k].bool_ok) check_binary(binaries[k].fn, binaries[k].name, p, q);
    check_binary(ct_logical_and, "logical_and", p, q);
    check_binary(ct_logical_or, "logical_or", p, q);
    check_binary(ct_logical_xor, "logical_xor", p, q);
}

Test(cuda, nan_inf_and_integer_wraparound_match_cpu) {
    gpu();
    ct_tensor *a = CT_F32(CT_DIMS(6), NAN, 1, NAN, INFINITY, -INFINITY, 0);
    ct_tensor *b = CT_F32(CT_DIMS(6), 1, NAN, NAN, INFINITY, 2, -0.0f);
    for (size_t k = 0; k < sizeof binaries / sizeof *binaries; k++)
        check_binary(binaries[k].fn, binaries[k].name, a, b);
    ct_tensor *i = CT_I32(CT_DIMS(3), 2147483647, -2147483647 - 1, 65536);
    ct_tensor *j = CT_I32(CT_DIMS(3), 1, -1, 65536);
    check_binary(ct_add, "add", i, j);
    check_binary(ct_subtract, "subtract", i, j);
    check_binary(ct_multiply, "multiply", i, j);
}

Test(cuda, misaligned_views_take_the_strided_path) {
    ct_device *d = gpu();
    ct_tensor *a = rand_tensor(CT_FLOAT32, CT_DIMS(1001), 1);
    ct_tensor *b = rand_tensor(CT_FLOAT32, CT_DIMS(1001), 2);
    ct_tensor *ga = ct_to_device(a, d), *gb = ct_to_device(b, d);
    /* Offsets of 1 and 2 floats: not 16-byte aligned. */
    ct_tensor *va = ct_slice(ga, (const int64_t[]){1}, (const int64_t[]){999});
    ct_tensor *vb = ct_slice(gb, (const int64_t[]){2}, (const int64_t[]){999});
    CT_OK(va);
    CT_OK(vb);
    ct_tensor *want = ct_add(ct_slice(a, (const int64_t[]){1}, (const int64_t[]){999}),
                             ct_slice(b, (const int64_t[]){2}, (const int64_t[]){999}));
    expect_same(ct_add(va, vb), want, 0, "add of offset views");
}

Test(cuda, unsupported_kernels_name_the_op_and_device) {
    ct_device *d = gpu();
    ct_tensor *a = ct_to_device(CT_I32(CT_DIMS(2), 7, -7), d);
    ct_tensor *b = ct_to_device(CT_I32(CT_DIMS(2), 2, 2), d);
    CT_FAILS(ct_floordiv(a, b), "/device:GPU:0");
    CT_FAILS(ct_floordiv(a, b), "FloorDiv");
    cr_expect_eq(ct_last_status(), CT_ERR_UNIMPLEMENTED);
    CT_FAILS(ct_matmul(ct_reshape(a, CT_DIMS(1, 2)), ct_reshape(b, CT_DIMS(2, 1))), "int32");
    cr_expect_eq(ct_last_status(), CT_ERR_UNIMPLEMENTED);
}

/* ---- matmul ------------------------------------------------------------------------ */

static void check_matmul(ct_dtype dt, int ra, const int64_t *sa, int rb, const int64_t *sb,
                         bool ta, bool tb, double tol) {
    ct_device *d = gpu();
    ct_scope_begin();
    ct_tensor *a = rand_tensor(dt, ra, sa, (uint64_t)(ra * 31 + sa[ra - 1]));
    ct_tensor *b = rand_tensor(dt, rb, sb, (uint64_t)(rb * 17 + sb[rb - 1]));
    char what[200];
    snprintf(what, sizeof what, "matmul(%s%s, %s%s) %s",
             ct_shape_str(ra, sa, (char[64]){0}, 64), ta ? "^T" : "",
             ct_shape_str(rb, sb, (char[64]){0}, 64), tb ? "^T" : "", ct_dtype_name(dt));
    ct_tensor *want = ct_matmul_ex(a, b, ta, tb);
    cr_assert_not_null(want, "%s on the CPU: %s", what, ct_last_error());
    ct_tensor *got = ct_matmul_ex(ct_to_device(a, d), ct_to_device(b, d), ta, tb);
    cr_assert_not_null(got, "%s on the GPU: %s", what, ct_last_error());
    cr_assert_eq(ct_tensor_device(got), d);
    expect_same(got, want, tol, what);
    ct_scope_end();
}

Test(cuda, matmul_equals_cpu) {
    gpu();
    const ct_dtype dts[] = {CT_FLOAT32, CT_FLOAT64};
    for (int i = 0; i < 2; i++) {
        double tol = dts[i] == CT_FLOAT32 ? 1e-4 : 1e-12;
        for (int t = 0; t < 4; t++) {
            bool ta = t & 1, tb = t & 2;
            /* logical [5, 7] x [7, 3], stored transposed where asked */
            check_matmul(dts[i], CT_DIMS(ta ? 7 : 5, ta ? 5 : 7), CT_DIMS(tb ? 3 : 7, tb ? 7 : 3),
                         ta, tb, tol);
            /* equal batches */
            check_matmul(dts[i], CT_DIMS(4, ta ? 6 : 9, ta ? 9 : 6),
                         CT_DIMS(4, tb ? 11 : 6, tb ? 6 : 11), ta, tb, tol);
            /* b one matrix (a's batch folds into M when a is not transposed) */
            check_matmul(dts[i], CT_DIMS(2, 3, ta ? 8 : 5, ta ? 5 : 8),
                         CT_DIMS(tb ? 4 : 8, tb ? 8 : 4), ta, tb, tol);
            /* a one matrix, b batched */
            check_matmul(dts[i], CT_DIMS(ta ? 8 : 5, ta ? 5 : 8),
                         CT_DIMS(3, tb ? 4 : 8, tb ? 8 : 4), ta, tb, tol);
            /* general broadcast of the batch dims: [2,1] with [1,3] */
            check_matmul(dts[i], CT_DIMS(2, 1, ta ? 8 : 5, ta ? 5 : 8),
                         CT_DIMS(3, tb ? 4 : 8, tb ? 8 : 4), ta, tb, tol);
            check_matmul(dts[i], CT_DIMS(2, 1, ta ? 8 : 5, ta ? 5 : 8),
                         CT_DIMS(1, 3, tb ? 4 : 8, tb ? 8 : 4), ta, tb, tol);
        }
        /* large enough for tensor-core tiles, with odd sizes */
        check_matmul(dts[i], CT_DIMS(129, 257), CT_DIMS(257, 95), false, false, tol);
        /* vectors as matrices, k = 1 */
        check_matmul(dts[i], CT_DIMS(6, 1), CT_DIMS(1, 4), false, false, tol);
        check_matmul(dts[i], CT_DIMS(1, 300), CT_DIMS(300, 1), false, false, tol);
    }
}

Test(cuda, matmul_empty_shapes) {
    gpu();
    /* k = 0 gives zeros; m = 0, n = 0 and batch 0 give empty results */
    check_matmul(CT_FLOAT32, CT_DIMS(3, 0), CT_DIMS(0, 4), false, false, 0);
    check_matmul(CT_FLOAT32, CT_DIMS(2, 3, 0), CT_DIMS(2, 0, 4), false, false, 0);
    check_matmul(CT_FLOAT32, CT_DIMS(0, 5), CT_DIMS(5, 4), false, false, 0);
    check_matmul(CT_FLOAT32, CT_DIMS(3, 5), CT_DIMS(5, 0), false, false, 0);
    check_matmul(CT_FLOAT64, CT_DIMS(0, 3, 5), CT_DIMS(5, 2), false, false, 0);
}

/* ---- gradients ------------------------------------------------------------------------ */

/* loss = matmul(x + bias, w); the gradients of x, bias and w given an
 * upstream gradient dy, on dev. */
static ct_status grads_on(ct_device *dev, ct_tensor *x, ct_tensor *bias, ct_tensor *w,
                          ct_tensor *dy, ct_tensor **out) {
    ct_tensor *src[3] = {ct_to_device(x, dev), ct_to_device(bias, dev), ct_to_device(w, dev)};
    ct_tensor *gdy = ct_to_device(dy, dev);
    if (!src[0] || !src[1] || !src[2] || !gdy) return ct_last_status();
    ct_tape *tape = ct_tape_begin(NULL);
    for (int i = 0; i < 3; i++) ct_tape_watch(tape, src[i]);
    ct_tensor *y = ct_matmul(ct_add(src[0], src[1]), src[2]);
    ct_tape_end(tape);
    ct_status st = y ? ct_tape_gradient_ex(tape, y, gdy, 3, src, out, NULL) : ct_last_status();
    ct_tape_free(tape);
    return st;
}

Test(cuda, gradient_through_add_and_matmul) {
    ct_device *d = gpu();
    ct_tensor *x = rand_tensor(CT_FLOAT64, CT_DIMS(5, 4), 1);
    ct_tensor *bias = rand_tensor(CT_FLOAT64, CT_DIMS(5, 4), 2);
    ct_tensor *w = rand_tensor(CT_FLOAT64, CT_DIMS(4, 3), 3);
    ct_tensor *dy = rand_tensor(CT_FLOAT64, CT_DIMS(5, 3), 4);
    ct_tensor *want[3], *got[3];
    CT_STATUS_OK(grads_on(cpu(), x, bias, w, dy, want));
    ct_status st = grads_on(d, x, bias, w, dy, got);
    if (st == CT_ERR_UNIMPLEMENTED)
        cr_skip_test("a gradient op has no GPU kernel yet: %s", ct_last_error());
    CT_STATUS_OK(st);
    const char *names[3] = {"d/dx", "d/dbias", "d/dw"};
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(ct_tensor_device(got[i]), d, "%s is on %s", names[i],
                     ct_device_name(ct_tensor_device(got[i])));
        expect_same(got[i], want[i], 1e-12, names[i]);
    }
}
