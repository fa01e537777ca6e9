/*
 * TFRecord files: CRC-32C, record framing, a reader over a file or memory
 * (optionally through a gzip / zlib stream), tf.data.TFRecordDataset and
 * tf.io.TFRecordWriter. Format: specs/tfrecord_example.md.
 */
#define _GNU_SOURCE /* fseeko, fileno, fsync */
#include "data/tfrecord.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data/internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <nmmintrin.h>
#include <wmmintrin.h>
#define CT__CRC_SSE42 1
#endif

/* ---- CRC-32C ------------------------------------------------------------------ */

/* Slicing-by-8 tables for the reflected polynomial 0x82F63B78. */
static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static int crc_have_sse42;

#ifdef CT__CRC_SSE42
/* Long buffers run three crc32q streams over three consecutive blocks of
 * up to CRC_BLOCK_MAX bytes each and combine them with PCLMULQDQ: the CRC
 * state c shifted over L zero bytes is crc32q(0, clmul(c, x^(8L-33) mod P)).
 * crc_shift_k[i] = x^(64 i - 33) mod P (reflected), the constant for
 * L = 8 i. Buffers shorter than CRC_3WAY_MIN take one stream. */
#define CRC_BLOCK_MAX 4096
#define CRC_3WAY_MIN 128
static uint32_t crc_shift_k[2 * CRC_BLOCK_MAX / 8 + 1];
static int crc_have_pclmul;
/* With AVX-512 VPCLMULQDQ, buffers of CRC_FOLD_MIN bytes and more fold
 * 512-bit blocks instead (about 3x the three streams). */
#define CRC_FOLD_MIN 256
static int crc_have_vpclmul;

/* a * x mod P, reflected. */
static uint32_t crc_mulx(uint32_t a) {
    return (a >> 1) ^ (0x82F63B78u & (0u - (a & 1u)));
}
#endif

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
#ifdef CT__CRC_SSE42
    __builtin_cpu_init();
    crc_have_sse42 = __builtin_cpu_supports("sse4.2");
    crc_have_pclmul = crc_have_sse42 && __builtin_cpu_supports("pclmul");
    crc_have_vpclmul = crc_have_pclmul && __builtin_cpu_supports("avx512f") &&
                       __builtin_cpu_supports("avx512vl") &&
                       __builtin_cpu_supports("vpclmulqdq");
    uint32_t a = 0x80000000u; /* x^0 */
    for (int k = 0; k < 31; k++) a = crc_mulx(a);
    for (size_t i = 1; i < sizeof crc_shift_k / sizeof crc_shift_k[0]; i++) {
        crc_shift_k[i] = a; /* x^(64 i - 33) */
        for (int k = 0; k < 64; k++) a = crc_mulx(a);
    }
#endif
}

static uint32_t crc_tables(uint32_t c, const uint8_t *p, size_t n) {
    while (n && ((uintptr_t)p & 7)) {
        c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
        n--;
    }
    while (n >= 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + 4, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        lo = __builtin_bswap32(lo);
        hi = __builtin_bswap32(hi);
#endif
        lo ^= c;
        c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
            crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
            crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
            crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
    return c;
}

#ifdef CT__CRC_SSE42
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t c, const uint8_t *p,
                                                             size_t n) {
    while (n && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8(c, *p++);
        n--;
    }
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c64 = _mm_crc32_u64(c64, v);
        p += 8;
        n -= 8;
    }
    c = (uint32_t)c64;
    while (n--) c = _mm_crc32_u8(c, *p++);
    return c;
}

/* clmul(c, k) with k = x^(8L-33) mod P: crc32q(0, the result) is the state
 * c shifted over L zero bytes, so it can be XORed into crc32q's data. */
__attribute__((target("sse4.2,pclmul"))) static inline uint64_t crc_clmul(uint64_t c,
                                                                          uint32_t k) {
    __m128i r = _mm_clmulepi64_si128(_mm_cvtsi64_si128((long long)c),
                                     _mm_cvtsi32_si128((int)k), 0x00);
    return (uint64_t)_mm_cvtsi128_si64(r);
}

__attribute__((target("sse4.2,pclmul"))) static uint32_t crc_sse42_3way(uint32_t c,
                                                                        const uint8_t *p,
                                                                        size_t n) {
    while (n && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8(c, *p++);
        n--;
    }
    uint64_t c0 = c;
    while (n >= CRC_3WAY_MIN) {
        size_t b = n / 24 * 8; /* bytes per stream, a multiple of 8 */
        if (b > CRC_BLOCK_MAX) b = CRC_BLOCK_MAX;
        const uint8_t *p1 = p + b, *p2 = p + 2 * b, *end = p + b - 8;
        uint64_t c1 = 0, c2 = 0, v0, v1, v2;
        do {
            memcpy(&v0, p, 8);
            memcpy(&v1, p1, 8);
            memcpy(&v2, p2, 8);
            c0 = _mm_crc32_u64(c0, v0);
            c1 = _mm_crc32_u64(c1, v1);
            c2 = _mm_crc32_u64(c2, v2);
            p += 8;
            p1 += 8;
            p2 += 8;
        } while (p < end);
        memcpy(&v0, p, 8);
        memcpy(&v1, p1, 8);
        memcpy(&v2, p2, 8);
        c0 = _mm_crc32_u64(c0, v0);
        c1 = _mm_crc32_u64(c1, v1);
        /* crc(c0, A B C) = shift(c0', 2b) ^ shift(c1', b) ^ crc(0, C), and
         * the shifts fold into C's last crc32q by linearity. */
        v2 ^= crc_clmul(c0, crc_shift_k[b / 4]) ^ crc_clmul(c1, crc_shift_k[b / 8]);
        c0 = _mm_crc32_u64(c2, v2);
        p = p2 + 8;
        n -= 3 * b;
    }
    return crc_sse42((uint32_t)c0, p, n);
}

