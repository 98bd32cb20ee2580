/*
 * test_events.c - the Segment-spec JSON event decoder (ingest/events.h), one
 * event at a time: the e-commerce kinds and their amounts, identify, alias,
 * page, screen and group, ids, timestamps, and request-level errors. Batches,
 * limits, partial mode and allocation failures: test_events_batch.c.
 */
#include "harness_events.h"
#include "util/timeutil.h"

TestSuite(events, .init = setup, .fini = teardown);

/* ---- e-commerce kinds ---- */

Test(events, order_completed_with_revenue)
{
    const char *body = J("{'messageId':'m1','userId':'u1','event':'Order Completed','properties':"
                         "{'order_id':'o-9','revenue':'19.99','currency':'usd'}}");
    const struct pt_event *ev = track(body);
    cr_expect_eq(ev->type, PT_EV_TRACK);
    cr_expect_eq(ev->kind, PT_K_ORDER_COMPLETED);
    cr_expect_str_eq(ev->name, "Order Completed");
    cr_expect_str_eq(ev->message_id, "m1");
    cr_expect_str_eq(ev->user_id, "u1");
    cr_expect_null(ev->anonymous_id);
    cr_expect_str_eq(ev->order_id, "o-9");
    cr_expect_eq(ev->amount, 1999);
    cr_expect_eq(ev->has_amount, 1);
    cr_expect_str_eq(ev->currency, "USD");
    cr_expect_eq(ev->nlines, 0);
    cr_expect_eq(ev->t, NOW);
    cr_expect_str_eq(ev->json, body, "already compact: stored as sent");
    cr_expect_eq(ev->json_len, strlen(body));
    cr_expect_eq(ORIG[0], 0);
}

Test(events, revenue_wins_over_total_and_products)
{
    cr_expect_eq(order_amount(J("'total':5")), 500);
    cr_expect_eq(order_amount(J("'total':'5.5','revenue':7")), 700);
    cr_expect_eq(order_amount(J("'revenue':1,'products':[{'price':100}]")), 100);
    cr_expect_eq(order_amount(J("'total':2,'products':[{'price':100}]")), 200);
}

Test(events, order_completed_from_products_only)
{
    const struct pt_event *ev =
        track(J(ORDER("'products':[{'product_id':'p1','sku':'S-1','category':'shoes','name':"
                      "'Boot','price':2.5,'quantity':3},{'product_id':77,'price':'1.10'}]")));
    cr_expect_eq(ev->amount, 860);
    cr_expect_eq(ev->has_amount, 1);
    cr_assert_eq(ev->nlines, 2);
    expect_line(&ev->lines[0], "p1", "S-1", 250, 3);
    cr_expect_str_eq(ev->lines[0].category, "shoes");
    cr_expect_str_eq(ev->lines[0].name, "Boot");
    expect_line(&ev->lines[1], "77", NULL, 110, 1);
    cr_expect_null(ev->lines[1].name);
}

Test(events, order_completed_needs_an_amount_and_an_order_id)
{
    tp_bad("Order Completed", "'order_id':'o1'", "missing_field", "properties.revenue");
    tp_bad("Order Completed", "'order_id':'o1','products':[]", "missing_field",
           "properties.revenue");
    tp_bad("Order Completed", "'revenue':1", "missing_field", "properties.order_id");
    tp_bad("Order Refunded", "", "missing_field", "properties.order_id");
    expect_bad(J("{'userId':'u1','event':'Order Completed'}"), "missing_field",
               "properties.order_id");
}

