/*
 * test_loyalty_ledger.c - the loyalty ledger in the engine (engine_loy*.c),
 * with an injected clock: purchase points (category multipliers, rounding,
 * tier multipliers), per-order and per-day caps, behaviour events and their
 * caps, refund reversals with and without debt, FIFO expiry at N calendar
 * months, points_expiring() in a segment rule, tier upgrade at once and
 * downgrade at the review date, comeback and intensify bonuses, referrals
 * (paid after the return window; not when refunded, not to oneself), a pilot
 * by customer list, idempotent retries of every operation (422 on a reused
 * key), concurrent duplicates; and a long seeded random sequence of all of
 * it with clock jumps and restarts, after every step of which the SQLite
 * file, read on its own connection, must agree with the engine's member
 * views and keep the ledger's invariants.
 *
 * The random test prints its seed; LOY_SEED=n and LOY_STEPS=n override it
 * and the number of steps.
 */
#include "harness_engine.h"

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>

#include "loyalty/code.h"
#include "loyalty/program.h"
#include "util/buf.h"
#include "util/rng.h"
#include "util/timeutil.h"

/* ---- clock, engine, database ---- */

static int64_t NOW;
static int64_t clock_now(void *ctx)
{
    (void)ctx;
    return NOW;
}

static void open_clocked(void)
{
    struct pt_engine_opts o = {.data_dir = DIR_, .clock = clock_now, .seg_sweep_s = 1000000};
    struct pt_err e;
    cr_assert_eq(pt_engine_open(&o, &G, &e), 0, "engine: %s", e.msg);
}

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    return pt_days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + s;
}

/* Unix time as ISO-8601 (rotating buffers). */
static const char *iso(int64_t t)
{
    static char ring[16][24];
    static unsigned r;
    char *s = ring[r++ % 16];
    pt_format_utc(t, s);
    return s;
}

/* t plus n calendar months, the day clamped to the month's length (written
 * here on its own, not engine_loy_add_months). */