/* Folding (Intel's "Fast CRC Computation Using PCLMULQDQ", in 512-bit
 * registers): four accumulators of 64 bytes each take the next 256 bytes;
 * a 128-bit lane moves D bytes on as clmul(lo, K(D + 8)) ^ clmul(hi, K(D))
 * with K(L) = crc_shift_k[L / 8]. The folded 128 bits have the message's
 * CRC, which two crc32q compute; the tail goes through crc_sse42. */
#define CRC_FOLD_TARGET __attribute__((target("sse4.2,pclmul,avx512f,avx512vl,vpclmulqdq")))
#define CRC_FOLD_K(d) _mm_set_epi64x((long long)crc_shift_k[(d) / 8], \
                                     (long long)crc_shift_k[((d) + 8) / 8])

CRC_FOLD_TARGET static inline __m512i crc_fold512(__m512i x, __m512i k, __m512i next) {
    return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
                                     _mm512_clmulepi64_epi128(x, k, 0x11), next, 0x96);
}

CRC_FOLD_TARGET static inline __m128i crc_fold128(__m128i x, __m128i k) {
    return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

/* The CRC of n >= CRC_FOLD_MIN bytes at p, copying them to dst on the way
 * when dst is not NULL (one pass over the data instead of two). */
CRC_FOLD_TARGET static inline __m512i crc_load(const uint8_t *p, uint8_t *dst, size_t at) {
    __m512i v = _mm512_loadu_si512(p + at);
    if (dst) _mm512_storeu_si512(dst + at, v);
    return v;
}

CRC_FOLD_TARGET static inline uint32_t crc_vpclmul(uint32_t c, uint8_t *dst, const uint8_t *p,
                                                   size_t n) {
    __m512i x0 = crc_load(p, dst, 0), x1 = crc_load(p, dst, 64);
    __m512i x2 = crc_load(p, dst, 128), x3 = crc_load(p, dst, 192);
    x0 = _mm512_xor_si512(x0, _mm512_castsi128_si512(_mm_cvtsi32_si128((int)c)));
    size_t i = 256;
    __m512i k = _mm512_broadcast_i32x4(CRC_FOLD_K(256));
    for (; n - i >= 256; i += 256) {
        x0 = crc_fold512(x0, k, crc_load(p, dst, i));
        x1 = crc_fold512(x1, k, crc_load(p, dst, i + 64));
        x2 = crc_fold512(x2, k, crc_load(p, dst, i + 128));
        x3 = crc_fold512(x3, k, crc_load(p, dst, i + 192));
    }
    k = _mm512_broadcast_i32x4(CRC_FOLD_K(64));
    x0 = crc_fold512(crc_fold512(crc_fold512(x0, k, x1), k, x2), k, x3);
    for (; n - i >= 64; i += 64) x0 = crc_fold512(x0, k, crc_load(p, dst, i));
    __m128i r = _mm512_extracti32x4_epi32(x0, 3);
    r = _mm_xor_si128(r, crc_fold128(_mm512_extracti32x4_epi32(x0, 0), CRC_FOLD_K(48)));
    r = _mm_xor_si128(r, crc_fold128(_mm512_extracti32x4_epi32(x0, 1), CRC_FOLD_K(32)));
    r = _mm_xor_si128(r, crc_fold128(_mm512_extracti32x4_epi32(x0, 2), CRC_FOLD_K(16)));
    uint64_t c64 = _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(r));
    c64 = _mm_crc32_u64(c64, (uint64_t)_mm_extract_epi64(r, 1));
    if (dst) memcpy(dst + i, p + i, n - i);
    return crc_sse42((uint32_t)c64, p + i, n - i);
}

CRC_FOLD_TARGET static uint32_t crc_vpclmul_only(uint32_t c, const uint8_t *p, size_t n) {
    return crc_vpclmul(c, NULL, p, n);
}

CRC_FOLD_TARGET static uint32_t crc_vpclmul_copy(uint32_t c, uint8_t *dst, const uint8_t *p,
                                                 size_t n) {
    return crc_vpclmul(c, dst, p, n);
}
#endif

uint32_t ct__crc32c_extend(uint32_t crc, const void *p, size_t n) {
    pthread_once(&crc_once, crc_init);
    uint32_t c = ~crc;
#ifdef CT__CRC_SSE42
    if (crc_have_vpclmul && n >= CRC_FOLD_MIN) return ~crc_vpclmul_only(c, (const uint8_t *)p, n);
    if (crc_have_pclmul && n >= CRC_3WAY_MIN) return ~crc_sse42_3way(c, (const uint8_t *)p, n);
    if (crc_have_sse42) return ~crc_sse42(c, (const uint8_t *)p, n);
#endif
    return ~crc_tables(c, (const uint8_t *)p, n);
}

uint32_t ct__crc32c_copy(void *dst, const void *src, size_t n) {
#ifdef CT__CRC_SSE42
    pthread_once(&crc_once, crc_init);
    if (crc_have_vpclmul && n >= CRC_FOLD_MIN)
        return ~crc_vpclmul_copy(~0u, (uint8_t *)dst, (const uint8_t *)src, n);
#endif
    if (n) memcpy(dst, src, n);
    return ct__crc32c(dst, n);
}

uint32_t ct__crc32c_extend_portable(uint32_t crc, const void *p, size_t n) {
    pthread_once(&crc_once, crc_init);
    return ~crc_tables(~crc, (const uint8_t *)p, n);
}

