/*
 * store_seg.c - the SQLite backend's segments (store.h "segments" and
 * "activity for segments"): segment definitions with their membership
 * snapshots, the Segment Entered / Exited events that record membership
 * changes after a snapshot, daily member counts, and the activity (product
 * events, orders and their lines) the engine loads at start.
 *
 * Tables (migration 2 in store_sqlite.c): segments, segment_daily, and the
 * events columns segment (Segment Entered / Exited; partial index
 * events_segment), product, category, qty (track events of one product).
 */
#include <sqlite3.h>
#include <string.h>

#include "store/store_int.h"
#include "util/buf.h"

#define ENTERED "Segment Entered"
#define EXITED  "Segment Exited"

/* Statement slots of store_int.h used by this file. */
enum seg_stmt {
    Q_INSERT,
    Q_UPDATE,
    Q_DELETE,
    Q_DELETE_DAILY,
    Q_SNAPSHOT,
    Q_LOAD,
    Q_REPLAY,
    Q_EVENT,
    Q_EVENT_BODY,
    Q_MAX_SEQ,
    Q_DAILY_PUT,
    Q_DAILY,
    Q_ACTS_EVENTS,
    Q_ACTS_ORDERS,
    Q_EVENT_BODY_GET,
    Q_N
};
_Static_assert(Q_N <= PT_STORE_NSLOTS, "store_seg.c has more statements than slots");

/* The numbers in the SQL are enum pt_ev_type / pt_ev_kind values: */
_Static_assert(PT_EV_TRACK == 1 && PT_K_CUSTOM == 0 && PT_K_ORDER_COMPLETED == 1 &&
                   PT_K_ORDER_REFUNDED == 2,
               "the SQL of store_seg.c spells these enum values");

static const char *const seg_sql[Q_N] = {
    [Q_INSERT] = "INSERT INTO segments(shop,name,rule,builtin,created,updated,members,"
                 "members_seq) VALUES(?,?,?,?,?,?,?,?)",
    [Q_UPDATE] = "UPDATE segments SET name=?,rule=?,updated=? WHERE id=?",
    [Q_DELETE] = "DELETE FROM segments WHERE id=?",
    [Q_DELETE_DAILY] = "DELETE FROM segment_daily WHERE segment=?",
    [Q_SNAPSHOT] = "UPDATE segments SET members=?,members_seq=? WHERE id=?",
    [Q_LOAD] = "SELECT id,shop,name,rule,builtin,created,updated,members,members_seq"
               " FROM segments ORDER BY id",
    /* events_segment: (segment, seq) of the segment events only */
    [Q_REPLAY] = "SELECT customer,name='" ENTERED "' FROM events INDEXED BY events_segment"
                 " WHERE segment=?1 AND seq>?2 ORDER BY seq",
    [Q_EVENT] = "INSERT INTO events(shop,customer,prev,message_id,type,kind,name,t,received,"
                "segment) VALUES(?,?,?,NULL,1,0,?,?,?,?)",
    [Q_EVENT_BODY] = "INSERT INTO event_bodies(seq,body) VALUES(?,?)",
    [Q_MAX_SEQ] = "SELECT coalesce(max(seq),0) FROM events",
    [Q_DAILY_PUT] = "INSERT INTO segment_daily(segment,day,count) VALUES(?,?,?)"
                    " ON CONFLICT(segment,day) DO UPDATE SET count=excluded.count",
    [Q_DAILY] = "SELECT day,count FROM segment_daily WHERE segment=? AND day BETWEEN ? AND ?"
                " ORDER BY day",
    /* track events but orders and segment events, in seq order */
    [Q_ACTS_EVENTS] = "SELECT customer,kind,name,t,product,category,"
                      "CASE WHEN qty>=1 THEN qty ELSE 1 END,seq FROM events"
                      " WHERE type=1 AND segment IS NULL AND kind<>1 ORDER BY seq",
    /* each order, then its lines in the order they were written; a customer's
     * orders are found through orders_customer, their lines through
     * order_lines_customer, so only one customer's rows are sorted at a time */
    [Q_ACTS_ORDERS] = "SELECT o.customer,o.t,o.discounted,o.order_id,l.rowid,"
                      "coalesce(l.product_id,l.sku),l.category,"
                      "CASE WHEN l.quantity>=1 THEN l.quantity ELSE 1 END,coalesce(o.event,0)"
                      " FROM orders o LEFT JOIN order_lines l"
                      " ON l.customer=o.customer AND l.order_id=o.order_id"
                      " ORDER BY o.customer,o.t,o.order_id,l.rowid",
    [Q_EVENT_BODY_GET] = "SELECT body FROM event_bodies WHERE seq=?",
};


