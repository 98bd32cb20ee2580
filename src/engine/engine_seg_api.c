/*
 * engine_seg_api.c - the segments' lifecycle around the live evaluation of
 * engine_seg.c: loading (snapshot + replay of entries and exits, then a
 * reconciliation with the present), built-in segments, snapshots and daily
 * counts, and the reads of engine.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine_int.h"
#include "segment/colev.h"
#include "rfm/rfm.h"
#include "util/mem.h"
#include "util/timeutil.h"

/* ---- per-shop time uses ---- */

struct shop_seg *engine_seg_shop(struct pt_engine *g, uint32_t shop)
{
    for (size_t i = 0; i < g->nshops; i++)
        if (g->shops[i].shop == shop)
            return &g->shops[i];
    return NULL;
}

struct eseg **engine_seg_list(struct pt_engine *g, uint32_t shop, unsigned uses, int64_t id,
                              size_t *n)
{
    struct eseg **list = pt_calloc(g->nseg ? g->nseg : 1, sizeof *list);
    *n = 0;
    for (size_t k = 0; list && k < g->nseg; k++) {
        const struct eseg *sg = &g->segs[k];
        if ((shop == SEG_ANY_SHOP || sg->shop == shop) && (uses == 0 || (sg->tm.uses & uses)) &&
            (id == 0 || sg->id == id))
            list[(*n)++] = &g->segs[k];
    }
    return list;
}

int engine_seg_shop_update(struct pt_engine *g, uint32_t shop)
{
    g->seg_gen++; /* every shop's compiled rules may point into moved segments */
    struct shop_seg *ss = engine_seg_shop(g, shop);
    if (ss == NULL) {
        struct shop_seg *x = pt_realloc_array(g->shops, g->nshops + 1, sizeof *x);
        if (x == NULL)
            return PT_ENOMEM;
        g->shops = x;
        ss = &g->shops[g->nshops++];
        memset(ss, 0, sizeof *ss);
        ss->shop = shop;
    }
    pt_seg_time_release(&ss->tm);
    for (size_t k = 0; k < g->nseg; k++)
        if (g->segs[k].shop == shop && pt_seg_time_merge(&ss->tm, &g->segs[k].tm))
            return PT_ENOMEM;
    return 0;
}

/* ---- segments in memory ---- */

void engine_seg_free(struct eseg *s)
{
    pt_free(s->name);
    pt_free(s->text);
    pt_free(s->builtin);
    pt_rule_free(&s->rule);
    pt_seg_time_release(&s->tm);
    if (s->members)
        roaring_bitmap_free(s->members);
    memset(s, 0, sizeof *s);
}

int engine_seg_add(struct pt_engine *g, const struct pt_seg_row *r, struct eseg **out,
                   struct pt_err *e)
{
    if (g->nseg == g->capseg) {
        size_t nc = g->capseg ? g->capseg * 2 : 32;
        struct eseg *x = pt_realloc_array(g->segs, nc, sizeof *x);
        if (x == NULL)
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        g->segs = x;
        g->capseg = nc;
    }
    struct eseg s;
    memset(&s, 0, sizeof s);
    s.id = r->id;
    s.shop = (uint32_t)r->shop;
    s.created = r->created;
    s.updated = r->updated;
    s.snap_seq = r->members_seq;
    s.name = pt_strndup(r->name, strlen(r->name));
    s.text = pt_strndup(r->rule, strlen(r->rule));
    s.builtin = r->builtin ? pt_strndup(r->builtin, strlen(r->builtin)) : NULL;
    s.members = r->members_len
                    ? roaring_bitmap_portable_deserialize_safe(r->members, r->members_len)
                    : roaring_bitmap_create();
    if (!s.name || !s.text || (r->builtin && !s.builtin) || !s.members) {
        engine_seg_free(&s);
        return pt_err_set(e, PT_ENOMEM, "segment %lld: cannot load its members",
                          (long long)r->id);
    }
    struct pt_err pe;
    if (pt_rule_parse(s.text, strlen(s.text), &s.rule, &pe) ||
        pt_seg_time_uses(&s.rule, &s.tm)) {
        /* saved rules were checked when saved; a language change may reject one */
        int rc = pt_err_set(e, PT_EPARSE, "segment %lld: %s", (long long)r->id, pe.msg);
        engine_seg_free(&s);
        return rc;
    }
    g->segs[g->nseg++] = s;
    if (out)
        *out = &g->segs[g->nseg - 1];
    return engine_seg_shop_update(g, s.shop) ? pt_err_set(e, PT_ENOMEM, "out of memory") : 0;
}

