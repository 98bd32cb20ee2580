/*
 * store_loy.c - the SQLite backend's loyalty tables (store.h "loyalty"): the
 * append-only points ledger, programmes, members and their tier changes,
 * referrals, rewards and redemptions, vouchers, their uses and code pools,
 * and the recorded answers of idempotent API requests.
 *
 * Tables: migration 3 in store_sqlite.c. Statements live in slots [16, 64)
 * of the connection (store_int.h).
 */
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store/store_int.h"
#include "util/buf.h"

enum loy_stmt {
    Q_ENTRY = 16,
    Q_ENTRIES,
    Q_HISTORY,
    Q_ORDER_PTS,
    Q_SPEND,
    Q_EARNED,
    Q_PROG_PUT,
    Q_PROGS,
    Q_MEMBER_PUT,
    Q_MEMBERS,
    Q_MEMBER_CODE,
    Q_TIER_LOG,
    Q_REF_PUT,
    Q_REFS,
    Q_REFS_PENDING,
    Q_ORDER_AMOUNTS,
    Q_REWARD_INS,
    Q_REWARD_UPD,
    Q_REWARDS,
    Q_REDEMPTION,
    Q_REDEEMED,
    Q_VOUCHER_INS,
    Q_VOUCHER_GET,
    Q_VOUCHER_USE,
    Q_VOUCHER_BUMP,
    Q_POOL,
    Q_POOL_CODES,
    Q_VOUCHER_EXISTS,
    Q_IDEM_GET,
    Q_IDEM_PUT,
    Q_MONTHLY,
    Q_ORDER_COUNT,
    Q_IDEM_PURGE,
    Q_ENTRY_BY_IDEM,
    Q_USE_FIND,
    Q_DAY,
    Q_VOUCHER_MANY,
    Q_REWARD_STOCK,
    Q_BDAYS,
    Q_VOUCHER_REDEMPTION,
    Q_END
};
_Static_assert(Q_END <= PT_STORE_NSLOTS, "store_loy.c has more statements than slots");

#define ENTRY_COLS "id,shop,customer,kind,points,t,expires,amount,reason,ref,idem"

