/*
 * def_read.c - the automation definition parser's paths, errors and value
 * readers (def_int.h), and pt_auto_duration. The rules they apply are listed
 * in def.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "automation/def_int.h"
#include "util/ckd.h"
#include "util/mem.h"
#include "util/text.h"

/* ---- paths and errors ---- */


static void path_add(struct def_ctx *c, const char *s, size_t n)
{
    n = pt_utf8_cut(s, n, DEF_PATH_CAP - 1 - c->plen);
    memcpy(c->path + c->plen, s, n);
    c->plen += n;
    c->path[c->plen] = '\0';
}

size_t def_push_key(struct def_ctx *c, const char *key, size_t klen)
{
    size_t old = c->plen;
    if (c->plen > 0)
        path_add(c, ".", 1);
    path_add(c, key, klen);
    return old;
}

size_t def_push_index(struct def_ctx *c, size_t i)
{
    char b[32];
    size_t old = c->plen;
    int n = snprintf(b, sizeof b, "[%zu]", i);
    path_add(c, b, n > 0 ? (size_t)n : 0);
    return old;
}

void def_pop(struct def_ctx *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

static int vfail(struct def_ctx *c, int code, const char *fmt, va_list ap)
{
    if (c->field) {
        size_t n = pt_utf8_cut(c->path, c->plen, DEF_FIELD_CAP - 1);
        memcpy(c->field, c->path, n);
        c->field[n] = '\0';
    }
    if (c->e == NULL)
        return code;
    char why[PT_ERR_MSG_MAX];
    int n = vsnprintf(why, sizeof why, fmt, ap);
    if (n < 0)
        why[0] = '\0';
    if (c->plen > 0)
        pt_err_set(c->e, code, "%s: %s", c->path, why);
    else
        pt_err_set(c->e, code, "%s", why);
    c->e->line = c->e->column = 0;
    return code;
}

int def_fail_code(struct def_ctx *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(c, code, fmt, ap);
    va_end(ap);
    return rc;
}

int def_fail_at(struct def_ctx *c, const char *key, const char *fmt, ...)
{
    def_push_key(c, key, strlen(key));
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(c, PT_EPARSE, fmt, ap);
    va_end(ap);
    return rc;
}

int def_nomem(struct def_ctx *c)
{
    return def_fail_code(c, PT_ENOMEM, "out of memory");
}

/* Bytes of a user string to quote in a message: at most 40, whole characters. */
int def_qlen(const char *s, size_t n)
{
    return (int)pt_utf8_cut(s, n, 40);
}

/* ---- keys ---- */

/* The entry of list (NULL-terminated) closest to s, or NULL if none is close. */
static const char *nearest(const char *const *list, const char *s, size_t n)
{
    const char *near = NULL;
    size_t best = 3;
    for (size_t i = 0; list[i]; i++) {
        size_t d = pt_edit_distance(s, n, list[i], strlen(list[i]));
        if (d < best && d * 3 <= strlen(list[i])) {
            best = d;
            near = list[i];
        }
    }
    return near;
}

static int find(const char *const *list, const char *s, size_t n)
{
    for (int i = 0; list && list[i]; i++)
        if (strlen(list[i]) == n && memcmp(list[i], s, n) == 0)
            return i;
    return -1;
}

/* "a, b, c" of list into out. */
static void join(const char *const *list, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; list[i] && n < cap; i++) {
        int w = snprintf(out + n, cap - n, "%s%s", i ? ", " : "", list[i]);
        n += w > 0 ? (size_t)w : 0;
    }
}

/* Every key of o is in own; one of `other` (the keys of the other types)
 * does not belong to `what`, any other key is unknown. */
int def_check_keys(struct def_ctx *c, json_t *o, const char *const *own, const char *const *other,
                   const char *what)
{
    const char *k;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach(o, k, klen, v)
    {
        if (find(own, k, klen) >= 0)
            continue;
        char list[256];
        join(own, list, sizeof list);
        def_push_key(c, k, klen);
        if (find(other, k, klen) >= 0)
            return def_fail(c, "\"%.*s\" does not belong to %s (its keys: %s)", def_qlen(k, klen),
                            k, what, list);
        const char *near = nearest(own, k, klen);
        if (near)
            return def_fail(c, "unknown key \"%.*s\"; did you mean \"%s\"?", def_qlen(k, klen), k,
                            near);
        return def_fail(c, "unknown key \"%.*s\" (known keys: %s)", def_qlen(k, klen), k, list);
    }
    return 0;
}