static int snapshot(struct pt_engine *g, struct eseg *const *segs, size_t n, int64_t now,
                    struct pt_err *e);

/* ---- built-in segments ---- */

struct builtin {
    const char *key, *name, *rule;
};
static const struct builtin k_types[] = {
    {"type:best", "Best customers", "rfm.r >= 4 and rfm.f >= 4 and rfm.m >= 4"},
    {"type:regulars", "Regulars",
     "orders >= 4 and median_days_between_orders <= 45 and "
     "days_since_last_order <= 2 * median_days_between_orders"},
    {"type:occasional", "Occasional buyers",
     "orders >= 2 and median_days_between_orders > 45 and days_since_last_order <= 365"},
    {"type:deal_hunters", "Deal hunters", "orders >= 3 and discount_share >= 0.5"},
    {"type:new", "New customers", "orders >= 1 and days_since_first_order <= 30"},
    {"type:lapsed", "Lapsed customers",
     "orders >= 2 and days_since_last_order > 90 and "
     "days_since_last_order > 3 * average_days_between_orders"},
};
#define NTYPES (sizeof k_types / sizeof k_types[0])

static int has_builtin(struct pt_engine *g, uint32_t shop, const char *key)
{
    for (size_t k = 0; k < g->nseg; k++)
        if (g->segs[k].shop == shop && g->segs[k].builtin &&
            strcmp(g->segs[k].builtin, key) == 0)
            return 1;
    return 0;
}

int engine_seg_builtins(struct pt_engine *g, uint32_t shop, int64_t now, struct pt_err *e)
{
    struct shop_seg *ss = engine_seg_shop(g, shop);
    if (ss && ss->builtins)
        return 0;
    size_t first = g->nseg;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < PT_RFM_NSEG + NTYPES; i++) {
        char key[80], name[80], rule[120];
        if (i < PT_RFM_NSEG) {
            snprintf(key, sizeof key, "rfm:%s", pt_rfm_segment_names[i]);
            snprintf(name, sizeof name, "RFM: %s", pt_rfm_segment_names[i]);
            snprintf(rule, sizeof rule, "rfm.segment = \"%s\"", pt_rfm_segment_names[i]);
        } else {
            const struct builtin *b = &k_types[i - PT_RFM_NSEG];
            snprintf(key, sizeof key, "%s", b->key);
            snprintf(name, sizeof name, "%s", b->name);
            snprintf(rule, sizeof rule, "%s", b->rule);
        }
        if (has_builtin(g, shop, key))
            continue;
        struct pt_seg_row r = {.shop = shop, .name = name, .rule = rule, .builtin = key,
                               .created = now, .updated = now};
        if ((rc = pt_store_seg_insert(g->w, &r, &r.id, e)) == 0)
            rc = engine_seg_add(g, &r, NULL, e);
    }
    if (rc == 0 && g->nseg > first) {
        struct eseg **list = pt_calloc(g->nseg - first, sizeof *list);
        if (list == NULL)
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        for (size_t k = first; k < g->nseg; k++)
            list[k - first] = &g->segs[k];
        rc = engine_seg_populate(g, shop, list, g->nseg - first, now, SEG_TIMERS, e);
        /* their first members are recorded without events: a snapshot now, so a
         * crash before the next sweep does not turn them into entries */
        if (rc == 0)
            rc = snapshot(g, list, g->nseg - first, now, e);
        pt_free(list);
    }
    if (rc == 0 && (rc = engine_seg_shop_update(g, shop)) == 0)
        engine_seg_shop(g, shop)->builtins = 1;
    return rc;
}

/* ---- snapshots and daily counts ---- */

