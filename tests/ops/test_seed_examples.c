/*
 * The user's seed examples, reproduced with ctrain's API.
 *
 * The seed notes come from the book "eat_tensorflow2_in_30_days"
 * (lyhue1991/eat_tensorflow2_in_30_days): chapters 4-1 (tensor structure
 * operations), 4-2 (tensor math), 2-3 (automatic differentiation) and 3-1
 * (the low-level linear regression). Each test below is one of the book's
 * code cells; the expected values are the outputs the book shows TensorFlow
 * printing (float32 values to the digits TF printed, hence the tolerances).
 *
 * Where the book draws random tensors, the test uses the printed values as
 * constants. The book's random draws can be reproduced exactly too, because
 * ctrain's random kernels are TF's bit for bit: rng_book_draws_explicit
 * checks that, given the operation seeds TF's eager mode picks.
 *
 * One test (svd_book_signs) is disabled: LAPACK's singular vectors may
 * differ in sign from Eigen's, which TF uses; it says more where defined.
 */
#include <math.h>
#include <string.h>

#include "support.h"

TestSuite(seed, .init = ct_test_begin, .fini = ct_test_end);

/* ---- shared inputs ------------------------------------------------------------ */

/* 4-1: tf.random.set_seed(3); t = tf.random.uniform([5,5], 0, 10, tf.int32). */
static ct_tensor *book_t(void) {
    return CT_I32(CT_DIMS(5, 5), 4, 7, 4, 2, 9, /**/ 9, 1, 2, 4, 7, /**/ 7, 2, 7, 4, 0, /**/ 9, 6, 9,
                  7, 2, /**/ 3, 7, 0, 0, 3);
}

/* 4-1: the next draw, a = tf.random.uniform([3,3,3], 0, 10, tf.int32). */
static ct_tensor *book_a333(void) {
    return CT_I32(CT_DIMS(3, 3, 3), 7, 3, 9, 9, 0, 7, 9, 6, 7, /**/ 1, 3, 3, 0, 8, 1, 3, 1, 0, /**/ 4,
                  0, 6, 6, 2, 2, 7, 9, 5);
}

/* 4-1: the class-scores tensor, 4 classes x 10 students x 7 subjects
 * (tf.random.uniform((4,10,7), 0, 100, tf.int32), the third draw after
 * set_seed(3)). The book prints the first and last three subjects of
 * students 0-2 and 7-9 and, through its gather examples, students 5 and 9
 * and three full rows; the remaining values are that same TF draw, which
 * ctrain's generator reproduces (rng_book_draws_explicit), and agree with
 * every value the book prints. */
static const int32_t scores_values[4 * 10 * 7] = {
    52, 82, 66, 55, 17, 86, 14, 8,  36, 94, 16, 13, 78, 41, 77, 53, 51, 93, 22, 91, 56,
    73, 31, 18, 9,  93, 87, 21, 25, 40, 16, 76, 32, 49, 88, 24, 80, 70, 46, 72, 63, 96,
    16, 44, 31, 73, 85, 7,  35, 11, 19, 26, 53, 89, 86, 68, 60, 72, 0,  23, 11, 26, 15,
    24, 99, 38, 58, 97, 44, 74, /* class 0 */
    79, 73, 73, 48, 35, 3,  81, 83, 36, 31, 93, 75, 38, 85, 54, 26, 67, 70, 60, 68, 98,
    36, 5,  52, 1,  74, 16, 68, 76, 82, 47, 63, 83, 20, 3,  46, 10, 94, 38, 23, 18, 92,
    33, 61, 92, 8,  87, 16, 36, 20, 5,  18, 91, 32, 45, 3,  72, 52, 81, 49, 88, 41, 20,
    0,  21, 89, 86, 53, 10, 90, /* class 1 */
    52, 80, 22, 57, 29, 25, 60, 78, 71, 54, 13, 43, 98, 81, 21, 66, 53, 28, 97, 75, 77,
    14, 23, 29, 45, 51, 98, 63, 99, 94, 46, 70, 1,  63, 41, 19, 12, 23, 34, 87, 86, 25,
    37, 98, 14, 90, 50, 18, 7,  6,  74, 3,  12, 53, 65, 43, 98, 36, 72, 59, 33, 36, 81,
    61, 78, 70, 71, 7,  59, 21, /* class 2 */
    56, 57, 45, 75, 23, 15, 3,  35, 8,  82, 13, 11, 59, 97, 44, 6,  99, 66, 81, 60, 27,
    27, 55, 95, 71, 32, 19, 87, 54, 44, 3,  34, 95, 50, 76, 6,  41, 79, 47, 97, 43, 13,
    46, 83, 70, 80, 90, 85, 17, 76, 26, 35, 16, 51, 8,  17, 33, 52, 53, 49, 78, 37, 31,
    71, 27, 44, 96, 0,  52, 16, /* class 3 */
};

static ct_tensor *book_scores(void) {
    return ct_constant(scores_values, CT_INT32, CT_DIMS(4, 10, 7));
}

/* 4-1: c = tf.constant([[-1,1,-1],[2,2,-2],[3,-3,3]], dtype=tf.float32). */
static ct_tensor *book_c(void) {
    return CT_F32(CT_DIMS(3, 3), -1, 1, -1, 2, 2, -2, 3, -3, 3);
}

/* The values of t as doubles, for comparisons built from other tensors. */
static void read_f64(const ct_tensor *t, double *dst, int64_t n) {
    CT_OK(t);
    cr_assert_eq(ct_tensor_size(t), n, "size %lld, expected %lld", (long long)ct_tensor_size(t),
                 (long long)n);
    CT_STATUS_OK(ct_tensor_read(t, CT_FLOAT64, dst, n));
}

/* Asserts that a and b have the same dtype, shape and values. */
static void expect_same(const ct_tensor *a, const ct_tensor *b) {
    CT_OK(a);
    CT_OK(b);
    int64_t n = ct_tensor_size(b);
    double v[512];
    cr_assert(n <= 512);
    read_f64(b, v, n);
    ct_expect(a, ct_tensor_dtype(b), ct_tensor_rank(b), ct_tensor_shape(b), v, 0);
}

/* Asserts a float32 tensor's shape and that every element is exactly the
 * float32 nearest to the given value (TF prints float32 with 9 significant
 * digits, which identifies it). */
static void expect_f32_exact(const ct_tensor *t, int rank, const int64_t *shape,
                             const double *values) {
    ct_expect_shape(t, rank, shape);
    cr_assert_eq(ct_tensor_dtype(t), CT_FLOAT32, "dtype %s", ct_dtype_name(ct_tensor_dtype(t)));
    float got[64];
    int64_t n = ct_tensor_size(t);
    cr_assert(n <= 64);
    CT_STATUS_OK(ct_tensor_read(t, CT_FLOAT32, got, n));
    for (int64_t i = 0; i < n; i++)
        cr_expect_eq(got[i], (float)values[i], "element %lld is %.9g, TF gives %.9g", (long long)i,
                     got[i], (float)values[i]);
}
#define EXPECT_F32_EXACT(t, shape_rank_and_dims, ...)                                             \
    expect_f32_exact((t), shape_rank_and_dims, (const double[]){__VA_ARGS__})

/* ==== 4-1 一, creating tensors ================================================= */

Test(seed, create_constant_range_linspace) {
    /* a = tf.constant([1,2,3], dtype=tf.float32) -> [1 2 3] */
    CT_EXPECT(CT_F32(CT_DIMS(3), 1, 2, 3), CT_FLOAT32, CT_DIMS(3), 0, 1, 2, 3);
    /* b = tf.range(1, 10, delta=2) -> [1 3 5 7 9] (int32) */
    CT_EXPECT(ct_range(1, 10, 2, CT_INT32), CT_INT32, CT_DIMS(5), 0, 1, 3, 5, 7, 9);
    /* c = tf.linspace(0.0, 2*3.14, 100)
     * -> [0 0.0634343475 0.126868695 ... 6.15313148 6.21656609 6.28] */
    ct_tensor *c = ct_linspace(0.0, 2 * 3.14, 100, CT_FLOAT32);
    ct_expect_shape(c, CT_DIMS(100));
    cr_expect_eq(ct_tensor_dtype(c), CT_FLOAT32);
    EXPECT_F32_EXACT(ct_getitem(c, ":3"), CT_DIMS(3), 0, 0.0634343475, 0.126868695);
    EXPECT_F32_EXACT(ct_getitem(c, "-3:"), CT_DIMS(3), 6.15313148, 6.21656609, 6.28);
}