/* ---- framing ------------------------------------------------------------------- */

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_le64(const uint8_t *p) {
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

void ct__tfrecord_frame(const void *data, size_t len, uint8_t header[CT__TFRECORD_HEADER],
                        uint8_t footer[CT__TFRECORD_FOOTER]) {
    put_le64(header, (uint64_t)len);
    put_le32(header + 8, ct__crc32c_mask(ct__crc32c(header, 8)));
    put_le32(footer, ct__crc32c_mask(ct__crc32c(data, len)));
}

static const char *compression_name(ct_compression c) {
    return c == CT_COMPRESSION_GZIP ? "GZIP" : c == CT_COMPRESSION_ZLIB ? "ZLIB" : "NONE";
}
static bool compression_valid(ct_compression c) {
    return c == CT_COMPRESSION_NONE || c == CT_COMPRESSION_GZIP || c == CT_COMPRESSION_ZLIB;
}
/* zlib's windowBits: 15 (zlib format) or 15 + 16 (gzip format), TF's. */
static int window_bits(ct_compression c) {
    return c == CT_COMPRESSION_GZIP ? MAX_WBITS + 16 : MAX_WBITS;
}

/* ---- reading ---------------------------------------------------------------------- */

#define IN_CHUNK (64 * 1024)

/* Raw bytes come through a window: the whole input for a reader of
 * memory, a 256 KB buffer refilled by read(2) for a file. An uncompressed
 * record that fits the window is handed out where it lies (no copy); a
 * larger one, and compressed input, are copied out of it. */
#define WINDOW (256 * 1024)

struct ct__tfrecord_reader {
    char *name;       /* the file name, for errors                          */
    const char *api;  /* the public function, for errors                    */
    ct_compression comp;
    int fd;           /* the file, or -1 for memory                         */
    const uint8_t *win; /* raw bytes at hand: win[pos, len)                 */
    size_t pos, len;
    uint8_t *own;     /* the window's buffer for a file                     */
    bool eof;         /* read(2) has returned 0                              */
    bool have_size;   /* uncompressed with a known size: truncation is seen
                         before reading a payload                           */
    uint64_t size;
    z_stream z;
    bool zinit, zdone; /* zdone: the last member ended at end of input     */
    bool zstarted;    /* the current member has been fed input             */
    uint8_t *in;      /* compressed input                                  */
    uint64_t raw_in;  /* raw bytes taken from the window so far            */
    uint64_t offset;  /* decompressed bytes consumed before the next record */
    uint8_t *buf;     /* the last payload, when it was copied               */
    size_t cap;
    ct_status failed; /* sticky: the error of the record at offset         */
    char *err;
};

static ct_status io_error(ct__tfrecord_reader *r) {
    return ct__error(CT_ERR_INTERNAL, "%s: '%s': read error at byte offset %" PRIu64 ": %s",
                     r->api, r->name, r->offset, strerror(errno));
}

/* read(2) into dst until n bytes or the end of the file; *got < n only at
 * the end. */
static ct_status read_fully(ct__tfrecord_reader *r, uint8_t *dst, size_t n, size_t *got) {
    size_t done = 0;
    while (done < n && !r->eof) {
        ssize_t m = read(r->fd, dst + done, n - done);
        if (m < 0 && errno == EINTR) continue;
        if (m < 0) return io_error(r);
        if (m == 0) r->eof = true;
        done += (size_t)m;
    }
    *got = done;
    return CT_OK;
}

/* Makes up to k (<= WINDOW for a file) bytes contiguous at win + pos;
 * returns how many are (fewer only at the end of the input). */
static ct_status window_fill(ct__tfrecord_reader *r, size_t k, size_t *avail) {
    size_t have = r->len - r->pos;
    if (have >= k || r->fd < 0 || r->eof) {
        *avail = have;
        return CT_OK;
    }
    memmove(r->own, r->own + r->pos, have);
    r->pos = 0;
    r->len = have;
    size_t got;
    ct_status st = read_fully(r, r->own + have, WINDOW - have, &got);
    r->len += got;
    *avail = r->len;
    return st;
}

/* Raw bytes into dst; *got < n only at the end of the input. */
static ct_status raw_read(ct__tfrecord_reader *r, void *dst, size_t n, size_t *got) {
    size_t m = r->len - r->pos;
    if (m > n) m = n;
    if (m) memcpy(dst, r->win + r->pos, m);
    r->pos += m;
    size_t done = m;
    ct_status st = CT_OK;
    if (done < n && r->fd >= 0) {
        if (n - done >= WINDOW) {
            /* Large reads skip the window. */
            st = read_fully(r, (uint8_t *)dst + done, n - done, &m);
            done += m;
        } else {
            st = window_fill(r, n - done, &m);
            if (m > n - done) m = n - done;
            memcpy((uint8_t *)dst + done, r->win + r->pos, m);
            r->pos += m;
            done += m;
        }
    }
    r->raw_in += done;
    *got = done;
    return st;
}

static ct_status z_fail(ct__tfrecord_reader *r, const char *what) {
    return ct__error(CT_ERR_INVALID_ARGUMENT,
                     "%s: '%s': corrupt %s data in the record at byte offset %" PRIu64
                     " (near compressed byte %" PRIu64 "): %s",
                     r->api, r->name, compression_name(r->comp), r->offset,
                     r->raw_in - r->z.avail_in, what);
}

/* Up to n bytes of the decompressed stream; *got < n only at its end. */
static ct_status stream_read(ct__tfrecord_reader *r, void *dst, size_t n, size_t *got) {
    if (r->comp == CT_COMPRESSION_NONE) return raw_read(r, dst, n, got);
    z_stream *z = &r->z;
    size_t done = 0;
    while (done < n && !r->zdone) {
        if (z->avail_in == 0) {
            size_t m;
            ct_status st = raw_read(r, r->in, IN_CHUNK, &m);
            if (st) return st;
            if (m == 0) {
                if (r->zstarted) return z_fail(r, "the compressed stream ends early");
                r->zdone = true; /* an empty file, or after a complete member */
                break;
            }
            z->next_in = r->in;
            z->avail_in = (uInt)m;
            r->zstarted = true;
        }
        size_t want = n - done;
        if (want > UINT_MAX) want = UINT_MAX;
        z->next_out = (Bytef *)dst + done;
        z->avail_out = (uInt)want;
        int ret = inflate(z, Z_NO_FLUSH);
        done += want - z->avail_out;
        if (ret == Z_STREAM_END) {
            /* Another member may follow (concatenated gzip files). */
            inflateReset(z);
            r->zstarted = z->avail_in > 0;
        } else if (ret == Z_BUF_ERROR) {
            if (z->avail_in != 0) return z_fail(r, "no progress");
        } else if (ret != Z_OK) {
            return z_fail(r, z->msg ? z->msg : "inflate failed");
        }
    }
    *got = done;
    return CT_OK;
}

static ct__tfrecord_reader *reader_new(const char *name, ct_compression comp, const char *api) {
    if (!compression_valid(comp)) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s: '%s': unknown compression %d (expected CT_COMPRESSION_NONE, _GZIP or "
                  "_ZLIB)",
                  api, name, (int)comp);
        return NULL;
    }
    ct__tfrecord_reader *r = calloc(1, sizeof *r);
    if (r) r->name = strdup(name);
    if (r && r->name && comp != CT_COMPRESSION_NONE) {
        r->in = malloc(IN_CHUNK);
        if (r->in && inflateInit2(&r->z, window_bits(comp)) == Z_OK) r->zinit = true;
    }
    if (!r || !r->name || (comp != CT_COMPRESSION_NONE && !r->zinit)) {
        if (r) {
            free(r->in);
            free(r->name);
            free(r);
        }
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: '%s': out of memory for a TFRecord reader", api, name);
        return NULL;
    }
    r->api = api;
    r->comp = comp;
    r->fd = -1;
    return r;
}

