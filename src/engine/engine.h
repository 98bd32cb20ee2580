/*
 * engine.h - the single writer of DESIGN.md.
 *
 * Layer: engine (util, ingest, store, rfm). An engine is an object (no
 * process-wide state): it owns the writer connection of the store and the
 * in-memory customer state. Requests hand it jobs (validated event batches,
 * unmerges, erasures) through a bounded queue; its thread takes every queued
 * job, writes them to the store in one transaction (group commit), applies
 * them to memory under the state's write lock, commits, and only then marks
 * the jobs done and calls their `done` callbacks. Readers take the read lock
 * (pt_engine_profile and friends do) and so see committed state only.
 *
 * Errors: pt_engine_submit gives PT_ETOOBIG when the queue is full (the HTTP
 * layer answers 503); a job that failed in the store has rc = PT_EIO and
 * nothing of it is applied (the whole group is rolled back, memory reloaded).
 */
#ifndef PT_ENGINE_ENGINE_H
#define PT_ENGINE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "automation/send.h"
#include "clv/clv.h"
#include "ingest/events.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"

struct pt_engine;

struct pt_engine_opts {
    const char *data_dir;
    size_t queue_events; /* queued events before submit says "full"; 0 = 200000 */
    size_t group_events; /* events per transaction at most; 0 = 20000 */
    int rfm_refresh_s;   /* RFM quintile boundaries at most this old; 0 = 5 */
    int clv_refit_s;     /* CLV models refit per shop this often; 0 = 3600, < 0 = never */
    void (*progress)(void *ctx, const char *phase, uint64_t done); /* loading; may be NULL */
    void *pctx;
    /* segments: the clock (Unix seconds; NULL = the system's), and how often
     * segments reading RFM or CLV scores are fully re-evaluated and
     * membership snapshots saved (0 = 300 s) */
    int64_t (*clock)(void *ctx);
    void *clock_ctx;
    int seg_sweep_s;
    /* automation (docs/automation.md): how often time triggers are swept
     * (0 = 60 s); the SMTP server (host NULL: email is not sent, messages
     * wait); the default From; the base of tracking and unsubscribe links;
     * delivery attempts before a message is dead (0 = 8) and the first retry's
     * delay (0 = 60 s, doubling); deliver = 0: no delivery thread */
    int auto_sweep_s;
    const struct pt_smtp_cfg *smtp;
    const char *mail_from, *public_url;
    int deliver_attempts, deliver_backoff_s;
    int deliver;
};

enum pt_job_kind {
    PT_JOB_EVENTS = 1, PT_JOB_UNMERGE, PT_JOB_ERASE, PT_JOB_SEGMENT, PT_JOB_TICK, PT_JOB_LOYALTY,
    PT_JOB_AUTO
};
enum pt_seg_op { PT_SEG_CREATE = 1, PT_SEG_UPDATE, PT_SEG_DELETE, PT_SEG_REFRESH };

/* Per-event outcome of an events job. */
enum { PT_EV_ACCEPTED = 0, PT_EV_DUPLICATE = 1, PT_EV_REJECTED = 2 };

struct pt_job {
    enum pt_job_kind kind;
    int64_t shop;
    struct pt_evbatch *batch; /* EVENTS: borrowed until done */
    uint8_t *status;          /* EVENTS: batch->n outcomes (caller-allocated) */
    const char *user_id;      /* UNMERGE, ERASE: the customer's id */
    int anonymous;            /* UNMERGE, ERASE: user_id is an anonymousId */
    const char *anonymous_id; /* UNMERGE: which identity (NULL: the latest merge) */
    int64_t merge_id;         /* UNMERGE: or this merge (> 0) */
    int seg_op;               /* SEGMENT: enum pt_seg_op */
    int64_t seg_id;           /* SEGMENT: UPDATE, DELETE, REFRESH (0: every segment of shop) */
    const char *seg_name;     /* SEGMENT: CREATE, UPDATE (NULL: unchanged) */
    const char *seg_rule;     /* SEGMENT: CREATE, UPDATE (NULL: unchanged) */
    struct pt_err seg_err;    /* SEGMENT: a rejected rule (rc PT_EPARSE, line, column) */
    struct pt_loy_req *loy;   /* LOYALTY: the operation and its answer */
    struct pt_auto_req *aut;  /* AUTO: the operation and its answer */
    /* results */
    int rc;                   /* 0, PT_ENOTFOUND, PT_EIO, PT_EINVAL */
    char msg[160];
    int64_t out_row;          /* UNMERGE: the row split off */
    size_t accepted, duplicates;
    /* completion: called on the engine thread after commit (may be NULL) */
    void (*done)(struct pt_job *j, void *ctx);
    void *ctx;
    /* engine use */
    int finished;
    struct pt_job *next, *cb_next;
};

