/*
 * ctrain runtime: tensors, dtypes, devices, scopes, variables, errors, RNG
 * seeds and the gradient tape.
 *
 *     ct_scope_begin();
 *     ct_tensor *x = ct_constant((float[]){1, 2, 3, 4}, CT_FLOAT32, CT_DIMS(2, 2));
 *     ct_tape *tape = ct_tape_begin(NULL);
 *     ct_tape_watch(tape, x);
 *     ct_tensor *y = ct_reduce_sum(ct_square(x), CT_ALL, false);
 *     ct_tape_end(tape);
 *     ct_tensor *dy_dx;
 *     if (ct_tape_gradient(tape, y, 1, &x, &dy_dx, NULL) != CT_OK)
 *         fprintf(stderr, "%s\n", ct_last_error());
 *     ct_tensor_print(dy_dx, stdout);            // [[2. 4.] [6. 8.]]
 *     ct_tape_free(tape);
 *     ct_scope_end();                            // frees x, y, dy_dx, ...
 *
 * Ownership. Tensors are immutable and reference counted. Every tensor a
 * function returns belongs to the innermost open scope (ct_scope_begin /
 * ct_scope_end) and is released when that scope ends; ct_keep() moves one
 * to the enclosing scope. With no scope open, the caller owns the returned
 * reference and releases it with ct_tensor_free(). Objects with a lifetime
 * (tapes, variables) have _new/_free (or _begin/_free) pairs.
 *
 * Errors. Functions returning a pointer return NULL on failure; functions
 * returning ct_status return CT_OK (0) or an error code. Either way the
 * thread's last error holds a message naming the function, the shapes and
 * the cause: ct_last_error(). Every op given a NULL input returns NULL at
 * once, keeping the first error, so a chain of ops is checked once at its
 * end. Nothing in the library exits or aborts on a caller's mistake.
 *
 * Threads. Scopes, tapes, the device scope and the last error are per
 * thread; tensors may be shared between threads.
 */
#ifndef CTRAIN_RUNTIME_H
#define CTRAIN_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status and errors ------------------------------------------------ */

typedef int ct_status;
enum {
    CT_OK = 0,
    CT_ERR_INVALID_ARGUMENT = 1, /* a shape, dtype, axis or value is wrong */
    CT_ERR_OUT_OF_MEMORY = 2,    /* an allocator limit was reached         */
    CT_ERR_UNIMPLEMENTED = 3,    /* no kernel for this dtype or device     */
    CT_ERR_OUT_OF_RANGE = 4,     /* an index is outside a dimension        */
    CT_ERR_NOT_FOUND = 5,        /* a device or a name does not exist      */
    CT_ERR_NUMERIC = 6,          /* e.g. a matrix is singular / not SPD    */
    CT_ERR_INTERNAL = 7,         /* a library or driver call failed        */
    CT_ERR_DEADLINE_EXCEEDED = 8, /* a wait ran past its deadline (a
                                     collective whose ranks did not come) */
};

/* The message of the thread's last error ("" when none). */
const char *ct_last_error(void);
/* The code of the thread's last error (CT_OK when none). */
ct_status ct_last_status(void);
/* Forgets the thread's last error. */
void ct_clear_error(void);
/* The name of a status code ("CT_ERR_INVALID_ARGUMENT"). */
const char *ct_status_name(ct_status s);

/* ---- dtypes and shapes ------------------------------------------------ */

typedef enum {
    CT_FLOAT32 = 0, /* the default                                    */
    CT_FLOAT64,
    CT_FLOAT16,     /* storage and conversion; math runs in float32   */
    CT_BFLOAT16,    /* storage and conversion; math runs in float32   */
    CT_INT32,
    CT_INT64,
    CT_UINT8,
    CT_BOOL,
    CT_NUM_DTYPES
} ct_dtype;

#define CT_MAX_RANK 8

