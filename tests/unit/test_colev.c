/*
 * test_colev.c - the columnar evaluation of many rules (segment/colev.c)
 * gives exactly pt_rule_eval's answers: random rules built from every
 * operator over random customers (missing values, booleans, strings, traits,
 * windows), evaluated both ways, block boundaries included.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ingest/events.h"
#include "segment/colev.h"
#include "segment/rule.h"
#include "segment/subject.h"
#include "util/buf.h"
#include "util/rng.h"

#define NCUST 2500 /* over two blocks */
#define NRULES 300
static const int64_t NOW = INT64_C(1790000000);

static struct pt_rng R;

static const char *pick(const char *const *v, size_t n)
{
    return v[pt_rng_below(&R, n)];
}

static const char *const k_num[] = {
    "orders", "revenue", "average_order_value", "days_since_last_order",
    "days_since_first_order", "median_days_between_orders", "discount_share", "cart.value",
    "cart.idle_minutes", "rfm.r", "clv.p_alive", "orders_in(30d)",
    "count(event = \"Product Viewed\", within = 7d)",
    "count(event = \"Order Completed\", category = \"shoes\")", "wishlist.count"};
static const char *const k_bool[] = {
    "consent.email", "anonymous", "bought(within = 14d)", "viewed(category = \"shoes\")",
    "traits.vip", "rfm.segment = \"Champions\"", "rfm.segment in (\"Lost\", \"At Risk\")",
    "rfm.segment != \"Lost\"", "favourite_categories contains \"shoes\"",
    "traits.plan = \"gold\"", "preference.style = \"sport\"", "traits.age > 30",
    "traits.vip exists", "rfm.score exists", "\"Lost\" = rfm.segment",
    "rfm.score in (\"111\", \"543\", \"555\")", "rfm.score != \"111\"",
    "preference.style != \"sport\"", "preference.size = \"42\"", "rfm.segment < \"M\"",
    "tier = \"gold\" or not (tier != \"gold\")"};

static void num_expr(struct pt_buf *b, int depth)
{
    unsigned k = (unsigned)pt_rng_below(&R, depth > 0 ? 6 : 3);
    if (k <= 1) {
        pt_buf_adds(b, pick(k_num, sizeof k_num / sizeof k_num[0]));
    } else if (k == 2) {
        pt_buf_printf(b, "%d", (int)pt_rng_below(&R, 60) - 5);
    } else if (k == 3) {
        pt_buf_adds(b, "-");
        num_expr(b, depth - 1);
    } else {
        static const char *const ops[] = {" + ", " - ", " * ", " / "};
        pt_buf_addc(b, '(');
        num_expr(b, depth - 1);
        pt_buf_adds(b, pick(ops, 4));
        num_expr(b, depth - 1);
        pt_buf_addc(b, ')');
    }
}

static void bool_expr(struct pt_buf *b, int depth)
{
    unsigned k = (unsigned)pt_rng_below(&R, depth > 0 ? 9 : 5);
    static const char *const cmp[] = {" = ", " != ", " < ", " <= ", " > ", " >= "};
    switch (k) {
    case 0:
    case 1:
        num_expr(b, 2);
        pt_buf_adds(b, pick(cmp, 6));
        num_expr(b, 1);
        break;
    case 2:
        pt_buf_adds(b, pick(k_bool, sizeof k_bool / sizeof k_bool[0]));
        break;
    case 3:
        num_expr(b, 1);
        pt_buf_printf(b, " between %d and %d", (int)pt_rng_below(&R, 10),
                      10 + (int)pt_rng_below(&R, 40));
        break;
    case 4:
        num_expr(b, 0);
        pt_buf_adds(b, pt_rng_below(&R, 2) ? " exists" : " in (1, 2, 3, 5)");
        break;
    case 5:
    case 6:
        pt_buf_addc(b, '(');
        bool_expr(b, depth - 1);
        pt_buf_adds(b, k == 5 ? " and " : " or ");
        bool_expr(b, depth - 1);
        pt_buf_addc(b, ')');
        break;
    case 7:
        pt_buf_adds(b, "not (");
        bool_expr(b, depth - 1);
        pt_buf_addc(b, ')');
        break;
    default:
        pt_buf_adds(b, "consent.sms = ");
        pt_buf_adds(b, pt_rng_below(&R, 2) ? "true" : "false");
        break;
    }
}

