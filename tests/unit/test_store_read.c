/* test_store_read.c - the SQLite store's read side (store/store.h,
 * store_read.c), through harness_store.h: traits merged as RFC 7396 patches
 * and over a profile's identities, and the timeline, categories and export
 * JSON, parsed back with jansson. */
#include "harness_store.h"

TestSuite(store_read, .init = setup, .fini = teardown);

/* ---- traits ---- */

static void expect_traits_of(const int64_t *ids, size_t n, const char *want)
{
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_store_traits_json(W, ids, n, &b, &E), 0, "%s", E.msg);
    json_t *got = parse(&b), *w = json_loads(want, 0, NULL);
    cr_assert_not_null(w);
    cr_expect(json_equal(got, w), "traits of %lld: %s, want %s", (long long)ids[0], b.data, want);
    json_decref(got);
    json_decref(w);
    pt_buf_release(&b);
}

static void expect_traits(int64_t id, const char *want)
{
    expect_traits_of(&id, 1, want);
}

Test(store_read, traits_merge_patch)
{
    mkcust(1, 1, PT_CUST_USER, "u");
    expect_traits(1, "{}");
    expect_traits(77, "{}"); /* unknown row */
    cr_assert_eq(pt_store_customer_traits(W, 1,
                                          "{\"name\":\"Ann\",\"age\":30,"
                                          "\"address\":{\"city\":\"Kraków\",\"zip\":\"30\"}}",
                                          &E),
                 0, "%s", E.msg);
    expect_traits(1,
                  "{\"name\":\"Ann\",\"age\":30,\"address\":{\"city\":\"Kraków\",\"zip\":\"30\"}}");
    cr_assert_eq(pt_store_customer_traits(W, 1,
                                          "{\"age\":null,\"email\":\"a@b.c\","
                                          "\"address\":{\"zip\":null,\"street\":\"x\"}}",
                                          &E),
                 0);
    expect_traits(1, "{\"name\":\"Ann\",\"email\":\"a@b.c\","
                     "\"address\":{\"city\":\"Kraków\",\"street\":\"x\"}}");
    cr_assert_eq(pt_store_customer_traits(W, 1, "{\"address\":\"gone\",\"nothing\":null}", &E), 0);
    expect_traits(1, "{\"name\":\"Ann\",\"email\":\"a@b.c\",\"address\":\"gone\"}");
    cr_expect_eq(pt_store_customer_traits(W, 1, "{not json", &E), PT_EIO);
    expect_traits(1, "{\"name\":\"Ann\",\"email\":\"a@b.c\",\"address\":\"gone\"}");
}

/* A profile's traits: every identity's, the root (ids[0]) winning conflicts. */
Test(store_read, traits_of_a_profile_merge_identities)
{
    mkcust(1, 1, PT_CUST_USER, "u");
    mkcust(2, 1, PT_CUST_ANON, "a");
    mkcust(3, 1, PT_CUST_ANON, "b");
    cr_assert_eq(pt_store_customer_traits(W, 1, "{\"name\":\"Ann\",\"x\":{\"k\":1}}", &E), 0);
    cr_assert_eq(pt_store_customer_traits(W, 2, "{\"name\":\"A.\",\"city\":\"Łódź\"}", &E), 0);
    cr_assert_eq(pt_store_customer_traits(W, 3, "{\"city\":\"Gdańsk\",\"x\":{\"j\":2}}", &E), 0);
    int64_t ids[] = {1, 2, 3, 99};
    expect_traits_of(ids, 4, "{\"name\":\"Ann\",\"city\":\"Łódź\",\"x\":{\"k\":1,\"j\":2}}");
    expect_traits_of(ids + 1, 2, "{\"name\":\"A.\",\"city\":\"Łódź\",\"x\":{\"j\":2}}");
    expect_traits_of(ids + 3, 1, "{}");
}

/* ---- JSON reads ---- */

