/*
 * tf.random.uniform, tf.random.normal, tf.random.truncated_normal and their
 * stateless forms tf.random.stateless_uniform, stateless_normal and
 * stateless_truncated_normal.
 *
 * The numbers are TensorFlow's, bit for bit: the generator is Philox
 * 4x32-10, and the distributions are TF's (random_distributions.h):
 * uniform floats from 23 mantissa bits, doubles from 52, integers by
 * modulo, normals by Box-Muller, truncated normals by rejection of |x| >= 2
 * with 256 samples reserved per output group. Work is split into output
 * groups whose counters are fixed by their index, so threads never change
 * the result. Both families run the same op kernel; they differ only in
 * where the key and counter come from and in the Python wrapper's scaling:
 *
 * Stateful ops: keyed and countered as TF's PhiloxRandom(seed, seed2) (key
 * = seed's low and high words, counter words 2 and 3 = seed2). A TF kernel
 * keeps its generator between calls and reserves 256 * n 128-bit samples
 * per call of n outputs, so the same seeded op called twice continues its
 * stream. TF keeps one kernel per (op, dtype, seed, seed2); so does the
 * table below, which ct__random_seeds' call count restarts after
 * ct_set_random_seed.
 *
 * Stateless ops: the seed pair [s0, s1] becomes a key and counter by TF's
 * GenerateKey (stateless_random_ops.cc, also what
 * StatelessRandomGetKeyCounter and so the V2 ops use with the Philox
 * algorithm, auto_select's choice on CPU and GPU): Philox of the counter
 * (s0, s1) under a fixed key; the same pair gives the same values on every
 * call.
 */
#define _GNU_SOURCE /* sincos, sincosf: TF's Box-Muller calls them on Linux */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

#if defined(__GNUC__) && !defined(__clang__)
/* x * stddev + mean must round twice, as TF's separate ops do. */
#pragma GCC optimize("fp-contract=off")
#endif

enum { RND_UNIFORM, RND_UNIFORM_INT, RND_NORMAL, RND_TRUNCATED, RND_KINDS };

typedef struct {
    int kind;
    ct_dtype dtype;
    int rank;
    int64_t shape[CT_MAX_RANK];
    double lo, hi;          /* uniform: [lo, hi)                         */
    double mean, stddev;    /* normal and truncated normal               */
    uint32_t key[2];        /* Philox key: the seed                      */
    uint32_t ctr[4];        /* the counter of the call's first sample    */
    bool stateless;         /* tf.random.stateless_*: its Python scaling */
} random_attrs;

/* ---- Philox streams as TF's PhiloxRandom ------------------------------------ */

/* TF's PhiloxRandom::Skip: adds n to the 128-bit counter. */
static void ctr_skip(uint32_t c[4], uint64_t n) {
    uint32_t lo = (uint32_t)n, hi = (uint32_t)(n >> 32);
    c[0] += lo;
    if (c[0] < lo) hi++;
    c[1] += hi;
    if (c[1] < hi && ++c[2] == 0) c[3]++;
}

/* Philox 4x32-10 of LANES counters at once, in place (lane i of x[w] is
 * word w of counter i): the function ct__philox computes (runtime/rng.c),
 * laid out so the lanes' dependency chains overlap and the compiler can
 * use vector multiplies; about 4x faster per block than one at a time.
 * Kept out of line: inlined into its callers it spills registers and
 * loses most of that. */
#define LANES 16
__attribute__((noinline)) static void philox_lanes(const uint32_t key[2],
                                                   uint32_t x[4][LANES]) {
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        for (int i = 0; i < LANES; i++) {
            uint64_t p0 = (uint64_t)0xD2511F53u * x[0][i], p1 = (uint64_t)0xCD9E8D57u * x[2][i];
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ x[1][i] ^ k0;
            uint32_t n2 = (uint32_t)(p0 >> 32) ^ x[3][i] ^ k1;
            x[0][i] = n0;
            x[1][i] = (uint32_t)p1;
            x[2][i] = n2;
            x[3][i] = (uint32_t)p0;
        }
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
}

/* The first block of groups g .. g + LANES - 1, where group g starts at
 * the call's counter skipped by g * stride: r[i] is group g + i's block. */
