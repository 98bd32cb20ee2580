/*
 * test_segments.c - live segment membership in the engine, with an injected
 * clock: saved segments and previews agree, events make customers enter and
 * leave at once, time alone does too (day boundaries, cart idleness, sliding
 * windows), every change is a timeline event, membership survives a restart
 * (and what changed while stopped becomes events), built-in segments exist,
 * and a random event stream leaves live membership equal to a from-scratch
 * evaluation of the same rules.
 */
#include "harness_engine.h"

#include "util/buf.h"
#include "util/rng.h"

static int64_t NOW;
static int64_t clock_now(void *ctx)
{
    (void)ctx;
    return NOW;
}

static void open_clocked(void)
{
    struct pt_engine_opts o = {.data_dir = DIR_, .clock = clock_now, .seg_sweep_s = 1000000};
    struct pt_err e;
    cr_assert_eq(pt_engine_open(&o, &G, &e), 0, "engine: %s", e.msg);
}

static void seg_setup(void)
{
    setup(); /* opens with the system clock: reopen with ours */
    pt_engine_close(G);
    NOW = T0;
    open_clocked();
}

static void reopen(void)
{
    pt_engine_close(G);
    open_clocked();
}

static struct pt_job SJ;

static int seg_op(int op, int64_t id, const char *name, const char *rule)
{
    memset(&SJ, 0, sizeof SJ);
    SJ = (struct pt_job){.kind = PT_JOB_SEGMENT, .shop = SHOP, .seg_op = op, .seg_id = id,
                         .seg_name = name, .seg_rule = rule};
    pt_engine_run(G, &SJ);
    return SJ.rc;
}

static int64_t create(const char *name, const char *rule)
{
    cr_assert_eq(seg_op(PT_SEG_CREATE, 0, name, rule), 0, "create %s: %s", rule, SJ.msg);
    cr_assert_gt(SJ.seg_id, 0);
    return SJ.seg_id;
}

static int get_count(void *ctx, const struct pt_segment_info *s)
{
    *(uint64_t *)ctx = s->count;
    return 0;
}

static uint64_t count_of(int64_t id)
{
    uint64_t n = UINT64_MAX;
    cr_assert_eq(pt_engine_segment(G, SHOP, id, get_count, &n), 0);
    return n;
}

/* Members as "id,id,..." (sorted by the engine's stable order). */
static struct pt_buf MB;
static int add_id(void *ctx, const char *cid, size_t len, int anon)
{
    (void)ctx;
    (void)anon;
    if (MB.len)
        pt_buf_addc(&MB, ',');
    pt_buf_add(&MB, cid, len);
    return 0;
}

static const char *members(int64_t id)
{
    pt_buf_reset(&MB);
    uint64_t next;
    cr_assert_eq(pt_engine_segment_members(G, SHOP, id, 0, 1000000, add_id, NULL, &next), 0);
    pt_buf_addc(&MB, '\0');
    return MB.data;
}

static char PREV[65536];
static const char *preview(const char *rule, uint64_t *count)
{
    pt_buf_reset(&MB);
    struct pt_err e;
    cr_assert_eq(pt_engine_segment_preview(G, SHOP, rule, strlen(rule), 1000000, add_id, NULL,
                                           count, &e),
                 0, "preview %s: %s", rule, e.msg);
    pt_buf_addc(&MB, '\0');
    snprintf(PREV, sizeof PREV, "%s", MB.data);
    return PREV;
}

static void tick_to(int64_t t)
{
    NOW = t;
    cr_assert_eq(pt_engine_tick(G), 0);
}

/* The customer's timeline as JSON (newest first). */
static struct pt_buf TL;
static const char *timeline(const char *user)
{
    struct pt_profile *p = prof(user, 0);
    pt_buf_reset(&TL);
    struct pt_err e;
    cr_assert_eq(pt_store_timeline_json(pt_engine_reader(G), p->heads, p->nrows, 200, &TL, &e), 0);
    pt_buf_addc(&TL, '\0');
    return TL.data;
}

/* Segment Entered / Exited events of segment `name` in a timeline: the
 * event's name, then its segment before the next event's name. */
static size_t seg_events(const char *tl, const char *what, const char *name)
{
    char needle[64], seg[128];
    snprintf(needle, sizeof needle, "Segment %s", what);
    snprintf(seg, sizeof seg, "\"segment\":\"%s\"", name);
    size_t n = 0;
    for (const char *p = strstr(tl, needle); p; p = strstr(p + 1, needle)) {
        const char *next = strstr(p + 1, "Segment E");
        const char *q = strstr(p, seg);
        n += q && (next == NULL || q < next);
    }
    return n;
}

