/*
 * harness_auto.h - shared by test_auto_engine.c, test_auto_runs.c and
 * test_auto_triggers.c: the engine of harness_engine.h on an injected clock
 * (NOW, Unix seconds; days of waits take no time), with the automation sweep
 * every SWEEP_S seconds of that clock and no delivery thread
 * (pt_engine_opts.deliver = 0), so the outbox is read as the engine left it. Helpers run automation
 * jobs (templates, definitions, status, settings), send events at explicit times, and read the
 * outbox and the runs back through a separate PT_STORE_READ connection (the store's own view, not
 * the engine's memory).
 *
 * Header-only, static functions: include it in one test file each and give
 * the suite .init = auto_setup, .fini = auto_teardown. Main thread only.
 */
#ifndef PT_TESTS_HARNESS_AUTO_H
#define PT_TESTS_HARNESS_AUTO_H

#include "harness_engine.h"

#include <jansson.h>

#include "automation/msgtmpl.h"

#include "util/buf.h"
#include "util/timeutil.h"

/* ---- clock and engine ---- */

#define H 3600

static int64_t NOW;
static int SWEEP_S = 1000000; /* the automation sweep's period (set before auto_setup's open) */

static int64_t clock_now(void *ctx)
{
    (void)ctx;
    return __atomic_load_n(&NOW, __ATOMIC_RELAXED);
}

HARNESS_FN void set_now(int64_t t)
{
    __atomic_store_n(&NOW, t, __ATOMIC_RELAXED);
}

HARNESS_FN int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    return pt_days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + s;
}

/* Unix time as ISO-8601 (rotating buffers). */
HARNESS_FN const char *iso(int64_t t)
{
    static char ring[16][24];
    static unsigned r;
    char *s = ring[r++ % 16];
    pt_format_utc(t, s);
    return s;
}

HARNESS_FN void open_clocked(void)
{
    struct pt_engine_opts o = {.data_dir = DIR_,
                               .clock = clock_now,
                               .seg_sweep_s = 1000000,
                               .clv_refit_s = -1,
                               .auto_sweep_s = SWEEP_S,
                               .public_url = "https://t.example",
                               .deliver = 0};
    struct pt_err e;
    cr_assert_eq(pt_engine_open(&o, &G, &e), 0, "engine: %s", e.msg);
}

HARNESS_FN void reopen(void)
{
    pt_engine_close(G);
    G = NULL;
    open_clocked();
}

/* Wednesday 2027-03-10 12:00:00 UTC */
#define START utc(2027, 3, 10, 12, 0, 0)

