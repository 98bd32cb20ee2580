/*
 * test_auto_runs.c - customers' runs through automations (engine_auto*.c) on
 * an injected clock (harness_auto.h): waits and wait_event branches, exit_on,
 * restarts in the middle of a wait (no step lost, none taken twice), re-entry
 * rules, versions, pause / resume (held messages, parked runs, events awaited
 * while paused), a run through a merge of identities, manual entries,
 * deletion, erasure, and the points / voucher / tag / branch steps.
 */
#include "harness_auto.h"

#include "loyalty/code.h"

TestSuite(auto_runs, .init = auto_setup, .fini = auto_teardown, .timeout = 60);

/* ---- waits ---- */

Test(auto_runs, wait_then_send)
{
    tmpl_simple("t");
    int64_t a = auto_on("Ping", "",
                        "{'type':'wait','for':'1d'},{'type':'send','template':'t',"
                        "'transactional':true}");
    subscriber("u1", "Ann");
    int64_t c = cust("u1");
    ev("u1", "Ping");
    const struct runrow *r = run_of(a, c);
    cr_assert_not_null(r);
    cr_assert_eq(r->state, PT_RUN_ACTIVE);
    cr_assert_eq(r->wake, START + DAY);
    cr_assert_eq(r->pc, 0);
    tick_to(START + 12 * H);
    tick_to(START + DAY - 1);
    cr_assert_eq(msgs(a, c), 0, "nothing before the day is over");
    tick_to(START + DAY);
    cr_assert_eq(msgs(a, c), 1);
    cr_assert_eq(M[0].created, START + DAY);
    cr_assert_str_eq(M[0].msg_id, mid(a, r->id, 1));
    cr_assert_eq(run_of(a, c)->state, PT_RUN_DONE);
    tick_to(START + 3 * DAY);
    cr_assert_eq(msgs(a, c), 1);
}

Test(auto_runs, wait_event_branches)
{
    tmpl("yes", "{'name':'yes','channel':'email','subject':'s',"
                "'text':'yes {{event.event}} {{order.order_id}}'}");
    tmpl_simple("no");
    int64_t a = auto_on("Ping", "",
                        "{'type':'wait_event','event':'Order Completed','timeout':'3d',"
                        "'on_event':[{'type':'send','template':'yes','transactional':true}],"
                        "'on_timeout':[{'type':'send','template':'no','transactional':true}]}");
    subscriber("u1", "Ann");
    subscriber("u2", "Bo");
    ev("u1", "Ping");
    ev("u2", "Ping");
    set_now(START + DAY);
    ev("u1", "Browse"); /* another event: still waiting */
    cr_assert_eq(msgs(a, 0), 0);
    order_at("u1", "o1", NOW, "10", NULL);
    cr_assert_eq(msgs(a, cust("u1")), 1);
    cr_assert_str_eq(M[0].tmpl, "yes");
    cr_assert_str_eq(M[0].text, "yes Order Completed o1", "the event that ended the wait");
    cr_assert_eq(M[0].created, START + DAY);
    cr_assert_eq(run_of(a, cust("u1"))->state, PT_RUN_DONE);
    /* entering and the awaited event in one batch: the new run sees it */
    identify("u3", "'email':'u3@example.com'");
    run(Q("{'type':'track','userId':'u3','messageId':'z1','event':'Ping','timestamp':'%s'},"
          "{'type':'track','userId':'u3','messageId':'z2','event':'Order Completed',"
          "'timestamp':'%s','properties':{'order_id':'q1','revenue':5}}",
          iso(NOW), iso(NOW)));
    cr_assert_eq(msgs(a, cust("u3")), 1);
    cr_assert_str_eq(M[0].text, "yes Order Completed q1");
    tick_to(START + 3 * DAY - 1);
    cr_assert_eq(msgs(a, cust("u2")), 0);
    tick_to(START + 3 * DAY);
    cr_assert_eq(msgs(a, cust("u2")), 1);
    cr_assert_str_eq(M[0].tmpl, "no");
    cr_assert_eq(run_of(a, cust("u2"))->state, PT_RUN_DONE);
    /* an order after the timeout changes nothing */
    order_at("u2", "o2", NOW, "10", NULL);
    tick_to(START + 5 * DAY);
    cr_assert_eq(msgs(a, 0), 3);
}

