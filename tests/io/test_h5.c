/* Keras HDF5 weights files (io/h5.c): round trips of Sequential,
 * Functional and nested models by order and by name (values bitwise
 * equal), loading into models with other layer names (order) or another
 * layer order (by name), split layer_names, the errors (a file cut short,
 * a text file, another layout, other layer / weight counts, shapes) that
 * change no weight, skip_mismatch, and atomic saves. */
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5_test.h"

TestSuite(h5, .init = h5_dir_begin, .fini = h5_dir_end);

/* ---- helpers -------------------------------------------------------------------------------- */

static void expect_same_weights(ct_model *a, ct_model *b) {
    int64_t na, nb;
    float *wa = snapshot(a, &na), *wb = snapshot(b, &nb);
    cr_assert_eq(na, nb);
    cr_expect(memcmp(wa, wb, (size_t)na * sizeof *wa) == 0, "weights differ");
    free(wa);
    free(wb);
}

/* The weights of layer i of m as floats (malloc'ed), weight j. */
static float *layer_weight(ct_model *m, const char *layer, int j, int64_t *n) {
    ct_layer *l = ct_model_get_layer(m, layer);
    cr_assert_not_null(l, "%s", ct_last_error());
    ct_tensor *t = ct_variable_value(ct_layer_weight(l, j));
    *n = ct_tensor_size(t);
    float *out = malloc((size_t)*n * sizeof *out);
    CT_STATUS_OK(ct_tensor_read(t, CT_FLOAT32, out, *n));
    return out;
}

/* Saves a (filled with the pattern at offset 0) to file. */
static void save(ct_model *a, const char *file) {
    CT_STATUS_OK(h5m_fill(a, 0));
    CT_STATUS_OK(ct_model_save_weights(a, path_of(file), NULL));
}

/* Round trip: a saved, b (filled with other values) loaded with opts. */
static void round_trip(ct_model *(*make)(void), bool reset_names, bool by_name) {
    ct_model *a = made(make());
    save(a, "w.h5");
    if (reset_names) ct_layer_reset_names();
    ct_model *b = made(make());
    CT_STATUS_OK(h5m_fill(b, 1000));
    CT_STATUS_OK(ct_model_load_weights(b, path_of("w.h5"), &(ct_load_opts){.by_name = by_name}));
    expect_same_weights(a, b);
    ct_model_free(a);
    ct_model_free(b);
}

/* Reads a whole file (malloc'ed). */
static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(*len ? *len : 1);
    cr_assert_eq(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

/* Loads into m expecting an error mentioning each needle, and no weight
 * changed. */
static void expect_load_fails(ct_model *m, const char *path, const ct_load_opts *o,
                              const char *const *needles, int n) {
    int64_t n0, n1;
    float *before = snapshot(m, &n0);
    ct_clear_error();
    cr_assert_neq(ct_model_load_weights(m, path, o), CT_OK, "loading %s should fail", path);
    for (int i = 0; i < n; i++)
        cr_expect(strstr(ct_last_error(), needles[i]) != NULL, "error \"%s\" does not mention \"%s\"",
                  ct_last_error(), needles[i]);
    float *after = snapshot(m, &n1);
    cr_assert_eq(n0, n1);
    cr_expect(memcmp(before, after, (size_t)n0 * sizeof *before) == 0, "a weight changed");
    free(before);
    free(after);
}
#define EXPECT_LOAD_FAILS(m, path, o, ...)                                                        \
    expect_load_fails((m), (path), (o), (const char *const[]){__VA_ARGS__},                      \
                      (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *)))

