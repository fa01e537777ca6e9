/*
 * The gradient tape. While a tape records, every op call whose inputs it
 * tracks (watched tensors, trainable variables, outputs of calls it
 * recorded) is appended with its inputs, outputs and attributes.
 * gradient() walks the records backwards, calling each op's gradient
 * function, which is written with public ops: those calls run eagerly and
 * are recorded by any other active tape, which is how nested tapes give
 * higher derivatives.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/idmap.h"
#include "runtime/internal.h"

typedef struct record {
    const ct__op *op;
    void *attrs;
    size_t attrs_size;
    int n_in, n_out;
    ct_tensor **in;   /* retained; a variable's value is a snapshot view */
    int64_t *in_ids;  /* the ids gradients flow to (a variable's own id)  */
    ct_tensor **out;  /* retained                                         */
    ct_device *dev;
} record;

struct ct_tape {
    bool persistent, watch_vars, recording, used;
    ct__idmap tracked;   /* ids whose gradients the tape can compute */
    record *recs;
    int64_t n, cap;
    ct_tape *below;      /* the next tape down the thread's stack     */
};

CT__TLS int ct__tapes_active;
static CT__TLS ct_tape *tape_top;

static bool differentiable_dtype(ct_dtype dt) { return ct_dtype_is_float(dt); }

ct_tape *ct_tape_begin(const ct_tape_opts *opts) {
    ct_tape *t = calloc(1, sizeof *t);
    if (!t) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_tape_begin: out of host memory");
        return NULL;
    }
    t->persistent = opts && opts->persistent;
    t->watch_vars = !(opts && opts->no_watch_variables);
    t->recording = true;
    t->below = tape_top;
    tape_top = t;
    ct__tapes_active++;
    return t;
}

ct_status ct_tape_end(ct_tape *tape) {
    if (!tape) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_tape_end: NULL tape");
    if (!tape->recording) return CT_OK;
    if (tape != tape_top)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "ct_tape_end: tapes must end innermost first; this tape is not the "
                         "innermost recording tape");
    tape->recording = false;
    tape_top = tape->below;
    tape->below = NULL;
    ct__tapes_active--;
    return CT_OK;
}

ct_status ct_tape_watch(ct_tape *tape, const ct_tensor *t) {
    if (!tape) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_tape_watch: NULL tape");
    if (!t) return ct_last_status() ? ct_last_status()
                                    : ct__error(CT_ERR_INVALID_ARGUMENT, "ct_tape_watch: NULL tensor");
    if (!differentiable_dtype(t->dtype))
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "ct_tape_watch: %s is not differentiable: only floating-point tensors "
                         "can be watched", CT__DESC(t));
    if (ct__idmap_put(&tape->tracked, t->id, (void *)1))
        return ct__error(CT_ERR_OUT_OF_MEMORY, "ct_tape_watch: out of host memory");
    return CT_OK;
}

static bool input_tracked(const ct_tape *tape, const ct_tensor *t) {
    if (ct__idmap_has(&tape->tracked, t->id)) return true;
    return tape->watch_vars && t->var && t->var->trainable && differentiable_dtype(t->dtype);
}

static bool tape_wants(const ct_tape *tape, const ct__call *c) {
    for (int i = 0; i < c->n_in; i++)
        if (input_tracked(tape, c->in[i])) return true;
    return false;
}

bool ct__tape_wants(const ct__call *c) {
    if (c->op->flags & CT__OP_NOT_DIFFERENTIABLE) return false;
    bool any_float_out = false;
    for (int i = 0; i < c->n_out; i++) any_float_out |= differentiable_dtype(c->out[i]->dtype);
    if (!any_float_out) return false;
    for (ct_tape *t = tape_top; t; t = t->below)
        if (t->recording && tape_wants(t, c)) return true;
    return false;
}

static void record_free(record *r) {
    for (int i = 0; i < r->n_in; i++) ct__tensor_release(r->in[i]);
    for (int i = 0; i < r->n_out; i++) ct__tensor_release(r->out[i]);
    free(r->in);
    free(r->in_ids);
    free(r->out);
    free(r->attrs);
}

