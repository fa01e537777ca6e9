/*
 * keras.callbacks: the callback object, user callbacks (LambdaCallback /
 * a Callback subclass: ct_callback_custom) and the built-in ones made from
 * their Keras class name and config — EarlyStopping, ReduceLROnPlateau,
 * TerminateOnNaN, CSVLogger, TensorBoard, ModelCheckpoint (weights files)
 * — with Keras 3's arguments, defaults and rules
 * (keras/src/callbacks/<name>.py). History and the progress bar belong to
 * fit (nn/fit.c), which calls every callback's hooks in Keras's order.
 *
 * A built-in callback is a set of hooks over its own state, exactly like a
 * user's, so fit dispatches one way. A hook cannot return an error; a
 * built-in that fails (a CSV file that does not open, TerminateOnNaN with
 * raise_error) records it, and fit picks it up after the hook
 * (ct__callback_take_error) and stops with it, as a Python exception
 * raised from a callback would.
 *
 * Messages the callbacks print (verbose > 0, TerminateOnNaN's notice) go
 * to stdout as Keras's io_utils.print_msg does; warnings to stderr.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctrain/checkpoint.h"
#include "ctrain/summary.h"
#include "distribute/strategy_internal.h"
#include "io/events.h"
#include "nn/internal.h"

/* Shared with nn/fit.c (candidates for nn/internal.h). */

struct ct_callback {
    ct_callback_hooks hooks;
    ct_status error; /* raised by a built-in hook, not yet taken */
    char message[512];
    const char *cls; /* a built-in's class name (static), or NULL */
    /* A built-in's resumable state (ct__callback_get_state), or NULL. */
    json_t *(*get_state)(void *ctx);
    ct_status (*set_state)(void *ctx, const json_t *state);
    /* Tensors that go with the state (ct__callback_tensors), or NULL. */
    int (*get_tensors)(void *ctx, ct_tensor *const **out);
    ct_status (*set_tensors)(void *ctx, int n, ct_tensor *const *t);
};

const ct_callback_hooks *ct__callback_hooks(const ct_callback *cb) { return &cb->hooks; }

const char *ct__callback_class(const ct_callback *cb) { return cb ? cb->cls : NULL; }

json_t *ct__callback_get_state(const ct_callback *cb) {
    return cb && cb->get_state ? cb->get_state(cb->hooks.ctx) : NULL;
}

ct_status ct__callback_set_state(ct_callback *cb, const json_t *state) {
    if (!cb || !cb->set_state) return CT_OK;
    return cb->set_state(cb->hooks.ctx, state);
}

int ct__callback_tensors(const ct_callback *cb, ct_tensor *const **out) {
    *out = NULL;
    return cb && cb->get_tensors ? cb->get_tensors(cb->hooks.ctx, out) : 0;
}

ct_status ct__callback_set_tensors(ct_callback *cb, int n, ct_tensor *const *t) {
    if (!cb || !cb->set_tensors)
        return n ? ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: resumed state: this callback keeps no tensors, the checkpoint "
                             "has %d",
                             cb && cb->cls ? cb->cls : "a callback", n)
                 : CT_OK;
    return cb->set_tensors(cb->hooks.ctx, n, t);
}

ct_status ct__callback_take_error(ct_callback *cb) {
    if (!cb || !cb->error) return CT_OK;
    ct_status st = cb->error;
    cb->error = CT_OK;
    return ct__error(st, "%s", cb->message);
}

static void raise_error(ct_callback *cb, ct_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void raise_error(ct_callback *cb, ct_status code, const char *fmt, ...) {
    if (cb->error) return; /* keep the first */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cb->message, sizeof cb->message, fmt, ap);
    va_end(ap);
    cb->error = code;
}

ct_callback *ct_callback_custom(const ct_callback_hooks *hooks) {
    if (!hooks) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_callback_custom: hooks is NULL");
        return NULL;
    }
    ct_callback *cb = calloc(1, sizeof *cb);
    if (!cb) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_callback_custom: out of memory");
        return NULL;
    }
    cb->hooks = *hooks;
    return cb;
}

void ct_callback_free(ct_callback *cb) {
    if (!cb) return;
    if (cb->hooks.free_ctx) cb->hooks.free_ctx(cb->hooks.ctx);
    free(cb);
}

/* ---- Python's repr(float) ---------------------------------------------------------- */


/* ---- shared pieces ------------------------------------------------------------------ */

/* The available keys, for the "not available" warnings. */
static void warn_missing(const char *what, const char *monitor, const ct_logs *logs) {
    fprintf(stderr,
            "WARNING: %s conditioned on metric `%s` which is not available. "
            "Available metrics are: ",
            what, monitor);
    int n = logs ? ct_logs_size(logs) : 0;
    for (int i = 0; i < n; i++)
        fprintf(stderr, "%s%s", i ? "," : "", ct_logs_key(logs, i));
    fprintf(stderr, "\n");
}

/* mode "auto"/"min"/"max"; an unknown one falls back to auto with a
 * warning, as Keras does. 0 auto, -1 min, 1 max. */
static int read_mode(const char *cls, const char *mode) {
    if (!strcmp(mode, "min")) return -1;
    if (!strcmp(mode, "max")) return 1;
    if (strcmp(mode, "auto"))
        fprintf(stderr, "WARNING: %s mode %s is unknown, fallback to auto mode.\n", cls, mode);
    return 0;
}

/* ---- resumable state (ct__callback_get_state / set_state) --------------------------- */

/* A double as a state value: a JSON real (finite values round-trip
 * exactly: jansson and ct__json_dump write the shortest digits that read
 * back to it), or "inf", "-inf", "nan", which JSON cannot hold. */
static json_t *state_real(double v) {
    if (isnan(v)) return json_string("nan");
    if (isinf(v)) return json_string(v > 0 ? "inf" : "-inf");
    return json_real(v);
}

/* A state object made by json_pack (NULL, with an error, when out of
 * memory). */
static json_t *state_made(const char *cls, json_t *state) {
    if (!state) ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory writing its state", cls);
    return state;
}

/* "<Class>: resumed state: '<key>' must be <what>, got <value>". */
static ct_status state_bad(const char *cls, const char *key, const char *what,
                           const json_t *got) {
    char *text = got ? ct__json_dump(got) : NULL;
    ct_status st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: resumed state: '%s' must be %s, got %s",
                             cls, key, what, got ? (text ? text : "?") : "nothing (missing)");
    free(text);
    return st;
}

/* The state must be an object with exactly the keys in known (NULL-
 * terminated): a key missing or unknown means it is not this callback's. */
static ct_status state_check_keys(const char *cls, const json_t *state,
                                  const char *const *known) {
    if (!json_is_object(state))
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: resumed state: must be a JSON object", cls);
    for (int i = 0; known[i]; i++)
        if (!json_object_get(state, known[i]))
            return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: resumed state: '%s' is missing", cls,
                             known[i]);
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)state, k, v) {
        int i = 0;
        while (known[i] && strcmp(known[i], k))
            i++;
        if (!known[i])
            return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: resumed state: unknown key '%s'", cls,
                             k);
    }
    return CT_OK;
}

/* An integer >= min. */
static ct_status state_int(const char *cls, const json_t *state, const char *key, int64_t min,
                           int64_t *out) {
    const json_t *v = json_object_get(state, key);
    if (!json_is_integer(v) || json_integer_value(v) < min) {
        char what[64];
        snprintf(what, sizeof what, "an integer >= %lld", (long long)min);
        return state_bad(cls, key, what, v);
    }
    *out = json_integer_value(v);
    return CT_OK;
}

/* A number, or one of "inf", "-inf", "nan". */
static ct_status state_double(const char *cls, const json_t *state, const char *key,
                              double *out) {
    const json_t *v = json_object_get(state, key);
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return CT_OK;
    }
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    if (!strcmp(s, "inf"))
        *out = INFINITY;
    else if (!strcmp(s, "-inf"))
        *out = -INFINITY;
    else if (!strcmp(s, "nan"))
        *out = NAN;
    else
        return state_bad(cls, key, "a number or \"inf\", \"-inf\", \"nan\"", v);
    return CT_OK;
}

static ct_status state_bool(const char *cls, const json_t *state, const char *key, bool *out) {
    const json_t *v = json_object_get(state, key);
    if (!json_is_boolean(v)) return state_bad(cls, key, "true or false", v);
    *out = json_is_true(v);
    return CT_OK;
}

/* Reads the config into the callback's state with init; frees the state
 * and returns NULL on error. */
typedef ct_status (*init_fn)(ct__cfg *c, void *state);

static ct_callback *make_builtin(const char *cls, const char *config_json, size_t state_size,
                                 init_fn init, const ct_callback_hooks *hooks,
                                 void (*destroy)(void *state)) {
    json_t *j = NULL;
    if (config_json && *config_json) {
        char what[96];
        snprintf(what, sizeof what, "%s config", cls);
        j = ct__json_parse(config_json, what);
        if (!j) return NULL;
        if (!json_is_object(j)) {
            json_decref(j);
            ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the config must be a JSON object", cls);
            return NULL;
        }
    }
    void *state = calloc(1, state_size);
    ct_callback *cb = calloc(1, sizeof *cb);
    if (!state || !cb) {
        free(state);
        free(cb);
        json_decref(j);
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", cls);
        return NULL;
    }
    ct__cfg c;
    ct_status st = ct__cfg_begin(&c, j, cls, NULL);
    if (!st) {
        st = init(&c, state);
        if (st)
            ct__cfg_end(&c);
        else
            st = ct__cfg_finish(&c);
    }
    json_decref(j);
    if (st) {
        destroy(state);
        free(cb);
        return NULL;
    }
    cb->hooks = *hooks;
    cb->hooks.ctx = state;
    cb->hooks.free_ctx = destroy;
    return cb;
}

/* The callback whose hooks run with ctx == state (to record errors). A
 * state struct starts with a back pointer to it. */
typedef struct {
    ct_callback *cb;
} state_head;