static const char *const loy_sql[Q_END] = {
    [Q_ENTRY] = "INSERT INTO loy_entries(shop,customer,kind,points,t,expires,amount,reason,ref,"
                "idem) VALUES(?,?,?,?,?,?,?,?,?,?) ON CONFLICT(shop,idem) DO NOTHING",
    [Q_ENTRIES] = "SELECT " ENTRY_COLS " FROM loy_entries ORDER BY id",
    [Q_HISTORY] = "SELECT " ENTRY_COLS " FROM loy_entries WHERE customer=? AND id<? ORDER BY id"
                  " DESC LIMIT ?",
    /* kind 1 = PT_LOY_EARN, 5 = PT_LOY_REVERSE */
    [Q_ORDER_PTS] = "SELECT max(customer),"
                    " coalesce(sum(CASE WHEN kind=1 THEN points END),0),"
                    " coalesce(-sum(CASE WHEN kind=5 THEN points END),0),"
                    " coalesce(sum(CASE WHEN kind=1 THEN amount END),0),"
                    " coalesce(sum(CASE WHEN kind=5 THEN amount END),0), count(*)"
                    " FROM loy_entries WHERE shop=? AND ref=? AND reason IN('purchase','refund')",
    [Q_SPEND] = "SELECT coalesce(sum(amount-refunded),0) FROM orders WHERE customer=? AND t>=?",
    /* earned (kind 1), less what refunds took back (kind 5, reason refund) */
    [Q_EARNED] = "SELECT coalesce(sum(points),0) FROM loy_entries WHERE customer=?1 AND t>=?2"
                 " AND (kind=1 OR (kind=5 AND reason='refund'))",
    [Q_PROG_PUT] = "INSERT INTO loy_programs(shop,json,created,updated) VALUES(?,?,?,?)"
                   " ON CONFLICT(shop) DO UPDATE SET json=excluded.json,updated=excluded.updated",
    [Q_PROGS] = "SELECT shop,json,created,updated FROM loy_programs ORDER BY shop",
    [Q_MEMBER_PUT] = "INSERT INTO loy_members(customer,shop,tier,tier_until,joined,code,"
                     "referred_by) VALUES(?,?,?,?,?,?,?) ON CONFLICT(customer) DO UPDATE SET"
                     " tier=excluded.tier,tier_until=excluded.tier_until,"
                     "referred_by=excluded.referred_by,joined=min(joined,excluded.joined)",
    [Q_MEMBERS] = "SELECT customer,shop,tier,tier_until,joined,code,referred_by FROM loy_members"
                  " ORDER BY customer",
    [Q_MEMBER_CODE] = "SELECT customer FROM loy_members WHERE shop=? AND code=?",
    [Q_TIER_LOG] = "INSERT INTO loy_tier_log(shop,customer,t,from_tier,to_tier) VALUES(?,?,?,?,?)",
    [Q_REF_PUT] = "INSERT INTO loy_referrals(friend,shop,referrer,order_id,t,due,state)"
                  " VALUES(?,?,?,?,?,?,?) ON CONFLICT(friend) DO UPDATE SET state=excluded.state",
    [Q_REFS] = "SELECT friend,shop,referrer,order_id,t,due,state FROM loy_referrals"
               " ORDER BY friend",
    [Q_REFS_PENDING] = "SELECT friend,shop,referrer,order_id,t,due,state FROM loy_referrals"
                       " WHERE state=0 ORDER BY friend",
    [Q_ORDER_AMOUNTS] = "SELECT amount,refunded FROM orders WHERE shop=? AND order_id=?",
    [Q_REWARD_INS] = "INSERT INTO loy_rewards(shop,json,stock,active,created,updated)"
                     " VALUES(?,?,?,?,?,?)",
    [Q_REWARD_UPD] = "UPDATE loy_rewards SET json=?,stock=?,active=?,updated=? WHERE id=?",
    [Q_REWARDS] = "SELECT id,shop,json,stock,active,created,updated FROM loy_rewards ORDER BY id",
    [Q_REDEMPTION] = "INSERT INTO loy_redemptions(shop,reward,customer,entry,voucher,t)"
                     " VALUES(?,?,?,?,?,?)",
    [Q_REDEEMED] = "SELECT count(*) FROM loy_redemptions WHERE customer=? AND reward=?",
    [Q_VOUCHER_INS] = "INSERT INTO vouchers(code,shop,kind,value,currency,max_uses,uses,expires,"
                      "customer,pool,redemption,created) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)"
                      " ON CONFLICT(code) DO NOTHING",
    [Q_VOUCHER_GET] = "SELECT code,shop,kind,value,currency,max_uses,uses,expires,customer,pool,"
                      "redemption,created FROM vouchers WHERE code=? AND shop=?",
    [Q_VOUCHER_USE] = "INSERT INTO voucher_uses(shop,code,order_id,t,idem) VALUES(?,?,?,?,?)"
                      " ON CONFLICT(shop,idem) DO NOTHING",
    [Q_VOUCHER_BUMP] = "UPDATE vouchers SET uses=uses+1 WHERE code=? AND shop=?",
    [Q_POOL] = "INSERT INTO voucher_pools(shop,name,json,n,created) VALUES(?,?,?,?,?)",
    [Q_POOL_CODES] = "SELECT code,shop,kind,value,currency,max_uses,uses,expires,customer,pool,"
                     "redemption,created FROM vouchers INDEXED BY vouchers_pool"
                     " WHERE pool=?2 AND pool>0 AND shop=?1 ORDER BY code",
    [Q_VOUCHER_EXISTS] = "SELECT 1 FROM vouchers WHERE code=?",
    [Q_IDEM_GET] = "SELECT hash,status,body FROM api_idem WHERE shop=? AND key=?",
    [Q_IDEM_PUT] = "INSERT INTO api_idem(shop,key,hash,status,body,t) VALUES(?,?,?,?,?,?)",
    [Q_MONTHLY] = "SELECT CAST(strftime('%Y%m',t,'unixepoch') AS INTEGER) m,"
                  " coalesce(sum(CASE WHEN kind=1 THEN points END),0),"
                  " coalesce(-sum(CASE WHEN kind=2 THEN points END),0),"
                  " coalesce(-sum(CASE WHEN kind=3 THEN points END),0),"
                  " coalesce(sum(CASE WHEN kind=4 THEN points END),0),"
                  " coalesce(sum(CASE WHEN kind=5 THEN points END),0)"
                  " FROM loy_entries WHERE shop=? GROUP BY m ORDER BY m",
    [Q_ORDER_COUNT] = "SELECT count(CASE WHEN t>=?2 AND t<?3 THEN 1 END),coalesce(min(t),0)"
                      " FROM orders WHERE customer=?1",
    [Q_IDEM_PURGE] = "DELETE FROM api_idem WHERE t<?",
    /* capped earnings of one UTC day: purchases and events (or one event) */
    [Q_DAY] = "SELECT coalesce(sum(points),0),count(*) FROM loy_entries"
              " WHERE customer=?1 AND kind=1 AND t>=?2 AND t<?2+86400 AND (CASE WHEN ?3 IS NULL"
              " THEN reason='purchase' OR reason LIKE 'event:%' ELSE reason=?3 END)",
    [Q_BDAYS] = "SELECT id,json_extract(traits,'$.birthday') FROM customers"
                " WHERE traits IS NOT NULL AND json_type(traits,'$.birthday')='text'",
    [Q_REWARD_STOCK] = "UPDATE loy_rewards SET stock=? WHERE id=?",
    [Q_USE_FIND] = "SELECT 1 FROM voucher_uses WHERE shop=? AND idem=?",
    [Q_VOUCHER_REDEMPTION] = "UPDATE vouchers SET redemption=? WHERE code=?",
    [Q_ENTRY_BY_IDEM] = "SELECT id FROM loy_entries WHERE shop=? AND idem=?",
};

