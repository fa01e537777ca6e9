/*
 * ctrain ops: the low-level TensorFlow API in C.
 *
 *     ct_scope_begin();
 *     ct_tensor *a = ct_constant((float[]){1, 2, 3, 4, 5, 6}, CT_FLOAT32, CT_DIMS(2, 3));
 *     ct_tensor *b = ct_range(0, 3, 1, CT_FLOAT32);         // [0, 1, 2]
 *     ct_tensor *c = ct_add(a, b);                           // broadcast: [2,3]
 *     ct_tensor *s = ct_reduce_sum(c, CT_AXES(-1), true);   // [2,1]
 *     ct_tensor *row = ct_getitem(c, "1, ::-1");             // [3]: c[1, ::-1]
 *     ct_tensor *m = ct_matmul(a, ct_transpose(a, NULL));   // [2,2]
 *     ct_scope_end();
 *
 * Names, arguments, defaults and results follow TensorFlow (tf.*,
 * tf.math.*, tf.linalg.*). Every op runs on the device of its inputs
 * (inputs must share one device), is recorded on active gradient tapes,
 * and returns a new tensor owned by the innermost scope (see runtime.h),
 * or NULL with the thread's error set. A NULL input gives NULL at once.
 *
 * Conventions:
 * - Axes may be negative (counted from the end).
 * - Axis lists are (const int *axes, int naxes); CT_AXES(0, -1) writes
 *   both, CT_ALL (axes NULL) means every axis. naxes == 0 with a non-NULL
 *   list means no axis, as TF's axis=[].
 * - Binary elementwise ops broadcast by numpy's rules; both inputs must
 *   have the same dtype (use ct_cast, or ct_scalar_of for constants).
 * - float16 / bfloat16 inputs are computed in float32 and rounded back.
 * - Integer division and modulo follow Python: floordiv rounds toward
 *   -inf, floormod takes the divisor's sign; division by zero in integers
 *   is an error naming the op.
 * - Ops with several results write them through out-pointers and return
 *   ct_status.
 */
#ifndef CTRAIN_OPS_H
#define CTRAIN_OPS_H

#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CT_AXES(...)                                                          \
    (const int[]){__VA_ARGS__}, (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int))
#define CT_ALL (const int *)NULL, -1

/* ---- creation (tf.zeros, tf.range, tf.eye, tf.random.*, tf.cast) ------ */

ct_tensor *ct_zeros(ct_dtype dtype, int rank, const int64_t *shape);
ct_tensor *ct_ones(ct_dtype dtype, int rank, const int64_t *shape);
/* tf.fill: every element `value` (converted to dtype). */
ct_tensor *ct_fill(ct_dtype dtype, int rank, const int64_t *shape, double value);
ct_tensor *ct_zeros_like(const ct_tensor *t);
ct_tensor *ct_ones_like(const ct_tensor *t);
ct_tensor *ct_fill_like(const ct_tensor *t, double value);
/* tf.range(start, limit, delta): [start, limit) in steps of delta. */
ct_tensor *ct_range(double start, double limit, double delta, ct_dtype dtype);
/* tf.linspace: num evenly spaced values from start to stop inclusive. */
ct_tensor *ct_linspace(double start, double stop, int64_t num, ct_dtype dtype);
/* tf.eye(num_rows, num_columns): num_columns 0 means num_rows. */
ct_tensor *ct_eye(int64_t num_rows, int64_t num_columns, ct_dtype dtype);
/* tf.cast: float -> int truncates toward zero; -> bool is x != 0. */
ct_tensor *ct_cast(const ct_tensor *t, ct_dtype dtype);
/* The same values on another device (differentiable). */
ct_tensor *ct_to_device(const ct_tensor *t, ct_device *dev);
/* tf.identity and tf.stop_gradient. */
ct_tensor *ct_identity(const ct_tensor *t);
ct_tensor *ct_stop_gradient(const ct_tensor *t);

