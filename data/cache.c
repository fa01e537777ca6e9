/*
 * tf.data.Dataset.cache: in memory or in a file.
 *
 * Memory: the first iterator to run through the whole input fills the
 * cache (TF's MemoryWriterIterator); iterators made after that replay it
 * (MemoryReaderIterator). An iterator that stops before the end leaves
 * the cache empty, as TF discards a partial cache. While one iterator is
 * writing, another made meanwhile reads the input directly.
 *
 * File: the first run writes the elements to `<filename>.tmp-<pid>-<n>`
 * and, once the input is exhausted, flushes, fsyncs and renames it to
 * `filename`; a run (in this process or another) that finds `filename`
 * reads the elements from it instead of the input. A cache is never used
 * half-written: only a complete file bears the final name.
 *
 * File layout: the magic "CTCACHE1", the number of components and their
 * dtypes (int64 each), then per element its byte length (int64) and the
 * element as the iterator state stream writes one (ct__sw_element).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/internal.h"

#define CACHE_MAGIC "CTCACHE1"

typedef struct {
    ct_dataset base;
    ct_dataset *input;
    char *filename;        /* NULL: in memory */
    pthread_mutex_t mu;    /* guards the memory cache */
    ct_element **data;     /* the completed memory cache */
    int64_t n;
    bool completed;
    bool writer_active;
} cache_ds;

enum { MEM_WRITER, MEM_READER, PASS_THROUGH, FILE_WRITER, FILE_READER };

typedef struct {
    ct__iter base;
    int64_t mode;
    ct__iter *input;       /* writers, pass-through; NULL once exhausted */
    bool done;             /* a writer reached the end */
    bool owns_writer;      /* holds the dataset's writer_active */
    ct_element **local;    /* a memory writer's elements so far */
    int64_t n, cap;
    int64_t pos;           /* a reader's next element */
    FILE *f;               /* file writer (tmp) or reader */
    char *tmp;             /* the writer's temporary name */
} cache_it;

static atomic_long tmp_counter;

/* ---- helpers ----------------------------------------------------------------------------- */

static ct_status io_error(const cache_ds *d, const char *what, const char *path) {
    return ct__error(CT_ERR_INTERNAL, "ct_dataset_cache: cannot %s %s: %s", what, path,
                     strerror(errno));
}

static bool write_i64(FILE *f, int64_t v) { return fwrite(&v, sizeof v, 1, f) == 1; }

static ct_status write_header(cache_ds *d, FILE *f, const char *path) {
    bool ok = fwrite(CACHE_MAGIC, 8, 1, f) == 1 && write_i64(f, d->base.spec.n);
    for (int c = 0; ok && c < d->base.spec.n; c++) ok = write_i64(f, d->base.spec.c[c].dtype);
    return ok ? CT_OK : io_error(d, "write", path);
}

static ct_status check_header(cache_ds *d, FILE *f) {
    char magic[8];
    int64_t n = -1;
    bool ok = fread(magic, 8, 1, f) == 1 && !memcmp(magic, CACHE_MAGIC, 8) &&
              fread(&n, sizeof n, 1, f) == 1 && n == d->base.spec.n;
    for (int c = 0; ok && c < n; c++) {
        int64_t dt;
        ok = fread(&dt, sizeof dt, 1, f) == 1 && dt == (int64_t)d->base.spec.c[c].dtype;
    }
    if (!ok)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "ct_dataset_cache: %s is not a cache of this dataset's elements (%d "
                         "components); delete it to rebuild the cache", d->filename, d->base.spec.n);
    return CT_OK;
}

static void local_free(cache_it *c) {
    for (int64_t i = 0; i < c->n; i++) ct_element_free(c->local[i]);
    free(c->local);
    c->local = NULL;
    c->n = c->cap = 0;
}

static bool local_push(cache_it *c, ct_element *e) {
    if (c->n == c->cap) {
        int64_t cap = c->cap ? c->cap * 2 : 64;
        ct_element **p = realloc(c->local, (size_t)cap * sizeof *p);
        if (!p) {
            ct__error(CT_ERR_OUT_OF_MEMORY, "ct_dataset_cache: out of host memory caching %lld elements",
                      (long long)cap);
            return false;
        }
        c->local = p;
        c->cap = cap;
    }
    c->local[c->n++] = e;
    return true;
}