static void group_blocks(const random_attrs *a, int64_t g, uint64_t stride, uint32_t r[LANES][4]) {
    uint32_t x[4][LANES], c[4];
    memcpy(c, a->ctr, sizeof c);
    ctr_skip(c, (uint64_t)g * stride);
    for (int i = 0; i < LANES; i++, ctr_skip(c, stride))
        for (int w = 0; w < 4; w++) x[w][i] = c[w];
    philox_lanes(a->key, x);
    for (int i = 0; i < LANES; i++)
        for (int w = 0; w < 4; w++) r[i][w] = x[w][i];
}

/* TF's SingleSampleAdapter over one group's blocks: one 32-bit output at
 * a time, starting from the group's first block (already computed). */
typedef struct {
    const uint32_t *key;
    uint32_t ctr[4], buf[4];
    int used;
} single_sampler;

static void single_init(single_sampler *s, const random_attrs *a, uint64_t start,
                        const uint32_t first[4]) {
    s->key = a->key;
    memcpy(s->ctr, a->ctr, sizeof s->ctr);
    ctr_skip(s->ctr, start + 1);
    memcpy(s->buf, first, sizeof s->buf);
    s->used = 0;
}

static inline uint32_t single_next(single_sampler *s) {
    if (s->used == 4) {
        ct__philox(s->key, s->ctr, s->buf);
        ctr_skip(s->ctr, 1);
        s->used = 0;
    }
    return s->buf[s->used++];
}

/* ---- TF's conversions (random_distributions_utils.h) ------------------------- */

static inline float u32_to_float(uint32_t x) {
    uint32_t v = (127u << 23) | (x & 0x7fffffu);
    float f;
    memcpy(&f, &v, 4);
    return f - 1.0f;
}

static inline double u64_to_double(uint32_t x0, uint32_t x1) {
    uint64_t v = ((uint64_t)1023 << 52) | ((uint64_t)(x0 & 0xfffffu) << 32) | x1;
    double d;
    memcpy(&d, &v, 8);
    return d - 1.0;
}

static inline void box_muller_float(uint32_t x0, uint32_t x1, float *f0, float *f1) {
    float u1 = u32_to_float(x0);
    if (u1 < 1.0e-7f) u1 = 1.0e-7f;
    float v1 = (float)(2.0 * M_PI * (double)u32_to_float(x1));
    float u2 = sqrtf(-2.0f * logf(u1));
    sincosf(v1, f0, f1);
    *f0 *= u2;
    *f1 *= u2;
}

static inline void box_muller_double(uint32_t x0, uint32_t x1, uint32_t x2, uint32_t x3,
                                     double *d0, double *d1) {
    double u1 = u64_to_double(x0, x1);
    if (u1 < 1.0e-7) u1 = 1.0e-7;
    double v1 = 2 * M_PI * u64_to_double(x2, x3);
    double u2 = sqrt(-2.0 * log(u1));
    sincos(v1, d0, d1);
    *d0 *= u2;
    *d1 *= u2;
}

/* ---- samplers: fill elements [g0 * G, g1 * G) of n, G per group -------------- */

/* The scaling TF's Python wrappers apply in the dtype, fused into the
 * samplers: x * mul, then + add (two roundings; never a fused multiply-add). */
typedef struct {
    bool mul_on, add_on;
    float mul32, add32;
    double mul64, add64;
} affine;

static inline float affine32(const affine *t, float x) {
    if (t->mul_on) x = x * t->mul32;
    if (t->add_on) x = x + t->add32;
    return x;
}
static inline double affine64(const affine *t, double x) {
    if (t->mul_on) x = x * t->mul64;
    if (t->add_on) x = x + t->add64;
    return x;
}

/* Walks groups [g0, g1) LANES at a time; the body (the variadic part)
 * sees group `g` and its first block `r` (uint32_t[4]). */
