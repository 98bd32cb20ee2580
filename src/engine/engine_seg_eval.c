/*
 * engine_seg_eval.c - what segments read of the engine: every identity's
 * activity (a chain of struct pt_act per row, newest first, in one array),
 * the subject of a profile, and the evaluation of rules over a whole shop
 * (two threads; see docs/segments.md, "How membership stays exact").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "segment/colev.h"
#include "util/mem.h"
#include "util/par.h"

static int grow_heads(struct pt_engine *g, size_t rows)
{
    if (rows <= g->act_rows)
        return 0;
    size_t nc = g->act_rows ? g->act_rows : 1024;
    while (nc < rows)
        nc *= 2;
    uint32_t *h = pt_realloc_array(g->act_head, nc, sizeof *h);
    if (h == NULL)
        return PT_ENOMEM;
    memset(h + g->act_rows, 0, (nc - g->act_rows) * sizeof *h);
    g->act_head = h;
    g->act_rows = nc;
    return 0;
}

static int push_act(struct pt_engine *g, size_t row, const struct pt_act *a)
{
    if (grow_heads(g, row + 1))
        return PT_ENOMEM;
    if (g->nacts == g->capacts) {
        if (g->capacts >= UINT32_MAX - 1)
            return PT_EOVERFLOW;
        size_t nc = g->capacts ? g->capacts * 2 : 4096;
        if (nc > UINT32_MAX - 1)
            nc = UINT32_MAX - 1;
        struct pt_act *x = pt_realloc_array(g->acts, nc, sizeof *x);
        if (x == NULL)
            return PT_ENOMEM;
        g->acts = x;
        uint32_t *y = pt_realloc_array(g->act_next, nc, sizeof *y);
        if (y == NULL)
            return PT_ENOMEM;
        g->act_next = y;
        g->capacts = nc;
    }
    g->acts[g->nacts] = *a;
    g->act_next[g->nacts] = g->act_head[row];
    g->act_head[row] = (uint32_t)++g->nacts;
    return 0;
}

static uint32_t intern(struct pt_engine *g, const char *s)
{
    return s && *s ? pt_dict_intern(&g->dict, s, strlen(s)) : 0;
}

static int add_line(struct pt_engine *g, size_t row, int64_t t, int kind, const char *prod,
                    const char *cat, int64_t qty, uint32_t grp, int64_t seq)
{
    struct pt_act a = {.t = t,
                       .name = intern(g, pt_ev_kind_name((enum pt_ev_kind)kind)),
                       .cat = intern(g, cat),
                       .prod = intern(g, prod),
                       .qty = qty > 0 && qty < UINT32_MAX ? (uint32_t)qty : 1,
                       .grp = grp,
                       .seq = seq,
                       .kind = (uint8_t)kind,
                       .flags = PT_ACT_LINE};
    return push_act(g, row, &a);
}

int engine_act_add(struct pt_engine *g, size_t row, const struct pt_event *ev, int64_t seq)
{
    if (ev->type != PT_EV_TRACK || ev->name == NULL)
        return 0;
    struct pt_act a = {.t = ev->t, .name = intern(g, ev->name), .kind = (uint8_t)ev->kind,
                       .qty = 1, .seq = seq};
    if (ev->kind == PT_K_ORDER_COMPLETED) {
        a.grp = ++g->order_grp;
        a.flags = ev->discounted ? PT_ACT_DISCOUNT : 0;
        int rc = push_act(g, row, &a);
        for (uint32_t i = 0; rc == 0 && i < ev->nlines; i++) {
            const struct pt_evline *l = &ev->lines[i];
            rc = add_line(g, row, ev->t, ev->kind, l->product_id ? l->product_id : l->sku,
                          l->category, l->quantity, a.grp, seq);
        }
        return rc;
    }
    if (ev->nlines >= 1) {
        const struct pt_evline *l = &ev->lines[0];
        a.prod = intern(g, l->product_id ? l->product_id : l->sku);
        a.cat = intern(g, l->category);
        a.qty = l->quantity > 0 && l->quantity < UINT32_MAX ? (uint32_t)l->quantity : 1;
    }
    return push_act(g, row, &a);
}

static int load_act(void *ctx, const struct pt_act_row *r)
{
    struct pt_engine *g = ctx;
    if (r->customer < 1)
        return 0;
    size_t row = (size_t)r->customer - 1;
    if (r->line)
        return add_line(g, row, r->t, r->kind, r->product, r->category, r->qty, g->order_grp,
                        r->seq);
    struct pt_act a = {.t = r->t,
                       .name = intern(g, r->name ? r->name
                                                 : pt_ev_kind_name((enum pt_ev_kind)r->kind)),
                       .cat = intern(g, r->category),
                       .prod = intern(g, r->product),
                       .qty = r->qty > 0 && r->qty < UINT32_MAX ? (uint32_t)r->qty : 1,
                       .kind = (uint8_t)r->kind,
                       .seq = r->seq};
    if (r->kind == PT_K_ORDER_COMPLETED) {
        a.grp = ++g->order_grp;
        a.flags = r->discounted ? PT_ACT_DISCOUNT : 0;
    }
    return push_act(g, row, &a);
}

void engine_acts_release(struct pt_engine *g)
{
    pt_free(g->acts);
    pt_free(g->act_next);
    pt_free(g->act_head);
    g->acts = NULL;
    g->act_next = g->act_head = NULL;
    g->nacts = g->capacts = g->act_rows = 0;
    g->order_grp = 0;
    pt_dict_release(&g->dict);
    pt_dict_init(&g->dict);
}

int engine_acts_load(struct pt_engine *g, struct pt_err *e)
{
    engine_acts_release(g);
    return pt_store_load_acts(g->w, load_act, g, e);
}

/* The activity of profile p into r->buf (grown), *n its length. */
static int gather(struct pt_engine *g, const struct pt_profile *p, struct seg_row *r, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < p->nrows; i++) {
        size_t row = (size_t)p->rows[i] - 1;
        for (uint32_t k = row < g->act_rows ? g->act_head[row] : 0; k; k = g->act_next[k - 1]) {
            if (*n == r->cap) {
                size_t nc = r->cap ? r->cap * 2 : 64;
                struct pt_act *x = pt_realloc_array(r->buf, nc, sizeof *x);
                if (x == NULL)
                    return PT_ENOMEM;
                r->buf = x;
                r->cap = nc;
            }
            r->buf[(*n)++] = g->acts[k - 1];
        }
    }
    return 0;
}

