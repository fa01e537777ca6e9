/*
 * Learning-rate schedules (keras.optimizers.schedules): ExponentialDecay,
 * PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay, CosineDecay
 * (with warmup) and CosineDecayRestarts, as in Keras 3's
 * keras/src/optimizers/schedules/learning_rate_schedule.py.
 *
 * Keras evaluates a schedule with tensor ops in the dtype of
 * initial_learning_rate, float32 for a Python float, and casts the step
 * (the optimizer's int64 iteration counter) to it. The host arithmetic
 * below does the same: every intermediate is rounded to float32 (a double
 * operation rounded once to float gives the float operation's result for
 * + - * / and sqrt), in the order Keras's expressions evaluate.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"

typedef enum {
    SCHED_EXPONENTIAL,
    SCHED_PIECEWISE,
    SCHED_POLYNOMIAL,
    SCHED_INVERSE_TIME,
    SCHED_COSINE,
    SCHED_COSINE_RESTARTS,
} sched_kind;

static const char *const CLASS_NAMES[] = {
    "ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay",
    "InverseTimeDecay", "CosineDecay",            "CosineDecayRestarts",
};
/* Keras's default `name` per class. */
static const char *const DEFAULT_NAMES[] = {
    "ExponentialDecay", "PiecewiseConstant", "PolynomialDecay",
    "InverseTimeDecay", "CosineDecay",       "SGDRDecay",
};

/* A number from a config with whether it was written as an integer, so
 * get_config gives back 1000 rather than 1000.0. */
typedef struct {
    double v;
    bool is_int;
} num;

struct ct_lr_schedule {
    sched_kind kind;
    char *name;                  /* NULL: None                            */
    num initial_learning_rate;
    num decay_steps;             /* first_decay_steps for restarts        */
    num decay_rate;              /* Exponential, InverseTime              */
    bool staircase;              /* Exponential, InverseTime              */
    num end_learning_rate, power; /* Polynomial                           */
    bool cycle;                  /* Polynomial                            */
    num alpha;                   /* Cosine, CosineRestarts                */
    bool has_warmup_target;      /* Cosine                                */
    num warmup_target, warmup_steps;
    num t_mul, m_mul;            /* CosineRestarts                        */
    int nboundaries;             /* Piecewise: nboundaries + 1 values     */
    num *boundaries, *values;
};

/* ---- float32 arithmetic ------------------------------------------------------ */

static double f(double x) { return (double)(float)x; }
static double fpow(double a, double b) { return (double)powf((float)a, (float)b); }
static double fcos(double x) { return (double)cosf((float)x); }
static double flog(double x) { return (double)logf((float)x); }

/* 0.5 * (1 + cos(pi * fraction)) scaled, as CosineDecay._decay_function. */
static double cosine_decay(const ct_lr_schedule *s, double step, double decay_steps,
                           double from_lr) {
    double completed = f(step / decay_steps);
    double pi = f(M_PI);
    double cosine = f(0.5 * f(1.0 + fcos(f(pi * completed))));
    /* (1 - self.alpha) is Python arithmetic, then cast to float32. */
    double decayed = f(f(f(1.0 - s->alpha.v) * cosine) + f(s->alpha.v));
    return f(from_lr * decayed);
}

