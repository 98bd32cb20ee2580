/*
 * test_tmpl.c - the message template language (src/automation/tmpl.h):
 * every construct renders the exact text expected, in text and HTML mode;
 * sections over objects, lists of objects and of scalars, nested and
 * inverted; dotted names and the lookup through outer contexts; every falsy
 * value; standalone lines; every compile error with its message and exact
 * line:column; the size and depth limits; pt_tmpl_names; allocation
 * failures.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "automation/tmpl.h"
#include "util/mem.h"

static const char CTX[] =
    "{\"name\": \"Ala\", \"points\": 1250, \"neg\": -7, \"ratio\": 12.5, \"yes\": true,"
    " \"no\": false, \"nothing\": null, \"obj\": {\"a\": 1}, \"list\": [1, 2],"
    " \"html\": \"<b>Tom & Jerry's \\\"bar\\\"</b>\","
    " \"customer\": {\"first\": \"Ola\", \"tier\": {\"name\": \"Gold\", \"level\": 3}},"
    " \"items\": [{\"name\": \"Tea\", \"price\": 9.99}, {\"name\": \"Mug\", \"price\": 25}],"
    " \"tags\": [\"a\", \"b\", \"c\"], \"shop\": \"Corner\"}";

static json_t *ctx_of(const char *json)
{
    json_error_t je;
    json_t *v = json_loads(json, 0, &je);
    cr_assert_not_null(v, "bad test JSON: %s", je.text);
    return v;
}

/* The rendering of src with ctx (JSON text) in mode, as a malloc'ed string. */
static char *render_mode(const char *src, const char *ctx, int mode)
{
    struct pt_tmpl *t = NULL;
    struct pt_err e = {0};
    int rc = pt_tmpl_compile(src, strlen(src), &t, &e);
    cr_assert_eq(rc, 0, "%s\n-> %d %llu:%llu %s", src, rc, (unsigned long long)e.line,
                 (unsigned long long)e.column, e.msg);
    json_t *c = ctx_of(ctx);
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_tmpl_render(t, c, mode, &b), 0);
    char *s = strdup(b.data ? b.data : "");
    pt_buf_release(&b);
    json_decref(c);
    pt_tmpl_free(t);
    return s;
}

static void expect_mode(const char *src, const char *ctx, int mode, const char *want)
{
    char *got = render_mode(src, ctx, mode);
    cr_expect_str_eq(got, want, "template %s", src);
    free(got);
}

#define expect_text(src, ctx, want) expect_mode((src), (ctx), PT_TMPL_TEXT, (want))
#define expect_html(src, ctx, want) expect_mode((src), (ctx), PT_TMPL_HTML, (want))

static void expect_error(const char *src, size_t len, int code, unsigned line, unsigned col,
                         const char *msg)
{
    struct pt_tmpl *t = (struct pt_tmpl *)&t; /* must be reset */
    struct pt_err e = {0};
    int rc = pt_tmpl_compile(src, len, &t, &e);
    cr_assert_eq(rc, code, "template %s -> %d (%s)", src, rc, e.msg);
    cr_expect_null(t);
    cr_expect_eq(e.code, code);
    cr_expect_eq(e.line, line, "template %s: line %llu, want %u", src, (unsigned long long)e.line,
                 line);
    cr_expect_eq(e.column, col, "template %s: column %llu, want %u", src,
                 (unsigned long long)e.column, col);
    cr_expect_str_eq(e.msg, msg, "template %s", src);
}

#define expect_parse_error(src, line, col, msg)                                                    \
    expect_error((src), strlen(src), PT_EPARSE, (line), (col), (msg))

/* ---- plain text, variables, values ---- */

Test(tmpl, plain_text_is_kept)
{
    expect_text("", "{}", "");
    expect_text("Hello, world!\n", "{}", "Hello, world!\n");
    expect_html("a < b & \"c\" 'd' {", "{}", "a < b & \"c\" 'd' {");
    expect_text("} }} { {x} }", "{}", "} }} { {x} }");
}

Test(tmpl, variables)
{
    expect_text("Hi {{name}}, you have {{points}} points.", CTX, "Hi Ala, you have 1250 points.");
    expect_text("{{name}}{{name}}", CTX, "AlaAla");
    expect_text("[{{neg}}]", CTX, "[-7]");
    expect_text("{{yes}} {{no}}", CTX, "true false");
    expect_text("[{{nothing}}][{{missing}}][{{obj}}][{{list}}]", CTX, "[][][][]");
}

Test(tmpl, blanks_inside_tags)
{
    expect_text("{{ name }}|{{\tname\t}}|{{\nname\n}}", CTX, "Ala|Ala|Ala");
    expect_text("{{# yes }}y{{/ yes }}{{ ^no }}n{{ / no }}", CTX, "yn");
    expect_html("{{& html }}|{{{ html }}}", CTX,
                "<b>Tom & Jerry's \"bar\"</b>|"
                "<b>Tom & Jerry's \"bar\"</b>");
}

