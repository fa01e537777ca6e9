/*
 * The layer base (keras.layers.Layer): construction from a Keras config,
 * names, build on first call, weights with Keras's names, regularizer
 * losses, constraints, and the config written back.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrain/strategy.h"
#include "nn/internal.h"

/* ---- names ---------------------------------------------------------------------- */

/* Keras's to_snake_case: "Conv2DTranspose" -> "conv2d_transpose",
 * "MaxPooling2D" -> "max_pooling2d", "BatchNormalization" ->
 * "batch_normalization". */
static void snake_case(const char *cls, char *out, size_t cap) {
    size_t n = strlen(cls), o = 0;
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        char ch = cls[i];
        if (!isalnum((unsigned char)ch) && ch != '_') continue;
        bool upper = isupper((unsigned char)ch);
        /* "(.)([A-Z][a-z]+)": an uppercase letter that starts a word. */
        bool word = upper && i > 0 && i + 1 < n && islower((unsigned char)cls[i + 1]);
        /* "([a-z])([A-Z])": a lowercase letter before an uppercase one. */
        bool hump = upper && i > 0 && islower((unsigned char)cls[i - 1]);
        if ((word || hump) && o > 0 && out[o - 1] != '_') out[o++] = '_';
        out[o++] = (char)tolower((unsigned char)ch);
    }
    out[o] = '\0';
}

void ct__snake_case(const char *cls, char *out, size_t cap) { snake_case(cls, out, cap); }

/* Keras's uniquify: "dense", then "dense_1", "dense_2", ... per prefix. */
static pthread_mutex_t names_mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *name_counts; /* prefix -> times used */

static char *auto_name(const char *cls) {
    char base[128];
    snake_case(cls, base, sizeof base);
    return ct__unique_name(base, true);
}

char *ct__unique_name(const char *base, bool zero_based) {
    pthread_mutex_lock(&names_mu);
    if (!name_counts) name_counts = json_object();
    json_t *c = name_counts ? json_object_get(name_counts, base) : NULL;
    json_int_t used = c ? json_integer_value(c) : 0;
    if (name_counts) json_object_set_new(name_counts, base, json_integer(used + 1));
    pthread_mutex_unlock(&names_mu);
    char name[160];
    if (!zero_based) used++;
    if (used == 0) snprintf(name, sizeof name, "%s", base);
    else snprintf(name, sizeof name, "%s_%lld", base, (long long)used);
    return strdup(name);
}

void ct_layer_reset_names(void) {
    pthread_mutex_lock(&names_mu);
    json_decref(name_counts);
    name_counts = NULL;
    pthread_mutex_unlock(&names_mu);
}

/* ---- errors and shapes ---------------------------------------------------------- */

ct_status ct__layer_error(const ct_layer *l, ct_status code, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ct__error(code, "%s '%s': %s", l->vt->class_name, l->name, msg);
}

/* Puts "<Class> '<name>': " before an error an op raised inside the layer
 * (unless it names the layer already). */
static void blame(const ct_layer *l) {
    ct_status st = ct_last_status();
    if (!st) st = CT_ERR_INTERNAL;
    const char *m = ct_last_error();
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s '%s': ", l->vt->class_name, l->name);
    if (m && !strncmp(m, prefix, strlen(prefix))) return;
    char *copy = strdup(m && *m ? m : "failed without a message");
    ct__error(st, "%s%s", prefix, copy ? copy : "");
    free(copy);
}

ct_shape ct__shape_of(const ct_tensor *t) {
    ct_shape s = {.rank = ct_tensor_rank(t)};
    memcpy(s.dim, ct_tensor_shape(t), (size_t)s.rank * sizeof s.dim[0]);
    return s;
}

const char *ct__shape_str(const ct_shape *s, char *buf, size_t cap) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "(");
    for (int i = 0; i < s->rank && o < cap; i++) {
        if (s->dim[i] < 0) o += (size_t)snprintf(buf + o, cap - o, "%sNone", i ? ", " : "");
        else o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? ", " : "", (long long)s->dim[i]);
    }
    if (o < cap) snprintf(buf + o, cap - o, s->rank == 1 ? ",)" : ")");
    return buf;
}