/* 64 vouchers of one pool in one statement: codes ?1..?64, the rest shared */
#define MANY 64
#define R(n) "(?" #n ",?65,?66,?67,?68,?69,0,?70,0,?71,0,?72)"
static const char
    many_sql
        [] =
            "INSERT INTO "
            "vouchers(code,shop,kind,value,currency,max_uses,uses,expires,customer,pool,"
            "redemption,created) VALUES" R(1) "," R(2) "," R(3) "," R(4) "," R(5) "," R(6) "," R(7) "," R(
                8) "," R(9) "," R(10) "," R(11) "," R(12) "," R(13) "," R(14) "," R(15) "," R(16) "," R(17) "," R(18) "," R(19) "," R(20) "," R(21) "," R(22) "," R(23) "," R(24) "," R(25) "," R(26) "," R(27) "," R(28) "," R(29) "," R(30) "," R(31) "," R(32) "," R(33) "," R(34) "," R(35) "," R(36) "," R(37) "," R(38) "," R(39) "," R(40) "," R(41) "," R(42) "," R(43) "," R(44) "," R(45) "," R(46) "," R(47) "," R(48) "," R(49) "," R(50) "," R(51) "," R(52) "," R(53) "," R(54) "," R(55) "," R(56) "," R(57) "," R(58) "," R(59) "," R(60) "," R(61) "," R(62) "," R(63) "," R(64) " ON CONFLICT(code) DO NOTHING";
#undef R

/* The statement of slot i with its parameters bound from fmt: 'i' int64_t,
 * 't' const char * (NULL binds NULL), 'b' a 16-byte blob. NULL on failure. */
static sqlite3_stmt *stmt(struct pt_store *s, enum loy_stmt i, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *q = pt_store_vstmt(s, (int)i, loy_sql[i], fmt, ap);
    va_end(ap);
    return q;
}

#define one_row pt_store_one_row
#define text pt_store_text
#define run pt_store_run_dup

static int sum1(struct pt_store *s, sqlite3_stmt *q, int64_t *out, struct pt_err *e,
                const char *what);

/* ---- ledger ---- */

int pt_store_loy_entry(struct pt_store *s, const struct pt_loy_entry *en, int64_t *id, int *dup,
                       struct pt_err *e)
{
    sqlite3_stmt *q =
        stmt(s, Q_ENTRY, "iiiiiiitttt", en->shop, en->customer, (int64_t)en->kind, en->points,
             en->t, en->expires, en->amount, en->reason, en->ref, en->idem);
    int rc = run(s, q, dup, e, "ledger entry");
    if (rc == 0 && id)
        *id = *dup ? 0 : sqlite3_last_insert_rowid(db_of(s));
    return rc;
}

