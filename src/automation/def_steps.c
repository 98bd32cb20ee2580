/*
 * def_steps.c - the steps of an automation definition, read and compiled
 * into the flat program as they are read (the rules and the layout: def.c's
 * header and def.h).
 */
#include <stdio.h>
#include <string.h>

#include "automation/def_int.h"
#include "util/text.h"
#include "automation/msgtmpl.h"
#include "util/mem.h"

#define MAX_POINTS 1000000000LL

static const char *const k_op_names[] = {"end",  "wait",   "wait_event", "branch", "jump",
                                         "send", "points", "voucher",    "tag",    "webhook"};
#define NOPS (sizeof k_op_names / sizeof k_op_names[0])

const char *pt_auto_op_name(int op)
{
    if (op < 0 || (size_t)op >= NOPS)
        return "unknown";
    return k_op_names[op];
}

static const char *const *step_keys(int op)
{
    static const char *const wait[] = {"type", "for", NULL};
    static const char *const wev[] = {"type", "event", "timeout", "on_event", "on_timeout", NULL};
    static const char *const branch[] = {"type", "if", "then", "else", NULL};
    static const char *const send[] = {"type", "template", "channel", "url", "transactional", NULL};
    static const char *const points[] = {"type", "points", "reason", NULL};
    static const char *const voucher[] = {"type", "reward", "pool", NULL};
    static const char *const tag[] = {"type", "add", "remove", NULL};
    static const char *const webhook[] = {"type", "url", NULL};
    static const char *const *const keys[] = {NULL, wait,   wev,     branch, NULL,
                                              send, points, voucher, tag,    webhook};
    return keys[op];
}

/* Append a zeroed step `op` at index *idx. */
static int emit(struct def_ctx *c, int op, size_t *idx)
{
    struct pt_auto_def *d = c->d;
    if (op != PT_AOP_END && d->nsteps + 1 >= PT_AUTO_MAX_STEPS)
        return def_fail(c,
                        "the steps compile to more than %d (jumps and the end included); "
                        "split the automation",
                        PT_AUTO_MAX_STEPS);
    if (d->nsteps == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        if (cap > PT_AUTO_MAX_STEPS)
            cap = PT_AUTO_MAX_STEPS;
        struct pt_auto_step *s = pt_realloc_array(d->steps, cap, sizeof *s);
        if (s == NULL)
            return def_nomem(c);
        d->steps = s;
        c->cap = cap;
    }
    memset(&d->steps[d->nsteps], 0, sizeof d->steps[0]);
    d->steps[d->nsteps].op = op;
    *idx = d->nsteps++;
    return 0;
}

static int compile_list(struct def_ctx *c, json_t *a, int depth);

/* A list of steps (NULL when absent and not required). */
static int get_list(struct def_ctx *c, json_t *o, const char *key, int flags, json_t **out)
{
    size_t old;
    json_t *v = def_member(c, o, key, &old);
    *out = NULL;
    if (v == NULL)
        return (flags & DEF_REQ) ? def_missing(c, key, "a list of steps") : 0;
    if (!json_is_array(v))
        return def_fail(c, "must be a list of steps, not %s", pt_json_type_name(v));
    def_pop(c, old);
    *out = v;
    return 0;
}

/* The two lists of the BRANCH / WAIT_EVENT at k (def.h): first... [JUMP]
 * second..., alt set to the start of the second part. */
static int compile_pair(struct def_ctx *c, size_t k, int depth, const char *k1, json_t *l1,
                        const char *k2, json_t *l2)
{
    int rc = 0;
    size_t old = def_push_key(c, k1, strlen(k1)), j;
    if (l1 && (rc = compile_list(c, l1, depth + 1)))
        return rc;
    def_pop(c, old);
    if (l2 == NULL || json_array_size(l2) == 0) {
        c->d->steps[k].alt = (uint32_t)c->d->nsteps;
        return 0;
    }
    old = def_push_key(c, k2, strlen(k2));
    if ((rc = emit(c, PT_AOP_JUMP, &j)))
        return rc;
    c->d->steps[k].alt = (uint32_t)c->d->nsteps;
    if ((rc = compile_list(c, l2, depth + 1)))
        return rc;
    c->d->steps[j].alt = (uint32_t)c->d->nsteps;
    def_pop(c, old);
    return 0;
}

