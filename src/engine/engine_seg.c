/*
 * engine_seg.c - live segment membership on the engine thread.
 *
 * Every group re-evaluates the shop's segments for the profiles its events
 * touched and for the profiles whose timer is due (the first instant a rule's
 * clock-driven value can change for them: a day boundary since the first or
 * last order, a minute of cart idleness, an event leaving a window), inside
 * the group's transaction, so a Segment Entered / Exited event is durable
 * exactly when the change it records is visible. Segments reading RFM or CLV
 * scores are also re-evaluated in full every seg_sweep_s (the shop's
 * boundaries and models move with other customers' orders). See
 * docs/segments.md, "How membership stays exact".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "segment/colev.h"
#include "util/mem.h"
#include "util/timeutil.h"

/* ---- timers: a min-heap of (time, row), stale entries skipped ---- */

static void heap_up(struct seg_timer *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p].t <= h[i].t)
            break;
        struct seg_timer x = h[p];
        h[p] = h[i];
        h[i] = x;
        i = p;
    }
}

static void heap_down(struct seg_timer *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && h[l].t < h[m].t)
            m = l;
        if (l + 1 < n && h[l + 1].t < h[m].t)
            m = l + 1;
        if (m == i)
            return;
        struct seg_timer x = h[m];
        h[m] = h[i];
        h[i] = x;
        i = m;
    }
}

/* Drop stale entries when they dominate. */
static void heap_compact(struct pt_engine *g)
{
    size_t k = 0;
    for (size_t i = 0; i < g->nheap; i++)
        if (g->heap[i].row < g->next_rows && g->next_t[g->heap[i].row] == g->heap[i].t)
            g->heap[k++] = g->heap[i];
    g->nheap = k;
    for (size_t i = k / 2; i-- > 0;)
        heap_down(g->heap, k, i);
}

int engine_seg_timer(struct pt_engine *g, size_t row, int64_t t)
{
    if (row >= g->next_rows) {
        size_t nc = g->next_rows ? g->next_rows : 1024;
        while (nc <= row)
            nc *= 2;
        int64_t *x = pt_realloc_array(g->next_t, nc, sizeof *x);
        if (x == NULL)
            return PT_ENOMEM;
        memset(x + g->next_rows, 0, (nc - g->next_rows) * sizeof *x);
        g->next_t = x;
        g->next_rows = nc;
    }
    if (t == INT64_MAX || t <= 0) {
        g->next_t[row] = 0;
        return 0;
    }
    if (g->next_t[row] == t)
        return 0;
    g->next_t[row] = t;
    if (g->nheap > 1024 && g->nheap > 4 * (g->st.live + 1))
        heap_compact(g);
    if (g->nheap == g->capheap) {
        size_t nc = g->capheap ? g->capheap * 2 : 1024;
        struct seg_timer *h = pt_realloc_array(g->heap, nc, sizeof *h);
        if (h == NULL)
            return PT_ENOMEM;
        g->heap = h;
        g->capheap = nc;
    }
    g->heap[g->nheap] = (struct seg_timer){t, (uint32_t)row};
    heap_up(g->heap, g->nheap++);
    return 0;
}

int engine_seg_mark(struct pt_engine *g, size_t row)
{
    if (g->nsdirty && g->sdirty[g->nsdirty - 1] == row)
        return 0;
    if (g->nsdirty == g->capsdirty) {
        size_t nc = g->capsdirty ? g->capsdirty * 2 : 256;
        size_t *x = pt_realloc_array(g->sdirty, nc, sizeof *x);
        if (x == NULL)
            return PT_ENOMEM;
        g->sdirty = x;
        g->capsdirty = nc;
    }
    g->sdirty[g->nsdirty++] = row;
    return 0;
}

/* ---- entries and exits ---- */

