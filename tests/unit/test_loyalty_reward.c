/*
 * test_loyalty_reward.c - reward definitions (src/loyalty/reward.h): full and
 * minimal documents parse with their defaults; the canonical JSON parses back
 * to the same reward; partial updates keep what they do not name and clear
 * with null; every broken rule is rejected with the JSON path in `field` and
 * a reason in the message; the pool voucher spec reads "expires" and ignores
 * the pool's own keys; allocation failures are clean.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loyalty/reward.h"
#include "store/store.h"
#include "util/mem.h"

static const char FULL[] =
    "{\"name\": \"10 PLN off\", \"description\": \"A discount on any order\", \"cost\": 500,\n"
    " \"stock\": 100, \"valid_from\": \"2026-01-01T00:00:00Z\", \"valid_to\": null,\n"
    " \"per_member_limit\": 2, \"min_tier\": \"Gold\",\n"
    " \"voucher\": {\"type\": \"amount\", \"value\": 1000, \"currency\": \"PLN\",\n"
    "             \"valid_days\": 30, \"max_uses\": 1}}";

static const char MINIMAL[] =
    "{\"name\": \"Free delivery\", \"cost\": 1, \"voucher\": {\"type\": \"free_shipping\"}}";

static void parse_ok(const char *json, int partial, struct pt_loy_reward *r)
{
    char field[64] = "junk";
    struct pt_err e = {0};
    int rc = pt_loy_reward_parse(json, strlen(json), partial, r, field, &e);
    cr_assert_eq(rc, 0, "%s\n-> %s (field %s)", json, e.msg, field);
    cr_assert_str_eq(field, "");
}

static char *to_json(const struct pt_loy_reward *r)
{
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_loy_reward_json(r, &b), 0);
    char *s = strdup(b.data);
    pt_buf_release(&b);
    return s;
}

static void same_reward(const struct pt_loy_reward *a, const struct pt_loy_reward *b)
{
    cr_assert_str_eq(a->name, b->name);
    if (a->description == NULL || b->description == NULL)
        cr_assert_eq(a->description, b->description);
    else
        cr_assert_str_eq(a->description, b->description);
    if (a->min_tier == NULL || b->min_tier == NULL)
        cr_assert_eq(a->min_tier, b->min_tier);
    else
        cr_assert_str_eq(a->min_tier, b->min_tier);
    cr_assert_eq(a->cost, b->cost);
    cr_assert_eq(a->stock, b->stock);
    cr_assert_eq(a->valid_from, b->valid_from);
    cr_assert_eq(a->valid_to, b->valid_to);
    cr_assert_eq(a->per_member, b->per_member);
    cr_assert_eq(memcmp(&a->voucher, &b->voucher, sizeof a->voucher), 0);
}

Test(loyalty_reward, full_definition)
{
    struct pt_loy_reward r;
    parse_ok(FULL, 0, &r);
    cr_expect_str_eq(r.name, "10 PLN off");
    cr_expect_str_eq(r.description, "A discount on any order");
    cr_expect_eq(r.cost, 500);
    cr_expect_eq(r.stock, 100);
    cr_expect_eq(r.valid_from, 1767225600); /* 2026-01-01T00:00:00Z */
    cr_expect_eq(r.valid_to, 0);
    cr_expect_eq(r.per_member, 2);
    cr_expect_str_eq(r.min_tier, "Gold");
    cr_expect_eq(r.voucher.kind, PT_VOUCHER_AMOUNT);
    cr_expect_eq(r.voucher.value, 1000);
    cr_expect_str_eq(r.voucher.currency, "PLN");
    cr_expect_eq(r.voucher.valid_days, 30);
    cr_expect_eq(r.voucher.max_uses, 1);
    cr_expect_eq(r.voucher.expires, 0);
    pt_loy_reward_release(&r);
    cr_expect_null(r.name);
}

