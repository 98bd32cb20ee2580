/*
 * fuzz_program.c - libFuzzer target for the loyalty programme parser
 * (loyalty/program.h).
 *
 * Checks, besides memory safety and leaks:
 *  - a failed parse returns PT_EPARSE or PT_ETOOBIG, leaves nothing to free,
 *    and names its field: a syntax error has field "" and a line/column
 *    inside the text, a rule error "PATH: reason" with no position;
 *  - an accepted document's canonical JSON parses again, to the same
 *    canonical JSON;
 *  - on an accepted programme every category, event rule, tier and pilot id
 *    is found by the look-ups, and the points of a few orders are within
 *    0..cap with floor <= round <= ceil <= floor + 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/events.h"
#include "loyalty/program.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void failed(const uint8_t *data, size_t size, int rc, const struct pt_loy_program *p,
                   const char *field, const struct pt_err *e)
{
    check(rc == PT_EPARSE || rc == PT_ETOOBIG);
    check(p->cats == NULL && p->events == NULL && p->tiers == NULL && p->pilot_ids == NULL &&
          p->link == NULL);
    check(strlen(field) < 160);
    if (e->line != 0) { /* a syntax error */
        check(field[0] == '\0' && e->column >= 1);
        size_t lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += data[i] == '\n';
        check(e->line <= lines);
        check(strncmp(e->msg, "invalid JSON at line ", 21) == 0);
    } else if (field[0] != '\0') {
        size_t n = strlen(field);
        check(strncmp(e->msg, field, n) == 0 && e->msg[n] == ':');
    }
}

static void arithmetic(struct pt_loy_program *p)
{
    for (size_t i = 0; i < p->nevents; i++)
        check(pt_loy_event_rule(p, p->events[i].name) == &p->events[i]);
    for (size_t i = 0; i < p->npilot; i++)
        check(pt_loy_pilot_has(p, p->pilot_ids[i]));
    for (size_t i = 0; i < p->ntiers; i++)
        check(pt_loy_tier_for(p, p->tiers[i].threshold) == (int)i);
    struct pt_evline lines[4] = {
        {.category = p->ncats ? p->cats[0].name : "a", .price = 1999, .quantity = 3},
        {.category = p->ncats ? p->cats[p->ncats - 1].name : "b", .price = 5, .quantity = 1},
        {.category = "no such category", .price = 123456, .quantity = 2},
        {.category = NULL, .price = 1, .quantity = 1000000},
    };
    static const int64_t amounts[] = {1, 99, 12345, 1000000000000000LL, INT64_MAX};
    enum pt_loy_round keep = p->rounding;
    for (uint32_t n = 0; n <= 4; n++) {
        for (size_t a = 0; a < sizeof amounts / sizeof amounts[0]; a++) {
            struct pt_event ev;
            memset(&ev, 0, sizeof ev);
            ev.amount = amounts[a];
            ev.lines = n ? lines : NULL;
            ev.nlines = n;
            int tier = p->ntiers ? (int)(a % p->ntiers) : -1;
            int64_t got[3];
            for (int m = 0; m < 3; m++) {
                p->rounding = (enum pt_loy_round)m;
                got[m] = pt_loy_order_points(p, &ev, tier);
                check(got[m] >= 0 && got[m] <= PT_LOY_MAX_POINTS * 1000);
            }
            check(got[0] <= got[1] && got[1] <= got[2] && got[2] <= got[0] + 1);
        }
    }
    p->rounding = keep;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pt_loy_program p;
    char field[160];
    struct pt_err e;
    int rc = pt_loy_program_parse((const char *)data, size, &p, field, &e);
    if (rc != 0) {
        failed(data, size, rc, &p, field, &e);
        return 0;
    }
    struct pt_buf a, b;
    pt_buf_init(&a);
    pt_buf_init(&b);
    check(pt_loy_program_json(&p, &a) == 0);
    struct pt_loy_program q;
    rc = pt_loy_program_parse(a.data, a.len, &q, field, &e);
    if (rc != 0)
        fprintf(stderr, "canonical form refused: %s\n%s\n", e.msg, a.data);
    check(rc == 0);
    check(pt_loy_program_json(&q, &b) == 0);
    check(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    arithmetic(&p);
    pt_loy_program_release(&q);
    pt_loy_program_release(&p);
    pt_buf_release(&a);
    pt_buf_release(&b);
    return 0;
}
