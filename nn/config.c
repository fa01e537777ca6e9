/*
 * Keras config dicts: the reader every block parses its arguments with,
 * and JSON text in and out.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"

/* Keys any Keras object may carry that the blocks themselves do not read
 * (the layer base reads name / trainable / dtype / shapes itself). */
static const char *const BASE_KEYS[] = {
    "name",        "trainable",         "dtype",           "batch_input_shape",
    "batch_shape", "input_shape",       "batch_size",      "sparse",
    "ragged",      "autocast",          "build_config",    "compile_config",
    "input_dim",   "quantization_config", "lora_rank",     "lora_alpha",
    "activity_regularizer", "input_length", NULL};

static bool base_key(const char *k) {
    for (int i = 0; BASE_KEYS[i]; i++)
        if (!strcmp(BASE_KEYS[i], k)) return true;
    return false;
}

static ct_status cfg_error(ct__cfg *c, const char *key, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (c->name)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s '%s': argument '%s': %s", c->cls, c->name,
                         key, msg);
    return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: argument '%s': %s", c->cls, key, msg);
}

ct_status ct__cfg_check(ct__cfg *c, bool ok, const char *key, const char *fmt, ...) {
    if (ok) return CT_OK;
    va_list ap;
    va_start(ap, fmt);
    ct_status st = cfg_error(c, key, fmt, ap);
    va_end(ap);
    return st;
}

ct_status ct__cfg_begin(ct__cfg *c, const json_t *obj, const char *cls, const char *name) {
    c->obj = obj;
    c->cls = cls;
    c->name = name;
    c->used = json_object();
    if (!c->used) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", cls);
    if (obj && !json_is_object(obj)) {
        json_decref(c->used);
        c->used = NULL;
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the config must be a JSON object", cls);
    }
    return CT_OK;
}

void ct__cfg_end(ct__cfg *c) {
    json_decref(c->used);
    c->used = NULL;
}

ct_status ct__cfg_finish(ct__cfg *c) {
    ct_status st = CT_OK;
    if (c->obj) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)c->obj, k, v) {
            if (base_key(k) || json_object_get(c->used, k)) continue;
            st = c->name ? ct__error(CT_ERR_INVALID_ARGUMENT,
                                     "%s '%s': unknown argument '%s'", c->cls, c->name, k)
                         : ct__error(CT_ERR_INVALID_ARGUMENT, "%s: unknown argument '%s'",
                                     c->cls, k);
            break;
        }
    }
    ct__cfg_end(c);
    return st;
}

/* The value of key (NULL when absent or null), marking it read. */
static const json_t *take(ct__cfg *c, const char *key) {
    if (!c->obj) return NULL;
    json_t *v = json_object_get(c->obj, key);
    if (v) json_object_set_new(c->used, key, json_true());
    return v && !json_is_null(v) ? v : NULL;
}

const json_t *ct__cfg_json(ct__cfg *c, const char *key) { return take(c, key); }

bool ct__cfg_has(ct__cfg *c, const char *key) {
    if (!c->obj) return false;
    json_t *v = json_object_get(c->obj, key);
    return v && !json_is_null(v);
}

/* An integral JSON number (Keras configs write 3 or 3.0). */
static bool as_int(const json_t *v, int64_t *out) {
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && fabs(d) < 9e15) {
            *out = (int64_t)d;
            return true;
        }
    }
    return false;
}

ct_status ct__cfg_int(ct__cfg *c, const char *key, int64_t dflt, int64_t *out) {
    const json_t *v = take(c, key);
    if (!v) {
        if (dflt == CT__REQUIRED) return ct__cfg_check(c, false, key, "is required");
        *out = dflt;
        return CT_OK;
    }
    if (!as_int(v, out)) return ct__cfg_check(c, false, key, "must be an integer");
    return CT_OK;
}

ct_status ct__cfg_double(ct__cfg *c, const char *key, double dflt, double *out) {
    const json_t *v = take(c, key);
    if (!v) {
        *out = dflt;
        return CT_OK;
    }
    if (!json_is_number(v)) return ct__cfg_check(c, false, key, "must be a number");
    *out = json_number_value(v);
    return CT_OK;
}

ct_status ct__cfg_bool(ct__cfg *c, const char *key, bool dflt, bool *out) {
    const json_t *v = take(c, key);
    if (!v) {
        *out = dflt;
        return CT_OK;
    }
    if (!json_is_boolean(v)) return ct__cfg_check(c, false, key, "must be true or false");
    *out = json_is_true(v);
    return CT_OK;
}