/* ---- the registry ---------------------------------------------------------------- */

static const ct__layer_vt *const *const families[] = {
    ct__core_layers, ct__merge_layers, ct__reshape_layers,
    ct__conv_layers, ct__pool_layers,  ct__norm_layers, ct__model_layers,
};

/* Keras's aliases of class names. */
static const char *const ALIASES[][2] = {
    {"Convolution1D", "Conv1D"},          {"Convolution2D", "Conv2D"},
    {"Convolution3D", "Conv3D"},          {"Convolution2DTranspose", "Conv2DTranspose"},
    {"Deconvolution2D", "Conv2DTranspose"}, {"SeparableConvolution2D", "SeparableConv2D"},
    {"DepthwiseConvolution2D", "DepthwiseConv2D"}, {"MaxPool1D", "MaxPooling1D"},
    {"MaxPool2D", "MaxPooling2D"},        {"MaxPool3D", "MaxPooling3D"},
    {"AvgPool1D", "AveragePooling1D"},    {"AvgPool2D", "AveragePooling2D"},
    {"AvgPool3D", "AveragePooling3D"},    {"GlobalMaxPool1D", "GlobalMaxPooling1D"},
    {"GlobalMaxPool2D", "GlobalMaxPooling2D"}, {"GlobalMaxPool3D", "GlobalMaxPooling3D"},
    {"GlobalAvgPool1D", "GlobalAveragePooling1D"}, {"GlobalAvgPool2D", "GlobalAveragePooling2D"},
    {"GlobalAvgPool3D", "GlobalAveragePooling3D"},
    /* tf.keras 2.2-2.3 and TF.js call a Functional model "Model". */
    {"Model", "Functional"},
};

const ct__layer_vt *ct__layer_lookup(const char *class_name) {
    if (!class_name) return NULL;
    for (size_t a = 0; a < sizeof ALIASES / sizeof ALIASES[0]; a++)
        if (!strcmp(ALIASES[a][0], class_name)) class_name = ALIASES[a][1];
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
        for (const ct__layer_vt *const *v = families[f]; v && *v; v++)
            if (!strcmp((*v)->class_name, class_name)) return *v;
    return NULL;
}

/* Every registered class, families in order (aliases are not classes):
 * lets a test walk the registry so that a class added later cannot go
 * untested. */
int ct__layer_num_classes(void) {
    int n = 0;
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
        for (const ct__layer_vt *const *v = families[f]; v && *v; v++) n++;
    return n;
}

const char *ct__layer_class(int i) {
    if (i < 0) return NULL;
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
        for (const ct__layer_vt *const *v = families[f]; v && *v; v++)
            if (i-- == 0) return (*v)->class_name;
    return NULL;
}

/* ---- construction ---------------------------------------------------------------- */

static ct_status parse_dtype(const json_t *j, ct_dtype *out, const char *cls) {
    if (!j || json_is_null(j)) {
        *out = CT_FLOAT32;
        return CT_OK;
    }
    /* Keras 3 writes a policy: {"class_name": "DTypePolicy", "config": {"name": ...}}. */
    if (json_is_object(j)) {
        const json_t *cfg = json_object_get(j, "config");
        j = cfg ? json_object_get(cfg, "name") : NULL;
    }
    const char *s = json_is_string(j) ? json_string_value(j) : NULL;
    static const struct {
        const char *name;
        ct_dtype dt;
    } known[] = {{"float32", CT_FLOAT32}, {"float64", CT_FLOAT64}, {"float16", CT_FLOAT16},
                 {"bfloat16", CT_BFLOAT16}, {"mixed_float16", CT_FLOAT32},
                 {"mixed_bfloat16", CT_FLOAT32}, {"int32", CT_INT32},
                 {"int64", CT_INT64},           {"uint8", CT_UINT8},
                 {"bool", CT_BOOL}};
    for (size_t i = 0; s && i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(known[i].name, s)) {
            *out = known[i].dt;
            return CT_OK;
        }
    return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: argument 'dtype': unsupported dtype %s", cls,
                     s ? s : "(not a string)");
}