static const char *view(const char *user, const char *cat, double days)
{
    static unsigned k;
    return Q("{'type':'track','userId':'%s','messageId':'v%u','event':'Product Viewed',"
             "'timestamp':'%s','properties':{'product_id':'p1','category':'%s'}}",
             user, ++k, ago(days), cat);
}

TestSuite(segments, .init = seg_setup, .fini = teardown, .timeout = 240);

Test(segments, saved_equals_preview_and_events_move_members)
{
    run(order("u1", "o1", "10", 5));
    run(order("u2", "o2", "20", 5));
    run(order("u2", "o3", "20", 4));
    int64_t id = create("Repeat", "orders >= 2");
    cr_assert_eq(count_of(id), 1);
    cr_assert_str_eq(members(id), "u2");
    uint64_t n;
    cr_assert_str_eq(preview("orders >= 2", &n), "u2");
    cr_assert_eq(n, 1);
    /* the first population writes no events */
    cr_assert_eq(seg_events(timeline("u2"), "Entered", "Repeat"), 0);
    /* an order makes u1 enter at once: visible when the job is done */
    run(order("u1", "o4", "10", 1));
    cr_assert_eq(count_of(id), 2);
    cr_assert_str_eq(members(id), "u1,u2");
    const char *tl = timeline("u1");
    cr_assert_eq(seg_events(tl, "Entered", "Repeat"), 1, "%s", tl);
    /* a rule change: u1 (revenue 20) leaves, u2 (40) stays; the exit is an event */
    cr_assert_eq(seg_op(PT_SEG_UPDATE, id, NULL, "orders >= 2 and revenue >= 30"), 0);
    cr_assert_str_eq(members(id), "u2");
    cr_assert_eq(seg_events(timeline("u1"), "Exited", "Repeat"), 1);
    cr_assert_str_eq(preview("orders >= 2 and revenue >= 30", &n), "u2");
    /* a bad rule changes nothing */
    cr_assert_eq(seg_op(PT_SEG_UPDATE, id, NULL, "orders >= \"x\""), PT_EPARSE);
    cr_assert_str_eq(members(id), "u2");
    cr_assert_eq(seg_op(PT_SEG_DELETE, id, NULL, NULL), 0);
    cr_assert_eq(pt_engine_segment(G, SHOP, id, get_count, &n), PT_ENOTFOUND);
    cr_assert_eq(seg_op(PT_SEG_DELETE, id, NULL, NULL), PT_ENOTFOUND);
}

Test(segments, time_alone_enters_and_exits)
{
    run(order("u1", "o1", "10", 1.5)); /* last order 1.5 days before T0 */
    int64_t quiet = create("Quiet", "days_since_last_order >= 3");
    int64_t viewer = create("Viewer", "count(event = \"Product Viewed\", within = 1d) >= 1");
    cr_assert_eq(count_of(quiet), 0);
    run(view("u1", "shoes", 0.5));
    cr_assert_str_eq(members(viewer), "u1");
    /* just before the third day boundary: still out; at it: in, without any event */
    int64_t boundary = days_t(1.5) + 3 * DAY;
    tick_to(boundary - 1);
    cr_assert_eq(count_of(quiet), 0);
    /* the view left its window at T0 - 0.5 d + 1 d, before the boundary */
    cr_assert_eq(count_of(viewer), 0);
    cr_assert_eq(seg_events(timeline("u1"), "Exited", "Viewer"), 1);
    tick_to(boundary);
    cr_assert_str_eq(members(quiet), "u1");
    const char *tl = timeline("u1");
    cr_assert_eq(seg_events(tl, "Entered", "Viewer"), 1, "%s", tl);
    cr_assert_eq(seg_events(tl, "Entered", "Quiet"), 1, "%s", tl);
    /* an order makes the customer leave again */
    NOW = boundary + 10;
    run(Q("{'type':'track','userId':'u1','messageId':'late','event':'Order Completed',"
          "'timestamp':'%s','properties':{'order_id':'o9','revenue':5}}",
          ago((double)(T0 - NOW) / (double)DAY)));
    cr_assert_eq(count_of(quiet), 0);
}

Test(segments, cart_idle_minutes)
{
    int64_t id = create("Abandoned", "cart.value >= 10 and cart.idle_minutes >= 60");
    run(Q("{'type':'track','userId':'c1','messageId':'a1','event':'Product Added',"
          "'timestamp':'%s','properties':{'product_id':'p1','price':12.5}}",
          ago(0)));
    cr_assert_eq(count_of(id), 0);
    tick_to(T0 + 59 * 60 + 59);
    cr_assert_eq(count_of(id), 0);
    tick_to(T0 + 60 * 60);
    cr_assert_str_eq(members(id), "c1");
    uint64_t n;
    preview("cart.value >= 10 and cart.idle_minutes >= 60", &n);
    cr_assert_eq(n, 1);
}

