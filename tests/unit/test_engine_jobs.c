/* test_engine_jobs.c - how the engine takes jobs (engine/engine.h), through
 * harness_engine.h: a full queue, close draining the queue, the lifetime of a
 * job after pt_engine_run, a failed group rolled back, concurrent submitters,
 * and API keys and tenancy. Timing is made deterministic by holding the
 * database's write lock from a connection of the test (the engine thread then
 * waits in the BEGIN of its next group, within its 10 s busy timeout, and what
 * is submitted meanwhile stays queued) and by done callbacks that hold the
 * thread that runs callbacks until the test releases them. */
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>

#include "engine/engine_int.h" /* the queue, read without the state's lock */
#include "harness_engine.h"

TestSuite(engine_jobs, .init = setup, .fini = teardown);

/* ---- holding the engine ---- */

static sem_t entered, release_, b_done;

/* A done callback that holds the callback thread until release_ is posted. */
static void hold_callbacks(struct pt_job *j, void *ctx)
{
    (void)j, (void)ctx;
    sem_post(&entered);
    sem_wait(&release_);
}

static void post_done(struct pt_job *j, void *ctx)
{
    (void)j, (void)ctx;
    sem_post(&b_done);
}

/* Take the database's write lock; the engine's next group waits for it. */
static sqlite3 *hold_db(void)
{
    char path[128];
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/patron.db", DIR_);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    return db;
}

static void release_db(sqlite3 *db)
{
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
}

/* Jobs and events in the queue, read under the queue's mutex only
 * (pt_engine_stats also takes the state's read lock, which a group waiting
 * for the database holds). */
static size_t queued(size_t *events)
{
    pthread_mutex_lock(&G->mu);
    size_t n = G->q_jobs;
    if (events)
        *events = G->q_events;
    pthread_mutex_unlock(&G->mu);
    return n;
}

/* Until exactly n jobs are queued (0: the engine took every job). */
static void wait_queue(size_t n)
{
    while (queued(NULL) != n)
        usleep(1000);
}

/* ---- queue ---- */

/* Job a is taken and waits for the database, so what is submitted meanwhile
 * stays queued. */
Test(engine_jobs, a_full_queue_refuses_jobs)
{
    pt_engine_close(G);
    open_engine(4);
    sem_init(&entered, 0, 0);
    sem_init(&release_, 0, 0);
    sem_init(&b_done, 0, 0);
    struct pt_evbatch ba, bb, bc;
    uint8_t sa[8], sb[16], sc[8];
    pt_evbatch_init(&ba);
    pt_evbatch_init(&bb);
    pt_evbatch_init(&bc);
    decode(&ba, order("u1", "a", "1", 1));
    char big[16384];
    size_t len = 0;
    for (int i = 0; i < 10; i++) {
        char oid[16];
        snprintf(oid, sizeof oid, "b%d", i);
        len += (size_t)snprintf(big + len, sizeof big - len, "%s%s", i ? "," : "",
                                order("u1", oid, "1", 1));
    }
    decode(&bb, big);
    decode(&bc, order("u1", "c", "1", 1));
    static struct pt_job a, b, c, u; /* static: they outlive the test body */
    a = (struct pt_job){.kind = PT_JOB_EVENTS, .shop = SHOP, .batch = &ba, .status = sa};
    b = (struct pt_job){
        .kind = PT_JOB_EVENTS, .shop = SHOP, .batch = &bb, .status = sb, .done = post_done};
    c = (struct pt_job){.kind = PT_JOB_EVENTS, .shop = SHOP, .batch = &bc, .status = sc};
    u = (struct pt_job){.kind = PT_JOB_UNMERGE, .shop = SHOP, .user_id = "u1"};
    sqlite3 *db = hold_db();
    cr_assert_eq(pt_engine_submit(G, &a), 0);
    wait_queue(0); /* a is taken; its group waits for the database */
    cr_expect_eq(pt_engine_submit(G, &b), 0, "a job over the limit is taken into an empty queue");
    size_t events;
    cr_expect_eq(queued(&events), 1);
    cr_expect_eq(events, 10);
    cr_expect_eq(pt_engine_submit(G, &c), PT_ETOOBIG);
    cr_expect_eq(pt_engine_submit(G, &u), PT_ETOOBIG);
    release_db(db);
    sem_wait(&b_done);
    cr_expect_eq(a.rc, 0);
    cr_expect_eq(b.rc, 0);
    cr_expect_eq(b.accepted, 10);
    cr_expect_eq(pt_engine_run(G, &c), 0, "room again");
    cr_expect_eq(prof("u1", 0)->orders, 12);
    pt_evbatch_release(&ba);
    pt_evbatch_release(&bb);
    pt_evbatch_release(&bc);
}