/* The keys of the step just emitted at k (op): simple values first. */
static int step_values(struct def_ctx *c, json_t *o, size_t k, int op, int depth)
{
    static const char *const chans[] = {"email", "webhook", NULL};
    struct pt_auto_step *s = &c->d->steps[k]; /* valid until the next emit */
    json_t *l1, *l2, *v1, *v2;
    int rc, ch = 0;
    size_t old;
    switch (op) {
    case PT_AOP_WAIT:
        return def_get_dur(c, o, "for", DEF_REQ, 1, &s->dur);
    case PT_AOP_WAIT_EVENT:
        if ((rc = def_get_str(c, o, "event", DEF_REQ, DEF_S_NAME, &s->event)) ||
            (rc = def_get_dur(c, o, "timeout", DEF_REQ, 1, &s->dur)) ||
            (rc = get_list(c, o, "on_event", 0, &l1)) ||
            (rc = get_list(c, o, "on_timeout", 0, &l2)))
            return rc;
        return compile_pair(c, k, depth, "on_event", l1, "on_timeout", l2);
    case PT_AOP_BRANCH:
        if ((rc = def_get_rule(c, o, "if", DEF_REQ, &s->cond_text, &s->cond)) ||
            (rc = get_list(c, o, "then", DEF_REQ, &l1)) || (rc = get_list(c, o, "else", 0, &l2)))
            return rc;
        if (json_array_size(l1) == 0 && (l2 == NULL || json_array_size(l2) == 0))
            return def_fail_at(c, "then", "a branch needs at least one step in then or else");
        return compile_pair(c, k, depth, "then", l1, "else", l2);
    case PT_AOP_SEND:
        if ((rc = def_get_str(c, o, "template", DEF_REQ, DEF_S_TMPL, &s->tmpl)) ||
            (rc = def_get_enum(c, o, "channel", chans, &ch)))
            return rc;
        s->channel = ch ? PT_CHAN_WEBHOOK : PT_CHAN_EMAIL;
        if (ch && (rc = def_get_str(c, o, "url", DEF_REQ, DEF_S_URL, &s->url)))
            return rc;
        if (!ch && def_member(c, o, "url", &old))
            return def_fail(c, "only a webhook send has a url (this step's channel is email)");
        return def_get_bool(c, o, "transactional", &s->transactional);
    case PT_AOP_POINTS:
        if ((rc = def_get_int(c, o, "points", DEF_REQ, -MAX_POINTS, MAX_POINTS, &s->points)))
            return rc;
        if (s->points == 0)
            return def_fail_at(c, "points",
                               "must not be 0 (positive points are added, negative taken)");
        return def_get_str(c, o, "reason", DEF_NULLABLE, DEF_S_NAME, &s->reason);
    case PT_AOP_VOUCHER:
        v1 = json_object_get(o, "reward");
        v2 = json_object_get(o, "pool");
        if (v1 && v2)
            return def_fail_at(c, "pool", "give reward or pool, not both");
        if (v1 == NULL && v2 == NULL)
            return def_missing(c, "reward",
                               "\"reward\" (a reward id) or \"pool\" (a voucher code pool's name)");
        if (v2)
            return def_get_str(c, o, "pool", DEF_REQ, DEF_S_NAME, &s->pool);
        return def_get_int(c, o, "reward", DEF_REQ, 1, INT64_MAX, &s->reward);
    case PT_AOP_TAG:
        v1 = json_object_get(o, "add");
        v2 = json_object_get(o, "remove");
        if (v1 && v2)
            return def_fail_at(c, "remove", "give add or remove, not both");
        if (v1 == NULL && v2 == NULL)
            return def_missing(c, "add", "\"add\" or \"remove\": a tag of 1 to 64 bytes");
        s->tag_add = v2 == NULL;
        return def_get_str(c, o, v2 ? "remove" : "add", DEF_REQ, DEF_S_TAG, &s->tag);
    default: /* webhook */
        return def_get_str(c, o, "url", DEF_REQ, DEF_S_URL, &s->url);
    }
}

static int compile_step(struct def_ctx *c, json_t *o, int depth)
{
    static const char *const types[] = {NULL,   "wait",   "wait_event", "branch", NULL,
                                        "send", "points", "voucher",    "tag",    "webhook"};
    static const char *const all[] = {"type",       "for",  "event",         "timeout", "on_event",
                                      "on_timeout", "if",   "then",          "else",    "template",
                                      "channel",    "url",  "transactional", "points",  "reason",
                                      "reward",     "pool", "add",           "remove",  NULL};
    if (!json_is_object(o))
        return def_fail(c,
                        "a step must be an object such as {\"type\": \"wait\", \"for\": \"1d\"}, "
                        "not %s",
                        pt_json_type_name(o));
    int op, rc;
    if ((rc = def_get_type(c, o, types, NOPS, "step", &op)))
        return rc;
    char what[64];
    snprintf(what, sizeof what, "a \"%s\" step", types[op]);
    size_t k;
    if ((rc = def_check_keys(c, o, step_keys(op), all, what)) || (rc = emit(c, op, &k)))
        return rc;
    return step_values(c, o, k, op, depth);
}

static int compile_list(struct def_ctx *c, json_t *a, int depth)
{
    for (size_t i = 0; i < json_array_size(a); i++) {
        size_t old = def_push_index(c, i);
        if (depth > PT_AUTO_MAX_DEPTH)
            return def_fail(c, "steps nest at most %d levels deep", PT_AUTO_MAX_DEPTH);
        int rc = compile_step(c, json_array_get(a, i), depth);
        if (rc)
            return rc;
        def_pop(c, old);
    }
    return 0;
}

int def_compile_steps(struct def_ctx *c, json_t *steps)
{
    size_t end;
    int rc = compile_list(c, steps, 1);
    return rc ? rc : emit(c, PT_AOP_END, &end);
}