/* TensorFlow's dtype name: "float32", "int64", "bool", ... */
const char *ct_dtype_name(ct_dtype dt);
/* Bytes per element (0 for an invalid dtype). */
size_t ct_dtype_size(ct_dtype dt);
bool ct_dtype_is_float(ct_dtype dt);   /* float16/32/64 and bfloat16 */
bool ct_dtype_is_integer(ct_dtype dt); /* int32, int64, uint8         */

/* Scalar conversions between float and the 16-bit formats
 * (round to nearest even; NaN and infinities preserved). */
uint16_t ct_f32_to_f16(float f);
float ct_f16_to_f32(uint16_t h);
uint16_t ct_f32_to_bf16(float f);
float ct_bf16_to_f32(uint16_t h);

/* Shape literals: ct_zeros(CT_FLOAT32, CT_DIMS(2, 3)) expands to
 * ct_zeros(CT_FLOAT32, 2, (const int64_t[]){2, 3}). A scalar is CT_SCALAR. */
#define CT_DIMS(...)                                                          \
    (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),                \
        (const int64_t[]) { __VA_ARGS__ }
#define CT_SCALAR 0, (const int64_t *)NULL

/* ---- devices ---------------------------------------------------------- */

typedef struct ct_device ct_device;
typedef enum { CT_DEVICE_CPU = 0, CT_DEVICE_CUDA = 1, CT_NUM_DEVICE_KINDS } ct_device_kind;

typedef struct ct_memory_stats {
    size_t in_use;       /* bytes held by live tensors                  */
    size_t peak_in_use;  /* the most in_use has been                    */
    size_t reserved;     /* bytes obtained from the system (cached too) */
    size_t limit;        /* the most the allocator may reserve          */
    int64_t num_allocs;  /* allocations served so far                   */
    int64_t num_ooms;    /* requests refused for the limit              */
} ct_memory_stats;

/* Number of devices of a kind that are visible (CPU: always 1). */
int ct_device_count(ct_device_kind kind);
/* The device kind:index, or NULL with CT_ERR_NOT_FOUND. Borrowed: devices
 * live until the process ends. */
ct_device *ct_device_get(ct_device_kind kind, int index);
/* The device new tensors are placed on when no input decides: the
 * innermost ct_device_scope_begin(), else the CPU. (TensorFlow prefers the
 * first GPU; ctrain will too once the full GPU backend lands.) */
ct_device *ct_default_device(void);
/* Pushes / pops the thread's device for new tensors. */
void ct_device_scope_begin(ct_device *dev);
void ct_device_scope_end(void);
ct_device_kind ct_device_kind_of(const ct_device *dev);
int ct_device_index(const ct_device *dev);
/* TensorFlow's name: "/device:CPU:0", "/device:GPU:0". */
const char *ct_device_name(const ct_device *dev);
ct_status ct_device_memory_stats(ct_device *dev, ct_memory_stats *out);
/* Sets the allocator's limit in bytes (0 = no limit beyond the device's
 * memory). Fails if more than that is in use already. */
ct_status ct_device_set_memory_limit(ct_device *dev, size_t bytes);
/* true: reserve memory as needed (TensorFlow's memory growth); false:
 * reserve the whole limit at the first allocation. Default true on the
 * CPU. Must be called before the device's first allocation. */
ct_status ct_device_set_memory_growth(ct_device *dev, bool growth);
/* Returns cached, unused memory to the system. */
void ct_device_empty_cache(ct_device *dev);
/* Waits for all work queued on the device. */
ct_status ct_device_synchronize(ct_device *dev);

/* ---- threads ---------------------------------------------------------- */

/* One thread budget per process, shared by ctrain's own kernels, OpenMP,
 * oneDNN and OpenBLAS. The default is the number of cores divided among
 * the ranks on this node under mpirun (at least 1). n <= 0 restores it.
 * Threads that run ctrain's kernels flush denormal floats to zero (FTZ and
 * DAZ on x86), as TensorFlow's CPU threads do. */
