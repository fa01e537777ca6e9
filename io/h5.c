/*
 * Keras 2 HDF5 weights files: model.save_weights("x.h5") and
 * model.load_weights("x.h5", by_name, skip_mismatch), in the layout of
 * ../shared/specs/keras_h5.md (§1, §2.3, §3); and full-model files:
 * model.save("x.h5") and keras.models.load_model("x.h5") (§1.1, §5, §6),
 * whose model_weights group is written by the same code as a weights
 * file's root.
 *
 * The writing side follows the spec's §2.3: string lists (layer_names,
 * weight_names) are 1-D fixed-length NULLPAD ASCII arrays, split into
 * <name>0, <name>1, ... past 64512 bytes as Keras splits them; an empty
 * list is a float64 array of shape (0,); scalar strings are variable-length;
 * datasets are contiguous little-endian arrays of the weight's shape. The
 * reading side accepts what h5py-based readers accept: fixed or variable
 * length strings, any padding and character set, chunked lists, and the
 * weights of a full-model file (group model_weights).
 *
 * Loading reads and checks everything into tensors first and assigns only
 * when the whole file fits the model, so an error changes no weight.
 *
 * HDF5's own error printing is turned off while we work (its messages go
 * to stderr and are not ours to print); our errors name the file, the
 * layer, the weight and the shapes.
 */
#define _GNU_SOURCE /* sync_file_range */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctrain/checkpoint.h"
#include "io/h5_internal.h"
#include "nn/internal.h"

#define KERAS_VERSION "2.15.0"
/* Keras's HDF5_OBJECT_HEADER_LIMIT: the most bytes one attribute holds. */
#define HEADER_LIMIT 64512

/* ---- small helpers ------------------------------------------------------------------------ */

typedef struct strlist {
    int n;
    char **s;
} strlist;

static void strlist_free(strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->s[i]);
    free(l->s);
    l->s = NULL;
    l->n = 0;
}

/* A weight's name as Keras writes it: the variable's name with ":0". */
static char *keras_weight_name(const ct_variable *v) {
    const char *n = ct_variable_name(v);
    size_t len = strlen(n);
    bool has = len > 2 && !strcmp(n + len - 2, ":0");
    char *out = malloc(len + 3);
    if (out) snprintf(out, len + 3, "%s%s", n, has ? "" : ":0");
    return out;
}

/* The weights of a layer in Keras's order (trainable first); NULL with
 * *n = 0 when it has none or allocation failed (then *n = -1). */
static ct_variable **layer_weights(const ct_layer *l, int *n) {
    *n = ct__layer_collect(l, NULL, 0);
    if (*n == 0) return NULL;
    ct__wref *refs = malloc((size_t)*n * sizeof *refs);
    ct_variable **vars = malloc((size_t)*n * sizeof *vars);
    if (!refs || !vars) {
        free(refs);
        free(vars);
        *n = -1;
        return NULL;
    }
    ct__layer_collect(l, refs, *n);
    for (int i = 0; i < *n; i++) vars[i] = refs[i].w->var;
    free(refs);
    return vars;
}

static const char *shape_str(int rank, const int64_t *shape, char *buf, size_t cap) {
    return ct_shape_str(rank, shape, buf, cap);
}

/* ---- writing -------------------------------------------------------------------------------- */

/* A scalar variable-length string attribute (NULLTERM) in character set
 * cset. */
static bool write_str_attr_cset(hid_t obj, const char *name, const char *value, H5T_cset_t cset) {
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR), a = -1;
    bool ok = t >= 0 && sp >= 0 && H5Tset_size(t, H5T_VARIABLE) >= 0 &&
              H5Tset_strpad(t, H5T_STR_NULLTERM) >= 0 && H5Tset_cset(t, cset) >= 0 &&
              (a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
              H5Awrite(a, t, &value) >= 0;
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    return ok;
}

/* The weights group's scalar strings (ASCII). */
static bool write_str_attr(hid_t obj, const char *name, const char *value) {
    return write_str_attr_cset(obj, name, value, H5T_CSET_ASCII);
}

/* One fixed-length string array attribute of names[0..n), each padded to
 * size bytes. */
