/*
 * The ctrain commands (run.h): a job's model, compile, data and
 * callbacks built with the library's public API, then fit / evaluate /
 * predict as Keras runs them.
 *
 * Errors the library reports while building something a job field
 * describes are placed at that field: at the config key the library's
 * message names ("argument 'beta_1'") when the job has it, else at the
 * object. Model errors are placed in the model file (or the inline
 * model) at the layer the message names.
 */
#include "launcher/run.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "ctrain/checkpoint.h"
#include "ctrain/strategy.h"
#include "launcher/cli.h"
#include "launcher/jsonpos.h"
#include "launcher/pipeline.h"

/* ---- reporting ------------------------------------------------------------------------ */

/* Whether msg starts with "file:line:col: ". */
static bool has_position(const char *msg) {
    const char *c = strchr(msg, ':');
    for (int field = 0; c && field < 2; field++) {
        const char *d = c + 1;
        if (!isdigit((unsigned char)*d)) return false;
        while (isdigit((unsigned char)*d)) d++;
        if (*d != ':') return false;
        c = d;
    }
    return c != NULL;
}

static int report(const char *command) {
    const char *msg = cli_error();
    if (has_position(msg)) fprintf(stderr, "%s\n", msg);
    else fprintf(stderr, "ctrain %s: %s\n", command, msg[0] ? msg : "failed");
    /* Under mpirun the other ranks may be waiting in a collective for this
     * one: end the whole job now, non-zero. */
    ct_process_group *pg = ct_dist_world();
    if (pg && ct_process_group_size(pg) > 1) ct_dist_abort(1);
    return 1;
}

/* A quoted name in a library message: the first '...' after `after` (NULL:
 * from the start). */
static bool quoted_after(const char *msg, const char *after, char *out, size_t cap) {
    const char *s = after ? strstr(msg, after) : msg;
    if (!s) return false;
    s += after ? strlen(after) : 0;
    const char *a = strchr(s, '\'');
    const char *b = a ? strchr(a + 1, '\'') : NULL;
    if (!b || (size_t)(b - a - 1) >= cap || b == a + 1) return false;
    memcpy(out, a + 1, (size_t)(b - a - 1));
    out[b - a - 1] = '\0';
    return true;
}

/* The library's last error at w, or at w's "config.<key>" when the message
 * names an argument the job gives there. */
static int lib_fail_at(const job *j, const job_where *w) {
    char msg[1536], key[128];
    snprintf(msg, sizeof msg, "%s", ct_last_error());
    job_where at = *w;
    if (quoted_after(msg, "argument ", key, sizeof key)) {
        char cfg[JOB_PATH_MAX], p[JOB_PATH_MAX];
        jpos_path_key(cfg, sizeof cfg, w->path, "config");
        jpos_path_key(p, sizeof p, cfg, key);
        job_where k = {0};
        if (jpos_find(j->pos, p, true, &k.line, &k.col)) {
            snprintf(k.path, sizeof k.path, "%s", p);
            at = k;
        }
    }
    return job_fail_at(j, &at, "%s", msg);
}

/* ---- the model ------------------------------------------------------------------------ */

/* The layers list of a model JSON (unwrapping TF.js's modelTopology and
 * model_config), its path under base into lp. */
static const json_t *model_layers(const json_t *root, const char *base, char *lp) {
    const json_t *m = root;
    char p[JOB_PATH_MAX], q[JOB_PATH_MAX];
    snprintf(p, sizeof p, "%s", base);
    const char *wrappers[] = {"modelTopology", "model_config"};
    for (int i = 0; i < 2; i++) {
        const json_t *w = json_is_object(m) ? json_object_get(m, wrappers[i]) : NULL;
        if (json_is_object(w)) {
            jpos_path_key(q, sizeof q, p, wrappers[i]);
            snprintf(p, sizeof p, "%s", q);
            m = w;
        }
    }
    const json_t *cfg = json_is_object(m) ? json_object_get(m, "config") : NULL;
    jpos_path_key(lp, JOB_PATH_MAX, p, "config");
    if (json_is_array(cfg)) return cfg; /* early Keras 2: the bare list */
    jpos_path_key(q, sizeof q, lp, "layers");
    snprintf(lp, JOB_PATH_MAX, "%s", q);
    return json_is_object(cfg) ? json_object_get(cfg, "layers") : NULL;
}