ct__tfrecord_reader *ct__tfrecord_reader_open(const char *path, ct_compression compression,
                                              const char *api) {
    if (!path) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the file name is NULL", api);
        return NULL;
    }
    ct__tfrecord_reader *r = reader_new(path, compression, api);
    if (!r) return NULL;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    r->own = r->fd >= 0 ? malloc(WINDOW) : NULL;
    if (r->fd < 0 || !r->own) {
        if (r->fd < 0)
            ct__error(CT_ERR_NOT_FOUND, "%s: cannot open '%s': %s", api, path, strerror(errno));
        else
            ct__error(CT_ERR_OUT_OF_MEMORY, "%s: '%s': out of memory for a read buffer", api,
                      path);
        ct__tfrecord_reader_close(r);
        return NULL;
    }
    r->win = r->own;
    struct stat sb;
    if (fstat(r->fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: '%s' is a directory, not a TFRecord file", api,
                  path);
        ct__tfrecord_reader_close(r);
        return NULL;
    }
    if (compression == CT_COMPRESSION_NONE && S_ISREG(sb.st_mode)) {
        r->have_size = true;
        r->size = (uint64_t)sb.st_size;
    }
    return r;
}

ct__tfrecord_reader *ct__tfrecord_reader_open_memory(const void *data, size_t n,
                                                     const char *name,
                                                     ct_compression compression,
                                                     const char *api) {
    ct__tfrecord_reader *r = reader_new(name ? name : "<memory>", compression, api);
    if (!r) return NULL;
    r->win = data;
    r->len = data ? n : 0;
    if (compression == CT_COMPRESSION_NONE) {
        r->have_size = true;
        r->size = r->len;
    }
    return r;
}

void ct__tfrecord_reader_close(ct__tfrecord_reader *r) {
    if (!r) return;
    if (r->fd >= 0) close(r->fd);
    free(r->own);
    if (r->zinit) inflateEnd(&r->z);
    free(r->in);
    free(r->buf);
    free(r->err);
    free(r->name);
    free(r);
}

uint64_t ct__tfrecord_reader_offset(const ct__tfrecord_reader *r) {
    return r->offset;
}

/* Records the error just set so that later reads repeat it. */
static ct_status sticky(ct__tfrecord_reader *r, ct_status st) {
    r->failed = st;
    free(r->err);
    r->err = strdup(ct_last_error());
    return st;
}

static ct_status truncated(ct__tfrecord_reader *r, const char *what, uint64_t got,
                           uint64_t want) {
    return ct__error(CT_ERR_INVALID_ARGUMENT,
                     "%s: '%s': truncated record at byte offset %" PRIu64 ": the %s has %" PRIu64
                     " of its %" PRIu64 " bytes",
                     r->api, r->name, r->offset, what, got, want);
}

static ct_status bad_crc(ct__tfrecord_reader *r, const char *what, uint32_t stored,
                         uint32_t computed) {
    return ct__error(CT_ERR_INVALID_ARGUMENT,
                     "%s: '%s': corrupted record at byte offset %" PRIu64
                     ": the %s CRC does not match (stored %08" PRIx32 ", computed %08" PRIx32 ")",
                     r->api, r->name, r->offset, what, stored, computed);
}

