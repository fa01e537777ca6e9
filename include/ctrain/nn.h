/*
 * ctrain nn: the Keras building blocks — activations, initializers,
 * regularizers, constraints, layers, losses, optimizers, learning-rate
 * schedules and metrics — with tf.keras's names, arguments, defaults and
 * numbers.
 *
 *     ct_layer *dense = ct_layer_new("Dense", "{\"units\": 10, \"activation\": \"relu\"}");
 *     ct_tensor *y = ct_layer_call(dense, x, true);      // builds on first call
 *     ct_loss *loss = ct_loss_new("sparse_categorical_crossentropy", NULL);
 *     ct_optimizer *opt = ct_optimizer_new("adam", NULL);
 *     ct_metric *acc = ct_metric_new("sparse_categorical_accuracy", NULL);
 *
 * One mechanism makes every block from its Keras config: a layer is made
 * from its class name and the JSON of its `config` dict (what
 * `layer.get_config()` returns; keys left out take Keras's defaults), and
 * gives its config back the same way, so Keras JSON model files and C
 * code build the same objects. Losses, optimizers and metrics are made by
 * the names Keras accepts as strings ("adam", "Adam", "mse") with an
 * options struct whose zero fields mean Keras's defaults, or from their
 * Keras config JSON.
 *
 * Where Keras 2 and Keras 3 differ, ctrain follows Keras 3 and says so
 * next to the block ("Keras 3:"). The choices, in one place:
 *   - hard_sigmoid is relu6(x + 3) / 6 (Keras 2: clip(0.2 x + 0.5, 0, 1));
 *   - a layer's activity regularizer adds its penalty of the output as is
 *     (Keras 2 divided it by the batch size);
 *   - BatchNormalization normalizes with, and moves its moving variance
 *     toward, the population (biased) batch variance (Keras 2's fused
 *     kernel moved it toward the Bessel-corrected one);
 *   - seeded initializers draw TF's stateless numbers for [seed, 0] and
 *     give the same values on every call;
 *   - sum_over_batch_size divides by the number of per-sample values, and
 *     SparseCategoricalCrossentropy's ignore_class leaves the ignored
 *     entries out of that count;
 *   - optimizers' weight_decay is decoupled (variable -= lr * wd *
 *     variable before the update); Nadam's momentum schedule is
 *     beta_1 * (1 - 0.5 * 0.96^t);
 *   - merge layers accept one input; LeakyReLU's argument is
 *     negative_slope (default 0.3; Keras 2's "alpha" is read too).
 * Files keep Keras 2's layout (which Keras 3 reads): optimizer slots are
 * named "<slot>/<variable>" as Keras 2.11+ writes them in HDF5 files
 * (Adam's "m/dense/kernel"), not Keras 3's "momentum" / "velocity".
 *
 * Errors name the block (class and layer name), the argument or the shape
 * and the cause; constructors return NULL and calls return NULL or a
 * status, as everywhere in ctrain.
 */
#ifndef CTRAIN_NN_H
#define CTRAIN_NN_H

#include "ctrain/data.h"
#include "ctrain/ops.h"
#include "ctrain/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A static shape with -1 for a dimension not known yet (Keras's None,
 * usually the batch). */
typedef struct ct_shape {
    int rank;
    int64_t dim[CT_MAX_RANK];
} ct_shape;

/* ---- activations (keras.activations, tf.nn) ---------------------------- */

/* keras.activations.relu(x, negative_slope, max_value, threshold):
 * x >= threshold ? min(x, max_value) : negative_slope * (x - threshold).
 * max_value INFINITY for none. */
ct_tensor *ct_relu_ex(const ct_tensor *x, double negative_slope, double max_value,
                      double threshold);
ct_tensor *ct_relu6(const ct_tensor *x);
/* tf.nn.leaky_relu: x >= 0 ? x : alpha * x (Keras's LeakyReLU default
 * negative_slope is 0.3, keras.activations.leaky_relu's 0.2). */
ct_tensor *ct_leaky_relu(const ct_tensor *x, double alpha);
/* x > 0 ? x : alpha * (exp(x) - 1); Keras's default alpha is 1. */
ct_tensor *ct_elu(const ct_tensor *x, double alpha);
ct_tensor *ct_selu(const ct_tensor *x);
/* approximate: the tanh form; else the exact erf form (Keras's default). */
ct_tensor *ct_gelu(const ct_tensor *x, bool approximate);
/* Keras 3: relu6(x + 3) / 6 (Keras 2 used clip(0.2 x + 0.5, 0, 1)). */
ct_tensor *ct_hard_sigmoid(const ct_tensor *x);
/* x * hard_sigmoid(x). */
ct_tensor *ct_hard_swish(const ct_tensor *x);
ct_tensor *ct_softsign(const ct_tensor *x);
/* x * sigmoid(x), Keras's swish and silu. */
ct_tensor *ct_silu(const ct_tensor *x);
/* x * tanh(softplus(x)). */
ct_tensor *ct_mish(const ct_tensor *x);

