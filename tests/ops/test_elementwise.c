/* Elementwise ops: values against TensorFlow's, dtype rules, broadcasting,
 * errors, float16/bfloat16, gradients (float64 finite differences) and
 * second derivatives through nested tapes. */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(elementwise, .init = ct_test_begin, .fini = ct_test_end);

typedef ct_tensor *(*bin_api)(const ct_tensor *, const ct_tensor *);
typedef ct_tensor *(*un_api)(const ct_tensor *);

/* ---- a reference broadcast ---------------------------------------------- */

static double r_add(double x, double y) { return x + y; }
static double r_sub(double x, double y) { return x - y; }
static double r_mul(double x, double y) { return x * y; }
static double r_div(double x, double y) { return x / y; }
static double r_max(double x, double y) { return x > y ? x : y; }
static double r_sqdiff(double x, double y) { return (x - y) * (x - y); }
static double r_pow(double x, double y) { return pow(x, y); }
static double r_lt(double x, double y) { return x < y; }

/* f(a, b) of float64 tensors of shapes sa and sb, compared with a
 * numpy-style broadcast computed here element by element. */
static void check_broadcast(bin_api f, double (*ref)(double, double), int ra, const int64_t *sa,
                            int rb, const int64_t *sb, ct_dtype out_dtype) {
    int64_t na = 1, nb = 1;
    for (int i = 0; i < ra; i++) na *= sa[i];
    for (int i = 0; i < rb; i++) nb *= sb[i];
    double *va = malloc((size_t)(na ? na : 1) * sizeof *va);
    double *vb = malloc((size_t)(nb ? nb : 1) * sizeof *vb);
    for (int64_t i = 0; i < na; i++) va[i] = (double)(i % 7) - 3 + 0.5;
    for (int64_t i = 0; i < nb; i++) vb[i] = (double)(i % 5) + 1;
    ct_tensor *a = ct_constant(va, CT_FLOAT64, ra, sa), *b = ct_constant(vb, CT_FLOAT64, rb, sb);
    ct_tensor *o = f(a, b);
    CT_OK(o);
    int r = ra > rb ? ra : rb;
    int64_t so[CT_MAX_RANK], n = 1;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - ra), ib = i - (r - rb);
        int64_t da = ia >= 0 ? sa[ia] : 1, db = ib >= 0 ? sb[ib] : 1;
        so[i] = da == 1 ? db : da;
        n *= so[i];
    }
    ct_expect_shape(o, r, so);
    cr_assert_eq(ct_tensor_dtype(o), out_dtype);
    double *got = malloc((size_t)(n ? n : 1) * sizeof *got);
    CT_STATUS_OK(ct_tensor_read(o, CT_FLOAT64, got, n));
    for (int64_t k = 0; k < n; k++) {
        int64_t rem = k, ia = 0, ib = 0, ma = 1, mb = 1;
        for (int i = r - 1; i >= 0; i--) {
            int64_t idx = rem % so[i];
            rem /= so[i];
            int ja = i - (r - ra), jb = i - (r - rb);
            if (ja >= 0) {
                if (sa[ja] != 1) ia += idx * ma;
                ma *= sa[ja];
            }
            if (jb >= 0) {
                if (sb[jb] != 1) ib += idx * mb;
                mb *= sb[jb];
            }
        }
        double e = ref(va[ia], vb[ib]);
        cr_assert(fabs(got[k] - e) <= 1e-12 * fmax(1, fabs(e)), "element %lld: %g, expected %g",
                  (long long)k, got[k], e);
    }
    free(va);
    free(vb);
    free(got);
}

/* ---- binary arithmetic ------------------------------------------------------ */

Test(elementwise, add_subtract_multiply_values) {
    ct_tensor *a = CT_F32(CT_DIMS(2, 2), 1, -2, 3.5f, 0), *b = CT_F32(CT_DIMS(2, 2), 4, 5, -6, 0.25f);
    CT_EXPECT(ct_add(a, b), CT_FLOAT32, CT_DIMS(2, 2), 0, 5, 3, -2.5, 0.25);
    CT_EXPECT(ct_subtract(a, b), CT_FLOAT32, CT_DIMS(2, 2), 0, -3, -7, 9.5, -0.25);
    CT_EXPECT(ct_multiply(a, b), CT_FLOAT32, CT_DIMS(2, 2), 0, 4, -10, -21, 0);
    ct_tensor *c = CT_F64(CT_DIMS(3), 0.1, 0.2, 1e300), *d = CT_F64(CT_DIMS(3), 0.2, 0.1, 1e300);
    CT_EXPECT(ct_add(c, d), CT_FLOAT64, CT_DIMS(3), 0, 0.1 + 0.2, 0.2 + 0.1, 2e300);
    CT_EXPECT(ct_multiply(c, d), CT_FLOAT64, CT_DIMS(3), 0, 0.1 * 0.2, 0.2 * 0.1, INFINITY);
}

Test(elementwise, rank0_and_empty) {
    CT_EXPECT(ct_add(ct_scalar(2), ct_scalar(3)), CT_FLOAT32, CT_SCALAR, 0, 5);
    CT_EXPECT(ct_multiply(ct_scalar(2), CT_F32(CT_DIMS(2), 1, 2)), CT_FLOAT32, CT_DIMS(2), 0, 2, 4);
    ct_tensor *e = ct_zeros(CT_FLOAT32, CT_DIMS(0));
    CT_EXPECT(ct_add(e, e), CT_FLOAT32, CT_DIMS(0), 0, 0);
    CT_EXPECT(ct_subtract(e, ct_scalar(1)), CT_FLOAT32, CT_DIMS(0), 0, 0);
    CT_EXPECT(ct_exp(e), CT_FLOAT32, CT_DIMS(0), 0, 0);
    CT_EXPECT(ct_is_nan(e), CT_BOOL, CT_DIMS(0), 0, 0);
    CT_EXPECT(ct_exp(ct_scalar(0)), CT_FLOAT32, CT_SCALAR, 0, 1);
    /* Integer division by zero is only checked when there is work. */
    ct_tensor *ie = ct_zeros(CT_INT32, CT_DIMS(0, 2));
    CT_EXPECT(ct_floordiv(ie, ct_zeros(CT_INT32, CT_DIMS(2))), CT_INT32, CT_DIMS(0, 2), 0, 0);
}

Test(elementwise, broadcasting_patterns) {
    check_broadcast(ct_add, r_add, CT_DIMS(2, 3), CT_DIMS(3), CT_FLOAT64);
    check_broadcast(ct_add, r_add, CT_DIMS(3), CT_DIMS(2, 3), CT_FLOAT64);
    check_broadcast(ct_subtract, r_sub, CT_DIMS(2, 1), CT_DIMS(1, 3), CT_FLOAT64);
    check_broadcast(ct_multiply, r_mul, CT_SCALAR, CT_DIMS(4, 2), CT_FLOAT64);
    check_broadcast(ct_divide, r_div, CT_DIMS(4, 2), CT_SCALAR, CT_FLOAT64);
    check_broadcast(ct_add, r_add, CT_DIMS(3, 1), CT_DIMS(3, 4), CT_FLOAT64);
    check_broadcast(ct_maximum, r_max, CT_DIMS(2, 1, 3, 1, 2), CT_DIMS(4, 3, 1, 1), CT_FLOAT64);
    check_broadcast(ct_subtract, r_sub, CT_DIMS(1, 4, 1, 2, 1), CT_DIMS(3, 1, 5, 1, 3), CT_FLOAT64);
    check_broadcast(ct_squared_difference, r_sqdiff, CT_DIMS(2, 3, 4, 5, 6), CT_DIMS(5, 1),
                    CT_FLOAT64);
    check_broadcast(ct_pow, r_pow, CT_DIMS(1, 1, 1), CT_DIMS(2, 2), CT_FLOAT64);
    check_broadcast(ct_less, r_lt, CT_DIMS(3, 1, 2), CT_DIMS(4, 1), CT_BOOL);
    /* Size-0 broadcasts. */
    check_broadcast(ct_add, r_add, CT_DIMS(0, 3), CT_DIMS(3), CT_FLOAT64);
    check_broadcast(ct_add, r_add, CT_DIMS(1, 0), CT_DIMS(3, 1), CT_FLOAT64);
    check_broadcast(ct_multiply, r_mul, CT_DIMS(0), CT_SCALAR, CT_FLOAT64);
    check_broadcast(ct_multiply, r_mul, CT_DIMS(2, 0, 1), CT_DIMS(4), CT_FLOAT64);
}