/* Releases whatever the iterator's current mode holds (not the struct). */
static void mode_release(cache_it *c) {
    cache_ds *d = (cache_ds *)c->base.ds;
    ct__iter_free(c->input);
    c->input = NULL;
    local_free(c);
    if (c->owns_writer) {
        pthread_mutex_lock(&d->mu);
        d->writer_active = false;
        pthread_mutex_unlock(&d->mu);
        c->owns_writer = false;
    }
    if (c->f) fclose(c->f);
    c->f = NULL;
    if (c->tmp) {
        unlink(c->tmp); /* an unfinished cache file is never kept */
        free(c->tmp);
        c->tmp = NULL;
    }
    c->done = false;
    c->pos = 0;
}

/* Opens a fresh temporary cache file with its header. */
static ct_status open_tmp(cache_it *c) {
    cache_ds *d = (cache_ds *)c->base.ds;
    size_t len = strlen(d->filename) + 64;
    c->tmp = malloc(len);
    if (!c->tmp) return ct__error(CT_ERR_OUT_OF_MEMORY, "ct_dataset_cache: out of host memory");
    snprintf(c->tmp, len, "%s.tmp-%ld-%ld", d->filename, (long)getpid(),
             (long)atomic_fetch_add(&tmp_counter, 1));
    c->f = fopen(c->tmp, "w+b");
    if (!c->f) {
        ct_status st = io_error(d, "create", c->tmp);
        free(c->tmp);
        c->tmp = NULL;
        return st;
    }
    return write_header(d, c->f, c->tmp);
}

/* Sets up mode `mode` (input opened for writers and pass-through). */
static ct_status mode_enter(cache_it *c, int64_t mode) {
    cache_ds *d = (cache_ds *)c->base.ds;
    c->mode = mode;
    if (mode == MEM_WRITER || mode == PASS_THROUGH || mode == FILE_WRITER) {
        c->input = ct__iter_make(d->input);
        if (!c->input) return ct_last_status();
    }
    if (mode == FILE_WRITER) return open_tmp(c);
    if (mode == FILE_READER) {
        c->f = fopen(d->filename, "rb");
        if (!c->f) return io_error(d, "open", d->filename);
        return check_header(d, c->f);
    }
    return CT_OK;
}

/* ---- next --------------------------------------------------------------------------------- */

static ct_status write_element(cache_it *c, const ct_element *e) {
    ct__state_writer w = {0};
    ct__sw_element(&w, e);
    ct_status st = w.st;
    if (!st && !(write_i64(c->f, (int64_t)w.n) && fwrite(w.buf, 1, w.n, c->f) == w.n))
        st = io_error((cache_ds *)c->base.ds, "write", c->tmp);
    free(w.buf);
    return st;
}

/* Flushes, fsyncs and renames the finished file into place. */
static ct_status commit_file(cache_it *c) {
    cache_ds *d = (cache_ds *)c->base.ds;
    ct_status st = CT_OK;
    if (fflush(c->f) || fsync(fileno(c->f))) st = io_error(d, "flush", c->tmp);
    if (fclose(c->f) && !st) st = io_error(d, "close", c->tmp);
    c->f = NULL;
    if (!st && rename(c->tmp, d->filename)) st = io_error(d, "rename the cache to", d->filename);
    if (st) unlink(c->tmp);
    free(c->tmp);
    c->tmp = NULL;
    if (!st) {
        /* Make the rename itself durable. */
        char *dir = strdup(d->filename);
        if (dir) {
            char *slash = strrchr(dir, '/');
            if (slash) slash[slash == dir ? 1 : 0] = '\0';
            int fd = open(slash ? dir : ".", O_RDONLY);
            if (fd >= 0) {
                fsync(fd);
                close(fd);
            }
            free(dir);
        }
    }
    return st;
}