ct_status ct__cfg_str(ct__cfg *c, const char *key, const char *dflt,
                      const char *const *allowed, const char **out) {
    const json_t *v = take(c, key);
    const char *s = dflt;
    if (v) {
        if (!json_is_string(v)) return ct__cfg_check(c, false, key, "must be a string");
        s = json_string_value(v);
    }
    if (allowed && s) {
        for (int i = 0; allowed[i]; i++)
            if (!strcasecmp(allowed[i], s)) {
                *out = allowed[i];
                return CT_OK;
            }
        char list[256] = "";
        for (int i = 0; allowed[i]; i++) {
            if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
            strncat(list, "'", sizeof list - strlen(list) - 1);
            strncat(list, allowed[i], sizeof list - strlen(list) - 1);
            strncat(list, "'", sizeof list - strlen(list) - 1);
        }
        return ct__cfg_check(c, false, key, "must be one of %s, got '%s'", list, s);
    }
    *out = s;
    return CT_OK;
}

ct_status ct__cfg_ints(ct__cfg *c, const char *key, int n, const int64_t *dflt, int64_t *out) {
    const json_t *v = take(c, key);
    if (!v) {
        if (!dflt) return ct__cfg_check(c, false, key, "is required");
        memcpy(out, dflt, (size_t)n * sizeof *out);
        return CT_OK;
    }
    int64_t x;
    if (as_int(v, &x)) {
        for (int i = 0; i < n; i++) out[i] = x;
        return CT_OK;
    }
    if (!json_is_array(v) || (int)json_array_size(v) != n)
        return ct__cfg_check(c, false, key, "must be an integer or a list of %d integers", n);
    for (int i = 0; i < n; i++)
        if (!as_int(json_array_get(v, (size_t)i), &out[i]))
            return ct__cfg_check(c, false, key, "element %d must be an integer", i);
    return CT_OK;
}

ct_status ct__cfg_int_list(ct__cfg *c, const char *key, int max, int64_t *out, int *n,
                           bool *present) {
    const json_t *v = take(c, key);
    *n = 0;
    if (present) *present = v != NULL;
    if (!v) return CT_OK;
    int64_t x;
    if (as_int(v, &x)) {
        out[0] = x;
        *n = 1;
        return CT_OK;
    }
    if (!json_is_array(v)) return ct__cfg_check(c, false, key, "must be a list of integers");
    if ((int)json_array_size(v) > max)
        return ct__cfg_check(c, false, key, "has %zu elements, at most %d allowed",
                             json_array_size(v), max);
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *e = json_array_get(v, i);
        if (json_is_null(e)) out[i] = -1; /* None in a shape */
        else if (!as_int(e, &out[i]))
            return ct__cfg_check(c, false, key, "element %zu must be an integer", i);
    }
    *n = (int)json_array_size(v);
    return CT_OK;
}

static const char *what(ct__cfg *c, const char *key, char *buf, size_t cap) {
    if (c->name) snprintf(buf, cap, "%s '%s': argument '%s'", c->cls, c->name, key);
    else snprintf(buf, cap, "%s: argument '%s'", c->cls, key);
    return buf;
}

ct_status ct__cfg_activation(ct__cfg *c, const char *key, const char *dflt,
                             ct_activation_fn *fn) {
    char w[256];
    const json_t *v = take(c, key);
    if (!v) {
        json_t *d = dflt ? json_string(dflt) : json_null();
        ct_status st = ct__activation_from_json(d, fn, what(c, key, w, sizeof w));
        json_decref(d);
        return st;
    }
    return ct__activation_from_json(v, fn, what(c, key, w, sizeof w));
}

ct_status ct__cfg_initializer(ct__cfg *c, const char *key, const char *dflt,
                              ct_initializer *out) {
    char w[256];
    const json_t *v = take(c, key);
    if (!v) {
        json_t *d = dflt ? json_string(dflt) : json_null();
        ct_status st = ct__initializer_from_json(d, out, what(c, key, w, sizeof w));
        json_decref(d);
        return st;
    }
    return ct__initializer_from_json(v, out, what(c, key, w, sizeof w));
}

ct_status ct__cfg_regularizer(ct__cfg *c, const char *key, ct_regularizer *out) {
    char w[256];
    const json_t *v = take(c, key);
    if (!v) {
        *out = (ct_regularizer){0};
        return CT_OK;
    }
    return ct__regularizer_from_json(v, out, what(c, key, w, sizeof w));
}

ct_status ct__cfg_constraint(ct__cfg *c, const char *key, ct_constraint *out) {
    char w[256];
    const json_t *v = take(c, key);
    if (!v) {
        *out = (ct_constraint){0};
        return CT_OK;
    }
    return ct__constraint_from_json(v, out, what(c, key, w, sizeof w));
}

/* ---- JSON text ------------------------------------------------------------------ */