Test(elementwise, broadcasting_large_and_threaded) {
    ct_set_num_threads(2);
    /* Big enough to split across threads, with ranges starting mid-row. */
    check_broadcast(ct_add, r_add, CT_DIMS(509, 1, 257), CT_DIMS(1, 263, 1), CT_FLOAT64);
    check_broadcast(ct_multiply, r_mul, CT_DIMS(700, 513), CT_DIMS(513), CT_FLOAT64);
    check_broadcast(ct_subtract, r_sub, CT_DIMS(700, 1), CT_DIMS(700, 513), CT_FLOAT64);
    ct_set_num_threads(0);
}

Test(elementwise, broadcast_and_dtype_errors) {
    ct_tensor *a = CT_F32(CT_DIMS(2), 1, 2), *b = CT_F32(CT_DIMS(3), 1, 2, 3);
    CT_FAILS(ct_add(a, b), "ct_add: shapes [2] and [3] are not broadcastable");
    CT_FAILS(ct_multiply(ct_zeros(CT_FLOAT32, CT_DIMS(2, 3)), ct_zeros(CT_FLOAT32, CT_DIMS(3, 2))),
             "not broadcastable");
    CT_FAILS(ct_add(a, CT_F64(CT_DIMS(2), 1, 2)), "ct_add: inputs have different dtypes");
    CT_FAILS(ct_less(a, CT_I32(CT_DIMS(2), 1, 2)), "different dtypes");
    CT_FAILS(ct_maximum(ct_scalar_of(CT_INT32, 1), ct_scalar_of(CT_INT64, 1)), "different dtypes");
    /* A NULL input returns NULL and keeps the first error. */
    CT_FAILS(ct_exp(ct_add(a, b)), "ct_add");
}

Test(elementwise, bool_arithmetic_is_refused) {
    ct_tensor *t = CT_BOOLS(CT_DIMS(2), true, false);
    CT_FAILS(ct_add(t, t), "ct_add: bool tensors are not supported");
    CT_FAILS(ct_subtract(t, t), "bool");
    CT_FAILS(ct_multiply(t, t), "bool");
    CT_FAILS(ct_maximum(t, t), "bool");
    CT_FAILS(ct_less(t, t), "bool");
    CT_FAILS(ct_divide(t, t), "ct_divide: bool");
    CT_FAILS(ct_negative(t), "bool");
    CT_FAILS(ct_square(t), "bool");
    CT_FAILS(ct_relu(t), "bool");
}

Test(elementwise, integer_wraparound) {
    ct_tensor *a = CT_I32(CT_DIMS(3), INT32_MAX, INT32_MIN, 65536);
    ct_tensor *b = CT_I32(CT_DIMS(3), 1, 1, 65536);
    CT_EXPECT(ct_add(a, b), CT_INT32, CT_DIMS(3), 0, INT32_MIN, INT32_MIN + 1, 131072);
    CT_EXPECT(ct_subtract(b, a), CT_INT32, CT_DIMS(3), 0, INT32_MIN + 2, INT32_MIN + 1, 0);
    CT_EXPECT(ct_multiply(a, b), CT_INT32, CT_DIMS(3), 0, INT32_MAX, INT32_MIN, 0);
    ct_tensor *u = ct_constant((uint8_t[]){250, 3, 16, 200}, CT_UINT8, CT_DIMS(4));
    ct_tensor *v = ct_constant((uint8_t[]){10, 5, 16, 100}, CT_UINT8, CT_DIMS(4));
    CT_EXPECT(ct_add(u, v), CT_UINT8, CT_DIMS(4), 0, 4, 8, 32, 44);
    CT_EXPECT(ct_subtract(u, v), CT_UINT8, CT_DIMS(4), 0, 240, 254, 0, 100);
    CT_EXPECT(ct_multiply(u, v), CT_UINT8, CT_DIMS(4), 0, 196, 15, 0, 32);
    CT_EXPECT(ct_maximum(u, v), CT_UINT8, CT_DIMS(4), 0, 250, 5, 16, 200);
    CT_EXPECT(ct_minimum(u, v), CT_UINT8, CT_DIMS(4), 0, 10, 3, 16, 100);
    CT_EXPECT(ct_square(u), CT_UINT8, CT_DIMS(4), 0, 36, 9, 0, 64);
    int64_t big[2] = {INT64_MAX, 3000000000LL}, one[2] = {1, 3};
    ct_tensor *s = ct_add(ct_constant(big, CT_INT64, CT_DIMS(2)), ct_constant(one, CT_INT64, CT_DIMS(2)));
    int64_t got[2];
    CT_STATUS_OK(ct_tensor_read(s, CT_INT64, got, 2));
    cr_expect_eq(got[0], INT64_MIN);
    cr_expect_eq(got[1], 3000000003LL);
    ct_tensor *m = ct_multiply(ct_constant(big + 1, CT_INT64, CT_DIMS(1)), ct_constant(big + 1, CT_INT64, CT_DIMS(1)));
    CT_STATUS_OK(ct_tensor_read(m, CT_INT64, got, 1));
    cr_expect_eq(got[0], (int64_t)(3000000000ULL * 3000000000ULL));
}

Test(elementwise, nan_and_inf) {
    ct_tensor *a = CT_F32(CT_DIMS(4), INFINITY, 0, NAN, -INFINITY);
    ct_tensor *b = CT_F32(CT_DIMS(4), -INFINITY, INFINITY, 1, -INFINITY);
    CT_EXPECT(ct_add(a, b), CT_FLOAT32, CT_DIMS(4), 0, NAN, INFINITY, NAN, -INFINITY);
    CT_EXPECT(ct_multiply(a, b), CT_FLOAT32, CT_DIMS(4), 0, -INFINITY, NAN, NAN, INFINITY);
    CT_EXPECT(ct_subtract(a, b), CT_FLOAT32, CT_DIMS(4), 0, INFINITY, -INFINITY, NAN, NAN);
}

/* ---- divide ------------------------------------------------------------------- */

Test(elementwise, divide_float) {
    ct_tensor *a = CT_F32(CT_DIMS(4), 1, -2, 0, 3), *b = CT_F32(CT_DIMS(4), 2, 0, 0, -4);
    CT_EXPECT(ct_divide(a, b), CT_FLOAT32, CT_DIMS(4), 0, 0.5, -INFINITY, NAN, -0.75);
    CT_EXPECT(ct_divide(CT_F64(CT_DIMS(1), 1), CT_F64(CT_DIMS(1), 3)), CT_FLOAT64, CT_DIMS(1), 0,
              1.0 / 3);
}

