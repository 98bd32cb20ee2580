/*
 * store.h - the durable source of truth (DESIGN.md "store").
 *
 * Layer: store (util, ingest/events.h for the event record). One struct
 * pt_store is one database connection: the engine owns the single writer;
 * HTTP threads each open a reader. Backends implement exactly these functions;
 * the embedded default is SQLite in WAL mode (store_sqlite.c) in a data
 * directory, and nothing above this header knows which database is behind it.
 *
 * Durability: pt_store_commit returns 0 only after the transaction is on disk
 * (WAL + fsync, synchronous=FULL), except on a PT_STORE_ENGINE connection
 * (see below). Erasure zeroes deleted content
 * (secure_delete) and truncates the WAL, so erased data leaves the files.
 *
 * Errors: PT_EIO with pt_err.msg naming the statement and the database's
 * message; PT_ENOTFOUND for a missing shop/customer. Not thread-safe: one
 * connection per thread.
 */
#ifndef PT_STORE_STORE_H
#define PT_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/events.h"
#include "util/buf.h"
#include "util/err.h"

#define PT_STORE_SCHEMA_VERSION 4

struct pt_store;

/* PT_STORE_ENGINE: a writer whose commits are not synced by the database
 * (synchronous=NORMAL): the caller fdatasyncs the WAL file before it calls
 * anything durable (the engine's group commit does, on another thread, while
 * it writes the next group). PT_STORE_WRITE commits are durable on return. */
enum { PT_STORE_READ = 0, PT_STORE_WRITE = 1, PT_STORE_ENGINE = 2 };

/* Open (creating dir and database as needed) `dir`/patron.db. A writer runs
 * the schema migrations first. */
int pt_store_open(const char *dir, int mode, struct pt_store **out, struct pt_err *e);
void pt_store_close(struct pt_store *s);
int pt_store_schema_version(struct pt_store *s, int *v);

/* ---- shops ---- */
struct pt_shop {
    int64_t id;
    char public_id[24]; /* "shop_" + 16 hex */
    char name[256];
    char key_id[24];    /* public part of the API key */
    uint8_t key_hash[32];
    int64_t created;
};
/* New shop with a fresh API key: *key receives it (shown once; only its hash is stored). */
int pt_store_shop_create(struct pt_store *s, const char *name, struct pt_shop *shop,
                         char key[96], struct pt_err *e);
int pt_store_shop_rotate(struct pt_store *s, const char *public_id, struct pt_shop *shop,
                         char key[96], struct pt_err *e);
int pt_store_shop_list(struct pt_store *s, int (*cb)(void *ctx, const struct pt_shop *sh),
                       void *ctx, struct pt_err *e);
/* The shop whose key_id is `key_id` (PT_ENOTFOUND if none). */
int pt_store_shop_by_key_id(struct pt_store *s, const char *key_id, struct pt_shop *shop,
                            struct pt_err *e);
/* Split an API key into key_id and hash; 0 or PT_EINVAL if it is not one of ours. */
int pt_api_key_parse(const char *key, size_t len, char key_id[24], uint8_t hash[32]);

/* ---- write transactions (writer only) ---- */
int pt_store_begin(struct pt_store *s, struct pt_err *e);
int pt_store_commit(struct pt_store *s, struct pt_err *e);
void pt_store_rollback(struct pt_store *s);

enum { PT_CUST_USER = 0, PT_CUST_ANON = 1 };

struct pt_cust_row {
    int64_t id, shop;
    int kind;
    const char *ext_id;
    int64_t merged_into; /* 0 = none */
    uint8_t consent, consent_set;
    int split; /* unmerged once: not merged again automatically */
    int64_t cart_value, cart_since, cart_t, created;
};
int pt_store_customer_insert(struct pt_store *s, const struct pt_cust_row *c, struct pt_err *e);
/* Update merged_into, consents and cart of row c->id. */
int pt_store_customer_update(struct pt_store *s, const struct pt_cust_row *c, struct pt_err *e);
/* Shallow-merge a traits object (compact JSON) into the customer's traits. */
int pt_store_customer_traits(struct pt_store *s, int64_t id, const char *traits,
                             struct pt_err *e);

