/* test_engine.c - the engine (engine/engine.h) without HTTP, through
 * harness_engine.h: profiles (orders, refunds, duplicates, cart, consents),
 * identity merges by identify and alias and their undoing, erasure (memory,
 * store rows and file bytes), a restart, live RFM against RFM-SPEC.md computed
 * by hand, and the identity limit of a profile. Queues, threads and failed
 * groups are in test_engine_jobs.c. */
#include "harness_engine.h"
#include "rfm/rfm.h"

TestSuite(engine, .init = setup, .fini = teardown);

/* ---- profiles ---- */

Test(engine, orders_and_refunds)
{
    struct pt_job *j = run(
        Q("%s,%s,"
          "{'type':'track','userId':'u1','event':'Order Completed','timestamp':'%s','properties':"
          "{'order_id':'o3','products':[{'product_id':'p','price':2.5,'quantity':4}]}}",
          order("u1", "o1", "100", 10), order("u1", "o2", "'25.50'", 3), ago(5)));
    cr_expect_eq(j->accepted, 3);
    struct pt_profile *p = prof("u1", 0);
    cr_expect_eq(p->orders, 3);
    cr_expect_eq(p->revenue, 10000 + 2550 + 1000);
    cr_expect_eq(p->refunded, 0);
    cr_expect_eq(p->first_t, days_t(10));
    cr_expect_eq(p->last_t, days_t(3));
    cr_expect_str_eq(p->user_id, "u1");
    cr_expect_eq(p->anonymous, 0);
    cr_expect_eq(p->nrows, 1);

    const char *rf = "{'type':'track','userId':'%s','event':'Order Refunded','properties':"
                     "{'order_id':'%s'%s}}";
    j = run(Q("%s,%s,%s,%s", Q(rf, "u1", "o1", ",'revenue':30"), Q(rf, "u1", "o2", ""),
              Q(rf, "u1", "nope", ""), Q(rf, "u1", "o1", ",'revenue':1000")));
    cr_expect_eq(j->accepted, 4, "an unknown order's refund is still an event");
    p = prof("u1", 0);
    cr_expect_eq(p->orders, 3, "a refund is no order");
    cr_expect_eq(p->revenue, 13550);
    cr_expect_eq(p->refunded, 3000 + 2550 + 7000, "partial, full, clamped over-refund");
    /* a refund sent by another identity reduces the order's owner */
    run(Q("%s,%s", order("u2", "o4", "10", 1), Q(rf, "u3", "o4", ",'revenue':4")));
    cr_expect_eq(prof("u2", 0)->refunded, 400);
    cr_expect_eq(prof("u3", 0)->refunded, 0);
    cr_expect_eq(pt_engine_profile(G, SHOP, "nobody", 0, &P), PT_ENOTFOUND);
    cr_expect_eq(pt_engine_profile(G, SHOP, "u1", 1, &P), PT_ENOTFOUND, "not an anonymousId");
}

Test(engine, duplicates_are_reported_and_counted)
{
    const char *view = "{'type':'track','userId':'u1','event':'Product Viewed'%s}";
    struct pt_job *j =
        run(Q("%s,%s,%s,%s", order("u1", "o1", "10", 1), Q(view, ",'messageId':'v1'"),
              Q(view, ",'messageId':'v1'"), Q(view, "")));
    cr_expect_eq(j->accepted, 3);
    cr_expect_eq(j->duplicates, 1);
    cr_expect_eq(ST[0], PT_EV_ACCEPTED);
    cr_expect_eq(ST[1], PT_EV_ACCEPTED);
    cr_expect_eq(ST[2], PT_EV_DUPLICATE, "same messageId in one batch");
    j = run(Q("%s,%s,%s,"
              "{'type':'track','userId':'u1','messageId':'other','event':'Order Completed',"
              "'properties':{'order_id':'o1','revenue':99}}",
              order("u1", "o1", "10", 1), Q(view, ",'messageId':'v1'"), Q(view, "")));
    cr_expect_eq(j->accepted, 1, "only the event without a messageId");
    cr_expect_eq(j->duplicates, 3);
    cr_expect_eq(ST[3], PT_EV_DUPLICATE, "the same order_id under another messageId");
    cr_expect_eq(ST[2], PT_EV_ACCEPTED);
    struct pt_profile *p = prof("u1", 0);
    cr_expect_eq(p->orders, 1);
    cr_expect_eq(p->revenue, 1000);
    /* another shop has its own messageIds and order ids */
    j = run_in(SHOP2, Q("%s,%s", order("u1", "o1", "10", 1), Q(view, ",'messageId':'v1'")));
    cr_expect_eq(j->accepted, 2);
    struct pt_engine_stats st;
    pt_engine_stats(G, &st);
    cr_expect_eq(st.events_accepted, 6);
    cr_expect_eq(st.events_duplicate, 4);
    cr_expect_eq(st.customers, 2);
    cr_expect_eq(st.queue_events, 0);
    struct pt_store *r = pt_engine_reader(G);
    int64_t n = 0;
    cr_assert_not_null(r);
    cr_expect_eq(pt_store_count(r, "received", &n, NULL), 0);
    cr_expect_eq(n, 6, "duplicates are not stored");
}

