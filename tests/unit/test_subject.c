/*
 * test_subject.c - every attribute and function of the rule language over a
 * hand-built customer (segment/subject.c): values, units, missing values,
 * windows, order lines, the wishlist, traits and preferences, and the next
 * instant at which time alone can change a rule's answer.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ingest/events.h"
#include "segment/rule.h"
#include "segment/subject.h"

#define DAY INT64_C(86400)
static const int64_t NOW = INT64_C(1790000000);

static struct pt_dict D;
static struct pt_act A[32];
static size_t NA;
static struct pt_seg_ctx *X;
static const char *TRAITS;

static int traits_of(void *ctx, struct pt_buf *out)
{
    (void)ctx;
    return TRAITS ? pt_buf_adds(out, TRAITS) : 0;
}

static uint32_t id(const char *s)
{
    return pt_dict_intern(&D, s, strlen(s));
}

static void act(int64_t t, const char *name, int kind, const char *cat, const char *prod,
                uint32_t qty, uint32_t grp, uint8_t flags)
{
    A[NA++] = (struct pt_act){.t = t, .name = id(name), .cat = cat ? id(cat) : 0,
                              .prod = prod ? id(prod) : 0, .qty = qty, .grp = grp,
                              .kind = (uint8_t)kind, .flags = flags};
}

static void order(double days_ago, const char *cat, uint32_t grp, int discounted)
{
    int64_t t = NOW - (int64_t)(days_ago * DAY);
    act(t, "Order Completed", PT_K_ORDER_COMPLETED, NULL, NULL, 1, grp,
        discounted ? PT_ACT_DISCOUNT : 0);
    if (cat)
        act(t, "Order Completed", PT_K_ORDER_COMPLETED, cat, "sku-1", 2, grp, PT_ACT_LINE);
}

/* A customer with three orders (30, 20 and 2 days ago), a cart, views, a wishlist. */
static struct pt_seg_subject S;

static void setup(void)
{
    pt_dict_init(&D);
    NA = 0;
    TRAITS = "{\"vip\":true,\"plan\":\"gold\",\"age\":41,\"tags\":[\"a\",\"b\"],"
             "\"preferences\":{\"style\":\"sport\",\"size\":42}}";
    order(30, "shoes", 1, 1);
    order(20, "bags", 2, 0);
    order(2, "shoes", 3, 1);
    act(NOW - 3 * 3600, "Product Viewed", PT_K_PRODUCT_VIEWED, "shoes", "p1", 1, 0, 0);
    act(NOW - 2 * DAY, "Product Viewed", PT_K_PRODUCT_VIEWED, "shoes", "p2", 1, 0, 0);
    act(NOW - 10 * DAY, "Product Viewed", PT_K_PRODUCT_VIEWED, "hats", "p9", 1, 0, 0);
    act(NOW - 90 * 60, "Product Added", PT_K_PRODUCT_ADDED, "shoes", "p1", 2, 0, 0);
    act(NOW - 80 * 60, "Product Added", PT_K_PRODUCT_ADDED, "bags", "p5", 1, 0, 0);
    act(NOW - 75 * 60, "Product Removed", PT_K_PRODUCT_REMOVED, "bags", "p5", 1, 0, 0);
    act(NOW - 5 * DAY, "Product Added to Wishlist", PT_K_WISHLIST_ADDED, NULL, "w1", 1, 0, 0);
    act(NOW - 4 * DAY, "Product Added to Wishlist", PT_K_WISHLIST_ADDED, NULL, "w2", 1, 0, 0);
    act(NOW - 1 * DAY, "Product Removed from Wishlist", PT_K_WISHLIST_REMOVED, NULL, "w1", 1, 0,
        0);
    act(NOW - 1 * DAY, "Review Written", PT_K_CUSTOM, NULL, NULL, 1, 0, 0);
    S = (struct pt_seg_subject){
        .now = NOW, .orders = 3, .first_t = NOW - 30 * DAY, .last_t = NOW - 2 * DAY,
        .revenue = 30000, .refunded = 1500, .cart_value = 2500, .cart_since = NOW - 90 * 60,
        .cart_t = NOW - 75 * 60, .consent = PT_CONSENT_EMAIL,
        .consent_set = PT_CONSENT_EMAIL | PT_CONSENT_SMS, .has_rfm = 1, .r = 5, .f = 4, .m = 3,
        .seg = 1, .has_clv = 1, .p_alive = 0.8, .exp90 = 1.25, .exp365 = 4.5, .value365 = 45000,
        .aov = 9500, .next_t = NOW + 10 * DAY + 5, .acts = A, .nacts = NA, .dict = &D,
        .traits = traits_of};
    X = pt_seg_ctx_new();
    cr_assert_not_null(X);
    pt_seg_ctx_set(X, &S);
}