static int ndone;

static void count_done(struct pt_job *j, void *ctx)
{
    (void)j, (void)ctx;
    ndone++; /* the callback thread only */
}

Test(engine_jobs, close_finishes_queued_jobs)
{
    struct pt_evbatch b[20];
    uint8_t st[20][2];
    struct pt_job jobs[20];
    for (int i = 0; i < 20; i++) {
        char oid[16];
        snprintf(oid, sizeof oid, "o%d", i);
        pt_evbatch_init(&b[i]);
        decode(&b[i], order("u1", oid, "1", 1));
        jobs[i] = (struct pt_job){.kind = PT_JOB_EVENTS,
                                  .shop = SHOP,
                                  .batch = &b[i],
                                  .status = st[i],
                                  .done = count_done};
        cr_assert_eq(pt_engine_submit(G, &jobs[i]), 0);
    }
    pt_engine_close(G);
    cr_expect_eq(ndone, 20);
    for (int i = 0; i < 20; i++) {
        cr_expect_eq(jobs[i].finished, 1);
        cr_expect_eq(jobs[i].rc, 0);
        pt_evbatch_release(&b[i]);
    }
    open_engine(0);
    cr_expect_eq(prof("u1", 0)->orders, 20);
}

/* ---- threads ---- */

enum { NTHREADS = 4, NJOBS = 200 };

/* Each thread: NJOBS jobs of two orders (its own customer, a shared one), an
 * auth now and then (a reader connection per thread). No Criterion asserts
 * off the main thread: the first failure is returned as text. */
static void *submitter(void *arg)
{
    int th = (int)(intptr_t)arg;
    static char fail[NTHREADS][128];
    struct pt_evbatch b;
    struct pt_everr err;
    uint8_t st[2];
    char body[1024];
    pt_evbatch_init(&b);
    for (int k = 0; k < NJOBS && !fail[th][0]; k++) {
        int n = snprintf(body, sizeof body,
                         "{\"batch\":[{\"type\":\"track\",\"userId\":\"t%d\",\"messageId\":"
                         "\"t%d-%d\",\"event\":\"Order Completed\",\"properties\":{\"order_id\":"
                         "\"t%d-%d\",\"revenue\":1}},{\"type\":\"track\",\"userId\":\"shared\","
                         "\"event\":\"Order Completed\",\"properties\":{\"order_id\":\"s%d-%d\","
                         "\"revenue\":2}}]}",
                         th, th, k, th, k, th, k);
        pt_evbatch_release(&b);
        pt_evbatch_init(&b);
        int rc = pt_events_decode(body, (size_t)n, 0, T0, 0, &b, NULL, NULL, 0, NULL, &err);
        /* a job on the stack, gone once run returns (a_job_is_not_touched_after_run_returns) */
        struct pt_job j = {.kind = PT_JOB_EVENTS, .shop = SHOP, .batch = &b, .status = st};
        if (rc == 0)
            rc = pt_engine_run(G, &j);
        int64_t shop = 0;
        if (rc || j.accepted != 2)
            snprintf(fail[th], sizeof fail[th], "job %d: rc %d accepted %zu", k, rc, j.accepted);
        else if (k % 50 == 0 && (pt_engine_auth(G, KEY, strlen(KEY), &shop) || shop != SHOP))
            snprintf(fail[th], sizeof fail[th], "job %d: auth", k);
    }
    pt_evbatch_release(&b);
    return fail[th][0] ? fail[th] : NULL;
}

