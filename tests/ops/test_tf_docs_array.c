/*
 * TensorFlow's own documented examples for the array ops, run through ctrain.
 *
 * Every `>>>` example with a printed output in the docstrings of
 * tensorflow/python/ops/array_ops.py (tf.reshape, tf.fill, tf.identity,
 * tf.expand_dims, tf.shape/size/rank, tf.slice, tf.strided_slice, tf.concat,
 * tf.boolean_mask, tf.split, tf.transpose, tf.linalg.diag/diag_part/set_diag,
 * tf.zeros/ones(_like), tf.pad, tf.one_hot, tf.squeeze, tf.where,
 * tf.gather, tf.gather_nd, tf.tensor_scatter_nd_update), of
 * tensor_getitem_override.py (tf.Tensor.__getitem__), array_ops_stack.py
 * (tf.stack, tf.unstack) and of the generated-op pages on tensorflow.org
 * (tf.tile, tf.reverse, tf.broadcast_to, tf.scatter_nd,
 * tf.tensor_scatter_nd_add, tf.range, tf.linspace, tf.eye, tf.cast) is
 * ported as one test asserting TF's printed values, dtype and shape.
 * Documented error conditions are ported as CT_FAILS with a fragment of
 * ctrain's message.
 *
 * String examples (tf.gather / tf.gather_nd on b'a', b'p0', ...) use int32
 * labels instead: the strings numbered in row-major order.
 */
#include <math.h>
#include <string.h>

#include "support.h"

TestSuite(tfdocs_array, .init = ct_test_begin, .fini = ct_test_end);

/* t with values start, start+1, ... (dtype dt) in the given shape. */
static ct_tensor *iota(ct_dtype dt, int rank, const int64_t *shape, double start) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    return ct_reshape(ct_range(start, start + (double)n, 1, dt), rank, shape);
}

/* Asserts that a and b have one shape and equal values. */
static void expect_same(const ct_tensor *a, const ct_tensor *b) {
    CT_OK(a);
    CT_OK(b);
    cr_assert_eq(ct_tensor_rank(a), ct_tensor_rank(b));
    for (int i = 0; i < ct_tensor_rank(a); i++)
        cr_assert_eq(ct_tensor_dim(a, i), ct_tensor_dim(b, i));
    ct_tensor *eq = ct_reduce_all(ct_equal(a, b), CT_ALL, false);
    CT_OK(eq);
    cr_assert(ct_item(eq) != 0, "tensors differ");
}

/* ---- tf.reshape ------------------------------------------------------------ */

static ct_tensor *t23(void) { return CT_I32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6); }

Test(tfdocs_array, reshape_basic) {
    ct_tensor *t1 = t23();
    CT_EXPECT(ct_shape_tensor(t1), CT_INT32, CT_DIMS(2), 0, 2, 3);
    ct_tensor *t2 = ct_reshape(t1, CT_DIMS(6));
    CT_EXPECT(t2, CT_INT32, CT_DIMS(6), 0, 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_reshape(t2, CT_DIMS(3, 2)), CT_INT32, CT_DIMS(3, 2), 0, 1, 2, 3, 4, 5, 6);
}

Test(tfdocs_array, reshape_error_size) {
    /* InvalidArgumentError: Input to reshape is a tensor with 3 values, but
     * the requested shape has 4 */
    ct_tensor *t = CT_I32(CT_DIMS(3), 1, 2, 3);
    CT_FAILS(ct_reshape(t, CT_DIMS(2, 2)), "3 elements");
    CT_FAILS(ct_reshape(t, CT_DIMS(2, 2)), "4 elements");
}

Test(tfdocs_array, reshape_vs_transpose) {
    ct_tensor *t = t23();
    CT_EXPECT(ct_reshape(t, CT_DIMS(3, 2)), CT_INT32, CT_DIMS(3, 2), 0, 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_transpose(t, (const int[]){1, 0}), CT_INT32, CT_DIMS(3, 2), 0, 1, 4, 2, 5, 3,
              6);
}

Test(tfdocs_array, reshape_minus_one) {
    ct_tensor *t = t23();
    CT_EXPECT(ct_reshape(t, CT_DIMS(-1)), CT_INT32, CT_DIMS(6), 0, 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_reshape(t, CT_DIMS(3, -1)), CT_INT32, CT_DIMS(3, 2), 0, 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_reshape(t, CT_DIMS(-1, 2)), CT_INT32, CT_DIMS(3, 2), 0, 1, 2, 3, 4, 5, 6);
}

Test(tfdocs_array, reshape_to_scalar) {
    ct_tensor *r = ct_reshape(CT_I32(CT_DIMS(1), 7), CT_SCALAR);
    CT_EXPECT(r, CT_INT32, CT_SCALAR, 0, 7);
}

Test(tfdocs_array, reshape_more_examples) {
    ct_tensor *t = CT_I32(CT_DIMS(9), 1, 2, 3, 4, 5, 6, 7, 8, 9);
    CT_EXPECT(ct_shape_tensor(t), CT_INT32, CT_DIMS(1), 0, 9);
    CT_EXPECT(ct_reshape(t, CT_DIMS(3, 3)), CT_INT32, CT_DIMS(3, 3), 0, 1, 2, 3, 4, 5, 6, 7, 8,
              9);

    ct_tensor *u = CT_I32(CT_DIMS(2, 2, 2), 1, 1, 2, 2, 3, 3, 4, 4);
    CT_EXPECT(ct_shape_tensor(u), CT_INT32, CT_DIMS(3), 0, 2, 2, 2);
    CT_EXPECT(ct_reshape(u, CT_DIMS(2, 4)), CT_INT32, CT_DIMS(2, 4), 0, 1, 1, 2, 2, 3, 3, 4, 4);

    ct_tensor *v = CT_I32(CT_DIMS(3, 2, 3), 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6);
    CT_EXPECT(ct_shape_tensor(v), CT_INT32, CT_DIMS(3), 0, 3, 2, 3);
    CT_EXPECT(ct_reshape(v, CT_DIMS(-1)), CT_INT32, CT_DIMS(18), 0, 1, 1, 1, 2, 2, 2, 3, 3, 3,
              4, 4, 4, 5, 5, 5, 6, 6, 6);
    CT_EXPECT(ct_reshape(v, CT_DIMS(2, -1)), CT_INT32, CT_DIMS(2, 9), 0, 1, 1, 1, 2, 2, 2, 3,
              3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6);
    CT_EXPECT(ct_reshape(v, CT_DIMS(-1, 9)), CT_INT32, CT_DIMS(2, 9), 0, 1, 1, 1, 2, 2, 2, 3,
              3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6);
    CT_EXPECT(ct_reshape(v, CT_DIMS(2, -1, 3)), CT_INT32, CT_DIMS(2, 3, 3), 0, 1, 1, 1, 2, 2,
              2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6);
}

Test(tfdocs_array, reshape_error_two_minus_ones) {
    /* "At most one component of shape can be -1." */
    CT_FAILS(ct_reshape(t23(), CT_DIMS(-1, -1)), "may have one -1");
}

/* ---- tf.fill, tf.zeros, tf.ones, *_like, tf.identity ------------------------ */

Test(tfdocs_array, fill) {
    CT_EXPECT(ct_fill(CT_INT32, CT_DIMS(2, 3), 9), CT_INT32, CT_DIMS(2, 3), 0, 9, 9, 9, 9, 9,
              9);
}

Test(tfdocs_array, fill_error_negative_dims) {
    /* Raises InvalidArgumentError: `dims` contains negative entries. */
    CT_FAILS(ct_fill(CT_INT32, CT_DIMS(2, -3), 9), "negative dimension");
}

Test(tfdocs_array, zeros_ones) {
    CT_EXPECT(ct_zeros(CT_INT32, CT_DIMS(3, 4)), CT_INT32, CT_DIMS(3, 4), 0, 0, 0, 0, 0, 0, 0,
              0, 0, 0, 0, 0, 0);
    CT_EXPECT(ct_ones(CT_INT32, CT_DIMS(3, 4)), CT_INT32, CT_DIMS(3, 4), 0, 1, 1, 1, 1, 1, 1,
              1, 1, 1, 1, 1, 1);
}

Test(tfdocs_array, zeros_like_ones_like) {
    ct_tensor *t = t23();
    CT_EXPECT(ct_zeros_like(t), CT_INT32, CT_DIMS(2, 3), 0, 0, 0, 0, 0, 0, 0);
    /* tf.zeros_like(tensor, dtype=tf.float32) */
    CT_EXPECT(ct_zeros(CT_FLOAT32, ct_tensor_rank(t), ct_tensor_shape(t)), CT_FLOAT32,
              CT_DIMS(2, 3), 0, 0, 0, 0, 0, 0, 0);
    CT_EXPECT(ct_ones_like(t), CT_INT32, CT_DIMS(2, 3), 0, 1, 1, 1, 1, 1, 1);
}

Test(tfdocs_array, identity) {
    ct_tensor *a = CT_F32(CT_DIMS(1), 0.78f);
    ct_tensor *ai = ct_identity(a);
    CT_EXPECT(a, CT_FLOAT32, CT_DIMS(1), 0, (double)0.78f);
    CT_EXPECT(ai, CT_FLOAT32, CT_DIMS(1), 0, (double)0.78f);
}

Test(tfdocs_array, identity_of_variable_is_a_snapshot) {
    /* a = tf.Variable(5); a_identity = tf.identity(a); a.assign_add(1)
     * -> a is 6, a_identity is 5. */
    ct_variable *v = ct_variable_new(ct_scalar_of(CT_INT32, 5), NULL);
    cr_assert_not_null(v, "%s", ct_last_error());
    ct_tensor *ai = ct_identity(ct_variable_value(v));
    CT_STATUS_OK(ct_variable_assign_add(v, ct_scalar_of(CT_INT32, 1)));
    CT_EXPECT(ct_variable_value(v), CT_INT32, CT_SCALAR, 0, 6);
    CT_EXPECT(ai, CT_INT32, CT_SCALAR, 0, 5);
    ct_variable_free(v);
}

/* ---- tf.expand_dims -------------------------------------------------------- */

