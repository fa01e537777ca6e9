/*
 * TensorBoard event files: tf.summary.create_file_writer and the scalar,
 * histogram and text summaries (include/ctrain/summary.h). The format is
 * ../shared/specs/tfevents.md: TFRecord framing (data/tfrecord.h, whose
 * CRC-32C this reuses) around Event protos (proto/event.proto).
 */
#define _GNU_SOURCE /* fdopen, fileno, fsync, gethostname */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctrain/summary.h"
#include "data/tfrecord.h"
#include "io/events.h"
#include "io/png.h"
#include "proto/event.pb-c.h"
#include "runtime/internal.h"

#define DEFAULT_MAX_QUEUE 10        /* create_file_writer_v2's max_queue     */
#define DEFAULT_FLUSH_MILLIS 120000 /* and its flush_millis                  */
#define FILE_VERSION "brain.Event:2"

struct ct_summary_writer {
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* wakes the flusher early (close)             */
    pthread_t flusher;       /* the background thread of flush_millis       */
    bool has_flusher;        /* started and not yet joined                  */
    bool stop;               /* the flusher must end                        */
    bool closed;
    FILE *f;
    char *logdir, *path;
    uint8_t *buf;            /* framed records not yet written              */
    size_t len, cap;
    int pending;             /* events in buf                               */
    int max_queue;           /* < 0: write every event at once              */
    int64_t flush_millis;    /* <= 0: no time-based flush                   */
    int64_t last_flush_ms;   /* CLOCK_MONOTONIC                             */
    ct_status failed;        /* a write failed: every later call says so    */
    char *failmsg;
};

static atomic_int writer_counter; /* the <n> of the file names, from 0 */

/* ---- helpers ------------------------------------------------------------------- */

static int64_t monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double wall_time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* A tag must be something TensorBoard and the text tools can show. */
static ct_status check_tag(const char *api, const char *tag) {
    if (!tag) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the tag is NULL", api);
    if (!tag[0]) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the tag is empty", api);
    for (const unsigned char *c = (const unsigned char *)tag; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: tag '%s' holds a control character (0x%02x) at byte %td", api,
                             tag, *c, (const char *)c - tag);
    return CT_OK;
}

/* ---- encoding ------------------------------------------------------------------- */

static uint8_t *pack_event(const Tensorflow__Event *ev, size_t *len) {
    size_t n = tensorflow__event__get_packed_size(ev);
    uint8_t *p = malloc(n ? n : 1);
    if (!p) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_summary: out of memory for an event of %zu bytes", n);
        return NULL;
    }
    *len = tensorflow__event__pack(ev, p);
    return p;
}

uint8_t *ct__event_encode_version(double wall_time, size_t *len) {
    Tensorflow__Event ev = TENSORFLOW__EVENT__INIT;
    ev.wall_time = wall_time;
    ev.what_case = TENSORFLOW__EVENT__WHAT_FILE_VERSION;
    ev.file_version = (char *)FILE_VERSION;
    return pack_event(&ev, len);
}

/* One Event{wall_time, step, summary{value{tag, tensor, metadata{plugin,
 * content}}}}; content NULL: empty (version 0 of every plugin's data but
 * the Keras model's). */
static uint8_t *encode_tensor_event(const char *tag, const char *plugin, const char *content,
                                    Tensorflow__TensorProto *tensor, int64_t step,
                                    double wall_time, size_t *len) {
    Tensorflow__SummaryMetadata__PluginData pd = TENSORFLOW__SUMMARY_METADATA__PLUGIN_DATA__INIT;
    pd.plugin_name = (char *)plugin;
    if (content) pd.content = (ProtobufCBinaryData){strlen(content), (uint8_t *)content};
    Tensorflow__SummaryMetadata md = TENSORFLOW__SUMMARY_METADATA__INIT;
    md.plugin_data = &pd;
    Tensorflow__Summary__Value v = TENSORFLOW__SUMMARY__VALUE__INIT;
    v.tag = (char *)tag;
    v.metadata = &md;
    v.value_case = TENSORFLOW__SUMMARY__VALUE__VALUE_TENSOR;
    v.tensor = tensor;
    Tensorflow__Summary__Value *vp = &v;
    Tensorflow__Summary s = TENSORFLOW__SUMMARY__INIT;
    s.n_value = 1;
    s.value = &vp;
    Tensorflow__Event ev = TENSORFLOW__EVENT__INIT;
    ev.wall_time = wall_time;
    ev.step = step;
    ev.what_case = TENSORFLOW__EVENT__WHAT_SUMMARY;
    ev.summary = &s;
    return pack_event(&ev, len);
}