static int seg_event(struct pt_engine *g, const struct eseg *sg, size_t row, int entered,
                     int64_t now, struct pt_err *e)
{
    struct pt_state *st = &g->st;
    char ts[21];
    pt_format_utc(now, ts);
    uint32_t len;
    const char *id = pt_state_id(st, row, &len);
    struct pt_buf *b = &g->sbuf; /* reused: no allocation per event */
    pt_buf_reset(b);
    int bad = pt_buf_adds(b, entered ? "{\"type\":\"track\",\"event\":\"Segment Entered\",\""
                                     : "{\"type\":\"track\",\"event\":\"Segment Exited\",\"") ||
              pt_buf_adds(b, (st->flags[row] & ROW_ANON) ? "anonymousId\":" : "userId\":") ||
              pt_buf_add_json_str(b, id, len) || pt_buf_adds(b, ",\"timestamp\":\"") ||
              pt_buf_adds(b, ts) || pt_buf_adds(b, "\",\"properties\":{\"segment_id\":") ||
              pt_buf_add_i64(b, sg->id) || pt_buf_adds(b, ",\"segment\":") ||
              pt_buf_add_json_str(b, sg->name, strlen(sg->name)) || pt_buf_adds(b, "}}");
    if (bad)
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    int64_t seq;
    double t0 = pt_mono_now();
    int rc = pt_store_seg_event(g->w, st->shop[row], (int64_t)row + 1, st->head[row], sg->id,
                                entered, now, b->data, b->len, &seq, e);
    g->seg_write_s += pt_mono_now() - t0;
    if (rc)
        return rc;
    st->head[row] = seq;
    g->seg_events++;
    return engine_auto_segment(g, sg, row, entered) ? pt_err_set(e, PT_ENOMEM, "out of memory")
                                                    : 0;
}

static int set_member(struct pt_engine *g, struct eseg *sg, size_t row, int in, int64_t now,
                      int emit, struct pt_err *e)
{
    int was = roaring_bitmap_contains(sg->members, (uint32_t)row);
    if (was == !!in)
        return 0;
    if (in)
        roaring_bitmap_add(sg->members, (uint32_t)row);
    else
        roaring_bitmap_remove(sg->members, (uint32_t)row);
    return emit ? seg_event(g, sg, row, in, now, e) : 0;
}

/* A row that is no customer of its own: erased (out of everything, silently:
 * its timeline is gone) or merged into another profile (which is the customer
 * now: exits, with events). 1 if row was such a row. */
static int eval_gone(struct pt_engine *g, size_t row, int64_t now, struct pt_err *e, int *rc)
{
    struct pt_state *st = &g->st;
    int gone = (st->flags[row] & (ROW_PRESENT | ROW_ERASED)) != ROW_PRESENT;
    *rc = 0;
    if (!gone && st->parent[row] == 0)
        return 0;
    for (size_t k = 0; k < g->nseg && *rc == 0; k++) {
        struct eseg *sg = &g->segs[k];
        if (gone)
            roaring_bitmap_remove(sg->members, (uint32_t)row);
        else if (sg->shop == st->shop[row])
            *rc = set_member(g, sg, row, 0, now, 1, e);
    }
    if (*rc == 0 && engine_seg_timer(g, row, 0))
        *rc = pt_err_set(e, PT_ENOMEM, "out of memory");
    return 1;
}