/* stderr of fn(ctx) while it runs (malloc'ed). */
static char *capture_stderr(ct_status (*fn)(void *), void *ctx, ct_status *st) {
    char tmpl[] = "/tmp/ct_test_h5_err_XXXXXX";
    int fd = mkstemp(tmpl);
    cr_assert(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    *st = fn(ctx);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    size_t len;
    char *text = slurp(tmpl, &len);
    text = realloc(text, len + 1);
    text[len] = 0;
    unlink(tmpl);
    return text;
}

/* ---- round trips ----------------------------------------------------------------------------- */

Test(h5, sequential_cnn_by_order_into_other_names) {
    /* b's layers are conv2d_1, batch_normalization_1, ...: by order ignores names. */
    round_trip(h5m_cnn, false, false);
}

Test(h5, sequential_cnn_by_name) { round_trip(h5m_cnn, true, true); }

Test(h5, functional_cnn_by_order_and_by_name) {
    round_trip(h5m_func_cnn, false, false);
    ct_layer_reset_names();
    round_trip(h5m_func_cnn, true, true);
}

Test(h5, functional_two_inputs) {
    round_trip(h5m_two_inputs, false, false);
    ct_layer_reset_names();
    round_trip(h5m_two_inputs, true, true);
}

Test(h5, nested_sequential) {
    round_trip(h5m_nested, false, false);
    ct_layer_reset_names();
    round_trip(h5m_nested, true, true);
}

Test(h5, embedding) { round_trip(h5m_embedding, true, true); }

static ct_model *long_names(void) { return h5m_long_names(400); }

Test(h5, layer_names_over_the_header_limit_are_split) {
    ct_model *a = made(long_names());
    save(a, "w.h5");
    hid_t f = H5Fopen(path_of("w.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    cr_expect_eq(H5Aexists(f, "layer_names"), 0);
    cr_expect_gt(H5Aexists(f, "layer_names0"), 0);
    cr_expect_gt(H5Aexists(f, "layer_names1"), 0);
    cr_expect_eq(H5Aexists(f, "layer_names2"), 0);
    H5Fclose(f);
    ct_model *b = made(long_names());
    CT_STATUS_OK(h5m_fill(b, 1000));
    CT_STATUS_OK(ct_model_load_weights(b, path_of("w.h5"), &(ct_load_opts){.by_name = true}));
    expect_same_weights(a, b);
    ct_model_free(a);
    ct_model_free(b);
}

/* Two Dense(3) layers of 3 inputs, named first and second. */
static ct_model *two_dense(const char *first, const char *second) {
    ct_model *m = made(ct_sequential_new(NULL));
    char cfg[128];
    snprintf(cfg, sizeof cfg, "{\"units\": 3, \"name\": \"%s\"}", first);
    CT_STATUS_OK(ct_sequential_add(m, ct_test_layer("Dense", cfg)));
    snprintf(cfg, sizeof cfg, "{\"units\": 3, \"name\": \"%s\"}", second);
    CT_STATUS_OK(ct_sequential_add(m, ct_test_layer("Dense", cfg)));
    CT_STATUS_OK(ct_model_build(m, 2, (const int64_t[]){-1, 3}));
    return m;
}

static void expect_layer_equal(ct_model *a, const char *la, ct_model *b, const char *lb) {
    for (int j = 0; j < 2; j++) {
        int64_t na, nb;
        float *wa = layer_weight(a, la, j, &na), *wb = layer_weight(b, lb, j, &nb);
        cr_assert_eq(na, nb);
        cr_expect(memcmp(wa, wb, (size_t)na * sizeof *wa) == 0, "%s[%d] != %s[%d]", la, j, lb, j);
        free(wa);
        free(wb);
    }
}

Test(h5, by_name_follows_names_by_order_follows_positions) {
    ct_model *a = two_dense("x", "y");
    save(a, "w.h5");
    ct_model *b = two_dense("y", "x");
    CT_STATUS_OK(ct_model_load_weights(b, path_of("w.h5"), &(ct_load_opts){.by_name = true}));
    expect_layer_equal(a, "x", b, "x");
    expect_layer_equal(a, "y", b, "y");
    CT_STATUS_OK(ct_model_load_weights(b, path_of("w.h5"), NULL));
    expect_layer_equal(a, "x", b, "y");
    expect_layer_equal(a, "y", b, "x");
    /* by_name: model layers the file lacks are left alone. */
    ct_model *c = two_dense("x", "z");
    CT_STATUS_OK(h5m_fill(c, 1000));
    int64_t n0, n1;
    float *z0 = layer_weight(c, "z", 0, &n0);
    CT_STATUS_OK(ct_model_load_weights(c, path_of("w.h5"), &(ct_load_opts){.by_name = true}));
    float *z1 = layer_weight(c, "z", 0, &n1);
    cr_expect(memcmp(z0, z1, (size_t)n0 * sizeof *z0) == 0);
    expect_layer_equal(a, "x", c, "x");
    free(z0);
    free(z1);
    ct_model_free(a);
    ct_model_free(b);
    ct_model_free(c);
}

Test(h5, reads_the_weights_group_of_a_full_model_file) {
    /* A full-model file keeps the weights under /model_weights. */
    ct_model *a = made(h5m_cnn());
    save(a, "w.h5");
    hid_t src = H5Fopen(path_of("w.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t dst = H5Fcreate(path_of("full.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(src >= 0 && dst >= 0);
    cr_assert(H5Ocopy(src, "/", dst, "model_weights", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    H5Fclose(src);
    H5Fclose(dst);
    ct_model *b = made(h5m_cnn());
    CT_STATUS_OK(ct_model_load_weights(b, path_of("full.h5"), NULL));
    expect_same_weights(a, b);
    ct_model_free(a);
    ct_model_free(b);
}

/* Replaces attribute name of obj by a 1-D variable-length UTF-8 array of
 * the same strings (what h5py 3 writes for a list of str). */
static void to_vlen_utf8(hid_t obj, const char *name) {
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    cr_assert(a >= 0, "%s", name);
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    size_t size = H5Tget_size(ft);
    char *raw = calloc((size_t)n, size + 1);
    char **ptrs = calloc((size_t)n, sizeof *ptrs);
    cr_assert(H5Aread(a, ft, raw) >= 0);
    H5Aclose(a);
    H5Tclose(ft);
    for (hssize_t i = 0; i < n; i++) ptrs[i] = strndup(raw + (size_t)i * size, size);
    cr_assert(H5Adelete(obj, name) >= 0);
    hid_t vt = H5Tcopy(H5T_C_S1);
    H5Tset_size(vt, H5T_VARIABLE);
    H5Tset_cset(vt, H5T_CSET_UTF8);
    a = H5Acreate2(obj, name, vt, sp, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(a >= 0 && H5Awrite(a, vt, ptrs) >= 0);
    H5Aclose(a);
    H5Tclose(vt);
    H5Sclose(sp);
    for (hssize_t i = 0; i < n; i++) free(ptrs[i]);
    free(ptrs);
    free(raw);
}

Test(h5, reads_variable_length_utf8_name_lists) {
    ct_model *a = made(h5m_cnn());
    save(a, "w.h5");
    hid_t f = H5Fopen(path_of("w.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert(f >= 0);
    to_vlen_utf8(f, "layer_names");
    const char *groups[] = {"conv2d", "batch_normalization", "dense"};
    for (int i = 0; i < 3; i++) {
        hid_t g = H5Gopen2(f, groups[i], H5P_DEFAULT);
        to_vlen_utf8(g, "weight_names");
        H5Gclose(g);
    }
    H5Fclose(f);
    ct_model *b = made(h5m_cnn());
    CT_STATUS_OK(h5m_fill(b, 1000));
    CT_STATUS_OK(ct_model_load_weights(b, path_of("w.h5"), NULL));
    expect_same_weights(a, b);
    ct_model_free(a);
    ct_model_free(b);
}

/* ---- errors: nothing changes ------------------------------------------------------------------ */

Test(h5, truncated_file) {
    ct_model *a = made(h5m_cnn());
    save(a, "w.h5");
    struct stat sb;
    cr_assert_eq(stat(path_of("w.h5"), &sb), 0);
    ct_model *b = made(h5m_cnn());
    CT_STATUS_OK(h5m_fill(b, 1000));
    /* Cut in the middle (the data), near the end, and inside the superblock. */
    const off_t cuts[] = {sb.st_size / 2, sb.st_size - 100, 40};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(truncate(path_of("w.h5"), cuts[i]), 0);
        EXPECT_LOAD_FAILS(b, path_of("w.h5"), NULL, "w.h5");
    }
    ct_model_free(a);
    ct_model_free(b);
}

Test(h5, not_an_hdf5_file) {
    FILE *f = fopen(path_of("w.h5"), "w");
    fputs("just some text, not HDF5\n", f);
    fclose(f);
    ct_model *b = made(h5m_cnn());
    EXPECT_LOAD_FAILS(b, path_of("w.h5"), NULL, "w.h5", "not an HDF5 file");
    ct_clear_error();
    cr_expect_eq(ct_model_load_weights(b, path_of("missing.h5"), NULL), CT_ERR_NOT_FOUND);
    cr_expect(strstr(ct_last_error(), "missing.h5") != NULL, "%s", ct_last_error());
    ct_model_free(b);
}

Test(h5, hdf5_file_of_another_layout) {
    hid_t f = H5Fcreate(path_of("other.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(f >= 0);
    H5Fclose(f);
    ct_model *b = made(h5m_cnn());
    EXPECT_LOAD_FAILS(b, path_of("other.h5"), NULL, "not a Keras weights file");
    ct_model_free(b);
}

Test(h5, different_number_of_layers) {
    ct_model *a = made(h5m_nested()); /* 2 layers with weights */
    save(a, "w.h5");
    ct_model *b = made(h5m_cnn()); /* 3 */
    EXPECT_LOAD_FAILS(b, path_of("w.h5"), NULL, "the file has 2 layers with weights",
                      "has 3");
    ct_model_free(a);
    ct_model_free(b);
}

/* Dense(3) "first" then Dense(units, use_bias) "second", input [4]. */
static ct_model *dense_pair(int units, bool use_bias) {
    ct_model *m = made(ct_sequential_new(NULL));
    CT_STATUS_OK(ct_sequential_add(m, ct_test_layer("Dense", "{\"units\": 3, \"name\": \"first\"}")));
    char cfg[128];
    snprintf(cfg, sizeof cfg, "{\"units\": %d, \"use_bias\": %s, \"name\": \"second\"}", units,
             use_bias ? "true" : "false");
    CT_STATUS_OK(ct_sequential_add(m, ct_test_layer("Dense", cfg)));
    CT_STATUS_OK(ct_model_build(m, 2, (const int64_t[]){-1, 4}));
    return m;
}

Test(h5, shape_mismatch_names_layer_weight_and_shapes) {
    ct_model *a = dense_pair(8, true);
    save(a, "w.h5");
    ct_model *b = dense_pair(5, true);
    CT_STATUS_OK(h5m_fill(b, 1000));
    /* "first" fits, "second" does not: first must not change either. */
    EXPECT_LOAD_FAILS(b, path_of("w.h5"), NULL, "layer 'second'", "second/kernel:0", "[3,8]",
                      "[3,5]");
    EXPECT_LOAD_FAILS(b, path_of("w.h5"), &(ct_load_opts){.by_name = true}, "second/kernel:0",
                      "the file's shape [3,8] does not match the model's [3,5]");
    ct_model_free(a);
    ct_model_free(b);
}

Test(h5, weight_count_mismatch) {
    ct_model *a = dense_pair(8, true);
    save(a, "w.h5");
    ct_model *b = dense_pair(8, false);
    EXPECT_LOAD_FAILS(b, path_of("w.h5"), NULL, "'second'", "has 1 weights",
                      "the file's layer 'second' has 2");
    ct_model_free(a);
    ct_model_free(b);
}

Test(h5, skip_mismatch_needs_by_name) {
    ct_model *a = dense_pair(8, true);
    save(a, "w.h5");
    EXPECT_LOAD_FAILS(a, path_of("w.h5"), &(ct_load_opts){.skip_mismatch = true},
                      "skip_mismatch can only be set when by_name");
    ct_model_free(a);
}

typedef struct {
    ct_model *m;
    const char *path;
} load_ctx;

static ct_status load_skipping(void *p) {
    load_ctx *c = p;
    return ct_model_load_weights(c->m, c->path,
                                 &(ct_load_opts){.by_name = true, .skip_mismatch = true});
}

Test(h5, skip_mismatch_skips_with_a_warning) {
    ct_model *a = dense_pair(8, true);
    save(a, "w.h5");
    ct_model *b = dense_pair(5, true);
    CT_STATUS_OK(h5m_fill(b, 1000));
    int64_t n0, n1;
    float *k0 = layer_weight(b, "second", 0, &n0);
    int64_t nb0, nb1;
    float *b0 = layer_weight(b, "second", 1, &nb0);
    ct_status st;
    char *err = capture_stderr(load_skipping, &(load_ctx){b, path_of("w.h5")}, &st);
    cr_assert_eq(st, CT_OK, "%s", ct_last_error());
    cr_expect(strstr(err, "WARNING") && strstr(err, "second/kernel:0") && strstr(err, "[3,8]") &&
                  strstr(err, "[3,5]"),
              "stderr: %s", err);
    /* The kernel (shape differs) is skipped; first loads. */
    float *k1 = layer_weight(b, "second", 0, &n1);
    cr_expect(memcmp(k0, k1, (size_t)n0 * sizeof *k0) == 0, "the skipped kernel changed");
    expect_layer_equal(a, "first", b, "first");
    /* The bias has another shape too ([8] vs [5]): skipped as well. */
    float *b1 = layer_weight(b, "second", 1, &nb1);
    cr_expect(nb0 == nb1 && memcmp(b0, b1, (size_t)nb0 * sizeof *b0) == 0, "the bias changed");
    free(err);
    free(k0);
    free(k1);
    free(b0);
    free(b1);
    /* A layer with another number of weights is skipped whole. */
    ct_model *c = dense_pair(8, false);
    CT_STATUS_OK(h5m_fill(c, 1000));
    err = capture_stderr(load_skipping, &(load_ctx){c, path_of("w.h5")}, &st);
    cr_assert_eq(st, CT_OK, "%s", ct_last_error());
    cr_expect(strstr(err, "skipping layer") && strstr(err, "'second'"), "stderr: %s", err);
    expect_layer_equal(a, "first", c, "first");
    free(err);
    ct_model_free(a);
    ct_model_free(b);
    ct_model_free(c);
}

/* ---- atomic saves ----------------------------------------------------------------------------- */

Test(h5, save_into_a_missing_directory_fails_cleanly) {
    ct_model *a = made(h5m_cnn());
    ct_clear_error();
    cr_expect_neq(ct_model_save_weights(a, path_of("no/such/dir/w.h5"), NULL), CT_OK);
    cr_expect(strstr(ct_last_error(), "no/such/dir/w.h5") != NULL, "%s", ct_last_error());
    ct_model_free(a);
}

static int count_entries(const char *d) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", d);
    FILE *p = popen(cmd, "r");
    int n = -1;
    cr_assert_eq(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

Test(h5, an_existing_file_survives_a_failed_save) {
    ct_model *a = made(h5m_cnn());
    save(a, "w.h5");
    size_t len0, len1;
    char *before = slurp(path_of("w.h5"), &len0);
    /* 1. The temporary file cannot be made (a directory is in its place). */
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path_of("w.h5"), (long)getpid());
    cr_assert_eq(mkdir(tmp, 0700), 0);
    ct_model *b = made(h5m_cnn());
    CT_STATUS_OK(h5m_fill(b, 1000));
    cr_expect_neq(ct_model_save_weights(b, path_of("w.h5"), NULL), CT_OK);
    cr_assert_eq(rmdir(tmp), 0);
    char *after = slurp(path_of("w.h5"), &len1);
    cr_expect(len0 == len1 && memcmp(before, after, len0) == 0, "the file changed");
    free(after);
    /* 2. The write fails half way (a layer name over Keras's 64512-byte
     * attribute limit): the temporary file is removed. */
    size_t nlen = 70000;
    char *cfg = malloc(nlen + 64);
    memcpy(cfg, "{\"name\": \"", 10);
    memset(cfg + 10, 'f', nlen);
    strcpy(cfg + 10 + nlen, "\"}");
    ct_model *c = made(ct_sequential_new(NULL));
    CT_STATUS_OK(ct_sequential_add(c, ct_test_layer("Dense", "{\"units\": 2}")));
    ct_layer *flat = ct_layer_new("Flatten", cfg);
    free(cfg);
    if (flat) {
        CT_STATUS_OK(ct_sequential_add(c, flat));
        CT_STATUS_OK(ct_model_build(c, 2, (const int64_t[]){-1, 3}));
        ct_clear_error();
        cr_expect_neq(ct_model_save_weights(c, path_of("w.h5"), NULL), CT_OK);
        cr_expect(strstr(ct_last_error(), "64512") != NULL, "%s", ct_last_error());
        after = slurp(path_of("w.h5"), &len1);
        cr_expect(len0 == len1 && memcmp(before, after, len0) == 0, "the file changed");
        free(after);
    } else {
        cr_log_warn("a 70000-character layer name is refused: %s", ct_last_error());
    }
    cr_expect_eq(count_entries(h5_dir), 1, "a temporary file was left behind");
    /* The surviving file still loads. */
    CT_STATUS_OK(ct_model_load_weights(b, path_of("w.h5"), NULL));
    expect_same_weights(a, b);
    free(before);
    ct_model_free(a);
    ct_model_free(b);
    ct_model_free(c);
}

Test(h5, unbuilt_model_is_an_error) {
    ct_model *m = made(ct_sequential_new(NULL));
    CT_STATUS_OK(ct_sequential_add(m, ct_test_layer("Dense", "{\"units\": 2}")));
    CT_FAILS_STATUS(ct_model_save_weights(m, path_of("w.h5"), NULL), "not built");
    CT_FAILS_STATUS(ct_model_load_weights(m, path_of("w.h5"), NULL), "not built");
    ct_model_free(m);
}