/* ---- values (the path names the value) ---- */

/* Member key of o, its name pushed on the path when present. */
json_t *def_member(struct def_ctx *c, json_t *o, const char *key, size_t *old)
{
    json_t *v = json_object_get(o, key);
    if (v)
        *old = def_push_key(c, key, strlen(key));
    return v;
}

int def_missing(struct def_ctx *c, const char *key, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (n < 0)
        why[0] = '\0';
    return def_fail_at(c, key, "missing: give %s", why);
}

int def_int_value(struct def_ctx *c, const json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
    char range[96];
    if (hi == INT64_MAX)
        snprintf(range, sizeof range, "an integer of at least %lld", (long long)lo);
    else
        snprintf(range, sizeof range, "an integer from %lld to %lld", (long long)lo, (long long)hi);
    if (json_is_real(v)) { /* (2.0 is shown as such, not as 2) */
        char num[40];
        snprintf(num, sizeof num, "%.15g", json_real_value(v));
        if (strpbrk(num, ".eEni") == NULL)
            snprintf(num + strlen(num), sizeof num - strlen(num), ".0");
        return def_fail(c, "must be %s, not %s", range, num);
    }
    if (!json_is_integer(v))
        return def_fail(c, "must be %s, not %s", range, pt_json_type_name(v));
    int64_t x = (int64_t)json_integer_value(v);
    if (x < lo || x > hi)
        return def_fail(c, "must be %s, not %lld", range, (long long)x);
    *out = x;
    return 0;
}

int def_get_int(struct def_ctx *c, json_t *o, const char *key, int flags, int64_t lo, int64_t hi,
                int64_t *out)
{
    size_t old;
    json_t *v = def_member(c, o, key, &old);
    if (v == NULL)
        return (flags & DEF_REQ) ? def_missing(c, key, "an integer from %lld to %lld",
                                               (long long)lo, (long long)hi)
                                 : 0;
    int rc = def_int_value(c, v, lo, hi, out);
    def_pop(c, old);
    return rc;
}

static int num_value(struct def_ctx *c, const json_t *v, double lo, double hi, double *out)
{
    if (!json_is_number(v))
        return def_fail(c, "must be a number from %g to %g, not %s", lo, hi, pt_json_type_name(v));
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi)) {
        char t[40];
        int prec = 15;
        do /* the shortest text that reads back as x */
            snprintf(t, sizeof t, "%.*g", prec, x);
        while (strtod(t, NULL) != x && ++prec <= 17);
        return def_fail(c, "must be a number from %g to %g, not %s", lo, hi, t);
    }
    *out = x == 0 ? 0.0 : x; /* no -0 */
    return 0;
}

int def_get_num(struct def_ctx *c, json_t *o, const char *key, double lo, double hi, double *out)
{
    size_t old;
    json_t *v = def_member(c, o, key, &old);
    if (v == NULL)
        return 0;
    int rc = num_value(c, v, lo, hi, out);
    def_pop(c, old);
    return rc;
}

int def_get_bool(struct def_ctx *c, json_t *o, const char *key, int *out)
{
    size_t old;
    json_t *v = def_member(c, o, key, &old);
    if (v == NULL)
        return 0;
    if (!json_is_boolean(v))
        return def_fail(c, "must be true or false, not %s", pt_json_type_name(v));
    *out = json_is_true(v);
    def_pop(c, old);
    return 0;
}

/* One of names (NULL-terminated) -> its index in *out. */
int def_enum_value(struct def_ctx *c, const json_t *v, const char *const *names, int *out)
{
    char list[160];
    join(names, list, sizeof list);
    if (!json_is_string(v))
        return def_fail(c, "must be one of %s, not %s", list, pt_json_type_name(v));
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    int i = find(names, s, n);
    if (i >= 0) {
        *out = i;
        return 0;
    }
    const char *near = nearest(names, s, n);
    if (near)
        return def_fail(c, "unknown \"%.*s\"; did you mean \"%s\"?", def_qlen(s, n), s, near);
    return def_fail(c, "must be one of %s, not \"%.*s\"", list, def_qlen(s, n), s);
}

int def_get_enum(struct def_ctx *c, json_t *o, const char *key, const char *const *names, int *out)
{
    size_t old;
    json_t *v = def_member(c, o, key, &old);
    if (v == NULL)
        return 0;
    int rc = def_enum_value(c, v, names, out);
    def_pop(c, old);
    return rc;
}

