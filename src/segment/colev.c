/*
 * colev.c - rules compiled together and run over blocks of customers (see
 * colev.h).
 */
#include "segment/colev.h"

#include <math.h>
#include <string.h>

#include "util/buf.h"
#include "util/mem.h"

enum vop {
    V_CONST, /* dst = k */
    V_ADD, V_SUB, V_MUL, V_DIV, V_NEG,
    V_EQ, V_NE, V_LT, V_LE, V_GT, V_GE, V_BETWEEN,
    V_EQK, V_NEK, V_LTK, V_LEK, V_GTK, V_GEK, V_BETWEENK, /* against constants k (and k2) */
    V_AND, V_OR, V_NOT, V_EXISTS, V_TRUTH
};

struct vins {
    uint8_t op;
    int32_t dst, a, b, c;
    double k, k2;
};

/* L_STR: a string attribute as the index of its value among the literals the
 * rules compare it with (-1: another value; NaN: missing), so = != in run as
 * numbers. */
enum { L_ATTR, L_CALL, L_FALLBACK, L_STR };
struct leaf {
    int kind;
    const struct pt_rule *r;
    int32_t node;
    char *text; /* canonical text: the dedup key */
    const char **lit; /* L_STR: the literals (borrowed from the rules) */
    uint32_t *llen;
    size_t nlit, caplit;
};

struct pt_seg_prog {
    struct leaf *leaf;
    size_t nleaf, capleaf;
    struct vins *ins;
    size_t nins, capins;
    size_t *first, *count; /* rule k: ins[first[k] .. + count[k]) */
    int32_t *result;       /* rule k: the slot of its truth */
    size_t nrules;
    size_t nslots; /* leaves first, then the largest rule's temporaries */
};

struct pt_seg_block {
    const struct pt_seg_prog *p;
    double *col; /* nslots x PT_SEG_BLOCK */
};

/* ---- compiling ---- */

struct comp {
    struct pt_seg_prog *p;
    const struct pt_rule *r;
    int32_t next_tmp;
    struct pt_buf key;
    int rc;
};

static int numeric_type(int t)
{
    return t == PT_RT_NUM || t == PT_RT_DUR || t == PT_RT_BOOL;
}

/* A string attribute of static type (not a free-form trait). */
static int str_attr(const struct pt_rule *r, int32_t i)
{
    return r->nodes[i].op == PT_R_ATTR && r->nodes[i].type == PT_RT_STR;
}

static int str_lit(const struct pt_rule *r, int32_t i)
{
    return r->nodes[i].op == PT_R_STR;
}

/* = or != between a string attribute and a literal (either side), or a string
 * attribute in a list of literals: *attr, *lit (-1 for a list) receive them. */
static int str_cmp(const struct pt_rule *r, int32_t i, int32_t *attr, int32_t *lit)
{
    const struct pt_rule_node *n = &r->nodes[i];
    if (n->op == PT_R_EQ || n->op == PT_R_NE) {
        if (str_attr(r, n->a) && str_lit(r, n->b)) {
            *attr = n->a;
            *lit = n->b;
            return 1;
        }
        if (str_lit(r, n->a) && str_attr(r, n->b)) {
            *attr = n->b;
            *lit = n->a;
            return 1;
        }
        return 0;
    }
    if (n->op != PT_R_IN || !str_attr(r, n->a))
        return 0;
    const struct pt_rule_node *l = &r->nodes[n->b];
    for (int32_t k = 0; k < l->b; k++)
        if (!str_lit(r, r->kids[l->a + k]))
            return 0;
    *attr = n->a;
    *lit = -1;
    return 1;
}

