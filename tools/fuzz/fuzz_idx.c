/*
 * libFuzzer harness for the IDX reader: the input is written as a file
 * and loaded with ct_load_idx, then gzip-compressed and loaded again (so
 * the gzip path sees well-formed compression around malformed IDX).
 * Must never crash, leak or allocate what the file only claims.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ctrain/ctrain.h"

static char plain[256], packed[256];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char dir[] = "/dev/shm/ct_fuzz_idx_XXXXXX";
    char dir2[] = "/tmp/ct_fuzz_idx_XXXXXX";
    const char *d = mkdtemp(dir);
    if (!d) d = mkdtemp(dir2);
    if (!d) abort();
    snprintf(plain, sizeof plain, "%s/in.idx", d);
    snprintf(packed, sizeof packed, "%s/in.idx.gz", d);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *f = fopen(plain, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    ct_tensor *t = NULL;
    if (ct_load_idx(plain, &t) == CT_OK) {
        if (!t) abort();
        ct_tensor_free(t);
    } else if (t) {
        abort(); /* an error must leave *out NULL */
    }
    gzFile g = gzopen(packed, "wb");
    if (!g) abort();
    if (size) gzwrite(g, data, (unsigned)size);
    gzclose(g);
    t = NULL;
    if (ct_load_idx(packed, &t) == CT_OK) ct_tensor_free(t);
    ct_clear_error();
    return 0;
}
