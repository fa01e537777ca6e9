/*
 * ct_tensor_print: what print(tensor) shows in TensorFlow, which is
 * numpy's str() of the value inside "tf.Tensor(..., shape=..., dtype=...)".
 * The rules are numpy's array2string defaults: elements right-aligned to a
 * common width; floats in the shortest form that reads back to the same
 * value, at most 8 decimals, decimal points aligned, scientific notation
 * when values span more than 1e3 or reach 1e8 or fall below 1e-4; rows
 * wrapped at 75 columns; arrays over 1000 elements summarised to 3 items
 * at each end of every axis.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

#define LINE_WIDTH 75
#define EDGE_ITEMS 3
#define THRESHOLD 1000
#define PRECISION 8

typedef struct fmt {
    const ct_tensor *t;
    const void *data;
    bool summarise;
    /* float layout */
    bool exp_mode;
    int pad_left, pad_right, exp_digits, prec;
    int width; /* ints and bools */
    /* what the measuring passes saw */
    double span_min, span_max;
    bool span_any, has_nonfinite, has_neg_inf;
} fmt;

/* Whether the decimal text s reads back as v in the tensor's precision. */
static bool round_trips(const char *s, double v, ct_dtype dt) {
    double r = strtod(s, NULL);
    switch (dt) {
    case CT_FLOAT32: return (float)r == (float)v;
    case CT_FLOAT16: return ct_f32_to_f16((float)r) == ct_f32_to_f16((float)v);
    case CT_BFLOAT16: return ct_f32_to_bf16((float)r) == ct_f32_to_bf16((float)v);
    default: return r == v;
    }
}

/* The shortest positional (or scientific) text with at most PRECISION
 * digits after the point that reads back as v; trailing zeros trimmed but
 * the point kept ("1.", "2.5", "1.5e+03"). */
static void shortest(char *buf, size_t cap, double v, ct_dtype dt, bool sci) {
    for (int d = 0; d <= PRECISION; d++) {
        snprintf(buf, cap, sci ? "%.*e" : "%.*f", d, v);
        if (round_trips(buf, v, dt) || d == PRECISION) break;
    }
    char *e = sci ? strchr(buf, 'e') : NULL;
    char exp_part[16] = "";
    if (e) {
        snprintf(exp_part, sizeof exp_part, "%s", e);
        *e = '\0';
    }
    if (!strchr(buf, '.')) strcat(buf, ".");
    size_t n = strlen(buf);
    while (n > 0 && buf[n - 1] == '0') buf[--n] = '\0';
    strcat(buf, exp_part);
}

/* Calls fn on the flat index of every element that is shown. */
static void each_shown(const fmt *f, int ax, int64_t base, void (*fn)(fmt *, int64_t), fmt *ctx) {
    const ct_tensor *t = f->t;
    if (ax == t->rank) {
        fn(ctx, base);
        return;
    }
    int64_t n = t->shape[ax], stride = ct__numel(t->rank - ax - 1, t->shape + ax + 1);
    for (int64_t i = 0; i < n; i++) {
        if (f->summarise && n > 2 * EDGE_ITEMS && i == EDGE_ITEMS) i = n - EDGE_ITEMS;
        each_shown(f, ax + 1, base + i * stride, fn, ctx);
    }
}

static double value(const fmt *f, int64_t i) { return ct__load(f->data, f->t->dtype, i); }

/* Pass 1 for floats: the span of finite non-zero magnitudes. */
static void span(fmt *f, int64_t i) {
    double v = fabs(value(f, i));
    if (!isfinite(v) || v == 0) return;
    if (!f->span_any || v < f->span_min) f->span_min = v;
    if (!f->span_any || v > f->span_max) f->span_max = v;
    f->span_any = true;
}

/* Pass 2 for floats: the widths of integer and fraction parts. */
static void measure(fmt *f, int64_t i) {
    double v = value(f, i);
    if (!isfinite(v)) {
        f->has_nonfinite = true;
        f->has_neg_inf |= isinf(v) && v < 0;
        return;
    }
    char buf[64];
    shortest(buf, sizeof buf, v, f->t->dtype, f->exp_mode);
    char *dot = strchr(buf, '.'), *e = strchr(buf, 'e');
    int left = (int)(dot - buf);
    int right = (int)((e ? e : buf + strlen(buf)) - dot - 1);
    if (left > f->pad_left) f->pad_left = left;
    if (right > f->prec) f->prec = right;
    if (e && (int)strlen(e + 2) > f->exp_digits) f->exp_digits = (int)strlen(e + 2);
}

