/*
 * engine_read.c - consistent reads of the customer state and live RFM scores.
 *
 * Live RFM: a customer's scores are the spec's rank quintiles (RFM-SPEC.md)
 * with "now" as the as-of instant, ranked against a per-shop snapshot of every
 * customer's recency, frequency and monetary values. The snapshot (three
 * sorted arrays) is rebuilt when it is older than rfm_refresh seconds and the
 * state has changed since; the customer's own values are always current.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine_int.h"
#include "rfm/rfm.h"
#include "util/mem.h"

static void snap_free(struct rfm_snap *r)
{
    pt_free(r->last);
    pt_free(r->mon);
    pt_free(r->freq);
    r->last = r->mon = NULL;
    r->freq = NULL;
    r->n = 0;
}

void engine_rfm_release(struct pt_engine *g)
{
    for (size_t i = 0; i < g->nrfm; i++)
        snap_free(&g->rfm[i]);
    pt_free(g->rfm);
    g->rfm = NULL;
    g->nrfm = 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Rebuild r for shop (caller holds the read lock and rfm_mu). */
static int snap_build(struct pt_engine *g, struct rfm_snap *r, int64_t shop, int64_t now)
{
    const struct pt_state *s = &g->st;
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        if ((s->flags[i] & (ROW_PRESENT | ROW_ERASED)) == ROW_PRESENT && s->parent[i] == 0 &&
            s->shop[i] == (uint32_t)shop)
            n++;
    snap_free(r);
    r->last = pt_alloc_array(n ? n : 1, sizeof *r->last);
    r->mon = pt_alloc_array(n ? n : 1, sizeof *r->mon);
    r->freq = pt_alloc_array(n ? n : 1, sizeof *r->freq);
    if (!r->last || !r->mon || !r->freq) {
        snap_free(r);
        return PT_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n && k < n; i++) {
        if ((s->flags[i] & (ROW_PRESENT | ROW_ERASED)) != ROW_PRESENT || s->parent[i] != 0 ||
            s->shop[i] != (uint32_t)shop)
            continue;
        struct pt_agg a;
        pt_state_agg(s, i, &a);
        if (a.orders == 0)
            continue;
        r->last[k] = a.last_t;
        r->mon[k] = a.revenue - a.refunded;
        r->freq[k] = a.orders;
        k++;
    }
    r->n = k;
    qsort(r->last, k, sizeof *r->last, cmp_i64);
    qsort(r->mon, k, sizeof *r->mon, cmp_i64);
    qsort(r->freq, k, sizeof *r->freq, cmp_u32);
    r->shop = shop;
    r->version = g->version;
    r->built = now;
    return 0;
}