Test(auto_runs, exit_on_ends_the_run)
{
    tmpl_simple("t");
    int64_t a = auto_on("Ping", ",'exit_on':'Order Completed'",
                        "{'type':'wait','for':'2d'},{'type':'send','template':'t',"
                        "'transactional':true}");
    subscriber("u1", "Ann");
    subscriber("u2", "Bo");
    ev("u1", "Ping");
    ev("u2", "Ping");
    set_now(START + DAY);
    order_at("u1", "o1", NOW, "10", NULL);
    const struct runrow *r = run_of(a, cust("u1"));
    cr_assert_eq(r->state, PT_RUN_EXITED);
    cr_assert_eq(r->ended, START + DAY);
    tick_to(START + 3 * DAY);
    cr_assert_eq(msgs(a, cust("u1")), 0, "an exited run sends nothing");
    cr_assert_eq(msgs(a, cust("u2")), 1);
    struct pt_auto_counts n = counts(a);
    cr_assert_eq(n.exited, 1);
    cr_assert_eq(n.done, 1);
}

Test(auto_runs, restart_in_the_middle_of_a_wait)
{
    tmpl_simple("t");
    const char *send = "{'type':'send','template':'t','transactional':true}";
    int64_t a = auto_on(
        "Ping", "",
        Q("%s,{'type':'wait','for':'2d'},%s,{'type':'wait','for':'1d'},%s", send, send, send));
    subscriber("u1", "Ann");
    int64_t c = cust("u1");
    ev("u1", "Ping");
    int64_t run = run_of(a, c)->id;
    cr_assert_eq(msgs(a, c), 1);
    set_now(START + DAY);
    reopen();
    tick_to(START + DAY + H);
    cr_assert_eq(msgs(a, c), 1, "the wait goes on after the restart");
    tick_to(START + 2 * DAY);
    cr_assert_eq(msgs(a, c), 2);
    reopen(); /* at once: the step that was taken is not taken again */
    tick_to(START + 2 * DAY);
    tick_to(START + 2 * DAY + H);
    cr_assert_eq(msgs(a, c), 2);
    const struct runrow *r = run_of(a, c);
    cr_assert_eq(r->state, PT_RUN_ACTIVE);
    cr_assert_eq(r->wake, START + 3 * DAY);
    set_now(START + 3 * DAY + 5);
    reopen(); /* the wake is past when the engine starts */
    tick_to(START + 3 * DAY + 6);
    cr_assert_eq(msgs(a, c), 3);
    cr_assert_str_eq(M[0].msg_id, mid(a, run, 0));
    cr_assert_str_eq(M[1].msg_id, mid(a, run, 2));
    cr_assert_str_eq(M[2].msg_id, mid(a, run, 4));
    cr_assert_eq(M[1].created, START + 2 * DAY);
    cr_assert_eq(run_of(a, c)->state, PT_RUN_DONE);
    reopen();
    tick_to(START + 9 * DAY);
    cr_assert_eq(msgs(a, c), 3);
    cr_assert_eq(counts(a).entered, 1);
}

Test(auto_runs, restart_while_waiting_for_an_event)
{
    tmpl_simple("yes");
    tmpl_simple("no");
    int64_t a = auto_on("Ping", "",
                        "{'type':'wait_event','event':'Order Completed','timeout':'3d',"
                        "'on_event':[{'type':'send','template':'yes','transactional':true}],"
                        "'on_timeout':[{'type':'send','template':'no','transactional':true}]}");
    subscriber("u1", "Ann");
    subscriber("u2", "Bo");
    ev("u1", "Ping");
    ev("u2", "Ping");
    set_now(START + DAY);
    reopen();
    order_at("u1", "o1", NOW, "10", NULL);
    cr_assert_eq(msgs(a, cust("u1")), 1);
    cr_assert_str_eq(M[0].tmpl, "yes");
    tick_to(START + 4 * DAY);
    cr_assert_eq(msgs(a, cust("u2")), 1);
    cr_assert_str_eq(M[0].tmpl, "no");
    cr_assert_eq(msgs(a, cust("u1")), 1);
}

