/*
 * def_json.c - the canonical JSON of an automation definition
 * (pt_auto_def_json, automation/def.h).
 *
 * The nested form is rebuilt from the flat program: the compiler (def.c's
 * header) gives a BRANCH or WAIT_EVENT at pc with alt a its first list at
 * [pc + 1, a) and, when the step before a is a JUMP (at a - 1 > pc), its
 * second list at [a, that JUMP's alt). No list ends with a JUMP of its own
 * (a JUMP is always followed by the non-empty list it skips), so the JUMP
 * before a belongs to this step. Ranges only shrink as the walk goes down,
 * and a program that does not decode this way is PT_EINVAL.
 *
 * Keys in the input order; defaults written out; optional values null
 * (conditions, exit_on, tier, reason), except three keys that are left out
 * when they do not apply: replenishment's "before" when 0 (no duration
 * string means 0), an email send's "url", and the one of reward / pool and
 * add / remove not given. Rule text is written as given (not reformatted).
 * Durations use the largest unit that divides them (d, h, m or s: "2w" is
 * written "14d"); numbers the shortest text that reads back to the same
 * double.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "automation/def_int.h"
#include "automation/msgtmpl.h"

static int add_key(struct pt_buf *b, const char *key)
{
    return pt_buf_addc(b, ',') | pt_buf_add_json_str(b, key, strlen(key)) | pt_buf_addc(b, ':');
}

/* First member: {"type":"NAME" */
static int add_type(struct pt_buf *b, const char *name)
{
    return pt_buf_adds(b, "{\"type\":") | pt_buf_add_json_str(b, name, strlen(name));
}

static int add_str(struct pt_buf *b, const char *key, const char *s)
{
    int rc = add_key(b, key);
    if (s == NULL)
        return rc | pt_buf_adds(b, "null");
    return rc | pt_buf_add_json_str(b, s, strlen(s));
}

static int add_int(struct pt_buf *b, const char *key, int64_t v)
{
    return add_key(b, key) | pt_buf_add_i64(b, v);
}

/* A duration as a JSON string. */
static int dur_value(struct pt_buf *b, int64_t s)
{
    static const struct {
        int64_t secs;
        char unit;
    } units[] = {{DEF_DAY, 'd'}, {3600, 'h'}, {DEF_MINUTE, 'm'}, {1, 's'}};
    size_t i = 0;
    while (s % units[i].secs != 0)
        i++;
    return pt_buf_printf(b, "\"%lld%c\"", (long long)(s / units[i].secs), units[i].unit);
}

static int add_dur(struct pt_buf *b, const char *key, int64_t s)
{
    return add_key(b, key) | dur_value(b, s);
}

static int add_num(struct pt_buf *b, const char *key, double x)
{
    char t[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, x == 0 ? 0.0 : x);
        if (strtod(t, NULL) == x)
            break;
    }
    return add_key(b, key) | pt_buf_adds(b, t);
}

static int add_list(const struct pt_auto_def *d, size_t from, size_t to, int depth,
                    struct pt_buf *b);

/* ,"K1":[first],"K2":[second] of the two-list step at pc; *next is the step after it. */
static int add_pair(const struct pt_auto_def *d, size_t pc, size_t to, int depth, const char *k1,
                    const char *k2, struct pt_buf *b, size_t *next)
{
    size_t a = d->steps[pc].alt, end1 = a, end2 = a;
    if (a <= pc || a > to)
        return PT_EINVAL;
    if (a - 1 > pc && d->steps[a - 1].op == PT_AOP_JUMP) {
        end1 = a - 1;
        end2 = d->steps[a - 1].alt;
        if (end2 < a || end2 > to)
            return PT_EINVAL;
    }
    int rc = add_key(b, k1) ? PT_ENOMEM : add_list(d, pc + 1, end1, depth + 1, b);
    if (rc == 0)
        rc = add_key(b, k2) ? PT_ENOMEM : add_list(d, a, end2, depth + 1, b);
    *next = end2;
    return rc;
}

/* The step at pc, ending the list's range at `to`; *next after it. */
static int add_step(const struct pt_auto_def *d, size_t pc, size_t to, int depth, struct pt_buf *b,
                    size_t *next)
{
    const struct pt_auto_step *s = &d->steps[pc];
    int rc = 0;
    *next = pc + 1;
    if (s->op == PT_AOP_END || s->op == PT_AOP_JUMP || s->op < 0 || s->op > PT_AOP_WEBHOOK)
        return PT_EINVAL;
    rc |= add_type(b, pt_auto_op_name(s->op));
    switch (s->op) {
    case PT_AOP_WAIT:
        rc |= add_dur(b, "for", s->dur);
        break;
    case PT_AOP_WAIT_EVENT:
    case PT_AOP_BRANCH:
        if (s->op == PT_AOP_BRANCH)
            rc |= add_str(b, "if", s->cond_text);
        else
            rc |= add_str(b, "event", s->event) | add_dur(b, "timeout", s->dur);
        if (rc)
            return PT_ENOMEM;
        if (s->op == PT_AOP_BRANCH)
            rc = add_pair(d, pc, to, depth, "then", "else", b, next);
        else
            rc = add_pair(d, pc, to, depth, "on_event", "on_timeout", b, next);
        if (rc)
            return rc;
        break;
    case PT_AOP_SEND:
        rc |= add_str(b, "template", s->tmpl);
        rc |= add_str(b, "channel", s->channel == PT_CHAN_WEBHOOK ? "webhook" : "email");
        if (s->channel == PT_CHAN_WEBHOOK)
            rc |= add_str(b, "url", s->url);
        rc |= add_key(b, "transactional") | pt_buf_adds(b, s->transactional ? "true" : "false");
        break;
    case PT_AOP_POINTS:
        rc |= add_int(b, "points", s->points) | add_str(b, "reason", s->reason);
        break;
    case PT_AOP_VOUCHER:
        rc |= s->pool ? add_str(b, "pool", s->pool) : add_int(b, "reward", s->reward);
        break;
    case PT_AOP_TAG:
        rc |= add_str(b, s->tag_add ? "add" : "remove", s->tag);
        break;
    default: /* webhook */
        rc |= add_str(b, "url", s->url);
        break;
    }
    return rc || pt_buf_addc(b, '}') ? PT_ENOMEM : 0;
}

