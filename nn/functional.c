/*
 * The Functional API: keras.Input, layer(x) on symbolic tensors, and
 * keras.Model(inputs, outputs) — a model that runs a graph of layers.
 *
 * A graph (ct_graph) owns the symbolic tensors (ct_ktensor, Keras's
 * KerasTensor) and the nodes (one per layer application) made in it, and
 * holds one reference to every layer applied in it. A node knows its layer
 * and its input tensors; layers know nothing of nodes, so shared layers
 * (applied twice) and nested models make no reference cycles. A model
 * holds a reference to its graph and to each of its layers, and keeps the
 * nodes between its inputs and outputs in the order they run.
 *
 * Keras's conventions kept here: model.layers lists the layers (InputLayers
 * included) by decreasing depth from the outputs, ties in the order a
 * depth-first walk from the outputs meets them (tf.keras 2's
 * _map_graph_network); node indices in the config count the layer's
 * applications inside this model, from 1 for a nested model with an input
 * (its construction counts as node 0 in Keras); output names are the
 * output layers' names made unique.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"

typedef struct node node;

struct ct_ktensor {
    ct_graph *g;
    node *node;    /* the application that made it               */
    int index;     /* which of node's outputs                     */
    int id;        /* position in g->tensors                      */
    ct_shape shape; /* with the batch axis; -1 where unknown     */
    ct_dtype dtype;
};

struct node {
    ct_layer *layer; /* the graph holds the reference              */
    int nin, nout;
    ct_ktensor **in;  /* nin inputs (none for an InputLayer's node)  */
    ct_ktensor **out; /* nout outputs                                 */
    int id;           /* creation order in the graph                  */
};

struct ct_graph {
    int refs;
    int nnodes, capnodes;
    node **nodes;
    int ntensors, captensors;
    ct_ktensor **tensors;
    int nlayers, caplayers;
    ct_layer **layers; /* one reference each */
    /* The latest failed application's error: later steps on its NULL
     * result may raise others, ct_functional_new reports this one. */
    ct_status fail_code;
    char *fail_error;
};

/* Records the current error as g's latest failure; returns -1 for
 * ct_apply_multi's failure paths. */
static int graph_fail(ct_graph *g) {
    free(g->fail_error);
    g->fail_code = ct_last_status() ? ct_last_status() : CT_ERR_INTERNAL;
    g->fail_error = strdup(ct_last_error());
    return -1;
}

static bool grow(void **p, int *cap, int need, size_t elem) {
    if (need <= *cap) return true;
    int c = *cap ? *cap : 8;
    while (c < need) c *= 2;
    void *q = realloc(*p, (size_t)c * elem);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

/* ---- graphs --------------------------------------------------------------------------- */

ct_graph *ct_graph_new(void) {
    ct_graph *g = calloc(1, sizeof *g);
    if (!g) ct__error(CT_ERR_OUT_OF_MEMORY, "ct_graph_new: out of memory");
    else g->refs = 1;
    return g;
}

static ct_graph *graph_ref(ct_graph *g) {
    g->refs++;
    return g;
}

void ct_graph_free(ct_graph *g) {
    if (!g || --g->refs > 0) return;
    for (int i = 0; i < g->nnodes; i++) {
        free(g->nodes[i]->in);
        free(g->nodes[i]->out);
        free(g->nodes[i]);
    }
    for (int i = 0; i < g->ntensors; i++) free(g->tensors[i]);
    for (int i = 0; i < g->nlayers; i++) {
        g->layers[i]->graphs--;
        ct_layer_free(g->layers[i]);
    }
    free(g->nodes);
    free(g->tensors);
    free(g->layers);
    free(g->fail_error);
    free(g);
}

static bool graph_has_layer(const ct_graph *g, const ct_layer *l) {
    for (int i = 0; i < g->nlayers; i++)
        if (g->layers[i] == l) return true;
    return false;
}

/* The graph takes the caller's reference to l the first time it sees it;
 * false (l freed) when out of memory. */
static bool graph_adopt(ct_graph *g, ct_layer *l) {
    if (graph_has_layer(g, l)) return true;
    if (!grow((void **)&g->layers, &g->caplayers, g->nlayers + 1, sizeof *g->layers)) {
        ct_layer_free(l);
        return false;
    }
    g->layers[g->nlayers++] = l;
    l->graphs++;
    return true;
}

/* A node of layer on inputs in (copied) with nout outputs of the shapes
 * and dtype given; NULL when out of memory. */
static node *graph_add_node(ct_graph *g, ct_layer *layer, int nin, ct_ktensor *const *in,
                            int nout, const ct_shape *shapes, ct_dtype dtype) {
    node *nd = calloc(1, sizeof *nd);
    if (nd) {
        nd->in = nin ? malloc((size_t)nin * sizeof *nd->in) : NULL;
        nd->out = calloc((size_t)nout, sizeof *nd->out);
    }
    bool ok = nd && (nd->in || !nin) && nd->out &&
              grow((void **)&g->nodes, &g->capnodes, g->nnodes + 1, sizeof *g->nodes) &&
              grow((void **)&g->tensors, &g->captensors, g->ntensors + nout, sizeof *g->tensors);
    for (int i = 0; ok && i < nout; i++) ok = (nd->out[i] = calloc(1, sizeof **nd->out)) != NULL;
    if (!ok) {
        if (nd) {
            for (int i = 0; nd->out && i < nout; i++) free(nd->out[i]);
            free(nd->in);
            free(nd->out);
            free(nd);
        }
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s '%s': out of memory", layer->vt->class_name,
                  layer->name);
        return NULL;
    }
    nd->layer = layer;
    nd->nin = nin;
    nd->nout = nout;
    if (nin) memcpy(nd->in, in, (size_t)nin * sizeof *in);
    nd->id = g->nnodes;
    g->nodes[g->nnodes++] = nd;
    for (int i = 0; i < nout; i++) {
        ct_ktensor *t = nd->out[i];
        *t = (ct_ktensor){.g = g, .node = nd, .index = i, .id = g->ntensors, .shape = shapes[i],
                          .dtype = dtype};
        g->tensors[g->ntensors++] = t;
    }
    return nd;
}

