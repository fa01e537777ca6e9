/*
 * keras.Sequential: a model that applies its layers in order. A model is a
 * layer (its struct begins with ct_layer), so a Sequential nests inside
 * another one, and the layer base gives it weights (its sublayers'),
 * regularization losses, constraints and the config round trip.
 *
 * The input shape. A model knows it from an InputLayer (added first, or
 * the first entry of its JSON "layers"), from its first layer's
 * batch_input_shape, or, failing both, from the first build / call, which
 * makes an InputLayer named "<first layer>_input" for that shape as
 * tf.keras 2 does (Keras 3 would name it "input_layer"). Like Keras, the
 * InputLayer is not one of model.layers, but it is written first in the
 * config. Once the shape is known and there is a layer, the model builds at
 * once, and every layer added later builds from the previous one's output
 * shape, so a layer that does not fit is an error when it is added.
 *
 * Keras 3 where the two differ: pop keeps the input shape (tf.keras 2
 * forgot it when the last layer went); calls check the input against the
 * input shape without its batch dimension, squeezing or adding a last axis
 * of size 1 where the ranks differ by one (Functional._adjust_input_rank);
 * a model built on a batch keeps that batch size in its input shape.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"

/* The Sequential layer: the shared model struct plus its input. */
typedef struct sequential {
    struct ct_model m;
    ct_layer *input; /* the InputLayer (owned; not in m.layers), or NULL */
} sequential;

static const ct__layer_vt sequential_vt;

/* m as a Sequential, or NULL with an error naming fn. */
static sequential *as_seq(const ct_model *m, const char *fn) {
    if (!m) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the model is NULL", fn);
        return NULL;
    }
    if (m->base.vt != &sequential_vt) {
        ct__error(CT_ERR_UNIMPLEMENTED, "%s: %s '%s' is not a Sequential model", fn,
                  m->base.vt->class_name, m->base.name);
        return NULL;
    }
    return (sequential *)m;
}

/* The InputLayer's declared shape (-1 for None). */
static ct_shape declared_shape(const ct_layer *input) {
    ct_shape s = {.rank = (int)json_array_size(input->batch_input_shape)};
    for (int i = 0; i < s.rank && i < CT_MAX_RANK; i++) {
        const json_t *d = json_array_get(input->batch_input_shape, (size_t)i);
        s.dim[i] = json_is_integer(d) ? (int64_t)json_integer_value(d) : -1;
    }
    return s;
}

/* A JSON list of a shape, null for unknown dimensions (new ref). */
static json_t *shape_json(const ct_shape *s) {
    json_t *a = json_array();
    for (int i = 0; a && i < s->rank; i++)
        json_array_append_new(a, s->dim[i] < 0 ? json_null() : json_integer(s->dim[i]));
    return a;
}

/* An InputLayer named "<name>_input" for batch_shape (a JSON list), with
 * the dtype given; NULL on error. */
