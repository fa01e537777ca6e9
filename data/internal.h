/*
 * How a dataset is built (private to data/). A dataset kind is a struct
 * whose first member is `ct_dataset`, with a `ct__dataset_vt`; its
 * iterator is a struct whose first member is `ct__iter`, with a
 * `ct__iter_vt`. A transform's iterator owns iterators of its inputs and
 * pulls from them with ct__iter_next.
 *
 *     typedef struct { ct_dataset base; ct_dataset *input; int64_t count; } take_ds;
 *     typedef struct { ct__iter base; ct__iter *input; int64_t left; } take_it;
 *
 *     static ct_status take_next(ct__iter *it, ct_element **out) {
 *         take_it *t = (take_it *)it;
 *         *out = NULL;
 *         if (t->left == 0) return CT_OK;
 *         ct_status st = ct__iter_next(t->input, out);
 *         if (!st && *out) t->left--;
 *         return st;
 *     }
 *     static ct_status take_save(ct__iter *it, ct__state_writer *w) {
 *         take_it *t = (take_it *)it;
 *         ct__sw_i64(w, t->left);
 *         return ct__iter_save(t->input, w);
 *     }
 *     ... restore reads the same fields in the same order ...
 *
 * Iterator state is a byte stream: each stage writes its own fields and
 * then its inputs' state, in a fixed order; restore reads them back in the
 * same order into a freshly made iterator of the same pipeline. The
 * writer/reader record the first error (st) so a stage can write or read
 * several fields and check once. ct__iter_save puts the stage's kind
 * (TF's class name) before its fields and ct__iter_restore checks it, and
 * a stage writes first the arguments that change what it produces
 * (ct__sr_param checks them), so a state restored into a different
 * pipeline fails naming the stage and what differs. Before the iterators
 * the stream holds the state of the datasets that have state of their
 * own (ct__dataset_vt's save_state), in the order of a depth-first walk
 * of the pipeline from its last stage.
 */
#ifndef CT_DATA_INTERNAL_H
#define CT_DATA_INTERNAL_H

#include <stdatomic.h>

#include "ctrain/data.h"
#include "runtime/internal.h"

/* ---- state streams ---------------------------------------------------------- */

typedef struct ct__state_writer {
    char *buf;
    size_t n, cap;
    ct_status st;  /* the first error */
    int64_t stage; /* stages written so far (for error messages) */
} ct__state_writer;

void ct__sw_i64(ct__state_writer *w, int64_t v);
void ct__sw_f64(ct__state_writer *w, double v);
void ct__sw_bytes(ct__state_writer *w, const void *p, size_t n); /* length-prefixed */
void ct__sw_tensor(ct__state_writer *w, const ct_tensor *t);      /* dtype, shape, data */
void ct__sw_element(ct__state_writer *w, const ct_element *e);    /* NULL allowed */

typedef struct ct__state_reader {
    const char *buf;
    size_t n, pos;
    ct_status st;  /* the first error: truncated or malformed state */
    int64_t stage; /* stages read so far (for error messages) */
} ct__state_reader;

int64_t ct__sr_i64(ct__state_reader *r);
double ct__sr_f64(ct__state_reader *r);
/* A malloc'd copy of a length-prefixed byte string (*n its length); NULL
 * on error. */
void *ct__sr_bytes(ct__state_reader *r, size_t *n);
ct_tensor *ct__sr_tensor(ct__state_reader *r);   /* caller-owned */
ct_element *ct__sr_element(ct__state_reader *r); /* NULL if written NULL */
/* Marks the stream malformed (e.g. a count that does not fit). */
ct_status ct__sr_fail(ct__state_reader *r, const char *what);
/* A stage's argument that must be the same in the pipeline a state is
 * restored into (a batch size, a shuffle buffer): the saver writes it with
 * ct__sw_i64, the restorer reads it here and compares it with its own,
 * failing with an error that names the stage (`stage`, the dataset's
 * kind), the argument (`what`) and both values. Returns false on error. */
bool ct__sr_param(ct__state_reader *r, const char *stage, const char *what, int64_t expected);

/* ---- iterators ---------------------------------------------------------------- */

typedef struct ct__iter ct__iter;

typedef struct ct__iter_vt {
    /* The next element into *out (caller-owned), or *out = NULL at end. */
    ct_status (*next)(ct__iter *it, ct_element **out);
    /* NULL: this stage cannot be checkpointed (save fails naming it). */
    ct_status (*save)(ct__iter *it, ct__state_writer *w);
    ct_status (*restore)(ct__iter *it, ct__state_reader *r);
    /* Stops threads and frees the iterator and its input iterators. */
    void (*free)(ct__iter *it);
} ct__iter_vt;

struct ct__iter {
    const ct__iter_vt *vt;
    ct_dataset *ds; /* the dataset it iterates (not owned) */
};

