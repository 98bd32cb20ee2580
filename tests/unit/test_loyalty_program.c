/*
 * test_loyalty_program.c - a shop's loyalty programme (src/loyalty/program.h):
 * the full document parses into the documented struct; every default; the
 * canonical JSON parses back to an equal programme (hand-written and random
 * documents); each kind of mistake names its JSON path and says why;
 * syntax errors carry jansson's line and column; limits are PT_ETOOBIG;
 * allocation failures are clean; the points of an order match hand-computed
 * values and, over random orders, a slow exact reference, including the
 * 512-bit path taken when __int128 would overflow.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loyalty/program.h"
#include "util/buf.h"
#include "util/mem.h"

static const char FULL[] =
    "{\n"
    "  \"enabled\": true,\n"
    "  \"currency\": \"PLN\",\n"
    "  \"point_value\": 1,\n"
    "  \"earn\": {\n"
    "    \"points_per_unit\": 1,\n"
    "    \"rounding\": \"floor\",\n"
    "    \"categories\": {\"gift-cards\": 0, \"electronics\": 2},\n"
    "    \"default_multiplier\": 1,\n"
    "    \"max_per_order\": 0, \"max_per_day\": 0,\n"
    "    \"events\": {\"Signed Up\": {\"points\": 100, \"max_total\": 1},\n"
    "               \"Review Written\": {\"points\": 20, \"max_per_day\": 3}}\n"
    "  },\n"
    "  \"bonuses\": {\n"
    "    \"intensify\": {\"points\": 200, \"window_days\": 30, \"factor\": 2, \"period_days\": 90,"
    " \"min_history_days\": 90},\n"
    "    \"comeback\": {\"points\": 300, \"after_days\": 180}\n"
    "  },\n"
    "  \"tiers\": {\"basis\": \"spend\", \"window_days\": 365, \"review_months\": 12,\n"
    "            \"levels\": [{\"name\": \"Silver\", \"threshold\": 50000, \"multiplier\": 1.25,"
    " \"free_shipping\": false},\n"
    "                       {\"name\": \"Gold\", \"threshold\": 200000, \"multiplier\": 1.5,"
    " \"free_shipping\": true}]},\n"
    "  \"expiry\": {\"months\": 12},\n"
    "  \"refunds\": {\"allow_debt\": false},\n"
    "  \"pilot\": {\"segment\": 12},\n"
    "  \"referral\": {\"referrer_points\": 500, \"friend_points\": 250,"
    " \"return_window_days\": 14,\n"
    "               \"link\": \"https://shop.example/r/{code}\"}\n"
    "}\n";

static void parse_ok(const char *text, size_t len, struct pt_loy_program *p)
{
    char field[160];
    struct pt_err e = {0};
    int rc = pt_loy_program_parse(text, len, p, field, &e);
    cr_assert_eq(rc, 0, "rc %d at \"%s\": %s\n%.300s", rc, field, e.msg, text);
}

static char *canon(const struct pt_loy_program *p)
{
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_loy_program_json(p, &b), 0);
    char *s = strdup(b.data);
    pt_buf_release(&b);
    return s;
}

#define EQ(f)                                                                                      \
    cr_expect_eq(a->f, b->f, "%s: %lld != %lld (%s)", #f, (long long)a->f, (long long)b->f, what)

/* Field-by-field equality of two programmes. */
static void expect_same(const struct pt_loy_program *a, const struct pt_loy_program *b,
                        const char *what)
{
    EQ(enabled);
    cr_expect_str_eq(a->currency, b->currency, "currency (%s)", what);
    EQ(point_value);
    EQ(rate_milli);
    EQ(rounding);
    EQ(default_cat_milli);
    EQ(max_per_order);
    EQ(max_per_day);
    EQ(ncats);
    for (size_t i = 0; i < a->ncats && i < b->ncats; i++) {
        cr_expect_str_eq(a->cats[i].name, b->cats[i].name, "cats[%zu] (%s)", i, what);
        EQ(cats[i].milli);
    }
    EQ(nevents);
    for (size_t i = 0; i < a->nevents && i < b->nevents; i++) {
        cr_expect_str_eq(a->events[i].name, b->events[i].name, "events[%zu] (%s)", i, what);
        EQ(events[i].points);
        EQ(events[i].max_per_day);
        EQ(events[i].max_total);
    }
    EQ(has_intensify);
    EQ(intensify_points);
    EQ(intensify_window_days);
    EQ(intensify_factor_milli);
    EQ(intensify_period_days);
    EQ(intensify_min_history_days);
    EQ(has_comeback);
    EQ(comeback_points);
    EQ(comeback_after_days);
    EQ(tier_basis);
    EQ(tier_window_days);
    EQ(tier_review_months);
    EQ(ntiers);
    for (size_t i = 0; i < a->ntiers && i < b->ntiers; i++) {
        cr_expect_str_eq(a->tiers[i].name, b->tiers[i].name, "tiers[%zu] (%s)", i, what);
        EQ(tiers[i].threshold);
        EQ(tiers[i].earn_milli);
        EQ(tiers[i].free_shipping);
    }
    EQ(expiry_months);
    EQ(allow_debt);
    EQ(has_pilot);
    EQ(pilot_segment);
    EQ(npilot);
    for (size_t i = 0; i < a->npilot && i < b->npilot; i++)
        cr_expect_str_eq(a->pilot_ids[i], b->pilot_ids[i], "pilot[%zu] (%s)", i, what);
    EQ(has_referral);
    EQ(referrer_points);
    EQ(friend_points);
    EQ(return_window_days);
    cr_expect((a->link == NULL) == (b->link == NULL), "link (%s)", what);
    if (a->link && b->link)
        cr_expect_str_eq(a->link, b->link, "link (%s)", what);
}

/* parse(x) == parse(json(parse(x))), and the canonical text is a fixed point. */
static void expect_round_trip(const char *text, size_t len)
{
    struct pt_loy_program a, b, c;
    parse_ok(text, len, &a);
    char *j1 = canon(&a);
    parse_ok(j1, strlen(j1), &b);
    expect_same(&a, &b, text);
    char *j2 = canon(&b);
    cr_expect_str_eq(j1, j2);
    parse_ok(j2, strlen(j2), &c);
    expect_same(&b, &c, j2);
    free(j1);
    free(j2);
    pt_loy_program_release(&a);
    pt_loy_program_release(&b);
    pt_loy_program_release(&c);
}

