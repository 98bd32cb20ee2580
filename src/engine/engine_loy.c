/*
 * engine_loy.c - the loyalty ledger in memory (docs/loyalty.md): member
 * accounts rebuilt from the store's append-only entries at start, every new
 * entry written and applied in the group's transaction, and the hooks a group
 * runs: purchase points and bonuses on an order, reversals on a refund,
 * behaviour points on a track event, and the clock's work (expiry of lots,
 * tier reviews, referral rewards once the return window has passed).
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"
#include "util/mem.h"
#include "util/timeutil.h"

#define DAY 86400

/* t plus `months` calendar months (the day clamped to the month's length). */
int64_t engine_loy_add_months(int64_t t, int64_t months)
{
    int64_t days = pt_floor_div(t, DAY), y;
    int m, d;
    pt_civil_from_days(days, &y, &m, &d);
    int64_t mm = (int64_t)(m - 1) + months;
    y += pt_floor_div(mm, 12);
    m = (int)(mm - pt_floor_div(mm, 12) * 12) + 1;
    int dim = pt_days_in_month(y, m);
    if (d > dim)
        d = dim;
    return pt_days_from_civil(y, m, d) * DAY + (t - days * DAY);
}

struct loy_prog *engine_loy_prog(struct pt_engine *g, uint32_t shop)
{
    for (size_t i = 0; i < g->nlprog; i++)
        if (g->lprog[i].shop == shop)
            return &g->lprog[i];
    return NULL;
}

struct loy_acct *engine_loy_acct(struct pt_engine *g, size_t row)
{
    if (row >= g->acct_rows || g->acct_of[row] == 0)
        return NULL;
    return g->accts[g->acct_of[row] - 1];
}

void engine_loy_note_due(struct pt_engine *g, int64_t t)
{
    if (t > 0 && (g->loy_next == 0 || t < g->loy_next))
        g->loy_next = t;
}

struct loy_acct *engine_loy_acct_new(struct pt_engine *g, uint32_t shop, size_t row)
{
    if (row >= UINT32_MAX)
        return NULL;
    if (row >= g->acct_rows) {
        size_t nr = g->acct_rows ? g->acct_rows : 1024;
        while (nr <= row)
            nr *= 2;
        uint32_t *x = pt_realloc_array(g->acct_of, nr, sizeof *x);
        if (x == NULL)
            return NULL;
        memset(x + g->acct_rows, 0, (nr - g->acct_rows) * sizeof *x);
        g->acct_of = x;
        g->acct_rows = nr;
    }
    if (g->naccts == g->capaccts) {
        size_t nc = g->capaccts ? g->capaccts * 2 : 256;
        struct loy_acct **x = pt_realloc_array(g->accts, nc, sizeof *x);
        if (x == NULL)
            return NULL;
        g->accts = x;
        g->capaccts = nc;
    }
    struct loy_acct *a = pt_calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->row = (uint32_t)row;
    a->shop = shop;
    g->accts[g->naccts++] = a;
    g->acct_of[row] = (uint32_t)g->naccts;
    return a;
}

int engine_loy_save_member(struct pt_engine *g, struct loy_acct *a, struct pt_err *e)
{
    struct pt_loy_member_row m = {.customer = (int64_t)a->row + 1,
                                  .shop = a->shop,
                                  .tier = a->tier,
                                  .tier_until = a->tier_until,
                                  .joined = a->joined,
                                  .code = a->code,
                                  .referred_by = a->referred_by};
    return pt_store_loy_member_put(g->w, &m, e);
}

