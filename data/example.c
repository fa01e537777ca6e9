/*
 * tf.train.Example: a builder that serializes with protobuf-c (our
 * proto/example.proto, TensorFlow's field numbers) and
 * tf.io.parse_single_example with FixedLen and VarLen features.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "data/internal.h"
#include "proto/example.pb-c.h"

static const char PARSE_API[] = "ct_parse_example";

/* ---- builder ------------------------------------------------------------------ */

typedef struct {
    char *key;
    Tensorflow__Feature__KindCase kind;
    size_t n, cap;   /* values                                     */
    void *v;         /* float[], int64_t[] or ProtobufCBinaryData[] */
} ex_feature;

struct ct_example {
    size_t n, cap;
    ex_feature *f;
};

static const char *kind_name(Tensorflow__Feature__KindCase k) {
    switch (k) {
    case TENSORFLOW__FEATURE__KIND_BYTES_LIST: return "bytes_list";
    case TENSORFLOW__FEATURE__KIND_FLOAT_LIST: return "float_list";
    case TENSORFLOW__FEATURE__KIND_INT64_LIST: return "int64_list";
    default: return "no list";
    }
}

ct_example *ct_example_new(void) {
    ct_example *ex = calloc(1, sizeof *ex);
    if (!ex) ct__error(CT_ERR_OUT_OF_MEMORY, "ct_example_new: out of memory");
    return ex;
}

void ct_example_free(ct_example *ex) {
    if (!ex) return;
    for (size_t i = 0; i < ex->n; i++) {
        ex_feature *f = &ex->f[i];
        if (f->kind == TENSORFLOW__FEATURE__KIND_BYTES_LIST)
            for (size_t j = 0; j < f->n; j++) free(((ProtobufCBinaryData *)f->v)[j].data);
        free(f->v);
        free(f->key);
    }
    free(ex->f);
    free(ex);
}

/* The feature `key` of kind `kind` with room for `more` values (created
 * when new); NULL with an error naming api and the key. */
static ex_feature *ex_reserve(ct_example *ex, const char *api, const char *key,
                              Tensorflow__Feature__KindCase kind, int64_t more, size_t elem) {
    if (!ex || !key) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the %s is NULL", api, ex ? "key" : "example");
        return NULL;
    }
    if (more < 0) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: feature '%s': %" PRId64 " values (expected >= 0)",
                  api, key, more);
        return NULL;
    }
    ex_feature *f = NULL;
    for (size_t i = 0; i < ex->n && !f; i++)
        if (strcmp(ex->f[i].key, key) == 0) f = &ex->f[i];
    if (f && f->kind != kind) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s: feature '%s' already holds a %s; cannot add %s values to it", api, key,
                  kind_name(f->kind), kind_name(kind));
        return NULL;
    }
    if (!f) {
        if (ex->n == ex->cap) {
            size_t cap = ex->cap ? ex->cap * 2 : 8;
            ex_feature *nf = realloc(ex->f, cap * sizeof *nf);
            if (!nf) goto oom;
            ex->f = nf;
            ex->cap = cap;
        }
        char *k = strdup(key);
        if (!k) goto oom;
        f = &ex->f[ex->n++];
        *f = (ex_feature){.key = k, .kind = kind};
    }
    if ((uint64_t)more > SIZE_MAX / elem - f->n) goto oom;
    if (f->n + (size_t)more > f->cap) {
        size_t cap = f->cap ? f->cap : 4;
        size_t need = f->n + (size_t)more;
        while (cap < need) cap = cap > SIZE_MAX / 2 / elem ? need : cap * 2;
        void *v = realloc(f->v, cap * elem);
        if (!v) goto oom;
        f->v = v;
        f->cap = cap;
    }
    return f;
oom:
    ct__error(CT_ERR_OUT_OF_MEMORY, "%s: feature '%s': out of memory", api, key);
    return NULL;
}

ct_status ct_example_add_floats(ct_example *ex, const char *key, const float *values, int64_t n) {
    const char *api = "ct_example_add_floats";
    if (n > 0 && !values)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: feature '%s': values is NULL", api,
                         key ? key : "(null)");
    ex_feature *f = ex_reserve(ex, api, key, TENSORFLOW__FEATURE__KIND_FLOAT_LIST, n,
                               sizeof(float));
    if (!f) return ct_last_status();
    if (n) memcpy((float *)f->v + f->n, values, (size_t)n * sizeof(float));
    f->n += (size_t)n;
    return CT_OK;
}