static int fetch_traits(void *ctx, struct pt_buf *out)
{
    struct seg_row *r = ctx;
    struct pt_err e;
    return r->store ? pt_store_traits_json(r->store, r->p->rows, r->p->nrows, out, &e) : 0;
}

static int fetch_event(void *ctx, int64_t seq, struct pt_buf *out)
{
    struct seg_row *r = ctx;
    struct pt_err e;
    return r->store ? pt_store_event_body(r->store, seq, out, &e) : PT_ENOTFOUND;
}

int engine_seg_row_init(struct seg_row *r)
{
    memset(r, 0, sizeof *r);
    r->x = pt_seg_ctx_new();
    r->p = pt_malloc(sizeof *r->p);
    return r->x && r->p ? 0 : PT_ENOMEM;
}

void engine_seg_row_release(struct seg_row *r)
{
    pt_seg_ctx_free(r->x);
    pt_free(r->p);
    pt_free(r->buf);
    pt_free(r->lots);
    memset(r, 0, sizeof *r);
}

int engine_seg_row(struct pt_engine *g, struct seg_row *r, uint32_t shop, size_t row,
                   int64_t now, unsigned flags, struct pt_store *store)
{
    const struct pt_profile *p = r->p;
    size_t nacts;
    int rc = engine_fill(g, shop, row, now, flags, r->p);
    if (rc || (rc = gather(g, p, r, &nacts)))
        return rc;
    r->store = store;
    r->s = (struct pt_seg_subject){
        .now = p->now, .anonymous = p->anonymous, .orders = p->orders, .first_t = p->first_t,
        .last_t = p->last_t, .revenue = p->revenue, .refunded = p->refunded,
        .cart_value = p->cart_value, .cart_since = p->cart_since, .cart_t = p->cart_t,
        .consent = p->consent, .consent_set = p->consent_set, .has_rfm = p->has_rfm,
        .r = p->r, .f = p->f, .m = p->m, .seg = p->seg, .has_clv = p->has_clv,
        .p_alive = p->clv_p_alive, .exp90 = p->clv_exp90, .exp365 = p->clv_exp365,
        .value365 = p->clv_value365, .aov = p->clv_aov, .next_t = p->clv_next_t,
        .acts = r->buf, .nacts = nacts, .dict = &g->dict, .traits = fetch_traits, .tctx = r,
        .event_json = fetch_event};
    const struct loy_acct *la = engine_loy_acct(g, row);
    if (la) { /* a member: points and tier (docs/loyalty.md) */
        const struct loy_prog *lp = engine_loy_prog(g, shop);
        r->s.has_points = 1;
        r->s.points = la->balance;
        if (lp && la->tier > 0 && (size_t)la->tier <= lp->p.ntiers)
            r->s.tier = lp->p.tiers[la->tier - 1].name;
        /* the lots with an expiry (points_expiring) */
        size_t n = 0;
        for (uint32_t k = la->lot0; k < la->nlots; k++)
            n += la->lots[k].left > 0 && la->lots[k].expires > 0;
        if (n > r->caplots) {
            int64_t *x = pt_realloc_array(r->lots, n * 2, sizeof *x);
            if (x == NULL)
                return PT_ENOMEM;
            r->lots = x;
            r->caplots = n;
        }
        for (uint32_t k = la->lot0, i = 0; k < la->nlots; k++)
            if (la->lots[k].left > 0 && la->lots[k].expires > 0) {
                r->lots[i] = la->lots[k].expires;
                r->lots[n + i++] = la->lots[k].left;
            }
        r->s.lot_exp = r->lots;
        r->s.lot_pts = r->lots + n;
        r->s.nlots = n;
    }
    pt_seg_ctx_set(r->x, &r->s);
    return 0;
}

