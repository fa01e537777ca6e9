/* Files as byte streams (plain, gzip, zlib) and tf.data.TextLineDataset. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/file_stream.h"

/* ---- byte streams ------------------------------------------------------------------ */

#define FS_CHUNK (64 * 1024)

struct ct__fstream {
    FILE *f;
    char *iobuf;             /* f's stdio buffer */
    char *path;
    const char *api;
    ct_compression comp;
    z_stream z;
    bool z_init;
    bool z_end;              /* the compressed stream ended (no more members) */
    unsigned char *in;       /* compressed input buffer */
    uint64_t pos;            /* decompressed bytes delivered */
};

static const char *comp_name(ct_compression c) {
    return c == CT_COMPRESSION_GZIP ? "GZIP" : c == CT_COMPRESSION_ZLIB ? "ZLIB" : "uncompressed";
}

ct__fstream *ct__fstream_open(const char *path, ct_compression c, const char *api) {
    if ((unsigned)c > CT_COMPRESSION_ZLIB) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: unknown compression %d for '%s'", api, (int)c,
                  path);
        return NULL;
    }
    ct__fstream *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory opening '%s'", api, path);
        return NULL;
    }
    s->api = api;
    s->comp = c;
    s->f = fopen(path, "rb");
    if (!s->f) {
        int e = errno;
        ct__error(e == ENOENT ? CT_ERR_NOT_FOUND : CT_ERR_INVALID_ARGUMENT,
                  "%s: cannot open '%s': %s", api, path, strerror(e));
        ct__fstream_close(s);
        return NULL;
    }
    /* One read(2) per 256 KB of lines (glibc ignores the size unless it
     * is given the buffer). */
    s->iobuf = malloc(256 << 10);
    if (s->iobuf) setvbuf(s->f, s->iobuf, _IOFBF, 256 << 10);
    if (c != CT_COMPRESSION_NONE) {
        s->in = malloc(FS_CHUNK);
        if (!s->in) {
            ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory opening '%s'", api, path);
            ct__fstream_close(s);
            return NULL;
        }
        /* TF's ZlibCompressionOptions: MAX_WBITS for ZLIB, +16 for GZIP. */
        if (inflateInit2(&s->z, c == CT_COMPRESSION_GZIP ? MAX_WBITS + 16 : MAX_WBITS) != Z_OK) {
            ct__error(CT_ERR_INTERNAL, "%s: zlib cannot start inflating '%s'", api, path);
            ct__fstream_close(s);
            return NULL;
        }
        s->z_init = true;
    }
    return s;
}

static int64_t fs_fail(ct__fstream *s, const char *what) {
    ct__error(CT_ERR_INVALID_ARGUMENT, "%s: '%s' is not valid %s data: %s", s->api, s->path,
              comp_name(s->comp), what);
    return -1;
}

int64_t ct__fstream_read(ct__fstream *s, void *buf, size_t cap) {
    if (cap == 0) return 0;
    if (s->comp == CT_COMPRESSION_NONE) {
        size_t got = fread(buf, 1, cap, s->f);
        if (got == 0 && ferror(s->f)) {
            ct__error(CT_ERR_INTERNAL, "%s: error reading '%s': %s", s->api, s->path,
                      strerror(errno));
            return -1;
        }
        s->pos += got;
        return (int64_t)got;
    }
    if (s->z_end) return 0;
    s->z.next_out = buf;
    s->z.avail_out = (uInt)(cap > UINT32_MAX ? UINT32_MAX : cap);
    while (s->z.avail_out > 0) {
        if (s->z.avail_in == 0) {
            size_t got = fread(s->in, 1, FS_CHUNK, s->f);
            if (got == 0) {
                if (ferror(s->f)) {
                    ct__error(CT_ERR_INTERNAL, "%s: error reading '%s': %s", s->api, s->path,
                              strerror(errno));
                    return -1;
                }
                /* The file ended inside a compressed stream: truncated. */
                return fs_fail(s, "the compressed stream is truncated");
            }
            s->z.next_in = s->in;
            s->z.avail_in = (uInt)got;
        }
        int rc = inflate(&s->z, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
            /* Another gzip member (or zlib stream) may follow: read on. */
            if (s->z.avail_in == 0) {
                int ch = fgetc(s->f);
                if (ch == EOF) {
                    s->z_end = true;
                    break;
                }
                ungetc(ch, s->f);
            }
            inflateReset(&s->z);
            continue;
        }
        if (rc == Z_BUF_ERROR) continue; /* needs more input */
        if (rc != Z_OK) return fs_fail(s, s->z.msg ? s->z.msg : "inflate failed");
    }
    size_t got = cap - s->z.avail_out;
    if (cap > UINT32_MAX) got = UINT32_MAX - s->z.avail_out;
    s->pos += got;
    return (int64_t)got;
}