Test(tmpl, numbers)
{
    const char *ctx = "{\"a\": 12.5, \"b\": 0.1, \"c\": 3.0, \"d\": 19.99, \"e\": 1e21,"
                      " \"f\": 1e-7, \"g\": 1e15, \"h\": -0.5, \"i\": 123456789012.5,"
                      " \"j\": 0.000001, \"k\": -0.0, \"l\": 9223372036854775807,"
                      " \"m\": 0.30000000000000004, \"n\": 1.5e300, \"o\": -2.5e-10}";
    expect_text("{{a}} {{b}} {{c}} {{d}}", ctx, "12.5 0.1 3 19.99");
    expect_text("{{e}} {{f}} {{g}} {{h}}", ctx, "1e+21 1e-7 1000000000000000 -0.5");
    expect_text("{{i}} {{j}} {{k}} {{l}}", ctx, "123456789012.5 0.000001 0 9223372036854775807");
    expect_text("{{m}} {{n}} {{o}}", ctx, "0.30000000000000004 1.5e+300 -2.5e-10");
}

Test(tmpl, more_numbers)
{
    const char *ctx = "{\"a\": 0.001, \"b\": 1234.5678, \"c\": -19.99, \"d\": 100.25,"
                      " \"e\": 999999999.5, \"f\": 0.1234567891, \"g\": 5e-324, \"h\": 2e-6,"
                      " \"i\": 1.7976931348623157e308, \"j\": 1.2345678901234568e20}";
    expect_text("{{a}} {{b}} {{c}} {{d}} {{e}}", ctx, "0.001 1234.5678 -19.99 100.25 999999999.5");
    expect_text("{{f}} {{g}} {{h}}", ctx, "0.1234567891 5e-324 0.000002");
    expect_text("{{i}} {{j}}", ctx, "1.7976931348623157e+308 123456789012345680000");
}

/* Significant digits of a rendered number (no leading or trailing zeros). */
static int sig_digits(const char *s)
{
    int n = 0, zeros = 0, lead = 1;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9' || (lead && *s == '0'))
            continue;
        lead = 0;
        zeros = *s == '0' ? zeros + 1 : 0;
        n++;
    }
    return n - zeros;
}

Test(tmpl, reals_read_back_and_are_shortest)
{
    struct pt_tmpl *t;
    cr_assert_eq(pt_tmpl_compile("{{v}}", 5, &t, NULL), 0);
    struct pt_buf b;
    pt_buf_init(&b);
    uint64_t s = 88172645463325252ULL;
    for (int i = 0; i < 200000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        double x;
        switch (i % 5) {
        case 0: /* a decimal with few digits */
            x = (double)(s % 100000000) / (double)(1ULL << (s >> 60)) / 100.0;
            break;
        case 1: { /* any bit pattern */
            uint64_t bits = s;
            memcpy(&x, &bits, sizeof x);
            if (x != x || x - x != 0)
                x = 1.5;
            break;
        }
        case 2:
            x = (double)(s % 1000000) / 1000.0 - 500.0;
            break;
        case 3: /* subnormal */
            x = (double)(s % 100000) * 4.9406564584124654e-324;
            break;
        default:
            x = (double)(int64_t)(s % 4000000000000000ULL) * 1e-9;
            break;
        }
        json_t *c = json_pack("{s:f}", "v", x);
        pt_buf_reset(&b);
        cr_assert_eq(pt_tmpl_render(t, c, PT_TMPL_TEXT, &b), 0);
        json_decref(c);
        cr_assert_eq(strtod(b.data, NULL), x, "%.17g rendered as %s", x, b.data);
        int d = sig_digits(b.data);
        if (d > 1) { /* one digit less does not read back */
            char shorter[40];
            snprintf(shorter, sizeof shorter, "%.*e", d - 2, x);
            cr_assert_neq(strtod(shorter, NULL), x, "%.17g rendered as %s, but %s", x, b.data,
                          shorter);
        }
    }
    pt_buf_release(&b);
    pt_tmpl_free(t);
}

Test(tmpl, strings_with_nul_are_written_whole)
{
    struct pt_tmpl *t;
    cr_assert_eq(pt_tmpl_compile("<{{s}}>", 7, &t, NULL), 0);
    json_t *c = json_pack("{s:s%}", "s", "a\0b", (size_t)3);
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_tmpl_render(t, c, PT_TMPL_HTML, &b), 0);
    cr_expect_eq(b.len, 5);
    cr_expect_eq(memcmp(b.data, "<a\0b>", 5), 0);
    pt_buf_release(&b);
    json_decref(c);
    pt_tmpl_free(t);
}

/* ---- escaping ---- */

