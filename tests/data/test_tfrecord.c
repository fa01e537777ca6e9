/* TFRecord files (CRC-32C, framing, the dataset, the writer) and tf.Example
 * (builder, parse_single_example). Golden bytes: specs/tfrecord_example.md. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/tfrecord.h" /* private: the framing and CRC */
#include "support.h"

TestSuite(tfrecord, .init = ct_test_begin, .fini = ct_test_end);

/* The spec's §4 test vector: the Example and its one-record file. */
static const uint8_t SPEC_EXAMPLE[54] = {
    0x0a, 0x34, 0x0a, 0x0e, 0x0a, 0x05, 0x6c, 0x61, 0x62, 0x65, 0x6c, 0x12, 0x05, 0x1a,
    0x03, 0x0a, 0x01, 0x07, 0x0a, 0x0f, 0x0a, 0x04, 0x6e, 0x61, 0x6d, 0x65, 0x12, 0x07,
    0x0a, 0x05, 0x0a, 0x03, 0x63, 0x61, 0x74, 0x0a, 0x11, 0x0a, 0x01, 0x78, 0x12, 0x0c,
    0x12, 0x0a, 0x0a, 0x08, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x80, 0xbf};
static const uint8_t SPEC_FILE[70] = {
    0x36, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4f, 0x57, 0x8c, 0xef, 0x0a, 0x34,
    0x0a, 0x0e, 0x0a, 0x05, 0x6c, 0x61, 0x62, 0x65, 0x6c, 0x12, 0x05, 0x1a, 0x03, 0x0a,
    0x01, 0x07, 0x0a, 0x0f, 0x0a, 0x04, 0x6e, 0x61, 0x6d, 0x65, 0x12, 0x07, 0x0a, 0x05,
    0x0a, 0x03, 0x63, 0x61, 0x74, 0x0a, 0x11, 0x0a, 0x01, 0x78, 0x12, 0x0c, 0x12, 0x0a,
    0x0a, 0x08, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x80, 0xbf, 0x7e, 0x58, 0x6b, 0xb2};

/* ---- helpers ------------------------------------------------------------------- */

static char tmpdir[256];

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    if (!tmpdir[0]) {
        strcpy(tmpdir, "/tmp/ct_tfrecord_XXXXXX");
        cr_assert_not_null(mkdtemp(tmpdir));
    }
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static void rm_tmpdir(void) {
    if (!tmpdir[0]) return;
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(tmpdir);
    tmpdir[0] = 0;
}

static int count_files(void) {
    int n = 0;
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

static uint8_t *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(*n + 1);
    cr_assert_eq(fread(p, 1, *n, f), *n);
    fclose(f);
    return p;
}

/* Record i of a test set: length varies (0, 1, ..., some large). */
static size_t rec_len(int i) {
    static const size_t lens[] = {0, 1, 7, 100, 12, 70000, 3, 255, 256, 4096, 1, 0, 33};
    return lens[i % 13];
}
static void rec_fill(int i, uint8_t *p) {
    uint32_t s = 2654435761u * (uint32_t)(i + 1);
    for (size_t j = 0; j < rec_len(i); j++) {
        s = s * 1664525u + 1013904223u;
        p[j] = (uint8_t)(s >> 24);
    }
}

static void write_records(const char *path, ct_compression c, int first, int n) {
    ct_tfrecord_writer *w = ct_tfrecord_writer_open(path, c);
    cr_assert_not_null(w, "%s", ct_last_error());
    uint8_t *buf = malloc(70000);
    for (int i = first; i < first + n; i++) {
        rec_fill(i, buf);
        CT_STATUS_OK(ct_tfrecord_writer_write(w, buf, rec_len(i)));
    }
    free(buf);
    CT_STATUS_OK(ct_tfrecord_writer_close(w));
}

/* Checks that element e holds record i. */
static void expect_record(ct_element *e, int i) {
    cr_assert_not_null(e, "record %d missing", i);
    cr_assert_eq(e->n, 1);
    cr_assert_eq(ct_tensor_dtype(e->t[0]), CT_UINT8);
    cr_assert_eq(ct_tensor_rank(e->t[0]), 1);
    cr_assert_eq((size_t)ct_tensor_size(e->t[0]), rec_len(i), "record %d: %lld bytes", i,
                 (long long)ct_tensor_size(e->t[0]));
    uint8_t *want = malloc(rec_len(i) + 1), *got = malloc(rec_len(i) + 1);
    rec_fill(i, want);
    CT_STATUS_OK(ct_tensor_read(e->t[0], CT_UINT8, got, (int64_t)rec_len(i)));
    cr_expect(memcmp(want, got, rec_len(i)) == 0, "record %d differs", i);
    free(want);
    free(got);
}

/* Reads from it expecting records first..first+n-1 then the end. */
static void expect_records(ct_iterator *it, int first, int n) {
    ct_element *e;
    for (int i = first; i < first + n; i++) {
        CT_STATUS_OK(ct_iterator_next(it, &e));
        expect_record(e, i);
        ct_element_free(e);
    }
    CT_STATUS_OK(ct_iterator_next(it, &e));
    cr_expect_null(e, "more records than expected");
    ct_element_free(e);
}