/* Where in a model JSON (text, with positions pos; paths under base) is
 * the layer a library message names (one of its quoted names), and the
 * argument it names when the layer's config has it. */
static bool locate_in_model(const char *text, const jpos *pos, const char *base, const char *msg,
                            char *path, int *line, int *col) {
    char key[128], lp[JOB_PATH_MAX];
    bool has_key = quoted_after(msg, "argument ", key, sizeof key);
    json_t *root = json_loads(text, JSON_DECODE_ANY, NULL);
    const json_t *layers = model_layers(root, base, lp);
    bool found = false;
    /* Each quoted name in turn: the model's own name comes first in
     * "Sequential 'm': layers[2]: Dense 'dense': ...". */
    for (const char *s = strchr(msg, '\''); s && !found; s = strchr(s + 1, '\'')) {
        char layer[256];
        if (!quoted_after(s, NULL, layer, sizeof layer)) continue;
        s = strchr(s + 1, '\''); /* past this name's closing quote */
        for (size_t i = 0; json_is_array(layers) && i < json_array_size(layers) && !found; i++) {
            const json_t *lc = json_object_get(json_array_get(layers, i), "config");
            const json_t *name = json_is_object(lc) ? json_object_get(lc, "name") : NULL;
            if (!json_is_string(name) || strcmp(json_string_value(name), layer)) continue;
            char at[JOB_PATH_MAX], c[JOB_PATH_MAX], k[JOB_PATH_MAX];
            jpos_path_index(at, sizeof at, lp, i);
            jpos_path_key(c, sizeof c, at, "config");
            jpos_path_key(k, sizeof k, c, has_key ? key : "");
            if (has_key && jpos_find(pos, k, true, line, col)) snprintf(path, JOB_PATH_MAX, "%s", k);
            else if (jpos_find(pos, at, false, line, col)) snprintf(path, JOB_PATH_MAX, "%s", at);
            else continue;
            found = true;
        }
        if (!s) break;
    }
    json_decref(root);
    return found;
}

static ct_model *build_model(const job *j) {
    ct_model *m = ct_model_from_json(j->model_json);
    if (m) return m;
    char msg[1536];
    snprintf(msg, sizeof msg, "%s", ct_last_error());
    char path[JOB_PATH_MAX];
    int line, col;
    if (!j->model_file) {
        /* Inline: the job's own positions, under "model". */
        job_where w = j->model_where;
        if (locate_in_model(j->model_json, j->pos, "model", msg, path, &line, &col)) {
            w.line = line, w.col = col;
            snprintf(w.path, sizeof w.path, "%s", path);
        }
        job_fail_at(j, &w, "%s", msg);
        return NULL;
    }
    jpos *pos = jpos_scan(j->model_json);
    if (pos && locate_in_model(j->model_json, pos, "", msg, path, &line, &col))
        cli_fail("%s:%d:%d: %s: %s", j->model_file, line, col, path, msg);
    else
        cli_fail("%s:1:1: %s", j->model_file, msg);
    jpos_free(pos);
    return NULL;
}

/* optimizer, loss and metrics from the job's "compile". */
static int compile_model(const job *j, ct_model *m) {
    ct_optimizer *opt = NULL;
    ct_loss *loss = NULL;
    ct_metric **objs = calloc((size_t)j->nmetrics + 1, sizeof *objs);
    const char **names = calloc((size_t)j->nmetrics + 1, sizeof *names);
    int nobjs = 0, nnames = 0, rc = 0;
    if (!objs || !names) rc = cli_fail("out of memory");
    if (!rc && j->optimizer.name && !(opt = ct_optimizer_new(j->optimizer.name, NULL)))
        rc = lib_fail_at(j, &j->optimizer.where);
    if (!rc && j->optimizer.config_json && !(opt = ct_optimizer_from_config(j->optimizer.config_json)))
        rc = lib_fail_at(j, &j->optimizer.where);
    if (!rc && j->loss.name && !(loss = ct_loss_new(j->loss.name, NULL)))
        rc = lib_fail_at(j, &j->loss.where);
    if (!rc && j->loss.config_json && !(loss = ct_loss_from_config(j->loss.config_json)))
        rc = lib_fail_at(j, &j->loss.where);
    for (int i = 0; i < j->nmetrics && !rc; i++) {
        const job_object *o = &j->metrics[i];
        if (o->config_json) {
            if (!(objs[nobjs] = ct_metric_from_config(o->config_json))) rc = lib_fail_at(j, &o->where);
            else nobjs++;
        } else {
            /* By name, so compile resolves "accuracy" to the variant that
             * fits the loss as Keras does; made here once only to check the
             * name at its field. */
            ct_metric *probe = ct_metric_new(o->name, NULL);
            if (!probe) rc = lib_fail_at(j, &o->where);
            ct_metric_free(probe);
            names[nnames++] = o->name;
        }
    }
    if (rc) {
        ct_optimizer_free(opt);
        ct_loss_free(loss);
        for (int i = 0; i < nobjs; i++) ct_metric_free(objs[i]);
    } else if (ct_model_compile(m, &(ct_compile_opts){.optimizer_obj = opt,
                                                      .loss_obj = loss,
                                                      .nmetrics = nnames,
                                                      .metrics = names,
                                                      .nmetric_objs = nobjs,
                                                      .metric_objs = objs})) {
        /* compile owns the objects now, also on failure. */
        rc = lib_fail_at(j, &j->compile_where);
    }
    free(objs);
    free(names);
    return rc;
}

