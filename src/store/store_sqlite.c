/*
 * store_sqlite.c - the SQLite (WAL) backend of store.h.
 */
#include "store/store.h"

#include <errno.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store/store_int.h"
#include "util/mem.h"

/* Schema migrations (store_schema.c). */
#define NMIGRATIONS PT_STORE_SCHEMA_VERSION

enum stmt {
    S_BEGIN, S_COMMIT, S_ROLLBACK,
    S_SHOP_INS, S_SHOP_KEY, S_SHOP_ROTATE, S_SHOP_BY_PUBLIC, S_SHOP_ALL,
    S_CUST_INS, S_CUST_UPD, S_CUST_TRAITS_GET, S_CUST_TRAITS_SET, S_CUST_FIND, S_CUST_PAGE,
    S_EV_INS, S_EV_BODY, S_EV_DEL, S_EV_DEL_BODY, S_LOAD_HEADS, S_ORD_INS, S_LINE_INS, S_ORD_GET, S_ORD_REFUND,
    S_MERGE_INS, S_MERGE_LAST, S_MERGE_ID, S_MERGE_UNDO,
    S_LOAD_CUST, S_LOAD_ORD,
    S_NSTMT
};

static const char *const sql_text[S_NSTMT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SHOP_INS] = "INSERT INTO shops(public_id,name,key_id,key_hash,created) VALUES(?,?,?,?,?)",
    [S_SHOP_KEY] = "SELECT id,public_id,name,key_id,key_hash,created FROM shops WHERE key_id=?",
    [S_SHOP_ROTATE] = "UPDATE shops SET key_id=?,key_hash=? WHERE public_id=?",
    [S_SHOP_BY_PUBLIC] =
        "SELECT id,public_id,name,key_id,key_hash,created FROM shops WHERE public_id=?",
    [S_SHOP_ALL] = "SELECT id,public_id,name,key_id,key_hash,created FROM shops ORDER BY id",
    [S_CUST_INS] = "INSERT INTO customers(id,shop,kind,ext_id,merged_into,consent,consent_set,"
                   "cart_value,cart_since,cart_t,created) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
    [S_CUST_UPD] = "UPDATE customers SET merged_into=?,consent=?,consent_set=?,cart_value=?,"
                   "cart_since=?,cart_t=?,split=? WHERE id=?",
    [S_CUST_TRAITS_GET] = "SELECT traits FROM customers WHERE id=?",
    [S_CUST_TRAITS_SET] = "UPDATE customers SET traits=? WHERE id=?",
    [S_CUST_FIND] = "SELECT id FROM customers WHERE shop=? AND kind=? AND ext_id=?",
    [S_CUST_PAGE] = "SELECT id FROM customers WHERE shop=? AND kind=0 AND id>? ORDER BY id LIMIT ?",
    [S_EV_INS] = "INSERT OR IGNORE INTO events(shop,customer,prev,message_id,type,kind,name,t,"
                 "received,product,category,qty) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
    [S_EV_BODY] = "INSERT INTO event_bodies(seq,body) VALUES(?,?)",
    [S_EV_DEL] = "DELETE FROM events WHERE seq=?",
    [S_EV_DEL_BODY] = "DELETE FROM event_bodies WHERE seq=?",
    [S_LOAD_HEADS] = "SELECT seq,customer FROM events",
    [S_ORD_INS] = "INSERT OR IGNORE INTO orders(shop,order_id,customer,t,amount,currency,event,"
                  "discounted) VALUES(?,?,?,?,?,?,?,?)",
    [S_LINE_INS] = "INSERT INTO order_lines(customer,shop,order_id,product_id,sku,category,name,"
                   "price,quantity) VALUES(?,?,?,?,?,?,?,?,?)",
    [S_ORD_GET] = "SELECT customer,amount,refunded,t FROM orders WHERE shop=? AND order_id=?",
    [S_ORD_REFUND] = "UPDATE orders SET refunded=? WHERE shop=? AND order_id=?",
    [S_MERGE_INS] = "INSERT INTO merges(shop,into_customer,from_customer,t,reason) VALUES(?,?,?,?,?)",
    [S_MERGE_LAST] = "SELECT id,into_customer,from_customer FROM merges WHERE undone_t IS NULL"
                     " AND into_customer=? AND (?=0 OR from_customer=?) ORDER BY id DESC LIMIT 1",
    [S_MERGE_ID] = "SELECT id,into_customer,from_customer FROM merges WHERE undone_t IS NULL"
                   " AND id=? AND into_customer=?",
    [S_MERGE_UNDO] = "UPDATE merges SET undone_t=? WHERE id=?",
    [S_LOAD_CUST] = "SELECT id,shop,kind,ext_id,merged_into,consent,consent_set,cart_value,"
                    "cart_since,cart_t,created,split FROM customers ORDER BY id",
    [S_LOAD_ORD] = "SELECT customer,t,amount,refunded FROM orders",
};