Test(seed, create_zeros_ones_fill_eye_diag) {
    /* d = tf.zeros([3,3]) */
    CT_EXPECT(ct_zeros(CT_FLOAT32, CT_DIMS(3, 3)), CT_FLOAT32, CT_DIMS(3, 3), 0, 0, 0, 0, 0, 0, 0, 0,
              0, 0);
    /* a = tf.ones([3,3]); b = tf.zeros_like(a, dtype=tf.float32) */
    ct_tensor *a = ct_ones(CT_FLOAT32, CT_DIMS(3, 3));
    CT_EXPECT(a, CT_FLOAT32, CT_DIMS(3, 3), 0, 1, 1, 1, 1, 1, 1, 1, 1, 1);
    CT_EXPECT(ct_zeros_like(a), CT_FLOAT32, CT_DIMS(3, 3), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    /* b = tf.fill([3,2], 5): a Python int gives int32 */
    CT_EXPECT(ct_fill(CT_INT32, CT_DIMS(3, 2), 5), CT_INT32, CT_DIMS(3, 2), 0, 5, 5, 5, 5, 5, 5);
    /* I = tf.eye(3,3) */
    CT_EXPECT(ct_eye(3, 3, CT_FLOAT32), CT_FLOAT32, CT_DIMS(3, 3), 0, 1, 0, 0, 0, 1, 0, 0, 0, 1);
    /* t = tf.linalg.diag([1,2,3]): ctrain has no diag op; eye * row vector. */
    ct_tensor *d = ct_multiply(ct_eye(3, 3, CT_INT32), CT_I32(CT_DIMS(3), 1, 2, 3));
    CT_EXPECT(d, CT_INT32, CT_DIMS(3, 3), 0, 1, 0, 0, 0, 2, 0, 0, 0, 3);
}

/* TF's eager mode picks an operation seed for a random op without one as
 * Python's random.Random(global_seed).randint(0, 2**31 - 1), drawn again
 * for each op (context._internal_operation_seed). After set_seed(1) these
 * are 577090037, 271041745, 1095513148; after set_seed(3) 1022050301,
 * 560161641, 1588945316. Given those seeds explicitly, ctrain's kernels
 * give the book's numbers exactly. */
Test(seed, rng_book_draws_explicit) {
    ct_set_random_seed(1);
    /* a = tf.random.uniform([5], minval=0, maxval=10) */
    ct_tensor *a = ct_random_uniform(CT_DIMS(5), &(ct_random_opts){.maxval = 10, .seed = 577090037});
    EXPECT_F32_EXACT(a, CT_DIMS(5), 1.65130854, 9.01481247, 6.30974197, 4.34546089,
              2.9193902);
    /* b = tf.random.normal([3,3], mean=0.0, stddev=1.0) */
    ct_tensor *b = ct_random_normal(CT_DIMS(3, 3), &(ct_random_opts){.stddev = 1, .seed = 271041745});
    EXPECT_F32_EXACT(b, CT_DIMS(3, 3), 0.403087884, -1.0880208, -0.0630953535,
              1.33655667, 0.711760104, -0.489286453, -0.764221311, -1.03724861, -1.25193381);
    /* c = tf.random.truncated_normal((5,5), mean=0.0, stddev=1.0) */
    ct_tensor *c = ct_truncated_normal(CT_DIMS(5, 5), &(ct_random_opts){.seed = 1095513148});
    EXPECT_F32_EXACT(c, CT_DIMS(5, 5), -0.457012236, -0.406867266, 0.728577733,
              -0.892977774, -0.369404584, 0.323488563, 1.19383323, 0.888299048, 1.25985599,
              -1.95951891, -0.202244401, 0.294496894, -0.468728036, 1.29494202, 1.48142183,
              0.0810953453, 1.63843894, 0.556645, 0.977199793, -1.17777884, 1.67368948,
              0.0647980496, -0.705142677, -0.281972528, 0.126546144);

    ct_set_random_seed(3);
    ct_random_opts o = {.dtype = CT_INT32, .maxval = 10, .seed = 1022050301};
    expect_same(ct_random_uniform(CT_DIMS(5, 5), &o), book_t());
    o.seed = 560161641;
    expect_same(ct_random_uniform(CT_DIMS(3, 3, 3), &o), book_a333());
    o.maxval = 100;
    o.seed = 1588945316;
    expect_same(ct_random_uniform(CT_DIMS(4, 10, 7), &o), book_scores());
}

/* DISABLED: TF mismatch in the op-seed rule. The book runs eagerly:
 *     tf.random.set_seed(1.0); tf.random.uniform([5], minval=0, maxval=10)
 *     -> [1.65130854 9.01481247 6.30974197 4.34546089 2.9193902]
 * Eager TF gives an op without a seed seed2 = random.Random(seed).randint(0,
 * 2**31 - 1) (context._internal_operation_seed): 577090037 here, and so
 * does ctrain's ct__random_seeds. */
Test(seed, rng_book_draws_global_seed_only) {
    ct_set_random_seed(1);
    ct_tensor *a = ct_random_uniform(CT_DIMS(5), &(ct_random_opts){.maxval = 10});
    EXPECT_F32_EXACT(a, CT_DIMS(5), 1.65130854, 9.01481247, 6.30974197, 4.34546089,
              2.9193902);
    ct_tensor *b = ct_random_normal(CT_DIMS(3, 3), NULL);
    EXPECT_F32_EXACT(b, CT_DIMS(3, 3), 0.403087884, -1.0880208, -0.0630953535,
              1.33655667, 0.711760104, -0.489286453, -0.764221311, -1.03724861, -1.25193381);
    ct_set_random_seed(3);
    ct_random_opts o = {.dtype = CT_INT32, .maxval = 10};
    expect_same(ct_random_uniform(CT_DIMS(5, 5), &o), book_t());
}

/* ==== 4-1 二, indexing and slicing =============================================== */

Test(seed, index_rows_and_elements) {
    ct_tensor *t = book_t();
    /* t[0] -> [4 7 4 2 9] */
    CT_EXPECT(ct_getitem(t, "0"), CT_INT32, CT_DIMS(5), 0, 4, 7, 4, 2, 9);
    /* t[-1] -> [3 7 0 0 3] */
    CT_EXPECT(ct_getitem(t, "-1"), CT_INT32, CT_DIMS(5), 0, 3, 7, 0, 0, 3);
    /* t[1,3] and t[1][3] -> 4 */
    CT_EXPECT(ct_getitem(t, "1,3"), CT_INT32, CT_SCALAR, 0, 4);
    CT_EXPECT(ct_getitem(ct_getitem(t, "1"), "3"), CT_INT32, CT_SCALAR, 0, 4);
    /* The same through ct_strided_slice's items. */
    ct_index ix[2] = {{.kind = CT_IX_INDEX, .start = 1}, {.kind = CT_IX_INDEX, .start = 3}};
    CT_EXPECT(ct_strided_slice(t, 2, ix), CT_INT32, CT_SCALAR, 0, 4);
}

Test(seed, slice_rows_and_steps) {
    ct_tensor *t = book_t();
    /* t[1:4,:] and tf.slice(t, [1,0], [3,5]) */
    ct_tensor *rows = ct_getitem(t, "1:4,:");
    CT_EXPECT(rows, CT_INT32, CT_DIMS(3, 5), 0, 9, 1, 2, 4, 7, 7, 2, 7, 4, 0, 9, 6, 9, 7, 2);
    expect_same(ct_slice(t, (const int64_t[]){1, 0}, (const int64_t[]){3, 5}), rows);
    /* t[1:4,:4:2] -> [[9 2] [7 7] [9 9]] */
    CT_EXPECT(ct_getitem(t, "1:4,:4:2"), CT_INT32, CT_DIMS(3, 2), 0, 9, 2, 7, 7, 9, 9);
}

/* x = tf.Variable([[1,2],[3,4]], dtype=tf.float32); x[1,:].assign([0.0,0.0])
 * ctrain has no sliced assign: scatter into the value, then assign. */
Test(seed, variable_slice_assign) {
    ct_variable *x = ct_variable_new(CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4), NULL);
    cr_assert_not_null(x, "%s", ct_last_error());
    ct_tensor *v = ct_tensor_scatter_nd_update(ct_variable_read(x), CT_I32(CT_DIMS(1, 1), 1),
                                               CT_F32(CT_DIMS(1, 2), 0.0, 0.0));
    CT_OK(v);
    CT_STATUS_OK(ct_variable_assign(x, v));
    CT_EXPECT(ct_variable_read(x), CT_FLOAT32, CT_DIMS(2, 2), 0, 1, 2, 0, 0);
    ct_variable_free(x);
}

