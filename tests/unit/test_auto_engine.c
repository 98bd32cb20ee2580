/*
 * test_auto_engine.c - automations in the engine (engine_auto*.c) on an
 * injected clock (harness_auto.h): entering on an event, the run and the
 * outbox row written with the customer's rendered message, marketing vs
 * transactional, the best hour (learned order / open hours, quiet hours,
 * time zone), consent, suppression, frequency caps, tracking tokens, the
 * control group, webhook steps. Runs over time are in test_auto_runs.c,
 * time triggers in test_auto_triggers.c. Delivery is off: the outbox is read
 * as the engine decided it.
 */
#include "harness_auto.h"

TestSuite(auto_engine, .init = auto_setup, .fini = auto_teardown, .timeout = 60);

/* The text between `from` (after it) and the first of `stop`'s characters, into out. */
static const char *between(const char *s, const char *from, const char *stop, char *out, size_t cap)
{
    const char *p = s ? strstr(s, from) : NULL;
    cr_assert_not_null(p, "no %s in %s", from, s ? s : "(null)");
    p += strlen(from);
    size_t n = strcspn(p, stop);
    cr_assert_lt(n, cap);
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

/* ---- entering, rendering, the outbox ---- */

static int64_t welcome_scenario(void)
{
    subscriber("u1", "Ann & Bo");
    /* two earlier orders at 14:xx UTC: the customer's best hour is 14 */
    order_at("u1", "o1", START - 2 * DAY + 2 * H + 300, "10", NULL);
    order_at("u1", "o2", START - DAY + 2 * H + 2400, "10", NULL);
    tmpl("welcome", "{'name':'Welcome','channel':'email','subject':'Hi {{first_name}}',"
                    "'html':'<html><body><p>Hello {{first_name}}, order {{order.order_id}}</p>"
                    "<a href=\\'https://shop.example/p?a=1&amp;b=2\\'>go</a>"
                    "<a href=\\'{{unsubscribe_url}}\\'>stop</a></body></html>',"
                    "'text':'Hello {{first_name}} <{{customer.email}}> order {{order.order_id}} "
                    "stop: {{unsubscribe_url}}'}");
    tmpl("receipt", "{'name':'Receipt','channel':'email','subject':'Receipt {{order.order_id}}',"
                    "'text':'Thanks {{customer.id}}'}");
    int64_t a = auto_on("Order Completed", "",
                        "{'type':'send','template':'welcome'},"
                        "{'type':'send','template':'receipt','transactional':true}");
    order_at("u1", "o3", NOW, "25", NULL); /* at 12:00: enters */
    return a;
}

Test(auto_engine, event_entry_writes_run_and_rendered_messages)
{
    int64_t a = welcome_scenario();
    int64_t c = cust("u1");
    struct pt_auto_counts n = counts(a);
    cr_assert_eq(n.entered, 1);
    cr_assert_eq(n.done, 1, "two sends and the end: done at once");
    const struct runrow *r = run_of(a, c);
    cr_assert_not_null(r);
    cr_assert_eq(r->state, PT_RUN_DONE);
    cr_assert_eq(r->version, 1);
    cr_assert_eq(r->entered, START);
    cr_assert_eq(r->ended, START);
    int64_t run = r->id;

    cr_assert_eq(msgs(a, c), 2);
    const struct msg *m = &M[0], *t = &M[1];
    cr_assert_str_eq(m->msg_id, mid(a, run, 0));
    cr_assert_str_eq(t->msg_id, mid(a, run, 1));
    cr_assert_eq(m->customer, c);
    cr_assert_eq(m->run, run);
    cr_assert_eq(m->channel, PT_CHAN_EMAIL);
    cr_assert_str_eq(m->tmpl, "welcome");
    cr_assert_str_eq(m->address, "u1@example.com");
    cr_assert_eq(m->status, PT_OUT_PENDING, "%s", m->error);
    cr_assert_eq(m->marketing, 1);
    cr_assert_eq(m->created, START);
    /* orders at 14:05, 14:40 and 12:00 (this one): 14:00 today, two hours from now */
    cr_assert_eq(m->next_at, START + 2 * H, "next_at %s", iso(m->next_at));
    cr_assert_str_eq(m->subject, "Hi Ann & Bo");
    cr_assert_not_null(m->text);
    cr_assert(strncmp(m->text,
                      "Hello Ann & Bo <u1@example.com> order o3 stop: https://t.example/u/",
                      67) == 0,
              "%s", m->text);
    cr_assert_not_null(m->html);
    cr_assert(strstr(m->html, "<p>Hello Ann &amp; Bo, order o3</p>") != NULL, "%s", m->html);
    cr_assert(strstr(m->html, "Ann & Bo") == NULL, "HTML escapes the name: %s", m->html);
    /* the pixel before </body>, the link made a tracked click */
    cr_assert(strstr(m->html, ".gif\" width=\"1\" height=\"1\" alt=\"\"></body></html>") != NULL,
              "%s", m->html);
    cr_assert(strstr(m->html, "?u=https%3A%2F%2Fshop.example%2Fp%3Fa%3D1%26b%3D2\">go</a>") != NULL,
              "%s", m->html);
    /* ... but not the unsubscribe link */
    cr_assert(strstr(m->html, "<a href=\"https://t.example/u/a") != NULL, "%s", m->html);
    cr_assert(strstr(m->html, "%2Fu%2F") == NULL, "the unsubscribe link is no click: %s", m->html);

    cr_assert_eq(t->marketing, 0);
    cr_assert_eq(t->status, PT_OUT_PENDING);
    cr_assert_eq(t->next_at, START, "transactional: at once");
    cr_assert_str_eq(t->subject, "Receipt o3");
    char want[64];
    snprintf(want, sizeof want, "Thanks u1");
    cr_assert_str_eq(t->text, want);
    cr_assert_null(t->html);

    /* the API's view agrees */
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_engine_outbox(G, SHOP, -1, a, "u1", 0, 10, &b), 0);
    json_t *o = json_loadb(b.data, b.len, 0, NULL);
    cr_assert_not_null(o, "%s", b.data);
    json_t *l = json_object_get(o, "messages");
    cr_assert_eq(json_array_size(l), 2, "%s", b.data);
    json_t *first = json_array_get(l, 1); /* newest first */
    cr_assert_str_eq(json_string_value(json_object_get(first, "message_id")), mid(a, run, 0));
    cr_assert_str_eq(json_string_value(json_object_get(first, "user_id")), "u1");
    cr_assert_str_eq(json_string_value(json_object_get(first, "status")), "pending");
    cr_assert(json_is_true(json_object_get(first, "marketing")));
    json_decref(o);
    pt_buf_release(&b);
    /* another shop sees none of it */
    pt_buf_init(&b);
    cr_assert_eq(pt_engine_outbox(G, SHOP2, -1, 0, NULL, 0, 10, &b), 0);
    cr_assert(strstr(b.data, "\"messages\":[]") != NULL, "%s", b.data);
    pt_buf_release(&b);
}