/* Insert an event of identity `customer` whose previous event is `prev` (0 =
 * none): the identity's events form a chain through prev, newest first from
 * its head (the memory keeps each identity's head). *dup = 1 if (shop,
 * message_id) was already there (nothing written). */
int pt_store_event_insert(struct pt_store *s, int64_t shop, int64_t customer, int64_t prev,
                          const struct pt_event *ev, int64_t received, int64_t *seq, int *dup,
                          struct pt_err *e);
int pt_store_event_delete(struct pt_store *s, int64_t seq, struct pt_err *e);
/* Insert an order and its lines; *dup = 1 if (shop, order_id) exists (nothing written). */
int pt_store_order_insert(struct pt_store *s, int64_t shop, int64_t customer,
                          const struct pt_event *ev, int64_t seq, int *dup, struct pt_err *e);
/* Add `amount` (clamped to what is left) to an order's refunded total. *customer,
 * *applied receive the order's customer row and the amount applied; PT_ENOTFOUND
 * if the order is unknown. */
int pt_store_order_refund(struct pt_store *s, int64_t shop, const char *order_id, int64_t amount,
                          int full, int64_t *customer, int64_t *applied, int64_t *t,
                          struct pt_err *e);
int pt_store_merge_insert(struct pt_store *s, int64_t shop, int64_t into, int64_t from, int64_t t,
                          const char *reason, int64_t *merge_id, struct pt_err *e);
/* Mark the latest active merge of `from` undone (or merge_id if > 0); *into, *from_out
 * receive its rows. PT_ENOTFOUND if none. */
int pt_store_merge_undo(struct pt_store *s, int64_t merge_id, int64_t into, int64_t from,
                        int64_t t, int64_t *into_out, int64_t *from_out, struct pt_err *e);
/* Delete every row of customers ids[0..n) whose event chains start at
 * heads[0..n) (events, bodies, orders, lines, merges, the customers); after
 * commit, pt_store_scrub. */
int pt_store_erase(struct pt_store *s, const int64_t *ids, const int64_t *heads, size_t n,
                   struct pt_err *e);
/* Copy committed WAL pages into the database (passive: never blocks the
 * writer); *wal_pages receives the WAL's size in pages. Any connection. */
int pt_store_checkpoint(struct pt_store *s, int *wal_pages, struct pt_err *e);
/* Checkpoint and truncate the WAL (after an erasure has committed). */
int pt_store_scrub(struct pt_store *s, struct pt_err *e);

/* ---- loading memory at start ---- */
int pt_store_load_customers(struct pt_store *s,
                            int (*cb)(void *ctx, const struct pt_cust_row *c), void *ctx,
                            struct pt_err *e);
struct pt_order_row {
    int64_t customer, t, amount, refunded;
};
/* (customer, seq) of every event in seq order (the head of each chain is the last). */
int pt_store_load_heads(struct pt_store *s, int (*cb)(void *ctx, int64_t customer, int64_t seq),
                        void *ctx, struct pt_err *e);
int pt_store_max_customer(struct pt_store *s, int64_t *id, struct pt_err *e);
int pt_store_load_orders(struct pt_store *s, int (*cb)(void *ctx, const struct pt_order_row *o),
                         void *ctx, struct pt_err *e);

/* ---- reads (any connection) ---- */
/* Row id of (shop, kind, ext_id), PT_ENOTFOUND if none. */
int pt_store_customer_find(struct pt_store *s, int64_t shop, int kind, const char *ext_id,
                           int64_t *id, struct pt_err *e);
/* Append JSON to out: */
/* the traits of a profile: rows ids[0..n) merged in reverse order, so ids[0]
 * (the root) wins on a conflict ("{}" if none) */
int pt_store_traits_json(struct pt_store *s, const int64_t *ids, size_t n, struct pt_buf *out,
                         struct pt_err *e);
/* [{"category","quantity"}...] top k over rows ids[0..n) */
int pt_store_categories_json(struct pt_store *s, const int64_t *ids, size_t n, int k,
                             struct pt_buf *out, struct pt_err *e);