Test(loyalty_reward, minimal_definition_takes_the_defaults)
{
    struct pt_loy_reward r;
    parse_ok(MINIMAL, 0, &r);
    cr_expect_str_eq(r.name, "Free delivery");
    cr_expect_null(r.description);
    cr_expect_eq(r.cost, 1);
    cr_expect_eq(r.stock, -1);
    cr_expect_eq(r.valid_from, 0);
    cr_expect_eq(r.valid_to, 0);
    cr_expect_eq(r.per_member, 0);
    cr_expect_null(r.min_tier);
    cr_expect_eq(r.voucher.kind, PT_VOUCHER_SHIPPING);
    cr_expect_eq(r.voucher.value, 0);
    cr_expect_str_eq(r.voucher.currency, "");
    cr_expect_eq(r.voucher.valid_days, 0);
    cr_expect_eq(r.voucher.max_uses, 1);
    pt_loy_reward_release(&r);
}

Test(loyalty_reward, other_valid_forms)
{
    static const char *const ok[] = {
        "{\"name\":\"p\",\"cost\":1000000000,\"stock\":0,\"voucher\":{\"type\":\"percent\","
        "\"value\":100,\"max_uses\":0,\"valid_days\":3650,\"currency\":null}}",
        "{\"name\":\"a\",\"cost\":5,\"voucher\":{\"type\":\"amount\",\"value\":1000000000000}}",
        "{\"name\":\"s\",\"cost\":5,\"stock\":null,\"description\":null,\"min_tier\":null,"
        "\"per_member_limit\":null,\"voucher\":{\"type\":\"free_shipping\",\"value\":0}}",
        "{\"name\":\"t\",\"cost\":5,\"valid_from\":\"2026-01-01\",\"valid_to\":"
        "\"2026-01-01T00:00:01.5+00:00\",\"voucher\":{\"type\":\"free_shipping\",\"value\":null}}",
        "{\"voucher\":{\"type\":\"percent\",\"value\":1},\"cost\":1,\"name\":\"order of keys\"}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct pt_loy_reward r;
        parse_ok(ok[i], 0, &r);
        pt_loy_reward_release(&r);
    }
    struct pt_loy_reward r;
    parse_ok(ok[3], 0, &r);
    cr_expect_eq(r.valid_from, 1767225600);
    cr_expect_eq(r.valid_to, 1767225601);
    pt_loy_reward_release(&r);
}

Test(loyalty_reward, canonical_json_parses_back_to_the_same)
{
    static const char *const docs[] = {
        FULL,
        MINIMAL,
        "{\"name\":\"Zni\xc5\xbcka \\\"VIP\\\"\\n\",\"description\":\"\",\"cost\":7,\"stock\":0,"
        "\"valid_from\":\"2026-03-01T10:00:00+02:00\",\"valid_to\":\"2027-01-01T00:00:00Z\","
        "\"per_member_limit\":0,\"min_tier\":\"Platinum \\u00e9\",\"voucher\":{\"type\":"
        "\"percent\",\"value\":15,\"valid_days\":0,\"max_uses\":0}}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        struct pt_loy_reward a, b;
        parse_ok(docs[i], 0, &a);
        char *ja = to_json(&a);
        parse_ok(ja, 0, &b);
        same_reward(&a, &b);
        char *jb = to_json(&b);
        cr_expect_str_eq(ja, jb);
        free(ja);
        free(jb);
        pt_loy_reward_release(&a);
        pt_loy_reward_release(&b);
    }
    struct pt_loy_reward r;
    parse_ok(FULL, 0, &r);
    char *j = to_json(&r);
    cr_expect_str_eq(j, "{\"name\":\"10 PLN off\",\"description\":\"A discount on any order\","
                        "\"cost\":500,\"stock\":100,\"valid_from\":\"2026-01-01T00:00:00Z\","
                        "\"valid_to\":null,\"per_member_limit\":2,\"min_tier\":\"Gold\","
                        "\"voucher\":{\"type\":\"amount\",\"value\":1000,\"currency\":\"PLN\","
                        "\"valid_days\":30,\"max_uses\":1}}");
    free(j);
    pt_loy_reward_release(&r);
}