Test(auto_engine, tracking_tokens_round_trip)
{
    int64_t a = welcome_scenario();
    int64_t c = cust("u1");
    cr_assert_eq(msgs(a, c), 2);
    const struct msg *m = &M[0];
    char otok[128], ctok[128], utok[128];
    /* (the token is MSGID.SIG; the pixel's name ends ".gif") */
    between(m->html, "<img src=\"https://t.example/t/o/", "\"", otok, sizeof otok);
    cr_assert(strlen(otok) > 4 && strcmp(otok + strlen(otok) - 4, ".gif") == 0, "%s", otok);
    otok[strlen(otok) - 4] = '\0';
    between(m->html, "href=\"https://t.example/t/c/", "?\"", ctok, sizeof ctok);
    between(m->text, "stop: https://t.example/u/", " \"", utok, sizeof utok);

    struct pt_track t;
    cr_assert_eq(pt_engine_track(G, 'o', otok, NULL, &t), 0, "open token %s", otok);
    cr_assert_eq(t.shop, SHOP);
    cr_assert_eq(t.customer, c);
    cr_assert_eq(t.automation, a);
    cr_assert_str_eq(t.msg_id, m->msg_id);
    cr_assert_str_eq(t.user_id, "u1");
    cr_assert_eq(t.anonymous, 0);
    const char *url = "https://shop.example/p?a=1&b=2";
    cr_assert_eq(pt_engine_track(G, 'c', ctok, url, &t), 0, "click token %s", ctok);
    cr_assert_eq(t.customer, c);
    cr_assert_str_eq(t.msg_id, m->msg_id);
    cr_assert_eq(pt_engine_track(G, 'u', utok, NULL, &t), 0, "unsubscribe token %s", utok);
    cr_assert_str_eq(t.user_id, "u1");

    /* the same token made by the API */
    char tok[160];
    pt_engine_track_token(G, 'o', m->msg_id, NULL, tok, sizeof tok);
    cr_assert_str_eq(tok, otok);
    pt_engine_track_token(G, 'c', m->msg_id, url, tok, sizeof tok);
    cr_assert_str_eq(tok, ctok);

    /* forgeries */
    cr_assert_eq(pt_engine_track(G, 'c', ctok, "https://evil.example/", &t), PT_ENOTFOUND);
    cr_assert_eq(pt_engine_track(G, 'c', ctok, "https://shop.example/p?a=1&amp;b=2", &t),
                 PT_ENOTFOUND);
    cr_assert_eq(pt_engine_track(G, 'c', ctok, NULL, &t), PT_ENOTFOUND);
    cr_assert_eq(pt_engine_track(G, 'o', ctok, NULL, &t), PT_ENOTFOUND,
                 "a click token is no pixel");
    cr_assert_eq(pt_engine_track(G, 'u', otok, NULL, &t), PT_ENOTFOUND);
    char bad[160];
    snprintf(bad, sizeof bad, "%s", otok);
    char *last = bad + strlen(bad) - 1;
    *last = *last == '0' ? '1' : '0';
    cr_assert_eq(pt_engine_track(G, 'o', bad, NULL, &t), PT_ENOTFOUND, "a changed signature");
    snprintf(bad, sizeof bad, "%s", otok);
    bad[1] = bad[1] == '9' ? '8' : '9'; /* another automation's message id, same signature */
    cr_assert_eq(pt_engine_track(G, 'o', bad, NULL, &t), PT_ENOTFOUND, "a changed message id");
    cr_assert_eq(pt_engine_track(G, 'o', "", NULL, &t), PT_ENOTFOUND);
    cr_assert_eq(pt_engine_track(G, 'o', "no-dot", NULL, &t), PT_ENOTFOUND);
    /* a well-signed token of a message that does not exist */
    pt_engine_track_token(G, 'o', "a99-r99-s0", NULL, tok, sizeof tok);
    cr_assert_eq(pt_engine_track(G, 'o', tok, NULL, &t), PT_ENOTFOUND);
    /* tokens survive a restart (the secret is the store's) */
    reopen();
    cr_assert_eq(pt_engine_track(G, 'o', otok, NULL, &t), 0);
    cr_assert_eq(t.customer, c);
}