static sqlite3_stmt *prep(struct pt_store *s, enum seg_stmt i)
{
    return pt_store_slot(s, (int)i, seg_sql[i]);
}


/* ---- segments ---- */

int pt_store_seg_insert(struct pt_store *s, const struct pt_seg_row *row, int64_t *id,
                        struct pt_err *e)
{
    sqlite3_stmt *q = prep(s, Q_INSERT);
    if (q == NULL)
        return pt_store_fail(s, e, "insert segment");
    sqlite3_bind_int64(q, 1, row->shop);
    pt_store_bind_text(q, 2, row->name);
    pt_store_bind_text(q, 3, row->rule);
    pt_store_bind_text(q, 4, row->builtin);
    sqlite3_bind_int64(q, 5, row->created);
    sqlite3_bind_int64(q, 6, row->updated);
    if (row->members_len > 0)
        sqlite3_bind_blob64(q, 7, row->members, row->members_len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 8, row->members_seq);
    int rc = pt_store_run(s, q, e, "insert segment");
    if (rc == 0)
        *id = sqlite3_last_insert_rowid(db_of(s));
    return rc;
}

/* Run q (an UPDATE or DELETE of segment id); PT_ENOTFOUND if it changed nothing. */
static int change_one(struct pt_store *s, sqlite3_stmt *q, int64_t id, struct pt_err *e,
                      const char *what)
{
    int rc = pt_store_run(s, q, e, what);
    if (rc == 0 && sqlite3_changes(db_of(s)) == 0)
        return pt_err_set(e, PT_ENOTFOUND, "store: %s: no segment %lld", what, (long long)id);
    return rc;
}

int pt_store_seg_update(struct pt_store *s, const struct pt_seg_row *row, struct pt_err *e)
{
    sqlite3_stmt *q = prep(s, Q_UPDATE);
    if (q == NULL)
        return pt_store_fail(s, e, "update segment");
    pt_store_bind_text(q, 1, row->name);
    pt_store_bind_text(q, 2, row->rule);
    sqlite3_bind_int64(q, 3, row->updated);
    sqlite3_bind_int64(q, 4, row->id);
    return change_one(s, q, row->id, e, "update segment");
}

int pt_store_seg_delete(struct pt_store *s, int64_t id, struct pt_err *e)
{
    sqlite3_stmt *q = prep(s, Q_DELETE_DAILY);
    if (q == NULL)
        return pt_store_fail(s, e, "delete segment");
    sqlite3_bind_int64(q, 1, id);
    int rc = pt_store_run(s, q, e, "delete segment");
    if (rc)
        return rc;
    if ((q = prep(s, Q_DELETE)) == NULL)
        return pt_store_fail(s, e, "delete segment");
    sqlite3_bind_int64(q, 1, id);
    return change_one(s, q, id, e, "delete segment");
}

int pt_store_seg_snapshot(struct pt_store *s, int64_t id, const void *members, size_t len,
                          int64_t seq, struct pt_err *e)
{
    sqlite3_stmt *q = prep(s, Q_SNAPSHOT);
    if (q == NULL)
        return pt_store_fail(s, e, "segment snapshot");
    if (len > 0)
        sqlite3_bind_blob64(q, 1, members, len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, seq);
    sqlite3_bind_int64(q, 3, id);
    return change_one(s, q, id, e, "segment snapshot");
}