/* The subtree compiles to vector code (no strings, lists or free-form traits). */
static int vec_ok(const struct pt_rule *r, int32_t i)
{
    const struct pt_rule_node *n = &r->nodes[i];
    int32_t sa, sl;
    if (str_cmp(r, i, &sa, &sl))
        return 1;
    switch ((enum pt_rule_op)n->op) {
    case PT_R_NUM:
    case PT_R_DUR:
    case PT_R_BOOL:
    case PT_R_CALL:
        return 1;
    case PT_R_ATTR:
        return numeric_type(n->type) && n->slen == 0;
    case PT_R_NEG:
    case PT_R_EXISTS:
        return vec_ok(r, n->a);
    case PT_R_ADD:
    case PT_R_SUB:
    case PT_R_MUL:
    case PT_R_DIV:
    case PT_R_EQ:
    case PT_R_NE:
    case PT_R_LT:
    case PT_R_LE:
    case PT_R_GT:
    case PT_R_GE:
        return vec_ok(r, n->a) && vec_ok(r, n->b);
    case PT_R_BETWEEN:
        return vec_ok(r, n->a) && vec_ok(r, n->b) && vec_ok(r, n->c);
    case PT_R_IN: {
        if (!vec_ok(r, n->a))
            return 0;
        const struct pt_rule_node *l = &r->nodes[n->b];
        for (int32_t k = 0; k < l->b; k++) {
            int op = r->nodes[r->kids[l->a + k]].op;
            if (op != PT_R_NUM && op != PT_R_DUR && op != PT_R_BOOL)
                return 0;
        }
        return 1;
    }
    default:
        return 0;
    }
}

static int32_t emit(struct comp *c, enum vop op, int32_t a, int32_t b, int32_t d, double k)
{
    struct pt_seg_prog *p = c->p;
    if (c->rc)
        return 0;
    if (p->nins == p->capins) {
        size_t nc = p->capins ? p->capins * 2 : 256;
        struct vins *x = pt_realloc_array(p->ins, nc, sizeof *x);
        if (x == NULL) {
            c->rc = PT_ENOMEM;
            return 0;
        }
        p->ins = x;
        p->capins = nc;
    }
    int32_t dst = c->next_tmp++;
    p->ins[p->nins++] = (struct vins){(uint8_t)op, dst, a, b, d, k, 0};
    return dst;
}

/* The slot of a leaf (kind, node), shared with every equal leaf so far. */
static int32_t leaf_slot(struct comp *c, int kind, int32_t node)
{
    struct pt_seg_prog *p = c->p;
    pt_buf_reset(&c->key);
    if (pt_buf_addc(&c->key, (char)('0' + kind)) || pt_rule_format_node(c->r, node, &c->key) ||
        pt_buf_addc(&c->key, '\0')) {
        c->rc = PT_ENOMEM;
        return 0;
    }
    for (size_t i = 0; i < p->nleaf; i++)
        if (strcmp(p->leaf[i].text, c->key.data) == 0)
            return (int32_t)i;
    if (p->nleaf == p->capleaf) {
        size_t nc = p->capleaf ? p->capleaf * 2 : 32;
        struct leaf *x = pt_realloc_array(p->leaf, nc, sizeof *x);
        if (x == NULL) {
            c->rc = PT_ENOMEM;
            return 0;
        }
        p->leaf = x;
        p->capleaf = nc;
    }
    char *t = pt_strndup(c->key.data, c->key.len);
    if (t == NULL) {
        c->rc = PT_ENOMEM;
        return 0;
    }
    p->leaf[p->nleaf] = (struct leaf){kind, c->r, node, t, NULL, NULL, 0, 0};
    return (int32_t)p->nleaf++;
}

static int is_lit(const struct pt_rule *r, int32_t i)
{
    int op = r->nodes[i].op;
    return op == PT_R_NUM || op == PT_R_DUR || op == PT_R_BOOL;
}