/* The recorded membership of segs[0..n) as of the latest event, and today's counts. */
static int snapshot(struct pt_engine *g, struct eseg *const *segs, size_t n, int64_t now,
                    struct pt_err *e)
{
    int64_t seq;
    int rc = pt_store_max_seq(g->w, &seq, e);
    char *buf = NULL;
    size_t cap = 0;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        struct eseg *sg = segs[k];
        size_t need = roaring_bitmap_portable_size_in_bytes(sg->members);
        if (need > cap) {
            char *x = pt_realloc(buf, need);
            if (x == NULL) {
                rc = pt_err_set(e, PT_ENOMEM, "out of memory");
                break;
            }
            buf = x;
            cap = need;
        }
        size_t len = roaring_bitmap_portable_serialize(sg->members, buf);
        if ((rc = pt_store_seg_snapshot(g->w, sg->id, buf, len, seq, e)) == 0)
            rc = pt_store_seg_daily_put(g->w, sg->id, pt_floor_div(now, 86400),
                                        (int64_t)roaring_bitmap_get_cardinality(sg->members),
                                        e);
    }
    pt_free(buf);
    return rc;
}

int engine_seg_snapshot_one(struct pt_engine *g, struct eseg *sg, int64_t now, struct pt_err *e)
{
    return snapshot(g, &sg, 1, now, e);
}

int engine_seg_snapshot_all(struct pt_engine *g, int64_t now, struct pt_err *e)
{
    size_t n;
    struct eseg **list = engine_seg_list(g, SEG_ANY_SHOP, 0, 0, &n);
    if (list == NULL)
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    int rc = snapshot(g, list, n, now, e);
    pt_free(list);
    return rc;
}

/* ---- open and close ---- */

static int load_seg(void *ctx, const struct pt_seg_row *r)
{
    struct pt_engine *g = ctx;
    struct pt_err e;
    if (engine_seg_add(g, r, NULL, &e)) {
        fprintf(stderr, "patron: engine: %s; segment left out\n", e.msg);
        return 0;
    }
    return 0;
}

static int replay_one(void *ctx, int64_t customer, int entered)
{
    struct eseg *sg = ctx;
    if (customer >= 1 && customer <= UINT32_MAX) {
        if (entered)
            roaring_bitmap_add(sg->members, (uint32_t)(customer - 1));
        else
            roaring_bitmap_remove(sg->members, (uint32_t)(customer - 1));
    }
    return 0;
}

static int64_t system_clock(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL);
}

static int shop_seen(void *ctx, const struct pt_shop *sh)
{
    struct pt_engine *g = ctx;
    return engine_seg_shop(g, (uint32_t)sh->id) ? 0 : engine_seg_shop_update(g, (uint32_t)sh->id);
}

int engine_seg_open(struct pt_engine *g, struct pt_err *e)
{
    if (g->clock == NULL)
        g->clock = system_clock;
    if (g->seg_sweep_s <= 0)
        g->seg_sweep_s = 300;
    if (g->srow == NULL && (g->srow = pt_calloc(1, sizeof *g->srow)) != NULL &&
        engine_seg_row_init(g->srow)) {
        engine_seg_row_release(g->srow);
        pt_free(g->srow);
        g->srow = NULL;
    }
    if (g->srow == NULL)
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    int rc = engine_acts_load(g, e);
    if (rc == 0)
        rc = pt_store_seg_load(g->w, load_seg, g, e);
    /* the recorded membership: the snapshot, then the entries and exits after it */
    for (size_t k = 0; rc == 0 && k < g->nseg; k++)
        rc = pt_store_seg_replay(g->w, g->segs[k].id, g->segs[k].snap_seq, replay_one,
                                 &g->segs[k], e);
    if (rc == 0)
        rc = pt_store_shop_list(g->w, shop_seen, g, e);
    /* then the present: built-ins of every shop, and what changed while stopped
     * (days passed, rules changed) is entered or exited now, with events */
    int64_t now = engine_now(g);
    if (rc == 0)
        rc = pt_store_begin(g->w, e);
    for (size_t i = 0; rc == 0 && i < g->nshops; i++) {
        uint32_t shop = g->shops[i].shop;
        if ((rc = engine_seg_builtins(g, shop, now, e)))
            break;
        size_t n;
        struct eseg **list = engine_seg_list(g, shop, 0, 0, &n);
        if (list == NULL) {
            rc = pt_err_set(e, PT_ENOMEM, "out of memory");
            break;
        }
        rc = engine_seg_populate(g, shop, list, n, now, SEG_EMIT | SEG_TIMERS, e);
        pt_free(list);
    }
    if (rc == 0)
        rc = engine_seg_snapshot_all(g, now, e);
    if (rc == 0)
        rc = pt_store_commit(g->w, e);
    else
        pt_store_rollback(g->w);
    g->last_sweep = now;
    return rc;
}

