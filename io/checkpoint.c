/*
 * Training checkpoints: tf.train.CheckpointManager over HDF5 files that
 * hold the model (ct_model_save's layout), the optimizer's variables and
 * a "training_state" group per replica (include/ctrain/checkpoint.h says
 * what is where).
 *
 * A save is a small protocol, so that a checkpoint is listed only when
 * whole:
 *   1. every replica writes its file atomically (rank 0 the model file,
 *      rank r > 0 "<name>-<n>.replica-<r>.h5");
 *   2. the replicas vote: if any failed, each removes its file and all
 *      return the failure;
 *   3. rank 0 adds n to the list, drops the oldest past max_to_keep, and
 *      replaces "checkpoint" (the list) atomically; a second vote tells
 *      the others whether that worked.
 * A crash between 1 and 3 leaves files of an unlisted checkpoint, which
 * the next manager on the directory removes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "distribute/strategy_internal.h"
#include "io/checkpoint_internal.h"
#include "io/h5_internal.h"
#include "nn/internal.h"

#define STATE_FORMAT "ctrain.training_state"
#define STATE_VERSION 1
#define MAX_TRACKED 16

/* ---- training state ------------------------------------------------------------------------- */

ct_status ct__train_state_put(ct__train_state *s, const char *name, void *data, size_t len) {
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 8;
        ct__state_part *p = realloc(s->parts, (size_t)cap * sizeof *p);
        if (!p) {
            free(data);
            return ct__error(CT_ERR_OUT_OF_MEMORY, "training state: out of memory");
        }
        s->parts = p;
        s->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) {
        free(data);
        return ct__error(CT_ERR_OUT_OF_MEMORY, "training state: out of memory");
    }
    s->parts[s->n++] = (ct__state_part){.name = copy, .data = data, .len = len};
    return CT_OK;
}

const ct__state_part *ct__train_state_get(const ct__train_state *s, const char *name) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->parts[i].name, name)) return &s->parts[i];
    return NULL;
}

void ct__train_state_clear(ct__train_state *s) {
    for (int i = 0; i < s->n; i++) {
        free(s->parts[i].name);
        free(s->parts[i].data);
    }
    free(s->parts);
    json_decref(s->info);
    memset(s, 0, sizeof *s);
}

/* ---- the manager ---------------------------------------------------------------------------- */

typedef struct {
    int64_t number;
    double time;
} listed;

struct ct_checkpoint_manager {
    ct_model *m;
    char *dir, *name;
    int max_to_keep;
    double keep_hours;
    int n, cap;
    listed *list;         /* the active checkpoints, oldest first        */
    double last_preserved;
    int64_t next;         /* the number of the next save                  */
    int ntracked;
    struct {
        char *name;
        ct_iterator *it;
    } tracked[MAX_TRACKED];
    char *path;           /* the last path handed out                     */
    char **paths;         /* checkpoint(i)'s, cached                      */
    int npaths;
};

static ct_strategy *strategy_of(const ct_checkpoint_manager *cm) { return cm->m->strategy; }
static int rank_of(const ct_checkpoint_manager *cm) { return ct__strategy_rank(strategy_of(cm)); }
static int world_of(const ct_checkpoint_manager *cm) {
    int w = ct__strategy_replicas(strategy_of(cm));
    return w > 0 ? w : 1;
}