/* The shop's segments compiled (rebuilt when any segment changed). */
static struct shop_seg *shop_prog(struct pt_engine *g, uint32_t shop, int64_t now,
                                  struct pt_err *e, int *rc)
{
    struct shop_seg *ss = engine_seg_shop(g, shop);
    *rc = 0;
    /* a shop's first customers (a shop made while running): its built-ins now,
     * without this group's customers, who enter them below with events */
    if (ss == NULL || !ss->builtins) {
        size_t first = g->nseg;
        if ((*rc = engine_seg_builtins(g, shop, now, e)))
            return NULL;
        for (size_t k = first; k < g->nseg; k++)
            for (size_t i = 0; i < g->nsdirty; i++)
                if (g->sdirty[i] < g->st.n && g->st.shop[g->sdirty[i]] == shop)
                    roaring_bitmap_remove(g->segs[k].members, (uint32_t)g->sdirty[i]);
    }
    ss = engine_seg_shop(g, shop);
    if (ss == NULL) {
        *rc = pt_err_set(e, PT_ENOMEM, "out of memory");
        return NULL;
    }
    if (ss->prog && ss->gen == g->seg_gen)
        return ss;
    pt_seg_block_free(ss->blk);
    pt_seg_prog_free(ss->prog);
    ss->blk = NULL;
    ss->prog = NULL;
    ss->nidx = 0;
    size_t *idx = pt_realloc_array(ss->idx, g->nseg ? g->nseg : 1, sizeof *idx);
    const struct pt_rule **rules = pt_calloc(g->nseg ? g->nseg : 1, sizeof *rules);
    if (idx)
        ss->idx = idx;
    if (idx && rules) {
        for (size_t k = 0; k < g->nseg; k++)
            if (g->segs[k].shop == shop) {
                rules[ss->nidx] = &g->segs[k].rule;
                idx[ss->nidx++] = k;
            }
        if (pt_seg_prog_new(rules, ss->nidx, &ss->prog) == 0)
            ss->blk = pt_seg_block_new(ss->prog);
    }
    pt_free(rules);
    size_t need = (ss->nidx ? ss->nidx : 1) * PT_SEG_BLOCK;
    if (need > g->caphits) {
        uint8_t *h = pt_realloc(g->hits, need);
        if (h) {
            g->hits = h;
            g->caphits = need;
        }
    }
    if (g->brows == NULL)
        g->brows = pt_alloc_array(PT_SEG_BLOCK, sizeof *g->brows);
    if (!ss->blk || !g->brows || g->caphits < need) {
        *rc = pt_err_set(e, PT_ENOMEM, "out of memory");
        return NULL;
    }
    ss->gen = g->seg_gen;
    return ss;
}

static void live_hit(void *ctx, size_t rule, size_t row)
{
    struct pt_engine *g = ctx;
    g->hits[rule * PT_SEG_BLOCK + row] = 1;
}

/* Evaluate rows[0..m) (roots of one shop) against all its segments at once. */
static int eval_block(struct pt_engine *g, struct shop_seg *ss, size_t m, int64_t now,
                      struct pt_err *e)
{
    struct seg_row *r = g->srow;
    unsigned flags = engine_seg_fill_flags(&ss->tm);
    for (size_t i = 0; i < m; i++) {
        if (engine_seg_row(g, r, ss->shop, g->brows[i], now, flags, g->w))
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        pt_seg_block_row(ss->blk, r->x, i);
        if (engine_seg_timer(g, g->brows[i], pt_seg_next_change(r->x, &ss->tm)))
            return pt_err_set(e, PT_ENOMEM, "out of memory");
    }
    memset(g->hits, 0, ss->nidx * PT_SEG_BLOCK);
    pt_seg_block_run(ss->blk, m, live_hit, g);
    int rc = 0;
    for (size_t k = 0; k < ss->nidx && rc == 0; k++) {
        struct eseg *sg = &g->segs[ss->idx[k]];
        const uint8_t *h = g->hits + k * PT_SEG_BLOCK;
        for (size_t i = 0; i < m && rc == 0; i++)
            rc = set_member(g, sg, g->brows[i], h[i], now, 1, e);
    }
    return rc;
}

static int cmp_shop_row(const void *a, const void *b, void *state)
{
    const struct pt_state *st = state;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    uint32_t sx = st->shop[x], sy = st->shop[y];
    if (sx != sy)
        return sx < sy ? -1 : 1;
    return (x > y) - (x < y);
}

/* Every row in sdirty once, by shop: the gone ones, then each shop's roots in
 * blocks. */
