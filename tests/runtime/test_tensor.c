/* Tensors: construction, access, printing, reference counts and scopes. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(tensor, .init = ct_test_begin, .fini = ct_test_end);

static const ct_dtype all_dtypes[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16,
                                      CT_INT32,   CT_INT64,   CT_UINT8,   CT_BOOL};
#define N_DTYPES ((int)(sizeof all_dtypes / sizeof *all_dtypes))

/* ---- construction ------------------------------------------------------------- */

/* Raw host bytes of `n` values of dtype dt (at most 16). */
static void pack(ct_dtype dt, const double *v, int n, void *out) {
    for (int i = 0; i < n; i++) {
        switch (dt) {
        case CT_FLOAT32: ((float *)out)[i] = (float)v[i]; break;
        case CT_FLOAT64: ((double *)out)[i] = v[i]; break;
        case CT_FLOAT16: ((uint16_t *)out)[i] = ct_f32_to_f16((float)v[i]); break;
        case CT_BFLOAT16: ((uint16_t *)out)[i] = ct_f32_to_bf16((float)v[i]); break;
        case CT_INT32: ((int32_t *)out)[i] = (int32_t)v[i]; break;
        case CT_INT64: ((int64_t *)out)[i] = (int64_t)v[i]; break;
        case CT_UINT8: ((uint8_t *)out)[i] = (uint8_t)v[i]; break;
        case CT_BOOL: ((bool *)out)[i] = v[i] != 0; break;
        default: break;
        }
    }
}

Test(tensor, constant_every_dtype_rank0_and_rank8) {
    static const double vals[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    static const double bools[16] = {0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0};
    for (int i = 0; i < N_DTYPES; i++) {
        ct_dtype dt = all_dtypes[i];
        const double *v = dt == CT_BOOL ? bools : vals;
        unsigned char buf[16 * 8];
        pack(dt, v, 16, buf);
        ct_tensor *s = ct_constant(buf + ct_dtype_size(dt) * 3, dt, CT_SCALAR);
        CT_OK(s);
        cr_expect_eq(ct_tensor_rank(s), 0);
        cr_expect_null(ct_tensor_shape(s));
        cr_expect_eq(ct_tensor_size(s), 1);
        cr_expect_eq(ct_item(s), v[3], "%s scalar", ct_dtype_name(dt));
        ct_tensor *t = ct_constant(buf, dt, CT_DIMS(1, 2, 1, 2, 1, 2, 1, 2));
        ct_expect(t, dt, CT_DIMS(1, 2, 1, 2, 1, 2, 1, 2), v, 0);
        cr_expect_eq(ct_tensor_dim(t, -1), 2);
        cr_expect_eq(ct_tensor_dim(t, -8), 1);
        cr_expect_eq(ct_tensor_dim(t, 8), -1);
        cr_expect_eq(ct_tensor_dim(t, -9), -1);
        cr_expect_eq(ct_tensor_device(t), ct_default_device());
        /* data NULL gives zeros. */
        CT_EXPECT(ct_constant(NULL, dt, CT_DIMS(3)), dt, CT_DIMS(3), 0, 0, 0, 0);
    }
}

Test(tensor, scalars) {
    CT_EXPECT(ct_scalar(2.5), CT_FLOAT32, CT_SCALAR, 0, 2.5);
    CT_EXPECT(ct_scalar_of(CT_INT32, 2.9), CT_INT32, CT_SCALAR, 0, 2);
    CT_EXPECT(ct_scalar_of(CT_INT64, -2.9), CT_INT64, CT_SCALAR, 0, -2);
    CT_EXPECT(ct_scalar_of(CT_BOOL, 0.1), CT_BOOL, CT_SCALAR, 0, 1);
    CT_EXPECT(ct_scalar_of(CT_UINT8, 200), CT_UINT8, CT_SCALAR, 0, 200);
    CT_EXPECT(ct_scalar_of(CT_FLOAT16, 0.1), CT_FLOAT16, CT_SCALAR, 0, 0.0999755859375);
    CT_EXPECT(ct_scalar_of(CT_FLOAT64, 0.1), CT_FLOAT64, CT_SCALAR, 0, 0.1);
    CT_FAILS(ct_scalar_of((ct_dtype)-1, 1), "ct_scalar_of: invalid dtype -1");
}

Test(tensor, empty_tensors) {
    ct_tensor *a = ct_constant(NULL, CT_FLOAT32, CT_DIMS(0));
    ct_expect_shape(a, 1, (int64_t[]){0});
    cr_expect_eq(ct_tensor_size(a), 0);
    ct_tensor *b = ct_constant((float[]){1}, CT_INT64, CT_DIMS(3, 0, 2));
    ct_expect_shape(b, 3, (int64_t[]){3, 0, 2});
    cr_expect_eq(ct_tensor_size(b), 0);
    CT_STATUS_OK(ct_tensor_read(b, CT_FLOAT64, NULL, 0));
    cr_expect(isnan(ct_item(b)));
    cr_expect(strstr(ct_last_error(), "has 0 elements, not 1") != NULL, "%s", ct_last_error());
}

Test(tensor, shape_errors) {
    CT_FAILS(ct_constant(NULL, CT_FLOAT32, CT_DIMS(3, -2)),
             "ct_constant: dimension 1 is -2 in shape [3,-2]");
    CT_FAILS(ct_constant(NULL, CT_FLOAT32, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}),
             "ct_constant: rank 9 is outside [0, 8]");
    CT_FAILS(ct_constant(NULL, CT_FLOAT32, -1, NULL), "rank -1 is outside [0, 8]");
    CT_FAILS(ct_constant(NULL, CT_INT32, 2, NULL), "ct_constant: rank 2 with a NULL shape");
    CT_FAILS(ct_constant(NULL, (ct_dtype)CT_NUM_DTYPES, CT_DIMS(1)), "ct_constant: invalid dtype 8");
    CT_FAILS(ct_constant(NULL, CT_FLOAT32, CT_DIMS(1LL << 40, 1LL << 40)), "too many elements");
    cr_expect_eq(ct_last_status(), CT_ERR_INVALID_ARGUMENT);
}