static double wall_time(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* "<dir>/<name>-<n>.h5" (replica < 1) or "<dir>/<name>-<n>.replica-<r>.h5",
 * malloc'ed. */
static char *file_path(const ct_checkpoint_manager *cm, int64_t n, int replica) {
    size_t cap = strlen(cm->dir) + strlen(cm->name) + 64;
    char *p = malloc(cap);
    if (!p) return NULL;
    if (replica < 1)
        snprintf(p, cap, "%s/%s-%lld.h5", cm->dir, cm->name, (long long)n);
    else
        snprintf(p, cap, "%s/%s-%lld.replica-%d.h5", cm->dir, cm->name, (long long)n, replica);
    return p;
}

static char *list_path(const ct_checkpoint_manager *cm) {
    size_t cap = strlen(cm->dir) + 16;
    char *p = malloc(cap);
    if (p) snprintf(p, cap, "%s/checkpoint", cm->dir);
    return p;
}

/* The number n of a file name "<name>-<n>.h5" or "<name>-<n>.replica-<r>.h5"
 * (or a temporary file of one: "...h5.tmp-<pid>"), else -1. */
static int64_t number_of(const ct_checkpoint_manager *cm, const char *file, bool *tmp) {
    size_t k = strlen(cm->name);
    if (strncmp(file, cm->name, k) || file[k] != '-') return -1;
    char *end;
    errno = 0;
    long long n = strtoll(file + k + 1, &end, 10);
    if (errno || end == file + k + 1 || n < 0) return -1;
    if (!strncmp(end, ".replica-", 9)) {
        strtol(end + 9, &end, 10);
    }
    if (strncmp(end, ".h5", 3)) return -1;
    end += 3;
    *tmp = !strncmp(end, ".tmp-", 5);
    if (*end && !*tmp) return -1;
    return n;
}

/* The list file in TF's CheckpointState text format. Paths are relative
 * to the directory. */
static ct_status read_list(ct_checkpoint_manager *cm) {
    char *path = list_path(cm);
    if (!path) return ct__error(CT_ERR_OUT_OF_MEMORY, "CheckpointManager: out of memory");
    FILE *f = fopen(path, "r");
    if (!f) {
        ct_status st = errno == ENOENT ? CT_OK
                                       : ct__error(CT_ERR_INTERNAL,
                                                   "CheckpointManager: cannot read '%s': %s",
                                                   path, strerror(errno));
        free(path);
        return st;
    }
    ct_status st = CT_OK;
    char line[4096];
    int ntimes = 0, lineno = 0;
    while (!st && fgets(line, sizeof line, f)) {
        lineno++;
        char *colon = strchr(line, ':');
        if (!colon) {
            if (line[strspn(line, " \t\r\n")]) goto bad;
            continue;
        }
        *colon = 0;
        char *v = colon + 1 + strspn(colon + 1, " \t");
        v[strcspn(v, "\r\n")] = 0;
        if (!strcmp(line, "all_model_checkpoint_paths")) {
            size_t len = strlen(v);
            if (len < 2 || v[0] != '"' || v[len - 1] != '"') goto bad;
            v[len - 1] = 0;
            const char *base = strrchr(v + 1, '/');
            bool tmp = false;
            int64_t n = number_of(cm, base ? base + 1 : v + 1, &tmp);
            if (n < 0 || tmp) goto bad;
            if (cm->n == cm->cap) {
                int cap = cm->cap ? 2 * cm->cap : 8;
                listed *l = realloc(cm->list, (size_t)cap * sizeof *l);
                if (!l) {
                    st = ct__error(CT_ERR_OUT_OF_MEMORY, "CheckpointManager: out of memory");
                    break;
                }
                cm->list = l;
                cm->cap = cap;
            }
            cm->list[cm->n++] = (listed){.number = n, .time = 0};
        } else if (!strcmp(line, "all_model_checkpoint_timestamps")) {
            char *end;
            double t = strtod(v, &end);
            if (end == v || ntimes >= cm->n) goto bad;
            cm->list[ntimes++].time = t;
        } else if (!strcmp(line, "last_preserved_timestamp")) {
            char *end;
            cm->last_preserved = strtod(v, &end);
            if (end == v) goto bad;
        } else if (strcmp(line, "model_checkpoint_path")) {
            goto bad;
        }
        continue;
    bad:
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "CheckpointManager: '%s', line %d: not a CheckpointState line (expected "
                       "model_checkpoint_path, all_model_checkpoint_paths, "
                       "all_model_checkpoint_timestamps or last_preserved_timestamp)",
                       path, lineno);
    }
    fclose(f);
    free(path);
    return st;
}

static bool sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return false;
    bool ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

