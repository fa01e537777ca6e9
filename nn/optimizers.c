/*
 * Optimizers (keras.optimizers): SGD, Adagrad, RMSprop, Adadelta, Adam,
 * AdamW, Adamax, Nadam and Ftrl with Keras 3's update rules, defaults and
 * epsilon placement (keras/src/optimizers/<name>.py), and the base optimizer's
 * semantics (keras/src/optimizers/base_optimizer.py): an int64 iteration
 * counter, a constant learning rate or a schedule evaluated at the counter,
 * gradient clipping (clipnorm per gradient, clipvalue, global_clipnorm),
 * decoupled weight decay applied before the update, NULL gradients skipped.
 *
 * The optimizer's variables are listed as Keras 2.11+ (tf_keras) lists and
 * names them in HDF5 files ("iteration", then "m/dense/kernel", ... in the
 * order its build() creates them), so checkpoints pair by position with
 * Keras's own. Keras 3 names slots differently ("dense_kernel_momentum")
 * and also tracks the learning rate as a variable; the HDF5 layout is
 * Keras 2's, so its names and order are the ones kept here.
 *
 * Numbers. Keras keeps a constant learning rate in a float32 variable and
 * casts it, and every hyper-parameter, to the variable's dtype; a Python
 * float meeting a float32 tensor becomes float32. The scalar coefficients
 * (bias corrections, Nadam's momentum schedule) are computed here on the
 * host with the same roundings (rnd(): a double operation rounded once to
 * float gives the float operation), and the elementwise parts run in the
 * variable's dtype in the order Keras's expressions evaluate.
 *
 * Speed. On the CPU each variable is updated by one fused loop
 * (optimizer_kernels.c) that reads the gradient once and writes the
 * variable and its slots in place (ct__variable_data_for_write: a private
 * copy first when earlier reads or tape snapshots share the storage),
 * performing per element exactly the float operations of the op chain in
 * update_step, so both give the same bits. The op chain remains for
 * variables on other devices and when a gradient is a variable's live
 * value; loss scaling and clipping stay ops on the gradients before it.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "distribute/strategy_internal.h"
#include "nn/internal.h"
#include "nn/optimizer_kernels.h"
#include "runtime/idmap.h"

typedef enum {
    OPT_SGD,
    OPT_ADAGRAD,
    OPT_RMSPROP,
    OPT_ADADELTA,
    OPT_ADAM,
    OPT_ADAMW,
    OPT_ADAMAX,
    OPT_NADAM,
    OPT_FTRL,
    OPT_COUNT
} opt_kind;

typedef struct {
    const char *cls;       /* Keras class name                          */
    const char *alias;     /* the string name keras.optimizers.get takes */
    const char *dflt_name; /* Keras 3's default `name`                  */
    double lr;             /* default learning rate                      */
    /* The slots (Keras 2.11+ names) and the build() loop that makes each:
     * slots of one group are made variable by variable, interleaved. */
    const char *slot[3];
    int group[3];
} opt_info;

static const opt_info INFO[OPT_COUNT] = {
    /* tf_keras SGD makes "m" for every variable, momentum or not (Keras 3
     * only with momentum); kept for the checkpoint layout. */
    [OPT_SGD] = {"SGD", "sgd", "SGD", 0.01, {"m"}, {0}},
    [OPT_ADAGRAD] = {"Adagrad", "adagrad", "adagrad", 0.001, {"accumulator"}, {0}},
    [OPT_RMSPROP] = {"RMSprop", "rmsprop", "rmsprop", 0.001,
                     {"velocity", "momentum", "average_gradient"}, {0, 1, 2}},
    [OPT_ADADELTA] = {"Adadelta", "adadelta", "adadelta", 0.001,
                      {"accumulated_grad", "accumulated_delta_var"}, {0, 0}},
    [OPT_ADAM] = {"Adam", "adam", "adam", 0.001, {"m", "v", "vhat"}, {0, 0, 1}},
    [OPT_ADAMW] = {"AdamW", "adamw", "adamw", 0.001, {"m", "v", "vhat"}, {0, 0, 1}},
    [OPT_ADAMAX] = {"Adamax", "adamax", "adamax", 0.001, {"m", "u"}, {0, 0}},
    [OPT_NADAM] = {"Nadam", "nadam", "nadam", 0.001, {"m", "v"}, {0, 0}},
    [OPT_FTRL] = {"Ftrl", "ftrl", "ftrl", 0.001, {"accumulator", "linear"}, {0, 0}},
};

/* A variable the optimizer updates and its slots (NULL where unused). */
typedef struct {
    ct_variable *var;
    ct_variable *slot[3];
} tracked;

struct ct_optimizer {
    opt_kind kind;
    char *name;
    double learning_rate;        /* when no schedule                       */
    ct_lr_schedule *schedule;    /* or NULL                                */
    bool owns_schedule;          /* made from a config                     */
    double momentum;             /* SGD, RMSprop                           */
    bool nesterov;               /* SGD                                    */
    double rho;                  /* RMSprop, Adadelta                      */
    bool centered;               /* RMSprop                                */
    double beta_1, beta_2;       /* Adam family                            */
    double epsilon;
    bool amsgrad;                /* Adam, AdamW                            */
    double initial_accumulator_value; /* Adagrad, Ftrl                     */
    double learning_rate_power, l1, l2, l2_shrinkage, beta; /* Ftrl        */
    bool has_weight_decay;
    double weight_decay;
    bool has_clipnorm, has_clipvalue, has_global_clipnorm;
    double clipnorm, clipvalue, global_clipnorm;
    bool has_loss_scale;         /* Keras 3 loss_scale_factor              */
    double loss_scale_factor;
    ct_variable *iterations;     /* int64 "iteration"                      */
    int nvars, capvars;          /* optimizer.variables: iteration, slots  */
    ct_variable **vars;
    int ntracked, captracked;
    tracked *tracked;
    ct__idmap tracked_ids;       /* value tensor id -> index in tracked + 1 */
    /* Nadam's u_product (Keras 3 keeps it in a variable of the first
     * variable's dtype, outside the saved variables): a product over the
     * steps, cached for step u_step and recomputed from the counter when
     * the counter moved otherwise (e.g. restored from a checkpoint). */
    bool u_ready;
    ct_dtype u_dtype;
    int64_t u_step;
    double u_product;
    bool ops_only;               /* tests: no fused kernels (ct__optimizer_set_fused) */
};

/* ---- errors -------------------------------------------------------------------- */

