/*
 * def.h - an automation's JSON definition (POST /v1/automations), parsed,
 * validated and compiled into a flat step program (docs/automation.md).
 *
 *   {"name": "Win-back",
 *    "trigger": {"type": "segment_entered", "segment": "Hibernating"},
 *    "conditions": "orders >= 2",               (optional, the segment language)
 *    "control_share": 0.1,                      (0 .. 0.5, default 0)
 *    "reentry": "after_exit" | "never" | {"after": "30d"},   (default after_exit)
 *    "exit_on": "Order Completed",              (optional: leave when it happens)
 *    "steps": [ ... ]}
 *
 * Triggers ("type" and its keys):
 *   event             "event": name (e.g. "Order Completed", "Store Visited")
 *   segment_entered / segment_exited   "segment": an id (integer) or a name
 *   cart_abandoned    "idle": duration (>= 1m), "min_value": minor units (default 0)
 *   replenishment     "products": [{"product": id, "days_per_unit": 1..3650}, ...]
 *                     (1..100 of them), "before": duration (default 0)
 *   rhythm_missed     "factor": 1.0..10 (default 1.5), "min_orders": 2..1000 (default 3)
 *   days_since_last_order  "days": 1..3650
 *   points_expiring   "within": duration (>= 1d)
 *   tier_changed      "direction": "up" | "down" | "any" (default any), "tier": a level name (optional)
 *   birthday          (no keys)
 *
 * Steps ("type" and its keys), nested lists compiled into jumps:
 *   wait        "for": duration (1s .. 365d)
 *   wait_event  "event": name, "timeout": duration; "on_event": [steps], "on_timeout": [steps]
 *   branch      "if": rule text (the segment language); "then": [steps], "else": [steps]
 *   send        "template": id (1..64 of [A-Za-z0-9_.-]), "channel": "email" | "webhook"
 *               (default email), "url": http(s) URL (webhook only, required there),
 *               "transactional": bool (default false)
 *   points      "points": non-zero integer (|points| <= 1e9), "reason": 1..200 bytes
 *   voucher     "reward": reward id (integer > 0) or "pool": pool name (one of them)
 *   tag         "add": tag or "remove": tag (1..64 bytes, no control characters)
 *   webhook     "url": http(s) URL
 * Durations are strings: an integer and a unit s, m, h, d or w ("90m", "7d").
 * Limits: PT_AUTO_MAX_STEPS compiled steps, PT_AUTO_MAX_DEPTH levels of nesting.
 *
 * Layer: automation (util, segment; jansson). Ownership: a parsed
 * definition owns everything it points to (pt_auto_def_release). Errors:
 * PT_EPARSE with `field` (at least 128 bytes: the JSON path, e.g.
 * "steps[2].on_timeout[0].template", "" for bad JSON) and e->msg "PATH:
 * reason"; for bad JSON e->line / e->column in the document; for a rule
 * ("conditions", a branch's "if") e->line / e->column inside the rule text.
 * PT_ENOMEM.
 */
#ifndef PT_AUTOMATION_DEF_H
#define PT_AUTOMATION_DEF_H

#include <stddef.h>
#include <stdint.h>

#include "segment/rule.h"
#include "util/buf.h"
#include "util/err.h"

#define PT_AUTO_MAX_STEPS 256
#define PT_AUTO_MAX_DEPTH 8

enum pt_auto_trigger {
    PT_TRIG_EVENT = 1, PT_TRIG_SEG_ENTERED, PT_TRIG_SEG_EXITED, PT_TRIG_CART,
    PT_TRIG_REPLENISH, PT_TRIG_RHYTHM, PT_TRIG_SINCE_ORDER, PT_TRIG_POINTS_EXPIRING,
    PT_TRIG_TIER, PT_TRIG_BIRTHDAY
};
enum { PT_REENTRY_AFTER_EXIT = 0, PT_REENTRY_NEVER = 1, PT_REENTRY_COOLDOWN = 2 };
enum { PT_TIER_ANY = 0, PT_TIER_UP = 1, PT_TIER_DOWN = 2 };

enum pt_auto_op {
    PT_AOP_END = 0,  /* the run is over (the compiler appends one) */
    PT_AOP_WAIT,     /* dur; then pc + 1 */
    PT_AOP_WAIT_EVENT, /* event, dur (timeout): on the event pc + 1, on timeout alt */
    PT_AOP_BRANCH,   /* cond: true pc + 1, false alt */
    PT_AOP_JUMP,     /* to alt */
    PT_AOP_SEND,     /* tmpl, channel, url (webhook), transactional */
    PT_AOP_POINTS,   /* points, reason */
    PT_AOP_VOUCHER,  /* reward (> 0) or pool */
    PT_AOP_TAG,      /* tag, tag_add */
    PT_AOP_WEBHOOK   /* url */
};

struct pt_auto_step {
    int op;
    uint32_t alt;
    int64_t dur;
    char *event, *tmpl, *url, *reason, *pool, *tag;
    struct pt_rule cond; /* BRANCH */
    char *cond_text;
    int channel;         /* PT_CHAN_* (msgtmpl.h) */
    int transactional, tag_add;
    int64_t points, reward;
};

struct pt_auto_product {
    char *product;
    int64_t days_per_unit;
};

struct pt_auto_def {
    char *name;
    int trigger;            /* enum pt_auto_trigger */
    char *event;            /* EVENT */
    int64_t seg_id;         /* SEG_*: by id (> 0), or */
    char *seg_name;         /* ... by name */
    int64_t idle_s, min_value; /* CART */
    struct pt_auto_product *products; /* REPLENISH */
    size_t nproducts;
    int64_t before_s;       /* REPLENISH */
    double factor;          /* RHYTHM */
    uint32_t min_orders;    /* RHYTHM */
    int64_t days;           /* SINCE_ORDER */
    int64_t within_s;       /* POINTS_EXPIRING */
    int tier_dir;           /* TIER */
    char *tier;             /* TIER: NULL = any level */
    char *cond_text;        /* NULL = no conditions */
    struct pt_rule cond;
    double control_share;
    int reentry;
    int64_t reentry_after;  /* COOLDOWN: seconds */
    char *exit_on;          /* NULL = none */
    struct pt_auto_step *steps; /* ends with PT_AOP_END */
    size_t nsteps;
};

int pt_auto_def_parse(const char *json, size_t len, struct pt_auto_def *d, char *field,
                      struct pt_err *e);
void pt_auto_def_release(struct pt_auto_def *d);
/* Append the canonical JSON of d (from pt_auto_def_parse) to out: the nested
 * form, keys in the order above, defaults written out, absent optional values
 * as null (replenishment's "before" is left out when 0). Parsing it gives
 * the same definition and the same canonical JSON. 0, PT_ENOMEM, or
 * PT_EINVAL when d->steps is not a program the parser builds; on an error
 * out is as it was. */
int pt_auto_def_json(const struct pt_auto_def *d, struct pt_buf *out);
/* "7d" -> 604800 into *s: 0 or PT_EINVAL. */
int pt_auto_duration(const char *text, int64_t *s);
/* The names used by JSON: "segment_entered", "send", ... */
const char *pt_auto_trigger_name(int trigger);
const char *pt_auto_op_name(int op);

#endif