static bool write_fixed_list(hid_t obj, const char *name, char *const *names, int n, size_t size) {
    char *buf = calloc((size_t)n, size);
    if (!buf) return false;
    for (int i = 0; i < n; i++) memcpy(buf + (size_t)i * size, names[i], strlen(names[i]));
    hsize_t dims[1] = {(hsize_t)n};
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate_simple(1, dims, NULL), a = -1;
    bool ok = t >= 0 && sp >= 0 && H5Tset_size(t, size) >= 0 &&
              H5Tset_strpad(t, H5T_STR_NULLPAD) >= 0 && H5Tset_cset(t, H5T_CSET_ASCII) >= 0 &&
              (a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
              H5Awrite(a, t, buf) >= 0;
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    free(buf);
    return ok;
}

/* Keras's save_attributes_to_hdf5_group: a list of names as one
 * fixed-length array, or split into <name>0, <name>1, ... (numpy's
 * array_split) while a chunk is over the header limit; an empty list is a
 * float64 array of shape (0,). Sets the error on failure. */
static ct_status write_list_attr(hid_t obj, const char *where, const char *name,
                                 char *const *names, int n) {
    if (n == 0) {
        hsize_t dims[1] = {0};
        hid_t sp = H5Screate_simple(1, dims, NULL), a = -1;
        bool ok = sp >= 0 &&
                  (a = H5Acreate2(obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0;
        if (a >= 0) H5Aclose(a);
        if (sp >= 0) H5Sclose(sp);
        return ok ? CT_OK
                  : ct__error(CT_ERR_INTERNAL, "%s: cannot write attribute %s", where, name);
    }
    size_t size = 1;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (len > HEADER_LIMIT)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: the name '%.40s...' in %s is %zu bytes, over Keras's limit of %d",
                             where, names[i], name, len, HEADER_LIMIT);
        if (len > size) size = len;
    }
    int chunks = 1;
    while ((size_t)((n + chunks - 1) / chunks) * size > HEADER_LIMIT) chunks++;
    if (chunks == 1)
        return write_fixed_list(obj, name, names, n, size)
                   ? CT_OK
                   : ct__error(CT_ERR_INTERNAL, "%s: cannot write attribute %s", where, name);
    int start = 0;
    for (int c = 0; c < chunks; c++) {
        int len = n / chunks + (c < n % chunks ? 1 : 0);
        char cname[128];
        snprintf(cname, sizeof cname, "%s%d", name, c);
        if (!write_fixed_list(obj, cname, names + start, len, size))
            return ct__error(CT_ERR_INTERNAL, "%s: cannot write attribute %s", where, cname);
        start += len;
    }
    return CT_OK;
}

/* The HDF5 file and memory types a weight of dtype dt is stored with
 * (16-bit floats as float32); *as is the dtype read from the tensor. */
static void storage_types(ct_dtype dt, hid_t *file_t, hid_t *mem_t, ct_dtype *as) {
    switch (dt) {
    case CT_FLOAT64: *file_t = H5T_IEEE_F64LE, *mem_t = H5T_NATIVE_DOUBLE, *as = CT_FLOAT64; break;
    case CT_INT32: *file_t = H5T_STD_I32LE, *mem_t = H5T_NATIVE_INT32, *as = CT_INT32; break;
    case CT_INT64: *file_t = H5T_STD_I64LE, *mem_t = H5T_NATIVE_INT64, *as = CT_INT64; break;
    case CT_UINT8: *file_t = H5T_STD_U8LE, *mem_t = H5T_NATIVE_UINT8, *as = CT_UINT8; break;
    default: *file_t = H5T_IEEE_F32LE, *mem_t = H5T_NATIVE_FLOAT, *as = CT_FLOAT32; break;
    }
}

/* The file descriptor of the file write_file is writing (-1: none). After
 * each large dataset, its dirty pages are handed to the disk at once
 * (sync_file_range, SYNC_FILE_RANGE_WRITE: it starts the writeback and
 * does not wait), so that the disk works while the rest of the file is
 * serialized and the final fsync has less left to wait for. */
static _Thread_local int writeback_fd = -1;
#define WRITEBACK_BYTES (4 << 20)

static void start_writeback(size_t bytes) {
    if (writeback_fd >= 0 && bytes >= WRITEBACK_BYTES)
        (void)sync_file_range(writeback_fd, 0, 0, SYNC_FILE_RANGE_WRITE); /* a hint */
}

static ct_status write_weight(hid_t group, const char *where, const char *lname,
                              const char *wname, ct_variable *v) {
    ct_tensor *t = ct_variable_value(v);
    int rank = ct_tensor_rank(t);
    const int64_t *shape = ct_tensor_shape(t);
    int64_t size = ct_tensor_size(t);
    hid_t file_t, mem_t;
    ct_dtype as;
    storage_types(ct_tensor_dtype(t), &file_t, &mem_t, &as);
    /* A CPU weight stored in its own dtype goes to HDF5 from its memory;
     * others (float16, a device's) through a converted host copy. The
     * copy cost a 105 MB save 12-15 ms (docs/PERFORMANCE.md). */
    bool direct = size && ct_tensor_dtype(t) == as &&
                  ct_device_kind_of(ct_tensor_device(t)) == CT_DEVICE_CPU;
    void *buf = direct ? NULL : malloc(size ? (size_t)size * ct_dtype_size(as) : 1);
    if (!direct && !buf) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    if (!direct && size && ct_tensor_read(t, as, buf, size) != CT_OK) {
        free(buf);
        return ct_last_status();
    }
    const void *src = direct ? ct__data(t) : buf;
    hsize_t dims[CT_MAX_RANK];
    for (int i = 0; i < rank; i++) dims[i] = (hsize_t)shape[i];
    hid_t sp = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), d = -1;
    bool ok = sp >= 0 && lcpl >= 0 && H5Pset_create_intermediate_group(lcpl, 1) >= 0 &&
              (d = H5Dcreate2(group, wname, file_t, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
              H5Dwrite(d, mem_t, H5S_ALL, H5S_ALL, H5P_DEFAULT, src) >= 0;
    if (ok) start_writeback((size_t)size * ct_dtype_size(as));
    if (d >= 0) H5Dclose(d);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (sp >= 0) H5Sclose(sp);
    free(buf);
    return ok ? CT_OK
              : ct__error(CT_ERR_INTERNAL,
                          "%s: layer '%s': cannot write weight '%s' (a duplicate name?)", where,
                          lname, wname);
}

static ct_status write_layer(hid_t root, const char *where, ct_layer *l) {
    const char *lname = ct_layer_name(l);
    int n;
    ct_variable **vars = layer_weights(l, &n);
    if (n < 0) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    char **names = n ? calloc((size_t)n, sizeof *names) : NULL;
    ct_status st = n && !names ? ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where) : CT_OK;
    for (int i = 0; st == CT_OK && i < n; i++)
        if (!(names[i] = keras_weight_name(vars[i])))
            st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    hid_t g = -1;
    if (st == CT_OK && (g = H5Gcreate2(root, lname, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        st = ct__error(CT_ERR_INTERNAL, "%s: cannot create the group of layer '%s'", where, lname);
    if (st == CT_OK) st = write_list_attr(g, where, "weight_names", names, n);
    for (int i = 0; st == CT_OK && i < n; i++) st = write_weight(g, where, lname, names[i], vars[i]);
    if (g >= 0) H5Gclose(g);
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
    free(vars);
    return st;
}

static int cmp_layer_name(const void *a, const void *b) {
    return strcmp(ct_layer_name(*(ct_layer *const *)a), ct_layer_name(*(ct_layer *const *)b));
}

/* fsync of a path (a file, or a directory with O_DIRECTORY). */
static bool sync_path(const char *path, int flags) {
    int fd = open(path, O_RDONLY | flags);
    if (fd < 0) return false;
    bool ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

/* The weights layout (keras_h5.md §1.1) into group g: the root of a
 * weights file, or model_weights of a full-model file. */
static ct_status write_weights_group(hid_t g, ct_model *m, const char *where,
                                     const ct_save_opts *opts) {
    int nl = ct_model_num_layers(m);
    ct_layer **layers = nl ? malloc((size_t)nl * sizeof *layers) : NULL;
    char **names = nl ? malloc((size_t)nl * sizeof *names) : NULL;
    if (nl && (!layers || !names)) {
        free(layers);
        free(names);
        return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    }
    for (int i = 0; i < nl; i++) {
        layers[i] = ct_model_layer_at(m, i);
        names[i] = (char *)ct_layer_name(layers[i]);
    }
    ct_status st = write_list_attr(g, where, "layer_names", names, nl);
    if (st == CT_OK && !write_str_attr(g, "backend", "tensorflow"))
        st = ct__error(CT_ERR_INTERNAL, "%s: cannot write attribute backend", where);
    const char *kv = opts && opts->keras_version ? opts->keras_version : KERAS_VERSION;
    if (st == CT_OK && !write_str_attr(g, "keras_version", kv))
        st = ct__error(CT_ERR_INTERNAL, "%s: cannot write attribute keras_version", where);
    /* Groups in sorted name order, as Keras creates them. */
    if (nl) qsort(layers, (size_t)nl, sizeof *layers, cmp_layer_name);
    for (int i = 0; st == CT_OK && i < nl; i++) st = write_layer(g, where, layers[i]);
    free(layers);
    free(names);
    return st;
}

/* The error set by a call we made, prefixed with where and what (the
 * message is copied first: ct__error writes over it). */
static ct_status with_cause(const char *where, const char *what) {
    ct_status code = ct_last_status() ? ct_last_status() : CT_ERR_INVALID_ARGUMENT;
    char cause[1024];
    snprintf(cause, sizeof cause, "%s", ct_last_error());
    return ct__error(code, "%s: %s: %s", where, what, cause);
}

/* A JSON value from text (NULL with the error set). */
static json_t *parse_json(const char *text, const char *where, const char *what) {
    json_error_t e;
    json_t *j = text ? json_loads(text, 0, &e) : NULL;
    if (!j && text)
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %s is not valid JSON: %s (line %d, column %d)",
                  where, what, e.text, e.line, e.column);
    return j;
}

/* An object's {"class_name", "config"} text as JSON, the text freed. */
static json_t *config_json(char *text, const char *where, const char *what) {
    if (!text) return NULL;
    json_t *j = parse_json(text, where, what);
    free(text);
    return j;
}

/* The metrics compiled on output o, as a list of their configs. */
static json_t *metrics_json(const ct_model *m, int o, const char *where) {
    json_t *list = json_array();
    for (int i = 0; list && i < m->nmetrics; i++) {
        if (m->slots[i].role != CT__TRACK_METRIC || m->slots[i].output != o) continue;
        json_t *c = config_json(ct_metric_get_config(m->metrics[i]), where, "a metric's config");
        /* A metric of a C function (compile's "accuracy" among them) has
         * no config to rebuild it from: its name, as tf.keras 2 writes the
         * user's strings. */
        const json_t *cc = c ? json_object_get(c, "config") : NULL;
        const char *fn = cc ? json_string_value(json_object_get(cc, "fn")) : NULL;
        const char *nm = cc ? json_string_value(json_object_get(cc, "name")) : NULL;
        const char *cls = c ? json_string_value(json_object_get(c, "class_name")) : NULL;
        if (fn && nm && cls && !strcmp(fn, nm) && !strcmp(cls, "MeanMetricWrapper")) {
            json_decref(c);
            c = json_string(ct_metric_name(m->metrics[i]));
        }
        if (!c || json_array_append_new(list, c)) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

/* model.compile's arguments as tf.keras 2's training_config
 * (keras_h5.md §6): losses and metrics as their configs (objects, so that
 * from_logits and the like survive). NULL with the error set. */
static char *training_config(const ct_model *m, const char *where) {
    int nout = ct_model_num_outputs(m);
    json_t *tc = json_object(), *loss = NULL, *metrics = NULL, *lw = json_null(), *opt = NULL;
    bool ok = tc != NULL;
    if (ok && m->loss) {
        ok = (loss = config_json(ct_loss_get_config(m->loss), where, "the loss's config"));
    } else if (ok && m->losses) {
        loss = json_object();
        for (int i = 0; ok && loss && i < nout; i++) {
            json_t *c = m->losses[i] ? config_json(ct_loss_get_config(m->losses[i]), where,
                                                   "a loss's config")
                                     : json_null();
            ok = c && !json_object_set_new(loss, ct_model_output_name(m, i), c);
        }
        ok = ok && loss;
    } else {
        loss = json_null();
    }
    if (ok && nout <= 1) {
        ok = (metrics = metrics_json(m, 0, where));
    } else if (ok) {
        metrics = json_object();
        for (int i = 0; ok && metrics && i < nout; i++) {
            json_t *l = metrics_json(m, i, where);
            ok = l && !json_object_set_new(metrics, ct_model_output_name(m, i), l);
        }
        ok = ok && metrics;
    }
    if (ok && m->loss_weights) {
        json_decref(lw);
        lw = json_array();
        for (int i = 0; lw && i < nout; i++)
            json_array_append_new(lw, json_real(m->loss_weights[i]));
        ok = lw != NULL;
    }
    if (ok) ok = (opt = config_json(ct_optimizer_get_config(m->optimizer), where,
                                    "the optimizer's config"));
    char *text = NULL;
    if (ok) {
        json_object_set_new(tc, "loss", loss);
        json_object_set_new(tc, "metrics", metrics);
        json_object_set_new(tc, "weighted_metrics", json_null());
        json_object_set_new(tc, "loss_weights", lw);
        json_object_set_new(tc, "optimizer_config", opt);
        loss = metrics = lw = opt = NULL;
        text = json_dumps(tc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    json_decref(tc);
    json_decref(loss);
    json_decref(metrics);
    json_decref(lw);
    json_decref(opt);
    if (!text && !ct_last_status())
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory writing training_config", where);
    return text;
}

/* optimizer.variables into group optimizer_weights (weight_names and one
 * dataset per variable, keras_h5.md §1.1). */
static ct_status write_optimizer_weights(hid_t f, const ct_optimizer *o, const char *where) {
    int n = ct_optimizer_num_variables(o);
    char **names = calloc((size_t)(n ? n : 1), sizeof *names);
    ct_status st = names ? CT_OK : ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    for (int i = 0; st == CT_OK && i < n; i++)
        if (!(names[i] = keras_weight_name(ct_optimizer_variable(o, i))))
            st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    hid_t g = -1;
    if (st == CT_OK &&
        (g = H5Gcreate2(f, "optimizer_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        st = ct__error(CT_ERR_INTERNAL, "%s: cannot create group optimizer_weights", where);
    if (st == CT_OK) st = write_list_attr(g, where, "weight_names", names, n);
    for (int i = 0; st == CT_OK && i < n; i++)
        st = write_weight(g, where, "optimizer_weights", names[i], ct_optimizer_variable(o, i));
    if (g >= 0) H5Gclose(g);
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
    return st;
}

/* A full-model file's root (keras_h5.md §1.1): keras_version, backend,
 * model_config, training_config when compiled; model_weights;
 * optimizer_weights once the optimizer has variables. */
static ct_status write_model(hid_t f, ct_model *m, const char *where, const ct_save_opts *opts) {
    char *config = ct_model_to_json(m);
    if (!config) {
        char what[512];
        snprintf(what, sizeof what, "model '%s' has no config", ct_model_name(m));
        return with_cause(where, what);
    }
    char *tc = NULL;
    ct_status st = CT_OK;
    if (m->compiled && m->optimizer && !(tc = training_config(m, where))) st = ct_last_status();
    const char *kv = opts && opts->keras_version ? opts->keras_version : KERAS_VERSION;
    if (st == CT_OK && !write_str_attr_cset(f, "keras_version", kv, H5T_CSET_UTF8))
        st = ct__error(CT_ERR_INTERNAL, "%s: cannot write attribute keras_version", where);
    if (st == CT_OK && !write_str_attr_cset(f, "backend", "tensorflow", H5T_CSET_UTF8))
        st = ct__error(CT_ERR_INTERNAL, "%s: cannot write attribute backend", where);
    if (st == CT_OK && !write_str_attr_cset(f, "model_config", config, H5T_CSET_UTF8))
        st = ct__error(CT_ERR_INTERNAL, "%s: cannot write attribute model_config", where);
    if (st == CT_OK && tc && !write_str_attr_cset(f, "training_config", tc, H5T_CSET_UTF8))
        st = ct__error(CT_ERR_INTERNAL, "%s: cannot write attribute training_config", where);
    hid_t g = -1;
    if (st == CT_OK &&
        (g = H5Gcreate2(f, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        st = ct__error(CT_ERR_INTERNAL, "%s: cannot create group model_weights", where);
    if (st == CT_OK) st = write_weights_group(g, m, where, opts);
    if (g >= 0) H5Gclose(g);
    const ct_optimizer *o = m->compiled ? m->optimizer : NULL;
    if (st == CT_OK && o && (ct_optimizer_num_variables(o) > 1 || ct_optimizer_iterations(o) > 0))
        st = write_optimizer_weights(f, o, where);
    free(config);
    free(tc);
    return st;
}

/* Writes the file at tmp: a weights file, a full-model file, or only
 * extra's groups; optimizer_weights too when asked; the caller renames it. */
static ct_status write_file(ct_model *m, const char *tmp, const char *where,
                            const ct_save_opts *opts, int what, bool optimizer,
                            ct__h5_extra_fn extra, void *ctx) {
    ct_status st = CT_OK;
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) st = ct__error(CT_ERR_INTERNAL, "%s: cannot create '%s'", where, tmp);
    int *fd = NULL; /* the default (sec2) driver's handle is its descriptor */
    hid_t fapl = f >= 0 ? H5Fget_access_plist(f) : -1;
    if (fapl >= 0 && H5Pget_driver(fapl) == H5FD_SEC2 &&
        H5Fget_vfd_handle(f, H5P_DEFAULT, (void **)&fd) >= 0 && fd)
        writeback_fd = *fd;
    if (fapl >= 0) H5Pclose(fapl);
    if (st == CT_OK && what == CT__H5_FULL) st = write_model(f, m, where, opts);
    if (st == CT_OK && what == CT__H5_WEIGHTS) st = write_weights_group(f, m, where, opts);
    const ct_optimizer *o = m && m->compiled ? m->optimizer : NULL;
    /* write_model writes them for a full model. */
    if (st == CT_OK && optimizer && what != CT__H5_FULL && o &&
        (ct_optimizer_num_variables(o) > 1 || ct_optimizer_iterations(o) > 0))
        st = write_optimizer_weights(f, o, where);
    if (st == CT_OK && extra) st = extra(f, ctx);
    writeback_fd = -1;
    if (f >= 0) {
        if (st == CT_OK && H5Fflush(f, H5F_SCOPE_GLOBAL) < 0)
            st = ct__error(CT_ERR_INTERNAL, "%s: cannot flush '%s'", where, tmp);
        if (H5Fclose(f) < 0 && st == CT_OK)
            st = ct__error(CT_ERR_INTERNAL, "%s: cannot close '%s'", where, tmp);
    }
    return st;
}

static ct_status write_atomic(ct_model *m, const char *path, const char *where,
                             const ct_save_opts *opts, int what, bool optimizer,
                             ct__h5_extra_fn extra, void *ctx) {
    if (m && !ct_layer_built(ct_model_layer(m)))
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: model '%s' is not built (build or call it first)", where,
                         ct_model_name(m));
    size_t cap = strlen(path) + 32;
    char *tmp = malloc(cap);
    if (!tmp) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    snprintf(tmp, cap, "%s.tmp-%ld", path, (long)getpid());
    ct_status st = write_file(m, tmp, where, opts, what, optimizer, extra, ctx);
    if (st == CT_OK && !sync_path(tmp, 0))
        st = ct__error(CT_ERR_INTERNAL, "%s: fsync of '%s' failed: %s", where, tmp,
                       strerror(errno));
    if (st == CT_OK && rename(tmp, path) != 0)
        st = ct__error(CT_ERR_INTERNAL, "%s: cannot rename '%s' to it: %s", where, tmp,
                       strerror(errno));
    if (st != CT_OK) {
        unlink(tmp);
        free(tmp);
        return st;
    }
    /* The rename is durable once the directory is synced. */
    char *dir = strdup(path);
    if (dir) {
        sync_path(dirname(dir), O_DIRECTORY);
        free(dir);
    }
    free(tmp);
    return CT_OK;
}

ct_status ct__h5_write_atomic(ct_model *m, const char *path, const char *where, int what,
                              bool optimizer, ct__h5_extra_fn extra, void *ctx) {
    ct_status st;
    QUIET_HDF5(write_atomic(m, path, where, NULL, what, optimizer, extra, ctx));
    return st;
}

static ct_status save_file(ct_model *m, const char *path, const ct_save_opts *opts, bool full) {
    char where[4200];
    snprintf(where, sizeof where, "%s: '%s'", full ? "ct_model_save" : "ct_model_save_weights",
             path);
    return write_atomic(m, path, where, opts, full ? CT__H5_FULL : CT__H5_WEIGHTS, false, NULL,
                        NULL);
}

/* ---- reading -------------------------------------------------------------------------------- */

/* Reads a 1-D (or scalar) string attribute into out (appending). An empty
 * non-string array (Keras's empty list) gives nothing. */
static ct_status read_str_array(hid_t obj, const char *name, const char *where, strlist *out) {
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: cannot open attribute %s", where, name);
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a), mt = -1;
    hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    ct_status st = CT_OK;
    if (t < 0 || np < 0) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: cannot read attribute %s", where, name);
    } else if (H5Tget_class(t) != H5T_STRING) {
        if (np != 0)
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "%s: attribute %s is not a list of strings", where, name);
    } else if (np > 0) {
        char **grown = realloc(out->s, (size_t)(out->n + np) * sizeof *grown);
        if (!grown) st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
        else out->s = grown;
        if (st == CT_OK && H5Tis_variable_str(t) > 0) {
            char **v = calloc((size_t)np, sizeof *v);
            mt = H5Tcopy(H5T_C_S1);
            /* The file's character set: HDF5 converts no ASCII <-> UTF-8. */
            if (!v || mt < 0 || H5Tset_size(mt, H5T_VARIABLE) < 0 ||
                H5Tset_cset(mt, H5Tget_cset(t)) < 0 || H5Aread(a, mt, v) < 0) {
                st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: cannot read attribute %s", where, name);
            } else {
                for (hssize_t i = 0; i < np; i++) out->s[out->n++] = strdup(v[i] ? v[i] : "");
                H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v);
            }
            free(v);
        } else if (st == CT_OK) {
            size_t size = H5Tget_size(t);
            char *buf = size ? malloc((size_t)np * size) : NULL;
            mt = H5Tcopy(t);
            if (!buf || mt < 0 || H5Aread(a, mt, buf) < 0) {
                st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: cannot read attribute %s", where, name);
            } else {
                bool spaces = H5Tget_strpad(t) == H5T_STR_SPACEPAD;
                for (hssize_t i = 0; i < np; i++) {
                    const char *s = buf + (size_t)i * size;
                    size_t len = strnlen(s, size);
                    while (spaces && len && s[len - 1] == ' ') len--;
                    out->s[out->n++] = strndup(s, len);
                }
            }
            free(buf);
        }
        for (int i = 0; st == CT_OK && i < out->n; i++)
            if (!out->s[i]) st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    }
    if (mt >= 0) H5Tclose(mt);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    return st;
}

/* Keras's load_attributes_from_hdf5_group: <name>, or the chunks <name>0,
 * <name>1, ... until one is missing. *found tells whether any was there. */
static ct_status read_list_attr(hid_t obj, const char *name, const char *where, strlist *out,
                                bool *found) {
    *found = false;
    if (H5Aexists(obj, name) > 0) {
        *found = true;
        return read_str_array(obj, name, where, out);
    }
    for (int c = 0;; c++) {
        char cname[128];
        snprintf(cname, sizeof cname, "%s%d", name, c);
        if (H5Aexists(obj, cname) <= 0) return CT_OK;
        *found = true;
        ct_status st = read_str_array(obj, cname, where, out);
        if (st != CT_OK) return st;
    }
}

/* One layer group of the file: its name and weight names. */
typedef struct file_layer {
    char *name;
    strlist weights;
} file_layer;

/* A weight read and checked, waiting to be assigned. */
typedef struct pending {
    ct_variable *var;
    ct_tensor *value;
} pending;

typedef struct loader {
    const char *where;
    hid_t wg; /* the weights group (the root, or model_weights) */
    pending *p;
    int np, cap;
    bool skip_mismatch;
} loader;

/* Reads dataset wname of file layer fl for variable v: *value is the
 * tensor (in the current scope), or NULL when the shapes differ (then
 * *mismatch is set and so is the error unless skip). */
static ct_status read_weight(loader *ld, const file_layer *fl, const char *mlname, int idx,
                             const char *wname, ct_variable *v, ct_tensor **value,
                             bool *mismatch) {
    *value = NULL;
    *mismatch = false;
    hid_t g = H5Gopen2(ld->wg, fl->name, H5P_DEFAULT);
    hid_t d = g >= 0 ? H5Dopen2(g, wname, H5P_DEFAULT) : -1;
    if (d < 0) {
        if (g >= 0) H5Gclose(g);
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: layer '%s': the weight '%s' listed in weight_names is not in the file",
                         ld->where, fl->name, wname);
    }
    ct_status st = CT_OK;
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t dims[CT_MAX_RANK];
    int64_t fshape[CT_MAX_RANK];
    ct_tensor *cur = ct_variable_value(v);
    int mrank = ct_tensor_rank(cur);
    const int64_t *mshape = ct_tensor_shape(cur);
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    if (t < 0 || rank < 0) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: layer '%s', weight '%s': cannot read it",
                       ld->where, fl->name, wname);
    } else if (rank > CT_MAX_RANK) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: layer '%s', weight '%s': rank %d is over ctrain's %d", ld->where,
                       fl->name, wname, rank, CT_MAX_RANK);
    } else if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: layer '%s', weight '%s': the dataset is not numeric", ld->where,
                       fl->name, wname);
    }
    if (st == CT_OK) {
        H5Sget_simple_extent_dims(sp, dims, NULL);
        for (int i = 0; i < rank; i++) fshape[i] = (int64_t)dims[i];
        bool same = rank == mrank;
        for (int i = 0; same && i < rank; i++) same = fshape[i] == mshape[i];
        if (!same) {
            char a[128], b[128];
            shape_str(rank, fshape, a, sizeof a);
            shape_str(mrank, mshape, b, sizeof b);
            *mismatch = true;
            if (ld->skip_mismatch)
                fprintf(stderr,
                        "WARNING: %s: skipping weight #%d '%s' of layer '%s': the file's shape %s "
                        "does not match the model's %s (weight '%s')\n",
                        ld->where, idx, wname, mlname, a, b, ct_variable_name(v));
            else
                st = ct__error(CT_ERR_INVALID_ARGUMENT,
                               "%s: layer '%s' (file layer '%s'), weight #%d '%s': the file's "
                               "shape %s does not match the model's %s (weight '%s')",
                               ld->where, mlname, fl->name, idx, wname, a, b, ct_variable_name(v));
        }
    }
    if (st == CT_OK && !*mismatch) {
        ct_dtype vdt = ct_tensor_dtype(cur), as;
        hid_t file_t, mem_t;
        storage_types(vdt, &file_t, &mem_t, &as);
        int64_t size = 1;
        for (int i = 0; i < rank; i++) size *= fshape[i];
        /* On the CPU, HDF5 reads into the new tensor's own memory; a
         * device's weight goes through host memory. */
        ct_device *dev = ct_default_device();
        ct_tensor *x = NULL; /* owned until scoped */
        void *host = NULL;
        if (ct_device_kind_of(dev) == CT_DEVICE_CPU) {
            if (!(x = ct__tensor_alloc(dev, as, rank, fshape, ld->where))) st = ct_last_status();
        } else if (!(host = malloc(size ? (size_t)size * ct_dtype_size(as) : 1))) {
            st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", ld->where);
        }
        if (st == CT_OK && size &&
            H5Dread(d, mem_t, H5S_ALL, H5S_ALL, H5P_DEFAULT, x ? ct__data(x) : host) < 0)
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "%s: layer '%s', weight '%s': cannot read its data (is the file cut "
                           "short or damaged?)",
                           ld->where, fl->name, wname);
        if (st == CT_OK) {
            ct_tensor *val = x ? ct__scoped(x) : ct_constant(host, as, rank, fshape);
            x = NULL;
            if (val && as != vdt) val = ct_cast(val, vdt);
            if (!val) st = ct_last_status();
            *value = val;
        }
        if (x) ct__tensor_release(x);
        free(host);
    }
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    H5Dclose(d);
    H5Gclose(g);
    return st;
}

