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

/* Asserts that expr returned a status other than CT_OK and that the error
 * mentions `needle`. */
#define CT_FAILS_STATUS(expr, needle)                                                     \
    do {                                                                                  \
        ct_clear_error();                                                                 \
        cr_assert_neq((expr), CT_OK, "expected an error containing \"%s\"", (needle));    \
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


/* ---- Keras layers ------------------------------------------------------------------ */

/* ct_test_begin plus ct_layer_reset_names, so automatic layer names start
 * afresh: TestSuite(suite, .init = ct_test_layer_begin, .fini = ct_test_end). */
void ct_test_layer_begin(void);
/* ct_layer_new(cls, cfg), failing the test with the library's message. */
ct_layer *ct_test_layer(const char *cls, const char *cfg);
/* Builds l for one input of the given shape (-1: unknown), asserting success. */
void ct_test_build(ct_layer *l, int rank, const int64_t *shape);

/* Element i of a deterministic test pattern picked by seed. */
typedef double (*ct_test_pat_fn)(int64_t i, int seed);
/* The default pattern: (((i + 3) * (7 + 2 seed) + seed) % 17 - 8) / 8, in [-1, 1]. */
double ct_test_pat(int64_t i, int seed);
/* A tensor of the given shape and dtype holding pat(i, seed) (ct_test_pat for
 * ct_test_pattern); when values is non-NULL, *values gets them (malloc'ed). */
ct_tensor *ct_test_pattern_with(ct_test_pat_fn pat, ct_dtype dtype, int rank,
                                const int64_t *shape, int seed, double **values);
ct_tensor *ct_test_pattern(ct_dtype dtype, int rank, const int64_t *shape, int seed,
                           double **values);
/* The values of t as float64, malloc'ed (free them). */
double *ct_test_read_all(const ct_tensor *t);

/* Assigns value to weight i of a built layer, asserting success. */
void ct_test_set_weight(ct_layer *l, int i, ct_tensor *value);
/* Sets weight i of a built layer to a pattern of its dtype and shape and
 * returns the values (free them). */
double *ct_test_fill_weight_with(ct_test_pat_fn pat, ct_layer *l, int i, int seed);
double *ct_test_fill_weight(ct_layer *l, int i, int seed);

/* A ct_test_fn calling ctx's layer on inputs[0..n_inputs), with its weights
 * weights[0..n_weights) taken from inputs[n_inputs..] (assigned unless they are
 * the variables' own value tensors, which the tape then sees being read). */
typedef struct ct_test_layer_ctx {
    ct_layer *layer;
    int n_inputs, n_weights, weights[4];
    bool training;
    int64_t reseed; /* > 0: ct_set_random_seed(reseed) before each call */
} ct_test_layer_ctx;
ct_tensor *ct_test_layer_fn(ct_tensor *const *inputs, void *ctx);
/* Gradient check (float64) of a one-input layer: ct_gradcheck on x, then the
 * tape's gradient of every trainable weight against central differences. */
void ct_test_layer_gradcheck(ct_layer *l, ct_tensor *x, bool training, double tol);

/* Removes the blanks outside strings that JSON separators may carry (", ",
 * ": "), so config fragments can be written compactly. */
void ct_test_squeeze_blanks(char *s);
/* Expects l's config (blanks squeezed) to contain fragment. */
void ct_test_config_has(const ct_layer *l, const char *fragment);
/* get_config -> from_config -> get_config gives the same text; returns the
 * new layer (free it). */
ct_layer *ct_test_layer_round_trip(ct_layer *l);
/* ct_test_config_has (unless fragment is NULL), then the round trip, freeing
 * the new layer. */
void ct_test_config_round_trip(ct_layer *l, const char *fragment);
/* Round-trips a's config, builds the copy for x, copies a's weights into it
 * and asserts both give the same inference output on x, bit for bit. */
void ct_test_layer_round_trip_output(ct_layer *a, ct_tensor *x);

#endif
