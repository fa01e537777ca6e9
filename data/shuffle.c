/*
 * tf.data.Dataset.shuffle, with TF's algorithm and random streams so that
 * a seeded pipeline gives TensorFlow's order:
 *
 *  - the dataset resolves (seed, seed2) once with TF's rule
 *    (random_seed.get_seed, via ct__random_seeds);
 *  - a seed generator in the dataset gives every new iterator its seeds:
 *    with reshuffle_each_iteration (the default) two draws of a Philox
 *    stream keyed by (seed, seed2) (TF's RandomSeedGenerator), so each
 *    iterator, and each epoch under repeat, shuffles differently; without
 *    it the same (seed, seed2) every time (FixedSeedGenerator);
 *  - the iterator fills a buffer of buffer_size elements, then outputs the
 *    element at a uniformly random offset (a 32-bit Philox draw modulo the
 *    count) from the buffer's start, moves the start element into the
 *    hole and refills from the input (ShuffleDatasetBase::Iterator).
 *
 * A draw is Philox4x32-10 keyed by the seed's two 32-bit halves with the
 * second seed in the counter's high words; draws are used one 32-bit word
 * at a time (TF's SingleSampleAdapter), so draw k is word k % 4 of block
 * k / 4 and the state to save is just the number of draws.
 *
 * Saving by replay. An iterator is one pass of its input, and what it
 * produces is decided by the input's state when the pass starts, its
 * seeds and the number of elements produced (one draw each). So the
 * iterator saves its input's state when it is made (small: nothing is
 * consumed yet), and a checkpoint holds that, the seeds and the count
 * instead of the buffer (a shuffle over a whole data set would otherwise
 * save all of it); restore restores the input to the pass's start and
 * runs the shuffle forward that many elements, discarding them, which
 * leaves the buffer and the input exactly where they were. The cost moves
 * from the save (size) to the restore (it reads up to produced +
 * buffer_size elements again). The iterator falls back to saving its
 * buffer (and its input's current state) when replay cannot be exact or
 * would cost much more than the buffer:
 *
 *  - the input cannot be saved when the pass starts (a generator);
 *  - the input is infinite (a repeat() inside the shuffle: the pass never
 *    ends, so the replay would grow without bound);
 *  - the pass has produced more than REPLAY_BUFFERS times buffer_size
 *    elements (a small buffer over a long input, or an input of unknown
 *    size that does not end): the buffer is then small beside what a
 *    replay would read, and the restore stays bounded;
 *  - a dataset inside the input has a state of its own (a cache, another
 *    shuffle's seed generator): ct_iterator_restore installs those only
 *    after the iterators are restored, and they move during the pass, so
 *    a replay would read the wrong ones;
 *  - next returned an error during the pass (a replay would fail where
 *    the original went on);
 *  - the buffer is empty (the pass is over, or buffer_size is 1): the
 *    buffer save is then as small, and needs no replay (a state saved so
 *    at the pass's start, restored, keeps the start for later saves).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/internal.h"

/* Draw k of TF's PhiloxRandom(seed, seed2) through a SingleSampleAdapter. */
static uint32_t philox_draw(uint64_t seed, uint64_t seed2, uint64_t k) {
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint64_t block = k / 4;
    /* The 128-bit counter (0, 0, seed2) plus block. */
    uint64_t lo = block, hi = seed2;
    uint32_t ctr[4] = {(uint32_t)lo, (uint32_t)(lo >> 32), (uint32_t)hi, (uint32_t)(hi >> 32)};
    uint32_t out[4];
    ct__philox(key, ctr, out);
    return out[k % 4];
}

typedef struct {
    ct_dataset base;
    ct_dataset *input;
    int64_t buffer_size;
    bool reshuffle;
    uint64_t seed, seed2;   /* resolved once, as TF's RandomSeeds */
    int64_t op_seed;        /* the seed given (0: none)           */
    pthread_mutex_t mu;     /* guards gen_samples                 */
    int64_t gen_samples;    /* draws the seed generator has made  */
} shuffle_ds;

