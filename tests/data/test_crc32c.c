/* CRC-32C: the dispatched ct__crc32c_extend (SSE4.2, three streams with
 * PCLMULQDQ on long buffers) against the table fallback and a bitwise
 * reference, over every length 0..4096 at every alignment 0..15. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/tfrecord.h" /* private: the CRC */
#include "support.h"

TestSuite(crc32c, .init = ct_test_begin, .fini = ct_test_end);

/* Bit at a time, reflected 0x82F63B78: independent of both implementations. */
static uint32_t crc_bitwise(uint32_t crc, const uint8_t *p, size_t n) {
    uint32_t c = ~crc;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return ~c;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static void fill(uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(rng() >> 24);
}

Test(crc32c, known_vectors) {
    cr_expect_eq(ct__crc32c_extend(0, "123456789", 9), 0xE3069283u);
    cr_expect_eq(ct__crc32c_extend_portable(0, "123456789", 9), 0xE3069283u);
    cr_expect_eq(ct__crc32c_extend(0, "", 0), 0u);
    cr_expect_eq(ct__crc32c_extend(0x12345678u, "", 0), 0x12345678u);
    /* RFC 3720 B.4 */
    uint8_t b[32];
    memset(b, 0, sizeof b);
    cr_expect_eq(ct__crc32c(b, 32), 0x8A9136AAu);
    memset(b, 0xff, sizeof b);
    cr_expect_eq(ct__crc32c(b, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++) b[i] = (uint8_t)i;
    cr_expect_eq(ct__crc32c(b, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++) b[i] = (uint8_t)(31 - i);
    cr_expect_eq(ct__crc32c(b, 32), 0x113FDB5Cu);
}

/* The table fallback against the bitwise reference. */
Test(crc32c, portable_matches_bitwise) {
    enum { N = 3000 };
    uint8_t *buf = malloc(N + 16);
    cr_assert_not_null(buf);
    fill(buf, N + 16);
    for (size_t n = 0; n <= N; n += (n < 300 ? 1 : 97))
        for (size_t a = 0; a < 8; a++) {
            uint32_t want = crc_bitwise(0xDEADBEEFu, buf + a, n);
            uint32_t got = ct__crc32c_extend_portable(0xDEADBEEFu, buf + a, n);
            if (got != want) {
                free(buf);
                cr_assert_fail("portable: n=%zu align=%zu: %08x != %08x", n, a, got, want);
            }
        }
    free(buf);
}

Test(crc32c, all_lengths_all_alignments) {
    enum { N = 4096, A = 16 };
    uint8_t *mem = malloc(N + A + 64);
    cr_assert_not_null(mem);
    fill(mem, N + A + 64);
    /* an aligned base so that "alignment a" is exactly a */
    uint8_t *base = (uint8_t *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    const uint32_t seeds[2] = {0, 0x5A17C0DEu};
    for (int s = 0; s < 2; s++)
        for (size_t a = 0; a < A; a++)
            for (size_t n = 0; n <= N; n++) {
                uint32_t want = ct__crc32c_extend_portable(seeds[s], base + a, n);
                uint32_t got = ct__crc32c_extend(seeds[s], base + a, n);
                if (got != want) {
                    free(mem);
                    cr_assert_fail("seed=%08x n=%zu align=%zu: %08x != %08x", seeds[s], n, a,
                                   got, want);
                }
            }
    free(mem);
}

/* Long random buffers: around the 3-stream threshold and the block sizes
 * (3 x 4096 per round), many rounds, random lengths and offsets; also
 * extend() chaining. */
Test(crc32c, large_random) {
    enum { N = (1 << 20) + 4096 };
    uint8_t *buf = malloc(N);
    cr_assert_not_null(buf);
    fill(buf, N);
    const size_t sizes[] = {127,   128,   129,   12287, 12288, 12289, 12296, 24575,
                            24576, 24577, 36871, 65536, 99999, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (size_t a = 0; a < 16; a += 3) {
            uint32_t want = ct__crc32c_extend_portable(0, buf + a, sizes[i]);
            uint32_t got = ct__crc32c_extend(0, buf + a, sizes[i]);
            if (got != want) {
                free(buf);
                cr_assert_fail("n=%zu align=%zu: %08x != %08x", sizes[i], a, got, want);
            }
        }
    for (int t = 0; t < 300; t++) {
        size_t off = (size_t)(rng() % 4096), n = (size_t)(rng() % (N - 4096));
        uint32_t seed = (uint32_t)rng();
        uint32_t want = ct__crc32c_extend_portable(seed, buf + off, n);
        uint32_t got = ct__crc32c_extend(seed, buf + off, n);
        /* split at a random point: extend(extend(s, A), B) == extend(s, AB) */
        size_t cut = n ? (size_t)(rng() % n) : 0;
        uint32_t chained =
            ct__crc32c_extend(ct__crc32c_extend(seed, buf + off, cut), buf + off + cut, n - cut);
        if (got != want || chained != want) {
            free(buf);
            cr_assert_fail("n=%zu off=%zu cut=%zu: %08x / %08x != %08x", n, off, cut, got,
                           chained, want);
        }
    }
    free(buf);
}

/* A single flipped bit anywhere in a long buffer changes the CRC. */
Test(crc32c, detects_bit_flips) {
    enum { N = 20000 };
    uint8_t *buf = malloc(N);
    cr_assert_not_null(buf);
    fill(buf, N);
    uint32_t ref = ct__crc32c(buf, N);
    for (int t = 0; t < 200; t++) {
        size_t i = (size_t)(rng() % N);
        uint8_t bit = (uint8_t)(1u << (rng() % 8));
        buf[i] ^= bit;
        uint32_t c = ct__crc32c(buf, N);
        buf[i] ^= bit;
        if (c == ref) {
            free(buf);
            cr_assert_fail("flip at %zu not detected", i);
        }
    }
    free(buf);
}
