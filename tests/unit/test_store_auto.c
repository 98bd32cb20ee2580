/*
 * test_store_auto.c - the store's automation tables (store_auto.c, store.h
 * "automation"): templates, messaging settings, automations and their
 * versions, runs (active / latest, counts), the outbox (insert, unique
 * message ids, due, next, list with filters and paging, get, by message id,
 * hold / release, delivery results, cap counts, per-status counts),
 * suppressions, tags, pool codes, a customer's erasure and the store's
 * secrets. What the store wrote is checked through a separate raw SQLite
 * connection (q1) as well as through the store's own reads.
 */
#include "harness_store.h"

#include "automation/msgtmpl.h"

TestSuite(store_auto, .init = setup, .fini = teardown);

/* ---- collecting callbacks ---- */

struct tmpl_seen {
    int n;
    char ids[8][32];
    char json[8][128];
    int64_t shop[8], created[8], updated[8];
};

static int tmpl_cb(void *ctx, int64_t shop, const char *id, const char *json, int64_t created,
                   int64_t updated)
{
    struct tmpl_seen *x = ctx;
    cr_assert_lt(x->n, 8);
    snprintf(x->ids[x->n], sizeof x->ids[0], "%s", id);
    snprintf(x->json[x->n], sizeof x->json[0], "%s", json);
    x->shop[x->n] = shop;
    x->created[x->n] = created;
    x->updated[x->n++] = updated;
    return 0;
}

Test(store_auto, templates)
{
    cr_assert_eq(pt_store_tmpl_put(W, 1, "a", "{\"v\":1}", 100, &E), 0, "%s", E.msg);
    cr_assert_eq(pt_store_tmpl_put(W, 2, "a", "{\"v\":2}", 110, &E), 0);
    cr_assert_eq(pt_store_tmpl_put(W, 1, "a", "{\"v\":3}", 120, &E), 0, "an update");
    cr_assert_eq(q1("SELECT count(*) FROM msg_templates"), 2);
    cr_assert_eq(q1("SELECT created FROM msg_templates WHERE shop=1 AND id='a'"), 100,
                 "an update keeps the creation time");
    cr_assert_eq(q1("SELECT updated FROM msg_templates WHERE shop=1 AND id='a'"), 120);
    struct tmpl_seen s = {0};
    cr_assert_eq(pt_store_tmpls(W, tmpl_cb, &s, &E), 0);
    cr_assert_eq(s.n, 2);
    for (int i = 0; i < 2; i++)
        cr_assert_str_eq(s.json[i], s.shop[i] == 1 ? "{\"v\":3}" : "{\"v\":2}");
    cr_assert_eq(pt_store_tmpl_del(W, 1, "a", &E), 0);
    cr_assert_eq(q1("SELECT count(*) FROM msg_templates WHERE shop=2"), 1,
                 "the other shop's stays");
    memset(&s, 0, sizeof s);
    pt_store_tmpls(W, tmpl_cb, &s, &E);
    cr_assert_eq(s.n, 1);
    cr_assert_eq(s.shop[0], 2);
}

static int set_cb(void *ctx, int64_t shop, const char *json)
{
    char *out = ctx;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "%lld=%s;", (long long)shop, json);
    return 0;
}

Test(store_auto, settings)
{
    cr_assert_eq(pt_store_msg_settings_put(W, 1, "{\"a\":1}", &E), 0);
    cr_assert_eq(pt_store_msg_settings_put(W, 1, "{\"a\":2}", &E), 0);
    cr_assert_eq(pt_store_msg_settings_put(W, 3, "{}", &E), 0);
    char out[256] = "";
    cr_assert_eq(pt_store_msg_settings(W, set_cb, out, &E), 0);
    cr_assert_str_eq(out, "1={\"a\":2};3={};");
}

/* ---- automations ---- */

struct auto_seen_rows {
    int n;
    struct pt_auto_row r[8];
    char json[8][64];
};

static int auto_cb(void *ctx, const struct pt_auto_row *a)
{
    struct auto_seen_rows *x = ctx;
    cr_assert_lt(x->n, 8);
    x->r[x->n] = *a;
    snprintf(x->json[x->n], sizeof x->json[0], "%s", a->json);
    x->r[x->n].json = x->json[x->n];
    x->n++;
    return 0;
}