int pt_store_loy_entry_find(struct pt_store *s, int64_t shop, const char *idem, int64_t *id,
                            struct pt_err *e)
{
    return sum1(s, stmt(s, Q_ENTRY_BY_IDEM, "it", shop, idem), id, e, "ledger entry by key");
}

static struct pt_loy_entry entry_of(sqlite3_stmt *q)
{
    return (struct pt_loy_entry){.id = sqlite3_column_int64(q, 0),
                                 .shop = sqlite3_column_int64(q, 1),
                                 .customer = sqlite3_column_int64(q, 2),
                                 .kind = sqlite3_column_int(q, 3),
                                 .points = sqlite3_column_int64(q, 4),
                                 .t = sqlite3_column_int64(q, 5),
                                 .expires = sqlite3_column_int64(q, 6),
                                 .amount = sqlite3_column_int64(q, 7),
                                 .reason = text(q, 8),
                                 .ref = text(q, 9),
                                 .idem = text(q, 10)};
}

static int each_entry(struct pt_store *s, sqlite3_stmt *q,
                      int (*cb)(void *ctx, const struct pt_loy_entry *en), void *ctx,
                      struct pt_err *e, const char *what)
{
    if (q == NULL)
        return pt_store_fail(s, e, what);
    int rc = SQLITE_DONE, r = 0;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct pt_loy_entry en = entry_of(q);
        r = cb(ctx, &en);
    }
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, what);
}

int pt_store_loy_entries(struct pt_store *s, int (*cb)(void *ctx, const struct pt_loy_entry *en),
                         void *ctx, struct pt_err *e)
{
    return each_entry(s, stmt(s, Q_ENTRIES, ""), cb, ctx, e, "load ledger");
}

int pt_store_loy_history(struct pt_store *s, int64_t customer, int64_t before, int limit,
                         int (*cb)(void *ctx, const struct pt_loy_entry *en), void *ctx,
                         struct pt_err *e)
{
    sqlite3_stmt *q =
        stmt(s, Q_HISTORY, "iii", customer, before > 0 ? before : INT64_MAX, (int64_t)limit);
    return each_entry(s, q, cb, ctx, e, "ledger history");
}

int pt_store_loy_order(struct pt_store *s, int64_t shop, const char *order_id,
                       struct pt_loy_order_pts *o, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, Q_ORDER_PTS, "it", shop, order_id);
    int rc = one_row(s, q, e, "order points");
    if (rc)
        return rc;
    int64_t n = sqlite3_column_int64(q, 5);
    *o = (struct pt_loy_order_pts){.customer = sqlite3_column_int64(q, 0),
                                   .earned = sqlite3_column_int64(q, 1),
                                   .reversed = sqlite3_column_int64(q, 2),
                                   .amount = sqlite3_column_int64(q, 3),
                                   .refunded = sqlite3_column_int64(q, 4)};
    sqlite3_reset(q);
    return n == 0 ? PT_ENOTFOUND : 0;
}

static int sum1(struct pt_store *s, sqlite3_stmt *q, int64_t *out, struct pt_err *e,
                const char *what)
{
    int rc = one_row(s, q, e, what);
    if (rc)
        return rc;
    *out = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    return 0;
}

int pt_store_loy_spend(struct pt_store *s, const int64_t *ids, size_t n, int64_t since,
                       int64_t *spend, struct pt_err *e)
{
    *spend = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        int rc = sum1(s, stmt(s, Q_SPEND, "ii", ids[i], since), &v, e, "rolling spend");
        if (rc)
            return rc;
        *spend += v;
    }
    return 0;
}

int pt_store_loy_order_count(struct pt_store *s, const int64_t *ids, size_t n, int64_t from,
                             int64_t to, int64_t *n_out, int64_t *first, struct pt_err *e)
{
    *n_out = *first = 0;
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *q = stmt(s, Q_ORDER_COUNT, "iii", ids[i], from, to);
        int rc = one_row(s, q, e, "order count");
        if (rc)
            return rc;
        *n_out += sqlite3_column_int64(q, 0);
        int64_t f = sqlite3_column_int64(q, 1);
        if (f && (*first == 0 || f < *first))
            *first = f;
        sqlite3_reset(q);
    }
    return 0;
}

