/*
 * rule_lex.c - the lexer of the segment rule language and its error reporter
 * (see rule_int.h).
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segment/rule_int.h"
#include "util/mem.h"

int rule_fail(struct parser *ps, uint32_t line, uint32_t col, int code, const char *fmt, ...)
{
    if (ps->failed)
        return -1;
    ps->failed = 1;
    ps->code = code;
    if (ps->e) {
        char msg[PT_ERR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        pt_err_set(ps->e, code, "%u:%u: %s", line, col, msg);
        ps->e->line = line;
        ps->e->column = col;
    }
    return -1;
}

int rule_add_str(struct parser *ps, const char *s, size_t n, uint32_t *off)
{
    struct pt_rule *r = ps->r;
    if (r->ns + n + 1 > r->scap) {
        size_t cap = r->scap ? r->scap : 256;
        while (cap < r->ns + n + 1)
            cap *= 2;
        char *p = pt_realloc_array(r->strs, cap, 1);
        if (p == NULL)
            return rule_fail(ps, ps->tline, ps->tcol, PT_ENOMEM, "out of memory");
        r->strs = p;
        r->scap = cap;
    }
    memcpy(r->strs + r->ns, s, n);
    r->strs[r->ns + n] = 0;
    *off = (uint32_t)r->ns;
    r->ns += n + 1;
    return 0;
}

static int kw(const char *s, size_t n, const char *k)
{
    if (strlen(k) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)s[i]) != k[i])
            return 0;
    return 1;
}

int rule_next(struct parser *ps)
{
    const char *p = ps->p;
    for (;;) {
        while (p < ps->end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
            if (*p == '\n') {
                ps->line++;
                ps->line_start = p + 1;
            }
            p++;
        }
        if (p < ps->end && *p == '#') { /* comment to the end of the line */
            while (p < ps->end && *p != '\n')
                p++;
            continue;
        }
        break;
    }
    ps->ts = p;
    ps->tline = ps->line;
    ps->tcol = (uint32_t)(p - ps->line_start) + 1;
    if (p >= ps->end) {
        ps->t = T_END;
        ps->tlen = 0;
        ps->p = p;
        return 0;
    }
    unsigned char c = (unsigned char)*p;
    if (isdigit(c)) {
        const char *q = p;
        while (q < ps->end && isdigit((unsigned char)*q))
            q++;
        if (q + 1 < ps->end && *q == '.' && isdigit((unsigned char)q[1])) {
            q++;
            while (q < ps->end && isdigit((unsigned char)*q))
                q++;
        }
        if (q < ps->end && (*q == 'e' || *q == 'E')) { /* exponent: 1e-05 */
            const char *x = q + 1;
            if (x < ps->end && (*x == '+' || *x == '-'))
                x++;
            if (x < ps->end && isdigit((unsigned char)*x)) {
                while (x < ps->end && isdigit((unsigned char)*x))
                    x++;
                q = x;
            }
        }
        if (q - p > 30)
            return rule_fail(ps, ps->tline, ps->tcol, PT_EPARSE, "number too long");
        char tmp[32];
        memcpy(tmp, p, (size_t)(q - p));
        tmp[q - p] = 0;
        ps->num = strtod(tmp, NULL);
        ps->t = T_NUM;
        if (q < ps->end && isalpha((unsigned char)*q)) {
            const char *u = q;
            while (q < ps->end && isalnum((unsigned char)*q))
                q++;
            size_t ul = (size_t)(q - u);
            double mul = ul == 1 && *u == 's'   ? 1
                         : ul == 1 && *u == 'm' ? 60
                         : ul == 1 && *u == 'h' ? 3600
                         : ul == 1 && *u == 'd' ? 86400
                         : ul == 1 && *u == 'w' ? 604800
                                                : 0;
            if (mul == 0)
                return rule_fail(ps, ps->tline, ps->tcol, PT_EPARSE,
                                 "unknown duration unit \"%.*s\": use s, m, h, d or w (e.g. 7d)",
                                 (int)ul, u);
            ps->num *= mul;
            ps->t = T_DUR;
        }
        if (!isfinite(ps->num) || ps->num > 1e15 * 604800)
            return rule_fail(ps, ps->tline, ps->tcol, PT_EPARSE, "number too large");
        ps->tlen = (size_t)(q - p);
        ps->p = q;
        return 0;
    }
    if (isalpha(c) || c == '_') {
        const char *q = p;
        while (q < ps->end && (isalnum((unsigned char)*q) || *q == '_'))
            q++;
        size_t n = (size_t)(q - p);
        ps->t = kw(p, n, "and")        ? T_AND
                : kw(p, n, "or")       ? T_OR
                : kw(p, n, "not")      ? T_NOT
                : kw(p, n, "in")       ? T_IN
                : kw(p, n, "between")  ? T_BETWEEN
                : kw(p, n, "contains") ? T_CONTAINS
                : kw(p, n, "exists")   ? T_EXISTS
                : kw(p, n, "true")     ? T_TRUE
                : kw(p, n, "false")    ? T_FALSE
                                       : T_IDENT;
        ps->tlen = n;
        ps->p = q;
        return 0;
    }
    if (c == '"' || c == '\'') {
        char buf[1024];
        size_t n = 0;
        const char *q = p + 1;
        for (;;) {
            if (q >= ps->end || *q == '\n')
                return rule_fail(ps, ps->tline, ps->tcol, PT_EPARSE, "string not closed");
            if ((unsigned char)*q == c)
                break;
            char ch = *q++;
            if (ch == '\\') {
                if (q >= ps->end)
                    return rule_fail(ps, ps->tline, ps->tcol, PT_EPARSE, "string not closed");
                char x = *q++;
                ch = x == 'n' ? '\n' : x == 't' ? '\t' : x;
                if (x != 'n' && x != 't' && x != '\\' && x != '"' && x != '\'')
                    return rule_fail(ps, ps->line, (uint32_t)(q - ps->line_start) - 1, PT_EPARSE,
                                     "unknown escape \\%c in a string", x);
            }
            if (ch == 0)
                return rule_fail(ps, ps->line, (uint32_t)(q - ps->line_start), PT_EPARSE,
                                 "NUL byte in a string");
            if (n == sizeof buf)
                return rule_fail(ps, ps->tline, ps->tcol, PT_ETOOBIG,
                                 "string longer than %zu bytes", sizeof buf);
            buf[n++] = ch;
        }
        if (rule_add_str(ps, buf, n, &ps->str))
            return -1;
        ps->slen = (uint32_t)n;
        ps->t = T_STR;
        ps->tlen = (size_t)(q + 1 - p);
        ps->p = q + 1;
        return 0;
    }
    char d = p + 1 < ps->end ? p[1] : 0;
    size_t n = 1;
    switch (c) {
    case '=':
        ps->t = T_EQ, n = d == '=' ? 2 : 1;
        break;
    case '!':
        if (d != '=')
            return rule_fail(ps, ps->tline, ps->tcol, PT_EPARSE, "\"!\" alone: use != or not");
        ps->t = T_NE, n = 2;
        break;
    case '<':
        ps->t = d == '=' ? T_LE : d == '>' ? T_NE : T_LT;
        n = d == '=' || d == '>' ? 2 : 1;
        break;
    case '>':
        ps->t = d == '=' ? T_GE : T_GT, n = d == '=' ? 2 : 1;
        break;
    case '+':
        ps->t = T_PLUS;
        break;
    case '-':
        ps->t = T_MINUS;
        break;
    case '*':
        ps->t = T_STAR;
        break;
    case '/':
        ps->t = T_SLASH;
        break;
    case '(':
        ps->t = T_LP;
        break;
    case ')':
        ps->t = T_RP;
        break;
    case ',':
        ps->t = T_COMMA;
        break;
    case '.':
        ps->t = T_DOT;
        break;
    default:
        if (c >= 0x20 && c < 0x7f)
            return rule_fail(ps, ps->tline, ps->tcol, PT_EPARSE, "unexpected character '%c'", c);
        return rule_fail(ps, ps->tline, ps->tcol, PT_EPARSE, "unexpected byte 0x%02x", c);
    }
    ps->tlen = n;
    ps->p = p + n;
    return 0;
}
