/*
 * server.c - libmicrohttpd daemon, routing, auth, bodies, suspend/resume,
 * the request log and metrics (see http.h).
 */
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "http/http_int.h"
#include "util/mem.h"
#include "util/timeutil.h"

/* ---- JSON helpers ---- */

int json_str(struct pt_buf *b, const char *s)
{
    return s ? pt_buf_add_json_str(b, s, strlen(s)) : pt_buf_adds(b, "null");
}

void fmt_time(struct pt_buf *b, int64_t t)
{
    if (t == 0) {
        pt_buf_adds(b, "null");
        return;
    }
    char s[24];
    pt_format_utc(t, s);
    pt_buf_printf(b, "\"%s\"", s);
}

void reply_error(struct req *r, unsigned code, const char *ecode, const char *field,
                 const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pt_buf_reset(&r->out);
    pt_buf_add_error(&r->out, ecode, field, msg);
    r->code = code;
    r->state = ST_READY;
}

const char *query(struct req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

int req_idem(struct req *r, const char **idem, uint8_t hash[16])
{
    const char *k = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Idempotency-Key");
    *idem = NULL;
    if (k == NULL)
        return 0;
    size_t n = strlen(k);
    if (n == 0 || n > 255) {
        reply_error(r, 400, "invalid_header", "Idempotency-Key",
                    "Idempotency-Key must be 1 to 255 bytes");
        return -1;
    }
    *idem = k;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    crypto_generichash_update(&st, (const unsigned char *)r->method, strlen(r->method));
    crypto_generichash_update(&st, (const unsigned char *)r->path, strlen(r->path));
    if (r->body.len)
        crypto_generichash_update(&st, (const unsigned char *)r->body.data, r->body.len);
    crypto_generichash_final(&st, hash, 16);
    return 0;
}

/* ---- routing ---- */

static const char *const route_names[R_NROUTES] = {
    "none", "track", "identify", "alias", "page", "screen", "group", "batch", "customers",
    "customer", "export", "unmerge", "import_orders", "healthz", "metrics", "clv", "segments",
    "segment", "segment_preview", "segment_members", "segment_members_csv", "segment_counts",
    "segment_refresh", "loyalty_program", "loyalty_report", "loyalty_import", "loyalty_points",
    "loyalty_rewards", "loyalty_member", "loyalty_history", "loyalty_redeem", "loyalty_qr",
    "voucher", "voucher_redeem", "voucher_pools", "templates", "template", "template_preview",
    "automations", "automation", "automation_pause", "automation_resume", "automation_trigger",
    "outbox", "messaging_settings", "track_open", "track_click", "unsubscribe"};
_Static_assert(R_NROUTES <= 64, "req_by_route");
_Static_assert(sizeof route_names / sizeof route_names[0] == R_NROUTES, "route_names");

static enum route route_of(struct req *r, const char *url, const char *method, unsigned *bad)
{
    static const struct {
        const char *path;
        enum route rt;
    } post[] = {{"/v1/track", R_TRACK},   {"/v1/identify", R_IDENTIFY}, {"/v1/alias", R_ALIAS},
                {"/v1/page", R_PAGE},     {"/v1/screen", R_SCREEN},     {"/v1/group", R_GROUP},
                {"/v1/batch", R_BATCH},   {"/v1/import", R_BATCH},
                {"/v1/import/orders", R_IMPORT_ORDERS}};
    int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int is_post = strcmp(method, "POST") == 0;
    *bad = 0;
    for (size_t i = 0; i < sizeof post / sizeof post[0]; i++)
        if (strcmp(url, post[i].path) == 0) {
            if (!is_post)
                *bad = 405;
            return post[i].rt;
        }
    if (strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0) {
        if (!is_get)
            *bad = 405;
        return url[1] == 'h' ? R_HEALTH : R_METRICS;
    }
    if (strcmp(url, "/v1/customers") == 0 || strcmp(url, "/v1/clv") == 0) {
        if (!is_get)
            *bad = 405;
        return url[4] == 'c' && url[5] == 'u' ? R_CUSTOMERS : R_CLV;
    }
    if (strcmp(url, "/v1/segments") == 0) {
        if (!is_get && !is_post)
            *bad = 405;
        return R_SEGMENTS;
    }
    if (strcmp(url, "/v1/segments/preview") == 0 || strcmp(url, "/v1/segments/refresh") == 0) {
        if (!is_post)
            *bad = 405;
        return url[13] == 'p' ? R_SEG_PREVIEW : R_SEG_REFRESH;
    }
    const char *sp = "/v1/segments/";
    if (strncmp(url, sp, strlen(sp)) == 0) {
        const char *id = url + strlen(sp);
        size_t n = strcspn(id, "/");
        const char *rest = id + n;
        enum route rt = R_NONE;
        if (*rest == '\0')
            rt = R_SEGMENT;
        else if (strcmp(rest, "/members") == 0)
            rt = R_SEG_MEMBERS;
        else if (strcmp(rest, "/members.csv") == 0)
            rt = R_SEG_MEMBERS_CSV;
        else if (strcmp(rest, "/counts") == 0)
            rt = R_SEG_COUNTS;
        else if (strcmp(rest, "/refresh") == 0)
            rt = R_SEG_REFRESH;
        if (rt == R_NONE || n == 0 || n > 20) {
            *bad = 404;
            return R_NONE;
        }
        memcpy(r->id, id, n);
        r->id[n] = '\0';
        int is_del = strcmp(method, "DELETE") == 0;
        int is_put = strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
        if ((rt == R_SEGMENT && !is_get && !is_del && !is_put) ||
            (rt == R_SEG_REFRESH && !is_post) ||
            ((rt == R_SEG_MEMBERS || rt == R_SEG_MEMBERS_CSV || rt == R_SEG_COUNTS) && !is_get))
            *bad = 405;
        return rt;
    }
    if (strncmp(url, "/v1/templates", 13) == 0 || strncmp(url, "/v1/automations", 15) == 0 ||
        strcmp(url, "/v1/outbox") == 0 || strcmp(url, "/v1/messaging/settings") == 0 ||
        strncmp(url, "/t/", 3) == 0 || strncmp(url, "/u/", 3) == 0)
        return automation_route_of(r, url, method, bad);
    if (strncmp(url, "/v1/loyalty/", 12) == 0 || strncmp(url, "/v1/vouchers/", 13) == 0 ||
        strncmp(url, "/v1/voucher-pools", 17) == 0)
        return loyalty_route_of(r, url, method, bad);
    const char *pre = "/v1/customers/";
    if (strncmp(url, pre, strlen(pre)) == 0) {
        const char *id = url + strlen(pre);
        size_t n = strlen(id);
        enum route rt = R_CUSTOMER;
        if (n > 7 && strcmp(id + n - 7, "/export") == 0) {
            rt = R_EXPORT;
            n -= 7;
        } else if (n > 8 && strcmp(id + n - 8, "/unmerge") == 0) {
            rt = R_UNMERGE;
            n -= 8;
        }
        if (n == 0 || n > PT_EV_MAX_ID) {
            *bad = 404;
            return R_NONE;
        }
        memcpy(r->id, id, n);
        r->id[n] = '\0';
        if ((rt == R_EXPORT && !is_get) || (rt == R_UNMERGE && !is_post) ||
            (rt == R_CUSTOMER && !is_get && strcmp(method, "DELETE") != 0))
            *bad = 405;
        return rt;
    }
    *bad = 404;
    return R_NONE;
}

/* ---- auth: Bearer KEY, or Basic base64(KEY:) as Segment libraries send ---- */

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

static int auth_result(int rc)
{
    return rc == 0 ? 1 : rc == PT_ENOTFOUND ? 0 : -1;
}

/* 1: a key of a shop (r->shop set); 0: missing or wrong; -1: it could not be checked. */
static int authenticate(struct req *r)
{
    const char *a = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    if (a == NULL)
        return 0;
    if (strncasecmp(a, "Bearer ", 7) == 0) {
        const char *k = a + 7;
        while (*k == ' ')
            k++;
        return auth_result(pt_engine_auth(r->h->g, k, strlen(k), &r->shop));
    }
    if (strncasecmp(a, "Basic ", 6) == 0) {
        char dec[256];
        size_t n = 0;
        unsigned acc = 0;
        int bits = 0;
        for (const char *p = a + 6; *p && *p != '='; p++) {
            int v = b64val(*p);
            if (v < 0)
                return 0;
            acc = (acc << 6) | (unsigned)v;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                if (n + 1 >= sizeof dec)
                    return 0;
                dec[n++] = (char)((acc >> bits) & 0xff);
            }
        }
        dec[n] = '\0';
        char *colon = memchr(dec, ':', n);
        size_t klen = colon ? (size_t)(colon - dec) : n;
        return auth_result(pt_engine_auth(r->h->g, dec, klen, &r->shop));
    }
    return 0;
}