static bool is_input_layer(const ct_layer *l) { return !strcmp(l->vt->class_name, "InputLayer"); }

/* The declared batch shape of an InputLayer. */
static ct_shape input_shape_of(const ct_layer *l) {
    ct_shape s = {.rank = (int)json_array_size(l->batch_input_shape)};
    for (int i = 0; i < s.rank && i < CT_MAX_RANK; i++) {
        const json_t *d = json_array_get(l->batch_input_shape, (size_t)i);
        s.dim[i] = json_is_integer(d) ? (int64_t)json_integer_value(d) : -1;
    }
    return s;
}

/* The node of an InputLayer (taken by g); NULL on error. */
static ct_ktensor *graph_add_input(ct_graph *g, ct_layer *in) {
    if (!graph_adopt(g, in)) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "keras.Input: out of memory");
        return NULL;
    }
    ct_shape s = input_shape_of(in);
    if (!in->built && ct_layer_build(in, 1, &s)) return NULL;
    node *nd = graph_add_node(g, in, 0, NULL, 1, &s, in->dtype);
    return nd ? nd->out[0] : NULL;
}

ct_ktensor *ct_input(ct_graph *g, int rank, const int64_t *shape, ct_dtype dtype,
                     const char *name) {
    if (!g) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_input: the graph is NULL");
        return NULL;
    }
    if (rank < 0 || rank >= CT_MAX_RANK || (rank && !shape)) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_input: the shape (without the batch axis) must have 0 to %d dimensions, "
                  "got %d",
                  CT_MAX_RANK - 1, rank);
        return NULL;
    }
    json_t *cfg = json_object(), *bs = json_array();
    json_array_append_new(bs, json_null());
    for (int i = 0; i < rank; i++)
        json_array_append_new(bs, shape[i] < 0 ? json_null() : json_integer(shape[i]));
    json_object_set_new(cfg, "batch_input_shape", bs);
    json_object_set_new(cfg, "dtype", json_string(ct_dtype_name(dtype)));
    /* tf.keras 2 names inputs "input_1", "input_2", ... */
    char *auto_name = name ? NULL : ct__unique_name("input", false);
    json_object_set_new(cfg, "name", json_string(name ? name : auto_name ? auto_name : "input"));
    free(auto_name);
    char *text = ct__json_dump(cfg);
    json_decref(cfg);
    ct_layer *l = text ? ct_layer_new("InputLayer", text) : NULL;
    free(text);
    if (!l) {
        char *why = strdup(ct_last_error());
        ct__error(ct_last_status() ? ct_last_status() : CT_ERR_OUT_OF_MEMORY, "ct_input: %s",
                  why ? why : "out of memory");
        free(why);
        return NULL;
    }
    return graph_add_input(g, l);
}

int ct_ktensor_rank(const ct_ktensor *t) { return t ? t->shape.rank : -1; }
const int64_t *ct_ktensor_shape(const ct_ktensor *t) { return t ? t->shape.dim : NULL; }
ct_dtype ct_ktensor_dtype(const ct_ktensor *t) { return t ? t->dtype : CT_FLOAT32; }
ct_layer *ct_ktensor_layer(const ct_ktensor *t) { return t ? t->node->layer : NULL; }

/* ---- the Functional layer --------------------------------------------------------------- */

typedef struct functional {
    struct ct_model m;  /* m.layers: model.layers, one reference each        */
    ct_graph *g;        /* a reference                                        */
    int nin, nout;
    ct_ktensor **inputs, **outputs;
    char **output_names;
    int nnodes;
    node **order;       /* the nodes to run, inputs first, in a valid order   */
} functional;

#define functional_vt ct__functional_layer_vt

/* Set while functional_alloc makes an empty model for ct_functional_new
 * (a config without layers is otherwise an error). */
static _Thread_local bool making_empty;

bool ct__is_functional(const ct_layer *l) { return l && l->vt == &functional_vt; }

/* Where a model-relative node index starts for l: 1 for a model with an
 * input of its own (Keras counts its construction as node 0). */
static int first_node_index(const ct_layer *l) {
    if (l->vt == &functional_vt) return 1;
    if (!strcmp(l->vt->class_name, "Sequential")) {
        const ct_model *m = (const ct_model *)l;
        return ct__sequential_has_input(m) ? 1 : 0;
    }
    return 0;
}

/* The config index of nd: its rank among the model's nodes of its layer,
 * in creation order, offset by first_node_index. */
static int node_index(const functional *f, const node *nd) {
    int k = 0;
    for (int i = 0; i < f->nnodes; i++) {
        const node *o = f->order[i];
        if (o->layer == nd->layer && o->id < nd->id) k++;
    }
    return k + first_node_index(nd->layer);
}

static void functional_destroy(ct_layer *l) {
    functional *f = (functional *)l;
    for (int i = 0; i < f->m.nlayers; i++) ct_layer_free(f->m.layers[i]);
    free(f->m.layers);
    for (int i = 0; f->output_names && i < f->nout; i++) free(f->output_names[i]);
    free(f->output_names);
    free(f->inputs);
    free(f->outputs);
    free(f->order);
    if (f->g) ct_graph_free(f->g);
    ct__model_free_compiled(&f->m);
}

static int functional_sublayers(const ct_layer *l, ct_layer *const **out) {
    const functional *f = (const functional *)l;
    *out = f->m.layers;
    return f->m.nlayers;
}

/* The shapes of a node's outputs for its inputs' shapes in `shapes` (by
 * tensor id). */
static ct_status node_output_shapes(node *nd, ct_shape *shapes) {
    ct_shape in[64];
    if (nd->nin > 64)
        return ct__layer_error(nd->layer, CT_ERR_INVALID_ARGUMENT, "too many inputs (%d)",
                               nd->nin);
    for (int i = 0; i < nd->nin; i++) in[i] = shapes[nd->in[i]->id];
    if (nd->nout > 1) {
        ct_shape out[64];
        ct_status st = ct__functional_output_shapes(nd->layer, nd->nin, in, out);
        for (int i = 0; !st && i < nd->nout; i++) shapes[nd->out[i]->id] = out[i];
        return st;
    }
    return ct_layer_output_shape(nd->layer, nd->nin, in, &shapes[nd->out[0]->id]);
}