Test(store_auto, automations_and_versions)
{
    struct pt_auto_row a = {.shop = 1,
                            .version = 1,
                            .status = PT_AUTO_ACTIVE,
                            .json = "{\"v\":1}",
                            .created = 10,
                            .updated = 10};
    int64_t id = 0, id2 = 0;
    cr_assert_eq(pt_store_auto_put(W, &a, &id, &E), 0, "%s", E.msg);
    cr_assert_gt(id, 0);
    struct pt_auto_row b = {
        .shop = 2, .version = 1, .json = "{\"b\":1}", .created = 11, .updated = 11};
    cr_assert_eq(pt_store_auto_put(W, &b, &id2, &E), 0);
    cr_assert_neq(id, id2);
    /* a new version of the first */
    a = (struct pt_auto_row){.id = id,
                             .shop = 1,
                             .version = 2,
                             .status = PT_AUTO_PAUSED,
                             .json = "{\"v\":2}",
                             .created = 10,
                             .updated = 20};
    int64_t same = 0;
    cr_assert_eq(pt_store_auto_put(W, &a, &same, &E), 0);
    cr_assert_eq(same, id);
    cr_assert_eq(q1("SELECT version FROM automations WHERE id=%lld", (long long)id), 2);
    cr_assert_eq(
        q1("SELECT count(*) FROM automation_versions WHERE automation=%lld", (long long)id), 2);
    cr_assert_eq(pt_store_auto_status(W, id, PT_AUTO_ACTIVE, 30, &E), 0);
    struct auto_seen_rows s = {0};
    cr_assert_eq(pt_store_autos(W, auto_cb, &s, &E), 0);
    cr_assert_eq(s.n, 3, "every version");
    cr_assert_eq(s.r[0].id, id);
    cr_assert_eq(s.r[0].version, 1);
    cr_assert_str_eq(s.r[0].json, "{\"v\":1}");
    cr_assert_eq(s.r[1].version, 2);
    cr_assert_str_eq(s.r[1].json, "{\"v\":2}");
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(s.r[i].status, PT_AUTO_ACTIVE, "the automation's status on each version");
        cr_assert_eq(s.r[i].created, 10);
        cr_assert_eq(s.r[i].updated, 30);
        cr_assert_eq(s.r[i].shop, 1);
    }
    cr_assert_eq(s.r[2].id, id2);
    cr_assert_eq(s.r[2].shop, 2);
}

/* ---- runs ---- */

struct runs_seen {
    int n;
    struct pt_auto_run_row r[16];
    char ctx[16][64], voucher[16][24];
};

static int run_cb(void *ctx, const struct pt_auto_run_row *r)
{
    struct runs_seen *x = ctx;
    cr_assert_lt(x->n, 16);
    x->r[x->n] = *r;
    snprintf(x->ctx[x->n], sizeof x->ctx[0], "%s", r->ctx ? r->ctx : "(null)");
    snprintf(x->voucher[x->n], sizeof x->voucher[0], "%s", r->voucher ? r->voucher : "(null)");
    x->n++;
    return 0;
}

static int64_t run_ins(int64_t automation, int64_t customer, int state, int64_t entered,
                       const char *ctx)
{
    struct pt_auto_run_row r = {.shop = 1,
                                .automation = automation,
                                .version = 1,
                                .customer = customer,
                                .state = state,
                                .entered = entered,
                                .key = entered * 10,
                                .ctx = ctx};
    int64_t id = 0;
    cr_assert_eq(pt_store_run_insert(W, &r, &id, &E), 0, "%s", E.msg);
    return id;
}

static int count_cb(void *ctx, const struct pt_auto_counts *c)
{
    struct pt_auto_counts *x = ctx;
    x[c->automation] = *c;
    return 0;
}

