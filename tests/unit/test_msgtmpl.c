/*
 * test_msgtmpl.c - saved message templates (src/automation/msgtmpl.h): email
 * and webhook documents parse with their parts compiled; null parts are
 * absent; the canonical JSON is exact and parses back to itself; every
 * broken rule is refused with its key in `field` and "KEY: reason" in the
 * message (template errors with the position inside the part); a failed
 * parse leaves the template zeroed; allocation failures are clean.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "automation/msgtmpl.h"
#include "util/mem.h"

static const char EMAIL[] = "{\"name\": \"Win-back 15%\", \"channel\": \"email\",\n"
                            " \"subject\": \"{{first_name}}, we miss you\",\n"
                            " \"html\": \"<p>Hi {{first_name}}, use <b>{{code}}</b></p>\",\n"
                            " \"text\": \"Hi {{first_name}}, use {{code}}\"}";

static const char WEBHOOK[] = "{\"name\": \"SMS\", \"channel\": \"webhook\","
                              " \"body\": \"{\\\"to\\\":\\\"{{phone}}\\\",\\\"text\\\":"
                              "\\\"Hi {{first_name}}\\\"}\"}";

static void parse_ok(const char *json, struct pt_msg_tmpl *t)
{
    char field[64] = "junk";
    struct pt_err e = {0};
    int rc = pt_msg_tmpl_parse(json, strlen(json), t, field, &e);
    cr_assert_eq(rc, 0, "%s\n-> %s (field %s)", json, e.msg, field);
    cr_assert_str_eq(field, "");
}

static char *to_json(const struct pt_msg_tmpl *t)
{
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_msg_tmpl_json(t, &b), 0);
    char *s = strdup(b.data);
    pt_buf_release(&b);
    return s;
}

static char *render(const struct pt_tmpl *t, const char *ctx, int mode)
{
    json_t *c = json_loads(ctx, 0, NULL);
    cr_assert_not_null(c);
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_tmpl_render(t, c, mode, &b), 0);
    char *s = strdup(b.data ? b.data : "");
    pt_buf_release(&b);
    json_decref(c);
    return s;
}

static int all_zero(const struct pt_msg_tmpl *t)
{
    static const struct pt_msg_tmpl zero;
    return memcmp(t, &zero, sizeof zero) == 0;
}

/* Refused with code, field and message (and line/column when line > 0). */
static void expect_refused_code(const char *json, int code, const char *field_want, const char *msg,
                                unsigned line, unsigned col)
{
    struct pt_msg_tmpl t;
    memset(&t, 0xA5, sizeof t); /* need not be initialised */
    char field[64] = "junk";
    struct pt_err e = {0};
    int rc = pt_msg_tmpl_parse(json, strlen(json), &t, field, &e);
    cr_assert_eq(rc, code, "%s -> %d (%s)", json, rc, e.msg);
    cr_expect_eq(e.code, code);
    cr_expect_str_eq(field, field_want, "%s", json);
    cr_expect_str_eq(e.msg, msg, "%s", json);
    cr_expect_eq(e.line, line, "%s: line %llu", json, (unsigned long long)e.line);
    cr_expect_eq(e.column, col, "%s: column %llu", json, (unsigned long long)e.column);
    cr_expect(all_zero(&t), "a failed parse leaves the template zeroed");
}

#define expect_refused(json, field, msg)                                                           \
    expect_refused_code((json), PT_EPARSE, (field), (msg), 0, 0)

