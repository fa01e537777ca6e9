/*
 * CSV: tf.data.experimental.make_csv_dataset (one record per element) and
 * tf.io.decode_csv. The record grammar is TF's CsvDataset kernel
 * (tensorflow/core/kernels/data/experimental/csv_dataset_op.cc): records
 * end at "\n", "\r\n", "\r" or the end of the file; a field starting with
 * '"' is quoted, "" inside it is one '"', and it may span lines. Errors
 * do not stop at the first problem of a record: the whole record is
 * consumed (as TF does), so the next record can still be read. Column
 * names and types are found when the dataset is made, as TF's Python
 * code does (readers.py: _infer_column_names, _infer_column_defaults).
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "data/file_stream.h"

#define CSV_CHUNK (64 * 1024)
#define DEFAULT_INFERENCE_ROWS 100

/* ---- the record reader ---------------------------------------------------------- */

typedef struct {
    const char *api;
    const char *path;    /* for messages */
    ct__fstream *fs;     /* NULL: reading memory */
    const unsigned char *buf;
    unsigned char *own;  /* the stream's buffer */
    size_t pos, lim;
    uint64_t base;       /* stream offset of buf[0] */
    ct_status io;        /* a read error (sticky) */
    int64_t line;        /* 1-based line of the next byte */
    char delim;
    bool quote;
    /* the record last read: fields are [fstart, fstart + flen) of rec */
    unsigned char *rec;
    size_t rec_len, rec_cap;
    size_t *fstart, *flen;
    int64_t *fline;
    int nf, fcap;
    int64_t rec_line;
} csv_reader;

static bool rd_fill(csv_reader *r) {
    if (!r->fs || r->io) return false;
    r->base += r->lim;
    r->pos = r->lim = 0;
    int64_t got = ct__fstream_read(r->fs, r->own, CSV_CHUNK);
    if (got < 0) {
        r->io = ct_last_status();
        return false;
    }
    r->lim = (size_t)got;
    return got > 0;
}

/* The next byte, -1 at the end, -2 on a read error. */
static inline int rd_peek(csv_reader *r) {
    if (r->pos == r->lim && !rd_fill(r)) return r->io ? -2 : -1;
    return r->buf[r->pos];
}

/* Consumes the byte c that rd_peek returned, counting lines ("\r\n" is one
 * line break, so a '\r' counts only when no '\n' follows). */
static inline void rd_advance(csv_reader *r, int c) {
    r->pos++;
    if (c == '\n') r->line++;
    else if (c == '\r' && rd_peek(r) != '\n') r->line++;
}

static uint64_t rd_tell(const csv_reader *r) { return r->base + r->pos; }

static bool rec_push(csv_reader *r, int c) {
    if (r->rec_len == r->rec_cap) {
        size_t cap = r->rec_cap ? r->rec_cap * 2 : 256;
        unsigned char *p = realloc(r->rec, cap);
        if (!p) return false;
        r->rec = p;
        r->rec_cap = cap;
    }
    r->rec[r->rec_len++] = (unsigned char)c;
    return true;
}

static bool field_begin(csv_reader *r) {
    /* Fields point into rec even when empty: keep it allocated. */
    if (!r->rec && !(r->rec = malloc(r->rec_cap = 256))) {
        r->rec_cap = 0;
        return false;
    }
    if (r->nf == r->fcap) {
        int cap = r->fcap ? r->fcap * 2 : 16;
        size_t *a = realloc(r->fstart, (size_t)cap * sizeof *a);
        if (a) r->fstart = a;
        size_t *b = realloc(r->flen, (size_t)cap * sizeof *b);
        if (b) r->flen = b;
        int64_t *c = realloc(r->fline, (size_t)cap * sizeof *c);
        if (c) r->fline = c;
        if (!a || !b || !c) return false;
        r->fcap = cap;
    }
    r->fstart[r->nf] = r->rec_len;
    r->fline[r->nf] = r->line;
    r->flen[r->nf] = 0;
    r->nf++;
    return true;
}

static void field_end(csv_reader *r) { r->flen[r->nf - 1] = r->rec_len - r->fstart[r->nf - 1]; }

static void reader_free(csv_reader *r) {
    ct__fstream_close(r->fs);
    free(r->own);
    free(r->rec);
    free(r->fstart);
    free(r->flen);
    free(r->fline);
    memset(r, 0, sizeof *r);
}

/* The location prefix of messages: "'f.csv' line 3, column 2". */
static ct_status rd_error(csv_reader *r, int64_t line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static ct_status rd_error(csv_reader *r, int64_t line, int col, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (col > 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %s line %lld, column %d: %s", r->api,
                         r->path, (long long)line, col, msg);
    return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %s line %lld: %s", r->api, r->path,
                     (long long)line, msg);
}