Test(tmpl, html_escaping)
{
    expect_html("<p>{{html}}</p>", CTX,
                "<p>&lt;b&gt;Tom &amp; Jerry&#39;s &quot;bar&quot;&lt;/b&gt;</p>");
    expect_text("<p>{{html}}</p>", CTX, "<p><b>Tom & Jerry's \"bar\"</b></p>");
    expect_html("{{{html}}}", CTX, "<b>Tom & Jerry's \"bar\"</b>");
    expect_html("{{&html}}", CTX, "<b>Tom & Jerry's \"bar\"</b>");
    expect_text("{{{html}}}{{&html}}", CTX,
                "<b>Tom & Jerry's \"bar\"</b><b>Tom & Jerry's \"bar\"</b>");
    expect_html("{{s}}", "{\"s\": \"&&<>\"}", "&amp;&amp;&lt;&gt;");
    expect_html("{{s}}", "{\"s\": \"za\\u017c\\u00f3\\u0142\\u0107\"}", "zażółć");
    expect_html("{{#tags}}<{{.}}>{{/tags}}", "{\"tags\": [\"<\", \"&\"]}", "<&lt;><&amp;>");
}

Test(tmpl, json_escaping)
{
    /* webhook bodies: values inside JSON strings stay valid JSON */
    expect_mode("{\"t\":\"{{s}}\",\"n\":{{n}}}", "{\"s\": \"a\\\"b\\\\c\\nd\\u0001\", \"n\": 12.5}",
                PT_TMPL_JSON, "{\"t\":\"a\\\"b\\\\c\\u000ad\\u0001\",\"n\":12.5}");
    expect_mode("{{s}}", "{\"s\": \"<&>\"}", PT_TMPL_JSON, "<&>");
    expect_mode("{{{s}}}", "{\"s\": \"a\\\"b\"}", PT_TMPL_JSON, "a\"b"); /* raw stays raw */
    expect_mode("[{{#l}}\"{{.}}\",{{/l}}]", "{\"l\": [\"x\\\"\", \"y\"]}", PT_TMPL_JSON,
                "[\"x\\\"\",\"y\",]");
}

/* ---- sections ---- */

Test(tmpl, section_on_object_pushes_it)
{
    expect_text("{{#customer}}{{first}} ({{tier.name}}){{/customer}}", CTX, "Ola (Gold)");
    expect_text("{{#customer.tier}}{{name}}/{{level}}{{/customer.tier}}", CTX, "Gold/3");
}

Test(tmpl, section_once_for_scalars_with_dot)
{
    expect_text("{{#yes}}[{{.}}]{{/yes}}", CTX, "[true]");
    expect_text("{{#name}}<{{.}}>{{/name}}", CTX, "<Ala>");
    expect_text("{{#points}}{{.}} pts{{/points}}", CTX, "1250 pts");
    expect_text("{{#ratio}}{{.}}{{/ratio}}", CTX, "12.5");
}

Test(tmpl, loops_over_lists)
{
    expect_text("{{#items}}{{name}}={{price}};{{/items}}", CTX, "Tea=9.99;Mug=25;");
    expect_text("{{#tags}}{{.}},{{/tags}}", CTX, "a,b,c,");
    expect_text("{{#list}}{{.}}{{/list}}", CTX, "12");
    /* items that are themselves falsy are still visited */
    expect_text("{{#l}}({{.}}){{/l}}", "{\"l\": [0, false, \"\", null]}", "(0)(false)()()");
    expect_text("{{#l}}x{{/l}}", "{\"l\": [[], {}]}", "xx");
}

Test(tmpl, nested_sections)
{
    const char *ctx = "{\"orders\": [{\"id\": 1, \"lines\": [{\"sku\": \"A\"}, {\"sku\": \"B\"}]},"
                      " {\"id\": 2, \"lines\": []}, {\"id\": 3, \"lines\": [{\"sku\": \"C\"}]}],"
                      " \"matrix\": [[1, 2], [3], []]}";
    expect_text("{{#orders}}#{{id}}:{{#lines}}{{sku}}{{/lines}}{{^lines}}none{{/lines}} "
                "{{/orders}}",
                ctx, "#1:AB #2:none #3:C ");
    expect_text("{{#matrix}}[{{#.}}{{.}}{{/.}}]{{/matrix}}", ctx, "[12][3][]");
    expect_text("{{#orders}}{{#lines}}{{id}}{{sku}} {{/lines}}{{/orders}}", ctx, "1A 1B 3C ");
}

Test(tmpl, inverted_sections)
{
    expect_text("{{^missing}}none{{/missing}}", CTX, "none");
    expect_text("{{^items}}none{{/items}}", CTX, "");
    expect_text("{{^no}}no!{{/no}}|{{^yes}}yes!{{/yes}}", CTX, "no!|");
    expect_text("a{{^yes}}b{{/yes}}c{{^no}}d{{/no}}e", CTX, "acde");
    /* inside an inverted section the context is unchanged */
    expect_text("{{^nothing}}{{name}}{{/nothing}}", CTX, "Ala");
}

