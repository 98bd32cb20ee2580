/*
 * routes_segments.c - /v1/segments: saved rule segments, their members and
 * daily counts, previews of unsaved rules (docs/api.yaml, docs/segments.md).
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"
#include "segment/rule.h"
#include "store/store.h"
#include "util/mem.h"
#include "util/timeutil.h"

#define MAX_NAME 200

static int add_segment(void *ctx, const struct pt_segment_info *s)
{
    struct pt_buf *b = ctx;
    int bad = pt_buf_printf(b, "{\"id\":%lld,\"name\":", (long long)s->id) ||
              json_str(b, s->name) || pt_buf_adds(b, ",\"rule\":") || json_str(b, s->rule) ||
              pt_buf_adds(b, ",\"builtin\":") || json_str(b, s->builtin) ||
              pt_buf_printf(b, ",\"count\":%llu,\"created\":", (unsigned long long)s->count);
    if (bad)
        return PT_ENOMEM;
    fmt_time(b, s->created);
    pt_buf_adds(b, ",\"updated\":");
    fmt_time(b, s->updated);
    return pt_buf_addc(b, '}') ? PT_ENOMEM : 0;
}

static int add_listed(void *ctx, const struct pt_segment_info *s)
{
    struct pt_buf *b = ctx;
    if (b->len && b->data[b->len - 1] == '}' && pt_buf_addc(b, ','))
        return PT_ENOMEM;
    return add_segment(ctx, s);
}

/* The id of /v1/segments/{id}[/...]: > 0, or 0 after a 404 reply. */
static int64_t seg_id(struct req *r)
{
    char *end;
    errno = 0;
    long long v = strtoll(r->id, &end, 10);
    if (errno || *end || v <= 0 || r->id[0] == '+' || r->id[0] == '-') {
        reply_error(r, 404, "not_found", NULL, "no segment with id \"%s\"", r->id);
        return 0;
    }
    return v;
}

static void reply_segment(struct req *r, int64_t id, unsigned code)
{
    pt_buf_reset(&r->out);
    int rc = pt_engine_segment(r->h->g, r->shop, id, add_segment, &r->out);
    if (rc == PT_ENOTFOUND) {
        reply_error(r, 404, "not_found", NULL, "no segment with id %lld", (long long)id);
        return;
    }
    r->code = code;
    r->state = ST_READY;
}

/* Body {"name": ..., "rule": ...}; either may be absent when `partial`. */
static json_t *read_body(struct req *r, int partial, const char **name, const char **rule)
{
    json_error_t je;
    json_t *o = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &je);
    if (o == NULL || !json_is_object(o)) {
        reply_error(r, 400, "invalid_json", NULL, "the body must be a JSON object: %s",
                    o ? "not an object" : je.text);
        json_decref(o);
        return NULL;
    }
    json_t *n = json_object_get(o, "name"), *ru = json_object_get(o, "rule");
    *name = *rule = NULL;
    if ((n && !json_is_string(n)) || (!n && !partial)) {
        reply_error(r, 400, n ? "invalid_field" : "missing_field", "name",
                    "name must be a string");
    } else if (n && (json_string_length(n) == 0 || json_string_length(n) > MAX_NAME ||
                     strlen(json_string_value(n)) != json_string_length(n))) {
        reply_error(r, 400, "invalid_field", "name",
                    "name must be 1 to %d bytes without NUL characters", MAX_NAME);
    } else if ((ru && !json_is_string(ru)) || (!ru && !partial)) {
        reply_error(r, 400, ru ? "invalid_field" : "missing_field", "rule",
                    "rule must be a string in the segment language (docs/segments.md)");
    } else if (ru && strlen(json_string_value(ru)) != json_string_length(ru)) {
        reply_error(r, 400, "invalid_field", "rule", "rule contains a NUL character");
    } else {
        *name = n ? json_string_value(n) : NULL;
        *rule = ru ? json_string_value(ru) : NULL;
        return o;
    }
    json_decref(o);
    return NULL;
}