/* the latest `limit` events of the chains starting at heads[0..n) (0 = none),
 * newest first, as a JSON array */
int pt_store_timeline_json(struct pt_store *s, const int64_t *heads, size_t n, int limit,
                           struct pt_buf *out, struct pt_err *e);
/* GDPR export: everything held about rows ids[0..n) (event chains from
 * heads[0..n)) as one JSON object's members */
int pt_store_export_json(struct pt_store *s, const int64_t *ids, const int64_t *heads, size_t n,
                         struct pt_buf *out, struct pt_err *e);
/* Page of (id) of user customers of shop with id > after, ascending, at most limit. */
int pt_store_customer_page(struct pt_store *s, int64_t shop, int64_t after, int limit,
                           int64_t *ids, int *n, struct pt_err *e);
/* Count rows: "events", "customers", "orders" of every shop (metrics, tests);
 * "received": events but the Segment Entered / Exited the engine wrote. */
int pt_store_count(struct pt_store *s, const char *table, int64_t *n, struct pt_err *e);

/* ---- segments (store_seg.c; docs/segments.md) ---- */
struct pt_seg_row {
    int64_t id, shop;
    const char *name, *rule; /* NUL-terminated; borrowed for the callback's duration */
    const char *builtin;     /* built-in key ("rfm:Champions", "type:regulars") or NULL */
    int64_t created, updated;
    const void *members; /* CRoaring portable serialization of the recorded membership */
    size_t members_len;  /* 0 = no snapshot yet */
    int64_t members_seq; /* events with seq > this are not in the snapshot */
};
/* Writer only. Insert (row->id ignored; *id receives the new one). A shop has
 * each builtin key at most once (PT_EIO otherwise). */
int pt_store_seg_insert(struct pt_store *s, const struct pt_seg_row *row, int64_t *id,
                        struct pt_err *e);
/* Name, rule and updated time of segment id (PT_ENOTFOUND if none). */
int pt_store_seg_update(struct pt_store *s, const struct pt_seg_row *row, struct pt_err *e);
/* Delete the segment and its daily counts (its timeline events stay);
 * PT_ENOTFOUND if none. */
int pt_store_seg_delete(struct pt_store *s, int64_t id, struct pt_err *e);
/* Replace the membership snapshot of segment id (len 0: none); PT_ENOTFOUND
 * if none. */
int pt_store_seg_snapshot(struct pt_store *s, int64_t id, const void *members, size_t len,
                          int64_t seq, struct pt_err *e);
/* Every segment, in id order. */
int pt_store_seg_load(struct pt_store *s, int (*cb)(void *ctx, const struct pt_seg_row *r),
                      void *ctx, struct pt_err *e);
/* Segment Entered / Exited events of segment id with seq > after, in seq order. */
int pt_store_seg_replay(struct pt_store *s, int64_t id, int64_t after,
                        int (*cb)(void *ctx, int64_t customer, int entered), void *ctx,
                        struct pt_err *e);
/* Append a Segment Entered (entered = 1) or Exited event to customer's chain
 * (prev = its head, 0 = none): type track, the name, time t, the segment's id
 * in the events' segment column; body json. *seq receives its seq. */
int pt_store_seg_event(struct pt_store *s, int64_t shop, int64_t customer, int64_t prev,
                       int64_t segment, int entered, int64_t t, const char *json, size_t len,
                       int64_t *seq, struct pt_err *e);
/* The largest event seq (0 if none). */
int pt_store_max_seq(struct pt_store *s, int64_t *seq, struct pt_err *e);
/* Daily member counts: set (segment, day) (day = Unix day number, t / 86400). */
int pt_store_seg_daily_put(struct pt_store *s, int64_t id, int64_t day, int64_t count,
                           struct pt_err *e);
/* Any connection: the counts of days [from, to] in day order. */
int pt_store_seg_daily(struct pt_store *s, int64_t id, int64_t from, int64_t to,
                       int (*cb)(void *ctx, int64_t day, int64_t count), void *ctx,
                       struct pt_err *e);