static ct_layer *make_input(const sequential *s, const char *name, const json_t *batch_shape,
                            ct_dtype dtype) {
    char iname[320];
    snprintf(iname, sizeof iname, "%s_input", name);
    json_t *cfg = json_object();
    json_t *obj = json_object();
    if (!cfg || !obj) {
        json_decref(cfg);
        json_decref(obj);
        ct__layer_error(&s->m.base, CT_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    json_object_set_new(cfg, "batch_input_shape", json_deep_copy(batch_shape));
    json_object_set_new(cfg, "dtype", json_string(ct_dtype_name(dtype)));
    json_object_set_new(cfg, "name", json_string(iname));
    json_object_set_new(obj, "class_name", json_string("InputLayer"));
    json_object_set_new(obj, "config", cfg);
    ct_layer *in = ct__layer_from_json(obj);
    json_decref(obj);
    if (!in) {
        char *why = strdup(ct_last_error());
        ct__layer_error(&s->m.base, CT_ERR_INVALID_ARGUMENT, "bad input shape: %s",
                        why ? why : "");
        free(why);
    }
    return in;
}

static bool is_input_layer(const ct_layer *l) { return !strcmp(l->vt->class_name, "InputLayer"); }

/* ---- shapes through the layers ------------------------------------------------------ */

/* "Dense 'dense'", or the model's input for index -1. */
static void describe(const sequential *s, int i, char *buf, size_t cap) {
    if (i >= 0)
        snprintf(buf, cap, "%s '%s'", s->m.layers[i]->vt->class_name, s->m.layers[i]->name);
    else if (s->input)
        snprintf(buf, cap, "the model's input (InputLayer '%s')", s->input->name);
    else
        snprintf(buf, cap, "the model's input");
}

/* The error "layer i does not fit what comes before it", with the layer's
 * own message (the last error) as the cause. */
static ct_status fit_error(const sequential *s, int i, const ct_shape *in) {
    ct_status code = ct_last_status() ? ct_last_status() : CT_ERR_INVALID_ARGUMENT;
    char *why = strdup(ct_last_error());
    char prev[400], cur[400];
    describe(s, i - 1, prev, sizeof prev);
    describe(s, i, cur, sizeof cur);
    ct_status st = ct__layer_error(&s->m.base, code,
                                   "layer %s does not fit the output of %s, of shape %s: %s",
                                   cur, prev, CT__SHAPE_STR(in), why && *why ? why : "");
    free(why);
    return st;
}

/* Builds layer i (unless built) for input shape in and gives its output
 * shape; errors name the layer and the one before it. */
static ct_status build_layer(sequential *s, int i, const ct_shape *in, ct_shape *out) {
    ct_layer *l = s->m.layers[i];
    ct_status st = l->built ? ct__layer_check_built_for(l, 1, in) : ct_layer_build(l, 1, in);
    if (!st) st = ct_layer_output_shape(l, 1, in, out);
    return st ? fit_error(s, i, in) : CT_OK;
}

/* The output shape of layers [0, upto) applied to in (upto 0: in). */
static ct_status chain_shapes(const sequential *s, int upto, const ct_shape *in, ct_shape *out) {
    ct_shape cur = *in;
    for (int i = 0; i < upto; i++) {
        ct_shape next;
        if (ct_layer_output_shape(s->m.layers[i], 1, &cur, &next)) return fit_error(s, i, &cur);
        cur = next;
    }
    *out = cur;
    return CT_OK;
}

/* The input shape of a built model. */
static ct_shape built_input(const sequential *s) {
    if (s->input) return declared_shape(s->input);
    return s->m.base.input_shapes[0];
}

/* ---- the layer vtable ------------------------------------------------------------------ */

static ct_status seq_add(sequential *s, ct_layer *layer);

static void seq_destroy(ct_layer *l) {
    sequential *s = (sequential *)l;
    for (int i = 0; i < s->m.nlayers; i++) ct_layer_free(s->m.layers[i]);
    free(s->m.layers);
    s->m.layers = NULL;
    s->m.nlayers = s->m.caplayers = 0;
    ct_layer_free(s->input);
    s->input = NULL;
    ct__model_free_compiled(&s->m);
}

bool ct__sequential_has_input(const ct_model *m) { return ((const sequential *)m)->input != NULL; }

static int seq_sublayers(const ct_layer *l, ct_layer *const **out) {
    const sequential *s = (const sequential *)l;
    *out = s->m.layers;
    return s->m.nlayers;
}

/* Builds the layers for the model input shape (or in[0] when the model
 * has no InputLayer yet: one is made for it). */
static ct_status seq_build(ct_layer *l, int n, const ct_shape *in) {
    (void)n;
    sequential *s = (sequential *)l;
    if (s->m.nlayers == 0)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "cannot be built because it has no layers (add one first)");
    bool made = false;
    if (!s->input) {
        json_t *bs = shape_json(&in[0]);
        s->input = bs ? make_input(s, s->m.layers[0]->name, bs, s->m.layers[0]->dtype) : NULL;
        json_decref(bs);
        if (!s->input) return ct_last_status() ? ct_last_status() : CT_ERR_OUT_OF_MEMORY;
        made = true;
    } else {
        ct_shape want = declared_shape(s->input), unused;
        if (ct_layer_output_shape(s->input, 1, &in[0], &unused))
            return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                   "has the input shape %s, cannot build it for %s",
                                   CT__SHAPE_STR(&want), CT__SHAPE_STR(&in[0]));
    }
    ct_shape cur = declared_shape(s->input);
    ct_status st = ct_layer_build(s->input, 1, &cur);
    for (int i = 0; !st && i < s->m.nlayers; i++) {
        ct_shape next;
        st = build_layer(s, i, &cur, &next);
        cur = next;
    }
    if (st && made) {
        ct_layer_free(s->input);
        s->input = NULL;
    }
    return st;
}

static ct_status seq_output_shape(const ct_layer *l, int n, const ct_shape *in, ct_shape *out) {
    (void)n;
    return chain_shapes((const sequential *)l, ((const sequential *)l)->m.nlayers, &in[0], out);
}

/* Keras 3's Functional input handling: a rank one off the model's is
 * fixed by squeezing / adding a last axis of size 1; then every known
 * dimension but the batch must match. The result is x itself or a new
 * tensor in the current scope; NULL with an error naming input i (and
 * its name, when given). Shared by Sequential and Functional. */
ct_tensor *ct__standardize_input(const ct_layer *model, int i, const char *name, ct_shape want,
                                 ct_tensor *x) {
    ct_shape got = ct__shape_of(x);
    if (got.rank == want.rank + 1 && got.dim[got.rank - 1] == 1) {
        x = ct_squeeze(x, (int[]){-1}, 1);
    } else if (want.rank > 0 && got.rank == want.rank - 1 && want.dim[want.rank - 1] == 1) {
        x = ct_expand_dims(x, -1);
    }
    if (!x) return NULL;
    got = ct__shape_of(x);
    bool ok = got.rank == want.rank;
    for (int d = 1; ok && d < got.rank; d++) ok = want.dim[d] < 0 || want.dim[d] == got.dim[d];
    if (ok) return x;
    want.dim[0] = -1;
    char label[320] = "";
    if (name) snprintf(label, sizeof label, " ('%s')", name);
    ct__layer_error(model, CT_ERR_INVALID_ARGUMENT,
                    "input %d%s is incompatible with the model: expected shape=%s, found "
                    "shape=%s",
                    i, label, CT__SHAPE_STR(&want), CT__SHAPE_STR(&got));
    return NULL;
}