/* An activation by Keras name: linear, relu, relu6, leaky_relu, elu, selu,
 * gelu, sigmoid, hard_sigmoid, hard_swish, tanh, softmax (last axis),
 * log_softmax (last axis), softplus, softsign, swish, silu, exponential,
 * mish. NULL with an error naming the unknown name. */
typedef ct_tensor *(*ct_activation_fn)(const ct_tensor *x);
ct_activation_fn ct_activation_get(const char *name);
/* The Keras name of a function ct_activation_get returns, else NULL. */
const char *ct_activation_name(ct_activation_fn fn);

/* ---- initializers (keras.initializers) --------------------------------- */

typedef enum {
    CT_INIT_DEFAULT = 0, /* the layer's default for this weight */
    CT_INIT_ZEROS,
    CT_INIT_ONES,
    CT_INIT_CONSTANT,
    CT_INIT_RANDOM_UNIFORM,
    CT_INIT_RANDOM_NORMAL,
    CT_INIT_TRUNCATED_NORMAL,
    CT_INIT_VARIANCE_SCALING,
    CT_INIT_GLOROT_UNIFORM,
    CT_INIT_GLOROT_NORMAL,
    CT_INIT_HE_UNIFORM,
    CT_INIT_HE_NORMAL,
    CT_INIT_LECUN_UNIFORM,
    CT_INIT_LECUN_NORMAL,
    CT_INIT_ORTHOGONAL,
    CT_INIT_IDENTITY,
} ct_init_kind;

/* Zero fields take Keras's defaults (RandomUniform -0.05..0.05, the normal
 * ones stddev 0.05, VarianceScaling scale 1 "fan_in" "truncated_normal",
 * Orthogonal and Identity gain 1). */
typedef struct ct_initializer {
    ct_init_kind kind;
    double value;              /* Constant                                   */
    double minval, maxval;     /* RandomUniform                              */
    double mean, stddev;       /* RandomNormal, TruncatedNormal              */
    double scale;              /* VarianceScaling                            */
    const char *mode;          /* "fan_in", "fan_out", "fan_avg"             */
    const char *distribution;  /* "truncated_normal", "untruncated_normal",
                                  "uniform"                                  */
    double gain;               /* Orthogonal, Identity                       */
    bool seeded;               /* seed given: every call draws the same
                                  values (Keras 3); else the global RNG      */
    int64_t seed;
} ct_initializer;

/* By Keras name ("glorot_uniform", "GlorotUniform", "zeros", "he_normal",
 * ...); kind CT_INIT_DEFAULT with an error for an unknown name. */
ct_initializer ct_initializer_get(const char *name);
/* A new tensor of the shape drawn from init (Keras's fan computation: the
 * receptive field of a conv kernel [..., in, out] multiplies in and out). */
ct_tensor *ct_initializer_call(const ct_initializer *init, ct_dtype dtype, int rank,
                               const int64_t *shape);

/* ---- regularizers and constraints -------------------------------------- */

typedef enum { CT_REG_NONE = 0, CT_REG_L1, CT_REG_L2, CT_REG_L1L2 } ct_reg_kind;
/* L1 and L2 take 0.01 for a zero factor (Keras's defaults); L1L2 takes
 * its factors as given. */
typedef struct ct_regularizer {
    ct_reg_kind kind;
    double l1, l2;
} ct_regularizer;
/* The penalty of a weight: l1 * sum(|w|) + l2 * sum(w^2), a scalar. */
ct_tensor *ct_regularizer_call(const ct_regularizer *r, const ct_tensor *w);

typedef enum {
    CT_CONSTRAINT_NONE = 0,
    CT_CONSTRAINT_MAX_NORM,
    CT_CONSTRAINT_NON_NEG,
    CT_CONSTRAINT_UNIT_NORM,
    CT_CONSTRAINT_MIN_MAX_NORM,
} ct_constraint_kind;
/* Zero fields: MaxNorm max_value 2; MinMaxNorm min 0, max 1, rate 1; the
 * norms over axis 0 (naxes 0). */
typedef struct ct_constraint {
    ct_constraint_kind kind;
    double min_value, max_value, rate;
    int naxes;
    int axes[CT_MAX_RANK];
} ct_constraint;
/* The projected weight (a new tensor). */
ct_tensor *ct_constraint_call(const ct_constraint *c, const ct_tensor *w);

/* ---- layers (keras.layers) --------------------------------------------- */

typedef struct ct_layer ct_layer;

/* A layer of a Keras class ("Dense", "Conv2D", ...) from the JSON of its
 * config dict ("{\"units\": 64}"; NULL or "{}" for all defaults). Unknown
 * keys, wrong types and bad values are errors naming the class, the key
 * and the cause. Without "name" the layer gets Keras's next free one
 * ("dense", "dense_1", ...). */
ct_layer *ct_layer_new(const char *class_name, const char *config_json);
/* The same from {"class_name": ..., "config": {...}} (Keras 2 or 3 form). */
ct_layer *ct_layer_from_config(const char *json);
/* {"class_name": ..., "config": {...}} with every argument, malloc'ed
 * (free()); NULL on error. */