Test(engine, cart)
{
    const char *ev = "{'type':'track','userId':'u1','event':'%s','timestamp':'%s',"
                     "'properties':{%s}}";
    run(Q(ev, "Product Added", ago(2), "'product_id':'p1','price':10,'quantity':2"));
    struct pt_profile *p = prof("u1", 0);
    cr_expect_eq(p->cart_value, 2000);
    cr_expect_eq(p->cart_since, days_t(2));
    run(Q("%s,%s", Q(ev, "Product Added", ago(1.9), "'sku':'s2','price':5"),
          Q(ev, "Product Removed", ago(1.8), "'product_id':'p1','price':10")));
    cr_expect_eq(prof("u1", 0)->cart_value, 1500);
    run(Q(ev, "Product Removed", ago(1.7), "'product_id':'p9','price':100"));
    p = prof("u1", 0);
    cr_expect_eq(p->cart_value, 0, "never below 0");
    cr_expect_eq(p->cart_since, 0);
    run(Q(ev, "Cart Viewed", ago(1.6), "'value':42"));
    p = prof("u1", 0);
    cr_expect_eq(p->cart_value, 4200);
    cr_expect_eq(p->cart_since, days_t(1.6));
    run(Q(ev, "Checkout Started", ago(1.5), "'products':[{'sku':'a','price':3,'quantity':3}]"));
    cr_expect_eq(prof("u1", 0)->cart_value, 900);
    run(Q(ev, "Product Added", ago(3), "'sku':'late','price':1000"));
    cr_expect_eq(prof("u1", 0)->cart_value, 900, "an event older than the cart is ignored");
    run(Q(ev, "Cart Viewed", ago(1.4), "'note':1"));
    cr_expect_eq(prof("u1", 0)->cart_value, 900, "no value: unchanged");
    run(order("u1", "o1", "9", 1));
    p = prof("u1", 0);
    cr_expect_eq(p->cart_value, 0, "an order empties the cart");
    cr_expect_eq(p->cart_t, days_t(1));
}

Test(engine, consents)
{
    const char *ev = "{'type':'track','%s':'%s','event':'Consent Changed','properties':{%s}}";
    run(Q(ev, "userId", "u1", "'consents':{'email_marketing':true,'sms':false}"));
    struct pt_profile *p = prof("u1", 0);
    cr_expect_eq(p->consent_set, PT_CONSENT_EMAIL | PT_CONSENT_SMS);
    cr_expect_eq(p->consent, PT_CONSENT_EMAIL);
    run(Q(ev, "userId", "u1", "'purpose':'profiling','granted':true"));
    p = prof("u1", 0);
    cr_expect_eq(p->consent_set, PT_CONSENT_ALL);
    cr_expect_eq(p->consent, PT_CONSENT_EMAIL | PT_CONSENT_PROFILING);
    run(Q(ev, "userId", "u1", "'consents':{'email_marketing':false}"));
    cr_expect_eq(prof("u1", 0)->consent, PT_CONSENT_PROFILING);
    /* a visitor's choice before logging in: the user's own choice wins */
    run(Q(ev, "anonymousId", "a1", "'consents':{'sms':true,'profiling':false}"));
    run(Q(ev, "anonymousId", "a2", "'consents':{'sms':true}"));
    run(Q("{'type':'identify','userId':'u1','anonymousId':'a1'},"
          "{'type':'identify','userId':'u2','anonymousId':'a2'}"));
    p = prof("u1", 0);
    cr_expect_eq(p->consent_set, PT_CONSENT_ALL);
    cr_expect_eq(p->consent, PT_CONSENT_PROFILING, "the root's choice wins");
    p = prof("u2", 0);
    cr_expect_eq(p->consent_set, PT_CONSENT_SMS, "a merged identity's when the root has none");
    cr_expect_eq(p->consent, PT_CONSENT_SMS);
}

