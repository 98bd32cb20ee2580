/*
 * reward.c - a reward definition of the catalogue and the voucher spec it
 * carries (loyalty/reward.h): JSON in (jansson, then the rules below) and the
 * canonical JSON out.
 *
 * The rules (default in brackets; "null" = the key may be null, meaning the
 * default, which in partial mode clears the value):
 *   name         string 1..200 bytes, required
 *   description  string 0..2000 bytes; null [none]
 *   cost         integer 1..10^9 points, required
 *   stock        integer >= 0; null [-1 = unlimited]
 *   valid_from, valid_to  ISO-8601 date-time (offsets are converted to UTC),
 *                after 1970-01-01T00:00:00Z and at most year 9999; null
 *                [0 = open]; valid_to later than valid_from when both are set
 *   per_member_limit  integer >= 0; null [0 = no limit]
 *   min_tier     string 1..128 bytes; null [none]
 *   voucher      object, required:
 *     type        "amount" | "percent" | "free_shipping", required
 *     value       amount: integer 1..10^12 minor units; percent: 1..100
 *                 (both required); free_shipping: absent, null or 0
 *     currency    amount only: 3 letters A-Z; null [the shop's]
 *     valid_days  integer 0..3650; null [0 = never expires]
 *     max_uses    integer >= 0; null [1] (0 = unlimited)
 *     expires     pools only: ISO-8601 date-time; null [0]
 *     name, count, prefix: pools only, ignored here (the caller reads them).
 * Strings must not contain NUL. Numbers must be JSON integers (no 1.0).
 *
 * Errors are PT_EPARSE (PT_ENOMEM when memory runs out). `field` gets the
 * JSON path of the offending value ("cost", "voucher.value", "" for the
 * document), cut at 63 bytes on a UTF-8 boundary; e->msg is "PATH: reason"
 * ("reason" alone for the document). Unknown keys are checked before the
 * known ones, and the known ones in the order above; the first error wins.
 *
 * Partial mode starts from a deep copy of *r and swaps it in on success, so
 * a failed update leaves *r as it was.
 */
#include "loyalty/reward.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ingest/fields.h"
#include "store/store.h"
#include "util/mem.h"
#include "util/text.h"
#include "util/timeutil.h"

#define PATH_CAP     160
#define FIELD_CAP    64 /* reward.h: `field` holds at least 64 bytes */
#define MAX_NAME     200
#define MAX_DESC     2000
#define MAX_TIER     128
#define MAX_COST     1000000000LL
#define MAX_AMOUNT   1000000000000LL
#define MAX_DAYS     3650
#define MAX_TIME     253402300799LL /* 9999-12-31T23:59:59Z */
#define DEFAULT_USES 1

struct ctx {
    char path[PATH_CAP];
    size_t plen;
    char *field;
    struct pt_err *e;
};

/* ---- paths and errors ---- */


static size_t push(struct ctx *c, const char *key, size_t klen)
{
    size_t old = c->plen;
    if (c->plen > 0 && c->plen < PATH_CAP - 1)
        c->path[c->plen++] = '.';
    size_t n = pt_utf8_cut(key, klen, PATH_CAP - 1 - c->plen);
    memcpy(c->path + c->plen, key, n);
    c->plen += n;
    c->path[c->plen] = '\0';
    return old;
}

static void pop(struct ctx *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

__attribute__((format(printf, 3, 4))) static int fail_code(struct ctx *c, int code, const char *fmt,
                                                           ...)
{
    if (c->field) {
        size_t n = pt_utf8_cut(c->path, c->plen, FIELD_CAP - 1);
        memcpy(c->field, c->path, n);
        c->field[n] = '\0';
    }
    if (c->e == NULL)
        return code;
    char why[PT_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (n < 0)
        why[0] = '\0';
    if (c->plen > 0)
        pt_err_set(c->e, code, "%s: %s", c->path, why);
    else
        pt_err_set(c->e, code, "%s", why);
    c->e->line = c->e->column = 0;
    return code;
}

#define fail(c, ...) fail_code((c), PT_EPARSE, __VA_ARGS__)

static int nomem(struct ctx *c)
{
    return fail_code(c, PT_ENOMEM, "out of memory");
}


/* Bytes of a user string to quote in a message: at most 40, whole characters. */
static int quote_len(const char *s, size_t n)
{
    return (int)pt_utf8_cut(s, n, 40);
}

/* ---- unknown keys ---- */


static int in_list(const char *const *list, const char *k, size_t klen)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strlen(list[i]) == klen && memcmp(list[i], k, klen) == 0)
            return 1;
    return 0;
}