/* ---- engine completion ---- */

static void job_done(struct pt_job *j, void *ctx)
{
    (void)j;
    struct req *r = ctx;
    r->state = ST_READY;
    MHD_resume_connection(r->conn);
}

void submit_job(struct req *r)
{
    r->job.done = job_done;
    r->job.ctx = r;
    r->state = ST_WAIT;
    r->parked = 1;
    r->suspended = 1;
    atomic_fetch_add(&r->h->suspended, 1);
    MHD_suspend_connection(r->conn);
    int rc = pt_engine_submit(r->h->g, &r->job);
    if (rc) {
        atomic_fetch_add(&r->h->rejected_busy, 1);
        r->retry_after = 1;
        reply_error(r, 503, "overloaded", NULL,
                    "the write queue is full; retry after a second");
        MHD_resume_connection(r->conn);
    }
}

void submit_events(struct req *r)
{
    r->status = pt_alloc_array(r->batch.n ? r->batch.n : 1, sizeof *r->status);
    if (r->status == NULL) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    memset(&r->job, 0, sizeof r->job);
    r->job.kind = PT_JOB_EVENTS;
    r->job.shop = r->shop;
    r->job.batch = &r->batch;
    r->job.status = r->status;
    submit_job(r);
}

/* ---- the handler ---- */

