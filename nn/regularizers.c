/*
 * keras.regularizers and keras.constraints: the penalties and projections
 * of weights, and their JSON configs. Composites of public ops, so the
 * penalties are differentiable through the tape.
 */
#include <math.h>
#include <string.h>

#include "nn/internal.h"

/* Keras's backend.epsilon(). */
#define KERAS_EPSILON 1e-7

static ct_tensor *finish(ct_tensor *r) {
    r = ct_keep(r);
    ct_scope_end();
    return r;
}

static bool null_input(const char *api, const ct_tensor *w) {
    if (w) return false;
    if (!ct_last_status()) ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the weight is NULL", api);
    return true;
}

/* ---- regularizers ------------------------------------------------------------- */

static const char *reg_class(ct_reg_kind k) {
    switch (k) {
    case CT_REG_L1: return "L1";
    case CT_REG_L2: return "L2";
    case CT_REG_L1L2: return "L1L2";
    default: return NULL;
    }
}

/* The factors a regularizer applies: L1 and L2 default to 0.01 (Keras's
 * L1(l1=0.01), L2(l2=0.01)); L1L2's are as given (Keras's L1L2(l1=0.0,
 * l2=0.0)). */
static void reg_factors(const ct_regularizer *r, double *l1, double *l2) {
    *l1 = *l2 = 0;
    if (r->kind == CT_REG_L1) *l1 = r->l1 != 0 ? r->l1 : 0.01;
    else if (r->kind == CT_REG_L2) *l2 = r->l2 != 0 ? r->l2 : 0.01;
    else if (r->kind == CT_REG_L1L2) *l1 = r->l1, *l2 = r->l2;
}

/* Keras 3: l1 * sum(|w|) + l2 * sum(w^2), the l2 term without a 1/2; L1L2
 * starts from 0 and adds only the non-zero terms (in that order). A
 * CT_REG_NONE regularizer gives 0. */
ct_tensor *ct_regularizer_call(const ct_regularizer *r, const ct_tensor *w) {
    const char *api = "ct_regularizer_call";
    if (null_input(api, w)) return NULL;
    if (!r) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the regularizer is NULL", api);
        return NULL;
    }
    if ((unsigned)r->kind > CT_REG_L1L2) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: invalid regularizer kind %d", api, (int)r->kind);
        return NULL;
    }
    double l1, l2;
    reg_factors(r, &l1, &l2);
    if (!(l1 >= 0 && l2 >= 0 && isfinite(l1) && isfinite(l2))) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %s: the factors must be non-negative floats, "
                  "got l1=%g, l2=%g", api, reg_class(r->kind), l1, l2);
        return NULL;
    }
    ct_dtype dt = ct_tensor_dtype(w);
    if (!ct_dtype_is_float(dt)) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %s: the weight must be floating-point, got %s",
                  api, reg_class(r->kind) ? reg_class(r->kind) : "None", CT__DESC(w));
        return NULL;
    }
    ct_scope_begin();
    ct_tensor *p1 = NULL, *p2 = NULL, *out;
    if (l1 != 0)
        p1 = ct_multiply(ct_scalar_of(dt, l1), ct_reduce_sum(ct_abs(w), CT_ALL, false));
    if (l2 != 0)
        p2 = ct_multiply(ct_scalar_of(dt, l2), ct_reduce_sum(ct_square(w), CT_ALL, false));
    if (r->kind == CT_REG_L1L2) {
        out = ct_scalar_of(dt, 0);
        if (l1 != 0) out = ct_add(out, p1);
        if (l2 != 0) out = ct_add(out, p2);
    } else {
        out = p1 ? p1 : p2 ? p2 : ct_scalar_of(dt, 0);
    }
    return finish(out);
}

/* Keras 3's ALL_OBJECTS_DICT (class names and their snake_case) plus the
 * exported "l1_l2". */
static ct_reg_kind reg_kind_of(const char *name) {
    if (!strcmp(name, "L1") || !strcmp(name, "l1")) return CT_REG_L1;
    if (!strcmp(name, "L2") || !strcmp(name, "l2")) return CT_REG_L2;
    if (!strcmp(name, "L1L2") || !strcmp(name, "l1l2") || !strcmp(name, "l1_l2"))
        return CT_REG_L1L2;
    return CT_REG_NONE;
}

/* A Keras-style "{"class_name": ..., "config": {...}}" or a name string:
 * the name and the config (NULL for none); an error names `w`. */