/* ---- identity ---- */

Test(engine, identify_merges_the_anonymous_profile)
{
    const char *anon = "{'type':'track','anonymousId':'%s','event':'%s','timestamp':'%s',"
                       "'properties':{%s}}";
    run(Q("%s,%s", Q(anon, "a1", "Product Added", ago(2), "'sku':'s','price':7"),
          Q(anon, "a1", "Order Completed", ago(2.5), "'order_id':'oa','revenue':5")));
    run(order("u1", "ou", "20", 4));
    struct pt_profile *p = prof("a1", 1);
    cr_expect_eq(p->anonymous, 1);
    cr_expect_str_eq(p->user_id, "a1");
    cr_expect_eq(p->cart_value, 700);
    int64_t arow = p->root;
    run(Q("{'type':'identify','userId':'u1','anonymousId':'a1','traits':{'name':'Ann'}}"));
    p = prof("u1", 0);
    cr_expect_eq(p->nrows, 2);
    cr_expect_eq(p->orders, 2);
    cr_expect_eq(p->revenue, 2500);
    cr_expect_eq(p->first_t, days_t(4));
    cr_expect_eq(p->last_t, days_t(2.5));
    cr_expect_eq(p->cart_value, 700, "a visitor's cart survives login");
    int64_t root = p->root;
    p = prof("a1", 1);
    cr_expect_eq(p->root, root, "any identity gives the tree's profile");
    cr_expect_str_eq(p->user_id, "u1");
    cr_assert_eq(pt_engine_profile_row(G, SHOP, arow, &P), 0);
    cr_expect_eq(P.root, root);
    cr_expect_eq(pt_engine_profile_row(G, SHOP2, arow, &P), PT_ENOTFOUND, "another shop's row");
    /* first identification wins; a track with both ids merges too */
    run(Q("{'type':'identify','userId':'u2','anonymousId':'a1'},"
          "{'type':'track','userId':'u2','anonymousId':'a2','event':'Product Viewed'}"));
    cr_expect_eq(prof("u1", 0)->nrows, 2);
    p = prof("u2", 0);
    cr_expect_eq(p->nrows, 2, "u2 and a2");
    cr_expect_eq(p->orders, 0);
    cr_expect_eq(prof("a2", 1)->root, p->root);
    struct pt_engine_stats st;
    pt_engine_stats(G, &st);
    cr_expect_eq(st.customers, 4);
}

Test(engine, alias_merges_the_previous_id)
{
    run(Q("%s,%s", order("old-id", "o1", "10", 5), order("new-id", "o2", "20", 1)));
    run(Q("{'type':'alias','userId':'new-id','previousId':'old-id'}"));
    struct pt_profile *p = prof("new-id", 0);
    cr_expect_eq(p->nrows, 2);
    cr_expect_eq(p->orders, 2);
    cr_expect_eq(p->revenue, 3000);
    cr_expect_eq(prof("old-id", 0)->root, p->root);
    /* an unknown previousId becomes an identity of the profile */
    run(Q("{'type':'alias','userId':'new-id','previousId':'never-seen'}"));
    cr_expect_eq(prof("new-id", 0)->nrows, 3);
    cr_expect_eq(prof("never-seen", 1)->orders, 2);
}