Test(tensor, null_tensor_accessors) {
    cr_expect_eq(ct_tensor_rank(NULL), -1);
    cr_expect_eq(ct_tensor_size(NULL), -1);
    cr_expect_null(ct_tensor_shape(NULL));
    cr_expect_eq(ct_tensor_dim(NULL, 0), -1);
    cr_expect_null(ct_tensor_device(NULL));
    cr_expect_eq(ct_tensor_id(NULL), 0);
    ct_clear_error();
    cr_expect(isnan(ct_item(NULL)));
    cr_expect(strstr(ct_last_error(), "ct_item: NULL tensor") != NULL, "%s", ct_last_error());
    cr_expect(isnan(ct_tensor_get(NULL, 0)));
    ct_clear_error();
    cr_expect_neq(ct_tensor_read(NULL, CT_FLOAT32, NULL, 0), CT_OK);
    /* A NULL from a failed op keeps that op's error. */
    ct_tensor *bad = ct_constant(NULL, CT_FLOAT32, CT_DIMS(-1));
    cr_expect_neq(ct_tensor_read(bad, CT_FLOAT32, NULL, 0), CT_OK);
    cr_expect(strstr(ct_last_error(), "ct_constant") != NULL, "%s", ct_last_error());
}

Test(tensor, ids_are_unique) {
    ct_tensor *a = ct_scalar(1), *b = ct_scalar(1);
    cr_expect_neq(ct_tensor_id(a), ct_tensor_id(b));
    cr_expect_gt(ct_tensor_id(a), 0);
}

/* ---- access ---------------------------------------------------------------------- */

Test(tensor, item_and_get) {
    cr_expect_eq(ct_item(ct_scalar_of(CT_INT64, 7)), 7.0);
    cr_expect_eq(ct_item(CT_F32(CT_DIMS(1, 1), 2.5f)), 2.5);
    ct_clear_error();
    cr_expect(isnan(ct_item(CT_F32(CT_DIMS(2), 1, 2))));
    cr_expect(strstr(ct_last_error(), "ct_item: float32[2] has 2 elements, not 1") != NULL, "%s",
              ct_last_error());
    ct_tensor *t = CT_I32(CT_DIMS(2, 2), 1, -2, 3, 4);
    cr_expect_eq(ct_tensor_get(t, 1), -2.0);
    cr_expect_eq(ct_tensor_get(t, 3), 4.0);
    ct_clear_error();
    cr_expect(isnan(ct_tensor_get(t, 4)));
    cr_expect_eq(ct_last_status(), CT_ERR_OUT_OF_RANGE);
    cr_expect(strstr(ct_last_error(), "ct_tensor_get: index 4 outside int32[2,2]") != NULL, "%s",
              ct_last_error());
    cr_expect(isnan(ct_tensor_get(t, -1)));
    cr_expect_eq(ct_tensor_get(CT_BOOLS(CT_DIMS(2), 0, 1), 1), 1.0);
    cr_expect_eq(ct_tensor_get(ct_scalar_of(CT_BFLOAT16, 1.5), 0), 1.5);
}