/* The index of literal node `lit` among leaf l's literals (added if new). */
static double lit_index(struct comp *c, int32_t l, int32_t lit)
{
    struct leaf *lf = &c->p->leaf[l];
    const struct pt_rule_node *n = &c->r->nodes[lit];
    const char *str = c->r->strs + n->str;
    for (size_t i = 0; i < lf->nlit; i++)
        if (lf->llen[i] == n->slen && memcmp(lf->lit[i], str, n->slen) == 0)
            return (double)i;
    if (lf->nlit == lf->caplit) {
        size_t nc = lf->caplit ? lf->caplit * 2 : 8;
        const char **a = pt_realloc_array(lf->lit, nc, sizeof *a);
        if (a)
            lf->lit = a;
        uint32_t *b = pt_realloc_array(lf->llen, nc, sizeof *b);
        if (b)
            lf->llen = b;
        if (!a || !b) {
            c->rc = PT_ENOMEM;
            return 0;
        }
        lf->caplit = nc;
    }
    lf->lit[lf->nlit] = str;
    lf->llen[lf->nlit] = n->slen;
    return (double)lf->nlit++;
}

/* A string comparison (see str_cmp) as numbers. */
static int32_t comp_str(struct comp *c, int32_t i, int32_t attr, int32_t lit, int lo);

/* Leaves are numbered before temporaries exist: pass 1 collects them. */
static int32_t comp(struct comp *c, int32_t i, int leaves_only);

static int32_t comp_vec(struct comp *c, int32_t i, int lo)
{
    const struct pt_rule *r = c->r;
    const struct pt_rule_node *n = &r->nodes[i];
    int32_t a, b, d, sa, sl;
    if (str_cmp(r, i, &sa, &sl))
        return comp_str(c, i, sa, sl, lo);
    switch ((enum pt_rule_op)n->op) {
    case PT_R_NUM:
    case PT_R_DUR:
    case PT_R_BOOL:
        return lo ? 0 : emit(c, V_CONST, 0, 0, 0, n->num);
    case PT_R_ATTR:
        return leaf_slot(c, L_ATTR, i);
    case PT_R_CALL:
        return leaf_slot(c, L_CALL, i);
    case PT_R_NEG:
        a = comp_vec(c, n->a, lo);
        return lo ? 0 : emit(c, V_NEG, a, 0, 0, 0);
    case PT_R_EXISTS:
        a = comp_vec(c, n->a, lo);
        return lo ? 0 : emit(c, V_EXISTS, a, 0, 0, 0);
    case PT_R_BETWEEN:
        a = comp_vec(c, n->a, lo);
        if (is_lit(r, n->b) && is_lit(r, n->c)) {
            if (lo)
                return 0;
            d = emit(c, V_BETWEENK, a, 0, 0, r->nodes[n->b].num);
            if (c->rc == 0)
                c->p->ins[c->p->nins - 1].k2 = r->nodes[n->c].num;
            return d;
        }
        b = comp_vec(c, n->b, lo);
        d = comp_vec(c, n->c, lo);
        return lo ? 0 : emit(c, V_BETWEEN, a, b, d, 0);
    case PT_R_IN: {
        a = comp_vec(c, n->a, lo);
        if (lo)
            return 0;
        const struct pt_rule_node *l = &r->nodes[n->b];
        int32_t acc = emit(c, V_CONST, 0, 0, 0, 0);
        for (int32_t k = 0; k < l->b; k++)
            acc = emit(c, V_OR, acc, emit(c, V_EQK, a, 0, 0, r->nodes[r->kids[l->a + k]].num), 0,
                       0);
        return acc;
    }
    default: {
        static const uint8_t map[] = {[PT_R_ADD] = V_ADD, [PT_R_SUB] = V_SUB, [PT_R_MUL] = V_MUL,
                                      [PT_R_DIV] = V_DIV, [PT_R_EQ] = V_EQ,   [PT_R_NE] = V_NE,
                                      [PT_R_LT] = V_LT,   [PT_R_LE] = V_LE,   [PT_R_GT] = V_GT,
                                      [PT_R_GE] = V_GE};
        a = comp_vec(c, n->a, lo);
        int op = map[n->op];
        if (op >= V_EQ && op <= V_GE && is_lit(r, n->b))
            return lo ? 0 : emit(c, (enum vop)(op - V_EQ + V_EQK), a, 0, 0, r->nodes[n->b].num);
        b = comp_vec(c, n->b, lo);
        return lo ? 0 : emit(c, (enum vop)op, a, b, 0, 0);
    }
    }
}