/* ---- re-entry ---- */

Test(auto_runs, reentry_rules)
{
    int64_t x = auto_on("P1", "", "{'type':'wait','for':'1d'}"); /* after_exit */
    int64_t nv = auto_on("P2", ",'reentry':'never'", "{'type':'tag','add':'t'}");
    int64_t cd = auto_on("P3", ",'reentry':{'after':'3d'}", "{'type':'tag','add':'t'}");
    ev("u1", "P1");
    ev("u1", "P2");
    ev("u1", "P3");
    set_now(START + H);
    ev("u1", "P1");
    ev("u1", "P2");
    ev("u1", "P3");
    cr_assert_eq(counts(x).entered, 1, "in the automation: not again");
    cr_assert_eq(counts(x).active, 1);
    cr_assert_eq(counts(nv).entered, 1);
    cr_assert_eq(counts(cd).entered, 1);
    tick_to(START + DAY);
    cr_assert_eq(counts(x).done, 1);
    set_now(START + DAY + H);
    ev("u1", "P1");
    ev("u1", "P2");
    ev("u1", "P3");
    cr_assert_eq(counts(x).entered, 2, "after the exit: again");
    cr_assert_eq(counts(x).active, 1);
    cr_assert_eq(counts(nv).entered, 1, "never");
    cr_assert_eq(counts(cd).entered, 1, "within the cooldown");
    set_now(START + 3 * DAY - 1);
    ev("u1", "P3");
    cr_assert_eq(counts(cd).entered, 1);
    set_now(START + 3 * DAY);
    ev("u1", "P3");
    cr_assert_eq(counts(cd).entered, 2, "the cooldown is over");
    set_now(START + 4 * DAY);
    ev("u1", "P3");
    cr_assert_eq(counts(cd).entered, 2, "a new cooldown from the second entry");
    /* the rules hold over a restart */
    reopen();
    set_now(START + 30 * DAY);
    ev("u1", "P2");
    cr_assert_eq(counts(nv).entered, 1);
    ev("u1", "P3");
    cr_assert_eq(counts(cd).entered, 3);
    ev("u1", "P1");
    ev("u1", "P1");
    cr_assert_eq(counts(x).entered, 3);
    cr_assert_eq(counts(x).active, 1);
}

/* ---- versions ---- */

Test(auto_runs, update_makes_a_version_runs_keep_theirs)
{
    tmpl_simple("A");
    tmpl_simple("B");
    const char *v = "{'name':'N','trigger':{'type':'event','event':'Ping'},"
                    "'steps':[{'type':'wait','for':'1d'},"
                    "{'type':'send','template':'%s','transactional':true}]}";
    int64_t a = auto_create(Q(v, "A"));
    ev("u1", "Ping");
    int st = auto_run(SHOP, PT_AUTOOP_UPDATE, a, Q(v, "B"), NULL, NULL, 0);
    cr_assert_eq(st, 200, "%s", aout());
    cr_assert_eq(json_int(aout(), "version"), 2);
    cr_assert_eq(json_int(aout(), "id"), a);
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_engine_auto_list(G, SHOP, a, &b), 0);
    cr_assert_eq(json_int(b.data, "version"), 2, "%s", b.data);
    cr_assert(strstr(b.data, "\"template\":\"B\"") != NULL, "%s", b.data);
    pt_buf_release(&b);
    ev("u2", "Ping");
    cr_assert_eq(run_of(a, cust("u1"))->version, 1);
    cr_assert_eq(run_of(a, cust("u2"))->version, 2);
    reopen(); /* both versions come back from the store */
    tick_to(START + DAY);
    cr_assert_eq(msgs(a, cust("u1")), 1);
    cr_assert_str_eq(M[0].tmpl, "A", "a run keeps the program it entered with");
    cr_assert_eq(msgs(a, cust("u2")), 1);
    cr_assert_str_eq(M[0].tmpl, "B");
    /* an update of an unknown automation */
    cr_assert_eq(auto_run(SHOP, PT_AUTOOP_UPDATE, a + 100, Q(v, "B"), NULL, NULL, 0), 404);
    cr_assert_eq(auto_run(SHOP2, PT_AUTOOP_UPDATE, a, Q(v, "B"), NULL, NULL, 0), 404,
                 "another shop's automation");
}