static ct_status split_object(const json_t *j, const char *w, const char *kind,
                              const char **name, const json_t **cfg) {
    *cfg = NULL;
    if (json_is_string(j)) {
        *name = json_string_value(j);
        return CT_OK;
    }
    if (!json_is_object(j))
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: a %s must be a name, null or "
                         "{\"class_name\": ..., \"config\": {...}}", w, kind);
    const json_t *cn = json_object_get(j, "class_name");
    if (!json_is_string(cn))
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: a %s object needs a string "
                         "\"class_name\"", w, kind);
    *name = json_string_value(cn);
    const json_t *c = json_object_get(j, "config");
    if (c && !json_is_null(c) && !json_is_object(c))
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the \"config\" of %s '%s' must be an "
                         "object", w, kind, *name);
    *cfg = c && json_is_object(c) ? c : NULL;
    return CT_OK;
}

/* Keras's validate_float_arg: a finite, non-negative number. */
static ct_status reg_factor(ct__cfg *c, const char *key, double dflt, double *out) {
    return ct__cfg_double(c, key, dflt, out) ||
           ct__cfg_check(c, isfinite(*out) && *out >= 0, key,
                         "expected a non-negative float, got %g", *out);
}

ct_status ct__regularizer_from_json(const json_t *j, ct_regularizer *out, const char *what) {
    const char *w = what ? what : "regularizer";
    *out = (ct_regularizer){0};
    if (!j || json_is_null(j)) return CT_OK;
    const char *name;
    const json_t *cfg;
    ct_status st = split_object(j, w, "regularizer", &name, &cfg);
    if (st) return st;
    ct_regularizer r = {.kind = reg_kind_of(name)};
    if (r.kind == CT_REG_NONE)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: unknown regularizer '%s'", w, name);
    char cls[384];
    snprintf(cls, sizeof cls, "%s: %s", w, reg_class(r.kind));
    ct__cfg c;
    if ((st = ct__cfg_begin(&c, cfg, cls, NULL))) return st;
    if (r.kind == CT_REG_L1) st = reg_factor(&c, "l1", 0.01, &r.l1);
    else if (r.kind == CT_REG_L2) st = reg_factor(&c, "l2", 0.01, &r.l2);
    else st = reg_factor(&c, "l1", 0.0, &r.l1) || reg_factor(&c, "l2", 0.0, &r.l2);
    if (st) {
        ct__cfg_end(&c);
        return st;
    }
    if ((st = ct__cfg_finish(&c))) return st;
    /* A zero factor of L1 or L2 means "default" in ct_regularizer; an
     * explicit 0 is kept as the equivalent L1L2. */
    if ((r.kind == CT_REG_L1 && r.l1 == 0) || (r.kind == CT_REG_L2 && r.l2 == 0))
        r.kind = CT_REG_L1L2;
    *out = r;
    return CT_OK;
}

json_t *ct__regularizer_to_json(const ct_regularizer *r) {
    if (!r || r->kind == CT_REG_NONE) return json_null();
    if (!reg_class(r->kind)) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct__regularizer_to_json: invalid kind %d",
                  (int)r->kind);
        return NULL;
    }
    double l1, l2;
    reg_factors(r, &l1, &l2);
    json_t *cfg = json_object(), *top = json_object();
    int bad = !cfg || !top;
    if (!bad && r->kind != CT_REG_L2) bad |= json_object_set_new(cfg, "l1", json_real(l1));
    if (!bad && r->kind != CT_REG_L1) bad |= json_object_set_new(cfg, "l2", json_real(l2));
    if (!bad) bad |= json_object_set_new(top, "class_name", json_string(reg_class(r->kind)));
    if (!bad) {
        bad = json_object_set_new(top, "config", cfg);
        cfg = NULL; /* stolen either way */
    }
    json_decref(cfg);
    if (!bad) return top;
    json_decref(top);
    ct__error(CT_ERR_OUT_OF_MEMORY, "ct__regularizer_to_json: out of memory");
    return NULL;
}

/* ---- constraints ------------------------------------------------------------- */

static const char *con_class(ct_constraint_kind k) {
    switch (k) {
    case CT_CONSTRAINT_MAX_NORM: return "MaxNorm";
    case CT_CONSTRAINT_NON_NEG: return "NonNeg";
    case CT_CONSTRAINT_UNIT_NORM: return "UnitNorm";
    case CT_CONSTRAINT_MIN_MAX_NORM: return "MinMaxNorm";
    default: return NULL;
    }
}

/* c with Keras's defaults for its zero fields. */
static ct_constraint con_resolve(const ct_constraint *c) {
    ct_constraint r = *c;
    if (r.kind == CT_CONSTRAINT_MAX_NORM && r.max_value == 0) r.max_value = 2;
    if (r.kind == CT_CONSTRAINT_MIN_MAX_NORM) {
        if (r.max_value == 0) r.max_value = 1;
        if (r.rate == 0) r.rate = 1;
    }
    if (r.naxes == 0) {
        r.naxes = 1;
        r.axes[0] = 0;
    }
    return r;
}