/* Iterates until an error; asserts it mentions each of the needles. */
static void expect_read_error(ct_dataset *ds, const char *n1, const char *n2, const char *n3) {
    ct_iterator *it = ct_dataset_iterator(ds);
    cr_assert_not_null(it, "%s", ct_last_error());
    ct_status st;
    ct_element *e;
    int guard = 0;
    while ((st = ct_iterator_next(it, &e)) == CT_OK && e && guard++ < 100) ct_element_free(e);
    cr_assert_neq(st, CT_OK, "expected an error mentioning %s", n1);
    cr_expect_null(e);
    const char *msg = ct_last_error();
    cr_expect(strstr(msg, n1), "\"%s\" does not mention \"%s\"", msg, n1);
    if (n2) cr_expect(strstr(msg, n2), "\"%s\" does not mention \"%s\"", msg, n2);
    if (n3) cr_expect(strstr(msg, n3), "\"%s\" does not mention \"%s\"", msg, n3);
    /* The error is sticky: the iterator does not skip the bad record. */
    cr_expect_neq(ct_iterator_next(it, &e), CT_OK);
    ct_iterator_free(it);
}

/* ---- CRC-32C and framing ------------------------------------------------------------ */

static uint32_t crc_bitwise(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return ~c;
}

Test(tfrecord, crc32c_vectors_and_masking) {
    uint8_t zeros[32] = {0};
    cr_expect_eq(ct__crc32c("", 0), 0u);
    cr_expect_eq(ct__crc32c("123456789", 9), 0xE3069283u);
    cr_expect_eq(ct__crc32c(zeros, 32), 0x8A9136AAu);
    cr_expect_eq(ct__crc32c_extend_portable(0, "123456789", 9), 0xE3069283u);
    cr_expect_eq(ct__crc32c_extend_portable(0, zeros, 32), 0x8A9136AAu);
    cr_expect_eq(ct__crc32c_mask(0), 0xA282EAD8u);
    cr_expect_eq(ct__crc32c_mask(0xE3069283u), 0xC78AB0E5u);
    cr_expect_eq(ct__crc32c_mask(0x8A9136AAu), 0x0FD7FFFAu);
    cr_expect_eq(ct__crc32c_unmask(0xC78AB0E5u), 0xE3069283u);
    /* Every length and alignment, both code paths, against a bitwise CRC;
     * extend over a split equals the whole. */
    uint8_t buf[300];
    for (int i = 0; i < 300; i++) buf[i] = (uint8_t)(i * 7 + 3);
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n + off <= 300; n += 13) {
            uint32_t want = crc_bitwise(buf + off, n);
            cr_assert_eq(ct__crc32c(buf + off, n), want, "off %zu n %zu", off, n);
            cr_assert_eq(ct__crc32c_extend_portable(0, buf + off, n), want);
            size_t h = n / 3;
            cr_assert_eq(ct__crc32c_extend(ct__crc32c(buf + off, h), buf + off + h, n - h), want);
        }
}

Test(tfrecord, crc32c_long_buffers) {
    /* Lengths that reach every vector path (three streams, 512-bit folding
     * with its 256- and 64-byte loops and the tail) at odd alignments. */
    enum { N = 20000 };
    uint8_t *buf = malloc(N + 64);
    cr_assert(buf);
    uint32_t x = 12345;
    for (int i = 0; i < N + 64; i++) buf[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 23);
    static const size_t lens[] = {255, 256, 257, 319, 320, 511, 512, 575, 1000, 4096, 4111,
                                  8192, 12289, 19999};
    for (size_t off = 0; off < 64; off += 7)
        for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
            size_t n = lens[i];
            uint32_t want = crc_bitwise(buf + off, n);
            cr_assert_eq(ct__crc32c(buf + off, n), want, "off %zu n %zu", off, n);
            cr_assert_eq(ct__crc32c_extend_portable(0, buf + off, n), want);
            size_t h = n / 3 + 1;
            cr_assert_eq(ct__crc32c_extend(ct__crc32c(buf + off, h), buf + off + h, n - h), want,
                         "split off %zu n %zu", off, n);
        }
    free(buf);
}

Test(tfrecord, frame_matches_the_spec_file) {
    uint8_t hdr[CT__TFRECORD_HEADER], ftr[CT__TFRECORD_FOOTER];
    ct__tfrecord_frame(SPEC_EXAMPLE, sizeof SPEC_EXAMPLE, hdr, ftr);
    cr_expect(memcmp(hdr, SPEC_FILE, 12) == 0);
    cr_expect(memcmp(ftr, SPEC_FILE + 66, 4) == 0);
    /* The in-memory reader (the fuzzers' and io/'s entry point). */
    ct__tfrecord_reader *r = ct__tfrecord_reader_open_memory(SPEC_FILE, sizeof SPEC_FILE, "mem",
                                                             CT_COMPRESSION_NONE, "test");
    cr_assert_not_null(r, "%s", ct_last_error());
    const uint8_t *rec;
    size_t len;
    CT_STATUS_OK(ct__tfrecord_read_next(r, &rec, &len));
    cr_assert_not_null(rec);
    cr_expect_eq(len, 54u);
    cr_expect(memcmp(rec, SPEC_EXAMPLE, 54) == 0);
    cr_expect_eq(ct__tfrecord_reader_offset(r), 70u);
    CT_STATUS_OK(ct__tfrecord_read_next(r, &rec, &len));
    cr_expect_null(rec);
    CT_STATUS_OK(ct__tfrecord_reader_seek(r, 0));
    CT_STATUS_OK(ct__tfrecord_read_next(r, &rec, &len));
    cr_expect_eq(len, 54u);
    cr_expect_neq(ct__tfrecord_reader_seek(r, 71), CT_OK);
    ct__tfrecord_reader_close(r);
}

