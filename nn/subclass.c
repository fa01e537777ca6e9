/*
 * Subclassed models (a keras.Model subclass, or a tf.Module): the forward
 * pass is a C function; the model tracks the layers that function calls
 * and the variables it adds, so fit, weights, summary and the optimizer
 * see them without a list kept by hand.
 *
 * Tracking. Every ct_layer_call_n counts its depth on the calling thread.
 * While a subclassed model's call runs, a layer called directly from it
 * (one level deeper) joins the model's layers, with a reference the
 * model holds; layers called inside those (a Sequential's own layers) do
 * not, as Keras tracks attributes, not every layer under them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"

typedef struct subclass {
    struct ct_model m;   /* m.layers: the tracked layers, one reference each */
    ct__layer_vt vt;     /* a copy with the user's class name               */
    char *class_name;
    ct_model_call_fn fn;
    void *ctx;
    void (*free_ctx)(void *ctx);
} subclass;

static void subclass_destroy(ct_layer *l) {
    subclass *s = (subclass *)l;
    if (s->free_ctx) s->free_ctx(s->ctx);
    for (int i = 0; i < s->m.nlayers; i++) ct_layer_free(s->m.layers[i]);
    free(s->m.layers);
    ct__model_free_compiled(&s->m);
    /* The vtable lives in s and ct_layer_free reads no more of it after
     * destroy, so its class name can go now. */
    free(s->class_name);
}

static int subclass_sublayers(const ct_layer *l, ct_layer *const **out) {
    const subclass *s = (const subclass *)l;
    *out = s->m.layers;
    return s->m.nlayers;
}

/* The tracking state of this thread (see the top of the file). */
static _Thread_local subclass *tracking;
static _Thread_local int tracking_depth;

void ct__layer_called(ct_layer *l, int depth) {
    subclass *s = tracking;
    if (!s || &s->m.base == l || depth != tracking_depth + 1) return;
    for (int i = 0; i < s->m.nlayers; i++)
        if (s->m.layers[i] == l) return;
    if (s->m.nlayers == s->m.caplayers) {
        int cap = s->m.caplayers ? 2 * s->m.caplayers : 8;
        ct_layer **p = realloc(s->m.layers, (size_t)cap * sizeof *p);
        if (!p) return; /* untracked: its weights stay out of fit; rare */
        s->m.layers = p;
        s->m.caplayers = cap;
    }
    s->m.layers[s->m.nlayers++] = ct_layer_ref(l);
}

static ct_tensor *subclass_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    subclass *s = (subclass *)l;
    subclass *saved = tracking;
    int saved_depth = tracking_depth;
    tracking = s;
    tracking_depth = ct__layer_call_depth();
    ct_scope_begin();
    ct_tensor *y = s->fn(&s->m, s->ctx, n, in, training);
    if (!y && !ct_last_status())
        ct__layer_error(l, CT_ERR_INTERNAL, "the call function returned NULL without an error");
    /* The result must be a tensor of this scope to move out of it. */
    for (int i = 0; y && i < n; i++)
        if (y == in[i]) y = ct_identity(y);
    if (y) ct_keep(y);
    ct_scope_end();
    tracking = saved;
    tracking_depth = saved_depth;
    return y;
}

/* The output shape by a dry run on zeros (unknown dimensions as 1, the
 * batch unknown again after): the call function is the only description
 * of the model. */
static ct_status subclass_output_shape(const ct_layer *l, int n, const ct_shape *in,
                                       ct_shape *out) {
    ct_tensor *xs[64];
    if (n > 64) return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT, "too many inputs (%d)", n);
    ct_status st = CT_OK;
    ct_scope_begin();
    for (int i = 0; !st && i < n; i++) {
        int64_t dims[CT_MAX_RANK];
        for (int d = 0; d < in[i].rank; d++) dims[d] = in[i].dim[d] < 0 ? 1 : in[i].dim[d];
        if (!(xs[i] = ct_zeros(CT_FLOAT32, in[i].rank, dims))) st = ct_last_status();
    }
    ct_tensor *y = st ? NULL : ct_layer_call_n((ct_layer *)l, n, xs, false);
    if (!st && !y) st = ct_last_status() ? ct_last_status() : CT_ERR_INTERNAL;
    if (!st) {
        *out = ct__shape_of(y);
        if (out->rank > 0 && n > 0 && in[0].rank > 0 && in[0].dim[0] < 0) out->dim[0] = -1;
    }
    ct_scope_end();
    return st;
}