static int eval_dirty(struct pt_engine *g, int64_t now, struct pt_err *e)
{
    struct pt_state *st = &g->st;
    size_t k = 0;
    for (size_t i = 0; i < g->nsdirty; i++)
        if (g->sdirty[i] < st->n)
            g->sdirty[k++] = g->sdirty[i];
    g->nsdirty = k;
    if (g->nsdirty > 1)
        qsort_r(g->sdirty, g->nsdirty, sizeof *g->sdirty, cmp_shop_row, st);
    int rc = 0;
    struct shop_seg *ss = NULL;
    size_t m = 0;
    for (size_t i = 0; rc == 0 && i < g->nsdirty; i++) {
        size_t row = g->sdirty[i];
        if (i > 0 && row == g->sdirty[i - 1])
            continue;
        if (eval_gone(g, row, now, e, &rc))
            continue;
        if (ss && (ss->shop != st->shop[row] || m == PT_SEG_BLOCK)) {
            rc = eval_block(g, ss, m, now, e);
            m = 0;
            ss = NULL;
        }
        if (rc == 0 && ss == NULL)
            ss = shop_prog(g, st->shop[row], now, e, &rc);
        if (rc == 0)
            g->brows[m++] = (uint32_t)row;
    }
    if (rc == 0 && ss && m)
        rc = eval_block(g, ss, m, now, e);
    g->nsdirty = 0;
    return rc;
}

/* Full evaluation of segs[0..n) (one shop). how: SEG_EMIT writes an event for
 * every change (a sweep, a changed rule) or not (a new segment's first
 * members); SEG_TIMERS sets every profile's timer from the shop's time uses
 * (needed when they grew; otherwise the timers already cover these rules). */
int engine_seg_populate(struct pt_engine *g, uint32_t shop, struct eseg **segs, size_t n,
                        int64_t now, int how, struct pt_err *e)
{
    struct shop_seg *ss = engine_seg_shop(g, shop);
    if (n == 0 || ss == NULL)
        return 0;
    int emit = (how & SEG_EMIT) != 0;
    const struct pt_rule **rules = pt_calloc(n, sizeof *rules);
    roaring_bitmap_t **out = pt_calloc(n, sizeof *out);
    int64_t *next = (how & SEG_TIMERS) ? pt_calloc(g->st.n ? g->st.n : 1, sizeof *next) : NULL;
    int rc = rules && out && (next || !(how & SEG_TIMERS)) ? 0 : PT_ENOMEM;
    struct pt_seg_time own = {0}; /* what these rules read (no timers: no windows needed) */
    for (size_t k = 0; rc == 0 && k < n; k++) {
        rules[k] = &segs[k]->rule;
        own.uses |= segs[k]->tm.uses;
    }
    if (rc == 0)
        rc = engine_seg_eval_all(g, shop, rules, n, now, next ? &ss->tm : &own, g->w, out, next);
    if (rc)
        pt_err_set(e, rc, "out of memory evaluating segments");
    for (size_t k = 0; rc == 0 && k < n; k++) {
        struct eseg *sg = segs[k];
        if (emit) {
            roaring_bitmap_t *in = roaring_bitmap_andnot(out[k], sg->members);
            roaring_bitmap_t *gone = roaring_bitmap_andnot(sg->members, out[k]);
            roaring_uint32_iterator_t it;
            for (int side = 0; side < 2 && rc == 0 && in && gone; side++) {
                roaring_init_iterator(side ? gone : in, &it);
                for (; it.has_value && rc == 0; roaring_advance_uint32_iterator(&it)) {
                    uint32_t row = it.current_value;
                    /* an erased customer (recorded before the erasure) leaves silently */
                    if (row < g->st.n &&
                        (g->st.flags[row] & (ROW_PRESENT | ROW_ERASED)) == ROW_PRESENT)
                        rc = seg_event(g, sg, row, !side, now, e);
                }
            }
            if (!in || !gone)
                rc = pt_err_set(e, PT_ENOMEM, "out of memory");
            if (in)
                roaring_bitmap_free(in);
            if (gone)
                roaring_bitmap_free(gone);
        }
        roaring_bitmap_free(sg->members);
        sg->members = out[k];
        out[k] = NULL;
    }
    for (size_t row = 0; rc == 0 && next && row < g->st.n; row++)
        if (g->st.shop[row] == shop && next[row] &&
            (rc = engine_seg_timer(g, row, next[row])))
            pt_err_set(e, rc, "out of memory");
    for (size_t k = 0; out && k < n; k++)
        if (out[k])
            roaring_bitmap_free(out[k]);
    pt_free(rules);
    pt_free(out);
    pt_free(next);
    return rc;
}