static ct_status rd_oom(csv_reader *r) {
    return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory reading a record of %s",
                     r->api, r->path);
}

/* Reads the next record into r->rec / r->f*. *got = false at the end of
 * the input. On a malformed record the record is consumed and the first
 * problem returned. */
static ct_status read_record(csv_reader *r, bool *got) {
    *got = false;
    int c = rd_peek(r);
    if (c == -2) return r->io;
    if (c == -1) return CT_OK;
    *got = true;
    r->nf = 0;
    r->rec_len = 0;
    r->rec_line = r->line;
    ct_status perr = CT_OK;
    for (;;) { /* one field per pass */
        if (!field_begin(r)) return rd_oom(r);
        int col = r->nf;
        bool end_record = false;
        c = rd_peek(r);
        if (r->quote && c == '"') {
            int64_t open_line = r->line;
            rd_advance(r, c);
            bool include = true;
            for (;;) {
                c = rd_peek(r);
                if (c == -2) return r->io;
                if (c == -1) {
                    if (!perr)
                        perr = rd_error(r, open_line, col,
                                        "Reached end of file without closing quoted field in "
                                        "record (the quote opens on line %lld)",
                                        (long long)open_line);
                    end_record = true;
                    break;
                }
                rd_advance(r, c);
                if (c != '"') {
                    if (include && !rec_push(r, c)) return rd_oom(r);
                    continue;
                }
                int n = rd_peek(r);
                if (n == -2) return r->io;
                if (n == -1) {
                    end_record = true;
                    break;
                }
                rd_advance(r, n);
                if (n == '"') {
                    if (include && !rec_push(r, '"')) return rd_oom(r);
                    continue;
                }
                if (n == r->delim) break;
                if (n == '\n' || n == '\r') {
                    if (n == '\r' && rd_peek(r) == '\n') rd_advance(r, '\n');
                    end_record = true;
                    break;
                }
                /* TF notes the error and reads on to the end of the field. */
                if (!perr)
                    perr = rd_error(r, r->line, col,
                                    "Quote inside a string has to be escaped by another quote "
                                    "(found '\"' followed by '%c')",
                                    isprint(n) ? n : '?');
                include = false;
            }
        } else {
            for (;;) {
                c = rd_peek(r);
                if (c == -2) return r->io;
                if (c == -1) {
                    end_record = true;
                    break;
                }
                rd_advance(r, c);
                if (c == r->delim) break;
                if (c == '\n' || c == '\r') {
                    if (c == '\r' && rd_peek(r) == '\n') rd_advance(r, '\n');
                    end_record = true;
                    break;
                }
                if (r->quote && c == '"' && !perr)
                    perr = rd_error(r, r->line, col, "Unquoted fields cannot have quotes inside");
                if (!rec_push(r, c)) return rd_oom(r);
            }
        }
        field_end(r);
        if (end_record) return perr;
    }
}

/* ---- field conversion ------------------------------------------------------------ */

