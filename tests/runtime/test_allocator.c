/* The caching allocator through the public device API, the device
 * registry, and the thread budget. Criterion runs every test in a fresh
 * process, so each starts with an untouched allocator. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(allocator, .init = ct_test_begin, .fini = ct_test_end);

static ct_device *cpu(void) {
    ct_device *d = ct_device_get(CT_DEVICE_CPU, 0);
    cr_assert_not_null(d, "%s", ct_last_error());
    return d;
}

static ct_memory_stats stats(void) {
    ct_memory_stats s;
    CT_STATUS_OK(ct_device_memory_stats(cpu(), &s));
    return s;
}

/* A tensor of exactly `bytes` bytes. */
static ct_tensor *bytes_tensor(int64_t bytes) { return ct_constant(NULL, CT_UINT8, CT_DIMS(bytes)); }

Test(allocator, in_use_and_peak_grow_and_shrink) {
    ct_memory_stats s0 = stats();
    ct_tensor *a = bytes_tensor(1 << 20);
    CT_OK(a);
    ct_memory_stats s1 = stats();
    cr_expect_geq(s1.in_use, s0.in_use + (1 << 20));
    cr_expect_geq(s1.peak_in_use, s1.in_use);
    cr_expect_geq(s1.reserved, s1.in_use);
    cr_expect_eq(s1.num_allocs, s0.num_allocs + 1);
    ct_tensor *b = bytes_tensor(3 << 20);
    ct_memory_stats s2 = stats();
    cr_expect_geq(s2.in_use, s1.in_use + (3 << 20));
    ct_tensor_free(b);
    ct_memory_stats s3 = stats();
    cr_expect_eq(s3.in_use, s1.in_use, "freeing returns exactly what was taken");
    cr_expect_eq(s3.peak_in_use, s2.in_use, "the peak remembers");
    cr_expect_geq(s3.reserved, s3.in_use, "freed memory stays cached");
    ct_tensor_free(a);
    cr_expect_eq(stats().in_use, s0.in_use);
    ct_device_empty_cache(cpu());
    if (s0.in_use == 0)
        cr_expect_eq(stats().reserved, 0, "nothing in use: emptying the cache returns every region");
}

Test(allocator, limit_refuses_with_a_message_then_raising_it_works) {
    ct_tensor *small = bytes_tensor(1000);
    CT_OK(small);
    ct_memory_stats s0 = stats();
    CT_STATUS_OK(ct_device_set_memory_limit(cpu(), 4u << 20));
    cr_expect_eq(stats().limit, 4u << 20);
    ct_clear_error();
    ct_tensor *big = bytes_tensor(8 << 20);
    cr_expect_null(big);
    cr_expect_eq(ct_last_status(), CT_ERR_OUT_OF_MEMORY);
    const char *msg = ct_last_error();
    cr_expect(strstr(msg, "ct_constant") != NULL, "names the op: %s", msg);
    cr_expect(strstr(msg, "requested 8388608 bytes") != NULL, "names the request: %s", msg);
    cr_expect(strstr(msg, "limit 4194304") != NULL, "names the limit: %s", msg);
    cr_expect(strstr(msg, "peak") != NULL, "names the peak: %s", msg);
    cr_expect_eq(stats().num_ooms, s0.num_ooms + 1);
    /* Within the limit still works. */
    ct_tensor *fits = bytes_tensor(1 << 20);
    CT_OK(fits);
    CT_STATUS_OK(ct_device_set_memory_limit(cpu(), 64u << 20));
    big = bytes_tensor(8 << 20);
    CT_OK(big);
    CT_STATUS_OK(ct_device_set_memory_limit(cpu(), 0));
    cr_expect_gt(stats().limit, 64u << 20, "0 restores the device's memory");
}

Test(allocator, limit_below_in_use_is_refused) {
    ct_tensor *a = bytes_tensor(2 << 20);
    CT_OK(a);
    size_t before = stats().limit;
    ct_clear_error();
    cr_expect_eq(ct_device_set_memory_limit(cpu(), 1 << 20), CT_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(ct_last_error(), "more than the new limit 1048576") != NULL, "%s",
              ct_last_error());
    cr_expect_eq(stats().limit, before, "the old limit stays");
}

Test(allocator, no_growth_reserves_the_limit_up_front) {
    CT_STATUS_OK(ct_device_set_memory_limit(cpu(), 16u << 20));
    CT_STATUS_OK(ct_device_set_memory_growth(cpu(), false));
    ct_tensor *a = bytes_tensor(1024);
    CT_OK(a);
    cr_expect_eq(stats().reserved, 16u << 20, "the whole limit at the first allocation");
    ct_clear_error();
    cr_expect_null(bytes_tensor(20 << 20));
    cr_expect_eq(ct_last_status(), CT_ERR_OUT_OF_MEMORY);
    /* Growth can no longer change; setting the same value is fine. */
    CT_STATUS_OK(ct_device_set_memory_growth(cpu(), false));
    cr_expect_eq(ct_device_set_memory_growth(cpu(), true), CT_ERR_INVALID_ARGUMENT);
}

