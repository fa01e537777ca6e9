/* TensorBoard event files (io/events.c, include/ctrain/summary.h) and the
 * ct_tb_scalars tool. The files are read back by a reader written here,
 * independent of the library: its own CRC-32C (checked against the spec's
 * vectors) and its own protobuf decoding. Golden bytes:
 * ../shared/specs/tfevents.md §2.3. */
#define _GNU_SOURCE
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "ctrain/summary.h"
#include "data/tfrecord.h" /* private: the framing, for the golden records */
#include "io/events.h"     /* private: the encoders with a given wall time  */
#include "support.h"

TestSuite(events, .init = ct_test_begin, .fini = ct_test_end);

/* ---- the spec's vectors -------------------------------------------------------- */

static const uint8_t VEC_A[40] = {
    0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa3, 0x7f, 0x4b, 0x22, 0x09, 0x00,
    0x00, 0x00, 0x40, 0xfc, 0x54, 0xd9, 0x41, 0x1a, 0x0d, 0x62, 0x72, 0x61, 0x69, 0x6e,
    0x2e, 0x45, 0x76, 0x65, 0x6e, 0x74, 0x3a, 0x32, 0xec, 0xed, 0x8f, 0x9d};
static const uint8_t VEC_B[68] = {
    0x34, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x5e, 0x33, 0x17, 0x5c, 0x09, 0x00,
    0x00, 0x20, 0x40, 0xfc, 0x54, 0xd9, 0x41, 0x10, 0x03, 0x2a, 0x27, 0x0a, 0x25, 0x0a,
    0x0a, 0x65, 0x70, 0x6f, 0x63, 0x68, 0x5f, 0x6c, 0x6f, 0x73, 0x73, 0x42, 0x0a, 0x08,
    0x01, 0x12, 0x00, 0x22, 0x04, 0x00, 0x00, 0x80, 0x3e, 0x4a, 0x0b, 0x0a, 0x09, 0x0a,
    0x07, 0x73, 0x63, 0x61, 0x6c, 0x61, 0x72, 0x73, 0xdf, 0x09, 0x0d, 0x7e};
static const uint8_t VEC_C[42] = {
    0x1a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x9b, 0xd8, 0x2d, 0x09, 0x00,
    0x00, 0x20, 0x40, 0xfc, 0x54, 0xd9, 0x41, 0x10, 0x03, 0x2a, 0x0d, 0x0a, 0x0b, 0x0a,
    0x04, 0x6c, 0x6f, 0x73, 0x73, 0x15, 0x00, 0x00, 0x80, 0x3e, 0xbc, 0xf2, 0x9b, 0x54};

/* ---- an independent reader --------------------------------------------------- */

static uint32_t my_crc32c(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
    }
    return c ^ 0xFFFFFFFFu;
}
static uint32_t my_mask(uint32_t c) {
    return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}
static uint64_t rd_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* One protobuf field: number, wire type, and its varint / fixed value or
 * its bytes. */
typedef struct {
    int num, wt;
    uint64_t u;
    const uint8_t *p;
    size_t len;
} pbf;

static uint64_t varint(const uint8_t **p, const uint8_t *end) {
    uint64_t v = 0;
    for (int s = 0; s < 64; s += 7) {
        cr_assert(*p < end, "varint runs past its message");
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) return v;
    }
    cr_assert_fail("varint longer than 10 bytes");
    return 0;
}

static bool next_field(const uint8_t **p, const uint8_t *end, pbf *f) {
    if (*p >= end) return false;
    uint64_t key = varint(p, end);
    f->num = (int)(key >> 3);
    f->wt = (int)(key & 7);
    switch (f->wt) {
    case 0: f->u = varint(p, end); break;
    case 1: cr_assert(end - *p >= 8); f->u = rd_le(*p, 8); *p += 8; break;
    case 5: cr_assert(end - *p >= 4); f->u = rd_le(*p, 4); *p += 4; break;
    case 2:
        f->len = (size_t)varint(p, end);
        cr_assert((size_t)(end - *p) >= f->len, "length-delimited field runs past its message");
        f->p = *p;
        *p += f->len;
        break;
    default: cr_assert_fail("wire type %d", f->wt);
    }
    return true;
}

typedef struct {
    char tag[128];
    bool has_simple, has_tensor;
    float simple;
    int dtype, rank;
    int64_t dims[4];
    uint8_t content[1024];
    size_t content_len;
    char str[256];
    size_t str_len;
    int n_str;
    uint8_t strs[4096]; /* the first 8 strings whole, as they fit */
    size_t str_at[8], str_lens[8];
    char plugin[32];
} value_t;

typedef struct {
    double wall_time;
    int64_t step;
    char file_version[64];
    bool has_summary;
    int n;
    value_t v[4];
} event_t;

static void copy_str(char *dst, size_t cap, const pbf *f) {
    cr_assert_lt(f->len, cap);
    memcpy(dst, f->p, f->len);
    dst[f->len] = 0;
}

static void parse_shape(value_t *v, const uint8_t *p, const uint8_t *end) {
    pbf f, g;
    v->rank = 0;
    while (next_field(&p, end, &f))
        if (f.num == 2) {
            const uint8_t *q = f.p;
            cr_assert_lt(v->rank, 4);
            v->dims[v->rank] = 0;
            while (next_field(&q, f.p + f.len, &g))
                if (g.num == 1) v->dims[v->rank] = (int64_t)g.u;
            v->rank++;
        }
}

static void parse_tensor(value_t *v, const uint8_t *p, const uint8_t *end) {
    pbf f;
    v->has_tensor = true;
    v->rank = -1; /* no shape */
    while (next_field(&p, end, &f)) {
        if (f.num == 1) v->dtype = (int)f.u;
        else if (f.num == 2) parse_shape(v, f.p, f.p + f.len);
        else if (f.num == 4) {
            cr_assert_leq(f.len, sizeof v->content);
            memcpy(v->content, f.p, f.len);
            v->content_len = f.len;
        } else if (f.num == 8) {
            /* Long texts (a model's config) keep their head and length. */
            size_t k = f.len < sizeof v->str - 1 ? f.len : sizeof v->str - 1;
            memcpy(v->str, f.p, k);
            v->str[k] = 0;
            v->str_len = f.len;
            size_t at = v->n_str ? v->str_at[v->n_str - 1] + v->str_lens[v->n_str - 1] : 0;
            if (v->n_str < 8 && at + f.len <= sizeof v->strs) {
                memcpy(v->strs + at, f.p, f.len);
                v->str_at[v->n_str] = at;
                v->str_lens[v->n_str] = f.len;
            }
            v->n_str++;
        }
    }
}

static void parse_value(value_t *v, const uint8_t *p, const uint8_t *end) {
    pbf f, g, h;
    memset(v, 0, sizeof *v);
    while (next_field(&p, end, &f)) {
        if (f.num == 1) copy_str(v->tag, sizeof v->tag, &f);
        else if (f.num == 2 && f.wt == 5) {
            uint32_t b = (uint32_t)f.u;
            memcpy(&v->simple, &b, 4);
            v->has_simple = true;
        } else if (f.num == 8) parse_tensor(v, f.p, f.p + f.len);
        else if (f.num == 9) {
            const uint8_t *q = f.p;
            while (next_field(&q, f.p + f.len, &g))
                if (g.num == 1) {
                    const uint8_t *r = g.p;
                    while (next_field(&r, g.p + g.len, &h))
                        if (h.num == 1) copy_str(v->plugin, sizeof v->plugin, &h);
                }
        }
    }
}