HARNESS_FN void auto_setup(void)
{
    snprintf(DIR_, sizeof DIR_, "%s/pt-auto-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    cr_assert_not_null(mkdtemp(DIR_));
    struct pt_store *s;
    struct pt_err e;
    struct pt_shop sh;
    char k2[96];
    cr_assert_eq(pt_store_open(DIR_, PT_STORE_WRITE, &s, &e), 0, "%s", e.msg);
    cr_assert_eq(pt_store_shop_create(s, "One", &sh, KEY, &e), 0, "%s", e.msg);
    SHOP = sh.id;
    cr_assert_eq(pt_store_shop_create(s, "Two", &sh, k2, &e), 0, "%s", e.msg);
    SHOP2 = sh.id;
    pt_store_close(s);
    set_now(START);
    T0 = START; /* (fills missing timestamps in decode(): every event here has one) */
    open_clocked();
}

HARNESS_FN void tick_to(int64_t t)
{
    set_now(t);
    cr_assert_eq(pt_engine_tick(G), 0);
}

/* ---- events (every one at an explicit time) ---- */

static unsigned MSGN;

/* A track event `name` of user at t with properties (JSON with single quotes, or ""). */
HARNESS_FN void ev_at(const char *user, const char *name, int64_t t, const char *props)
{
    run(Q("{'type':'track','userId':'%s','messageId':'h%u','event':'%s','timestamp':'%s',"
          "'properties':{%s}}",
          user, ++MSGN, name, iso(t), props ? props : ""));
    cr_assert_eq(ST[0], PT_EV_ACCEPTED, "event %s of %s", name, user);
}

HARNESS_FN void ev(const char *user, const char *name)
{
    ev_at(user, name, NOW, "");
}

/* An order at t: revenue text, products (a JSON array with single quotes, or NULL). */
HARNESS_FN void order_at(const char *user, const char *oid, int64_t t, const char *revenue,
                         const char *products)
{
    char p[2048] = "";
    if (products)
        snprintf(p, sizeof p, ",'products':%s", products);
    ev_at(user, "Order Completed", t, Q("'order_id':'%s','revenue':%s%s", oid, revenue, p));
}

/* identify with traits (single-quoted JSON members, e.g. "'email':'a@b.c'"). */
HARNESS_FN void identify(const char *user, const char *traits)
{
    run(Q("{'type':'identify','userId':'%s','messageId':'h%u','timestamp':'%s','traits':{%s}}",
          user, ++MSGN, iso(NOW), traits));
    cr_assert_eq(ST[0], PT_EV_ACCEPTED, "identify %s", user);
}

HARNESS_FN void consent(const char *user, int yes)
{
    ev_at(user, "Consent Changed", NOW,
          yes ? "'consents':{'email_marketing':true}" : "'consents':{'email_marketing':false}");
}

/* A customer who may receive marketing email: address, name, consent. */
HARNESS_FN void subscriber(const char *user, const char *first)
{
    identify(user, Q("'email':'%s@example.com','first_name':'%s'", user, first));
    consent(user, 1);
}

/* Store row id (customers.id, the outbox's customer) of user's profile. */
HARNESS_FN int64_t cust(const char *user)
{
    struct pt_profile p;
    cr_assert_eq(pt_engine_profile(G, SHOP, user, 0, &p), 0, "no customer %s", user);
    return p.root;
}

/* ---- automation jobs ---- */

static struct pt_auto_req AQ;

HARNESS_FN const char *aout(void)
{
    return AQ.out.data ? AQ.out.data : "";
}

/* Run an automation request (AQ) in shop; the answer's HTTP status. A
 * template operation without json deletes the template. */
HARNESS_FN int auto_run(int64_t shop, int op, int64_t id, const char *json, const char *tmpl_id,
                        const char *user, int status_to)
{
    pt_buf_release(&AQ.out);
    memset(&AQ, 0, sizeof AQ);
    pt_buf_init(&AQ.out);
    AQ.op = op;
    AQ.id = id;
    AQ.json = json;
    AQ.len = json ? strlen(json) : 0;
    AQ.tmpl_id = tmpl_id;
    AQ.user_id = user;
    AQ.status_to = status_to;
    AQ.del = op == PT_AUTOOP_TEMPLATE && json == NULL; /* a template without JSON: delete it */
    struct pt_job j = {.kind = PT_JOB_AUTO, .shop = shop, .aut = &AQ};
    int rc = pt_engine_run(G, &j);
    cr_assert_eq(rc, 0, "automation job %d: rc %d %s", op, rc, j.msg);
    return AQ.status;
}

HARNESS_FN int64_t json_int(const char *js, const char *key)
{
    json_error_t je;
    json_t *o = json_loads(js, 0, &je);
    cr_assert_not_null(o, "%s: %s", je.text, js);
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_integer(v), "%s in %s", key, js);
    int64_t n = json_integer_value(v);
    json_decref(o);
    return n;
}

/* Save a template (JSON with single quotes; \\' for a double quote inside a string). */
HARNESS_FN void tmpl(const char *id, const char *json)
{
    json = Q("%s", json);
    int st = auto_run(SHOP, PT_AUTOOP_TEMPLATE, 0, json, id, NULL, 0);
    cr_assert(st == 201 || st == 200, "template %s: %d %s", id, st, aout());
}

/* An email template "NAME": subject "NAME {{first_name}}", text "NAME". */
HARNESS_FN void tmpl_simple(const char *id)
{
    tmpl(id, Q("{'name':'%s','channel':'email','subject':'%s {{first_name}}','text':'%s'}", id, id,
               id));
}

/* Create an automation (JSON with single quotes): its id. */
HARNESS_FN int64_t auto_create(const char *json)
{
    json = Q("%s", json);
    int st = auto_run(SHOP, PT_AUTOOP_CREATE, 0, json, NULL, NULL, 0);
    cr_assert_eq(st, 201, "create: %d %s\n%s", st, aout(), json);
    return json_int(aout(), "id");
}

/* An automation on event `trigger` with steps (a JSON list's inside) and extra keys ("" or
 * ",'k':v"). */
HARNESS_FN int64_t auto_on(const char *trigger, const char *extra, const char *steps)
{
    return auto_create(Q("{'name':'on %s','trigger':{'type':'event','event':'%s'}%s,'steps':[%s]}",
                         trigger, trigger, extra, steps));
}

HARNESS_FN int auto_status(int64_t id, int to)
{
    return auto_run(SHOP, PT_AUTOOP_STATUS, id, NULL, NULL, NULL, to);
}

HARNESS_FN void settings(const char *json)
{
    json = Q("%s", json);
    int st = auto_run(SHOP, PT_AUTOOP_SETTINGS, 0, json, NULL, NULL, 0);
    cr_assert_eq(st, 200, "settings: %d %s\n%s", st, aout(), json);
}

/* ---- the store's view ---- */

struct msg {
    int64_t id, automation, run, customer, next_at, created, sent_at;
    char msg_id[40];
    int channel, marketing, status, attempts;
    char tmpl[64], address[256], subject[256], error[200];
    char *html, *text, *body; /* (freed by the next msgs() call) */
};

static struct msg M[2048];
static size_t NM;