static void dispatch(struct req *r)
{
    switch (r->route) {
    case R_TRACK: case R_IDENTIFY: case R_ALIAS: case R_PAGE: case R_SCREEN: case R_GROUP:
    case R_BATCH:
        route_events(r);
        break;
    case R_CUSTOMERS:
        route_customers(r);
        break;
    case R_CUSTOMER:
        if (strcmp(r->method, "DELETE") == 0)
            route_erase(r);
        else
            route_customer(r);
        break;
    case R_EXPORT:
        route_customer(r);
        break;
    case R_UNMERGE:
        route_unmerge(r);
        break;
    case R_IMPORT_ORDERS:
        route_import(r);
        break;
    case R_CLV:
        route_clv(r);
        break;
    case R_SEGMENTS:
        route_segments(r);
        break;
    case R_SEGMENT:
        route_segment(r);
        break;
    case R_SEG_PREVIEW:
        route_segment_preview(r);
        break;
    case R_SEG_MEMBERS:
    case R_SEG_MEMBERS_CSV:
        route_segment_members(r, r->route == R_SEG_MEMBERS_CSV);
        break;
    case R_SEG_COUNTS:
        route_segment_counts(r);
        break;
    case R_LOY_PROGRAM: case R_LOY_REPORT: case R_LOY_IMPORT: case R_LOY_POINTS:
    case R_LOY_REWARDS: case R_LOY_MEMBER: case R_LOY_HISTORY: case R_LOY_REDEEM: case R_LOY_QR:
    case R_VOUCHER: case R_VOUCHER_REDEEM: case R_VOUCHER_POOLS:
        route_loyalty(r);
        break;
    case R_TEMPLATES: case R_TEMPLATE: case R_TMPL_PREVIEW: case R_AUTOS: case R_AUTO:
    case R_AUTO_PAUSE: case R_AUTO_RESUME: case R_AUTO_TRIGGER: case R_OUTBOX:
    case R_MSG_SETTINGS: case R_T_OPEN: case R_T_CLICK: case R_UNSUB:
        route_automation(r);
        break;
    case R_SEG_REFRESH:
        route_segment_refresh(r);
        break;
    default:
        reply_error(r, 404, "not_found", NULL, "no such route");
    }
}