#define FOR_GROUPS(g0, g1, stride, ...)                                                \
    do {                                                                                \
        uint32_t blk_[LANES][4];                                                        \
        for (int64_t gb_ = (g0); gb_ < (g1); gb_ += LANES) {                            \
            group_blocks(a, gb_, (stride), blk_);                                       \
            int64_t ge_ = (g1) - gb_ < LANES ? (g1) : gb_ + LANES;                      \
            for (int64_t g = gb_; g < ge_; g++) {                                       \
                const uint32_t *r = blk_[g - gb_];                                      \
                __VA_ARGS__;                                                            \
            }                                                                           \
        }                                                                               \
    } while (0)

/* Uniform [0, 1) in float precision; float16 / bfloat16 take 10 / 7 bits
 * of each output as TF's Uint16ToHalf / Uint16ToGfloat16. */
static void gen_uniform_f32(const random_attrs *a, const affine *t, float *p, int64_t n, int64_t g0,
                            int64_t g1) {
    uint32_t mask = a->dtype == CT_FLOAT16 ? 0x3ffu : a->dtype == CT_BFLOAT16 ? 0x7fu : 0;
    float scale = a->dtype == CT_FLOAT16 ? 1.0f / 1024 : 1.0f / 128;
    FOR_GROUPS(g0, g1, 1, {
        for (int j = 0; j < 4 && g * 4 + j < n; j++)
            p[g * 4 + j] = affine32(t, mask ? (float)(r[j] & mask) * scale : u32_to_float(r[j]));
    });
}

static void gen_uniform_f64(const random_attrs *a, const affine *t, double *p, int64_t n, int64_t g0,
                            int64_t g1) {
    FOR_GROUPS(g0, g1, 1, {
        p[g * 2] = affine64(t, u64_to_double(r[0], r[1]));
        if (g * 2 + 1 < n) p[g * 2 + 1] = affine64(t, u64_to_double(r[2], r[3]));
    });
}

static void gen_uniform_i32(const random_attrs *a, const affine *t, int32_t *p, int64_t n, int64_t g0,
                            int64_t g1) {
    (void)t;
    int32_t lo = (int32_t)a->lo;
    uint32_t range = (uint32_t)(int32_t)a->hi - (uint32_t)lo;
    FOR_GROUPS(g0, g1, 1, {
        for (int j = 0; j < 4 && g * 4 + j < n; j++)
            p[g * 4 + j] = (int32_t)((uint32_t)lo + r[j] % range);
    });
}

static void gen_uniform_i64(const random_attrs *a, const affine *t, int64_t *p, int64_t n, int64_t g0,
                            int64_t g1) {
    (void)t;
    int64_t lo = (int64_t)a->lo;
    uint64_t range = (uint64_t)(int64_t)a->hi - (uint64_t)lo;
    FOR_GROUPS(g0, g1, 1, {
        for (int j = 0; j < 2 && g * 2 + j < n; j++) {
            uint64_t bits = r[2 * j] | (uint64_t)r[2 * j + 1] << 32;
            p[g * 2 + j] = (int64_t)((uint64_t)lo + bits % range);
        }
    });
}

static void gen_normal_f32(const random_attrs *a, const affine *t, float *p, int64_t n, int64_t g0,
                           int64_t g1) {
    FOR_GROUPS(g0, g1, 1, {
        float f[4];
        box_muller_float(r[0], r[1], &f[0], &f[1]);
        box_muller_float(r[2], r[3], &f[2], &f[3]);
        for (int j = 0; j < 4 && g * 4 + j < n; j++) p[g * 4 + j] = affine32(t, f[j]);
    });
}

static void gen_normal_f64(const random_attrs *a, const affine *t, double *p, int64_t n, int64_t g0,
                           int64_t g1) {
    FOR_GROUPS(g0, g1, 1, {
        double d[2];
        box_muller_double(r[0], r[1], r[2], r[3], &d[0], &d[1]);
        p[g * 2] = affine64(t, d[0]);
        if (g * 2 + 1 < n) p[g * 2 + 1] = affine64(t, d[1]);
    });
}

/* Each group of 4 starts 256 blocks after the previous one and draws pairs
 * until four values fall inside (-2, 2). */
