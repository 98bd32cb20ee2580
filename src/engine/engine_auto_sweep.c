/*
 * engine_auto_sweep.c - the time triggers (docs/automation.md "Triggers"),
 * swept over the customers of each automation's shop every auto_sweep_s of
 * the clock: cart abandoned, N days since the last order, usual purchase
 * rhythm missed, replenishment due, points expiring and birthday. Each
 * occurrence has a key (the cart's start, the last order's time, the lot's
 * expiry, the year ...) so a customer enters once per occurrence however
 * often the sweep runs (auto_seen keeps the last key per customer).
 */
#include <stdbool.h>
#include <string.h>

#include "engine/engine_int.h"
#include "util/mem.h"
#include "util/timeutil.h"

#define DAY 86400

static int live_root(const struct pt_state *st, size_t row, uint32_t shop)
{
    return st->shop[row] == shop && st->parent[row] == 0 &&
           (st->flags[row] & (ROW_PRESENT | ROW_ERASED)) == ROW_PRESENT;
}

static void agg(const struct pt_state *st, size_t row, struct pt_agg *a)
{
    if (st->child[row] == 0) {
        a->orders = st->orders[row];
        a->first_t = st->first_t[row];
        a->last_t = st->last_t[row];
    } else {
        pt_state_agg(st, row, a);
    }
}

struct repl {
    size_t product;
    int64_t t, qty, out;
};

/* Replenishment: the newest order line of each product; its supply runs out
 * qty x days_per_unit later; due from `before` ahead of that to two weeks
 * after. The key is the due product's last purchase (the latest, if several). */
static int64_t replenish(struct pt_engine *g, const struct pt_auto_def *d, size_t row, int64_t now,
                         struct repl *due, int64_t *next)
{
    int64_t key = 0;
    size_t rows[PT_STATE_MAX_TREE];
    size_t n = pt_state_tree(&g->st, row, rows, PT_STATE_MAX_TREE);
    if (n > PT_STATE_MAX_TREE)
        n = PT_STATE_MAX_TREE;
    for (size_t p = 0; p < d->nproducts; p++) {
        uint32_t pid =
            pt_dict_find(&g->dict, d->products[p].product, strlen(d->products[p].product));
        int64_t t = 0, qty = 0;
        for (size_t i = 0; pid && i < n; i++)
            for (uint32_t k = rows[i] < g->act_rows ? g->act_head[rows[i]] : 0; k;
                 k = g->act_next[k - 1]) {
                const struct pt_act *x = &g->acts[k - 1];
                if ((x->flags & PT_ACT_LINE) && x->prod == pid && x->t >= t) {
                    qty = x->t == t ? qty + x->qty : x->qty;
                    t = x->t;
                }
            }
        if (t == 0)
            continue;
        int64_t out = t + qty * d->products[p].days_per_unit * DAY;
        if (next && now < out - d->before_s && out - d->before_s < *next)
            *next = out - d->before_s; /* (not due yet) */
        if (now >= out - d->before_s && now < out + 14 * DAY && t > key) {
            key = t;
            if (due)
                *due = (struct repl){.product = p, .t = t, .qty = qty, .out = out};
        }
    }
    return key;
}

/* A time trigger's occurrence as the run's event: templates read it as
 * {{event.properties.*}} (g->abuf; NULL for triggers without one). */
static const char *occ_ctx(struct pt_engine *g, const struct pt_auto_def *d, size_t row,
                           int64_t key, int64_t now)
{
    struct pt_buf *b = &g->abuf;
    const struct pt_state *st = &g->st;
    struct pt_agg a;
    char t1[21], t2[21];
    pt_buf_reset(b);
    switch (d->trigger) {
    case PT_TRIG_CART:
        pt_format_utc(st->cart_t[row], t1);
        pt_buf_printf(b,
                      "{\"event\":\"Cart Abandoned\",\"properties\":{\"value_minor\":%lld,"
                      "\"idle_minutes\":%lld,\"updated_at\":\"%s\"}}",
                      (long long)st->cart_value[row], (long long)((now - st->cart_t[row]) / 60),
                      t1);
        break;
    case PT_TRIG_SINCE_ORDER:
    case PT_TRIG_RHYTHM:
        agg(st, row, &a);
        pt_format_utc(a.last_t, t1);
        pt_buf_printf(b,
                      "{\"event\":\"%s\",\"properties\":{\"days_since_last_order\":%lld,"
                      "\"last_order_at\":\"%s\",\"orders\":%u",
                      d->trigger == PT_TRIG_RHYTHM ? "Purchase Rhythm Missed" : "Order Overdue",
                      (long long)((now - a.last_t) / DAY), t1, a.orders);
        if (d->trigger == PT_TRIG_RHYTHM && a.orders > 1)
            pt_buf_printf(b, ",\"usual_days_between_orders\":%lld",
                          (long long)((a.last_t - a.first_t) / (a.orders - 1) / DAY));
        pt_buf_adds(b, "}}");
        break;
    case PT_TRIG_REPLENISH: {
        struct repl r;
        if (replenish(g, d, row, now, &r, NULL) != key)
            return NULL;
        pt_format_utc(r.t, t1);
        pt_format_utc(r.out, t2);
        pt_buf_adds(b, "{\"event\":\"Replenishment Due\",\"properties\":{\"product_id\":");
        pt_buf_add_json_str(b, d->products[r.product].product,
                            strlen(d->products[r.product].product));
        pt_buf_printf(b, ",\"quantity\":%lld,\"last_order_at\":\"%s\",\"runs_out_at\":\"%s\"}}",
                      (long long)r.qty, t1, t2);
        break;
    }
    default:
        return NULL;
    }
    return pt_buf_addc(b, '\0') ? NULL : b->data;
}

