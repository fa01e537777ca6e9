/*
 * Job files (job.h): JSON read with jansson, checked field by field, with
 * every error placed at its field by the positions jsonpos.c records.
 *
 * The checks here are the ones that need no library object: keys, types,
 * ranges, files that must exist now (the model). What only the library
 * can judge (a layer's config, an optimizer's arguments, a callback's)
 * is checked when the command builds it, and reported at the same kind
 * of place through job_fail_at.
 */
#include "launcher/job.h"

#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "launcher/cli.h"
#include "launcher/jsonpos.h"

/* ---- places and errors ------------------------------------------------------------- */

static job_where where_of(const job *j, const char *path, bool key);

job_where job_where_of(const job *j, const char *path) { return where_of(j, path, false); }

static job_where where_of(const job *j, const char *path, bool key) {
    job_where w = {0};
    snprintf(w.path, sizeof w.path, "%s", path);
    if (!jpos_find(j->pos, path, key, &w.line, &w.col)) w.line = w.col = 0;
    return w;
}

static int vfail_at(const job *j, const job_where *w, const char *fmt, va_list ap) {
    char msg[1536];
    vsnprintf(msg, sizeof msg, fmt, ap);
    int line = w && w->line ? w->line : 1, col = w && w->line ? w->col : 1;
    if (w && w->path[0])
        return cli_fail("%s:%d:%d: %s: %s", j->path, line, col, w->path, msg);
    return cli_fail("%s:%d:%d: %s", j->path, line, col, msg);
}

int job_fail_at(const job *j, const job_where *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail_at(j, w, fmt, ap);
    va_end(ap);
    return -1;
}

/* An error at the value (key false) or the key (key true) at path. */
__attribute__((format(printf, 4, 5))) static int fail(const job *j, const char *path, bool key,
                                                      const char *fmt, ...) {
    job_where w = where_of(j, path, key);
    va_list ap;
    va_start(ap, fmt);
    vfail_at(j, &w, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    case JSON_NULL: return "null";
    }
    return "a value";
}

static void child(char *out, const char *parent, const char *key) {
    jpos_path_key(out, JOB_PATH_MAX, parent, key);
}

static void element(char *out, const char *parent, size_t i) {
    jpos_path_index(out, JOB_PATH_MAX, parent, i);
}

static void list_names(char *buf, size_t cap, const char *const *names) {
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; names[i] && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", names[i]);
}

static bool in_list(const char *s, const char *const *names) {
    for (int i = 0; names[i]; i++)
        if (!strcmp(s, names[i])) return true;
    return false;
}

/* Every key of obj (the object at path) must be in allowed. */
static int check_keys(const job *j, const json_t *obj, const char *path,
                      const char *const *allowed) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        if (in_list(k, allowed)) continue;
        char p[JOB_PATH_MAX], names[1024];
        child(p, path, k);
        list_names(names, sizeof names, allowed);
        return fail(j, p, true, "unknown key \"%s\" (expected one of: %s)", k, names);
    }
    return 0;
}

static int want_type(const job *j, const json_t *v, const char *path, json_type t,
                     const char *what) {
    if (json_typeof(v) == t) return 0;
    return fail(j, path, false, "expected %s, found %s", what, type_name(v));
}

static int want_object(const job *j, const json_t *v, const char *path) {
    return want_type(j, v, path, JSON_OBJECT, "an object");
}

/* The integer at obj[key] into *out when present (*present tells; may be
 * NULL), in [min, max]. */
static int opt_int(const job *j, const json_t *obj, const char *path, const char *key,
                   int64_t min, int64_t max, int64_t *out, bool *present) {
    const json_t *v = json_object_get(obj, key);
    if (present) *present = v != NULL;
    if (!v) return 0;
    char p[JOB_PATH_MAX];
    child(p, path, key);
    if (!json_is_integer(v)) return fail(j, p, false, "expected an integer, found %s", type_name(v));
    int64_t x = (int64_t)json_integer_value(v);
    if (x < min || x > max) {
        if (max >= INT32_MAX)
            return fail(j, p, false, "must be at least %lld, got %lld", (long long)min,
                        (long long)x);
        return fail(j, p, false, "must be in [%lld, %lld], got %lld", (long long)min,
                    (long long)max, (long long)x);
    }
    *out = x;
    return 0;
}

static int opt_int32(const job *j, const json_t *obj, const char *path, const char *key,
                     int64_t min, int *out) {
    int64_t x = *out;
    if (opt_int(j, obj, path, key, min, INT32_MAX, &x, NULL)) return -1;
    *out = (int)x;
    return 0;
}

static int opt_bool(const job *j, const json_t *obj, const char *path, const char *key,
                    bool *out) {
    const json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    if (!json_is_boolean(v)) {
        char p[JOB_PATH_MAX];
        child(p, path, key);
        return fail(j, p, false, "expected true or false, found %s", type_name(v));
    }
    *out = json_is_true(v);
    return 0;
}

/* The string at obj[key] (borrowed) into *out when present. */
static int opt_string(const job *j, const json_t *obj, const char *path, const char *key,
                      const char **out) {
    const json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    if (!json_is_string(v)) {
        char p[JOB_PATH_MAX];
        child(p, path, key);
        return fail(j, p, false, "expected a string, found %s", type_name(v));
    }
    *out = json_string_value(v);
    return 0;
}

/* A list of strings (or one string) at path, into a malloc'ed array. */
static int string_list(const job *j, const json_t *v, const char *path, char ***out, int *n) {
    if (json_is_string(v)) {
        *out = calloc(1, sizeof **out);
        if (!*out || !((*out)[0] = cli_strdup(json_string_value(v))))
            return fail(j, path, false, "out of memory");
        *n = 1;
        return 0;
    }
    if (!json_is_array(v))
        return fail(j, path, false, "expected a string or a list of strings, found %s",
                    type_name(v));
    size_t len = json_array_size(v);
    *out = calloc(len ? len : 1, sizeof **out);
    if (!*out) return fail(j, path, false, "out of memory");
    *n = 0;
    for (size_t i = 0; i < len; i++) {
        const json_t *s = json_array_get(v, i);
        char p[JOB_PATH_MAX];
        element(p, path, i);
        if (!json_is_string(s)) return fail(j, p, false, "expected a string, found %s", type_name(s));
        if (!((*out)[(*n)++] = cli_strdup(json_string_value(s))))
            return fail(j, p, false, "out of memory");
    }
    return 0;
}