static ct_status add_pending(loader *ld, ct_variable *v, ct_tensor *x) {
    if (ld->np == ld->cap) {
        int cap = ld->cap ? 2 * ld->cap : 16;
        pending *p = realloc(ld->p, (size_t)cap * sizeof *p);
        if (!p) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", ld->where);
        ld->p = p;
        ld->cap = cap;
    }
    ld->p[ld->np++] = (pending){v, x};
    return CT_OK;
}

/* Pairs file layer fl with model layer l (weights by position). */
static ct_status load_layer(loader *ld, const file_layer *fl, ct_layer *l, int k) {
    int n;
    ct_variable **vars = layer_weights(l, &n);
    if (n < 0) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", ld->where);
    const char *mlname = ct_layer_name(l);
    ct_status st = CT_OK;
    if (n != fl->weights.n) {
        if (ld->skip_mismatch) {
            fprintf(stderr,
                    "WARNING: %s: skipping layer #%d '%s' (%s): it has %d weights, the file's "
                    "layer '%s' %d\n",
                    ld->where, k, mlname, ct_layer_class_name(l), n, fl->name, fl->weights.n);
        } else {
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "%s: layer #%d '%s' (%s) has %d weights, but the file's layer '%s' "
                           "has %d",
                           ld->where, k, mlname, ct_layer_class_name(l), n, fl->name,
                           fl->weights.n);
        }
        free(vars);
        return st;
    }
    for (int i = 0; st == CT_OK && i < n; i++) {
        ct_tensor *x;
        bool mismatch;
        st = read_weight(ld, fl, mlname, i, fl->weights.s[i], vars[i], &x, &mismatch);
        if (st == CT_OK && x) st = add_pending(ld, vars[i], x);
    }
    free(vars);
    return st;
}

