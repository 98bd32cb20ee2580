/*
 * test_events_batch.c - the Segment-spec JSON event decoder (ingest/events.h):
 * size, depth and string limits, /v1/batch bodies, partial mode and
 * allocation failures. Single events of each kind: test_events.c.
 */
#include "harness_events.h"

TestSuite(events_batch, .init = setup, .fini = teardown);

/* ---- limits ---- */

/* A track event whose JSON nests `depth` levels (the event object is level 1). */
static const char *nested(int depth, int in_batch)
{
    static char s[512];
    size_t n = 0;
    n += (size_t)snprintf(s + n, sizeof s - n, "%s{\"userId\":\"u\",\"event\":\"e\"",
                          in_batch ? "{\"batch\":[" : "");
    if (in_batch)
        n += (size_t)snprintf(s + n, sizeof s - n, ",\"type\":\"track\"");
    n += (size_t)snprintf(s + n, sizeof s - n, ",\"properties\":");
    for (int i = 2; i < depth; i++)
        n += (size_t)snprintf(s + n, sizeof s - n, i % 2 ? "[" : "{\"k\":");
    n += (size_t)snprintf(s + n, sizeof s - n, "{}");
    for (int i = depth - 1; i >= 2; i--)
        n += (size_t)snprintf(s + n, sizeof s - n, i % 2 ? "]" : "}");
    snprintf(s + n, sizeof s - n, "}%s", in_batch ? "]}" : "");
    return s;
}

Test(events_batch, nesting_depth_limit)
{
    cr_expect_eq(dec(PT_EV_TRACK, nested(PT_EV_MAX_DEPTH, 0)), 0, "%s", E.message);
    expect_err(PT_EV_TRACK, nested(PT_EV_MAX_DEPTH + 1, 0), PT_ETOOBIG, "too_large", "");
    expect_msg("nesting");
    /* the same event inside a batch: the envelope's two levels are not counted */
    cr_expect_eq(dec(0, nested(PT_EV_MAX_DEPTH, 1)), 0, "%s", E.message);
    expect_err(0, nested(PT_EV_MAX_DEPTH + 1, 1), PT_ETOOBIG, "too_large", "");
    cr_expect_eq(E.index, -1);
    /* brackets inside strings are not nesting */
    track(J("{'userId':'u','event':'%s \\\" %s'}", rep('[', 40), "{{{{{{{{{{{{{{{{{{{{"));
}

Test(events_batch, string_limits)
{
    const struct pt_event *ev = track(J("{'userId':'u','event':'%s'}", rep('e', PT_EV_MAX_STRING)));
    cr_expect_eq(strlen(ev->name), PT_EV_MAX_STRING);
    expect_bad(J("{'userId':'u','event':'%s'}", rep('e', PT_EV_MAX_STRING + 1)), "too_large",
               "event");
    expect_msg("1025 bytes");
    expect_bad(J("{'userId':'u','event':'Product Viewed','properties':{'name':'%s'}}",
                 rep('n', PT_EV_MAX_STRING + 1)),
               "too_large", "properties.name");
    expect_bad(J(ORDER("'revenue':1,'products':[{'sku':'%s'}]"), rep('s', PT_EV_MAX_ID + 1)),
               "too_large", "properties.products[0].sku");
    expect_bad(J("{'userId':'u','event':'Order Refunded','properties':{'order_id':'%s'}}",
                 rep('o', PT_EV_MAX_ID + 1)),
               "too_large", "properties.order_id");
    /* uninterpreted strings only count towards the stored event's size */
    ev = track(J("{'userId':'u','event':'e','properties':{'note':'%s'}}",
                 rep('x', PT_EV_MAX_EVENT - 100)));
    cr_expect_lt(ev->json_len, PT_EV_MAX_EVENT);
    expect_bad(
        J("{'userId':'u','event':'e','properties':{'note':'%s'}}", rep('x', PT_EV_MAX_EVENT)),
        "too_large", "");
    expect_err(0, J("{'batch':[{'type':'page','userId':'u','p':'%s'}]}", rep('x', PT_EV_MAX_EVENT)),
               PT_ETOOBIG, "too_large", "batch[0]");
    cr_expect_eq(E.index, 0);
}

