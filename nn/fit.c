/*
 * Keras's training loop: compile, the train / test / predict steps, fit
 * (epochs of batches from tensors or a dataset, validation, class and
 * sample weights, callbacks, History), evaluate, predict, the *_on_batch
 * calls and tf.keras's progress bar (keras/src/backend/tensorflow/
 * trainer.py, keras/src/trainers/compile_utils.py, tf_keras/utils/
 * generic_utils.py's Progbar and tf_keras/callbacks.py's ProgbarLogger).
 *
 * Compile state. model->metrics[0] is the loss tracker: a Mean named
 * "loss" weighted by the batch size, as Keras 3's model._loss_tracker
 * (model.metrics lists it first too); metrics[1..] are the compiled
 * metrics in the order given (names, then objects). The tracker and the
 * metrics accumulate until fit resets them at each epoch's start and
 * evaluate at its start; train_on_batch / test_on_batch do not reset them,
 * as in Keras 3 (tf.keras 2 reset them per call by default).
 *
 * One step runs in its own scope, so the tensors of a step are released
 * when it ends and a long fit keeps a flat number of live tensors.
 *
 * Keras 2 / Keras 3 choices: the progress bar is tf.keras 2's
 * ("469/469 [====...] - 3s 6ms/step - loss: 0.4213"), with logs in Keras
 * 2's order (loss, metrics, val_ ones); the rest follows Keras 3 (loop,
 * hooks, "accuracy" resolution, class_weight rules, train_on_batch).
 */
#include <math.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "distribute/strategy_internal.h"
#include "io/checkpoint_internal.h"
#include "nn/internal.h"

/* Shared with nn/callbacks.c (candidates for nn/internal.h). */

/* ---- logs ------------------------------------------------------------------------------ */

struct ct_logs {
    int n, cap;
    char **keys;
    double *vals;
};

static ct_logs *logs_new(void) {
    ct_logs *l = calloc(1, sizeof *l);
    if (!l) ct__error(CT_ERR_OUT_OF_MEMORY, "logs: out of memory");
    return l;
}

static void logs_clear(ct_logs *l) {
    for (int i = 0; i < l->n; i++)
        free(l->keys[i]);
    l->n = 0;
}

void ct_logs_free(ct_logs *logs) {
    if (!logs) return;
    logs_clear(logs);
    free(logs->keys);
    free(logs->vals);
    free(logs);
}

int ct_logs_size(const ct_logs *logs) { return logs ? logs->n : 0; }

const char *ct_logs_key(const ct_logs *logs, int i) {
    return logs && i >= 0 && i < logs->n ? logs->keys[i] : NULL;
}

double ct_logs_value(const ct_logs *logs, int i) {
    return logs && i >= 0 && i < logs->n ? logs->vals[i] : NAN;
}

static int logs_find(const ct_logs *logs, const char *key) {
    for (int i = 0; logs && key && i < logs->n; i++)
        if (!strcmp(logs->keys[i], key)) return i;
    return -1;
}

double ct_logs_get(const ct_logs *logs, const char *key, bool *found) {
    int i = logs_find(logs, key);
    if (found) *found = i >= 0;
    return i >= 0 ? logs->vals[i] : NAN;
}

ct_status ct_logs_set(ct_logs *logs, const char *key, double value) {
    if (!logs || !key) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_logs_set: NULL logs or key");
    int i = logs_find(logs, key);
    if (i >= 0) {
        logs->vals[i] = value;
        return CT_OK;
    }
    if (logs->n == logs->cap) {
        int cap = logs->cap ? 2 * logs->cap : 8;
        char **k = realloc(logs->keys, (size_t)cap * sizeof *k);
        if (k) logs->keys = k;
        double *v = realloc(logs->vals, (size_t)cap * sizeof *v);
        if (v) logs->vals = v;
        if (!k || !v) return ct__error(CT_ERR_OUT_OF_MEMORY, "ct_logs_set: out of memory");
        logs->cap = cap;
    }
    size_t len = strlen(key) + 1;
    char *copy = malloc(len);
    if (!copy) return ct__error(CT_ERR_OUT_OF_MEMORY, "ct_logs_set: out of memory");
    memcpy(copy, key, len);
    logs->keys[logs->n] = copy;
    logs->vals[logs->n++] = value;
    return CT_OK;
}

/* ---- History -------------------------------------------------------------------------- */

/* history.history: per key, the values of the epochs whose logs had it, in
 * order (a key logged only every few epochs — val_ with validation_freq —
 * has fewer values, as in Keras). */
struct ct_history {
    int epochs;
    int *epoch; /* history.epoch: each record's epoch number */
    int nkeys, cap;
    char **keys;
    int *count;
    double **vals;
};

static ct_history *history_new(void) {
    ct_history *h = calloc(1, sizeof *h);
    if (!h) ct__error(CT_ERR_OUT_OF_MEMORY, "History: out of memory");
    return h;
}

void ct_history_free(ct_history *h) {
    if (!h) return;
    for (int i = 0; i < h->nkeys; i++) {
        free(h->keys[i]);
        free(h->vals[i]);
    }
    free(h->keys);
    free(h->count);
    free(h->vals);
    free(h->epoch);
    free(h);
}

static ct_status history_record(ct_history *h, int epoch, const ct_logs *logs) {
    int *e = realloc(h->epoch, (size_t)(h->epochs + 1) * sizeof *e);
    if (!e) return ct__error(CT_ERR_OUT_OF_MEMORY, "History: out of memory");
    h->epoch = e;
    e[h->epochs++] = epoch;
    for (int i = 0; i < ct_logs_size(logs); i++) {
        int k = 0;
        while (k < h->nkeys && strcmp(h->keys[k], logs->keys[i]))
            k++;
        if (k == h->nkeys) {
            if (h->nkeys == h->cap) {
                int cap = h->cap ? 2 * h->cap : 8;
                char **keys = realloc(h->keys, (size_t)cap * sizeof *keys);
                if (keys) h->keys = keys;
                int *count = realloc(h->count, (size_t)cap * sizeof *count);
                if (count) h->count = count;
                double **vals = realloc(h->vals, (size_t)cap * sizeof *vals);
                if (vals) h->vals = vals;
                if (!keys || !count || !vals)
                    return ct__error(CT_ERR_OUT_OF_MEMORY, "History: out of memory");
                h->cap = cap;
            }
            size_t len = strlen(logs->keys[i]) + 1;
            h->keys[k] = malloc(len);
            if (!h->keys[k]) return ct__error(CT_ERR_OUT_OF_MEMORY, "History: out of memory");
            memcpy(h->keys[k], logs->keys[i], len);
            h->count[k] = 0;
            h->vals[k] = NULL;
            h->nkeys++;
        }
        double *v = realloc(h->vals[k], (size_t)(h->count[k] + 1) * sizeof *v);
        if (!v) return ct__error(CT_ERR_OUT_OF_MEMORY, "History: out of memory");
        h->vals[k] = v;
        v[h->count[k]++] = logs->vals[i];
    }
    return CT_OK;
}

int ct_history_epochs(const ct_history *h) { return h ? h->epochs : 0; }
int ct_history_epoch(const ct_history *h, int i) {
    return h && i >= 0 && i < h->epochs ? h->epoch[i] : -1;
}
int ct_history_num_keys(const ct_history *h) { return h ? h->nkeys : 0; }

const char *ct_history_key(const ct_history *h, int i) {
    return h && i >= 0 && i < h->nkeys ? h->keys[i] : NULL;
}

double ct_history_value(const ct_history *h, const char *key, int epoch) {
    for (int k = 0; h && key && k < h->nkeys; k++)
        if (!strcmp(h->keys[k], key))
            return epoch >= 0 && epoch < h->count[k] ? h->vals[k][epoch] : NAN;
    return NAN;
}

/* ---- compile ---------------------------------------------------------------------------- */

static const char *model_name(const ct_model *m) {
    return m && m->base.name ? m->base.name : "model";
}

/* keras.losses squeeze_or_expand_to_same_rank (expand_rank_1). */
static void same_rank(ct_tensor **a, ct_tensor **b) {
    if (!*a || !*b) return;
    int ra = ct_tensor_rank(*a), rb = ct_tensor_rank(*b);
    if (ra == rb + 1 && ct_tensor_dim(*a, -1) == 1) {
        if (rb == 1)
            *b = ct_expand_dims(*b, -1);
        else
            *a = ct_squeeze(*a, CT_AXES(-1));
    } else if (rb == ra + 1 && ct_tensor_dim(*b, -1) == 1) {
        if (ra == 1)
            *a = ct_expand_dims(*a, -1);
        else
            *b = ct_squeeze(*b, CT_AXES(-1));
    }
}

/* Keras 3's compile-time "accuracy": BinaryAccuracy when y_pred's last
 * dimension is 1, SparseCategoricalAccuracy when y_true has a lower rank
 * than y_pred (or a last dimension of 1 against several classes), else
 * CategoricalAccuracy (compile_utils.is_binary_or_sparse_categorical).
 * Keras picks once from the first batch's shapes; the shapes of a model's
 * outputs and targets do not change, so picking per batch here is the
 * same. The per-sample values are those of keras.metrics.binary_accuracy
 * (threshold 0.5), categorical_accuracy and sparse_categorical_accuracy. */
static ct_tensor *auto_accuracy(const ct_tensor *y_true, const ct_tensor *y_pred, void *ctx) {
    (void)ctx;
    if (!y_true || !y_pred) return NULL;
    int tr = ct_tensor_rank(y_true), pr = ct_tensor_rank(y_pred);
    int64_t tlast = tr ? ct_tensor_dim(y_true, -1) : 1, plast = pr ? ct_tensor_dim(y_pred, -1) : 1;
    bool binary = plast == 1;
    bool sparse = tr < pr || (tlast == 1 && plast > 1);
    ct_tensor *t = (ct_tensor *)y_true, *p = (ct_tensor *)y_pred;
    if (!ct_dtype_is_float(ct_tensor_dtype(p))) p = ct_cast(p, CT_FLOAT32);
    if (binary) {
        same_rank(&t, &p);
        if (!t || !p) return NULL;
        p = ct_cast(ct_greater(p, ct_scalar_of(ct_tensor_dtype(p), 0.5)), ct_tensor_dtype(t));
        return ct_reduce_mean(ct_cast(ct_equal(t, p), CT_FLOAT32), CT_AXES(-1), false);
    }
    if (!sparse) t = ct_argmax(t, -1); /* categorical: compare class indices */
    if (!t) return NULL;
    tr = ct_tensor_rank(t);
    int64_t org[CT_MAX_RANK];
    for (int i = 0; i < tr; i++)
        org[i] = ct_tensor_dim(t, i);
    bool reshape = false;
    if (tr == pr && (!sparse || (tr > 0 && ct_tensor_dim(t, -1) == 1))) {
        t = ct_squeeze(t, CT_AXES(-1));
        reshape = true;
    }
    ct_tensor *am = ct_argmax(p, -1);
    if (!t || !am) return NULL;
    if (ct_tensor_dtype(am) != ct_tensor_dtype(t)) am = ct_cast(am, ct_tensor_dtype(t));
    ct_tensor *matches = ct_cast(ct_equal(t, am), CT_FLOAT32);
    if (reshape) matches = ct_reshape(matches, tr, org);
    if (sparse && matches && ct_tensor_rank(matches) > 1 && ct_tensor_dim(matches, -1) == 1)
        matches = ct_squeeze(matches, CT_AXES(-1));
    return matches;
}

/* A metric given by name: "accuracy"/"acc" (any case) is resolved as
 * Keras does and keeps the name given as its logs key; other names are
 * keras.metrics.get's, logged under the name given when it is a function
 * name ("mse", "categorical_accuracy") and under the metric's own name
 * for a class name ("AUC" logs "auc"), as compile_utils names them. */
static ct_metric *metric_by_name(const char *name) {
    if (!strcasecmp(name, "accuracy") || !strcasecmp(name, "acc"))
        return ct_metric_custom(name, auto_accuracy, NULL);
    bool function_name = true;
    for (const char *p = name; *p; p++)
        if (*p >= 'A' && *p <= 'Z') function_name = false;
    ct_metric_opts o = {0};
    if (function_name) o.name = name;
    return ct_metric_new(name, &o);
}

/* ---- compile ------------------------------------------------------------------------- */

/* The state compile makes before it replaces the model's. */
typedef struct {
    ct_optimizer *opt;
    ct_loss *loss;
    int nlosses;
    ct_loss **losses;
    double *loss_weights;
    int nm, capm;
    ct_metric **metrics;
    ct__metric_slot *slots;
} compiled;

static bool in_list(const void *p, int n, void *const *list) {
    for (int i = 0; list && i < n; i++)
        if (list[i] == p) return true;
    return false;
}

/* Appends metric mt (owned) with its slot; false (mt freed) on OOM. */
static bool add_metric(compiled *c, ct_metric *mt, int role, int output, const char *key) {
    if (c->nm == c->capm) {
        int cap = c->capm ? 2 * c->capm : 8;
        ct_metric **ms = realloc(c->metrics, (size_t)cap * sizeof *ms);
        if (ms) c->metrics = ms;
        ct__metric_slot *sl = ms ? realloc(c->slots, (size_t)cap * sizeof *sl) : NULL;
        if (sl) c->slots = sl;
        if (!ms || !sl) {
            ct_metric_free(mt);
            ct__error(CT_ERR_OUT_OF_MEMORY, "compile: out of memory");
            return false;
        }
        c->capm = cap;
    }
    char *k = key ? strdup(key) : NULL;
    if (key && !k) {
        ct_metric_free(mt);
        ct__error(CT_ERR_OUT_OF_MEMORY, "compile: out of memory");
        return false;
    }
    c->metrics[c->nm] = mt;
    c->slots[c->nm++] = (ct__metric_slot){.role = role, .output = output, .key = k};
    return true;
}

/* Frees c's objects (NULL entries skipped) except those in keep: the
 * model's current state when compile fails, the new state when it
 * replaces the old. */
static void compiled_free(compiled *c, const compiled *keep) {
    void *const *kl = keep ? (void *const *)keep->losses : NULL;
    int nkl = keep ? keep->nlosses : 0;
    if (!keep || c->opt != keep->opt) ct_optimizer_free(c->opt);
    if (c->loss && (!keep || (c->loss != keep->loss && !in_list(c->loss, nkl, kl))))
        ct_loss_free(c->loss);
    for (int i = 0; i < c->nlosses; i++) {
        ct_loss *x = c->losses[i];
        if (!x || in_list(x, i, (void *const *)c->losses) || x == c->loss) continue;
        if (keep && (x == keep->loss || in_list(x, nkl, kl))) continue;
        ct_loss_free(x);
    }
    if (!keep || c->losses != keep->losses) free(c->losses);
    if (!keep || c->loss_weights != keep->loss_weights) free(c->loss_weights);
    for (int i = 0; i < c->nm; i++) {
        if (c->metrics[i] &&
            !(keep && in_list(c->metrics[i], keep->nm, (void *const *)keep->metrics)) &&
            !in_list(c->metrics[i], i, (void *const *)c->metrics))
            ct_metric_free(c->metrics[i]);
        if (c->slots) free(c->slots[i].key);
    }
    free(c->metrics);
    free(c->slots);
    memset(c, 0, sizeof *c);
}