ct_status ct__fstream_skip(ct__fstream *s, uint64_t n) {
    if (s->comp == CT_COMPRESSION_NONE) {
        if (n > (uint64_t)INT64_MAX || fseeko(s->f, (off_t)n, SEEK_SET) != 0)
            return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: cannot seek to byte %llu of '%s'",
                             s->api, (unsigned long long)n, s->path);
        /* A position past the end reads as the end; TF's Seek accepts it too,
         * but a restored position there means the file changed. */
        s->pos = n;
        return CT_OK;
    }
    char tmp[8192];
    while (n > 0) {
        int64_t got = ct__fstream_read(s, tmp, n < sizeof tmp ? (size_t)n : sizeof tmp);
        if (got < 0) return ct_last_status();
        if (got == 0)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: '%s' ended %llu bytes before the restored position (did the "
                             "file change?)", s->api, s->path, (unsigned long long)n);
        n -= (uint64_t)got;
    }
    return CT_OK;
}

uint64_t ct__fstream_tell(const ct__fstream *s) { return s->pos; }
const char *ct__fstream_path(const ct__fstream *s) { return s->path; }

void ct__fstream_close(ct__fstream *s) {
    if (!s) return;
    if (s->z_init) inflateEnd(&s->z);
    if (s->f) fclose(s->f);
    free(s->iobuf);
    free(s->in);
    free(s->path);
    free(s);
}

ct_tensor *ct__string_tensor(const void *p, size_t n, const char *api) {
    int64_t len = (int64_t)n;
    ct_tensor *t = ct__tensor_alloc(ct__cpu_device(), CT_UINT8, 1, &len, api);
    if (t && n) memcpy(ct__data(t), p, n);
    return t;
}

void ct__string_spec(ct_component_spec *c, const char *name) {
    memset(c, 0, sizeof *c);
    c->dtype = CT_UINT8;
    c->rank = 1;
    c->shape[0] = -1;
    c->name = name;
}

/* ---- file name lists (shared by the file datasets) ---------------------------- */

static char **names_copy(int n, const char *const *names, const char *api) {
    if (n < 1 || !names) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: expected at least one file name, got %d", api,
                  names ? n : 0);
        return NULL;
    }
    char **c = calloc((size_t)n, sizeof *c);
    if (!c) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (!names[i]) {
            ct__error(CT_ERR_INVALID_ARGUMENT, "%s: file name %d is NULL", api, i);
        } else if (!(c[i] = strdup(names[i]))) {
            ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
        }
        if (!c[i]) {
            for (int j = 0; j < i; j++) free(c[j]);
            free(c);
            return NULL;
        }
    }
    return c;
}

/* ---- TextLineDataset --------------------------------------------------------------- */

typedef struct {
    ct_dataset base;
    int n;
    char **files;
    ct_compression comp;
} text_ds;

typedef struct {
    ct__iter base;
    int file;             /* index of the file being read (or next to open) */
    ct__fstream *s;       /* NULL: no file open */
    unsigned char *buf;   /* read buffer: [pos, lim) not yet consumed */
    size_t pos, lim;
    unsigned char *line;  /* the line being assembled */
    size_t len, cap;
} text_it;

static const char *const TEXT_API = "TextLineDataset";

static bool line_append(text_it *t, const unsigned char *p, size_t n) {
    /* TF's BufferedInputStream::ReadLine drops every '\r' in a line. */
    while (n > 0) {
        const unsigned char *cr = memchr(p, '\r', n);
        size_t k = cr ? (size_t)(cr - p) : n;
        if (t->len + k > t->cap) {
            size_t cap = t->cap ? t->cap : 256;
            while (cap < t->len + k) cap *= 2;
            unsigned char *q = realloc(t->line, cap);
            if (!q) {
                ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory for a line of %zu bytes",
                          TEXT_API, t->len + k);
                return false;
            }
            t->line = q;
            t->cap = cap;
        }
        if (k) memcpy(t->line + t->len, p, k);
        t->len += k;
        if (!cr) break;
        p += k + 1;
        n -= k + 1;
    }
    return true;
}

static void text_close(text_it *t) {
    ct__fstream_close(t->s);
    t->s = NULL;
    t->pos = t->lim = 0;
}

static ct_status text_emit(text_it *t, ct_element **out) {
    ct_element *e = ct__element_new(1);
    if (!e) return ct_last_status();
    e->t[0] = ct__string_tensor(t->line, t->len, TEXT_API);
    if (!e->t[0]) {
        ct_element_free(e);
        return ct_last_status();
    }
    *out = e;
    return CT_OK;
}

