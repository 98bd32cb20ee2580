/*
 * program_json.c - reading a loyalty programme document (loyalty/program.h):
 * pt_loy_program_parse, jansson then the rules below. The canonical form
 * (pt_loy_program_json) and the arithmetic are program.c.
 *
 * Field paths (`field`, and the start of e->msg as "PATH: reason"): object
 * keys joined by '.', array positions as [i]; names used as keys (categories,
 * events) are written as they are, unquoted and unescaped:
 * "earn.points_per_unit", "earn.categories.gift-cards",
 * "earn.events.Review Written.points", "tiers.levels[1].threshold",
 * "pilot.customers[3]"; "" is the document itself (syntax errors, size). A
 * path longer than 159 bytes is cut at a UTF-8 character boundary.
 *
 * Numbers: jansson makes a JSON number an integer (no '.', 'e', 'E') or a
 * double, and the decimal text is gone by then.
 *  - whole-number fields take an integer or a double with a whole value
 *    (2.0, 1e3); 1.5, strings, booleans and null are errors;
 *  - decimal fields (points_per_unit, multipliers, factor) are kept in
 *    thousandths: a double r is accepted when r * 1000 is within 1e-6 of a
 *    whole number w, and taken as w. Within the ranges here (|r| <= 10^6) a
 *    double is exact to far better than 1e-6 thousandths, so 1.0005 or
 *    0.0001 are rejected; only a value within 10^-9 of a 3-decimal one
 *    (1.0000000001) is taken as that value.
 *
 * The rules (W whole number, M decimal with at most 3 decimals; default):
 *   enabled bool (true); currency 3 letters A-Z or null (none);
 *   point_value W 1..10^6 (1);
 *   earn: points_per_unit M 0..1000 (1); rounding "floor"|"round"|"ceil"
 *     (floor); categories {name: M 0..100}; default_multiplier M 0..100 (1);
 *     max_per_order, max_per_day W 0..P (0 = no cap);
 *     events {name: {points W 1..P required, max_per_day, max_total W 0..P}};
 *   bonuses.intensify null | {points W 1..P required, window_days (30),
 *     period_days (90), min_history_days (90) days, factor M > 1 ..100 (2)};
 *   bonuses.comeback null | {points W 1..P, after_days days, both required};
 *   tiers: basis "spend"|"points" (spend); window_days days (365);
 *     review_months 0..120 (12); levels [{name required, threshold W 0..P
 *     required and strictly ascending, multiplier M 0..100 (1),
 *     free_shipping bool (false)}], names unique;
 *   expiry.months 0..120 (0 = never); refunds.allow_debt bool (false);
 *   pilot null | {segment W >= 1} | {customers [ids]}: exactly one of them;
 *     ids de-duplicated;
 *   referral null | {referrer_points, friend_points W 0..P (0),
 *     return_window_days days (14), link null | string with "{code}"}.
 * days = W 1..3650, P = PT_LOY_MAX_POINTS. Names (categories, events, tiers)
 * and pilot ids are non-empty, without NUL. null is accepted only where it
 * means "absent" (listed above); the canonical form writes it there.
 *
 * Limits give PT_ETOOBIG: the document over PT_LOY_MAX_BODY bytes (also its
 * canonical form: a document whose defaults and escapes spelt out would not
 * fit is refused, so the canonical form always parses again), names over
 * PT_LOY_MAX_NAME bytes, ids over 256, the link over 512, counts over
 * PT_LOY_MAX_CATS/EVENTS/TIERS/PILOT, and a W over P. Any other broken rule
 * is PT_EPARSE. In each object the unknown keys are checked first, then the
 * known ones in the order above; the first error is reported.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loyalty/program.h"
#include "util/mem.h"

#define PATH_CAP   160
#define MAX_DAYS   3650
#define MAX_MONTHS 120
#define MAX_ID     256     /* bytes of a pilot customer id (PT_EV_MAX_ID) */
#define MAX_LINK   512     /* bytes of the referral link template */
#define MAX_MULT   100000  /* multipliers: 100 */
#define MAX_RATE   1000000 /* points_per_unit: 1000 */