Test(seed, ellipsis) {
    /* a[...,1] -> [[3 0 6] [3 8 1] [0 2 9]] */
    CT_EXPECT(ct_getitem(book_a333(), "...,1"), CT_INT32, CT_DIMS(3, 3), 0, 3, 0, 6, 3, 8, 1, 0, 2,
              9);
    ct_index ix[2] = {{.kind = CT_IX_ELLIPSIS}, {.kind = CT_IX_INDEX, .start = 1}};
    CT_EXPECT(ct_strided_slice(book_a333(), 2, ix), CT_INT32, CT_DIMS(3, 3), 0, 3, 0, 6, 3, 8, 1, 0,
              2, 9);
}

/* p = tf.gather(scores, [0,5,9], axis=1): students 0, 5, 9 of every class. */
Test(seed, scores_gather) {
    ct_tensor *scores = book_scores();
    ct_tensor *p = ct_gather(scores, CT_I32(CT_DIMS(3), 0, 5, 9), 1, 0);
    CT_EXPECT(p, CT_INT32, CT_DIMS(4, 3, 7), 0,
              52, 82, 66, 55, 17, 86, 14, 24, 80, 70, 46, 72, 63, 96, 24, 99, 38, 58, 97, 44, 74,
              79, 73, 73, 48, 35, 3, 81, 46, 10, 94, 38, 23, 18, 92, 0, 21, 89, 86, 53, 10, 90,
              52, 80, 22, 57, 29, 25, 60, 19, 12, 23, 34, 87, 86, 25, 61, 78, 70, 71, 7, 59, 21,
              56, 57, 45, 75, 23, 15, 3, 6, 41, 79, 47, 97, 43, 13, 71, 27, 44, 96, 0, 52, 16);
    /* q = tf.gather(tf.gather(scores,[0,5,9],axis=1),[1,3,6],axis=2) */
    ct_tensor *q = ct_gather(p, CT_I32(CT_DIMS(3), 1, 3, 6), 2, 0);
    CT_EXPECT(q, CT_INT32, CT_DIMS(4, 3, 3), 0, 82, 55, 14, 80, 46, 96, 99, 58, 74, /**/ 73, 48,
              81, 10, 38, 92, 21, 86, 90, /**/ 80, 57, 60, 12, 34, 25, 78, 71, 21, /**/ 57, 75,
              3, 41, 47, 13, 27, 96, 16);
    /* The same through int64 indices and a negative axis. */
    expect_same(ct_gather(scores, CT_I64(CT_DIMS(3), 0, 5, 9), -2, 0), p);
}

/* s = tf.gather_nd(scores, indices=[(0,0),(2,4),(3,6)]) */
Test(seed, scores_gather_nd) {
    ct_tensor *s = ct_gather_nd(book_scores(), CT_I32(CT_DIMS(3, 2), 0, 0, 2, 4, 3, 6), 0);
    CT_EXPECT(s, CT_INT32, CT_DIMS(3, 7), 0, 52, 82, 66, 55, 17, 86, 14, 99, 94, 46, 70, 1, 63, 41,
              46, 83, 70, 80, 90, 85, 17);
}

/* The same selections with tf.boolean_mask. */
Test(seed, scores_boolean_mask) {
    ct_tensor *scores = book_scores();
    ct_tensor *p = ct_boolean_mask(
        scores, CT_BOOLS(CT_DIMS(10), true, false, false, false, false, true, false, false, false, true),
        1);
    expect_same(p, ct_gather(scores, CT_I32(CT_DIMS(3), 0, 5, 9), 1, 0));
    bool m[4 * 10] = {false};
    m[0 * 10 + 0] = m[2 * 10 + 4] = m[3 * 10 + 6] = true;
    ct_tensor *s = ct_boolean_mask(scores, ct_constant(m, CT_BOOL, CT_DIMS(4, 10)), 0);
    CT_EXPECT(s, CT_INT32, CT_DIMS(3, 7), 0, 52, 82, 66, 55, 17, 86, 14, 99, 94, 46, 70, 1, 63, 41,
              46, 83, 70, 80, 90, 85, 17);
}

/* tf.boolean_mask(c, c<0) and c[c<0] -> [-1 -1 -2 -3] */
Test(seed, boolean_mask_negative_elements) {
    ct_tensor *c = book_c();
    ct_tensor *neg = ct_boolean_mask(c, ct_less(c, ct_scalar(0)), 0);
    CT_EXPECT(neg, CT_FLOAT32, CT_DIMS(4), 0, -1, -1, -2, -3);
}

/* d = tf.where(c<0, tf.fill(c.shape, np.nan), c) */
Test(seed, where_select) {
    ct_tensor *c = book_c();
    ct_tensor *d = ct_where(ct_less(c, ct_scalar(0)),
                            ct_fill(CT_FLOAT32, ct_tensor_rank(c), ct_tensor_shape(c), NAN), c);
    CT_EXPECT(d, CT_FLOAT32, CT_DIMS(3, 3), 0, NAN, 1, NAN, 2, 2, NAN, 3, NAN, 3);
    /* ct_fill_like is the shorter spelling. */
    expect_same(ct_where(ct_less(c, ct_scalar(0)), ct_fill_like(c, NAN), c), d);
}

/* indices = tf.where(c<0) -> int64 [[0 0] [0 2] [1 2] [2 1]] */
Test(seed, where_coordinates) {
    ct_tensor *indices = ct_where_coords(ct_less(book_c(), ct_scalar(0)));
    CT_EXPECT(indices, CT_INT64, CT_DIMS(4, 2), 0, 0, 0, 0, 2, 1, 2, 2, 1);
}

/* d = c - tf.scatter_nd([[0,0],[2,1]], [c[0,0], c[2,1]], c.shape) */
Test(seed, scatter_nd_zero_two_elements) {
    ct_tensor *c = book_c();
    ct_tensor *upd[2] = {ct_getitem(c, "0,0"), ct_getitem(c, "2,1")};
    ct_tensor *sc = ct_scatter_nd(CT_I32(CT_DIMS(2, 2), 0, 0, 2, 1), ct_stack(2, upd, 0),
                                  ct_tensor_rank(c), ct_tensor_shape(c));
    ct_tensor *d = ct_subtract(c, sc);
    CT_EXPECT(d, CT_FLOAT32, CT_DIMS(3, 3), 0, 0, 1, -1, 2, 2, -2, 3, 0, 3);
}

/* indices = tf.where(c<0); tf.scatter_nd(indices, tf.gather_nd(c,indices), c.shape) */
Test(seed, scatter_nd_of_gather_nd) {
    ct_tensor *c = book_c();
    ct_tensor *indices = ct_where_coords(ct_less(c, ct_scalar(0)));
    ct_tensor *r = ct_scatter_nd(indices, ct_gather_nd(c, indices, 0), ct_tensor_rank(c),
                                 ct_tensor_shape(c));
    CT_EXPECT(r, CT_FLOAT32, CT_DIMS(3, 3), 0, -1, 0, -1, 0, 0, -2, 0, -3, 0);
}

/* ==== 4-1 三, changing dimensions ================================================ */