static void free_strings(char **s, int n) {
    if (!s) return;
    for (int i = 0; i < n; i++) free(s[i]);
    free(s);
}

/* A shape: a list of integers >= 1 (one -1 allowed when allow_unknown). */
static int shape_of(const job *j, const json_t *v, const char *path, bool allow_unknown,
                    int *rank, int64_t *shape) {
    if (!json_is_array(v))
        return fail(j, path, false, "expected a shape (a list of integers), found %s",
                    type_name(v));
    size_t n = json_array_size(v);
    if (n > CT_MAX_RANK)
        return fail(j, path, false, "a shape has at most %d dimensions, found %zu", CT_MAX_RANK, n);
    int unknown = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *d = json_array_get(v, i);
        char p[JOB_PATH_MAX];
        element(p, path, i);
        if (!json_is_integer(d))
            return fail(j, p, false, "expected an integer dimension, found %s", type_name(d));
        int64_t x = (int64_t)json_integer_value(d);
        if (x == -1 && allow_unknown && !unknown++) {
            shape[i] = -1;
            continue;
        }
        if (x < 1)
            return fail(j, p, false, "a dimension must be at least 1%s, got %lld",
                        allow_unknown ? " (or one -1)" : "", (long long)x);
        shape[i] = x;
    }
    *rank = (int)n;
    return 0;
}

/* A path in the job relative to its directory, resolved. */
static char *resolve(const job *j, const char *rel) { return cli_path_join(j->dir, rel); }

/* ---- model ---------------------------------------------------------------------------- */

char *job_read_model_file(const char *path) {
    char *text = cli_read_file(path, NULL);
    if (!text) return NULL;
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v) {
        cli_fail("%s:%d:%d: syntax error: %s", path, e.line > 0 ? e.line : 1,
                 e.column > 0 ? e.column : 1, e.text);
        free(text);
        return NULL;
    }
    bool object = json_is_object(v);
    json_decref(v);
    if (!object) {
        cli_fail("%s:1:1: a Keras model JSON must be an object ({\"class_name\": ..., "
                 "\"config\": ...})",
                 path);
        free(text);
        return NULL;
    }
    return text;
}

static int parse_model(job *j, const json_t *v) {
    const char *path = "model";
    j->model_where = where_of(j, path, false);
    if (json_is_string(v)) {
        if (!(j->model_file = resolve(j, json_string_value(v))))
            return fail(j, path, false, "out of memory");
        if (!(j->model_json = job_read_model_file(j->model_file))) {
            /* A syntax error inside the model file names that file; a file
             * that cannot be read is this field's error. */
            if (strncmp(cli_error(), "cannot", 6) == 0) {
                char msg[1024];
                snprintf(msg, sizeof msg, "%s", cli_error());
                return fail(j, path, false, "%s", msg);
            }
            return -1;
        }
        return 0;
    }
    if (json_is_object(v)) {
        if (!(j->model_json = json_dumps(v, JSON_COMPACT)))
            return fail(j, path, false, "out of memory");
        return 0;
    }
    return fail(j, path, false,
                "expected a Keras model JSON file name or an inline model object, found %s",
                type_name(v));
}

/* ---- compile ---------------------------------------------------------------------------- */

/* A Keras object: a name, or {"class_name": ..., "config": {...}}. */
static int keras_object(job *j, const json_t *v, const char *path, const char *what,
                        bool allow_name, job_object *out) {
    out->where = where_of(j, path, false);
    if (json_is_string(v) && allow_name) {
        if (!(out->name = cli_strdup(json_string_value(v)))) return fail(j, path, false, "out of memory");
        return 0;
    }
    if (!json_is_object(v))
        return fail(j, path, false, "expected %s%s, found %s", allow_name ? "a name or " : "",
                    "{\"class_name\": ..., \"config\": {...}}", type_name(v));
    static const char *const keys[] = {"class_name", "config", "module", "registered_name", NULL};
    if (check_keys(j, v, path, keys)) return -1;
    const json_t *cls = json_object_get(v, "class_name");
    char p[JOB_PATH_MAX];
    child(p, path, "class_name");
    if (!cls) return fail(j, path, false, "%s needs a \"class_name\"", what);
    if (!json_is_string(cls)) return fail(j, p, false, "expected a string, found %s", type_name(cls));
    const json_t *cfg = json_object_get(v, "config");
    child(p, path, "config");
    if (cfg && !json_is_object(cfg)) return want_object(j, cfg, p);
    if (!(out->config_json = json_dumps(v, JSON_COMPACT))) return fail(j, path, false, "out of memory");
    return 0;
}

/* One metric, or Keras's per-output nesting [[...]] of a one-output model. */
static int add_metric(job *j, const json_t *v, const char *path) {
    job_object *m = realloc(j->metrics, (size_t)(j->nmetrics + 1) * sizeof *m);
    if (!m) return fail(j, path, false, "out of memory");
    j->metrics = m;
    memset(&m[j->nmetrics], 0, sizeof *m);
    if (keras_object(j, v, path, "a metric", true, &m[j->nmetrics])) {
        free(m[j->nmetrics].name);
        free(m[j->nmetrics].config_json);
        return -1;
    }
    j->nmetrics++;
    return 0;
}

static int parse_metrics(job *j, const json_t *v, const char *path) {
    if (json_is_null(v)) return 0;
    if (!json_is_array(v))
        return fail(j, path, false, "expected a list of metrics, found %s", type_name(v));
    /* tf.keras's training_config nests the list per output: [["accuracy"]]. */
    if (json_array_size(v) == 1 && json_is_array(json_array_get(v, 0))) {
        char p[JOB_PATH_MAX];
        element(p, path, 0);
        return parse_metrics(j, json_array_get(v, 0), p);
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        char p[JOB_PATH_MAX];
        element(p, path, i);
        if (json_is_array(json_array_get(v, i)))
            return fail(j, p, false, "per-output metrics need a model with several outputs; "
                                     "give one list of metrics");
        if (add_metric(j, json_array_get(v, i), p)) return -1;
    }
    return 0;
}

