/*
 * harness_engine.h - shared by test_engine.c and test_engine_jobs.c: an engine
 * G over a fresh temporary data directory with two shops (SHOP, whose API key
 * is KEY, and SHOP2), made by setup() and removed by teardown(); event batches
 * decoded with pt_events_decode and run as jobs; profiles read back.
 *
 * Bodies are written with single quotes (Q() turns every ' into "), so
 * Q("{'userId':'u1'}") is the JSON {"userId":"u1"}. Times are given as days
 * before T0 (setup's now): ago(2.5) is its ISO-8601 text, days_t(2.5) the Unix
 * time. Header-only, static functions: include it in one test file each, and
 * give the suite .init = setup, .fini = teardown. Q(), ago() and the run
 * helpers use static buffers: main thread only.
 */
#ifndef PT_TESTS_HARNESS_ENGINE_H
#define PT_TESTS_HARNESS_ENGINE_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "ingest/events.h"
#include "store/store.h"

#define HARNESS_FN static __attribute__((unused))

#define DAY INT64_C(86400)

static char DIR_[64];
static int64_t SHOP, SHOP2;
static char KEY[96];
static struct pt_engine *G;
static int64_t T0; /* now at setup; timestamps are T0 - days */

HARNESS_FN void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *x;
    char p[512];
    while (d && (x = readdir(d)) != NULL)
        if (strcmp(x->d_name, ".") && strcmp(x->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, x->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

HARNESS_FN void open_engine(size_t queue_events)
{
    struct pt_engine_opts o = {.data_dir = DIR_, .queue_events = queue_events};
    struct pt_err e;
    cr_assert_eq(pt_engine_open(&o, &G, &e), 0, "engine: %s", e.msg);
}

HARNESS_FN void setup(void)
{
    T0 = (int64_t)time(NULL);
    snprintf(DIR_, sizeof DIR_, "/tmp/pt-engine-XXXXXX");
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
    open_engine(0);
}

HARNESS_FN void teardown(void)
{
    pt_engine_close(G);
    G = NULL;
    rm_dir(DIR_);
}

/* printf into one of 16 rotating buffers, then ' -> " (main thread only). */
__attribute__((format(printf, 1, 2))) HARNESS_FN const char *Q(const char *fmt, ...)
{
    static char ring[16][16384];
    static unsigned r;
    char *s = ring[r++ % 16];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s, sizeof ring[0], fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof ring[0]);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    return s;
}

/* ISO-8601 of T0 - days (rotating buffers). */
HARNESS_FN const char *ago(double days)
{
    static char ring[8][32];
    static unsigned r;
    char *s = ring[r++ % 8];
    time_t t = (time_t)(T0 - (int64_t)(days * (double)DAY));
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(s, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return s;
}

/* Decode "ev1,ev2,..." as a batch into b (released first). */
HARNESS_FN void decode(struct pt_evbatch *b, const char *events)
{
    struct pt_everr err;
    pt_evbatch_release(b);
    pt_evbatch_init(b);
    size_t cap = strlen(events) + 16;
    char *body = malloc(cap);
    cr_assert_not_null(body);
    snprintf(body, cap, "{\"batch\":[%s]}", events);
    int rc = pt_events_decode(body, strlen(body), 0, T0, 0, b, NULL, NULL, 0, NULL, &err);
    cr_assert_eq(rc, 0, "decode: %s %s: %s in %s", err.code, err.field, err.message, body);
    free(body);
}

static struct pt_evbatch B;
static uint8_t ST[PT_EV_MAX_BATCH];
static struct pt_job JOB;

/* Run the events in shop; the job (counters, rc) is JOB, outcomes ST. */
HARNESS_FN struct pt_job *run_in(int64_t shop, const char *events)
{
    decode(&B, events);
    memset(&JOB, 0, sizeof JOB);
    memset(ST, 0xee, sizeof ST);
    JOB = (struct pt_job){.kind = PT_JOB_EVENTS, .shop = shop, .batch = &B, .status = ST};
    int rc = pt_engine_run(G, &JOB);
    cr_assert_eq(rc, 0, "run: rc %d %s", rc, JOB.msg);
    return &JOB;
}

HARNESS_FN struct pt_job *run(const char *events)
{
    return run_in(SHOP, events);
}

HARNESS_FN int job(enum pt_job_kind kind, const char *user, const char *anon)
{
    memset(&JOB, 0, sizeof JOB);
    JOB = (struct pt_job){.kind = kind, .shop = SHOP, .user_id = user, .anonymous_id = anon};
    return pt_engine_run(G, &JOB);
}

HARNESS_FN const char *order(const char *user, const char *oid, const char *revenue, double days)
{
    return Q("{'type':'track','userId':'%s','messageId':'m-%s','event':'Order Completed',"
             "'timestamp':'%s','properties':{'order_id':'%s','revenue':%s}}",
             user, oid, ago(days), oid, revenue);
}

static struct pt_profile P;

HARNESS_FN struct pt_profile *prof(const char *id, int anon)
{
    memset(&P, 0x5a, sizeof P);
    int rc = pt_engine_profile(G, SHOP, id, anon, &P);
    cr_assert_eq(rc, 0, "profile %s (anon %d): rc %d", id, anon, rc);
    return &P;
}

HARNESS_FN int64_t days_t(double days)
{
    return T0 - (int64_t)(days * (double)DAY);
}

#endif