/* tf.math.divide (truediv): int32/int64 -> float64, uint8 -> float32. */
Test(elementwise, divide_integers_is_true_division) {
    ct_tensor *a = CT_I32(CT_DIMS(2, 2), 7, -7, 1, 0), *b = CT_I32(CT_DIMS(2), 2, 0);
    CT_EXPECT(ct_divide(a, b), CT_FLOAT64, CT_DIMS(2, 2), 0, 3.5, -INFINITY, 0.5, NAN);
    CT_EXPECT(ct_divide(CT_I64(CT_DIMS(2), 1, 10), CT_I64(CT_DIMS(2), 3, 4)), CT_FLOAT64,
              CT_DIMS(2), 0, 1.0 / 3, 2.5);
    ct_tensor *u = ct_constant((uint8_t[]){1, 255}, CT_UINT8, CT_DIMS(2));
    ct_tensor *v = ct_constant((uint8_t[]){3, 2}, CT_UINT8, CT_DIMS(2));
    CT_EXPECT(ct_divide(u, v), CT_FLOAT32, CT_DIMS(2), 0, (float)(1.0f / 3.0f), 127.5);
    CT_FAILS(ct_divide(CT_I32(CT_DIMS(1), 1), CT_I64(CT_DIMS(1), 1)), "different dtypes");
}

/* ---- floordiv / floormod -------------------------------------------------------- */

Test(elementwise, floordiv_floormod_python_signs) {
    ct_tensor *a = CT_I32(CT_DIMS(6), 7, -7, 7, -7, 6, 0), *b = CT_I32(CT_DIMS(6), 2, 2, -2, -2, 3, -5);
    CT_EXPECT(ct_floordiv(a, b), CT_INT32, CT_DIMS(6), 0, 3, -4, -4, 3, 2, 0);
    CT_EXPECT(ct_floormod(a, b), CT_INT32, CT_DIMS(6), 0, 1, 1, -1, -1, 0, 0);
    ct_tensor *c = CT_I64(CT_DIMS(4), 7, -7, 7, -7), *d = CT_I64(CT_DIMS(4), 2, 2, -2, -2);
    CT_EXPECT(ct_floordiv(c, d), CT_INT64, CT_DIMS(4), 0, 3, -4, -4, 3);
    CT_EXPECT(ct_floormod(c, d), CT_INT64, CT_DIMS(4), 0, 1, 1, -1, -1);
    ct_tensor *x = CT_F32(CT_DIMS(5), 7.5f, -7.5f, 7.5f, -7.5f, 6);
    ct_tensor *y = CT_F32(CT_DIMS(5), 2, 2, -2, -2, 3);
    CT_EXPECT(ct_floordiv(x, y), CT_FLOAT32, CT_DIMS(5), 0, 3, -4, -4, 3, 2);
    CT_EXPECT(ct_floormod(x, y), CT_FLOAT32, CT_DIMS(5), 0, 1.5, 0.5, -0.5, -1.5, 0);
    ct_tensor *u = ct_constant((uint8_t[]){7, 255}, CT_UINT8, CT_DIMS(2));
    ct_tensor *v = ct_constant((uint8_t[]){2, 16}, CT_UINT8, CT_DIMS(2));
    CT_EXPECT(ct_floordiv(u, v), CT_UINT8, CT_DIMS(2), 0, 3, 15);
    CT_EXPECT(ct_floormod(u, v), CT_UINT8, CT_DIMS(2), 0, 1, 15);
    /* Broadcast of a scalar divisor. */
    CT_EXPECT(ct_floormod(CT_I32(CT_DIMS(2, 2), -3, -2, -1, 0), ct_scalar_of(CT_INT32, 3)),
              CT_INT32, CT_DIMS(2, 2), 0, 0, 1, 2, 0);
}

Test(elementwise, floordiv_edge_cases) {
    /* INT_MIN // -1 wraps (two's complement), INT_MIN % -1 is 0. */
    ct_tensor *a = CT_I32(CT_DIMS(2), INT32_MIN, INT32_MIN), *b = CT_I32(CT_DIMS(2), -1, 1);
    CT_EXPECT(ct_floordiv(a, b), CT_INT32, CT_DIMS(2), 0, INT32_MIN, INT32_MIN);
    CT_EXPECT(ct_floormod(a, b), CT_INT32, CT_DIMS(2), 0, 0, 0);
    /* Floats divide by zero as IEEE does. */
    ct_tensor *x = CT_F64(CT_DIMS(3), 1, -1, 0), *z = CT_F64(CT_DIMS(3), 0, 0, 0);
    CT_EXPECT(ct_floordiv(x, z), CT_FLOAT64, CT_DIMS(3), 0, INFINITY, -INFINITY, NAN);
    CT_EXPECT(ct_floormod(x, z), CT_FLOAT64, CT_DIMS(3), 0, NAN, NAN, NAN);
    CT_EXPECT(ct_floormod(CT_F64(CT_DIMS(2), 5, -5), CT_F64(CT_DIMS(2), INFINITY, INFINITY)),
              CT_FLOAT64, CT_DIMS(2), 0, 5, INFINITY);
}

Test(elementwise, integer_division_by_zero_is_an_error) {
    ct_tensor *a = CT_I32(CT_DIMS(3), 1, 2, 3), *b = CT_I32(CT_DIMS(3), 1, 0, 2);
    CT_FAILS(ct_floordiv(a, b), "ct_floordiv: integer division by zero");
    CT_FAILS(ct_floormod(a, b), "ct_floormod: integer division by zero");
    CT_FAILS(ct_floordiv(CT_I64(CT_DIMS(1), 1), CT_I64(CT_DIMS(1), 0)), "division by zero");
    CT_FAILS(ct_floormod(ct_constant((uint8_t[]){1}, CT_UINT8, CT_DIMS(1)),
                         ct_constant((uint8_t[]){0}, CT_UINT8, CT_DIMS(1))),
             "division by zero");
    CT_FAILS(ct_floordiv(a, ct_scalar_of(CT_INT32, 0)), "element 0");
}

/* ---- pow ---------------------------------------------------------------------- */

Test(elementwise, pow_float) {
    ct_tensor *x = CT_F64(CT_DIMS(6), 2, 2, -8, 0, 0, -2), *y = CT_F64(CT_DIMS(6), 3, 0.5, 1.0 / 3, 0, -1, 2);
    CT_EXPECT(ct_pow(x, y), CT_FLOAT64, CT_DIMS(6), 1e-15, 8, sqrt(2.0), NAN, 1, INFINITY, 4);
    CT_EXPECT(ct_pow(CT_F32(CT_DIMS(2), 4, 9), ct_scalar(0.5)), CT_FLOAT32, CT_DIMS(2), 0, 2, 3);
}

Test(elementwise, pow_integer) {
    ct_tensor *x = CT_I32(CT_DIMS(5), 2, -3, 0, 7, -1), *y = CT_I32(CT_DIMS(5), 10, 3, 0, 1, 5);
    CT_EXPECT(ct_pow(x, y), CT_INT32, CT_DIMS(5), 0, 1024, -27, 1, 7, -1);
    int64_t got;
    CT_STATUS_OK(ct_tensor_read(ct_pow(CT_I64(CT_DIMS(1), 3), CT_I64(CT_DIMS(1), 39)), CT_INT64, &got, 1));
    cr_expect_eq(got, 4052555153018976267LL);
    /* TF: "Integers to negative integer powers are not allowed". */
    CT_FAILS(ct_pow(CT_I32(CT_DIMS(2), 2, 2), CT_I32(CT_DIMS(2), 1, -1)),
             "ct_pow: integers to negative integer powers are not allowed");
    CT_FAILS(ct_pow(CT_I64(CT_DIMS(1), 2), CT_I64(CT_DIMS(1), -2)), "negative integer powers");
    /* TF has no uint8 Pow. */
    ct_tensor *u = ct_constant((uint8_t[]){2}, CT_UINT8, CT_DIMS(1));
    CT_FAILS(ct_pow(u, u), "ct_pow: uint8 is not supported");
}

/* ---- maximum / minimum / squared_difference ------------------------------------ */

