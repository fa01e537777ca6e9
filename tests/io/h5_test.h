/* What the Criterion suites of HDF5 files (tests/io/test_h5.c,
 * tests/io/test_h5_model.c) share: a temporary directory per test, paths
 * in it, and the model's weights read back as float32. */
#ifndef CT_TESTS_IO_H5_TEST_H
#define CT_TESTS_IO_H5_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5_models.h"
#include "support.h"

static char h5_dir[64];

static inline void h5_dir_begin(void) {
    ct_test_layer_begin();
    strcpy(h5_dir, "/tmp/ct_test_h5_XXXXXX");
    cr_assert_not_null(mkdtemp(h5_dir));
}

static inline void h5_dir_end(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", h5_dir);
    cr_expect_eq(system(cmd), 0);
    ct_test_end();
}

/* dir/file (one of four static buffers). */
static inline char *path_of(const char *file) {
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "%s/%s", h5_dir, file);
    return p;
}

static inline ct_model *made(ct_model *m) {
    cr_assert_not_null(m, "%s", ct_last_error());
    return m;
}

/* All weights of m, flattened as float32 in model order (malloc'ed). */
static inline float *snapshot(ct_model *m, int64_t *n) {
    ct_layer *l = ct_model_layer(m);
    int64_t total = 0;
    for (int i = 0; i < ct_layer_num_weights(l); i++)
        total += ct_tensor_size(ct_variable_value(ct_layer_weight(l, i)));
    float *out = malloc((size_t)(total ? total : 1) * sizeof *out);
    int64_t at = 0;
    for (int i = 0; i < ct_layer_num_weights(l); i++) {
        ct_tensor *t = ct_variable_value(ct_layer_weight(l, i));
        CT_STATUS_OK(ct_tensor_read(t, CT_FLOAT32, out + at, ct_tensor_size(t)));
        at += ct_tensor_size(t);
    }
    *n = total;
    return out;
}

#endif
