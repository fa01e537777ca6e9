/*
 * libFuzzer harness for tf.Example parsing (data/example.c). The input,
 * after one selector byte, is parsed as a serialized Example with one of a
 * few spec sets (FixedLen / VarLen, float32 / int64 / bytes, defaults,
 * short keys the fuzzer can find). Invariants: no crash, leak or
 * unbounded allocation; a parse succeeds with the promised dtypes and
 * shapes or fails with an error; a parsed Example's VarLen values survive
 * a rebuild -> serialize -> parse round trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctrain/ctrain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok) {
    if (!ok) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int64_t live = ct_live_tensors();
    ct_scope_begin();
    int64_t len = (int64_t)size - 1;
    ct_tensor *s = ct_constant(data + 1, CT_UINT8, 1, &len);
    ct_tensor *fdef = ct_constant((float[]){1, 2}, CT_FLOAT32, 1, (const int64_t[]){2});
    ct_tensor *bdef = ct_constant("zz", CT_UINT8, 1, (const int64_t[]){2});
    const ct_feature_spec sets[3][4] = {
        {{.key = "a", .dtype = CT_FLOAT32, .rank = 1, .shape = {2}, .default_value = fdef},
         {.key = "b", .kind = CT_FEATURE_VAR_LEN, .dtype = CT_INT64},
         {.key = "c", .dtype = CT_UINT8, .default_value = bdef},
         {.key = "d", .kind = CT_FEATURE_VAR_LEN, .dtype = CT_UINT8}},
        {{.key = "a", .kind = CT_FEATURE_VAR_LEN, .dtype = CT_FLOAT32},
         {.key = "b", .dtype = CT_INT64, .rank = 2, .shape = {1, 2}},
         {.key = "c", .kind = CT_FEATURE_VAR_LEN, .dtype = CT_UINT8},
         {.key = "", .kind = CT_FEATURE_VAR_LEN, .dtype = CT_INT64}},
        {{.key = "x", .kind = CT_FEATURE_VAR_LEN, .dtype = CT_FLOAT32},
         {.key = "y", .kind = CT_FEATURE_VAR_LEN, .dtype = CT_INT64},
         {.key = "z", .dtype = CT_UINT8, .rank = 1, .shape = {2}},
         {.key = "label", .dtype = CT_INT64}},
    };
    const ct_feature_spec *specs = sets[data[0] % 3];
    ct_element *e = NULL;
    if (ct_parse_example(s, 4, specs, &e) == CT_OK) {
        check(e && e->n == 4);
        for (int i = 0; i < 4; i++) {
            check(e->t[i] && ct_tensor_dtype(e->t[i]) == specs[i].dtype);
            check(e->name[i] == specs[i].key);
            if (specs[i].kind == CT_FEATURE_VAR_LEN)
                check(ct_tensor_rank(e->t[i]) == (specs[i].dtype == CT_UINT8 ? 2 : 1));
            else
                check(ct_tensor_rank(e->t[i]) == specs[i].rank + (specs[i].dtype == CT_UINT8));
        }
        /* Rebuild the numeric VarLen features and parse them back. */
        ct_example *ex = ct_example_new();
        ct_feature_spec back[4];
        int nb = 0;
        for (int i = 0; i < 4; i++) {
            if (specs[i].kind != CT_FEATURE_VAR_LEN || specs[i].dtype == CT_UINT8) continue;
            const ct_tensor *t = e->t[i];
            int64_t n = ct_tensor_size(t);
            void *v = malloc((size_t)(n ? n : 1) * 8);
            check(ct_tensor_read(t, specs[i].dtype, v, n) == CT_OK);
            check((specs[i].dtype == CT_FLOAT32 ? ct_example_add_floats(ex, specs[i].key, v, n)
                                                : ct_example_add_int64s(ex, specs[i].key, v, n)) ==
                  CT_OK);
            free(v);
            back[nb++] = specs[i];
        }
        void *buf;
        size_t blen;
        check(ct_example_serialize(ex, &buf, &blen) == CT_OK);
        ct_example_free(ex);
        ct_tensor *s2 = ct_constant(buf, CT_UINT8, 1, (const int64_t[]){(int64_t)blen});
        free(buf);
        ct_element *e2 = NULL;
        check(ct_parse_example(s2, nb, back, &e2) == CT_OK);
        for (int i = 0, j = 0; i < 4; i++) {
            if (specs[i].kind != CT_FEATURE_VAR_LEN || specs[i].dtype == CT_UINT8) continue;
            size_t bytes = (size_t)ct_tensor_size(e->t[i]) * 8;
            check(ct_tensor_size(e2->t[j]) == ct_tensor_size(e->t[i]));
            uint8_t *p = malloc(bytes + 1), *q = malloc(bytes + 1);
            ct_tensor_read(e->t[i], specs[i].dtype, p, ct_tensor_size(e->t[i]));
            ct_tensor_read(e2->t[j], specs[i].dtype, q, ct_tensor_size(e->t[i]));
            /* Bitwise: NaN payloads must survive too. */
            check(memcmp(p, q, (size_t)ct_tensor_size(e->t[i]) *
                                   (specs[i].dtype == CT_FLOAT32 ? 4 : 8)) == 0);
            free(p);
            free(q);
            j++;
        }
        ct_element_free(e2);
        ct_element_free(e);
    } else {
        check(e == NULL);
    }
    ct_scope_end();
    check(ct_live_tensors() == live);
    ct_clear_error();
    return 0;
}