Test(tensor, read_converts) {
    ct_tensor *f = CT_F32(CT_DIMS(2, 2), 1.5f, -2.5f, 0, 1e10f);
    int32_t i32[4];
    CT_STATUS_OK(ct_tensor_read(f, CT_INT32, i32, 4));
    cr_expect(i32[0] == 1 && i32[1] == -2 && i32[2] == 0);
    bool b[4];
    CT_STATUS_OK(ct_tensor_read(f, CT_BOOL, b, 4));
    cr_expect(b[0] && b[1] && !b[2] && b[3]);
    uint16_t h[4];
    CT_STATUS_OK(ct_tensor_read(f, CT_FLOAT16, h, 4));
    cr_expect(h[0] == 0x3e00 && h[1] == 0xc100 && h[2] == 0 && h[3] == 0x7c00);
    double d[4];
    CT_STATUS_OK(ct_tensor_read(CT_I64(CT_DIMS(2), -5, 1LL << 40), CT_FLOAT64, d, 4));
    cr_expect(d[0] == -5 && d[1] == 1099511627776.0);
    int64_t i64[2];
    CT_STATUS_OK(ct_tensor_read(CT_I64(CT_DIMS(2), 9007199254740993LL, -1), CT_INT64, i64, 2));
    cr_expect_eq(i64[0], 9007199254740993LL, "int64 read as int64 is exact");
    uint8_t u8[3];
    CT_STATUS_OK(ct_tensor_read(CT_BOOLS(CT_DIMS(3), 1, 0, 1), CT_UINT8, u8, 3));
    cr_expect(u8[0] == 1 && u8[1] == 0 && u8[2] == 1);
}

Test(tensor, read_capacity_and_dtype_errors) {
    ct_tensor *f = CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4);
    float out[4];
    ct_clear_error();
    cr_expect_eq(ct_tensor_read(f, CT_FLOAT32, out, 3), CT_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(ct_last_error(), "ct_tensor_read: destination holds 3 elements, float32[2,2] has 4")
                  != NULL, "%s", ct_last_error());
    cr_expect_eq(ct_tensor_read(f, (ct_dtype)42, out, 4), CT_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(ct_last_error(), "invalid dtype 42") != NULL, "%s", ct_last_error());
    /* A larger destination is fine. */
    float more[8];
    CT_STATUS_OK(ct_tensor_read(f, CT_FLOAT32, more, 8));
}

/* ---- printing ------------------------------------------------------------------------ */

