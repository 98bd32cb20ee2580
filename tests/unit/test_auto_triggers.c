/*
 * test_auto_triggers.c - the automations' time triggers, swept by the engine
 * every SWEEP_S = 60 s of an injected clock (engine_auto_sweep.c): days
 * since the last order, purchase rhythm missed, cart abandoned (once per
 * cart), replenishment due, birthday, points expiring (a loyalty programme
 * with expiry); and the hooks: tier changed, segment entered. Each must
 * enter a customer exactly once per occurrence however often the sweep
 * runs, across restarts too, and again for the next occurrence.
 */
#include "harness_auto.h"

static void trig_setup(void)
{
    SWEEP_S = 60;
    auto_setup();
}

TestSuite(auto_triggers, .init = trig_setup, .fini = auto_teardown, .timeout = 60);

/* An automation with trigger (JSON object, single quotes) and one tag step. */
static int64_t on_trigger(const char *trigger)
{
    return auto_create(Q("{'name':'t','trigger':%s,'steps':[{'type':'tag','add':'x'}]}", trigger));
}

/* Entries of user into automation a (runs of every state). */
static int64_t entered(int64_t a)
{
    return counts(a).entered;
}

static int64_t last_key(int64_t a, const char *user)
{
    const struct runrow *r = run_of(a, cust(user));
    cr_assert_not_null(r, "%s never entered", user);
    return r->key;
}

/* Sweep at t, then at t + 1 min, t + 2 min: sweeps that must not add entries. */
static void sweeps(int64_t t)
{
    for (int i = 0; i < 3; i++)
        tick_to(t + i * 60);
}

static void program(const char *json)
{
    struct pt_loy_req q;
    memset(&q, 0, sizeof q);
    pt_buf_init(&q.out);
    q.op = PT_LOYOP_PROGRAM;
    q.json = Q("%s", json);
    q.len = strlen(q.json);
    struct pt_job j = {.kind = PT_JOB_LOYALTY, .shop = SHOP, .loy = &q};
    cr_assert_eq(pt_engine_run(G, &j), 0, "%s", j.msg);
    cr_assert(q.status == 200 || q.status == 201, "programme: %d %s", q.status,
              q.out.data ? q.out.data : "");
    pt_buf_release(&q.out);
}

Test(auto_triggers, days_since_last_order)
{
    order_at("u1", "o1", START, "10", NULL);
    identify("u1", "'email':'u1@example.com'");
    identify("u2", "'email':'u2@example.com'"); /* no orders: never */
    tmpl("od", "{'name':'od','channel':'email','subject':'s','text':'{{event.event}}: "
               "{{event.properties.days_since_last_order}} days since "
               "{{event.properties.last_order_at}}, {{event.properties.orders}} order(s)'}");
    int64_t a = auto_create("{'name':'t','trigger':{'type':'days_since_last_order','days':30},"
                            "'steps':[{'type':'send','template':'od','transactional':true}]}");
    sweeps(START + 29 * DAY);
    cr_assert_eq(entered(a), 0);
    sweeps(START + 30 * DAY);
    cr_assert_eq(entered(a), 1);
    cr_assert_eq(last_key(a, "u1"), START, "the occurrence: the last order's time");
    cr_assert_eq(msgs(a, 0), 1);
    cr_assert_str_eq(M[0].text, "Order Overdue: 30 days since 2027-03-10T12:00:00Z, 1 order(s)",
                     "the occurrence is the run's event");
    sweeps(START + 31 * DAY);
    reopen(); /* what was entered is known after a restart */
    sweeps(START + 32 * DAY);
    cr_assert_eq(entered(a), 1, "once per last order");
    /* a new order, 30 days later: again */
    order_at("u1", "o2", START + 40 * DAY, "10", NULL);
    sweeps(START + 69 * DAY);
    cr_assert_eq(entered(a), 1);
    sweeps(START + 70 * DAY);
    cr_assert_eq(entered(a), 2);
    cr_assert_eq(last_key(a, "u1"), START + 40 * DAY);
    sweeps(START + 80 * DAY);
    cr_assert_eq(entered(a), 2);
    cr_assert_eq(msgs(a, 0), 2);
    cr_assert_str_eq(M[1].text, "Order Overdue: 30 days since 2027-04-19T12:00:00Z, 2 order(s)");
    struct pt_engine_stats st;
    pt_engine_stats(G, &st);
    cr_assert_gt(st.auto_sweeps, 0);
}