Test(store_auto, runs)
{
    int64_t r1 = run_ins(1, 5, PT_RUN_ACTIVE, 100, "{\"event\":\"Ping\"}");
    int64_t r2 = run_ins(1, 6, PT_RUN_CONTROL, 100, NULL);
    int64_t r3 = run_ins(1, 5, PT_RUN_DONE, 50, NULL); /* (an older passage, inserted later) */
    int64_t r4 = run_ins(2, 5, PT_RUN_ACTIVE, 120, NULL);
    cr_assert(r1 < r2 && r2 < r3 && r3 < r4);
    /* a wait: pc, wake, voucher; ctx NULL keeps it */
    struct pt_auto_run_row u = {
        .id = r1, .state = PT_RUN_ACTIVE, .pc = 3, .flags = 1, .wake = 999, .voucher = "CODE1"};
    cr_assert_eq(pt_store_run_update(W, &u, &E), 0, "%s", E.msg);
    cr_assert_eq(q1("SELECT ctx IS NOT NULL FROM auto_runs WHERE id=%lld", (long long)r1), 1);
    struct runs_seen s = {0};
    cr_assert_eq(pt_store_runs(W, 0, run_cb, &s, &E), 0);
    cr_assert_eq(s.n, 2, "the active runs");
    cr_assert_eq(s.r[0].id, r1);
    cr_assert_eq(s.r[0].pc, 3);
    cr_assert_eq(s.r[0].flags, 1);
    cr_assert_eq(s.r[0].wake, 999);
    cr_assert_eq(s.r[0].key, 1000);
    cr_assert_eq(s.r[0].entered, 100);
    cr_assert_str_eq(s.voucher[0], "CODE1");
    cr_assert_str_eq(s.ctx[0], "{\"event\":\"Ping\"}");
    cr_assert_eq(s.r[1].id, r4);
    /* a new ctx replaces it; the run ends */
    u = (struct pt_auto_run_row){.id = r1,
                                 .state = PT_RUN_DONE,
                                 .pc = 4,
                                 .ended = 1000,
                                 .voucher = "",
                                 .ctx = "{\"event\":\"Order Completed\"}"};
    cr_assert_eq(pt_store_run_update(W, &u, &E), 0);
    memset(&s, 0, sizeof s);
    cr_assert_eq(pt_store_runs(W, 1, run_cb, &s, &E), 0);
    /* latest per (automation, customer): (1,5) r3, (1,6) r2, (2,5) r4 */
    cr_assert_eq(s.n, 3);
    cr_assert_eq(s.r[0].id, r2);
    cr_assert_eq(s.r[0].state, PT_RUN_CONTROL);
    cr_assert_eq(s.r[1].id, r3);
    cr_assert_eq(s.r[2].id, r4);
    cr_assert_eq(q1("SELECT ctx='{\"event\":\"Order Completed\"}' FROM auto_runs WHERE id=%lld",
                    (long long)r1),
                 1, "a new ctx replaces the old");
    cr_assert_eq(q1("SELECT ended FROM auto_runs WHERE id=%lld", (long long)r1), 1000);
    struct pt_auto_counts c[3];
    memset(c, 0, sizeof c);
    cr_assert_eq(pt_store_run_counts(W, 1, count_cb, c, &E), 0);
    cr_assert_eq(c[1].entered, 3);
    cr_assert_eq(c[1].control, 1);
    cr_assert_eq(c[1].done, 2);
    cr_assert_eq(c[1].active, 0);
    cr_assert_eq(c[2].entered, 1);
    cr_assert_eq(c[2].active, 1);
    memset(c, 0, sizeof c);
    cr_assert_eq(pt_store_run_counts(W, 2, count_cb, c, &E), 0);
    cr_assert_eq(c[1].entered + c[2].entered, 0, "another shop has none");
}

/* ---- the outbox ---- */

static int64_t out_ins(const char *msg_id, int64_t automation, int64_t customer, int marketing,
                       int status, int64_t next_at, int64_t created)
{
    struct pt_outbox_row m = {.shop = 1,
                              .automation = automation,
                              .run = 7,
                              .customer = customer,
                              .channel = PT_CHAN_EMAIL,
                              .marketing = marketing,
                              .status = status,
                              .next_at = next_at,
                              .created = created,
                              .tmpl = "t",
                              .address = "a@b.c",
                              .subject = "S",
                              .html = "<p>H</p>",
                              .text = "T"};
    snprintf(m.msg_id, sizeof m.msg_id, "%s", msg_id);
    int64_t id = 0;
    cr_assert_eq(pt_store_outbox_insert(W, &m, &id, &E), 0, "%s", E.msg);
    return id;
}

struct out_seen {
    int n;
    int64_t id[32];
    char msg[32][40];
};