/* ---- activity for segments, loaded at start (store_seg.c) ---- */
struct pt_act_row {
    int64_t customer, t;
    int kind;          /* enum pt_ev_kind */
    const char *name;  /* event name (NULL for orders) */
    const char *product, *category; /* NULL if none */
    int64_t qty;       /* >= 1 */
    int discounted;    /* orders (0 on their lines) */
    int line;          /* an order line (of the order reported just before it) */
    int64_t seq;       /* the event (for an order: its Order Completed event; 0 if none) */
};
/* Track events other than orders, refunds and segment events, in seq order;
 * then every order (kind ORDER_COMPLETED, line 0, qty 1), by customer and
 * time, each followed by its lines (line 1, the order's kind and time). */
/* The stored JSON of event seq appended to out (PT_ENOTFOUND if none). Any connection. */
int pt_store_event_body(struct pt_store *s, int64_t seq, struct pt_buf *out, struct pt_err *e);
int pt_store_load_acts(struct pt_store *s, int (*cb)(void *ctx, const struct pt_act_row *a),
                       void *ctx, struct pt_err *e);

/* ---- loyalty (store_loy.c; docs/loyalty.md) ---- */
/* Ledger entries: append-only; a balance is the sum of a customer's entries. */
enum pt_loy_kind { PT_LOY_EARN = 1, PT_LOY_REDEEM, PT_LOY_EXPIRE, PT_LOY_ADJUST, PT_LOY_REVERSE };
struct pt_loy_entry {
    int64_t id, shop, customer; /* customer: the member's row */
    int kind;                   /* enum pt_loy_kind */
    int64_t points;             /* signed: earn > 0, redeem / expire < 0, adjust and reverse either */
    int64_t t;                  /* when (Unix s) */
    int64_t expires;            /* a positive entry's points expire then (0 = never) */
    int64_t amount;             /* money the entry is about (an order's net value, a refund), minor units */
    const char *reason;         /* "purchase", "refund", "event:Review Written", "bonus:comeback", ... */
    const char *ref;            /* an order id, a reward id, an entry id ... (may be NULL) */
    const char *idem;           /* idempotency key, unique per shop */
};
/* Writer. *dup = 1 (nothing written) if the shop already has an entry with
 * that idempotency key. *id (may be NULL) receives the new entry's id. */
int pt_store_loy_entry(struct pt_store *s, const struct pt_loy_entry *en, int64_t *id, int *dup,
                       struct pt_err *e);
/* The id of shop's entry with idempotency key idem (PT_ENOTFOUND if none). */
int pt_store_loy_entry_find(struct pt_store *s, int64_t shop, const char *idem, int64_t *id,
                            struct pt_err *e);
/* Every entry in id order (loading memory). */
int pt_store_loy_entries(struct pt_store *s, int (*cb)(void *ctx, const struct pt_loy_entry *en),
                         void *ctx, struct pt_err *e);
/* A member's entries, newest first, with id < before (0: from the newest), at most limit. */
int pt_store_loy_history(struct pt_store *s, int64_t customer, int64_t before, int limit,
                         int (*cb)(void *ctx, const struct pt_loy_entry *en), void *ctx,
                         struct pt_err *e);
/* The purchase points of order order_id: its customer, the points earned,
 * the points reversed by refunds so far, the order's net value the points
 * were earned on, and the refunded money the reversals covered so far.
 * PT_ENOTFOUND if the order earned nothing. */
struct pt_loy_order_pts {
    int64_t customer, earned, reversed, amount, refunded;
};
int pt_store_loy_order(struct pt_store *s, int64_t shop, const char *order_id,
                       struct pt_loy_order_pts *o, struct pt_err *e);
/* Net spend (orders minus refunds) of rows ids[0..n) at or after `since`. */
int pt_store_loy_spend(struct pt_store *s, const int64_t *ids, size_t n, int64_t since,
                       int64_t *spend, struct pt_err *e);
/* Orders of rows ids[0..n) with from <= t < to into *n_out; *first the
 * earliest order time of those rows (0 if none). */
int pt_store_loy_order_count(struct pt_store *s, const int64_t *ids, size_t n, int64_t from,
                             int64_t to, int64_t *n_out, int64_t *first, struct pt_err *e);
