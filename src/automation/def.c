/*
 * def.c - reading an automation definition (automation/def.h): jansson, then
 * the rules below, with the nested step lists compiled into the flat program
 * as they are read. This file reads the document and its trigger; the value
 * readers, paths and errors are def_read.c, the steps def_steps.c, the
 * canonical JSON def_json.c (shared declarations: def_int.h).
 *
 * Field paths (`field`, and the start of e->msg as "PATH: reason"): object
 * keys joined by '.', array positions as [i] ("trigger.products[2].product",
 * "steps[2].on_timeout[0].template"); "" is the document. e->msg carries the
 * path up to 255 bytes, `field` up to 127 (both cut at a UTF-8 boundary).
 *
 * The rules (default in brackets; N = a string of 1..200 bytes):
 *   name N, required; trigger {...}, required;
 *   conditions  rule text or null [none]; control_share number 0..0.5 [0];
 *   reentry "after_exit" | "never" | {"after": duration 1s..365d} [after_exit];
 *   exit_on N (an event name) or null [none]; steps [1 or more steps].
 * Trigger keys by type:
 *   event: event N; segment_*: segment integer 1.. or N;
 *   cart_abandoned: idle 1m..365d, min_value integer 0..10^12 [0];
 *   replenishment: products 1..100 of {product N (unique), days_per_unit
 *     1..3650}, before 1s..365d [none: on the day];
 *   rhythm_missed: factor number 1..10 [1.5], min_orders 2..1000 [3];
 *   days_since_last_order: days 1..3650; points_expiring: within 1d..365d;
 *   tier_changed: direction "any" | "up" | "down" [any], tier N or null [any];
 *   birthday: none.
 * Step keys by type:
 *   wait: for 1s..365d;
 *   wait_event: event N, timeout 1s..365d, on_event [], on_timeout [] ([]);
 *   branch: if rule text, then [] (required), else [] ([]); then and else
 *     must not both be empty;
 *   send: template id (1..64 of A-Z a-z 0-9 _ . -), channel "email" |
 *     "webhook" [email], url (webhook only, required there), transactional
 *     bool [false];
 *   points: points integer, non-zero, -10^9..10^9; reason N or null [none];
 *   voucher: reward integer 1.. or pool N, exactly one;
 *   tag: add or remove, exactly one: 1..64 bytes, no control characters;
 *   webhook: url.
 * Required keys are the ones without a default. Integers must be JSON
 * integers (1.0 is refused); numbers may be either. No string may contain
 * NUL (jansson refuses \u0000). A URL starts with http:// or https:// and a
 * host, is at most 2000 bytes, without spaces or control characters.
 *
 * Order of checks: in the document, unknown keys, then name, trigger,
 * conditions, control_share, reentry, exit_on, steps; in the trigger and in
 * each step, "type" first, then the keys that do not belong to that type,
 * then the keys in the order above; steps in document order, each step's
 * nested lists after its other keys. The first error is reported. Every
 * error is PT_EPARSE (even limits: a rule over the rule parser's limits, too
 * many steps), or PT_ENOMEM.
 *
 * Compiling (def.h): a step list is its steps in order. branch is
 * [BRANCH alt=E] then... [JUMP alt=X] else..., E the first else step and X
 * the step after the else part; without else steps there is no JUMP and alt
 * is the step after the then part. wait_event is the same with on_event /
 * on_timeout. The program ends with END. Steps nest at most
 * PT_AUTO_MAX_DEPTH levels (top-level steps are level 1); the program,
 * jumps and END included, has at most PT_AUTO_MAX_STEPS steps. Steps
 * without a target have alt 0.
 */
#include <stdio.h>
#include <string.h>

#include "automation/def_int.h"
#include "util/text.h"
#include "util/mem.h"

#define MAX_PRODUCTS 100
#define MAX_DAYS     3650
#define MAX_MONEY    1000000000000LL

/* ---- the trigger ---- */

