/*
 * engine_int.h - the engine's private parts (engine.c, engine_apply.c, engine_read.c).
 */
#ifndef PT_ENGINE_ENGINE_INT_H
#define PT_ENGINE_ENGINE_INT_H

#include <pthread.h>
#include <roaring/roaring.h>
#include <sodium.h>

#include "engine/engine.h"
#include "engine/state.h"
#include "automation/def.h"
#include "automation/msgtmpl.h"
#include "automation/send.h"
#include "loyalty/code.h"
#include "loyalty/program.h"
#include "loyalty/reward.h"
#include "segment/rule.h"
#include "segment/subject.h"

enum { ROW_SPLIT = 8 }; /* state flag: unmerged once, not merged again automatically */

struct rfm_snap {
    int64_t shop;
    uint64_t version;
    int64_t built;
    size_t n;
    int64_t *last, *mon;
    uint32_t *freq;
};

/* A saved segment in memory (engine_seg.c). members: root rows. */
struct eseg {
    int64_t id;
    uint32_t shop;
    char *name, *text, *builtin;
    struct pt_rule rule;
    struct pt_seg_time tm;
    roaring_bitmap_t *members;
    int64_t created, updated;
    int64_t snap_seq; /* at load: the snapshot's last event */
};

/* Loyalty (engine_loy*.c). A member's points are lots: each positive entry
 * adds one (its expiry), negative entries take from the oldest first (an
 * expiry takes its own lot). sum(left) = max(balance, 0). */
struct loy_lot {
    int64_t expires, left, entry;
};
struct loy_evc { /* awards of one behaviour rule to a member */
    uint32_t hash, total, nday;
    int64_t day;
};
struct loy_acct {
    uint32_t row, shop;
    int64_t balance, earned, redeemed, expired; /* lifetime sums of kinds */
    int64_t issued;                             /* positive earn and adjust entries */
    int tier;                                   /* level + 1; 0 = none */
    int64_t tier_until, joined, last_intensify, referred_by;
    int64_t day, day_points; /* earned on UTC day `day` (caps) */
    uint16_t bday;           /* birthday: month * 100 + day (0: unknown) */
    char code[PT_CODE_LEN + 1];
    struct loy_lot *lots;
    uint32_t nlots, lot0, caplots;
    struct loy_evc *evc;
    uint32_t nevc;
};
struct loy_prog {
    uint32_t shop;
    struct pt_loy_program p;
    char *json;
    int64_t created, updated;
};
struct loy_reward {
    int64_t id;
    uint32_t shop;
    struct pt_loy_reward r;
    int active;
    int64_t created, updated;
};
struct loy_pend { /* a referral waiting for the friend's return window */
    uint32_t friend_row, referrer, shop;
    int64_t due;
    char *order_id;
};

struct seg_timer {
    int64_t t;
    uint32_t row;
};

/* Automation (engine_auto*.c). */
struct auto_seen { /* a customer's latest passage through an automation */
    uint32_t row1;  /* row + 1; 0 = empty slot */
    uint32_t active;
    int64_t key, entered;
};
struct eauto {
    int64_t id;
    uint32_t shop;
    int status; /* PT_AUTO_* */
    int64_t created, updated;
    struct pt_auto_def **defs; /* every version, the current last */
    char **json;
    int64_t *vers;
    size_t nvers;
    struct auto_seen *seen; /* open addressing by row */
    size_t nseen, capseen;
    /* time triggers: per row, the UTC day (days since 1970) until which the
     * sweeps may skip the customer: nothing can occur or pass the conditions
     * before then without an event of theirs, which resets it to 0
     * (engine_auto_sweep.c; UINT16_MAX: only an event) */
    uint16_t *until;
    size_t nuntil;
};
enum { RUN_GOT_EVENT = 1, RUN_PARKED = 2 };
struct arun {
    int64_t id, auto_id, version, wake, entered, key;
    uint32_t row, shop, rnext; /* rnext: the row's next run + 1 */
    int pc, flags, live;
    const struct pt_auto_def *def;
    char voucher[24];
    char *ctx; /* the triggering event's JSON (or NULL) */
};
struct etmpl {
    uint32_t shop;
    char id[65];
    struct pt_msg_tmpl t;
    char *json;
    int64_t created, updated;
};
struct msgset { /* a shop's messaging settings (engine_auto_set.c) */
    uint32_t shop;
    char from[256], from_name[128], base_url[256], secret[65];
    int quiet_start, quiet_end; /* local hours; start == end: none */
    int tz_min, default_hour;
    int cap_max[3];       /* per channel (PT_CHAN_*); 0 = no cap */
    int64_t cap_per[3];
    char *json;
};
struct apend { /* an entry or a wait's event, to run after the group's segments */
    int kind; /* 1 enter, 2 event */
    struct eauto *a;
    uint32_t row, shop;
    int64_t key;
    char *ctx;   /* the event's JSON (enter: the trigger's; may be NULL) */
    char *name;  /* event: its name */
};
struct run_timer {
    int64_t t;
    uint32_t run;
};