struct pt_store {
    sqlite3 *db;
    int writer;
    sqlite3_stmt *st[S_NSTMT];
    sqlite3_stmt *slot[PT_STORE_NSLOTS]; /* store_int.h */
};

int pt_store_fail(struct pt_store *s, struct pt_err *e, const char *what)
{
    return pt_err_set(e, PT_EIO, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

static sqlite3_stmt *stmt(struct pt_store *s, enum stmt i)
{
    if (s->st[i] == NULL &&
        sqlite3_prepare_v3(s->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL))
        return NULL;
    sqlite3_reset(s->st[i]);
    sqlite3_clear_bindings(s->st[i]);
    return s->st[i];
}

sqlite3_stmt *pt_store_slot(struct pt_store *s, int slot, const char *sql)
{
    if (slot < 0 || slot >= PT_STORE_NSLOTS)
        return NULL;
    sqlite3_stmt **q = &s->slot[slot];
    if (*q == NULL && sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, q, NULL))
        return NULL;
    sqlite3_reset(*q);
    sqlite3_clear_bindings(*q);
    return *q;
}

void pt_store_bind_text(sqlite3_stmt *q, int i, const char *t)
{
    if (t)
        sqlite3_bind_text(q, i, t, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, i);
}

int pt_store_done(struct pt_store *s, sqlite3_stmt *q, int rc, int r, struct pt_err *e,
                  const char *what)
{
    if (r == 0 && rc != SQLITE_DONE)
        r = pt_store_fail(s, e, what);
    sqlite3_reset(q);
    return r;
}

int pt_store_run(struct pt_store *s, sqlite3_stmt *q, struct pt_err *e, const char *what)
{
    if (q == NULL)
        return pt_store_fail(s, e, what);
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : pt_store_fail(s, e, what);
}

sqlite3_stmt *pt_store_vstmt(struct pt_store *s, int slot, const char *sql, const char *fmt,
                             va_list ap)
{
    sqlite3_stmt *q = pt_store_slot(s, slot, sql);
    if (q == NULL)
        return NULL;
    for (int k = 0; fmt[k]; k++) {
        if (fmt[k] == 'i')
            sqlite3_bind_int64(q, k + 1, va_arg(ap, int64_t));
        else if (fmt[k] == 't')
            pt_store_bind_text(q, k + 1, va_arg(ap, const char *));
        else
            sqlite3_bind_blob(q, k + 1, va_arg(ap, const void *), 16, SQLITE_STATIC);
    }
    return q;
}

int pt_store_one_row(struct pt_store *s, sqlite3_stmt *q, struct pt_err *e, const char *what)
{
    if (q == NULL)
        return pt_store_fail(s, e, what);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        return 0;
    sqlite3_reset(q);
    if (rc == SQLITE_DONE)
        return pt_err_set(e, PT_ENOTFOUND, "store: %s: not found", what);
    return pt_store_fail(s, e, what);
}

int pt_store_run_dup(struct pt_store *s, sqlite3_stmt *q, int *dup, struct pt_err *e,
                     const char *what)
{
    if (q == NULL)
        return pt_store_fail(s, e, what);
    int rc = pt_store_run(s, q, e, what);
    if (rc == 0 && dup)
        *dup = sqlite3_changes(s->db) == 0;
    return rc;
}

static int exec(struct pt_store *s, const char *sql, struct pt_err *e)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        pt_err_set(e, PT_EIO, "store: %s", msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return PT_EIO;
    }
    return 0;
}