char *ct_layer_get_config(const ct_layer *l);
/* Layers are reference counted: a model, or a functional graph the layer
 * was applied in, holds one reference. ct_layer_ref adds one (to keep
 * using a layer after handing it over) and returns l; ct_layer_free drops
 * one and frees the layer with the last. */
ct_layer *ct_layer_ref(ct_layer *l);
void ct_layer_free(ct_layer *l);

/* Creates the weights for inputs of these shapes (batch may be -1). Called
 * by the first ct_layer_call when not done before. */
ct_status ct_layer_build(ct_layer *l, int n, const ct_shape *input_shapes);
/* The output shape for these input shapes (without building). */
ct_status ct_layer_output_shape(ct_layer *l, int n, const ct_shape *input_shapes,
                                ct_shape *out);
/* Calls the layer: training selects Dropout's and BatchNormalization's
 * training behaviour. The result is in the current scope. */
ct_tensor *ct_layer_call(ct_layer *l, const ct_tensor *x, bool training);
/* A layer of several inputs (Concatenate, Add, Dot, ...). */
ct_tensor *ct_layer_call_n(ct_layer *l, int n, ct_tensor *const *xs, bool training);

const char *ct_layer_name(const ct_layer *l);
const char *ct_layer_class_name(const ct_layer *l);
bool ct_layer_built(const ct_layer *l);
bool ct_layer_trainable(const ct_layer *l);
void ct_layer_set_trainable(ct_layer *l, bool trainable);
/* The weights in Keras's order (layer.weights); names are Keras's
 * ("dense/kernel:0" style: layer name / weight name). */
int ct_layer_num_weights(const ct_layer *l);
ct_variable *ct_layer_weight(const ct_layer *l, int i);
/* layer.trainable_weights (model.trainable_variables): the weights that
 * train — trainable themselves, in layers that are trainable all the way
 * down — in Keras's order, what fit differentiates. Writes up to cap into
 * out (out may be NULL) and returns how many there are (-1 on error). */
int ct_layer_trainable_weights(const ct_layer *l, ct_variable **out, int cap);
/* layer.losses: the weight regularizers' penalties now plus the activity
 * regularizer's from the last call, summed (a scalar; 0 when none). */
ct_tensor *ct_layer_regularization_loss(ct_layer *l);
/* Applies the weights' constraints (optimizers call this after updates). */
ct_status ct_layer_apply_constraints(ct_layer *l);
/* Restarts Keras's automatic layer names (keras.backend.clear_session). */
void ct_layer_reset_names(void);

/* ---- losses (keras.losses) ------------------------------------------------ */

typedef enum {
    CT_REDUCTION_DEFAULT = 0,        /* sum_over_batch_size                 */
    CT_REDUCTION_SUM_OVER_BATCH_SIZE,
    CT_REDUCTION_SUM,
    CT_REDUCTION_NONE,
} ct_reduction;

/* Zero fields take Keras's defaults. */
typedef struct ct_loss_opts {
    ct_reduction reduction;
    const char *name;          /* the loss's name (Keras's default)          */
    bool from_logits;
    double label_smoothing;
    int axis;                  /* cross-entropies, cosine similarity: -1 when
                                  has_axis is false                          */
    bool has_axis;
    double delta;              /* Huber: 1.0                                 */
    bool has_ignore_class;     /* SparseCategoricalCrossentropy             */
    int64_t ignore_class;
    bool apply_class_balancing; /* BinaryFocalCrossentropy                  */
    double alpha;              /* focal: 0.25                                */
    double gamma;              /* focal: 2.0                                 */
} ct_loss_opts;

typedef struct ct_loss ct_loss;
/* By Keras name, as a function name ("mse", "mean_squared_error",
 * "categorical_crossentropy", "kld", ...) or class ("MeanSquaredError",
 * "Huber", ...). opts may be NULL. */
ct_loss *ct_loss_new(const char *name, const ct_loss_opts *opts);
/* A loss from a C function giving per-sample values ([batch] or any shape
 * the reduction then averages). */
typedef ct_tensor *(*ct_loss_fn)(const ct_tensor *y_true, const ct_tensor *y_pred, void *ctx);
ct_loss *ct_loss_custom(const char *name, ct_loss_fn fn, void *ctx, const ct_loss_opts *opts);
/* {"class_name": ..., "config": {...}} both ways. */
ct_loss *ct_loss_from_config(const char *json);
char *ct_loss_get_config(const ct_loss *l);
const char *ct_loss_name(const ct_loss *l);
void ct_loss_free(ct_loss *l);
/* loss(y_true, y_pred, sample_weight): the reduced loss (a scalar, or the
 * per-sample values for CT_REDUCTION_NONE). sample_weight may be NULL; it
 * broadcasts against the per-sample values as in Keras. */
ct_tensor *ct_loss_call(ct_loss *l, const ct_tensor *y_true, const ct_tensor *y_pred,
                        const ct_tensor *sample_weight);
/* The per-sample values before weighting and reduction (what the function
 * keras.losses.<name>(y_true, y_pred) returns). */