uint8_t *ct__event_encode_scalar(const char *tag, double value, int64_t step, double wall_time,
                                 size_t *len) {
    /* TF 2: a rank-0 DT_FLOAT tensor in tensor_content (4 bytes LE). */
    float f = (float)value;
    uint32_t bits;
    memcpy(&bits, &f, 4);
    uint8_t content[4] = {(uint8_t)bits, (uint8_t)(bits >> 8), (uint8_t)(bits >> 16),
                          (uint8_t)(bits >> 24)};
    Tensorflow__TensorShapeProto shape = TENSORFLOW__TENSOR_SHAPE_PROTO__INIT;
    Tensorflow__TensorProto t = TENSORFLOW__TENSOR_PROTO__INIT;
    t.dtype = TENSORFLOW__DATA_TYPE__DT_FLOAT;
    t.tensor_shape = &shape; /* present and empty: rank 0 */
    t.tensor_content.len = 4;
    t.tensor_content.data = content;
    return encode_tensor_event(tag, "scalars", NULL, &t, step, wall_time, len);
}

/* ---- writing ----------------------------------------------------------------------- */

/* Records a failure so that every later call on w reports it; returns st. */
static ct_status fail(ct_summary_writer *w, ct_status st) {
    if (!w->failed) {
        w->failed = st;
        w->failmsg = strdup(ct_last_error());
    }
    return st;
}

static ct_status repeat_failure(const ct_summary_writer *w, const char *api) {
    return ct__error(w->failed, "%s: '%s': the writer failed earlier: %s", api, w->path,
                     w->failmsg ? w->failmsg : "(no message)");
}

/* Writes the queued records and flushes stdio; w->mu held. */
static ct_status flush_locked(ct_summary_writer *w, const char *api) {
    w->last_flush_ms = monotonic_ms();
    if (w->failed) return repeat_failure(w, api);
    if (w->len && fwrite(w->buf, 1, w->len, w->f) != w->len)
        return fail(w, ct__error(CT_ERR_INTERNAL, "%s: '%s': write of %zu bytes failed: %s", api,
                                 w->path, w->len, strerror(errno)));
    w->len = 0;
    w->pending = 0;
    if (fflush(w->f) != 0)
        return fail(w, ct__error(CT_ERR_INTERNAL, "%s: '%s': flush failed: %s", api, w->path,
                                 strerror(errno)));
    return CT_OK;
}

/* Queues one serialized event (payload is freed here, NULL passes the
 * encoder's error through) and writes the queue when it is due. */
static ct_status submit(ct_summary_writer *w, const char *api, uint8_t *payload, size_t len) {
    if (!payload) return ct_last_status();
    ct_status st = CT_OK;
    pthread_mutex_lock(&w->mu);
    if (w->closed) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: '%s': the writer is closed", api, w->path);
        goto out;
    }
    if (w->failed) {
        st = repeat_failure(w, api);
        goto out;
    }
    size_t need = w->len + len + CT__TFRECORD_HEADER + CT__TFRECORD_FOOTER;
    if (need > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < need) cap *= 2;
        uint8_t *b = realloc(w->buf, cap);
        if (!b) {
            st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: '%s': out of memory queueing %zu bytes",
                           api, w->path, need);
            goto out;
        }
        w->buf = b;
        w->cap = cap;
    }
    uint8_t *p = w->buf + w->len;
    ct__tfrecord_frame(payload, len, p, p + CT__TFRECORD_HEADER + len);
    memcpy(p + CT__TFRECORD_HEADER, payload, len);
    w->len = need;
    w->pending++;
    if (w->pending > w->max_queue ||
        (w->flush_millis > 0 && monotonic_ms() - w->last_flush_ms >= w->flush_millis))
        st = flush_locked(w, api);
out:
    pthread_mutex_unlock(&w->mu);
    free(payload);
    return st;
}

/* flush_millis without a write: wakes every flush_millis and writes what
 * waits. Its errors stay in w for the next call to report. */