static ct_status write_list(const ct_checkpoint_manager *cm) {
    char *path = list_path(cm);
    size_t cap = path ? strlen(path) + 32 : 0;
    char *tmp = path ? malloc(cap) : NULL;
    if (!tmp) {
        free(path);
        return ct__error(CT_ERR_OUT_OF_MEMORY, "CheckpointManager: out of memory");
    }
    snprintf(tmp, cap, "%s.tmp-%ld", path, (long)getpid());
    ct_status st = CT_OK;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        st = ct__error(CT_ERR_INTERNAL, "CheckpointManager: cannot create '%s': %s", tmp,
                       strerror(errno));
    } else {
        if (cm->n)
            fprintf(f, "model_checkpoint_path: \"%s-%lld.h5\"\n", cm->name,
                    (long long)cm->list[cm->n - 1].number);
        for (int i = 0; i < cm->n; i++)
            fprintf(f, "all_model_checkpoint_paths: \"%s-%lld.h5\"\n", cm->name,
                    (long long)cm->list[i].number);
        for (int i = 0; i < cm->n; i++)
            fprintf(f, "all_model_checkpoint_timestamps: %.17g\n", cm->list[i].time);
        fprintf(f, "last_preserved_timestamp: %.17g\n", cm->last_preserved);
        bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
        if (fclose(f) != 0) ok = false;
        if (!ok)
            st = ct__error(CT_ERR_INTERNAL, "CheckpointManager: cannot write '%s': %s", tmp,
                           strerror(errno));
    }
    if (!st && rename(tmp, path) != 0)
        st = ct__error(CT_ERR_INTERNAL, "CheckpointManager: cannot rename '%s' to '%s': %s", tmp,
                       path, strerror(errno));
    if (st)
        unlink(tmp);
    else
        sync_dir(cm->dir);
    free(tmp);
    free(path);
    return st;
}

/* Removes checkpoint n's files (every replica's). */
static void remove_files(const ct_checkpoint_manager *cm, int64_t n) {
    DIR *d = opendir(cm->dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        bool tmp = false;
        if (number_of(cm, e->d_name, &tmp) == n && !tmp) unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

/* Rank 0, when the manager is made: the next number is past every file
 * of the directory's; files of checkpoints newer than the newest listed
 * (a save that did not finish) and temporary files are removed, the
 * list's own ("checkpoint.tmp-<pid>", left by a process killed while it
 * replaced the list) included: else delete_all could not remove the
 * directory. */
static int64_t scan_directory(ct_checkpoint_manager *cm) {
    int64_t newest = cm->n ? cm->list[cm->n - 1].number : 0, top = newest;
    DIR *d = opendir(cm->dir);
    if (!d) return top + 1;
    struct dirent *e;
    while ((e = readdir(d))) {
        bool tmp = false;
        int64_t n = number_of(cm, e->d_name, &tmp);
        bool list_tmp = !strncmp(e->d_name, "checkpoint.tmp-", 15);
        if (n < 0 && !list_tmp) continue;
        if (n > top) top = n;
        if (list_tmp || tmp || n > newest) unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
    return top + 1;
}

static ct_status make_dirs(const char *dir) {
    char *p = strdup(dir);
    if (!p) return ct__error(CT_ERR_OUT_OF_MEMORY, "CheckpointManager: out of memory");
    for (char *s = p + 1;; s++) {
        bool last = !*s;
        if (*s != '/' && !last) continue;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            ct_status st = ct__error(CT_ERR_INTERNAL,
                                     "CheckpointManager: cannot create directory '%s': %s", p,
                                     strerror(errno));
            free(p);
            return st;
        }
        if (last) break;
        *s = '/';
    }
    struct stat sb;
    ct_status st = stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)
                       ? CT_OK
                       : ct__error(CT_ERR_INVALID_ARGUMENT,
                                   "CheckpointManager: '%s' is not a directory", p);
    free(p);
    return st;
}

ct_checkpoint_manager *ct_checkpoint_manager_new(ct_model *m, const char *directory,
                                                 const ct_checkpoint_manager_opts *opts) {
    ct_checkpoint_manager_opts o = opts ? *opts : (ct_checkpoint_manager_opts){0};
    if (!m || !directory || !*directory) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_checkpoint_manager_new: the %s is %s",
                  m ? "directory" : "model", m && directory ? "empty" : "NULL");
        return NULL;
    }
    if (o.max_to_keep < 0 || !(o.keep_checkpoint_every_n_hours >= 0)) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_checkpoint_manager_new: max_to_keep (%d) and "
                  "keep_checkpoint_every_n_hours (%g) must not be negative",
                  o.max_to_keep, o.keep_checkpoint_every_n_hours);
        return NULL;
    }
    const char *name = o.checkpoint_name ? o.checkpoint_name : "ckpt";
    if (!*name || strchr(name, '/')) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_checkpoint_manager_new: checkpoint_name '%s' must be a non-empty file "
                  "name",
                  name);
        return NULL;
    }
    ct_checkpoint_manager *cm = calloc(1, sizeof *cm);
    if (!cm || !(cm->dir = strdup(directory)) || !(cm->name = strdup(name))) {
        ct_checkpoint_manager_free(cm);
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_checkpoint_manager_new: out of memory");
        return NULL;
    }
    size_t len = strlen(cm->dir);
    while (len > 1 && cm->dir[len - 1] == '/') cm->dir[--len] = 0;
    cm->m = m;
    cm->max_to_keep = o.max_to_keep;
    cm->keep_hours = o.keep_checkpoint_every_n_hours;
    cm->last_preserved = wall_time();
    /* Rank 0 makes the directory and tidies it; then every rank reads the
     * list, and all take rank 0's next number. */
    ct_status st = CT_OK;
    if (rank_of(cm) == 0) st = make_dirs(cm->dir);
    if (!st) st = read_list(cm);
    double next[2] = {0, st ? 1 : 0};
    if (!st && rank_of(cm) == 0) next[0] = (double)scan_directory(cm);
    if (world_of(cm) > 1) {
        char why[1024];
        snprintf(why, sizeof why, "%s", st ? ct_last_error() : "");
        ct_status r = ct__strategy_max_doubles(strategy_of(cm), next, 2);
        if (st) st = ct__error(st, "%s", why);
        else if (r) st = r;
        else if (next[1] > 0)
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "CheckpointManager: '%s': another replica could not read the "
                           "directory",
                           cm->dir);
    }
    if (st) {
        ct_checkpoint_manager_free(cm);
        return NULL;
    }
    cm->next = (int64_t)next[0];
    return cm;
}