static compiled model_state(const ct_model *m) {
    return (compiled){.opt = m->optimizer,
                      .loss = m->loss,
                      .nlosses = m->losses ? ct_model_num_outputs(m) : 0,
                      .losses = m->losses,
                      .loss_weights = m->loss_weights,
                      .nm = m->nmetrics,
                      .capm = m->nmetrics,
                      .metrics = m->metrics,
                      .slots = m->slots};
}

void ct__model_free_compiled(ct_model *m) {
    compiled c = model_state(m);
    compiled_free(&c, NULL);
    m->optimizer = NULL;
    m->loss = NULL;
    m->losses = NULL;
    m->loss_weights = NULL;
    m->metrics = NULL;
    m->slots = NULL;
    m->nmetrics = 0;
}

/* Frees the objects compile was handed that are neither the model's nor
 * in made (both may be NULL): compile takes them also when it fails. */
static void free_given(const ct_model *m, const compiled *made, const ct_compile_opts *o) {
    compiled cur = m ? model_state(m) : (compiled){0};
    enum { MAXSEEN = 1024 };
    void *seen[MAXSEEN];
    int ns = 0;
#define KNOWN(x)                                                                             \
    (in_list((x), ns, seen) || (x) == (void *)cur.opt || (x) == (void *)cur.loss ||          \
     in_list((x), cur.nlosses, (void *const *)cur.losses) ||                                 \
     in_list((x), cur.nm, (void *const *)cur.metrics) ||                                     \
     (made && ((x) == (void *)made->opt || (x) == (void *)made->loss ||                     \
               in_list((x), made->nlosses, (void *const *)made->losses) ||                   \
               in_list((x), made->nm, (void *const *)made->metrics))))
#define GIVEN(p, freefn)                                                                     \
    do {                                                                                     \
        void *obj_ = (void *)(p);                                                            \
        if (!obj_ || KNOWN(obj_)) break;                                                     \
        if (ns < MAXSEEN) seen[ns++] = obj_;                                                 \
        freefn(p);                                                                           \
    } while (0)
    GIVEN(o->optimizer_obj, ct_optimizer_free);
    GIVEN(o->loss_obj, ct_loss_free);
    for (int i = 0; o->loss_objs && i < o->nlosses; i++) GIVEN(o->loss_objs[i], ct_loss_free);
    for (int i = 0; o->metric_objs && i < o->nmetric_objs; i++)
        GIVEN(o->metric_objs[i], ct_metric_free);
    for (int k = 0; o->output_metrics && k < o->noutput_metrics; k++) {
        const ct_output_metrics *om = &o->output_metrics[k];
        for (int i = 0; om->metric_objs && i < om->nmetric_objs; i++)
            GIVEN(om->metric_objs[i], ct_metric_free);
    }
#undef GIVEN
#undef KNOWN
}

/* The output named name, or -1 with an error. */
static int output_index(const ct_model *m, const char *name) {
    for (int i = 0; name && i < ct_model_num_outputs(m); i++)
        if (!strcmp(ct_model_output_name(m, i), name)) return i;
    char list[512] = "";
    size_t o = 0;
    for (int i = 0; i < ct_model_num_outputs(m) && o < sizeof list; i++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s'%s'", i ? ", " : "",
                              ct_model_output_name(m, i));
    ct__error(CT_ERR_INVALID_ARGUMENT,
              "compile of '%s': output_metrics names the output '%s'; the outputs are [%s]",
              model_name(m), name ? name : "(null)", list);
    return -1;
}

/* The logs key of a metric of output i: NULL (its own name) for a model
 * with one output, else "<output>_<name>" (tf.keras 2). */
static const char *metric_key(const ct_model *m, int output, const char *name, char *buf,
                              size_t cap) {
    if (ct_model_num_outputs(m) <= 1) return NULL;
    snprintf(buf, cap, "%s_%s", ct_model_output_name(m, output), name);
    return buf;
}

/* Output i's metrics: by name (made here) and objects (taken). */
static ct_status add_output_metrics(const ct_model *m, compiled *c, int output, int nnames,
                                    const char *const *names, int nobjs,
                                    ct_metric *const *objs) {
    char key[512];
    for (int i = 0; i < nnames; i++) {
        if (!names[i])
            return ct__error(CT_ERR_INVALID_ARGUMENT, "compile of '%s': metric name %d is NULL",
                             model_name(m), i);
        ct_metric *mt = metric_by_name(names[i]);
        if (!mt) return ct_last_status();
        if (!add_metric(c, mt, CT__TRACK_METRIC, output,
                        metric_key(m, output, ct_metric_name(mt), key, sizeof key)))
            return ct_last_status();
    }
    for (int i = 0; i < nobjs; i++)
        if (!objs[i])
            return ct__error(CT_ERR_INVALID_ARGUMENT, "compile of '%s': metric object %d is NULL",
                             model_name(m), i);
    for (int i = 0; i < nobjs; i++) {
        if (in_list(objs[i], c->nm, (void *const *)c->metrics))
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "compile of '%s': metric object '%s' is given twice", model_name(m),
                             ct_metric_name(objs[i]));
        /* Taken even when add_metric fails (it frees it then). */
        if (!add_metric(c, objs[i], CT__TRACK_METRIC, output,
                        metric_key(m, output, ct_metric_name(objs[i]), key, sizeof key)))
            return ct_last_status();
    }
    return CT_OK;
}

/* Checks the options before anything is made. */
static ct_status check_compile_opts(const ct_model *m, const ct_compile_opts *o, int nout) {
    if (o->nmetrics < 0 || o->nmetric_objs < 0 || (o->nmetrics && !o->metrics) ||
        (o->nmetric_objs && !o->metric_objs) || o->nlosses < 0 || o->noutput_metrics < 0 ||
        (o->noutput_metrics && !o->output_metrics))
        return ct__error(CT_ERR_INVALID_ARGUMENT, "compile of '%s': bad counts or lists",
                         model_name(m));
    if (o->optimizer && o->optimizer_obj)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "compile of '%s': give optimizer (a name) or optimizer_obj, not both",
                         model_name(m));
    if (o->loss && o->loss_obj)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "compile of '%s': give loss (a name) or loss_obj, not both",
                         model_name(m));
    if (o->nlosses && (o->loss || o->loss_obj))
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "compile of '%s': give one loss for all outputs or one per output, not "
                         "both",
                         model_name(m));
    if (o->nlosses && o->nlosses != nout)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "compile of '%s': %d losses for a model with %d output%s",
                         model_name(m), o->nlosses, nout, nout == 1 ? "" : "s");
    for (int i = 0; i < o->nlosses; i++)
        if (o->losses && o->losses[i] && o->loss_objs && o->loss_objs[i])
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "compile of '%s': output %d ('%s') has a loss name and a loss "
                             "object",
                             model_name(m), i, ct_model_output_name(m, i));
    if (nout > 1 && o->nmetric_objs > 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "compile of '%s': the model has %d outputs: give metric objects per "
                         "output (output_metrics)",
                         model_name(m), nout);
    for (int i = 0; o->loss_weights && i < nout; i++)
        if (!isfinite(o->loss_weights[i]))
            return ct__error(CT_ERR_INVALID_ARGUMENT, "compile of '%s': loss_weights[%d] is %g",
                             model_name(m), i, o->loss_weights[i]);
    for (int k = 0; k < o->noutput_metrics; k++)
        if (output_index(m, o->output_metrics[k].output) < 0) return ct_last_status();
    return CT_OK;
}

/* Makes the new state into c: optimizer, losses, weights, trackers and
 * metrics (grouped by output, as tf.keras 2's metrics_names). */
static ct_status make_compiled(const ct_model *m, const ct_compile_opts *o, int nout,
                               compiled *c) {
    c->opt = o->optimizer_obj ? o->optimizer_obj
                              : ct_optimizer_new(o->optimizer ? o->optimizer : "rmsprop", NULL);
    if (!c->opt) return ct_last_status();
    c->loss = o->loss_obj;
    if (o->loss && !(c->loss = ct_loss_new(o->loss, NULL))) return ct_last_status();
    if (o->nlosses) {
        if (!(c->losses = calloc((size_t)nout, sizeof *c->losses)))
            return ct__error(CT_ERR_OUT_OF_MEMORY, "compile: out of memory");
        c->nlosses = nout;
        for (int i = 0; i < nout; i++) {
            if (o->loss_objs && o->loss_objs[i]) c->losses[i] = o->loss_objs[i];
            else if (o->losses && o->losses[i] && !(c->losses[i] = ct_loss_new(o->losses[i], NULL)))
                return ct_last_status();
        }
    }
    if (o->loss_weights) {
        if (!(c->loss_weights = malloc((size_t)nout * sizeof *c->loss_weights)))
            return ct__error(CT_ERR_OUT_OF_MEMORY, "compile: out of memory");
        memcpy(c->loss_weights, o->loss_weights, (size_t)nout * sizeof *c->loss_weights);
    }
    ct_metric *tracker = ct_metric_new("Mean", &(ct_metric_opts){.name = "loss"});
    if (!tracker || !add_metric(c, tracker, CT__TRACK_LOSS, -1, NULL)) return ct_last_status();
    for (int i = 0; nout > 1 && i < nout; i++) {
        if (c->losses && !c->losses[i]) continue;
        char key[512];
        snprintf(key, sizeof key, "%s_loss", ct_model_output_name(m, i));
        ct_metric *t = ct_metric_new("Mean", &(ct_metric_opts){.name = key});
        if (!t || !add_metric(c, t, CT__TRACK_OUTPUT_LOSS, i, key)) return ct_last_status();
    }
    for (int i = 0; i < nout; i++) {
        ct_status st = add_output_metrics(m, c, i, o->nmetrics, o->metrics,
                                          nout == 1 ? o->nmetric_objs : 0, o->metric_objs);
        for (int k = 0; !st && k < o->noutput_metrics; k++) {
            const ct_output_metrics *om = &o->output_metrics[k];
            if (output_index(m, om->output) == i)
                st = add_output_metrics(m, c, i, om->nmetrics, om->metrics, om->nmetric_objs,
                                        om->metric_objs);
        }
        if (st) return st;
    }
    return CT_OK;
}

ct_status ct_model_compile(ct_model *m, const ct_compile_opts *opts) {
    ct_compile_opts none = {0};
    const ct_compile_opts *o = opts ? opts : &none;
    if (!m) {
        free_given(NULL, NULL, o);
        return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_model_compile: the model is NULL");
    }
    int nout = ct_model_num_outputs(m);
    compiled c = {0};
    ct_status st = check_compile_opts(m, o, nout);
    if (!st) st = make_compiled(m, o, nout, &c);
    if (st) {
        /* Given objects c holds are freed with c, the others by
         * free_given; the model's current objects are spared. */
        char *why = strdup(ct_last_error());
        compiled cur = model_state(m);
        free_given(m, &c, o);
        compiled_free(&c, &cur);
        ct__error(st, "%s", why ? why : "compile failed");
        free(why);
        return st;
    }
    free_given(m, &c, o); /* objects given twice, or not used */
    /* Recompiling replaces the previous state; objects carried over are
     * kept. */
    compiled old = model_state(m);
    compiled_free(&old, &c);
    m->optimizer = c.opt;
    m->loss = c.loss;
    m->losses = c.losses;
    m->loss_weights = c.loss_weights;
    m->nmetrics = c.nm;
    m->metrics = c.metrics;
    m->slots = c.slots;
    m->compiled = true;
    m->stop_training = false;
    /* Keras: a model compiled in strategy.scope() trains under it. */
    m->strategy = ct_current_strategy();
    return CT_OK;
}

void ct_model_stop_training(ct_model *m) {
    if (m) m->stop_training = true;
}

/* A lock-free atomic: safe to store from a signal handler. */
static atomic_int stop_request;

void ct_request_stop(int reason) { atomic_store(&stop_request, reason ? reason : -1); }
int ct_stop_requested(void) { return atomic_load(&stop_request); }
void ct_clear_stop_request(void) { atomic_store(&stop_request, 0); }

ct_optimizer *ct_model_optimizer(ct_model *m) {
    if (!m || !m->optimizer) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_model_optimizer: the model '%s' is not compiled",
                  model_name(m));
        return NULL;
    }
    return m->optimizer;
}

static ct_status need_compiled(ct_model *m, const char *who, bool need_loss) {
    if (!m) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the model is NULL", who);
    if (!m->compiled || !m->optimizer || m->nmetrics < 1)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: model '%s': you must call compile() (ct_model_compile) before "
                         "using the model",
                         who, model_name(m));
    bool any = m->loss != NULL;
    for (int i = 0; !any && m->losses && i < ct_model_num_outputs(m); i++) any = m->losses[i];
    if (need_loss && !any)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: model '%s' was compiled without a loss; pass one to "
                         "ct_model_compile",
                         who, model_name(m));
    return CT_OK;
}

/* ---- steps ----------------------------------------------------------------------------- */

/* The most inputs or outputs the training loop handles. */
#define MAXIO 16

/* A batch: the model's inputs, the targets (one per output), one sample
 * weight for all outputs; tensors in the step's scope or the element's. */
typedef struct {
    int nx, ny;
    ct_tensor *x[MAXIO], *y[MAXIO], *sw;
    ct_element *elem;
    /* Under a strategy of several replicas: the global batch's size and
     * this replica's part of it (none: the replica only takes part in the
     * gradient sum). Else global_n is 0. */
    int64_t global_n, local_n;
    bool empty;
} batch;

static void reset_metrics(ct_model *m) {
    for (int i = 0; i < m->nmetrics; i++)
        ct_metric_reset(m->metrics[i]);
}

/* The logs of the metrics now, by their keys: "loss" (the tracker)
 * first, then the output losses and the metrics. A metric with several
 * values (thresholds) logs its first. */
static ct_status metrics_logs(ct_model *m, ct_logs *logs) {
    logs_clear(logs);
    ct_status st = CT_OK;
    ct_scope_begin();
    for (int i = 0; !st && i < m->nmetrics; i++) {
        ct_tensor *r = ct_metric_result(m->metrics[i]);
        const char *key = m->slots[i].key ? m->slots[i].key : ct_metric_name(m->metrics[i]);
        if (!r)
            st = ct_last_status();
        else
            st = ct_logs_set(logs, key, ct_tensor_size(r) ? ct_tensor_get(r, 0) : NAN);
    }
    ct_scope_end();
    return st;
}

/* A copy of t with storage of its own (in the current scope). */
static ct_tensor *deep_copy(const ct_tensor *t) {
    int64_t n = ct_tensor_size(t);
    ct_dtype dt = ct_tensor_dtype(t);
    void *buf = malloc((size_t)(n ? n : 1) * ct_dtype_size(dt));
    if (!buf) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "merging metrics: out of memory");
        return NULL;
    }
    ct_tensor *c = ct_tensor_read(t, dt, buf, n) ? NULL
                                                : ct_constant(buf, dt, ct_tensor_rank(t),
                                                              ct_tensor_shape(t));
    free(buf);
    return c;
}

/* The logs of the metrics merged over the replicas of m's strategy: every
 * state variable summed (metric states are sums), the results computed
 * from the sums, then each replica's own states put back. Collective:
 * every replica calls it at the same point. */