static int get_version(struct pt_store *s, int *v)
{
    sqlite3_stmt *q;
    *v = 0;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL))
        return PT_EIO;
    if (sqlite3_step(q) == SQLITE_ROW)
        *v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return 0;
}

int pt_store_schema_version(struct pt_store *s, int *v)
{
    return get_version(s, v);
}

static int migrate(struct pt_store *s, struct pt_err *e)
{
    int v;
    if (get_version(s, &v))
        return pt_store_fail(s, e, "schema version");
    if (v > NMIGRATIONS)
        return pt_err_set(e, PT_EIO,
                          "store: the database has schema version %d; this patron knows up to %d",
                          v, NMIGRATIONS);
    for (; v < NMIGRATIONS; v++) {
        char set[64];
        snprintf(set, sizeof set, "PRAGMA user_version=%d", v + 1);
        if (exec(s, "BEGIN IMMEDIATE", e))
            return PT_EIO;
        if (exec(s, pt_store_migrations[v], e) || exec(s, set, e)) {
            exec(s, "ROLLBACK", NULL);
            return PT_EIO;
        }
        if (exec(s, "COMMIT", e))
            return PT_EIO;
    }
    return 0;
}

int pt_store_open(const char *dir, int mode, struct pt_store **out, struct pt_err *e)
{
    char path[4096];
    *out = NULL;
    if (sodium_init() < 0)
        return pt_err_set(e, PT_EIO, "libsodium failed to initialise");
    if (mkdir(dir, 0700) && errno != EEXIST)
        return pt_err_set(e, PT_EIO, "%s: cannot create the data directory: %s", dir,
                          strerror(errno));
    if ((size_t)snprintf(path, sizeof path, "%s/patron.db", dir) >= sizeof path)
        return pt_err_set(e, PT_EINVAL, "data directory path is too long");
    struct pt_store *s = pt_calloc(1, sizeof *s);
    if (s == NULL)
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    s->writer = mode == PT_STORE_WRITE || mode == PT_STORE_ENGINE;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        pt_err_set(e, PT_EIO, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
        pt_store_close(s);
        return PT_EIO;
    }
    sqlite3_busy_timeout(s->db, 10000);
    if (exec(s,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;"
             "PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY;",
             e) ||
        (s->writer && migrate(s, e))) {
        pt_store_close(s);
        return PT_EIO;
    }
    /* The writer keeps a large page cache; readers a small one each. The bulk
     * of checkpointing (copying WAL pages into the database) is done by
     * pt_store_checkpoint from another connection (the engine's checkpoint
     * thread, on the other core); the writer's own automatic checkpoint after a
     * commit then only finishes the last frames, and, being complete, lets the
     * next transaction start the WAL from its beginning (a passive checkpoint
     * from elsewhere never sees the WAL complete while the writer appends). */
    if (s->writer)
        exec(s, "PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=4000", NULL);
    if (mode == PT_STORE_ENGINE)
        exec(s, "PRAGMA synchronous=NORMAL", NULL);
    else
        exec(s, "PRAGMA cache_size=-8192", NULL);
    *out = s;
    return 0;
}

void pt_store_close(struct pt_store *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < S_NSTMT; i++)
        sqlite3_finalize(s->st[i]);
    for (int i = 0; i < PT_STORE_NSLOTS; i++)
        sqlite3_finalize(s->slot[i]);
    sqlite3_close(s->db);
    pt_free(s);
}