static ct_callback *finish_builtin(ct_callback *cb) {
    if (cb) ((state_head *)cb->hooks.ctx)->cb = cb;
    return cb;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* ---- model weights (EarlyStopping's restore_best_weights) ------------------------- */

/* model.get_weights(): caller-owned references to snapshots of every
 * weight's value, in ct__layer_collect's order. */
static ct_tensor **get_weights(ct_model *m, int *n) {
    ct_layer *l = &m->base;
    int nw = ct__layer_collect(l, NULL, 0);
    ct__wref *refs = malloc((size_t)(nw ? nw : 1) * sizeof *refs);
    ct_tensor **w = calloc((size_t)(nw ? nw : 1), sizeof *w);
    if (!refs || !w) {
        free(refs);
        free(w);
        return NULL;
    }
    ct__layer_collect(l, refs, nw);
    ct_scope_begin();
    for (int i = 0; i < nw; i++) {
        ct_tensor *t = ct_variable_read(refs[i].w->var);
        w[i] = t ? ct_tensor_ref(t) : NULL;
    }
    ct_scope_end();
    free(refs);
    *n = nw;
    return w;
}

static void free_weights(ct_tensor **w, int n) {
    if (!w) return;
    for (int i = 0; i < n; i++)
        ct_tensor_free(w[i]);
    free(w);
}

/* model.set_weights(w). */
static ct_status set_weights(ct_model *m, ct_tensor **w, int n) {
    ct_layer *l = &m->base;
    int nw = ct__layer_collect(l, NULL, 0);
    if (nw != n)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "EarlyStopping: the model has %d weights now, %d were saved", nw, n);
    ct__wref *refs = malloc((size_t)(nw ? nw : 1) * sizeof *refs);
    if (!refs) return ct__error(CT_ERR_OUT_OF_MEMORY, "EarlyStopping: out of memory");
    ct__layer_collect(l, refs, nw);
    ct_status st = CT_OK;
    for (int i = 0; !st && i < nw; i++)
        if (w[i]) st = ct_variable_assign(refs[i].w->var, w[i]);
    free(refs);
    return st;
}

/* ---- EarlyStopping ------------------------------------------------------------------- */

typedef struct {
    state_head head;
    char *monitor;
    double min_delta; /* |min_delta|, negated for "less" once the op is set */
    int64_t patience, verbose, start_from_epoch;
    int mode;
    bool has_baseline, restore_best_weights;
    double baseline;
    int op; /* 0 until set (lazily, as Keras), -1 less, +1 greater */
    double best;
    int64_t wait, stopped_epoch, best_epoch;
    ct_tensor **best_weights;
    int nbest;
} early_stopping;

static void es_destroy(void *p) {
    early_stopping *s = p;
    if (!s) return;
    free_weights(s->best_weights, s->nbest);
    free(s->monitor);
    free(s);
}

static ct_status es_init(ct__cfg *c, void *p) {
    early_stopping *s = p;
    const char *monitor, *mode;
    ct_status st = ct__cfg_str(c, "monitor", "val_loss", NULL, &monitor) ||
                   ct__cfg_double(c, "min_delta", 0, &s->min_delta) ||
                   ct__cfg_int(c, "patience", 0, &s->patience) ||
                   ct__cfg_int(c, "verbose", 0, &s->verbose) ||
                   ct__cfg_str(c, "mode", "auto", NULL, &mode);
    if (st) return st;
    s->has_baseline = ct__cfg_has(c, "baseline");
    st = ct__cfg_double(c, "baseline", 0, &s->baseline) ||
         ct__cfg_bool(c, "restore_best_weights", false, &s->restore_best_weights) ||
         ct__cfg_int(c, "start_from_epoch", 0, &s->start_from_epoch);
    if (st) return st;
    s->min_delta = fabs(s->min_delta);
    s->mode = read_mode("EarlyStopping", mode);
    s->monitor = dup_str(monitor);
    if (!s->monitor) return ct__error(CT_ERR_OUT_OF_MEMORY, "EarlyStopping: out of memory");
    return CT_OK;
}

/* Whether a metric named name is one Keras maximizes (its _direction
 * "up"): accuracies, AUC, precision, recall, IoU, F-scores, R2, cosine
 * similarity. Keras 3 asks the compiled metric object; ctrain's metrics do
 * not carry a direction, so the name decides (Keras 2's rule was "acc" in
 * the name). Everything else — losses, errors — is minimized (Keras 3
 * raises for a name it cannot place; ctrain minimizes it). */
static bool maximized(const char *name) {
    static const char *const up[] = {"acc",
                                     "auc",
                                     "precision",
                                     "recall",
                                     "iou",
                                     "f1_score",
                                     "fbeta",
                                     "r2_score",
                                     "cosine_similarity",
                                     "true_positives",
                                     "true_negatives",
                                     "sensitivity",
                                     "specificity",
                                     NULL};
    for (int i = 0; up[i]; i++)
        if (strstr(name, up[i])) return true;
    return false;
}

static void es_set_op(early_stopping *s) {
    if (s->mode == -1)
        s->op = -1;
    else if (s->mode == 1)
        s->op = 1;
    else {
        const char *name = s->monitor;
        if (!strncmp(name, "val_", 4)) name += 4;
        s->op = !strcmp(name, "loss") ? -1 : maximized(name) ? 1 : -1;
    }
    if (s->op < 0) s->min_delta = -s->min_delta;
    s->best = s->op < 0 ? INFINITY : -INFINITY;
}

static bool es_improved(const early_stopping *s, double v, double ref) {
    return s->op < 0 ? v - s->min_delta < ref : v - s->min_delta > ref;
}

static void es_train_begin(void *ctx, ct_model *m, ct_logs *logs) {
    (void)m, (void)logs;
    early_stopping *s = ctx;
    s->wait = 0;
    s->stopped_epoch = 0;
    free_weights(s->best_weights, s->nbest);
    s->best_weights = NULL;
    s->nbest = 0;
    s->best_epoch = 0;
}

static void es_snapshot(early_stopping *s, ct_model *m) {
    free_weights(s->best_weights, s->nbest);
    s->nbest = 0;
    s->best_weights = get_weights(m, &s->nbest);
    if (!s->best_weights)
        raise_error(s->head.cb, CT_ERR_OUT_OF_MEMORY, "EarlyStopping: out of memory");
}

static void es_epoch_end(void *ctx, ct_model *m, int epoch, ct_logs *logs) {
    early_stopping *s = ctx;
    if (!s->op) es_set_op(s);
    bool found = false;
    double current = logs ? ct_logs_get(logs, s->monitor, &found) : NAN;
    if (!found) warn_missing("Early stopping", s->monitor, logs);
    if (!found || epoch < s->start_from_epoch) return;
    if (s->restore_best_weights && !s->best_weights) {
        es_snapshot(s, m);
        s->best_epoch = epoch;
    }
    s->wait++;
    if (es_improved(s, current, s->best)) {
        s->best = current;
        s->best_epoch = epoch;
        if (s->restore_best_weights) es_snapshot(s, m);
        /* Only restart the wait when both the baseline and the best are beaten. */
        if (!s->has_baseline || es_improved(s, current, s->baseline)) s->wait = 0;
        return;
    }
    if (s->wait >= s->patience && epoch > 0) {
        s->stopped_epoch = epoch;
        ct_model_stop_training(m);
    }
}

static void es_train_end(void *ctx, ct_model *m, ct_logs *logs) {
    (void)logs;
    early_stopping *s = ctx;
    if (s->stopped_epoch > 0 && s->verbose > 0)
        printf("Epoch %lld: early stopping\n", (long long)s->stopped_epoch + 1);
    /* Keras 3 restores whenever best weights were kept, stopped early or
     * not (Keras 2 only when it stopped). */
    if (s->restore_best_weights && s->best_weights) {
        if (s->verbose > 0)
            printf("Restoring model weights from the end of the best epoch: %lld.\n",
                   (long long)s->best_epoch + 1);
        if (set_weights(m, s->best_weights, s->nbest))
            raise_error(s->head.cb, ct_last_status(), "%s", ct_last_error());
    }
    /* The copies are not needed after this (Keras drops them at the next
     * train begin). */
    free_weights(s->best_weights, s->nbest);
    s->best_weights = NULL;
    s->nbest = 0;
}

/* The state between epochs: wait, stopped_epoch, best, best_epoch, and
 * the monitor's direction ("less" / "greater", null until the first epoch
 * end picks it, as Keras's monitor_op; with it the sign of min_delta).
 *
 * restore_best_weights's best weights are not in it but go beside it as
 * tensors, which a training checkpoint stores as bytes. */
static int es_get_tensors(void *ctx, ct_tensor *const **out) {
    const early_stopping *s = ctx;
    *out = s->best_weights;
    return s->best_weights ? s->nbest : 0;
}

static ct_status es_set_tensors(void *ctx, int n, ct_tensor *const *t) {
    early_stopping *s = ctx;
    ct_tensor **w = n ? calloc((size_t)n, sizeof *w) : NULL;
    if (n && !w) return ct__error(CT_ERR_OUT_OF_MEMORY, "EarlyStopping: out of memory");
    for (int i = 0; i < n; i++) w[i] = ct_tensor_ref(t[i]);
    free_weights(s->best_weights, s->nbest);
    s->best_weights = w;
    s->nbest = n;
    return CT_OK;
}

static json_t *es_get_state(void *ctx) {
    const early_stopping *s = ctx;
    json_t *op = s->op ? json_string(s->op < 0 ? "less" : "greater") : json_null();
    return state_made("EarlyStopping",
                      json_pack("{s:I, s:I, s:I, s:o, s:o}", "wait", (json_int_t)s->wait,
                                "stopped_epoch", (json_int_t)s->stopped_epoch, "best_epoch",
                                (json_int_t)s->best_epoch, "best", state_real(s->best),
                                "monitor_op", op));
}

static ct_status es_set_state(void *ctx, const json_t *state) {
    static const char *const keys[] = {"wait",       "stopped_epoch", "best_epoch",
                                       "best",       "monitor_op",    NULL};
    const char *cls = "EarlyStopping";
    early_stopping *s = ctx;
    int64_t wait = 0, stopped = 0, best_epoch = 0;
    double best = 0;
    ct_status st = state_check_keys(cls, state, keys) ||
                   state_int(cls, state, "wait", 0, &wait) ||
                   state_int(cls, state, "stopped_epoch", 0, &stopped) ||
                   state_int(cls, state, "best_epoch", 0, &best_epoch) ||
                   state_double(cls, state, "best", &best);
    if (st) return st;
    const json_t *opj = json_object_get(state, "monitor_op");
    const char *ops = json_is_string(opj) ? json_string_value(opj) : "";
    int op = json_is_null(opj) ? 0 : !strcmp(ops, "less") ? -1 : !strcmp(ops, "greater") ? 1 : 2;
    if (op == 2) return state_bad(cls, "monitor_op", "\"less\", \"greater\" or null", opj);
    s->wait = wait;
    s->stopped_epoch = stopped;
    s->best_epoch = best_epoch;
    s->op = op;
    /* es_set_op negates min_delta for "less"; with no op yet it runs at the
     * next epoch end and sets best itself. */
    s->min_delta = op < 0 ? -fabs(s->min_delta) : fabs(s->min_delta);
    s->best = best;
    return CT_OK;
}

/* ---- ReduceLROnPlateau ----------------------------------------------------------------- */

typedef struct {
    state_head head;
    char *monitor;
    double factor, min_delta, min_lr;
    int64_t patience, verbose, cooldown;
    int mode;
    bool greater;
    double best;
    int64_t cooldown_counter, wait;
} reduce_lr;

static void rl_destroy(void *p) {
    reduce_lr *s = p;
    if (!s) return;
    free(s->monitor);
    free(s);
}

static void rl_reset(reduce_lr *s) {
    s->greater = !(s->mode == -1 || (s->mode == 0 && !strstr(s->monitor, "acc")));
    s->best = s->greater ? -INFINITY : INFINITY;
    s->cooldown_counter = 0;
    s->wait = 0;
}

static ct_status rl_init(ct__cfg *c, void *p) {
    reduce_lr *s = p;
    const char *monitor, *mode;
    ct_status st =
        ct__cfg_str(c, "monitor", "val_loss", NULL, &monitor) ||
        ct__cfg_double(c, "factor", 0.1, &s->factor) ||
        ct__cfg_int(c, "patience", 10, &s->patience) || ct__cfg_int(c, "verbose", 0, &s->verbose) ||
        ct__cfg_str(c, "mode", "auto", NULL, &mode) ||
        ct__cfg_double(c, "min_delta", 1e-4, &s->min_delta) ||
        ct__cfg_int(c, "cooldown", 0, &s->cooldown) || ct__cfg_double(c, "min_lr", 0.0, &s->min_lr);
    if (st) return st;
    /* tf.keras's legacy spelling of min_delta. */
    if (ct__cfg_has(c, "epsilon") && (st = ct__cfg_double(c, "epsilon", 1e-4, &s->min_delta)))
        return st;
    st = ct__cfg_check(c, s->factor < 1.0, "factor",
                       "ReduceLROnPlateau does not support a factor >= 1.0. Received factor=%g",
                       s->factor);
    if (st) return st;
    s->mode = read_mode("Learning rate reduction", mode);
    s->monitor = dup_str(monitor);
    if (!s->monitor) return ct__error(CT_ERR_OUT_OF_MEMORY, "ReduceLROnPlateau: out of memory");
    rl_reset(s);
    return CT_OK;
}

static void rl_train_begin(void *ctx, ct_model *m, ct_logs *logs) {
    (void)m, (void)logs;
    rl_reset(ctx);
}

static void rl_epoch_end(void *ctx, ct_model *m, int epoch, ct_logs *logs) {
    reduce_lr *s = ctx;
    ct_optimizer *opt = ct_model_optimizer(m);
    if (!opt) {
        raise_error(s->head.cb, CT_ERR_INVALID_ARGUMENT,
                    "ReduceLROnPlateau: the model has no optimizer (compile it first)");
        return;
    }
    /* Keras 3 reports the rate in the logs (History and later callbacks
     * see it). */
    if (logs) ct_logs_set(logs, "learning_rate", ct_optimizer_learning_rate(opt));
    bool found = false;
    double current = logs ? ct_logs_get(logs, s->monitor, &found) : NAN;
    if (!found) {
        warn_missing("Learning rate reduction", s->monitor, logs);
        return;
    }
    if (s->cooldown_counter > 0) {
        s->cooldown_counter--;
        s->wait = 0;
    }
    bool better = s->greater ? current > s->best + s->min_delta : current < s->best - s->min_delta;
    if (better) {
        s->best = current;
        s->wait = 0;
    } else if (!(s->cooldown_counter > 0)) {
        s->wait++;
        if (s->wait >= s->patience) {
            double old_lr = ct_optimizer_learning_rate(opt);
            if (old_lr > (double)(float)s->min_lr) {
                double new_lr = fmax(old_lr * s->factor, s->min_lr);
                if (ct_optimizer_set_learning_rate(opt, new_lr)) {
                    raise_error(s->head.cb, ct_last_status(), "ReduceLROnPlateau: %s",
                                ct_last_error());
                    return;
                }
                if (s->verbose > 0) {
                    char buf[64];
                    printf("\nEpoch %d: ReduceLROnPlateau reducing learning rate to %s.\n",
                           epoch + 1, ct__py_float_repr(new_lr, buf, sizeof buf));
                }
                s->cooldown_counter = s->cooldown;
                s->wait = 0;
            }
        }
    }
}

/* The state between epochs: wait, cooldown_counter, best (the direction
 * and everything else come from the config; the learning rate is the
 * optimizer's). */
static json_t *rl_get_state(void *ctx) {
    const reduce_lr *s = ctx;
    return state_made("ReduceLROnPlateau",
                      json_pack("{s:I, s:I, s:o}", "wait", (json_int_t)s->wait,
                                "cooldown_counter", (json_int_t)s->cooldown_counter, "best",
                                state_real(s->best)));
}

static ct_status rl_set_state(void *ctx, const json_t *state) {
    static const char *const keys[] = {"wait", "cooldown_counter", "best", NULL};
    const char *cls = "ReduceLROnPlateau";
    reduce_lr *s = ctx;
    int64_t wait = 0, cooldown_counter = 0;
    double best = 0;
    ct_status st = state_check_keys(cls, state, keys) ||
                   state_int(cls, state, "wait", 0, &wait) ||
                   state_int(cls, state, "cooldown_counter", 0, &cooldown_counter) ||
                   state_double(cls, state, "best", &best);
    if (st) return st;
    s->wait = wait;
    s->cooldown_counter = cooldown_counter;
    s->best = best;
    return CT_OK;
}

/* ---- TerminateOnNaN ---------------------------------------------------------------------- */

typedef struct {
    state_head head;
    bool raise;
} terminate_on_nan;

static void tn_destroy(void *p) { free(p); }

static ct_status tn_init(ct__cfg *c, void *p) {
    terminate_on_nan *s = p;
    return ct__cfg_bool(c, "raise_error", false, &s->raise);
}

static void tn_batch_end(void *ctx, ct_model *m, int64_t batch, ct_logs *logs) {
    terminate_on_nan *s = ctx;
    bool found = false;
    double loss = logs ? ct_logs_get(logs, "loss", &found) : NAN;
    if (!found || !(isnan(loss) || isinf(loss))) return;
    if (s->raise) {
        char buf[64];
        raise_error(s->head.cb, CT_ERR_NUMERIC,
                    "TerminateOnNaN: NaN or Inf loss encountered at batch %lld. Loss value: %s. "
                    "Terminating training immediately.",
                    (long long)batch, ct__py_float_repr(loss, buf, sizeof buf));
        return;
    }
    printf("Batch %lld: Invalid loss, terminating training\n", (long long)batch);
    ct_model_stop_training(m);
}

/* ---- CSVLogger ---------------------------------------------------------------------------- */

typedef struct {
    state_head head;
    char *filename;
    char *sep;
    bool append, append_header;
    FILE *f;
    int nkeys;
    char **keys;  /* NULL until the first epoch end */
    int64_t size; /* the file's bytes after the last row written (or at opening) */
} csv_logger;

static void csv_drop_keys(csv_logger *s) {
    for (int i = 0; i < s->nkeys; i++)
        free(s->keys[i]);
    free(s->keys);
    s->keys = NULL;
    s->nkeys = 0;
}

static void csv_destroy(void *p) {
    csv_logger *s = p;
    if (!s) return;
    if (s->f) fclose(s->f);
    csv_drop_keys(s);
    free(s->filename);
    free(s->sep);
    free(s);
}

static ct_status csv_init(ct__cfg *c, void *p) {
    csv_logger *s = p;
    const char *filename = NULL, *sep;
    ct_status st = ct__cfg_check(c, ct__cfg_has(c, "filename"), "filename",
                                 "is required (the CSV file's path)") ||
                   ct__cfg_str(c, "filename", NULL, NULL, &filename) ||
                   ct__cfg_str(c, "separator", ",", NULL, &sep) ||
                   ct__cfg_bool(c, "append", false, &s->append);
    if (st) return st;
    if ((st = ct__cfg_check(c, filename && *filename, "filename", "must not be empty"))) return st;
    s->filename = dup_str(filename);
    s->sep = dup_str(sep);
    if (!s->filename || !s->sep) return ct__error(CT_ERR_OUT_OF_MEMORY, "CSVLogger: out of memory");
    s->append_header = true;
    return CT_OK;
}

static void csv_train_begin(void *ctx, ct_model *m, ct_logs *logs) {
    (void)logs;
    csv_logger *s = ctx;
    if (s->f) fclose(s->f);
    s->f = NULL;
    csv_drop_keys(s);
    /* Under a strategy the epoch logs are every replica's, merged: rank 0
     * writes them, the others write nothing. */
    if (m && ct__strategy_rank(m->strategy) != 0) return;
    s->append_header = true;
    /* Resuming from a training checkpoint appends, as append=True would:
     * set_state then cuts the file back to the rows of the checkpoint. */
    bool append = s->append || (m && m->resuming);
    if (append) {
        FILE *r = fopen(s->filename, "r");
        if (r) {
            int ch = fgetc(r);
            s->append_header = ch == EOF; /* an empty first line: write the header */
            fclose(r);
        }
    }
    s->f = fopen(s->filename, append ? "a" : "w");
    if (!s->f) {
        raise_error(s->head.cb, CT_ERR_INVALID_ARGUMENT, "CSVLogger: cannot open '%s' for writing",
                    s->filename);
        return;
    }
    struct stat sb;
    s->size = fstat(fileno(s->f), &sb) ? 0 : (int64_t)sb.st_size;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A field as Python's csv module (excel dialect, QUOTE_MINIMAL) writes it. */
static void csv_field(FILE *f, const char *text, const char *sep) {
    bool quote = strpbrk(text, "\"\r\n") || (*sep && strstr(text, sep));
    if (!quote) {
        fputs(text, f);
        return;
    }
    fputc('"', f);
    for (const char *p = text; *p; p++) {
        if (*p == '"') fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

static void csv_epoch_end(void *ctx, ct_model *m, int epoch, ct_logs *logs) {
    (void)m;
    csv_logger *s = ctx;
    if (!s->f) return;
    if (!s->keys) {
        /* The columns are the first epoch's keys, sorted (Keras). */
        int n = logs ? ct_logs_size(logs) : 0;
        s->keys = calloc((size_t)(n ? n : 1), sizeof *s->keys);
        if (!s->keys) {
            raise_error(s->head.cb, CT_ERR_OUT_OF_MEMORY, "CSVLogger: out of memory");
            return;
        }
        for (int i = 0; i < n; i++) {
            s->keys[i] = dup_str(ct_logs_key(logs, i));
            if (!s->keys[i]) {
                s->nkeys = i;
                raise_error(s->head.cb, CT_ERR_OUT_OF_MEMORY, "CSVLogger: out of memory");
                return;
            }
        }
        s->nkeys = n;
        qsort(s->keys, (size_t)n, sizeof *s->keys, cmp_str);
        if (s->append_header) {
            /* csv.excel ends rows with \r\n. */
            csv_field(s->f, "epoch", s->sep);
            for (int i = 0; i < s->nkeys; i++) {
                fputs(s->sep, s->f);
                csv_field(s->f, s->keys[i], s->sep);
            }
            fputs("\r\n", s->f);
        }
    }
    fprintf(s->f, "%d", epoch);
    for (int i = 0; i < s->nkeys; i++) {
        bool found = false;
        double v = logs ? ct_logs_get(logs, s->keys[i], &found) : NAN;
        char buf[64];
        fputs(s->sep, s->f);
        csv_field(s->f, found ? ct__py_float_repr(v, buf, sizeof buf) : "NA", s->sep);
    }
    fputs("\r\n", s->f);
    /* One whole row reaches the file at a time. */
    struct stat sb;
    if (fflush(s->f) || fstat(fileno(s->f), &sb))
        raise_error(s->head.cb, CT_ERR_INTERNAL, "CSVLogger: writing '%s' failed", s->filename);
    else
        s->size = (int64_t)sb.st_size;
}

static void csv_train_end(void *ctx, ct_model *m, ct_logs *logs) {
    (void)m, (void)logs;
    csv_logger *s = ctx;
    if (s->f && fclose(s->f))
        raise_error(s->head.cb, CT_ERR_INTERNAL, "CSVLogger: closing '%s' failed", s->filename);
    s->f = NULL;
}

/* The state: the file's size after the last row written ("size"), the
 * columns once the first epoch fixed them ("keys", null before), and
 * whether the header is still to be written with the first row
 * ("append_header"). set_state runs after on_train_begin opened the file
 * for appending (fit's resume sets m->resuming): it cuts the file back to
 * size, dropping the rows an interrupted run wrote after the checkpoint,
 * so the rows that follow continue the file as one uninterrupted run
 * would have written it. Under a strategy only rank 0 has the file open;
 * the other ranks check the state and keep nothing of it. */
static json_t *csv_get_state(void *ctx) {
    const csv_logger *s = ctx;
    json_t *keys = json_null();
    if (s->keys) {
        keys = json_array();
        for (int i = 0; keys && i < s->nkeys; i++)
            if (json_array_append_new(keys, json_string(s->keys[i]))) {
                json_decref(keys);
                keys = NULL;
            }
    }
    return state_made("CSVLogger", json_pack("{s:I, s:o, s:b}", "size", (json_int_t)s->size,
                                             "keys", keys, "append_header",
                                             (int)s->append_header));
}

static ct_status csv_set_state(void *ctx, const json_t *state) {
    static const char *const names[] = {"size", "keys", "append_header", NULL};
    const char *cls = "CSVLogger";
    csv_logger *s = ctx;
    int64_t size = 0;
    bool append_header = false;
    ct_status st = state_check_keys(cls, state, names) ||
                   state_int(cls, state, "size", 0, &size) ||
                   state_bool(cls, state, "append_header", &append_header);
    if (st) return st;
    const json_t *kj = json_object_get(state, "keys");
    bool keys_ok = json_is_null(kj) || json_is_array(kj);
    for (size_t i = 0; keys_ok && json_is_array(kj) && i < json_array_size(kj); i++)
        keys_ok = json_is_string(json_array_get(kj, i));
    if (!keys_ok) return state_bad(cls, "keys", "a list of strings or null", kj);
    if (!s->f) return CT_OK; /* not the writing rank */
    struct stat sb;
    if (fflush(s->f) || fstat(fileno(s->f), &sb))
        return ct__error(CT_ERR_INTERNAL,
                         "CSVLogger: resumed state: cannot read the size of '%s': %s",
                         s->filename, strerror(errno));
    if ((int64_t)sb.st_size < size)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "CSVLogger: resumed state: '%s' has %lld bytes, fewer than the %lld the "
                         "checkpoint recorded (the file was changed or replaced since)",
                         s->filename, (long long)sb.st_size, (long long)size);
    size_t n = json_is_array(kj) ? json_array_size(kj) : 0;
    char **keys = NULL;
    if (json_is_array(kj)) {
        keys = calloc(n ? n : 1, sizeof *keys);
        for (size_t i = 0; keys && i < n; i++)
            if (!(keys[i] = dup_str(json_string_value(json_array_get(kj, i))))) {
                for (size_t k = 0; k < i; k++)
                    free(keys[k]);
                free(keys);
                keys = NULL;
            }
        if (!keys) return ct__error(CT_ERR_OUT_OF_MEMORY, "CSVLogger: out of memory");
    }
    if ((int64_t)sb.st_size > size && ftruncate(fileno(s->f), (off_t)size)) {
        st = ct__error(CT_ERR_INTERNAL, "CSVLogger: resumed state: cannot cut '%s' back to %lld "
                       "bytes: %s", s->filename, (long long)size, strerror(errno));
        for (size_t i = 0; keys && i < n; i++)
            free(keys[i]);
        free(keys);
        return st;
    }
    /* The stream appends (O_APPEND), so the next row lands at the new end;
     * the seek only keeps its idea of the position right. */
    fseek(s->f, 0, SEEK_END);
    csv_drop_keys(s);
    s->keys = keys;
    s->nkeys = (int)n;
    s->size = size;
    s->append_header = append_header;
    return CT_OK;
}

/* ---- TensorBoard ---------------------------------------------------------------------------- */

/* An event file in one of the runs (train, validation): one this training
 * wrote, and its size at the last checkpoint; or (size -1) another
 * training's, named as if this one had written it (see tb_train_begin). */
typedef struct {
    char *name;
    int64_t size;
} tb_file;

/* keras.callbacks.TensorBoard (Keras 3's rules): epoch_<metric> scalars of
 * the training logs (and the learning rate) in <log_dir>/train, of the
 * val_ logs, without the prefix, in <log_dir>/validation, at step epoch;
 * with update_freq N, batch_<metric> every N batches at the global batch
 * number; with histogram_freq, a histogram of every weight of
 * model.layers every histogram_freq epochs ("dense/kernel_0/histogram",
 * tf.keras 2's names); with write_graph, the model's config as
 * keras_model_summary writes it (tag "keras", step 0); after every
 * evaluation, evaluation_<metric>_vs_iterations in <log_dir>/validation
 * (tb_test_end). Under a strategy only rank 0 writes: the epoch
 * logs are the merged ones. With write_images too, the weights as images
 * (tb_weight_image). profile_batch and embeddings are not supported (an
 * error for a value that would ask for them). */
typedef struct {
    state_head head;
    char *log_dir;
    int64_t histogram_freq, update_freq; /* update_freq 0: "epoch" */
    bool write_graph, write_images, steps_per_second;
    ct_summary_writer *train, *val;
    bool active;                         /* this rank writes          */
    bool graph_pending;                  /* the graph is still to write */
    int64_t global_batch;
    double epoch_start, batch_start;
    int64_t epoch_batches;
    /* For resuming (tb_set_state): when this training began (wall clock,
     * seconds: its files are named no earlier), and the files of the
     * processes before this one that a checkpoint holds events of. */
    int64_t started;
    tb_file *kept[2]; /* [0] train, [1] validation */
    int nkept[2];
} tensorboard;

static const char *const TB_RUNS[2] = {"train", "validation"};
static const char TB_PREFIX[] = "events.out.tfevents.";

/* Whether name is an event file's; *t its creation time (seconds). */
static bool tb_event_file(const char *name, int64_t *t) {
    if (strncmp(name, TB_PREFIX, strlen(TB_PREFIX))) return false;
    char *end;
    *t = strtoll(name + strlen(TB_PREFIX), &end, 10);
    return *end == '.';
}

static bool tb_keep(tensorboard *s, int r, const char *name, int64_t size) {
    tb_file *k = realloc(s->kept[r], (size_t)(s->nkept[r] + 1) * sizeof *k);
    if (!k) return false;
    s->kept[r] = k;
    if (!(k[s->nkept[r]].name = dup_str(name))) return false;
    k[s->nkept[r]++].size = size;
    return true;
}

static void tb_forget_kept(tensorboard *s) {
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < s->nkept[r]; i++)
            free(s->kept[r][i].name);
        free(s->kept[r]);
        s->kept[r] = NULL;
        s->nkept[r] = 0;
    }
}

/* Closes the writers; their files join the kept ones, so that a state
 * taken after the training ended still names them. */
static void tb_close(tensorboard *s) {
    ct_summary_writer **ws[2] = {&s->train, &s->val};
    for (int r = 0; r < 2; r++) {
        ct_summary_writer *w = *ws[r];
        if (!w) continue;
        if (ct_summary_writer_close(w) && !s->head.cb->error)
            raise_error(s->head.cb, ct_last_status(), "TensorBoard: %s", ct_last_error());
        const char *path = ct_summary_writer_path(w), *slash = strrchr(path, '/');
        struct stat sb;
        if ((stat(path, &sb) || !tb_keep(s, r, slash ? slash + 1 : path, (int64_t)sb.st_size)) &&
            !s->head.cb->error)
            raise_error(s->head.cb, CT_ERR_INTERNAL, "TensorBoard: cannot keep the size of '%s'",
                        path);
        ct_summary_writer_free(w);
        *ws[r] = NULL;
    }
}

static void tb_destroy(void *p) {
    tensorboard *s = p;
    if (!s) return;
    ct_summary_writer_free(s->train);
    ct_summary_writer_free(s->val);
    tb_forget_kept(s);
    free(s->log_dir);
    free(s);
}

static ct_status tb_init(ct__cfg *c, void *p) {
    tensorboard *s = p;
    const char *log_dir;
    int64_t profile_batch, embeddings_freq;
    ct_status st = ct__cfg_str(c, "log_dir", "logs", NULL, &log_dir) ||
                   ct__cfg_int(c, "histogram_freq", 0, &s->histogram_freq) ||
                   ct__cfg_bool(c, "write_graph", true, &s->write_graph) ||
                   ct__cfg_bool(c, "write_images", false, &s->write_images) ||
                   ct__cfg_bool(c, "write_steps_per_second", false, &s->steps_per_second) ||
                   ct__cfg_check(c, s->histogram_freq >= 0, "histogram_freq",
                                 "must not be negative, got %lld", (long long)s->histogram_freq) ||
                   ct__cfg_int(c, "embeddings_freq", 0, &embeddings_freq) ||
                   ct__cfg_check(c, embeddings_freq == 0, "embeddings_freq",
                                 "the embedding projector is not supported");
    if (st) return st;
    /* profile_batch: 0 (Keras's default) or a range/pair; only 0 here. */
    const json_t *pb = ct__cfg_json(c, "profile_batch");
    profile_batch = pb && json_is_integer(pb) ? json_integer_value(pb) : 0;
    if ((st = ct__cfg_check(c, !pb || (json_is_integer(pb) && profile_batch == 0),
                            "profile_batch", "profiling is not supported: give 0")))
        return st;
    const json_t *uf = ct__cfg_json(c, "update_freq");
    if (!uf || (json_is_string(uf) && !strcmp(json_string_value(uf), "epoch"))) {
        s->update_freq = 0;
    } else if (json_is_string(uf) && !strcmp(json_string_value(uf), "batch")) {
        s->update_freq = 1;
    } else {
        st = ct__cfg_int(c, "update_freq", 0, &s->update_freq) ||
             ct__cfg_check(c, s->update_freq > 0, "update_freq",
                           "must be \"epoch\", \"batch\" or a positive number of batches");
        if (st) return st;
    }
    if ((st = ct__cfg_check(c, *log_dir, "log_dir", "must not be empty"))) return st;
    s->log_dir = dup_str(log_dir);
    return s->log_dir ? CT_OK : ct__error(CT_ERR_OUT_OF_MEMORY, "TensorBoard: out of memory");
}

static double tb_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The writer of <log_dir>/<run>, made at its first use. */
static ct_summary_writer *tb_writer(tensorboard *s, bool val) {
    ct_summary_writer **w = val ? &s->val : &s->train;
    if (*w) return *w;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", s->log_dir, val ? "validation" : "train");
    *w = ct_summary_create_file_writer(dir, NULL);
    if (!*w) raise_error(s->head.cb, ct_last_status(), "TensorBoard: %s", ct_last_error());
    return *w;
}

static void tb_scalar(tensorboard *s, bool val, const char *prefix, const char *key, double v,
                      int64_t step) {
    ct_summary_writer *w = tb_writer(s, val);
    if (!w) return;
    char tag[512];
    snprintf(tag, sizeof tag, "%s%s", prefix, key);
    if (ct_summary_scalar(w, tag, v, step))
        raise_error(s->head.cb, ct_last_status(), "TensorBoard: %s", ct_last_error());
}

/* The graph is written when the first epoch begins rather than here, so
 * that a resumed training (tb_set_state, which runs after on_train_begin)
 * does not write it a second time. */
static void tb_train_begin(void *ctx, ct_model *m, ct_logs *logs) {
    (void)logs;
    tensorboard *s = ctx;
    tb_close(s);
    tb_forget_kept(s);
    s->global_batch = 0;
    s->started = (int64_t)time(NULL);
    s->active = !m || ct__strategy_rank(m->strategy) == 0;
    s->graph_pending = s->active && s->write_graph && m;
    /* Event files already there and named from now on (another training
     * of this second) are not this training's: a resume leaves them. */
    for (int r = 0; r < 2 && s->active; r++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", s->log_dir, TB_RUNS[r]);
        DIR *d = opendir(dir);
        const struct dirent *e;
        int64_t t;
        while (d && (e = readdir(d)))
            if (tb_event_file(e->d_name, &t) && t >= s->started && !tb_keep(s, r, e->d_name, -1))
                raise_error(s->head.cb, CT_ERR_OUT_OF_MEMORY, "TensorBoard: out of memory");
        if (d) closedir(d);
    }
}

static void tb_write_graph(tensorboard *s, ct_model *m) {
    s->graph_pending = false;
    char *json = ct_model_to_json(m);
    if (!json) { /* a subclassed model has no config: nothing to draw */
        ct_clear_error();
        return;
    }
    ct_summary_writer *w = tb_writer(s, false);
    if (w && ct__summary_keras_model(w, "keras", json, 0))
        raise_error(s->head.cb, ct_last_status(), "TensorBoard: %s", ct_last_error());
    free(json);
}

static void tb_epoch_begin(void *ctx, ct_model *m, int epoch, ct_logs *logs) {
    (void)epoch, (void)logs;
    tensorboard *s = ctx;
    if (s->graph_pending && m) tb_write_graph(s, m);
    s->epoch_start = s->batch_start = tb_now();
    s->epoch_batches = 0;
}

static void tb_batch_end(void *ctx, ct_model *m, int64_t batch, ct_logs *logs) {
    (void)m, (void)batch;
    tensorboard *s = ctx;
    s->global_batch++;
    s->epoch_batches++;
    if (!s->active || !s->update_freq || s->global_batch % s->update_freq) return;
    int n = logs ? ct_logs_size(logs) : 0;
    for (int i = 0; i < n; i++)
        tb_scalar(s, false, "batch_", ct_logs_key(logs, i), ct_logs_value(logs, i),
                  s->global_batch);
    if (s->steps_per_second) {
        double now = tb_now();
        tb_scalar(s, false, "batch_", "steps_per_second",
                  (double)s->update_freq / fmax(now - s->batch_start, 1e-9), s->global_batch);
        s->batch_start = now;
    }
}

/* write_images: a weight as images, as tf.keras 2's _log_weight_as_image
 * draws it, under "<weight>_0/image". Its shape without its 1s decides: a
 * vector of n is one image n high and 1 wide; a matrix one image, wider
 * than high (transposed when it has more rows than columns); [a, b, c]
 * (a Conv2D kernel of one input channel) c images of a x b; a rank-4
 * weight whose last dimension is 1, 3 or 4 images of that many channels;
 * anything else no image. The values are taken as [0, 1] (saturated), as
 * tf.summary.image takes floats. */
static ct_status tb_weight_image(ct_summary_writer *w, ct_variable *v, int epoch) {
    const ct_tensor *t = ct_variable_value(v);
    int64_t d[4];
    int rank = 0;
    for (int i = 0; i < ct_tensor_rank(t); i++)
        if (ct_tensor_dim(t, i) != 1) {
            if (rank == 4) return CT_OK; /* rank 5 and more */
            d[rank++] = ct_tensor_dim(t, i);
        }
    if (rank == 0 || (rank == 4 && d[3] != 1 && d[3] != 3 && d[3] != 4)) return CT_OK;
    char tag[512];
    snprintf(tag, sizeof tag, "%s_0/image", ct_variable_name(v));
    ct_scope_begin();
    ct_tensor *img = ct_reshape(t, rank, d);
    if (rank == 1) { /* [1, n, 1, 1] */
        img = ct_reshape(img, 4, (int64_t[]){1, d[0], 1, 1});
    } else if (rank == 2) { /* [1, rows, cols, 1], rows <= cols */
        bool tr = d[0] > d[1];
        if (tr) img = ct_transpose(img, NULL);
        img = ct_reshape(img, 4, (int64_t[]){1, tr ? d[1] : d[0], tr ? d[0] : d[1], 1});
    } else if (rank == 3) { /* [c, a, b, 1]: the channels first */
        img = ct_reshape(ct_transpose(img, (int[]){2, 0, 1}), 4,
                         (int64_t[]){d[2], d[0], d[1], 1});
    }
    ct_status st = img ? ct_summary_image(w, tag, img, epoch, 0) : ct_last_status();
    ct_scope_end();
    return st;
}

static void tb_epoch_end(void *ctx, ct_model *m, int epoch, ct_logs *logs) {
    tensorboard *s = ctx;
    if (!s->active) return;
    int n = logs ? ct_logs_size(logs) : 0;
    for (int i = 0; i < n; i++) {
        const char *k = ct_logs_key(logs, i);
        bool val = !strncmp(k, "val_", 4);
        tb_scalar(s, val, "epoch_", val ? k + 4 : k, ct_logs_value(logs, i), epoch);
    }
    ct_optimizer *o = m ? ct_model_optimizer(m) : NULL;
    if (o) tb_scalar(s, false, "epoch_", "learning_rate", ct_optimizer_learning_rate(o), epoch);
    if (s->steps_per_second)
        tb_scalar(s, false, "epoch_", "steps_per_second",
                  (double)s->epoch_batches / fmax(tb_now() - s->epoch_start, 1e-9), epoch);
    if (m && s->histogram_freq && epoch % s->histogram_freq == 0) {
        ct_summary_writer *w = tb_writer(s, false);
        for (int li = 0; w && li < ct_model_num_layers(m); li++) {
            ct_layer *l = ct_model_layer_at(m, li);
            for (int wi = 0; wi < ct_layer_num_weights(l); wi++) {
                ct_variable *v = ct_layer_weight(l, wi);
                char tag[512];
                snprintf(tag, sizeof tag, "%s_0/histogram", ct_variable_name(v));
                if (ct_summary_histogram(w, tag, ct_variable_value(v), epoch, 0) ||
                    (s->write_images && tb_weight_image(w, v, epoch))) {
                    raise_error(s->head.cb, ct_last_status(), "TensorBoard: %s",
                                ct_last_error());
                    return;
                }
            }
        }
    }
    /* Each epoch's numbers reach the disk at its end. */
    if (s->train && ct_summary_flush(s->train))
        raise_error(s->head.cb, ct_last_status(), "TensorBoard: %s", ct_last_error());
    if (s->val && ct_summary_flush(s->val))
        raise_error(s->head.cb, ct_last_status(), "TensorBoard: %s", ct_last_error());
}

/* At the end of every evaluation (fit's validation, or evaluate with the
 * callback): evaluation_<metric>_vs_iterations in <log_dir>/validation at
 * the optimizer's iteration count, as Keras writes them. */
static void tb_test_end(void *ctx, ct_model *m, ct_logs *logs) {
    tensorboard *s = ctx;
    ct_optimizer *o = m ? ct_model_optimizer(m) : NULL;
    if (!o || !logs || ct__strategy_rank(m->strategy) != 0) return;
    for (int i = 0; i < ct_logs_size(logs); i++) {
        char key[300];
        snprintf(key, sizeof key, "%s_vs_iterations", ct_logs_key(logs, i));
        tb_scalar(s, true, "evaluation_", key, ct_logs_value(logs, i),
                  ct_optimizer_iterations(o));
    }
    /* An evaluate's numbers reach the disk at its end (fit's at the
     * epoch's). */
    if (s->val && ct_summary_flush(s->val))
        raise_error(s->head.cb, ct_last_status(), "TensorBoard: %s", ct_last_error());
}

static void tb_train_end(void *ctx, ct_model *m, ct_logs *logs) {
    (void)m, (void)logs;
    tb_close(ctx);
}

/* The state: the global batch count that steps the batch summaries
 * (Keras's _global_train_batch); when the training began ("started",
 * seconds since the epoch); and per run ("train", "validation") the event
 * files written so far, each [name, size] with the size after a flush at
 * the checkpoint. The epoch summaries are stepped by the epoch fit passes;
 * the per-epoch batch count and the clocks behind steps_per_second start
 * afresh with each epoch (a resumed epoch's rate counts from the resume).
 *
 * Resuming rolls the log directory back to the checkpoint, as CSVLogger
 * does its file: each listed file is cut back to its size, and any other
 * event file named from the training's start on (what a process wrote
 * after the checkpoint before it was killed, and did not checkpoint) is
 * removed. TensorBoard then shows each step once, as the uninterrupted run
 * would have written it; the resumed process writes to a new file, as TF
 * does. Other trainings' event files in the same log directory are left
 * alone: those named before the start, and those there at the start
 * (listed with size -1). Under a strategy only rank 0 touches the files. */
static json_t *tb_files_state(tensorboard *s, int r) {
    json_t *a = json_array();
    for (int i = 0; a && i < s->nkept[r]; i++)
        if (json_array_append_new(a, json_pack("[s, I]", s->kept[r][i].name,
                                               (json_int_t)s->kept[r][i].size))) {
            json_decref(a);
            return NULL;
        }
    ct_summary_writer *w = r ? s->val : s->train;
    if (!a || !w) return a;
    struct stat sb;
    const char *path = ct_summary_writer_path(w), *slash = strrchr(path, '/');
    if (ct_summary_flush(w)) {
        json_decref(a);
        return NULL;
    }
    if (stat(path, &sb)) {
        json_decref(a);
        ct__error(CT_ERR_INTERNAL, "TensorBoard: cannot read the size of '%s': %s", path,
                  strerror(errno));
        return NULL;
    }
    if (json_array_append_new(a, json_pack("[s, I]", slash ? slash + 1 : path,
                                           (json_int_t)sb.st_size))) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static json_t *tb_get_state(void *ctx) {
    tensorboard *s = ctx;
    json_t *train = tb_files_state(s, 0), *val = train ? tb_files_state(s, 1) : NULL;
    if (!train || !val) {
        json_decref(train);
        if (ct_last_status() == CT_OK)
            ct__error(CT_ERR_OUT_OF_MEMORY, "TensorBoard: out of memory writing its state");
        return NULL;
    }
    return state_made("TensorBoard",
                      json_pack("{s:I, s:I, s:o, s:o}", "global_batch",
                                (json_int_t)s->global_batch, "started", (json_int_t)s->started,
                                "train", train, "validation", val));
}

/* The files of a run in the state: a list of [name, size], each name an
 * event file's (no directory). */
static ct_status tb_read_files(const json_t *state, int r, tb_file **out, int *n) {
    const json_t *a = json_object_get(state, TB_RUNS[r]);
    bool ok = json_is_array(a);
    for (size_t i = 0; ok && i < json_array_size(a); i++) {
        const json_t *e = json_array_get(a, i);
        const char *name = json_string_value(json_array_get(e, 0));
        const json_t *size = json_array_get(e, 1);
        int64_t t;
        ok = json_array_size(e) == 2 && name && tb_event_file(name, &t) && !strchr(name, '/') &&
             json_is_integer(size) && json_integer_value(size) >= -1;
    }
    if (!ok)
        return state_bad("TensorBoard", TB_RUNS[r],
                         "a list of [event file name, size >= -1] pairs", a);
    *n = (int)json_array_size(a);
    *out = *n ? calloc((size_t)*n, sizeof **out) : NULL;
    if (*n && !*out) return ct__error(CT_ERR_OUT_OF_MEMORY, "TensorBoard: out of memory");
    for (int i = 0; i < *n; i++) {
        const json_t *e = json_array_get(a, (size_t)i);
        (*out)[i].name = dup_str(json_string_value(json_array_get(e, 0)));
        (*out)[i].size = json_integer_value(json_array_get(e, 1));
        if (!(*out)[i].name) return ct__error(CT_ERR_OUT_OF_MEMORY, "TensorBoard: out of memory");
    }
    return CT_OK;
}

/* Rolls <log_dir>/<run> back to the checkpoint (see tb_get_state). */
static ct_status tb_roll_back(tensorboard *s, int r) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", s->log_dir, TB_RUNS[r]);
    DIR *d = opendir(dir);
    if (!d) return CT_OK; /* nothing was written there */
    ct_status st = CT_OK;
    const struct dirent *e;
    while (!st && (e = readdir(d))) {
        const char *name = e->d_name;
        int64_t t;
        if (!tb_event_file(name, &t)) continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        const tb_file *kept = NULL;
        for (int i = 0; i < s->nkept[r] && !kept; i++)
            if (!strcmp(s->kept[r][i].name, name)) kept = &s->kept[r][i];
        struct stat sb;
        if (kept) {
            /* Shorter than at the checkpoint: the machine went down before
             * the events reached the disk; they are lost, nothing to cut.
             * Another training's (size -1): left as it is. */
            if (kept->size >= 0 && !stat(path, &sb) && sb.st_size > kept->size &&
                truncate(path, kept->size))
                st = ct__error(CT_ERR_INTERNAL,
                               "TensorBoard: resuming: cannot cut '%s' back to the checkpoint's "
                               "%lld bytes: %s",
                               path, (long long)kept->size, strerror(errno));
            continue;
        }
        if (t < s->started) continue; /* an earlier training's */
        if (unlink(path) && errno != ENOENT)
            st = ct__error(CT_ERR_INTERNAL,
                           "TensorBoard: resuming: cannot remove '%s', written after the "
                           "checkpoint: %s",
                           path, strerror(errno));
    }
    closedir(d);
    return st;
}

static ct_status tb_set_state(void *ctx, const json_t *state) {
    static const char *const keys[] = {"global_batch", "started", "train", "validation", NULL};
    tensorboard *s = ctx;
    int64_t global_batch = 0, started = 0;
    ct_status st = state_check_keys("TensorBoard", state, keys) ||
                   state_int("TensorBoard", state, "global_batch", 0, &global_batch) ||
                   state_int("TensorBoard", state, "started", 0, &started);
    if (st) return st;
    tb_file *files[2] = {NULL, NULL};
    int nfiles[2] = {0, 0};
    for (int r = 0; r < 2 && !st; r++)
        st = tb_read_files(state, r, &files[r], &nfiles[r]);
    if (!st) {
        tb_close(s);
        tb_forget_kept(s);
    }
    for (int r = 0; r < 2; r++) {
        if (!st) {
            s->kept[r] = files[r], s->nkept[r] = nfiles[r];
            continue;
        }
        for (int i = 0; i < nfiles[r]; i++)
            free(files[r][i].name);
        free(files[r]);
    }
    if (st) return st;
    s->global_batch = global_batch;
    s->started = started;
    s->graph_pending = false; /* written by the training resumed */
    for (int r = 0; r < 2 && s->active && !st; r++)
        st = tb_roll_back(s, r);
    return st;
}

/* ---- ModelCheckpoint ---------------------------------------------------------------------- */

/* A growing string for the formatted file path. */
typedef struct {
    char *p;
    size_t n, cap;
    bool oom;
} mc_buf;

static void mc_put(mc_buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void mc_pad(mc_buf *b, char fill, size_t n) {
    for (size_t i = 0; i < n; i++)
        mc_put(b, &fill, 1);
}

/* One replacement field's value formatted with spec as Python's
 * format(value, spec) does for an int (is_int) or a float: [[fill]align]
 * [sign][0][width][.precision][type], types d for ints and f F e E g G %
 * (and none) for both. Returns false with a Python-like reason in why. */
static bool mc_format_value(mc_buf *b, bool is_int, int64_t iv, double fv, const char *spec,
                            size_t len, char *why, size_t why_cap) {
    const char *p = spec, *end = spec + len;
    char fill = ' ', align = 0, sign = '-', type = 0;
    long width = -1, prec = -1;
    if (end - p >= 2 && strchr("<>=^", p[1])) {
        fill = p[0];
        align = p[1];
        p += 2;
    } else if (p < end && strchr("<>=^", *p)) {
        align = *p++;
    }
    if (p < end && strchr("+- ", *p)) sign = *p++;
    if (p < end && *p == '0') {
        if (!align) {
            fill = '0';
            align = '=';
        }
        p++;
    }
    if (p < end && isdigit((unsigned char)*p)) {
        width = 0;
        while (p < end && isdigit((unsigned char)*p))
            width = width * 10 + (*p++ - '0');
    }
    if (p < end && *p == '.') {
        p++;
        if (p == end || !isdigit((unsigned char)*p)) {
            snprintf(why, why_cap, "Format specifier missing precision");
            return false;
        }
        prec = 0;
        while (p < end && isdigit((unsigned char)*p))
            prec = prec * 10 + (*p++ - '0');
    }
    if (p < end) type = *p++;
    const char *kind = is_int ? "int" : "float";
    if (p != end || (type && !strchr("dfFeEgG%", type))) {
        snprintf(why, why_cap, "Invalid format specifier '%.*s' for object of type '%s'",
                 (int)len, spec, kind);
        if (p == end) /* one unknown type letter, as Python words it */
            snprintf(why, why_cap, "Unknown format code '%c' for object of type '%s'", type,
                     kind);
        return false;
    }
    if (type == 'd' && !is_int) {
        snprintf(why, why_cap, "Unknown format code 'd' for object of type 'float'");
        return false;
    }
    if (is_int && (type == 'd' || !type) && prec >= 0) {
        snprintf(why, why_cap, "Precision not allowed in integer format specifier");
        return false;
    }
    /* The number without padding, then the padding. */
    char num[512];
    const char *sflag = sign == '+' ? "+" : sign == ' ' ? " " : "";
    if (is_int && (type == 'd' || !type)) {
        snprintf(num, sizeof num, "%s%lld", iv >= 0 ? sflag : "", (long long)iv);
    } else {
        double v = is_int ? (double)iv : fv;
        const char *vs = signbit(v) ? "" : sflag;
        if (!type && prec < 0) {
            char r[64];
            ct__py_float_repr(v, r, sizeof r);
            snprintf(num, sizeof num, "%s%s", vs, r);
        } else if (!type && isfinite(v)) {
            /* Like g, but scientific from an exponent of precision - 1 on,
             * and a fixed-point result keeps a digit past the point. */
            int pr = prec > 0 ? (int)(prec < 100 ? prec : 100) : 1;
            char e[160];
            snprintf(e, sizeof e, "%.*e", pr - 1, v);
            int x = atoi(strchr(e, 'e') + 1);
            bool sci = x < -4 || x >= pr - 1;
            if (!sci) snprintf(e, sizeof e, "%.*f", pr - 1 - x, v);
            char *ep = strchr(e, 'e'), tail[16] = "";
            if (ep) {
                snprintf(tail, sizeof tail, "%s", ep);
                *ep = 0;
            }
            if (strchr(e, '.')) {
                size_t k = strlen(e);
                while (e[k - 1] == '0')
                    e[--k] = 0;
                if (e[k - 1] == '.') e[--k] = 0;
            }
            snprintf(num, sizeof num, "%s%s%s%s", vs, e, sci || strchr(e, '.') ? "" : ".0", tail);
        } else if (!type) {
            snprintf(num, sizeof num, "%s%g", vs, v); /* inf, nan */
        } else if (type == '%') {
            snprintf(num, sizeof num, "%s%.*f%%", vs, (int)(prec < 0 ? 6 : prec), v * 100);
        } else {
            char f[8] = {'%', '.', '*', type, 0};
            size_t k = (size_t)snprintf(num, sizeof num, "%s", vs);
            snprintf(num + k, sizeof num - k, f, (int)(prec < 0 ? 6 : prec), v);
        }
    }
    size_t n = strlen(num);
    size_t padn = width > 0 && (size_t)width > n ? (size_t)width - n : 0;
    if (!align) align = '>';
    if (align == '<') {
        mc_put(b, num, n);
        mc_pad(b, fill, padn);
    } else if (align == '^') {
        mc_pad(b, fill, padn / 2);
        mc_put(b, num, n);
        mc_pad(b, fill, padn - padn / 2);
    } else if (align == '=') {
        size_t s = (num[0] == '+' || num[0] == '-' || num[0] == ' ') ? 1 : 0;
        mc_put(b, num, s);
        mc_pad(b, fill, padn);
        mc_put(b, num + s, n - s);
    } else {
        mc_pad(b, fill, padn);
        mc_put(b, num, n);
    }
    return true;
}

/* filepath.format(epoch=epoch + 1, batch=batch + 1, **logs) as Python's
 * str.format: {name}, {name:spec}, {{ and }}. batch < 0: saving at an
 * epoch's end (no batch field). Returns a malloc'ed path, or NULL with
 * the status in *st and the reason in why. */
static char *mc_format_path(const char *fmt, int epoch, int64_t batch, const ct_logs *logs,
                            ct_status *st, char *why, size_t why_cap) {
    mc_buf b = {0};
    *st = CT_ERR_INVALID_ARGUMENT;
    mc_put(&b, "", 0);
    for (const char *p = fmt; *p;) {
        if (*p == '}') {
            if (p[1] != '}') {
                snprintf(why, why_cap, "Single '}' encountered in format string");
                goto fail;
            }
            mc_put(&b, "}", 1);
            p += 2;
            continue;
        }
        if (*p != '{') {
            size_t n = strcspn(p, "{}");
            mc_put(&b, p, n);
            p += n;
            continue;
        }
        if (p[1] == '{') {
            mc_put(&b, "{", 1);
            p += 2;
            continue;
        }
        const char *name = p + 1;
        size_t nlen = strcspn(name, ":}{");
        const char *spec = name + nlen, *close = strchr(spec, '}');
        if (!close) {
            snprintf(why, why_cap, "expected '}' before end of string");
            goto fail;
        }
        size_t slen = 0;
        if (*spec == ':') {
            spec++;
            slen = (size_t)(close - spec);
            if (memchr(spec, '{', slen)) {
                snprintf(why, why_cap, "nested replacement fields are not supported");
                goto fail;
            }
        } else if (*spec != '}') {
            snprintf(why, why_cap, "unexpected '{' in field name");
            goto fail;
        }
        if (!nlen) {
            snprintf(why, why_cap, "a positional field {} has nothing to format (name it)");
            goto fail;
        }
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)nlen, name);
        bool is_int = true, found = true;
        int64_t iv = 0;
        double fv = 0;
        bool in_logs = false;
        double lv = logs ? ct_logs_get(logs, key, &in_logs) : NAN;
        if (!strcmp(key, "epoch"))
            iv = epoch + 1;
        else if (!strcmp(key, "batch") && batch >= 0 && !in_logs)
            iv = batch + 1;
        else {
            is_int = false;
            found = in_logs;
            fv = lv;
        }
        if (!found) {
            snprintf(why, why_cap, "'%.200s'", key);
            *st = CT_ERR_NOT_FOUND;
            goto fail;
        }
        if (!mc_format_value(&b, is_int, iv, fv, spec, slen, why, why_cap)) goto fail;
        p = close + 1;
    }
    if (b.oom) {
        snprintf(why, why_cap, "out of memory");
        *st = CT_ERR_OUT_OF_MEMORY;
        goto fail;
    }
    *st = CT_OK;
    return b.p;
fail:
    free(b.p);
    return NULL;
}