Test(events, currency_scales)
{
    cr_expect_eq(order_amount(J("'revenue':1500,'currency':'JPY'")), 1500);
    cr_expect_eq(order_amount(J("'revenue':'1500','currency':'jpy'")), 1500);
    cr_expect_str_eq(B.ev[0].currency, "JPY");
    cr_expect_eq(order_amount(J("'revenue':1.234,'currency':'KWD'")), 1234);
    cr_expect_eq(order_amount(J("'revenue':'1.234','currency':'KWD'")), 1234);
    cr_expect_eq(order_amount(J("'revenue':2,'currency':'KWD'")), 2000);
    cr_expect_eq(order_amount(J("'revenue':12.5,'currency':'EUR'")), 1250);
    cr_expect_eq(order_amount(J("'products':[{'price':0.125,'quantity':2}],'currency':'BHD'")),
                 250);
    order_bad(J("'revenue':1.5,'currency':'JPY'"), "invalid_field", "properties.revenue");
    order_bad(J("'revenue':'1.5','currency':'JPY'"), "invalid_field", "properties.revenue");
    order_bad(J("'revenue':1.2345,'currency':'KWD'"), "invalid_field", "properties.revenue");
    order_bad(J("'revenue':1,'currency':'EURO'"), "invalid_field", "properties.currency");
    order_bad(J("'revenue':1,'currency':'E1R'"), "invalid_field", "properties.currency");
    order_bad(J("'revenue':1,'currency':978"), "invalid_field", "properties.currency");
}

/* Every cent value written as a JSON number gives exactly that many cents. */
Test(events, decimal_numbers_are_exact)
{
    cr_expect_eq(order_amount(J("'revenue':19.99")), 1999);
    cr_expect_eq(order_amount(J("'revenue':0.29")), 29);
    cr_expect_eq(order_amount(J("'revenue':1.005e2")), 10050);
    for (long long k = 0; k < 20000; k += 7) {
        long long big = k * 1000003 + 99;
        cr_assert_eq(order_amount(J("'revenue':%lld.%02lld", k / 100, k % 100)), k);
        cr_assert_eq(order_amount(J("'revenue':%lld.%02lld", big / 100, big % 100)), big);
    }
}

Test(events, amounts_as_numbers_and_strings)
{
    cr_expect_eq(order_amount(J("'revenue':20")), 2000);
    cr_expect_eq(order_amount(J("'revenue':'20'")), 2000);
    cr_expect_eq(order_amount(J("'revenue':20.0")), 2000);
    cr_expect_eq(order_amount(J("'revenue':0")), 0);
    cr_expect_eq(order_amount(J("'revenue':'0.5'")), 50);
    order_bad(J("'revenue':'1e3'"), "invalid_field", "properties.revenue");
    order_bad(J("'revenue':'12 EUR'"), "invalid_field", "properties.revenue");
    order_bad(J("'revenue':''"), "invalid_field", "properties.revenue");
    order_bad(J("'revenue':true"), "invalid_field", "properties.revenue");
    expect_msg("must be a number");
    order_bad(J("'revenue':[1]"), "invalid_field", "properties.revenue");
    order_bad(J("'revenue':1e300"), "invalid_field", "properties.revenue");
    expect_msg("out of range");
    order_bad(J("'revenue':100000000000000000"), "invalid_field", "properties.revenue");
    expect_msg("out of range");
}

Test(events, negative_amounts_are_rejected)
{
    order_bad(J("'revenue':-1"), "invalid_field", "properties.revenue");
    expect_msg("negative");
    order_bad(J("'revenue':-0.5"), "invalid_field", "properties.revenue");
    order_bad(J("'revenue':'-19.99'"), "invalid_field", "properties.revenue");
    order_bad(J("'total':-3"), "invalid_field", "properties.total");
    order_bad(J("'products':[{'price':1},{'price':-2}]"), "invalid_field",
              "properties.products[1].price");
}

Test(events, too_many_decimals)
{
    order_bad(J("'revenue':19.999"), "invalid_field", "properties.revenue");
    expect_msg("decimal");
    order_bad(J("'revenue':'19.999'"), "invalid_field", "properties.revenue");
    order_bad(J("'revenue':0.001"), "invalid_field", "properties.revenue");
    order_bad(J("'products':[{'price':1.001}]"), "invalid_field", "properties.products[0].price");
}

