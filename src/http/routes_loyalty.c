/*
 * routes_loyalty.c - /v1/loyalty/..., /v1/vouchers/... and /v1/voucher-pools
 * (docs/api.yaml, docs/loyalty.md): the programme, members (view, history,
 * points, redemptions, referral QR), the rewards catalogue, the report,
 * member imports, voucher validation and redemption at checkout, and code
 * pools. Writes go to the engine as PT_JOB_LOYALTY jobs; an Idempotency-Key
 * header makes a write's answer recorded and replayed on retry.
 */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http_int.h"
#include "loyalty/batch.h"
#include "loyalty/code.h"
#include "loyalty/program.h"
#include "loyalty/reward.h"
#include "loyalty/import.h"
#include "loyalty/qr.h"
#include "store/store.h"
#include "util/mem.h"
#include "util/timeutil.h"

#define MAX_POOL 5000000

/* ---- routing ---- */

static int ends_with(const char *s, size_t n, const char *suf, size_t *stem)
{
    size_t k = strlen(suf);
    if (n <= k || memcmp(s + n - k, suf, k) != 0)
        return 0;
    *stem = n - k;
    return 1;
}

static enum route set_id(struct req *r, const char *id, size_t n, size_t max, enum route rt,
                         unsigned *bad)
{
    if (n == 0 || n > max || n >= sizeof r->id) {
        *bad = 404;
        return R_NONE;
    }
    memcpy(r->id, id, n);
    r->id[n] = '\0';
    return rt;
}

enum route loyalty_route_of(struct req *r, const char *url, const char *method, unsigned *bad)
{
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int post = strcmp(method, "POST") == 0;
    int put = strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
    int del = strcmp(method, "DELETE") == 0;
    enum route rt = R_NONE;
    *bad = 0;
    if (strcmp(url, "/v1/loyalty/program") == 0) {
        rt = R_LOY_PROGRAM; /* (PUT replaces the whole programme: no PATCH) */
        *bad = get || strcmp(method, "PUT") == 0 ? 0 : 405;
    } else if (strcmp(url, "/v1/loyalty/report") == 0) {
        rt = R_LOY_REPORT;
        *bad = get ? 0 : 405;
    } else if (strcmp(url, "/v1/loyalty/import") == 0) {
        rt = R_LOY_IMPORT;
        *bad = post ? 0 : 405;
    } else if (strcmp(url, "/v1/loyalty/points") == 0) {
        rt = R_LOY_POINTS;
        r->id[0] = '\0';
        *bad = post ? 0 : 405;
    } else if (strcmp(url, "/v1/loyalty/rewards") == 0) {
        rt = R_LOY_REWARDS;
        r->id[0] = '\0';
        *bad = get || post ? 0 : 405;
    } else if (strncmp(url, "/v1/loyalty/rewards/", 20) == 0) {
        const char *id = url + 20;
        rt = set_id(r, id, strlen(id), 20, R_LOY_REWARDS, bad);
        if (rt != R_NONE)
            *bad = get || put || del ? 0 : 405;
    } else if (strncmp(url, "/v1/loyalty/members/", 20) == 0) {
        const char *id = url + 20;
        size_t n = strlen(id), stem = n;
        rt = R_LOY_MEMBER;
        if (ends_with(id, n, "/history", &stem))
            rt = R_LOY_HISTORY;
        else if (ends_with(id, n, "/points", &stem))
            rt = R_LOY_POINTS;
        else if (ends_with(id, n, "/redemptions", &stem))
            rt = R_LOY_REDEEM;
        else if (ends_with(id, n, "/qr.png", &stem))
            rt = R_LOY_QR;
        rt = set_id(r, id, stem, PT_EV_MAX_ID, rt, bad);
        if (rt == R_LOY_MEMBER)
            *bad = get || post ? 0 : 405;
        else if (rt == R_LOY_HISTORY || rt == R_LOY_QR)
            *bad = get ? 0 : 405;
        else if (rt != R_NONE)
            *bad = post ? 0 : 405;
    } else if (strncmp(url, "/v1/vouchers/", 13) == 0) {
        const char *id = url + 13;
        size_t n = strlen(id), stem = n;
        rt = ends_with(id, n, "/redeem", &stem) ? R_VOUCHER_REDEEM : R_VOUCHER;
        rt = set_id(r, id, stem, 64, rt, bad);
        if (rt == R_VOUCHER)
            *bad = get ? 0 : 405;
        else if (rt != R_NONE)
            *bad = post ? 0 : 405;
    } else if (strcmp(url, "/v1/voucher-pools") == 0) {
        rt = R_VOUCHER_POOLS;
        r->id[0] = '\0';
        *bad = post ? 0 : 405;
    } else if (strncmp(url, "/v1/voucher-pools/", 18) == 0) {
        const char *id = url + 18;
        size_t n = strlen(id), stem;
        if (!ends_with(id, n, "/codes.csv", &stem)) {
            *bad = 404;
            return R_NONE;
        }
        rt = set_id(r, id, stem, 20, R_VOUCHER_POOLS, bad);
        if (rt != R_NONE)
            *bad = get ? 0 : 405;
    } else {
        *bad = 404;
    }
    return rt;
}