static ct_status load_all(loader *ld, ct_model *m, const ct_load_opts *o, file_layer *fls,
                          int nfl) {
    int nl = ct_model_num_layers(m);
    ct_status st = CT_OK;
    if (o->by_name) {
        for (int k = 0; st == CT_OK && k < nfl; k++)
            for (int i = 0; st == CT_OK && i < nl; i++) {
                ct_layer *l = ct_model_layer_at(m, i);
                if (!strcmp(ct_layer_name(l), fls[k].name)) st = load_layer(ld, &fls[k], l, i);
            }
        return st;
    }
    /* By position: the layers with weights on both sides. */
    int nm = 0, nf = 0;
    for (int i = 0; i < nl; i++) nm += ct_layer_num_weights(ct_model_layer_at(m, i)) > 0;
    for (int k = 0; k < nfl; k++) nf += fls[k].weights.n > 0;
    if (nm != nf)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: the file has %d layers with weights, but model '%s' has %d (load by "
                         "order pairs them by position; by_name pairs them by name)",
                         ld->where, nf, ct_model_name(m), nm);
    int k = 0;
    for (int i = 0; st == CT_OK && i < nl; i++) {
        ct_layer *l = ct_model_layer_at(m, i);
        if (ct_layer_num_weights(l) == 0) continue;
        while (fls[k].weights.n == 0) k++;
        st = load_layer(ld, &fls[k], l, i);
        k++;
    }
    return st;
}

