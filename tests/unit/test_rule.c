/*
 * test_rule.c - the segment rule language (src/segment/rule.h): the examples
 * of the issue and of docs/segments.md parse; precedence and types come out
 * as documented; canonical text parses back to itself; every kind of mistake
 * is rejected with its line:column, reason and, for misspelt names, a
 * suggestion; limits hold.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segment/rule.h"

/* canonical text of a rule that must parse */
static char *canon(const char *text)
{
    struct pt_rule r;
    struct pt_err e = {0};
    int rc = pt_rule_parse(text, strlen(text), &r, &e);
    cr_assert_eq(rc, 0, "%s: %s", text, e.msg);
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_rule_format(&r, &b), 0);
    pt_rule_free(&r);
    char *s = strdup(b.data);
    pt_buf_release(&b);
    return s;
}

static const char *const GOOD[] = {
    "orders >= 3 and days_since_last_order <= 30",
    "rfm.segment in (\"At Risk\", \"Can't Lose Them\") and revenue >= 1000",
    "cart.value >= 500 and cart.idle_minutes >= 60 and consent.email",
    "count(event = \"Product Viewed\", category = \"shoes\", within = 7d) >= 3 and not "
    "bought(category = \"shoes\", within = 30d)",
    "preference.style = \"sport\" or wishlist.count > 0",
    "orders_in(30d) >= 2 * orders_per_30d_usual",
    "revenue between 100 and 500",
    "rfm.segment not in ('Lost', 'Hibernating')",
    "favourite_categories contains \"shoes\"",
    "traits.vip exists and traits.vip = true",
    "traits.plan = \"gold\" or traits.age >= 30",
    "clv.p_alive < 0.3 and clv.value_365d >= 200",
    "viewed(product = \"sku-1\", within = 12h)",
    "count(event = \"Review Written\", rating = 5) >= 1",
    "NOT (orders = 0) AND anonymous = False",
    "-orders < -2.5e1 # a comment\n or revenue / orders >= 1.5",
    "average_days_between_orders * 1.5 < days_since_last_order",
    "(orders >= 1)",
};

Test(rule, examples_parse_and_canonical_text_is_stable)
{
    for (size_t i = 0; i < sizeof GOOD / sizeof GOOD[0]; i++) {
        char *a = canon(GOOD[i]);
        char *b = canon(a);
        cr_expect_str_eq(a, b, "rule %zu: %s", i, GOOD[i]);
        free(a);
        free(b);
    }
}