static void free_paths(ct_checkpoint_manager *cm) {
    for (int i = 0; i < cm->npaths; i++) free(cm->paths[i]);
    free(cm->paths);
    cm->paths = NULL;
    cm->npaths = 0;
}

void ct_checkpoint_manager_free(ct_checkpoint_manager *cm) {
    if (!cm) return;
    for (int i = 0; i < cm->ntracked; i++) free(cm->tracked[i].name);
    free_paths(cm);
    free(cm->path);
    free(cm->list);
    free(cm->dir);
    free(cm->name);
    free(cm);
}

ct_status ct_checkpoint_manager_track_iterator(ct_checkpoint_manager *cm, const char *name,
                                               ct_iterator *it) {
    if (!cm || !name || !it)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "ct_checkpoint_manager_track_iterator: the %s is NULL",
                         !cm ? "manager" : !name ? "name" : "iterator");
    if (!*name || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") !=
                      strlen(name))
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "ct_checkpoint_manager_track_iterator: name '%s' must be letters, "
                         "digits, '_', '-' or '.'",
                         name);
    for (int i = 0; i < cm->ntracked; i++)
        if (!strcmp(cm->tracked[i].name, name))
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "ct_checkpoint_manager_track_iterator: an iterator named '%s' is "
                             "tracked already",
                             name);
    if (cm->ntracked == MAX_TRACKED)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "ct_checkpoint_manager_track_iterator: at most %d iterators",
                         MAX_TRACKED);
    if (!(cm->tracked[cm->ntracked].name = strdup(name)))
        return ct__error(CT_ERR_OUT_OF_MEMORY, "ct_checkpoint_manager_track_iterator: out of memory");
    cm->tracked[cm->ntracked++].it = it;
    return CT_OK;
}

const char *ct_checkpoint_manager_latest(const ct_checkpoint_manager *cm) {
    if (!cm || !cm->n) return NULL;
    ct_checkpoint_manager *w = (ct_checkpoint_manager *)cm;
    free(w->path);
    w->path = file_path(cm, cm->list[cm->n - 1].number, 0);
    return w->path;
}

int ct_checkpoint_manager_num_checkpoints(const ct_checkpoint_manager *cm) {
    return cm ? cm->n : 0;
}

const char *ct_checkpoint_manager_checkpoint(const ct_checkpoint_manager *cm, int i) {
    if (!cm || i < 0 || i >= cm->n) return NULL;
    ct_checkpoint_manager *w = (ct_checkpoint_manager *)cm;
    if (w->npaths != cm->n) {
        free_paths(w);
        if (!(w->paths = calloc((size_t)cm->n, sizeof *w->paths))) return NULL;
        w->npaths = cm->n;
    }
    if (!w->paths[i]) w->paths[i] = file_path(cm, cm->list[i].number, 0);
    return w->paths[i];
}

