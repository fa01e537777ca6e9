/* tf.data.Dataset.list_files: a glob, sorted, optionally shuffled. */
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "data/file_stream.h"

/* The matched names as a source of strings (TF: from_tensor_slices of the
 * MatchingFiles result). */
typedef struct {
    ct_dataset base;
    int64_t n;
    char **names;
} names_ds;

typedef struct {
    ct__iter base;
    int64_t pos;
} names_it;

static ct_status names_next(ct__iter *it, ct_element **out) {
    names_it *t = (names_it *)it;
    names_ds *d = (names_ds *)it->ds;
    if (t->pos >= d->n) return CT_OK;
    ct_element *e = ct__element_new(1);
    if (!e) return ct_last_status();
    const char *s = d->names[t->pos];
    e->t[0] = ct__string_tensor(s, strlen(s), "ct_dataset_list_files");
    if (!e->t[0]) {
        ct_element_free(e);
        return ct_last_status();
    }
    t->pos++;
    *out = e;
    return CT_OK;
}

static ct_status names_save(ct__iter *it, ct__state_writer *w) {
    ct__sw_i64(w, ((names_ds *)it->ds)->n);
    ct__sw_i64(w, ((names_it *)it)->pos);
    return w->st;
}

static ct_status names_restore(ct__iter *it, ct__state_reader *r) {
    if (!ct__sr_param(r, "list_files", "matched files", ((names_ds *)it->ds)->n)) return r->st;
    int64_t pos = ct__sr_i64(r);
    if (r->st) return r->st;
    if (pos < 0 || pos > ((names_ds *)it->ds)->n)
        return ct__sr_fail(r, "a position beyond the matched files");
    ((names_it *)it)->pos = pos;
    return CT_OK;
}

static void names_it_free(ct__iter *it) { free(it); }

static const ct__iter_vt names_it_vt = {names_next, names_save, names_restore, names_it_free};

static ct__iter *names_iterator(ct_dataset *ds) {
    return ct__iter_alloc(sizeof(names_it), &names_it_vt, ds);
}
static int64_t names_card(const ct_dataset *ds) { return ((const names_ds *)ds)->n; }
static void names_destroy(ct_dataset *ds) {
    names_ds *d = (names_ds *)ds;
    for (int64_t i = 0; i < d->n; i++) free(d->names[i]);
    free(d->names);
}

static const ct__dataset_vt names_vt = {"TensorSliceDataset", names_iterator, names_card,
                                        names_destroy};

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "." and ".." are never matches (TF lists directory children). */
static bool dot_entry(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return !strcmp(base, ".") || !strcmp(base, "..");
}

ct_dataset *ct_dataset_list_files(const char *pattern, bool shuffle, int64_t seed) {
    const char *api = "ct_dataset_list_files";
    if (!pattern) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: NULL pattern", api);
        return NULL;
    }
    glob_t g;
    memset(&g, 0, sizeof g);
    /* GLOB_PERIOD: TF's fnmatch-based matching lets '*' match a leading
     * '.'; sorted by strcmp below (glob's own order follows the locale). */
    int rc = glob(pattern, GLOB_NOSORT | GLOB_PERIOD, NULL, &g);
    if (rc != 0 && rc != GLOB_NOMATCH) {
        globfree(&g);
        ct__error(rc == GLOB_NOSPACE ? CT_ERR_OUT_OF_MEMORY : CT_ERR_INVALID_ARGUMENT,
                  "%s: cannot read the directories of pattern '%s'", api, pattern);
        return NULL;
    }
    size_t n = 0;
    char **names = g.gl_pathc ? calloc(g.gl_pathc, sizeof *names) : NULL;
    if (g.gl_pathc && !names) {
        globfree(&g);
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
        return NULL;
    }
    for (size_t i = 0; i < g.gl_pathc; i++) {
        if (dot_entry(g.gl_pathv[i])) continue;
        if (!(names[n] = strdup(g.gl_pathv[i]))) {
            for (size_t j = 0; j < n; j++) free(names[j]);
            free(names);
            globfree(&g);
            ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
            return NULL;
        }
        n++;
    }
    globfree(&g);
    if (n == 0) {
        free(names);
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: No files matched pattern: %s", api, pattern);
        return NULL;
    }
    qsort(names, n, sizeof *names, cmp_names);
    ct_element_spec spec = {.n = 1};
    ct__string_spec(&spec.c[0], NULL);
    names_ds *d = ct__dataset_alloc(sizeof *d, &names_vt, &spec);
    if (!d) {
        for (size_t j = 0; j < n; j++) free(names[j]);
        free(names);
        return NULL;
    }
    d->n = (int64_t)n;
    d->names = names;
    if (!shuffle) return &d->base;
    return ct_dataset_shuffle(&d->base, (int64_t)n, &(ct_shuffle_opts){.seed = seed});
}