Test(loyalty_program, full_document_parses_as_documented)
{
    struct pt_loy_program p;
    parse_ok(FULL, strlen(FULL), &p);
    cr_expect_eq(p.enabled, 1);
    cr_expect_str_eq(p.currency, "PLN");
    cr_expect_eq(p.point_value, 1);
    cr_expect_eq(p.rate_milli, 1000);
    cr_expect_eq(p.rounding, PT_LOY_FLOOR);
    cr_assert_eq(p.ncats, 2);
    cr_expect_str_eq(p.cats[0].name, "electronics"); /* sorted */
    cr_expect_eq(p.cats[0].milli, 2000);
    cr_expect_str_eq(p.cats[1].name, "gift-cards");
    cr_expect_eq(p.cats[1].milli, 0);
    cr_expect_eq(p.default_cat_milli, 1000);
    cr_assert_eq(p.nevents, 2);
    cr_expect_str_eq(p.events[0].name, "Review Written");
    cr_expect_eq(p.events[0].points, 20);
    cr_expect_eq(p.events[0].max_per_day, 3);
    cr_expect_eq(p.events[0].max_total, 0);
    cr_expect_str_eq(p.events[1].name, "Signed Up");
    cr_expect_eq(p.events[1].points, 100);
    cr_expect_eq(p.events[1].max_total, 1);
    cr_expect(p.has_intensify && p.intensify_points == 200 && p.intensify_window_days == 30 &&
              p.intensify_factor_milli == 2000 && p.intensify_period_days == 90 &&
              p.intensify_min_history_days == 90);
    cr_expect(p.has_comeback && p.comeback_points == 300 && p.comeback_after_days == 180);
    cr_expect_eq(p.tier_basis, PT_LOY_SPEND);
    cr_expect_eq(p.tier_window_days, 365);
    cr_expect_eq(p.tier_review_months, 12);
    cr_assert_eq(p.ntiers, 2);
    cr_expect_str_eq(p.tiers[0].name, "Silver");
    cr_expect_eq(p.tiers[0].threshold, 50000);
    cr_expect_eq(p.tiers[0].earn_milli, 1250);
    cr_expect_eq(p.tiers[0].free_shipping, 0);
    cr_expect_str_eq(p.tiers[1].name, "Gold");
    cr_expect_eq(p.tiers[1].threshold, 200000);
    cr_expect_eq(p.tiers[1].earn_milli, 1500);
    cr_expect_eq(p.tiers[1].free_shipping, 1);
    cr_expect_eq(p.expiry_months, 12);
    cr_expect_eq(p.allow_debt, 0);
    cr_expect(p.has_pilot && p.pilot_segment == 12 && p.npilot == 0);
    cr_expect(p.has_referral && p.referrer_points == 500 && p.friend_points == 250 &&
              p.return_window_days == 14);
    cr_expect_str_eq(p.link, "https://shop.example/r/{code}");
    /* look-ups */
    cr_expect_eq(pt_loy_event_rule(&p, "Signed Up"), &p.events[1]);
    cr_expect_null(pt_loy_event_rule(&p, "Signed up"));
    cr_expect_null(pt_loy_event_rule(&p, NULL));
    cr_expect_eq(pt_loy_tier_for(&p, 49999), -1);
    cr_expect_eq(pt_loy_tier_for(&p, 50000), 0);
    cr_expect_eq(pt_loy_tier_for(&p, 199999), 0);
    cr_expect_eq(pt_loy_tier_for(&p, 200000), 1);
    cr_expect_eq(pt_loy_tier_for(&p, INT64_MAX), 1);
    cr_expect_eq(pt_loy_pilot_has(&p, "u1"), 0, "a segment pilot has no id list");
    expect_round_trip(FULL, strlen(FULL));
    pt_loy_program_release(&p);
    cr_expect_null(p.cats);
    pt_loy_program_release(&p); /* twice is fine */
}

Test(loyalty_program, canonical_form_spells_out_every_default)
{
    struct pt_loy_program p;
    parse_ok("{}", 2, &p);
    char *j = canon(&p);
    cr_expect_str_eq(
        j, "{\"enabled\":true,\"currency\":null,\"point_value\":1,\"earn\":{\"points_per_unit\":1,"
           "\"rounding\":\"floor\",\"categories\":{},\"default_multiplier\":1,\"max_per_order\":0,"
           "\"max_per_day\":0,\"events\":{}},\"bonuses\":{\"intensify\":null,\"comeback\":null},"
           "\"tiers\":{\"basis\":\"spend\",\"window_days\":365,\"review_months\":12,\"levels\":[]},"
           "\"expiry\":{\"months\":0},\"refunds\":{\"allow_debt\":false},\"pilot\":null,"
           "\"referral\":null}");
    free(j);
    cr_expect(p.enabled == 1 && p.currency[0] == '\0' && p.point_value == 1);
    cr_expect(p.rate_milli == 1000 && p.rounding == PT_LOY_FLOOR && p.ncats == 0 &&
              p.default_cat_milli == 1000 && p.max_per_order == 0 && p.max_per_day == 0 &&
              p.nevents == 0);
    cr_expect(!p.has_intensify && !p.has_comeback);
    cr_expect(p.tier_basis == PT_LOY_SPEND && p.tier_window_days == 365 &&
              p.tier_review_months == 12 && p.ntiers == 0);
    cr_expect(p.expiry_months == 0 && p.allow_debt == 0 && !p.has_pilot && !p.has_referral);
    cr_expect(p.return_window_days == 14 && p.link == NULL);
    pt_loy_program_release(&p);

    /* sections present but empty, and bonuses with only their points */
    static const char doc[] =
        "{\"earn\":{\"events\":{\"x\":{\"points\":5}}},\"tiers\":{\"levels\":[{\"name\":\"A\","
        "\"threshold\":0}]},\"expiry\":{},\"refunds\":{},\"referral\":{},"
        "\"bonuses\":{\"intensify\":{\"points\":7},\"comeback\":null}}";
    parse_ok(doc, sizeof doc - 1, &p);
    cr_expect(p.nevents == 1 && p.events[0].points == 5 && p.events[0].max_per_day == 0 &&
              p.events[0].max_total == 0);
    cr_expect(p.ntiers == 1 && p.tiers[0].earn_milli == 1000 && p.tiers[0].free_shipping == 0);
    cr_expect(p.has_intensify && p.intensify_points == 7 && p.intensify_window_days == 30 &&
              p.intensify_factor_milli == 2000 && p.intensify_period_days == 90 &&
              p.intensify_min_history_days == 90);
    cr_expect(!p.has_comeback);
    cr_expect(p.has_referral && p.referrer_points == 0 && p.friend_points == 0 &&
              p.return_window_days == 14 && p.link == NULL);
    j = canon(&p);
    cr_expect(strstr(j, "\"intensify\":{\"points\":7,\"window_days\":30,\"factor\":2,"
                        "\"period_days\":90,\"min_history_days\":90}") != NULL,
              "%s", j);
    cr_expect(strstr(j, "\"referral\":{\"referrer_points\":0,\"friend_points\":0,"
                        "\"return_window_days\":14,\"link\":null}") != NULL,
              "%s", j);
    free(j);
    pt_loy_program_release(&p);
}

static const char *const GOOD[] = {
    "{}",
    "{\"enabled\":false,\"currency\":null,\"pilot\":null,\"referral\":null}",
    "{\"earn\":{\"points_per_unit\":0.005,\"rounding\":\"ceil\",\"default_multiplier\":0}}",
    "{\"earn\":{\"points_per_unit\":1.250,\"categories\":{\"a\":1e-3,\"b\":100,\"c\":99.999,"
    "\"\\u00e9t\\u00e9\":2.5,\"q\\\"\\\\\\n\":0.5}}}",
    "{\"earn\":{\"rounding\":\"round\",\"max_per_order\":1000000000,\"max_per_day\":3.0e2}}",
    "{\"tiers\":{\"basis\":\"points\",\"window_days\":1,\"review_months\":0,\"levels\":["
    "{\"name\":\"B\",\"threshold\":0,\"multiplier\":0},{\"name\":\"A\",\"threshold\":1,"
    "\"multiplier\":100,\"free_shipping\":true}]}}",
    "{\"pilot\":{\"customers\":[\"u2\",\"u1\",\"u2\",\"\\u00fcser\",\"u1\"]}}",
    "{\"referral\":{\"link\":\"{code}\",\"return_window_days\":3650}}",
    "{\"bonuses\":{\"intensify\":{\"points\":1,\"factor\":1.001,\"window_days\":1,"
    "\"period_days\":3650,\"min_history_days\":7},\"comeback\":{\"points\":1e9,"
    "\"after_days\":1}}}",
    "{\"expiry\":{\"months\":120},\"refunds\":{\"allow_debt\":true},\"point_value\":1000000}",
    "{\"pilot\":{\"segment\":9223372036854775807}}",
    "  {\"currency\" : \"EUR\" }  \n",
};