int pt_store_seg_load(struct pt_store *s, int (*cb)(void *ctx, const struct pt_seg_row *r),
                      void *ctx, struct pt_err *e)
{
    sqlite3_stmt *q = prep(s, Q_LOAD);
    if (q == NULL)
        return pt_store_fail(s, e, "load segments");
    int rc = SQLITE_DONE, r = 0;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct pt_seg_row row = {
            .id = sqlite3_column_int64(q, 0),
            .shop = sqlite3_column_int64(q, 1),
            .name = (const char *)sqlite3_column_text(q, 2),
            .rule = (const char *)sqlite3_column_text(q, 3),
            .builtin = (const char *)sqlite3_column_text(q, 4),
            .created = sqlite3_column_int64(q, 5),
            .updated = sqlite3_column_int64(q, 6),
            .members = sqlite3_column_blob(q, 7),
            .members_len = (size_t)sqlite3_column_bytes(q, 7),
            .members_seq = sqlite3_column_int64(q, 8),
        };
        if (row.members == NULL)
            row.members_len = 0;
        r = cb(ctx, &row);
    }
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "load segments");
}

/* ---- membership changes as events ---- */

int pt_store_seg_replay(struct pt_store *s, int64_t id, int64_t after,
                        int (*cb)(void *ctx, int64_t customer, int entered), void *ctx,
                        struct pt_err *e)
{
    sqlite3_stmt *q = prep(s, Q_REPLAY);
    if (q == NULL)
        return pt_store_fail(s, e, "replay segment");
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, after);
    int rc = SQLITE_DONE, r = 0;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW)
        r = cb(ctx, sqlite3_column_int64(q, 0), sqlite3_column_int(q, 1));
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "replay segment");
}

int pt_store_seg_event(struct pt_store *s, int64_t shop, int64_t customer, int64_t prev,
                       int64_t segment, int entered, int64_t t, const char *json, size_t len,
                       int64_t *seq, struct pt_err *e)
{
    sqlite3_stmt *q = prep(s, Q_EVENT);
    if (q == NULL)
        return pt_store_fail(s, e, "segment event");
    sqlite3_bind_int64(q, 1, shop);
    sqlite3_bind_int64(q, 2, customer);
    if (prev > 0)
        sqlite3_bind_int64(q, 3, prev);
    pt_store_bind_text(q, 4, entered ? ENTERED : EXITED);
    sqlite3_bind_int64(q, 5, t);
    sqlite3_bind_int64(q, 6, t);
    sqlite3_bind_int64(q, 7, segment);
    int rc = pt_store_run(s, q, e, "segment event");
    if (rc)
        return rc;
    *seq = sqlite3_last_insert_rowid(db_of(s));
    if ((q = prep(s, Q_EVENT_BODY)) == NULL)
        return pt_store_fail(s, e, "segment event body");
    sqlite3_bind_int64(q, 1, *seq);
    sqlite3_bind_text64(q, 2, json, len, SQLITE_STATIC, SQLITE_UTF8);
    return pt_store_run(s, q, e, "segment event body");
}

int pt_store_max_seq(struct pt_store *s, int64_t *seq, struct pt_err *e)
{
    sqlite3_stmt *q = prep(s, Q_MAX_SEQ);
    *seq = 0;
    if (q == NULL)
        return pt_store_fail(s, e, "max event seq");
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *seq = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    return rc == SQLITE_ROW ? 0 : pt_store_fail(s, e, "max event seq");
}

/* ---- daily counts ---- */

int pt_store_seg_daily_put(struct pt_store *s, int64_t id, int64_t day, int64_t count,
                           struct pt_err *e)
{
    sqlite3_stmt *q = prep(s, Q_DAILY_PUT);
    if (q == NULL)
        return pt_store_fail(s, e, "segment daily count");
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, day);
    sqlite3_bind_int64(q, 3, count);
    return pt_store_run(s, q, e, "segment daily count");
}

int pt_store_seg_daily(struct pt_store *s, int64_t id, int64_t from, int64_t to,
                       int (*cb)(void *ctx, int64_t day, int64_t count), void *ctx,
                       struct pt_err *e)
{
    sqlite3_stmt *q = prep(s, Q_DAILY);
    if (q == NULL)
        return pt_store_fail(s, e, "segment daily counts");
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, from);
    sqlite3_bind_int64(q, 3, to);
    int rc = SQLITE_DONE, r = 0;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW)
        r = cb(ctx, sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1));
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "segment daily counts");
}

/* ---- activity ---- */

