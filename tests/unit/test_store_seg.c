/* test_store_seg.c - the SQLite store's segments (store.h "segments" and
 * "activity for segments", store_seg.c) through harness_store.h: segment rows
 * and their membership snapshots, Segment Entered / Exited events and their
 * replay, daily counts, the activity loaded at start (product events, orders
 * followed by their lines), and the upgrade of a version 1 database. */
#include "harness_store.h"

TestSuite(store_seg, .init = setup, .fini = teardown);

/* ---- segment rows ---- */

struct seg_copy {
    int64_t id, shop, created, updated, members_seq;
    char name[64], rule[128], builtin[64];
    int has_builtin;
    unsigned char members[64];
    size_t members_len;
};
struct segs {
    struct seg_copy r[8];
    int n, stop_at;
};

static int collect_seg(void *ctx, const struct pt_seg_row *r)
{
    struct segs *c = ctx;
    cr_assert_lt(c->n, 8);
    struct seg_copy *x = &c->r[c->n++];
    x->id = r->id;
    x->shop = r->shop;
    x->created = r->created;
    x->updated = r->updated;
    x->members_seq = r->members_seq;
    snprintf(x->name, sizeof x->name, "%s", r->name);
    snprintf(x->rule, sizeof x->rule, "%s", r->rule);
    x->has_builtin = r->builtin != NULL;
    snprintf(x->builtin, sizeof x->builtin, "%s", r->builtin ? r->builtin : "");
    cr_assert_leq(r->members_len, sizeof x->members);
    cr_assert(r->members_len == 0 || r->members != NULL);
    if (r->members_len)
        memcpy(x->members, r->members, r->members_len);
    x->members_len = r->members_len;
    return c->n == c->stop_at ? 42 : 0;
}

static int64_t mkseg(int64_t shop, const char *name, const char *rule, const char *builtin,
                     int64_t t)
{
    struct pt_seg_row r = {.id = 999,
                           .shop = shop,
                           .name = name,
                           .rule = rule,
                           .builtin = builtin,
                           .created = t,
                           .updated = t};
    int64_t id = -1;
    int rc = pt_store_seg_insert(W, &r, &id, &E);
    cr_assert_eq(rc, 0, "segment %s: %s", name, E.msg);
    cr_assert_gt(id, 0);
    return id;
}