Test(loyalty_program, canonical_json_parses_back_to_the_same_programme)
{
    for (size_t i = 0; i < sizeof GOOD / sizeof GOOD[0]; i++)
        expect_round_trip(GOOD[i], strlen(GOOD[i]));
    struct pt_loy_program p;
    parse_ok(GOOD[6], strlen(GOOD[6]), &p);
    cr_assert_eq(p.npilot, 3, "ids de-duplicated");
    cr_expect_str_eq(p.pilot_ids[0], "u1");
    cr_expect_str_eq(p.pilot_ids[1], "u2");
    cr_expect(pt_loy_pilot_has(&p, "u2") && pt_loy_pilot_has(&p, "\xc3\xbcser"));
    cr_expect(!pt_loy_pilot_has(&p, "u3") && !pt_loy_pilot_has(&p, NULL));
    pt_loy_program_release(&p);
    parse_ok(GOOD[3], strlen(GOOD[3]), &p);
    cr_assert_eq(p.ncats, 5);
    cr_expect_eq(p.rate_milli, 1250);
    cr_expect_eq(p.cats[0].milli, 1);     /* "a": 1e-3 */
    cr_expect_eq(p.cats[2].milli, 99999); /* "c": 99.999 */
    cr_expect_str_eq(p.cats[3].name, "q\"\\\n");
    char *j = canon(&p);
    cr_expect(strstr(j, "\"a\":0.001,\"b\":100,\"c\":99.999,\"q\\\"\\\\\\u000a\":0.5,"
                        "\"\xc3\xa9t\xc3\xa9\":2.5") != NULL,
              "%s", j);
    free(j);
    pt_loy_program_release(&p);
}

/* ---- random documents ---- */

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int64_t between(uint64_t *s, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd(s) % (uint64_t)(hi - lo + 1));
}

/* A whole number in one of the spellings JSON allows for it. */
static void add_whole(struct pt_buf *b, uint64_t *s, int64_t v)
{
    switch (rnd(s) % 4) {
    case 0:
        pt_buf_printf(b, "%lld.0", (long long)v);
        break;
    case 1:
        pt_buf_printf(b, "%lld.000e0", (long long)v);
        break;
    default:
        pt_buf_printf(b, "%lld", (long long)v);
    }
}

/* A decimal of m thousandths, spelt in various ways. */
static void add_milli(struct pt_buf *b, uint64_t *s, int64_t m)
{
    switch (rnd(s) % 4) {
    case 0:
        pt_buf_printf(b, "%lld.%03lld", (long long)(m / 1000), (long long)(m % 1000));
        break;
    case 1:
        pt_buf_printf(b, "%llde-3", (long long)m);
        break;
    case 2:
        if (m % 1000 == 0) {
            pt_buf_printf(b, "%lld", (long long)(m / 1000));
            break;
        }
        /* fall through */
    default:
        pt_buf_printf(b, "%.3f", (double)m / 1000);
    }
}

static void add_name(struct pt_buf *b, uint64_t *s, const char *prefix, size_t i)
{
    static const char *const bits[] = {"a", "\\u00e9", "-", " ", "\\n", "\\\"", "Z", "\\/"};
    pt_buf_printf(b, "\"%s%zu", prefix, i);
    for (uint64_t n = rnd(s) % 4; n > 0; n--)
        pt_buf_adds(b, bits[rnd(s) % 8]);
    pt_buf_adds(b, "\"");
}

static void gen_doc(uint64_t *s, struct pt_buf *b)
{
    pt_buf_adds(b, "{");
    const char *sep = "";
#define KEY(k) (pt_buf_printf(b, "%s\"%s\":", sep, k), sep = ",")
    if (rnd(s) % 2)
        KEY("enabled"), pt_buf_adds(b, rnd(s) % 2 ? "true" : "false");
    if (rnd(s) % 2)
        KEY("currency"), pt_buf_adds(b, rnd(s) % 3 ? "\"USD\"" : "null");
    if (rnd(s) % 2)
        KEY("point_value"), add_whole(b, s, between(s, 1, 1000000));
    if (rnd(s) % 2) {
        KEY("earn");
        pt_buf_printf(b, "{\"points_per_unit\":");
        add_milli(b, s, between(s, 0, 1000000));
        pt_buf_printf(b, ",\"rounding\":\"%s\",\"categories\":{",
                      (const char *[]){"floor", "round", "ceil"}[rnd(s) % 3]);
        for (size_t i = 0, n = rnd(s) % 6; i < n; i++) {
            pt_buf_adds(b, i ? "," : "");
            add_name(b, s, "c", i);
            pt_buf_adds(b, ":");
            add_milli(b, s, between(s, 0, 100000));
        }
        pt_buf_adds(b, "},\"max_per_day\":");
        add_whole(b, s, between(s, 0, 1000000000));
        pt_buf_adds(b, ",\"events\":{");
        for (size_t i = 0, n = rnd(s) % 4; i < n; i++) {
            pt_buf_adds(b, i ? "," : "");
            add_name(b, s, "e", i);
            pt_buf_printf(b, ":{\"points\":%lld", (long long)between(s, 1, 1000000000));
            if (rnd(s) % 2)
                pt_buf_printf(b, ",\"max_total\":%lld", (long long)between(s, 0, 5));
            pt_buf_adds(b, "}");
        }
        pt_buf_adds(b, "}}");
    }
    if (rnd(s) % 2) {
        KEY("bonuses");
        pt_buf_printf(b, "{\"intensify\":");
        if (rnd(s) % 2) {
            pt_buf_printf(b, "{\"points\":%lld,\"factor\":", (long long)between(s, 1, 999));
            add_milli(b, s, between(s, 1001, 100000));
            pt_buf_printf(b, ",\"period_days\":%lld}", (long long)between(s, 1, 3650));
        } else {
            pt_buf_adds(b, "null");
        }
        if (rnd(s) % 2)
            pt_buf_printf(b, ",\"comeback\":{\"after_days\":%lld,\"points\":5}",
                          (long long)between(s, 1, 3650));
        pt_buf_adds(b, "}");
    }
    if (rnd(s) % 2) {
        KEY("tiers");
        pt_buf_printf(b, "{\"basis\":\"%s\",\"review_months\":%lld,\"levels\":[",
                      rnd(s) % 2 ? "spend" : "points", (long long)between(s, 0, 120));
        int64_t t = between(s, 0, 1000);
        for (size_t i = 0, n = rnd(s) % 5; i < n; i++) {
            pt_buf_adds(b, i ? ",{\"name\":" : "{\"name\":");
            add_name(b, s, "t", i);
            pt_buf_adds(b, ",\"threshold\":");
            add_whole(b, s, t);
            t += between(s, 1, 100000);
            pt_buf_adds(b, ",\"multiplier\":");
            add_milli(b, s, between(s, 0, 100000));
            pt_buf_printf(b, ",\"free_shipping\":%s}", rnd(s) % 2 ? "true" : "false");
        }
        pt_buf_adds(b, "]}");
    }
    if (rnd(s) % 2)
        KEY("expiry"), pt_buf_printf(b, "{\"months\":%lld}", (long long)between(s, 0, 120));
    if (rnd(s) % 2) {
        KEY("pilot");
        if (rnd(s) % 2) {
            pt_buf_printf(b, "{\"segment\":%lld}", (long long)between(s, 1, 1000));
        } else {
            pt_buf_adds(b, "{\"customers\":[");
            for (size_t i = 0, n = 1 + rnd(s) % 5; i < n; i++) {
                pt_buf_adds(b, i ? "," : "");
                add_name(b, s, "u", rnd(s) % 3);
            }
            pt_buf_adds(b, "]}");
        }
    }
    if (rnd(s) % 2) {
        KEY("referral");
        pt_buf_printf(b, "{\"friend_points\":%lld%s}", (long long)between(s, 0, 1000),
                      rnd(s) % 2 ? ",\"link\":\"x{code}\\u00e9\"" : "");
    }
#undef KEY
    pt_buf_adds(b, "}");
}

