/*
 * fuzz_cdnow.c - libFuzzer target for the CDNOW transaction reader
 * (ingest/cdnow.h) and what `patron clv` builds from it (clv/cohort.h).
 *
 * Checks, besides memory safety and leaks:
 *  - pt_cdnow_sniff agrees with its definition, recomputed here (the first
 *    line with a non-blank byte has no comma and 4 or 5 fields);
 *  - every order the reader hands over has a customer id of 1..128 bytes that
 *    is a whole field of the input (inside it, no whitespace, whitespace or an
 *    edge on both sides), a time at midnight UTC of a year 0..9999, an amount
 *    >= 0 of at most 15 integer digits (in cents), no order id, and the hash
 *    of pt_order_make;
 *  - a successful read reports as many rows and orders as the sink got (at
 *    least one); a failed read has a message that starts with the file name;
 *  - the cohort built from the orders (calibration end in the middle of the
 *    days, 52-week holdout) matches one computed here from the orders: the
 *    customers, the late ones, x, t_x, T, the holdout purchase days and the
 *    repeat purchase totals, with same-day purchases counted once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clv/cohort.h"
#include "ingest/cdnow.h"
#include "ingest/fields.h"

#define HORIZON 364

static void check(int cond)
{
    if (!cond)
        abort();
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* pt_cdnow_sniff's definition, written out again. */
static int sniff_ref(const char *p, size_t n)
{
    const char *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        int fields = 0, comma = 0, in = 0;
        for (const char *q = p; q < le; q++) {
            int sp = *q == ' ' || *q == '\t' || *q == '\r';
            fields += !sp && !in;
            in = !sp;
            comma |= *q == ',';
        }
        if (fields > 0)
            return !comma && (fields == 4 || fields == 5);
        p = nl ? nl + 1 : end;
    }
    return 0;
}

struct rec {
    const char *cid;
    uint32_t len;
    int64_t day;
};

struct sink_ctx {
    const char *buf;
    size_t n;
    struct rec *rec;
    size_t nrec, cap;
    struct pt_txlog log;
    int log_failed;
};

static int sink_batch(void *arg, const struct pt_order *o, size_t n, struct pt_err *e)
{
    struct sink_ctx *s = arg;
    /* 0000-01-01, 9999-12-31, and 15 integer digits with 2 decimals in cents */
    static const int64_t t_min = -62167219200, t_max = 253402214400;
    static const int64_t max_cents = 99999999999999999;
    (void)e;
    check(n > 0);
    for (size_t i = 0; i < n; i++) {
        const struct pt_order *x = &o[i];
        check(x->cid_len >= 1 && x->cid_len <= PT_ID_MAX_BYTES);
        check(x->cid >= s->buf && x->cid + x->cid_len <= s->buf + s->n);
        for (uint32_t k = 0; k < x->cid_len; k++)
            check(!is_ws(x->cid[k]));
        check(x->cid == s->buf || is_ws(x->cid[-1]));
        check(x->cid + x->cid_len == s->buf + s->n || is_ws(x->cid[x->cid_len]));
        check(x->t % 86400 == 0 && x->t >= t_min && x->t <= t_max);
        check(x->amount >= 0 && x->amount <= max_cents);
        check(x->oid == NULL && x->flags == 0);
        struct pt_order m = pt_order_make(x->cid, x->cid_len, x->t, x->amount, 0);
        check(m.chash == x->chash && m.cnum == x->cnum);
        if (s->nrec == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 64;
            struct rec *r = realloc(s->rec, cap * sizeof *r);
            if (r == NULL)
                return PT_ENOMEM;
            s->rec = r;
            s->cap = cap;
        }
        s->rec[s->nrec++] = (struct rec){x->cid, x->cid_len, x->t / 86400};
        if (pt_txlog_add(&s->log, x->cid, x->cid_len, x->chash, x->t / 86400, x->amount))
            s->log_failed = 1;
    }
    return 0;
}