/* ---- failed voucher look-ups: a token bucket per key (shop) ---- */

/* A key may fail `voucher_failures` look-ups at once (default 600) and gets
 * one more every 60 / voucher_failures seconds: typos at a busy checkout
 * pass; guessing 64-bit codes stays hopeless. */
static double vl_burst(const struct pt_http *h)
{
    return h->o.voucher_failures > 0 ? (double)h->o.voucher_failures : 600.0;
}

/* Seconds until the next failure is allowed again (Retry-After). */
static int vl_retry(const struct pt_http *h)
{
    return (int)(60.0 / vl_burst(h)) + 1;
}

static struct vlim *vl_slot(struct pt_http *h, int64_t shop, double now)
{
    /* the shop's slot among 8 from its hash; else the one idle longest */
    size_t nslot = sizeof h->vl / sizeof h->vl[0], home = (size_t)((uint64_t)shop * 2654435761u);
    struct vlim *v = NULL, *idle = NULL;
    for (size_t k = 0; k < 8 && v == NULL; k++) {
        struct vlim *c = &h->vl[(home + k) % nslot];
        if (c->shop == shop)
            v = c;
        else if (idle == NULL || c->t < idle->t)
            idle = c;
    }
    if (v == NULL) {
        v = idle;
        v->shop = 0;
    }
    if (v->shop != shop) {
        v->shop = shop;
        v->tokens = vl_burst(h);
        v->t = now;
    }
    v->tokens += (now - v->t) * vl_burst(h) / 60.0;
    if (v->tokens > vl_burst(h))
        v->tokens = vl_burst(h);
    v->t = now;
    return v;
}

/* Whether the key's failures have used up its allowance (look-ups refused). */
static int http_voucher_blocked(struct pt_http *h, int64_t shop)
{
    pthread_mutex_lock(&h->vl_mu);
    int b = vl_slot(h, shop, pt_mono_now())->tokens < 1.0;
    pthread_mutex_unlock(&h->vl_mu);
    return b;
}

/* Count a failed look-up; 1 if the key is now over its allowance. */
static int http_voucher_fail(struct pt_http *h, int64_t shop)
{
    pthread_mutex_lock(&h->vl_mu);
    struct vlim *v = vl_slot(h, shop, pt_mono_now());
    int over = v->tokens < 1.0;
    if (!over)
        v->tokens -= 1.0;
    pthread_mutex_unlock(&h->vl_mu);
    return over;
}

static int http_pool_row(void *ctx, const struct pt_voucher_row *v)
{
    struct pt_buf *b = ctx;
    char code[PT_CODE_PRINT_MAX], ts[24] = "";
    pt_code_print(v->code, NULL, code);
    if (v->expires)
        pt_format_utc(v->expires, ts);
    return pt_buf_printf(b, "%s,%s,%lld,%s,%lld,%lld,%s\n", code, pt_voucher_kind_name(v->kind),
                         (long long)v->value, v->currency, (long long)v->max_uses,
                         (long long)v->uses, ts)
               ? PT_ENOMEM
               : 0;
}