Test(store_seg, insert_update_delete_load)
{
    struct segs c = {.stop_at = 99};
    cr_assert_eq(pt_store_seg_load(W, collect_seg, &c, &E), 0, "%s", E.msg);
    cr_expect_eq(c.n, 0, "no segments in a new database");

    int64_t a = mkseg(1, "Regulars", "orders >= 3", NULL, 100);
    int64_t b = mkseg(1, "Champions", "rfm.segment = \"Champions\"", "rfm:Champions", 101);
    int64_t d = mkseg(2, "Champions", "rfm.segment = \"Champions\"", "rfm:Champions", 102);
    cr_expect(a != 999 && a < b && b < d, "row->id is ignored; ids ascend");

    cr_assert_eq(pt_store_seg_load(W, collect_seg, &c, &E), 0, "%s", E.msg);
    cr_assert_eq(c.n, 3);
    cr_expect_eq(c.r[0].id, a);
    cr_expect_eq(c.r[0].shop, 1);
    cr_expect_str_eq(c.r[0].name, "Regulars");
    cr_expect_str_eq(c.r[0].rule, "orders >= 3");
    cr_expect_eq(c.r[0].has_builtin, 0);
    cr_expect_eq(c.r[0].created, 100);
    cr_expect_eq(c.r[0].updated, 100);
    cr_expect_eq(c.r[0].members_len, 0, "no snapshot yet");
    cr_expect_eq(c.r[0].members_seq, 0);
    cr_expect_eq(c.r[1].id, b);
    cr_expect_str_eq(c.r[1].builtin, "rfm:Champions");
    cr_expect_eq(c.r[2].id, d);
    cr_expect_eq(c.r[2].shop, 2);

    /* a callback's non-zero return stops the load and is returned */
    c.n = 0;
    c.stop_at = 2;
    cr_expect_eq(pt_store_seg_load(W, collect_seg, &c, &E), 42);
    cr_expect_eq(c.n, 2);

    /* update: name, rule and updated; created and builtin stay */
    struct pt_seg_row u = {.id = a,
                           .shop = 7,
                           .name = "Loyal",
                           .rule = "orders >= 5",
                           .builtin = "x",
                           .created = 1,
                           .updated = 200};
    cr_assert_eq(pt_store_seg_update(W, &u, &E), 0, "%s", E.msg);
    u.id = 12345;
    memset(&E, 0, sizeof E);
    cr_expect_eq(pt_store_seg_update(W, &u, &E), PT_ENOTFOUND);
    cr_expect(strstr(E.msg, "12345") != NULL, "message: %s", E.msg);
    c.n = 0;
    c.stop_at = 99;
    cr_assert_eq(pt_store_seg_load(W, collect_seg, &c, &E), 0, "%s", E.msg);
    cr_expect_str_eq(c.r[0].name, "Loyal");
    cr_expect_str_eq(c.r[0].rule, "orders >= 5");
    cr_expect_eq(c.r[0].updated, 200);
    cr_expect_eq(c.r[0].created, 100);
    cr_expect_eq(c.r[0].shop, 1);
    cr_expect_eq(c.r[0].has_builtin, 0);

    /* delete: the row and its daily counts; the other segments' counts stay */
    cr_assert_eq(pt_store_seg_daily_put(W, a, 19000, 5, &E), 0, "%s", E.msg);
    cr_assert_eq(pt_store_seg_daily_put(W, b, 19000, 6, &E), 0, "%s", E.msg);
    cr_assert_eq(pt_store_seg_delete(W, a, &E), 0, "%s", E.msg);
    cr_expect_eq(pt_store_seg_delete(W, a, &E), PT_ENOTFOUND, "deleted once");
    cr_expect_eq(q1("SELECT count(*) FROM segment_daily WHERE segment=%lld", (long long)a), 0);
    cr_expect_eq(q1("SELECT count(*) FROM segment_daily WHERE segment=%lld", (long long)b), 1);
    c.n = 0;
    cr_assert_eq(pt_store_seg_load(W, collect_seg, &c, &E), 0, "%s", E.msg);
    cr_assert_eq(c.n, 2);
    cr_expect_eq(c.r[0].id, b);
}

Test(store_seg, a_builtin_key_is_unique_per_shop)
{
    mkseg(1, "Champions", "true", "rfm:Champions", 1);
    mkseg(2, "Champions", "true", "rfm:Champions", 1);
    mkseg(1, "Mine", "true", NULL, 1);
    mkseg(1, "Mine too", "true", NULL, 1);
    struct pt_seg_row r = {.shop = 1, .name = "Again", .rule = "true", .builtin = "rfm:Champions"};
    int64_t id = -1;
    memset(&E, 0, sizeof E);
    cr_expect_eq(pt_store_seg_insert(W, &r, &id, &E), PT_EIO);
    cr_expect(strstr(E.msg, "UNIQUE") != NULL, "message: %s", E.msg);
    cr_expect_eq(q1("SELECT count(*) FROM segments"), 4);
}

Test(store_seg, snapshot_round_trip)
{
    int64_t a = mkseg(1, "A", "true", NULL, 1), b = mkseg(1, "B", "true", NULL, 1);
    const unsigned char blob[] = {0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0xff, 0x00, 0x7f};
    cr_assert_eq(pt_store_seg_snapshot(W, a, blob, sizeof blob, 77, &E), 0, "%s", E.msg);
    struct segs c = {.stop_at = 99};
    cr_assert_eq(pt_store_seg_load(W, collect_seg, &c, &E), 0, "%s", E.msg);
    cr_assert_eq(c.n, 2);
    cr_assert_eq(c.r[0].members_len, sizeof blob, "bytes with NULs survive");
    cr_expect(memcmp(c.r[0].members, blob, sizeof blob) == 0);
    cr_expect_eq(c.r[0].members_seq, 77);
    cr_expect_eq(c.r[1].members_len, 0);

    /* replaced, not appended */
    cr_assert_eq(pt_store_seg_snapshot(W, a, blob + 8, 3, 90, &E), 0, "%s", E.msg);
    cr_assert_eq(pt_store_seg_snapshot(W, b, "", 0, 91, &E), 0, "%s", E.msg);
    c.n = 0;
    cr_assert_eq(pt_store_seg_load(W, collect_seg, &c, &E), 0, "%s", E.msg);
    cr_assert_eq(c.r[0].members_len, 3);
    cr_expect(memcmp(c.r[0].members, blob + 8, 3) == 0);
    cr_expect_eq(c.r[0].members_seq, 90);
    cr_expect_eq(c.r[1].members_len, 0, "an empty snapshot is none");
    cr_expect_eq(c.r[1].members_seq, 91);
    cr_expect_eq(pt_store_seg_snapshot(W, 4242, blob, 1, 1, &E), PT_ENOTFOUND);
}

