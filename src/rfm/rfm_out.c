/*
 * rfm_out.c - money text and the per-customer CSV of RFM-SPEC's output section.
 */
#include "rfm/rfm_int.h"

#include <string.h>

#include "util/mem.h"

int pt_rfm_add_money2(struct pt_buf *b, int64_t v, int scale)
{
    if (scale == 3) {
        /* Round half away from zero to hundredths. */
        int64_t q = v / 10, rem = v % 10;
        if (rem >= 5)
            q++;
        else if (rem <= -5)
            q--;
        v = q;
    }
    return pt_buf_add_money(b, v, 2);
}

/* Decimal digits of v at o; returns the end. */
static char *put_u64(char *o, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *o++ = tmp[--n];
    return o;
}

/* Money in hundredths as text with exactly 2 decimals; returns the end. */
static char *put_cents(char *o, int64_t v)
{
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (v < 0)
        *o++ = '-';
    o = put_u64(o, mag / 100);
    *o++ = '.';
    *o++ = (char)('0' + mag / 10 % 10);
    *o++ = (char)('0' + mag % 10);
    return o;
}

int pt_rfm_write_csv(const struct pt_rfm_result *res, FILE *f)
{
    static const char head[] = "customer_id,recency,frequency,monetary,r,f,m,segment\n";
    size_t seglen[PT_RFM_NSEG];
    for (int i = 0; i < PT_RFM_NSEG; i++)
        seglen[i] = strlen(pt_rfm_segment_names[i]);
    /* A row is at most 258 (a quoted 128-byte id) + 4 * 21 (numbers) + 7 (scores)
     * + 20 (segment) bytes. */
    enum { CHUNK = 1 << 20, ROW_MAX = 512 };
    char *buf = pt_malloc(CHUNK + ROW_MAX);
    if (buf == NULL)
        return PT_ENOMEM;
    char *o = buf;
    memcpy(o, head, sizeof head - 1);
    o += sizeof head - 1;
    int rc = 0;
    for (size_t i = 0; i < res->n && rc == 0; i++) {
        if (res->num) {
            o = put_u64(o, res->num[i]);
        } else if (memchr(res->id[i], ',', res->id_len[i]) || memchr(res->id[i], '"', res->id_len[i])) {
            /* RFC 4180 quoting; ids have no line breaks (no control characters). */
            *o++ = '"';
            for (uint32_t k = 0; k < res->id_len[i]; k++) {
                if (res->id[i][k] == '"')
                    *o++ = '"';
                *o++ = res->id[i][k];
            }
            *o++ = '"';
        } else {
            memcpy(o, res->id[i], res->id_len[i]);
            o += res->id_len[i];
        }
        *o++ = ',';
        o = put_u64(o, (uint64_t)res->recency[i]);
        *o++ = ',';
        o = put_u64(o, res->frequency[i]);
        *o++ = ',';
        int64_t m = res->monetary[i];
        if (res->scale == 3) /* thousandths -> hundredths, half away from zero */
            m = m / 10 + (m % 10 >= 5) - (m % 10 <= -5);
        o = put_cents(o, m);
        o[0] = ',';
        o[1] = (char)('0' + res->r[i]);
        o[2] = ',';
        o[3] = (char)('0' + res->f[i]);
        o[4] = ',';
        o[5] = (char)('0' + res->m[i]);
        o[6] = ',';
        o += 7;
        memcpy(o, pt_rfm_segment_names[res->seg[i]], seglen[res->seg[i]]);
        o += seglen[res->seg[i]];
        *o++ = '\n';
        if (o - buf >= CHUNK) {
            size_t len = (size_t)(o - buf);
            if (fwrite(buf, 1, len, f) != len)
                rc = PT_EIO;
            o = buf;
        }
    }
    size_t len = (size_t)(o - buf);
    if (rc == 0 && len && fwrite(buf, 1, len, f) != len)
        rc = PT_EIO;
    pt_free(buf);
    return rc;
}