Test(elementwise, maximum_minimum_propagate_nan) {
    ct_tensor *a = CT_F32(CT_DIMS(5), NAN, 1, 2, -INFINITY, 3);
    ct_tensor *b = CT_F32(CT_DIMS(5), 1, NAN, 3, 0, 3);
    CT_EXPECT(ct_maximum(a, b), CT_FLOAT32, CT_DIMS(5), 0, NAN, NAN, 3, 0, 3);
    CT_EXPECT(ct_minimum(a, b), CT_FLOAT32, CT_DIMS(5), 0, NAN, NAN, 2, -INFINITY, 3);
    CT_EXPECT(ct_maximum(CT_I32(CT_DIMS(2), -5, 5), ct_scalar_of(CT_INT32, 0)), CT_INT32, CT_DIMS(2),
              0, 0, 5);
    CT_EXPECT(ct_minimum(CT_I64(CT_DIMS(2), -5, 5), ct_scalar_of(CT_INT64, 0)), CT_INT64, CT_DIMS(2),
              0, -5, 0);
}

Test(elementwise, squared_difference) {
    CT_EXPECT(ct_squared_difference(CT_F32(CT_DIMS(3), 1, 2, -1), CT_F32(CT_DIMS(3), 3, 5, 1)),
              CT_FLOAT32, CT_DIMS(3), 0, 4, 9, 4);
    CT_EXPECT(ct_squared_difference(CT_I32(CT_DIMS(2), 1, -2), ct_scalar_of(CT_INT32, 3)), CT_INT32,
              CT_DIMS(2), 0, 4, 25);
    ct_tensor *u = ct_constant((uint8_t[]){2}, CT_UINT8, CT_DIMS(1));
    CT_FAILS(ct_squared_difference(u, u), "uint8 is not supported");
    CT_EXPECT(ct_squared_difference(CT_F64(CT_DIMS(1), INFINITY), CT_F64(CT_DIMS(1), INFINITY)),
              CT_FLOAT64, CT_DIMS(1), 0, NAN);
}

/* ---- comparisons and logic -------------------------------------------------------- */

Test(elementwise, comparisons) {
    ct_tensor *a = CT_F32(CT_DIMS(4), 1, 2, NAN, 3), *b = CT_F32(CT_DIMS(4), 2, 2, NAN, 1);
    CT_EXPECT(ct_equal(a, b), CT_BOOL, CT_DIMS(4), 0, 0, 1, 0, 0);
    CT_EXPECT(ct_not_equal(a, b), CT_BOOL, CT_DIMS(4), 0, 1, 0, 1, 1);
    CT_EXPECT(ct_less(a, b), CT_BOOL, CT_DIMS(4), 0, 1, 0, 0, 0);
    CT_EXPECT(ct_less_equal(a, b), CT_BOOL, CT_DIMS(4), 0, 1, 1, 0, 0);
    CT_EXPECT(ct_greater(a, b), CT_BOOL, CT_DIMS(4), 0, 0, 0, 0, 1);
    CT_EXPECT(ct_greater_equal(a, b), CT_BOOL, CT_DIMS(4), 0, 0, 1, 0, 1);
    /* Integers, broadcasting. */
    ct_tensor *i = CT_I32(CT_DIMS(2, 1), 1, 3), *j = CT_I32(CT_DIMS(3), 1, 2, 3);
    CT_EXPECT(ct_less(i, j), CT_BOOL, CT_DIMS(2, 3), 0, 0, 1, 1, 0, 0, 0);
    CT_EXPECT(ct_equal(i, j), CT_BOOL, CT_DIMS(2, 3), 0, 1, 0, 0, 0, 0, 1);
    ct_tensor *u = ct_constant((uint8_t[]){0, 200}, CT_UINT8, CT_DIMS(2));
    CT_EXPECT(ct_greater(u, ct_scalar_of(CT_UINT8, 100)), CT_BOOL, CT_DIMS(2), 0, 0, 1);
    int64_t big[2] = {INT64_MAX, INT64_MAX - 1};
    ct_tensor *l = ct_constant(big, CT_INT64, CT_DIMS(2));
    CT_EXPECT(ct_equal(l, ct_constant(big, CT_INT64, CT_DIMS(1))), CT_BOOL, CT_DIMS(2), 0, 1, 0);
    /* Bool inputs: equal / not_equal only. */
    ct_tensor *p = CT_BOOLS(CT_DIMS(2), true, false), *q = CT_BOOLS(CT_DIMS(2), true, true);
    CT_EXPECT(ct_equal(p, q), CT_BOOL, CT_DIMS(2), 0, 1, 0);
    CT_EXPECT(ct_not_equal(p, q), CT_BOOL, CT_DIMS(2), 0, 0, 1);
    CT_FAILS(ct_greater(p, q), "ct_greater: bool");
    CT_FAILS(ct_less_equal(p, q), "bool");
    CT_EXPECT(ct_equal(ct_scalar(1), ct_scalar(1)), CT_BOOL, CT_SCALAR, 0, 1);
}

Test(elementwise, logical_ops) {
    ct_tensor *p = CT_BOOLS(CT_DIMS(4), false, false, true, true);
    ct_tensor *q = CT_BOOLS(CT_DIMS(4), false, true, false, true);
    CT_EXPECT(ct_logical_and(p, q), CT_BOOL, CT_DIMS(4), 0, 0, 0, 0, 1);
    CT_EXPECT(ct_logical_or(p, q), CT_BOOL, CT_DIMS(4), 0, 0, 1, 1, 1);
    CT_EXPECT(ct_logical_xor(p, q), CT_BOOL, CT_DIMS(4), 0, 0, 1, 1, 0);
    CT_EXPECT(ct_logical_not(p), CT_BOOL, CT_DIMS(4), 0, 1, 1, 0, 0);
    CT_EXPECT(ct_logical_and(p, CT_BOOLS(CT_SCALAR, true)), CT_BOOL, CT_DIMS(4), 0, 0, 0, 1, 1);
    CT_FAILS(ct_logical_and(CT_I32(CT_DIMS(1), 1), CT_I32(CT_DIMS(1), 1)),
             "ct_logical_and: expected bool tensors");
    CT_FAILS(ct_logical_not(ct_scalar(1)), "ct_logical_not: expected a bool tensor");
    CT_FAILS(ct_logical_or(p, CT_F32(CT_DIMS(4), 1, 1, 1, 1)), "different dtypes");
}

/* ---- unary ------------------------------------------------------------------------ */

Test(elementwise, negative_abs_sign) {
    ct_tensor *x = CT_F32(CT_DIMS(6), -2, 0, 3.5f, -INFINITY, NAN, -0.0f);
    CT_EXPECT(ct_negative(x), CT_FLOAT32, CT_DIMS(6), 0, 2, 0, -3.5, INFINITY, NAN, 0);
    CT_EXPECT(ct_abs(x), CT_FLOAT32, CT_DIMS(6), 0, 2, 0, 3.5, INFINITY, NAN, 0);
    CT_EXPECT(ct_sign(x), CT_FLOAT32, CT_DIMS(6), 0, -1, 0, 1, -1, NAN, 0);
    cr_expect(!signbit(ct_tensor_get(ct_abs(x), 5)), "abs(-0) is +0");
    cr_expect(signbit(ct_tensor_get(ct_negative(x), 1)), "-(+0) is -0");
    ct_tensor *i = CT_I32(CT_DIMS(4), -7, 0, 7, INT32_MIN);
    CT_EXPECT(ct_negative(i), CT_INT32, CT_DIMS(4), 0, 7, 0, -7, INT32_MIN);
    CT_EXPECT(ct_abs(i), CT_INT32, CT_DIMS(4), 0, 7, 0, 7, INT32_MIN);
    CT_EXPECT(ct_sign(i), CT_INT32, CT_DIMS(4), 0, -1, 0, 1, -1);
    ct_tensor *l = CT_I64(CT_DIMS(2), -3, 4);
    CT_EXPECT(ct_negative(l), CT_INT64, CT_DIMS(2), 0, 3, -4);
    CT_EXPECT(ct_abs(l), CT_INT64, CT_DIMS(2), 0, 3, 4);
    CT_EXPECT(ct_sign(l), CT_INT64, CT_DIMS(2), 0, -1, 1);
    /* TF has no uint8 Neg, Abs or Sign kernels. */
    ct_tensor *u = ct_constant((uint8_t[]){1}, CT_UINT8, CT_DIMS(1));
    CT_FAILS(ct_negative(u), "ct_negative: expected a signed numeric tensor, got uint8[1]");
    CT_FAILS(ct_abs(u), "ct_abs: expected a signed");
    CT_FAILS(ct_sign(u), "ct_sign: expected a signed");
}