Test(auto_triggers, rhythm_missed)
{
    /* every 10 days: missed at 1.5 x 10 = 15 days after the last */
    order_at("u1", "o1", START - 20 * DAY, "10", NULL);
    order_at("u1", "o2", START - 10 * DAY, "10", NULL);
    order_at("u1", "o3", START, "10", NULL);
    order_at("u2", "p1", START - 10 * DAY, "10", NULL); /* two orders: fewer than min_orders */
    order_at("u2", "p2", START, "10", NULL);
    int64_t a = on_trigger("{'type':'rhythm_missed','factor':1.5,'min_orders':3}");
    sweeps(START + 15 * DAY - H);
    cr_assert_eq(entered(a), 0);
    sweeps(START + 15 * DAY);
    cr_assert_eq(entered(a), 1);
    cr_assert_eq(last_key(a, "u1"), START);
    sweeps(START + 20 * DAY);
    sweeps(START + 60 * DAY);
    cr_assert_eq(entered(a), 1, "once per missed rhythm");
}

Test(auto_triggers, cart_abandoned_once_per_cart)
{
    int64_t a = on_trigger("{'type':'cart_abandoned','idle':'1h','min_value':5000}");
    ev_at("u1", "Product Added", START, "'product_id':'p1','price':60");
    ev_at("u2", "Product Added", START, "'product_id':'p2','price':10"); /* under min_value */
    cr_assert_eq(prof("u1", 0)->cart_value, 6000);
    sweeps(START + 59 * 60 - 120);
    cr_assert_eq(entered(a), 0, "not idle an hour yet");
    sweeps(START + H);
    cr_assert_eq(entered(a), 1);
    int64_t k = last_key(a, "u1");
    cr_assert_eq(k, START, "the cart's start");
    sweeps(START + 2 * H);
    /* more in the same cart, idle again: the same cart */
    set_now(START + 3 * H);
    ev_at("u1", "Product Added", NOW, "'product_id':'p3','price':5");
    sweeps(START + 5 * H);
    reopen();
    sweeps(START + 6 * H);
    cr_assert_eq(entered(a), 1, "once per cart");
    /* bought, then a new cart abandoned: again */
    set_now(START + 7 * H);
    order_at("u1", "o1", NOW, "65", NULL);
    cr_assert_eq(prof("u1", 0)->cart_value, 0);
    set_now(START + 8 * H);
    ev_at("u1", "Product Added", NOW, "'product_id':'p4','price':70");
    sweeps(START + 8 * H + 30 * 60);
    cr_assert_eq(entered(a), 1);
    sweeps(START + 10 * H);
    cr_assert_eq(entered(a), 2);
    cr_assert_eq(last_key(a, "u1"), START + 8 * H);
    cr_assert_null(run_of(a, cust("u2")));
}

Test(auto_triggers, replenishment_due)
{
    identify("u1", "'email':'u1@example.com'");
    tmpl("re", "{'name':'re','channel':'email','subject':'s','text':'{{event.event}}: "
               "{{event.properties.product_id}} x{{event.properties.quantity}} until "
               "{{event.properties.runs_out_at}}'}");
    int64_t a = auto_create("{'name':'t','trigger':{'type':'replenishment','products':"
                            "[{'product':'other2','days_per_unit':7},{'product':'lens',"
                            "'days_per_unit':30}],'before':'5d'},"
                            "'steps':[{'type':'send','template':'re','transactional':true}]}");
    /* two boxes: 60 days of supply; due from 5 days before they run out */
    order_at("u1", "o1", START, "40", "[{'product_id':'lens','quantity':2,'price':20}]");
    order_at("u2", "p1", START, "40", "[{'product_id':'other','quantity':2,'price':20}]");
    sweeps(START + 55 * DAY - H);
    cr_assert_eq(entered(a), 0);
    sweeps(START + 55 * DAY);
    cr_assert_eq(entered(a), 1);
    cr_assert_eq(last_key(a, "u1"), START, "the order line's time");
    cr_assert_eq(msgs(a, 0), 1);
    cr_assert_str_eq(M[0].text, "Replenishment Due: lens x2 until 2027-05-09T12:00:00Z");
    sweeps(START + 58 * DAY);
    sweeps(START + 61 * DAY);
    sweeps(START + 80 * DAY);
    cr_assert_eq(entered(a), 1, "once per purchase");
    /* one more box: 30 days from then */
    order_at("u1", "o2", START + 90 * DAY, "20", "[{'product_id':'lens','quantity':1,'price':20}]");
    sweeps(START + 114 * DAY);
    cr_assert_eq(entered(a), 1);
    sweeps(START + 115 * DAY);
    cr_assert_eq(entered(a), 2);
    cr_assert_null(run_of(a, cust("u2")));
}