/* Every key of o is in known or in ignored (NULL-terminated lists). */
static int check_keys(struct ctx *c, json_t *o, const char *const *known,
                      const char *const *ignored)
{
    const char *k;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach(o, k, klen, v)
    {
        if (in_list(known, k, klen) || in_list(ignored, k, klen))
            continue;
        const char *near = NULL;
        size_t best = 3;
        for (size_t i = 0; known[i]; i++) {
            size_t d = pt_edit_distance(k, klen, known[i], strlen(known[i]));
            if (d < best && d * 3 <= strlen(known[i])) {
                best = d;
                near = known[i];
            }
        }
        push(c, k, klen);
        if (near)
            return fail(c, "unknown key \"%.*s\"; did you mean \"%s\"?", quote_len(k, klen), k,
                        near);
        char list[256];
        size_t n = 0;
        for (size_t i = 0; known[i] && n < sizeof list; i++) {
            int w = snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", known[i]);
            n += w > 0 ? (size_t)w : 0;
        }
        return fail(c, "unknown key \"%.*s\" (known keys: %s)", quote_len(k, klen), k, list);
    }
    return 0;
}

/* ---- values (the path names the value) ---- */

static int int_value(struct ctx *c, const json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
    char range[96];
    if (hi == INT64_MAX)
        snprintf(range, sizeof range, "an integer of at least %lld", (long long)lo);
    else
        snprintf(range, sizeof range, "an integer from %lld to %lld", (long long)lo, (long long)hi);
    if (json_is_integer(v)) {
        int64_t x = (int64_t)json_integer_value(v);
        if (x < lo || x > hi)
            return fail(c, "must be %s, not %lld", range, (long long)x);
        *out = x;
        return 0;
    }
    if (json_is_real(v)) { /* (1.0 is shown as such, not as 1) */
        char num[40];
        snprintf(num, sizeof num, "%.15g", json_real_value(v));
        if (strpbrk(num, ".eEni") == NULL)
            snprintf(num + strlen(num), sizeof num - strlen(num), ".0");
        return fail(c, "must be %s, not %s", range, num);
    }
    return fail(c, "must be %s, not %s", range, pt_json_type_name(v));
}

/* A string of lo..hi bytes without NUL, copied to *out (old one freed). */
static int str_value(struct ctx *c, const json_t *v, size_t lo, size_t hi, char **out)
{
    if (!json_is_string(v))
        return fail(c, "must be a string, not %s", pt_json_type_name(v));
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (memchr(s, '\0', n))
        return fail(c, "must not contain a NUL character");
    if (n < lo)
        return fail(c, "must not be empty");
    if (n > hi)
        return fail(c, "is %zu bytes long; the limit is %zu bytes", n, hi);
    char *copy = pt_strndup(s, n);
    if (copy == NULL)
        return nomem(c);
    pt_free(*out);
    *out = copy;
    return 0;
}

static int time_value(struct ctx *c, const json_t *v, int64_t *out)
{
    if (!json_is_string(v))
        return fail(c,
                    "must be an ISO-8601 date-time string such as \"2026-01-01T00:00:00Z\", "
                    "not %s",
                    pt_json_type_name(v));
    const char *s = json_string_value(v), *why = NULL;
    size_t n = json_string_length(v);
    int64_t t;
    if (pt_parse_time(s, n, PT_TIME_ISO, &t, &why))
        return fail(c,
                    "%s (\"%.*s\"); give an ISO-8601 date-time such as "
                    "\"2026-01-01T00:00:00Z\"",
                    why ? why : "not an ISO-8601 date-time", quote_len(s, n), s);
    if (t <= 0 || t > MAX_TIME)
        return fail(c,
                    "must be after 1970-01-01T00:00:00Z and no later than "
                    "9999-12-31T23:59:59Z (\"%.*s\")",
                    quote_len(s, n), s);
    *out = t;
    return 0;
}