Test(segments, restart_keeps_members_and_records_what_changed)
{
    run(order("u1", "o1", "10", 1.5));
    int64_t id = create("Quiet", "days_since_last_order >= 3");
    int64_t rep = create("Any", "orders >= 1");
    cr_assert_eq(count_of(rep), 1);
    reopen();
    cr_assert_eq(count_of(rep), 1);
    cr_assert_eq(count_of(id), 0);
    /* stopped across the boundary: the entry is recorded when it starts again */
    pt_engine_close(G);
    NOW = T0 + 5 * DAY;
    open_clocked();
    cr_assert_str_eq(members(id), "u1");
    cr_assert_eq(seg_events(timeline("u1"), "Entered", "Quiet"), 1);
    reopen();
    cr_assert_eq(seg_events(timeline("u1"), "Entered", "Quiet"), 1);
    cr_assert_str_eq(members(id), "u1");
}

static int collect_builtin(void *ctx, const struct pt_segment_info *s)
{
    size_t *n = ctx;
    if (s->builtin)
        n[0]++;
    if (s->builtin && strcmp(s->builtin, "rfm:Champions") == 0)
        n[1] = (size_t)s->id;
    return 0;
}

Test(segments, builtins_follow_rfm)
{
    run(order("u1", "o1", "10", 100));
    for (int i = 0; i < 5; i++) {
        char oid[16];
        snprintf(oid, sizeof oid, "c%d", i);
        run(order("u2", oid, "100", 1 + i));
    }
    size_t n[2] = {0, 0};
    pt_engine_segments(G, SHOP, collect_builtin, n);
    cr_assert_eq(n[0], 11 + 6, "built-ins: %zu", n[0]);
    struct pt_profile *p = prof("u2", 0);
    cr_assert(p->has_rfm);
    cr_assert_eq(p->seg, 0, "u2 is a Champion"); /* pt_rfm_segment_names[0] */
    cr_assert_str_eq(members((int64_t)n[1]), "u2");
    cr_assert_eq(seg_op(PT_SEG_DELETE, (int64_t)n[1], NULL, NULL), PT_EINVAL);
}

/* ---- random stream: live membership == from-scratch evaluation ---- */

static const char *const k_rules[] = {
    "orders >= 2",
    "days_since_last_order <= 3",
    "days_since_last_order > 2 and orders >= 1",
    "revenue between 20 and 60",
    "cart.value > 0 and cart.idle_minutes >= 90",
    "count(event = \"Product Viewed\", category = \"shoes\", within = 2d) >= 2",
    "viewed(category = \"bags\", within = 12h) and not bought(within = 1d)",
    "orders_in(2d) >= 1 or average_order_value >= 30",
    "median_days_between_orders <= 1.5",
    "consent.email and orders = 0",
    "rfm.segment in (\"Champions\", \"Loyal Customers\") or rfm.r = 1",
    "anonymous or discount_share >= 0.5",
};
#define NRULES (sizeof k_rules / sizeof k_rules[0])

static void random_event(struct pt_rng *rng, int i)
{
    char user[16];
    snprintf(user, sizeof user, "r%u", (unsigned)pt_rng_below(rng, 25));
    double age = (double)(T0 - NOW) / (double)DAY + pt_rng_unit(rng) * 0.2;
    unsigned k = (unsigned)pt_rng_below(rng, 7);
    const char *cat = pt_rng_below(rng, 2) ? "shoes" : "bags";
    if (k == 0)
        run(Q("{'type':'track','userId':'%s','messageId':'e%d','event':'Order Completed',"
              "'timestamp':'%s','properties':{'order_id':'x%d','revenue':%u,%s"
              "'products':[{'product_id':'p%u','category':'%s','price':1}]}}",
              user, i, ago(age), i, 5 + (unsigned)pt_rng_below(rng, 40),
              pt_rng_below(rng, 2) ? "'coupon':'SALE'," : "", (unsigned)pt_rng_below(rng, 5),
              cat));
    else if (k <= 2)
        run(Q("{'type':'track','userId':'%s','messageId':'e%d','event':'Product Viewed',"
              "'timestamp':'%s','properties':{'product_id':'p1','category':'%s'}}",
              user, i, ago(age), cat));
    else if (k == 3)
        run(Q("{'type':'track','userId':'%s','messageId':'e%d','event':'Product Added',"
              "'timestamp':'%s','properties':{'product_id':'p2','price':3}}",
              user, i, ago(age)));
    else if (k == 4)
        run(Q("{'type':'track','anonymousId':'an%u','messageId':'e%d','event':'Product Viewed',"
              "'timestamp':'%s','properties':{'product_id':'p3','category':'bags'}}",
              (unsigned)pt_rng_below(rng, 5), i, ago(age)));
    else if (k == 5)
        run(Q("{'type':'track','userId':'%s','messageId':'e%d','event':'Consent Changed',"
              "'timestamp':'%s','properties':{'consents':{'email_marketing':%s}}}",
              user, i, ago(age), pt_rng_below(rng, 2) ? "true" : "false"));
    else
        run(Q("{'type':'identify','userId':'%s','anonymousId':'an%u','messageId':'e%d',"
              "'timestamp':'%s'}",
              user, (unsigned)pt_rng_below(rng, 5), i, ago(age)));
}