void ct_set_num_threads(int n);
int ct_get_num_threads(void);

/* ---- tensors ---------------------------------------------------------- */

typedef struct ct_tensor ct_tensor;

/* A tensor of dtype and shape holding a copy of `data` (row-major host
 * memory of ct_dtype_size(dtype) * elements bytes), on the default device.
 * data == NULL gives zeros. */
ct_tensor *ct_constant(const void *data, ct_dtype dtype, int rank, const int64_t *shape);
/* A rank-0 float32 tensor. */
ct_tensor *ct_scalar(double value);
/* A rank-0 tensor of the given dtype (value converted as by ct_cast). */
ct_tensor *ct_scalar_of(ct_dtype dtype, double value);

ct_dtype ct_tensor_dtype(const ct_tensor *t);
int ct_tensor_rank(const ct_tensor *t);
/* The shape (rank entries; NULL for rank 0). Valid while t lives. */
const int64_t *ct_tensor_shape(const ct_tensor *t);
/* Dimension `axis`; negative counts from the end. -1 for a bad axis. */
int64_t ct_tensor_dim(const ct_tensor *t, int axis);
/* Number of elements. */
int64_t ct_tensor_size(const ct_tensor *t);
ct_device *ct_tensor_device(const ct_tensor *t);
/* A process-unique id (what tapes key on). */
int64_t ct_tensor_id(const ct_tensor *t);

/* Copies the elements to host memory, converted to `as` (any dtype; as
 * ct_cast converts). `n` is the capacity of dst in elements and must be at
 * least ct_tensor_size(t). */
ct_status ct_tensor_read(const ct_tensor *t, ct_dtype as, void *dst, int64_t n);
/* The value of a one-element tensor as a double (NaN and an error when t
 * is NULL or has more than one element). */
double ct_item(const ct_tensor *t);
/* The element at flat (row-major) index i as a double. */
double ct_tensor_get(const ct_tensor *t, int64_t i);
/* Prints what print(t) shows in TensorFlow: numpy's formatting inside
 * tf.Tensor(...), e.g. "tf.Tensor(\n[[1 2]\n [3 4]], shape=(2, 2),
 * dtype=int32)". Over 1000 elements are summarised with "...". */
void ct_tensor_print(const ct_tensor *t, FILE *f);
/* Writes the shape as "[2,3]" into buf (always NUL-terminated). */
const char *ct_shape_str(int rank, const int64_t *shape, char *buf, size_t cap);

/* Adds a reference owned by the caller (released with ct_tensor_free). */
ct_tensor *ct_tensor_ref(ct_tensor *t);
/* Releases one reference: the scope's if t belongs to a scope (t then no
 * longer does), else the caller's. NULL is ignored. */
void ct_tensor_free(ct_tensor *t);

/* ---- scopes ----------------------------------------------------------- */

/* Opens a scope: tensors returned from now on belong to it. */
void ct_scope_begin(void);
/* Closes the innermost scope, releasing its tensors. */
void ct_scope_end(void);
/* Moves t from the innermost scope to the enclosing one (to the caller
 * when it is the outermost). Returns t; NULL passes through. */
ct_tensor *ct_keep(ct_tensor *t);
/* Number of open scopes on this thread. */
int ct_scope_depth(void);
/* Number of tensors alive in this process (for leak checks in tests). */
int64_t ct_live_tensors(void);

/* ---- variables -------------------------------------------------------- */

typedef struct ct_variable ct_variable;

typedef struct ct_variable_opts {
    const char *name;    /* NULL: "Variable"                            */
    bool non_trainable;  /* TF's trainable=False: tapes do not watch it */
} ct_variable_opts;

/* A variable holding a copy of `initial` (its dtype and shape are fixed
 * from then on). opts may be NULL. Free with ct_variable_free. */