Test(msgtmpl, email)
{
    struct pt_msg_tmpl t;
    parse_ok(EMAIL, &t);
    cr_expect_str_eq(t.name, "Win-back 15%");
    cr_expect_eq(t.channel, PT_CHAN_EMAIL);
    cr_expect_str_eq(t.subject_src, "{{first_name}}, we miss you");
    cr_expect_str_eq(t.html_src, "<p>Hi {{first_name}}, use <b>{{code}}</b></p>");
    cr_expect_str_eq(t.text_src, "Hi {{first_name}}, use {{code}}");
    cr_expect_null(t.body_src);
    cr_expect_null(t.body);
    cr_assert_not_null(t.subject);
    cr_assert_not_null(t.html);
    cr_assert_not_null(t.text);
    const char *ctx = "{\"first_name\": \"Ann & Bo\", \"code\": \"X<1>\"}";
    char *s = render(t.subject, ctx, PT_TMPL_TEXT);
    cr_expect_str_eq(s, "Ann & Bo, we miss you");
    free(s);
    s = render(t.html, ctx, PT_TMPL_HTML);
    cr_expect_str_eq(s, "<p>Hi Ann &amp; Bo, use <b>X&lt;1&gt;</b></p>");
    free(s);
    s = render(t.text, ctx, PT_TMPL_TEXT);
    cr_expect_str_eq(s, "Hi Ann & Bo, use X<1>");
    free(s);
    pt_msg_tmpl_release(&t);
    cr_expect(all_zero(&t));
    pt_msg_tmpl_release(&t); /* twice is harmless */
    pt_msg_tmpl_release(NULL);
}

Test(msgtmpl, email_with_one_body_part)
{
    struct pt_msg_tmpl t;
    parse_ok("{\"name\": \"a\", \"channel\": \"email\", \"subject\": \"s\", \"text\": \"t\"}", &t);
    cr_expect_null(t.html);
    cr_expect_null(t.html_src);
    cr_expect_not_null(t.text);
    pt_msg_tmpl_release(&t);
    parse_ok("{\"name\": \"a\", \"channel\": \"email\", \"subject\": \"s\", \"html\": \"h\","
             " \"text\": null, \"body\": null}",
             &t);
    cr_expect_not_null(t.html);
    cr_expect_null(t.text);
    cr_expect_null(t.text_src);
    char *j = to_json(&t);
    cr_expect_str_eq(j, "{\"name\":\"a\",\"channel\":\"email\",\"subject\":\"s\",\"html\":\"h\"}");
    free(j);
    pt_msg_tmpl_release(&t);
}

Test(msgtmpl, webhook)
{
    struct pt_msg_tmpl t;
    parse_ok(WEBHOOK, &t);
    cr_expect_str_eq(t.name, "SMS");
    cr_expect_eq(t.channel, PT_CHAN_WEBHOOK);
    cr_expect_null(t.subject);
    cr_expect_null(t.html);
    cr_expect_null(t.text);
    cr_assert_not_null(t.body);
    char *s = render(t.body, "{\"phone\": \"+48 600\", \"first_name\": \"O'Neil\"}", PT_TMPL_TEXT);
    cr_expect_str_eq(s, "{\"to\":\"+48 600\",\"text\":\"Hi O'Neil\"}");
    free(s);
    pt_msg_tmpl_release(&t);
    parse_ok("{\"name\": \"w\", \"channel\": \"webhook\", \"body\": \"{}\", \"subject\": null,"
             " \"html\": null, \"text\": null}",
             &t);
    cr_expect_str_eq(t.body_src, "{}");
    pt_msg_tmpl_release(&t);
}

Test(msgtmpl, canonical_json)
{
    struct pt_msg_tmpl t;
    parse_ok(EMAIL, &t);
    char *a = to_json(&t);
    cr_expect_str_eq(a, "{\"name\":\"Win-back 15%\",\"channel\":\"email\",\"subject\":"
                        "\"{{first_name}}, we miss you\",\"html\":\"<p>Hi {{first_name}}, use "
                        "<b>{{code}}</b></p>\",\"text\":\"Hi {{first_name}}, use {{code}}\"}");
    pt_msg_tmpl_release(&t);
    /* it parses back to the same JSON */
    parse_ok(a, &t);
    char *b = to_json(&t);
    cr_expect_str_eq(a, b);
    pt_msg_tmpl_release(&t);
    free(a);
    free(b);

    /* key order does not matter; escapes and UTF-8 survive */
    parse_ok("{\"body\": \"{\\\"a\\\":\\\"\\\\n\\t\\u00e9\\\"}\", \"channel\": \"webhook\","
             " \"name\": \"Ä \\\"q\\\"\"}",
             &t);
    a = to_json(&t);
    cr_expect_str_eq(a, "{\"name\":\"Ä \\\"q\\\"\",\"channel\":\"webhook\",\"body\":"
                        "\"{\\\"a\\\":\\\"\\\\n\\u0009é\\\"}\"}");
    pt_msg_tmpl_release(&t);
    parse_ok(a, &t);
    b = to_json(&t);
    cr_expect_str_eq(a, b);
    cr_expect_str_eq(t.body_src, "{\"a\":\"\\n\té\"}");
    pt_msg_tmpl_release(&t);
    free(a);
    free(b);
}