static void gen_truncated_f32(const random_attrs *a, const affine *t, float *p, int64_t n, int64_t g0,
                              int64_t g1) {
    FOR_GROUPS(g0, g1, 256, {
        single_sampler s;
        single_init(&s, a, (uint64_t)g * 256, r);
        int k = 0, want = n - g * 4 < 4 ? (int)(n - g * 4) : 4;
        while (k < want) {
            uint32_t x0 = single_next(&s), x1 = single_next(&s);
            float f[2];
            box_muller_float(x0, x1, &f[0], &f[1]);
            for (int j = 0; j < 2 && k < want; j++)
                if (fabsf(f[j]) < 2.0f) p[g * 4 + k++] = affine32(t, f[j]);
        }
    });
}

static void gen_truncated_f64(const random_attrs *a, const affine *t, double *p, int64_t n, int64_t g0,
                              int64_t g1) {
    FOR_GROUPS(g0, g1, 128, {
        single_sampler s;
        single_init(&s, a, (uint64_t)g * 128, r);
        int k = 0, want = n - g * 2 < 2 ? (int)(n - g * 2) : 2;
        while (k < want) {
            uint32_t x0 = single_next(&s), x1 = single_next(&s);
            uint32_t x2 = single_next(&s), x3 = single_next(&s);
            double d[2];
            box_muller_double(x0, x1, x2, x3, &d[0], &d[1]);
            for (int j = 0; j < 2 && k < want; j++)
                if (fabs(d[j]) < 2.0) p[g * 2 + k++] = affine64(t, d[j]);
        }
    });
}

/* ---- the op --------------------------------------------------------------------- */

static ct_status check_random(const char *api, const random_attrs *a, int64_t *n) {
    ct_dtype dt = a->dtype;
    if ((unsigned)dt >= CT_NUM_DTYPES)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: invalid dtype %d", api, (int)dt);
    if (a->kind == RND_UNIFORM_INT ? dt != CT_INT32 && dt != CT_INT64 : !ct_dtype_is_float(dt))
        return ct__error(CT_ERR_INVALID_ARGUMENT,
                         "%s: dtype %s is not supported (expected %s)", api, ct_dtype_name(dt),
                         a->kind == RND_NORMAL || a->kind == RND_TRUNCATED
                             ? "float16, bfloat16, float32 or float64"
                             : "float16, bfloat16, float32, float64, int32 or int64");
    if (a->rank < 0 || a->rank > CT_MAX_RANK)
        return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: rank %d is outside [0, %d]", api, a->rank,
                         CT_MAX_RANK);
    int64_t size = 1;
    for (int i = 0; i < a->rank; i++) {
        if (a->shape[i] < 0)
            return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: negative dimension in shape %s", api,
                             CT__SHAPE(a->rank, a->shape));
        if (a->shape[i] && size > INT64_MAX / 256 / a->shape[i])
            return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: shape %s has too many elements", api,
                             CT__SHAPE(a->rank, a->shape));
        size *= a->shape[i];
    }
    if (a->kind == RND_UNIFORM_INT && size > 0) {
        /* As TF's RandomUniformInt: an empty output needs no valid range. */
        double lim = dt == CT_INT32 ? 2147483648.0 : 9223372036854775808.0;
        if (!(a->lo >= -lim && a->lo < lim && a->hi >= -lim && a->hi < lim))
            return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: minval %.17g or maxval %.17g is "
                             "outside the range of %s", api, a->lo, a->hi, ct_dtype_name(dt));
        if (!(trunc(a->lo) < trunc(a->hi)))
            return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: Need minval < maxval, got %.17g >= %.17g",
                             api, trunc(a->lo), trunc(a->hi));
    }
    *n = size;
    return CT_OK;
}

static ct_status infer_random(ct__call *c) {
    const random_attrs *a = c->attrs;
    int64_t n;
    ct_status st = check_random(c->api, a, &n);
    if (st) return st;
    ct__spec_set(&c->spec[0], a->dtype, a->rank, a->shape);
    return CT_OK;
}

/* Runs gen over the groups of an n-element output, split across threads
 * above the grain size (the counters make the split invisible). */
#define RUN_GROUPS(GEN, PTR, N, PER_GROUP, COST)                                         \
    do {                                                                                \
        int64_t ng_ = ((N) + (PER_GROUP) - 1) / (PER_GROUP);                            \
        int nt_ = ct__threads_for((N), (COST));                                         \
        _Pragma("omp parallel for num_threads(nt_) if (nt_ > 1) schedule(static)")      \
        for (int t_ = 0; t_ < nt_; t_++)                                                \
            GEN(a, &aff, (PTR), (N), ng_ * t_ / nt_, ng_ * (t_ + 1) / nt_);               \
    } while (0)