Test(loyalty_reward, partial_update_of_stock_only)
{
    struct pt_loy_reward r;
    parse_ok(FULL, 0, &r);
    char *before = to_json(&r);
    parse_ok("{\"stock\": 7}", 1, &r);
    cr_expect_eq(r.stock, 7);
    cr_expect_str_eq(r.name, "10 PLN off");
    cr_expect_str_eq(r.min_tier, "Gold");
    cr_expect_eq(r.cost, 500);
    cr_expect_eq(r.voucher.value, 1000);
    parse_ok("{\"stock\": null}", 1, &r);
    cr_expect_eq(r.stock, -1);
    parse_ok("{\"stock\": 100}", 1, &r);
    char *after = to_json(&r);
    cr_expect_str_eq(before, after);
    parse_ok("{}", 1, &r);
    char *again = to_json(&r);
    cr_expect_str_eq(before, again);
    free(before);
    free(after);
    free(again);
    pt_loy_reward_release(&r);
}

Test(loyalty_reward, partial_update_clears_and_replaces)
{
    struct pt_loy_reward r;
    parse_ok(FULL, 0, &r);
    parse_ok("{\"min_tier\": null, \"description\": null, \"valid_from\": null, "
             "\"name\": \"New name\", \"voucher\": {\"type\": \"percent\", \"value\": 5}}",
             1, &r);
    cr_expect_null(r.min_tier);
    cr_expect_null(r.description);
    cr_expect_eq(r.valid_from, 0);
    cr_expect_str_eq(r.name, "New name");
    cr_expect_eq(r.voucher.kind, PT_VOUCHER_PERCENT);
    cr_expect_eq(r.voucher.value, 5);
    cr_expect_str_eq(r.voucher.currency, "");
    cr_expect_eq(r.voucher.valid_days, 0); /* the voucher is replaced as a whole */
    cr_expect_eq(r.voucher.max_uses, 1);
    cr_expect_eq(r.stock, 100);
    cr_expect_eq(r.per_member, 2);
    pt_loy_reward_release(&r);
}

Test(loyalty_reward, failed_partial_update_changes_nothing)
{
    static const char *const bad[] = {
        "{\"stock\": 5, \"cost\": 0}",
        "{\"min_tier\": null, \"voucher\": {\"type\": \"percent\", \"value\": 0}}",
        "{\"name\": null}",
        "{\"valid_to\": \"2025-12-31T23:59:59Z\"}", /* before the kept valid_from */
        "{\"stock\": 1",
    };
    struct pt_loy_reward r;
    parse_ok(FULL, 0, &r);
    char *before = to_json(&r);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char field[64];
        struct pt_err e = {0};
        cr_expect_eq(pt_loy_reward_parse(bad[i], strlen(bad[i]), 1, &r, field, &e), PT_EPARSE, "%s",
                     bad[i]);
        char *after = to_json(&r);
        cr_expect_str_eq(before, after, "%s", bad[i]);
        free(after);
    }
    char field[64];
    struct pt_err e = {0};
    cr_expect_eq(pt_loy_reward_parse(bad[3], strlen(bad[3]), 1, &r, field, &e), PT_EPARSE);
    cr_expect_str_eq(field, "valid_to");
    cr_expect(strstr(e.msg, "later than valid_from (2026-01-01T00:00:00Z)"), "%s", e.msg);
    free(before);
    pt_loy_reward_release(&r);
}

Test(loyalty_reward, partial_update_of_an_empty_reward_needs_the_required_keys)
{
    struct pt_loy_reward r;
    memset(&r, 0, sizeof r);
    r.stock = -1;
    char field[64];
    struct pt_err e = {0};
    const char *j = "{\"name\": \"x\", \"cost\": 3}";
    cr_expect_eq(pt_loy_reward_parse(j, strlen(j), 1, &r, field, &e), PT_EPARSE);
    cr_expect_str_eq(field, "voucher");
    cr_expect_null(r.name);
}

struct bad {
    const char *json;
    const char *field;
    const char *msg;
};