Test(events_batch, products_limit)
{
    static char s[PT_EV_MAX_PRODUCTS * 16 + 256];
    for (int extra = 0; extra < 2; extra++) {
        size_t n = (size_t)snprintf(s, sizeof s, "%s",
                                    J("{'userId':'u1','event':'Order Completed','properties':"
                                      "{'order_id':'o1','products':["));
        for (int i = 0; i < PT_EV_MAX_PRODUCTS + extra; i++)
            n += (size_t)snprintf(s + n, sizeof s - n, "%s{\"price\":1}", i ? "," : "");
        snprintf(s + n, sizeof s - n, "]}}");
        if (extra == 0)
            cr_expect_eq(track(s)->amount, 100 * PT_EV_MAX_PRODUCTS);
        else
            expect_bad(s, "too_large", "properties.products");
    }
}

Test(events_batch, batch_size_limits)
{
    char *s = batch_of(PT_EV_MAX_BATCH, TEV);
    cr_expect_eq(dec(0, s), 0, "%s", E.message);
    cr_expect_eq(B.n, PT_EV_MAX_BATCH);
    cr_expect_eq(ORIG[PT_EV_MAX_BATCH - 1], PT_EV_MAX_BATCH - 1);
    free(s);
    s = batch_of(PT_EV_MAX_BATCH + 1, TEV);
    expect_err(0, s, PT_ETOOBIG, "too_large", "batch");
    cr_expect_eq(E.index, -1);
    cr_expect_eq(dec_n(s, strlen(s), 0, 1), PT_ETOOBIG, "partial mode too");
    free(s);
    expect_err(0, "{\"batch\":[]}", PT_EPARSE, "invalid_field", "batch");
    expect_msg("empty");
}

Test(events_batch, body_size_limit)
{
    char *s = malloc(PT_EV_MAX_BODY + 2);
    cr_assert_not_null(s);
    memset(s, ' ', PT_EV_MAX_BODY + 1);
    memcpy(s, "{\"userId\":\"u\",\"event\":\"e\"}", 26);
    cr_expect_eq(dec_n(s, PT_EV_MAX_BODY, PT_EV_TRACK, 0), 0, "exactly the limit: %s", E.message);
    cr_expect_eq(dec_n(s, PT_EV_MAX_BODY + 1, PT_EV_TRACK, 0), PT_ETOOBIG);
    cr_expect_str_eq(E.code, "too_large");
    cr_expect_str_eq(E.field, "");
    cr_expect_eq(E.index, -1);
    cr_expect_eq(B.n, 0);
    cr_expect_eq(dec_n(s, PT_EV_MAX_BODY + 1, 0, 1), PT_ETOOBIG);
    free(s);
}

/* ---- batches ---- */

Test(events_batch, batch_of_mixed_types)
{
    const struct pt_event *ev;
    cr_assert_eq(dec(0, J("{'batch':[{'type':'identify','userId':'u1','traits':{'a':1}},"
                          "{'type':'track','userId':'u1','event':'Order Completed',"
                          "'properties':{'order_id':'o','revenue':3}},"
                          "{'type':'alias','userId':'u1','previousId':'a9'},"
                          "{'type':'page','anonymousId':'a9'},{'type':'screen','userId':2},"
                          "{'type':'group','userId':'u1','groupId':'g'}],'context':{}}")),
                 0, "%s %s", E.field, E.message);
    cr_assert_eq(B.n, 6);
    static const enum pt_ev_type want[] = {PT_EV_IDENTIFY, PT_EV_TRACK,  PT_EV_ALIAS,
                                           PT_EV_PAGE,     PT_EV_SCREEN, PT_EV_GROUP};
    for (size_t i = 0; i < 6; i++) {
        cr_expect_eq(B.ev[i].type, want[i], "event %zu", i);
        cr_expect_eq(ORIG[i], (int)i);
    }
    ev = &B.ev[1];
    cr_expect_eq(ev->amount, 300);
    cr_expect_str_eq(B.ev[0].traits, "{\"a\":1}");
    cr_expect_str_eq(B.ev[2].previous_id, "a9");
    cr_expect_str_eq(B.ev[4].user_id, "2");
}