/* mkdir -p for the directory part of path (Keras 3 creates it). */
static ct_status mc_make_parents(const char *path) {
    char *d = dup_str(path);
    if (!d) return ct__error(CT_ERR_OUT_OF_MEMORY, "ModelCheckpoint: out of memory");
    char *slash = strrchr(d, '/');
    ct_status st = CT_OK;
    if (slash && slash != d) {
        *slash = 0;
        for (char *p = d + 1;; p++) {
            if (*p && *p != '/') continue;
            char c = *p;
            *p = 0;
            struct stat sb;
            if (stat(d, &sb) && (mkdir(d, 0777) && errno != EEXIST)) {
                st = ct__error(CT_ERR_INVALID_ARGUMENT,
                               "ModelCheckpoint: cannot create the directory '%s' for '%s': %s",
                               d, path, strerror(errno));
                break;
            }
            *p = c;
            if (!c) break;
        }
    }
    free(d);
    return st;
}

typedef struct {
    state_head head;
    char *filepath;
    char *monitor;
    int64_t verbose;
    int64_t save_freq; /* batches; 0: "epoch" */
    bool save_best_only, weights_only;
    int op;      /* -1 less, +1 greater */
    double best; /* kept across fits, as Keras */
    int64_t batches_since_save, last_batch_seen;
    int epoch; /* the current epoch (for saves on batches) */
} model_checkpoint;