Test(rule, precedence_is_or_and_not_comparison_arithmetic)
{
    static const char *const cases[][2] = {
        {"orders = 1 or orders = 2 and revenue > 3",
         "((orders = 1) or ((orders = 2) and (revenue > 3)))"},
        {"not orders = 1 and anonymous", "((not (orders = 1)) and anonymous)"},
        {"orders + 2 * 3 - 1 >= revenue / 2", "(((orders + (2 * 3)) - 1) >= (revenue / 2))"},
        {"orders_in(7d) between 1 and 2 or anonymous",
         "((orders_in(604800s) between 1 and 2) or anonymous)"},
        {"rfm.r not in (1, 2)", "(not (rfm.r in (1, 2)))"},
        {"preference.colour = 'a\"b\\\\c'", "(preference.colour = \"a\\\"b\\\\c\")"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *a = canon(cases[i][0]);
        cr_expect_str_eq(a, cases[i][1], "%s", cases[i][0]);
        free(a);
    }
}

/* rule, line, column, a piece of the message */
static const struct {
    const char *text;
    unsigned line, col;
    const char *msg;
} BAD[] = {
    {"", 1, 1, "empty rule"},
    {"   # only a comment", 1, 20, "empty rule"},
    {"days_since_last_oder <= 30", 1, 1, "did you mean days_since_last_order?"},
    {"orders >= 3 and\n  revenu > 10", 2, 3, "did you mean revenue?"},
    {"cout(event = \"x\") > 1", 1, 1, "did you mean count?"},
    {"zzzzzz > 1", 1, 1, "unknown attribute \"zzzzzz\""},
    {"orders >= \"3\"", 1, 8, "a number is written without quotes"},
    {"rfm.segment = 5", 1, 13, "a string is written in quotes"},
    {"days_since_last_order <= 30d", 1, 23, "write 30, not 30d"},
    {"rfm.segment > \"A\"", 1, 13, "compare with = and != only"},
    {"orders", 1, 1, "must be a condition"},
    {"orders and anonymous", 1, 1, "and needs conditions on both sides"},
    {"orders >= 3 revenue", 1, 13, "unexpected \"revenue\""},
    {"(orders >= 3", 1, 13, "expected \")\" to close the \"(\" at 1:1"},
    {"orders >= ", 1, 11, "ends where a value was expected"},
    {"preference.style = \"sport", 1, 20, "string not closed"},
    {"orders_in(30x) > 1", 1, 11, "unknown duration unit \"x\""},
    {"orders_in(30) > 1", 1, 11, "orders_in takes a duration"},
    {"orders_in(2 * 7d) > 1", 1, 11, "orders_in takes a positive duration literal"},
    {"orders_in(-7d) > 1", 1, 11, "orders_in takes a positive duration literal"},
    {"orders_in(0s) > 1", 1, 11, "orders_in takes a positive duration literal"},
    {"count(within = 7d) > 1", 1, 1, "count needs an event"},
    {"bought(event = \"x\")", 1, 8, "bought has no event argument"},
    {"bought(category = 5)", 1, 8, "category takes a string literal"},
    {"viewed(within = 7)", 1, 8, "within takes a duration"},
    {"viewed(within = 7d, within = 8d)", 1, 21, "given twice"},
    {"viewed(\"x\")", 1, 8, "takes named arguments"},
    {"rfm.r in ()", 1, 10, "an empty list matches nothing"},
    {"rfm.r in (orders)", 1, 11, "literal values only"},
    {"orders in (1, \"a\")", 1, 15, "cannot compare a number with a string"},
    {"orders contains \"a\"", 1, 8, "contains needs a string or a list"},
    {"orders between 1 or 2", 1, 18, "expected \"and\" in between"},
    {"3 exists", 1, 3, "exists applies to an attribute"},
    {"orders ! 3", 1, 8, "use != or not"},
    {"orders >= 3 @", 1, 13, "unexpected character '@'"},
    {"orders >= 3 not", 1, 13, "unexpected \"not\" after a complete condition"},
    {"orders not 3", 1, 8, "must be followed by \"in\""},
    {"rfm.segment + 1 > 2", 1, 13, "cannot compute string + number"},
    {"not orders", 1, 1, "not needs a condition"},
    {"-rfm.segment = 1", 1, 1, "\"-\" needs a number or a duration"},
    {"preference. = 1", 1, 13, "expected a name after \".\""},
    {"traits.x = 'a\\q'", 1, 14, "unknown escape \\q"},
};

Test(rule, mistakes_name_line_column_and_reason)
{
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        struct pt_rule r;
        struct pt_err e = {0};
        int rc = pt_rule_parse(BAD[i].text, strlen(BAD[i].text), &r, &e);
        cr_expect_eq(rc, PT_EPARSE, "%s: rc %d (%s)", BAD[i].text, rc, e.msg);
        cr_expect(e.line == BAD[i].line && e.column == BAD[i].col, "%s: at %u:%u, want %u:%u (%s)",
                  BAD[i].text, (unsigned)e.line, (unsigned)e.column, BAD[i].line, BAD[i].col,
                  e.msg);
        cr_expect(strstr(e.msg, BAD[i].msg) != NULL, "%s: message \"%s\" lacks \"%s\"", BAD[i].text,
                  e.msg, BAD[i].msg);
        char want[32];
        snprintf(want, sizeof want, "%u:%u: ", BAD[i].line, BAD[i].col);
        cr_expect(strncmp(e.msg, want, strlen(want)) == 0, "%s: message \"%s\"", BAD[i].text,
                  e.msg);
        cr_expect(r.nodes == NULL && r.root == -1, "a failed parse leaves nothing");
        pt_rule_free(&r);
    }
}