static ct_status opt_error(const ct_optimizer *o, ct_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ct_status opt_error(const ct_optimizer *o, ct_status code, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ct__error(code, "%s '%s': %s", INFO[o->kind].cls, o->name ? o->name : "?", msg);
}

/* ---- construction ------------------------------------------------------------- */

static bool lookup_kind(const char *name, opt_kind *out) {
    if (!name) return false;
    /* Keras 2.11+ registers its optimizers as "Custom>Adam" (keras_h5.md). */
    const char *gt = strrchr(name, '>');
    if (gt) name = gt + 1;
    for (int k = 0; k < OPT_COUNT; k++)
        if (!strcasecmp(name, INFO[k].cls) || !strcasecmp(name, INFO[k].alias)) {
            *out = (opt_kind)k;
            return true;
        }
    return false;
}

static void set_defaults(ct_optimizer *o, opt_kind kind) {
    o->kind = kind;
    o->learning_rate = INFO[kind].lr;
    o->rho = kind == OPT_ADADELTA ? 0.95 : 0.9;
    o->beta_1 = 0.9;
    o->beta_2 = 0.999;
    o->epsilon = 1e-7;
    o->initial_accumulator_value = 0.1;
    o->learning_rate_power = -0.5;
    o->has_weight_decay = kind == OPT_ADAMW;
    o->weight_decay = kind == OPT_ADAMW ? 0.004 : 0.0;
}

/* The argument checks Keras makes (and a non-negative constant rate). */
static ct_status check_args(const ct_optimizer *o) {
#define ARG_CHECK(ok, key, ...)                                                              \
    do {                                                                                     \
        if (!(ok)) {                                                                         \
            char m_[256];                                                                    \
            snprintf(m_, sizeof m_, __VA_ARGS__);                                            \
            return opt_error(o, CT_ERR_INVALID_ARGUMENT, "argument '%s': %s", key, m_);      \
        }                                                                                    \
    } while (0)
    if (!o->schedule)
        ARG_CHECK(o->learning_rate >= 0 && isfinite(o->learning_rate), "learning_rate",
                  "must be a non-negative number, got %g", o->learning_rate);
    int nclip = o->has_clipnorm + o->has_clipvalue + o->has_global_clipnorm;
    if (nclip > 1)
        return opt_error(o, CT_ERR_INVALID_ARGUMENT,
                         "only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                         "set; got clipnorm=%g, clipvalue=%g, global_clipnorm=%g",
                         o->clipnorm, o->clipvalue, o->global_clipnorm);
    if (o->kind == OPT_SGD)
        ARG_CHECK(o->momentum >= 0 && o->momentum <= 1, "momentum",
                  "must be a float between [0, 1], got %g", o->momentum);
    if (o->kind == OPT_ADAMW)
        ARG_CHECK(o->has_weight_decay, "weight_decay", "must be a float, got None");
    if (o->kind == OPT_FTRL) {
        ARG_CHECK(o->initial_accumulator_value >= 0, "initial_accumulator_value",
                  "needs to be positive or zero, got %g", o->initial_accumulator_value);
        ARG_CHECK(o->learning_rate_power <= 0, "learning_rate_power",
                  "needs to be negative or zero, got %g", o->learning_rate_power);
        ARG_CHECK(o->l1 >= 0, "l1_regularization_strength",
                  "needs to be positive or zero, got %g", o->l1);
        ARG_CHECK(o->l2 >= 0, "l2_regularization_strength",
                  "needs to be positive or zero, got %g", o->l2);
        ARG_CHECK(o->l2_shrinkage >= 0, "l2_shrinkage_regularization_strength",
                  "needs to be positive or zero, got %g", o->l2_shrinkage);
    }
#undef ARG_CHECK
    return CT_OK;
}

/* Checks the arguments and makes the iteration counter; frees o on error. */
static ct_optimizer *finish_new(ct_optimizer *o, const char *name) {
    o->name = strdup(name ? name : INFO[o->kind].dflt_name);
    if (!o->name) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", INFO[o->kind].cls);
        ct_optimizer_free(o);
        return NULL;
    }
    if (check_args(o)) {
        ct_optimizer_free(o);
        return NULL;
    }
    ct_scope_begin();
    o->iterations = ct_variable_new(ct_scalar_of(CT_INT64, 0),
                                    &(ct_variable_opts){.name = "iteration", .non_trainable = true});
    ct_scope_end();
    o->vars = malloc(8 * sizeof *o->vars);
    if (!o->iterations || !o->vars) {
        if (o->iterations || !ct_last_status())
            ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", INFO[o->kind].cls);
        ct_optimizer_free(o);
        return NULL;
    }
    o->capvars = 8;
    o->vars[o->nvars++] = o->iterations;
    return o;
}

ct_optimizer *ct_optimizer_new(const char *name, const ct_optimizer_opts *opts) {
    opt_kind kind;
    if (!lookup_kind(name, &kind)) {
        ct__error(CT_ERR_NOT_FOUND,
                  "ct_optimizer_new: unknown optimizer '%s' (expected sgd, adagrad, rmsprop, "
                  "adadelta, adam, adamw, adamax, nadam or ftrl)",
                  name ? name : "(null)");
        return NULL;
    }
    ct_optimizer *o = calloc(1, sizeof *o);
    if (!o) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", INFO[kind].cls);
        return NULL;
    }
    set_defaults(o, kind);
    const ct_optimizer_opts z = {0};
    const ct_optimizer_opts *p = opts ? opts : &z;
    if (p->learning_rate != 0) o->learning_rate = p->learning_rate;
    o->schedule = p->schedule;
    if (p->momentum != 0) o->momentum = p->momentum;
    o->nesterov = p->nesterov;
    if (p->rho != 0) o->rho = p->rho;
    o->centered = p->centered;
    if (p->beta_1 != 0) o->beta_1 = p->beta_1;
    if (p->beta_2 != 0) o->beta_2 = p->beta_2;
    if (p->epsilon != 0) o->epsilon = p->epsilon;
    o->amsgrad = p->amsgrad;
    if (p->initial_accumulator_value != 0)
        o->initial_accumulator_value = p->initial_accumulator_value;
    if (p->learning_rate_power != 0) o->learning_rate_power = p->learning_rate_power;
    o->l1 = p->l1_regularization_strength;
    o->l2 = p->l2_regularization_strength;
    o->l2_shrinkage = p->l2_shrinkage_regularization_strength;
    o->beta = p->beta;
    if (p->has_weight_decay) {
        o->has_weight_decay = true;
        o->weight_decay = p->weight_decay;
    }
    o->has_clipnorm = p->clipnorm != 0;
    o->clipnorm = p->clipnorm;
    o->has_clipvalue = p->clipvalue != 0;
    o->clipvalue = p->clipvalue;
    o->has_global_clipnorm = p->global_clipnorm != 0;
    o->global_clipnorm = p->global_clipnorm;
    return finish_new(o, p->name);
}

void ct_optimizer_free(ct_optimizer *o) {
    if (!o) return;
    for (int i = 0; i < o->nvars; i++) ct_variable_free(o->vars[i]);
    if (o->nvars == 0) ct_variable_free(o->iterations);
    if (o->owns_schedule) ct_lr_schedule_free(o->schedule);
    free(o->vars);
    free(o->tracked);
    ct__idmap_free(&o->tracked_ids);
    free(o->name);
    free(o);
}

/* ---- config --------------------------------------------------------------------- */

/* A number or null (None) argument: *has tells which. */
static ct_status cfg_opt_num(ct__cfg *c, const char *key, bool *has, double *out) {
    *has = ct__cfg_has(c, key);
    return ct__cfg_double(c, key, 0.0, out);
}