Test(tmpl, falsy_and_truthy_values)
{
    static const char *const falsy[] = {"0", "0.0", "-0.0", "\"\"", "[]", "{}", "null", "false"};
    static const char *const truthy[] = {"1",   "-1",   "0.5",        "\"0\"", "\" \"",
                                         "[0]", "[[]]", "{\"a\": 0}", "true",  "\"false\""};
    char ctx[64];
    for (size_t i = 0; i < sizeof falsy / sizeof *falsy; i++) {
        snprintf(ctx, sizeof ctx, "{\"v\": %s}", falsy[i]);
        expect_text("{{#v}}yes{{/v}}{{^v}}no{{/v}}", ctx, "no");
    }
    for (size_t i = 0; i < sizeof truthy / sizeof *truthy; i++) {
        snprintf(ctx, sizeof ctx, "{\"v\": %s}", truthy[i]);
        expect_text("{{#v}}yes{{/v}}{{^v}}no{{/v}}", ctx, "yes");
    }
    expect_text("{{#v}}yes{{/v}}{{^v}}no{{/v}}", "{}", "no"); /* missing */
}

/* ---- names ---- */

Test(tmpl, dotted_names)
{
    expect_text("{{customer.first}} {{customer.tier.name}} {{customer.tier.level}}", CTX,
                "Ola Gold 3");
    expect_text("[{{customer.nope}}][{{nope.first}}][{{name.length}}][{{items.name}}]", CTX,
                "[][][][]");
    expect_html("{{a.b}}", "{\"a\": {\"b\": \"<i>\"}}", "&lt;i&gt;");
    expect_html("{{{a.b}}}", "{\"a\": {\"b\": \"<i>\"}}", "<i>");
    /* a name may hold "-" and "_" */
    expect_text("{{first-name}} {{last_name}} {{x-1.y_2}}",
                "{\"first-name\": \"A\", \"last_name\": \"B\", \"x-1\": {\"y_2\": \"C\"}}",
                "A B C");
}

Test(tmpl, lookup_falls_back_to_outer_contexts)
{
    expect_text("{{#items}}{{name}} at {{shop}}, {{/items}}", CTX,
                "Tea at Corner, Mug at Corner, ");
    expect_text("{{#customer}}{{#tier}}{{name}}:{{first}}:{{shop}}{{/tier}}{{/customer}}", CTX,
                "Gold:Ola:Corner");
    /* the innermost context wins */
    expect_text("{{name}}{{#customer.tier}}-{{name}}{{/customer.tier}}-{{name}}", CTX,
                "Ala-Gold-Ala");
    /* a key that is there but null hides the outer one */
    expect_text("{{#o}}[{{name}}]{{/o}}", "{\"name\": \"out\", \"o\": {\"name\": null, \"x\": 1}}",
                "[]");
    /* a scalar on the stack is skipped by name lookups */
    expect_text("{{#yes}}{{name}}{{/yes}}", CTX, "Ala");
}

Test(tmpl, dotted_names_resolve_against_the_first_match)
{
    /* Mustache: a.b finds "a" on the stack, then looks for b only in it */
    expect_text("{{#a}}[{{b.c}}]{{/a}}", "{\"a\": {\"b\": {}}, \"b\": {\"c\": \"outer\"}}", "[]");
    expect_text("{{#a}}[{{b.c}}]{{/a}}", "{\"a\": {\"x\": 1}, \"b\": {\"c\": \"outer\"}}",
                "[outer]");
}

Test(tmpl, dot_is_the_current_item)
{
    expect_text("[{{.}}]", CTX, "[]"); /* the root object */
    expect_text("{{#tags}}{{{.}}}{{&.}}{{/tags}}", CTX, "aabbcc");
}

Test(tmpl, non_object_context)
{
    struct pt_tmpl *t;
    const char *src = "a{{x}}{{#y}}b{{/y}}{{^y}}c{{/y}}[{{.}}]";
    cr_assert_eq(pt_tmpl_compile(src, strlen(src), &t, NULL), 0);
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_tmpl_render(t, NULL, PT_TMPL_TEXT, &b), 0);
    cr_expect_str_eq(b.data, "ac[]");
    json_t *s = json_string("<s>");
    pt_buf_reset(&b);
    cr_assert_eq(pt_tmpl_render(t, s, PT_TMPL_HTML, &b), 0);
    cr_expect_str_eq(b.data, "ac[&lt;s&gt;]");
    json_decref(s);
    pt_buf_release(&b);
    pt_tmpl_free(t);
}

/* ---- comments and standalone lines ---- */

Test(tmpl, comments)
{
    expect_text("a{{! a comment }}b", CTX, "ab");
    expect_text("a{{!}}b{{! {{name }}c", CTX, "abc");
    expect_text("a{{! {{name}} }}b", CTX, "a }}b"); /* a comment ends at the first "}}" */
    expect_text("a{{!\nline 1\nline 2\n}}b", CTX, "ab");
    expect_text("a{{!x}}{{!y}}b{{name}}", CTX, "abAla");
}