static void *flusher_main(void *arg) {
    ct__worker_thread_signals();
    ct_summary_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        int64_t due = w->last_flush_ms + w->flush_millis;
        struct timespec ts = {.tv_sec = due / 1000, .tv_nsec = (due % 1000) * 1000000};
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        if (w->stop) break;
        if (monotonic_ms() - w->last_flush_ms < w->flush_millis) continue;
        if (w->pending && !w->failed)
            flush_locked(w, "ct_summary (background flush)");
        else
            w->last_flush_ms = monotonic_ms();
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* mkdir -p: every missing component of dir, then dir must be a directory. */
static ct_status make_dirs(const char *api, const char *dir) {
    char *p = strdup(dir);
    if (!p) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", api);
    ct_status st = CT_OK;
    for (char *s = p + 1;; s++) {
        bool end = !*s;
        if (!end && *s != '/') continue;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: cannot create the log directory '%s' "
                           "('%s': %s)", api, dir, p, strerror(errno));
            break;
        }
        if (end) break;
        *s = '/';
    }
    free(p);
    if (st) return st;
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: cannot use the log directory '%s': %s",
                         api, dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: the log directory '%s' exists and is not a directory", api, dir);
    return CT_OK;
}

static void writer_destroy(ct_summary_writer *w) {
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->logdir);
    free(w->path);
    free(w->buf);
    free(w->failmsg);
    free(w);
}

ct_summary_writer *ct_summary_create_file_writer(const char *logdir,
                                                 const ct_summary_writer_opts *opts) {
    static const char api[] = "ct_summary_create_file_writer";
    if (!logdir) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: logdir is NULL", api);
        return NULL;
    }
    if (!logdir[0]) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: logdir is empty", api);
        return NULL;
    }
    ct_summary_writer_opts o = opts ? *opts : (ct_summary_writer_opts){0};
    const char *suffix = o.filename_suffix ? o.filename_suffix : ".v2";
    if (strchr(suffix, '/')) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: filename_suffix '%s' holds a '/'", api, suffix);
        return NULL;
    }
    if (make_dirs(api, logdir)) return NULL;

    char host[256];
    if (gethostname(host, sizeof host) != 0 || !host[0]) strcpy(host, "localhost");
    host[sizeof host - 1] = 0;
    for (char *c = host; *c; c++)
        if (*c == '/') *c = '_';
    time_t now = time(NULL);
    int n = atomic_fetch_add(&writer_counter, 1);
    const char *dot = suffix[0] && suffix[0] != '.' ? "." : "";
    size_t plen = strlen(logdir) + strlen(host) + strlen(suffix) + 96;
    char *path = malloc(plen);
    ct_summary_writer *w = calloc(1, sizeof *w);
    if (!path || !w) {
        free(path);
        free(w);
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", api);
        return NULL;
    }
    snprintf(path, plen, "%s%sevents.out.tfevents.%010lld.%s.%ld.%d%s%s", logdir,
             logdir[strlen(logdir) - 1] == '/' ? "" : "/", (long long)now, host, (long)getpid(),
             n, dot, suffix);
    w->path = path;
    w->logdir = strdup(logdir);
    w->max_queue = o.max_queue == 0 ? DEFAULT_MAX_QUEUE : o.max_queue < 0 ? -1 : o.max_queue;
    w->flush_millis = o.flush_millis == 0 ? DEFAULT_FLUSH_MILLIS : o.flush_millis;
    w->last_flush_ms = monotonic_ms();
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (!w->logdir) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", api);
        goto fail;
    }
    /* A new file, never another writer's (O_EXCL). */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 || !(w->f = fdopen(fd, "wb"))) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: cannot create the event file '%s': %s", api,
                  path, strerror(errno));
        if (fd >= 0) close(fd);
        goto fail;
    }
    /* The file_version event, with the creation time in whole seconds,
     * written and flushed at once. */
    size_t len;
    uint8_t *ver = ct__event_encode_version((double)now, &len);
    if (!ver) goto fail_file;
    uint8_t hdr[CT__TFRECORD_HEADER], ftr[CT__TFRECORD_FOOTER];
    ct__tfrecord_frame(ver, len, hdr, ftr);
    bool ok = fwrite(hdr, 1, sizeof hdr, w->f) == sizeof hdr &&
              fwrite(ver, 1, len, w->f) == len && fwrite(ftr, 1, sizeof ftr, w->f) == sizeof ftr &&
              fflush(w->f) == 0;
    free(ver);
    if (!ok) {
        ct__error(CT_ERR_INTERNAL, "%s: '%s': writing the file_version record failed: %s", api,
                  path, strerror(errno));
        goto fail_file;
    }
    if (w->flush_millis > 0) {
        if (pthread_create(&w->flusher, NULL, flusher_main, w) != 0) {
            ct__error(CT_ERR_INTERNAL, "%s: '%s': cannot start the flush thread", api, path);
            goto fail_file;
        }
        w->has_flusher = true;
    }
    return w;