static ct_status read_config(ct_optimizer *o, ct__cfg *c) {
    bool use_ema, unused_b;
    double unused_d;
    int64_t unused_i, accumulation;
    const opt_kind k = o->kind;
    ct_status st;
    /* Base arguments (Keras 3), and Keras 2's extras (accepted, unused). */
    bool had_wd = ct__cfg_has(c, "weight_decay");
    st = ct__cfg_double(c, "weight_decay", o->weight_decay, &o->weight_decay) ||
         cfg_opt_num(c, "clipnorm", &o->has_clipnorm, &o->clipnorm) ||
         cfg_opt_num(c, "clipvalue", &o->has_clipvalue, &o->clipvalue) ||
         cfg_opt_num(c, "global_clipnorm", &o->has_global_clipnorm, &o->global_clipnorm) ||
         ct__cfg_bool(c, "use_ema", false, &use_ema) ||
         ct__cfg_double(c, "ema_momentum", 0.99, &unused_d) ||
         ct__cfg_int(c, "ema_overwrite_frequency", 0, &unused_i) ||
         cfg_opt_num(c, "loss_scale_factor", &o->has_loss_scale, &o->loss_scale_factor) ||
         ct__cfg_int(c, "gradient_accumulation_steps", 0, &accumulation) ||
         ct__cfg_bool(c, "jit_compile", true, &unused_b) ||
         ct__cfg_bool(c, "is_legacy_optimizer", false, &unused_b) ||
         /* Keras 3 ignores `decay` (with a warning), as here. */
         ct__cfg_double(c, "decay", 0.0, &unused_d);
    if (st) return st;
    /* weight_decay: null is None, except that AdamW requires a number. */
    if (json_object_get(c->obj, "weight_decay")) o->has_weight_decay = had_wd;
    if (use_ema)
        return ct__cfg_check(c, false, "use_ema", "exponential moving averages are not "
                                                  "supported by ctrain's optimizers");
    if (accumulation != 0)
        return ct__cfg_check(c, false, "gradient_accumulation_steps",
                             "gradient accumulation is not supported by ctrain's optimizers");
    if (o->has_loss_scale && !(o->loss_scale_factor > 0))
        return ct__cfg_check(c, false, "loss_scale_factor", "must be positive, got %g",
                             o->loss_scale_factor);
    switch (k) {
    case OPT_SGD:
        return ct__cfg_double(c, "momentum", 0.0, &o->momentum) ||
               ct__cfg_bool(c, "nesterov", false, &o->nesterov);
    case OPT_ADAGRAD:
        return ct__cfg_double(c, "initial_accumulator_value", 0.1,
                              &o->initial_accumulator_value) ||
               ct__cfg_double(c, "epsilon", 1e-7, &o->epsilon);
    case OPT_RMSPROP:
        return ct__cfg_double(c, "rho", 0.9, &o->rho) ||
               ct__cfg_double(c, "momentum", 0.0, &o->momentum) ||
               ct__cfg_double(c, "epsilon", 1e-7, &o->epsilon) ||
               ct__cfg_bool(c, "centered", false, &o->centered);
    case OPT_ADADELTA:
        return ct__cfg_double(c, "rho", 0.95, &o->rho) ||
               ct__cfg_double(c, "epsilon", 1e-7, &o->epsilon);
    case OPT_ADAM:
    case OPT_ADAMW:
        return ct__cfg_double(c, "beta_1", 0.9, &o->beta_1) ||
               ct__cfg_double(c, "beta_2", 0.999, &o->beta_2) ||
               ct__cfg_double(c, "epsilon", 1e-7, &o->epsilon) ||
               ct__cfg_bool(c, "amsgrad", false, &o->amsgrad);
    case OPT_ADAMAX:
    case OPT_NADAM:
        return ct__cfg_double(c, "beta_1", 0.9, &o->beta_1) ||
               ct__cfg_double(c, "beta_2", 0.999, &o->beta_2) ||
               ct__cfg_double(c, "epsilon", 1e-7, &o->epsilon);
    case OPT_FTRL:
        return ct__cfg_double(c, "learning_rate_power", -0.5, &o->learning_rate_power) ||
               ct__cfg_double(c, "initial_accumulator_value", 0.1,
                              &o->initial_accumulator_value) ||
               ct__cfg_double(c, "l1_regularization_strength", 0.0, &o->l1) ||
               ct__cfg_double(c, "l2_regularization_strength", 0.0, &o->l2) ||
               ct__cfg_double(c, "l2_shrinkage_regularization_strength", 0.0,
                              &o->l2_shrinkage) ||
               ct__cfg_double(c, "beta", 0.0, &o->beta);
    case OPT_COUNT:
        break;
    }
    return CT_OK;
}

/* learning_rate: a number, or a serialized schedule ({"class_name", ...}). */
static ct_status read_learning_rate(ct_optimizer *o, const json_t *lr) {
    if (!lr || json_is_null(lr)) return CT_OK;
    if (json_is_number(lr)) {
        o->learning_rate = json_number_value(lr);
        return CT_OK;
    }
    if (!json_is_object(lr))
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: argument 'learning_rate': must be a number or a serialized "
                         "LearningRateSchedule",
                         INFO[o->kind].cls);
    char *text = ct__json_dump(lr);
    if (!text) return ct_last_status();
    o->schedule = ct_lr_schedule_from_config(text);
    free(text);
    if (!o->schedule) return ct_last_status();
    o->owns_schedule = true;
    return CT_OK;
}

ct_optimizer *ct_optimizer_from_config(const char *json) {
    json_t *j = ct__json_parse(json, "ct_optimizer_from_config");
    if (!j) return NULL;
    ct_optimizer *o = NULL;
    json_t *rest = NULL;
    const json_t *cls = json_is_object(j) ? json_object_get(j, "class_name") : NULL;
    const json_t *cfg = json_is_object(j) ? json_object_get(j, "config") : NULL;
    opt_kind kind;
    if (!json_is_string(cls)) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_optimizer_from_config: expected {\"class_name\": ..., \"config\": {...}}");
        goto out;
    }
    if (!lookup_kind(json_string_value(cls), &kind)) {
        ct__error(CT_ERR_NOT_FOUND,
                  "ct_optimizer_from_config: unknown optimizer '%s' (expected SGD, Adagrad, "
                  "RMSprop, Adadelta, Adam, AdamW, Adamax, Nadam or Ftrl)",
                  json_string_value(cls));
        goto out;
    }
    if (cfg && !json_is_null(cfg) && !json_is_object(cfg)) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: 'config' must be a JSON object", INFO[kind].cls);
        goto out;
    }
    o = calloc(1, sizeof *o);
    rest = json_is_object(cfg) ? json_copy((json_t *)cfg) : json_object();
    if (!o || !rest) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", INFO[kind].cls);
        free(o);
        o = NULL;
        goto out;
    }
    set_defaults(o, kind);
    const json_t *name = json_object_get(rest, "name");
    if (name && !json_is_null(name) && !json_is_string(name)) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: argument 'name': must be a string",
                  INFO[kind].cls);
        free(o);
        o = NULL;
        goto out;
    }
    const char *nm = json_is_string(name) ? json_string_value(name) : INFO[kind].dflt_name;
    ct__cfg c;
    if (read_learning_rate(o, json_object_get(rest, "learning_rate"))) {
        ct_optimizer_free(o);
        o = NULL;
        goto out;
    }
    json_object_del(rest, "learning_rate");
    if (ct__cfg_begin(&c, rest, INFO[kind].cls, nm)) {
        ct_optimizer_free(o);
        o = NULL;
        goto out;
    }
    if (read_config(o, &c)) {
        ct__cfg_end(&c);
        ct_optimizer_free(o);
        o = NULL;
        goto out;
    }
    if (ct__cfg_finish(&c)) {
        ct_optimizer_free(o);
        o = NULL;
        goto out;
    }
    o = finish_new(o, nm);
out:
    json_decref(rest);
    json_decref(j);
    return o;
}

static json_t *opt_num(bool has, double v) { return has ? json_real(v) : json_null(); }