static ct_status text_next(ct__iter *it, ct_element **out) {
    text_it *t = (text_it *)it;
    text_ds *d = (text_ds *)it->ds;
    for (;;) {
        if (!t->s) {
            if (t->file >= d->n) return CT_OK;
            t->s = ct__fstream_open(d->files[t->file], d->comp, TEXT_API);
            if (!t->s) return ct_last_status();
            t->pos = t->lim = 0;
        }
        t->len = 0;
        for (;;) {
            if (t->pos == t->lim) {
                int64_t got = ct__fstream_read(t->s, t->buf, FS_CHUNK);
                if (got < 0) return ct_last_status();
                t->pos = 0;
                t->lim = (size_t)got;
                if (got == 0) break;
            }
            unsigned char *nl = memchr(t->buf + t->pos, '\n', t->lim - t->pos);
            size_t end = nl ? (size_t)(nl - t->buf) : t->lim;
            if (!line_append(t, t->buf + t->pos, end - t->pos)) return ct_last_status();
            if (nl) {
                t->pos = end + 1;
                return text_emit(t, out);
            }
            t->pos = t->lim;
        }
        /* End of this file: a last line without "\n" counts unless empty. */
        text_close(t);
        t->file++;
        if (t->len > 0) return text_emit(t, out);
    }
}

static ct_status text_save(ct__iter *it, ct__state_writer *w) {
    text_it *t = (text_it *)it;
    ct__sw_i64(w, ((text_ds *)it->ds)->n);
    ct__sw_i64(w, t->file);
    ct__sw_i64(w, t->s ? (int64_t)(ct__fstream_tell(t->s) - (t->lim - t->pos)) : -1);
    return w->st;
}

static ct_status text_restore(ct__iter *it, ct__state_reader *r) {
    text_it *t = (text_it *)it;
    text_ds *d = (text_ds *)it->ds;
    if (!ct__sr_param(r, it->ds->vt->name, "files", d->n)) return r->st;
    int64_t file = ct__sr_i64(r), off = ct__sr_i64(r);
    if (r->st) return r->st;
    if (file < 0 || file > d->n || off < -1 || (off >= 0 && file == d->n))
        return ct__sr_fail(r, "a TextLineDataset position outside its files");
    text_close(t);
    t->file = (int)file;
    if (off >= 0) {
        t->s = ct__fstream_open(d->files[file], d->comp, TEXT_API);
        if (!t->s) return ct_last_status();
        ct_status st = ct__fstream_skip(t->s, (uint64_t)off);
        if (st) {
            text_close(t);
            return st;
        }
    }
    return CT_OK;
}

static void text_free(ct__iter *it) {
    text_it *t = (text_it *)it;
    text_close(t);
    free(t->buf);
    free(t->line);
    free(t);
}

static const ct__iter_vt text_it_vt = {text_next, text_save, text_restore, text_free};

static ct__iter *text_iterator(ct_dataset *ds) {
    text_it *t = ct__iter_alloc(sizeof *t, &text_it_vt, ds);
    if (!t) return NULL;
    t->buf = malloc(FS_CHUNK);
    if (!t->buf) {
        free(t);
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory for a read buffer", TEXT_API);
        return NULL;
    }
    return &t->base;
}

static void text_destroy(ct_dataset *ds) {
    text_ds *d = (text_ds *)ds;
    for (int i = 0; i < d->n; i++) free(d->files[i]);
    free(d->files);
}

static ct_dataset *text_shard_files(ct_dataset *ds, int64_t num, int64_t index, int64_t *num_files) {
    text_ds *d = (text_ds *)ds;
    *num_files = d->n;
    if (d->n < num) return NULL;
    int k = (int)((d->n - index + num - 1) / num);
    const char **names = malloc((size_t)k * sizeof *names);
    if (!names) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", TEXT_API);
        return NULL;
    }
    for (int j = 0; j < k; j++) names[j] = d->files[index + (int64_t)j * num];
    ct_dataset *r = ct_dataset_text_lines(k, names, d->comp);
    free(names);
    if (r) r->opts = ds->opts;
    return r;
}

static const ct__dataset_vt text_vt = {"TextLineDataset", text_iterator, NULL, text_destroy,
                                       NULL, text_shard_files};

ct_dataset *ct_dataset_text_lines(int n, const char *const *filenames, ct_compression compression) {
    const char *api = "ct_dataset_text_lines";
    if ((unsigned)compression > CT_COMPRESSION_ZLIB) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: unknown compression %d", api, (int)compression);
        return NULL;
    }
    char **files = names_copy(n, filenames, api);
    if (!files) return NULL;
    ct_element_spec spec = {.n = 1};
    ct__string_spec(&spec.c[0], NULL);
    text_ds *d = ct__dataset_alloc(sizeof *d, &text_vt, &spec);
    if (!d) {
        for (int i = 0; i < n; i++) free(files[i]);
        free(files);
        return NULL;
    }
    d->n = n;
    d->files = files;
    d->comp = compression;
    return &d->base;
}