static int url_check(struct def_ctx *c, const char *s, size_t n)
{
    size_t skip = strncmp(s, "https://", 8) == 0 ? 8 : strncmp(s, "http://", 7) == 0 ? 7 : 0;
    if (skip == 0)
        return def_fail(c, "must be an http:// or https:// URL, not \"%.*s\"", def_qlen(s, n), s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return def_fail(c, "a URL must not contain spaces or control characters (byte %zu)",
                            i + 1);
    if (n == skip || s[skip] == '/' || s[skip] == '?' || s[skip] == '#')
        return def_fail(c, "the URL has no host after \"%.*s\"", (int)skip, s);
    return 0;
}

/* A string of kind DEF_S_* copied into *out (the previous value freed). */
int def_str_value(struct def_ctx *c, const json_t *v, int kind, char **out)
{
    static const char *const what[] = {"a string of 1 to 200 bytes", "a template id",
                                       "a tag of 1 to 64 bytes", "an http:// or https:// URL",
                                       "a string"};
    if (!json_is_string(v))
        return def_fail(c, "must be %s, not %s", what[kind], pt_json_type_name(v));
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    size_t max = kind == DEF_S_URL ? DEF_MAX_URL : kind == DEF_S_NAME ? DEF_MAX_NAME : DEF_MAX_ID;
    if (kind == DEF_S_TEXT)
        max = SIZE_MAX;
    if (n == 0)
        return def_fail(c, "must not be empty");
    if (n > max)
        return def_fail(c, "is %zu bytes long; the limit is %zu bytes", n, max);
    if (memchr(s, '\0', n))
        return def_fail(c, "must not contain a NUL character");
    for (size_t i = 0; kind == DEF_S_TMPL && i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            return def_fail(c,
                            "a template id is 1 to 64 letters, digits, '_', '.' or '-'; byte %zu "
                            "of \"%.*s\" is not",
                            i + 1, def_qlen(s, n), s);
    }
    for (size_t i = 0; kind == DEF_S_TAG && i < n; i++)
        if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
            return def_fail(c, "a tag must not contain control characters (byte %zu)", i + 1);
    if (kind == DEF_S_URL && url_check(c, s, n))
        return PT_EPARSE;
    char *copy = pt_strndup(s, n);
    if (copy == NULL)
        return def_nomem(c);
    pt_free(*out);
    *out = copy;
    return 0;
}

int def_get_str(struct def_ctx *c, json_t *o, const char *key, int flags, int kind, char **out)
{
    static const char *const what[] = {"a string of 1 to 200 bytes", "a template id",
                                       "a tag of 1 to 64 bytes", "an http:// or https:// URL",
                                       "a string"};
    size_t old;
    json_t *v = def_member(c, o, key, &old);
    if (v == NULL)
        return (flags & DEF_REQ) ? def_missing(c, key, "%s", what[kind]) : 0;
    int rc = 0;
    if (!(flags & DEF_NULLABLE) || !json_is_null(v))
        rc = def_str_value(c, v, kind, out);
    if (rc == 0)
        def_pop(c, old);
    return rc;
}

/* "7d" style text of s seconds (for messages). */
static void dur_text(int64_t s, char *out, size_t cap)
{
    static const struct {
        int64_t secs;
        char unit;
    } units[] = {{DEF_DAY, 'd'}, {3600, 'h'}, {DEF_MINUTE, 'm'}, {1, 's'}};
    size_t i = 0;
    while (s % units[i].secs != 0)
        i++;
    snprintf(out, cap, "%lld%c", (long long)(s / units[i].secs), units[i].unit);
}

/* 0; 1 not "<digits><unit>"; 2 zero; 3 too large for int64_t seconds. */
static int dur_parse(const char *s, size_t n, int64_t *out)
{
    int64_t mult, v = 0;
    if (n < 2 || s[0] < '0' || s[0] > '9')
        return 1;
    switch (s[n - 1]) {
    case 's':
        mult = 1;
        break;
    case 'm':
        mult = DEF_MINUTE;
        break;
    case 'h':
        mult = 3600;
        break;
    case 'd':
        mult = DEF_DAY;
        break;
    case 'w':
        mult = 7 * DEF_DAY;
        break;
    default:
        return 1;
    }
    int over = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 1;
        over |= pt_ckd_mul(&v, v, (int64_t)10);
        over |= pt_ckd_add(&v, v, (int64_t)(s[i] - '0'));
    }
    if (over)
        return 3;
    if (v == 0)
        return 2;
    if (pt_ckd_mul(&v, v, mult))
        return 3;
    *out = v;
    return 0;
}