double ct_lr_schedule_value(const ct_lr_schedule *s, int64_t step_i) {
    if (!s) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_lr_schedule_value: the schedule is NULL");
        return NAN;
    }
    double lr0 = f(s->initial_learning_rate.v);
    double step = f((double)step_i);
    switch (s->kind) {
    case SCHED_EXPONENTIAL: {
        double p = f(step / f(s->decay_steps.v));
        if (s->staircase) p = floor(p);
        return f(lr0 * fpow(f(s->decay_rate.v), p));
    }
    case SCHED_INVERSE_TIME: {
        double p = f(step / f(s->decay_steps.v));
        if (s->staircase) p = floor(p);
        double denom = f(1.0 + f(f(s->decay_rate.v) * p));
        return f(lr0 / denom);
    }
    case SCHED_PIECEWISE: {
        /* The boundaries are cast to the step's dtype (int64: truncation),
         * and the value is a sum of indicator * value in float32. */
        int nb = s->nboundaries;
        double r = 0;
        if (step_i <= (int64_t)s->boundaries[0].v) r = f(r + f(s->values[0].v));
        if (step_i > (int64_t)s->boundaries[nb - 1].v) r = f(r + f(s->values[nb].v));
        for (int i = 0; i + 1 < nb; i++)
            if (step_i > (int64_t)s->boundaries[i].v && step_i <= (int64_t)s->boundaries[i + 1].v)
                r = f(r + f(s->values[i + 1].v));
        return r;
    }
    case SCHED_POLYNOMIAL: {
        double end = f(s->end_learning_rate.v), power = f(s->power.v);
        double ds = f(s->decay_steps.v);
        if (s->cycle) {
            double mult = step == 0 ? 1.0 : ceil(f(step / ds));
            ds = f(ds * mult);
        } else {
            step = fmin(step, ds);
        }
        double p = f(step / ds);
        return f(f(f(lr0 - end) * fpow(f(1.0 - p), power)) + end);
    }
    case SCHED_COSINE: {
        double ds = f(s->decay_steps.v);
        if (!s->has_warmup_target) return cosine_decay(s, fmin(step, ds), ds, lr0);
        double target = f(s->warmup_target.v), ws = f(s->warmup_steps.v);
        step = fmin(step, f(ds + ws));
        if (step < ws) {
            double completed = f(step / ws);
            double delta = f(target - lr0);
            return f(f(delta * completed) + lr0);
        }
        return cosine_decay(s, f(step - ws), ds, target);
    }
    case SCHED_COSINE_RESTARTS: {
        double fds = f(s->decay_steps.v), alpha = f(s->alpha.v);
        double t_mul = f(s->t_mul.v), m_mul = f(s->m_mul.v);
        double completed = f(step / fds), i_restart;
        if (t_mul == 1.0) {
            i_restart = floor(completed);
            completed = f(completed - i_restart);
        } else {
            double arg = f(1.0 - f(completed * f(1.0 - t_mul)));
            i_restart = floor(f(flog(arg) / flog(t_mul)));
            double tp = fpow(t_mul, i_restart);
            double sum_r = f(f(1.0 - tp) / f(1.0 - t_mul));
            completed = f(f(completed - sum_r) / tp);
        }
        double m_fac = fpow(m_mul, i_restart);
        double cosine = f(f(0.5 * m_fac) * f(1.0 + fcos(f(f(M_PI) * completed))));
        double decayed = f(f(f(1.0 - alpha) * cosine) + alpha);
        return f(lr0 * decayed);
    }
    }
    return NAN;
}

/* ---- config ---------------------------------------------------------------- */

void ct_lr_schedule_free(ct_lr_schedule *s) {
    if (!s) return;
    free(s->name);
    free(s->boundaries);
    free(s->values);
    free(s);
}

/* A number argument: absent or null gives dflt (an integer when dflt_int);
 * a NAN dflt makes it required. */
static ct_status get_num(ct__cfg *c, const char *key, double dflt, bool dflt_int, num *out) {
    const json_t *v = c->obj ? json_object_get(c->obj, key) : NULL;
    bool present = v && !json_is_null(v);
    if (!present && isnan(dflt)) return ct__cfg_check(c, false, key, "is required");
    ct_status st = ct__cfg_double(c, key, dflt, &out->v);
    if (st) return st;
    out->is_int = present ? json_is_integer(v) : dflt_int;
    return ct__cfg_check(c, isfinite(out->v), key, "must be finite");
}

/* A list of numbers (boundaries, values). */
static ct_status get_num_list(ct__cfg *c, const char *key, num **out, int *n) {
    const json_t *v = c->obj ? json_object_get(c->obj, key) : NULL;
    if (!v || json_is_null(v)) return ct__cfg_check(c, false, key, "is required");
    if (!json_is_array(v)) return ct__cfg_check(c, false, key, "must be a list of numbers");
    json_object_set_new(c->used, key, json_true()); /* read: not an unknown key */
    *n = (int)json_array_size(v);
    *out = calloc((size_t)(*n ? *n : 1), sizeof **out);
    if (!*out) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", c->cls);
    for (int i = 0; i < *n; i++) {
        const json_t *e = json_array_get(v, (size_t)i);
        if (!json_is_number(e))
            return ct__cfg_check(c, false, key, "element %d must be a number", i);
        (*out)[i].v = json_number_value(e);
        (*out)[i].is_int = json_is_integer(e);
    }
    return CT_OK;
}

static ct_status positive_steps(ct__cfg *c, const char *key, const num *n) {
    return ct__cfg_check(c, n->v > 0, key, "must be > 0, got %g", n->v);
}

static bool lookup_kind(const char *cls, sched_kind *out) {
    const char *gt = strrchr(cls, '>'); /* a registered "Package>Name" */
    if (gt) cls = gt + 1;
    for (int k = 0; k < (int)(sizeof CLASS_NAMES / sizeof *CLASS_NAMES); k++)
        if (!strcmp(cls, CLASS_NAMES[k])) {
            *out = (sched_kind)k;
            return true;
        }
    return false;
}