static bool is_space(int c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static void trim(const unsigned char **p, size_t *n) {
    while (*n && is_space((*p)[0])) (*p)++, (*n)--;
    while (*n && is_space((*p)[*n - 1])) (*n)--;
}

/* TF's strings::safe_strto32/64: spaces around, an optional '-', digits. */
static bool parse_int(const unsigned char *p, size_t n, int64_t vmax, int64_t *out) {
    trim(&p, &n);
    bool neg = n && p[0] == '-';
    if (neg) p++, n--;
    if (!n) return false;
    uint64_t lim = (uint64_t)vmax + (neg ? 1 : 0), v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
        if (v > lim) return false;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* TF's safe_strtof / safe_strtod (spaces around allowed, "inf", "nan"). */
static bool parse_float(const unsigned char *p, size_t n, bool f32, double *out) {
    trim(&p, &n);
    if (!n || n > 1000) return false;
    char tmp[1024];
    memcpy(tmp, p, n);
    tmp[n] = 0;
    if (memchr(tmp, 0, n)) return false;
    char *end;
    *out = f32 ? (double)strtof(tmp, &end) : strtod(tmp, &end);
    return end == tmp + n;
}

/* ---- inference (TF's _infer_type) -------------------------------------------------- */

enum { T_NONE = -1, T_I32 = 0, T_I64, T_F32, T_F64, T_STR };
static const ct_dtype infer_dtypes[] = {CT_INT32, CT_INT64, CT_FLOAT32, CT_FLOAT64, CT_CSV_STRING};

static int infer_type(const unsigned char *p, size_t n, int prev) {
    int64_t iv;
    double d = 0;
    /* Python's float() takes no hex; a value is a float only when below
     * +inf (NaN and +inf make the column a string, as TF's check does). */
    bool is_float = !memchr(p, 'x', n) && !memchr(p, 'X', n) && parse_float(p, n, false, &d) &&
                    d < INFINITY;
    bool valid[5] = {parse_int(p, n, INT32_MAX, &iv), parse_int(p, n, INT64_MAX, &iv),
                     is_float && (float)d < INFINITY, is_float, true};
    for (int t = T_I32; t <= T_STR; t++)
        if (valid[t] && prev <= t) return t;
    return T_STR;
}

/* ---- the dataset --------------------------------------------------------------------- */

typedef struct {
    ct_dataset base;
    int nfiles;
    char **files;
    ct_compression comp;
    bool header;
    char delim;
    bool quote;
    char *na;              /* NULL: none besides "" */
    int ncols;             /* columns in a record */
    int nsel;              /* selected columns */
    int *sel;              /* their indices, increasing */
    int *slot;             /* component of selected column k */
    char **names;          /* names of the selected columns */
    ct_csv_column *defs;   /* per selected column */
    char **str_defs;       /* string defaults (owned copies) */
} csv_ds;

typedef struct {
    ct__iter base;
    int file;
    bool open;
    csv_reader r;
} csv_it;

static bool is_na(const csv_ds *d, const unsigned char *p, size_t n) {
    if (n == 0) return true;
    return d->na && strlen(d->na) == n && !memcmp(d->na, p, n);
}

static ct_tensor *scalar_tensor(ct_dtype dt, double v, int64_t iv, const char *api) {
    ct_tensor *t = ct__tensor_alloc(ct__cpu_device(), dt, 0, NULL, api);
    if (!t) return NULL;
    void *p = ct__data(t);
    switch (dt) {
    case CT_INT32: *(int32_t *)p = (int32_t)iv; break;
    case CT_INT64: *(int64_t *)p = iv; break;
    case CT_FLOAT32: *(float *)p = (float)v; break;
    default: *(double *)p = v; break;
    }
    return t;
}

/* Field `col` (0-based in the record) of the reader's record, converted
 * per column k's default, as TF's FieldToOutput. */
static ct_tensor *convert_field(const csv_ds *d, csv_reader *r, int k, int col) {
    const unsigned char *p = r->rec + r->fstart[col];
    size_t n = r->flen[col];
    const ct_csv_column *def = &d->defs[k];
    const char *cname = d->names ? d->names[k] : "";
    if (is_na(d, p, n)) {
        if (def->required) {
            rd_error(r, r->fline[col], col + 1,
                     "Field %d ('%s') is required but missing in record", k, cname);
            return NULL;
        }
        if (def->dtype == CT_CSV_STRING) {
            const char *s = d->str_defs[k] ? d->str_defs[k] : "";
            return ct__string_tensor(s, strlen(s), r->api);
        }
        return scalar_tensor(def->dtype, def->value, (int64_t)def->value, r->api);
    }
    int64_t iv = 0;
    double v = 0;
    bool ok = true;
    switch (def->dtype) {
    case CT_INT32: ok = parse_int(p, n, INT32_MAX, &iv); break;
    case CT_INT64: ok = parse_int(p, n, INT64_MAX, &iv); break;
    case CT_FLOAT32: ok = parse_float(p, n, true, &v); break;
    case CT_FLOAT64: ok = parse_float(p, n, false, &v); break;
    default: return ct__string_tensor(p, n, r->api);
    }
    if (!ok) {
        const char *tname = def->dtype == CT_FLOAT32   ? "float"
                            : def->dtype == CT_FLOAT64 ? "double"
                                                       : ct_dtype_name(def->dtype);
        rd_error(r, r->fline[col], col + 1, "Field %d ('%s') in record is not a valid %s: %.*s",
                 k, cname, tname, n > 64 ? 64 : (int)n, (const char *)p);
        return NULL;
    }
    return scalar_tensor(def->dtype, v, iv, r->api);
}

/* The element of the reader's record: the selected fields, converted. */
static ct_status record_element(const csv_ds *d, csv_reader *r, ct_element **out) {
    int need = d->sel[d->nsel - 1] + 1;
    if (r->nf < need)
        return rd_error(r, r->rec_line, 0, "Expect %d fields but have %d in record", d->ncols,
                        r->nf);
    if (d->nsel == d->ncols && r->nf > d->ncols)
        return rd_error(r, r->rec_line, 0, "Expect %d fields but have more in record (%d)",
                        d->ncols, r->nf);
    ct_element *e = ct__element_new(d->nsel);
    if (!e) return ct_last_status();
    for (int k = 0; k < d->nsel; k++) {
        int s = d->slot[k];
        e->name[s] = d->base.spec.c[s].name;
        e->t[s] = convert_field(d, r, k, d->sel[k]);
        if (!e->t[s]) {
            ct_element_free(e);
            return ct_last_status();
        }
    }
    *out = e;
    return CT_OK;
}

static ct_status reader_open(csv_reader *r, const char *path, ct_compression comp,
                             const csv_ds *d, const char *api) {
    memset(r, 0, sizeof *r);
    r->api = api;
    r->path = path;
    r->delim = d->delim;
    r->quote = d->quote;
    r->line = 1;
    r->own = malloc(CSV_CHUNK);
    if (!r->own) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
    r->buf = r->own;
    r->fs = ct__fstream_open(path, comp, api);
    if (!r->fs) {
        ct_status st = ct_last_status();
        reader_free(r);
        return st;
    }
    return CT_OK;
}

static const char *const CSV_API = "CsvDataset";

static void it_close(csv_it *t) {
    if (t->open) reader_free(&t->r);
    t->open = false;
}

static ct_status csv_next(ct__iter *it, ct_element **out) {
    csv_it *t = (csv_it *)it;
    csv_ds *d = (csv_ds *)it->ds;
    for (;;) {
        if (!t->open) {
            if (t->file >= d->nfiles) return CT_OK;
            ct_status st = reader_open(&t->r, d->files[t->file], d->comp, d, CSV_API);
            if (st) return st;
            t->open = true;
            if (d->header) {
                bool got;
                st = read_record(&t->r, &got);
                if (!st && !got)
                    st = rd_error(&t->r, 1, 0, "Can't read header of file: the file is empty");
                if (st) {
                    /* The file is done with: the next call goes on to the next. */
                    it_close(t);
                    t->file++;
                    return st;
                }
            }
        }
        bool got;
        ct_status st = read_record(&t->r, &got);
        if (st) {
            if (st == t->r.io) { /* unreadable: skip the rest of this file */
                it_close(t);
                t->file++;
            }
            return st;
        }
        if (got) return record_element(d, &t->r, out);
        it_close(t);
        t->file++;
    }
}

static ct_status csv_save(ct__iter *it, ct__state_writer *w) {
    csv_it *t = (csv_it *)it;
    ct__sw_i64(w, ((csv_ds *)it->ds)->nfiles);
    ct__sw_i64(w, t->file);
    ct__sw_i64(w, t->open ? (int64_t)rd_tell(&t->r) : -1);
    ct__sw_i64(w, t->open ? t->r.line : 0);
    return w->st;
}

static ct_status csv_restore(ct__iter *it, ct__state_reader *r) {
    csv_it *t = (csv_it *)it;
    csv_ds *d = (csv_ds *)it->ds;
    if (!ct__sr_param(r, it->ds->vt->name, "files", d->nfiles)) return r->st;
    int64_t file = ct__sr_i64(r), off = ct__sr_i64(r), line = ct__sr_i64(r);
    if (r->st) return r->st;
    if (file < 0 || file > d->nfiles || off < -1 || (off >= 0 && (file == d->nfiles || line < 1)))
        return ct__sr_fail(r, "a CsvDataset position outside its files");
    it_close(t);
    t->file = (int)file;
    if (off < 0) return CT_OK;
    ct_status st = reader_open(&t->r, d->files[file], d->comp, d, CSV_API);
    if (st) return st;
    t->open = true;
    st = ct__fstream_skip(t->r.fs, (uint64_t)off);
    if (st) {
        it_close(t);
        return st;
    }
    t->r.base = (uint64_t)off;
    t->r.line = line;
    return CT_OK;
}

static void csv_it_free(ct__iter *it) {
    it_close((csv_it *)it);
    free(it);
}

static const ct__iter_vt csv_it_vt = {csv_next, csv_save, csv_restore, csv_it_free};

static ct__iter *csv_iterator(ct_dataset *ds) {
    return ct__iter_alloc(sizeof(csv_it), &csv_it_vt, ds);
}

static void csv_destroy(ct_dataset *ds) {
    csv_ds *d = (csv_ds *)ds;
    for (int i = 0; i < d->nfiles; i++) free(d->files[i]);
    free(d->files);
    if (d->names)
        for (int k = 0; k < d->nsel; k++) free(d->names[k]);
    if (d->str_defs)
        for (int k = 0; k < d->nsel; k++) free(d->str_defs[k]);
    free(d->names);
    free(d->str_defs);
    free(d->na);
    free(d->sel);
    free(d->slot);
    free(d->defs);
}

static ct_dataset *csv_shard_files(ct_dataset *ds, int64_t num, int64_t index,
                                   int64_t *num_files);
static const ct__dataset_vt csv_vt = {"CsvDataset", csv_iterator, NULL, csv_destroy, NULL,
                                      csv_shard_files};

static const char *const SHARD_API = "ct_dataset_auto_shard";

static bool csv_dup(char **dst, const char *src) {
    *dst = src ? strdup(src) : NULL;
    if (src && !*dst) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory copying %s", SHARD_API, CSV_API);
        return false;
    }
    return true;
}

static bool csv_dup_ints(int **dst, const int *src, int n) {
    *dst = malloc((size_t)n * sizeof **dst);
    if (!*dst) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory copying %s", SHARD_API, CSV_API);
        return false;
    }
    memcpy(*dst, src, (size_t)n * sizeof **dst);
    return true;
}