static void release_segs(struct pt_engine *g)
{
    for (size_t k = 0; k < g->nseg; k++)
        engine_seg_free(&g->segs[k]);
    pt_free(g->segs);
    g->segs = NULL;
    g->nseg = g->capseg = 0;
    for (size_t i = 0; i < g->nshops; i++) {
        pt_seg_time_release(&g->shops[i].tm);
        pt_seg_block_free(g->shops[i].blk);
        pt_seg_prog_free(g->shops[i].prog);
        pt_free(g->shops[i].idx);
    }
    pt_free(g->shops);
    g->shops = NULL;
    pt_free(g->hits);
    pt_free(g->brows);
    g->hits = NULL;
    g->brows = NULL;
    g->caphits = 0;
    g->nshops = 0;
    pt_free(g->heap);
    pt_free(g->next_t);
    g->heap = NULL;
    g->next_t = NULL;
    g->nheap = g->capheap = g->next_rows = 0;
    g->nsdirty = 0;
}

int engine_seg_reload(struct pt_engine *g, struct pt_err *e)
{
    release_segs(g);
    return engine_seg_open(g, e);
}

void engine_seg_close(struct pt_engine *g)
{
    if (g->w && g->nseg && g->srow) {
        struct pt_err e;
        int rc = pt_store_begin(g->w, &e);
        if (rc == 0)
            rc = engine_seg_snapshot_all(g, engine_now(g), &e);
        if (rc == 0)
            rc = pt_store_commit(g->w, &e);
        if (rc) {
            pt_store_rollback(g->w);
            fprintf(stderr, "patron: engine: segment snapshot at close: %s\n", e.msg);
        }
    }
    release_segs(g);
    engine_acts_release(g);
    pt_dict_release(&g->dict);
    pt_free(g->sdirty);
    pt_buf_release(&g->sbuf);
    if (g->srow)
        engine_seg_row_release(g->srow);
    pt_free(g->srow);
}

/* ---- reads ---- */

static void info_of(const struct eseg *sg, struct pt_segment_info *i)
{
    *i = (struct pt_segment_info){.id = sg->id, .shop = sg->shop, .name = sg->name,
                                  .rule = sg->text, .builtin = sg->builtin,
                                  .created = sg->created, .updated = sg->updated,
                                  .count = roaring_bitmap_get_cardinality(sg->members)};
}

int pt_engine_segments(struct pt_engine *g, int64_t shop,
                       int (*cb)(void *ctx, const struct pt_segment_info *s), void *ctx)
{
    pthread_rwlock_rdlock(&g->lock);
    int rc = 0;
    /* id order: segments are appended in id order, deletions swap the last in */
    int64_t last = 0;
    for (;;) {
        const struct eseg *best = NULL;
        for (size_t k = 0; k < g->nseg; k++)
            if (g->segs[k].shop == (uint32_t)shop && g->segs[k].id > last &&
                (!best || g->segs[k].id < best->id))
                best = &g->segs[k];
        if (best == NULL || rc)
            break;
        struct pt_segment_info i;
        info_of(best, &i);
        rc = cb(ctx, &i);
        last = best->id;
    }
    pthread_rwlock_unlock(&g->lock);
    return rc;
}

