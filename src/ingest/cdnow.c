/*
 * cdnow.c - the CDNOW transaction format (see cdnow.h).
 */
#include <string.h>

#include "ingest/cdnow.h"
#include "ingest/fields.h"
#include "util/timeutil.h"

#define CHUNK 1024

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Fields of line [p, end): start offsets and lengths; returns the count (at most max + 1). */
static int split(const char *p, const char *end, const char **f, size_t *len, int max)
{
    int k = 0;
    while (p < end) {
        while (p < end && is_space(*p))
            p++;
        if (p == end)
            break;
        const char *s = p;
        while (p < end && !is_space(*p))
            p++;
        if (k <= max) {
            f[k] = s;
            len[k] = (size_t)(p - s);
        }
        k++;
    }
    return k;
}

int pt_cdnow_sniff(const char *buf, size_t n)
{
    const char *p = buf, *end = buf + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *f[8];
        size_t len[8];
        int k = split(p, le, f, len, 6);
        if (k > 0)
            return memchr(p, ',', (size_t)(le - p)) == NULL && k >= 4 && k <= 5;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return n > 0;
}

/* yyyymmdd -> Unix seconds of its midnight, or -1 with *why. */
static int parse_ymd(const char *s, size_t n, int64_t *t, const char **why)
{
    if (n != 8 || !all_digits(s, n)) {
        *why = "not a yyyymmdd date";
        return -1;
    }
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[4] - '0') * 10 + (s[5] - '0'), d = (s[6] - '0') * 10 + (s[7] - '0');
    if (m < 1 || m > 12 || d < 1 || d > pt_days_in_month(y, m)) {
        *why = "no such date";
        return -1;
    }
    *t = pt_days_from_civil(y, m, d) * 86400;
    return 0;
}

static int bad(struct pt_err *e, const char *name, size_t line, size_t col, const char *field,
               const char *why, const char *v, size_t vlen)
{
    int shown = vlen > 40 ? 40 : (int)vlen;
    return pt_err_set(e, PT_EPARSE, "%s:%zu:%zu: field '%s': %s (\"%.*s%s\")", name, line, col,
                      field, why, shown, v, vlen > 40 ? "..." : "");
}

int pt_ingest_cdnow(const char *buf, size_t n, const char *name, const struct pt_order_sink *sink,
                    struct pt_ingest_stats *st, struct pt_err *e)
{
    static const char *const names4[] = {"customer_id", "date", "number_of_cds", "dollar_value"};
    static const char *const names5[] = {"customer_id", "sample_id", "date", "number_of_cds",
                                         "dollar_value"};
    memset(st, 0, sizeof *st);
    st->layout = PT_LAYOUT_AUTO;
    st->scale = 2;
    struct pt_order chunk[CHUNK];
    size_t nc = 0, line = 0, first = 0; /* first: the line that fixed the field count */
    int want = 0;                       /* fields per data line, once known */
    const char *p = buf, *end = buf + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line++;
        const char *f[6];
        size_t len[6];
        int k = split(p, le, f, len, 5);
        const char *ls = p;
        p = nl ? nl + 1 : end;
        if (k == 0)
            continue;
        if (st->rows == 0 && want == 0 && !all_digits(f[0], len[0])) {
            want = -1; /* header seen; the field count comes from the first data line */
            continue;
        }
        if (want <= 0) {
            if (k != 4 && k != 5)
                return pt_err_set(e, PT_EPARSE,
                                  "%s:%zu: expected 4 fields (customer_id date number_of_cds "
                                  "dollar_value) or 5 (with a sample_id), got %d",
                                  name, line, k);
            want = k;
            first = line;
        }
        if (k != want)
            return pt_err_set(e, PT_EPARSE, "%s:%zu: expected %d fields like line %zu, got %d",
                              name, line, want, first, k);
        const char *const *fn = want == 4 ? names4 : names5;
        int o = want - 4; /* offset of the date field minus 1 */
        const char *why = NULL;
        if (pt_check_id(f[0], len[0], PT_ID_UTF8, &why))
            return bad(e, name, line, (size_t)(f[0] - ls) + 1, fn[0], why, f[0], len[0]);
        int64_t t, cds, cents;
        if (parse_ymd(f[1 + o], len[1 + o], &t, &why))
            return bad(e, name, line, (size_t)(f[1 + o] - ls) + 1, fn[1 + o], why, f[1 + o],
                       len[1 + o]);
        if (pt_parse_int(f[2 + o], len[2 + o], &cds, &why) || cds < 0) {
            why = why ? why : "negative";
            return bad(e, name, line, (size_t)(f[2 + o] - ls) + 1, fn[2 + o], why, f[2 + o],
                       len[2 + o]);
        }
        if (pt_parse_decimal(f[3 + o], len[3 + o], 2, 0, &cents, &why))
            return bad(e, name, line, (size_t)(f[3 + o] - ls) + 1, fn[3 + o], why, f[3 + o],
                       len[3 + o]);
        chunk[nc++] = pt_order_make(f[0], (uint32_t)len[0], t, cents, 0);
        st->rows++;
        if (nc == CHUNK) {
            int rc = sink->batch(sink->ctx, chunk, nc, e);
            if (rc)
                return rc;
            st->orders += nc;
            nc = 0;
        }
    }
    if (st->rows == 0)
        return pt_err_set(e, PT_EPARSE, "%s: no transactions", name);
    if (nc) {
        int rc = sink->batch(sink->ctx, chunk, nc, e);
        if (rc)
            return rc;
        st->orders += nc;
    }
    return 0;
}