/* ---- Segment Entered / Exited and replay ---- */

struct replay {
    int64_t cust[16];
    int entered[16];
    int n, stop_at;
};

static int collect_replay(void *ctx, int64_t customer, int entered)
{
    struct replay *r = ctx;
    cr_assert_lt(r->n, 16);
    r->cust[r->n] = customer;
    r->entered[r->n++] = entered;
    return r->n == r->stop_at ? 7 : 0;
}

/* A segment event of customer cust (< 64) on its chain; returns its seq. */
static int64_t seg_ev(int64_t cust, int64_t seg, int entered, int64_t t)
{
    char json[128];
    snprintf(json, sizeof json, "{\"event\":\"%s\",\"segment\":%lld}",
             entered ? "Segment Entered" : "Segment Exited", (long long)seg);
    int64_t seq = -1;
    int rc =
        pt_store_seg_event(W, 1, cust, HEAD[cust], seg, entered, t, json, strlen(json), &seq, &E);
    cr_assert_eq(rc, 0, "%s", E.msg);
    cr_assert_gt(seq, HEAD[cust]);
    HEAD[cust] = seq;
    return seq;
}

Test(store_seg, events_replay_by_segment_and_seq)
{
    int64_t seq = -1;
    cr_assert_eq(pt_store_max_seq(W, &seq, &E), 0, "%s", E.msg);
    cr_expect_eq(seq, 0, "no events");

    int64_t first = insert_ev(1, 1, "m1", 50, 0);
    int64_t s1 = seg_ev(1, 10, 1, 100);
    int64_t s2 = seg_ev(2, 10, 1, 101);
    seg_ev(1, 11, 1, 102);
    int64_t s4 = seg_ev(1, 10, 0, 103);
    insert_ev(1, 2, "m2", 104, 0);
    int64_t s6 = seg_ev(3, 10, 1, 105);

    /* the row as specified: on the chain, track, custom kind, no message id */
    cr_expect_eq(q1("SELECT prev FROM events WHERE seq=%lld", (long long)s1), first);
    cr_expect_eq(q1("SELECT prev IS NULL FROM events WHERE seq=%lld", (long long)s2), 1);
    cr_expect_eq(q1("SELECT type*100+kind FROM events WHERE seq=%lld", (long long)s1), 100);
    cr_expect_eq(q1("SELECT message_id IS NULL AND received=100 AND t=100 AND segment=10"
                    " AND name='Segment Entered' FROM events WHERE seq=%lld",
                    (long long)s1),
                 1);
    cr_expect_eq(q1("SELECT name='Segment Exited' FROM events WHERE seq=%lld", (long long)s4), 1);
    cr_expect_eq(
        q1("SELECT json_extract(body,'$.segment') FROM event_bodies WHERE seq=%lld", (long long)s4),
        10);
    cr_expect_eq(q1("SELECT count(*) FROM events WHERE segment IS NOT NULL"), 5);

    struct replay r = {.stop_at = 99};
    cr_assert_eq(pt_store_seg_replay(W, 10, 0, collect_replay, &r, &E), 0, "%s", E.msg);
    cr_assert_eq(r.n, 4, "segment 10 only");
    int64_t want_c[] = {1, 2, 1, 3};
    int want_e[] = {1, 1, 0, 1};
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(r.cust[i], want_c[i], "event %d", i);
        cr_expect_eq(r.entered[i], want_e[i], "event %d", i);
    }
    r.n = 0;
    cr_assert_eq(pt_store_seg_replay(W, 10, s2, collect_replay, &r, &E), 0, "%s", E.msg);
    cr_assert_eq(r.n, 2, "only seq > after");
    cr_expect_eq(r.cust[0], 1);
    cr_expect_eq(r.entered[0], 0);
    cr_expect_eq(r.cust[1], 3);
    r.n = 0;
    cr_assert_eq(pt_store_seg_replay(W, 10, s6, collect_replay, &r, &E), 0, "%s", E.msg);
    cr_expect_eq(r.n, 0);
    cr_assert_eq(pt_store_seg_replay(W, 12, 0, collect_replay, &r, &E), 0, "%s", E.msg);
    cr_expect_eq(r.n, 0, "no events of segment 12");
    r.stop_at = 2;
    cr_expect_eq(pt_store_seg_replay(W, 10, 0, collect_replay, &r, &E), 7, "the callback stops");
    cr_expect_eq(r.n, 2);

    cr_assert_eq(pt_store_max_seq(W, &seq, &E), 0, "%s", E.msg);
    cr_expect_eq(seq, s6);

    /* they are on the timeline like any event */
    int64_t head = HEAD[1];
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_store_timeline_json(W, &head, 1, 10, &b, &E), 0, "%s", E.msg);
    json_t *j = parse(&b);
    cr_assert_eq(json_array_size(j), 4);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "event")),
                     "Segment Exited");
    json_decref(j);
    pt_buf_release(&b);
}

