/*
 * store_auto.c - the SQLite backend's automation tables (store.h
 * "automation"): message templates, messaging settings, automations and
 * their versions, runs, the outbox, suppressed addresses, customer tags,
 * and the store's secrets.
 *
 * Tables: migration 4 in store_schema.c. Statements live in slots [64, 112)
 * of the connection (store_int.h).
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store/store_int.h"
#include "util/buf.h"
#include "util/mem.h"

enum auto_stmt {
    A_TMPL_PUT = 64,
    A_TMPL_DEL,
    A_TMPLS,
    A_SET_PUT,
    A_SETS,
    A_AUTO_INS,
    A_AUTO_UPD,
    A_AUTO_VER,
    A_AUTO_STATUS,
    A_AUTOS,
    A_RUN_INS,
    A_RUN_UPD,
    A_RUNS_ACTIVE,
    A_RUNS_ALL,
    A_RUN_COUNTS,
    A_OUT_INS,
    A_OUT_RES,
    A_OUT_DUE,
    A_OUT_NEXT,
    A_OUT_LIST,
    A_OUT_GET,
    A_OUT_BYMSG,
    A_OUT_HOLD,
    A_OUT_RELEASE,
    A_OUT_COUNT,
    A_OUT_COUNTS,
    A_SUP_PUT,
    A_SUP_GET,
    A_TAG_ADD,
    A_TAG_DEL,
    A_TAGS,
    A_POOL_TAKE,
    A_ERASE_RUNS,
    A_ERASE_OUT,
    A_ERASE_TAGS,
    A_SECRET_GET,
    A_SECRET_PUT,
    A_OUT_HELD,
    A_OUT_RETIME,
    A_RUN_MOVE,
    A_END
};
_Static_assert(A_END <= PT_STORE_NSLOTS, "store_auto.c has more statements than slots");

#define RUN_COLS                                                                                   \
    "id,shop,automation,version,customer,state,pc,flags,wake,entered,ended,key,voucher,ctx"
#define OUT_COLS                                                                                   \
    "id,msg_id,shop,automation,run,customer,channel,marketing,template,address,subject,html,"      \
    "text,body,status,attempts,next_at,error,created,sent_at"

static const char *const auto_sql[A_END] = {
    [A_TMPL_PUT] =
        "INSERT INTO msg_templates(shop,id,json,created,updated) VALUES(?1,?2,?3,?4,?4)"
        " ON CONFLICT(shop,id) DO UPDATE SET json=excluded.json,updated=excluded.updated",
    [A_TMPL_DEL] = "DELETE FROM msg_templates WHERE shop=? AND id=?",
    [A_TMPLS] = "SELECT shop,id,json,created,updated FROM msg_templates",
    [A_SET_PUT] = "INSERT INTO msg_settings(shop,json) VALUES(?1,?2)"
                  " ON CONFLICT(shop) DO UPDATE SET json=excluded.json",
    [A_SETS] = "SELECT shop,json FROM msg_settings",
    [A_AUTO_INS] = "INSERT INTO automations(shop,version,status,created,updated) VALUES(?,?,?,?,?)",
    [A_AUTO_UPD] = "UPDATE automations SET version=?2,status=?3,updated=?4 WHERE id=?1",
    [A_AUTO_VER] = "INSERT OR REPLACE INTO automation_versions(automation,version,json)"
                   " VALUES(?,?,?)",
    [A_AUTO_STATUS] = "UPDATE automations SET status=?2,updated=?3 WHERE id=?1",
    [A_AUTOS] =
        "SELECT a.id,a.shop,v.version,a.status,v.json,a.created,a.updated FROM automations a"
        " JOIN automation_versions v ON v.automation=a.id ORDER BY a.id,v.version",
    [A_RUN_INS] = "INSERT INTO auto_runs(shop,automation,version,customer,state,pc,flags,wake,"
                  "entered,ended,key,voucher,ctx) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [A_RUN_UPD] = "UPDATE auto_runs SET state=?2,pc=?3,flags=?4,wake=?5,ended=?6,voucher=?7,"
                  "ctx=coalesce(?8,ctx) WHERE id=?1",
    [A_RUNS_ACTIVE] = "SELECT " RUN_COLS " FROM auto_runs WHERE state=0 ORDER BY id",
    /* every active run, and each (automation, customer)'s latest run */
    [A_RUNS_ALL] = "SELECT " RUN_COLS " FROM auto_runs WHERE state=0 OR id IN"
                   " (SELECT max(id) FROM auto_runs GROUP BY automation,customer) ORDER BY id",
    [A_RUN_COUNTS] = "SELECT automation,count(*),sum(state=3),sum(state=0),sum(state=1),"
                     "sum(state=2),sum(state=4) FROM auto_runs WHERE shop=? GROUP BY automation",
    [A_OUT_INS] = "INSERT INTO outbox(msg_id,shop,automation,run,customer,channel,marketing,"
                  "template,address,subject,html,text,body,status,attempts,next_at,error,created,"
                  "sent_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    /* a message held (paused) while it was out stays held unless it went */
    [A_OUT_RES] = "UPDATE outbox SET status=CASE WHEN status=3 AND ?2<>1 THEN 3 ELSE ?2 END,"
                  "attempts=?3,next_at=?4,error=?5,sent_at=?6 WHERE id=?1 AND status IN(0,3)",
    [A_OUT_DUE] = "SELECT " OUT_COLS " FROM outbox INDEXED BY outbox_due WHERE status=0 AND"
                  " next_at<=? ORDER BY next_at,id LIMIT ?",
    [A_OUT_NEXT] = "SELECT min(next_at) FROM outbox INDEXED BY outbox_due WHERE status=0",
    [A_OUT_LIST] = "SELECT " OUT_COLS " FROM outbox WHERE shop=?1 AND (?2<0 OR status=?2) AND"
                   " (?3=0 OR automation=?3) AND (?4=0 OR customer=?4) AND (?5=0 OR id<?5)"
                   " ORDER BY id DESC LIMIT ?6",
    [A_OUT_GET] = "SELECT " OUT_COLS " FROM outbox WHERE id=?",
    [A_OUT_BYMSG] = "SELECT " OUT_COLS " FROM outbox WHERE msg_id=?",
    [A_OUT_HOLD] = "UPDATE outbox SET status=3 WHERE automation=? AND status=0",
    [A_OUT_RELEASE] = "UPDATE outbox SET status=0 WHERE automation=? AND status=3",
    [A_OUT_COUNT] = "SELECT count(*) FROM outbox INDEXED BY outbox_customer WHERE customer=? AND"
                    " channel=? AND created>=? AND marketing=1 AND status IN(0,1,3)",
    [A_OUT_COUNTS] = "SELECT status,count(*) FROM outbox WHERE shop=?1 AND (?2=0 OR automation=?2)"
                     " GROUP BY status",
    [A_SUP_PUT] = "INSERT INTO suppressions(shop,address,reason,t) VALUES(?,?,?,?)"
                  " ON CONFLICT(shop,address) DO NOTHING",
    [A_SUP_GET] = "SELECT 1 FROM suppressions WHERE shop=? AND address=?",
    [A_TAG_ADD] = "INSERT INTO customer_tags(customer,tag,shop,t) VALUES(?,?,?,?)"
                  " ON CONFLICT(customer,tag) DO NOTHING",
    [A_TAG_DEL] = "DELETE FROM customer_tags WHERE customer=? AND tag=?",
    [A_TAGS] = "SELECT tag FROM customer_tags WHERE customer=? ORDER BY tag",
    [A_POOL_TAKE] = "UPDATE vouchers SET customer=?3 WHERE code=(SELECT code FROM vouchers INDEXED"
                    " BY vouchers_pool WHERE pool=(SELECT max(id) FROM voucher_pools WHERE shop=?1"
                    " AND name=?2) AND pool>0 AND customer=0 AND uses=0 ORDER BY code LIMIT 1)"
                    " RETURNING code",
    [A_ERASE_RUNS] = "DELETE FROM auto_runs WHERE customer=?",
    [A_ERASE_OUT] = "DELETE FROM outbox WHERE customer=?",
    [A_ERASE_TAGS] = "DELETE FROM customer_tags WHERE customer=?",
    [A_SECRET_GET] = "SELECT value FROM secrets WHERE name=?",
    [A_SECRET_PUT] = "INSERT INTO secrets(name,value) VALUES(?,?)",
    [A_OUT_HELD] = "SELECT id,customer,next_at FROM outbox INDEXED BY outbox_automation"
                   " WHERE automation=? AND status=3 AND marketing=1 AND next_at<?",
    [A_OUT_RETIME] = "UPDATE outbox SET next_at=? WHERE id=?",
    [A_RUN_MOVE] = "UPDATE auto_runs SET customer=? WHERE id=?",
};

