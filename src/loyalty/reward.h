/*
 * reward.h - a reward of the catalogue (docs/loyalty.md "Rewards"): the JSON
 * definition a shop POSTs to /v1/loyalty/rewards, parsed and validated, and
 * the voucher spec shared with code pools.
 *
 * Layer: loyalty (util; jansson). Ownership: a parsed reward owns its
 * strings (pt_loy_reward_release). Errors: PT_EPARSE with `field` (at least
 * 64 bytes) naming the offending key and e->msg why; PT_ENOMEM.
 */
#ifndef PT_LOYALTY_REWARD_H
#define PT_LOYALTY_REWARD_H

#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

/* What a voucher gives: "voucher": {"type": "amount" | "percent" |
 * "free_shipping", "value": ..., "currency", "valid_days", "max_uses"}. */
struct pt_voucher_spec {
    int kind;          /* PT_VOUCHER_AMOUNT / PERCENT / SHIPPING (store.h) */
    int64_t value;     /* minor units (amount), 1..100 (percent), 0 (shipping) */
    char currency[4];  /* amount vouchers: ISO-4217 ("" = the shop's) */
    int64_t valid_days; /* a voucher expires this many days after issue (0 = never) */
    int64_t expires;   /* or at this instant (pools: "expires"; 0 = see valid_days) */
    int64_t max_uses;  /* 0 = unlimited; default 1 */
};

struct pt_loy_reward {
    char *name, *description;  /* description may be NULL */
    int64_t cost;              /* points, > 0 */
    int64_t stock;             /* -1 = unlimited */
    int64_t valid_from, valid_to; /* Unix s; 0 = open */
    int64_t per_member;        /* redemptions per member; 0 = no limit */
    char *min_tier;            /* a tier level name, or NULL */
    struct pt_voucher_spec voucher;
};

/* Parse {"name", "description", "cost", "stock", "valid_from", "valid_to"
 * (ISO-8601 UTC), "per_member_limit", "min_tier", "voucher": {...}}. With
 * `partial`, absent keys keep the values already in *r (an update). */
int pt_loy_reward_parse(const char *json, size_t len, int partial, struct pt_loy_reward *r,
                        char *field, struct pt_err *e);
void pt_loy_reward_release(struct pt_loy_reward *r);
/* The definition as JSON (what is stored, parses back to the same). */
int pt_loy_reward_json(const struct pt_loy_reward *r, struct pt_buf *out);
/* Parse a voucher spec object (jansson json_t *) into v; prefix names the
 * field path ("voucher", "" for a pool). */
int pt_voucher_spec_parse(const void *obj, const char *prefix, int pool,
                          struct pt_voucher_spec *v, char *field, struct pt_err *e);
int pt_voucher_spec_json(const struct pt_voucher_spec *v, struct pt_buf *out);
/* "amount" / "percent" / "free_shipping". */
const char *pt_voucher_kind_name(int kind);

#endif