static void cp(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int msg_one(void *ctx, const struct pt_outbox_row *m)
{
    (void)ctx;
    cr_assert_lt(NM, sizeof M / sizeof M[0]);
    struct msg *x = &M[NM++];
    x->id = m->id;
    x->automation = m->automation;
    x->run = m->run;
    x->customer = m->customer;
    x->next_at = m->next_at;
    x->created = m->created;
    x->sent_at = m->sent_at;
    cp(x->msg_id, sizeof x->msg_id, m->msg_id);
    x->channel = m->channel;
    x->marketing = m->marketing;
    x->status = m->status;
    x->attempts = m->attempts;
    cp(x->tmpl, sizeof x->tmpl, m->tmpl);
    cp(x->address, sizeof x->address, m->address);
    cp(x->subject, sizeof x->subject, m->subject);
    cp(x->error, sizeof x->error, m->error);
    x->html = dup_or_null(m->html);
    x->text = dup_or_null(m->text);
    x->body = dup_or_null(m->body);
    return 0;
}

static void msgs_free(void)
{
    for (size_t i = 0; i < NM; i++) {
        free(M[i].html);
        free(M[i].text);
        free(M[i].body);
    }
    NM = 0;
}

/* The outbox rows of shop SHOP (automation 0: any; customer 0: any) into M,
 * OLDEST first; their number. */
HARNESS_FN size_t msgs(int64_t automation, int64_t customer)
{
    msgs_free();
    struct pt_store *rd;
    struct pt_err e;
    cr_assert_eq(pt_store_open(DIR_, PT_STORE_READ, &rd, &e), 0, "%s", e.msg);
    cr_assert_eq(
        pt_store_outbox_list(rd, SHOP, -1, automation, customer, 0, 100000, msg_one, NULL, &e), 0,
        "%s", e.msg);
    pt_store_close(rd);
    for (size_t i = 0; i < NM / 2; i++) { /* newest first -> oldest first */
        struct msg t = M[i];
        M[i] = M[NM - 1 - i];
        M[NM - 1 - i] = t;
    }
    return NM;
}

/* Latest run per (automation, customer) and every active run. */
struct runrow {
    int64_t id, automation, version, customer, wake, entered, ended, key;
    int state, pc;
};
static struct runrow R[4096];
static size_t NR;

static int run_one(void *ctx, const struct pt_auto_run_row *r)
{
    (void)ctx;
    cr_assert_lt(NR, sizeof R / sizeof R[0]);
    R[NR++] = (struct runrow){.id = r->id,
                              .automation = r->automation,
                              .version = r->version,
                              .customer = r->customer,
                              .wake = r->wake,
                              .entered = r->entered,
                              .ended = r->ended,
                              .key = r->key,
                              .state = r->state,
                              .pc = r->pc};
    return 0;
}

HARNESS_FN size_t runs(void)
{
    NR = 0;
    struct pt_store *rd;
    struct pt_err e;
    cr_assert_eq(pt_store_open(DIR_, PT_STORE_READ, &rd, &e), 0, "%s", e.msg);
    cr_assert_eq(pt_store_runs(rd, 1, run_one, NULL, &e), 0, "%s", e.msg);
    pt_store_close(rd);
    return NR;
}

/* The latest run of customer in automation (NULL if none). */
HARNESS_FN const struct runrow *run_of(int64_t automation, int64_t customer)
{
    runs();
    const struct runrow *best = NULL;
    for (size_t i = 0; i < NR; i++)
        if (R[i].automation == automation && R[i].customer == customer &&
            (best == NULL || R[i].id > best->id))
            best = &R[i];
    return best;
}

static int count_one(void *ctx, const struct pt_auto_counts *c)
{
    struct pt_auto_counts *x = ctx;
    if (c->automation == x->automation)
        *x = *c;
    return 0;
}

/* Per-state run counts of automation (all zero if it has no runs). */
HARNESS_FN struct pt_auto_counts counts(int64_t automation)
{
    struct pt_auto_counts c = {.automation = automation};
    struct pt_store *rd;
    struct pt_err e;
    cr_assert_eq(pt_store_open(DIR_, PT_STORE_READ, &rd, &e), 0, "%s", e.msg);
    cr_assert_eq(pt_store_run_counts(rd, SHOP, count_one, &c, &e), 0, "%s", e.msg);
    pt_store_close(rd);
    return c;
}

/* "a{automation}-r{run}-s{pc}", a message id (static buffer). */
HARNESS_FN const char *mid(int64_t a, int64_t r, int pc)
{
    static char b[64];
    snprintf(b, sizeof b, "a%lld-r%lld-s%d", (long long)a, (long long)r, pc);
    return b;
}

/* The outbox row of M with msg_id (NULL if none). */
HARNESS_FN const struct msg *msg_by_id(const char *msg_id)
{
    for (size_t i = 0; i < NM; i++)
        if (strcmp(M[i].msg_id, msg_id) == 0)
            return &M[i];
    return NULL;
}

HARNESS_FN void auto_teardown(void)
{
    teardown();
    msgs_free();
    pt_buf_release(&AQ.out);
}

#endif