static int parse_compile(job *j, const json_t *v) {
    const char *path = "compile";
    if (want_object(j, v, path)) return -1;
    static const char *const keys[] = {"optimizer_config", "optimizer", "loss", "metrics",
                                       "loss_weights", "weighted_metrics", "sample_weight_mode",
                                       NULL};
    if (check_keys(j, v, path, keys)) return -1;
    j->has_compile = true;
    j->compile_where = where_of(j, path, false);
    char p[JOB_PATH_MAX];
    const json_t *oc = json_object_get(v, "optimizer_config"), *o = json_object_get(v, "optimizer");
    if (oc && o) {
        child(p, path, "optimizer");
        return fail(j, p, true, "give \"optimizer_config\" or \"optimizer\", not both");
    }
    if (oc) {
        child(p, path, "optimizer_config");
        if (keras_object(j, oc, p, "an optimizer", false, &j->optimizer)) return -1;
    } else if (o) {
        child(p, path, "optimizer");
        if (keras_object(j, o, p, "an optimizer", true, &j->optimizer)) return -1;
    }
    const json_t *loss = json_object_get(v, "loss");
    if (loss && !json_is_null(loss)) {
        child(p, path, "loss");
        if (json_is_array(loss) || (json_is_object(loss) && !json_object_get(loss, "class_name")))
            return fail(j, p, false, "one loss for the model's one output: a name or "
                                     "{\"class_name\": ..., \"config\": {...}}");
        if (keras_object(j, loss, p, "a loss", true, &j->loss)) return -1;
    }
    const json_t *metrics = json_object_get(v, "metrics");
    if (metrics) {
        child(p, path, "metrics");
        if (parse_metrics(j, metrics, p)) return -1;
    }
    /* A one-output model: loss weights are a no-op at 1 and otherwise not
     * supported yet; weighted metrics need sample weights in the data,
     * which the pipelines here do not produce. */
    const json_t *lw = json_object_get(v, "loss_weights");
    if (lw && !json_is_null(lw)) {
        child(p, path, "loss_weights");
        const json_t *w = json_is_array(lw) && json_array_size(lw) == 1 ? json_array_get(lw, 0) : lw;
        if (!json_is_number(w) || json_number_value(w) != 1.0)
            return fail(j, p, false, "loss_weights other than null or 1 are not available yet");
    }
    const json_t *wm = json_object_get(v, "weighted_metrics");
    if (wm && !json_is_null(wm) && !(json_is_array(wm) && json_array_size(wm) == 0)) {
        child(p, path, "weighted_metrics");
        return fail(j, p, false, "weighted_metrics are not available yet (give null)");
    }
    const json_t *swm = json_object_get(v, "sample_weight_mode");
    if (swm && !json_is_null(swm)) {
        child(p, path, "sample_weight_mode");
        return fail(j, p, false, "sample_weight_mode is not available (give null)");
    }
    return 0;
}

/* ---- data ---------------------------------------------------------------------------------- */

static int compression_of(const job *j, const json_t *obj, const char *path, ct_compression *out) {
    const char *s = NULL;
    if (opt_string(j, obj, path, "compression_type", &s)) return -1;
    if (!s || !strcmp(s, "")) *out = CT_COMPRESSION_NONE;
    else if (!strcmp(s, "GZIP")) *out = CT_COMPRESSION_GZIP;
    else if (!strcmp(s, "ZLIB")) *out = CT_COMPRESSION_ZLIB;
    else {
        char p[JOB_PATH_MAX];
        child(p, path, "compression_type");
        return fail(j, p, false, "unknown compression_type \"%s\" (expected \"\", \"GZIP\" or "
                                 "\"ZLIB\")", s);
    }
    return 0;
}

static bool has_glob(const char *s) { return strpbrk(s, "*?[") != NULL; }

/* The "files" of a csv / tfrecord source: names relative to the job,
 * glob patterns expanded (sorted, as tf.data.Dataset.list_files). */
static int source_files(job *j, const json_t *obj, const char *path, job_source *s) {
    char p[JOB_PATH_MAX];
    child(p, path, "files");
    const json_t *v = json_object_get(obj, "files");
    if (!v) return fail(j, path, false, "this source needs \"files\" (a file name or a list)");
    s->files_where = where_of(j, p, false);
    char **names = NULL;
    int n = 0;
    if (string_list(j, v, p, &names, &n)) {
        free_strings(names, n);
        return -1;
    }
    if (n == 0) {
        free_strings(names, n);
        return fail(j, p, false, "no files given");
    }
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        char *full = resolve(j, names[i]);
        if (!full) {
            rc = fail(j, p, false, "out of memory");
            break;
        }
        glob_t g = {0};
        size_t k = 0;
        char **add = &full;
        if (has_glob(names[i])) {
            int g_rc = glob(full, 0, NULL, &g);
            if (g_rc == GLOB_NOMATCH) {
                char e[JOB_PATH_MAX];
                json_is_array(v) ? element(e, p, (size_t)i) : (void)snprintf(e, sizeof e, "%s", p);
                rc = fail(j, e, false, "No files matched pattern: %s", full);
            } else if (g_rc) {
                rc = fail(j, p, false, "cannot expand \"%s\"", full);
            }
            add = g.gl_pathv;
            k = g_rc ? 0 : g.gl_pathc;
        } else {
            k = 1;
        }
        char **f = rc ? NULL : realloc(s->files, (size_t)(s->nfiles + (int)k) * sizeof *f);
        if (!rc && !f) rc = fail(j, p, false, "out of memory");
        if (!rc) {
            s->files = f;
            for (size_t m = 0; m < k && !rc; m++)
                if (!(s->files[s->nfiles++] = cli_strdup(add[m]))) rc = fail(j, p, false, "out of memory");
        }
        if (has_glob(names[i])) globfree(&g);
        free(full);
    }
    free_strings(names, n);
    return rc;
}