static void teardown(void)
{
    pt_seg_ctx_free(X);
    pt_dict_release(&D);
}

static int match(const char *rule)
{
    struct pt_rule r;
    struct pt_err e;
    memset(&r, 0, sizeof r);
    cr_assert_eq(pt_rule_parse(rule, strlen(rule), &r, &e), 0, "%s: %s", rule, e.msg);
    pt_seg_ctx_set(X, &S);
    int m = -1;
    cr_assert_eq(pt_seg_match(X, &r, &m), 0, "%s", rule);
    pt_rule_free(&r);
    return m;
}

TestSuite(subject, .init = setup, .fini = teardown);

Test(subject, every_attribute)
{
    static const char *const yes[] = {
        "orders = 3",
        "revenue = 285",              /* (30000 - 1500) minor units */
        "gross_revenue = 300",
        "refunded = 15",
        "average_order_value = 95",
        "days_since_first_order = 30",
        "days_since_last_order = 2",
        "average_days_between_orders = 14",
        "median_days_between_orders = 14", /* gaps 10 and 18 */
        "orders_per_30d_usual = 3",
        "discount_share > 0.66 and discount_share < 0.67",
        "not anonymous",
        "cart.value = 25",
        "cart.items = 2",              /* 2 + 1 - 1 */
        "cart.idle_minutes = 75",
        "favourite_categories contains \"shoes\" and favourite_categories contains \"bags\"",
        "consent.email",
        "consent.sms = false",
        "not (consent.profiling exists)",
        "rfm.r = 5 and rfm.f = 4 and rfm.m = 3",
        "rfm.score = \"543\"",
        "rfm.segment = \"Loyal Customers\"",
        "clv.p_alive = 0.8",
        "clv.expected_orders_90d = 1.25 and clv.expected_orders_365d = 4.5",
        "clv.value_365d = 450 and clv.expected_order_value = 95",
        "clv.days_to_next_order = 11",
        "wishlist.count = 1",
        "wishlist.products contains \"w2\" and not (wishlist.products contains \"w1\")",
        "not (points exists) and not (tier exists)",
        "traits.vip and traits.plan = \"gold\" and traits.age > 40",
        "traits.tags contains \"b\"",
        "not (traits.missing exists)",
        "preference.style = \"sport\"",
        "not (preference.size exists)", /* preferences are strings */
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        cr_expect_eq(match(yes[i]), 1, "%s", yes[i]);
}

Test(subject, missing_without_orders_or_data)
{
    S.orders = 0;
    S.revenue = S.refunded = 0;
    S.nacts = 0;
    S.has_rfm = S.has_clv = 0;
    S.cart_value = 0;
    S.consent_set = 0;
    S.anonymous = 1;
    S.traits = NULL;
    static const char *const none[] = {
        "average_order_value exists", "days_since_first_order exists",
        "days_since_last_order exists", "average_days_between_orders exists",
        "median_days_between_orders exists", "orders_per_30d_usual exists",
        "discount_share exists", "cart.idle_minutes exists", "consent.email exists",
        "rfm.r exists", "rfm.segment exists", "clv.p_alive exists", "traits.vip exists",
        "preference.style exists", "days_since_last_order <= 30",
    };
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        cr_expect_eq(match(none[i]), 0, "%s", none[i]);
    cr_expect_eq(match("orders = 0 and revenue = 0 and cart.value = 0 and cart.items = 0"), 1);
    cr_expect_eq(match("anonymous and wishlist.count = 0"), 1);
    cr_expect_eq(match("not (days_since_last_order <= 30)"), 1);
}

Test(subject, functions_and_windows)
{
    static const struct {
        const char *rule;
        int want;
    } cases[] = {
        {"count(event = \"Product Viewed\") = 3", 1},
        {"count(event = \"Product Viewed\", within = 7d) = 2", 1},
        {"count(event = \"Product Viewed\", within = 2d) = 1", 1}, /* 2 days ago is out */
        {"count(event = \"Product Viewed\", category = \"shoes\", within = 7d) = 2", 1},
        {"count(event = \"Product Viewed\", product = \"p9\") = 1", 1},
        {"count(event = \"Order Completed\") = 3", 1},
        {"count(event = \"Order Completed\", category = \"shoes\") = 2", 1},
        {"count(event = \"Order Completed\", category = \"shoes\", within = 10d) = 1", 1},
        {"count(event = \"Review Written\", within = 2d) = 1", 1},
        {"count(event = \"Never Sent\") = 0", 1},
        {"bought(within = 3d)", 1},
        {"bought(within = 1d)", 0},
        {"bought(category = \"bags\", within = 25d)", 1},
        {"bought(category = \"bags\", within = 15d)", 0},
        {"bought(product = \"sku-1\")", 1},
        {"bought(category = \"hats\")", 0},
        {"viewed(category = \"shoes\", within = 4h)", 1},
        {"viewed(category = \"hats\", within = 7d)", 0},
        {"viewed(product = \"p9\")", 1},
        {"orders_in(30d) = 2", 1}, /* 30 days ago is the window's edge: out */
        {"orders_in(31d) = 3", 1},
        {"orders_in(1d) = 0", 1},
        {"orders_in(30d) >= 2 * orders_per_30d_usual", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(match(cases[i].rule), cases[i].want, "%s", cases[i].rule);
}

static int64_t next_for(const char *rule)
{
    struct pt_rule r;
    struct pt_err e;
    struct pt_seg_time t;
    memset(&r, 0, sizeof r);
    memset(&t, 0, sizeof t);
    cr_assert_eq(pt_rule_parse(rule, strlen(rule), &r, &e), 0, "%s", e.msg);
    cr_assert_eq(pt_seg_time_uses(&r, &t), 0);
    pt_seg_ctx_set(X, &S);
    int64_t n = pt_seg_next_change(X, &t);
    pt_seg_time_release(&t);
    pt_rule_free(&r);
    return n;
}

Test(subject, next_change_is_the_first_instant_a_value_can_move)
{
    /* last order exactly 2 days ago: the next whole day is 3 days after it */
    cr_expect_eq(next_for("days_since_last_order >= 3"), NOW + DAY);
    cr_expect_eq(next_for("days_since_first_order > 40"), NOW + DAY);
    /* cart changed 75 minutes ago: the next whole minute */
    cr_expect_eq(next_for("cart.idle_minutes >= 120"), NOW + 60);
    /* a 4-hour window: the oldest act inside it (the view 3 hours ago) leaves first */
    cr_expect_eq(next_for("count(event = \"Product Viewed\", within = 4h) > 0"),
                 NOW - 3 * 3600 + 4 * 3600);
    cr_expect_eq(next_for("orders > 1"), INT64_MAX);
    cr_expect_eq(next_for("traits.vip"), INT64_MAX);
    /* the soonest of several */
    cr_expect_eq(next_for("cart.idle_minutes >= 120 or days_since_last_order > 9"), NOW + 60);
}

Test(subject, dictionary)
{
    uint32_t a = id("alpha"), b = id("beta");
    cr_assert_neq(a, b);
    cr_assert_eq(id("alpha"), a);
    cr_assert_eq(pt_dict_find(&D, "gamma", 5), 0);
    size_t len;
    cr_assert_eq(memcmp(pt_dict_str(&D, b, &len), "beta", 4), 0);
    cr_assert_eq(len, 4);
    for (int i = 0; i < 5000; i++) { /* through several rehashes */
        char s[16];
        snprintf(s, sizeof s, "k%d", i);
        cr_assert_neq(id(s), 0);
    }
    cr_assert_eq(id("alpha"), a);
    cr_assert_eq(id("k4999"), pt_dict_find(&D, "k4999", 5));
}

Test(subject, loyalty_points_tier_and_expiring_lots)
{
    /* a member with 700 points: 100 expire in 10 days, 250 in 40 days, 350 never */
    static const int64_t exp[] = {NOW + 10 * DAY, NOW + 40 * DAY};
    static const int64_t pts[] = {100, 250};
    cr_expect_eq(match("points >= 0"), 0, "not a member: points is missing");
    cr_expect_eq(match("points_expiring(30d) = 0"), 1, "not a member: nothing expires");
    S.has_points = 1;
    S.points = 700;
    S.tier = "Gold";
    S.lot_exp = exp;
    S.lot_pts = pts;
    S.nlots = 2;
    cr_expect_eq(match("points = 700 and tier = \"Gold\""), 1);
    cr_expect_eq(match("points_expiring(30d) = 100"), 1);
    cr_expect_eq(match("points_expiring(40d) = 350"), 1, "the window's end is inside");
    cr_expect_eq(match("points_expiring(9d) = 0"), 1);
    /* the value moves when a lot comes within the window: 40 - 30 = 10 days from now
     * (the lot 10 days away is already inside) */
    cr_expect_eq(next_for("points_expiring(30d) > 100"), NOW + 10 * DAY);
    cr_expect_eq(next_for("points_expiring(5d) > 0"), NOW + 5 * DAY);
    struct pt_rule r;
    struct pt_err e;
    cr_expect_eq(pt_rule_parse("points_expiring(within = 30d) > 0", 33, &r, &e), PT_EPARSE);
    cr_expect(strstr(e.msg, "points_expiring takes one duration"), "%s", e.msg);
    cr_expect_eq(pt_rule_parse("points_expiring(0d) > 0", 23, &r, &e), PT_EPARSE);
    S.has_points = 0;
    S.tier = NULL;
    S.nlots = 0;
}