struct pctx {
    char path[PATH_CAP]; /* the JSON path of the value being read */
    size_t plen;
    char *field;
    struct pt_err *e;
};

/* ---- paths and errors ---- */

/* Append s[0..n) to the path, cut at a UTF-8 boundary if it does not fit. */
static void path_add(struct pctx *c, const char *s, size_t n)
{
    size_t room = PATH_CAP - 1 - c->plen;
    if (n > room) {
        n = room;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(c->path + c->plen, s, n);
    c->plen += n;
    c->path[c->plen] = '\0';
}

static size_t push_key(struct pctx *c, const char *key, size_t klen)
{
    size_t old = c->plen;
    if (c->plen > 0)
        path_add(c, ".", 1);
    path_add(c, key, klen);
    return old;
}

static size_t push_index(struct pctx *c, size_t i)
{
    char b[32];
    size_t old = c->plen;
    int n = snprintf(b, sizeof b, "[%zu]", i);
    path_add(c, b, (size_t)n);
    return old;
}

static void pop(struct pctx *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

__attribute__((format(printf, 3, 4))) static int fail(struct pctx *c, int code, const char *fmt,
                                                      ...)
{
    if (c->field)
        memcpy(c->field, c->path, c->plen + 1);
    if (c->e == NULL)
        return code;
    char why[PT_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (n < 0)
        why[0] = '\0';
    if (c->plen)
        pt_err_set(c->e, code, "%s: %s", c->path, why);
    else
        pt_err_set(c->e, code, "%s", why);
    c->e->line = c->e->column = 0;
    return code;
}

static int nomem(struct pctx *c)
{
    return fail(c, PT_ENOMEM, "out of memory");
}

/* Bytes of s[0..n) to quote in a message: at most 64, whole characters. */
static int quote_len(const char *s, size_t n)
{
    if (n > 64) {
        n = 64;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    return (int)n;
}

static const char *kind_of(const json_t *v)
{
    static const char *const kinds[] = {"an object", "a list", "a string", "a number",
                                        "a number",  "true",   "false",    "null"};
    unsigned t = (unsigned)json_typeof(v);
    return t < 8 ? kinds[t] : "null";
}

/* ---- unknown keys ---- */

/* Edit distance (insert, delete, substitute, swap neighbours) of short strings. */
static size_t distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t d[3][33];
    if (na > 32 || nb > 32)
        return 99;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t *cur = d[i % 3], *prev = d[(i - 1) % 3], *prev2 = d[(i + 1) % 3];
        cur[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t best = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
    }
    return d[na % 3][nb];
}

/* Every key of o must be in keys (NULL-terminated). */
static int check_keys(struct pctx *c, json_t *o, const char *const *keys)
{
    const char *k;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach(o, k, klen, v)
    {
        size_t i = 0;
        while (keys[i] && (strlen(keys[i]) != klen || memcmp(keys[i], k, klen) != 0))
            i++;
        if (keys[i])
            continue;
        const char *near = NULL;
        size_t bestd = 3;
        for (i = 0; keys[i]; i++) {
            size_t d = distance(k, klen, keys[i], strlen(keys[i]));
            if (d < bestd && d * 3 <= strlen(keys[i])) {
                bestd = d;
                near = keys[i];
            }
        }
        push_key(c, k, klen);
        if (near)
            return fail(c, PT_EPARSE, "unknown key \"%.*s\"; did you mean \"%s\"?",
                        quote_len(k, klen), k, near);
        char known[256];
        size_t n = 0;
        for (i = 0; keys[i] && n < sizeof known - 40; i++)
            n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", i ? ", " : "", keys[i]);
        return fail(c, PT_EPARSE, "unknown key \"%.*s\" (known keys: %s)", quote_len(k, klen), k,
                    known);
    }
    return 0;
}

/* ---- values ---- */

enum { REQ = 1, LIMIT = 2 }; /* required; over hi is PT_ETOOBIG */

/* A whole number lo..hi (v not NULL; the path names it). */
static int whole(struct pctx *c, json_t *v, int64_t lo, int64_t hi, int flags, int64_t *out)
{
    int64_t x;
    if (json_is_integer(v)) {
        x = (int64_t)json_integer_value(v);
    } else if (json_is_real(v)) {
        double r = json_real_value(v);
        if (r != floor(r))
            return fail(c, PT_EPARSE, "must be a whole number, not %.15g", r);
        if (r >= 9.2e18 || r <= -9.2e18) {
            if (r > 0 && (flags & LIMIT))
                return fail(c, PT_ETOOBIG, "%.15g is over the limit of %lld", r, (long long)hi);
            return fail(c, PT_EPARSE, "must be a whole number from %lld to %lld", (long long)lo,
                        (long long)hi);
        }
        x = (int64_t)r;
    } else {
        return fail(c, PT_EPARSE, "must be a whole number, not %s", kind_of(v));
    }
    if (x > hi && (flags & LIMIT))
        return fail(c, PT_ETOOBIG, "%lld is over the limit of %lld", (long long)x, (long long)hi);
    if (x < lo || x > hi)
        return fail(c, PT_EPARSE, "must be a whole number from %lld to %lld, not %lld",
                    (long long)lo, (long long)hi, (long long)x);
    *out = x;
    return 0;
}

/* A decimal with at most 3 decimals, lo..hi in thousandths (both >= 0). */
static int decimal(struct pctx *c, json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t m;
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < lo / 1000 - 1 || x > hi / 1000 + 1)
            goto range;
        m = (int64_t)x * 1000;
    } else if (json_is_real(v)) {
        double x = json_real_value(v) * 1000.0;
        if (!(x > (double)lo - 1.0 && x < (double)hi + 1.0))
            goto range;
        m = llround(x);
        if (fabs(x - (double)m) > 1e-6)
            return fail(c, PT_EPARSE, "must have at most 3 decimals, not %.15g",
                        json_real_value(v));
    } else {
        return fail(c, PT_EPARSE, "must be a number, not %s", kind_of(v));
    }
    if (m < lo || m > hi)
        goto range;
    *out = m;
    return 0;
range:
    if (lo == 1001) /* the only exclusive bound: the intensify factor */
        return fail(c, PT_EPARSE, "must be a number greater than 1 and at most %g",
                    (double)hi / 1000);
    return fail(c, PT_EPARSE, "must be a number from %g to %g", (double)lo / 1000,
                (double)hi / 1000);
}

static int get_whole(struct pctx *c, json_t *o, const char *key, int64_t lo, int64_t hi, int flags,
                     int64_t *out)
{
    json_t *v = json_object_get(o, key);
    size_t old = push_key(c, key, strlen(key));
    int rc = 0;
    if (v)
        rc = whole(c, v, lo, hi, flags, out);
    else if (flags & REQ)
        rc = fail(c, PT_EPARSE, "missing: give a whole number from %lld to %lld", (long long)lo,
                  (long long)hi);
    pop(c, old);
    return rc;
}

static int get_days(struct pctx *c, json_t *o, const char *key, int flags, int64_t *out)
{
    return get_whole(c, o, key, 1, MAX_DAYS, flags, out);
}

static int get_decimal(struct pctx *c, json_t *o, const char *key, int64_t lo, int64_t hi,
                       int64_t *out)
{
    json_t *v = json_object_get(o, key);
    size_t old = push_key(c, key, strlen(key));
    int rc = v ? decimal(c, v, lo, hi, out) : 0;
    pop(c, old);
    return rc;
}

static int get_bool(struct pctx *c, json_t *o, const char *key, int *out)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return 0;
    size_t old = push_key(c, key, strlen(key));
    if (!json_is_boolean(v))
        return fail(c, PT_EPARSE, "must be true or false, not %s", kind_of(v));
    *out = json_is_true(v);
    pop(c, old);
    return 0;
}