static void parse_event(event_t *e, const uint8_t *p, size_t n) {
    const uint8_t *end = p + n;
    pbf f, g;
    memset(e, 0, sizeof *e);
    while (next_field(&p, end, &f)) {
        if (f.num == 1) {
            cr_assert_eq(f.wt, 1);
            memcpy(&e->wall_time, &f.u, 8);
        } else if (f.num == 2) e->step = (int64_t)f.u;
        else if (f.num == 3) copy_str(e->file_version, sizeof e->file_version, &f);
        else if (f.num == 5) {
            e->has_summary = true;
            const uint8_t *q = f.p;
            while (next_field(&q, f.p + f.len, &g))
                if (g.num == 1) {
                    cr_assert_lt(e->n, 4);
                    parse_value(&e->v[e->n++], g.p, g.p + g.len);
                }
        }
    }
}

/* Every record of a file, both CRCs checked; malloc'ed array. */
static event_t *read_events(const char *path, int *count) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)size + 1);
    cr_assert_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    int cap = 16, n = 0;
    event_t *ev = malloc(sizeof *ev * (size_t)cap);
    long off = 0;
    while (off < size) {
        cr_assert_geq(size - off, 12, "truncated header at %ld", off);
        uint64_t len = rd_le(buf + off, 8);
        cr_assert_eq((uint32_t)rd_le(buf + off + 8, 4), my_mask(my_crc32c(buf + off, 8)),
                     "length CRC of record %d", n);
        cr_assert_geq((uint64_t)(size - off - 12), len + 4, "truncated record %d", n);
        const uint8_t *payload = buf + off + 12;
        cr_assert_eq((uint32_t)rd_le(payload + len, 4), my_mask(my_crc32c(payload, len)),
                     "data CRC of record %d", n);
        if (n == cap) ev = realloc(ev, sizeof *ev * (size_t)(cap *= 2));
        parse_event(&ev[n++], payload, len);
        off += 16 + (long)len;
    }
    free(buf);
    *count = n;
    return ev;
}

/* ---- temporary directories ------------------------------------------------------ */

static char tmpdir[256];

static const char *tmp(const char *rel) {
    static char buf[4][512];
    static int k;
    if (!tmpdir[0]) {
        strcpy(tmpdir, "/tmp/ct_events_XXXXXX");
        cr_assert_not_null(mkdtemp(tmpdir));
    }
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/%s", tmpdir, rel);
    return p;
}

static void rm_rf(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", path, de->d_name);
            rm_rf(p);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void cleanup(void) {
    if (tmpdir[0]) rm_rf(tmpdir);
    tmpdir[0] = 0;
    ct_test_end();
}

/* The one event file in dir (its path, static). */
static const char *only_file(const char *dir) {
    static char path[1024];
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strstr(de->d_name, "tfevents")) {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            n++;
        }
    closedir(d);
    cr_assert_eq(n, 1, "%d event files in %s", n, dir);
    return path;
}

static long file_size(const char *path) {
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    return (long)sb.st_size;
}

/* ---- tests ------------------------------------------------------------------------ */

Test(events, crc32c_spec_vectors) {
    uint8_t zeros[32] = {0}, len24[8] = {0x18};
    cr_assert_eq(my_crc32c(NULL, 0), 0x00000000u);
    cr_assert_eq(my_mask(my_crc32c(NULL, 0)), 0xA282EAD8u);
    cr_assert_eq(my_crc32c((const uint8_t *)"123456789", 9), 0xE3069283u);
    cr_assert_eq(my_mask(0xE3069283u), 0xC78AB0E5u);
    cr_assert_eq(my_crc32c(zeros, 32), 0x8A9136AAu);
    cr_assert_eq(my_mask(0x8A9136AAu), 0x0FD7FFFAu);
    cr_assert_eq(my_crc32c(zeros, 8), 0x8C28B28Au);
    cr_assert_eq(my_mask(0x8C28B28Au), 0x07980329u);
    cr_assert_eq(my_crc32c(len24, 8), 0x4A65BFE4u);
    cr_assert_eq(my_mask(0x4A65BFE4u), 0x224B7FA3u);
    /* The library's CRC (which the writer uses) agrees. */
    cr_assert_eq(ct__crc32c("123456789", 9), 0xE3069283u);
    cr_assert_eq(ct__crc32c_mask(ct__crc32c(zeros, 32)), 0x0FD7FFFAu);
}

/* Frames an encoder's payload and compares it with a golden record. */
static void expect_record(uint8_t *payload, size_t len, const uint8_t *golden, size_t n) {
    cr_assert_not_null(payload, "%s", ct_last_error());
    cr_assert_eq(len + 16, n, "record of %zu bytes, expected %zu", len + 16, n);
    uint8_t rec[256];
    ct__tfrecord_frame(payload, len, rec, rec + 12 + len);
    memcpy(rec + 12, payload, len);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(rec[i], golden[i], "byte %zu: %02x, expected %02x", i, rec[i], golden[i]);
    free(payload);
}

Test(events, golden_records) {
    size_t len = 0;
    uint8_t *a = ct__event_encode_version(1700000000.0, &len);
    expect_record(a, len, VEC_A, sizeof VEC_A);
    uint8_t *b = ct__event_encode_scalar("epoch_loss", 0.25, 3, 1700000000.5, &len);
    expect_record(b, len, VEC_B, sizeof VEC_B);
    /* The test's reader on the golden records. */
    event_t e;
    parse_event(&e, VEC_A + 12, 24);
    cr_assert_eq(e.wall_time, 1700000000.0);
    cr_assert_str_eq(e.file_version, "brain.Event:2");
    parse_event(&e, VEC_B + 12, 52);
    cr_assert_eq(e.step, 3);
    cr_assert_str_eq(e.v[0].tag, "epoch_loss");
    cr_assert_str_eq(e.v[0].plugin, "scalars");
    cr_assert_eq(e.v[0].dtype, 1);
    cr_assert_eq(e.v[0].rank, 0);
    parse_event(&e, VEC_C + 12, 26);
    cr_assert(e.v[0].has_simple);
    cr_assert_eq(e.v[0].simple, 0.25f);
}

static float content_f32(const value_t *v) {
    cr_assert_eq(v->content_len, 4);
    uint32_t b = (uint32_t)rd_le(v->content, 4);
    float f;
    memcpy(&f, &b, 4);
    return f;
}
static double content_f64(const value_t *v, int i) {
    uint64_t b = rd_le(v->content + 8 * i, 8);
    double d;
    memcpy(&d, &b, 8);
    return d;
}