int engine_loy_member(struct pt_engine *g, uint32_t shop, size_t row, int64_t now,
                      struct loy_acct **out, struct pt_err *e)
{
    struct loy_acct *a = engine_loy_acct(g, row);
    if (a == NULL) {
        if ((a = engine_loy_acct_new(g, shop, row)) == NULL)
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        a->joined = now;
        pt_code_new(a->code);
        int rc = engine_loy_bday_read(g, a, e);
        if (rc == 0)
            rc = engine_loy_save_member(g, a, e);
        if (rc)
            return rc;
    }
    *out = a;
    return 0;
}

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static struct loy_evc *evc_find(struct loy_acct *a, uint32_t h)
{
    for (uint32_t i = 0; i < a->nevc; i++)
        if (a->evc[i].hash == h)
            return &a->evc[i];
    return NULL;
}

static int lot_push(struct loy_acct *a, int64_t expires, int64_t left, int64_t entry)
{
    if (a->nlots == a->caplots) {
        if (a->lot0 > 0) { /* drop the used-up lots at the front */
            memmove(a->lots, a->lots + a->lot0, (a->nlots - a->lot0) * sizeof *a->lots);
            a->nlots -= a->lot0;
            a->lot0 = 0;
        }
        if (a->nlots == a->caplots) {
            uint32_t nc = a->caplots ? a->caplots * 2 : 4;
            struct loy_lot *x = pt_realloc_array(a->lots, nc, sizeof *x);
            if (x == NULL)
                return PT_ENOMEM;
            a->lots = x;
            a->caplots = nc;
        }
    }
    a->lots[a->nlots++] = (struct loy_lot){.expires = expires, .left = left, .entry = entry};
    return 0;
}

/* Take n points from the lots, oldest first; lot `only` (> 0) alone if given. */
static void lots_take(struct loy_acct *a, int64_t n, int64_t only)
{
    for (uint32_t i = a->lot0; i < a->nlots && n > 0; i++) {
        struct loy_lot *l = &a->lots[i];
        if (only > 0 && l->entry != only)
            continue;
        int64_t k = l->left < n ? l->left : n;
        l->left -= k;
        n -= k;
    }
    while (a->lot0 < a->nlots && a->lots[a->lot0].left == 0)
        a->lot0++;
}

int engine_loy_apply(struct loy_acct *a, const struct pt_loy_entry *en)
{
    int64_t p = en->points;
    const char *reason = en->reason ? en->reason : "";
    if (p > 0) {
        int64_t add = p;
        if (a->balance < 0) /* a recorded debt is paid first */
            add -= -a->balance < p ? -a->balance : p;
        if (add > 0 && lot_push(a, en->expires, add, en->id))
            return PT_ENOMEM;
    } else if (p < 0) {
        int64_t only = 0;
        if (en->kind == PT_LOY_EXPIRE && en->ref)
            only = strtoll(en->ref, NULL, 10);
        int64_t have = a->balance > 0 ? a->balance : 0;
        lots_take(a, -p < have ? -p : have, only);
    }
    a->balance += p;
    if (p > 0 && (en->kind == PT_LOY_EARN || en->kind == PT_LOY_ADJUST))
        a->issued += p;
    if (en->kind == PT_LOY_EARN)
        a->earned += p;
    else if (en->kind == PT_LOY_REDEEM)
        a->redeemed -= p;
    else if (en->kind == PT_LOY_EXPIRE)
        a->expired -= p;
    int capped = strcmp(reason, "purchase") == 0 || strncmp(reason, "event:", 6) == 0;
    int64_t day = pt_floor_div(en->t, DAY);
    /* the latest day's capped earnings (a late event of an earlier day is
     * counted from the store by day_used) */
    if (en->kind == PT_LOY_EARN && capped && day >= a->day) {
        if (day != a->day) {
            a->day = day;
            a->day_points = 0;
        }
        a->day_points += p;
    }
    if (en->kind == PT_LOY_EARN && strncmp(reason, "event:", 6) == 0) {
        uint32_t h = name_hash(reason + 6);
        struct loy_evc *c = evc_find(a, h);
        if (c == NULL) {
            struct loy_evc *x = pt_realloc_array(a->evc, a->nevc + 1, sizeof *x);
            if (x == NULL)
                return PT_ENOMEM;
            a->evc = x;
            c = &a->evc[a->nevc++];
            *c = (struct loy_evc){.hash = h, .day = day};
        }
        c->total++;
        if (day > c->day) {
            c->day = day;
            c->nday = 0;
        }
        if (day == c->day)
            c->nday++;
    }
    if (strcmp(reason, "bonus:intensify") == 0 && en->t > a->last_intensify)
        a->last_intensify = en->t;
    return 0;
}