int pt_engine_open(const struct pt_engine_opts *o, struct pt_engine **out, struct pt_err *e);
/* Stop taking jobs, finish every queued one, commit, free. */
void pt_engine_close(struct pt_engine *g);

/* Key check against the store (every call: a rotated key is refused at once):
 * 0 and *shop, PT_ENOTFOUND (not a key of any shop), or PT_EIO. */
int pt_engine_auth(struct pt_engine *g, const char *key, size_t len, int64_t *shop);

/* Queue a job (returns at once; j->done runs later). PT_ETOOBIG: queue full. */
int pt_engine_submit(struct pt_engine *g, struct pt_job *j);
/* Queue and wait until done. */
int pt_engine_run(struct pt_engine *g, struct pt_job *j);

/* ---- reads (any thread; each takes the read lock) ---- */
struct pt_profile {
    int64_t rows[128];  /* store row ids of the identities, the root first */
    int64_t heads[128]; /* their event chains' heads */
    size_t nrows;
    int64_t root;  /* store row id of the profile */
    char user_id[PT_EV_MAX_ID + 1];
    int anonymous; /* the root identity is an anonymousId */
    uint32_t orders;
    int64_t first_t, last_t, revenue, refunded;
    int64_t cart_value, cart_since, cart_t;
    uint8_t consent, consent_set;
    int has_rfm;
    int recency_days, r, f, m, seg;
    /* live CLV (has_clv = 0 until the shop's models are fitted) */
    int has_clv;
    double clv_p_alive, clv_exp90, clv_exp365; /* expected orders in 90 / 365 days */
    int64_t clv_value365, clv_aov; /* minor units; -1 = no spend model */
    int64_t clv_next_t;            /* expected next order (Unix s); 0 = not expected */
    int64_t clv_fitted_at;
    int64_t now;
};
/* Profile of row `row` of shop (any identity in a tree gives the tree's
 * profile). PT_ENOTFOUND if no such live row in that shop. */
int pt_engine_profile_row(struct pt_engine *g, int64_t shop, int64_t row, struct pt_profile *p);
int pt_engine_profile(struct pt_engine *g, int64_t shop, const char *user_id, int anonymous,
                      struct pt_profile *p);

/* ---- segments (docs/segments.md) ---- */
struct pt_segment_info {
    int64_t id, shop;
    const char *name, *rule, *builtin; /* borrowed: valid in the callback only */
    int64_t created, updated;
    uint64_t count; /* members now */
};
/* Every segment of shop, in id order (under the read lock: keep cb short). */
int pt_engine_segments(struct pt_engine *g, int64_t shop,
                       int (*cb)(void *ctx, const struct pt_segment_info *s), void *ctx);
/* One segment: PT_ENOTFOUND if shop has no segment id. */
int pt_engine_segment(struct pt_engine *g, int64_t shop, int64_t id,
                      int (*cb)(void *ctx, const struct pt_segment_info *s), void *ctx);
/* Members of segment id after cursor `after` (0 = from the start), at most
 * limit, in a stable order; *next receives the cursor of the next page (0 =
 * none). cb gets each member's id and kind. */
int pt_engine_segment_members(struct pt_engine *g, int64_t shop, int64_t id, uint64_t after,
                              size_t limit,
                              int (*cb)(void *ctx, const char *cid, size_t len, int anonymous),
                              void *ctx, uint64_t *next);
/* Evaluate a rule without saving it: *count members, the first `sample` of
 * them through cb. PT_EPARSE with e (line, column) for a bad rule. */
int pt_engine_segment_preview(struct pt_engine *g, int64_t shop, const char *rule, size_t len,
                              size_t sample,
                              int (*cb)(void *ctx, const char *cid, size_t len, int anonymous),
                              void *ctx, uint64_t *count, struct pt_err *e);