Test(engine, unmerge_splits_aggregates_back)
{
    run(Q("%s,{'type':'track','anonymousId':'a1','event':'Order Completed','timestamp':'%s',"
          "'properties':{'order_id':'oa','revenue':5}}",
          order("u1", "ou", "20", 4), ago(3)));
    run(Q("{'type':'identify','userId':'u1','anonymousId':'a1'}"));
    run(Q("{'type':'track','anonymousId':'a1','userId':'u1','event':'Order Refunded',"
          "'properties':{'order_id':'oa','revenue':1}}"));
    struct pt_profile *p = prof("u1", 0);
    cr_assert_eq(p->orders, 2);
    cr_expect_eq(p->refunded, 100);
    int64_t arow = prof("a1", 1)->rows[1];

    cr_assert_eq(job(PT_JOB_UNMERGE, "u1", NULL), 0, "%s", JOB.msg);
    cr_expect_eq(JOB.out_row, arow);
    p = prof("u1", 0);
    cr_expect_eq(p->nrows, 1);
    cr_expect_eq(p->orders, 1);
    cr_expect_eq(p->revenue, 2000);
    cr_expect_eq(p->refunded, 0);
    cr_expect_eq(p->first_t, days_t(4));
    cr_expect_eq(p->last_t, days_t(4));
    p = prof("a1", 1);
    cr_expect_eq(p->anonymous, 1);
    cr_expect_eq(p->root, arow);
    cr_expect_eq(p->orders, 1);
    cr_expect_eq(p->revenue, 500);
    cr_expect_eq(p->refunded, 100);
    cr_expect_eq(job(PT_JOB_UNMERGE, "u1", NULL), PT_ENOTFOUND, "nothing left to undo");
    cr_expect_eq(job(PT_JOB_UNMERGE, "nobody", NULL), PT_ENOTFOUND);
    cr_expect_eq(job(PT_JOB_UNMERGE, "u1", "unknown-anon"), PT_ENOTFOUND);
    /* not merged again automatically; an explicit alias does */
    run(Q("{'type':'identify','userId':'u1','anonymousId':'a1'}"));
    cr_expect_eq(prof("u1", 0)->nrows, 1);
    run(Q("{'type':'alias','userId':'u1','previousId':'a1'}"));
    cr_expect_eq(prof("u1", 0)->orders, 2);
    /* undo by anonymousId */
    run(Q("{'type':'identify','userId':'u1','anonymousId':'a3'}"));
    cr_assert_eq(prof("u1", 0)->nrows, 3);
    cr_assert_eq(job(PT_JOB_UNMERGE, "u1", "a1"), 0, "%s", JOB.msg);
    cr_expect_eq(JOB.out_row, arow);
    p = prof("u1", 0);
    cr_expect_eq(p->nrows, 2, "u1 and a3 stay together");
    cr_expect_eq(p->orders, 1);
}

/* The cart and the consents a visitor brought to a login go back with it on
 * an unmerge, and the user's profile no longer shows them (docs/serve.md: "the
 * identity becomes a profile of its own with the activity it brought"; an
 * unmerge is how a shared device is told apart, so the other person's consent
 * must not stay on the user). */
Test(engine, unmerge_gives_the_cart_and_consents_back)
{
    run(Q("{'type':'track','anonymousId':'a1','event':'Product Added','timestamp':'%s',"
          "'properties':{'sku':'s','price':7}},{'type':'track','anonymousId':'a1',"
          "'event':'Consent Changed','timestamp':'%s','properties':{'consents':{'sms':true}}}",
          ago(1), ago(1)));
    run(Q("{'type':'identify','userId':'u1','anonymousId':'a1','timestamp':'%s'}", ago(0.5)));
    struct pt_profile *p = prof("u1", 0);
    cr_assert_eq(p->cart_value, 700);
    cr_assert_eq(p->consent_set, PT_CONSENT_SMS);
    cr_assert_eq(job(PT_JOB_UNMERGE, "u1", NULL), 0, "%s", JOB.msg);
    p = prof("a1", 1);
    cr_expect_eq(p->cart_value, 700);
    cr_expect_eq(p->consent_set, PT_CONSENT_SMS);
    p = prof("u1", 0);
    cr_expect_eq(p->cart_value, 0, "the user never had a cart of their own");
    cr_expect_eq(p->cart_since, 0);
    cr_expect_eq(p->consent_set, 0, "the user never gave a consent");
}