/* Checks a header's CRC and its length against what the input can hold. */
static ct_status check_header(ct__tfrecord_reader *r, const uint8_t *hdr, uint64_t *len) {
    uint32_t stored = get_le32(hdr + 8), computed = ct__crc32c_mask(ct__crc32c(hdr, 8));
    if (stored != computed) return bad_crc(r, "length", stored, computed);
    uint64_t n = get_le64(hdr);
    uint64_t end = r->offset + CT__TFRECORD_HEADER;
    uint64_t left = r->size > end ? r->size - end : 0;
    if (r->have_size && (n > left || left - n < CT__TFRECORD_FOOTER))
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: '%s': truncated record at byte offset %" PRIu64
                         ": its length is %" PRIu64 " bytes but %" PRIu64
                         " bytes follow its header (%" PRIu64 " needed with the CRC)",
                         r->api, r->name, r->offset, n, left, n + CT__TFRECORD_FOOTER);
    if (n > (uint64_t)(SIZE_MAX / 2))
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: '%s': corrupted record at byte offset %" PRIu64
                         ": length %" PRIu64 " is too large",
                         r->api, r->name, r->offset, n);
    *len = n;
    return CT_OK;
}

static ct_status check_payload(ct__tfrecord_reader *r, const uint8_t *data, size_t n,
                               const uint8_t *ftr) {
    uint32_t stored = get_le32(ftr), computed = ct__crc32c_mask(ct__crc32c(data, n));
    return stored == computed ? CT_OK : bad_crc(r, "data", stored, computed);
}

/* An uncompressed record that fits the window: its header checked and its
 * payload (*p, *n; the footer follows) made contiguous in the window, not
 * yet consumed. *p = NULL at the clean end; *fits = false (nothing
 * consumed) when it does not fit. */
static ct_status window_record(ct__tfrecord_reader *r, const uint8_t **p, uint64_t *n,
                               bool *fits) {
    const size_t H = CT__TFRECORD_HEADER, F = CT__TFRECORD_FOOTER;
    size_t avail;
    *p = NULL;
    *fits = true;
    ct_status st = window_fill(r, H, &avail);
    if (st) return st;
    if (avail == 0) return CT_OK; /* the end */
    if (avail < H) return truncated(r, "header", avail, H);
    if ((st = check_header(r, r->win + r->pos, n))) return st;
    if (r->fd >= 0 && *n > WINDOW - H - F) {
        *fits = false;
        return CT_OK;
    }
    if ((st = window_fill(r, H + (size_t)*n + F, &avail))) return st;
    if (avail < H + *n) return truncated(r, "data", avail - H, *n);
    if (avail < H + *n + F) return truncated(r, "data CRC", avail - H - *n, F);
    *p = r->win + r->pos + H;
    return CT_OK;
}

static void window_consume(ct__tfrecord_reader *r, uint64_t n) {
    size_t total = CT__TFRECORD_HEADER + (size_t)n + CT__TFRECORD_FOOTER;
    r->pos += total;
    r->raw_in += total;
    r->offset += total;
}

static ct_status read_in_window(ct__tfrecord_reader *r, const uint8_t **data, size_t *len,
                                bool *fits) {
    const uint8_t *p;
    uint64_t n;
    ct_status st = window_record(r, &p, &n, fits);
    if (st || !p) return st;
    if ((st = check_payload(r, p, (size_t)n, p + n))) return st;
    window_consume(r, n);
    *data = n ? p : (const uint8_t *)"";
    *len = (size_t)n;
    return CT_OK;
}

static ct_status read_record(ct__tfrecord_reader *r, const uint8_t **data, size_t *len) {
    uint8_t hdr[CT__TFRECORD_HEADER], ftr[CT__TFRECORD_FOOTER];
    size_t got;
    ct_status st;
    if (r->comp == CT_COMPRESSION_NONE) {
        bool fits;
        if ((st = read_in_window(r, data, len, &fits)) || fits) return st;
    }
    if ((st = stream_read(r, hdr, sizeof hdr, &got))) return st;
    if (got == 0) return CT_OK; /* the end */
    if (got < sizeof hdr) return truncated(r, "header", got, sizeof hdr);
    uint64_t n;
    if ((st = check_header(r, hdr, &n))) return st;
    /* Grow the buffer as bytes arrive, so that a compressed stream cannot
     * make us allocate a length it does not hold. */
    size_t have = 0;
    while (have < n) {
        if (have == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 64 * 1024;
            if (r->have_size || cap > n) cap = (size_t)n;
            uint8_t *b = realloc(r->buf, cap);
            if (!b)
                return ct__error(CT_ERR_OUT_OF_MEMORY,
                                 "%s: '%s': out of memory for the %" PRIu64
                                 "-byte record at byte offset %" PRIu64,
                                 r->api, r->name, n, r->offset);
            r->buf = b;
            r->cap = cap;
        }
        size_t want = ((size_t)n < r->cap ? (size_t)n : r->cap) - have;
        if ((st = stream_read(r, r->buf + have, want, &got))) return st;
        have += got;
        if (got < want) return truncated(r, "data", have, n);
    }
    if ((st = stream_read(r, ftr, sizeof ftr, &got))) return st;
    if (got < sizeof ftr) return truncated(r, "data CRC", got, sizeof ftr);
    if ((st = check_payload(r, r->buf, (size_t)n, ftr))) return st;
    *data = n ? r->buf : (const uint8_t *)"";
    *len = (size_t)n;
    r->offset += sizeof hdr + n + sizeof ftr;
    return CT_OK;
}