/* One of names[] (NULL-terminated) -> its index. */
static int get_enum(struct pctx *c, json_t *o, const char *key, const char *const *names, int *out)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return 0;
    size_t old = push_key(c, key, strlen(key));
    for (int i = 0; json_is_string(v) && names[i]; i++) {
        if (strlen(names[i]) == json_string_length(v) &&
            strcmp(names[i], json_string_value(v)) == 0) {
            *out = i;
            pop(c, old);
            return 0;
        }
    }
    char list[128];
    size_t n = 0;
    for (int i = 0; names[i] && n < sizeof list - 24; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s\"%s\"", i ? " or " : "", names[i]);
    if (!json_is_string(v))
        return fail(c, PT_EPARSE, "must be %s, not %s", list, kind_of(v));
    return fail(c, PT_EPARSE, "must be %s, not \"%.*s\"", list,
                quote_len(json_string_value(v), json_string_length(v)), json_string_value(v));
}

/* A non-empty name of at most `max` bytes without NUL, copied into *out. */
static int name_copy(struct pctx *c, const char *s, size_t n, size_t max, const char *what,
                     char **out)
{
    if (n == 0)
        return fail(c, PT_EPARSE, "%s must not be empty", what);
    if (n > max)
        return fail(c, PT_ETOOBIG, "%s is %zu bytes; the limit is %zu", what, n, max);
    if (memchr(s, '\0', n))
        return fail(c, PT_EPARSE, "%s must not contain a NUL character", what);
    if ((*out = pt_strndup(s, n)) == NULL)
        return nomem(c);
    return 0;
}