/* What ct_tensor_print writes for t. */
static char *printed(const ct_tensor *t) {
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    ct_tensor_print(t, f);
    long n = ftell(f);
    rewind(f);
    char *s = calloc((size_t)n + 1, 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return s;
}

#define EXPECT_PRINT(t, want)                                                             \
    do {                                                                                  \
        char *got_ = printed(t);                                                          \
        cr_expect_str_eq(got_, want);                                                     \
        free(got_);                                                                       \
    } while (0)

/* print(tf_tensor) in TensorFlow: numpy's str() inside tf.Tensor(...). */
Test(tensor, print_tf_repr) {
    EXPECT_PRINT(CT_F32(CT_DIMS(2, 2), 1, 2.5f, -3, 4),
                 "tf.Tensor(\n[[ 1.   2.5]\n [-3.   4. ]], shape=(2, 2), dtype=float32)\n");
    EXPECT_PRINT(CT_I32(CT_DIMS(2, 2), 1, -2, 30, 4),
                 "tf.Tensor(\n[[ 1 -2]\n [30  4]], shape=(2, 2), dtype=int32)\n");
    EXPECT_PRINT(CT_BOOLS(CT_DIMS(2, 2), 1, 0, 0, 1),
                 "tf.Tensor(\n[[ True False]\n [False  True]], shape=(2, 2), dtype=bool)\n");
    EXPECT_PRINT(ct_scalar(1.5), "tf.Tensor(1.5, shape=(), dtype=float32)\n");
    EXPECT_PRINT(CT_I64(CT_DIMS(3), 1, 2, 9007199254740993LL),
                 "tf.Tensor([               1                2 9007199254740993], shape=(3,), dtype=int64)\n");
    EXPECT_PRINT(CT_F64(CT_DIMS(4), 1.0 / 3, NAN, INFINITY, -INFINITY),
                 "tf.Tensor([0.33333333        nan        inf       -inf], shape=(4,), dtype=float64)\n");
    EXPECT_PRINT(ct_constant(NULL, CT_FLOAT32, CT_DIMS(0)),
                 "tf.Tensor([], shape=(0,), dtype=float32)\n");
    EXPECT_PRINT(ct_scalar_of(CT_FLOAT16, 0.5), "tf.Tensor(0.5, shape=(), dtype=float16)\n");
    EXPECT_PRINT(ct_scalar_of(CT_UINT8, 255), "tf.Tensor(255, shape=(), dtype=uint8)\n");
    EXPECT_PRINT(CT_F32(CT_DIMS(3), 0.1f, 0.2f, 0.3f), "tf.Tensor([0.1 0.2 0.3], shape=(3,), dtype=float32)\n");
    EXPECT_PRINT(CT_F32(CT_DIMS(2), 1, 2000), "tf.Tensor([1.e+00 2.e+03], shape=(2,), dtype=float32)\n");
    EXPECT_PRINT(ct_reshape(ct_range(0, 8, 1, CT_INT32), CT_DIMS(2, 2, 2)),
                 "tf.Tensor(\n[[[0 1]\n  [2 3]]\n\n [[4 5]\n  [6 7]]], shape=(2, 2, 2), dtype=int32)\n");
    /* Rows wrap at 75 columns. */
    EXPECT_PRINT(ct_range(0, 24, 1, CT_FLOAT32),
                 "tf.Tensor(\n[ 0.  1.  2.  3.  4.  5.  6.  7.  8.  9. 10. 11. 12. 13. 14. 15. 16. 17.\n"
                 " 18. 19. 20. 21. 22. 23.], shape=(24,), dtype=float32)\n");
}

Test(tensor, print_summarises_large_tensors) {
    ct_tensor *t = ct_range(0, 2000, 1, CT_INT32);
    EXPECT_PRINT(t, "tf.Tensor([   0    1    2 ... 1997 1998 1999], shape=(2000,), dtype=int32)\n");
    char *s = printed(ct_zeros(CT_FLOAT32, CT_DIMS(100, 100)));
    cr_expect(strstr(s, "...") != NULL);
    cr_expect(strlen(s) < 400, "summarised output is short: %zu chars", strlen(s));
    free(s);
}

Test(tensor, print_null_names_the_error) {
    ct_tensor *bad = ct_constant(NULL, CT_FLOAT32, CT_DIMS(-1));
    char *s = printed(bad);
    cr_expect(strncmp(s, "NULL (ct_constant:", 18) == 0, "%s", s);
    free(s);
}

Test(tensor, shape_str) {
    char buf[32];
    cr_expect_str_eq(ct_shape_str(CT_DIMS(2, 3), buf, sizeof buf), "[2,3]");
    cr_expect_str_eq(ct_shape_str(CT_SCALAR, buf, sizeof buf), "[]");
    cr_expect_str_eq(ct_shape_str(CT_DIMS(123456), buf, 5), "[123");
}

/* ---- scopes and reference counts ----------------------------------------------------------- */

Test(tensor, nested_scopes_and_keep) {
    int64_t live0 = ct_live_tensors();
    int depth0 = ct_scope_depth();
    ct_scope_begin();
    cr_expect_eq(ct_scope_depth(), depth0 + 1);
    ct_tensor *a = ct_scalar(1);
    ct_scope_begin();
    ct_scalar(2);
    ct_scalar(3);
    ct_tensor *kept = ct_keep(ct_scalar(4));
    cr_expect_eq(ct_live_tensors(), live0 + 4);
    ct_scope_end();
    cr_expect_eq(ct_scope_depth(), depth0 + 1);
    cr_expect_eq(ct_live_tensors(), live0 + 2, "the kept tensor survives the inner scope");
    cr_expect_eq(ct_item(kept), 4.0);
    cr_expect_eq(ct_item(a), 1.0);
    ct_scope_end();
    cr_expect_eq(ct_live_tensors(), live0);
    cr_expect_null(ct_keep(NULL));
}

Test(tensor, keep_from_outermost_scope_gives_ownership) {
    int64_t live0 = ct_live_tensors();
    /* The test's scope is the outermost: keeping moves to the caller. */
    cr_assert_eq(ct_scope_depth(), 1);
    ct_tensor *t = ct_keep(ct_scalar(5));
    cr_expect_eq(ct_live_tensors(), live0 + 1);
    ct_scope_end();
    cr_expect_eq(ct_live_tensors(), live0 + 1, "owned by the caller, not the scope");
    cr_expect_eq(ct_item(t), 5.0);
    ct_tensor_free(t);
    cr_expect_eq(ct_live_tensors(), live0);
    ct_scope_begin();
}

Test(tensor, no_scope_caller_owns) {
    int64_t live0 = ct_live_tensors();
    ct_scope_end(); /* close the test's scope */
    cr_expect_eq(ct_scope_depth(), 0);
    ct_tensor *a = ct_scalar(1), *b = ct_scalar(2);
    ct_tensor *t = ct_add(a, b);
    cr_expect_eq(ct_live_tensors(), live0 + 3);
    cr_expect_eq(ct_item(t), 3.0);
    ct_tensor_free(a);
    ct_tensor_free(b);
    cr_expect_eq(ct_item(t), 3.0, "results do not depend on their operands' lifetime");
    ct_tensor_free(t);
    cr_expect_eq(ct_live_tensors(), live0);
    ct_scope_end(); /* no scope: ignored */
    cr_expect_eq(ct_scope_depth(), 0);
    ct_scope_begin();
}

Test(tensor, free_on_scoped_tensor_releases_now) {
    int64_t live0 = ct_live_tensors();
    ct_tensor *a = ct_scalar(1), *b = ct_scalar(2);
    cr_expect_eq(ct_live_tensors(), live0 + 2);
    ct_tensor_free(a);
    cr_expect_eq(ct_live_tensors(), live0 + 1);
    ct_tensor_free(NULL);
    cr_expect_eq(ct_item(b), 2.0);
    /* Many made and freed in a loop keep the scope small and nothing alive. */
    for (int i = 0; i < 10000; i++) ct_tensor_free(ct_scalar(i));
    cr_expect_eq(ct_live_tensors(), live0 + 1);
}

Test(tensor, ref_outlives_the_scope) {
    int64_t live0 = ct_live_tensors();
    ct_scope_begin();
    ct_tensor *t = CT_F32(CT_DIMS(3), 1, 2, 3);
    cr_expect_eq(ct_tensor_ref(t), t);
    ct_scope_end();
    cr_expect_eq(ct_live_tensors(), live0 + 1);
    CT_EXPECT(t, CT_FLOAT32, CT_DIMS(3), 0, 1, 2, 3);
    ct_tensor_free(t);
    cr_expect_eq(ct_live_tensors(), live0);
    cr_expect_null(ct_tensor_ref(NULL));
}

Test(tensor, views_keep_their_storage) {
    int64_t live0 = ct_live_tensors();
    ct_tensor *t = CT_I32(CT_DIMS(2, 2), 1, 2, 3, 4);
    ct_tensor *v = ct_reshape(t, CT_DIMS(4));
    CT_OK(v);
    ct_tensor_free(t);
    CT_EXPECT(v, CT_INT32, CT_DIMS(4), 0, 1, 2, 3, 4);
    ct_tensor_free(v);
    cr_expect_eq(ct_live_tensors(), live0);
}

static void *thread_scope(void *arg) {
    int *depth = arg;
    ct_scope_begin();
    ct_scalar(1);
    depth[0] = ct_scope_depth();
    ct_scope_end();
    depth[1] = ct_scope_depth();
    return NULL;
}

/* Under the sanitizer build LeakSanitizer reports the thread's pooled
 * scope (runtime/tensor.c keeps ended scopes in a _Thread_local pool that
 * nothing frees when the thread exits); the test itself passes. */
Test(tensor, scopes_are_per_thread) {
    int64_t live0 = ct_live_tensors();
    int depth[2] = {-1, -1};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, thread_scope, depth), 0);
    pthread_join(th, NULL);
    cr_expect_eq(depth[0], 1, "the thread starts with no scope of its own");
    cr_expect_eq(depth[1], 0);
    cr_expect_eq(ct_scope_depth(), 1);
    cr_expect_eq(ct_live_tensors(), live0);
}