typedef struct {
    ct__iter base;
    ct__iter *input;        /* NULL once exhausted                */
    uint64_t seed, seed2;   /* this iterator's stream             */
    int64_t samples;        /* draws made from it                 */
    ct_element **ring;      /* the buffer, a ring from head       */
    int64_t cap, head, n;
    uint64_t blk;           /* cached Philox block                */
    uint32_t blk_out[4];
    bool blk_valid;
    char *start;            /* the input's state at the pass's start
                               (NULL: no replay, the buffer is saved) */
    size_t start_len;
    int64_t start_stages;   /* stages in it (for error messages)  */
} shuffle_it;

enum { SAVE_BUFFER = 0, SAVE_REPLAY = 1 };

/* A pass saves by replay until it has produced this many buffers. */
#define REPLAY_BUFFERS 16

/* TF's SeedGenerator::GenerateSeeds. */
static void generate_seeds(shuffle_ds *d, uint64_t *s1, uint64_t *s2) {
    if (!d->reshuffle) {
        *s1 = d->seed;
        *s2 = d->seed2;
        return;
    }
    pthread_mutex_lock(&d->mu);
    *s1 = philox_draw(d->seed, d->seed2, (uint64_t)d->gen_samples);
    *s2 = philox_draw(d->seed, d->seed2, (uint64_t)d->gen_samples + 1);
    if (!ct__data_probing) d->gen_samples += 2;
    pthread_mutex_unlock(&d->mu);
}

static uint32_t next_random(shuffle_it *s) {
    uint64_t k = (uint64_t)s->samples++;
    uint64_t blk = k / 4;
    if (!s->blk_valid || s->blk != blk) {
        uint32_t key[2] = {(uint32_t)s->seed, (uint32_t)(s->seed >> 32)};
        uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), (uint32_t)s->seed2,
                           (uint32_t)(s->seed2 >> 32)};
        ct__philox(key, ctr, s->blk_out);
        s->blk = blk;
        s->blk_valid = true;
    }
    return s->blk_out[k % 4];
}

static ct_element **ring_at(shuffle_it *s, int64_t i) { return &s->ring[(s->head + i) % s->cap]; }

static bool ring_push(shuffle_it *s, ct_element *e, int64_t limit) {
    if (s->n == s->cap) {
        int64_t cap = s->cap ? s->cap * 2 : 16;
        if (cap > limit) cap = limit;
        ct_element **r = malloc((size_t)cap * sizeof *r);
        if (!r) {
            ct__error(CT_ERR_OUT_OF_MEMORY,
                      "ct_dataset_shuffle: out of host memory for a buffer of %lld elements",
                      (long long)cap);
            return false;
        }
        for (int64_t i = 0; i < s->n; i++) r[i] = *ring_at(s, i);
        free(s->ring);
        s->ring = r;
        s->cap = cap;
        s->head = 0;
    }
    *ring_at(s, s->n) = e;
    s->n++;
    return true;
}

static void ring_clear(shuffle_it *s) {
    for (int64_t i = 0; i < s->n; i++) ct_element_free(*ring_at(s, i));
    s->n = 0;
    s->head = 0;
}

static void drop_start(shuffle_it *s) {
    free(s->start);
    s->start = NULL;
    s->start_len = 0;
}

/* Whether some dataset in ds's pipeline (ds included) has a state of its
 * own (see the replay notes at the top). */
static bool has_own_state(const ct_dataset *ds) {
    if (ds->vt->save_state) return true;
    if (!ds->vt->input) return false;
    const ct_dataset *in;
    for (int i = 0; (in = ds->vt->input(ds, i)) != NULL; i++)
        if (has_own_state(in)) return true;
    return false;
}

/* Keeps the input's state at the start of the pass, when replay is
 * possible (else s->start stays NULL and saves write the buffer). A
 * failure here is not an error: the iterator saves its buffer instead. */
static void keep_start(shuffle_it *s) {
    const shuffle_ds *d = (const shuffle_ds *)s->base.ds;
    if (ct_dataset_cardinality(d->input) == CT_INFINITE_CARDINALITY || has_own_state(d->input))
        return;
    ct__state_writer w = {0};
    if (ct__iter_save(s->input, &w)) {
        free(w.buf);
        ct_clear_error(); /* e.g. a generator: not checkpointable at all */
        return;
    }
    s->start = w.buf;
    s->start_len = w.n;
    s->start_stages = w.stage;
}