Test(events, write_scalars_histogram_text, .fini = cleanup) {
    time_t t0 = time(NULL);
    ct_summary_writer *w = ct_summary_create_file_writer(tmp("logs/train"), NULL);
    CT_OK(w);
    const char *path = ct_summary_writer_path(w);
    cr_assert_str_eq(path, only_file(tmp("logs/train")));
    cr_assert_str_eq(ct_summary_writer_logdir(w), tmp("logs/train"));
    /* The name: events.out.tfevents.<%010d>.<host>.<pid>.<n>.v2 */
    const char *base = strrchr(path, '/') + 1;
    cr_assert_eq(strncmp(base, "events.out.tfevents.", 20), 0, "%s", base);
    const char *p = base + 20;
    for (int i = 0; i < 10; i++) cr_assert(p[i] >= '0' && p[i] <= '9', "%s", base);
    long long secs = atoll(p);
    cr_assert(secs >= t0 && secs <= time(NULL), "%s", base);
    char host[256] = "", tail[512];
    gethostname(host, sizeof host);
    for (char *c = host; *c; c++)
        if (*c == '/') *c = '_';
    snprintf(tail, sizeof tail, ".%s.%ld.", host, (long)getpid());
    cr_assert_eq(strncmp(p + 10, tail, strlen(tail)), 0, "%s (host %s)", base, host);
    const char *q = p + 10 + strlen(tail);
    cr_assert(*q >= '0' && *q <= '9', "%s", base);
    while (*q >= '0' && *q <= '9') q++;
    cr_assert_str_eq(q, ".v2");
    /* The first record is on disk already. */
    cr_assert_eq(file_size(path), 40);

    CT_STATUS_OK(ct_summary_scalar(w, "epoch_loss", 0.5, 0));
    CT_STATUS_OK(ct_summary_scalar(w, "epoch_loss", 0.25, 1));
    CT_STATUS_OK(ct_summary_scalar(w, "epoch_accuracy", 0.875, 1));
    CT_STATUS_OK(ct_summary_scalar(w, "big_step", -1.5, 1LL << 40));
    ct_tensor *x = CT_F32(CT_DIMS(2, 5), 0, 1, 2, 3, 4, 5, 6, 7, 8, 10);
    CT_STATUS_OK(ct_summary_histogram(w, "dense/kernel_0/histogram", x, 2, 0));
    CT_STATUS_OK(ct_summary_histogram(w, "h5", x, 3, 5));
    CT_STATUS_OK(ct_summary_text(w, "notes", "**hello** world", 4));
    CT_STATUS_OK(ct_summary_writer_close(w));
    CT_STATUS_OK(ct_summary_writer_close(w)); /* twice: harmless */
    CT_FAILS_STATUS(ct_summary_scalar(w, "x", 1, 0), "closed");
    ct_summary_writer_free(w);

    int n;
    event_t *ev = read_events(only_file(tmp("logs/train")), &n);
    cr_assert_eq(n, 8);
    cr_assert_str_eq(ev[0].file_version, "brain.Event:2");
    cr_assert_eq(ev[0].wall_time, (double)secs);
    cr_assert(!ev[0].has_summary);
    struct { const char *tag; int64_t step; float value; } sc[] = {
        {"epoch_loss", 0, 0.5f}, {"epoch_loss", 1, 0.25f}, {"epoch_accuracy", 1, 0.875f},
        {"big_step", 1LL << 40, -1.5f}};
    for (int i = 0; i < 4; i++) {
        const event_t *e = &ev[1 + i];
        cr_assert_eq(e->n, 1);
        cr_assert_str_eq(e->v[0].tag, sc[i].tag);
        cr_assert_eq(e->step, sc[i].step);
        cr_assert(e->wall_time >= (double)t0 && e->wall_time <= (double)time(NULL) + 1);
        cr_assert_str_eq(e->v[0].plugin, "scalars");
        cr_assert(e->v[0].has_tensor && !e->v[0].has_simple);
        cr_assert_eq(e->v[0].dtype, 1);
        cr_assert_eq(e->v[0].rank, 0);
        cr_assert_eq(content_f32(&e->v[0]), sc[i].value);
    }
    /* 30 buckets of width 1/3 over [0, 10]. */
    const value_t *h = &ev[5].v[0];
    cr_assert_str_eq(h->tag, "dense/kernel_0/histogram");
    cr_assert_eq(ev[5].step, 2);
    cr_assert_str_eq(h->plugin, "histograms");
    cr_assert_eq(h->dtype, 2);
    cr_assert_eq(h->rank, 2);
    cr_assert_eq(h->dims[0], 30);
    cr_assert_eq(h->dims[1], 3);
    cr_assert_eq(h->content_len, 30 * 3 * 8);
    double total = 0;
    for (int b = 0; b < 30; b++) {
        cr_assert_float_eq(content_f64(h, 3 * b), b * 10.0 / 30, 1e-12);
        cr_assert_float_eq(content_f64(h, 3 * b + 1), (b + 1) * 10.0 / 30, 1e-12);
        total += content_f64(h, 3 * b + 2);
    }
    cr_assert_eq(total, 10);
    cr_assert_eq(content_f64(h, 3 * 29 + 1), 10.0); /* exactly the max */
    cr_assert_eq(content_f64(h, 3 * 29 + 2), 1);    /* 10 in the last bucket */
    cr_assert_eq(content_f64(h, 2), 1);             /* 0 */
    /* 5 buckets of width 2: counts 2 2 2 2 2 (the max in the last). */
    const value_t *h5 = &ev[6].v[0];
    cr_assert_eq(h5->dims[0], 5);
    double want5[] = {0, 2, 2, 2, 4, 2, 4, 6, 2, 6, 8, 2, 8, 10, 2};
    for (int i = 0; i < 15; i++) cr_assert_eq(content_f64(h5, i), want5[i], "element %d", i);
    const value_t *t = &ev[7].v[0];
    cr_assert_str_eq(t->tag, "notes");
    cr_assert_eq(ev[7].step, 4);
    cr_assert_str_eq(t->plugin, "text");
    cr_assert_eq(t->dtype, 7);
    cr_assert_eq(t->rank, 0);
    cr_assert_eq(t->n_str, 1);
    cr_assert_str_eq(t->str, "**hello** world");
    free(ev);
}

Test(events, histogram_edge_cases, .fini = cleanup) {
    ct_summary_writer *w = ct_summary_create_file_writer(tmp("h"), NULL);
    CT_OK(w);
    ct_tensor *empty = ct_constant(NULL, CT_FLOAT32, CT_DIMS(1, 0));
    CT_STATUS_OK(ct_summary_histogram(w, "empty", empty, 0, 4));
    ct_tensor *same = CT_I32(CT_DIMS(3), 7, 7, 7);
    CT_STATUS_OK(ct_summary_histogram(w, "same", same, 0, 4));
    CT_STATUS_OK(ct_summary_writer_close(w));
    ct_summary_writer_free(w);
    int n;
    event_t *ev = read_events(only_file(tmp("h")), &n);
    cr_assert_eq(n, 3);
    cr_assert_eq(ev[1].v[0].content_len, 4 * 3 * 8);
    for (int i = 0; i < 12; i++) cr_assert_eq(content_f64(&ev[1].v[0], i), 0);
    double want[] = {7, 7, 3, 7, 7, 0, 7, 7, 0, 7, 7, 0};
    for (int i = 0; i < 12; i++) cr_assert_eq(content_f64(&ev[2].v[0], i), want[i]);
    free(ev);
}