/* Sweep: segments reading RFM or CLV scores, in full, with events. */
static int sweep(struct pt_engine *g, int64_t now, struct pt_err *e)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < g->nshops; i++) {
        uint32_t shop = g->shops[i].shop;
        size_t n;
        struct eseg **list = engine_seg_list(g, shop, PT_SEG_T_RFM | PT_SEG_T_CLV, 0, &n);
        rc = list ? engine_seg_populate(g, shop, list, n, now, SEG_EMIT, e)
                  : pt_err_set(e, PT_ENOMEM, "out of memory");
        pt_free(list);
    }
    if (rc == 0)
        rc = engine_seg_snapshot_all(g, now, e);
    g->last_sweep = now;
    return rc;
}

int engine_seg_due(struct pt_engine *g)
{
    if (g->nseg == 0)
        return 0;
    int64_t now = engine_now(g);
    return (g->nheap && g->heap[0].t <= now) || now - g->last_sweep >= g->seg_sweep_s;
}


/* The group's segment work (engine thread, write lock, inside the transaction):
 * the rows the group touched and those whose timer is due, together. */
int engine_seg_group(struct pt_engine *g, int64_t now, struct pt_err *e)
{
    int rc = 0;
    while (rc == 0 && g->nheap && g->heap[0].t <= now) {
        struct seg_timer t = g->heap[0];
        g->heap[0] = g->heap[--g->nheap];
        heap_down(g->heap, g->nheap, 0);
        if (t.row < g->next_rows && g->next_t[t.row] == t.t) {
            g->next_t[t.row] = 0;
            rc = engine_seg_mark(g, t.row);
        }
    }
    if (rc)
        return pt_err_set(e, rc, "out of memory");
    if ((rc = eval_dirty(g, now, e)))
        return rc;
    if (g->nseg && now - g->last_sweep >= g->seg_sweep_s)
        rc = sweep(g, now, e);
    return rc;
}

/* ---- jobs: create, update, delete, refresh ---- */

static struct eseg *find_seg(struct pt_engine *g, int64_t shop, int64_t id)
{
    for (size_t k = 0; k < g->nseg; k++)
        if (g->segs[k].id == id && g->segs[k].shop == (uint32_t)shop)
            return &g->segs[k];
    return NULL;
}

/* 1 if rule r reads something with time the shop's timers do not cover yet
 * (the timers must then be recomputed), 0 if not, -1 on ENOMEM. */
static int grows(const struct shop_seg *ss, const struct pt_rule *r)
{
    struct pt_seg_time t = {0};
    if (pt_seg_time_uses(r, &t)) {
        pt_seg_time_release(&t);
        return -1;
    }
    int more = ss == NULL || !pt_seg_time_covers(&ss->tm, &t);
    pt_seg_time_release(&t);
    return more;
}

static int job_fail(struct pt_job *j, int rc, const char *msg)
{
    j->rc = rc;
    size_t n = strlen(msg) < sizeof j->msg - 1 ? strlen(msg) : sizeof j->msg - 1;
    memcpy(j->msg, msg, n);
    j->msg[n] = '\0';
    return 0;
}