static const char *dtype_name(ct_dtype dt) { return ct_dtype_name(dt); }

static ct_layer *layer_make(const ct__layer_vt *vt, const json_t *cfg) {
    ct_layer *l = calloc(1, vt->size);
    if (!l) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", vt->class_name);
        return NULL;
    }
    l->vt = vt;
    l->refs = 1;
    l->trainable = true;
    const json_t *name = cfg ? json_object_get(cfg, "name") : NULL;
    if (name && !json_is_null(name) && (!json_is_string(name) || !*json_string_value(name))) {
        free(l);
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: argument 'name' must be a non-empty string",
                  vt->class_name);
        return NULL;
    }
    l->name = name && json_is_string(name) ? strdup(json_string_value(name))
                                           : auto_name(vt->class_name);
    ct__cfg c;
    if (!l->name || ct__cfg_begin(&c, cfg, vt->class_name, l->name)) {
        if (!l->name) ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", vt->class_name);
        free(l->name);
        free(l);
        return NULL;
    }
    ct_status st = ct__cfg_bool(&c, "trainable", true, &l->trainable) ||
                   parse_dtype(cfg ? json_object_get(cfg, "dtype") : NULL, &l->dtype,
                               vt->class_name) ||
                   ct__cfg_regularizer(&c, "activity_regularizer", &l->activity_regularizer);
    if (!st && cfg) {
        /* Keep the first layer's input shape to write back. */
        const char *keys[] = {"batch_input_shape", "batch_shape"};
        for (int i = 0; i < 2 && !l->batch_input_shape; i++) {
            json_t *v = json_object_get(cfg, keys[i]);
            if (v && json_is_array(v)) l->batch_input_shape = json_incref(v);
        }
        json_t *in = json_object_get(cfg, "input_shape");
        if (!l->batch_input_shape && in && json_is_array(in)) {
            json_t *b = json_array();
            json_array_append_new(b, json_null());
            json_array_extend(b, in);
            l->batch_input_shape = b;
        }
    }
    if (!st && vt->init) st = vt->init(l, &c);
    if (st) {
        ct__cfg_end(&c);
        ct_layer_free(l);
        return NULL;
    }
    if (ct__cfg_finish(&c)) {
        ct_layer_free(l);
        return NULL;
    }
    return l;
}

ct_layer *ct_layer_new(const char *class_name, const char *config_json) {
    const ct__layer_vt *vt = ct__layer_lookup(class_name);
    if (!vt) {
        ct__error(CT_ERR_NOT_FOUND, "ct_layer_new: unknown layer class '%s'",
                  class_name ? class_name : "(null)");
        return NULL;
    }
    json_t *cfg = NULL;
    if (config_json) {
        char what[160];
        snprintf(what, sizeof what, "ct_layer_new(\"%s\")", vt->class_name);
        cfg = ct__json_parse(config_json, what);
        if (!cfg) return NULL;
        if (!json_is_object(cfg)) {
            json_decref(cfg);
            ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the config must be a JSON object",
                      vt->class_name);
            return NULL;
        }
    }
    ct_layer *l = layer_make(vt, cfg);
    json_decref(cfg);
    return l;
}

ct_layer *ct__layer_from_json(const json_t *j) {
    if (!json_is_object(j)) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_layer_from_config: expected {\"class_name\": ..., \"config\": {...}}");
        return NULL;
    }
    const json_t *cls = json_object_get(j, "class_name");
    const json_t *cfg = json_object_get(j, "config");
    if (!json_is_string(cls)) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_layer_from_config: 'class_name' is missing");
        return NULL;
    }
    const ct__layer_vt *vt = ct__layer_lookup(json_string_value(cls));
    if (!vt) {
        ct__error(CT_ERR_NOT_FOUND, "ct_layer_from_config: unknown layer class '%s'",
                  json_string_value(cls));
        return NULL;
    }
    if (cfg && !json_is_null(cfg) && !json_is_object(cfg)) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: 'config' must be a JSON object",
                  vt->class_name);
        return NULL;
    }
    return layer_make(vt, json_is_object(cfg) ? cfg : NULL);
}