/* Reads the arguments of a schedule of kind k from its config dict. */
static ct_status read_config(ct_lr_schedule *s, ct__cfg *c) {
    ct_status st = CT_OK;
    switch (s->kind) {
    case SCHED_EXPONENTIAL:
    case SCHED_INVERSE_TIME:
        st = get_num(c, "initial_learning_rate", NAN, false, &s->initial_learning_rate) ||
             get_num(c, "decay_steps", NAN, false, &s->decay_steps) ||
             get_num(c, "decay_rate", NAN, false, &s->decay_rate) ||
             ct__cfg_bool(c, "staircase", false, &s->staircase) ||
             positive_steps(c, "decay_steps", &s->decay_steps);
        break;
    case SCHED_PIECEWISE: {
        int nv = 0;
        st = get_num_list(c, "boundaries", &s->boundaries, &s->nboundaries) ||
             get_num_list(c, "values", &s->values, &nv);
        if (!st)
            st = ct__cfg_check(c, s->nboundaries == nv - 1, "values",
                               "the length of boundaries should be 1 less than the length of "
                               "values: %d boundaries and %d values",
                               s->nboundaries, nv) ||
                 ct__cfg_check(c, s->nboundaries > 0, "boundaries",
                               "must hold at least one boundary");
        break;
    }
    case SCHED_POLYNOMIAL:
        st = get_num(c, "initial_learning_rate", NAN, false, &s->initial_learning_rate) ||
             get_num(c, "decay_steps", NAN, false, &s->decay_steps) ||
             get_num(c, "end_learning_rate", 0.0001, false, &s->end_learning_rate) ||
             get_num(c, "power", 1.0, false, &s->power) ||
             ct__cfg_bool(c, "cycle", false, &s->cycle) ||
             positive_steps(c, "decay_steps", &s->decay_steps);
        break;
    case SCHED_COSINE:
        s->has_warmup_target = ct__cfg_has(c, "warmup_target");
        st = get_num(c, "initial_learning_rate", NAN, false, &s->initial_learning_rate) ||
             get_num(c, "decay_steps", NAN, false, &s->decay_steps) ||
             get_num(c, "alpha", 0.0, false, &s->alpha) ||
             get_num(c, "warmup_target", 0.0, false, &s->warmup_target) ||
             get_num(c, "warmup_steps", 0, true, &s->warmup_steps) ||
             positive_steps(c, "decay_steps", &s->decay_steps);
        break;
    case SCHED_COSINE_RESTARTS:
        st = get_num(c, "initial_learning_rate", NAN, false, &s->initial_learning_rate) ||
             get_num(c, "first_decay_steps", NAN, false, &s->decay_steps) ||
             get_num(c, "t_mul", 2.0, false, &s->t_mul) || get_num(c, "m_mul", 1.0, false, &s->m_mul) ||
             get_num(c, "alpha", 0.0, false, &s->alpha) ||
             positive_steps(c, "first_decay_steps", &s->decay_steps);
        break;
    }
    return st;
}

ct_lr_schedule *ct_lr_schedule_from_config(const char *json) {
    json_t *j = ct__json_parse(json, "ct_lr_schedule_from_config");
    if (!j) return NULL;
    ct_lr_schedule *s = NULL;
    const json_t *cls = json_is_object(j) ? json_object_get(j, "class_name") : NULL;
    const json_t *cfg = json_is_object(j) ? json_object_get(j, "config") : NULL;
    sched_kind kind;
    if (!json_is_string(cls)) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_lr_schedule_from_config: expected {\"class_name\": ..., \"config\": "
                  "{...}}");
        goto out;
    }
    if (!lookup_kind(json_string_value(cls), &kind)) {
        ct__error(CT_ERR_NOT_FOUND,
                  "ct_lr_schedule_from_config: unknown learning rate schedule '%s' (expected "
                  "ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, "
                  "InverseTimeDecay, CosineDecay or CosineDecayRestarts)",
                  json_string_value(cls));
        goto out;
    }
    if (cfg && !json_is_null(cfg) && !json_is_object(cfg)) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: 'config' must be a JSON object",
                  CLASS_NAMES[kind]);
        goto out;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", CLASS_NAMES[kind]);
        goto out;
    }
    s->kind = kind;
    const json_t *name = json_is_object(cfg) ? json_object_get(cfg, "name") : NULL;
    bool bad_name = name && !json_is_string(name) && !json_is_null(name);
    if (!bad_name && !json_is_null(name)) {
        s->name = strdup(name ? json_string_value(name) : DEFAULT_NAMES[kind]);
        if (!s->name) {
            ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", CLASS_NAMES[kind]);
            bad_name = true;
        }
    } else if (bad_name) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: argument 'name': must be a string or null",
                  CLASS_NAMES[kind]);
    }
    if (bad_name) {
        ct_lr_schedule_free(s);
        s = NULL;
        goto out;
    }
    ct__cfg c;
    if (ct__cfg_begin(&c, json_is_object(cfg) ? cfg : NULL, CLASS_NAMES[kind], s->name)) {
        ct_lr_schedule_free(s);
        s = NULL;
        goto out;
    }
    if (read_config(s, &c)) {
        ct__cfg_end(&c);
        ct_lr_schedule_free(s);
        s = NULL;
        goto out;
    }
    if (ct__cfg_finish(&c)) {
        ct_lr_schedule_free(s);
        s = NULL;
    }