static ct_status read_element(cache_it *c, ct_element **out) {
    cache_ds *d = (cache_ds *)c->base.ds;
    int64_t len;
    size_t got = fread(&len, 1, sizeof len, c->f);
    if (got == 0 && feof(c->f)) return CT_OK;
    if (got != sizeof len || len < 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_dataset_cache: %s is truncated or corrupt",
                         d->filename);
    char *buf = malloc((size_t)len + 1);
    if (!buf) return ct__error(CT_ERR_OUT_OF_MEMORY, "ct_dataset_cache: out of host memory");
    if (fread(buf, 1, (size_t)len, c->f) != (size_t)len) {
        free(buf);
        return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_dataset_cache: %s is truncated", d->filename);
    }
    ct__state_reader r = {.buf = buf, .n = (size_t)len};
    *out = ct__sr_element(&r);
    free(buf);
    if (!*out)
        return ct__error(r.st ? r.st : CT_ERR_INVALID_ARGUMENT,
                         "ct_dataset_cache: %s holds a malformed element", d->filename);
    c->pos++;
    return CT_OK;
}

static ct_status cache_next(ct__iter *it, ct_element **out) {
    cache_it *c = (cache_it *)it;
    cache_ds *d = (cache_ds *)it->ds;
    switch (c->mode) {
    case MEM_READER:
        if (c->pos < d->n) {
            *out = ct_element_copy(d->data[c->pos]);
            if (!*out) return ct_last_status();
            c->pos++;
        }
        return CT_OK;
    case FILE_READER:
        return read_element(c, out);
    default:
        break;
    }
    if (!c->input) return CT_OK;
    ct_status st = ct__iter_next(c->input, out);
    if (st) return st;
    if (*out) {
        if (c->mode == MEM_WRITER) {
            ct_element *copy = ct_element_copy(*out);
            if (!copy || !local_push(c, copy)) {
                ct_element_free(copy);
                ct_element_free(*out);
                *out = NULL;
                return ct_last_status();
            }
        } else if (c->mode == FILE_WRITER) {
            st = write_element(c, *out);
            if (st) {
                ct_element_free(*out);
                *out = NULL;
            }
        }
        return st;
    }
    ct__iter_free(c->input);
    c->input = NULL;
    c->done = true;
    if (c->mode == MEM_WRITER) {
        pthread_mutex_lock(&d->mu);
        if (!d->completed) {
            d->data = c->local;
            d->n = c->n;
            d->completed = true;
            c->local = NULL;
            c->n = c->cap = 0;
        }
        if (c->owns_writer) d->writer_active = false;
        c->owns_writer = false;
        pthread_mutex_unlock(&d->mu);
        local_free(c);
    } else if (c->mode == FILE_WRITER) {
        return commit_file(c);
    }
    return CT_OK;
}

/* ---- save / restore ------------------------------------------------------------------------ */

static ct_status cache_save(ct__iter *it, ct__state_writer *w) {
    cache_it *c = (cache_it *)it;
    cache_ds *d = (cache_ds *)it->ds;
    ct__sw_i64(w, c->mode);
    ct__sw_i64(w, c->done);
    switch (c->mode) {
    case MEM_WRITER:
        ct__sw_i64(w, c->n);
        for (int64_t i = 0; i < c->n; i++) ct__sw_element(w, c->local[i]);
        break;
    case MEM_READER: /* the cache itself is the dataset's state (cache_save_state) */
        ct__sw_i64(w, c->pos);
        break;
    case FILE_READER:
        ct__sw_i64(w, c->pos);
        ct__sw_i64(w, (int64_t)ftell(c->f));
        break;
    case FILE_WRITER:
        if (!c->done) {
            /* The elements written so far, as the file holds them. */
            long end = ftell(c->f);
            char *buf = malloc((size_t)end + 1);
            bool ok = buf && !fflush(c->f) && !fseek(c->f, 0, SEEK_SET) &&
                      fread(buf, 1, (size_t)end, c->f) == (size_t)end && !fseek(c->f, end, SEEK_SET);
            if (!ok) {
                free(buf);
                return w->st = io_error(d, "read back", c->tmp);
            }
            ct__sw_bytes(w, buf, (size_t)end);
            free(buf);
        }
        break;
    default:
        break;
    }
    if (c->mode == MEM_WRITER || c->mode == PASS_THROUGH || c->mode == FILE_WRITER) {
        ct__sw_i64(w, c->input != NULL);
        if (c->input) ct__iter_save(c->input, w);
    }
    return w->st;
}