/* The same dataset over files index, index + num, ... (auto-shard's FILE
 * policy): every option as resolved when ds was made (the column names
 * read from the headers, the selected columns, the inferred or given
 * types, the label's place), so the element spec is ds's, not one
 * inferred again from this worker's files. */
static ct_dataset *csv_shard_files(ct_dataset *ds, int64_t num, int64_t index,
                                   int64_t *num_files) {
    const csv_ds *d = (const csv_ds *)ds;
    *num_files = d->nfiles;
    if (d->nfiles < num) return NULL;
    csv_ds *r = ct__dataset_alloc(sizeof *r, &csv_vt, &ds->spec);
    if (!r) return NULL;
    r->base.opts = ds->opts;
    r->comp = d->comp;
    r->header = d->header;
    r->delim = d->delim;
    r->quote = d->quote;
    r->ncols = d->ncols;
    int k = (int)((d->nfiles - index + num - 1) / num);
    bool ok = (r->files = calloc((size_t)k, sizeof *r->files)) != NULL;
    if (ok) r->nfiles = k;
    for (int j = 0; ok && j < k; j++) ok = csv_dup(&r->files[j], d->files[index + (int64_t)j * num]);
    ok = ok && csv_dup(&r->na, d->na);
    /* nsel only once the per-column arrays exist (csv_destroy walks them). */
    ok = ok && csv_dup_ints(&r->sel, d->sel, d->nsel) && csv_dup_ints(&r->slot, d->slot, d->nsel);
    if (ok) {
        r->defs = malloc((size_t)d->nsel * sizeof *r->defs);
        r->str_defs = calloc((size_t)d->nsel, sizeof *r->str_defs);
        r->names = d->names ? calloc((size_t)d->nsel, sizeof *r->names) : NULL;
        ok = r->defs && r->str_defs && (r->names || !d->names);
        if (!ok)
            ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory copying %s", SHARD_API,
                      CSV_API);
        else
            r->nsel = d->nsel;
    }
    if (ok) memcpy(r->defs, d->defs, (size_t)d->nsel * sizeof *r->defs);
    for (int c = 0; ok && c < d->nsel; c++)
        ok = csv_dup(&r->str_defs[c], d->str_defs[c]) &&
             (!d->names || csv_dup(&r->names[c], d->names[c]));
    if (!ok) {
        ct_dataset_free(&r->base);
        return NULL;
    }
    return &r->base;
}