/* The member key of o; when present its name is pushed on the path. */
static json_t *member(struct ctx *c, json_t *o, const char *key, size_t *old)
{
    json_t *v = json_object_get(o, key);
    if (v)
        *old = push(c, key, strlen(key));
    return v;
}

/* Optional integer: absent keeps *out, null sets null_val (when nullable). */
static int opt_int(struct ctx *c, json_t *o, const char *key, int64_t lo, int64_t hi, int nullable,
                   int64_t null_val, int64_t *out)
{
    size_t old;
    json_t *v = member(c, o, key, &old);
    if (v == NULL)
        return 0;
    int rc = 0;
    if (nullable && json_is_null(v))
        *out = null_val;
    else
        rc = int_value(c, v, lo, hi, out);
    pop(c, old);
    return rc;
}

/* Optional string: absent keeps *out, null clears it (when nullable). */
static int opt_str(struct ctx *c, json_t *o, const char *key, size_t lo, size_t hi, int nullable,
                   char **out)
{
    size_t old;
    json_t *v = member(c, o, key, &old);
    if (v == NULL)
        return 0;
    int rc = 0;
    if (nullable && json_is_null(v)) {
        pt_free(*out);
        *out = NULL;
    } else {
        rc = str_value(c, v, lo, hi, out);
    }
    pop(c, old);
    return rc;
}

/* Optional time: absent keeps *out, null sets 0. */
static int opt_time(struct ctx *c, json_t *o, const char *key, int64_t *out)
{
    size_t old;
    json_t *v = member(c, o, key, &old);
    if (v == NULL)
        return 0;
    int rc = 0;
    if (json_is_null(v))
        *out = 0;
    else
        rc = time_value(c, v, out);
    pop(c, old);
    return rc;
}

static int missing(struct ctx *c, const char *key, const char *what)
{
    size_t old = push(c, key, strlen(key));
    int rc = fail(c, "missing: %s", what);
    pop(c, old);
    return rc;
}

/* ---- voucher spec ---- */

const char *pt_voucher_kind_name(int kind)
{
    switch (kind) {
    case PT_VOUCHER_AMOUNT:
        return "amount";
    case PT_VOUCHER_PERCENT:
        return "percent";
    case PT_VOUCHER_SHIPPING:
        return "free_shipping";
    default:
        return "unknown";
    }
}

static int spec_type(struct ctx *c, json_t *o, int *kind)
{
    size_t old;
    json_t *v = member(c, o, "type", &old);
    if (v == NULL)
        return missing(c, "type", "give \"amount\", \"percent\" or \"free_shipping\"");
    int rc = 0;
    const char *s = json_string_value(v);
    if (s == NULL) {
        rc = fail(c, "must be \"amount\", \"percent\" or \"free_shipping\", not %s", pt_json_type_name(v));
    } else {
        size_t n = json_string_length(v);
        *kind = 0;
        for (int k = PT_VOUCHER_AMOUNT; k <= PT_VOUCHER_SHIPPING; k++)
            if (strlen(pt_voucher_kind_name(k)) == n && memcmp(s, pt_voucher_kind_name(k), n) == 0)
                *kind = k;
        if (*kind == 0)
            rc = fail(c, "must be \"amount\", \"percent\" or \"free_shipping\", not \"%.*s\"",
                      quote_len(s, n), s);
    }
    pop(c, old);
    return rc;
}