typedef struct ct_random_opts {
    ct_dtype dtype;   /* 0 = float32                                      */
    double minval;    /* uniform: [minval, maxval); both 0 means [0, 1)   */
    double maxval;
    double mean;      /* normal / truncated normal                        */
    double stddev;    /* 0 means 1                                        */
    int64_t seed;     /* the op seed; 0 = none (TF's seed=None)           */
} ct_random_opts;

/* tf.random.uniform / normal / truncated_normal with TF's seed rule: with
 * a global seed (ct_set_random_seed) and no op seed, the op seed comes from
 * a counter; with neither, the numbers differ each run. Integer uniform
 * needs maxval > minval. opts may be NULL. */
ct_tensor *ct_random_uniform(int rank, const int64_t *shape, const ct_random_opts *opts);
ct_tensor *ct_random_normal(int rank, const int64_t *shape, const ct_random_opts *opts);
ct_tensor *ct_truncated_normal(int rank, const int64_t *shape, const ct_random_opts *opts);
/* tf.random.stateless_uniform / stateless_normal / stateless_truncated_normal:
 * the same numbers for the same seed pair [seed[0], seed[1]] on every call
 * (as an int64 pair; an int32 pair is the same numbers widened with their
 * sign), TF's values with its Philox algorithm. opts as above, its seed
 * unused; integer uniform (int32, int64) needs minval < maxval. */
ct_tensor *ct_stateless_random_uniform(int rank, const int64_t *shape, const int64_t seed[2],
                                       const ct_random_opts *opts);
ct_tensor *ct_stateless_random_normal(int rank, const int64_t *shape, const int64_t seed[2],
                                      const ct_random_opts *opts);
ct_tensor *ct_stateless_truncated_normal(int rank, const int64_t *shape, const int64_t seed[2],
                                         const ct_random_opts *opts);

/* ---- structure ---------------------------------------------------------- */

/* tf.reshape; one dimension may be -1. Shares storage with t. */
ct_tensor *ct_reshape(const ct_tensor *t, int rank, const int64_t *shape);
/* tf.squeeze: removes the given size-1 axes (CT_ALL: every size-1 axis). */
ct_tensor *ct_squeeze(const ct_tensor *t, const int *axes, int naxes);
/* tf.expand_dims: a new size-1 axis at `axis` (in [-rank-1, rank]). */
ct_tensor *ct_expand_dims(const ct_tensor *t, int axis);
/* tf.transpose: perm NULL reverses the axes. */
ct_tensor *ct_transpose(const ct_tensor *t, const int *perm);
ct_tensor *ct_concat(int n, ct_tensor *const *ts, int axis);
ct_tensor *ct_stack(int n, ct_tensor *const *ts, int axis);
/* tf.unstack: out receives dim(axis) tensors. */
ct_status ct_unstack(const ct_tensor *t, int axis, ct_tensor **out);
/* tf.split into num equal parts along axis. */
ct_status ct_split(const ct_tensor *t, int num, int axis, ct_tensor **out);
/* tf.split with size_splits (one entry may be -1). */
ct_status ct_split_sizes(const ct_tensor *t, int n, const int64_t *sizes, int axis,
                         ct_tensor **out);
/* tf.tile: multiples has rank(t) entries. */
ct_tensor *ct_tile(const ct_tensor *t, const int64_t *multiples);

typedef enum { CT_PAD_CONSTANT = 0, CT_PAD_REFLECT, CT_PAD_SYMMETRIC } ct_pad_mode;
/* tf.pad: paddings is rank x 2 (before, after) per axis. */
ct_tensor *ct_pad(const ct_tensor *t, const int64_t *paddings, ct_pad_mode mode,
                  double constant_value);
/* tf.one_hot(indices, depth, on_value, off_value, axis, dtype):
 * out-of-range indices give an all-off row. axis -1 appends. */
ct_tensor *ct_one_hot(const ct_tensor *indices, int64_t depth, double on_value,
                      double off_value, int axis, ct_dtype dtype);
ct_tensor *ct_broadcast_to(const ct_tensor *t, int rank, const int64_t *shape);
/* tf.reverse along the given axes. */
ct_tensor *ct_reverse(const ct_tensor *t, const int *axes, int naxes);

