/*
 * routes_automation.c - templates, automations, the outbox, messaging
 * settings (docs/api.yaml "Automation"), and the public tracking links a
 * message carries: the open pixel, click redirects and the unsubscribe page
 * (signed tokens instead of an API key; docs/automation.md "Tracking").
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http_int.h"
#include "util/mem.h"

/* 1x1 transparent GIF */
static const unsigned char pixel[] = {
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
    0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};

static int valid_tmpl_id(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
            return 0;
    return 1;
}

enum route automation_route_of(struct req *r, const char *url, const char *method, unsigned *bad)
{
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int post = strcmp(method, "POST") == 0, put = strcmp(method, "PUT") == 0;
    int del = strcmp(method, "DELETE") == 0;
    *bad = 0;
    if (strcmp(url, "/v1/templates") == 0) {
        *bad = get ? 0 : 405;
        return R_TEMPLATES;
    }
    if (strcmp(url, "/v1/automations") == 0) {
        *bad = get || post ? 0 : 405;
        return R_AUTOS;
    }
    if (strcmp(url, "/v1/outbox") == 0) {
        *bad = get ? 0 : 405;
        return R_OUTBOX;
    }
    if (strcmp(url, "/v1/messaging/settings") == 0) {
        *bad = get || put ? 0 : 405;
        return R_MSG_SETTINGS;
    }
    const char *rest;
    size_t n;
    if (strncmp(url, "/v1/templates/", 14) == 0) {
        const char *id = url + 14;
        n = strcspn(id, "/");
        rest = id + n;
        enum route rt = *rest == '\0'                   ? R_TEMPLATE
                        : strcmp(rest, "/preview") == 0 ? R_TMPL_PREVIEW
                                                        : R_NONE;
        if (rt == R_NONE || !valid_tmpl_id(id, n)) {
            *bad = 404;
            return R_NONE;
        }
        memcpy(r->id, id, n);
        r->id[n] = '\0';
        *bad =
            (rt == R_TEMPLATE && (get || put || del)) || (rt == R_TMPL_PREVIEW && post) ? 0 : 405;
        return rt;
    }
    if (strncmp(url, "/v1/automations/", 16) == 0) {
        const char *id = url + 16;
        n = strcspn(id, "/");
        rest = id + n;
        enum route rt = *rest == '\0'                   ? R_AUTO
                        : strcmp(rest, "/pause") == 0   ? R_AUTO_PAUSE
                        : strcmp(rest, "/resume") == 0  ? R_AUTO_RESUME
                        : strcmp(rest, "/trigger") == 0 ? R_AUTO_TRIGGER
                                                        : R_NONE;
        if (rt == R_NONE || n == 0 || n > 18 || strspn(id, "0123456789") != n) {
            *bad = 404;
            return R_NONE;
        }
        memcpy(r->id, id, n);
        r->id[n] = '\0';
        *bad = (rt == R_AUTO && (get || put || del)) || (rt != R_AUTO && post) ? 0 : 405;
        return rt;
    }
    /* /t/o/TOKEN.gif, /t/c/TOKEN, /u/TOKEN */
    enum route rt = strncmp(url, "/t/o/", 5) == 0   ? R_T_OPEN
                    : strncmp(url, "/t/c/", 5) == 0 ? R_T_CLICK
                    : strncmp(url, "/u/", 3) == 0   ? R_UNSUB
                                                    : R_NONE;
    const char *tok = url + (rt == R_UNSUB ? 3 : 5);
    n = strlen(tok);
    if (rt == R_T_OPEN) {
        if (n < 5 || strcmp(tok + n - 4, ".gif") != 0)
            rt = R_NONE;
        n -= 4;
    }
    if (rt == R_NONE || n == 0 || n >= sizeof r->id || strchr(tok, '/')) {
        *bad = 404;
        return R_NONE;
    }
    memcpy(r->id, tok, n);
    r->id[n] = '\0';
    *bad = get || (rt == R_UNSUB && post) ? 0 : 405;
    return rt;
}

