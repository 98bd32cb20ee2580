/*
 * store_admin.c - the SQLite backend's maintenance and bulk operations:
 * traits merge, erasure, checkpoints (see store.h).
 */
#include <sqlite3.h>
#include <stdio.h>

#include "store/store_int.h"

static int fail(struct pt_store *s, struct pt_err *e, const char *what)
{
    return pt_err_set(e, PT_EIO, "store: %s: %s", what, sqlite3_errmsg(db_of(s)));
}

int pt_store_customer_traits(struct pt_store *s, int64_t id, const char *traits, struct pt_err *e)
{
    /* json_patch is RFC 7396 merge: new keys replace old ones, null removes. */
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db_of(s),
                           "UPDATE customers SET traits=json_patch(coalesce(traits,'{}'),?)"
                           " WHERE id=?",
                           -1, &q, NULL))
        return fail(s, e, "traits");
    sqlite3_bind_text(q, 1, traits, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, id);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : fail(s, e, "traits");
}

int pt_store_erase(struct pt_store *s, const int64_t *ids, const int64_t *heads, size_t n,
                   struct pt_err *e)
{
    static const char *const del[] = {
        /* the identity's events: its chain from the head, bodies first */
        "WITH RECURSIVE ch(seq) AS (SELECT ?2 UNION ALL SELECT e.prev FROM events e"
        " JOIN ch ON e.seq = ch.seq WHERE e.prev IS NOT NULL)"
        " DELETE FROM event_bodies WHERE seq IN (SELECT seq FROM ch)",
        "WITH RECURSIVE ch(seq) AS (SELECT ?2 UNION ALL SELECT e.prev FROM events e"
        " JOIN ch ON e.seq = ch.seq WHERE e.prev IS NOT NULL)"
        " DELETE FROM events WHERE seq IN (SELECT seq FROM ch)",
        "DELETE FROM order_lines WHERE customer=?1",
        "DELETE FROM orders WHERE customer=?1",
        "DELETE FROM merges WHERE into_customer=?1 OR from_customer=?1",
        "DELETE FROM loy_entries WHERE customer=?1",
        "DELETE FROM loy_members WHERE customer=?1",
        "DELETE FROM loy_tier_log WHERE customer=?1",
        "DELETE FROM loy_referrals WHERE friend=?1", /* (a referrer's row id is no personal data) */
        "DELETE FROM loy_redemptions WHERE customer=?1",
        "UPDATE vouchers SET customer=0 WHERE customer=?1",
        "DELETE FROM customers WHERE id=?1",
    };
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof del / sizeof del[0]; k++) {
            sqlite3_stmt *q;
            if (sqlite3_prepare_v2(db_of(s), del[k], -1, &q, NULL))
                return fail(s, e, "erase");
            sqlite3_bind_int64(q, 1, ids[i]);
            sqlite3_bind_int64(q, 2, heads[i]);
            int rc = sqlite3_step(q);
            sqlite3_finalize(q);
            if (rc != SQLITE_DONE)
                return fail(s, e, "erase");
        }
    }
    return 0;
}

int pt_store_checkpoint(struct pt_store *s, int *wal_pages, struct pt_err *e)
{
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(db_of(s), NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (wal_pages)
        *wal_pages = log;
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        return fail(s, e, "checkpoint");
    return 0;
}

int pt_store_scrub(struct pt_store *s, struct pt_err *e)
{
    int log = -1, done = -1;
    sqlite3_busy_timeout(db_of(s), 200); /* do not hold the writer long: retried later */
    int rc = sqlite3_wal_checkpoint_v2(db_of(s), NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
    sqlite3_busy_timeout(db_of(s), 10000);
    if (rc == SQLITE_BUSY || (rc == SQLITE_OK && log != done))
        return pt_err_set(e, PT_EIO, "store: WAL truncate: a reader still uses old frames");
    return rc == SQLITE_OK ? 0 : fail(s, e, "WAL truncate");
}

int pt_store_max_customer(struct pt_store *s, int64_t *id, struct pt_err *e)
{
    sqlite3_stmt *q;
    *id = 0;
    if (sqlite3_prepare_v2(db_of(s), "SELECT coalesce(max(id),0) FROM customers", -1, &q, NULL))
        return fail(s, e, "max customer");
    if (sqlite3_step(q) == SQLITE_ROW)
        *id = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return 0;
}
