/*
 * orders_fast.c - the fast path for the usual order export line:
 *
 *     <canonical integer>,<plain id>,YYYY-MM-DDTHH:MM:SSZ,<digits>[.d[d]]\n
 *
 * in the canonical column order. It parses the four fields in one pass with no
 * field splitting and no copies. Anything else on the line (quotes, offsets,
 * fractions of a second, a bad value ...) makes it decline, and the caller
 * parses the line with the general CSV reader and field parsers, which also
 * word the error. So the fast path needs to accept only a subset of what the
 * general path accepts, and must give the same values for it (tests compare
 * the two on the same data).
 */
#include "ingest/orders_int.h"
#include "util/timeutil.h"

/* Bytes allowed in a fast-path customer id: printable ASCII but ',' and '"'. */
static const unsigned char k_idc[256] = {
#define R4(x) x, x, x, x
#define R16(x) R4(x), R4(x), R4(x), R4(x)
    R16(0), R16(0),                                         /* 0x00-0x1f */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,         /* 0x20-0x2f: '"' ',' out */
    R16(1), R16(1), R16(1), R16(1),                         /* 0x30-0x6f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,         /* 0x70-0x7f: DEL out */
    R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), /* 0x80-0xff */
#undef R16
#undef R4
};

static inline unsigned dig(char c)
{
    return (unsigned)(unsigned char)c - '0';
}

static inline int two(const char *s, int *v)
{
    unsigned a = dig(s[0]), b = dig(s[1]);
    *v = (int)(a * 10 + b);
    return a < 10 && b < 10;
}

int fast_order_row(const char *p, const char *end, int eof, struct fast_ctx *fc, struct row *row,
                   uint64_t *okey, const char **next)
{
    const char *s = p;
    /* order_id: canonical integer */
    uint64_t k = 0;
    while (s < end && dig(*s) < 10 && s - p < 19) {
        k = k * 10 + dig(*s);
        s++;
    }
    size_t n = (size_t)(s - p);
    if (n == 0 || n > 18 || (p[0] == '0' && n > 1) || s >= end || *s != ',')
        return 0;
    row->oid = p;
    row->oid_len = (uint32_t)n;
    *okey = k;
    /* customer_id */
    const char *b = ++s;
    while (s < end && k_idc[(unsigned char)*s])
        s++;
    n = (size_t)(s - b);
    if (n == 0 || n > 128 || s >= end || *s != ',')
        return 0;
    row->cid = b;
    row->cid_len = (uint32_t)n;
    s++;
    /* ordered_at: YYYY-MM-DDTHH:MM:SSZ, */
    if (end - s < 21 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != 'Z' || s[20] != ',')
        return 0;
    int y1, y2, mo, d, h, mi, se;
    if (!two(s, &y1) || !two(s + 2, &y2) || !two(s + 5, &mo) || !two(s + 8, &d) ||
        !two(s + 11, &h) || !two(s + 14, &mi) || !two(s + 17, &se))
        return 0;
    if (h > 23 || mi > 59 || se > 59)
        return 0;
    int32_t dkey = (y1 * 100 + y2) * 10000 + mo * 100 + d; /* the digits themselves: no collisions */
    if (dkey != fc->dkey) {
        int y = y1 * 100 + y2;
        if (mo < 1 || mo > 12 || d < 1 || d > pt_days_in_month(y, mo))
            return 0;
        fc->dkey = dkey;
        fc->days = pt_days_from_civil(y, mo, d);
    }
    row->t = fc->days * 86400 + h * 3600 + mi * 60 + se;
    s += 21;
    /* amount: up to 15 integer digits, optional '.' and 1-2 decimals */
    b = s;
    int64_t v = 0;
    while (s < end && dig(*s) < 10 && s - b < 16) {
        v = v * 10 + dig(*s);
        s++;
    }
    n = (size_t)(s - b);
    if (n == 0 || n > 15)
        return 0;
    v *= 100;
    if (s < end && *s == '.') {
        s++;
        if (s < end && dig(*s) < 10) {
            v += 10 * dig(*s++);
            if (s < end && dig(*s) < 10)
                v += dig(*s++);
        } else {
            return 0;
        }
    }
    if (s < end && *s == '\r')
        s++;
    if (s < end && *s == '\n')
        s++;
    else if (!(s == end && eof && s[-1] != '\r'))
        return 0;
    row->amount = v;
    row->cancel = 0;
    row->no_customer = 0;
    *next = s;
    return 1;
}