/* ---- helpers ---- */

static void reply_body(struct req *r, unsigned code, const struct pt_buf *b)
{
    pt_buf_reset(&r->out);
    pt_buf_add(&r->out, b->data ? b->data : "", b->len);
    r->code = code;
    r->state = ST_READY;
}

/* A query's whole number in [lo, hi] into *v (absent: def); 0, or -1 after a
 * 400 naming it. */
static int query_num(struct req *r, const char *key, long def, long lo, long hi, long *v)
{
    const char *s = query(r, key);
    char *end;
    errno = 0;
    *v = s ? strtol(s, &end, 10) : def;
    if (s && (errno || end == s || *end || *v < lo || *v > hi)) {
        reply_error(r, 400, "invalid_query", key, "%s must be a whole number from %ld to %ld", key,
                    lo, hi);
        return -1;
    }
    return 0;
}

static int64_t num_id(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v <= 0 || s[0] == '+' || s[0] == '-')
        return 0;
    return v;
}

/* Start a loyalty job for r; the request's hash covers method, path, body. */
static void loy_submit(struct req *r, int op)
{
    struct pt_loy_req *q = &r->loy;
    q->op = op;
    if (req_idem(r, &q->idem, q->hash))
        return;
    memset(&r->job, 0, sizeof r->job);
    r->job.kind = PT_JOB_LOYALTY;
    r->job.shop = r->shop;
    r->job.loy = q;
    submit_job(r);
}

void route_loyalty_done(struct req *r)
{
    struct pt_job *j = &r->job;
    if (j->rc) {
        r->retry_after = 1;
        reply_error(r, 503, "store_failed", NULL, "%s; nothing was written, retry", j->msg);
        return;
    }
    reply_body(r, (unsigned)r->loy.status, &r->loy.out);
    if (r->loy.replayed)
        r->replayed = 1;
    if (r->loy.op == PT_LOYOP_VOUCHER_USE && r->loy.status == 404)
        http_voucher_fail(r->h, r->shop); /* an unknown code counts as a failed look-up */
}

void route_loyalty_release(struct req *r)
{
    pt_buf_release(&r->loy.out);
    pt_free(r->loy_codes);
    pt_loy_batch_release(&r->loy_batch);
    if (r->loy_import) {
        pt_loy_import_release(r->loy_import);
        pt_free(r->loy_import);
    }
}

/* A JSON object body: {"points": n, "reason": s, "kind": "earn"|"adjust"}. */
static void member_points(struct req *r)
{
    json_error_t je;
    json_t *o = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &je);
    json_t *p = json_object_get(o, "points"), *re = json_object_get(o, "reason"),
           *k = json_object_get(o, "kind");
    const char *ks = k ? json_string_value(k) : "adjust";
    if (!json_is_object(o))
        reply_error(r, 400, "invalid_json", NULL, "the body must be a JSON object%s%s",
                    o ? "" : ": ", o ? "" : je.text);
    else if (!json_is_integer(p) || json_integer_value(p) == 0 ||
             json_integer_value(p) > PT_LOY_MAX_POINTS ||
             json_integer_value(p) < -PT_LOY_MAX_POINTS)
        reply_error(r, 400, "invalid_field", "points",
                    "points must be a non-zero integer within +-%lld", PT_LOY_MAX_POINTS);
    else if (ks == NULL || (strcmp(ks, "earn") != 0 && strcmp(ks, "adjust") != 0))
        reply_error(r, 400, "invalid_field", "kind", "kind must be \"earn\" or \"adjust\"");
    else if (strcmp(ks, "earn") == 0 && json_integer_value(p) < 0)
        reply_error(r, 400, "invalid_field", "points", "earned points must be positive");
    else if (re &&
             (!json_is_string(re) || json_string_length(re) == 0 || json_string_length(re) > 200))
        reply_error(r, 400, "invalid_field", "reason", "reason must be a string of 1 to 200 bytes");
    else {
        r->loy.user_id = r->id;
        r->loy.points = json_integer_value(p);
        r->loy.kind = strcmp(ks, "earn") == 0 ? PT_LOY_EARN : PT_LOY_ADJUST;
        /* the reason outlives the JSON: keep it in r->id's tail? copy into the arena */
        r->loy.reason =
            re ? pt_evbatch_strdup(&r->batch, json_string_value(re), json_string_length(re)) : NULL;
        json_decref(o);
        loy_submit(r, PT_LOYOP_POINTS);
        return;
    }
    json_decref(o);
}