static int parse_features(job *j, const json_t *v, const char *path, job_source *s) {
    if (!v) return fail(j, path, false, "a tfrecord source needs \"features\" ({name: {\"dtype\", "
                                        "\"shape\"}})");
    char p[JOB_PATH_MAX];
    child(p, path, "features");
    if (want_object(j, v, p)) return -1;
    if (json_object_size(v) == 0) return fail(j, p, false, "no features given");
    s->features = calloc(json_object_size(v), sizeof *s->features);
    if (!s->features) return fail(j, p, false, "out of memory");
    const char *name;
    json_t *f;
    json_object_foreach((json_t *)v, name, f) {
        char fp[JOB_PATH_MAX];
        child(fp, p, name);
        job_feature *feat = &s->features[s->nfeatures++];
        feat->where = where_of(j, fp, false);
        if (!(feat->name = cli_strdup(name))) return fail(j, fp, false, "out of memory");
        if (want_object(j, f, fp)) return -1;
        static const char *const keys[] = {"dtype", "shape", "default_value", NULL};
        if (check_keys(j, f, fp, keys)) return -1;
        const char *dt = NULL;
        if (opt_string(j, f, fp, "dtype", &dt)) return -1;
        char q[JOB_PATH_MAX];
        child(q, fp, "dtype");
        if (!dt) return fail(j, fp, false, "a feature needs a \"dtype\" (\"float32\" or \"int64\")");
        if (!strcmp(dt, "float32")) feat->dtype = CT_FLOAT32;
        else if (!strcmp(dt, "int64")) feat->dtype = CT_INT64;
        else
            return fail(j, q, false, "unsupported dtype \"%s\" (expected \"float32\" or \"int64\"; "
                                     "bytes features cannot feed a model)", dt);
        const json_t *sh = json_object_get(f, "shape");
        child(q, fp, "shape");
        if (sh && shape_of(j, sh, q, false, &feat->rank, feat->shape)) return -1;
        const json_t *dv = json_object_get(f, "default_value");
        if (dv) {
            child(q, fp, "default_value");
            int64_t count = 1;
            for (int d = 0; d < feat->rank; d++) count *= feat->shape[d];
            feat->default_value = calloc((size_t)count, sizeof(double));
            if (!feat->default_value) return fail(j, q, false, "out of memory");
            if (json_is_number(dv)) {
                for (int64_t i = 0; i < count; i++) feat->default_value[i] = json_number_value(dv);
            } else if (json_is_array(dv) && (int64_t)json_array_size(dv) == count) {
                for (int64_t i = 0; i < count; i++) {
                    const json_t *x = json_array_get(dv, (size_t)i);
                    if (!json_is_number(x)) {
                        char e[JOB_PATH_MAX];
                        element(e, q, (size_t)i);
                        return fail(j, e, false, "expected a number, found %s", type_name(x));
                    }
                    feat->default_value[i] = json_number_value(x);
                }
            } else {
                return fail(j, q, false, "expected a number or a flat list of %lld numbers (the "
                                         "feature's shape)", (long long)count);
            }
            feat->has_default = true;
        }
    }
    return 0;
}

static const char *const SOURCE_TYPES[] = {"fashion_mnist", "idx", "csv", "tfrecord", NULL};

static int parse_source(job *j, const json_t *v, const char *path, job_source *s) {
    if (want_object(j, v, path)) return -1;
    s->where = where_of(j, path, false);
    const char *type = NULL;
    if (opt_string(j, v, path, "type", &type)) return -1;
    char p[JOB_PATH_MAX], names[256];
    list_names(names, sizeof names, SOURCE_TYPES);
    if (!type) return fail(j, path, false, "a source needs a \"type\" (one of: %s)", names);
    child(p, path, "type");
    if (!strcmp(type, "fashion_mnist")) {
        static const char *const keys[] = {"type", "split", "dir", NULL};
        if (check_keys(j, v, path, keys)) return -1;
        s->kind = JOB_SOURCE_FASHION_MNIST;
        const char *split = "train", *dir = NULL;
        if (opt_string(j, v, path, "split", &split) || opt_string(j, v, path, "dir", &dir)) return -1;
        if (strcmp(split, "train") && strcmp(split, "test")) {
            child(p, path, "split");
            return fail(j, p, false, "unknown split \"%s\" (expected \"train\" or \"test\")", split);
        }
        s->test_split = !strcmp(split, "test");
        if (dir && !(s->dir = resolve(j, dir))) return fail(j, path, false, "out of memory");
        return 0;
    }
    if (!strcmp(type, "idx")) {
        static const char *const keys[] = {"type", "x", "y", NULL};
        if (check_keys(j, v, path, keys)) return -1;
        s->kind = JOB_SOURCE_IDX;
        const char *x = NULL, *y = NULL;
        if (opt_string(j, v, path, "x", &x) || opt_string(j, v, path, "y", &y)) return -1;
        if (!x) return fail(j, path, false, "an idx source needs \"x\" (the IDX file of the inputs)");
        child(p, path, "x");
        s->x_where = where_of(j, p, false);
        child(p, path, "y");
        s->y_where = where_of(j, p, false);
        if (!(s->x_path = resolve(j, x)) || (y && !(s->y_path = resolve(j, y))))
            return fail(j, path, false, "out of memory");
        return 0;
    }
    if (!strcmp(type, "csv")) {
        static const char *const keys[] = {"type", "files", "label", "column_names",
                                           "select_columns", "field_delim", "use_quote_delim",
                                           "na_value", "header", "num_rows_for_inference",
                                           "compression_type", NULL};
        if (check_keys(j, v, path, keys)) return -1;
        s->kind = JOB_SOURCE_CSV;
        if (source_files(j, v, path, s)) return -1;
        const char *label = NULL, *delim = NULL, *na = NULL;
        if (opt_string(j, v, path, "label", &label) ||
            opt_string(j, v, path, "field_delim", &delim) || opt_string(j, v, path, "na_value", &na))
            return -1;
        if (delim && strlen(delim) != 1) {
            child(p, path, "field_delim");
            return fail(j, p, false, "field_delim must be one character, got \"%s\"", delim);
        }
        s->field_delim = delim ? delim[0] : 0;
        bool quote = true, header = true;
        if (opt_bool(j, v, path, "use_quote_delim", &quote) || opt_bool(j, v, path, "header", &header))
            return -1;
        s->no_quote_delim = !quote;
        s->no_header = !header;
        if (opt_int(j, v, path, "num_rows_for_inference", -1, INT64_MAX, &s->num_rows_for_inference,
                    NULL))
            return -1;
        if (compression_of(j, v, path, &s->compression)) return -1;
        const json_t *cn = json_object_get(v, "column_names");
        child(p, path, "column_names");
        if (cn && string_list(j, cn, p, &s->column_names, &s->ncolumn_names)) return -1;
        if (!header && !cn)
            return fail(j, path, false, "\"header\": false needs \"column_names\"");
        const json_t *sc = json_object_get(v, "select_columns");
        child(p, path, "select_columns");
        if (sc && string_list(j, sc, p, &s->select_columns, &s->nselect)) return -1;
        child(p, path, "label");
        s->label_where = where_of(j, p, false);
        if ((label && !(s->label = cli_strdup(label))) || (na && !(s->na_value = cli_strdup(na))))
            return fail(j, path, false, "out of memory");
        return 0;
    }
    if (!strcmp(type, "tfrecord")) {
        static const char *const keys[] = {"type", "files", "features", "label",
                                           "compression_type", NULL};
        if (check_keys(j, v, path, keys)) return -1;
        s->kind = JOB_SOURCE_TFRECORD;
        if (source_files(j, v, path, s) || compression_of(j, v, path, &s->compression) ||
            parse_features(j, json_object_get(v, "features"), path, s))
            return -1;
        const char *label = NULL;
        if (opt_string(j, v, path, "label", &label)) return -1;
        child(p, path, "label");
        s->label_where = where_of(j, p, false);
        if (label) {
            int k = 0;
            while (k < s->nfeatures && strcmp(s->features[k].name, label)) k++;
            if (k == s->nfeatures)
                return fail(j, p, false, "the label \"%s\" is not one of the features", label);
            if (s->nfeatures == 1)
                return fail(j, p, false, "the label is the only feature: nothing is left for x");
            if (!(s->label = cli_strdup(label))) return fail(j, p, false, "out of memory");
        }
        return 0;
    }
    return fail(j, p, false, "unknown source type \"%s\" (expected one of: %s)", type, names);
}