ct_status ct__functional_output_shapes(ct_layer *l, int n, const ct_shape *in, ct_shape *out) {
    functional *f = (functional *)l;
    if (n != f->nin)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT, "expects %d input%s, got %d", f->nin,
                               f->nin == 1 ? "" : "s", n);
    ct_shape *shapes = malloc((size_t)f->g->ntensors * sizeof *shapes);
    if (!shapes) return ct__layer_error(l, CT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < n; i++) shapes[f->inputs[i]->id] = in[i];
    ct_status st = CT_OK;
    for (int i = 0; !st && i < f->nnodes; i++)
        if (f->order[i]->nin) st = node_output_shapes(f->order[i], shapes);
    for (int i = 0; !st && i < f->nout; i++) out[i] = shapes[f->outputs[i]->id];
    free(shapes);
    return st;
}

static ct_status functional_output_shape(const ct_layer *l, int n, const ct_shape *in,
                                         ct_shape *out) {
    const functional *f = (const functional *)l;
    if (f->nout != 1)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                               "has %d outputs; apply it with ct_apply_multi", f->nout);
    return ct__functional_output_shapes((ct_layer *)l, n, in, out);
}

ct_status ct__functional_run(ct_layer *l, int n, ct_tensor *const *in, bool training, int nout,
                             ct_tensor **out) {
    functional *f = (functional *)l;
    if (n != f->nin)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT, "expects %d input%s, got %d", f->nin,
                               f->nin == 1 ? "" : "s", n);
    if (nout != f->nout)
        return ct__layer_error(l, CT_ERR_INVALID_ARGUMENT, "has %d output%s, asked for %d",
                               f->nout, f->nout == 1 ? "" : "s", nout);
    ct_tensor **val = calloc((size_t)f->g->ntensors, sizeof *val);
    if (!val) return ct__layer_error(l, CT_ERR_OUT_OF_MEMORY, "out of memory");
    ct_status st = CT_OK;
    ct_scope_begin();
    for (int i = 0; !st && i < n; i++) {
        if (!in[i]) st = ct_last_status() ? ct_last_status() : CT_ERR_INVALID_ARGUMENT;
        else if (!(val[f->inputs[i]->id] = ct__standardize_input(
                         l, i, f->inputs[i]->node->layer->name, f->inputs[i]->shape, in[i])))
            st = ct_last_status();
    }
    for (int k = 0; !st && k < f->nnodes; k++) {
        node *nd = f->order[k];
        if (!nd->nin) continue; /* an input: set above */
        ct_tensor *args[64];
        for (int i = 0; i < nd->nin && i < 64; i++) args[i] = val[nd->in[i]->id];
        if (nd->nout > 1) {
            ct_tensor *outs[64];
            st = ct__functional_run(nd->layer, nd->nin, args, training, nd->nout, outs);
            for (int i = 0; !st && i < nd->nout; i++) val[nd->out[i]->id] = outs[i];
        } else {
            ct_tensor *y = ct_layer_call_n(nd->layer, nd->nin, args, training);
            if (!y) st = ct_last_status() ? ct_last_status() : CT_ERR_INTERNAL;
            else val[nd->out[0]->id] = y;
        }
    }
    for (int i = 0; !st && i < nout; i++) {
        ct_tensor *y = val[f->outputs[i]->id];
        /* An output that is an input (or listed twice) must still be a
         * tensor of this scope of its own to move out of it. */
        for (int j = 0; j < n; j++)
            if (y == in[j]) y = ct_identity(y);
        for (int j = 0; j < i; j++)
            if (y == out[j]) y = ct_identity(y);
        out[i] = y;
        if (!y) st = ct_last_status();
    }
    for (int i = 0; !st && i < nout; i++) ct_keep(out[i]);
    ct_scope_end();
    free(val);
    if (st)
        for (int i = 0; i < nout; i++) out[i] = NULL;
    return st;
}

static ct_tensor *functional_call(ct_layer *l, int n, ct_tensor *const *in, bool training) {
    functional *f = (functional *)l;
    if (f->nout != 1) {
        ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                        "has %d outputs; call it with ct_model_call_multi", f->nout);
        return NULL;
    }
    ct_tensor *y = NULL;
    return ct__functional_run(l, n, in, training, 1, &y) ? NULL : y;
}

/* ["name", node, tensor] of t inside f (new ref). */
static json_t *tensor_ref_json(const functional *f, const ct_ktensor *t) {
    return json_pack("[sii]", t->node->layer->name, node_index(f, t->node), t->index);
}

/* tf.keras 2's get_network_config: every layer with its name and the
 * model's applications of it ("inbound_nodes"), then input_layers and
 * output_layers. */