/* ---- the dataset ------------------------------------------------------------------- */

Test(tfrecord, reads_a_file_written_by_hand, .fini = rm_tmpdir) {
    const char *path = tmp_path("spec.tfrecord");
    write_bytes(path, SPEC_FILE, sizeof SPEC_FILE);
    ct_dataset *ds = ct_dataset_tfrecord(1, &path, CT_COMPRESSION_NONE);
    cr_assert_not_null(ds, "%s", ct_last_error());
    const ct_element_spec *spec = ct_dataset_element_spec(ds);
    cr_expect_eq(spec->n, 1);
    cr_expect_eq(spec->c[0].dtype, CT_UINT8);
    cr_expect_eq(spec->c[0].rank, 1);
    cr_expect_eq(spec->c[0].shape[0], -1);
    cr_expect_eq(ct_dataset_cardinality(ds), CT_UNKNOWN_CARDINALITY);
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e;
    CT_STATUS_OK(ct_iterator_next(it, &e));
    cr_assert_not_null(e);
    cr_assert_eq(ct_tensor_size(e->t[0]), 54);
    uint8_t got[54];
    CT_STATUS_OK(ct_tensor_read(e->t[0], CT_UINT8, got, 54));
    cr_expect(memcmp(got, SPEC_EXAMPLE, 54) == 0);

    /* ... and its Example parses to the spec's values. */
    ct_feature_spec specs[] = {
        {.key = "x", .dtype = CT_FLOAT32, .rank = 1, .shape = {2}},
        {.key = "label", .dtype = CT_INT64},
        {.key = "name", .dtype = CT_UINT8},
    };
    ct_element *p;
    CT_STATUS_OK(ct_parse_example(e->t[0], 3, specs, &p));
    cr_assert_eq(p->n, 3);
    cr_expect_str_eq(p->name[1], "label");
    CT_EXPECT(p->t[0], CT_FLOAT32, CT_DIMS(2), 0, 0.5, -1.0);
    CT_EXPECT(p->t[1], CT_INT64, CT_SCALAR, 0, 7);
    CT_EXPECT(p->t[2], CT_UINT8, CT_DIMS(3), 0, 'c', 'a', 't');
    cr_expect_eq(ct_element_get(p, "name"), p->t[2]);
    ct_element_free(p);
    ct_element_free(e);
    CT_STATUS_OK(ct_iterator_next(it, &e));
    cr_expect_null(e);
    ct_iterator_free(it);
    ct_dataset_free(ds);
}

Test(tfrecord, writer_produces_the_spec_bytes, .fini = rm_tmpdir) {
    ct_example *ex = ct_example_new();
    CT_STATUS_OK(ct_example_add_floats(ex, "x", (float[]){0.5f, -1.0f}, 2));
    CT_STATUS_OK(ct_example_add_bytes(ex, "name", 1, (const void *[]){"cat"}, (size_t[]){3}));
    CT_STATUS_OK(ct_example_add_int64s(ex, "label", (int64_t[]){7}, 1));
    void *buf;
    size_t len;
    CT_STATUS_OK(ct_example_serialize(ex, &buf, &len));
    cr_assert_eq(len, sizeof SPEC_EXAMPLE);
    cr_expect(memcmp(buf, SPEC_EXAMPLE, len) == 0, "serialized Example differs from the spec");
    ct_example_free(ex);

    const char *path = tmp_path("w.tfrecord");
    ct_tfrecord_writer *w = ct_tfrecord_writer_open(path, CT_COMPRESSION_NONE);
    cr_assert_not_null(w, "%s", ct_last_error());
    CT_STATUS_OK(ct_tfrecord_writer_write(w, buf, len));
    /* Nothing at path until close: a crash leaves no torn file. */
    cr_expect_neq(access(path, F_OK), 0);
    CT_STATUS_OK(ct_tfrecord_writer_close(w));
    free(buf);
    size_t n;
    uint8_t *file = read_bytes(path, &n);
    cr_assert_eq(n, sizeof SPEC_FILE);
    cr_expect(memcmp(file, SPEC_FILE, n) == 0);
    free(file);
    cr_expect_eq(count_files(), 1, "the temporary file was left behind");
    CT_STATUS_OK(ct_tfrecord_writer_close(NULL));
}