Test(tmpl, standalone_lines_are_removed)
{
    const char *src = "Your picks:\n"
                      "{{#items}}\n"
                      "  - {{name}}\n"
                      "{{/items}}\n"
                      "{{^missing}}\n"
                      "  {{! standalone comment }}\n"
                      "Thanks\n"
                      "{{/missing}}\n"
                      "Bye";
    expect_text(src, CTX, "Your picks:\n  - Tea\n  - Mug\nThanks\nBye");
    /* indented, at the start and the end, CRLF */
    expect_text("  {{#yes}}  \nX\n\t{{/yes}}", CTX, "X\n");
    expect_text("{{#yes}}\r\nX\r\n{{/yes}}\r\nY", CTX, "X\r\nY");
    expect_text("a\n{{!c}}\n{{!d}}\nb", CTX, "a\nb");
    /* not standalone: other text or another tag on the line */
    expect_text("a {{#yes}}\nX\n{{/yes}} b", CTX, "a \nX\n b");
    expect_text("{{#yes}}{{#yes}}\nX\n{{/yes}}{{/yes}}\n", CTX, "\nX\n\n");
    expect_text("{{name}}\n{{name}}\n", CTX, "Ala\nAla\n");
    /* a multi-line comment alone on its lines */
    expect_text("a\n{{!\nx\n}}\nb\n", CTX, "a\nb\n");
}

Test(tmpl, text_around_inverted_sections_stays_put)
{
    /* the text after an inverted section is not part of its body */
    expect_text("x{{^yes}}in{{/yes}}out", CTX, "xout");
    expect_text("x{{^no}}in{{/no}}out", CTX, "xinout");
    expect_text("x{{^yes}}{{/yes}}{{! c }}out", CTX, "xout");
}

Test(tmpl, a_typical_email)
{
    const char *src = "<h1>Hi {{first_name}}!</h1>\n"
                      "<p>You have <b>{{points}}</b> points ({{tier}}).</p>\n"
                      "{{#voucher}}<p>Your code: {{code}} ({{value}}% off)</p>{{/voucher}}\n"
                      "<ul>\n"
                      "{{#products}}\n"
                      "  <li><a href=\"{{url}}\">{{name}}</a> {{price}} {{currency}}</li>\n"
                      "{{/products}}\n"
                      "</ul>\n"
                      "<a href=\"{{{unsubscribe_url}}}\">Unsubscribe</a>";
    const char *ctx = "{\"first_name\": \"Zoë\", \"points\": 320, \"tier\": \"Silver\","
                      " \"currency\": \"PLN\", \"voucher\": {\"code\": \"AB-12\", \"value\": 15},"
                      " \"products\": [{\"name\": \"Cups & saucers\", \"price\": 49.5,"
                      " \"url\": \"https://x.test/p?id=1&s=2\"}, {\"name\": \"Tea\", \"price\":"
                      " 12, \"url\": \"https://x.test/p?id=2\"}],"
                      " \"unsubscribe_url\": \"https://x.test/u?t=a&b\"}";
    expect_html(src, ctx,
                "<h1>Hi Zoë!</h1>\n"
                "<p>You have <b>320</b> points (Silver).</p>\n"
                "<p>Your code: AB-12 (15% off)</p>\n"
                "<ul>\n"
                "  <li><a href=\"https://x.test/p?id=1&amp;s=2\">Cups &amp; saucers</a> 49.5 "
                "PLN</li>\n"
                "  <li><a href=\"https://x.test/p?id=2\">Tea</a> 12 PLN</li>\n"
                "</ul>\n"
                "<a href=\"https://x.test/u?t=a&b\">Unsubscribe</a>");
}

Test(tmpl, render_appends_and_repeats)
{
    struct pt_tmpl *t;
    const char *src = "{{#tags}}{{.}}{{/tags}}!";
    cr_assert_eq(pt_tmpl_compile(src, strlen(src), &t, NULL), 0);
    json_t *c = ctx_of(CTX);
    struct pt_buf b;
    pt_buf_init(&b);
    pt_buf_adds(&b, ">");
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pt_tmpl_render(t, c, PT_TMPL_TEXT, &b), 0);
    cr_expect_str_eq(b.data, ">abc!abc!abc!");
    pt_buf_release(&b);
    json_decref(c);
    pt_tmpl_free(t);
}

/* ---- errors ---- */

