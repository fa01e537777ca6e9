/*
 * ct_tb_scalars: the scalars of TensorBoard event files, as text.
 *
 *     ct_tb_scalars [--csv] [--allow-truncated-tail] LOGDIR
 *
 * Reads every event file (a name containing "tfevents") under LOGDIR,
 * recursively, in sorted path order as TensorBoard does, checks every
 * record's CRCs, and prints one line per scalar value:
 *
 *     <run> <tag> <step> <value>                    (default)
 *     run,tag,step,wall_time,value                  (--csv, with this header)
 *
 * The run is the file's directory relative to LOGDIR ("." for LOGDIR
 * itself), e.g. "train" and "validation" for the Keras callback's layout.
 * Scalars are TF 1 simple_value and TF 2 one-element numeric tensors of
 * plugin "scalars" (the metadata need only come with a tag's first value).
 * A corrupt record, a record that is not an Event, or a truncated last
 * record (unless --allow-truncated-tail: a writer that crashed leaves one,
 * and TensorBoard ignores it) is reported on stderr and makes the exit
 * status 1; the rest of that file is skipped, as TensorBoard skips it.
 * Exit status 2: bad usage or LOGDIR cannot be read.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctrain/ctrain.h"
#include "data/tfrecord.h"
#include "proto/event.pb-c.h"

typedef struct {
    char **v;
    size_t n, cap;
} strvec;

static void push(strvec *s, char *p) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) {
            fprintf(stderr, "ct_tb_scalars: out of memory\n");
            exit(2);
        }
    }
    s->v[s->n++] = p;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Event files under dir, recursively; false when dir cannot be read. */
static bool collect(const char *dir, strvec *out) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "ct_tb_scalars: cannot read directory '%s'\n", dir);
        return false;
    }
    bool ok = true;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char *p = NULL;
        if (asprintf(&p, "%s/%s", dir, de->d_name) < 0) exit(2);
        struct stat sb;
        if (stat(p, &sb) != 0) {
            free(p);
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            ok = collect(p, out) && ok;
            free(p);
        } else if (S_ISREG(sb.st_mode) && strstr(de->d_name, "tfevents")) {
            push(out, p);
        } else {
            free(p);
        }
    }
    closedir(d);
    return ok;
}

/* (run, tag) pairs known to be scalars: a TF 2 value's metadata may come
 * with the tag's first value only. */
static strvec scalar_keys;

static char *key_of(const char *run, const char *tag) {
    char *k = NULL;
    if (asprintf(&k, "%s%c%s", run, '\x1f', tag) < 0) exit(2);
    return k;
}
static bool is_scalar_tag(const char *run, const char *tag) {
    char *k = key_of(run, tag);
    bool found = false;
    for (size_t i = 0; i < scalar_keys.n && !found; i++) found = !strcmp(scalar_keys.v[i], k);
    free(k);
    return found;
}
static void mark_scalar_tag(const char *run, const char *tag) {
    if (!is_scalar_tag(run, tag)) push(&scalar_keys, key_of(run, tag));
}

static uint64_t le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* The value of a one-element numeric tensor; false when it is not one. */
static bool tensor_value(const Tensorflow__TensorProto *t, double *out) {
    const ProtobufCBinaryData *c = &t->tensor_content;
    switch (t->dtype) {
    case TENSORFLOW__DATA_TYPE__DT_FLOAT:
        if (c->len == 4) {
            uint32_t b = (uint32_t)le(c->data, 4);
            float f;
            memcpy(&f, &b, 4);
            *out = f;
            return true;
        }
        if (t->n_float_val == 1) return *out = t->float_val[0], true;
        return false;
    case TENSORFLOW__DATA_TYPE__DT_DOUBLE:
        if (c->len == 8) {
            uint64_t b = le(c->data, 8);
            memcpy(out, &b, 8);
            return true;
        }
        if (t->n_double_val == 1) return *out = t->double_val[0], true;
        return false;
    case TENSORFLOW__DATA_TYPE__DT_INT32:
        if (c->len == 4) return *out = (int32_t)(uint32_t)le(c->data, 4), true;
        if (t->n_int_val == 1) return *out = t->int_val[0], true;
        return false;
    case TENSORFLOW__DATA_TYPE__DT_INT64:
        if (c->len == 8) return *out = (double)(int64_t)le(c->data, 8), true;
        if (t->n_int64_val == 1) return *out = (double)t->int64_val[0], true;
        return false;
    default:
        return false;
    }
}