static const struct bad BAD[] = {
    {"", "", "invalid JSON at line 1"},
    {"{\"name\": \"x\",\n \"cost\": }", "", "invalid JSON at line 2"},
    {"[1, 2]", "", "must be a JSON object, not a list"},
    {"{\"name\": \"a\", \"name\": \"b\", \"cost\": 1}", "", "duplicate"},
    {"{\"cost\": 1, \"voucher\": {\"type\": \"percent\", \"value\": 5}}", "name", "missing"},
    {"{\"name\": \"\", \"cost\": 1}", "name", "must not be empty"},
    {"{\"name\": 5, \"cost\": 1}", "name", "must be a string, not a number"},
    {"{\"name\": null}", "name", "must be a string, not null"},
    {"{\"nmae\": \"x\"}", "nmae", "did you mean \"name\""},
    {"{\"colour\": \"red\"}", "colour", "unknown key \"colour\" (known keys: name,"},
    {"{\"name\": \"x\", \"voucher\": {\"type\": \"percent\", \"value\": 5}}", "cost", "missing"},
    {"{\"name\": \"x\", \"cost\": 0}", "cost", "must be an integer from 1 to 1000000000, not 0"},
    {"{\"name\": \"x\", \"cost\": 1000000001}", "cost", "not 1000000001"},
    {"{\"name\": \"x\", \"cost\": 2.5}", "cost", "not 2.5"},
    {"{\"name\": \"x\", \"cost\": \"500\"}", "cost", "not a string"},
    {"{\"name\": \"x\", \"cost\": 1, \"stock\": -1}", "stock", "integer of at least 0, not -1"},
    {"{\"name\": \"x\", \"cost\": 1, \"stock\": true}", "stock", "not true"},
    {"{\"name\": \"x\", \"cost\": 1, \"valid_from\": \"2026-02-30T00:00:00Z\"}", "valid_from",
     "2026-02-30T00:00:00Z"},
    {"{\"name\": \"x\", \"cost\": 1, \"valid_from\": 1767225600}", "valid_from",
     "must be an ISO-8601 date-time string"},
    {"{\"name\": \"x\", \"cost\": 1, \"valid_to\": \"1970-01-01T00:00:00Z\"}", "valid_to",
     "must be after 1970-01-01T00:00:00Z"},
    {"{\"name\": \"x\", \"cost\": 1, \"valid_from\": \"2026-06-01T00:00:00Z\", \"valid_to\": "
     "\"2026-06-01T00:00:00Z\"}",
     "valid_to", "must be later than valid_from"},
    {"{\"name\": \"x\", \"cost\": 1, \"per_member_limit\": -2}", "per_member_limit",
     "integer of at least 0"},
    {"{\"name\": \"x\", \"cost\": 1, \"min_tier\": \"\"}", "min_tier", "must not be empty"},
    {"{\"name\": \"x\", \"cost\": 1, \"min_tier\": [\"Gold\"]}", "min_tier", "not a list"},
    {"{\"name\": \"x\", \"cost\": 1}", "voucher", "missing: every reward needs a voucher"},
    {"{\"name\": \"x\", \"cost\": 1, \"voucher\": \"amount\"}", "voucher",
     "must be an object such as"},
    {"{\"name\": \"x\", \"cost\": 1, \"voucher\": null}", "voucher", "not null"},
    {"{\"name\": \"x\", \"cost\": 1, \"voucher\": {\"value\": 5}}", "voucher.type", "missing"},
    {"{\"name\": \"x\", \"cost\": 1, \"voucher\": {\"type\": \"gift\"}}", "voucher.type",
     "not \"gift\""},
    {"{\"name\": \"x\", \"cost\": 1, \"voucher\": {\"type\": \"amount\", \"valu\": 5}}",
     "voucher.valu", "unknown key \"valu\"; did you mean \"value\"?"},
    {"{\"name\": \"x\", \"cost\": 1, \"voucher\": {\"type\": \"amount\"}}", "voucher.value",
     "missing: an amount voucher needs a value"},
    {"{\"name\": \"x\", \"cost\": 1, \"voucher\": {\"type\": \"amount\", \"value\": 0}}",
     "voucher.value", "from 1 to 1000000000000, not 0"},
    {"{\"name\": \"x\", \"cost\": 1, \"voucher\": {\"type\": \"amount\", \"value\": "
     "1000000000001}}",
     "voucher.value", "not 1000000000001"},
    {"{\"name\": \"x\", \"cost\": 1, \"voucher\": {\"type\": \"percent\", \"value\": 101}}",
     "voucher.value", "from 1 to 100, not 101"},
    {"{\"name\": \"x\", \"cost\": 1, \"voucher\": {\"type\": \"percent\"}}", "voucher.value",
     "missing: a percent voucher"},
    {"{\"name\": \"x\", \"cost\": 1, \"voucher\": {\"type\": \"free_shipping\", \"value\": 5}}",
     "voucher.value", "has no value"},
    {"{\"name\": \"x\", \"cost\": 1, \"voucher\": {\"type\": \"amount\", \"value\": 5, "
     "\"currency\": \"pln\"}}",
     "voucher.currency", "upper-case ISO-4217 code such as \"PLN\", not \"pln\""},
    {"{\"name\": \"x\", \"cost\": 1, \"voucher\": {\"type\": \"amount\", \"value\": 5, "
     "\"currency\": \"EURO\"}}",
     "voucher.currency", "not \"EURO\""},
    {"{\"name\": \"x\", \"cost\": 1, \"voucher\": {\"type\": \"percent\", \"value\": 5, "
     "\"currency\": \"PLN\"}}",
     "voucher.currency", "only amount vouchers have a currency"},
    {"{\"name\": \"x\", \"cost\": 1, \"voucher\": {\"type\": \"percent\", \"value\": 5, "
     "\"valid_days\": 3651}}",
     "voucher.valid_days", "from 0 to 3650, not 3651"},
    {"{\"name\": \"x\", \"cost\": 1, \"voucher\": {\"type\": \"percent\", \"value\": 5, "
     "\"max_uses\": -1}}",
     "voucher.max_uses", "integer of at least 0, not -1"},
    {"{\"name\": \"x\", \"cost\": 1, \"voucher\": {\"type\": \"percent\", \"value\": 5, "
     "\"expires\": \"2027-01-01T00:00:00Z\"}}",
     "voucher.expires", "unknown key \"expires\""},
    {"{\"name\": \"x\", \"cost\": 1, \"voucher\": {\"type\": \"percent\", \"value\": 5, "
     "\"count\": 10}}",
     "voucher.count", "unknown key"},
};

