/*
 * tf.distribute strategies (include/ctrain/strategy.h): the mirrored
 * strategy over the job's processes, the one-device one, the scope stack,
 * and what fit asks of them (distribute/strategy_internal.h): sums of
 * gradients in buckets, merged metric states, agreed decisions and the
 * initial broadcast of the weights.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrain/strategy.h"
#include "distribute/strategy_internal.h"
#include "runtime/internal.h"

struct ct_strategy {
    const char *kind;       /* "MirroredStrategy", "OneDeviceStrategy" */
    ct_collective *coll;    /* NULL: one replica                     */
    int replicas, replica;
    int64_t bucket_bytes;
    /* The gradient sum's host slab and bucket handles, kept from step to
     * step (grown when a model needs more). */
    char *slab;
    size_t slab_cap;
    ct_collective_handle **handles;
    int handles_cap;
};

/* Grows *p to hold need bytes; false when out of memory. */
static bool reserve(void **p, size_t *cap, size_t need) {
    if (need <= *cap) return true;
    void *q = realloc(*p, need);
    if (!q) return false;
    *p = q;
    *cap = need;
    return true;
}

/* ---- making one ------------------------------------------------------------------------ */

ct_strategy *ct_mirrored_strategy_new(const ct_strategy_opts *opts) {
    ct_strategy_opts none = {0};
    const ct_strategy_opts *o = opts ? opts : &none;
    if (o->bucket_bytes < 0) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_mirrored_strategy_new: bucket_bytes must not be negative, got %lld",
                  (long long)o->bucket_bytes);
        return NULL;
    }
    ct_process_group *pg = ct_dist_world();
    if (!pg) return NULL;
    ct_strategy *s = calloc(1, sizeof *s);
    if (!s) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_mirrored_strategy_new: out of memory");
        return NULL;
    }
    s->kind = "MirroredStrategy";
    s->replicas = ct_process_group_size(pg);
    s->replica = ct_process_group_rank(pg);
    s->bucket_bytes = o->bucket_bytes ? o->bucket_bytes : 25 << 20;
    s->coll = ct_collective_new(pg, &(ct_collective_opts){.impl = o->impl, .name = "strategy"});
    if (!s->coll) {
        free(s);
        return NULL;
    }
    return s;
}

ct_strategy *ct_one_device_strategy_new(void) {
    ct_strategy *s = calloc(1, sizeof *s);
    if (!s) {
        ct__error(CT_ERR_OUT_OF_MEMORY, "ct_one_device_strategy_new: out of memory");
        return NULL;
    }
    s->kind = "OneDeviceStrategy";
    s->replicas = 1;
    s->bucket_bytes = 25 << 20;
    return s;
}

void ct_strategy_free(ct_strategy *s) {
    if (!s) return;
    ct_collective_free(s->coll);
    free(s->slab);
    free(s->handles);
    free(s);
}

int ct_strategy_num_replicas_in_sync(const ct_strategy *s) { return s ? s->replicas : 1; }
int ct_strategy_replica_id(const ct_strategy *s) { return s ? s->replica : 0; }
ct_collective *ct_strategy_collective(ct_strategy *s) { return s ? s->coll : NULL; }

/* ---- scopes ------------------------------------------------------------------------------ */

enum { MAX_SCOPES = 16 };
static _Thread_local ct_strategy *scopes[MAX_SCOPES];
static _Thread_local int nscopes, overflow;

void ct_strategy_scope_begin(ct_strategy *s) {
    if (nscopes < MAX_SCOPES) scopes[nscopes++] = s;
    else overflow++;
}

void ct_strategy_scope_end(void) {
    if (overflow) overflow--;
    else if (nscopes) nscopes--;
}

ct_strategy *ct_current_strategy(void) { return nscopes ? scopes[nscopes - 1] : NULL; }

ct_status ct_strategy_run(ct_strategy *s, ct_status (*fn)(void *ctx), void *ctx) {
    if (!fn) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_strategy_run: the function is NULL");
    ct_strategy_scope_begin(s);
    ct_status st = fn(ctx);
    ct_strategy_scope_end();
    return st;
}

ct_tensor *ct_strategy_reduce(ct_strategy *s, ct_reduce_op op, const ct_tensor *value) {
    if (!value) return NULL;
    if (!s || !s->coll) return ct_identity((ct_tensor *)value);
    return ct_all_reduce(s->coll, value, op);
}

/* ---- for fit ------------------------------------------------------------------------------ */

int ct__strategy_replicas(const ct_strategy *s) { return s && s->coll ? s->replicas : 1; }
int ct__strategy_rank(const ct_strategy *s) { return s && s->coll ? s->replica : 0; }