static void csv_field(const char *s) {
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void print_scalar(bool csv, const char *run, const char *tag, int64_t step, double wall,
                         double value) {
    if (csv) {
        csv_field(run);
        putchar(',');
        csv_field(tag);
        printf(",%" PRId64 ",%.6f,%.9g\n", step, wall, value);
    } else {
        printf("%s %s %" PRId64 " %.9g\n", run, tag, step, value);
    }
}

/* Prints the scalars of one file; false after a bad record. */
static bool scan_file(const char *path, const char *run, bool csv, bool allow_tail) {
    ct__tfrecord_reader *r = ct__tfrecord_reader_open(path, CT_COMPRESSION_NONE, "ct_tb_scalars");
    if (!r) {
        fprintf(stderr, "%s\n", ct_last_error());
        return false;
    }
    bool ok = true;
    for (uint64_t rec = 0;; rec++) {
        const uint8_t *data;
        size_t len;
        uint64_t off = ct__tfrecord_reader_offset(r);
        if (ct__tfrecord_read_next(r, &data, &len) != CT_OK) {
            bool tail = strstr(ct_last_error(), "truncated record") != NULL;
            if (!(tail && allow_tail)) {
                fprintf(stderr, "%s\n", ct_last_error());
                ok = false;
            }
            break;
        }
        if (!data) break;
        Tensorflow__Event *ev = tensorflow__event__unpack(NULL, len, data);
        if (!ev) {
            fprintf(stderr,
                    "ct_tb_scalars: '%s': record %" PRIu64 " at byte offset %" PRIu64
                    " is not an Event protobuf\n",
                    path, rec, off);
            ok = false;
            break;
        }
        if (ev->what_case == TENSORFLOW__EVENT__WHAT_SUMMARY && ev->summary) {
            for (size_t i = 0; i < ev->summary->n_value; i++) {
                const Tensorflow__Summary__Value *v = ev->summary->value[i];
                const char *plugin = v->metadata && v->metadata->plugin_data
                                         ? v->metadata->plugin_data->plugin_name
                                         : NULL;
                if (plugin && !strcmp(plugin, "scalars")) mark_scalar_tag(run, v->tag);
                double x;
                if (v->value_case == TENSORFLOW__SUMMARY__VALUE__VALUE_SIMPLE_VALUE)
                    print_scalar(csv, run, v->tag, ev->step, ev->wall_time, v->simple_value);
                else if (v->value_case == TENSORFLOW__SUMMARY__VALUE__VALUE_TENSOR &&
                         is_scalar_tag(run, v->tag) && tensor_value(v->tensor, &x))
                    print_scalar(csv, run, v->tag, ev->step, ev->wall_time, x);
            }
        }
        tensorflow__event__free_unpacked(ev, NULL);
    }
    ct__tfrecord_reader_close(r);
    return ok;
}

static int usage(void) {
    fprintf(stderr, "usage: ct_tb_scalars [--csv] [--allow-truncated-tail] LOGDIR\n");
    return 2;
}

int main(int argc, char **argv) {
    bool csv = false, allow_tail = false;
    const char *logdir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--csv"))
            csv = true;
        else if (!strcmp(argv[i], "--allow-truncated-tail"))
            allow_tail = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return usage(), 0;
        else if (argv[i][0] == '-' || logdir)
            return usage();
        else
            logdir = argv[i];
    }
    if (!logdir) return usage();
    size_t root = strlen(logdir);
    while (root > 1 && logdir[root - 1] == '/') root--;
    char *top = strndup(logdir, root);
    strvec files = {0};
    if (!collect(top, &files)) {
        for (size_t i = 0; i < files.n; i++) free(files.v[i]);
        free(files.v);
        free(top);
        return 2;
    }
    qsort(files.v, files.n, sizeof *files.v, cmp_str);
    if (csv) printf("run,tag,step,wall_time,value\n");
    bool ok = true;
    for (size_t i = 0; i < files.n; i++) {
        const char *p = files.v[i];
        const char *slash = strrchr(p, '/');
        char *run = slash - p > (ptrdiff_t)root ? strndup(p + root + 1, (size_t)(slash - p) - root - 1)
                                                : strdup(".");
        ok = scan_file(p, run, csv, allow_tail) && ok;
        free(run);
        free(files.v[i]);
    }
    free(files.v);
    for (size_t i = 0; i < scalar_keys.n; i++) free(scalar_keys.v[i]);
    free(scalar_keys.v);
    free(top);
    fflush(stdout);
    return ok ? 0 : 1;
}