/* ---- daily counts ---- */

struct days {
    int64_t day[8], count[8];
    int n;
};

static int collect_day(void *ctx, int64_t day, int64_t count)
{
    struct days *d = ctx;
    cr_assert_lt(d->n, 8);
    d->day[d->n] = day;
    d->count[d->n++] = count;
    return 0;
}

Test(store_seg, daily_counts_upsert_and_range)
{
    cr_assert_eq(pt_store_seg_daily_put(W, 1, 19003, 30, &E), 0, "%s", E.msg);
    cr_assert_eq(pt_store_seg_daily_put(W, 1, 19001, 10, &E), 0, "%s", E.msg);
    cr_assert_eq(pt_store_seg_daily_put(W, 1, 19002, 20, &E), 0, "%s", E.msg);
    cr_assert_eq(pt_store_seg_daily_put(W, 1, 19005, 50, &E), 0, "%s", E.msg);
    cr_assert_eq(pt_store_seg_daily_put(W, 2, 19002, 99, &E), 0, "%s", E.msg);
    cr_assert_eq(pt_store_seg_daily_put(W, 1, 19002, 21, &E), 0, "set again: %s", E.msg);
    cr_expect_eq(q1("SELECT count(*) FROM segment_daily"), 5, "the second put replaced");

    struct days d = {0};
    cr_assert_eq(pt_store_seg_daily(W, 1, 19002, 19005, collect_day, &d, &E), 0, "%s", E.msg);
    cr_assert_eq(d.n, 3, "[from, to] inclusive, only segment 1");
    int64_t want_d[] = {19002, 19003, 19005}, want_n[] = {21, 30, 50};
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(d.day[i], want_d[i]);
        cr_expect_eq(d.count[i], want_n[i]);
    }

    /* a reader sees the committed counts */
    struct pt_store *rd;
    cr_assert_eq(pt_store_open(DIR_, PT_STORE_READ, &rd, &E), 0, "%s", E.msg);
    d.n = 0;
    cr_assert_eq(pt_store_seg_daily(rd, 1, 0, 19001, collect_day, &d, &E), 0, "%s", E.msg);
    cr_assert_eq(d.n, 1);
    cr_expect_eq(d.count[0], 10);
    d.n = 0;
    cr_assert_eq(pt_store_seg_daily(rd, 3, 0, 99999, collect_day, &d, &E), 0, "%s", E.msg);
    cr_expect_eq(d.n, 0);
    pt_store_close(rd);
}

/* ---- activity ---- */

struct act {
    int64_t customer, t, qty;
    int kind, discounted, line;
    char name[32], product[16], category[16]; /* "-" for NULL */
};
struct acts {
    struct act a[32];
    int n;
};