static int64_t add_months(int64_t t, int64_t n)
{
    int64_t days = pt_floor_div(t, DAY), y;
    int m, d;
    pt_civil_from_days(days, &y, &m, &d);
    int64_t k = y * 12 + (m - 1) + n;
    y = pt_floor_div(k, 12);
    m = (int)(k - y * 12) + 1;
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int last = dim[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    if (d > last)
        d = last;
    return pt_days_from_civil(y, m, d) * DAY + (t - days * DAY);
}

static sqlite3 *DB;

static void db_close(void)
{
    if (DB)
        sqlite3_close(DB);
    DB = NULL;
}

static sqlite3 *db(void)
{
    if (DB == NULL) {
        char p[128];
        snprintf(p, sizeof p, "%s/patron.db", DIR_);
        cr_assert_eq(sqlite3_open_v2(p, &DB, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        sqlite3_busy_timeout(DB, 10000);
    }
    return DB;
}

/* The first column of the first row of a query (0 if no row or NULL). */
__attribute__((format(printf, 1, 2))) static int64_t sql1(const char *fmt, ...)
{
    char q[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db(), q, -1, &st, NULL), SQLITE_OK, "%s: %s", q,
                 sqlite3_errmsg(db()));
    int rc = sqlite3_step(st);
    cr_assert(rc == SQLITE_ROW || rc == SQLITE_DONE, "%s: %s", q, sqlite3_errmsg(db()));
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return v;
}

/* A customer's ledger as text, for failure messages (static buffer). */
static const char *ledger(int64_t c)
{
    static char out[16384];
    size_t n = 0;
    out[0] = '\0';
    sqlite3_stmt *st;
    char q[256];
    snprintf(q, sizeof q,
             "SELECT id,kind,points,t,expires,amount,reason,ref,idem FROM loy_entries WHERE "
             "customer=%lld ORDER BY id",
             (long long)c);
    if (sqlite3_prepare_v2(db(), q, -1, &st, NULL) != SQLITE_OK)
        return sqlite3_errmsg(db());
    while (sqlite3_step(st) == SQLITE_ROW && n + 200 < sizeof out)
        n += (size_t)snprintf(out + n, sizeof out - n,
                              "\n  #%lld kind %d %+lld t %lld exp %lld amount %lld %s ref %s %s",
                              (long long)sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1),
                              (long long)sqlite3_column_int64(st, 2),
                              (long long)sqlite3_column_int64(st, 3),
                              (long long)sqlite3_column_int64(st, 4),
                              (long long)sqlite3_column_int64(st, 5),
                              (const char *)sqlite3_column_text(st, 6),
                              (const char *)sqlite3_column_text(st, 7),
                              (const char *)sqlite3_column_text(st, 8));
    sqlite3_finalize(st);
    return out;
}

static void reopen(void)
{
    db_close();
    pt_engine_close(G);
    open_clocked();
}

static void tick_to(int64_t t)
{
    NOW = t;
    cr_assert_eq(pt_engine_tick(G), 0);
}

/* As the harness's setup(), but the data directory in /dev/shm when there is
 * one (every job waits for an fsync of the WAL: on a disk that is most of the
 * random test's time), and the engine on our clock. */
static void loy_setup(void)
{
    T0 = (int64_t)time(NULL);
    snprintf(DIR_, sizeof DIR_, "%s/pt-loy-XXXXXX",
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
    NOW = utc(2027, 1, 10, 12, 0, 0);
    open_clocked();
}

static void loy_teardown(void)
{
    db_close();
    teardown();
}

/* ---- loyalty operations ---- */

static void h_add(uint64_t h[2], const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h[0] = (h[0] ^ b[i]) * 1099511628211u;
        h[1] = (h[1] ^ b[i]) * 1099511628211u + 0x9e3779b97f4a7c15u;
    }
    uint8_t sep = 0xff;
    h[0] = (h[0] ^ sep) * 1099511628211u;
    h[1] = (h[1] ^ sep) * 1099511628211u;
}

static void h_str(uint64_t h[2], const char *s)
{
    h_add(h, s ? s : "\x01", s ? strlen(s) : 1);
}

/* The request's hash: every field that makes it what it is. */
static void req_hash(struct pt_loy_req *q)
{
    uint64_t h[2] = {14695981039346656037u, 0x84222325cbf29ce4u};
    int64_t nums[5] = {q->op, q->id, q->points, q->kind, q->del};
    h_add(h, nums, sizeof nums);
    h_str(h, q->user_id);
    h_add(h, q->json ? q->json : "", q->json ? q->len : 0);
    h_str(h, q->reason);
    h_str(h, q->code);
    h_str(h, q->order_id);
    if (q->codes)
        h_add(h, q->codes, q->n * (PT_CODE_LEN + 1));
    for (size_t i = 0; q->rows && i < q->n; i++) {
        h_str(h, q->rows[i].user_id);
        h_str(h, q->rows[i].tier);
        h_add(h, &q->rows[i].points, sizeof q->rows[i].points);
        h_add(h, &q->rows[i].joined, sizeof q->rows[i].joined);
    }
    memcpy(q->hash, h, 16);
}

static void lq_init(struct pt_loy_req *q, int op)
{
    memset(q, 0, sizeof *q);
    q->op = op;
    pt_buf_init(&q->out);
}

static const char *body(struct pt_loy_req *q)
{
    return q->out.data ? q->out.data : "";
}

/* Run q (hash computed unless keep_hash), expect the job to succeed; the status. */
static int loy_run_h(struct pt_loy_req *q, int keep_hash)
{
    if (!keep_hash)
        req_hash(q);
    struct pt_job j = {.kind = PT_JOB_LOYALTY, .shop = SHOP, .loy = q};
    int rc = pt_engine_run(G, &j);
    cr_assert_eq(rc, 0, "loyalty job op %d: rc %d %s", q->op, rc, j.msg);
    cr_assert_eq(j.rc, 0);
    return q->status;
}

static int loy_run(struct pt_loy_req *q)
{
    return loy_run_h(q, 0);
}

static void set_program(const char *json)
{
    struct pt_loy_req q;
    lq_init(&q, PT_LOYOP_PROGRAM);
    q.json = json;
    q.len = strlen(json);
    int st = loy_run(&q);
    cr_assert(st == 200 || st == 201, "programme: %d %s\n%s", st, body(&q), json);
    pt_buf_release(&q.out);
}

/* Manual points: the status (body into *out if given). */
static int points(const char *user, int64_t pts, int kind, const char *idem)
{
    struct pt_loy_req q;
    lq_init(&q, PT_LOYOP_POINTS);
    q.user_id = user;
    q.points = pts;
    q.kind = kind;
    q.idem = idem;
    int st = loy_run(&q);
    pt_buf_release(&q.out);
    return st;
}

static int64_t json_int_at(const char *js, const char *k1, const char *k2)
{
    json_error_t je;
    json_t *o = json_loads(js, 0, &je);
    cr_assert_not_null(o, "%s: %s", je.text, js);
    json_t *v = json_object_get(o, k1);
    if (k2)
        v = json_object_get(v, k2);
    cr_assert(json_is_integer(v), "%s.%s in %s", k1, k2 ? k2 : "", js);
    int64_t n = json_integer_value(v);
    json_decref(o);
    return n;
}

static int64_t new_reward(const char *json)
{
    struct pt_loy_req q;
    lq_init(&q, PT_LOYOP_REWARD);
    q.json = json;
    q.len = strlen(json);
    cr_assert_eq(loy_run(&q), 201, "reward: %s", body(&q));
    int64_t id = json_int_at(body(&q), "id", NULL);
    pt_buf_release(&q.out);
    return id;
}

static int enrol(const char *user)
{
    struct pt_loy_req q;
    lq_init(&q, PT_LOYOP_ENROL);
    q.user_id = user;
    int st = loy_run(&q);
    pt_buf_release(&q.out);
    return st;
}

/* The member view (parsed), or NULL if not a member. */
static json_t *view(const char *user)
{
    struct pt_buf b;
    pt_buf_init(&b);
    int rc = pt_engine_loy_member(G, SHOP, user, &b);
    if (rc == PT_ENOTFOUND) {
        pt_buf_release(&b);
        return NULL;
    }
    cr_assert_eq(rc, 0, "member view of %s: %d", user, rc);
    json_error_t je;
    json_t *o = json_loadb(b.data, b.len, 0, &je);
    cr_assert_not_null(o, "member view of %s: %s: %s", user, je.text, b.data);
    pt_buf_release(&b);
    return o;
}

static const int64_t NOT_MEMBER = INT64_MIN;

/* The balance in the member view (NOT_MEMBER if none). */
static int64_t balance(const char *user)
{
    static struct pt_buf b;
    pt_buf_reset(&b);
    int rc = pt_engine_loy_member(G, SHOP, user, &b);
    if (rc == PT_ENOTFOUND)
        return NOT_MEMBER;
    cr_assert_eq(rc, 0, "member view of %s: %d", user, rc);
    const char *p = strstr(b.data, "\"balance\":");
    cr_assert_not_null(p, "%s", b.data);
    return strtoll(p + 10, NULL, 10);
}

/* The member's tier name ("" for none, NULL for not a member) into out. */
static const char *tier_of(const char *user, char *out, size_t cap)
{
    json_t *v = view(user);
    if (v == NULL)
        return NULL;
    json_t *t = json_object_get(json_object_get(v, "tier"), "name");
    snprintf(out, cap, "%s", json_is_string(t) ? json_string_value(t) : "");
    json_decref(v);
    return out;
}

static const char *referral_code(const char *user, char *out, size_t cap)
{
    json_t *v = view(user);
    cr_assert_not_null(v, "%s is not a member", user);
    json_t *c = json_object_get(json_object_get(v, "referral"), "code");
    cr_assert(json_is_string(c));
    snprintf(out, cap, "%s", json_string_value(c));
    json_decref(v);
    return out;
}

/* Store row (customers.id) of a userId, 0 if none. */
static int64_t cust(const char *user)
{
    return sql1("SELECT id FROM customers WHERE shop=%lld AND ext_id='%s' AND merged_into IS NULL",
                (long long)SHOP, user);
}

/* Sum of a customer's entries with a reason (SQL LIKE pattern). */
static int64_t sum_reason(const char *user, const char *reason)
{
    return sql1("SELECT coalesce(sum(points),0) FROM loy_entries WHERE customer=%lld AND reason "
                "LIKE '%s'",
                (long long)cust(user), reason);
}

static int64_t n_reason(const char *user, const char *reason)
{
    return sql1("SELECT count(*) FROM loy_entries WHERE customer=%lld AND reason LIKE '%s'",
                (long long)cust(user), reason);
}

/* ---- events ---- */

static unsigned MSG;

/* An order at time t: revenue (decimal text) and products (JSON array with
 * single quotes, or NULL), extra properties ("'k':v," or ""). */
static struct pt_job *order_t(const char *user, const char *oid, int64_t t, const char *revenue,
                              const char *products, const char *extra)
{
    char prods[4096] = "";
    if (products)
        snprintf(prods, sizeof prods, ",'products':%s", products);
    struct pt_job *j = run(Q("{'type':'track','userId':'%s','messageId':'m%u','event':'Order "
                             "Completed','timestamp':'%s','properties':{%s'order_id':'%s',"
                             "'revenue':%s%s}}",
                             user, ++MSG, iso(t), extra ? extra : "", oid, revenue, prods));
    cr_assert_eq(ST[0], PT_EV_ACCEPTED, "order %s", oid);
    return j;
}

/* A refund of order oid: revenue NULL = the rest of it. */
static void refund_t(const char *user, const char *oid, int64_t t, const char *revenue)
{
    char rev[64] = "";
    if (revenue)
        snprintf(rev, sizeof rev, ",'revenue':%s", revenue);
    run(Q("{'type':'track','userId':'%s','messageId':'m%u','event':'Order Refunded',"
          "'timestamp':'%s','properties':{'order_id':'%s'%s}}",
          user, ++MSG, iso(t), oid, rev));
    cr_assert_eq(ST[0], PT_EV_ACCEPTED);
}

static void track_t(const char *user, const char *event, int64_t t)
{
    run(Q("{'type':'track','userId':'%s','messageId':'m%u','event':'%s','timestamp':'%s'}", user,
          ++MSG, event, iso(t)));
    cr_assert_eq(ST[0], PT_EV_ACCEPTED);
}

/* ---- segments ---- */

static int64_t seg_create(const char *name, const char *rule)
{
    struct pt_job j = {.kind = PT_JOB_SEGMENT, .shop = SHOP, .seg_op = PT_SEG_CREATE,
                       .seg_name = name, .seg_rule = rule};
    pt_engine_run(G, &j);
    cr_assert_eq(j.rc, 0, "segment %s: %s", rule, j.msg);
    return j.seg_id;
}

static int get_count(void *ctx, const struct pt_segment_info *s)
{
    *(uint64_t *)ctx = s->count;
    return 0;
}

static uint64_t seg_count(int64_t id)
{
    uint64_t n = UINT64_MAX;
    cr_assert_eq(pt_engine_segment(G, SHOP, id, get_count, &n), 0);
    return n;
}

TestSuite(loyalty, .init = loy_setup, .fini = loy_teardown, .timeout = 300);

/* ======================= focused tests ======================= */

Test(loyalty, purchase_points_categories_and_rounding)
{
    const char *prog = "{\"earn\":{\"points_per_unit\":1,\"rounding\":\"%s\",\"categories\":"
                       "{\"books\":2,\"gift\":0,\"toys\":1.5}}}";
    char pj[512];
    snprintf(pj, sizeof pj, prog, "floor");
    set_program(pj);
    struct pt_loy_program p;
    char field[160];
    struct pt_err e;
    cr_assert_eq(pt_loy_program_parse(pj, strlen(pj), &p, field, &e), 0);
    /* 25.00 over books 10.00 (x2) and toys 5.00 (x1.5): 25 * 2750 / 1500 = 45.83 */
    const char *two = "[{'product_id':'b','category':'books','price':10},"
                      "{'product_id':'t','category':'toys','price':5}]";
    order_t("u1", "o1", NOW, "25", two, "");
    cr_assert_eq(pt_loy_order_points(&p, &B.ev[0], -1), 45);
    cr_assert_eq(balance("u1"), 45);
    snprintf(pj, sizeof pj, prog, "round");
    set_program(pj);
    order_t("u1", "o2", NOW + 1, "20", two, ""); /* 36.67 -> 37 */
    cr_assert_eq(balance("u1"), 45 + 37);
    order_t("u1", "o3", NOW + 2, "20.10", NULL, ""); /* no lines: 20.1 -> 20 */
    cr_assert_eq(balance("u1"), 45 + 37 + 20);
    snprintf(pj, sizeof pj, prog, "ceil");
    set_program(pj);
    order_t("u1", "o4", NOW + 3, "20.10", NULL, ""); /* 20.1 -> 21 */
    cr_assert_eq(balance("u1"), 45 + 37 + 20 + 21);
    /* gift cards earn nothing: no entry at all */
    order_t("u1", "o5", NOW + 4, "50", "[{'product_id':'g','category':'gift','price':50}]", "");
    cr_assert_eq(balance("u1"), 45 + 37 + 20 + 21);
    cr_assert_eq(sql1("SELECT count(*) FROM loy_entries WHERE ref='o5'"), 0);
    /* quantities weigh: books 1.00 x 3 and an uncategorised 3.00 line; 6.00 paid
     * -> 6 * (300*2 + 300*1) / 600 = 9 */
    order_t("u1", "o6", NOW + 5, "6",
            "[{'product_id':'b','category':'books','price':1,'quantity':3},"
            "{'product_id':'x','price':3}]",
            "");
    cr_assert_eq(sum_reason("u1", "purchase"), 45 + 37 + 20 + 21 + 9);
    cr_assert_eq(balance("u1"), 45 + 37 + 20 + 21 + 9);
    pt_loy_program_release(&p);
    /* an anonymous visitor earns nothing and is no member */
    run(Q("{'type':'track','anonymousId':'a1','messageId':'an1','event':'Order Completed',"
          "'timestamp':'%s','properties':{'order_id':'oa','revenue':30}}",
          iso(NOW + 6)));
    cr_assert_eq(sql1("SELECT count(*) FROM loy_entries WHERE ref='oa'"), 0);
    /* orders from before the programme existed earn nothing */
    order_t("u2", "old", NOW - DAY, "30", NULL, "");
    cr_assert_eq(balance("u2"), NOT_MEMBER);
}

Test(loyalty, tier_multiplier_applies_to_purchase_points)
{
    set_program("{\"earn\":{\"categories\":{\"books\":2}},\"tiers\":{\"levels\":["
                "{\"name\":\"Silver\",\"threshold\":10000,\"multiplier\":1.5}]}}");
    order_t("u1", "o1", NOW, "100", NULL, ""); /* 100 points; spend 100.00 -> Silver */
    char t[64];
    cr_assert_str_eq(tier_of("u1", t, sizeof t), "Silver");
    order_t("u1", "o2", NOW + 60, "10.50",
            "[{'product_id':'b','category':'books','price':10.50}]", ""); /* 10.5*2*1.5 */
    cr_assert_eq(balance("u1"), 100 + 31);
}

Test(loyalty, per_order_and_per_day_caps)
{
    set_program("{\"earn\":{\"max_per_order\":50,\"max_per_day\":80,"
                "\"events\":{\"Review Written\":{\"points\":20}}}}");
    int64_t d = utc(2027, 1, 11, 9, 0, 0);
    NOW = d;
    order_t("u1", "o1", d, "100", NULL, ""); /* 100 -> 50 (per order) */
    cr_assert_eq(balance("u1"), 50);
    order_t("u1", "o2", d + 60, "20", NULL, ""); /* 20 -> 70 */
    cr_assert_eq(balance("u1"), 70);
    order_t("u1", "o3", d + 120, "30", NULL, ""); /* 30 -> 10 (the day's 80) */
    cr_assert_eq(balance("u1"), 80);
    order_t("u1", "o4", d + 180, "30", NULL, ""); /* nothing left today */
    cr_assert_eq(balance("u1"), 80);
    cr_assert_eq(sql1("SELECT count(*) FROM loy_entries WHERE ref='o4'"), 0);
    /* manual points are not capped */
    cr_assert_eq(points("u1", 500, PT_LOY_EARN, NULL), 201);
    cr_assert_eq(balance("u1"), 580);
    /* the next UTC day: caps start again; behaviour points count towards the day */
    NOW = d + 15 * 3600; /* 00:00 the next day */
    track_t("u1", "Review Written", NOW);
    cr_assert_eq(balance("u1"), 600);
    order_t("u1", "o5", NOW + 10, "100", NULL, ""); /* 50 by order; 20 + 50 = 70 */
    order_t("u1", "o6", NOW + 20, "100", NULL, ""); /* 10 left today */
    cr_assert_eq(balance("u1"), 600 + 50 + 10);
    track_t("u1", "Review Written", NOW + 30); /* the day is full */
    cr_assert_eq(balance("u1"), 660);
    /* another customer has a cap of their own */
    order_t("u2", "o7", NOW + 40, "70", NULL, "");
    cr_assert_eq(balance("u2"), 50);
}

Test(loyalty, per_day_cap_holds_for_late_events)
{
    /* Events arrive out of order (a batch from a phone that was offline): an
     * order stamped yesterday, after today's, counts towards yesterday's cap. */
    set_program("{\"earn\":{\"max_per_day\":80}}");
    int64_t d1 = utc(2027, 1, 11, 22, 0, 0), d2 = utc(2027, 1, 12, 1, 0, 0);
    NOW = d2;
    order_t("u1", "o1", d1, "80", NULL, ""); /* day 1: 80 (full) */
    order_t("u1", "o2", d2, "30", NULL, ""); /* day 2: 30 */
    cr_assert_eq(balance("u1"), 110);
    order_t("u1", "o3", d1 + 600, "50", NULL, ""); /* late, day 1: full -> 0 */
    int64_t o3 = sql1("SELECT coalesce(sum(points),0) FROM loy_entries WHERE ref='o3'");
    cr_assert_eq(o3, 0, "day 1 already had its 80 points: o3 earned %lld", (long long)o3);
    order_t("u1", "o4", d2 + 60, "70", NULL, ""); /* day 2: 30 + 50 = 80 */
    cr_assert_eq(sql1("SELECT coalesce(sum(points),0) FROM loy_entries WHERE ref='o4'"), 50,
                 "day 2 had 30 points: 50 left");
    cr_assert_eq(balance("u1"), 160);
}

Test(loyalty, behaviour_events_max_per_day_and_max_total)
{
    set_program("{\"earn\":{\"events\":{\"Review Written\":{\"points\":10,\"max_per_day\":2,"
                "\"max_total\":3},\"Signed Up\":{\"points\":100,\"max_total\":1},"
                "\"Photo\":{\"points\":5}}}}");
    int64_t d = utc(2027, 1, 11, 10, 0, 0);
    NOW = d;
    track_t("u1", "Review Written", d);
    track_t("u1", "Review Written", d + 60);
    track_t("u1", "Review Written", d + 120); /* third today: nothing */
    cr_assert_eq(balance("u1"), 20);
    track_t("u1", "Signed Up", d + 130);
    track_t("u1", "Signed Up", d + 140); /* once */
    cr_assert_eq(balance("u1"), 120);
    track_t("u1", "Something Else", d + 150); /* no rule */
    cr_assert_eq(balance("u1"), 120);
    /* the same event again (same messageId): one award */
    run(Q("{'type':'track','userId':'u1','messageId':'ph1','event':'Photo','timestamp':'%s'}",
          iso(d + 160)));
    run(Q("{'type':'track','userId':'u1','messageId':'ph1','event':'Photo','timestamp':'%s'}",
          iso(d + 160)));
    cr_assert_eq(ST[0], PT_EV_DUPLICATE);
    cr_assert_eq(balance("u1"), 125);
    NOW = d + DAY;
    track_t("u1", "Review Written", NOW);      /* third in total */
    track_t("u1", "Review Written", NOW + 60); /* max_total reached */
    cr_assert_eq(balance("u1"), 135);
    cr_assert_eq(n_reason("u1", "event:Review Written"), 3);
    /* the counts survive a restart */
    reopen();
    NOW += DAY;
    track_t("u1", "Review Written", NOW);
    track_t("u1", "Signed Up", NOW + 1);
    cr_assert_eq(balance("u1"), 135);
    track_t("u2", "Review Written", NOW + 2); /* another customer has counts of their own */
    cr_assert_eq(balance("u2"), 10);
}

Test(loyalty, refund_without_debt_never_below_zero)
{
    set_program("{\"refunds\":{\"allow_debt\":false}}");
    order_t("u1", "o1", NOW, "100", NULL, ""); /* 100 */
    refund_t("u1", "o1", NOW + 10, "25");      /* a quarter: -25 */
    cr_assert_eq(balance("u1"), 75);
    cr_assert_eq(sum_reason("u1", "refund"), -25);
    /* a refund of the same event again changes nothing (messageId) */
    run(Q("{'type':'track','userId':'u1','messageId':'rr','event':'Order Refunded',"
          "'timestamp':'%s','properties':{'order_id':'o1','revenue':15}}",
          iso(NOW + 20)));
    run(Q("{'type':'track','userId':'u1','messageId':'rr','event':'Order Refunded',"
          "'timestamp':'%s','properties':{'order_id':'o1','revenue':15}}",
          iso(NOW + 20)));
    cr_assert_eq(balance("u1"), 60); /* 40 % of 100 reversed */
    cr_assert_eq(points("u1", -55, PT_LOY_ADJUST, NULL), 201);
    cr_assert_eq(balance("u1"), 5);
    refund_t("u1", "o1", NOW + 30, "10"); /* 50 % -> 10 more, only 5 left */
    cr_assert_eq(balance("u1"), 0);
    refund_t("u1", "o1", NOW + 40, NULL); /* the rest: nothing to take */
    cr_assert_eq(balance("u1"), 0);
    cr_assert_geq(sql1("SELECT min(b) FROM (SELECT sum(points) OVER (ORDER BY id) b FROM "
                       "loy_entries WHERE customer=%lld)",
                       (long long)cust("u1")),
                  0, "the balance never went below zero");
    /* a second order: a full refund at once takes back all of it */
    order_t("u1", "o2", NOW + 50, "40", NULL, "");
    cr_assert_eq(balance("u1"), 40);
    refund_t("u1", "o2", NOW + 60, NULL);
    cr_assert_eq(balance("u1"), 0);
    /* a refund of more than was paid reverses no more than was earned */
    order_t("u1", "o3", NOW + 70, "10", NULL, "");
    refund_t("u1", "o3", NOW + 80, "999");
    cr_assert_eq(sum_reason("u1", "refund"), -(25 + 15 + 5 + 40 + 10));
    cr_assert_eq(balance("u1"), 0);
    /* what could not be taken back stays forgiven: a later refund of the
     * same order takes only its own share, even when points are there again */
    order_t("u1", "o4", NOW + 90, "100", NULL, "");
    cr_assert_eq(points("u1", -100, PT_LOY_ADJUST, NULL), 201);
    refund_t("u1", "o4", NOW + 100, "50"); /* 50 due, nothing there: forgiven */
    cr_assert_eq(balance("u1"), 0);
    order_t("u1", "o5", NOW + 110, "100", NULL, "");
    cr_assert_eq(balance("u1"), 100);
    refund_t("u1", "o4", NOW + 120, NULL); /* the other half: 50 */
    cr_assert_eq(balance("u1"), 50);
    /* a refund of an unknown order is harmless */
    run(Q("{'type':'track','userId':'u1','messageId':'rz','event':'Order Refunded',"
          "'properties':{'order_id':'nope','revenue':5}}"));
    cr_assert_eq(balance("u1"), 50);
}

Test(loyalty, refund_with_debt_is_recorded_and_paid_first)
{
    set_program("{\"expiry\":{\"months\":12},\"refunds\":{\"allow_debt\":true}}");
    order_t("u1", "o1", NOW, "100", NULL, ""); /* 100 */
    cr_assert_eq(points("u1", -80, PT_LOY_ADJUST, NULL), 201);
    refund_t("u1", "o1", NOW + 10, "50"); /* -50: debt 30 */
    cr_assert_eq(balance("u1"), -30);
    refund_t("u1", "o1", NOW + 20, NULL); /* -50 more: debt 80 */
    cr_assert_eq(balance("u1"), -80);
    cr_assert_eq(sum_reason("u1", "refund"), -100);
    /* nothing can be redeemed or taken while in debt */
    cr_assert_eq(points("u1", -1, PT_LOY_ADJUST, NULL), 409);
    /* later earnings pay the debt first */
    order_t("u1", "o2", NOW + 30, "50", NULL, "");
    cr_assert_eq(balance("u1"), -30);
    order_t("u1", "o3", NOW + 40, "50", NULL, "");
    cr_assert_eq(balance("u1"), 20);
    /* and only what is left over can expire: 20 points, not 50 or 100 */
    json_t *v = view("u1");
    cr_assert_eq(json_integer_value(json_object_get(
                     json_object_get(json_object_get(v, "expiring"), "next"), "points")),
                 20);
    json_decref(v);
    reopen(); /* the same after a restart */
    v = view("u1");
    cr_assert_eq(json_integer_value(json_object_get(v, "balance")), 20);
    cr_assert_eq(json_integer_value(json_object_get(
                     json_object_get(json_object_get(v, "expiring"), "next"), "points")),
                 20);
    json_decref(v);
    tick_to(NOW + 400 * DAY);
    cr_assert_eq(balance("u1"), 0);
    cr_assert_eq(sum_reason("u1", "expiry"), -20);
    /* the report counts the debt */
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_engine_loy_report(G, SHOP, 5, &b), 0);
    pt_buf_release(&b);
}