static bool record_on(ct_tape *tape, const ct__call *c) {
    if (tape->n == tape->cap) {
        int64_t cap = tape->cap ? tape->cap * 2 : 64;
        record *recs = realloc(tape->recs, (size_t)cap * sizeof *recs);
        if (!recs) return false;
        tape->recs = recs;
        tape->cap = cap;
    }
    record r = {.op = c->op, .attrs_size = c->attrs_size, .n_in = c->n_in, .n_out = c->n_out,
                .dev = c->dev};
    r.in = calloc((size_t)c->n_in + 1, sizeof *r.in);
    r.in_ids = calloc((size_t)c->n_in + 1, sizeof *r.in_ids);
    r.out = calloc((size_t)c->n_out + 1, sizeof *r.out);
    r.attrs = c->attrs_size ? malloc(c->attrs_size) : NULL;
    if (!r.in || !r.in_ids || !r.out || (c->attrs_size && !r.attrs)) {
        free(r.in);
        free(r.in_ids);
        free(r.out);
        free(r.attrs);
        return false;
    }
    if (c->attrs_size) memcpy(r.attrs, c->attrs, c->attrs_size);
    for (int i = 0; i < c->n_in; i++) {
        ct_tensor *t = c->in[i];
        r.in_ids[i] = t->id;
        if (t->var) {
            /* Keep the value the op saw: a later assignment swaps the
             * variable's storage, not this view's. */
            r.in[i] = ct__tensor_view(t, t->rank, t->shape, t->offset);
            if (!r.in[i]) r.in[i] = ct__tensor_retain(t);
            else r.in[i]->id = t->id; /* gradient ops on the snapshot stay tracked */
            if (input_tracked(tape, t)) ct__idmap_put(&tape->tracked, t->id, (void *)1);
        } else {
            r.in[i] = ct__tensor_retain(t);
        }
    }
    for (int i = 0; i < c->n_out; i++) {
        r.out[i] = ct__tensor_retain(c->out[i]);
        if (differentiable_dtype(c->out[i]->dtype))
            ct__idmap_put(&tape->tracked, c->out[i]->id, (void *)1);
    }
    tape->recs[tape->n++] = r;
    return true;
}

void ct__tape_record(const ct__call *c) {
    for (ct_tape *t = tape_top; t; t = t->below)
        if (t->recording && tape_wants(t, c) && !record_on(t, c))
            ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory recording on a tape",
                      c->api);
}

static void tape_clear(ct_tape *tape) {
    for (int64_t i = 0; i < tape->n; i++) record_free(&tape->recs[i]);
    free(tape->recs);
    tape->recs = NULL;
    tape->n = tape->cap = 0;
}

void ct_tape_free(ct_tape *tape) {
    if (!tape) return;
    if (tape->recording) {
        /* Unlink wherever it is in the stack. */
        for (ct_tape **p = &tape_top; *p; p = &(*p)->below)
            if (*p == tape) {
                *p = tape->below;
                break;
            }
        ct__tapes_active--;
    }
    tape_clear(tape);
    ct__idmap_free(&tape->tracked);
    free(tape);
}

/* Adds g into sums[id] (the running gradient of that tensor). */
static ct_status accumulate(ct__idmap *sums, int64_t id, ct_tensor *g) {
    ct_tensor *prev = ct__idmap_get(sums, id);
    ct_tensor *s = prev ? ct_add(prev, g) : g;
    if (!s) return ct_last_status();
    if (ct__idmap_put(sums, id, s))
        return ct__error(CT_ERR_OUT_OF_MEMORY, "ct_tape_gradient: out of host memory");
    return CT_OK;
}

/* Where each source's gradient becomes final, for on_ready: the lowest
 * record that takes the source as an input (-1 for none). The backward
 * walk has finished a source once it has gone below that record. */
typedef struct ready_at {
    int64_t k;
    int i;
} ready_at;

static int later_first(const void *a, const void *b) {
    const ready_at *x = a, *y = b;
    if (x->k != y->k) return x->k > y->k ? -1 : 1;
    return x->i - y->i;
}

static ready_at *ready_order(const ct_tape *tape, int64_t nrec, int n,
                             ct_tensor *const *sources) {
    ready_at *at = malloc((size_t)(n ? n : 1) * sizeof *at);
    ct__idmap first = {0};
    if (!at) return NULL;
    for (int i = 0; i < n; i++) ct__idmap_put(&first, sources[i]->id, (void *)0);
    for (int64_t k = 0; k < nrec; k++) {
        const record *r = &tape->recs[k];
        for (int j = 0; j < r->n_in; j++) {
            void **slot = ct__idmap_slot(&first, r->in_ids[j]);
            if (slot && !*slot) *slot = (void *)(intptr_t)(k + 1);
        }
    }
    for (int i = 0; i < n; i++)
        at[i] = (ready_at){(int64_t)(intptr_t)ct__idmap_get(&first, sources[i]->id) - 1, i};
    ct__idmap_free(&first);
    qsort(at, (size_t)n, sizeof *at, later_first);
    return at;
}