static void redeem(struct req *r)
{
    json_t *o = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
    json_t *w = json_object_get(o, "reward_id");
    if (!json_is_integer(w) || json_integer_value(w) <= 0) {
        reply_error(r, 400, "invalid_field", "reward_id",
                    "the body must be {\"reward_id\": a reward's id}");
        json_decref(o);
        return;
    }
    r->loy.user_id = r->id;
    r->loy.id = json_integer_value(w);
    json_decref(o);
    loy_submit(r, PT_LOYOP_REDEEM);
}

/* ---- reads ---- */

static int add_entry(void *ctx, const struct pt_loy_entry *en)
{
    struct pt_buf *b = ctx;
    static const char *const kinds[] = {"", "earn", "redeem", "expire", "adjust", "reverse"};
    if (b->data[b->len - 1] == '}')
        pt_buf_addc(b, ',');
    pt_buf_printf(b, "{\"id\":%lld,\"kind\":\"%s\",\"points\":%lld,\"at\":", (long long)en->id,
                  en->kind >= 1 && en->kind <= 5 ? kinds[en->kind] : "?", (long long)en->points);
    fmt_time(b, en->t);
    pt_buf_adds(b, ",\"expires\":");
    fmt_time(b, en->expires);
    pt_buf_adds(b, ",\"reason\":");
    json_str(b, en->reason);
    pt_buf_adds(b, ",\"ref\":");
    json_str(b, en->ref);
    return pt_buf_addc(b, '}') ? PT_ENOMEM : 0;
}

static void history(struct req *r)
{
    int64_t row;
    if (pt_engine_loy_member_row(r->h->g, r->shop, r->id, &row)) {
        reply_error(r, 404, "not_found", NULL, "\"%s\" is not a member", r->id);
        return;
    }
    const char *bef = query(r, "before");
    long limit;
    if (query_num(r, "limit", 50, 1, 1000, &limit))
        return;
    int64_t before = bef ? num_id(bef) : 0;
    if (bef && before == 0) {
        reply_error(r, 400, "invalid_query", "before", "before must be an entry id");
        return;
    }
    struct pt_store *rd = pt_engine_reader(r->h->g);
    struct pt_err e;
    pt_buf_reset(&r->out);
    pt_buf_adds(&r->out, "{\"entries\":[");
    size_t start = r->out.len;
    int rc =
        rd ? pt_store_loy_history(rd, row, before, (int)limit, add_entry, &r->out, &e) : PT_EIO;
    if (rc) {
        reply_error(r, 500, "store_failed", NULL, "%s", rd ? e.msg : "no reader");
        return;
    }
    /* next page: the smallest id listed */
    long long last = 0, n = 0;
    pt_buf_addc(&r->out, '\0'); /* (for strstr; dropped below) */
    r->out.len--;
    for (const char *q = r->out.data + start; (q = strstr(q, "{\"id\":")) != NULL; q += 6) {
        last = strtoll(q + 6, NULL, 10);
        n++;
    }
    pt_buf_printf(&r->out, "],\"next_before\":");
    if (n == limit)
        pt_buf_printf(&r->out, "%lld}", last);
    else
        pt_buf_adds(&r->out, "null}");
    r->code = 200;
    r->state = ST_READY;
}

