/*
 * routes_import.c - POST /v1/import/orders: the CSV of `patron rfm` (any of
 * its layouts) as Order Completed events, all or nothing, idempotent by
 * order id. The body is spooled to a file, parsed by ingest (line-numbered
 * errors), then written in one engine job (one transaction).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "http/http_int.h"
#include "ingest/orders.h"
#include "util/mem.h"
#include "util/timeutil.h"

struct import_ctx {
    struct req *r;
};

static int take(void *ctx, const struct pt_order *o, size_t n, struct pt_err *e)
{
    struct import_ctx *c = ctx;
    struct pt_evbatch *b = &c->r->batch;
    for (size_t i = 0; i < n; i++) {
        if (o[i].flags & PT_ORDER_CANCEL)
            continue; /* cancellations are money-only rows of UCI files: not orders */
        if (b->n == b->cap) {
            size_t nc = b->cap ? b->cap * 2 : 1024;
            struct pt_event *x = pt_realloc_array(b->ev, nc, sizeof *x);
            if (x == NULL)
                return pt_err_set(e, PT_ENOMEM, "out of memory");
            b->ev = x;
            b->cap = nc;
        }
        struct pt_event *ev = &b->ev[b->n];
        memset(ev, 0, sizeof *ev);
        ev->type = PT_EV_TRACK;
        ev->kind = PT_K_ORDER_COMPLETED;
        ev->name = "Order Completed";
        ev->user_id = pt_evbatch_strdup(b, o[i].cid, o[i].cid_len);
        ev->order_id = o[i].oid ? pt_evbatch_strdup(b, o[i].oid, o[i].oid_len) : NULL;
        ev->t = o[i].t;
        int64_t a = o[i].amount; /* in 10^-scale units; rescaled after the run */
        ev->amount = a;
        ev->has_amount = 1;
        if (ev->user_id == NULL || ev->order_id == NULL)
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        if (ev->user_id[0] == '\0' || o[i].cid_len > PT_EV_MAX_ID || o[i].oid_len > PT_EV_MAX_ID)
            return pt_err_set(e, PT_EINVAL, "order %.40s: ids must be 1..%d bytes", ev->order_id,
                              PT_EV_MAX_ID);
        b->n++;
        c->r->import_orders++;
    }
    return 0;
}

/* The stored form of an imported order (after its amount is final). */
static int event_json(struct pt_evbatch *b, struct pt_event *ev, struct pt_err *e)
{
    char ts[24];
    pt_format_utc(ev->t, ts);
    struct pt_buf j;
    pt_buf_init(&j);
    pt_buf_adds(&j, "{\"type\":\"track\",\"event\":\"Order Completed\",\"userId\":");
    json_str(&j, ev->user_id);
    pt_buf_printf(&j, ",\"timestamp\":\"%s\",\"properties\":{\"order_id\":", ts);
    json_str(&j, ev->order_id);
    pt_buf_printf(&j, ",\"revenue_minor\":%lld},\"context\":{\"source\":\"import\"}}",
                  (long long)ev->amount);
    ev->json = j.data ? pt_evbatch_strdup(b, j.data, j.len) : NULL;
    ev->json_len = j.len;
    pt_buf_release(&j);
    return ev->json ? 0 : pt_err_set(e, PT_ENOMEM, "out of memory");
}

static void restart(void *ctx)
{
    struct import_ctx *c = ctx;
    pt_evbatch_release(&c->r->batch);
    pt_evbatch_init(&c->r->batch);
    c->r->import_orders = 0;
}

void route_import(struct req *r)
{
    if (r->spool == NULL) {
        reply_error(r, 400, "invalid_csv", NULL, "the body is empty; an order CSV is expected");
        return;
    }
    fflush(r->spool);
    struct import_ctx c = {.r = r};
    struct pt_order_sink sink = {.ctx = &c, .batch = take, .reset = restart, .threads = 1};
    const char *layout = query(r, "layout");
    struct pt_ingest_opts o = {.name = "body", .threads = 1};
    if (layout && strcmp(layout, "orders") == 0)
        o.layout = PT_LAYOUT_ORDERS;
    else if (layout && strcmp(layout, "uci") == 0)
        o.layout = PT_LAYOUT_UCI;
    else if (layout && strcmp(layout, "uci2") == 0)
        o.layout = PT_LAYOUT_UCI2;
    else if (layout && strcmp(layout, "auto") != 0) {
        reply_error(r, 400, "invalid_field", "layout", "layout must be auto, orders, uci or uci2");
        return;
    }
    struct pt_ingest_stats st;
    struct pt_err e;
    memset(&st, 0, sizeof st);
    pt_err_clear(&e);
    int fd = fileno(r->spool);
    lseek(fd, 0, SEEK_SET);
    int rc = pt_ingest_orders(fd, &o, &sink, &st, &e);
    r->import_rows = st.rows;
    if (rc == 0 && st.scale == 3) {
        /* UCI amounts are thousandths: to cents, half away from zero */
        for (size_t i = 0; i < r->batch.n; i++) {
            int64_t a = r->batch.ev[i].amount;
            r->batch.ev[i].amount = (a >= 0 ? a + 5 : a - 5) / 10;
        }
    }
    for (size_t i = 0; rc == 0 && i < r->batch.n; i++)
        rc = event_json(&r->batch, &r->batch.ev[i], &e);
    if (rc) {
        char field[64] = "";
        const char *f = strstr(e.msg, "field '");
        if (f) {
            f += 7;
            size_t n = strcspn(f, "'");
            snprintf(field, sizeof field, "%.*s", (int)(n < 60 ? n : 60), f);
        }
        reply_error(r, rc == PT_ENOMEM ? 500 : 400, "invalid_csv", field, "%s", e.msg);
        if (e.line)
            r->out.len -= 2, pt_buf_printf(&r->out, ",\"line\":%llu,\"column\":%llu}}",
                                           (unsigned long long)e.line,
                                           (unsigned long long)e.column);
        return;
    }
    if (r->batch.n == 0) {
        reply_error(r, 400, "invalid_csv", NULL, "the CSV holds no orders");
        return;
    }
    submit_events(r);
}