static ct_status merged_logs(ct_model *m, ct_logs *logs) {
    if (ct__strategy_replicas(m->strategy) <= 1) return metrics_logs(m, logs);
    int nv = 0;
    for (int i = 0; i < m->nmetrics; i++) nv += ct_metric_num_variables(m->metrics[i]);
    ct_variable **vars = malloc((size_t)(nv ? nv : 1) * sizeof *vars);
    ct_tensor **mine = calloc((size_t)(nv ? nv : 1), sizeof *mine);
    ct_tensor **sums = calloc((size_t)(nv ? nv : 1), sizeof *sums);
    ct_status st = vars && mine && sums ? CT_OK
                                        : ct__error(CT_ERR_OUT_OF_MEMORY, "merging metrics: out "
                                                                          "of memory");
    ct_scope_begin();
    int k = 0;
    for (int i = 0; !st && i < m->nmetrics; i++)
        for (int j = 0; !st && j < ct_metric_num_variables(m->metrics[i]); j++, k++) {
            vars[k] = ct_metric_variable(m->metrics[i], j);
            mine[k] = deep_copy(ct_variable_value(vars[k]));
            sums[k] = mine[k];
            if (!mine[k]) st = ct_last_status();
        }
    if (!st) st = ct__strategy_sum(m->strategy, nv, sums);
    bool assigned = false;
    for (int i = 0; !st && i < nv; i++) {
        st = ct_variable_assign(vars[i], sums[i]);
        assigned = true;
    }
    if (!st) st = metrics_logs(m, logs);
    for (int i = 0; assigned && i < nv; i++) {
        ct_status r = mine[i] ? ct_variable_assign(vars[i], mine[i]) : CT_OK;
        if (!st) st = r;
    }
    ct_scope_end();
    free(vars);
    free(mine);
    free(sums);
    return st;
}

/* The message of the last error, copied (a later ct__error reuses it). */
static const char *last_msg(char *buf, size_t cap) {
    snprintf(buf, cap, "%s", ct_last_error());
    return buf;
}

/* Output i's loss, or NULL when it has none. */
static ct_loss *loss_of(const ct_model *m, int i) {
    return m->losses ? m->losses[i] : m->loss;
}

/* The total loss: each output's loss(y, y_pred, sample_weight) times its
 * weight, summed, plus the model's regularization losses (Keras's
 * LossesContainer). per[i] gets output i's unweighted loss (NULL when it
 * has none), for its tracker. */
static ct_tensor *compute_loss(ct_model *m, const batch *b, ct_tensor *const *pred,
                               ct_tensor **per, const char *who) {
    ct_tensor *total = NULL;
    for (int i = 0; i < b->ny; i++) {
        per[i] = NULL;
        ct_loss *lo = loss_of(m, i);
        if (!lo) continue;
        ct_tensor *v = ct_loss_call(lo, b->y[i], pred[i], b->sw);
        if (!v) {
            char msg[768], ys[64], ps[64], out[320] = "";
            last_msg(msg, sizeof msg);
            if (b->ny > 1) snprintf(out, sizeof out, " of output '%s'", ct_model_output_name(m, i));
            ct__error(ct_last_status() ? ct_last_status() : CT_ERR_INVALID_ARGUMENT,
                      "%s: model '%s': the loss '%s'%s of y %s and y_pred %s failed: %s", who,
                      model_name(m), ct_loss_name(lo), out,
                      ct_shape_str(ct_tensor_rank(b->y[i]), ct_tensor_shape(b->y[i]), ys, sizeof ys),
                      ct_shape_str(ct_tensor_rank(pred[i]), ct_tensor_shape(pred[i]), ps, sizeof ps),
                      msg);
            return NULL;
        }
        per[i] = v;
        if (m->loss_weights) v = ct_multiply(v, ct_scalar_of(ct_tensor_dtype(v), m->loss_weights[i]));
        total = total ? ct_add(total, ct_cast(v, ct_tensor_dtype(total))) : v;
        if (!total) return NULL;
    }
    ct_tensor *reg = ct_layer_regularization_loss(&m->base);
    if (!reg) return NULL;
    if (!total) return reg;
    if (ct_tensor_dtype(reg) != ct_tensor_dtype(total)) reg = ct_cast(reg, ct_tensor_dtype(total));
    return ct_add(total, reg);
}

/* The trackers' and the metrics' updates for a batch. */
static ct_status update_metrics(ct_model *m, const batch *b, ct_tensor *const *pred,
                                ct_tensor *const *per, const ct_tensor *loss) {
    const ct_tensor *x0 = b->x[0];
    int64_t bs = ct_tensor_rank(x0) ? ct_tensor_dim(x0, 0) : 1;
    ct_tensor *w = ct_scalar_of(ct_tensor_dtype(loss), (double)bs);
    ct_status st = CT_OK;
    for (int i = 0; !st && i < m->nmetrics; i++) {
        const ct__metric_slot *s = &m->slots[i];
        if (s->role == CT__TRACK_LOSS) st = ct_metric_update(m->metrics[i], NULL, loss, w);
        else if (s->role == CT__TRACK_OUTPUT_LOSS && per[s->output])
            st = ct_metric_update(m->metrics[i], NULL, per[s->output], w);
        else if (s->role == CT__TRACK_METRIC)
            st = ct_metric_update(m->metrics[i], b->y[s->output], pred[s->output], b->sw);
    }
    return st;
}

static ct_status check_batch(ct_model *m, const batch *b, const char *who) {
    for (int i = 0; i < b->nx; i++)
        if (!b->x[i])
            return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: model '%s': x%s is NULL", who,
                             model_name(m), b->nx > 1 ? "[i]" : "");
    if (b->ny != ct_model_num_outputs(m))
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: model '%s': %d target%s for a model with %d output%s (the "
                         "compiled loss needs targets)",
                         who, model_name(m), b->ny, b->ny == 1 ? "" : "s",
                         ct_model_num_outputs(m), ct_model_num_outputs(m) == 1 ? "" : "s");
    for (int i = 0; i < b->ny; i++)
        if (!b->y[i])
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: model '%s': y is NULL (the compiled loss needs targets)", who,
                             model_name(m));
    return CT_OK;
}

/* The model's outputs for b's inputs. */
static ct_status forward(ct_model *m, const batch *b, bool training, ct_tensor **pred) {
    return ct_model_call_multi(m, b->nx, (ct_tensor *const *)b->x, training,
                               ct_model_num_outputs(m), pred);
}

/* A batch of no examples for each of the model's inputs (the shapes it
 * was built for, with 0 rows), for a replica without a part of a batch. */
static ct_status zero_rows(ct_model *m, batch *b, const char *who) {
    memset(b, 0, sizeof *b);
    b->empty = true;
    const ct_layer *l = &m->base;
    if (l->ninputs < 1 || !l->input_shapes || l->ninputs > MAXIO)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: model '%s' is not built: a replica without examples cannot run "
                         "its step",
                         who, model_name(m));
    for (int i = 0; i < l->ninputs; i++) {
        const ct_shape *sh = &l->input_shapes[i];
        int64_t dims[CT_MAX_RANK];
        for (int d = 0; d < sh->rank; d++) dims[d] = d == 0 ? 0 : sh->dim[d] < 0 ? 1 : sh->dim[d];
        if (!(b->x[i] = ct_zeros(l->dtype, sh->rank, dims))) return ct_last_status();
    }
    b->nx = l->ninputs;
    return CT_OK;
}

/* One training step (Keras 3's train_step): the forward pass on a tape,
 * the loss, the gradients of the trainable weights, the optimizer update,
 * the constraints, then the metrics. Under a strategy of several replicas
 * each replica differentiates its loss times its share of the global
 * batch and the gradients are summed over the replicas, so the update is
 * the one of a single process on the whole global batch. The step runs
 * as a replica step (ct_strategy_run's context), where synchronized
 * BatchNormalization sums its statistics over the replicas; so a replica
 * with no part of the batch still runs it, forward and backward, on zero
 * rows of the model's inputs, and adds zero gradients. */
static ct_status train_step(ct_model *m, const batch *b, const char *who) {
    bool distributed = ct__strategy_replicas(m->strategy) > 1;
    ct_status st = b->empty ? CT_OK : check_batch(m, b, who);
    if (st) return st;
    ct__wref *refs = NULL;
    ct_tensor **src = NULL, **grads = NULL;
    ct_variable **vars = NULL;
    ct_tensor *pred[MAXIO], *per[MAXIO];
    ct_strategy *outer = distributed ? ct__strategy_enter_replica(m->strategy) : NULL;
    ct_scope_begin();
    ct_tape *tape = NULL;
    ct_tensor *loss = NULL, *scaled = NULL;
    batch none;
    if (b->empty) {
        if (!distributed) goto out; /* nothing to learn from */
        if ((st = zero_rows(m, &none, who))) goto out;
        b = &none;
    }
    tape = ct_tape_begin(NULL);
    if (tape && !forward(m, b, true, pred)) {
        if (!b->empty) {
            loss = compute_loss(m, b, pred, per, who);
        } else {
            /* No examples: a target that reaches every output, with zero
             * gradients. */
            for (int i = 0; i < ct_model_num_outputs(m); i++) {
                ct_tensor *z = ct_multiply(ct_reduce_sum(pred[i], CT_ALL, false),
                                           ct_scalar_of(ct_tensor_dtype(pred[i]), 0));
                loss = loss && z ? ct_add(loss, ct_cast(z, ct_tensor_dtype(loss))) : z;
            }
        }
    }
    scaled = loss;
    if (loss && distributed && !b->empty)
        scaled = ct_multiply(loss, ct_scalar_of(ct_tensor_dtype(loss),
                                                (double)b->local_n / (double)b->global_n));
    if (tape) ct_tape_end(tape);
    if (!scaled) {
        st = ct_last_status() ? ct_last_status() : CT_ERR_INTERNAL;
        goto out;
    }
    if (!b->empty && (st = update_metrics(m, b, pred, per, loss))) goto out;
    int n = ct__layer_collect(&m->base, NULL, 0);
    refs = malloc((size_t)(n ? n : 1) * sizeof *refs);
    src = malloc((size_t)(n ? n : 1) * sizeof *src);
    grads = calloc((size_t)(n ? n : 1), sizeof *grads);
    vars = malloc((size_t)(n ? n : 1) * sizeof *vars);
    if (!refs || !src || !grads || !vars) {
        st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", who);
        goto out;
    }
    ct__layer_collect(&m->base, refs, n);
    int nt = 0;
    for (int i = 0; i < n; i++) {
        if (!refs[i].trainable) continue;
        vars[nt] = refs[i].w->var;
        src[nt++] = ct_variable_value(refs[i].w->var);
    }
    if (nt > 0) {
        /* Under a strategy the gradients are summed in buckets, each
         * started as soon as the backward pass has finished its gradients
         * (a weight the loss does not reach, or a replica without
         * examples, adds zeros, so every replica starts the same
         * buckets). */
        if (distributed && (st = ct__strategy_sum_begin(m->strategy, nt, src))) goto out;
        bool overlap = ct__strategy_overlap(m->strategy);
        ct_gradient_opts go = {.on_ready = ct__strategy_sum_ready, .ready_ctx = m->strategy};
        st = ct_tape_gradient(tape, scaled, nt, src, grads, overlap ? &go : NULL);
        for (int i = 0; !st && distributed && !overlap && i < nt; i++)
            st = ct__strategy_sum_ready(m->strategy, i, grads[i]);
        if (distributed) {
            ct_status e = ct__strategy_sum_end(m->strategy, nt, grads);
            if (!st) st = e;
        }
        if (!st) st = ct__optimizer_apply_summed(m->optimizer, nt, grads, vars);
        if (!st) st = ct_layer_apply_constraints(&m->base);
    }
out:
    if (tape) ct_tape_free(tape);
    ct_scope_end();
    if (distributed) ct__strategy_leave_replica(outer);
    free(refs);
    free(src);
    free(grads);
    free(vars);
    return st;
}

/* One evaluation step (test_step): forward in inference mode, the loss
 * with the regularization losses into the tracker, the metrics. */
static ct_status test_step(ct_model *m, const batch *b, const char *who) {
    if (b->empty) return CT_OK; /* this replica has no part of the batch */
    ct_status st = check_batch(m, b, who);
    if (st) return st;
    ct_tensor *pred[MAXIO], *per[MAXIO];
    ct_scope_begin();
    st = forward(m, b, false, pred);
    ct_tensor *loss = st ? NULL : compute_loss(m, b, pred, per, who);
    st = loss ? update_metrics(m, b, pred, per, loss)
              : (ct_last_status() ? ct_last_status() : CT_ERR_INTERNAL);
    ct_scope_end();
    return st;
}

/* ---- data --------------------------------------------------------------------------------- */

/* The arrays fit / evaluate / predict were given, as lists. */
typedef struct {
    int nx, ny;
    const ct_tensor *x[MAXIO], *y[MAXIO], *sw;
} arrays;

/* x or xs[nx] (and y or ys[ny]) into a, checked against the model's
 * inputs and outputs (targets only when want_y). */
static ct_status gather_arrays(ct_model *m, const char *who, const ct_tensor *x, int nx,
                               const ct_tensor *const *xs, const ct_tensor *y, int ny,
                               const ct_tensor *const *ys, const ct_tensor *sw, bool want_y,
                               arrays *a) {
    memset(a, 0, sizeof *a);
    if ((x && nx) || (y && ny))
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: model '%s': give x or xs (and y or ys), not both", who,
                         model_name(m));
    if (nx < 0 || nx > MAXIO || ny < 0 || ny > MAXIO || (nx && !xs) || (ny && !ys))
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: model '%s': bad xs / ys counts (0 to %d)",
                         who, model_name(m), MAXIO);
    if (x) a->x[a->nx++] = x;
    for (int i = 0; i < nx; i++) a->x[a->nx++] = xs[i];
    if (want_y) {
        if (y) a->y[a->ny++] = y;
        for (int i = 0; i < ny; i++) a->y[a->ny++] = ys[i];
        a->sw = sw;
    }
    if (a->nx == 0) return CT_OK; /* a dataset, or the caller's error */
    int nin = ct_model_num_inputs(m), nout = ct_model_num_outputs(m);
    if (a->nx != nin)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: model '%s' has %d input%s, got %d input array%s", who,
                         model_name(m), nin, nin == 1 ? "" : "s", a->nx, a->nx == 1 ? "" : "s");
    if (want_y && a->ny && a->ny != nout)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: model '%s' has %d output%s, got %d target array%s", who,
                         model_name(m), nout, nout == 1 ? "" : "s", a->ny, a->ny == 1 ? "" : "s");
    return CT_OK;
}

/* Where batches come from: arrays sliced along the first axis (shuffled
 * each pass by a permutation drawn from the global RNG) or a dataset of
 * (inputs..., targets...[, sample_weight]) batches. A pass starts at an
 * epoch's start; with a step limit the pass carries over into the next
 * epoch until the data runs out (Keras 3's EpochIterator). */