Test(tmpl, error_unclosed_tags)
{
    expect_parse_error("Hello {{name", 1, 7, "unclosed tag: \"{{\" has no \"}}\"");
    expect_parse_error("ab\ncd {{x}}\n  {{ y }\n", 3, 3, "unclosed tag: \"{{\" has no \"}}\"");
    expect_parse_error("{{", 1, 1, "unclosed tag: \"{{\" has no \"}}\"");
    expect_parse_error("x {{{name", 1, 3, "unclosed tag: \"{{{\" has no \"}}}\"");
    expect_parse_error("x\n{{{name}}", 2, 1, "\"{{{\" is closed by \"}}\", not by \"}}}\"");
    expect_parse_error("{{{name}} }", 1, 1, "\"{{{\" is closed by \"}}\", not by \"}}}\"");
    expect_parse_error("{{! comment", 1, 1, "unclosed tag: \"{{\" has no \"}}\"");
}

Test(tmpl, error_columns_count_characters)
{
    /* "Cześć " is 6 characters (8 bytes) */
    expect_parse_error("Cześć {{", 1, 7, "unclosed tag: \"{{\" has no \"}}\"");
    expect_parse_error("żółw\nŻÓŁW {{}}", 2, 6,
                       "empty name: a tag needs a name such as {{first_name}}");
}

Test(tmpl, error_empty_names)
{
    const char *msg = "empty name: a tag needs a name such as {{first_name}}";
    expect_parse_error("a{{}}", 1, 2, msg);
    expect_parse_error("a{{  }}", 1, 2, msg);
    expect_parse_error("{{#}}{{/}}", 1, 1, msg);
    expect_parse_error("{{#a}}{{/ }}", 1, 7, msg);
    expect_parse_error("{{^}}", 1, 1, msg);
    expect_parse_error("{{&}}", 1, 1, msg);
    expect_parse_error("{{{ }}}", 1, 1, msg);
}

Test(tmpl, error_invalid_names)
{
    expect_parse_error("{{a b}}", 1, 1,
                       "invalid name \"a b\": a name has letters, digits, \"_\", \"-\" and \".\" "
                       "only");
    expect_parse_error("x {{na$me}}", 1, 3,
                       "invalid name \"na$me\": a name has letters, digits, \"_\", \"-\" and "
                       "\".\" only");
    expect_parse_error("{{#a\tb}}", 1, 1,
                       "invalid name \"a?b\": a name has letters, digits, \"_\", \"-\" and \".\" "
                       "only");
    expect_parse_error("{{a\nb}}", 1, 1,
                       "invalid name \"a?b\": a name has letters, digits, \"_\", \"-\" and \".\" "
                       "only");
    expect_parse_error("{{ {a} }}", 1, 1,
                       "invalid name \"{a}\": a name has letters, digits, \"_\", \"-\" and \".\" "
                       "only");
    expect_parse_error("{{<parent}}", 1, 1,
                       "invalid name \"<parent\": a name has letters, digits, \"_\", \"-\" and "
                       "\".\" only");
    const char *dots = "\": a \".\" must stand between two parts of a name (or alone, for the "
                       "current item)";
    char want[256];
    static const char *const bad[] = {"a..b", ".a", "a.", ".."};
    for (size_t i = 0; i < 4; i++) {
        char src[32];
        snprintf(src, sizeof src, "{{%s}}", bad[i]);
        snprintf(want, sizeof want, "invalid name \"%s%s", bad[i], dots);
        expect_parse_error(src, 1, 1, want);
    }
}

Test(tmpl, error_long_names_are_cut_in_messages)
{
    char src[128], want[256];
    snprintf(src, sizeof src, "{{%s!}}", "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij");
    snprintf(want, sizeof want,
             "invalid name \"%s...\": a name has letters, digits, \"_\", \"-\" and \".\" only",
             "abcdefghijabcdefghijabcdefghijabcdefghij");
    expect_parse_error(src, 1, 1, want);
}

Test(tmpl, error_section_mismatch)
{
    expect_parse_error("x\n    {{#a}}\n{{/b}}", 3, 1, "{{/b}} closes {{#a}} (opened at 2:5)");
    expect_parse_error("{{#a}}{{^b}}{{/a}}{{/b}}", 1, 13, "{{/a}} closes {{^b}} (opened at 1:7)");
    expect_parse_error("{{#a.b}}{{/a}}", 1, 9, "{{/a}} closes {{#a.b}} (opened at 1:1)");
}

Test(tmpl, error_stray_close)
{
    expect_parse_error("a\nb{{/x}}", 2, 2, "stray closing tag {{/x}}: no section is open");
    expect_parse_error("{{#a}}{{/a}}{{/a}}", 1, 13, "stray closing tag {{/a}}: no section is open");
}

Test(tmpl, error_section_never_closed)
{
    expect_parse_error("a {{#x}} b", 1, 3, "section {{#x}} is never closed: add {{/x}}");
    expect_parse_error("{{#a}}\n {{^b}}", 2, 2, "section {{^b}} is never closed: add {{/b}}");
    expect_parse_error("{{#a}}{{#b}}{{/b}}", 1, 1, "section {{#a}} is never closed: add {{/a}}");
}

