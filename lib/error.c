/* Status strings and the per-thread last-error message. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The only state the library keeps outside handles: one message per thread,
 * written only when a call fails. */
static _Thread_local char last_error[512];

const char *sm_strerror(sm_status status)
{
    switch (status) {
    case SM_OK: return "success";
    case SM_ERR_INVALID_ARG: return "invalid argument";
    case SM_ERR_NOMEM: return "out of memory";
    case SM_ERR_OVERFLOW: return "size overflow";
    case SM_ERR_SHAPE: return "dimension mismatch";
    case SM_ERR_NONFINITE: return "non-finite value";
    case SM_ERR_IO: return "input/output error";
    case SM_ERR_PARSE: return "parse error";
    case SM_ERR_FORMAT: return "malformed or corrupted data";
    case SM_ERR_VERSION: return "unsupported version";
    case SM_ERR_DIVERGED: return "numerical divergence";
    case SM_ERR_CANCELLED: return "cancelled by callback";
    case SM_ERR_STATE: return "invalid state";
    }
    return "unknown status";
}

const char *sm_last_error(void)
{
    return last_error;
}

void sm_clear_error(void)
{
    last_error[0] = '\0';
}

sm_status sm__error(sm_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

sm_status sm__error_wrap(sm_status status, const char *fn)
{
    char inner[sizeof last_error];
    snprintf(inner, sizeof inner, "%s", last_error);
    return sm__error(status, "%s: %s", fn, inner);
}

void *sm__calloc(size_t n, size_t size)
{
    size_t total;
    if (sm__mul_size(n, size, &total) || total == 0)
        return NULL;
    return calloc(n, size);
}

/* Called on every parameter and gradient of every training step: blocks
 * are tested with integer arithmetic that vectorizes (a float is not finite
 * when its exponent bits are all ones), and only a block that has such a
 * value is scanned one by one. */
SM_MULTIVERSION
size_t sm__first_nonfinite(const float *x, size_t n)
{
    enum { BLOCK = 256 };
    for (size_t b = 0; b < n; b += BLOCK) {
        const size_t e = n - b < BLOCK ? n - b : BLOCK;
        uint32_t any = 0;
        for (size_t i = 0; i < e; i++) {
            uint32_t u;
            memcpy(&u, x + b + i, sizeof u);
            any |= (u & 0x7f800000u) == 0x7f800000u;
        }
        if (any)
            for (size_t i = b; i < b + e; i++)
                if (!isfinite(x[i]))
                    return i;
    }
    return n;
}