ct_tensor *ct_loss_values(ct_loss *l, const ct_tensor *y_true, const ct_tensor *y_pred);

/* ---- learning-rate schedules (keras.optimizers.schedules) ---------------- */

typedef struct ct_lr_schedule ct_lr_schedule;
/* From {"class_name": "ExponentialDecay", "config": {...}}: ExponentialDecay,
 * PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay, CosineDecay
 * (warmup_target, warmup_steps), CosineDecayRestarts. */
ct_lr_schedule *ct_lr_schedule_from_config(const char *json);
char *ct_lr_schedule_get_config(const ct_lr_schedule *s);
/* The learning rate at a step (float32 arithmetic, as Keras). */
double ct_lr_schedule_value(const ct_lr_schedule *s, int64_t step);
void ct_lr_schedule_free(ct_lr_schedule *s);

/* ---- optimizers (keras.optimizers) ---------------------------------------- */

/* Zero fields take the optimizer's Keras defaults. */
typedef struct ct_optimizer_opts {
    double learning_rate;       /* SGD 0.01, the others 0.001              */
    ct_lr_schedule *schedule;   /* instead of a constant rate (borrowed)    */
    double momentum;            /* SGD, RMSprop                             */
    bool nesterov;              /* SGD                                      */
    double rho;                 /* RMSprop 0.9, Adadelta 0.95               */
    bool centered;              /* RMSprop                                  */
    double beta_1, beta_2;      /* Adam family 0.9, 0.999                   */
    double epsilon;             /* 1e-7 (Adadelta 1e-7, Adagrad 1e-7)       */
    bool amsgrad;               /* Adam, AdamW                              */
    double initial_accumulator_value; /* Adagrad 0.1, Ftrl 0.1            */
    double learning_rate_power; /* Ftrl -0.5                                */
    double l1_regularization_strength, l2_regularization_strength;
    double l2_shrinkage_regularization_strength, beta; /* Ftrl             */
    bool has_weight_decay;      /* AdamW defaults to 0.004, the others none */
    double weight_decay;
    double clipnorm, clipvalue, global_clipnorm; /* 0: none                 */
    const char *name;
} ct_optimizer_opts;

typedef struct ct_optimizer ct_optimizer;
/* "sgd", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "adamax",
 * "nadam", "ftrl" (or the class names). opts may be NULL. */
ct_optimizer *ct_optimizer_new(const char *name, const ct_optimizer_opts *opts);
ct_optimizer *ct_optimizer_from_config(const char *json);
char *ct_optimizer_get_config(const ct_optimizer *o);
void ct_optimizer_free(ct_optimizer *o);
/* One update of each variable from its gradient (a NULL gradient skips
 * that variable, as Keras does with a warning). Slots are made on first
 * sight of a variable. */
ct_status ct_optimizer_apply_gradients(ct_optimizer *o, int n, ct_tensor *const *grads,
                                       ct_variable *const *vars);
/* Records loss_fn() on a tape, differentiates it with respect to vars and
 * applies the gradients. */
typedef ct_tensor *(*ct_loss_closure)(void *ctx);
ct_status ct_optimizer_minimize(ct_optimizer *o, ct_loss_closure loss_fn, void *ctx, int n,
                                ct_variable *const *vars);
/* optimizer.iterations (updates applied so far). */
int64_t ct_optimizer_iterations(const ct_optimizer *o);
/* The learning rate the next update uses. */
double ct_optimizer_learning_rate(const ct_optimizer *o);
/* optimizer.learning_rate = lr; an error for an optimizer made with a
 * schedule (Keras raises a TypeError). */
ct_status ct_optimizer_set_learning_rate(ct_optimizer *o, double lr);
/* optimizer.variables: the iteration counter first, then the slots in the
 * order they were made; names as Keras's HDF5 files have them ("iteration",
 * "m/dense/kernel", ...; keras_h5.md). Borrowed. */
int ct_optimizer_num_variables(const ct_optimizer *o);
ct_variable *ct_optimizer_variable(const ct_optimizer *o, int i);

/* ---- metrics (keras.metrics) ----------------------------------------------- */

/* Zero fields take the metric's Keras defaults. */
typedef struct ct_metric_opts {
    const char *name;
    double threshold;          /* BinaryAccuracy 0.5                        */
    int nthresholds;           /* Precision, Recall, TP/TN/FP/FN: 0.5       */
    const double *thresholds;
    int top_k;                 /* Precision, Recall: 0 for none             */
    bool has_class_id;
    int64_t class_id;
    int k;                     /* TopK accuracies: 5                        */
    int num_thresholds;        /* AUC: 200                                  */
    const char *curve;         /* AUC: "ROC" or "PR"                        */
    const char *summation_method; /* "interpolation", "minoring", "majoring" */
    bool multi_label;          /* AUC                                       */
    int64_t num_classes;       /* MeanIoU (required)                        */
    bool from_logits;          /* AUC, and the loss metrics                 */
    int axis;                  /* CosineSimilarity: -1 unless has_axis      */
    bool has_axis;
} ct_metric_opts;