/* ---- writing -------------------------------------------------------------------------------- */

/* Tests kill the process in the middle of a save: CTRAIN_TEST_CRASH_IN_SAVE
 * = "<stage>:<n>" sends this process SIGKILL at stage "write" (its file
 * half written under the temporary name) or "part" (its file in place, the
 * list not updated) of its n-th save (from 1). */
static int saves_begun;

static void crash_point(const char *stage) {
    const char *spec = getenv("CTRAIN_TEST_CRASH_IN_SAVE");
    size_t k = strlen(stage);
    if (spec && !strncmp(spec, stage, k) && spec[k] == ':' && atoi(spec + k + 1) == saves_begun)
        raise(SIGKILL);
}

typedef struct {
    const char *where;
    const char *json;
    const ct__train_state *parts[2]; /* the manager's and fit's streams */
} state_writer;

static ct_status write_bytes(hid_t g, const char *where, const ct__state_part *p) {
    hsize_t dims[1] = {(hsize_t)p->len};
    hid_t sp = H5Screate_simple(1, dims, NULL), d = -1;
    bool ok = sp >= 0 &&
              (d = H5Dcreate2(g, p->name, H5T_STD_U8LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                              H5P_DEFAULT)) >= 0 &&
              (p->len == 0 || H5Dwrite(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                       p->data) >= 0);
    if (d >= 0) H5Dclose(d);
    if (sp >= 0) H5Sclose(sp);
    return ok ? CT_OK
              : ct__error(CT_ERR_INTERNAL, "%s: cannot write training_state/%s", where, p->name);
}