struct pt_engine {
    char *dir;
    int lock_fd;        /* DIR/patron.lock, held while the engine is open */
    struct pt_store *w; /* writer connection (engine thread; load at open) */
    struct pt_state st;
    pthread_rwlock_t lock; /* st: engine writes under wrlock, readers rdlock */
    uint64_t version;      /* bumped on every applied group (under wrlock) */
    size_t next_row;       /* next new row index (engine thread) */
    uint64_t loaded_orders;

    /* queue */
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    struct pt_job *q_head, *q_tail;
    size_t q_events, q_jobs, queue_cap, group_cap;
    int stopping, no_thread;
    pthread_t thread;
    uint64_t ev_accepted, ev_duplicate, commits, commit_events;
    size_t live_rows, all_rows; /* state sizes after the last group (mu) */
    double commit_seconds;

    /* per-thread readers */
    pthread_key_t reader_key;

    /* live RFM */
    pthread_mutex_t rfm_mu;
    struct rfm_snap *rfm;
    size_t nrfm;
    int rfm_refresh;

    /* group scratch (engine thread) */
    size_t *dirty;
    size_t ndirty, capdirty;
    int scrub;
    int scrub_pending; /* an erasure's WAL truncate is still to do (mu) */

    /* durability: committed groups wait here for the sync thread's fdatasync
     * of the WAL, while the writer goes on with the next group */
    struct pt_job *s_head, *s_tail;
    pthread_cond_t sync_cv;
    pthread_t sync_thread;
    int sync_started, writer_done, wal_fd;

    /* checkpoints, on their own thread and connection */
    pthread_t ckpt_thread;
    int ckpt_started;
    pthread_cond_t ckpt_cv;
    uint64_t ckpt_commits; /* commits seen by the checkpointer */

    /* live CLV (engine_clv.c): fits under rfm_mu */
    pthread_t clv_thread;
    pthread_cond_t clv_cv; /* with mu: wakes the CLV thread to stop */
    int clv_started, clv_cv_init, clv_refit;
    struct pt_clv_live *clv;
    size_t nclv;
    uint64_t clv_fits;

    void (*progress)(void *ctx, const char *phase, uint64_t done);
    void *pctx;