int engine_loy_entry(struct pt_engine *g, struct loy_acct *a, int kind, int64_t points, int64_t t,
                     int64_t amount, const char *reason, const char *ref, const char *idem,
                     int64_t *id, int *dup, struct pt_err *e)
{
    struct loy_prog *lp = engine_loy_prog(g, a->shop);
    struct pt_loy_entry en = {.shop = a->shop,
                              .customer = (int64_t)a->row + 1,
                              .kind = kind,
                              .points = points,
                              .t = t,
                              .amount = amount,
                              .reason = reason,
                              .ref = ref,
                              .idem = idem};
    if (points > 0 && (kind == PT_LOY_EARN || kind == PT_LOY_ADJUST) && lp &&
        lp->p.expiry_months > 0)
        en.expires = engine_loy_add_months(t, lp->p.expiry_months);
    int d = 0;
    int rc = pt_store_loy_entry(g->w, &en, &en.id, &d, e);
    if (dup)
        *dup = d;
    if (rc || d)
        return rc;
    if (id)
        *id = en.id;
    if (engine_loy_apply(a, &en))
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    engine_loy_note_due(g, en.expires);
    engine_auto_touch(g, a->row); /* (points and lots changed: time triggers look again) */
    if (engine_seg_mark(g, a->row))
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    return 0;
}

/* ---- tiers ---- */

/* When a tier set now is reviewed: review_months later (0: the next day). */
static int64_t review_date(const struct loy_prog *lp, int64_t now)
{
    return lp->p.tier_review_months > 0 ? engine_loy_add_months(now, lp->p.tier_review_months)
                                        : now + DAY;
}

int engine_loy_tier_check(struct pt_engine *g, struct loy_acct *a, int64_t now, int review,
                          struct pt_err *e)
{
    struct loy_prog *lp = engine_loy_prog(g, a->shop);
    if (lp == NULL || lp->p.ntiers == 0) {
        if (review && a->tier_until) { /* the tiers are gone: nothing to review */
            a->tier_until = 0;
            return engine_loy_save_member(g, a, e);
        }
        return 0;
    }
    int64_t since = now - lp->p.tier_window_days * DAY, q = 0;
    int rc;
    if (!review) {
        /* no upgrade can come if the lifetime value (which bounds the window's)
         * is below the next level, or there is none: no query then */
        if ((size_t)a->tier >= lp->p.ntiers)
            return 0;
        int64_t bound = a->earned;
        if (lp->p.tier_basis == PT_LOY_SPEND) {
            struct pt_agg ag;
            pt_state_agg(&g->st, a->row, &ag);
            bound = ag.revenue - ag.refunded;
        }
        if (bound < lp->p.tiers[a->tier].threshold)
            return 0;
    }
    if (lp->p.tier_basis == PT_LOY_SPEND) {
        size_t rows[PT_STATE_MAX_TREE];
        int64_t ids[PT_STATE_MAX_TREE];
        size_t n = pt_state_tree(&g->st, a->row, rows, PT_STATE_MAX_TREE);
        if (n > PT_STATE_MAX_TREE)
            n = PT_STATE_MAX_TREE;
        for (size_t i = 0; i < n; i++)
            ids[i] = (int64_t)rows[i] + 1;
        rc = pt_store_loy_spend(g->w, ids, n, since, &q, e);
    } else {
        rc = pt_store_loy_earned(g->w, (int64_t)a->row + 1, since, &q, e);
    }
    if (rc)
        return rc;
    int t = pt_loy_tier_for(&lp->p, q) + 1;
    if (t > a->tier || (review && t != a->tier)) {
        if ((rc = pt_store_loy_tier_log(g->w, a->shop, (int64_t)a->row + 1, now, a->tier, t, e)))
            return rc;
        if (engine_auto_tier(g, a->shop, a->row, a->tier, t)) /* (a "tier changed" trigger) */
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        a->tier = t;
        a->tier_until = t ? review_date(lp, now) : 0;
    } else if (review) {
        a->tier_until = t ? review_date(lp, now) : 0;
    } else {
        return 0;
    }
    engine_loy_note_due(g, a->tier_until);
    if (engine_seg_mark(g, a->row))
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    return engine_loy_save_member(g, a, e);
}