/* The capped earnings of member customer on UTC day `day` (t / 86400):
 * purchase and event points (reason NULL) or those of one reason; their sum
 * and count. */
int pt_store_loy_day(struct pt_store *s, int64_t customer, int64_t day, const char *reason,
                     int64_t *points, int64_t *n, struct pt_err *e);
/* Every customer row whose traits have a string "birthday": (row, the text). */
int pt_store_loy_birthdays(struct pt_store *s,
                           int (*cb)(void *ctx, int64_t customer, const char *birthday),
                           void *ctx, struct pt_err *e);
/* Forget the answers of idempotent requests recorded before `before`. */
int pt_store_idem_purge(struct pt_store *s, int64_t before, struct pt_err *e);
/* Points earned (kind EARN) by member customer at or after `since`, less the
 * refund reversals of that time. */
int pt_store_loy_earned(struct pt_store *s, int64_t customer, int64_t since, int64_t *points,
                        struct pt_err *e);

/* Programmes: one JSON document per shop (program.h). */
int pt_store_loy_program_put(struct pt_store *s, int64_t shop, const char *json, int64_t created,
                             int64_t updated, struct pt_err *e);
int pt_store_loy_programs(struct pt_store *s,
                          int (*cb)(void *ctx, int64_t shop, const char *json, int64_t created,
                                    int64_t updated),
                          void *ctx, struct pt_err *e);

/* Members: tier, referral code, who referred them. */
struct pt_loy_member_row {
    int64_t customer, shop;
    int tier;             /* level index + 1; 0 = no tier */
    int64_t tier_until;   /* the tier holds until then (review date; 0 = none) */
    int64_t joined;
    const char *code;     /* referral code (canonical), unique */
    int64_t referred_by;  /* the referrer's row (0 = none) */
};
int pt_store_loy_member_put(struct pt_store *s, const struct pt_loy_member_row *m,
                            struct pt_err *e);
int pt_store_loy_members(struct pt_store *s,
                         int (*cb)(void *ctx, const struct pt_loy_member_row *m), void *ctx,
                         struct pt_err *e);
/* The member of shop whose referral code is `code` (PT_ENOTFOUND if none). */
int pt_store_loy_member_by_code(struct pt_store *s, int64_t shop, const char *code,
                                int64_t *customer, struct pt_err *e);
int pt_store_loy_tier_log(struct pt_store *s, int64_t shop, int64_t customer, int64_t t,
                          int from, int to, struct pt_err *e);

/* Referrals: friend -> referrer, rewarded once `due` has passed (state 0
 * pending, 1 rewarded, 2 cancelled: the order was refunded). */
struct pt_loy_referral_row {
    int64_t friend_row, shop, referrer;
    const char *order_id;
    int64_t t, due;
    int state;
};
int pt_store_loy_referral_put(struct pt_store *s, const struct pt_loy_referral_row *r,
                              struct pt_err *e);
int pt_store_loy_referrals(struct pt_store *s, int pending_only,
                           int (*cb)(void *ctx, const struct pt_loy_referral_row *r), void *ctx,
                           struct pt_err *e);
/* Refunded and total amount of an order (PT_ENOTFOUND if unknown). */
int pt_store_order_amounts(struct pt_store *s, int64_t shop, const char *order_id,
                           int64_t *amount, int64_t *refunded, struct pt_err *e);

/* Rewards: the definition as JSON (routes validate it), stock apart. */
struct pt_loy_reward_row {
    int64_t id, shop;
    const char *json;
    int64_t stock;  /* -1 = unlimited */
    int active;
    int64_t created, updated;
};
/* Insert (r->id = 0; *id receives it) or update (name, json, stock, active, updated). */
int pt_store_loy_reward_put(struct pt_store *s, const struct pt_loy_reward_row *r, int64_t *id,
                            struct pt_err *e);
/* Only the stock of reward id (a redemption). */
int pt_store_loy_reward_stock(struct pt_store *s, int64_t id, int64_t stock, struct pt_err *e);
int pt_store_loy_rewards(struct pt_store *s,
                         int (*cb)(void *ctx, const struct pt_loy_reward_row *r), void *ctx,
                         struct pt_err *e);
