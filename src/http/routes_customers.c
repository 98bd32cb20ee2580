/*
 * routes_customers.c - GET/DELETE /v1/customers/{id}, .../export,
 * .../unmerge, GET /v1/customers (cursor pages).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"
#include "rfm/rfm.h"
#include "store/store.h"
#include "util/mem.h"

static void money(struct pt_buf *b, const char *name, int64_t v)
{
    pt_buf_printf(b, "\"%s\":%lld", name, (long long)v);
}

/* Live CLV predictions of a profile, or null before the shop's first fit. */
static void clv_json(struct pt_buf *b, const struct pt_profile *p)
{
    if (!p->has_clv) {
        pt_buf_adds(b, "null");
        return;
    }
    pt_buf_printf(b,
                  "{\"p_alive\":%.6f,\"expected_orders_90d\":%.6f,"
                  "\"expected_orders_365d\":%.6f,\"clv_365d_minor\":",
                  p->clv_p_alive, p->clv_exp90, p->clv_exp365);
    if (p->clv_value365 >= 0)
        pt_buf_printf(b, "%lld", (long long)p->clv_value365);
    else
        pt_buf_adds(b, "null");
    pt_buf_adds(b, ",\"expected_order_value_minor\":");
    if (p->clv_aov >= 0)
        pt_buf_printf(b, "%lld", (long long)p->clv_aov);
    else
        pt_buf_adds(b, "null");
    pt_buf_adds(b, ",\"next_order_at\":");
    fmt_time(b, p->clv_next_t);
    pt_buf_adds(b, ",\"model_fitted_at\":");
    fmt_time(b, p->clv_fitted_at);
    pt_buf_addc(b, '}');
}

/* GET /v1/clv: the shop's live models. */
void route_clv(struct req *r)
{
    struct pt_clv_live m;
    if (pt_engine_clv_model(r->h->g, r->shop, &m)) {
        reply_error(r, 404, "not_fitted", NULL,
                    "no CLV model for this shop yet: it is fitted when the shop has at least two "
                    "customers with orders, at start and every --clv-refit seconds");
        return;
    }
    struct pt_buf *b = &r->out;
    pt_buf_reset(b);
    pt_buf_adds(b, "{\"fitted_at\":");
    fmt_time(b, m.fitted_at);
    pt_buf_printf(b,
                  ",\"customers\":%zu,\"time_unit\":\"week\",\"bgnbd\":{\"params\":{\"r\":%.10g,"
                  "\"alpha\":%.10g,\"a\":%.10g,\"b\":%.10g},\"log_likelihood\":%.10g},"
                  "\"gamma_gamma\":",
                  m.customers, m.bg.v[0], m.bg.v[1], m.bg.v[2], m.bg.v[3], m.bg_ll);
    if (m.has_gg)
        pt_buf_printf(b, "{\"params\":{\"p\":%.10g,\"q\":%.10g,\"gamma\":%.10g},"
                         "\"mean_order_value_minor\":%.2f}}",
                      m.gg.p, m.gg.q, m.gg.gamma, pt_gg_mean(&m.gg, 0, 0));
    else
        pt_buf_adds(b, "null}");
    r->code = 200;
    r->state = ST_READY;
}

static int add_tag(void *ctx, const char *tag)
{
    struct pt_buf *b = ctx;
    json_str(b, tag);
    return pt_buf_addc(b, ',');
}