/* ---- hooks of a group ---- */

/* The member account for an event of row, or NULL: no enabled programme
 * that has started by t, an anonymous profile, or outside the pilot. */
static struct loy_prog *eligible(struct pt_engine *g, uint32_t shop, size_t row, int64_t t,
                                 size_t *root)
{
    struct loy_prog *lp = engine_loy_prog(g, shop);
    if (lp == NULL || !lp->p.enabled || t < lp->created)
        return NULL;
    *root = pt_state_root(&g->st, row);
    if (g->st.flags[*root] & ROW_ANON)
        return NULL;
    if (!lp->p.has_pilot)
        return lp;
    if (lp->p.pilot_segment > 0) {
        for (size_t i = 0; i < g->nseg; i++)
            if (g->segs[i].id == lp->p.pilot_segment && g->segs[i].shop == shop)
                return roaring_bitmap_contains(g->segs[i].members, (uint32_t)*root) ? lp : NULL;
        return NULL;
    }
    uint32_t len;
    const char *id = pt_state_id(&g->st, *root, &len);
    char tmp[PT_EV_MAX_ID + 1];
    if (len > PT_EV_MAX_ID)
        return NULL;
    memcpy(tmp, id, len);
    tmp[len] = '\0';
    return pt_loy_pilot_has(&lp->p, tmp) ? lp : NULL;
}

int engine_loy_eligible(struct pt_engine *g, uint32_t shop, size_t row, int64_t t)
{
    size_t root;
    return eligible(g, shop, row, t, &root) != NULL;
}

/* Capped earnings of member a on the day of t (reason NULL: purchases and
 * events; else that event's) into *points, *n: from memory for the latest
 * day, from the store for an earlier one (a late event). */
static int day_used(struct pt_engine *g, const struct loy_acct *a, int64_t t, const char *reason,
                    int64_t *points, int64_t *n, struct pt_err *e)
{
    int64_t day = pt_floor_div(t, DAY);
    const struct loy_evc *c = reason ? evc_find((struct loy_acct *)a, name_hash(reason + 6)) : NULL;
    int64_t latest = reason ? (c ? c->day : INT64_MIN) : a->day;
    if (day > latest || (reason && c == NULL)) {
        *points = *n = 0;
        return 0;
    }
    if (day == latest) {
        *points = reason ? 0 : a->day_points;
        *n = reason ? c->nday : 0;
        return 0;
    }
    return pt_store_loy_day(g->w, (int64_t)a->row + 1, day, reason, points, n, e);
}

/* p capped by the programme's points per day (0 = nothing left). */
static int day_cap(struct pt_engine *g, const struct loy_prog *lp, const struct loy_acct *a,
                   int64_t t, int64_t p, int64_t *out, struct pt_err *e)
{
    *out = p;
    if (lp->p.max_per_day <= 0)
        return 0;
    int64_t used, n;
    int rc = day_used(g, a, t, NULL, &used, &n, e);
    if (rc)
        return rc;
    int64_t room = lp->p.max_per_day - used;
    *out = p < room ? p : room > 0 ? room : 0;
    return 0;
}