static sqlite3_stmt *stmt(struct pt_store *s, enum auto_stmt i, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *q = pt_store_vstmt(s, (int)i, auto_sql[i], fmt, ap);
    va_end(ap);
    return q;
}

#define text(q, c) pt_store_text(q, c)

/* ---- templates and settings ---- */

int pt_store_tmpl_put(struct pt_store *s, int64_t shop, const char *id, const char *json, int64_t t,
                      struct pt_err *e)
{
    return pt_store_run(s, stmt(s, A_TMPL_PUT, "itti", shop, id, json, t), e, "save template");
}

int pt_store_tmpl_del(struct pt_store *s, int64_t shop, const char *id, struct pt_err *e)
{
    return pt_store_run(s, stmt(s, A_TMPL_DEL, "it", shop, id), e, "delete template");
}

int pt_store_tmpls(struct pt_store *s,
                   int (*cb)(void *ctx, int64_t shop, const char *id, const char *json,
                             int64_t created, int64_t updated),
                   void *ctx, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, A_TMPLS, "");
    if (q == NULL)
        return pt_store_fail(s, e, "load templates");
    int rc = SQLITE_DONE, r = 0;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW)
        r = cb(ctx, sqlite3_column_int64(q, 0), text(q, 1), text(q, 2), sqlite3_column_int64(q, 3),
               sqlite3_column_int64(q, 4));
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "load templates");
}