/* ---- output --------------------------------------------------------------------------- */

/* This process's rank (0 without mpirun). */
static int world_rank(void) {
    ct_process_group *pg = ct_dist_world();
    return pg ? ct_process_group_rank(pg) : 0;
}

/* "loss: 0.4949 - accuracy: 0.8276" into buf, as Keras's progress bar. */
static void format_logs(const ct_logs *logs, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < ct_logs_size(logs) && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s: %.4f", i ? " - " : "", ct_logs_key(logs, i),
                              ct_logs_value(logs, i));
}

/* How many epochs of fit validated (val_ keys have that many values). */
static int validated_epochs(const job *j, const ct_history *h) {
    int freq = j->validation_freq ? j->validation_freq : 1, n = 0;
    for (int i = 0; i < ct_history_epochs(h); i++)
        if ((ct_history_epoch(h, i) + 1) % freq == 0) n++;
    return n;
}

static void print_final(const job *j, const ct_history *h) {
    if (world_rank() != 0) return; /* under mpirun, rank 0 speaks */
    int epochs = ct_history_epochs(h);
    if (epochs == 0) {
        printf("final: no epoch ran\n");
        return;
    }
    printf("final (epoch %d):", ct_history_epoch(h, epochs - 1) + 1);
    for (int k = 0, first = 1; k < ct_history_num_keys(h); k++) {
        const char *key = ct_history_key(h, k);
        int i = strncmp(key, "val_", 4) ? epochs - 1 : validated_epochs(j, h) - 1;
        if (i < 0) continue;
        double v = ct_history_value(h, key, i);
        printf("%s %s: %.4f", first ? "" : " -", key, v);
        first = 0;
    }
    printf("\n");
    fflush(stdout);
}

/* predictions as CSV: one row per example, its outputs flattened, written
 * to a temporary file then renamed, so a failed run never leaves half a
 * file under the name. path NULL: stdout. */
static int write_predictions(const ct_tensor *y, const char *path) {
    int64_t n = ct_tensor_rank(y) ? ct_tensor_dim(y, 0) : 1;
    int64_t total = ct_tensor_size(y), per = n ? total / n : 0;
    double *v = malloc((size_t)(total ? total : 1) * sizeof *v);
    if (!v) return cli_fail("predict: out of memory for %lld outputs", (long long)total);
    if (ct_tensor_read(y, CT_FLOAT64, v, total)) {
        free(v);
        return cli_fail("predict: %s", ct_last_error());
    }
    char tmp[4096];
    FILE *f = stdout;
    if (path) {
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
        if (!(f = fopen(tmp, "w"))) {
            free(v);
            return cli_fail("predict: cannot create \"%s\": %s", tmp, strerror(errno));
        }
    }
    for (int64_t i = 0; i < n; i++) {
        for (int64_t k = 0; k < per; k++)
            fprintf(f, "%s%.9g", k ? "," : "", v[i * per + k]);
        fputc('\n', f);
    }
    free(v);
    if (!path) return fflush(stdout) ? cli_fail("predict: cannot write to stdout") : 0;
    int bad = fflush(f) || ferror(f) || fsync(fileno(f));
    int err = errno;
    if (fclose(f)) bad = 1;
    if (bad || rename(tmp, path)) {
        err = bad ? err : errno;
        remove(tmp);
        return cli_fail("predict: cannot write \"%s\": %s", path, strerror(err));
    }
    return 0;
}