    /* segments (engine_seg.c, engine_seg_eval.c): written on the engine
     * thread under the write lock, read under the read lock */
    int64_t (*clock)(void *ctx);
    void *clock_ctx;
    struct eseg *segs;
    size_t nseg, capseg;
    struct pt_dict dict;                /* event names, categories, products */
    struct pt_act *acts;                /* every identity's activity */
    uint32_t *act_next;                 /* chain: the identity's previous act + 1 */
    size_t nacts, capacts;
    uint32_t *act_head;                 /* per row: its latest act + 1 */
    size_t act_rows;
    uint32_t order_grp;
    struct seg_timer *heap;             /* customers' next possible changes (min-heap) */
    size_t nheap, capheap;
    int64_t *next_t;                    /* per row: its live timer (0 = none) */
    size_t next_rows;
    int seg_sweep_s;
    int64_t last_sweep;
    struct seg_row *srow;    /* the engine thread's scratch (live groups) */
    uint64_t seg_events;     /* Segment Entered / Exited written */
    struct pt_buf sbuf;      /* a segment event's JSON (engine thread) */
    double seg_lat[4096];    /* seconds each recent group spent on segments (mu) */
    double seg_eval[4096];   /* ... of which not writing Segment Entered/Exited events */
    double seg_write_s;      /* the current group's event writing (engine thread) */
    size_t nseg_lat;
    size_t seg_count;        /* for stats (mu) */
    uint64_t seg_events_pub; /* seg_events as of the last group (mu) */
    uint64_t seg_members, seg_bytes;
    size_t *sdirty;          /* rows whose segments to re-evaluate in this group */
    size_t nsdirty, capsdirty;
    struct shop_seg {        /* per shop: union of its segments' time uses */
        uint32_t shop;
        int builtins;        /* its built-in segments exist */
        struct pt_seg_time tm;
        /* its segments compiled for live groups (engine_seg.c), as of seg_gen */
        struct pt_seg_prog *prog;
        struct pt_seg_block *blk;
        size_t *idx, nidx; /* rule k of prog is segs[idx[k]] */
        uint64_t gen;
    } *shops;
    uint64_t seg_gen;        /* bumped when any segment is added, changed or removed */
    uint64_t seg_stats_gen;  /* seg_gen when the membership gauges were last counted */
    uint8_t *hits;           /* a live block's matches: nidx x PT_SEG_BLOCK */
    size_t caphits;
    uint32_t *brows;         /* a live block's rows */
    size_t nshops;

    /* loyalty (engine_loy*.c): written on the engine thread under the write
     * lock, read under the read lock */
    struct loy_prog *lprog;
    size_t nlprog;
    struct loy_acct **accts; /* each its own block: pointers stay valid */
    size_t naccts, capaccts;
    uint32_t *acct_of; /* per row: account index + 1, 0 = none */
    size_t acct_rows;
    struct loy_reward *rewards;
    size_t nrewards, caprewards;
    struct loy_pend *pend;
    size_t npend, cappend;
    int64_t loy_next; /* the earliest expiry, tier review or referral due (0 = none) */
    int64_t loy_idem_purged;
    int64_t loy_bday_day; /* the UTC day whose birthdays were awarded */
    int loy_bdays;        /* members' birthdays are in memory (loaded when first needed) */
    /* automation (engine_auto*.c): engine thread, under the write lock;
     * reads under the read lock */
    struct eauto **autos;
    size_t nautos;
    struct arun *runs;
    size_t nruns, capruns;
    uint32_t *run_free; /* free run slots */
    size_t nfree;
    uint32_t *run_head; /* per row: its first run + 1 */
    size_t run_rows;
    struct run_timer *rheap;
    size_t nrheap, caprheap;
    struct etmpl *tmpls;
    size_t ntmpls;
    struct msgset *sets;
    size_t nsets;
    struct apend *pend_q;
    size_t npend_q, cappend_q;
    uint16_t *bday;     /* per row: month * 100 + day (auto_bdays: loaded) */
    size_t bday_rows;
    int auto_bdays;
    int64_t auto_swept, auto_sweep_s;
    uint8_t secret[32]; /* signs tracking links */
    struct pt_buf abuf; /* scratch */
    struct seg_row *auto_srow; /* conditions' scratch (engine thread; made when first needed) */
    const struct pt_rule *cf_rule[16]; /* the fill flags and time uses of recent conditions */
    unsigned cf_flags[16];
    struct pt_seg_time cf_time[16];
    int auto_wrote;     /* the group wrote messages: wake the deliverer after commit */
    int auto_poke;      /* (mu) the deliverer has work */
    uint64_t auto_sent_decided, auto_sweeps;
    double auto_sweep_seconds;
    /* delivery (engine_deliver.c) */
    struct pt_smtp_cfg smtp;
    char *mail_from, *public_url;
    int deliver_attempts, deliver_backoff_s, deliver_started;
    pthread_t deliver_thread;
    pthread_cond_t deliver_cv;
    uint64_t delivered, deliver_failed;
    struct { /* published after each group (mu) */
        size_t autos, runs;
        uint64_t decided, sweeps;
        double sweep_s;
    } auto_pub;
};