static ct_status cpu_random(ct__call *c) {
    const random_attrs *a = c->attrs;
    ct_tensor *o = c->out[0];
    int64_t n = o->size;
    if (n == 0) return CT_OK;
    void *d = ct__data(o);
    ct_dtype dt = a->dtype;
    affine aff = {0};

    if (a->kind == RND_UNIFORM_INT) {
        if (dt == CT_INT32) RUN_GROUPS(gen_uniform_i32, (int32_t *)d, n, 4, 3);
        else RUN_GROUPS(gen_uniform_i64, (int64_t *)d, n, 2, 3);
        return CT_OK;
    }

    /* TF's Python wrappers scale in the dtype: uniform u * (hi - lo) + lo
     * (the stateful one: u * hi when lo is 0, nothing for [0, 1); the
     * stateless one always both, which for [0, 1) changes nothing);
     * normals x * stddev + mean. */
    bool uni = a->kind == RND_UNIFORM;
    bool unit = uni && a->lo == 0 && a->hi == 1;
    bool lo0 = uni && a->lo == 0 && !a->stateless; /* u * hi alone */
    if (dt == CT_FLOAT64 || dt == CT_FLOAT32) {
        aff.mul_on = !unit;
        aff.add_on = !unit && !lo0;
        float lo = (float)a->lo, hi = (float)a->hi;
        aff.mul32 = uni ? (lo0 ? hi : hi - lo) : (float)a->stddev;
        aff.add32 = uni ? lo : (float)a->mean;
        aff.mul64 = uni ? (lo0 ? a->hi : a->hi - a->lo) : a->stddev;
        aff.add64 = uni ? a->lo : a->mean;
    }
    if (dt == CT_FLOAT64) {
        double *p = d;
        if (uni) RUN_GROUPS(gen_uniform_f64, p, n, 2, 3);
        else if (a->kind == RND_NORMAL) RUN_GROUPS(gen_normal_f64, p, n, 2, 40);
        else RUN_GROUPS(gen_truncated_f64, p, n, 2, 60);
        return CT_OK;
    }

    float *p = dt == CT_FLOAT32 ? d : malloc((size_t)n * sizeof *p);
    if (!p)
        return ct__call_error(c, CT_ERR_OUT_OF_MEMORY, "no host memory for %" PRId64 " floats", n);
    if (uni) RUN_GROUPS(gen_uniform_f32, p, n, 4, 2);
    else if (a->kind == RND_NORMAL) RUN_GROUPS(gen_normal_f32, p, n, 4, 20);
    else RUN_GROUPS(gen_truncated_f32, p, n, 4, 30);
    if (dt == CT_FLOAT32) return CT_OK;

    /* float16 / bfloat16: the sample is rounded to the dtype, and every
     * arithmetic step after it rounds again (Eigen's half arithmetic). */
    bool h = dt == CT_FLOAT16;
    uint16_t *q = d;
#define R16(x) (h ? ct_f16_to_f32(ct_f32_to_f16(x)) : ct_bf16_to_f32(ct_f32_to_bf16(x)))
    float lo = R16((float)a->lo), hi = R16((float)a->hi);
    float mul = uni ? (lo0 ? hi : R16(hi - lo)) : R16((float)a->stddev);
    float add = uni ? lo : R16((float)a->mean);
    bool add_on = !lo0;
    for (int64_t i = 0; i < n; i++) {
        float v = R16(p[i]);
        if (!unit) {
            v = R16(v * mul);
            if (add_on) v = R16(v + add);
        }
        q[i] = h ? ct_f32_to_f16(v) : ct_f32_to_bf16(v);
    }
#undef R16
    free(p);
    return CT_OK;
}

/* Random ops take no inputs, so tapes never record them. */
#define RANDOM_OP(NAME)                                                                 \
    {.name = NAME, .infer = infer_random, .kernel = {[CT_DEVICE_CPU] = cpu_random},     \
     .flags = CT__OP_NOT_DIFFERENTIABLE | CT__OP_NATIVE_HALF}