int engine_seg_job(struct pt_engine *g, struct pt_job *j, int64_t now, struct pt_err *e)
{
    uint32_t shop = (uint32_t)j->shop;
    int rc;
    pt_err_clear(&j->seg_err);
    if (j->seg_op == PT_SEG_REFRESH) {
        size_t n;
        struct eseg **list = engine_seg_list(g, shop, 0, j->seg_id, &n);
        if (list == NULL)
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        engine_rfm_invalidate(g, shop);
        rc = n || j->seg_id == 0 ? engine_seg_populate(g, shop, list, n, now, SEG_EMIT, e) : 0;
        pt_free(list);
        if (rc == 0 && n == 0 && j->seg_id)
            job_fail(j, PT_ENOTFOUND, "no segment with that id");
        return rc;
    }
    if (j->seg_op == PT_SEG_CREATE) {
        struct pt_rule chk;
        memset(&chk, 0, sizeof chk);
        if (pt_rule_parse(j->seg_rule, strlen(j->seg_rule), &chk, &j->seg_err)) {
            pt_rule_free(&chk);
            return job_fail(j, PT_EPARSE, j->seg_err.msg);
        }
        if ((rc = engine_seg_builtins(g, shop, now, e))) {
            pt_rule_free(&chk);
            return rc;
        }
        int timers = grows(engine_seg_shop(g, shop), &chk);
        pt_rule_free(&chk);
        if (timers < 0)
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        struct pt_seg_row r = {.shop = shop, .name = j->seg_name, .rule = j->seg_rule,
                               .created = now, .updated = now};
        if ((rc = pt_store_seg_insert(g->w, &r, &r.id, e)))
            return rc;
        struct eseg *sg;
        if ((rc = engine_seg_add(g, &r, &sg, e)) ||
            (rc = engine_seg_populate(g, shop, &sg, 1, now, timers ? SEG_TIMERS : 0, e)))
            return rc;
        j->seg_id = r.id;
        /* the first members have no events: recorded by a snapshot (and today's count) */
        return engine_seg_snapshot_one(g, sg, now, e);
    }
    struct eseg *sg = find_seg(g, shop, j->seg_id);
    if (sg == NULL)
        return job_fail(j, PT_ENOTFOUND, "no segment with that id");
    if (sg->builtin)
        return job_fail(j, PT_EINVAL, "built-in segments cannot be changed or deleted");
    if (j->seg_op == PT_SEG_DELETE) {
        if ((rc = pt_store_seg_delete(g->w, sg->id, e)))
            return rc;
        engine_seg_free(sg);
        *sg = g->segs[--g->nseg];
        return engine_seg_shop_update(g, shop) ? pt_err_set(e, PT_ENOMEM, "out of memory") : 0;
    }
    /* update: a new rule replaces the members; entries and exits are events */
    struct pt_rule nr;
    memset(&nr, 0, sizeof nr);
    if (j->seg_rule && pt_rule_parse(j->seg_rule, strlen(j->seg_rule), &nr, &j->seg_err)) {
        pt_rule_free(&nr);
        return job_fail(j, PT_EPARSE, j->seg_err.msg);
    }
    char *name = j->seg_name ? pt_strndup(j->seg_name, strlen(j->seg_name)) : NULL;
    char *text = j->seg_rule ? pt_strndup(j->seg_rule, strlen(j->seg_rule)) : NULL;
    if ((j->seg_name && !name) || (j->seg_rule && !text)) {
        pt_free(name);
        pt_free(text);
        pt_rule_free(&nr);
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    }
    struct pt_seg_row r = {.id = sg->id, .shop = shop, .name = name ? name : sg->name,
                           .rule = text ? text : sg->text, .created = sg->created, .updated = now};
    if ((rc = pt_store_seg_update(g->w, &r, e))) {
        pt_free(name);
        pt_free(text);
        pt_rule_free(&nr);
        return rc;
    }
    if (name) {
        pt_free(sg->name);
        sg->name = name;
    }
    sg->updated = now;
    if (text) {
        pt_free(sg->text);
        sg->text = text;
        int timers = grows(engine_seg_shop(g, shop), &nr);
        pt_rule_free(&sg->rule);
        sg->rule = nr;
        pt_seg_time_release(&sg->tm);
        if (timers < 0 || pt_seg_time_uses(&sg->rule, &sg->tm) ||
            engine_seg_shop_update(g, shop))
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        if ((rc = engine_seg_populate(g, shop, &sg, 1, now, SEG_EMIT | (timers ? SEG_TIMERS : 0),
                                      e)))
            return rc;
        return pt_store_seg_daily_put(g->w, sg->id, pt_floor_div(now, 86400),
                                      (int64_t)roaring_bitmap_get_cardinality(sg->members), e);
    }
    return 0;
}