static ct_tensor *seq_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    (void)n;
    sequential *s = (sequential *)l;
    ct_scope_begin();
    ct_tensor *y =
        s->input ? ct__standardize_input(l, 0, NULL, declared_shape(s->input), in[0]) : in[0];
    for (int i = 0; y && i < s->m.nlayers; i++) y = ct_layer_call(s->m.layers[i], y, training);
    /* The result must be a tensor of this scope to move out of it. */
    if (y == in[0]) y = ct_identity(y);
    ct_keep(y);
    ct_scope_end();
    return y;
}

/* tf.keras 2's Sequential config: {"name", "layers"}, the InputLayer
 * first when the input shape is known. trainable and dtype are written
 * only when not the defaults (Keras 2 drops them; Keras 3 reads them). */
static ct_status seq_get_config(const ct_layer *l, json_t *cfg) {
    const sequential *s = (const sequential *)l;
    if (l->trainable) json_object_del(cfg, "trainable");
    if (l->dtype == CT_FLOAT32) json_object_del(cfg, "dtype");
    json_object_del(cfg, "batch_input_shape");
    json_t *layers = json_array();
    if (!layers) return ct__layer_error(l, CT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = -1; i < s->m.nlayers; i++) {
        const ct_layer *sub = i < 0 ? s->input : s->m.layers[i];
        if (!sub) continue;
        json_t *j = ct__layer_to_json(sub);
        if (!j) {
            json_decref(layers);
            return ct_last_status() ? ct_last_status() : CT_ERR_INTERNAL;
        }
        json_array_append_new(layers, j);
    }
    json_object_set_new(cfg, "layers", layers);
    return CT_OK;
}

/* A JSON shape list as a build shape; false when it is not one. */
static bool json_shape(const json_t *j, ct_shape *out) {
    if (!json_is_array(j) || json_array_size(j) < 1 || json_array_size(j) > CT_MAX_RANK)
        return false;
    out->rank = (int)json_array_size(j);
    for (int i = 0; i < out->rank; i++) {
        const json_t *d = json_array_get(j, (size_t)i);
        if (json_is_null(d)) out->dim[i] = -1;
        else if (json_is_integer(d) && json_integer_value(d) >= 0)
            out->dim[i] = (int64_t)json_integer_value(d);
        else return false;
    }
    return true;
}

/* Reads "layers" (each {"class_name", "config"} in Keras 2 or 3 form; an
 * InputLayer first gives the input shape) and "build_input_shape" (Keras
 * 3 writes it; a Keras 3 layer's "build_config" input shape serves too
 * for the first layer). Keras 2.0's bare list of layers is turned into
 * this form by ct_model_from_json. */
static ct_status seq_init(ct_layer *l, ct__cfg *c) {
    sequential *s = (sequential *)l;
    const json_t *layers = ct__cfg_json(c, "layers");
    const json_t *bis = ct__cfg_json(c, "build_input_shape");
    ct_status st = ct__cfg_check(c, !layers || json_is_array(layers), "layers",
                                 "must be a list of layer configs");
    ct_shape build_shape;
    bool has_build = false;
    if (!st && bis) {
        st = ct__cfg_check(c, json_shape(bis, &build_shape), "build_input_shape",
                           "must be a list of non-negative integers or nulls");
        has_build = !st;
    }
    /* A batch_input_shape on the model itself declares its input. */
    if (!st && l->batch_input_shape) {
        s->input = make_input(s, l->name, l->batch_input_shape, l->dtype);
        if (!s->input) st = ct_last_status();
    }
    for (size_t i = 0; !st && i < json_array_size(layers); i++) {
        const json_t *e = json_array_get(layers, i);
        ct_layer *sub = ct__layer_from_json(e);
        if (!sub) {
            char *why = strdup(ct_last_error());
            st = ct__layer_error(l, ct_last_status() ? ct_last_status() : CT_ERR_INVALID_ARGUMENT,
                                 "layers[%zu]: %s", i, why ? why : "");
            free(why);
            break;
        }
        if (is_input_layer(sub) && i > 0) {
            st = ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                 "layers[%zu]: an InputLayer must be the first layer", i);
            ct_layer_free(sub);
            break;
        }
        /* Keras 3: the first layer's build_config gives the input shape. */
        const json_t *bc = json_object_get(e, "build_config");
        const json_t *bc_shape = json_is_object(bc) ? json_object_get(bc, "input_shape") : NULL;
        if (!has_build && s->m.nlayers == 0 && !is_input_layer(sub) && bc_shape)
            has_build = json_shape(bc_shape, &build_shape);
        st = seq_add(s, sub);
    }
    if (!st && has_build && !l->built && s->m.nlayers > 0 && !s->input)
        st = ct_layer_build(l, 1, &build_shape);
    return st;
}

