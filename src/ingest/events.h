/*
 * events.h - Segment-spec events decoded from JSON into typed, validated records.
 *
 * Layer: ingest (util + jansson). Never touches state: it turns the bytes of a
 * request body into a struct pt_evbatch or a precise error naming the field
 * ("batch[3].properties.revenue") and the reason.
 *
 * Ownership: a batch owns every string of its events (one arena, freed by
 * pt_evbatch_release). Event strings are NUL-terminated; absent optional
 * strings are NULL. Not thread-safe; one batch is used by one thread at a time.
 *
 * Limits (PT_EV_*): body bytes, events per batch, id/string lengths, products
 * per event, JSON nesting depth. Over a limit: PT_ETOOBIG with the field.
 */
#ifndef PT_INGEST_EVENTS_H
#define PT_INGEST_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define PT_EV_MAX_BODY (1u << 20)    /* bytes of one request body */
#define PT_EV_MAX_BATCH 1000         /* events in one batch */
#define PT_EV_MAX_ID 256             /* bytes of userId, anonymousId, messageId, order_id ... */
#define PT_EV_MAX_STRING 1024        /* bytes of other strings we interpret */
#define PT_EV_MAX_EVENT (32u << 10)  /* bytes of one event as stored */
#define PT_EV_MAX_PRODUCTS 500       /* products[] of one event */
#define PT_EV_MAX_DEPTH 16           /* JSON nesting depth */

enum pt_ev_type { PT_EV_TRACK = 1, PT_EV_IDENTIFY, PT_EV_ALIAS, PT_EV_PAGE, PT_EV_SCREEN, PT_EV_GROUP };

/* What a track event means to a profile. Unknown names are PT_K_CUSTOM. */
enum pt_ev_kind {
    PT_K_CUSTOM = 0,
    PT_K_ORDER_COMPLETED,
    PT_K_ORDER_REFUNDED,
    PT_K_PRODUCT_VIEWED,
    PT_K_PRODUCT_ADDED,
    PT_K_PRODUCT_REMOVED,
    PT_K_CART_VIEWED,
    PT_K_CHECKOUT_STARTED,
    PT_K_STORE_VISITED,
    PT_K_CONSENT_CHANGED,
    PT_K_WISHLIST_ADDED,   /* "Product Added to Wishlist" */
    PT_K_WISHLIST_REMOVED, /* "Product Removed from Wishlist" */
    PT_K_NKINDS
};

/* Consent purposes (bit i = purpose i). */
enum { PT_CONSENT_EMAIL = 1, PT_CONSENT_SMS = 2, PT_CONSENT_PROFILING = 4 };
#define PT_CONSENT_ALL 7

struct pt_evline {
    const char *product_id, *sku, *category, *name;
    int64_t price;    /* minor units per unit */
    int64_t quantity; /* >= 1 (default 1) */
};

struct pt_event {
    enum pt_ev_type type;
    enum pt_ev_kind kind;
    const char *message_id; /* NULL: not given (no deduplication possible) */
    const char *user_id, *anonymous_id, *previous_id;
    const char *name;       /* track: event name; page/screen: name; else NULL */
    int64_t t;              /* event time, Unix seconds UTC (timestamp, else now) */
    const char *order_id;   /* orders and refunds */
    int64_t amount;         /* order revenue / refund / cart value, minor units */
    int has_amount;
    int64_t discount;       /* Order Completed: properties.discount, minor units (0 if none) */
    int discounted;         /* Order Completed: a discount > 0 or a coupon was given */
    char currency[4];       /* ISO-4217 upper case, "" if not given */
    struct pt_evline *lines;
    uint32_t nlines;
    uint8_t consent_set, consent_val; /* consent changes: which purposes, granted bits */
    const char *store_id;   /* Store Visited */
    const char *referral;   /* Order Completed: properties.referral_code, or NULL */
    const char *traits;     /* identify: traits object as compact JSON, or NULL */
    const char *json;       /* the whole event, compact JSON, as stored */
    size_t json_len;
};

struct pt_evbatch {
    struct pt_event *ev;
    size_t n, cap;
    struct pt_arena_block *arena; /* owned strings */
};

/* Field-level decode error (the API's {"error":{"code","message","field"}}). */
struct pt_everr {
    int index;          /* event index in a batch, -1 for the request itself */
    char code[32];      /* "invalid_json", "missing_field", "invalid_field", "too_large" */
    char field[128];    /* e.g. "batch[2].properties.order_id" */
    char message[256];
};

void pt_evbatch_init(struct pt_evbatch *b);
void pt_evbatch_release(struct pt_evbatch *b);

/* Copy n bytes of s into b's arena as a NUL-terminated string (NULL on ENOMEM). */
char *pt_evbatch_strdup(struct pt_evbatch *b, const char *s, size_t n);

/*
 * Decode a request body. `type` is the endpoint's type (PT_EV_TRACK for
 * /v1/track ...), or 0 for /v1/batch (body {"batch":[...]} with a "type" in each
 * event). `now` fills missing timestamps. With partial = 0 the first bad event
 * fails the whole body (PT_EPARSE/PT_ETOOBIG, *err filled, b unchanged in
 * meaning: caller releases it). With partial = 1 bad events are left out:
 * bad[] receives (up to nbad_cap) errors, *nbad their count, and good events
 * keep their batch index in `orig` (b->n entries, caller-allocated with
 * PT_EV_MAX_BATCH slots) - the request as a whole can still fail (bad JSON).
 */
int pt_events_decode(const char *body, size_t len, enum pt_ev_type type, int64_t now, int partial,
                     struct pt_evbatch *b, int *orig, struct pt_everr *bad, size_t nbad_cap,
                     size_t *nbad, struct pt_everr *err);

/* Decimal exponent of a currency's minor unit (ISO 4217; 2 unless listed). */
int pt_currency_scale(const char *cur);
const char *pt_ev_kind_name(enum pt_ev_kind k);
const char *pt_ev_type_name(enum pt_ev_type t);
/* Purpose name ("email_marketing", "sms", "profiling") of consent bit `bit`. */
const char *pt_consent_name(unsigned bit);

#endif