int pt_auto_duration(const char *text, int64_t *s)
{
    int64_t v;
    if (text == NULL || dur_parse(text, strlen(text), &v) != 0)
        return PT_EINVAL;
    *s = v;
    return 0;
}

int def_get_dur(struct def_ctx *c, json_t *o, const char *key, int flags, int64_t lo, int64_t *out)
{
    size_t old;
    json_t *v = def_member(c, o, key, &old);
    if (v == NULL)
        return (flags & DEF_REQ) ? def_missing(c, key, "a duration such as \"7d\"") : 0;
    if (!json_is_string(v))
        return def_fail(c, "a duration must be a string such as \"7d\", not %s", pt_json_type_name(v));
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    int64_t x = 0;
    int r = memchr(s, '\0', n) ? 1 : dur_parse(s, n, &x);
    if (r == 1)
        return def_fail(c, "duration must be an integer followed by s, m, h, d or w, e.g. \"7d\"");
    if (r == 0 && x >= lo && x <= DEF_MAX_DUR) {
        *out = x;
        def_pop(c, old);
        return 0;
    }
    char a[32], b[32];
    dur_text(lo, a, sizeof a);
    dur_text(DEF_MAX_DUR, b, sizeof b);
    return def_fail(c, "duration must be from %s to %s, not \"%.*s\"", a, b, def_qlen(s, n), s);
}

/* Rule text (the segment language) into *text and *r. */
int def_get_rule(struct def_ctx *c, json_t *o, const char *key, int flags, char **text,
                 struct pt_rule *r)
{
    size_t old;
    json_t *v = def_member(c, o, key, &old);
    if (v == NULL)
        return (flags & DEF_REQ) ? def_missing(c, key, "a condition such as \"orders >= 2\"") : 0;
    if ((flags & DEF_NULLABLE) && json_is_null(v)) {
        def_pop(c, old);
        return 0;
    }
    int rc = def_str_value(c, v, DEF_S_TEXT, text);
    if (rc)
        return rc;
    struct pt_err re;
    pt_err_clear(&re);
    rc = pt_rule_parse(*text, strlen(*text), r, &re);
    if (rc == PT_ENOMEM)
        return def_nomem(c);
    if (rc) {
        rc = def_fail(c, "%s", re.msg);
        if (c->e) {
            c->e->line = re.line;
            c->e->column = re.column;
        }
        return rc;
    }
    def_pop(c, old);
    return 0;
}

/* "type": one of names (NULL entries skipped, the index is the value). */
int def_get_type(struct def_ctx *c, json_t *o, const char *const *names, size_t n,
                 const char *whose, int *out)
{
    char list[256];
    size_t len = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n && len < sizeof list; i++) {
        int w = names[i]
                    ? snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", names[i])
                    : 0;
        len += w > 0 ? (size_t)w : 0;
    }
    size_t old;
    json_t *v = def_member(c, o, "type", &old);
    if (v == NULL)
        return def_missing(c, "type", "the %s's type: %s", whose, list);
    if (!json_is_string(v))
        return def_fail(c, "must be one of %s, not %s", list, pt_json_type_name(v));
    const char *s = json_string_value(v);
    size_t sl = json_string_length(v);
    for (size_t i = 0; i < n; i++) {
        if (names[i] && strlen(names[i]) == sl && memcmp(names[i], s, sl) == 0) {
            *out = (int)i;
            def_pop(c, old);
            return 0;
        }
    }
    const char *near = NULL;
    size_t best = 3;
    for (size_t i = 0; i < n; i++) {
        size_t d = names[i] ? pt_edit_distance(s, sl, names[i], strlen(names[i])) : 99;
        if (d < best && d * 3 <= strlen(names[i])) {
            best = d;
            near = names[i];
        }
    }
    if (near)
        return def_fail(c, "unknown %s type \"%.*s\"; did you mean \"%s\"?", whose, def_qlen(s, sl),
                        s, near);
    return def_fail(c, "unknown %s type \"%.*s\" (known: %s)", whose, def_qlen(s, sl), s, list);
}