int pt_store_msg_settings_put(struct pt_store *s, int64_t shop, const char *json, struct pt_err *e)
{
    return pt_store_run(s, stmt(s, A_SET_PUT, "it", shop, json), e, "save settings");
}

int pt_store_msg_settings(struct pt_store *s, int (*cb)(void *ctx, int64_t shop, const char *json),
                          void *ctx, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, A_SETS, "");
    if (q == NULL)
        return pt_store_fail(s, e, "load settings");
    int rc = SQLITE_DONE, r = 0;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW)
        r = cb(ctx, sqlite3_column_int64(q, 0), text(q, 1));
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "load settings");
}

/* ---- automations ---- */

int pt_store_auto_put(struct pt_store *s, const struct pt_auto_row *a, int64_t *id,
                      struct pt_err *e)
{
    int rc;
    if (a->id == 0) {
        rc = pt_store_run(s,
                          stmt(s, A_AUTO_INS, "iiiii", a->shop, a->version, (int64_t)a->status,
                               a->created, a->updated),
                          e, "save automation");
        if (rc)
            return rc;
        *id = sqlite3_last_insert_rowid(db_of(s));
    } else {
        *id = a->id;
        rc = pt_store_run(
            s, stmt(s, A_AUTO_UPD, "iiii", a->id, a->version, (int64_t)a->status, a->updated), e,
            "save automation");
        if (rc)
            return rc;
    }
    return pt_store_run(s, stmt(s, A_AUTO_VER, "iit", *id, a->version, a->json), e,
                        "save automation version");
}

int pt_store_auto_status(struct pt_store *s, int64_t id, int status, int64_t t, struct pt_err *e)
{
    return pt_store_run(s, stmt(s, A_AUTO_STATUS, "iii", id, (int64_t)status, t), e,
                        "save automation status");
}