ct_status ct__tfrecord_read_next(ct__tfrecord_reader *r, const uint8_t **data, size_t *len) {
    *data = NULL;
    *len = 0;
    if (r->failed) return ct__error(r->failed, "%s", r->err ? r->err : "TFRecord read failed");
    ct_status st = read_record(r, data, len);
    if (st) {
        *data = NULL;
        *len = 0;
        return sticky(r, st);
    }
    return CT_OK;
}

static ct_tensor *record_tensor(ct__tfrecord_reader *r, size_t n) {
    int64_t shape[1] = {(int64_t)n};
    return ct__tensor_alloc(ct__cpu_device(), CT_UINT8, 1, shape, r->api);
}

static ct_status read_tensor(ct__tfrecord_reader *r, ct_tensor **out) {
    ct_status st;
    if (r->comp == CT_COMPRESSION_NONE) {
        /* Copied out of the window with its CRC computed on the way. */
        const uint8_t *p;
        uint64_t n;
        bool fits;
        if ((st = window_record(r, &p, &n, &fits))) return st;
        if (fits) {
            if (!p) return CT_OK; /* the end */
            ct_tensor *t = record_tensor(r, (size_t)n);
            if (!t) return ct_last_status();
            uint32_t stored = get_le32(p + n);
            uint32_t computed = ct__crc32c_mask(ct__crc32c_copy(ct__data(t), p, (size_t)n));
            if (stored != computed) {
                ct__tensor_release(t);
                return bad_crc(r, "data", stored, computed);
            }
            window_consume(r, n);
            *out = t;
            return CT_OK;
        }
    }
    const uint8_t *data = NULL;
    size_t len = 0;
    if ((st = read_record(r, &data, &len)) || !data) return st;
    ct_tensor *t = record_tensor(r, len);
    if (!t) return ct_last_status();
    if (len) memcpy(ct__data(t), data, len);
    *out = t;
    return CT_OK;
}

ct_status ct__tfrecord_read_tensor(ct__tfrecord_reader *r, ct_tensor **out) {
    *out = NULL;
    if (r->failed) return ct__error(r->failed, "%s", r->err ? r->err : "TFRecord read failed");
    ct_status st = read_tensor(r, out);
    return st ? sticky(r, st) : CT_OK;
}

ct_status ct__tfrecord_reader_seek(ct__tfrecord_reader *r, uint64_t offset) {
    /* Back to the start, then forward. */
    if (r->fd >= 0) {
        if (lseek(r->fd, 0, SEEK_SET) != 0)
            return ct__error(CT_ERR_INTERNAL, "%s: '%s': cannot seek: %s", r->api, r->name,
                             strerror(errno));
        r->len = 0;
        r->eof = false;
    }
    r->pos = 0;
    r->raw_in = 0;
    if (r->zinit) {
        inflateReset(&r->z);
        r->z.avail_in = 0;
        r->zdone = r->zstarted = false;
    }
    r->offset = 0;
    r->failed = CT_OK;
    if (r->have_size) {
        if (offset > r->size)
            return ct__error(CT_ERR_OUT_OF_RANGE,
                             "%s: '%s': cannot restore byte offset %" PRIu64
                             ": the file has %" PRIu64 " bytes",
                             r->api, r->name, offset, r->size);
        if (r->fd >= 0) {
            if (lseek(r->fd, (off_t)offset, SEEK_SET) != (off_t)offset)
                return ct__error(CT_ERR_INTERNAL, "%s: '%s': cannot seek to %" PRIu64 ": %s",
                                 r->api, r->name, offset, strerror(errno));
        } else {
            r->pos = (size_t)offset;
        }
        r->raw_in = offset;
        r->offset = offset;
        return CT_OK;
    }
    uint8_t *skip = malloc(IN_CHUNK);
    if (!skip) return ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory", r->api);
    ct_status st = CT_OK;
    while (r->offset < offset) {
        size_t want = offset - r->offset < IN_CHUNK ? (size_t)(offset - r->offset) : IN_CHUNK, got;
        st = stream_read(r, skip, want, &got);
        if (st) break;
        r->offset += got;
        if (got < want) {
            st = ct__error(CT_ERR_OUT_OF_RANGE,
                           "%s: '%s': cannot restore byte offset %" PRIu64
                           ": the decompressed stream has %" PRIu64 " bytes",
                           r->api, r->name, offset, r->offset);
            break;
        }
    }
    free(skip);
    return st;
}

/* ---- tf.data.TFRecordDataset ----------------------------------------------------- */

static const char TFR_API[] = "ct_dataset_tfrecord";

typedef struct {
    ct_dataset base;
    int n;
    char **files;
    ct_compression comp;
} tfr_ds;

typedef struct {
    ct__iter base;
    int file;               /* the file being read (n: done)         */
    ct__tfrecord_reader *r; /* open on `file`, or NULL               */
} tfr_it;

static ct_status tfr_open(tfr_it *t) {
    tfr_ds *d = (tfr_ds *)t->base.ds;
    t->r = ct__tfrecord_reader_open(d->files[t->file], d->comp, TFR_API);
    return t->r ? CT_OK : ct_last_status();
}

static ct_status tfr_next(ct__iter *it, ct_element **out) {
    tfr_it *t = (tfr_it *)it;
    tfr_ds *d = (tfr_ds *)it->ds;
    *out = NULL;
    while (t->file < d->n) {
        ct_status st;
        if (!t->r && (st = tfr_open(t))) return st;
        ct_tensor *rec;
        if ((st = ct__tfrecord_read_tensor(t->r, &rec))) return st;
        if (!rec) {
            ct__tfrecord_reader_close(t->r);
            t->r = NULL;
            t->file++;
            continue;
        }
        ct_element *e = ct__element_new(1);
        if (!e) {
            ct__tensor_release(rec);
            return ct_last_status();
        }
        e->t[0] = rec;
        *out = e;
        return CT_OK;
    }
    return CT_OK;
}