Test(events, queue_and_flush, .fini = cleanup) {
    /* max_queue 2: written when a third event is pending. */
    ct_summary_writer *w = ct_summary_create_file_writer(
        tmp("q"), &(ct_summary_writer_opts){.max_queue = 2, .flush_millis = -1,
                                            .filename_suffix = "mine"});
    CT_OK(w);
    char path[1024];
    snprintf(path, sizeof path, "%s", ct_summary_writer_path(w));
    cr_assert(strstr(path, ".mine") && !strstr(path, ".v2"), "%s", path);
    cr_assert_eq(file_size(path), 40);
    CT_STATUS_OK(ct_summary_scalar(w, "a", 1, 0));
    CT_STATUS_OK(ct_summary_scalar(w, "a", 2, 1));
    cr_assert_eq(file_size(path), 40);
    CT_STATUS_OK(ct_summary_scalar(w, "a", 3, 2));
    long three = file_size(path);
    cr_assert_gt(three, 40);
    CT_STATUS_OK(ct_summary_scalar(w, "a", 4, 3));
    cr_assert_eq(file_size(path), three);
    CT_STATUS_OK(ct_summary_flush(w));
    cr_assert_gt(file_size(path), three);
    ct_summary_writer_free(w); /* closes */
    int n;
    event_t *ev = read_events(path, &n);
    cr_assert_eq(n, 5);
    free(ev);

    /* max_queue < 0: every event at once; "" suffix: none. Two writers
     * of one process get different counters. */
    ct_summary_writer *a = ct_summary_create_file_writer(
        tmp("q2"), &(ct_summary_writer_opts){.max_queue = -1, .filename_suffix = ""});
    ct_summary_writer *b = ct_summary_create_file_writer(tmp("q2"), NULL);
    CT_OK(a);
    CT_OK(b);
    cr_assert_str_neq(ct_summary_writer_path(a), ct_summary_writer_path(b));
    char last = ct_summary_writer_path(a)[strlen(ct_summary_writer_path(a)) - 1];
    cr_assert(last >= '0' && last <= '9');
    CT_STATUS_OK(ct_summary_scalar(a, "a", 1, 0));
    cr_assert_gt(file_size(ct_summary_writer_path(a)), 40);
    ct_summary_writer_free(a);
    ct_summary_writer_free(b);
}

Test(events, errors, .fini = cleanup) {
    CT_FAILS(ct_summary_create_file_writer(NULL, NULL), "logdir is NULL");
    CT_FAILS(ct_summary_create_file_writer("", NULL), "logdir is empty");
    FILE *f = fopen(tmp("plain_file"), "w");
    cr_assert_not_null(f);
    fclose(f);
    CT_FAILS(ct_summary_create_file_writer(tmp("plain_file"), NULL), "not a directory");
    CT_FAILS(ct_summary_create_file_writer(tmp("plain_file/sub"), NULL), "plain_file/sub");
    CT_FAILS(ct_summary_create_file_writer(
                 tmp("d"), &(ct_summary_writer_opts){.filename_suffix = "a/b"}),
             "filename_suffix");
    CT_FAILS_STATUS(ct_summary_scalar(NULL, "x", 1, 0), "writer is NULL");
    CT_FAILS_STATUS(ct_summary_flush(NULL), "writer is NULL");
    CT_FAILS_STATUS(ct_summary_writer_close(NULL), "writer is NULL");
    ct_summary_writer_free(NULL);

    ct_summary_writer *w = ct_summary_create_file_writer(tmp("d"), NULL);
    CT_OK(w);
    CT_FAILS_STATUS(ct_summary_scalar(w, NULL, 1, 0), "tag is NULL");
    CT_FAILS_STATUS(ct_summary_scalar(w, "", 1, 0), "tag is empty");
    CT_FAILS_STATUS(ct_summary_scalar(w, "a\nb", 1, 0), "control character");
    CT_FAILS_STATUS(ct_summary_text(w, "t", NULL, 0), "text is NULL");
    CT_FAILS_STATUS(ct_summary_histogram(w, "h", NULL, 0, 0), "values is NULL");
    ct_tensor *x = CT_F64(CT_DIMS(3), 1, NAN, 2);
    CT_FAILS_STATUS(ct_summary_histogram(w, "h", x, 0, 0), "element 1 of 3 is NaN");
    ct_tensor *y = CT_F32(CT_DIMS(2), -INFINITY, 2);
    CT_FAILS_STATUS(ct_summary_histogram(w, "h", y, 0, 0), "element 0 of 2 is -inf");
    CT_FAILS_STATUS(ct_summary_histogram(w, "h", y, 0, -1), "buckets is -1");
    /* A non-finite scalar is written, as TF writes a NaN loss. */
    CT_STATUS_OK(ct_summary_scalar(w, "nan_loss", NAN, 0));
    const char *path = only_file(tmp("d"));
    CT_STATUS_OK(ct_summary_writer_close(w));
    ct_summary_writer_free(w);
    int n;
    event_t *ev = read_events(path, &n);
    cr_assert_eq(n, 2); /* nothing of the failed calls */
    cr_assert(isnan(content_f32(&ev[1].v[0])));
    free(ev);
}

/* A write that fails (the file size limit) is an error naming the file,
 * and every later call reports it. Criterion runs each test in its own
 * process, so the limit stays here. */
Test(events, failed_write_is_reported, .fini = cleanup) {
    ct_summary_writer *w = ct_summary_create_file_writer(
        tmp("full"), &(ct_summary_writer_opts){.max_queue = -1});
    CT_OK(w);
    char path[1024];
    snprintf(path, sizeof path, "%s", ct_summary_writer_path(w));
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {.rlim_cur = 100, .rlim_max = RLIM_INFINITY};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    ct_status st = CT_OK;
    for (int i = 0; i < 10 && !st; i++) st = ct_summary_scalar(w, "loss", i, i);
    cr_assert_neq(st, CT_OK, "no write failed");
    cr_assert(strstr(ct_last_error(), path), "%s", ct_last_error());
    cr_assert(strstr(ct_last_error(), "failed"), "%s", ct_last_error());
    CT_FAILS_STATUS(ct_summary_scalar(w, "loss", 1, 100), "failed earlier");
    CT_FAILS_STATUS(ct_summary_flush(w), path);
    CT_FAILS_STATUS(ct_summary_writer_close(w), path);
    ct_summary_writer_free(w);
    rl.rlim_cur = RLIM_INFINITY;
    setrlimit(RLIMIT_FSIZE, &rl);
}

#define N_THREADS 4
#define N_STEPS 300

static void *thread_main(void *arg) {
    ct_summary_writer *w = ((void **)arg)[0];
    int id = (int)(intptr_t)((void **)arg)[1];
    char tag[32];
    snprintf(tag, sizeof tag, "thread_%d/loss", id);
    for (int s = 0; s < N_STEPS; s++) {
        if (ct_summary_scalar(w, tag, id * 1000 + s, s) != CT_OK) return (void *)1;
        if (s % 50 == 0 && ct_summary_flush(w) != CT_OK) return (void *)1;
    }
    return NULL;
}