int pt_store_autos(struct pt_store *s, int (*cb)(void *ctx, const struct pt_auto_row *a), void *ctx,
                   struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, A_AUTOS, "");
    if (q == NULL)
        return pt_store_fail(s, e, "load automations");
    int rc = SQLITE_DONE, r = 0;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct pt_auto_row a = {.id = sqlite3_column_int64(q, 0),
                                .shop = sqlite3_column_int64(q, 1),
                                .version = sqlite3_column_int64(q, 2),
                                .status = sqlite3_column_int(q, 3),
                                .json = text(q, 4),
                                .created = sqlite3_column_int64(q, 5),
                                .updated = sqlite3_column_int64(q, 6)};
        r = cb(ctx, &a);
    }
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "load automations");
}

/* ---- runs ---- */

int pt_store_run_insert(struct pt_store *s, const struct pt_auto_run_row *r, int64_t *id,
                        struct pt_err *e)
{
    sqlite3_stmt *q =
        stmt(s, A_RUN_INS, "iiiiiiiiiiitt", r->shop, r->automation, r->version, r->customer,
             (int64_t)r->state, (int64_t)r->pc, (int64_t)r->flags, r->wake, r->entered, r->ended,
             r->key, r->voucher ? r->voucher : "", r->ctx);
    int rc = pt_store_run(s, q, e, "save run");
    if (rc == 0)
        *id = sqlite3_last_insert_rowid(db_of(s));
    return rc;
}

int pt_store_run_update(struct pt_store *s, const struct pt_auto_run_row *r, struct pt_err *e)
{
    return pt_store_run(s,
                        stmt(s, A_RUN_UPD, "iiiiiitt", r->id, (int64_t)r->state, (int64_t)r->pc,
                             (int64_t)r->flags, r->wake, r->ended, r->voucher ? r->voucher : "",
                             r->ctx),
                        e, "save run");
}

int pt_store_runs(struct pt_store *s, int all,
                  int (*cb)(void *ctx, const struct pt_auto_run_row *r), void *ctx,
                  struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, all ? A_RUNS_ALL : A_RUNS_ACTIVE, "");
    if (q == NULL)
        return pt_store_fail(s, e, "load runs");
    int rc = SQLITE_DONE, r = 0;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct pt_auto_run_row x = {.id = sqlite3_column_int64(q, 0),
                                    .shop = sqlite3_column_int64(q, 1),
                                    .automation = sqlite3_column_int64(q, 2),
                                    .version = sqlite3_column_int64(q, 3),
                                    .customer = sqlite3_column_int64(q, 4),
                                    .state = sqlite3_column_int(q, 5),
                                    .pc = sqlite3_column_int(q, 6),
                                    .flags = sqlite3_column_int(q, 7),
                                    .wake = sqlite3_column_int64(q, 8),
                                    .entered = sqlite3_column_int64(q, 9),
                                    .ended = sqlite3_column_int64(q, 10),
                                    .key = sqlite3_column_int64(q, 11),
                                    .voucher = text(q, 12),
                                    .ctx = text(q, 13)};
        r = cb(ctx, &x);
    }
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "load runs");
}

int pt_store_run_counts(struct pt_store *s, int64_t shop,
                        int (*cb)(void *ctx, const struct pt_auto_counts *c), void *ctx,
                        struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, A_RUN_COUNTS, "i", shop);
    if (q == NULL)
        return pt_store_fail(s, e, "count runs");
    int rc = SQLITE_DONE, r = 0;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct pt_auto_counts c = {.automation = sqlite3_column_int64(q, 0),
                                   .entered = sqlite3_column_int64(q, 1),
                                   .control = sqlite3_column_int64(q, 2),
                                   .active = sqlite3_column_int64(q, 3),
                                   .done = sqlite3_column_int64(q, 4),
                                   .exited = sqlite3_column_int64(q, 5),
                                   .failed = sqlite3_column_int64(q, 6)};
        r = cb(ctx, &c);
    }
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "count runs");
}

/* ---- the outbox ---- */

int pt_store_outbox_insert(struct pt_store *s, const struct pt_outbox_row *m, int64_t *id,
                           struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, A_OUT_INS, "tiiiiiittttttiiitii", m->msg_id, m->shop, m->automation,
                           m->run, m->customer, (int64_t)m->channel, (int64_t)m->marketing, m->tmpl,
                           m->address ? m->address : "", m->subject, m->html, m->text, m->body,
                           (int64_t)m->status, (int64_t)m->attempts, m->next_at, m->error,
                           m->created, m->sent_at);
    int rc = pt_store_run(s, q, e, "save message");
    if (rc == 0)
        *id = sqlite3_last_insert_rowid(db_of(s));
    return rc;
}