/* ---- timing ---- */

/* Ping user at t (the automation on "Ping" sends one marketing message); its next_at. */
static int64_t ping_next_at(int64_t a, const char *user, int64_t t)
{
    set_now(t);
    ev_at(user, "Ping", t, "");
    size_t n = msgs(a, cust(user));
    cr_assert_geq(n, 1);
    cr_assert_eq(M[n - 1].created, t);
    cr_assert_eq(M[n - 1].status, PT_OUT_PENDING, "%s", M[n - 1].error);
    return M[n - 1].next_at;
}

Test(auto_engine, best_hour_from_order_hours)
{
    settings("{'caps':{'email':null},'quiet_hours':null}");
    tmpl_simple("m");
    subscriber("u1", "Ann");
    for (int d = 1; d <= 3; d++) /* 14:05, 14:10, 14:15 UTC */
        order_at("u1", Q("o%d", d), START - d * DAY + 2 * H + d * 300, "10", NULL);
    int64_t a = auto_on("Ping", "", "{'type':'send','template':'m'}");
    int64_t today14 = START + 2 * H;
    cr_assert_eq(ping_next_at(a, "u1", START), today14, "12:00 -> 14:00 today");
    cr_assert_eq(ping_next_at(a, "u1", today14), today14, "14:00 -> now");
    cr_assert_eq(ping_next_at(a, "u1", today14 + 1200), today14 + 1200, "14:20: within the hour");
    cr_assert_eq(ping_next_at(a, "u1", today14 + H), today14 + DAY, "15:00 -> 14:00 tomorrow");
    cr_assert_eq(ping_next_at(a, "u1", today14 + 90 * 60), today14 + DAY);
    /* quiet hours 13..16 hold 14: their end */
    settings("{'caps':{'email':null},'quiet_hours':{'start':13,'end':16}}");
    cr_assert_eq(ping_next_at(a, "u1", START + DAY), START + DAY + 4 * H, "16:00");
    /* UTC+2: orders at 16 local; quiet 15..18 local holds it: 18 local = 16:00 UTC */
    settings("{'caps':{'email':null},'quiet_hours':{'start':15,'end':18},"
             "'timezone_offset_minutes':120}");
    cr_assert_eq(ping_next_at(a, "u1", START + 2 * DAY), START + 2 * DAY + 4 * H);
    settings("{'caps':{'email':null},'quiet_hours':null,'timezone_offset_minutes':120}");
    cr_assert_eq(ping_next_at(a, "u1", START + 3 * DAY), START + 3 * DAY + 2 * H,
                 "16 local = 14 UTC");
}