Test(loyalty_program, random_documents_round_trip)
{
    uint64_t seed = 42;
    struct pt_buf b;
    pt_buf_init(&b);
    for (int i = 0; i < 2000; i++) {
        pt_buf_reset(&b);
        gen_doc(&seed, &b);
        expect_round_trip(b.data, b.len);
    }
    pt_buf_release(&b);
}

/* ---- mistakes ---- */

static const struct {
    const char *doc;
    int rc;
    const char *field, *msg;
} BAD[] = {
    {"[1, 2]", PT_EPARSE, "", "must be a JSON object, not a list"},
    {"{\"zzz\": 1}", PT_EPARSE, "zzz", "unknown key \"zzz\" (known keys: enabled, currency"},
    {"{\"bonus\": {}}", PT_EPARSE, "bonus", "did you mean \"bonuses\"?"},
    {"{\"enabled\": 1}", PT_EPARSE, "enabled", "must be true or false, not a number"},
    {"{\"currency\": \"pln\"}", PT_EPARSE, "currency", "3 upper-case letters"},
    {"{\"currency\": \"PLNX\"}", PT_EPARSE, "currency", "ISO-4217"},
    {"{\"currency\": 985}", PT_EPARSE, "currency", "ISO-4217"},
    {"{\"point_value\": 0}", PT_EPARSE, "point_value", "from 1 to 1000000, not 0"},
    {"{\"point_value\": 1e300}", PT_EPARSE, "point_value", "whole number from 1 to 1000000"},
    {"{\"earn\": null}", PT_EPARSE, "earn", "must be an object, not null"},
    {"{\"earn\": {\"point_per_unit\": 1}}", PT_EPARSE, "earn.point_per_unit",
     "did you mean \"points_per_unit\"?"},
    {"{\"earn\": {\"points_per_unit\": -1}}", PT_EPARSE, "earn.points_per_unit",
     "must be a number from 0 to 1000"},
    {"{\"earn\": {\"points_per_unit\": 1.0005}}", PT_EPARSE, "earn.points_per_unit",
     "at most 3 decimals, not 1.0005"},
    {"{\"earn\": {\"points_per_unit\": 0.0001}}", PT_EPARSE, "earn.points_per_unit",
     "at most 3 decimals"},
    {"{\"earn\": {\"rounding\": \"up\"}}", PT_EPARSE, "earn.rounding",
     "must be \"floor\" or \"round\" or \"ceil\", not \"up\""},
    {"{\"earn\": {\"rounding\": 1}}", PT_EPARSE, "earn.rounding", "not a number"},
    {"{\"earn\": {\"categories\": []}}", PT_EPARSE, "earn.categories", "must be an object"},
    {"{\"earn\": {\"categories\": {\"shoes\": 101}}}", PT_EPARSE, "earn.categories.shoes",
     "from 0 to 100"},
    {"{\"earn\": {\"categories\": {\"shoes\": \"2\"}}}", PT_EPARSE, "earn.categories.shoes",
     "must be a number, not a string"},
    {"{\"earn\": {\"categories\": {\"shoes\": 1.2345}}}", PT_EPARSE, "earn.categories.shoes",
     "at most 3 decimals"},
    {"{\"earn\": {\"categories\": {\"\": 2}}}", PT_EPARSE, "earn.categories.",
     "a category name must not be empty"},
    {"{\"earn\": {\"default_multiplier\": true}}", PT_EPARSE, "earn.default_multiplier",
     "must be a number, not true"},
    {"{\"earn\": {\"max_per_order\": -5}}", PT_EPARSE, "earn.max_per_order",
     "from 0 to 1000000000, not -5"},
    {"{\"earn\": {\"events\": {\"Signed Up\": {\"points\": 1.5}}}}", PT_EPARSE,
     "earn.events.Signed Up.points", "must be a whole number, not 1.5"},
    {"{\"earn\": {\"events\": {\"Signed Up\": {}}}}", PT_EPARSE, "earn.events.Signed Up.points",
     "missing: give a whole number from 1 to 1000000000"},
    {"{\"earn\": {\"events\": {\"Signed Up\": {\"points\": 0}}}}", PT_EPARSE,
     "earn.events.Signed Up.points", "from 1 to 1000000000, not 0"},
    {"{\"earn\": {\"events\": {\"Signed Up\": {\"points\": true}}}}", PT_EPARSE,
     "earn.events.Signed Up.points", "must be a whole number, not true"},
    {"{\"earn\": {\"events\": {\"Review Written\": {\"points\": 20, \"max_per_dya\": 3}}}}",
     PT_EPARSE, "earn.events.Review Written.max_per_dya", "did you mean \"max_per_day\"?"},
    {"{\"earn\": {\"events\": {\"Signed Up\": 100}}}", PT_EPARSE, "earn.events.Signed Up",
     "must be an object like {\"points\": 10}, not a number"},
    {"{\"earn\": {\"events\": {\"Signed Up\": {\"points\": 100, \"max_total\": -1}}}}", PT_EPARSE,
     "earn.events.Signed Up.max_total", "from 0 to 1000000000"},
    {"{\"bonuses\": {\"intensify\": {\"window_days\": 30}}}", PT_EPARSE, "bonuses.intensify.points",
     "missing"},
    {"{\"bonuses\": {\"intensify\": {\"points\": 200, \"factor\": 1}}}", PT_EPARSE,
     "bonuses.intensify.factor", "greater than 1 and at most 100"},
    {"{\"bonuses\": {\"intensify\": {\"points\": 200, \"window_days\": 0}}}", PT_EPARSE,
     "bonuses.intensify.window_days", "from 1 to 3650, not 0"},
    {"{\"bonuses\": {\"intensify\": {\"points\": 200, \"period\": 9}}}", PT_EPARSE,
     "bonuses.intensify.period", "unknown key \"period\""},
    {"{\"bonuses\": {\"comeback\": {\"points\": 300}}}", PT_EPARSE, "bonuses.comeback.after_days",
     "missing"},
    {"{\"bonuses\": {\"comeback\": {\"points\": 300, \"after_days\": 3651}}}", PT_EPARSE,
     "bonuses.comeback.after_days", "from 1 to 3650"},
    {"{\"bonuses\": {\"comeback\": true}}", PT_EPARSE, "bonuses.comeback",
     "must be an object or null, not true"},
    {"{\"tiers\": {\"basis\": \"revenue\"}}", PT_EPARSE, "tiers.basis",
     "must be \"spend\" or \"points\""},
    {"{\"tiers\": {\"review_months\": 121}}", PT_EPARSE, "tiers.review_months", "from 0 to 120"},
    {"{\"tiers\": {\"levels\": {}}}", PT_EPARSE, "tiers.levels", "must be a list of levels"},
    {"{\"tiers\": {\"levels\": [5]}}", PT_EPARSE, "tiers.levels[0]", "must be an object like"},
    {"{\"tiers\": {\"levels\": [{\"threshold\": 0}]}}", PT_EPARSE, "tiers.levels[0].name",
     "missing"},
    {"{\"tiers\": {\"levels\": [{\"name\": \"\", \"threshold\": 0}]}}", PT_EPARSE,
     "tiers.levels[0].name", "a tier name must not be empty"},
    {"{\"tiers\": {\"levels\": [{\"name\": 3, \"threshold\": 0}]}}", PT_EPARSE,
     "tiers.levels[0].name", "must be a string, not a number"},
    {"{\"tiers\": {\"levels\": [{\"name\": \"Gold\", \"threshold\": 0}, {\"name\": \"Gold\", "
     "\"threshold\": 1}]}}",
     PT_EPARSE, "tiers.levels[1].name", "\"Gold\" is already used by tiers.levels[0]"},
    {"{\"tiers\": {\"levels\": [{\"name\": \"Silver\", \"threshold\": 50000}, {\"name\": \"Gold\","
     " \"threshold\": 50000}]}}",
     PT_EPARSE, "tiers.levels[1].threshold", "must rise strictly: 50000 is not above"},
    {"{\"tiers\": {\"levels\": [{\"name\": \"A\", \"threshold\": -1}]}}", PT_EPARSE,
     "tiers.levels[0].threshold", "from 0 to 1000000000"},
    {"{\"tiers\": {\"levels\": [{\"name\": \"A\", \"threshold\": 0, \"multiplier\": 1.2345}]}}",
     PT_EPARSE, "tiers.levels[0].multiplier", "at most 3 decimals"},
    {"{\"tiers\": {\"levels\": [{\"name\": \"A\", \"threshold\": 0, \"free_shipping\": "
     "\"yes\"}]}}",
     PT_EPARSE, "tiers.levels[0].free_shipping", "must be true or false, not a string"},
    {"{\"tiers\": {\"levels\": [{\"name\": \"A\", \"threshold\": 0, \"benefit\": 1}]}}", PT_EPARSE,
     "tiers.levels[0].benefit", "unknown key"},
    {"{\"expiry\": {\"months\": 12.5}}", PT_EPARSE, "expiry.months",
     "must be a whole number, not 12.5"},
    {"{\"expiry\": {\"months\": \"12\"}}", PT_EPARSE, "expiry.months", "not a string"},
    {"{\"refunds\": {\"allow_debt\": null}}", PT_EPARSE, "refunds.allow_debt", "not null"},
    {"{\"pilot\": {}}", PT_EPARSE, "pilot", "needs a segment or a list of customers"},
    {"{\"pilot\": {\"segment\": 3, \"customers\": [\"a\"]}}", PT_EPARSE, "pilot", "not both"},
    {"{\"pilot\": {\"segment\": 0}}", PT_EPARSE, "pilot.segment", "from 1 to"},
    {"{\"pilot\": {\"customers\": []}}", PT_EPARSE, "pilot.customers", "must not be empty"},
    {"{\"pilot\": {\"customers\": \"u1\"}}", PT_EPARSE, "pilot.customers",
     "must be a list of customer ids"},
    {"{\"pilot\": {\"customers\": [\"a\", \"\"]}}", PT_EPARSE, "pilot.customers[1]",
     "a customer id must not be empty"},
    {"{\"pilot\": {\"customers\": [\"a\", 7]}}", PT_EPARSE, "pilot.customers[1]",
     "a customer id must be a string, not a number"},
    {"{\"pilot\": {\"segmnet\": 3}}", PT_EPARSE, "pilot.segmnet", "did you mean \"segment\"?"},
    {"{\"referral\": {\"link\": \"https://x/r/\"}}", PT_EPARSE, "referral.link",
     "must contain {code}"},
    {"{\"referral\": {\"link\": 5}}", PT_EPARSE, "referral.link", "must be a string"},
    {"{\"referral\": {\"return_window_days\": 0}}", PT_EPARSE, "referral.return_window_days",
     "from 1 to 3650"},
    {"{\"referral\": {\"friend_points\": -1}}", PT_EPARSE, "referral.friend_points",
     "from 0 to 1000000000"},
    /* limits */
    {"{\"earn\": {\"events\": {\"Signed Up\": {\"points\": 1000000001}}}}", PT_ETOOBIG,
     "earn.events.Signed Up.points", "1000000001 is over the limit of 1000000000"},
    {"{\"earn\": {\"max_per_day\": 1e12}}", PT_ETOOBIG, "earn.max_per_day", "over the limit"},
    {"{\"earn\": {\"max_per_day\": 1e19}}", PT_ETOOBIG, "earn.max_per_day", "over the limit"},
    {"{\"tiers\": {\"levels\": [{\"name\": \"A\", \"threshold\": 2000000000}]}}", PT_ETOOBIG,
     "tiers.levels[0].threshold", "over the limit"},
    {"{\"referral\": {\"referrer_points\": 1000000001}}", PT_ETOOBIG, "referral.referrer_points",
     "over the limit"},
};