ct_layer *ct_layer_from_config(const char *json) {
    json_t *j = ct__json_parse(json, "ct_layer_from_config");
    if (!j) return NULL;
    ct_layer *l = ct__layer_from_json(j);
    json_decref(j);
    return l;
}

json_t *ct__layer_to_json(const ct_layer *l) {
    json_t *cfg = json_object();
    json_t *out = json_object();
    if (!cfg || !out) {
        json_decref(cfg);
        json_decref(out);
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_layer_get_config: out of memory");
        return NULL;
    }
    json_object_set_new(cfg, "name", json_string(l->name));
    json_object_set_new(cfg, "trainable", json_boolean(l->trainable));
    json_object_set_new(cfg, "dtype", json_string(dtype_name(l->dtype)));
    if (l->batch_input_shape)
        json_object_set(cfg, "batch_input_shape", l->batch_input_shape);
    if (l->activity_regularizer.kind != CT_REG_NONE)
        json_object_set_new(cfg, "activity_regularizer",
                            ct__regularizer_to_json(&l->activity_regularizer));
    if (l->vt->get_config && l->vt->get_config(l, cfg)) {
        json_decref(cfg);
        json_decref(out);
        return NULL;
    }
    json_object_set_new(out, "class_name", json_string(l->vt->class_name));
    json_object_set_new(out, "config", cfg);
    return out;
}

char *ct_layer_get_config(const ct_layer *l) {
    if (!l) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_layer_get_config: the layer is NULL");
        return NULL;
    }
    json_t *j = ct__layer_to_json(l);
    if (!j) return NULL;
    char *s = ct__json_dump(j);
    json_decref(j);
    return s;
}

ct_layer *ct_layer_ref(ct_layer *l) {
    if (l) l->refs++;
    return l;
}

void ct_layer_free(ct_layer *l) {
    if (!l || --l->refs > 0) return;
    if (l->vt->destroy) l->vt->destroy(l);
    for (int i = 0; i < l->nweights; i++) {
        ct_variable_free(l->weights[i].var);
        free(l->weights[i].name);
    }
    free(l->weights);
    if (l->activity_loss) ct__tensor_release(l->activity_loss);
    free(l->input_shapes);
    json_decref(l->batch_input_shape);
    free(l->name);
    free(l);
}

/* ---- weights --------------------------------------------------------------------- */