/* ---- building the dataset ---------------------------------------------------------- */

static const char *const MAKE_API = "ct_make_csv_dataset";

typedef struct {
    char **v;
    int n;
} strv;

static void strv_free(strv *s) {
    for (int i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* The reader's record as strings. */
static ct_status record_strings(csv_reader *r, strv *out) {
    out->v = calloc((size_t)r->nf, sizeof *out->v);
    if (!out->v) return rd_oom(r);
    out->n = r->nf;
    for (int i = 0; i < r->nf; i++) {
        out->v[i] = malloc(r->flen[i] + 1);
        if (!out->v[i]) {
            strv_free(out);
            return rd_oom(r);
        }
        memcpy(out->v[i], r->rec + r->fstart[i], r->flen[i]);
        out->v[i][r->flen[i]] = 0;
    }
    return CT_OK;
}

/* TF's _infer_column_names: the header record of every file, all equal. */
static ct_status infer_names(csv_ds *d, strv *names) {
    for (int f = 0; f < d->nfiles; f++) {
        csv_reader r;
        ct_status st = reader_open(&r, d->files[f], d->comp, d, MAKE_API);
        if (st) return st;
        bool got;
        st = read_record(&r, &got);
        if (!st && !got)
            st = rd_error(&r, 1, 0, "cannot read the header line (empty file?)");
        strv h = {0};
        if (!st) st = record_strings(&r, f == 0 ? names : &h);
        if (!st && f > 0) {
            bool same = h.n == names->n;
            for (int i = 0; same && i < h.n; i++) same = !strcmp(h.v[i], names->v[i]);
            if (!same)
                st = rd_error(&r, 1, 0,
                              "Files have different column names in the header row: %d names "
                              "here, %d in '%s'", h.n, names->n, d->files[0]);
        }
        strv_free(&h);
        reader_free(&r);
        if (st) return st;
    }
    return CT_OK;
}

/* TF's _infer_column_defaults over the first `rows` records (< 0: all). */
static ct_status infer_defaults(csv_ds *d, int64_t rows) {
    int *types = malloc((size_t)d->nsel * sizeof *types);
    if (!types) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", MAKE_API);
    for (int k = 0; k < d->nsel; k++) types[k] = T_NONE;
    int64_t seen = 0;
    ct_status st = CT_OK;
    for (int f = 0; f < d->nfiles && !st && (rows < 0 || seen < rows); f++) {
        csv_reader r;
        st = reader_open(&r, d->files[f], d->comp, d, MAKE_API);
        if (st) break;
        bool got = true;
        if (d->header) st = read_record(&r, &got);
        while (!st && got && (rows < 0 || seen < rows)) {
            st = read_record(&r, &got);
            if (st || !got) break;
            if (r.nf != d->ncols) {
                st = rd_error(&r, r.rec_line, 0,
                              "Problem inferring types: CSV row has different number of fields "
                              "than expected (%d, expected %d)", r.nf, d->ncols);
                break;
            }
            for (int k = 0; k < d->nsel; k++) {
                const unsigned char *p = r.rec + r.fstart[d->sel[k]];
                size_t n = r.flen[d->sel[k]];
                if (!is_na(d, p, n)) types[k] = infer_type(p, n, types[k]);
            }
            seen++;
        }
        reader_free(&r);
    }
    for (int k = 0; k < d->nsel && !st; k++) {
        d->defs[k].dtype = infer_dtypes[types[k] == T_NONE ? T_STR : types[k]];
        d->defs[k].required = false;
        d->defs[k].value = 0;
    }
    free(types);
    return st;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static char *dup_or_oom(const char *s) {
    char *c = strdup(s);
    if (!c) ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", MAKE_API);
    return c;
}

static bool valid_dtype(ct_dtype dt) {
    return dt == CT_INT32 || dt == CT_INT64 || dt == CT_FLOAT32 || dt == CT_FLOAT64 ||
           dt == CT_CSV_STRING;
}

/* Common options for the dataset and decode_csv. */
static ct_status csv_options(csv_ds *d, const ct_csv_opts *o, const char *api) {
    d->delim = o->field_delim ? o->field_delim : ',';
    d->quote = !o->no_quote_delim;
    d->header = !o->no_header;
    d->comp = o->compression;
    if ((unsigned)d->comp > CT_COMPRESSION_ZLIB)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: unknown compression %d", api,
                         (int)d->comp);
    if (d->delim == '\n' || d->delim == '\r' || (d->quote && d->delim == '"'))
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: field_delim 0x%02x cannot be a line break or, with quotes, '\"'",
                         api, (unsigned char)d->delim);
    if (o->na_value && o->na_value[0] && !(d->na = strdup(o->na_value)))
        return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
    return CT_OK;
}

/* The selected column indices (TF's _get_sorted_col_indices). */
static ct_status select_columns(csv_ds *d, const ct_csv_opts *o, const strv *names,
                                const char *api) {
    int nsel = o->num_select_columns + o->num_select_indices;
    if ((o->num_select_columns && !o->select_columns) ||
        (o->num_select_indices && !o->select_indices) || o->num_select_columns < 0 ||
        o->num_select_indices < 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: select_columns given without entries",
                         api);
    if (nsel == 0) nsel = d->ncols;
    d->sel = malloc((size_t)nsel * sizeof *d->sel);
    if (!d->sel) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
    d->nsel = nsel;
    if (!o->num_select_columns && !o->num_select_indices) {
        for (int i = 0; i < nsel; i++) d->sel[i] = i;
        return CT_OK;
    }
    int k = 0;
    for (int i = 0; i < o->num_select_indices; i++) {
        int v = o->select_indices[i];
        if (v < 0 || v >= d->ncols)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: Column index %d specified in select_columns out of valid range "
                             "(%d columns).", api, v, d->ncols);
        d->sel[k++] = v;
    }
    for (int i = 0; i < o->num_select_columns; i++) {
        const char *s = o->select_columns[i];
        int found = -1;
        for (int j = 0; s && names && j < names->n && found < 0; j++)
            if (!strcmp(names->v[j], s)) found = j;
        if (found < 0)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: Value '%s' specified in select_columns not a valid column "
                             "index or name.", api, s ? s : "(null)");
        d->sel[k++] = found;
    }
    qsort(d->sel, (size_t)nsel, sizeof *d->sel, cmp_int);
    for (int i = 1; i < nsel; i++)
        if (d->sel[i] == d->sel[i - 1])
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: select_columns contains duplicate columns (column %d)", api,
                             d->sel[i]);
    return CT_OK;
}