/* ---- indexing ----------------------------------------------------------- */

/* tf.slice(t, begin, size): size -1 takes the rest of the axis. */
ct_tensor *ct_slice(const ct_tensor *t, const int64_t *begin, const int64_t *size);

/* One item of a numpy index expression. */
typedef enum {
    CT_IX_RANGE = 0,  /* start:stop:step                 */
    CT_IX_INDEX,      /* a single index (in .start): removes the axis */
    CT_IX_NEWAXIS,    /* None / tf.newaxis                */
    CT_IX_ELLIPSIS,   /* ...                              */
} ct_index_kind;
typedef struct ct_index {
    ct_index_kind kind;
    int64_t start, stop, step; /* step 0 means 1                      */
    bool has_start, has_stop;  /* false: the default end for the step */
} ct_index;

/* t[items]: numpy basic indexing (tf.Tensor.__getitem__) with negative
 * indices, steps (negative too), new axes and one ellipsis. */
ct_tensor *ct_strided_slice(const ct_tensor *t, int n, const ct_index *items);
/* The same from a string: ct_getitem(t, "1:, ::-1, None, ..., -1"). */
ct_tensor *ct_getitem(const ct_tensor *t, const char *index);

/* tf.gather(params, indices, axis, batch_dims); indices int32 or int64.
 * Out-of-range indices are an error naming the index (as TF on CPU). */
ct_tensor *ct_gather(const ct_tensor *params, const ct_tensor *indices, int axis,
                     int batch_dims);
/* tf.gather_nd(params, indices, batch_dims). */
ct_tensor *ct_gather_nd(const ct_tensor *params, const ct_tensor *indices, int batch_dims);
/* tf.boolean_mask(t, mask, axis): mask's shape must match t's from axis. */
ct_tensor *ct_boolean_mask(const ct_tensor *t, const ct_tensor *mask, int axis);
/* tf.where(cond, x, y): elements of x where cond, else y (broadcasting). */
ct_tensor *ct_where(const ct_tensor *cond, const ct_tensor *x, const ct_tensor *y);
/* tf.where(cond): int64 [num_true, rank] coordinates of true elements
 * (non-zero for numeric cond). */
ct_tensor *ct_where_coords(const ct_tensor *cond);
/* tf.scatter_nd(indices, updates, shape): duplicates add up. */
ct_tensor *ct_scatter_nd(const ct_tensor *indices, const ct_tensor *updates, int rank,
                         const int64_t *shape);
/* tf.tensor_scatter_nd_update / _add. */
ct_tensor *ct_tensor_scatter_nd_update(const ct_tensor *t, const ct_tensor *indices,
                                       const ct_tensor *updates);
ct_tensor *ct_tensor_scatter_nd_add(const ct_tensor *t, const ct_tensor *indices,
                                    const ct_tensor *updates);

/* ---- elementwise: binary, broadcasting --------------------------------- */

ct_tensor *ct_add(const ct_tensor *a, const ct_tensor *b);
ct_tensor *ct_subtract(const ct_tensor *a, const ct_tensor *b);
ct_tensor *ct_multiply(const ct_tensor *a, const ct_tensor *b);
/* tf.math.divide (true division): integers give float64, as TF. */
ct_tensor *ct_divide(const ct_tensor *a, const ct_tensor *b);
ct_tensor *ct_floordiv(const ct_tensor *a, const ct_tensor *b);
ct_tensor *ct_floormod(const ct_tensor *a, const ct_tensor *b);
ct_tensor *ct_pow(const ct_tensor *a, const ct_tensor *b);
ct_tensor *ct_maximum(const ct_tensor *a, const ct_tensor *b);
ct_tensor *ct_minimum(const ct_tensor *a, const ct_tensor *b);
ct_tensor *ct_squared_difference(const ct_tensor *a, const ct_tensor *b);
/* Comparisons give bool. */
ct_tensor *ct_equal(const ct_tensor *a, const ct_tensor *b);
ct_tensor *ct_not_equal(const ct_tensor *a, const ct_tensor *b);
ct_tensor *ct_less(const ct_tensor *a, const ct_tensor *b);
ct_tensor *ct_less_equal(const ct_tensor *a, const ct_tensor *b);
ct_tensor *ct_greater(const ct_tensor *a, const ct_tensor *b);
ct_tensor *ct_greater_equal(const ct_tensor *a, const ct_tensor *b);
/* Logical ops take and give bool. */
ct_tensor *ct_logical_and(const ct_tensor *a, const ct_tensor *b);
ct_tensor *ct_logical_or(const ct_tensor *a, const ct_tensor *b);
ct_tensor *ct_logical_xor(const ct_tensor *a, const ct_tensor *b);
ct_tensor *ct_logical_not(const ct_tensor *t);