static ct_status load_weights(ct_model *m, const char *path, const ct_load_opts *o,
                              const char *who) {
    char where[4200];
    snprintf(where, sizeof where, "%s: '%s'", who, path);
    if (o->skip_mismatch && !o->by_name)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: skip_mismatch can only be set when by_name is set (as Keras)", where);
    if (!ct_layer_built(ct_model_layer(m)))
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: model '%s' is not built (build or call it first)", where,
                         ct_model_name(m));
    if (access(path, R_OK) != 0)
        return ct__error(CT_ERR_NOT_FOUND, "%s: cannot read it: %s", where, strerror(errno));
    if (H5Fis_hdf5(path) <= 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: not an HDF5 file (or one cut short)", where);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: HDF5 cannot open it (is it cut short or damaged?)", where);
    loader ld = {.where = where, .wg = -1, .skip_mismatch = o->skip_mismatch};
    strlist lnames = {0};
    file_layer *fls = NULL;
    int nfl = 0;
    ct_status st = CT_OK;
    bool found = false;
    if (H5Aexists(f, "layer_names") > 0 || H5Aexists(f, "layer_names0") > 0) {
        ld.wg = H5Gopen2(f, "/", H5P_DEFAULT);
    } else if (H5Lexists(f, "model_weights", H5P_DEFAULT) > 0) {
        ld.wg = H5Gopen2(f, "model_weights", H5P_DEFAULT);
    } else {
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: not a Keras weights file (no layer_names attribute at the root and no "
                       "model_weights group)",
                       where);
    }
    if (st == CT_OK && ld.wg < 0)
        st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: cannot open the weights group", where);
    if (st == CT_OK) st = read_list_attr(ld.wg, "layer_names", where, &lnames, &found);
    if (st == CT_OK && !found)
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: not a Keras weights file (model_weights has no layer_names)", where);
    if (st == CT_OK && lnames.n && !(fls = calloc((size_t)lnames.n, sizeof *fls)))
        st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    for (int k = 0; st == CT_OK && k < lnames.n; k++, nfl++) {
        fls[k].name = lnames.s[k];
        if (H5Lexists(ld.wg, fls[k].name, H5P_DEFAULT) <= 0) {
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "%s: layer '%s' is listed in layer_names but has no group", where,
                           fls[k].name);
            break;
        }
        hid_t g = H5Gopen2(ld.wg, fls[k].name, H5P_DEFAULT);
        if (g < 0) {
            st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: cannot open the group of layer '%s'",
                           where, fls[k].name);
            break;
        }
        char lwhere[4500];
        snprintf(lwhere, sizeof lwhere, "%s: layer '%s'", where, fls[k].name);
        st = read_list_attr(g, "weight_names", lwhere, &fls[k].weights, &found);
        H5Gclose(g);
    }
    ct_scope_begin();
    if (st == CT_OK) st = load_all(&ld, m, o, fls, nfl);
    /* Everything fits: assign. */
    for (int i = 0; st == CT_OK && i < ld.np; i++)
        st = ct_variable_assign(ld.p[i].var, ld.p[i].value);
    ct_scope_end();
    for (int k = 0; k < nfl; k++) strlist_free(&fls[k].weights);
    free(fls);
    strlist_free(&lnames); /* the names fls borrowed */
    free(ld.p);
    if (ld.wg >= 0) H5Gclose(ld.wg);
    H5Fclose(f);
    return st;
}

