/*
 * Private to nn/: the layer object and its vtable, the Keras-config reader
 * every block parses its arguments with, and the JSON forms of the small
 * value types (initializers, regularizers, constraints, activations).
 *
 * A layer family file (nn/layers/core.c, conv.c, ...) defines one
 * ct__layer_vt per Keras class and lists them in a NULL-terminated array
 * that nn/layers/registry.c gathers:
 *
 *     typedef struct { ct_layer base; int64_t units; ... } dense;
 *     static ct_status dense_init(ct_layer *l, ct__cfg *c) {
 *         dense *d = (dense *)l;
 *         return ct__cfg_int(c, "units", CT__REQUIRED, &d->units) ||
 *                ct__cfg_check(c, d->units > 0, "units", "must be positive, got %lld",
 *                              (long long)d->units) ...;
 *     }
 *     const ct__layer_vt ct__dense_vt = {"Dense", sizeof(dense), 1, 1, dense_init, ...};
 */
#ifndef CT_NN_INTERNAL_H
#define CT_NN_INTERNAL_H

#include <jansson.h>

#include "ctrain/nn.h"
#include "runtime/internal.h"

/* ---- the Keras-config reader ------------------------------------------------ */

/* Reads one block's config dict. Each getter consumes its key; a missing
 * key (or null where the argument may be None) gives the default; a wrong
 * type or value is an error "<Class> '<name>': argument '<key>': <cause>".
 * ct__cfg_finish reports keys nobody read. Getters return CT_OK or the
 * error status, so they chain with ||. */
typedef struct ct__cfg {
    const json_t *obj;  /* the config dict                                */
    const char *cls;    /* the Keras class, for errors                    */
    const char *name;   /* the block's name, for errors (may be NULL)     */
    json_t *used;       /* keys read so far                               */
} ct__cfg;

#define CT__REQUIRED INT64_MIN /* as an integer default: the key must be there */

/* obj may be NULL (all defaults). */
ct_status ct__cfg_begin(ct__cfg *c, const json_t *obj, const char *cls, const char *name);
/* Unknown keys are an error, except the ones every Keras object may carry
 * (name, trainable, dtype, batch_input_shape, ...; the layer base reads
 * those). Frees c's bookkeeping either way. */
ct_status ct__cfg_finish(ct__cfg *c);
void ct__cfg_end(ct__cfg *c); /* frees without checking (on an error path) */
bool ct__cfg_has(ct__cfg *c, const char *key); /* present and not null */
/* The raw value of key (NULL when absent or null), marked read: for
 * argument forms no getter covers (nested tuples, lists of numbers). */
const json_t *ct__cfg_json(ct__cfg *c, const char *key);
ct_status ct__cfg_int(ct__cfg *c, const char *key, int64_t dflt, int64_t *out);
ct_status ct__cfg_double(ct__cfg *c, const char *key, double dflt, double *out);
ct_status ct__cfg_bool(ct__cfg *c, const char *key, bool dflt, bool *out);
/* A string; with allowed (NULL-terminated) it must be one of them (Keras
 * lower-cases padding and data_format: so do we). *out points into the
 * config or at dflt: copy it if it must outlive the config. */
ct_status ct__cfg_str(ct__cfg *c, const char *key, const char *dflt,
                      const char *const *allowed, const char **out);
/* An int or a list of n ints (kernel_size 3 or [3, 3]); dflt NULL:
 * required. */
ct_status ct__cfg_ints(ct__cfg *c, const char *key, int n, const int64_t *dflt, int64_t *out);
/* A list of ints of any length (up to max), or an int as a list of one. */
ct_status ct__cfg_int_list(ct__cfg *c, const char *key, int max, int64_t *out, int *n,
                           bool *present);
ct_status ct__cfg_activation(ct__cfg *c, const char *key, const char *dflt,
                             ct_activation_fn *fn);
ct_status ct__cfg_initializer(ct__cfg *c, const char *key, const char *dflt,
                              ct_initializer *out);