static ct_status tfr_save(ct__iter *it, ct__state_writer *w) {
    tfr_it *t = (tfr_it *)it;
    ct__sw_i64(w, ((tfr_ds *)it->ds)->n);
    ct__sw_i64(w, t->file);
    ct__sw_i64(w, t->r ? (int64_t)ct__tfrecord_reader_offset(t->r) : 0);
    return w->st;
}

static ct_status tfr_restore(ct__iter *it, ct__state_reader *rd) {
    tfr_it *t = (tfr_it *)it;
    tfr_ds *d = (tfr_ds *)it->ds;
    if (!ct__sr_param(rd, it->ds->vt->name, "files", d->n)) return rd->st;
    int64_t file = ct__sr_i64(rd), offset = ct__sr_i64(rd);
    if (rd->st) return rd->st;
    if (file < 0 || file > d->n || offset < 0)
        return ct__sr_fail(rd, "TFRecordDataset: file index or offset out of range");
    ct__tfrecord_reader_close(t->r);
    t->r = NULL;
    t->file = (int)file;
    if (t->file == d->n || offset == 0) return CT_OK;
    ct_status st = tfr_open(t);
    if (!st) st = ct__tfrecord_reader_seek(t->r, (uint64_t)offset);
    return st;
}

static void tfr_free(ct__iter *it) {
    tfr_it *t = (tfr_it *)it;
    ct__tfrecord_reader_close(t->r);
    free(t);
}

static const ct__iter_vt tfr_iter_vt = {
    .next = tfr_next, .save = tfr_save, .restore = tfr_restore, .free = tfr_free};

static ct__iter *tfr_iterator(ct_dataset *ds) {
    return ct__iter_alloc(sizeof(tfr_it), &tfr_iter_vt, ds);
}

static void tfr_destroy(ct_dataset *ds) {
    tfr_ds *d = (tfr_ds *)ds;
    for (int i = 0; i < d->n; i++) free(d->files[i]);
    free(d->files);
}

/* The same reader over files index, index + num, ... (auto-shard's FILE
 * policy), with ds's compression and options. */
static ct_dataset *tfr_shard_files(ct_dataset *ds, int64_t num, int64_t index,
                                   int64_t *num_files) {
    tfr_ds *d = (tfr_ds *)ds;
    *num_files = d->n;
    if (d->n < num) return NULL;
    int k = (int)((d->n - index + num - 1) / num);
    const char **names = malloc((size_t)k * sizeof *names);
    if (!names) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of host memory", TFR_API);
        return NULL;
    }
    for (int j = 0; j < k; j++) names[j] = d->files[index + (int64_t)j * num];
    ct_dataset *r = ct_dataset_tfrecord(k, names, d->comp);
    free(names);
    if (r) r->opts = ds->opts;
    return r;
}

static const ct__dataset_vt tfr_vt = {.name = "TFRecordDataset",
                                      .iterator = tfr_iterator,
                                      .destroy = tfr_destroy,
                                      .shard_files = tfr_shard_files};

ct_dataset *ct_dataset_tfrecord(int n, const char *const *filenames, ct_compression compression) {
    if (n < 0 || (n > 0 && !filenames)) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: %d file names%s", TFR_API, n,
                  n < 0 ? " (expected >= 0)" : " but filenames is NULL");
        return NULL;
    }
    if (!compression_valid(compression)) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s: unknown compression %d (expected CT_COMPRESSION_NONE, _GZIP or _ZLIB)",
                  TFR_API, (int)compression);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!filenames[i]) {
            ct__error(CT_ERR_INVALID_ARGUMENT, "%s: file name %d of %d is NULL", TFR_API, i, n);
            return NULL;
        }
    ct_element_spec spec = {.n = 1};
    spec.c[0] = (ct_component_spec){.dtype = CT_UINT8, .rank = 1, .shape = {-1}};
    tfr_ds *d = ct__dataset_alloc(sizeof *d, &tfr_vt, &spec);
    if (!d) return NULL;
    d->comp = compression;
    d->files = calloc(n ? (size_t)n : 1, sizeof *d->files);
    bool ok = d->files != NULL;
    for (int i = 0; ok && i < n; i++) {
        d->files[i] = strdup(filenames[i]);
        ok = d->files[i] != NULL;
        d->n = i + ok;
    }
    if (!ok) {
        ct_dataset_free(&d->base);
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s: out of memory for %d file names", TFR_API, n);
        return NULL;
    }
    return &d->base;
}

/* ---- tf.io.TFRecordWriter ------------------------------------------------------ */

static const char W_API[] = "ct_tfrecord_writer";

struct ct_tfrecord_writer {
    char *path, *tmp;
    FILE *f;
    ct_compression comp;
    z_stream z;
    bool zinit;
    uint8_t *out; /* deflate output */
    ct_status st; /* the first error */
};

static ct_status w_io_error(ct_tfrecord_writer *w, const char *what) {
    w->st = ct__error(CT_ERR_INTERNAL, "%s: '%s': %s (writing '%s'): %s", W_API, w->path, what,
                      w->tmp, strerror(errno));
    return w->st;
}

static ct_status w_raw(ct_tfrecord_writer *w, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, w->f) != n) return w_io_error(w, "write failed");
    return CT_OK;
}