Test(loyalty_program, mistakes_name_the_path_and_the_reason)
{
    cr_assert_geq(sizeof BAD / sizeof BAD[0], 30);
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        struct pt_loy_program p;
        char field[160];
        struct pt_err e = {0};
        memset(field, 'x', sizeof field);
        int rc = pt_loy_program_parse(BAD[i].doc, strlen(BAD[i].doc), &p, field, &e);
        cr_expect_eq(rc, BAD[i].rc, "%s: rc %d (%s)", BAD[i].doc, rc, e.msg);
        cr_expect_str_eq(field, BAD[i].field, "%s: field \"%s\" (%s)", BAD[i].doc, field, e.msg);
        cr_expect(strstr(e.msg, BAD[i].msg) != NULL, "%s: message \"%s\" lacks \"%s\"", BAD[i].doc,
                  e.msg, BAD[i].msg);
        if (BAD[i].field[0]) { /* "PATH: reason" */
            cr_expect(strncmp(e.msg, BAD[i].field, strlen(BAD[i].field)) == 0 &&
                          e.msg[strlen(BAD[i].field)] == ':',
                      "%s: message \"%s\"", BAD[i].doc, e.msg);
        }
        cr_expect(e.line == 0 && e.column == 0, "no position for a rule error");
        cr_expect(p.cats == NULL && p.events == NULL && p.tiers == NULL && p.pilot_ids == NULL &&
                      p.link == NULL && p.ncats == 0,
                  "a failed parse leaves nothing");
    }
}

static const struct {
    const char *doc;
    unsigned line, col;
    const char *msg;
} SYNTAX[] = {
    {"", 1, 1, "'[' or '{' expected near end of file"},
    {"{", 1, 1, "string or '}' expected near end of file"},
    {"{\n  \"enabled\": tru\n}", 2, 16, "invalid token near 'tru'"},
    {"{\"earn\": {\"rounding\": \"floor\",}}", 1, 31, "string or '}' expected near '}'"},
    {"{\"enabled\": true, \"enabled\": false}", 1, 27, "duplicate object key"},
    {"{}\n\nx", 3, 1, "end of file expected near 'x'"},
    {"{\"point_value\": 99999999999999999999}", 1, 36, "too big integer"},
    {"{\"currency\": \"P\\u0000N\"}", 1, 23, "\\u0000 is not allowed"},
};

Test(loyalty_program, syntax_errors_carry_line_and_column)
{
    for (size_t i = 0; i < sizeof SYNTAX / sizeof SYNTAX[0]; i++) {
        struct pt_loy_program p;
        char field[160] = "junk";
        struct pt_err e = {0};
        int rc = pt_loy_program_parse(SYNTAX[i].doc, strlen(SYNTAX[i].doc), &p, field, &e);
        cr_expect_eq(rc, PT_EPARSE, "%s: rc %d", SYNTAX[i].doc, rc);
        cr_expect_str_eq(field, "");
        cr_expect(e.line == SYNTAX[i].line && e.column == SYNTAX[i].col,
                  "%s: at %u:%u, want %u:%u (%s)", SYNTAX[i].doc, (unsigned)e.line,
                  (unsigned)e.column, SYNTAX[i].line, SYNTAX[i].col, e.msg);
        char want[64];
        snprintf(want, sizeof want, "invalid JSON at line %u, column %u: ", SYNTAX[i].line,
                 SYNTAX[i].col);
        cr_expect(strncmp(e.msg, want, strlen(want)) == 0, "message \"%s\"", e.msg);
        cr_expect(strstr(e.msg, SYNTAX[i].msg) != NULL, "%s: message \"%s\" lacks \"%s\"",
                  SYNTAX[i].doc, e.msg, SYNTAX[i].msg);
    }
    /* NULL text with length 0, NULL field and error record */
    struct pt_loy_program p;
    cr_expect_eq(pt_loy_program_parse(NULL, 0, &p, NULL, NULL), PT_EPARSE);
    cr_expect_eq(pt_loy_program_parse("{}", 2, &p, NULL, NULL), 0);
    pt_loy_program_release(&p);
}