/* Makes an iterator of ds (NULL with an error). */
ct__iter *ct__iter_make(ct_dataset *ds);
ct_status ct__iter_next(ct__iter *it, ct_element **out);
ct_status ct__iter_save(ct__iter *it, ct__state_writer *w);
ct_status ct__iter_restore(ct__iter *it, ct__state_reader *r);
void ct__iter_free(ct__iter *it);
/* Allocates a zeroed iterator of `size` bytes for ds with vtable vt. */
void *ct__iter_alloc(size_t size, const ct__iter_vt *vt, ct_dataset *ds);

/* ---- datasets --------------------------------------------------------------- */

/* For dataset rewrites (remake below): a new reference to what replaces
 * `input`, or NULL with an error. */
typedef ct_dataset *(*ct__remake_fn)(ct_dataset *input, void *ctx);

typedef struct ct__dataset_vt {
    const char *name; /* TF's class name: "BatchDataset" */
    ct__iter *(*iterator)(ct_dataset *ds);
    int64_t (*cardinality)(const ct_dataset *ds); /* NULL: unknown */
    /* Frees the kind's own state and releases its inputs (not the struct). */
    void (*destroy)(ct_dataset *ds);
    /* Optional, for pipeline rewrites such as auto-shard (data/distribute.c):
     * a new dataset of the same kind and arguments as ds (ds unchanged) over
     * f(input, ctx) for each of its inputs; NULL with f's error (having
     * released what it made). NULL member: the kind cannot be re-created
     * (sources, and stages that do not support it). */
    ct_dataset *(*remake)(ct_dataset *ds, ct__remake_fn f, void *ctx);
    /* Optional, file sources only (TF's reader datasets): a new dataset
     * like ds reading only files index, index + num, ... of its list, in
     * order. *num_files gets the length of the list; NULL (no error set)
     * when that is less than num, else NULL with an error on failure. */
    ct_dataset *(*shard_files)(ct_dataset *ds, int64_t num, int64_t index, int64_t *num_files);
    /* Input i of a transform (0, 1, ... then NULL); NULL member: a
     * source. ct_iterator_save walks the pipeline with it to find the
     * datasets with state of their own (below). */
    ct_dataset *(*input)(const ct_dataset *ds, int i);
    /* Optional: state that belongs to the dataset rather than to one
     * iterator and decides what later iterators produce (a shuffle's seed
     * generator, a completed memory cache), so a checkpoint taken when no
     * iterator of the stage is alive (the end of a pass, before the
     * reset) still carries it. restore_state reads what save_state wrote;
     * with apply false it only checks it (nothing changes), so that a
     * failed restore leaves the pipeline as it was. */
    ct_status (*save_state)(ct_dataset *ds, ct__state_writer *w);
    ct_status (*restore_state)(ct_dataset *ds, ct__state_reader *r, bool apply);
} ct__dataset_vt;
/* The hooks above exist (data/distribute.c tests for it). */
#define CT__DATASET_REMAKE 1

struct ct_dataset {
    atomic_long refs;
    const ct__dataset_vt *vt;
    ct_element_spec spec;
    ct_dataset_options opts; /* inherited from the input by transforms */
};

/* Allocates a zeroed dataset of `size` bytes with vt, spec (copied; NULL
 * for none yet) and refcount 1. NULL with an error when out of memory. */
void *ct__dataset_alloc(size_t size, const ct__dataset_vt *vt, const ct_element_spec *spec);

/* The input hook of transforms whose struct starts with `ct_dataset base;
 * ct_dataset *input;` (most single-input stages). */
ct_dataset *ct__dataset_first_input(const ct_dataset *ds, int i);

/* For transforms: when `input` is NULL (a failed earlier stage) returns
 * true, keeping that error; the caller then frees its other inputs and
 * returns NULL. */
bool ct__dataset_null(const ct_dataset *input, const char *api);

/* ---- elements ------------------------------------------------------------------ */

/* A process-lifetime copy of a component name (the same pointer for equal
 * strings), so elements may outlive the dataset that named them. */
const char *ct__intern(const char *s);

/* A new element with n components, all NULL (caller fills t[] with owned
 * references). NULL with an error when out of memory. */
ct_element *ct__element_new(int n);
/* Non-zero while map or flat_map makes an iterator of its input only to
 * learn the element spec from the first element: seed generators (the
 * shuffle's) do not advance, so the probe changes no order the pipeline
 * draws later (TF learns the spec by tracing, without iterating). */
extern _Thread_local int ct__data_probing;
/* The spec of an element's components (names copied as pointers). */
void ct__element_spec_of(const ct_element *e, ct_element_spec *spec);
/* Element i along the first axis of every component of e (a slice). */
ct_element *ct__element_slice(const ct_element *e, int64_t i);
/* A caller-owned tensor (not in any scope) from an op: runs `op_result`
 * (the result of an op called with a scope open) and moves it out. Use
 * ct_scope_begin()/ct__unscope()/ct_scope_end() around op calls inside
 * pipeline stages. */
ct_tensor *ct__unscope(ct_tensor *t);

#endif
