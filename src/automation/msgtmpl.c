/*
 * msgtmpl.c - a saved message template (automation/msgtmpl.h): the JSON
 * document read with jansson and checked against the rules below, its parts
 * compiled (automation/tmpl.h), and the canonical JSON out.
 *
 * The rules:
 *   name     string 1..200 bytes, required
 *   channel  "email" | "webhook", required
 *   subject  email only, required there
 *   html, text  email only; at least one of them
 *   body     webhook only, required there
 * A part is a template of 1..PT_TMPL_MAX_BYTES bytes; null is the same as
 * leaving the key out. Strings must not contain NUL.
 *
 * Errors are PT_EPARSE (PT_ENOMEM when memory runs out), whatever the
 * template compiler said (a too deep nesting is PT_ETOOBIG there). `field`
 * gets the key ("" for the document, "\"\"" for an unknown empty key), cut
 * at 63 bytes on a UTF-8 boundary;
 * e->msg is "KEY: reason", or "KEY: line L column C: reason" for a template
 * error, with e->line / e->column inside that part's text. Unknown keys are
 * checked first, then the keys in the order above; the first error wins.
 */
#include "automation/msgtmpl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/mem.h"
#include "util/text.h"

#define FIELD_CAP 64 /* msgtmpl.h: `field` holds at least 64 bytes */
#define MAX_NAME  200

struct ctx {
    char *field;
    struct pt_err *e;
};

static const char *const k_keys[] = {"name", "channel", "subject", "html", "text", "body", NULL};


/* Sets field to key[0..klen) and e to "KEY: reason" (or "reason" alone for
 * the document, key ""). */
__attribute__((format(printf, 5, 6))) static int fail_key(struct ctx *c, int code, const char *key,
                                                          size_t klen, const char *fmt, ...)
{
    size_t n = pt_utf8_cut(key, klen, FIELD_CAP - 1);
    if (c->field) {
        memcpy(c->field, key, n);
        c->field[n] = '\0';
    }
    if (c->e == NULL)
        return code;
    char why[PT_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (w < 0)
        why[0] = '\0';
    if (n > 0)
        pt_err_set(c->e, code, "%.*s: %s", (int)n, key, why);
    else
        pt_err_set(c->e, code, "%s", why);
    c->e->line = c->e->column = 0;
    return code;
}

#define fail(c, key, ...) fail_key((c), PT_EPARSE, (key), strlen(key), __VA_ARGS__)

static int nomem(struct ctx *c, const char *key)
{
    return fail_key(c, PT_ENOMEM, key, strlen(key), "out of memory");
}


/* s[0..n) for a message: at most 40 bytes cut on a character, control
 * characters as '?'. out holds 48 bytes. */
static const char *show(const char *s, size_t n, char out[48])
{
    size_t m = pt_utf8_cut(s, n, 40);
    for (size_t i = 0; i < m; i++)
        out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7F ? (char)'?' : s[i];
    if (m < n)
        memcpy(out + m, "...", 4);
    else
        out[m] = '\0';
    return out;
}

static int check_keys(struct ctx *c, json_t *o)
{
    const char *k;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach(o, k, klen, v)
    {
        int known = 0;
        for (size_t i = 0; k_keys[i] && !known; i++)
            known = strlen(k_keys[i]) == klen && memcmp(k_keys[i], k, klen) == 0;
        if (!known) {
            char q[48];
            if (klen == 0) /* field "" is the document's: name the empty key "\"\"" */
                return fail_key(c, PT_EPARSE, "\"\"", 2,
                                "unknown key \"\" (known keys: name, channel, subject, html, "
                                "text, body)");
            return fail_key(c, PT_EPARSE, k, klen,
                            "unknown key \"%s\" (known keys: name, channel, subject, html, text, "
                            "body)",
                            show(k, klen, q));
        }
    }
    return 0;
}

/* A string value of lo..hi bytes without NUL: its text and length. */
static int str_value(struct ctx *c, const char *key, const json_t *v, size_t lo, size_t hi,
                     const char **s, size_t *n)
{
    if (!json_is_string(v))
        return fail(c, key, "must be a string, not %s", pt_json_type_name(v));
    *s = json_string_value(v);
    *n = json_string_length(v);
    if (memchr(*s, '\0', *n))
        return fail(c, key, "must not contain a NUL character");
    if (*n < lo)
        return fail(c, key, "must not be empty");
    if (*n > hi)
        return fail(c, key, "is %zu bytes long; the limit is %zu bytes", *n, hi);
    return 0;
}

static int parse_name(struct ctx *c, json_t *o, struct pt_msg_tmpl *t)
{
    json_t *v = json_object_get(o, "name");
    const char *s;
    size_t n;
    if (v == NULL)
        return fail(c, "name", "missing: every template needs a name (1 to 200 bytes)");
    int rc = str_value(c, "name", v, 1, MAX_NAME, &s, &n);
    if (rc)
        return rc;
    t->name = pt_strndup(s, n);
    return t->name ? 0 : nomem(c, "name");
}

static int parse_channel(struct ctx *c, json_t *o, struct pt_msg_tmpl *t)
{
    json_t *v = json_object_get(o, "channel");
    if (v == NULL)
        return fail(c, "channel", "missing: give \"email\" or \"webhook\"");
    const char *s = json_string_value(v);
    if (s == NULL)
        return fail(c, "channel", "must be \"email\" or \"webhook\", not %s", pt_json_type_name(v));
    size_t n = json_string_length(v);
    if (n == 5 && memcmp(s, "email", 5) == 0) {
        t->channel = PT_CHAN_EMAIL;
    } else if (n == 7 && memcmp(s, "webhook", 7) == 0) {
        t->channel = PT_CHAN_WEBHOOK;
    } else {
        char q[48];
        return fail(c, "channel", "must be \"email\" or \"webhook\", not \"%s\"", show(s, n, q));
    }
    return 0;
}

/* The part `key` when present (and not null): checked, copied to *src and
 * compiled to *out. allowed = 0 refuses it with why. */
static int parse_part(struct ctx *c, json_t *o, const char *key, int allowed, const char *why,
                      char **src, struct pt_tmpl **out)
{
    json_t *v = json_object_get(o, key);
    const char *s;
    size_t n;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!allowed)
        return fail(c, key, "%s", why);
    int rc = str_value(c, key, v, 1, PT_TMPL_MAX_BYTES, &s, &n);
    if (rc)
        return rc;
    struct pt_err te;
    rc = pt_tmpl_compile(s, n, out, &te);
    if (rc == PT_ENOMEM)
        return nomem(c, key);
    if (rc) {
        fail(c, key, "line %llu column %llu: %s", (unsigned long long)te.line,
             (unsigned long long)te.column, te.msg);
        if (c->e) {
            c->e->line = te.line;
            c->e->column = te.column;
        }
        return PT_EPARSE;
    }
    *src = pt_strndup(s, n);
    return *src ? 0 : nomem(c, key);
}