Test(events, threads, .fini = cleanup) {
    ct_summary_writer *w = ct_summary_create_file_writer(
        tmp("mt"), &(ct_summary_writer_opts){.max_queue = 3, .flush_millis = 1});
    CT_OK(w);
    pthread_t th[N_THREADS];
    void *args[N_THREADS][2];
    for (int i = 0; i < N_THREADS; i++) {
        args[i][0] = w;
        args[i][1] = (void *)(intptr_t)i;
        cr_assert_eq(pthread_create(&th[i], NULL, thread_main, args[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++) {
        void *r;
        pthread_join(th[i], &r);
        cr_assert_null(r, "thread %d failed", i);
    }
    CT_STATUS_OK(ct_summary_writer_close(w));
    const char *path = only_file(tmp("mt"));
    ct_summary_writer_free(w);
    int n;
    event_t *ev = read_events(path, &n); /* every CRC checked */
    cr_assert_eq(n, 1 + N_THREADS * N_STEPS);
    int next[N_THREADS] = {0};
    for (int i = 1; i < n; i++) {
        int id;
        cr_assert_eq(sscanf(ev[i].v[0].tag, "thread_%d/loss", &id), 1);
        cr_assert(id >= 0 && id < N_THREADS);
        /* One thread's events stay in its order. */
        cr_assert_eq(ev[i].step, next[id], "thread %d: step %lld, expected %d", id,
                     (long long)ev[i].step, next[id]);
        cr_assert_eq(content_f32(&ev[i].v[0]), (float)(id * 1000 + next[id]));
        next[id]++;
    }
    for (int i = 0; i < N_THREADS; i++) cr_assert_eq(next[i], N_STEPS);
    free(ev);
}

/* ---- the reader tool ---------------------------------------------------------------- */

/* Runs ct_tb_scalars; its stdout into out (NUL-terminated), exit status back. */
static int run_tool(const char *args, char *out, size_t cap) {
    /* Under the sanitizers a report must not pass for the tool's own exit
     * status 1 (ASan's default). */
    static bool env_set;
    if (!env_set) {
        const char *old = getenv("ASAN_OPTIONS");
        char env[1024];
        snprintf(env, sizeof env, "%s%sexitcode=99", old ? old : "", old && *old ? ":" : "");
        setenv("ASAN_OPTIONS", env, 1);
        env_set = true;
    }
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>%s", CT_TB_SCALARS_PATH, args, tmp("stderr.txt"));
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    cr_assert(WIFEXITED(st), "%s did not exit", cmd);
    return WEXITSTATUS(st);
}

static void read_text(const char *path, char *out, size_t cap) {
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = 0;
    fclose(f);
}

Test(events, tb_scalars_tool, .fini = cleanup) {
    ct_summary_writer *train = ct_summary_create_file_writer(tmp("run/train"), NULL);
    ct_summary_writer *val = ct_summary_create_file_writer(tmp("run/validation"), NULL);
    CT_OK(train);
    CT_OK(val);
    for (int e = 0; e < 3; e++) {
        CT_STATUS_OK(ct_summary_scalar(train, "epoch_loss", 1.0 / (1 << e), e));
        CT_STATUS_OK(ct_summary_scalar(val, "epoch_loss", 1.5 / (1 << e), e));
    }
    ct_tensor *x = CT_F32(CT_DIMS(2), 1, 2);
    CT_STATUS_OK(ct_summary_histogram(train, "w/histogram", x, 0, 0)); /* not a scalar */
    CT_STATUS_OK(ct_summary_text(train, "note", "text, not a scalar", 0));
    CT_STATUS_OK(ct_summary_writer_close(train));
    CT_STATUS_OK(ct_summary_writer_close(val));
    char tpath[1024];
    snprintf(tpath, sizeof tpath, "%s", ct_summary_writer_path(train));
    ct_summary_writer_free(train);
    ct_summary_writer_free(val);
    /* A TF 1 file (the spec's vector C) in the log directory itself. */
    FILE *f = fopen(tmp("run/events.out.tfevents.1700000000.tf1"), "wb");
    cr_assert_not_null(f);
    fwrite(VEC_A, 1, sizeof VEC_A, f);
    fwrite(VEC_C, 1, sizeof VEC_C, f);
    fclose(f);

    char out[8192], args[1024];
    snprintf(args, sizeof args, "'%s'", tmp("run"));
    cr_assert_eq(run_tool(args, out, sizeof out), 0);
    cr_assert_str_eq(out, ". loss 3 0.25\n"
                          "train epoch_loss 0 1\n"
                          "train epoch_loss 1 0.5\n"
                          "train epoch_loss 2 0.25\n"
                          "validation epoch_loss 0 1.5\n"
                          "validation epoch_loss 1 0.75\n"
                          "validation epoch_loss 2 0.375\n");
    snprintf(args, sizeof args, "--csv '%s/'", tmp("run"));
    cr_assert_eq(run_tool(args, out, sizeof out), 0);
    cr_assert_eq(strncmp(out, "run,tag,step,wall_time,value\n.,loss,3,1700000000.500000,0.25\n"
                              "train,epoch_loss,0,", 79), 0, "%s", out);
    cr_assert(strstr(out, "\nvalidation,epoch_loss,2,"), "%s", out);
    cr_assert(strstr(out, ",0.375\n"), "%s", out);

    /* A truncated last record: an error, unless allowed. */
    FILE *g = fopen(tpath, "ab");
    cr_assert_not_null(g);
    fwrite(VEC_B, 1, 30, g);
    fclose(g);
    snprintf(args, sizeof args, "'%s'", tmp("run"));
    cr_assert_eq(run_tool(args, out, sizeof out), 1);
    char err[4096];
    read_text(tmp("stderr.txt"), err, sizeof err);
    cr_assert(strstr(err, "truncated"), "%s", err);
    snprintf(args, sizeof args, "--allow-truncated-tail '%s'", tmp("run"));
    cr_assert_eq(run_tool(args, out, sizeof out), 0);
    cr_assert(strstr(out, "train epoch_loss 2 0.25\n"), "%s", out);

    /* A flipped byte inside a record: a CRC error naming the file; the
     * records before it are still printed. */
    cr_assert_eq(truncate(tpath, file_size(tpath) - 30), 0);
    FILE *h = fopen(tpath, "r+b");
    cr_assert_not_null(h);
    fseek(h, 40 + 30, SEEK_SET); /* inside the second record's payload */
    int c = fgetc(h);
    fseek(h, 40 + 30, SEEK_SET);
    fputc(c ^ 0x40, h);
    fclose(h);
    snprintf(args, sizeof args, "'%s'", tmp("run"));
    cr_assert_eq(run_tool(args, out, sizeof out), 1);
    read_text(tmp("stderr.txt"), err, sizeof err);
    cr_assert(strstr(err, "CRC") && strstr(err, tpath), "%s", err);
    cr_assert(!strstr(out, "train epoch_loss"), "%s", out); /* the first value is record 1 */
    cr_assert(strstr(out, "validation epoch_loss 2 0.375\n"), "%s", out);

    snprintf(args, sizeof args, "'%s'", tmp("does_not_exist"));
    cr_assert_eq(run_tool(args, out, sizeof out), 2);
}

/* ---- the Keras TensorBoard callback ------------------------------------------------ */

/* fit with TensorBoard(log_dir, histogram_freq=1, update_freq=2) and
 * validation data: train/ holds the model's config as text (step 0),
 * epoch_<metric> and epoch_learning_rate per epoch, batch_<metric> every
 * 2 batches at the global batch number, and every weight's histogram per
 * epoch; validation/ holds the val_ metrics without the prefix. The
 * values are the history's (as float32). */
Test(events, keras_tensorboard_callback) {
    enum { N = 32, EPOCHS = 3 };
    float xv[N * 3], yv[N];
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < 3; j++) xv[3 * i + j] = (float)sin(0.3 * i + j);
        yv[i] = xv[3 * i] - 0.5f * xv[3 * i + 2];
    }
    ct_tensor *x = ct_constant(xv, CT_FLOAT32, CT_DIMS(N, 3));
    ct_tensor *y = ct_constant(yv, CT_FLOAT32, CT_DIMS(N, 1));
    ct_model *m = ct_sequential_new("tb_net");
    CT_STATUS_OK(ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 4, \"activation\": "
                                                          "\"relu\", \"input_shape\": [3]}")));
    CT_STATUS_OK(ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 1}")));
    CT_STATUS_OK(ct_model_compile(m, &(ct_compile_opts){.optimizer = "adam", .loss = "mse"}));
    char cfg[600];
    snprintf(cfg, sizeof cfg, "{\"log_dir\": \"%s\", \"histogram_freq\": 1, \"update_freq\": 2}",
             tmp("tb"));
    ct_callback *cb = ct_callback_new("TensorBoard", cfg);
    cr_assert_not_null(cb, "%s", ct_last_error());
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.x = x, .y = y, .val_x = x, .val_y = y,
                                                  .batch_size = 8, .epochs = EPOCHS,
                                                  .ncallbacks = 1, .callbacks = &cb,
                                                  .verbose = CT_VERBOSE_SILENT});
    cr_assert_not_null(h, "%s", ct_last_error());

    int n;
    event_t *ev = read_events(only_file(tmp("tb/train")), &n);
    cr_assert_str_eq(ev[0].file_version, "brain.Event:2");
    int config = 0, epochs = 0, lrs = 0, batches = 0, hists = 0;
    for (int i = 1; i < n; i++) {
        cr_assert(ev[i].has_summary);
        for (int k = 0; k < ev[i].n; k++) {
            const value_t *v = &ev[i].v[k];
            if (!strcmp(v->tag, "keras")) {
                cr_expect_str_eq(v->plugin, "graph_keras_model"); /* keras_model_summary */
                cr_expect_eq(ev[i].step, 0);
                cr_expect(strstr(v->str, "\"Sequential\"") && v->str_len > 100, "%s", v->str);
                config++;
            } else if (!strcmp(v->tag, "epoch_loss")) {
                cr_expect_eq(content_f32(v), (float)ct_history_value(h, "loss", (int)ev[i].step),
                             "epoch %lld", (long long)ev[i].step);
                epochs++;
            } else if (!strcmp(v->tag, "epoch_learning_rate")) {
                cr_expect_eq(content_f32(v), 0.001f);
                lrs++;
            } else if (!strcmp(v->tag, "batch_loss")) {
                cr_expect_eq(ev[i].step % 2, 0, "batch_loss at step %lld", (long long)ev[i].step);
                batches++;
            } else if (strstr(v->tag, "_0/histogram")) {
                cr_expect_str_eq(v->plugin, "histograms");
                hists++;
            }
        }
    }
    free(ev);
    cr_expect_eq(config, 1);
    cr_expect_eq(epochs, EPOCHS);
    cr_expect_eq(lrs, EPOCHS);
    cr_expect_eq(batches, EPOCHS * (N / 8) / 2, "%d batch_loss values", batches);
    cr_expect_eq(hists, EPOCHS * 4, "%d histograms (4 weights x 3 epochs)", hists);

    ev = read_events(only_file(tmp("tb/validation")), &n);
    int vals = 0, evals = 0;
    for (int i = 1; i < n; i++)
        for (int k = 0; k < ev[i].n; k++) {
            const value_t *v = &ev[i].v[k];
            cr_expect_neq(strncmp(v->tag, "epoch_val_", 10), 0, "%s", v->tag);
            if (!strcmp(v->tag, "epoch_loss")) {
                cr_expect_eq(content_f32(v),
                             (float)ct_history_value(h, "val_loss", (int)ev[i].step));
                vals++;
            } else if (!strcmp(v->tag, "evaluation_loss_vs_iterations")) {
                /* At the optimizer's iterations: 4 batches an epoch. */
                cr_expect_eq(ev[i].step % 4, 0, "at step %lld", (long long)ev[i].step);
                cr_expect_eq(content_f32(v), (float)ct_history_value(h, "val_loss",
                                                                     (int)ev[i].step / 4 - 1));
                evals++;
            }
        }
    free(ev);
    cr_expect_eq(vals, EPOCHS);
    cr_expect_eq(evals, EPOCHS);

    /* evaluate with the callback: one more, in a new file (fit closed
     * the writers), at the iterations fit ended with. */
    char first[1024];
    snprintf(first, sizeof first, "%s", only_file(tmp("tb/validation")));
    ct_logs *res = NULL;
    CT_STATUS_OK(ct_model_evaluate(m, &(ct_eval_opts){.x = x, .y = y, .batch_size = 8,
                                                      .verbose = CT_VERBOSE_SILENT,
                                                      .ncallbacks = 1, .callbacks = &cb},
                                   &res));
    DIR *d = opendir(tmp("tb/validation"));
    cr_assert_not_null(d);
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d))) {
        if (!strstr(de->d_name, "tfevents")) continue;
        files++;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", tmp("tb/validation"), de->d_name);
        if (!strcmp(path, first)) continue;
        ev = read_events(path, &n);
        cr_assert_eq(n, 2, "%d records in evaluate's file", n);
        cr_expect_str_eq(ev[1].v[0].tag, "evaluation_loss_vs_iterations");
        cr_expect_eq(ev[1].step, EPOCHS * N / 8);
        cr_expect_eq(content_f32(&ev[1].v[0]), (float)ct_logs_get(res, "loss", NULL));
        free(ev);
    }
    closedir(d);
    cr_expect_eq(files, 2);
    ct_logs_free(res);
    ct_history_free(h);
    ct_callback_free(cb);
    ct_model_free(m);
}