ct_status ct_example_add_int64s(ct_example *ex, const char *key, const int64_t *values,
                                int64_t n) {
    const char *api = "ct_example_add_int64s";
    if (n > 0 && !values)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: feature '%s': values is NULL", api,
                         key ? key : "(null)");
    ex_feature *f = ex_reserve(ex, api, key, TENSORFLOW__FEATURE__KIND_INT64_LIST, n,
                               sizeof(int64_t));
    if (!f) return ct_last_status();
    if (n) memcpy((int64_t *)f->v + f->n, values, (size_t)n * sizeof(int64_t));
    f->n += (size_t)n;
    return CT_OK;
}

ct_status ct_example_add_bytes(ct_example *ex, const char *key, int64_t n,
                               const void *const *values, const size_t *lens) {
    const char *api = "ct_example_add_bytes";
    if (n > 0 && (!values || !lens))
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: feature '%s': %s is NULL", api,
                         key ? key : "(null)", values ? "lens" : "values");
    for (int64_t i = 0; i < n; i++)
        if (!values[i] && lens[i])
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: feature '%s': value %" PRId64 " is NULL (%zu bytes)", api,
                             key ? key : "(null)", i, lens[i]);
    ex_feature *f = ex_reserve(ex, api, key, TENSORFLOW__FEATURE__KIND_BYTES_LIST, n,
                               sizeof(ProtobufCBinaryData));
    if (!f) return ct_last_status();
    ProtobufCBinaryData *b = (ProtobufCBinaryData *)f->v + f->n;
    for (int64_t i = 0; i < n; i++) {
        b[i].len = lens[i];
        b[i].data = malloc(lens[i] ? lens[i] : 1);
        if (!b[i].data) {
            for (int64_t j = 0; j < i; j++) free(b[j].data);
            return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: feature '%s': out of memory", api, key);
        }
        if (lens[i]) memcpy(b[i].data, values[i], lens[i]);
    }
    f->n += (size_t)n;
    return CT_OK;
}

static int cmp_feature_key(const void *a, const void *b) {
    const ex_feature *fa = *(ex_feature *const *)a, *fb = *(ex_feature *const *)b;
    return strcmp(fa->key, fb->key);
}

ct_status ct_example_serialize(const ct_example *ex, void **buf, size_t *len) {
    const char *api = "ct_example_serialize";
    if (!ex || !buf || !len)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", api,
                         !ex ? "the example" : !buf ? "buf" : "len");
    *buf = NULL;
    *len = 0;
    size_t n = ex->n;
    /* Messages pointing at the builder's arrays (nothing copied), entries
     * in byte order of their keys: protobuf's deterministic form. */
    ex_feature **order = malloc((n ? n : 1) * sizeof *order);
    Tensorflow__Features__FeatureEntry *entries = malloc((n ? n : 1) * sizeof *entries);
    Tensorflow__Features__FeatureEntry **entry_ptrs = malloc((n ? n : 1) * sizeof *entry_ptrs);
    Tensorflow__Feature *feats = malloc((n ? n : 1) * sizeof *feats);
    union list {
        Tensorflow__BytesList b;
        Tensorflow__FloatList f;
        Tensorflow__Int64List i;
    } *lists = malloc((n ? n : 1) * sizeof *lists);
    ct_status st = CT_OK;
    if (!order || !entries || !entry_ptrs || !feats || !lists) {
        st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", api);
        goto out;
    }
    for (size_t i = 0; i < n; i++) order[i] = &ex->f[i];
    qsort(order, n, sizeof *order, cmp_feature_key);
    for (size_t i = 0; i < n; i++) {
        ex_feature *f = order[i];
        tensorflow__feature__init(&feats[i]);
        feats[i].kind_case = f->kind;
        switch (f->kind) {
        case TENSORFLOW__FEATURE__KIND_BYTES_LIST:
            tensorflow__bytes_list__init(&lists[i].b);
            lists[i].b.n_value = f->n;
            lists[i].b.value = f->v;
            feats[i].bytes_list = &lists[i].b;
            break;
        case TENSORFLOW__FEATURE__KIND_FLOAT_LIST:
            tensorflow__float_list__init(&lists[i].f);
            lists[i].f.n_value = f->n;
            lists[i].f.value = f->v;
            feats[i].float_list = &lists[i].f;
            break;
        default:
            tensorflow__int64_list__init(&lists[i].i);
            lists[i].i.n_value = f->n;
            lists[i].i.value = f->v;
            feats[i].int64_list = &lists[i].i;
            break;
        }
        tensorflow__features__feature_entry__init(&entries[i]);
        entries[i].key = f->key;
        entries[i].value = &feats[i];
        entry_ptrs[i] = &entries[i];
    }
    Tensorflow__Features features;
    tensorflow__features__init(&features);
    features.n_feature = n;
    features.feature = entry_ptrs;
    Tensorflow__Example example;
    tensorflow__example__init(&example);
    example.features = &features;
    size_t size = tensorflow__example__get_packed_size(&example);
    uint8_t *b = malloc(size ? size : 1);
    if (!b) {
        st = ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory for %zu bytes", api, size);
        goto out;
    }
    size_t packed = tensorflow__example__pack(&example, b);
    if (packed != size) {
        free(b);
        st = ct__error(CT_ERR_INTERNAL, "%s: protobuf-c packed %zu bytes, expected %zu", api,
                       packed, size);
        goto out;
    }
    *buf = b;
    *len = size;