Test(engine, erase)
{
    /* u1's events include a duplicate order (stored, then deleted) between others */
    run(Q("%s,%s,{'type':'identify','userId':'u1','anonymousId':'a1'},"
          "{'type':'track','anonymousId':'a1','event':'Product Viewed','messageId':'v1'},"
          "{'type':'track','userId':'u1','event':'Order Completed','properties':"
          "{'order_id':'o1','revenue':1}},{'type':'track','userId':'u1','event':'Product Viewed'}",
          order("u1", "o1", "10", 2), order("u2", "o2", "20", 2)));
    cr_assert_eq(prof("u1", 0)->nrows, 2);
    cr_assert_eq(JOB.duplicates, 1);
    struct pt_engine_stats st;
    pt_engine_stats(G, &st);
    cr_expect_eq(st.customers, 3);
    cr_assert_eq(job(PT_JOB_ERASE, "u1", NULL), 0, "%s", JOB.msg);
    cr_expect_eq(JOB.out_row, 2, "two identities erased");
    cr_expect_eq(pt_engine_profile(G, SHOP, "u1", 0, &P), PT_ENOTFOUND);
    cr_expect_eq(pt_engine_profile(G, SHOP, "a1", 1, &P), PT_ENOTFOUND);
    cr_expect_eq(prof("u2", 0)->revenue, 2000, "others untouched");
    pt_engine_stats(G, &st);
    cr_expect_eq(st.customers, 1);
    cr_expect_eq(job(PT_JOB_ERASE, "u1", NULL), PT_ENOTFOUND);
    struct pt_store *r = pt_engine_reader(G);
    int64_t n = -1;
    cr_expect_eq(pt_store_count(r, "received", &n, NULL), 0);
    cr_expect_eq(n, 1, "only u2's order is left");
    int64_t all = -1;
    cr_expect_eq(pt_store_count(r, "events", &all, NULL), 0);
    cr_expect_gt(all, n, "u2 entered built-in segments");
    cr_expect_eq(pt_store_count(r, "customers", &n, NULL), 0);
    cr_expect_eq(n, 1);
    /* the person's messageIds and order ids are gone: a replay is new */
    struct pt_job *j = run(Q("%s,{'type':'track','anonymousId':'a1','event':'Product Viewed',"
                             "'messageId':'v1'}",
                             order("u1", "o1", "10", 2)));
    cr_expect_eq(j->accepted, 2);
    struct pt_profile *p = prof("u1", 0);
    cr_expect_eq(p->orders, 1);
    cr_expect_eq(p->nrows, 1, "a new profile, not linked to the new a1");
    pt_engine_close(G);
    open_engine(0);
    cr_expect_eq(prof("u1", 0)->orders, 1);
    cr_expect_eq(prof("u2", 0)->orders, 1);
    cr_expect_eq(prof("a1", 1)->nrows, 1);
    /* events before and after a restart are erased together */
    run(Q("{'type':'identify','userId':'u1','traits':{'x':1}},%s", order("u1", "o9", "1", 1)));
    cr_assert_eq(job(PT_JOB_ERASE, "u1", NULL), 0, "%s", JOB.msg);
    r = pt_engine_reader(G);
    cr_expect_eq(pt_store_count(r, "received", &n, NULL), 0);
    cr_expect_eq(n, 2, "u2's order and a1's view are left");
    /* an anonymous visitor is erasable too */
    JOB = (struct pt_job){.kind = PT_JOB_ERASE, .shop = SHOP, .user_id = "a1", .anonymous = 1};
    cr_expect_eq(pt_engine_run(G, &JOB), 0, "%s", JOB.msg);
    cr_expect_eq(pt_engine_profile(G, SHOP, "a1", 1, &P), PT_ENOTFOUND);
    cr_expect_eq(pt_store_count(r, "received", &n, NULL), 0);
    cr_expect_eq(n, 1);
}