enum { ENGINE_FILL_RFM = 1, ENGINE_FILL_CLV = 2, ENGINE_FILL_ALL = 3 };
static inline int64_t engine_now(struct pt_engine *g)
{
    return g->clock(g->clock_ctx);
}
int engine_fill(struct pt_engine *g, int64_t shop, size_t row, int64_t now, unsigned scores,
                struct pt_profile *p);

/* engine_seg_eval.c */
int engine_act_add(struct pt_engine *g, size_t row, const struct pt_event *ev, int64_t seq);
int engine_acts_load(struct pt_engine *g, struct pt_err *e);
void engine_acts_release(struct pt_engine *g);
/* One thread's scratch for evaluating customers one at a time. */
struct seg_row {
    struct pt_seg_ctx *x;   /* bound to s by engine_seg_row */
    struct pt_profile *p;
    struct pt_act *buf;     /* the profile's activity */
    size_t cap;
    struct pt_seg_subject s;
    struct pt_store *store; /* where traits and event bodies are read */
    int64_t *lots;          /* a member's lots: expiries, then points */
    size_t caplots;
};
int engine_seg_row_init(struct seg_row *r); /* 0 or PT_ENOMEM (release either way) */
void engine_seg_row_release(struct seg_row *r);
/* Bind r->x to the profile of root `row` of shop at now, filled with the
 * scores `flags` asks for; traits and event bodies read through store.
 * 0, PT_ENOTFOUND (no such profile) or PT_ENOMEM. */
int engine_seg_row(struct pt_engine *g, struct seg_row *r, uint32_t shop, size_t row,
                   int64_t now, unsigned flags, struct pt_store *store);
/* Members of rules[0..n) among shop's profiles at now into out[i] (new
 * bitmaps); next[root] (if not NULL, sized st.n) receives each profile's next
 * possible change under time uses t. Caller holds the state lock. traits: a
 * connection to read traits through (the calling thread's). */
int engine_seg_eval_all(struct pt_engine *g, uint32_t shop, const struct pt_rule *const *rules,
                        size_t n, int64_t now, const struct pt_seg_time *t,
                        struct pt_store *traits, roaring_bitmap_t **out, int64_t *next);
unsigned engine_seg_fill_flags(const struct pt_seg_time *t);

/* engine_seg.c */
int engine_seg_open(struct pt_engine *g, struct pt_err *e);
int engine_seg_reload(struct pt_engine *g, struct pt_err *e);
void engine_seg_close(struct pt_engine *g);
int engine_seg_group(struct pt_engine *g, int64_t now, struct pt_err *e);
int engine_seg_job(struct pt_engine *g, struct pt_job *j, int64_t now, struct pt_err *e);
int engine_seg_due(struct pt_engine *g);
int engine_seg_mark(struct pt_engine *g, size_t row);
/* engine_seg_api.c */
struct shop_seg *engine_seg_shop(struct pt_engine *g, uint32_t shop);
/* The segments of shop (SEG_ANY_SHOP: every shop) reading any of `uses` (0:
 * any) with id `id` (0: any), in a new array (*n of them); NULL on ENOMEM. */
#define SEG_ANY_SHOP UINT32_MAX
struct eseg **engine_seg_list(struct pt_engine *g, uint32_t shop, unsigned uses, int64_t id,
                              size_t *n);
int engine_seg_shop_update(struct pt_engine *g, uint32_t shop);
int engine_seg_builtins(struct pt_engine *g, uint32_t shop, int64_t now, struct pt_err *e);
int engine_seg_add(struct pt_engine *g, const struct pt_seg_row *r, struct eseg **out,
                   struct pt_err *e);
