/*
 * engine_auto_step.c - who has been in an automation (auto_seen), and a
 * run's steps (docs/automation.md "Steps"), taken on the engine thread
 * inside the group's transaction until the run waits or ends: branches on
 * the segment language, loyalty points, vouchers from a reward or a pool,
 * tags, and messages and webhooks into the outbox (engine_auto_msg.c).
 * Compiled programs only jump forward, so a run takes at most its
 * program's length of steps at a time.
 */
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"
#include "util/mem.h"
#include "util/timeutil.h"

#define DAY 86400

/* ---- who has been in an automation ---- */

struct auto_seen *engine_auto_seen(struct eauto *a, uint32_t row, int add)
{
    if (a->capseen == 0 || (add && (a->nseen + 1) * 4 > a->capseen * 3)) {
        if (!add)
            return NULL;
        size_t nc = a->capseen ? a->capseen * 2 : 1024;
        struct auto_seen *x = pt_calloc(nc, sizeof *x);
        if (x == NULL)
            return NULL;
        for (size_t i = 0; i < a->capseen; i++) {
            if (a->seen[i].row1 == 0)
                continue;
            size_t k = (a->seen[i].row1 * 2654435761u) & (nc - 1);
            while (x[k].row1)
                k = (k + 1) & (nc - 1);
            x[k] = a->seen[i];
        }
        pt_free(a->seen);
        a->seen = x;
        a->capseen = nc;
    }
    uint32_t r1 = row + 1;
    size_t k = (r1 * 2654435761u) & (a->capseen - 1);
    while (a->seen[k].row1 && a->seen[k].row1 != r1)
        k = (k + 1) & (a->capseen - 1);
    if (a->seen[k].row1 == r1)
        return &a->seen[k];
    if (!add)
        return NULL;
    a->seen[k].row1 = r1;
    a->nseen++;
    return &a->seen[k];
}

/* The cache slot of rule r: the profile parts and the time it reads (for
 * the last few rules). */
static size_t rule_slot(struct pt_engine *g, const struct pt_rule *r)
{
    size_t k = ((uintptr_t)r >> 4) % 16;
    if (g->cf_rule[k] == r)
        return k;
    pt_seg_time_release(&g->cf_time[k]);
    memset(&g->cf_time[k], 0, sizeof g->cf_time[k]);
    if (pt_seg_time_uses(r, &g->cf_time[k])) {
        pt_seg_time_release(&g->cf_time[k]);
        memset(&g->cf_time[k], 0, sizeof g->cf_time[k]);
        g->cf_time[k].uses = PT_SEG_T_RFM | PT_SEG_T_CLV; /* (out of memory: assume the worst) */
        g->cf_flags[k] = ENGINE_FILL_ALL;
    } else {
        g->cf_flags[k] = engine_seg_fill_flags(&g->cf_time[k]);
    }
    g->cf_rule[k] = r;
    return k;
}

static unsigned fill_flags(struct pt_engine *g, const struct pt_rule *r)
{
    return g->cf_flags[rule_slot(g, r)];
}

int64_t engine_auto_cond_next(struct pt_engine *g, const struct pt_rule *r, int64_t now)
{
    const struct pt_seg_time *t = &g->cf_time[rule_slot(g, r)];
    if (t->uses & (PT_SEG_T_RFM | PT_SEG_T_CLV | PT_SEG_T_LOTS) || g->auto_srow == NULL)
        return (pt_floor_div(now, 86400) + 1) * 86400; /* (scores, refits, lots: tomorrow) */
    return pt_seg_next_change(g->auto_srow->x, t);
}

int engine_auto_cond(struct pt_engine *g, uint32_t shop, size_t row, const struct pt_rule *r,
                     int64_t now, int *match, struct pt_err *e)
{
    /* one scratch for every condition (engine thread): a context is costly to make */
    int rc = 0;
    if (g->auto_srow == NULL) {
        struct seg_row *n = pt_malloc(sizeof *n);
        if (n == NULL || (rc = engine_seg_row_init(n))) {
            if (n)
                engine_seg_row_release(n);
            pt_free(n);
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        }
        g->auto_srow = n;
    }
    struct seg_row *sr = g->auto_srow;
    if (rc == 0)
        rc = engine_seg_row(g, sr, shop, row, now, fill_flags(g, r), g->w);
    *match = 0;
    if (rc == 0)
        rc = pt_seg_match(sr->x, r, match);
    if (rc == PT_ENOTFOUND)
        return 0;
    return rc ? pt_err_set(e, rc, "out of memory") : 0;
}

