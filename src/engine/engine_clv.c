/*
 * engine_clv.c - live customer lifetime value (docs/clv.md, "Live").
 *
 * A thread refits, per shop, the BG/NBD purchase model and the Gamma-Gamma
 * spend model every clv_refit seconds (at start, then on the schedule; only if
 * the state changed since the last round). It copies each shop's customer
 * summaries under the read lock, fits without any lock, and publishes the
 * parameters under rfm_mu. Profile reads then compute P(alive), expected
 * purchases in 90 and 365 days, CLV over 365 days and the expected next order
 * date from the customer's own current summary and the shop's parameters.
 *
 * Live summaries come from the state's aggregates, so they differ from
 * `patron clv` in two documented ways: x is orders - 1 (two orders on one day
 * count twice) and the mean order value includes the first order (net of
 * refunds). Times are exact seconds, in weeks.
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include "engine/engine_int.h"
#include "util/mem.h"

#define WEEK 604800.0
#define MONTH_W (365.25 / 12 / 7) /* a month in weeks */

static int shop_index(struct pt_engine *g, int64_t shop)
{
    for (size_t i = 0; i < g->nclv; i++)
        if (g->clv[i].shop == shop)
            return (int)i;
    return -1;
}

/* Summaries of one shop's customers with orders (caller holds the read lock). */
static size_t collect(struct pt_engine *g, int64_t shop, int64_t now, struct pt_rfx *c, double *x,
                      double *m, size_t cap)
{
    const struct pt_state *s = &g->st;
    size_t k = 0;
    for (size_t i = 0; i < s->n && k < cap; i++) {
        if ((s->flags[i] & (ROW_PRESENT | ROW_ERASED)) != ROW_PRESENT || s->parent[i] != 0 ||
            s->shop[i] != (uint32_t)shop)
            continue;
        struct pt_agg a;
        pt_state_agg(s, i, &a);
        if (a.orders == 0 || now <= a.first_t)
            continue;
        double T = (double)(now - a.first_t) / WEEK, tx = (double)(a.last_t - a.first_t) / WEEK;
        c[k] = (struct pt_rfx){a.orders - 1.0, a.orders > 1 ? fmin(tx, T) : 0, T};
        x[k] = a.orders - 1.0;
        m[k] = (double)(a.revenue - a.refunded) / a.orders;
        if (!(m[k] > 0))
            x[k] = 0; /* no spend to learn from */
        k++;
    }
    return k;
}

/* Fit one shop and publish; returns 0 or a PT_E* code (the old fit stays). */
static int refit_shop(struct pt_engine *g, int64_t shop, size_t cap)
{
    struct pt_rfx *c = pt_alloc_array(cap ? cap : 1, sizeof *c);
    double *x = pt_alloc_array(cap ? cap : 1, sizeof *x), *m = pt_alloc_array(cap ? cap : 1, sizeof *m);
    int rc = PT_ENOMEM;
    if (!c || !x || !m)
        goto out;
    int64_t now = (int64_t)time(NULL);
    pthread_rwlock_rdlock(&g->lock);
    size_t n = collect(g, shop, now, c, x, m, cap);
    pthread_rwlock_unlock(&g->lock);
    struct pt_clv_live f = {.shop = shop, .fitted_at = now, .customers = n};
    struct pt_clv_fit fit;
    struct pt_err e;
    rc = n >= 2 ? pt_clv_fit(PT_BGNBD, c, n, &f.bg, &fit, &e) : PT_EINVAL;
    if (rc)
        goto out;
    f.bg_ll = fit.ll;
    struct pt_clv_fit gfit;
    f.has_gg = pt_gg_fit(x, m, n, &f.gg, &gfit, &e) == 0 && f.gg.q > 1;
    pthread_mutex_lock(&g->rfm_mu);
    int i = shop_index(g, shop);
    if (i < 0) {
        struct pt_clv_live *nv = pt_realloc_array(g->clv, g->nclv + 1, sizeof *nv);
        if (nv == NULL) {
            pthread_mutex_unlock(&g->rfm_mu);
            rc = PT_ENOMEM;
            goto out;
        }
        g->clv = nv;
        i = (int)g->nclv++;
    }
    g->clv[i] = f;
    g->clv_fits++;
    pthread_mutex_unlock(&g->rfm_mu);
out:
    pt_free(c);
    pt_free(x);
    pt_free(m);
    return rc;
}

