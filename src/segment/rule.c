/*
 * rule.c - recursive-descent parser and type checker of the segment rule
 * language (see rule.h and docs/segments.md for the grammar); the lexer is in
 * rule_lex.c, canonical text and evaluation in rule_eval.c.
 *
 * Precedence, loosest first: or; and; not; comparisons (= != < <= > >= in,
 * not in, between .. and .., contains, exists); + -; * /; unary -. Keywords
 * are case-insensitive. Types are checked as each node is built, so the first
 * error in reading order is the one reported.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "segment/rule_int.h"
#include "util/mem.h"

static const struct pt_rule_attr k_attrs[] = {
    {"orders", PT_RT_NUM, "distinct orders"},
    {"revenue", PT_RT_NUM, "revenue net of refunds, in the shop's currency"},
    {"gross_revenue", PT_RT_NUM, "revenue before refunds"},
    {"refunded", PT_RT_NUM, "refunded amount"},
    {"average_order_value", PT_RT_NUM, "revenue / orders"},
    {"days_since_first_order", PT_RT_NUM, "whole days since the first order"},
    {"days_since_last_order", PT_RT_NUM, "whole days since the last order"},
    {"average_days_between_orders", PT_RT_NUM, "mean gap between orders, days"},
    {"median_days_between_orders", PT_RT_NUM, "median gap between orders, days"},
    {"orders_per_30d_usual", PT_RT_NUM, "the customer's usual orders per 30 days"},
    {"discount_share", PT_RT_NUM, "share of orders with a discount, 0..1"},
    {"anonymous", PT_RT_BOOL, "no known identity yet"},
    {"cart.value", PT_RT_NUM, "value of the open cart"},
    {"cart.items", PT_RT_NUM, "items in the open cart"},
    {"cart.idle_minutes", PT_RT_NUM, "minutes since the cart last changed"},
    {"favourite_categories", PT_RT_LIST, "categories the customer buys most"},
    {"consent.email", PT_RT_BOOL, "email marketing consent"},
    {"consent.sms", PT_RT_BOOL, "SMS consent"},
    {"consent.profiling", PT_RT_BOOL, "profiling consent"},
    {"rfm.r", PT_RT_NUM, "recency score 1..5"},
    {"rfm.f", PT_RT_NUM, "frequency score 1..5"},
    {"rfm.m", PT_RT_NUM, "monetary score 1..5"},
    {"rfm.score", PT_RT_STR, "the three scores, e.g. \"545\""},
    {"rfm.segment", PT_RT_STR, "RFM segment name (RFM-SPEC.md)"},
    {"clv.p_alive", PT_RT_NUM, "probability the customer is still active"},
    {"clv.expected_orders_90d", PT_RT_NUM, "expected orders in the next 90 days"},
    {"clv.expected_orders_365d", PT_RT_NUM, "expected orders in the next 365 days"},
    {"clv.value_365d", PT_RT_NUM, "predicted value of the next 365 days"},
    {"clv.expected_order_value", PT_RT_NUM, "expected value of an order"},
    {"clv.days_to_next_order", PT_RT_NUM, "days until the next order is more likely than not"},
    {"wishlist.count", PT_RT_NUM, "items on the wishlist"},
    {"wishlist.products", PT_RT_LIST, "product ids on the wishlist"},
    {"points", PT_RT_NUM, "loyalty points balance"},
    {"tier", PT_RT_STR, "loyalty tier"},
    {"traits.", PT_RT_ANY, "a trait sent with identify"},
    {"preference.", PT_RT_STR, "a declared preference (zero-party data)"},
};

static const struct pt_rule_func k_funcs[] = {
    {"count", PT_RT_NUM, "events matching the filters within the window"},
    {"bought", PT_RT_BOOL, "an order with a matching item within the window"},
    {"viewed", PT_RT_BOOL, "a Product Viewed matching the filters within the window"},
    {"orders_in", PT_RT_NUM, "orders within the last DURATION (one positional argument)"},
    {"points_expiring", PT_RT_NUM,
     "loyalty points that expire within the next DURATION (one positional argument)"},
};

const struct pt_rule_attr *pt_rule_attrs(size_t *n)
{
    *n = sizeof k_attrs / sizeof k_attrs[0];
    return k_attrs;
}

const struct pt_rule_func *pt_rule_funcs(size_t *n)
{
    *n = sizeof k_funcs / sizeof k_funcs[0];
    return k_funcs;
}

const char *pt_rule_type_name(enum pt_rule_type t)
{
    static const char *const names[] = {"boolean", "number", "duration", "string", "list", "any"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* ---- tree ---- */

