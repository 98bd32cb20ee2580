/*
 * http_int.h - shared parts of the HTTP layer (server.c and the route files).
 */
#ifndef PT_HTTP_HTTP_INT_H
#define PT_HTTP_HTTP_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "engine/engine.h"
#include "http/http.h"
#include "ingest/events.h"
#include "loyalty/batch.h"
#include "util/buf.h"

#define NBUCKETS 12

struct pt_http {
    struct MHD_Daemon *d;
    struct pt_engine *g;
    struct pt_http_opts o;
    uint16_t port;
    pthread_mutex_t log_mu;
    /* metrics */
    _Atomic uint64_t req_by_class[6]; /* 1xx..5xx */
    _Atomic uint64_t req_by_route[64];
    _Atomic uint64_t lat_bucket[NBUCKETS + 1];
    _Atomic uint64_t lat_sum_us, lat_count;
    _Atomic uint64_t rejected_busy, in_flight;
    _Atomic uint64_t suspended; /* connections waiting for the engine */
    _Atomic int stopping;       /* new requests get 503 + Connection: close */
    /* failed voucher look-ups per key (routes_loyalty.c): a token bucket
     * per shop, in a small table (a shop that collides shares a bucket) */
    pthread_mutex_t vl_mu;
    struct vlim {
        int64_t shop;
        double tokens, t;
    } vl[256];
};

enum route {
    R_NONE = 0, R_TRACK, R_IDENTIFY, R_ALIAS, R_PAGE, R_SCREEN, R_GROUP, R_BATCH,
    R_CUSTOMERS, R_CUSTOMER, R_EXPORT, R_UNMERGE, R_IMPORT_ORDERS, R_HEALTH, R_METRICS, R_CLV,
    R_SEGMENTS, R_SEGMENT, R_SEG_PREVIEW, R_SEG_MEMBERS, R_SEG_MEMBERS_CSV, R_SEG_COUNTS,
    R_SEG_REFRESH, R_LOY_PROGRAM, R_LOY_REPORT, R_LOY_IMPORT, R_LOY_POINTS, R_LOY_REWARDS,
    R_LOY_MEMBER, R_LOY_HISTORY, R_LOY_REDEEM, R_LOY_QR, R_VOUCHER, R_VOUCHER_REDEEM,
    R_VOUCHER_POOLS, R_TEMPLATES, R_TEMPLATE, R_TMPL_PREVIEW, R_AUTOS, R_AUTO, R_AUTO_PAUSE,
    R_AUTO_RESUME, R_AUTO_TRIGGER, R_OUTBOX, R_MSG_SETTINGS, R_T_OPEN, R_T_CLICK, R_UNSUB,
    R_NROUTES
};

enum req_state { ST_READ = 0, ST_WAIT, ST_READY };

struct req {
    struct pt_http *h;
    struct MHD_Connection *conn;
    enum route route;
    const char *method;
    char path[1024];
    char id[PT_EV_MAX_ID * 3 + 1]; /* customer id from the path */
    int64_t shop;
    int auth_ok;
    int too_big;
    enum req_state state;
    int parked;    /* handler thread only: suspended in this call */
    int suspended; /* counted in h->suspended until the handler runs again */
    int close;     /* answer with Connection: close */
    struct pt_buf body;
    FILE *spool; /* CSV import */
    char spool_path[4096];
    size_t in_bytes;
    double t0; /* pt_mono_now() at the first call */
    /* engine work */
    struct pt_job job;
    struct pt_evbatch batch;
    uint8_t *status;
    int *orig;
    struct pt_everr *bad;
    size_t nbad;
    int partial;
    uint64_t import_rows, import_orders;
    /* response */
    unsigned code;
    struct pt_buf out;
    int retry_after;
    const char *ctype;
    /* loyalty (routes_loyalty.c) */
    struct pt_loy_req loy;
    char *loy_codes;                 /* a code pool's fresh codes */
    struct pt_loy_batch loy_batch;   /* POST /v1/loyalty/points, parsed */
    struct pt_loy_import *loy_import; /* a members CSV */
    int replayed;                    /* answer recorded for its Idempotency-Key */
    /* automation (routes_automation.c) */
    struct pt_auto_req aut;
    char *location; /* a redirect's target */
};

/* Build the response of req into r->out / r->code (route files). */
void route_events(struct req *r);
void route_events_done(struct req *r);
void route_customer(struct req *r);
void route_customers(struct req *r);
void route_unmerge(struct req *r);
void route_erase(struct req *r);
void route_job_done(struct req *r);
void route_import(struct req *r);
void route_metrics(struct req *r);
void route_clv(struct req *r);
void route_segments(struct req *r);
void route_segment(struct req *r);
void route_segment_preview(struct req *r);
void route_segment_members(struct req *r, int csv);
void route_segment_counts(struct req *r);
void route_segment_refresh(struct req *r);
void route_segment_done(struct req *r);
enum route loyalty_route_of(struct req *r, const char *url, const char *method, unsigned *bad);
void route_loyalty(struct req *r);
void route_loyalty_done(struct req *r);
void route_loyalty_release(struct req *r);
enum route automation_route_of(struct req *r, const char *url, const char *method, unsigned *bad);
void route_automation(struct req *r);
void route_automation_done(struct req *r);
void route_automation_release(struct req *r);

/* Helpers (server.c). */
void reply_error(struct req *r, unsigned code, const char *ecode, const char *field,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int json_str(struct pt_buf *b, const char *s); /* pt_buf_add_json_str, or null for NULL */
/* Submit r->job; on success the connection is suspended until done. */
void submit_job(struct req *r);
/* Submit r->batch as an events job (statuses allocated here). */
void submit_events(struct req *r);
const char *query(struct req *r, const char *key);
/* The request's Idempotency-Key (NULL: none) and the hash of method, path
 * and body; -1 after a 400 for a bad key. */
int req_idem(struct req *r, const char **idem, uint8_t hash[16]);
void fmt_time(struct pt_buf *b, int64_t t); /* "YYYY-MM-DDTHH:MM:SSZ" (quoted) or null */

#endif