Test(auto_engine, best_hour_default_quiet_wrap_and_opens)
{
    tmpl_simple("m");
    int64_t a = auto_on("Ping", "", "{'type':'send','template':'m'}");
    /* no history: the default hour 10 local; UTC-5 at 12:00 UTC is 07:00 local -> 15:00 UTC */
    settings("{'caps':{'email':null},'timezone_offset_minutes':-300,'default_hour':10}");
    subscriber("u0", "Zed");
    cr_assert_eq(ping_next_at(a, "u0", START), START + 3 * H);
    /* orders at 23:xx: in the default quiet hours 21..8 (across midnight) -> 08:00 tomorrow */
    settings("{'caps':{'email':null}}");
    subscriber("u1", "Ann");
    for (int d = 1; d <= 2; d++)
        order_at("u1", Q("o%d", d), START - d * DAY + 11 * H + 600, "10", NULL);
    cr_assert_eq(ping_next_at(a, "u1", START), START + DAY - 4 * H, "08:00 tomorrow");
    /* opened at 19:xx three times, ordered at 09:xx once: 19 */
    subscriber("u2", "Bo");
    order_at("u2", "p1", START - 5 * DAY - 3 * H, "10", NULL);
    for (int d = 1; d <= 3; d++)
        ev_at("u2", "Email Opened", START - d * DAY + 7 * H + 60, "");
    cr_assert_eq(ping_next_at(a, "u2", START), START + 7 * H, "19:00 today");
}

/* ---- consent, suppression, caps ---- */