/* A rule error as 400 with its position. */
static void reply_rule_error(struct req *r, const struct pt_err *e)
{
    pt_buf_reset(&r->out);
    pt_buf_adds(&r->out, "{\"error\":{\"code\":\"invalid_rule\",\"message\":");
    json_str(&r->out, e->msg);
    pt_buf_printf(&r->out, ",\"field\":\"rule\",\"line\":%llu,\"column\":%llu}}",
                  (unsigned long long)e->line, (unsigned long long)e->column);
    r->code = e->code == PT_ETOOBIG ? 413 : 400;
    r->state = ST_READY;
}

static void seg_job(struct req *r, int op, int64_t id, json_t *body, const char *name,
                    const char *rule)
{
    memset(&r->job, 0, sizeof r->job);
    r->job.kind = PT_JOB_SEGMENT;
    r->job.shop = r->shop;
    r->job.seg_op = op;
    r->job.seg_id = id;
    /* the strings outlive the body: copied into the request's arena */
    r->job.seg_name = name ? pt_evbatch_strdup(&r->batch, name, strlen(name)) : NULL;
    r->job.seg_rule = rule ? pt_evbatch_strdup(&r->batch, rule, strlen(rule)) : NULL;
    json_decref(body);
    if ((name && !r->job.seg_name) || (rule && !r->job.seg_rule)) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    submit_job(r);
}

/* The rule is checked here for a precise 400 before queueing: 1, or 0 after
 * the reply (the body is released). */
static int rule_ok(struct req *r, const char *rule, json_t *body)
{
    struct pt_rule ru;
    struct pt_err e;
    memset(&ru, 0, sizeof ru);
    pt_err_clear(&e);
    int rc = pt_rule_parse(rule, strlen(rule), &ru, &e);
    pt_rule_free(&ru);
    if (rc == 0)
        return 1;
    json_decref(body);
    reply_rule_error(r, &e);
    return 0;
}

void route_segments(struct req *r)
{
    if (strcmp(r->method, "POST") == 0) {
        const char *name, *rule;
        json_t *o = read_body(r, 0, &name, &rule);
        if (o == NULL)
            return;
        if (rule_ok(r, rule, o))
            seg_job(r, PT_SEG_CREATE, 0, o, name, rule);
        return;
    }
    pt_buf_reset(&r->out);
    pt_buf_adds(&r->out, "{\"segments\":[");
    pt_engine_segments(r->h->g, r->shop, add_listed, &r->out);
    pt_buf_adds(&r->out, "]}");
    r->code = 200;
    r->state = ST_READY;
}

void route_segment(struct req *r)
{
    int64_t id = seg_id(r);
    if (id == 0)
        return;
    if (strcmp(r->method, "DELETE") == 0) {
        seg_job(r, PT_SEG_DELETE, id, NULL, NULL, NULL);
        return;
    }
    if (strcmp(r->method, "PUT") == 0 || strcmp(r->method, "PATCH") == 0) {
        const char *name, *rule;
        json_t *o = read_body(r, strcmp(r->method, "PATCH") == 0, &name, &rule);
        if (o == NULL)
            return;
        if (rule == NULL || rule_ok(r, rule, o))
            seg_job(r, PT_SEG_UPDATE, id, o, name, rule);
        return;
    }
    reply_segment(r, id, 200);
}

void route_segment_refresh(struct req *r)
{
    int64_t id = 0;
    if (r->id[0] && (id = seg_id(r)) == 0)
        return;
    seg_job(r, PT_SEG_REFRESH, id, NULL, NULL, NULL);
}

