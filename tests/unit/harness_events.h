/*
 * harness_events.h - shared by test_events.c and test_events_batch.c: decode a
 * body into the file's batch B (released before each decode and by the
 * suite's fini), expect a success or an exact error (rc, code, field), and
 * build bodies. Header-only, static functions: include it in one test file
 * each, and give the suite .init = setup, .fini = teardown.
 *
 * Bodies are written with single quotes (J() turns every ' into "), so
 * J("{'userId':'u1'}") is the JSON {"userId":"u1"}. Criterion runs each test
 * in its own process, so pt_mem_fail_after and the statics below never leak
 * between tests.
 */
#ifndef PT_TESTS_HARNESS_EVENTS_H
#define PT_TESTS_HARNESS_EVENTS_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/events.h"
#include "util/mem.h"

#define HARNESS_FN static __attribute__((unused))

#define NOW INT64_C(1700000000) /* fills missing timestamps */

static struct pt_evbatch B;
static struct pt_everr E, BAD[4];
static size_t NBAD;
static int ORIG[PT_EV_MAX_BATCH];

HARNESS_FN void setup(void)
{
    pt_evbatch_init(&B);
}

HARNESS_FN void teardown(void)
{
    pt_mem_fail_after(0);
    pt_evbatch_release(&B);
}

/* printf into one of three rotating buffers, then ' -> ". */
__attribute__((format(printf, 1, 2))) HARNESS_FN const char *J(const char *fmt, ...)
{
    static char ring[3][65536];
    static unsigned r;
    char *s = ring[r++ % 3];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s, sizeof ring[0], fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof ring[0], "J(): body too long for the test buffer");
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    return s;
}

/* n copies of ch (static buffer, for long-string limits). */
HARNESS_FN const char *rep(char ch, size_t n)
{
    static char s[40000];
    cr_assert_lt(n, sizeof s);
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

HARNESS_FN int dec_n(const char *body, size_t len, enum pt_ev_type type, int partial)
{
    pt_evbatch_release(&B);
    memset(&E, 0x5a, sizeof E); /* the decoder must fill it */
    NBAD = 777;
    for (size_t i = 0; i < PT_EV_MAX_BATCH; i++)
        ORIG[i] = -1;
    return pt_events_decode(body, len, type, NOW, partial, &B, ORIG, BAD, 4, &NBAD, &E);
}

HARNESS_FN int dec(enum pt_ev_type type, const char *body)
{
    return dec_n(body, strlen(body), type, 0);
}

/* Decode a single event that must be good. */
HARNESS_FN const struct pt_event *ok1(enum pt_ev_type type, const char *body)
{
    int rc = dec(type, body);
    cr_assert_eq(rc, 0, "%s\n  -> rc %d, %s %s: %s", body, rc, E.code, E.field, E.message);
    cr_assert_eq(B.n, 1);
    cr_assert_not_null(B.ev[0].json);
    return &B.ev[0];
}

HARNESS_FN const struct pt_event *track(const char *body)
{
    return ok1(PT_EV_TRACK, body);
}

/* Decode a body that must fail with rc, code and field; the error names the
 * whole request (index -1) unless it is a batch. */
HARNESS_FN void expect_err(enum pt_ev_type type, const char *body, int rc, const char *code,
                           const char *field)
{
    int got = dec(type, body);
    cr_assert_eq(got, rc, "%s\n  -> rc %d (want %d), %s %s: %s", body, got, rc, E.code, E.field,
                 E.message);
    cr_expect_str_eq(E.code, code, "%s: %s", body, E.message);
    cr_expect_str_eq(E.field, field, "%s: %s", body, E.message);
    cr_expect_neq(E.message[0], '\0', "%s: empty message", body);
    if (type != 0)
        cr_expect_eq(E.index, -1, "%s", body);
}

HARNESS_FN void expect_bad(const char *body, const char *code, const char *field)
{
    expect_err(PT_EV_TRACK, body, strcmp(code, "too_large") ? PT_EPARSE : PT_ETOOBIG, code, field);
}

HARNESS_FN void expect_msg(const char *part)
{
    cr_expect(strstr(E.message, part) != NULL, "message \"%s\" lacks \"%s\"", E.message, part);
}

/* A track event of user u1 with this name and these properties (the text
 * between the braces of "properties"), that must be good / must fail. */
HARNESS_FN const struct pt_event *tp(const char *name, const char *props)
{
    return track(J("{'userId':'u1','event':'%s','properties':{%s}}", name, props));
}

HARNESS_FN void tp_bad(const char *name, const char *props, const char *code, const char *field)
{
    expect_bad(J("{'userId':'u1','event':'%s','properties':{%s}}", name, props), code, field);
}

/* The amount of an Order Completed with these extra properties (must have one). */
HARNESS_FN int64_t order_amount(const char *props)
{
    const struct pt_event *ev = tp("Order Completed", J("'order_id':'o1',%s", props));
    cr_assert_eq(ev->kind, PT_K_ORDER_COMPLETED);
    cr_assert(ev->has_amount, "%s: no amount", props);
    return ev->amount;
}

HARNESS_FN void order_bad(const char *props, const char *code, const char *field)
{
    tp_bad("Order Completed", J("'order_id':'o1',%s", props), code, field);
}

#define ORDER(props)                                                                               \
    "{'userId':'u1','event':'Order Completed','properties':{'order_id':'o1'," props "}}"

HARNESS_FN void expect_line(const struct pt_evline *l, const char *product_id, const char *sku,
                            int64_t price, int64_t quantity)
{
    if (product_id)
        cr_expect_str_eq(l->product_id, product_id);
    else
        cr_expect_null(l->product_id);
    if (sku)
        cr_expect_str_eq(l->sku, sku);
    else
        cr_expect_null(l->sku);
    cr_expect_eq(l->price, price);
    cr_expect_eq(l->quantity, quantity);
}

/* {"batch":[ev,ev,...]} with n copies of ev; caller frees. */
HARNESS_FN char *batch_of(size_t n, const char *ev)
{
    size_t m = strlen(ev), cap = 16 + n * (m + 1), k = 0;
    char *s = malloc(cap);
    cr_assert_not_null(s);
    k += (size_t)snprintf(s, cap, "{\"batch\":[");
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(s + k, cap - k, "%s%s", i ? "," : "", ev);
    snprintf(s + k, cap - k, "]}");
    return s;
}

#define TEV "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\"}"

#endif