static int collect_act(void *ctx, const struct pt_act_row *a)
{
    struct acts *c = ctx;
    cr_assert_lt(c->n, 32);
    struct act *x = &c->a[c->n++];
    x->customer = a->customer;
    x->t = a->t;
    x->qty = a->qty;
    x->kind = a->kind;
    x->discounted = a->discounted;
    x->line = a->line;
    snprintf(x->name, sizeof x->name, "%s", a->name ? a->name : "-");
    snprintf(x->product, sizeof x->product, "%s", a->product ? a->product : "-");
    snprintf(x->category, sizeof x->category, "%s", a->category ? a->category : "-");
    return 0;
}

static void track(int64_t cust, const char *msg, int kind, const char *name, int64_t t,
                  struct pt_evline *l, int type)
{
    struct pt_event ev = mkev(msg, name, t, "{}");
    ev.kind = (enum pt_ev_kind)kind;
    ev.type = (enum pt_ev_type)type;
    ev.lines = l;
    ev.nlines = l ? 1 : 0;
    int64_t seq;
    int dup;
    int rc = pt_store_event_insert(W, 1, cust, HEAD[cust], &ev, t, &seq, &dup, &E);
    cr_assert_eq(rc, 0, "%s", E.msg);
    cr_assert_eq(dup, 0);
    HEAD[cust] = seq;
}

static void order(int64_t cust, const char *oid, int64_t t, struct pt_evline *l, int n, int disc)
{
    struct pt_event ev = mkev(NULL, "Order Completed", t, "{}");
    ev.kind = PT_K_ORDER_COMPLETED;
    ev.order_id = oid;
    ev.amount = 100;
    ev.has_amount = 1;
    ev.discounted = disc;
    ev.lines = l;
    ev.nlines = (uint32_t)n;
    int dup;
    cr_assert_eq(pt_store_order_insert(W, 1, cust, &ev, 0, &dup, &E), 0, "%s", E.msg);
    cr_assert_eq(dup, 0);
}

static void expect_act(const struct act *a, int64_t cust, int kind, const char *name, int64_t t,
                       const char *product, const char *category, int64_t qty, int disc, int line,
                       int i)
{
    cr_expect_eq(a->customer, cust, "act %d: customer %lld", i, (long long)a->customer);
    cr_expect_eq(a->kind, kind, "act %d: kind %d", i, a->kind);
    cr_expect_str_eq(a->name, name, "act %d", i);
    cr_expect_eq(a->t, t, "act %d: t %lld", i, (long long)a->t);
    cr_expect_str_eq(a->product, product, "act %d", i);
    cr_expect_str_eq(a->category, category, "act %d", i);
    cr_expect_eq(a->qty, qty, "act %d: qty %lld", i, (long long)a->qty);
    cr_expect_eq(a->discounted, disc, "act %d", i);
    cr_expect_eq(a->line, line, "act %d", i);
}