/* Bytes of `what` in DIR_/file (0 if the file is missing). */
static int in_file(const char *file, const char *what)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", DIR_, file);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return memmem(buf, n, what, strlen(what)) != NULL;
}

/* docs/serve.md: after an erasure no byte of the person's ids, traits, order or
 * product ids is left in the database files (WAL truncated, secure_delete). */
Test(engine, erase_leaves_no_bytes_in_the_files)
{
    for (int k = 0; k < 20; k++) {
        char oid[32], other[32];
        snprintf(oid, sizeof oid, "zq-order-%d", k);
        snprintf(other, sizeof other, "order-%d", k);
        run(Q("{'type':'identify','userId':'zq-user','anonymousId':'zq-anon','traits':"
              "{'email':'zq-mail@example.com'}},%s,{'type':'track','userId':'zq-user',"
              "'event':'Order Completed','properties':{'order_id':'%s','products':"
              "[{'product_id':'zq-product','category':'zq-cat','price':1}]}}",
              order("other", other, "1", 1), oid));
    }
    prof("zq-user", 0);
    cr_assert(in_file("patron.db", "zq-") || in_file("patron.db-wal", "zq-"));
    cr_assert_eq(job(PT_JOB_ERASE, "zq-user", NULL), 0, "%s", JOB.msg);
    cr_expect(!in_file("patron.db", "zq-"), "the person's bytes are in patron.db");
    cr_expect(!in_file("patron.db-wal", "zq-"), "the person's bytes are in the WAL");
    cr_expect_eq(prof("other", 0)->orders, 20);
    pt_engine_close(G);
    G = NULL;
    cr_expect(!in_file("patron.db", "zq-"), "after close: patron.db");
    cr_expect(!in_file("patron.db-wal", "zq-"), "after close: the WAL");
    open_engine(0);
}

/* ---- restart ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void expect_same(const struct pt_profile *a, const struct pt_profile *b, const char *id)
{
    cr_expect_eq(a->nrows, b->nrows, "%s: nrows", id);
    int64_t ra[128], rb[128];
    memcpy(ra, a->rows, a->nrows * sizeof *ra);
    memcpy(rb, b->rows, b->nrows * sizeof *rb);
    qsort(ra, a->nrows, sizeof *ra, cmp_i64);
    qsort(rb, b->nrows, sizeof *rb, cmp_i64);
    cr_expect(a->nrows == b->nrows && memcmp(ra, rb, a->nrows * sizeof *ra) == 0, "%s: rows", id);
#define SAME(f)                                                                                    \
    cr_expect_eq(a->f, b->f, "%s: " #f " %lld then %lld", id, (long long)a->f, (long long)b->f)
    SAME(root);
    SAME(anonymous);
    SAME(orders);
    SAME(first_t);
    SAME(last_t);
    SAME(revenue);
    SAME(refunded);
    SAME(cart_value);
    SAME(cart_since);
    SAME(cart_t);
    SAME(consent);
    SAME(consent_set);
    SAME(has_rfm);
    SAME(recency_days);
    SAME(r);
    SAME(f);
    SAME(m);
    SAME(seg);
#undef SAME
    cr_expect_str_eq(a->user_id, b->user_id, "%s", id);
}

Test(engine, restart_gives_identical_profiles)
{
    const char *ev = "{'type':'track','%s':'%s','event':'%s','timestamp':'%s','properties':{%s}}";
    run(Q("%s,%s,%s,%s,%s,%s", order("u1", "o1", "10", 30), order("u1", "o2", "12.5", 3),
          order("u2", "o3", "99", 60),
          Q(ev, "anonymousId", "a1", "Product Added", ago(2), "'sku':'x','price':3"),
          Q(ev, "anonymousId", "a1", "Consent Changed", ago(2), "'consents':{'sms':true}"),
          Q(ev, "userId", "u1", "Consent Changed", ago(2),
            "'purpose':'email_marketing','granted':false")));
    run(Q("{'type':'identify','userId':'u1','anonymousId':'a1','timestamp':'%s'},"
          "{'type':'identify','userId':'u2','anonymousId':'a2'},"
          "{'type':'identify','userId':'u2','anonymousId':'a3'},"
          "{'type':'alias','userId':'u3','previousId':'u2'},"
          "{'type':'track','userId':'u1','event':'Order Refunded','properties':{'order_id':'o1'}},"
          "%s,%s",
          ago(1.5), Q(ev, "userId", "u4", "Cart Viewed", ago(1), "'value':8"),
          order("u5", "o4", "1", 0.5)));
    cr_assert_eq(job(PT_JOB_UNMERGE, "u2", "a2"), 0, "%s", JOB.msg);
    cr_assert_eq(job(PT_JOB_ERASE, "u5", NULL), 0, "%s", JOB.msg);
    static const struct {
        const char *id;
        int anon;
    } ids[] = {{"u1", 0}, {"a1", 1}, {"u2", 0}, {"u3", 0}, {"a2", 1}, {"a3", 1}, {"u4", 0}};
    struct pt_profile before[7], after[7];
    for (int i = 0; i < 7; i++)
        before[i] = *prof(ids[i].id, ids[i].anon);
    pt_engine_close(G);
    open_engine(0);
    for (int i = 0; i < 7; i++) {
        after[i] = *prof(ids[i].id, ids[i].anon);
        expect_same(&before[i], &after[i], ids[i].id);
    }
    cr_expect_eq(pt_engine_profile(G, SHOP, "u5", 0, &P), PT_ENOTFOUND);
    /* a split identity stays split across the restart; new rows do not collide */
    run(Q("{'type':'identify','userId':'u3','anonymousId':'a2'},%s", order("u6", "o6", "1", 0)));
    cr_expect_eq(prof("u3", 0)->nrows, before[3].nrows);
    cr_expect_eq(prof("u6", 0)->nrows, 1);
    cr_expect_eq(prof("u6", 0)->orders, 1);
    cr_expect_eq(prof("u1", 0)->orders, before[0].orders);
}