static void sink_reset(void *arg)
{
    (void)arg;
    abort(); /* the CDNOW reader has no general mode */
}

static int cmp_rec(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    uint32_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->cid, y->cid, m);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return (x->day > y->day) - (x->day < y->day);
}

/* The cohort of the orders in s, recomputed from sorted records. */
static void check_cohort(struct sink_ctx *s)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < s->nrec; i++) {
        lo = s->rec[i].day < lo ? s->rec[i].day : lo;
        hi = s->rec[i].day > hi ? s->rec[i].day : hi;
    }
    int64_t end = lo + (hi - lo) / 2;
    struct pt_cohort co;
    struct pt_err e;
    int rc = pt_cohort_build(&s->log, end, HORIZON, &co, &e);
    /* money beyond int64 (many 15-digit amounts of one customer) is an error;
     * otherwise the customer of the first day is in the cohort */
    if (rc == PT_EOVERFLOW || rc == PT_ENOMEM)
        return;
    check(rc == 0);
    check(co.day_min == lo && co.day_max == hi);
    /* By customer (ids in byte order), then day. */
    qsort(s->rec, s->nrec, sizeof *s->rec, cmp_rec);
    size_t customers = 0, late = 0;
    uint64_t rep_cal = 0, rep_hold = 0;
    for (size_t i = 0; i < s->nrec;) {
        size_t j = i;
        int64_t first = 0, last = 0;
        uint32_t days = 0, hold = 0;
        for (; j < s->nrec && s->rec[j].len == s->rec[i].len &&
               memcmp(s->rec[j].cid, s->rec[i].cid, s->rec[i].len) == 0;
             j++) {
            if (j > i && s->rec[j].day == s->rec[j - 1].day)
                continue;
            int64_t d = s->rec[j].day;
            if (d <= end) {
                first = days ? first : d;
                last = d;
                days++;
            } else if (d <= end + HORIZON && days) {
                hold++;
            }
        }
        customers++;
        if (days == 0) {
            late++;
        } else {
            /* find this customer in the cohort */
            size_t k = 0;
            for (; k < co.n; k++) {
                uint32_t len;
                const char *id = pt_idmap_id(&s->log.ids, co.id[k], &len);
                if (len == s->rec[i].len && memcmp(id, s->rec[i].cid, len) == 0)
                    break;
            }
            check(k < co.n);
            check(co.first[k] == first && co.hold[k] == hold);
            check(co.rfx[k].x == (double)(days - 1) && co.rfx[k].tx == (double)(last - first) &&
                  co.rfx[k].T == (double)(end - first));
            check(days > 1 || co.m[k] == 0);
            check(co.m[k] >= 0);
            rep_cal += days - 1;
            rep_hold += hold;
        }
        i = j;
    }
    check(s->log.ids.n == customers);
    check(co.n == customers - late && co.late == late);
    check(co.repeat_cal == rep_cal && co.repeat_hold == rep_hold);
    uint64_t daily = 0;
    for (size_t d = 0; d < co.ndays; d++)
        daily += co.daily[d];
    check(daily == rep_cal + rep_hold);
    pt_cohort_release(&co);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    int sn = pt_cdnow_sniff(buf, size);
    check(sn == sniff_ref(buf, size));

    struct sink_ctx s = {.buf = buf, .n = size};
    pt_txlog_init(&s.log);
    struct pt_order_sink sink = {.ctx = &s, .batch = sink_batch, .reset = sink_reset};
    struct pt_ingest_stats st;
    struct pt_err e;
    memset(&e, 0, sizeof e);
    int rc = pt_ingest_cdnow(buf, size, "fuzz", &sink, &st, &e);
    if (rc == 0) {
        check(st.rows >= 1 && st.rows == s.nrec && st.orders == s.nrec && st.scale == 2);
        if (!s.log_failed)
            check_cohort(&s);
    } else {
        check(rc == PT_EPARSE && strncmp(e.msg, "fuzz:", 5) == 0);
    }
    free(s.rec);
    pt_txlog_release(&s.log);
    return 0;
}