/* ---- random customers ---- */

static struct pt_dict D;
static struct pt_act ACTS[NCUST][12];
static struct pt_seg_subject S[NCUST];
static const char *TR[NCUST];

static int traits_of(void *ctx, struct pt_buf *out)
{
    const char *t = *(const char *const *)ctx;
    return t ? pt_buf_adds(out, t) : 0;
}

static uint32_t id(const char *s)
{
    return pt_dict_intern(&D, s, strlen(s));
}

static void make_customers(void)
{
    static const char *const traits[] = {
        NULL, "{\"vip\":true,\"plan\":\"gold\",\"age\":41}", "{\"vip\":\"yes\",\"age\":\"old\"}",
        "{\"vip\":false,\"plan\":\"basic\",\"preferences\":{\"style\":\"sport\"}}", "{}"};
    static const char *const cats[] = {"shoes", "bags", "hats"};
    for (int c = 0; c < NCUST; c++) {
        struct pt_seg_subject *s = &S[c];
        memset(s, 0, sizeof *s);
        s->now = NOW;
        s->dict = &D;
        s->anonymous = pt_rng_below(&R, 5) == 0;
        size_t n = 0;
        unsigned orders = (unsigned)pt_rng_below(&R, 5);
        for (unsigned o = 0; o < orders; o++) {
            int64_t t = NOW - (int64_t)pt_rng_below(&R, 200 * 86400);
            uint32_t grp = (uint32_t)(c * 10 + (int)o + 1);
            ACTS[c][n++] = (struct pt_act){.t = t, .name = id("Order Completed"), .qty = 1,
                                           .grp = grp, .kind = PT_K_ORDER_COMPLETED,
                                           .flags = pt_rng_below(&R, 2) ? PT_ACT_DISCOUNT : 0};
            ACTS[c][n++] = (struct pt_act){.t = t, .name = id("Order Completed"),
                                           .cat = id(pick(cats, 3)), .prod = id("p1"),
                                           .qty = 1 + (uint32_t)pt_rng_below(&R, 3), .grp = grp,
                                           .kind = PT_K_ORDER_COMPLETED, .flags = PT_ACT_LINE};
            int64_t amount = (int64_t)pt_rng_below(&R, 20000);
            if (s->orders == 0 || t < s->first_t)
                s->first_t = t;
            if (s->orders == 0 || t > s->last_t)
                s->last_t = t;
            s->orders++;
            s->revenue += amount;
        }
        for (unsigned v = (unsigned)pt_rng_below(&R, 4); v > 0; v--)
            ACTS[c][n++] = (struct pt_act){.t = NOW - (int64_t)pt_rng_below(&R, 20 * 86400),
                                           .name = id("Product Viewed"),
                                           .cat = id(pick(cats, 3)), .qty = 1,
                                           .kind = PT_K_PRODUCT_VIEWED};
        if (pt_rng_below(&R, 4) == 0)
            ACTS[c][n++] = (struct pt_act){.t = NOW - 86400, .name = id("Wish"), .prod = id("w"),
                                           .qty = 1, .kind = PT_K_WISHLIST_ADDED};
        s->acts = ACTS[c];
        s->nacts = n;
        if (s->orders && pt_rng_below(&R, 3))
            s->refunded = (int64_t)pt_rng_below(&R, (uint64_t)s->revenue + 1);
        if (pt_rng_below(&R, 2)) {
            s->cart_value = (int64_t)pt_rng_below(&R, 9000);
            s->cart_since = s->cart_t = NOW - (int64_t)pt_rng_below(&R, 10000);
        }
        s->consent_set = (uint8_t)pt_rng_below(&R, 8);
        s->consent = (uint8_t)pt_rng_below(&R, 8);
        if (s->orders && pt_rng_below(&R, 4)) {
            s->has_rfm = 1;
            s->r = 1 + (int)pt_rng_below(&R, 5);
            s->f = 1 + (int)pt_rng_below(&R, 5);
            s->m = 1 + (int)pt_rng_below(&R, 5);
            s->seg = (int)pt_rng_below(&R, 11);
        }
        if (s->orders && pt_rng_below(&R, 2)) {
            s->has_clv = 1;
            s->p_alive = pt_rng_unit(&R);
        }
        s->value365 = s->aov = -1;
        TR[c] = traits[pt_rng_below(&R, 5)];
        s->traits = traits_of;
        s->tctx = &TR[c];
    }
}