/* ---- elementwise: unary ------------------------------------------------- */

ct_tensor *ct_negative(const ct_tensor *t);
ct_tensor *ct_abs(const ct_tensor *t);
ct_tensor *ct_sign(const ct_tensor *t);
ct_tensor *ct_sqrt(const ct_tensor *t);
ct_tensor *ct_rsqrt(const ct_tensor *t);
ct_tensor *ct_square(const ct_tensor *t);
ct_tensor *ct_reciprocal(const ct_tensor *t);
ct_tensor *ct_exp(const ct_tensor *t);
ct_tensor *ct_expm1(const ct_tensor *t);
ct_tensor *ct_log(const ct_tensor *t);
ct_tensor *ct_log1p(const ct_tensor *t);
ct_tensor *ct_sin(const ct_tensor *t);
ct_tensor *ct_cos(const ct_tensor *t);
ct_tensor *ct_tanh(const ct_tensor *t);
ct_tensor *ct_sigmoid(const ct_tensor *t);
ct_tensor *ct_relu(const ct_tensor *t);
ct_tensor *ct_softplus(const ct_tensor *t);
ct_tensor *ct_erf(const ct_tensor *t);
ct_tensor *ct_floor(const ct_tensor *t);
ct_tensor *ct_ceil(const ct_tensor *t);
/* tf.round: half to even. */
ct_tensor *ct_round(const ct_tensor *t);
ct_tensor *ct_is_nan(const ct_tensor *t);
ct_tensor *ct_is_inf(const ct_tensor *t);
ct_tensor *ct_is_finite(const ct_tensor *t);
/* tf.clip_by_value with scalar bounds (converted to t's dtype). */
ct_tensor *ct_clip_by_value(const ct_tensor *t, double clip_min, double clip_max);

/* ---- reductions and scans --------------------------------------------- */

ct_tensor *ct_reduce_sum(const ct_tensor *t, const int *axes, int naxes, bool keepdims);
ct_tensor *ct_reduce_mean(const ct_tensor *t, const int *axes, int naxes, bool keepdims);
ct_tensor *ct_reduce_max(const ct_tensor *t, const int *axes, int naxes, bool keepdims);
ct_tensor *ct_reduce_min(const ct_tensor *t, const int *axes, int naxes, bool keepdims);
ct_tensor *ct_reduce_prod(const ct_tensor *t, const int *axes, int naxes, bool keepdims);
/* bool input. */
ct_tensor *ct_reduce_all(const ct_tensor *t, const int *axes, int naxes, bool keepdims);
ct_tensor *ct_reduce_any(const ct_tensor *t, const int *axes, int naxes, bool keepdims);
ct_tensor *ct_reduce_logsumexp(const ct_tensor *t, const int *axes, int naxes, bool keepdims);
/* tf.math.reduce_std / reduce_variance (population: divides by N). */
ct_tensor *ct_reduce_std(const ct_tensor *t, const int *axes, int naxes, bool keepdims);
ct_tensor *ct_reduce_variance(const ct_tensor *t, const int *axes, int naxes, bool keepdims);
/* tf.argmax / argmin: int64; ties give the first index. */
ct_tensor *ct_argmax(const ct_tensor *t, int axis);
ct_tensor *ct_argmin(const ct_tensor *t, int axis);
ct_tensor *ct_cumsum(const ct_tensor *t, int axis, bool exclusive, bool reverse);
ct_tensor *ct_cumprod(const ct_tensor *t, int axis, bool exclusive, bool reverse);
/* tf.sort / tf.argsort (int32; stable) along axis. */
ct_tensor *ct_sort(const ct_tensor *t, int axis, bool descending);
ct_tensor *ct_argsort(const ct_tensor *t, int axis, bool descending);
/* tf.math.top_k along the last axis: values and int32 indices; ties keep
 * the lower index first. */