unsigned engine_seg_fill_flags(const struct pt_seg_time *t)
{
    return ((t->uses & PT_SEG_T_RFM) ? ENGINE_FILL_RFM : 0u) |
           ((t->uses & PT_SEG_T_CLV) ? ENGINE_FILL_CLV : 0u);
}

/* ---- a whole shop, on two threads ---- */

struct part {
    uint32_t **hits; /* per rule: matching roots */
    size_t *nhit, *caphit;
    int rc;
};

struct eval_all {
    struct pt_engine *g;
    uint32_t shop;
    const struct pt_rule *const *rules;
    const struct pt_seg_prog *prog;
    size_t n;
    int64_t now;
    const struct pt_seg_time *t;
    struct pt_store *traits;
    int64_t *next;
    unsigned flags;
    struct part parts[PT_PAR_PARTS];
};

static int add_hit(struct part *p, size_t k, uint32_t row)
{
    if (p->nhit[k] == p->caphit[k]) {
        size_t nc = p->caphit[k] ? p->caphit[k] * 2 : 256;
        uint32_t *x = pt_realloc_array(p->hits[k], nc, sizeof *x);
        if (x == NULL)
            return PT_ENOMEM;
        p->hits[k] = x;
        p->caphit[k] = nc;
    }
    p->hits[k][p->nhit[k]++] = row;
    return 0;
}

struct block_hits {
    struct part *pt;
    const uint32_t *rows;
};

static void on_hit(void *ctx, size_t rule, size_t i)
{
    struct block_hits *h = ctx;
    if (h->pt->rc == 0)
        h->pt->rc = add_hit(h->pt, rule, h->rows[i]);
}