static int out_cb(void *ctx, const struct pt_outbox_row *m)
{
    struct out_seen *x = ctx;
    cr_assert_lt(x->n, 32);
    x->id[x->n] = m->id;
    snprintf(x->msg[x->n++], sizeof x->msg[0], "%s", m->msg_id);
    return 0;
}

Test(store_auto, outbox_insert_due_next_get)
{
    int64_t a = out_ins("m1", 1, 5, 1, PT_OUT_PENDING, 300, 100);
    int64_t b = out_ins("m2", 1, 5, 0, PT_OUT_PENDING, 200, 100);
    out_ins("m3", 1, 6, 1, PT_OUT_SKIPPED, 100, 100);
    out_ins("m4", 2, 6, 1, PT_OUT_PENDING, 900, 100);
    /* message ids are unique */
    struct pt_outbox_row dup = {
        .shop = 1, .automation = 1, .customer = 5, .status = 0, .address = "x"};
    snprintf(dup.msg_id, sizeof dup.msg_id, "m1");
    int64_t id;
    cr_assert_neq(pt_store_outbox_insert(W, &dup, &id, &E), 0, "a second m1");
    cr_assert_eq(q1("SELECT count(*) FROM outbox"), 4);
    struct out_seen s = {0};
    cr_assert_eq(pt_store_outbox_due(W, 300, 10, out_cb, &s, &E), 0);
    cr_assert_eq(s.n, 2, "pending and due; not the skipped one");
    cr_assert_str_eq(s.msg[0], "m2", "by next_at");
    cr_assert_str_eq(s.msg[1], "m1");
    memset(&s, 0, sizeof s);
    cr_assert_eq(pt_store_outbox_due(W, 300, 1, out_cb, &s, &E), 0);
    cr_assert_eq(s.n, 1, "limit");
    int64_t t = -1;
    cr_assert_eq(pt_store_outbox_next(W, &t, &E), 0);
    cr_assert_eq(t, 200);
    /* get / by message id: every field, strings copied */
    struct pt_outbox_row m;
    struct pt_buf str;
    pt_buf_init(&str);
    cr_assert_eq(pt_store_outbox_get(W, a, &m, &str, &E), 0);
    cr_assert_str_eq(m.msg_id, "m1");
    cr_assert_eq(m.customer, 5);
    cr_assert_eq(m.run, 7);
    cr_assert_eq(m.marketing, 1);
    cr_assert_eq(m.next_at, 300);
    cr_assert_str_eq(m.subject, "S");
    cr_assert_str_eq(m.html, "<p>H</p>");
    cr_assert_str_eq(m.text, "T");
    cr_assert_str_eq(m.tmpl, "t");
    cr_assert_str_eq(m.address, "a@b.c");
    cr_assert_null(m.body);
    cr_assert_null(m.error);
    cr_assert_eq(pt_store_outbox_by_msg(W, "m2", &m, &str, &E), 0);
    cr_assert_eq(m.id, b);
    cr_assert_eq(m.marketing, 0);
    cr_assert_eq(pt_store_outbox_by_msg(W, "nope", &m, &str, &E), PT_ENOTFOUND);
    cr_assert_eq(pt_store_outbox_get(W, 999, &m, &str, &E), PT_ENOTFOUND);
    pt_buf_release(&str);
}