Test(store_read, timeline_categories_and_export_are_json)
{
    mkcust(1, 1, PT_CUST_USER, "u1");
    mkcust(2, 1, PT_CUST_ANON, "a1");
    mkcust(3, 1, PT_CUST_USER, "other");
    insert_ev(1, 1, "e1", 1700000000, 0);
    insert_ev(1, 2, "e2", 1700000300, 0);
    insert_ev(1, 1, "e3", 1700000100, 0);
    insert_ev(1, 3, "e4", 1700000900, 0);
    insert_order(1, 1, "o1", 1000, 50, 3, 0);
    insert_order(1, 2, "o2", 800, 60, 1, 0);
    insert_order(1, 3, "o3", 800, 60, 2, 0);
    cr_assert_eq(pt_store_merge_insert(W, 1, 1, 2, 5, "identify", NULL, &E), 0);
    cr_assert_eq(pt_store_customer_traits(W, 1, "{\"name\":\"Ann\"}", &E), 0);
    int64_t ids[] = {1, 2};
    struct pt_buf b;
    pt_buf_init(&b);

    /* timeline: newest first, limited, bodies as objects */
    int64_t heads[] = {HEAD[1], HEAD[2]};
    cr_assert_eq(pt_store_timeline_json(W, heads, 2, 2, &b, &E), 0, "%s", E.msg);
    json_t *j = parse(&b);
    cr_assert(json_is_array(j));
    cr_assert_eq(json_array_size(j), 2, "%s", b.data);
    const char *ts = json_string_value(json_object_get(json_array_get(j, 0), "timestamp"));
    cr_expect_str_eq(ts ? ts : "", "2023-11-14T22:18:20Z");
    json_t *body = json_object_get(json_array_get(j, 0), "body");
    cr_expect(json_is_object(body), "the body is JSON, not a string: %s", b.data);
    cr_expect_str_eq(json_string_value(json_object_get(body, "messageId")), "e2");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(j, 1), "type")), "track");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(j, 1), "event")),
                     "Thing Happened");
    cr_expect_str_eq(json_string_value(json_object_get(
                         json_object_get(json_array_get(j, 1), "body"), "messageId")),
                     "e3");
    json_decref(j);
    pt_buf_reset(&b);
    int64_t nohead = 0;
    cr_assert_eq(pt_store_timeline_json(W, &nohead, 1, 20, &b, &E), 0);
    cr_expect_str_eq(b.data, "[]");
    pt_buf_reset(&b);
    cr_expect_lt(pt_store_timeline_json(W, heads, 0, 20, &b, &E), 0, "no rows is an error");

    /* categories: by quantity, NULL categories left out, top k */
    pt_buf_reset(&b);
    cr_assert_eq(pt_store_categories_json(W, ids, 2, 3, &b, &E), 0, "%s", E.msg);
    j = parse(&b);
    json_t *want = json_loads("[{\"category\":\"shoes\",\"quantity\":4},"
                              "{\"category\":\"hats\",\"quantity\":1}]",
                              0, NULL);
    cr_expect(json_equal(j, want), "%s", b.data);
    json_decref(j);
    json_decref(want);
    pt_buf_reset(&b);
    cr_assert_eq(pt_store_categories_json(W, ids, 2, 1, &b, &E), 0);
    j = parse(&b);
    cr_expect_eq(json_array_size(j), 1);
    json_decref(j);

    /* export: the members of one object */
    pt_buf_reset(&b);
    pt_buf_addc(&b, '{');
    cr_assert_eq(pt_store_export_json(W, ids, heads, 2, &b, &E), 0, "%s", E.msg);
    pt_buf_addc(&b, '}');
    j = parse(&b);
    cr_expect_eq(json_array_size(json_object_get(j, "identities")), 2, "%s", b.data);
    cr_expect_eq(json_array_size(json_object_get(j, "events")), 3);
    cr_expect_eq(json_array_size(json_object_get(j, "orders")), 2);
    cr_expect_eq(json_array_size(json_object_get(j, "order_lines")), 4);
    cr_expect_eq(json_array_size(json_object_get(j, "merges")), 1);
    json_t *id0 = json_array_get(json_object_get(j, "identities"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(id0, "id")), "u1");
    cr_expect_str_eq(json_string_value(json_object_get(id0, "kind")), "userId");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(id0, "traits"), "name")),
                     "Ann");
    cr_expect(strstr(b.data, "other") == NULL, "another customer leaked into the export");
    cr_expect(strstr(b.data, "o3") == NULL, "another customer's order leaked into the export");
    json_decref(j);
    pt_buf_release(&b);
}

/* A timeline is the latest events by time, whatever order they arrived in
 * (an order CSV imported after live events brings old events late). */
Test(store_read, timeline_is_newest_by_timestamp)
{
    mkcust(1, 1, PT_CUST_USER, "u1");
    insert_ev(1, 1, "new", 1700000500, 0);
    insert_ev(1, 1, "old1", 1700000100, 0);
    insert_ev(1, 1, "old2", 1700000200, 0);
    insert_ev(1, 1, "old3", 1700000300, 0);
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_store_timeline_json(W, &HEAD[1], 1, 2, &b, &E), 0, "%s", E.msg);
    json_t *j = parse(&b);
    cr_assert_eq(json_array_size(j), 2, "%s", b.data);
    const char *m0 = json_string_value(
        json_object_get(json_object_get(json_array_get(j, 0), "body"), "messageId"));
    const char *m1 = json_string_value(
        json_object_get(json_object_get(json_array_get(j, 1), "body"), "messageId"));
    cr_expect_str_eq(m0 ? m0 : "", "new", "timeline: %s", b.data);
    cr_expect_str_eq(m1 ? m1 : "", "old3", "timeline: %s", b.data);
    json_decref(j);
    pt_buf_reset(&b);
    cr_assert_eq(pt_store_timeline_json(W, &HEAD[1], 1, 20, &b, &E), 0);
    j = parse(&b);
    cr_expect_eq(json_array_size(j), 4, "every event of the chain: %s", b.data);
    json_decref(j);
    pt_buf_release(&b);
}

/* The same after an import of a long history (more old events than any
 * fixed walk depth derived from the limit). */
Test(store_read, timeline_is_newest_by_timestamp_after_a_long_import)
{
    mkcust(1, 1, PT_CUST_USER, "u1");
    insert_ev(1, 1, "new", 1700000500, 0);
    char msg[32];
    for (int k = 0; k < 300; k++) {
        snprintf(msg, sizeof msg, "old%d", k);
        insert_ev(1, 1, msg, 1600000000 + k, 0);
    }
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_store_timeline_json(W, &HEAD[1], 1, 2, &b, &E), 0, "%s", E.msg);
    json_t *j = parse(&b);
    const char *m0 = json_string_value(
        json_object_get(json_object_get(json_array_get(j, 0), "body"), "messageId"));
    cr_expect_str_eq(m0 ? m0 : "", "new", "the newest event is missing");
    json_decref(j);
    pt_buf_release(&b);
}
