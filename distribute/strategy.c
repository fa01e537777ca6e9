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
#include "data/internal.h"
#include "distribute/strategy_internal.h"
#include "runtime/internal.h"

struct ct_strategy {
    const char *kind;       /* "MirroredStrategy", "OneDeviceStrategy" */
    ct_collective *coll;    /* NULL: one replica                     */
    int replicas, replica;
    int64_t bucket_bytes;
    bool overlap;
    ct__grad_sync *grads;   /* the gradients' sums, made at the first     */
    ct__grad_sync *sums;    /* other sums (metric states), not overlapped */
};

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
    s->overlap = !o->no_overlap;
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
    ct__grad_sync_free(s->grads); /* before the collective they use */
    ct__grad_sync_free(s->sums);
    ct_collective_free(s->coll);
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

static _Thread_local ct_strategy *replica_context;

ct_strategy *ct__strategy_replica_context(void) { return replica_context; }

ct_strategy *ct__strategy_enter_replica(ct_strategy *s) {
    ct_strategy *outer = replica_context;
    replica_context = s;
    return outer;
}

void ct__strategy_leave_replica(ct_strategy *outer) { replica_context = outer; }

ct_status ct_strategy_run(ct_strategy *s, ct_status (*fn)(void *ctx), void *ctx) {
    if (!fn) return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_strategy_run: the function is NULL");
    ct_strategy *outer = ct__strategy_enter_replica(s);
    ct_strategy_scope_begin(s);
    ct_status st = fn(ctx);
    ct_strategy_scope_end();
    ct__strategy_leave_replica(outer);
    return st;
}

ct_tensor *ct_compute_average_loss(const ct_tensor *per_example_loss,
                                   const ct_tensor *sample_weight, int64_t global_batch_size) {
    if (!per_example_loss) return NULL;
    if (global_batch_size < 0) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "ct_compute_average_loss: global_batch_size must not be negative, got %lld",
                  (long long)global_batch_size);
        return NULL;
    }
    ct_tensor *per = (ct_tensor *)per_example_loss;
    if (sample_weight && !(per = ct_multiply(per, sample_weight))) return NULL;
    if (!global_batch_size) {
        int64_t local = ct_tensor_rank(per) ? ct_tensor_dim(per, 0) : 1;
        global_batch_size = local * ct_strategy_num_replicas_in_sync(ct_current_strategy());
    }
    ct_tensor *sum = ct_reduce_sum(per, CT_ALL, false);
    if (!sum || !global_batch_size) return sum; /* no examples anywhere: 0 */
    return ct_divide(sum, ct_scalar_of(ct_tensor_dtype(sum), (double)global_batch_size));
}

/* ---- distributing a dataset ------------------------------------------------------------ */

/* The map's context is the replica and the number of replicas packed in
 * the pointer's bits, so the dataset needs nothing freed with it. */
static ct_status take_part(const ct_element *in, void *ctx, ct_element **out) {
    int64_t packed = (int64_t)(intptr_t)ctx;
    int replicas = (int)(packed & 0xffff), replica = (int)(packed >> 16);
    ct_element *e = ct__element_new(in->n);
    if (!e) return ct_last_status();
    for (int i = 0; i < in->n; i++) {
        ct_tensor *t = in->t[i];
        if (in->name[i]) e->name[i] = in->name[i];
        if (ct_tensor_rank(t) == 0) {
            e->t[i] = ct_tensor_ref(t);
            continue;
        }
        int64_t len = ct_tensor_dim(t, 0);
        int64_t begin[CT_MAX_RANK] = {0}, size[CT_MAX_RANK];
        begin[0] = len * replica / replicas;
        size[0] = len * (replica + 1) / replicas - begin[0];
        for (int d = 1; d < ct_tensor_rank(t); d++) size[d] = ct_tensor_dim(t, d);
        ct_scope_begin();
        ct_tensor *part = ct_slice(t, begin, size);
        e->t[i] = part ? ct_tensor_ref(part) : NULL;
        ct_scope_end();
        if (!e->t[i]) {
            ct_element_free(e);
            return ct_last_status();
        }
    }
    *out = e;
    return CT_OK;
}