Test(auto_engine, consent_and_transactional)
{
    tmpl_simple("m");
    tmpl_simple("t");
    int64_t a = auto_on("Ping", "",
                        "{'type':'send','template':'m'},"
                        "{'type':'send','template':'t','transactional':true}");
    identify("u1", "'email':'u1@example.com'"); /* never asked */
    identify("u2", "'email':'u2@example.com'");
    consent("u2", 0); /* said no */
    identify("u3", "'first_name':'No address'");
    consent("u3", 1);
    subscriber("u4", "Yes");
    const char *users[] = {"u1", "u2", "u3", "u4"};
    for (int i = 0; i < 4; i++)
        ev(users[i], "Ping");
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(msgs(a, cust(users[i])), 2, "%s", users[i]);
        cr_assert_eq(M[0].marketing, 1);
        cr_assert_eq(M[0].status, PT_OUT_SKIPPED, "%s: marketing without consent", users[i]);
        cr_assert(strstr(M[0].error, "consent") != NULL, "%s", M[0].error);
        cr_assert_eq(M[0].subject[0], '\0', "a skipped message is not rendered");
        cr_assert_eq(M[1].marketing, 0);
        cr_assert_eq(M[1].status, PT_OUT_PENDING, "%s: transactional goes: %s", users[i],
                     M[1].error);
        cr_assert_str_eq(M[1].subject, "t ");
    }
    cr_assert_eq(msgs(a, cust("u3")), 2);
    cr_assert_eq(M[0].status, PT_OUT_SKIPPED);
    cr_assert(strstr(M[0].error, "no email address") != NULL, "%s", M[0].error);
    cr_assert_eq(M[1].status, PT_OUT_SKIPPED, "no address: not even transactional");
    cr_assert_eq(msgs(a, cust("u4")), 2);
    cr_assert_eq(M[0].status, PT_OUT_PENDING, "%s", M[0].error);
    cr_assert_str_eq(M[0].subject, "m Yes");
    /* a hard bounce reported by delivery suppresses the address (any case) for every email */
    struct pt_auto_result res = {.id = M[1].id,
                                 .status = PT_OUT_SENT,
                                 .attempts = 1,
                                 .sent_at = NOW,
                                 .bounce = 1,
                                 .shop = SHOP};
    snprintf(res.address, sizeof res.address, "U4@Example.COM");
    snprintf(res.error, sizeof res.error, "550 no such user");
    pt_buf_release(&AQ.out);
    memset(&AQ, 0, sizeof AQ);
    AQ.op = PT_AUTOOP_DELIVERED;
    AQ.results = &res;
    AQ.n = 1;
    struct pt_job j = {.kind = PT_JOB_AUTO, .shop = SHOP, .aut = &AQ};
    cr_assert_eq(pt_engine_run(G, &j), 0);
    cr_assert_eq(AQ.status, 200);
    set_now(NOW + H);
    ev("u4", "Ping");
    cr_assert_eq(msgs(a, cust("u4")), 4);
    cr_assert_eq(M[1].status, PT_OUT_SENT, "the delivery's outcome is recorded");
    cr_assert_eq(M[1].sent_at, START);
    cr_assert_eq(M[2].status, PT_OUT_SKIPPED);
    cr_assert(strstr(M[2].error, "suppressed") != NULL, "%s", M[2].error);
    cr_assert_eq(M[3].status, PT_OUT_SKIPPED, "a hard bounce is no mailbox: %s", M[3].error);
    cr_assert(strstr(M[3].error, "suppressed") != NULL, "%s", M[3].error);
    /* in this shop only */
    cr_assert_eq(msgs(a, cust("u1")), 2);
}

Test(auto_engine, frequency_cap_two_per_seven_days)
{
    tmpl_simple("m");
    tmpl_simple("t");
    int64_t a = auto_on("Ping", "", "{'type':'send','template':'m'}");
    int64_t b = auto_on("Receipt", "", "{'type':'send','template':'t','transactional':true}");
    subscriber("u1", "Ann");
    int64_t c = cust("u1");
    for (int i = 0; i < 3; i++) {
        set_now(START + i * H);
        ev("u1", "Ping");
    }
    cr_assert_eq(msgs(a, c), 3);
    cr_assert_eq(M[0].status, PT_OUT_PENDING);
    cr_assert_eq(M[1].status, PT_OUT_PENDING);
    cr_assert_eq(M[2].status, PT_OUT_SKIPPED, "the third in 7 days");
    cr_assert(strstr(M[2].error, "frequency cap") != NULL, "%s", M[2].error);
    /* transactional messages bypass the cap (and do not count) */
    ev("u1", "Receipt");
    ev("u1", "Receipt");
    cr_assert_eq(msgs(b, c), 2);
    cr_assert_eq(M[0].status, PT_OUT_PENDING);
    cr_assert_eq(M[1].status, PT_OUT_PENDING);
    /* the cap is per customer */
    subscriber("u2", "Bo");
    ev("u2", "Ping");
    cr_assert_eq(msgs(a, cust("u2")), 1);
    cr_assert_eq(M[0].status, PT_OUT_PENDING);
    /* exactly 7 days after the first: it still counts */
    set_now(START + 7 * DAY);
    ev("u1", "Ping");
    cr_assert_eq(msgs(a, c), 4);
    cr_assert_eq(M[3].status, PT_OUT_SKIPPED, "%s", iso(NOW));
    /* later the first is out of the window: one goes, then the cap again */
    set_now(START + 7 * DAY + 30 * 60);
    ev("u1", "Ping");
    ev("u1", "Ping");
    cr_assert_eq(msgs(a, c), 6);
    cr_assert_eq(M[4].status, PT_OUT_PENDING, "%s", M[4].error);
    cr_assert_eq(M[5].status, PT_OUT_SKIPPED);
    /* a shop's own cap */
    settings("{'caps':{'email':{'max':1,'per':'1d'}}}");
    set_now(START + 9 * DAY);
    ev("u1", "Ping");
    ev("u1", "Ping");
    cr_assert_eq(msgs(a, c), 8);
    cr_assert_eq(M[6].status, PT_OUT_PENDING, "%s", M[6].error);
    cr_assert_eq(M[7].status, PT_OUT_SKIPPED);
    cr_assert(strstr(M[7].error, "1 per 24 h") != NULL, "%s", M[7].error);
}