static const ct__layer_vt sequential_vt = {
    .class_name = "Sequential",
    .size = sizeof(sequential),
    .min_inputs = 1,
    .max_inputs = 1,
    .init = seq_init,
    .get_config = seq_get_config,
    .build = seq_build,
    .output_shape = seq_output_shape,
    .call = seq_call,
    .destroy = seq_destroy,
    .sublayers = seq_sublayers,
};

const ct__layer_vt *const ct__model_layers[] = {&sequential_vt, &ct__functional_layer_vt, NULL};

/* ---- add and pop ------------------------------------------------------------------------ */

static bool owns(const sequential *s, const ct_layer *layer) {
    if (layer == s->input) return true;
    for (int i = 0; i < s->m.nlayers; i++)
        if (s->m.layers[i] == layer) return true;
    return false;
}

/* Removes and frees the last layer. */
static void drop_last(sequential *s) {
    ct_layer_free(s->m.layers[--s->m.nlayers]);
    s->m.layers[s->m.nlayers] = NULL;
}

/* model.add: takes layer (freed on error, unless it is in the model
 * already). */
static ct_status seq_add(sequential *s, ct_layer *layer) {
    ct_layer *self = &s->m.base;
    if (layer == self || owns(s, layer))
        return ct__layer_error(self, CT_ERR_INVALID_ARGUMENT, "%s '%s' is in the model already",
                               layer->vt->class_name, layer->name);
    ct_status st = CT_OK;
    if (is_input_layer(layer)) {
        if (s->input) {
            ct_shape have = declared_shape(s->input);
            st = ct__layer_error(self, CT_ERR_INVALID_ARGUMENT,
                                 "has already been configured to use input shape %s; cannot "
                                 "add a different InputLayer ('%s')",
                                 CT__SHAPE_STR(&have), layer->name);
        } else if (s->m.nlayers > 0) {
            st = ct__layer_error(self, CT_ERR_INVALID_ARGUMENT,
                                 "an InputLayer ('%s') must be added before the other layers",
                                 layer->name);
        }
        if (st) {
            ct_layer_free(layer);
            return st;
        }
        s->input = layer;
        return CT_OK;
    }
    /* Keras: the names of a model's layers are unique. */
    for (int i = -1; i < s->m.nlayers; i++) {
        const ct_layer *o = i < 0 ? s->input : s->m.layers[i];
        if (o && !strcmp(o->name, layer->name)) {
            st = ct__layer_error(self, CT_ERR_INVALID_ARGUMENT,
                                 "all layers added to a Sequential model should have unique "
                                 "names; \"%s\" is already the name of a layer in this model",
                                 layer->name);
            ct_layer_free(layer);
            return st;
        }
    }
    if (s->m.nlayers == s->m.caplayers) {
        int cap = s->m.caplayers ? 2 * s->m.caplayers : 4;
        ct_layer **ls = realloc(s->m.layers, (size_t)cap * sizeof *ls);
        if (!ls) {
            ct_layer_free(layer);
            return ct__layer_error(self, CT_ERR_OUT_OF_MEMORY, "out of memory");
        }
        s->m.layers = ls;
        s->m.caplayers = cap;
    }
    s->m.layers[s->m.nlayers++] = layer;
    bool made_input = false;
    if (s->m.nlayers == 1 && !s->input && layer->batch_input_shape) {
        /* A first layer made with an input shape declares the model's. */
        s->input = make_input(s, layer->name, layer->batch_input_shape, layer->dtype);
        if (!s->input) {
            st = ct_last_status();
            drop_last(s);
            return st;
        }
        made_input = true;
    }
    if (self->built) {
        ct_shape last, out;
        ct_shape in = built_input(s);
        st = chain_shapes(s, s->m.nlayers - 1, &in, &last);
        if (!st) st = build_layer(s, s->m.nlayers - 1, &last, &out);
    } else if (s->input) {
        ct_shape in = declared_shape(s->input);
        st = ct_layer_build(self, 1, &in);
    }
    if (st) {
        drop_last(s);
        if (made_input) {
            ct_layer_free(s->input);
            s->input = NULL;
        }
    }
    return st;
}

/* ---- public API ------------------------------------------------------------------------ */

ct_layer *ct_model_layer(ct_model *m) { return m ? &m->base : NULL; }

ct_model *ct_sequential_new(const char *name) {
    json_t *obj = json_object();
    json_t *cfg = json_object();
    if (!obj || !cfg) {
        json_decref(obj);
        json_decref(cfg);
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_sequential_new: out of memory");
        return NULL;
    }
    if (name) json_object_set_new(cfg, "name", json_string(name));
    json_object_set_new(obj, "class_name", json_string("Sequential"));
    json_object_set_new(obj, "config", cfg);
    ct_layer *l = ct__layer_from_json(obj);
    json_decref(obj);
    return (ct_model *)l;
}

ct_status ct_sequential_add(ct_model *m, ct_layer *layer) {
    if (!layer) {
        char *why = strdup(ct_last_error());
        ct_status st = ct__error(CT_ERR_INVALID_ARGUMENT,
                                 "ct_sequential_add: the layer is NULL%s%s%s",
                                 why && *why ? " (" : "", why && *why ? why : "",
                                 why && *why ? ")" : "");
        free(why);
        return st;
    }
    sequential *s = as_seq(m, "ct_sequential_add");
    if (!s) {
        ct_status st = ct_last_status();
        if (!m || &m->base != layer) ct_layer_free(layer);
        return st;
    }
    return seq_add(s, layer);
}