Test(events_batch, batch_errors_name_the_event)
{
    expect_err(0, J("{'batch':{}}"), PT_EPARSE, "missing_field", "batch");
    expect_err(0, J("{'events':[]}"), PT_EPARSE, "missing_field", "batch");
    expect_err(0, J("{'batch':[" TEV ",3]}"), PT_EPARSE, "invalid_field", "batch[1]");
    cr_expect_eq(E.index, 1);
    expect_err(0, J("{'batch':[{'userId':'u','event':'e'}]}"), PT_EPARSE, "missing_field",
               "batch[0].type");
    expect_err(0, J("{'batch':[{'type':'TRACK','userId':'u','event':'e'}]}"), PT_EPARSE,
               "invalid_field", "batch[0].type");
    expect_err(0,
               J("{'batch':[" TEV "," TEV ",{'type':'track','userId':'u','event':"
                 "'Order Completed','properties':{'order_id':'o','revenue':-1}}]}"),
               PT_EPARSE, "invalid_field", "batch[2].properties.revenue");
    cr_expect_eq(E.index, 2);
    expect_err(0,
               J("{'batch':[" TEV ",{'type':'track','userId':'u','event':'Order Completed',"
                 "'properties':{'order_id':'o','products':[{},{'quantity':0}]}}]}"),
               PT_EPARSE, "invalid_field", "batch[1].properties.products[1].quantity");
    expect_err(
        0, J("{'batch':[{'type':'track','userId':'%s','event':'e'}]}", rep('u', PT_EV_MAX_ID + 1)),
        PT_ETOOBIG, "too_large", "batch[0].userId");
}

/* ---- partial mode ---- */

Test(events_batch, partial_keeps_good_events_with_their_index)
{
    const char *s = J("{'batch':[" TEV ",{'type':'track','event':'e'}," TEV
                      ",{'type':'track','userId':'u','event':'Product Added','properties':{}},"
                      "{'type':'alias','userId':'u','previousId':'p'},7]}");
    cr_assert_eq(dec_n(s, strlen(s), 0, 1), 0, "%s", E.message);
    cr_assert_eq(B.n, 3);
    cr_expect_eq(ORIG[0], 0);
    cr_expect_eq(ORIG[1], 2);
    cr_expect_eq(ORIG[2], 4);
    cr_expect_eq(B.ev[2].type, PT_EV_ALIAS);
    cr_assert_eq(NBAD, 3);
    cr_expect_eq(BAD[0].index, 1);
    cr_expect_str_eq(BAD[0].code, "missing_field");
    cr_expect_str_eq(BAD[0].field, "batch[1].userId");
    cr_expect_eq(BAD[1].index, 3);
    cr_expect_str_eq(BAD[1].field, "batch[3].properties.product_id");
    cr_expect_eq(BAD[2].index, 5);
    cr_expect_str_eq(BAD[2].field, "batch[5]");
    cr_expect_str_eq(E.code, "", "the request itself is fine");
}

Test(events_batch, partial_counts_beyond_the_error_capacity)
{
    char *s = batch_of(10, "{\"type\":\"track\",\"userId\":\"u\"}");
    cr_expect_eq(dec_n(s, strlen(s), 0, 1), 0);
    cr_expect_eq(B.n, 0);
    cr_expect_eq(NBAD, 10, "all counted, 4 stored");
    cr_expect_eq(BAD[3].index, 3);
    cr_expect_str_eq(BAD[3].field, "batch[3].event");
    free(s);
    /* a too-large event is one bad event, not a failed request */
    const char *t =
        J("{'batch':[{'type':'page','userId':'u','p':'%s'}," TEV "]}", rep('x', PT_EV_MAX_EVENT));
    cr_expect_eq(dec_n(t, strlen(t), 0, 1), 0);
    cr_expect_eq(B.n, 1);
    cr_expect_eq(ORIG[0], 1);
    cr_expect_eq(NBAD, 1);
    cr_expect_str_eq(BAD[0].code, "too_large");
}

