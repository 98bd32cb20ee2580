/*
 * tmpl.c - the message template language (automation/tmpl.h): a one-pass
 * compiler from Mustache-style source to a flat op list, and the renderer
 * that walks that list against a jansson context.
 *
 * Compiled form. `strs` holds the text spans and the name parts (each part
 * NUL-terminated) copied out of the source. It never needs more than the
 * source length plus one byte: a tag naming n bytes takes at least n + 4
 * source bytes and at most n + 1 bytes here. `ops` is the program:
 *   OP_TEXT      a = offset in strs, b = length
 *   OP_VAR       a = first entry in parts, b = number of parts (0 for "."),
 *   OP_RAW         escaped in HTML mode (VAR) or never (RAW)
 *   OP_SECTION   name as OP_VAR; c = index of its OP_CLOSE
 *   OP_INVERTED  name as OP_VAR; c = index of the first op after its body
 *   OP_CLOSE     c = index of its OP_SECTION
 * Inverted sections need no closing op: their body simply follows.
 *
 * Standalone lines (as the Mustache spec): a line holding only blanks and
 * one section, inverted, closing or comment tag is left out whole, newline
 * included, so that loops in plain-text mail leave no blank lines.
 *
 * Error positions are 1-based; columns count characters (UTF-8 code points,
 * i.e. bytes other than 10xxxxxx), as jansson's do for the JSON around.
 */
#include "automation/tmpl.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "automation/tmpl_int.h"
#include "util/ckd.h"
#include "util/mem.h"

enum { OP_TEXT, OP_VAR, OP_RAW, OP_SECTION, OP_INVERTED, OP_CLOSE };
enum { TAG_VAR, TAG_RAW, TAG_SECTION, TAG_INVERTED, TAG_CLOSE, TAG_COMMENT };

struct op {
    uint32_t kind; /* OP_* */
    uint32_t a, b, c;
};

struct part {
    uint32_t off, len; /* in strs; strs[off + len] == '\0' */
};

struct pt_tmpl {
    struct op *ops;
    struct part *parts;
    char *strs;
    uint32_t *names; /* parts index of each distinct first component */
    size_t nops, nparts, nstrs, nnames;
    size_t text_bytes; /* sum of the text spans: what every render writes at least */
};

/* An open section while compiling. */
struct open_sec {
    size_t pos;        /* its "{{" in the source */
    size_t op;         /* its OP_SECTION / OP_INVERTED */
    size_t name, nlen; /* its name in the source */
    int inverted;
};

struct comp {
    const char *src;
    size_t len;
    struct pt_tmpl *t;
    size_t cap_ops, cap_parts, cap_strs;
    int merge_ok; /* the last op is text that more text may extend */
    size_t depth;
    struct open_sec open[PT_TMPL_MAX_DEPTH];
    struct pt_err *e;
};

struct tag {
    int kind;          /* TAG_* */
    size_t start, end; /* its "{{" .. just after its closing braces */
    size_t name, nlen; /* the name, blanks trimmed */
};

/* ---- errors ---- */