ct_status ct_top_k(const ct_tensor *t, int64_t k, bool sorted, ct_tensor **values,
                   ct_tensor **indices);
ct_tensor *ct_softmax(const ct_tensor *t, int axis);
ct_tensor *ct_log_softmax(const ct_tensor *t, int axis);

/* ---- matrices and linear algebra (tf.linalg) --------------------------- */

/* tf.matmul: [..., m, k] x [..., k, n]; batch dimensions broadcast. */
ct_tensor *ct_matmul(const ct_tensor *a, const ct_tensor *b);
ct_tensor *ct_matmul_ex(const ct_tensor *a, const ct_tensor *b, bool transpose_a,
                        bool transpose_b);
/* tf.linalg.matrix_transpose: swaps the last two axes. */
ct_tensor *ct_matrix_transpose(const ct_tensor *t);
/* tf.linalg.inv; a singular matrix is a CT_ERR_NUMERIC error. */
ct_tensor *ct_matrix_inverse(const ct_tensor *t);
ct_tensor *ct_matrix_determinant(const ct_tensor *t);
/* tf.linalg.slogdet: sign and log|det|. */
ct_status ct_log_matrix_determinant(const ct_tensor *t, ct_tensor **sign,
                                    ct_tensor **log_abs_det);
/* tf.linalg.trace over the last two axes. */
ct_tensor *ct_trace(const ct_tensor *t);
/* tf.norm(t, ord, axis, keepdims). ord 0 means 'euclidean' (Frobenius for
 * two axes); 1, 2, INFINITY and any p > 0 for vectors; 1, 2, INFINITY for
 * matrices (two axes). axes CT_ALL treats t as one vector. */
ct_tensor *ct_norm(const ct_tensor *t, double ord, const int *axes, int naxes,
                   bool keepdims);
/* tf.linalg.eigh: ascending eigenvalues and eigenvectors (columns). */
ct_status ct_eigh(const ct_tensor *t, ct_tensor **eigenvalues, ct_tensor **eigenvectors);
/* tf.linalg.eig for real input: ctrain has no complex dtype, so the complex
 * results come as real and imaginary parts. */
ct_status ct_eig(const ct_tensor *t, ct_tensor **w_real, ct_tensor **w_imag,
                 ct_tensor **v_real, ct_tensor **v_imag);
/* tf.linalg.lu: the packed LU factors and the int32 permutation p with
 * x[p] = L U. */
ct_status ct_lu(const ct_tensor *t, ct_tensor **lu, ct_tensor **p);
/* tf.linalg.qr(full_matrices=False by default). */
ct_status ct_qr(const ct_tensor *t, bool full_matrices, ct_tensor **q, ct_tensor **r);
/* tf.linalg.cholesky (lower); not positive definite: CT_ERR_NUMERIC. */
ct_tensor *ct_cholesky(const ct_tensor *t);
/* tf.linalg.svd: s descending; u, v (not v^T) when u and v are non-NULL. */
ct_status ct_svd(const ct_tensor *t, bool full_matrices, ct_tensor **s, ct_tensor **u,
                 ct_tensor **v);
/* tf.linalg.solve(matrix, rhs, adjoint). */
ct_tensor *ct_matrix_solve(const ct_tensor *matrix, const ct_tensor *rhs, bool adjoint);
/* tf.linalg.triangular_solve(matrix, rhs, lower=!upper, adjoint). */
ct_tensor *ct_triangular_solve(const ct_tensor *matrix, const ct_tensor *rhs, bool upper,
                               bool adjoint);

/* ---- more tf.math / tf.linalg ------------------------------------------ */