/* ---- pause / resume ---- */

Test(auto_runs, pause_holds_and_resume_releases)
{
    tmpl_simple("m");
    tmpl_simple("t");
    int64_t a = auto_on("Ping", "",
                        "{'type':'send','template':'m'},{'type':'wait','for':'1d'},"
                        "{'type':'send','template':'t','transactional':true}");
    subscriber("u1", "Ann");
    subscriber("u2", "Bo");
    int64_t c = cust("u1");
    ev("u1", "Ping");
    cr_assert_eq(msgs(a, c), 1);
    cr_assert_eq(M[0].status, PT_OUT_PENDING);
    cr_assert_eq(M[0].next_at, START + DAY - 2 * H, "10:00 tomorrow (the default hour)");
    cr_assert_eq(auto_status(a, PT_AUTO_PAUSED), 200, "%s", aout());
    cr_assert(strstr(aout(), "\"status\":\"paused\"") != NULL, "%s", aout());
    cr_assert_eq(msgs(a, c), 1);
    cr_assert_eq(M[0].status, PT_OUT_HELD, "a paused automation's messages are held");
    /* while paused: no entries, no steps */
    ev("u2", "Ping");
    cr_assert_eq(counts(a).entered, 1);
    tick_to(START + 2 * DAY);
    cr_assert_eq(msgs(a, c), 1, "no step while paused");
    const struct runrow *r = run_of(a, c);
    cr_assert_eq(r->state, PT_RUN_ACTIVE, "the run keeps its place");
    cr_assert_eq(r->pc, 1);
    /* (a restart while paused loses nothing) */
    reopen();
    tick_to(START + 2 * DAY + H);
    cr_assert_eq(msgs(a, c), 1);
    cr_assert_eq(auto_status(a, PT_AUTO_ACTIVE), 200, "%s", aout());
    tick_to(START + 2 * DAY + H);
    cr_assert_eq(msgs(a, c), 2, "the parked run goes on when resumed");
    cr_assert_eq(M[0].status, PT_OUT_PENDING, "released");
    cr_assert_eq(M[1].status, PT_OUT_PENDING);
    cr_assert_str_eq(M[1].tmpl, "t");
    cr_assert_eq(run_of(a, c)->state, PT_RUN_DONE);
    ev("u2", "Ping");
    cr_assert_eq(counts(a).entered, 2, "entries again");
}

Test(auto_runs, pause_keeps_an_awaited_event)
{
    tmpl_simple("yes");
    tmpl_simple("no");
    int64_t a = auto_on("Ping", "",
                        "{'type':'wait_event','event':'Order Completed','timeout':'3d',"
                        "'on_event':[{'type':'send','template':'yes','transactional':true}],"
                        "'on_timeout':[{'type':'send','template':'no','transactional':true}]}");
    subscriber("u1", "Ann");
    ev("u1", "Ping");
    cr_assert_eq(auto_status(a, PT_AUTO_PAUSED), 200);
    set_now(START + DAY);
    order_at("u1", "o1", NOW, "10", NULL);
    cr_assert_eq(msgs(a, 0), 0, "paused: nothing sent");
    cr_assert_eq(auto_status(a, PT_AUTO_ACTIVE), 200);
    tick_to(START + DAY + 1);
    cr_assert_eq(msgs(a, 0), 1);
    cr_assert_str_eq(M[0].tmpl, "yes", "the order came while paused: the event branch");
    tick_to(START + 5 * DAY);
    cr_assert_eq(msgs(a, 0), 1);
}

