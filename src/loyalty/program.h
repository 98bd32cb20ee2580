/*
 * program.h - a shop's loyalty programme rules (docs/loyalty.md): the JSON
 * document a shop PUTs to /v1/loyalty/program, parsed and validated into a
 * struct, and the pure arithmetic the engine applies with it (points of an
 * order, the tier a qualifying value reaches).
 *
 * Layer: loyalty (util, ingest/events.h for the order record; jansson).
 * Ownership: a parsed programme owns every string in it (freed by
 * pt_loy_program_release). Pure functions; thread-safe on distinct objects,
 * and read-only use of one programme from many threads is safe.
 *
 * Numbers: money in minor units; points are integers; rates and multipliers
 * are decimals in the JSON and kept here in thousandths ("milli": 1.25 ->
 * 1250), so the arithmetic is exact integer arithmetic (128-bit in between).
 *
 * Errors: PT_EPARSE (bad JSON, or a value breaking a rule) with `field`
 * receiving the JSON path of the offending value ("tiers.levels[1].threshold",
 * "" for the document itself) and e->msg a sentence saying why, including the
 * JSON line and column for a syntax error; PT_ETOOBIG over a limit below;
 * PT_ENOMEM. On error *p is left released (nothing to free).
 */
#ifndef PT_LOYALTY_PROGRAM_H
#define PT_LOYALTY_PROGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/events.h"
#include "util/buf.h"
#include "util/err.h"

#define PT_LOY_MAX_BODY (256u << 10) /* bytes of a programme document */
#define PT_LOY_MAX_NAME 128          /* bytes of a category, event or tier name */
#define PT_LOY_MAX_CATS 1000         /* category multipliers */
#define PT_LOY_MAX_EVENTS 200        /* behaviour event rules */
#define PT_LOY_MAX_TIERS 16          /* tier levels */
#define PT_LOY_MAX_PILOT 10000       /* customer ids in a pilot list */
#define PT_LOY_MAX_POINTS 1000000000LL /* points of any single rule, cap or threshold */

enum pt_loy_round { PT_LOY_FLOOR = 0, PT_LOY_ROUND = 1, PT_LOY_CEIL = 2 };
enum pt_loy_basis { PT_LOY_SPEND = 0, PT_LOY_POINTS = 1 };

struct pt_loy_cat { /* "earn.categories": {"name": multiplier} */
    char *name;
    int64_t milli; /* >= 0; 0 = this category earns nothing */
};

struct pt_loy_event_rule { /* "earn.events": {"Review Written": {...}} */
    char *name;            /* the track event's name, exact */
    int64_t points;        /* > 0 */
    int64_t max_per_day;   /* awards per customer per UTC day; 0 = no cap */
    int64_t max_total;     /* awards per customer ever; 0 = no cap (1 for "once") */
};

struct pt_loy_tier { /* "tiers.levels[i]", ascending thresholds */
    char *name;
    int64_t threshold;     /* minor units of rolling spend, or rolling points */
    int64_t earn_milli;    /* earn multiplier on purchase points; default 1000 */
    int free_shipping;     /* benefit flag shown to the shop and the member */
};

struct pt_loy_program {
    int enabled;           /* "enabled" (default true) */
    char currency[4];      /* "currency": ISO-4217 ("" if not given) */
    int64_t point_value;   /* "point_value": minor units one point is worth (liability); default 1 */

    /* "earn" */
    int64_t rate_milli;    /* "earn.points_per_unit": points per 1 currency unit (100 minor) of net paid value, default 1 */
    enum pt_loy_round rounding;   /* "earn.rounding": "floor" (default) | "round" | "ceil" */
    struct pt_loy_cat *cats;      /* sorted by name (strcmp) */
    size_t ncats;
    int64_t default_cat_milli;    /* "earn.default_multiplier": lines of other categories; default 1000 */
    int64_t max_per_order;        /* "earn.max_per_order": points; 0 = no cap */
    int64_t max_per_day;          /* "earn.max_per_day": purchase + behaviour points per customer per UTC day; 0 = no cap */
    struct pt_loy_event_rule *events; /* sorted by name */
    size_t nevents;

    /* "bonuses.intensify": orders in the last window_days >= factor x the
     * customer's usual rate over the window (from their history before the
     * window, at least min_history_days long) -> points, once per period_days */
    int has_intensify;
    int64_t intensify_points, intensify_window_days, intensify_factor_milli,
        intensify_period_days, intensify_min_history_days;
    /* "bonuses.comeback": an order at least after_days after the previous one -> points */
    int has_comeback;
    int64_t comeback_points, comeback_after_days;

    /* "tiers" */
    enum pt_loy_basis tier_basis; /* "tiers.basis": "spend" (default) | "points" (earned) */
    int64_t tier_window_days;     /* "tiers.window_days": rolling window, default 365 */
    int64_t tier_review_months;   /* "tiers.review_months": a tier holds at least this long; default 12 */
    struct pt_loy_tier *tiers;    /* "tiers.levels", thresholds strictly ascending */
    size_t ntiers;

    /* "expiry.months": points expire this many months after they were earned (0 = never) */
    int64_t expiry_months;
    /* "refunds.allow_debt": a refund may reverse more points than the balance holds */
    int allow_debt;

    /* "pilot": only these customers earn (has_pilot = 0: everyone) */
    int has_pilot;
    int64_t pilot_segment;        /* "pilot.segment": a segment id (0 = none) */
    char **pilot_ids;             /* "pilot.customers": userIds, sorted (strcmp) */
    size_t npilot;

    /* "referral" */
    int has_referral;
    int64_t referrer_points, friend_points; /* "referral.referrer_points", "referral.friend_points" */
    int64_t return_window_days;   /* "referral.return_window_days", default 14 */
    char *link;                   /* "referral.link": URL template with "{code}", or NULL */
};

/* Parse and validate a programme document. Unknown keys are an error (a
 * misspelt rule must not be silently ignored). field: at least 160 bytes. */
int pt_loy_program_parse(const char *json, size_t len, struct pt_loy_program *p, char *field,
                         struct pt_err *e);
void pt_loy_program_release(struct pt_loy_program *p);
/* The programme as canonical JSON (every default spelt out), appended to out;
 * parsing the result gives an equal programme. */
int pt_loy_program_json(const struct pt_loy_program *p, struct pt_buf *out);

/* Points an order earns before caps and bonuses: each line's share of the
 * order's net paid value (ev->amount split over the lines in proportion to
 * price x quantity; without lines the whole amount at default_cat_milli)
 * times its category multiplier, times rate_milli, times the tier's earn
 * multiplier (tier < 0: none), rounded once by p->rounding. >= 0. */
int64_t pt_loy_order_points(const struct pt_loy_program *p, const struct pt_event *ev, int tier);
/* The highest tier level whose threshold <= qualifying, or -1. */
int pt_loy_tier_for(const struct pt_loy_program *p, int64_t qualifying);
/* The rule of event `name`, or NULL. */
const struct pt_loy_event_rule *pt_loy_event_rule(const struct pt_loy_program *p, const char *name);
/* Whether userId `id` is in the pilot list (binary search). */
int pt_loy_pilot_has(const struct pt_loy_program *p, const char *id);
/* Round num/den (den > 0, num >= 0) by mode. */
int64_t pt_loy_round(__int128 num, __int128 den, enum pt_loy_round mode);

#endif