/* Preempted with the training state saved (BSD's EX_TEMPFAIL: try again). */
#define EXIT_PREEMPTED 75

/* ---- commands ------------------------------------------------------------------------- */

typedef struct session {
    job *j;
    pipeline *p;
    ct_model *m;
    ct_dataset *train, *val, *test;
    ct_callback **cbs;
    int ncbs;
    ct_strategy *strategy; /* under mpirun with several ranks, else NULL */
} session;


static void session_end(session *s) {
    for (int i = 0; i < s->ncbs; i++) ct_callback_free(s->cbs[i]);
    free(s->cbs);
    ct_dataset_free(s->train);
    ct_dataset_free(s->val);
    ct_dataset_free(s->test);
    ct_model_free(s->m);
    ct_strategy_free(s->strategy);
    pipeline_free(s->p);
    ct_scope_end();
}

static int session_begin(session *s, job *j, bool compile) {
    memset(s, 0, sizeof *s);
    s->j = j;
    ct_scope_begin();
    /* Seed and threads first: building the model draws its weights. */
    if (j->has_seed) ct_set_random_seed(j->seed);
    if (j->threads) ct_set_num_threads(j->threads);
    if (!(s->p = pipeline_new(j))) return cli_fail("out of memory");
    if (!(s->m = build_model(j))) return -1;
    /* Started by mpirun with several ranks: data parallel under the
     * mirrored strategy, one replica per rank. */
    ct_process_group *pg = ct_dist_world();
    if (!pg) return cli_fail("%s", ct_last_error());
    if (ct_process_group_size(pg) > 1 && !(s->strategy = ct_mirrored_strategy_new(NULL)))
        return cli_fail("%s", ct_last_error());
    if (compile) {
        if (!j->has_compile)
            return job_fail_at(j, &(job_where){{0}}, "missing \"compile\" (the loss to train and "
                                                   "evaluate with)");
        ct_strategy_scope_begin(s->strategy);
        int rc = compile_model(j, s->m);
        ct_strategy_scope_end();
        if (rc) return -1;
    }
    return 0;
}

static const job_data *test_data(const job *j) {
    return j->test.present ? &j->test : j->validation.present ? &j->validation : NULL;
}

static int64_t eval_batch(const job *j) { return j->batch_size ? j->batch_size : 32; }

static int do_evaluate(session *s) {
    const job *j = s->j;
    const job_data *d = test_data(j);
    job_where data_where = job_where_of(j, "data");
    if (!d) return job_fail_at(j, &data_where, "evaluate needs data.test or data.validation");
    if (!s->test && !(s->test = pipeline_build(s->p, d, &(pipeline_opts){.need_label = true,
                                                                        .default_batch = eval_batch(j)})))
        return -1;
    ct_logs *res = NULL;
    if (ct_model_evaluate(s->m, &(ct_eval_opts){.dataset = s->test,
                                                .verbose = j->evaluate_verbose,
                                                .steps = j->evaluate_steps},
                          &res))
        return cli_fail("%s", ct_last_error());
    char buf[2048];
    format_logs(res, buf, sizeof buf);
    printf("evaluate: %s\n", buf);
    fflush(stdout);
    ct_logs_free(res);
    return 0;
}

static int do_predict(session *s) {
    const job *j = s->j;
    const job_data *d = test_data(j);
    job_where data_where = job_where_of(j, "data");
    if (!d) return job_fail_at(j, &data_where, "predict needs data.test or data.validation");
    ct_dataset *ds = pipeline_build(s->p, d, &(pipeline_opts){.default_batch = eval_batch(j)});
    if (!ds) return -1;
    ct_scope_begin();
    ct_tensor *y = ct_model_predict(s->m, &(ct_eval_opts){.dataset = ds,
                                                          .verbose = j->predict_verbose,
                                                          .steps = j->predict_steps});
    int rc = y ? write_predictions(y, j->predict_output) : cli_fail("%s", ct_last_error());
    if (!rc && j->predict_output)
        fprintf(stderr, "predict: %lld rows written to %s\n",
                (long long)(ct_tensor_rank(y) ? ct_tensor_dim(y, 0) : 1), j->predict_output);
    ct_scope_end();
    ct_dataset_free(ds);
    return rc;
}