/* ---- limits ---- */

static void expect_too_big(const struct pt_buf *b, const char *field, const char *msg)
{
    struct pt_loy_program p;
    char f[160];
    struct pt_err e = {0};
    int rc = pt_loy_program_parse(b->data, b->len, &p, f, &e);
    cr_expect_eq(rc, PT_ETOOBIG, "rc %d (%s)", rc, e.msg);
    cr_expect_str_eq(f, field, "(%s)", e.msg);
    cr_expect(strstr(e.msg, msg) != NULL, "message \"%s\" lacks \"%s\"", e.msg, msg);
}

/* open, then n entries printf'd from fmt with (i, i % 50), then close */
static void many(struct pt_buf *b, const char *open, size_t n, const char *fmt, const char *close)
{
    pt_buf_reset(b);
    pt_buf_adds(b, open);
    for (size_t i = 0; i < n; i++) {
        pt_buf_adds(b, i ? "," : "");
        pt_buf_printf(b, fmt, i, i % 50);
    }
    pt_buf_adds(b, close);
}

Test(loyalty_program, limits_are_too_big_errors)
{
    struct pt_buf b;
    pt_buf_init(&b);
    struct pt_loy_program p;

    many(&b, "{\"earn\":{\"categories\":{", 1000, "\"c%zu\":%zu", "}}}");
    parse_ok(b.data, b.len, &p);
    cr_expect_eq(p.ncats, 1000);
    pt_loy_program_release(&p);
    many(&b, "{\"earn\":{\"categories\":{", 1001, "\"c%zu\":%zu", "}}}");
    cr_expect_eq(b.len < PT_LOY_MAX_BODY, 1);
    expect_too_big(&b, "earn.categories", "1001 categories; the limit is 1000");

    many(&b, "{\"earn\":{\"events\":{", 200, "\"e%zu\":{\"points\":1%zu}", "}}}");
    parse_ok(b.data, b.len, &p);
    pt_loy_program_release(&p);
    many(&b, "{\"earn\":{\"events\":{", 201, "\"e%zu\":{\"points\":1%zu}", "}}}");
    expect_too_big(&b, "earn.events", "201 event rules; the limit is 200");

    many(&b, "{\"tiers\":{\"levels\":[", 17, "{\"name\":\"t%zu\",\"threshold\":%zu}", "]}}");
    expect_too_big(&b, "tiers.levels", "17 levels; the limit is 16");

    many(&b, "{\"pilot\":{\"customers\":[", 10000, "\"u%zu-%zu\"", "]}}");
    parse_ok(b.data, b.len, &p);
    cr_expect_eq(p.npilot, 10000);
    cr_expect(pt_loy_pilot_has(&p, "u9999-49") && pt_loy_pilot_has(&p, "u0-0"));
    pt_loy_program_release(&p);
    many(&b, "{\"pilot\":{\"customers\":[", 10001, "\"u%zu-%zu\"", "]}}");
    expect_too_big(&b, "pilot.customers", "10001 customer ids; the limit is 10000");

    char name[300];
    memset(name, 'n', sizeof name);
    pt_buf_reset(&b);
    pt_buf_printf(&b, "{\"earn\":{\"categories\":{\"%.128s\":1}}}", name);
    parse_ok(b.data, b.len, &p);
    pt_loy_program_release(&p);
    pt_buf_reset(&b);
    pt_buf_printf(&b, "{\"earn\":{\"categories\":{\"%.129s\":1}}}", name);
    char want[200];
    snprintf(want, sizeof want, "earn.categories.%.129s", name);
    expect_too_big(&b, want, "a category name is 129 bytes; the limit is 128");
    pt_buf_reset(&b);
    pt_buf_printf(&b, "{\"tiers\":{\"levels\":[{\"name\":\"%.129s\",\"threshold\":0}]}}", name);
    expect_too_big(&b, "tiers.levels[0].name", "a tier name is 129 bytes");
    pt_buf_reset(&b);
    pt_buf_printf(&b, "{\"pilot\":{\"customers\":[\"%.257s\"]}}", name);
    expect_too_big(&b, "pilot.customers[0]", "a customer id is 257 bytes; the limit is 256");
    /* an event name at the limit with an unknown key: the path is cut, not overrun */
    pt_buf_reset(&b);
    pt_buf_printf(&b, "{\"earn\":{\"events\":{\"%.128s\":{\"points\":1,\"%.60s\":2}}}}", name,
                  name);
    char field[160];
    struct pt_err e;
    cr_expect_eq(pt_loy_program_parse(b.data, b.len, &p, field, &e), PT_EPARSE);
    cr_expect_eq(strlen(field), 159, "%s", field);
    cr_expect(strncmp(field, "earn.events.nnn", 15) == 0);

    char link[600];
    memset(link, 'l', sizeof link);
    memcpy(link, "{code}", 6);
    pt_buf_reset(&b);
    pt_buf_printf(&b, "{\"referral\":{\"link\":\"%.512s\"}}", link);
    parse_ok(b.data, b.len, &p);
    pt_loy_program_release(&p);
    pt_buf_reset(&b);
    pt_buf_printf(&b, "{\"referral\":{\"link\":\"%.513s\"}}", link);
    expect_too_big(&b, "referral.link", "the link is 513 bytes; the limit is 512");

    /* the document itself */
    pt_buf_reset(&b);
    pt_buf_adds(&b, "{}");
    while (b.len <= PT_LOY_MAX_BODY)
        pt_buf_adds(&b, "                ");
    expect_too_big(&b, "", "the limit is 262144");

    /* a document that fits but whose canonical form would not: names of
     * newlines, 2 bytes each in the input and 6 ("\u000a") written out */
    pt_buf_reset(&b);
    pt_buf_adds(&b, "{\"earn\":{\"categories\":{");
    for (int i = 0; i < 400; i++) {
        pt_buf_printf(&b, "%s\"%03d", i ? "," : "", i);
        for (int k = 0; k < 125; k++)
            pt_buf_adds(&b, "\\n");
        pt_buf_adds(&b, "\":1");
    }
    pt_buf_adds(&b, "}}}");
    cr_assert_lt(b.len, PT_LOY_MAX_BODY);
    expect_too_big(&b, "", "written out in full is");
    pt_buf_release(&b);
}

Test(loyalty_program, allocation_failures_are_clean)
{
    static const char doc[] =
        "{\"earn\":{\"categories\":{\"a\":1,\"b\":2},\"events\":{\"x\":{\"points\":1}}},"
        "\"tiers\":{\"levels\":[{\"name\":\"S\",\"threshold\":1},{\"name\":\"G\","
        "\"threshold\":2}]},\"pilot\":{\"customers\":[\"u1\",\"u2\",\"u1\"]},"
        "\"referral\":{\"link\":\"{code}\"}}";
    int ok = 0;
    for (unsigned long n = 1; n < 200 && !ok; n++) {
        struct pt_loy_program p;
        struct pt_err e;
        char field[160];
        pt_mem_fail_after(n);
        int rc = pt_loy_program_parse(doc, sizeof doc - 1, &p, field, &e);
        pt_mem_fail_after(0);
        cr_assert(rc == 0 || rc == PT_ENOMEM, "rc %d at %lu: %s", rc, n, e.msg);
        if (rc == 0) {
            ok = 1;
            cr_expect_eq(p.npilot, 2);
        } else {
            cr_expect(p.cats == NULL && p.pilot_ids == NULL && p.tiers == NULL);
        }
        pt_loy_program_release(&p);
    }
    cr_expect(ok, "parses once allocations succeed");
    struct pt_loy_program p;
    parse_ok(doc, sizeof doc - 1, &p);
    struct pt_buf b;
    pt_buf_init(&b);
    pt_buf_adds(&b, "prefix");
    pt_mem_fail_after(2);
    int rc = pt_loy_program_json(&p, &b);
    pt_mem_fail_after(0);
    cr_expect_eq(rc, PT_ENOMEM);
    cr_expect_str_eq(b.data, "prefix", "unchanged on failure");
    pt_buf_release(&b);
    pt_loy_program_release(&p);
}