Test(auto_triggers, birthday_once_a_year)
{
    identify("u1", "'birthday':'1990-03-12'"); /* before the first sweep (read from the store) */
    int64_t a = on_trigger("{'type':'birthday'}");
    sweeps(START);
    identify("u3", "'birthday':'--03-12'"); /* after it (through the traits hook) */
    identify("u2", "'birthday':'2000-02-29'");
    sweeps(utc(2027, 3, 11, 23, 50, 0));
    cr_assert_eq(entered(a), 0);
    sweeps(utc(2027, 3, 12, 0, 10, 0));
    cr_assert_eq(entered(a), 2, "u1 and u3");
    cr_assert_eq(last_key(a, "u1"), 2027);
    sweeps(utc(2027, 3, 12, 23, 0, 0));
    reopen();
    sweeps(utc(2027, 3, 12, 23, 30, 0));
    sweeps(utc(2027, 3, 13, 9, 0, 0));
    cr_assert_eq(entered(a), 2, "once a year");
    /* a leap-day birthday: on 29 February, in a leap year */
    sweeps(utc(2028, 2, 28, 12, 0, 0));
    cr_assert_eq(entered(a), 2);
    sweeps(utc(2028, 2, 29, 12, 0, 0));
    cr_assert_eq(entered(a), 3);
    cr_assert_eq(last_key(a, "u2"), 2028);
    sweeps(utc(2028, 3, 12, 8, 0, 0));
    cr_assert_eq(entered(a), 5, "the next year: u1 and u3 again");
    /* ... and on 28 February otherwise */
    sweeps(utc(2029, 2, 28, 12, 0, 0));
    cr_assert_eq(entered(a), 6);
    cr_assert_eq(last_key(a, "u2"), 2029);
    sweeps(utc(2029, 3, 1, 12, 0, 0));
    cr_assert_eq(entered(a), 6);
}

Test(auto_triggers, points_expiring)
{
    program("{'earn':{'points_per_unit':1},'expiry':{'months':1}}");
    order_at("u1", "o1", START, "100", NULL);            /* 100 points expiring 2027-04-10 12:00 */
    order_at("u2", "p1", START + 10 * DAY, "100", NULL); /* ... 2027-04-20 12:00 */
    int64_t a = on_trigger("{'type':'points_expiring','within':'7d'}");
    int64_t exp1 = utc(2027, 4, 10, 12, 0, 0);
    sweeps(exp1 - 7 * DAY - 600);
    cr_assert_eq(entered(a), 0);
    sweeps(exp1 - 7 * DAY);
    cr_assert_eq(entered(a), 1);
    cr_assert_eq(last_key(a, "u1"), exp1, "the occurrence: the lot's expiry");
    sweeps(exp1 - 3 * DAY);
    reopen();
    sweeps(exp1 - DAY);
    cr_assert_eq(entered(a), 1, "once per expiring lot");
    cr_assert_null(run_of(a, cust("u2")));
    sweeps(utc(2027, 4, 13, 12, 0, 0));
    cr_assert_eq(entered(a), 2, "u2's lot");
    cr_assert_eq(last_key(a, "u2"), utc(2027, 4, 20, 12, 0, 0));
    sweeps(utc(2027, 4, 19, 12, 0, 0));
    cr_assert_eq(entered(a), 2);
    /* u1 earns again: the new lot's expiry is a new occurrence */
    order_at("u1", "o2", utc(2027, 4, 21, 12, 0, 0), "50", NULL);
    sweeps(utc(2027, 5, 14, 12, 0, 0));
    cr_assert_eq(entered(a), 3);
    cr_assert_eq(last_key(a, "u1"), utc(2027, 5, 21, 12, 0, 0));
}