/* ---- control group ---- */

#define NC 1000

/* Ping u0..u999 in one batch at NOW. */
static void ping_all(void)
{
    struct pt_buf b;
    pt_buf_init(&b);
    for (int i = 0; i < NC; i++)
        pt_buf_printf(&b,
                      "%s{\"type\":\"track\",\"userId\":\"u%d\",\"messageId\":\"p%u\","
                      "\"event\":\"Ping\",\"timestamp\":\"%s\"}",
                      i ? "," : "", i, ++MSGN, iso(NOW));
    pt_buf_addc(&b, '\0');
    decode(&B, b.data);
    pt_buf_release(&b);
    memset(ST, 0xee, sizeof ST);
    memset(&JOB, 0, sizeof JOB);
    JOB = (struct pt_job){.kind = PT_JOB_EVENTS, .shop = SHOP, .batch = &B, .status = ST};
    cr_assert_eq(pt_engine_run(G, &JOB), 0, "%s", JOB.msg);
    cr_assert_eq(JOB.accepted, NC);
}

/* control[] per customer of automation a (latest runs); the number in control. */
static int control_set(int64_t a, uint8_t *control, int64_t entered_at)
{
    runs();
    int n = 0, seen = 0;
    memset(control, 0, NC);
    for (size_t i = 0; i < NR; i++) {
        if (R[i].automation != a || R[i].entered != entered_at)
            continue;
        seen++;
        struct pt_profile p;
        cr_assert_eq(pt_engine_profile_row(G, SHOP, R[i].customer, &p), 0);
        int u = (int)strtol(p.user_id + 1, NULL, 10);
        cr_assert(u >= 0 && u < NC);
        cr_assert(R[i].state == PT_RUN_CONTROL || R[i].state == PT_RUN_DONE, "state %d",
                  R[i].state);
        control[u] = R[i].state == PT_RUN_CONTROL;
        if (control[u]) {
            cr_assert_eq(R[i].ended, entered_at, "a control run ends when it starts");
            n++;
        }
    }
    cr_assert_eq(seen, NC);
    return n;
}

Test(auto_engine, control_group_is_held_out_deterministically)
{
    tmpl_simple("t");
    int64_t a = auto_on("Ping", ",'control_share':0.3",
                        "{'type':'send','template':'t','transactional':true}");
    int64_t a2 = auto_on("Ping", ",'control_share':0.3", "{'type':'tag','add':'x'}");
    ping_all();
    static uint8_t c1[NC], c2[NC], other[NC];
    int n1 = control_set(a, c1, START);
    cr_assert(n1 >= 255 && n1 <= 345, "control %d of %d for a share of 0.3", n1, NC);
    struct pt_auto_counts k = counts(a);
    cr_assert_eq(k.entered, NC);
    cr_assert_eq(k.control, n1);
    cr_assert_eq(k.done, NC - n1);
    /* control runs get no messages; every other run its one */
    size_t nm = msgs(a, 0);
    cr_assert_eq(nm, (size_t)(NC - n1));
    for (size_t i = 0; i < nm; i++) {
        struct pt_profile p;
        cr_assert_eq(pt_engine_profile_row(G, SHOP, M[i].customer, &p), 0);
        cr_assert_eq(c1[(int)strtol(p.user_id + 1, NULL, 10)], 0,
                     "a message to %s of the control group", p.user_id);
    }
    /* another automation holds out other customers */
    int n2 = control_set(a2, other, START);
    int same = 0;
    for (int i = 0; i < NC; i++)
        same += c1[i] && other[i];
    cr_assert(n2 >= 255 && n2 <= 345, "%d", n2);
    cr_assert(same < n1 * 6 / 10, "%d of %d shared: not independent of the automation", same, n1);
    /* after a restart, entering again: the same customers */
    reopen();
    set_now(START + DAY);
    ping_all();
    int n3 = control_set(a, c2, START + DAY);
    cr_assert_eq(n3, n1);
    cr_assert_eq(memcmp(c1, c2, NC), 0, "the control group changed");
    cr_assert_eq(msgs(a, 0), (size_t)(2 * (NC - n1)));
}