static const char *const TRANSFORMS[] = {"scale", "reshape", "cache",  "shuffle", "batch", "unbatch",
                                         "prefetch", "repeat", "take", "skip", "shard", NULL};

/* A count: an integer >= min, or given in an object under `key`. */
static int count_arg(const job *j, const json_t *v, const char *path, const char *key,
                     int64_t min, int64_t *out) {
    if (json_is_object(v)) {
        const char *const keys[] = {key, NULL};
        if (check_keys(j, v, path, keys)) return -1;
        if (!json_object_get(v, key)) return fail(j, path, false, "needs \"%s\"", key);
        return opt_int(j, v, path, key, min, INT64_MAX, out, NULL);
    }
    if (!json_is_integer(v))
        return fail(j, path, false, "expected an integer or {\"%s\": ...}, found %s", key,
                    type_name(v));
    int64_t x = (int64_t)json_integer_value(v);
    if (x < min) return fail(j, path, false, "must be at least %lld, got %lld", (long long)min, (long long)x);
    *out = x;
    return 0;
}

static int parse_transform(job *j, const json_t *v, const char *path, job_transform *t) {
    t->where = where_of(j, path, false);
    char names[512];
    list_names(names, sizeof names, TRANSFORMS);
    if (!json_is_object(v) || json_object_size(v) != 1)
        return fail(j, path, false,
                    "a transform is an object with one key, its name (e.g. {\"batch\": 128}), "
                    "found %s",
                    json_is_object(v) ? (json_object_size(v) ? "several keys" : "no key")
                                      : type_name(v));
    void *it = json_object_iter((json_t *)v);
    const char *name = json_object_iter_key(it);
    const json_t *a = json_object_iter_value(it);
    char p[JOB_PATH_MAX];
    child(p, path, name);
    int k = 0;
    while (TRANSFORMS[k] && strcmp(TRANSFORMS[k], name)) k++;
    if (!TRANSFORMS[k]) {
        job_where w = where_of(j, p, true);
        snprintf(w.path, sizeof w.path, "%s", path);
        return job_fail_at(j, &w, "unknown transform \"%s\" (expected one of: %s)", name, names);
    }
    t->where = where_of(j, p, true);
    snprintf(t->where.path, sizeof t->where.path, "%s", p);
    t->kind = (job_transform_kind)k;
    switch (t->kind) {
    case JOB_T_SCALE:
        if (!json_is_number(a))
            return fail(j, p, false, "expected a number (the factor x is multiplied by), found %s",
                        type_name(a));
        t->factor = json_number_value(a);
        return 0;
    case JOB_T_RESHAPE: return shape_of(j, a, p, true, &t->rank, t->shape);
    case JOB_T_CACHE: {
        if (want_object(j, a, p)) return -1;
        static const char *const keys[] = {"filename", NULL};
        const char *f = NULL;
        if (check_keys(j, a, p, keys) || opt_string(j, a, p, "filename", &f)) return -1;
        if (f && f[0] && !(t->filename = resolve(j, f))) return fail(j, p, false, "out of memory");
        return 0;
    }
    case JOB_T_SHUFFLE:
        if (json_is_object(a)) {
            static const char *const keys[] = {"buffer_size", "seed", "reshuffle_each_iteration",
                                               NULL};
            bool reshuffle = true, has_size = false;
            if (check_keys(j, a, p, keys) ||
                opt_int(j, a, p, "buffer_size", 1, INT64_MAX, &t->n, &has_size) ||
                opt_int(j, a, p, "seed", 0, INT64_MAX, &t->seed, NULL) ||
                opt_bool(j, a, p, "reshuffle_each_iteration", &reshuffle))
                return -1;
            if (!has_size) return fail(j, p, false, "shuffle needs \"buffer_size\"");
            t->no_reshuffle = !reshuffle;
            return 0;
        }
        return count_arg(j, a, p, "buffer_size", 1, &t->n);
    case JOB_T_BATCH:
        if (json_is_object(a)) {
            static const char *const keys[] = {"batch_size", "drop_remainder", NULL};
            bool has = false;
            if (check_keys(j, a, p, keys) ||
                opt_int(j, a, p, "batch_size", 1, INT64_MAX, &t->n, &has) ||
                opt_bool(j, a, p, "drop_remainder", &t->drop_remainder))
                return -1;
            if (!has) return fail(j, p, false, "batch needs \"batch_size\"");
            return 0;
        }
        return count_arg(j, a, p, "batch_size", 1, &t->n);
    case JOB_T_UNBATCH:
        if (!json_is_object(a) || json_object_size(a))
            return fail(j, p, false, "expected {} (unbatch takes no arguments), found %s",
                        json_is_object(a) ? "arguments" : type_name(a));
        return 0;
    case JOB_T_PREFETCH: {
        const json_t *b = a;
        char q[JOB_PATH_MAX];
        snprintf(q, sizeof q, "%s", p);
        if (json_is_object(a)) {
            static const char *const keys[] = {"buffer_size", NULL};
            if (check_keys(j, a, p, keys)) return -1;
            child(q, p, "buffer_size");
            if (!(b = json_object_get(a, "buffer_size"))) return fail(j, p, false, "prefetch needs \"buffer_size\"");
        }
        if (json_is_string(b) && !strcmp(json_string_value(b), "autotune")) {
            t->n = CT_AUTOTUNE;
            return 0;
        }
        if (json_is_integer(b) && (json_integer_value(b) >= 1 || json_integer_value(b) == -1)) {
            t->n = (int64_t)json_integer_value(b);
            return 0;
        }
        return fail(j, q, false, "expected \"autotune\" or a buffer size >= 1");
    }
    case JOB_T_REPEAT:
        if (json_is_null(a)) {
            t->n = -1;
            return 0;
        }
        return count_arg(j, a, p, "count", -1, &t->n);
    case JOB_T_TAKE: return count_arg(j, a, p, "count", -1, &t->n);
    case JOB_T_SKIP: return count_arg(j, a, p, "count", -1, &t->n);
    case JOB_T_SHARD: {
        static const char *const keys[] = {"num_shards", "index", NULL};
        bool a1 = false, a2 = false;
        if (want_object(j, a, p) || check_keys(j, a, p, keys) ||
            opt_int(j, a, p, "num_shards", 1, INT64_MAX, &t->n, &a1) ||
            opt_int(j, a, p, "index", 0, INT64_MAX, &t->index, &a2))
            return -1;
        if (!a1 || !a2) return fail(j, p, false, "shard needs \"num_shards\" and \"index\"");
        if (t->index >= t->n) {
            char q[JOB_PATH_MAX];
            child(q, p, "index");
            return fail(j, q, false, "index must be less than num_shards (%lld), got %lld",
                        (long long)t->n, (long long)t->index);
        }
        return 0;
    }
    }
    return 0;
}