/* A string member (NULL if absent) as a name, copied into *out. */
static int get_string(struct pctx *c, json_t *v, size_t max, const char *what, char **out)
{
    if (!json_is_string(v))
        return fail(c, PT_EPARSE, "%s must be a string, not %s", what, kind_of(v));
    return name_copy(c, json_string_value(v), json_string_length(v), max, what, out);
}

typedef int (*section_fn)(struct pctx *c, struct pt_loy_program *p, json_t *o);

/*
 * Member `key` of o: absent -> nothing; null -> nothing when nullable, else
 * an error; an object -> its keys checked against keys[] (NULL: the keys are
 * names, any is fine), then fn on it with the path pushed. *present (may be NULL) says whether fn
 * ran.
 */
static int section(struct pctx *c, struct pt_loy_program *p, json_t *o, const char *key,
                   int nullable, const char *const *keys, section_fn fn, int *present)
{
    json_t *v = json_object_get(o, key);
    if (present)
        *present = 0;
    if (v == NULL || (nullable && json_is_null(v)))
        return 0;
    size_t old = push_key(c, key, strlen(key));
    if (!json_is_object(v))
        return fail(c, PT_EPARSE, "must be an object%s, not %s", nullable ? " or null" : "",
                    kind_of(v));
    int rc = keys ? check_keys(c, v, keys) : 0;
    if (rc == 0)
        rc = fn(c, p, v);
    if (rc == 0 && present)
        *present = 1;
    pop(c, old);
    return rc;
}

/* ---- the sections ---- */

static int cmp_cat(const void *a, const void *b)
{
    return strcmp(((const struct pt_loy_cat *)a)->name, ((const struct pt_loy_cat *)b)->name);
}