typedef struct {
    const char *who;
    ct_model *m;
    arrays a; /* the arrays (borrowed)                */
    int64_t n, batch_size;
    bool shuffle;
    ct_tensor *perm; /* owned reference, or NULL              */
    int64_t pos;
    ct_dataset *ds; /* or a dataset (borrowed)               */
    ct_iterator *it;
    int64_t steps; /* steps per epoch; 0: the whole data    */
    bool open;     /* a pass is under way                   */
    int64_t taken; /* batches of the pass so far            */
    bool x_only;   /* predict                               */
    int ncw;       /* class_weight                          */
    const double *cw;
    bool per_replica; /* the dataset gives this replica's batches */
    bool exhausted;   /* ... and this replica's have run out     */
    bool agreed;      /* batches is the replicas' agreed count   */
    int64_t agreed_batches;
} source;

static void source_close(source *s) {
    if (s->perm) ct_tensor_free(s->perm);
    s->perm = NULL;
    if (s->it) ct_iterator_free(s->it);
    s->it = NULL;
    s->open = false;
}

/* The number of batches of a pass (-1 unknown). */
static int64_t source_batches(const source *s) {
    if (s->agreed) return s->agreed_batches;
    if (s->ds) {
        int64_t c = ct_dataset_cardinality(s->ds);
        return c >= 0 ? c : -1;
    }
    return (s->n + s->batch_size - 1) / s->batch_size;
}

/* Per-replica datasets may hold different numbers of batches; a pass
 * lasts until the longest is done (per_replica_next), so every replica
 * counts that many: the largest cardinality, unknown if any is (every
 * rank calls this, in the same order). */
static ct_status agree_batches(source *s) {
    if (!s->ds || !s->per_replica || ct__strategy_replicas(s->m->strategy) < 2) return CT_OK;
    int64_t c = ct_dataset_cardinality(s->ds);
    double v[2] = {c >= 0 ? (double)c : 0, c >= 0 ? 0 : 1};
    ct_status st = ct__strategy_max_doubles(s->m->strategy, v, 2);
    if (st) return st;
    s->agreed = true;
    s->agreed_batches = v[1] > 0 ? -1 : (int64_t)v[0];
    return CT_OK;
}

/* The steps of an epoch, for the progress bar (-1 unknown). */
static int64_t source_target(const source *s) {
    return s->steps > 0 ? s->steps : source_batches(s);
}

static ct_status source_begin_epoch(source *s) {
    /* With a step limit a pass carries on into the next epoch, until all
     * its batches (when known) were taken. */
    int64_t nb = source_batches(s);
    if (s->open && s->steps > 0 && !(nb >= 0 && s->taken >= nb)) return CT_OK;
    s->pos = 0;
    s->taken = 0;
    s->exhausted = false;
    if (s->ds) {
        if (s->it) {
            if (ct_iterator_reset(s->it)) return ct_last_status();
        } else if (!(s->it = ct_dataset_iterator(s->ds))) {
            return ct_last_status();
        }
        s->open = true;
        return CT_OK;
    }
    if (s->perm) ct_tensor_free(s->perm);
    s->perm = NULL;
    if (s->shuffle && s->n > 1) {
        ct_scope_begin();
        ct_tensor *p = ct_argsort(ct_random_uniform(CT_DIMS(s->n), NULL), 0, false);
        /* Replicas split the same global batches: rank 0's order. */
        if (p && ct__strategy_replicas(s->m->strategy) > 1)
            p = ct_broadcast(ct_strategy_collective(s->m->strategy), p, 0);
        if (p) s->perm = ct_tensor_ref(p);
        ct_scope_end();
        if (!s->perm) return ct_last_status();
    }
    s->open = true;
    return CT_OK;
}

/* Rows [from, from + count) of t (in the current scope). */
static ct_tensor *take_part(const ct_tensor *t, int64_t from, int64_t count) {
    if (!t || ct_tensor_rank(t) < 1) return (ct_tensor *)t;
    int r = ct_tensor_rank(t);
    int64_t begin[CT_MAX_RANK] = {0}, size[CT_MAX_RANK];
    begin[0] = from;
    size[0] = count;
    for (int i = 1; i < r; i++) size[i] = ct_tensor_dim(t, i);
    return ct_slice(t, begin, size);
}

/* Rows [from, from + len) of t (through the permutation when shuffled). */
static ct_tensor *rows(const source *s, const ct_tensor *t, int64_t from, int64_t len) {
    if (!t) return NULL;
    if (!s->perm) return take_part(t, from, len);
    ct_tensor *idx = ct_slice(s->perm, (int64_t[]){from}, (int64_t[]){len});
    return ct_gather(t, idx, 0, 0);
}

/* class_weight -> per-sample weights from the labels (Keras 3's
 * class_weight_to_sample_weights: argmax of one-hot labels, else the
 * rounded label). A label without an entry is an error, as TF's gather. */
static ct_tensor *class_weights(const source *s, const ct_tensor *y) {
    ct_tensor *c = (ct_tensor *)y;
    int r = ct_tensor_rank(y);
    if (r >= 2) c = ct_tensor_dim(y, -1) > 1 ? ct_argmax(y, -1) : ct_squeeze(y, CT_AXES(-1));
    if (c && ct_dtype_is_float(ct_tensor_dtype(c))) c = ct_round(c);
    if (!c) return NULL;
    int64_t n = ct_tensor_size(c);
    double *lab = malloc((size_t)(n ? n : 1) * sizeof *lab);
    float *w = malloc((size_t)(n ? n : 1) * sizeof *w);
    ct_tensor *out = NULL;
    if (!lab || !w) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", s->who);
    } else if (!ct_tensor_read(c, CT_FLOAT64, lab, n)) {
        int64_t i = 0;
        for (; i < n; i++) {
            if (!(lab[i] >= 0 && lab[i] < s->ncw)) break;
            w[i] = (float)s->cw[(int64_t)lab[i]];
        }
        if (i < n)
            ct__error(CT_ERR_INVALID_ARGUMENT,
                      "%s: model '%s': class_weight has %d entries but a label is %g", s->who,
                      model_name(s->m), s->ncw, lab[i]);
        else
            out = ct_constant(w, CT_FLOAT32, ct_tensor_rank(c), ct_tensor_shape(c));
    }
    free(lab);
    free(w);
    return out;
}

/* Splits a dataset element into inputs, targets and a sample weight. A
 * model with one input and one output takes (x, y[, sample_weight]);
 * with several, components named after the model's inputs are those
 * inputs (tf.data's (features_dict, labels)) and the unnamed ones the
 * targets then the weight; without names, the first nin components are
 * the inputs in order. */
static ct_status split_element(source *s, const ct_element *e, batch *b) {
    ct_model *m = s->m;
    int nin = ct_model_num_inputs(m), nout = ct_model_num_outputs(m);
    bool by_name = nin > 1 || (e->n > 0 && e->name[0]);
    int rest[CT_MAX_COMPONENTS], nrest = 0;
    if (by_name) {
        bool all = true;
        for (int i = 0; i < nin && all; i++) {
            const char *want = ct_model_input_name(m, i);
            b->x[i] = NULL;
            for (int k = 0; want && k < e->n; k++)
                if (e->name[k] && !strcmp(e->name[k], want)) b->x[i] = e->t[k];
            all = b->x[i] != NULL;
        }
        if (all) {
            b->nx = nin;
            for (int k = 0; k < e->n; k++)
                if (!e->name[k]) rest[nrest++] = k;
        } else {
            by_name = false;
        }
    }
    if (!by_name) {
        if (e->n < nin) goto bad;
        b->nx = nin;
        for (int i = 0; i < nin; i++) b->x[i] = e->t[i];
        for (int k = nin; k < e->n; k++) rest[nrest++] = k;
    }
    if (s->x_only) return CT_OK; /* targets, if any, are not needed */
    if (nrest < nout || nrest > nout + 1) goto bad;
    b->ny = nout;
    for (int i = 0; i < nout; i++) b->y[i] = e->t[rest[i]];
    b->sw = nrest > nout ? e->t[rest[nout]] : NULL;
    return CT_OK;
bad:
    return ct__error(CT_ERR_INVALID_ARGUMENT,
                     "%s: model '%s' has %d input%s and %d output%s: dataset elements must be "
                     "(%s%s) (inputs, targets, optionally one sample weight), got %d "
                     "component%s",
                     s->who, model_name(m), nin, nin == 1 ? "" : "s", nout, nout == 1 ? "" : "s",
                     nin == 1 ? "x" : "inputs...", s->x_only ? "" : ", y[, sample_weight]", e->n,
                     e->n == 1 ? "" : "s");
}

/* The next batch of a dataset that gives this replica's own batches. The
 * replicas agree each step on the global batch's size (the sum of their
 * rows) and on the end: a replica whose shard ran out takes part with no
 * rows until every shard has. */
static ct_status per_replica_next(source *s, batch *b, bool *end) {
    ct_element *e = NULL;
    ct_status st = CT_OK;
    /* A failed read takes part in the vote below, so that the other
     * replicas fail now instead of waiting for this one. */
    if (!s->exhausted && (st = ct_iterator_next(s->it, &e))) e = NULL;
    if (!e && !st) s->exhausted = true;
    if (e) {
        b->elem = e;
        st = split_element(s, e, b);
    }
    char why[1024] = "";
    if (st) snprintf(why, sizeof why, "%s", ct_last_error());
    double v[2] = {e ? 1 : 0, e && b->nx && ct_tensor_rank(b->x[0]) ? (double)ct_tensor_dim(b->x[0], 0) : 0};
    if (st) v[0] = -1e9; /* a replica's bad element fails them all */
    ct_status r = ct__strategy_sum_doubles(s->m->strategy, v, 2);
    if (st) return ct__error(st, "%s", why);
    if (r) return r;
    if (v[0] < 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: model '%s': another replica could not read its batch",
                         s->who, model_name(s->m));
    if (v[0] == 0) {
        *end = true;
        s->open = false;
        return CT_OK;
    }
    b->global_n = (int64_t)v[1];
    b->local_n = e && b->nx ? ct_tensor_dim(b->x[0], 0) : 0;
    b->empty = b->local_n == 0;
    return CT_OK;
}

/* The next batch into *b (its tensors in the current scope or held by
 * b->elem), or *end at the end of the pass. */
static ct_status source_next(source *s, batch *b, bool *end) {
    memset(b, 0, sizeof *b);
    *end = false;
    if (s->ds && s->per_replica && ct__strategy_replicas(s->m->strategy) > 1) {
        ct_status st = per_replica_next(s, b, end);
        if (st || *end) return st;
    } else if (s->ds) {
        ct_element *e = NULL;
        if (ct_iterator_next(s->it, &e)) return ct_last_status();
        if (!e) {
            *end = true;
            s->open = false;
            return CT_OK;
        }
        b->elem = e;
        ct_status st = split_element(s, e, b);
        if (st) return st;
        /* Under a strategy every replica reads the same global batches
         * (a seeded pipeline: ct_set_random_seed on every rank) and keeps
         * its part of each, in rank order. */
        int reps = ct__strategy_replicas(s->m->strategy);
        if (reps > 1 && b->nx > 0 && ct_tensor_rank(b->x[0]) > 0) {
            int64_t len = ct_tensor_dim(b->x[0], 0);
            int r = ct__strategy_rank(s->m->strategy);
            int64_t from = len * r / reps, count = len * (r + 1) / reps - from;
            b->global_n = len;
            b->local_n = count;
            b->empty = count == 0;
            bool ok = true;
            for (int i = 0; !b->empty && i < b->nx; i++)
                ok = ok && (b->x[i] = take_part(b->x[i], from, count));
            for (int i = 0; !b->empty && i < b->ny; i++)
                ok = ok && (b->y[i] = take_part(b->y[i], from, count));
            if (!b->empty && b->sw) ok = ok && (b->sw = take_part(b->sw, from, count));
            if (!ok) return ct_last_status();
        }
    } else {
        if (s->pos >= s->n) {
            *end = true;
            s->open = false;
            return CT_OK;
        }
        int64_t len = s->n - s->pos < s->batch_size ? s->n - s->pos : s->batch_size;
        /* Under a strategy this replica takes its part of the global
         * batch, in rank order. */
        int64_t from = s->pos, count = len;
        int reps = ct__strategy_replicas(s->m->strategy);
        if (reps > 1) {
            int r = ct__strategy_rank(s->m->strategy);
            from = s->pos + len * r / reps;
            count = s->pos + len * (r + 1) / reps - from;
            b->global_n = len;
            b->local_n = count;
            b->empty = count == 0;
        }
        b->nx = s->a.nx;
        b->ny = s->x_only ? 0 : s->a.ny;
        bool ok = true;
        for (int i = 0; !b->empty && i < b->nx; i++)
            ok = ok && (b->x[i] = rows(s, s->a.x[i], from, count));
        for (int i = 0; !b->empty && i < b->ny; i++)
            ok = ok && (b->y[i] = rows(s, s->a.y[i], from, count));
        if (!b->empty && !s->x_only && s->a.sw)
            ok = ok && (b->sw = rows(s, s->a.sw, from, count));
        s->pos += len;
        if (!ok) return ct_last_status();
    }
    s->taken++;
    if (s->cw && b->ny == 1 && !b->empty) {
        if (b->sw)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: model '%s': you cannot use class_weight and sample_weight at "
                             "the same time",
                             s->who, model_name(s->m));
        if (!(b->sw = class_weights(s, b->y[0]))) return ct_last_status();
    }
    return CT_OK;
}

/* Every array must have the same number of samples (*n). */
static ct_status check_tensors(ct_model *m, const char *who, const arrays *a, int64_t *n) {
    if (a->nx == 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: model '%s': give x or a dataset", who,
                         model_name(m));
    for (int i = 0; i < a->nx; i++)
        if (!a->x[i] || ct_tensor_rank(a->x[i]) < 1)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: model '%s': x%s must have a samples axis, got %s", who,
                             model_name(m), a->nx > 1 ? "s[i]" : "",
                             a->x[i] ? "a scalar" : "NULL");
    *n = ct_tensor_dim(a->x[0], 0);
    for (int i = 0; i < a->nx + a->ny + 1; i++) {
        const ct_tensor *t = i < a->nx ? a->x[i] : i < a->nx + a->ny ? a->y[i - a->nx] : a->sw;
        const char *what = i < a->nx ? "x" : i < a->nx + a->ny ? "y" : "sample_weight";
        if (!t) continue;
        if (ct_tensor_rank(t) < 1 || ct_tensor_dim(t, 0) != *n)
            return ct__error(
                CT_ERR_INVALID_ARGUMENT,
                "%s: model '%s': data cardinality is ambiguous: x has %lld samples, "
                "%s has %lld; make sure all arrays contain the same number of samples",
                who, model_name(m), (long long)*n, what,
                (long long)(ct_tensor_rank(t) ? ct_tensor_dim(t, 0) : 0));
    }
    return CT_OK;
}

/* ---- the progress bar (tf.keras 2's Progbar + ProgbarLogger) ---------------------------- */

typedef struct {
    FILE *out;
    int verbose;    /* 1 bar, 2 one line                       */
    bool dynamic;   /* a terminal: redraw in place             */
    int64_t target; /* steps; -1 unknown                       */
    double start, last_update, after_first, epoch_start, epoch_end;
    int64_t first;  /* steps done before the bar began (a resumed epoch) */
    int total_width;
    ct_logs *values; /* the latest value of every key seen      */
} progbar;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void progbar_reset(progbar *p, int64_t target) {
    p->target = target;
    p->start = now_s();
    p->last_update = 0;
    p->after_first = -1;
    p->epoch_start = p->start;
    p->epoch_end = -1;
    p->first = 0;
    p->total_width = 0;
    logs_clear(p->values);
}