static int32_t comp_str(struct comp *c, int32_t i, int32_t attr, int32_t lit, int lo)
{
    const struct pt_rule *r = c->r;
    const struct pt_rule_node *n = &r->nodes[i];
    int32_t l = leaf_slot(c, L_STR, attr);
    if (c->rc)
        return 0;
    if (lit >= 0) {
        double k = lit_index(c, l, lit);
        return lo ? 0 : emit(c, n->op == PT_R_EQ ? V_EQK : V_NEK, l, 0, 0, k);
    }
    const struct pt_rule_node *list = &r->nodes[n->b];
    int32_t acc = lo ? 0 : emit(c, V_CONST, 0, 0, 0, 0);
    for (int32_t k = 0; k < list->b; k++) {
        double idx = lit_index(c, l, r->kids[list->a + k]);
        if (!lo)
            acc = emit(c, V_OR, acc, emit(c, V_EQK, l, 0, 0, idx), 0, 0);
    }
    return acc;
}

static int32_t comp(struct comp *c, int32_t i, int lo)
{
    const struct pt_rule_node *n = &c->r->nodes[i];
    int32_t a, b;
    switch ((enum pt_rule_op)n->op) {
    case PT_R_AND:
    case PT_R_OR:
        a = comp(c, n->a, lo);
        b = comp(c, n->b, lo);
        return lo ? 0 : emit(c, n->op == PT_R_AND ? V_AND : V_OR, a, b, 0, 0);
    case PT_R_NOT:
        a = comp(c, n->a, lo);
        return lo ? 0 : emit(c, V_NOT, a, 0, 0, 0);
    default:
        if (vec_ok(c->r, i)) {
            /* the truth of a number or boolean: a boolean that is 1 (comparisons
             * already give 0 or 1) */
            a = comp_vec(c, i, lo);
            int cmp = n->op >= PT_R_EQ && n->op <= PT_R_EXISTS;
            return lo || cmp ? a : emit(c, V_TRUTH, a, 0, 0, 0);
        }
        return leaf_slot(c, L_FALLBACK, i);
    }
}

void pt_seg_prog_free(struct pt_seg_prog *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->nleaf; i++) {
        pt_free(p->leaf[i].text);
        pt_free(p->leaf[i].lit);
        pt_free(p->leaf[i].llen);
    }
    pt_free(p->leaf);
    pt_free(p->ins);
    pt_free(p->first);
    pt_free(p->count);
    pt_free(p->result);
    pt_free(p);
}

int pt_seg_prog_new(const struct pt_rule *const *rules, size_t n, struct pt_seg_prog **out)
{
    *out = NULL;
    struct pt_seg_prog *p = pt_calloc(1, sizeof *p);
    if (p == NULL)
        return PT_ENOMEM;
    p->nrules = n;
    p->first = pt_calloc(n ? n : 1, sizeof *p->first);
    p->count = pt_calloc(n ? n : 1, sizeof *p->count);
    p->result = pt_calloc(n ? n : 1, sizeof *p->result);
    struct comp c = {.p = p};
    pt_buf_init(&c.key);
    if (!p->first || !p->count || !p->result)
        c.rc = PT_ENOMEM;
    for (size_t k = 0; k < n && c.rc == 0; k++) { /* pass 1: the leaves */
        c.r = rules[k];
        if (c.r->root >= 0)
            comp(&c, c.r->root, 1);
    }
    size_t slots = p->nleaf;
    for (size_t k = 0; k < n && c.rc == 0; k++) { /* pass 2: the code */
        c.r = rules[k];
        c.next_tmp = (int32_t)p->nleaf;
        p->first[k] = p->nins;
        p->result[k] = c.r->root >= 0 ? comp(&c, c.r->root, 0) : emit(&c, V_CONST, 0, 0, 0, 0);
        p->count[k] = p->nins - p->first[k];
        if ((size_t)c.next_tmp > slots)
            slots = (size_t)c.next_tmp;
    }
    pt_buf_release(&c.key);
    p->nslots = slots ? slots : 1;
    if (c.rc) {
        pt_seg_prog_free(p);
        return c.rc;
    }
    *out = p;
    return 0;
}