static int load_act_events(struct pt_store *s, int (*cb)(void *ctx, const struct pt_act_row *a),
                           void *ctx, struct pt_err *e)
{
    sqlite3_stmt *q = prep(s, Q_ACTS_EVENTS);
    if (q == NULL)
        return pt_store_fail(s, e, "load activity");
    int rc = SQLITE_DONE, r = 0;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct pt_act_row a = {
            .customer = sqlite3_column_int64(q, 0),
            .kind = sqlite3_column_int(q, 1),
            .name = (const char *)sqlite3_column_text(q, 2),
            .t = sqlite3_column_int64(q, 3),
            .product = (const char *)sqlite3_column_text(q, 4),
            .category = (const char *)sqlite3_column_text(q, 5),
            .qty = sqlite3_column_int64(q, 6),
            .seq = sqlite3_column_int64(q, 7),
        };
        r = cb(ctx, &a);
    }
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "load activity");
}

/* Rows come one per (order, line), or one for an order without lines; an
 * order is reported when its first row comes (its (customer, order_id)
 * differs from the previous row's). */
static int load_act_orders(struct pt_store *s, int (*cb)(void *ctx, const struct pt_act_row *a),
                           void *ctx, struct pt_err *e)
{
    sqlite3_stmt *q = prep(s, Q_ACTS_ORDERS);
    if (q == NULL)
        return pt_store_fail(s, e, "load orders' activity");
    struct pt_buf prev; /* order_id of the previous row */
    pt_buf_init(&prev);
    int64_t prev_customer = 0;
    int have = 0, rc = SQLITE_DONE, r = 0;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t customer = sqlite3_column_int64(q, 0);
        const char *oid = (const char *)sqlite3_column_text(q, 3);
        size_t olen = (size_t)sqlite3_column_bytes(q, 3);
        struct pt_act_row a = {.customer = customer,
                               .t = sqlite3_column_int64(q, 1),
                               .kind = PT_K_ORDER_COMPLETED,
                               .qty = 1,
                               .seq = sqlite3_column_int64(q, 8)};
        if (oid == NULL) {
            oid = "";
            olen = 0;
        }
        if (!have || customer != prev_customer || olen != prev.len ||
            (olen > 0 && memcmp(oid, prev.data, olen) != 0)) {
            have = 1;
            prev_customer = customer;
            prev.len = 0;
            if (pt_buf_add(&prev, oid, olen)) {
                r = pt_err_set(e, PT_ENOMEM, "out of memory");
                break;
            }
            a.discounted = sqlite3_column_int(q, 2) != 0;
            if ((r = cb(ctx, &a)))
                break;
            a.discounted = 0;
        }
        if (sqlite3_column_type(q, 4) == SQLITE_NULL)
            continue; /* an order without lines */
        a.line = 1;
        a.product = (const char *)sqlite3_column_text(q, 5);
        a.category = (const char *)sqlite3_column_text(q, 6);
        a.qty = sqlite3_column_int64(q, 7);
        r = cb(ctx, &a);
    }
    pt_buf_release(&prev);
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "load orders' activity");
}

int pt_store_load_acts(struct pt_store *s, int (*cb)(void *ctx, const struct pt_act_row *a),
                       void *ctx, struct pt_err *e)
{
    int rc = load_act_events(s, cb, ctx, e);
    return rc ? rc : load_act_orders(s, cb, ctx, e);
}

int pt_store_event_body(struct pt_store *s, int64_t seq, struct pt_buf *out, struct pt_err *e)
{
    sqlite3_stmt *q = prep(s, Q_EVENT_BODY_GET);
    if (q == NULL)
        return pt_store_fail(s, e, "read an event");
    sqlite3_bind_int64(q, 1, seq);
    int rc = sqlite3_step(q), r = 0;
    if (rc == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(q, 0);
        if (b && pt_buf_add(out, b, (size_t)sqlite3_column_bytes(q, 0)))
            r = pt_err_set(e, PT_ENOMEM, "out of memory");
        rc = SQLITE_DONE;
    } else if (rc == SQLITE_DONE) {
        r = pt_err_set(e, PT_ENOTFOUND, "no event %lld", (long long)seq);
    }
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "read an event");
}