static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...) {
    if (*len >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (k > 0) *len = *len + (size_t)k < cap ? *len + (size_t)k : cap - 1;
}

/* Progbar._format_time. */
static void format_time(char *buf, size_t cap, size_t *len, double t, const char *unit) {
    if (t >= 1 || t == 0)
        append(buf, cap, len, " %.0fs/%s", t, unit);
    else if (t >= 1e-3)
        append(buf, cap, len, " %.0fms/%s", t * 1e3, unit);
    else
        append(buf, cap, len, " %.0fus/%s", t * 1e6, unit);
}

/* " - key: value" as Progbar prints a value: %.4f, or %.4e for small
 * ones (|v| for the bar; verbose 2 compares v itself, as Keras does). */
static void format_value(char *buf, size_t cap, size_t *len, const char *key, double v,
                         bool use_abs) {
    append(buf, cap, len, " - %s:", key);
    if (isnan(v))
        append(buf, cap, len, " nan");
    else if ((use_abs ? fabs(v) : v) > 1e-3)
        append(buf, cap, len, " %.4f", v);
    else
        append(buf, cap, len, " %.4e", v);
}

static int num_digits(int64_t n) {
    int d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

/* Progbar.update(current, logs, finalize). */
static void progbar_update(progbar *p, int64_t current, const ct_logs *logs, bool finalize) {
    for (int i = 0; i < ct_logs_size(logs); i++)
        ct_logs_set(p->values, logs->keys[i], logs->vals[i]);
    double now = now_s();
    if (p->target >= 0 && current == p->target) p->epoch_end = now;
    /* Progbar._estimate_step_duration (the first step is left out of the
     * estimate once there are more). */
    double per_step = 0;
    int64_t done = current - p->first; /* the steps this bar timed */
    if (done > 0) {
        per_step = p->after_first >= 0 && done > 1
                       ? (now - p->after_first) / (double)(done - 1)
                       : (now - p->start) / (double)done;
        if (done == 1) p->after_first = now;
    }
    char msg[4096];
    size_t len = 0;
    if (p->verbose == 1) {
        /* Off a terminal only each epoch's final line is written, with no
         * control characters. */
        if (!finalize && (!p->dynamic || now - p->last_update < 0.05)) return;
        int prev = p->total_width;
        if (p->dynamic) append(msg, sizeof msg, &len, "\r");
        size_t bar_start = len;
        if (p->target >= 0) {
            append(msg, sizeof msg, &len, "%*lld/%lld [", num_digits(p->target), (long long)current,
                   (long long)p->target);
            double prog = p->target ? (double)current / (double)p->target : 1.0;
            int width = 30, prog_width = (int)(width * prog);
            if (prog_width > width) prog_width = width;
            if (prog_width > 0) {
                for (int i = 0; i < prog_width - 1; i++)
                    append(msg, sizeof msg, &len, "=");
                append(msg, sizeof msg, &len, current < p->target ? ">" : "=");
            }
            for (int i = prog_width; i < width; i++)
                append(msg, sizeof msg, &len, ".");
            append(msg, sizeof msg, &len, "]");
        } else {
            append(msg, sizeof msg, &len, "%7lld/Unknown", (long long)current);
        }
        size_t info_start = len;
        if (p->target < 0 || finalize) {
            append(msg, sizeof msg, &len, " - %.0fs", now - p->start);
            format_time(msg, sizeof msg, &len, per_step, "step");
        } else {
            double eta = per_step * (double)(p->target - current);
            if (eta > 3600)
                append(msg, sizeof msg, &len, " - ETA: %d:%02d:%02d", (int)(eta / 3600),
                       (int)fmod(eta, 3600) / 60, (int)fmod(eta, 60));
            else if (eta > 60)
                append(msg, sizeof msg, &len, " - ETA: %d:%02d", (int)(eta / 60),
                       (int)fmod(eta, 60));
            else
                append(msg, sizeof msg, &len, " - ETA: %ds", (int)eta);
        }
        for (int i = 0; i < p->values->n; i++)
            format_value(msg, sizeof msg, &len, p->values->keys[i], p->values->vals[i], true);
        p->total_width = (int)(info_start - bar_start) + (int)(len - info_start);
        if (p->dynamic && prev > p->total_width)
            append(msg, sizeof msg, &len, "%*s", prev - p->total_width, "");
        if (finalize) append(msg, sizeof msg, &len, "\n");
        fputs(msg, p->out);
        fflush(p->out);
    } else if (p->verbose == 2 && finalize) {
        append(msg, sizeof msg, &len, "%*lld/%lld", num_digits(p->target), (long long)current,
               (long long)p->target);
        append(msg, sizeof msg, &len, " - %.0fs", now - p->start);
        for (int i = 0; i < p->values->n; i++)
            format_value(msg, sizeof msg, &len, p->values->keys[i], p->values->vals[i], false);
        if (p->epoch_end >= 0) {
            double per_epoch = p->epoch_end - p->epoch_start;
            append(msg, sizeof msg, &len, " -");
            format_time(msg, sizeof msg, &len, per_epoch, "epoch");
            append(msg, sizeof msg, &len, " -");
            format_time(msg, sizeof msg, &len, p->target > 0 ? per_epoch / (double)p->target : 0,
                        "step");
            append(msg, sizeof msg, &len, "\n");
            p->epoch_start = now;
            p->epoch_end = -1;
        }
        fputs(msg, p->out);
        fflush(p->out);
    }
    p->last_update = now;
}

/* ---- the callback list --------------------------------------------------------------------- */

/* ProgbarLogger first, the user's callbacks in order, History last
 * (tf.keras's CallbackList). The first error a callback raises stops the
 * loop. */
typedef struct {
    ct_model *m;
    int n;
    ct_callback *const *cbs;
    progbar *pb;    /* NULL: silent                         */
    int epochs;     /* for "Epoch i/n"                      */
    int64_t seen;   /* steps of the bar's pass so far       */
    int64_t resumed_at; /* the next epoch begins at this step (resuming) */
    int64_t target; /* the steps of a pass (-1 unknown)     */
    bool in_fit;    /* validation inside fit shows no bar   */
    ct_history *history;
    ct_logs *empty; /* what the begin hooks get             */
    ct_status st;
} cblist;

static void take_errors(cblist *l) {
    for (int i = 0; i < l->n; i++) {
        ct_status st = ct__callback_take_error(l->cbs[i]);
        if (st && !l->st) l->st = st;
    }
}

#define DISPATCH(l, hook, ...)                                                                     \
    do {                                                                                           \
        for (int i_ = 0; i_ < (l)->n; i_++) {                                                      \
            const ct_callback_hooks *h_ = ct__callback_hooks((l)->cbs[i_]);                        \
            if (h_->hook) h_->hook(h_->ctx, (l)->m, __VA_ARGS__);                                  \
        }                                                                                          \
        take_errors(l);                                                                            \
    } while (0)

static void cb_train_begin(cblist *l) { DISPATCH(l, on_train_begin, l->empty); }

static void cb_epoch_begin(cblist *l, int epoch) {
    if (l->pb) {
        progbar_reset(l->pb, l->target);
        l->seen = l->pb->first = l->resumed_at;
        if (l->epochs > 1) {
            fprintf(l->pb->out, "Epoch %d/%d\n", epoch + 1, l->epochs);
            fflush(l->pb->out);
        }
    }
    logs_clear(l->empty);
    DISPATCH(l, on_epoch_begin, epoch, l->empty);
}

/* The bar's end of a pass: an unknown target becomes the steps seen. */
static void bar_finalize(cblist *l, const ct_logs *logs) {
    if (l->pb->target < 0) l->pb->target = l->seen;
    progbar_update(l->pb, l->pb->target, logs, true);
}

static void cb_epoch_end(cblist *l, int epoch, ct_logs *logs) {
    if (l->pb) bar_finalize(l, logs);
    DISPATCH(l, on_epoch_end, epoch, logs);
    if (l->history && !l->st) {
        ct_status st = history_record(l->history, epoch, logs);
        if (st) l->st = st;
    }
}

static void cb_train_batch_begin(cblist *l, int64_t step) {
    logs_clear(l->empty);
    DISPATCH(l, on_train_batch_begin, step, l->empty);
}

/* Whether anyone reads this step's logs: a callback with a batch-end hook,
 * or the progress bar about to draw (its final line, or a redraw on a
 * terminal). Computing the metrics' results costs more than a small step,
 * so fit skips it when nobody looks (the epoch's logs are always made). */
static bool batch_logs_wanted(const cblist *l, int64_t step) {
    for (int i = 0; i < l->n; i++)
        if (ct__callback_hooks(l->cbs[i])->on_train_batch_end) return true;
    if (!l->pb || l->pb->verbose != 1) return false;
    if (l->target >= 0 && step + 1 >= l->target) return true;
    return l->pb->dynamic && now_s() - l->pb->last_update >= 0.05;
}

static void cb_train_batch_end(cblist *l, int64_t step, ct_logs *logs) {
    if (l->pb) {
        l->seen = step + 1;
        if (l->pb->verbose == 1) progbar_update(l->pb, l->seen, logs, false);
    }
    DISPATCH(l, on_train_batch_end, step, logs);
}

static void cb_train_end(cblist *l, ct_logs *logs) { DISPATCH(l, on_train_end, logs); }

static void cb_test_begin(cblist *l) {
    if (l->pb && !l->in_fit) {
        progbar_reset(l->pb, l->target);
        l->seen = 0;
    }
    logs_clear(l->empty);
    DISPATCH(l, on_test_begin, l->empty);
}

static void cb_test_batch_begin(cblist *l, int64_t step) {
    logs_clear(l->empty);
    DISPATCH(l, on_test_batch_begin, step, l->empty);
}

static void cb_test_batch_end(cblist *l, int64_t step, ct_logs *logs) {
    if (l->pb && !l->in_fit) {
        l->seen = step + 1;
        if (l->pb->verbose == 1) progbar_update(l->pb, l->seen, logs, false);
    }
    DISPATCH(l, on_test_batch_end, step, logs);
}

static void cb_test_end(cblist *l, ct_logs *logs) {
    if (l->pb && !l->in_fit) bar_finalize(l, logs);
    DISPATCH(l, on_test_end, logs);
}

static void cb_predict_begin(cblist *l) {
    if (l->pb) {
        progbar_reset(l->pb, l->target);
        l->seen = 0;
    }
    logs_clear(l->empty);
    DISPATCH(l, on_predict_begin, l->empty);
}

static void cb_predict_batch_begin(cblist *l, int64_t step) {
    logs_clear(l->empty);
    DISPATCH(l, on_predict_batch_begin, step, l->empty);
}

/* Keras passes {"outputs": ...}; a logs dict holds numbers only, so the
 * hook gets empty logs (the outputs are what ct_model_predict returns). */
static void cb_predict_batch_end(cblist *l, int64_t step) {
    logs_clear(l->empty);
    if (l->pb) {
        l->seen = step + 1;
        if (l->pb->verbose == 1) progbar_update(l->pb, l->seen, l->empty, false);
    }
    DISPATCH(l, on_predict_batch_end, step, l->empty);
}

static void cb_predict_end(cblist *l) {
    logs_clear(l->empty);
    if (l->pb) bar_finalize(l, l->empty);
    DISPATCH(l, on_predict_end, l->empty);
}

/* Sets up the list (and the bar unless silent); cblist_done frees it. */
static ct_status cblist_init(cblist *l, progbar *pb, ct_model *m, int n, ct_callback *const *cbs,
                             int verbose, FILE *out, int epochs, const char *who) {
    memset(l, 0, sizeof *l);
    memset(pb, 0, sizeof *pb);
    l->m = m;
    /* Under a strategy only rank 0 prints. */
    if (ct__strategy_rank(m->strategy) != 0) verbose = CT_VERBOSE_SILENT;
    l->epochs = epochs;
    if (n < 0 || (n > 0 && !cbs))
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: bad callback count or list", who);
    for (int i = 0; i < n; i++)
        if (!cbs[i]) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: callback %d is NULL", who, i);
    l->n = n;
    l->cbs = cbs;
    if (!(l->empty = logs_new())) return ct_last_status();
    if (verbose == CT_VERBOSE_AUTO) verbose = CT_VERBOSE_BAR;
    if (verbose == CT_VERBOSE_BAR || verbose == CT_VERBOSE_EPOCH) {
        pb->out = out ? out : stdout;
        pb->verbose = verbose;
        pb->dynamic = isatty(fileno(pb->out)) == 1;
        if (!(pb->values = logs_new())) return ct_last_status();
        l->pb = pb;
    } else if (verbose != CT_VERBOSE_SILENT && verbose != 0) {
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: verbose must be CT_VERBOSE_AUTO, _BAR, _EPOCH or _SILENT, got %d",
                         who, verbose);
    }
    return CT_OK;
}

static void cblist_done(cblist *l, progbar *pb) {
    ct_logs_free(l->empty);
    ct_logs_free(pb->values);
    l->empty = NULL;
    pb->values = NULL;
}

/* ---- evaluate loop ---------------------------------------------------------------------- */

/* Keras's evaluate body: reset the metrics, test steps over one pass of
 * src with the test hooks, the final metrics into logs. */
static ct_status run_evaluate(ct_model *m, source *src, cblist *l, ct_logs *logs, const char *who) {
    ct_status st = CT_OK;
    l->target = source_target(src);
    cb_test_begin(l);
    if ((st = l->st)) return st;
    reset_metrics(m);
    if ((st = source_begin_epoch(src))) return st;
    for (int64_t step = 0; src->steps <= 0 || step < src->steps; step++) {
        batch b;
        bool end;
        ct_scope_begin();
        st = source_next(src, &b, &end);
        if (!st && !end) {
            cb_test_batch_begin(l, step);
            st = l->st;
            if (!st) st = test_step(m, &b, who);
            if (!st) st = metrics_logs(m, logs);
            if (!st) {
                cb_test_batch_end(l, step, logs);
                st = l->st;
            }
        }
        ct_scope_end();
        ct_element_free(b.elem);
        if (st) return st;
        if (end) {
            if (src->steps > 0)
                fprintf(stderr,
                        "WARNING: %s: your input ran out of data; interrupting "
                        "evaluation. Make sure that your dataset can generate at least "
                        "`steps` batches.\n",
                        who);
            break;
        }
    }
    if ((st = merged_logs(m, logs))) return st;
    cb_test_end(l, logs);
    return l->st;
}

/* ---- fit -------------------------------------------------------------------------------- */

/* Rows [from, to) of t as a caller-owned reference (NULL passes). */
static ct_tensor *take_rows(const ct_tensor *t, int64_t from, int64_t to) {
    if (!t) return NULL;
    int r = ct_tensor_rank(t);
    int64_t begin[CT_MAX_RANK] = {0}, size[CT_MAX_RANK];
    begin[0] = from;
    size[0] = to - from;
    for (int i = 1; i < r; i++)
        size[i] = ct_tensor_dim(t, i);
    ct_scope_begin();
    ct_tensor *s = ct_slice(t, begin, size);
    ct_tensor *out = s ? ct_tensor_ref(s) : NULL;
    ct_scope_end();
    return out;
}

/* Tensors fit made and frees at its end. */
typedef struct {
    int n;
    ct_tensor *t[4 * MAXIO + 2];
} owned_list;

static bool owned_push(owned_list *l, ct_tensor *t) {
    if (l->n >= (int)(sizeof l->t / sizeof l->t[0])) return false;
    l->t[l->n++] = t;
    return true;
}

/* Every replica's stop flags after a batch: any replica's stop, and any
 * replica's preemption (a stop request with a backup to save). */
static ct_status agree_stop(ct_model *m, bool *stop, bool *preempt) {
    double v[2] = {*stop ? 1 : 0, *preempt ? 1 : 0};
    ct_status st = ct__strategy_max_doubles(m->strategy, v, 2);
    if (st) return st;
    *stop = v[0] > 0;
    *preempt = v[1] > 0;
    return CT_OK;
}

/* Every replica's outcome of a step that may fail on some of them only:
 * CT_OK when all succeeded, else this replica's error or one saying that
 * another failed (so that no replica goes on alone into a collective). */
static ct_status agree_ok(ct_model *m, ct_status st, const char *who) {
    if (ct__strategy_replicas(m->strategy) < 2) return st;
    char why[1024];
    snprintf(why, sizeof why, "%s", st ? ct_last_error() : "");
    double failed = st ? 1 : 0;
    ct_status r = ct__strategy_sum_doubles(m->strategy, &failed, 1);
    if (st) return ct__error(st, "%s", why);
    if (r) return r;
    if (failed > 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: another replica could not resume", who);
    return CT_OK;
}

/* ---- resuming (BackupAndRestore) ------------------------------------------------------------ */

/* A fit's position in a training checkpoint: per replica, info fields
 * "epoch" (the epoch under way, or the next one) and "step" (its batches
 * done), "learning_rate" (the rate at that epoch's start, before its
 * on_epoch_begin hooks, which may set it again), "callbacks" (each
 * built-in's state, in the fit's order) and "source" (the batch source's
 * counters), and streams "metrics" (every metric variable's bytes) and
 * "source.iterator" / "source.perm" (the dataset iterator's position, or
 * the arrays' shuffle order). */
typedef struct {
    const ct__backup_config *cfg;
    ct_checkpoint_manager *cm;
    int64_t batches; /* trained since fit began (save_freq) */
} backup;

static ct_status find_backup(int n, ct_callback *const *cbs, backup *bk, const char *who) {
    memset(bk, 0, sizeof *bk);
    for (int i = 0; i < n; i++) {
        const ct__backup_config *c = cbs[i] ? ct__callback_backup(cbs[i]) : NULL;
        if (!c) continue;
        if (bk->cfg)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: more than one BackupAndRestore callback (callbacks %d and "
                             "earlier); give one",
                             who, i);
        bk->cfg = c;
    }
    return CT_OK;
}

static int metric_vars(ct_model *m, ct_variable **vars) {
    int k = 0;
    for (int i = 0; i < m->nmetrics; i++)
        for (int j = 0; j < ct_metric_num_variables(m->metrics[i]); j++, k++)
            if (vars) vars[k] = ct_metric_variable(m->metrics[i], j);
    return k;
}


/* The bytes of every variable of vars, one after the other. */
static ct_status vars_bytes(int n, ct_variable *const *vars, void **out, size_t *len) {
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        const ct_tensor *v = ct_variable_value(vars[i]);
        total += (size_t)ct_tensor_size(v) * ct_dtype_size(ct_tensor_dtype(v));
    }
    char *buf = malloc(total ? total : 1);
    if (!buf) return ct__error(CT_ERR_OUT_OF_MEMORY, "saving the metrics: out of memory");
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        const ct_tensor *v = ct_variable_value(vars[i]);
        ct_dtype dt = ct_tensor_dtype(v);
        int64_t k = ct_tensor_size(v);
        if (ct_tensor_read(v, dt, buf + off, k)) {
            free(buf);
            return ct_last_status();
        }
        off += (size_t)k * ct_dtype_size(dt);
    }
    *out = buf;
    *len = total;
    return CT_OK;
}