Test(loyalty_reward, invalid_documents_name_the_field_and_the_reason)
{
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        struct pt_loy_reward r;
        char field[64] = "junk";
        struct pt_err e = {0};
        int rc = pt_loy_reward_parse(BAD[i].json, strlen(BAD[i].json), 0, &r, field, &e);
        cr_expect_eq(rc, PT_EPARSE, "%zu: %s", i, BAD[i].json);
        cr_expect_eq(e.code, PT_EPARSE, "%zu", i);
        cr_expect_str_eq(field, BAD[i].field, "%zu: %s -> %s", i, BAD[i].json, e.msg);
        cr_expect(strstr(e.msg, BAD[i].msg) != NULL, "%zu: %s\n-> \"%s\", wanted \"%s\"", i,
                  BAD[i].json, e.msg, BAD[i].msg);
        if (BAD[i].field[0])
            cr_expect(strncmp(e.msg, BAD[i].field, strlen(BAD[i].field)) == 0, "%zu: %s", i, e.msg);
        cr_expect_null(r.name, "%zu", i);
        if (rc == 0)
            pt_loy_reward_release(&r);
    }
}

Test(loyalty_reward, long_strings_and_long_paths)
{
    char name[256], doc[4096];
    memset(name, 'n', 201);
    name[201] = '\0';
    snprintf(doc, sizeof doc, "{\"name\": \"%s\", \"cost\": 1}", name);
    struct pt_loy_reward r;
    char field[64];
    struct pt_err e = {0};
    cr_expect_eq(pt_loy_reward_parse(doc, strlen(doc), 0, &r, field, &e), PT_EPARSE);
    cr_expect_str_eq(field, "name");
    cr_expect(strstr(e.msg, "201 bytes long; the limit is 200 bytes"), "%s", e.msg);

    name[200] = '\0';
    snprintf(doc, sizeof doc,
             "{\"name\": \"%s\", \"cost\": 1, \"voucher\": {\"type\": \"free_shipping\"}}", name);
    parse_ok(doc, 0, &r);
    pt_loy_reward_release(&r);

    char desc[2100];
    memset(desc, 'd', 2001);
    desc[2001] = '\0';
    snprintf(doc, sizeof doc, "{\"name\": \"x\", \"cost\": 1, \"description\": \"%s\"}", desc);
    cr_expect_eq(pt_loy_reward_parse(doc, strlen(doc), 0, &r, field, &e), PT_EPARSE);
    cr_expect_str_eq(field, "description");
    cr_expect(strstr(e.msg, "the limit is 2000 bytes"), "%s", e.msg);

    char tier[200];
    memset(tier, 't', 129);
    tier[129] = '\0';
    snprintf(doc, sizeof doc, "{\"name\": \"x\", \"cost\": 1, \"min_tier\": \"%s\"}", tier);
    cr_expect_eq(pt_loy_reward_parse(doc, strlen(doc), 0, &r, field, &e), PT_EPARSE);
    cr_expect_str_eq(field, "min_tier");
    cr_expect(strstr(e.msg, "the limit is 128 bytes"), "%s", e.msg);

    /* an unknown key of 100 two-byte characters: field cut to 63 bytes, whole characters */
    char key[256] = "";
    for (int i = 0; i < 100; i++)
        strcat(key, "\xc5\xbc");
    snprintf(doc, sizeof doc, "{\"name\": \"x\", \"cost\": 1, \"voucher\": {\"%s\": 1}}", key);
    cr_expect_eq(pt_loy_reward_parse(doc, strlen(doc), 0, &r, field, &e), PT_EPARSE);
    cr_expect_eq(strlen(field), 62);
    cr_expect_eq(strncmp(field, "voucher.\xc5\xbc", 10), 0);
}