static ct_status functional_get_config(const ct_layer *l, json_t *cfg) {
    const functional *f = (const functional *)l;
    json_object_del(cfg, "dtype");
    json_object_del(cfg, "batch_input_shape");
    if (l->trainable) json_object_del(cfg, "trainable");
    json_t *layers = json_array();
    for (int i = 0; layers && i < f->m.nlayers; i++) {
        const ct_layer *sub = f->m.layers[i];
        json_t *j = ct__layer_to_json(sub);
        if (!j) {
            json_decref(layers);
            return ct_last_status() ? ct_last_status() : CT_ERR_INTERNAL;
        }
        json_object_set_new(j, "name", json_string(sub->name));
        json_t *nodes = json_array();
        for (int k = 0; k < f->nnodes; k++) {
            const node *nd = f->order[k];
            if (nd->layer != sub || !nd->nin) continue;
            json_t *args = json_array();
            for (int a = 0; a < nd->nin; a++) {
                json_t *r = tensor_ref_json(f, nd->in[a]);
                json_array_append_new(r, json_object());
                json_array_append_new(args, r);
            }
            json_array_append_new(nodes, args);
        }
        /* model.layers follows depth, not creation: list the nodes in
         * creation order, as Keras's layer._inbound_nodes. */
        json_object_set_new(j, "inbound_nodes", nodes);
        json_array_append_new(layers, j);
    }
    json_t *ins = json_array(), *outs = json_array();
    for (int i = 0; ins && i < f->nin; i++) json_array_append_new(ins, tensor_ref_json(f, f->inputs[i]));
    for (int i = 0; outs && i < f->nout; i++)
        json_array_append_new(outs, tensor_ref_json(f, f->outputs[i]));
    if (!layers || !ins || !outs) {
        json_decref(layers);
        json_decref(ins);
        json_decref(outs);
        return ct__layer_error(l, CT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    json_object_set_new(cfg, "layers", layers);
    json_object_set_new(cfg, "input_layers", ins);
    json_object_set_new(cfg, "output_layers", outs);
    return CT_OK;
}

static ct_status functional_init(ct_layer *l, ct__cfg *c);

const ct__layer_vt functional_vt = {
    .class_name = "Functional",
    .size = sizeof(functional),
    .min_inputs = 1,
    .max_inputs = 64,
    .init = functional_init,
    .get_config = functional_get_config,
    .output_shape = functional_output_shape,
    .call = functional_call,
    .destroy = functional_destroy,
    .sublayers = functional_sublayers,
};

/* ---- making the model from inputs and outputs ------------------------------------------ */

typedef struct {
    node **nodes; /* finished nodes, inputs -> outputs (_build_map)  */
    int n, cap;
    ct_layer **layers; /* layers in first-traversal order               */
    int nl, capl;
    node **stack; /* in progress, to find cycles                    */
    int ns, caps;
    bool oom;
} walk;

static bool seen_node(node *const *list, int n, const node *nd) {
    for (int i = 0; i < n; i++)
        if (list[i] == nd) return true;
    return false;
}

static void build_map(walk *w, const ct_ktensor *t) {
    node *nd = t->node;
    if (w->oom || seen_node(w->nodes, w->n, nd) || seen_node(w->stack, w->ns, nd)) return;
    bool have = false;
    for (int i = 0; i < w->nl; i++) have = have || w->layers[i] == nd->layer;
    if (!have) {
        if (!grow((void **)&w->layers, &w->capl, w->nl + 1, sizeof *w->layers)) {
            w->oom = true;
            return;
        }
        w->layers[w->nl++] = nd->layer;
    }
    if (!grow((void **)&w->stack, &w->caps, w->ns + 1, sizeof *w->stack)) {
        w->oom = true;
        return;
    }
    w->stack[w->ns++] = nd;
    for (int i = 0; i < nd->nin; i++) build_map(w, nd->in[i]);
    w->ns--;
    if (!grow((void **)&w->nodes, &w->cap, w->n + 1, sizeof *w->nodes)) {
        w->oom = true;
        return;
    }
    w->nodes[w->n++] = nd;
}

static int index_of_node(node *const *list, int n, const node *nd) {
    for (int i = 0; i < n; i++)
        if (list[i] == nd) return i;
    return -1;
}

static int index_of_layer(ct_layer *const *list, int n, const ct_layer *l) {
    for (int i = 0; i < n; i++)
        if (list[i] == l) return i;
    return -1;
}

/* Orders f's nodes and layers as Keras does, checks that every input a
 * node needs is computable from the model's inputs, and that layer names
 * are unique. */
static ct_status map_graph(functional *f) {
    ct_layer *self = &f->m.base;
    walk w = {0};
    for (int i = 0; i < f->nout; i++) build_map(&w, f->outputs[i]);
    /* Inputs not connected to the outputs still belong to the model. */
    int nreached = w.n;
    for (int i = 0; !w.oom && i < f->nin; i++) {
        node *nd = f->inputs[i]->node;
        if (seen_node(w.nodes, w.n, nd)) continue;
        if (!grow((void **)&w.nodes, &w.cap, w.n + 1, sizeof *w.nodes) ||
            !grow((void **)&w.layers, &w.capl, w.nl + 1, sizeof *w.layers)) {
            w.oom = true;
            break;
        }
        w.nodes[w.n++] = nd;
        w.layers[w.nl++] = nd->layer;
    }
    int *ndepth = w.oom ? NULL : calloc((size_t)w.n + 1, sizeof *ndepth);
    int *ldepth = w.oom ? NULL : calloc((size_t)w.nl + 1, sizeof *ldepth);
    ct_status st = CT_OK;
    if (w.oom || !ndepth || !ldepth) {
        st = ct__layer_error(self, CT_ERR_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    /* Depths: outputs 0, a node's inputs one more than it; a layer the
     * deepest of its nodes (shared layers), and its nodes that deep. */
    for (int k = nreached - 1; k >= 0; k--) {
        node *nd = w.nodes[k];
        int li = index_of_layer(w.layers, w.nl, nd->layer);
        int d = ndepth[k] > ldepth[li] ? ndepth[k] : ldepth[li];
        ldepth[li] = d;
        ndepth[k] = d;
        for (int i = 0; i < nd->nin; i++) {
            int p = index_of_node(w.nodes, w.n, nd->in[i]->node);
            if (p >= 0 && ndepth[p] < d + 1) ndepth[p] = d + 1;
        }
    }
    /* model.layers: by decreasing depth, ties in traversal order. */
    int maxd = 0;
    for (int i = 0; i < w.nl; i++) maxd = ldepth[i] > maxd ? ldepth[i] : maxd;
    f->m.layers = malloc((size_t)w.nl * sizeof *f->m.layers);
    f->order = malloc((size_t)w.n * sizeof *f->order);
    if (!f->m.layers || !f->order) {
        st = ct__layer_error(self, CT_ERR_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    for (int d = maxd; d >= 0; d--)
        for (int i = 0; i < w.nl; i++)
            if (ldepth[i] == d) f->m.layers[f->m.nlayers++] = ct_layer_ref(w.layers[i]);
    f->m.caplayers = f->m.nlayers;
    /* Running order: by decreasing node depth, each depth in topological
     * order; then check every needed tensor is computable. */
    for (int d = maxd; d >= 0; d--)
        for (int k = 0; k < w.n; k++)
            if (ndepth[k] == d) f->order[f->nnodes++] = w.nodes[k];
    bool *ready = calloc((size_t)f->g->ntensors, sizeof *ready);
    if (!ready) {
        st = ct__layer_error(self, CT_ERR_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    for (int i = 0; i < f->nin; i++) ready[f->inputs[i]->id] = true;
    char done[1024] = "";
    size_t dl = 0;
    for (int k = 0; !st && k < f->nnodes; k++) {
        node *nd = f->order[k];
        if (!nd->nin) {
            if (!ready[nd->out[0]->id])
                st = ct__layer_error(
                    self, CT_ERR_INVALID_ARGUMENT,
                    "Graph disconnected: cannot obtain value for tensor of InputLayer '%s' (it "
                    "is not one of the model's inputs). The following previous layers were "
                    "accessed without issue: [%s]",
                    nd->layer->name, done);
            continue;
        }
        for (int i = 0; !st && i < nd->nin; i++)
            if (!ready[nd->in[i]->id])
                st = ct__layer_error(self, CT_ERR_INVALID_ARGUMENT,
                                     "Graph disconnected: cannot obtain value for an input of "
                                     "layer '%s'. The following previous layers were accessed "
                                     "without issue: [%s]",
                                     nd->layer->name, done);
        for (int i = 0; i < nd->nout; i++) ready[nd->out[i]->id] = true;
        if (dl < sizeof done)
            dl += (size_t)snprintf(done + dl, sizeof done - dl, "%s'%s'", dl ? ", " : "",
                                   nd->layer->name);
    }
    free(ready);
    for (int i = 0; !st && i < f->m.nlayers; i++)
        for (int j = 0; !st && j < i; j++)
            if (!strcmp(f->m.layers[i]->name, f->m.layers[j]->name))
                st = ct__layer_error(self, CT_ERR_INVALID_ARGUMENT,
                                     "the name \"%s\" is used 2 times in the model. All layer "
                                     "names should be unique.",
                                     f->m.layers[i]->name);
out:
    free(ndepth);
    free(ldepth);
    free(w.nodes);
    free(w.layers);
    free(w.stack);
    return st;
}

/* Keras's _set_output_names: the output layers' names, made unique. */
static ct_status name_outputs(functional *f) {
    f->output_names = calloc((size_t)f->nout, sizeof *f->output_names);
    if (!f->output_names) return ct__layer_error(&f->m.base, CT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < f->nout; i++) {
        const char *base = f->outputs[i]->node->layer->name;
        char name[320];
        snprintf(name, sizeof name, "%s", base);
        for (int k = 1;; k++) {
            bool used = false;
            for (int j = 0; j < i; j++) used = used || !strcmp(f->output_names[j], name);
            if (!used) break;
            snprintf(name, sizeof name, "%s_%d", base, k);
        }
        if (!(f->output_names[i] = strdup(name)))
            return ct__layer_error(&f->m.base, CT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    return CT_OK;
}

/* Fills f (whose base is made) from inputs and outputs of graph g. */
static ct_status functional_setup(functional *f, int nin, ct_ktensor *const *inputs, int nout,
                                  ct_ktensor *const *outputs) {
    ct_layer *self = &f->m.base;
    if (nin < 1 || nout < 1 || !inputs || !outputs)
        return ct__layer_error(self, CT_ERR_INVALID_ARGUMENT,
                               "a Functional model needs at least one input and one output "
                               "(got %d and %d)",
                               nin, nout);
    for (int i = 0; i < nin + nout; i++) {
        const ct_ktensor *t = i < nin ? inputs[i] : outputs[i - nin];
        if (!t) {
            /* An earlier step failed: report the graph's latest failure (a
             * later one may be about the NULL itself), naming the model. */
            const ct_graph *g = nin > 0 && inputs[0] ? inputs[0]->g : NULL;
            ct_status code = g && g->fail_code ? g->fail_code
                             : ct_last_status() ? ct_last_status()
                                                : CT_ERR_INVALID_ARGUMENT;
            char *why = strdup(g && g->fail_error ? g->fail_error : ct_last_error());
            ct_status st = ct__layer_error(self, code, "%s %d is NULL%s%s",
                                           i < nin ? "input" : "output", i < nin ? i : i - nin,
                                           why && *why ? ": " : "", why ? why : "");
            free(why);
            return st;
        }
        if (t->g != inputs[0]->g)
            return ct__layer_error(self, CT_ERR_INVALID_ARGUMENT,
                                   "the inputs and outputs must come from one ct_graph");
    }
    for (int i = 0; i < nin; i++) {
        if (inputs[i]->node->nin || !is_input_layer(inputs[i]->node->layer))
            return ct__layer_error(self, CT_ERR_INVALID_ARGUMENT,
                                   "input %d must come from ct_input (keras.Input); it is the "
                                   "output of layer '%s'",
                                   i, inputs[i]->node->layer->name);
        for (int j = 0; j < i; j++)
            if (inputs[j] == inputs[i])
                return ct__layer_error(self, CT_ERR_INVALID_ARGUMENT,
                                       "input '%s' is given twice",
                                       inputs[i]->node->layer->name);
    }
    f->g = graph_ref(inputs[0]->g);
    f->nin = nin;
    f->nout = nout;
    f->inputs = malloc((size_t)nin * sizeof *f->inputs);
    f->outputs = malloc((size_t)nout * sizeof *f->outputs);
    if (!f->inputs || !f->outputs) return ct__layer_error(self, CT_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(f->inputs, inputs, (size_t)nin * sizeof *inputs);
    memcpy(f->outputs, outputs, (size_t)nout * sizeof *outputs);
    ct_status st = map_graph(f);
    if (!st) st = name_outputs(f);
    if (st) return st;
    /* A Functional model is built when made (it has no weights of its own). */
    ct_shape *shapes = malloc((size_t)nin * sizeof *shapes);
    if (!shapes) return ct__layer_error(self, CT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < nin; i++) shapes[i] = inputs[i]->shape;
    free(self->input_shapes);
    self->input_shapes = shapes;
    self->ninputs = nin;
    self->built = true;
    return CT_OK;
}

/* An empty Functional layer named name (NULL: "model", "model_1", ...). */
static functional *functional_alloc(const char *name) {
    json_t *cfg = json_object();
    char *auto_name = name ? NULL : ct__unique_name("model", true);
    json_object_set_new(cfg, "name", json_string(name ? name : auto_name ? auto_name : "model"));
    free(auto_name);
    json_t *obj = json_pack("{s:s, s:o}", "class_name", "Functional", "config", cfg);
    making_empty = true;
    ct_layer *l = obj ? ct__layer_from_json(obj) : NULL;
    making_empty = false;
    json_decref(obj);
    return (functional *)l;
}

ct_model *ct_functional_new(const char *name, int nin, ct_ktensor *const *inputs, int nout,
                            ct_ktensor *const *outputs) {
    functional *f = functional_alloc(name);
    if (!f) return NULL;
    if (functional_setup(f, nin, inputs, nout, outputs)) {
        ct_layer_free(&f->m.base);
        return NULL;
    }
    return &f->m;
}

/* ---- applying a layer ------------------------------------------------------------------- */

/* The caller's reference to layer when an application fails before a
 * graph takes it: dropped, unless a graph holds the layer already (a
 * shared layer, handed over at its first application). */
static void drop_unadopted(ct_layer *layer) {
    if (layer->graphs == 0) ct_layer_free(layer);
}

int ct_apply_multi(ct_layer *layer, int n, ct_ktensor *const *xs, int cap, ct_ktensor **outs) {
    if (!layer) {
        /* The error that made the layer NULL stays, and is the graph's. */
        for (int i = 0; xs && i < n; i++)
            if (xs[i]) return graph_fail(xs[i]->g);
        return -1;
    }
    if (n < 1 || n > 64 || !xs) {
        ct__layer_error(layer, CT_ERR_INVALID_ARGUMENT, "applied to %d inputs (1 to 64)", n);
        drop_unadopted(layer);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (!xs[i]) {
            /* An earlier application failed: its error stays. */
            drop_unadopted(layer);
            return -1;
        }
    ct_graph *g = xs[0]->g;
    for (int i = 1; i < n; i++)
        if (xs[i]->g != g) {
            ct__layer_error(layer, CT_ERR_INVALID_ARGUMENT,
                            "its inputs come from different ct_graphs");
            drop_unadopted(layer);
            return graph_fail(g);
        }
    if (!graph_adopt(g, layer)) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_apply: out of memory");
        return graph_fail(g);
    }
    ct_shape in[64];
    for (int i = 0; i < n; i++) in[i] = xs[i]->shape;
    ct_status st = layer->built ? ct__layer_check_built_for(layer, n, in) : ct_layer_build(layer, n, in);
    int nout = ct__is_functional(layer) ? ((functional *)layer)->nout : 1;
    ct_shape out[64];
    if (!st && nout > 64) st = ct__layer_error(layer, CT_ERR_INVALID_ARGUMENT, "too many outputs");
    if (!st)
        st = nout > 1 ? ct__functional_output_shapes(layer, n, in, out)
                      : ct_layer_output_shape(layer, n, in, &out[0]);
    if (st) return graph_fail(g);
    if (outs && cap < nout) {
        ct__layer_error(layer, CT_ERR_INVALID_ARGUMENT,
                        "has %d outputs, room was given for %d", nout, cap);
        return graph_fail(g);
    }
    node *nd = graph_add_node(g, layer, n, xs, nout, out, layer->dtype);
    if (!nd) return graph_fail(g);
    for (int i = 0; outs && i < nout; i++) outs[i] = nd->out[i];
    return nout;
}

ct_ktensor *ct_apply_n(ct_layer *layer, int n, ct_ktensor *const *xs) {
    ct_ktensor *out[64];
    int k = ct_apply_multi(layer, n, xs, 64, out);
    if (k < 0) return NULL;
    if (k != 1) {
        ct__layer_error(layer, CT_ERR_INVALID_ARGUMENT,
                        "has %d outputs; apply it with ct_apply_multi", k);
        return NULL;
    }
    return out[0];
}

ct_ktensor *ct_apply(ct_layer *layer, ct_ktensor *x) { return ct_apply_n(layer, 1, &x); }

/* ---- the config ------------------------------------------------------------------------- */

/* A node reference ["name", node, tensor(, kwargs)] or a Keras 3
 * {"class_name": "__keras_tensor__", "config": {"keras_history": [...]}}
 * as its three parts; false when it is neither. */
static bool read_ref(const json_t *j, const char **name, int *nodei, int *tensori) {
    if (json_is_object(j)) {
        const json_t *cfg = json_object_get(j, "config");
        j = json_is_object(cfg) ? json_object_get(cfg, "keras_history") : NULL;
    }
    if (!json_is_array(j) || json_array_size(j) < 3 || json_array_size(j) > 4) return false;
    const json_t *a = json_array_get(j, 0), *b = json_array_get(j, 1), *c = json_array_get(j, 2);
    if (!json_is_string(a) || !json_is_integer(b) || !json_is_integer(c)) return false;
    *name = json_string_value(a);
    *nodei = (int)json_integer_value(b);
    *tensori = (int)json_integer_value(c);
    return true;
}

/* The references of a node entry, flattened: tf.keras 2 writes a list of
 * refs; Keras 3 {"args": [x or [x, y]], "kwargs": {}}. */
static void flatten_refs(const json_t *j, json_t *out) {
    if (json_is_object(j) && json_object_get(j, "args")) {
        flatten_refs(json_object_get(j, "args"), out);
        return;
    }
    const char *n;
    int a, b;
    if (read_ref(j, &n, &a, &b)) {
        json_array_append(out, (json_t *)j);
        return;
    }
    if (json_is_array(j))
        for (size_t i = 0; i < json_array_size(j); i++) flatten_refs(json_array_get(j, i), out);
}

typedef struct {
    ct_layer *layer;
    const json_t *nodes; /* its inbound_nodes                          */
    size_t next;         /* the next of them to make                    */
    int made;            /* nodes of it made so far                     */
    bool legacy;         /* tf.keras 2 lists (first_node_index applies) */
} pending;

/* The tensor a reference names, or NULL when its node is not made yet
 * (*bad set when the reference can never resolve). */
static ct_ktensor *resolve(ct_graph *g, pending *p, int np, const json_t *ref, ct_layer *self,
                           const char *where, bool *bad) {
    const char *name;
    int ni, ti;
    if (!read_ref(ref, &name, &ni, &ti)) {
        ct__layer_error(self, CT_ERR_INVALID_ARGUMENT,
                        "%s: expected [layer name, node index, tensor index]", where);
        *bad = true;
        return NULL;
    }
    for (int i = 0; i < np; i++) {
        if (strcmp(p[i].layer->name, name)) continue;
        int k = ni - (p[i].legacy ? first_node_index(p[i].layer) : 0);
        if (is_input_layer(p[i].layer)) k = 0;
        int seen = 0;
        for (int n = 0; n < g->nnodes; n++) {
            node *nd = g->nodes[n];
            if (nd->layer != p[i].layer) continue;
            if (seen++ == k) {
                if (ti < 0 || ti >= nd->nout) {
                    ct__layer_error(self, CT_ERR_INVALID_ARGUMENT,
                                    "%s: layer '%s' has %d output%s, tensor index %d", where,
                                    name, nd->nout, nd->nout == 1 ? "" : "s", ti);
                    *bad = true;
                    return NULL;
                }
                return nd->out[ti];
            }
        }
        if (k < 0 || k >= (int)json_array_size(p[i].nodes) + (is_input_layer(p[i].layer) ? 1 : 0)) {
            ct__layer_error(self, CT_ERR_INVALID_ARGUMENT,
                            "%s: layer '%s' has no node %d", where, name, ni);
            *bad = true;
        }
        return NULL;
    }
    ct__layer_error(self, CT_ERR_INVALID_ARGUMENT, "%s: no layer named '%s' in the model", where,
                    name);
    *bad = true;
    return NULL;
}

/* Reads {"name", "layers", "input_layers", "output_layers"}: makes every
 * layer, then its nodes once their inputs exist (a layer shared at
 * different depths may wait for another's node), then the model. */
static ct_status functional_init(ct_layer *l, ct__cfg *c) {
    functional *f = (functional *)l;
    const json_t *layers = ct__cfg_json(c, "layers");
    const json_t *ins = ct__cfg_json(c, "input_layers");
    const json_t *outs = ct__cfg_json(c, "output_layers");
    if (making_empty) return CT_OK; /* ct_functional_new fills it */
    ct_status st = ct__cfg_check(c, json_is_array(layers), "layers",
                                 "must be a list of layer configs") ||
                   ct__cfg_check(c, json_is_array(ins) || json_is_object(ins), "input_layers",
                                 "must be a list of [name, node, tensor]") ||
                   ct__cfg_check(c, json_is_array(outs) || json_is_object(outs), "output_layers",
                                 "must be a list of [name, node, tensor]");
    if (st) return st;
    size_t nl = json_array_size(layers);
    ct_graph *g = ct_graph_new();
    pending *p = calloc(nl ? nl : 1, sizeof *p);
    json_t *refs = json_array();
    ct_ktensor **tin = NULL, **tout = NULL;
    if (!g || !p || !refs) {
        st = ct__layer_error(l, CT_ERR_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    int np = 0;
    for (size_t i = 0; !st && i < nl; i++) {
        const json_t *e = json_array_get(layers, i);
        ct_layer *sub = ct__layer_from_json(e);
        if (!sub) {
            char *why = strdup(ct_last_error());
            st = ct__layer_error(l, ct_last_status() ? ct_last_status() : CT_ERR_INVALID_ARGUMENT,
                                 "layers[%zu]: %s", i, why ? why : "");
            free(why);
            break;
        }
        const json_t *nm = json_object_get(e, "name");
        if (json_is_string(nm) && strcmp(json_string_value(nm), sub->name)) {
            /* The entry's name is the one the nodes use. */
            char *copy = strdup(json_string_value(nm));
            if (copy) {
                free(sub->name);
                sub->name = copy;
            }
        }
        for (int k = 0; k < np; k++)
            if (!strcmp(p[k].layer->name, sub->name)) {
                st = ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                     "layers[%zu]: the name \"%s\" is used twice", i, sub->name);
            }
        if (st || !graph_adopt(g, sub)) {
            if (!st) st = ct__layer_error(l, CT_ERR_OUT_OF_MEMORY, "out of memory");
            else ct_layer_free(sub);
            break;
        }
        const json_t *nodes = json_object_get(e, "inbound_nodes");
        if (nodes && !json_is_array(nodes)) {
            st = ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                 "layers[%zu] ('%s'): inbound_nodes must be a list", i,
                                 sub->name);
            break;
        }
        const json_t *first = json_array_get(nodes, 0);
        p[np++] = (pending){.layer = sub, .nodes = nodes, .legacy = json_is_array(first)};
        if (is_input_layer(sub)) {
            if (json_array_size(nodes))
                st = ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                     "layers[%zu]: InputLayer '%s' cannot have inbound nodes",
                                     i, sub->name);
            else if (!graph_add_input(g, sub)) /* adopted above: no new reference */
                st = ct_last_status();
        }
    }
    /* Make nodes in layer order until none is left or none can be made. */
    for (bool progress = true; !st && progress;) {
        progress = false;
        for (int i = 0; !st && i < np; i++) {
            pending *q = &p[i];
            while (!st && q->next < json_array_size(q->nodes)) {
                char where[400];
                snprintf(where, sizeof where, "layer '%s', inbound node %zu", q->layer->name,
                         q->next);
                json_array_clear(refs);
                flatten_refs(json_array_get(q->nodes, q->next), refs);
                if (json_array_size(refs) < 1 || json_array_size(refs) > 64) {
                    st = ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                         "%s: expected 1 to 64 input references, got %zu",
                                         where, json_array_size(refs));
                    break;
                }
                ct_ktensor *args[64];
                bool bad = false, ready = true;
                for (size_t a = 0; a < json_array_size(refs) && !bad; a++) {
                    args[a] = resolve(g, p, np, json_array_get(refs, a), l, where, &bad);
                    ready = ready && args[a];
                }
                if (bad) {
                    st = ct_last_status();
                    break;
                }
                if (!ready) break;
                if (ct_apply_multi(q->layer, (int)json_array_size(refs), args, 0, NULL) < 0) {
                    char *why = strdup(ct_last_error());
                    st = ct__layer_error(l, ct_last_status() ? ct_last_status()
                                                            : CT_ERR_INVALID_ARGUMENT,
                                         "%s: %s", where, why ? why : "");
                    free(why);
                    break;
                }
                q->next++;
                q->made++;
                progress = true;
            }
        }
    }
    for (int i = 0; !st && i < np; i++)
        if (p[i].next < json_array_size(p[i].nodes))
            st = ct__layer_error(l, CT_ERR_INVALID_ARGUMENT,
                                 "layer '%s', inbound node %zu: its inputs can never be made "
                                 "(a cycle, or a reference to a node that does not exist)",
                                 p[i].layer->name, p[i].next);
    /* input_layers / output_layers: lists of refs (Keras 3 may write one
     * bare ref, or a dict of them). */
    const json_t *lists[2] = {ins, outs};
    ct_ktensor **got[2] = {NULL, NULL};
    int count[2] = {0, 0};
    for (int w = 0; !st && w < 2; w++) {
        json_t *flat = json_array();
        if (!flat) {
            st = ct__layer_error(l, CT_ERR_OUT_OF_MEMORY, "out of memory");
            break;
        }
        if (json_is_object(lists[w])) {
            const char *key;
            json_t *v;
            json_object_foreach((json_t *)lists[w], key, v) flatten_refs(v, flat);
        } else {
            flatten_refs(lists[w], flat);
        }
        count[w] = (int)json_array_size(flat);
        got[w] = calloc((size_t)(count[w] ? count[w] : 1), sizeof **got);
        for (int i = 0; got[w] && i < count[w]; i++) {
            bool bad = false;
            char where[64];
            snprintf(where, sizeof where, "%s[%d]", w ? "output_layers" : "input_layers", i);
            got[w][i] = resolve(g, p, np, json_array_get(flat, (size_t)i), l, where, &bad);
            if (!got[w][i]) {
                if (!bad)
                    ct__layer_error(l, CT_ERR_INVALID_ARGUMENT, "%s: no such node", where);
                st = ct_last_status();
                break;
            }
        }
        if (!got[w] && !st) st = ct__layer_error(l, CT_ERR_OUT_OF_MEMORY, "out of memory");
        json_decref(flat);
    }
    tin = got[0];
    tout = got[1];
    if (!st) st = functional_setup(f, count[0], tin, count[1], tout);
out:
    free(tin);
    free(tout);
    json_decref(refs);
    free(p);
    ct_graph_free(g); /* the model holds its own reference */
    return st;
}

/* ---- public accessors ------------------------------------------------------------------- */

int ct__functional_num_inputs(const ct_layer *l) { return ((const functional *)l)->nin; }
int ct__functional_num_outputs(const ct_layer *l) { return ((const functional *)l)->nout; }
const char *ct__functional_output_name(const ct_layer *l, int i) {
    return ((const functional *)l)->output_names[i];
}
const char *ct__functional_input_name(const ct_layer *l, int i) {
    return ((const functional *)l)->inputs[i]->node->layer->name;
}
const ct_shape *ct__functional_input_shape(const ct_layer *l, int i) {
    return &((const functional *)l)->inputs[i]->shape;
}

/* ---- summary ---------------------------------------------------------------------------- */

/* Whether tf.keras 2 prints f like a Sequential model: one node per depth,
 * none with several inputs, no layer applied twice. */
bool ct__functional_sequential_like(const ct_layer *l) {
    const functional *f = (const functional *)l;
    for (int i = 0; i < f->nnodes; i++) {
        if (f->order[i]->nin > 1) return false;
        for (int j = 0; j < i; j++)
            if (f->order[j]->layer == f->order[i]->layer) return false;
    }
    /* One node per depth: a chain. Each node (but the first) consumes the
     * one before it. */
    for (int i = 1; i < f->nnodes; i++)
        if (f->order[i]->nin != 1 || f->order[i]->in[0]->node != f->order[i - 1]) return false;
    return true;
}

/* The output shape Keras's summary shows for layer i: "[(None, 784)]" for
 * an InputLayer, the shape when all its nodes here agree, else
 * "multiple". */
void ct__functional_layer_shape(const ct_layer *l, int i, char *buf, size_t cap) {
    const functional *f = (const functional *)l;
    const ct_layer *layer = f->m.layers[i];
    const ct_shape *s = NULL;
    bool multiple = false;
    for (int k = 0; k < f->nnodes; k++) {
        const node *nd = f->order[k];
        if (nd->layer != layer) continue;
        for (int o = 0; o < nd->nout; o++) {
            const ct_shape *x = &nd->out[o]->shape;
            if (s && (s->rank != x->rank || memcmp(s->dim, x->dim, (size_t)x->rank * sizeof x->dim[0])))
                multiple = true;
            s = x;
        }
    }
    if (!s || multiple) {
        snprintf(buf, cap, "multiple");
    } else if (is_input_layer(layer)) {
        char inner[256];
        snprintf(buf, cap, "[%s]", ct__shape_str(s, inner, sizeof inner));
    } else {
        ct__shape_str(s, buf, cap);
    }
}

/* Keras's "Connected to" cell of layer i: "['dense[0][0]', ...]". */
void ct__functional_layer_connections(const ct_layer *l, int i, char *buf, size_t cap) {
    const functional *f = (const functional *)l;
    const ct_layer *layer = f->m.layers[i];
    size_t o = (size_t)snprintf(buf, cap, "[");
    bool any = false;
    for (int k = 0; k < f->nnodes && o < cap; k++) {
        const node *nd = f->order[k];
        if (nd->layer != layer) continue;
        for (int a = 0; a < nd->nin && o < cap; a++) {
            const ct_ktensor *t = nd->in[a];
            o += (size_t)snprintf(buf + o, cap - o, "%s'%s[%d][%d]'", any ? ", " : "",
                                  t->node->layer->name, node_index(f, t->node), t->index);
            any = true;
        }
    }
    if (o < cap) snprintf(buf + o, cap - o, "]");
}
