/* File sources: text lines, list_files, CSV, IDX, Fashion-MNIST. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "support.h"

/* ---- fixtures --------------------------------------------------------------------- */

static char dir[64];

static void setup(void) {
    ct_test_begin();
    strcpy(dir, "/tmp/ct_files_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    ct_test_end();
}

TestSuite(files, .init = setup, .fini = teardown);

static const char *path_of(const char *name) {
    static char buf[8][256];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

static const char *write_file(const char *name, const void *data, size_t n) {
    const char *p = path_of(name);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    fclose(f);
    return p;
}
#define WRITE(name, str) write_file((name), (str), strlen(str))

static const char *write_gz(const char *name, const void *data, size_t n) {
    const char *p = path_of(name);
    gzFile f = gzopen(p, "wb");
    cr_assert_not_null(f);
    if (n) cr_assert_eq(gzwrite(f, data, (unsigned)n), (int)n);
    gzclose(f);
    return p;
}

static const char *write_zlib(const char *name, const void *data, size_t n) {
    uLongf cap = compressBound(n);
    unsigned char *z = malloc(cap);
    cr_assert_eq(compress2(z, &cap, data, n, 6), Z_OK);
    const char *p = write_file(name, z, cap);
    free(z);
    return p;
}

/* The string in a uint8 [len] tensor, NUL-terminated (static buffer). */
static const char *str_of(const ct_tensor *t) {
    static char buf[4][1 << 17];
    static int next;
    char *b = buf[next++ % 4];
    cr_assert_eq(ct_tensor_dtype(t), CT_UINT8);
    cr_assert_eq(ct_tensor_rank(t), 1);
    int64_t n = ct_tensor_size(t);
    cr_assert_lt(n, (int64_t)sizeof buf[0]);
    if (n) CT_STATUS_OK(ct_tensor_read(t, CT_UINT8, b, n));
    b[n] = 0;
    return b;
}

/* Reads all string elements (component 0) into out (at most max); the count. */
static int read_strings(ct_iterator *it, const char **out, int max, char *store, size_t cap) {
    int n = 0;
    size_t used = 0;
    ct_element *e;
    while (ct_iterator_next(it, &e) == CT_OK && e) {
        const char *s = str_of(e->t[0]);
        size_t len = strlen(s) + 1;
        cr_assert_lt(used + len, cap);
        memcpy(store + used, s, len);
        if (n < max) out[n] = store + used;
        used += len;
        n++;
        ct_element_free(e);
    }
    return n;
}

static void expect_lines(ct_dataset *ds, int n, const char *const *want) {
    CT_OK(ds);
    ct_iterator *it = ct_dataset_iterator(ds);
    CT_OK(it);
    const char *got[64];
    static char store[1 << 16];
    ct_clear_error();
    int k = read_strings(it, got, 64, store, sizeof store);
    cr_assert_eq(ct_last_status(), CT_OK, "%s", ct_last_error());
    cr_assert_eq(k, n, "got %d lines, expected %d", k, n);
    for (int i = 0; i < n; i++)
        cr_assert_str_eq(got[i], want[i], "line %d: \"%s\" vs \"%s\"", i, got[i], want[i]);
    ct_iterator_free(it);
}

/* ---- text lines ---------------------------------------------------------------------- */

Test(files, text_lines_basic) {
    const char *a = WRITE("a.txt", "first\nsecond\n\nfourth");
    const char *b = WRITE("b.txt", "");
    const char *c = WRITE("c.txt", "x\n");
    ct_dataset *ds = ct_dataset_text_lines(3, (const char *[]){a, b, c}, CT_COMPRESSION_NONE);
    CT_OK(ds);
    const ct_element_spec *spec = ct_dataset_element_spec(ds);
    cr_assert_eq(spec->n, 1);
    cr_assert_eq(spec->c[0].dtype, CT_UINT8);
    cr_assert_eq(spec->c[0].rank, 1);
    cr_assert_eq(spec->c[0].shape[0], -1);
    expect_lines(ds, 5, (const char *[]){"first", "second", "", "fourth", "x"});
    ct_dataset_free(ds);
}

/* TF's BufferedInputStream::ReadLine drops every '\r'; a last line of
 * only '\r' is no line. */
Test(files, text_lines_carriage_returns) {
    const char *a = WRITE("crlf.txt", "one\r\ntwo\r\n\r\nth\rree\r\n\r");
    ct_dataset *ds = ct_dataset_text_lines(1, &a, CT_COMPRESSION_NONE);
    expect_lines(ds, 4, (const char *[]){"one", "two", "", "three"});
    ct_dataset_free(ds);
}

Test(files, text_lines_long_line_spans_buffers) {
    size_t n = 200000;
    char *big = malloc(n + 16);
    for (size_t i = 0; i < n; i++) big[i] = (char)('a' + i % 26);
    memcpy(big + n, "\nend\n", 6);
    const char *a = write_file("big.txt", big, n + 5);
    ct_dataset *ds = ct_dataset_text_lines(1, &a, CT_COMPRESSION_NONE);
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e;
    CT_STATUS_OK(ct_iterator_next(it, &e));
    cr_assert_eq(ct_tensor_size(e->t[0]), (int64_t)n);
    unsigned char *back = malloc(n);
    CT_STATUS_OK(ct_tensor_read(e->t[0], CT_UINT8, back, (int64_t)n));
    cr_assert(!memcmp(back, big, n));
    ct_element_free(e);
    CT_STATUS_OK(ct_iterator_next(it, &e));
    cr_assert_str_eq(str_of(e->t[0]), "end");
    ct_element_free(e);
    CT_STATUS_OK(ct_iterator_next(it, &e));
    cr_assert_null(e);
    free(back);
    free(big);
    ct_iterator_free(it);
    ct_dataset_free(ds);
}

Test(files, text_lines_gzip_and_zlib) {
    const char *text = "alpha\r\nbeta\ngamma";
    const char *g = write_gz("a.txt.gz", text, strlen(text));
    const char *z = write_zlib("a.txt.z", text, strlen(text));
    const char *want[] = {"alpha", "beta", "gamma"};
    ct_dataset *ds = ct_dataset_text_lines(1, &g, CT_COMPRESSION_GZIP);
    expect_lines(ds, 3, want);
    ct_dataset_free(ds);
    ds = ct_dataset_text_lines(1, &z, CT_COMPRESSION_ZLIB);
    expect_lines(ds, 3, want);
    ct_dataset_free(ds);
    /* Two concatenated gzip members read as one stream. */
    const char *g2 = write_gz("b.gz", "delta\n", 6);
    FILE *f = fopen(g2, "ab"), *src = fopen(g, "rb");
    char buf[256];
    size_t k = fread(buf, 1, sizeof buf, src);
    fwrite(buf, 1, k, f);
    fclose(f);
    fclose(src);
    ds = ct_dataset_text_lines(1, &g2, CT_COMPRESSION_GZIP);
    expect_lines(ds, 4, (const char *[]){"delta", "alpha", "beta", "gamma"});
    ct_dataset_free(ds);
}

Test(files, text_lines_bad_compressed_data) {
    const char *p = WRITE("plain.txt", "not compressed\n");
    ct_dataset *ds = ct_dataset_text_lines(1, &p, CT_COMPRESSION_GZIP);
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e;
    cr_assert_neq(ct_iterator_next(it, &e), CT_OK);
    cr_assert_null(e);
    cr_assert(strstr(ct_last_error(), "plain.txt") && strstr(ct_last_error(), "GZIP"), "%s",
              ct_last_error());
    ct_iterator_free(it);
    ct_dataset_free(ds);
    /* A truncated gzip file. */
    char text[4000];
    for (int i = 0; i < 4000; i++) text[i] = i % 50 == 49 ? '\n' : (char)('a' + (i * 7) % 26);
    const char *g = write_gz("t.gz", text, sizeof text);
    struct stat sb;
    stat(g, &sb);
    cr_assert_eq(truncate(g, sb.st_size - 12), 0);
    ds = ct_dataset_text_lines(1, &g, CT_COMPRESSION_GZIP);
    it = ct_dataset_iterator(ds);
    ct_status st;
    while ((st = ct_iterator_next(it, &e)) == CT_OK && e) ct_element_free(e);
    cr_assert_neq(st, CT_OK);
    cr_assert(strstr(ct_last_error(), "truncated") && strstr(ct_last_error(), "t.gz"), "%s",
              ct_last_error());
    ct_iterator_free(it);
    ct_dataset_free(ds);
}

Test(files, text_lines_missing_file_fails_when_reached) {
    const char *a = WRITE("a.txt", "one\ntwo\n");
    const char *missing = path_of("nope.txt");
    ct_dataset *ds = ct_dataset_text_lines(2, (const char *[]){a, missing}, CT_COMPRESSION_NONE);
    CT_OK(ds);
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e;
    for (int i = 0; i < 2; i++) {
        CT_STATUS_OK(ct_iterator_next(it, &e));
        CT_OK(e);
        ct_element_free(e);
    }
    cr_assert_eq(ct_iterator_next(it, &e), CT_ERR_NOT_FOUND);
    cr_assert_null(e);
    cr_assert(strstr(ct_last_error(), "nope.txt"), "%s", ct_last_error());
    ct_iterator_free(it);
    ct_dataset_free(ds);
    CT_FAILS(ct_dataset_text_lines(0, NULL, CT_COMPRESSION_NONE), "file name");
    CT_FAILS(ct_dataset_text_lines(1, &a, (ct_compression)7), "compression");
}

/* Saves after k elements, restores into a fresh iterator, and compares
 * the rest with an uninterrupted run. */
static void check_save_restore(ct_dataset *ds, int k) {
    ct_iterator *ref = ct_dataset_iterator(ds), *a = ct_dataset_iterator(ds);
    CT_OK(ref);
    CT_OK(a);
    ct_element *e;
    for (int i = 0; i < k; i++) {
        CT_STATUS_OK(ct_iterator_next(ref, &e));
        ct_element_free(e);
        CT_STATUS_OK(ct_iterator_next(a, &e));
        ct_element_free(e);
    }
    void *buf;
    size_t len;
    CT_STATUS_OK(ct_iterator_save(a, &buf, &len));
    ct_iterator_free(a);
    ct_iterator *b = ct_dataset_iterator(ds);
    CT_STATUS_OK(ct_iterator_restore(b, buf, len));
    free(buf);
    for (;;) {
        ct_element *x, *y;
        CT_STATUS_OK(ct_iterator_next(ref, &x));
        CT_STATUS_OK(ct_iterator_next(b, &y));
        cr_assert_eq(!x, !y, "one iterator ended before the other");
        if (!x) break;
        cr_assert_eq(x->n, y->n);
        for (int i = 0; i < x->n; i++) {
            int64_t n = ct_tensor_size(x->t[i]);
            cr_assert_eq(n, ct_tensor_size(y->t[i]));
            cr_assert_eq(ct_tensor_dtype(x->t[i]), ct_tensor_dtype(y->t[i]));
            for (int64_t j = 0; j < n; j++)
                cr_assert_eq(ct_tensor_get(x->t[i], j), ct_tensor_get(y->t[i], j));
        }
        ct_element_free(x);
        ct_element_free(y);
    }
    ct_iterator_free(ref);
    ct_iterator_free(b);
}

Test(files, text_lines_save_restore) {
    const char *text = "l1\nl2\nl3\nl4\n";
    const char *p = WRITE("s1.txt", text), *q = WRITE("s2.txt", "m1\nm2");
    const char *g = write_gz("s3.gz", text, strlen(text));
    ct_dataset *ds = ct_dataset_text_lines(2, (const char *[]){p, q}, CT_COMPRESSION_NONE);
    for (int k = 0; k <= 6; k++) check_save_restore(ds, k);
    ct_dataset_free(ds);
    ds = ct_dataset_text_lines(1, &g, CT_COMPRESSION_GZIP);
    for (int k = 0; k <= 4; k++) check_save_restore(ds, k);
    ct_dataset_free(ds);
}

/* ---- list_files -------------------------------------------------------------------------- */

Test(files, list_files_sorted_and_no_match) {
    WRITE("b.txt", "");
    WRITE("a.txt", "");
    WRITE("c.dat", "");
    WRITE("a10.txt", "");
    char pattern[256];
    snprintf(pattern, sizeof pattern, "%s/*.txt", dir);
    ct_dataset *ds = ct_dataset_list_files(pattern, false, 0);
    CT_OK(ds);
    cr_assert_eq(ct_dataset_cardinality(ds), 3);
    char w[3][256];
    snprintf(w[0], 256, "%s/a.txt", dir);
    snprintf(w[1], 256, "%s/a10.txt", dir);
    snprintf(w[2], 256, "%s/b.txt", dir);
    expect_lines(ds, 3, (const char *[]){w[0], w[1], w[2]});
    check_save_restore(ds, 1);
    ct_dataset_free(ds);
    snprintf(pattern, sizeof pattern, "%s/*.csv", dir);
    CT_FAILS(ct_dataset_list_files(pattern, false, 0), "No files matched pattern");
    CT_FAILS(ct_dataset_list_files(pattern, false, 0), ".csv");
}

Test(files, list_files_shuffled_is_a_seeded_permutation) {
    char pattern[256];
    for (int i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%d.txt", i);
        WRITE(name, "");
    }
    snprintf(pattern, sizeof pattern, "%s/f*.txt", dir);
    ct_dataset *a = ct_dataset_list_files(pattern, true, 42);
    ct_dataset *b = ct_dataset_list_files(pattern, true, 42);
    CT_OK(a);
    CT_OK(b);
    ct_iterator *ia = ct_dataset_iterator(a), *ib = ct_dataset_iterator(b);
    const char *ga[16], *gb[16];
    static char sa[4096], sb[4096];
    cr_assert_eq(read_strings(ia, ga, 16, sa, sizeof sa), 8);
    cr_assert_eq(read_strings(ib, gb, 16, sb, sizeof sb), 8);
    int seen = 0;
    for (int i = 0; i < 8; i++) {
        cr_assert_str_eq(ga[i], gb[i]);
        const char *base = strrchr(ga[i], '/') + 1;
        seen |= 1 << (base[1] - '0');
    }
    cr_assert_eq(seen, 0xff);
    ct_iterator_free(ia);
    ct_iterator_free(ib);
    ct_dataset_free(a);
    ct_dataset_free(b);
}

/* ---- CSV ------------------------------------------------------------------------------ */

static ct_element *next_elem(ct_iterator *it) {
    ct_element *e;
    CT_STATUS_OK(ct_iterator_next(it, &e));
    CT_OK(e);
    return e;
}

Test(files, csv_inferred_types_names_and_label) {
    const char *p = WRITE("t.csv",
                          "id,big,score,ratio,name,huge,label\n"
                          "1,3000000000,2,0.5,alice,1e39,0\n"
                          "2,,2.5,,\"bob, jr\",2,1\n"
                          "3,4,-1,nan,\"say \"\"hi\"\"\",3,1\n");
    ct_dataset *ds = ct_make_csv_dataset(1, &p, &(ct_csv_opts){.label_name = "label"});
    CT_OK(ds);
    const ct_element_spec *s = ct_dataset_element_spec(ds);
    cr_assert_eq(s->n, 7);
    const char *names[] = {"id", "big", "score", "ratio", "name", "huge"};
    ct_dtype types[] = {CT_INT32, CT_INT64, CT_FLOAT32, CT_CSV_STRING, CT_CSV_STRING, CT_FLOAT64,
                        CT_INT32};
    for (int i = 0; i < 7; i++) {
        cr_assert_eq(s->c[i].dtype, types[i], "column %d: %s", i, ct_dtype_name(s->c[i].dtype));
        if (i < 6) cr_assert_str_eq(s->c[i].name, names[i]);
    }
    cr_assert_null(s->c[6].name);
    cr_assert_eq(s->c[4].rank, 1);
    cr_assert_eq(s->c[0].rank, 0);
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e = next_elem(it);
    cr_assert_eq(ct_item(ct_element_get(e, "id")), 1);
    cr_assert_eq(ct_item(ct_element_get(e, "big")), 3000000000.0);
    cr_assert_str_eq(str_of(ct_element_get(e, "ratio")), "0.5");
    cr_assert_eq(ct_item(ct_element_get(e, "huge")), 1e39);
    cr_assert_eq(ct_item(e->t[6]), 0);
    ct_element_free(e);
    e = next_elem(it);
    cr_assert_eq(ct_item(ct_element_get(e, "big")), 0); /* empty: the default */
    cr_assert_float_eq(ct_item(ct_element_get(e, "score")), 2.5, 0);
    cr_assert_str_eq(str_of(ct_element_get(e, "ratio")), "");
    cr_assert_str_eq(str_of(ct_element_get(e, "name")), "bob, jr");
    cr_assert_eq(ct_item(e->t[6]), 1);
    ct_element_free(e);
    e = next_elem(it);
    cr_assert_str_eq(str_of(ct_element_get(e, "name")), "say \"hi\"");
    cr_assert_str_eq(str_of(ct_element_get(e, "ratio")), "nan");
    ct_element_free(e);
    CT_STATUS_OK(ct_iterator_next(it, &e));
    cr_assert_null(e);
    ct_iterator_free(it);
    check_save_restore(ds, 1);
    check_save_restore(ds, 2);
    ct_dataset_free(ds);
}

Test(files, csv_quotes_crlf_and_multiline_fields) {
    const char *p = WRITE("q.csv", "a,b\r\n\"x\ny\",1\r\n\"\",2\r\nlast,3");
    ct_dataset *ds = ct_make_csv_dataset(1, &p, NULL);
    CT_OK(ds);
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e = next_elem(it);
    cr_assert_str_eq(str_of(e->t[0]), "x\ny");
    cr_assert_eq(ct_item(e->t[1]), 1);
    ct_element_free(e);
    e = next_elem(it);
    cr_assert_str_eq(str_of(e->t[0]), "");
    ct_element_free(e);
    e = next_elem(it);
    cr_assert_str_eq(str_of(e->t[0]), "last");
    cr_assert_eq(ct_item(e->t[1]), 3);
    ct_element_free(e);
    CT_STATUS_OK(ct_iterator_next(it, &e));
    cr_assert_null(e);
    ct_iterator_free(it);
    check_save_restore(ds, 1);
    ct_dataset_free(ds);
}

Test(files, csv_given_columns_select_na_and_delim) {
    const char *p = WRITE("n.csv", "1;-;x;7\n2;2.5;y;8\n");
    ct_csv_opts o = {
        .column_names = (const char *[]){"a", "b", "c", "d"},
        .num_column_names = 4,
        .no_header = true,
        .field_delim = ';',
        .na_value = "-",
        .select_columns = (const char *[]){"d", "b"},
        .num_select_columns = 2,
        .column_defaults = (ct_csv_column[]){{.dtype = CT_FLOAT64, .value = -9},
                                             {.dtype = CT_INT64}},
        .num_column_defaults = 2,
    };
    ct_dataset *ds = ct_make_csv_dataset(1, &p, &o);
    CT_OK(ds);
    const ct_element_spec *s = ct_dataset_element_spec(ds);
    cr_assert_eq(s->n, 2);
    cr_assert_str_eq(s->c[0].name, "b");
    cr_assert_str_eq(s->c[1].name, "d");
    cr_assert_eq(s->c[0].dtype, CT_FLOAT64);
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e = next_elem(it);
    cr_assert_eq(ct_item(e->t[0]), -9); /* "-" is NA */
    cr_assert_eq(ct_tensor_dtype(e->t[1]), CT_INT64);
    cr_assert_eq(ct_item(e->t[1]), 7);
    ct_element_free(e);
    e = next_elem(it);
    cr_assert_eq(ct_item(e->t[0]), 2.5);
    ct_element_free(e);
    ct_iterator_free(it);
    ct_dataset_free(ds);
    /* select by index too, and string defaults */
    o.select_columns = NULL;
    o.num_select_columns = 0;
    o.select_indices = (const int[]){2, 0};
    o.num_select_indices = 2;
    o.column_defaults = (ct_csv_column[]){{.dtype = CT_INT32}, {.dtype = CT_CSV_STRING}};
    ds = ct_make_csv_dataset(1, &p, &o);
    CT_OK(ds);
    it = ct_dataset_iterator(ds);
    e = next_elem(it);
    cr_assert_eq(ct_item(ct_element_get(e, "a")), 1);
    cr_assert_str_eq(str_of(ct_element_get(e, "c")), "x");
    ct_element_free(e);
    ct_iterator_free(it);
    ct_dataset_free(ds);
}

Test(files, csv_gzip) {
    const char *text = "x,y\n1,2\n3,4\n";
    const char *g = write_gz("c.csv.gz", text, strlen(text));
    ct_dataset *ds = ct_make_csv_dataset(1, &g,
                                         &(ct_csv_opts){.compression = CT_COMPRESSION_GZIP,
                                                        .label_name = "y"});
    CT_OK(ds);
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e = next_elem(it);
    cr_assert_eq(ct_item(ct_element_get(e, "x")), 1);
    cr_assert_eq(ct_item(e->t[1]), 2);
    ct_element_free(e);
    ct_iterator_free(it);
    check_save_restore(ds, 1);
    ct_dataset_free(ds);
}

/* Iterates to the first error; asserts its message has all the needles. */
static void expect_iter_error(ct_dataset *ds, int good, const char *n1, const char *n2,
                              const char *n3) {
    CT_OK(ds);
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e;
    for (int i = 0; i < good; i++) ct_element_free(next_elem(it));
    ct_clear_error();
    cr_assert_neq(ct_iterator_next(it, &e), CT_OK, "expected an error");
    cr_assert_null(e);
    const char *m = ct_last_error();
    cr_assert(strstr(m, n1) && strstr(m, n2) && (!n3 || strstr(m, n3)),
              "error \"%s\" lacks \"%s\" / \"%s\" / \"%s\"", m, n1, n2, n3 ? n3 : "");
    ct_iterator_free(it);
}

Test(files, csv_malformed_records) {
    ct_csv_column two_int[] = {{.dtype = CT_INT32}, {.dtype = CT_INT32}};
    ct_csv_opts o = {.column_defaults = two_int, .num_column_defaults = 2};
    const char *p = WRITE("m1.csv", "a,b\n1,2\n3\n5,6\n");
    ct_dataset *ds = ct_make_csv_dataset(1, &p, &o);
    expect_iter_error(ds, 1, "m1.csv line 3", "Expect 2 fields but have 1", NULL);
    /* The bad record is consumed: the next one still reads. */
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e;
    ct_element_free(next_elem(it));
    cr_assert_neq(ct_iterator_next(it, &e), CT_OK);
    e = next_elem(it);
    cr_assert_eq(ct_item(e->t[0]), 5);
    ct_element_free(e);
    ct_iterator_free(it);
    ct_dataset_free(ds);

    p = WRITE("m2.csv", "a,b\n1,2,3\n");
    ds = ct_make_csv_dataset(1, &p, &o);
    expect_iter_error(ds, 0, "line 2", "have more", NULL);
    ct_dataset_free(ds);

    p = WRITE("m3.csv", "a,b\n1,2\n3,x7\n");
    ds = ct_make_csv_dataset(1, &p, &o);
    expect_iter_error(ds, 1, "m3.csv line 3, column 2", "not a valid int32: x7", NULL);
    ct_dataset_free(ds);

    p = WRITE("m4.csv", "a,b\n1,\"2\n3,4\n");
    ds = ct_make_csv_dataset(1, &p, &o);
    expect_iter_error(ds, 0, "line 2, column 2", "without closing quoted field", NULL);
    ct_dataset_free(ds);

    p = WRITE("m5.csv", "a,b\n1,2\"\n");
    ds = ct_make_csv_dataset(1, &p, &o);
    expect_iter_error(ds, 0, "column 2", "Unquoted fields cannot have quotes", NULL);
    ct_dataset_free(ds);

    p = WRITE("m6.csv", "a,b\n\"1\"x,2\n");
    ds = ct_make_csv_dataset(1, &p, &o);
    expect_iter_error(ds, 0, "column 1", "escaped by another quote", NULL);
    ct_dataset_free(ds);

    /* required: an empty field is an error naming file, line, column */
    ct_csv_column req[] = {{.dtype = CT_FLOAT32, .required = true}, {.dtype = CT_INT32}};
    p = WRITE("m7.csv", "a,b\n1,2\n,3\n");
    ds = ct_make_csv_dataset(1, &p, &(ct_csv_opts){.column_defaults = req,
                                                   .num_column_defaults = 2});
    expect_iter_error(ds, 1, "m7.csv line 3, column 1", "required but missing", "'a'");
    ct_dataset_free(ds);

    /* an empty line is a record of one field (as TF) */
    p = WRITE("m8.csv", "a,b\n1,2\n\n");
    ds = ct_make_csv_dataset(1, &p, &o);
    expect_iter_error(ds, 1, "line 3", "have 1", NULL);
    ct_dataset_free(ds);

    /* with a header, an empty file cannot be read */
    p = WRITE("m9.csv", "");
    o.column_names = (const char *[]){"a", "b"};
    o.num_column_names = 2;
    ds = ct_make_csv_dataset(1, &p, &o);
    expect_iter_error(ds, 0, "m9.csv", "header", NULL);
    ct_dataset_free(ds);
}

Test(files, csv_construction_errors) {
    const char *a = WRITE("h1.csv", "x,y\n1,2\n"), *b = WRITE("h2.csv", "x,z\n1,2\n");
    CT_FAILS(ct_make_csv_dataset(2, (const char *[]){a, b}, NULL), "different column names");
    const char *d = WRITE("dup.csv", "x,x\n1,2\n");
    CT_FAILS(ct_make_csv_dataset(1, &d, NULL), "duplicate column names");
    CT_FAILS(ct_make_csv_dataset(1, &a, &(ct_csv_opts){.label_name = "q"}), "label_name");
    CT_FAILS(ct_make_csv_dataset(1, &a, &(ct_csv_opts){.no_header = true}),
             "without a header line");
    CT_FAILS(ct_make_csv_dataset(1, &a,
                                 &(ct_csv_opts){.select_columns = (const char *[]){"nope"},
                                                .num_select_columns = 1}),
             "'nope' specified in select_columns");
    CT_FAILS(ct_make_csv_dataset(1, &a,
                                 &(ct_csv_opts){.select_indices = (const int[]){0, 0},
                                                .num_select_indices = 2}),
             "duplicate");
    CT_FAILS(ct_make_csv_dataset(1, &a,
                                 &(ct_csv_opts){.column_defaults = (ct_csv_column[]){{0}},
                                                .num_column_defaults = 1}),
             "column_defaults");
    const char *r = WRITE("ragged.csv", "x,y\n1,2\n3\n");
    CT_FAILS(ct_make_csv_dataset(1, &r, NULL), "ragged.csv line 3");
    const char *e = WRITE("empty.csv", "");
    CT_FAILS(ct_make_csv_dataset(1, &e, NULL), "empty file");
    CT_FAILS(ct_make_csv_dataset(1, (const char *[]){path_of("missing.csv")}, NULL),
             "missing.csv");
    CT_FAILS(ct_make_csv_dataset(0, NULL, NULL), "at least one file");
}

Test(files, csv_inference_rules) {
    /* int32 then float -> float32; an int beyond int64 -> float32; inf -> string;
     * "-inf" is a float; an all-empty column -> string. */
    const char *p = WRITE("inf.csv",
                          "a,b,c,d,e\n1,99999999999999999999,inf,-inf,\n2.5,1,1,1,\n");
    ct_dataset *ds = ct_make_csv_dataset(1, &p, NULL);
    CT_OK(ds);
    const ct_element_spec *s = ct_dataset_element_spec(ds);
    ct_dtype want[] = {CT_FLOAT32, CT_FLOAT32, CT_CSV_STRING, CT_FLOAT32, CT_CSV_STRING};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(s->c[i].dtype, want[i], "column %d: %s", i, ct_dtype_name(s->c[i].dtype));
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e = next_elem(it);
    cr_assert_eq(ct_item(e->t[0]), 1);
    cr_assert(isinf(ct_item(e->t[3])) && ct_item(e->t[3]) < 0);
    ct_element_free(e);
    ct_iterator_free(it);
    ct_dataset_free(ds);
    /* num_rows_for_inference = 1: only the first row decides (int32), so
     * the second row fails to parse. */
    ds = ct_make_csv_dataset(1, &p, &(ct_csv_opts){.num_rows_for_inference = 1});
    CT_OK(ds);
    cr_assert_eq(ct_dataset_element_spec(ds)->c[0].dtype, CT_INT32);
    expect_iter_error(ds, 1, "line 3, column 1", "not a valid int32: 2.5", NULL);
    ct_dataset_free(ds);
}

Test(files, decode_csv_one_record) {
    ct_csv_column defs[] = {{.dtype = CT_INT32}, {.dtype = CT_FLOAT32, .value = 7},
                            {.dtype = CT_CSV_STRING, .string_value = "dflt"}};
    ct_element *e;
    const char *rec = " 12 ,,\"a,b\"";
    CT_STATUS_OK(ct_decode_csv(rec, strlen(rec), 3, defs, NULL, &e));
    cr_assert_eq(ct_item(e->t[0]), 12);
    cr_assert_eq(ct_item(e->t[1]), 7);
    cr_assert_str_eq(str_of(e->t[2]), "a,b");
    ct_element_free(e);
    CT_STATUS_OK(ct_decode_csv("1,2,", 4, 3, defs, NULL, &e));
    cr_assert_str_eq(str_of(e->t[2]), "dflt");
    ct_element_free(e);
    CT_STATUS_OK(ct_decode_csv("9|x|y|3.5", 9, 2, (ct_csv_column[]){{.dtype = CT_INT32},
                                                                     {.dtype = CT_FLOAT64}},
                               &(ct_csv_opts){.field_delim = '|',
                                              .select_indices = (const int[]){0, 3},
                                              .num_select_indices = 2},
                               &e));
    cr_assert_eq(ct_item(e->t[0]), 9);
    cr_assert_eq(ct_item(e->t[1]), 3.5);
    ct_element_free(e);
    cr_assert_neq(ct_decode_csv("1,2", 3, 3, defs, NULL, &e), CT_OK);
    cr_assert(strstr(ct_last_error(), "Expect 3 fields but have 2"), "%s", ct_last_error());
    cr_assert_neq(ct_decode_csv("1,2\n3", 5, 3, defs, NULL, &e), CT_OK);
    cr_assert_neq(ct_decode_csv("x,2,3", 5, 3, defs, NULL, &e), CT_OK);
    cr_assert(strstr(ct_last_error(), "column 1"), "%s", ct_last_error());
}

/* ---- IDX -------------------------------------------------------------------------------- */

static size_t idx_bytes(unsigned char *out, int code, int rank, const uint32_t *dims,
                        const void *data, size_t nbytes) {
    out[0] = out[1] = 0;
    out[2] = (unsigned char)code;
    out[3] = (unsigned char)rank;
    for (int i = 0; i < rank; i++) {
        out[4 + 4 * i] = (unsigned char)(dims[i] >> 24);
        out[5 + 4 * i] = (unsigned char)(dims[i] >> 16);
        out[6 + 4 * i] = (unsigned char)(dims[i] >> 8);
        out[7 + 4 * i] = (unsigned char)dims[i];
    }
    if (nbytes) memcpy(out + 4 + 4 * rank, data, nbytes);
    return 4 + 4 * (size_t)rank + nbytes;
}

Test(files, idx_types_plain_and_gzip) {
    unsigned char buf[256];
    ct_tensor *t;
    /* uint8 [2,3] */
    size_t n = idx_bytes(buf, 0x08, 2, (uint32_t[]){2, 3}, (unsigned char[]){0, 1, 2, 250, 254, 255}, 6);
    CT_STATUS_OK(ct_load_idx(write_file("u8.idx", buf, n), &t));
    CT_EXPECT(t, CT_UINT8, CT_DIMS(2, 3), 0, 0, 1, 2, 250, 254, 255);
    CT_STATUS_OK(ct_load_idx(write_gz("u8.idx.gz", buf, n), &t));
    CT_EXPECT(t, CT_UINT8, CT_DIMS(2, 3), 0, 0, 1, 2, 250, 254, 255);
    /* int8 -> int32 */
    n = idx_bytes(buf, 0x09, 1, (uint32_t[]){3}, (unsigned char[]){0x80, 0xff, 0x05}, 3);
    CT_STATUS_OK(ct_load_idx(write_file("i8.idx", buf, n), &t));
    CT_EXPECT(t, CT_INT32, CT_DIMS(3), 0, -128, -1, 5);
    /* int16 big-endian -> int32 */
    n = idx_bytes(buf, 0x0B, 1, (uint32_t[]){2}, (unsigned char[]){0x80, 0x00, 0x01, 0x02}, 4);
    CT_STATUS_OK(ct_load_idx(write_file("i16.idx", buf, n), &t));
    CT_EXPECT(t, CT_INT32, CT_DIMS(2), 0, -32768, 258);
    /* int32 */
    n = idx_bytes(buf, 0x0C, 1, (uint32_t[]){2}, (unsigned char[]){0xff, 0xff, 0xff, 0xfe, 0, 1, 0, 0}, 8);
    CT_STATUS_OK(ct_load_idx(write_file("i32.idx", buf, n), &t));
    CT_EXPECT(t, CT_INT32, CT_DIMS(2), 0, -2, 65536);
    /* float32 1.5 = 0x3fc00000, -2 = 0xc0000000 */
    n = idx_bytes(buf, 0x0D, 1, (uint32_t[]){2}, (unsigned char[]){0x3f, 0xc0, 0, 0, 0xc0, 0, 0, 0}, 8);
    CT_STATUS_OK(ct_load_idx(write_gz("f32.idx.gz", buf, n), &t));
    CT_EXPECT(t, CT_FLOAT32, CT_DIMS(2), 0, 1.5, -2);
    /* float64 0.1 = 0x3fb999999999999a */
    n = idx_bytes(buf, 0x0E, 0, NULL,
                  (unsigned char[]){0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a}, 8);
    CT_STATUS_OK(ct_load_idx(write_file("f64.idx", buf, n), &t));
    CT_EXPECT(t, CT_FLOAT64, CT_SCALAR, 0, 0.1);
    /* empty: [0, 5] */
    n = idx_bytes(buf, 0x08, 2, (uint32_t[]){0, 5}, NULL, 0);
    CT_STATUS_OK(ct_load_idx(write_file("empty.idx", buf, n), &t));
    ct_expect_shape(t, CT_DIMS(0, 5));
}

static void expect_idx_error(const char *path, const char *n1, const char *n2) {
    ct_tensor *t = (ct_tensor *)1;
    cr_assert_neq(ct_load_idx(path, &t), CT_OK);
    cr_assert_null(t);
    const char *m = ct_last_error();
    cr_assert(strstr(m, n1) && strstr(m, n2), "error \"%s\" lacks \"%s\" / \"%s\"", m, n1, n2);
}

Test(files, idx_malformed) {
    unsigned char buf[256];
    unsigned char data[6] = {1, 2, 3, 4, 5, 6};
    size_t n = idx_bytes(buf, 0x08, 2, (uint32_t[]){2, 3}, data, 6);
    expect_idx_error(write_file("short.idx", buf, n - 2), "short.idx",
                     "need 6 bytes of data after the 12-byte header, found 4");
    expect_idx_error(write_gz("short.idx.gz", buf, n - 2), "short.idx.gz", "found 4");
    expect_idx_error(write_file("tiny.idx", buf, 3), "tiny.idx", "found 3 bytes");
    expect_idx_error(write_file("dims.idx", buf, 9), "dims.idx", "expected 12 bytes of header");
    unsigned char bad[64];
    memcpy(bad, buf, n);
    bad[0] = 0x1f;
    bad[1] = 0x00;
    expect_idx_error(write_file("magic.idx", bad, n), "magic.idx", "magic number");
    memcpy(bad, buf, n);
    bad[2] = 0x0A;
    expect_idx_error(write_file("type.idx", bad, n), "type.idx", "0x0a");
    memcpy(bad, buf, n);
    bad[3] = 9;
    expect_idx_error(write_file("rank.idx", bad, n), "rank.idx", "9 dimensions");
    unsigned char longer[64];
    memcpy(longer, buf, n);
    memset(longer + n, 0, 5);
    expect_idx_error(write_file("long.idx", longer, n + 5), "long.idx", "5 bytes after the data");
    /* huge claimed dimensions in a small file fail without allocating */
    n = idx_bytes(buf, 0x0E, 3, (uint32_t[]){0xffffffffu, 0xffffffffu, 0xfffu}, data, 6);
    expect_idx_error(write_file("huge.idx", buf, n), "huge.idx", "too many");
    n = idx_bytes(buf, 0x0E, 2, (uint32_t[]){0xffffffu, 0xffffu}, data, 6);
    expect_idx_error(write_gz("huge2.idx.gz", buf, n), "huge2.idx.gz", "found 6");
    /* a truncated gzip stream */
    unsigned char img[2000];
    for (int i = 0; i < 2000; i++) img[i] = (unsigned char)(i * 37);
    unsigned char big[2100];
    n = idx_bytes(big, 0x08, 1, (uint32_t[]){2000}, img, 2000);
    const char *g = write_gz("trunc.gz", big, n);
    struct stat sb;
    stat(g, &sb);
    cr_assert_eq(truncate(g, sb.st_size - 20), 0);
    expect_idx_error(g, "trunc.gz", "");
    expect_idx_error(path_of("nothere.idx"), "nothere.idx", "No such file");
    ct_tensor *t;
    cr_assert_eq(ct_load_idx(path_of("nothere.idx"), &t), CT_ERR_NOT_FOUND);
}

Test(files, fashion_mnist_from_debian) {
    const char *probe = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz";
    if (access(probe, R_OK) != 0) cr_skip_test("%s is missing (apt-get install dataset-fashion-mnist)", probe);
    ct_tensor *xtr, *ytr, *xte, *yte;
    CT_STATUS_OK(ct_load_fashion_mnist(NULL, &xtr, &ytr, &xte, &yte));
    ct_expect_shape(xtr, CT_DIMS(60000, 28, 28));
    ct_expect_shape(ytr, CT_DIMS(60000));
    ct_expect_shape(xte, CT_DIMS(10000, 28, 28));
    ct_expect_shape(yte, CT_DIMS(10000));
    cr_assert_eq(ct_tensor_dtype(xtr), CT_UINT8);
    cr_assert_eq(ct_tensor_dtype(ytr), CT_UINT8);
    static uint8_t labels[60000];
    CT_STATUS_OK(ct_tensor_read(ytr, CT_UINT8, labels, 60000));
    const uint8_t first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    for (int i = 0; i < 10; i++) cr_assert_eq(labels[i], first[i], "label %d", i);
    int count[10] = {0};
    for (int i = 0; i < 60000; i++) {
        cr_assert_lt(labels[i], 10);
        count[labels[i]]++;
    }
    for (int c = 0; c < 10; c++) cr_assert_eq(count[c], 6000); /* balanced classes */
    CT_STATUS_OK(ct_tensor_read(yte, CT_UINT8, labels, 10000));
    for (int i = 0; i < 10000; i++) cr_assert_lt(labels[i], 10);
    /* pixels: the first training image has both black and white pixels */
    double lo = 255, hi = 0;
    for (int i = 0; i < 784; i++) {
        double v = ct_tensor_get(xtr, i);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    cr_assert_eq(lo, 0);
    cr_assert_gt(hi, 200);
    /* A directory without the files: an error naming the file; outputs NULL. */
    cr_assert_neq(ct_load_fashion_mnist(dir, &xtr, &ytr, &xte, &yte), CT_OK);
    cr_assert(strstr(ct_last_error(), "train-images-idx3-ubyte"), "%s", ct_last_error());
    cr_assert_null(xtr);
    cr_assert_null(yte);
}