out:
    free(order);
    free(entries);
    free(entry_ptrs);
    free(feats);
    free(lists);
    return st;
}

/* ---- parsing ------------------------------------------------------------------ */

static Tensorflow__Feature__KindCase kind_of(ct_dtype dt) {
    return dt == CT_FLOAT32 ? TENSORFLOW__FEATURE__KIND_FLOAT_LIST
         : dt == CT_INT64   ? TENSORFLOW__FEATURE__KIND_INT64_LIST
                            : TENSORFLOW__FEATURE__KIND_BYTES_LIST;
}

/* "FixedLen float32 [2,3]" / "VarLen int64" into buf. */
static const char *spec_desc(const ct_feature_spec *s, char *buf, size_t cap) {
    const char *dt = s->dtype == CT_UINT8 ? "bytes" : ct_dtype_name(s->dtype);
    if (s->kind == CT_FEATURE_VAR_LEN) snprintf(buf, cap, "VarLen %s", dt);
    else snprintf(buf, cap, "FixedLen %s %s", dt, CT__SHAPE(s->rank, s->shape));
    return buf;
}
#define SPEC_DESC(s) spec_desc((s), (char[128]){0}, 128)

static ct_status check_spec(const ct_feature_spec *specs, int i) {
    const ct_feature_spec *s = &specs[i];
    if (!s->key)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: spec %d has a NULL key", PARSE_API, i);
    for (int j = 0; j < i; j++)
        if (strcmp(specs[j].key, s->key) == 0)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: feature '%s' appears twice in the specs (%d and %d)", PARSE_API,
                             s->key, j, i);
    if (s->kind != CT_FEATURE_FIXED_LEN && s->kind != CT_FEATURE_VAR_LEN)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: feature '%s': unknown kind %d (expected CT_FEATURE_FIXED_LEN or "
                         "CT_FEATURE_VAR_LEN)",
                         PARSE_API, s->key, (int)s->kind);
    if (s->dtype != CT_FLOAT32 && s->dtype != CT_INT64 && s->dtype != CT_UINT8)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: feature '%s': dtype %s is not supported (expected float32, int64 "
                         "or uint8 for bytes)",
                         PARSE_API, s->key, ct_dtype_name(s->dtype));
    if (s->kind == CT_FEATURE_VAR_LEN) {
        if (s->default_value)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: feature '%s': a VarLen feature takes no default_value",
                             PARSE_API, s->key);
        return CT_OK;
    }
    int max_rank = s->dtype == CT_UINT8 ? CT_MAX_RANK - 1 : CT_MAX_RANK;
    if (s->rank < 0 || s->rank > max_rank)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: feature '%s': rank %d (expected 0 to %d)",
                         PARSE_API, s->key, s->rank, max_rank);
    for (int d = 0; d < s->rank; d++)
        if (s->shape[d] < 0)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: feature '%s': FixedLen shape %s has an unknown or negative "
                             "dimension",
                             PARSE_API, s->key, CT__SHAPE(s->rank, s->shape));
    const ct_tensor *dv = s->default_value;
    if (!dv) return CT_OK;
    if (dv->dtype != s->dtype)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: feature '%s': default_value is %s, expected dtype %s (%s)",
                         PARSE_API, s->key, CT__DESC(dv), ct_dtype_name(s->dtype), SPEC_DESC(s));
    if (s->dtype == CT_UINT8) {
        bool ok = dv->rank == s->rank + 1;
        for (int d = 0; ok && d < s->rank; d++) ok = dv->shape[d] == s->shape[d];
        if (!ok)
            return ct__error(CT_ERR_INVALID_ARGUMENT,
                             "%s: feature '%s': default_value is %s, expected uint8 %s + [length] "
                             "(strings of equal length)",
                             PARSE_API, s->key, CT__DESC(dv), CT__SHAPE(s->rank, s->shape));
    } else if (dv->size != ct__numel(s->rank, s->shape)) {
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: feature '%s': default_value is %s, expected %" PRId64
                         " elements (%s)",
                         PARSE_API, s->key, CT__DESC(dv), ct__numel(s->rank, s->shape),
                         SPEC_DESC(s));
    }
    return CT_OK;
}