/* ---- images ---------------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decodes a PNG as the PNG specification reads it: the signature, each
 * chunk's CRC-32, IHDR (8-bit, non-interlaced, of the color type of
 * `channels`), the IDAT chunks joined and inflated, each row's filter
 * type (0, none, is what ctrain writes). The pixels into out. */
static void decode_png(const uint8_t *p, size_t n, int64_t w, int64_t h, int channels,
                       uint8_t *out) {
    static const uint8_t color_type[5] = {0, 0, 4, 2, 6};
    cr_assert_geq(n, 8 + 25 + 12);
    cr_assert_eq(memcmp(p, "\x89PNG\r\n\x1a\n", 8), 0, "no PNG signature");
    uint8_t idat[8192];
    size_t idat_len = 0, at = 8;
    bool ihdr = false, iend = false;
    while (at < n) {
        cr_assert_leq(at + 12, n, "a torn chunk");
        uint32_t len = be32(p + at);
        cr_assert_leq(at + 12 + len, n, "a torn chunk");
        const uint8_t *type = p + at + 4, *data = p + at + 8;
        cr_assert_eq(be32(data + len), (uint32_t)crc32(0, type, len + 4), "chunk %.4s: CRC",
                     (const char *)type);
        if (!memcmp(type, "IHDR", 4)) {
            cr_assert_eq(len, 13);
            cr_expect_eq(be32(data), (uint32_t)w);
            cr_expect_eq(be32(data + 4), (uint32_t)h);
            cr_expect_eq(data[8], 8, "bit depth");
            cr_expect_eq(data[9], color_type[channels], "color type");
            cr_expect_eq(data[12], 0, "interlace");
            ihdr = true;
        } else if (!memcmp(type, "IDAT", 4)) {
            cr_assert(ihdr, "IDAT before IHDR");
            cr_assert_leq(idat_len + len, sizeof idat);
            memcpy(idat + idat_len, data, len);
            idat_len += len;
        } else if (!memcmp(type, "IEND", 4)) {
            iend = true;
        }
        at += 12 + len;
    }
    cr_assert(iend, "no IEND");
    uint8_t raw[8192];
    uLongf raw_len = sizeof raw;
    cr_assert_eq(uncompress(raw, &raw_len, idat, idat_len), Z_OK, "IDAT does not inflate");
    size_t row = (size_t)(w * channels);
    cr_assert_eq(raw_len, (uLongf)h * (row + 1));
    for (int64_t y = 0; y < h; y++) {
        cr_assert_eq(raw[y * (row + 1)], 0, "row %lld: filter %d", (long long)y,
                     raw[y * (row + 1)]);
        memcpy(out + y * row, raw + y * (row + 1) + 1, row);
    }
}

