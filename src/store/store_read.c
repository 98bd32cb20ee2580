/*
 * store_read.c - the read side of store.h on SQLite: profile parts as JSON,
 * built by SQLite's JSON functions so that stored JSON is never re-parsed here.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "store/store_int.h"

/* sql has one "%s" where "?,?,...,?" (n placeholders) goes; ids bind from `first`. */
static int prepare_in(struct pt_store *s, const char *sql, size_t n, int first, const int64_t *ids,
                      sqlite3_stmt **q, struct pt_err *e)
{
    char marks[2048], text[4096];
    size_t len = 0;
    if (n == 0 || n > 256)
        return pt_err_set(e, PT_EINVAL, "store: %zu rows in one profile", n);
    marks[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(marks + len, sizeof marks - len, "%s?%d", i ? "," : "",
                                first + (int)i);
    snprintf(text, sizeof text, sql, marks);
    if (sqlite3_prepare_v2(db_of(s), text, -1, q, NULL))
        return pt_err_set(e, PT_EIO, "store: %s", sqlite3_errmsg(db_of(s)));
    for (size_t i = 0; i < n; i++)
        sqlite3_bind_int64(*q, first + (int)i, ids[i]);
    return 0;
}

/* Append the single text value the statement yields (or dflt when NULL/no row). */
static int one_text(struct pt_store *s, sqlite3_stmt *q, const char *dflt, struct pt_buf *out,
                    struct pt_err *e)
{
    int rc = sqlite3_step(q);
    const char *t = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
    int r = 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = pt_err_set(e, PT_EIO, "store: %s", sqlite3_errmsg(db_of(s)));
    else if (pt_buf_adds(out, t ? t : dflt))
        r = pt_err_set(e, PT_ENOMEM, "out of memory");
    sqlite3_finalize(q);
    return r;
}

int pt_store_traits_json(struct pt_store *s, const int64_t *ids, size_t n, struct pt_buf *out,
                         struct pt_err *e)
{
    if (n == 1) {
        sqlite3_stmt *q;
        if (prepare_in(s, "SELECT traits FROM customers WHERE id IN (%s)", 1, 1, ids, &q, e))
            return PT_EIO;
        return one_text(s, q, "{}", out, e);
    }
    /* json_patch folded over the identities, the root (ids[0]) last */
    struct pt_buf acc;
    pt_buf_init(&acc);
    if (pt_buf_adds(&acc, "{}"))
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    for (size_t k = n; k > 0; k--) {
        sqlite3_stmt *q;
        if (prepare_in(s,
                       "SELECT json_patch(?2, coalesce((SELECT traits FROM customers"
                       " WHERE id=?1), '{}')) %.0s",
                       1, 1, &ids[k - 1], &q, e)) {
            pt_buf_release(&acc);
            return PT_EIO;
        }
        sqlite3_bind_text(q, 2, acc.data, (int)acc.len, SQLITE_TRANSIENT);
        struct pt_buf next;
        pt_buf_init(&next);
        int rc = one_text(s, q, "{}", &next, e);
        pt_buf_release(&acc);
        if (rc) {
            pt_buf_release(&next);
            return rc;
        }
        acc = next;
    }
    int rc = pt_buf_add(out, acc.data, acc.len) ? pt_err_set(e, PT_ENOMEM, "out of memory") : 0;
    pt_buf_release(&acc);
    return rc;
}

int pt_store_categories_json(struct pt_store *s, const int64_t *ids, size_t n, int k,
                             struct pt_buf *out, struct pt_err *e)
{
    sqlite3_stmt *q;
    if (prepare_in(s,
                   "SELECT json_group_array(json_object('category',c,'quantity',q)) FROM ("
                   "SELECT category c, sum(quantity) q FROM order_lines WHERE customer IN (%s)"
                   " AND category IS NOT NULL GROUP BY category ORDER BY q DESC, c LIMIT ?)",
                   n, 1, ids, &q, e))
        return PT_EIO;
    sqlite3_bind_int(q, (int)n + 1, k);
    return one_text(s, q, "[]", out, e);
}

#define EVENT_JSON_TEXT                                                                          \
    "json_object('seq',seq,'type',CASE type WHEN 1 THEN 'track' WHEN 2 THEN 'identify'"          \
    " WHEN 3 THEN 'alias' WHEN 4 THEN 'page' WHEN 5 THEN 'screen' ELSE 'group' END,"            \
    "'event',name,'timestamp',strftime('%Y-%m-%dT%H:%M:%SZ',t,'unixepoch'),"                     \
    "'received_at',strftime('%Y-%m-%dT%H:%M:%SZ',received,'unixepoch'),"                        \
    "'body',json((SELECT body FROM event_bodies b WHERE b.seq=events.seq)))"


/* Prepare "WITH RECURSIVE ch(seq, d) AS (<the chains from heads ?1..?n, at
 * most ?(n+1) events down each>) " + tail; binds heads and the depth. */
static int prepare_chain(struct pt_store *s, const int64_t *heads, size_t n, int64_t depth,
                         const char *tail, sqlite3_stmt **q, struct pt_err *e)
{
    struct pt_buf sql;
    pt_buf_init(&sql);
    if (n == 0 || n > 256)
        return pt_err_set(e, PT_EINVAL, "store: %zu rows in one profile", n);
    pt_buf_adds(&sql, "WITH RECURSIVE ch(seq, d) AS (SELECT column1, 1 FROM (VALUES ");
    for (size_t i = 0; i < n; i++)
        pt_buf_printf(&sql, "%s(?%zu)", i ? "," : "", i + 1);
    pt_buf_printf(&sql,
                  ") WHERE column1 > 0 UNION ALL SELECT e.prev, ch.d + 1 FROM events e JOIN ch"
                  " ON e.seq = ch.seq WHERE e.prev IS NOT NULL AND ch.d < ?%zu) ",
                  n + 1);
    int rc = pt_buf_adds(&sql, tail);
    if (rc || sqlite3_prepare_v2(db_of(s), sql.data, -1, q, NULL)) {
        pt_buf_release(&sql);
        return pt_err_set(e, rc ? PT_ENOMEM : PT_EIO, "store: %s", sqlite3_errmsg(db_of(s)));
    }
    pt_buf_release(&sql);
    for (size_t i = 0; i < n; i++)
        sqlite3_bind_int64(*q, (int)i + 1, heads[i]);
    sqlite3_bind_int64(*q, (int)n + 1, depth);
    return 0;
}

int pt_store_timeline_json(struct pt_store *s, const int64_t *heads, size_t n, int limit,
                           struct pt_buf *out, struct pt_err *e)
{
    sqlite3_stmt *q;
    char tail[1024];
    snprintf(tail, sizeof tail,
             "SELECT json_group_array(json(j)) FROM (SELECT %s j FROM events WHERE seq IN"
             " (SELECT seq FROM ch) ORDER BY t DESC, seq DESC LIMIT %d)",
             EVENT_JSON_TEXT, limit);
    /* walk deeper than `limit` per identity: events arrive out of timestamp
     * order (imports of history), and the answer is the newest by timestamp;
     * exact for identities of up to 10,000 events (a walk is primary-key
     * lookups: ~1 ms per thousand events) */
    if (prepare_chain(s, heads, n, (int64_t)limit + 10000, tail, &q, e))
        return PT_EIO;
    return one_text(s, q, "[]", out, e);
}

int pt_store_export_json(struct pt_store *s, const int64_t *ids, const int64_t *heads, size_t n,
                         struct pt_buf *out, struct pt_err *e)
{
    static const char *const part[][2] = {
        {"identities",
         "SELECT json_group_array(json_object('row',id,'kind',CASE kind WHEN 0 THEN 'userId'"
         " ELSE 'anonymousId' END,'id',ext_id,'merged_into',merged_into,'traits',json(traits),"
         "'consent',consent,'consent_set',consent_set,'cart_value',cart_value,"
         "'created',created)) FROM customers WHERE id IN (%s)"},
        {"events", NULL},
        {"orders", "SELECT json_group_array(json_object('order_id',order_id,'t',t,'amount',amount,"
                   "'currency',currency,'refunded',refunded)) FROM orders WHERE customer IN (%s)"},
        {"order_lines",
         "SELECT json_group_array(json_object('order_id',order_id,'product_id',product_id,"
         "'sku',sku,'category',category,'name',name,'price',price,'quantity',quantity))"
         " FROM order_lines WHERE customer IN (%s)"},
        {"merges", "SELECT json_group_array(json_object('id',id,'into',into_customer,'from',"
                   "from_customer,'t',t,'reason',reason,'undone_t',undone_t)) FROM merges"
                   " WHERE into_customer IN (%1$s) OR from_customer IN (%1$s)"},
    };
    for (size_t i = 0; i < sizeof part / sizeof part[0]; i++) {
        sqlite3_stmt *q;
        int rc;
        if (part[i][1]) {
            rc = prepare_in(s, part[i][1], n, 1, ids, &q, e);
        } else {
            char tail[1024];
            snprintf(tail, sizeof tail,
                     "SELECT json_group_array(json(j)) FROM (SELECT %s j FROM events WHERE seq"
                     " IN (SELECT seq FROM ch) ORDER BY seq)",
                     EVENT_JSON_TEXT);
            rc = prepare_chain(s, heads, n, INT64_MAX, tail, &q, e);
        }
        if (rc)
            return PT_EIO;
        if (pt_buf_printf(out, "%s\"%s\":", i ? "," : "", part[i][0])) {
            sqlite3_finalize(q);
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        }
        if (one_text(s, q, "[]", out, e))
            return PT_EIO;
    }
    return 0;
}

int pt_store_count(struct pt_store *s, const char *table, int64_t *n, struct pt_err *e)
{
    char sql[96];
    if (strcmp(table, "received") == 0) /* events as sent: not Segment Entered/Exited */
        snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE segment IS NULL");
    else if (strcmp(table, "events") && strcmp(table, "customers") && strcmp(table, "orders"))
        return pt_err_set(e, PT_EINVAL, "store: no table %s", table);
    else
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db_of(s), sql, -1, &q, NULL))
        return pt_err_set(e, PT_EIO, "store: %s", sqlite3_errmsg(db_of(s)));
    int rc = sqlite3_step(q);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? 0 : pt_err_set(e, PT_EIO, "store: count %s", table);
}