static const char *const k_trig_names[] = {NULL,
                                           "event",
                                           "segment_entered",
                                           "segment_exited",
                                           "cart_abandoned",
                                           "replenishment",
                                           "rhythm_missed",
                                           "days_since_last_order",
                                           "points_expiring",
                                           "tier_changed",
                                           "birthday"};
#define NTRIG (sizeof k_trig_names / sizeof k_trig_names[0])

const char *pt_auto_trigger_name(int trigger)
{
    if (trigger < 1 || (size_t)trigger >= NTRIG)
        return "unknown";
    return k_trig_names[trigger];
}

static const char *const *trigger_keys(int t)
{
    static const char *const ev[] = {"type", "event", NULL};
    static const char *const seg[] = {"type", "segment", NULL};
    static const char *const cart[] = {"type", "idle", "min_value", NULL};
    static const char *const repl[] = {"type", "products", "before", NULL};
    static const char *const rhythm[] = {"type", "factor", "min_orders", NULL};
    static const char *const since[] = {"type", "days", NULL};
    static const char *const expiring[] = {"type", "within", NULL};
    static const char *const tier[] = {"type", "direction", "tier", NULL};
    static const char *const none[] = {"type", NULL};
    static const char *const *const keys[] = {none,   ev,    seg,      seg,  cart, repl,
                                              rhythm, since, expiring, tier, none};
    return keys[t];
}

static int parse_segment(struct def_ctx *c, struct pt_auto_def *d, json_t *o)
{
    size_t old;
    json_t *v = def_member(c, o, "segment", &old);
    if (v == NULL)
        return def_missing(c, "segment", "the segment's id (an integer) or name (a string)");
    int rc;
    if (json_is_integer(v) || json_is_real(v))
        rc = def_int_value(c, v, 1, INT64_MAX, &d->seg_id);
    else if (json_is_string(v))
        rc = def_str_value(c, v, DEF_S_NAME, &d->seg_name);
    else
        rc = def_fail(c, "must be a segment id (an integer) or name (a string), not %s",
                      pt_json_type_name(v));
    if (rc == 0)
        def_pop(c, old);
    return rc;
}

static int parse_products(struct def_ctx *c, struct pt_auto_def *d, json_t *o)
{
    static const char *const keys[] = {"product", "days_per_unit", NULL};
    size_t old;
    json_t *a = def_member(c, o, "products", &old);
    if (a == NULL)
        return def_missing(c, "products", "the list of {\"product\": id, \"days_per_unit\": days}");
    if (!json_is_array(a))
        return def_fail(c, "must be a list of {\"product\": id, \"days_per_unit\": days}, not %s",
                        pt_json_type_name(a));
    size_t n = json_array_size(a);
    if (n == 0)
        return def_fail(c, "must list at least one product");
    if (n > MAX_PRODUCTS)
        return def_fail(c, "lists %zu products; the limit is %d", n, MAX_PRODUCTS);
    if ((d->products = pt_calloc(n, sizeof *d->products)) == NULL)
        return def_nomem(c);
    d->nproducts = n; /* zeroed entries free fine */
    for (size_t i = 0; i < n; i++) {
        struct pt_auto_product *p = &d->products[i];
        json_t *v = json_array_get(a, i);
        size_t o2 = def_push_index(c, i);
        int rc;
        if (!json_is_object(v))
            return def_fail(c,
                            "must be an object like {\"product\": \"sku-1\", \"days_per_unit\": "
                            "30}, not %s",
                            pt_json_type_name(v));
        if ((rc = def_check_keys(c, v, keys, NULL, NULL)) ||
            (rc = def_get_str(c, v, "product", DEF_REQ, DEF_S_NAME, &p->product)))
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(d->products[j].product, p->product) == 0) {
                def_push_key(c, "product", 7);
                return def_fail(c, "\"%.*s\" is listed twice (also at products[%zu])",
                                def_qlen(p->product, strlen(p->product)), p->product, j);
            }
        }
        if ((rc = def_get_int(c, v, "days_per_unit", DEF_REQ, 1, MAX_DAYS, &p->days_per_unit)))
            return rc;
        def_pop(c, o2);
    }
    def_pop(c, old);
    return 0;
}

