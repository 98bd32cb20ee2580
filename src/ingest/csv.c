/*
 * csv.c - the RFC 4180 splitter (see csv.h for the dialect).
 *
 * Hot path: unquoted fields are scanned with a byte-class table until the next
 * ',', '"' or '\n'; fields point straight into the input. Quoted fields are
 * scanned with memchr for the closing quote; only fields that contain ""
 * escapes are copied into scratch. The state machine has three states: at the
 * start of a field, inside an unquoted field, inside a quoted field.
 */
#include "ingest/csv.h"

#include <string.h>

/* 1 for bytes that end an unquoted scan: ',' '"' '\n'. */
static const unsigned char k_special[256] = {
    ['\n'] = 1,
    [','] = 1,
    ['"'] = 1,
};

const char *pt_csv_bad_str(enum pt_csv_bad b)
{
    switch (b) {
    case PT_CSV_GOOD:
        return "ok";
    case PT_CSV_QUOTE_IN_FIELD:
        return "quote character inside an unquoted field";
    case PT_CSV_TEXT_AFTER_QUOTE:
        return "text after the closing quote of a field";
    case PT_CSV_UNTERMINATED:
        return "unterminated quoted field";
    case PT_CSV_TOO_LONG:
        return "line too long";
    case PT_CSV_TOO_MANY_FIELDS:
        return "too many fields";
    }
    return "bad record";
}

/* Make r a one-line bad record starting at p (resynchronise at next line). */
static int bad_first_line(const char *p, const char *end, int eof, size_t max_record,
                          struct pt_csv_rec *r, enum pt_csv_bad why, size_t off)
{
    size_t avail = (size_t)(end - p);
    size_t look = max_record + 2; /* a line may have max_record bytes plus "\r\n" */
    size_t lim = avail < look ? avail : look;
    const char *nl = memchr(p, '\n', lim);
    if (nl == NULL && !eof && avail < look)
        return 0; /* cannot see the end of the first line yet */
    if (nl == NULL && avail > lim) {
        /* The first line alone is over the limit: skip to its end, or to what
         * is available if the end is not in sight (the caller then sees the
         * rest of that line as further over-long records). */
        nl = memchr(p + lim, '\n', avail - lim);
        why = PT_CSV_TOO_LONG;
    }
    if (nl != NULL) {
        r->raw_len = (size_t)(nl - p);
        r->consumed = r->raw_len + 1;
        if (r->raw_len && p[r->raw_len - 1] == '\r')
            r->raw_len--;
    } else {
        r->raw_len = avail;
        r->consumed = avail;
    }
    if (r->raw_len > max_record)
        why = PT_CSV_TOO_LONG;
    r->start = p;
    r->nfields = 0;
    r->nlines = 1;
    r->bad = why;
    r->bad_off = (uint32_t)(off < r->raw_len ? off : r->raw_len);
    return 1;
}

int pt_csv_next(const char *p, const char *end, int eof, size_t max_record, char *scratch,
                struct pt_csv_rec *r)
{
    if (p >= end)
        return 0;
    /* The record may have max_record bytes plus its "\r\n"; look no further. */
    const char *lim = (size_t)(end - p) > max_record + 2 ? p + max_record + 2 : end;
    const char *s = p;
    char *sc = scratch;
    uint32_t nf = 0;
    uint32_t lines = 1;
    enum pt_csv_bad bad = PT_CSV_GOOD;
    size_t bad_off = 0;