int pt_store_idem_purge(struct pt_store *s, int64_t before, struct pt_err *e)
{
    return run(s, stmt(s, Q_IDEM_PURGE, "i", before), NULL, e, "purge idempotency keys");
}

int pt_store_loy_earned(struct pt_store *s, int64_t customer, int64_t since, int64_t *points,
                        struct pt_err *e)
{
    return sum1(s, stmt(s, Q_EARNED, "ii", customer, since), points, e, "rolling points");
}

/* ---- programmes, members, tiers, referrals ---- */

int pt_store_loy_program_put(struct pt_store *s, int64_t shop, const char *json, int64_t created,
                             int64_t updated, struct pt_err *e)
{
    return run(s, stmt(s, Q_PROG_PUT, "itii", shop, json, created, updated), NULL, e,
               "save programme");
}

int pt_store_loy_programs(struct pt_store *s,
                          int (*cb)(void *ctx, int64_t shop, const char *json, int64_t created,
                                    int64_t updated),
                          void *ctx, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, Q_PROGS, "");
    if (q == NULL)
        return pt_store_fail(s, e, "load programmes");
    int rc = SQLITE_DONE, r = 0;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW)
        r = cb(ctx, sqlite3_column_int64(q, 0), text(q, 1), sqlite3_column_int64(q, 2),
               sqlite3_column_int64(q, 3));
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "load programmes");
}

int pt_store_loy_member_put(struct pt_store *s, const struct pt_loy_member_row *m, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, Q_MEMBER_PUT, "iiiiiti", m->customer, m->shop, (int64_t)m->tier,
                           m->tier_until, m->joined, m->code, m->referred_by);
    return run(s, q, NULL, e, "save member");
}

int pt_store_loy_members(struct pt_store *s,
                         int (*cb)(void *ctx, const struct pt_loy_member_row *m), void *ctx,
                         struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, Q_MEMBERS, "");
    if (q == NULL)
        return pt_store_fail(s, e, "load members");
    int rc = SQLITE_DONE, r = 0;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct pt_loy_member_row m = {.customer = sqlite3_column_int64(q, 0),
                                      .shop = sqlite3_column_int64(q, 1),
                                      .tier = sqlite3_column_int(q, 2),
                                      .tier_until = sqlite3_column_int64(q, 3),
                                      .joined = sqlite3_column_int64(q, 4),
                                      .code = text(q, 5),
                                      .referred_by = sqlite3_column_int64(q, 6)};
        r = cb(ctx, &m);
    }
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "load members");
}

int pt_store_loy_member_by_code(struct pt_store *s, int64_t shop, const char *code,
                                int64_t *customer, struct pt_err *e)
{
    return sum1(s, stmt(s, Q_MEMBER_CODE, "it", shop, code), customer, e, "referral code");
}

int pt_store_loy_tier_log(struct pt_store *s, int64_t shop, int64_t customer, int64_t t, int from,
                          int to, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, Q_TIER_LOG, "iiiii", shop, customer, t, (int64_t)from, (int64_t)to);
    return run(s, q, NULL, e, "tier change");
}

int pt_store_loy_referral_put(struct pt_store *s, const struct pt_loy_referral_row *r,
                              struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, Q_REF_PUT, "iiitiii", r->friend_row, r->shop, r->referrer,
                           r->order_id, r->t, r->due, (int64_t)r->state);
    return run(s, q, NULL, e, "referral");
}

int pt_store_loy_referrals(struct pt_store *s, int pending_only,
                           int (*cb)(void *ctx, const struct pt_loy_referral_row *r), void *ctx,
                           struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, pending_only ? Q_REFS_PENDING : Q_REFS, "");
    if (q == NULL)
        return pt_store_fail(s, e, "load referrals");
    int rc = SQLITE_DONE, r = 0;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct pt_loy_referral_row row = {.friend_row = sqlite3_column_int64(q, 0),
                                          .shop = sqlite3_column_int64(q, 1),
                                          .referrer = sqlite3_column_int64(q, 2),
                                          .order_id = text(q, 3),
                                          .t = sqlite3_column_int64(q, 4),
                                          .due = sqlite3_column_int64(q, 5),
                                          .state = sqlite3_column_int(q, 6)};
        r = cb(ctx, &row);
    }
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "load referrals");
}

