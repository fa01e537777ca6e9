/* Helpers shared by the Criterion suites. */
#ifndef CT_TESTS_SUPPORT_H
#define CT_TESTS_SUPPORT_H

#include <criterion/criterion.h>
#include <math.h>

#include "ctrain/ctrain.h"

/* Fails the test with the library's message when t is NULL. */
#define CT_OK(t) cr_assert_not_null((t), "%s", ct_last_error())
#define CT_STATUS_OK(s) cr_assert_eq((s), CT_OK, "%s", ct_last_error())
/* Asserts that expr returned NULL and that the error mentions `needle`. */
#define CT_FAILS(expr, needle)                                                            \
    do {                                                                                  \
        ct_clear_error();                                                                 \
        cr_assert_null((expr), "expected an error containing \"%s\"", (needle));          \
        cr_assert(strstr(ct_last_error(), (needle)) != NULL,                              \
                  "error \"%s\" does not mention \"%s\"", ct_last_error(), (needle));      \
    } while (0)

/* A float64 / float32 / int tensor from a literal list. */
#define CT_F64(shape_rank_and_dims, ...)                                                  \
    ct_constant((double[]){__VA_ARGS__}, CT_FLOAT64, shape_rank_and_dims)
#define CT_F32(shape_rank_and_dims, ...)                                                  \
    ct_constant((float[]){__VA_ARGS__}, CT_FLOAT32, shape_rank_and_dims)
#define CT_I32(shape_rank_and_dims, ...)                                                  \
    ct_constant((int32_t[]){__VA_ARGS__}, CT_INT32, shape_rank_and_dims)
#define CT_I64(shape_rank_and_dims, ...)                                                  \
    ct_constant((int64_t[]){__VA_ARGS__}, CT_INT64, shape_rank_and_dims)
#define CT_BOOLS(shape_rank_and_dims, ...)                                                \
    ct_constant((bool[]){__VA_ARGS__}, CT_BOOL, shape_rank_and_dims)

/* Asserts dtype, shape and values (within tol, NaN equal to NaN). */
void ct_expect(const ct_tensor *t, ct_dtype dtype, int rank, const int64_t *shape,
               const double *values, double tol);
#define CT_EXPECT(t, dtype, shape_rank_and_dims, tol, ...)                                \
    ct_expect((t), (dtype), shape_rank_and_dims, (const double[]){__VA_ARGS__}, (tol))
/* Asserts only the shape. */
void ct_expect_shape(const ct_tensor *t, int rank, const int64_t *shape);

/* The function a gradient check differentiates: inputs -> one tensor. */
typedef ct_tensor *(*ct_test_fn)(ct_tensor *const *inputs, void *ctx);

/* Compares the tape's gradient of sum(f(inputs) * w) (w fixed pseudo-
 * random weights) with central finite differences, for every element of
 * every float64 input. Relative tolerance tol (1e-6 suits most ops). */
void ct_gradcheck(ct_test_fn f, int n, ct_tensor *const *inputs, void *ctx, double tol);

/* Per-test setup: opens a scope and remembers the live tensor count;
 * teardown closes it and asserts nothing leaked. Use as
 * Test(suite, name, .init = ct_test_begin, .fini = ct_test_end). */
void ct_test_begin(void);
void ct_test_end(void);

#endif