/* vars from a stream of vars_bytes (what: what they are, for the error);
 * checks the size before it assigns any. */
static ct_status set_vars_bytes(int n, ct_variable *const *vars, const ct__state_part *p,
                                const char *what, const char *where) {
    size_t total = 0, off = 0;
    for (int i = 0; i < n; i++) {
        const ct_tensor *v = ct_variable_value(vars[i]);
        total += (size_t)ct_tensor_size(v) * ct_dtype_size(ct_tensor_dtype(v));
    }
    if (!p || p->len != total)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: the checkpoint's %s (%zu bytes) do not fit this fit's (%zu bytes in "
                         "%d variables)",
                         where, what, p ? p->len : 0, total, n);
    ct_status st = CT_OK;
    ct_scope_begin();
    for (int i = 0; !st && i < n; i++) {
        const ct_tensor *v = ct_variable_value(vars[i]);
        size_t bytes = (size_t)ct_tensor_size(v) * ct_dtype_size(ct_tensor_dtype(v));
        ct_tensor *t = ct_constant((const char *)p->data + off, ct_tensor_dtype(v),
                                   ct_tensor_rank(v), ct_tensor_shape(v));
        st = t ? ct_variable_assign(vars[i], t) : ct_last_status();
        off += bytes;
    }
    ct_scope_end();
    return st;
}

/* A callback's tensors as bytes: count, then each tensor's dtype, rank,
 * shape and values. */
static ct_status tensors_bytes(int n, ct_tensor *const *t, void **out, size_t *len) {
    size_t total = sizeof(int32_t);
    for (int i = 0; i < n; i++)
        total += 2 * sizeof(int32_t) + (size_t)ct_tensor_rank(t[i]) * sizeof(int64_t) +
                 (size_t)ct_tensor_size(t[i]) * ct_dtype_size(ct_tensor_dtype(t[i]));
    char *buf = malloc(total), *p = buf;
    if (!buf) return ct__error(CT_ERR_OUT_OF_MEMORY, "saving a callback's state: out of memory");
    int32_t k = n;
    memcpy(p, &k, sizeof k), p += sizeof k;
    for (int i = 0; i < n; i++) {
        int32_t dt = (int32_t)ct_tensor_dtype(t[i]), r = ct_tensor_rank(t[i]);
        memcpy(p, &dt, sizeof dt), p += sizeof dt;
        memcpy(p, &r, sizeof r), p += sizeof r;
        memcpy(p, ct_tensor_shape(t[i]), (size_t)r * sizeof(int64_t)), p += (size_t)r * sizeof(int64_t);
        int64_t size = ct_tensor_size(t[i]);
        if (ct_tensor_read(t[i], (ct_dtype)dt, p, size)) {
            free(buf);
            return ct_last_status();
        }
        p += (size_t)size * ct_dtype_size((ct_dtype)dt);
    }
    *out = buf;
    *len = total;
    return CT_OK;
}

/* tensors_bytes back into tensors of the current scope (*n, t[]: malloc'ed). */
static ct_status bytes_tensors(const ct__state_part *p, int *n, ct_tensor ***t, const char *where) {
    const char *b = p->data, *end = b + p->len;
    int32_t k = -1;
    if (p->len >= sizeof k) memcpy(&k, b, sizeof k), b += sizeof k;
    if (k < 0 || k > 1 << 20) goto bad;
    *t = calloc((size_t)(k ? k : 1), sizeof **t);
    if (!*t) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    *n = 0;
    for (int i = 0; i < k; i++) {
        int32_t dt, r;
        if (end - b < (ptrdiff_t)(2 * sizeof(int32_t))) goto bad;
        memcpy(&dt, b, sizeof dt), b += sizeof dt;
        memcpy(&r, b, sizeof r), b += sizeof r;
        if (r < 0 || r > CT_MAX_RANK || end - b < (ptrdiff_t)(r * sizeof(int64_t))) goto bad;
        int64_t shape[CT_MAX_RANK], size = 1;
        memcpy(shape, b, (size_t)r * sizeof(int64_t)), b += (size_t)r * sizeof(int64_t);
        for (int d = 0; d < r; d++) {
            if (shape[d] < 0 || (shape[d] && size > INT64_MAX / shape[d])) goto bad;
            size *= shape[d];
        }
        size_t es = ct_dtype_size((ct_dtype)dt);
        if (!es || (uint64_t)size > (uint64_t)(end - b) / es) goto bad;
        ct_tensor *x = ct_constant(b, (ct_dtype)dt, r, shape);
        if (!x) return ct_last_status();
        (*t)[(*n)++] = x;
        b += (size_t)size * es;
    }
    if (b == end) return CT_OK;
bad:
    return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: stream %s is damaged (%zu bytes)", where,
                     p->name, p->len);
}

/* Fit's state at a save point into ts. */
static ct_status fit_state(ct_model *m, const source *src, int epoch, int64_t step, double lr,
                           const cblist *l, ct__train_state *ts) {
    json_t *info = json_object(), *cbs = json_array(), *so = json_object();
    ts->info = info;
    if (!info || !cbs || !so) {
        json_decref(cbs);
        json_decref(so);
        return ct__error(CT_ERR_OUT_OF_MEMORY, "saving fit's state: out of memory");
    }
    json_object_set_new(info, "epoch", json_integer(epoch));
    json_object_set_new(info, "step", json_integer(step));
    if (!isnan(lr)) json_object_set_new(info, "learning_rate", json_real(lr));
    for (int i = 0; i < l->n; i++) {
        json_t *cs = ct__callback_get_state(l->cbs[i]);
        if (!cs && ct_last_status()) {
            json_decref(cbs);
            json_decref(so);
            return ct_last_status();
        }
        json_array_append_new(cbs, cs ? cs : json_null());
    }
    json_object_set_new(info, "callbacks", cbs);
    for (int i = 0; i < l->n; i++) {
        ct_tensor *const *t;
        int n = ct__callback_tensors(l->cbs[i], &t);
        if (!n) continue;
        void *buf = NULL;
        size_t len = 0;
        char name[64];
        snprintf(name, sizeof name, "callback.%d", i);
        ct_status st = tensors_bytes(n, t, &buf, &len);
        if (!st) st = ct__train_state_put(ts, name, buf, len);
        if (st) {
            json_decref(so);
            return st;
        }
    }
    json_object_set_new(so, "pos", json_integer(src->pos));
    json_object_set_new(so, "taken", json_integer(src->taken));
    json_object_set_new(so, "open", json_boolean(src->open));
    json_object_set_new(so, "exhausted", json_boolean(src->exhausted));
    json_object_set_new(info, "source", so);
    int nv = metric_vars(m, NULL);
    ct_variable **vars = malloc((size_t)(nv ? nv : 1) * sizeof *vars);
    if (!vars) return ct__error(CT_ERR_OUT_OF_MEMORY, "saving fit's state: out of memory");
    metric_vars(m, vars);
    void *buf;
    size_t len;
    ct_status st = vars_bytes(nv, vars, &buf, &len);
    free(vars);
    if (!st) st = ct__train_state_put(ts, "metrics", buf, len);
    if (!st && ct__strategy_replicas(m->strategy) > 1) {
        int nl;
        ct_variable **lv = ct__model_variables(m, CT__VARS_NON_TRAINABLE, &nl);
        if (nl < 0) return ct__error(CT_ERR_OUT_OF_MEMORY, "saving fit's state: out of memory");
        if (!(st = vars_bytes(nl, lv, &buf, &len)))
            st = ct__train_state_put(ts, "model.local", buf, len);
        free(lv);
    }
    if (!st && src->it) {
        if (!(st = ct_iterator_save(src->it, &buf, &len)))
            st = ct__train_state_put(ts, "source.iterator", buf, len);
    }
    if (!st && src->perm) {
        int64_t n = ct_tensor_size(src->perm);
        int64_t *p = malloc((size_t)(n ? n : 1) * sizeof *p);
        if (!p) return ct__error(CT_ERR_OUT_OF_MEMORY, "saving fit's state: out of memory");
        if ((st = ct_tensor_read(src->perm, CT_INT64, p, n)))
            free(p);
        else
            st = ct__train_state_put(ts, "source.perm", p, (size_t)n * sizeof *p);
    }
    return st;
}

/* Saves a checkpoint at (epoch, step): every replica, at the same point. */
static ct_status backup_save(ct_model *m, backup *bk, const source *src, int epoch, int64_t step,
                             double lr, const cblist *l) {
    ct__train_state ts = {0};
    ct_status st = fit_state(m, src, epoch, step, lr, l, &ts);
    if (st) {
        char why[1024];
        snprintf(why, sizeof why, "%s", ct_last_error());
        st = ct__error(st, "BackupAndRestore: %s", why);
    }
    /* A replica that could not gather its state still takes part in the
     * save's votes (the manager fails them all). */
    const char *path = ct__checkpoint_manager_save_state(bk->cm, &ts, st);
    ct__train_state_clear(&ts);
    return path ? CT_OK : ct_last_status();
}

static int64_t json_int(const json_t *o, const char *key, int64_t dflt) {
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* The batch source's position from a checkpoint. */
static ct_status restore_source(source *src, const ct__train_state *ts, const char *where) {
    const json_t *so = json_object_get(ts->info, "source");
    if (!json_is_object(so))
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the checkpoint has no source position",
                         where);
    const ct__state_part *it = ct__train_state_get(ts, "source.iterator");
    const ct__state_part *perm = ct__train_state_get(ts, "source.perm");
    if (it && !src->ds)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: the checkpoint was trained from a dataset, this fit has arrays",
                         where);
    if (src->ds && it) {
        if (!src->it && !(src->it = ct_dataset_iterator(src->ds))) return ct_last_status();
        ct_status st = ct_iterator_restore(src->it, it->data, it->len);
        if (st) {
            char why[1024];
            snprintf(why, sizeof why, "%s", ct_last_error());
            return ct__error(st, "%s: the training dataset: %s", where, why);
        }
    }
    if (perm) {
        int64_t n = (int64_t)(perm->len / sizeof(int64_t));
        if (src->ds || n != src->n)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: the checkpoint's shuffle order has %lld samples, this fit's "
                             "training arrays %lld",
                             where, (long long)n, (long long)src->n);
        ct_tensor *p = ct_constant(perm->data, CT_INT64, 1, (int64_t[]){n});
        if (!p) return ct_last_status();
        if (src->perm) ct_tensor_free(src->perm);
        src->perm = p;
    }
    src->pos = json_int(so, "pos", 0);
    src->taken = json_int(so, "taken", 0);
    src->open = json_is_true(json_object_get(so, "open"));
    src->exhausted = json_is_true(json_object_get(so, "exhausted"));
    if (!src->ds && (src->pos < 0 || src->pos > src->n))
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: the checkpoint's position (sample %lld) is past this fit's %lld "
                         "training samples",
                         where, (long long)src->pos, (long long)src->n);
    return CT_OK;
}

/* A model not built yet is built for the training data's first input
 * (as its first batch would), so that the checkpoint's weights fit it. */