static int spec_value(struct ctx *c, json_t *o, int kind, int64_t *value)
{
    size_t old;
    json_t *v = member(c, o, "value", &old);
    if (v != NULL && json_is_null(v)) {
        pop(c, old);
        v = NULL;
    }
    if (v == NULL) {
        if (kind == PT_VOUCHER_AMOUNT)
            return missing(c, "value",
                           "an amount voucher needs a value in minor units (1000 = 10.00)");
        if (kind == PT_VOUCHER_PERCENT)
            return missing(c, "value", "a percent voucher needs a value from 1 to 100");
        *value = 0;
        return 0;
    }
    int rc;
    if (kind == PT_VOUCHER_AMOUNT) {
        rc = int_value(c, v, 1, MAX_AMOUNT, value);
    } else if (kind == PT_VOUCHER_PERCENT) {
        rc = int_value(c, v, 1, 100, value);
    } else {
        rc = 0;
        *value = 0;
        if (!json_is_integer(v) || json_integer_value(v) != 0)
            rc = fail(c, "a free_shipping voucher has no value (leave it out or give 0)");
    }
    pop(c, old);
    return rc;
}

static int spec_currency(struct ctx *c, json_t *o, int kind, char cur[4])
{
    size_t old;
    json_t *v = member(c, o, "currency", &old);
    memset(cur, 0, 4);
    if (v == NULL)
        return 0;
    int rc = 0;
    const char *s = json_string_value(v);
    if (json_is_null(v)) {
        rc = 0;
    } else if (kind != PT_VOUCHER_AMOUNT) {
        rc = fail(c, "only amount vouchers have a currency (this one is %s)",
                  pt_voucher_kind_name(kind));
    } else if (s == NULL) {
        rc = fail(c, "must be a 3-letter ISO-4217 code such as \"PLN\", not %s", pt_json_type_name(v));
    } else {
        size_t n = json_string_length(v);
        int ok = n == 3;
        for (size_t i = 0; ok && i < 3; i++)
            ok = s[i] >= 'A' && s[i] <= 'Z';
        if (ok)
            memcpy(cur, s, 3);
        else
            rc = fail(c,
                      "must be a 3-letter upper-case ISO-4217 code such as \"PLN\", not "
                      "\"%.*s\"",
                      quote_len(s, n), s);
    }
    pop(c, old);
    return rc;
}

static int spec_parse(struct ctx *c, json_t *o, int pool, struct pt_voucher_spec *out)
{
    static const char *const keys[] = {"type", "value", "currency", "valid_days", "max_uses", NULL};
    static const char *const pool_keys[] = {"type",     "value",   "currency", "valid_days",
                                            "max_uses", "expires", NULL};
    static const char *const pool_ignored[] = {"name", "count", "prefix", NULL};
    if (!json_is_object(o)) {
        if (c->plen == 0)
            return fail(c, "the voucher spec must be a JSON object, not %s", pt_json_type_name(o));
        return fail(c, "must be an object such as {\"type\": \"amount\", \"value\": 1000}, not %s",
                    pt_json_type_name(o));
    }
    int rc = check_keys(c, o, pool ? pool_keys : keys, pool ? pool_ignored : NULL);
    if (rc)
        return rc;
    struct pt_voucher_spec v;
    memset(&v, 0, sizeof v);
    v.max_uses = DEFAULT_USES;
    if ((rc = spec_type(c, o, &v.kind)) || (rc = spec_value(c, o, v.kind, &v.value)) ||
        (rc = spec_currency(c, o, v.kind, v.currency)) ||
        (rc = opt_int(c, o, "valid_days", 0, MAX_DAYS, 1, 0, &v.valid_days)) ||
        (rc = opt_int(c, o, "max_uses", 0, INT64_MAX, 1, DEFAULT_USES, &v.max_uses)))
        return rc;
    if (pool && (rc = opt_time(c, o, "expires", &v.expires)))
        return rc;
    *out = v;
    return 0;
}

int pt_voucher_spec_parse(const void *obj, const char *prefix, int pool, struct pt_voucher_spec *v,
                          char *field, struct pt_err *e)
{
    struct ctx c = {.field = field, .e = e};
    if (field)
        field[0] = '\0';
    pt_err_clear(e);
    if (prefix && prefix[0])
        push(&c, prefix, strlen(prefix));
    if (obj == NULL)
        return fail(&c, "missing: give a voucher spec object");
    return spec_parse(&c, (json_t *)obj, pool, v);
}