/* Hands on_ready the sources whose gradients are final before record k
 * (all that are left when k is -1). */
static ct_status fire_ready(const ct_gradient_opts *o, const ready_at *at, int n, int *next,
                            int64_t k, ct_tensor *const *sources, const ct__idmap *sums) {
    for (; *next < n && (k < 0 || at[*next].k > k); ++*next) {
        int i = at[*next].i;
        ct_tensor *g = ct__idmap_get(sums, sources[i]->id);
        if (!g && o->unconnected_zero && !(g = ct_zeros_like(sources[i])))
            return ct_last_status();
        ct_status st = o->on_ready(o->ready_ctx, i, g);
        if (st) return st;
    }
    return CT_OK;
}

static ct_status backprop(ct_tape *tape, const ct_tensor *target, const ct_tensor *target_grad,
                          int n, ct_tensor *const *sources, ct__idmap *sums,
                          const ct_gradient_opts *opts) {
    /* A persistent tape that is still recording records the gradient ops
     * it runs (TF's way to higher derivatives): walk only what was there
     * before, and copy each record, since appends may move the array. */
    int64_t nrec = tape->n;
    /* Which ids lead to a source: only those records need a gradient. */
    ct__idmap reach = {0};
    ct_status st = CT_OK;
    for (int i = 0; i < n; i++) ct__idmap_put(&reach, sources[i]->id, (void *)1);
    for (int64_t k = 0; k < nrec; k++) {
        record *r = &tape->recs[k];
        bool hit = false;
        for (int i = 0; i < r->n_in && !hit; i++) hit = ct__idmap_has(&reach, r->in_ids[i]);
        if (hit)
            for (int i = 0; i < r->n_out; i++) ct__idmap_put(&reach, r->out[i]->id, (void *)1);
    }

    bool hook = opts && opts->on_ready;
    ready_at *at = hook ? ready_order(tape, nrec, n, sources) : NULL;
    int next_ready = 0;
    if (hook && !at) {
        st = ct__error(CT_ERR_OUT_OF_MEMORY, "ct_tape_gradient: out of host memory");
        goto out;
    }

    ct_tensor *seed = target_grad ? (ct_tensor *)target_grad : ct_ones_like(target);
    if (!seed || (st = accumulate(sums, target->id, seed))) goto out;

    for (int64_t k = nrec - 1; k >= 0; k--) {
        if (hook && (st = fire_ready(opts, at, n, &next_ready, k, sources, sums))) goto out;
        record rec = tape->recs[k], *r = &rec;
        bool needed = false, have = false;
        for (int i = 0; i < r->n_in; i++) needed |= ct__idmap_has(&reach, r->in_ids[i]);
        for (int i = 0; i < r->n_out; i++) have |= ct__idmap_has(sums, r->out[i]->id);
        if (!needed || !have) continue;
        if (!r->op->grad) {
            st = ct__error(CT_ERR_UNIMPLEMENTED, "ct_tape_gradient: op %s has no gradient",
                           r->op->name);
            goto out;
        }
        ct_tensor *dy_stack[CT__MAX_IO], *dx_stack[CT__MAX_IO];
        ct_tensor **dy = r->n_out <= CT__MAX_IO ? dy_stack : calloc((size_t)r->n_out, sizeof *dy);
        ct_tensor **dx = r->n_in <= CT__MAX_IO ? dx_stack : calloc((size_t)r->n_in, sizeof *dx);
        if (!dy || !dx) {
            st = ct__error(CT_ERR_OUT_OF_MEMORY, "ct_tape_gradient: out of host memory");
            goto out;
        }
        for (int i = 0; i < r->n_out && !st; i++) {
            dy[i] = ct__idmap_get(sums, r->out[i]->id);
            if (!dy[i] && differentiable_dtype(r->out[i]->dtype)) {
                dy[i] = ct_zeros_like(r->out[i]);
                if (!dy[i]) st = ct_last_status();
            }
        }
        for (int i = 0; i < r->n_in; i++) dx[i] = NULL;
        ct__call c = {.op = r->op, .api = r->op->name, .n_in = r->n_in, .n_out = r->n_out,
                      .in = r->in, .out = r->out, .attrs = r->attrs,
                      .attrs_size = r->attrs_size, .dev = r->dev};
        if (!st) {
            /* Constants a gradient makes (ct_scalar_of) go to the op's device. */
            ct_device_scope_begin(r->dev);
            st = r->op->grad(&c, dy, dx);
            ct_device_scope_end();
        }
        for (int i = 0; i < r->n_in && !st; i++)
            if (dx[i] && ct__idmap_has(&reach, r->in_ids[i]))
                st = accumulate(sums, r->in_ids[i], dx[i]);
        if (dy != dy_stack) free(dy);
        if (dx != dx_stack) free(dx);
        if (st) goto out;
    }
    if (hook) st = fire_ready(opts, at, n, &next_ready, -1, sources, sums);
out:
    free(at);
    ct__idmap_free(&reach);
    return st;
}