Test(loyalty_reward, syntax_errors_give_line_and_column)
{
    const char *j = "{\"name\": \"x\",\n  \"cost\": 1,\n  \"stock\": oops}";
    struct pt_loy_reward r;
    char field[64];
    struct pt_err e = {0};
    cr_expect_eq(pt_loy_reward_parse(j, strlen(j), 0, &r, field, &e), PT_EPARSE);
    cr_expect_str_eq(field, "");
    cr_expect_eq(e.line, 3);
    cr_expect_gt(e.column, 0);
    cr_expect(strstr(e.msg, "line 3, column"), "%s", e.msg);
    /* errors without a position reset them */
    j = "{\"name\": \"\"}";
    cr_expect_eq(pt_loy_reward_parse(j, strlen(j), 0, &r, field, &e), PT_EPARSE);
    cr_expect_eq(e.line, 0);
    cr_expect_eq(e.column, 0);
    /* no field buffer, no error record */
    cr_expect_eq(pt_loy_reward_parse(j, strlen(j), 0, &r, NULL, NULL), PT_EPARSE);
}

static int spec_parse(const char *json, int pool, struct pt_voucher_spec *v, char *field,
                      struct pt_err *e)
{
    json_t *o = json_loads(json, 0, NULL);
    cr_assert_not_null(o, "%s", json);
    int rc = pt_voucher_spec_parse(o, pool ? "" : "voucher", pool, v, field, e);
    json_decref(o);
    return rc;
}