Test(events, order_refunded_with_and_without_amount)
{
    const struct pt_event *ev = tp("Order Refunded", "'order_id':'o1','revenue':'4.50'");
    cr_expect_eq(ev->kind, PT_K_ORDER_REFUNDED);
    cr_expect_str_eq(ev->order_id, "o1");
    cr_expect_eq(ev->has_amount, 1);
    cr_expect_eq(ev->amount, 450);
    ev = tp("Order Refunded", "'order_id':1234");
    cr_expect_eq(ev->kind, PT_K_ORDER_REFUNDED);
    cr_expect_str_eq(ev->order_id, "1234");
    cr_expect_eq(ev->has_amount, 0);
    ev = tp("Order Refunded", "'order_id':'o1','products':[{'price':3,'quantity':2}]");
    cr_expect_eq(ev->has_amount, 1);
    cr_expect_eq(ev->amount, 600);
}

Test(events, product_viewed_added_removed)
{
    const struct pt_event *ev =
        track(J("{'anonymousId':'a1','event':'Product Viewed','properties':{'price':9.99}}"));
    cr_expect_eq(ev->kind, PT_K_PRODUCT_VIEWED);
    cr_assert_eq(ev->nlines, 1);
    expect_line(&ev->lines[0], NULL, NULL, 999, 1);
    cr_expect_eq(ev->amount, 999);
    cr_expect_eq(ev->has_amount, 1);
    ev = tp("Product Added", "'product_id':'p1','price':'2.50','quantity':4,'currency':'EUR'");
    cr_expect_eq(ev->kind, PT_K_PRODUCT_ADDED);
    expect_line(&ev->lines[0], "p1", NULL, 250, 4);
    cr_expect_eq(ev->amount, 1000);
    ev = tp("Product Removed", "'sku':'S','price':1,'quantity':2.0");
    cr_expect_eq(ev->kind, PT_K_PRODUCT_REMOVED);
    expect_line(&ev->lines[0], NULL, "S", 100, 2);
    cr_expect_eq(ev->amount, 200);
    ev = tp("Product Added", "'sku':'S'");
    cr_expect_eq(ev->amount, 0);
    cr_expect_eq(ev->has_amount, 1);

    tp_bad("Product Added", "'price':1", "missing_field", "properties.product_id");
    expect_bad(J("{'userId':'u1','event':'Product Removed'}"), "missing_field",
               "properties.product_id");
    static const char *const badq[] = {"0", "-1", "1.5", "'2'", "1000001", "true"};
    for (size_t i = 0; i < sizeof badq / sizeof badq[0]; i++)
        tp_bad("Product Added", J("'sku':'S','quantity':%s", badq[i]), "invalid_field",
               "properties.quantity");
    /* 10^15 minor units x 10^6 does not fit in int64 */
    tp_bad("Product Added", "'sku':'S','price':'9999999999999.99','quantity':1000000",
           "invalid_field", "properties.price");
    tp_bad("Product Viewed", "'product_id':{}", "invalid_field", "properties.product_id");
}

Test(events, cart_viewed_and_checkout_started)
{
    const struct pt_event *ev =
        tp("Cart Viewed", "'products':[{'price':1,'quantity':2},{'price':3}]");
    cr_expect_eq(ev->kind, PT_K_CART_VIEWED);
    cr_expect_eq(ev->nlines, 2);
    cr_expect_eq(ev->amount, 500);
    cr_expect_eq(ev->has_amount, 1);
    ev = tp("Checkout Started", "'value':10,'revenue':20,'products':[{'price':1}]");
    cr_expect_eq(ev->kind, PT_K_CHECKOUT_STARTED);
    cr_expect_eq(ev->amount, 1000);
    cr_expect_eq(tp("Checkout Started", "'revenue':'20'")->amount, 2000);
    ev = track(J("{'userId':'u1','event':'Cart Viewed'}"));
    cr_expect_eq(ev->has_amount, 0);
    cr_expect_eq(ev->nlines, 0);
    tp_bad("Cart Viewed", "'products':{}", "invalid_field", "properties.products");
    tp_bad("Cart Viewed", "'products':[{},3]", "invalid_field", "properties.products[1]");
    tp_bad("Cart Viewed", "'value':'x'", "invalid_field", "properties.value");
}