/* ---- live RFM ---- */

/* RFM-SPEC.md's R-vs-F grid, [R-1][F-1]. */
static const char *const GRID[5][5] = {
    {"Lost", "Lost", "At Risk", "At Risk", "Can't Lose Them"},
    {"Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"},
    {"About to Sleep", "About to Sleep", "Need Attention", "Loyal Customers", "Loyal Customers"},
    {"Promising", "Potential Loyalists", "Potential Loyalists", "Loyal Customers",
     "Loyal Customers"},
    {"New Customers", "Potential Loyalists", "Potential Loyalists", "Champions", "Champions"},
};

Test(engine, live_rfm_matches_the_spec)
{
    enum { N = 10 };
    static const int days[N] = {3, 40, 7, 100, 1, 250, 15, 60, 30, 400};
    static const int freq[N] = {2, 9, 4, 1, 7, 3, 10, 5, 8, 6};
    static const int64_t mon[N] = {5000, 12000, 700, 99000, 3000, 45000, 8000, 150, 27000, 61000};
    static char all[N * 12 * 400];
    size_t len = 0;
    for (int i = 0; i < N; i++) {
        /* freq orders; the last at `days` ago carries the money (customer 0 gets 10.00
         * more and a refund of it; customer 4's first order came as a visitor) */
        for (int k = 0; k < freq[i]; k++) {
            char user[16], oid[32], rev[32];
            snprintf(user, sizeof user, "c%d", i);
            snprintf(oid, sizeof oid, "c%d-%d", i, k);
            int64_t cents = k ? 0 : mon[i] + (i == 0 ? 1000 : 0);
            snprintf(rev, sizeof rev, "%lld.%02lld", (long long)(cents / 100),
                     (long long)(cents % 100));
            const char *o = order(user, oid, rev, days[i] + 0.05 + 2 * k);
            if (i == 4 && k == freq[i] - 1)
                o = Q("{'type':'track','anonymousId':'v4','event':'Order Completed',"
                      "'timestamp':'%s','properties':{'order_id':'%s','revenue':0}}",
                      ago(days[i] + 0.05 + 2 * k), oid);
            len += (size_t)snprintf(all + len, sizeof all - len, "%s%s", len ? "," : "", o);
        }
    }
    run(all);
    run(Q("{'type':'identify','userId':'c4','anonymousId':'v4'},"
          "{'type':'track','userId':'c0','event':'Order Refunded','properties':"
          "{'order_id':'c0-0','revenue':10}},"
          "{'type':'track','userId':'no-orders','event':'Product Viewed'}"));
    /* another shop's customers are another population */
    run_in(SHOP2, Q("%s,%s", order("c0", "x1", "1000000", 0.1), order("z", "x2", "1", 900)));
    /* segments read RFM scores while the orders arrive, so the shop's quintile
     * boundaries may be a few seconds old (rfm_refresh_s): refresh them now */
    memset(&JOB, 0, sizeof JOB);
    JOB = (struct pt_job){.kind = PT_JOB_SEGMENT, .shop = SHOP, .seg_op = PT_SEG_REFRESH};
    cr_assert_eq(pt_engine_run(G, &JOB), 0);
    for (int i = 0; i < N; i++) {
        int wr = 0, wf = 0, wm = 0;
        for (int j = 0; j < N; j++) {
            wr += days[j] > days[i];
            wf += freq[j] < freq[i];
            wm += mon[j] < mon[i];
        }
        int r = 1 + 5 * wr / N, f = 1 + 5 * wf / N, m = 1 + 5 * wm / N;
        char user[16];
        snprintf(user, sizeof user, "c%d", i);
        struct pt_profile *p = prof(user, 0);
        cr_assert_eq(p->has_rfm, 1, "%s", user);
        cr_expect_eq(p->orders, (uint32_t)freq[i], "%s", user);
        cr_expect_eq(p->revenue - p->refunded, mon[i], "%s", user);
        cr_expect_eq(p->recency_days, days[i], "%s", user);
        cr_expect_eq(p->r, r, "%s: R %d, want %d", user, p->r, r);
        cr_expect_eq(p->f, f, "%s: F %d, want %d", user, p->f, f);
        cr_expect_eq(p->m, m, "%s: M %d, want %d", user, p->m, m);
        cr_expect_str_eq(pt_rfm_segment_names[p->seg], GRID[r - 1][f - 1], "%s", user);
    }
    cr_expect_eq(prof("no-orders", 0)->has_rfm, 0);
}

