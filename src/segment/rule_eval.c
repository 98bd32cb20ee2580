/*
 * rule_eval.c - canonical text and evaluation of parsed segment rules (see
 * rule.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "segment/rule_int.h"

/* ---- canonical text ---- */

static int put_str(struct pt_buf *b, const char *s, size_t n)
{
    int rc = pt_buf_addc(b, '"');
    for (size_t i = 0; i < n && rc == 0; i++) {
        char c = s[i];
        rc = c == '"' || c == '\\' ? pt_buf_addc(b, '\\') || pt_buf_addc(b, c)
             : c == '\n'           ? pt_buf_adds(b, "\\n")
             : c == '\t'           ? pt_buf_adds(b, "\\t")
                                   : pt_buf_addc(b, c);
    }
    return rc || pt_buf_addc(b, '"');
}

static int fmt(const struct pt_rule *r, int32_t i, struct pt_buf *b)
{
    const struct pt_rule_node *n = &r->nodes[i];
    size_t na;
    static const char *const bin[] = {[PT_R_AND] = " and ", [PT_R_OR] = " or ",
                                      [PT_R_EQ] = " = ",    [PT_R_NE] = " != ",
                                      [PT_R_LT] = " < ",    [PT_R_LE] = " <= ",
                                      [PT_R_GT] = " > ",    [PT_R_GE] = " >= ",
                                      [PT_R_IN] = " in ",   [PT_R_CONTAINS] = " contains ",
                                      [PT_R_ADD] = " + ",   [PT_R_SUB] = " - ",
                                      [PT_R_MUL] = " * ",   [PT_R_DIV] = " / "};
    int rc = 0;
    switch ((enum pt_rule_op)n->op) {
    case PT_R_NUM:
        return pt_buf_printf(b, "%.17g", n->num) < 0;
    case PT_R_DUR:
        return pt_buf_printf(b, "%.17gs", n->num) < 0;
    case PT_R_STR:
        return put_str(b, r->strs + n->str, n->slen);
    case PT_R_BOOL:
        return pt_buf_adds(b, n->num ? "true" : "false");
    case PT_R_ATTR:
        rc = pt_buf_adds(b, pt_rule_attrs(&na)[n->id].name);
        return rc || (n->slen ? pt_buf_add(b, r->strs + n->str, n->slen) : 0);
    case PT_R_LIST:
    case PT_R_CALL:
        if (n->op == PT_R_CALL)
            rc = pt_buf_adds(b, pt_rule_funcs(&na)[n->id].name);
        rc = rc || pt_buf_addc(b, '(');
        for (int32_t k = 0; k < n->b && rc == 0; k++)
            rc = (k ? pt_buf_adds(b, ", ") : 0) || fmt(r, r->kids[n->a + k], b);
        return rc || pt_buf_addc(b, ')');
    case PT_R_ARG:
        if (n->slen)
            rc = pt_buf_add(b, r->strs + n->str, n->slen) || pt_buf_adds(b, " = ");
        return rc || fmt(r, n->a, b);
    case PT_R_NOT:
        return pt_buf_adds(b, "(not ") || fmt(r, n->a, b) || pt_buf_addc(b, ')');
    case PT_R_NEG:
        return pt_buf_adds(b, "(-") || fmt(r, n->a, b) || pt_buf_addc(b, ')');
    case PT_R_EXISTS:
        return pt_buf_addc(b, '(') || fmt(r, n->a, b) || pt_buf_adds(b, " exists)");
    case PT_R_BETWEEN:
        return pt_buf_addc(b, '(') || fmt(r, n->a, b) || pt_buf_adds(b, " between ") ||
               fmt(r, n->b, b) || pt_buf_adds(b, " and ") || fmt(r, n->c, b) || pt_buf_addc(b, ')');
    default:
        return pt_buf_addc(b, '(') || fmt(r, n->a, b) || pt_buf_adds(b, bin[n->op]) ||
               fmt(r, n->b, b) || pt_buf_addc(b, ')');
    }
}