Test(msgtmpl, json_appends)
{
    struct pt_msg_tmpl t;
    parse_ok(WEBHOOK, &t);
    struct pt_buf b;
    pt_buf_init(&b);
    pt_buf_adds(&b, "[");
    cr_assert_eq(pt_msg_tmpl_json(&t, &b), 0);
    cr_expect_eq(strncmp(b.data, "[{\"name\":\"SMS\",", 15), 0);
    pt_buf_release(&b);
    pt_msg_tmpl_release(&t);
}

Test(msgtmpl, bad_json)
{
    expect_refused_code("", PT_EPARSE, "",
                        "invalid JSON at line 1, column 1: '[' or '{' expected near end of file", 1,
                        1);
    expect_refused_code("{\"name\": \"a\",\n \"channel\" \"email\"}", PT_EPARSE, "",
                        "invalid JSON at line 2, column 18: ':' expected near '\"email\"'", 2, 18);
    expect_refused_code("{\"name\": \"a\", \"name\": \"b\"}", PT_EPARSE, "",
                        "invalid JSON at line 1, column 20: duplicate object key near "
                        "'\"name\"'",
                        1, 20);
    expect_refused_code("\"x\"", PT_EPARSE, "",
                        "invalid JSON at line 1, column 3: '[' or '{' expected near '\"x\"'", 1, 3);
    expect_refused("[1]", "", "the template must be a JSON object, not a list");
}

Test(msgtmpl, unknown_keys)
{
    expect_refused("{\"name\": \"a\", \"channel\": \"email\", \"subject\": \"s\", \"txt\": \"t\"}",
                   "txt",
                   "txt: unknown key \"txt\" (known keys: name, channel, subject, html, text, "
                   "body)");
    /* unknown keys come first */
    expect_refused("{\"x\": 1}", "x",
                   "x: unknown key \"x\" (known keys: name, channel, subject, html, text, body)");
    /* the empty key is named "" (field "" is the document's) */
    expect_refused("{\"name\": \"a\", \"\": \"email\"}", "\"\"",
                   "\"\": unknown key \"\" (known keys: name, channel, subject, html, text, "
                   "body)");
    /* a long key is cut in field (63 bytes) and in the quote (40) */
    char json[256], field[64], msg[512];
    const char *k = "k123456789k123456789k123456789k123456789k123456789k123456789k123456789";
    snprintf(json, sizeof json, "{\"%s\": 1}", k);
    snprintf(field, sizeof field, "%.63s", k);
    snprintf(msg, sizeof msg,
             "%.63s: unknown key \"%.40s...\" (known keys: name, channel, subject, html, text, "
             "body)",
             k, k);
    expect_refused(json, field, msg);
}

Test(msgtmpl, name_rules)
{
    expect_refused("{\"channel\": \"email\"}", "name",
                   "name: missing: every template needs a name (1 to 200 bytes)");
    expect_refused("{\"name\": \"\", \"channel\": \"email\"}", "name", "name: must not be empty");
    expect_refused("{\"name\": 5}", "name", "name: must be a string, not a number");
    expect_refused("{\"name\": null}", "name", "name: must be a string, not null");
    /* jansson refuses \u0000 (no JSON_ALLOW_NUL): strings never hold NUL */
    expect_refused_code("{\"name\": \"a\\u0000b\"}", PT_EPARSE, "",
                        "invalid JSON at line 1, column 19: \\u0000 is not allowed without "
                        "JSON_ALLOW_NUL near '\"a\\u0000b\"'",
                        1, 19);
    char json[512];
    snprintf(json, sizeof json, "{\"name\": \"%0201d\"}", 0);
    expect_refused(json, "name", "name: is 201 bytes long; the limit is 200 bytes");
    snprintf(json, sizeof json,
             "{\"name\": \"%0200d\", \"channel\": \"email\", \"subject\": \"s\", \"html\": \"h\"}",
             0);
    struct pt_msg_tmpl t;
    parse_ok(json, &t);
    cr_expect_eq(strlen(t.name), 200);
    pt_msg_tmpl_release(&t);
}