Test(tfrecord, round_trips_with_every_compression, .fini = rm_tmpdir) {
    const ct_compression comps[] = {CT_COMPRESSION_NONE, CT_COMPRESSION_GZIP,
                                    CT_COMPRESSION_ZLIB};
    for (int c = 0; c < 3; c++) {
        const char *a = tmp_path("a.rec"), *b = tmp_path("b.rec"), *empty = tmp_path("e.rec");
        write_records(a, comps[c], 0, 13);
        write_records(empty, comps[c], 0, 0);
        write_records(b, comps[c], 13, 9);
        size_t n;
        uint8_t *bytes = read_bytes(a, &n);
        if (comps[c] == CT_COMPRESSION_GZIP)
            cr_expect(n > 10 && bytes[0] == 0x1f && bytes[1] == 0x8b && bytes[2] == 8 &&
                      bytes[4] == 0 && bytes[5] == 0 && bytes[6] == 0 && bytes[7] == 0,
                      "not a gzip stream with mtime 0");
        else if (comps[c] == CT_COMPRESSION_ZLIB)
            cr_expect(n > 2 && bytes[0] == 0x78 && ((bytes[0] << 8) | bytes[1]) % 31 == 0,
                      "not a zlib stream");
        else
            cr_expect_eq(n, 13 * 16 + 70000 + 4096 + 100 + 12 + 7 + 3 + 255 + 256 + 33 + 2 + 0);
        free(bytes);
        const char *files[] = {a, empty, b};
        ct_dataset *ds = ct_dataset_tfrecord(3, files, comps[c]);
        cr_assert_not_null(ds, "%s", ct_last_error());
        ct_iterator *it = ct_dataset_iterator(ds);
        expect_records(it, 0, 22);
        CT_STATUS_OK(ct_iterator_reset(it));
        expect_records(it, 0, 22);
        ct_iterator_free(it);
        ct_dataset_free(ds);
        /* Read with the wrong compression: an error naming the file. */
        ds = ct_dataset_tfrecord(1, &a, comps[(c + 1) % 3]);
        expect_read_error(ds, "a.rec", "byte offset 0", NULL);
        ct_dataset_free(ds);
    }
    /* No file names: an empty dataset, as TF. */
    ct_dataset *ds = ct_dataset_tfrecord(0, NULL, CT_COMPRESSION_NONE);
    cr_assert_not_null(ds, "%s", ct_last_error());
    ct_iterator *it = ct_dataset_iterator(ds);
    expect_records(it, 0, 0);
    ct_iterator_free(it);
    ct_dataset_free(ds);
}

Test(tfrecord, gzip_of_concatenated_members_is_one_stream, .fini = rm_tmpdir) {
    const char *a = tmp_path("a.gz"), *b = tmp_path("b.gz"), *ab = tmp_path("ab.gz");
    write_records(a, CT_COMPRESSION_GZIP, 0, 4);
    write_records(b, CT_COMPRESSION_GZIP, 4, 3);
    size_t na, nb;
    uint8_t *pa = read_bytes(a, &na), *pb = read_bytes(b, &nb);
    uint8_t *cat = malloc(na + nb);
    memcpy(cat, pa, na);
    memcpy(cat + na, pb, nb);
    write_bytes(ab, cat, na + nb);
    free(pa);
    free(pb);
    free(cat);
    ct_dataset *ds = ct_dataset_tfrecord(1, &ab, CT_COMPRESSION_GZIP);
    ct_iterator *it = ct_dataset_iterator(ds);
    expect_records(it, 0, 7);
    ct_iterator_free(it);
    ct_dataset_free(ds);
}

Test(tfrecord, truncated_files_name_file_and_offset, .fini = rm_tmpdir) {
    /* Cut inside the header, the data and the data CRC of record 0. */
    const size_t cuts[] = {5, 11, 12, 40, 66, 69};
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        const char *path = tmp_path("cut.tfrecord");
        write_bytes(path, SPEC_FILE, cuts[k]);
        ct_dataset *ds = ct_dataset_tfrecord(1, &path, CT_COMPRESSION_NONE);
        expect_read_error(ds, "cut.tfrecord", "truncated record at byte offset 0", NULL);
        ct_dataset_free(ds);
    }
    /* Two whole records and part of a third: records 0 and 1 come out. */
    uint8_t three[210];
    for (int i = 0; i < 3; i++) memcpy(three + 70 * i, SPEC_FILE, 70);
    const char *path = tmp_path("three.tfrecord");
    write_bytes(path, three, 150);
    ct_dataset *ds = ct_dataset_tfrecord(1, &path, CT_COMPRESSION_NONE);
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e;
    for (int i = 0; i < 2; i++) {
        CT_STATUS_OK(ct_iterator_next(it, &e));
        cr_assert_not_null(e);
        ct_element_free(e);
    }
    cr_expect_neq(ct_iterator_next(it, &e), CT_OK);
    cr_expect(strstr(ct_last_error(), "three.tfrecord"), "%s", ct_last_error());
    cr_expect(strstr(ct_last_error(), "byte offset 140"), "%s", ct_last_error());
    ct_iterator_free(it);
    ct_dataset_free(ds);

    /* Compressed: cut the stream short. */
    const ct_compression comps[] = {CT_COMPRESSION_GZIP, CT_COMPRESSION_ZLIB};
    for (int c = 0; c < 2; c++) {
        const char *z = tmp_path("z.rec");
        write_records(z, comps[c], 0, 13);
        size_t n;
        uint8_t *bytes = read_bytes(z, &n);
        write_bytes(z, bytes, n / 2);
        ds = ct_dataset_tfrecord(1, &z, comps[c]);
        expect_read_error(ds, "z.rec", "byte offset", NULL);
        ct_dataset_free(ds);
        write_bytes(z, bytes, n - 3); /* inside the trailer */
        ds = ct_dataset_tfrecord(1, &z, comps[c]);
        expect_read_error(ds, "z.rec", "byte offset", NULL);
        ct_dataset_free(ds);
        free(bytes);
    }
}