static uint8_t *HITS;
static void on_hit(void *ctx, size_t rule, size_t row)
{
    size_t base = *(size_t *)ctx;
    HITS[rule * NCUST + base + row] = 1;
}

Test(colev, random_rules_agree_with_the_interpreter, .timeout = 120)
{
    pt_rng_seed(&R, 77);
    pt_dict_init(&D);
    make_customers();
    static struct pt_rule rules[NRULES];
    static const struct pt_rule *rp[NRULES];
    static char text[NRULES][2048];
    struct pt_buf b;
    pt_buf_init(&b);
    for (int k = 0; k < NRULES; k++) {
        struct pt_err e;
        do {
            pt_buf_reset(&b);
            bool_expr(&b, 4);
            pt_buf_addc(&b, '\0');
            memset(&rules[k], 0, sizeof rules[k]);
            pt_rule_free(&rules[k]);
        } while (strlen(b.data) >= sizeof text[k] ||
                 pt_rule_parse(b.data, strlen(b.data), &rules[k], &e) != 0);
        snprintf(text[k], sizeof text[k], "%s", b.data);
        rp[k] = &rules[k];
    }
    pt_buf_release(&b);
    struct pt_seg_prog *prog;
    cr_assert_eq(pt_seg_prog_new(rp, NRULES, &prog), 0);
    cr_assert_lt(pt_seg_prog_leaves(prog), (size_t)NRULES * 4, "leaves are shared");
    struct pt_seg_block *blk = pt_seg_block_new(prog);
    struct pt_seg_ctx *x = pt_seg_ctx_new();
    HITS = calloc((size_t)NRULES * NCUST, 1);
    cr_assert(blk && x && HITS);
    size_t base = 0;
    for (size_t c = 0; c < NCUST; c++) {
        pt_seg_ctx_set(x, &S[c]);
        pt_seg_block_row(blk, x, c - base);
        if (c + 1 - base == PT_SEG_BLOCK || c + 1 == NCUST) {
            pt_seg_block_run(blk, c + 1 - base, on_hit, &base);
            base = c + 1;
        }
    }
    size_t members = 0;
    for (size_t c = 0; c < NCUST; c++) {
        pt_seg_ctx_set(x, &S[c]);
        for (int k = 0; k < NRULES; k++) {
            int m = 0;
            pt_seg_match(x, &rules[k], &m);
            members += (size_t)m;
            cr_assert_eq(HITS[(size_t)k * NCUST + c], m, "customer %zu, rule %s: columnar %d",
                         c, text[k], HITS[(size_t)k * NCUST + c]);
        }
    }
    /* the rules are not trivial: some customers match, not all do */
    cr_assert_gt(members, (size_t)NCUST * NRULES / 20);
    cr_assert_lt(members, (size_t)NCUST * NRULES * 19 / 20);
    free(HITS);
    pt_seg_ctx_free(x);
    pt_seg_block_free(blk);
    pt_seg_prog_free(prog);
    for (int k = 0; k < NRULES; k++)
        pt_rule_free(&rules[k]);
    pt_dict_release(&D);
}