static void mc_destroy(void *p) {
    model_checkpoint *s = p;
    if (!s) return;
    free(s->filepath);
    free(s->monitor);
    free(s);
}

/* save_freq of ModelCheckpoint and BackupAndRestore: "epoch" (0, the
 * default) or a positive number of batches; BackupAndRestore also takes
 * false (-1: saves only on a stop request). Keras's messages. */
static ct_status read_save_freq(ct__cfg *c, bool backup, int64_t *out) {
    const json_t *freq = ct__cfg_json(c, "save_freq");
    *out = 0;
    if (!freq || (json_is_string(freq) && !strcmp(json_string_value(freq), "epoch")))
        return CT_OK;
    if (json_is_integer(freq) && json_integer_value(freq) > 0) {
        *out = json_integer_value(freq);
        return CT_OK;
    }
    if (backup && json_is_false(freq)) {
        *out = -1;
        return CT_OK;
    }
    char *text = ct__json_dump(freq);
    ct_status st =
        backup ? ct__cfg_check(c, false, "save_freq",
                               "Invalid value for argument `save_freq`. Received: save_freq=%s. "
                               "Expected either 'epoch' or a positive integer (batches)",
                               text ? text : "?")
               : ct__cfg_check(c, false, "save_freq",
                               "Unrecognized save_freq: %s. Expected save_freq are 'epoch' or "
                               "positive integer values (batches)",
                               text ? text : "?");
    free(text);
    return st;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static ct_status mc_init(ct__cfg *c, void *p) {
    model_checkpoint *s = p;
    const char *filepath = NULL, *monitor, *mode;
    ct_status st = ct__cfg_check(c, ct__cfg_has(c, "filepath"), "filepath",
                                 "is required (the checkpoint file's path)") ||
                   ct__cfg_str(c, "filepath", NULL, NULL, &filepath) ||
                   ct__cfg_str(c, "monitor", "val_loss", NULL, &monitor) ||
                   ct__cfg_int(c, "verbose", 0, &s->verbose) ||
                   ct__cfg_bool(c, "save_best_only", false, &s->save_best_only) ||
                   ct__cfg_bool(c, "save_weights_only", false, &s->weights_only) ||
                   ct__cfg_str(c, "mode", "auto", NULL, &mode);
    if (st) return st;
    if ((st = ct__cfg_check(c, filepath && *filepath, "filepath", "must not be empty"))) return st;
    if ((st = read_save_freq(c, false, &s->save_freq))) return st;
    bool has_threshold = ct__cfg_has(c, "initial_value_threshold");
    double threshold = 0;
    if ((st = ct__cfg_double(c, "initial_value_threshold", 0, &threshold))) return st;
    /* tf.keras 2's HDF5 files: model.save_weights or model.save(h5). */
    st = ct__cfg_check(c, ends_with(filepath, ".h5") || ends_with(filepath, ".hdf5"),
                       "filepath",
                       "ctrain writes HDF5 files (tf.keras 2's): the filepath must end in .h5 "
                       "(.weights.h5 with save_weights_only) or .hdf5. Received: filepath=%s",
                       filepath);
    if (st) return st;
    int m = read_mode("ModelCheckpoint", mode);
    if (m)
        s->op = m;
    else {
        /* EarlyStopping's rule for auto. */
        const char *name = monitor;
        if (!strncmp(name, "val_", 4)) name += 4;
        s->op = !strcmp(name, "loss") ? -1 : maximized(name) ? 1 : -1;
    }
    s->best = has_threshold ? threshold : s->op < 0 ? INFINITY : -INFINITY;
    s->filepath = dup_str(filepath);
    s->monitor = dup_str(monitor);
    if (!s->filepath || !s->monitor)
        return ct__error(CT_ERR_OUT_OF_MEMORY, "ModelCheckpoint: out of memory");
    return CT_OK;
}

/* Keras's _save_model. Every rank formats the path and takes the same
 * decision (the epoch logs are the merged ones); rank 0 alone creates the
 * directory, writes the file and prints. */
static void mc_save(model_checkpoint *s, ct_model *m, int epoch, int64_t batch, ct_logs *logs) {
    char why[256];
    ct_status st;
    char *path = mc_format_path(s->filepath, epoch, batch, logs, &st, why, sizeof why);
    if (!path) {
        raise_error(s->head.cb, st,
                    "ModelCheckpoint: Failed to format this callback filepath: \"%s\". "
                    "Reason: %s",
                    s->filepath, why);
        return;
    }
    bool writer = !m || ct__strategy_rank(m->strategy) == 0;
    /* Keras creates the directory before it decides whether to save. */
    if (writer && mc_make_parents(path)) {
        raise_error(s->head.cb, ct_last_status(), "%s", ct_last_error());
        free(path);
        return;
    }
    bool save = true;
    if (s->save_best_only) {
        bool found = false;
        double current = logs ? ct_logs_get(logs, s->monitor, &found) : NAN;
        if (!found) {
            if (writer)
                fprintf(stderr, "WARNING: Can save best model only with %s available, skipping.\n",
                        s->monitor);
            save = false;
        } else if (s->op < 0 ? current < s->best : current > s->best) {
            if (writer && s->verbose > 0)
                printf("\nEpoch %d: %s improved from %.5f to %.5f, saving model to %s\n",
                       epoch + 1, s->monitor, s->best, current, path);
            s->best = current;
        } else {
            if (writer && s->verbose > 0)
                printf("\nEpoch %d: %s did not improve from %.5f\n", epoch + 1, s->monitor,
                       s->best);
            save = false;
        }
    } else if (writer && s->verbose > 0) {
        printf("\nEpoch %d: saving model to %s\n", epoch + 1, path);
    }
    if (save && writer) {
        struct stat sb;
        if (!stat(path, &sb) && S_ISDIR(sb.st_mode))
            raise_error(s->head.cb, CT_ERR_INVALID_ARGUMENT,
                        "ModelCheckpoint: Please specify a non-directory filepath for "
                        "ModelCheckpoint. Filepath used is an existing directory: %s",
                        path);
        else if (s->weights_only ? ct_model_save_weights(m, path, NULL)
                                 : ct_model_save(m, path, NULL))
            raise_error(s->head.cb, ct_last_status(), "ModelCheckpoint: saving '%s' failed: %s",
                        path, ct_last_error());
    }
    free(path);
}

static void mc_epoch_begin(void *ctx, ct_model *m, int epoch, ct_logs *logs) {
    (void)m, (void)logs;
    ((model_checkpoint *)ctx)->epoch = epoch;
}

static void mc_epoch_end(void *ctx, ct_model *m, int epoch, ct_logs *logs) {
    model_checkpoint *s = ctx;
    if (!s->save_freq) mc_save(s, m, epoch, -1, logs);
}

/* Keras's _should_save_on_batch: batches count across epochs; a batch
 * index not past the last one seen starts a new epoch. */
static void mc_batch_end(void *ctx, ct_model *m, int64_t batch, ct_logs *logs) {
    model_checkpoint *s = ctx;
    if (!s->save_freq) return;
    s->batches_since_save += batch <= s->last_batch_seen ? batch + 1 : batch - s->last_batch_seen;
    s->last_batch_seen = batch;
    if (s->batches_since_save < s->save_freq) return;
    s->batches_since_save = 0;
    mc_save(s, m, s->epoch, batch, logs);
}

/* The state: best (kept across fits, as Keras), the batch counters of
 * save_freq in batches (Keras's _batches_seen_since_last_saving and
 * _last_batch_seen) and the current epoch (Keras's _current_epoch; fit's
 * on_epoch_begin sets it again for a resumed epoch). */
static json_t *mc_get_state(void *ctx) {
    const model_checkpoint *s = ctx;
    return state_made("ModelCheckpoint",
                      json_pack("{s:o, s:I, s:I, s:i}", "best", state_real(s->best),
                                "batches_since_save", (json_int_t)s->batches_since_save,
                                "last_batch_seen", (json_int_t)s->last_batch_seen, "epoch",
                                s->epoch));
}

static ct_status mc_set_state(void *ctx, const json_t *state) {
    static const char *const keys[] = {"best", "batches_since_save", "last_batch_seen", "epoch",
                                       NULL};
    const char *cls = "ModelCheckpoint";
    model_checkpoint *s = ctx;
    double best = 0;
    int64_t since = 0, last = 0, epoch = 0;
    ct_status st = state_check_keys(cls, state, keys) ||
                   state_double(cls, state, "best", &best) ||
                   state_int(cls, state, "batches_since_save", 0, &since) ||
                   state_int(cls, state, "last_batch_seen", 0, &last) ||
                   state_int(cls, state, "epoch", 0, &epoch);
    if (st) return st;
    if (epoch > INT32_MAX)
        return state_bad(cls, "epoch", "an epoch index (an int)", json_object_get(state, "epoch"));
    s->best = best;
    s->batches_since_save = since;
    s->last_batch_seen = last;
    s->epoch = (int)epoch;
    return CT_OK;
}

/* ---- BackupAndRestore ------------------------------------------------------------------------ */

/* keras.callbacks.BackupAndRestore: its config; fit does the work (it
 * finds the callback with ct__callback_backup, restores the latest
 * complete training checkpoint of backup_dir before the first epoch and
 * saves one at the save points). */
typedef struct {
    state_head head;
    ct__backup_config cfg;
} backup_restore;

static void br_destroy(void *p) {
    backup_restore *s = p;
    if (!s) return;
    free(s->cfg.backup_dir);
    free(s->cfg.restore_from);
    free(s);
}

static ct_status br_init(ct__cfg *c, void *p) {
    backup_restore *s = p;
    const char *dir = NULL, *from = NULL;
    bool twice = false;
    ct_status st = ct__cfg_check(c, ct__cfg_has(c, "backup_dir"), "backup_dir",
                                 "is required (the directory of the training checkpoints)") ||
                   ct__cfg_str(c, "backup_dir", NULL, NULL, &dir) ||
                   ct__cfg_bool(c, "delete_checkpoint", true, &s->cfg.delete_checkpoint) ||
                   ct__cfg_bool(c, "save_before_preemption", true,
                                &s->cfg.save_before_preemption) ||
                   ct__cfg_bool(c, "double_checkpoint", false, &twice) ||
                   ct__cfg_str(c, "restore_from", NULL, NULL, &from);
    if (st) return st;
    if (from && !(s->cfg.restore_from = dup_str(from)))
        return ct__error(CT_ERR_OUT_OF_MEMORY, "BackupAndRestore: out of memory");
    if ((st = ct__cfg_check(c, dir && *dir, "backup_dir", "Empty `backup_dir` argument passed")))
        return st;
    if ((st = read_save_freq(c, true, &s->cfg.save_freq))) return st;
    /* Saves are atomic, so one checkpoint is always whole; double_checkpoint
     * (Keras 3) keeps the one before it too. */
    s->cfg.max_to_keep = twice ? 2 : 1;
    if (!(s->cfg.backup_dir = dup_str(dir)))
        return ct__error(CT_ERR_OUT_OF_MEMORY, "BackupAndRestore: out of memory");
    return CT_OK;
}

const ct__backup_config *ct__callback_backup(const ct_callback *cb) {
    if (!cb || !cb->cls || strcmp(cb->cls, "BackupAndRestore")) return NULL;
    return &((const backup_restore *)cb->hooks.ctx)->cfg;
}

/* ---- the registry ---------------------------------------------------------------------------- */

ct_callback *ct_callback_new(const char *class_name, const char *config_json) {
    if (!class_name) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_callback_new: the class name is NULL");
        return NULL;
    }
    ct_callback *cb = NULL;
    if (!strcmp(class_name, "EarlyStopping")) {
        ct_callback_hooks h = {.on_train_begin = es_train_begin,
                               .on_epoch_end = es_epoch_end,
                               .on_train_end = es_train_end};
        cb = make_builtin(class_name, config_json, sizeof(early_stopping), es_init, &h, es_destroy);
        if (cb) {
            cb->get_state = es_get_state, cb->set_state = es_set_state;
            cb->get_tensors = es_get_tensors, cb->set_tensors = es_set_tensors;
        }
    } else if (!strcmp(class_name, "ReduceLROnPlateau")) {
        ct_callback_hooks h = {.on_train_begin = rl_train_begin, .on_epoch_end = rl_epoch_end};
        cb = make_builtin(class_name, config_json, sizeof(reduce_lr), rl_init, &h, rl_destroy);
        if (cb) cb->get_state = rl_get_state, cb->set_state = rl_set_state;
    } else if (!strcmp(class_name, "TerminateOnNaN")) {
        ct_callback_hooks h = {.on_train_batch_end = tn_batch_end};
        cb = make_builtin(class_name, config_json, sizeof(terminate_on_nan), tn_init, &h,
                          tn_destroy);
    } else if (!strcmp(class_name, "CSVLogger")) {
        ct_callback_hooks h = {.on_train_begin = csv_train_begin,
                               .on_epoch_end = csv_epoch_end,
                               .on_train_end = csv_train_end};
        cb = make_builtin(class_name, config_json, sizeof(csv_logger), csv_init, &h, csv_destroy);
        if (cb) cb->get_state = csv_get_state, cb->set_state = csv_set_state;
    } else if (!strcmp(class_name, "TensorBoard")) {
        ct_callback_hooks h = {.on_train_begin = tb_train_begin,
                               .on_epoch_begin = tb_epoch_begin,
                               .on_train_batch_end = tb_batch_end,
                               .on_epoch_end = tb_epoch_end,
                               .on_test_end = tb_test_end,
                               .on_train_end = tb_train_end};
        cb = make_builtin(class_name, config_json, sizeof(tensorboard), tb_init, &h, tb_destroy);
        if (cb) cb->get_state = tb_get_state, cb->set_state = tb_set_state;
    } else if (!strcmp(class_name, "ModelCheckpoint")) {
        ct_callback_hooks h = {.on_epoch_begin = mc_epoch_begin,
                               .on_epoch_end = mc_epoch_end,
                               .on_train_batch_end = mc_batch_end};
        cb = make_builtin(class_name, config_json, sizeof(model_checkpoint), mc_init, &h,
                          mc_destroy);
        if (cb) cb->get_state = mc_get_state, cb->set_state = mc_set_state;
    } else if (!strcmp(class_name, "BackupAndRestore")) {
        ct_callback_hooks h = {0}; /* fit drives it (ct__callback_backup) */
        cb = make_builtin(class_name, config_json, sizeof(backup_restore), br_init, &h,
                          br_destroy);
    } else {
        ct__error(CT_ERR_NOT_FOUND,
                  "ct_callback_new: unknown callback class '%s' (built in: EarlyStopping, "
                  "ReduceLROnPlateau, TerminateOnNaN, CSVLogger, TensorBoard, ModelCheckpoint, "
                  "BackupAndRestore; use ct_callback_custom for others)",
                  class_name);
        return NULL;
    }
    static const char *const builtins[] = {"EarlyStopping", "ReduceLROnPlateau",
                                           "TerminateOnNaN", "CSVLogger",
                                           "TensorBoard",   "ModelCheckpoint",
                                           "BackupAndRestore"};
    for (size_t i = 0; cb && i < sizeof builtins / sizeof *builtins; i++)
        if (!strcmp(class_name, builtins[i])) cb->cls = builtins[i];
    return finish_builtin(cb);
}