/* ---- full-model files (model.save / keras.models.load_model) ------------------------------- */

/* A scalar string attribute of f into *out (malloc'ed); NULL when absent. */
static ct_status read_scalar_str(hid_t f, const char *name, const char *where, char **out) {
    *out = NULL;
    if (H5Aexists(f, name) <= 0) return CT_OK;
    strlist l = {0};
    ct_status st = read_str_array(f, name, where, &l);
    if (st == CT_OK && l.n != 1)
        st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: attribute %s is not one string", where, name);
    if (st == CT_OK) {
        *out = l.s[0];
        l.s[0] = NULL;
    }
    strlist_free(&l);
    return st;
}


/* Builds the optimizer's state for m's trainable variables and sets it
 * from group optimizer_weights (by position, as Keras); checks the count
 * and every shape before it assigns anything. */
static ct_status load_optimizer_weights(ct_model *m, hid_t f, const char *where) {
    ct_optimizer *o = m->optimizer;
    int nv;
    ct_variable **vars = ct__model_variables(m, CT__VARS_TRAINABLE, &nv);
    if (nv < 0) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    ct_status st = ct__optimizer_build(o, nv, vars);
    free(vars);
    if (st != CT_OK) return st;
    file_layer fl = {.name = "optimizer_weights"};
    hid_t g = H5Gopen2(f, "optimizer_weights", H5P_DEFAULT);
    bool found = false;
    if (g < 0)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: cannot open group optimizer_weights",
                         where);
    st = read_list_attr(g, "weight_names", where, &fl.weights, &found);
    H5Gclose(g);
    int n = ct_optimizer_num_variables(o);
    if (st == CT_OK && !found)
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: group optimizer_weights has no weight_names attribute", where);
    if (st == CT_OK && fl.weights.n != n) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: optimizer_weights holds %d variables, but the optimizer rebuilt "
                       "from training_config has %d for the %d trainable weights of model '%s'",
                       where, fl.weights.n, n, nv, ct_model_name(m));
    }
    loader ld = {.where = where, .wg = f};
    ct_scope_begin();
    for (int i = 0; st == CT_OK && i < n; i++) {
        ct_tensor *x;
        bool mismatch;
        ct_variable *v = ct_optimizer_variable(o, i);
        st = read_weight(&ld, &fl, "optimizer", i, fl.weights.s[i], v, &x, &mismatch);
        if (st == CT_OK && x) st = add_pending(&ld, v, x);
    }
    for (int i = 0; st == CT_OK && i < ld.np; i++)
        st = ct_variable_assign(ld.p[i].var, ld.p[i].value);
    ct_scope_end();
    free(ld.p);
    strlist_free(&fl.weights);
    return st;
}