char *ct_optimizer_get_config(const ct_optimizer *o) {
    if (!o) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_optimizer_get_config: the optimizer is NULL");
        return NULL;
    }
    json_t *c = json_object(), *out = json_object(), *lr = NULL;
    if (o->schedule) {
        char *text = ct_lr_schedule_get_config(o->schedule);
        if (text) lr = ct__json_parse(text, "ct_optimizer_get_config");
        free(text);
    } else {
        lr = json_real(o->learning_rate);
    }
    if (!c || !out || !lr) {
        json_decref(c);
        json_decref(out);
        json_decref(lr);
        if (!ct_last_status())
            ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory writing the config",
                      INFO[o->kind].cls);
        return NULL;
    }
    /* Keras 3's keys, in its order. */
    json_object_set_new(c, "name", json_string(o->name));
    json_object_set_new(c, "learning_rate", lr);
    json_object_set_new(c, "weight_decay", opt_num(o->has_weight_decay, o->weight_decay));
    json_object_set_new(c, "clipnorm", opt_num(o->has_clipnorm, o->clipnorm));
    json_object_set_new(c, "global_clipnorm",
                        opt_num(o->has_global_clipnorm, o->global_clipnorm));
    json_object_set_new(c, "clipvalue", opt_num(o->has_clipvalue, o->clipvalue));
    json_object_set_new(c, "use_ema", json_false());
    json_object_set_new(c, "ema_momentum", json_real(0.99));
    json_object_set_new(c, "ema_overwrite_frequency", json_null());
    json_object_set_new(c, "loss_scale_factor",
                        opt_num(o->has_loss_scale, o->loss_scale_factor));
    json_object_set_new(c, "gradient_accumulation_steps", json_null());
    switch (o->kind) {
    case OPT_SGD:
        json_object_set_new(c, "momentum", json_real(o->momentum));
        json_object_set_new(c, "nesterov", json_boolean(o->nesterov));
        break;
    case OPT_ADAGRAD:
        json_object_set_new(c, "initial_accumulator_value",
                            json_real(o->initial_accumulator_value));
        json_object_set_new(c, "epsilon", json_real(o->epsilon));
        break;
    case OPT_RMSPROP:
        json_object_set_new(c, "rho", json_real(o->rho));
        json_object_set_new(c, "momentum", json_real(o->momentum));
        json_object_set_new(c, "epsilon", json_real(o->epsilon));
        json_object_set_new(c, "centered", json_boolean(o->centered));
        break;
    case OPT_ADADELTA:
        json_object_set_new(c, "rho", json_real(o->rho));
        json_object_set_new(c, "epsilon", json_real(o->epsilon));
        break;
    case OPT_ADAM:
    case OPT_ADAMW:
    case OPT_ADAMAX:
    case OPT_NADAM:
        json_object_set_new(c, "beta_1", json_real(o->beta_1));
        json_object_set_new(c, "beta_2", json_real(o->beta_2));
        json_object_set_new(c, "epsilon", json_real(o->epsilon));
        if (o->kind == OPT_ADAM || o->kind == OPT_ADAMW)
            json_object_set_new(c, "amsgrad", json_boolean(o->amsgrad));
        break;
    case OPT_FTRL:
        json_object_set_new(c, "learning_rate_power", json_real(o->learning_rate_power));
        json_object_set_new(c, "initial_accumulator_value",
                            json_real(o->initial_accumulator_value));
        json_object_set_new(c, "l1_regularization_strength", json_real(o->l1));
        json_object_set_new(c, "l2_regularization_strength", json_real(o->l2));
        json_object_set_new(c, "l2_shrinkage_regularization_strength",
                            json_real(o->l2_shrinkage));
        json_object_set_new(c, "beta", json_real(o->beta));
        break;
    case OPT_COUNT:
        break;
    }
    json_object_set_new(out, "module", json_string("keras.optimizers"));
    json_object_set_new(out, "class_name", json_string(INFO[o->kind].cls));
    json_object_set_new(out, "config", c);
    json_object_set_new(out, "registered_name", json_null());
    char *text = ct__json_dump(out);
    json_decref(out);
    return text;
}

/* ---- state -------------------------------------------------------------------- */

static int64_t read_iterations(const ct_optimizer *o) {
    int64_t it = 0;
    ct_tensor_read(ct_variable_value(o->iterations), CT_INT64, &it, 1);
    return it;
}

int64_t ct_optimizer_iterations(const ct_optimizer *o) {
    if (!o) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_optimizer_iterations: the optimizer is NULL");
        return -1;
    }
    return read_iterations(o);
}

/* The rate at step it: the schedule's, or the constant as Keras's float32
 * learning-rate variable holds it. */
static double rate_at(const ct_optimizer *o, int64_t it) {
    return o->schedule ? ct_lr_schedule_value(o->schedule, it) : (double)(float)o->learning_rate;
}

double ct_optimizer_learning_rate(const ct_optimizer *o) {
    if (!o) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_optimizer_learning_rate: the optimizer is NULL");
        return NAN;
    }
    return rate_at(o, read_iterations(o));
}

int ct_optimizer_num_variables(const ct_optimizer *o) { return o ? o->nvars : 0; }

ct_variable *ct_optimizer_variable(const ct_optimizer *o, int i) {
    if (!o || i < 0 || i >= o->nvars) {
        ct__error(CT_ERR_OUT_OF_RANGE, "ct_optimizer_variable: index %d is outside [0, %d)", i,
                  o ? o->nvars : 0);
        return NULL;
    }
    return o->vars[i];
}

/* A variable's entry, by its value tensor's id (fixed for the variable's
 * life, and never reused), in constant time: models have hundreds. */
static tracked *find_tracked(const ct_optimizer *o, ct_variable *v) {
    intptr_t i = (intptr_t)ct__idmap_get(&o->tracked_ids, ct_variable_value(v)->id);
    return i ? &o->tracked[i - 1] : NULL;
}

/* Rebuilds tracked_ids from tracked[0, ntracked). */
static ct_status index_tracked(ct_optimizer *o) {
    ct__idmap_free(&o->tracked_ids);
    for (int i = 0; i < o->ntracked; i++)
        if (ct__idmap_put(&o->tracked_ids, ct_variable_value(o->tracked[i].var)->id,
                          (void *)(intptr_t)(i + 1)))
            return opt_error(o, CT_ERR_OUT_OF_MEMORY, "out of memory");
    return CT_OK;
}

static bool slot_used(const ct_optimizer *o, int k) {
    if (!INFO[o->kind].slot[k]) return false;
    if (o->kind == OPT_RMSPROP) return k == 0 || (k == 1 ? o->momentum > 0 : o->centered);
    if (o->kind == OPT_ADAM || o->kind == OPT_ADAMW) return k < 2 || o->amsgrad;
    return true;
}

/* Makes slot k of t: "<slot>/<variable name>" (":0" dropped), zeros or the
 * initial accumulator value, the variable's dtype, shape and device. */
static ct_status make_slot(ct_optimizer *o, tracked *t, int k) {
    const char *vn = ct_variable_name(t->var);
    size_t len = strlen(vn);
    if (len > 2 && !strcmp(vn + len - 2, ":0")) len -= 2;
    char *name = malloc(strlen(INFO[o->kind].slot[k]) + len + 2);
    if (!name) return opt_error(o, CT_ERR_OUT_OF_MEMORY, "out of memory");
    sprintf(name, "%s/%.*s", INFO[o->kind].slot[k], (int)len, vn);
    ct_tensor *value = ct_variable_value(t->var);
    bool accumulator = (o->kind == OPT_ADAGRAD || o->kind == OPT_FTRL) && k == 0;
    ct_tensor *init = accumulator ? ct_fill_like(value, o->initial_accumulator_value)
                                  : ct_zeros_like(value);
    ct_variable *s = ct_variable_new(init, &(ct_variable_opts){.name = name, .non_trainable = true});
    free(name);
    if (!s) return ct_last_status();
    if (o->nvars == o->capvars) {
        int cap = o->capvars * 2;
        ct_variable **nv = realloc(o->vars, (size_t)cap * sizeof *nv);
        if (!nv) {
            ct_variable_free(s);
            return opt_error(o, CT_ERR_OUT_OF_MEMORY, "out of memory");
        }
        o->vars = nv;
        o->capvars = cap;
    }
    o->vars[o->nvars++] = s;
    t->slot[k] = s;
    return CT_OK;
}

/* Tracks the variables not seen before and makes their slots in the order
 * of Keras 2.11+'s build(); on error nothing new is kept. */