ct_status ct_sequential_pop(ct_model *m) {
    sequential *s = as_seq(m, "ct_sequential_pop");
    if (!s) return ct_last_status();
    if (s->m.nlayers == 0)
        return ct__layer_error(&m->base, CT_ERR_INVALID_ARGUMENT,
                               "there are no layers in the model");
    drop_last(s);
    /* Keras 3: the input shape stays; a model without layers is not built. */
    if (s->m.nlayers == 0) m->base.built = false;
    return CT_OK;
}

ct_model *ct_model_from_json(const char *json) {
    json_t *j = ct__json_parse(json, "ct_model_from_json");
    if (!j) return NULL;
    ct_model *m = NULL;
    json_t *obj = NULL;
    json_t *whole = j;
    /* A TF.js model.json holds the model under "modelTopology", which is
     * either the model JSON itself or the converter's {"keras_version",
     * "backend", "model_config": {...}, "training_config"} (tfjs-layers
     * uses "model_config" when present); HDF5 attributes use the same
     * wrapper. */
    if (json_is_object(j) && json_is_object(json_object_get(j, "modelTopology")))
        j = json_object_get(j, "modelTopology");
    if (json_is_object(j) && json_is_object(json_object_get(j, "model_config")))
        j = json_object_get(j, "model_config");
    const json_t *cls = json_is_object(j) ? json_object_get(j, "class_name") : NULL;
    if (!json_is_string(cls)) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_model_from_json: expected {\"class_name\": ..., \"config\": {...}}");
        goto out;
    }
    const char *cname = json_string_value(cls);
    if (!strcmp(cname, "Functional") || !strcmp(cname, "Model")) {
        m = (ct_model *)ct__layer_from_json(j);
        goto out;
    }
    if (strcmp(cname, "Sequential")) {
        ct__error(CT_ERR_UNIMPLEMENTED,
                  "ct_model_from_json: '%s' is not a model class (Sequential, Functional or "
                  "Model)",
                  cname);
        goto out;
    }
    obj = json_object();
    const json_t *cfg = json_object_get(j, "config");
    if (obj && json_is_array(cfg)) {
        /* Early Keras 2 stored the bare list of layers. */
        json_t *wrap = json_object();
        if (wrap) json_object_set(wrap, "layers", (json_t *)cfg);
        json_object_set_new(obj, "config", wrap);
    } else if (obj && cfg) {
        json_object_set(obj, "config", (json_t *)cfg);
    }
    if (!obj) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_model_from_json: out of memory");
        goto out;
    }
    json_object_set_new(obj, "class_name", json_string("Sequential"));
    m = (ct_model *)ct__layer_from_json(obj);
    /* Keras 3 writes the model's build input shape beside its config. */
    const json_t *bc = json_object_get(j, "build_config");
    const json_t *bshape = json_is_object(bc) ? json_object_get(bc, "input_shape") : NULL;
    ct_shape in;
    if (m && !m->base.built && m->nlayers > 0 && bshape && json_shape(bshape, &in) &&
        ct_layer_build(&m->base, 1, &in)) {
        ct_model_free(m);
        m = NULL;
    }
out:
    json_decref(obj);
    json_decref(whole);
    return m;
}

/* m, or NULL with an error naming fn. */
static const ct_model *as_model(const ct_model *m, const char *fn) {
    if (!m) ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the model is NULL", fn);
    return m;
}

char *ct_model_to_json(const ct_model *m) {
    if (!as_model(m, "ct_model_to_json")) return NULL;
    json_t *j = ct__layer_to_json(&m->base);
    if (!j) return NULL;
    /* model.to_json() adds these beside class_name and config (we write
     * Keras 2's layout: keras_h5.md). */
    json_object_set_new(j, "keras_version", json_string("2.15.0"));
    json_object_set_new(j, "backend", json_string("tensorflow"));
    char *s = ct__json_dump(j);
    json_decref(j);
    return s;
}

void ct_model_free(ct_model *m) {
    if (m) ct_layer_free(&m->base);
}

const char *ct_model_name(const ct_model *m) { return m ? m->base.name : NULL; }

int ct_model_num_layers(const ct_model *m) { return m ? m->nlayers : 0; }

ct_layer *ct_model_layer_at(const ct_model *m, int i) {
    if (!m) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_model_layer_at: the model is NULL");
        return NULL;
    }
    if (i < 0 || i >= m->nlayers) {
        ct__error(CT_ERR_OUT_OF_RANGE, "%s '%s': layer index %d outside [0, %d)",
                  m->base.vt->class_name, m->base.name, i, m->nlayers);
        return NULL;
    }
    return m->layers[i];
}