typedef struct ct_metric ct_metric;
/* By Keras name: "accuracy", "acc", "mse", "AUC", "precision",
 * "sparse_categorical_accuracy", ... and every loss's name (the mean of
 * its per-sample values). opts may be NULL. */
ct_metric *ct_metric_new(const char *name, const ct_metric_opts *opts);
/* The mean of fn's per-sample values (keras.metrics.MeanMetricWrapper). */
ct_metric *ct_metric_custom(const char *name, ct_loss_fn fn, void *ctx);
ct_metric *ct_metric_from_config(const char *json);
char *ct_metric_get_config(const ct_metric *m);
const char *ct_metric_name(const ct_metric *m);
void ct_metric_free(ct_metric *m);
/* update_state(y_true, y_pred, sample_weight); Mean and Sum take their
 * values as y_pred with y_true NULL. */
ct_status ct_metric_update(ct_metric *m, const ct_tensor *y_true, const ct_tensor *y_pred,
                           const ct_tensor *sample_weight);
/* result(): a scalar, or a vector for several thresholds. */
ct_tensor *ct_metric_result(ct_metric *m);
void ct_metric_reset(ct_metric *m);
/* The state variables (summed across replicas to merge them). Borrowed. */
int ct_metric_num_variables(const ct_metric *m);
ct_variable *ct_metric_variable(const ct_metric *m, int i);

/* ---- models (keras.Model) -------------------------------------------------- */

/* A model is a layer (ct_model_layer): it nests in other models, and the
 * ct_layer_* functions (weights, config, call) work on it. */
typedef struct ct_model ct_model;
ct_layer *ct_model_layer(ct_model *m);
/* keras.Sequential: layers applied in order. name NULL: "sequential",
 * "sequential_1", ... */
ct_model *ct_sequential_new(const char *name);
/* model.add(layer): the model owns the layer from here on (also when the
 * add fails: it is freed then). A layer whose output shape does not fit
 * the next one is an error naming both layers when the model builds. */
ct_status ct_sequential_add(ct_model *m, ct_layer *layer);
ct_status ct_sequential_pop(ct_model *m);
/* model.to_json() text both ways: Sequential ({"class_name":
 * "Sequential", "config": {"name", "layers": [...]}}) and Functional
 * ("layers" with their "inbound_nodes", "input_layers", "output_layers");
 * tf.keras 2, Keras 3 and TF.js forms are read, tf.keras 2's written. */
ct_model *ct_model_from_json(const char *json);
char *ct_model_to_json(const ct_model *m);
void ct_model_free(ct_model *m);

/* ---- Functional models (keras.Input, layer(x), keras.Model) ---------------
 *
 *     ct_graph *g = ct_graph_new();
 *     ct_ktensor *img = ct_input(g, 3, (int64_t[]){28, 28, 1}, CT_FLOAT32, "image");
 *     ct_ktensor *x = ct_apply(ct_layer_new("Conv2D", "{\"filters\": 8, \"kernel_size\": 3}"), img);
 *     x = ct_apply(ct_layer_new("Flatten", NULL), x);
 *     ct_ktensor *out = ct_apply(ct_layer_new("Dense", "{\"units\": 10}"), x);
 *     ct_model *m = ct_functional_new("classifier", 1, &img, 1, &out);
 *     ct_graph_free(g);     // the model keeps what it needs
 *
 * A graph owns the symbolic tensors made in it (Keras's KerasTensors) and
 * takes the caller's reference to a layer at its first application; a
 * layer applied again (shared) stays one layer with one set of weights.
 * To apply a layer that something else keeps owning (a model that lives
 * on), pass ct_layer_ref(layer). Errors propagate: a failed ct_apply
 * returns NULL, applying to NULL returns NULL keeping the first error,
 * and ct_functional_new reports it. */
typedef struct ct_graph ct_graph;
typedef struct ct_ktensor ct_ktensor;
ct_graph *ct_graph_new(void);
void ct_graph_free(ct_graph *g);
/* keras.Input(shape, dtype, name): shape without the batch axis (-1 for
 * None); name NULL: "input_1", "input_2", ... */
ct_ktensor *ct_input(ct_graph *g, int rank, const int64_t *shape, ct_dtype dtype,
                     const char *name);
/* layer(x), layer([x, y]): builds the layer for the inputs' shapes (or
 * checks a built one fits) and gives its symbolic output. */
ct_ktensor *ct_apply(ct_layer *layer, ct_ktensor *x);
ct_ktensor *ct_apply_n(ct_layer *layer, int n, ct_ktensor *const *xs);
/* For a layer with several outputs (a nested multi-output model): writes
 * them to outs (room for cap) and returns how many; -1 on error. */
int ct_apply_multi(ct_layer *layer, int n, ct_ktensor *const *xs, int cap, ct_ktensor **outs);
/* The static shape (with the batch axis, -1 unknown), dtype and layer. */
int ct_ktensor_rank(const ct_ktensor *t);
const int64_t *ct_ktensor_shape(const ct_ktensor *t);
ct_dtype ct_ktensor_dtype(const ct_ktensor *t);
ct_layer *ct_ktensor_layer(const ct_ktensor *t);
/* keras.Model(inputs, outputs, name): the layers between them, run in
 * order. name NULL: "model", "model_1", ... Errors: an input not made by
 * ct_input, a graph whose outputs need a tensor that is not computable
 * from the inputs ("Graph disconnected"), duplicate layer names. */
