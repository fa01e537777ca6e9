/*
 * GPU throughput: ct_add on 16M floats (GB/s moved: two reads, one write)
 * and a 4096^3 float32 matmul (TFLOP/s), on /device:GPU:0.
 *
 *     bench_cuda [iterations]
 *
 * One JSON object per line. Without a visible GPU it prints a "skipped"
 * line and exits 0, so scripts can run it anywhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"

/* A [rows, cols] float32 tensor of small pseudo-random values on dev. */
static ct_tensor *filled(ct_device *dev, int64_t rows, int64_t cols) {
    int64_t n = rows * cols;
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) return NULL;
    uint32_t s = 12345;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        v[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
    ct_device_scope_begin(dev);
    ct_tensor *t = ct_constant(v, CT_FLOAT32, CT_DIMS(rows, cols));
    ct_device_scope_end();
    free(v);
    return t;
}

static int fail(const char *what) {
    printf("{\"bench\":\"%s\",\"error\":\"%s\"}\n", what, ct_last_error());
    return 1;
}

/* Seconds per call of op(a, b) after warm-up, the device drained. */
static double time_op(ct_tensor *(*op)(const ct_tensor *, const ct_tensor *), ct_tensor *a,
                      ct_tensor *b, ct_device *dev, int iters) {
    for (int i = 0; i < 3; i++) {
        ct_scope_begin();
        if (!op(a, b)) return -1;
        ct_scope_end();
    }
    if (ct_device_synchronize(dev)) return -1;
    double t0 = bench_now();
    for (int i = 0; i < iters; i++) {
        ct_scope_begin();
        if (!op(a, b)) return -1;
        ct_scope_end();
    }
    if (ct_device_synchronize(dev)) return -1;
    return (bench_now() - t0) / iters;
}

int main(int argc, char **argv) {
    int iters = argc > 1 ? atoi(argv[1]) : 0;
    if (ct_device_count(CT_DEVICE_CUDA) == 0) {
        printf("{\"bench\":\"cuda\",\"skipped\":\"no CUDA device visible (needs CT_CUDA=ON, "
               "a GPU and its driver)\"}\n");
        return 0;
    }
    ct_device *gpu = ct_device_get(CT_DEVICE_CUDA, 0);
    if (!gpu) return fail("cuda");
    ct_scope_begin();

    const int64_t n = (int64_t)1 << 24;
    ct_tensor *a = filled(gpu, n / 1024, 1024), *b = filled(gpu, n / 1024, 1024);
    if (!a || !b) return fail("add_f32");
    double s = time_op(ct_add, a, b, gpu, iters > 0 ? iters : 200);
    if (s < 0) return fail("add_f32");
    printf("{\"bench\":\"add_f32\",\"device\":\"%s\",\"elements\":%lld,\"ms\":%.4f,"
           "\"gb_per_s\":%.1f}\n", ct_device_name(gpu), (long long)n, s * 1e3,
           3.0 * 4.0 * (double)n / s / 1e9);

    const int64_t m = 4096;
    ct_tensor *x = filled(gpu, m, m), *y = filled(gpu, m, m);
    if (!x || !y) return fail("matmul_f32");
    s = time_op(ct_matmul, x, y, gpu, iters > 0 ? iters : 20);
    if (s < 0) return fail("matmul_f32");
    printf("{\"bench\":\"matmul_f32\",\"device\":\"%s\",\"m\":%lld,\"n\":%lld,\"k\":%lld,"
           "\"ms\":%.3f,\"tflop_per_s\":%.2f}\n", ct_device_name(gpu), (long long)m,
           (long long)m, (long long)m, s * 1e3, 2.0 * (double)m * m * m / s / 1e12);
    ct_scope_end();
    return 0;
}