Test(engine_jobs, concurrent_submitters)
{
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, submitter, (void *)(intptr_t)i), 0);
    for (int i = 0; i < NTHREADS; i++) {
        void *msg;
        pthread_join(t[i], &msg);
        cr_expect_null(msg, "thread %d: %s", i, msg ? (const char *)msg : "");
    }
    for (int i = 0; i < NTHREADS; i++) {
        char me[16];
        snprintf(me, sizeof me, "t%d", i);
        struct pt_profile *p = prof(me, 0);
        cr_expect_eq(p->orders, NJOBS);
        cr_expect_eq(p->revenue, NJOBS * 100);
    }
    struct pt_profile *p = prof("shared", 0);
    cr_expect_eq(p->orders, NTHREADS * NJOBS);
    cr_expect_eq(p->revenue, NTHREADS * NJOBS * 200);
    struct pt_engine_stats st;
    pt_engine_stats(G, &st);
    cr_expect_eq(st.events_accepted, 2 * NTHREADS * NJOBS);
    cr_expect_eq(st.commit_events, 2 * NTHREADS * NJOBS);
    cr_expect_eq(st.events_duplicate, 0);
    cr_expect_eq(st.queue_jobs, 0);
    cr_expect_eq(st.customers, NTHREADS + 1);
    cr_expect_leq(st.commits, NTHREADS * NJOBS);
}

/* ---- keys and shops ---- */

Test(engine_jobs, auth_and_tenancy)
{
    int64_t shop = 0;
    cr_expect_eq(pt_engine_auth(G, KEY, strlen(KEY), &shop), 0);
    cr_expect_eq(shop, SHOP);
    char bad[96];
    memcpy(bad, KEY, sizeof bad);
    bad[40] = bad[40] == 'a' ? 'b' : 'a';
    cr_expect_eq(pt_engine_auth(G, bad, strlen(bad), &shop), PT_ENOTFOUND);
    cr_expect_eq(pt_engine_auth(G, "ptk_x", 5, &shop), PT_ENOTFOUND);
    /* a key rotated by another connection while the engine runs */
    struct pt_store *s;
    struct pt_shop sh;
    char fresh[96];
    cr_assert_eq(pt_store_open(DIR_, PT_STORE_WRITE, &s, NULL), 0);
    struct pt_shop got;
    char kid[24];
    uint8_t h[32];
    cr_assert_eq(pt_api_key_parse(KEY, strlen(KEY), kid, h), 0);
    cr_assert_eq(pt_store_shop_by_key_id(s, kid, &got, NULL), 0);
    cr_assert_eq(pt_store_shop_rotate(s, got.public_id, &sh, fresh, NULL), 0);
    pt_store_close(s);
    cr_expect_eq(pt_engine_auth(G, KEY, strlen(KEY), &shop), PT_ENOTFOUND, "the old key");
    cr_expect_eq(pt_engine_auth(G, fresh, strlen(fresh), &shop), 0, "the new key");
    cr_expect_eq(shop, SHOP);
    /* one shop's customers are invisible to another */
    run(order("u1", "o1", "10", 1));
    cr_expect_eq(pt_engine_profile(G, SHOP2, "u1", 0, &P), PT_ENOTFOUND);
    run_in(SHOP2, order("u1", "o1", "30", 1));
    cr_expect_eq(prof("u1", 0)->revenue, 1000);
    cr_assert_eq(pt_engine_profile(G, SHOP2, "u1", 0, &P), 0);
    cr_expect_eq(P.revenue, 3000);
}

/* ---- job lifetime ---- */

static struct pt_job R;
static int r_touched;

static void must_not_run(struct pt_job *j, void *ctx)
{
    (void)j, (void)ctx;
    r_touched = 1;
}

static void *run_r(void *arg)
{
    (void)arg;
    pt_engine_run(G, &R);
    return NULL;
}

/* engine.h: pt_engine_run queues the job "and waits until done": once it
 * returns, the job is the caller's again (to free, or to reuse: here its
 * `done` is set). The engine must not read it any more. Deterministic: c and
 * R are queued while the engine waits for the database, so they are finished
 * together; c's callback, run first, holds the callback thread until R's
 * caller has returned and reused R. */
Test(engine_jobs, a_job_is_not_touched_after_run_returns)
{
    sem_init(&entered, 0, 0);
    sem_init(&release_, 0, 0);
    static struct pt_job a, c;
    a = (struct pt_job){.kind = PT_JOB_UNMERGE, .shop = SHOP, .user_id = "nobody"};
    c = a;
    c.done = hold_callbacks;
    R = a;
    sqlite3 *db = hold_db();
    cr_assert_eq(pt_engine_submit(G, &a), 0);
    wait_queue(0); /* a is taken and waits for the database */
    cr_assert_eq(pt_engine_submit(G, &c), 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, run_r, NULL), 0);
    wait_queue(2); /* c and R are queued */
    release_db(db);
    sem_wait(&entered);    /* c's callback runs: c and R are finished */
    pthread_join(t, NULL); /* R's pt_engine_run has returned */
    cr_assert_eq(R.rc, PT_ENOTFOUND);
    R.done = must_not_run; /* the caller reuses its job */
    sem_post(&release_);
    cr_assert_eq(job(PT_JOB_UNMERGE, "nobody", NULL), PT_ENOTFOUND); /* c's callbacks are over */
    cr_expect_eq(r_touched, 0, "the engine used R after pt_engine_run(R) had returned");
}