void route_segment_done(struct req *r)
{
    struct pt_job *j = &r->job;
    if (j->rc == PT_ENOTFOUND) {
        reply_error(r, 404, "not_found", NULL, "%s", j->msg);
    } else if (j->rc == PT_EPARSE) {
        reply_rule_error(r, &j->seg_err);
    } else if (j->rc == PT_EINVAL) {
        reply_error(r, 409, "builtin", NULL, "%s", j->msg);
    } else if (j->rc) {
        reply_error(r, 500, "store_failed", NULL, "%s", j->msg);
    } else if (j->seg_op == PT_SEG_DELETE) {
        pt_buf_reset(&r->out);
        pt_buf_printf(&r->out, "{\"deleted\":true,\"id\":%lld}", (long long)j->seg_id);
        r->code = 200;
        r->state = ST_READY;
    } else if (j->seg_op == PT_SEG_REFRESH) {
        pt_buf_reset(&r->out);
        pt_buf_adds(&r->out, "{\"refreshed\":true}");
        r->code = 200;
        r->state = ST_READY;
    } else {
        reply_segment(r, j->seg_id, j->seg_op == PT_SEG_CREATE ? 201 : 200);
    }
}

/* ---- members ---- */

struct members {
    struct pt_buf *b;
    int csv, first;
};

static int add_member(void *ctx, const char *cid, size_t len, int anonymous)
{
    struct members *m = ctx;
    int bad;
    if (m->csv) {
        /* ids are ours to quote: double any quote */
        bad = pt_buf_addc(m->b, '"');
        for (size_t i = 0; i < len && !bad; i++)
            bad = (cid[i] == '"' && pt_buf_addc(m->b, '"')) || pt_buf_addc(m->b, cid[i]);
        bad = bad || pt_buf_printf(m->b, "\",%s\r\n", anonymous ? "anonymous" : "user");
    } else {
        bad = (!m->first && pt_buf_addc(m->b, ',')) ||
              pt_buf_adds(m->b, anonymous ? "{\"anonymousId\":" : "{\"userId\":") ||
              pt_buf_add_json_str(m->b, cid, len) || pt_buf_addc(m->b, '}');
    }
    m->first = 0;
    return bad ? PT_ENOMEM : 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || !*s || *s == '-' || *s == '+')
        return -1;
    *out = v;
    return 0;
}

void route_segment_members(struct req *r, int csv)
{
    int64_t id = seg_id(r);
    if (id == 0)
        return;
    uint64_t after = 0, limit = csv ? SIZE_MAX : 100, next = 0;
    const char *c = query(r, "cursor"), *l = query(r, "limit");
    if (c && (parse_u64(c, &after) || after > (uint64_t)UINT32_MAX + 1)) {
        reply_error(r, 400, "invalid_field", "cursor", "cursor must be a value from next_cursor");
        return;
    }
    if (l && (parse_u64(l, &limit) || limit < 1 || limit > 10000)) {
        reply_error(r, 400, "invalid_field", "limit", "limit must be 1 to 10000");
        return;
    }
    pt_buf_reset(&r->out);
    struct members m = {.b = &r->out, .csv = csv, .first = 1};
    if (csv)
        pt_buf_adds(&r->out, "customer_id,kind\r\n");
    else
        pt_buf_adds(&r->out, "{\"members\":[");
    int rc = pt_engine_segment_members(r->h->g, r->shop, id, after, (size_t)limit, add_member,
                                       &m, &next);
    if (rc == PT_ENOTFOUND) {
        reply_error(r, 404, "not_found", NULL, "no segment with id %lld", (long long)id);
        return;
    }
    if (rc) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    if (csv) {
        r->ctype = "text/csv; charset=utf-8";
    } else {
        pt_buf_adds(&r->out, "],\"next_cursor\":");
        if (next)
            pt_buf_printf(&r->out, "\"%llu\"", (unsigned long long)next);
        else
            pt_buf_adds(&r->out, "null");
        pt_buf_addc(&r->out, '}');
    }
    r->code = 200;
    r->state = ST_READY;
}