static enum MHD_Result send_reply(struct req *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r->out.len, r->out.data ? r->out.data : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type",
                            r->ctype ? r->ctype : "application/json; charset=utf-8");
    if (r->retry_after) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", r->retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    if (r->replayed)
        MHD_add_response_header(resp, "Idempotent-Replayed", "true");
    if (r->code == 401)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"patron\"");
    if (r->location)
        MHD_add_response_header(resp, "Location", r->location);
    if (r->route == R_T_OPEN || r->route == R_T_CLICK || r->route == R_UNSUB)
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (r->close || atomic_load(&r->h->stopping))
        MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(r->conn, r->code ? r->code : 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)version;
    struct pt_http *h = cls;
    struct req *r = *con_cls;
    if (r == NULL) {
        r = pt_calloc(1, sizeof *r);
        if (r == NULL)
            return MHD_NO;
        r->h = h;
        r->conn = conn;
        r->method = method;
        r->t0 = pt_mono_now();
        snprintf(r->path, sizeof r->path, "%s", url);
        pt_buf_init(&r->body);
        pt_buf_init(&r->out);
        pt_evbatch_init(&r->batch);
        *con_cls = r;
        atomic_fetch_add(&h->in_flight, 1);
        unsigned bad;
        int auth;
        r->route = route_of(r, url, method, &bad);
        if (bad == 404)
            reply_error(r, 404, "not_found", NULL, "no such route: %s %s", method, url);
        else if (bad == 405)
            reply_error(r, 405, "method_not_allowed", NULL, "%s is not allowed on %s", method,
                        url);
        else if (atomic_load(&h->stopping)) {
            r->retry_after = 1;
            r->close = 1;
            reply_error(r, 503, "shutting_down", NULL, "the server is stopping; retry shortly");
        } else if (r->route == R_T_OPEN || r->route == R_T_CLICK || r->route == R_UNSUB) {
            r->auth_ok = 1; /* tracking links: a signed token instead of a key */
        } else if (r->route != R_HEALTH && r->route != R_METRICS && (auth = authenticate(r)) != 1)
            reply_error(r, auth < 0 ? 503 : 401, auth < 0 ? "store_failed" : "unauthorized", NULL,
                        auth < 0 ? "the key could not be checked; retry"
                                 : "a valid API key is required (Authorization: Bearer KEY)");
        else
            r->auth_ok = 1;
        return MHD_YES;
    }
    if (r->suspended) { /* resumed by the engine */
        r->suspended = 0;
        atomic_fetch_sub(&h->suspended, 1);
    }
    if (*upload_size) {
        r->in_bytes += *upload_size;
        if (r->state == ST_READ && r->auth_ok && !r->too_big) {
            size_t cap = r->route == R_IMPORT_ORDERS ? h->o.max_import
                         : r->route == R_LOY_IMPORT  ? (size_t)64 << 20
                                                     : h->o.max_body;
            if (r->in_bytes > cap) {
                r->too_big = 1;
            } else if (r->route == R_IMPORT_ORDERS) {
                if (r->spool == NULL) {
                    snprintf(r->spool_path, sizeof r->spool_path, "%s/import-XXXXXX",
                             h->o.tmp_dir ? h->o.tmp_dir : "/tmp");
                    int fd = mkstemp(r->spool_path);
                    r->spool = fd >= 0 ? fdopen(fd, "w+") : NULL;
                    if (r->spool == NULL && fd >= 0) {
                        close(fd);
                        unlink(r->spool_path);
                    }
                    if (r->spool == NULL)
                        reply_error(r, 500, "internal", NULL, "cannot spool the import: %s",
                                    strerror(errno));
                }
                if (r->spool && fwrite(upload, 1, *upload_size, r->spool) != *upload_size)
                    reply_error(r, 500, "internal", NULL, "cannot spool the import: %s",
                                strerror(errno));
            } else if (pt_buf_add(&r->body, upload, *upload_size)) {
                reply_error(r, 500, "internal", NULL, "out of memory");
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->state == ST_READ) {
        if (r->too_big) {
            size_t cap = r->route == R_IMPORT_ORDERS ? h->o.max_import
                         : r->route == R_LOY_IMPORT  ? (size_t)64 << 20
                                                     : h->o.max_body;
            reply_error(r, 413, "too_large", NULL, "the body is over the limit of %zu bytes",
                        cap);
        } else if (r->route == R_HEALTH) {
            pt_buf_adds(&r->out, "{\"status\":\"ok\"}");
            r->state = ST_READY;
        } else if (r->route == R_METRICS) {
            route_metrics(r);
        } else {
            dispatch(r);
        }
    }
    if (r->parked) {
        r->parked = 0;
        return MHD_YES; /* suspended; the engine's callback resumes us */
    }
    if (r->job.kind && r->job.finished) {
        if (r->route == R_IMPORT_ORDERS || (r->route >= R_TRACK && r->route <= R_BATCH))
            route_events_done(r);
        else
            route_job_done(r);
        r->job.kind = 0;
    }
    return send_reply(r);
}

static void log_line(struct pt_http *h, struct req *r, unsigned code, double ms)
{
    char ts[24];
    pt_format_utc((int64_t)time(NULL), ts);
    struct pt_buf b;
    pt_buf_init(&b);
    pt_buf_printf(&b, "{\"ts\":\"%s\",\"method\":", ts);
    json_str(&b, r->method);
    pt_buf_adds(&b, ",\"path\":");
    json_str(&b, r->path);
    pt_buf_printf(&b, ",\"route\":\"%s\",\"status\":%u,\"ms\":%.3f,\"shop\":%lld,\"bytes_in\":%zu}\n",
                  route_names[r->route], code, ms, (long long)r->shop, r->in_bytes);
    pthread_mutex_lock(&h->log_mu);
    fwrite(b.data, 1, b.len, h->o.log);
    fflush(h->o.log);
    pthread_mutex_unlock(&h->log_mu);
    pt_buf_release(&b);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    struct pt_http *h = cls;
    struct req *r = *con_cls;
    if (r == NULL)
        return;
    *con_cls = NULL;
    unsigned code = r->code ? r->code : 200;
    double ms = (pt_mono_now() - r->t0) * 1e3;
    atomic_fetch_add(&h->req_by_class[code / 100 < 6 ? code / 100 : 5], 1);
    atomic_fetch_add(&h->req_by_route[r->route], 1);
    static const double bounds[NBUCKETS] = {0.5, 1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 5000};
    int b = 0;
    while (b < NBUCKETS && ms > bounds[b])
        b++;
    atomic_fetch_add(&h->lat_bucket[b], 1);
    atomic_fetch_add(&h->lat_sum_us, (uint64_t)(ms * 1000));
    atomic_fetch_add(&h->lat_count, 1);
    atomic_fetch_sub(&h->in_flight, 1);
    if (h->o.log)
        log_line(h, r, code, ms);
    if (r->spool) {
        fclose(r->spool);
        unlink(r->spool_path);
    }
    pt_buf_release(&r->body);
    pt_buf_release(&r->out);
    route_loyalty_release(r);
    route_automation_release(r);
    pt_evbatch_release(&r->batch);
    pt_free(r->status);
    pt_free(r->orig);
    pt_free(r->bad);
    pt_free(r);
}

void route_metrics(struct req *r)
{
    struct pt_http *h = r->h;
    struct pt_engine_stats st;
    pt_engine_stats(h->g, &st);
    struct pt_buf *b = &r->out;
    r->ctype = "text/plain; version=0.0.4";
    pt_buf_adds(b, "# HELP patron_http_requests_total HTTP requests by status class.\n"
                   "# TYPE patron_http_requests_total counter\n");
    for (int c = 1; c <= 5; c++)
        pt_buf_printf(b, "patron_http_requests_total{code=\"%dxx\"} %llu\n", c,
                      (unsigned long long)atomic_load(&h->req_by_class[c]));
    pt_buf_adds(b, "# HELP patron_http_route_requests_total HTTP requests by route.\n"
                   "# TYPE patron_http_route_requests_total counter\n");
    for (int i = 1; i < R_NROUTES; i++)
        pt_buf_printf(b, "patron_http_route_requests_total{route=\"%s\"} %llu\n", route_names[i],
                      (unsigned long long)atomic_load(&h->req_by_route[i]));
    static const char *const le[NBUCKETS] = {"0.0005", "0.001", "0.002", "0.005",
                                             "0.01",   "0.02",  "0.05",  "0.1",
                                             "0.25",   "0.5",   "1",     "5"};
    pt_buf_adds(b, "# HELP patron_http_request_duration_seconds Request latency.\n"
                   "# TYPE patron_http_request_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < NBUCKETS; i++) {
        cum += atomic_load(&h->lat_bucket[i]);
        pt_buf_printf(b, "patron_http_request_duration_seconds_bucket{le=\"%s\"} %llu\n", le[i],
                      (unsigned long long)cum);
    }
    cum += atomic_load(&h->lat_bucket[NBUCKETS]);
    pt_buf_printf(b,
                  "patron_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                  "patron_http_request_duration_seconds_sum %.6f\n"
                  "patron_http_request_duration_seconds_count %llu\n",
                  (unsigned long long)cum, (double)atomic_load(&h->lat_sum_us) / 1e6,
                  (unsigned long long)atomic_load(&h->lat_count));
    pt_buf_printf(b,
                  "# HELP patron_queue_events Events waiting for the engine.\n"
                  "# TYPE patron_queue_events gauge\npatron_queue_events %zu\n"
                  "# HELP patron_queue_jobs Jobs waiting for the engine.\n"
                  "# TYPE patron_queue_jobs gauge\npatron_queue_jobs %zu\n"
                  "# HELP patron_events_total Events written, by outcome.\n"
                  "# TYPE patron_events_total counter\n"
                  "patron_events_total{status=\"accepted\"} %llu\n"
                  "patron_events_total{status=\"duplicate\"} %llu\n"
                  "# HELP patron_customers Customer identities in memory.\n"
                  "# TYPE patron_customers gauge\npatron_customers %zu\n"
                  "# HELP patron_commits_total Group commits.\n"
                  "# TYPE patron_commits_total counter\npatron_commits_total %llu\n"
                  "# HELP patron_commit_events_total Events and jobs in group commits.\n"
                  "# TYPE patron_commit_events_total counter\npatron_commit_events_total %llu\n"
                  "# HELP patron_commit_seconds_total Time in group commits.\n"
                  "# TYPE patron_commit_seconds_total counter\npatron_commit_seconds_total %.6f\n"
                  "# HELP patron_overload_rejections_total Requests answered 503 (queue full).\n"
                  "# TYPE patron_overload_rejections_total counter\n"
                  "patron_overload_rejections_total %llu\n"
                  "# HELP patron_http_in_flight Requests being served.\n"
                  "# TYPE patron_http_in_flight gauge\npatron_http_in_flight %llu\n",
                  st.queue_events, st.queue_jobs, (unsigned long long)st.events_accepted,
                  (unsigned long long)st.events_duplicate, st.customers,
                  (unsigned long long)st.commits, (unsigned long long)st.commit_events,
                  st.commit_seconds, (unsigned long long)atomic_load(&h->rejected_busy),
                  (unsigned long long)atomic_load(&h->in_flight));
    pt_buf_printf(b,
                  "# HELP patron_segments Saved segments (built-in included).\n"
                  "# TYPE patron_segments gauge\npatron_segments %zu\n"
                  "# HELP patron_segment_members Memberships over every segment.\n"
                  "# TYPE patron_segment_members gauge\npatron_segment_members %llu\n"
                  "# HELP patron_segment_bytes Membership bitmaps (Roaring, serialized size).\n"
                  "# TYPE patron_segment_bytes gauge\npatron_segment_bytes %llu\n"
                  "# HELP patron_segment_events_total Segment Entered and Exited events.\n"
                  "# TYPE patron_segment_events_total counter\npatron_segment_events_total %llu\n"
                  "# HELP patron_segment_group_seconds Time a group commit spends on segments.\n"
                  "# TYPE patron_segment_group_seconds summary\n"
                  "patron_segment_group_seconds{quantile=\"0.5\"} %.6f\n"
                  "patron_segment_group_seconds{quantile=\"0.99\"} %.6f\n"
                  "# HELP patron_segment_group_eval_seconds The part of it not writing events.\n"
                  "# TYPE patron_segment_group_eval_seconds summary\n"
                  "patron_segment_group_eval_seconds{quantile=\"0.5\"} %.6f\n"
                  "patron_segment_group_eval_seconds{quantile=\"0.99\"} %.6f\n",
                  st.segments, (unsigned long long)st.segment_members,
                  (unsigned long long)st.segment_bytes, (unsigned long long)st.segment_events,
                  st.segment_p50, st.segment_p99, st.segment_eval_p50, st.segment_eval_p99);
    pt_buf_printf(b,
                  "# HELP patron_automations Automations (any status but deleted).\n"
                  "# TYPE patron_automations gauge\npatron_automations %zu\n"
                  "# HELP patron_automation_runs_active Customers in an automation now.\n"
                  "# TYPE patron_automation_runs_active gauge\npatron_automation_runs_active %zu\n"
                  "# HELP patron_messages_decided_total Messages written to the outbox to send.\n"
                  "# TYPE patron_messages_decided_total counter\npatron_messages_decided_total %llu\n"
                  "# HELP patron_messages_delivered_total Messages the receiver took.\n"
                  "# TYPE patron_messages_delivered_total counter\n"
                  "patron_messages_delivered_total %llu\n"
                  "# HELP patron_messages_dead_total Messages given up on (dead letters).\n"
                  "# TYPE patron_messages_dead_total counter\npatron_messages_dead_total %llu\n"
                  "# HELP patron_automation_sweeps_total Sweeps of the time triggers.\n"
                  "# TYPE patron_automation_sweeps_total counter\npatron_automation_sweeps_total %llu\n"
                  "# HELP patron_automation_sweep_seconds The last sweep's duration.\n"
                  "# TYPE patron_automation_sweep_seconds gauge\n"
                  "patron_automation_sweep_seconds %.6f\n",
                  st.automations, st.runs_active, (unsigned long long)st.messages_decided,
                  (unsigned long long)st.delivered, (unsigned long long)st.delivery_dead,
                  (unsigned long long)st.auto_sweeps, st.auto_sweep_seconds);
    r->state = ST_READY;
}

int pt_http_start(struct pt_engine *g, const struct pt_http_opts *o, struct pt_http **out,
                  struct pt_err *e)
{
    *out = NULL;
    struct pt_http *h = pt_calloc(1, sizeof *h);
    if (h == NULL)
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    h->g = g;
    h->o = *o;
    if (h->o.threads <= 0)
        h->o.threads = 4;
    if (h->o.max_body == 0)
        h->o.max_body = PT_EV_MAX_BODY;
    if (h->o.max_import == 0)
        h->o.max_import = (size_t)1 << 30;
    pthread_mutex_init(&h->log_mu, NULL);
    pthread_mutex_init(&h->vl_mu, NULL);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(o->port);
    if (inet_pton(AF_INET, o->host ? o->host : "127.0.0.1", &sa.sin_addr) != 1) {
        pt_free(h);
        return pt_err_set(e, PT_EINVAL, "listen address %s is not an IPv4 address", o->host);
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    h->d = MHD_start_daemon(flags, o->port, NULL, NULL, handler, h, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)h->o.threads,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, h,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    if (h->d == NULL) {
        pthread_mutex_destroy(&h->log_mu);
        pt_free(h);
        return pt_err_set(e, PT_EIO, "cannot listen on %s:%u (in use or not permitted)",
                          o->host ? o->host : "127.0.0.1", (unsigned)o->port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : o->port;
    *out = h;
    return 0;
}

uint16_t pt_http_port(const struct pt_http *h)
{
    return h->port;
}

void pt_http_stop(struct pt_http *h)
{
    if (h == NULL)
        return;
    /* stop accepting; new requests on open connections get 503 + close; every
     * connection suspended on the engine must be resumed and answered before
     * the daemon may stop (its job always finishes: the engine still runs) */
    atomic_store(&h->stopping, 1);
    MHD_quiesce_daemon(h->d);
    for (long i = 1; atomic_load(&h->suspended) > 0; i++) {
        usleep(2000);
        if (i % 5000 == 0)
            fprintf(stderr, "patron serve: waiting for %llu requests in the engine\n",
                    (unsigned long long)atomic_load(&h->suspended));
    }
    /* then a moment for answers being sent and uploads in progress */
    for (int i = 0; i < 2500 && atomic_load(&h->in_flight) > 0; i++)
        usleep(2000);
    MHD_stop_daemon(h->d);
    pthread_mutex_destroy(&h->log_mu);
    pt_free(h);
}