static int32_t node(struct parser *ps, enum pt_rule_op op, enum pt_rule_type type, uint32_t line,
                    uint32_t col)
{
    struct pt_rule *r = ps->r;
    if (r->n == PT_RULE_MAX_NODES)
        return rule_fail(ps, line, col, PT_ETOOBIG, "rule too large (over %d nodes)",
                         PT_RULE_MAX_NODES);
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 32;
        struct pt_rule_node *p = pt_realloc_array(r->nodes, cap, sizeof *p);
        if (p == NULL)
            return rule_fail(ps, line, col, PT_ENOMEM, "out of memory");
        r->nodes = p;
        r->cap = cap;
    }
    struct pt_rule_node *nd = &r->nodes[r->n];
    memset(nd, 0, sizeof *nd);
    nd->op = (uint8_t)op;
    nd->type = (uint8_t)type;
    nd->line = line;
    nd->col = col;
    nd->a = nd->b = nd->c = nd->id = -1;
    return (int32_t)r->n++;
}

/* A node whose children are kids[a, a + b): a list or a call's arguments. */
static int32_t group_node(struct parser *ps, enum pt_rule_op op, enum pt_rule_type type,
                          uint32_t line, uint32_t col, const int32_t *items, int n)
{
    int32_t k = node(ps, op, type, line, col);
    if (k < 0)
        return -1;
    struct pt_rule *r = ps->r;
    if (r->nk + (size_t)n > r->kcap) {
        size_t cap = r->kcap ? r->kcap : 16;
        while (cap < r->nk + (size_t)n)
            cap *= 2;
        int32_t *p = pt_realloc_array(r->kids, cap, sizeof *p);
        if (p == NULL)
            return rule_fail(ps, line, col, PT_ENOMEM, "out of memory");
        r->kids = p;
        r->kcap = cap;
    }
    r->nodes[k].a = (int32_t)r->nk;
    r->nodes[k].b = n;
    if (n > 0) /* kids may still be NULL (a call without arguments) */
        memcpy(r->kids + r->nk, items, (size_t)n * sizeof *items);
    r->nk += (size_t)n;
    return k;
}

#define N(i)  (ps->r->nodes[i])
#define TY(i) ((enum pt_rule_type)ps->r->nodes[i].type)

/* Levenshtein distance, capped for long words. */
static size_t edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    if (na > 64 || nb > 64)
        return 99;
    size_t row[65];
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

/* The closest of names (stride bytes apart, a const char * at each), or NULL. */
static const char *closest(const char *w, size_t n, const void *table, size_t count, size_t stride)
{
    const char *best = NULL;
    size_t bd = n / 3 > 2 ? n / 3 : 2;
    for (size_t i = 0; i < count; i++) {
        const char *name = *(const char *const *)((const char *)table + i * stride);
        size_t d = edit_distance(w, n, name, strlen(name));
        if (d <= bd && (best == NULL || d < bd)) {
            best = name;
            bd = d;
        }
    }
    return best;
}

static int32_t parse_or(struct parser *ps);

/* After an item of a parenthesised list: past a ",", or at the ")"; else an
 * error naming where ("the list", "the arguments of " NAME). */
static int separator(struct parser *ps, const char *where, const char *name)
{
    if (ps->t == T_COMMA)
        return rule_next(ps);
    if (ps->t != T_RP)
        return rule_fail(ps, ps->tline, ps->tcol, PT_EPARSE, "expected \",\" or \")\" in %s%s",
                         where, name);
    return 0;
}