static ct_status shuffle_next(ct__iter *it, ct_element **out) {
    shuffle_it *s = (shuffle_it *)it;
    const shuffle_ds *d = (const shuffle_ds *)it->ds;
    while (s->input && s->n < d->buffer_size) {
        ct_element *e;
        ct_status st = ct__iter_next(s->input, &e);
        if (st) {
            drop_start(s); /* a replay would fail here, where this pass went on */
            return st;
        }
        if (!e) {
            ct__iter_free(s->input);
            s->input = NULL;
            break;
        }
        if (!ring_push(s, e, d->buffer_size)) {
            ct_element_free(e);
            drop_start(s);
            return ct_last_status();
        }
    }
    if (s->n == 0) return CT_OK;
    int64_t off = (int64_t)(next_random(s) % (uint64_t)s->n);
    ct_element **slot = ring_at(s, off), **first = ring_at(s, 0);
    *out = *slot;
    *slot = *first;
    *first = NULL;
    s->head = (s->head + 1) % s->cap;
    s->n--;
    if (s->start && s->samples / REPLAY_BUFFERS > d->buffer_size) drop_start(s);
    return CT_OK;
}

/* The stage's arguments, its mode, seeds and draws, then either (replay)
 * the buffer's count and whether the input is alive, both checked after
 * the replay, and the input's state at the pass's start; or (buffer) the
 * buffered elements and the input's current state. */
static ct_status shuffle_save(ct__iter *it, ct__state_writer *w) {
    shuffle_it *s = (shuffle_it *)it;
    shuffle_ds *d = (shuffle_ds *)it->ds;
    /* An empty buffer (the pass is over, or buffer_size 1) saves as small
     * without a replay. */
    bool replay = s->start && s->n > 0;
    ct__sw_i64(w, d->buffer_size);
    ct__sw_i64(w, d->reshuffle);
    ct__sw_i64(w, replay ? SAVE_REPLAY : SAVE_BUFFER);
    ct__sw_i64(w, (int64_t)s->seed);
    ct__sw_i64(w, (int64_t)s->seed2);
    ct__sw_i64(w, s->samples);
    ct__sw_i64(w, s->n);
    if (replay) {
        ct__sw_i64(w, s->input != NULL);
        ct__sw_bytes(w, s->start, s->start_len);
        w->stage += s->start_stages;
        return w->st;
    }
    for (int64_t i = 0; i < s->n; i++) ct__sw_element(w, *ring_at(s, i));
    ct__sw_i64(w, s->input != NULL);
    if (s->input) ct__iter_save(s->input, w);
    return w->st;
}

/* Restores the input to the pass's start from `start` and runs the
 * shuffle forward `samples` elements; the buffer must then hold n
 * elements and the input be alive as `present` says. */
static ct_status replay(shuffle_it *s, ct__state_reader *r, char *start, size_t start_len,
                        int64_t samples, int64_t n, int64_t present) {
    ct_dataset *ds = s->base.ds;
    shuffle_ds *d = (shuffle_ds *)ds;
    if (!s->input) {
        s->input = ct__iter_make(d->input);
        if (!s->input) return r->st = ct_last_status();
    }
    ct__state_reader ir = {.buf = start, .n = start_len, .stage = r->stage};
    ct__iter_restore(s->input, &ir);
    if (!ir.st && ir.pos != ir.n) ct__sr_fail(&ir, "bytes left over after the shuffle's input");
    r->stage = ir.stage;
    if (ir.st) return r->st = ir.st;
    s->samples = 0;
    for (int64_t i = 0; i < samples; i++) {
        ct_element *e = NULL;
        ct_status st = shuffle_next(&s->base, &e);
        if (st) {
            char why[256];
            snprintf(why, sizeof why, "%s", ct_last_error());
            return r->st = ct__error(st, "ct_iterator_restore: %s (stage %lld from the end) failed "
                                         "replaying element %lld of %lld of its pass: %s",
                                     ds->vt->name, (long long)r->stage, (long long)i,
                                     (long long)samples, why);
        }
        if (!e) break;
        ct_element_free(e);
    }
    if (s->samples != samples || s->n != n || (s->input != NULL) != present)
        return r->st = ct__error(CT_ERR_INVALID_ARGUMENT,
                                 "ct_iterator_restore: the state was saved from a different "
                                 "pipeline: replaying %s (stage %lld from the end) %lld elements "
                                 "left %lld in its buffer and its input %s, the state had %lld "
                                 "and %s", ds->vt->name, (long long)r->stage,
                                 (long long)samples, (long long)s->n,
                                 s->input ? "alive" : "exhausted", (long long)n,
                                 present ? "alive" : "exhausted");
    return CT_OK;
}