Test(msgtmpl, channel_rules)
{
    expect_refused("{\"name\": \"a\"}", "channel",
                   "channel: missing: give \"email\" or \"webhook\"");
    expect_refused("{\"name\": \"a\", \"channel\": \"sms\"}", "channel",
                   "channel: must be \"email\" or \"webhook\", not \"sms\"");
    expect_refused("{\"name\": \"a\", \"channel\": \"Email\"}", "channel",
                   "channel: must be \"email\" or \"webhook\", not \"Email\"");
    expect_refused("{\"name\": \"a\", \"channel\": 1}", "channel",
                   "channel: must be \"email\" or \"webhook\", not a number");
}

Test(msgtmpl, email_rules)
{
    expect_refused("{\"name\": \"a\", \"channel\": \"email\", \"html\": \"h\"}", "subject",
                   "subject: missing: an email template needs a subject");
    expect_refused("{\"name\": \"a\", \"channel\": \"email\", \"subject\": null, \"html\": \"h\"}",
                   "subject", "subject: missing: an email template needs a subject");
    expect_refused("{\"name\": \"a\", \"channel\": \"email\", \"subject\": \"\", \"html\": \"h\"}",
                   "subject", "subject: must not be empty");
    expect_refused("{\"name\": \"a\", \"channel\": \"email\", \"subject\": \"s\"}", "html",
                   "html: missing: an email template needs html or text (or both)");
    expect_refused("{\"name\": \"a\", \"channel\": \"email\", \"subject\": \"s\", \"html\": null,"
                   " \"text\": null}",
                   "html", "html: missing: an email template needs html or text (or both)");
    expect_refused("{\"name\": \"a\", \"channel\": \"email\", \"subject\": \"s\", \"html\": [],"
                   " \"text\": \"t\"}",
                   "html", "html: must be a string, not a list");
    expect_refused("{\"name\": \"a\", \"channel\": \"email\", \"subject\": \"s\", \"text\": true}",
                   "text", "text: must be a string, not true");
    expect_refused("{\"name\": \"a\", \"channel\": \"email\", \"subject\": \"s\", \"text\": \"t\","
                   " \"body\": \"{}\"}",
                   "body", "body: an email template has no body (give its html and/or text)");
}

Test(msgtmpl, webhook_rules)
{
    const char *why = ": a webhook template has no subject, html or text (give its body)";
    char msg[128];
    static const char *const keys[] = {"subject", "html", "text"};
    for (size_t i = 0; i < 3; i++) {
        char json[128];
        snprintf(json, sizeof json,
                 "{\"name\": \"w\", \"channel\": \"webhook\", \"body\": \"{}\", \"%s\": \"x\"}",
                 keys[i]);
        snprintf(msg, sizeof msg, "%s%s", keys[i], why);
        expect_refused(json, keys[i], msg);
    }
    expect_refused("{\"name\": \"w\", \"channel\": \"webhook\"}", "body",
                   "body: missing: a webhook template needs a body (a template of the JSON sent)");
    expect_refused("{\"name\": \"w\", \"channel\": \"webhook\", \"body\": {\"a\": 1}}", "body",
                   "body: must be a string, not an object");
    expect_refused("{\"name\": \"w\", \"channel\": \"webhook\", \"body\": \"\"}", "body",
                   "body: must not be empty");
}