static ct_status write_state_group(hid_t f, void *ctx) {
    state_writer *w = ctx;
    hid_t g = H5Gcreate2(f, "training_state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return ct__error(CT_ERR_INTERNAL, "%s: cannot create group training_state", w->where);
    ct_status st = ct__h5_write_str(g, "state", w->json)
                       ? CT_OK
                       : ct__error(CT_ERR_INTERNAL,
                                   "%s: cannot write attribute training_state/state", w->where);
    for (int k = 0; k < 2; k++)
        for (int i = 0; !st && w->parts[k] && i < w->parts[k]->n; i++) {
            st = write_bytes(g, w->where, &w->parts[k]->parts[i]);
            if (i == 0) {
                H5Fflush(f, H5F_SCOPE_GLOBAL);
                crash_point("write");
            }
        }
    H5Gclose(g);
    return st;
}

/* This replica's streams of the manager: the random state and the
 * tracked iterators. */
static ct_status own_parts(ct_checkpoint_manager *cm, ct__train_state *s, const char *where) {
    void *buf;
    size_t len;
    ct_status st = ct__rng_get_state(&buf, &len);
    if (!st) st = ct__train_state_put(s, "rng", buf, len);
    for (int i = 0; !st && i < cm->ntracked; i++) {
        char name[128];
        snprintf(name, sizeof name, "iterator.%s", cm->tracked[i].name);
        if ((st = ct_iterator_save(cm->tracked[i].it, &buf, &len))) {
            char why[1024];
            snprintf(why, sizeof why, "%s", ct_last_error());
            return ct__error(st, "%s: iterator '%s': %s", where, cm->tracked[i].name, why);
        }
        st = ct__train_state_put(s, name, buf, len);
    }
    return st;
}

/* The whole replicas' vote on a step's outcome: every replica passes its
 * status and gets CT_OK only when all succeeded; its own error is kept. */
static ct_status vote(ct_checkpoint_manager *cm, ct_status mine, const char *where) {
    if (world_of(cm) < 2) return mine;
    char why[1024];
    snprintf(why, sizeof why, "%s", mine ? ct_last_error() : "");
    double failed = mine ? 1 : 0;
    ct_status r = ct__strategy_sum_doubles(strategy_of(cm), &failed, 1);
    if (mine) return ct__error(mine, "%s", why);
    if (r) return r;
    if (failed > 0)
        return ct__error(CT_ERR_INTERNAL, "%s: another replica could not write its part", where);
    return CT_OK;
}

/* Rank 0: lists checkpoint n (written by every replica) and drops the
 * oldest past max_to_keep, of which one every keep_hours stays on disk
 * (TF's _sweep). The list is replaced before any file goes, so that it
 * never names a removed checkpoint; if it cannot be, the previous list
 * stands and n's files are removed. */
static ct_status commit(ct_checkpoint_manager *cm, int64_t n, const char *where) {
    if (cm->n == cm->cap) {
        int cap = cm->cap ? 2 * cm->cap : 8;
        listed *l = realloc(cm->list, (size_t)cap * sizeof *l);
        if (!l) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
        cm->list = l;
        cm->cap = cap;
    }
    listed *before = malloc((size_t)(cm->n + 1) * sizeof *before);
    if (!before) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    int nbefore = cm->n;
    double preserved_before = cm->last_preserved;
    memcpy(before, cm->list, (size_t)cm->n * sizeof *before);
    cm->list[cm->n++] = (listed){.number = n, .time = wall_time()};
    int drop = cm->max_to_keep && cm->n > cm->max_to_keep ? cm->n - cm->max_to_keep : 0;
    listed *dropped = before; /* the oldest drop entries of before */
    bool *kept = calloc((size_t)(drop ? drop : 1), sizeof *kept);
    if (!kept) {
        cm->n--;
        free(before);
        return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    }
    for (int i = 0; i < drop; i++)
        if (cm->keep_hours > 0 && dropped[i].time - cm->last_preserved >= cm->keep_hours * 3600) {
            cm->last_preserved = dropped[i].time;
            kept[i] = true;
        }
    memmove(cm->list, cm->list + drop, (size_t)(cm->n - drop) * sizeof *cm->list);
    cm->n -= drop;
    ct_status st = write_list(cm);
    if (st) {
        memcpy(cm->list, before, (size_t)nbefore * sizeof *before);
        cm->n = nbefore;
        cm->last_preserved = preserved_before;
        remove_files(cm, n);
    } else {
        for (int i = 0; i < drop; i++)
            if (!kept[i]) remove_files(cm, dropped[i].number);
    }
    free(kept);
    free(before);
    return st;
}

/* failed: this replica could not gather its state (its error is set): it
 * writes nothing but takes part in the votes, so that every replica
 * fails the save together. */
static const char *save(ct_checkpoint_manager *cm, const ct__train_state *fit, ct_status failed) {
    if (!cm) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_checkpoint_manager_save: the manager is NULL");
        return NULL;
    }
    int rank = rank_of(cm), world = world_of(cm);
    int64_t n = cm->next++;
    saves_begun++;
    char *path = file_path(cm, n, rank);
    char where[4200];
    snprintf(where, sizeof where, "CheckpointManager: saving '%s'", path ? path : "?");
    ct__train_state own = {0};
    json_t *info = failed ? NULL : fit && fit->info ? json_deep_copy(fit->info) : json_object();
    ct_status st = failed                ? failed
                   : path && info ? CT_OK
                                  : ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    if (!st) {
        json_object_set_new(info, "format", json_string(STATE_FORMAT));
        json_object_set_new(info, "version", json_integer(STATE_VERSION));
        json_object_set_new(info, "world_size", json_integer(world));
        json_object_set_new(info, "rank", json_integer(rank));
        json_object_set_new(info, "checkpoint", json_integer(n));
        st = own_parts(cm, &own, where);
    }
    char *json = st ? NULL : json_dumps(info, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!st && !json) st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    if (!st) {
        state_writer w = {.where = where, .json = json, .parts = {&own, fit}};
        int what = CT__H5_NONE;
        if (rank == 0) {
            /* A full model when the model has a config (Keras can load it);
             * else the weights file's layout. */
            char *cfg = ct_model_to_json(cm->m);
            if (!cfg) ct_clear_error();
            what = cfg ? CT__H5_FULL : CT__H5_WEIGHTS;
            free(cfg);
        }
        st = ct__h5_write_atomic(rank == 0 ? cm->m : NULL, path, where, what, rank == 0,
                                 write_state_group, &w);
    }
    free(json);
    json_decref(info);
    ct__train_state_clear(&own);
    if (!st) crash_point("part");
    st = vote(cm, st, where);
    if (st && path) unlink(path);
    if (!st && rank == 0) st = commit(cm, n, where);
    if (world > 1) {
        /* Rank 0 tells whether the list took it. */
        st = vote(cm, st, where);
        if (st && rank != 0) unlink(path);
    }
    free(path);
    if (st) return NULL;
    free(cm->path);
    cm->path = file_path(cm, n, 0);
    free_paths(cm);
    return cm->path;
}