static int cmp_event(const void *a, const void *b)
{
    return strcmp(((const struct pt_loy_event_rule *)a)->name,
                  ((const struct pt_loy_event_rule *)b)->name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int parse_cats(struct pctx *c, struct pt_loy_program *p, json_t *o)
{
    size_t n = json_object_size(o);
    if (n > PT_LOY_MAX_CATS)
        return fail(c, PT_ETOOBIG, "%zu categories; the limit is %d", n, PT_LOY_MAX_CATS);
    if (n == 0)
        return 0;
    if ((p->cats = pt_calloc(n, sizeof *p->cats)) == NULL)
        return nomem(c);
    const char *k;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach(o, k, klen, v)
    {
        size_t old = push_key(c, k, klen);
        struct pt_loy_cat *cat = &p->cats[p->ncats];
        int rc = name_copy(c, k, klen, PT_LOY_MAX_NAME, "a category name", &cat->name);
        if (rc)
            return rc;
        p->ncats++;
        if ((rc = decimal(c, v, 0, MAX_MULT, &cat->milli)))
            return rc;
        pop(c, old);
    }
    qsort(p->cats, p->ncats, sizeof *p->cats, cmp_cat);
    return 0;
}

static int parse_events(struct pctx *c, struct pt_loy_program *p, json_t *o)
{
    static const char *const keys[] = {"points", "max_per_day", "max_total", NULL};
    size_t n = json_object_size(o);
    if (n > PT_LOY_MAX_EVENTS)
        return fail(c, PT_ETOOBIG, "%zu event rules; the limit is %d", n, PT_LOY_MAX_EVENTS);
    if (n == 0)
        return 0;
    if ((p->events = pt_calloc(n, sizeof *p->events)) == NULL)
        return nomem(c);
    const char *k;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach(o, k, klen, v)
    {
        size_t old = push_key(c, k, klen);
        struct pt_loy_event_rule *r = &p->events[p->nevents];
        int rc = name_copy(c, k, klen, PT_LOY_MAX_NAME, "an event name", &r->name);
        if (rc)
            return rc;
        p->nevents++;
        if (!json_is_object(v))
            return fail(c, PT_EPARSE, "must be an object like {\"points\": 10}, not %s",
                        kind_of(v));
        if ((rc = check_keys(c, v, keys)) ||
            (rc = get_whole(c, v, "points", 1, PT_LOY_MAX_POINTS, REQ | LIMIT, &r->points)) ||
            (rc = get_whole(c, v, "max_per_day", 0, PT_LOY_MAX_POINTS, LIMIT, &r->max_per_day)) ||
            (rc = get_whole(c, v, "max_total", 0, PT_LOY_MAX_POINTS, LIMIT, &r->max_total)))
            return rc;
        pop(c, old);
    }
    qsort(p->events, p->nevents, sizeof *p->events, cmp_event);
    return 0;
}

static int parse_earn(struct pctx *c, struct pt_loy_program *p, json_t *o)
{
    static const char *const rounding[] = {"floor", "round", "ceil", NULL};
    int mode = (int)p->rounding, rc;
    if ((rc = get_decimal(c, o, "points_per_unit", 0, MAX_RATE, &p->rate_milli)) ||
        (rc = get_enum(c, o, "rounding", rounding, &mode)))
        return rc;
    p->rounding = (enum pt_loy_round)mode;
    if ((rc = section(c, p, o, "categories", 0, NULL, parse_cats, NULL)))
        return rc;
    if ((rc = get_decimal(c, o, "default_multiplier", 0, MAX_MULT, &p->default_cat_milli)) ||
        (rc = get_whole(c, o, "max_per_order", 0, PT_LOY_MAX_POINTS, LIMIT, &p->max_per_order)) ||
        (rc = get_whole(c, o, "max_per_day", 0, PT_LOY_MAX_POINTS, LIMIT, &p->max_per_day)) ||
        (rc = section(c, p, o, "events", 0, NULL, parse_events, NULL)))
        return rc;
    return 0;
}
static int parse_intensify(struct pctx *c, struct pt_loy_program *p, json_t *o)
{
    p->intensify_window_days = 30;
    p->intensify_factor_milli = 2000;
    p->intensify_period_days = 90;
    p->intensify_min_history_days = 90;
    int rc;
    if ((rc = get_whole(c, o, "points", 1, PT_LOY_MAX_POINTS, REQ | LIMIT, &p->intensify_points)) ||
        (rc = get_days(c, o, "window_days", 0, &p->intensify_window_days)) ||
        (rc = get_decimal(c, o, "factor", 1001, MAX_MULT, &p->intensify_factor_milli)) ||
        (rc = get_days(c, o, "period_days", 0, &p->intensify_period_days)) ||
        (rc = get_days(c, o, "min_history_days", 0, &p->intensify_min_history_days)))
        return rc;
    return 0;
}

static int parse_comeback(struct pctx *c, struct pt_loy_program *p, json_t *o)
{
    int rc;
    if ((rc = get_whole(c, o, "points", 1, PT_LOY_MAX_POINTS, REQ | LIMIT, &p->comeback_points)) ||
        (rc = get_days(c, o, "after_days", REQ, &p->comeback_after_days)))
        return rc;
    return 0;
}

static int parse_bonuses(struct pctx *c, struct pt_loy_program *p, json_t *o)
{
    static const char *const ik[] = {"points",      "window_days",      "factor",
                                     "period_days", "min_history_days", NULL};
    static const char *const ck[] = {"points", "after_days", NULL};
    int rc = section(c, p, o, "intensify", 1, ik, parse_intensify, &p->has_intensify);
    if (rc == 0)
        rc = section(c, p, o, "comeback", 1, ck, parse_comeback, &p->has_comeback);
    return rc;
}

static int parse_level(struct pctx *c, struct pt_loy_program *p, json_t *v)
{
    static const char *const keys[] = {"name", "threshold", "multiplier", "free_shipping", NULL};
    size_t i = p->ntiers;
    struct pt_loy_tier *t = &p->tiers[i];
    if (!json_is_object(v))
        return fail(c, PT_EPARSE,
                    "must be an object like {\"name\": \"Gold\", \"threshold\": "
                    "100000}, not %s",
                    kind_of(v));
    int rc = check_keys(c, v, keys);
    if (rc)
        return rc;
    json_t *name = json_object_get(v, "name");
    size_t old = push_key(c, "name", 4);
    if (name == NULL)
        return fail(c, PT_EPARSE, "missing: give the level's name");
    if ((rc = get_string(c, name, PT_LOY_MAX_NAME, "a tier name", &t->name)))
        return rc;
    p->ntiers++;
    t->earn_milli = 1000;
    for (size_t j = 0; j < i; j++)
        if (strcmp(p->tiers[j].name, t->name) == 0)
            return fail(c, PT_EPARSE, "the name \"%s\" is already used by tiers.levels[%zu]",
                        t->name, j);
    pop(c, old);
    if ((rc = get_whole(c, v, "threshold", 0, PT_LOY_MAX_POINTS, REQ | LIMIT, &t->threshold)))
        return rc;
    if (i > 0 && t->threshold <= p->tiers[i - 1].threshold) {
        push_key(c, "threshold", 9);
        return fail(c, PT_EPARSE,
                    "thresholds must rise strictly: %lld is not above the previous level's %lld",
                    (long long)t->threshold, (long long)p->tiers[i - 1].threshold);
    }
    if ((rc = get_decimal(c, v, "multiplier", 0, MAX_MULT, &t->earn_milli)) ||
        (rc = get_bool(c, v, "free_shipping", &t->free_shipping)))
        return rc;
    return 0;
}

static int parse_tiers(struct pctx *c, struct pt_loy_program *p, json_t *o)
{
    static const char *const basis[] = {"spend", "points", NULL};
    int b = (int)p->tier_basis, rc;
    if ((rc = get_enum(c, o, "basis", basis, &b)) ||
        (rc = get_days(c, o, "window_days", 0, &p->tier_window_days)) ||
        (rc = get_whole(c, o, "review_months", 0, MAX_MONTHS, 0, &p->tier_review_months)))
        return rc;
    p->tier_basis = (enum pt_loy_basis)b;
    json_t *lv = json_object_get(o, "levels");
    if (lv == NULL)
        return 0;
    size_t old = push_key(c, "levels", 6);
    if (!json_is_array(lv))
        return fail(c, PT_EPARSE, "must be a list of levels, not %s", kind_of(lv));
    size_t n = json_array_size(lv);
    if (n > PT_LOY_MAX_TIERS)
        return fail(c, PT_ETOOBIG, "%zu levels; the limit is %d", n, PT_LOY_MAX_TIERS);
    if (n > 0 && (p->tiers = pt_calloc(n, sizeof *p->tiers)) == NULL)
        return nomem(c);
    for (size_t i = 0; i < n; i++) {
        size_t o2 = push_index(c, i);
        if ((rc = parse_level(c, p, json_array_get(lv, i))))
            return rc;
        pop(c, o2);
    }
    pop(c, old);
    return 0;
}

static int parse_expiry(struct pctx *c, struct pt_loy_program *p, json_t *o)
{
    return get_whole(c, o, "months", 0, MAX_MONTHS, 0, &p->expiry_months);
}

static int parse_refunds(struct pctx *c, struct pt_loy_program *p, json_t *o)
{
    return get_bool(c, o, "allow_debt", &p->allow_debt);
}

static int parse_customers(struct pctx *c, struct pt_loy_program *p, json_t *a)
{
    if (!json_is_array(a))
        return fail(c, PT_EPARSE, "must be a list of customer ids, not %s", kind_of(a));
    size_t n = json_array_size(a);
    if (n == 0)
        return fail(c, PT_EPARSE, "must not be empty (leave pilot out to let everyone earn)");
    if (n > PT_LOY_MAX_PILOT)
        return fail(c, PT_ETOOBIG, "%zu customer ids; the limit is %d", n, PT_LOY_MAX_PILOT);
    if ((p->pilot_ids = pt_calloc(n, sizeof *p->pilot_ids)) == NULL)
        return nomem(c);
    for (size_t i = 0; i < n; i++) {
        size_t old = push_index(c, i);
        int rc =
            get_string(c, json_array_get(a, i), MAX_ID, "a customer id", &p->pilot_ids[p->npilot]);
        if (rc)
            return rc;
        p->npilot++;
        pop(c, old);
    }
    qsort(p->pilot_ids, p->npilot, sizeof *p->pilot_ids, cmp_str);
    size_t k = 1;
    for (size_t i = 1; i < p->npilot; i++) {
        if (strcmp(p->pilot_ids[i], p->pilot_ids[k - 1]) == 0)
            pt_free(p->pilot_ids[i]);
        else
            p->pilot_ids[k++] = p->pilot_ids[i];
    }
    p->npilot = k;
    return 0;
}

static int parse_pilot(struct pctx *c, struct pt_loy_program *p, json_t *o)
{
    json_t *seg = json_object_get(o, "segment"), *ids = json_object_get(o, "customers");
    if ((seg == NULL) == (ids == NULL))
        return fail(c, PT_EPARSE,
                    seg ? "give segment or customers, not both"
                        : "needs a segment or a list of customers");
    if (seg)
        return get_whole(c, o, "segment", 1, INT64_MAX, 0, &p->pilot_segment);
    size_t old = push_key(c, "customers", 9);
    int rc = parse_customers(c, p, ids);
    if (rc == 0)
        pop(c, old);
    return rc;
}

static int parse_referral(struct pctx *c, struct pt_loy_program *p, json_t *o)
{
    p->return_window_days = 14;
    int rc;
    if ((rc = get_whole(c, o, "referrer_points", 0, PT_LOY_MAX_POINTS, LIMIT,
                        &p->referrer_points)) ||
        (rc = get_whole(c, o, "friend_points", 0, PT_LOY_MAX_POINTS, LIMIT, &p->friend_points)) ||
        (rc = get_days(c, o, "return_window_days", 0, &p->return_window_days)))
        return rc;
    json_t *link = json_object_get(o, "link");
    if (link == NULL || json_is_null(link))
        return 0;
    size_t old = push_key(c, "link", 4);
    if ((rc = get_string(c, link, MAX_LINK, "the link", &p->link)))
        return rc;
    if (strstr(p->link, "{code}") == NULL)
        return fail(c, PT_EPARSE, "must contain {code} where the referral code goes");
    pop(c, old);
    return 0;
}

static int parse_root(struct pctx *c, struct pt_loy_program *p, json_t *o)
{
    static const char *const earn_k[] = {
        "points_per_unit", "rounding",    "categories", "default_multiplier",
        "max_per_order",   "max_per_day", "events",     NULL};
    static const char *const bonus_k[] = {"intensify", "comeback", NULL};
    static const char *const tiers_k[] = {"basis", "window_days", "review_months", "levels", NULL};
    static const char *const exp_k[] = {"months", NULL};
    static const char *const ref_k[] = {"allow_debt", NULL};
    static const char *const pilot_k[] = {"segment", "customers", NULL};
    static const char *const referral_k[] = {"referrer_points", "friend_points",
                                             "return_window_days", "link", NULL};
    int rc = get_bool(c, o, "enabled", &p->enabled);
    if (rc)
        return rc;
    json_t *cur = json_object_get(o, "currency");
    if (cur && !json_is_null(cur)) {
        const char *s = json_string_value(cur);
        size_t old = push_key(c, "currency", 8);
        if (!json_is_string(cur) || json_string_length(cur) != 3 || s[0] < 'A' || s[0] > 'Z' ||
            s[1] < 'A' || s[1] > 'Z' || s[2] < 'A' || s[2] > 'Z')
            return fail(c, PT_EPARSE, "must be an ISO-4217 code of 3 upper-case letters (\"PLN\")");
        memcpy(p->currency, s, 4);
        pop(c, old);
    }
    if ((rc = get_whole(c, o, "point_value", 1, 1000000, 0, &p->point_value)) ||
        (rc = section(c, p, o, "earn", 0, earn_k, parse_earn, NULL)) ||
        (rc = section(c, p, o, "bonuses", 0, bonus_k, parse_bonuses, NULL)) ||
        (rc = section(c, p, o, "tiers", 0, tiers_k, parse_tiers, NULL)) ||
        (rc = section(c, p, o, "expiry", 0, exp_k, parse_expiry, NULL)) ||
        (rc = section(c, p, o, "refunds", 0, ref_k, parse_refunds, NULL)) ||
        (rc = section(c, p, o, "pilot", 1, pilot_k, parse_pilot, &p->has_pilot)) ||
        (rc = section(c, p, o, "referral", 1, referral_k, parse_referral, &p->has_referral)))
        return rc;
    return 0;
}

int pt_loy_program_parse(const char *json, size_t len, struct pt_loy_program *p, char *field,
                         struct pt_err *e)
{
    static const char *const root_k[] = {"enabled", "currency", "point_value", "earn",
                                         "bonuses", "tiers",    "expiry",      "refunds",
                                         "pilot",   "referral", NULL};
    struct pctx c = {.field = field, .e = e};
    memset(p, 0, sizeof *p);
    p->enabled = 1;
    p->point_value = 1;
    p->rate_milli = 1000;
    p->rounding = PT_LOY_FLOOR;
    p->default_cat_milli = 1000;
    p->tier_basis = PT_LOY_SPEND;
    p->tier_window_days = 365;
    p->tier_review_months = 12;
    p->return_window_days = 14;
    if (field)
        field[0] = '\0';
    pt_err_clear(e);
    if (len > PT_LOY_MAX_BODY)
        return fail(&c, PT_ETOOBIG, "the document is %zu bytes; the limit is %u", len,
                    PT_LOY_MAX_BODY);
    json_error_t je;
    json_t *root = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        if (json_error_code(&je) == json_error_out_of_memory)
            return nomem(&c);
        int rc = fail(&c, PT_EPARSE, "invalid JSON at line %d, column %d: %s",
                      je.line > 0 ? je.line : 1, je.column > 0 ? je.column : 1, je.text);
        if (e) {
            e->line = je.line > 0 ? (uint64_t)je.line : 1;
            e->column = je.column > 0 ? (uint64_t)je.column : 1;
        }
        return rc;
    }
    int rc;
    if (!json_is_object(root))
        rc = fail(&c, PT_EPARSE, "the programme must be a JSON object, not %s", kind_of(root));
    else if ((rc = check_keys(&c, root, root_k)) == 0)
        rc = parse_root(&c, p, root);
    json_decref(root);
    if (rc == 0) { /* the canonical form must parse again (file header) */
        struct pt_buf b;
        pt_buf_init(&b);
        rc = pt_loy_program_json(p, &b) ? nomem(&c) : 0;
        if (rc == 0 && b.len > PT_LOY_MAX_BODY)
            rc = fail(&c, PT_ETOOBIG,
                      "the programme written out in full is %zu bytes; the limit is %u", b.len,
                      PT_LOY_MAX_BODY);
        pt_buf_release(&b);
    }
    if (rc)
        pt_loy_program_release(p);
    return rc;
}
