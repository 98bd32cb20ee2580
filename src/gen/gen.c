/*
 * gen.c - the demo data generator (see gen.h).
 *
 * Model: customer i has a buying intensity w_i drawn from a log-normal with a
 * wide spread (sigma 1.8), so most customers buy once or twice and a heavy tail
 * buys often. The M orders are dealt out so that every customer gets one (when
 * M >= N) and the rest follow the intensities by systematic sampling (exact
 * total, each customer gets floor or ceil of its share). A customer arrives at
 * a time skewed toward the recent end of the window, stays active for an
 * exponential span, and orders at uniform times inside it. Order values are
 * log-normal around a per-customer typical basket. All orders are then sorted
 * by time and numbered 1.. in that order.
 */
#include "gen/gen.h"

#include <math.h>
#include <string.h>

#include "util/buf.h"
#include "util/mem.h"
#include "util/radix.h"
#include "util/rng.h"
#include "util/timeutil.h"

#define NBAD_KINDS 16

/* Write "YYYY-MM-DDTHH:MM:SSZ" (20 bytes) for t, caching the date part. */
struct tfmt {
    int64_t day;
    char date[11];
};

static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

static void fmt_time(struct tfmt *c, int64_t t, char *out)
{
    int64_t day = pt_floor_div(t, 86400);
    if (day != c->day) {
        int64_t y;
        int m, d;
        pt_civil_from_days(day, &y, &m, &d);
        put2(c->date, (int)(y / 100 % 100));
        put2(c->date + 2, (int)(y % 100));
        c->date[4] = '-';
        put2(c->date + 5, m);
        c->date[7] = '-';
        put2(c->date + 8, d);
        c->day = day;
    }
    int64_t s = t - day * 86400;
    memcpy(out, c->date, 10);
    out[10] = 'T';
    put2(out + 11, (int)(s / 3600));
    out[13] = ':';
    put2(out + 14, (int)(s / 60 % 60));
    out[16] = ':';
    put2(out + 17, (int)(s % 60));
    out[19] = 'Z';
}

/* One malformed row of kind k, built from the valid row before it. */
static void bad_row(struct pt_buf *b, struct pt_rng *r, uint64_t oid, uint64_t cid,
                    const char *ts, int64_t cents, uint64_t ncust)
{
    int k = (int)pt_rng_below(r, NBAD_KINDS);
    char amt[32];
    snprintf(amt, sizeof amt, "%lld.%02lld", (long long)(cents / 100), (long long)(cents % 100));
    switch (k) {
    case 0:
        pt_buf_printf(b, "%llu,%llu,%.20s,%sx\n", (unsigned long long)oid, (unsigned long long)cid,
                      ts, amt);
        break;
    case 1:
        pt_buf_printf(b, "%llu,%llu,%.20s,%s7\n", (unsigned long long)oid, (unsigned long long)cid,
                      ts, amt);
        break;
    case 2:
        pt_buf_printf(b, "%llu,%llu,%.20s,-%s\n", (unsigned long long)oid, (unsigned long long)cid,
                      ts, amt);
        break;
    case 3:
        pt_buf_printf(b, "%llu,%llu,2025-13-01T10:00:00Z,%s\n", (unsigned long long)oid,
                      (unsigned long long)cid, amt);
        break;
    case 4:
        pt_buf_printf(b, "%llu,%llu,2025-02-30T10:00:00Z,%s\n", (unsigned long long)oid,
                      (unsigned long long)cid, amt);
        break;
    case 5:
        pt_buf_printf(b, "%llu,%llu,%.10sT25:61:00Z,%s\n", (unsigned long long)oid,
                      (unsigned long long)cid, ts, amt);
        break;
    case 6:
        pt_buf_printf(b, "%llu,%llu,%.20s\n", (unsigned long long)oid, (unsigned long long)cid, ts);
        break;
    case 7:
        pt_buf_printf(b, "%llu,%llu,%.20s,%s,extra\n", (unsigned long long)oid,
                      (unsigned long long)cid, ts, amt);
        break;
    case 8:
        pt_buf_printf(b, "%llu,,%.20s,%s\n", (unsigned long long)oid, ts, amt);
        break;
    case 9: /* the previous row's order, another customer */
        pt_buf_printf(b, "%llu,%llu,%.20s,%s\n", (unsigned long long)oid,
                      (unsigned long long)(cid % ncust + 1 == cid ? cid + 1 : cid % ncust + 1), ts,
                      amt);
        break;
    case 10:
        pt_buf_printf(b, "%llu,%llu\x01,%.20s,%s\n", (unsigned long long)oid,
                      (unsigned long long)cid, ts, amt);
        break;
    case 11:
        pt_buf_printf(b, "%llu,\xff\xfe%llu,%.20s,%s\n", (unsigned long long)oid,
                      (unsigned long long)cid, ts, amt);
        break;
    case 12:
        pt_buf_printf(b, "%llu,\"%llu\"x,%.20s,%s\n", (unsigned long long)oid,
                      (unsigned long long)cid, ts, amt);
        break;
    case 13:
        pt_buf_printf(b, "%llu,%llu,%.20s,\n", (unsigned long long)oid, (unsigned long long)cid,
                      ts);
        break;
    case 14:
        pt_buf_printf(b, "%llu,%llu,%.20s,1e3\n", (unsigned long long)oid,
                      (unsigned long long)cid, ts);
        break;
    default:
        pt_buf_printf(b, ",%llu,%.20s,%s\n", (unsigned long long)cid, ts, amt);
        break;
    }
}