/* The profile object (without the closing brace) into b. */
static int profile_json(struct req *r, const struct pt_profile *p, int full, struct pt_buf *b)
{
    struct pt_store *s = pt_engine_reader(r->h->g);
    struct pt_err e;
    if (s == NULL)
        return PT_EIO;
    pt_buf_adds(b, "{\"id\":");
    json_str(b, p->user_id);
    pt_buf_printf(b, ",\"anonymous\":%s,\"identities\":%zu", p->anonymous ? "true" : "false",
                  p->nrows);
    if (full) {
        pt_buf_adds(b, ",\"traits\":");
        if (pt_store_traits_json(s, p->rows, p->nrows, b, &e))
            return PT_EIO;
        /* tags automations gave the customer (docs/automation.md, "tag") */
        pt_buf_adds(b, ",\"tags\":[");
        size_t at = b->len;
        if (pt_store_tags(s, p->root, add_tag, b, &e))
            return PT_EIO;
        if (b->len > at)
            b->len--; /* the last comma */
        pt_buf_addc(b, ']');
    }
    pt_buf_adds(b, ",\"consents\":{");
    for (unsigned i = 0; i < 3; i++) {
        unsigned bit = 1u << i;
        pt_buf_printf(b, "%s\"%s\":%s", i ? "," : "", pt_consent_name(i),
                      !(p->consent_set & bit) ? "null" : (p->consent & bit) ? "true" : "false");
    }
    pt_buf_printf(b, "},\"aggregates\":{\"orders\":%u,\"first_order_at\":", p->orders);
    fmt_time(b, p->orders ? p->first_t : 0);
    pt_buf_adds(b, ",\"last_order_at\":");
    fmt_time(b, p->orders ? p->last_t : 0);
    int64_t net = p->revenue - p->refunded;
    pt_buf_addc(b, ',');
    money(b, "revenue_minor", net);
    pt_buf_addc(b, ',');
    money(b, "gross_revenue_minor", p->revenue);
    pt_buf_addc(b, ',');
    money(b, "refunded_minor", p->refunded);
    pt_buf_addc(b, ',');
    if (p->orders) {
        int64_t aov = (net >= 0 ? net + (int64_t)p->orders / 2 : net - (int64_t)p->orders / 2) /
                      (int64_t)p->orders;
        money(b, "average_order_value_minor", aov);
    } else {
        pt_buf_adds(b, "\"average_order_value_minor\":null");
    }
    if (p->orders >= 2)
        pt_buf_printf(b, ",\"average_days_between_orders\":%.2f",
                      (double)(p->last_t - p->first_t) / 86400.0 / (double)(p->orders - 1));
    else
        pt_buf_adds(b, ",\"average_days_between_orders\":null");
    if (p->orders)
        pt_buf_printf(b, ",\"days_since_last_order\":%lld",
                      (long long)((p->now - p->last_t) / 86400));
    else
        pt_buf_adds(b, ",\"days_since_last_order\":null");
    pt_buf_printf(b, ",\"cart\":{\"value_minor\":%lld,\"since\":", (long long)p->cart_value);
    fmt_time(b, p->cart_value ? p->cart_since : 0);
    pt_buf_adds(b, ",\"updated_at\":");
    fmt_time(b, p->cart_t);
    if (p->cart_value)
        pt_buf_printf(b, ",\"age_minutes\":%lld}",
                      (long long)((p->now - p->cart_since) / 60 > 0 ? (p->now - p->cart_since) / 60
                                                                     : 0));
    else
        pt_buf_adds(b, ",\"age_minutes\":null}");
    if (full) {
        pt_buf_adds(b, ",\"favourite_categories\":");
        if (pt_store_categories_json(s, p->rows, p->nrows, 3, b, &e))
            return PT_EIO;
    }
    pt_buf_adds(b, "},\"rfm\":");
    if (p->has_rfm) {
        pt_buf_printf(b,
                      "{\"recency_days\":%d,\"frequency\":%u,\"monetary_minor\":%lld,\"r\":%d,"
                      "\"f\":%d,\"m\":%d,\"score\":\"%d%d%d\",\"segment\":",
                      p->recency_days, p->orders, (long long)net, p->r, p->f, p->m, p->r, p->f,
                      p->m);
        json_str(b, pt_rfm_segment_names[p->seg]);
        pt_buf_addc(b, '}');
    } else {
        pt_buf_adds(b, "null");
    }
    pt_buf_adds(b, ",\"clv\":");
    clv_json(b, p);
    if (full) {
        const char *lim = query(r, "timeline");
        char *end = NULL;
        long n = lim ? strtol(lim, &end, 10) : 20;
        if (lim && (*end || n < 0 || n > 1000))
            n = 20;
        pt_buf_adds(b, ",\"timeline\":");
        if (pt_store_timeline_json(s, p->heads, p->nrows, (int)n, b, &e))
            return PT_EIO;
    }
    return 0;
}

static int anon_flag(struct req *r)
{
    const char *a = query(r, "anonymous");
    return a && strcmp(a, "1") == 0;
}

void route_customer(struct req *r)
{
    struct pt_profile *p = pt_malloc(sizeof *p);
    if (p == NULL) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    if (pt_engine_profile(r->h->g, r->shop, r->id, anon_flag(r), p)) {
        pt_free(p);
        reply_error(r, 404, "not_found", "id", "no customer with id \"%.80s\" in this shop", r->id);
        return;
    }
    struct pt_buf *b = &r->out;
    int rc = profile_json(r, p, 1, b);
    if (rc == 0 && r->route == R_EXPORT) {
        struct pt_err e;
        pt_buf_adds(b, ",\"held\":{");
        rc = pt_store_export_json(pt_engine_reader(r->h->g), p->rows, p->heads, p->nrows, b, &e);
        /* the messages automations decided for them (the outbox, newest first) */
        pt_buf_adds(b, ",\"outbox\":");
        if (rc == 0 && p->anonymous)
            pt_buf_adds(b, "null");
        else if (rc == 0)
            rc = pt_engine_outbox(r->h->g, r->shop, -1, 0, p->user_id, 0, 1000, b);
        pt_buf_addc(b, '}');
    }
    pt_buf_addc(b, '}');
    pt_free(p);
    if (rc) {
        reply_error(r, 500, "store_failed", NULL, "reading the profile failed");
        return;
    }
    r->code = 200;
    r->state = ST_READY;
}