/* One image event: plugin, the [2 + k] string tensor, and each PNG's
 * pixels against want (k images of h x w x c, in order). */
static void expect_images(const event_t *e, const char *tag, int64_t step, int64_t k, int64_t h,
                          int64_t w, int c, const uint8_t *want) {
    cr_assert_eq(e->n, 1);
    const value_t *v = &e->v[0];
    cr_expect_str_eq(v->tag, tag);
    cr_expect_eq(e->step, step);
    cr_expect_str_eq(v->plugin, "images");
    cr_expect_eq(v->dtype, 7, "DT_STRING");
    cr_assert_eq(v->rank, 1);
    cr_assert_eq(v->dims[0], 2 + k);
    cr_assert_eq(v->n_str, 2 + k);
    char dim[24];
    snprintf(dim, sizeof dim, "%lld", (long long)w);
    cr_expect(v->str_lens[0] == strlen(dim) && !memcmp(v->strs, dim, strlen(dim)), "width");
    snprintf(dim, sizeof dim, "%lld", (long long)h);
    cr_expect(v->str_lens[1] == strlen(dim) && !memcmp(v->strs + v->str_at[1], dim, strlen(dim)),
              "height");
    uint8_t px[1024];
    for (int64_t i = 0; i < k; i++) {
        decode_png(v->strs + v->str_at[2 + i], v->str_lens[2 + i], w, h, c, px);
        for (int64_t j = 0; j < h * w * c; j++)
            cr_expect_eq(px[j], want[i * h * w * c + j], "image %lld, sample %lld: %d, not %d",
                         (long long)i, (long long)j, px[j], want[i * h * w * c + j]);
    }
}

Test(events, image_summaries, .fini = cleanup) {
    ct_summary_writer *w = ct_summary_create_file_writer(tmp("img"), NULL);
    CT_OK(w);
    /* uint8 RGB, written as given. */
    uint8_t rgb[2 * 2 * 3 * 3];
    for (int i = 0; i < (int)sizeof rgb; i++) rgb[i] = (uint8_t)(i * 37 + 5);
    ct_tensor *t = ct_constant(rgb, CT_UINT8, 4, (int64_t[]){2, 2, 3, 3});
    CT_STATUS_OK(ct_summary_image(w, "rgb", t, 4, 0));
    /* Floats, as tf.image.convert_image_dtype(saturate=True): x * 255.5,
     * clipped, truncated; NaN 0. Five images, the first 3 kept. */
    float f[5 * 2] = {-0.5f, 0.0f, 0.5f, 1.0f, 2.0f, NAN, 0.999f, 0.001f, 0.25f, 0.75f};
    const uint8_t fwant[6] = {0, 0, 127, 255, 255, 0};
    t = ct_constant(f, CT_FLOAT32, 4, (int64_t[]){5, 1, 2, 1});
    CT_STATUS_OK(ct_summary_image(w, "gray", t, 5, 0));
    /* float64, gray and alpha; max_outputs 1. */
    double ga[2 * 2] = {0.2, 1.0, 0.8, 0.0};
    const uint8_t gawant[2] = {51, 255};
    t = ct_constant(ga, CT_FLOAT64, 4, (int64_t[]){2, 1, 1, 2});
    CT_STATUS_OK(ct_summary_image(w, "gray_alpha", t, 6, 1));
    /* No images: the width and height only. */
    t = ct_constant(NULL, CT_FLOAT32, 4, (int64_t[]){0, 3, 2, 4});
    CT_STATUS_OK(ct_summary_image(w, "none", t, 7, 0));
    /* Errors name the tag and what was wrong, and write nothing. */
    t = ct_constant(rgb, CT_UINT8, 3, (int64_t[]){4, 3, 3});
    cr_expect_neq(ct_summary_image(w, "bad", t, 0, 0), CT_OK);
    cr_expect(strstr(ct_last_error(), "'bad'") && strstr(ct_last_error(), "[4,3,3]"), "%s",
              ct_last_error());
    t = ct_constant(rgb, CT_UINT8, 4, (int64_t[]){1, 1, 4, 5});
    cr_expect_neq(ct_summary_image(w, "bad", t, 0, 0), CT_OK);
    cr_expect(strstr(ct_last_error(), "1 to 4 channels"), "%s", ct_last_error());
    t = ct_constant(NULL, CT_INT32, 4, (int64_t[]){1, 2, 2, 1});
    cr_expect_neq(ct_summary_image(w, "bad", t, 0, 0), CT_OK);
    cr_expect(strstr(ct_last_error(), "int32"), "%s", ct_last_error());
    t = ct_constant(NULL, CT_UINT8, 4, (int64_t[]){1, 0, 2, 1});
    cr_expect_neq(ct_summary_image(w, "bad", t, 0, 0), CT_OK);
    cr_expect(strstr(ct_last_error(), "0 x 2 pixels"), "%s", ct_last_error());
    cr_expect_neq(ct_summary_image(w, "bad", t, 0, -1), CT_OK);
    cr_expect(strstr(ct_last_error(), "max_outputs"), "%s", ct_last_error());
    cr_expect_neq(ct_summary_image(w, "bad", NULL, 0, 0), CT_OK);
    CT_STATUS_OK(ct_summary_writer_close(w));
    char path[1024];
    snprintf(path, sizeof path, "%s", ct_summary_writer_path(w));
    ct_summary_writer_free(w);

    int n;
    event_t *ev = read_events(path, &n);
    cr_assert_eq(n, 5, "%d records: the version and 4 images", n);
    expect_images(&ev[1], "rgb", 4, 2, 2, 3, 3, rgb);
    expect_images(&ev[2], "gray", 5, 3, 1, 2, 1, fwant);
    expect_images(&ev[3], "gray_alpha", 6, 1, 1, 1, 2, gawant);
    expect_images(&ev[4], "none", 7, 0, 3, 2, 4, NULL);
    free(ev);
}