/* The steps [from, to) as a JSON list. */
static int add_list(const struct pt_auto_def *d, size_t from, size_t to, int depth,
                    struct pt_buf *b)
{
    if (depth > PT_AUTO_MAX_DEPTH + 1)
        return PT_EINVAL;
    if (pt_buf_addc(b, '['))
        return PT_ENOMEM;
    for (size_t pc = from; pc < to;) {
        if (pc > from && pt_buf_addc(b, ','))
            return PT_ENOMEM;
        int rc = add_step(d, pc, to, depth, b, &pc);
        if (rc)
            return rc;
    }
    return pt_buf_addc(b, ']') ? PT_ENOMEM : 0;
}

static int add_trigger(const struct pt_auto_def *d, struct pt_buf *b)
{
    static const char *const dirs[] = {"any", "up", "down"};
    int rc = add_key(b, "trigger") | add_type(b, pt_auto_trigger_name(d->trigger));
    switch (d->trigger) {
    case PT_TRIG_EVENT:
        rc |= add_str(b, "event", d->event);
        break;
    case PT_TRIG_SEG_ENTERED:
    case PT_TRIG_SEG_EXITED:
        rc |= d->seg_name ? add_str(b, "segment", d->seg_name) : add_int(b, "segment", d->seg_id);
        break;
    case PT_TRIG_CART:
        rc |= add_dur(b, "idle", d->idle_s) | add_int(b, "min_value", d->min_value);
        break;
    case PT_TRIG_REPLENISH:
        rc |= add_key(b, "products") | pt_buf_addc(b, '[');
        for (size_t i = 0; i < d->nproducts; i++) {
            const char *p = d->products[i].product;
            rc |= pt_buf_adds(b, i ? ",{\"product\":" : "{\"product\":");
            rc |= pt_buf_add_json_str(b, p ? p : "", p ? strlen(p) : 0);
            rc |= add_int(b, "days_per_unit", d->products[i].days_per_unit) | pt_buf_addc(b, '}');
        }
        rc |= pt_buf_addc(b, ']');
        if (d->before_s > 0)
            rc |= add_dur(b, "before", d->before_s);
        break;
    case PT_TRIG_RHYTHM:
        rc |= add_num(b, "factor", d->factor) | add_int(b, "min_orders", d->min_orders);
        break;
    case PT_TRIG_SINCE_ORDER:
        rc |= add_int(b, "days", d->days);
        break;
    case PT_TRIG_POINTS_EXPIRING:
        rc |= add_dur(b, "within", d->within_s);
        break;
    case PT_TRIG_TIER:
        rc |= add_str(b, "direction", dirs[d->tier_dir >= 0 && d->tier_dir <= 2 ? d->tier_dir : 0]);
        rc |= add_str(b, "tier", d->tier);
        break;
    default: /* birthday */
        break;
    }
    return rc | pt_buf_addc(b, '}');
}

int pt_auto_def_json(const struct pt_auto_def *d, struct pt_buf *out)
{
    if (d->nsteps == 0 || d->steps[d->nsteps - 1].op != PT_AOP_END)
        return PT_EINVAL;
    size_t start = out->len;
    int rc = pt_buf_adds(out, "{\"name\":");
    rc |= pt_buf_add_json_str(out, d->name ? d->name : "", d->name ? strlen(d->name) : 0);
    rc |= add_trigger(d, out);
    rc |= add_str(out, "conditions", d->cond_text);
    rc |= add_num(out, "control_share", d->control_share);
    rc |= add_key(out, "reentry");
    if (d->reentry == PT_REENTRY_COOLDOWN)
        rc |= pt_buf_adds(out, "{\"after\":") | dur_value(out, d->reentry_after) |
              pt_buf_addc(out, '}');
    else
        rc |= pt_buf_adds(out, d->reentry == PT_REENTRY_NEVER ? "\"never\"" : "\"after_exit\"");
    rc |= add_str(out, "exit_on", d->exit_on) | add_key(out, "steps");
    rc = rc ? PT_ENOMEM : add_list(d, 0, d->nsteps - 1, 1, out);
    if (rc == 0 && pt_buf_addc(out, '}'))
        rc = PT_ENOMEM;
    if (rc) { /* nothing half-written */
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return rc;
}