/* The engine's clock (Unix s): the injected one, or the system's. */
int64_t pt_engine_clock(struct pt_engine *g);
/* Run what is due by the clock now (time-driven entries and exits, sweeps). */
int pt_engine_tick(struct pt_engine *g);


/* ---- loyalty (engine_loy*.c; docs/loyalty.md) ----
 * Writes are jobs of kind PT_JOB_LOYALTY carrying a pt_loy_req; the engine
 * answers it with an HTTP status and a JSON body (out), written in the same
 * transaction as the operation. With an idempotency key the answer is
 * recorded too: a retry with the same key and the same request (hash) gets
 * the recorded answer (replayed = 1) and changes nothing; the same key with
 * another request gets 422. */
enum pt_loy_op {
    PT_LOYOP_PROGRAM = 1, /* json: the programme document */
    PT_LOYOP_POINTS,      /* user_id, points (signed), kind (EARN or ADJUST), reason */
    PT_LOYOP_ENROL,       /* user_id: make the customer a member (referral code) */
    PT_LOYOP_REDEEM,      /* user_id, id: the reward */
    PT_LOYOP_REWARD,      /* id (0: new), json: the definition; del: withdraw it */
    PT_LOYOP_VOUCHER_USE, /* code (canonical), order_id */
    PT_LOYOP_POOL,        /* json: the pool's spec; codes: n fresh canonical codes */
    PT_LOYOP_IMPORT,      /* rows: members and balances (all or nothing) */
    PT_LOYOP_BATCH        /* json: {"operations":[{user_id, points, reason, idempotency_key}...]} */
};
struct pt_loy_import_row {
    const char *user_id;
    int64_t points;     /* >= 0 */
    const char *tier;   /* a level name, or NULL */
    int64_t joined;     /* 0 = now */
};
struct pt_loy_req {
    int op;
    const char *user_id;
    const char *json;
    size_t len;
    int64_t id, points;
    int kind, del;
    const char *reason, *code, *order_id;
    const char *codes; /* POOL: n codes, each PT_CODE_LEN + 1 bytes */
    size_t n;
    const struct pt_loy_import_row *rows;
    const struct pt_loy_batch *batch; /* BATCH: parsed already (NULL: json is parsed) */
    const char *idem; /* idempotency key (NULL: none) */
    uint8_t hash[16]; /* of the request, to tell a retry from a reuse of the key */
    /* the answer */
    int status;
    struct pt_buf out;
    int replayed;
};
/* Reads (read lock), JSON appended to out: PT_ENOTFOUND if the shop has no
 * programme (or no such member). */
int pt_engine_loy_program(struct pt_engine *g, int64_t shop, struct pt_buf *out);
/* The member view of user_id: balance, tier and progress, expiring points,
 * rewards they can afford, referral code and link. */
int pt_engine_loy_member(struct pt_engine *g, int64_t shop, const char *user_id,
                         struct pt_buf *out);
/* The member's referral share link (or code if no link template) into out. */
int pt_engine_loy_referral_link(struct pt_engine *g, int64_t shop, const char *user_id,
                                struct pt_buf *out);
/* The member's row (for history), PT_ENOTFOUND if not a member. */
int pt_engine_loy_member_row(struct pt_engine *g, int64_t shop, const char *user_id,
                             int64_t *row);
int pt_engine_loy_rewards(struct pt_engine *g, int64_t shop, int64_t id, struct pt_buf *out);
/* Liability, redemption rate and the top `top` members by balance. */
int pt_engine_loy_report(struct pt_engine *g, int64_t shop, int top, struct pt_buf *out);
/* The user id of member row `row` into out (PT_ENOTFOUND if gone). */
int pt_engine_loy_user(struct pt_engine *g, int64_t row, struct pt_buf *out);

/* ---- automation (engine_auto*.c; docs/automation.md) ----
 * Writes are jobs of kind PT_JOB_AUTO carrying a pt_auto_req, answered with
 * an HTTP status and a JSON body (out) like loyalty's. */