Test(events, store_visited)
{
    const struct pt_event *ev = tp("Store Visited", "'store_id':'berlin-1'");
    cr_expect_eq(ev->kind, PT_K_STORE_VISITED);
    cr_expect_str_eq(ev->store_id, "berlin-1");
    cr_expect_eq(ev->has_amount, 0);
    cr_expect_str_eq(tp("Store Visited", "'store_id':12")->store_id, "12");
    cr_expect_null(tp("Store Visited", "")->store_id);
    tp_bad("Store Visited", "'store_id':''", "invalid_field", "properties.store_id");
}

Test(events, consent_changed_both_forms)
{
    const struct pt_event *ev =
        tp("Consent Changed", "'consents':{'email_marketing':true,'sms':false}");
    cr_expect_eq(ev->kind, PT_K_CONSENT_CHANGED);
    cr_expect_eq(ev->consent_set, PT_CONSENT_EMAIL | PT_CONSENT_SMS);
    cr_expect_eq(ev->consent_val, PT_CONSENT_EMAIL);
    ev = tp("Consent Changed", "'purpose':'profiling','granted':false");
    cr_expect_eq(ev->consent_set, PT_CONSENT_PROFILING);
    cr_expect_eq(ev->consent_val, 0);
    ev = tp("Consent Updated", "'purpose':'email','granted':true,'consents':{'profiling':true}");
    cr_expect_eq(ev->kind, PT_K_CONSENT_CHANGED);
    cr_expect_eq(ev->consent_set, PT_CONSENT_EMAIL | PT_CONSENT_PROFILING);
    cr_expect_eq(ev->consent_val, PT_CONSENT_EMAIL | PT_CONSENT_PROFILING);

    static const char *const bad[][3] = {
        {"'consents':{'push':true}", "invalid_field", "properties.consents"},
        {"'consents':{'sms':'yes'}", "invalid_field", "properties.consents"},
        {"'consents':[]", "invalid_field", "properties.consents"},
        {"'consents':{}", "missing_field", "properties.consents"},
        {"", "missing_field", "properties.consents"},
        {"'purpose':'fax','granted':true", "invalid_field", "properties.purpose"},
        {"'purpose':1,'granted':true", "invalid_field", "properties.purpose"},
        {"'purpose':'sms'", "missing_field", "properties.granted"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        tp_bad("Consent Changed", bad[i][0], bad[i][1], bad[i][2]);
}

Test(events, custom_names_are_not_interpreted)
{
    const struct pt_event *ev = tp("Signed Up", "'revenue':-5,'order_id':[],'products':7");
    cr_expect_eq(ev->kind, PT_K_CUSTOM);
    cr_expect_str_eq(ev->name, "Signed Up");
    cr_expect_eq(ev->has_amount, 0);
    cr_expect_null(ev->order_id);
    /* kind names are case-sensitive, as in the Segment spec */
    ev = track(J("{'userId':'u1','event':'order completed','properties':null}"));
    cr_expect_eq(ev->kind, PT_K_CUSTOM);
    cr_expect_str_eq(pt_ev_kind_name(PT_K_ORDER_COMPLETED), "Order Completed");
    cr_expect_str_eq(pt_ev_kind_name(PT_K_CUSTOM), "custom");
    cr_expect_str_eq(pt_ev_kind_name((enum pt_ev_kind)99), "custom");
    cr_expect_str_eq(pt_ev_type_name(PT_EV_SCREEN), "screen");
    cr_expect_str_eq(pt_ev_type_name((enum pt_ev_type)0), "?");
    cr_expect_str_eq(pt_consent_name(0), "email_marketing");
    cr_expect_str_eq(pt_consent_name(2), "profiling");
    cr_expect_str_eq(pt_consent_name(3), "?");
}

/* ---- identify, alias, page, screen, group ---- */

Test(events, identify_traits_as_compact_json)
{
    const struct pt_event *ev = ok1(PT_EV_IDENTIFY, J("{ 'userId' : 'u1',\n 'traits' : { 'email' :"
                                                      " 'a@b.c', 'plan': 'pro', 'n': [1, 2.5, "
                                                      "null], 'x': {'y': true} } }"));
    cr_expect_eq(ev->type, PT_EV_IDENTIFY);
    cr_expect_str_eq(ev->traits,
                     J("{'email':'a@b.c','plan':'pro','n':[1,2.5,null],'x':{'y':true}}"));
    cr_expect_str_eq(ev->json, J("{'userId':'u1','traits':{'email':'a@b.c','plan':'pro','n':[1,"
                                 "2.5,null],'x':{'y':true}}}"));
    cr_expect_null(ev->name);
    ev = ok1(PT_EV_IDENTIFY, J("{'anonymousId':'a1'}"));
    cr_expect_null(ev->traits);
    cr_expect_str_eq(ev->anonymous_id, "a1");
    ev = ok1(PT_EV_IDENTIFY, J("{'userId':'u1','traits':null,'event':'ignored'}"));
    cr_expect_null(ev->traits);
    cr_expect_null(ev->name);
    expect_err(PT_EV_IDENTIFY, J("{'userId':'u1','traits':[1]}"), PT_EPARSE, "invalid_field",
               "traits");
}

Test(events, alias_needs_previous_id_and_user_id)
{
    const struct pt_event *ev = ok1(PT_EV_ALIAS, J("{'userId':'u1','previousId':'anon-7'}"));
    cr_expect_eq(ev->type, PT_EV_ALIAS);
    cr_expect_str_eq(ev->previous_id, "anon-7");
    cr_expect_str_eq(ev->user_id, "u1");
    ev = ok1(PT_EV_ALIAS, J("{'userId':5,'previousId':6}"));
    cr_expect_str_eq(ev->previous_id, "6");
    expect_err(PT_EV_ALIAS, J("{'userId':'u1'}"), PT_EPARSE, "missing_field", "previousId");
    expect_err(PT_EV_ALIAS, J("{'userId':'u1','previousId':null}"), PT_EPARSE, "missing_field",
               "previousId");
    expect_err(PT_EV_ALIAS, J("{'anonymousId':'a','previousId':'p'}"), PT_EPARSE, "missing_field",
               "userId");
    expect_err(PT_EV_ALIAS, J("{'userId':'u1','previousId':''}"), PT_EPARSE, "invalid_field",
               "previousId");
}

Test(events, page_screen_group)
{
    const struct pt_event *ev = ok1(PT_EV_PAGE, J("{'userId':'u1','name':'Home','properties':"
                                                  "{'url':'https://x.test/'}}"));
    cr_expect_eq(ev->type, PT_EV_PAGE);
    cr_expect_str_eq(ev->name, "Home");
    ev = ok1(PT_EV_PAGE, J("{'anonymousId':'a1'}"));
    cr_expect_null(ev->name);
    ev = ok1(PT_EV_SCREEN, J("{'userId':'u1','name':'Settings'}"));
    cr_expect_eq(ev->type, PT_EV_SCREEN);
    cr_expect_str_eq(ev->name, "Settings");
    ev = ok1(PT_EV_GROUP, J("{'userId':'u1','groupId':'g1'}"));
    cr_expect_eq(ev->type, PT_EV_GROUP);
    expect_err(PT_EV_PAGE, J("{'userId':'u1','name':[]}"), PT_EPARSE, "invalid_field", "name");
    cr_expect_str_eq(ok1(PT_EV_SCREEN, J("{'userId':'u1','name':404}"))->name, "404");
    expect_err(PT_EV_SCREEN, J("{'name':'x'}"), PT_EPARSE, "missing_field", "userId");
}

/* ---- ids and timestamps ---- */

Test(events, ids_as_integers_and_strings)
{
    const struct pt_event *ev =
        track(J("{'userId':42,'anonymousId':-7,'messageId':9007199254740993,'event':'e'}"));
    cr_expect_str_eq(ev->user_id, "42");
    cr_expect_str_eq(ev->anonymous_id, "-7");
    cr_expect_str_eq(ev->message_id, "9007199254740993");
    ev = track(J("{'userId':'caf\\u00e9','event':'e'}"));
    cr_expect_str_eq(ev->user_id, "caf\xc3\xa9");
    ev = track(J("{'userId':null,'anonymousId':'a','event':'e'}"));
    cr_expect_null(ev->user_id);
    ev = track(J("{'userId':'%s','event':'e'}", rep('u', PT_EV_MAX_ID)));
    cr_expect_eq(strlen(ev->user_id), PT_EV_MAX_ID);

    expect_bad(J("{'userId':1.5,'event':'e'}"), "invalid_field", "userId");
    expect_bad(J("{'userId':true,'event':'e'}"), "invalid_field", "userId");
    expect_bad(J("{'userId':{},'event':'e'}"), "invalid_field", "userId");
    expect_bad(J("{'userId':'','event':'e'}"), "invalid_field", "userId");
    expect_bad(J("{'userId':'u','anonymousId':[],'event':'e'}"), "invalid_field", "anonymousId");
    expect_bad(J("{'userId':'u','messageId':false,'event':'e'}"), "invalid_field", "messageId");
    expect_bad(J("{'userId':'%s','event':'e'}", rep('u', PT_EV_MAX_ID + 1)), "too_large", "userId");
    expect_bad(J("{'userId':'u','messageId':'%s','event':'e'}", rep('m', PT_EV_MAX_ID + 1)),
               "too_large", "messageId");
    expect_err(0, "{\"batch\":[{\"type\":\"track\",\"userId\":\"u\\u0000\",\"event\":\"e\"}]}",
               PT_EPARSE, "invalid_json", "");
}

Test(events, missing_user_and_anonymous_id)
{
    expect_bad(J("{'event':'e'}"), "missing_field", "userId");
    expect_bad(J("{'userId':null,'anonymousId':null,'event':'e'}"), "missing_field", "userId");
    expect_err(PT_EV_IDENTIFY, J("{'traits':{}}"), PT_EPARSE, "missing_field", "userId");
}

static int64_t ts(const char *stamp)
{
    return track(J("{'userId':'u','event':'e',%s}", stamp))->t;
}

Test(events, timestamps)
{
    const int64_t day = pt_days_from_civil(2024, 3, 5) * 86400;
    cr_expect_eq(ts("'timestamp':'2024-03-05T10:20:30Z'"), day + 37230);
    cr_expect_eq(ts("'timestamp':'2024-03-05T12:20:30+02:00'"), day + 37230);
    cr_expect_eq(ts("'timestamp':'2024-03-05T05:20:30-05:00'"), day + 37230);
    cr_expect_eq(ts("'timestamp':'2024-03-05T10:20:30.999Z'"), day + 37230);
    cr_expect_eq(ts("'timestamp':'2024-03-05T10:20:30.123456+00:00'"), day + 37230);
    cr_expect_eq(ts("'timestamp':'2024-03-05'"), day);
    cr_expect_eq(ts("'originalTimestamp':'2024-03-05T00:00:01Z'"), day + 1);
    cr_expect_eq(ts("'timestamp':'2024-03-05T00:00:02Z','originalTimestamp':'2000-01-01'"),
                 day + 2);
    cr_expect_eq(ts("'timestamp':null,'originalTimestamp':'2024-03-05'"), day);
    cr_expect_eq(ts("'sentAt':'2024-03-05'"), NOW);
    cr_expect_eq(ts("'properties':{}"), NOW);

    expect_bad(J("{'userId':'u','event':'e','timestamp':1709634030}"), "invalid_field",
               "timestamp");
    expect_bad(J("{'userId':'u','event':'e','timestamp':'2023-02-29T00:00:00Z'}"), "invalid_field",
               "timestamp");
    expect_msg("no such date");
    expect_bad(J("{'userId':'u','event':'e','timestamp':'yesterday'}"), "invalid_field",
               "timestamp");
    expect_bad(J("{'userId':'u','event':'e','originalTimestamp':'2024-03-05 10:00:00'}"),
               "invalid_field", "originalTimestamp");
}

/* ---- request-level errors ---- */

Test(events, invalid_json_names_line_and_column)
{
    expect_bad("{\"userId\":\"u\",\n \"event\": x}", "invalid_json", "");
    expect_msg("line 2, column");
    expect_bad("{\"userId\":\"u\",\"event\":\"e\"} trailing", "invalid_json", "");
    expect_bad("", "invalid_json", "");
    expect_bad("{\"userId\":\"u\",\"event\":\"e\"", "invalid_json", "");
    expect_err(0, "{\"batch\":[}", PT_EPARSE, "invalid_json", "");
    expect_msg("line 1, column");
    cr_expect_eq(E.index, -1);
    /* partial mode does not rescue a body that is not JSON */
    cr_expect_eq(dec_n("{\"batch\":[", 10, 0, 1), PT_EPARSE);
    cr_expect_str_eq(E.code, "invalid_json");
    cr_expect_eq(NBAD, 0);
}

Test(events, body_must_be_an_object)
{
    /* jansson itself rejects a scalar at the top, with a line and column */
    static const char *const bodies[] = {"[]", "[{\"userId\":\"u\"}]", "42", "\"s\"", "null"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        expect_err(PT_EV_TRACK, bodies[i], PT_EPARSE, "invalid_json", "");
        expect_msg(i < 2 ? "must be a JSON object" : "line 1, column");
        expect_err(0, bodies[i], PT_EPARSE, "invalid_json", "");
    }
}

Test(events, missing_or_bad_event_name_and_types)
{
    expect_bad(J("{'userId':'u'}"), "missing_field", "event");
    expect_bad(J("{'userId':'u','event':''}"), "missing_field", "event");
    expect_bad(J("{'userId':'u','event':5}"), "missing_field", "event");
    expect_bad(J("{'userId':'u','event':null}"), "missing_field", "event");
    expect_bad(J("{'userId':'u','event':'e','properties':'x'}"), "invalid_field", "properties");
    expect_bad(J("{'userId':'u','event':'e','properties':[]}"), "invalid_field", "properties");
    expect_bad(J(ORDER("'revenue':1,'products':[{'price':1,'sku':[]}]")), "invalid_field",
               "properties.products[0].sku");
    expect_bad(J(ORDER("'revenue':1,'products':[{'category':7.5}]")), "invalid_field",
               "properties.products[0].category");
}

Test(events, duplicate_keys_are_rejected)
{
    expect_bad(J("{'userId':'u','userId':'v','event':'e'}"), "invalid_json", "");
    expect_msg("duplicate");
    expect_bad(J(ORDER("'revenue':1,'revenue':2")), "invalid_json", "");
    expect_err(0, J("{'batch':[{'type':'track','userId':'u','event':'e','event':'f'}]}"), PT_EPARSE,
               "invalid_json", "");
}

/* ---- regressions (each failed once; the comment says how) ---- */

/*
 * 1. get_money accepted a JSON number whose extra decimals were within a
 *    relative 1e-6 of a whole minor unit and rounded it away: 10000.005 became
 *    1000000 cents and 1234567.891 became 123456789, while the same values as
 *    strings were rejected ("more than 2 decimals").
 *    Expected: invalid_field properties.revenue, as for "10000.005".
 */
Test(events, regression_large_numbers_with_extra_decimals)
{
    order_bad(J("'revenue':10000.005"), "invalid_field", "properties.revenue");
    order_bad(J("'revenue':1234567.891"), "invalid_field", "properties.revenue");
    order_bad(J("'revenue':99999999.9999"), "invalid_field", "properties.revenue");
    order_bad(J("'revenue':1000.0005,'currency':'KWD'"), "invalid_field", "properties.revenue");
    cr_expect_eq(order_amount(J("'revenue':9999999999999.99")), 999999999999999);
    cr_expect_eq(order_amount(J("'revenue':123456789012.34")), 12345678901234);
}

Test(events, stored_json_keeps_decimals_as_sent)
{
    const char *body = J("{'userId':'u1','event':'Product Viewed','properties':"
                         "{'product_id':'p1','price':167.17,'weight':0.1,'big':12345678.91}}");
    const struct pt_event *ev = track(body);
    cr_expect_eq(ev->amount, 16717);
    cr_expect_str_eq(ev->json, body, "numbers re-printed exactly: %s", ev->json);
}
