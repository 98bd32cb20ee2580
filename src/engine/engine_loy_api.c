/*
 * engine_loy_api.c - loyalty memory loaded from the store at start (and
 * after a rolled-back group), released at close, and the reads of engine.h
 * "loyalty": programme, member view, rewards, report.
 */
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"
#include "util/mem.h"
#include "util/timeutil.h"

#define DAY 86400

/* ---- load / release ---- */

static int load_prog(void *ctx, int64_t shop, const char *json, int64_t created, int64_t updated)
{
    struct pt_engine *g = ctx;
    struct loy_prog *x = pt_realloc_array(g->lprog, g->nlprog + 1, sizeof *x);
    if (x == NULL)
        return PT_ENOMEM;
    g->lprog = x;
    struct loy_prog *lp = &g->lprog[g->nlprog];
    memset(lp, 0, sizeof *lp);
    char field[160];
    struct pt_err pe;
    if (pt_loy_program_parse(json, strlen(json), &lp->p, field, &pe)) {
        fprintf(stderr,
                "patron: loyalty: the stored programme of shop %lld does not parse (%s: %s)\n",
                (long long)shop, field, pe.msg);
        return PT_EINVAL;
    }
    if ((lp->json = pt_strndup(json, strlen(json))) == NULL) {
        pt_loy_program_release(&lp->p);
        return PT_ENOMEM;
    }
    lp->shop = (uint32_t)shop;
    lp->created = created;
    lp->updated = updated;
    g->nlprog++;
    return 0;
}

static int load_member(void *ctx, const struct pt_loy_member_row *m)
{
    struct pt_engine *g = ctx;
    if (m->customer < 1)
        return 0;
    struct loy_acct *a = engine_loy_acct_new(g, (uint32_t)m->shop, (size_t)m->customer - 1);
    if (a == NULL)
        return PT_ENOMEM;
    a->tier = m->tier;
    a->tier_until = m->tier_until;
    a->joined = m->joined;
    a->referred_by = m->referred_by;
    snprintf(a->code, sizeof a->code, "%s", m->code ? m->code : "");
    engine_loy_note_due(g, a->tier_until);
    return 0;
}

static int load_entry(void *ctx, const struct pt_loy_entry *en)
{
    struct pt_engine *g = ctx;
    if (en->customer < 1)
        return 0;
    size_t row = (size_t)en->customer - 1;
    struct loy_acct *a = engine_loy_acct(g, row);
    if (a == NULL && (a = engine_loy_acct_new(g, (uint32_t)en->shop, row)) == NULL)
        return PT_ENOMEM;
    return engine_loy_apply(a, en);
}

static int load_reward(void *ctx, const struct pt_loy_reward_row *r)
{
    struct pt_engine *g = ctx;
    struct loy_reward *w = engine_loy_reward_new(g);
    if (w == NULL)
        return PT_ENOMEM;
    char field[64];
    struct pt_err pe;
    if (pt_loy_reward_parse(r->json, strlen(r->json), 0, &w->r, field, &pe)) {
        fprintf(stderr, "patron: loyalty: stored reward %lld does not parse (%s: %s)\n",
                (long long)r->id, field, pe.msg);
        return PT_EINVAL;
    }
    w->r.stock = r->stock;
    w->id = r->id;
    w->shop = (uint32_t)r->shop;
    w->active = r->active;
    w->created = r->created;
    w->updated = r->updated;
    g->nrewards++;
    return 0;
}

int engine_loy_pend_add(struct pt_engine *g, const struct pt_loy_referral_row *r)
{
    if (g->npend == g->cappend) {
        size_t nc = g->cappend ? g->cappend * 2 : 16;
        struct loy_pend *x = pt_realloc_array(g->pend, nc, sizeof *x);
        if (x == NULL)
            return PT_ENOMEM;
        g->pend = x;
        g->cappend = nc;
    }
    char *oid = pt_strndup(r->order_id ? r->order_id : "", r->order_id ? strlen(r->order_id) : 0);
    if (oid == NULL)
        return PT_ENOMEM;
    g->pend[g->npend++] = (struct loy_pend){.friend_row = (uint32_t)(r->friend_row - 1),
                                            .referrer = (uint32_t)(r->referrer - 1),
                                            .shop = (uint32_t)r->shop,
                                            .due = r->due,
                                            .order_id = oid};
    engine_loy_note_due(g, r->due);
    return 0;
}