Test(allocator, growth_setting_fails_after_first_allocation) {
    CT_STATUS_OK(ct_device_set_memory_growth(cpu(), true)); /* before: fine */
    ct_tensor *a = bytes_tensor(10);
    CT_OK(a);
    ct_clear_error();
    cr_expect_eq(ct_device_set_memory_growth(cpu(), false), CT_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(ct_last_error(), "ct_device_set_memory_growth: /device:CPU:0 has already "
                                      "allocated memory") != NULL, "%s", ct_last_error());
}

Test(allocator, random_alloc_free_keeps_in_use_consistent) {
    enum { SLOTS = 32, STEPS = 2000 };
    ct_tensor *live[SLOTS] = {0};
    int64_t size[SLOTS] = {0};
    ct_memory_stats s0 = stats();
    size_t peak = 0;
    unsigned seed = 12345;
    for (int step = 0; step < STEPS; step++) {
        int k = rand_r(&seed) % SLOTS;
        if (live[k]) {
            ct_tensor_free(live[k]);
            live[k] = NULL;
        } else {
            /* Mostly small, sometimes a few megabytes, sometimes empty. */
            int r = rand_r(&seed) % 100;
            size[k] = r < 5 ? 0 : r < 90 ? rand_r(&seed) % 5000 : rand_r(&seed) % (4 << 20);
            live[k] = bytes_tensor(size[k]);
            CT_OK(live[k]);
        }
        size_t lo = 0, hi = 0;
        for (int i = 0; i < SLOTS; i++)
            if (live[i]) {
                lo += (size_t)size[i];
                hi += (size_t)size[i] + 256; /* rounding to the chunk size */
            }
        ct_memory_stats s = stats();
        size_t used = s.in_use - s0.in_use;
        cr_assert(used >= lo && used <= hi, "step %d: %zu bytes in use for %zu..%zu", step, used,
                  lo, hi);
        cr_assert_geq(s.reserved, s.in_use);
        if (s.in_use > peak) peak = s.in_use;
        cr_assert_geq(s.peak_in_use, peak);
    }
    for (int i = 0; i < SLOTS; i++) ct_tensor_free(live[i]);
    cr_expect_eq(stats().in_use, s0.in_use, "everything returned");
    cr_expect_eq(stats().num_ooms, s0.num_ooms);
}

Test(allocator, stats_errors) {
    ct_memory_stats s;
    cr_expect_eq(ct_device_memory_stats(NULL, &s), CT_ERR_INVALID_ARGUMENT);
    cr_expect_eq(ct_device_memory_stats(cpu(), NULL), CT_ERR_INVALID_ARGUMENT);
    cr_expect_eq(ct_device_set_memory_limit(NULL, 1), CT_ERR_INVALID_ARGUMENT);
    cr_expect_eq(ct_device_set_memory_growth(NULL, true), CT_ERR_INVALID_ARGUMENT);
    ct_device_empty_cache(NULL);
}

/* ---- devices ------------------------------------------------------------------------ */

Test(allocator, device_registry) {
    cr_expect_eq(ct_device_count(CT_DEVICE_CPU), 1);
    ct_device *d = cpu();
    cr_expect_str_eq(ct_device_name(d), "/device:CPU:0");
    cr_expect_eq(ct_device_kind_of(d), CT_DEVICE_CPU);
    cr_expect_eq(ct_device_index(d), 0);
    cr_expect_eq(ct_default_device(), d);
    CT_STATUS_OK(ct_device_synchronize(d));
    ct_clear_error();
    cr_expect_null(ct_device_get(CT_DEVICE_CPU, 1));
    cr_expect_eq(ct_last_status(), CT_ERR_NOT_FOUND);
    cr_expect(strstr(ct_last_error(), "ct_device_get: no CPU device 1 (1 visible)") != NULL, "%s",
              ct_last_error());
    int gpus = ct_device_count(CT_DEVICE_CUDA);
    cr_expect_null(ct_device_get(CT_DEVICE_CUDA, gpus));
    ct_device_scope_begin(d);
    cr_expect_eq(ct_default_device(), d);
    cr_expect_eq(ct_tensor_device(ct_scalar(1)), d);
    ct_device_scope_end();
    ct_device_scope_end(); /* unbalanced: ignored */
    cr_expect_eq(ct_default_device(), d);
}

/* ---- thread budget ------------------------------------------------------------------------ */

Test(allocator, thread_budget) {
    int def = ct_get_num_threads();
    cr_expect_geq(def, 1);
    ct_set_num_threads(1);
    cr_expect_eq(ct_get_num_threads(), 1);
    cr_expect_eq(omp_get_max_threads(), 1, "OpenMP shares the budget");
    ct_set_num_threads(3);
    cr_expect_eq(ct_get_num_threads(), 3);
    cr_expect_eq(omp_get_max_threads(), 3);
    ct_set_num_threads(0);
    cr_expect_eq(ct_get_num_threads(), def, "0 restores the default");
    ct_set_num_threads(-4);
    cr_expect_eq(ct_get_num_threads(), def);
    /* Ops give the same results whatever the budget. */
    ct_set_num_threads(1);
    ct_tensor *a = ct_reduce_sum(ct_range(0, 1 << 20, 1, CT_FLOAT64), CT_ALL, false);
    ct_set_num_threads(2);
    ct_tensor *b = ct_reduce_sum(ct_range(0, 1 << 20, 1, CT_FLOAT64), CT_ALL, false);
    cr_expect_eq(ct_item(a), ct_item(b));
    ct_set_num_threads(0);
}