fail_file:
    fclose(w->f);
    unlink(path);
fail:
    writer_destroy(w);
    return NULL;
}

const char *ct_summary_writer_logdir(const ct_summary_writer *w) {
    return w ? w->logdir : NULL;
}

const char *ct_summary_writer_path(const ct_summary_writer *w) {
    return w ? w->path : NULL;
}

ct_status ct_summary_scalar(ct_summary_writer *w, const char *tag, double value, int64_t step) {
    static const char api[] = "ct_summary_scalar";
    if (!w) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the writer is NULL", api);
    if (check_tag(api, tag)) return ct_last_status();
    size_t len = 0;
    uint8_t *p = ct__event_encode_scalar(tag, value, step, wall_time_now(), &len);
    return submit(w, api, p, len);
}

ct_status ct_summary_histogram(ct_summary_writer *w, const char *tag, const ct_tensor *values,
                               int64_t step, int buckets) {
    static const char api[] = "ct_summary_histogram";
    if (!w) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the writer is NULL", api);
    if (check_tag(api, tag)) return ct_last_status();
    if (!values)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: tag '%s': values is NULL", api, tag);
    if (buckets < 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: tag '%s': buckets is %d; it must be positive (0: %d)", api, tag,
                         buckets, CT_SUMMARY_DEFAULT_BUCKETS);
    int64_t k = buckets ? buckets : CT_SUMMARY_DEFAULT_BUCKETS;
    int64_t n = ct_tensor_size(values);
    double *x = malloc((size_t)(n ? n : 1) * sizeof(double));
    double *m = calloc((size_t)k * 3, sizeof(double)); /* rows [left, right, count] */
    uint8_t *content = malloc((size_t)k * 3 * 8);
    uint8_t *p = NULL;
    size_t len = 0;
    ct_status st = CT_OK;
    if (!x || !m || !content) {
        st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: tag '%s': out of memory for %" PRId64
                       " values", api, tag, n);
        goto out;
    }
    if (n && (st = ct_tensor_read(values, CT_FLOAT64, x, n))) goto out;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "%s: tag '%s': element %" PRId64 " of %" PRId64 " is %s; a histogram "
                           "needs finite values (nothing written)",
                           api, tag, i, n, isnan(x[i]) ? "NaN" : x[i] > 0 ? "inf" : "-inf");
            goto out;
        }
    if (n) {
        double lo = x[0], hi = x[0];
        for (int64_t i = 1; i < n; i++) {
            lo = x[i] < lo ? x[i] : lo;
            hi = x[i] > hi ? x[i] : hi;
        }
        double range = hi - lo;
        if (range == 0) {
            /* summary_v2's singular case: every bucket [v, v], all in the first. */
            for (int64_t b = 0; b < k; b++) m[3 * b] = m[3 * b + 1] = lo;
            m[2] = (double)n;
        } else {
            /* Equal widths; edges as tf.linspace(lo, hi, k + 1) with the
             * last one exactly hi; the maximum falls in the last bucket. */
            double width = range / (double)k;
            for (int64_t i = 0; i < n; i++) {
                double q = floor((x[i] - lo) / width);
                int64_t b = q < 0 ? 0 : q >= (double)(k - 1) ? k - 1 : (int64_t)q;
                m[3 * b + 2] += 1;
            }
            for (int64_t b = 0; b < k; b++) {
                m[3 * b] = b == 0 ? lo : lo + (double)b * width;
                m[3 * b + 1] = b == k - 1 ? hi : lo + (double)(b + 1) * width;
            }
        }
    }
    for (int64_t i = 0; i < 3 * k; i++) {
        uint64_t bits;
        memcpy(&bits, &m[i], 8);
        put_le64(content + 8 * i, bits);
    }
    Tensorflow__TensorShapeProto__Dim d0 = TENSORFLOW__TENSOR_SHAPE_PROTO__DIM__INIT,
                                      d1 = TENSORFLOW__TENSOR_SHAPE_PROTO__DIM__INIT;
    d0.size = k;
    d1.size = 3;
    Tensorflow__TensorShapeProto__Dim *dims[2] = {&d0, &d1};
    Tensorflow__TensorShapeProto shape = TENSORFLOW__TENSOR_SHAPE_PROTO__INIT;
    shape.n_dim = 2;
    shape.dim = dims;
    Tensorflow__TensorProto t = TENSORFLOW__TENSOR_PROTO__INIT;
    t.dtype = TENSORFLOW__DATA_TYPE__DT_DOUBLE;
    t.tensor_shape = &shape;
    t.tensor_content.len = (size_t)k * 3 * 8;
    t.tensor_content.data = content;
    p = encode_tensor_event(tag, "histograms", NULL, &t, step, wall_time_now(), &len);
    st = submit(w, api, p, len); /* frees p */