Test(store_seg, load_acts_events_then_orders_with_lines)
{
    struct pt_evline view = {.product_id = "p1", .sku = "S1", .category = "shoes", .quantity = 1};
    struct pt_evline add = {.sku = "S2", .category = "hats", .quantity = 3};
    struct pt_evline wish = {.product_id = "p9", .quantity = 1};
    track(2, "e1", PT_K_PRODUCT_VIEWED, "Product Viewed", 500, &view, PT_EV_TRACK);
    track(1, "e2", PT_K_PRODUCT_ADDED, "Product Added", 400, &add, PT_EV_TRACK);
    track(1, "e3", PT_K_CUSTOM, "Newsletter Read", 450, &view, PT_EV_TRACK);
    track(1, "e4", PT_K_ORDER_COMPLETED, "Order Completed", 460, &view, PT_EV_TRACK);
    track(1, "e5", PT_K_ORDER_REFUNDED, "Order Refunded", 470, NULL, PT_EV_TRACK);
    track(1, "e6", PT_K_CUSTOM, NULL, 480, NULL, PT_EV_IDENTIFY);
    seg_ev(1, 10, 1, 490);
    track(3, "e7", PT_K_WISHLIST_ADDED, "Product Added to Wishlist", 300, &wish, PT_EV_TRACK);
    track(3, "e8", PT_K_CART_VIEWED, "Cart Viewed", 310, &view, PT_EV_TRACK);
    cr_expect_eq(q1("SELECT count(*) FROM events WHERE product IS NOT NULL"), 3,
                 "products only for product events");

    /* orders: customer 2 first by customer, customer 1's by time */
    order(2, "o-c", 50, LINES, 1, 0);
    order(1, "o-b", 200, NULL, 0, 1);
    order(1, "o-a", 100, LINES, 3, 1);
    cr_expect_eq(q1("SELECT sum(discounted) FROM orders"), 2);

    struct acts c = {0};
    cr_assert_eq(pt_store_load_acts(W, collect_act, &c, &E), 0, "%s", E.msg);
    cr_assert_eq(c.n, 6 + 1 + 3 + 1 + 2, "got %d", c.n);
    const struct act *a = c.a;
    int i = 0;
    /* events in seq order: no orders, identifies or segment events (refunds count) */
    expect_act(&a[i], 2, PT_K_PRODUCT_VIEWED, "Product Viewed", 500, "p1", "shoes", 1, 0, 0, i);
    i++;
    expect_act(&a[i], 1, PT_K_PRODUCT_ADDED, "Product Added", 400, "S2", "hats", 3, 0, 0, i);
    i++;
    expect_act(&a[i], 1, PT_K_CUSTOM, "Newsletter Read", 450, "-", "-", 1, 0, 0, i);
    i++;
    expect_act(&a[i], 1, PT_K_ORDER_REFUNDED, "Order Refunded", 470, "-", "-", 1, 0, 0, i);
    i++;
    expect_act(&a[i], 3, PT_K_WISHLIST_ADDED, "Product Added to Wishlist", 300, "p9", "-", 1, 0, 0,
               i);
    i++;
    expect_act(&a[i], 3, PT_K_CART_VIEWED, "Cart Viewed", 310, "-", "-", 1, 0, 0, i);
    i++;
    /* customer 1: o-a (t 100) with its three lines, then o-b (t 200) without */
    expect_act(&a[i], 1, PT_K_ORDER_COMPLETED, "-", 100, "-", "-", 1, 1, 0, i);
    i++;
    expect_act(&a[i], 1, PT_K_ORDER_COMPLETED, "-", 100, "p1", "shoes", 2, 0, 1, i);
    i++;
    expect_act(&a[i], 1, PT_K_ORDER_COMPLETED, "-", 100, "p2", "hats", 1, 0, 1, i);
    i++;
    expect_act(&a[i], 1, PT_K_ORDER_COMPLETED, "-", 100, "p3", "-", 9, 0, 1, i);
    i++;
    expect_act(&a[i], 1, PT_K_ORDER_COMPLETED, "-", 200, "-", "-", 1, 1, 0, i);
    i++;
    /* customer 2 */
    expect_act(&a[i], 2, PT_K_ORDER_COMPLETED, "-", 50, "-", "-", 1, 0, 0, i);
    i++;
    expect_act(&a[i], 2, PT_K_ORDER_COMPLETED, "-", 50, "p1", "shoes", 2, 0, 1, i);
}

Test(store_seg, load_acts_lines_stay_with_their_order)
{
    /* two orders of one customer at the same time; a line's sku stands in
     * for a missing product id */
    struct pt_evline l1[] = {{.sku = "K1", .quantity = 1}, {.product_id = "q2", .quantity = 4}};
    struct pt_evline l2[] = {{.product_id = "r1", .category = "c", .quantity = 1}};
    order(5, "x-2", 700, l2, 1, 0);
    order(5, "x-1", 700, l1, 2, 1);
    order(4, "y", 800, NULL, 0, 0);
    struct acts c = {0};
    cr_assert_eq(pt_store_load_acts(W, collect_act, &c, &E), 0, "%s", E.msg);
    cr_assert_eq(c.n, 1 + 3 + 2);
    const struct act *a = c.a;
    expect_act(&a[0], 4, PT_K_ORDER_COMPLETED, "-", 800, "-", "-", 1, 0, 0, 0);
    expect_act(&a[1], 5, PT_K_ORDER_COMPLETED, "-", 700, "-", "-", 1, 1, 0, 1);
    expect_act(&a[2], 5, PT_K_ORDER_COMPLETED, "-", 700, "K1", "-", 1, 0, 1, 2);
    expect_act(&a[3], 5, PT_K_ORDER_COMPLETED, "-", 700, "q2", "-", 4, 0, 1, 3);
    expect_act(&a[4], 5, PT_K_ORDER_COMPLETED, "-", 700, "-", "-", 1, 0, 0, 4);
    expect_act(&a[5], 5, PT_K_ORDER_COMPLETED, "-", 700, "r1", "c", 1, 0, 1, 5);
}