/* A metric list of training_config: names (borrowed from the JSON; they
 * go through compile's name resolution, "accuracy" included) and configs
 * (made into objects, which compile takes). */
typedef struct metric_set {
    int nnames, nobjs;
    const char **names;
    ct_metric **objs;
} metric_set;

static void metric_set_free(metric_set *ms, bool objs_too) {
    for (int i = 0; objs_too && i < ms->nobjs; i++) ct_metric_free(ms->objs[i]);
    free(ms->objs);
    free(ms->names);
    *ms = (metric_set){0};
}

static ct_status make_metrics(const json_t *list, const char *where, metric_set *ms) {
    *ms = (metric_set){0};
    if (!list || json_is_null(list)) return CT_OK;
    if (!json_is_array(list))
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: training_config: metrics must be a list (or a dict of lists)", where);
    size_t k = json_array_size(list);
    ms->names = calloc(k ? k : 1, sizeof *ms->names);
    ms->objs = calloc(k ? k : 1, sizeof *ms->objs);
    if (!ms->names || !ms->objs) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    for (size_t i = 0; i < k; i++) {
        const json_t *e = json_array_get(list, i);
        if (json_is_string(e)) {
            ms->names[ms->nnames++] = json_string_value(e);
            continue;
        }
        char *text = json_dumps(e, JSON_COMPACT);
        ct_metric *mt = text ? ct_metric_from_config(text) : NULL;
        free(text);
        if (!mt) {
            char what[64];
            snprintf(what, sizeof what, "training_config: metric #%zu", i);
            return with_cause(where, what);
        }
        ms->objs[ms->nobjs++] = mt;
    }
    return CT_OK;
}

static ct_loss *make_loss(const json_t *j, const char *where) {
    ct_loss *l = NULL;
    if (json_is_string(j)) {
        l = ct_loss_new(json_string_value(j), NULL);
    } else if (json_is_object(j)) {
        char *text = json_dumps(j, JSON_COMPACT);
        l = text ? ct_loss_from_config(text) : NULL;
        free(text);
    } else {
        ct__error(CT_ERR_INVALID_ARGUMENT, "loss must be a name or a config");
    }
    if (!l) with_cause(where, "training_config");
    return l;
}

/* model.compile(**training_config). The objects made are the model's
 * once compile has them (also when it fails); the rest are freed here. */
static ct_status compile_from(ct_model *m, const char *text, const char *where) {
    json_t *tc = parse_json(text, where, "training_config");
    if (!tc) return ct_last_status();
    int nout = ct_model_num_outputs(m);
    ct_status st = CT_OK;
    ct_compile_opts co = {0};
    ct_loss **losses = NULL;
    double *lw = NULL;
    metric_set all = {0}, *per = NULL;
    ct_output_metrics *om = NULL;
    const json_t *oc = json_object_get(tc, "optimizer_config");
    if (!json_is_object(tc) || !json_is_object(oc)) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: training_config has no optimizer_config object", where);
    } else {
        char *ot = json_dumps(oc, JSON_COMPACT);
        co.optimizer_obj = ot ? ct_optimizer_from_config(ot) : NULL;
        free(ot);
        if (!co.optimizer_obj) st = with_cause(where, "training_config");
    }
    const json_t *loss = json_object_get(tc, "loss");
    if (st == CT_OK && json_is_object(loss) && !json_object_get(loss, "class_name")) {
        /* {output: loss}: one per output, by name. */
        co.nlosses = nout;
        if (!(losses = calloc((size_t)nout, sizeof *losses)))
            st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
        for (int i = 0; st == CT_OK && i < nout; i++) {
            const json_t *e = json_object_get(loss, ct_model_output_name(m, i));
            if (e && !json_is_null(e) && !(losses[i] = make_loss(e, where))) st = ct_last_status();
        }
        co.loss_objs = losses;
    } else if (st == CT_OK && json_is_array(loss)) {
        co.nlosses = (int)json_array_size(loss);
        if (co.nlosses != nout)
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "%s: training_config: %d losses for %d outputs", where, co.nlosses,
                           nout);
        else if (!(losses = calloc((size_t)nout, sizeof *losses)))
            st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
        for (int i = 0; st == CT_OK && i < nout; i++) {
            const json_t *e = json_array_get(loss, (size_t)i);
            if (!json_is_null(e) && !(losses[i] = make_loss(e, where))) st = ct_last_status();
        }
        co.loss_objs = losses;
    } else if (st == CT_OK && loss && !json_is_null(loss)) {
        if (!(co.loss_obj = make_loss(loss, where))) st = ct_last_status();
    }
    const json_t *w = json_object_get(tc, "loss_weights");
    if (st == CT_OK && json_is_array(w)) {
        if ((int)json_array_size(w) != nout)
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "%s: training_config: %zu loss_weights for %d outputs", where,
                           json_array_size(w), nout);
        else if (!(lw = calloc((size_t)nout, sizeof *lw)))
            st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
        for (int i = 0; st == CT_OK && i < nout; i++)
            lw[i] = json_number_value(json_array_get(w, (size_t)i));
        co.loss_weights = lw;
    } else if (st == CT_OK && json_is_object(w)) {
        if (!(lw = calloc((size_t)nout, sizeof *lw)))
            st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
        for (int i = 0; st == CT_OK && i < nout; i++) {
            const json_t *e = json_object_get(w, ct_model_output_name(m, i));
            lw[i] = e ? json_number_value(e) : 1.0;
        }
        co.loss_weights = lw;
    }
    const json_t *mj = json_object_get(tc, "metrics");
    if (st == CT_OK && json_is_object(mj)) {
        om = calloc((size_t)nout, sizeof *om);
        per = calloc((size_t)nout, sizeof *per);
        if (!om || !per) st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
        for (int i = 0; st == CT_OK && i < nout; i++) {
            st = make_metrics(json_object_get(mj, ct_model_output_name(m, i)), where, &per[i]);
            om[co.noutput_metrics++] = (ct_output_metrics){.output = ct_model_output_name(m, i),
                                                           .nmetrics = per[i].nnames,
                                                           .metrics = per[i].names,
                                                           .nmetric_objs = per[i].nobjs,
                                                           .metric_objs = per[i].objs};
        }
        co.output_metrics = om;
    } else if (st == CT_OK) {
        st = make_metrics(mj, where, &all);
        co.nmetrics = all.nnames;
        co.metrics = all.names;
        co.nmetric_objs = all.nobjs;
        co.metric_objs = all.objs;
    }
    bool given = st == CT_OK;
    if (st == CT_OK) {
        st = ct_model_compile(m, &co); /* takes (or frees) the objects */
        if (st != CT_OK) st = with_cause(where, "compiling with training_config");
    } else {
        ct_optimizer_free(co.optimizer_obj);
        ct_loss_free(co.loss_obj);
        for (int i = 0; losses && i < nout; i++) ct_loss_free(losses[i]);
    }
    metric_set_free(&all, !given);
    for (int i = 0; per && i < nout; i++) metric_set_free(&per[i], !given);
    free(per);
    free(om);
    free(lw);
    free(losses);
    json_decref(tc);
    return st;
}