Test(auto_triggers, tier_changed)
{
    program("{'earn':{'points_per_unit':1},'tiers':{'levels':[{'name':'Silver',"
            "'threshold':10000},{'name':'Gold','threshold':50000}]}}");
    int64_t any = on_trigger("{'type':'tier_changed'}");
    int64_t gold = on_trigger("{'type':'tier_changed','direction':'up','tier':'Gold'}");
    int64_t down = on_trigger("{'type':'tier_changed','direction':'down'}");
    order_at("u1", "o1", START, "150", NULL); /* Silver */
    cr_assert_eq(entered(any), 1);
    cr_assert_eq(entered(gold), 0);
    set_now(START + H);
    order_at("u1", "o2", NOW, "400", NULL); /* 550: Gold */
    cr_assert_eq(entered(any), 2);
    cr_assert_eq(entered(gold), 1);
    order_at("u2", "p1", NOW, "20", NULL); /* no tier */
    sweeps(START + DAY);
    sweeps(START + 2 * DAY);
    cr_assert_eq(entered(any), 2, "sweeps add nothing");
    cr_assert_eq(entered(gold), 1);
    cr_assert_eq(entered(down), 0);
    cr_assert_null(run_of(any, cust("u2")));
}

Test(auto_triggers, segment_entered)
{
    struct pt_job j = {.kind = PT_JOB_SEGMENT,
                       .shop = SHOP,
                       .seg_op = PT_SEG_CREATE,
                       .seg_name = "Repeat",
                       .seg_rule = "orders >= 2"};
    cr_assert_eq(pt_engine_run(G, &j), 0, "%s", j.msg);
    cr_assert_eq(j.rc, 0, "%s", j.msg);
    int64_t a = on_trigger("{'type':'segment_entered','segment':'Repeat'}");
    int64_t b = on_trigger(Q("{'type':'segment_entered','segment':%lld}", (long long)j.seg_id));
    order_at("u1", "o1", START, "10", NULL);
    order_at("u2", "p1", START, "10", NULL);
    cr_assert_eq(entered(a), 0);
    set_now(START + H);
    order_at("u1", "o2", NOW, "10", NULL); /* enters the segment */
    cr_assert_eq(entered(a), 1);
    cr_assert_eq(entered(b), 1, "by id as by name");
    order_at("u1", "o3", NOW + 60, "10", NULL); /* still in it */
    sweeps(START + DAY);
    reopen();
    sweeps(START + 2 * DAY);
    cr_assert_eq(entered(a), 1);
    cr_assert_null(run_of(a, cust("u2")));
    /* a segment that does not exist is refused */
    int st = auto_run(SHOP, PT_AUTOOP_CREATE, 0,
                      Q("{'name':'n','trigger':{'type':'segment_entered','segment':'Nope'},"
                        "'steps':[]}"),
                      NULL, NULL, 0);
    cr_assert_eq(st, 400, "%s", aout());
}

Test(auto_triggers, control_share_applies_to_time_triggers)
{
    /* 40 customers, 30 days since their order; the control group is recorded once */
    for (int i = 0; i < 40; i++)
        order_at(Q("u%d", i), Q("o%d", i), START, "10", NULL);
    int64_t a = auto_create("{'name':'t','trigger':{'type':'days_since_last_order','days':30},"
                            "'control_share':0.5,'steps':[{'type':'tag','add':'x'}]}");
    sweeps(START + 30 * DAY);
    sweeps(START + 31 * DAY);
    struct pt_auto_counts c = counts(a);
    cr_assert_eq(c.entered, 40, "each once, control or not");
    cr_assert(c.control >= 8 && c.control <= 32, "%lld", (long long)c.control);
    cr_assert_eq(c.control + c.done, 40);
}