int pt_rule_format(const struct pt_rule *r, struct pt_buf *b)
{
    if (r->root < 0)
        return PT_EINVAL;
    return fmt(r, r->root, b) ? PT_ENOMEM : 0;
}

int pt_rule_format_node(const struct pt_rule *r, int32_t node, struct pt_buf *b)
{
    if (node < 0 || (size_t)node >= r->n)
        return PT_EINVAL;
    return fmt(r, node, b) ? PT_ENOMEM : 0;
}

/* ---- evaluation ---- */

struct ev {
    const struct pt_rule *r;
    const struct pt_rule_env *env;
    int rc;
};

static struct pt_rule_value missing(void)
{
    struct pt_rule_value v;
    memset(&v, 0, sizeof v);
    v.type = PT_RT_ANY;
    return v;
}

static struct pt_rule_value num_value(enum pt_rule_type t, double x)
{
    struct pt_rule_value v = missing();
    v.type = t;
    v.present = isfinite(x);
    v.num = x;
    return v;
}

static struct pt_rule_value eval(struct ev *ev, int32_t i);

static int truth(struct ev *ev, int32_t i)
{
    struct pt_rule_value v = eval(ev, i);
    return v.present && v.type == PT_RT_BOOL && v.num != 0;
}

/* -1, 0, 1, or 2 when a and b do not compare */
static int compare(const struct pt_rule_value *a, const struct pt_rule_value *b)
{
    if (!a->present || !b->present)
        return 2;
    int an = a->type == PT_RT_NUM || a->type == PT_RT_DUR || a->type == PT_RT_BOOL;
    int bn = b->type == PT_RT_NUM || b->type == PT_RT_DUR || b->type == PT_RT_BOOL;
    if (an && bn && a->type == b->type)
        return a->num < b->num ? -1 : a->num > b->num ? 1 : a->num == b->num ? 0 : 2;
    if (a->type == PT_RT_STR && b->type == PT_RT_STR) {
        size_t n = a->slen < b->slen ? a->slen : b->slen;
        int c = n ? memcmp(a->str, b->str, n) : 0;
        if (c == 0)
            c = a->slen < b->slen ? -1 : a->slen > b->slen;
        return c < 0 ? -1 : c > 0;
    }
    return 2;
}

static struct pt_rule_value boolean(int x)
{
    return num_value(PT_RT_BOOL, x ? 1 : 0);
}

