/* test_store.c - the SQLite store's write side (store/store.h,
 * store_sqlite.c) in a temporary data directory, through harness_store.h:
 * schema versions, shops and API keys, customers, the dedup rules of events
 * and orders, refunds, the merge log, erasure and transactions. The JSON read
 * side is in test_store_read.c. */
#include "harness_store.h"

TestSuite(store, .init = setup, .fini = teardown);

/* ---- schema ---- */

Test(store, open_creates_the_schema)
{
    int v = -1;
    cr_assert_eq(pt_store_schema_version(W, &v), 0);
    cr_expect_eq(v, PT_STORE_SCHEMA_VERSION);
    cr_expect_eq(
        q1("SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN"
           "('shops','customers','events','event_bodies','orders','order_lines','merges')"),
        7);
    int64_t n = -1;
    cr_expect_eq(pt_store_count(W, "events", &n, &E), 0);
    cr_expect_eq(n, 0);
    cr_expect_eq(pt_store_count(W, "shops; DROP TABLE x", &n, &E), PT_EINVAL);
    struct pt_store *r;
    cr_assert_eq(pt_store_open(DIR_, PT_STORE_READ, &r, &E), 0, "%s", E.msg);
    cr_expect_eq(pt_store_schema_version(r, &v), 0);
    cr_expect_eq(v, PT_STORE_SCHEMA_VERSION);
    pt_store_close(r);
}

Test(store, reopening_does_not_migrate_twice)
{
    char key[96];
    struct pt_shop sh = mkshop("Kept", key);
    pt_store_close(W);
    W = NULL;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(pt_store_open(DIR_, PT_STORE_WRITE, &W, &E), 0, "reopen: %s", E.msg);
        int v = -1;
        pt_store_schema_version(W, &v);
        cr_expect_eq(v, PT_STORE_SCHEMA_VERSION);
        struct pt_shop got;
        cr_expect_eq(pt_store_shop_by_key_id(W, sh.key_id, &got, &E), 0, "the data survives");
        cr_expect_str_eq(got.name, "Kept");
        pt_store_close(W);
        W = NULL;
    }
    cr_assert_eq(pt_store_open(DIR_, PT_STORE_WRITE, &W, &E), 0);
}

Test(store, a_newer_database_is_refused)
{
    pt_store_close(W);
    W = NULL;
    char path[128];
    snprintf(path, sizeof path, "%s/patron.db", DIR_);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d", PT_STORE_SCHEMA_VERSION + 1);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    struct pt_store *s = (struct pt_store *)1;
    memset(&E, 0, sizeof E);
    int rc = pt_store_open(DIR_, PT_STORE_WRITE, &s, &E);
    cr_expect_eq(rc, PT_EIO);
    cr_expect_null(s);
    char want[64];
    snprintf(want, sizeof want, "schema version %d", PT_STORE_SCHEMA_VERSION + 1);
    cr_expect(strstr(E.msg, want) != NULL, "message: %s", E.msg);
    cr_expect(strstr(E.msg, "knows up to") != NULL, "message: %s", E.msg);
    cr_expect_eq(q1("PRAGMA user_version"), PT_STORE_SCHEMA_VERSION + 1, "left as it was");
}

Test(store, an_unusable_directory_is_an_error)
{
    char file[128], sub[160];
    snprintf(file, sizeof file, "%s/plain-file", DIR_);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    snprintf(sub, sizeof sub, "%s/data", file);
    struct pt_store *s;
    memset(&E, 0, sizeof E);
    cr_expect_eq(pt_store_open(sub, PT_STORE_WRITE, &s, &E), PT_EIO);
    cr_expect_null(s);
    cr_expect(strstr(E.msg, "data directory") != NULL, "message: %s", E.msg);
}

/* ---- shops and keys ---- */

static int collect(void *ctx, const struct pt_shop *sh)
{
    struct {
        struct pt_shop sh[8];
        int n, stop_at;
    } *c = ctx;
    c->sh[c->n++] = *sh;
    return c->n == c->stop_at ? 42 : 0;
}