/* ---- shops and keys ---- */

#define KEY_PREFIX "ptk_"

/* key = "ptk_" key_id(16 hex) "_" secret(64 hex); hash = BLAKE2b-256(key). */
int pt_api_key_parse(const char *key, size_t len, char key_id[24], uint8_t hash[32])
{
    if (len != 4 + 16 + 1 + 64 || memcmp(key, KEY_PREFIX, 4) != 0 || key[20] != '_')
        return PT_EINVAL;
    for (size_t i = 4; i < len; i++) {
        char c = key[i];
        if (i != 20 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return PT_EINVAL;
    }
    memcpy(key_id, key + 4, 16);
    key_id[16] = '\0';
    crypto_generichash(hash, 32, (const unsigned char *)key, len, NULL, 0);
    return 0;
}

static void new_key(char key[96], char key_id[24], uint8_t hash[32])
{
    uint8_t id[8], secret[32];
    randombytes_buf(id, sizeof id);
    randombytes_buf(secret, sizeof secret);
    char idhex[17], sechex[65];
    sodium_bin2hex(idhex, sizeof idhex, id, sizeof id);
    sodium_bin2hex(sechex, sizeof sechex, secret, sizeof secret);
    snprintf(key, 96, KEY_PREFIX "%s_%s", idhex, sechex);
    pt_api_key_parse(key, strlen(key), key_id, hash);
    sodium_memzero(secret, sizeof secret);
}

static void shop_from_row(sqlite3_stmt *q, struct pt_shop *sh)
{
    memset(sh, 0, sizeof *sh);
    sh->id = sqlite3_column_int64(q, 0);
    snprintf(sh->public_id, sizeof sh->public_id, "%s", (const char *)sqlite3_column_text(q, 1));
    snprintf(sh->name, sizeof sh->name, "%s", (const char *)sqlite3_column_text(q, 2));
    snprintf(sh->key_id, sizeof sh->key_id, "%s", (const char *)sqlite3_column_text(q, 3));
    if (sqlite3_column_bytes(q, 4) == 32)
        memcpy(sh->key_hash, sqlite3_column_blob(q, 4), 32);
    sh->created = sqlite3_column_int64(q, 5);
}

int pt_store_shop_create(struct pt_store *s, const char *name, struct pt_shop *shop, char key[96],
                         struct pt_err *e)
{
    if (name == NULL || name[0] == '\0' || strlen(name) >= sizeof shop->name)
        return pt_err_set(e, PT_EINVAL, "shop name must be 1..%zu bytes", sizeof shop->name - 1);
    memset(shop, 0, sizeof *shop);
    uint8_t rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    char hex[17];
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    snprintf(shop->public_id, sizeof shop->public_id, "shop_%s", hex);
    snprintf(shop->name, sizeof shop->name, "%s", name);
    new_key(key, shop->key_id, shop->key_hash);
    shop->created = (int64_t)time(NULL);
    sqlite3_stmt *q = stmt(s, S_SHOP_INS);
    if (q == NULL)
        return pt_store_fail(s, e, "create shop");
    pt_store_bind_text(q, 1, shop->public_id);
    pt_store_bind_text(q, 2, shop->name);
    pt_store_bind_text(q, 3, shop->key_id);
    sqlite3_bind_blob(q, 4, shop->key_hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(q, 5, shop->created);
    int rc = pt_store_run(s, q, e, "create shop");
    shop->id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

static int shop_get(struct pt_store *s, enum stmt which, const char *arg, struct pt_shop *shop,
                    struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, which);
    if (q == NULL)
        return pt_store_fail(s, e, "find shop");
    pt_store_bind_text(q, 1, arg);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        shop_from_row(q, shop);
    sqlite3_reset(q);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return pt_err_set(e, PT_ENOTFOUND, "no shop %s", arg);
    return pt_store_fail(s, e, "find shop");
}

int pt_store_shop_by_key_id(struct pt_store *s, const char *key_id, struct pt_shop *shop,
                            struct pt_err *e)
{
    return shop_get(s, S_SHOP_KEY, key_id, shop, e);
}

int pt_store_shop_rotate(struct pt_store *s, const char *public_id, struct pt_shop *shop,
                         char key[96], struct pt_err *e)
{
    int rc = shop_get(s, S_SHOP_BY_PUBLIC, public_id, shop, e);
    if (rc)
        return rc;
    new_key(key, shop->key_id, shop->key_hash);
    sqlite3_stmt *q = stmt(s, S_SHOP_ROTATE);
    if (q == NULL)
        return pt_store_fail(s, e, "rotate key");
    pt_store_bind_text(q, 1, shop->key_id);
    sqlite3_bind_blob(q, 2, shop->key_hash, 32, SQLITE_STATIC);
    pt_store_bind_text(q, 3, public_id);
    return pt_store_run(s, q, e, "rotate key");
}

int pt_store_shop_list(struct pt_store *s, int (*cb)(void *ctx, const struct pt_shop *sh),
                       void *ctx, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, S_SHOP_ALL);
    if (q == NULL)
        return pt_store_fail(s, e, "list shops");
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct pt_shop sh;
        shop_from_row(q, &sh);
        int r = cb(ctx, &sh);
        if (r) {
            sqlite3_reset(q);
            return r;
        }
    }
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : pt_store_fail(s, e, "list shops");
}