Test(loyalty, expiry_fifo_at_calendar_months)
{
    set_program("{\"expiry\":{\"months\":1}}");
    NOW = utc(2027, 1, 31, 10, 0, 0);
    cr_assert_eq(points("u1", 100, PT_LOY_EARN, NULL), 404); /* no such customer yet */
    cr_assert_eq(enrol("u1"), 201);
    cr_assert_eq(points("u1", 100, PT_LOY_EARN, NULL), 201); /* expires 2027-02-28 10:00 */
    json_t *v = view("u1");
    json_t *next = json_object_get(json_object_get(v, "expiring"), "next");
    cr_assert_str_eq(json_string_value(json_object_get(next, "on")), "2027-02-28T10:00:00Z");
    json_decref(v);
    NOW = utc(2027, 2, 10, 10, 0, 0);
    cr_assert_eq(points("u1", 50, PT_LOY_EARN, NULL), 201); /* expires 2027-03-10 10:00 */
    NOW = utc(2027, 2, 15, 10, 0, 0);
    cr_assert_eq(points("u1", -120, PT_LOY_ADJUST, NULL), 201); /* 100 of the first, 20 of the second */
    tick_to(utc(2027, 2, 28, 9, 59, 59));
    cr_assert_eq(balance("u1"), 30);
    tick_to(utc(2027, 2, 28, 10, 0, 0)); /* the first lot is used up: nothing expires */
    cr_assert_eq(balance("u1"), 30);
    cr_assert_eq(n_reason("u1", "expiry"), 0);
    tick_to(utc(2027, 3, 10, 9, 59, 59));
    cr_assert_eq(balance("u1"), 30);
    tick_to(utc(2027, 3, 10, 10, 0, 0));
    cr_assert_eq(balance("u1"), 0);
    cr_assert_eq(sum_reason("u1", "expiry"), -30);
    cr_assert_eq(sql1("SELECT t FROM loy_entries WHERE reason='expiry'"),
                 utc(2027, 3, 10, 10, 0, 0));
    /* a leap year: January 31 + 1 month = February 29 */
    NOW = utc(2028, 1, 31, 23, 30, 0);
    cr_assert_eq(points("u1", 70, PT_LOY_EARN, NULL), 201);
    cr_assert_eq(points("u1", 5, PT_LOY_EARN, NULL), 201);
    reopen(); /* lots are rebuilt from the ledger */
    tick_to(utc(2028, 2, 29, 23, 29, 59));
    cr_assert_eq(balance("u1"), 75);
    tick_to(utc(2028, 3, 1, 0, 0, 0));
    cr_assert_eq(balance("u1"), 0);
    cr_assert_eq(sql1("SELECT count(*) FROM loy_entries WHERE reason='expiry' AND t=%lld",
                      (long long)utc(2028, 2, 29, 23, 30, 0)),
                 2);
    /* earned by orders, expiring oldest first after a redemption */
    int64_t r = new_reward("{\"name\":\"Mug\",\"cost\":60,\"voucher\":{\"type\":\"amount\","
                           "\"value\":500}}");
    NOW = utc(2028, 4, 1, 12, 0, 0);
    order_t("u2", "a", NOW, "50", NULL, "");
    NOW += 10 * DAY;
    order_t("u2", "b", NOW, "40", NULL, "");
    struct pt_loy_req q;
    lq_init(&q, PT_LOYOP_REDEEM);
    q.user_id = "u2";
    q.id = r;
    cr_assert_eq(loy_run(&q), 201, "%s", body(&q));
    pt_buf_release(&q.out);
    tick_to(utc(2028, 5, 1, 12, 0, 0)); /* lot a (50) was used: nothing */
    cr_assert_eq(balance("u2"), 30);
    tick_to(utc(2028, 5, 11, 12, 0, 0)); /* lot b: 30 of its 40 left */
    cr_assert_eq(balance("u2"), 0);
    cr_assert_eq(sum_reason("u2", "expiry"), -30);
}

Test(loyalty, points_expiring_in_a_segment_rule)
{
    set_program("{\"expiry\":{\"months\":12}}");
    int64_t t0 = NOW;
    order_t("u1", "o1", t0, "100", NULL, "");
    order_t("u2", "o2", t0 + 5 * DAY, "10", NULL, "");
    NOW = t0 + 5 * DAY;
    int64_t id = seg_create("Expiring", "points_expiring(30d) > 0");
    int64_t big = seg_create("Expiring 50", "points_expiring(30d) >= 50");
    cr_assert_eq(seg_count(id), 0);
    int64_t exp1 = utc(2028, 1, 10, 12, 0, 0), exp2 = exp1 + 5 * DAY;
    tick_to(exp1 - 30 * DAY - 1);
    cr_assert_eq(seg_count(id), 0);
    tick_to(exp1 - 30 * DAY); /* u1's 100 points are within 30 days of expiry */
    cr_assert_eq(seg_count(id), 1);
    cr_assert_eq(seg_count(big), 1);
    tick_to(exp2 - 30 * DAY); /* and u2's */
    cr_assert_eq(seg_count(id), 2);
    cr_assert_eq(seg_count(big), 1);
    /* redeeming most of them takes u1 out of the bigger one at once */
    cr_assert_eq(points("u1", -60, PT_LOY_ADJUST, NULL), 201);
    cr_assert_eq(seg_count(big), 0);
    cr_assert_eq(seg_count(id), 2);
    reopen();
    cr_assert_eq(seg_count(id), 2);
    tick_to(exp1 - 1);
    cr_assert_eq(seg_count(id), 2);
    tick_to(exp1); /* u1's points expired: out */
    cr_assert_eq(balance("u1"), 0);
    cr_assert_eq(seg_count(id), 1);
    tick_to(exp2);
    cr_assert_eq(seg_count(id), 0);
    cr_assert_eq(balance("u2"), 0);
}

Test(loyalty, tier_up_at_once_down_only_at_review)
{
    set_program("{\"tiers\":{\"basis\":\"spend\",\"window_days\":365,\"review_months\":3,"
                "\"levels\":[{\"name\":\"Silver\",\"threshold\":10000},"
                "{\"name\":\"Gold\",\"threshold\":50000,\"multiplier\":2}]}}");
    char t[64];
    int64_t t0 = NOW;
    order_t("u1", "o1", t0, "60", NULL, "");
    cr_assert_str_eq(tier_of("u1", t, sizeof t), "");
    order_t("u1", "o2", t0 + 60, "60", NULL, ""); /* 120.00 in the window: Silver at once */
    cr_assert_str_eq(tier_of("u1", t, sizeof t), "Silver");
    json_t *v = view("u1");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "tier"), "review_on")),
                     iso(utc(2027, 4, 10, 12, 0, 0)));
    json_decref(v);
    /* refunds drop the qualifying spend, but the tier holds until the review */
    refund_t("u1", "o2", t0 + 120, NULL);
    refund_t("u1", "o1", t0 + 180, NULL);
    cr_assert_str_eq(tier_of("u1", t, sizeof t), "Silver");
    reopen();
    tick_to(utc(2027, 4, 10, 11, 59, 59));
    cr_assert_str_eq(tier_of("u1", t, sizeof t), "Silver");
    tick_to(utc(2027, 4, 10, 12, 0, 0));
    cr_assert_str_eq(tier_of("u1", t, sizeof t), "");
    cr_assert_eq(sql1("SELECT count(*) FROM loy_tier_log WHERE customer=%lld",
                      (long long)cust("u1")),
                 2);
    /* straight to Gold; its multiplier applies from the next order */
    order_t("u1", "o3", NOW, "600", NULL, "");
    cr_assert_str_eq(tier_of("u1", t, sizeof t), "Gold");
    int64_t b = balance("u1");
    order_t("u1", "o4", NOW + 1, "10", NULL, "");
    cr_assert_eq(balance("u1"), b + 20);
    /* at the review Gold is still earned: it holds for another period */
    tick_to(utc(2027, 7, 10, 12, 0, 0));
    cr_assert_str_eq(tier_of("u1", t, sizeof t), "Gold");
    v = view("u1");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "tier"), "review_on")),
                     iso(utc(2027, 10, 10, 12, 0, 0)));
    json_decref(v);
    /* a year later the spend left the window: down to nothing at the next review */
    tick_to(utc(2028, 4, 10, 12, 0, 0));
    cr_assert_str_eq(tier_of("u1", t, sizeof t), "");
}

Test(loyalty, comeback_bonus_after_a_pause)
{
    set_program("{\"bonuses\":{\"comeback\":{\"points\":30,\"after_days\":60}}}");
    int64_t t0 = NOW;
    order_t("u1", "o1", t0, "10", NULL, "");
    NOW = t0 + 10 * DAY;
    order_t("u1", "o2", NOW, "10", NULL, "");
    cr_assert_eq(n_reason("u1", "bonus:comeback"), 0);
    NOW = t0 + 69 * DAY; /* 59 days after o2 */
    order_t("u1", "o3", NOW, "10", NULL, "");
    cr_assert_eq(n_reason("u1", "bonus:comeback"), 0);
    NOW = t0 + 129 * DAY; /* 60 days after o3 */
    order_t("u1", "o4", NOW, "10", NULL, "");
    cr_assert_eq(sum_reason("u1", "bonus:comeback"), 30);
    cr_assert_eq(balance("u1"), 40 + 30);
    /* a first order is no comeback */
    order_t("u2", "o5", NOW, "10", NULL, "");
    cr_assert_eq(n_reason("u2", "bonus:comeback"), 0);
}