Test(rule, limits_are_errors_not_crashes)
{
    struct pt_rule r;
    struct pt_err e = {0};
    /* nesting */
    char deep[400];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        deep[n++] = '(';
    memcpy(deep + n, "anonymous", 9);
    n += 9;
    for (int i = 0; i < 100; i++)
        deep[n++] = ')';
    cr_expect_eq(pt_rule_parse(deep, n, &r, &e), PT_ETOOBIG, "%s", e.msg);
    cr_expect(strstr(e.msg, "nested more than 64 deep"), "%s", e.msg);
    n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "not ");
    cr_expect_eq(pt_rule_parse(deep, n, &r, &e), PT_ETOOBIG, "%s", e.msg);
    /* nodes */
    size_t cap = 64 * 1024;
    char *big = malloc(cap);
    n = 0;
    while (n + 16 < cap)
        n += (size_t)snprintf(big + n, cap - n, "%sorders = 1", n ? " or " : "");
    cr_expect_eq(pt_rule_parse(big, n, &r, &e), PT_ETOOBIG, "%s", e.msg);
    cr_expect(strstr(e.msg, "rule too large"), "%s", e.msg);
    /* text */
    char *huge = calloc(PT_RULE_MAX_TEXT + 2, 1);
    memset(huge, ' ', PT_RULE_MAX_TEXT + 1);
    cr_expect_eq(pt_rule_parse(huge, PT_RULE_MAX_TEXT + 1, &r, &e), PT_ETOOBIG);
    /* a NUL byte inside the text */
    cr_expect_eq(pt_rule_parse("orders >\0 1", 11, &r, &e), PT_EPARSE);
    cr_expect(strstr(e.msg, "unexpected byte 0x00"), "%s", e.msg);
    free(big);
    free(huge);
    pt_rule_free(&r);
}

Test(rule, attribute_table_is_consistent)
{
    size_t n, nf;
    const struct pt_rule_attr *a = pt_rule_attrs(&n);
    const struct pt_rule_func *f = pt_rule_funcs(&nf);
    cr_assert(n > 20 && nf == 5);
    for (size_t i = 0; i < nf; i++)
        cr_expect(f[i].doc && f[i].doc[0], "%s has no doc", f[i].name);
    for (size_t i = 0; i < n; i++) {
        cr_expect(a[i].doc && a[i].doc[0], "%s has no doc", a[i].name);
        for (size_t j = 0; j < i; j++)
            cr_expect(strcmp(a[i].name, a[j].name) != 0, "%s twice", a[i].name);
        /* every attribute can be named in a rule */
        char rule[128];
        const char *tail = a[i].name[strlen(a[i].name) - 1] == '.' ? "x" : "";
        snprintf(rule, sizeof rule, "%s%s exists", a[i].name, tail);
        char *c = canon(rule);
        free(c);
    }
}

/* ---- evaluation, on customers described in place ---- */

struct cust {
    double orders, dsl, usual, revenue; /* NAN: missing */
    const char *segment, *plan;
    int vip;             /* -1 missing, else boolean; as a trait */
    const char *vip_str; /* a trait of the wrong type, if set */
    const char *const *cats;
    size_t ncats;
    double calls; /* what every function returns */
    int fail;     /* the environment reports an error */
};

static size_t lens[8];

static int attr_of(void *ctx, int32_t id, const char *key, size_t klen, struct pt_rule_value *v)
{
    const struct cust *c = ctx;
    size_t n;
    const char *name = pt_rule_attrs(&n)[id].name;
    if (c->fail)
        return PT_EIO;
    v->present = 0;
    if (strcmp(name, "orders") == 0)
        v->num = c->orders, v->present = !isnan(c->orders);
    else if (strcmp(name, "days_since_last_order") == 0)
        v->num = c->dsl, v->present = !isnan(c->dsl);
    else if (strcmp(name, "orders_per_30d_usual") == 0)
        v->num = c->usual, v->present = !isnan(c->usual);
    else if (strcmp(name, "revenue") == 0)
        v->num = c->revenue, v->present = !isnan(c->revenue);
    else if (strcmp(name, "rfm.segment") == 0 && c->segment)
        v->str = c->segment, v->slen = strlen(c->segment), v->present = 1;
    else if (strcmp(name, "favourite_categories") == 0 && c->cats) {
        for (size_t i = 0; i < c->ncats; i++)
            lens[i] = strlen(c->cats[i]);
        v->items = c->cats, v->lens = lens, v->n = c->ncats, v->present = 1;
    } else if (strcmp(name, "traits.") == 0 && klen == 3 && memcmp(key, "vip", 3) == 0) {
        if (c->vip_str)
            v->type = PT_RT_STR, v->str = c->vip_str, v->slen = strlen(c->vip_str), v->present = 1;
        else if (c->vip >= 0)
            v->type = PT_RT_BOOL, v->num = c->vip, v->present = 1;
    } else if (strcmp(name, "traits.") == 0 && klen == 4 && memcmp(key, "plan", 4) == 0 && c->plan)
        v->type = PT_RT_STR, v->str = c->plan, v->slen = strlen(c->plan), v->present = 1;
    return 0;
}