out:
    json_decref(j);
    return s;
}

static json_t *num_json(const num *n) {
    return n->is_int ? json_integer((json_int_t)n->v) : json_real(n->v);
}

static json_t *num_list_json(const num *ns, int n) {
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) json_array_append_new(a, num_json(&ns[i]));
    return a;
}

/* {"module", "class_name", "config", "registered_name"}: Keras 3's
 * serialize(); Keras 2 readers use class_name and config. */
static json_t *schedule_to_json(const ct_lr_schedule *s) {
    json_t *c = json_object(), *out = json_object();
    if (!c || !out) {
        json_decref(c);
        json_decref(out);
        return NULL;
    }
    switch (s->kind) {
    case SCHED_EXPONENTIAL:
    case SCHED_INVERSE_TIME:
        json_object_set_new(c, "initial_learning_rate", num_json(&s->initial_learning_rate));
        json_object_set_new(c, "decay_steps", num_json(&s->decay_steps));
        json_object_set_new(c, "decay_rate", num_json(&s->decay_rate));
        json_object_set_new(c, "staircase", json_boolean(s->staircase));
        break;
    case SCHED_PIECEWISE:
        json_object_set_new(c, "boundaries", num_list_json(s->boundaries, s->nboundaries));
        json_object_set_new(c, "values", num_list_json(s->values, s->nboundaries + 1));
        break;
    case SCHED_POLYNOMIAL:
        json_object_set_new(c, "initial_learning_rate", num_json(&s->initial_learning_rate));
        json_object_set_new(c, "decay_steps", num_json(&s->decay_steps));
        json_object_set_new(c, "end_learning_rate", num_json(&s->end_learning_rate));
        json_object_set_new(c, "power", num_json(&s->power));
        json_object_set_new(c, "cycle", json_boolean(s->cycle));
        break;
    case SCHED_COSINE:
        json_object_set_new(c, "initial_learning_rate", num_json(&s->initial_learning_rate));
        json_object_set_new(c, "decay_steps", num_json(&s->decay_steps));
        json_object_set_new(c, "alpha", num_json(&s->alpha));
        json_object_set_new(c, "warmup_target",
                            s->has_warmup_target ? num_json(&s->warmup_target) : json_null());
        json_object_set_new(c, "warmup_steps", num_json(&s->warmup_steps));
        break;
    case SCHED_COSINE_RESTARTS:
        json_object_set_new(c, "initial_learning_rate", num_json(&s->initial_learning_rate));
        json_object_set_new(c, "first_decay_steps", num_json(&s->decay_steps));
        json_object_set_new(c, "t_mul", num_json(&s->t_mul));
        json_object_set_new(c, "m_mul", num_json(&s->m_mul));
        json_object_set_new(c, "alpha", num_json(&s->alpha));
        break;
    }
    json_object_set_new(c, "name", s->name ? json_string(s->name) : json_null());
    json_object_set_new(out, "module", json_string("keras.optimizers.schedules"));
    json_object_set_new(out, "class_name", json_string(CLASS_NAMES[s->kind]));
    json_object_set_new(out, "config", c);
    json_object_set_new(out, "registered_name", json_null());
    return out;
}

char *ct_lr_schedule_get_config(const ct_lr_schedule *s) {
    if (!s) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_lr_schedule_get_config: the schedule is NULL");
        return NULL;
    }
    json_t *j = schedule_to_json(s);
    if (!j) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory writing the config",
                  CLASS_NAMES[s->kind]);
        return NULL;
    }
    char *text = ct__json_dump(j);
    json_decref(j);
    return text;
}