ct_status ct__strategy_sum(ct_strategy *s, int n, ct_tensor **ts) {
    if (!s || !s->coll || s->replicas == 1 || n == 0) return CT_OK;
    /* One host slab per dtype, in the order given; each slab goes in
     * buckets of about bucket_bytes, all started before any is waited. */
    ct_status st = CT_OK;
    for (int first = 0; !st && first < n; first++) {
        ct_dtype dt = ct_tensor_dtype(ts[first]);
        bool seen = false;
        for (int j = 0; j < first; j++) seen = seen || ct_tensor_dtype(ts[j]) == dt;
        if (seen) continue;
        int64_t total = 0;
        for (int i = first; i < n; i++)
            if (ct_tensor_dtype(ts[i]) == dt) total += ct_tensor_size(ts[i]);
        size_t esz = ct_dtype_size(dt);
        if (!reserve((void **)&s->slab, &s->slab_cap, (size_t)(total ? total : 1) * esz))
            return ct__error(CT_ERR_OUT_OF_MEMORY, "gradient all-reduce: out of memory");
        char *slab = s->slab;
        int64_t off = 0;
        for (int i = first; !st && i < n; i++) {
            if (ct_tensor_dtype(ts[i]) != dt) continue;
            int64_t k = ct_tensor_size(ts[i]);
            st = ct_tensor_read(ts[i], dt, slab + off * (int64_t)esz, k);
            off += k;
        }
        int64_t per = s->bucket_bytes / (int64_t)esz;
        if (per < 1) per = 1;
        int nb = (int)((total + per - 1) / per);
        size_t hcap = (size_t)s->handles_cap * sizeof *s->handles;
        if (!reserve((void **)&s->handles, &hcap, (size_t)(nb ? nb : 1) * sizeof *s->handles))
            st = ct__error(CT_ERR_OUT_OF_MEMORY, "gradient all-reduce: out of memory");
        s->handles_cap = (int)(hcap / sizeof *s->handles);
        ct_collective_handle **h = s->handles;
        int started = 0;
        for (int b = 0; !st && b < nb; b++, started++) {
            int64_t lo = (int64_t)b * per, len = total - lo < per ? total - lo : per;
            st = ct_all_reduce_buffer_start(s->coll, slab + lo * (int64_t)esz, len, dt,
                                            CT_REDUCE_SUM, &h[b]);
        }
        for (int b = 0; b < started; b++) {
            ct_status w = ct_collective_wait(h[b], NULL);
            if (!st) st = w;
        }
        off = 0;
        for (int i = first; !st && i < n; i++) {
            if (ct_tensor_dtype(ts[i]) != dt) continue;
            ct_tensor *r = ct_constant(slab + off * (int64_t)esz, dt, ct_tensor_rank(ts[i]),
                                       ct_tensor_shape(ts[i]));
            if (!r) st = ct_last_status();
            else ts[i] = r;
            off += ct_tensor_size(ts[i]);
        }
    }
    return st;
}

ct_status ct__strategy_sum_doubles(ct_strategy *s, double *v, int64_t n) {
    if (!s || !s->coll || s->replicas == 1 || n == 0) return CT_OK;
    return ct_all_reduce_buffer(s->coll, v, n, CT_FLOAT64, CT_REDUCE_SUM);
}

ct_status ct__strategy_any(ct_strategy *s, bool *flag) {
    if (!s || !s->coll || s->replicas == 1) return CT_OK;
    int32_t v = *flag;
    ct_status st = ct_all_reduce_buffer(s->coll, &v, 1, CT_INT32, CT_REDUCE_MAX);
    if (!st) *flag = v != 0;
    return st;
}

/* FNV-1a over bytes, continued from h. */
static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

ct_status ct__strategy_sync_variables(ct_strategy *s, int n, ct_variable *const *vars) {
    if (!s || !s->coll || s->replicas == 1 || n == 0) return CT_OK;
    ct_status st = CT_OK;
    uint64_t sum = 14695981039346656037ull;
    for (int i = 0; !st && i < n; i++) {
        ct_tensor *v = ct_variable_value(vars[i]);
        ct_dtype dt = ct_tensor_dtype(v);
        int64_t k = ct_tensor_size(v);
        size_t bytes = (size_t)(k ? k : 1) * ct_dtype_size(dt);
        void *buf = malloc(bytes);
        if (!buf) return ct__error(CT_ERR_OUT_OF_MEMORY, "broadcasting the weights: out of memory");
        st = ct_tensor_read(v, dt, buf, k);
        if (!st) st = ct_broadcast_buffer(s->coll, buf, k, dt, 0);
        if (!st) {
            ct_scope_begin();
            ct_tensor *t = ct_constant(buf, dt, ct_tensor_rank(v), ct_tensor_shape(v));
            st = t ? ct_variable_assign(vars[i], t) : ct_last_status();
            ct_scope_end();
        }
        /* The checksum of what the variable holds now. */
        if (!st) st = ct_tensor_read(ct_variable_value(vars[i]), dt, buf, k);
        if (!st) sum = fnv(sum, buf, (size_t)k * ct_dtype_size(dt));
        free(buf);
    }
    if (st) return st;
    /* Every rank must now hold rank 0's bytes: compare the checksums'
     * minimum and maximum over the ranks (two 32-bit halves). */
    int64_t lo[2] = {(int64_t)(sum >> 32), (int64_t)(sum & 0xffffffffu)}, hi[2] = {lo[0], lo[1]};
    if ((st = ct_all_reduce_buffer(s->coll, lo, 2, CT_INT64, CT_REDUCE_MIN)) ||
        (st = ct_all_reduce_buffer(s->coll, hi, 2, CT_INT64, CT_REDUCE_MAX)))
        return st;
    if (lo[0] != hi[0] || lo[1] != hi[1])
        return ct__error(CT_ERR_INTERNAL,
                         "MirroredStrategy: the %d weights differ between ranks after the "
                         "broadcast from rank 0 (checksums differ)",
                         n);
    return CT_OK;
}