/* A caller-owned host tensor holding a copy of t's elements with a new
 * shape (same element count). */
static ct_tensor *copy_as(const ct_tensor *t, int rank, const int64_t *shape) {
    ct_tensor *r = ct__tensor_alloc(ct__cpu_device(), t->dtype, rank, shape, PARSE_API);
    if (r && r->size && ct_tensor_read(t, t->dtype, ct__data(r), r->size) != CT_OK) {
        ct_tensor_free(r);
        return NULL;
    }
    return r;
}

/* The tensor for spec s from feature f (NULL: absent). */
static ct_tensor *parse_feature(const ct_feature_spec *s, const Tensorflow__Feature *f) {
    bool var = s->kind == CT_FEATURE_VAR_LEN;
    int rank = var ? 1 : s->rank;
    int64_t shape[CT_MAX_RANK + 1] = {0};
    if (!var) memcpy(shape, s->shape, sizeof(int64_t) * (size_t)s->rank);
    if (!f) {
        if (var) {
            if (s->dtype == CT_UINT8) rank = 2;
            return ct__tensor_alloc(ct__cpu_device(), s->dtype, rank, shape, PARSE_API);
        }
        if (s->default_value) {
            if (s->dtype == CT_UINT8) {
                shape[rank] = s->default_value->shape[rank];
                rank++;
            }
            return copy_as(s->default_value, rank, shape);
        }
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s: feature '%s' (%s) is required but the example does not have it",
                  PARSE_API, s->key, SPEC_DESC(s));
        return NULL;
    }
    Tensorflow__Feature__KindCase want = kind_of(s->dtype);
    if (f->kind_case == TENSORFLOW__FEATURE__KIND__NOT_SET) /* VarLen: empty */
        return parse_feature(s, NULL);
    if (f->kind_case != want) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s: feature '%s': expected a %s (%s) but the example has a %s", PARSE_API,
                  s->key, kind_name(want), SPEC_DESC(s), kind_name(f->kind_case));
        return NULL;
    }
    size_t count = want == TENSORFLOW__FEATURE__KIND_FLOAT_LIST ? f->float_list->n_value
                 : want == TENSORFLOW__FEATURE__KIND_INT64_LIST ? f->int64_list->n_value
                                                                : f->bytes_list->n_value;
    if (var) {
        shape[0] = (int64_t)count;
    } else if ((uint64_t)ct__numel(s->rank, s->shape) != (uint64_t)count) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s: feature '%s': expected %" PRId64 " values (%s) but the example has %zu",
                  PARSE_API, s->key, ct__numel(s->rank, s->shape), SPEC_DESC(s), count);
        return NULL;
    }
    if (want != TENSORFLOW__FEATURE__KIND_BYTES_LIST) {
        ct_tensor *t = ct__tensor_alloc(ct__cpu_device(), s->dtype, rank, shape, PARSE_API);
        if (t && count)
            memcpy(ct__data(t),
                   want == TENSORFLOW__FEATURE__KIND_FLOAT_LIST ? (void *)f->float_list->value
                                                                : (void *)f->int64_list->value,
                   count * ct_dtype_size(s->dtype));
        return t;
    }
    const ProtobufCBinaryData *b = f->bytes_list->value;
    size_t len = count ? b[0].len : 0;
    for (size_t i = 1; i < count; i++)
        if (b[i].len != len) {
            ct__error(CT_ERR_INVALID_ARGUMENT,
                      "%s: feature '%s': the %zu strings have different lengths (value 0 has "
                      "%zu bytes, value %zu has %zu), which cannot form a uint8 tensor (%s)",
                      PARSE_API, s->key, count, len, i, b[i].len, SPEC_DESC(s));
            return NULL;
        }
    shape[rank++] = (int64_t)len;
    ct_tensor *t = ct__tensor_alloc(ct__cpu_device(), CT_UINT8, rank, shape, PARSE_API);
    if (t && len)
        for (size_t i = 0; i < count; i++) memcpy((uint8_t *)ct__data(t) + i * len, b[i].data, len);
    return t;
}