/* ---- erasure ---- */

Test(auto_runs, erasure_removes_runs_and_messages)
{
    tmpl_simple("t");
    int64_t a = auto_on("Ping", "",
                        "{'type':'send','template':'t','transactional':true},"
                        "{'type':'wait','for':'1d'},"
                        "{'type':'send','template':'t','transactional':true}");
    subscriber("u1", "Ann");
    subscriber("u2", "Bo");
    int64_t c1 = cust("u1"), c2 = cust("u2");
    ev("u1", "Ping");
    ev("u2", "Ping");
    cr_assert_eq(msgs(a, c1), 1);
    char mid1[40];
    snprintf(mid1, sizeof mid1, "%s", M[0].msg_id);
    cr_assert_not_null(run_of(a, c1));
    cr_assert_eq(job(PT_JOB_ERASE, "u1", NULL), 0);
    cr_assert_eq(msgs(a, c1), 0, "the customer's messages are gone");
    cr_assert_null(run_of(a, c1), "the customer's runs are gone");
    cr_assert_eq(msgs(a, c2), 1);
    cr_assert_not_null(run_of(a, c2));
    char tok[160];
    struct pt_track t;
    pt_engine_track_token(G, 'o', mid1, NULL, tok, sizeof tok);
    cr_assert_eq(pt_engine_track(G, 'o', tok, NULL, &t), PT_ENOTFOUND);
    tick_to(START + 2 * DAY);
    cr_assert_eq(msgs(a, c1), 0, "no step of the erased customer's run");
    cr_assert_eq(msgs(a, c2), 2);
    cr_assert_eq(msgs(a, 0), 2);
    reopen();
    tick_to(START + 3 * DAY);
    cr_assert_eq(msgs(a, 0), 2);
    cr_assert_eq(counts(a).entered, 1);
}

Test(auto_runs, an_event_awaited_while_paused_survives_a_restart)
{
    tmpl_simple("yes");
    tmpl_simple("no");
    int64_t a = auto_on("Ping", "",
                        "{'type':'wait_event','event':'Order Completed','timeout':'3d',"
                        "'on_event':[{'type':'send','template':'yes','transactional':true}],"
                        "'on_timeout':[{'type':'send','template':'no','transactional':true}]}");
    subscriber("u1", "Ann");
    ev("u1", "Ping");
    cr_assert_eq(auto_status(a, PT_AUTO_PAUSED), 200);
    set_now(START + DAY);
    order_at("u1", "o1", NOW, "10", NULL); /* the awaited event, while paused */
    reopen();
    cr_assert_eq(auto_status(a, PT_AUTO_ACTIVE), 200);
    tick_to(START + 5 * DAY);
    cr_assert_eq(msgs(a, 0), 1);
    cr_assert_str_eq(M[0].tmpl, "yes",
                     "the order came (while paused, before a restart): "
                     "the event branch, not the timeout");
}

Test(auto_runs, a_run_follows_its_customer_through_a_merge)
{
    tmpl_simple("yes");
    tmpl_simple("no");
    int64_t a = auto_on("Ping", "",
                        "{'type':'wait_event','event':'Order Completed','timeout':'3d',"
                        "'on_event':[{'type':'send','template':'yes','transactional':true}],"
                        "'on_timeout':[{'type':'send','template':'no','transactional':true}]}");
    run(Q("{'type':'track','anonymousId':'a1','messageId':'x1','event':'Ping','timestamp':'%s'}",
          iso(NOW)));
    cr_assert_eq(counts(a).entered, 1);
    /* the visitor logs in: a1 becomes part of u1 */
    set_now(START + H);
    run(Q("{'type':'identify','userId':'u1','anonymousId':'a1','messageId':'x2','timestamp':'%s',"
          "'traits':{'email':'u1@example.com'}}",
          iso(NOW)));
    ev("u1", "Ping");
    cr_expect_eq(counts(a).entered, 1, "the same person: not a second run (entered %lld)",
                 (long long)counts(a).entered);
    set_now(START + DAY);
    order_at("u1", "o1", NOW, "10", NULL);
    tick_to(START + 4 * DAY);
    size_t n = msgs(a, 0);
    cr_assert(n == 1 && strcmp(M[0].tmpl, "yes") == 0,
              "the merged customer ordered: one message, the event branch; got %zu: %s (customer "
              "%lld) %s (customer %lld); u1 is %lld",
              n, n > 0 ? M[0].tmpl : "-", n > 0 ? (long long)M[0].customer : 0LL,
              n > 1 ? M[1].tmpl : "-", n > 1 ? (long long)M[1].customer : 0LL,
              (long long)cust("u1"));
}