void route_customers(struct req *r)
{
    const char *l = query(r, "limit"), *c = query(r, "cursor");
    char *lend = NULL;
    long limit = l ? strtol(l, &lend, 10) : 100;
    if ((l && (*l == '\0' || *lend)) || limit < 1 || limit > 1000) {
        reply_error(r, 400, "invalid_field", "limit", "limit must be 1..1000");
        return;
    }
    int64_t after = 0;
    if (c && *c) {
        char *end;
        after = strtoll(c, &end, 10);
        if (*end || after < 0) {
            reply_error(r, 400, "invalid_field", "cursor", "cursor is not one we gave out");
            return;
        }
    }
    int64_t *ids = pt_alloc_array((size_t)limit + 1, sizeof *ids);
    struct pt_profile *p = pt_malloc(sizeof *p);
    struct pt_store *s = pt_engine_reader(r->h->g);
    int n = 0;
    struct pt_err e;
    if (!ids || !p || !s || pt_store_customer_page(s, r->shop, after, (int)limit + 1, ids, &n, &e)) {
        pt_free(ids);
        pt_free(p);
        reply_error(r, 500, "internal", NULL, "listing customers failed");
        return;
    }
    struct pt_buf *b = &r->out;
    pt_buf_adds(b, "{\"customers\":[");
    int shown = n > limit ? (int)limit : n, k = 0;
    for (int i = 0; i < shown; i++) {
        if (pt_engine_profile_row(r->h->g, r->shop, ids[i], p) || p->root != ids[i])
            continue; /* erased, or merged into another profile (listed as that one) */
        if (k++)
            pt_buf_addc(b, ',');
        profile_json(r, p, 0, b);
        pt_buf_addc(b, '}');
    }
    pt_buf_adds(b, "],\"next_cursor\":");
    if (n > limit)
        pt_buf_printf(b, "\"%lld\"}", (long long)ids[shown - 1]);
    else
        pt_buf_adds(b, "null}");
    pt_free(ids);
    pt_free(p);
    r->code = 200;
    r->state = ST_READY;
}

/* A job on the customer of the path (?anonymous=1: an anonymousId). */
static void customer_job(struct req *r, enum pt_job_kind kind)
{
    memset(&r->job, 0, sizeof r->job);
    r->job.kind = kind;
    r->job.shop = r->shop;
    r->job.user_id = r->id;
    r->job.anonymous = anon_flag(r);
}

void route_unmerge(struct req *r)
{
    customer_job(r, PT_JOB_UNMERGE);
    if (r->body.len) {
        json_error_t je;
        json_t *o = json_loadb(r->body.data, r->body.len, 0, &je);
        if (o == NULL || !json_is_object(o)) {
            json_decref(o);
            reply_error(r, 400, "invalid_json", NULL, "the body must be a JSON object: %s",
                        o ? "not an object" : je.text);
            return;
        }
        json_t *a = json_object_get(o, "anonymousId"), *m = json_object_get(o, "merge_id");
        if (a && !json_is_string(a)) {
            json_decref(o);
            reply_error(r, 400, "invalid_field", "anonymousId", "anonymousId must be a string");
            return;
        }
        if (m && !json_is_integer(m)) {
            json_decref(o);
            reply_error(r, 400, "invalid_field", "merge_id", "merge_id must be an integer");
            return;
        }
        if (a)
            r->job.anonymous_id = pt_evbatch_strdup(&r->batch, json_string_value(a),
                                                    json_string_length(a));
        if (m)
            r->job.merge_id = (int64_t)json_integer_value(m);
        json_decref(o);
    }
    submit_job(r);
}

void route_erase(struct req *r)
{
    customer_job(r, PT_JOB_ERASE);
    submit_job(r);
}

void route_job_done(struct req *r)
{
    struct pt_job *j = &r->job;
    if (j->kind == PT_JOB_SEGMENT) {
        route_segment_done(r);
        return;
    }
    if (j->kind == PT_JOB_LOYALTY) {
        route_loyalty_done(r);
        return;
    }
    if (j->kind == PT_JOB_AUTO || r->route >= R_TEMPLATES) {
        route_automation_done(r);
        return;
    }
    if (j->rc == PT_ENOTFOUND) {
        reply_error(r, 404, "not_found", NULL, "%s", j->msg);
        return;
    }
    if (j->rc) {
        reply_error(r, 500, "store_failed", NULL, "%s", j->msg);
        return;
    }
    pt_buf_reset(&r->out);
    if (j->kind == PT_JOB_ERASE)
        pt_buf_printf(&r->out, "{\"erased\":true,\"identities\":%lld}", (long long)j->out_row);
    else
        pt_buf_adds(&r->out, "{\"unmerged\":true}");
    r->code = 200;
    r->state = ST_READY;
}