/* ---- transactions ---- */

int pt_store_begin(struct pt_store *s, struct pt_err *e)
{
    return pt_store_run(s, stmt(s, S_BEGIN), e, "begin");
}

int pt_store_commit(struct pt_store *s, struct pt_err *e)
{
    return pt_store_run(s, stmt(s, S_COMMIT), e, "commit");
}

void pt_store_rollback(struct pt_store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        pt_store_run(s, stmt(s, S_ROLLBACK), NULL, "rollback");
}

/* ---- customers ---- */

int pt_store_customer_insert(struct pt_store *s, const struct pt_cust_row *c, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, S_CUST_INS);
    if (q == NULL)
        return pt_store_fail(s, e, "insert customer");
    sqlite3_bind_int64(q, 1, c->id);
    sqlite3_bind_int64(q, 2, c->shop);
    sqlite3_bind_int(q, 3, c->kind);
    pt_store_bind_text(q, 4, c->ext_id);
    if (c->merged_into)
        sqlite3_bind_int64(q, 5, c->merged_into);
    sqlite3_bind_int(q, 6, c->consent);
    sqlite3_bind_int(q, 7, c->consent_set);
    sqlite3_bind_int64(q, 8, c->cart_value);
    sqlite3_bind_int64(q, 9, c->cart_since);
    sqlite3_bind_int64(q, 10, c->cart_t);
    sqlite3_bind_int64(q, 11, c->created);
    return pt_store_run(s, q, e, "insert customer");
}

int pt_store_customer_update(struct pt_store *s, const struct pt_cust_row *c, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, S_CUST_UPD);
    if (q == NULL)
        return pt_store_fail(s, e, "update customer");
    if (c->merged_into)
        sqlite3_bind_int64(q, 1, c->merged_into);
    sqlite3_bind_int(q, 2, c->consent);
    sqlite3_bind_int(q, 3, c->consent_set);
    sqlite3_bind_int64(q, 4, c->cart_value);
    sqlite3_bind_int64(q, 5, c->cart_since);
    sqlite3_bind_int64(q, 6, c->cart_t);
    sqlite3_bind_int(q, 7, c->split);
    sqlite3_bind_int64(q, 8, c->id);
    return pt_store_run(s, q, e, "update customer");
}