static void expect_key_shape(const char *key)
{
    cr_assert_eq(strlen(key), 85, "key %s", key);
    cr_expect(strncmp(key, "ptk_", 4) == 0);
    cr_expect_eq(key[20], '_');
    for (size_t i = 4; i < 85; i++)
        if (i != 20)
            cr_expect(strchr("0123456789abcdef", key[i]) != NULL, "key char %zu", i);
}

Test(store, shops_create_list_rotate)
{
    char ka[96], kb[96];
    struct pt_shop a = mkshop("Sklep Kowalski", ka), b = mkshop("B", kb);
    cr_expect_neq(a.id, b.id);
    cr_expect_eq(strlen(a.public_id), 21);
    cr_expect(strncmp(a.public_id, "shop_", 5) == 0);
    cr_expect_str_neq(a.public_id, b.public_id);
    cr_expect_str_neq(ka, kb);
    expect_key_shape(ka);
    cr_expect(strncmp(ka + 4, a.key_id, 16) == 0, "the key carries its key id");

    struct {
        struct pt_shop sh[8];
        int n, stop_at;
    } c = {.stop_at = 99};
    cr_assert_eq(pt_store_shop_list(W, collect, &c, &E), 0);
    cr_assert_eq(c.n, 2);
    cr_expect_eq(c.sh[0].id, a.id);
    cr_expect_str_eq(c.sh[0].name, "Sklep Kowalski");
    cr_expect_str_eq(c.sh[1].public_id, b.public_id);
    cr_expect(memcmp(c.sh[0].key_hash, a.key_hash, 32) == 0);
    c.n = 0;
    c.stop_at = 1;
    cr_expect_eq(pt_store_shop_list(W, collect, &c, &E), 42, "a callback's error stops the list");
    cr_expect_eq(c.n, 1);

    /* names */
    struct pt_shop x;
    char kx[96], name[300];
    cr_expect_eq(pt_store_shop_create(W, "", &x, kx, &E), PT_EINVAL);
    cr_expect_eq(pt_store_shop_create(W, NULL, &x, kx, &E), PT_EINVAL);
    memset(name, 'n', sizeof name);
    name[256] = '\0';
    cr_expect_eq(pt_store_shop_create(W, name, &x, kx, &E), PT_EINVAL);
    name[255] = '\0';
    cr_expect_eq(pt_store_shop_create(W, name, &x, kx, &E), 0, "255 bytes: %s", E.msg);
    cr_expect_str_eq(x.name, name);

    /* rotate */
    struct pt_shop r;
    char kr[96];
    cr_expect_eq(pt_store_shop_rotate(W, "shop_0000000000000000", &r, kr, &E), PT_ENOTFOUND);
    cr_assert_eq(pt_store_shop_rotate(W, a.public_id, &r, kr, &E), 0, "%s", E.msg);
    expect_key_shape(kr);
    cr_expect_str_neq(kr, ka);
    cr_expect_eq(r.id, a.id);
    cr_expect_str_eq(r.public_id, a.public_id);
    cr_expect_str_eq(r.name, a.name);
    cr_expect_str_neq(r.key_id, a.key_id);
    struct pt_shop got;
    cr_expect_eq(pt_store_shop_by_key_id(W, a.key_id, &got, &E), PT_ENOTFOUND, "old key id gone");
    cr_assert_eq(pt_store_shop_by_key_id(W, r.key_id, &got, &E), 0);
    cr_expect_eq(got.id, a.id);
    cr_expect(memcmp(got.key_hash, r.key_hash, 32) == 0);
    char kid[24];
    uint8_t h[32];
    cr_assert_eq(pt_api_key_parse(ka, strlen(ka), kid, h), 0);
    cr_expect(memcmp(h, got.key_hash, 32) != 0, "the old key no longer matches");
    cr_assert_eq(pt_api_key_parse(kr, strlen(kr), kid, h), 0);
    cr_expect(memcmp(h, got.key_hash, 32) == 0, "the new key matches");
    cr_expect_str_eq(kid, got.key_id);
    /* the other shop is untouched */
    cr_assert_eq(pt_store_shop_by_key_id(W, b.key_id, &got, &E), 0);
    cr_expect(memcmp(got.key_hash, b.key_hash, 32) == 0);
}