Test(tfdocs_array, expand_dims_values) {
    ct_tensor *t = t23();
    CT_EXPECT(ct_expand_dims(t, 0), CT_INT32, CT_DIMS(1, 2, 3), 0, 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_expand_dims(t, 1), CT_INT32, CT_DIMS(2, 1, 3), 0, 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_expand_dims(t, 2), CT_INT32, CT_DIMS(2, 3, 1), 0, 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_expand_dims(t, -1), CT_INT32, CT_DIMS(2, 3, 1), 0, 1, 2, 3, 4, 5, 6);
}

Test(tfdocs_array, expand_dims_image) {
    ct_tensor *image = ct_zeros(CT_FLOAT32, CT_DIMS(10, 10, 3));
    ct_expect_shape(ct_expand_dims(image, 0), CT_DIMS(1, 10, 10, 3));
    ct_expect_shape(ct_expand_dims(image, 1), CT_DIMS(10, 1, 10, 3));
    ct_expect_shape(ct_expand_dims(image, -1), CT_DIMS(10, 10, 3, 1));
}

Test(tfdocs_array, expand_dims_older_doc_shapes) {
    ct_tensor *t = ct_zeros(CT_FLOAT32, CT_DIMS(2));
    ct_expect_shape(ct_expand_dims(t, 0), CT_DIMS(1, 2));
    ct_expect_shape(ct_expand_dims(t, 1), CT_DIMS(2, 1));
    ct_expect_shape(ct_expand_dims(t, -1), CT_DIMS(2, 1));
    ct_tensor *t2 = ct_zeros(CT_FLOAT32, CT_DIMS(2, 3, 5));
    ct_expect_shape(ct_expand_dims(t2, 0), CT_DIMS(1, 2, 3, 5));
    ct_expect_shape(ct_expand_dims(t2, 2), CT_DIMS(2, 3, 1, 5));
    ct_expect_shape(ct_expand_dims(t2, 3), CT_DIMS(2, 3, 5, 1));
}

Test(tfdocs_array, expand_dims_error_axis) {
    /* InvalidArgumentError: If `axis` is out of range `[-(D+1), D]`. */
    ct_tensor *image = ct_zeros(CT_FLOAT32, CT_DIMS(10, 10, 3));
    ct_expect_shape(ct_expand_dims(image, 3), CT_DIMS(10, 10, 3, 1));
    ct_expect_shape(ct_expand_dims(image, -4), CT_DIMS(1, 10, 10, 3));
    CT_FAILS(ct_expand_dims(image, 4), "out of range");
    CT_FAILS(ct_expand_dims(image, -5), "out of range");
}

/* ---- tf.shape, tf.size, tf.rank, tf.shape_n -------------------------------- */

Test(tfdocs_array, shape_size_rank) {
    CT_EXPECT(ct_shape_tensor(ct_scalar(1.0)), CT_INT32, CT_DIMS(0), 0, 0);
    ct_tensor *t = CT_I32(CT_DIMS(2, 2, 3), 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4);
    CT_EXPECT(ct_shape_tensor(t), CT_INT32, CT_DIMS(3), 0, 2, 2, 3);
    CT_EXPECT(ct_size_tensor(t), CT_INT32, CT_SCALAR, 0, 12);
    CT_EXPECT(ct_rank_tensor(t), CT_INT32, CT_SCALAR, 0, 3);
}

Test(tfdocs_array, shape_n) {
    CT_EXPECT(ct_shape_tensor(ct_ones(CT_FLOAT32, CT_DIMS(1, 2))), CT_INT32, CT_DIMS(2), 0, 1,
              2);
    CT_EXPECT(ct_shape_tensor(ct_ones(CT_FLOAT32, CT_DIMS(2, 3))), CT_INT32, CT_DIMS(2), 0, 2,
              3);
    CT_EXPECT(ct_shape_tensor(ct_ones(CT_FLOAT32, CT_DIMS(3, 4))), CT_INT32, CT_DIMS(2), 0, 3,
              4);
}

/* ---- tf.slice, tf.strided_slice -------------------------------------------- */

static ct_tensor *t323(void) {
    return CT_I32(CT_DIMS(3, 2, 3), 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6);
}

Test(tfdocs_array, slice) {
    ct_tensor *t = t323();
    CT_EXPECT(ct_slice(t, (const int64_t[]){1, 0, 0}, (const int64_t[]){1, 1, 3}), CT_INT32,
              CT_DIMS(1, 1, 3), 0, 3, 3, 3);
    CT_EXPECT(ct_slice(t, (const int64_t[]){1, 0, 0}, (const int64_t[]){1, 2, 3}), CT_INT32,
              CT_DIMS(1, 2, 3), 0, 3, 3, 3, 4, 4, 4);
    CT_EXPECT(ct_slice(t, (const int64_t[]){1, 0, 0}, (const int64_t[]){2, 1, 3}), CT_INT32,
              CT_DIMS(2, 1, 3), 0, 3, 3, 3, 5, 5, 5);
}

Test(tfdocs_array, slice_size_minus_one_and_errors) {
    /* size[i] = -1 takes the rest; 0 <= begin[i] <= begin[i] + size[i] <= Di. */
    ct_tensor *t = t323();
    CT_EXPECT(ct_slice(t, (const int64_t[]){2, 1, 0}, (const int64_t[]){-1, -1, -1}), CT_INT32,
              CT_DIMS(1, 1, 3), 0, 6, 6, 6);
    CT_FAILS(ct_slice(t, (const int64_t[]){2, 0, 0}, (const int64_t[]){2, 1, 3}), "Expected size[0]");
    CT_FAILS(ct_slice(t, (const int64_t[]){-1, 0, 0}, (const int64_t[]){1, 1, 3}), "Expected begin[0]");
}

static ct_index rng(int64_t start, int64_t stop, int64_t step) {
    return (ct_index){.kind = CT_IX_RANGE, .start = start, .stop = stop, .step = step,
                      .has_start = true, .has_stop = true};
}

Test(tfdocs_array, strided_slice) {
    ct_tensor *t = t323();
    CT_EXPECT(ct_strided_slice(t, 3, (const ct_index[]){rng(1, 2, 1), rng(0, 1, 1), rng(0, 3, 1)}),
              CT_INT32, CT_DIMS(1, 1, 3), 0, 3, 3, 3);
    CT_EXPECT(ct_strided_slice(t, 3, (const ct_index[]){rng(1, 2, 1), rng(0, 2, 1), rng(0, 3, 1)}),
              CT_INT32, CT_DIMS(1, 2, 3), 0, 3, 3, 3, 4, 4, 4);
    CT_EXPECT(
        ct_strided_slice(t, 3, (const ct_index[]){rng(1, 2, 1), rng(-1, -3, -1), rng(0, 3, 1)}),
        CT_INT32, CT_DIMS(1, 2, 3), 0, 4, 4, 4, 3, 3, 3);
}

Test(tfdocs_array, strided_slice_doc_shapes) {
    /* foo[5:,:,:3] on a 7x8x9 tensor is foo[5:7,0:8,0:3]; foo[::-1] reverses
     * a tensor of shape 8; foo[3:5,...,4:5] on 10x3x3x10 is
     * foo[3:5,:,:,4:5]; foo[:4, tf.newaxis, :2] has shape (4, 1, 2);
     * foo[:, 3, :] shrinks axis 1. */
    ct_tensor *a = iota(CT_INT32, CT_DIMS(7, 8, 9), 0);
    expect_same(ct_getitem(a, "5:,:,:3"), ct_getitem(a, "5:7,0:8,0:3"));
    ct_expect_shape(ct_getitem(a, "5:,:,:3"), CT_DIMS(2, 8, 3));
    CT_EXPECT(ct_getitem(CT_I32(CT_DIMS(8), 0, 1, 2, 3, 4, 5, 6, 7), "::-1"), CT_INT32,
              CT_DIMS(8), 0, 7, 6, 5, 4, 3, 2, 1, 0);
    ct_tensor *b = iota(CT_INT32, CT_DIMS(10, 3, 3, 10), 0);
    expect_same(ct_getitem(b, "3:5,...,4:5"), ct_getitem(b, "3:5,:,:,4:5"));
    expect_same(ct_getitem(b, "3:5,..."), ct_getitem(b, "3:5,:,:,:"));
    ct_expect_shape(ct_getitem(ct_zeros(CT_FLOAT32, CT_DIMS(4, 2)), ":4, None, :2"),
                    CT_DIMS(4, 1, 2));
    ct_expect_shape(ct_getitem(a, ":, 3, :"), CT_DIMS(7, 9));
}

Test(tfdocs_array, strided_slice_error_zero_stride) {
    /* "strides entries must be non-zero" -- ctrain's step 0 means 1, so a
     * zero stride cannot be expressed through ct_index; through the string
     * form it must be an error, as in Python. */
    CT_FAILS(ct_getitem(t323(), "::0"), "step");
}

/* ---- tf.Tensor.__getitem__ ------------------------------------------------- */

