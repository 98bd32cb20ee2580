/*
 * fuzz_tmpl.c - libFuzzer target for the message template compiler and
 * renderer (automation/tmpl.h).
 *
 * The input is compiled as a template. Checks, besides memory safety and
 * leaks:
 *  - a refused template gives PT_EPARSE or PT_ETOOBIG, no template, a
 *    message in lower case, and a line/column (1-based, columns in
 *    characters) that points at a "{{" of the input;
 *  - an accepted template renders without error in both modes against a
 *    fixed context (every kind of value, lists of objects and of scalars,
 *    nesting), against no context and against a scalar one; rendering is
 *    deterministic and appends to what the buffer holds;
 *  - a template without "{{" renders as itself, in both modes;
 *  - against a context whose strings hold nothing to escape, HTML and text
 *    mode give the same output;
 *  - pt_tmpl_names gives distinct, non-empty, dot-free names made of the
 *    name characters, each found in the input.
 * Rendering is skipped for templates with more than 10 "#": nested loops
 * over the context's two-item lists grow the output as 2^depth.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "automation/tmpl.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char k_rich[] =
    "{\"a\": \"<b>A & 'B'</b>\", \"b\": 1, \"c\": 2.5, \"t\": true, \"f\": false, \"n\": null,"
    " \"z\": 0, \"e\": \"\", \"el\": [], \"eo\": {}, \"name\": \"Ala \\\"x\\\"\","
    " \"o\": {\"a\": \"inner\", \"o\": {\"x\": \"deep\"}, \"l\": [1, 2]},"
    " \"items\": [{\"name\": \"p1\", \"price\": 9.99, \"url\": \"/p?1&2\"},"
    " {\"name\": \"p2\", \"price\": 1e21, \"items\": []}],"
    " \"l\": [\"x\", 3], \"x\": \"X\", \"y\": -0.0, \"nul\": \"a\\u0000b\"}";

static const char k_plain[] =
    "{\"a\": \"A B\", \"b\": 7, \"c\": -0.125, \"t\": true, \"f\": false, \"n\": null, \"z\": 0,"
    " \"e\": \"\", \"name\": \"Ala\", \"o\": {\"a\": \"in\", \"o\": {\"x\": \"d\"}},"
    " \"items\": [{\"name\": \"p1\", \"price\": 3}, {\"name\": \"p2\"}], \"l\": [\"x\", 1],"
    " \"x\": \"X\"}";

static json_t *load(const char *s)
{
    json_t *v = json_loads(s, JSON_ALLOW_NUL, NULL);
    check(v != NULL);
    return v;
}

/* Byte offset of the 1-based line/column (characters), or size when past. */
static size_t offset_of(const uint8_t *d, size_t size, uint64_t line, uint64_t col)
{
    uint64_t l = 1, c = 1;
    for (size_t i = 0; i < size; i++) {
        if (l == line && c == col && (d[i] & 0xC0) != 0x80)
            return i;
        if (d[i] == '\n') {
            l++;
            c = 1;
        } else if ((d[i] & 0xC0) != 0x80) {
            c++;
        }
    }
    return size;
}

static void refused(const uint8_t *data, size_t size, int rc, const struct pt_tmpl *t,
                    const struct pt_err *e)
{
    check(rc == PT_EPARSE || rc == PT_ETOOBIG);
    check(t == NULL && e->code == rc);
    check(memchr(e->msg, '\0', sizeof e->msg) != NULL && e->msg[0] != '\0');
    check(!(e->msg[0] >= 'A' && e->msg[0] <= 'Z'));
    if (size > PT_TMPL_MAX_BYTES) {
        check(rc == PT_ETOOBIG && e->line == 0 && e->column == 0);
        return;
    }
    check(e->line >= 1 && e->column >= 1);
    size_t off = offset_of(data, size, e->line, e->column);
    check(off + 1 < size && data[off] == '{' && data[off + 1] == '{');
}

static void render(const struct pt_tmpl *t, const json_t *ctx, int mode, struct pt_buf *out)
{
    out->len = 0;
    check(pt_tmpl_render(t, ctx, mode, out) == 0);
    /* once more after a prefix: the same text is appended */
    struct pt_buf b;
    pt_buf_init(&b);
    check(pt_buf_adds(&b, "prefix") == 0);
    check(pt_tmpl_render(t, ctx, mode, &b) == 0);
    check(b.len == out->len + 6 && memcmp(b.data, "prefix", 6) == 0);
    check(out->len == 0 || memcmp(b.data + 6, out->data, out->len) == 0);
    check(b.data[b.len] == '\0');
    pt_buf_release(&b);
}

static int same(const struct pt_buf *a, const struct pt_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

struct names_seen {
    const uint8_t *data;
    size_t size;
    char seen[64][64];
    size_t n;
};

static int name_cb(void *ctx, const char *name, size_t len)
{
    struct names_seen *s = ctx;
    check(len > 0 && name[len] == '\0');
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        check((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-');
    }
    check(memmem(s->data, s->size, name, len) != NULL);
    for (size_t i = 0; i < s->n; i++)
        check(!(strlen(s->seen[i]) == len && memcmp(s->seen[i], name, len) == 0));
    if (s->n < 64 && len < 64) {
        memcpy(s->seen[s->n], name, len);
        s->seen[s->n++][len] = '\0';
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *rich, *plain, *scalar;
    if (rich == NULL) {
        rich = load(k_rich);
        plain = load(k_plain);
        scalar = json_string("<s>");
    }
    struct pt_tmpl *t = (struct pt_tmpl *)&t; /* must be reset */
    struct pt_err e;
    int rc = pt_tmpl_compile((const char *)data, size, &t, &e);
    if (rc != 0) {
        refused(data, size, rc, t, &e);
        return 0;
    }
    check(t != NULL);

    struct names_seen ns = {.data = data, .size = size, .n = 0};
    check(pt_tmpl_names(t, name_cb, &ns) == 0);

    size_t hashes = 0;
    for (size_t i = 0; i < size; i++)
        hashes += data[i] == '#';
    if (hashes <= 10) {
        struct pt_buf txt, html;
        pt_buf_init(&txt);
        pt_buf_init(&html);
        int tagless = memmem(data, size, "{{", 2) == NULL;
        render(t, rich, PT_TMPL_TEXT, &txt);
        render(t, rich, PT_TMPL_HTML, &html);
        if (tagless) {
            check(txt.len == size && (size == 0 || memcmp(txt.data, data, size) == 0));
            check(same(&txt, &html));
        }
        render(t, plain, PT_TMPL_TEXT, &txt);
        render(t, plain, PT_TMPL_HTML, &html);
        check(same(&txt, &html));
        render(t, NULL, PT_TMPL_HTML, &html);
        render(t, scalar, PT_TMPL_HTML, &html);
        pt_buf_release(&txt);
        pt_buf_release(&html);
    }
    pt_tmpl_free(t);
    return 0;
}