static ct_model *load_model(const char *path, const ct_load_model_opts *o) {
    char where[4200];
    snprintf(where, sizeof where, "ct_model_load: '%s'", path);
    if (access(path, R_OK) != 0) {
        ct__error(CT_ERR_NOT_FOUND, "%s: cannot read it: %s", where, strerror(errno));
        return NULL;
    }
    if (H5Fis_hdf5(path) <= 0) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: not an HDF5 file (or one cut short)", where);
        return NULL;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: HDF5 cannot open it (is it cut short or damaged?)",
                  where);
        return NULL;
    }
    char *config = NULL, *tc = NULL;
    ct_model *m = NULL;
    ct_status st = read_scalar_str(f, "model_config", where, &config);
    if (st == CT_OK && !config) {
        bool weights = H5Aexists(f, "layer_names") > 0 || H5Aexists(f, "layer_names0") > 0;
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       weights ? "%s: no model_config: a weights file; build the model and use "
                                 "ct_model_load_weights"
                               : "%s: no model_config attribute: not a Keras model file",
                       where);
    }
    if (st == CT_OK && H5Lexists(f, "model_weights", H5P_DEFAULT) <= 0)
        st = ct__error(CT_ERR_INVALID_ARGUMENT, "%s: no model_weights group", where);
    if (st == CT_OK && o->compile) st = read_scalar_str(f, "training_config", where, &tc);
    if (st == CT_OK) {
        json_t *j = parse_json(config, where, "model_config");
        json_decref(j);
        if (!j) st = ct_last_status();
    }
    if (st == CT_OK && !(m = ct_model_from_json(config))) st = with_cause(where, "model_config");
    if (st == CT_OK && !ct_layer_built(ct_model_layer(m)))
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: the model of model_config ('%s') has no input shape to build it with",
                       where, ct_model_name(m));
    if (st == CT_OK) st = load_weights(m, path, &(ct_load_opts){0}, "ct_model_load");
    if (st == CT_OK && tc) st = compile_from(m, tc, where);
    if (st == CT_OK && tc && H5Lexists(f, "optimizer_weights", H5P_DEFAULT) > 0)
        st = load_optimizer_weights(m, f, where);
    free(config);
    free(tc);
    H5Fclose(f);
    if (st != CT_OK && m) {
        ct_model_free(m);
        m = NULL;
    }
    return m;
}

/* ---- public API ------------------------------------------------------------------------------- */

static ct_status load_model_state(ct_model *m, const char *path, const char *where) {
    ct_status st = load_weights(m, path, &(ct_load_opts){0}, where);
    if (st != CT_OK || !m->compiled || !m->optimizer) return st;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: '%s': HDF5 cannot open it", where, path);
    char fwhere[4200];
    snprintf(fwhere, sizeof fwhere, "%s: '%s'", where, path);
    if (H5Lexists(f, "optimizer_weights", H5P_DEFAULT) > 0)
        st = load_optimizer_weights(m, f, fwhere);
    H5Fclose(f);
    return st;
}

ct_status ct__h5_load_model_state(ct_model *m, const char *path, const char *where) {
    ct_status st;
    QUIET_HDF5(load_model_state(m, path, where));
    return st;
}

ct_status ct_model_save_weights(ct_model *m, const char *path, const ct_save_opts *opts) {
    if (!m || !path)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_model_save_weights: the %s is NULL",
                         m ? "path" : "model");
    ct_status st;
    QUIET_HDF5(save_file(m, path, opts, false));
    return st;
}

ct_status ct_model_load_weights(ct_model *m, const char *path, const ct_load_opts *opts) {
    if (!m || !path)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_model_load_weights: the %s is NULL",
                         m ? "path" : "model");
    ct_load_opts o = opts ? *opts : (ct_load_opts){0};
    ct_status st;
    QUIET_HDF5(load_weights(m, path, &o, "ct_model_load_weights"));
    return st;
}

ct_status ct_model_save(ct_model *m, const char *path, const ct_save_opts *opts) {
    if (!m || !path)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_model_save: the %s is NULL",
                         m ? "path" : "model");
    ct_status st;
    QUIET_HDF5(save_file(m, path, opts, true));
    return st;
}

ct_model *ct_model_load(const char *path, const ct_load_model_opts *opts) {
    if (!path) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_model_load: the path is NULL");
        return NULL;
    }
    ct_load_model_opts o = opts ? *opts : (ct_load_model_opts){.compile = true};
    ct_model *m = NULL;
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    m = load_model(path, &o);
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    return m;
}

bool ct__h5_write_str(hid_t obj, const char *name, const char *value) {
    return write_str_attr_cset(obj, name, value, H5T_CSET_UTF8);
}

ct_status ct__h5_read_str(hid_t obj, const char *name, const char *where, char **out) {
    return read_scalar_str(obj, name, where, out);
}