/* ---- points of an order ---- */

#define PROGRAMME                                                                                  \
    "{\"earn\":{\"points_per_unit\":1,\"rounding\":\"%s\",\"categories\":{\"electronics\":2,"      \
    "\"gift-cards\":0}},\"tiers\":{\"levels\":[{\"name\":\"Silver\",\"threshold\":0,"              \
    "\"multiplier\":1.25},{\"name\":\"Gold\",\"threshold\":100,\"multiplier\":1.5}]}}"

static void programme(struct pt_loy_program *p, const char *rounding)
{
    char doc[512];
    snprintf(doc, sizeof doc, PROGRAMME, rounding);
    parse_ok(doc, strlen(doc), p);
}

static int64_t order(const struct pt_loy_program *p, int64_t amount, struct pt_evline *l,
                     uint32_t n, int tier)
{
    struct pt_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = PT_K_ORDER_COMPLETED;
    ev.amount = amount;
    ev.has_amount = 1;
    ev.lines = l;
    ev.nlines = n;
    return pt_loy_order_points(p, &ev, tier);
}

Test(loyalty_program, order_points_by_hand)
{
    static const char *const modes[] = {"floor", "round", "ceil"};
    /* 100.00 paid; lines 30.00 electronics (2x), 20.00 gift card (0x), 3 x 10.00 books (1x):
     * shares 37.50, 25.00, 37.50 -> 75 + 0 + 37.5 = 112.5 points; Gold (1.5x) 168.75 */
    struct pt_evline l3[] = {
        {.category = "electronics", .price = 3000, .quantity = 1},
        {.category = "gift-cards", .price = 2000, .quantity = 1},
        {.category = "books", .price = 1000, .quantity = 3},
    };
    /* 120.00 of lines, 90.50 paid after a discount: electronics 60.00, 3 x 20.00 with no
     * category -> shares 45.25 each -> 90.5 + 45.25 = 135.75 */
    struct pt_evline disc[] = {
        {.category = "electronics", .price = 6000, .quantity = 1},
        {.category = NULL, .price = 2000, .quantity = 3},
    };
    struct pt_evline gift[] = {{.category = "gift-cards", .price = 5000, .quantity = 2}};
    struct pt_evline zero[] = {{.category = "electronics", .price = 0, .quantity = 1}};
    static const struct {
        int64_t want[3]; /* floor, round, ceil */
    } want[] = {
        {{112, 113, 113}}, /* l3, no tier */
        {{168, 169, 169}}, /* l3, Gold */
        {{140, 141, 141}}, /* l3, Silver: 140.625 */
        {{135, 136, 136}}, /* disc */
        {{123, 123, 124}}, /* no lines, 123.45 */
        {{185, 185, 186}}, /* no lines, Gold: 185.175 */
        {{1, 2, 2}},       /* no lines, 1.50: half rounds up */
        {{0, 0, 0}},       /* gift cards only */
        {{10, 10, 10}},    /* every line worth 0: the whole amount at the default */
        {{0, 0, 1}},       /* 0.01 paid */
    };
    for (int m = 0; m < 3; m++) {
        struct pt_loy_program p;
        programme(&p, modes[m]);
        cr_assert_eq(p.rounding, (enum pt_loy_round)m);
        int64_t got[] = {
            order(&p, 10000, l3, 3, -1),   order(&p, 10000, l3, 3, 1),
            order(&p, 10000, l3, 3, 0),    order(&p, 9050, disc, 2, -1),
            order(&p, 12345, NULL, 0, -1), order(&p, 12345, NULL, 0, 1),
            order(&p, 150, NULL, 0, -1),   order(&p, 99999, gift, 1, 1),
            order(&p, 1000, zero, 1, -1),  order(&p, 1, NULL, 0, -1),
        };
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
            cr_expect_eq(got[i], want[i].want[m], "case %zu, %s: %lld, want %lld", i, modes[m],
                         (long long)got[i], (long long)want[i].want[m]);
        /* nothing for nothing, never negative; an unknown tier index counts as none */
        cr_expect_eq(order(&p, 0, l3, 3, 1), 0);
        cr_expect_eq(order(&p, -500, l3, 3, 1), 0);
        cr_expect_eq(order(&p, 10000, l3, 3, 7), order(&p, 10000, l3, 3, -1));
        /* lines with a negative price or quantity weigh nothing */
        struct pt_evline neg[] = {{.category = "electronics", .price = -100, .quantity = 1},
                                  {.category = "books", .price = 100, .quantity = 1}};
        cr_expect_eq(order(&p, 10000, neg, 2, -1), 100);
        pt_loy_program_release(&p);
    }
}

Test(loyalty_program, round_modes)
{
    cr_expect_eq(pt_loy_round(7, 2, PT_LOY_FLOOR), 3);
    cr_expect_eq(pt_loy_round(7, 2, PT_LOY_ROUND), 4);
    cr_expect_eq(pt_loy_round(7, 2, PT_LOY_CEIL), 4);
    cr_expect_eq(pt_loy_round(5, 3, PT_LOY_ROUND), 2);
    cr_expect_eq(pt_loy_round(4, 3, PT_LOY_ROUND), 1);
    cr_expect_eq(pt_loy_round(6, 3, PT_LOY_CEIL), 2);
    cr_expect_eq(pt_loy_round(0, 3, PT_LOY_CEIL), 0);
    cr_expect_eq(pt_loy_round(-5, 3, PT_LOY_CEIL), 0);
    cr_expect_eq(pt_loy_round(5, 0, PT_LOY_CEIL), 0);
    __int128 big = ((__int128)1 << 126) + 1;
    cr_expect_eq(pt_loy_round(big, 1, PT_LOY_CEIL), INT64_MAX);
    cr_expect_eq(pt_loy_round(big, big - 1, PT_LOY_CEIL), 2);
    cr_expect_eq(pt_loy_round(big, 2, PT_LOY_ROUND), INT64_MAX);
}

/* ---- the slow reference ---- */

struct rorder {
    int64_t amount;
    struct pt_evline l[8];
    uint32_t n;
};

/* The formula of the brief, line by line with a linear category search, in
 * __int128 (the random values keep it far from overflow). */
static int64_t reference(const struct pt_loy_program *p, const struct rorder *o, int tier)
{
    __int128 tm = tier >= 0 ? p->tiers[tier].earn_milli : 1000, num = 0, sum = 0;
    for (uint32_t i = 0; i < o->n; i++) {
        int64_t cat = p->default_cat_milli;
        for (size_t k = 0; k < p->ncats; k++)
            if (o->l[i].category && strcmp(p->cats[k].name, o->l[i].category) == 0)
                cat = p->cats[k].milli;
        __int128 w = (__int128)o->l[i].price * o->l[i].quantity;
        num += (__int128)o->amount * w * cat;
        sum += w;
    }
    if (sum == 0) {
        num = (__int128)o->amount * p->default_cat_milli;
        sum = 1;
    }
    num *= p->rate_milli * tm;
    __int128 den = sum * 100 * 1000 * 1000 * 1000;
    if (o->amount <= 0)
        return 0;
    __int128 q = num / den, r = num % den;
    if (p->rounding == PT_LOY_CEIL && r > 0)
        q++;
    if (p->rounding == PT_LOY_ROUND && 2 * r >= den)
        q++;
    /* and a long double cross-check of the reference itself */
    long double ld = (long double)num / (long double)den;
    cr_assert(fabsl(ld - (long double)q) <= 1.0L, "reference %Lf vs %lld", ld, (long long)q);
    return (int64_t)q;
}