static int step_points(struct pt_engine *g, struct arun *r, const struct pt_auto_step *s,
                       int64_t now, struct pt_err *e)
{
    struct loy_prog *lp = engine_loy_prog(g, r->shop);
    if ((g->st.flags[r->row] & ROW_ANON) || lp == NULL || !lp->p.enabled)
        return 0; /* anonymous profiles are not members; no programme, no points */
    struct loy_acct *a;
    int rc = engine_loy_member(g, r->shop, r->row, now, &a, e);
    if (rc == PT_ENOTFOUND)
        return 0; /* no programme: nothing to award */
    if (rc)
        return rc;
    char idem[64], ref[48];
    snprintf(idem, sizeof idem, "auto:%lld:%d", (long long)r->id, r->pc);
    snprintf(ref, sizeof ref, "automation:%lld", (long long)r->auto_id);
    int64_t id;
    int dup;
    int64_t pts = s->points;
    if (pts < 0 && a->balance + pts < 0)
        pts = -a->balance; /* (takes no more than the balance) */
    if (pts == 0)
        return 0;
    return engine_loy_entry(g, a, pts > 0 ? PT_LOY_EARN : PT_LOY_ADJUST, pts, now, 0, s->reason,
                            ref, idem, &id, &dup, e);
}

static int step_voucher(struct pt_engine *g, struct arun *r, const struct pt_auto_step *s,
                        int64_t now, struct pt_err *e)
{
    r->voucher[0] = '\0';
    if (s->pool)
        return pt_store_pool_take(g->w, r->shop, s->pool, (int64_t)r->row + 1, r->voucher, e);
    struct loy_reward *w = engine_loy_reward_of(g, r->shop, s->reward);
    if (w == NULL || !w->active || w->r.stock == 0 || (w->r.valid_from && now < w->r.valid_from) ||
        (w->r.valid_to && now >= w->r.valid_to))
        return 0; /* nothing to give: later messages show no code */
    struct pt_voucher_row v;
    int rc =
        engine_loy_issue_voucher(g, r->shop, &w->r.voucher, (int64_t)r->row + 1, 0, 0, now, &v, e);
    if (rc)
        return rc;
    if (w->r.stock > 0) {
        w->r.stock--;
        if ((rc = pt_store_loy_reward_stock(g->w, w->id, w->r.stock, e)))
            return rc;
    }
    snprintf(r->voucher, sizeof r->voucher, "%s", v.code);
    return 0;
}

/* The run ends: done (or failed). */
static int run_end(struct pt_engine *g, uint32_t k, int state, int64_t now, struct pt_err *e)
{
    struct arun *r = &g->runs[k];
    struct eauto *a = engine_auto_find(g, r->shop, r->auto_id);
    struct auto_seen *sn = a ? engine_auto_seen(a, r->row, 0) : NULL;
    if (sn)
        sn->active = 0;
    struct pt_auto_run_row rr = {.id = r->id,
                                 .state = state,
                                 .pc = r->pc,
                                 .flags = r->flags,
                                 .ended = now,
                                 .voucher = r->voucher};
    int rc = pt_store_run_update(g->w, &rr, e);
    engine_auto_run_drop(g, k);
    return rc;
}

int engine_auto_exec(struct pt_engine *g, uint32_t k, int64_t now, struct pt_err *e)
{
    int rc = 0;
    for (size_t guard = 0; rc == 0 && guard <= PT_AUTO_MAX_STEPS; guard++) {
        struct arun *r = &g->runs[k];
        const struct pt_auto_def *d = r->def;
        if (r->pc < 0 || (size_t)r->pc >= d->nsteps)
            return run_end(g, k, PT_RUN_FAILED, now, e);
        const struct pt_auto_step *s = &d->steps[r->pc];
        int match;
        switch (s->op) {
        case PT_AOP_END:
            return run_end(g, k, PT_RUN_DONE, now, e);
        case PT_AOP_WAIT:
        case PT_AOP_WAIT_EVENT: {
            r->wake = now + s->dur;
            struct pt_auto_run_row rr = {.id = r->id,
                                         .state = PT_RUN_ACTIVE,
                                         .pc = r->pc,
                                         .flags = r->flags,
                                         .wake = r->wake,
                                         .voucher = r->voucher};
            if ((rc = pt_store_run_update(g->w, &rr, e)))
                return rc;
            return engine_auto_run_push(g, k) ? pt_err_set(e, PT_ENOMEM, "out of memory") : 0;
        }
        case PT_AOP_BRANCH:
            if ((rc = engine_auto_cond(g, r->shop, r->row, &s->cond, now, &match, e)))
                return rc;
            r->pc = match ? r->pc + 1 : (int)s->alt;
            continue;
        case PT_AOP_JUMP:
            r->pc = (int)s->alt;
            continue;
        case PT_AOP_SEND:
        case PT_AOP_WEBHOOK:
            rc = engine_auto_send(g, r, s, now, e);
            break;
        case PT_AOP_POINTS:
            rc = step_points(g, r, s, now, e);
            break;
        case PT_AOP_VOUCHER:
            rc = step_voucher(g, r, s, now, e);
            break;
        case PT_AOP_TAG:
            rc = pt_store_tag(g->w, r->shop, (int64_t)r->row + 1, s->tag, s->tag_add, now, e);
            break;
        default:
            return run_end(g, k, PT_RUN_FAILED, now, e);
        }
        g->runs[k].pc++;
    }
    return rc;
}