Test(tmpl, error_unsupported_tags)
{
    expect_parse_error("a {{=<% %>=}}", 1, 3,
                       "set-delimiter tags (\"{{=...=}}\") are not supported");
    expect_parse_error("a\n{{> footer}}", 2, 1, "partials (\"{{> name}}\") are not supported");
    expect_parse_error("{{ >footer}}", 1, 1, "partials (\"{{> name}}\") are not supported");
}

Test(tmpl, first_error_wins)
{
    expect_parse_error("{{/a}}{{", 1, 1, "stray closing tag {{/a}}: no section is open");
    expect_parse_error("{{#a}}{{b c}}", 1, 7,
                       "invalid name \"b c\": a name has letters, digits, \"_\", \"-\" and \".\" "
                       "only");
}

Test(tmpl, error_without_detail_record)
{
    struct pt_tmpl *t;
    cr_expect_eq(pt_tmpl_compile("{{", 2, &t, NULL), PT_EPARSE);
    cr_expect_null(t);
}

/* ---- limits ---- */

static char *nested(int depth)
{
    size_t cap = (size_t)depth * 16 + 1;
    char *s = malloc(cap);
    size_t n = 0;
    for (int i = 0; i < depth; i++)
        n += (size_t)snprintf(s + n, cap - n, "{{#s%d}}", i % 10);
    for (int i = depth - 1; i >= 0; i--)
        n += (size_t)snprintf(s + n, cap - n, "{{/s%d}}", i % 10);
    return s;
}

Test(tmpl, depth_limit)
{
    char *ok = nested(PT_TMPL_MAX_DEPTH);
    struct pt_tmpl *t;
    cr_assert_eq(pt_tmpl_compile(ok, strlen(ok), &t, NULL), 0);
    json_t *c = ctx_of("{\"s0\": {\"s1\": true}, \"s2\": [1, 2]}");
    struct pt_buf b;
    pt_buf_init(&b);
    cr_expect_eq(pt_tmpl_render(t, c, PT_TMPL_TEXT, &b), 0);
    pt_buf_release(&b);
    json_decref(c);
    pt_tmpl_free(t);
    free(ok);
    char *bad = nested(PT_TMPL_MAX_DEPTH + 1);
    /* the 33rd opening tag: 32 tags of 7 bytes before it */
    expect_error(bad, strlen(bad), PT_ETOOBIG, 1, 7 * PT_TMPL_MAX_DEPTH + 1,
                 "sections nest deeper than 32 levels");
    free(bad);
}

Test(tmpl, deep_rendering)
{
    /* 32 nested lists of two: 2^5 leaves at depth 5 and the rest once */
    char src[1024];
    size_t n = 0;
    for (int i = 0; i < PT_TMPL_MAX_DEPTH; i++)
        n += (size_t)snprintf(src + n, sizeof src - n, "{{#%s}}", i < 5 ? "l" : "o");
    n += (size_t)snprintf(src + n, sizeof src - n, "{{v}}");
    for (int i = PT_TMPL_MAX_DEPTH - 1; i >= 0; i--)
        n += (size_t)snprintf(src + n, sizeof src - n, "{{/%s}}", i < 5 ? "l" : "o");
    expect_text(src, "{\"l\": [1, 2], \"o\": {\"v\": \"x\"}}", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

Test(tmpl, size_limit)
{
    size_t n = PT_TMPL_MAX_BYTES;
    char *s = malloc(n + 1);
    memset(s, 'a', n + 1);
    memcpy(s, "{{x}}", 5);
    struct pt_tmpl *t;
    cr_assert_eq(pt_tmpl_compile(s, n, &t, NULL), 0);
    json_t *c = ctx_of("{\"x\": \"<>\"}");
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_tmpl_render(t, c, PT_TMPL_HTML, &b), 0);
    cr_expect_eq(b.len, n - 5 + 8);
    cr_expect_eq(memcmp(b.data, "&lt;&gt;aaa", 11), 0);
    pt_buf_release(&b);
    json_decref(c);
    pt_tmpl_free(t);
    expect_error(s, n + 1, PT_ETOOBIG, 0, 0,
                 "the template is 262145 bytes long; the limit is 262144 bytes");
    free(s);
}

Test(tmpl, many_tags)
{
    /* 20000 variables and sections: the op list grows */
    size_t cap = 20000 * 24 + 1, n = 0;
    char *s = malloc(cap);
    for (int i = 0; i < 20000; i++)
        n += (size_t)snprintf(s + n, cap - n, i % 2 ? "{{#v}}{{v}}{{/v}}" : "{{x}}-");
    struct pt_tmpl *t;
    cr_assert_eq(pt_tmpl_compile(s, n, &t, NULL), 0);
    json_t *c = ctx_of("{\"x\": 1, \"v\": 2}");
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_tmpl_render(t, c, PT_TMPL_TEXT, &b), 0);
    cr_expect_eq(b.len, 10000 * 3);
    cr_expect_eq(strncmp(b.data, "1-21-2", 6), 0);
    pt_buf_release(&b);
    json_decref(c);
    pt_tmpl_free(t);
    free(s);
}