/* Copies user-given defaults (one per selected column). */
static ct_status copy_defaults(csv_ds *d, int n, const ct_csv_column *defs, const char *api) {
    if (n != d->nsel)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: %d column_defaults for %d %scolumns (If specified, column_defaults "
                         "and select_columns must have same length.)", api, n, d->nsel,
                         d->nsel == d->ncols ? "" : "selected ");
    for (int k = 0; k < n; k++) {
        d->defs[k] = defs[k];
        if (!valid_dtype(defs[k].dtype))
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: column_defaults[%d] has dtype %s; CSV columns are int32, "
                             "int64, float32, float64 or string (CT_CSV_STRING)", api, k,
                             ct_dtype_name(defs[k].dtype));
        if (defs[k].dtype == CT_CSV_STRING && defs[k].string_value &&
            !(d->str_defs[k] = strdup(defs[k].string_value)))
            return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
        d->defs[k].string_value = NULL;
    }
    return CT_OK;
}

static ct_status alloc_columns(csv_ds *d, const char *api) {
    d->defs = calloc((size_t)d->nsel, sizeof *d->defs);
    d->str_defs = calloc((size_t)d->nsel, sizeof *d->str_defs);
    d->slot = calloc((size_t)d->nsel, sizeof *d->slot);
    if (!d->defs || !d->str_defs || !d->slot)
        return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
    for (int k = 0; k < d->nsel; k++) d->slot[k] = k;
    return CT_OK;
}