/* The occurrence key of root `row` for trigger d at now (0: none); with
 * none, *next is the earliest time one can come without an event of the
 * customer's (INT64_MAX: only an event can bring one). */
static int64_t occurrence(struct pt_engine *g, const struct pt_auto_def *d, size_t row, int64_t now,
                          int64_t *next)
{
    const struct pt_state *st = &g->st;
    struct pt_agg a;
    *next = INT64_MAX;
    switch (d->trigger) {
    case PT_TRIG_CART:
        if (st->cart_value[row] <= 0 || st->cart_value[row] < d->min_value)
            return 0;
        if (now - st->cart_t[row] >= d->idle_s)
            return st->cart_since[row] ? st->cart_since[row] : st->cart_t[row];
        *next = st->cart_t[row] + d->idle_s;
        return 0;
    case PT_TRIG_SINCE_ORDER:
        agg(st, row, &a);
        if (a.orders == 0)
            return 0;
        if (now - a.last_t >= d->days * DAY)
            return a.last_t;
        *next = a.last_t + d->days * DAY;
        return 0;
    case PT_TRIG_RHYTHM: {
        agg(st, row, &a);
        if (a.orders < d->min_orders || a.orders < 2 || a.last_t <= a.first_t)
            return 0;
        double k = (double)(a.last_t - a.first_t) / (a.orders - 1);
        if ((double)(now - a.last_t) >= d->factor * k)
            return a.last_t;
        *next = a.last_t + (int64_t)(d->factor * k); /* (rounded down: never late) */
        return 0;
    }
    case PT_TRIG_POINTS_EXPIRING: {
        struct loy_acct *ac = engine_loy_acct(g, row);
        int64_t first = 0;
        *next = now; /* (never settled early: lots move with time) */
        for (uint32_t i = ac ? ac->lot0 : 0; ac && i < ac->nlots; i++)
            if (ac->lots[i].left > 0 && ac->lots[i].expires > now &&
                ac->lots[i].expires <= now + d->within_s &&
                (first == 0 || ac->lots[i].expires < first))
                first = ac->lots[i].expires;
        return first;
    }
    case PT_TRIG_BIRTHDAY: {
        if (row >= g->bday_rows || g->bday[row] == 0)
            return 0;
        int64_t y, day = pt_floor_div(now, DAY);
        int m, dd;
        pt_civil_from_days(day, &y, &m, &dd);
        int today = m * 100 + dd;
        int leap = m == 2 && dd == 28 && pt_days_in_month(y, 2) == 28;
        if (g->bday[row] == today || (leap && g->bday[row] == 229))
            return y;
        *next = (day + 1) * DAY; /* (not today: tomorrow at the earliest) */
        return 0;
    }
    case PT_TRIG_REPLENISH:
        return replenish(g, d, row, now, NULL, next);
    default:
        return 0;
    }
}

static int is_timed(int trigger)
{
    return trigger == PT_TRIG_CART || trigger == PT_TRIG_SINCE_ORDER || trigger == PT_TRIG_RHYTHM ||
           trigger == PT_TRIG_POINTS_EXPIRING || trigger == PT_TRIG_BIRTHDAY ||
           trigger == PT_TRIG_REPLENISH;
}

static int bdays_load_one(void *ctx, int64_t customer, const char *birthday)
{
    struct pt_engine *g = ctx;
    if (customer < 1 || (size_t)customer > g->bday_rows || birthday == NULL)
        return 0;
    size_t row = (size_t)customer - 1, root = pt_state_root(&g->st, row);
    int d = engine_bday_parse(birthday);
    if (d && (row == root || g->bday[root] == 0))
        g->bday[root] = (uint16_t)d;
    return 0;
}

static int bdays(struct pt_engine *g, struct pt_err *e)
{
    if (g->auto_bdays && g->bday_rows >= g->st.n)
        return 0;
    size_t nr = g->st.n + 1024;
    uint16_t *x = pt_realloc_array(g->bday, nr, sizeof *x);
    if (x == NULL)
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    memset(x + g->bday_rows, 0, (nr - g->bday_rows) * sizeof *x);
    g->bday = x;
    g->bday_rows = nr;
    if (g->auto_bdays)
        return 0; /* (new rows: their traits come through engine_auto_traits) */
    g->auto_bdays = 1;
    return pt_store_loy_birthdays(g->w, bdays_load_one, g, e);
}

/* Customer `row` may be skipped by a's sweeps before UTC day `day` (days
 * since 1970; UINT16_MAX: until an event of theirs). 0 or PT_ENOMEM. */