Test(seed, reshape_squeeze_expand_dims) {
    /* a = tf.random.uniform(shape=[1,3,3,2], minval=0, maxval=255, dtype=tf.int32) */
    ct_tensor *a = CT_I32(CT_DIMS(1, 3, 3, 2), 135, 178, 26, 116, 29, 224, 179, 219, 153, 209, 111,
                          215, 39, 7, 138, 129, 59, 205);
    /* b = tf.reshape(a, [3,6]) */
    ct_tensor *b = ct_reshape(a, CT_DIMS(3, 6));
    CT_EXPECT(b, CT_INT32, CT_DIMS(3, 6), 0, 135, 178, 26, 116, 29, 224, 179, 219, 153, 209, 111,
              215, 39, 7, 138, 129, 59, 205);
    /* c = tf.reshape(b, [1,3,3,2]) gives a back */
    expect_same(ct_reshape(b, CT_DIMS(1, 3, 3, 2)), a);
    expect_same(ct_reshape(b, CT_DIMS(1, -1, 3, 2)), a);
    /* s = tf.squeeze(a) -> shape (3, 3, 2), same order */
    ct_tensor *s = ct_squeeze(a, CT_ALL);
    CT_EXPECT(s, CT_INT32, CT_DIMS(3, 3, 2), 0, 135, 178, 26, 116, 29, 224, 179, 219, 153, 209, 111,
              215, 39, 7, 138, 129, 59, 205);
    /* d = tf.expand_dims(s, axis=0) -> shape (1, 3, 3, 2) */
    expect_same(ct_expand_dims(s, 0), a);
}

/* s = tf.transpose(a, perm=[3,1,2,0]) on a [batch, height, width, channel]
 * tensor. The book uses [100,600,600,4] (a 576 MB int32 tensor) and prints
 * only the shapes; the same permutation on [10,6,5,4] also checks values. */
Test(seed, transpose_nhwc_to_chwn) {
    enum { B = 10, H = 6, W = 5, C = 4 };
    ct_tensor *a = ct_reshape(ct_range(0, B * H * W * C, 1, CT_INT32), CT_DIMS(B, H, W, C));
    ct_tensor *s = ct_transpose(a, (const int[]){3, 1, 2, 0});
    ct_expect_shape(s, CT_DIMS(C, H, W, B));
    static int32_t got[B * H * W * C];
    CT_STATUS_OK(ct_tensor_read(s, CT_INT32, got, B * H * W * C));
    for (int c = 0; c < C; c++)
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++)
                for (int b = 0; b < B; b++)
                    cr_assert_eq(got[((c * H + h) * W + w) * B + b], ((b * H + h) * W + w) * C + c);
}

/* ==== 4-1 四, concat, stack, split =============================================== */

Test(seed, concat_and_stack) {
    ct_tensor *abc[3] = {CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4), CT_F32(CT_DIMS(2, 2), 5, 6, 7, 8),
                         CT_F32(CT_DIMS(2, 2), 9, 10, 11, 12)};
    CT_EXPECT(ct_concat(3, abc, 0), CT_FLOAT32, CT_DIMS(6, 2), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
              11, 12);
    CT_EXPECT(ct_concat(3, abc, 1), CT_FLOAT32, CT_DIMS(2, 6), 0, 1, 2, 5, 6, 9, 10, 3, 4, 7, 8, 11,
              12);
    CT_EXPECT(ct_stack(3, abc, 0), CT_FLOAT32, CT_DIMS(3, 2, 2), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
              11, 12);
    CT_EXPECT(ct_stack(3, abc, 1), CT_FLOAT32, CT_DIMS(2, 3, 2), 0, 1, 2, 5, 6, 9, 10, 3, 4, 7, 8,
              11, 12);
}

Test(seed, split_equal_and_sizes) {
    ct_tensor *abc[3] = {CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4), CT_F32(CT_DIMS(2, 2), 5, 6, 7, 8),
                         CT_F32(CT_DIMS(2, 2), 9, 10, 11, 12)};
    ct_tensor *c = ct_concat(3, abc, 0);
    ct_tensor *parts[3];
    /* tf.split(c, 3, axis=0) */
    CT_STATUS_OK(ct_split(c, 3, 0, parts));
    for (int i = 0; i < 3; i++) expect_same(parts[i], abc[i]);
    /* tf.split(c, [2,2,2], axis=0) */
    CT_STATUS_OK(ct_split_sizes(c, 3, (const int64_t[]){2, 2, 2}, 0, parts));
    for (int i = 0; i < 3; i++) expect_same(parts[i], abc[i]);
}

/* ==== 4-2 一, scalar (elementwise) operations ===================================== */

Test(seed, elementwise_arithmetic) {
    ct_tensor *a = CT_F32(CT_DIMS(2, 2), 1, 2, -3, 4), *b = CT_F32(CT_DIMS(2, 2), 5, 6, 7, 8);
    CT_EXPECT(ct_add(a, b), CT_FLOAT32, CT_DIMS(2, 2), 0, 6, 8, 4, 12);
    CT_EXPECT(ct_subtract(a, b), CT_FLOAT32, CT_DIMS(2, 2), 0, -4, -4, -10, -4);
    CT_EXPECT(ct_multiply(a, b), CT_FLOAT32, CT_DIMS(2, 2), 0, 5, 12, -21, 32);
    CT_EXPECT(ct_divide(a, b), CT_FLOAT32, CT_DIMS(2, 2), 0, 0.2f, 0.33333334f, -0.42857143f, 0.5);
    /* a**2 and a**0.5 (nan for -3) */
    CT_EXPECT(ct_pow(a, ct_scalar(2)), CT_FLOAT32, CT_DIMS(2, 2), 0, 1, 4, 9, 16);
    CT_EXPECT(ct_pow(a, ct_scalar(0.5)), CT_FLOAT32, CT_DIMS(2, 2), 1e-7, 1, 1.4142135, NAN, 2);
    /* a//3 -> [[0 0] [-1 1]] */
    CT_EXPECT(ct_floordiv(a, ct_scalar(3)), CT_FLOAT32, CT_DIMS(2, 2), 0, 0, 0, -1, 1);
    /* tf.sqrt(a) */
    CT_EXPECT(ct_sqrt(a), CT_FLOAT32, CT_DIMS(2, 2), 1e-7, 1, 1.4142135, NAN, 2);
}

/* The book's a%3 and a==5 cells print the results for a = tf.constant([1,2,3]). */
Test(seed, elementwise_int_mod_and_equal) {
    ct_tensor *a = CT_I32(CT_DIMS(3), 1, 2, 3);
    CT_EXPECT(ct_floormod(a, ct_scalar_of(CT_INT32, 3)), CT_INT32, CT_DIMS(3), 0, 1, 2, 0);
    CT_EXPECT(ct_equal(a, ct_scalar_of(CT_INT32, 5)), CT_BOOL, CT_DIMS(3), 0, 0, 0, 0);
}

Test(seed, elementwise_comparisons_and_logic) {
    ct_tensor *a = CT_F32(CT_DIMS(2, 2), 1, 2, -3, 4);
    ct_tensor *ge2 = ct_greater_equal(a, ct_scalar(2)), *le3 = ct_less_equal(a, ct_scalar(3));
    CT_EXPECT(ge2, CT_BOOL, CT_DIMS(2, 2), 0, 0, 1, 0, 1);
    CT_EXPECT(ct_logical_and(ge2, le3), CT_BOOL, CT_DIMS(2, 2), 0, 0, 1, 0, 0);
    CT_EXPECT(ct_logical_or(ge2, le3), CT_BOOL, CT_DIMS(2, 2), 0, 1, 1, 1, 1);
}

Test(seed, add_n_maximum_minimum) {
    ct_tensor *a = CT_F32(CT_DIMS(2), 1, 8), *b = CT_F32(CT_DIMS(2), 5, 6),
              *c = CT_F32(CT_DIMS(2), 6, 7);
    /* tf.add_n([a,b,c]): ctrain has no add_n; a chain of adds. */
    CT_EXPECT(ct_add(ct_add(a, b), c), CT_FLOAT32, CT_DIMS(2), 0, 12, 21);
    CT_EXPECT(ct_maximum(a, b), CT_FLOAT32, CT_DIMS(2), 0, 5, 8);
    CT_EXPECT(ct_minimum(a, b), CT_FLOAT32, CT_DIMS(2), 0, 1, 6);
}

