/*
 * Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy as
 * 1, 2, 3", SC 2011), the generator TensorFlow's stateless and stateful
 * random ops use, and TF's rule for picking the seeds of a random op.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/internal.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

void ct__philox(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo(PHILOX_M0, c0, &hi0, &lo0);
        mulhilo(PHILOX_M1, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* TF's global seed state: set_seed fixes the graph seed and restarts the
 * op-seed counter; with no global seed, ops without a seed draw fresh. */
#define DEFAULT_GRAPH_SEED 87654321
#define MAXINT32 2147483647

/* TF's _truncate_seed: Python's seed % (2^31 - 1), never negative. */
static uint64_t truncate_seed(int64_t s) {
    int64_t m = s % MAXINT32;
    return (uint64_t)(m < 0 ? m + MAXINT32 : m);
}
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static bool have_global;
static int64_t global_seed;
static atomic_ullong fresh_counter;

/* How often each (seed, seed2) pair has been drawn since the last
 * set_seed: a seeded op called twice gives two different draws (as a TF
 * kernel keeps its generator's position), the same ones every run. */
#define CALLS_CAP 4096
static struct {
    uint64_t seed, seed2, calls;
    bool used;
} calls_map[CALLS_CAP];

static uint64_t next_call(uint64_t seed, uint64_t seed2) {
    uint64_t h = (seed * 0x9E3779B97F4A7C15ull ^ seed2) % CALLS_CAP;
    for (int probe = 0; probe < CALLS_CAP; probe++, h = (h + 1) % CALLS_CAP) {
        if (!calls_map[h].used) {
            calls_map[h].used = true;
            calls_map[h].seed = seed;
            calls_map[h].seed2 = seed2;
            calls_map[h].calls = 0;
        }
        if (calls_map[h].seed == seed && calls_map[h].seed2 == seed2) return calls_map[h].calls++;
    }
    return 0; /* table full: repeat draws rather than fail */
}

static void clear_calls(void) {
    for (int i = 0; i < CALLS_CAP; i++) calls_map[i].used = false;
}

/* TF's eager op seeds: Python's random.Random(global_seed).randint(0,
 * 2**31 - 1) per op (context._internal_operation_seed), i.e. MT19937
 * seeded by init_by_array with the 32-bit words of |seed|, then 32-bit
 * outputs below 2**31 (randbelow's rejection). */
static uint32_t mt[624];
static int mt_i = 624;

static void mt_init(uint32_t s) {
    mt[0] = s;
    for (int i = 1; i < 624; i++) mt[i] = 1812433253u * (mt[i - 1] ^ (mt[i - 1] >> 30)) + (uint32_t)i;
    mt_i = 624;
}

static void mt_seed(int64_t seed) {
    uint64_t a = seed < 0 ? (uint64_t)0 - (uint64_t)seed : (uint64_t)seed;
    uint32_t key[2] = {(uint32_t)a, (uint32_t)(a >> 32)};
    int n = key[1] ? 2 : 1;
    mt_init(19650218u);
    int i = 1, j = 0;
    for (int k = 624 > n ? 624 : n; k; k--) {
        mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++, j++;
        if (i >= 624) mt[0] = mt[623], i = 1;
        if (j >= n) j = 0;
    }
    for (int k = 623; k; k--) {
        mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= 624) mt[0] = mt[623], i = 1;
    }
    mt[0] = 0x80000000u;
}