static ct_status build_for(ct_model *m, const source *src) {
    if (ct_layer_built(ct_model_layer(m))) return CT_OK;
    if (src->ds) {
        const ct_element_spec *spec = ct_dataset_element_spec(src->ds);
        if (spec && spec->n > 0) return ct_model_build(m, spec->c[0].rank, spec->c[0].shape);
    } else if (src->a.nx > 0) {
        const ct_tensor *x = src->a.x[0];
        int64_t shape[CT_MAX_RANK];
        int r = ct_tensor_rank(x);
        for (int i = 0; i < r; i++) shape[i] = i ? ct_tensor_dim(x, i) : -1;
        return ct_model_build(m, r, shape);
    }
    return CT_OK;
}

/* Before the callbacks' on_train_begin: opens the backup directory and
 * reads its latest checkpoint (or cfg's restore_from) into *ts, with the
 * model's weights, the optimizer's state and the random state restored.
 * ts->info stays NULL when there is nothing to resume. */
static ct_status backup_open(ct_model *m, backup *bk, source *src, ct__train_state *ts,
                             const char *who) {
    memset(ts, 0, sizeof *ts);
    if (!bk->cfg) return CT_OK;
    ct_status st = build_for(m, src);
    if (st) return st;
    bk->cm = ct_checkpoint_manager_new(m, bk->cfg->backup_dir,
                                       &(ct_checkpoint_manager_opts){.max_to_keep =
                                                                         bk->cfg->max_to_keep});
    if (!bk->cm) return ct_last_status();
    const char *from = bk->cfg->restore_from ? bk->cfg->restore_from
                                             : ct_checkpoint_manager_latest(bk->cm);
    if (!from) return CT_OK;
    char *path = strdup(from);
    if (!path) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", who);
    st = ct__checkpoint_manager_restore_state(bk->cm, path, ts);
    char where[4200];
    snprintf(where, sizeof where, "%s: BackupAndRestore: '%s'", who, path);
    free(path);
    if (st) return st;
    int64_t epoch = json_int(ts->info, "epoch", -1), step = json_int(ts->info, "step", -1);
    if (epoch < 0 || step < 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: the checkpoint has no fit position (epoch and step); was it saved "
                         "outside fit?",
                         where);
    if ((st = restore_source(src, ts, where))) return st;
    const json_t *lr = json_object_get(ts->info, "learning_rate");
    if (json_is_number(lr) && m->optimizer && !ct__optimizer_has_schedule(m->optimizer) &&
        (st = ct_optimizer_set_learning_rate(m->optimizer, json_number_value(lr))))
        return st;
    m->resuming = true;
    return CT_OK;
}

/* After the callbacks' on_train_begin: their state, then the epoch's
 * metrics once the epoch has begun (backup_metrics). */
static ct_status backup_callbacks(const cblist *l, const ct__train_state *ts, const char *who) {
    const json_t *cbs = json_object_get(ts->info, "callbacks");
    if (!json_is_array(cbs) || (int)json_array_size(cbs) != l->n)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: BackupAndRestore: the checkpoint holds the state of %d callbacks, "
                         "this fit has %d (resume with the same callbacks)",
                         who, json_is_array(cbs) ? (int)json_array_size(cbs) : 0, l->n);
    for (int i = 0; i < l->n; i++) {
        const json_t *cs = json_array_get(cbs, i);
        if (json_is_null(cs)) continue;
        ct_status st = ct__callback_set_state(l->cbs[i], cs);
        if (st) return st;
        char name[64];
        snprintf(name, sizeof name, "callback.%d", i);
        const ct__state_part *p = ct__train_state_get(ts, name);
        if (!p) continue;
        int n = 0;
        ct_tensor **t = NULL;
        ct_scope_begin();
        st = bytes_tensors(p, &n, &t, who);
        if (!st) st = ct__callback_set_tensors(l->cbs[i], n, t);
        ct_scope_end();
        free(t);
        if (st) return st;
    }
    return CT_OK;
}

static ct_status backup_metrics(ct_model *m, const ct__train_state *ts, const char *who) {
    int nv = metric_vars(m, NULL);
    ct_variable **vars = malloc((size_t)(nv ? nv : 1) * sizeof *vars);
    if (!vars) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", who);
    metric_vars(m, vars);
    char where[512];
    snprintf(where, sizeof where, "%s: BackupAndRestore", who);
    ct_status st = set_vars_bytes(nv, vars, ct__train_state_get(ts, "metrics"),
                                  "metric accumulators (compiled with other metrics?)", where);
    free(vars);
    return st;
}

bool ct_model_preempted(const ct_model *m) { return m && m->preempted; }

ct_history *ct_model_fit(ct_model *m, const ct_fit_opts *opts) {
    const char *who = "ct_model_fit";
    ct_fit_opts o0 = {0};
    const ct_fit_opts *o = opts ? opts : &o0;
    if (need_compiled(m, who, true)) return NULL;
    ct_status st = CT_OK;
    ct_history *h = NULL;
    ct_logs *logs = NULL, *epoch_logs = NULL, *val_logs = NULL;
    owned_list owned = {0}; /* the train / validation split's slices */
    source train = {0}, val = {0};
    cblist l;
    progbar pb;
    bool list_ready = false;
    backup bk = {0};
    ct__train_state resume = {0};
    m->preempted = false;

    int epochs = o->epochs ? o->epochs : 1;
    int64_t bs = o->batch_size ? o->batch_size : 32;
    int freq = o->validation_freq ? o->validation_freq : 1;
    if (epochs < 0 || bs < 0 || freq < 0 || o->initial_epoch < 0 || o->steps_per_epoch < 0 ||
        o->validation_steps < 0 || o->nclass_weight < 0) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: model '%s': epochs, batch_size, validation_freq, initial_epoch, "
                       "steps_per_epoch, validation_steps and nclass_weight must not be negative",
                       who, model_name(m));
        goto out;
    }
    if (!(o->validation_split >= 0 && o->validation_split < 1)) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: model '%s': validation_split must be in [0, 1), got %g", who,
                       model_name(m), o->validation_split);
        goto out;
    }
    if (o->nclass_weight > 0 && !o->class_weight) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: model '%s': class_weight is NULL", who,
                       model_name(m));
        goto out;
    }
    arrays given, vgiven;
    if ((st = gather_arrays(m, who, o->x, o->nx, o->xs, o->y, o->ny, o->ys, o->sample_weight,
                            true, &given)) ||
        (st = gather_arrays(m, "ct_model_fit (validation)", o->val_x, o->nval_x, o->val_xs,
                            o->val_y, o->nval_y, o->val_ys, NULL, true, &vgiven)))
        goto out;
    if ((given.nx || given.ny) && o->dataset) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: model '%s': give x and y or a dataset, not both", who, model_name(m));
        goto out;
    }
    if (o->nclass_weight > 0 && ct_model_num_outputs(m) > 1) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: model '%s': class_weight is only supported for models with a single "
                       "output",
                       who, model_name(m));
        goto out;
    }
    bool distributed = ct__strategy_replicas(m->strategy) > 1;
    train.who = who;
    train.m = m;
    train.steps = o->steps_per_epoch;
    train.shuffle = !o->no_shuffle;
    train.batch_size = bs;
    train.ncw = o->nclass_weight;
    train.cw = o->nclass_weight > 0 ? o->class_weight : NULL;
    train.per_replica = o->dataset_per_replica;
    val = train;
    val.steps = o->validation_steps;
    val.shuffle = false;
    val.ncw = 0;
    val.cw = NULL;
    bool has_val = false;
    if (o->dataset) {
        if (o->sample_weight) {
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "%s: model '%s': sample_weight goes inside the dataset's elements "
                           "(x, y, sample_weight) when fitting a dataset",
                           who, model_name(m));
            goto out;
        }
        if (o->validation_split > 0) {
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "%s: model '%s': validation_split is only supported for tensors, not "
                           "datasets; pass validation_data instead",
                           who, model_name(m));
            goto out;
        }
        train.ds = o->dataset;
    } else {
        int64_t n;
        if ((st = check_tensors(m, who, &given, &n))) goto out;
        if (!given.ny) {
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "%s: model '%s': y is NULL (the compiled loss needs targets)", who,
                           model_name(m));
            goto out;
        }
        if (o->sample_weight && train.cw) {
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "%s: model '%s': you cannot use class_weight and sample_weight at the "
                           "same time",
                           who, model_name(m));
            goto out;
        }
        train.a = given;
        train.n = n;
        if (o->validation_split > 0 && !vgiven.nx && !o->validation_data) {
            /* The last fraction, before any shuffling (Keras's
             * train_validation_split). */
            int64_t split = (int64_t)floor((double)n * (1.0 - o->validation_split));
            if (split == 0 || split == n) {
                st = ct__error(CT_ERR_INVALID_ARGUMENT,
                               "%s: model '%s': training data contains %lld samples, which is "
                               "not sufficient to split it into a validation and training set "
                               "as specified by validation_split=%g",
                               who, model_name(m), (long long)n, o->validation_split);
                goto out;
            }
            val.a = given;
            const ct_tensor **parts[2 * MAXIO + 1];
            const ct_tensor **vparts[2 * MAXIO + 1];
            int np = 0;
            for (int i = 0; i < given.nx; i++, np++) parts[np] = &train.a.x[i], vparts[np] = &val.a.x[i];
            for (int i = 0; i < given.ny; i++, np++) parts[np] = &train.a.y[i], vparts[np] = &val.a.y[i];
            if (given.sw) parts[np] = &train.a.sw, vparts[np++] = &val.a.sw;
            for (int i = 0; i < np; i++) {
                const ct_tensor *whole = *parts[i];
                ct_tensor *head = take_rows(whole, 0, split), *tail = take_rows(whole, split, n);
                if (!head || !tail || !owned_push(&owned, head) || !owned_push(&owned, tail)) {
                    ct_tensor_free(head);
                    ct_tensor_free(tail);
                    st = ct_last_status() ? ct_last_status() : CT_ERR_OUT_OF_MEMORY;
                    goto out;
                }
                *parts[i] = head;
                *vparts[i] = tail;
            }
            train.n = split;
            val.n = n - split;
            has_val = true;
        }
    }
    if (o->validation_data) {
        if (vgiven.nx || vgiven.ny) {
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "%s: model '%s': give val_x and val_y or validation_data, not both", who,
                           model_name(m));
            goto out;
        }
        val.ds = o->validation_data;
        memset(&val.a, 0, sizeof val.a);
        has_val = true;
    } else if (vgiven.nx || vgiven.ny) {
        int64_t vn;
        if (!vgiven.ny) {
            st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: model '%s': val_x needs val_y", who,
                           model_name(m));
            goto out;
        }
        if ((st = check_tensors(m, "ct_model_fit (validation)", &vgiven, &vn))) goto out;
        val.ds = NULL;
        val.a = vgiven;
        val.n = vn;
        has_val = true;
    }
    if (!(h = history_new()) || !(logs = logs_new()) || !(epoch_logs = logs_new()) ||
        !(val_logs = logs_new())) {
        st = ct_last_status();
        goto out;
    }
    if ((st =
             cblist_init(&l, &pb, m, o->ncallbacks, o->callbacks, o->verbose, o->out, epochs, who)))
        goto out;
    list_ready = true;
    l.history = h;
    if ((st = agree_batches(&train)) || (has_val && (st = agree_batches(&val)))) goto out;
    l.target = source_target(&train);
    if ((st = find_backup(o->ncallbacks, o->callbacks, &bk, who))) goto out;
    st = backup_open(m, &bk, &train, &resume, who);
    if (bk.cfg && (st = agree_ok(m, st, who))) goto out;
    int first_epoch = o->initial_epoch;
    int64_t first_step = 0;
    if (resume.info) {
        first_epoch = (int)json_int(resume.info, "epoch", 0);
        first_step = json_int(resume.info, "step", 0);
    }

    m->stop_training = false;
    if (distributed) {
        /* Replicas start from rank 0's weights, checked by a checksum. */
        int nw;
        ct_variable **vars = ct__model_variables(m, CT__VARS_ALL, &nw);
        if (!vars) {
            st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", who);
            goto out;
        }
        st = ct__strategy_sync_variables(m->strategy, nw, vars);
        free(vars);
        if (st) goto out;
        /* Resuming: each replica's own moving statistics, as they were. */
        const ct__state_part *lp = resume.info ? ct__train_state_get(&resume, "model.local") : NULL;
        if (lp) {
            int nl;
            ct_variable **lv = ct__model_variables(m, CT__VARS_NON_TRAINABLE, &nl);
            st = nl < 0 ? ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", who)
                        : set_vars_bytes(nl, lv, lp, "replica's non-trainable weights", who);
            free(lv);
            if ((st = agree_ok(m, st, who))) goto out;
        }
    }
    cb_train_begin(&l);
    if ((st = l.st)) goto out;
    if (resume.info && (st = agree_ok(m, backup_callbacks(&l, &resume, who), who))) goto out;
    bool trained = false;
    ct_optimizer *opt = m->optimizer;
    for (int epoch = first_epoch; epoch < epochs; epoch++) {
        /* The rate before this epoch's on_epoch_begin hooks, for a
         * checkpoint of this epoch (they set it again on resuming). */
        double lr0 = opt && !ct__optimizer_has_schedule(opt) ? ct_optimizer_learning_rate(opt)
                                                             : NAN;
        bool resumed = resume.info && epoch == first_epoch && first_step > 0;
        reset_metrics(m);
        l.target = source_target(&train);
        l.resumed_at = resumed ? first_step : 0;
        cb_epoch_begin(&l, epoch);
        l.resumed_at = 0;
        if ((st = l.st)) goto out;
        /* Resuming in the middle of an epoch: the source is where the
         * checkpoint left it, the metrics hold the epoch's batches so far. */
        if (resumed)
            st = backup_metrics(m, &resume, who);
        else
            st = source_begin_epoch(&train);
        if (st) goto out;
        logs_clear(logs);
        for (int64_t step = resumed ? first_step : 0; train.steps <= 0 || step < train.steps;
             step++) {
            bool preempt = false;
            batch b;
            bool end;
            ct_scope_begin();
            st = source_next(&train, &b, &end);
            if (!st && !end) {
                cb_train_batch_begin(&l, step);
                st = l.st;
                if (!st) st = train_step(m, &b, who);
                if (!st && batch_logs_wanted(&l, step)) st = metrics_logs(m, logs);
                else if (!st) logs_clear(logs);
                if (!st) {
                    cb_train_batch_end(&l, step, logs);
                    st = l.st;
                }
                if (atomic_load(&stop_request)) {
                    m->stop_training = true;
                    preempt = bk.cfg && bk.cfg->save_before_preemption;
                }
                /* Every replica stops at the same batch. */
                if (!st && distributed) st = agree_stop(m, &m->stop_training, &preempt);
            }
            ct_scope_end();
            ct_element_free(b.elem);
            if (st) goto out;
            if (!end && bk.cfg) {
                bk.batches++;
                if (preempt ||
                    (bk.cfg->save_freq > 0 && bk.batches % bk.cfg->save_freq == 0))
                    st = backup_save(m, &bk, &train, epoch, step + 1, lr0, &l);
                if (st) goto out;
                if (preempt) {
                    /* Stopped to be resumed: the epoch is not over. */
                    m->preempted = true;
                    break;
                }
            }
            if (end) {
                if (train.steps > 0)
                    fprintf(stderr,
                            "WARNING: %s: your input ran out of data; interrupting "
                            "training. Make sure that your dataset can generate at least "
                            "steps_per_epoch * epochs batches.\n",
                            who);
                break;
            }
            if (m->stop_training) break;
        }
        if (m->preempted) break;
        if ((st = merged_logs(m, epoch_logs))) goto out;
        if (has_val && (epoch + 1) % freq == 0) {
            l.in_fit = true;
            st = run_evaluate(m, &val, &l, val_logs, who);
            l.in_fit = false;
            if (st) goto out;
            for (int i = 0; i < val_logs->n; i++) {
                char key[256];
                snprintf(key, sizeof key, "val_%s", val_logs->keys[i]);
                if ((st = ct_logs_set(epoch_logs, key, val_logs->vals[i]))) goto out;
            }
        }
        l.target = source_target(&train);
        cb_epoch_end(&l, epoch, epoch_logs);
        if ((st = l.st)) goto out;
        if (distributed && (st = ct__strategy_any(m->strategy, &m->stop_training))) goto out;
        trained = true;
        if (bk.cfg && bk.cfg->save_freq == 0) {
            double lr = opt && !ct__optimizer_has_schedule(opt) ? ct_optimizer_learning_rate(opt)
                                                                : NAN;
            if ((st = backup_save(m, &bk, &train, epoch + 1, 0, lr, &l))) goto out;
        }
        if (m->stop_training) break;
    }
    if (!trained) logs_clear(epoch_logs);
    cb_train_end(&l, epoch_logs);
    st = l.st;
    /* Training is over (not preempted): the backup has served. */
    if (!st && bk.cm && !m->preempted && bk.cfg->delete_checkpoint)
        st = ct_checkpoint_manager_delete_all(bk.cm);