/* ---- pt_tmpl_names ---- */

struct names {
    char list[512];
    int calls, stop_at;
};

static int name_cb(void *ctx, const char *name, size_t len)
{
    struct names *n = ctx;
    cr_expect_eq(strlen(name), len); /* NUL-terminated too */
    size_t used = strlen(n->list);
    snprintf(n->list + used, sizeof n->list - used, "%s%.*s", used ? "," : "", (int)len, name);
    return ++n->calls == n->stop_at ? 42 : 0;
}

static void expect_names(const char *src, const char *want)
{
    struct pt_tmpl *t;
    cr_assert_eq(pt_tmpl_compile(src, strlen(src), &t, NULL), 0, "%s", src);
    struct names n = {.list = "", .calls = 0, .stop_at = 0};
    cr_expect_eq(pt_tmpl_names(t, name_cb, &n), 0);
    cr_expect_str_eq(n.list, want, "template %s", src);
    pt_tmpl_free(t);
}

Test(tmpl, names)
{
    expect_names("", "");
    expect_names("plain {{! comment }} {{.}} {{#.}}{{/.}}", "");
    expect_names("{{b}}{{a}}{{b}}{{{c}}}{{&d}}", "b,a,c,d");
    expect_names("{{#items}}{{name}}{{customer.first}}{{/items}}{{^vip}}{{customer.tier}}{{/vip}}",
                 "items,name,customer,vip");
    expect_names("{{a.b.c}}{{a}}{{x-y.z}}", "a,x-y");
}

Test(tmpl, names_callback_stops)
{
    struct pt_tmpl *t;
    const char *src = "{{a}}{{b}}{{c}}";
    cr_assert_eq(pt_tmpl_compile(src, strlen(src), &t, NULL), 0);
    struct names n = {.list = "", .calls = 0, .stop_at = 2};
    cr_expect_eq(pt_tmpl_names(t, name_cb, &n), 42);
    cr_expect_str_eq(n.list, "a,b");
    pt_tmpl_free(t);
}

Test(tmpl, names_many_distinct)
{
    size_t cap = 3000 * 24, n = 0;
    char *s = malloc(cap);
    for (int i = 0; i < 3000; i++)
        n += (size_t)snprintf(s + n, cap - n, "{{n%d.x}}{{n%d}}", i, i / 2);
    struct pt_tmpl *t;
    cr_assert_eq(pt_tmpl_compile(s, n, &t, NULL), 0);
    struct names nm = {.list = "", .calls = 0, .stop_at = 0};
    cr_expect_eq(pt_tmpl_names(t, name_cb, &nm), 0);
    cr_expect_eq(nm.calls, 3000);
    cr_expect_eq(strncmp(nm.list, "n0,n1,n2,n3,", 12), 0);
    pt_tmpl_free(t);
    free(s);
}

/* ---- allocation failures ---- */

Test(tmpl, allocation_failures_are_clean)
{
    const char *src = "{{#items}}{{name}} {{price}}\n{{/items}}{{^x}}{{a.b.c}}{{/x}} a tail of "
                      "text long enough that the output buffer must grow: 0123456789";
    json_t *c = ctx_of("{\"items\": [{\"name\": \"a long name that makes the output grow "
                       "further: 0123456789012345678901234567890123456789\", \"price\": 1}]}");
    int compiled = 0, failed_renders = 0;
    for (unsigned long n = 1; n < 40; n++) {
        struct pt_tmpl *t;
        struct pt_err e;
        pt_mem_fail_after(n);
        int rc = pt_tmpl_compile(src, strlen(src), &t, &e);
        pt_mem_fail_after(0);
        cr_expect(rc == 0 || rc == PT_ENOMEM, "%lu: %d", n, rc);
        if (rc) {
            cr_expect_null(t);
            cr_expect_eq(e.code, PT_ENOMEM);
            continue;
        }
        compiled++;
        for (unsigned long k = 1; k < 4; k++) {
            struct pt_buf b;
            pt_buf_init(&b);
            pt_buf_adds(&b, "keep");
            pt_mem_fail_after(k);
            rc = pt_tmpl_render(t, c, PT_TMPL_HTML, &b);
            pt_mem_fail_after(0);
            cr_expect(rc == 0 || rc == PT_ENOMEM);
            if (rc) {
                failed_renders++;
                cr_expect_str_eq(b.data, "keep"); /* unchanged */
            } else {
                cr_expect_eq(strncmp(b.data, "keepa long name", 15), 0);
            }
            pt_buf_release(&b);
        }
        pt_tmpl_free(t);
    }
    cr_expect_gt(compiled, 0);
    cr_expect_gt(failed_renders, 0);
    json_decref(c);
}