/* path := IDENT ('.' IDENT)*, resolved against the attribute table. */
static int32_t parse_attr(struct parser *ps)
{
    uint32_t line = ps->tline, col = ps->tcol;
    const char *start = ps->ts, *stop = ps->ts + ps->tlen;
    if (rule_next(ps))
        return -1;
    while (ps->t == T_DOT && ps->p == ps->ts + 1) {
        if (rule_next(ps))
            return -1;
        if (ps->t != T_IDENT && !(ps->t >= T_AND && ps->t <= T_FALSE))
            return rule_fail(ps, ps->tline, ps->tcol, PT_EPARSE, "expected a name after \".\"");
        stop = ps->ts + ps->tlen;
        if (rule_next(ps))
            return -1;
    }
    size_t n = (size_t)(stop - start);
    for (size_t i = 0; i < sizeof k_attrs / sizeof k_attrs[0]; i++) {
        const char *name = k_attrs[i].name;
        size_t ln = strlen(name);
        int prefix = name[ln - 1] == '.';
        if ((!prefix && ln == n && memcmp(name, start, n) == 0) ||
            (prefix && n > ln && memcmp(name, start, ln) == 0)) {
            int32_t k = node(ps, PT_R_ATTR, k_attrs[i].type, line, col);
            if (k < 0)
                return -1;
            N(k).id = (int32_t)i;
            if (prefix && rule_add_str(ps, start + ln, n - ln, &N(k).str))
                return -1;
            N(k).slen = prefix ? (uint32_t)(n - ln) : 0;
            return k;
        }
    }
    const char *s =
        closest(start, n, &k_attrs[0].name, sizeof k_attrs / sizeof k_attrs[0], sizeof k_attrs[0]);
    if (s == NULL)
        s = closest(start, n, &k_funcs[0].name, sizeof k_funcs / sizeof k_funcs[0],
                    sizeof k_funcs[0]);
    if (s)
        return rule_fail(ps, line, col, PT_EPARSE, "unknown attribute \"%.*s\" (did you mean %s?)",
                         (int)n, start, s);
    return rule_fail(ps, line, col, PT_EPARSE,
                     "unknown attribute \"%.*s\" (see docs/segments.md for the list)", (int)n,
                     start);
}