void engine_seg_free(struct eseg *s);
int engine_seg_snapshot_all(struct pt_engine *g, int64_t now, struct pt_err *e);
int engine_seg_snapshot_one(struct pt_engine *g, struct eseg *sg, int64_t now, struct pt_err *e);
int engine_seg_timer(struct pt_engine *g, size_t row, int64_t t);
enum { SEG_EMIT = 1, SEG_TIMERS = 2 };
int engine_seg_populate(struct pt_engine *g, uint32_t shop, struct eseg **segs, size_t n,
                        int64_t now, int emit, struct pt_err *e);

/* engine_loy.c */
int engine_loy_load(struct pt_engine *g, struct pt_err *e);
void engine_loy_release(struct pt_engine *g);
struct loy_prog *engine_loy_prog(struct pt_engine *g, uint32_t shop);
struct loy_acct *engine_loy_acct(struct pt_engine *g, size_t row);
/* A new account of row (memory only), NULL on ENOMEM. */
struct loy_acct *engine_loy_acct_new(struct pt_engine *g, uint32_t shop, size_t row);
/* Apply one ledger entry to an account's memory (0 or PT_ENOMEM). */
int engine_loy_apply(struct loy_acct *a, const struct pt_loy_entry *en);
/* The earliest instant the clock has loyalty work (expiry, review, referral). */
void engine_loy_note_due(struct pt_engine *g, int64_t t);
/* t plus `months` calendar months (the day clamped to the month's end). */
int64_t engine_loy_add_months(int64_t t, int64_t months);
/* The group's hooks (engine thread, write lock, in the transaction). */
int engine_loy_order(struct pt_engine *g, int64_t now, uint32_t shop, size_t row,
                     const struct pt_event *ev, int64_t prev_last, struct pt_err *e);
int engine_loy_refund(struct pt_engine *g, int64_t now, uint32_t shop, const char *order_id,
                      struct pt_err *e);
int engine_loy_event(struct pt_engine *g, int64_t now, uint32_t shop, size_t row,
                     const struct pt_event *ev, int64_t seq, struct pt_err *e);
int engine_loy_due(struct pt_engine *g, int64_t now);
int engine_loy_tick(struct pt_engine *g, int64_t now, struct pt_err *e);
void engine_loy_erase(struct pt_engine *g, size_t row);
/* A member account of root `row` (a user), created with a referral code if
 * need be. */
int engine_loy_member(struct pt_engine *g, uint32_t shop, size_t row, int64_t now,
                      struct loy_acct **out, struct pt_err *e);
/* Write a ledger entry and apply it (store + memory). *dup: the idempotency
 * key was used before (nothing done). */
int engine_loy_entry(struct pt_engine *g, struct loy_acct *a, int kind, int64_t points,
                     int64_t t, int64_t amount, const char *reason, const char *ref,
                     const char *idem, int64_t *id, int *dup, struct pt_err *e);
int engine_loy_tier_check(struct pt_engine *g, struct loy_acct *a, int64_t now, int review,
                          struct pt_err *e);
int engine_loy_save_member(struct pt_engine *g, struct loy_acct *a, struct pt_err *e);
/* Whether row's profile earns in shop's programme at t (enabled, started,
 * not anonymous, in the pilot). */
int engine_loy_eligible(struct pt_engine *g, uint32_t shop, size_t row, int64_t t);
/* Award behaviour rule r to member a for something at t (its caps apply;
 * idem keys the entry, ref may be NULL). */
int engine_loy_award(struct pt_engine *g, struct loy_prog *lp, const struct pt_loy_event_rule *r,
                     struct loy_acct *a, int64_t t, int64_t now, const char *ref,
                     const char *idem, struct pt_err *e);
/* engine_loy_bday.c: the lower-cased string trait `key` of root's profile
 * into out ("" if none); a member's birthday from the store; an identify's
 * traits (row's member, if any); the day's birthday awards. */
int engine_loy_trait(struct pt_engine *g, size_t root, const char *key, char *out, size_t cap,
                     struct pt_err *e);