static ct_status track_new(ct_optimizer *o, int n, ct_variable *const *vars) {
    int nvars0 = o->nvars, ntracked0 = o->ntracked;
    int nnew = 0;
    for (int i = 0; i < n; i++)
        if (!find_tracked(o, vars[i])) nnew++;
    if (!nnew) return CT_OK;
    if (o->ntracked + nnew > o->captracked) {
        int cap = o->captracked ? o->captracked : 8;
        while (cap < o->ntracked + nnew) cap *= 2;
        tracked *nt = realloc(o->tracked, (size_t)cap * sizeof *nt);
        if (!nt) return opt_error(o, CT_ERR_OUT_OF_MEMORY, "out of memory");
        o->tracked = nt;
        o->captracked = cap;
    }
    for (int i = 0; i < n; i++)
        if (!find_tracked(o, vars[i])) {
            o->tracked[o->ntracked++] = (tracked){.var = vars[i]};
            if (ct__idmap_put(&o->tracked_ids, ct_variable_value(vars[i])->id,
                              (void *)(intptr_t)o->ntracked)) {
                o->ntracked = ntracked0;
                index_tracked(o);
                return opt_error(o, CT_ERR_OUT_OF_MEMORY, "out of memory");
            }
        }
    if (o->kind == OPT_NADAM && !o->u_ready) {
        o->u_ready = true;
        o->u_dtype = ct_tensor_dtype(ct_variable_value(vars[0]));
        o->u_step = 0;
        o->u_product = 1.0;
    }
    ct_status st = CT_OK;
    ct_scope_begin();
    for (int g = 0; g < 3 && !st; g++)
        for (int i = ntracked0; i < o->ntracked && !st; i++)
            for (int k = 0; k < 3 && !st; k++)
                if (INFO[o->kind].group[k] == g && slot_used(o, k))
                    st = make_slot(o, &o->tracked[i], k);
    ct_scope_end();
    if (st) {
        for (int i = nvars0; i < o->nvars; i++) ct_variable_free(o->vars[i]);
        o->nvars = nvars0;
        o->ntracked = ntracked0;
        index_tracked(o); /* shrinks: no allocation fails */
    }
    return st;
}

ct_status ct__optimizer_build(ct_optimizer *o, int n, ct_variable *const *vars) {
    if (!o) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct__optimizer_build: the optimizer is NULL");
    return n > 0 ? track_new(o, n, vars) : CT_OK;
}

/* ---- the update rules ------------------------------------------------------------ */

/* x rounded to dtype dt (float32 or float64). */
static double rnd(ct_dtype dt, double x) { return dt == CT_FLOAT32 ? (double)(float)x : x; }
static double rpow(ct_dtype dt, double a, double b) {
    return dt == CT_FLOAT32 ? (double)powf((float)a, (float)b) : pow(a, b);
}

/* A scalar of ref's dtype on ref's device. */
static ct_tensor *sc(const ct_tensor *ref, double x) {
    ct_tensor *s = ct_scalar_of(ct_tensor_dtype(ref), x);
    ct_device *d = ct_tensor_device(ref);
    if (s && ct_tensor_device(s) != d) s = ct_to_device(s, d);
    return s;
}

/* Nadam's u_product after step `step` (1-based), in the first variable's
 * dtype: prod over s <= step of beta_1 * (1 - 0.5 * 0.96^s), accumulated
 * as Keras 3's _backend_update_step does. Keras 3 (and tf_keras 2.11+)
 * use 0.96^t; the 0.96^(0.004 t) schedule belonged to Keras 2's legacy
 * Nadam. */
static double nadam_u_product(ct_optimizer *o, int64_t step) {
    ct_dtype dt = o->u_dtype;
    if (o->u_step > step) {
        o->u_step = 0;
        o->u_product = 1.0;
    }
    while (o->u_step < step) {
        double s = rnd(dt, (double)(o->u_step + 1));
        double factor = rnd(dt, 1.0 - rnd(dt, 0.5 * rpow(dt, 0.96, s)));
        o->u_product = rnd(dt, rnd(dt, o->u_product * rnd(dt, o->beta_1)) * factor);
        o->u_step++;
    }
    return o->u_product;
}

#define VAL(v) ct_variable_value(v)

/* The per-step coefficients of one variable's update (Keras 3's
 * update_step) at learning rate lr32 (already rounded to dtype dt) and
 * counter it, with the roundings Keras's expressions give them; both the
 * op path and the fused kernels turn each into the variable's dtype. */
static void coefficients(const ct_optimizer *o, ct_dtype dt, double lr32, int64_t it,
                         double u_product, ct__optk *k) {
    double step = rnd(dt, (double)(it + 1));
    *k = (ct__optk){.lr = lr32, .eps = o->epsilon, .mom = o->momentum, .rho = o->rho,
                    .one_m_rho = 1.0 - o->rho, .nesterov = o->nesterov,
                    .centered = o->centered, .amsgrad = o->amsgrad,
                    .decay = o->has_weight_decay, .weight_decay = o->weight_decay};
    switch (o->kind) {
    case OPT_SGD:
        k->momentum = o->momentum != 0;
        break;
    case OPT_RMSPROP:
        k->momentum = o->momentum > 0;
        break;
    case OPT_ADAM:
    case OPT_ADAMW: {
        double b1p = rpow(dt, o->beta_1, step), b2p = rpow(dt, o->beta_2, step);
        k->alpha = rnd(dt, rnd(dt, lr32 * rnd(dt, sqrt(rnd(dt, 1.0 - b2p)))) / rnd(dt, 1.0 - b1p));
        k->one_m_b1 = 1.0 - o->beta_1;
        k->one_m_b2 = 1.0 - o->beta_2;
        break;
    }
    case OPT_ADAMAX:
        k->one_m_b1 = 1.0 - o->beta_1;
        k->b2 = o->beta_2;
        k->one_m_b1p = rnd(dt, 1.0 - rpow(dt, o->beta_1, step));
        break;
    case OPT_NADAM: {
        double next = rnd(dt, (double)(it + 2));
        double b1 = rnd(dt, o->beta_1), b2 = rnd(dt, o->beta_2);
        double u_t = rnd(dt, b1 * rnd(dt, 1.0 - rnd(dt, 0.5 * rpow(dt, 0.96, step))));
        double u_t_1 = rnd(dt, b1 * rnd(dt, 1.0 - rnd(dt, 0.5 * rpow(dt, 0.96, next))));
        double u_prod_t = rnd(dt, u_product);
        double u_prod_t_1 = rnd(dt, u_prod_t * u_t_1);
        k->one_m_b1 = rnd(dt, 1.0 - b1);
        k->one_m_b2 = rnd(dt, 1.0 - b2);
        k->u_t_1 = u_t_1;
        k->one_m_u_prod_t_1 = rnd(dt, 1.0 - u_prod_t_1);
        k->one_m_u_t = rnd(dt, 1.0 - u_t);
        k->one_m_u_prod_t = rnd(dt, 1.0 - u_prod_t);
        k->one_m_b2p = rnd(dt, 1.0 - rpow(dt, b2, step));
        break;
    }
    case OPT_FTRL: {
        double l2_reg = rnd(dt, o->l2 + rnd(dt, o->beta / rnd(dt, 2.0 * lr32)));
        k->power = -o->learning_rate_power;
        k->shrinkage2 = 2 * o->l2_shrinkage;
        k->l2_reg2 = rnd(dt, 2 * l2_reg);
        k->l1 = o->l1;
        break;
    }
    default:
        break;
    }
}

/* One variable's update through the op chain, from gradient g (already in
 * the variable's dtype) with coefficients k (the weight decay is applied
 * before, separately). Runs in the caller's scope. The reference the fused
 * kernels reproduce bit for bit; used on devices other than the CPU. */