/* Deflates n bytes (flush: Z_NO_FLUSH or Z_FINISH) into the file. */
static ct_status w_deflate(ct_tfrecord_writer *w, const void *p, size_t n, int flush) {
    const uint8_t *src = p;
    for (;;) {
        size_t chunk = n > UINT_MAX ? UINT_MAX : n;
        w->z.next_in = (Bytef *)src;
        w->z.avail_in = (uInt)chunk;
        int last = (chunk == n) ? flush : Z_NO_FLUSH;
        int ret;
        do {
            w->z.next_out = w->out;
            w->z.avail_out = IN_CHUNK;
            ret = deflate(&w->z, last);
            if (ret == Z_STREAM_ERROR) {
                w->st = ct__error(CT_ERR_INTERNAL, "%s: '%s': deflate failed", W_API, w->path);
                return w->st;
            }
            ct_status st = w_raw(w, w->out, IN_CHUNK - w->z.avail_out);
            if (st) return st;
        } while (w->z.avail_out == 0 || (last == Z_FINISH && ret != Z_STREAM_END));
        src += chunk;
        n -= chunk;
        if (n == 0) return CT_OK;
    }
}

static ct_status w_put(ct_tfrecord_writer *w, const void *p, size_t n) {
    return w->comp == CT_COMPRESSION_NONE ? w_raw(w, p, n) : w_deflate(w, p, n, Z_NO_FLUSH);
}

static void w_free(ct_tfrecord_writer *w) {
    if (w->f) fclose(w->f);
    if (w->tmp) unlink(w->tmp);
    if (w->zinit) deflateEnd(&w->z);
    free(w->out);
    free(w->tmp);
    free(w->path);
    free(w);
}

ct_tfrecord_writer *ct_tfrecord_writer_open(const char *path, ct_compression compression) {
    static atomic_long counter;
    if (!path || !*path) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s_open: the path is %s", W_API,
                  path ? "empty" : "NULL");
        return NULL;
    }
    if (!compression_valid(compression)) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s_open: '%s': unknown compression %d (expected CT_COMPRESSION_NONE, _GZIP or "
                  "_ZLIB)",
                  W_API, path, (int)compression);
        return NULL;
    }
    ct_tfrecord_writer *w = calloc(1, sizeof *w);
    size_t tn = strlen(path) + 64;
    if (w) w->path = strdup(path);
    if (w) w->tmp = malloc(tn);
    if (w && compression != CT_COMPRESSION_NONE) {
        w->out = malloc(IN_CHUNK);
        /* TF's ZlibCompressionOptions: default level, deflated, window
         * bits 15 (+16 for gzip), memory level 9, default strategy. */
        if (w->out && deflateInit2(&w->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
                                   window_bits(compression), 9, Z_DEFAULT_STRATEGY) == Z_OK)
            w->zinit = true;
    }
    if (!w || !w->path || !w->tmp || (compression != CT_COMPRESSION_NONE && !w->zinit)) {
        if (w) {
            free(w->tmp);
            w->tmp = NULL;
            w_free(w);
        }
        ct__error(CT_ERR_OUT_OF_MEMORY, "%s_open: '%s': out of memory", W_API, path);
        return NULL;
    }
    w->comp = compression;
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        snprintf(w->tmp, tn, "%s.tmp.%ld.%ld", path, (long)getpid(),
                 atomic_fetch_add(&counter, 1));
        fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd >= 0) w->f = fdopen(fd, "wb");
    if (!w->f) {
        ct__error(CT_ERR_NOT_FOUND, "%s_open: cannot create '%s' (for '%s'): %s", W_API, w->tmp,
                  path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(w->tmp);
        }
        free(w->tmp);
        w->tmp = NULL;
        w_free(w);
        return NULL;
    }
    return w;
}

ct_status ct_tfrecord_writer_write(ct_tfrecord_writer *w, const void *data, size_t len) {
    if (!w) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s_write: the writer is NULL", W_API);
    if (w->st)
        return ct__error(w->st, "%s_write: '%s': an earlier write failed", W_API, w->path);
    if (!data && len)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s_write: '%s': data is NULL (%zu bytes)",
                         W_API, w->path, len);
    uint8_t hdr[CT__TFRECORD_HEADER], ftr[CT__TFRECORD_FOOTER];
    ct__tfrecord_frame(len ? data : "", len, hdr, ftr);
    ct_status st = w_put(w, hdr, sizeof hdr);
    if (!st && len) st = w_put(w, data, len);
    if (!st) st = w_put(w, ftr, sizeof ftr);
    return st;
}

/* fsync of the directory holding path, so that the rename is durable. */
static void sync_dir(const char *path) {
    char *dir = strdup(path);
    if (!dir) return;
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = '\0';
    else if (slash) *slash = '\0';
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

ct_status ct_tfrecord_writer_close(ct_tfrecord_writer *w) {
    if (!w) return CT_OK;
    ct_status st = w->st;
    if (st) {
        /* The error was reported by the failed write; say it again. */
        st = ct__error(st, "%s_close: '%s': not written because an earlier write failed", W_API,
                       w->path);
        w_free(w);
        return st;
    }
    if (w->comp != CT_COMPRESSION_NONE) st = w_deflate(w, "", 0, Z_FINISH);
    if (!st && fflush(w->f) != 0) st = w_io_error(w, "flush failed");
    if (!st && fsync(fileno(w->f)) != 0) st = w_io_error(w, "fsync failed");
    if (!st) {
        FILE *f = w->f;
        w->f = NULL;
        if (fclose(f) != 0) st = w_io_error(w, "close failed");
    }
    if (!st && rename(w->tmp, w->path) != 0) st = w_io_error(w, "rename failed");
    if (!st) {
        free(w->tmp);
        w->tmp = NULL; /* renamed: nothing to remove */
        sync_dir(w->path);
    }
    w_free(w);
    return st;
}