static ct_status shuffle_restore(ct__iter *it, ct__state_reader *r) {
    shuffle_it *s = (shuffle_it *)it;
    shuffle_ds *d = (shuffle_ds *)it->ds;
    const char *name = it->ds->vt->name;
    if (!ct__sr_param(r, name, "buffer_size", d->buffer_size) ||
        !ct__sr_param(r, name, "reshuffle_each_iteration", d->reshuffle))
        return r->st;
    int64_t mode = ct__sr_i64(r);
    uint64_t seed = (uint64_t)ct__sr_i64(r), seed2 = (uint64_t)ct__sr_i64(r);
    int64_t samples = ct__sr_i64(r), n = ct__sr_i64(r);
    if (r->st) return r->st;
    if ((mode != SAVE_BUFFER && mode != SAVE_REPLAY) || samples < 0 || n < 0 ||
        n > d->buffer_size || (mode == SAVE_BUFFER && (uint64_t)n > r->n - r->pos))
        return ct__sr_fail(r, "shuffle's counters");
    s->seed = seed;
    s->seed2 = seed2;
    s->samples = samples;
    s->blk_valid = false;
    ring_clear(s);
    drop_start(s);
    if (mode == SAVE_REPLAY) {
        int64_t present = ct__sr_i64(r);
        if (r->st) return r->st;
        if (present != 0 && present != 1) return ct__sr_fail(r, "an input flag is not 0 or 1");
        size_t len;
        char *start = ct__sr_bytes(r, &len);
        if (!start) return r->st;
        int64_t stage0 = r->stage;
        if (replay(s, r, start, len, samples, n, present)) {
            free(start);
            return r->st;
        }
        s->start = start; /* later saves of this pass replay too */
        s->start_len = len;
        s->start_stages = r->stage - stage0;
        return CT_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        ct_element *e = ct__sr_element(r);
        if (!e) return r->st ? r->st : ct__sr_fail(r, "a buffered element is missing");
        if (!ring_push(s, e, d->buffer_size)) {
            ct_element_free(e);
            return r->st = ct_last_status();
        }
    }
    int64_t present = ct__sr_i64(r);
    if (r->st) return r->st;
    if (present != 0 && present != 1) return ct__sr_fail(r, "an input flag is not 0 or 1");
    if (!present) {
        ct__iter_free(s->input);
        s->input = NULL;
        return CT_OK;
    }
    if (ct__iter_restore(s->input, r)) return r->st;
    if (samples == 0) keep_start(s); /* the input is at the pass's start */
    return CT_OK;
}

/* The seed generator: the dataset's seeds and the draws made so far. A
 * pipeline restored in a new process takes the saved seeds, unless both
 * were given an explicit seed and they differ (a different pipeline):
 * seeds drawn at random, or derived from the global seed and an op
 * counter, may come out otherwise in the new process. */
static ct_status shuffle_save_state(ct_dataset *ds, ct__state_writer *w) {
    shuffle_ds *d = (shuffle_ds *)ds;
    pthread_mutex_lock(&d->mu);
    int64_t gen = d->gen_samples;
    pthread_mutex_unlock(&d->mu);
    ct__sw_i64(w, d->op_seed);
    ct__sw_i64(w, (int64_t)d->seed);
    ct__sw_i64(w, (int64_t)d->seed2);
    ct__sw_i64(w, gen);
    return w->st;
}