/* ---- webhooks, missing templates ---- */

Test(auto_engine, webhook_step_and_missing_template)
{
    tmpl_simple("gone");
    int64_t a = auto_on("Ping", "",
                        "{'type':'webhook','url':'https://hook.example/x'},"
                        "{'type':'wait','for':'1h'},"
                        "{'type':'send','template':'gone','transactional':true}");
    subscriber("u1", "Ann");
    ev_at("u1", "Ping", NOW, "'plan':'gold'");
    cr_assert_eq(msgs(a, 0), 1);
    cr_assert_eq(M[0].channel, PT_CHAN_WEBHOOK);
    cr_assert_str_eq(M[0].address, "https://hook.example/x");
    cr_assert_eq(M[0].marketing, 0);
    cr_assert_eq(M[0].status, PT_OUT_PENDING);
    json_t *o = json_loads(M[0].body, 0, NULL);
    cr_assert_not_null(o, "%s", M[0].body);
    cr_assert_str_eq(json_string_value(json_object_get(o, "message_id")), M[0].msg_id);
    cr_assert_str_eq(json_string_value(json_object_get(o, "user_id")), "u1");
    cr_assert_eq(json_integer_value(json_object_get(o, "automation")), a);
    cr_assert_eq(json_integer_value(json_object_get(o, "t")), START);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(o, "event"), "properties"), "plan")),
                     "gold");
    json_decref(o);
    /* the template is removed before the run gets to it: skipped, with the reason */
    cr_assert_eq(auto_run(SHOP, PT_AUTOOP_TEMPLATE, 0, NULL, "gone", NULL, 0), 204);
    tick_to(START + 2 * H);
    cr_assert_eq(msgs(a, 0), 2);
    cr_assert_eq(M[1].status, PT_OUT_SKIPPED);
    cr_assert(strstr(M[1].error, "no template") != NULL, "%s", M[1].error);
}

/* ---- shops ---- */

Test(auto_engine, shops_see_only_their_own)
{
    /* shop 2's automation on the same event name, with its own settings */
    int st = auto_run(SHOP2, PT_AUTOOP_CREATE, 0,
                      Q("{'name':'two','trigger':{'type':'event','event':'Ping'},"
                        "'steps':[{'type':'tag','add':'x'}]}"),
                      NULL, NULL, 0);
    cr_assert_eq(st, 201, "%s", aout());
    int64_t b = json_int(aout(), "id");
    st = auto_run(SHOP2, PT_AUTOOP_SETTINGS, 0, Q("{'default_hour':20,'caps':{'email':null}}"),
                  NULL, NULL, 0);
    cr_assert_eq(st, 200, "%s", aout());
    tmpl_simple("m");
    int64_t a = auto_on("Ping", "", "{'type':'send','template':'m'}");
    subscriber("u1", "Ann");
    ev("u1", "Ping");
    cr_assert_eq(counts(a).entered, 1);
    runs();
    for (size_t i = 0; i < NR; i++)
        cr_assert_neq(R[i].automation, b, "shop 2's automation entered a customer of shop 1");
    /* shop 1 keeps the default hour (10: tomorrow 10:00) and the default cap */
    cr_assert_eq(msgs(a, cust("u1")), 1);
    cr_assert_eq(M[0].next_at, START + DAY - 2 * H);
    run_in(SHOP2, Q("{'type':'track','userId':'u1','messageId':'s2','event':'Ping',"
                    "'timestamp':'%s'}",
                    iso(NOW)));
    runs();
    int inb = 0;
    for (size_t i = 0; i < NR; i++)
        inb += R[i].automation == b;
    cr_assert_eq(inb, 1, "shop 2's u1 entered shop 2's automation");
    cr_assert_eq(counts(a).entered, 1, "and not shop 1's");
    /* settings survive a restart */
    settings("{'default_hour':6,'quiet_hours':null,'caps':{'email':null}}");
    reopen();
    set_now(START + DAY);
    ev("u1", "Ping");
    cr_assert_eq(msgs(a, cust("u1")), 2);
    cr_assert_eq(M[1].next_at, START + 2 * DAY - 6 * H, "06:00 the next day");
}