static void reply_body(struct req *r, unsigned code, const struct pt_buf *b)
{
    pt_buf_reset(&r->out);
    pt_buf_add(&r->out, b->data ? b->data : "", b->len);
    r->code = code;
    r->state = ST_READY;
}

static void submit(struct req *r, int op)
{
    struct pt_auto_req *q = &r->aut;
    q->op = op;
    if (req_idem(r, &q->idem, q->hash))
        return;
    memset(&r->job, 0, sizeof r->job);
    r->job.kind = PT_JOB_AUTO;
    r->job.shop = r->shop;
    r->job.aut = q;
    submit_job(r);
}

static int body_json(struct req *r)
{
    if (r->body.len == 0) {
        reply_error(r, 400, "invalid_json", NULL, "the body is empty; a JSON object is expected");
        return -1;
    }
    if (pt_buf_addc(&r->body, '\0')) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return -1;
    }
    r->body.len--;
    r->aut.json = r->body.data;
    r->aut.len = r->body.len;
    return 0;
}

/* A string member of the JSON body ("user_id") into out. */
static int body_str(struct req *r, const char *key, char *out, size_t cap)
{
    json_error_t je;
    json_t *o = r->body.len ? json_loadb(r->body.data, r->body.len, 0, &je) : NULL;
    const char *v = json_string_value(json_object_get(o, key));
    int ok = v && *v && strlen(v) < cap;
    if (ok)
        snprintf(out, cap, "%s", v);
    json_decref(o);
    if (!ok)
        reply_error(r, 400, o ? "invalid_field" : "invalid_json", key,
                    "the body must be a JSON object with a non-empty string \"%s\"", key);
    return ok ? 0 : -1;
}

static void reply_read(struct req *r, int rc, struct pt_buf *b, const char *what)
{
    if (rc == PT_ENOTFOUND)
        reply_error(r, 404, "not_found", NULL, "no such %s", what);
    else if (rc)
        reply_error(r, 503, "store_failed", NULL, "the store could not be read; retry");
    else
        reply_body(r, 200, b);
}

static void outbox(struct req *r)
{
    static const char *const names[] = {"pending", "sent", "dead", "held", "skipped"};
    int status = -1;
    const char *s = query(r, "status");
    if (s) {
        for (int i = 0; i < 5; i++)
            if (strcmp(s, names[i]) == 0)
                status = i;
        if (status < 0) {
            reply_error(r, 400, "invalid_query", "status",
                        "status must be pending, sent, dead, held or skipped");
            return;
        }
    }
    long lim = 50, aut = 0, before = 0;
    const char *l = query(r, "limit"), *a = query(r, "automation"), *bf = query(r, "before");
    char *end;
    errno = 0;
    if (l && ((lim = strtol(l, &end, 10)) < 1 || lim > 1000 || *end || errno)) {
        reply_error(r, 400, "invalid_query", "limit", "limit must be 1 to 1000");
        return;
    }
    if (a && ((aut = strtol(a, &end, 10)) < 1 || *end || errno)) {
        reply_error(r, 400, "invalid_query", "automation", "automation must be an id");
        return;
    }
    if (bf && ((before = strtol(bf, &end, 10)) < 1 || *end || errno)) {
        reply_error(r, 400, "invalid_query", "before", "before must be a message id");
        return;
    }
    struct pt_buf b;
    pt_buf_init(&b);
    int rc =
        pt_engine_outbox(r->h->g, r->shop, status, aut, query(r, "user_id"), before, (int)lim, &b);
    reply_read(r, rc, &b, "customer");
    pt_buf_release(&b);
}

/* ---- tracking links ---- */