    for (;;) {
        /* At the start of a field. */
        const char *fstart = s;
        const char *text;
        size_t tlen;
        if (s < lim && *s == '"') {
            /* Quoted field: find the closing quote, unescaping "" pairs. */
            const char *q = s + 1;
            char *out = NULL; /* non-NULL once an escape forced a copy */
            const char *seg = q;
            for (;;) {
                const char *c = memchr(q, '"', (size_t)(lim - q));
                if (c == NULL) {
                    if (!eof && lim == end)
                        return 0; /* the closing quote may be in later input */
                    return bad_first_line(p, end, eof, max_record, r,
                                          PT_CSV_UNTERMINATED,
                                          (size_t)(fstart - p));
                }
                for (const char *x = q; x < c; x++)
                    lines += *x == '\n';
                if (c + 1 < lim && c[1] == '"') {
                    /* Escaped quote: copy what we have plus one '"'. */
                    if (out == NULL)
                        out = sc;
                    memcpy(out, seg, (size_t)(c + 1 - seg));
                    out += c + 1 - seg;
                    q = seg = c + 2;
                    continue;
                }
                if (c + 1 >= lim && !eof && lim == end)
                    return 0; /* might be the first half of "" */
                if (out != NULL) {
                    memcpy(out, seg, (size_t)(c - seg));
                    out += c - seg;
                    text = sc;
                    tlen = (size_t)(out - sc);
                    sc = out;
                } else {
                    text = s + 1;
                    tlen = (size_t)(c - s - 1);
                }
                s = c + 1;
                break;
            }
            /* After the closing quote: ',', '\n', "\r\n" or end of input. */
            if (s < lim && *s != ',' && *s != '\n' && !(*s == '\r' && s + 1 < lim && s[1] == '\n')) {
                if (s + 1 >= lim && *s == '\r' && !eof && lim == end)
                    return 0;
                if (bad == PT_CSV_GOOD) {
                    bad = PT_CSV_TEXT_AFTER_QUOTE;
                    bad_off = (size_t)(s - p);
                }
                while (s < lim && !k_special[(unsigned char)*s])
                    s++;
                while (s < lim && *s == '"') { /* skip stray quotes too */
                    s++;
                    while (s < lim && !k_special[(unsigned char)*s])
                        s++;
                }
            }
            if (s < lim && *s == '\r' && s + 1 < lim && s[1] == '\n')
                s++;
        } else {
            /* Unquoted field. */
            while (s < lim && !k_special[(unsigned char)*s])
                s++;
            while (s < lim && *s == '"') {
                if (bad == PT_CSV_GOOD) {
                    bad = PT_CSV_QUOTE_IN_FIELD;
                    bad_off = (size_t)(s - p);
                }
                s++;
                while (s < lim && !k_special[(unsigned char)*s])
                    s++;
            }
            text = fstart;
            tlen = (size_t)(s - fstart);
            if (tlen && (s < lim ? *s == '\n' : 1) && fstart[tlen - 1] == '\r')
                tlen--; /* CRLF line end */
        }
        if (nf < PT_CSV_MAX_FIELDS) {
            r->f[nf].p = text;
            r->f[nf].len = (uint32_t)tlen;
            r->f[nf].raw_off = (uint32_t)(fstart - p);
        } else if (bad == PT_CSV_GOOD) {
            bad = PT_CSV_TOO_MANY_FIELDS;
            bad_off = (size_t)(fstart - p);
        }
        nf++;
        if (s >= lim) {
            if (lim != end)
                return bad_first_line(p, end, eof, max_record, r, PT_CSV_TOO_LONG, 0);
            if (!eof)
                return 0;
            r->raw_len = (size_t)(s - p);
            r->consumed = r->raw_len;
            if (r->raw_len && s[-1] == '\r' && tlen < (size_t)(s - fstart))
                r->raw_len--; /* the '\r' dropped from the last field */
            break;
        }
        if (*s == '\n') {
            r->raw_len = (size_t)(s - p);
            if (r->raw_len && s[-1] == '\r')
                r->raw_len--;
            r->consumed = (size_t)(s + 1 - p);
            break;
        }
        s++; /* the ',' */
        if (s >= lim && lim == end && !eof)
            return 0;
    }
    r->start = p;
    r->nlines = lines;
    r->nfields = nf < PT_CSV_MAX_FIELDS ? nf : PT_CSV_MAX_FIELDS;
    r->bad = bad;
    r->bad_off = (uint32_t)bad_off;
    if (r->raw_len > max_record) {
        r->bad = PT_CSV_TOO_LONG; /* ended inside the look-ahead, but too long */
        r->bad_off = 0;
    }
    return 1;
}

void pt_text_position(const char *s, size_t len, size_t off, uint64_t *dline, uint64_t *col)
{
    uint64_t nl = 0;
    size_t ls = 0;
    for (size_t i = 0; i < off && i < len; i++) {
        if (s[i] == '\n') {
            nl++;
            ls = i + 1;
        }
    }
    *dline = nl;
    *col = off - ls + 1;
}

void pt_csv_position(const struct pt_csv_rec *r, size_t off, uint64_t *dline, uint64_t *col)
{
    pt_text_position(r->start, r->raw_len, off, dline, col);
}
