/*
 * Checks for the distributed tests, which are plain programs rather than
 * Criterion suites (see the "distribute: MPI" block of CMakeLists.txt): a
 * failed check prints where and why, then ends every rank of the job with
 * ct_dist_abort, so no rank is left waiting for one that stopped.
 */
#ifndef CT_TESTS_DIST_CHECK_H
#define CT_TESTS_DIST_CHECK_H

#include <stdio.h>
#include <string.h>

#include "ctrain/ctrain.h"

static int check_rank;       /* this process's rank, for messages */
static long checks_passed;

#define CHECK(cond, ...)                                                                 \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: rank %d: check failed: %s: ", __FILE__, __LINE__,    \
                    check_rank, #cond);                                                  \
            fprintf(stderr, __VA_ARGS__);                                                \
            fputc('\n', stderr);                                                         \
            ct_dist_abort(1);                                                            \
        }                                                                                \
        checks_passed++;                                                                 \
    } while (0)

/* expr returns CT_OK. */
#define CHECK_OK(expr)                                                                   \
    do {                                                                                 \
        ct_status s_ = (expr);                                                           \
        CHECK(s_ == CT_OK, "%s gave %s: %s", #expr, ct_status_name(s_), ct_last_error()); \
    } while (0)

/* expr returns `code`, and the error mentions `needle`. */
#define CHECK_FAILS(expr, code, needle)                                                  \
    do {                                                                                 \
        ct_clear_error();                                                                \
        ct_status s_ = (expr);                                                           \
        CHECK(s_ == (code), "%s gave %s, not %s (%s)", #expr, ct_status_name(s_),         \
              ct_status_name(code), ct_last_error());                                    \
        CHECK(strstr(ct_last_error(), (needle)) != NULL,                                 \
              "the error \"%s\" does not mention \"%s\"", ct_last_error(), (needle));    \
    } while (0)

#endif