ct_status ct__cfg_regularizer(ct__cfg *c, const char *key, ct_regularizer *out);
ct_status ct__cfg_constraint(ct__cfg *c, const char *key, ct_constraint *out);
/* An error about key unless ok: "<Class> '<name>': argument '<key>': ..." */
ct_status ct__cfg_check(ct__cfg *c, bool ok, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- JSON of the value types (nn/initializers.c, nn/regularizers.c,
 * nn/activations.c) ---------------------------------------------------------- */

/* Accept a name string or {"class_name", "config"} (Keras 2) with the
 * Keras 3 extras ("module", "registered_name"); null gives the none/default
 * value. Errors name `what` (e.g. "Dense 'dense': kernel_initializer"). */
ct_status ct__initializer_from_json(const json_t *j, ct_initializer *out, const char *what);
/* {"class_name": "GlorotUniform", "config": {"seed": null}} (new ref). */
json_t *ct__initializer_to_json(const ct_initializer *init);
ct_status ct__regularizer_from_json(const json_t *j, ct_regularizer *out, const char *what);
json_t *ct__regularizer_to_json(const ct_regularizer *r); /* null for none */
ct_status ct__constraint_from_json(const json_t *j, ct_constraint *out, const char *what);
json_t *ct__constraint_to_json(const ct_constraint *c); /* null for none */
/* A json string (or null) to an activation; "linear" for null. */
ct_status ct__activation_from_json(const json_t *j, ct_activation_fn *out, const char *what);

/* activation(x + bias) for a Dense or Conv output: one fused pass for
 * linear, relu, sigmoid and tanh (ops/bias_act.h), else bias_add and the
 * activation. bias and activation may be NULL. */
ct_tensor *ct__bias_and_activation(const ct_tensor *x, const ct_tensor *bias,
                                   ct_activation_fn activation);

/* v as Python's repr(float) writes it ("0.1", "1e-07", "1.0", "nan"):
 * the shortest digits that read back to v. */
const char *ct__py_float_repr(double v, char *buf, size_t cap);

/* A malloc'ed compact JSON string of j (steals nothing). */
char *ct__json_dump(const json_t *j);
/* Parses text; errors name `what`, the line and column. */
json_t *ct__json_parse(const char *text, const char *what);

/* ---- layers ----------------------------------------------------------------- */

typedef struct ct__weight {
    ct_variable *var;
    char *name;            /* "kernel"                                  */
    bool trainable;
    ct_regularizer reg;
    ct_constraint constraint;
} ct__weight;

typedef struct ct__layer_vt {
    const char *class_name; /* Keras's, e.g. "Dense"                        */
    size_t size;            /* bytes of the struct embedding ct_layer        */
    int min_inputs, max_inputs;
    /* Reads the arguments from the config (base keys are done already). */
    ct_status (*init)(ct_layer *l, ct__cfg *c);
    /* Writes the arguments into cfg (the base writes name, trainable,
     * dtype). */
    ct_status (*get_config)(const ct_layer *l, json_t *cfg);
    /* Checks the input shapes and makes the weights (ct__layer_add_weight).
     * NULL: nothing to make, any shapes. */
    ct_status (*build)(ct_layer *l, int n, const ct_shape *in);
    ct_status (*output_shape)(const ct_layer *l, int n, const ct_shape *in, ct_shape *out);
    /* The output; inputs are checked against min/max_inputs already. */
    ct_tensor *(*call)(ct_layer *l, int n, ct_tensor *const *in, bool training);
    /* Frees what the layer allocated itself (not the base); may be NULL. */
    void (*destroy)(ct_layer *l);
    /* The layers this one contains (a model's), in order; their weights
     * count as this layer's. NULL: none. */
    int (*sublayers)(const ct_layer *l, ct_layer *const **out);
} ct__layer_vt;

struct ct_layer {
    const ct__layer_vt *vt;
    int refs;                 /* owners (ct_layer_ref / ct_layer_free)    */
    int graphs;               /* functional graphs holding one of them    */
    char *name;
    bool trainable, built;
    ct_dtype dtype;           /* the layer's variable dtype (float32)    */
    int nweights, capweights;
    ct__weight *weights;
    ct_regularizer activity_regularizer;
    ct_tensor *activity_loss; /* of the last forward pass (owned), or NULL */
    uint64_t activity_pass;   /* which pass (nn/layers/layer.c)           */
    int ninputs;              /* the shapes it was built for            */
    ct_shape *input_shapes;
    json_t *batch_input_shape; /* kept to write back (Input / first layer) */
};

/* Makes a weight named "<layer>/<name>:0"-style (the variable's name is
 * "<layer name>/<name>") from init, registered with its regularizer and
 * constraint (either may be NULL). NULL on error. */
ct_variable *ct__layer_add_weight(ct_layer *l, const char *name, int rank,
                                  const int64_t *shape, const ct_initializer *init,
                                  const ct_regularizer *reg, const ct_constraint *constraint,
                                  bool trainable);
/* A weight as seen from a layer that contains it: trainable only when the
 * weight and every layer on the way down are. */
typedef struct ct__wref {
    const ct__weight *w;
    bool trainable;
} ct__wref;
/* The weights of l and its sublayers as Keras's layer.weights lists them:
 * the trainable ones, then the others, each in creation order. Writes up
 * to cap into out (out may be NULL) and returns how many there are. */
int ct__layer_collect(const ct_layer *l, ct__wref *out, int cap);

/* Keras's automatic name for prefix: "input_1", "input_2", ... with
 * zero_based false (tf.keras 2's Input, Functional's "model"), "dense",
 * "dense_1", ... with zero_based true. malloc'ed; NULL when out of memory. */
char *ct__unique_name(const char *prefix, bool zero_based);

/* An error "<Class> '<name>': ..." (for build and call). */
ct_status ct__layer_error(const ct_layer *l, ct_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A built layer must have been built for n inputs of shapes like in
 * (unknown dimensions and the batch match anything): else an error naming
 * both shapes. */
ct_status ct__layer_check_built_for(const ct_layer *l, int n, const ct_shape *in);
/* A shape from a tensor. */
ct_shape ct__shape_of(const ct_tensor *t);
/* "(None, 28, 28, 1)" into buf. */
const char *ct__shape_str(const ct_shape *s, char *buf, size_t cap);
#define CT__SHAPE_STR(s) ct__shape_str((s), (char[128]){0}, 128)

/* The registry: every family's NULL-terminated list of vtables. */
extern const ct__layer_vt *const ct__core_layers[];    /* nn/layers/core.c    */
extern const ct__layer_vt *const ct__merge_layers[];   /* nn/layers/merge.c   */
extern const ct__layer_vt *const ct__reshape_layers[]; /* nn/layers/reshape.c */
extern const ct__layer_vt *const ct__conv_layers[];    /* nn/layers/conv.c    */
extern const ct__layer_vt *const ct__pool_layers[];    /* nn/layers/pool.c    */
extern const ct__layer_vt *const ct__norm_layers[];    /* nn/layers/norm.c    */
extern const ct__layer_vt *const ct__model_layers[];   /* nn/model.c          */
const ct__layer_vt *ct__layer_lookup(const char *class_name);
/* The registered classes: how many, and class i's Keras name (NULL when
 * i is out of range). */
int ct__layer_num_classes(void);
const char *ct__layer_class(int i);
/* A layer from {"class_name", "config"} / its config as that (new ref). */
ct_layer *ct__layer_from_json(const json_t *j);
json_t *ct__layer_to_json(const ct_layer *l);

/* ---- models ------------------------------------------------------------------ */

/* nn/functional.c: the Functional layer and what the model code asks of
 * it. A Functional has any number of inputs and outputs; the layer vtable
 * covers the one-output case. */
extern const ct__layer_vt ct__functional_layer_vt;
bool ct__is_functional(const ct_layer *l);
ct_status ct__functional_output_shapes(ct_layer *l, int n, const ct_shape *in, ct_shape *out);
ct_status ct__functional_run(ct_layer *l, int n, ct_tensor *const *in, bool training, int nout,
                             ct_tensor **out);
int ct__functional_num_inputs(const ct_layer *l);
int ct__functional_num_outputs(const ct_layer *l);
const char *ct__functional_output_name(const ct_layer *l, int i);
const char *ct__functional_input_name(const ct_layer *l, int i);
const ct_shape *ct__functional_input_shape(const ct_layer *l, int i);
/* For model.summary(): whether tf.keras 2 prints it like a Sequential,
 * layer i's output shape cell and its "Connected to" cell. */
bool ct__functional_sequential_like(const ct_layer *l);
void ct__functional_layer_shape(const ct_layer *l, int i, char *buf, size_t cap);
void ct__functional_layer_connections(const ct_layer *l, int i, char *buf, size_t cap);

/* nn/subclass.c: subclassed models, and the hook every layer call runs
 * (l was called, depth levels deep in layer calls; ct__layer_call_depth
 * is the current depth) so they track the layers they call. */
bool ct__is_subclass(const ct_layer *l);
void ct__layer_called(ct_layer *l, int depth);
int ct__layer_call_depth(void);
/* A call into layers that does not go through ct_layer_call_n (a
 * Functional model's several outputs) counts as one level all the same. */
void ct__layer_call_enter(void);
void ct__layer_call_leave(void);
/* Keras's to_snake_case ("MyModel" -> "my_model"). */
void ct__snake_case(const char *cls, char *out, size_t cap);

/* nn/model.c: Keras 3's standardization of a model's input i against its
 * declared shape want (a last axis of 1 added or squeezed, known
 * dimensions checked); x itself or a new tensor, NULL with an error naming
 * the input (and name, when not NULL). */
ct_tensor *ct__standardize_input(const ct_layer *model, int i, const char *name, ct_shape want,
                                 ct_tensor *x);
/* nn/model.c: whether a Sequential has an InputLayer (a declared shape). */
bool ct__sequential_has_input(const struct ct_model *m);
/* nn/fit.c: frees what compile attached to m. */
void ct__model_free_compiled(struct ct_model *m);

/* nn/callbacks.c, for nn/fit.c: a callback's hooks, and the error a
 * built-in callback raised in a hook (taken once). */
const ct_callback_hooks *ct__callback_hooks(const ct_callback *cb);
ct_status ct__callback_take_error(ct_callback *cb);

/* A built-in callback's resumable state (EarlyStopping's wait and best,
 * ReduceLROnPlateau's, ...), for a training checkpoint: a new JSON object
 * (the caller decrefs it), or NULL with no error for a callback without
 * state. set_state puts such an object back into a callback made from the
 * same config after its on_train_begin ran (it checks what it reads and
 * names what is wrong). */
json_t *ct__callback_get_state(const ct_callback *cb);
ct_status ct__callback_set_state(ct_callback *cb, const json_t *state);
/* Tensors that go with a built-in callback's state (EarlyStopping's best
 * weights): their count and *out (borrowed until the callback's next
 * hook); set_tensors gives a callback, after set_state, the tensors saved
 * (it takes new references). */
int ct__callback_tensors(const ct_callback *cb, ct_tensor *const **out);
ct_status ct__callback_set_tensors(ct_callback *cb, int n, ct_tensor *const *t);
/* The Keras class name of a built-in callback ("EarlyStopping"), or NULL
 * for a custom one. */
const char *ct__callback_class(const ct_callback *cb);

/* A BackupAndRestore callback's config (nn/callbacks.c), for fit. */
typedef struct ct__backup_config {
    char *backup_dir;
    int64_t save_freq; /* every n batches; 0: each epoch's end; -1: never */
    bool delete_checkpoint;
    bool save_before_preemption; /* a stop request saves before fit stops */
    int max_to_keep;
    /* ctrain's own key: resume from this checkpoint file instead of the
     * latest of backup_dir (`ctrain train --resume PATH`); NULL: none. */
    char *restore_from;
} ct__backup_config;
/* The config when cb is a BackupAndRestore, else NULL. */
const ct__backup_config *ct__callback_backup(const ct_callback *cb);

/* What a compiled metric watches: the total loss (the tracker, metrics[0]),
 * one output's loss (a tracker of a model with several outputs), or one
 * output's targets and predictions; key is its logs key ("loss",
 * "dense_2_loss", "accuracy", "dense_2_accuracy"), owned. */
typedef struct ct__metric_slot {
    enum { CT__TRACK_LOSS, CT__TRACK_OUTPUT_LOSS, CT__TRACK_METRIC } role;
    int output;
    char *key;
} ct__metric_slot;

/* A model (nn/model.c) and its training state (nn/fit.c); metrics[0] is
 * the loss tracker (a Mean named "loss"), the compiled metrics follow. */
struct ct_model {
    ct_layer base;          /* the model as a layer ("Sequential")           */
    int nlayers, caplayers;
    ct_layer **layers;      /* owned, in order                               */
    /* compile (nn/fit.c) */
    bool compiled;
    ct_optimizer *optimizer; /* owned                                       */
    ct_loss *loss;           /* owned: the loss of every output, or NULL    */
    ct_loss **losses;        /* or one per output (owned; NULL: untrained)  */
    double *loss_weights;    /* per output, or NULL (all 1)                 */
    int nmetrics;
    ct_metric **metrics;     /* owned                                       */
    ct__metric_slot *slots;  /* what each metric watches, its logs key      */
    struct ct_strategy *strategy; /* the scope compile ran in (borrowed), or
                                     NULL: the default strategy              */
    bool stop_training;
    /* fit is resuming from a training checkpoint (BackupAndRestore): set
     * before the callbacks' on_train_begin, so that CSVLogger appends. */
    bool resuming;
    /* The last fit stopped on a stop request after saving a
     * BackupAndRestore checkpoint (ct_model_preempted). */
    bool preempted;
};

/* The variables of m's weights in ct__layer_collect's order (fit's), all
 * of them or only the trainable (what the optimizer tracks) or the
 * non-trainable ones (BatchNormalization's moving statistics): malloc'ed
 * (free it); NULL and *n = -1 when out of memory. */
enum { CT__VARS_ALL, CT__VARS_TRAINABLE, CT__VARS_NON_TRAINABLE };
ct_variable **ct__model_variables(ct_model *m, int which, int *n);

/* apply_gradients without the sum over replicas a replica context adds:
 * for fit's step, which has summed them already. */
ct_status ct__optimizer_apply_summed(ct_optimizer *o, int n, ct_tensor *const *grads,
                                     ct_variable *const *vars);

/* nn/optimizers.c, for io/h5.c: optimizer.build(var_list): tracks vars and
 * makes their slots (as the first apply_gradients would), so that
 * optimizer.variables can be restored before any update. */
ct_status ct__optimizer_build(ct_optimizer *o, int n, ct_variable *const *vars);
/* The rate comes from a LearningRateSchedule (it follows the iterations). */
bool ct__optimizer_has_schedule(const ct_optimizer *o);

#endif