Test(elementwise, relu_values) {
    ct_tensor *x = CT_F32(CT_DIMS(5), -1, 0, 2, NAN, -INFINITY);
    CT_EXPECT(ct_relu(x), CT_FLOAT32, CT_DIMS(5), 0, 0, 0, 2, NAN, 0);
    CT_EXPECT(ct_relu(CT_I32(CT_DIMS(2), -3, 3)), CT_INT32, CT_DIMS(2), 0, 0, 3);
    CT_EXPECT(ct_relu(CT_I64(CT_DIMS(2), -3, 3)), CT_INT64, CT_DIMS(2), 0, 0, 3);
    /* TF's Relu takes uint8 (every real type): the identity. */
    CT_EXPECT(ct_relu(ct_constant((uint8_t[]){0, 200}, CT_UINT8, CT_DIMS(2))), CT_UINT8,
              CT_DIMS(2), 0, 0, 200);
}

Test(elementwise, roots_powers_reciprocal) {
    ct_tensor *x = CT_F32(CT_DIMS(5), 4, 0, -1, INFINITY, 0.25f);
    CT_EXPECT(ct_sqrt(x), CT_FLOAT32, CT_DIMS(5), 0, 2, 0, NAN, INFINITY, 0.5);
    CT_EXPECT(ct_rsqrt(x), CT_FLOAT32, CT_DIMS(5), 1e-7, 0.5, INFINITY, NAN, 0, 2);
    CT_EXPECT(ct_square(x), CT_FLOAT32, CT_DIMS(5), 0, 16, 0, 1, INFINITY, 0.0625);
    CT_EXPECT(ct_reciprocal(x), CT_FLOAT32, CT_DIMS(5), 0, 0.25, INFINITY, -1, 0, 4);
    CT_EXPECT(ct_square(CT_I32(CT_DIMS(2), -3, 65536)), CT_INT32, CT_DIMS(2), 0, 9, 0);
    CT_EXPECT(ct_square(CT_I64(CT_DIMS(1), -3000000)), CT_INT64, CT_DIMS(1), 0, 9e12);
    CT_FAILS(ct_sqrt(CT_I32(CT_DIMS(1), 4)), "ct_sqrt: expected a floating-point tensor, got int32[1]");
    CT_FAILS(ct_reciprocal(CT_I32(CT_DIMS(1), 4)), "floating-point");
    CT_FAILS(ct_rsqrt(CT_I64(CT_DIMS(1), 4)), "floating-point");
}

Test(elementwise, exp_log_family) {
    ct_tensor *x = CT_F64(CT_DIMS(5), 0, 1, -1, 1e-10, 710);
    CT_EXPECT(ct_exp(x), CT_FLOAT64, CT_DIMS(5), 1e-15, 1, M_E, 1 / M_E, 1 + 1e-10, INFINITY);
    CT_EXPECT(ct_expm1(x), CT_FLOAT64, CT_DIMS(5), 1e-15, 0, M_E - 1, 1 / M_E - 1, 1e-10, INFINITY);
    ct_tensor *y = CT_F64(CT_DIMS(5), 1, M_E, 0, -1, 1e-10);
    CT_EXPECT(ct_log(y), CT_FLOAT64, CT_DIMS(5), 1e-15, 0, 1, -INFINITY, NAN, log(1e-10));
    CT_EXPECT(ct_log1p(y), CT_FLOAT64, CT_DIMS(5), 1e-15, log(2.0), log1p(M_E), 0, -INFINITY, 1e-10);
    CT_EXPECT(ct_exp(CT_F32(CT_DIMS(2), 1, -INFINITY)), CT_FLOAT32, CT_DIMS(2), 1e-6, M_E, 0);
    CT_FAILS(ct_exp(CT_I32(CT_DIMS(1), 1)), "ct_exp: expected a floating-point tensor");
    CT_FAILS(ct_log(CT_I64(CT_DIMS(1), 1)), "ct_log:");
}

Test(elementwise, trig_and_activations) {
    ct_tensor *x = CT_F64(CT_DIMS(5), 0, 0.5, -2, 30, -800);
    CT_EXPECT(ct_sin(x), CT_FLOAT64, CT_DIMS(5), 1e-15, 0, sin(0.5), sin(-2.0), sin(30.0), sin(-800.0));
    CT_EXPECT(ct_cos(x), CT_FLOAT64, CT_DIMS(5), 1e-15, 1, cos(0.5), cos(-2.0), cos(30.0), cos(-800.0));
    CT_EXPECT(ct_tanh(x), CT_FLOAT64, CT_DIMS(5), 1e-15, 0, tanh(0.5), tanh(-2.0), 1, -1);
    CT_EXPECT(ct_sigmoid(x), CT_FLOAT64, CT_DIMS(5), 1e-15, 0.5, 1 / (1 + exp(-0.5)),
              1 / (1 + exp(2.0)), 1 / (1 + exp(-30.0)), 0);
    CT_EXPECT(ct_erf(x), CT_FLOAT64, CT_DIMS(5), 1e-15, 0, erf(0.5), erf(-2.0), 1, -1);
    CT_EXPECT(ct_softplus(x), CT_FLOAT64, CT_DIMS(5), 1e-15, log(2.0), log1p(exp(0.5)),
              log1p(exp(-2.0)), 30 + log1p(exp(-30.0)), 0);
    /* Sigmoid of large negatives keeps its tiny value (no 0/0). */
    cr_expect(fabs(ct_item(ct_sigmoid(ct_scalar_of(CT_FLOAT64, -100))) - exp(-100) / (1 + exp(-100))) < 1e-55);
    /* In float32 that value (3.7e-44) is denormal: flushed to zero, as
     * TensorFlow computes on the CPU (runtime/threads.c). */
    cr_expect(ct_item(ct_sigmoid(CT_F32(CT_SCALAR, -100))) == 0);
    cr_expect(ct_item(ct_sigmoid(CT_F32(CT_SCALAR, -80))) > 0);
    CT_EXPECT(ct_sigmoid(CT_F32(CT_DIMS(3), NAN, INFINITY, -INFINITY)), CT_FLOAT32, CT_DIMS(3), 0,
              NAN, 1, 0);
    CT_EXPECT(ct_tanh(CT_F32(CT_DIMS(3), NAN, INFINITY, -INFINITY)), CT_FLOAT32, CT_DIMS(3), 0,
              NAN, 1, -1);
}

/* TF's Softplus: x above -(log eps + 2), exp(x) below log eps + 2. */
Test(elementwise, softplus_thresholds) {
    ct_tensor *x = CT_F32(CT_DIMS(6), 0, 14, -14, 100, -100, 5);
    CT_EXPECT(ct_softplus(x), CT_FLOAT32, CT_DIMS(6), 1e-6, log(2.0), 14, exp(-14.0), 100,
              exp(-100.0), log1p(exp(5.0)));
    cr_expect_eq(ct_tensor_get(ct_softplus(x), 1), 14.0);
    CT_EXPECT(ct_softplus(CT_F64(CT_DIMS(3), 40, -40, 1000)), CT_FLOAT64, CT_DIMS(3), 1e-15, 40,
              exp(-40.0), 1000);
    CT_EXPECT(ct_softplus(CT_F32(CT_DIMS(3), NAN, INFINITY, -INFINITY)), CT_FLOAT32, CT_DIMS(3), 0,
              NAN, INFINITY, 0);
}