static ct_status cache_restore(ct__iter *it, ct__state_reader *r) {
    cache_it *c = (cache_it *)it;
    cache_ds *d = (cache_ds *)it->ds;
    int64_t mode = ct__sr_i64(r), done = ct__sr_i64(r);
    if (r->st) return r->st;
    bool file_mode = mode == FILE_WRITER || mode == FILE_READER;
    if (mode < MEM_WRITER || mode > FILE_READER || (done != 0 && done != 1) ||
        file_mode != (d->filename != NULL))
        return ct__sr_fail(r, "cache's mode");
    mode_release(c);
    c->mode = mode;
    c->done = done;
    if (mode == MEM_WRITER) {
        int64_t n = ct__sr_i64(r);
        if (r->st) return r->st;
        if (n < 0 || (uint64_t)n > r->n - r->pos) return ct__sr_fail(r, "cache's element count");
        for (int64_t i = 0; i < n; i++) {
            ct_element *e = ct__sr_element(r);
            if (!e) return r->st ? r->st : ct__sr_fail(r, "a cached element is missing");
            if (!local_push(c, e)) {
                ct_element_free(e);
                return r->st = ct_last_status();
            }
        }
        pthread_mutex_lock(&d->mu);
        if (!d->completed && !d->writer_active) c->owns_writer = d->writer_active = true;
        pthread_mutex_unlock(&d->mu);
    } else if (mode == MEM_READER) {
        int64_t pos = ct__sr_i64(r);
        if (r->st) return r->st;
        if (pos < 0) return ct__sr_fail(r, "cache's position");
        c->pos = pos; /* cache_restore_state installs the cache */
        return CT_OK;
    } else if (mode == FILE_READER) {
        int64_t pos = ct__sr_i64(r), off = ct__sr_i64(r);
        if (r->st) return r->st;
        if (pos < 0 || off < 0) return ct__sr_fail(r, "cache file position");
        ct_status st = mode_enter(c, FILE_READER);
        if (!st && fseek(c->f, (long)off, SEEK_SET)) st = io_error(d, "seek in", d->filename);
        c->pos = pos;
        return st ? (r->st = st) : CT_OK;
    } else if (mode == FILE_WRITER && !done) {
        size_t len;
        char *bytes = ct__sr_bytes(r, &len);
        if (!bytes) return r->st;
        ct_status st = open_tmp(c);
        if (!st && fseek(c->f, 0, SEEK_SET)) st = io_error(d, "seek in", c->tmp);
        if (!st && fwrite(bytes, 1, len, c->f) != len) st = io_error(d, "write", c->tmp);
        free(bytes);
        if (st) return r->st = st;
    }
    int64_t present = ct__sr_i64(r);
    if (r->st) return r->st;
    if (present != 0 && present != 1) return ct__sr_fail(r, "an input flag is not 0 or 1");
    if (!present) return CT_OK;
    c->input = ct__iter_make(d->input);
    if (!c->input) return r->st = ct_last_status();
    return ct__iter_restore(c->input, r);
}

/* A completed memory cache belongs to the dataset: iterators made after
 * it replay it, so a checkpoint carries it even when no iterator reads it
 * (saved at the end of the pass that filled it), and a fresh process
 * replays the saved elements rather than reading its input again (whose
 * order, under a shuffle, would differ). A cache completed here already
 * stays (iterators may be reading it); a saved state without a completed
 * cache leaves this one as it is. */
static ct_status cache_save_state(ct_dataset *ds, ct__state_writer *w) {
    cache_ds *d = (cache_ds *)ds;
    pthread_mutex_lock(&d->mu);
    bool completed = d->completed && !d->filename;
    pthread_mutex_unlock(&d->mu);
    ct__sw_i64(w, completed);
    if (!completed) return w->st;
    ct__sw_i64(w, d->n);
    for (int64_t i = 0; i < d->n; i++) ct__sw_element(w, d->data[i]);
    return w->st;
}