static ct_tensor *foo33(void) { return CT_I32(CT_DIMS(3, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9); }

Test(tfdocs_array, getitem_examples) {
    ct_tensor *foo = CT_I32(CT_DIMS(6), 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_getitem(foo, "2:-2"), CT_INT32, CT_DIMS(2), 0, 3, 4);
    ct_tensor *m = foo33();
    CT_EXPECT(ct_getitem(m, "::2,::-1"), CT_INT32, CT_DIMS(2, 3), 0, 3, 2, 1, 9, 8, 7);
    CT_EXPECT(ct_getitem(m, "0, 2"), CT_INT32, CT_SCALAR, 0, 3);
    CT_EXPECT(ct_getitem(m, "None, :, :"), CT_INT32, CT_DIMS(1, 3, 3), 0, 1, 2, 3, 4, 5, 6, 7,
              8, 9);
    CT_EXPECT(ct_getitem(m, ":, None, :"), CT_INT32, CT_DIMS(3, 1, 3), 0, 1, 2, 3, 4, 5, 6, 7,
              8, 9);
    CT_EXPECT(ct_getitem(m, ":, :, None"), CT_INT32, CT_DIMS(3, 3, 1), 0, 1, 2, 3, 4, 5, 6, 7,
              8, 9);
    CT_EXPECT(ct_getitem(m, "None, ..."), CT_INT32, CT_DIMS(1, 3, 3), 0, 1, 2, 3, 4, 5, 6, 7,
              8, 9);
    CT_EXPECT(ct_getitem(m, "None"), CT_INT32, CT_DIMS(1, 3, 3), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
}

Test(tfdocs_array, getitem_mask) {
    /* foo[foo > 2] is tf.boolean_mask(foo, foo > 2). */
    ct_tensor *m = foo33();
    CT_EXPECT(ct_boolean_mask(m, ct_greater(m, ct_scalar_of(CT_INT32, 2)), 0), CT_INT32,
              CT_DIMS(7), 0, 3, 4, 5, 6, 7, 8, 9);
}

Test(tfdocs_array, getitem_struct_items) {
    /* The same through ct_strided_slice items: foo[tf.newaxis, ...]. */
    ct_tensor *m = foo33();
    ct_index items[2] = {{.kind = CT_IX_NEWAXIS}, {.kind = CT_IX_ELLIPSIS}};
    CT_EXPECT(ct_strided_slice(m, 2, items), CT_INT32, CT_DIMS(1, 3, 3), 0, 1, 2, 3, 4, 5, 6,
              7, 8, 9);
    ct_index idx[2] = {{.kind = CT_IX_INDEX, .start = 0}, {.kind = CT_IX_INDEX, .start = 2}};
    CT_EXPECT(ct_strided_slice(m, 2, idx), CT_INT32, CT_SCALAR, 0, 3);
}

Test(tfdocs_array, getitem_errors) {
    /* Out-of-range scalar indices and two ellipses are errors. */
    ct_tensor *m = foo33();
    CT_FAILS(ct_getitem(m, "3"), "out of bounds");
    CT_FAILS(ct_getitem(m, "-4"), "out of bounds");
    CT_FAILS(ct_getitem(m, "..., ..."), "single ellipsis");
    CT_FAILS(ct_getitem(m, "0, 0, 0"), "too many indices");
}

/* ---- tf.concat ------------------------------------------------------------- */

Test(tfdocs_array, concat) {
    ct_tensor *t1 = CT_I32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    ct_tensor *t2 = CT_I32(CT_DIMS(2, 3), 7, 8, 9, 10, 11, 12);
    CT_EXPECT(ct_concat(2, (ct_tensor *[]){t1, t2}, 0), CT_INT32, CT_DIMS(4, 3), 0, 1, 2, 3, 4,
              5, 6, 7, 8, 9, 10, 11, 12);
    CT_EXPECT(ct_concat(2, (ct_tensor *[]){t1, t2}, 1), CT_INT32, CT_DIMS(2, 6), 0, 1, 2, 3, 7,
              8, 9, 4, 5, 6, 10, 11, 12);
}

Test(tfdocs_array, concat_negative_axis) {
    ct_tensor *t1 = CT_I32(CT_DIMS(2, 2, 2), 1, 2, 2, 3, 4, 4, 5, 3);
    ct_tensor *t2 = CT_I32(CT_DIMS(2, 2, 2), 7, 4, 8, 4, 2, 10, 15, 11);
    CT_EXPECT(ct_concat(2, (ct_tensor *[]){t1, t2}, -1), CT_INT32, CT_DIMS(2, 2, 4), 0, 1, 2, 7,
              4, 2, 3, 8, 4, 4, 4, 2, 10, 5, 3, 15, 11);
}

Test(tfdocs_array, concat_equals_stack_of_expand_dims) {
    /* tf.concat([tf.expand_dims(t, axis) for t in tensors], axis) ==
     * tf.stack(tensors, axis=axis) */
    ct_tensor *a = CT_I32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    ct_tensor *b = CT_I32(CT_DIMS(2, 3), 7, 8, 9, 10, 11, 12);
    for (int axis = -3; axis <= 2; axis++) {
        ct_tensor *c = ct_concat(2, (ct_tensor *[]){ct_expand_dims(a, axis), ct_expand_dims(b, axis)},
                                 axis);
        expect_same(c, ct_stack(2, (ct_tensor *[]){a, b}, axis));
    }
}

Test(tfdocs_array, concat_single_and_errors) {
    /* One tensor: identity. Axis in [-rank, rank); other dims must match. */
    ct_tensor *t1 = CT_I32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_concat(1, (ct_tensor *[]){t1}, 0), CT_INT32, CT_DIMS(2, 3), 0, 1, 2, 3, 4, 5,
              6);
    ct_tensor *t3 = CT_I32(CT_DIMS(2, 2), 1, 2, 3, 4);
    CT_FAILS(ct_concat(2, (ct_tensor *[]){t1, t3}, 0), "must be equal in all inputs");
    CT_FAILS(ct_concat(2, (ct_tensor *[]){t1, t1}, 2), "out of range");
    CT_FAILS(ct_concat(2, (ct_tensor *[]){t1, t1}, -3), "out of range");
}

/* ---- tf.boolean_mask ------------------------------------------------------- */

Test(tfdocs_array, boolean_mask) {
    ct_tensor *tensor = CT_I32(CT_DIMS(4), 0, 1, 2, 3);
    ct_tensor *mask = CT_BOOLS(CT_DIMS(4), true, false, true, false);
    CT_EXPECT(ct_boolean_mask(tensor, mask, 0), CT_INT32, CT_DIMS(2), 0, 0, 2);
    ct_tensor *t2 = CT_I32(CT_DIMS(3, 2), 1, 2, 3, 4, 5, 6);
    ct_tensor *m2 = CT_BOOLS(CT_DIMS(3), true, false, true);
    CT_EXPECT(ct_boolean_mask(t2, m2, 0), CT_INT32, CT_DIMS(2, 2), 0, 1, 2, 5, 6);
}

Test(tfdocs_array, boolean_mask_errors) {
    /* ValueError: mask cannot be scalar; shapes must conform. */
    ct_tensor *t2 = CT_I32(CT_DIMS(3, 2), 1, 2, 3, 4, 5, 6);
    CT_FAILS(ct_boolean_mask(t2, CT_BOOLS(CT_SCALAR, true), 0), "mask cannot be scalar");
    CT_FAILS(ct_boolean_mask(t2, CT_BOOLS(CT_DIMS(2), true, false), 0), "incompatible");
}

/* ---- tf.split -------------------------------------------------------------- */

Test(tfdocs_array, split) {
    ct_tensor *x = ct_random_uniform(CT_DIMS(5, 30),
                                     &(ct_random_opts){.minval = -1, .maxval = 1, .seed = 1});
    CT_OK(x);
    ct_tensor *s[3];
    CT_STATUS_OK(ct_split(x, 3, 1, s));
    CT_EXPECT(ct_shape_tensor(s[0]), CT_INT32, CT_DIMS(2), 0, 5, 10);
    ct_tensor *p[3];
    CT_STATUS_OK(ct_split_sizes(x, 3, (const int64_t[]){4, 15, 11}, 1, p));
    CT_EXPECT(ct_shape_tensor(p[0]), CT_INT32, CT_DIMS(2), 0, 5, 4);
    CT_EXPECT(ct_shape_tensor(p[1]), CT_INT32, CT_DIMS(2), 0, 5, 15);
    CT_EXPECT(ct_shape_tensor(p[2]), CT_INT32, CT_DIMS(2), 0, 5, 11);
    expect_same(ct_concat(3, p, 1), x);
    expect_same(ct_concat(3, s, 1), x);
}

Test(tfdocs_array, split_errors) {
    /* An int must evenly divide value.shape[axis]; sizes must sum to it. */
    ct_tensor *x = ct_zeros(CT_FLOAT32, CT_DIMS(5, 30));
    ct_tensor *s[4];
    cr_assert_neq(ct_split(x, 4, 1, s), CT_OK);
    cr_assert(strstr(ct_last_error(), "ct_split") != NULL, "%s", ct_last_error());
    ct_clear_error();
    cr_assert_neq(ct_split_sizes(x, 3, (const int64_t[]){4, 15, 10}, 1, s), CT_OK);
    cr_assert(strstr(ct_last_error(), "ct_split") != NULL, "%s", ct_last_error());
    ct_clear_error();
    cr_assert_neq(ct_split(x, 3, 2, s), CT_OK);
    /* One size may be -1: [4, -1, 11] is [4, 15, 11]. */
    ct_clear_error();
    CT_STATUS_OK(ct_split_sizes(x, 3, (const int64_t[]){4, -1, 11}, -1, s));
    ct_expect_shape(s[1], CT_DIMS(5, 15));
}

/* ---- tf.transpose ---------------------------------------------------------- */

Test(tfdocs_array, transpose) {
    ct_tensor *x = t23();
    CT_EXPECT(ct_transpose(x, NULL), CT_INT32, CT_DIMS(3, 2), 0, 1, 4, 2, 5, 3, 6);
    CT_EXPECT(ct_transpose(x, (const int[]){1, 0}), CT_INT32, CT_DIMS(3, 2), 0, 1, 4, 2, 5, 3,
              6);
    ct_tensor *y = CT_I32(CT_DIMS(2, 2, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
    CT_EXPECT(ct_transpose(y, (const int[]){0, 2, 1}), CT_INT32, CT_DIMS(2, 3, 2), 0, 1, 4, 2,
              5, 3, 6, 7, 10, 8, 11, 9, 12);
    /* The default perm is [2, 1, 0]. */
    expect_same(ct_transpose(y, NULL), ct_transpose(y, (const int[]){2, 1, 0}));
}

Test(tfdocs_array, matrix_transpose) {
    CT_EXPECT(ct_matrix_transpose(t23()), CT_INT32, CT_DIMS(3, 2), 0, 1, 4, 2, 5, 3, 6);
    ct_expect_shape(ct_matrix_transpose(ct_zeros(CT_FLOAT32, CT_DIMS(1, 2, 3, 4))),
                    CT_DIMS(1, 2, 4, 3));
    /* ValueError: `a` should be a (batch) matrix with rank >= 2. */
    CT_FAILS(ct_matrix_transpose(CT_I32(CT_DIMS(3), 1, 2, 3)), "rank >= 2");
}

Test(tfdocs_array, transpose_errors) {
    ct_tensor *y = ct_zeros(CT_FLOAT32, CT_DIMS(2, 2, 3));
    CT_FAILS(ct_transpose(y, (const int[]){0, 0, 1}), "not a permutation");
    CT_FAILS(ct_transpose(y, (const int[]){0, 1, 3}), "out of range");
}

/* ---- tf.linalg.diag / diag_part / set_diag (main diagonal) ----------------- */

Test(tfdocs_array, matrix_diag) {
    ct_tensor *d = CT_I32(CT_DIMS(2, 4), 1, 2, 3, 4, 5, 6, 7, 8);
    CT_EXPECT(ct_matrix_diag(d), CT_INT32, CT_DIMS(2, 4, 4), 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3,
              0, 0, 0, 0, 4, 5, 0, 0, 0, 0, 6, 0, 0, 0, 0, 7, 0, 0, 0, 0, 8);
}

Test(tfdocs_array, matrix_diag_part) {
    ct_tensor *in = CT_I32(CT_DIMS(2, 3, 4), 1, 2, 3, 4, 5, 6, 7, 8, 9, 8, 7, 6, 5, 4, 3, 2, 1,
                           2, 3, 4, 5, 6, 7, 8);
    CT_EXPECT(ct_matrix_diag_part(in), CT_INT32, CT_DIMS(2, 3), 0, 1, 6, 7, 5, 2, 7);
}

Test(tfdocs_array, matrix_diag_part_of_rank4) {
    /* tf.linalg.diag_part(x).shape for the tensor_diag_part example. */
    ct_tensor *x = CT_I32(CT_DIMS(2, 2, 2, 2), 1111, 1112, 1121, 1122, 1211, 1212, 1221, 1222,
                          2111, 2112, 2121, 2122, 2211, 2212, 2221, 2222);
    CT_EXPECT(ct_matrix_diag_part(x), CT_INT32, CT_DIMS(2, 2, 2), 0, 1111, 1122, 1211, 1222,
              2111, 2122, 2211, 2222);
}

Test(tfdocs_array, matrix_set_diag) {
    ct_tensor *in = ct_fill(CT_INT32, CT_DIMS(2, 3, 4), 7);
    ct_tensor *d = CT_I32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_matrix_set_diag(in, d), CT_INT32, CT_DIMS(2, 3, 4), 0, 1, 7, 7, 7, 7, 2, 7, 7,
              7, 7, 3, 7, 4, 7, 7, 7, 7, 5, 7, 7, 7, 7, 6, 7);
}

/* ---- tf.pad ---------------------------------------------------------------- */

static const int64_t pad_1122[4] = {1, 1, 2, 2};

Test(tfdocs_array, pad_constant) {
    CT_EXPECT(ct_pad(t23(), pad_1122, CT_PAD_CONSTANT, 0), CT_INT32, CT_DIMS(4, 7), 0,
              /**/ 0, 0, 0, 0, 0, 0, 0, /**/ 0, 0, 1, 2, 3, 0, 0, /**/ 0, 0, 4, 5, 6, 0, 0,
              /**/ 0, 0, 0, 0, 0, 0, 0);
}

Test(tfdocs_array, pad_reflect) {
    CT_EXPECT(ct_pad(t23(), pad_1122, CT_PAD_REFLECT, 0), CT_INT32, CT_DIMS(4, 7), 0,
              /**/ 6, 5, 4, 5, 6, 5, 4, /**/ 3, 2, 1, 2, 3, 2, 1, /**/ 6, 5, 4, 5, 6, 5, 4,
              /**/ 3, 2, 1, 2, 3, 2, 1);
}

Test(tfdocs_array, pad_symmetric) {
    CT_EXPECT(ct_pad(t23(), pad_1122, CT_PAD_SYMMETRIC, 0), CT_INT32, CT_DIMS(4, 7), 0,
              /**/ 2, 1, 1, 2, 3, 3, 2, /**/ 2, 1, 1, 2, 3, 3, 2, /**/ 5, 4, 4, 5, 6, 6, 5,
              /**/ 5, 4, 4, 5, 6, 6, 5);
}

Test(tfdocs_array, pad_mirror_limits) {
    /* REFLECT: paddings no greater than dim - 1; SYMMETRIC: no greater than
     * dim. */
    ct_tensor *t = t23();
    ct_expect_shape(ct_pad(t, (const int64_t[]){1, 1, 2, 2}, CT_PAD_REFLECT, 0), CT_DIMS(4, 7));
    CT_FAILS(ct_pad(t, (const int64_t[]){2, 0, 0, 0}, CT_PAD_REFLECT, 0), "REFLECT paddings");
    CT_FAILS(ct_pad(t, (const int64_t[]){0, 0, 0, 3}, CT_PAD_REFLECT, 0), "REFLECT paddings");
    ct_expect_shape(ct_pad(t, (const int64_t[]){2, 2, 3, 3}, CT_PAD_SYMMETRIC, 0),
                    CT_DIMS(6, 9));
    CT_FAILS(ct_pad(t, (const int64_t[]){3, 0, 0, 0}, CT_PAD_SYMMETRIC, 0), "SYMMETRIC paddings");
    CT_FAILS(ct_pad(t, (const int64_t[]){0, 0, 4, 0}, CT_PAD_SYMMETRIC, 0), "SYMMETRIC paddings");
    CT_FAILS(ct_pad(t, (const int64_t[]){-1, 0, 0, 0}, CT_PAD_CONSTANT, 0), "non-negative");
}

/* ---- tf.one_hot ------------------------------------------------------------ */

Test(tfdocs_array, one_hot_default) {
    CT_EXPECT(ct_one_hot(CT_I32(CT_DIMS(3), 0, 1, 2), 3, 1, 0, -1, CT_FLOAT32), CT_FLOAT32,
              CT_DIMS(3, 3), 0, 1, 0, 0, 0, 1, 0, 0, 0, 1);
}

Test(tfdocs_array, one_hot_on_off) {
    CT_EXPECT(ct_one_hot(CT_I32(CT_DIMS(4), 0, 2, -1, 1), 3, 5.0, 0.0, -1, CT_FLOAT32),
              CT_FLOAT32, CT_DIMS(4, 3), 0, 5, 0, 0, 0, 0, 5, 0, 0, 0, 0, 5, 0);
}

Test(tfdocs_array, one_hot_matrix) {
    CT_EXPECT(ct_one_hot(CT_I32(CT_DIMS(2, 2), 0, 2, 1, -1), 3, 1.0, 0.0, -1, CT_FLOAT32),
              CT_FLOAT32, CT_DIMS(2, 2, 3), 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0);
}

Test(tfdocs_array, one_hot_axis_shapes) {
    /* features x depth if axis == -1, depth x features if axis == 0;
     * batch x features x depth (-1), batch x depth x features (1),
     * depth x batch x features (0). A scalar gives a vector of depth. */
    ct_tensor *v = CT_I32(CT_DIMS(4), 0, 2, -1, 1);
    ct_expect_shape(ct_one_hot(v, 3, 1, 0, -1, CT_FLOAT32), CT_DIMS(4, 3));
    CT_EXPECT(ct_one_hot(v, 3, 1, 0, 0, CT_FLOAT32), CT_FLOAT32, CT_DIMS(3, 4), 0, 1, 0, 0, 0,
              0, 0, 0, 1, 0, 1, 0, 0);
    ct_tensor *m = CT_I32(CT_DIMS(2, 4), 0, 1, 2, 3, 3, 2, 1, 0);
    ct_expect_shape(ct_one_hot(m, 5, 1, 0, -1, CT_FLOAT32), CT_DIMS(2, 4, 5));
    ct_expect_shape(ct_one_hot(m, 5, 1, 0, 1, CT_FLOAT32), CT_DIMS(2, 5, 4));
    ct_expect_shape(ct_one_hot(m, 5, 1, 0, 0, CT_FLOAT32), CT_DIMS(5, 2, 4));
    CT_EXPECT(ct_one_hot(CT_I32(CT_SCALAR, 1), 3, 1, 0, -1, CT_FLOAT32), CT_FLOAT32, CT_DIMS(3),
              0, 0, 1, 0);
}

/* ---- tf.squeeze ------------------------------------------------------------ */

Test(tfdocs_array, squeeze) {
    ct_tensor *t = ct_ones(CT_FLOAT32, CT_DIMS(1, 2, 1, 3, 1, 1));
    CT_EXPECT(ct_shape_tensor(ct_squeeze(t, CT_ALL)), CT_INT32, CT_DIMS(2), 0, 2, 3);
    CT_EXPECT(ct_shape_tensor(ct_squeeze(t, CT_AXES(2, 4))), CT_INT32, CT_DIMS(4), 0, 1, 2, 3,
              1);
}

Test(tfdocs_array, squeeze_error_not_one) {
    /* It is an error to squeeze a dimension that is not 1; axes in
     * [-rank, rank). */
    ct_tensor *t = ct_ones(CT_FLOAT32, CT_DIMS(1, 2, 1, 3, 1, 1));
    CT_FAILS(ct_squeeze(t, CT_AXES(1)), "cannot squeeze axis 1");
    CT_FAILS(ct_squeeze(t, CT_AXES(6)), "out of range");
    CT_FAILS(ct_squeeze(t, CT_AXES(-7)), "out of range");
    ct_expect_shape(ct_squeeze(t, CT_AXES(-1)), CT_DIMS(1, 2, 1, 3, 1));
}

/* ---- tf.where -------------------------------------------------------------- */

Test(tfdocs_array, where_v1_broadcast_examples) {
    ct_tensor *c = CT_BOOLS(CT_DIMS(4), true, false, false, true);
    CT_EXPECT(ct_where(c, CT_I32(CT_DIMS(4), 1, 2, 3, 4), CT_I32(CT_DIMS(1), 100)), CT_INT32,
              CT_DIMS(4), 0, 1, 100, 100, 4);
    CT_EXPECT(ct_where(CT_BOOLS(CT_SCALAR, true), CT_I32(CT_DIMS(4), 1, 2, 3, 4),
                       CT_I32(CT_SCALAR, 100)),
              CT_INT32, CT_DIMS(4), 0, 1, 2, 3, 4);
}

Test(tfdocs_array, where_coords_bool) {
    CT_EXPECT(ct_where_coords(CT_BOOLS(CT_DIMS(4), true, false, false, true)), CT_INT64,
              CT_DIMS(2, 1), 0, 0, 3);
}

Test(tfdocs_array, where_coords_int) {
    CT_EXPECT(ct_where_coords(CT_I32(CT_DIMS(2, 3), 1, 0, 0, 1, 0, 1)), CT_INT64, CT_DIMS(3, 2),
              0, 0, 0, 1, 0, 1, 2);
}

Test(tfdocs_array, where_coords_float) {
    ct_tensor *f = CT_F32(CT_DIMS(2, 3, 2), 0.1f, 0, 0, 2.2f, 3.5f, 1e6f, 0, 0, 0, 0, 99, 0);
    CT_EXPECT(ct_where_coords(f), CT_INT64, CT_DIMS(5, 3), 0, 0, 0, 0, 0, 1, 1, 0, 2, 0, 0, 2,
              1, 1, 2, 0);
}

Test(tfdocs_array, where_select_elementwise) {
    ct_tensor *c = CT_BOOLS(CT_DIMS(4), true, false, false, true);
    CT_EXPECT(ct_where(c, CT_I32(CT_DIMS(4), 1, 2, 3, 4), CT_I32(CT_DIMS(4), 100, 200, 300, 400)),
              CT_INT32, CT_DIMS(4), 0, 1, 200, 300, 4);
    CT_EXPECT(ct_where(c, CT_I32(CT_DIMS(4), 1, 2, 3, 4), CT_I32(CT_DIMS(1), 100)), CT_INT32,
              CT_DIMS(4), 0, 1, 100, 100, 4);
}

Test(tfdocs_array, where_select_scalar_broadcast) {
    ct_tensor *c = CT_BOOLS(CT_DIMS(2, 2), true, false, false, true);
    CT_EXPECT(ct_where(c, CT_I32(CT_DIMS(2, 2), 1, 2, 3, 4), CT_I32(CT_SCALAR, 100)), CT_INT32,
              CT_DIMS(2, 2), 0, 1, 100, 100, 4);
    CT_EXPECT(ct_where(c, CT_I32(CT_SCALAR, 1), CT_I32(CT_SCALAR, 100)), CT_INT32,
              CT_DIMS(2, 2), 0, 1, 100, 100, 1);
}

Test(tfdocs_array, where_select_scalar_condition) {
    ct_tensor *x = CT_I32(CT_DIMS(4), 1, 2, 3, 4);
    CT_EXPECT(ct_where(CT_BOOLS(CT_SCALAR, true), x, CT_I32(CT_SCALAR, 100)), CT_INT32,
              CT_DIMS(4), 0, 1, 2, 3, 4);
    CT_EXPECT(ct_where(CT_BOOLS(CT_SCALAR, false), x, CT_I32(CT_SCALAR, 100)), CT_INT32,
              CT_DIMS(4), 0, 100, 100, 100, 100);
}

Test(tfdocs_array, where_select_columns) {
    ct_tensor *c = CT_BOOLS(CT_DIMS(3), true, false, true);
    ct_tensor *x = CT_I32(CT_DIMS(3, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9);
    ct_tensor *y = CT_I32(CT_DIMS(3, 1), 100, 200, 300);
    CT_EXPECT(ct_where(c, x, y), CT_INT32, CT_DIMS(3, 3), 0, 1, 100, 3, 4, 200, 6, 7, 300, 9);
}

static ct_tensor *grad_of_where(bool safe) {
    ct_tensor *x = ct_scalar_of(CT_FLOAT32, 0.0);
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, x);
    ct_tensor *one = ct_scalar_of(CT_FLOAT32, 1.0), *zero = ct_scalar_of(CT_FLOAT32, 0.0);
    ct_tensor *den = x;
    if (safe) den = ct_where(ct_equal(x, zero), one, x);
    ct_tensor *y = ct_where(ct_less(x, one), zero, ct_divide(one, den));
    ct_tape_end(tape);
    ct_tensor *g = NULL;
    ct_status s = ct_tape_gradient(tape, y, 1, &x, &g, NULL);
    ct_tape_free(tape);
    cr_assert_eq(s, CT_OK, "%s", ct_last_error());
    return g;
}

Test(tfdocs_array, where_gradient_nan) {
    /* y = tf.where(x < 1., 0., 1. / x) at x = 0: the gradient is NaN. */
    CT_EXPECT(grad_of_where(false), CT_FLOAT32, CT_SCALAR, 0, NAN);
}

Test(tfdocs_array, where_gradient_safe) {
    /* Guarded by an inner tf.where: the gradient is 0.0. */
    CT_EXPECT(grad_of_where(true), CT_FLOAT32, CT_SCALAR, 0, 0.0);
}

Test(tfdocs_array, where_errors) {
    /* ValueError when the shapes are not all broadcastable. */
    ct_tensor *c = CT_BOOLS(CT_DIMS(3), true, false, true);
    CT_FAILS(ct_where(c, CT_I32(CT_DIMS(4), 1, 2, 3, 4), CT_I32(CT_SCALAR, 0)), "not broadcastable");
    CT_FAILS(ct_where(c, CT_I32(CT_DIMS(3), 1, 2, 3), CT_F32(CT_DIMS(3), 1, 2, 3)), "different dtypes");
}

/* ---- tf.gather ------------------------------------------------------------- */

/* The b'p0' ... b'p5' params as int32 labels 0..5. */
static ct_tensor *p6(void) { return CT_I32(CT_DIMS(6), 0, 1, 2, 3, 4, 5); }

Test(tfdocs_array, gather_scalar_and_vector) {
    ct_tensor *params = p6();
    CT_EXPECT(ct_getitem(params, "3"), CT_INT32, CT_SCALAR, 0, 3);
    CT_EXPECT(ct_gather(params, CT_I32(CT_SCALAR, 3), 0, 0), CT_INT32, CT_SCALAR, 0, 3);
    CT_EXPECT(ct_gather(params, CT_I32(CT_DIMS(4), 2, 0, 2, 5), 0, 0), CT_INT32, CT_DIMS(4), 0,
              2, 0, 2, 5);
    CT_EXPECT(ct_gather(params, CT_I32(CT_DIMS(2, 2), 2, 0, 2, 5), 0, 0), CT_INT32,
              CT_DIMS(2, 2), 0, 2, 0, 2, 5);
}

static ct_tensor *gparams(void) {
    return CT_F32(CT_DIMS(4, 3), 0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32);
}

Test(tfdocs_array, gather_rows_and_columns) {
    ct_tensor *params = gparams();
    CT_EXPECT(ct_gather(params, CT_I32(CT_DIMS(2), 3, 1), 0, 0), CT_FLOAT32, CT_DIMS(2, 3), 0,
              30, 31, 32, 10, 11, 12);
    CT_EXPECT(ct_gather(params, CT_I32(CT_DIMS(2), 2, 1), 1, 0), CT_FLOAT32, CT_DIMS(4, 2), 0,
              2, 1, 12, 11, 22, 21, 32, 31);
}

Test(tfdocs_array, gather_result_shape) {
    ct_tensor *p = ct_zeros(CT_FLOAT32, CT_DIMS(1, 2, 3));
    ct_expect_shape(ct_gather(p, CT_I32(CT_SCALAR, 0), 1, 0), CT_DIMS(1, 3));
    ct_expect_shape(ct_gather(p, ct_zeros(CT_INT32, CT_DIMS(7)), 1, 0), CT_DIMS(1, 7, 3));
    ct_expect_shape(ct_gather(p, ct_zeros(CT_INT32, CT_DIMS(7, 5)), 1, 0), CT_DIMS(1, 7, 5, 3));
    ct_tensor *params = gparams();
    ct_tensor *indices = CT_I32(CT_DIMS(1, 2), 0, 2);
    ct_expect_shape(ct_gather(params, indices, 0, 0), CT_DIMS(1, 2, 3));
    ct_expect_shape(ct_gather(params, indices, 1, 0), CT_DIMS(4, 1, 2));
}

Test(tfdocs_array, gather_axis2_slices) {
    /* params (5,6,7,8), indices (10,11) in [0,7), axis=2 -> (5,6,10,11,8)
     * and result[:, :, a, b, :] == params[:, :, indices[a, b], :]. */
    ct_tensor *params = iota(CT_FLOAT32, CT_DIMS(5, 6, 7, 8), 0);
    int32_t idx[110];
    for (int i = 0; i < 110; i++) idx[i] = (i * 5 + 3) % 7;
    ct_tensor *indices = ct_constant(idx, CT_INT32, CT_DIMS(10, 11));
    ct_tensor *result = ct_gather(params, indices, 2, 0);
    ct_expect_shape(result, CT_DIMS(5, 6, 10, 11, 8));
    for (int a = 0; a < 10; a += 3)
        for (int b = 0; b < 11; b += 4) {
            ct_index r[5] = {{.kind = CT_IX_RANGE}, {.kind = CT_IX_RANGE},
                             {.kind = CT_IX_INDEX, .start = a}, {.kind = CT_IX_INDEX, .start = b},
                             {.kind = CT_IX_RANGE}};
            ct_index q[4] = {{.kind = CT_IX_RANGE}, {.kind = CT_IX_RANGE},
                             {.kind = CT_IX_INDEX, .start = idx[a * 11 + b]},
                             {.kind = CT_IX_RANGE}};
            expect_same(ct_strided_slice(result, 5, r), ct_strided_slice(params, 4, q));
        }
}

static ct_tensor *bparams(void) {
    return CT_I32(CT_DIMS(3, 5), 0, 0, 1, 0, 2, 3, 0, 0, 0, 4, 0, 5, 0, 6, 0);
}
static ct_tensor *bindices(void) { return CT_I32(CT_DIMS(3, 2), 2, 4, 0, 4, 1, 3); }

Test(tfdocs_array, gather_batch_dims) {
    ct_tensor *r = ct_gather(bparams(), bindices(), 1, 1);
    CT_EXPECT(r, CT_INT32, CT_DIMS(3, 2), 0, 1, 2, 3, 4, 5, 6);
}

Test(tfdocs_array, gather_batch_dims_manual_loop) {
    /* manually_batched_gather: stack(gather(p, i, axis=axis-batch_dims)). */
    ct_tensor *p[3], *i[3], *r[3];
    CT_STATUS_OK(ct_unstack(bparams(), 0, p));
    CT_STATUS_OK(ct_unstack(bindices(), 0, i));
    for (int k = 0; k < 3; k++) r[k] = ct_gather(p[k], i[k], 0, 0);
    CT_EXPECT(ct_stack(3, r, 0), CT_INT32, CT_DIMS(3, 2), 0, 1, 2, 3, 4, 5, 6);
}

Test(tfdocs_array, gather_batch_dims_minus_one) {
    /* "tf.gather(values, indices, batch_dims=-1)" with argsort's indices:
     * axis defaults to batch_dims, both count from the end. */
    ct_tensor *values = CT_F32(CT_DIMS(2, 3), 3, 1, 2, 9, 7, 8);
    ct_tensor *idx = ct_argsort(values, -1, false);
    CT_EXPECT(ct_gather(values, idx, -1, -1), CT_FLOAT32, CT_DIMS(2, 3), 0, 1, 2, 3, 7, 8, 9);
}

Test(tfdocs_array, gather_errors) {
    /* CPU: an out of bound index is an error; axis >= batch_dims;
     * batch_dims <= rank(indices). */
    ct_tensor *params = gparams();
    CT_FAILS(ct_gather(params, CT_I32(CT_DIMS(2), 3, 4), 0, 0), "indices[1] = 4 is not in [0, 4)");
    CT_FAILS(ct_gather(params, CT_I32(CT_DIMS(2), -1, 0), 0, 0), "indices[0] = -1");
    CT_FAILS(ct_gather(params, CT_I32(CT_DIMS(2), 0, 1), 2, 0), "Expected axis in the range");
    CT_FAILS(ct_gather(bparams(), bindices(), 0, 1), "less than or equal to axis");
    CT_FAILS(ct_gather(bparams(), CT_I32(CT_DIMS(3), 0, 1, 2), 1, 2), "Expected batch_dims in the range");
    CT_FAILS(ct_gather(params, CT_F32(CT_DIMS(1), 0), 0, 0), "int32 or int64");
}

/* ---- tf.gather_nd ---------------------------------------------------------- */

/* [['a','b'],['c','d']] as 0..3 and the 3-tensor [[['a0','b0'],['c0','d0']],
 * [['a1','b1'],['c1','d1']]] as 0..7 (a0=0, b0=1, c0=2, d0=3, a1=4, ...). */
static ct_tensor *abcd(void) { return CT_I32(CT_DIMS(2, 2), 0, 1, 2, 3); }
static ct_tensor *abcd3(void) { return iota(CT_INT32, CT_DIMS(2, 2, 2), 0); }

Test(tfdocs_array, gather_nd_scalars) {
    CT_EXPECT(ct_gather_nd(abcd(), CT_I32(CT_DIMS(2, 2), 0, 0, 1, 1), 0), CT_INT32, CT_DIMS(2),
              0, 0, 3);
}

Test(tfdocs_array, gather_nd_rows) {
    ct_tensor *p = CT_I32(CT_DIMS(2, 3), 0, 1, 2, 3, 4, 5); /* a..f */
    CT_EXPECT(ct_gather_nd(p, CT_I32(CT_DIMS(2, 1), 1, 0), 0), CT_INT32, CT_DIMS(2, 3), 0, 3, 4,
              5, 0, 1, 2);
}

Test(tfdocs_array, gather_nd_batch_shapes) {
    ct_tensor *p = ct_zeros(CT_FLOAT32, CT_DIMS(5, 7, 3));
    ct_expect_shape(ct_gather_nd(p, CT_I32(CT_DIMS(5, 2), 0, 1, 1, 0, 2, 4, 3, 2, 4, 1), 0),
                    CT_DIMS(5, 3));
    ct_expect_shape(ct_gather_nd(p, CT_I32(CT_DIMS(5, 1), 1, 0, 4, 2, 1), 1), CT_DIMS(5, 3));
    /* indices = tf.zeros([5, 1]) (as integers): output_shape [5, 3]. */
    ct_expect_shape(ct_gather_nd(p, ct_zeros(CT_INT32, CT_DIMS(5, 1)), 1), CT_DIMS(5, 3));
    /* batch_dims=1 equals the full index with the batch position first. */
    expect_same(ct_gather_nd(iota(CT_FLOAT32, CT_DIMS(5, 7, 3), 0),
                             CT_I32(CT_DIMS(5, 1), 1, 0, 4, 2, 1), 1),
                ct_gather_nd(iota(CT_FLOAT32, CT_DIMS(5, 7, 3), 0),
                             CT_I32(CT_DIMS(5, 2), 0, 1, 1, 0, 2, 4, 3, 2, 4, 1), 0));
}

Test(tfdocs_array, gather_nd_3tensor) {
    ct_tensor *p = abcd3();
    CT_EXPECT(ct_gather_nd(p, CT_I32(CT_DIMS(1, 1), 1), 0), CT_INT32, CT_DIMS(1, 2, 2), 0, 4, 5,
              6, 7);
    CT_EXPECT(ct_gather_nd(p, CT_I32(CT_DIMS(2, 2), 0, 1, 1, 0), 0), CT_INT32, CT_DIMS(2, 2), 0,
              2, 3, 4, 5);
    CT_EXPECT(ct_gather_nd(p, CT_I32(CT_DIMS(2, 3), 0, 0, 1, 1, 0, 1), 0), CT_INT32, CT_DIMS(2),
              0, 1, 5);
}

Test(tfdocs_array, gather_nd_batched_indices_matrix) {
    CT_EXPECT(ct_gather_nd(abcd(), CT_I32(CT_DIMS(2, 1, 2), 0, 0, 0, 1), 0), CT_INT32,
              CT_DIMS(2, 1), 0, 0, 1);
    CT_EXPECT(ct_gather_nd(abcd(), CT_I32(CT_DIMS(2, 1, 1), 1, 0), 0), CT_INT32,
              CT_DIMS(2, 1, 2), 0, 2, 3, 0, 1);
}

Test(tfdocs_array, gather_nd_batched_indices_3tensor) {
    ct_tensor *p = abcd3();
    CT_EXPECT(ct_gather_nd(p, CT_I32(CT_DIMS(2, 1, 1), 1, 0), 0), CT_INT32, CT_DIMS(2, 1, 2, 2),
              0, 4, 5, 6, 7, 0, 1, 2, 3);
    CT_EXPECT(ct_gather_nd(p, CT_I32(CT_DIMS(2, 2, 2), 0, 1, 1, 0, 0, 0, 1, 1), 0), CT_INT32,
              CT_DIMS(2, 2, 2), 0, 2, 3, 4, 5, 0, 1, 6, 7);
    CT_EXPECT(ct_gather_nd(p, CT_I32(CT_DIMS(2, 2, 3), 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0), 0),
              CT_INT32, CT_DIMS(2, 2), 0, 1, 5, 3, 6);
}

Test(tfdocs_array, gather_nd_batch_dims) {
    ct_tensor *p = abcd3();
    CT_EXPECT(ct_gather_nd(p, CT_I32(CT_DIMS(2, 1), 1, 0), 1), CT_INT32, CT_DIMS(2, 2), 0, 2, 3,
              4, 5);
    CT_EXPECT(ct_gather_nd(p, CT_I32(CT_DIMS(2, 1, 1), 1, 0), 1), CT_INT32, CT_DIMS(2, 1, 2), 0,
              2, 3, 4, 5);
    CT_EXPECT(ct_gather_nd(p, CT_I32(CT_DIMS(2, 1, 2), 1, 0, 0, 1), 1), CT_INT32, CT_DIMS(2, 1),
              0, 2, 5);
}

Test(tfdocs_array, gather_nd_errors) {
    /* Out-of-range index (CPU error); index depth > rank; batch_dims must
     * be < rank(indices) and < rank(params); no negative batch_dims. */
    ct_tensor *p = abcd3();
    CT_FAILS(ct_gather_nd(p, CT_I32(CT_DIMS(1, 2), 0, 2), 0), "does not index into param shape");
    CT_FAILS(ct_gather_nd(p, CT_I32(CT_DIMS(1, 4), 0, 0, 0, 0), 0), "index innermost dimension");
    CT_FAILS(ct_gather_nd(p, CT_I32(CT_DIMS(2, 1), 1, 0), 2), "must be less than rank(indices)");
    CT_FAILS(ct_gather_nd(p, CT_I32(CT_DIMS(2, 1), 1, 0), -1), "non-negative");
}

/* ---- tf.tensor_scatter_nd_update / _add, tf.scatter_nd --------------------- */

Test(tfdocs_array, tensor_scatter_nd_update_vector) {
    ct_tensor *tensor = ct_zeros(CT_INT32, CT_DIMS(8));
    ct_tensor *indices = CT_I32(CT_DIMS(4, 1), 1, 3, 4, 7);
    ct_tensor *updates = CT_I32(CT_DIMS(4), 9, 10, 11, 12);
    CT_EXPECT(ct_tensor_scatter_nd_update(tensor, indices, updates), CT_INT32, CT_DIMS(8), 0, 0,
              9, 0, 10, 11, 0, 0, 12);
}

Test(tfdocs_array, tensor_scatter_nd_update_matrix) {
    ct_tensor *tensor = CT_I32(CT_DIMS(3, 2), 1, 1, 1, 1, 1, 1);
    ct_tensor *indices = CT_I32(CT_DIMS(2, 2), 0, 1, 2, 0);
    ct_tensor *updates = CT_I32(CT_DIMS(2), 5, 10);
    CT_EXPECT(ct_tensor_scatter_nd_update(tensor, indices, updates), CT_INT32, CT_DIMS(3, 2), 0,
              1, 5, 1, 1, 10, 1);
}

Test(tfdocs_array, tensor_scatter_nd_update_rows) {
    ct_tensor *tensor = ct_zeros(CT_INT32, CT_DIMS(6, 3));
    ct_tensor *indices = CT_I32(CT_DIMS(2, 1), 2, 4);
    ct_tensor *updates = CT_I32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_tensor_scatter_nd_update(tensor, indices, updates), CT_INT32, CT_DIMS(6, 3), 0,
              0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 0, 4, 5, 6, 0, 0, 0);
}

Test(tfdocs_array, tensor_scatter_nd_update_video) {
    ct_tensor *video = ct_zeros(CT_FLOAT32, CT_DIMS(13, 11, 7, 5, 3));
    ct_tensor *clips = ct_tensor_scatter_nd_update(video, CT_I32(CT_DIMS(2, 1), 0, 1),
                                                   ct_ones(CT_FLOAT32, CT_DIMS(2, 11, 7, 5, 3)));
    ct_expect_shape(clips, CT_DIMS(13, 11, 7, 5, 3));
    CT_EXPECT(ct_reduce_sum(clips, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 0, 2 * 11 * 7 * 5 * 3);
    CT_EXPECT(ct_reduce_sum(ct_getitem(clips, "2:"), CT_ALL, false), CT_FLOAT32, CT_SCALAR, 0,
              0);
    ct_tensor *frames =
        ct_tensor_scatter_nd_update(video, CT_I32(CT_DIMS(3, 2), 0, 0, 1, 0, 2, 0),
                                    ct_ones(CT_FLOAT32, CT_DIMS(3, 7, 5, 3)));
    ct_expect_shape(frames, CT_DIMS(13, 11, 7, 5, 3));
    CT_EXPECT(ct_reduce_sum(ct_getitem(frames, ":3, 0"), CT_ALL, false), CT_FLOAT32, CT_SCALAR,
              0, 3 * 7 * 5 * 3);
    CT_EXPECT(ct_reduce_sum(frames, CT_ALL, false), CT_FLOAT32, CT_SCALAR, 0, 3 * 7 * 5 * 3);
}

Test(tfdocs_array, tensor_scatter_nd_update_folded_x) {
    ct_tensor *tensor = ct_zeros(CT_FLOAT32, CT_DIMS(5, 5));
    ct_tensor *indices = CT_I32(CT_DIMS(2, 5, 2), 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, /**/ 0, 4, 1, 3,
                                2, 2, 3, 1, 4, 0);
    ct_tensor *updates = ct_ones(CT_FLOAT32, CT_DIMS(2, 5));
    CT_EXPECT(ct_tensor_scatter_nd_update(tensor, indices, updates), CT_FLOAT32, CT_DIMS(5, 5), 0,
              1, 0, 0, 0, 1, /**/ 0, 1, 0, 1, 0, /**/ 0, 0, 1, 0, 0, /**/ 0, 1, 0, 1, 0,
              /**/ 1, 0, 0, 0, 1);
}

Test(tfdocs_array, tensor_scatter_nd_update_errors) {
    /* CPU: an out of bound index is an error; updates.shape must be
     * batch_shape + inner_shape; index_depth <= rank(tensor). */
    ct_tensor *tensor = ct_zeros(CT_INT32, CT_DIMS(8));
    CT_FAILS(ct_tensor_scatter_nd_update(tensor, CT_I32(CT_DIMS(2, 1), 1, 8),
                                         CT_I32(CT_DIMS(2), 9, 10)),
             "does not index into shape");
    CT_FAILS(ct_tensor_scatter_nd_update(tensor, CT_I32(CT_DIMS(2, 1), 1, 3),
                                         CT_I32(CT_DIMS(3), 9, 10, 11)),
             "updates must have shape");
    CT_FAILS(ct_tensor_scatter_nd_update(tensor, CT_I32(CT_DIMS(1, 2), 1, 3),
                                         CT_I32(CT_DIMS(1), 9)),
             "index innermost dimension");
    CT_FAILS(ct_tensor_scatter_nd_update(tensor, CT_I32(CT_DIMS(2, 1), 1, 3),
                                         CT_F32(CT_DIMS(2), 9, 10)),
             "different dtypes");
}

/* The docs: "The one exception is that the batch_shape cannot be []. You
 * can't update a single index by passing indices with shape
 * [index_depth]." TF's kernels (TensorScatterOp and ScatterNdOp in
 * scatter_nd_op.cc) reject updates of rank 0 ("Updates shape must have rank
 * at least one. Found:[]"); so do ct_scatter_nd and the tensor_scatter ops. */
Test(tfdocs_array, tensor_scatter_nd_update_error_empty_batch_shape) {
    ct_tensor *tensor = ct_zeros(CT_INT32, CT_DIMS(3, 3));
    CT_FAILS(ct_tensor_scatter_nd_update(tensor, CT_I32(CT_DIMS(2), 1, 1), CT_I32(CT_SCALAR, 5)),
             "ct_tensor_scatter_nd_update");
    CT_FAILS(ct_tensor_scatter_nd_add(tensor, CT_I32(CT_DIMS(2), 1, 1), CT_I32(CT_SCALAR, 5)),
             "ct_tensor_scatter_nd_add");
    CT_FAILS(ct_scatter_nd(CT_I32(CT_DIMS(2), 1, 1), CT_I32(CT_SCALAR, 5), CT_DIMS(3, 3)),
             "ct_scatter_nd");
}

Test(tfdocs_array, tensor_scatter_nd_add_vector) {
    ct_tensor *tensor = ct_ones(CT_INT32, CT_DIMS(8));
    ct_tensor *indices = CT_I32(CT_DIMS(4, 1), 4, 3, 1, 7);
    ct_tensor *updates = CT_I32(CT_DIMS(4), 9, 10, 11, 12);
    CT_EXPECT(ct_tensor_scatter_nd_add(tensor, indices, updates), CT_INT32, CT_DIMS(8), 0, 1, 12,
              1, 11, 10, 1, 1, 13);
}

/* Two [4,4] blocks with rows of 5, 6, 7, 8. */
static ct_tensor *blocks5678(void) {
    return CT_I32(CT_DIMS(2, 4, 4), 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8, /**/ 5, 5, 5,
                  5, 6, 6, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8);
}

Test(tfdocs_array, tensor_scatter_nd_add_slices) {
    ct_tensor *tensor = ct_ones(CT_INT32, CT_DIMS(4, 4, 4));
    ct_tensor *r = ct_tensor_scatter_nd_add(tensor, CT_I32(CT_DIMS(2, 1), 0, 2), blocks5678());
    double want[64];
    for (int b = 0; b < 4; b++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) want[b * 16 + i * 4 + j] = (b % 2 == 0) ? 6 + i : 1;
    ct_expect(r, CT_INT32, CT_DIMS(4, 4, 4), want, 0);
}

Test(tfdocs_array, tensor_scatter_nd_update_raw_example) {
    /* tf.tensor_scatter_nd_update(tf.ones([8], int32), [[4],[3],[1],[7]],
     * [9,10,11,12]) -> [1, 11, 1, 10, 9, 1, 1, 12] */
    ct_tensor *r = ct_tensor_scatter_nd_update(ct_ones(CT_INT32, CT_DIMS(8)),
                                               CT_I32(CT_DIMS(4, 1), 4, 3, 1, 7),
                                               CT_I32(CT_DIMS(4), 9, 10, 11, 12));
    CT_EXPECT(r, CT_INT32, CT_DIMS(8), 0, 1, 11, 1, 10, 9, 1, 1, 12);
}

Test(tfdocs_array, scatter_nd_vector) {
    ct_tensor *r = ct_scatter_nd(CT_I32(CT_DIMS(4, 1), 4, 3, 1, 7),
                                 CT_I32(CT_DIMS(4), 9, 10, 11, 12), CT_DIMS(8));
    CT_EXPECT(r, CT_INT32, CT_DIMS(8), 0, 0, 11, 0, 10, 9, 0, 0, 12);
}

Test(tfdocs_array, scatter_nd_slices) {
    ct_tensor *r = ct_scatter_nd(CT_I32(CT_DIMS(2, 1), 0, 2), blocks5678(), CT_DIMS(4, 4, 4));
    double want[64];
    for (int b = 0; b < 4; b++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) want[b * 16 + i * 4 + j] = (b % 2 == 0) ? 5 + i : 0;
    ct_expect(r, CT_INT32, CT_DIMS(4, 4, 4), want, 0);
}

Test(tfdocs_array, scatter_nd_equals_tensor_scatter_add_on_zeros) {
    /* tf.scatter_nd(indices, updates, shape) is
     * tf.tensor_scatter_nd_add(tf.zeros(shape, updates.dtype), ...); the
     * duplicates are summed. */
    ct_tensor *indices = CT_I32(CT_DIMS(5, 1), 4, 3, 1, 7, 4);
    ct_tensor *updates = CT_F32(CT_DIMS(5), 9, 10, 11, 12, 0.5f);
    ct_tensor *a = ct_scatter_nd(indices, updates, CT_DIMS(8));
    ct_tensor *b = ct_tensor_scatter_nd_add(ct_zeros(CT_FLOAT32, CT_DIMS(8)), indices, updates);
    CT_EXPECT(a, CT_FLOAT32, CT_DIMS(8), 0, 0, 11, 0, 10, 9.5, 0, 0, 12);
    expect_same(a, b);
}

Test(tfdocs_array, scatter_nd_errors) {
    /* indices.shape[-1] <= shape.rank; updates.shape ==
     * indices.shape[:-1] + shape[indices.shape[-1]:]; indices in range. */
    ct_tensor *u = CT_I32(CT_DIMS(4), 9, 10, 11, 12);
    CT_FAILS(ct_scatter_nd(CT_I32(CT_DIMS(4, 2), 4, 0, 3, 0, 1, 0, 7, 0), u, CT_DIMS(8)),
             "index innermost dimension");
    CT_FAILS(ct_scatter_nd(CT_I32(CT_DIMS(4, 1), 4, 3, 1, 7), u, CT_DIMS(8, 2)),
             "updates must have shape");
    CT_FAILS(ct_scatter_nd(CT_I32(CT_DIMS(4, 1), 4, 3, 1, 8), u, CT_DIMS(8)), "does not index into shape");
}

/* ---- tf.stack, tf.unstack -------------------------------------------------- */

Test(tfdocs_array, stack) {
    ct_tensor *x = CT_I32(CT_DIMS(2), 1, 4), *y = CT_I32(CT_DIMS(2), 2, 5),
              *z = CT_I32(CT_DIMS(2), 3, 6);
    CT_EXPECT(ct_stack(3, (ct_tensor *[]){x, y, z}, 0), CT_INT32, CT_DIMS(3, 2), 0, 1, 4, 2, 5,
              3, 6);
    CT_EXPECT(ct_stack(3, (ct_tensor *[]){x, y, z}, 1), CT_INT32, CT_DIMS(2, 3), 0, 1, 2, 3, 4,
              5, 6);
}

Test(tfdocs_array, stack_errors) {
    /* ValueError: If axis is out of the range [-(R+1), R+1). */
    ct_tensor *x = CT_I32(CT_DIMS(2), 1, 4), *y = CT_I32(CT_DIMS(2), 2, 5);
    ct_expect_shape(ct_stack(2, (ct_tensor *[]){x, y}, -2), CT_DIMS(2, 2));
    CT_FAILS(ct_stack(2, (ct_tensor *[]){x, y}, 2), "out of range");
    CT_FAILS(ct_stack(2, (ct_tensor *[]){x, y}, -3), "out of range");
    CT_FAILS(ct_stack(2, (ct_tensor *[]){x, CT_I32(CT_DIMS(3), 1, 2, 3)}, 0), "must match");
}

Test(tfdocs_array, unstack) {
    ct_tensor *x = ct_reshape(ct_range(0, 12, 1, CT_INT32), CT_DIMS(3, 4));
    ct_tensor *pqr[3];
    CT_STATUS_OK(ct_unstack(x, 0, pqr));
    CT_EXPECT(pqr[0], CT_INT32, CT_DIMS(4), 0, 0, 1, 2, 3);
    CT_EXPECT(pqr[2], CT_INT32, CT_DIMS(4), 0, 8, 9, 10, 11);
    ct_tensor *ijkl[4];
    CT_STATUS_OK(ct_unstack(x, 1, ijkl));
    CT_EXPECT(ijkl[0], CT_INT32, CT_DIMS(3), 0, 0, 4, 8);
    /* The opposite of stack: tf.stack([i, j, k, l], axis=1) is x. */
    expect_same(ct_stack(4, ijkl, 1), x);
}

Test(tfdocs_array, unstack_general) {
    ct_tensor *t = ct_random_normal(CT_DIMS(2, 3, 4, 5), &(ct_random_opts){.seed = 7});
    ct_tensor *items[4];
    CT_STATUS_OK(ct_unstack(t, 2, items));
    for (int i = 0; i < 4; i++) {
        ct_expect_shape(items[i], CT_DIMS(2, 3, 5));
        ct_index ix[4] = {{.kind = CT_IX_RANGE}, {.kind = CT_IX_RANGE},
                          {.kind = CT_IX_INDEX, .start = i}, {.kind = CT_IX_RANGE}};
        expect_same(ct_strided_slice(t, 4, ix), items[i]);
    }
}

Test(tfdocs_array, unstack_errors) {
    /* ValueError: If axis is out of the range [-R, R); a rank-0 value. */
    ct_tensor *x = ct_zeros(CT_INT32, CT_DIMS(3, 4));
    ct_tensor *out[4];
    CT_STATUS_OK(ct_unstack(x, -1, out));
    ct_expect_shape(out[0], CT_DIMS(3));
    cr_assert_neq(ct_unstack(x, 2, out), CT_OK);
    cr_assert(strstr(ct_last_error(), "ct_unstack") != NULL, "%s", ct_last_error());
    ct_clear_error();
    cr_assert_neq(ct_unstack(x, -3, out), CT_OK);
    ct_clear_error();
    cr_assert_neq(ct_unstack(ct_scalar(1), 0, out), CT_OK);
    cr_assert(strstr(ct_last_error(), "ct_unstack") != NULL, "%s", ct_last_error());
}

/* ---- tf.tile --------------------------------------------------------------- */

Test(tfdocs_array, tile) {
    ct_tensor *a = t23();
    CT_EXPECT(ct_tile(a, (const int64_t[]){1, 2}), CT_INT32, CT_DIMS(2, 6), 0, 1, 2, 3, 1, 2, 3,
              4, 5, 6, 4, 5, 6);
    CT_EXPECT(ct_tile(a, (const int64_t[]){2, 1}), CT_INT32, CT_DIMS(4, 3), 0, 1, 2, 3, 4, 5, 6,
              1, 2, 3, 4, 5, 6);
    CT_EXPECT(ct_tile(a, (const int64_t[]){2, 2}), CT_INT32, CT_DIMS(4, 6), 0, 1, 2, 3, 1, 2, 3,
              4, 5, 6, 4, 5, 6, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6);
    /* Tiling [a b c d] by [2] produces [a b c d a b c d]. */
    CT_EXPECT(ct_tile(CT_I32(CT_DIMS(4), 1, 2, 3, 4), (const int64_t[]){2}), CT_INT32,
              CT_DIMS(8), 0, 1, 2, 3, 4, 1, 2, 3, 4);
}

Test(tfdocs_array, tile_error_negative) {
    CT_FAILS(ct_tile(t23(), (const int64_t[]){-1, 2}), "non-negative");
}

/* ---- tf.reverse ------------------------------------------------------------ */

Test(tfdocs_array, reverse) {
    ct_tensor *t = iota(CT_INT32, CT_DIMS(1, 2, 3, 4), 0);
    const double last[24] = {3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8,
                             15, 14, 13, 12, 19, 18, 17, 16, 23, 22, 21, 20};
    ct_expect(ct_reverse(t, CT_AXES(3)), CT_INT32, CT_DIMS(1, 2, 3, 4), last, 0);
    ct_expect(ct_reverse(t, CT_AXES(-1)), CT_INT32, CT_DIMS(1, 2, 3, 4), last, 0);
    const double one[24] = {12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
                            0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11};
    ct_expect(ct_reverse(t, CT_AXES(1)), CT_INT32, CT_DIMS(1, 2, 3, 4), one, 0);
    ct_expect(ct_reverse(t, CT_AXES(-3)), CT_INT32, CT_DIMS(1, 2, 3, 4), one, 0);
    const double two[24] = {8,  9,  10, 11, 4,  5,  6,  7,  0,  1,  2,  3,
                            20, 21, 22, 23, 16, 17, 18, 19, 12, 13, 14, 15};
    ct_expect(ct_reverse(t, CT_AXES(2)), CT_INT32, CT_DIMS(1, 2, 3, 4), two, 0);
    ct_expect(ct_reverse(t, CT_AXES(-2)), CT_INT32, CT_DIMS(1, 2, 3, 4), two, 0);
}

Test(tfdocs_array, reverse_errors) {
    /* "If an index is specified more than once, a InvalidArgument error is
     * raised"; axes must be in range. No axes is the identity. */
    ct_tensor *t = iota(CT_INT32, CT_DIMS(1, 2, 3, 4), 0);
    expect_same(ct_reverse(t, (const int[]){0}, 0), t);
    CT_FAILS(ct_reverse(t, CT_AXES(1, 1)), "listed twice");
    CT_FAILS(ct_reverse(t, CT_AXES(1, -3)), "listed twice");
    CT_FAILS(ct_reverse(t, CT_AXES(4)), "out of range");
}

/* ---- tf.broadcast_to ------------------------------------------------------- */

Test(tfdocs_array, broadcast_to) {
    CT_EXPECT(ct_broadcast_to(CT_I32(CT_DIMS(1, 3), 1, 2, 3), CT_DIMS(2, 3)), CT_INT32,
              CT_DIMS(2, 3), 0, 1, 2, 3, 1, 2, 3);
    CT_EXPECT(ct_broadcast_to(CT_I32(CT_DIMS(3), 1, 2, 3), CT_DIMS(2, 3)), CT_INT32,
              CT_DIMS(2, 3), 0, 1, 2, 3, 1, 2, 3);
    CT_EXPECT(ct_broadcast_to(CT_I32(CT_DIMS(3), 1, 2, 3), CT_DIMS(3, 3)), CT_INT32,
              CT_DIMS(3, 3), 0, 1, 2, 3, 1, 2, 3, 1, 2, 3);
    CT_EXPECT(ct_broadcast_to(CT_I32(CT_DIMS(3), 1, 2, 3), CT_DIMS(5, 3)), CT_INT32,
              CT_DIMS(5, 3), 0, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3);
}

Test(tfdocs_array, broadcast_to_errors) {
    /* Compatible: each dimension pair equal or one of them 1. */
    CT_FAILS(ct_broadcast_to(CT_I32(CT_DIMS(3), 1, 2, 3), CT_DIMS(2, 2)), "cannot broadcast");
    CT_FAILS(ct_broadcast_to(CT_I32(CT_DIMS(2, 3), 1, 2, 3, 4, 5, 6), CT_DIMS(3)),
             "cannot broadcast");
}

/* ---- tf.range, tf.linspace, tf.eye, tf.cast -------------------------------- */

Test(tfdocs_array, range) {
    CT_EXPECT(ct_range(3, 18, 3, CT_INT32), CT_INT32, CT_DIMS(5), 0, 3, 6, 9, 12, 15);
    CT_EXPECT(ct_range(3, 1, -0.5, CT_FLOAT32), CT_FLOAT32, CT_DIMS(4), 0, 3, 2.5, 2, 1.5);
    CT_EXPECT(ct_range(0, 5, 1, CT_INT32), CT_INT32, CT_DIMS(5), 0, 0, 1, 2, 3, 4);
}

Test(tfdocs_array, range_errors) {
    /* Requires delta != 0, and start <= limit for delta > 0 (start >= limit
     * for delta < 0). */
    CT_FAILS(ct_range(0, 5, 0, CT_INT32), "Requires delta != 0");
    CT_FAILS(ct_range(5, 0, 1, CT_INT32), "Requires start <= limit");
    CT_FAILS(ct_range(0, 5, -1, CT_INT32), "Requires start >= limit");
}

Test(tfdocs_array, linspace) {
    CT_EXPECT(ct_linspace(10.0, 12.0, 3, CT_FLOAT32), CT_FLOAT32, CT_DIMS(3), 0, 10, 11, 12);
}

/* TF's LinSpace kernel and shape function require num > 0 ("Requires num >
 * 0: 0"); tf.linspace's docstring: "If num <= 0, ValueError is raised." */
Test(tfdocs_array, linspace_errors) {
    CT_FAILS(ct_linspace(10.0, 12.0, 0, CT_FLOAT32), "ct_linspace");
}

Test(tfdocs_array, eye) {
    CT_EXPECT(ct_eye(2, 0, CT_FLOAT32), CT_FLOAT32, CT_DIMS(2, 2), 0, 1, 0, 0, 1);
    CT_EXPECT(ct_eye(2, 3, CT_FLOAT32), CT_FLOAT32, CT_DIMS(2, 3), 0, 1, 0, 0, 0, 1, 0);
}

Test(tfdocs_array, cast) {
    ct_tensor *x = CT_F32(CT_DIMS(2), 1.8f, 2.2f);
    CT_EXPECT(ct_cast(x, CT_INT32), CT_INT32, CT_DIMS(2), 0, 1, 2);
}