/* ---- reward ---- */

void pt_loy_reward_release(struct pt_loy_reward *r)
{
    if (r == NULL)
        return;
    pt_free(r->name);
    pt_free(r->description);
    pt_free(r->min_tier);
    memset(r, 0, sizeof *r);
}

static int copy_str(char **dst, const char *src)
{
    *dst = NULL;
    if (src == NULL)
        return 0;
    *dst = pt_strndup(src, strlen(src));
    return *dst ? 0 : PT_ENOMEM;
}

/* A deep copy of r into d (d released on failure). */
static int reward_copy(struct pt_loy_reward *d, const struct pt_loy_reward *r)
{
    *d = *r;
    d->name = d->description = d->min_tier = NULL;
    if (copy_str(&d->name, r->name) || copy_str(&d->description, r->description) ||
        copy_str(&d->min_tier, r->min_tier)) {
        pt_loy_reward_release(d);
        return PT_ENOMEM;
    }
    return 0;
}

static int parse_voucher(struct ctx *c, json_t *o, struct pt_voucher_spec *v)
{
    size_t old;
    json_t *x = member(c, o, "voucher", &old);
    if (x == NULL) {
        if (v->kind != 0)
            return 0; /* partial: keep it */
        return missing(c, "voucher",
                       "every reward needs a voucher such as {\"type\": \"amount\", "
                       "\"value\": 1000}");
    }
    int rc = spec_parse(c, x, 0, v);
    pop(c, old);
    return rc;
}

static int parse_reward(struct ctx *c, json_t *o, struct pt_loy_reward *r)
{
    static const char *const keys[] = {
        "name",     "description",      "cost",     "stock",   "valid_from",
        "valid_to", "per_member_limit", "min_tier", "voucher", NULL};
    int rc = check_keys(c, o, keys, NULL);
    if (rc)
        return rc;
    if ((rc = opt_str(c, o, "name", 1, MAX_NAME, 0, &r->name)))
        return rc;
    if (r->name == NULL)
        return missing(c, "name", "every reward needs a name (1 to 200 bytes)");
    if ((rc = opt_str(c, o, "description", 0, MAX_DESC, 1, &r->description)) ||
        (rc = opt_int(c, o, "cost", 1, MAX_COST, 0, 0, &r->cost)))
        return rc;
    if (r->cost <= 0)
        return missing(c, "cost", "every reward needs a cost in points (1 to 1000000000)");
    if ((rc = opt_int(c, o, "stock", 0, INT64_MAX, 1, -1, &r->stock)) ||
        (rc = opt_time(c, o, "valid_from", &r->valid_from)) ||
        (rc = opt_time(c, o, "valid_to", &r->valid_to)))
        return rc;
    if (r->valid_from && r->valid_to && r->valid_to <= r->valid_from) {
        char from[21], to[21];
        pt_format_utc(r->valid_from, from);
        pt_format_utc(r->valid_to, to);
        const char *key = json_object_get(o, "valid_to") ? "valid_to" : "valid_from";
        size_t old = push(c, key, strlen(key));
        rc = fail(c, "valid_to (%s) must be later than valid_from (%s)", to, from);
        pop(c, old);
        return rc;
    }
    if ((rc = opt_int(c, o, "per_member_limit", 0, INT64_MAX, 1, 0, &r->per_member)) ||
        (rc = opt_str(c, o, "min_tier", 1, MAX_TIER, 1, &r->min_tier)))
        return rc;
    return parse_voucher(c, o, &r->voucher);
}