ct_dataset *ct_strategy_distribute_dataset(ct_strategy *s, ct_dataset *ds) {
    if (!ds) return NULL;
    int R = ct__strategy_replicas(s);
    if (R == 1) return ds;
    if (R > 0xffff) {
        ct_dataset_free(ds);
        ct__error(CT_ERR_UNIMPLEMENTED, "ct_strategy_distribute_dataset: %d replicas (at most "
                                        "65535)", R);
        return NULL;
    }
    intptr_t packed = (intptr_t)(((int64_t)ct__strategy_rank(s) << 16) | R);
    return ct_dataset_map(ds, take_part, (void *)packed, 1);
}

ct_tensor *ct_strategy_reduce(ct_strategy *s, ct_reduce_op op, const ct_tensor *value) {
    if (!value) return NULL;
    if (!s || !s->coll) return ct_identity((ct_tensor *)value);
    return ct_all_reduce(s->coll, value, op);
}

/* ---- for fit ------------------------------------------------------------------------------ */

int ct__strategy_replicas(const ct_strategy *s) { return s && s->coll ? s->replicas : 1; }
int ct__strategy_rank(const ct_strategy *s) { return s && s->coll ? s->replica : 0; }

static bool summing(const ct_strategy *s) { return s && s->coll && s->replicas > 1; }

bool ct__strategy_overlap(const ct_strategy *s) { return summing(s) && s->overlap; }

ct_status ct__strategy_sum_begin(ct_strategy *s, int n, ct_tensor *const *like) {
    if (!summing(s)) return CT_OK;
    if (!s->grads && !(s->grads = ct__grad_sync_new(s->coll, s->bucket_bytes, s->overlap)))
        return ct_last_status();
    return ct__grad_sync_begin(s->grads, n, like);
}

ct_status ct__strategy_sum_ready(void *strategy, int i, const ct_tensor *grad) {
    ct_strategy *s = strategy;
    return summing(s) ? ct__grad_sync_ready(s->grads, i, grad) : CT_OK;
}

ct_status ct__strategy_sum_end(ct_strategy *s, int n, ct_tensor **sums) {
    return summing(s) ? ct__grad_sync_end(s->grads, n, sums) : CT_OK;
}

ct_status ct__strategy_sum(ct_strategy *s, int n, ct_tensor **ts) {
    if (!summing(s) || n == 0) return CT_OK;
    if (!s->sums && !(s->sums = ct__grad_sync_new(s->coll, s->bucket_bytes, false)))
        return ct_last_status();
    ct_status st = ct__grad_sync_begin(s->sums, n, ts);
    if (st) return st;
    for (int i = 0; !st && i < n; i++) st = ct__grad_sync_ready(s->sums, i, ts[i]);
    ct_status e = ct__grad_sync_end(s->sums, n, ts);
    return st ? st : e;
}

void ct_strategy_get_stats(const ct_strategy *s, ct_strategy_stats *out) {
    if (!out) return;
    *out = (ct_strategy_stats){0};
    if (s && s->grads) ct__grad_sync_stats(s->grads, out);
}

ct_status ct__strategy_sum_doubles(ct_strategy *s, double *v, int64_t n) {
    if (!s || !s->coll || s->replicas == 1 || n == 0) return CT_OK;
    return ct_all_reduce_buffer(s->coll, v, n, CT_FLOAT64, CT_REDUCE_SUM);
}

ct_status ct__strategy_max_doubles(ct_strategy *s, double *v, int64_t n) {
    if (!s || !s->coll || s->replicas == 1 || n == 0) return CT_OK;
    return ct_all_reduce_buffer(s->coll, v, n, CT_FLOAT64, CT_REDUCE_MAX);
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