/* ---- daily counts ---- */

static int add_day(void *ctx, int64_t day, int64_t count)
{
    struct members *m = ctx;
    int64_t y;
    int mo, d;
    pt_civil_from_days(day, &y, &mo, &d);
    int bad = (!m->first && pt_buf_addc(m->b, ',')) ||
              pt_buf_printf(m->b, "{\"date\":\"%04lld-%02d-%02d\",\"count\":%lld}", (long long)y,
                            mo, d, (long long)count);
    m->first = 0;
    return bad ? PT_ENOMEM : 0;
}

static int ignore_info(void *ctx, const struct pt_segment_info *s)
{
    (void)ctx;
    (void)s;
    return 0;
}

void route_segment_counts(struct req *r)
{
    int64_t id = seg_id(r);
    if (id == 0)
        return;
    if (pt_engine_segment(r->h->g, r->shop, id, ignore_info, NULL) == PT_ENOTFOUND) {
        reply_error(r, 404, "not_found", NULL, "no segment with id %lld", (long long)id);
        return;
    }
    uint64_t days = 90;
    const char *q = query(r, "days");
    if (q && (parse_u64(q, &days) || days < 1 || days > 3660)) {
        reply_error(r, 400, "invalid_field", "days", "days must be 1 to 3660");
        return;
    }
    int64_t today = pt_floor_div((int64_t)time(NULL), 86400);
    struct pt_store *st = pt_engine_reader(r->h->g);
    struct pt_err e;
    pt_buf_reset(&r->out);
    pt_buf_printf(&r->out, "{\"id\":%lld,\"days\":[", (long long)id);
    struct members m = {.b = &r->out, .first = 1};
    if (st == NULL || pt_store_seg_daily(st, id, today - (int64_t)days + 1, today, add_day, &m,
                                         &e)) {
        reply_error(r, 503, "store_failed", NULL, "the counts could not be read; retry");
        return;
    }
    pt_buf_adds(&r->out, "]}");
    r->code = 200;
    r->state = ST_READY;
}

/* ---- preview ---- */

void route_segment_preview(struct req *r)
{
    json_error_t je;
    json_t *o = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &je);
    json_t *ru = json_is_object(o) ? json_object_get(o, "rule") : NULL;
    json_t *sm = json_is_object(o) ? json_object_get(o, "sample") : NULL;
    if (!json_is_object(o)) {
        reply_error(r, 400, "invalid_json", NULL, "the body must be a JSON object: %s",
                    o ? "not an object" : je.text);
    } else if (!json_is_string(ru)) {
        reply_error(r, 400, ru ? "invalid_field" : "missing_field", "rule",
                    "rule must be a string in the segment language (docs/segments.md)");
    } else if (sm && (!json_is_integer(sm) || json_integer_value(sm) < 0 ||
                      json_integer_value(sm) > 1000)) {
        reply_error(r, 400, "invalid_field", "sample", "sample must be 0 to 1000");
    } else {
        struct pt_err e;
        pt_err_clear(&e);
        uint64_t count = 0;
        pt_buf_reset(&r->out);
        pt_buf_adds(&r->out, "{\"sample\":[");
        struct members m = {.b = &r->out, .first = 1};
        size_t sample = sm ? (size_t)json_integer_value(sm) : 20;
        int rc = pt_engine_segment_preview(r->h->g, r->shop, json_string_value(ru),
                                           json_string_length(ru), sample, add_member, &m,
                                           &count, &e);
        if (rc == PT_EPARSE || rc == PT_ETOOBIG) {
            reply_rule_error(r, &e);
        } else if (rc) {
            reply_error(r, 500, "internal", NULL, "%s", e.msg);
        } else {
            pt_buf_printf(&r->out, "],\"count\":%llu}", (unsigned long long)count);
            r->code = 200;
            r->state = ST_READY;
        }
    }
    json_decref(o);
}