Test(seed, round_floor_ceil) {
    ct_tensor *x = CT_F32(CT_DIMS(2), 2.6f, -2.7f);
    CT_EXPECT(ct_round(x), CT_FLOAT32, CT_DIMS(2), 0, 3, -3);
    CT_EXPECT(ct_floor(x), CT_FLOAT32, CT_DIMS(2), 0, 2, -3);
    CT_EXPECT(ct_ceil(x), CT_FLOAT32, CT_DIMS(2), 0, 3, -2);
}

/* tf.clip_by_norm(x, clip_norm) as TF writes it (clip_ops.py): l2 norm
 * over all axes, x * clip_norm / maximum(l2norm, clip_norm). ctrain has no
 * clip_by_norm. */
static ct_tensor *clip_by_norm(ct_tensor *x, double clip_norm) {
    ct_tensor *l2sum = ct_reduce_sum(ct_square(x), CT_ALL, true);
    ct_tensor *pred = ct_greater(l2sum, ct_scalar(0));
    ct_tensor *safe = ct_where(pred, l2sum, ct_ones_like(l2sum));
    ct_tensor *l2norm = ct_where(pred, ct_sqrt(safe), l2sum);
    ct_tensor *cn = ct_scalar_of(ct_tensor_dtype(x), clip_norm);
    return ct_divide(ct_multiply(x, cn), ct_maximum(l2norm, cn));
}

Test(seed, clip_by_value_and_norm) {
    ct_tensor *x = CT_F32(CT_DIMS(5), 0.9f, -0.8f, 100.0f, -20.0f, 0.7f);
    CT_EXPECT(ct_clip_by_value(x, -1, 1), CT_FLOAT32, CT_DIMS(5), 0, 0.9f, -0.8f, 1, -1, 0.7f);
    CT_EXPECT(clip_by_norm(x, 3), CT_FLOAT32, CT_DIMS(5), 1e-7, 0.0264732055, -0.0235317405,
              2.94146752, -0.588293493, 0.0205902718);
}

/* ==== 4-2 二, vector operations (reductions, scans, top_k) ======================== */

Test(seed, reduce_full) {
    ct_tensor *a = ct_range(1, 10, 1, CT_INT32);
    CT_EXPECT(ct_reduce_sum(a, CT_ALL, false), CT_INT32, CT_SCALAR, 0, 45);
    CT_EXPECT(ct_reduce_mean(a, CT_ALL, false), CT_INT32, CT_SCALAR, 0, 5);
    CT_EXPECT(ct_reduce_max(a, CT_ALL, false), CT_INT32, CT_SCALAR, 0, 9);
    CT_EXPECT(ct_reduce_min(a, CT_ALL, false), CT_INT32, CT_SCALAR, 0, 1);
    CT_EXPECT(ct_reduce_prod(a, CT_ALL, false), CT_INT32, CT_SCALAR, 0, 362880);
    /* s = tf.foldr(lambda a,b: a+b, tf.range(10)) -> 45 */
    CT_EXPECT(ct_reduce_sum(ct_range(0, 10, 1, CT_INT32), CT_ALL, false), CT_INT32, CT_SCALAR, 0,
              45);
}

Test(seed, reduce_axis_keepdims) {
    ct_tensor *b = ct_reshape(ct_range(1, 10, 1, CT_INT32), CT_DIMS(3, 3));
    CT_EXPECT(ct_reduce_sum(b, CT_AXES(1), true), CT_INT32, CT_DIMS(3, 1), 0, 6, 15, 24);
    CT_EXPECT(ct_reduce_sum(b, CT_AXES(0), true), CT_INT32, CT_DIMS(1, 3), 0, 12, 15, 18);
}

Test(seed, reduce_bool) {
    ct_tensor *p = CT_BOOLS(CT_DIMS(3), true, false, false);
    ct_tensor *q = CT_BOOLS(CT_DIMS(3), false, false, true);
    CT_EXPECT(ct_reduce_all(p, CT_ALL, false), CT_BOOL, CT_SCALAR, 0, 0);
    CT_EXPECT(ct_reduce_any(q, CT_ALL, false), CT_BOOL, CT_SCALAR, 0, 1);
}

Test(seed, cumsum_cumprod_argmax_argmin) {
    ct_tensor *a = ct_range(1, 10, 1, CT_INT32);
    CT_EXPECT(ct_cumsum(a, 0, false, false), CT_INT32, CT_DIMS(9), 0, 1, 3, 6, 10, 15, 21, 28, 36,
              45);
    CT_EXPECT(ct_cumprod(a, 0, false, false), CT_INT32, CT_DIMS(9), 0, 1, 2, 6, 24, 120, 720, 5040,
              40320, 362880);
    CT_EXPECT(ct_argmax(a, 0), CT_INT64, CT_SCALAR, 0, 8);
    CT_EXPECT(ct_argmin(a, 0), CT_INT64, CT_SCALAR, 0, 0);
}

/* values, indices = tf.math.top_k(a, 3, sorted=True) -> [8 7 5], [5 2 3];
 * "top_k can be used to sort": tf.sort / tf.argsort give the full order. */
Test(seed, top_k_and_sort) {
    ct_tensor *a = CT_I32(CT_DIMS(6), 1, 3, 7, 5, 4, 8);
    ct_tensor *values, *indices;
    CT_STATUS_OK(ct_top_k(a, 3, true, &values, &indices));
    CT_EXPECT(values, CT_INT32, CT_DIMS(3), 0, 8, 7, 5);
    CT_EXPECT(indices, CT_INT32, CT_DIMS(3), 0, 5, 2, 3);
    CT_EXPECT(ct_sort(a, -1, true), CT_INT32, CT_DIMS(6), 0, 8, 7, 5, 4, 3, 1);
    CT_EXPECT(ct_sort(a, -1, false), CT_INT32, CT_DIMS(6), 0, 1, 3, 4, 5, 7, 8);
    CT_EXPECT(ct_argsort(a, -1, true), CT_INT32, CT_DIMS(6), 0, 5, 2, 3, 4, 1, 0);
}

/* ==== 4-2 三, matrix operations ================================================== */

Test(seed, matmul_and_transpose_int32) {
    ct_tensor *a = CT_I32(CT_DIMS(2, 2), 1, 2, 3, 4), *b = CT_I32(CT_DIMS(2, 2), 2, 0, 0, 2);
    CT_EXPECT(ct_matmul(a, b), CT_INT32, CT_DIMS(2, 2), 0, 2, 4, 6, 8);
    CT_EXPECT(ct_transpose(a, NULL), CT_INT32, CT_DIMS(2, 2), 0, 1, 3, 2, 4);
    CT_EXPECT(ct_transpose(CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4), NULL), CT_FLOAT32, CT_DIMS(2, 2), 0,
              1, 3, 2, 4);
}

Test(seed, inverse_trace_norm_det) {
    ct_tensor *a = CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4);
    /* TF prints [[-2.0000002 1.0000001] [1.5000001 -0.50000006]] */
    CT_EXPECT(ct_matrix_inverse(a), CT_FLOAT32, CT_DIMS(2, 2), 1e-6, -2.0000002, 1.0000001,
              1.5000001, -0.50000006);
    /* "The matrix must be tf.float32 or tf.double" (the book's comment). */
    CT_FAILS(ct_matrix_inverse(CT_I32(CT_DIMS(2, 2), 1, 2, 3, 4)), "floating-point");
    CT_EXPECT(ct_trace(a), CT_FLOAT32, CT_SCALAR, 0, 5.0);
    CT_EXPECT(ct_norm(a, 0, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 1e-7, 5.477226);
    CT_EXPECT(ct_matrix_determinant(a), CT_FLOAT32, CT_SCALAR, 1e-6, -2.0);
}