static void qr(struct req *r)
{
    struct pt_buf link;
    pt_buf_init(&link);
    if (pt_engine_loy_referral_link(r->h->g, r->shop, r->id, &link)) {
        pt_buf_release(&link);
        reply_error(r, 404, "not_found", NULL, "\"%s\" is not a member", r->id);
        return;
    }
    long scale;
    if (query_num(r, "scale", 8, 1, 32, &scale)) {
        pt_buf_release(&link);
        return;
    }
    struct pt_err e;
    pt_buf_reset(&r->out);
    int rc = pt_qr_png(link.data, link.len, (int)scale, &r->out, &e);
    pt_buf_release(&link);
    if (rc) {
        reply_error(r, rc == PT_EINVAL ? 422 : 500, "qr_failed", NULL, "%s", e.msg);
        return;
    }
    r->ctype = "image/png";
    r->code = 200;
    r->state = ST_READY;
}

/* 429: the key's failed look-ups are over its allowance. */
static void reply_limited(struct req *r)
{
    r->retry_after = vl_retry(r->h);
    reply_error(r, 429, "rate_limited", NULL,
                "too many failed voucher look-ups from this key; slow down");
}

/* The voucher code in r->id, normalised; 0 or a 4xx reply already made. */
static int voucher_code(struct req *r, char canon[PT_CODE_LEN + 1])
{
    struct pt_err e;
    if (pt_code_normalize(r->id, strlen(r->id), NULL, canon, &e) == 0)
        return 0;
    if (http_voucher_fail(r->h, r->shop)) {
        reply_limited(r);
    } else {
        reply_error(r, 404, "not_found", NULL, "not a voucher code: %s", e.msg);
    }
    return -1;
}

static void voucher_get(struct req *r)
{
    char canon[PT_CODE_LEN + 1];
    if (http_voucher_blocked(r->h, r->shop)) {
        reply_limited(r);
        return;
    }
    if (voucher_code(r, canon))
        return;
    struct pt_store *rd = pt_engine_reader(r->h->g);
    struct pt_voucher_row v;
    struct pt_err e;
    int rc = rd ? pt_store_voucher_get(rd, r->shop, canon, &v, &e) : PT_EIO;
    if (rc == PT_ENOTFOUND) {
        if (http_voucher_fail(r->h, r->shop)) {
            reply_limited(r);
        } else {
            reply_error(r, 404, "not_found", NULL, "no such voucher code");
        }
        return;
    }
    if (rc) {
        reply_error(r, 500, "store_failed", NULL, "%s", rd ? e.msg : "no reader");
        return;
    }
    int64_t now = pt_engine_clock(r->h->g);
    const char *state = v.expires && now >= v.expires            ? "expired"
                        : v.max_uses > 0 && v.uses >= v.max_uses ? "used_up"
                                                                 : "valid";
    char code[PT_CODE_PRINT_MAX];
    pt_code_print(v.code, NULL, code);
    struct pt_buf *b = &r->out;
    pt_buf_reset(b);
    pt_buf_printf(b,
                  "{\"code\":\"%s\",\"valid\":%s,\"state\":\"%s\",\"type\":\"%s\",\"value\":%lld,"
                  "\"currency\":",
                  code, state[0] == 'v' ? "true" : "false", state, pt_voucher_kind_name(v.kind),
                  (long long)v.value);
    json_str(b, v.currency[0] ? v.currency : NULL);
    pt_buf_printf(b, ",\"uses\":%lld,\"max_uses\":%lld,\"expires\":", (long long)v.uses,
                  (long long)v.max_uses);
    fmt_time(b, v.expires);
    pt_buf_adds(b, "}");
    r->code = 200;
    r->state = ST_READY;
}

static void voucher_redeem(struct req *r)
{
    char canon[PT_CODE_LEN + 1];
    if (http_voucher_blocked(r->h, r->shop)) {
        reply_limited(r);
        return;
    }
    if (voucher_code(r, canon))
        return;
    json_t *o =
        json_loadb(r->body.data ? r->body.data : "{}", r->body.len ? r->body.len : 2, 0, NULL);
    json_t *oid = json_object_get(o, "order_id");
    if (!json_is_object(o) || (oid && (!json_is_string(oid) || json_string_length(oid) == 0 ||
                                       json_string_length(oid) > PT_EV_MAX_ID))) {
        json_decref(o);
        reply_error(r, 400, "invalid_field", "order_id",
                    "the body must be {\"order_id\": the order the voucher pays for}");
        return;
    }
    if (oid == NULL &&
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Idempotency-Key") == NULL) {
        json_decref(o);
        reply_error(r, 400, "missing_field", "order_id",
                    "give order_id or an Idempotency-Key header, so a retry is not a second use");
        return;
    }
    char *c = pt_evbatch_strdup(&r->batch, canon, strlen(canon));
    r->loy.code = c;
    r->loy.order_id =
        oid ? pt_evbatch_strdup(&r->batch, json_string_value(oid), json_string_length(oid)) : NULL;
    json_decref(o);
    if (c == NULL) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    loy_submit(r, PT_LOYOP_VOUCHER_USE);
}