ct_variable *ct_variable_new(const ct_tensor *initial, const ct_variable_opts *opts);
void ct_variable_free(ct_variable *v);
/* The variable as a tensor input to ops (borrowed; lives as long as v).
 * Ops read its value when they run; tapes record the read, so gradients
 * with respect to this tensor are gradients with respect to v. Trainable
 * variables are watched automatically. */
ct_tensor *ct_variable_value(ct_variable *v);
/* A snapshot of the current value, owned like any op result. */
ct_tensor *ct_variable_read(ct_variable *v);
const char *ct_variable_name(const ct_variable *v);
bool ct_variable_trainable(const ct_variable *v);
/* In-place updates; value must have the variable's dtype and shape. Tensors
 * read earlier keep their values. Not recorded on tapes (as in TF). */
ct_status ct_variable_assign(ct_variable *v, const ct_tensor *value);
ct_status ct_variable_assign_add(ct_variable *v, const ct_tensor *delta);
ct_status ct_variable_assign_sub(ct_variable *v, const ct_tensor *delta);

/* ---- random seeds ----------------------------------------------------- */

/* tf.random.set_seed: sets the global seed and restarts the op-seed
 * counter, so a program's random ops repeat their numbers. */
void ct_set_random_seed(int64_t seed);
/* Clears the global seed (random ops draw fresh numbers every run). */
void ct_clear_random_seed(void);

/* ---- gradient tape ---------------------------------------------------- */

typedef struct ct_tape ct_tape;

typedef struct ct_tape_opts {
    bool persistent;           /* allow several ct_tape_gradient calls */
    bool no_watch_variables;   /* TF's watch_accessed_variables=False  */
} ct_tape_opts;

typedef struct ct_gradient_opts {
    /* TF's unconnected_gradients: false gives NULL for a source the target
     * does not depend on, true gives zeros of the source's shape. */
    bool unconnected_zero;
    /* Called on this thread as soon as source i's gradient is final (no op
     * the backward pass has still to walk adds to it), in the order the
     * pass finishes them: the last layers' first. grad holds the values
     * grads[i] will hold (NULL for an unconnected source without
     * unconnected_zero) and lives until the gradient call returns. Lets a
     * caller start work on early gradients (a data-parallel all-reduce)
     * while the pass goes on. A status other than CT_OK stops the pass and
     * is returned. */
    ct_status (*on_ready)(void *ctx, int i, const ct_tensor *grad);
    void *ready_ctx;
} ct_gradient_opts;

/* Starts recording on this thread (tapes nest; ops are recorded on every
 * active tape that watches one of their inputs). opts may be NULL. */
ct_tape *ct_tape_begin(const ct_tape_opts *opts);
/* Stops recording (the end of TF's `with` block); the tape stays usable
 * for ct_tape_gradient until ct_tape_free. Tapes end in LIFO order. */
ct_status ct_tape_end(ct_tape *tape);
/* Watches a floating-point tensor (or a variable's value tensor). */
ct_status ct_tape_watch(ct_tape *tape, const ct_tensor *t);
/* d(sum of target)/d(sources[i]) into grads[i] (owned by the scope). The
 * gradient ops run eagerly and are recorded on other active tapes, which
 * gives higher derivatives. A non-persistent tape allows one call. Integer
 * targets or sources are an error. opts may be NULL. */
ct_status ct_tape_gradient(ct_tape *tape, const ct_tensor *target, int n,
                           ct_tensor *const *sources, ct_tensor **grads,
                           const ct_gradient_opts *opts);
/* As ct_tape_gradient with a given upstream gradient (TF's
 * output_gradients) of the target's shape. */
ct_status ct_tape_gradient_ex(ct_tape *tape, const ct_tensor *target,
                              const ct_tensor *target_grad, int n,
                              ct_tensor *const *sources, ct_tensor **grads,
                              const ct_gradient_opts *opts);
/* Ends the tape if still recording, and frees it with what it recorded. */
void ct_tape_free(ct_tape *tape);

#ifdef __cplusplus
}
#endif
#endif