ct_status ct_parse_example(const ct_tensor *serialized, int n, const ct_feature_spec *specs,
                           ct_element **out) {
    if (!out) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: out is NULL", PARSE_API);
    *out = NULL;
    if (!serialized)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: serialized is NULL", PARSE_API);
    if (serialized->dtype != CT_UINT8 || serialized->rank != 1)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: serialized is %s, expected uint8 [length] (a record's bytes)",
                         PARSE_API, CT__DESC(serialized));
    if (n < 0 || n > CT_MAX_COMPONENTS || (n > 0 && !specs))
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %d specs%s (expected 0 to %d)", PARSE_API,
                         n, n > 0 && !specs ? " but specs is NULL" : "", CT_MAX_COMPONENTS);
    for (int i = 0; i < n; i++) {
        ct_status st = check_spec(specs, i);
        if (st) return st;
    }
    /* The bytes, on the host. */
    size_t len = (size_t)serialized->size;
    const uint8_t *data = NULL;
    uint8_t *copy = NULL;
    if (serialized->storage->dev->kind == CT_DEVICE_CPU) {
        data = ct__data(serialized);
    } else {
        copy = malloc(len ? len : 1);
        if (!copy) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", PARSE_API);
        if (ct_tensor_read(serialized, CT_UINT8, copy, (int64_t)len) != CT_OK) {
            free(copy);
            return ct_last_status();
        }
        data = copy;
    }
    Tensorflow__Example *ex = tensorflow__example__unpack(NULL, len, data);
    free(copy);
    if (!ex)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: cannot parse the %zu serialized bytes as a tf.Example (malformed "
                         "protobuf)",
                         PARSE_API, len);
    ct_element *e = ct__element_new(n);
    ct_status st = e ? CT_OK : ct_last_status();
    for (int i = 0; !st && i < n; i++) {
        /* The last entry with the key wins, as in protobuf maps; as in TF's
         * parser, a FixedLen feature skips entries holding no list (a
         * VarLen one takes them as empty). */
        const Tensorflow__Feature *found = NULL;
        bool fixed = specs[i].kind == CT_FEATURE_FIXED_LEN;
        size_t nf = ex->features ? ex->features->n_feature : 0;
        for (size_t j = nf; j-- > 0 && !found;) {
            const Tensorflow__Features__FeatureEntry *en = ex->features->feature[j];
            if (!en->key || strcmp(en->key, specs[i].key) != 0) continue;
            static const Tensorflow__Feature none = TENSORFLOW__FEATURE__INIT;
            found = en->value ? en->value : &none;
            if (fixed && found->kind_case == TENSORFLOW__FEATURE__KIND__NOT_SET) found = NULL;
        }
        e->t[i] = parse_feature(&specs[i], found);
        e->name[i] = specs[i].key;
        if (!e->t[i]) st = ct_last_status();
    }
    tensorflow__example__free_unpacked(ex, NULL);
    if (st) {
        ct_element_free(e);
        return st;
    }
    *out = e;
    return CT_OK;
}
