/*
 * libFuzzer harness for the TFRecord reader (data/tfrecord.c). The first
 * byte picks the compression (byte % 3: none, GZIP, ZLIB) and, with bit 2
 * set, has the harness deflate the rest first, so that malformed records
 * are also reached inside well-formed gzip / zlib streams. The stream is
 * read from memory to its end or first error. Invariants: no crash, leak
 * or allocation the input only claims; every record read re-frames to the
 * exact input bytes (uncompressed streams); an error is sticky; seeking
 * back to a record boundary reads the same records again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ctrain/ctrain.h"
#include "data/tfrecord.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* data deflated as gzip (window 31) or zlib (15) into a malloc'd buffer. */
static uint8_t *deflate_all(const uint8_t *data, size_t size, int bits, size_t *out_n) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    size_t cap = deflateBound(&z, (uLong)size) + 64;
    uint8_t *out = malloc(cap);
    if (!out) abort();
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)size;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    *out_n = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* Reads every record; returns the number read and the offset after the
 * last good one. */
static int read_all(ct__tfrecord_reader *r, const uint8_t *raw, bool plain, uint64_t *end,
                    uint32_t *hash) {
    int n = 0;
    *hash = 0;
    for (;;) {
        uint64_t at = ct__tfrecord_reader_offset(r);
        const uint8_t *rec;
        size_t len;
        ct_status st = ct__tfrecord_read_next(r, &rec, &len);
        if (st) {
            if (rec || len) abort();
            /* Sticky: the same record fails again. */
            if (ct__tfrecord_read_next(r, &rec, &len) == CT_OK) abort();
            break;
        }
        if (!rec) break;
        if (ct__tfrecord_reader_offset(r) != at + len + 16) abort();
        if (plain) {
            uint8_t hdr[CT__TFRECORD_HEADER], ftr[CT__TFRECORD_FOOTER];
            ct__tfrecord_frame(rec, len, hdr, ftr);
            if (memcmp(hdr, raw + at, sizeof hdr) || memcmp(rec, raw + at + 12, len) ||
                memcmp(ftr, raw + at + 12 + len, sizeof ftr))
                abort();
        }
        *hash = ct__crc32c_extend(*hash, rec, len);
        *end = ct__tfrecord_reader_offset(r);
        n++;
        if (n > 100000) break;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    ct_compression comp = (ct_compression)(data[0] % 3);
    bool wrap = (data[0] & 4) && comp != CT_COMPRESSION_NONE;
    const uint8_t *body = data + 1;
    size_t n = size - 1;
    uint8_t *packed = NULL;
    if (wrap) {
        packed = deflate_all(body, n, comp == CT_COMPRESSION_GZIP ? 31 : 15, &n);
        body = packed;
    }
    ct__tfrecord_reader *r =
        ct__tfrecord_reader_open_memory(body, n, "fuzz", comp, "fuzz_tfrecord");
    if (!r) abort();
    uint64_t end = 0;
    uint32_t h1, h2;
    int k = read_all(r, wrap ? data + 1 : body, comp == CT_COMPRESSION_NONE, &end, &h1);
    /* From the start again: the same records. */
    if (ct__tfrecord_reader_seek(r, 0) != CT_OK) abort();
    uint64_t end2 = 0;
    if (read_all(r, wrap ? data + 1 : body, comp == CT_COMPRESSION_NONE, &end2, &h2) != k ||
        end2 != end || h1 != h2)
        abort();
    /* From the last good boundary: nothing but what followed it. */
    if (ct__tfrecord_reader_seek(r, end) != CT_OK) abort();
    uint64_t end3 = end;
    uint32_t h3;
    if (read_all(r, wrap ? data + 1 : body, comp == CT_COMPRESSION_NONE, &end3, &h3) != 0)
        abort();
    ct__tfrecord_reader_close(r);
    free(packed);
    ct_clear_error();
    return 0;
}