Test(loyalty, intensify_bonus_once_per_period)
{
    set_program("{\"bonuses\":{\"intensify\":{\"points\":40,\"window_days\":30,\"factor\":2,"
                "\"period_days\":90,\"min_history_days\":60}}}");
    int64_t t0 = NOW;
    /* a steady order every 31 days: never twice the usual rate */
    for (int i = 0; i < 4; i++) {
        char oid[16];
        snprintf(oid, sizeof oid, "s%d", i);
        NOW = t0 + 31 * i * DAY;
        order_t("u1", oid, NOW, "10", NULL, "");
    }
    cr_assert_eq(n_reason("u1", "bonus:intensify"), 0);
    /* day 100: 2 in the last 30 days against a usual 3 / 70 days x 30 = 1.29 (x2 = 2.57) */
    NOW = t0 + 100 * DAY;
    order_t("u1", "b1", NOW, "10", NULL, "");
    cr_assert_eq(n_reason("u1", "bonus:intensify"), 0);
    /* day 105: 3 against 3 / 75 x 30 = 1.2 (x2 = 2.4): the bonus */
    NOW = t0 + 105 * DAY;
    order_t("u1", "b2", NOW, "10", NULL, "");
    cr_assert_eq(sum_reason("u1", "bonus:intensify"), 40);
    /* not again within the period */
    for (int i = 0; i < 3; i++) {
        char oid[16];
        snprintf(oid, sizeof oid, "c%d", i);
        NOW += DAY;
        order_t("u1", oid, NOW, "10", NULL, "");
    }
    cr_assert_eq(n_reason("u1", "bonus:intensify"), 1);
    reopen(); /* the period survives a restart */
    NOW += DAY;
    order_t("u1", "c9", NOW, "10", NULL, "");
    cr_assert_eq(n_reason("u1", "bonus:intensify"), 1);
    /* after the period, buying hard again earns it again */
    NOW = t0 + 200 * DAY;
    for (int i = 0; i < 5; i++) {
        char oid[16];
        snprintf(oid, sizeof oid, "d%d", i);
        NOW += DAY;
        order_t("u1", oid, NOW, "10", NULL, "");
    }
    cr_assert_eq(n_reason("u1", "bonus:intensify"), 2);
    /* a newcomer with no history gets nothing */
    for (int i = 0; i < 4; i++) {
        char oid[16];
        snprintf(oid, sizeof oid, "n%d", i);
        order_t("u2", oid, NOW + i, "10", NULL, "");
    }
    cr_assert_eq(n_reason("u2", "bonus:intensify"), 0);
}

static const char REF_PROG[] = "{\"referral\":{\"referrer_points\":100,\"friend_points\":50,"
                               "\"return_window_days\":14}}";

Test(loyalty, referral_paid_after_the_return_window)
{
    set_program(REF_PROG);
    cr_assert_eq(enrol("r1"), 201);
    cr_assert_eq(enrol("r1"), 200);
    char code[64], ex[128];
    referral_code("r1", code, sizeof code);
    snprintf(ex, sizeof ex, "'referral_code':'%s',", code);
    int64_t t0 = NOW;
    order_t("f1", "o1", t0, "20", NULL, ex);
    cr_assert_eq(balance("f1"), 20);
    cr_assert_eq(balance("r1"), 0);
    json_t *v = view("f1");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "referral"),
                                                       "referred_by")),
                     "r1");
    json_decref(v);
    /* a second order with a code is no new referral */
    order_t("f1", "o1b", t0 + 60, "5", NULL, ex);
    reopen(); /* pending referrals survive a restart */
    tick_to(t0 + 14 * DAY - 1);
    cr_assert_eq(balance("f1"), 25);
    cr_assert_eq(balance("r1"), 0);
    tick_to(t0 + 14 * DAY);
    cr_assert_eq(balance("f1"), 25 + 50);
    cr_assert_eq(balance("r1"), 100);
    cr_assert_eq(sum_reason("f1", "referral:friend"), 50);
    cr_assert_eq(sum_reason("r1", "referral:referrer"), 100);
    tick_to(t0 + 30 * DAY); /* once */
    cr_assert_eq(balance("r1"), 100);
    cr_assert_eq(sql1("SELECT state FROM loy_referrals WHERE friend=%lld", (long long)cust("f1")),
                 1);
    /* the code as the member may type it: lower case */
    for (char *p = code; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    snprintf(ex, sizeof ex, "'referral_code':'%s',", code);
    order_t("f4", "o4", NOW, "10", NULL, ex);
    tick_to(NOW + 15 * DAY);
    cr_assert_eq(balance("r1"), 200);
    /* a made-up code: an ordinary order */
    order_t("f5", "o5", NOW, "10", NULL, "'referral_code':'nonsense',");
    tick_to(NOW + 15 * DAY);
    cr_assert_eq(balance("f5"), 10);
}

Test(loyalty, referral_not_paid_for_a_refunded_order)
{
    set_program(REF_PROG);
    cr_assert_eq(enrol("r1"), 201);
    char code[64], ex[128];
    snprintf(ex, sizeof ex, "'referral_code':'%s',", referral_code("r1", code, sizeof code));
    int64_t t0 = NOW;
    order_t("f1", "o1", t0, "20", NULL, ex);
    order_t("f2", "o2", t0, "20", NULL, ex);
    refund_t("f1", "o1", t0 + DAY, NULL);   /* returned in full */
    refund_t("f2", "o2", t0 + DAY, "5");    /* a partial return still counts */
    tick_to(t0 + 15 * DAY);
    cr_assert_eq(balance("f1"), 0);
    cr_assert_eq(n_reason("f1", "referral:%"), 0);
    cr_assert_eq(sum_reason("f2", "referral:friend"), 50);
    cr_assert_eq(balance("r1"), 100);
    cr_assert_eq(sql1("SELECT state FROM loy_referrals WHERE friend=%lld", (long long)cust("f1")),
                 2);
}

Test(loyalty, no_self_referral)
{
    set_program(REF_PROG);
    cr_assert_eq(enrol("r1"), 201);
    char code[64], ex[128];
    snprintf(ex, sizeof ex, "'referral_code':'%s',", referral_code("r1", code, sizeof code));
    int64_t t0 = NOW;
    /* the member's own first order with their own code */
    order_t("r1", "o1", t0, "20", NULL, ex);
    /* the same person under a second account: the same email, told apart by case and spaces */
    run(Q("{'type':'identify','userId':'r1','messageId':'i1','traits':{'email':'Ann@Example.com'}}"));
    run(Q("{'type':'identify','userId':'f2','messageId':'i2','traits':{'email':' ann@example.COM'}}"));
    order_t("f2", "o2", t0 + 10, "20", NULL, ex);
    /* a different email is a real friend */
    run(Q("{'type':'identify','userId':'f3','messageId':'i3','traits':{'email':'bob@example.com'}}"));
    order_t("f3", "o3", t0 + 20, "20", NULL, ex);
    tick_to(t0 + 15 * DAY);
    cr_assert_eq(n_reason("r1", "referral:friend"), 0);
    cr_assert_eq(n_reason("f2", "referral:%"), 0);
    cr_assert_eq(sum_reason("f3", "referral:friend"), 50);
    cr_assert_eq(sum_reason("r1", "referral:referrer"), 100, "only f3 counts");
    cr_assert_eq(balance("r1"), 20 + 100);
}

Test(loyalty, pilot_by_customer_list)
{
    set_program("{\"earn\":{\"events\":{\"Review Written\":{\"points\":10}}},"
                "\"pilot\":{\"customers\":[\"p1\",\"p2\"]}}");
    order_t("p1", "o1", NOW, "20", NULL, "");
    order_t("p3", "o3", NOW, "20", NULL, "");
    track_t("p2", "Review Written", NOW);
    track_t("p3", "Review Written", NOW);
    cr_assert_eq(balance("p1"), 20);
    cr_assert_eq(balance("p2"), 10);
    cr_assert_eq(balance("p3"), NOT_MEMBER);
    cr_assert_eq(sql1("SELECT count(*) FROM loy_entries WHERE customer=%lld",
                      (long long)cust("p3")),
                 0);
    /* the list changes: p3 earns from then on */
    set_program("{\"pilot\":{\"customers\":[\"p3\"]}}");
    order_t("p3", "o4", NOW + 1, "5", NULL, "");
    order_t("p1", "o5", NOW + 1, "5", NULL, "");
    cr_assert_eq(balance("p3"), 5);
    cr_assert_eq(balance("p1"), 20);
}

/* ---- idempotency ---- */

static int64_t table_rows(const char *table)
{
    return sql1("SELECT count(*) FROM %s", table);
}

/* A fingerprint of everything the loyalty operations write. */
static void fingerprint(char *out, size_t cap)
{
    snprintf(out, cap, "%lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld",
             (long long)table_rows("loy_entries"), (long long)table_rows("loy_members"),
             (long long)table_rows("loy_rewards"), (long long)table_rows("loy_redemptions"),
             (long long)table_rows("vouchers"), (long long)table_rows("voucher_uses"),
             (long long)table_rows("voucher_pools"), (long long)table_rows("customers"),
             (long long)sql1("SELECT coalesce(sum(points),0) FROM loy_entries"),
             (long long)sql1("SELECT coalesce(sum(stock),0)+coalesce(sum(updated),0) FROM "
                             "loy_rewards"),
             (long long)sql1("SELECT coalesce(sum(uses),0) FROM vouchers") +
                 sql1("SELECT coalesce(sum(updated),0) FROM loy_programs"));
}

/* q has run once (status and body recorded by the caller): other work, then
 * the same request again -> replayed, same answer, nothing changed; the same
 * key with another request -> 422, nothing changed. */
static void expect_replay(struct pt_loy_req *q, const char *what)
{
    int st = q->status;
    char *first = strdup(body(q));
    cr_assert_eq(q->replayed, 0, "%s: first answer replayed", what);
    /* something else happens meanwhile, and time passes */
    cr_assert_eq(points("other", 1, PT_LOY_EARN, NULL), 201);
    NOW += 600;
    char before[512], after[512];
    fingerprint(before, sizeof before);
    cr_assert_eq(loy_run(q), st, "%s: retry: %s", what, body(q));
    cr_assert_eq(q->replayed, 1, "%s", what);
    cr_assert_str_eq(body(q), first, "%s", what);
    fingerprint(after, sizeof after);
    cr_assert_str_eq(after, before, "%s: the retry changed something", what);
    /* the same key, another request */
    uint8_t h[16];
    memcpy(h, q->hash, 16);
    q->hash[0] ^= 1;
    cr_assert_eq(loy_run_h(q, 1), 422, "%s: %s", what, body(q));
    cr_assert_eq(q->replayed, 0);
    cr_assert(strstr(body(q), "idempotency_key_reused"), "%s", body(q));
    fingerprint(after, sizeof after);
    cr_assert_str_eq(after, before, "%s: the 422 changed something", what);
    /* the original still replays after that */
    memcpy(q->hash, h, 16);
    cr_assert_eq(loy_run_h(q, 1), st);
    cr_assert_str_eq(body(q), first, "%s", what);
    /* and after a restart */
    reopen();
    cr_assert_eq(loy_run_h(q, 1), st);
    cr_assert_eq(q->replayed, 1);
    cr_assert_str_eq(body(q), first, "%s", what);
    fingerprint(after, sizeof after);
    cr_assert_str_eq(after, before, "%s: the retry after a restart changed something", what);
    free(first);
}