/* tf.linalg.eigvals([[1,2],[-5,4]]) -> [2.4999995+2.7838817j, 2.5-2.783882j] */
Test(seed, eigvals_complex_pair) {
    ct_tensor *wr, *wi, *vr, *vi;
    CT_STATUS_OK(ct_eig(CT_F32(CT_DIMS(2, 2), 1, 2, -5, 4), &wr, &wi, &vr, &vi));
    CT_EXPECT(wr, CT_FLOAT32, CT_DIMS(2), 1e-6, 2.5, 2.5);
    CT_EXPECT(wi, CT_FLOAT32, CT_DIMS(2), 1e-6, 2.7838817, -2.783882);
}

/* tf.linalg.eigvalsh([[1,2],[3,4]]) -> [-0.8541021 5.854102]: TF reads only
 * the lower triangle, i.e. the symmetric matrix [[1,3],[3,4]]. */
Test(seed, eigvalsh_reads_lower_triangle) {
    ct_tensor *e, *v;
    CT_STATUS_OK(ct_eigh(CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4), &e, &v));
    CT_EXPECT(e, CT_FLOAT32, CT_DIMS(2), 1e-6, -0.8541021, 5.854102);
}

/* q, r = tf.linalg.qr([[1,2],[3,4]]) */
Test(seed, qr_decomposition) {
    ct_tensor *a = CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4), *q, *r;
    CT_STATUS_OK(ct_qr(a, false, &q, &r));
    CT_EXPECT(q, CT_FLOAT32, CT_DIMS(2, 2), 1e-6, -0.316227794, -0.948683321, -0.948683321,
              0.316227734);
    CT_EXPECT(r, CT_FLOAT32, CT_DIMS(2, 2), 1e-6, -3.1622777, -4.4271884, 0, -0.632455349);
    CT_EXPECT(ct_matmul(q, r), CT_FLOAT32, CT_DIMS(2, 2), 1e-6, 1, 2, 3, 4);
}

/* Asserts u and v against TF's (rows x k, cols x k, row-major) up to the
 * sign of each singular pair: column j of u and of v flip together. */
static void expect_svd_vectors(const ct_tensor *u, const ct_tensor *v, int rows, int cols, int k,
                               const double *eu, const double *ev, double tol) {
    double gu[64], gv[64];
    read_f64(u, gu, rows * k);
    read_f64(v, gv, cols * k);
    for (int j = 0; j < k; j++) {
        double sg = gu[j] * eu[j] < 0 ? -1 : 1;
        for (int i = 0; i < rows; i++)
            cr_expect(fabs(sg * gu[i * k + j] - eu[i * k + j]) <= tol, "u[%d,%d] = %.9g, TF %.9g",
                      i, j, gu[i * k + j], eu[i * k + j]);
        for (int i = 0; i < cols; i++)
            cr_expect(fabs(sg * gv[i * k + j] - ev[i * k + j]) <= tol, "v[%d,%d] = %.9g, TF %.9g",
                      i, j, gv[i * k + j], ev[i * k + j]);
    }
}

static const double svd32_u[] = {0.229847744, -0.88346082, 0.524744868, -0.240782902,
                                  0.819642067, 0.401896209};
static const double svd32_v[] = {0.619629562, 0.784894466, 0.784894466, -0.619629562};

/* s, u, v = tf.linalg.svd([[1,2],[3,4],[5,6]]);
 * u @ tf.linalg.diag(s) @ tf.transpose(v) gives a back. Singular vectors
 * are compared up to the sign of each pair (see svd_book_signs). */
Test(seed, svd_decomposition) {
    ct_tensor *a = CT_F32(CT_DIMS(3, 2), 1, 2, 3, 4, 5, 6), *s, *u, *v;
    CT_STATUS_OK(ct_svd(a, false, &s, &u, &v));
    CT_EXPECT(s, CT_FLOAT32, CT_DIMS(2), 1e-6, 9.52551842, 0.51429987);
    ct_expect_shape(u, CT_DIMS(3, 2));
    ct_expect_shape(v, CT_DIMS(2, 2));
    expect_svd_vectors(u, v, 3, 2, 2, svd32_u, svd32_v, 1e-6);
    /* diag(s) as eye * s (no ct diag op). */
    ct_tensor *us = ct_matmul(u, ct_multiply(ct_eye(2, 2, CT_FLOAT32), s));
    CT_EXPECT(ct_matmul_ex(us, v, false, true), CT_FLOAT32, CT_DIMS(3, 2), 1e-5, 1, 2, 3, 4, 5, 6);
    /* Only the singular values. */
    ct_tensor *s_only;
    CT_STATUS_OK(ct_svd(a, false, &s_only, NULL, NULL));
    expect_same(s_only, s);
}

/* DISABLED: sign convention differs from TF. TF's CPU kernel is Eigen's
 * BDCSVD (Jacobi SVD for matrices this small); ctrain's is LAPACK, whose
 * singular vectors can differ from TF's by the sign of a (u, v) column
 * pair. Both are valid SVDs and reconstruct the input, but the book's
 * printed vectors differ:
 *   svd([[1,2],[3,4],[5,6]]): TF u[:,0] = [0.2298 0.5247 0.8196],
 *     v[:,0] = [0.6196 0.7849]; ctrain gives both columns negated.
 *   English edition, v,s,d = svd([[1,2],[3,4]]); s @ diag(v) @ d (no
 *     transpose, which works only because TF's d is symmetric):
 *     TF [[1 2] [3 4]]; ctrain's d is [[-0.576 0.817] [-0.817 -0.576]],
 *     not symmetric, and the product is [[1.547 ...]]. */
Test(seed, svd_book_signs, .disabled = true) {
    ct_tensor *s, *u, *v;
    CT_STATUS_OK(ct_svd(CT_F32(CT_DIMS(3, 2), 1, 2, 3, 4, 5, 6), false, &s, &u, &v));
    ct_expect(u, CT_FLOAT32, CT_DIMS(3, 2), svd32_u, 1e-6);
    ct_expect(v, CT_FLOAT32, CT_DIMS(2, 2), svd32_v, 1e-6);
    CT_STATUS_OK(ct_svd(CT_F32(CT_DIMS(2, 2), 1, 2, 3, 4), false, &s, &u, &v));
    ct_tensor *r = ct_matmul(ct_multiply(u, s), v);
    CT_EXPECT(r, CT_FLOAT32, CT_DIMS(2, 2), 1e-5, 0.9999996, 1.9999996, 2.9999998, 4.0);
}

/* ==== 4-2 四, broadcasting ======================================================= */

Test(seed, broadcasting) {
    ct_tensor *a = CT_I32(CT_DIMS(3), 1, 2, 3);
    ct_tensor *b = CT_I32(CT_DIMS(3, 3), 0, 0, 0, 1, 1, 1, 2, 2, 2);
    CT_EXPECT(ct_add(b, a), CT_INT32, CT_DIMS(3, 3), 0, 1, 2, 3, 2, 3, 4, 3, 4, 5);
    ct_tensor *ab = ct_broadcast_to(a, ct_tensor_rank(b), ct_tensor_shape(b));
    CT_EXPECT(ab, CT_INT32, CT_DIMS(3, 3), 0, 1, 2, 3, 1, 2, 3, 1, 2, 3);
    expect_same(ct_add(b, ab), ct_add(b, a));
    /* tf.broadcast_static_shape / broadcast_dynamic_shape have no ctrain
     * counterpart; the result's shape shows the broadcast shape. */
    ct_tensor *c = CT_I32(CT_DIMS(3), 1, 2, 3), *d = CT_I32(CT_DIMS(3, 1), 1, 2, 3);
    ct_tensor *cd = ct_add(c, d);
    CT_EXPECT(cd, CT_INT32, CT_DIMS(3, 3), 0, 2, 3, 4, 3, 4, 5, 4, 5, 6);
    expect_same(ct_add(ct_broadcast_to(c, CT_DIMS(3, 3)), ct_broadcast_to(d, CT_DIMS(3, 3))), cd);
}

/* ==== 2-3, automatic differentiation ============================================== */

/* y = a*tf.pow(x,2) + b*x + c */
static ct_tensor *quadratic(ct_tensor *a, ct_tensor *b, ct_tensor *c, ct_tensor *x) {
    return ct_add(ct_add(ct_multiply(a, ct_pow(x, ct_scalar(2))), ct_multiply(b, x)), c);
}