static int cmp_code(const void *a, const void *b)
{
    return memcmp(a, b, PT_CODE_LEN);
}

static void pools(struct req *r)
{
    if (r->id[0]) { /* GET /v1/voucher-pools/{id}/codes.csv */
        int64_t id = num_id(r->id);
        struct pt_store *rd = pt_engine_reader(r->h->g);
        pt_buf_reset(&r->out);
        pt_buf_adds(&r->out, "code,type,value,currency,max_uses,uses,expires\n");
        struct pt_err e;
        snprintf(e.msg, sizeof e.msg, "no reader connection");
        size_t head = r->out.len;
        int rc = id && rd ? pt_store_voucher_pool_codes(rd, r->shop, id, http_pool_row, &r->out, &e)
                 : rd     ? 0
                          : PT_EIO;
        if (rc) {
            reply_error(r, 500, "store_failed", NULL, "%s", e.msg);
        } else if (r->out.len == head) {
            reply_error(r, 404, "not_found", NULL, "no code pool %s", r->id);
        } else {
            r->ctype = "text/csv; charset=utf-8";
            r->code = 200;
            r->state = ST_READY;
        }
        return;
    }
    json_t *o = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
    json_t *n = json_object_get(o, "count"), *nm = json_object_get(o, "name");
    struct pt_voucher_spec spec;
    char field[64];
    struct pt_err pe;
    if (json_object_get(o, "prefix")) {
        reply_error(r, 400, "invalid_field", "prefix",
                    "prefixed codes are not supported yet (docs/loyalty.md)");
    } else if (!json_is_integer(n) || json_integer_value(n) < 1 ||
               json_integer_value(n) > MAX_POOL) {
        reply_error(r, 400, "invalid_field", "count", "count must be 1 to %d codes", MAX_POOL);
    } else if (!json_is_string(nm) || json_string_length(nm) == 0 || json_string_length(nm) > 200) {
        reply_error(r, 400, "invalid_field", "name", "name must be a string of 1 to 200 bytes");
    } else if (pt_voucher_spec_parse(o, "", 1, &spec, field, &pe)) {
        reply_error(r, 400, "invalid_pool", field, "%s", pe.msg);
    } else {
        size_t cnt = (size_t)json_integer_value(n);
        if (pt_code_batch(cnt, NULL, NULL, &r->loy_codes)) {
            reply_error(r, 500, "internal", NULL, "out of memory");
        } else {
            /* in code order: the store's B-tree then fills from left to right */
            qsort(r->loy_codes, cnt, PT_CODE_LEN + 1, cmp_code);
            r->loy.codes = r->loy_codes;
            r->loy.n = cnt;
            r->loy.json = r->body.data;
            r->loy.len = r->body.len;
            json_decref(o);
            loy_submit(r, PT_LOYOP_POOL);
            return;
        }
    }
    json_decref(o);
}

static void import_members(struct req *r)
{
    r->loy_import = pt_calloc(1, sizeof *r->loy_import);
    struct pt_err e;
    if (r->loy_import == NULL) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    int rc = pt_loy_import_parse(r->body.data ? r->body.data : "", r->body.len, r->loy_import, &e);
    if (rc) {
        char field[32];
        snprintf(field, sizeof field, "line %llu", (unsigned long long)e.line);
        reply_error(r,
                    rc == PT_ENOMEM    ? 500
                    : rc == PT_ETOOBIG ? 413
                                       : 400,
                    "invalid_import", field, "%s", e.msg);
        return;
    }
    r->loy.rows = r->loy_import->rows;
    r->loy.n = r->loy_import->n;
    loy_submit(r, PT_LOYOP_IMPORT);
}