int engine_loy_bday_read(struct pt_engine *g, struct loy_acct *a, struct pt_err *e);
int engine_loy_bdays_load(struct pt_engine *g, struct pt_err *e);
void engine_loy_traits(struct pt_engine *g, size_t row, const char *traits);
int engine_loy_bday_due(struct pt_engine *g, int64_t now);
int engine_loy_birthdays(struct pt_engine *g, int64_t now, struct pt_err *e);
/* engine_loy_api.c: a pending referral added to memory (PT_ENOMEM); a
 * zeroed slot at the end of the rewards (the caller counts it in), NULL on
 * ENOMEM */
int engine_loy_pend_add(struct pt_engine *g, const struct pt_loy_referral_row *r);
struct loy_reward *engine_loy_reward_new(struct pt_engine *g);
void engine_loy_reward_json(struct pt_buf *b, const struct loy_reward *w);
/* ,"key":"YYYY-MM-DDTHH:MM:SSZ" (or null for 0) appended to b. */
int engine_loy_add_time(struct pt_buf *b, const char *key, int64_t t);
/* engine_loy_ops.c */
int engine_loy_job(struct pt_engine *g, struct pt_job *j, int64_t now, struct pt_err *e);
/* A job answered with (out, status) and recorded under its Idempotency-Key
 * (idem NULL: none): resets the answer, replays a recorded one (replayed =
 * 1; 422 for another request under the same key), else runs op and records
 * what it answered (below 500) in the same transaction. */
int engine_idem_job(struct pt_engine *g, struct pt_job *j, const char *idem,
                    const uint8_t hash[16], struct pt_buf *out, int *status, int *replayed,
                    int64_t now,
                    int (*op)(struct pt_engine *g, struct pt_job *j, int64_t now, struct pt_err *e),
                    struct pt_err *e);
/* engine_apply.c: a new user row of shop (for imports) */
int engine_user_row(struct pt_engine *g, uint32_t shop, const char *id, int64_t now, size_t *row,
                    struct pt_err *e);

/* engine_auto.c: load/release; the group's hooks; what is due */
int engine_auto_load(struct pt_engine *g, struct pt_err *e);
void engine_auto_release(struct pt_engine *g);
int engine_auto_event(struct pt_engine *g, uint32_t shop, size_t row, const struct pt_event *ev);
int engine_auto_segment(struct pt_engine *g, const struct eseg *sg, size_t row, int entered);
/* Whether a trigger's segment name names sg (its name, built-in key, or RFM name). */
int engine_auto_seg_named(const struct eseg *sg, const char *name);
int engine_auto_tier(struct pt_engine *g, uint32_t shop, size_t row, int from, int to);
void engine_auto_traits(struct pt_engine *g, size_t row, const char *traits);
int engine_auto_due(struct pt_engine *g, int64_t now);
int engine_auto_group(struct pt_engine *g, int64_t now, struct pt_err *e);
int engine_auto_erase(struct pt_engine *g, size_t row, struct pt_err *e);
/* Identity `from` was merged into the profile of root `root`: its runs follow. */
int engine_auto_merge(struct pt_engine *g, size_t from, size_t root, int64_t now,
                      struct pt_err *e);
struct eauto *engine_auto_find(struct pt_engine *g, int64_t shop, int64_t id);
/* *out (may be NULL): 0 not entered, 1 entered, 2 entered the control group,
 * 3 not entered: the conditions do not hold, 4: the re-entry rule refuses
 * (a cooldown, for now), 5: the re-entry rule refuses for good. */
int engine_auto_enter(struct pt_engine *g, struct eauto *a, size_t row, int64_t key,
                      const char *ctx, int64_t now, int *out, struct pt_err *e);
/* The checks of engine_auto_enter alone (*out as there, 1 for "may enter"),
 * and the entry without them. */
int engine_auto_check(struct pt_engine *g, struct eauto *a, size_t row, int64_t key,
                      int64_t now, int *out, struct pt_err *e);
int engine_auto_enter_now(struct pt_engine *g, struct eauto *a, size_t row, int64_t key,
                          const char *ctx, int64_t now, int *out, struct pt_err *e);