static void eval_part(void *arg, int part, size_t lo, size_t hi)
{
    struct eval_all *a = arg;
    struct pt_engine *g = a->g;
    const struct pt_state *st = &g->st;
    struct part *pt = &a->parts[part];
    struct seg_row r;
    struct pt_seg_block *blk = pt_seg_block_new(a->prog);
    uint32_t *rows = pt_alloc_array(PT_SEG_BLOCK, sizeof *rows);
    size_t m = 0;
    struct block_hits bh = {pt, rows};
    if (engine_seg_row_init(&r) || blk == NULL || rows == NULL) {
        pt->rc = PT_ENOMEM;
        goto out;
    }
    for (size_t row = lo; row < hi && pt->rc == 0; row++) {
        if ((st->flags[row] & (ROW_PRESENT | ROW_ERASED)) != ROW_PRESENT || st->parent[row] ||
            st->shop[row] != a->shop)
            continue;
        int rc = engine_seg_row(g, &r, a->shop, row, a->now, a->flags, a->traits);
        if (rc) {
            if (rc == PT_ENOMEM)
                pt->rc = rc;
            continue;
        }
        pt_seg_block_row(blk, r.x, m);
        rows[m++] = (uint32_t)row;
        if (a->next)
            a->next[row] = pt_seg_next_change(r.x, a->t);
        if (m == PT_SEG_BLOCK) {
            pt_seg_block_run(blk, m, on_hit, &bh);
            m = 0;
        }
    }
    if (m && pt->rc == 0)
        pt_seg_block_run(blk, m, on_hit, &bh);
out:
    engine_seg_row_release(&r);
    pt_free(rows);
    pt_seg_block_free(blk);
}

int engine_seg_eval_all(struct pt_engine *g, uint32_t shop, const struct pt_rule *const *rules,
                        size_t n, int64_t now, const struct pt_seg_time *t,
                        struct pt_store *traits, roaring_bitmap_t **out, int64_t *next)
{
    struct eval_all a = {.g = g, .shop = shop, .rules = rules, .n = n, .now = now, .t = t,
                         .traits = traits, .next = next, .flags = engine_seg_fill_flags(t)};
    struct pt_seg_prog *prog = NULL;
    int rc = pt_seg_prog_new(rules, n, &prog);
    a.prog = prog;
    for (int i = 0; i < PT_PAR_PARTS && rc == 0; i++) {
        struct part *p = &a.parts[i];
        p->hits = pt_calloc(n ? n : 1, sizeof *p->hits);
        p->nhit = pt_calloc(n ? n : 1, sizeof *p->nhit);
        p->caphit = pt_calloc(n ? n : 1, sizeof *p->caphit);
        if (!p->hits || !p->nhit || !p->caphit)
            rc = PT_ENOMEM;
    }
    if (rc == 0) {
        if (t->uses & (PT_SEG_T_TRAITS | PT_SEG_T_PROPS)) /* one connection: one thread */
            eval_part(&a, 0, 0, g->st.n);
        else
            pt_parallel(g->st.n, eval_part, &a);
        rc = a.parts[0].rc ? a.parts[0].rc : a.parts[1].rc;
    }
    for (size_t k = 0; k < n; k++) {
        out[k] = rc ? NULL : roaring_bitmap_create();
        if (out[k] == NULL) {
            rc = PT_ENOMEM;
            continue;
        }
        for (int i = 0; i < PT_PAR_PARTS; i++)
            roaring_bitmap_add_many(out[k], a.parts[i].nhit[k], a.parts[i].hits[k]);
        roaring_bitmap_run_optimize(out[k]);
    }
    for (int i = 0; i < PT_PAR_PARTS; i++) {
        for (size_t k = 0; k < n && a.parts[i].hits; k++)
            pt_free(a.parts[i].hits[k]);
        pt_free(a.parts[i].hits);
        pt_free(a.parts[i].nhit);
        pt_free(a.parts[i].caphit);
    }
    pt_seg_prog_free(prog);
    if (rc)
        for (size_t k = 0; k < n; k++)
            if (out[k]) {
                roaring_bitmap_free(out[k]);
                out[k] = NULL;
            }
    return rc;
}