Test(auto_runs, manual_trigger_and_delete)
{
    tmpl_simple("t");
    int64_t a = auto_create("{'name':'Manual','trigger':{'type':'event','event':'Never'},"
                            "'steps':[{'type':'wait','for':'1d'},"
                            "{'type':'send','template':'t','transactional':true}]}");
    subscriber("u1", "Ann");
    cr_assert_eq(auto_run(SHOP, PT_AUTOOP_TRIGGER, a, NULL, NULL, "u1", 0), 200, "%s", aout());
    cr_assert(strstr(aout(), "\"entered\":true") != NULL, "%s", aout());
    cr_assert_eq(auto_run(SHOP, PT_AUTOOP_TRIGGER, a, NULL, NULL, "u1", 0), 200);
    cr_assert(strstr(aout(), "\"entered\":false") != NULL, "already in: %s", aout());
    cr_assert_eq(auto_run(SHOP, PT_AUTOOP_TRIGGER, a, NULL, NULL, "nobody", 0), 404);
    cr_assert_eq(auto_run(SHOP2, PT_AUTOOP_TRIGGER, a, NULL, NULL, "u1", 0), 404);
    cr_assert_eq(counts(a).entered, 1);
    /* two events in one batch: one run */
    int64_t b = auto_on("Ping", "", "{'type':'wait','for':'1d'}");
    run(Q("{'type':'track','userId':'u2','messageId':'y1','event':'Ping','timestamp':'%s'},"
          "{'type':'track','userId':'u2','messageId':'y2','event':'Ping','timestamp':'%s'}",
          iso(NOW), iso(NOW)));
    cr_assert_eq(counts(b).entered, 1);
    cr_assert_eq(auto_status(a, PT_AUTO_PAUSED), 200);
    cr_assert_eq(auto_run(SHOP, PT_AUTOOP_TRIGGER, a, NULL, NULL, "u1", 0), 409);
    /* deleted: its runs end, it is gone from the list, nothing more is sent */
    cr_assert_eq(auto_status(a, PT_AUTO_DELETED), 204);
    cr_assert_eq(run_of(a, cust("u1"))->state, PT_RUN_EXITED);
    struct pt_buf l;
    pt_buf_init(&l);
    cr_assert_eq(pt_engine_auto_list(G, SHOP, a, &l), PT_ENOTFOUND);
    pt_buf_release(&l);
    cr_assert_eq(auto_status(a, PT_AUTO_ACTIVE), 404);
    tick_to(START + 3 * DAY);
    cr_assert_eq(msgs(a, 0), 0);
}

/* ---- points, vouchers, tags, branches ---- */

static int tag_cb(void *ctx, const char *tag)
{
    char *out = ctx;
    size_t n = strlen(out);
    snprintf(out + n, 128 - n, "%s,", tag);
    return 0;
}

/* user's tags, "a,b," (static buffer). */
static const char *tags(const char *user)
{
    static char out[128];
    out[0] = '\0';
    struct pt_store *rd;
    struct pt_err e;
    cr_assert_eq(pt_store_open(DIR_, PT_STORE_READ, &rd, &e), 0);
    cr_assert_eq(pt_store_tags(rd, cust(user), tag_cb, out, &e), 0);
    pt_store_close(rd);
    return out;
}