static uint32_t mt_next(void) {
    if (mt_i >= 624) {
        for (int k = 0; k < 624; k++) {
            uint32_t y = (mt[k] & 0x80000000u) | (mt[(k + 1) % 624] & 0x7fffffffu);
            mt[k] = mt[(k + 397) % 624] ^ (y >> 1) ^ (y & 1 ? 0x9908b0dfu : 0);
        }
        mt_i = 0;
    }
    uint32_t y = mt[mt_i++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
}

static uint64_t eager_op_seed(void) {
    uint32_t r;
    do r = mt_next();
    while (r >= 0x80000000u);
    return r;
}

void ct_set_random_seed(int64_t seed) {
    pthread_mutex_lock(&mu);
    have_global = true;
    global_seed = seed;
    mt_seed(seed);
    clear_calls();
    pthread_mutex_unlock(&mu);
}

void ct_clear_random_seed(void) {
    pthread_mutex_lock(&mu);
    have_global = false;
    clear_calls();
    pthread_mutex_unlock(&mu);
}

static uint64_t splitmix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void ct__random_seeds(int64_t op_seed, uint64_t *seed, uint64_t *seed2, uint64_t *call) {
    pthread_mutex_lock(&mu);
    if (have_global) {
        *seed = truncate_seed(global_seed);
        *seed2 = truncate_seed(op_seed ? op_seed : (int64_t)eager_op_seed());
    } else if (op_seed) {
        *seed = DEFAULT_GRAPH_SEED;
        *seed2 = truncate_seed(op_seed);
    } else {
        /* Fresh numbers each run: time, pid and a counter. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t n = atomic_fetch_add(&fresh_counter, 1);
        *seed = splitmix((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ n);
        *seed2 = splitmix(*seed ^ (uint64_t)getpid());
    }
    if (*seed == 0 && *seed2 == 0) *seed2 = MAXINT32; /* TF avoids the all-zero key */
    /* Only pairs an op seed named can come back before the next set_seed;
     * recording the others would only fill the table. */
    *call = op_seed ? next_call(*seed, *seed2) : 0;
    pthread_mutex_unlock(&mu);
}

/* ---- state for training checkpoints ---------------------------------------------------------- */

/* Layout (little-endian host order, for the same build): magic, the global
 * seed flag and value, the MT19937 position and state, then the count of
 * seeded pairs and each (seed, seed2, calls). */
static const char RNG_MAGIC[8] = "ctrng\x01\0";

ct_status ct__rng_get_state(void **buf, size_t *len) {
    pthread_mutex_lock(&mu);
    uint32_t n = 0;
    for (int i = 0; i < CALLS_CAP; i++) n += calls_map[i].used;
    size_t cap = sizeof RNG_MAGIC + 1 + 8 + 4 + sizeof mt + 4 + (size_t)n * 24;
    unsigned char *b = malloc(cap), *p = b;
    if (!b) {
        pthread_mutex_unlock(&mu);
        return ct__error(CT_ERR_OUT_OF_MEMORY, "saving the random seed state: out of memory");
    }
#define PUT(x) (memcpy(p, &(x), sizeof(x)), p += sizeof(x))
    memcpy(p, RNG_MAGIC, sizeof RNG_MAGIC);
    p += sizeof RNG_MAGIC;
    uint8_t g = have_global;
    int32_t pos = mt_i;
    PUT(g);
    PUT(global_seed);
    PUT(pos);
    PUT(mt);
    PUT(n);
    for (int i = 0; i < CALLS_CAP; i++)
        if (calls_map[i].used) {
            PUT(calls_map[i].seed);
            PUT(calls_map[i].seed2);
            PUT(calls_map[i].calls);
        }
#undef PUT
    pthread_mutex_unlock(&mu);
    *buf = b;
    *len = cap;
    return CT_OK;
}

ct_status ct__rng_set_state(const void *buf, size_t len) {
    const unsigned char *p = buf;
    size_t head = sizeof RNG_MAGIC + 1 + 8 + 4 + sizeof mt + 4;
    if (!p || len < head || memcmp(p, RNG_MAGIC, sizeof RNG_MAGIC))
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "restoring the random seed state: not a saved state (%zu bytes)", len);
    p += sizeof RNG_MAGIC;
    uint8_t g;
    int64_t seed;
    int32_t pos;
    uint32_t n;
    uint32_t state[624];
#define GET(x) (memcpy(&(x), p, sizeof(x)), p += sizeof(x))
    GET(g);
    GET(seed);
    GET(pos);
    memcpy(state, p, sizeof state);
    p += sizeof state;
    GET(n);
    if (pos < 0 || pos > 624 || n > CALLS_CAP || len != head + (size_t)n * 24)
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "restoring the random seed state: damaged (%zu bytes, %u seeded ops)",
                         len, n);
    pthread_mutex_lock(&mu);
    have_global = g;
    global_seed = seed;
    mt_i = pos;
    memcpy(mt, state, sizeof mt);
    clear_calls();
    for (uint32_t i = 0; i < n; i++) {
        uint64_t s1, s2, calls;
        GET(s1);
        GET(s2);
        GET(calls);
        next_call(s1, s2);
        uint64_t h = (s1 * 0x9E3779B97F4A7C15ull ^ s2) % CALLS_CAP;
        while (!(calls_map[h].used && calls_map[h].seed == s1 && calls_map[h].seed2 == s2))
            h = (h + 1) % CALLS_CAP;
        calls_map[h].calls = calls;
    }
#undef GET
    pthread_mutex_unlock(&mu);
    return CT_OK;
}