void route_loyalty(struct req *r)
{
    struct pt_engine *g = r->h->g;
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    int del = strcmp(r->method, "DELETE") == 0;
    pt_buf_init(&r->loy.out);
    struct pt_buf b;
    pt_buf_init(&b);
    switch (r->route) {
    case R_LOY_PROGRAM:
        if (get) {
            if (pt_engine_loy_program(g, r->shop, &b))
                reply_error(r, 404, "not_found", NULL, "the shop has no loyalty programme yet");
            else
                reply_body(r, 200, &b);
        } else {
            r->loy.json = r->body.data ? r->body.data : "";
            r->loy.len = r->body.len;
            loy_submit(r, PT_LOYOP_PROGRAM);
        }
        break;
    case R_LOY_REPORT: {
        long top;
        if (query_num(r, "top", 10, 0, 1000, &top))
            break;
        int rc = pt_engine_loy_report(g, r->shop, (int)top, &b);
        if (rc == PT_ENOTFOUND)
            reply_error(r, 404, "not_found", NULL, "the shop has no loyalty programme yet");
        else if (rc)
            reply_error(r, 500, "store_failed", NULL, "the report could not be read");
        else
            reply_body(r, 200, &b);
        break;
    }
    case R_LOY_MEMBER:
        if (get) {
            if (pt_engine_loy_member(g, r->shop, r->id, &b))
                reply_error(r, 404, "not_found", NULL, "\"%s\" is not a member", r->id);
            else
                reply_body(r, 200, &b);
        } else {
            r->loy.user_id = r->id;
            loy_submit(r, PT_LOYOP_ENROL);
        }
        break;
    case R_LOY_HISTORY:
        history(r);
        break;
    case R_LOY_QR:
        qr(r);
        break;
    case R_LOY_POINTS:
        if (r->id[0]) {
            member_points(r);
        } else { /* parsed here, on the HTTP thread, not on the writer's */
            char field[64], msg[256];
            int rc = pt_loy_batch_parse(r->body.data ? r->body.data : "", r->body.len,
                                        &r->loy_batch, field, msg);
            if (rc)
                reply_error(r, rc == PT_ENOMEM ? 500 : 400,
                            rc == PT_ENOMEM                    ? "internal"
                            : strncmp(msg, "the body", 8) == 0 ? "invalid_json"
                                                               : "invalid_field",
                            field, "%s", rc == PT_ENOMEM ? "out of memory" : msg);
            else {
                r->loy.batch = &r->loy_batch;
                loy_submit(r, PT_LOYOP_BATCH);
            }
        }
        break;
    case R_LOY_REDEEM:
        redeem(r);
        break;
    case R_LOY_REWARDS: {
        int64_t id = r->id[0] ? num_id(r->id) : 0;
        if (r->id[0] && id == 0) {
            reply_error(r, 404, "not_found", NULL, "no reward with id \"%s\"", r->id);
        } else if (get) {
            if (pt_engine_loy_rewards(g, r->shop, id, &b))
                reply_error(r, 404, "not_found", NULL, "no reward with id %lld", (long long)id);
            else
                reply_body(r, 200, &b);
        } else {
            r->loy.id = id;
            r->loy.del = del;
            r->loy.json = r->body.data ? r->body.data : "";
            r->loy.len = r->body.len;
            loy_submit(r, PT_LOYOP_REWARD);
        }
        break;
    }
    case R_LOY_IMPORT:
        import_members(r);
        break;
    case R_VOUCHER:
        voucher_get(r);
        break;
    case R_VOUCHER_REDEEM:
        voucher_redeem(r);
        break;
    case R_VOUCHER_POOLS:
        pools(r);
        break;
    default:
        reply_error(r, 404, "not_found", NULL, "no such route");
        break;
    }
    pt_buf_release(&b);
}