static ct_status build(csv_ds *d, int n, const char *const *files, const ct_csv_opts *o) {
    const char *api = MAKE_API;
    if (n < 1 || !files)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: expected at least one file, got %d", api,
                         files ? n : 0);
    ct_status st = csv_options(d, o, api);
    if (st) return st;
    d->files = calloc((size_t)n, sizeof *d->files);
    if (!d->files) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
    d->nfiles = n;
    for (int i = 0; i < n; i++) {
        if (!files[i]) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: file %d is NULL", api, i);
        if (!(d->files[i] = dup_or_oom(files[i]))) return ct_last_status();
    }
    /* Column names. */
    strv names = {0};
    if (o->column_names) {
        if (o->num_column_names < 1)
            return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: column_names given with %d entries",
                             api, o->num_column_names);
        names.v = calloc((size_t)o->num_column_names, sizeof *names.v);
        if (!names.v) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
        names.n = o->num_column_names;
        for (int i = 0; i < names.n && !st; i++) {
            if (!o->column_names[i])
                st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: column_names[%d] is NULL", api, i);
            else if (!(names.v[i] = dup_or_oom(o->column_names[i])))
                st = ct_last_status();
        }
    } else if (!d->header) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: Cannot infer column names without a header line.", api);
    } else {
        st = infer_names(d, &names);
    }
    for (int i = 0; i < names.n && !st; i++)
        for (int j = 0; j < i && !st; j++)
            if (!strcmp(names.v[i], names.v[j]))
                st = ct__error(CT_ERR_INVALID_ARGUMENT,
                               "%s: Cannot have duplicate column names ('%s').", api,
                               names.v[i]);
    d->ncols = names.n;
    if (!st) st = select_columns(d, o, &names, api);
    if (!st && d->nsel > CT_MAX_COMPONENTS)
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: %d columns selected; an element has at most %d components (use "
                       "select_columns)", api, d->nsel, CT_MAX_COMPONENTS);
    if (!st) st = alloc_columns(d, api);
    if (!st && !(d->names = calloc((size_t)d->nsel, sizeof *d->names)))
        st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
    for (int k = 0; k < d->nsel && !st; k++) {
        d->names[k] = names.v[d->sel[k]];
        names.v[d->sel[k]] = NULL;
    }
    strv_free(&names);
    if (st) return st;
    /* Column types. */
    if (o->column_defaults || o->num_column_defaults)
        st = o->column_defaults ? copy_defaults(d, o->num_column_defaults, o->column_defaults, api)
                                : ct__error(CT_ERR_INVALID_ARGUMENT,
                                            "%s: num_column_defaults without column_defaults", api);
    else
        st = infer_defaults(d, o->num_rows_for_inference == 0 ? DEFAULT_INFERENCE_ROWS
                                                              : o->num_rows_for_inference);
    if (st) return st;
    /* The label goes last, unnamed. */
    int label = -1;
    if (o->label_name) {
        for (int k = 0; k < d->nsel && label < 0; k++)
            if (!strcmp(d->names[k], o->label_name)) label = k;
        if (label < 0)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: `label_name` provided must be one of the columns: '%s' is not",
                             api, o->label_name);
        for (int k = label + 1; k < d->nsel; k++) d->slot[k] = k - 1;
        d->slot[label] = d->nsel - 1;
    }
    ct_element_spec *spec = &d->base.spec;
    spec->n = d->nsel;
    for (int k = 0; k < d->nsel; k++) {
        ct_component_spec *c = &spec->c[d->slot[k]];
        const char *name = k == label ? NULL : ct__intern(d->names[k]);
        if (k != label && !name)
            return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
        if (d->defs[k].dtype == CT_CSV_STRING) {
            ct__string_spec(c, name);
        } else {
            memset(c, 0, sizeof *c);
            c->dtype = d->defs[k].dtype;
            c->name = name;
        }
    }
    return CT_OK;
}