Test(elementwise, floor_ceil_round_half_to_even) {
    ct_tensor *x = CT_F32(CT_DIMS(10), 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 3.7f, -3.7f, 2.4999998f, NAN);
    CT_EXPECT(ct_round(x), CT_FLOAT32, CT_DIMS(10), 0, 0, 2, 2, -0.0, -2, -2, 4, -4, 2, NAN);
    cr_expect(signbit(ct_tensor_get(ct_round(x), 3)), "round(-0.5) is -0");
    CT_EXPECT(ct_floor(x), CT_FLOAT32, CT_DIMS(10), 0, 0, 1, 2, -1, -2, -3, 3, -4, 2, NAN);
    CT_EXPECT(ct_ceil(x), CT_FLOAT32, CT_DIMS(10), 0, 1, 2, 3, -0.0, -1, -2, 4, -3, 3, NAN);
    CT_EXPECT(ct_round(CT_F64(CT_DIMS(3), 4.5, 5.5, 1e300)), CT_FLOAT64, CT_DIMS(3), 0, 4, 6, 1e300);
    /* TF's Round takes int32/int64 (the identity); Floor and Ceil do not. */
    CT_EXPECT(ct_round(CT_I32(CT_DIMS(2), -3, 7)), CT_INT32, CT_DIMS(2), 0, -3, 7);
    CT_EXPECT(ct_round(CT_I64(CT_DIMS(1), 5)), CT_INT64, CT_DIMS(1), 0, 5);
    CT_FAILS(ct_floor(CT_I32(CT_DIMS(1), 1)), "ct_floor: expected a floating-point tensor");
    CT_FAILS(ct_ceil(CT_I32(CT_DIMS(1), 1)), "ct_ceil:");
}

Test(elementwise, is_nan_inf_finite) {
    ct_tensor *x = CT_F32(CT_DIMS(5), 1, NAN, INFINITY, -INFINITY, 0);
    CT_EXPECT(ct_is_nan(x), CT_BOOL, CT_DIMS(5), 0, 0, 1, 0, 0, 0);
    CT_EXPECT(ct_is_inf(x), CT_BOOL, CT_DIMS(5), 0, 0, 0, 1, 1, 0);
    CT_EXPECT(ct_is_finite(x), CT_BOOL, CT_DIMS(5), 0, 1, 0, 0, 0, 1);
    CT_EXPECT(ct_is_nan(CT_F64(CT_SCALAR, NAN)), CT_BOOL, CT_SCALAR, 0, 1);
    CT_FAILS(ct_is_nan(CT_I32(CT_DIMS(1), 1)), "ct_is_nan: expected a floating-point tensor");
    CT_FAILS(ct_is_finite(CT_BOOLS(CT_DIMS(1), true)), "ct_is_finite:");
}

/* ---- clip_by_value -------------------------------------------------------------------- */

Test(elementwise, clip_by_value) {
    ct_tensor *x = CT_F32(CT_DIMS(2, 3), -3, -1, 0, 0.5f, 1, 7);
    CT_EXPECT(ct_clip_by_value(x, -1, 1), CT_FLOAT32, CT_DIMS(2, 3), 0, -1, -1, 0, 0.5, 1, 1);
    CT_EXPECT(ct_clip_by_value(x, 2, 2), CT_FLOAT32, CT_DIMS(2, 3), 0, 2, 2, 2, 2, 2, 2);
    CT_EXPECT(ct_clip_by_value(CT_I32(CT_DIMS(3), -5, 3, 9), 0, 6), CT_INT32, CT_DIMS(3), 0, 0, 3, 6);
    CT_EXPECT(ct_clip_by_value(CT_F32(CT_DIMS(1), NAN), 0, 1), CT_FLOAT32, CT_DIMS(1), 0, NAN);
    /* min > max: TF applies minimum then maximum, so everything is min. */
    CT_EXPECT(ct_clip_by_value(CT_F32(CT_DIMS(3), 1, 5, 10), 6, 3), CT_FLOAT32, CT_DIMS(3), 0, 6, 6, 6);
    CT_FAILS(ct_clip_by_value(ct_add(x, CT_F32(CT_DIMS(2), 1, 2)), 0, 1), "ct_add");
}

/* TF's clip is minimum then maximum: ties send the gradient to x, so the
 * gradient passes at the bounds and stops outside them. */
Test(elementwise, clip_by_value_gradient_passes_at_bounds) {
    ct_tensor *x = CT_F32(CT_DIMS(5), -2, -1, 0, 1, 2);
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, x);
    ct_tensor *y = ct_clip_by_value(x, -1, 1);
    ct_tape_end(tape);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &x, &g, NULL));
    CT_EXPECT(g, CT_FLOAT32, CT_DIMS(5), 0, 0, 1, 1, 1, 0);
    ct_tape_free(tape);
}

/* ---- float16 / bfloat16 ------------------------------------------------------------------ */

static double f16r(double v) { return ct_f16_to_f32(ct_f32_to_f16((float)v)); }
static double bf16r(double v) { return ct_bf16_to_f32(ct_f32_to_bf16((float)v)); }

Test(elementwise, half_types_compute_in_float32) {
    ct_tensor *a = ct_cast(CT_F32(CT_DIMS(3), 1, 2.5f, 1000), CT_FLOAT16);
    ct_tensor *b = ct_cast(CT_F32(CT_DIMS(3), 0.5f, 0.25f, 0.1f), CT_FLOAT16);
    double b2 = f16r(0.1);
    CT_EXPECT(ct_add(a, b), CT_FLOAT16, CT_DIMS(3), 0, 1.5, 2.75, f16r(1000 + b2));
    CT_EXPECT(ct_multiply(a, b), CT_FLOAT16, CT_DIMS(3), 0, 0.5, 0.625, f16r(1000 * b2));
    CT_EXPECT(ct_divide(a, b), CT_FLOAT16, CT_DIMS(3), 0, 2, 10, f16r(1000 / b2));
    CT_EXPECT(ct_exp(a), CT_FLOAT16, CT_DIMS(3), 0, f16r(expf(1)), f16r(expf(2.5f)), INFINITY);
    CT_EXPECT(ct_less(a, b), CT_BOOL, CT_DIMS(3), 0, 0, 0, 0);
    CT_EXPECT(ct_is_inf(ct_exp(a)), CT_BOOL, CT_DIMS(3), 0, 0, 0, 1);
    CT_EXPECT(ct_maximum(a, ct_cast(ct_scalar(2), CT_FLOAT16)), CT_FLOAT16, CT_DIMS(3), 0, 2, 2.5, 1000);
    CT_EXPECT(ct_round(ct_cast(CT_F32(CT_DIMS(2), 0.5f, 1.5f), CT_FLOAT16)), CT_FLOAT16, CT_DIMS(2),
              0, 0, 2);
    ct_tensor *c = ct_cast(CT_F32(CT_DIMS(2), 3, -1), CT_BFLOAT16);
    CT_EXPECT(ct_sqrt(c), CT_BFLOAT16, CT_DIMS(2), 0, bf16r(sqrtf(3)), NAN);
    CT_EXPECT(ct_sigmoid(c), CT_BFLOAT16, CT_DIMS(2), 1e-2, bf16r(1 / (1 + expf(-3))),
              bf16r(1 / (1 + expf(1))));
    CT_EXPECT(ct_relu(c), CT_BFLOAT16, CT_DIMS(2), 0, 3, 0);
    CT_EXPECT(ct_clip_by_value(c, 0, 2), CT_BFLOAT16, CT_DIMS(2), 0, 2, 0);
    CT_FAILS(ct_add(ct_cast(CT_F32(CT_DIMS(2), 1, 2), CT_FLOAT16), c),
             "ct_add: inputs have different dtypes: float16[2] and bfloat16[2]");
    CT_FAILS(ct_less(c, CT_F32(CT_DIMS(2), 1, 2)), "ct_less: inputs have different dtypes");
    CT_FAILS(ct_add(a, CT_F32(CT_DIMS(3), 1, 2, 3)), "different dtypes");
}

