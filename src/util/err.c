/* err.c - PT_E* texts and the pt_err helpers. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *pt_strerror(int code)
{
    switch (code) {
    case PT_OK:
        return "success";
    case PT_ENOMEM:
        return "out of memory";
    case PT_EINVAL:
        return "invalid argument";
    case PT_EIO:
        return "input/output error";
    case PT_EOVERFLOW:
        return "value too large";
    case PT_EPARSE:
        return "malformed input";
    case PT_ENOTFOUND:
        return "not found";
    case PT_EUSAGE:
        return "usage error";
    case PT_ETOOBIG:
        return "input over a limit";
    default:
        return "unknown error";
    }
}

int pt_err_set(struct pt_err *e, int code, const char *fmt, ...)
{
    if (e == NULL)
        return code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        e->msg[0] = '\0';
    /* A longer message is cut; mark it so the cut is visible. */
    if (n >= (int)sizeof e->msg)
        memcpy(e->msg + sizeof e->msg - 4, "...", 4);
    return code;
}

void pt_err_clear(struct pt_err *e)
{
    if (e == NULL)
        return;
    memset(e, 0, sizeof *e);
}
