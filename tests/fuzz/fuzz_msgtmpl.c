/*
 * fuzz_msgtmpl.c - libFuzzer target for the saved message template parser
 * (automation/msgtmpl.h).
 *
 * Checks, besides memory safety and leaks:
 *  - a refused document gives PT_EPARSE and leaves the template zeroed;
 *    `field` is NUL-terminated within 64 bytes and starts e->msg ("KEY:
 *    reason"); invalid JSON has field "" and a line/column inside the text;
 *    a template error in a part has that part's key in field, "KEY: line L
 *    column C: " in the message and a line/column that points at a "{{" of
 *    the part;
 *  - an accepted document obeys the channel rules (email: subject and html
 *    or text, no body; webhook: body only), every source has its compiled
 *    part, the canonical JSON parses again to the same JSON, and every part
 *    renders against a fixed context.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "automation/msgtmpl.h"

#define FIELD 64 /* msgtmpl.h: `field` holds at least 64 bytes */

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char k_ctx[] = "{\"first_name\": \"Ala & <Ola>\", \"points\": 120, \"code\": \"AB-1\","
                            " \"items\": [{\"name\": \"a\", \"price\": 1.5}, {\"name\": \"b\"}],"
                            " \"phone\": \"+48\", \"vip\": true}";

static int all_zero(const struct pt_msg_tmpl *t)
{
    static const struct pt_msg_tmpl zero;
    return memcmp(t, &zero, sizeof zero) == 0;
}

/* Byte offset of the 1-based line/column (characters) in s, or n when past. */
static size_t offset_of(const char *s, size_t n, uint64_t line, uint64_t col)
{
    uint64_t l = 1, c = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (l == line && c == col && (ch & 0xC0) != 0x80)
            return i;
        if (ch == '\n') {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c++;
        }
    }
    return n;
}

/* The string value of key in the document, when it is one. */
static const char *part_text(const uint8_t *data, size_t size, const char *key, size_t *n)
{
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    const char *s = NULL;
    json_t *v = root ? json_object_get(root, key) : NULL;
    static char copy[300000];
    if (json_is_string(v) && json_string_length(v) < sizeof copy) {
        *n = json_string_length(v);
        memcpy(copy, json_string_value(v), *n);
        s = copy;
    }
    json_decref(root);
    return s;
}

static void refused(const uint8_t *data, size_t size, int rc, const struct pt_msg_tmpl *t,
                    const char *field, const struct pt_err *e)
{
    check(rc == PT_EPARSE && e->code == PT_EPARSE);
    check(all_zero(t));
    check(memchr(field, '\0', FIELD) != NULL);
    check(memchr(e->msg, '\0', sizeof e->msg) != NULL && e->msg[0] != '\0');
    size_t n = strlen(field);
    if (n == 0) {
        if (e->line != 0) {
            check(e->column >= 1);
            size_t lines = 1;
            for (size_t i = 0; i < size; i++)
                lines += data[i] == '\n';
            check(e->line <= lines);
            check(strncmp(e->msg, "invalid JSON at line ", 21) == 0);
        } else {
            check(e->column == 0);
            check(strncmp(e->msg, "the template must be a JSON object", 34) == 0);
        }
        return;
    }
    check(strncmp(e->msg, field, n) == 0);
    if (n < FIELD - 8) /* not cut */
        check(e->msg[n] == ':');
    if (e->line == 0) {
        check(e->column == 0);
        return;
    }
    /* a template error in a part */
    check(strcmp(field, "subject") == 0 || strcmp(field, "html") == 0 ||
          strcmp(field, "text") == 0 || strcmp(field, "body") == 0);
    char head[160];
    snprintf(head, sizeof head, "%s: line %llu column %llu: ", field, (unsigned long long)e->line,
             (unsigned long long)e->column);
    check(strncmp(e->msg, head, strlen(head)) == 0);
    size_t len;
    const char *s = part_text(data, size, field, &len);
    check(s != NULL);
    size_t off = offset_of(s, len, e->line, e->column);
    check(off + 1 < len && s[off] == '{' && s[off + 1] == '{');
}

static void render_part(const struct pt_tmpl *t, const char *src, const json_t *ctx, int mode)
{
    check((t == NULL) == (src == NULL));
    if (t == NULL)
        return;
    size_t hashes = 0;
    for (const char *p = src; *p; p++)
        hashes += *p == '#';
    if (hashes > 10)
        return; /* nested loops: 2^depth output */
    struct pt_buf b;
    pt_buf_init(&b);
    check(pt_tmpl_render(t, ctx, mode, &b) == 0);
    pt_buf_release(&b);
}

static void accepted(const struct pt_msg_tmpl *t)
{
    check(t->name != NULL && t->name[0] != '\0' && strlen(t->name) <= 200);
    if (t->channel == PT_CHAN_EMAIL) {
        check(t->subject != NULL && (t->html != NULL || t->text != NULL) && t->body == NULL);
    } else {
        check(t->channel == PT_CHAN_WEBHOOK);
        check(t->body != NULL && !t->subject && !t->html && !t->text);
    }
    static json_t *ctx;
    if (ctx == NULL)
        ctx = json_loads(k_ctx, 0, NULL);
    check(ctx != NULL);
    render_part(t->subject, t->subject_src, ctx, PT_TMPL_TEXT);
    render_part(t->html, t->html_src, ctx, PT_TMPL_HTML);
    render_part(t->text, t->text_src, ctx, PT_TMPL_TEXT);
    render_part(t->body, t->body_src, ctx, PT_TMPL_TEXT);

    /* the canonical JSON parses to the same JSON */
    struct pt_buf a, b;
    pt_buf_init(&a);
    pt_buf_init(&b);
    check(pt_msg_tmpl_json(t, &a) == 0);
    struct pt_msg_tmpl q;
    char field[FIELD];
    struct pt_err e;
    int rc = pt_msg_tmpl_parse(a.data, a.len, &q, field, &e);
    if (rc != 0)
        fprintf(stderr, "canonical form refused: %s\n%s\n", e.msg, a.data);
    check(rc == 0);
    check(pt_msg_tmpl_json(&q, &b) == 0);
    check(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    pt_msg_tmpl_release(&q);
    pt_buf_release(&a);
    pt_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pt_msg_tmpl t;
    memset(&t, 0xA5, sizeof t); /* need not be initialised */
    char field[FIELD];
    memset(field, 'x', sizeof field);
    struct pt_err e;
    int rc = pt_msg_tmpl_parse((const char *)data, size, &t, field, &e);
    if (rc != 0) {
        refused(data, size, rc, &t, field, &e);
        return 0;
    }
    check(field[0] == '\0' && e.code == 0);
    accepted(&t);
    pt_msg_tmpl_release(&t);
    check(all_zero(&t));
    return 0;
}
