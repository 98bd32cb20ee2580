/*
 * routes_events.c - POST /v1/track|identify|alias|page|screen|group|batch and
 * the CSV import's answer.
 */
#include <string.h>
#include <time.h>

#include "http/http_int.h"
#include "util/mem.h"

void route_events(struct req *r)
{
    static const enum pt_ev_type type_of[] = {
        [R_TRACK] = PT_EV_TRACK, [R_IDENTIFY] = PT_EV_IDENTIFY, [R_ALIAS] = PT_EV_ALIAS,
        [R_PAGE] = PT_EV_PAGE,   [R_SCREEN] = PT_EV_SCREEN,     [R_GROUP] = PT_EV_GROUP,
        [R_BATCH] = 0};
    const char *p = query(r, "partial");
    r->partial = r->route == R_BATCH && p && strcmp(p, "1") == 0;
    if (r->body.len == 0) {
        reply_error(r, 400, "invalid_json", NULL, "the body is empty; a JSON object is expected");
        return;
    }
    r->orig = pt_alloc_array(PT_EV_MAX_BATCH, sizeof *r->orig);
    if (r->partial)
        r->bad = pt_alloc_array(PT_EV_MAX_BATCH, sizeof *r->bad);
    if (r->orig == NULL || (r->partial && r->bad == NULL)) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    struct pt_everr err;
    int rc = pt_events_decode(r->body.data, r->body.len, type_of[r->route], (int64_t)time(NULL),
                              r->partial, &r->batch, r->orig, r->bad, PT_EV_MAX_BATCH, &r->nbad,
                              &err);
    if (rc) {
        unsigned code = rc == PT_ETOOBIG ? 413 : rc == PT_ENOMEM ? 500 : 400;
        reply_error(r, code, err.code, err.field, "%s", err.message);
        return;
    }
    if (r->batch.n == 0) { /* partial, every event bad */
        route_events_done(r);
        return;
    }
    submit_events(r);
}

static const char *status_name(uint8_t s)
{
    return s == PT_EV_ACCEPTED ? "accepted" : s == PT_EV_DUPLICATE ? "duplicate" : "rejected";
}

static void bad_json(struct pt_buf *b, const struct pt_everr *e)
{
    pt_buf_printf(b, "{\"index\":%d,\"status\":\"rejected\",\"error\":{\"code\":", e->index);
    json_str(b, e->code);
    pt_buf_adds(b, ",\"message\":");
    json_str(b, e->message);
    pt_buf_adds(b, ",\"field\":");
    json_str(b, e->field[0] ? e->field : NULL);
    pt_buf_adds(b, "}}");
}

void route_events_done(struct req *r)
{
    struct pt_buf *b = &r->out;
    pt_buf_reset(b);
    if (r->job.kind && r->job.rc) {
        reply_error(r, 500, "store_failed", NULL, "%s", r->job.msg);
        return;
    }
    r->code = 200;
    r->state = ST_READY;
    if (r->route == R_IMPORT_ORDERS) {
        pt_buf_printf(b, "{\"rows\":%llu,\"orders\":%llu,\"accepted\":%zu,\"duplicates\":%zu}",
                      (unsigned long long)r->import_rows, (unsigned long long)r->import_orders,
                      r->job.accepted, r->job.duplicates);
        return;
    }
    if (r->route != R_BATCH) {
        pt_buf_printf(b, "{\"success\":true,\"status\":\"%s\"}", status_name(r->status[0]));
        return;
    }
    pt_buf_printf(b, "{\"success\":true,\"accepted\":%zu,\"duplicates\":%zu,\"rejected\":%zu,"
                     "\"results\":[",
                  r->job.accepted, r->job.duplicates, r->nbad);
    size_t gi = 0, bi = 0, k = 0;
    while (gi < r->batch.n || bi < r->nbad) {
        if (k++)
            pt_buf_addc(b, ',');
        if (bi < r->nbad && (gi >= r->batch.n || r->bad[bi].index < r->orig[gi])) {
            bad_json(b, &r->bad[bi++]);
            continue;
        }
        const struct pt_event *ev = &r->batch.ev[gi];
        pt_buf_printf(b, "{\"index\":%d,\"messageId\":", r->orig[gi]);
        json_str(b, ev->message_id);
        pt_buf_printf(b, ",\"status\":\"%s\"}", status_name(r->status[gi]));
        gi++;
    }
    pt_buf_adds(b, "]}");
}