/* x = tf.Variable(0.0); dy_dx = tape.gradient(y, x) -> -2.0 */
Test(seed, autodiff_first_derivative_of_variable) {
    ct_variable *xv = ct_variable_new(ct_scalar(0), &(ct_variable_opts){.name = "x"});
    cr_assert_not_null(xv, "%s", ct_last_error());
    ct_tensor *x = ct_variable_value(xv);
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tensor *y = quadratic(ct_scalar(1), ct_scalar(-2), ct_scalar(1), x);
    CT_STATUS_OK(ct_tape_end(tape));
    ct_tensor *dy_dx;
    CT_STATUS_OK(ct_tape_gradient(tape, y, 1, &x, &dy_dx, NULL));
    CT_EXPECT(dy_dx, CT_FLOAT32, CT_SCALAR, 0, -2.0);
    ct_tape_free(tape);
    ct_variable_free(xv);
}

/* tape.watch([a,b,c]); dy_dx, dy_da, dy_db, dy_dc = tape.gradient(y, [x,a,b,c])
 * -> dy_da 0.0, dy_dc 1.0 (and dy_dx -2, dy_db = x = 0). */
Test(seed, autodiff_watch_constants) {
    ct_variable *xv = ct_variable_new(ct_scalar(0), &(ct_variable_opts){.name = "x"});
    cr_assert_not_null(xv, "%s", ct_last_error());
    ct_tensor *src[4] = {ct_variable_value(xv), ct_scalar(1), ct_scalar(-2), ct_scalar(1)};
    ct_tape *tape = ct_tape_begin(NULL);
    for (int i = 1; i < 4; i++) CT_STATUS_OK(ct_tape_watch(tape, src[i]));
    ct_tensor *y = quadratic(src[1], src[2], src[3], src[0]);
    CT_STATUS_OK(ct_tape_end(tape));
    ct_tensor *g[4];
    CT_STATUS_OK(ct_tape_gradient(tape, y, 4, src, g, NULL));
    CT_EXPECT(g[0], CT_FLOAT32, CT_SCALAR, 0, -2.0);
    CT_EXPECT(g[1], CT_FLOAT32, CT_SCALAR, 0, 0.0);
    CT_EXPECT(g[2], CT_FLOAT32, CT_SCALAR, 0, 0.0);
    CT_EXPECT(g[3], CT_FLOAT32, CT_SCALAR, 0, 1.0);
    ct_tape_free(tape);
    ct_variable_free(xv);
}

/* The same with x a constant watched on both tapes. */
Test(seed, autodiff_second_derivative_watched_constant) {
    ct_tensor *x = ct_scalar(0);
    ct_tape *tape2 = ct_tape_begin(NULL);
    CT_STATUS_OK(ct_tape_watch(tape2, x));
    ct_tape *tape1 = ct_tape_begin(NULL);
    CT_STATUS_OK(ct_tape_watch(tape1, x));
    ct_tensor *y = quadratic(ct_scalar(1), ct_scalar(-2), ct_scalar(1), x);
    CT_STATUS_OK(ct_tape_end(tape1));
    ct_tensor *dy_dx, *dy2_dx2;
    CT_STATUS_OK(ct_tape_gradient(tape1, y, 1, &x, &dy_dx, NULL));
    CT_STATUS_OK(ct_tape_end(tape2));
    CT_STATUS_OK(ct_tape_gradient(tape2, dy_dx, 1, &x, &dy2_dx2, NULL));
    CT_EXPECT(dy_dx, CT_FLOAT32, CT_SCALAR, 0, -2.0);
    CT_EXPECT(dy2_dx2, CT_FLOAT32, CT_SCALAR, 0, 2.0);
    ct_tape_free(tape1);
    ct_tape_free(tape2);
}

/* Nested tapes on a variable (watched by both without tape.watch):
 * dy2_dx2 -> 2.0. (The tape's snapshot of a variable input keeps the
 * variable's id, so gradient ops on it stay tracked by the outer tape.) */
Test(seed, autodiff_second_derivative) {
    ct_variable *xv = ct_variable_new(ct_scalar(0), &(ct_variable_opts){.name = "x"});
    cr_assert_not_null(xv, "%s", ct_last_error());
    ct_tensor *x = ct_variable_value(xv);
    ct_tape *tape2 = ct_tape_begin(NULL);
    ct_tape *tape1 = ct_tape_begin(NULL);
    ct_tensor *y = quadratic(ct_scalar(1), ct_scalar(-2), ct_scalar(1), x);
    CT_STATUS_OK(ct_tape_end(tape1));
    ct_tensor *dy_dx, *dy2_dx2;
    CT_STATUS_OK(ct_tape_gradient(tape1, y, 1, &x, &dy_dx, NULL));
    CT_STATUS_OK(ct_tape_end(tape2));
    CT_STATUS_OK(ct_tape_gradient(tape2, dy_dx, 1, &x, &dy2_dx2, NULL));
    CT_EXPECT(dy_dx, CT_FLOAT32, CT_SCALAR, 0, -2.0);
    CT_EXPECT(dy2_dx2, CT_FLOAT32, CT_SCALAR, 0, 2.0);
    ct_tape_free(tape1);
    ct_tape_free(tape2);
    ct_variable_free(xv);
}

/* The @tf.function f(x): x = tf.cast(x, tf.float32); tape.watch(x);
 * returns (dy_dx, y): f(0.0) -> (-2, 1), f(1.0) -> (0, 0). */
static void f_of(double x0, double *dy_dx, double *y) {
    ct_scope_begin();
    ct_tensor *x = ct_cast(ct_scalar_of(CT_FLOAT64, x0), CT_FLOAT32);
    ct_tape *tape = ct_tape_begin(NULL);
    CT_STATUS_OK(ct_tape_watch(tape, x));
    ct_tensor *yt = quadratic(ct_scalar(1), ct_scalar(-2), ct_scalar(1), x);
    CT_STATUS_OK(ct_tape_end(tape));
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(tape, yt, 1, &x, &g, NULL));
    *dy_dx = ct_item(g);
    *y = ct_item(yt);
    ct_tape_free(tape);
    ct_scope_end();
}

Test(seed, autodiff_watched_function) {
    double g, y;
    f_of(0.0, &g, &y);
    cr_expect_eq(g, -2.0);
    cr_expect_eq(y, 1.0);
    f_of(1.0, &g, &y);
    cr_expect_eq(g, 0.0);
    cr_expect_eq(y, 0.0);
}

/* The minimum of a*x^2 + b*x + c by 1000 steps of SGD(learning_rate=0.01),
 * the optimizer replaced by its update x -= 0.01 * dy_dx:
 * "y = 0 ; x = 0.999998569". */
Test(seed, autodiff_minimize_by_gradient_steps) {
    ct_variable *xv = ct_variable_new(ct_scalar(0), &(ct_variable_opts){.name = "x"});
    cr_assert_not_null(xv, "%s", ct_last_error());
    ct_tensor *a = ct_scalar(1), *b = ct_scalar(-2), *c = ct_scalar(1), *lr = ct_scalar(0.01);
    double y = NAN;
    for (int i = 0; i < 1000; i++) {
        ct_scope_begin();
        ct_tensor *x = ct_variable_value(xv);
        ct_tape *tape = ct_tape_begin(NULL);
        ct_tensor *yt = quadratic(a, b, c, x);
        CT_STATUS_OK(ct_tape_end(tape));
        ct_tensor *g;
        CT_STATUS_OK(ct_tape_gradient(tape, yt, 1, &x, &g, NULL));
        ct_tape_free(tape);
        CT_STATUS_OK(ct_variable_assign_sub(xv, ct_multiply(lr, g)));
        y = ct_item(yt);
        ct_scope_end();
    }
    double x = ct_item(ct_variable_value(xv));
    cr_expect_eq((float)x, 0.999998569f, "x = %.9g, TF gives 0.999998569", x);
    cr_expect(fabs(y) <= 1e-6, "y = %g, TF prints 0", y);
    ct_variable_free(xv);
}

