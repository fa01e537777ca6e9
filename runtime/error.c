/* The thread's last error: a code and a message naming what went wrong. */
#include <stdarg.h>
#include <stdio.h>

#include "runtime/internal.h"

static CT__TLS ct_status last_code;
static _Thread_local char last_msg[1024];

ct_status ct__error(ct_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    va_end(ap);
    last_code = code;
    return code;
}

const char *ct_last_error(void) { return last_msg; }
ct_status ct_last_status(void) { return last_code; }

void ct_clear_error(void) {
    last_code = CT_OK;
    last_msg[0] = '\0';
}

const char *ct_status_name(ct_status s) {
    switch (s) {
    case CT_OK: return "CT_OK";
    case CT_ERR_INVALID_ARGUMENT: return "CT_ERR_INVALID_ARGUMENT";
    case CT_ERR_OUT_OF_MEMORY: return "CT_ERR_OUT_OF_MEMORY";
    case CT_ERR_UNIMPLEMENTED: return "CT_ERR_UNIMPLEMENTED";
    case CT_ERR_OUT_OF_RANGE: return "CT_ERR_OUT_OF_RANGE";
    case CT_ERR_NOT_FOUND: return "CT_ERR_NOT_FOUND";
    case CT_ERR_NUMERIC: return "CT_ERR_NUMERIC";
    case CT_ERR_INTERNAL: return "CT_ERR_INTERNAL";
    case CT_ERR_DEADLINE_EXCEEDED: return "CT_ERR_DEADLINE_EXCEEDED";
    default: return "CT_ERR_UNKNOWN";
    }
}