static int parse_trigger(struct def_ctx *c, struct pt_auto_def *d, json_t *o)
{
    static const char *const all[] = {"type",     "event",     "segment", "idle",       "min_value",
                                      "products", "before",    "factor",  "min_orders", "days",
                                      "within",   "direction", "tier",    NULL};
    static const char *const dirs[] = {"any", "up", "down", NULL}; /* PT_TIER_* */
    int t, rc;
    if ((rc = def_get_type(c, o, k_trig_names, NTRIG, "trigger", &t)))
        return rc;
    char what[64];
    snprintf(what, sizeof what, "the \"%s\" trigger", k_trig_names[t]);
    if ((rc = def_check_keys(c, o, trigger_keys(t), all, what)))
        return rc;
    d->trigger = t;
    int64_t x = 3;
    switch (t) {
    case PT_TRIG_EVENT:
        return def_get_str(c, o, "event", DEF_REQ, DEF_S_NAME, &d->event);
    case PT_TRIG_SEG_ENTERED:
    case PT_TRIG_SEG_EXITED:
        return parse_segment(c, d, o);
    case PT_TRIG_CART:
        if ((rc = def_get_dur(c, o, "idle", DEF_REQ, DEF_MINUTE, &d->idle_s)))
            return rc;
        return def_get_int(c, o, "min_value", 0, 0, MAX_MONEY, &d->min_value);
    case PT_TRIG_REPLENISH:
        if ((rc = parse_products(c, d, o)))
            return rc;
        return def_get_dur(c, o, "before", 0, 1, &d->before_s);
    case PT_TRIG_RHYTHM:
        d->factor = 1.5;
        if ((rc = def_get_num(c, o, "factor", 1, 10, &d->factor)) ||
            (rc = def_get_int(c, o, "min_orders", 0, 2, 1000, &x)))
            return rc;
        d->min_orders = (uint32_t)x;
        return 0;
    case PT_TRIG_SINCE_ORDER:
        return def_get_int(c, o, "days", DEF_REQ, 1, MAX_DAYS, &d->days);
    case PT_TRIG_POINTS_EXPIRING:
        return def_get_dur(c, o, "within", DEF_REQ, DEF_DAY, &d->within_s);
    case PT_TRIG_TIER:
        if ((rc = def_get_enum(c, o, "direction", dirs, &d->tier_dir)))
            return rc;
        return def_get_str(c, o, "tier", DEF_NULLABLE, DEF_S_NAME, &d->tier);
    default: /* birthday */
        return 0;
    }
}

/* ---- the document ---- */

static int parse_reentry(struct def_ctx *c, struct pt_auto_def *d, json_t *o)
{
    static const char *const names[] = {"after_exit", "never", NULL};
    static const char *const keys[] = {"after", NULL};
    size_t old;
    json_t *v = def_member(c, o, "reentry", &old);
    if (v == NULL)
        return 0;
    int rc;
    if (json_is_object(v)) {
        if ((rc = def_check_keys(c, v, keys, NULL, NULL)) ||
            (rc = def_get_dur(c, v, "after", DEF_REQ, 1, &d->reentry_after)))
            return rc;
        d->reentry = PT_REENTRY_COOLDOWN;
    } else if (json_is_string(v)) {
        if ((rc = def_enum_value(c, v, names, &d->reentry)))
            return rc;
    } else {
        return def_fail(c, "must be \"after_exit\", \"never\" or {\"after\": \"30d\"}, not %s",
                        pt_json_type_name(v));
    }
    def_pop(c, old);
    return 0;
}