static ct_status update_step(ct_optimizer *o, tracked *t, ct_tensor *g, const ct__optk *k) {
    ct_variable *var = t->var;
    ct_tensor *w = VAL(var);
    ct_tensor *lr = sc(w, k->lr);
    ct_tensor *eps = sc(w, k->eps);
    ct_status st = CT_OK;
#define TRY(x)                                                                               \
    do {                                                                                     \
        if ((st = (x))) return st;                                                           \
    } while (0)
    switch (o->kind) {
    case OPT_SGD: {
        if (k->momentum) {
            ct_variable *m = t->slot[0];
            ct_tensor *mom = sc(w, k->mom);
            TRY(ct_variable_assign(m, ct_subtract(ct_multiply(VAL(m), mom), ct_multiply(g, lr))));
            if (k->nesterov)
                TRY(ct_variable_assign_add(
                    var, ct_subtract(ct_multiply(VAL(m), mom), ct_multiply(g, lr))));
            else
                TRY(ct_variable_assign_add(var, VAL(m)));
        } else {
            TRY(ct_variable_assign_sub(var, ct_multiply(g, lr)));
        }
        break;
    }
    case OPT_ADAGRAD: {
        ct_variable *acc = t->slot[0];
        TRY(ct_variable_assign_add(acc, ct_square(g)));
        TRY(ct_variable_assign_sub(
            var, ct_divide(ct_multiply(lr, g), ct_sqrt(ct_add(VAL(acc), eps)))));
        break;
    }
    case OPT_RMSPROP: {
        ct_variable *vel = t->slot[0], *mom = t->slot[1], *avg = t->slot[2];
        ct_tensor *rho = sc(w, k->rho), *one_m_rho = sc(w, k->one_m_rho);
        TRY(ct_variable_assign(vel, ct_add(ct_multiply(rho, VAL(vel)),
                                           ct_multiply(one_m_rho, ct_square(g)))));
        ct_tensor *denom;
        if (k->centered) {
            TRY(ct_variable_assign(
                avg, ct_add(ct_multiply(rho, VAL(avg)), ct_multiply(one_m_rho, g))));
            denom = ct_add(ct_subtract(VAL(vel), ct_square(VAL(avg))), eps);
        } else {
            denom = ct_add(VAL(vel), eps);
        }
        ct_tensor *inc = ct_divide(ct_multiply(lr, g), ct_sqrt(denom));
        if (k->momentum) {
            TRY(ct_variable_assign(mom, ct_add(ct_multiply(sc(w, k->mom), VAL(mom)), inc)));
            TRY(ct_variable_assign_sub(var, VAL(mom)));
        } else {
            TRY(ct_variable_assign_sub(var, inc));
        }
        break;
    }
    case OPT_ADADELTA: {
        ct_variable *ag = t->slot[0], *ad = t->slot[1];
        ct_tensor *rho = sc(w, k->rho), *one_m_rho = sc(w, k->one_m_rho);
        TRY(ct_variable_assign(
            ag, ct_add(ct_multiply(rho, VAL(ag)), ct_multiply(one_m_rho, ct_square(g)))));
        ct_tensor *delta = ct_negative(ct_divide(ct_multiply(ct_sqrt(ct_add(VAL(ad), eps)), g),
                                                 ct_sqrt(ct_add(VAL(ag), eps))));
        TRY(ct_variable_assign(
            ad, ct_add(ct_multiply(rho, VAL(ad)), ct_multiply(one_m_rho, ct_square(delta)))));
        TRY(ct_variable_assign_add(var, ct_multiply(lr, delta)));
        break;
    }
    case OPT_ADAM:
    case OPT_ADAMW: {
        ct_variable *m = t->slot[0], *v = t->slot[1];
        TRY(ct_variable_assign_add(m, ct_multiply(ct_subtract(g, VAL(m)), sc(w, k->one_m_b1))));
        TRY(ct_variable_assign_add(
            v, ct_multiply(ct_subtract(ct_square(g), VAL(v)), sc(w, k->one_m_b2))));
        ct_tensor *vv = VAL(v);
        if (k->amsgrad) {
            TRY(ct_variable_assign(t->slot[2], ct_maximum(VAL(t->slot[2]), VAL(v))));
            vv = VAL(t->slot[2]);
        }
        TRY(ct_variable_assign_sub(
            var, ct_divide(ct_multiply(VAL(m), sc(w, k->alpha)), ct_add(ct_sqrt(vv), eps))));
        break;
    }
    case OPT_ADAMAX: {
        ct_variable *m = t->slot[0], *u = t->slot[1];
        TRY(ct_variable_assign_add(m, ct_multiply(ct_subtract(g, VAL(m)), sc(w, k->one_m_b1))));
        TRY(ct_variable_assign(u, ct_maximum(ct_multiply(sc(w, k->b2), VAL(u)), ct_abs(g))));
        TRY(ct_variable_assign_sub(
            var, ct_divide(ct_multiply(lr, VAL(m)),
                           ct_multiply(sc(w, k->one_m_b1p), ct_add(VAL(u), eps)))));
        break;
    }
    case OPT_NADAM: {
        ct_variable *m = t->slot[0], *v = t->slot[1];
        TRY(ct_variable_assign_add(m, ct_multiply(ct_subtract(g, VAL(m)), sc(w, k->one_m_b1))));
        TRY(ct_variable_assign_add(
            v, ct_multiply(ct_subtract(ct_square(g), VAL(v)), sc(w, k->one_m_b2))));
        ct_tensor *m_hat =
            ct_add(ct_divide(ct_multiply(sc(w, k->u_t_1), VAL(m)), sc(w, k->one_m_u_prod_t_1)),
                   ct_divide(ct_multiply(sc(w, k->one_m_u_t), g), sc(w, k->one_m_u_prod_t)));
        ct_tensor *v_hat = ct_divide(VAL(v), sc(w, k->one_m_b2p));
        TRY(ct_variable_assign_sub(
            var, ct_divide(ct_multiply(m_hat, lr), ct_add(ct_sqrt(v_hat), eps))));
        break;
    }
    case OPT_FTRL: {
        ct_variable *acc = t->slot[0], *lin = t->slot[1];
        ct_tensor *p = sc(w, k->power);
        ct_tensor *grad_to_use = ct_add(g, ct_multiply(sc(w, k->shrinkage2), w));
        ct_tensor *new_acc = ct_add(VAL(acc), ct_square(g));
        TRY(ct_variable_assign_add(
            lin, ct_subtract(grad_to_use,
                             ct_multiply(ct_divide(ct_subtract(ct_pow(new_acc, p),
                                                               ct_pow(VAL(acc), p)),
                                                   lr),
                                         w))));
        ct_tensor *quadratic = ct_add(ct_divide(ct_pow(new_acc, p), lr), sc(w, k->l2_reg2));
        ct_tensor *clipped = ct_clip_by_value(VAL(lin), -k->l1, k->l1);
        TRY(ct_variable_assign(var, ct_divide(ct_subtract(clipped, VAL(lin)), quadratic)));
        TRY(ct_variable_assign(acc, new_acc));
        break;
    }
    case OPT_COUNT:
        break;
    }
#undef TRY
    return st;
}

static const ct__optk_rule RULE[OPT_COUNT] = {
    [OPT_SGD] = CT__OPTK_SGD,         [OPT_ADAGRAD] = CT__OPTK_ADAGRAD,
    [OPT_RMSPROP] = CT__OPTK_RMSPROP, [OPT_ADADELTA] = CT__OPTK_ADADELTA,
    [OPT_ADAM] = CT__OPTK_ADAM,       [OPT_ADAMW] = CT__OPTK_ADAM,
    [OPT_ADAMAX] = CT__OPTK_ADAMAX,   [OPT_NADAM] = CT__OPTK_NADAM,
    [OPT_FTRL] = CT__OPTK_FTRL,
};

/* The same update (and the weight decay before it) in one pass over the
 * variable, its slots and the gradient g (a CPU tensor of the variable's
 * dtype, not a variable's live value), written in place: a variable whose
 * storage other tensors share (earlier reads, tape snapshots) first gets a
 * private copy, so they keep what they saw. */
static ct_status fused_step(ct_optimizer *o, tracked *t, const ct_tensor *g, ct__optk *k) {
    ct_tensor *w = VAL(t->var);
    k->n = w->size;
    k->g = ct__data(g);
    if (!(k->w = ct__variable_data_for_write(t->var))) return ct_last_status();
    for (int j = 0; j < 3; j++) {
        k->s[j] = NULL;
        /* SGD keeps its "m" without momentum too, unused. */
        if (!t->slot[j] || (o->kind == OPT_SGD && !k->momentum)) continue;
        if (!(k->s[j] = ct__variable_data_for_write(t->slot[j]))) return ct_last_status();
    }
    ct__optk_run(RULE[o->kind], w->dtype, k);
    return CT_OK;
}