/* call := IDENT '(' [arg (',' arg)*] ')', arg := [IDENT '='] expr */
static int32_t parse_call(struct parser *ps, const char *name, size_t n, uint32_t line,
                          uint32_t col)
{
    int32_t fid = -1;
    for (size_t i = 0; i < sizeof k_funcs / sizeof k_funcs[0]; i++)
        if (strlen(k_funcs[i].name) == n && memcmp(k_funcs[i].name, name, n) == 0)
            fid = (int32_t)i;
    if (fid < 0) {
        const char *s = closest(name, n, &k_funcs[0].name, sizeof k_funcs / sizeof k_funcs[0],
                                sizeof k_funcs[0]);
        return s ? rule_fail(ps, line, col, PT_EPARSE,
                             "unknown function \"%.*s\" (did you mean %s?)", (int)n, name, s)
                 : rule_fail(ps, line, col, PT_EPARSE,
                             "unknown function \"%.*s\": count, bought, viewed, orders_in, points_expiring", (int)n,
                             name);
    }
    if (rule_next(ps)) /* past '(' */
        return -1;
    int32_t args[16];
    int na = 0;
    while (ps->t != T_RP) {
        if (na == 16)
            return rule_fail(ps, ps->tline, ps->tcol, PT_ETOOBIG, "more than 16 arguments");
        uint32_t al = ps->tline, ac = ps->tcol;
        int32_t k = node(ps, PT_R_ARG, PT_RT_ANY, al, ac);
        if (k < 0)
            return -1;
        /* a name followed by '=' (one '=') is an argument name */
        const char *after = ps->p;
        while (after < ps->end && (*after == ' ' || *after == '\t'))
            after++;
        if (ps->t == T_IDENT && after < ps->end && *after == '=' &&
            !(after + 1 < ps->end && after[1] == '=')) {
            if (rule_add_str(ps, ps->ts, ps->tlen, &N(k).str))
                return -1;
            N(k).slen = (uint32_t)ps->tlen;
            if (rule_next(ps) || rule_next(ps))
                return -1;
        }
        int32_t v = parse_or(ps);
        if (v < 0)
            return -1;
        N(k).a = v;
        N(k).type = TY(v);
        args[na++] = k;
        if (separator(ps, "the arguments of ", k_funcs[fid].name))
            return -1;
    }
    if (rule_next(ps)) /* past ')' */
        return -1;
    /* check the arguments */
    const char *fname = k_funcs[fid].name;
    int positional_ok = strcmp(fname, "orders_in") == 0 || strcmp(fname, "points_expiring") == 0;
    int seen_event = 0, nprops = 0;
    for (int i = 0; i < na; i++) {
        const struct pt_rule_node *a = &N(args[i]);
        const char *an = a->slen ? ps->r->strs + a->str : NULL;
        enum pt_rule_type t = (enum pt_rule_type)a->type;
        if (positional_ok) {
            if (an || na != 1)
                return rule_fail(ps, a->line, a->col, PT_EPARSE,
                                 "%s takes one duration, e.g. %s(30d)", fname, fname);
            if (t != PT_RT_DUR)
                return rule_fail(ps, a->line, a->col, PT_EPARSE,
                                 "%s takes a duration (e.g. 30d), got a %s", fname,
                                 pt_rule_type_name(t));
            if (N(a->a).op != PT_R_DUR || !(N(a->a).num > 0))
                return rule_fail(ps, a->line, a->col, PT_EPARSE,
                                 "%s takes a positive duration literal such as 30d", fname);
            continue;
        }
        if (an == NULL)
            return rule_fail(ps, a->line, a->col, PT_EPARSE,
                             "%s takes named arguments, e.g. %s(category = \"shoes\", within = 7d)",
                             fname, fname);
        for (int j = 0; j < i; j++) {
            const struct pt_rule_node *o = &N(args[j]);
            if (o->slen == a->slen && strcmp(ps->r->strs + o->str, an) == 0)
                return rule_fail(ps, a->line, a->col, PT_EPARSE, "argument \"%s\" given twice", an);
        }
        if (strcmp(an, "within") == 0) {
            if (t != PT_RT_DUR)
                return rule_fail(ps, a->line, a->col, PT_EPARSE,
                                 "within takes a duration such as 7d or 12h, got a %s",
                                 pt_rule_type_name(t));
            if (N(a->a).op != PT_R_DUR || !(N(a->a).num > 0))
                return rule_fail(ps, a->line, a->col, PT_EPARSE,
                                 "within takes a positive duration literal such as 7d");
        } else if (strcmp(an, "event") == 0 || strcmp(an, "product") == 0 ||
                   strcmp(an, "category") == 0) {
            if (strcmp(an, "event") == 0) {
                seen_event = 1;
                if (strcmp(fname, "count") != 0)
                    return rule_fail(ps, a->line, a->col, PT_EPARSE,
                                     "%s has no event argument (it looks at %s); use count(event = "
                                     "..., ...)",
                                     fname,
                                     strcmp(fname, "bought") == 0 ? "orders" : "product views");
            }
            if (t != PT_RT_STR || N(a->a).op != PT_R_STR)
                return rule_fail(ps, a->line, a->col, PT_EPARSE, "%s takes a string literal", an);
        } else if (N(a->a).op != PT_R_STR && N(a->a).op != PT_R_NUM && N(a->a).op != PT_R_BOOL &&
                   !(N(a->a).op == PT_R_NEG && N(N(a->a).a).op == PT_R_NUM)) {
            return rule_fail(ps, a->line, a->col, PT_EPARSE,
                             "property filter %s takes a literal (a string, number, true or false)",
                             an);
        } else if (++nprops > 8) {
            return rule_fail(ps, a->line, a->col, PT_EPARSE,
                             "at most 8 property filters in one %s", fname);
        } else if (t != PT_RT_STR && t != PT_RT_NUM && t != PT_RT_BOOL) {
            return rule_fail(ps, a->line, a->col, PT_EPARSE,
                             "property filter %s takes a string, number or boolean, got a %s", an,
                             pt_rule_type_name(t));
        }
    }
    if (strcmp(fname, "count") == 0 && !seen_event)
        return rule_fail(
            ps, line, col, PT_EPARSE,
            "count needs an event, e.g. count(event = \"Product Viewed\", within = 7d)");
    if (positional_ok && na != 1)
        return rule_fail(ps, line, col, PT_EPARSE, "%s takes one duration, e.g. %s(30d)", fname,
                         fname);
    int32_t k = group_node(ps, PT_R_CALL, k_funcs[fid].type, line, col, args, na);
    if (k >= 0)
        N(k).id = fid;
    return k;
}