out:
    free(x);
    free(m);
    free(content);
    return st;
}

/* A rank-0 DT_STRING tensor of plugin: text's, and the Keras model's. */
static ct_status write_string(ct_summary_writer *w, const char *api, const char *plugin,
                              const char *content, const char *tag, const char *text,
                              int64_t step) {
    if (!w) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the writer is NULL", api);
    if (check_tag(api, tag)) return ct_last_status();
    if (!text) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: tag '%s': text is NULL", api, tag);
    ProtobufCBinaryData s = {.len = strlen(text), .data = (uint8_t *)text};
    Tensorflow__TensorShapeProto shape = TENSORFLOW__TENSOR_SHAPE_PROTO__INIT;
    Tensorflow__TensorProto t = TENSORFLOW__TENSOR_PROTO__INIT;
    t.dtype = TENSORFLOW__DATA_TYPE__DT_STRING;
    t.tensor_shape = &shape;
    t.n_string_val = 1;
    t.string_val = &s;
    size_t len = 0;
    uint8_t *p = encode_tensor_event(tag, plugin, content, &t, step, wall_time_now(), &len);
    return submit(w, api, p, len);
}

ct_status ct_summary_text(ct_summary_writer *w, const char *tag, const char *text, int64_t step) {
    return write_string(w, "ct_summary_text", "text", NULL, tag, text, step);
}

ct_status ct__summary_keras_model(ct_summary_writer *w, const char *tag, const char *json,
                                  int64_t step) {
    /* keras_model_summary's plugin data: its version, "1". */
    return write_string(w, "keras_model_summary", "graph_keras_model", "1", tag, json, step);
}