void ct__optimizer_set_fused(ct_optimizer *o, bool fused) {
    if (o) o->ops_only = !fused;
}

static bool on_cpu(const ct_tensor *t) {
    return ct_device_kind_of(ct_tensor_device(t)) == CT_DEVICE_CPU;
}

/* ---- apply ------------------------------------------------------------------------- */

static bool same_shape(const ct_tensor *a, const ct_tensor *b) {
    if (ct_tensor_rank(a) != ct_tensor_rank(b)) return false;
    for (int i = 0; i < ct_tensor_rank(a); i++)
        if (ct_tensor_dim(a, i) != ct_tensor_dim(b, i)) return false;
    return true;
}

/* Checks every pair before anything changes. */
/* The first position holding a variable met earlier (and that earlier
 * position in *first), or -1; NULL entries are skipped. Hashes the value
 * tensors' ids for long lists (models have hundreds of variables). */
static int first_duplicate(int n, ct_variable *const *vars, int *first) {
    ct__idmap seen = {0};
    bool hashed = n > 16;
    for (int i = 0; i < n; i++) {
        if (!vars[i]) continue;
        if (hashed) {
            int64_t id = ct_variable_value(vars[i])->id;
            intptr_t j = (intptr_t)ct__idmap_get(&seen, id);
            if (j) {
                ct__idmap_free(&seen);
                *first = (int)j - 1;
                return i;
            }
            if (!ct__idmap_put(&seen, id, (void *)(intptr_t)(i + 1))) continue;
            ct__idmap_free(&seen); /* out of memory: compare pairs from here */
            hashed = false;
        }
        for (int j = 0; j < i; j++)
            if (vars[j] == vars[i]) {
                *first = j;
                return i;
            }
    }
    ct__idmap_free(&seen);
    return -1;
}

static ct_status check_pairs(const ct_optimizer *o, int n, ct_tensor *const *grads,
                             ct_variable *const *vars, int *nonnull) {
    *nonnull = 0;
    int dup_first = -1, dup = first_duplicate(n, vars, &dup_first);
    for (int i = 0; i < n; i++) {
        if (!vars[i])
            return opt_error(o, CT_ERR_INVALID_ARGUMENT, "variable %d is NULL", i);
        const ct_tensor *w = ct_variable_value(vars[i]);
        const char *vn = ct_variable_name(vars[i]);
        ct_dtype dt = ct_tensor_dtype(w);
        if (dt != CT_FLOAT32 && dt != CT_FLOAT64)
            return opt_error(o, CT_ERR_INVALID_ARGUMENT,
                             "variable '%s' is %s; optimizers update float32 and float64 "
                             "variables",
                             vn, CT__DESC(w));
        if (i == dup)
            return opt_error(o, CT_ERR_INVALID_ARGUMENT,
                             "variable '%s' is given twice (positions %d and %d)", vn, dup_first,
                             i);
        if (!grads[i]) continue;
        if (!ct_dtype_is_float(ct_tensor_dtype(grads[i])))
            return opt_error(o, CT_ERR_INVALID_ARGUMENT,
                             "the gradient of variable '%s' is %s, not a floating-point "
                             "tensor",
                             vn, CT__DESC(grads[i]));
        if (!same_shape(grads[i], w))
            return opt_error(o, CT_ERR_INVALID_ARGUMENT,
                             "the gradient of variable '%s' is %s but the variable is %s", vn,
                             CT__DESC(grads[i]), CT__DESC(w));
        if (ct_tensor_device(grads[i]) != ct_tensor_device(w))
            return opt_error(o, CT_ERR_INVALID_ARGUMENT,
                             "the gradient of variable '%s' is on %s but the variable is on %s",
                             vn, ct_device_name(ct_tensor_device(grads[i])),
                             ct_device_name(ct_tensor_device(w)));
        (*nonnull)++;
    }
    return CT_OK;
}

/* Keras's _clip_gradients on the non-NULL gradients (in place). */
static ct_status clip_gradients(const ct_optimizer *o, int n, ct_tensor **g) {
    if (o->has_clipnorm && o->clipnorm > 0) {
        for (int i = 0; i < n; i++)
            if (!(g[i] = ct_clip_by_norm(g[i], o->clipnorm, CT_ALL))) return ct_last_status();
    } else if (o->has_global_clipnorm && o->global_clipnorm > 0) {
        bool one_dtype = true;
        for (int i = 1; i < n; i++) one_dtype &= ct_tensor_dtype(g[i]) == ct_tensor_dtype(g[0]);
        if (one_dtype) {
            ct_tensor **out = malloc((size_t)n * sizeof *out);
            if (!out) return opt_error(o, CT_ERR_OUT_OF_MEMORY, "out of memory");
            ct_status st = ct_clip_by_global_norm(n, g, o->global_clipnorm, out, NULL);
            if (!st) memcpy(g, out, (size_t)n * sizeof *g);
            free(out);
            return st;
        }
        /* Mixed dtypes: the norm in float64, each gradient scaled in its own
         * dtype by clip / max(norm, clip) (NaN for a non-finite norm). */
        ct_tensor *sq = NULL;
        for (int i = 0; i < n; i++) {
            ct_tensor *s = ct_reduce_sum(ct_square(ct_cast(g[i], CT_FLOAT64)), CT_ALL, false);
            sq = sq ? ct_add(sq, s) : s;
        }
        if (!sq) return ct_last_status();
        double norm = sqrt(ct_item(sq));
        double scale = isfinite(norm) ? o->global_clipnorm / fmax(norm, o->global_clipnorm) : NAN;
        for (int i = 0; i < n; i++)
            if (!(g[i] = ct_multiply(g[i], sc(g[i], scale)))) return ct_last_status();
    } else if (o->has_clipvalue && o->clipvalue > 0) {
        for (int i = 0; i < n; i++)
            if (!(g[i] = ct_clip_by_value(g[i], -o->clipvalue, o->clipvalue)))
                return ct_last_status();
    }
    return CT_OK;
}

/* iterations + 1: in place on the CPU (no op, no scalar tensor per step). */
static ct_status bump_iterations(ct_optimizer *o) {
    ct_tensor *it = VAL(o->iterations);
    if (!on_cpu(it)) return ct_variable_assign_add(o->iterations, sc(it, 1));
    int64_t *p = ct__variable_data_for_write(o->iterations);
    if (!p) return ct_last_status();
    (*p)++;
    return CT_OK;
}

static ct_status apply_local(ct_optimizer *o, int n, ct_tensor *const *grads,
                             ct_variable *const *vars);

/* In a replica step of a strategy of several replicas (ct_strategy_run):
 * the gradients summed over the replicas first (a NULL gradient adds
 * zeros and stays NULL, so every replica sends the same buckets). */
static ct_status apply_aggregated(ct_optimizer *o, ct_strategy *s, int n,
                                  ct_tensor *const *grads, ct_variable *const *vars) {
    ct_tensor **like = malloc((size_t)n * sizeof *like), **sums = calloc((size_t)n, sizeof *sums);
    ct_status st = CT_OK;
    if (!like || !sums) st = opt_error(o, CT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; !st && i < n; i++)
        if (!vars[i]) st = opt_error(o, CT_ERR_INVALID_ARGUMENT, "variable %d is NULL", i);
        else like[i] = ct_variable_value(vars[i]);
    ct_scope_begin();
    if (!st && !(st = ct__strategy_sum_begin(s, n, like))) {
        for (int i = 0; !st && i < n; i++) st = ct__strategy_sum_ready(s, i, grads[i]);
        ct_status e = ct__strategy_sum_end(s, n, sums);
        if (!st) st = e;
    }
    for (int i = 0; !st && i < n; i++)
        if (!grads[i]) sums[i] = NULL;
    if (!st) st = apply_local(o, n, sums, vars);
    ct_scope_end();
    free(like);
    free(sums);
    return st;
}