Test(store, api_key_parse)
{
    char key[96];
    struct pt_shop sh = mkshop("S", key);
    char kid[24];
    uint8_t h[32];
    size_t n = strlen(key);
    cr_assert_eq(pt_api_key_parse(key, n, kid, h), 0);
    cr_expect_str_eq(kid, sh.key_id);
    cr_expect(memcmp(h, sh.key_hash, 32) == 0, "hash equals the stored one");

    char bad[128];
    /* wrong prefix */
    memcpy(bad, key, n + 1);
    bad[0] = 'P';
    cr_expect_eq(pt_api_key_parse(bad, n, kid, h), PT_EINVAL);
    memcpy(bad, "sk_x", 4);
    cr_expect_eq(pt_api_key_parse(bad, n, kid, h), PT_EINVAL);
    /* length */
    cr_expect_eq(pt_api_key_parse(key, n - 1, kid, h), PT_EINVAL);
    memcpy(bad, key, n);
    bad[n] = 'a';
    cr_expect_eq(pt_api_key_parse(bad, n + 1, kid, h), PT_EINVAL);
    cr_expect_eq(pt_api_key_parse("", 0, kid, h), PT_EINVAL);
    cr_expect_eq(pt_api_key_parse("ptk_", 4, kid, h), PT_EINVAL);
    /* hex */
    static const size_t at[] = {4, 19, 21, 84};
    static const char ch[] = {'A', 'g', '_', ' ', '\0', 'F'};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        for (size_t k = 0; k < sizeof ch; k++) {
            memcpy(bad, key, n + 1);
            bad[at[i]] = ch[k];
            cr_expect_eq(pt_api_key_parse(bad, n, kid, h), PT_EINVAL, "'%c' at %zu", ch[k], at[i]);
        }
    memcpy(bad, key, n + 1);
    bad[20] = 'a'; /* the separator */
    cr_expect_eq(pt_api_key_parse(bad, n, kid, h), PT_EINVAL);
    /* one changed secret digit: still a key, another hash, the same key id */
    memcpy(bad, key, n + 1);
    bad[50] = bad[50] == '0' ? '1' : '0';
    cr_assert_eq(pt_api_key_parse(bad, n, kid, h), 0);
    cr_expect_str_eq(kid, sh.key_id);
    cr_expect(memcmp(h, sh.key_hash, 32) != 0);
}

/* ---- customers ---- */

static int load_cb(void *ctx, const struct pt_cust_row *c)
{
    struct pt_cust_row *out = ctx;
    out[c->id] = *c;
    out[c->id].ext_id = NULL; /* borrowed: gone after the callback */
    return 0;
}