Test(elementwise, half_gradients_flow_through_the_casts) {
    ct_tensor *x = ct_cast(CT_F32(CT_DIMS(2), 1, 2), CT_FLOAT16);
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, x);
    ct_tensor *y = ct_multiply(x, x);
    ct_tape_end(tape);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &x, &g, NULL));
    CT_EXPECT(g, CT_FLOAT16, CT_DIMS(2), 0, 2, 4);
    ct_tape_free(tape);
}

/* ---- gradients ------------------------------------------------------------------------- */

static ct_tensor *call_bin(ct_tensor *const *in, void *ctx) { return ((bin_api)ctx)(in[0], in[1]); }
static ct_tensor *call_un(ct_tensor *const *in, void *ctx) { return ((un_api)ctx)(in[0]); }

static void gradcheck_bin(bin_api f, ct_tensor *a, ct_tensor *b) {
    ct_tensor *in[2] = {a, b};
    ct_gradcheck(call_bin, 2, in, (void *)f, 1e-6);
}
static void gradcheck_un(un_api f, ct_tensor *x) { ct_gradcheck(call_un, 1, &x, (void *)f, 1e-6); }

/* Values away from 0 and from each other (no kinks, no ties). */
static ct_tensor *x23(void) { return CT_F64(CT_DIMS(2, 3), -1.3, 0.7, 2.1, -0.4, 1.6, -2.2); }
static ct_tensor *pos23(void) { return CT_F64(CT_DIMS(2, 3), 0.3, 0.7, 2.1, 1.4, 1.6, 0.9); }

Test(elementwise, gradcheck_add_sub_mul_div) {
    ct_tensor *b3 = CT_F64(CT_DIMS(3), 0.5, -1.5, 2.5), *b21 = CT_F64(CT_DIMS(2, 1), 1.2, -0.8);
    gradcheck_bin(ct_add, x23(), b3);
    gradcheck_bin(ct_add, b21, x23());
    gradcheck_bin(ct_subtract, x23(), b3);
    gradcheck_bin(ct_subtract, ct_scalar_of(CT_FLOAT64, 0.3), x23());
    gradcheck_bin(ct_multiply, x23(), b21);
    gradcheck_bin(ct_multiply, CT_F64(CT_DIMS(2, 1, 3), 1, 2, 3, 4, 5, 6), CT_F64(CT_DIMS(4, 1), 1, -1, 2, -2));
    gradcheck_bin(ct_divide, x23(), b3);
    gradcheck_bin(ct_divide, b21, pos23());
}

Test(elementwise, gradcheck_pow_max_min_sqdiff_floormod) {
    gradcheck_bin(ct_pow, pos23(), CT_F64(CT_DIMS(3), 0.5, 2, -1.5));
    gradcheck_bin(ct_pow, pos23(), ct_scalar_of(CT_FLOAT64, 3));
    gradcheck_bin(ct_maximum, x23(), CT_F64(CT_DIMS(3), 0.1, 0.2, -0.3));
    gradcheck_bin(ct_minimum, x23(), CT_F64(CT_DIMS(2, 1), 0.1, 0.2));
    gradcheck_bin(ct_squared_difference, x23(), CT_F64(CT_DIMS(3), 0.1, 0.2, -0.3));
    gradcheck_bin(ct_floormod, CT_F64(CT_DIMS(2, 3), 5.3, -5.3, 2.2, 7.1, -0.4, 3.3),
                  CT_F64(CT_DIMS(3), 2.1, 1.7, -0.9));
}

Test(elementwise, gradcheck_unary) {
    un_api any[] = {ct_negative, ct_abs, ct_square, ct_exp, ct_expm1, ct_sin, ct_cos, ct_tanh,
                    ct_sigmoid, ct_relu, ct_softplus, ct_erf, ct_sign};
    for (size_t i = 0; i < sizeof any / sizeof *any; i++) gradcheck_un(any[i], x23());
    un_api positive[] = {ct_sqrt, ct_rsqrt, ct_reciprocal, ct_log, ct_log1p};
    for (size_t i = 0; i < sizeof positive / sizeof *positive; i++) gradcheck_un(positive[i], pos23());
    gradcheck_un(ct_reciprocal, x23());
    gradcheck_un(ct_log1p, CT_F64(CT_DIMS(2), -0.5, 0.25));
    gradcheck_un(ct_softplus, CT_F64(CT_DIMS(4), -20, 20, -40, 40));
    gradcheck_un(ct_sigmoid, CT_F64(CT_DIMS(2), -30, 30));
}

static ct_tensor *clip_fn(ct_tensor *const *in, void *ctx) {
    (void)ctx;
    return ct_clip_by_value(in[0], -1, 1.5);
}

Test(elementwise, gradcheck_clip_by_value) {
    ct_tensor *x = x23();
    ct_gradcheck(clip_fn, 1, &x, NULL, 1e-6);
}

/* TF's gradients of the piecewise-constant ops: Sign gives zeros, Floor,
 * Ceil, Round and FloorDiv give None (no gradient flows). */
Test(elementwise, piecewise_constant_gradients) {
    ct_tensor *x = CT_F64(CT_DIMS(2), 0.3, -1.7), *b = CT_F64(CT_DIMS(2), 2, 3);
    un_api none[] = {ct_floor, ct_ceil, ct_round};
    for (size_t i = 0; i < 3; i++) {
        ct_tape *tape = ct_tape_begin(NULL);
        ct_tape_watch(tape, x);
        ct_tensor *y = none[i](x);
        ct_tape_end(tape);
        ct_tensor *g = (ct_tensor *)1;
        CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &x, &g, NULL));
        cr_expect_null(g);
        ct_tape_free(tape);
    }
    ct_tape *tape = ct_tape_begin(&(ct_tape_opts){.persistent = true});
    ct_tape_watch(tape, x);
    ct_tape_watch(tape, b);
    ct_tensor *q = ct_floordiv(x, b), *s = ct_sign(x);
    ct_tape_end(tape);
    ct_tensor *src[2] = {x, b}, *g[2];
    CT_STATUS_OK(ct_tape_gradient(tape, q, 2, src, g, NULL));
    cr_expect_null(g[0]);
    cr_expect_null(g[1]);
    CT_STATUS_OK(ct_tape_gradient(tape, s, 1, &x, g, NULL));
    CT_EXPECT(g[0], CT_FLOAT64, CT_DIMS(2), 0, 0, 0);
    ct_tape_free(tape);
}

/* Ties in Maximum/Minimum send the whole gradient to the first input;
 * relu's gradient at 0 is 0; abs's at 0 is 0 (sign). */
Test(elementwise, gradients_at_kinks) {
    ct_tensor *a = CT_F64(CT_DIMS(3), 1, 2, 3), *b = CT_F64(CT_DIMS(3), 1, 0, 5);
    ct_tape *tape = ct_tape_begin(&(ct_tape_opts){.persistent = true});
    ct_tape_watch(tape, a);
    ct_tape_watch(tape, b);
    ct_tensor *mx = ct_maximum(a, b), *mn = ct_minimum(a, b);
    ct_tensor *z = CT_F64(CT_DIMS(3), 0, -1, 1);
    ct_tape_watch(tape, z);
    ct_tensor *r = ct_relu(z), *ab = ct_abs(z);
    ct_tape_end(tape);
    ct_tensor *src[2] = {a, b}, *g[2];
    CT_STATUS_OK(ct_tape_gradient(tape, mx, 2, src, g, NULL));
    CT_EXPECT(g[0], CT_FLOAT64, CT_DIMS(3), 0, 1, 1, 0);
    CT_EXPECT(g[1], CT_FLOAT64, CT_DIMS(3), 0, 0, 0, 1);
    CT_STATUS_OK(ct_tape_gradient(tape, mn, 2, src, g, NULL));
    CT_EXPECT(g[0], CT_FLOAT64, CT_DIMS(3), 0, 1, 0, 1);
    CT_EXPECT(g[1], CT_FLOAT64, CT_DIMS(3), 0, 0, 1, 0);
    CT_STATUS_OK(ct_tape_gradient(tape, r, 1, &z, g, NULL));
    CT_EXPECT(g[0], CT_FLOAT64, CT_DIMS(3), 0, 0, 0, 1);
    CT_STATUS_OK(ct_tape_gradient(tape, ab, 1, &z, g, NULL));
    CT_EXPECT(g[0], CT_FLOAT64, CT_DIMS(3), 0, 0, -1, 1);
    ct_tape_free(tape);
}