ct_status ct_optimizer_apply_gradients(ct_optimizer *o, int n, ct_tensor *const *grads,
                                       ct_variable *const *vars) {
    ct_strategy *s = ct__strategy_replica_context();
    if (o && n > 0 && grads && vars && ct__strategy_replicas(s) > 1)
        return apply_aggregated(o, s, n, grads, vars);
    return apply_local(o, n, grads, vars);
}

ct_status ct__optimizer_apply_summed(ct_optimizer *o, int n, ct_tensor *const *grads,
                                     ct_variable *const *vars) {
    return apply_local(o, n, grads, vars);
}

static ct_status apply_local(ct_optimizer *o, int n, ct_tensor *const *grads,
                             ct_variable *const *vars) {
    if (!o)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "ct_optimizer_apply_gradients: the optimizer is NULL");
    if (n < 0 || (n > 0 && (!grads || !vars)))
        return opt_error(o, CT_ERR_INVALID_ARGUMENT,
                         "apply_gradients needs n >= 0 gradients and variables, got n = %d%s", n,
                         n > 0 ? " with a NULL array" : "");
    if (n == 0) return CT_OK; /* Keras: no gradients, no update */
    int nonnull;
    ct_status st = check_pairs(o, n, grads, vars, &nonnull);
    if (st) return st;
    if (!nonnull)
        return opt_error(o, CT_ERR_INVALID_ARGUMENT,
                         "no gradients provided for any variable (all %d are NULL)", n);
    /* Keras builds on every variable given, before dropping NULL gradients. */
    if ((st = track_new(o, n, vars))) return st;

    ct_tensor **g = malloc((size_t)nonnull * sizeof *g);
    tracked **tr = malloc((size_t)nonnull * sizeof *tr);
    if (!g || !tr) {
        free(g);
        free(tr);
        return opt_error(o, CT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    int m = 0;
    for (int i = 0; i < n; i++)
        if (grads[i]) {
            g[m] = grads[i];
            tr[m++] = find_tracked(o, vars[i]);
        }
    ct_scope_begin();
    if (o->has_loss_scale)
        for (int i = 0; i < m && !st; i++)
            if (!(g[i] = ct_divide(g[i], sc(g[i], o->loss_scale_factor)))) st = ct_last_status();
    if (!st) st = clip_gradients(o, m, g);
    int64_t it = read_iterations(o);
    double lr32 = rate_at(o, it);
    /* The fused in-place kernels take the CPU variables, unless a gradient
     * is some variable's live value (which the op chain below reads again
     * after each assignment): then everything goes through the ops. */
    bool fuse = !st && !o->ops_only;
    for (int i = 0; i < m && fuse; i++) fuse = !g[i]->var;
    bool *fused = malloc((size_t)m * sizeof *fused);
    if (!st && !fused) st = opt_error(o, CT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < m && !st; i++) fused[i] = fuse && on_cpu(VAL(tr[i]->var));
    /* Decoupled weight decay before the update (Keras 3, every optimizer):
     * variable -= variable * wd * lr; the fused kernels apply it in their
     * pass. */
    if (!st && o->has_weight_decay)
        for (int i = 0; i < m && !st; i++) {
            if (fused[i]) continue;
            ct_tensor *w = VAL(tr[i]->var);
            st = ct_variable_assign_sub(
                tr[i]->var, ct_multiply(ct_multiply(w, sc(w, o->weight_decay)), sc(w, lr32)));
        }
    double u_product = 1.0;
    if (!st && o->kind == OPT_NADAM) u_product = nadam_u_product(o, it + 1);
    /* The coefficients depend on the dtype only: computed once per step. */
    ct__optk coef[2];
    bool have_coef[2] = {false, false};
    for (int i = 0; i < m && !st; i++) {
        ct_tensor *w = VAL(tr[i]->var);
        ct_dtype dt = ct_tensor_dtype(w);
        ct_tensor *gi = ct_tensor_dtype(g[i]) == dt ? g[i] : ct_cast(g[i], dt);
        if (!gi) {
            st = ct_last_status();
            break;
        }
        int c = dt == CT_FLOAT64;
        if (!have_coef[c]) coefficients(o, dt, rnd(dt, lr32), it, u_product, &coef[c]);
        have_coef[c] = true;
        ct__optk k = coef[c];
        st = fused[i] ? fused_step(o, tr[i], gi, &k) : update_step(o, tr[i], gi, &k);
    }
    if (!st) st = bump_iterations(o);
    free(fused);
    ct_scope_end();
    free(g);
    free(tr);
    return st;
}

ct_status ct_optimizer_minimize(ct_optimizer *o, ct_loss_closure loss_fn, void *ctx, int n,
                                ct_variable *const *vars) {
    if (!o) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_optimizer_minimize: the optimizer is NULL");
    if (!loss_fn) return opt_error(o, CT_ERR_INVALID_ARGUMENT, "minimize: the loss function is NULL");
    if (n <= 0 || !vars)
        return opt_error(o, CT_ERR_INVALID_ARGUMENT, "minimize needs at least one variable");
    for (int i = 0; i < n; i++)
        if (!vars[i]) return opt_error(o, CT_ERR_INVALID_ARGUMENT, "variable %d is NULL", i);
    ct_tensor **src = malloc((size_t)n * sizeof *src);
    ct_tensor **grads = calloc((size_t)n, sizeof *grads);
    if (!src || !grads) {
        free(src);
        free(grads);
        return opt_error(o, CT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    ct_status st = CT_OK;
    ct_scope_begin();
    ct_tape *tape = ct_tape_begin(NULL);
    for (int i = 0; i < n; i++) {
        src[i] = ct_variable_value(vars[i]);
        /* Non-trainable variables are not watched on their own. */
        if (ct_dtype_is_float(ct_tensor_dtype(src[i]))) ct_tape_watch(tape, src[i]);
    }
    ct_clear_error();
    ct_tensor *loss = loss_fn(ctx);
    if (loss && o->has_loss_scale) loss = ct_multiply(loss, sc(loss, o->loss_scale_factor));
    ct_tape_end(tape);
    if (!loss) {
        st = ct_last_status() ? ct_last_status()
                              : opt_error(o, CT_ERR_INVALID_ARGUMENT,
                                          "minimize: the loss function returned NULL");
    } else {
        st = ct_tape_gradient(tape, loss, n, src, grads, NULL);
    }
    ct_tape_free(tape);
    if (!st) st = ct_optimizer_apply_gradients(o, n, grads, vars);
    ct_scope_end();
    free(src);
    free(grads);
    return st;
}

/* optimizer.learning_rate = lr. Keras keeps a constant rate in a float32
 * variable and assigns the new value to it; an optimizer made with a
 * schedule refuses (Keras 2.11+ and Keras 3 raise a TypeError: its rate is
 * not settable). */
ct_status ct_optimizer_set_learning_rate(ct_optimizer *o, double lr) {
    if (!o)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "ct_optimizer_set_learning_rate: the optimizer is NULL");
    if (o->schedule)
        return opt_error(o, CT_ERR_INVALID_ARGUMENT,
                         "this optimizer was created with a LearningRateSchedule as its "
                         "learning_rate, hence its learning rate is not settable; create it "
                         "with a constant learning_rate to change the rate");
    if (!(lr >= 0) || !isfinite(lr))
        return opt_error(o, CT_ERR_INVALID_ARGUMENT,
                         "learning_rate must be a non-negative number, got %g", lr);
    o->learning_rate = lr;
    return CT_OK;
}

bool ct__optimizer_has_schedule(const ct_optimizer *o) { return o && o->schedule; }