/* The job's BackupAndRestore callback, or -1. */
static int backup_index(const job *j) {
    for (int i = 0; i < j->ncallbacks; i++)
        if (!strcmp(j->callbacks[i].class_name, "BackupAndRestore")) return i;
    return -1;
}

/* --resume never: the backup's checkpoints go; --resume PATH: the fit
 * resumes from PATH (a checkpoint file, or a directory's latest), through
 * the job's BackupAndRestore or, without one, a BackupAndRestore that
 * keeps its checkpoints in PATH's directory. Every rank runs this. */
static int apply_resume(session *s) {
    job *j = s->j;
    if (!j->resume) return 0;
    int bi = backup_index(j);
    json_error_t e;
    json_t *cfg = bi >= 0 ? json_loads(j->callbacks[bi].config_json, 0, &e) : json_object();
    if (!cfg) return cli_fail("out of memory");
    int rc = 0;
    char *file = NULL;
    if (!strcmp(j->resume, "never")) {
        const json_t *dir = json_object_get(cfg, "backup_dir");
        if (json_is_string(dir)) {
            ct_checkpoint_manager *cm = ct_checkpoint_manager_new(s->m, json_string_value(dir), NULL);
            if (!cm || ct_checkpoint_manager_delete_all(cm)) rc = cli_fail("--resume never: %s", ct_last_error());
            ct_checkpoint_manager_free(cm);
        }
        json_decref(cfg);
        return rc;
    }
    struct stat sb;
    if (stat(j->resume, &sb) != 0) {
        rc = cli_fail("--resume %s: %s (expected auto, never, or a checkpoint file or directory)",
                      j->resume, strerror(errno));
    } else if (S_ISDIR(sb.st_mode)) {
        ct_checkpoint_manager *cm = ct_checkpoint_manager_new(s->m, j->resume, NULL);
        const char *latest = cm ? ct_checkpoint_manager_latest(cm) : NULL;
        if (!cm) rc = cli_fail("--resume %s: %s", j->resume, ct_last_error());
        else if (!latest) rc = cli_fail("--resume %s: the directory holds no complete checkpoint (no \"checkpoint\" list naming one)", j->resume);
        else file = cli_strdup(latest);
        ct_checkpoint_manager_free(cm);
    } else {
        file = cli_strdup(j->resume);
    }
    if (!rc && !file) rc = cli_fail("out of memory");
    if (!rc) {
        json_object_set_new(cfg, "restore_from", json_string(file));
        if (bi < 0) {
            char *dir = cli_dirname(file);
            json_object_set_new(cfg, "backup_dir", json_string(dir ? dir : "."));
            json_object_set_new(cfg, "delete_checkpoint", json_false());
            free(dir);
            job_callback *more = realloc(j->callbacks, (size_t)(j->ncallbacks + 1) * sizeof *more);
            if (!more) rc = cli_fail("out of memory");
            else {
                j->callbacks = more;
                bi = j->ncallbacks++;
                memset(&j->callbacks[bi], 0, sizeof j->callbacks[bi]);
                j->callbacks[bi].class_name = cli_strdup("BackupAndRestore");
            }
        }
    }
    if (!rc) {
        char *text = json_dumps(cfg, JSON_COMPACT);
        if (!text) rc = cli_fail("out of memory");
        else {
            free(j->callbacks[bi].config_json);
            j->callbacks[bi].config_json = text;
        }
    }
    free(file);
    json_decref(cfg);
    return rc;
}