int pt_store_loy_redemption(struct pt_store *s, int64_t shop, int64_t reward, int64_t customer,
                            int64_t entry, const char *voucher, int64_t t, int64_t *id,
                            struct pt_err *e);
/* Redemptions of reward by customer. */
int pt_store_loy_redeemed(struct pt_store *s, int64_t reward, int64_t customer, int64_t *n,
                          struct pt_err *e);

/* Vouchers. kind: 1 amount (value minor units), 2 percent (value 1..100), 3 free shipping. */
enum { PT_VOUCHER_AMOUNT = 1, PT_VOUCHER_PERCENT, PT_VOUCHER_SHIPPING };
struct pt_voucher_row {
    char code[24];       /* canonical */
    int64_t shop;
    int kind;
    int64_t value;
    char currency[4];
    int64_t max_uses;    /* 0 = unlimited */
    int64_t uses;
    int64_t expires;     /* 0 = never */
    int64_t customer;    /* issued to (0 = bearer) */
    int64_t pool, redemption, created;
};
/* *dup = 1 if the code exists (any shop): nothing written. */
int pt_store_voucher_insert(struct pt_store *s, const struct pt_voucher_row *v, int *dup,
                            struct pt_err *e);
/* The voucher of shop with that code (PT_ENOTFOUND if none). Any connection. */
int pt_store_voucher_get(struct pt_store *s, int64_t shop, const char *code,
                         struct pt_voucher_row *v, struct pt_err *e);
/* Record a use (uses + 1) keyed by idem: *dup = 1 if that key was used
 * before (nothing written). */
int pt_store_voucher_use(struct pt_store *s, int64_t shop, const char *code, const char *order_id,
                         int64_t t, const char *idem, int *dup, struct pt_err *e);
/* Whether shop's voucher uses hold idempotency key idem (1 / 0; < 0 on error). */
int pt_store_voucher_use_find(struct pt_store *s, int64_t shop, const char *idem,
                              struct pt_err *e);
/* Record which redemption issued voucher code. */
int pt_store_voucher_redemption(struct pt_store *s, const char *code, int64_t redemption,
                                struct pt_err *e);
/* Insert n vouchers like v with the codes at codes + i * stride (NUL-
 * terminated), many per statement; *inserted: how many were new (a code
 * taken already is left out). */
int pt_store_voucher_insert_many(struct pt_store *s, const struct pt_voucher_row *v,
                                  const char *codes, size_t n, size_t stride, size_t *inserted,
                                  struct pt_err *e);
/* Code pools (bulk campaigns). */
int pt_store_voucher_pool(struct pt_store *s, int64_t shop, const char *name, const char *json,
                          int64_t n, int64_t created, int64_t *id, struct pt_err *e);
/* The codes of pool id of shop with their uses, in code order. */
int pt_store_voucher_pool_codes(struct pt_store *s, int64_t shop, int64_t pool,
                                int (*cb)(void *ctx, const struct pt_voucher_row *v), void *ctx,
                                struct pt_err *e);
/* Any code of the store equals `code`? (1 / 0; < 0 on error). Any connection. */
int pt_store_voucher_exists(struct pt_store *s, const char *code, struct pt_err *e);

/* Idempotent API requests: the answer recorded for (shop, key). */
int pt_store_idem_get(struct pt_store *s, int64_t shop, const char *key, uint8_t hash[16],
                      int *status, struct pt_buf *body, struct pt_err *e);
int pt_store_idem_put(struct pt_store *s, int64_t shop, const char *key, const uint8_t hash[16],
                      int status, const char *body, size_t len, int64_t t, struct pt_err *e);

/* Reports: per UTC month (YYYYMM) the points earned (earn), redeemed,
 * expired, adjusted (signed), reversed (signed) of shop, in month order. */
struct pt_loy_month {
    int month;
    int64_t earned, redeemed, expired, adjusted, reversed;
};
int pt_store_loy_monthly(struct pt_store *s, int64_t shop,
                         int (*cb)(void *ctx, const struct pt_loy_month *m), void *ctx,
                         struct pt_err *e);