/* write_images: the weights as tf.keras 2 draws them. Dense(4) on 3
 * inputs: its kernel [3, 4] one image 3 high and 4 wide, its bias [4] one
 * 4 x 1; Dense(2): its kernel [4, 2] transposed, 2 x 4, its bias 2 x 1;
 * Dense(1): its kernel [2, 1] a vector (2 x 1), its bias [1] a scalar (no
 * image). */
static void saturated(const ct_variable *v, uint8_t *out, bool transpose) {
    const ct_tensor *t = ct_variable_value((ct_variable *)v);
    int64_t r = ct_tensor_dim(t, 0), c = ct_tensor_dim(t, 1);
    float k[64];
    CT_STATUS_OK(ct_tensor_read(t, CT_FLOAT32, k, 64));
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++) {
            float x = k[i * c + j] * 255.5f;
            out[transpose ? j * r + i : i * c + j] = x >= 255 ? 255 : x > 0 ? (uint8_t)x : 0;
        }
}

Test(events, keras_tensorboard_write_images, .fini = cleanup) {
    ct_model *m = ct_sequential_new("img_net");
    CT_STATUS_OK(ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 4, \"input_shape\": [3]}")));
    CT_STATUS_OK(ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 2}")));
    CT_STATUS_OK(ct_sequential_add(m, ct_layer_new("Dense", "{\"units\": 1}")));
    CT_STATUS_OK(ct_model_compile(m, &(ct_compile_opts){.optimizer = "sgd", .loss = "mse"}));
    char cfg[600];
    snprintf(cfg, sizeof cfg,
             "{\"log_dir\": \"%s\", \"histogram_freq\": 2, \"write_images\": true, "
             "\"write_graph\": false}",
             tmp("tbi"));
    ct_callback *cb = ct_callback_new("TensorBoard", cfg);
    CT_OK(cb);
    ct_tensor *x = ct_constant(NULL, CT_FLOAT32, 2, (int64_t[]){8, 3});
    ct_tensor *y = ct_constant(NULL, CT_FLOAT32, 2, (int64_t[]){8, 1});
    ct_history *h = ct_model_fit(m, &(ct_fit_opts){.x = x, .y = y, .batch_size = 8, .epochs = 3,
                                                  .ncallbacks = 1, .callbacks = &cb,
                                                  .verbose = CT_VERBOSE_SILENT});
    CT_OK(h);
    /* The weights drawn, each image's height and width, and the last
     * epoch's pixels of the two kernels that are matrices. */
    ct_layer *d0 = ct_model_layer_at(m, 0), *d1 = ct_model_layer_at(m, 1);
    uint8_t k0[12], k1[8];
    saturated(ct_layer_weight(d0, 0), k0, false);
    saturated(ct_layer_weight(d1, 0), k1, true);
    const struct {
        const ct_variable *v;
        int64_t h, w;
        const uint8_t *pixels;
    } want[5] = {{ct_layer_weight(d0, 0), 3, 4, k0},
                 {ct_layer_weight(d0, 1), 4, 1, NULL},
                 {ct_layer_weight(d1, 0), 2, 4, k1},
                 {ct_layer_weight(d1, 1), 2, 1, NULL},
                 {ct_layer_weight(ct_model_layer_at(m, 2), 0), 2, 1, NULL}};
    int n, seen[5] = {0};
    event_t *ev = read_events(only_file(tmp("tbi/train")), &n);
    for (int i = 1; i < n; i++) {
        const value_t *v = &ev[i].v[0];
        if (strcmp(v->plugin, "images")) continue;
        cr_expect(ev[i].step == 0 || ev[i].step == 2, "an image at epoch %lld",
                  (long long)ev[i].step);
        int k = 0;
        char tag[300] = "";
        for (; k < 5; k++) {
            snprintf(tag, sizeof tag, "%s_0/image", ct_variable_name(want[k].v));
            if (!strcmp(v->tag, tag)) break;
        }
        cr_assert_lt(k, 5, "an image of %s", v->tag);
        seen[k]++;
        if (ev[i].step == 2 && want[k].pixels) {
            expect_images(&ev[i], tag, 2, 1, want[k].h, want[k].w, 1, want[k].pixels);
        } else {
            char dims[32];
            snprintf(dims, sizeof dims, "%lld%lld", (long long)want[k].w, (long long)want[k].h);
            cr_expect(v->str_lens[0] == 1 && v->str_lens[1] == 1 && v->strs[0] == dims[0] &&
                          v->strs[v->str_at[1]] == dims[1],
                      "%s: not %lld wide and %lld high", tag, (long long)want[k].w,
                      (long long)want[k].h);
        }
    }
    for (int k = 0; k < 5; k++)
        cr_expect_eq(seen[k], 2, "%s: %d images, not one at epochs 0 and 2",
                     ct_variable_name(want[k].v), seen[k]);
    free(ev);
    ct_history_free(h);
    ct_callback_free(cb);
    ct_model_free(m);
}

Test(events, keras_tensorboard_callback_errors) {
    cr_expect_null(ct_callback_new("TensorBoard", "{\"update_freq\": 0}"));
    cr_expect(strstr(ct_last_error(), "update_freq"), "%s", ct_last_error());
    cr_expect_null(ct_callback_new("TensorBoard", "{\"histogram_freq\": -1}"));
    cr_expect(strstr(ct_last_error(), "histogram_freq"), "%s", ct_last_error());
    cr_expect_null(ct_callback_new("TensorBoard", "{\"profile_batch\": [2, 4]}"));
    cr_expect(strstr(ct_last_error(), "profile_batch"), "%s", ct_last_error());
    cr_expect_null(ct_callback_new("TensorBoard", "{\"write_images\": 1}"));
    cr_expect(strstr(ct_last_error(), "write_images"), "%s", ct_last_error());
    ct_callback *cb = ct_callback_new("TensorBoard", "{\"update_freq\": \"batch\"}");
    cr_expect_not_null(cb, "%s", ct_last_error());
    ct_callback_free(cb);
}