static int do_fit(session *s) {
    job *j = s->j;
    job_where data_where = job_where_of(j, "data");
    if (!j->train.present)
        return job_fail_at(j, &data_where, "train needs data.train");
    const job_transform *bt = pipeline_find_batch(&j->train);
    /* A batched dataset sets its own batch size, as in Keras (which
     * rejects batch_size with a dataset); equal sizes are harmless. */
    if (bt && j->batch_size && !j->batch_size_from_flag && bt->n != j->batch_size)
        return job_fail_at(j, &j->batch_size_where,
                           "batch_size %lld conflicts with %s (%lld): the train data are batched "
                           "by their transforms; remove one",
                           (long long)j->batch_size, bt->where.path, (long long)bt->n);
    if (apply_resume(s)) return -1;
    /* Callbacks before the data: a typo in their config should not wait
     * for a data set to load. */
    if (j->ncallbacks && !(s->cbs = calloc((size_t)j->ncallbacks, sizeof *s->cbs)))
        return cli_fail("out of memory");
    for (int i = 0; i < j->ncallbacks; i++) {
        const job_callback *c = &j->callbacks[i];
        if (!(s->cbs[i] = ct_callback_new(c->class_name, c->config_json)))
            return lib_fail_at(j, &c->where);
        s->ncbs++;
    }
    /* Under the mirrored strategy each rank reads its own shard of the
     * data, batched by its part of the global batch. */
    int replicas = ct_strategy_num_replicas_in_sync(s->strategy);
    int replica = ct_strategy_replica_id(s->strategy);
    s->train = pipeline_build(s->p, &j->train,
                              &(pipeline_opts){.need_label = true,
                                               .default_batch = j->batch_size,
                                               .batch_override = j->batch_size_from_flag
                                                                     ? j->batch_size
                                                                     : 0,
                                               .replicas = replicas,
                                               .replica = replica});
    if (!s->train) return -1;
    if (ct_dataset_cardinality(s->train) == CT_INFINITE_CARDINALITY && !j->steps_per_epoch)
        return job_fail_at(j, &j->train.where, "the train data repeat forever: give "
                                               "fit.steps_per_epoch");
    if (j->validation.present) {
        int64_t vb = j->validation_batch_size ? j->validation_batch_size : j->batch_size;
        s->val = pipeline_build(s->p, &j->validation,
                                &(pipeline_opts){.need_label = true, .default_batch = vb,
                                                 .replicas = replicas, .replica = replica});
        if (!s->val) return -1;
        if (ct_dataset_cardinality(s->val) == CT_INFINITE_CARDINALITY && !j->validation_steps)
            return job_fail_at(j, &j->validation.where, "the validation data repeat forever: give "
                                                        "fit.validation_steps");
    }
    ct_history *h = ct_model_fit(s->m, &(ct_fit_opts){
                                           .dataset = s->train,
                                           .validation_data = s->val,
                                           .dataset_per_replica = s->strategy != NULL,
                                           .epochs = j->epochs,
                                           .verbose = j->verbose,
                                           .ncallbacks = s->ncbs,
                                           .callbacks = s->cbs,
                                           .validation_freq = j->validation_freq,
                                           .no_shuffle = j->no_shuffle,
                                           .nclass_weight = j->nclass_weight,
                                           .class_weight = j->class_weight,
                                           .initial_epoch = j->initial_epoch,
                                           .steps_per_epoch = j->steps_per_epoch,
                                           .validation_steps = j->validation_steps,
                                       });
    if (!h) return cli_fail("%s", ct_last_error());
    print_final(j, h);
    ct_history_free(h);
    return 0;
}

/* SIGINT / SIGTERM during fit: stop after the current batch (every rank
 * at the same one), as Keras's model.stop_training; a second signal of
 * the same kind ends the process at once.
 *
 * The signals are blocked in the training thread and every thread it
 * starts, and taken by a thread of their own (sigwait), so that no thread
 * that computes is interrupted. The library also holds them while
 * oneDNN's GEMM kernels run, which cannot take a signal (they move the
 * stack pointer into the heap: ct__signals_hold); this keeps the handler
 * out of the way of every kernel. A thread started before main
 * (OpenBLAS's) may still take one through the handler, which does the
 * same. After fit, a signal ends the process as by default. */
static atomic_bool fitting;
static int first_signal;

static void on_stop_signal(int signo) {
    if (!atomic_load(&fitting) || first_signal == signo) _exit(128 + signo);
    if (!first_signal) first_signal = signo;
    ct_request_stop(signo);
}

static void *signal_thread(void *arg) {
    const sigset_t *set = arg;
    for (;;) {
        int sig;
        if (sigwait(set, &sig) == 0) on_stop_signal(sig);
    }
    return NULL;
}

static void stop_signals(void) {
    static sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&th, &attr, signal_thread, &set);
    pthread_attr_destroy(&attr);
}