enum pt_auto_opk {
    PT_AUTOOP_TEMPLATE = 1, /* id (tmpl_id), json; del: remove it */
    PT_AUTOOP_CREATE,       /* json: the definition */
    PT_AUTOOP_UPDATE,       /* id, json: a new version (new entries use it) */
    PT_AUTOOP_STATUS,       /* id, status: PT_AUTO_ACTIVE / PAUSED / DELETED */
    PT_AUTOOP_SETTINGS,     /* json: the shop's messaging settings */
    PT_AUTOOP_DELIVERED,    /* results[n]: the delivery thread's outcomes */
    PT_AUTOOP_TRIGGER       /* id, user_id: enter a customer now (manual / API trigger) */
};
struct pt_auto_result {
    int64_t id;       /* outbox row */
    int status;       /* PT_OUT_SENT, PT_OUT_PENDING (retry), PT_OUT_DEAD, PT_OUT_SKIPPED */
    int attempts;
    int64_t next_at, sent_at;
    int bounce;       /* a hard bounce: suppress the address */
    int64_t shop;
    char address[256];
    char error[200];
};
struct pt_auto_req {
    int op;
    const char *json, *tmpl_id, *user_id;
    size_t len;
    int64_t id;
    int status_to, del;
    struct pt_auto_result *results;
    size_t n;
    const char *idem;
    uint8_t hash[16];
    /* the answer */
    int status;
    struct pt_buf out;
    int replayed;
};
/* The base of tracking links for shops without links_base_url (copied). */
void pt_engine_set_public_url(struct pt_engine *g, const char *url);
/* Reads (read lock), JSON appended to out. */
int pt_engine_auto_list(struct pt_engine *g, int64_t shop, int64_t id, struct pt_buf *out);
int pt_engine_auto_templates(struct pt_engine *g, int64_t shop, const char *id,
                             struct pt_buf *out);
int pt_engine_auto_settings(struct pt_engine *g, int64_t shop, struct pt_buf *out);
/* Render template id for user_id as it would be sent now (PT_ENOTFOUND: no
 * such template or customer). */
int pt_engine_auto_preview(struct pt_engine *g, int64_t shop, const char *id,
                           const char *user_id, struct pt_buf *out);
/* Messages of the outbox (status -1: any), newest first. */
int pt_engine_outbox(struct pt_engine *g, int64_t shop, int status, int64_t automation,
                     const char *user_id, int64_t before, int limit, struct pt_buf *out);
/* Tracking links: what a signed token names (0, or PT_ENOTFOUND for a bad
 * or forged token). kind: 'o' open, 'c' click (url signed too), 'u' unsubscribe. */
struct pt_track {
    int64_t shop, customer, automation;
    char msg_id[40];
    char user_id[PT_EV_MAX_ID + 1];
    int anonymous;
};
int pt_engine_track(struct pt_engine *g, int kind, const char *token, const char *url,
                    struct pt_track *out);
/* The signed token of message msg_id for kind (and url for clicks) into out. */
void pt_engine_track_token(struct pt_engine *g, int kind, const char *msg_id, const char *url,
                           char *out, size_t cap);

/* A shop's live CLV models (docs/clv.md, "Live"). */
struct pt_clv_live {
    int64_t shop, fitted_at;
    size_t customers;
    struct pt_clv_params bg; /* BG/NBD, time in weeks */
    double bg_ll;
    struct pt_gg gg; /* Gamma-Gamma on order values in minor units (has_gg) */
    int has_gg;
};
/* The shop's latest fit: 0, or PT_ENOTFOUND if none yet. */
int pt_engine_clv_model(struct pt_engine *g, int64_t shop, struct pt_clv_live *out);

struct pt_engine_stats {
    size_t queue_events, queue_jobs, customers, rows;
    uint64_t events_accepted, events_duplicate, commits, commit_events;
    double commit_seconds;
    /* segments */
    size_t segments;
    uint64_t segment_members, segment_bytes; /* memberships, Roaring bytes (serialized) */
    uint64_t segment_events;                 /* Segment Entered / Exited written */
    double segment_p50, segment_p99; /* seconds a group spent on segments (last 4096) */
    double segment_eval_p50, segment_eval_p99; /* ... evaluating (not writing events) */
    /* automation */
    size_t automations, runs_active;
    uint64_t messages_decided, auto_sweeps, delivered, delivery_dead;
    double auto_sweep_seconds; /* the last sweep of time triggers */
};
void pt_engine_stats(struct pt_engine *g, struct pt_engine_stats *st);

/* A reader connection for the calling thread (opened on first use, closed by
 * pt_engine_close). NULL on failure. */
struct pt_store *pt_engine_reader(struct pt_engine *g);

#endif