Test(tfrecord, flipped_bits_are_caught, .fini = rm_tmpdir) {
    uint8_t two[140];
    memcpy(two, SPEC_FILE, 70);
    memcpy(two + 70, SPEC_FILE, 70);
    const char *path = tmp_path("flip.tfrecord");
    struct {
        size_t byte;
        const char *what;
    } cases[] = {
        {70 + 0, "length CRC"}, {70 + 3, "length CRC"}, {70 + 9, "length CRC"},
        {70 + 12, "data CRC"},  {70 + 40, "data CRC"},  {70 + 69, "data CRC"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        uint8_t bad[140];
        memcpy(bad, two, 140);
        bad[cases[k].byte] ^= 0x10;
        write_bytes(path, bad, 140);
        ct_dataset *ds = ct_dataset_tfrecord(1, &path, CT_COMPRESSION_NONE);
        expect_read_error(ds, "flip.tfrecord", "corrupted record at byte offset 70",
                          cases[k].what);
        ct_dataset_free(ds);
    }
    /* A flipped bit inside a compressed stream: the inflater or a CRC sees it. */
    const ct_compression comps[] = {CT_COMPRESSION_GZIP, CT_COMPRESSION_ZLIB};
    for (int c = 0; c < 2; c++) {
        const char *z = tmp_path("z.rec");
        write_records(z, comps[c], 0, 13);
        size_t n;
        uint8_t *bytes = read_bytes(z, &n);
        bytes[n / 2] ^= 0x04;
        write_bytes(z, bytes, n);
        free(bytes);
        ct_dataset *ds = ct_dataset_tfrecord(1, &z, comps[c]);
        expect_read_error(ds, "z.rec", "byte offset", NULL);
        ct_dataset_free(ds);
    }
}

Test(tfrecord, save_and_restore_mid_file, .fini = rm_tmpdir) {
    const ct_compression comps[] = {CT_COMPRESSION_NONE, CT_COMPRESSION_GZIP,
                                    CT_COMPRESSION_ZLIB};
    for (int c = 0; c < 3; c++) {
        const char *files[] = {tmp_path("s0"), tmp_path("s1"), tmp_path("s2")};
        write_records(files[0], comps[c], 0, 5);
        write_records(files[1], comps[c], 5, 0);
        write_records(files[2], comps[c], 5, 6);
        ct_dataset *ds = ct_dataset_tfrecord(3, files, comps[c]);
        for (int k = 0; k <= 11; k++) {
            ct_iterator *a = ct_dataset_iterator(ds), *b = ct_dataset_iterator(ds);
            ct_element *e;
            for (int i = 0; i < k; i++) {
                CT_STATUS_OK(ct_iterator_next(a, &e));
                expect_record(e, i);
                ct_element_free(e);
            }
            void *buf;
            size_t len;
            CT_STATUS_OK(ct_iterator_save(a, &buf, &len));
            CT_STATUS_OK(ct_iterator_restore(b, buf, len));
            free(buf);
            expect_records(b, k, 11 - k);
            expect_records(a, k, 11 - k);
            ct_iterator_free(a);
            ct_iterator_free(b);
        }
        ct_dataset_free(ds);
    }
}

Test(tfrecord, restore_into_a_shorter_file_fails, .fini = rm_tmpdir) {
    const char *path = tmp_path("r.rec");
    write_records(path, CT_COMPRESSION_GZIP, 0, 6);
    ct_dataset *ds = ct_dataset_tfrecord(1, &path, CT_COMPRESSION_GZIP);
    ct_iterator *a = ct_dataset_iterator(ds), *b = ct_dataset_iterator(ds);
    ct_element *e;
    for (int i = 0; i < 6; i++) {
        CT_STATUS_OK(ct_iterator_next(a, &e));
        ct_element_free(e);
    }
    void *buf;
    size_t len;
    CT_STATUS_OK(ct_iterator_save(a, &buf, &len));
    write_records(path, CT_COMPRESSION_GZIP, 0, 2);
    cr_expect_neq(ct_iterator_restore(b, buf, len), CT_OK);
    cr_expect(strstr(ct_last_error(), "r.rec"), "%s", ct_last_error());
    free(buf);
    ct_iterator_free(a);
    ct_iterator_free(b);
    ct_dataset_free(ds);
}

Test(tfrecord, argument_errors, .fini = rm_tmpdir) {
    CT_FAILS(ct_dataset_tfrecord(-1, NULL, CT_COMPRESSION_NONE), "expected >= 0");
    CT_FAILS(ct_dataset_tfrecord(1, (const char *[]){NULL}, CT_COMPRESSION_NONE), "NULL");
    CT_FAILS(ct_dataset_tfrecord(1, (const char *[]){"x"}, (ct_compression)7),
             "unknown compression");
    /* A missing file: the error comes when the iterator reaches it. */
    const char *missing = "/nonexistent-dir/missing.tfrecord";
    ct_dataset *ds = ct_dataset_tfrecord(1, &missing, CT_COMPRESSION_NONE);
    cr_assert_not_null(ds);
    expect_read_error(ds, "missing.tfrecord", "cannot open", NULL);
    ct_dataset_free(ds);
    CT_FAILS(ct_tfrecord_writer_open("/nonexistent-dir/out.tfrecord", CT_COMPRESSION_NONE),
             "/nonexistent-dir/out.tfrecord");
    CT_FAILS(ct_tfrecord_writer_open(tmp_path("x"), (ct_compression)9), "unknown compression");
    cr_expect_neq(ct_tfrecord_writer_write(NULL, "a", 1), CT_OK);
}

/* ---- tf.Example ---------------------------------------------------------------------- */

static ct_tensor *bytes_tensor(const void *p, size_t n) {
    return ct_constant(p, CT_UINT8, CT_DIMS((int64_t)n));
}

static ct_tensor *serialize(ct_example *ex) {
    void *buf;
    size_t len;
    CT_STATUS_OK(ct_example_serialize(ex, &buf, &len));
    ct_tensor *t = bytes_tensor(buf, len);
    free(buf);
    return t;
}

static const uint8_t NEG_ONE[] = {0x0a, 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0x01};

Test(tfrecord, example_round_trip) {
    ct_example *ex = ct_example_new();
    float img[6] = {1, 2, 3, 4, 5, 6.5f};
    CT_STATUS_OK(ct_example_add_floats(ex, "img", img, 4));
    CT_STATUS_OK(ct_example_add_floats(ex, "img", img + 4, 2)); /* appends */
    CT_STATUS_OK(ct_example_add_int64s(ex, "ids", (int64_t[]){-1, INT64_MAX, INT64_MIN}, 3));
    CT_STATUS_OK(ct_example_add_bytes(ex, "words", 2, (const void *[]){"ab", "cd"},
                                      (size_t[]){2, 2}));
    CT_STATUS_OK(ct_example_add_bytes(ex, "blob", 1, (const void *[]){"\0\1\2\3"},
                                      (size_t[]){4}));
    CT_STATUS_OK(ct_example_add_floats(ex, "empty", NULL, 0));
    CT_STATUS_OK(ct_example_add_int64s(ex, "neg", (int64_t[]){-1}, 1));
    cr_expect_neq(ct_example_add_int64s(ex, "img", (int64_t[]){1}, 1), CT_OK);
    cr_expect(strstr(ct_last_error(), "'img'") && strstr(ct_last_error(), "float_list"), "%s",
              ct_last_error());
    ct_tensor *s = serialize(ex);
    ct_example_free(ex);
    /* Int64List{-1} is 10-byte two's complement, not zigzag. */
    uint8_t *raw = malloc((size_t)ct_tensor_size(s));
    CT_STATUS_OK(ct_tensor_read(s, CT_UINT8, raw, ct_tensor_size(s)));
    cr_expect(memmem(raw, (size_t)ct_tensor_size(s), NEG_ONE, sizeof NEG_ONE) != NULL);
    free(raw);

    ct_tensor *def = CT_F32(CT_DIMS(2), 9, 8);
    ct_feature_spec specs[] = {
        {.key = "img", .dtype = CT_FLOAT32, .rank = 2, .shape = {2, 3}},
        {.key = "ids", .kind = CT_FEATURE_VAR_LEN, .dtype = CT_INT64},
        {.key = "words", .dtype = CT_UINT8, .rank = 1, .shape = {2}},
        {.key = "blob", .dtype = CT_UINT8},
        {.key = "empty", .kind = CT_FEATURE_VAR_LEN, .dtype = CT_FLOAT32},
        {.key = "absent", .dtype = CT_FLOAT32, .rank = 1, .shape = {2}, .default_value = def},
        {.key = "absent_var", .kind = CT_FEATURE_VAR_LEN, .dtype = CT_INT64},
        {.key = "absent_bytes", .kind = CT_FEATURE_VAR_LEN, .dtype = CT_UINT8},
    };
    ct_element *e;
    CT_STATUS_OK(ct_parse_example(s, 8, specs, &e));
    cr_assert_eq(e->n, 8);
    CT_EXPECT(e->t[0], CT_FLOAT32, CT_DIMS(2, 3), 0, 1, 2, 3, 4, 5, 6.5);
    cr_expect_eq(ct_tensor_dtype(e->t[1]), CT_INT64);
    int64_t ids[3];
    CT_STATUS_OK(ct_tensor_read(e->t[1], CT_INT64, ids, 3));
    cr_expect(ids[0] == -1 && ids[1] == INT64_MAX && ids[2] == INT64_MIN);
    CT_EXPECT(e->t[2], CT_UINT8, CT_DIMS(2, 2), 0, 'a', 'b', 'c', 'd');
    CT_EXPECT(e->t[3], CT_UINT8, CT_DIMS(4), 0, 0, 1, 2, 3);
    ct_expect_shape(e->t[4], CT_DIMS(0));
    CT_EXPECT(e->t[5], CT_FLOAT32, CT_DIMS(2), 0, 9, 8);
    ct_expect_shape(e->t[6], CT_DIMS(0));
    cr_expect_eq(ct_tensor_dtype(e->t[6]), CT_INT64);
    ct_expect_shape(e->t[7], CT_DIMS(0, 0));
    ct_element_free(e);
    /* An empty list fits a FixedLen shape of 0 elements. */
    ct_feature_spec fixed_empty = {.key = "empty", .dtype = CT_FLOAT32, .rank = 2, .shape = {0, 3}};
    CT_STATUS_OK(ct_parse_example(s, 1, &fixed_empty, &e));
    ct_expect_shape(e->t[0], CT_DIMS(0, 3));
    ct_element_free(e);
}

Test(tfrecord, example_parse_errors) {
    ct_example *ex = ct_example_new();
    CT_STATUS_OK(ct_example_add_floats(ex, "x", (float[]){1, 2, 3}, 3));
    CT_STATUS_OK(ct_example_add_bytes(ex, "s", 2, (const void *[]){"ab", "cde"},
                                      (size_t[]){2, 3}));
    ct_tensor *s = serialize(ex);
    ct_example_free(ex);
    ct_element *e = (ct_element *)1;
#define PARSE_FAILS(spec, needle1, needle2)                                               \
    do {                                                                                  \
        ct_feature_spec sp_ = spec;                                                       \
        cr_expect_neq(ct_parse_example(s, 1, &sp_, &e), CT_OK);                           \
        cr_expect_null(e);                                                                \
        cr_expect(strstr(ct_last_error(), needle1), "\"%s\" lacks \"%s\"", ct_last_error(), \
                  needle1);                                                               \
        cr_expect(strstr(ct_last_error(), needle2), "\"%s\" lacks \"%s\"", ct_last_error(), \
                  needle2);                                                               \
    } while (0)
    PARSE_FAILS(((ct_feature_spec){.key = "x", .dtype = CT_INT64, .rank = 1, .shape = {3}}),
                "'x'", "expected a int64_list");
    PARSE_FAILS(((ct_feature_spec){.key = "x", .dtype = CT_FLOAT32, .rank = 1, .shape = {2}}),
                "'x'", "expected 2 values");
    PARSE_FAILS(((ct_feature_spec){.key = "y", .dtype = CT_FLOAT32}), "'y'", "required");
    PARSE_FAILS(((ct_feature_spec){.key = "s", .kind = CT_FEATURE_VAR_LEN, .dtype = CT_UINT8}),
                "'s'", "different lengths");
    PARSE_FAILS(((ct_feature_spec){.key = "x", .dtype = CT_INT32}), "'x'", "not supported");
    PARSE_FAILS(((ct_feature_spec){.key = "x", .dtype = CT_FLOAT32, .rank = 1, .shape = {-1}}),
                "'x'", "negative");
    PARSE_FAILS(((ct_feature_spec){.key = "z", .dtype = CT_FLOAT32, .rank = 1, .shape = {3},
                                   .default_value = CT_F32(CT_DIMS(2), 1, 2)}),
                "'z'", "expected 3 elements");
    PARSE_FAILS(((ct_feature_spec){.key = "z", .dtype = CT_INT64,
                                   .default_value = CT_F32(CT_SCALAR, 1)}),
                "'z'", "expected dtype int64");
    ct_feature_spec two[] = {{.key = "x", .kind = CT_FEATURE_VAR_LEN},
                             {.key = "x", .kind = CT_FEATURE_VAR_LEN}};
    cr_expect_neq(ct_parse_example(s, 2, two, &e), CT_OK);
    cr_expect(strstr(ct_last_error(), "twice"), "%s", ct_last_error());
    /* Bytes defaults: shape + [length]. */
    ct_tensor *sdef = bytes_tensor("abc", 3);
    ct_feature_spec sd = {.key = "nob", .dtype = CT_UINT8, .default_value = sdef};
    CT_STATUS_OK(ct_parse_example(s, 1, &sd, &e));
    CT_EXPECT(e->t[0], CT_UINT8, CT_DIMS(3), 0, 'a', 'b', 'c');
    ct_element_free(e);
    PARSE_FAILS(((ct_feature_spec){.key = "nob", .dtype = CT_UINT8, .rank = 1, .shape = {2},
                                   .default_value = sdef}),
                "'nob'", "+ [length]");
    PARSE_FAILS(((ct_feature_spec){.key = "x", .kind = CT_FEATURE_VAR_LEN,
                                   .default_value = sdef}),
                "'x'", "no default_value");
    /* Not a proto; not bytes. */
    ct_tensor *junk = bytes_tensor("\x0a\xff\xff", 3);
    ct_feature_spec any = {.key = "x", .kind = CT_FEATURE_VAR_LEN};
    cr_expect_neq(ct_parse_example(junk, 1, &any, &e), CT_OK);
    cr_expect(strstr(ct_last_error(), "malformed"), "%s", ct_last_error());
    cr_expect_neq(ct_parse_example(CT_F32(CT_DIMS(2), 1, 2), 1, &any, &e), CT_OK);
    cr_expect(strstr(ct_last_error(), "expected uint8 [length]"), "%s", ct_last_error());
    /* The empty message is an Example with no features. */
    ct_tensor *empty = ct_constant(NULL, CT_UINT8, CT_DIMS(0));
    CT_STATUS_OK(ct_parse_example(empty, 1, &any, &e));
    ct_expect_shape(e->t[0], CT_DIMS(0));
    ct_element_free(e);
#undef PARSE_FAILS
}

Test(tfrecord, example_parser_accepts_other_encodings) {
    /* Hand-encoded: key "f" as an unpacked float list (0d + 4 bytes each),
     * key "i" as unpacked int64s (08 + varint), then "f" again, whose later
     * entry wins; a key with a kind-less Feature counts as absent. */
    static const uint8_t msg[] = {
        0x0a, 0x3d,                                            /* Example.features */
        0x0a, 0x11, 0x0a, 0x01, 'f', 0x12, 0x0c, 0x12, 0x0a,   /* "f": float_list  */
        0x0d, 0x00, 0x00, 0x80, 0x3f, 0x0d, 0x00, 0x00, 0x00, 0x40, /* 1, 2 unpacked */
        0x0a, 0x0b, 0x0a, 0x01, 'i', 0x12, 0x06, 0x1a, 0x04,   /* "i": int64_list  */
        0x08, 0x05, 0x08, 0x7f,                                /* 5, 127 unpacked  */
        0x0a, 0x0d, 0x0a, 0x01, 'f', 0x12, 0x08, 0x12, 0x06,   /* "f" again        */
        0x0a, 0x04, 0x00, 0x00, 0x40, 0x40,                    /* packed 3.0       */
        0x0a, 0x05, 0x0a, 0x01, 'k', 0x12, 0x00,               /* "k": Feature{}   */
        0x0a, 0x05, 0x0a, 0x01, 'f', 0x12, 0x00,               /* "f": Feature{}   */
    };
    ct_tensor *s = bytes_tensor(msg, sizeof msg);
    ct_tensor *dk = CT_I64(CT_SCALAR, 42);
    ct_feature_spec specs[] = {
        {.key = "f", .kind = CT_FEATURE_VAR_LEN, .dtype = CT_FLOAT32},
        {.key = "i", .dtype = CT_INT64, .rank = 1, .shape = {2}},
        {.key = "k", .dtype = CT_INT64, .default_value = dk},
    };
    ct_element *e;
    CT_STATUS_OK(ct_parse_example(s, 3, specs, &e));
    /* VarLen takes the last "f" (no list: empty); FixedLen skips it and
     * takes the packed [3.0] before it, as TF's parser does. */
    ct_expect_shape(e->t[0], CT_DIMS(0));
    CT_EXPECT(e->t[1], CT_INT64, CT_DIMS(2), 0, 5, 127);
    CT_EXPECT(e->t[2], CT_INT64, CT_SCALAR, 0, 42);
    ct_element_free(e);
    ct_feature_spec f1 = {.key = "f", .dtype = CT_FLOAT32, .rank = 1, .shape = {1}};
    CT_STATUS_OK(ct_parse_example(s, 1, &f1, &e));
    CT_EXPECT(e->t[0], CT_FLOAT32, CT_DIMS(1), 0, 3.0);
    ct_element_free(e);
}

Test(tfrecord, concatenated_examples_merge) {
    /* protobuf's rule, which TF's parser follows: two serialized Examples
     * back to back parse as one holding the features of both. */
    ct_example *a = ct_example_new(), *b = ct_example_new();
    CT_STATUS_OK(ct_example_add_floats(a, "x", (float[]){1, 2}, 2));
    CT_STATUS_OK(ct_example_add_int64s(b, "y", (int64_t[]){3}, 1));
    CT_STATUS_OK(ct_example_add_floats(b, "x", (float[]){4}, 1));
    void *pa, *pb;
    size_t na, nb;
    CT_STATUS_OK(ct_example_serialize(a, &pa, &na));
    CT_STATUS_OK(ct_example_serialize(b, &pb, &nb));
    uint8_t *cat = malloc(na + nb);
    memcpy(cat, pa, na);
    memcpy(cat + na, pb, nb);
    ct_tensor *s = bytes_tensor(cat, na + nb);
    free(pa);
    free(pb);
    free(cat);
    ct_example_free(a);
    ct_example_free(b);
    ct_feature_spec specs[] = {{.key = "x", .kind = CT_FEATURE_VAR_LEN},
                               {.key = "y", .kind = CT_FEATURE_VAR_LEN, .dtype = CT_INT64}};
    ct_element *e;
    CT_STATUS_OK(ct_parse_example(s, 2, specs, &e));
    CT_EXPECT(e->t[0], CT_FLOAT32, CT_DIMS(1), 0, 4);
    CT_EXPECT(e->t[1], CT_INT64, CT_DIMS(1), 0, 3);
    ct_element_free(e);
}

/* TFRecordDataset -> map(parse) as a user writes it. */
static const ct_feature_spec PIPE_SPECS[] = {
    {.key = "x", .dtype = CT_FLOAT32, .rank = 1, .shape = {2}},
    {.key = "y", .dtype = CT_INT64},
};
static ct_status parse_fn(const ct_element *in, void *ctx, ct_element **out) {
    (void)ctx;
    return ct_parse_example(in->t[0], 2, PIPE_SPECS, out);
}

Test(tfrecord, dataset_map_parse_batch, .fini = rm_tmpdir) {
    const char *path = tmp_path("p.tfrecord.gz");
    ct_tfrecord_writer *w = ct_tfrecord_writer_open(path, CT_COMPRESSION_GZIP);
    for (int i = 0; i < 10; i++) {
        ct_example *ex = ct_example_new();
        CT_STATUS_OK(ct_example_add_floats(ex, "x", (float[]){(float)i, (float)-i}, 2));
        CT_STATUS_OK(ct_example_add_int64s(ex, "y", (int64_t[]){i * 10}, 1));
        void *buf;
        size_t len;
        CT_STATUS_OK(ct_example_serialize(ex, &buf, &len));
        CT_STATUS_OK(ct_tfrecord_writer_write(w, buf, len));
        free(buf);
        ct_example_free(ex);
    }
    CT_STATUS_OK(ct_tfrecord_writer_close(w));
    ct_dataset *ds = ct_dataset_tfrecord(1, &path, CT_COMPRESSION_GZIP);
    ds = ct_dataset_map(ds, parse_fn, NULL, 0);
    ds = ct_dataset_batch(ds, 4, false);
    cr_assert_not_null(ds, "%s", ct_last_error());
    ct_iterator *it = ct_dataset_iterator(ds);
    ct_element *e;
    CT_STATUS_OK(ct_iterator_next(it, &e));
    cr_assert_not_null(e);
    CT_EXPECT(ct_element_get(e, "x"), CT_FLOAT32, CT_DIMS(4, 2), 0, 0, 0, 1, -1, 2, -2, 3, -3);
    CT_EXPECT(ct_element_get(e, "y"), CT_INT64, CT_DIMS(4), 0, 0, 10, 20, 30);
    ct_element_free(e);
    ct_iterator_free(it);
    ct_dataset_free(ds);
}