size_t pt_seg_prog_leaves(const struct pt_seg_prog *p)
{
    return p->nleaf;
}

/* ---- running ---- */

struct pt_seg_block *pt_seg_block_new(const struct pt_seg_prog *p)
{
    struct pt_seg_block *b = pt_calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->p = p;
    b->col = pt_alloc_array(p->nslots * PT_SEG_BLOCK, sizeof *b->col);
    if (b->col == NULL) {
        pt_free(b);
        return NULL;
    }
    return b;
}

void pt_seg_block_free(struct pt_seg_block *b)
{
    if (b == NULL)
        return;
    pt_free(b->col);
    pt_free(b);
}

void pt_seg_block_row(struct pt_seg_block *b, struct pt_seg_ctx *x, size_t i)
{
    const struct pt_seg_prog *p = b->p;
    struct pt_rule_env env = pt_seg_env(x);
    size_t na;
    const struct pt_rule_attr *ta = pt_rule_attrs(&na);
    const struct pt_rule_func *tf = pt_rule_funcs(&na);
    for (size_t l = 0; l < p->nleaf; l++) {
        const struct leaf *lf = &p->leaf[l];
        const struct pt_rule_node *n = &lf->r->nodes[lf->node];
        double v = NAN;
        if (lf->kind == L_ATTR) {
            struct pt_rule_value rv;
            memset(&rv, 0, sizeof rv);
            rv.type = (enum pt_rule_type)ta[n->id].type;
            if (env.attr(env.ctx, n->id, "", 0, &rv) == 0 && rv.present &&
                numeric_type(rv.type) && isfinite(rv.num))
                v = rv.num;
        } else if (lf->kind == L_STR) {
            struct pt_rule_value rv;
            memset(&rv, 0, sizeof rv);
            rv.type = PT_RT_STR;
            const char *key = n->slen ? lf->r->strs + n->str : "";
            if (env.attr(env.ctx, n->id, key, n->slen, &rv) == 0 && rv.present &&
                rv.type == PT_RT_STR) {
                v = -1;
                for (size_t k = 0; k < lf->nlit; k++)
                    if (lf->llen[k] == rv.slen && memcmp(lf->lit[k], rv.str, rv.slen) == 0) {
                        v = (double)k;
                        break;
                    }
            }
        } else if (lf->kind == L_CALL) {
            double x2 = NAN;
            int rc = env.call(env.ctx, lf->r, lf->node, &x2);
            if (tf[n->id].type == PT_RT_BOOL)
                v = rc == 0 && x2 != 0 && !isnan(x2) ? 1 : 0;
            else if (rc == 0 && isfinite(x2))
                v = x2;
        } else {
            int m = 0;
            pt_rule_eval_node(lf->r, lf->node, &env, &m);
            v = m ? 1 : 0;
        }
        b->col[l * PT_SEG_BLOCK + i] = v;
    }
}