/* tf.math.add_n: the elementwise sum of n >= 1 tensors of one shape and
 * one numeric dtype (no broadcasting; a mismatch is an error naming the
 * input). n == 1 gives ts[0] itself (as ct_identity). */
ct_tensor *ct_add_n(int n, ct_tensor *const *ts);
/* tf.clip_by_norm: t * clip_norm / max(l2norm, clip_norm), the L2 norm
 * taken over `axes` (CT_ALL: every axis) with keepdims, so each slice is
 * clipped on its own. An all-zero slice passes through with a finite
 * gradient (TF's two-tap where); a negative clip_norm counts as 0. Float
 * t only. */
ct_tensor *ct_clip_by_norm(const ct_tensor *t, double clip_norm, const int *axes, int naxes);
/* tf.linalg.global_norm: sqrt(sum over the tensors of sum(t^2)), a scalar
 * of their dtype. NULL entries are skipped (TF's None); the others must
 * share one float dtype, and at least one must be given. */
ct_tensor *ct_global_norm(int n, ct_tensor *const *ts);
/* tf.clip_by_global_norm: out[i] = ts[i] * clip_norm / max(global_norm,
 * clip_norm) for n tensors of one float dtype; an inf or NaN global norm
 * makes every output NaN. NULL entries give NULL outputs (TF's None).
 * out receives n tensors; *global_norm (when non-NULL) the norm. All go to
 * the innermost scope; on error every out[i] is NULL. */
ct_status ct_clip_by_global_norm(int n, ct_tensor *const *ts, double clip_norm, ct_tensor **out,
                                 ct_tensor **global_norm);
/* tf.linalg.diag: [..., n] -> [..., n, n] with t on the main diagonal and
 * zeros elsewhere. Every dtype. */
ct_tensor *ct_matrix_diag(const ct_tensor *t);
/* tf.linalg.diag_part: [..., m, n] -> [..., min(m, n)], the main diagonal. */
ct_tensor *ct_matrix_diag_part(const ct_tensor *t);
/* tf.linalg.set_diag: t [..., m, n] with its main diagonal replaced by
 * diagonal [..., min(m, n)] (same batch dims and dtype). */
ct_tensor *ct_matrix_set_diag(const ct_tensor *t, const ct_tensor *diagonal);
/* tf.linalg.band_part: keeps t[..., i, j] where (num_lower < 0 ||
 * i - j <= num_lower) && (num_upper < 0 || j - i <= num_upper), zeros
 * the rest: (0, -1) upper triangle, (-1, 0) lower, (0, 0) diagonal.
 * num_lower > m or num_upper > n is an error, as TF. */
ct_tensor *ct_matrix_band_part(const ct_tensor *t, int64_t num_lower, int64_t num_upper);
/* tf.linalg.eigvalsh: the ascending eigenvalues of ct_eigh (with its
 * gradient). */
ct_tensor *ct_eigvalsh(const ct_tensor *t);
/* tf.linalg.eigvals for real input: the real and imaginary parts of the
 * eigenvalues, in ct_eig's order (no gradient, as ct_eig). */
ct_status ct_eigvals(const ct_tensor *t, ct_tensor **re, ct_tensor **im);
/* tf.math.unsorted_segment_sum / max / min / mean: segment_ids (int32 or
 * int64) has a prefix of data's shape; the result is [num_segments] +
 * data.shape[rank(segment_ids):], row s reducing the data rows whose id is
 * s. Negative ids drop their rows; ids >= num_segments are an error. Empty
 * segments hold 0 (sum, mean), the dtype's lowest value (max: -FLT_MAX
 * for float32, not -inf) or its highest (min). mean divides the sum by
 * max(count, 1), so integer data gives float64 (TF's true division). */
ct_tensor *ct_unsorted_segment_sum(const ct_tensor *data, const ct_tensor *segment_ids,
                                   int64_t num_segments);
ct_tensor *ct_unsorted_segment_max(const ct_tensor *data, const ct_tensor *segment_ids,
                                   int64_t num_segments);
ct_tensor *ct_unsorted_segment_min(const ct_tensor *data, const ct_tensor *segment_ids,
                                   int64_t num_segments);