ct_layer *ct_model_get_layer(const ct_model *m, const char *name) {
    if (!m || !name) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_model_get_layer: the %s is NULL",
                  m ? "name" : "model");
        return NULL;
    }
    for (int i = 0; i < m->nlayers; i++)
        if (!strcmp(m->layers[i]->name, name)) return m->layers[i];
    /* Keras: "No such layer: x. Existing layers are: ['a', 'b']." */
    char list[1024];
    size_t o = 0;
    o += (size_t)snprintf(list, sizeof list, "[");
    for (int i = 0; i < m->nlayers && o < sizeof list; i++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s'%s'", i ? ", " : "",
                              m->layers[i]->name);
    if (o < sizeof list) snprintf(list + o, sizeof list - o, "]");
    ct__error(CT_ERR_NOT_FOUND, "%s '%s': no such layer: %s. Existing layers are: %s.",
              m->base.vt->class_name, m->base.name, name, list);
    return NULL;
}

ct_status ct_model_build(ct_model *m, int rank, const int64_t *input_shape) {
    if (m && ct__is_functional(&m->base)) {
        /* Built when made: the shape must fit its (single) input. */
        if (ct__functional_num_inputs(&m->base) != 1)
            return ct__layer_error(&m->base, CT_ERR_INVALID_ARGUMENT,
                                   "build: the model has %d inputs and is built already",
                                   ct__functional_num_inputs(&m->base));
        const ct_shape *have = ct__functional_input_shape(&m->base, 0);
        bool same = input_shape && have->rank == rank;
        for (int i = 0; same && i < rank; i++)
            same = have->dim[i] < 0 || input_shape[i] < 0 || have->dim[i] == input_shape[i];
        if (!same)
            return ct__layer_error(&m->base, CT_ERR_INVALID_ARGUMENT,
                                   "has the input shape %s; cannot build it for another",
                                   CT__SHAPE_STR(have));
        return CT_OK;
    }
    if (m && ct__is_subclass(&m->base)) {
        /* Keras builds a subclassed model by calling it on the shape. */
        if (rank < 1 || rank > CT_MAX_RANK || !input_shape)
            return ct__layer_error(&m->base, CT_ERR_INVALID_ARGUMENT,
                                   "build: the input shape must have 1 to %d dimensions",
                                   CT_MAX_RANK);
        ct_shape in = {.rank = rank}, out;
        memcpy(in.dim, input_shape, (size_t)rank * sizeof in.dim[0]);
        return ct_layer_output_shape(&m->base, 1, &in, &out);
    }
    sequential *s = as_seq(m, "ct_model_build");
    if (!s) return ct_last_status();
    if (rank < 1 || rank > CT_MAX_RANK || !input_shape)
        return ct__layer_error(&m->base, CT_ERR_INVALID_ARGUMENT,
                               "build: the input shape must have 1 to %d dimensions, got %d",
                               CT_MAX_RANK, input_shape ? rank : 0);
    ct_shape in = {.rank = rank};
    for (int i = 0; i < rank; i++) {
        if (input_shape[i] < -1)
            return ct__layer_error(&m->base, CT_ERR_INVALID_ARGUMENT,
                                   "build: dimension %d of the input shape is %lld", i,
                                   (long long)input_shape[i]);
        in.dim[i] = input_shape[i];
    }
    if (s->input) {
        /* Keras 3: a model with an input shape builds only for that one. */
        ct_shape have = declared_shape(s->input);
        bool same = have.rank == in.rank;
        for (int i = 0; same && i < in.rank; i++) same = have.dim[i] == in.dim[i];
        if (!same)
            return ct__layer_error(&m->base, CT_ERR_INVALID_ARGUMENT,
                                   "has already been configured to use input shape %s; cannot "
                                   "build it with input shape %s",
                                   CT__SHAPE_STR(&have), CT__SHAPE_STR(&in));
    }
    return ct_layer_build(&m->base, 1, &in);
}

int ct_model_num_inputs(const ct_model *m) {
    if (!m) return 0;
    return ct__is_functional(&m->base) ? ct__functional_num_inputs(&m->base) : 1;
}

int ct_model_num_outputs(const ct_model *m) {
    if (!m) return 0;
    return ct__is_functional(&m->base) ? ct__functional_num_outputs(&m->base) : 1;
}

const char *ct_model_input_name(const ct_model *m, int i) {
    if (!m || i < 0 || i >= ct_model_num_inputs(m)) return NULL;
    if (ct__is_functional(&m->base)) return ct__functional_input_name(&m->base, i);
    const sequential *s = (const sequential *)m;
    return s->input ? s->input->name : NULL;
}

const char *ct_model_output_name(const ct_model *m, int i) {
    if (!m || i < 0 || i >= ct_model_num_outputs(m)) return NULL;
    if (ct__is_functional(&m->base)) return ct__functional_output_name(&m->base, i);
    return m->nlayers ? m->layers[m->nlayers - 1]->name : NULL;
}