/* The loops are simple enough to vectorize: ask for it at -O2 too. */
__attribute__((optimize("tree-vectorize"))) void
pt_seg_block_run(struct pt_seg_block *b, size_t m, void (*hit)(void *ctx, size_t rule, size_t row),
                 void *ctx)
{
    const struct pt_seg_prog *p = b->p;
    double *col = b->col;
#define S(s) (col + (size_t)(s) * PT_SEG_BLOCK)
    for (size_t k = 0; k < p->nrules; k++) {
        const struct vins *in = p->ins + p->first[k];
        for (size_t q = 0; q < p->count[k]; q++, in++) {
            double *restrict d = S(in->dst);
            const double *restrict x = S(in->a), *restrict y = S(in->b), *restrict z = S(in->c);
            size_t i;
            switch ((enum vop)in->op) {
            case V_CONST:
                for (i = 0; i < m; i++)
                    d[i] = in->k;
                break;
            /* arithmetic: a result that is not finite is missing */
#define ARITH(OP)                                                                                \
    for (i = 0; i < m; i++) {                                                                    \
        double r_ = x[i] OP y[i];                                                                \
        d[i] = isfinite(r_) ? r_ : NAN;                                                          \
    }                                                                                            \
    break;
            case V_ADD:
                ARITH(+)
            case V_SUB:
                ARITH(-)
            case V_MUL:
                ARITH(*)
            case V_DIV:
                ARITH(/)
#undef ARITH
            case V_NEG:
                for (i = 0; i < m; i++)
                    d[i] = -x[i];
                break;
            /* comparisons: false when either side is missing (NaN compares false,
             * but != must be spelt out) */
            case V_EQ:
                for (i = 0; i < m; i++)
                    d[i] = x[i] == y[i];
                break;
            case V_NE:
                for (i = 0; i < m; i++)
                    d[i] = (x[i] < y[i]) | (x[i] > y[i]);
                break;
            case V_LT:
                for (i = 0; i < m; i++)
                    d[i] = x[i] < y[i];
                break;
            case V_LE:
                for (i = 0; i < m; i++)
                    d[i] = x[i] <= y[i];
                break;
            case V_GT:
                for (i = 0; i < m; i++)
                    d[i] = x[i] > y[i];
                break;
            case V_GE:
                for (i = 0; i < m; i++)
                    d[i] = x[i] >= y[i];
                break;
            case V_BETWEEN:
                for (i = 0; i < m; i++)
                    d[i] = (x[i] >= y[i]) & (x[i] <= z[i]);
                break;
            case V_EQK:
                for (i = 0; i < m; i++)
                    d[i] = x[i] == in->k;
                break;
            case V_NEK:
                for (i = 0; i < m; i++)
                    d[i] = (x[i] < in->k) | (x[i] > in->k);
                break;
            case V_LTK:
                for (i = 0; i < m; i++)
                    d[i] = x[i] < in->k;
                break;
            case V_LEK:
                for (i = 0; i < m; i++)
                    d[i] = x[i] <= in->k;
                break;
            case V_GTK:
                for (i = 0; i < m; i++)
                    d[i] = x[i] > in->k;
                break;
            case V_GEK:
                for (i = 0; i < m; i++)
                    d[i] = x[i] >= in->k;
                break;
            case V_BETWEENK:
                for (i = 0; i < m; i++)
                    d[i] = (x[i] >= in->k) & (x[i] <= in->k2);
                break;
            case V_AND:
                for (i = 0; i < m; i++)
                    d[i] = (x[i] == 1) & (y[i] == 1);
                break;
            case V_OR:
                for (i = 0; i < m; i++)
                    d[i] = (x[i] == 1) | (y[i] == 1);
                break;
            case V_NOT:
                for (i = 0; i < m; i++)
                    d[i] = x[i] != 1;
                break;
            case V_EXISTS:
                for (i = 0; i < m; i++)
                    d[i] = !isnan(x[i]);
                break;
            case V_TRUTH:
                for (i = 0; i < m; i++)
                    d[i] = x[i] == 1;
                break;
            }
        }
        const double *res = S(p->result[k]);
        for (size_t i = 0; i < m; i++)
            if (res[i] == 1)
                hit(ctx, k, i);
    }
#undef S
}