const char *ct_checkpoint_manager_save(ct_checkpoint_manager *cm) {
    return save(cm, NULL, CT_OK);
}

const char *ct__checkpoint_manager_save_state(ct_checkpoint_manager *cm,
                                              const ct__train_state *ts, ct_status failed) {
    return save(cm, ts, failed);
}

/* ---- reading -------------------------------------------------------------------------------- */

/* This replica's training_state group of file into *out. */
static ct_status read_state(const char *file, const char *where, ct__train_state *out) {
    if (access(file, R_OK) != 0)
        return ct__error(CT_ERR_NOT_FOUND, "%s: cannot read '%s': %s", where, file,
                         strerror(errno));
    if (H5Fis_hdf5(file) <= 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: '%s' is not an HDF5 file (or one cut short)",
                         where, file);
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: HDF5 cannot open '%s' (is it cut short or damaged?)", where, file);
    ct_status st = CT_OK;
    hid_t g = H5Lexists(f, "training_state", H5P_DEFAULT) > 0
                  ? H5Gopen2(f, "training_state", H5P_DEFAULT)
                  : -1;
    if (g < 0)
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: '%s' has no training_state group (a model file, not a training "
                       "checkpoint?)",
                       where, file);
    char *json = NULL;
    if (!st) st = ct__h5_read_str(g, "state", where, &json);
    if (!st && !json)
        st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: '%s': training_state has no state attribute",
                       where, file);
    if (!st) {
        json_error_t e;
        out->info = json_loads(json, 0, &e);
        if (!out->info || !json_is_object(out->info))
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "%s: '%s': training_state/state is not a JSON object (%s)", where,
                           file, e.text);
    }
    free(json);
    H5G_info_t gi;
    if (!st && H5Gget_info(g, &gi) < 0)
        st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: '%s': cannot list training_state", where, file);
    for (hsize_t i = 0; !st && i < gi.nlinks; i++) {
        char name[256];
        if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                               H5P_DEFAULT) < 0) {
            st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: '%s': cannot list training_state", where,
                           file);
            break;
        }
        hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
        hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
        hssize_t len = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
        void *buf = len >= 0 ? malloc(len ? (size_t)len : 1) : NULL;
        if (!buf || (len && H5Dread(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)) {
            free(buf);
            st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: '%s': cannot read training_state/%s",
                           where, file, name);
        } else {
            st = ct__train_state_put(out, name, buf, (size_t)len);
        }
        if (sp >= 0) H5Sclose(sp);
        if (d >= 0) H5Dclose(d);
    }
    if (g >= 0) H5Gclose(g);
    H5Fclose(f);
    return st;
}