Test(store_auto, outbox_list_filters_and_pages)
{
    for (int i = 0; i < 10; i++) {
        char mid[16];
        snprintf(mid, sizeof mid, "m%d", i);
        out_ins(mid, 1 + i % 2, 5 + i % 3, 1, i % 5 == 4 ? PT_OUT_SKIPPED : PT_OUT_PENDING, 10,
                100);
    }
    struct out_seen s = {0};
    cr_assert_eq(pt_store_outbox_list(W, 1, -1, 0, 0, 0, 100, out_cb, &s, &E), 0);
    cr_assert_eq(s.n, 10);
    cr_assert_str_eq(s.msg[0], "m9", "newest first");
    memset(&s, 0, sizeof s);
    pt_store_outbox_list(W, 1, PT_OUT_SKIPPED, 0, 0, 0, 100, out_cb, &s, &E);
    cr_assert_eq(s.n, 2);
    cr_assert_str_eq(s.msg[0], "m9");
    cr_assert_str_eq(s.msg[1], "m4");
    memset(&s, 0, sizeof s);
    pt_store_outbox_list(W, 1, -1, 2, 0, 0, 100, out_cb, &s, &E); /* automation 2: odd i */
    cr_assert_eq(s.n, 5);
    memset(&s, 0, sizeof s);
    pt_store_outbox_list(W, 1, -1, 0, 6, 0, 100, out_cb, &s, &E); /* customer 6: i = 1, 4, 7 */
    cr_assert_eq(s.n, 3);
    cr_assert_str_eq(s.msg[2], "m1");
    memset(&s, 0, sizeof s);
    pt_store_outbox_list(W, 1, -1, 1, 5, 0, 100, out_cb, &s, &E); /* i even, i % 3 == 0 */
    cr_assert_eq(s.n, 2, "both filters");
    /* pages of 4 */
    memset(&s, 0, sizeof s);
    pt_store_outbox_list(W, 1, -1, 0, 0, 0, 4, out_cb, &s, &E);
    cr_assert_eq(s.n, 4);
    int64_t before = s.id[3];
    memset(&s, 0, sizeof s);
    pt_store_outbox_list(W, 1, -1, 0, 0, before, 4, out_cb, &s, &E);
    cr_assert_eq(s.n, 4);
    cr_assert_str_eq(s.msg[0], "m5");
    memset(&s, 0, sizeof s);
    pt_store_outbox_list(W, 2, -1, 0, 0, 0, 100, out_cb, &s, &E);
    cr_assert_eq(s.n, 0, "another shop");
}

Test(store_auto, outbox_hold_result_counts)
{
    int64_t a = out_ins("a", 1, 5, 1, PT_OUT_PENDING, 10, 100);
    int64_t b = out_ins("b", 1, 5, 1, PT_OUT_PENDING, 10, 200);
    int64_t c = out_ins("c", 2, 5, 1, PT_OUT_PENDING, 10, 300);
    int64_t d = out_ins("d", 1, 5, 1, PT_OUT_SKIPPED, 10, 300);
    out_ins("e", 1, 5, 0, PT_OUT_PENDING, 10, 300); /* transactional */
    cr_assert_eq(pt_store_outbox_hold(W, 1, 1, &E), 0);
    cr_assert_eq(q1("SELECT count(*) FROM outbox WHERE status=3"), 3, "automation 1's pending");
    cr_assert_eq(q1("SELECT status FROM outbox WHERE id=%lld", (long long)c), PT_OUT_PENDING);
    cr_assert_eq(q1("SELECT status FROM outbox WHERE id=%lld", (long long)d), PT_OUT_SKIPPED);
    struct out_seen s = {0};
    pt_store_outbox_due(W, 1000, 10, out_cb, &s, &E);
    cr_assert_eq(s.n, 1, "held messages are not due");
    /* a result for a held message: held unless it went */
    cr_assert_eq(pt_store_outbox_result(W, a, PT_OUT_PENDING, 1, 500, "421 try later", 0, &E), 0);
    cr_assert_eq(q1("SELECT status FROM outbox WHERE id=%lld", (long long)a), PT_OUT_HELD);
    cr_assert_eq(q1("SELECT attempts FROM outbox WHERE id=%lld", (long long)a), 1);
    cr_assert_eq(q1("SELECT next_at FROM outbox WHERE id=%lld", (long long)a), 500);
    cr_assert_eq(pt_store_outbox_result(W, b, PT_OUT_SENT, 1, 0, NULL, 400, &E), 0);
    cr_assert_eq(q1("SELECT status FROM outbox WHERE id=%lld", (long long)b), PT_OUT_SENT);
    cr_assert_eq(q1("SELECT sent_at FROM outbox WHERE id=%lld", (long long)b), 400);
    /* a finished message is not changed again */
    cr_assert_eq(pt_store_outbox_result(W, b, PT_OUT_DEAD, 9, 0, "late", 0, &E), 0);
    cr_assert_eq(q1("SELECT status FROM outbox WHERE id=%lld", (long long)b), PT_OUT_SENT);
    cr_assert_eq(pt_store_outbox_hold(W, 1, 0, &E), 0);
    cr_assert_eq(q1("SELECT status FROM outbox WHERE id=%lld", (long long)a), PT_OUT_PENDING,
                 "released");
    cr_assert_eq(q1("SELECT status FROM outbox WHERE id=%lld", (long long)b), PT_OUT_SENT);
    /* cap counts: marketing, this channel, created since, pending / held / sent */
    int64_t n = -1;
    cr_assert_eq(pt_store_outbox_count(W, 5, PT_CHAN_EMAIL, 0, &n, &E), 0);
    cr_assert_eq(n, 3, "a, b, c (not the skipped one, not the transactional one)");
    pt_store_outbox_count(W, 5, PT_CHAN_EMAIL, 200, &n, &E);
    cr_assert_eq(n, 2);
    pt_store_outbox_count(W, 5, PT_CHAN_WEBHOOK, 0, &n, &E);
    cr_assert_eq(n, 0);
    pt_store_outbox_count(W, 6, PT_CHAN_EMAIL, 0, &n, &E);
    cr_assert_eq(n, 0);
    pt_store_outbox_hold(W, 2, 1, &E);
    pt_store_outbox_count(W, 5, PT_CHAN_EMAIL, 300, &n, &E);
    cr_assert_eq(n, 1, "a held message counts");
    int64_t k[5];
    cr_assert_eq(pt_store_outbox_counts(W, 1, 0, k, &E), 0);
    cr_assert_eq(k[PT_OUT_PENDING], 2);
    cr_assert_eq(k[PT_OUT_SENT], 1);
    cr_assert_eq(k[PT_OUT_HELD], 1);
    cr_assert_eq(k[PT_OUT_SKIPPED], 1);
    cr_assert_eq(k[PT_OUT_DEAD], 0);
    cr_assert_eq(pt_store_outbox_counts(W, 1, 2, k, &E), 0);
    cr_assert_eq(k[PT_OUT_HELD], 1);
    cr_assert_eq(k[PT_OUT_PENDING] + k[PT_OUT_SENT] + k[PT_OUT_SKIPPED], 0);
}