int pt_store_customer_find(struct pt_store *s, int64_t shop, int kind, const char *ext_id,
                           int64_t *id, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, S_CUST_FIND);
    if (q == NULL)
        return pt_store_fail(s, e, "find customer");
    sqlite3_bind_int64(q, 1, shop);
    sqlite3_bind_int(q, 2, kind);
    pt_store_bind_text(q, 3, ext_id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? PT_ENOTFOUND : pt_store_fail(s, e, "find customer");
}

int pt_store_customer_page(struct pt_store *s, int64_t shop, int64_t after, int limit,
                           int64_t *ids, int *n, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, S_CUST_PAGE);
    *n = 0;
    if (q == NULL)
        return pt_store_fail(s, e, "list customers");
    sqlite3_bind_int64(q, 1, shop);
    sqlite3_bind_int64(q, 2, after);
    sqlite3_bind_int(q, 3, limit);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW && *n < limit)
        ids[(*n)++] = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : pt_store_fail(s, e, "list customers");
}

/* ---- events and orders ---- */

/* The product of a track event about one product (viewed, added to or removed
 * from the cart or the wishlist): its first line, else NULL. */
static const struct pt_evline *event_product(const struct pt_event *ev)
{
    if (ev->type != PT_EV_TRACK || ev->nlines < 1 || ev->lines == NULL)
        return NULL;
    switch (ev->kind) {
    case PT_K_PRODUCT_VIEWED:
    case PT_K_PRODUCT_ADDED:
    case PT_K_PRODUCT_REMOVED:
    case PT_K_WISHLIST_ADDED:
    case PT_K_WISHLIST_REMOVED:
        return &ev->lines[0];
    default:
        return NULL;
    }
}

int pt_store_event_insert(struct pt_store *s, int64_t shop, int64_t customer, int64_t prev,
                          const struct pt_event *ev, int64_t received, int64_t *seq, int *dup,
                          struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, S_EV_INS);
    if (q == NULL)
        return pt_store_fail(s, e, "insert event");
    sqlite3_bind_int64(q, 1, shop);
    sqlite3_bind_int64(q, 2, customer);
    if (prev > 0)
        sqlite3_bind_int64(q, 3, prev);
    pt_store_bind_text(q, 4, ev->message_id);
    sqlite3_bind_int(q, 5, (int)ev->type);
    sqlite3_bind_int(q, 6, (int)ev->kind);
    pt_store_bind_text(q, 7, ev->name);
    sqlite3_bind_int64(q, 8, ev->t);
    sqlite3_bind_int64(q, 9, received);
    const struct pt_evline *l = event_product(ev);
    if (l) {
        pt_store_bind_text(q, 10, l->product_id ? l->product_id : l->sku);
        pt_store_bind_text(q, 11, l->category);
        sqlite3_bind_int64(q, 12, l->quantity);
    }
    int rc = pt_store_run(s, q, e, "insert event");
    if (rc)
        return rc;
    *dup = sqlite3_changes(s->db) == 0;
    *seq = *dup ? 0 : sqlite3_last_insert_rowid(s->db);
    if (*dup)
        return 0;
    q = stmt(s, S_EV_BODY);
    if (q == NULL)
        return pt_store_fail(s, e, "insert event body");
    sqlite3_bind_int64(q, 1, *seq);
    sqlite3_bind_text(q, 2, ev->json, (int)ev->json_len, SQLITE_STATIC);
    return pt_store_run(s, q, e, "insert event body");
}

int pt_store_event_delete(struct pt_store *s, int64_t seq, struct pt_err *e)
{
    for (int k = 0; k < 2; k++) {
        sqlite3_stmt *q = stmt(s, k ? S_EV_DEL_BODY : S_EV_DEL);
        if (q == NULL)
            return pt_store_fail(s, e, "delete event");
        sqlite3_bind_int64(q, 1, seq);
        int rc = pt_store_run(s, q, e, "delete event");
        if (rc)
            return rc;
    }
    return 0;
}