Test(loyalty, every_operation_is_idempotent)
{
    struct pt_loy_req q;
    const char *prog = "{\"tiers\":{\"levels\":[{\"name\":\"Silver\",\"threshold\":100}]}}";
    lq_init(&q, PT_LOYOP_PROGRAM);
    q.json = prog;
    q.len = strlen(prog);
    q.idem = "prog-1";
    int st = loy_run(&q);
    cr_assert(st == 200 || st == 201, "%d %s", st, body(&q)); /* (201: a new programme) */
    cr_assert_eq(enrol("other"), 201);
    expect_replay(&q, "programme");
    pt_buf_release(&q.out);

    lq_init(&q, PT_LOYOP_ENROL);
    q.user_id = "u1";
    q.idem = "enrol-1";
    cr_assert_eq(loy_run(&q), 201, "%s", body(&q));
    expect_replay(&q, "enrol"); /* (a new enrolment would say 200) */
    pt_buf_release(&q.out);

    lq_init(&q, PT_LOYOP_POINTS);
    q.user_id = "u1";
    q.points = 500;
    q.kind = PT_LOY_EARN;
    q.reason = "welcome";
    q.idem = "pts-1";
    cr_assert_eq(loy_run(&q), 201, "%s", body(&q));
    expect_replay(&q, "points");
    cr_assert_eq(balance("u1"), 500);
    pt_buf_release(&q.out);

    /* an answer that refused is replayed too (not re-tried with the new balance) */
    lq_init(&q, PT_LOYOP_POINTS);
    q.user_id = "u1";
    q.points = -600;
    q.kind = PT_LOY_ADJUST;
    q.idem = "pts-2";
    cr_assert_eq(loy_run(&q), 409, "%s", body(&q));
    cr_assert_eq(points("u1", 200, PT_LOY_EARN, NULL), 201);
    expect_replay(&q, "points refused");
    cr_assert_eq(balance("u1"), 700);
    pt_buf_release(&q.out);

    lq_init(&q, PT_LOYOP_REWARD);
    const char *rw = "{\"name\":\"Mug\",\"cost\":100,\"stock\":3,\"voucher\":{\"type\":\"amount\","
                     "\"value\":1000,\"currency\":\"PLN\"}}";
    q.json = rw;
    q.len = strlen(rw);
    q.idem = "rw-1";
    cr_assert_eq(loy_run(&q), 201, "%s", body(&q));
    int64_t reward = json_int_at(body(&q), "id", NULL);
    expect_replay(&q, "reward");
    pt_buf_release(&q.out);

    lq_init(&q, PT_LOYOP_REWARD);
    const char *upd = "{\"cost\":150}";
    q.id = reward;
    q.json = upd;
    q.len = strlen(upd);
    q.idem = "rw-2";
    cr_assert_eq(loy_run(&q), 200, "%s", body(&q));
    expect_replay(&q, "reward update");
    pt_buf_release(&q.out);

    lq_init(&q, PT_LOYOP_REDEEM);
    q.user_id = "u1";
    q.id = reward;
    q.idem = "rd-1";
    cr_assert_eq(loy_run(&q), 201, "%s", body(&q));
    json_t *o = json_loads(body(&q), 0, NULL);
    char printed[64], canon[PT_CODE_LEN + 1];
    snprintf(printed, sizeof printed, "%s",
             json_string_value(json_object_get(json_object_get(o, "voucher"), "code")));
    json_decref(o);
    cr_assert_eq(pt_code_normalize(printed, strlen(printed), NULL, canon, NULL), 0, "%s",
                 printed);
    expect_replay(&q, "redeem");
    cr_assert_eq(balance("u1"), 550);
    cr_assert_eq(sql1("SELECT stock FROM loy_rewards WHERE id=%lld", (long long)reward), 2);
    pt_buf_release(&q.out);

    lq_init(&q, PT_LOYOP_VOUCHER_USE);
    q.code = canon;
    q.order_id = "ord-1";
    q.idem = "use-1";
    cr_assert_eq(loy_run(&q), 200, "%s", body(&q));
    expect_replay(&q, "voucher use");
    cr_assert_eq(sql1("SELECT uses FROM vouchers WHERE code='%s'", canon), 1);
    pt_buf_release(&q.out);
    /* a use without an order id, idempotent by its key alone: the voucher is used up */
    lq_init(&q, PT_LOYOP_VOUCHER_USE);
    q.code = canon;
    q.idem = "use-2";
    cr_assert_eq(loy_run(&q), 409, "%s", body(&q));
    expect_replay(&q, "voucher use refused");
    pt_buf_release(&q.out);

    lq_init(&q, PT_LOYOP_POOL);
    char codes[3 * (PT_CODE_LEN + 1)];
    for (int i = 0; i < 3; i++)
        pt_code_new(codes + i * (PT_CODE_LEN + 1));
    const char *pool = "{\"name\":\"partner\",\"type\":\"percent\",\"value\":10}";
    q.json = pool;
    q.len = strlen(pool);
    q.codes = codes;
    q.n = 3;
    q.idem = "pool-1";
    cr_assert_eq(loy_run(&q), 201, "%s", body(&q));
    expect_replay(&q, "pool");
    cr_assert_eq(sql1("SELECT count(*) FROM vouchers WHERE pool>0"), 3);
    pt_buf_release(&q.out);

    lq_init(&q, PT_LOYOP_IMPORT);
    struct pt_loy_import_row rows[2] = {{.user_id = "im1", .points = 40, .tier = "Silver"},
                                        {.user_id = "u1", .points = 10}};
    q.rows = rows;
    q.n = 2;
    q.idem = "imp-1";
    cr_assert_eq(loy_run(&q), 200, "%s", body(&q));
    expect_replay(&q, "import");
    cr_assert_eq(balance("im1"), 40);
    cr_assert_eq(balance("u1"), 560);
    pt_buf_release(&q.out);

    lq_init(&q, PT_LOYOP_BATCH);
    const char *batch = "{\"operations\":[{\"user_id\":\"u1\",\"points\":5},"
                        "{\"user_id\":\"im1\",\"points\":-10,\"idempotency_key\":\"b-op-1\"}]}";
    q.json = batch;
    q.len = strlen(batch);
    q.idem = "batch-1";
    cr_assert_eq(loy_run(&q), 200, "%s", body(&q));
    expect_replay(&q, "batch");
    cr_assert_eq(balance("u1"), 565);
    cr_assert_eq(balance("im1"), 30);
    pt_buf_release(&q.out);
    /* the inner key on its own: the entry exists, nothing more is taken */
    lq_init(&q, PT_LOYOP_BATCH);
    const char *b2 = "{\"operations\":[{\"user_id\":\"im1\",\"points\":-10,"
                     "\"idempotency_key\":\"b-op-1\"}]}";
    q.json = b2;
    q.len = strlen(b2);
    cr_assert_eq(loy_run(&q), 200, "%s", body(&q));
    cr_assert(strstr(body(&q), "\"duplicate\":true"), "%s", body(&q));
    cr_assert_eq(balance("im1"), 30);
    pt_buf_release(&q.out);
}

Test(loyalty, a_refused_voucher_use_records_nothing)
{
    set_program("{}");
    cr_assert_eq(points("u1", 100, PT_LOY_EARN, NULL), 404);
    cr_assert_eq(enrol("u1"), 201);
    cr_assert_eq(points("u1", 100, PT_LOY_EARN, NULL), 201);
    int64_t r = new_reward("{\"name\":\"Mug\",\"cost\":10,\"voucher\":{\"type\":\"amount\","
                           "\"value\":500,\"max_uses\":1}}");
    struct pt_loy_req q;
    lq_init(&q, PT_LOYOP_REDEEM);
    q.user_id = "u1";
    q.id = r;
    cr_assert_eq(loy_run(&q), 201, "%s", body(&q));
    json_t *o = json_loads(body(&q), 0, NULL);
    const char *printed = json_string_value(json_object_get(json_object_get(o, "voucher"), "code"));
    char canon[PT_CODE_LEN + 1];
    cr_assert_eq(pt_code_normalize(printed, strlen(printed), NULL, canon, NULL), 0);
    json_decref(o);
    pt_buf_release(&q.out);
    lq_init(&q, PT_LOYOP_VOUCHER_USE);
    q.code = canon;
    q.order_id = "A";
    cr_assert_eq(loy_run(&q), 200, "%s", body(&q));
    cr_assert_eq(loy_run(&q), 200, "%s", body(&q)); /* the same use again: still that use */
    cr_assert(strstr(body(&q), "\"duplicate\":true"), "%s", body(&q));
    q.order_id = "B"; /* another order: used up */
    cr_assert_eq(loy_run(&q), 409, "%s", body(&q));
    q.order_id = NULL;
    q.idem = "x";
    cr_assert_eq(loy_run(&q), 409, "%s", body(&q));
    pt_buf_release(&q.out);
    cr_assert_eq(sql1("SELECT uses FROM vouchers WHERE code='%s'", canon), 1,
                 "a refused use must not count as a use");
    cr_assert_eq(sql1("SELECT count(*) FROM voucher_uses WHERE code='%s'", canon), 1,
                 "a refused use must not be recorded");
}

/* ---- two threads, one key ---- */

struct twin {
    struct pt_loy_req q;
    int rc;
};

static void *twin_main(void *arg)
{
    struct twin *t = arg;
    struct pt_job j = {.kind = PT_JOB_LOYALTY, .shop = SHOP, .loy = &t->q};
    t->rc = pt_engine_run(G, &j);
    if (t->rc == 0)
        t->rc = j.rc;
    return NULL;
}