struct auto_seen *engine_auto_seen(struct eauto *a, uint32_t row, int add);
int engine_auto_run_push(struct pt_engine *g, uint32_t run);
void engine_auto_run_drop(struct pt_engine *g, uint32_t run); /* memory only */
int engine_auto_add_version(struct eauto *a, int64_t version, const char *json,
                            struct pt_err *e);
/* engine_auto_step.c: run a run until it waits or ends */
int engine_auto_exec(struct pt_engine *g, uint32_t run, int64_t now, struct pt_err *e);
int engine_auto_cond(struct pt_engine *g, uint32_t shop, size_t row, const struct pt_rule *r,
                     int64_t now, int *match, struct pt_err *e);
/* After engine_auto_cond: the first instant r's value can change for that
 * customer without an event of theirs (INT64_MAX: never; scores and lots: now). */
int64_t engine_auto_cond_next(struct pt_engine *g, const struct pt_rule *r, int64_t now);
/* Something of root `row` changed (an event, traits, points): time triggers
 * look at them again at the next sweep. */
void engine_auto_touch(struct pt_engine *g, size_t row);
/* engine_auto_msg.c: a message decided, rendered and put in the outbox */
int engine_auto_send(struct pt_engine *g, struct arun *r, const struct pt_auto_step *s,
                     int64_t now, struct pt_err *e);
/* Whether root `row` consented to marketing on channel (email: email_marketing,
 * webhook: sms). */
int engine_auto_consented(const struct pt_engine *g, size_t row, int channel);
struct etmpl *engine_auto_tmpl(struct pt_engine *g, uint32_t shop, const char *id);
const struct msgset *engine_auto_settings(struct pt_engine *g, uint32_t shop);
int engine_auto_settings_parse(struct pt_engine *g, uint32_t shop, const char *json,
                               struct msgset *out, char *field, struct pt_err *e);
void engine_auto_settings_json(const struct pt_engine *g, const struct msgset *m,
                               struct pt_buf *out);
/* The sender and the base of links: the shop's, or the server's. */
const char *engine_auto_from(const struct pt_engine *g, const struct msgset *m);
const char *engine_auto_base(const struct pt_engine *g, const struct msgset *m);
/* Render template t for root `row` (store: the calling thread's connection). */
struct auto_msg {
    struct pt_buf subject, html, text, body;
};
int engine_auto_render(struct pt_engine *g, struct pt_store *store, const struct etmpl *t,
                       size_t row, const struct arun *r, const char *msg_id, int64_t now,
                       struct auto_msg *out, struct pt_err *e);
void engine_auto_sign(struct pt_engine *g, const char *what, size_t len, char out[33]);
int64_t engine_auto_best_time(struct pt_engine *g, const struct msgset *m, size_t row,
                              int64_t now);
/* engine_auto_sweep.c: the time triggers */
int engine_auto_sweep(struct pt_engine *g, int64_t now, struct pt_err *e);
/* engine_auto_ops.c */
int engine_auto_job(struct pt_engine *g, struct pt_job *j, int64_t now, struct pt_err *e);
/* engine_deliver.c */
int engine_deliver_start(struct pt_engine *g);
void engine_deliver_stop(struct pt_engine *g);
void engine_deliver_poke(struct pt_engine *g);
/* engine_loy_ops.c: a voucher issued to customer (store + memory of reward w) */
struct loy_reward *engine_loy_reward_of(struct pt_engine *g, int64_t shop, int64_t id);
int engine_loy_issue_voucher(struct pt_engine *g, int64_t shop, const struct pt_voucher_spec *v,
                             int64_t customer, int64_t pool, int64_t redemption, int64_t now,
                             struct pt_voucher_row *out, struct pt_err *e);
int engine_bday_parse(const char *s);

int engine_load(struct pt_engine *g, struct pt_err *e);
void engine_group(struct pt_engine *g, struct pt_job *head);
void engine_rfm_release(struct pt_engine *g);
void engine_rfm_invalidate(struct pt_engine *g, int64_t shop);
int engine_clv_start(struct pt_engine *g);
void engine_clv_stop(struct pt_engine *g);
void engine_clv_score(struct pt_engine *g, int64_t shop, struct pt_profile *p);

#endif