/* Keras 3's constraints (keras/src/constraints/constraints.py) with
 * norms = sqrt(sum(w^2, axis, keepdims)) and epsilon 1e-7:
 *   MaxNorm     w * (clip(norms, 0, max_value) / (epsilon + norms))
 *   NonNeg      maximum(w, 0)   (Keras 2: w * (w >= 0); the same values)
 *   UnitNorm    w / (epsilon + norms)
 *   MinMaxNorm  w * ((rate * clip(norms, min, max) + (1 - rate) * norms)
 *                    / (epsilon + norms)) */
ct_tensor *ct_constraint_call(const ct_constraint *c, const ct_tensor *w) {
    const char *api = "ct_constraint_call";
    if (null_input(api, w)) return NULL;
    if (!c) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the constraint is NULL", api);
        return NULL;
    }
    if (c->kind == CT_CONSTRAINT_NONE) return ct_identity(w);
    const char *cls = con_class(c->kind);
    if (!cls) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: invalid constraint kind %d", api, (int)c->kind);
        return NULL;
    }
    ct_dtype dt = ct_tensor_dtype(w);
    if (!ct_dtype_is_float(dt)) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %s: the weight must be floating-point, got %s",
                  api, cls, CT__DESC(w));
        return NULL;
    }
    ct_constraint k = con_resolve(c);
    if (k.naxes < 0 || k.naxes > CT_MAX_RANK) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %s: naxes %d is outside [0, %d]", api, cls,
                  c->naxes, CT_MAX_RANK);
        return NULL;
    }
    int rank = ct_tensor_rank(w);
    for (int i = 0; i < k.naxes; i++)
        if (k.axes[i] < -rank || k.axes[i] >= rank) {
            ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %s: axis %d is out of range for a weight "
                      "of shape %s", api, cls, k.axes[i], CT__DESC(w));
            return NULL;
        }
    if (k.kind == CT_CONSTRAINT_NON_NEG) return ct_maximum(w, ct_scalar_of(dt, 0));
    ct_scope_begin();
    ct_tensor *norms = ct_sqrt(ct_reduce_sum(ct_square(w), k.axes, k.naxes, true));
    ct_tensor *den = ct_add(ct_scalar_of(dt, KERAS_EPSILON), norms), *out;
    if (k.kind == CT_CONSTRAINT_UNIT_NORM) {
        out = ct_divide(w, den);
    } else {
        ct_tensor *desired;
        if (k.kind == CT_CONSTRAINT_MAX_NORM) {
            desired = ct_clip_by_value(norms, 0, k.max_value);
        } else {
            desired = ct_add(ct_multiply(ct_scalar_of(dt, k.rate),
                                         ct_clip_by_value(norms, k.min_value, k.max_value)),
                             ct_multiply(ct_scalar_of(dt, 1 - k.rate), norms));
        }
        out = ct_multiply(w, ct_divide(desired, den));
    }
    return finish(out);
}

/* Class names, their snake_case, and tf.keras 2's short aliases. */
static ct_constraint_kind con_kind_of(const char *name) {
    static const struct {
        const char *name;
        ct_constraint_kind kind;
    } names[] = {
        {"MaxNorm", CT_CONSTRAINT_MAX_NORM},        {"max_norm", CT_CONSTRAINT_MAX_NORM},
        {"maxnorm", CT_CONSTRAINT_MAX_NORM},        {"NonNeg", CT_CONSTRAINT_NON_NEG},
        {"non_neg", CT_CONSTRAINT_NON_NEG},         {"nonneg", CT_CONSTRAINT_NON_NEG},
        {"UnitNorm", CT_CONSTRAINT_UNIT_NORM},      {"unit_norm", CT_CONSTRAINT_UNIT_NORM},
        {"unitnorm", CT_CONSTRAINT_UNIT_NORM},      {"MinMaxNorm", CT_CONSTRAINT_MIN_MAX_NORM},
        {"min_max_norm", CT_CONSTRAINT_MIN_MAX_NORM},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(names[i].name, name)) return names[i].kind;
    return CT_CONSTRAINT_NONE;
}