Test(msgtmpl, template_errors_in_parts)
{
    expect_refused_code("{\"name\": \"a\", \"channel\": \"email\", \"subject\": \"Hi {{name\","
                        " \"html\": \"h\"}",
                        PT_EPARSE, "subject",
                        "subject: line 1 column 4: unclosed tag: \"{{\" has no \"}}\"", 1, 4);
    expect_refused_code("{\"name\": \"a\", \"channel\": \"email\", \"subject\": \"s\","
                        " \"html\": \"<p>\\n  {{#items}}\\n{{/item}}\"}",
                        PT_EPARSE, "html",
                        "html: line 3 column 1: {{/item}} closes {{#items}} (opened at 2:3)", 3, 1);
    expect_refused_code("{\"name\": \"a\", \"channel\": \"email\", \"subject\": \"s\","
                        " \"text\": \"\\u017c\\u00f3\\u0142w {{> x}}\"}",
                        PT_EPARSE, "text",
                        "text: line 1 column 6: partials (\"{{> name}}\") are not supported", 1, 6);
    expect_refused_code("{\"name\": \"w\", \"channel\": \"webhook\", \"body\": \"{{#a}}\"}",
                        PT_EPARSE, "body",
                        "body: line 1 column 1: section {{#a}} is never closed: add {{/a}}", 1, 1);
}

Test(msgtmpl, part_limits)
{
    /* a part of PT_TMPL_MAX_BYTES is fine, one more byte is not */
    size_t n = PT_TMPL_MAX_BYTES, cap = n + 128;
    char *json = malloc(cap);
    int w = snprintf(json, cap, "{\"name\": \"w\", \"channel\": \"webhook\", \"body\": \"");
    memset(json + w, 'x', n);
    strcpy(json + (size_t)w + n, "\"}");
    struct pt_msg_tmpl t;
    parse_ok(json, &t);
    cr_expect_eq(strlen(t.body_src), n);
    pt_msg_tmpl_release(&t);
    memset(json + w, 'x', n + 1);
    strcpy(json + (size_t)w + n + 1, "\"}");
    expect_refused(json, "body", "body: is 262145 bytes long; the limit is 262144 bytes");
    free(json);

    /* sections nested too deep: PT_EPARSE here, with the position */
    char deep[1024] = "{\"name\": \"w\", \"channel\": \"webhook\", \"body\": \"";
    for (int i = 0; i <= PT_TMPL_MAX_DEPTH; i++)
        strcat(deep, "{{#a}}");
    for (int i = 0; i <= PT_TMPL_MAX_DEPTH; i++)
        strcat(deep, "{{/a}}");
    strcat(deep, "\"}");
    expect_refused_code(deep, PT_EPARSE, "body",
                        "body: line 1 column 193: sections nest deeper than 32 levels", 1, 193);
}

Test(msgtmpl, no_detail_records)
{
    struct pt_msg_tmpl t;
    const char *j = "{\"name\": 1}";
    cr_expect_eq(pt_msg_tmpl_parse(j, strlen(j), &t, NULL, NULL), PT_EPARSE);
    cr_expect(all_zero(&t));
    cr_expect_eq(pt_msg_tmpl_parse(NULL, 0, &t, NULL, NULL), PT_EPARSE);
    cr_expect_eq(pt_msg_tmpl_parse(EMAIL, strlen(EMAIL), &t, NULL, NULL), 0);
    pt_msg_tmpl_release(&t);
}

Test(msgtmpl, allocation_failures_are_clean)
{
    int ok = 0;
    for (unsigned long n = 1; n < 80; n++) {
        struct pt_msg_tmpl t;
        char field[64];
        struct pt_err e;
        pt_mem_fail_after(n);
        int rc = pt_msg_tmpl_parse(EMAIL, strlen(EMAIL), &t, field, &e);
        pt_mem_fail_after(0);
        cr_expect(rc == 0 || rc == PT_ENOMEM, "%lu: %d", n, rc);
        if (rc) {
            cr_expect(all_zero(&t));
            cr_expect_eq(e.code, PT_ENOMEM);
            continue;
        }
        ok++;
        struct pt_buf b;
        pt_buf_init(&b);
        pt_buf_adds(&b, "keep");
        pt_mem_fail_after(1);
        rc = pt_msg_tmpl_json(&t, &b);
        pt_mem_fail_after(0);
        cr_expect_eq(rc, PT_ENOMEM);
        cr_expect_str_eq(b.data, "keep");
        pt_buf_release(&b);
        pt_msg_tmpl_release(&t);
    }
    cr_expect_gt(ok, 0);
}