int pt_store_outbox_result(struct pt_store *s, int64_t id, int status, int attempts,
                           int64_t next_at, const char *error, int64_t sent_at, struct pt_err *e)
{
    return pt_store_run(s,
                        stmt(s, A_OUT_RES, "iiiiti", id, (int64_t)status, (int64_t)attempts,
                             next_at, error, sent_at),
                        e, "save delivery");
}

static void out_row(sqlite3_stmt *q, struct pt_outbox_row *m)
{
    memset(m, 0, sizeof *m);
    m->id = sqlite3_column_int64(q, 0);
    const char *mid = text(q, 1);
    snprintf(m->msg_id, sizeof m->msg_id, "%s", mid ? mid : "");
    m->shop = sqlite3_column_int64(q, 2);
    m->automation = sqlite3_column_int64(q, 3);
    m->run = sqlite3_column_int64(q, 4);
    m->customer = sqlite3_column_int64(q, 5);
    m->channel = sqlite3_column_int(q, 6);
    m->marketing = sqlite3_column_int(q, 7);
    m->tmpl = text(q, 8);
    m->address = text(q, 9);
    m->subject = text(q, 10);
    m->html = text(q, 11);
    m->text = text(q, 12);
    m->body = text(q, 13);
    m->status = sqlite3_column_int(q, 14);
    m->attempts = sqlite3_column_int(q, 15);
    m->next_at = sqlite3_column_int64(q, 16);
    m->error = text(q, 17);
    m->created = sqlite3_column_int64(q, 18);
    m->sent_at = sqlite3_column_int64(q, 19);
}

static int out_loop(struct pt_store *s, sqlite3_stmt *q,
                    int (*cb)(void *ctx, const struct pt_outbox_row *m), void *ctx,
                    struct pt_err *e, const char *what)
{
    if (q == NULL)
        return pt_store_fail(s, e, what);
    int rc = SQLITE_DONE, r = 0;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct pt_outbox_row m;
        out_row(q, &m);
        r = cb(ctx, &m);
    }
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, what);
}

int pt_store_outbox_due(struct pt_store *s, int64_t now, int limit,
                        int (*cb)(void *ctx, const struct pt_outbox_row *m), void *ctx,
                        struct pt_err *e)
{
    return out_loop(s, stmt(s, A_OUT_DUE, "ii", now, (int64_t)limit), cb, ctx, e,
                    "read due messages");
}

int pt_store_outbox_next(struct pt_store *s, int64_t *t, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, A_OUT_NEXT, "");
    int rc = pt_store_one_row(s, q, e, "read the next message");
    if (rc)
        return rc;
    *t = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    return 0;
}

int pt_store_outbox_list(struct pt_store *s, int64_t shop, int status, int64_t automation,
                         int64_t customer, int64_t before, int limit,
                         int (*cb)(void *ctx, const struct pt_outbox_row *m), void *ctx,
                         struct pt_err *e)
{
    return out_loop(s,
                    stmt(s, A_OUT_LIST, "iiiiii", shop, (int64_t)status, automation, customer,
                         before, (int64_t)limit),
                    cb, ctx, e, "list messages");
}

int pt_outbox_row_own(struct pt_outbox_row *m, struct pt_buf *strings)
{
    const char **f[] = {&m->tmpl, &m->address, &m->subject, &m->html,
                        &m->text, &m->body,    &m->error};
    size_t off[7];
    pt_buf_reset(strings);
    for (size_t i = 0; i < 7; i++) {
        off[i] = SIZE_MAX;
        if (*f[i] == NULL)
            continue;
        off[i] = strings->len;
        if (pt_buf_add(strings, *f[i], strlen(*f[i]) + 1))
            return PT_ENOMEM;
    }
    for (size_t i = 0; i < 7; i++) /* (once the buffer stops moving) */
        *f[i] = off[i] == SIZE_MAX ? NULL : strings->data + off[i];
    return 0;
}