out:
    if (list_ready) cblist_done(&l, &pb);
    ct_checkpoint_manager_free(bk.cm);
    ct__train_state_clear(&resume);
    m->resuming = false;
    source_close(&train);
    source_close(&val);
    for (int i = 0; i < owned.n; i++)
        ct_tensor_free(owned.t[i]);
    ct_logs_free(logs);
    ct_logs_free(epoch_logs);
    ct_logs_free(val_logs);
    if (st) {
        ct_history_free(h);
        return NULL;
    }
    return h;
}

/* ---- evaluate / predict --------------------------------------------------------------------- */

static ct_status eval_source(ct_model *m, const ct_eval_opts *o, source *s, const char *who,
                             bool x_only) {
    memset(s, 0, sizeof *s);
    s->who = who;
    s->m = m;
    s->batch_size = o->batch_size ? o->batch_size : 32;
    s->steps = o->steps;
    s->x_only = x_only;
    if (o->batch_size < 0 || o->steps < 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: model '%s': batch_size and steps must not be negative", who,
                         model_name(m));
    ct_status st = gather_arrays(m, who, o->x, o->nx, o->xs, o->y, o->ny, o->ys,
                                 o->sample_weight, !x_only, &s->a);
    if (st) return st;
    if (o->dataset) {
        if (s->a.nx || s->a.ny || o->sample_weight)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: model '%s': give x (and y) or a dataset, not both", who,
                             model_name(m));

        s->ds = o->dataset;
        return CT_OK;
    }
    int64_t n;
    if ((st = check_tensors(m, who, &s->a, &n))) return st;
    if (!x_only && !s->a.ny)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: model '%s': y is NULL (the compiled loss needs targets)", who,
                         model_name(m));
    s->n = n;
    return CT_OK;
}

ct_status ct_model_evaluate(ct_model *m, const ct_eval_opts *opts, ct_logs **results) {
    const char *who = "ct_model_evaluate";
    ct_eval_opts o0 = {0};
    const ct_eval_opts *o = opts ? opts : &o0;
    if (results) *results = NULL;
    ct_status st = need_compiled(m, who, true);
    if (st) return st;
    source src;
    cblist l;
    progbar pb;
    bool ready = false;
    ct_logs *logs = NULL;
    if ((st = eval_source(m, o, &src, who, false))) goto out;
    if (!(logs = logs_new())) {
        st = ct_last_status();
        goto out;
    }
    if ((st = cblist_init(&l, &pb, m, o->ncallbacks, o->callbacks, o->verbose, o->out, 1, who)))
        goto out;
    ready = true;
    st = run_evaluate(m, &src, &l, logs, who);
out:
    if (ready) cblist_done(&l, &pb);
    source_close(&src);
    if (!st && results) {
        *results = logs;
        logs = NULL;
    }
    ct_logs_free(logs);
    return st;
}

/* Under a strategy: every replica's rows of the predictions (mine: this
 * replica's, concatenated; NULL when it had none) gathered back into the
 * order of the global batches, on every rank. Replica q had rows
 * [len*q/R, len*(q+1)/R) of each batch of len rows. */
static ct_tensor *gather_predictions(ct_model *m, int nb, const int64_t *glen, ct_tensor *mine,
                                     const char *who) {
    int R = ct__strategy_replicas(m->strategy), r = ct__strategy_rank(m->strategy);
    int64_t *rows = calloc((size_t)R, sizeof *rows), total = 0, most = 0, least = INT64_MAX;
    if (!rows) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", who);
        return NULL;
    }
    for (int k = 0; k < nb; k++)
        for (int q = 0; q < R; q++) rows[q] += glen[k] * (q + 1) / R - glen[k] * q / R;
    for (int q = 0; q < R; q++) {
        total += rows[q];
        most = rows[q] > most ? rows[q] : most;
        least = rows[q] < least ? rows[q] : least;
    }
    ct_tensor *out = NULL;
    if (least == 0) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s: model '%s': under a strategy of %d replicas predict needs at least one "
                  "sample per replica, got %lld samples",
                  who, model_name(m), R, (long long)total);
        free(rows);
        return NULL;
    }
    /* Pad to the most rows any replica has, gather, then pick the rows in
     * order. */
    ct_tensor *padded = mine;
    if (mine && rows[r] < most) {
        int64_t shape[CT_MAX_RANK];
        int rank = ct_tensor_rank(mine);
        for (int d = 0; d < rank; d++) shape[d] = ct_tensor_dim(mine, d);
        shape[0] = most - rows[r];
        ct_tensor *pad = ct_zeros(ct_tensor_dtype(mine), rank, shape);
        padded = pad ? ct_concat(2, (ct_tensor *[]){mine, pad}, 0) : NULL;
    }
    ct_tensor *all = padded ? ct_all_gather(ct_strategy_collective(m->strategy), padded) : NULL;
    int64_t *idx = all ? malloc((size_t)total * sizeof *idx) : NULL;
    int64_t *off = all ? calloc((size_t)R, sizeof *off) : NULL;
    if (all && (!idx || !off)) ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", who);
    if (idx && off) {
        int64_t n = 0;
        for (int k = 0; k < nb; k++)
            for (int q = 0; q < R; q++) {
                int64_t part = glen[k] * (q + 1) / R - glen[k] * q / R;
                for (int64_t j = 0; j < part; j++) idx[n++] = q * most + off[q] + j;
                off[q] += part;
            }
        ct_tensor *it = ct_constant(idx, CT_INT64, 1, &total);
        out = it ? ct_gather(all, it, 0, 0) : NULL;
    }
    free(idx);
    free(off);
    free(rows);
    return out;
}

ct_status ct_model_predict_multi(ct_model *m, const ct_eval_opts *opts, int nout,
                                 ct_tensor **out) {
    const char *who = "ct_model_predict";
    ct_eval_opts o0 = {0};
    const ct_eval_opts *o = opts ? opts : &o0;
    if (!m) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the model is NULL", who);
    if (nout != ct_model_num_outputs(m) || !out)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: model '%s' has %d output%s, room for %d",
                         who, model_name(m), ct_model_num_outputs(m),
                         ct_model_num_outputs(m) == 1 ? "" : "s", out ? nout : 0);
    for (int i = 0; i < nout; i++) out[i] = NULL;
    source src;
    cblist l;
    progbar pb;
    bool ready = false;
    int nb = 0, capb = 0;
    ct_tensor **parts = NULL; /* nb batches x nout outputs (NULL: no rows here) */
    int64_t *glen = NULL;     /* each batch's global rows, under a strategy */
    ct_status st = eval_source(m, o, &src, who, true);
    if (st) goto out;
    if ((st = cblist_init(&l, &pb, m, o->ncallbacks, o->callbacks, o->verbose, o->out, 1, who)))
        goto out;
    ready = true;
    l.target = source_target(&src);
    cb_predict_begin(&l);
    if ((st = l.st)) goto out;
    if ((st = source_begin_epoch(&src))) goto out;
    for (int64_t step = 0; src.steps <= 0 || step < src.steps; step++) {
        batch b;
        bool end;
        ct_scope_begin();
        st = source_next(&src, &b, &end);
        if (!st && !end) {
            cb_predict_batch_begin(&l, step);
            st = l.st;
            ct_tensor *y[MAXIO] = {0};
            if (!st && !b.empty) st = forward(m, &b, false, y);
            if (!st && nb == capb) {
                int cap = capb ? 2 * capb : 16;
                ct_tensor **p = realloc(parts, (size_t)cap * (size_t)nout * sizeof *p);
                if (p) parts = p;
                int64_t *g = p ? realloc(glen, (size_t)cap * sizeof *g) : NULL;
                if (g) glen = g;
                if (!p || !g)
                    st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", who);
                else
                    capb = cap;
            }
            if (!st) {
                for (int i = 0; i < nout; i++)
                    parts[(size_t)nb * (size_t)nout + (size_t)i] = y[i] ? ct_tensor_ref(y[i]) : NULL;
                glen[nb] = b.global_n;
                nb++;
                cb_predict_batch_end(&l, step);
                st = l.st;
            }
        }
        ct_scope_end();
        ct_element_free(b.elem);
        if (st) goto out;
        if (end) break;
    }
    cb_predict_end(&l);
    if ((st = l.st)) goto out;
    if (nb == 0) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: model '%s': the input has no samples", who,
                       model_name(m));
        goto out;
    }
    for (int i = 0; !st && i < nout; i++) {
        ct_tensor **col = malloc((size_t)nb * sizeof *col);
        if (!col) {
            st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", who);
            break;
        }
        int nc = 0;
        for (int k = 0; k < nb; k++)
            if (parts[(size_t)k * (size_t)nout + (size_t)i])
                col[nc++] = parts[(size_t)k * (size_t)nout + (size_t)i];
        out[i] = nc ? ct_concat(nc, col, 0) : NULL;
        free(col);
        if (ct__strategy_replicas(m->strategy) > 1)
            out[i] = gather_predictions(m, nb, glen, out[i], who);
        if (!out[i]) st = ct_last_status() ? ct_last_status() : CT_ERR_INTERNAL;
    }
out:
    if (ready) cblist_done(&l, &pb);
    source_close(&src);
    for (int k = 0; k < nb * nout; k++)
        ct_tensor_free(parts[k]);
    free(parts);
    free(glen);
    if (st)
        for (int i = 0; i < nout; i++) out[i] = NULL; /* in the caller's scope: freed with it */
    return st;
}

ct_tensor *ct_model_predict(ct_model *m, const ct_eval_opts *opts) {
    ct_tensor *y = NULL;
    if (m && ct_model_num_outputs(m) != 1) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_model_predict: model '%s' has %d outputs; use ct_model_predict_multi",
                  model_name(m), ct_model_num_outputs(m));
        return NULL;
    }
    return ct_model_predict_multi(m, opts, 1, &y) ? NULL : y;
}

/* ---- on_batch ----------------------------------------------------------------------------- */

static ct_status on_batch_results(ct_model *m, ct_logs **results) {
    if (!results) return CT_OK;
    ct_logs *logs = logs_new();
    if (!logs) return ct_last_status();
    ct_status st = metrics_logs(m, logs);
    if (st) {
        ct_logs_free(logs);
        return st;
    }
    *results = logs;
    return CT_OK;
}

/* A batch of the given arrays, checked. */
static ct_status on_batch_arrays(ct_model *m, const char *who, int nx, const ct_tensor *const *x,
                                 int ny, const ct_tensor *const *y, const ct_tensor *sw,
                                 batch *b) {
    memset(b, 0, sizeof *b);
    arrays a;
    ct_status st = need_compiled(m, who, true);
    if (!st) st = gather_arrays(m, who, NULL, nx, x, NULL, ny, y, sw, true, &a);
    int64_t n = 0;
    if (!st) st = check_tensors(m, who, &a, &n);
    if (m && ct__strategy_replicas(m->strategy) > 1) {
        /* Under a strategy each replica's arrays are its part of the global
         * batch, whose size the replicas agree on (a replica's bad input
         * fails them all rather than leaving them waiting). */
        double total = st ? -1e18 : (double)n;
        ct_status r = ct__strategy_sum_doubles(m->strategy, &total, 1);
        if (!st && !r && total < 0)
            st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: model '%s': another replica could not read its batch",
                           who, model_name(m));
        if (!st) st = r;
        b->global_n = (int64_t)total;
        b->local_n = n;
        b->empty = n == 0;
    }
    if (st) return st;
    b->nx = a.nx;
    b->ny = a.ny;
    for (int i = 0; i < a.nx; i++) b->x[i] = (ct_tensor *)a.x[i];
    for (int i = 0; i < a.ny; i++) b->y[i] = (ct_tensor *)a.y[i];
    b->sw = (ct_tensor *)a.sw;
    return CT_OK;
}

ct_status ct_model_train_on_batch_n(ct_model *m, int nx, const ct_tensor *const *x, int ny,
                                    const ct_tensor *const *y, const ct_tensor *sample_weight,
                                    ct_logs **results) {
    const char *who = "ct_model_train_on_batch";
    if (results) *results = NULL;
    batch b;
    ct_status st = on_batch_arrays(m, who, nx, x, ny, y, sample_weight, &b);
    if (!st) st = train_step(m, &b, who);
    if (!st) st = on_batch_results(m, results);
    return st;
}

ct_status ct_model_test_on_batch_n(ct_model *m, int nx, const ct_tensor *const *x, int ny,
                                   const ct_tensor *const *y, const ct_tensor *sample_weight,
                                   ct_logs **results) {
    const char *who = "ct_model_test_on_batch";
    if (results) *results = NULL;
    batch b;
    ct_status st = on_batch_arrays(m, who, nx, x, ny, y, sample_weight, &b);
    if (!st) st = test_step(m, &b, who);
    if (!st) st = on_batch_results(m, results);
    return st;
}

ct_status ct_model_train_on_batch(ct_model *m, const ct_tensor *x, const ct_tensor *y,
                                  const ct_tensor *sample_weight, ct_logs **results) {
    return ct_model_train_on_batch_n(m, 1, &x, y ? 1 : 0, &y, sample_weight, results);
}

ct_status ct_model_test_on_batch(ct_model *m, const ct_tensor *x, const ct_tensor *y,
                                 const ct_tensor *sample_weight, ct_logs **results) {
    return ct_model_test_on_batch_n(m, 1, &x, y ? 1 : 0, &y, sample_weight, results);
}

ct_tensor *ct_model_predict_on_batch(ct_model *m, const ct_tensor *x) {
    if (!m || !x) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_model_predict_on_batch: %s is NULL",
                  !m ? "the model" : "x");
        return NULL;
    }
    return ct_model_call(m, x, false);
}