Test(loyalty_reward, pool_voucher_spec)
{
    struct pt_voucher_spec v;
    char field[64];
    struct pt_err e = {0};
    const char *j = "{\"name\": \"Partner X\", \"count\": 500, \"prefix\": [1], \"type\": "
                    "\"amount\", \"value\": 2500, \"currency\": \"EUR\", \"expires\": "
                    "\"2026-12-31T23:59:59Z\", \"max_uses\": 3}";
    cr_assert_eq(spec_parse(j, 1, &v, field, &e), 0, "%s", e.msg);
    cr_expect_eq(v.kind, PT_VOUCHER_AMOUNT);
    cr_expect_eq(v.value, 2500);
    cr_expect_str_eq(v.currency, "EUR");
    cr_expect_eq(v.expires, 1798761599);
    cr_expect_eq(v.valid_days, 0);
    cr_expect_eq(v.max_uses, 3);

    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_voucher_spec_json(&v, &b), 0);
    cr_expect_str_eq(b.data, "{\"type\":\"amount\",\"value\":2500,\"currency\":\"EUR\","
                             "\"valid_days\":0,\"max_uses\":3,"
                             "\"expires\":\"2026-12-31T23:59:59Z\"}");
    struct pt_voucher_spec w;
    cr_assert_eq(spec_parse(b.data, 1, &w, field, &e), 0, "%s", e.msg);
    cr_expect_eq(memcmp(&v, &w, sizeof v), 0);
    pt_buf_release(&b);

    /* pool paths have no prefix */
    cr_expect_eq(spec_parse("{\"type\": \"percent\", \"value\": 0}", 1, &v, field, &e), PT_EPARSE);
    cr_expect_str_eq(field, "value");
    cr_expect(strncmp(e.msg, "value: must be an integer from 1 to 100", 39) == 0, "%s", e.msg);
    cr_expect_eq(spec_parse("{\"type\": \"percent\", \"value\": 5, \"expires\": \"soon\"}", 1, &v,
                            field, &e),
                 PT_EPARSE);
    cr_expect_str_eq(field, "expires");
    cr_expect_eq(spec_parse("[]", 1, &v, field, &e), PT_EPARSE);
    cr_expect_str_eq(field, "");
    cr_expect(strstr(e.msg, "must be a JSON object"), "%s", e.msg);

    /* outside pools "expires", "name", "count" are unknown */
    cr_expect_eq(
        spec_parse("{\"type\": \"percent\", \"value\": 5, \"name\": \"x\"}", 0, &v, field, &e),
        PT_EPARSE);
    cr_expect_str_eq(field, "voucher.name");
    cr_expect_str_eq(pt_voucher_kind_name(PT_VOUCHER_SHIPPING), "free_shipping");
    cr_expect_str_eq(pt_voucher_kind_name(PT_VOUCHER_PERCENT), "percent");
    cr_expect_str_eq(pt_voucher_kind_name(PT_VOUCHER_AMOUNT), "amount");
}

Test(loyalty_reward, allocation_failures_are_clean)
{
    for (unsigned long n = 1; n < 12; n++) {
        struct pt_loy_reward r;
        char field[64];
        struct pt_err e = {0};
        pt_mem_fail_after(n);
        int rc = pt_loy_reward_parse(FULL, strlen(FULL), 0, &r, field, &e);
        pt_mem_fail_after(0);
        cr_expect(rc == 0 || rc == PT_ENOMEM, "%lu: %d", n, rc);
        if (rc == 0) {
            const char *u = "{\"name\": \"renamed\", \"min_tier\": \"Silver\"}";
            char *before = to_json(&r);
            pt_mem_fail_after(n);
            int rc2 = pt_loy_reward_parse(u, strlen(u), 1, &r, field, &e);
            pt_mem_fail_after(0);
            cr_expect(rc2 == 0 || rc2 == PT_ENOMEM, "%lu: %d", n, rc2);
            if (rc2) {
                char *after = to_json(&r);
                cr_expect_str_eq(before, after);
                free(after);
            }
            free(before);
            pt_loy_reward_release(&r);
        } else {
            cr_expect_null(r.name);
        }
    }
}