int pt_store_load_heads(struct pt_store *s, int (*cb)(void *ctx, int64_t customer, int64_t seq),
                        void *ctx, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, S_LOAD_HEADS);
    if (q == NULL)
        return pt_store_fail(s, e, "load events");
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int r = cb(ctx, sqlite3_column_int64(q, 1), sqlite3_column_int64(q, 0));
        if (r) {
            sqlite3_reset(q);
            return r;
        }
    }
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : pt_store_fail(s, e, "load events");
}

int pt_store_order_insert(struct pt_store *s, int64_t shop, int64_t customer,
                          const struct pt_event *ev, int64_t seq, int *dup, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, S_ORD_INS);
    if (q == NULL)
        return pt_store_fail(s, e, "insert order");
    sqlite3_bind_int64(q, 1, shop);
    pt_store_bind_text(q, 2, ev->order_id);
    sqlite3_bind_int64(q, 3, customer);
    sqlite3_bind_int64(q, 4, ev->t);
    sqlite3_bind_int64(q, 5, ev->amount);
    pt_store_bind_text(q, 6, ev->currency[0] ? ev->currency : NULL);
    sqlite3_bind_int64(q, 7, seq);
    sqlite3_bind_int(q, 8, ev->discounted != 0);
    int rc = pt_store_run(s, q, e, "insert order");
    if (rc)
        return rc;
    *dup = sqlite3_changes(s->db) == 0;
    if (*dup)
        return 0;
    for (uint32_t i = 0; i < ev->nlines; i++) {
        const struct pt_evline *l = &ev->lines[i];
        q = stmt(s, S_LINE_INS);
        if (q == NULL)
            return pt_store_fail(s, e, "insert order line");
        sqlite3_bind_int64(q, 1, customer);
        sqlite3_bind_int64(q, 2, shop);
        pt_store_bind_text(q, 3, ev->order_id);
        pt_store_bind_text(q, 4, l->product_id);
        pt_store_bind_text(q, 5, l->sku);
        pt_store_bind_text(q, 6, l->category);
        pt_store_bind_text(q, 7, l->name);
        sqlite3_bind_int64(q, 8, l->price);
        sqlite3_bind_int64(q, 9, l->quantity);
        if ((rc = pt_store_run(s, q, e, "insert order line")))
            return rc;
    }
    return 0;
}

int pt_store_order_refund(struct pt_store *s, int64_t shop, const char *order_id, int64_t amount,
                          int full, int64_t *customer, int64_t *applied, int64_t *t,
                          struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, S_ORD_GET);
    if (q == NULL)
        return pt_store_fail(s, e, "refund");
    sqlite3_bind_int64(q, 1, shop);
    pt_store_bind_text(q, 2, order_id);
    int rc = sqlite3_step(q);
    int64_t total = 0, refunded = 0;
    if (rc == SQLITE_ROW) {
        *customer = sqlite3_column_int64(q, 0);
        total = sqlite3_column_int64(q, 1);
        refunded = sqlite3_column_int64(q, 2);
        *t = sqlite3_column_int64(q, 3);
    }
    sqlite3_reset(q);
    if (rc == SQLITE_DONE)
        return PT_ENOTFOUND;
    if (rc != SQLITE_ROW)
        return pt_store_fail(s, e, "refund");
    int64_t left = total - refunded;
    *applied = full || amount > left ? left : amount;
    q = stmt(s, S_ORD_REFUND);
    if (q == NULL)
        return pt_store_fail(s, e, "refund");
    sqlite3_bind_int64(q, 1, refunded + *applied);
    sqlite3_bind_int64(q, 2, shop);
    pt_store_bind_text(q, 3, order_id);
    return pt_store_run(s, q, e, "refund");
}

/* ---- merges ---- */