/* ---- automation (store_auto.c; docs/automation.md) ---- */
/* Message templates (PUT /v1/templates/{id}) and per-shop messaging settings. */
int pt_store_tmpl_put(struct pt_store *s, int64_t shop, const char *id, const char *json,
                      int64_t t, struct pt_err *e);
int pt_store_tmpl_del(struct pt_store *s, int64_t shop, const char *id, struct pt_err *e);
int pt_store_tmpls(struct pt_store *s,
                   int (*cb)(void *ctx, int64_t shop, const char *id, const char *json,
                             int64_t created, int64_t updated),
                   void *ctx, struct pt_err *e);
int pt_store_msg_settings_put(struct pt_store *s, int64_t shop, const char *json,
                              struct pt_err *e);
int pt_store_msg_settings(struct pt_store *s,
                          int (*cb)(void *ctx, int64_t shop, const char *json), void *ctx,
                          struct pt_err *e);
/* Automations: the row (its current version) and every version's JSON. */
enum { PT_AUTO_ACTIVE = 0, PT_AUTO_PAUSED = 1, PT_AUTO_DELETED = 2 };
struct pt_auto_row {
    int64_t id, shop, version;
    int status;
    const char *json; /* the version's definition */
    int64_t created, updated;
};
/* id 0: a new automation (*id receives it). Writes the version's JSON too. */
int pt_store_auto_put(struct pt_store *s, const struct pt_auto_row *a, int64_t *id,
                      struct pt_err *e);
int pt_store_auto_status(struct pt_store *s, int64_t id, int status, int64_t t,
                         struct pt_err *e);
/* Every automation's every version (status and times of the automation). */
int pt_store_autos(struct pt_store *s, int (*cb)(void *ctx, const struct pt_auto_row *a),
                   void *ctx, struct pt_err *e);
/* Runs: a customer's passage through an automation. */
enum { PT_RUN_ACTIVE = 0, PT_RUN_DONE = 1, PT_RUN_EXITED = 2, PT_RUN_CONTROL = 3,
       PT_RUN_FAILED = 4 };
struct pt_auto_run_row {
    int64_t id, shop, automation, version, customer;
    int state, pc, flags;
    int64_t wake, entered, ended, key;
    const char *voucher; /* the last voucher code issued to the run ("" none) */
    const char *ctx;     /* the triggering event's JSON, or NULL */
};
int pt_store_run_insert(struct pt_store *s, const struct pt_auto_run_row *r, int64_t *id,
                        struct pt_err *e);
/* state, pc, flags, wake, ended, voucher; and ctx unless NULL. */
int pt_store_run_update(struct pt_store *s, const struct pt_auto_run_row *r, struct pt_err *e);
/* A run follows its customer into the profile it was merged into. */
int pt_store_run_move(struct pt_store *s, int64_t id, int64_t customer, struct pt_err *e);
/* Active runs, and (all = 1) also each (automation, customer)'s latest run. */
int pt_store_runs(struct pt_store *s, int all,
                  int (*cb)(void *ctx, const struct pt_auto_run_row *r), void *ctx,
                  struct pt_err *e);
/* Per automation of shop: entrants, control, active, done, exited. */
struct pt_auto_counts {
    int64_t automation, entered, control, active, done, exited, failed;
};
int pt_store_run_counts(struct pt_store *s, int64_t shop,
                        int (*cb)(void *ctx, const struct pt_auto_counts *c), void *ctx,
                        struct pt_err *e);
/* The outbox: a message decided in the engine's transaction, delivered by
 * the delivery thread (engine_deliver.c). */
enum { PT_OUT_PENDING = 0, PT_OUT_SENT = 1, PT_OUT_DEAD = 2, PT_OUT_HELD = 3,
       PT_OUT_SKIPPED = 4 };
struct pt_outbox_row {
    int64_t id, shop, automation, run, customer;
    char msg_id[40];
    int channel, marketing, status, attempts;
    const char *address, *subject, *html, *text, *body, *error, *tmpl;
    int64_t next_at, created, sent_at;
};
int pt_store_outbox_insert(struct pt_store *s, const struct pt_outbox_row *m, int64_t *id,
                           struct pt_err *e);