ct_status ct_model_call_multi(ct_model *m, int nin, ct_tensor *const *in, bool training,
                              int nout, ct_tensor **out) {
    if (!m) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_model_call_multi: the model is NULL");
    if (!in || !out || nin < 1 || nout < 1)
        return ct__layer_error(&m->base, CT_ERR_INVALID_ARGUMENT,
                               "ct_model_call_multi: no inputs or no room for outputs");
    if (ct__is_functional(&m->base)) {
        if (nin != ct__functional_num_inputs(&m->base))
            return ct__layer_error(&m->base, CT_ERR_INVALID_ARGUMENT,
                                   "expects %d input%s, got %d",
                                   ct__functional_num_inputs(&m->base),
                                   ct__functional_num_inputs(&m->base) == 1 ? "" : "s", nin);
        for (int i = 0; i < nin; i++)
            if (!in[i]) return ct_last_status() ? ct_last_status() : CT_ERR_INVALID_ARGUMENT;
        ct__layer_call_enter();
        ct_status st = ct__functional_run(&m->base, nin, in, training, nout, out);
        ct__layer_call_leave();
        return st;
    }
    if (nout != 1)
        return ct__layer_error(&m->base, CT_ERR_INVALID_ARGUMENT, "has 1 output, asked for %d",
                               nout);
    out[0] = ct_layer_call_n(&m->base, nin, in, training);
    return out[0] ? CT_OK : ct_last_status();
}

ct_tensor *ct_model_call(ct_model *m, const ct_tensor *x, bool training) {
    if (!m) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_model_call: the model is NULL");
        return NULL;
    }
    return ct_layer_call(&m->base, x, training);
}

/* ---- summary ------------------------------------------------------------------------------ */

/* A growable text buffer. */
typedef struct text {
    char *p;
    size_t n, cap;
    bool failed;
} text;

