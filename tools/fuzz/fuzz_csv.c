/*
 * libFuzzer harness for the CSV reader: the input is parsed by
 * ct_decode_csv as one record and, written to a file, read by
 * ct_make_csv_dataset (header and type inference, or given columns)
 * with a save/restore in the middle. Must never crash or leak; errors
 * are expected. The first byte picks options.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctrain/ctrain.h"

static char path[256];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char dir[] = "/dev/shm/ct_fuzz_csv_XXXXXX";
    char dir2[] = "/tmp/ct_fuzz_csv_XXXXXX";
    const char *d = mkdtemp(dir);
    if (!d) d = mkdtemp(dir2);
    if (!d) abort();
    snprintf(path, sizeof path, "%s/in.csv", d);
    return 0;
}

static void drain(ct_iterator *it, int limit) {
    ct_element *e;
    for (int i = 0; i < limit; i++) {
        ct_status st = ct_iterator_next(it, &e);
        if (!st && !e) break;
        ct_element_free(e);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t cfg = data[0];
    data++;
    size--;
    static const char delims[4] = {',', ';', '\t', '|'};
    ct_csv_opts o = {
        .field_delim = delims[cfg & 3],
        .no_quote_delim = cfg & 4,
        .na_value = cfg & 8 ? "NA" : NULL,
    };
    /* decode_csv on the bytes as one record */
    ct_csv_column defs[3] = {{.dtype = CT_INT32}, {.dtype = CT_FLOAT64, .required = cfg & 16},
                             {.dtype = CT_CSV_STRING, .string_value = "d"}};
    ct_element *e = NULL;
    if (ct_decode_csv(data, size, 3, defs, &o, &e) == CT_OK) ct_element_free(e);
    ct_csv_opts sel = o;
    sel.select_indices = (const int[]){1, 4};
    sel.num_select_indices = 2;
    if (ct_decode_csv(data, size, 2, defs, &sel, &e) == CT_OK) ct_element_free(e);

    /* the dataset over the bytes as a file */
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    const char *files[1] = {path};
    if (cfg & 32) { /* given columns, no header */
        o.column_names = (const char *[]){"a", "b", "c"};
        o.num_column_names = 3;
        o.no_header = true;
        o.label_name = "b";
        if (cfg & 64) {
            o.column_defaults = defs;
            o.num_column_defaults = 3;
        }
    } else {
        o.num_rows_for_inference = cfg & 64 ? -1 : 0;
    }
    ct_dataset *ds = ct_make_csv_dataset(1, files, &o);
    if (ds) {
        ct_iterator *it = ct_dataset_iterator(ds);
        if (it) {
            drain(it, 1);
            void *buf = NULL;
            size_t len = 0;
            if (ct_iterator_save(it, &buf, &len) == CT_OK) {
                ct_iterator *it2 = ct_dataset_iterator(ds);
                if (it2 && ct_iterator_restore(it2, buf, len) == CT_OK) drain(it2, 10000);
                ct_iterator_free(it2);
                free(buf);
            }
            drain(it, 10000);
            ct_iterator_free(it);
        }
        ct_dataset_free(ds);
    }
    /* the same file as text lines */
    ds = ct_dataset_text_lines(1, files, CT_COMPRESSION_NONE);
    if (ds) {
        ct_iterator *it = ct_dataset_iterator(ds);
        if (it) drain(it, 100000);
        ct_iterator_free(it);
        ct_dataset_free(ds);
    }
    ct_clear_error();
    return 0;
}