/* The friend's first order carries a member's referral code. */
static int referral(struct pt_engine *g, struct loy_prog *lp, struct loy_acct *a,
                    const struct pt_event *ev, int64_t now, struct pt_err *e)
{
    struct pt_agg ag;
    pt_state_agg(&g->st, a->row, &ag);
    char canon[PT_CODE_LEN + 1];
    int64_t ref_row;
    if (ag.orders != 1 || a->referred_by ||
        pt_code_normalize(ev->referral, strlen(ev->referral), NULL, canon, NULL))
        return 0;
    int rc = pt_store_loy_member_by_code(g->w, a->shop, canon, &ref_row, e);
    if (rc == PT_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    size_t rr = (size_t)ref_row - 1;
    if (rr >= g->st.n || pt_state_root(&g->st, rr) == a->row)
        return 0; /* no self-referral */
    char e1[256], e2[256];
    if ((rc = engine_loy_trait(g, a->row, "email", e1, sizeof e1, e)) ||
        (rc = engine_loy_trait(g, pt_state_root(&g->st, rr), "email", e2, sizeof e2, e)))
        return rc;
    if (e1[0] && strcmp(e1, e2) == 0)
        return 0; /* the same person under two accounts */
    a->referred_by = ref_row;
    if ((rc = engine_loy_save_member(g, a, e)))
        return rc;
    int64_t due = (ev->t > now ? ev->t : now) + lp->p.return_window_days * DAY;
    struct pt_loy_referral_row r = {.friend_row = (int64_t)a->row + 1,
                                    .shop = a->shop,
                                    .referrer = ref_row,
                                    .order_id = ev->order_id,
                                    .t = ev->t,
                                    .due = due};
    if ((rc = pt_store_loy_referral_put(g->w, &r, e)))
        return rc;
    return engine_loy_pend_add(g, &r) ? pt_err_set(e, PT_ENOMEM, "out of memory") : 0;
}

static int intensify(struct pt_engine *g, struct loy_prog *lp, struct loy_acct *a,
                     const struct pt_event *ev, struct pt_err *e)
{
    const struct pt_loy_program *p = &lp->p;
    if (a->last_intensify && ev->t - a->last_intensify < p->intensify_period_days * DAY)
        return 0;
    size_t rows[PT_STATE_MAX_TREE];
    int64_t ids[PT_STATE_MAX_TREE], in_win, before, first;
    size_t n = pt_state_tree(&g->st, a->row, rows, PT_STATE_MAX_TREE);
    if (n > PT_STATE_MAX_TREE)
        n = PT_STATE_MAX_TREE;
    for (size_t i = 0; i < n; i++)
        ids[i] = (int64_t)rows[i] + 1;
    int64_t ws = ev->t - p->intensify_window_days * DAY;
    int rc = pt_store_loy_order_count(g->w, ids, n, ws, ev->t + 1, &in_win, &first, e);
    if (rc == 0)
        rc = pt_store_loy_order_count(g->w, ids, n, INT64_MIN, ws, &before, &first, e);
    if (rc)
        return rc;
    int64_t hist = ws - first;
    if (first == 0 || before < 1 || hist < p->intensify_min_history_days * DAY || in_win < 2)
        return 0;
    /* in_win >= factor x before x window / history, exactly */
    __int128 lhs = (__int128)in_win * 1000 * hist;
    __int128 rhs = (__int128)p->intensify_factor_milli * before * (p->intensify_window_days * DAY);
    if (lhs < rhs)
        return 0;
    char idem[PT_EV_MAX_ID + 32];
    snprintf(idem, sizeof idem, "intensify:%s", ev->order_id);
    return engine_loy_entry(g, a, PT_LOY_EARN, p->intensify_points, ev->t, 0, "bonus:intensify",
                            ev->order_id, idem, NULL, NULL, e);
}

int engine_loy_order(struct pt_engine *g, int64_t now, uint32_t shop, size_t row,
                     const struct pt_event *ev, int64_t prev_last, struct pt_err *e)
{
    size_t root;
    struct loy_prog *lp = eligible(g, shop, row, ev->t, &root);
    if (lp == NULL || ev->order_id == NULL)
        return 0;
    struct loy_acct *a;
    int rc = engine_loy_member(g, shop, root, now, &a, e);
    if (rc)
        return rc;
    const struct pt_loy_program *p = &lp->p;
    int tier = a->tier - 1; /* (a level removed since: no multiplier, as the view shows) */
    if (tier >= (int)p->ntiers)
        tier = -1;
    /* points_per_unit is per currency unit: the rules count 100 minor units
     * a unit, so an order in a currency with 0 or 3 decimals is rescaled */
    struct pt_event scaled = *ev;
    int sc = ev->currency[0] ? pt_currency_scale(ev->currency) : 2; /* (as ingest read it) */
    if (sc == 0)
        scaled.amount = ev->amount > INT64_MAX / 100 ? INT64_MAX : ev->amount * 100;
    else if (sc == 3)
        scaled.amount = ev->amount / 10;
    int64_t pts = pt_loy_order_points(p, &scaled, tier);
    if (p->max_per_order > 0 && pts > p->max_per_order)
        pts = p->max_per_order;
    if ((rc = day_cap(g, lp, a, ev->t, pts, &pts, e)))
        return rc;
    char idem[PT_EV_MAX_ID + 32];
    snprintf(idem, sizeof idem, "order:%s", ev->order_id);
    if (pts > 0 && (rc = engine_loy_entry(g, a, PT_LOY_EARN, pts, ev->t, ev->amount, "purchase",
                                          ev->order_id, idem, NULL, NULL, e)))
        return rc;
    if (p->has_comeback && prev_last > 0 && ev->t - prev_last >= p->comeback_after_days * DAY) {
        snprintf(idem, sizeof idem, "comeback:%s", ev->order_id);
        if ((rc = engine_loy_entry(g, a, PT_LOY_EARN, p->comeback_points, ev->t, 0,
                                   "bonus:comeback", ev->order_id, idem, NULL, NULL, e)))
            return rc;
    }
    if (p->has_intensify && (rc = intensify(g, lp, a, ev, e)))
        return rc;
    if (p->has_referral && ev->referral && (rc = referral(g, lp, a, ev, now, e)))
        return rc;
    return engine_loy_tier_check(g, a, now, 0, e);
}

int engine_loy_refund(struct pt_engine *g, int64_t now, uint32_t shop, const char *order_id,
                      struct pt_err *e)
{
    struct pt_loy_order_pts o;
    if (order_id == NULL || engine_loy_prog(g, shop) == NULL)
        return 0;
    int rc = pt_store_loy_order(g->w, shop, order_id, &o, e);
    if (rc == PT_ENOTFOUND)
        return 0;
    int64_t amount, refunded;
    if (rc || (rc = pt_store_order_amounts(g->w, shop, order_id, &amount, &refunded, e)))
        return rc == PT_ENOTFOUND ? 0 : rc;
    struct loy_acct *a = o.customer >= 1 ? engine_loy_acct(g, (size_t)o.customer - 1) : NULL;
    if (a == NULL || amount <= 0)
        return 0;
    /* each refund takes back the earned points' share of its own money: the
     * share of all money refunded so far less the share already covered */
    int64_t covered = o.refunded, fresh = refunded - covered;
    if (fresh <= 0)
        return 0;
    int64_t now_share =
        refunded >= amount ? o.earned : (int64_t)((__int128)o.earned * refunded / amount);
    int64_t before =
        covered >= amount ? o.earned : (int64_t)((__int128)o.earned * covered / amount);
    int64_t delta = now_share - before;
    struct loy_prog *lp = engine_loy_prog(g, shop);
    if (!lp->p.allow_debt) /* never below zero: what cannot be taken back is forgiven */
        delta = delta < a->balance ? delta : a->balance > 0 ? a->balance : 0;
    if (delta < 0)
        delta = 0;
    /* written even when nothing can be taken back: it records that this
     * refunded money has been dealt with */
    char idem[PT_EV_MAX_ID + 48];
    snprintf(idem, sizeof idem, "refund:%s:%lld", order_id, (long long)refunded);
    return engine_loy_entry(g, a, PT_LOY_REVERSE, -delta, now, fresh, "refund", order_id, idem,
                            NULL, NULL, e);
}

int engine_loy_event(struct pt_engine *g, int64_t now, uint32_t shop, size_t row,
                     const struct pt_event *ev, int64_t seq, struct pt_err *e)
{
    if (ev->type != PT_EV_TRACK || ev->name == NULL || ev->kind == PT_K_ORDER_COMPLETED ||
        ev->kind == PT_K_ORDER_REFUNDED)
        return 0;
    struct loy_prog *lp = engine_loy_prog(g, shop);
    const struct pt_loy_event_rule *r = lp ? pt_loy_event_rule(&lp->p, ev->name) : NULL;
    size_t root;
    if (r == NULL || eligible(g, shop, row, ev->t, &root) == NULL)
        return 0;
    struct loy_acct *a;
    int rc = engine_loy_member(g, shop, root, now, &a, e);
    if (rc)
        return rc;
    char idem[PT_EV_MAX_ID + 32];
    if (ev->message_id)
        snprintf(idem, sizeof idem, "event:%s", ev->message_id);
    else
        snprintf(idem, sizeof idem, "event-seq:%lld", (long long)seq);
    return engine_loy_award(g, lp, r, a, ev->t, now, ev->message_id, idem, e);
}

int engine_loy_award(struct pt_engine *g, struct loy_prog *lp, const struct pt_loy_event_rule *r,
                     struct loy_acct *a, int64_t t, int64_t now, const char *ref, const char *idem,
                     struct pt_err *e)
{
    int rc;
    char reason[PT_LOY_MAX_NAME + 8];
    snprintf(reason, sizeof reason, "event:%s", r->name);
    struct loy_evc *c = evc_find(a, name_hash(r->name));
    if (c && r->max_total > 0 && c->total >= r->max_total)
        return 0;
    int64_t used, n, pts;
    if (r->max_per_day > 0) {
        if ((rc = day_used(g, a, t, reason, &used, &n, e)))
            return rc;
        if (n >= r->max_per_day)
            return 0;
    }
    if ((rc = day_cap(g, lp, a, t, r->points, &pts, e)))
        return rc;
    if (pts <= 0)
        return 0;
    if ((rc = engine_loy_entry(g, a, PT_LOY_EARN, pts, t, 0, reason, ref, idem, NULL, NULL, e)))
        return rc;
    /* (spend tiers do not move with behaviour points) */
    return lp->p.tier_basis == PT_LOY_POINTS ? engine_loy_tier_check(g, a, now, 0, e) : 0;
}

/* ---- the clock's work ---- */

int engine_loy_due(struct pt_engine *g, int64_t now)
{
    return (g->loy_next > 0 && now >= g->loy_next) || now - g->loy_idem_purged >= 3600 ||
           engine_loy_bday_due(g, now);
}

static int pend_settle(struct pt_engine *g, struct loy_pend *pd, int64_t now, struct pt_err *e)
{
    int64_t amount = 0, refunded = 0;
    int rc = pt_store_order_amounts(g->w, pd->shop, pd->order_id, &amount, &refunded, e);
    if (rc && rc != PT_ENOTFOUND)
        return rc;
    struct loy_prog *lp = engine_loy_prog(g, pd->shop);
    int ok = rc == 0 && refunded < amount && lp && lp->p.enabled && lp->p.has_referral &&
             engine_loy_acct(g, pd->friend_row) != NULL;
    struct pt_loy_referral_row r = {.friend_row = (int64_t)pd->friend_row + 1,
                                    .shop = pd->shop,
                                    .referrer = (int64_t)pd->referrer + 1,
                                    .order_id = pd->order_id,
                                    .due = pd->due,
                                    .state = ok ? 1 : 2};
    if ((rc = pt_store_loy_referral_put(g->w, &r, e)) || !ok)
        return rc;
    char idem[64], ref[32];
    snprintf(ref, sizeof ref, "%lld", (long long)pd->friend_row + 1);
    struct loy_acct *f = engine_loy_acct(g, pd->friend_row), *m;
    if (lp->p.friend_points > 0) {
        snprintf(idem, sizeof idem, "referral:%s:friend", ref);
        if ((rc = engine_loy_entry(g, f, PT_LOY_EARN, lp->p.friend_points, now, 0,
                                   "referral:friend", ref, idem, NULL, NULL, e)))
            return rc;
    }
    if (pd->referrer >= g->st.n || (g->st.flags[pd->referrer] & ROW_ERASED))
        return 0;
    if ((rc = engine_loy_member(g, pd->shop, pd->referrer, now, &m, e)))
        return rc;
    if (lp->p.referrer_points > 0) {
        snprintf(idem, sizeof idem, "referral:%s:referrer", ref);
        rc = engine_loy_entry(g, m, PT_LOY_EARN, lp->p.referrer_points, now, 0, "referral:referrer",
                              ref, idem, NULL, NULL, e);
    }
    return rc;
}

int engine_loy_tick(struct pt_engine *g, int64_t now, struct pt_err *e)
{
    if (!engine_loy_due(g, now))
        return 0;
    int rc;
    if (now - g->loy_idem_purged >= 3600) {
        if ((rc = pt_store_idem_purge(g->w, now - DAY, e)))
            return rc;
        g->loy_idem_purged = now;
    }
    if ((rc = engine_loy_birthdays(g, now, e)))
        return rc;
    if (g->loy_next == 0 || now < g->loy_next)
        return 0;
    g->loy_next = 0;
    char ref[32], idem[48];
    for (size_t i = 0; i < g->naccts; i++) {
        struct loy_acct *a = g->accts[i];
        if (a->row == UINT32_MAX)
            continue;
        for (uint32_t k = a->lot0; k < a->nlots; k++) {
            struct loy_lot *l = &a->lots[k];
            if (l->left <= 0 || l->expires == 0)
                continue;
            if (l->expires > now) {
                engine_loy_note_due(g, l->expires);
                continue;
            }
            snprintf(ref, sizeof ref, "%lld", (long long)l->entry);
            snprintf(idem, sizeof idem, "expire:%lld", (long long)l->entry);
            if ((rc = engine_loy_entry(g, a, PT_LOY_EXPIRE, -l->left, l->expires, 0, "expiry", ref,
                                       idem, NULL, NULL, e)))
                return rc; /* (taking from lots never moves them) */
        }
        if (a->tier_until && a->tier_until <= now && (rc = engine_loy_tier_check(g, a, now, 1, e)))
            return rc;
        engine_loy_note_due(g, a->tier_until);
    }
    for (size_t i = 0; i < g->npend;) {
        struct loy_pend *pd = &g->pend[i];
        if (pd->due > now) {
            engine_loy_note_due(g, pd->due);
            i++;
            continue;
        }
        if ((rc = pend_settle(g, pd, now, e)))
            return rc;
        pt_free(g->pend[i].order_id);
        g->pend[i] = g->pend[--g->npend];
    }
    return 0;
}

void engine_loy_erase(struct pt_engine *g, size_t row)
{
    struct loy_acct *a = engine_loy_acct(g, row);
    if (a) {
        pt_free(a->lots);
        pt_free(a->evc);
        memset(a, 0, sizeof *a);
        a->row = UINT32_MAX; /* a hole: accounts keep their indexes */
        g->acct_of[row] = 0;
    }
    for (size_t i = 0; i < g->npend;) {
        if (g->pend[i].friend_row == row) { /* (an erased referrer's friend is still paid) */
            pt_free(g->pend[i].order_id);
            g->pend[i] = g->pend[--g->npend];
        } else {
            i++;
        }
    }
}