Test(events_batch, partial_on_a_single_event_endpoint)
{
    const char *s = J("{'event':'e'}");
    cr_expect_eq(dec_n(s, strlen(s), PT_EV_TRACK, 1), PT_EPARSE);
    cr_expect_str_eq(E.field, "userId");
    cr_expect_eq(B.n, 0);
    s = J("{'userId':'u','event':'e'}");
    cr_expect_eq(dec_n(s, strlen(s), PT_EV_TRACK, 1), 0);
    cr_expect_eq(B.n, 1);
    cr_expect_eq(ORIG[0], 0);
}

/* ---- allocation failures ---- */

/* Decode with the fail-th allocation (and all later ones) failing, for every
 * fail until the decode needs fewer: PT_ENOMEM with an "internal" error, or
 * the same result as without failures. LeakSanitizer checks the releases. */
static void oom_sweep(const char *body, enum pt_ev_type type, int partial)
{
    size_t len = strlen(body);
    cr_assert_eq(dec_n(body, len, type, partial), 0, "%s", E.message);
    size_t want_n = B.n, want_bad = NBAD;
    size_t want_len = B.n ? B.ev[B.n - 1].json_len : 0;
    for (unsigned long fail = 1;; fail++) {
        cr_assert_lt(fail, 100000, "never succeeds");
        pt_evbatch_release(&B);
        pt_mem_fail_after(fail);
        int rc = dec_n(body, len, type, partial);
        pt_mem_fail_after(0);
        if (rc == 0) {
            cr_expect_eq(B.n, want_n);
            cr_expect_eq(NBAD, want_bad);
            if (B.n)
                cr_expect_eq(B.ev[B.n - 1].json_len, want_len);
            break;
        }
        cr_assert_eq(rc, PT_ENOMEM, "fail %lu partial %d: rc %d (%s %s)", fail, partial, rc, E.code,
                     E.message);
        cr_assert_str_eq(E.code, "internal", "fail %lu partial %d", fail, partial);
        cr_assert_str_eq(E.message, "out of memory", "fail %lu partial %d", fail, partial);
    }
}

Test(events_batch, allocation_failures_single)
{
    oom_sweep(J(ORDER("'products':[{'product_id':'p','sku':'s','name':'n','category':'c',"
                      "'price':1},{'product_id':2,'price':'3.5'}]")),
              PT_EV_TRACK, 0);
    oom_sweep(J("{'userId':'u','traits':{'a':[1,2]}}"), PT_EV_IDENTIFY, 0);
    oom_sweep(J("{'userId':'u','event':'Product Added','properties':{'sku':'s'}}"), PT_EV_TRACK, 1);
}

Test(events_batch, allocation_failures_batch)
{
    /* 40 events: the event array grows twice; 3 KiB each: several arena blocks */
    char ev[3200];
    snprintf(ev, sizeof ev,
             "{\"type\":\"track\",\"userId\":\"u\",\"messageId\":\"m\",\"event\":"
             "\"Order Completed\",\"properties\":{\"order_id\":\"o\",\"revenue\":1,"
             "\"note\":\"%s\"}}",
             rep('x', 3000));
    char *s = batch_of(40, ev);
    oom_sweep(s, 0, 0);
    oom_sweep(s, 0, 1);
    free(s);
    oom_sweep(J("{'batch':[" TEV ",{'type':'track'},{'type':'identify','userId':1,'traits':{}}]}"),
              0, 1);
}

/* ---- regressions (each failed once; the comment says how) ---- */

/*
 * 2. In a batch with partial = 0, running out of memory inside an event copied
 *    the never-written per-event error record over *err (code and message were
 *    stack garbage, not NUL-terminated). Expected: code "internal".
 */
Test(events_batch, regression_out_of_memory_error_in_a_batch)
{
    const char *s = J("{'batch':[" TEV "]}");
    pt_mem_fail_after(2); /* the event array succeeds, the first string fails */
    int rc = dec_n(s, strlen(s), 0, 0);
    pt_mem_fail_after(0);
    cr_assert_eq(rc, PT_ENOMEM);
    cr_expect_str_eq(E.code, "internal");
    cr_expect_eq(E.index, 0);
}