/* One round: every shop with customers. */
static void refit_all(struct pt_engine *g)
{
    int64_t shops[256];
    size_t ns = 0, rows[256] = {0};
    pthread_rwlock_rdlock(&g->lock);
    const struct pt_state *s = &g->st;
    for (size_t i = 0; i < s->n; i++) {
        if ((s->flags[i] & (ROW_PRESENT | ROW_ERASED)) != ROW_PRESENT || s->parent[i] != 0)
            continue;
        size_t k = 0;
        while (k < ns && shops[k] != (int64_t)s->shop[i])
            k++;
        if (k == ns) {
            if (ns == 256)
                continue; /* beyond 256 shops a round fits the first 256 (documented) */
            shops[ns++] = s->shop[i];
        }
        rows[k]++;
    }
    pthread_rwlock_unlock(&g->lock);
    for (size_t k = 0; k < ns && !g->stopping; k++)
        refit_shop(g, shops[k], rows[k]);
}

static void *clv_main(void *arg)
{
    struct pt_engine *g = arg;
    uint64_t seen = UINT64_MAX;
    pthread_mutex_lock(&g->mu);
    while (!g->stopping) {
        pthread_mutex_unlock(&g->mu);
        pthread_rwlock_rdlock(&g->lock);
        uint64_t v = g->version;
        pthread_rwlock_unlock(&g->lock);
        if (v != seen) {
            seen = v;
            refit_all(g);
        }
        pthread_mutex_lock(&g->mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += g->clv_refit;
        while (!g->stopping &&
               pthread_cond_timedwait(&g->clv_cv, &g->mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

int engine_clv_start(struct pt_engine *g)
{
    if (g->clv_refit <= 0)
        return 0;
    pthread_cond_init(&g->clv_cv, NULL);
    g->clv_cv_init = 1;
    if (pthread_create(&g->clv_thread, NULL, clv_main, g))
        return PT_EIO;
    g->clv_started = 1;
    return 0;
}

void engine_clv_stop(struct pt_engine *g)
{
    if (g->clv_started) {
        pthread_mutex_lock(&g->mu);
        pthread_cond_broadcast(&g->clv_cv);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->clv_thread, NULL);
        g->clv_started = 0;
    }
    if (g->clv_cv_init)
        pthread_cond_destroy(&g->clv_cv);
    g->clv_cv_init = 0;
    pt_free(g->clv);
    g->clv = NULL;
    g->nclv = 0;
}

void engine_clv_score(struct pt_engine *g, int64_t shop, struct pt_profile *p)
{
    p->has_clv = 0;
    if (p->orders == 0)
        return;
    pthread_mutex_lock(&g->rfm_mu);
    int i = shop_index(g, shop);
    struct pt_clv_live f;
    if (i >= 0)
        f = g->clv[i];
    pthread_mutex_unlock(&g->rfm_mu);
    if (i < 0)
        return;
    double T = fmax(0, (double)(p->now - p->first_t) / WEEK);
    double tx = p->orders > 1 ? fmin(T, (double)(p->last_t - p->first_t) / WEEK) : 0;
    struct pt_rfx c = {p->orders - 1.0, tx, T};
    double aov = NAN;
    if (f.has_gg) {
        double mean = (double)(p->revenue - p->refunded) / p->orders;
        aov = pt_gg_mean(&f.gg, mean > 0 ? c.x : 0, mean > 0 ? mean : 0);
    }
    /* P(alive), the 365-day expectation, value and next order in one pass;
     * without a spend mean (q <= 1) the value is 0, as pt_clv_value gives */
    struct pt_clv_scores sc;
    pt_clv_score(&f.bg, &c, 365 / 7.0, MONTH_W, 0.01, f.has_gg ? (isnan(aov) ? 0 : aov) : NAN,
                 3652.5 / 7, &sc);
    p->clv_p_alive = sc.p_alive;
    p->clv_exp90 = pt_clv_expected(&f.bg, &c, 90 / 7.0);
    p->clv_exp365 = sc.expected;
    p->clv_value365 = -1;
    if (f.has_gg) {
        if (isfinite(sc.value) && sc.value >= 0 && sc.value < 9e15)
            p->clv_value365 = (int64_t)llround(sc.value);
        p->clv_aov = isfinite(aov) && aov < 9e15 ? (int64_t)llround(aov) : -1;
    }
    p->clv_next_t = isfinite(sc.next_t) ? p->now + (int64_t)(sc.next_t * WEEK) : 0;
    p->clv_fitted_at = f.fitted_at;
    p->has_clv = 1;
}

int pt_engine_clv_model(struct pt_engine *g, int64_t shop, struct pt_clv_live *out)
{
    pthread_mutex_lock(&g->rfm_mu);
    int i = shop_index(g, shop);
    if (i >= 0)
        *out = g->clv[i];
    pthread_mutex_unlock(&g->rfm_mu);
    return i >= 0 ? 0 : PT_ENOTFOUND;
}