static int64_t info_int(const ct__train_state *s, const char *key, int64_t dflt) {
    const json_t *v = json_object_get(s->info, key);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static ct_status restore(ct_checkpoint_manager *cm, const char *path, ct__train_state *out) {
    if (!cm) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_checkpoint_manager_restore: the manager is NULL");
    if (!path) path = ct_checkpoint_manager_latest(cm);
    if (!path)
        return ct__error(CT_ERR_NOT_FOUND,
                         "ct_checkpoint_manager_restore: '%s' holds no complete checkpoint",
                         cm->dir);
    char *main_path = strdup(path);
    if (!main_path) return ct__error(CT_ERR_OUT_OF_MEMORY, "ct_checkpoint_manager_restore: out of memory");
    char where[4200];
    snprintf(where, sizeof where, "ct_checkpoint_manager_restore: '%s'", main_path);
    int rank = rank_of(cm), world = world_of(cm);
    /* Rank r's part: "<x>.h5" -> "<x>.replica-<r>.h5". */
    char *mine = NULL;
    size_t len = strlen(main_path);
    if (rank > 0 && len > 3 && !strcmp(main_path + len - 3, ".h5")) {
        mine = malloc(len + 32);
        if (mine) snprintf(mine, len + 32, "%.*s.replica-%d.h5", (int)(len - 3), main_path, rank);
    } else {
        mine = strdup(main_path);
    }
    ct__train_state s = {0};
    ct_status st = mine ? CT_OK : ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    if (!st) st = read_state(mine, where, &s);
    if (!st) {
        const json_t *fmt = json_object_get(s.info, "format");
        int64_t version = info_int(&s, "version", -1), w = info_int(&s, "world_size", -1);
        if (!json_is_string(fmt) || strcmp(json_string_value(fmt), STATE_FORMAT) ||
            version != STATE_VERSION)
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "%s: training_state is not ctrain's version %d (format %s, version "
                           "%lld)",
                           where, STATE_VERSION, json_is_string(fmt) ? json_string_value(fmt) : "?",
                           (long long)version);
        else if (w != world)
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "%s: the checkpoint was written by %lld replica%s and this run has "
                           "%d; resume with the same number of processes (mpirun -np %lld)",
                           where, (long long)w, w == 1 ? "" : "s", world, (long long)w);
    }
    const ct__state_part *rng = st ? NULL : ct__train_state_get(&s, "rng");
    if (!st && !rng)
        st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: training_state has no rng stream", where);
    for (int i = 0; !st && i < cm->ntracked; i++) {
        char name[128];
        snprintf(name, sizeof name, "iterator.%s", cm->tracked[i].name);
        if (!ct__train_state_get(&s, name))
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "%s: the checkpoint holds no position for iterator '%s'", where,
                           cm->tracked[i].name);
    }
    /* Everything is here: the model, then the streams. */
    if (!st) st = ct__h5_load_model_state(cm->m, main_path, "ct_checkpoint_manager_restore");
    if (!st) st = ct__rng_set_state(rng->data, rng->len);
    for (int i = 0; !st && i < cm->ntracked; i++) {
        char name[128];
        snprintf(name, sizeof name, "iterator.%s", cm->tracked[i].name);
        const ct__state_part *p = ct__train_state_get(&s, name);
        if ((st = ct_iterator_restore(cm->tracked[i].it, p->data, p->len))) {
            char why[1024];
            snprintf(why, sizeof why, "%s", ct_last_error());
            st = ct__error(st, "%s: iterator '%s': %s", where, cm->tracked[i].name, why);
        }
    }
    st = vote(cm, st, where);
    if (!st && out) {
        *out = s;
        memset(&s, 0, sizeof s);
    }
    ct__train_state_clear(&s);
    free(mine);
    free(main_path);
    return st;
}

static ct_status quiet_restore(ct_checkpoint_manager *cm, const char *path, ct__train_state *out) {
    ct_status st;
    QUIET_HDF5(restore(cm, path, out));
    return st;
}

ct_status ct_checkpoint_manager_restore(ct_checkpoint_manager *cm, const char *path) {
    return quiet_restore(cm, path, NULL);
}

ct_status ct__checkpoint_manager_restore_state(ct_checkpoint_manager *cm, const char *path,
                                               ct__train_state *out) {
    return quiet_restore(cm, path, out);
}

ct_status ct_checkpoint_manager_delete_all(ct_checkpoint_manager *cm) {
    if (!cm)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "ct_checkpoint_manager_delete_all: the manager is NULL");
    ct_status st = CT_OK;
    if (rank_of(cm) == 0) {
        char *lp = list_path(cm);
        if (lp && unlink(lp) != 0 && errno != ENOENT)
            st = ct__error(CT_ERR_INTERNAL, "BackupAndRestore: cannot remove '%s': %s", lp,
                           strerror(errno));
        free(lp);
        /* Every checkpoint file of this name, listed or not: a process
         * killed between replacing the list and removing what it dropped
         * leaves an older unlisted one behind. */
        DIR *d = opendir(cm->dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            bool tmp = false;
            if (number_of(cm, e->d_name, &tmp) >= 0 || !strncmp(e->d_name, "checkpoint.tmp-", 15))
                unlinkat(dirfd(d), e->d_name, 0);
        }
        if (d) closedir(d);
        cm->n = 0;
        sync_dir(cm->dir);
        rmdir(cm->dir); /* when nothing else is in it */
    }
    return vote(cm, st, "BackupAndRestore: removing the checkpoints");
}