/* ---- the identity limit ---- */

/* docs/serve.md: "A profile holds at most 128 identities; merges beyond that
 * are not made." Every identity of a tree must be listed in its profile (and
 * erased with it). */
Test(engine, a_profile_holds_at_most_128_identities)
{
    static char all[200 * 96];
    size_t len = 0;
    for (int k = 0; k < 140; k++)
        len += (size_t)snprintf(
            all + len, sizeof all - len,
            "%s{\"type\":\"identify\",\"userId\":\"u1\",\"anonymousId\":\"a%d\"}", k ? "," : "", k);
    run(all);
    struct pt_profile u = *prof("u1", 0);
    cr_expect_leq(u.nrows, 128);
    int inside[140], n = 0;
    for (int k = 0; k < 140; k++) {
        char id[16];
        snprintf(id, sizeof id, "a%d", k);
        struct pt_profile p; /* not known, or a profile of its own: fine */
        inside[k] = pt_engine_profile(G, SHOP, id, 1, &p) == 0 && p.root == u.root;
        if (inside[k]) {
            n++;
            cr_expect_eq(p.nrows, u.nrows);
        }
    }
    cr_expect_leq(n, 127, "%d anonymous ids are in u1's tree; the limit is 127 + u1", n);
    cr_assert_eq(job(PT_JOB_ERASE, "u1", NULL), 0);
    cr_expect_eq(JOB.out_row, n + 1, "erased %lld rows; the profile had %d", (long long)JOB.out_row,
                 n + 1);
    for (int k = 0; k < 140; k++) {
        char id[16];
        snprintf(id, sizeof id, "a%d", k);
        if (inside[k])
            cr_expect_eq(pt_engine_profile(G, SHOP, id, 1, &P), PT_ENOTFOUND,
                         "%s of the erased profile survives", id);
    }
}