/* The outcome of one attempt: status, attempts, next_at, error, sent_at. */
int pt_store_outbox_result(struct pt_store *s, int64_t id, int status, int attempts,
                           int64_t next_at, const char *error, int64_t sent_at,
                           struct pt_err *e);
/* Pending messages due at `now`, oldest first, at most limit (any connection). */
int pt_store_outbox_due(struct pt_store *s, int64_t now, int limit,
                        int (*cb)(void *ctx, const struct pt_outbox_row *m), void *ctx,
                        struct pt_err *e);
/* The earliest next_at of a pending message (0 if none). Any connection. */
int pt_store_outbox_next(struct pt_store *s, int64_t *t, struct pt_err *e);
/* Messages of shop, newest first: status < 0 any; automation 0 any;
 * customer 0 any; id < before (0: from the newest). */
int pt_store_outbox_list(struct pt_store *s, int64_t shop, int status, int64_t automation,
                         int64_t customer, int64_t before, int limit,
                         int (*cb)(void *ctx, const struct pt_outbox_row *m), void *ctx,
                         struct pt_err *e);
/* Point m's strings at copies in `strings` (reset first): 0 or PT_ENOMEM. */
int pt_outbox_row_own(struct pt_outbox_row *m, struct pt_buf *strings);
/* One message by row id / by message id, its strings copied into `strings`. */
int pt_store_outbox_get(struct pt_store *s, int64_t id, struct pt_outbox_row *m,
                        struct pt_buf *strings, struct pt_err *e);
int pt_store_outbox_by_msg(struct pt_store *s, const char *msg_id, struct pt_outbox_row *m,
                           struct pt_buf *strings, struct pt_err *e);
/* Hold (pause) or release an automation's pending messages. */
int pt_store_outbox_hold(struct pt_store *s, int64_t automation, int hold, struct pt_err *e);
/* Held marketing messages of automation whose time passed (id, customer),
 * and a message's new time (a resumed automation sends them at the
 * customer's next best hour). */
int pt_store_outbox_overdue(struct pt_store *s, int64_t automation, int64_t now,
                            int (*cb)(void *ctx, int64_t id, int64_t customer), void *ctx,
                            struct pt_err *e);
int pt_store_outbox_retime(struct pt_store *s, int64_t id, int64_t next_at, struct pt_err *e);
/* Marketing messages of customer on channel decided since t (pending, held or sent). */
int pt_store_outbox_count(struct pt_store *s, int64_t customer, int channel, int64_t since,
                          int64_t *n, struct pt_err *e);
/* Per-status counts of shop's messages (automation 0: all). */
int pt_store_outbox_counts(struct pt_store *s, int64_t shop, int64_t automation, int64_t n[5],
                           struct pt_err *e);
/* Suppressed addresses (hard bounces), kept hashed and case-folded. */
int pt_store_suppress(struct pt_store *s, int64_t shop, const char *address, const char *reason,
                      int64_t t, struct pt_err *e);
int pt_store_suppressed(struct pt_store *s, int64_t shop, const char *address, int *yes,
                        struct pt_err *e);
/* Tags of customers. */
int pt_store_tag(struct pt_store *s, int64_t shop, int64_t customer, const char *tag, int add,
                 int64_t t, struct pt_err *e);
int pt_store_tags(struct pt_store *s, int64_t customer,
                  int (*cb)(void *ctx, const char *tag), void *ctx, struct pt_err *e);
/* Take a free code of shop's pool `name` (the newest pool of that name) and
 * give it to customer: *code ("" when the pool is used up). */
int pt_store_pool_take(struct pt_store *s, int64_t shop, const char *name, int64_t customer,
                       char code[24], struct pt_err *e);
/* A customer's automation data, erased with them. */
int pt_store_auto_erase(struct pt_store *s, int64_t customer, struct pt_err *e);
/* A secret of the store (created on first use): 32 random bytes. */
int pt_store_secret(struct pt_store *s, const char *name, uint8_t out[32], struct pt_err *e);

#endif