static struct pt_rule_value eval(struct ev *ev, int32_t i)
{
    const struct pt_rule *r = ev->r;
    const struct pt_rule_node *n = &r->nodes[i];
    struct pt_rule_value v = missing(), a, b, c;
    if (ev->rc)
        return v;
    switch ((enum pt_rule_op)n->op) {
    case PT_R_NUM:
        return num_value(PT_RT_NUM, n->num);
    case PT_R_DUR:
        return num_value(PT_RT_DUR, n->num);
    case PT_R_BOOL:
        return boolean(n->num != 0);
    case PT_R_STR:
        v.type = PT_RT_STR;
        v.present = 1;
        v.str = r->strs + n->str;
        v.slen = n->slen;
        return v;
    case PT_R_ATTR:
        v.type = (enum pt_rule_type)n->type;
        ev->rc = ev->env->attr(ev->env->ctx, n->id, n->slen ? r->strs + n->str : "", n->slen, &v);
        if (ev->rc || (v.present && v.type == PT_RT_NUM && !isfinite(v.num)))
            v.present = 0;
        return v;
    case PT_R_CALL: {
        double x = NAN;
        ev->rc = ev->env->call(ev->env->ctx, r, i, &x);
        return n->type == PT_RT_BOOL ? boolean(x != 0 && !isnan(x)) : num_value(PT_RT_NUM, x);
    }
    case PT_R_AND:
        return boolean(truth(ev, n->a) && truth(ev, n->b));
    case PT_R_OR:
        return boolean(truth(ev, n->a) || truth(ev, n->b));
    case PT_R_NOT:
        return boolean(!truth(ev, n->a));
    case PT_R_EQ:
    case PT_R_NE:
    case PT_R_LT:
    case PT_R_LE:
    case PT_R_GT:
    case PT_R_GE: {
        a = eval(ev, n->a);
        b = eval(ev, n->b);
        int k = compare(&a, &b);
        if (k == 2)
            return boolean(0);
        switch ((enum pt_rule_op)n->op) {
        case PT_R_EQ:
            return boolean(k == 0);
        case PT_R_NE:
            return boolean(k != 0);
        case PT_R_LT:
            return boolean(k < 0);
        case PT_R_LE:
            return boolean(k <= 0);
        case PT_R_GT:
            return boolean(k > 0);
        default:
            return boolean(k >= 0);
        }
    }
    case PT_R_IN: {
        a = eval(ev, n->a);
        const struct pt_rule_node *l = &r->nodes[n->b];
        for (int32_t k = 0; k < l->b; k++) {
            b = eval(ev, r->kids[l->a + k]);
            if (compare(&a, &b) == 0)
                return boolean(1);
        }
        return boolean(0);
    }
    case PT_R_BETWEEN:
        a = eval(ev, n->a);
        b = eval(ev, n->b);
        c = eval(ev, n->c);
        {
            int lo = compare(&a, &b), hi = compare(&a, &c);
            return boolean(lo != 2 && hi != 2 && lo >= 0 && hi <= 0);
        }
    case PT_R_CONTAINS:
        a = eval(ev, n->a);
        b = eval(ev, n->b);
        if (!a.present || !b.present || b.type != PT_RT_STR)
            return boolean(0);
        if (a.type == PT_RT_STR)
            return boolean(b.slen == 0 ||
                           (b.slen <= a.slen && memmem(a.str, a.slen, b.str, b.slen)));
        if (a.type == PT_RT_LIST) {
            for (size_t k = 0; k < a.n; k++)
                if (a.lens[k] == b.slen && memcmp(a.items[k], b.str, b.slen) == 0)
                    return boolean(1);
        }
        return boolean(0);
    case PT_R_EXISTS:
        return boolean(eval(ev, n->a).present);
    case PT_R_NEG:
        a = eval(ev, n->a);
        if (!a.present || (a.type != PT_RT_NUM && a.type != PT_RT_DUR))
            return missing();
        return num_value(a.type, -a.num);
    case PT_R_ADD:
    case PT_R_SUB:
    case PT_R_MUL:
    case PT_R_DIV: {
        a = eval(ev, n->a);
        b = eval(ev, n->b);
        int na = a.type == PT_RT_NUM || a.type == PT_RT_DUR;
        int nb = b.type == PT_RT_NUM || b.type == PT_RT_DUR;
        if (!a.present || !b.present || !na || !nb)
            return missing();
        int t = rule_arith_type((enum pt_rule_op)n->op, a.type, b.type);
        if (t < 0)
            return missing();
        double x = n->op == PT_R_ADD   ? a.num + b.num
                   : n->op == PT_R_SUB ? a.num - b.num
                   : n->op == PT_R_MUL ? a.num * b.num
                                       : a.num / b.num; /* x/0: inf or nan, i.e. missing */
        return num_value((enum pt_rule_type)t, x);
    }
    default:
        return missing(); /* LIST and ARG are read by their parents */
    }
}

int pt_rule_eval(const struct pt_rule *r, const struct pt_rule_env *env, int *match)
{
    return pt_rule_eval_node(r, r->root, env, match);
}

int pt_rule_eval_node(const struct pt_rule *r, int32_t node, const struct pt_rule_env *env,
                      int *match)
{
    *match = 0;
    if (node < 0 || (size_t)node >= r->n)
        return PT_EINVAL;
    struct ev ev = {.r = r, .env = env};
    int m = truth(&ev, node);
    if (ev.rc)
        return ev.rc;
    *match = m;
    return 0;
}