static int call_of(void *ctx, const struct pt_rule *r, int32_t node, double *out)
{
    (void)r, (void)node;
    const struct cust *c = ctx;
    *out = c->calls;
    return c->fail ? PT_EIO : 0;
}

static int matches(const char *rule, struct cust *c)
{
    struct pt_rule r;
    struct pt_err e = {0};
    cr_assert_eq(pt_rule_parse(rule, strlen(rule), &r, &e), 0, "%s: %s", rule, e.msg);
    struct pt_rule_env env = {attr_of, call_of, c};
    int m = -1, rc = pt_rule_eval(&r, &env, &m);
    pt_rule_free(&r);
    return rc ? rc : m;
}

Test(rule, evaluation_follows_the_documented_semantics)
{
    static const char *const cats[] = {"shoes", "bags"};
    struct cust a = {3, 10, 1, 1200, "At Risk", "gold", 1, NULL, cats, 2, 5, 0};
    struct cust none = {0, NAN, NAN, 0, NULL, NULL, -1, NULL, NULL, 0, 0, 0};
    static const struct {
        const char *rule;
        int a, none;
    } cases[] = {
        {"orders >= 3 and days_since_last_order <= 30", 1, 0},
        {"days_since_last_order <= 30", 1, 0},
        {"not (days_since_last_order <= 30)", 0, 1},
        {"days_since_last_order exists", 1, 0},
        {"days_since_last_order + 1 > 0", 1, 0},
        {"rfm.segment in (\"At Risk\", \"Can't Lose Them\") and revenue >= 1000", 1, 0},
        {"rfm.segment not in (\"Lost\")", 1, 1},
        {"rfm.segment = \"At Ris\"", 0, 0},
        {"rfm.segment contains \"Ris\"", 1, 0},
        {"favourite_categories contains \"shoes\"", 1, 0},
        {"favourite_categories contains \"shoe\"", 0, 0},
        {"revenue between 1200 and 1300", 1, 0},
        {"revenue between 1201 and 1300", 0, 0},
        {"traits.vip = true", 1, 0},
        {"traits.vip", 1, 0},
        {"traits.vip exists or orders = 0", 1, 1},
        {"traits.plan = \"gold\"", 1, 0},
        {"traits.plan >= 3", 0, 0},
        {"orders_in(30d) >= 2 * orders_per_30d_usual", 1, 0},
        {"count(event = \"Product Viewed\", within = 7d) = 5", 1, 0},
        {"bought(category = \"shoes\")", 1, 0},
        {"revenue / orders > 100", 1, 0},
        {"7d > 100h and -orders < 0", 1, 0},
        {"orders * 2 = 6 or orders = 0", 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_expect_eq(matches(cases[i].rule, &a), cases[i].a, "a: %s", cases[i].rule);
        cr_expect_eq(matches(cases[i].rule, &none), cases[i].none, "none: %s", cases[i].rule);
    }
    struct cust wrong = a;
    wrong.vip_str = "yes";
    cr_expect_eq(matches("traits.vip = true", &wrong), 0, "a trait of another type is false");
    cr_expect_eq(matches("not (traits.vip = true)", &wrong), 1);
    struct cust bad = a;
    bad.fail = 1;
    cr_expect_eq(matches("orders > 1", &bad), PT_EIO, "an environment error is passed on");
}