static void put(text *t, const char *s, size_t n) {
    if (t->failed) return;
    if (t->n + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (t->n + n + 1 > cap) cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->failed = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = '\0';
}

static void put_str(text *t, const char *s) { put(t, s, strlen(s)); }

static void put_chars(text *t, char c, int n) {
    for (int i = 0; i < n; i++) put(t, &c, 1);
}

/* 1234567 -> "1,234,567" (Python's "{:,}"). */
static void group_digits(int64_t v, char *buf, size_t cap) {
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", (long long)v);
    size_t len = strlen(raw), o = 0, start = raw[0] == '-';
    for (size_t i = 0; i < len && o + 2 < cap; i++) {
        buf[o++] = raw[i];
        size_t left = len - i - 1;
        if (i >= start && left > 0 && left % 3 == 0) buf[o++] = ',';
    }
    buf[o] = '\0';
}

/* tf.keras 2's print_row: each field fills its column up to the next
 * position less two blanks (none for the last), breaking after "),",
 * "},", "]," or "'," when one falls inside; what does not fit goes on the
 * next line. Overlong cells push the next column to the right, as in
 * Keras (the familiar "max_pooling2d (MaxPooling2D  )" rows). */
#define MAXCOLS 4
static void print_row(text *t, int NCOLS, const char *const *fields, const int *pos) {
    const char *left[MAXCOLS];
    for (int c = 0; c < NCOLS; c++) left[c] = fields[c];
    for (;;) {
        bool any = false;
        for (int c = 0; c < NCOLS; c++) any = any || *left[c];
        if (!any) break;
        size_t line_start = t->n;
        for (int c = 0; c < NCOLS; c++) {
            int start = c > 0 ? pos[c - 1] : 0;
            int space = c != NCOLS - 1 ? 2 : 0;
            size_t cutoff = (size_t)(pos[c] - start - space);
            size_t len = strlen(left[c]);
            size_t fit = len < cutoff ? len : cutoff;
            static const char *const breaks[] = {"),", "},", "],", "',"};
            size_t best = (size_t)-1;
            for (int b = 0; b < 4; b++) {
                for (size_t k = 0; k + 1 < fit; k++)
                    if (left[c][k] == breaks[b][0] && left[c][k + 1] == breaks[b][1]) {
                        if (k + 2 < best) best = k + 2;
                        break;
                    }
            }
            if (best != (size_t)-1) {
                cutoff = best;
                fit = best;
            }
            if (c == 0) put_str(t, " ");
            put(t, left[c], fit);
            put_chars(t, ' ', space);
            left[c] += len < cutoff ? len : cutoff;
            int used = (int)(t->n - line_start);
            if (pos[c] > used) put_chars(t, ' ', pos[c] - used);
        }
        put_str(t, "\n");
    }
}

/* The number of scalars in the weights refs. */
static int64_t count_params(const ct__wref *w, int n, int want) {
    int64_t total = 0;
    for (int i = 0; i < n; i++)
        if (want < 0 || (int)w[i].trainable == want)
            total += ct_tensor_size(ct_variable_value(w[i].w->var));
    return total;
}

/* layer.count_params(). */
static int64_t layer_params(const ct_layer *l, bool *oom) {
    int n = ct__layer_collect(l, NULL, 0);
    if (n == 0) return 0;
    ct__wref *w = malloc((size_t)n * sizeof *w);
    if (!w) {
        *oom = true;
        return 0;
    }
    ct__layer_collect(l, w, n);
    int64_t c = count_params(w, n, -1);
    free(w);
    return c;
}

/* tf.keras 2.10-2.12's model.summary(): line length 65 and columns ending
 * at 45% / 85% / 100% for a Sequential model and a Functional one that is
 * a chain; else 98 and 33% / 55% / 67% / 100% with "Connected to". A
 * blank row after each layer, and the counts with thousands separators. */
ct_status ct_model_summary(const ct_model *m, FILE *out) {
    if (!m) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_model_summary: the model is NULL");
    bool functional = ct__is_functional(&m->base), subclassed = ct__is_subclass(&m->base);
    if (!functional && !subclassed && !as_seq(m, "ct_model_summary")) return ct_last_status();
    const sequential *s = functional || subclassed ? NULL : (const sequential *)m;
    if (!m->base.built)
        return ct__layer_error(&m->base, CT_ERR_INVALID_ARGUMENT,
                               "This model has not yet been built. Build the model first by "
                               "calling `build()` or by calling the model on a batch of data.");
    bool connections = functional && !ct__functional_sequential_like(&m->base);
    int line = connections ? 98 : 65, ncols = connections ? 4 : 3;
    int pos[MAXCOLS];
    if (connections) {
        pos[0] = (int)(line * 0.33);
        pos[1] = (int)(line * 0.55);
        pos[2] = (int)(line * 0.67);
        pos[3] = line;
    } else {
        pos[0] = (int)(line * 0.45);
        pos[1] = (int)(line * 0.85);
        pos[2] = line;
    }
    text t = {0};
    bool oom = false;
    char buf[512];
    snprintf(buf, sizeof buf, "Model: \"%s\"\n", m->base.name);
    put_str(&t, buf);
    put_chars(&t, '_', line);
    put_str(&t, "\n");
    print_row(&t, ncols,
              (const char *const[]){"Layer (type)", "Output Shape", "Param #", "Connected to"},
              pos);
    put_chars(&t, '=', line);
    put_str(&t, "\n");
    ct_shape cur = s ? built_input(s) : (ct_shape){0};
    ct_status st = CT_OK;
    for (int i = 0; i < m->nlayers; i++) {
        const ct_layer *l = m->layers[i];
        char name[512], shape[256], params[32], conn[2048] = "";
        if (subclassed) {
            /* tf.keras 2 shows no shapes for a subclassed model's layers. */
            snprintf(shape, sizeof shape, "multiple");
        } else if (functional) {
            ct__functional_layer_shape(&m->base, i, shape, sizeof shape);
            if (connections) ct__functional_layer_connections(&m->base, i, conn, sizeof conn);
        } else {
            ct_shape next;
            if ((st = ct_layer_output_shape(m->layers[i], 1, &cur, &next))) {
                st = fit_error(s, i, &cur);
                break;
            }
            cur = next;
            ct__shape_str(&cur, shape, sizeof shape);
        }
        snprintf(name, sizeof name, "%s (%s)", l->name, l->vt->class_name);
        if (l->built || functional || subclassed)
            snprintf(params, sizeof params, "%lld", (long long)layer_params(l, &oom));
        else snprintf(params, sizeof params, "0 (unused)");
        print_row(&t, ncols, (const char *const[]){name, shape, params, conn}, pos);
        put_chars(&t, ' ', line);
        put_str(&t, "\n");
    }
    put_chars(&t, '=', line);
    put_str(&t, "\n");
    int n = ct__layer_collect(&m->base, NULL, 0);
    ct__wref *w = n ? malloc((size_t)n * sizeof *w) : NULL;
    if (n && !w) oom = true;
    if (w) ct__layer_collect(&m->base, w, n);
    int64_t trainable = count_params(w, w ? n : 0, 1);
    int64_t frozen = count_params(w, w ? n : 0, 0);
    free(w);
    char num[48];
    group_digits(trainable + frozen, num, sizeof num);
    snprintf(buf, sizeof buf, "Total params: %s\n", num);
    put_str(&t, buf);
    group_digits(trainable, num, sizeof num);
    snprintf(buf, sizeof buf, "Trainable params: %s\n", num);
    put_str(&t, buf);
    group_digits(frozen, num, sizeof num);
    snprintf(buf, sizeof buf, "Non-trainable params: %s\n", num);
    put_str(&t, buf);
    put_chars(&t, '_', line);
    put_str(&t, "\n");
    if (!st && (oom || t.failed))
        st = ct__layer_error(&m->base, CT_ERR_OUT_OF_MEMORY, "summary: out of memory");
    if (!st) {
        FILE *f = out ? out : stdout;
        if (fputs(t.p, f) == EOF)
            st = ct__layer_error(&m->base, CT_ERR_INTERNAL, "summary: writing failed");
    }
    free(t.p);
    return st;
}

ct_variable **ct__model_variables(ct_model *m, int which, int *n) {
    int total = ct__layer_collect(&m->base, NULL, 0);
    ct__wref *refs = malloc((size_t)(total ? total : 1) * sizeof *refs);
    ct_variable **vars = malloc((size_t)(total ? total : 1) * sizeof *vars);
    *n = -1;
    if (!refs || !vars) {
        free(refs);
        free(vars);
        return NULL;
    }
    ct__layer_collect(&m->base, refs, total);
    *n = 0;
    for (int i = 0; i < total; i++)
        if (which == CT__VARS_ALL || refs[i].trainable == (which == CT__VARS_TRAINABLE))
            vars[(*n)++] = refs[i].w->var;
    free(refs);
    return vars;
}