Test(store, customers_insert_find_update_load)
{
    mkcust(1, 1, PT_CUST_USER, "42");
    mkcust(2, 1, PT_CUST_ANON, "42");
    mkcust(3, 2, PT_CUST_USER, "42");
    mkcust(5, 1, PT_CUST_USER, "bob");
    struct pt_cust_row dup = {.id = 9, .shop = 1, .kind = PT_CUST_USER, .ext_id = "42"};
    cr_expect_eq(pt_store_customer_insert(W, &dup, &E), PT_EIO);
    cr_expect(strstr(E.msg, "UNIQUE") != NULL, "message: %s", E.msg);
    int64_t id = 0;
    cr_expect_eq(pt_store_customer_find(W, 1, PT_CUST_USER, "42", &id, &E), 0);
    cr_expect_eq(id, 1);
    cr_expect_eq(pt_store_customer_find(W, 1, PT_CUST_ANON, "42", &id, &E), 0);
    cr_expect_eq(id, 2);
    cr_expect_eq(pt_store_customer_find(W, 2, PT_CUST_USER, "42", &id, &E), 0);
    cr_expect_eq(id, 3);
    cr_expect_eq(pt_store_customer_find(W, 2, PT_CUST_ANON, "42", &id, &E), PT_ENOTFOUND);

    struct pt_cust_row u = {.id = 2,
                            .merged_into = 1,
                            .consent = 5,
                            .consent_set = 7,
                            .split = 1,
                            .cart_value = 1234,
                            .cart_since = 10,
                            .cart_t = 20};
    cr_assert_eq(pt_store_customer_update(W, &u, &E), 0, "%s", E.msg);
    int64_t max = 0;
    cr_expect_eq(pt_store_max_customer(W, &max, &E), 0);
    cr_expect_eq(max, 5);
    struct pt_cust_row got[8];
    memset(got, 0, sizeof got);
    cr_assert_eq(pt_store_load_customers(W, load_cb, got, &E), 0);
    cr_expect_eq(got[1].merged_into, 0);
    cr_expect_eq(got[2].merged_into, 1);
    cr_expect_eq(got[2].kind, PT_CUST_ANON);
    cr_expect_eq(got[2].consent, 5);
    cr_expect_eq(got[2].consent_set, 7);
    cr_expect_eq(got[2].split, 1);
    cr_expect_eq(got[2].cart_value, 1234);
    cr_expect_eq(got[2].cart_since, 10);
    cr_expect_eq(got[2].cart_t, 20);
    cr_expect_eq(got[3].shop, 2);
    cr_expect_eq(got[5].created, 1);
    u.merged_into = 0; /* unmerge: NULL again */
    cr_assert_eq(pt_store_customer_update(W, &u, &E), 0);
    cr_expect_eq(q1("SELECT merged_into IS NULL FROM customers WHERE id=2"), 1);

    /* pages: users of one shop only, ascending */
    int64_t ids[4];
    int n = -1;
    cr_assert_eq(pt_store_customer_page(W, 1, 0, 4, ids, &n, &E), 0);
    cr_expect_eq(n, 2);
    cr_expect_eq(ids[0], 1);
    cr_expect_eq(ids[1], 5);
    cr_assert_eq(pt_store_customer_page(W, 1, 0, 1, ids, &n, &E), 0);
    cr_expect_eq(n, 1);
    cr_assert_eq(pt_store_customer_page(W, 1, 1, 4, ids, &n, &E), 0);
    cr_expect_eq(n, 1);
    cr_expect_eq(ids[0], 5);
    cr_assert_eq(pt_store_customer_page(W, 1, 5, 4, ids, &n, &E), 0);
    cr_expect_eq(n, 0);
}

/* ---- events and orders ---- */

Test(store, event_dedup_by_shop_and_message_id)
{
    int64_t s1 = insert_ev(1, 1, "m-1", 100, 0);
    cr_expect_eq(insert_ev(1, 1, "m-1", 100, 1), 0, "a retry");
    cr_expect_eq(insert_ev(1, 7, "m-1", 555, 1), 0, "another customer, same shop");
    int64_t s2 = insert_ev(2, 9, "m-1", 100, 0); /* another shop */
    cr_expect_gt(s2, s1);
    insert_ev(1, 1, NULL, 100, 0);
    insert_ev(1, 1, NULL, 100, 0); /* NULL messageIds never collide */
    insert_ev(2, 1, NULL, 100, 0);
    insert_ev(1, 1, "m-2", 100, 0);
    cr_expect_eq(q1("SELECT count(*) FROM events"), 6);
    cr_expect_eq(q1("SELECT count(*) FROM events WHERE message_id='m-1'"), 2);
    cr_expect_eq(q1("SELECT customer FROM events WHERE shop=1 AND message_id='m-1'"), 1,
                 "the first one stays");
    /* delete (an order that turned out to be a duplicate) */
    cr_assert_eq(pt_store_event_delete(W, s1, &E), 0);
    cr_expect_eq(q1("SELECT count(*) FROM events"), 5);
    insert_ev(1, 1, "m-1", 100, 0); /* its messageId is free again */
}

Test(store, order_dedup_and_lines)
{
    insert_order(1, 1, "o-1", 1000, 50, 3, 0);
    insert_order(1, 1, "o-1", 9999, 60, 2, 1); /* a retry under another messageId */
    insert_order(1, 2, "o-1", 1000, 50, 3, 1); /* even for another customer */
    insert_order(2, 1, "o-1", 700, 50, 1, 0);  /* another shop: its own order */
    insert_order(1, 1, "o-2", 0, 70, 0, 0);    /* no lines */
    cr_expect_eq(q1("SELECT count(*) FROM orders"), 3);
    cr_expect_eq(q1("SELECT amount FROM orders WHERE shop=1 AND order_id='o-1'"), 1000);
    cr_expect_eq(q1("SELECT t FROM orders WHERE shop=1 AND order_id='o-1'"), 50);
    cr_expect_eq(q1("SELECT count(*) FROM order_lines WHERE shop=1 AND order_id='o-1'"), 3,
                 "the duplicates added no lines");
    cr_expect_eq(q1("SELECT count(*) FROM order_lines WHERE shop=2"), 1);
    cr_expect_eq(q1("SELECT count(*) FROM order_lines WHERE order_id='o-2'"), 0);
    cr_expect_eq(q1("SELECT sum(quantity) FROM order_lines WHERE shop=1"), 12);
    cr_expect_eq(q1("SELECT count(*) FROM order_lines WHERE sku IS NULL"), 2);
    cr_expect_eq(q1("SELECT count(*) FROM orders WHERE currency='EUR'"), 3);
}