/* A growing text buffer. */
typedef struct {
    char *p;
    size_t n, cap;
    bool failed;
} textbuf;

static void put(textbuf *t, const char *s, size_t n) {
    if (t->failed) return;
    if (t->n + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->n + n + 1) cap *= 2;
        char *q = realloc(t->p, cap);
        if (!q) {
            t->failed = true;
            return;
        }
        t->p = q;
        t->cap = cap;
    }
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = '\0';
}

static void puts_(textbuf *t, const char *s) { put(t, s, strlen(s)); }

/* The shortest text that reads back as v, laid out as Python's repr does:
 * fixed notation for exponents in [-4, 16), else d.ddde+XX; "1.0", "nan",
 * "inf". (CSVLogger's rows and ReduceLROnPlateau's message print floats
 * with str(), which is repr for floats.) */
const char *ct__py_float_repr(double v, char *buf, size_t cap) {
    if (isnan(v)) {
        snprintf(buf, cap, "nan");
        return buf;
    }
    if (isinf(v)) {
        snprintf(buf, cap, v > 0 ? "inf" : "-inf");
        return buf;
    }
    if (v == 0) {
        snprintf(buf, cap, signbit(v) ? "-0.0" : "0.0");
        return buf;
    }
    char tmp[64];
    for (int p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, v);
        if (strtod(tmp, NULL) == v) break;
    }
    bool neg = tmp[0] == '-';
    const char *s = tmp + neg;
    char dig[32];
    int nd = 0;
    for (; *s && *s != 'e'; s++)
        if (isdigit((unsigned char)*s)) dig[nd++] = *s;
    int e10 = *s == 'e' ? atoi(s + 1) : 0;
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    dig[nd] = 0;
    int decpt = e10 + 1; /* v = 0.DIGITS * 10^decpt */
    char out[96];
    size_t o = 0;
    if (neg) out[o++] = '-';
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int i = 0; i < -decpt; i++)
                out[o++] = '0';
            for (int i = 0; i < nd; i++)
                out[o++] = dig[i];
        } else if (decpt >= nd) {
            for (int i = 0; i < nd; i++)
                out[o++] = dig[i];
            for (int i = nd; i < decpt; i++)
                out[o++] = '0';
            out[o++] = '.';
            out[o++] = '0';
        } else {
            for (int i = 0; i < decpt; i++)
                out[o++] = dig[i];
            out[o++] = '.';
            for (int i = decpt; i < nd; i++)
                out[o++] = dig[i];
        }
        out[o] = 0;
    } else {
        out[o++] = dig[0];
        if (nd > 1) {
            out[o++] = '.';
            for (int i = 1; i < nd; i++)
                out[o++] = dig[i];
        }
        snprintf(out + o, sizeof out - o, "e%c%02d", e10 < 0 ? '-' : '+', abs(e10));
    }
    snprintf(buf, cap, "%s", out);
    return buf;
}

/* JSON has no NaN or infinities: json.dumps writes NaN / Infinity. */
static void put_real(textbuf *t, double v) {
    char buf[64];
    if (isnan(v) || isinf(v)) puts_(t, isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
    else puts_(t, ct__py_float_repr(v, buf, sizeof buf));
}

static void put_json(textbuf *t, const json_t *j) {
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        puts_(t, "{");
        const char *k;
        json_t *v;
        bool first = true;
        json_object_foreach((json_t *)j, k, v) {
            if (!first) puts_(t, ",");
            first = false;
            json_t *key = json_string(k);
            if (key) put_json(t, key);
            else t->failed = true;
            json_decref(key);
            puts_(t, ":");
            put_json(t, v);
        }
        puts_(t, "}");
        break;
    }
    case JSON_ARRAY:
        puts_(t, "[");
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i) puts_(t, ",");
            put_json(t, json_array_get(j, i));
        }
        puts_(t, "]");
        break;
    case JSON_REAL:
        put_real(t, json_real_value(j));
        break;
    default: {
        /* Strings (escaped by jansson), integers, true, false, null. */
        char *s = json_dumps(j, JSON_ENCODE_ANY);
        if (s) puts_(t, s);
        else t->failed = true;
        free(s);
    }
    }
}

char *ct__json_dump(const json_t *j) {
    textbuf t = {0};
    put_json(&t, j);
    if (t.failed || !t.p) {
        free(t.p);
        ct__error(CT_ERR_OUT_OF_MEMORY, "out of memory writing JSON");
        return NULL;
    }
    return t.p;
}

json_t *ct__json_parse(const char *text, const char *what) {
    if (!text) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the JSON text is NULL", what);
        return NULL;
    }
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!j)
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: bad JSON at line %d, column %d: %s", what,
                  e.line, e.column, e.text);
    return j;
}