ct_model *ct_functional_new(const char *name, int nin, ct_ktensor *const *inputs, int nout,
                            ct_ktensor *const *outputs);

/* ---- subclassed models (a keras.Model subclass, a tf.Module) ----------------
 *
 *     typedef struct { ct_layer *hidden, *out; } mlp;       // the user's state
 *     static ct_tensor *mlp_call(ct_model *self, void *ctx, int n,
 *                                ct_tensor *const *x, bool training) {
 *         mlp *p = ctx;
 *         return ct_layer_call(p->out, ct_layer_call(p->hidden, x[0], training), training);
 *     }
 *     ct_model *m = ct_model_subclass_new("MLP", NULL, mlp_call, p, free_mlp);
 *
 * The model tracks what its call uses: every layer it calls directly
 * joins model.layers (the model holds a reference; the caller's own stay
 * the caller's, to free in free_ctx), and ct_model_add_weight makes
 * variables of the model itself, as tf.Module. Weights exist after the
 * first call (Keras builds a subclassed model when first called). Such a
 * model has no config: ct_model_to_json is an error, as Keras's
 * NotImplementedError. */
typedef ct_tensor *(*ct_model_call_fn)(ct_model *self, void *ctx, int n,
                                       ct_tensor *const *inputs, bool training);
/* class_name NULL: "Model"; name NULL: the class name in snake case made
 * unique ("mlp", "mlp_1"). free_ctx (may be NULL) runs at ct_model_free,
 * also when this fails. */
ct_model *ct_model_subclass_new(const char *class_name, const char *name, ct_model_call_fn call,
                                void *ctx, void (*free_ctx)(void *ctx));
void *ct_model_ctx(const ct_model *m);
/* Tracks a layer before any call (it then counts in summary and weights
 * from the start); the model takes a reference of its own. */
ct_status ct_model_track_layer(ct_model *m, ct_layer *layer);
/* self.add_weight / tf.Variable on a Module: a variable of the model
 * itself ("<model>/<name>"), drawn from a Keras initializer by name (NULL:
 * "glorot_uniform"). Owned by the model. */
ct_variable *ct_model_add_weight(ct_model *m, const char *name, int rank, const int64_t *shape,
                                 const char *initializer, bool trainable);

/* Inputs and outputs of any model: a Sequential has one of each; a
 * Functional's are named after their layers (outputs made unique as
 * Keras's output_names). */
int ct_model_num_inputs(const ct_model *m);
int ct_model_num_outputs(const ct_model *m);
const char *ct_model_input_name(const ct_model *m, int i);
const char *ct_model_output_name(const ct_model *m, int i);
/* model(inputs): all outputs into out[0..nout) (in the current scope). */
ct_status ct_model_call_multi(ct_model *m, int nin, ct_tensor *const *in, bool training,
                              int nout, ct_tensor **out);

const char *ct_model_name(const ct_model *m);
int ct_model_num_layers(const ct_model *m);
ct_layer *ct_model_layer_at(const ct_model *m, int i);
/* model.get_layer(name); NULL with an error naming it when absent. */
ct_layer *ct_model_get_layer(const ct_model *m, const char *name);
/* Builds for inputs of this shape (with the batch; -1 where unknown). */
ct_status ct_model_build(ct_model *m, int rank, const int64_t *input_shape);
ct_tensor *ct_model_call(ct_model *m, const ct_tensor *x, bool training);
/* model.summary(): Keras's table (layer (type), output shape, params) and
 * the total / trainable / non-trainable counts. out NULL: stdout. */
ct_status ct_model_summary(const ct_model *m, FILE *out);

/* ---- training (compile, fit, evaluate, predict) ---------------------------- */

/* What compile takes. Objects given are owned by the model from then on. */
typedef struct ct_compile_opts {
    const char *optimizer;        /* a name ("adam"); NULL: "rmsprop" (Keras) */
    ct_optimizer *optimizer_obj;  /* or an object                             */
    const char *loss;             /* a name ("sparse_categorical_crossentropy") */
    ct_loss *loss_obj;            /* or an object                             */
    int nmetrics;                 /* metrics by name: "accuracy" becomes the  */
    const char *const *metrics;   /* binary / categorical / sparse variant
                                     that fits the loss, as Keras does        */
    int nmetric_objs;
    ct_metric *const *metric_objs;
    /* A model with several outputs: one loss per output (by name or
     * object; an output with neither is not trained) instead of `loss`
     * (which applies to every output), weighted by loss_weights (NULL:
     * 1 each). Plain `metrics` names apply to every output; per-output
     * metrics go in output_metrics. Logs keys follow tf.keras 2: "loss",
     * "<output>_loss", "<output>_<metric>". */
    int nlosses;
    const char *const *losses;
    ct_loss *const *loss_objs;
    const double *loss_weights;
    int noutput_metrics;
    const struct ct_output_metrics *output_metrics;
} ct_compile_opts;
/* Metrics of one output (by its name, ct_model_output_name). */
typedef struct ct_output_metrics {
    const char *output;
    int nmetrics;
    const char *const *metrics;
    int nmetric_objs;
    ct_metric *const *metric_objs;
} ct_output_metrics;
ct_status ct_model_compile(ct_model *m, const ct_compile_opts *opts);