int pt_store_order_amounts(struct pt_store *s, int64_t shop, const char *order_id, int64_t *amount,
                           int64_t *refunded, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, Q_ORDER_AMOUNTS, "it", shop, order_id);
    int rc = one_row(s, q, e, "order amounts");
    if (rc)
        return rc;
    *amount = sqlite3_column_int64(q, 0);
    *refunded = sqlite3_column_int64(q, 1);
    sqlite3_reset(q);
    return 0;
}

/* ---- rewards ---- */

int pt_store_loy_reward_put(struct pt_store *s, const struct pt_loy_reward_row *r, int64_t *id,
                            struct pt_err *e)
{
    if (r->id == 0) {
        sqlite3_stmt *q = stmt(s, Q_REWARD_INS, "itiiii", r->shop, r->json, r->stock,
                               (int64_t)r->active, r->created, r->updated);
        int rc = run(s, q, NULL, e, "insert reward");
        if (rc == 0 && id)
            *id = sqlite3_last_insert_rowid(db_of(s));
        return rc;
    }
    int dup;
    sqlite3_stmt *q =
        stmt(s, Q_REWARD_UPD, "tiiii", r->json, r->stock, (int64_t)r->active, r->updated, r->id);
    int rc = run(s, q, &dup, e, "update reward");
    if (rc == 0 && dup)
        return pt_err_set(e, PT_ENOTFOUND, "store: no reward %lld", (long long)r->id);
    if (rc == 0 && id)
        *id = r->id;
    return rc;
}

int pt_store_loy_reward_stock(struct pt_store *s, int64_t id, int64_t stock, struct pt_err *e)
{
    return run(s, stmt(s, Q_REWARD_STOCK, "ii", stock, id), NULL, e, "reward stock");
}

int pt_store_loy_rewards(struct pt_store *s,
                         int (*cb)(void *ctx, const struct pt_loy_reward_row *r), void *ctx,
                         struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, Q_REWARDS, "");
    if (q == NULL)
        return pt_store_fail(s, e, "load rewards");
    int rc = SQLITE_DONE, r = 0;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct pt_loy_reward_row row = {.id = sqlite3_column_int64(q, 0),
                                        .shop = sqlite3_column_int64(q, 1),
                                        .json = text(q, 2),
                                        .stock = sqlite3_column_int64(q, 3),
                                        .active = sqlite3_column_int(q, 4),
                                        .created = sqlite3_column_int64(q, 5),
                                        .updated = sqlite3_column_int64(q, 6)};
        r = cb(ctx, &row);
    }
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "load rewards");
}

int pt_store_loy_redemption(struct pt_store *s, int64_t shop, int64_t reward, int64_t customer,
                            int64_t entry, const char *voucher, int64_t t, int64_t *id,
                            struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, Q_REDEMPTION, "iiiiti", shop, reward, customer, entry, voucher, t);
    int rc = run(s, q, NULL, e, "redemption");
    if (rc == 0 && id)
        *id = sqlite3_last_insert_rowid(db_of(s));
    return rc;
}

int pt_store_loy_redeemed(struct pt_store *s, int64_t reward, int64_t customer, int64_t *n,
                          struct pt_err *e)
{
    return sum1(s, stmt(s, Q_REDEEMED, "ii", customer, reward), n, e, "redemptions");
}

/* ---- vouchers ---- */

int pt_store_voucher_insert(struct pt_store *s, const struct pt_voucher_row *v, int *dup,
                            struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, Q_VOUCHER_INS, "tiiitiiiiiii", v->code, v->shop, (int64_t)v->kind,
                           v->value, v->currency[0] ? v->currency : NULL, v->max_uses, v->uses,
                           v->expires, v->customer, v->pool, v->redemption, v->created);
    return run(s, q, dup, e, "insert voucher");
}