int pt_engine_segment(struct pt_engine *g, int64_t shop, int64_t id,
                      int (*cb)(void *ctx, const struct pt_segment_info *s), void *ctx)
{
    pthread_rwlock_rdlock(&g->lock);
    int rc = PT_ENOTFOUND;
    for (size_t k = 0; k < g->nseg; k++)
        if (g->segs[k].shop == (uint32_t)shop && g->segs[k].id == id) {
            struct pt_segment_info i;
            info_of(&g->segs[k], &i);
            rc = cb(ctx, &i);
            break;
        }
    pthread_rwlock_unlock(&g->lock);
    return rc;
}

static int emit_members(struct pt_engine *g, const roaring_bitmap_t *m, uint64_t after,
                        size_t limit,
                        int (*cb)(void *ctx, const char *cid, size_t len, int anonymous),
                        void *ctx, uint64_t *next)
{
    roaring_uint32_iterator_t it;
    roaring_init_iterator(m, &it);
    if (after > 0 && !roaring_move_uint32_iterator_equalorlarger(&it, (uint32_t)after))
        it.has_value = false;
    size_t n = 0;
    *next = 0;
    int rc = 0;
    for (; it.has_value && rc == 0; roaring_advance_uint32_iterator(&it)) {
        if (n == limit) {
            *next = (uint64_t)it.current_value + 1; /* cursor = row + 1 of the next member */
            break;
        }
        uint32_t row = it.current_value, len;
        if (row >= g->st.n)
            continue;
        const char *id = pt_state_id(&g->st, row, &len);
        rc = cb(ctx, id, len, (g->st.flags[row] & ROW_ANON) != 0);
        n++;
    }
    return rc;
}

int pt_engine_segment_members(struct pt_engine *g, int64_t shop, int64_t id, uint64_t after,
                              size_t limit,
                              int (*cb)(void *ctx, const char *cid, size_t len, int anonymous),
                              void *ctx, uint64_t *next)
{
    pthread_rwlock_rdlock(&g->lock);
    int rc = PT_ENOTFOUND;
    *next = 0;
    for (size_t k = 0; k < g->nseg; k++)
        if (g->segs[k].shop == (uint32_t)shop && g->segs[k].id == id) {
            rc = emit_members(g, g->segs[k].members, after ? after - 1 : 0, limit, cb, ctx,
                              next);
            break;
        }
    pthread_rwlock_unlock(&g->lock);
    return rc;
}

int pt_engine_segment_preview(struct pt_engine *g, int64_t shop, const char *rule, size_t len,
                              size_t sample,
                              int (*cb)(void *ctx, const char *cid, size_t len, int anonymous),
                              void *ctx, uint64_t *count, struct pt_err *e)
{
    struct pt_rule r;
    memset(&r, 0, sizeof r);
    struct pt_seg_time tm;
    memset(&tm, 0, sizeof tm);
    *count = 0;
    int rc = pt_rule_parse(rule, len, &r, e);
    if (rc == 0 && pt_seg_time_uses(&r, &tm))
        rc = pt_err_set(e, PT_ENOMEM, "out of memory");
    if (rc) {
        pt_rule_free(&r);
        pt_seg_time_release(&tm);
        return rc;
    }
    struct pt_store *rd =
        (tm.uses & (PT_SEG_T_TRAITS | PT_SEG_T_PROPS)) ? pt_engine_reader(g) : NULL;
    const struct pt_rule *rules[1] = {&r};
    roaring_bitmap_t *out[1] = {NULL};
    pthread_rwlock_rdlock(&g->lock);
    rc = engine_seg_eval_all(g, (uint32_t)shop, rules, 1, engine_now(g), &tm, rd, out, NULL);
    if (rc == 0) {
        uint64_t nx;
        *count = roaring_bitmap_get_cardinality(out[0]);
        rc = emit_members(g, out[0], 0, sample, cb, ctx, &nx);
    } else {
        pt_err_set(e, rc, "out of memory evaluating the rule");
    }
    pthread_rwlock_unlock(&g->lock);
    if (out[0])
        roaring_bitmap_free(out[0]);
    pt_rule_free(&r);
    pt_seg_time_release(&tm);
    return rc;
}

int pt_engine_tick(struct pt_engine *g)
{
    struct pt_job j;
    memset(&j, 0, sizeof j);
    j.kind = PT_JOB_TICK;
    return pt_engine_run(g, &j);
}