static int64_t refund(int64_t shop, const char *oid, int64_t amount, int full, int64_t *cust)
{
    int64_t applied = -1, t = -1;
    *cust = -1;
    int rc = pt_store_order_refund(W, shop, oid, amount, full, cust, &applied, &t, &E);
    cr_assert_eq(rc, 0, "refund %s: rc %d %s", oid, rc, E.msg);
    cr_expect_eq(t, 50, "the order's time");
    return applied;
}

Test(store, refunds_are_clamped_to_the_order)
{
    insert_order(1, 4, "o-1", 1000, 50, 0, 0);
    insert_order(1, 4, "o-2", 1000, 50, 0, 0);
    insert_order(1, 4, "o-3", 1000, 50, 0, 0);
    int64_t cust;
    cr_expect_eq(refund(1, "o-1", 300, 0, &cust), 300, "partial");
    cr_expect_eq(cust, 4);
    cr_expect_eq(refund(1, "o-1", 0, 1, &cust), 700, "full = what is left");
    cr_expect_eq(refund(1, "o-1", 50, 0, &cust), 0, "nothing left");
    cr_expect_eq(refund(1, "o-1", 0, 1, &cust), 0);
    cr_expect_eq(q1("SELECT refunded FROM orders WHERE order_id='o-1'"), 1000);
    cr_expect_eq(refund(1, "o-2", 2500, 0, &cust), 1000, "over-refund");
    cr_expect_eq(q1("SELECT refunded FROM orders WHERE order_id='o-2'"), 1000);
    cr_expect_eq(refund(1, "o-3", 0, 1, &cust), 1000, "full at once");
    int64_t applied, t;
    cr_expect_eq(pt_store_order_refund(W, 1, "nope", 10, 0, &cust, &applied, &t, &E), PT_ENOTFOUND);
    cr_expect_eq(pt_store_order_refund(W, 2, "o-1", 10, 0, &cust, &applied, &t, &E), PT_ENOTFOUND,
                 "another shop's order");
}

/* ---- merges ---- */

Test(store, merges_insert_and_undo)
{
    int64_t m1, m2, m3, m4;
    cr_assert_eq(pt_store_merge_insert(W, 1, 10, 11, 100, "identify", &m1, &E), 0);
    cr_assert_eq(pt_store_merge_insert(W, 1, 10, 12, 101, "identify", &m2, &E), 0);
    cr_assert_eq(pt_store_merge_insert(W, 1, 10, 13, 102, "alias", &m3, &E), 0);
    cr_assert_eq(pt_store_merge_insert(W, 1, 20, 21, 103, "alias", &m4, &E), 0);
    cr_expect(m1 < m2 && m2 < m3 && m3 < m4);
    int64_t into, from;
    /* latest into 10 */
    cr_assert_eq(pt_store_merge_undo(W, 0, 10, 0, 200, &into, &from, &E), 0);
    cr_expect_eq(into, 10);
    cr_expect_eq(from, 13);
    cr_expect_eq(q1("SELECT undone_t FROM merges WHERE id=%lld", (long long)m3), 200);
    /* by id (the into must match) */
    cr_expect_eq(pt_store_merge_undo(W, m1, 20, 0, 201, &into, &from, &E), PT_ENOTFOUND);
    cr_assert_eq(pt_store_merge_undo(W, m1, 10, 0, 201, &into, &from, &E), 0);
    cr_expect_eq(from, 11);
    cr_expect_eq(pt_store_merge_undo(W, m1, 10, 0, 202, &into, &from, &E), PT_ENOTFOUND,
                 "undone twice");
    /* by from */
    cr_expect_eq(pt_store_merge_undo(W, 0, 10, 11, 203, &into, &from, &E), PT_ENOTFOUND);
    cr_assert_eq(pt_store_merge_undo(W, 0, 10, 12, 203, &into, &from, &E), 0);
    cr_expect_eq(from, 12);
    cr_expect_eq(pt_store_merge_undo(W, 0, 10, 0, 204, &into, &from, &E), PT_ENOTFOUND,
                 "nothing left to undo into 10");
    cr_expect_eq(q1("SELECT count(*) FROM merges"), 4, "the log is never deleted from");
    cr_expect_eq(q1("SELECT count(*) FROM merges WHERE undone_t IS NULL"), 1);
    /* a new merge of the same pair can be undone again */
    cr_assert_eq(pt_store_merge_insert(W, 1, 10, 12, 300, "alias", NULL, &E), 0);
    cr_assert_eq(pt_store_merge_undo(W, 0, 10, 12, 301, &into, &from, &E), 0);
}