ct_status ct_summary_image(ct_summary_writer *w, const char *tag, const ct_tensor *images,
                           int64_t step, int max_outputs) {
    static const char api[] = "ct_summary_image";
    if (!w) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the writer is NULL", api);
    if (check_tag(api, tag)) return ct_last_status();
    if (!images) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: tag '%s': images is NULL", api, tag);
    if (max_outputs < 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: tag '%s': max_outputs must be positive "
                         "(0: 3), got %d", api, tag, max_outputs);
    int rank = ct_tensor_rank(images);
    const int64_t *shape = ct_tensor_shape(images);
    if (rank != 4 || shape[3] < 1 || shape[3] > 4)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: tag '%s': images must be [k, height, width, channels] with 1 to 4 "
                         "channels, got shape %s", api, tag, CT__SHAPE(rank, shape));
    ct_dtype dt = ct_tensor_dtype(images);
    bool floating = dt == CT_FLOAT16 || dt == CT_BFLOAT16 || dt == CT_FLOAT32 || dt == CT_FLOAT64;
    if (!floating && dt != CT_UINT8)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: tag '%s': images must be uint8, or floats in [0, 1], not %s", api,
                         tag, ct_dtype_name(dt));
    int64_t keep = max_outputs ? max_outputs : 3, k = shape[0] < keep ? shape[0] : keep;
    int64_t h = shape[1], wd = shape[2], c = shape[3], n = k * h * wd * c;
    if (k > 0 && (h < 1 || wd < 1))
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: tag '%s': an image of %lld x %lld pixels",
                         api, tag, (long long)h, (long long)wd);
    /* Only the first k images are read. */
    ct_scope_begin();
    const ct_tensor *src = k < shape[0] ? ct_slice(images, (int64_t[4]){0},
                                                   (int64_t[]){k, h, wd, c})
                                        : images;
    ct_status st = src ? CT_OK : ct_last_status();
    float *f = floating ? malloc((size_t)(n ? n : 1) * sizeof *f) : NULL;
    uint8_t *pix = malloc((size_t)(n ? n : 1));
    ProtobufCBinaryData *strs = calloc((size_t)(2 + k), sizeof *strs);
    char dims[2][24];
    if (!st && ((floating && !f) || !pix || !strs))
        st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: tag '%s': out of memory", api, tag);
    if (!st && n) st = floating ? ct_tensor_read(src, CT_FLOAT32, f, n)
                                : ct_tensor_read(src, CT_UINT8, pix, n);
    if (st) goto out;
    /* Floats as tf.image.convert_image_dtype(..., saturate=True) makes
     * them uint8: x * 255.5 clipped to [0, 255] and truncated (NaN: 0). */
    for (int64_t i = 0; floating && i < n; i++) {
        float x = f[i] * 255.5f;
        pix[i] = x >= 255.0f ? 255 : x > 0 ? (uint8_t)x : 0;
    }
    /* TF 2: a DT_STRING [2 + k] tensor: width, height, then the PNGs. */
    snprintf(dims[0], sizeof dims[0], "%lld", (long long)wd);
    snprintf(dims[1], sizeof dims[1], "%lld", (long long)h);
    for (int i = 0; i < 2; i++) strs[i] = (ProtobufCBinaryData){strlen(dims[i]), (uint8_t *)dims[i]};
    for (int64_t i = 0; i < k; i++) {
        strs[2 + i].data =
            ct__png_encode(api, pix + i * h * wd * c, h, wd, (int)c, &strs[2 + i].len);
        if (!strs[2 + i].data) {
            st = ct_last_status();
            goto out;
        }
    }
    Tensorflow__TensorShapeProto__Dim dim = TENSORFLOW__TENSOR_SHAPE_PROTO__DIM__INIT;
    dim.size = 2 + k;
    Tensorflow__TensorShapeProto__Dim *dimp = &dim;
    Tensorflow__TensorShapeProto tshape = TENSORFLOW__TENSOR_SHAPE_PROTO__INIT;
    tshape.n_dim = 1;
    tshape.dim = &dimp;
    Tensorflow__TensorProto t = TENSORFLOW__TENSOR_PROTO__INIT;
    t.dtype = TENSORFLOW__DATA_TYPE__DT_STRING;
    t.tensor_shape = &tshape;
    t.n_string_val = (size_t)(2 + k);
    t.string_val = strs;
    size_t len = 0;
    uint8_t *p = encode_tensor_event(tag, "images", NULL, &t, step, wall_time_now(), &len);
    st = submit(w, api, p, len);
out:
    for (int64_t i = 0; strs && i < k; i++) free(strs[2 + i].data);
    free(strs);
    free(pix);
    free(f);
    ct_scope_end();
    return st;
}

ct_status ct_summary_flush(ct_summary_writer *w) {
    static const char api[] = "ct_summary_flush";
    if (!w) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the writer is NULL", api);
    pthread_mutex_lock(&w->mu);
    ct_status st = w->closed ? ct__error(CT_ERR_INVALID_ARGUMENT, "%s: '%s': the writer is "
                                         "closed", api, w->path)
                             : flush_locked(w, api);
    pthread_mutex_unlock(&w->mu);
    return st;
}

ct_status ct_summary_writer_close(ct_summary_writer *w) {
    static const char api[] = "ct_summary_writer_close";
    if (!w) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the writer is NULL", api);
    pthread_mutex_lock(&w->mu);
    bool join = w->has_flusher;
    w->has_flusher = false;
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (join) pthread_join(w->flusher, NULL);

    pthread_mutex_lock(&w->mu);
    ct_status st = CT_OK;
    if (w->closed) {
        st = w->failed ? repeat_failure(w, api) : CT_OK;
        goto out;
    }
    w->closed = true;
    st = flush_locked(w, api);
    if (!st && fsync(fileno(w->f)) != 0)
        st = fail(w, ct__error(CT_ERR_INTERNAL, "%s: '%s': fsync failed: %s", api, w->path,
                               strerror(errno)));
    if (fclose(w->f) != 0 && !st)
        st = fail(w, ct__error(CT_ERR_INTERNAL, "%s: '%s': close failed: %s", api, w->path,
                               strerror(errno)));
    w->f = NULL;
    w->len = 0;
    w->pending = 0;
out:
    pthread_mutex_unlock(&w->mu);
    return st;
}

void ct_summary_writer_free(ct_summary_writer *w) {
    if (!w) return;
    ct_summary_writer_close(w);
    writer_destroy(w);
}