ct_variable *ct__layer_add_weight(ct_layer *l, const char *name, int rank,
                                  const int64_t *shape, const ct_initializer *init,
                                  const ct_regularizer *reg, const ct_constraint *constraint,
                                  bool trainable) {
    for (int i = 0; i < rank; i++)
        if (shape[i] < 0) {
            ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                            "weight '%s' would have an unknown dimension %d (build it with "
                            "a known input shape)",
                            name, i);
            return NULL;
        }
    if (l->nweights == l->capweights) {
        int cap = l->capweights ? 2 * l->capweights : 4;
        ct__weight *w = realloc(l->weights, (size_t)cap * sizeof *w);
        if (!w) {
            ct__layer_error(l, CT_ERR_OUT_OF_MEMORY, "out of memory");
            return NULL;
        }
        l->weights = w;
        l->capweights = cap;
    }
    ct_scope_begin();
    ct_tensor *v = ct_initializer_call(init, l->dtype, rank, shape);
    /* Made in a strategy's scope: every replica starts from rank 0's. */
    ct_strategy *s = ct_current_strategy();
    if (v && ct_strategy_num_replicas_in_sync(s) > 1)
        v = ct_broadcast(ct_strategy_collective(s), v, 0);
    char full[320];
    snprintf(full, sizeof full, "%s/%s", l->name, name);
    ct_variable *var =
        v ? ct_variable_new(v, &(ct_variable_opts){.name = full, .non_trainable = !trainable})
          : NULL;
    ct_scope_end();
    char *wname = var ? strdup(name) : NULL;
    if (!var || !wname) {
        if (var) ct_variable_free(var);
        if (!var) blame(l);
        else ct__layer_error(l, CT_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    l->weights[l->nweights++] = (ct__weight){
        .var = var,
        .name = wname,
        .trainable = trainable,
        .reg = reg ? *reg : (ct_regularizer){0},
        .constraint = constraint ? *constraint : (ct_constraint){0},
    };
    return var;
}

/* The layers under l (l first, then its sublayers depth first), each
 * once (a layer shared by two nested models counts once, as in Keras),
 * with its effective trainability. */
typedef struct {
    const ct_layer *l;
    bool trainable;
} reached;

static void reach(const ct_layer *l, bool parent_trainable, reached **list, int *n, int *cap,
                  bool *oom) {
    for (int i = 0; i < *n; i++)
        if ((*list)[i].l == l) return;
    if (*n == *cap) {
        int c = *cap ? 2 * *cap : 16;
        reached *p = realloc(*list, (size_t)c * sizeof *p);
        if (!p) {
            *oom = true;
            return;
        }
        *list = p;
        *cap = c;
    }
    bool here = parent_trainable && l->trainable;
    (*list)[(*n)++] = (reached){l, here};
    if (!l->vt->sublayers) return;
    ct_layer *const *subs;
    int ns = l->vt->sublayers(l, &subs);
    for (int i = 0; i < ns && !*oom; i++) reach(subs[i], here, list, n, cap, oom);
}

int ct__layer_collect(const ct_layer *l, ct__wref *out, int cap) {
    if (!l->vt->sublayers) {
        /* A plain layer: no walk needed. */
        int n = 0;
        for (int pass = 1; pass >= 0; pass--)
            for (int i = 0; i < l->nweights; i++) {
                bool t = l->trainable && l->weights[i].trainable;
                if (t != (bool)pass) continue;
                if (out && n < cap) out[n] = (ct__wref){&l->weights[i], t};
                n++;
            }
        return n;
    }
    reached *list = NULL;
    int nl = 0, capl = 0;
    bool oom = false;
    reach(l, true, &list, &nl, &capl, &oom);
    if (oom) {
        free(list);
        return 0;
    }
    int n = 0;
    for (int pass = 1; pass >= 0; pass--)
        for (int k = 0; k < nl; k++) {
            const ct_layer *x = list[k].l;
            for (int i = 0; i < x->nweights; i++) {
                bool t = list[k].trainable && x->weights[i].trainable;
                if (t != (bool)pass) continue;
                if (out && n < cap) out[n] = (ct__wref){&x->weights[i], t};
                n++;
            }
        }
    free(list);
    return n;
}

int ct_layer_trainable_weights(const ct_layer *l, ct_variable **out, int cap) {
    if (!l) return 0;
    int n = ct__layer_collect(l, NULL, 0);
    ct__wref *all = n ? malloc((size_t)n * sizeof *all) : NULL;
    if (n && !all) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_layer_trainable_weights: out of memory");
        return -1;
    }
    ct__layer_collect(l, all, n);
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!all[i].trainable) continue;
        if (out && k < cap) out[k] = all[i].w->var;
        k++;
    }
    free(all);
    return k;
}

int ct_layer_num_weights(const ct_layer *l) { return l ? ct__layer_collect(l, NULL, 0) : 0; }

ct_variable *ct_layer_weight(const ct_layer *l, int i) {
    int n = l ? ct__layer_collect(l, NULL, 0) : 0;
    if (!l || i < 0 || i >= n) {
        ct__error(CT_ERR_OUT_OF_RANGE, "ct_layer_weight: index %d outside [0, %d)", i, n);
        return NULL;
    }
    ct__wref *all = malloc((size_t)n * sizeof *all);
    if (!all) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_layer_weight: out of memory");
        return NULL;
    }
    ct__layer_collect(l, all, n);
    ct_variable *v = all[i].w->var;
    free(all);
    return v;
}

/* sum plus the activity penalties of l's last call and its sublayers'. */
static ct_tensor *activity_losses(const ct_layer *l, ct_tensor *sum) {
    if (sum && l->activity_loss) sum = ct_add(sum, ct_cast(l->activity_loss, ct_tensor_dtype(sum)));
    if (!l->vt->sublayers) return sum;
    ct_layer *const *subs;
    int ns = l->vt->sublayers(l, &subs);
    for (int i = 0; sum && i < ns; i++) sum = activity_losses(subs[i], sum);
    return sum;
}