/* ---- a failed group ---- */

/* A row the engine does not know takes the id its next customer gets, so the
 * group's insert fails: every job of the group gets PT_EIO and nothing of the
 * group is left, in the store or in memory. */
Test(engine_jobs, a_failed_group_is_rolled_back)
{
    run(Q("%s,{'type':'track','userId':'u1','event':'Product Added','timestamp':'%s',"
          "'properties':{'sku':'s','price':1}}",
          order("u1", "o1", "10", 2), ago(1)));
    struct pt_store *s;
    cr_assert_eq(pt_store_open(DIR_, PT_STORE_WRITE, &s, NULL), 0);
    struct pt_cust_row intruder = {.id = 2, .shop = SHOP, .ext_id = "intruder", .created = 1};
    cr_assert_eq(pt_store_customer_insert(s, &intruder, NULL), 0);
    pt_store_close(s);
    struct pt_evbatch b1, b2;
    uint8_t s1[4], s2[4];
    pt_evbatch_init(&b1);
    pt_evbatch_init(&b2);
    decode(&b1, Q("%s,{'type':'track','userId':'u1','event':'Product Added','timestamp':'%s',"
                  "'properties':{'sku':'s','price':5}}",
                  order("u1", "o2", "20", 0.5), ago(0.4)));
    decode(&b2, order("u2", "o3", "30", 0.5)); /* u2 would be row 2 */
    static struct pt_job a, j1, j2;            /* static: they outlive the test body */
    a = (struct pt_job){.kind = PT_JOB_EVENTS, .shop = SHOP, .batch = &B, .status = ST};
    decode(&B, order("u1", "o0", "1", 3));
    j1 = (struct pt_job){.kind = PT_JOB_EVENTS, .shop = SHOP, .batch = &b1, .status = s1};
    j2 = (struct pt_job){
        .kind = PT_JOB_EVENTS, .shop = SHOP, .batch = &b2, .status = s2, .done = post_done};
    sem_init(&b_done, 0, 0);
    sqlite3 *db = hold_db();
    cr_assert_eq(pt_engine_submit(G, &a), 0);
    wait_queue(0); /* a waits for the database; j1 and j2 queue up: one group */
    cr_assert_eq(pt_engine_submit(G, &j1), 0);
    cr_assert_eq(pt_engine_submit(G, &j2), 0);
    release_db(db);
    sem_wait(&b_done);
    cr_expect_eq(a.rc, 0);
    cr_expect_eq(j1.rc, PT_EIO);
    cr_expect_eq(j2.rc, PT_EIO);
    cr_expect_eq(j1.accepted, 0);
    struct pt_profile *p = prof("u1", 0);
    cr_expect_eq(p->orders, 2, "o0 and o1 only");
    cr_expect_eq(p->revenue, 1100);
    cr_expect_eq(p->cart_value, 100, "o0 is older than the cart");
    cr_expect_eq(pt_engine_profile(G, SHOP, "u2", 0, &P), PT_ENOTFOUND);
    cr_expect_eq(prof("intruder", 0)->orders, 0, "memory was rebuilt from the store");
    int64_t n = 0;
    cr_expect_eq(pt_store_count(pt_engine_reader(G), "orders", &n, NULL), 0);
    cr_expect_eq(n, 2);
    /* the same jobs again: accepted now (u2 gets the next free row) */
    cr_expect_eq(pt_engine_run(G, &j1), 0);
    j2.done = NULL;
    cr_expect_eq(pt_engine_run(G, &j2), 0);
    cr_expect_eq(j1.accepted, 2);
    cr_expect_eq(prof("u1", 0)->orders, 3);
    cr_expect_eq(prof("u1", 0)->cart_value, 500);
    cr_expect_eq(prof("u2", 0)->orders, 1);
    pt_evbatch_release(&b1);
    pt_evbatch_release(&b2);
}