static ct_status cache_restore_state(ct_dataset *ds, ct__state_reader *r, bool apply) {
    cache_ds *d = (cache_ds *)ds;
    int64_t completed = ct__sr_i64(r);
    if (r->st) return r->st;
    if (completed != 0 && completed != 1) return ct__sr_fail(r, "cache's completed flag");
    if (!completed) return CT_OK;
    if (d->filename) return ct__sr_fail(r, "a memory cache restored into a file cache");
    int64_t n = ct__sr_i64(r);
    if (r->st) return r->st;
    if (n < 0 || (uint64_t)n > r->n - r->pos) return ct__sr_fail(r, "cache's element count");
    ct_element **data = apply ? calloc((size_t)n + 1, sizeof *data) : NULL;
    if (apply && !data)
        return r->st = ct__error(CT_ERR_OUT_OF_MEMORY, "ct_dataset_cache: out of host memory");
    for (int64_t i = 0; i < n && !r->st; i++) {
        ct_element *e = ct__sr_element(r);
        if (!e && !r->st) ct__sr_fail(r, "a cached element is missing");
        if (data) data[i] = e;
        else ct_element_free(e);
    }
    bool install = false;
    if (!r->st && apply) {
        pthread_mutex_lock(&d->mu);
        install = !d->completed;
        if (install) {
            d->data = data;
            d->n = n;
            d->completed = true;
        }
        pthread_mutex_unlock(&d->mu);
    }
    if (data && !install) {
        for (int64_t i = 0; i < n; i++) ct_element_free(data[i]);
        free(data);
    }
    return r->st;
}

/* ---- iterator, dataset -------------------------------------------------------------------- */

static void cache_it_free(ct__iter *it) {
    mode_release((cache_it *)it);
    free(it);
}

static const ct__iter_vt cache_it_vt = {cache_next, cache_save, cache_restore, cache_it_free};

static ct__iter *cache_iterator(ct_dataset *ds) {
    cache_ds *d = (cache_ds *)ds;
    cache_it *c = ct__iter_alloc(sizeof *c, &cache_it_vt, ds);
    if (!c) return NULL;
    int64_t mode;
    if (d->filename) {
        mode = access(d->filename, F_OK) == 0 ? FILE_READER : FILE_WRITER;
    } else {
        pthread_mutex_lock(&d->mu);
        if (d->completed) {
            mode = MEM_READER;
        } else if (!d->writer_active) {
            mode = MEM_WRITER;
            d->writer_active = c->owns_writer = true;
        } else {
            mode = PASS_THROUGH;
        }
        pthread_mutex_unlock(&d->mu);
    }
    if (mode_enter(c, mode)) {
        cache_it_free(&c->base);
        return NULL;
    }
    return &c->base;
}

static int64_t cache_card(const ct_dataset *ds) {
    return ct_dataset_cardinality(((const cache_ds *)ds)->input);
}

static void cache_destroy(ct_dataset *ds) {
    cache_ds *d = (cache_ds *)ds;
    ct_dataset_free(d->input);
    for (int64_t i = 0; i < d->n; i++) ct_element_free(d->data[i]);
    free(d->data);
    free(d->filename);
    pthread_mutex_destroy(&d->mu);
}

/* A new cache (empty, or the same file name) over f(input). */
static ct_dataset *cache_remake(ct_dataset *ds, ct__remake_fn f, void *ctx) {
    const cache_ds *d = (const cache_ds *)ds;
    ct_dataset *input = f(d->input, ctx);
    if (!input) return NULL;
    ct_dataset *r = ct_dataset_cache(input, d->filename);
    if (r) r->opts = ds->opts;
    return r;
}

static const ct__dataset_vt cache_vt = {"CacheDatasetV2", cache_iterator, cache_card, cache_destroy,
                                        cache_remake, .input = ct__dataset_first_input,
                                        .save_state = cache_save_state,
                                        .restore_state = cache_restore_state};

ct_dataset *ct_dataset_cache(ct_dataset *ds, const char *filename) {
    if (ct__dataset_null(ds, "ct_dataset_cache")) return NULL;
    cache_ds *d = ct__dataset_alloc(sizeof *d, &cache_vt, &ds->spec);
    if (!d) {
        ct_dataset_free(ds);
        return NULL;
    }
    if (filename && *filename) {
        d->filename = strdup(filename);
        if (!d->filename) {
            ct__error(CT_ERR_OUT_OF_MEMORY, "ct_dataset_cache: out of host memory");
            free(d);
            ct_dataset_free(ds);
            return NULL;
        }
    }
    d->input = ds;
    pthread_mutex_init(&d->mu, NULL);
    d->base.opts = ds->opts;
    return &d->base;
}