/* tf.data.experimental.AutoShardPolicy by name (TF's HINT has no place
 * here: no transform takes tf.data.experimental.SHARD_HINT). */
static const char *const SHARD_POLICIES[] = {"AUTO", "FILE", "DATA", "OFF", NULL};
static const ct_auto_shard_policy SHARD_POLICY_VALUES[] = {CT_AUTO_SHARD_AUTO, CT_AUTO_SHARD_FILE,
                                                           CT_AUTO_SHARD_DATA, CT_AUTO_SHARD_OFF};

/* A part's "options": what of tf.data.Options a job can set,
 * {"experimental_distribute": {"auto_shard_policy": "AUTO"}}. */
static int parse_options(job *j, const json_t *v, const char *path, job_data *d) {
    if (want_object(j, v, path)) return -1;
    static const char *const keys[] = {"experimental_distribute", NULL};
    if (check_keys(j, v, path, keys)) return -1;
    const json_t *dist = json_object_get(v, "experimental_distribute");
    if (!dist) return 0;
    char p[JOB_PATH_MAX], q[JOB_PATH_MAX], names[64];
    child(p, path, "experimental_distribute");
    if (want_object(j, dist, p)) return -1;
    static const char *const dkeys[] = {"auto_shard_policy", NULL};
    if (check_keys(j, dist, p, dkeys)) return -1;
    const json_t *pol = json_object_get(dist, "auto_shard_policy");
    if (!pol) return 0;
    child(q, p, "auto_shard_policy");
    list_names(names, sizeof names, SHARD_POLICIES);
    if (!json_is_string(pol))
        return fail(j, q, false, "expected a policy name (one of: %s), found %s", names,
                    type_name(pol));
    const char *name = json_string_value(pol);
    int k = 0;
    while (SHARD_POLICIES[k] && strcmp(SHARD_POLICIES[k], name)) k++;
    if (!SHARD_POLICIES[k]) {
        if (!strcmp(name, "HINT"))
            return fail(j, q, false, "HINT is not available (no transform takes "
                                     "tf.data.experimental.SHARD_HINT); expected one of: %s",
                        names);
        return fail(j, q, false, "unknown auto_shard_policy \"%s\" (expected one of: %s)", name,
                    names);
    }
    d->shard_policy = SHARD_POLICY_VALUES[k];
    d->shard_policy_where = where_of(j, q, false);
    return 0;
}

static int parse_data_part(job *j, const json_t *v, const char *path, job_data *d) {
    if (want_object(j, v, path)) return -1;
    static const char *const keys[] = {"source", "transforms", "options", NULL};
    if (check_keys(j, v, path, keys)) return -1;
    d->present = true;
    d->where = where_of(j, path, false);
    char p[JOB_PATH_MAX];
    const json_t *src = json_object_get(v, "source");
    if (!src) return fail(j, path, false, "needs a \"source\"");
    child(p, path, "source");
    if (parse_source(j, src, p, &d->source)) return -1;
    const json_t *opts = json_object_get(v, "options");
    child(p, path, "options");
    if (opts && parse_options(j, opts, p, d)) return -1;
    const json_t *ts = json_object_get(v, "transforms");
    if (!ts) return 0;
    child(p, path, "transforms");
    if (!json_is_array(ts)) return fail(j, p, false, "expected a list of transforms, found %s", type_name(ts));
    size_t n = json_array_size(ts);
    d->transforms = calloc(n ? n : 1, sizeof *d->transforms);
    if (!d->transforms) return fail(j, p, false, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char e[JOB_PATH_MAX];
        element(e, p, i);
        if (parse_transform(j, json_array_get(ts, i), e, &d->transforms[d->ntransforms])) return -1;
        d->ntransforms++;
    }
    return 0;
}

static int parse_data(job *j, const json_t *v) {
    const char *path = "data";
    if (want_object(j, v, path)) return -1;
    static const char *const keys[] = {"train", "validation", "test", NULL};
    if (check_keys(j, v, path, keys)) return -1;
    struct {
        const char *key;
        job_data *d;
    } parts[] = {{"train", &j->train}, {"validation", &j->validation}, {"test", &j->test}};
    for (int i = 0; i < 3; i++) {
        const json_t *p = json_object_get(v, parts[i].key);
        char cp[JOB_PATH_MAX];
        child(cp, path, parts[i].key);
        if (p && parse_data_part(j, p, cp, parts[i].d)) return -1;
    }
    return 0;
}

/* ---- fit, callbacks, evaluate, predict ---------------------------------------------- */