static void voucher_of(sqlite3_stmt *q, struct pt_voucher_row *v)
{
    memset(v, 0, sizeof *v);
    const char *c = text(q, 0), *cur = text(q, 4);
    snprintf(v->code, sizeof v->code, "%s", c ? c : "");
    v->shop = sqlite3_column_int64(q, 1);
    v->kind = sqlite3_column_int(q, 2);
    v->value = sqlite3_column_int64(q, 3);
    snprintf(v->currency, sizeof v->currency, "%s", cur ? cur : "");
    v->max_uses = sqlite3_column_int64(q, 5);
    v->uses = sqlite3_column_int64(q, 6);
    v->expires = sqlite3_column_int64(q, 7);
    v->customer = sqlite3_column_int64(q, 8);
    v->pool = sqlite3_column_int64(q, 9);
    v->redemption = sqlite3_column_int64(q, 10);
    v->created = sqlite3_column_int64(q, 11);
}

int pt_store_voucher_get(struct pt_store *s, int64_t shop, const char *code,
                         struct pt_voucher_row *v, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, Q_VOUCHER_GET, "ti", code, shop);
    int rc = one_row(s, q, e, "voucher");
    if (rc)
        return rc;
    voucher_of(q, v);
    sqlite3_reset(q);
    return 0;
}

int pt_store_voucher_use(struct pt_store *s, int64_t shop, const char *code, const char *order_id,
                         int64_t t, const char *idem, int *dup, struct pt_err *e)
{
    int rc = run(s, stmt(s, Q_VOUCHER_USE, "ittit", shop, code, order_id, t, idem), dup, e,
                 "voucher use");
    if (rc || *dup)
        return rc;
    return run(s, stmt(s, Q_VOUCHER_BUMP, "ti", code, shop), NULL, e, "voucher use");
}

int pt_store_voucher_insert_many(struct pt_store *s, const struct pt_voucher_row *v,
                                 const char *codes, size_t n, size_t stride, size_t *inserted,
                                 struct pt_err *e)
{
    *inserted = 0;
    size_t i = 0;
    for (; i + MANY <= n; i += MANY) {
        sqlite3_stmt *q = pt_store_slot(s, Q_VOUCHER_MANY, many_sql);
        if (q == NULL)
            return pt_store_fail(s, e, "insert vouchers");
        for (int k = 0; k < MANY; k++)
            sqlite3_bind_text(q, k + 1, codes + (i + (size_t)k) * stride, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 65, v->shop);
        sqlite3_bind_int(q, 66, v->kind);
        sqlite3_bind_int64(q, 67, v->value);
        pt_store_bind_text(q, 68, v->currency[0] ? v->currency : NULL);
        sqlite3_bind_int64(q, 69, v->max_uses);
        sqlite3_bind_int64(q, 70, v->expires);
        sqlite3_bind_int64(q, 71, v->pool);
        sqlite3_bind_int64(q, 72, v->created);
        int rc = pt_store_run(s, q, e, "insert vouchers");
        if (rc)
            return rc;
        *inserted += (size_t)sqlite3_changes(db_of(s));
    }
    for (; i < n; i++) { /* the rest one by one */
        struct pt_voucher_row one = *v;
        snprintf(one.code, sizeof one.code, "%s", codes + i * stride);
        int dup, rc = pt_store_voucher_insert(s, &one, &dup, e);
        if (rc)
            return rc;
        *inserted += !dup;
    }
    return 0;
}

int pt_store_voucher_pool(struct pt_store *s, int64_t shop, const char *name, const char *json,
                          int64_t n, int64_t created, int64_t *id, struct pt_err *e)
{
    int rc = run(s, stmt(s, Q_POOL, "ittii", shop, name, json, n, created), NULL, e, "code pool");
    if (rc == 0)
        *id = sqlite3_last_insert_rowid(db_of(s));
    return rc;
}

int pt_store_voucher_pool_codes(struct pt_store *s, int64_t shop, int64_t pool,
                                int (*cb)(void *ctx, const struct pt_voucher_row *v), void *ctx,
                                struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, Q_POOL_CODES, "ii", shop, pool);
    if (q == NULL)
        return pt_store_fail(s, e, "pool codes");
    int rc = SQLITE_DONE, r = 0;
    struct pt_voucher_row v;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        voucher_of(q, &v);
        r = cb(ctx, &v);
    }
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "pool codes");
}