const ct__op ct__op_random[RND_KINDS] = {
    [RND_UNIFORM] = RANDOM_OP("RandomUniform"),
    [RND_UNIFORM_INT] = RANDOM_OP("RandomUniformInt"),
    [RND_NORMAL] = RANDOM_OP("RandomStandardNormal"),
    [RND_TRUNCATED] = RANDOM_OP("TruncatedNormal"),
};
const ct__op ct__op_stateless_random[RND_KINDS] = {
    [RND_UNIFORM] = RANDOM_OP("StatelessRandomUniformV2"),
    [RND_UNIFORM_INT] = RANDOM_OP("StatelessRandomUniformIntV2"),
    [RND_NORMAL] = RANDOM_OP("StatelessRandomNormalV2"),
    [RND_TRUNCATED] = RANDOM_OP("StatelessTruncatedNormalV2"),
};

/* ---- stream positions of seeded kernels ---------------------------------------- */

/* One entry per (seed, seed2, op, dtype) that an op seed named: where its
 * stream continues. `call` is the last call count ct__random_seeds gave the
 * pair; a count that does not grow means the seeds were reset. */
typedef struct {
    uint64_t seed, seed2, call, next;
    int kind;
    ct_dtype dtype;
} stream_pos;

static pthread_mutex_t streams_mu = PTHREAD_MUTEX_INITIALIZER;
static stream_pos *streams;
static size_t n_streams, cap_streams;

/* The 128-bit sample offset at which this call starts, reserving 256 per
 * output for the next call of the same kernel (TF's ReserveRandomOutputs). */
static uint64_t stream_offset(int64_t op_seed, uint64_t seed, uint64_t seed2, uint64_t call,
                              int kind, ct_dtype dt, int64_t n) {
    uint64_t off = 0;
    pthread_mutex_lock(&streams_mu);
    stream_pos *mine = NULL;
    for (size_t i = 0; i < n_streams; i++) {
        stream_pos *s = &streams[i];
        if (s->seed != seed || s->seed2 != seed2) continue;
        if (call <= s->call) s->next = 0; /* restarted since this entry's last call */
        s->call = call;
        if (s->kind == kind && s->dtype == dt) mine = s;
    }
    if (!mine && (op_seed != 0 || call > 0)) {
        if (n_streams == cap_streams) {
            size_t cap = cap_streams ? cap_streams * 2 : 16;
            stream_pos *p = realloc(streams, cap * sizeof *p);
            if (p) {
                streams = p;
                cap_streams = cap;
            }
        }
        if (n_streams < cap_streams) {
            mine = &streams[n_streams++];
            *mine = (stream_pos){.seed = seed, .seed2 = seed2, .call = call, .kind = kind,
                                 .dtype = dt};
        }
    }
    if (mine) {
        off = mine->next;
        mine->next += (uint64_t)n * 256;
    }
    pthread_mutex_unlock(&streams_mu);
    return off;
}

/* The attributes of a call from the public arguments (key and counter
 * left zero), checked; false with the error set. */
static bool make_attrs(const char *api, int kind, int rank, const int64_t *shape,
                       const ct_random_opts *opts, bool stateless, random_attrs *a, int64_t *n) {
    ct_random_opts o = opts ? *opts : (ct_random_opts){0};
    *a = (random_attrs){.kind = kind, .dtype = o.dtype, .rank = rank, .mean = o.mean,
                        .stddev = o.stddev != 0 ? o.stddev : 1.0, .stateless = stateless};
    if (kind == RND_UNIFORM && ct_dtype_is_integer(o.dtype)) a->kind = kind = RND_UNIFORM_INT;
    if (kind == RND_UNIFORM) {
        bool unit = o.minval == 0 && o.maxval == 0;
        a->lo = o.minval;
        a->hi = unit ? 1.0 : o.maxval;
    } else if (kind == RND_UNIFORM_INT) {
        a->lo = trunc(o.minval);
        a->hi = trunc(o.maxval);
    }
    if (rank > 0 && !shape) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: rank %d with a NULL shape", api, rank);
        return false;
    }
    if (rank > 0 && rank <= CT_MAX_RANK) memcpy(a->shape, shape, (size_t)rank * sizeof *shape);
    return check_random(api, a, n) == CT_OK;
}

