/*
 * The single-process collective: a group of one, where a reduction or a
 * broadcast leaves the data as it is and a gather or scatter is a copy.
 * Operations complete when they start; there is nothing to wait for and
 * no arrival board (a group of one cannot miss anyone).
 */
#include <string.h>

#include "distribute/internal.h"
#include "runtime/internal.h"

static ct_status local_init(ct_collective *c) { return CT_OK; }

static void local_destroy(ct_collective *c, bool clean) {}

static ct_status local_start(ct_collective *c, const ct__coll_args *a, void **req) {
    size_t bytes = (size_t)a->n * ct_dtype_size(a->dtype);
    switch (a->kind) {
    case CT__ALL_GATHER:
    case CT__REDUCE_SCATTER:
        /* send is NULL for an all-gather in place (nothing to copy). */
        if (a->send && bytes) memcpy(a->recv, a->send, bytes);
        break;
    case CT__ALL_REDUCE:
    case CT__BROADCAST:
    case CT__BARRIER: break;
    }
    *req = NULL;
    return CT_OK;
}

static ct_status local_test(ct_collective *c, void *req, bool *done) {
    *done = true;
    return CT_OK;
}

static void local_release(ct_collective *c, void *req) {}

const ct__collective_vtable ct__collective_local = {
    .name = "local",
    .init = local_init,
    .destroy = local_destroy,
    .start = local_start,
    .test = local_test,
    .release = local_release,
    .arrivals = NULL,
};