/* ---- erasure ---- */

static long long rows_of(long long c)
{
    return q1("SELECT (SELECT count(*) FROM events WHERE customer=%lld)"
              " + (SELECT count(*) FROM orders WHERE customer=%lld)"
              " + (SELECT count(*) FROM order_lines WHERE customer=%lld)"
              " + (SELECT count(*) FROM merges WHERE into_customer=%lld OR from_customer=%lld)"
              " + (SELECT count(*) FROM customers WHERE id=%lld)",
              c, c, c, c, c, c);
}

Test(store, erase_deletes_every_row_of_the_customers_and_nothing_else)
{
    char key[96];
    mkshop("S", key);
    char oid[32], msg[32];
    for (int c = 1; c <= 4; c++) {
        snprintf(msg, sizeof msg, "c%d", c);
        mkcust(c, 1, c % 2 ? PT_CUST_USER : PT_CUST_ANON, msg);
        for (int k = 0; k < 3; k++) {
            snprintf(msg, sizeof msg, "m%d-%d", c, k);
            insert_ev(1, c, msg, 100 + k, 0);
            snprintf(oid, sizeof oid, "o%d-%d", c, k);
            insert_order(1, c, oid, 100, 50, 2, 0);
        }
    }
    cr_assert_eq(pt_store_merge_insert(W, 1, 1, 2, 1, "identify", NULL, &E), 0);
    cr_assert_eq(pt_store_merge_insert(W, 1, 3, 4, 1, "identify", NULL, &E), 0);
    long long before3 = rows_of(3), before4 = rows_of(4);
    cr_expect_eq(before3, 3 + 3 + 6 + 1 + 1);
    int64_t ids[] = {1, 2};
    cr_assert_eq(pt_store_begin(W, &E), 0);
    int64_t heads[] = {HEAD[1], HEAD[2]};
    cr_assert_eq(pt_store_erase(W, ids, heads, 2, &E), 0, "%s", E.msg);
    cr_assert_eq(pt_store_commit(W, &E), 0);
    cr_assert_eq(pt_store_scrub(W, &E), 0, "%s", E.msg);
    cr_expect_eq(rows_of(1), 0);
    cr_expect_eq(rows_of(2), 0);
    cr_expect_eq(rows_of(3), before3);
    cr_expect_eq(rows_of(4), before4);
    cr_expect_eq(q1("SELECT count(*) FROM events"), 6);
    cr_expect_eq(q1("SELECT count(*) FROM event_bodies"), 6);
    cr_expect_eq(q1("SELECT count(*) FROM event_bodies WHERE body LIKE '%%m1-%%'"), 0);
    cr_expect_eq(q1("SELECT count(*) FROM orders"), 6);
    cr_expect_eq(q1("SELECT count(*) FROM order_lines"), 12);
    cr_expect_eq(q1("SELECT count(*) FROM merges"), 1);
    cr_expect_eq(q1("SELECT count(*) FROM customers"), 2);
    cr_expect_eq(q1("SELECT count(*) FROM shops"), 1);
    cr_expect_eq(q1("SELECT count(*) FROM events WHERE message_id LIKE 'm1-%%'"), 0);
    int64_t none = 99, nohead = 0;
    cr_expect_eq(pt_store_erase(W, &none, &nohead, 1, &E), 0, "an unknown id erases nothing");
    cr_expect_eq(q1("SELECT count(*) FROM events"), 6);
}