/* ---- schema upgrade ---- */

static void raw_exec(const char *sql)
{
    char path[128];
    snprintf(path, sizeof path, "%s/patron.db", DIR_);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK, "%s", msg ? msg : "");
    sqlite3_close(db);
}

Test(store_seg, a_version_1_database_is_upgraded)
{
    char key[96];
    mkshop("Old", key);
    mkcust(1, 1, PT_CUST_USER, "u1");
    insert_ev(1, 1, "old-1", 10, 0);
    insert_order(1, 1, "o-1", 500, 20, 2, 0);
    pt_store_close(W);
    W = NULL;
    /* back to version 1: what migrations 2, 3 and 4 added, removed */
    raw_exec("DROP TABLE msg_templates; DROP TABLE msg_settings; DROP TABLE automations;"
             "DROP TABLE automation_versions; DROP TABLE auto_runs; DROP TABLE outbox;"
             "DROP TABLE suppressions; DROP TABLE customer_tags; DROP TABLE secrets;");
    raw_exec("DROP TABLE loy_entries; DROP TABLE loy_programs; DROP TABLE loy_members;"
             "DROP TABLE loy_tier_log; DROP TABLE loy_referrals; DROP TABLE loy_rewards;"
             "DROP TABLE loy_redemptions; DROP TABLE vouchers; DROP TABLE voucher_uses;"
             "DROP TABLE voucher_pools; DROP TABLE api_idem;");
    raw_exec("DROP INDEX events_segment; DROP TABLE segments; DROP TABLE segment_daily;"
             "ALTER TABLE events DROP COLUMN segment; ALTER TABLE events DROP COLUMN product;"
             "ALTER TABLE events DROP COLUMN category; ALTER TABLE events DROP COLUMN qty;"
             "ALTER TABLE orders DROP COLUMN discounted; PRAGMA user_version=1;");
    cr_assert_eq(q1("SELECT count(*) FROM pragma_table_info('orders') WHERE name='discounted'"), 0);

    cr_assert_eq(pt_store_open(DIR_, PT_STORE_WRITE, &W, &E), 0, "upgrade: %s", E.msg);
    int v = -1;
    cr_assert_eq(pt_store_schema_version(W, &v), 0);
    cr_expect_eq(v, PT_STORE_SCHEMA_VERSION, "migrations 2, 3 and 4 ran");
    cr_expect_eq(PT_STORE_SCHEMA_VERSION, 4);
    cr_expect_eq(q1("SELECT count(*) FROM sqlite_master WHERE name IN ('loy_entries',"
                    "'vouchers','api_idem')"),
                 3);
    cr_expect_eq(q1("SELECT count(*) FROM sqlite_master WHERE name IN ('outbox',"
                    "'auto_runs','automations','msg_templates','suppressions')"),
                 5);
    cr_expect_eq(q1("SELECT count(*) FROM sqlite_master WHERE name IN ('segments',"
                    "'segment_daily','events_segment','segments_builtin')"),
                 4);
    cr_expect_eq(q1("SELECT discounted FROM orders WHERE order_id='o-1'"), 0, "old orders: 0");
    cr_expect_eq(q1("SELECT segment IS NULL AND product IS NULL AND qty IS NULL FROM events"), 1);

    /* the old rows load as activity and the new tables work */
    struct acts c = {0};
    cr_assert_eq(pt_store_load_acts(W, collect_act, &c, &E), 0, "%s", E.msg);
    cr_assert_eq(c.n, 1 + 1 + 2);
    expect_act(&c.a[0], 1, PT_K_CUSTOM, "Thing Happened", 10, "-", "-", 1, 0, 0, 0);
    expect_act(&c.a[1], 1, PT_K_ORDER_COMPLETED, "-", 20, "-", "-", 1, 0, 0, 1);
    int64_t id = mkseg(1, "New", "true", NULL, 30);
    seg_ev(1, id, 1, 31);
    struct replay r = {.stop_at = 99};
    cr_assert_eq(pt_store_seg_replay(W, id, 0, collect_replay, &r, &E), 0, "%s", E.msg);
    cr_expect_eq(r.n, 1);
}
