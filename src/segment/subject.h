/*
 * subject.h - what a segment rule sees of one customer: the profile's
 * aggregates and scores, its activity (orders, order lines, product views,
 * cart and wishlist events, custom events) and its traits, bound to the rule
 * language's attributes and functions (docs/segments.md, "Attributes").
 *
 * Layer: segment (util, rule, rfm). The live engine and `patron segment eval`
 * both fill a struct pt_seg_subject and evaluate through pt_seg_env, so a
 * rule means the same thing online and offline.
 *
 * Ownership: a subject borrows everything it points to. A pt_seg_ctx owns
 * scratch space (sorted order times, lists, parsed traits) reused from one
 * subject to the next; not thread-safe (one per thread). Errors: PT_ENOMEM.
 */
#ifndef PT_SEGMENT_SUBJECT_H
#define PT_SEGMENT_SUBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "segment/rule.h"
#include "util/buf.h"
#include "util/err.h"

/* Interned strings (event names, categories, product ids): id 0 is "none". */
struct pt_dict {
    char *data;
    size_t len, cap;
    uint64_t *off; /* id -> offset << 16 | length (strings up to 65,535 bytes) */
    size_t n, ncap;
    uint32_t *slot; /* open addressing: id, 0 = empty */
    size_t nslot;
};
void pt_dict_init(struct pt_dict *d);
void pt_dict_release(struct pt_dict *d);
/* Id of s, or 0 if it was never interned. */
uint32_t pt_dict_find(const struct pt_dict *d, const char *s, size_t len);
/* Id of s, adding it if new (0 on ENOMEM or a string over 65,535 bytes). */
uint32_t pt_dict_intern(struct pt_dict *d, const char *s, size_t len);
const char *pt_dict_str(const struct pt_dict *d, uint32_t id, size_t *len);

/* One thing a customer did. An order is one record (kind ORDER_COMPLETED)
 * followed by one LINE record per order line with the same grp. */
enum { PT_ACT_LINE = 1, PT_ACT_DISCOUNT = 2 };
struct pt_act { /* 40 bytes */
    int64_t t;
    int64_t seq;        /* the event's seq in the store (0: none), for property filters */
    uint32_t name;      /* event name (dict) */
    uint32_t cat, prod; /* category and product id (dict), 0 = none */
    uint32_t qty;       /* line or product quantity */
    uint32_t grp;       /* the order an order line belongs to */
    uint8_t kind;       /* enum pt_ev_kind */
    uint8_t flags;
};

struct pt_seg_subject {
    int64_t now; /* the instant of evaluation, Unix seconds */
    int anonymous;
    uint32_t orders;
    int64_t first_t, last_t, revenue, refunded; /* revenue before refunds */
    int64_t cart_value, cart_since, cart_t;
    uint8_t consent, consent_set;
    int has_rfm, r, f, m, seg;
    int has_clv;
    double p_alive, exp90, exp365;
    int64_t value365, aov, next_t; /* -1: no spend model; next_t 0: not expected */
    int has_points;                /* a loyalty member: points, tier, lots */
    int64_t points;
    const char *tier;
    const int64_t *lot_exp, *lot_pts; /* points with an expiry: when, how many */
    size_t nlots;
    const struct pt_act *acts; /* the profile's activity, any order */
    size_t nacts;
    const struct pt_dict *dict;
    /* the profile's traits as a JSON object, fetched on first use (may be NULL) */
    int (*traits)(void *ctx, struct pt_buf *out);
    void *tctx;
    /* the event with this seq as stored (JSON), for filters on properties
     * other than product and category (NULL: such filters match nothing) */
    int (*event_json)(void *ctx, int64_t seq, struct pt_buf *out);
};

struct pt_seg_ctx;
struct pt_seg_ctx *pt_seg_ctx_new(void);
void pt_seg_ctx_free(struct pt_seg_ctx *x);
/* Bind x to s (forgets what was derived from the previous subject). */
void pt_seg_ctx_set(struct pt_seg_ctx *x, const struct pt_seg_subject *s);
/* The environment of pt_rule_eval for x's subject. */
struct pt_rule_env pt_seg_env(struct pt_seg_ctx *x);
/* pt_rule_eval of r for x's subject. */
int pt_seg_match(struct pt_seg_ctx *x, const struct pt_rule *r, int *match);

/*
 * Time. What a rule reads that changes with the clock alone, without an
 * event: whole days since the first or last order (and what follows from
 * them), minutes of cart idleness, and windows sliding past events.
 * pt_seg_time_uses describes a rule; pt_seg_next_change gives the first
 * instant after s->now at which any of those values can change for x's
 * subject (INT64_MAX: never), so a customer is re-evaluated exactly then.
 * RFM and CLV scores also move when a shop's boundaries or models are
 * refreshed; the engine re-evaluates those rules then (docs/segments.md).
 */
enum {
    PT_SEG_T_FIRST = 1,  /* days since the first order, usual rate */
    PT_SEG_T_LAST = 2,   /* days since the last order, RFM recency */
    PT_SEG_T_CART = 4,   /* cart idle minutes */
    PT_SEG_T_WINDOW = 8, /* windows (within, orders_in) */
    PT_SEG_T_RFM = 16,   /* rfm.* (boundaries refresh) */
    PT_SEG_T_CLV = 32,   /* clv.* (models refit, P(alive) decays) */
    PT_SEG_T_TRAITS = 64, /* reads traits (fetched from the store) */
    PT_SEG_T_PROPS = 128, /* filters on event properties (bodies from the store) */
    PT_SEG_T_LOTS = 256   /* points_expiring (lots come within the window) */
};
struct pt_seg_time {
    unsigned uses;
    int64_t *win; /* distinct window lengths, seconds (owned) */
    size_t nwin, cap;
};
/* Adds what r reads to *t (0 or PT_ENOMEM); pt_seg_time_release frees. */
int pt_seg_time_uses(const struct pt_rule *r, struct pt_seg_time *t);
void pt_seg_time_release(struct pt_seg_time *t);
/* Adds src's uses and windows to dst (0 or PT_ENOMEM). */
int pt_seg_time_merge(struct pt_seg_time *dst, const struct pt_seg_time *src);
/* 1 if u reads everything with time that t reads (its uses and windows). */
int pt_seg_time_covers(const struct pt_seg_time *u, const struct pt_seg_time *t);
int64_t pt_seg_next_change(struct pt_seg_ctx *x, const struct pt_seg_time *t);

#endif