static int out_one(struct pt_store *s, sqlite3_stmt *q, struct pt_outbox_row *m,
                   struct pt_buf *strings, struct pt_err *e)
{
    int rc = pt_store_one_row(s, q, e, "read message");
    if (rc)
        return rc;
    out_row(q, m);
    /* the strings outlive the statement in `strings` */
    if (pt_outbox_row_own(m, strings)) {
        sqlite3_reset(q);
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    }
    sqlite3_reset(q);
    return 0;
}

int pt_store_outbox_get(struct pt_store *s, int64_t id, struct pt_outbox_row *m,
                        struct pt_buf *strings, struct pt_err *e)
{
    return out_one(s, stmt(s, A_OUT_GET, "i", id), m, strings, e);
}

int pt_store_outbox_by_msg(struct pt_store *s, const char *msg_id, struct pt_outbox_row *m,
                           struct pt_buf *strings, struct pt_err *e)
{
    return out_one(s, stmt(s, A_OUT_BYMSG, "t", msg_id), m, strings, e);
}

int pt_store_outbox_hold(struct pt_store *s, int64_t automation, int hold, struct pt_err *e)
{
    return pt_store_run(s, stmt(s, hold ? A_OUT_HOLD : A_OUT_RELEASE, "i", automation), e,
                        "hold messages");
}

int pt_store_outbox_count(struct pt_store *s, int64_t customer, int channel, int64_t since,
                          int64_t *n, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, A_OUT_COUNT, "iii", customer, (int64_t)channel, since);
    int rc = pt_store_one_row(s, q, e, "count messages");
    if (rc)
        return rc;
    *n = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    return 0;
}

int pt_store_outbox_counts(struct pt_store *s, int64_t shop, int64_t automation, int64_t n[5],
                           struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, A_OUT_COUNTS, "ii", shop, automation);
    if (q == NULL)
        return pt_store_fail(s, e, "count messages");
    memset(n, 0, 5 * sizeof *n);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int st = sqlite3_column_int(q, 0);
        if (st >= 0 && st < 5)
            n[st] = sqlite3_column_int64(q, 1);
    }
    return pt_store_done(s, q, rc, 0, e, "count messages");
}

/* ---- suppressions, tags, pools, erasure, secrets ---- */

/* An address is kept as hex BLAKE2b-128 of its lower-cased text: the list
 * can be checked without holding the addresses (an erased customer's stays
 * suppressed, and unreadable). */
static void address_key(const char *address, char out[33])
{
    char low[320];
    size_t n = 0;
    for (; address && address[n] && n + 1 < sizeof low; n++)
        low[n] = (char)(address[n] >= 'A' && address[n] <= 'Z' ? address[n] + 32 : address[n]);
    uint8_t h[16];
    crypto_generichash(h, sizeof h, (const unsigned char *)low, n, NULL, 0);
    sodium_bin2hex(out, 33, h, sizeof h);
}

int pt_store_suppress(struct pt_store *s, int64_t shop, const char *address, const char *reason,
                      int64_t t, struct pt_err *e)
{
    char k[33];
    address_key(address, k);
    return pt_store_run(s, stmt(s, A_SUP_PUT, "itti", shop, k, reason, t), e, "save suppression");
}

int pt_store_suppressed(struct pt_store *s, int64_t shop, const char *address, int *yes,
                        struct pt_err *e)
{
    char k[33];
    address_key(address, k);
    int rc = pt_store_one_row(s, stmt(s, A_SUP_GET, "it", shop, k), e, "read suppression");
    *yes = rc == 0;
    if (rc == 0)
        sqlite3_reset(pt_store_slot(s, A_SUP_GET, auto_sql[A_SUP_GET]));
    return rc == PT_ENOTFOUND ? 0 : rc;
}

int pt_store_tag(struct pt_store *s, int64_t shop, int64_t customer, const char *tag, int add,
                 int64_t t, struct pt_err *e)
{
    sqlite3_stmt *q = add ? stmt(s, A_TAG_ADD, "itii", customer, tag, shop, t)
                          : stmt(s, A_TAG_DEL, "it", customer, tag);
    return pt_store_run(s, q, e, "save tag");
}