ct_dataset *ct_make_csv_dataset(int n, const char *const *files, const ct_csv_opts *opts) {
    ct_csv_opts none = {0};
    csv_ds *d = ct__dataset_alloc(sizeof *d, &csv_vt, NULL);
    if (!d) return NULL;
    if (build(d, n, files, opts ? opts : &none)) {
        ct_status st = ct_last_status();
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", ct_last_error());
        csv_destroy(&d->base);
        free(d);
        ct__error(st ? st : CT_ERR_INTERNAL, "%s", msg);
        return NULL;
    }
    return &d->base;
}

/* ---- decode_csv ------------------------------------------------------------------------ */

ct_status ct_decode_csv(const void *record, size_t len, int num_defaults,
                        const ct_csv_column *defaults, const ct_csv_opts *opts, ct_element **out) {
    const char *api = "ct_decode_csv";
    if (!out) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: NULL out", api);
    *out = NULL;
    if ((!record && len) || !defaults || num_defaults < 1)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: expected a record and at least one default, got %d", api,
                         defaults ? num_defaults : 0);
    if (num_defaults > CT_MAX_COMPONENTS)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: %d columns; an element has at most %d components", api,
                         num_defaults, CT_MAX_COMPONENTS);
    ct_csv_opts none = {0};
    const ct_csv_opts *o = opts ? opts : &none;
    csv_ds d = {0};
    csv_reader r = {0};
    ct_status st = csv_options(&d, o, api);
    if (!st) {
        /* With selected indices the record's width is whatever it is. */
        d.ncols = o->num_select_indices ? INT32_MAX : num_defaults;
        st = select_columns(&d, &(ct_csv_opts){.select_indices = o->select_indices,
                                                .num_select_indices = o->num_select_indices},
                            NULL, api);
    }
    if (!st) st = alloc_columns(&d, api);
    if (!st) st = copy_defaults(&d, num_defaults, defaults, api);
    if (!st) {
        r.api = api;
        r.path = "record";
        r.buf = record;
        r.lim = len;
        r.line = 1;
        r.delim = d.delim;
        r.quote = d.quote;
        bool got;
        st = read_record(&r, &got);
        if (!st && !got) { /* an empty record: one empty field */
            if (!field_begin(&r)) st = rd_oom(&r);
            else field_end(&r);
        }
        if (!st && r.pos < r.lim)
            st = rd_error(&r, r.rec_line, r.nf,
                          "Unquoted fields cannot have quotes/CRLFs inside (a line break at "
                          "byte %zu)", r.pos - 1);
    }
    if (!st) {
        if (!o->num_select_indices) d.ncols = num_defaults;
        else d.ncols = r.nf > d.sel[d.nsel - 1] ? r.nf : d.sel[d.nsel - 1] + 1;
        d.base.spec.n = d.nsel;
        st = record_element(&d, &r, out);
    }
    reader_free(&r);
    d.names = NULL;
    csv_destroy(&d.base);
    return st;
}