/* TF's _PowGrad: d/dy x^y is 0 where x <= 0 (no NaN from log). */
Test(elementwise, pow_gradient_at_nonpositive_base) {
    ct_tensor *x = CT_F64(CT_DIMS(3), 0, -2, 2), *y = CT_F64(CT_DIMS(3), 2, 3, 3);
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, x);
    ct_tape_watch(tape, y);
    ct_tensor *z = ct_pow(x, y);
    ct_tape_end(tape);
    ct_tensor *src[2] = {x, y}, *g[2];
    CT_STATUS_OK(ct_tape_gradient(tape, z, 2, src, g, NULL));
    CT_EXPECT(g[0], CT_FLOAT64, CT_DIMS(3), 1e-15, 0, 12, 12);
    CT_EXPECT(g[1], CT_FLOAT64, CT_DIMS(3), 1e-15, 0, 0, 8 * log(2.0));
    ct_tape_free(tape);
}

/* Sqrt at 0 gives an infinite gradient, as TF's SqrtGrad (0.5 * dy / y). */
Test(elementwise, sqrt_reciprocal_gradient_values) {
    ct_tensor *x = CT_F64(CT_DIMS(2), 0, 4);
    ct_tape *tape = ct_tape_begin(&(ct_tape_opts){.persistent = true});
    ct_tape_watch(tape, x);
    ct_tensor *s = ct_sqrt(x), *rs = ct_rsqrt(x);
    ct_tape_end(tape);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(tape, s, 1, &x, &g, NULL));
    CT_EXPECT(g, CT_FLOAT64, CT_DIMS(2), 0, INFINITY, 0.25);
    CT_STATUS_OK(ct_tape_gradient(tape, rs, 1, &x, &g, NULL));
    CT_EXPECT(g, CT_FLOAT64, CT_DIMS(2), 1e-15, -INFINITY, -0.5 / 8);
    ct_tape_free(tape);
}

/* ---- second derivatives through nested tapes ----------------------------------------- */

/* d2/dx2 of sum(f(x)) at x, through two tapes. */
static ct_tensor *second_derivative(un_api f, ct_tensor *x) {
    ct_tape *outer = ct_tape_begin(NULL);
    ct_tape_watch(outer, x);
    ct_tape *inner = ct_tape_begin(NULL);
    ct_tape_watch(inner, x);
    ct_tensor *y = f(x);
    ct_tape_end(inner);
    ct_tensor *dy;
    CT_STATUS_OK(ct_tape_gradient(inner, y, 1, &x, &dy, NULL));
    ct_tape_end(outer);
    ct_tensor *d2;
    CT_STATUS_OK(ct_tape_gradient(outer, dy, 1, &x, &d2, NULL));
    ct_tape_free(inner);
    ct_tape_free(outer);
    return d2;
}

static ct_tensor *cube(const ct_tensor *x) { return ct_pow(x, ct_scalar_of(CT_FLOAT64, 3)); }
static ct_tensor *two_pow(const ct_tensor *y) { return ct_pow(ct_scalar_of(CT_FLOAT64, 2), y); }
static ct_tensor *recip_sq(const ct_tensor *x) { return ct_square(ct_reciprocal(x)); }

Test(elementwise, second_derivatives) {
    double v[3] = {-0.7, 0.2, 1.3};
    ct_tensor *x = ct_constant(v, CT_FLOAT64, CT_DIMS(3));
    double t[3], s[3];
    for (int i = 0; i < 3; i++) {
        t[i] = tanh(v[i]);
        s[i] = 1 / (1 + exp(-v[i]));
    }
    CT_EXPECT(second_derivative(ct_tanh, x), CT_FLOAT64, CT_DIMS(3), 1e-12,
              -2 * t[0] * (1 - t[0] * t[0]), -2 * t[1] * (1 - t[1] * t[1]),
              -2 * t[2] * (1 - t[2] * t[2]));
    CT_EXPECT(second_derivative(ct_sigmoid, x), CT_FLOAT64, CT_DIMS(3), 1e-12,
              s[0] * (1 - s[0]) * (1 - 2 * s[0]), s[1] * (1 - s[1]) * (1 - 2 * s[1]),
              s[2] * (1 - s[2]) * (1 - 2 * s[2]));
    CT_EXPECT(second_derivative(ct_exp, x), CT_FLOAT64, CT_DIMS(3), 1e-12, exp(v[0]), exp(v[1]),
              exp(v[2]));
    CT_EXPECT(second_derivative(cube, x), CT_FLOAT64, CT_DIMS(3), 1e-12, 6 * v[0], 6 * v[1], 6 * v[2]);
    double l2 = log(2.0);
    CT_EXPECT(second_derivative(two_pow, x), CT_FLOAT64, CT_DIMS(3), 1e-12, pow(2, v[0]) * l2 * l2,
              pow(2, v[1]) * l2 * l2, pow(2, v[2]) * l2 * l2);
    CT_EXPECT(second_derivative(ct_sin, x), CT_FLOAT64, CT_DIMS(3), 1e-12, -sin(v[0]), -sin(v[1]),
              -sin(v[2]));
    CT_EXPECT(second_derivative(ct_softplus, x), CT_FLOAT64, CT_DIMS(3), 1e-12,
              s[0] * (1 - s[0]), s[1] * (1 - s[1]), s[2] * (1 - s[2]));
    CT_EXPECT(second_derivative(recip_sq, x), CT_FLOAT64, CT_DIMS(3), 1e-10, 6 / pow(v[0], 4),
              6 / pow(v[1], 4), 6 / pow(v[2], 4));
    CT_EXPECT(second_derivative(ct_relu, x), CT_FLOAT64, CT_DIMS(3), 0, 0, 0, 0);
    ct_tensor *p = ct_constant((double[]){0.5, 2}, CT_FLOAT64, CT_DIMS(2));
    CT_EXPECT(second_derivative(ct_sqrt, p), CT_FLOAT64, CT_DIMS(2), 1e-12, -0.25 * pow(0.5, -1.5),
              -0.25 * pow(2, -1.5));
    CT_EXPECT(second_derivative(ct_log, p), CT_FLOAT64, CT_DIMS(2), 1e-12, -4, -0.25);
}

/* Gradcheck of a first derivative: d/dx of (d/dx sum f(x)). */
static ct_tensor *grad_of(ct_tensor *const *in, void *ctx) {
    ct_tensor *x = in[0];
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, x);
    ct_tensor *y = ((un_api)ctx)(x);
    ct_tape_end(tape);
    ct_tensor *g = NULL;
    ct_tape_gradient(tape, y, 1, &x, &g, NULL);
    ct_tape_free(tape);
    return g;
}

Test(elementwise, gradcheck_of_gradients) {
    un_api fs[] = {ct_tanh, ct_sigmoid, ct_exp, ct_erf, ct_rsqrt, ct_log1p, ct_expm1, ct_cos};
    for (size_t i = 0; i < sizeof fs / sizeof *fs; i++) {
        ct_tensor *x = pos23();
        ct_gradcheck(grad_of, 1, &x, (void *)fs[i], 1e-5);
    }
}