static int parse_root(struct def_ctx *c, struct pt_auto_def *d, json_t *o)
{
    static const char *const keys[] = {"name",    "trigger", "conditions", "control_share",
                                       "reentry", "exit_on", "steps",      NULL};
    int rc;
    size_t old;
    if ((rc = def_check_keys(c, o, keys, NULL, NULL)) ||
        (rc = def_get_str(c, o, "name", DEF_REQ, DEF_S_NAME, &d->name)))
        return rc;
    json_t *t = def_member(c, o, "trigger", &old);
    if (t == NULL)
        return def_missing(c, "trigger",
                           "the trigger, e.g. {\"type\": \"event\", \"event\": "
                           "\"Order Completed\"}");
    if (!json_is_object(t))
        return def_fail(c, "must be an object such as {\"type\": \"birthday\"}, not %s",
                        pt_json_type_name(t));
    if ((rc = parse_trigger(c, d, t)))
        return rc;
    def_pop(c, old);
    if ((rc = def_get_rule(c, o, "conditions", DEF_NULLABLE, &d->cond_text, &d->cond)) ||
        (rc = def_get_num(c, o, "control_share", 0, 0.5, &d->control_share)) ||
        (rc = parse_reentry(c, d, o)) ||
        (rc = def_get_str(c, o, "exit_on", DEF_NULLABLE, DEF_S_NAME, &d->exit_on)))
        return rc;
    json_t *steps = def_member(c, o, "steps", &old);
    if (steps == NULL)
        return def_missing(c, "steps", "the list of steps (at least one)");
    if (!json_is_array(steps))
        return def_fail(c, "must be a list of steps, not %s", pt_json_type_name(steps));
    if (json_array_size(steps) == 0)
        return def_fail(c, "needs at least one step");
    if ((rc = def_compile_steps(c, steps)))
        return rc;
    def_pop(c, old);
    return 0;
}

int pt_auto_def_parse(const char *json, size_t len, struct pt_auto_def *d, char *field,
                      struct pt_err *e)
{
    struct def_ctx c = {.field = field, .e = e, .d = d};
    memset(d, 0, sizeof *d);
    if (field)
        field[0] = '\0';
    pt_err_clear(e);
    json_error_t je;
    json_t *root = json_loadb(json ? json : "", json ? len : 0, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        if (json_error_code(&je) == json_error_out_of_memory)
            return def_nomem(&c);
        int line = je.line > 0 ? je.line : 1, col = je.column > 0 ? je.column : 1;
        int rc = def_fail(&c, "invalid JSON at line %d, column %d: %s", line, col, je.text);
        if (e) {
            e->line = (uint64_t)line;
            e->column = (uint64_t)col;
        }
        return rc;
    }
    int rc;
    if (!json_is_object(root))
        rc = def_fail(&c, "the automation must be a JSON object, not %s", pt_json_type_name(root));
    else
        rc = parse_root(&c, d, root);
    json_decref(root);
    if (rc)
        pt_auto_def_release(d);
    return rc;
}

void pt_auto_def_release(struct pt_auto_def *d)
{
    if (d == NULL)
        return;
    pt_free(d->name);
    pt_free(d->event);
    pt_free(d->seg_name);
    for (size_t i = 0; i < d->nproducts; i++)
        pt_free(d->products[i].product);
    pt_free(d->products);
    pt_free(d->tier);
    pt_free(d->cond_text);
    pt_rule_free(&d->cond);
    pt_free(d->exit_on);
    for (size_t i = 0; i < d->nsteps; i++) {
        struct pt_auto_step *s = &d->steps[i];
        pt_free(s->event);
        pt_free(s->tmpl);
        pt_free(s->url);
        pt_free(s->reason);
        pt_free(s->pool);
        pt_free(s->tag);
        pt_rule_free(&s->cond);
        pt_free(s->cond_text);
    }
    pt_free(d->steps);
    memset(d, 0, sizeof *d);
}