static int load_pend(void *ctx, const struct pt_loy_referral_row *r)
{
    return engine_loy_pend_add(ctx, r);
}

struct loy_reward *engine_loy_reward_new(struct pt_engine *g)
{
    if (g->nrewards == g->caprewards) {
        size_t nc = g->caprewards ? g->caprewards * 2 : 16;
        struct loy_reward *x = pt_realloc_array(g->rewards, nc, sizeof *x);
        if (x == NULL)
            return NULL;
        g->rewards = x;
        g->caprewards = nc;
    }
    struct loy_reward *w = &g->rewards[g->nrewards];
    memset(w, 0, sizeof *w);
    return w;
}

void engine_loy_release(struct pt_engine *g)
{
    for (size_t i = 0; i < g->nlprog; i++) {
        pt_loy_program_release(&g->lprog[i].p);
        pt_free(g->lprog[i].json);
    }
    pt_free(g->lprog);
    for (size_t i = 0; i < g->naccts; i++) {
        pt_free(g->accts[i]->lots);
        pt_free(g->accts[i]->evc);
        pt_free(g->accts[i]);
    }
    pt_free(g->accts);
    pt_free(g->acct_of);
    for (size_t i = 0; i < g->nrewards; i++)
        pt_loy_reward_release(&g->rewards[i].r);
    pt_free(g->rewards);
    for (size_t i = 0; i < g->npend; i++)
        pt_free(g->pend[i].order_id);
    pt_free(g->pend);
    g->lprog = NULL;
    g->accts = NULL;
    g->acct_of = NULL;
    g->rewards = NULL;
    g->pend = NULL;
    g->nlprog = g->naccts = g->capaccts = g->acct_rows = 0;
    g->nrewards = g->caprewards = g->npend = g->cappend = 0;
    g->loy_next = 0;
}

int engine_loy_load(struct pt_engine *g, struct pt_err *e)
{
    engine_loy_release(g);
    int rc = pt_store_loy_programs(g->w, load_prog, g, e);
    if (rc == 0)
        rc = pt_store_loy_members(g->w, load_member, g, e);
    g->loy_bdays = 0; /* (read again by the first birthday round that needs them) */
    if (rc == 0)
        rc = pt_store_loy_entries(g->w, load_entry, g, e);
    if (rc == 0)
        rc = pt_store_loy_rewards(g->w, load_reward, g, e);
    if (rc == 0)
        rc = pt_store_loy_referrals(g->w, 1, load_pend, g, e);
    if (rc)
        return rc == PT_ENOMEM   ? pt_err_set(e, rc, "loyalty: out of memory")
               : rc == PT_EINVAL ? pt_err_set(e, PT_EIO, "loyalty: a stored definition is invalid")
                                 : rc;
    /* lots with an expiry, for the first tick */
    for (size_t i = 0; i < g->naccts; i++) {
        struct loy_acct *a = g->accts[i];
        for (uint32_t k = a->lot0; k < a->nlots; k++)
            if (a->lots[k].left > 0)
                engine_loy_note_due(g, a->lots[k].expires);
    }
    return 0;
}

/* ---- reads ---- */

int engine_loy_add_time(struct pt_buf *b, const char *key, int64_t t)
{
    char ts[24];
    if (t == 0)
        return pt_buf_printf(b, ",\"%s\":null", key);
    pt_format_utc(t, ts);
    return pt_buf_printf(b, ",\"%s\":\"%s\"", key, ts);
}

int pt_engine_loy_program(struct pt_engine *g, int64_t shop, struct pt_buf *out)
{
    pthread_rwlock_rdlock(&g->lock);
    struct loy_prog *lp = engine_loy_prog(g, (uint32_t)shop);
    int rc = lp ? pt_loy_program_json(&lp->p, out) : PT_ENOTFOUND;
    pthread_rwlock_unlock(&g->lock);
    return rc;
}

static int64_t user_root(struct pt_engine *g, int64_t shop, const char *user_id)
{
    int64_t r = pt_state_find(&g->st, (uint32_t)shop, 0, user_id, strlen(user_id));
    return r < 0 ? -1 : (int64_t)pt_state_root(&g->st, (size_t)r);
}