int pt_store_merge_insert(struct pt_store *s, int64_t shop, int64_t into, int64_t from, int64_t t,
                          const char *reason, int64_t *merge_id, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, S_MERGE_INS);
    if (q == NULL)
        return pt_store_fail(s, e, "merge");
    sqlite3_bind_int64(q, 1, shop);
    sqlite3_bind_int64(q, 2, into);
    sqlite3_bind_int64(q, 3, from);
    sqlite3_bind_int64(q, 4, t);
    pt_store_bind_text(q, 5, reason);
    int rc = pt_store_run(s, q, e, "merge");
    if (merge_id)
        *merge_id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

int pt_store_merge_undo(struct pt_store *s, int64_t merge_id, int64_t into, int64_t from,
                        int64_t t, int64_t *into_out, int64_t *from_out, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, merge_id > 0 ? S_MERGE_ID : S_MERGE_LAST);
    if (q == NULL)
        return pt_store_fail(s, e, "unmerge");
    if (merge_id > 0) {
        sqlite3_bind_int64(q, 1, merge_id);
        sqlite3_bind_int64(q, 2, into);
    } else {
        sqlite3_bind_int64(q, 1, into);
        sqlite3_bind_int64(q, 2, from);
        sqlite3_bind_int64(q, 3, from);
    }
    int rc = sqlite3_step(q);
    int64_t id = 0;
    if (rc == SQLITE_ROW) {
        id = sqlite3_column_int64(q, 0);
        *into_out = sqlite3_column_int64(q, 1);
        *from_out = sqlite3_column_int64(q, 2);
    }
    sqlite3_reset(q);
    if (rc == SQLITE_DONE)
        return PT_ENOTFOUND;
    if (rc != SQLITE_ROW)
        return pt_store_fail(s, e, "unmerge");
    q = stmt(s, S_MERGE_UNDO);
    if (q == NULL)
        return pt_store_fail(s, e, "unmerge");
    sqlite3_bind_int64(q, 1, t);
    sqlite3_bind_int64(q, 2, id);
    return pt_store_run(s, q, e, "unmerge");
}

/* ---- erasure ---- */

/* ---- loading ---- */

int pt_store_load_customers(struct pt_store *s, int (*cb)(void *ctx, const struct pt_cust_row *c),
                            void *ctx, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, S_LOAD_CUST);
    if (q == NULL)
        return pt_store_fail(s, e, "load customers");
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct pt_cust_row c = {
            .id = sqlite3_column_int64(q, 0),
            .shop = sqlite3_column_int64(q, 1),
            .kind = sqlite3_column_int(q, 2),
            .ext_id = (const char *)sqlite3_column_text(q, 3),
            .merged_into = sqlite3_column_int64(q, 4),
            .consent = (uint8_t)sqlite3_column_int(q, 5),
            .consent_set = (uint8_t)sqlite3_column_int(q, 6),
            .cart_value = sqlite3_column_int64(q, 7),
            .cart_since = sqlite3_column_int64(q, 8),
            .cart_t = sqlite3_column_int64(q, 9),
            .created = sqlite3_column_int64(q, 10),
            .split = sqlite3_column_int(q, 11),
        };
        int r = cb(ctx, &c);
        if (r) {
            sqlite3_reset(q);
            return r;
        }
    }
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : pt_store_fail(s, e, "load customers");
}

int pt_store_load_orders(struct pt_store *s, int (*cb)(void *ctx, const struct pt_order_row *o),
                         void *ctx, struct pt_err *e)
{
    sqlite3_stmt *q = stmt(s, S_LOAD_ORD);
    if (q == NULL)
        return pt_store_fail(s, e, "load orders");
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct pt_order_row o = {sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1),
                                 sqlite3_column_int64(q, 2), sqlite3_column_int64(q, 3)};
        int r = cb(ctx, &o);
        if (r) {
            sqlite3_reset(q);
            return r;
        }
    }
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : pt_store_fail(s, e, "load orders");
}