static int64_t balance(const char *user)
{
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_engine_loy_member(G, SHOP, user, &b), 0, "%s is no member", user);
    int64_t v = json_int(b.data, "balance");
    pt_buf_release(&b);
    return v;
}

static void loy(int op, const char *json, const char *codes, size_t n)
{
    struct pt_loy_req q;
    memset(&q, 0, sizeof q);
    pt_buf_init(&q.out);
    q.op = op;
    q.json = Q("%s", json);
    q.len = strlen(q.json);
    q.codes = codes;
    q.n = n;
    struct pt_job j = {.kind = PT_JOB_LOYALTY, .shop = SHOP, .loy = &q};
    cr_assert_eq(pt_engine_run(G, &j), 0, "%s", j.msg);
    cr_assert(q.status == 200 || q.status == 201, "loyalty op %d: %d %s", op, q.status,
              q.out.data ? q.out.data : "");
    pt_buf_release(&q.out);
}

Test(auto_runs, points_voucher_tag_and_branch_steps)
{
    loy(PT_LOYOP_PROGRAM, "{'earn':{'points_per_unit':1}}", NULL, 0);
    char codes[2 * (PT_CODE_LEN + 1)], printed[2][PT_CODE_PRINT_MAX];
    for (int i = 0; i < 2; i++) {
        pt_code_new(codes + i * (PT_CODE_LEN + 1));
        pt_code_print(codes + i * (PT_CODE_LEN + 1), NULL, printed[i]);
    }
    loy(PT_LOYOP_POOL, "{'name':'wb','type':'percent','value':10}", codes, 2);
    tmpl("v", "{'name':'v','channel':'email','subject':'s',"
              "'text':'code [{{voucher.code}}] points {{loyalty.points}}'}");
    int64_t a = auto_on("Ping", "",
                        "{'type':'points','points':200,'reason':'welcome back'},"
                        "{'type':'voucher','pool':'wb'},"
                        "{'type':'tag','add':'vip'},{'type':'tag','add':'tmp'},"
                        "{'type':'tag','remove':'tmp'},"
                        "{'type':'branch','if':'orders >= 1',"
                        " 'then':[{'type':'send','template':'v','transactional':true}],"
                        " 'else':[{'type':'tag','add':'no-orders'}]}");
    subscriber("u1", "Ann");
    order_at("u1", "o1", NOW, "10", NULL); /* 10 points (not before the programme) */
    subscriber("u2", "Bo");
    subscriber("u3", "Cy");
    order_at("u3", "p1", NOW, "10", NULL);
    cr_assert_eq(balance("u1"), 10);
    ev("u1", "Ping");
    cr_assert_eq(balance("u1"), 210, "%lld", (long long)balance("u1"));
    cr_assert_eq(msgs(a, cust("u1")), 1);
    /* the pool's codes go in code order */
    int k = strcmp(codes, codes + PT_CODE_LEN + 1) < 0 ? 0 : 1;
    char want[128];
    snprintf(want, sizeof want, "code [%s] points 210", printed[k]);
    cr_assert_str_eq(M[0].text, want);
    cr_assert_str_eq(tags("u1"), "vip,");
    ev("u2", "Ping"); /* no orders: the else branch */
    cr_assert_eq(msgs(a, cust("u2")), 0);
    cr_assert_str_eq(tags("u2"), "no-orders,vip,");
    ev("u3", "Ping");
    cr_assert_eq(msgs(a, cust("u3")), 1);
    cr_assert_str_eq(M[0].text, "code [] points 210", "u2 took the second code: used up");
    /* the points were given once (restart, re-entry) */
    reopen();
    tick_to(NOW + H);
    cr_assert_eq(balance("u1"), 210);
    ev("u1", "Ping");
    cr_assert_eq(balance("u1"), 410, "a second passage: points again");
    cr_assert_eq(counts(a).done, 4);
}