static ct_status subclass_get_config(const ct_layer *l, json_t *cfg) {
    (void)cfg;
    return ct__layer_error(l, CT_ERR_UNIMPLEMENTED,
                           "is a subclassed model: its call is C code, so it has no config to "
                           "write (Keras raises NotImplementedError too); save its weights "
                           "instead");
}

bool ct__is_subclass(const ct_layer *l) { return l && l->vt->call == subclass_call; }

ct_model *ct_model_subclass_new(const char *class_name, const char *name, ct_model_call_fn call,
                                void *ctx, void (*free_ctx)(void *ctx)) {
    if (!call) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_model_subclass_new: the call function is NULL");
        if (free_ctx) free_ctx(ctx);
        return NULL;
    }
    subclass *s = calloc(1, sizeof *s);
    char *cls = strdup(class_name ? class_name : "Model");
    /* Keras names a subclass instance after its class ("my_model"). */
    char snake[160];
    ct__snake_case(cls ? cls : "Model", snake, sizeof snake);
    char *nm = name ? strdup(name) : ct__unique_name(snake, true);
    if (!s || !cls || !nm) {
        free(s);
        free(cls);
        free(nm);
        if (free_ctx) free_ctx(ctx);
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_model_subclass_new: out of memory");
        return NULL;
    }
    s->vt = (ct__layer_vt){
        .class_name = cls,
        .size = sizeof(subclass),
        .min_inputs = 1,
        .max_inputs = 64,
        .get_config = subclass_get_config,
        .output_shape = subclass_output_shape,
        .call = subclass_call,
        .destroy = subclass_destroy,
        .sublayers = subclass_sublayers,
    };
    s->class_name = cls;
    s->fn = call;
    s->ctx = ctx;
    s->free_ctx = free_ctx;
    s->m.base.vt = &s->vt;
    s->m.base.refs = 1;
    s->m.base.name = nm;
    s->m.base.trainable = true;
    s->m.base.dtype = CT_FLOAT32;
    return &s->m;
}

void *ct_model_ctx(const ct_model *m) {
    return m && ct__is_subclass(&m->base) ? ((const subclass *)m)->ctx : NULL;
}

ct_status ct_model_track_layer(ct_model *m, ct_layer *layer) {
    if (!m || !layer || !ct__is_subclass(&m->base)) {
        ct_status st = ct__error(CT_ERR_INVALID_ARGUMENT,
                                 "ct_model_track_layer: %s", !m ? "the model is NULL"
                                                             : !layer ? "the layer is NULL"
                                                                      : "not a subclassed model");
        return st;
    }
    subclass *s = (subclass *)m;
    for (int i = 0; i < s->m.nlayers; i++)
        if (s->m.layers[i] == layer) return CT_OK;
    subclass *saved = tracking;
    int saved_depth = tracking_depth;
    tracking = s;
    tracking_depth = -1;
    int before = s->m.nlayers;
    ct__layer_called(layer, 0);
    tracking = saved;
    tracking_depth = saved_depth;
    return s->m.nlayers > before ? CT_OK
                                 : ct__layer_error(&m->base, CT_ERR_OUT_OF_MEMORY, "out of memory");
}

ct_variable *ct_model_add_weight(ct_model *m, const char *name, int rank, const int64_t *shape,
                                 const char *initializer, bool trainable) {
    if (!m || !name) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_model_add_weight: the %s is NULL",
                  m ? "name" : "model");
        return NULL;
    }
    ct_initializer init = ct_initializer_get(initializer ? initializer : "glorot_uniform");
    if (init.kind == CT_INIT_DEFAULT) return NULL; /* unknown: the error names it */
    return ct__layer_add_weight(&m->base, name, rank, shape, &init, NULL, NULL, trainable);
}