/* All of l's weights (collected), or NULL with n = 0 (an error set when
 * allocation failed). */
static ct__wref *all_weights(const ct_layer *l, int *n) {
    *n = ct__layer_collect(l, NULL, 0);
    if (*n == 0) return NULL;
    ct__wref *all = malloc((size_t)*n * sizeof *all);
    if (!all) {
        ct__layer_error(l, CT_ERR_OUT_OF_MEMORY, "out of memory");
        *n = -1;
        return NULL;
    }
    ct__layer_collect(l, all, *n);
    return all;
}

const char *ct_layer_name(const ct_layer *l) { return l ? l->name : NULL; }
const char *ct_layer_class_name(const ct_layer *l) { return l ? l->vt->class_name : NULL; }
bool ct_layer_built(const ct_layer *l) { return l && l->built; }
bool ct_layer_trainable(const ct_layer *l) { return l && l->trainable; }
void ct_layer_set_trainable(ct_layer *l, bool trainable) {
    if (l) l->trainable = trainable;
}

ct_tensor *ct_layer_regularization_loss(ct_layer *l) {
    if (!l) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_layer_regularization_loss: the layer is NULL");
        return NULL;
    }
    int n;
    ct__wref *all = all_weights(l, &n);
    if (n < 0) return NULL;
    ct_scope_begin();
    ct_tensor *sum = ct_scalar_of(l->dtype, 0);
    for (int i = 0; sum && i < n; i++) {
        if (all[i].w->reg.kind == CT_REG_NONE) continue;
        ct_tensor *p = ct_regularizer_call(&all[i].w->reg, ct_variable_value(all[i].w->var));
        sum = ct_add(sum, ct_cast(p, l->dtype));
    }
    free(all);
    sum = activity_losses(l, sum);
    if (!sum) blame(l);
    ct_keep(sum);
    ct_scope_end();
    return sum;
}

ct_status ct_layer_apply_constraints(ct_layer *l) {
    if (!l)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_layer_apply_constraints: the layer is NULL");
    int n;
    ct__wref *all = all_weights(l, &n);
    if (n < 0) return ct_last_status();
    ct_status st = CT_OK;
    for (int i = 0; !st && i < n; i++) {
        if (all[i].w->constraint.kind == CT_CONSTRAINT_NONE) continue;
        ct_scope_begin();
        ct_tensor *w = ct_constraint_call(&all[i].w->constraint, ct_variable_value(all[i].w->var));
        st = w ? ct_variable_assign(all[i].w->var, w) : ct_last_status();
        ct_scope_end();
        if (st) blame(l);
    }
    free(all);
    return st;
}

/* ---- build and call -------------------------------------------------------------- */

static ct_status check_inputs(const ct_layer *l, int n) {
    if (n < l->vt->min_inputs || n > l->vt->max_inputs) {
        if (l->vt->min_inputs == l->vt->max_inputs)
            return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT, "expects %d input%s, got %d",
                                   l->vt->min_inputs, l->vt->min_inputs == 1 ? "" : "s", n);
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "expects between %d and %d inputs, got %d", l->vt->min_inputs,
                               l->vt->max_inputs, n);
    }
    return CT_OK;
}

ct_status ct_layer_build(ct_layer *l, int n, const ct_shape *input_shapes) {
    if (!l) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_layer_build: the layer is NULL");
    if (l->built) return CT_OK;
    ct_status st = check_inputs(l, n);
    if (st) return st;
    for (int i = 0; i < n; i++)
        if (input_shapes[i].rank < 0 || input_shapes[i].rank > CT_MAX_RANK)
            return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT, "input %d has a bad rank %d", i,
                                   input_shapes[i].rank);
    if (l->vt->build && (st = l->vt->build(l, n, input_shapes))) {
        blame(l);
        /* A failed build leaves no half-made weights. */
        for (int i = 0; i < l->nweights; i++) {
            ct_variable_free(l->weights[i].var);
            free(l->weights[i].name);
        }
        l->nweights = 0;
        return ct_last_status();
    }
    ct_shape *keep = malloc((size_t)n * sizeof *keep);
    if (!keep && n) return ct__layer_error(l, CT_ERR_OUT_OF_MEMORY, "out of memory");
    if (n) memcpy(keep, input_shapes, (size_t)n * sizeof *keep);
    free(l->input_shapes);
    l->input_shapes = keep;
    l->ninputs = n;
    l->built = true;
    return CT_OK;
}