static int settle(struct pt_engine *g, struct eauto *a, size_t row, int64_t day)
{
    if (row >= a->nuntil) {
        size_t nn = g->st.n + 4096;
        uint16_t *x = pt_realloc_array(a->until, nn, sizeof *x);
        if (x == NULL)
            return PT_ENOMEM;
        memset(x + a->nuntil, 0, (nn - a->nuntil) * sizeof *x);
        a->until = x;
        a->nuntil = nn;
    }
    a->until[row] = (uint16_t)(day < 0 ? 0 : day > UINT16_MAX ? UINT16_MAX : day);
    return 0;
}

static int settled(const struct eauto *a, size_t row, int64_t day)
{
    return row < a->nuntil && a->until[row] > day;
}

/* The first day an instant can matter on (an instant within today: today). */
static int64_t day_of(int64_t t)
{
    return t == INT64_MAX ? UINT16_MAX : pt_floor_div(t, DAY);
}

/* One occurrence of a's trigger for root `row`: entered unless handled,
 * refused, or failing the conditions; then the customer is settled until
 * the next day anything can change for them without an event of theirs
 * (their events reset it). */
static int sweep_one(struct pt_engine *g, struct eauto *a, const struct pt_auto_def *d, size_t row,
                     int64_t key, int64_t now, int was_settled, struct pt_err *e)
{
    int64_t day = pt_floor_div(now, DAY);
    /* a new occurrence needs an event (a new order, cart, purchase), except a
     * birthday (next year) and expiring points (lots move with time) */
    int64_t handled = d->trigger == PT_TRIG_BIRTHDAY || d->trigger == PT_TRIG_POINTS_EXPIRING
                          ? day + 1
                          : UINT16_MAX;
    struct auto_seen *sn = engine_auto_seen(a, (uint32_t)row, 0);
    if ((sn && sn->key == key) || was_settled)
        return was_settled || settle(g, a, row, handled) == 0
                   ? 0
                   : pt_err_set(e, PT_ENOMEM, "out of memory");
    int may, rc = engine_auto_check(g, a, row, key, now, &may, e);
    if (rc)
        return rc;
    int64_t until = handled; /* entered, or dropped while in the automation */
    if (may == 3) {
        /* the conditions: until their value can change without an event, and
         * tomorrow at the earliest (not again at every sweep of the day) */
        until = day_of(engine_auto_cond_next(g, &d->cond, now));
        until = until > day + 1 ? until : day + 1;
    } else if (may == 4 && sn) { /* a cooldown */
        until = day_of(sn->entered + d->reentry_after);
    }
    if (until > day && settle(g, a, row, until))
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    if (may != 1)
        return 0;
    /* (the occurrence's JSON only for who enters) */
    return engine_auto_enter_now(g, a, row, key, occ_ctx(g, d, row, key, now), now, NULL, e);
}

int engine_auto_sweep(struct pt_engine *g, int64_t now, struct pt_err *e)
{
    double t0 = pt_mono_now();
    int rc = 0, any = 0;
    int64_t day = pt_floor_div(now, DAY);
    for (size_t i = 0; rc == 0 && i < g->nautos; i++) {
        struct eauto *a = g->autos[i];
        const struct pt_auto_def *d = a->defs[a->nvers - 1];
        if (a->status != PT_AUTO_ACTIVE || !is_timed(d->trigger))
            continue;
        any = 1;
        if (d->trigger == PT_TRIG_BIRTHDAY && (rc = bdays(g, e)))
            return rc;
        const struct pt_state *st = &g->st;
        if (d->trigger == PT_TRIG_POINTS_EXPIRING) {
            for (size_t k = 0; rc == 0 && k < g->naccts; k++) {
                struct loy_acct *ac = g->accts[k];
                if (ac->row == UINT32_MAX || ac->shop != a->shop ||
                    !live_root(st, ac->row, a->shop))
                    continue;
                /* (a lot's expiry moves the occurrence without an event: its key is
                 * compared even for a settled member) */
                int64_t next, key = occurrence(g, d, ac->row, now, &next);
                if (key)
                    rc = sweep_one(g, a, d, ac->row, key, now, settled(a, ac->row, day), e);
            }
            continue;
        }
        /* the customers not settled beyond today (after a first sweep: few) */
        for (size_t row = 0; rc == 0 && row < st->n; row++) {
            if (settled(a, row, day))
                continue;
            if (!live_root(st, row, a->shop)) {
                /* (another shop's, merged or erased: looked at again tomorrow) */
                if (settle(g, a, row, day + 1))
                    return pt_err_set(e, PT_ENOMEM, "out of memory");
                continue;
            }
            int64_t next, key = occurrence(g, d, row, now, &next);
            if (key)
                rc = sweep_one(g, a, d, row, key, now, 0, e);
            else if (day_of(next) > day && settle(g, a, row, day_of(next)))
                return pt_err_set(e, PT_ENOMEM, "out of memory");
        }
    }
    if (any) {
        g->auto_sweeps++;
        g->auto_sweep_seconds = pt_mono_now() - t0;
    }
    return rc;
}