static void track_event(struct req *r, const struct pt_track *t, const char *event,
                        const char *extra)
{
    struct pt_buf b;
    pt_buf_init(&b);
    pt_buf_printf(&b, "{\"%s\":", t->anonymous ? "anonymousId" : "userId");
    pt_buf_add_json_str(&b, t->user_id, strlen(t->user_id));
    pt_buf_adds(&b, ",\"event\":");
    pt_buf_add_json_str(&b, event, strlen(event));
    /* one event per message (opens, unsubscribes) or per link (clicks): repeats are duplicates */
    pt_buf_printf(&b,
                  ",\"messageId\":\"%s:%s:%s\",\"properties\":{\"message_id\":\"%s\","
                  "\"automation_id\":%lld%s}}",
                  event[0] == 'C' ? "unsubscribe" : event + 6, t->msg_id, r->id + strlen(r->id) - 8,
                  t->msg_id, (long long)t->automation, extra ? extra : "");
    r->shop = t->shop;
    struct pt_everr err;
    int rc = pt_events_decode(b.data, b.len, PT_EV_TRACK, pt_engine_clock(r->h->g), 0, &r->batch,
                              NULL, NULL, 0, NULL, &err);
    pt_buf_release(&b);
    if (rc) {
        reply_error(r, 500, "internal", NULL, "cannot record the event: %s", err.message);
        return;
    }
    submit_events(r);
}

static void track(struct req *r)
{
    struct pt_track t;
    const char *url = r->route == R_T_CLICK ? query(r, "u") : NULL;
    int kind = r->route == R_T_OPEN ? 'o' : r->route == R_T_CLICK ? 'c' : 'u';
    if (r->route == R_T_CLICK &&
        (url == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))) {
        reply_error(r, 400, "invalid_query", "u", "u must be the link's http(s) URL");
        return;
    }
    int rc = pt_engine_track(r->h->g, kind, r->id, url, &t);
    if (rc == PT_ENOTFOUND && r->route == R_T_OPEN) {
        reply_body(r, 200, &(struct pt_buf){0}); /* the pixel anyway (below) */
        r->ctype = "image/gif";
        pt_buf_add(&r->out, pixel, sizeof pixel);
        return;
    }
    if (rc) {
        reply_error(r, rc == PT_ENOTFOUND ? 404 : 503,
                    rc == PT_ENOTFOUND ? "not_found" : "store_failed", NULL,
                    rc == PT_ENOTFOUND ? "this link is not valid (or its customer was erased)"
                                       : "the store could not be read; retry");
        return;
    }
    if (r->route == R_T_OPEN) {
        track_event(r, &t, "Email Opened", NULL);
    } else if (r->route == R_T_CLICK) {
        struct pt_buf x;
        pt_buf_init(&x);
        pt_buf_adds(&x, ",\"url\":");
        pt_buf_add_json_str(&x, url, strlen(url));
        pt_buf_addc(&x, '\0');
        r->location = pt_strndup(url, strlen(url));
        track_event(r, &t, "Email Clicked", x.data);
        pt_buf_release(&x);
    } else if (strcmp(r->method, "POST") == 0) {
        /* one click (RFC 8058) or the page's button: no more marketing email */
        track_event(r, &t, "Consent Updated",
                    ",\"consents\":{\"email_marketing\":false},\"source\":\"unsubscribe link\"");
    } else {
        pt_buf_reset(&r->out);
        pt_buf_adds(&r->out,
                    "<!doctype html><html><head><meta charset=\"utf-8\"><title>Email "
                    "preferences</title></head><body><h1>Email preferences</h1><p>Do you want "
                    "to stop receiving marketing email from us?</p><form method=\"post\">"
                    "<button type=\"submit\">Unsubscribe</button></form></body></html>");
        r->ctype = "text/html; charset=utf-8";
        r->code = 200;
        r->state = ST_READY;
    }
}

/* ---- dispatch ---- */