/* ---- suppressions, tags, pools, erasure, secrets ---- */

Test(store_auto, suppressions)
{
    int yes = -1;
    cr_assert_eq(pt_store_suppressed(W, 1, "a@b.c", &yes, &E), 0);
    cr_assert_eq(yes, 0);
    cr_assert_eq(pt_store_suppress(W, 1, "Ann@Example.COM", "550", 10, &E), 0);
    cr_assert_eq(pt_store_suppress(W, 1, "ann@example.com", "again", 20, &E), 0, "once");
    cr_assert_eq(q1("SELECT count(*) FROM suppressions"), 1);
    cr_assert_eq(q1("SELECT count(*) FROM suppressions WHERE address LIKE '%%@%%'"), 0,
                 "kept hashed");
    pt_store_suppressed(W, 1, "ann@example.com", &yes, &E);
    cr_assert_eq(yes, 1);
    pt_store_suppressed(W, 1, "ANN@EXAMPLE.COM", &yes, &E);
    cr_assert_eq(yes, 1, "case-folded");
    pt_store_suppressed(W, 2, "ann@example.com", &yes, &E);
    cr_assert_eq(yes, 0, "per shop");
    pt_store_suppressed(W, 1, "bob@example.com", &yes, &E);
    cr_assert_eq(yes, 0);
}

static int tag_cb(void *ctx, const char *tag)
{
    char *out = ctx;
    size_t n = strlen(out);
    snprintf(out + n, 128 - n, "%s,", tag);
    return 0;
}

Test(store_auto, tags)
{
    cr_assert_eq(pt_store_tag(W, 1, 5, "vip", 1, 10, &E), 0);
    cr_assert_eq(pt_store_tag(W, 1, 5, "vip", 1, 20, &E), 0, "twice: once");
    cr_assert_eq(pt_store_tag(W, 1, 5, "a-first", 1, 30, &E), 0);
    cr_assert_eq(pt_store_tag(W, 1, 6, "vip", 1, 30, &E), 0);
    char out[128] = "";
    cr_assert_eq(pt_store_tags(W, 5, tag_cb, out, &E), 0);
    cr_assert_str_eq(out, "a-first,vip,");
    cr_assert_eq(pt_store_tag(W, 1, 5, "vip", 0, 40, &E), 0);
    cr_assert_eq(pt_store_tag(W, 1, 5, "never-had", 0, 40, &E), 0);
    out[0] = '\0';
    pt_store_tags(W, 5, tag_cb, out, &E);
    cr_assert_str_eq(out, "a-first,");
    out[0] = '\0';
    pt_store_tags(W, 6, tag_cb, out, &E);
    cr_assert_str_eq(out, "vip,");
}