int pt_store_loy_day(struct pt_store *s, int64_t customer, int64_t day, const char *reason,
                     int64_t *points, int64_t *n, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, Q_DAY, "iit", customer, day * 86400, reason);
    int rc = one_row(s, q, e, "day's earnings");
    if (rc)
        return rc;
    *points = sqlite3_column_int64(q, 0);
    *n = sqlite3_column_int64(q, 1);
    sqlite3_reset(q);
    return 0;
}

int pt_store_loy_birthdays(struct pt_store *s,
                           int (*cb)(void *ctx, int64_t customer, const char *birthday), void *ctx,
                           struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, Q_BDAYS, "");
    if (q == NULL)
        return pt_store_fail(s, e, "birthdays");
    int rc = SQLITE_DONE, r = 0;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW)
        r = cb(ctx, sqlite3_column_int64(q, 0), text(q, 1));
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "birthdays");
}

int pt_store_voucher_use_find(struct pt_store *s, int64_t shop, const char *idem, struct pt_err *e)
{
    int64_t one;
    int rc = sum1(s, stmt(s, Q_USE_FIND, "it", shop, idem), &one, e, "voucher use");
    return rc == PT_ENOTFOUND ? 0 : rc ? rc : 1;
}

int pt_store_voucher_redemption(struct pt_store *s, const char *code, int64_t redemption,
                                struct pt_err *e)
{
    return run(s, stmt(s, Q_VOUCHER_REDEMPTION, "it", redemption, code), NULL, e,
               "voucher redemption");
}

int pt_store_voucher_exists(struct pt_store *s, const char *code, struct pt_err *e)
{
    int64_t one;
    int rc = sum1(s, stmt(s, Q_VOUCHER_EXISTS, "t", code), &one, e, "voucher exists");
    return rc == PT_ENOTFOUND ? 0 : rc ? rc : 1;
}

/* ---- idempotent requests ---- */

int pt_store_idem_get(struct pt_store *s, int64_t shop, const char *key, uint8_t hash[16],
                      int *status, struct pt_buf *body, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, Q_IDEM_GET, "it", shop, key);
    int rc = one_row(s, q, e, "idempotency key");
    if (rc)
        return rc;
    const void *h = sqlite3_column_blob(q, 0);
    memset(hash, 0, 16);
    if (h && sqlite3_column_bytes(q, 0) == 16)
        memcpy(hash, h, 16);
    *status = sqlite3_column_int(q, 1);
    const char *b = text(q, 2);
    rc = pt_buf_add(body, b ? b : "", (size_t)sqlite3_column_bytes(q, 2));
    sqlite3_reset(q);
    return rc;
}

int pt_store_idem_put(struct pt_store *s, int64_t shop, const char *key, const uint8_t hash[16],
                      int status, const char *body, size_t len, int64_t t, struct pt_err *e)
{
    sqlite3_stmt *q = pt_store_slot(s, Q_IDEM_PUT, loy_sql[Q_IDEM_PUT]);
    if (q == NULL)
        return pt_store_fail(s, e, "record idempotent answer");
    sqlite3_bind_int64(q, 1, shop);
    pt_store_bind_text(q, 2, key);
    sqlite3_bind_blob(q, 3, hash, 16, SQLITE_STATIC);
    sqlite3_bind_int(q, 4, status);
    sqlite3_bind_text64(q, 5, body, len, SQLITE_STATIC, SQLITE_UTF8);
    sqlite3_bind_int64(q, 6, t);
    return pt_store_run(s, q, e, "record idempotent answer");
}

/* ---- reports ---- */

int pt_store_loy_monthly(struct pt_store *s, int64_t shop,
                         int (*cb)(void *ctx, const struct pt_loy_month *m), void *ctx,
                         struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, Q_MONTHLY, "i", shop);
    if (q == NULL)
        return pt_store_fail(s, e, "monthly report");
    int rc = SQLITE_DONE, r = 0;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct pt_loy_month m = {.month = sqlite3_column_int(q, 0),
                                 .earned = sqlite3_column_int64(q, 1),
                                 .redeemed = sqlite3_column_int64(q, 2),
                                 .expired = sqlite3_column_int64(q, 3),
                                 .adjusted = sqlite3_column_int64(q, 4),
                                 .reversed = sqlite3_column_int64(q, 5)};
        r = cb(ctx, &m);
    }
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "monthly report");
}