/* "axis": an int or a non-empty list of ints (default 0). */
static ct_status read_axis(ct__cfg *c, ct_constraint *out) {
    int64_t axes[CT_MAX_RANK];
    int n;
    bool present;
    ct_status st = ct__cfg_int_list(c, "axis", CT_MAX_RANK, axes, &n, &present);
    if (st) return st;
    if (!present) {
        out->naxes = 1;
        out->axes[0] = 0;
        return CT_OK;
    }
    /* axis=[] would reduce nothing; ct_constraint cannot say that (0 axes
     * means the default axis 0). */
    if ((st = ct__cfg_check(c, n > 0, "axis", "must not be an empty list"))) return st;
    for (int i = 0; i < n; i++) {
        if ((st = ct__cfg_check(c, axes[i] >= -CT_MAX_RANK && axes[i] < CT_MAX_RANK, "axis",
                                "%lld is out of range", (long long)axes[i])))
            return st;
        out->axes[i] = (int)axes[i];
    }
    out->naxes = n;
    return CT_OK;
}

ct_status ct__constraint_from_json(const json_t *j, ct_constraint *out, const char *what) {
    const char *w = what ? what : "constraint";
    *out = (ct_constraint){0};
    if (!j || json_is_null(j)) return CT_OK;
    const char *name;
    const json_t *cfg;
    ct_status st = split_object(j, w, "constraint", &name, &cfg);
    if (st) return st;
    ct_constraint r = {.kind = con_kind_of(name)};
    if (r.kind == CT_CONSTRAINT_NONE)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: unknown constraint '%s'", w, name);
    char cls[384];
    snprintf(cls, sizeof cls, "%s: %s", w, con_class(r.kind));
    ct__cfg c;
    if ((st = ct__cfg_begin(&c, cfg, cls, NULL))) return st;
    switch (r.kind) {
    case CT_CONSTRAINT_MAX_NORM:
        st = ct__cfg_double(&c, "max_value", 2.0, &r.max_value) || read_axis(&c, &r);
        break;
    case CT_CONSTRAINT_UNIT_NORM:
        st = read_axis(&c, &r);
        break;
    case CT_CONSTRAINT_MIN_MAX_NORM:
        st = ct__cfg_double(&c, "min_value", 0.0, &r.min_value) ||
             ct__cfg_double(&c, "max_value", 1.0, &r.max_value) ||
             ct__cfg_double(&c, "rate", 1.0, &r.rate) || read_axis(&c, &r);
        break;
    default:
        break;
    }
    if (st) {
        ct__cfg_end(&c);
        return st;
    }
    if ((st = ct__cfg_finish(&c))) return st;
    *out = r;
    return CT_OK;
}

json_t *ct__constraint_to_json(const ct_constraint *c) {
    if (!c || c->kind == CT_CONSTRAINT_NONE) return json_null();
    const char *cls = con_class(c->kind);
    if (!cls || c->naxes < 0 || c->naxes > CT_MAX_RANK) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct__constraint_to_json: invalid constraint (kind "
                  "%d, naxes %d)", (int)c->kind, c->naxes);
        return NULL;
    }
    ct_constraint k = con_resolve(c);
    json_t *cfg = json_object(), *top = json_object(), *axis = NULL;
    int bad = !cfg || !top;
    if (!bad && k.kind != CT_CONSTRAINT_NON_NEG) {
        if (k.naxes == 1) {
            axis = json_integer(k.axes[0]);
        } else {
            axis = json_array();
            for (int i = 0; axis && i < k.naxes; i++)
                if (json_array_append_new(axis, json_integer(k.axes[i]))) {
                    json_decref(axis);
                    axis = NULL;
                }
        }
        bad = !axis;
    }
    if (!bad && k.kind == CT_CONSTRAINT_MIN_MAX_NORM)
        bad |= json_object_set_new(cfg, "min_value", json_real(k.min_value));
    if (!bad && (k.kind == CT_CONSTRAINT_MAX_NORM || k.kind == CT_CONSTRAINT_MIN_MAX_NORM))
        bad |= json_object_set_new(cfg, "max_value", json_real(k.max_value));
    if (!bad && k.kind == CT_CONSTRAINT_MIN_MAX_NORM)
        bad |= json_object_set_new(cfg, "rate", json_real(k.rate));
    if (!bad && axis) {
        bad |= json_object_set_new(cfg, "axis", axis);
        axis = NULL;
    }
    if (!bad) bad |= json_object_set_new(top, "class_name", json_string(cls));
    if (!bad) {
        bad = json_object_set_new(top, "config", cfg);
        cfg = NULL;
    }
    json_decref(axis);
    json_decref(cfg);
    if (!bad) return top;
    json_decref(top);
    ct__error(CT_ERR_OUT_OF_MEMORY, "ct__constraint_to_json: out of memory");
    return NULL;
}
