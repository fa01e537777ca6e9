/*
 * PNG encoding (io/png.h), after the PNG specification (ISO/IEC 15948):
 * the signature, then chunks of a 4-byte big-endian length, a 4-byte type,
 * the data and a CRC-32 of type and data. IHDR gives the size and color
 * type, IDAT the zlib stream of the rows (each led by its filter type, 0
 * here: none), IEND ends the file.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "io/png.h"
#include "runtime/internal.h"

typedef struct {
    uint8_t *p;
    size_t len;
} out;

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Appends a chunk; o has room (the caller sized it). */
static void chunk(out *o, const char type[4], const uint8_t *data, size_t n) {
    uint8_t *c = o->p + o->len;
    put32(c, (uint32_t)n);
    memcpy(c + 4, type, 4);
    if (n) memcpy(c + 8, data, n);
    put32(c + 8 + n, (uint32_t)crc32(crc32(0L, Z_NULL, 0), c + 4, (uInt)(n + 4)));
    o->len += n + 12;
}

uint8_t *ct__png_encode(const char *api, const uint8_t *pixels, int64_t height, int64_t width,
                        int channels, size_t *len) {
    /* Color types by channels: gray 0, gray + alpha 4, RGB 2, RGBA 6. */
    static const uint8_t color_type[5] = {0, 0, 4, 2, 6};
    if (channels < 1 || channels > 4) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: a PNG image has 1 to 4 channels, not %d", api,
                  channels);
        return NULL;
    }
    /* PNG's dimensions are 1 .. 2^31-1; zlib's lengths are uLong. */
    if (height < 1 || width < 1 || height > INT32_MAX || width > INT32_MAX ||
        (uint64_t)width * (uint64_t)channels + 1 > (uint64_t)(ULONG_MAX / (uint64_t)height)) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s: a PNG image is 1 to 2147483647 pixels high and wide, not %lld x %lld",
                  api, (long long)height, (long long)width);
        return NULL;
    }
    size_t row = (size_t)width * (size_t)channels, raw_len = (size_t)height * (row + 1);
    uint8_t *raw = malloc(raw_len);
    uLong zcap = compressBound((uLong)raw_len);
    uint8_t *z = malloc(zcap);
    uint8_t *file = malloc(8 + 25 + 12 * (zcap / (1u << 30) + 1) + zcap + 12);
    if (!raw || !z || !file) {
        free(raw), free(z), free(file);
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory encoding a %lld x %lld PNG", api,
                  (long long)height, (long long)width);
        return NULL;
    }
    for (int64_t y = 0; y < height; y++) {
        raw[(size_t)y * (row + 1)] = 0; /* filter: none */
        memcpy(raw + (size_t)y * (row + 1) + 1, pixels + (size_t)y * row, row);
    }
    uLongf zlen = zcap;
    int zst = compress2(z, &zlen, raw, (uLong)raw_len, Z_DEFAULT_COMPRESSION);
    free(raw);
    if (zst != Z_OK) {
        free(z), free(file);
        ct__error(CT_ERR_INTERNAL, "%s: zlib could not deflate a PNG's rows (error %d)", api,
                  zst);
        return NULL;
    }
    out o = {file, 8};
    memcpy(file, "\x89PNG\r\n\x1a\n", 8);
    uint8_t ihdr[13];
    put32(ihdr, (uint32_t)width);
    put32(ihdr + 4, (uint32_t)height);
    ihdr[8] = 8; /* bits per sample */
    ihdr[9] = color_type[channels];
    ihdr[10] = ihdr[11] = ihdr[12] = 0; /* deflate, adaptive filtering, no interlace */
    chunk(&o, "IHDR", ihdr, sizeof ihdr);
    /* A chunk holds at most 2^31 - 1 bytes: a longer stream spans several
     * IDAT chunks, which a decoder joins. */
    for (uLongf at = 0; at < zlen; at += 1u << 30)
        chunk(&o, "IDAT", z + at, zlen - at < (1u << 30) ? zlen - at : 1u << 30);
    chunk(&o, "IEND", NULL, 0);
    free(z);
    *len = o.len;
    return file;
}