/* verbose: 0, 1, 2 or "auto" (Keras) into CT_VERBOSE_*. */
static int verbose_of(const job *j, const json_t *obj, const char *path, int *out) {
    const json_t *v = json_object_get(obj, "verbose");
    if (!v) return 0;
    char p[JOB_PATH_MAX];
    child(p, path, "verbose");
    if (json_is_string(v) && !strcmp(json_string_value(v), "auto")) {
        *out = CT_VERBOSE_AUTO;
        return 0;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 2) {
        static const int map[] = {CT_VERBOSE_SILENT, CT_VERBOSE_BAR, CT_VERBOSE_EPOCH};
        *out = map[json_integer_value(v)];
        return 0;
    }
    return fail(j, p, false, "expected 0, 1, 2 or \"auto\"");
}

static int parse_class_weight(job *j, const json_t *v, const char *path) {
    if (json_is_null(v)) return 0;
    if (want_object(j, v, path)) return -1;
    size_t n = json_object_size(v);
    if (n == 0) return 0;
    j->class_weight = malloc(n * sizeof *j->class_weight);
    bool *seen = calloc(n, sizeof *seen);
    int rc = 0;
    if (!j->class_weight || !seen) rc = fail(j, path, false, "out of memory");
    const char *k;
    json_t *w;
    json_object_foreach((json_t *)v, k, w) {
        if (rc) break;
        char p[JOB_PATH_MAX];
        child(p, path, k);
        char *end;
        errno = 0;
        long c = strtol(k, &end, 10);
        if (!k[0] || *end || errno || c < 0 || (size_t)c >= n) {
            rc = fail(j, p, true,
                      "class_weight's keys must be the classes 0 to %zu (one less than the number "
                      "of classes), got \"%s\"",
                      n - 1, k);
            break;
        }
        if (!json_is_number(w)) {
            rc = fail(j, p, false, "expected a number, found %s", type_name(w));
            break;
        }
        j->class_weight[c] = json_number_value(w);
        seen[c] = true;
    }
    /* jansson rejects duplicate keys, so n distinct keys in [0, n) cover
     * every class. */
    free(seen);
    if (!rc) j->nclass_weight = (int)n;
    return rc;
}

static int parse_fit(job *j, const json_t *v) {
    const char *path = "fit";
    if (want_object(j, v, path)) return -1;
    static const char *const keys[] = {"epochs", "batch_size", "verbose", "steps_per_epoch",
                                       "validation_steps", "validation_freq", "validation_batch_size",
                                       "initial_epoch", "class_weight", "shuffle", NULL};
    if (json_object_get(v, "validation_split")) {
        char p[JOB_PATH_MAX];
        child(p, path, "validation_split");
        return fail(j, p, true, "validation_split needs tensors, and a job's data are datasets; "
                                "give data.validation instead");
    }
    if (check_keys(j, v, path, keys)) return -1;
    bool has_bs = false, shuffle = true;
    if (opt_int32(j, v, path, "epochs", 1, &j->epochs) ||
        opt_int(j, v, path, "batch_size", 1, INT64_MAX, &j->batch_size, &has_bs) ||
        verbose_of(j, v, path, &j->verbose) ||
        opt_int(j, v, path, "steps_per_epoch", 1, INT64_MAX, &j->steps_per_epoch, NULL) ||
        opt_int(j, v, path, "validation_steps", 1, INT64_MAX, &j->validation_steps, NULL) ||
        opt_int32(j, v, path, "validation_freq", 1, &j->validation_freq) ||
        opt_int(j, v, path, "validation_batch_size", 1, INT64_MAX, &j->validation_batch_size, NULL) ||
        opt_int32(j, v, path, "initial_epoch", 0, &j->initial_epoch) ||
        opt_bool(j, v, path, "shuffle", &shuffle))
        return -1;
    j->no_shuffle = !shuffle;
    if (has_bs) {
        char p[JOB_PATH_MAX];
        child(p, path, "batch_size");
        j->batch_size_where = where_of(j, p, false);
    }
    const json_t *cw = json_object_get(v, "class_weight");
    if (cw) {
        char p[JOB_PATH_MAX];
        child(p, path, "class_weight");
        if (parse_class_weight(j, cw, p)) return -1;
    }
    return 0;
}

/* Callbacks whose config holds a file name: the name is taken relative to
 * the job file, as every path in a job. */
static int callback_paths(job *j, json_t *cfg, const char *cls, const char *path) {
    const char *key = !strcmp(cls, "CSVLogger")         ? "filename"
                      : !strcmp(cls, "TensorBoard")     ? "log_dir"
                      : !strcmp(cls, "ModelCheckpoint") ? "filepath"
                      : !strcmp(cls, "BackupAndRestore") ? "backup_dir"
                                                        : NULL;
    if (!key) return 0;
    const json_t *f = json_object_get(cfg, key);
    if (!f && !strcmp(cls, "TensorBoard")) f = json_string("logs"); /* Keras's default */
    else if (f) json_incref((json_t *)f);
    if (!json_is_string(f)) {
        json_decref((json_t *)f);
        return 0;
    }
    char *full = resolve(j, json_string_value(f));
    json_decref((json_t *)f);
    if (!full) return fail(j, path, false, "out of memory");
    json_object_set_new(cfg, key, json_string(full));
    free(full);
    return 0;
}

static int parse_callbacks(job *j, const json_t *v) {
    const char *path = "callbacks";
    if (!json_is_array(v)) return fail(j, path, false, "expected a list of callbacks, found %s", type_name(v));
    size_t n = json_array_size(v);
    j->callbacks = calloc(n ? n : 1, sizeof *j->callbacks);
    if (!j->callbacks) return fail(j, path, false, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char p[JOB_PATH_MAX], q[JOB_PATH_MAX];
        element(p, path, i);
        const json_t *c = json_array_get(v, i);
        job_callback *cb = &j->callbacks[j->ncallbacks];
        cb->where = where_of(j, p, false);
        if (want_object(j, c, p)) return -1;
        static const char *const keys[] = {"class_name", "config", "module", "registered_name", NULL};
        if (check_keys(j, c, p, keys)) return -1;
        const char *cls = NULL;
        if (opt_string(j, c, p, "class_name", &cls)) return -1;
        if (!cls) return fail(j, p, false, "a callback needs a \"class_name\" (EarlyStopping, ...)");
        child(q, p, "class_name");
        const json_t *cfg = json_object_get(c, "config");
        child(q, p, "config");
        if (cfg && want_object(j, cfg, q)) return -1;
        json_t *copy = cfg ? json_deep_copy(cfg) : json_object();
        if (!copy) return fail(j, p, false, "out of memory");
        int rc = callback_paths(j, copy, cls, q);
        if (!rc) {
            cb->class_name = cli_strdup(cls);
            cb->config_json = json_dumps(copy, JSON_COMPACT);
            if (!cb->class_name || !cb->config_json) rc = fail(j, p, false, "out of memory");
        }
        json_decref(copy);
        j->ncallbacks++;
        if (rc) return -1;
    }
    return 0;
}