int run_train(job *j) {
    /* Before any thread starts (the session's build makes them). */
    stop_signals();
    session s;
    int rc = session_begin(&s, j, true);
    ct_clear_stop_request();
    atomic_store(&fitting, true);
    if (!rc) rc = do_fit(&s);
    atomic_store(&fitting, false);
    int sig = ct_stop_requested();
    if (!rc && sig && ct_model_preempted(s.m)) {
        /* Saved where it stopped: the same command resumes there. */
        int bi = backup_index(j);
        if (world_rank() == 0)
            fprintf(stderr, "ctrain train: stopped by %s; the training state is saved (%s): run "
                            "the same command again to resume\n",
                    sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a stop request",
                    bi >= 0 ? "BackupAndRestore" : "--resume");
        session_end(&s);
        return EXIT_PREEMPTED;
    }
    if (!rc && sig) {
        /* Stopped on request: the job's later sections are not run, and
         * the exit status is the shell's for that signal. */
        if (world_rank() == 0)
            fprintf(stderr, "ctrain train: stopped by %s after a batch; the evaluate and "
                            "predict sections were not run\n",
                    sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a stop request");
        session_end(&s);
        return 128 + (sig > 0 ? sig : SIGTERM);
    }
    if (!rc && j->has_evaluate) rc = do_evaluate(&s);
    if (!rc && j->has_predict) rc = do_predict(&s);
    session_end(&s);
    return rc ? report("train") : 0;
}

/* A model without a declared input shape, built for the job's training
 * data as fit would build it (*ds: that data, for the caller to free). */
static int build_for_train(const job *j, pipeline *p, ct_model *m, ct_dataset **ds) {
    if (ct_layer_built(ct_model_layer(m)) || !j->train.present) return 0;
    if (!(*ds = pipeline_build(p, &j->train, &(pipeline_opts){.default_batch = j->batch_size})))
        return -1;
    const ct_element_spec *spec = ct_dataset_element_spec(*ds);
    if (spec && ct_model_build(m, spec->c[0].rank, spec->c[0].shape))
        return lib_fail_at(j, &j->model_where);
    return 0;
}

/* --weights FILE, or a note that the weights are fresh. */
static int load_weights(session *s, const char *command) {
    const job *j = s->j;
    if (!j->weights) {
        fprintf(stderr,
                "ctrain %s: note: the model's weights are freshly initialised; give --weights "
                "FILE (a weights, model or checkpoint .h5 file) to %s trained ones\n",
                command, command);
        return 0;
    }
    ct_dataset *ds = NULL;
    int rc = build_for_train(j, s->p, s->m, &ds);
    ct_dataset_free(ds);
    if (!rc && ct_model_load_weights(s->m, j->weights, NULL))
        rc = cli_fail("--weights: %s", ct_last_error());
    return rc;
}

int run_evaluate(job *j) {
    session s;
    int rc = session_begin(&s, j, true);
    if (!rc) rc = load_weights(&s, "evaluate");
    if (!rc) rc = do_evaluate(&s);
    session_end(&s);
    return rc ? report("evaluate") : 0;
}

int run_predict(job *j) {
    session s;
    /* Compiled when the job says how (predict itself needs no loss). */
    int rc = session_begin(&s, j, j->has_compile);
    if (!rc) rc = load_weights(&s, "predict");
    if (!rc) rc = do_predict(&s);
    session_end(&s);
    return rc ? report("predict") : 0;
}

int run_summary(const char *path) {
    char *text = cli_read_file(path, NULL);
    if (!text) return report("summary");
    int rc = 0;
    job *j = NULL;
    ct_model *m = NULL;
    pipeline *p = NULL;
    ct_dataset *ds = NULL;
    ct_scope_begin();
    if (job_text_is_job(text)) {
        char *dir = cli_dirname(path);
        j = dir ? job_parse(text, path, dir) : NULL;
        free(dir);
        if (!j || !(m = build_model(j))) rc = -1;
    } else {
        /* A model file: its syntax errors and model errors at their place. */
        job model_only = {.path = (char *)path};
        char *json = job_read_model_file(path);
        model_only.model_json = json;
        model_only.model_file = (char *)path;
        if (!json || !(m = build_model(&model_only))) rc = -1;
        free(json);
    }
    /* A model without a declared input shape is built for the job's
     * training data, as fit would build it. */
    if (!rc && j && !(p = pipeline_new(j))) rc = cli_fail("out of memory");
    if (!rc && j && build_for_train(j, p, m, &ds)) rc = -1;
    if (!rc && ct_model_summary(m, stdout)) rc = cli_fail("%s", ct_last_error());
    ct_dataset_free(ds);
    pipeline_free(p);
    ct_model_free(m);
    job_free(j);
    ct_scope_end();
    free(text);
    return rc ? report("summary") : 0;
}