/* Elements of sorted a[0..n) that are < v (strict) or <= v. */
static size_t count_below_i64(const int64_t *a, size_t n, int64_t v, int inclusive)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v || (inclusive && a[mid] == v))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t count_below_u32(const uint32_t *a, size_t n, uint32_t v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void score(struct pt_engine *g, int64_t shop, struct pt_profile *p)
{
    p->has_rfm = 0;
    if (p->orders == 0)
        return;
    pthread_mutex_lock(&g->rfm_mu);
    struct rfm_snap *r = NULL;
    for (size_t i = 0; i < g->nrfm; i++)
        if (g->rfm[i].shop == shop)
            r = &g->rfm[i];
    if (r == NULL) {
        struct rfm_snap *x = pt_realloc_array(g->rfm, g->nrfm + 1, sizeof *x);
        if (x == NULL) {
            pthread_mutex_unlock(&g->rfm_mu);
            return;
        }
        g->rfm = x;
        r = &g->rfm[g->nrfm++];
        memset(r, 0, sizeof *r);
        r->shop = shop;
        r->version = UINT64_MAX;
    }
    if (r->last == NULL || (r->version != g->version && p->now - r->built >= g->rfm_refresh))
        snap_build(g, r, shop, p->now);
    if (r->n == 0) {
        pthread_mutex_unlock(&g->rfm_mu);
        return;
    }
    int64_t rec = (p->now - p->last_t) / 86400;
    if (rec < 0)
        rec = 0;
    p->recency_days = (int)rec;
    /* worse recency = larger: last order at or before now - (rec + 1) days */
    size_t worse_r = count_below_i64(r->last, r->n, p->now - (rec + 1) * 86400, 1);
    size_t worse_f = count_below_u32(r->freq, r->n, p->orders);
    size_t worse_m = count_below_i64(r->mon, r->n, p->revenue - p->refunded, 0);
    p->r = pt_rfm_quintile(worse_r + 1, r->n);
    p->f = pt_rfm_quintile(worse_f + 1, r->n);
    p->m = pt_rfm_quintile(worse_m + 1, r->n);
    if (p->r > 5)
        p->r = 5;
    if (p->f > 5)
        p->f = 5;
    if (p->m > 5)
        p->m = 5;
    p->seg = pt_rfm_segment(p->r, p->f);
    p->has_rfm = 1;
    pthread_mutex_unlock(&g->rfm_mu);
}

int engine_fill(struct pt_engine *g, int64_t shop, size_t row, int64_t now, unsigned scores,
                struct pt_profile *p)
{
    const struct pt_state *s = &g->st;
    if (row >= s->n || (s->flags[row] & (ROW_PRESENT | ROW_ERASED)) != ROW_PRESENT ||
        s->shop[row] != (uint32_t)shop)
        return PT_ENOTFOUND;
    size_t root = pt_state_root(s, row);
    size_t rows[PT_STATE_MAX_TREE];
    size_t n = pt_state_tree(s, root, rows, PT_STATE_MAX_TREE);
    if (n > PT_STATE_MAX_TREE)
        n = PT_STATE_MAX_TREE;
    memset(p, 0, sizeof *p);
    p->now = now;
    for (size_t i = 0; i < n; i++) {
        p->rows[i] = (int64_t)rows[i] + 1;
        p->heads[i] = s->head[rows[i]];
    }
    p->nrows = n;
    p->root = (int64_t)root + 1;
    uint32_t len;
    const char *id = pt_state_id(s, root, &len);
    memcpy(p->user_id, id, len < sizeof p->user_id ? len : sizeof p->user_id - 1);
    p->anonymous = (s->flags[root] & ROW_ANON) != 0;
    struct pt_agg a;
    pt_state_agg(s, root, &a);
    p->orders = a.orders;
    p->first_t = a.first_t;
    p->last_t = a.last_t;
    p->revenue = a.revenue;
    p->refunded = a.refunded;
    /* consents: the root's choice; for a purpose it has not decided, the
     * earliest identity's (lowest row) that has - the same after a restart,
     * and an unmerge takes the identity's choices away with it */
    p->consent = s->consent[root];
    p->consent_set = s->consent_set[root];
    for (unsigned bit = 1; bit <= 4; bit <<= 1) {
        if (p->consent_set & bit)
            continue;
        size_t best = SIZE_MAX;
        for (size_t i = 1; i < n; i++)
            if ((s->consent_set[rows[i]] & bit) && rows[i] < best)
                best = rows[i];
        if (best != SIZE_MAX) {
            p->consent_set = (uint8_t)(p->consent_set | bit);
            if (s->consent[best] & bit)
                p->consent = (uint8_t)(p->consent | bit);
        }
    }
    /* the cart lives on the root (a merge brings a newer visitor's cart along) */
    p->cart_value = s->cart_value[root];
    p->cart_since = s->cart_since[root];
    p->cart_t = s->cart_t[root];
    if (scores & ENGINE_FILL_RFM)
        score(g, shop, p);
    if (scores & ENGINE_FILL_CLV)
        engine_clv_score(g, shop, p);
    return 0;
}

int pt_engine_profile_row(struct pt_engine *g, int64_t shop, int64_t row, struct pt_profile *p)
{
    if (row < 1)
        return PT_ENOTFOUND;
    pthread_rwlock_rdlock(&g->lock);
    int rc = engine_fill(g, shop, (size_t)row - 1, engine_now(g), ENGINE_FILL_ALL, p);
    pthread_rwlock_unlock(&g->lock);
    return rc;
}

int pt_engine_profile(struct pt_engine *g, int64_t shop, const char *user_id, int anonymous,
                      struct pt_profile *p)
{
    pthread_rwlock_rdlock(&g->lock);
    int64_t row = pt_state_find(&g->st, (uint32_t)shop, anonymous, user_id, strlen(user_id));
    int rc = row < 0 ? PT_ENOTFOUND
                     : engine_fill(g, shop, (size_t)row, engine_now(g), ENGINE_FILL_ALL, p);
    pthread_rwlock_unlock(&g->lock);
    return rc;
}

void engine_rfm_invalidate(struct pt_engine *g, int64_t shop)
{
    pthread_mutex_lock(&g->rfm_mu);
    for (size_t i = 0; i < g->nrfm; i++)
        if (g->rfm[i].shop == shop)
            snap_free(&g->rfm[i]); /* rebuilt on the next score */
    pthread_mutex_unlock(&g->rfm_mu);
}