static int32_t parse_primary(struct parser *ps)
{
    uint32_t line = ps->tline, col = ps->tcol;
    int32_t k;
    switch (ps->t) {
    case T_NUM:
    case T_DUR:
        k = node(ps, ps->t == T_NUM ? PT_R_NUM : PT_R_DUR, ps->t == T_NUM ? PT_RT_NUM : PT_RT_DUR,
                 line, col);
        if (k < 0)
            return -1;
        N(k).num = ps->num;
        return rule_next(ps) ? -1 : k;
    case T_STR:
        k = node(ps, PT_R_STR, PT_RT_STR, line, col);
        if (k < 0)
            return -1;
        N(k).str = ps->str;
        N(k).slen = ps->slen;
        return rule_next(ps) ? -1 : k;
    case T_TRUE:
    case T_FALSE:
        k = node(ps, PT_R_BOOL, PT_RT_BOOL, line, col);
        if (k < 0)
            return -1;
        N(k).num = ps->t == T_TRUE;
        return rule_next(ps) ? -1 : k;
    case T_LP:
        if (rule_next(ps))
            return -1;
        k = parse_or(ps);
        if (k < 0)
            return -1;
        if (ps->t != T_RP)
            return rule_fail(ps, ps->tline, ps->tcol, PT_EPARSE,
                             "expected \")\" to close the \"(\" at %u:%u", line, col);
        return rule_next(ps) ? -1 : k;
    case T_IDENT: {
        const char *name = ps->ts;
        size_t n = ps->tlen;
        if (ps->p < ps->end && *ps->p == '(') {
            if (rule_next(ps)) /* onto '(' */
                return -1;
            return parse_call(ps, name, n, line, col);
        }
        return parse_attr(ps);
    }
    case T_END:
        return rule_fail(ps, line, col, PT_EPARSE, "the rule ends where a value was expected");
    default:
        return rule_fail(ps, line, col, PT_EPARSE,
                         "expected a value, an attribute or \"(\", got \"%.*s\"",
                         (int)(ps->tlen > 40 ? 40 : ps->tlen), ps->ts);
    }
}

int rule_numeric(enum pt_rule_type t)
{
    return t == PT_RT_NUM || t == PT_RT_DUR || t == PT_RT_ANY;
}

static int32_t parse_unary(struct parser *ps)
{
    if (ps->t == T_MINUS) {
        uint32_t line = ps->tline, col = ps->tcol;
        if (++ps->depth > PT_RULE_MAX_DEPTH)
            return rule_fail(ps, line, col, PT_ETOOBIG, "nested more than %d deep",
                             PT_RULE_MAX_DEPTH);
        if (rule_next(ps))
            return -1;
        int32_t a = parse_unary(ps);
        ps->depth--;
        if (a < 0)
            return -1;
        if (!rule_numeric(TY(a)))
            return rule_fail(ps, line, col, PT_EPARSE,
                             "\"-\" needs a number or a duration, not a %s",
                             pt_rule_type_name(TY(a)));
        int32_t k = node(ps, PT_R_NEG, TY(a), line, col);
        if (k >= 0)
            N(k).a = a;
        return k;
    }
    return parse_primary(ps);
}

/* Result type of a op b for + - * /, or -1 with the reason. */
int rule_arith_type(enum pt_rule_op op, enum pt_rule_type a, enum pt_rule_type b)
{
    if (a == PT_RT_ANY || b == PT_RT_ANY)
        return a == PT_RT_DUR || b == PT_RT_DUR ? PT_RT_DUR : PT_RT_NUM;
    if (!rule_numeric(a) || !rule_numeric(b))
        return -1;
    switch (op) {
    case PT_R_ADD:
    case PT_R_SUB:
        return a == b ? (int)a : -1;
    case PT_R_MUL:
        return a == PT_RT_DUR && b == PT_RT_DUR     ? -1
               : (a == PT_RT_DUR || b == PT_RT_DUR) ? PT_RT_DUR
                                                    : PT_RT_NUM;
    default: /* DIV */
        return a == PT_RT_NUM && b == PT_RT_DUR ? -1 : a == b ? PT_RT_NUM : (int)a;
    }
}

