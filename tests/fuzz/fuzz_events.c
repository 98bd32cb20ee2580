/*
 * fuzz_events.c - libFuzzer target for the Segment-spec event decoder
 * (ingest/events.h).
 *
 * Every input is decoded as a /v1/batch body and as the body of each
 * single-event endpoint, with partial off and on. Checks: no crash, no leak,
 * a well-formed error on failure, the promises of events.h on success (at
 * most PT_EV_MAX_BATCH events, each with its json, a user or anonymous id, an
 * alias's previousId, non-negative amounts and prices, limits on strings,
 * products and consent bits, increasing original indexes), partial mode
 * agreeing with strict mode, and each stored event's json decoding again to
 * the same event.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/events.h"

#define NOW INT64_C(1700000000)
#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

struct result {
    struct pt_evbatch b;
    struct pt_everr err, bad[8];
    size_t nbad;
    int orig[PT_EV_MAX_BATCH];
    int rc;
};

static void check_str(const char *s, size_t max)
{
    if (s) {
        size_t n = strlen(s);
        CHECK(n >= 1 && n <= max);
    }
}

static void check_err(const struct pt_everr *e)
{
    CHECK(memchr(e->code, '\0', sizeof e->code) && e->code[0]);
    CHECK(memchr(e->field, '\0', sizeof e->field));
    CHECK(memchr(e->message, '\0', sizeof e->message) && e->message[0]);
}

static void check_event(const struct pt_event *ev)
{
    CHECK(ev->type >= PT_EV_TRACK && ev->type <= PT_EV_GROUP);
    CHECK((unsigned)ev->kind < PT_K_NKINDS);
    CHECK(ev->json != NULL && strlen(ev->json) == ev->json_len && ev->json_len <= PT_EV_MAX_EVENT);
    CHECK(ev->user_id || ev->anonymous_id);
    check_str(ev->user_id, PT_EV_MAX_ID);
    check_str(ev->anonymous_id, PT_EV_MAX_ID);
    check_str(ev->message_id, PT_EV_MAX_ID);
    check_str(ev->previous_id, PT_EV_MAX_ID);
    check_str(ev->order_id, PT_EV_MAX_ID);
    check_str(ev->store_id, PT_EV_MAX_ID);
    check_str(ev->name, PT_EV_MAX_STRING);
    if (ev->type == PT_EV_ALIAS)
        CHECK(ev->previous_id && ev->user_id);
    if (ev->type == PT_EV_TRACK)
        CHECK(ev->name != NULL);
    else
        CHECK(ev->kind == PT_K_CUSTOM && ev->nlines == 0 && !ev->has_amount);
    if (ev->traits)
        CHECK(ev->type == PT_EV_IDENTIFY && ev->traits[0] == '{');
    if (ev->has_amount)
        CHECK(ev->amount >= 0);
    if (ev->kind == PT_K_ORDER_COMPLETED)
        CHECK(ev->has_amount && ev->order_id);
    if (ev->kind == PT_K_ORDER_REFUNDED)
        CHECK(ev->order_id != NULL);
    CHECK(ev->currency[0] == '\0' || strlen(ev->currency) == 3);
    for (int i = 0; ev->currency[0] && i < 3; i++)
        CHECK(ev->currency[i] >= 'A' && ev->currency[i] <= 'Z');
    CHECK(ev->nlines <= PT_EV_MAX_PRODUCTS && (ev->nlines == 0 || ev->lines != NULL));
    for (uint32_t i = 0; i < ev->nlines; i++) {
        const struct pt_evline *l = &ev->lines[i];
        CHECK(l->price >= 0 && l->quantity >= 1 && l->quantity <= 1000000);
        check_str(l->product_id, PT_EV_MAX_ID);
        check_str(l->sku, PT_EV_MAX_ID);
        check_str(l->name, PT_EV_MAX_STRING);
        check_str(l->category, PT_EV_MAX_STRING);
    }
    if (ev->kind == PT_K_PRODUCT_ADDED || ev->kind == PT_K_PRODUCT_REMOVED)
        CHECK(ev->nlines == 1 && (ev->lines[0].product_id || ev->lines[0].sku));
    if (ev->kind == PT_K_CONSENT_CHANGED)
        CHECK(ev->consent_set != 0);
    CHECK((ev->consent_set & ~PT_CONSENT_ALL) == 0 && (ev->consent_val & ~ev->consent_set) == 0);
}

static void decode(const uint8_t *data, size_t size, enum pt_ev_type type, int partial,
                   struct result *r)
{
    pt_evbatch_init(&r->b);
    r->rc = pt_events_decode((const char *)data, size, type, NOW, partial, &r->b, r->orig, r->bad,
                             8, &r->nbad, &r->err);
    if (r->rc != 0) {
        CHECK(r->rc == PT_EPARSE || r->rc == PT_ETOOBIG || r->rc == PT_ENOMEM);
        CHECK((r->rc == PT_ETOOBIG) == (strcmp(r->err.code, "too_large") == 0));
        check_err(&r->err);
        return;
    }
    CHECK(r->err.code[0] == '\0');
    CHECK(r->b.n <= PT_EV_MAX_BATCH && r->b.n + r->nbad <= PT_EV_MAX_BATCH);
    if (type != 0)
        CHECK(r->b.n == 1 && r->nbad == 0 && r->orig[0] == 0);
    if (!partial)
        CHECK(r->nbad == 0);
    for (size_t i = 0; i < r->b.n; i++) {
        check_event(&r->b.ev[i]);
        CHECK(r->orig[i] >= 0 && r->orig[i] < PT_EV_MAX_BATCH);
        if (i)
            CHECK(r->orig[i] > r->orig[i - 1]);
        if (type != 0)
            CHECK(r->b.ev[i].type == type);
    }
    for (size_t i = 0; i < r->nbad && i < 8; i++) {
        check_err(&r->bad[i]);
        CHECK(r->bad[i].index >= 0 && r->bad[i].index < PT_EV_MAX_BATCH);
    }
}

/* The stored json of an event decodes again to the same event. */
static void roundtrip(const struct pt_event *ev)
{
    struct result *r = malloc(sizeof *r);
    CHECK(r != NULL);
    decode((const uint8_t *)ev->json, ev->json_len, ev->type, 0, r);
    CHECK(r->rc == 0);
    const struct pt_event *x = &r->b.ev[0];
    CHECK(x->kind == ev->kind && x->t == ev->t && x->has_amount == ev->has_amount &&
          x->amount == ev->amount && x->nlines == ev->nlines &&
          strcmp(x->currency, ev->currency) == 0 && x->consent_set == ev->consent_set &&
          x->consent_val == ev->consent_val && x->json_len == ev->json_len &&
          memcmp(x->json, ev->json, ev->json_len) == 0);
    CHECK((x->user_id == NULL) == (ev->user_id == NULL));
    CHECK(x->user_id == NULL || strcmp(x->user_id, ev->user_id) == 0);
    for (uint32_t i = 0; i < x->nlines; i++)
        CHECK(x->lines[i].price == ev->lines[i].price &&
              x->lines[i].quantity == ev->lines[i].quantity);
    pt_evbatch_release(&r->b);
    free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct result *strict = malloc(sizeof *strict), *part = malloc(sizeof *part);
    CHECK(strict && part);
    for (int type = 0; type <= PT_EV_GROUP; type++) {
        decode(data, size, (enum pt_ev_type)type, 0, strict);
        decode(data, size, (enum pt_ev_type)type, 1, part);
        if (strict->rc == 0) {
            /* nothing bad: partial mode gives the same events */
            CHECK(part->rc == 0 && part->nbad == 0 && part->b.n == strict->b.n);
            for (size_t i = 0; i < strict->b.n; i++) {
                CHECK(part->orig[i] == strict->orig[i]);
                roundtrip(&strict->b.ev[i]);
            }
        } else if (strict->err.index < 0 || type != 0) {
            /* the request itself is bad (or a single event): partial fails the same way */
            CHECK(part->rc == strict->rc && strcmp(part->err.code, strict->err.code) == 0 &&
                  strcmp(part->err.field, strict->err.field) == 0);
        } else if (strict->rc != PT_ENOMEM) {
            /* one bad event: partial reports it first and keeps the ones before it */
            CHECK(part->rc == 0 && part->nbad >= 1);
            CHECK(part->bad[0].index == strict->err.index);
            CHECK(strcmp(part->bad[0].field, strict->err.field) == 0);
            CHECK(part->b.n >= (size_t)strict->err.index);
        }
        pt_evbatch_release(&strict->b);
        pt_evbatch_release(&part->b);
    }
    free(strict);
    free(part);
    return 0;
}