ct_status ct__layer_check_built_for(const ct_layer *l, int n, const ct_shape *in) {
    if (l->ninputs != n)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT, "was built for %d input%s, got %d",
                               l->ninputs, l->ninputs == 1 ? "" : "s", n);
    for (int i = 0; i < n; i++) {
        const ct_shape *a = &l->input_shapes[i];
        bool ok = a->rank == in[i].rank;
        for (int d = 1; ok && d < a->rank; d++)
            ok = a->dim[d] < 0 || in[i].dim[d] < 0 || a->dim[d] == in[i].dim[d];
        if (!ok)
            return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                   "was built for inputs of shape %s, got %s", CT__SHAPE_STR(a),
                                   CT__SHAPE_STR(&in[i]));
    }
    return CT_OK;
}

ct_status ct_layer_output_shape(ct_layer *l, int n, const ct_shape *input_shapes,
                                ct_shape *out) {
    if (!l)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_layer_output_shape: the layer is NULL");
    ct_status st = check_inputs(l, n);
    if (st) return st;
    if (!l->vt->output_shape) {
        *out = input_shapes[0];
        return CT_OK;
    }
    if ((st = l->vt->output_shape(l, n, input_shapes, out))) blame(l);
    return st;
}

/* How deep in layer calls this thread is (nn/subclass.c tracks the layers
 * a subclassed model calls directly). */
static _Thread_local int call_depth;
/* Counts top-level calls: a layer's activity losses from one forward pass
 * add up (a shared layer called twice), a new pass starts afresh, as
 * Keras clears layer.losses at each outermost call. */
static _Thread_local uint64_t pass_id;

int ct__layer_call_depth(void) { return call_depth; }

void ct__layer_call_enter(void) {
    if (call_depth++ == 0) pass_id++;
}

void ct__layer_call_leave(void) { call_depth--; }

ct_tensor *ct_layer_call_n(ct_layer *l, int n, ct_tensor *const *xs, bool training) {
    if (!l) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_layer_call: the layer is NULL");
        return NULL;
    }
    if (check_inputs(l, n)) return NULL;
    ct_shape shapes[16];
    if (n > 16) {
        ct__layer_error(l, CT_ERR_INVALID_ARGUMENT, "too many inputs (%d)", n);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (!xs[i]) return NULL; /* keeps the error that made the input NULL */
        shapes[i] = ct__shape_of(xs[i]);
    }
    if (!l->built && ct_layer_build(l, n, shapes)) return NULL;
    if (call_depth == 0) pass_id++;
    int depth = ++call_depth;
    ct_tensor *y = l->vt->call(l, n, xs, training);
    call_depth--;
    if (!y) {
        blame(l);
        return NULL;
    }
    ct__layer_called(l, depth);
    if (l->activity_regularizer.kind != CT_REG_NONE) {
        /* Keras 3: the penalty of the output as is (Keras 2 divided it by
         * the batch size). */
        ct_tensor *loss = ct_regularizer_call(&l->activity_regularizer, y);
        if (!loss) {
            blame(l);
            return NULL;
        }
        if (l->activity_loss && l->activity_pass == pass_id) {
            loss = ct_add(loss, ct_cast(l->activity_loss, ct_tensor_dtype(loss)));
            if (!loss) {
                blame(l);
                return NULL;
            }
        }
        if (l->activity_loss) ct__tensor_release(l->activity_loss);
        l->activity_loss = ct__tensor_retain(loss);
        l->activity_pass = pass_id;
    }
    return y;
}

ct_tensor *ct_layer_call(ct_layer *l, const ct_tensor *x, bool training) {
    ct_tensor *in[1] = {(ct_tensor *)x};
    return ct_layer_call_n(l, 1, in, training);
}
