/*
 * fuzz_reward.c - libFuzzer target for the reward definition parser
 * (loyalty/reward.h).
 *
 * The input is parsed as a whole reward, then as an update (partial) of each
 * of two fixed valid rewards (one with every optional value set, one with
 * none). Checks, besides memory safety and leaks:
 *  - a failed parse returns PT_EPARSE, names its field (under 64 bytes, the
 *    start of e->msg, which is "PATH: reason") or, for invalid JSON, has field
 *    "" and a line/column inside the text; a failed whole parse leaves the
 *    reward empty, a failed update leaves it as it was (the same JSON);
 *  - an accepted reward has name and cost and a voucher, and its JSON parses
 *    again, whole, to the same JSON, and, as an update, turns either base
 *    reward into the same reward (it has every key);
 *  - an input accepted whole is refused as an update only when valid_to is
 *    not later than valid_from (one of them taken from the base);
 *  - an accepted update applied a second time changes nothing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loyalty/reward.h"
#include "store/store.h"

#define FIELD 64 /* reward.h: `field` holds at least 64 bytes */

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const k_bases[] = {
    "{\"name\": \"Free coffee\", \"description\": \"A cup of the \\u00e9 blend\", \"cost\": 500,"
    " \"stock\": 10, \"valid_from\": \"2026-01-01T00:00:00Z\", \"valid_to\": "
    "\"2026-12-31T23:59:59+02:00\", \"per_member_limit\": 2, \"min_tier\": \"Gold\","
    " \"voucher\": {\"type\": \"amount\", \"value\": 1000, \"currency\": \"PLN\","
    " \"valid_days\": 30, \"max_uses\": 0}}",
    "{\"name\": \"x\", \"cost\": 1, \"voucher\": {\"type\": \"free_shipping\"}}",
};

static void json_of(const struct pt_loy_reward *r, struct pt_buf *b)
{
    b->len = 0;
    check(pt_loy_reward_json(r, b) == 0);
}

static int same_text(const struct pt_buf *a, const struct pt_buf *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static void failed(const uint8_t *data, size_t size, int rc, const char *field,
                   const struct pt_err *e)
{
    check(rc == PT_EPARSE && e->code == PT_EPARSE);
    check(memchr(field, '\0', FIELD) != NULL);
    check(memchr(e->msg, '\0', sizeof e->msg) != NULL && e->msg[0] != '\0');
    if (e->line != 0) { /* invalid JSON */
        check(field[0] == '\0' && e->column >= 1);
        size_t lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += data[i] == '\n';
        check(e->line <= lines);
        check(strncmp(e->msg, "invalid JSON at line ", 21) == 0);
    } else {
        check(e->column == 0);
        size_t n = strlen(field);
        check(strncmp(e->msg, field, n) == 0);
        if (n > 0 && n < FIELD - 8) /* not cut */
            check(e->msg[n] == ':');
    }
}

static void accepted(const struct pt_loy_reward *r)
{
    check(r->name != NULL && r->name[0] != '\0');
    check(r->cost >= 1 && r->cost <= 1000000000LL);
    check(r->stock >= -1 && r->per_member >= 0);
    check(r->valid_from >= 0 && r->valid_to >= 0);
    check(!r->valid_from || !r->valid_to || r->valid_to > r->valid_from);
    check(r->min_tier == NULL || r->min_tier[0] != '\0');
    check(r->voucher.kind >= PT_VOUCHER_AMOUNT && r->voucher.kind <= PT_VOUCHER_SHIPPING);
    check(r->voucher.max_uses >= 0 && r->voucher.valid_days >= 0 && r->voucher.expires == 0);
}

/* The JSON of an accepted reward parses again, whole, to the same JSON. */
static void round_trip(const struct pt_buf *a)
{
    struct pt_loy_reward q;
    char field[FIELD];
    struct pt_err e;
    int rc = pt_loy_reward_parse(a->data, a->len, 0, &q, field, &e);
    if (rc != 0)
        fprintf(stderr, "canonical form refused: %s\n%s\n", e.msg, a->data);
    check(rc == 0);
    struct pt_buf b;
    pt_buf_init(&b);
    json_of(&q, &b);
    if (!same_text(a, &b))
        fprintf(stderr, "canonical form changed:\n%s\n%s\n", a->data, b.data);
    check(same_text(a, &b));
    pt_loy_reward_release(&q);
    pt_buf_release(&b);
}

static void base(size_t i, struct pt_loy_reward *r)
{
    char field[FIELD];
    struct pt_err e;
    check(pt_loy_reward_parse(k_bases[i], strlen(k_bases[i]), 0, r, field, &e) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *json = (const char *)data;
    char field[FIELD];
    struct pt_err e;
    struct pt_buf a, b;
    pt_buf_init(&a);
    pt_buf_init(&b);

    /* whole */
    struct pt_loy_reward r;
    memset(&r, 0xA5, sizeof r); /* need not be initialised */
    int rc = pt_loy_reward_parse(json, size, 0, &r, field, &e);
    int whole_ok = rc == 0;
    struct pt_buf whole;
    pt_buf_init(&whole);
    if (rc != 0) {
        failed(data, size, rc, field, &e);
        check(r.name == NULL && r.description == NULL && r.min_tier == NULL);
    } else {
        accepted(&r);
        json_of(&r, &whole);
        round_trip(&whole);
        pt_loy_reward_release(&r);
        /* the canonical JSON has every key: as an update it replaces all */
        for (size_t i = 0; i < sizeof k_bases / sizeof k_bases[0]; i++) {
            base(i, &r);
            check(pt_loy_reward_parse(whole.data, whole.len, 1, &r, field, &e) == 0);
            json_of(&r, &a);
            check(same_text(&a, &whole));
            pt_loy_reward_release(&r);
        }
    }

    /* partial, on top of each base */
    for (size_t i = 0; i < sizeof k_bases / sizeof k_bases[0]; i++) {
        base(i, &r);
        json_of(&r, &a);
        rc = pt_loy_reward_parse(json, size, 1, &r, field, &e);
        json_of(&r, &b);
        if (rc != 0) {
            failed(data, size, rc, field, &e);
            check(same_text(&a, &b));
            /* a whole reward is a valid update: only valid_to <= valid_from
             * can come from the base's values */
            check(!whole_ok || strstr(e.msg, "must be later than valid_from") != NULL);
        } else {
            accepted(&r);
            round_trip(&b);
            /* the same update again changes nothing */
            rc = pt_loy_reward_parse(json, size, 1, &r, field, &e);
            check(rc == 0);
            json_of(&r, &a);
            check(same_text(&a, &b));
        }
        pt_loy_reward_release(&r);
    }
    pt_buf_release(&whole);
    pt_buf_release(&a);
    pt_buf_release(&b);
    return 0;
}