static void measure_int(fmt *f, int64_t i) {
    char buf[32];
    int n = f->t->dtype == CT_BOOL ? (value(f, i) != 0 ? 4 : 5)
            : f->t->dtype == CT_INT64 ? snprintf(buf, sizeof buf, "%" PRId64, ((const int64_t *)f->data)[i])
                                      : snprintf(buf, sizeof buf, "%.0f", value(f, i));
    if (n > f->width) f->width = n;
}

static void prepare(fmt *f) {
    ct_dtype dt = f->t->dtype;
    if (!ct_dtype_is_float(dt)) {
        each_shown(f, 0, 0, measure_int, f);
        return;
    }
    each_shown(f, 0, 0, span, f);
    f->exp_mode = f->span_any &&
                  (f->span_max >= 1e8 || f->span_min < 1e-4 || f->span_max / f->span_min > 1e3);
    f->exp_digits = 2;
    each_shown(f, 0, 0, measure, f);
    f->pad_right = f->exp_mode ? f->exp_digits + 2 + f->prec : f->prec;
    if (f->has_nonfinite) {
        int offset = f->pad_right + 1, inflen = 3 + (f->has_neg_inf ? 1 : 0);
        if (3 - offset > f->pad_left) f->pad_left = 3 - offset;
        if (inflen - offset > f->pad_left) f->pad_left = inflen - offset;
    }
}