/* The logs dict the callbacks and History see ("loss", "accuracy",
 * "val_loss", ...). Borrowed from the model during the call. */
typedef struct ct_logs ct_logs;
int ct_logs_size(const ct_logs *logs);
const char *ct_logs_key(const ct_logs *logs, int i);
double ct_logs_value(const ct_logs *logs, int i);
/* The value of key; NAN (and false in *found) when absent. found may be
 * NULL. */
double ct_logs_get(const ct_logs *logs, const char *key, bool *found);
ct_status ct_logs_set(ct_logs *logs, const char *key, double value);

/* A callback: Keras's hooks, each optional, with the user's ctx. epoch and
 * batch count from 0, as in Keras. */
typedef struct ct_callback_hooks {
    void *ctx;
    void (*on_train_begin)(void *ctx, ct_model *m, ct_logs *logs);
    void (*on_train_end)(void *ctx, ct_model *m, ct_logs *logs);
    void (*on_epoch_begin)(void *ctx, ct_model *m, int epoch, ct_logs *logs);
    void (*on_epoch_end)(void *ctx, ct_model *m, int epoch, ct_logs *logs);
    void (*on_train_batch_begin)(void *ctx, ct_model *m, int64_t batch, ct_logs *logs);
    void (*on_train_batch_end)(void *ctx, ct_model *m, int64_t batch, ct_logs *logs);
    void (*on_test_begin)(void *ctx, ct_model *m, ct_logs *logs);
    void (*on_test_end)(void *ctx, ct_model *m, ct_logs *logs);
    void (*on_test_batch_begin)(void *ctx, ct_model *m, int64_t batch, ct_logs *logs);
    void (*on_test_batch_end)(void *ctx, ct_model *m, int64_t batch, ct_logs *logs);
    void (*on_predict_begin)(void *ctx, ct_model *m, ct_logs *logs);
    void (*on_predict_end)(void *ctx, ct_model *m, ct_logs *logs);
    void (*on_predict_batch_begin)(void *ctx, ct_model *m, int64_t batch, ct_logs *logs);
    void (*on_predict_batch_end)(void *ctx, ct_model *m, int64_t batch, ct_logs *logs);
    void (*free_ctx)(void *ctx); /* called by ct_callback_free */
} ct_callback_hooks;
typedef struct ct_callback ct_callback;
/* A user callback (Keras's LambdaCallback, or a Callback subclass). */
ct_callback *ct_callback_custom(const ct_callback_hooks *hooks);
/* A built-in callback from its Keras class name and config JSON:
 * EarlyStopping, ReduceLROnPlateau, TerminateOnNaN, CSVLogger, TensorBoard
 * (ctrain/summary.h) and ModelCheckpoint (weights files, ctrain/checkpoint.h). */
ct_callback *ct_callback_new(const char *class_name, const char *config_json);
/* keras.callbacks.LearningRateScheduler(schedule, verbose): at each epoch's
 * start the optimizer's rate becomes schedule(epoch, current rate, ctx)
 * (a NaN or negative rate stops fit with an error); "learning_rate" joins
 * the epoch's logs. */
typedef double (*ct_lr_schedule_fn)(int epoch, double lr, void *ctx);
ct_callback *ct_callback_learning_rate_scheduler(ct_lr_schedule_fn schedule, void *ctx,
                                                 int verbose);
void ct_callback_free(ct_callback *cb);
/* model.stop_training = True (from a callback). */
void ct_model_stop_training(ct_model *m);
/* Asks every fit of this process to stop after its current batch, as
 * model.stop_training = True from a callback: the epoch's end and its
 * callbacks still run and fit returns the history. Async-signal-safe, for
 * a SIGINT or SIGTERM handler (what `ctrain train` installs). Under a
 * strategy the replicas agree each batch, so a request on one rank stops
 * every rank at the same batch. reason (non-zero: the signal number, say)
 * is what ct_stop_requested returns until ct_clear_stop_request. */
void ct_request_stop(int reason);
int ct_stop_requested(void);
void ct_clear_stop_request(void);
/* The last fit of m stopped on a stop request after a BackupAndRestore
 * callback saved its position (ctrain/checkpoint.h): running the same fit
 * again resumes there. Without such a callback a stop request ends the
 * epoch under way as model.stop_training does and this stays false. */
bool ct_model_preempted(const ct_model *m);
/* The compiled optimizer (for callbacks that change the learning rate). */
ct_optimizer *ct_model_optimizer(ct_model *m);