static void check_all(const int64_t *ids)
{
    for (size_t r = 0; r < NRULES; r++) {
        uint64_t n;
        const char *fresh = preview(k_rules[r], &n);
        const char *live = members(ids[r]);
        cr_assert_str_eq(live, fresh, "rule %zu (%s) at %+lld s: live {%s} vs scratch {%s}", r,
                         k_rules[r], (long long)(NOW - T0), live, fresh);
        cr_assert_eq(count_of(ids[r]), n);
    }
}

Test(segments, random_stream_live_equals_scratch)
{
    struct pt_rng rng;
    pt_rng_seed(&rng, 20261127);
    int64_t ids[NRULES];
    for (size_t r = 0; r < NRULES; r++) {
        char name[16];
        snprintf(name, sizeof name, "R%zu", r);
        ids[r] = create(name, k_rules[r]);
    }
    for (int i = 0; i < 400; i++) {
        random_event(&rng, i);
        if (pt_rng_below(&rng, 10) == 0)
            tick_to(NOW + (int64_t)pt_rng_below(&rng, 8 * 3600));
        if (i % 50 == 49)
            check_all(ids);
    }
    /* RFM boundaries move with everyone's orders: refresh, then compare */
    cr_assert_eq(seg_op(PT_SEG_REFRESH, 0, NULL, NULL), 0);
    check_all(ids);
    tick_to(NOW + 3 * DAY + 17);
    cr_assert_eq(seg_op(PT_SEG_REFRESH, 0, NULL, NULL), 0);
    check_all(ids);
    reopen();
    check_all(ids);
}

Test(segments, merges_unmerges_and_erasure)
{
    int64_t id = create("Shoe viewers",
                        "count(event = \"Product Viewed\", category = \"shoes\") >= 2");
    run(Q("{'type':'track','anonymousId':'a1','messageId':'w1','event':'Product Viewed',"
          "'timestamp':'%s','properties':{'product_id':'p','category':'shoes'}},"
          "{'type':'track','userId':'u1','messageId':'w2','event':'Product Viewed',"
          "'timestamp':'%s','properties':{'product_id':'p','category':'shoes'}}",
          ago(1), ago(1)));
    cr_assert_str_eq(members(id), "");
    /* a1 logs in as u1: one profile with two views */
    run(Q("{'type':'identify','userId':'u1','anonymousId':'a1','messageId':'i1'}"));
    cr_assert_str_eq(members(id), "u1");
    cr_assert_eq(seg_events(timeline("u1"), "Entered", "Shoe viewers"), 1);
    /* undone: each is one view again */
    cr_assert_eq(job(PT_JOB_UNMERGE, "u1", "a1"), 0, "%s", JOB.msg);
    cr_assert_str_eq(members(id), "");
    cr_assert_eq(seg_events(timeline("u1"), "Exited", "Shoe viewers"), 1);
    run(Q("{'type':'track','userId':'u1','messageId':'w3','event':'Product Viewed',"
          "'timestamp':'%s','properties':{'product_id':'p','category':'shoes'}}",
          ago(0.5)));
    cr_assert_str_eq(members(id), "u1");
    uint64_t n;
    cr_assert_str_eq(preview("count(event = \"Product Viewed\", category = \"shoes\") >= 2", &n),
                     "u1");
    /* erasure: gone from the members, silently, and still gone after a restart */
    cr_assert_eq(job(PT_JOB_ERASE, "u1", NULL), 0, "%s", JOB.msg);
    cr_assert_str_eq(members(id), "");
    reopen();
    cr_assert_str_eq(members(id), "");
    struct pt_store *r = pt_engine_reader(G);
    int64_t left = -1;
    cr_assert_eq(pt_store_count(r, "customers", &left, NULL), 0);
    cr_assert_eq(left, 1, "only a1 is left");
}