/* 1-based line and column (in characters) of byte pos of s. */
static void where(const char *s, size_t pos, uint64_t *line, uint64_t *col)
{
    uint64_t l = 1, c = 1;
    for (size_t i = 0; i < pos; i++) {
        if (s[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)s[i] & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

__attribute__((format(printf, 4, 5))) static int fail_at(struct comp *c, int code, size_t pos,
                                                         const char *fmt, ...)
{
    if (c->e == NULL)
        return code;
    char why[PT_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (n < 0)
        why[0] = '\0';
    pt_err_set(c->e, code, "%s", why);
    where(c->src, pos, &c->e->line, &c->e->column);
    return code;
}

static int nomem(struct comp *c)
{
    pt_err_set(c->e, PT_ENOMEM, "out of memory");
    return PT_ENOMEM;
}

/* s[0..n) for a message: at most 40 bytes cut on a character, control
 * characters as '?', "..." when cut. out holds 48 bytes. */
static const char *show(const char *s, size_t n, char out[48])
{
    size_t m = n;
    if (m > 40) {
        m = 40;
        while (m > 0 && ((unsigned char)s[m] & 0xC0) == 0x80)
            m--;
    }
    for (size_t i = 0; i < m; i++)
        out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7F ? (char)'?' : s[i];
    if (m < n) {
        memcpy(out + m, "...", 4);
    } else {
        out[m] = '\0';
    }
    return out;
}

/* ---- the tag lexer ---- */

static int blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static int name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-' || ch == '.';
}

/* Index of the next "}}" at or after from, or len. */
static size_t find_close(const char *s, size_t from, size_t len)
{
    const char *p = from < len ? memmem(s + from, len - from, "}}", 2) : NULL;
    return p ? (size_t)(p - s) : len;
}

static int check_name(struct comp *c, const struct tag *tg)
{
    const char *nm = c->src + tg->name;
    size_t n = tg->nlen;
    char q[48];
    if (n == 0)
        return fail_at(c, PT_EPARSE, tg->start,
                       "empty name: a tag needs a name such as {{first_name}}");
    if (n == 1 && nm[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char(nm[i]))
            return fail_at(c, PT_EPARSE, tg->start,
                           "invalid name \"%s\": a name has letters, digits, \"_\", \"-\" and "
                           "\".\" only",
                           show(nm, n, q));
    if (nm[0] == '.' || nm[n - 1] == '.' || memmem(nm, n, "..", 2))
        return fail_at(c, PT_EPARSE, tg->start,
                       "invalid name \"%s\": a \".\" must stand between two parts of a name "
                       "(or alone, for the current item)",
                       show(nm, n, q));
    return 0;
}

/* Reads the tag whose "{{" is at p into tg. */
static int lex_tag(struct comp *c, size_t p, struct tag *tg)
{
    const char *s = c->src;
    size_t len = c->len, b, e;
    tg->start = p;
    if (p + 2 < len && s[p + 2] == '{') {
        e = find_close(s, p + 3, len);
        if (e == len)
            return fail_at(c, PT_EPARSE, p, "unclosed tag: \"{{{\" has no \"}}}\"");
        if (e + 2 >= len || s[e + 2] != '}')
            return fail_at(c, PT_EPARSE, p, "\"{{{\" is closed by \"}}\", not by \"}}}\"");
        tg->kind = TAG_RAW;
        tg->end = e + 3;
        b = p + 3;
    } else {
        e = find_close(s, p + 2, len);
        if (e == len)
            return fail_at(c, PT_EPARSE, p, "unclosed tag: \"{{\" has no \"}}\"");
        tg->end = e + 2;
        b = p + 2;
        while (b < e && blank(s[b]))
            b++;
        char sigil = b < e ? s[b] : '\0';
        tg->kind = TAG_VAR;
        switch (sigil) {
        case '!':
            tg->kind = TAG_COMMENT;
            tg->name = tg->nlen = 0;
            return 0;
        case '=':
            return fail_at(c, PT_EPARSE, p, "set-delimiter tags (\"{{=...=}}\") are not supported");
        case '>':
            return fail_at(c, PT_EPARSE, p, "partials (\"{{> name}}\") are not supported");
        case '#':
            tg->kind = TAG_SECTION;
            break;
        case '^':
            tg->kind = TAG_INVERTED;
            break;
        case '/':
            tg->kind = TAG_CLOSE;
            break;
        case '&':
            tg->kind = TAG_RAW;
            break;
        default:
            break;
        }
        if (tg->kind != TAG_VAR)
            b++;
    }
    while (b < e && blank(s[b]))
        b++;
    while (e > b && blank(s[e - 1]))
        e--;
    tg->name = b;
    tg->nlen = e - b;
    return check_name(c, tg);
}

/* A section, inverted, closing or comment tag alone on its line: widen
 * [*text_end, *next) from the tag to the whole line (see the top). seg is
 * where the text before the tag starts. */
static void standalone(const struct comp *c, size_t seg, const struct tag *tg, size_t *text_end,
                       size_t *next)
{
    const char *s = c->src;
    size_t j = tg->start, k = tg->end;
    while (j > seg && (s[j - 1] == ' ' || s[j - 1] == '\t'))
        j--;
    if (j > 0 && s[j - 1] != '\n')
        return; /* text or another tag before it on the line */
    while (k < c->len && (s[k] == ' ' || s[k] == '\t'))
        k++;
    if (k < c->len) {
        if (s[k] == '\n')
            k++;
        else if (s[k] == '\r' && k + 1 < c->len && s[k + 1] == '\n')
            k += 2;
        else
            return;
    }
    *text_end = j;
    *next = k;
}

/* ---- emitting ops ---- */

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t ncap;
    if (pt_ckd_mul(&ncap, *cap ? *cap : 8, (size_t)2))
        return PT_ENOMEM;
    void *p = pt_realloc_array(*arr, ncap, size);
    if (p == NULL)
        return PT_ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

static int push_op(struct comp *c, uint32_t kind, uint32_t a, uint32_t b)
{
    struct pt_tmpl *t = c->t;
    if (grow((void **)&t->ops, &c->cap_ops, t->nops, sizeof *t->ops))
        return nomem(c);
    t->ops[t->nops++] = (struct op){.kind = kind, .a = a, .b = b, .c = 0};
    c->merge_ok = 0;
    return 0;
}

/* Copies src[from..to) into strs (within the bound given at the top). */
static int add_str(struct comp *c, size_t from, size_t n, int nul, uint32_t *off)
{
    struct pt_tmpl *t = c->t;
    if (n + (nul ? 1u : 0u) > c->cap_strs - t->nstrs) /* cannot happen (see the top) */
        return nomem(c);
    memcpy(t->strs + t->nstrs, c->src + from, n);
    *off = (uint32_t)t->nstrs;
    t->nstrs += n;
    if (nul)
        t->strs[t->nstrs++] = '\0';
    return 0;
}

static int emit_text(struct comp *c, size_t from, size_t to)
{
    if (to <= from)
        return 0;
    struct pt_tmpl *t = c->t;
    size_t n = to - from;
    uint32_t off;
    int merge = c->merge_ok && t->ops[t->nops - 1].a + t->ops[t->nops - 1].b == t->nstrs;
    if (add_str(c, from, n, 0, &off))
        return PT_ENOMEM;
    t->text_bytes += n;
    if (merge) {
        t->ops[t->nops - 1].b += (uint32_t)n;
    } else {
        if (push_op(c, OP_TEXT, off, (uint32_t)n))
            return PT_ENOMEM;
        c->merge_ok = 1;
    }
    return 0;
}

/* The name of tg split on dots into parts: *first, *count (0 for "."). */
static int add_name(struct comp *c, const struct tag *tg, uint32_t *first, uint32_t *count)
{
    struct pt_tmpl *t = c->t;
    *first = (uint32_t)t->nparts;
    *count = 0;
    if (tg->nlen == 1 && c->src[tg->name] == '.')
        return 0;
    size_t i = tg->name, end = tg->name + tg->nlen;
    while (i < end) {
        size_t j = i;
        while (j < end && c->src[j] != '.')
            j++;
        if (grow((void **)&t->parts, &c->cap_parts, t->nparts, sizeof *t->parts))
            return nomem(c);
        struct part *pa = &t->parts[t->nparts];
        if (add_str(c, i, j - i, 1, &pa->off))
            return PT_ENOMEM;
        pa->len = (uint32_t)(j - i);
        t->nparts++;
        (*count)++;
        i = j + 1;
    }
    return 0;
}

static int open_section(struct comp *c, const struct tag *tg)
{
    uint32_t first, count;
    if (c->depth == PT_TMPL_MAX_DEPTH)
        return fail_at(c, PT_ETOOBIG, tg->start, "sections nest deeper than %d levels",
                       PT_TMPL_MAX_DEPTH);
    if (add_name(c, tg, &first, &count) ||
        push_op(c, tg->kind == TAG_SECTION ? OP_SECTION : OP_INVERTED, first, count))
        return PT_ENOMEM;
    struct open_sec *o = &c->open[c->depth++];
    o->pos = tg->start;
    o->op = c->t->nops - 1;
    o->name = tg->name;
    o->nlen = tg->nlen;
    o->inverted = tg->kind == TAG_INVERTED;
    return 0;
}

static int close_section(struct comp *c, const struct tag *tg)
{
    const char *nm = c->src + tg->name;
    char q[48], q2[48];
    if (c->depth == 0)
        return fail_at(c, PT_EPARSE, tg->start, "stray closing tag {{/%s}}: no section is open",
                       show(nm, tg->nlen, q));
    struct open_sec *o = &c->open[c->depth - 1];
    if (o->nlen != tg->nlen || memcmp(c->src + o->name, nm, tg->nlen) != 0) {
        uint64_t line, col;
        where(c->src, o->pos, &line, &col);
        return fail_at(c, PT_EPARSE, tg->start, "{{/%s}} closes {{%c%s}} (opened at %llu:%llu)",
                       show(nm, tg->nlen, q), o->inverted ? '^' : '#',
                       show(c->src + o->name, o->nlen, q2), (unsigned long long)line,
                       (unsigned long long)col);
    }
    c->depth--;
    struct pt_tmpl *t = c->t;
    if (o->inverted) {
        t->ops[o->op].c = (uint32_t)t->nops;
        c->merge_ok = 0; /* text after the body is not part of it */
        return 0;
    }
    if (push_op(c, OP_CLOSE, 0, 0))
        return PT_ENOMEM;
    t->ops[t->nops - 1].c = (uint32_t)o->op;
    t->ops[o->op].c = (uint32_t)(t->nops - 1);
    return 0;
}

static int emit_tag(struct comp *c, const struct tag *tg)
{
    uint32_t first, count;
    switch (tg->kind) {
    case TAG_COMMENT:
        return 0;
    case TAG_SECTION:
    case TAG_INVERTED:
        return open_section(c, tg);
    case TAG_CLOSE:
        return close_section(c, tg);
    default:
        if (add_name(c, tg, &first, &count) ||
            push_op(c, tg->kind == TAG_RAW ? OP_RAW : OP_VAR, first, count))
            return PT_ENOMEM;
        return 0;
    }
}

/* The distinct first components of the names, in order (pt_tmpl_names). */
static int collect_names(struct comp *c)
{
    struct pt_tmpl *t = c->t;
    size_t cap = 16;
    while (cap < 2 * t->nparts)
        cap *= 2; /* nparts <= PT_TMPL_MAX_BYTES: no overflow */
    uint32_t *set = pt_alloc_array(cap, sizeof *set);
    t->names = pt_alloc_array(t->nparts ? t->nparts : 1, sizeof *t->names);
    if (set == NULL || t->names == NULL) {
        pt_free(set);
        return nomem(c);
    }
    memset(set, 0xFF, cap * sizeof *set);
    for (size_t i = 0; i < t->nops; i++) {
        const struct op *op = &t->ops[i];
        if (op->kind == OP_TEXT || op->kind == OP_CLOSE || op->b == 0)
            continue;
        const struct part *p = &t->parts[op->a];
        const char *s = t->strs + p->off;
        uint32_t h = 2166136261u;
        for (uint32_t k = 0; k < p->len; k++)
            h = (h ^ (unsigned char)s[k]) * 16777619u;
        size_t slot = h & (cap - 1);
        for (;;) {
            uint32_t x = set[slot];
            if (x == UINT32_MAX) {
                set[slot] = op->a;
                t->names[t->nnames++] = op->a;
                break;
            }
            if (t->parts[x].len == p->len && memcmp(t->strs + t->parts[x].off, s, p->len) == 0)
                break;
            slot = (slot + 1) & (cap - 1);
        }
    }
    pt_free(set);
    return 0;
}

void pt_tmpl_free(struct pt_tmpl *t)
{
    if (t == NULL)
        return;
    pt_free(t->ops);
    pt_free(t->parts);
    pt_free(t->strs);
    pt_free(t->names);
    pt_free(t);
}

int pt_tmpl_compile(const char *src, size_t len, struct pt_tmpl **out, struct pt_err *e)
{
    *out = NULL;
    pt_err_clear(e);
    if (len > PT_TMPL_MAX_BYTES)
        return pt_err_set(e, PT_ETOOBIG, "the template is %zu bytes long; the limit is %d bytes",
                          len, PT_TMPL_MAX_BYTES);
    if (src == NULL) {
        src = "";
        len = 0;
    }
    struct comp c;
    memset(&c, 0, sizeof c);
    c.src = src;
    c.len = len;
    c.e = e;
    c.cap_strs = len + 1;
    c.t = pt_calloc(1, sizeof *c.t);
    if (c.t == NULL || (c.t->strs = pt_malloc(c.cap_strs)) == NULL) {
        pt_free(c.t);
        return nomem(&c);
    }
    int rc = 0;
    size_t pos = 0, seg = 0;
    for (;;) {
        const char *p = pos < len ? memmem(src + pos, len - pos, "{{", 2) : NULL;
        if (p == NULL)
            break;
        struct tag tg;
        memset(&tg, 0, sizeof tg);
        size_t at = (size_t)(p - src);
        if ((rc = lex_tag(&c, at, &tg)))
            goto fail;
        size_t text_end = at, next = tg.end;
        if (tg.kind != TAG_VAR && tg.kind != TAG_RAW)
            standalone(&c, seg, &tg, &text_end, &next);
        if ((rc = emit_text(&c, seg, text_end)) || (rc = emit_tag(&c, &tg)))
            goto fail;
        seg = pos = next;
    }
    if ((rc = emit_text(&c, seg, len)))
        goto fail;
    if (c.depth > 0) {
        const struct open_sec *o = &c.open[c.depth - 1];
        char q[48];
        show(src + o->name, o->nlen, q);
        rc = fail_at(&c, PT_EPARSE, o->pos, "section {{%c%s}} is never closed: add {{/%s}}",
                     o->inverted ? '^' : '#', q, q);
        goto fail;
    }
    if ((rc = collect_names(&c)))
        goto fail;
    *out = c.t;
    return 0;
fail:
    pt_tmpl_free(c.t);
    return rc;
}

int pt_tmpl_names(const struct pt_tmpl *t, int (*cb)(void *ctx, const char *name, size_t len),
                  void *ctx)
{
    for (size_t i = 0; i < t->nnames; i++) {
        const struct part *p = &t->parts[t->names[i]];
        int rc = cb(ctx, t->strs + p->off, p->len);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- rendering ---- */

struct esc {
    const char *s;
    size_t n;
};

static const struct esc k_esc[256] = {
    ['&'] = {"&amp;", 5},  ['<'] = {"&lt;", 4},   ['>'] = {"&gt;", 4},
    ['"'] = {"&quot;", 6}, ['\''] = {"&#39;", 5},
};

static int put_escaped(struct pt_buf *o, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && k_esc[(unsigned char)s[j]].n == 0)
            j++;
        if (j > i && pt_buf_add(o, s + i, j - i))
            return PT_ENOMEM;
        if (j == n)
            break;
        const struct esc *x = &k_esc[(unsigned char)s[j]];
        if (pt_buf_add(o, x->s, x->n))
            return PT_ENOMEM;
        i = j + 1;
    }
    return 0;
}

/* s as the inside of a JSON string: " \\ and control characters escaped */
static int put_json(struct pt_buf *o, const char *s, size_t n)
{
    size_t at = o->len;
    int rc = pt_buf_add_json_str(o, s, n); /* (with its quotes: drop them) */
    if (rc == 0 && o->len >= at + 2) {
        memmove(o->data + at, o->data + at + 1, o->len - at - 2);
        o->len -= 2;
        o->data[o->len] = '\0';
    }
    return rc;
}

static int put_value(struct pt_buf *o, const json_t *v, int esc)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (esc == PT_TMPL_HTML)
            return put_escaped(o, json_string_value(v), json_string_length(v));
        if (esc == PT_TMPL_JSON)
            return put_json(o, json_string_value(v), json_string_length(v));
        return pt_buf_add(o, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return pt_buf_add_i64(o, (int64_t)json_integer_value(v));
    case JSON_REAL:
        return pt_tmpl_put_real(o, json_real_value(v));
    case JSON_TRUE:
        return pt_buf_add(o, "true", 4);
    case JSON_FALSE:
        return pt_buf_add(o, "false", 5);
    default:
        return 0; /* null, objects and arrays */
    }
}

static int falsy(const json_t *v)
{
    if (v == NULL)
        return 1;
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE:
        return 1;
    case JSON_INTEGER:
        return json_integer_value(v) == 0;
    case JSON_REAL:
        return !(json_real_value(v) < 0 || json_real_value(v) > 0);
    case JSON_STRING:
        return json_string_length(v) == 0;
    case JSON_ARRAY:
        return json_array_size(v) == 0;
    case JSON_OBJECT:
        return json_object_size(v) == 0;
    default:
        return 0;
    }
}

/* The value op names: the first part on the stack from stack[top] down,
 * the other parts inside what it found. NULL when missing. */
static const json_t *lookup(const struct pt_tmpl *t, const struct op *op,
                            const json_t *const *stack, size_t top)
{
    if (op->b == 0)
        return stack[top];
    const struct part *p = &t->parts[op->a];
    const json_t *v = NULL;
    for (size_t i = top + 1; i-- > 0;) {
        if (json_is_object(stack[i]) &&
            (v = json_object_getn(stack[i], t->strs + p->off, p->len)) != NULL)
            break;
    }
    for (uint32_t k = 1; v != NULL && k < op->b; k++) {
        p++;
        v = json_is_object(v) ? json_object_getn(v, t->strs + p->off, p->len) : NULL;
    }
    return v;
}

struct frame {
    const json_t *arr; /* the list iterated, or NULL (the section runs once) */
    size_t i, n;
};

int pt_tmpl_render(const struct pt_tmpl *t, const json_t *ctx, int mode, struct pt_buf *out)
{
    const json_t *stack[PT_TMPL_MAX_DEPTH + 1];
    struct frame fr[PT_TMPL_MAX_DEPTH];
    size_t top = 0, nf = 0, len0 = out->len, pc = 0;
    int esc = mode, rc = pt_buf_reserve(out, t->text_bytes);
    if (rc == 0)
        out->data[out->len] = '\0'; /* (a first reserve leaves it unset) */
    stack[0] = ctx;
    while (rc == 0 && pc < t->nops) {
        const struct op *op = &t->ops[pc];
        const json_t *v;
        switch (op->kind) {
        case OP_TEXT:
            rc = pt_buf_add(out, t->strs + op->a, op->b);
            pc++;
            break;
        case OP_VAR:
        case OP_RAW:
            v = lookup(t, op, stack, top);
            if (v != NULL)
                rc = put_value(out, v, op->kind == OP_VAR ? esc : PT_TMPL_TEXT);
            pc++;
            break;
        case OP_SECTION:
            v = lookup(t, op, stack, top);
            if (falsy(v) || nf == PT_TMPL_MAX_DEPTH) { /* (the compiler bounds nf) */
                pc = op->c + 1u;
                break;
            }
            fr[nf].arr = json_is_array(v) ? v : NULL;
            fr[nf].i = 0;
            fr[nf].n = json_is_array(v) ? json_array_size(v) : 1;
            stack[++top] = fr[nf].arr ? json_array_get(v, 0) : v;
            nf++;
            pc++;
            break;
        case OP_INVERTED:
            pc = falsy(lookup(t, op, stack, top)) ? pc + 1 : op->c;
            break;
        default: /* OP_CLOSE */
            if (++fr[nf - 1].i < fr[nf - 1].n) {
                stack[top] = json_array_get(fr[nf - 1].arr, fr[nf - 1].i);
                pc = op->c + 1u;
            } else {
                nf--;
                top--;
                pc++;
            }
            break;
        }
    }
    if (rc) {
        out->len = len0;
        if (out->data)
            out->data[len0] = '\0';
        return PT_ENOMEM;
    }
    return 0;
}