int pt_gen_orders(const struct pt_gen_opts *o, FILE *f, struct pt_gen_stats *st, struct pt_err *e)
{
    memset(st, 0, sizeof *st);
    uint64_t N = o->customers, M = o->orders;
    if (N == 0 || N > UINT32_MAX - 1 || M > UINT32_MAX - 1 || o->end <= o->start ||
        o->bad_fraction < 0 || o->bad_fraction > 1 || o->max_lines < 1 || o->max_lines > 20)
        return pt_err_set(e, PT_EINVAL, "gen: need 1 <= customers < 2^32, orders < 2^32, "
                                        "start < end, 0 <= bad-fraction <= 1, 1 <= lines <= 20");
    struct pt_rng rng, brng;
    pt_rng_seed(&rng, o->seed);
    pt_rng_seed(&brng, o->seed ^ 0xbadbadbadULL);
    double *w = pt_alloc_array(N, sizeof *w);
    uint32_t *cnt = pt_calloc(N, sizeof *cnt);
    uint64_t *key = pt_alloc_array(M ? M : 1, sizeof *key);
    uint32_t *cust = pt_alloc_array(M ? M : 1, sizeof *cust);
    int64_t *cents = pt_alloc_array(M ? M : 1, sizeof *cents);
    uint32_t *perm = pt_alloc_array(M ? M : 1, sizeof *perm);
    struct pt_buf b;
    pt_buf_init(&b);
    int rc = PT_ENOMEM;
    if (!w || !cnt || !key || !cust || !cents || !perm)
        goto out;
    /* Intensities and the deal. */
    double W = 0;
    for (uint64_t i = 0; i < N; i++) {
        w[i] = exp(1.8 * pt_rng_normal(&rng));
        W += w[i];
    }
    uint64_t rest = M;
    if (M >= N) {
        for (uint64_t i = 0; i < N; i++)
            cnt[i] = 1;
        rest = M - N;
    }
    double u = pt_rng_unit(&rng), acc = 0;
    uint64_t given = 0;
    for (uint64_t i = 0; i < N; i++) {
        acc += w[i] * (double)rest / W;
        uint64_t upto = (uint64_t)floor(acc + u);
        if (upto > rest || i + 1 == N)
            upto = rest;
        cnt[i] += (uint32_t)(upto - given);
        given = upto;
    }
    /* Times and amounts, customer by customer. */
    double span = (double)(o->end - o->start);
    uint64_t k = 0;
    for (uint64_t i = 0; i < N; i++) {
        if (cnt[i] == 0)
            continue;
        st->customers_with_orders++;
        double arrive = (double)o->start + span * pow(pt_rng_unit(&rng), 0.7);
        double life = -log(1.0 - pt_rng_unit(&rng)) * span * (cnt[i] > 1 ? 0.6 : 0.0);
        double stop = arrive + life;
        if (stop > (double)o->end - 1)
            stop = (double)o->end - 1;
        double mu = log(45.0) + 0.5 * pt_rng_normal(&rng);
        for (uint32_t j = 0; j < cnt[i]; j++) {
            double t = j == 0 ? arrive : arrive + (stop - arrive) * pt_rng_unit(&rng);
            int64_t ti = (int64_t)t;
            if (ti >= o->end)
                ti = o->end - 1;
            double a = exp(mu + 0.55 * pt_rng_normal(&rng));
            int64_t c = (int64_t)llround(a * 100.0);
            if (c < 100)
                c = 100 + (int64_t)pt_rng_below(&rng, 900);
            if (c > 9999999)
                c = 9999999;
            key[k] = (uint64_t)(ti - o->start);
            cust[k] = (uint32_t)(i + 1);
            cents[k] = c;
            perm[k] = (uint32_t)k;
            k++;
        }
    }
    if (pt_radix_sort_kv(key, perm, M))
        goto out;
    rc = 0;
    if (fputs("order_id,customer_id,ordered_at,amount\n", f) == EOF)
        rc = PT_EIO;
    struct tfmt tc = {.day = INT64_MIN};
    char ts[24];
    ts[20] = '\0';
    for (uint64_t j = 0; j < M && rc == 0; j++) {
        uint32_t p = perm[j];
        uint64_t oid = j + 1;
        int64_t t = o->start + (int64_t)key[j];
        fmt_time(&tc, t, ts);
        int lines = o->max_lines > 1 ? 1 + (int)pt_rng_below(&rng, (uint64_t)o->max_lines) : 1;
        int64_t left = cents[p];
        for (int l = 0; l < lines; l++) {
            int64_t c = l + 1 == lines ? left : left / (lines - l) + (int64_t)pt_rng_below(&rng, 50);
            if (c > left)
                c = left;
            left -= c;
            rc = pt_buf_add_i64(&b, (int64_t)oid);
            rc = rc ? rc : pt_buf_addc(&b, ',');
            rc = rc ? rc : pt_buf_add_i64(&b, cust[p]);
            rc = rc ? rc : pt_buf_addc(&b, ',');
            rc = rc ? rc : pt_buf_add(&b, ts, 20);
            rc = rc ? rc : pt_buf_addc(&b, ',');
            rc = rc ? rc : pt_buf_add_money(&b, c, 2);
            rc = rc ? rc : pt_buf_addc(&b, '\n');
            st->rows++;
            if (o->bad_fraction > 0 && pt_rng_unit(&brng) < o->bad_fraction) {
                bad_row(&b, &brng, oid, cust[p], ts, c, N);
                st->bad_rows++;
            }
        }
        if (rc == 0 && b.len >= (1u << 20)) {
            if (fwrite(b.data, 1, b.len, f) != b.len)
                rc = PT_EIO;
            pt_buf_reset(&b);
            if (o->progress)
                o->progress(o->pctx, j + 1);
        }
    }
    if (rc == 0 && b.len && fwrite(b.data, 1, b.len, f) != b.len)
        rc = PT_EIO;
    if (rc == PT_EIO)
        pt_err_set(e, rc, "gen: write failed");
out:
    if (rc == PT_ENOMEM)
        pt_err_set(e, rc, "gen: out of memory");
    pt_buf_release(&b);
    pt_free(w);
    pt_free(cnt);
    pt_free(key);
    pt_free(cust);
    pt_free(cents);
    pt_free(perm);
    return rc;
}