/* ==== 3-1, the low-level linear regression ======================================= */

/* Y = X @ [[2],[-3]] + 3 + noise(stddev 2) on 400 samples, fitted by
 * mini-batch gradient descent (batch 10, lr 0.001, 200 epochs) with
 * loss = reduce_mean((y_true - y_pred)**2 / 2), the update done by
 * w.assign(w - 0.001*dloss_dw). The book's data and shuffling are random;
 * here the data come from seeded draws and the batches from a fixed
 * permutation per epoch. The book ends at w = [1.977, -2.984], b = 3.010. */
Test(seed, linear_regression) {
    enum { N = 400, BATCH = 10, EPOCHS = 200 };
    ct_set_random_seed(7);
    ct_tensor *X = ct_random_uniform(CT_DIMS(N, 2), &(ct_random_opts){.minval = -10, .maxval = 10,
                                                                      .seed = 11});
    ct_tensor *w0 = CT_F32(CT_DIMS(2, 1), 2.0, -3.0), *b0 = CT_F32(CT_DIMS(1, 1), 3.0);
    ct_tensor *noise = ct_random_normal(CT_DIMS(N, 1), &(ct_random_opts){.stddev = 2, .seed = 12});
    ct_tensor *Y = ct_add(ct_add(ct_matmul(X, w0), b0), noise);
    CT_OK(Y);

    ct_variable *w = ct_variable_new(
        ct_random_normal(CT_DIMS(2, 1), &(ct_random_opts){.seed = 13}), &(ct_variable_opts){.name = "w"});
    ct_variable *b = ct_variable_new(ct_zeros_like(b0), &(ct_variable_opts){.name = "b"});
    cr_assert(w && b, "%s", ct_last_error());
    ct_tensor *lr = ct_scalar(0.001), *half = ct_scalar(0.5);
    double loss = NAN;
    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        for (int start = 0; start < N; start += BATCH) {
            ct_scope_begin();
            int32_t idx[BATCH];
            for (int i = 0; i < BATCH; i++) idx[i] = (int32_t)(((start + i) * 7 + epoch * 13) % N);
            ct_tensor *ix = ct_constant(idx, CT_INT32, CT_DIMS(BATCH));
            ct_tensor *features = ct_gather(X, ix, 0, 0), *labels = ct_gather(Y, ix, 0, 0);
            ct_tensor *src[2] = {ct_variable_value(w), ct_variable_value(b)};
            ct_tape *tape = ct_tape_begin(NULL);
            ct_tensor *pred = ct_add(ct_matmul(features, src[0]), src[1]);
            ct_tensor *lt = ct_reduce_mean(
                ct_multiply(ct_pow(ct_subtract(labels, pred), ct_scalar(2)), half), CT_ALL, false);
            CT_STATUS_OK(ct_tape_end(tape));
            ct_tensor *g[2];
            CT_STATUS_OK(ct_tape_gradient(tape, lt, 2, src, g, NULL));
            ct_tape_free(tape);
            CT_STATUS_OK(ct_variable_assign(w, ct_subtract(src[0], ct_multiply(lr, g[0]))));
            CT_STATUS_OK(ct_variable_assign(b, ct_subtract(src[1], ct_multiply(lr, g[1]))));
            loss = ct_item(lt);
            ct_scope_end();
        }
    }
    double wv[2], bv;
    read_f64(ct_variable_value(w), wv, 2);
    read_f64(ct_variable_value(b), &bv, 1);
    /* The least-squares fit of these samples, which gradient descent
     * approaches: solve (Xa^T Xa) beta = Xa^T Y with Xa = [X, 1]. */
    ct_tensor *xs[2] = {X, ct_ones(CT_FLOAT32, CT_DIMS(N, 1))};
    ct_tensor *xa = ct_concat(2, xs, 1);
    ct_tensor *beta = ct_matrix_solve(ct_matmul_ex(xa, xa, true, false),
                                      ct_matmul_ex(xa, Y, true, false), false);
    double ols[3];
    read_f64(beta, ols, 3);
    cr_log_info("w = [%.6g, %.6g], b = %.6g, last loss %.6g; least squares [%.6g, %.6g], %.6g",
                wv[0], wv[1], bv, loss, ols[0], ols[1], ols[2]);
    cr_expect(fabs(wv[0] - 2) < 0.1 && fabs(wv[1] + 3) < 0.1, "w = [%g, %g]", wv[0], wv[1]);
    cr_expect(fabs(bv - 3) < 0.3, "b = %g", bv);
    cr_expect(fabs(wv[0] - ols[0]) < 0.02 && fabs(wv[1] - ols[1]) < 0.02,
              "w = [%g, %g], least squares [%g, %g]", wv[0], wv[1], ols[0], ols[1]);
    cr_expect(fabs(bv - ols[2]) < 0.05, "b = %g, least squares %g", bv, ols[2]);
    cr_expect(loss < 6, "last batch loss %g (noise variance / 2 is 2)", loss);
    ct_variable_free(w);
    ct_variable_free(b);
}

/* The DNN classifier's loss_func and metric_func (3-1 二) on the labels of
 * the book's printed batch and fixed predictions (the book's come from
 * random weights):
 *     y_pred = tf.clip_by_value(y_pred, eps, 1.0 - eps)
 *     bce = - y_true*tf.math.log(y_pred) - (1-y_true)*tf.math.log(1-y_pred)
 *     loss = tf.reduce_mean(bce)
 *     y_pred = tf.where(y_pred>0.5, tf.ones_like(y_pred), tf.zeros_like(y_pred))
 *     acc = tf.reduce_mean(1-tf.abs(y_true-y_pred)) */
Test(seed, dnn_loss_and_metric) {
    enum { N = 10 };
    const float yv[N] = {1, 1, 0, 1, 1, 1, 1, 0, 1, 0};
    const float pv[N] = {0.9f, 0.6f, 0.4f, 0.3f, 0.7f, 0.55f, 0.2f, 0.8f, 1.0f, 0.0f};
    ct_tensor *y_true = ct_constant(yv, CT_FLOAT32, CT_DIMS(N, 1));
    ct_tensor *y_pred = ct_constant(pv, CT_FLOAT32, CT_DIMS(N, 1));
    ct_tensor *one = ct_scalar(1);
    ct_tensor *p = ct_clip_by_value(y_pred, 1e-7, 1.0 - 1e-7);
    ct_tensor *bce = ct_subtract(ct_negative(ct_multiply(y_true, ct_log(p))),
                                 ct_multiply(ct_subtract(one, y_true), ct_log(ct_subtract(one, p))));
    ct_tensor *loss = ct_reduce_mean(bce, CT_ALL, false);
    double want = 0;
    for (int i = 0; i < N; i++) {
        float q = fminf(fmaxf(pv[i], 1e-7f), (float)(1.0 - 1e-7));
        want += yv[i] ? -log(q) : -log(1.0 - q);
    }
    CT_EXPECT(loss, CT_FLOAT32, CT_SCALAR, 1e-6, want / N);
    ct_tensor *hard = ct_where(ct_greater(y_pred, ct_scalar(0.5)), ct_ones_like(y_pred),
                               ct_zeros_like(y_pred));
    ct_tensor *acc = ct_reduce_mean(ct_subtract(one, ct_abs(ct_subtract(y_true, hard))), CT_ALL,
                                    false);
    CT_EXPECT(acc, CT_FLOAT32, CT_SCALAR, 1e-7, 0.7);
    /* Xp_pred = tf.boolean_mask(X, tf.squeeze(model(X) >= 0.5), axis=0) */
    ct_tensor *X = ct_reshape(ct_range(0, 2 * N, 1, CT_FLOAT32), CT_DIMS(N, 2));
    ct_tensor *xp = ct_boolean_mask(X, ct_squeeze(ct_greater_equal(y_pred, ct_scalar(0.5)), CT_ALL),
                                    0);
    CT_EXPECT(xp, CT_FLOAT32, CT_DIMS(6, 2), 0, 0, 1, 2, 3, 8, 9, 10, 11, 14, 15, 16, 17);
}