static int32_t parse_binary_arith(struct parser *ps, int level)
{
    int32_t a = level ? parse_unary(ps) : parse_binary_arith(ps, 1);
    while (a >= 0 && (level ? (ps->t == T_STAR || ps->t == T_SLASH)
                            : (ps->t == T_PLUS || ps->t == T_MINUS))) {
        enum pt_rule_op op = ps->t == T_STAR    ? PT_R_MUL
                             : ps->t == T_SLASH ? PT_R_DIV
                             : ps->t == T_PLUS  ? PT_R_ADD
                                                : PT_R_SUB;
        uint32_t line = ps->tline, col = ps->tcol;
        static const char *const sym[] = {"+", "-", "*", "/"};
        if (rule_next(ps))
            return -1;
        int32_t b = level ? parse_unary(ps) : parse_binary_arith(ps, 1);
        if (b < 0)
            return -1;
        int t = rule_arith_type(op, TY(a), TY(b));
        if (t < 0)
            return rule_fail(ps, line, col, PT_EPARSE, "cannot compute %s %s %s",
                             pt_rule_type_name(TY(a)), sym[op - PT_R_ADD],
                             pt_rule_type_name(TY(b)));
        int32_t k = node(ps, op, (enum pt_rule_type)t, N(a).line, N(a).col);
        if (k < 0)
            return -1;
        N(k).a = a;
        N(k).b = b;
        a = k;
    }
    return a;
}

static int comparable(enum pt_rule_type a, enum pt_rule_type b)
{
    return a == PT_RT_ANY || b == PT_RT_ANY || a == b;
}

/* A type mismatch, with a hint for the usual slips. */
static int mismatch(struct parser *ps, uint32_t line, uint32_t col, const char *what,
                    enum pt_rule_type a, enum pt_rule_type b)
{
    const char *hint = a == PT_RT_NUM && b == PT_RT_DUR
                           ? " (days_since_... and *_minutes are plain numbers: write 30, not 30d)"
                       : a == PT_RT_NUM && b == PT_RT_STR ? " (a number is written without quotes)"
                       : a == PT_RT_STR && b == PT_RT_NUM ? " (a string is written in quotes)"
                                                          : "";
    return rule_fail(ps, line, col, PT_EPARSE, "cannot %s a %s with a %s%s", what,
                     pt_rule_type_name(a), pt_rule_type_name(b), hint);
}

static int32_t parse_list(struct parser *ps, enum pt_rule_type want)
{
    uint32_t line = ps->tline, col = ps->tcol;
    if (ps->t != T_LP)
        return rule_fail(ps, line, col, PT_EPARSE,
                         "expected \"(\" and a list after in, e.g. in (\"a\", \"b\")");
    if (rule_next(ps))
        return -1;
    int32_t items[256];
    int n = 0;
    while (ps->t != T_RP) {
        if (n == 256)
            return rule_fail(ps, ps->tline, ps->tcol, PT_ETOOBIG, "more than 256 values in a list");
        int32_t v = parse_unary(ps);
        if (v < 0)
            return -1;
        enum pt_rule_op op = (enum pt_rule_op)N(v).op;
        if (op != PT_R_NUM && op != PT_R_STR && op != PT_R_DUR && op != PT_R_BOOL &&
            !(op == PT_R_NEG && N(N(v).a).op != PT_R_ATTR))
            return rule_fail(ps, N(v).line, N(v).col, PT_EPARSE,
                             "a list holds literal values only");
        if (!comparable(want, TY(v)))
            return mismatch(ps, N(v).line, N(v).col, "compare", want, TY(v));
        items[n++] = v;
        if (separator(ps, "the list", ""))
            return -1;
    }
    if (n == 0)
        return rule_fail(ps, line, col, PT_EPARSE, "an empty list matches nothing");
    if (rule_next(ps))
        return -1;
    return group_node(ps, PT_R_LIST, PT_RT_LIST, line, col, items, n);
}