void route_automation(struct req *r)
{
    struct pt_engine *g = r->h->g;
    struct pt_auto_req *q = &r->aut;
    pt_buf_init(&q->out);
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    int del = strcmp(r->method, "DELETE") == 0;
    struct pt_buf b;
    pt_buf_init(&b);
    char uid[PT_EV_MAX_ID + 1];
    switch (r->route) {
    case R_TEMPLATES:
        reply_read(r, pt_engine_auto_templates(g, r->shop, NULL, &b), &b, "template");
        break;
    case R_TEMPLATE:
        q->tmpl_id = r->id;
        if (get)
            reply_read(r, pt_engine_auto_templates(g, r->shop, r->id, &b), &b, "template");
        else if (del) {
            q->del = 1;
            submit(r, PT_AUTOOP_TEMPLATE);
        } else if (body_json(r) == 0)
            submit(r, PT_AUTOOP_TEMPLATE);
        break;
    case R_TMPL_PREVIEW:
        if (body_str(r, "user_id", uid, sizeof uid) == 0) {
            int rc = pt_engine_auto_preview(g, r->shop, r->id, uid, &b);
            reply_read(r, rc, &b, "template or customer");
        }
        break;
    case R_AUTOS:
        if (get)
            reply_read(r, pt_engine_auto_list(g, r->shop, 0, &b), &b, "automation");
        else if (body_json(r) == 0)
            submit(r, PT_AUTOOP_CREATE);
        break;
    case R_AUTO:
        q->id = strtoll(r->id, NULL, 10);
        if (get)
            reply_read(r, pt_engine_auto_list(g, r->shop, q->id, &b), &b, "automation");
        else if (del) {
            q->status_to = PT_AUTO_DELETED;
            submit(r, PT_AUTOOP_STATUS);
        } else if (body_json(r) == 0)
            submit(r, PT_AUTOOP_UPDATE);
        break;
    case R_AUTO_PAUSE:
    case R_AUTO_RESUME:
        q->id = strtoll(r->id, NULL, 10);
        q->status_to = r->route == R_AUTO_PAUSE ? PT_AUTO_PAUSED : PT_AUTO_ACTIVE;
        submit(r, PT_AUTOOP_STATUS);
        break;
    case R_AUTO_TRIGGER:
        q->id = strtoll(r->id, NULL, 10);
        if (body_str(r, "user_id", uid, sizeof uid) == 0 &&
            (q->user_id = pt_strndup(uid, strlen(uid))) != NULL)
            submit(r, PT_AUTOOP_TRIGGER);
        break;
    case R_OUTBOX:
        outbox(r);
        break;
    case R_MSG_SETTINGS:
        if (get)
            reply_read(r, pt_engine_auto_settings(g, r->shop, &b), &b, "settings");
        else if (body_json(r) == 0)
            submit(r, PT_AUTOOP_SETTINGS);
        break;
    case R_T_OPEN:
    case R_T_CLICK:
    case R_UNSUB:
        track(r);
        break;
    default:
        reply_error(r, 404, "not_found", NULL, "no such route");
        break;
    }
    pt_buf_release(&b);
}

void route_automation_done(struct req *r)
{
    struct pt_job *j = &r->job;
    if (j->rc) {
        r->retry_after = 1;
        reply_error(r, 503, "store_failed", NULL, "%s; nothing was written, retry", j->msg);
        return;
    }
    if (j->kind == PT_JOB_EVENTS) { /* a tracking link's event is recorded */
        pt_buf_reset(&r->out);
        if (r->route == R_T_OPEN) {
            r->ctype = "image/gif";
            pt_buf_add(&r->out, pixel, sizeof pixel);
            r->code = 200;
        } else if (r->route == R_T_CLICK) {
            r->code = 302;
        } else {
            r->ctype = "text/html; charset=utf-8";
            pt_buf_adds(&r->out, "<!doctype html><html><head><meta charset=\"utf-8\"><title>"
                                 "Unsubscribed</title></head><body><h1>You are unsubscribed"
                                 "</h1><p>You will receive no more marketing email from us."
                                 "</p></body></html>");
            r->code = 200;
        }
        r->state = ST_READY;
        return;
    }
    reply_body(r, (unsigned)r->aut.status, &r->aut.out);
    if (r->aut.replayed)
        r->replayed = 1;
}

void route_automation_release(struct req *r)
{
    pt_buf_release(&r->aut.out);
    pt_free((void *)r->aut.user_id);
    pt_free(r->location);
    r->aut.user_id = NULL;
    r->location = NULL;
}