int pt_store_tags(struct pt_store *s, int64_t customer, int (*cb)(void *ctx, const char *tag),
                  void *ctx, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, A_TAGS, "i", customer);
    if (q == NULL)
        return pt_store_fail(s, e, "read tags");
    int rc = SQLITE_DONE, r = 0;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW)
        r = cb(ctx, text(q, 0));
    return pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "read tags");
}

int pt_store_pool_take(struct pt_store *s, int64_t shop, const char *name, int64_t customer,
                       char code[24], struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, A_POOL_TAKE, "iti", shop, name, customer);
    code[0] = 0;
    int rc = pt_store_one_row(s, q, e, "take a pool code");
    if (rc == PT_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    const char *c = text(q, 0);
    snprintf(code, 24, "%s", c ? c : "");
    /* step to the end so the UPDATE completes */
    rc = sqlite3_step(q);
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : pt_store_fail(s, e, "take a pool code");
}

int pt_store_auto_erase(struct pt_store *s, int64_t customer, struct pt_err *e)
{
    int rc = pt_store_run(s, stmt(s, A_ERASE_RUNS, "i", customer), e, "erase runs");
    if (rc == 0)
        rc = pt_store_run(s, stmt(s, A_ERASE_OUT, "i", customer), e, "erase messages");
    if (rc == 0)
        rc = pt_store_run(s, stmt(s, A_ERASE_TAGS, "i", customer), e, "erase tags");
    return rc;
}

int pt_store_secret(struct pt_store *s, const char *name, uint8_t out[32], struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, A_SECRET_GET, "t", name);
    int rc = pt_store_one_row(s, q, e, "read secret");
    if (rc == 0) {
        int ok = sqlite3_column_bytes(q, 0) == 32;
        if (ok)
            memcpy(out, sqlite3_column_blob(q, 0), 32);
        sqlite3_reset(q);
        return ok ? 0 : pt_err_set(e, PT_EIO, "store: secret %s is damaged", name);
    }
    if (rc != PT_ENOTFOUND)
        return rc;
    randombytes_buf(out, 32);
    q = pt_store_slot(s, A_SECRET_PUT, auto_sql[A_SECRET_PUT]);
    if (q == NULL)
        return pt_store_fail(s, e, "save secret");
    pt_store_bind_text(q, 1, name);
    sqlite3_bind_blob(q, 2, out, 32, SQLITE_TRANSIENT);
    return pt_store_run(s, q, e, "save secret");
}

int pt_store_outbox_overdue(struct pt_store *s, int64_t automation, int64_t now,
                            int (*cb)(void *ctx, int64_t id, int64_t customer), void *ctx,
                            struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, A_OUT_HELD, "ii", automation, now);
    if (q == NULL)
        return pt_store_fail(s, e, "read held messages");
    /* (collected first: the callback writes) */
    int64_t *ids = NULL, *cus = NULL;
    size_t n = 0, cap = 0;
    int rc, r = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            int64_t *a = pt_realloc_array(ids, nc, sizeof *a);
            if (a)
                ids = a;
            int64_t *b = a ? pt_realloc_array(cus, nc, sizeof *b) : NULL;
            if (b == NULL) {
                r = PT_ENOMEM;
                break;
            }
            cus = b;
            cap = nc;
        }
        ids[n] = sqlite3_column_int64(q, 0);
        cus[n++] = sqlite3_column_int64(q, 1);
    }
    rc = pt_store_done(s, q, r ? SQLITE_DONE : rc, r, e, "read held messages");
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = cb(ctx, ids[i], cus[i]);
    pt_free(ids);
    pt_free(cus);
    return rc == PT_ENOMEM ? pt_err_set(e, rc, "out of memory") : rc;
}

int pt_store_outbox_retime(struct pt_store *s, int64_t id, int64_t next_at, struct pt_err *e)
{
    return pt_store_run(s, stmt(s, A_OUT_RETIME, "ii", next_at, id), e, "reschedule message");
}

int pt_store_run_move(struct pt_store *s, int64_t id, int64_t customer, struct pt_err *e)
{
    return pt_store_run(s, stmt(s, A_RUN_MOVE, "ii", customer, id), e, "move run");
}
