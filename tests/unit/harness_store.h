/*
 * harness_store.h - shared by test_store.c and test_store_read.c: a writer W
 * on a fresh temporary data directory DIR_ (setup() opens it, teardown()
 * closes it and removes the directory), q1() to read one integer through a
 * separate raw SQLite connection (so checks do not trust the code under
 * test), and builders for shops, customers, events and orders. Header-only,
 * static functions: include it in one test file each, and give the suite
 * .init = setup, .fini = teardown.
 */
#ifndef PT_TESTS_HARNESS_STORE_H
#define PT_TESTS_HARNESS_STORE_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"

#define HARNESS_FN static __attribute__((unused))

static char DIR_[64];
static struct pt_store *W; /* the writer of DIR_ */
static struct pt_err E;
/* Each test customer's event chain head, as the engine keeps it (customer ids < 64). */
static int64_t HEAD[64];

HARNESS_FN void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *x;
    char p[512];
    while ((x = readdir(d)) != NULL) {
        if (strcmp(x->d_name, ".") && strcmp(x->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, x->d_name);
            unlink(p);
        }
    }
    closedir(d);
    rmdir(dir);
}

HARNESS_FN void setup(void)
{
    memset(HEAD, 0, sizeof HEAD);
    snprintf(DIR_, sizeof DIR_, "/tmp/pt-store-XXXXXX");
    cr_assert_not_null(mkdtemp(DIR_));
    int rc = pt_store_open(DIR_, PT_STORE_WRITE, &W, &E);
    cr_assert_eq(rc, 0, "open %s: %s", DIR_, E.msg);
}

HARNESS_FN void teardown(void)
{
    pt_store_close(W);
    W = NULL;
    rm_dir(DIR_);
}

/* One integer from SQL on a separate raw connection. */
HARNESS_FN long long q1(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
HARNESS_FN long long q1(const char *fmt, ...)
{
    char sql[512], path[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    snprintf(path, sizeof path, "%s/patron.db", DIR_);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW, "%s", sql);
    long long v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

HARNESS_FN struct pt_shop mkshop(const char *name, char key[96])
{
    struct pt_shop sh;
    int rc = pt_store_shop_create(W, name, &sh, key, &E);
    cr_assert_eq(rc, 0, "shop %s: %s", name, E.msg);
    return sh;
}

HARNESS_FN void mkcust(int64_t id, int64_t shop, int kind, const char *ext)
{
    struct pt_cust_row c = {.id = id, .shop = shop, .kind = kind, .ext_id = ext, .created = 1};
    int rc = pt_store_customer_insert(W, &c, &E);
    cr_assert_eq(rc, 0, "customer %lld: %s", (long long)id, E.msg);
}

/* A track event; `json` must be valid JSON (it is stored and read back). */
HARNESS_FN struct pt_event mkev(const char *msg, const char *name, int64_t t, const char *json)
{
    struct pt_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PT_EV_TRACK;
    ev.kind = PT_K_CUSTOM;
    ev.message_id = msg;
    ev.user_id = "u";
    ev.name = name;
    ev.t = t;
    ev.json = json;
    ev.json_len = strlen(json);
    return ev;
}

/* Insert an event of customer cust (< 64) on its chain; returns its seq. */
HARNESS_FN int64_t insert_ev(int64_t shop, int64_t cust, const char *msg, int64_t t, int want_dup)
{
    cr_assert(cust > 0 && cust < 64);
    char json[128];
    snprintf(json, sizeof json, "{\"messageId\":\"%s\",\"n\":%lld}", msg ? msg : "", (long long)t);
    struct pt_event ev = mkev(msg, "Thing Happened", t, json);
    int64_t seq = -1;
    int dup = -1;
    int rc = pt_store_event_insert(W, shop, cust, HEAD[cust], &ev, 1000, &seq, &dup, &E);
    cr_assert_eq(rc, 0, "%s", E.msg);
    cr_expect_eq(dup, want_dup, "event %s in shop %lld: dup %d", msg ? msg : "(null)",
                 (long long)shop, dup);
    if (dup) {
        cr_expect_eq(seq, 0);
    } else {
        cr_expect_gt(seq, 0);
        HEAD[cust] = seq;
    }
    return seq;
}

static struct pt_evline LINES[] __attribute__((unused)) = {
    {.product_id = "p1",
     .sku = "S1",
     .category = "shoes",
     .name = "Boot",
     .price = 300,
     .quantity = 2},
    {.product_id = "p2", .category = "hats", .price = 400, .quantity = 1},
    {.product_id = "p3", .category = NULL, .price = 5, .quantity = 9},
};

HARNESS_FN void insert_order(int64_t shop, int64_t cust, const char *oid, int64_t amount, int64_t t,
                             int nlines, int want_dup)
{
    struct pt_event ev = mkev(NULL, "Order Completed", t, "{}");
    ev.kind = PT_K_ORDER_COMPLETED;
    ev.order_id = oid;
    ev.amount = amount;
    ev.has_amount = 1;
    memcpy(ev.currency, "EUR", 4);
    ev.lines = LINES;
    ev.nlines = (uint32_t)nlines;
    int dup = -1;
    int rc = pt_store_order_insert(W, shop, cust, &ev, 0, &dup, &E);
    cr_assert_eq(rc, 0, "%s", E.msg);
    cr_expect_eq(dup, want_dup, "order %s of shop %lld", oid, (long long)shop);
}

HARNESS_FN json_t *parse(const struct pt_buf *b)
{
    json_error_t je;
    json_t *j = json_loadb(b->data ? b->data : "", b->len, 0, &je);
    cr_assert_not_null(j, "invalid JSON (%s) in: %.*s", je.text, (int)b->len, b->data);
    return j;
}

#endif