/* q run at once on two threads: one effect, the same answer twice. */
static int run_twice_at_once(const struct pt_loy_req *q, char *body_out, size_t cap)
{
    struct twin t[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        t[i].q = *q;
        pt_buf_init(&t[i].q.out);
        req_hash(&t[i].q);
        cr_assert_eq(pthread_create(&th[i], NULL, twin_main, &t[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(t[0].rc, 0);
    cr_assert_eq(t[1].rc, 0);
    cr_assert_eq(t[0].q.replayed + t[1].q.replayed, 1, "exactly one is the replay");
    cr_assert_eq(t[0].q.status, t[1].q.status);
    cr_assert_str_eq(body(&t[0].q), body(&t[1].q));
    snprintf(body_out, cap, "%s", body(&t[0].q));
    int st = t[0].q.status;
    pt_buf_release(&t[0].q.out);
    pt_buf_release(&t[1].q.out);
    return st;
}

Test(loyalty, concurrent_duplicates_on_two_threads)
{
    set_program("{}");
    cr_assert_eq(enrol("u1"), 201);
    int64_t r = new_reward("{\"name\":\"Mug\",\"cost\":10,\"stock\":100,\"voucher\":"
                           "{\"type\":\"percent\",\"value\":5}}");
    char b[4096];
    int64_t bal = 0, redeemed = 0;
    for (int i = 0; i < 40; i++) {
        char key[32];
        snprintf(key, sizeof key, "tw%d", i);
        struct pt_loy_req q;
        memset(&q, 0, sizeof q);
        q.idem = key;
        q.user_id = "u1";
        if (i % 2 == 0) {
            q.op = PT_LOYOP_POINTS;
            q.points = 25;
            q.kind = PT_LOY_EARN;
            cr_assert_eq(run_twice_at_once(&q, b, sizeof b), 201, "%s", b);
            bal += 25;
        } else {
            q.op = PT_LOYOP_REDEEM;
            q.id = r;
            cr_assert_eq(run_twice_at_once(&q, b, sizeof b), 201, "%s", b);
            bal -= 10;
            redeemed++;
        }
        cr_assert_eq(balance("u1"), bal, "step %d", i);
        cr_assert_eq(sql1("SELECT count(*) FROM loy_redemptions"), redeemed);
        cr_assert_eq(sql1("SELECT stock FROM loy_rewards WHERE id=%lld", (long long)r),
                     100 - redeemed);
    }
}

/* ======================= the random sequence ======================= */

#define NU 40
#define MAXORD 4096
#define MAXHIST 8192
#define NREW 4

static const char *const CATS[] = {"books", "toys", "gift", "garden"};
static const char *const EVENTS[] = {"Review Written", "Newsletter Signup", "Photo Upload",
                                     "Product Viewed"};

struct pord {
    char oid[16];
    int u;
};

struct hist {
    int op, u, kind;
    int64_t id, points;
    char idem[24];
    uint8_t hash[16];
    int status;
    char *body;
    int64_t t;
};

struct prop {
    struct pt_rng rng;
    int allow_debt;
    int late;      /* events stamped up to 3 hours before NOW, out of order */
    int nu;        /* customers in play (<= NU) */
    int64_t start; /* the programme's start */
    struct pt_loy_program P;
    char users[NU][16];
    int orders[NU];
    struct pord ord[MAXORD];
    size_t nord;
    int64_t reward[NREW], stock0[NREW], cost[NREW], limit[NREW];
    struct hist h[MAXHIST];
    size_t nh;
    int64_t ok_redeems; /* 201 answers to REDEEM, not replayed */
    int64_t checked;    /* entries up to this id have been checked */
    unsigned keys;
    int step;
};

static struct prop S;

static const char *uid(int u)
{
    return S.users[u];
}

/* A customer's capped earnings (purchases, behaviour) on the UTC day of t. */
static int64_t day_used(int64_t c, int64_t t, const char *except_idem)
{
    int64_t d0 = pt_floor_div(t, DAY) * DAY;
    return sql1("SELECT coalesce(sum(points),0) FROM loy_entries WHERE customer=%lld AND kind=1 "
                "AND (reason='purchase' OR reason LIKE 'event:%%') AND t>=%lld AND t<%lld AND "
                "idem<>'%s'",
                (long long)c, (long long)d0, (long long)(d0 + DAY), except_idem);
}

static int64_t day_room(int64_t c, int64_t t, const char *except_idem)
{
    if (S.P.max_per_day <= 0)
        return INT64_MAX;
    int64_t r = S.P.max_per_day - day_used(c, t, except_idem);
    return r > 0 ? r : 0;
}

/* The ledger's own rules over every entry (slow: every so often). */
static void check_ledger_full(int step)
{
    cr_assert_eq(sql1("SELECT count(*) FROM loy_entries WHERE customer NOT IN (SELECT customer "
                      "FROM loy_members)"),
                 0, "step %d: entries of non-members", step);
    /* idempotency keys unique */
    cr_assert_eq(sql1("SELECT count(*) FROM (SELECT 1 FROM loy_entries GROUP BY shop, idem HAVING "
                      "count(*)>1)"),
                 0, "step %d: two entries share a key", step);
    /* caps */
    cr_assert_eq(sql1("SELECT count(*) FROM loy_entries WHERE reason='purchase' AND points>%lld",
                      (long long)S.P.max_per_order),
                 0, "step %d: over max_per_order", step);
    cr_assert_eq(sql1("SELECT count(*) FROM (SELECT 1 FROM loy_entries WHERE kind=1 AND "
                      "(reason='purchase' OR reason LIKE 'event:%%') GROUP BY customer, t/86400 "
                      "HAVING sum(points)>%lld)",
                      (long long)S.P.max_per_day),
                 0, "step %d: over max_per_day", step);
    for (size_t i = 0; i < S.P.nevents; i++) {
        const struct pt_loy_event_rule *r = &S.P.events[i];
        if (r->max_total > 0)
            cr_assert_eq(sql1("SELECT count(*) FROM (SELECT 1 FROM loy_entries WHERE reason="
                              "'event:%s' GROUP BY customer HAVING count(*)>%lld)",
                              r->name, (long long)r->max_total),
                         0, "step %d: %s over max_total", step, r->name);
        if (r->max_per_day > 0)
            cr_assert_eq(sql1("SELECT count(*) FROM (SELECT 1 FROM loy_entries WHERE reason="
                              "'event:%s' GROUP BY customer, t/86400 HAVING count(*)>%lld)",
                              r->name, (long long)r->max_per_day),
                         0, "step %d: %s over max_per_day", step, r->name);
    }
    /* reversals never exceed what the order earned */
    cr_assert_eq(sql1("SELECT count(*) FROM (SELECT ref FROM loy_entries WHERE reason IN "
                      "('purchase','refund') GROUP BY ref HAVING -sum(CASE WHEN kind=5 THEN "
                      "points ELSE 0 END) > sum(CASE WHEN kind=1 THEN points ELSE 0 END))"),
                 0, "step %d: an order reversed beyond its points", step);
    /* every refunded amount of an order that earned points is dealt with by an entry */
    cr_assert_eq(sql1("SELECT count(*) FROM (SELECT ref, sum(CASE WHEN reason='refund' THEN "
                      "amount ELSE 0 END) ra, max(reason='purchase') hp FROM loy_entries WHERE "
                      "reason IN ('purchase','refund') GROUP BY ref) x JOIN orders o ON "
                      "o.shop=%lld AND o.order_id=x.ref WHERE x.hp AND o.refunded<>x.ra",
                      (long long)SHOP),
                 0, "step %d: refunded money without its refund entries", step);
    /* an expiry takes from one earlier lot, no more than it had, when it was due */
    cr_assert_eq(sql1("SELECT count(*) FROM loy_entries x JOIN loy_entries l ON "
                      "l.id=CAST(x.ref AS INTEGER) WHERE x.kind=3 AND (l.customer<>x.customer OR "
                      "l.points<=0 OR l.expires<>x.t OR x.t>%lld OR -x.points>l.points)",
                      (long long)NOW),
                 0, "step %d: a bad expiry entry", step);
    cr_assert_eq(sql1("SELECT count(*) FROM (SELECT ref FROM loy_entries WHERE kind=3 GROUP BY "
                      "ref HAVING count(*)>1)"),
                 0, "step %d: a lot expired twice", step);
    S.checked = sql1("SELECT coalesce(max(id),0) FROM loy_entries");
}

/* The same rules for the entries written since the last check. */
static void check_new_entries(int step)
{
    sqlite3_stmt *st;
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT id,customer,kind,points,t,reason,coalesce(ref,''),idem FROM loy_entries "
             "WHERE id>%lld ORDER BY id",
             (long long)S.checked);
    cr_assert_eq(sqlite3_prepare_v2(db(), sql, -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0), c = sqlite3_column_int64(st, 1);
        int kind = sqlite3_column_int(st, 2);
        int64_t pts = sqlite3_column_int64(st, 3), t = sqlite3_column_int64(st, 4);
        char reason[160], ref[160], idem[300];
        snprintf(reason, sizeof reason, "%s", (const char *)sqlite3_column_text(st, 5));
        snprintf(ref, sizeof ref, "%s", (const char *)sqlite3_column_text(st, 6));
        snprintf(idem, sizeof idem, "%s", (const char *)sqlite3_column_text(st, 7));
        S.checked = id;
        cr_assert_eq(sql1("SELECT count(*) FROM loy_members WHERE customer=%lld", (long long)c), 1,
                     "step %d: entry %lld of a non-member", step, (long long)id);
        cr_assert_eq(sql1("SELECT count(*) FROM loy_entries WHERE shop=%lld AND idem='%s'",
                          (long long)SHOP, idem),
                     1, "step %d: key %s twice", step, idem);
        int capped = strcmp(reason, "purchase") == 0 || strncmp(reason, "event:", 6) == 0;
        if (kind == PT_LOY_EARN && capped) {
            int64_t d0 = pt_floor_div(t, DAY) * DAY;
            int64_t day = sql1("SELECT sum(points) FROM loy_entries WHERE customer=%lld AND kind=1 "
                               "AND (reason='purchase' OR reason LIKE 'event:%%') AND t>=%lld AND "
                               "t<%lld",
                               (long long)c, (long long)d0, (long long)(d0 + DAY));
            cr_assert_leq(day, S.P.max_per_day, "step %d: entry %lld: %lld points on its day",
                          step, (long long)id, (long long)day);
        }
        if (strcmp(reason, "purchase") == 0)
            cr_assert_leq(pts, S.P.max_per_order, "step %d: entry %lld", step, (long long)id);
        const struct pt_loy_event_rule *r =
            strncmp(reason, "event:", 6) == 0 ? pt_loy_event_rule(&S.P, reason + 6) : NULL;
        if (r && r->max_total > 0)
            cr_assert_leq(sql1("SELECT count(*) FROM loy_entries WHERE customer=%lld AND "
                               "reason='%s'",
                               (long long)c, reason),
                          r->max_total, "step %d: %s over max_total", step, reason);
        if (r && r->max_per_day > 0) {
            int64_t d0 = pt_floor_div(t, DAY) * DAY;
            cr_assert_leq(sql1("SELECT count(*) FROM loy_entries WHERE customer=%lld AND "
                               "reason='%s' AND t>=%lld AND t<%lld",
                               (long long)c, reason, (long long)d0, (long long)(d0 + DAY)),
                          r->max_per_day, "step %d: %s over max_per_day", step, reason);
        }
        if (kind == PT_LOY_REVERSE) {
            int64_t earned = sql1("SELECT coalesce(sum(points),0) FROM loy_entries WHERE shop=%lld "
                                  "AND ref='%s' AND reason='purchase'",
                                  (long long)SHOP, ref);
            int64_t back = -sql1("SELECT coalesce(sum(points),0) FROM loy_entries WHERE shop=%lld "
                                 "AND ref='%s' AND reason='refund'",
                                 (long long)SHOP, ref);
            cr_assert_leq(back, earned, "step %d: order %s reversed beyond its points", step, ref);
            cr_assert_leq(pts, 0, "step %d: a positive reversal", step);
        }
        if (kind == PT_LOY_EXPIRE) {
            int64_t lot = strtoll(ref, NULL, 10);
            cr_assert_eq(sql1("SELECT count(*) FROM loy_entries WHERE id=%lld AND customer=%lld AND "
                              "points>0 AND points>=%lld AND expires=%lld AND expires<=%lld",
                              (long long)lot, (long long)c, (long long)-pts, (long long)t,
                              (long long)NOW),
                         1, "step %d: expiry %lld of lot %s is wrong:%s", step, (long long)id, ref,
                         ledger(c));
            cr_assert_eq(sql1("SELECT count(*) FROM loy_entries WHERE shop=%lld AND kind=3 AND "
                              "ref='%s'",
                              (long long)SHOP, ref),
                         1, "step %d: lot %s expired twice", step, ref);
        }
    }
    sqlite3_finalize(st);
}

/* The invariants, reading the database on its own connection. */
static void check_all(int full)
{
    int step = S.step;
    /* every member: the view's balance is the ledger's sum */
    sqlite3_stmt *st;
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT m.customer, c.ext_id, (SELECT coalesce(sum(points),0) FROM loy_entries e "
             "WHERE e.customer=m.customer) FROM loy_members m JOIN customers c ON c.id=m.customer "
             "WHERE m.shop=%lld",
             (long long)SHOP);
    cr_assert_eq(sqlite3_prepare_v2(db(), sql, -1, &st, NULL), SQLITE_OK, "%s",
                 sqlite3_errmsg(db()));
    int members = 0, is_member[NU] = {0};
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *u = (const char *)sqlite3_column_text(st, 1);
        int k = atoi(u + 1);
        cr_assert(u[0] == 'c' && k >= 0 && k < NU, "step %d: member %s", step, u);
        is_member[k] = 1;
        int64_t sum = sqlite3_column_int64(st, 2);
        int64_t b = balance(u);
        cr_assert_eq(b, sum, "step %d: %s: view %lld, ledger %lld", step, u, (long long)b,
                     (long long)sum);
        if (!S.allow_debt)
            cr_assert_geq(b, 0, "step %d: %s: balance %lld without debt", step, u, (long long)b);
        members++;
    }
    sqlite3_finalize(st);
    /* and every customer the view knows as a member is one in the store */
    for (int u = 0; u < NU; u++)
        if (!is_member[u])
            cr_assert_eq(balance(uid(u)), NOT_MEMBER, "step %d: %s is a member in memory only",
                         step, uid(u));
    (void)members;
    /* rewards: stock never negative, stock + redemptions = initial stock */
    for (int r = 0; r < NREW; r++) {
        int64_t stock = sql1("SELECT stock FROM loy_rewards WHERE id=%lld", (long long)S.reward[r]);
        int64_t n = sql1("SELECT count(*) FROM loy_redemptions WHERE reward=%lld",
                         (long long)S.reward[r]);
        if (S.stock0[r] >= 0) {
            cr_assert_geq(stock, 0, "step %d: reward %d stock %lld", step, r, (long long)stock);
            cr_assert_eq(stock + n, S.stock0[r], "step %d: reward %d: stock %lld + %lld redeemed",
                         step, r, (long long)stock, (long long)n);
        }
        if (S.limit[r] > 0)
            cr_assert_eq(sql1("SELECT count(*) FROM (SELECT customer FROM loy_redemptions WHERE "
                              "reward=%lld GROUP BY customer HAVING count(*)>%lld)",
                              (long long)S.reward[r], (long long)S.limit[r]),
                         0, "step %d: reward %d over its per-member limit", step, r);
    }
    /* vouchers of rewards and redemptions, one to one */
    cr_assert_eq(sql1("SELECT count(*) FROM loy_redemptions r WHERE NOT EXISTS (SELECT 1 FROM "
                      "vouchers v WHERE v.code=r.voucher AND v.pool=0)"),
                 0, "step %d: a redemption without its voucher", step);
    cr_assert_eq(sql1("SELECT count(DISTINCT voucher) FROM loy_redemptions"),
                 sql1("SELECT count(*) FROM loy_redemptions"),
                 "step %d: two redemptions share a voucher", step);
    cr_assert_eq(sql1("SELECT count(*) FROM vouchers WHERE pool=0"),
                 sql1("SELECT count(*) FROM loy_redemptions"),
                 "step %d: a reward voucher without its redemption", step);
    cr_assert_eq(sql1("SELECT count(*) FROM loy_redemptions"), S.ok_redeems,
                 "step %d: redemptions vs 201 answers", step);
    cr_assert_eq(sql1("SELECT count(*) FROM loy_redemptions r LEFT JOIN loy_entries e ON "
                      "e.id=r.entry WHERE e.id IS NULL OR e.kind<>2 OR e.customer<>r.customer"),
                 0, "step %d: a redemption without its ledger entry", step);
    cr_assert_eq(sql1("SELECT count(*) FROM loy_entries WHERE kind=2"), S.ok_redeems,
                 "step %d: redeem entries vs redemptions", step);
    if (full)
        check_ledger_full(step);
    else
        check_new_entries(step);
}

/* After a tick at NOW: nothing due is left. */
static void check_after_tick(void)
{
    const char *now = iso(NOW);
    for (int u = 0; u < NU; u++) {
        json_t *v = view(uid(u));
        if (v == NULL)
            continue;
        json_t *next = json_object_get(json_object_get(v, "expiring"), "next");
        if (json_is_object(next))
            cr_assert_gt(strcmp(json_string_value(json_object_get(next, "on")), now), 0,
                         "step %d: %s: a lot due %s still there at %s", S.step, uid(u),
                         json_string_value(json_object_get(next, "on")), now);
        json_t *rv = json_object_get(json_object_get(v, "tier"), "review_on");
        if (json_is_string(rv))
            cr_assert_gt(strcmp(json_string_value(rv), now), 0,
                         "step %d: %s: tier review %s not done at %s", S.step, uid(u),
                         json_string_value(rv), now);
        json_decref(v);
    }
    cr_assert_eq(sql1("SELECT count(*) FROM loy_referrals WHERE state=0 AND due<=%lld",
                      (long long)NOW),
                 0, "step %d: a referral due but not settled", S.step);
}

/* ---- steps ---- */

/* When an event happened: now, or (late) up to 3 hours before, not before
 * the programme started. */
static int64_t ev_time(void)
{
    if (!S.late)
        return NOW;
    int64_t t = NOW - (int64_t)pt_rng_below(&S.rng, 3 * 3600);
    return t < S.start ? S.start : t;
}

static void p_order(int i)
{
    int u = (int)pt_rng_below(&S.rng, (uint64_t)S.nu);
    const char *user = uid(u);
    char prods[1024] = "[", rev[32], extra[128] = "";
    int nl = 1 + (int)pt_rng_below(&S.rng, 3);
    int64_t sum = 0;
    for (int k = 0; k < nl; k++) {
        int64_t price = 100 + (int64_t)pt_rng_below(&S.rng, 15000);
        int64_t qty = 1 + (int64_t)pt_rng_below(&S.rng, 3);
        sum += price * qty;
        size_t n = strlen(prods);
        snprintf(prods + n, sizeof prods - n,
                 "%s{'product_id':'p%u','category':'%s','price':%lld.%02lld,'quantity':%lld}",
                 k ? "," : "", (unsigned)pt_rng_below(&S.rng, 50),
                 CATS[pt_rng_below(&S.rng, 4)], (long long)(price / 100), (long long)(price % 100),
                 (long long)qty);
    }
    strcat(prods, "]");
    int64_t amount = sum - (int64_t)pt_rng_below(&S.rng, (uint64_t)(sum / 10 + 1));
    snprintf(rev, sizeof rev, "%lld.%02lld", (long long)(amount / 100), (long long)(amount % 100));
    /* a first order may carry someone's referral code (or the customer's own) */
    if (S.orders[u] == 0 && pt_rng_below(&S.rng, 3) == 0) {
        int r = pt_rng_below(&S.rng, 5) == 0 ? u : (int)pt_rng_below(&S.rng, (uint64_t)S.nu);
        json_t *v = view(uid(r));
        if (v) {
            snprintf(extra, sizeof extra, "'referral_code':'%s',",
                     json_string_value(
                         json_object_get(json_object_get(v, "referral"), "code")));
            json_decref(v);
        }
    }
    /* what it should earn: the tier before it, the caps */
    char tb[64];
    const char *tn = tier_of(user, tb, sizeof tb);
    int tier = -1;
    for (size_t k = 0; tn && k < S.P.ntiers; k++)
        if (strcmp(S.P.tiers[k].name, tn) == 0)
            tier = (int)k;
    char oid[16];
    snprintf(oid, sizeof oid, "o%d", i);
    int64_t t = ev_time();
    order_t(user, oid, t, rev, prods, extra);
    S.orders[u]++;
    if (S.nord < MAXORD) {
        snprintf(S.ord[S.nord].oid, sizeof S.ord[S.nord].oid, "%s", oid);
        S.ord[S.nord++].u = u;
    }
    int64_t pts = pt_loy_order_points(&S.P, &B.ev[0], tier);
    if (S.P.max_per_order > 0 && pts > S.P.max_per_order)
        pts = S.P.max_per_order;
    char idem[32];
    snprintf(idem, sizeof idem, "order:%s", oid);
    int64_t room = day_room(cust(user), t, idem);
    if (pts > room)
        pts = room;
    int64_t got = sql1("SELECT coalesce(sum(points),0) FROM loy_entries WHERE shop=%lld AND idem='%s'", (long long)SHOP, idem);
    cr_assert_eq(got, pts,
                 "step %d: order %s of %s at %lld (%s, tier %d): %lld points, expected %lld; "
                 "ledger:%s",
                 S.step, oid, user, (long long)t, rev, tier, (long long)got, (long long)pts,
                 ledger(cust(user)));
}

static void p_refund(void)
{
    if (S.nord == 0)
        return;
    struct pord *o = &S.ord[pt_rng_below(&S.rng, S.nord)];
    int64_t amount = sql1("SELECT amount FROM orders WHERE shop=%lld AND order_id='%s'",
                          (long long)SHOP, o->oid);
    int64_t refunded = sql1("SELECT refunded FROM orders WHERE shop=%lld AND order_id='%s'",
                            (long long)SHOP, o->oid);
    if (refunded >= amount)
        return;
    int64_t earned = sql1("SELECT coalesce(sum(points),0) FROM loy_entries WHERE shop=%lld AND "
                          "ref='%s' AND reason='purchase'",
                          (long long)SHOP, o->oid);
    int64_t rev0 = -sql1("SELECT coalesce(sum(points),0) FROM loy_entries WHERE shop=%lld AND "
                         "ref='%s' AND reason='refund'",
                         (long long)SHOP, o->oid);
    int64_t b0 = balance(uid(o->u));
    int64_t part = 0;
    if (pt_rng_below(&S.rng, 2)) {
        part = 1 + (int64_t)pt_rng_below(&S.rng, (uint64_t)(amount - refunded));
        char rev[32];
        snprintf(rev, sizeof rev, "%lld.%02lld", (long long)(part / 100), (long long)(part % 100));
        refund_t(uid(o->u), o->oid, NOW, rev);
    } else {
        refund_t(uid(o->u), o->oid, NOW, NULL);
        part = amount - refunded;
    }
    int64_t now_ref = sql1("SELECT refunded FROM orders WHERE shop=%lld AND order_id='%s'",
                            (long long)SHOP, o->oid);
    cr_assert_eq(now_ref, refunded + part, "step %d: refund of %s", S.step, o->oid);
    if (earned == 0 || b0 == NOT_MEMBER)
        return;
    /* this refund takes back the earned points' share of its own money */
    int64_t share1 = now_ref >= amount ? earned : (int64_t)((__int128)earned * now_ref / amount);
    int64_t share0 = refunded >= amount ? earned : (int64_t)((__int128)earned * refunded / amount);
    int64_t delta = share1 - share0;
    if (!S.allow_debt)
        delta = delta < b0 ? delta : b0 > 0 ? b0 : 0;
    if (delta < 0)
        delta = 0;
    int64_t rev1 = -sql1("SELECT coalesce(sum(points),0) FROM loy_entries WHERE shop=%lld AND "
                         "ref='%s' AND reason='refund'",
                         (long long)SHOP, o->oid);
    cr_assert_eq(rev1 - rev0, delta,
                 "step %d: refund of %lld of %s (%lld/%lld refunded, %lld earned, %lld reversed "
                 "before, balance %lld): reversed %lld, expected %lld; now %lld; ledger:%s",
                 S.step, (long long)part, o->oid, (long long)now_ref, (long long)amount,
                 (long long)earned, (long long)rev0, (long long)b0, (long long)(rev1 - rev0),
                 (long long)delta, (long long)NOW, ledger(cust(uid(o->u))));
    cr_assert_eq(balance(uid(o->u)), b0 - delta, "step %d", S.step);
}

static void p_event(void)
{
    int u = (int)pt_rng_below(&S.rng, (uint64_t)S.nu);
    const char *name = EVENTS[pt_rng_below(&S.rng, 4)];
    int64_t t = ev_time();
    int64_t c = cust(uid(u));
    const struct pt_loy_event_rule *r = pt_loy_event_rule(&S.P, name);
    int64_t expect = 0;
    char idem[32];
    snprintf(idem, sizeof idem, "event:m%u", MSG + 1);
    if (r) {
        int64_t d0 = pt_floor_div(t, DAY) * DAY;
        int64_t total = c ? sql1("SELECT count(*) FROM loy_entries WHERE customer=%lld AND "
                                 "reason='event:%s'",
                                 (long long)c, name)
                          : 0;
        int64_t today = c ? sql1("SELECT count(*) FROM loy_entries WHERE customer=%lld AND "
                                 "reason='event:%s' AND t>=%lld AND t<%lld",
                                 (long long)c, name, (long long)d0, (long long)(d0 + DAY))
                          : 0;
        int64_t room = c ? day_room(c, t, idem) : S.P.max_per_day;
        if ((r->max_total == 0 || total < r->max_total) &&
            (r->max_per_day == 0 || today < r->max_per_day))
            expect = r->points < room ? r->points : room;
    }
    int64_t b0 = balance(uid(u));
    track_t(uid(u), name, t);
    int64_t got = sql1("SELECT coalesce(sum(points),0) FROM loy_entries WHERE shop=%lld AND idem='%s'", (long long)SHOP, idem);
    cr_assert_eq(got, expect, "step %d: %s by %s: %lld points, expected %lld", S.step, name,
                 uid(u), (long long)got, (long long)expect);
    int64_t b1 = balance(uid(u));
    if (b1 == NOT_MEMBER)
        cr_assert(b0 == NOT_MEMBER && got == 0, "step %d", S.step);
    else
        cr_assert_eq(b1, (b0 == NOT_MEMBER ? 0 : b0) + got, "step %d", S.step);
}

static struct hist *remember(const struct pt_loy_req *q, int u)
{
    if (q->idem == NULL || S.nh == MAXHIST)
        return NULL;
    struct hist *h = &S.h[S.nh++];
    *h = (struct hist){.op = q->op, .u = u, .kind = q->kind, .id = q->id, .points = q->points,
                       .status = q->status, .t = NOW};
    snprintf(h->idem, sizeof h->idem, "%s", q->idem);
    memcpy(h->hash, q->hash, 16);
    h->body = strdup(body((struct pt_loy_req *)q));
    return h;
}

/* The request of an operation: manual points or a redemption. */
static void make_req(struct pt_loy_req *q, int op, int u, int64_t pts, int kind, int64_t reward,
                     const char *idem)
{
    lq_init(q, op);
    q->user_id = uid(u);
    q->points = pts;
    q->kind = kind;
    q->id = reward;
    q->idem = idem;
    req_hash(q);
}

/* What a POINTS / REDEEM of member u should answer and do, given the state. */
struct expect {
    int status;
    int64_t delta;
};

static struct expect predict(int op, int u, int64_t pts, int r)
{
    int64_t b = balance(uid(u));
    if (cust(uid(u)) == 0)
        return (struct expect){404, 0};
    if (op == PT_LOYOP_POINTS) {
        int64_t have = b == NOT_MEMBER ? 0 : b;
        if (pts < 0 && have + pts < 0)
            return (struct expect){409, 0};
        return (struct expect){201, pts};
    }
    int64_t stock = sql1("SELECT stock FROM loy_rewards WHERE id=%lld", (long long)S.reward[r]);
    int64_t mine = sql1("SELECT count(*) FROM loy_redemptions WHERE reward=%lld AND customer=%lld",
                        (long long)S.reward[r], (long long)cust(uid(u)));
    if (stock == 0 || b == NOT_MEMBER || b < S.cost[r] || (S.limit[r] > 0 && mine >= S.limit[r]))
        return (struct expect){409, 0};
    return (struct expect){201, -S.cost[r]};
}

/* One POINTS / REDEEM operation, with a key or without; dup = submitted
 * twice at once. Checks the answer and the effect against predict(). */
static void p_op(int op, int dup)
{
    int u = (int)pt_rng_below(&S.rng, (uint64_t)S.nu);
    int r = (int)pt_rng_below(&S.rng, NREW);
    int kind = PT_LOY_EARN;
    int64_t pts = 0;
    if (op == PT_LOYOP_POINTS) {
        if (pt_rng_below(&S.rng, 2)) {
            pts = 1 + (int64_t)pt_rng_below(&S.rng, 200);
        } else {
            kind = PT_LOY_ADJUST;
            pts = pt_rng_below(&S.rng, 4) ? -(1 + (int64_t)pt_rng_below(&S.rng, 150))
                                         : 1 + (int64_t)pt_rng_below(&S.rng, 50);
        }
    }
    char idem[24];
    snprintf(idem, sizeof idem, "k%u", ++S.keys);
    int keyed = dup || pt_rng_below(&S.rng, 4) != 0;
    struct expect ex = predict(op, u, pts, r);
    int64_t b0 = balance(uid(u));
    int64_t n0 = table_rows("loy_entries");
    struct pt_loy_req q[2];
    make_req(&q[0], op, u, pts, kind, S.reward[r], keyed ? idem : NULL);
    if (dup) {
        make_req(&q[1], op, u, pts, kind, S.reward[r], idem);
        struct pt_job j[2];
        for (int k = 0; k < 2; k++) {
            j[k] = (struct pt_job){.kind = PT_JOB_LOYALTY, .shop = SHOP, .loy = &q[k]};
            cr_assert_eq(pt_engine_submit(G, &j[k]), 0);
        }
        /* wait for both: a third job behind them in the queue is done after them */
        struct pt_job w = {.kind = PT_JOB_TICK};
        cr_assert_eq(pt_engine_run(G, &w), 0);
        for (int k = 0; k < 2; k++) {
            for (int spin = 0; !__atomic_load_n(&j[k].finished, __ATOMIC_ACQUIRE); spin++) {
                cr_assert_lt(spin, 100000);
                usleep(100);
            }
            cr_assert_eq(j[k].rc, 0, "%s", j[k].msg);
        }
        cr_assert_eq(q[0].replayed + q[1].replayed, 1, "step %d: concurrent duplicate of %s: "
                     "replayed %d and %d", S.step, idem, q[0].replayed, q[1].replayed);
        cr_assert_eq(q[0].status, q[1].status, "step %d", S.step);
        cr_assert_str_eq(body(&q[0]), body(&q[1]), "step %d", S.step);
        if (q[1].replayed == 0) { /* keep the original answer first */
            struct pt_loy_req t = q[0];
            q[0] = q[1];
            q[1] = t;
        }
        pt_buf_release(&q[1].out);
    } else {
        loy_run_h(&q[0], 1);
        cr_assert_eq(q[0].replayed, 0);
    }
    cr_assert_eq(q[0].status, ex.status, "step %d: op %d by %s (%lld, reward %d, balance %lld): "
                 "%s", S.step, op, uid(u), (long long)pts, r, (long long)b0, body(&q[0]));
    int64_t b1 = balance(uid(u));
    int64_t have0 = b0 == NOT_MEMBER ? 0 : b0;
    if (ex.status == 201)
        cr_assert_eq(b1, have0 + ex.delta, "step %d: %s", S.step, body(&q[0]));
    else
        cr_assert_eq(b1, b0, "step %d", S.step);
    cr_assert_eq(table_rows("loy_entries"), n0 + (ex.status == 201), "step %d: one effect",
                 S.step);
    if (op == PT_LOYOP_REDEEM && q[0].status == 201)
        S.ok_redeems++;
    remember(&q[0], u);
    pt_buf_release(&q[0].out);
}

/* The same request again with the same key, some time later. */
static void p_retry(void)
{
    if (S.nh == 0)
        return;
    struct hist *h = &S.h[pt_rng_below(&S.rng, S.nh)];
    int fresh = NOW - h->t < DAY; /* keys are kept at least a day */
    if (!fresh && h->status != 201)
        return; /* forgotten and refused: it may well succeed now, as a new request */
    struct pt_loy_req q;
    make_req(&q, h->op, h->u, h->points, h->kind, h->id, h->idem);
    cr_assert(memcmp(q.hash, h->hash, 16) == 0);
    int64_t b0 = balance(uid(h->u));
    int64_t n0 = table_rows("loy_entries"), r0 = table_rows("loy_redemptions");
    loy_run_h(&q, 1);
    if (fresh) {
        cr_assert_eq(q.replayed, 1, "step %d: retry of %s (%lld s later): %d %s", S.step, h->idem,
                     (long long)(NOW - h->t), q.status, body(&q));
        cr_assert_eq(q.status, h->status, "step %d", S.step);
        cr_assert_str_eq(body(&q), h->body, "step %d", S.step);
    } else {
        cr_assert(q.status == 200 || q.status == 409, "step %d: late retry of %s: %d %s", S.step,
                  h->idem, q.status, body(&q));
    }
    cr_assert_eq(balance(uid(h->u)), b0, "step %d: the retry of %s changed the balance", S.step,
                 h->idem);
    cr_assert_eq(table_rows("loy_entries"), n0, "step %d", S.step);
    cr_assert_eq(table_rows("loy_redemptions"), r0, "step %d", S.step);
    pt_buf_release(&q.out);
}

static void p_jump(void)
{
    unsigned k = (unsigned)pt_rng_below(&S.rng, 20);
    if (S.late && k < 17)
        NOW += 600 + (int64_t)pt_rng_below(&S.rng, 4 * 3600);
    else if (k < 13)
        NOW += 1800 + (int64_t)pt_rng_below(&S.rng, 30 * 3600);
    else if (k < 19)
        NOW += (2 + (int64_t)pt_rng_below(&S.rng, 40)) * DAY;
    else
        NOW = add_months(NOW, 1 + (int64_t)pt_rng_below(&S.rng, 4));
    cr_assert_eq(pt_engine_tick(G), 0);
    check_after_tick();
}

/* Every member view, the rewards and the report: equal after a restart. */
static void p_restart(void)
{
    char *before[NU];
    struct pt_buf rb, rp;
    for (int u = 0; u < NU; u++) {
        struct pt_buf b;
        pt_buf_init(&b);
        int rc = pt_engine_loy_member(G, SHOP, uid(u), &b);
        before[u] = rc == 0 ? strdup(b.data) : NULL;
        pt_buf_release(&b);
    }
    pt_buf_init(&rb);
    pt_buf_init(&rp);
    cr_assert_eq(pt_engine_loy_rewards(G, SHOP, 0, &rb), 0);
    cr_assert_eq(pt_engine_loy_report(G, SHOP, 100, &rp), 0);
    reopen();
    for (int u = 0; u < NU; u++) {
        struct pt_buf b;
        pt_buf_init(&b);
        int rc = pt_engine_loy_member(G, SHOP, uid(u), &b);
        if (before[u] == NULL)
            cr_assert_eq(rc, PT_ENOTFOUND, "step %d: %s became a member by a restart", S.step,
                         uid(u));
        else
            cr_assert_str_eq(b.data, before[u], "step %d: %s differs after a restart", S.step,
                             uid(u));
        pt_buf_release(&b);
        free(before[u]);
    }
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_engine_loy_rewards(G, SHOP, 0, &b), 0);
    cr_assert_str_eq(b.data, rb.data, "step %d: rewards differ after a restart", S.step);
    pt_buf_reset(&b);
    cr_assert_eq(pt_engine_loy_report(G, SHOP, 100, &b), 0);
    cr_assert_str_eq(b.data, rp.data, "step %d: the report differs after a restart", S.step);
    pt_buf_release(&b);
    pt_buf_release(&rb);
    pt_buf_release(&rp);
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    return s && *s ? strtoull(s, NULL, 10) : dflt;
}

static void random_sequence(int allow_debt, int late, uint64_t seed_default, int steps_default)
{
    memset(&S, 0, sizeof S);
    uint64_t seed = env_u64("LOY_SEED", seed_default);
    int steps = (int)env_u64("LOY_STEPS", (uint64_t)steps_default);
    fprintf(stderr, "loyalty random sequence: allow_debt %d, late events %d, seed %llu, %d steps "
                    "(LOY_SEED=%llu LOY_STEPS=%d to repeat)\n",
            allow_debt, late, (unsigned long long)seed, steps, (unsigned long long)seed, steps);
    pt_rng_seed(&S.rng, seed);
    S.allow_debt = allow_debt;
    S.late = late;
    S.nu = late ? 5 : NU;
    S.start = NOW;
    char *prog = strdup(Q(
        "{'currency':'PLN','earn':{'points_per_unit':1,'rounding':'floor',"
        "'categories':{'books':2,'gift':0,'toys':1.5},'max_per_order':400,'max_per_day':%d,"
        "'events':{'Review Written':{'points':15,'max_per_day':2,'max_total':6},"
        "'Newsletter Signup':{'points':40,'max_total':1},'Photo Upload':{'points':5}}},"
        "'bonuses':{'comeback':{'points':30,'after_days':45},"
        "'intensify':{'points':25,'window_days':30,'factor':2,'period_days':60,"
        "'min_history_days':30}},"
        "'tiers':{'basis':'spend','window_days':365,'review_months':3,'levels':["
        "{'name':'Silver','threshold':40000,'multiplier':1.25},"
        "{'name':'Gold','threshold':150000,'multiplier':1.5}]},"
        "'expiry':{'months':12},'refunds':{'allow_debt':%s},"
        "'referral':{'referrer_points':100,'friend_points':50,'return_window_days':14}}",
        late ? 250 : 600, allow_debt ? "true" : "false"));
    char field[160];
    struct pt_err e;
    cr_assert_eq(pt_loy_program_parse(prog, strlen(prog), &S.P, field, &e), 0, "%s", e.msg);
    set_program(prog);
    free(prog);
    const char *rw[NREW] = {
        "{'name':'Mug','cost':80,'stock':5,'per_member_limit':1,"
        "'voucher':{'type':'amount','value':1000,'currency':'PLN'}}",
        "{'name':'Bag','cost':200,'stock':3,'per_member_limit':2,"
        "'voucher':{'type':'percent','value':10}}",
        "{'name':'Ship','cost':50,'per_member_limit':3,'voucher':{'type':'free_shipping'}}",
        "{'name':'Pen','cost':30,'stock':8,'voucher':{'type':'amount','value':500}}"};
    int64_t st0[NREW] = {5, 3, -1, 8}, cost[NREW] = {80, 200, 50, 30}, lim[NREW] = {1, 2, 3, 0};
    for (int r = 0; r < NREW; r++) {
        S.reward[r] = new_reward(Q("%s", rw[r]));
        S.stock0[r] = st0[r];
        S.cost[r] = cost[r];
        S.limit[r] = lim[r];
    }
    for (int u = 0; u < NU; u++)
        snprintf(S.users[u], sizeof S.users[u], "c%02d", u);
    int restarts = 0, jumps = 0;
    double check_s = 0, t0 = pt_mono_now();
    for (S.step = 0; S.step < steps; S.step++) {
        unsigned k = (unsigned)pt_rng_below(&S.rng, 100);
        if (k < 28)
            p_order(S.step);
        else if (k < 36)
            p_refund();
        else if (k < 48)
            p_event();
        else if (k < 60)
            p_op(PT_LOYOP_POINTS, 0);
        else if (k < 72)
            p_op(PT_LOYOP_REDEEM, 0);
        else if (k < 78)
            p_op(pt_rng_below(&S.rng, 2) ? PT_LOYOP_POINTS : PT_LOYOP_REDEEM, 1);
        else if (k < 86)
            p_retry();
        else if (k < 87) {
            int u = (int)pt_rng_below(&S.rng, (uint64_t)S.nu);
            int was = balance(uid(u)) != NOT_MEMBER;
            cr_assert_eq(enrol(uid(u)), was ? 200 : 201);
        } else if (k < 99) {
            p_jump();
            jumps++;
        } else {
            p_restart();
            restarts++;
        }
        double c0 = pt_mono_now();
        check_all(S.step % 50 == 49 || S.step == steps - 1);
        check_s += pt_mono_now() - c0;
    }
    fprintf(stderr, "  %zu orders, %lld redemptions, %zu keyed requests, %d clock jumps to %s, "
                    "%d restarts, %lld entries; %.1f s, %.1f s of it checking\n",
            S.nord, (long long)S.ok_redeems, S.nh, jumps, iso(NOW), restarts,
            (long long)table_rows("loy_entries"), pt_mono_now() - t0, check_s);
    for (size_t i = 0; i < S.nh; i++)
        free(S.h[i].body);
    pt_loy_program_release(&S.P);
}

Test(loyalty, random_sequence_without_debt)
{
    random_sequence(0, 0, 20270110, 2000);
}

Test(loyalty, random_sequence_with_debt)
{
    random_sequence(1, 0, 20270111, 2000);
}

/* Events arriving up to three hours late (mobile batches): across midnight
 * the caps of the day they happened on must still hold. */
Test(loyalty, random_sequence_with_late_events)
{
    random_sequence(0, 1, 1, 800);
}

/* A "Birthday" rule is awarded by Patron itself on the member's birthday
 * (traits.birthday), once a year; 29 February on 28 February in other years;
 * the birthday survives a restart and follows later identify calls. */
Test(loyalty, birthday_rule_awarded_on_the_birthday_once_a_year)
{
    set_program(Q("{'earn':{'events':{'Birthday':{'points':50}}}}"));
    run(Q("{'type':'identify','userId':'b1','traits':{'birthday':'1990-01-15'}}"));
    run(Q("{'type':'identify','userId':'b2','traits':{'birthday':'--02-29'}}"));
    run(Q("{'type':'identify','userId':'b3','traits':{'birthday':'someday'}}"));
    cr_assert_eq(enrol("b1"), 201);
    cr_assert_eq(enrol("b2"), 201);
    cr_assert_eq(enrol("b3"), 201);
    tick_to(utc(2027, 1, 14, 23, 59, 0));
    cr_expect_eq(balance("b1"), 0, "not yet");
    tick_to(utc(2027, 1, 15, 0, 0, 30));
    cr_expect_eq(balance("b1"), 50, "on the day");
    tick_to(utc(2027, 1, 15, 18, 0, 0));
    cr_expect_eq(balance("b1"), 50, "once");
    reopen(); /* the birthday is loaded again */
    tick_to(utc(2027, 2, 28, 9, 0, 0));
    cr_expect_eq(balance("b2"), 50, "29 February on 28 February in 2027");
    cr_expect_eq(balance("b3"), 0, "no date: nothing");
    cr_expect_eq(sum_reason("b1", "event:Birthday"), 50);
    /* a later identify moves b1's birthday */
    run(Q("{'type':'identify','userId':'b1','traits':{'birthday':'1990-03-01'}}"));
    tick_to(utc(2027, 3, 1, 1, 0, 0));
    cr_expect_eq(balance("b1"), 50, "once a year, even when the date changes");
    tick_to(utc(2028, 2, 28, 1, 0, 0));
    cr_expect_eq(balance("b2"), 50, "2028 has a 29 February");
    tick_to(utc(2028, 2, 29, 1, 0, 0));
    cr_expect_eq(balance("b2"), 100);
    tick_to(utc(2028, 3, 1, 1, 0, 0));
    cr_expect_eq(balance("b1"), 100, "the next year, on the new date");
}