static int parse_evaluate(job *j, const json_t *v) {
    const char *path = "evaluate";
    if (want_object(j, v, path)) return -1;
    static const char *const keys[] = {"steps", "verbose", NULL};
    j->has_evaluate = true;
    return check_keys(j, v, path, keys) ||
                   opt_int(j, v, path, "steps", 1, INT64_MAX, &j->evaluate_steps, NULL) ||
                   verbose_of(j, v, path, &j->evaluate_verbose)
               ? -1
               : 0;
}

static int parse_predict(job *j, const json_t *v) {
    const char *path = "predict";
    if (want_object(j, v, path)) return -1;
    static const char *const keys[] = {"output", "steps", "verbose", NULL};
    if (check_keys(j, v, path, keys)) return -1;
    j->has_predict = true;
    const char *out = NULL;
    if (opt_string(j, v, path, "output", &out) ||
        opt_int(j, v, path, "steps", 1, INT64_MAX, &j->predict_steps, NULL) ||
        verbose_of(j, v, path, &j->predict_verbose))
        return -1;
    if (out) {
        char p[JOB_PATH_MAX];
        child(p, path, "output");
        j->predict_output_where = where_of(j, p, false);
        if (!out[0]) return fail(j, p, false, "the output file name is empty");
        if (!(j->predict_output = resolve(j, out))) return fail(j, p, false, "out of memory");
    }
    return 0;
}

/* ---- the job ------------------------------------------------------------------------------ */

static const char *const TOP_KEYS[] = {"model",   "compile", "data", "fit",     "callbacks",
                                       "evaluate", "predict", "seed", "threads", "description",
                                       NULL};

static int parse_top(job *j, const json_t *root) {
    if (!json_is_object(root))
        return fail(j, "", false, "a job file is a JSON object, found %s", type_name(root));
    if (check_keys(j, root, "", TOP_KEYS)) return -1;
    const json_t *v;
    if (!(v = json_object_get(root, "model")))
        return fail(j, "", false, "missing \"model\" (a Keras model JSON file name or an inline "
                                  "model object)");
    if (parse_model(j, v)) return -1;
    if ((v = json_object_get(root, "compile")) && parse_compile(j, v)) return -1;
    if ((v = json_object_get(root, "data")) && parse_data(j, v)) return -1;
    if ((v = json_object_get(root, "fit")) && parse_fit(j, v)) return -1;
    if ((v = json_object_get(root, "callbacks")) && parse_callbacks(j, v)) return -1;
    if ((v = json_object_get(root, "evaluate")) && parse_evaluate(j, v)) return -1;
    if ((v = json_object_get(root, "predict")) && parse_predict(j, v)) return -1;
    const char *desc = NULL;
    if (opt_string(j, root, "", "description", &desc)) return -1;
    if (opt_int(j, root, "", "seed", 0, INT64_MAX, &j->seed, &j->has_seed)) return -1;
    int64_t threads = 0;
    if (opt_int(j, root, "", "threads", 1, 4096, &threads, NULL)) return -1;
    j->threads = (int)threads;
    return 0;
}

job *job_parse(const char *text, const char *name, const char *dir) {
    job *j = calloc(1, sizeof *j);
    if (!j) {
        cli_fail("%s: out of memory", name);
        return NULL;
    }
    j->path = cli_strdup(name);
    j->dir = cli_strdup(dir ? dir : ".");
    json_error_t e;
    /* Duplicate keys are rejected: the second of two "epochs" would
     * otherwise win silently. */
    json_t *root = j->path && j->dir ? json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e)
                                     : NULL;
    if (!root) {
        if (!j->path || !j->dir) cli_fail("%s: out of memory", name);
        else cli_fail("%s:%d:%d: syntax error: %s", name, e.line > 0 ? e.line : 1,
                      e.column > 0 ? e.column : 1, e.text);
        job_free(j);
        return NULL;
    }
    j->pos = jpos_scan(text);
    int rc = j->pos ? parse_top(j, root) : cli_fail("%s: out of memory", name);
    json_decref(root);
    if (rc) {
        job_free(j);
        return NULL;
    }
    return j;
}

job *job_load(const char *path) {
    char *text = cli_read_file(path, NULL);
    if (!text) return NULL;
    char *dir = cli_dirname(path);
    job *j = dir ? job_parse(text, path, dir) : NULL;
    if (!dir) cli_fail("%s: out of memory", path);
    free(dir);
    free(text);
    return j;
}

static void free_source(job_source *s) {
    free(s->dir);
    free(s->x_path);
    free(s->y_path);
    free_strings(s->files, s->nfiles);
    free(s->label);
    free_strings(s->column_names, s->ncolumn_names);
    free_strings(s->select_columns, s->nselect);
    free(s->na_value);
    for (int i = 0; i < s->nfeatures; i++) {
        free(s->features[i].name);
        free(s->features[i].default_value);
    }
    free(s->features);
}

static void free_data(job_data *d) {
    free_source(&d->source);
    for (int i = 0; i < d->ntransforms; i++) free(d->transforms[i].filename);
    free(d->transforms);
}

static void free_object(job_object *o) {
    free(o->name);
    free(o->config_json);
}

void job_free(job *j) {
    if (!j) return;
    free(j->path);
    free(j->dir);
    jpos_free(j->pos);
    free(j->model_json);
    free(j->model_file);
    free_object(&j->optimizer);
    free_object(&j->loss);
    for (int i = 0; i < j->nmetrics; i++) free_object(&j->metrics[i]);
    free(j->metrics);
    free_data(&j->train);
    free_data(&j->validation);
    free_data(&j->test);
    free(j->class_weight);
    for (int i = 0; i < j->ncallbacks; i++) {
        free(j->callbacks[i].class_name);
        free(j->callbacks[i].config_json);
    }
    free(j->callbacks);
    free(j->predict_output);
    free(j);
}

bool job_text_is_job(const char *text) {
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    bool is_job = json_is_object(v) && json_object_get(v, "model") &&
                  !json_object_get(v, "class_name") && !json_object_get(v, "modelTopology") &&
                  !json_object_get(v, "model_config");
    json_decref(v);
    return is_job;
}