int pt_engine_loy_member_row(struct pt_engine *g, int64_t shop, const char *user_id, int64_t *row)
{
    pthread_rwlock_rdlock(&g->lock);
    int64_t r = user_root(g, shop, user_id);
    int rc = r >= 0 && engine_loy_acct(g, (size_t)r) ? 0 : PT_ENOTFOUND;
    *row = r + 1;
    pthread_rwlock_unlock(&g->lock);
    return rc;
}

int pt_engine_loy_user(struct pt_engine *g, int64_t row, struct pt_buf *out)
{
    pthread_rwlock_rdlock(&g->lock);
    int rc = PT_ENOTFOUND;
    if (row >= 1 && (size_t)row <= g->st.n && !(g->st.flags[row - 1] & ROW_ERASED)) {
        uint32_t len;
        const char *id = pt_state_id(&g->st, (size_t)row - 1, &len);
        rc = pt_buf_add_json_str(out, id, len);
    }
    pthread_rwlock_unlock(&g->lock);
    return rc;
}

static void print_link(const struct pt_loy_program *p, const char *code, struct pt_buf *out)
{
    const char *at = p->link ? strstr(p->link, "{code}") : NULL;
    if (at == NULL) {
        pt_buf_adds(out, code);
        return;
    }
    pt_buf_add(out, p->link, (size_t)(at - p->link));
    pt_buf_adds(out, code);
    pt_buf_adds(out, at + 6);
}

int pt_engine_loy_referral_link(struct pt_engine *g, int64_t shop, const char *user_id,
                                struct pt_buf *out)
{
    pthread_rwlock_rdlock(&g->lock);
    int64_t r = user_root(g, shop, user_id);
    struct loy_acct *a = r >= 0 ? engine_loy_acct(g, (size_t)r) : NULL;
    struct loy_prog *lp = engine_loy_prog(g, (uint32_t)shop);
    int rc = PT_ENOTFOUND;
    if (a && lp) {
        char code[PT_CODE_PRINT_MAX];
        pt_code_print(a->code, NULL, code);
        print_link(&lp->p, code, out);
        rc = 0;
    }
    pthread_rwlock_unlock(&g->lock);
    return rc;
}

void engine_loy_reward_json(struct pt_buf *b, const struct loy_reward *w)
{
    pt_buf_printf(b, "{\"id\":%lld,\"active\":%s,\"definition\":", (long long)w->id,
                  w->active ? "true" : "false");
    pt_loy_reward_json(&w->r, b);
    pt_buf_printf(b, ",\"stock\":");
    if (w->r.stock < 0)
        pt_buf_adds(b, "null");
    else
        pt_buf_add_i64(b, w->r.stock);
    engine_loy_add_time(b, "created", w->created);
    engine_loy_add_time(b, "updated", w->updated);
    pt_buf_addc(b, '}');
}