static ct_tensor *run_random(const ct__op *ops, const char *api, const random_attrs *a) {
    ct_tensor *out;
    return ct__run(&ops[a->kind], api, 0, NULL, a, sizeof *a, 1, &out, NULL) ? NULL : out;
}

static ct_tensor *random_op(const char *api, int kind, int rank, const int64_t *shape,
                            const ct_random_opts *opts) {
    random_attrs a;
    int64_t n;
    if (!make_attrs(api, kind, rank, shape, opts, false, &a, &n)) return NULL;

    uint64_t seed, seed2, call;
    ct__random_seeds(opts ? opts->seed : 0, &seed, &seed2, &call);
    uint64_t off = stream_offset(opts ? opts->seed : 0, seed, seed2, call, a.kind, a.dtype, n);
    a.key[0] = (uint32_t)seed;
    a.key[1] = (uint32_t)(seed >> 32);
    a.ctr[2] = (uint32_t)seed2;
    a.ctr[3] = (uint32_t)(seed2 >> 32);
    ctr_skip(a.ctr, off);
    return run_random(ct__op_random, api, &a);
}

ct_tensor *ct_random_uniform(int rank, const int64_t *shape, const ct_random_opts *opts) {
    return random_op("ct_random_uniform", RND_UNIFORM, rank, shape, opts);
}
ct_tensor *ct_random_normal(int rank, const int64_t *shape, const ct_random_opts *opts) {
    return random_op("ct_random_normal", RND_NORMAL, rank, shape, opts);
}
ct_tensor *ct_truncated_normal(int rank, const int64_t *shape, const ct_random_opts *opts) {
    return random_op("ct_truncated_normal", RND_TRUNCATED, rank, shape, opts);
}

/* ---- the stateless ops ------------------------------------------------------------ */

/* TF's GenerateKey: the seed pair (an int32 pair widened with its sign, or
 * an int64 pair) as a counter under a fixed key; the block's first two
 * words are the key, the last two the counter's high words. */
static void stateless_key(const int64_t seed[2], uint32_t key[2], uint32_t ctr[4]) {
    uint64_t s0 = (uint64_t)seed[0], s1 = (uint64_t)seed[1];
    const uint32_t k[2] = {0x3ec8f720u, 0x02461e29u};
    const uint32_t c[4] = {(uint32_t)s0, (uint32_t)(s0 >> 32), (uint32_t)s1, (uint32_t)(s1 >> 32)};
    uint32_t mix[4];
    ct__philox(k, c, mix);
    key[0] = mix[0];
    key[1] = mix[1];
    ctr[0] = ctr[1] = 0;
    ctr[2] = mix[2];
    ctr[3] = mix[3];
}

static ct_tensor *stateless_op(const char *api, int kind, int rank, const int64_t *shape,
                               const int64_t seed[2], const ct_random_opts *opts) {
    if (!seed) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: the seed pair is NULL (a shape [2] seed is "
                  "required)", api);
        return NULL;
    }
    random_attrs a;
    int64_t n;
    if (!make_attrs(api, kind, rank, shape, opts, true, &a, &n)) return NULL;
    stateless_key(seed, a.key, a.ctr);
    return run_random(ct__op_stateless_random, api, &a);
}

ct_tensor *ct_stateless_random_uniform(int rank, const int64_t *shape, const int64_t seed[2],
                                       const ct_random_opts *opts) {
    return stateless_op("ct_stateless_random_uniform", RND_UNIFORM, rank, shape, seed, opts);
}
ct_tensor *ct_stateless_random_normal(int rank, const int64_t *shape, const int64_t seed[2],
                                      const ct_random_opts *opts) {
    return stateless_op("ct_stateless_random_normal", RND_NORMAL, rank, shape, seed, opts);
}
ct_tensor *ct_stateless_truncated_normal(int rank, const int64_t *shape, const int64_t seed[2],
                                         const ct_random_opts *opts) {
    return stateless_op("ct_stateless_truncated_normal", RND_TRUNCATED, rank, shape, seed, opts);
}