static int32_t parse_cmp(struct parser *ps)
{
    int32_t a = parse_binary_arith(ps, 0);
    if (a < 0)
        return -1;
    uint32_t line = ps->tline, col = ps->tcol;
    enum tok t = ps->t;
    int negate = 0;
    if (t == T_NOT) { /* a not in (...) */
        const char *save = ps->p;
        uint32_t sl = ps->line;
        const char *sls = ps->line_start;
        if (rule_next(ps))
            return -1;
        if (ps->t != T_IN) {
            ps->p = save, ps->line = sl, ps->line_start = sls;
            return rule_fail(ps, line, col, PT_EPARSE, "\"not\" here must be followed by \"in\"");
        }
        negate = 1;
        t = T_IN;
    }
    int32_t k;
    if (t >= T_EQ && t <= T_GE) {
        static const enum pt_rule_op ops[] = {PT_R_EQ, PT_R_NE, PT_R_LT, PT_R_LE, PT_R_GT, PT_R_GE};
        enum pt_rule_op op = ops[t - T_EQ];
        if (rule_next(ps))
            return -1;
        int32_t b = parse_binary_arith(ps, 0);
        if (b < 0)
            return -1;
        if (!comparable(TY(a), TY(b)))
            return mismatch(ps, line, col, "compare", TY(a), TY(b));
        if (op >= PT_R_LT && !rule_numeric(TY(a)))
            return rule_fail(ps, line, col, PT_EPARSE,
                             "%ss compare with = and != only (or in, contains)",
                             pt_rule_type_name(TY(a)));
        k = node(ps, op, PT_RT_BOOL, N(a).line, N(a).col);
        if (k >= 0)
            N(k).a = a, N(k).b = b;
        return k;
    }
    if (t == T_IN) {
        if (rule_next(ps))
            return -1;
        if (TY(a) == PT_RT_LIST || TY(a) == PT_RT_BOOL)
            return rule_fail(ps, line, col, PT_EPARSE,
                             "in needs a number or a string on its left, not a %s",
                             pt_rule_type_name(TY(a)));
        int32_t b = parse_list(ps, TY(a));
        if (b < 0)
            return -1;
        k = node(ps, PT_R_IN, PT_RT_BOOL, N(a).line, N(a).col);
        if (k < 0)
            return -1;
        N(k).a = a, N(k).b = b;
        if (!negate)
            return k;
        int32_t n = node(ps, PT_R_NOT, PT_RT_BOOL, N(a).line, N(a).col);
        if (n >= 0)
            N(n).a = k;
        return n;
    }
    if (t == T_BETWEEN) {
        if (rule_next(ps))
            return -1;
        int32_t lo = parse_binary_arith(ps, 0);
        if (lo < 0)
            return -1;
        if (ps->t != T_AND)
            return rule_fail(ps, ps->tline, ps->tcol, PT_EPARSE,
                             "expected \"and\" in between LOW and HIGH");
        if (rule_next(ps))
            return -1;
        int32_t hi = parse_binary_arith(ps, 0);
        if (hi < 0)
            return -1;
        if (!rule_numeric(TY(a)))
            return rule_fail(ps, line, col, PT_EPARSE,
                             "between needs a number or a duration, not a %s",
                             pt_rule_type_name(TY(a)));
        if (!comparable(TY(a), TY(lo)))
            return mismatch(ps, N(lo).line, N(lo).col, "compare", TY(a), TY(lo));
        if (!comparable(TY(a), TY(hi)))
            return mismatch(ps, N(hi).line, N(hi).col, "compare", TY(a), TY(hi));
        k = node(ps, PT_R_BETWEEN, PT_RT_BOOL, N(a).line, N(a).col);
        if (k >= 0)
            N(k).a = a, N(k).b = lo, N(k).c = hi;
        return k;
    }
    if (t == T_CONTAINS) {
        if (rule_next(ps))
            return -1;
        int32_t b = parse_binary_arith(ps, 0);
        if (b < 0)
            return -1;
        if (TY(a) != PT_RT_STR && TY(a) != PT_RT_LIST && TY(a) != PT_RT_ANY)
            return rule_fail(ps, line, col, PT_EPARSE,
                             "contains needs a string or a list on its left, not a %s",
                             pt_rule_type_name(TY(a)));
        if (TY(b) != PT_RT_STR && TY(b) != PT_RT_ANY)
            return mismatch(ps, N(b).line, N(b).col, "look for", TY(b), TY(a));
        k = node(ps, PT_R_CONTAINS, PT_RT_BOOL, N(a).line, N(a).col);
        if (k >= 0)
            N(k).a = a, N(k).b = b;
        return k;
    }
    if (t == T_EXISTS) {
        if (N(a).op != PT_R_ATTR)
            return rule_fail(ps, line, col, PT_EPARSE,
                             "exists applies to an attribute, e.g. traits.vip exists");
        if (rule_next(ps))
            return -1;
        k = node(ps, PT_R_EXISTS, PT_RT_BOOL, N(a).line, N(a).col);
        if (k >= 0)
            N(k).a = a;
        return k;
    }
    return a;
}