int pt_loy_reward_parse(const char *json, size_t len, int partial, struct pt_loy_reward *r,
                        char *field, struct pt_err *e)
{
    struct ctx c = {.field = field, .e = e};
    if (field)
        field[0] = '\0';
    pt_err_clear(e);
    if (!partial)
        memset(r, 0, sizeof *r);
    json_error_t je;
    json_t *root = json_loadb(json ? json : "", json ? len : 0, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        if (json_error_code(&je) == json_error_out_of_memory)
            return nomem(&c);
        int line = je.line > 0 ? je.line : 1, col = je.column > 0 ? je.column : 1;
        int rc = fail(&c, "invalid JSON at line %d, column %d: %s", line, col, je.text);
        if (e) {
            e->line = (uint64_t)line;
            e->column = (uint64_t)col;
        }
        return rc;
    }
    if (!json_is_object(root)) {
        int rc = fail(&c, "the reward must be a JSON object, not %s", pt_json_type_name(root));
        json_decref(root);
        return rc;
    }
    struct pt_loy_reward n;
    memset(&n, 0, sizeof n);
    int rc = 0;
    if (partial) {
        if (reward_copy(&n, r))
            rc = nomem(&c);
    } else {
        n.stock = -1;
    }
    if (rc == 0)
        rc = parse_reward(&c, root, &n);
    json_decref(root);
    if (rc) {
        pt_loy_reward_release(&n);
        return rc;
    }
    if (partial)
        pt_loy_reward_release(r);
    *r = n;
    return 0;
}

/* ---- JSON out ---- */

static int add_key(struct pt_buf *b, const char *key, int first)
{
    int rc = first ? 0 : pt_buf_addc(b, ',');
    return rc | pt_buf_add_json_str(b, key, strlen(key)) | pt_buf_addc(b, ':');
}

static int add_str_or_null(struct pt_buf *b, const char *key, const char *s)
{
    int rc = add_key(b, key, 0);
    if (s == NULL)
        return rc | pt_buf_adds(b, "null");
    return rc | pt_buf_add_json_str(b, s, strlen(s));
}

static int add_time_or_null(struct pt_buf *b, const char *key, int64_t t)
{
    char s[21];
    if (t == 0)
        return add_str_or_null(b, key, NULL);
    pt_format_utc(t, s);
    return add_str_or_null(b, key, s);
}

static int add_int(struct pt_buf *b, const char *key, int64_t v)
{
    return add_key(b, key, 0) | pt_buf_add_i64(b, v);
}

int pt_voucher_spec_json(const struct pt_voucher_spec *v, struct pt_buf *out)
{
    int rc = pt_buf_addc(out, '{') | add_key(out, "type", 1);
    const char *kind = pt_voucher_kind_name(v->kind);
    rc |= pt_buf_add_json_str(out, kind, strlen(kind));
    rc |= add_int(out, "value", v->value);
    if (v->currency[0])
        rc |= add_str_or_null(out, "currency", v->currency);
    rc |= add_int(out, "valid_days", v->valid_days);
    rc |= add_int(out, "max_uses", v->max_uses);
    if (v->expires)
        rc |= add_time_or_null(out, "expires", v->expires);
    rc |= pt_buf_addc(out, '}');
    return rc ? PT_ENOMEM : 0;
}

int pt_loy_reward_json(const struct pt_loy_reward *r, struct pt_buf *out)
{
    int rc = pt_buf_addc(out, '{') | add_key(out, "name", 1);
    rc |= pt_buf_add_json_str(out, r->name ? r->name : "", r->name ? strlen(r->name) : 0);
    rc |= add_str_or_null(out, "description", r->description);
    rc |= add_int(out, "cost", r->cost);
    if (r->stock < 0)
        rc |= add_key(out, "stock", 0) | pt_buf_adds(out, "null");
    else
        rc |= add_int(out, "stock", r->stock);
    rc |= add_time_or_null(out, "valid_from", r->valid_from);
    rc |= add_time_or_null(out, "valid_to", r->valid_to);
    rc |= add_int(out, "per_member_limit", r->per_member);
    rc |= add_str_or_null(out, "min_tier", r->min_tier);
    rc |= add_key(out, "voucher", 0) | pt_voucher_spec_json(&r->voucher, out);
    rc |= pt_buf_addc(out, '}');
    return rc ? PT_ENOMEM : 0;
}
