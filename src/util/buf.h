/*
 * buf.h - growable byte buffer (git's strbuf idea).
 *
 * Layer: util.
 * Invariants: after pt_buf_init, data is either NULL (len == cap == 0) or
 * points to cap bytes of which the first len are used; when data != NULL,
 * data[len] == '\0' (one byte is always kept spare), so data can be used as a
 * C string. The buffer owns data; pt_buf_release frees it.
 * Functions returning int give 0 or PT_ENOMEM (buffer unchanged on failure).
 * Not thread-safe; never blocks.
 */
#ifndef PT_UTIL_BUF_H
#define PT_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

struct pt_buf {
    char *data;
    size_t len;
    size_t cap;
};

void pt_buf_init(struct pt_buf *b);
void pt_buf_release(struct pt_buf *b);              /* frees data; b can be re-inited */
int pt_buf_reserve(struct pt_buf *b, size_t extra); /* room for extra more bytes */
int pt_buf_add(struct pt_buf *b, const void *p, size_t n);
int pt_buf_adds(struct pt_buf *b, const char *s);
int pt_buf_addc(struct pt_buf *b, char c);
int pt_buf_printf(struct pt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append an int64 in decimal / an amount in minor units with `scale` decimals
 * (e.g. 1250, 2 -> "12.50"; -5, 2 -> "-0.05"). */
int pt_buf_add_i64(struct pt_buf *b, int64_t v);
int pt_buf_add_money(struct pt_buf *b, int64_t minor, int scale);
/* Append s[0..n) as a JSON string: quoted, with " and \ escaped and control
 * characters as \u00XX (other bytes as they are: the caller gives UTF-8). */
int pt_buf_add_json_str(struct pt_buf *b, const char *s, size_t n);
/* The API's error body {"error":{"code","message","field"}} (field null when
 * NULL or ""), appended. */
int pt_buf_add_error(struct pt_buf *b, const char *code, const char *field, const char *msg);
static inline void pt_buf_reset(struct pt_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

#endif
