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

#define PT_STORE_SCHEMA_VERSION 2

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

#endif