Test(store_auto, pool_codes_are_taken_once)
{
    int64_t pool;
    cr_assert_eq(pt_store_voucher_pool(W, 1, "winback", "{}", 3, 10, &pool, &E), 0, "%s", E.msg);
    struct pt_voucher_row v = {.shop = 1, .kind = 1, .value = 10, .pool = pool, .created = 10};
    static const char codes[3][8] = {"CCC", "AAA", "BBB"};
    size_t ins = 0;
    cr_assert_eq(pt_store_voucher_insert_many(W, &v, codes[0], 3, sizeof codes[0], &ins, &E), 0,
                 "%s", E.msg);
    cr_assert_eq(ins, 3);
    char code[24];
    cr_assert_eq(pt_store_pool_take(W, 1, "winback", 5, code, &E), 0, "%s", E.msg);
    cr_assert_str_eq(code, "AAA", "in code order");
    cr_assert_eq(q1("SELECT customer FROM vouchers WHERE code='AAA'"), 5);
    cr_assert_eq(pt_store_pool_take(W, 1, "winback", 6, code, &E), 0);
    cr_assert_str_eq(code, "BBB");
    cr_assert_eq(pt_store_pool_take(W, 2, "winback", 6, code, &E), 0);
    cr_assert_str_eq(code, "", "another shop's pool");
    cr_assert_eq(pt_store_pool_take(W, 1, "other", 6, code, &E), 0);
    cr_assert_str_eq(code, "");
    cr_assert_eq(pt_store_pool_take(W, 1, "winback", 7, code, &E), 0);
    cr_assert_str_eq(code, "CCC");
    cr_assert_eq(pt_store_pool_take(W, 1, "winback", 8, code, &E), 0);
    cr_assert_str_eq(code, "", "used up");
    cr_assert_eq(q1("SELECT count(*) FROM vouchers WHERE customer=0"), 0);
}

Test(store_auto, erase_a_customer)
{
    run_ins(1, 5, PT_RUN_ACTIVE, 100, NULL);
    run_ins(1, 6, PT_RUN_ACTIVE, 100, NULL);
    out_ins("m5", 1, 5, 1, PT_OUT_PENDING, 10, 100);
    out_ins("m6", 1, 6, 1, PT_OUT_PENDING, 10, 100);
    pt_store_tag(W, 1, 5, "x", 1, 1, &E);
    pt_store_tag(W, 1, 6, "x", 1, 1, &E);
    cr_assert_eq(pt_store_auto_erase(W, 5, &E), 0, "%s", E.msg);
    cr_assert_eq(q1("SELECT count(*) FROM auto_runs WHERE customer=5"), 0);
    cr_assert_eq(q1("SELECT count(*) FROM outbox WHERE customer=5"), 0);
    cr_assert_eq(q1("SELECT count(*) FROM customer_tags WHERE customer=5"), 0);
    cr_assert_eq(q1("SELECT count(*) FROM auto_runs WHERE customer=6"), 1);
    cr_assert_eq(q1("SELECT count(*) FROM outbox WHERE customer=6"), 1);
    cr_assert_eq(q1("SELECT count(*) FROM customer_tags WHERE customer=6"), 1);
}

Test(store_auto, secrets)
{
    uint8_t a[32], b[32], c[32], zero[32] = {0};
    cr_assert_eq(pt_store_secret(W, "tracking", a, &E), 0, "%s", E.msg);
    cr_assert_neq(memcmp(a, zero, 32), 0);
    cr_assert_eq(pt_store_secret(W, "tracking", b, &E), 0);
    cr_assert_eq(memcmp(a, b, 32), 0, "the same secret");
    cr_assert_eq(pt_store_secret(W, "other", c, &E), 0);
    cr_assert_neq(memcmp(a, c, 32), 0, "one per name");
    pt_store_close(W);
    cr_assert_eq(pt_store_open(DIR_, PT_STORE_WRITE, &W, &E), 0);
    cr_assert_eq(pt_store_secret(W, "tracking", b, &E), 0);
    cr_assert_eq(memcmp(a, b, 32), 0, "kept");
    cr_assert_eq(q1("SELECT count(*) FROM secrets"), 2);
}
