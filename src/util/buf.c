/* buf.c - growable byte buffer; see buf.h for the invariants. */
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/ckd.h"
#include "util/err.h"
#include "util/mem.h"

void pt_buf_init(struct pt_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void pt_buf_release(struct pt_buf *b)
{
    pt_free(b->data);
    pt_buf_init(b);
}

int pt_buf_reserve(struct pt_buf *b, size_t extra)
{
    size_t need;
    if (pt_ckd_add(&need, b->len, extra) || pt_ckd_add(&need, need, 1))
        return PT_ENOMEM;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (pt_ckd_mul(&cap, cap, 2))
            return PT_ENOMEM;
    }
    char *p = pt_realloc(b->data, cap);
    if (p == NULL)
        return PT_ENOMEM;
    b->data = p;
    b->cap = cap;
    b->data[b->len] = '\0'; /* (a fresh buffer too: data[len] is always a NUL) */
    return 0;
}

int pt_buf_add(struct pt_buf *b, const void *p, size_t n)
{
    if (pt_buf_reserve(b, n))
        return PT_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int pt_buf_adds(struct pt_buf *b, const char *s)
{
    return pt_buf_add(b, s, strlen(s));
}

int pt_buf_addc(struct pt_buf *b, char c)
{
    return pt_buf_add(b, &c, 1);
}

int pt_buf_printf(struct pt_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return PT_EINVAL;
    if (pt_buf_reserve(b, (size_t)n))
        return PT_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* Digits of v (v >= 0 as unsigned magnitude) written backwards into tmp. */
static size_t utoa_rev(char *tmp, uint64_t v)
{
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return n;
}

int pt_buf_add_i64(struct pt_buf *b, int64_t v)
{
    char tmp[24];
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t n = utoa_rev(tmp, mag);
    if (pt_buf_reserve(b, n + 1))
        return PT_ENOMEM;
    char *o = b->data + b->len;
    if (v < 0)
        *o++ = '-';
    while (n)
        *o++ = tmp[--n];
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

int pt_buf_add_money(struct pt_buf *b, int64_t minor, int scale)
{
    char tmp[24];
    uint64_t mag = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
    size_t n = utoa_rev(tmp, mag);
    while (n < (size_t)scale + 1)
        tmp[n++] = '0'; /* leading zeros so there is one integer digit */
    if (pt_buf_reserve(b, n + 2))
        return PT_ENOMEM;
    char *o = b->data + b->len;
    if (minor < 0)
        *o++ = '-';
    while (n) {
        if (n == (size_t)scale && scale > 0)
            *o++ = '.';
        *o++ = tmp[--n];
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

int pt_buf_add_json_str(struct pt_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t len0 = b->len;
    int rc = pt_buf_reserve(b, n + 2) || pt_buf_addc(b, '"');
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc = pt_buf_add(b, e, 2);
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rc = pt_buf_add(b, e, 6);
        } else {
            rc = pt_buf_addc(b, (char)c);
        }
    }
    if (rc == 0)
        rc = pt_buf_addc(b, '"');
    if (rc) { /* as every pt_buf call: unchanged on failure */
        b->len = len0;
        if (b->data)
            b->data[len0] = '\0';
        return PT_ENOMEM;
    }
    return 0;
}

int pt_buf_add_error(struct pt_buf *b, const char *code, const char *field, const char *msg)
{
    int bad = pt_buf_adds(b, "{\"error\":{\"code\":") ||
              pt_buf_add_json_str(b, code, strlen(code)) || pt_buf_adds(b, ",\"message\":") ||
              pt_buf_add_json_str(b, msg, strlen(msg)) || pt_buf_adds(b, ",\"field\":");
    if (!bad)
        bad = field && field[0] ? pt_buf_add_json_str(b, field, strlen(field))
                                : pt_buf_adds(b, "null");
    return bad || pt_buf_adds(b, "}}") ? PT_ENOMEM : 0;
}