static ct_status shuffle_restore_state(ct_dataset *ds, ct__state_reader *r, bool apply) {
    shuffle_ds *d = (shuffle_ds *)ds;
    int64_t op_seed = ct__sr_i64(r);
    uint64_t seed = (uint64_t)ct__sr_i64(r), seed2 = (uint64_t)ct__sr_i64(r);
    int64_t gen = ct__sr_i64(r);
    if (r->st) return r->st;
    if (op_seed && d->op_seed && op_seed != d->op_seed)
        return r->st = ct__error(CT_ERR_INVALID_ARGUMENT,
                                 "ct_iterator_restore: the state was saved from a different "
                                 "pipeline: its %s (stage %lld from the end) has seed %lld, this "
                                 "pipeline's has %lld", ds->vt->name, (long long)r->stage,
                                 (long long)op_seed, (long long)d->op_seed);
    if (gen < 0) return ct__sr_fail(r, "shuffle's seed generator");
    if (!apply) return CT_OK;
    pthread_mutex_lock(&d->mu);
    d->seed = seed;
    d->seed2 = seed2;
    d->gen_samples = gen;
    pthread_mutex_unlock(&d->mu);
    return CT_OK;
}

static void shuffle_it_free(ct__iter *it) {
    shuffle_it *s = (shuffle_it *)it;
    ct__iter_free(s->input);
    ring_clear(s);
    free(s->ring);
    free(s->start);
    free(s);
}

static const ct__iter_vt shuffle_it_vt = {shuffle_next, shuffle_save, shuffle_restore,
                                          shuffle_it_free};

static ct__iter *shuffle_iterator(ct_dataset *ds) {
    shuffle_ds *d = (shuffle_ds *)ds;
    shuffle_it *s = ct__iter_alloc(sizeof *s, &shuffle_it_vt, ds);
    if (!s) return NULL;
    s->input = ct__iter_make(d->input);
    if (!s->input) {
        free(s);
        return NULL;
    }
    generate_seeds(d, &s->seed, &s->seed2);
    keep_start(s);
    return &s->base;
}

static int64_t shuffle_card(const ct_dataset *ds) {
    return ct_dataset_cardinality(((const shuffle_ds *)ds)->input);
}

static void shuffle_destroy(ct_dataset *ds) {
    shuffle_ds *d = (shuffle_ds *)ds;
    ct_dataset_free(d->input);
    pthread_mutex_destroy(&d->mu);
}

static ct_dataset *shuffle_remake(ct_dataset *ds, ct__remake_fn f, void *ctx);
static const ct__dataset_vt shuffle_vt = {"ShuffleDatasetV3", shuffle_iterator, shuffle_card,
                                          shuffle_destroy, shuffle_remake,
                                          .input = ct__dataset_first_input,
                                          .save_state = shuffle_save_state,
                                          .restore_state = shuffle_restore_state};

/* The same shuffle (buffer, seeds resolved at creation) over f(input). */
static ct_dataset *shuffle_remake(ct_dataset *ds, ct__remake_fn f, void *ctx) {
    shuffle_ds *d = (shuffle_ds *)ds;
    ct_dataset *input = f(d->input, ctx);
    if (!input) return NULL;
    shuffle_ds *r = ct__dataset_alloc(sizeof *r, &shuffle_vt, &ds->spec);
    if (!r) {
        ct_dataset_free(input);
        return NULL;
    }
    r->input = input;
    r->buffer_size = d->buffer_size;
    r->reshuffle = d->reshuffle;
    r->seed = d->seed;
    r->seed2 = d->seed2;
    r->op_seed = d->op_seed;
    pthread_mutex_init(&r->mu, NULL);
    r->base.opts = ds->opts;
    return &r->base;
}

ct_dataset *ct_dataset_shuffle(ct_dataset *ds, int64_t buffer_size, const ct_shuffle_opts *opts) {
    if (ct__dataset_null(ds, "ct_dataset_shuffle")) return NULL;
    if (buffer_size <= 0) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_dataset_shuffle: buffer_size must be greater than zero (got %lld).",
                  (long long)buffer_size);
        ct_dataset_free(ds);
        return NULL;
    }
    shuffle_ds *d = ct__dataset_alloc(sizeof *d, &shuffle_vt, &ds->spec);
    if (!d) {
        ct_dataset_free(ds);
        return NULL;
    }
    d->input = ds;
    d->buffer_size = buffer_size;
    d->reshuffle = !(opts && opts->no_reshuffle_each_iteration);
    uint64_t call;
    d->op_seed = opts ? opts->seed : 0;
    ct__random_seeds(d->op_seed, &d->seed, &d->seed2, &call);
    pthread_mutex_init(&d->mu, NULL);
    d->base.opts = ds->opts;
    return &d->base;
}