static int parse_doc(struct ctx *c, json_t *o, struct pt_msg_tmpl *t)
{
    int rc = check_keys(c, o);
    if (rc || (rc = parse_name(c, o, t)) || (rc = parse_channel(c, o, t)))
        return rc;
    int email = t->channel == PT_CHAN_EMAIL;
    const char *not_webhook = "a webhook template has no subject, html or text (give its body)";
    if ((rc = parse_part(c, o, "subject", email, not_webhook, &t->subject_src, &t->subject)))
        return rc;
    if (email && t->subject == NULL)
        return fail(c, "subject", "missing: an email template needs a subject");
    if ((rc = parse_part(c, o, "html", email, not_webhook, &t->html_src, &t->html)) ||
        (rc = parse_part(c, o, "text", email, not_webhook, &t->text_src, &t->text)))
        return rc;
    if (email && t->html == NULL && t->text == NULL)
        return fail(c, "html", "missing: an email template needs html or text (or both)");
    if ((rc = parse_part(c, o, "body", !email,
                         "an email template has no body (give its html and/or text)", &t->body_src,
                         &t->body)))
        return rc;
    if (!email && t->body == NULL)
        return fail(c, "body",
                    "missing: a webhook template needs a body (a template of the JSON sent)");
    return 0;
}

void pt_msg_tmpl_release(struct pt_msg_tmpl *t)
{
    if (t == NULL)
        return;
    pt_free(t->name);
    pt_free(t->subject_src);
    pt_free(t->html_src);
    pt_free(t->text_src);
    pt_free(t->body_src);
    pt_tmpl_free(t->subject);
    pt_tmpl_free(t->html);
    pt_tmpl_free(t->text);
    pt_tmpl_free(t->body);
    memset(t, 0, sizeof *t);
}

int pt_msg_tmpl_parse(const char *json, size_t len, struct pt_msg_tmpl *t, char *field,
                      struct pt_err *e)
{
    struct ctx c = {.field = field, .e = e};
    memset(t, 0, sizeof *t);
    if (field)
        field[0] = '\0';
    pt_err_clear(e);
    json_error_t je;
    json_t *root = json_loadb(json ? json : "", json ? len : 0, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        if (json_error_code(&je) == json_error_out_of_memory)
            return nomem(&c, "");
        int line = je.line > 0 ? je.line : 1, col = je.column > 0 ? je.column : 1;
        int rc = fail(&c, "", "invalid JSON at line %d, column %d: %s", line, col, je.text);
        if (e) {
            e->line = (uint64_t)line;
            e->column = (uint64_t)col;
        }
        return rc;
    }
    int rc;
    if (!json_is_object(root))
        rc = fail(&c, "", "the template must be a JSON object, not %s", pt_json_type_name(root));
    else
        rc = parse_doc(&c, root, t);
    json_decref(root);
    if (rc)
        pt_msg_tmpl_release(t);
    return rc;
}

/* ,"KEY":"S" (no comma for the first key); nothing when s is NULL. */
static int add_str(struct pt_buf *b, const char *key, const char *s, int first)
{
    if (s == NULL)
        return 0;
    return (first ? 0 : pt_buf_addc(b, ',')) | pt_buf_add_json_str(b, key, strlen(key)) |
           pt_buf_addc(b, ':') | pt_buf_add_json_str(b, s, strlen(s));
}

int pt_msg_tmpl_json(const struct pt_msg_tmpl *t, struct pt_buf *out)
{
    size_t len0 = out->len;
    const char *chan = t->channel == PT_CHAN_WEBHOOK ? "webhook" : "email";
    int rc = pt_buf_addc(out, '{');
    if (rc == 0)
        rc = add_str(out, "name", t->name ? t->name : "", 1) | add_str(out, "channel", chan, 0) |
             add_str(out, "subject", t->subject_src, 0) | add_str(out, "html", t->html_src, 0) |
             add_str(out, "text", t->text_src, 0) | add_str(out, "body", t->body_src, 0) |
             pt_buf_addc(out, '}');
    if (rc) {
        out->len = len0;
        if (out->data)
            out->data[len0] = '\0';
        return PT_ENOMEM;
    }
    return 0;
}
