/*
 * TFRecord framing, shared by the TFRecord dataset and writer (data/) and
 * the TensorBoard event writer (io/). Not installed.
 *
 * A record is: uint64 LE length, masked CRC-32C of those 8 bytes (uint32
 * LE), the payload, masked CRC-32C of the payload (uint32 LE). A file (or
 * a whole gzip / zlib stream) is records back to back, nothing else.
 *
 *     uint8_t hdr[CT__TFRECORD_HEADER], ftr[CT__TFRECORD_FOOTER];
 *     ct__tfrecord_frame(data, len, hdr, ftr);
 *     fwrite(hdr, 1, sizeof hdr, f); fwrite(data, 1, len, f); fwrite(ftr, 1, sizeof ftr, f);
 *
 *     ct__tfrecord_reader *r = ct__tfrecord_reader_open(path, CT_COMPRESSION_NONE, "api");
 *     const uint8_t *rec; size_t n;
 *     while (ct__tfrecord_read_next(r, &rec, &n) == CT_OK && rec) ...;
 *     ct__tfrecord_reader_close(r);
 */
#ifndef CT_DATA_TFRECORD_H
#define CT_DATA_TFRECORD_H

#include <stddef.h>
#include <stdint.h>

#include "ctrain/data.h"

/* ---- CRC-32C ------------------------------------------------------------------ */

/* CRC-32C (Castagnoli, as iSCSI) of n bytes continuing from crc (0 to
 * start): ct__crc32c_extend(0, "123456789", 9) == 0xE3069283. SSE4.2
 * instructions where the CPU has them, else tables. */
uint32_t ct__crc32c_extend(uint32_t crc, const void *p, size_t n);
/* Copies n bytes from src to dst (not overlapping) and returns their
 * CRC-32C, in one pass where the CPU allows. */
uint32_t ct__crc32c_copy(void *dst, const void *src, size_t n);
/* The same with tables only (the fallback; for tests). */
uint32_t ct__crc32c_extend_portable(uint32_t crc, const void *p, size_t n);

static inline uint32_t ct__crc32c(const void *p, size_t n) {
    return ct__crc32c_extend(0, p, n);
}
/* TFRecord's stored form: rotate right by 15, add 0xA282EAD8. */
static inline uint32_t ct__crc32c_mask(uint32_t c) {
    return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}
static inline uint32_t ct__crc32c_unmask(uint32_t m) {
    uint32_t r = m - 0xA282EAD8u;
    return (r >> 17) | (r << 15);
}

/* ---- framing ------------------------------------------------------------------- */

#define CT__TFRECORD_HEADER 12 /* length + its masked CRC     */
#define CT__TFRECORD_FOOTER 4  /* masked CRC of the payload   */

/* The header and footer that frame a payload of len bytes. */
void ct__tfrecord_frame(const void *data, size_t len, uint8_t header[CT__TFRECORD_HEADER],
                        uint8_t footer[CT__TFRECORD_FOOTER]);

/* ---- reading ---------------------------------------------------------------------- */

typedef struct ct__tfrecord_reader ct__tfrecord_reader;

/* A reader of the file at path (NULL with an error naming api and path when
 * it cannot be opened or the compression is unknown). */
ct__tfrecord_reader *ct__tfrecord_reader_open(const char *path, ct_compression compression,
                                              const char *api);
/* A reader of n bytes in memory (not copied: they must outlive the
 * reader); name stands for the file name in errors. */
ct__tfrecord_reader *ct__tfrecord_reader_open_memory(const void *data, size_t n,
                                                     const char *name,
                                                     ct_compression compression,
                                                     const char *api);
/* The next record: *data points at its len payload bytes (valid until the
 * next call on r). *data = NULL at the clean end of the stream. A length
 * or payload CRC mismatch, a stream that ends inside a record, corrupt
 * compressed data or a read error returns an error naming the file and
 * the record's byte offset; the reader then stays at that record. */
ct_status ct__tfrecord_read_next(ct__tfrecord_reader *r, const uint8_t **data, size_t *len);
/* The same, the payload as a new uint8 tensor [len] on the CPU owned by
 * the caller (*out = NULL at the end): copied once, its CRC checked on
 * the way. */
ct_status ct__tfrecord_read_tensor(ct__tfrecord_reader *r, ct_tensor **out);
/* Byte offset of the next record in the (decompressed) stream. */
uint64_t ct__tfrecord_reader_offset(const ct__tfrecord_reader *r);
/* Moves to a byte offset of the decompressed stream (a record boundary
 * that an earlier reader reported); an error when the stream is shorter. */
ct_status ct__tfrecord_reader_seek(ct__tfrecord_reader *r, uint64_t offset);
void ct__tfrecord_reader_close(ct__tfrecord_reader *r);

#endif