static int32_t parse_not(struct parser *ps)
{
    if (ps->t != T_NOT)
        return parse_cmp(ps);
    uint32_t line = ps->tline, col = ps->tcol;
    if (++ps->depth > PT_RULE_MAX_DEPTH)
        return rule_fail(ps, line, col, PT_ETOOBIG, "nested more than %d deep", PT_RULE_MAX_DEPTH);
    if (rule_next(ps))
        return -1;
    int32_t a = parse_not(ps);
    ps->depth--;
    if (a < 0)
        return -1;
    if (TY(a) != PT_RT_BOOL && TY(a) != PT_RT_ANY)
        return rule_fail(ps, line, col, PT_EPARSE, "not needs a condition, not a %s",
                         pt_rule_type_name(TY(a)));
    int32_t k = node(ps, PT_R_NOT, PT_RT_BOOL, line, col);
    if (k >= 0)
        N(k).a = a;
    return k;
}

static int32_t parse_logic(struct parser *ps, enum tok tk)
{
    int32_t a = tk == T_OR ? parse_logic(ps, T_AND) : parse_not(ps);
    while (a >= 0 && ps->t == tk) {
        uint32_t line = ps->tline, col = ps->tcol;
        if (rule_next(ps))
            return -1;
        int32_t b = tk == T_OR ? parse_logic(ps, T_AND) : parse_not(ps);
        if (b < 0)
            return -1;
        const char *w = tk == T_OR ? "or" : "and";
        if (TY(a) != PT_RT_BOOL && TY(a) != PT_RT_ANY)
            return rule_fail(ps, N(a).line, N(a).col, PT_EPARSE,
                             "%s needs conditions on both sides; this is a %s", w,
                             pt_rule_type_name(TY(a)));
        if (TY(b) != PT_RT_BOOL && TY(b) != PT_RT_ANY)
            return rule_fail(ps, N(b).line, N(b).col, PT_EPARSE,
                             "%s needs conditions on both sides; this is a %s", w,
                             pt_rule_type_name(TY(b)));
        int32_t k = node(ps, tk == T_OR ? PT_R_OR : PT_R_AND, PT_RT_BOOL, line, col);
        if (k < 0)
            return -1;
        N(k).a = a;
        N(k).b = b;
        a = k;
    }
    return a;
}

static int32_t parse_or(struct parser *ps)
{
    if (++ps->depth > PT_RULE_MAX_DEPTH)
        return rule_fail(ps, ps->tline, ps->tcol, PT_ETOOBIG, "nested more than %d deep",
                         PT_RULE_MAX_DEPTH);
    int32_t k = parse_logic(ps, T_OR);
    ps->depth--;
    return k;
}

void pt_rule_free(struct pt_rule *r)
{
    pt_free(r->nodes);
    pt_free(r->kids);
    pt_free(r->strs);
    memset(r, 0, sizeof *r);
    r->root = -1;
}

int pt_rule_parse(const char *text, size_t len, struct pt_rule *r, struct pt_err *e)
{
    memset(r, 0, sizeof *r);
    r->root = -1;
    struct parser ps = {
        .s = text, .end = text + len, .p = text, .line = 1, .line_start = text, .r = r, .e = e};
    if (len > PT_RULE_MAX_TEXT) {
        rule_fail(&ps, 1, 1, PT_ETOOBIG, "rule longer than %d bytes", PT_RULE_MAX_TEXT);
        return PT_ETOOBIG;
    }
    int32_t root = -1;
    if (rule_next(&ps) == 0) {
        if (ps.t == T_END)
            rule_fail(&ps, ps.tline, ps.tcol, PT_EPARSE, "empty rule");
        else
            root = parse_or(&ps);
    }
    if (root >= 0 && ps.t != T_END)
        rule_fail(&ps, ps.tline, ps.tcol, PT_EPARSE,
                  "unexpected \"%.*s\" after a complete condition",
                  (int)(ps.tlen > 40 ? 40 : ps.tlen), ps.ts);
    if (!ps.failed && root >= 0 && r->nodes[root].type != PT_RT_BOOL &&
        r->nodes[root].type != PT_RT_ANY)
        rule_fail(&ps, r->nodes[root].line, r->nodes[root].col, PT_EPARSE,
                  "a rule must be a condition (true or false), this is a %s",
                  pt_rule_type_name((enum pt_rule_type)r->nodes[root].type));
    if (ps.failed) {
        pt_rule_free(r);
        return ps.code;
    }
    r->root = root;
    return 0;
}