ct_tensor *ct_unsorted_segment_mean(const ct_tensor *data, const ct_tensor *segment_ids,
                                    int64_t num_segments);
/* tf.math.segment_sum: segment_ids is a sorted vector of data's first
 * dimension; the result has (last id + 1) rows, empty segments 0. Ids
 * that decrease or are negative are an error. */
ct_tensor *ct_segment_sum(const ct_tensor *data, const ct_tensor *segment_ids);
/* tf.shape (int32 [rank]), tf.size (int32 scalar) and tf.rank (int32
 * scalar) as tensors on t's device; a value over int32's range is an
 * error. Not differentiable. */
ct_tensor *ct_shape_tensor(const ct_tensor *t);
ct_tensor *ct_size_tensor(const ct_tensor *t);
ct_tensor *ct_rank_tensor(const ct_tensor *t);

/* ---- neural-network ops (tf.nn) ---------------------------------------- */
/* Channels last throughout (Keras's default): x is [batch, spatial...,
 * channels] with 1, 2 or 3 spatial dimensions. Zero option fields take
 * the defaults (strides and dilations 1, padding "valid", groups 1). */
typedef struct ct_conv_opts {
    int strides[3];
    int dilations[3];
    const char *padding;  /* "valid" or "same" (TF's arithmetic: the total
                             padding max((ceil(in / s) - 1) * s + (k - 1) *
                             d + 1 - in, 0), its smaller half first)       */
    int groups;           /* channels split into groups (Conv's groups)    */
} ct_conv_opts;

/* tf.nn.convolution: kernel [k..., in / groups, out]; the result is
 * [batch, out spatial..., out]. Differentiable in x and kernel. */
ct_tensor *ct_conv(const ct_tensor *x, const ct_tensor *kernel, const ct_conv_opts *opts);
/* tf.nn.conv_transpose: kernel [k..., out, in]; output_spatial gives the
 * output's spatial size (NULL: Keras's deconv_output_length with no
 * output_padding: valid in * s + max(k' - s, 0), same in * s, where k' is
 * the dilated kernel). */
ct_tensor *ct_conv_transpose(const ct_tensor *x, const ct_tensor *kernel,
                             const int64_t *output_spatial, const ct_conv_opts *opts);
/* tf.nn.depthwise_conv2d (1 or 2 spatial dimensions): kernel
 * [k..., in, multiplier]; the result has in * multiplier channels, channel
 * c * multiplier + m from input channel c. */
ct_tensor *ct_depthwise_conv(const ct_tensor *x, const ct_tensor *kernel,
                             const ct_conv_opts *opts);

typedef struct ct_pool_opts {
    int pool_size[3];     /* required                                      */
    int strides[3];       /* 0: pool_size (Keras's default)                */
    const char *padding;  /* "valid" or "same"                             */
} ct_pool_opts;
/* tf.nn.max_pool / avg_pool over the spatial dimensions; avg_pool with
 * "same" divides by the number of elements inside the input (TF). */
ct_tensor *ct_max_pool(const ct_tensor *x, const ct_pool_opts *opts);
ct_tensor *ct_avg_pool(const ct_tensor *x, const ct_pool_opts *opts);

/* tf.nn.bias_add: bias [channels] added along the last axis. */
ct_tensor *ct_bias_add(const ct_tensor *x, const ct_tensor *bias);
/* tf.nn.moments: mean and (population) variance over the axes. */
ct_status ct_moments(const ct_tensor *x, const int *axes, int naxes, bool keepdims,
                     ct_tensor **mean, ct_tensor **variance);
/* tf.nn.batch_normalization: (x - mean) * rsqrt(variance + epsilon) *
 * scale + offset, the four broadcasting against x; offset and scale may
 * be NULL. */
ct_tensor *ct_batch_normalization(const ct_tensor *x, const ct_tensor *mean,
                                  const ct_tensor *variance, const ct_tensor *offset,
                                  const ct_tensor *scale, double epsilon);

#ifdef __cplusplus
}
#endif
#endif