/* One element as numpy shows it, padded to the common layout. */
static void element(const fmt *f, int64_t i, char *out, size_t cap) {
    ct_dtype dt = f->t->dtype;
    double v = value(f, i);
    if (dt == CT_BOOL) {
        snprintf(out, cap, "%*s", f->width, v != 0 ? "True" : "False");
        return;
    }
    if (!ct_dtype_is_float(dt)) {
        if (dt == CT_INT64) snprintf(out, cap, "%*" PRId64, f->width, ((const int64_t *)f->data)[i]);
        else snprintf(out, cap, "%*.0f", f->width, v);
        return;
    }
    int total = f->pad_left + 1 + f->pad_right;
    if (!isfinite(v)) {
        snprintf(out, cap, "%*s", total, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
        return;
    }
    char buf[64];
    if (f->exp_mode) {
        /* Every mantissa gets the same number of digits (zeros pad). */
        snprintf(buf, sizeof buf, "%.*e", f->prec, v);
        char *e = strchr(buf, 'e');
        char mant[64];
        snprintf(mant, sizeof mant, "%.*s", (int)(e - buf), buf);
        if (!strchr(mant, '.')) strcat(mant, ".");
        int ex = atoi(e + 1);
        snprintf(out, cap, "%*se%c%0*d", f->pad_left + 1 + f->prec, mant, ex < 0 ? '-' : '+',
                 f->exp_digits, abs(ex));
        return;
    }
    shortest(buf, sizeof buf, v, dt, false);
    char *dot = strchr(buf, '.');
    int left = (int)(dot - buf), right = (int)strlen(dot + 1);
    snprintf(out, cap, "%*s%s%*s", f->pad_left - left, "", buf, f->pad_right - right, "");
}

/* A growing string. */
typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static void put(sbuf *b, const char *s) {
    size_t k = strlen(s);
    if (b->n + k + 1 > b->cap) {
        size_t cap = (b->n + k + 1) * 2;
        char *p = realloc(b->s, cap);
        if (!p) return;
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, k + 1);
    b->n += k;
}

/* numpy's _extendLine: wrap before `word` if the line would pass width. */
static void extend_line(sbuf *s, sbuf *line, const char *word, int width, const char *indent) {
    bool wrap = (int)(line->n + strlen(word)) > width && line->n > strlen(indent);
    if (wrap) {
        while (line->n && line->s[line->n - 1] == ' ') line->s[--line->n] = '\0';
        put(s, line->s);
        put(s, "\n");
        line->n = 0;
        if (line->s) line->s[0] = '\0';
        put(line, indent);
    }
    put(line, word);
}

/* numpy's _formatArray recurser. Returns a malloc'd string. */
static char *format_rec(const fmt *f, int ax, int64_t base, const char *indent, int width) {
    const ct_tensor *t = f->t;
    sbuf s = {0};
    put(&s, "");
    if (ax == t->rank) {
        char buf[96];
        element(f, base, buf, sizeof buf);
        put(&s, buf);
        return s.s;
    }
    int64_t n = t->shape[ax], stride = ct__numel(t->rank - ax - 1, t->shape + ax + 1);
    bool summary = f->summarise && n > 2 * EDGE_ITEMS;
    int64_t lead = summary ? EDGE_ITEMS : 0, trail = summary ? EDGE_ITEMS : n;
    size_t il = strlen(indent);
    char *next_indent = malloc(il + 2);
    memcpy(next_indent, indent, il);
    next_indent[il] = ' ';
    next_indent[il + 1] = '\0';
    int next_width = width - 1;
    int axes_left = t->rank - ax;
    if (axes_left == 1) {
        int elem_width = width - 1;
        sbuf line = {0};
        put(&line, indent);
        for (int64_t i = 0; i < lead; i++) {
            char *w = format_rec(f, ax + 1, base + i * stride, next_indent, next_width);
            extend_line(&s, &line, w, elem_width, indent);
            put(&line, " ");
            free(w);
        }
        if (summary) {
            extend_line(&s, &line, "...", elem_width, indent);
            put(&line, " ");
        }
        for (int64_t i = trail; i > 1; i--) {
            char *w = format_rec(f, ax + 1, base + (n - i) * stride, next_indent, next_width);
            extend_line(&s, &line, w, elem_width, indent);
            put(&line, " ");
            free(w);
        }
        if (n > 0) {
            char *w = format_rec(f, ax + 1, base + (n - 1) * stride, next_indent, next_width);
            extend_line(&s, &line, w, width, indent);
            free(w);
        }
        put(&s, line.s ? line.s : "");
        free(line.s);
    } else {
        char sep[CT_MAX_RANK + 1];
        memset(sep, '\n', (size_t)(axes_left - 1));
        sep[axes_left - 1] = '\0';
        for (int64_t i = 0; i < n; i++) {
            if (summary && i == lead) {
                put(&s, indent);
                put(&s, "...");
                put(&s, sep);
                i = n - trail;
            }
            char *w = format_rec(f, ax + 1, base + i * stride, next_indent, next_width);
            put(&s, indent);
            put(&s, w);
            if (i + 1 < n) put(&s, sep);
            free(w);
        }
    }
    free(next_indent);
    /* Drop the first line's indent and wrap in brackets. */
    sbuf out = {0};
    put(&out, "[");
    put(&out, s.n >= il ? s.s + il : s.s);
    put(&out, "]");
    free(s.s);
    return out.s;
}

void ct_tensor_print(const ct_tensor *t, FILE *f) {
    if (!t) {
        fprintf(f, "NULL (%s)\n", ct_last_error());
        return;
    }
    void *host = malloc(ct__nbytes(t) + 1);
    if (!host || ct_tensor_read(t, t->dtype, host, t->size)) {
        fprintf(f, "<unreadable tensor: %s>\n", ct_last_error());
        free(host);
        return;
    }
    fmt fm = {.t = t, .data = host, .summarise = t->size > THRESHOLD};
    prepare(&fm);
    char *text = format_rec(&fm, 0, 0, " ", LINE_WIDTH);
    fprintf(f, "tf.Tensor(%s%s, shape=(", text && strchr(text, '\n') ? "\n" : "", text ? text : "");
    for (int i = 0; i < t->rank; i++)
        fprintf(f, t->rank == 1 ? "%" PRId64 "," : i ? ", %" PRId64 : "%" PRId64, t->shape[i]);
    fprintf(f, "), dtype=%s)\n", ct_dtype_name(t->dtype));
    free(text);
    free(host);
}