/* The tier index (0-based) of a level name, or -1. */
static int tier_index(const struct pt_loy_program *p, const char *name)
{
    for (size_t i = 0; name && i < p->ntiers; i++)
        if (strcmp(p->tiers[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Whether member a could redeem w now (points aside). */
static int reward_open(const struct pt_loy_program *p, const struct loy_reward *w,
                       const struct loy_acct *a, int64_t now)
{
    if (!w->active || w->r.stock == 0 || (w->r.valid_from && now < w->r.valid_from) ||
        (w->r.valid_to && now >= w->r.valid_to))
        return 0;
    if (w->r.min_tier) {
        int t = tier_index(p, w->r.min_tier);
        if (t < 0 || a == NULL || a->tier - 1 < t)
            return 0;
    }
    return 1;
}

int pt_engine_loy_member(struct pt_engine *g, int64_t shop, const char *user_id, struct pt_buf *out)
{
    int64_t now = engine_now(g);
    pthread_rwlock_rdlock(&g->lock);
    int64_t r = user_root(g, shop, user_id);
    struct loy_acct *a = r >= 0 ? engine_loy_acct(g, (size_t)r) : NULL;
    struct loy_prog *lp = engine_loy_prog(g, (uint32_t)shop);
    if (a == NULL || lp == NULL) {
        pthread_rwlock_unlock(&g->lock);
        return PT_ENOTFOUND;
    }
    const struct pt_loy_program *p = &lp->p;
    struct pt_buf *b = out;
    pt_buf_adds(b, "{\"user_id\":");
    pt_buf_add_json_str(b, user_id, strlen(user_id));
    engine_loy_add_time(b, "member_since", a->joined);
    pt_buf_printf(
        b, ",\"balance\":%lld,\"value\":{\"amount\":%lld,\"currency\":", (long long)a->balance,
        (long long)(a->balance > 0 ? a->balance * p->point_value : 0));
    if (p->currency[0])
        pt_buf_printf(b, "\"%s\"}", p->currency);
    else
        pt_buf_adds(b, "null}");
    pt_buf_printf(b, ",\"earned\":%lld,\"redeemed\":%lld,\"expired\":%lld", (long long)a->earned,
                  (long long)a->redeemed, (long long)a->expired);
    /* expiring soon: lots by expiry within 30 / 90 days */
    int64_t e30 = 0, e90 = 0, next_exp = 0, next_pts = 0;
    for (uint32_t k = a->lot0; k < a->nlots; k++) {
        const struct loy_lot *l = &a->lots[k];
        if (l->left <= 0 || l->expires == 0)
            continue;
        if (l->expires <= now + 30 * DAY)
            e30 += l->left;
        if (l->expires <= now + 90 * DAY)
            e90 += l->left;
        if (next_exp == 0 || l->expires < next_exp) {
            next_exp = l->expires;
            next_pts = 0;
        }
        if (l->expires == next_exp)
            next_pts += l->left;
    }
    pt_buf_printf(b,
                  ",\"expiring\":{\"within_30_days\":%lld,\"within_90_days\":%lld,"
                  "\"next\":",
                  (long long)e30, (long long)e90);
    if (next_exp) {
        pt_buf_printf(b, "{\"points\":%lld", (long long)next_pts);
        engine_loy_add_time(b, "on", next_exp);
        pt_buf_adds(b, "}}");
    } else {
        pt_buf_adds(b, "null}");
    }
    /* tier and progress */
    pt_buf_adds(b, ",\"tier\":");
    if (a->tier > 0 && (size_t)a->tier <= p->ntiers) {
        const struct pt_loy_tier *t = &p->tiers[a->tier - 1];
        pt_buf_adds(b, "{\"name\":");
        pt_buf_add_json_str(b, t->name, strlen(t->name));
        pt_buf_printf(b, ",\"multiplier\":%.15g,\"free_shipping\":%s",
                      (double)t->earn_milli / 1000.0, t->free_shipping ? "true" : "false");
        engine_loy_add_time(b, "review_on", a->tier_until);
        pt_buf_addc(b, '}');
    } else {
        pt_buf_adds(b, "null");
    }
    int64_t q = 0;
    struct pt_store *rd = pt_engine_reader(g);
    if (p->ntiers && rd) {
        int64_t since = now - p->tier_window_days * DAY;
        size_t rows[PT_STATE_MAX_TREE];
        int64_t ids[PT_STATE_MAX_TREE];
        size_t n = pt_state_tree(&g->st, a->row, rows, PT_STATE_MAX_TREE);
        if (n > PT_STATE_MAX_TREE)
            n = PT_STATE_MAX_TREE;
        for (size_t i = 0; i < n; i++)
            ids[i] = (int64_t)rows[i] + 1;
        if (p->tier_basis == PT_LOY_SPEND)
            pt_store_loy_spend(rd, ids, n, since, &q, NULL);
        else
            pt_store_loy_earned(rd, ids[0], since, &q, NULL);
    }
    pt_buf_printf(b, ",\"progress\":{\"basis\":\"%s\",\"qualifying\":%lld,\"next_tier\":",
                  p->tier_basis == PT_LOY_SPEND ? "spend" : "points", (long long)q);
    int nt = pt_loy_tier_for(p, q) + 1; /* next level above what q reaches */
    if (nt < a->tier)
        nt = a->tier;
    if ((size_t)nt < p->ntiers) {
        const struct pt_loy_tier *t = &p->tiers[nt];
        pt_buf_adds(b, "{\"name\":");
        pt_buf_add_json_str(b, t->name, strlen(t->name));
        pt_buf_printf(b, ",\"threshold\":%lld,\"remaining\":%lld}}", (long long)t->threshold,
                      (long long)(t->threshold - q > 0 ? t->threshold - q : 0));
    } else {
        pt_buf_adds(b, "null}");
    }
    /* rewards within reach */
    pt_buf_adds(b, ",\"rewards\":[");
    int first = 1;
    for (size_t i = 0; i < g->nrewards; i++) {
        const struct loy_reward *w = &g->rewards[i];
        if (w->shop != (uint32_t)shop || !reward_open(p, w, a, now) || w->r.cost > a->balance)
            continue;
        int64_t used = 0; /* a member's limit reached: not within reach */
        if (w->r.per_member > 0 && rd &&
            pt_store_loy_redeemed(rd, w->id, (int64_t)a->row + 1, &used, NULL) == 0 &&
            used >= w->r.per_member)
            continue;
        if (!first)
            pt_buf_addc(b, ',');
        first = 0;
        pt_buf_printf(b, "{\"id\":%lld,\"name\":", (long long)w->id);
        pt_buf_add_json_str(b, w->r.name, strlen(w->r.name));
        pt_buf_printf(b, ",\"cost\":%lld}", (long long)w->r.cost);
    }
    char code[PT_CODE_PRINT_MAX];
    pt_code_print(a->code, NULL, code);
    pt_buf_printf(b, "],\"referral\":{\"code\":\"%s\",\"link\":", code);
    struct pt_buf link;
    pt_buf_init(&link);
    print_link(p, code, &link);
    pt_buf_add_json_str(b, link.data ? link.data : "", link.len);
    pt_buf_release(&link);
    pt_buf_adds(b, ",\"referred_by\":");
    if (a->referred_by >= 1 && (size_t)a->referred_by <= g->st.n &&
        !(g->st.flags[a->referred_by - 1] & ROW_ERASED)) {
        uint32_t len;
        const char *rid = pt_state_id(&g->st, (size_t)a->referred_by - 1, &len);
        pt_buf_add_json_str(b, rid, len);
    } else {
        pt_buf_adds(b, "null");
    }
    int rc = pt_buf_adds(b, "}}");
    pthread_rwlock_unlock(&g->lock);
    return rc;
}

int pt_engine_loy_rewards(struct pt_engine *g, int64_t shop, int64_t id, struct pt_buf *out)
{
    pthread_rwlock_rdlock(&g->lock);
    int rc = id ? PT_ENOTFOUND : 0, first = 1;
    if (!id)
        pt_buf_adds(out, "{\"rewards\":[");
    for (size_t i = 0; i < g->nrewards; i++) {
        const struct loy_reward *w = &g->rewards[i];
        if (w->shop != (uint32_t)shop || (id && w->id != id))
            continue;
        if (!first)
            pt_buf_addc(out, ',');
        first = 0;
        engine_loy_reward_json(out, w);
        rc = 0;
    }
    if (!id)
        rc = pt_buf_adds(out, "]}");
    pthread_rwlock_unlock(&g->lock);
    return rc;
}

static int add_month(void *ctx, const struct pt_loy_month *m)
{
    struct pt_buf *b = ctx;
    if (b->data[b->len - 1] == '}')
        pt_buf_addc(b, ',');
    return pt_buf_printf(b,
                         "{\"month\":\"%04d-%02d\",\"earned\":%lld,\"redeemed\":%lld,"
                         "\"expired\":%lld,\"adjusted\":%lld,\"reversed\":%lld}",
                         m->month / 100, m->month % 100, (long long)m->earned,
                         (long long)m->redeemed, (long long)m->expired, (long long)m->adjusted,
                         (long long)m->reversed);
}

int pt_engine_loy_report(struct pt_engine *g, int64_t shop, int top, struct pt_buf *out)
{
    if (top < 0)
        top = 0;
    if (top > 1000)
        top = 1000;
    size_t *best = pt_calloc((size_t)top + 1, sizeof *best);
    if (best == NULL)
        return PT_ENOMEM;
    pthread_rwlock_rdlock(&g->lock);
    struct loy_prog *lp = engine_loy_prog(g, (uint32_t)shop);
    if (lp == NULL) {
        pthread_rwlock_unlock(&g->lock);
        pt_free(best);
        return PT_ENOTFOUND;
    }
    int64_t members = 0, outstanding = 0, debt = 0, earned = 0, redeemed = 0, expired = 0,
            issued = 0;
    size_t nb = 0;
    for (size_t i = 0; i < g->naccts; i++) {
        const struct loy_acct *a = g->accts[i];
        if (a->row == UINT32_MAX || a->shop != (uint32_t)shop)
            continue;
        members++;
        if (a->balance > 0)
            outstanding += a->balance;
        else
            debt -= a->balance;
        earned += a->earned;
        issued += a->issued;
        redeemed += a->redeemed;
        expired += a->expired;
        /* insertion into the top list (balance descending, row ascending) */
        size_t k = nb < (size_t)top ? nb++ : (size_t)top;
        while (k > 0 && g->accts[best[k - 1]]->balance < a->balance) {
            if (k < (size_t)top)
                best[k] = best[k - 1];
            k--;
        }
        if (k < (size_t)top)
            best[k] = i;
    }
    struct pt_buf *b = out;
    pt_buf_printf(b,
                  "{\"members\":%lld,\"liability\":{\"points\":%lld,\"value\":{\"amount\":%lld,"
                  "\"currency\":",
                  (long long)members, (long long)outstanding,
                  (long long)(outstanding * lp->p.point_value));
    if (lp->p.currency[0])
        pt_buf_printf(b, "\"%s\"}", lp->p.currency);
    else
        pt_buf_adds(b, "null}");
    /* redemption rate: the share of issued points (earned, granted, imported)
     * that members have redeemed */
    pt_buf_printf(b,
                  ",\"debt\":%lld},\"issued\":%lld,\"earned\":%lld,\"redeemed\":%lld,"
                  "\"expired\":%lld,\"redemption_rate\":%.4f,\"top\":[",
                  (long long)debt, (long long)issued, (long long)earned, (long long)redeemed,
                  (long long)expired, issued > 0 ? (double)redeemed / (double)issued : 0.0);
    for (size_t k = 0; k < nb; k++) {
        const struct loy_acct *a = g->accts[best[k]];
        uint32_t len;
        const char *id = pt_state_id(&g->st, a->row, &len);
        pt_buf_adds(b, k ? ",{\"user_id\":" : "{\"user_id\":");
        pt_buf_add_json_str(b, id, len);
        pt_buf_printf(b, ",\"balance\":%lld,\"earned\":%lld,\"tier\":", (long long)a->balance,
                      (long long)a->earned);
        if (a->tier > 0 && (size_t)a->tier <= lp->p.ntiers)
            pt_buf_add_json_str(b, lp->p.tiers[a->tier - 1].name,
                                strlen(lp->p.tiers[a->tier - 1].name));
        else
            pt_buf_adds(b, "null");
        pt_buf_addc(b, '}');
    }
    /* sales of members and of everyone else (descriptive, not causal: a
     * campaign's uplift is measured against a control group) */
    struct {
        int64_t buyers, orders, net;
    } side[2] = {{0, 0, 0}, {0, 0, 0}};
    const struct pt_state *st = &g->st;
    for (size_t r = 0; r < st->n; r++) {
        if (st->shop[r] != (uint32_t)shop || st->parent[r] || !(st->flags[r] & ROW_PRESENT) ||
            (st->flags[r] & ROW_ERASED))
            continue;
        struct pt_agg ag;
        pt_state_agg(st, r, &ag);
        if (ag.orders == 0)
            continue;
        int m = engine_loy_acct(g, r) != NULL;
        side[m].buyers++;
        side[m].orders += ag.orders;
        side[m].net += ag.revenue - ag.refunded;
    }
    pt_buf_adds(b, "],\"sales\":{");
    for (int m = 1; m >= 0; m--) {
        pt_buf_printf(b,
                      "\"%s\":{\"customers\":%lld,\"orders\":%lld,\"net_revenue\":%lld,"
                      "\"orders_per_customer\":%.3f,\"average_order_value\":%lld}%s",
                      m ? "members" : "non_members", (long long)side[m].buyers,
                      (long long)side[m].orders, (long long)side[m].net,
                      side[m].buyers ? (double)side[m].orders / (double)side[m].buyers : 0.0,
                      (long long)(side[m].orders ? side[m].net / side[m].orders : 0),
                      m ? "," : "}");
    }
    pthread_rwlock_unlock(&g->lock);
    pt_free(best);
    pt_buf_adds(b, ",\"months\":[");
    struct pt_store *rd = pt_engine_reader(g);
    struct pt_err e;
    int rc = rd ? pt_store_loy_monthly(rd, shop, add_month, b, &e) : PT_EIO;
    if (rc == 0)
        rc = pt_buf_adds(b, "]}");
    return rc;
}

int64_t pt_engine_clock(struct pt_engine *g)
{
    return engine_now(g);
}