/* A reader takes a profile's chain heads from memory and walks them in SQL
 * later, without the engine's lock; if the person is erased in between and a
 * seq is then given to someone else's event, the stale head would walk into
 * that other customer's (or shop's) events. So a seq is never reused, also
 * after the events with the highest seqs are erased. */
Test(store, event_seqs_are_never_reused)
{
    mkcust(1, 1, PT_CUST_USER, "erased");
    mkcust(2, 2, PT_CUST_USER, "other-shop");
    insert_ev(1, 1, "a", 1, 0);
    insert_ev(1, 1, "b", 2, 0);
    int64_t last = insert_ev(1, 1, "c", 3, 0);
    int64_t id = 1, head = HEAD[1];
    cr_assert_eq(pt_store_erase(W, &id, &head, 1, &E), 0, "%s", E.msg);
    int64_t seq = 0;
    for (int k = 0; k < 3; k++)
        seq = insert_ev(2, 2, k == 0 ? "d" : k == 1 ? "e" : "f", 4 + k, 0);
    cr_expect_gt(seq - 2, last, "another shop's events reuse erased seqs (up to %lld)",
                 (long long)seq);
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_store_timeline_json(W, &head, 1, 20, &b, &E), 0, "%s", E.msg);
    cr_expect_str_eq(b.data, "[]", "the erased person's stale head shows: %s", b.data);
    pt_buf_release(&b);
}

/* ---- transactions ---- */

Test(store, rollback_leaves_nothing)
{
    char key[96];
    mkshop("S", key);
    struct pt_store *r;
    cr_assert_eq(pt_store_open(DIR_, PT_STORE_READ, &r, &E), 0);
    cr_assert_eq(pt_store_begin(W, &E), 0, "%s", E.msg);
    mkcust(1, 1, PT_CUST_USER, "u");
    insert_ev(1, 1, "m", 1, 0);
    insert_order(1, 1, "o", 10, 50, 2, 0);
    cr_assert_eq(pt_store_merge_insert(W, 1, 1, 2, 1, "identify", NULL, &E), 0);
    cr_assert_eq(pt_store_customer_traits(W, 1, "{\"a\":1}", &E), 0);
    int64_t n = -1;
    cr_expect_eq(pt_store_count(r, "events", &n, &E), 0);
    cr_expect_eq(n, 0, "a reader sees committed data only");
    pt_store_rollback(W);
    cr_expect_eq(q1("SELECT count(*) FROM customers"), 0);
    cr_expect_eq(q1("SELECT count(*) FROM events"), 0);
    cr_expect_eq(q1("SELECT count(*) FROM event_bodies"), 0);
    cr_expect_eq(q1("SELECT count(*) FROM orders"), 0);
    cr_expect_eq(q1("SELECT count(*) FROM order_lines"), 0);
    cr_expect_eq(q1("SELECT count(*) FROM merges"), 0);
    cr_expect_eq(q1("SELECT count(*) FROM shops"), 1, "committed before: kept");
    pt_store_rollback(W); /* outside a transaction: harmless */
    HEAD[1] = 0;          /* the engine reloads its chain heads after a rollback */
    /* the store is usable again, and the same keys are free */
    cr_assert_eq(pt_store_begin(W, &E), 0, "%s", E.msg);
    mkcust(1, 1, PT_CUST_USER, "u");
    insert_ev(1, 1, "m", 1, 0);
    insert_order(1, 1, "o", 10, 50, 2, 0);
    cr_assert_eq(pt_store_commit(W, &E), 0);
    cr_expect_eq(pt_store_count(r, "events", &n, &E), 0);
    cr_expect_eq(n, 1);
    cr_expect_eq(pt_store_count(r, "orders", &n, &E), 0);
    cr_expect_eq(n, 1);
    cr_expect_eq(pt_store_begin(W, &E), 0);
    cr_expect_eq(pt_store_begin(W, &E), PT_EIO, "no nested transactions");
    pt_store_rollback(W);
    pt_store_close(r);
}