ct_status ct_tape_gradient_ex(ct_tape *tape, const ct_tensor *target,
                              const ct_tensor *target_grad, int n, ct_tensor *const *sources,
                              ct_tensor **grads, const ct_gradient_opts *opts) {
    const char *api = "ct_tape_gradient";
    if (!tape) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: NULL tape", api);
    if (!target)
        return ct_last_status() ? ct_last_status()
                                : ct__error(CT_ERR_INVALID_ARGUMENT, "%s: NULL target", api);
    if (n < 0 || (n > 0 && (!sources || !grads)))
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %d sources with a NULL array", api, n);
    for (int i = 0; i < n; i++) grads[i] = NULL;
    if (tape->used && !tape->persistent)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: a non-persistent tape computes gradients once; begin it with "
                         "{.persistent = true} to call gradient again", api);
    if (!differentiable_dtype(target->dtype))
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: the target %s is not differentiable (integer and bool tensors "
                         "have no gradient)", api, CT__DESC(target));
    for (int i = 0; i < n; i++) {
        if (!sources[i])
            return ct_last_status() ? ct_last_status()
                                    : ct__error(CT_ERR_INVALID_ARGUMENT, "%s: source %d is NULL", api, i);
        if (!differentiable_dtype(sources[i]->dtype))
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: source %d (%s) is not differentiable: integer and bool "
                             "tensors have no gradient", api, i, CT__DESC(sources[i]));
    }
    if (target_grad) {
        bool same = target_grad->rank == target->rank && target_grad->dtype == target->dtype;
        for (int i = 0; same && i < target->rank; i++) same = target_grad->shape[i] == target->shape[i];
        if (!same)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: output gradient %s does not match the target %s", api,
                             CT__DESC(target_grad), CT__DESC(target));
    }
    tape->used = true;

    /* A non-persistent tape does not record its own gradient computation;
     * a persistent one does, as TF's, so gradient() inside its recording
     * block can be differentiated again. */
    bool was_recording = tape->recording;
    if (!tape->persistent) tape->recording = false;
    ct_scope_begin();
    ct__idmap sums = {0};
    ct_status st = backprop(tape, target, target_grad, n, sources, &sums, opts);
    for (int i = 0; i < n && !st; i++) {
        ct_tensor *g = ct__idmap_get(&sums, sources[i]->id);
        if (!g && opts && opts->unconnected_zero) g = ct_zeros_like(sources[i]);
        if (!g) continue;
        for (int j = 0; j < i; j++)
            if (grads[j] == g) g = ct_identity(g); /* one scope slot per tensor */
        if (!g) st = ct_last_status();
        else grads[i] = ct__tensor_retain(g);
    }
    ct__idmap_free(&sums);
    ct_scope_end();
    tape->recording = was_recording;
    for (int i = 0; i < n; i++) {
        if (!grads[i]) continue;
        ct_tensor *g = grads[i];
        if (!st && g->scope) {
            /* Still owned by an outer scope (a given output gradient that
             * is also the answer): hand out a view of it instead. */
            grads[i] = ct__tensor_view(g, g->rank, g->shape, g->offset);
            ct__tensor_release(g);
            if (!grads[i]) st = ct_last_status();
            g = grads[i];
        }
        if (st) {
            ct__tensor_release(g);
            grads[i] = NULL;
        } else {
            ct__scoped(g); /* our reference becomes the scope's */
        }
    }
    if (!tape->persistent) tape_clear(tape);
    return st;
}

ct_status ct_tape_gradient(ct_tape *tape, const ct_tensor *target, int n,
                           ct_tensor *const *sources, ct_tensor **grads,
                           const ct_gradient_opts *opts) {
    return ct_tape_gradient_ex(tape, target, NULL, n, sources, grads, opts);
}