/* verbose: 0 means Keras's "auto" (1); CT_VERBOSE_SILENT for none. */
enum { CT_VERBOSE_AUTO = 0, CT_VERBOSE_BAR = 1, CT_VERBOSE_EPOCH = 2, CT_VERBOSE_SILENT = -1 };

/* model.fit. Either x and y (tensors whose first axis is the samples) or
 * dataset (batches of (x, y) or (x, y, sample_weight)). Zero fields take
 * Keras's defaults: batch_size 32, epochs 1, shuffle on. */
typedef struct ct_fit_opts {
    const ct_tensor *x, *y;
    /* Or, for a model with several inputs / outputs, one array each in the
     * model's order (ct_model_input_name / ct_model_output_name). A
     * dataset's elements are then (inputs..., targets...[, sample_weight])
     * or named inputs with unnamed targets. One sample_weight serves every
     * output. */
    int nx, ny;
    const ct_tensor *const *xs, *const *ys;
    ct_dataset *dataset;
    int64_t batch_size;
    int epochs;
    int verbose;
    int ncallbacks;
    ct_callback *const *callbacks; /* borrowed                             */
    double validation_split;       /* the last fraction of x / y           */
    const ct_tensor *val_x, *val_y;
    int nval_x, nval_y;
    const ct_tensor *const *val_xs, *const *val_ys;
    ct_dataset *validation_data;
    /* Under a strategy of several replicas: dataset and validation_data
     * give this replica's batches (each rank's own shard, batched by its
     * part of the global batch: TF's distribute_datasets_from_function),
     * instead of global batches every rank reads in full. */
    bool dataset_per_replica;
    int validation_freq;           /* every n epochs; 0: 1                 */
    bool no_shuffle;
    const ct_tensor *sample_weight;
    int nclass_weight;             /* class_weight[c] for label c          */
    const double *class_weight;
    int initial_epoch;
    int64_t steps_per_epoch, validation_steps; /* 0: the whole data       */
    FILE *out;                     /* the progress output; NULL: stdout    */
} ct_fit_opts;

/* The History: per epoch, every logs key ("loss", "val_accuracy", ...). */
typedef struct ct_history ct_history;
ct_history *ct_model_fit(ct_model *m, const ct_fit_opts *opts);
int ct_history_epochs(const ct_history *h);
/* history.epoch[i]: the epoch number (from 0) of the i-th epoch recorded
 * (a fit from initial_epoch, or resumed by BackupAndRestore, starts past
 * 0); -1 out of range. */
int ct_history_epoch(const ct_history *h, int i);
int ct_history_num_keys(const ct_history *h);
const char *ct_history_key(const ct_history *h, int i);
/* history.history[key][i]: the i-th value logged for key (val_ keys have
 * fewer with validation_freq > 1); NAN when absent. */
double ct_history_value(const ct_history *h, const char *key, int i);
void ct_history_free(ct_history *h);

typedef struct ct_eval_opts {
    const ct_tensor *x, *y;
    int nx, ny; /* several inputs / outputs: as ct_fit_opts */
    const ct_tensor *const *xs, *const *ys;
    ct_dataset *dataset;
    int64_t batch_size;            /* 32 */
    int verbose;
    int64_t steps;
    const ct_tensor *sample_weight;
    int ncallbacks;
    ct_callback *const *callbacks;
    FILE *out;
} ct_eval_opts;
/* model.evaluate: the loss and metrics over the data, into *results
 * (malloc'ed: free with ct_logs_free). */
ct_status ct_model_evaluate(ct_model *m, const ct_eval_opts *opts, ct_logs **results);
void ct_logs_free(ct_logs *logs);
/* model.predict: the outputs for every sample of x (or dataset's x), in
 * batches, concatenated; in the current scope. opts's y fields unused. */
ct_tensor *ct_model_predict(ct_model *m, const ct_eval_opts *opts);
/* The same for a model with several outputs: nout tensors into out. */
ct_status ct_model_predict_multi(ct_model *m, const ct_eval_opts *opts, int nout,
                                 ct_tensor **out);
/* One step on one batch; *results as evaluate's (results may be NULL). */
ct_status ct_model_train_on_batch(ct_model *m, const ct_tensor *x, const ct_tensor *y,
                                  const ct_tensor *sample_weight, ct_logs **results);
ct_status ct_model_test_on_batch(ct_model *m, const ct_tensor *x, const ct_tensor *y,
                                 const ct_tensor *sample_weight, ct_logs **results);
ct_tensor *ct_model_predict_on_batch(ct_model *m, const ct_tensor *x);
/* The *_on_batch calls for several inputs and outputs. */
ct_status ct_model_train_on_batch_n(ct_model *m, int nx, const ct_tensor *const *x, int ny,
                                    const ct_tensor *const *y, const ct_tensor *sample_weight,
                                    ct_logs **results);
ct_status ct_model_test_on_batch_n(ct_model *m, int nx, const ct_tensor *const *x, int ny,
                                   const ct_tensor *const *y, const ct_tensor *sample_weight,
                                   ct_logs **results);

#ifdef __cplusplus
}
#endif
#endif