/* ---- LearningRateScheduler ------------------------------------------------------------ */

typedef struct {
    ct_lr_schedule_fn schedule;
    void *ctx;
    int verbose;
    ct_callback *cb;
} lrs_state;

static void lrs_epoch_begin(void *ctx, ct_model *m, int epoch, ct_logs *logs) {
    (void)logs;
    lrs_state *s = ctx;
    ct_optimizer *opt = ct_model_optimizer(m);
    if (!opt) {
        raise_error(s->cb, CT_ERR_INVALID_ARGUMENT,
                    "LearningRateScheduler: the model has no optimizer (compile it first)");
        return;
    }
    double lr = s->schedule(epoch, ct_optimizer_learning_rate(opt), s->ctx);
    if (!(lr >= 0)) {
        raise_error(s->cb, CT_ERR_INVALID_ARGUMENT,
                    "LearningRateScheduler: the schedule returned %g for epoch %d (a learning "
                    "rate must be a non-negative number)",
                    lr, epoch);
        return;
    }
    if (ct_optimizer_set_learning_rate(opt, lr)) {
        raise_error(s->cb, ct_last_status(), "LearningRateScheduler: %s", ct_last_error());
        return;
    }
    if (s->verbose > 0) {
        char buf[64];
        printf("\nEpoch %d: LearningRateScheduler setting learning rate to %s.\n", epoch + 1,
               ct__py_float_repr(lr, buf, sizeof buf));
    }
}

static void lrs_epoch_end(void *ctx, ct_model *m, int epoch, ct_logs *logs) {
    (void)ctx, (void)epoch;
    ct_optimizer *opt = ct_model_optimizer(m);
    if (opt && logs) ct_logs_set(logs, "learning_rate", ct_optimizer_learning_rate(opt));
}

ct_callback *ct_callback_learning_rate_scheduler(ct_lr_schedule_fn schedule, void *ctx,
                                                 int verbose) {
    if (!schedule) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "LearningRateScheduler: the schedule is NULL");
        return NULL;
    }
    lrs_state *s = calloc(1, sizeof *s);
    if (!s) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "LearningRateScheduler: out of memory");
        return NULL;
    }
    *s = (lrs_state){schedule, ctx, verbose, NULL};
    ct_callback *cb = ct_callback_custom(&(ct_callback_hooks){.ctx = s,
                                                              .on_epoch_begin = lrs_epoch_begin,
                                                              .on_epoch_end = lrs_epoch_end,
                                                              .free_ctx = free});
    if (!cb) {
        free(s);
        return NULL;
    }
    s->cb = cb;
    return cb;
}
