/*
 * err.h - error codes and the caller-supplied error detail record.
 *
 * Layer: util (depends on nothing).
 *
 * Every library call returns int: 0 on success, a negative PT_E* code on
 * failure. Detail a user needs (file, line, column, field, reason) goes into an
 * optional caller-owned struct pt_err; there is no hidden thread-local state.
 */
#ifndef PT_UTIL_ERR_H
#define PT_UTIL_ERR_H

#include <stddef.h>
#include <stdint.h>

enum {
    PT_OK = 0,
    PT_ENOMEM = -1,    /* allocation failed */
    PT_EINVAL = -2,    /* bad argument or bad input value */
    PT_EIO = -3,       /* read/write failed (errno in pt_err.sys_errno) */
    PT_EOVERFLOW = -4, /* size or value does not fit */
    PT_EPARSE = -5,    /* malformed input (detail in pt_err) */
    PT_ENOTFOUND = -6, /* no such item */
    PT_EUSAGE = -7,    /* command-line usage error */
    PT_ETOOBIG = -8,   /* input over a documented limit */
};

#define PT_ERR_MSG_MAX 512

/*
 * Error detail. Filled by the function that failed; callers pass NULL when they
 * do not want detail. line/column are 1-based; 0 means "not applicable".
 */
struct pt_err {
    int code;
    int sys_errno;
    uint64_t line;
    uint64_t column;
    char msg[PT_ERR_MSG_MAX];
};

/* Static English text for a PT_E* code. Never NULL. Thread-safe. */
const char *pt_strerror(int code);

/* Set code and a printf-style message on e (e may be NULL). Returns code. */
int pt_err_set(struct pt_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clear e to "no error". e may be NULL. */
void pt_err_clear(struct pt_err *e);

#endif