static const char *const CATS[] = {"a", "b", "c", "zz", "unknown", NULL};

static void random_programme(uint64_t *s, struct pt_loy_program *p)
{
    char doc[1024];
    snprintf(doc, sizeof doc,
             "{\"earn\":{\"points_per_unit\":%lld.%03lld,\"rounding\":\"%s\",\"categories\":"
             "{\"a\":0,\"b\":%lld.%03lld,\"c\":2,\"zz\":%lld.%03lld},\"default_multiplier\":"
             "%lld.%03lld},\"tiers\":{\"levels\":[{\"name\":\"x\",\"threshold\":0,\"multiplier\":"
             "%lld.%03lld},{\"name\":\"y\",\"threshold\":1,\"multiplier\":1.5}]}}",
             (long long)between(s, 0, 10), (long long)between(s, 0, 999),
             (const char *[]){"floor", "round", "ceil"}[rnd(s) % 3], (long long)between(s, 0, 99),
             (long long)between(s, 0, 999), (long long)between(s, 0, 99),
             (long long)between(s, 0, 999), (long long)between(s, 0, 3),
             (long long)between(s, 0, 999), (long long)between(s, 0, 2),
             (long long)between(s, 0, 999));
    parse_ok(doc, strlen(doc), p);
}

static void random_order(uint64_t *s, struct rorder *o)
{
    o->n = (uint32_t)(rnd(s) % 9);
    int64_t sum = 0;
    for (uint32_t i = 0; i < o->n; i++) {
        o->l[i] = (struct pt_evline){.category = CATS[rnd(s) % 6],
                                     .price = rnd(s) % 8 ? between(s, 0, 1000000) : 0,
                                     .quantity = rnd(s) % 3 ? 1 : between(s, 1, 12)};
        sum += o->l[i].price * o->l[i].quantity;
    }
    switch (rnd(s) % 4) {
    case 0:
        o->amount = sum; /* no discount */
        break;
    case 1:
        o->amount = sum - between(s, 0, sum / 2); /* a discount */
        break;
    case 2:
        o->amount = between(s, -10, 1000); /* small */
        break;
    default:
        o->amount = between(s, 0, 10000000);
    }
}

Test(loyalty_program, random_orders_match_a_slow_reference)
{
    uint64_t seed = 7;
    struct pt_loy_program p;
    random_programme(&seed, &p);
    for (int i = 0; i < 10000; i++) {
        if (i % 100 == 0) {
            pt_loy_program_release(&p);
            random_programme(&seed, &p);
        }
        struct rorder o;
        random_order(&seed, &o);
        int tier = (int)between(&seed, -1, 1);
        int64_t want = reference(&p, &o, tier);
        int64_t got = order(&p, o.amount, o.l, o.n, tier);
        cr_assert_eq(got, want, "order %d: %lld, want %lld", i, (long long)got, (long long)want);

        /* scaling every price by the same factor changes no share: the same
         * answer, from the 512-bit path once __int128 overflows */
        if (o.n > 0) {
            struct rorder big = o;
            int64_t f = (int64_t)1 << between(&seed, 20, 43);
            int64_t g = (int64_t)1 << between(&seed, 0, 40);
            for (uint32_t k = 0; k < big.n; k++) {
                big.l[k].price *= f;    /* < 2^20 x 2^43 */
                big.l[k].quantity *= g; /* < 2^4 x 2^40 */
            }
            got = order(&p, big.amount, big.l, big.n, tier);
            cr_assert_eq(got, want, "order %d scaled by %lld x %lld: %lld, want %lld", i,
                         (long long)f, (long long)g, (long long)got, (long long)want);
        }
    }
    pt_loy_program_release(&p);
}

Test(loyalty_program, huge_values_are_exact_or_saturate)
{
    struct pt_loy_program p;
    programme(&p, "floor");
    /* amount and weights near int64: every product overflows __int128; the
     * shares are still exact (two equal lines: half each) */
    struct pt_evline l[] = {{.category = "electronics", .price = INT64_MAX, .quantity = INT64_MAX},
                            {.category = "books", .price = INT64_MAX, .quantity = INT64_MAX}};
    /* 3 minor units: 1.5 at 2x + 1.5 at 1x = 4.5 minor units' worth: 0.045 -> 0 */
    cr_expect_eq(order(&p, 3, l, 2, -1), 0);
    cr_expect_eq(order(&p, 20000, l, 2, -1), 300); /* 100 x 2 + 100 x 1 */
    cr_expect_eq(order(&p, 20001, l, 2, 1), 450);  /* 300.015 x 1.5 = 450.0225 */
    p.rounding = PT_LOY_CEIL;
    cr_expect_eq(order(&p, 20001, l, 2, 1), 451);
    p.rounding = PT_LOY_ROUND;
    cr_expect_eq(order(&p, 20001, l, 2, 1), 450);
    /* the cap */
    cr_expect_eq(order(&p, INT64_MAX, l, 2, 1), PT_LOY_MAX_POINTS * 1000);
    cr_expect_eq(order(&p, INT64_MAX, NULL, 0, 1), PT_LOY_MAX_POINTS * 1000);
    p.rate_milli = INT64_MAX;
    p.tiers[1].earn_milli = INT64_MAX;
    cr_expect_eq(order(&p, INT64_MAX, l, 2, 1), PT_LOY_MAX_POINTS * 1000);
    cr_expect_eq(order(&p, 1, l, 2, 1) > 0, 1);
    /* the fast path's saturation: small weights, a result over the cap */
    struct pt_evline one[] = {{.category = "books", .price = 1, .quantity = 1}};
    cr_expect_eq(order(&p, 1000000000000000LL, one, 1, -1), PT_LOY_MAX_POINTS * 1000);
    /* random huge orders against long double */
    pt_loy_program_release(&p);
    programme(&p, "round");
    uint64_t seed = 99;
    for (int i = 0; i < 2000; i++) {
        struct pt_evline r[4];
        uint32_t n = (uint32_t)(1 + rnd(&seed) % 4);
        long double sw = 0, scw = 0;
        for (uint32_t k = 0; k < n; k++) {
            r[k] = (struct pt_evline){.category = CATS[rnd(&seed) % 5],
                                      .price = (int64_t)(rnd(&seed) >> 1),
                                      .quantity = (int64_t)(rnd(&seed) >> (1 + rnd(&seed) % 62))};
            long double w = (long double)r[k].price * (long double)r[k].quantity;
            int64_t cat = 1000;
            for (size_t c = 0; c < p.ncats; c++)
                if (strcmp(p.cats[c].name, r[k].category) == 0)
                    cat = p.cats[c].milli;
            sw += w;
            scw += w * (long double)cat;
        }
        if (sw == 0) /* every line weighs nothing: the default multiplier */
            sw = 1, scw = 1000;
        int64_t amount = (int64_t)(rnd(&seed) >> (1 + rnd(&seed) % 62));
        long double want = (long double)amount * scw / sw * 1000.0L * 1000.0L / 1e11L;
        if (want >= 1e12L)
            want = 1e12L;
        int64_t got = order(&p, amount, r, n, -1);
        cr_assert(fabsl((long double)got - want) <= 0.5L + want * 1e-15L,
                  "huge order %d: %lld, want about %Lf", i, (long long)got, want);
    }
    pt_loy_program_release(&p);
}
