/*
 * engine_apply.c - one group commit: every job of the group written to the
 * store and applied to memory in one transaction (see engine.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/engine_int.h"
#include "util/mem.h"
#include "util/timeutil.h"

struct grp_ctx {
    struct pt_engine *g;
    int64_t now;   /* received */
    int64_t clock; /* segments' now (the engine's clock) */
    double seg_seconds, seg_eval_seconds;
    struct pt_err e;
};

static int mark_dirty(struct pt_engine *g, size_t row)
{
    if (engine_seg_mark(g, row))
        return PT_ENOMEM;
    for (size_t i = g->ndirty; i > 0 && i + 8 > g->ndirty; i--) /* cheap recent check */
        if (g->dirty[i - 1] == row)
            return 0;
    if (g->ndirty == g->capdirty) {
        size_t nc = g->capdirty ? g->capdirty * 2 : 256;
        size_t *x = pt_realloc_array(g->dirty, nc, sizeof *x);
        if (x == NULL)
            return PT_ENOMEM;
        g->dirty = x;
        g->capdirty = nc;
    }
    g->dirty[g->ndirty++] = row;
    return 0;
}

static struct pt_cust_row row_of(const struct pt_state *s, size_t row)
{
    return (struct pt_cust_row){.id = (int64_t)row + 1,
                                .shop = s->shop[row],
                                .kind = (s->flags[row] & ROW_ANON) ? PT_CUST_ANON : PT_CUST_USER,
                                .merged_into = s->parent[row],
                                .consent = s->consent[row],
                                .consent_set = s->consent_set[row],
                                .split = (s->flags[row] & ROW_SPLIT) != 0,
                                .cart_value = s->cart_value[row],
                                .cart_since = s->cart_since[row],
                                .cart_t = s->cart_t[row]};
}

/* New row for (shop, anon, id), optionally linked under `into` (>= 0). */
static int create_row(struct grp_ctx *c, uint32_t shop, int anon, const char *id, int64_t into,
                      size_t *out)
{
    struct pt_engine *g = c->g;
    size_t row = g->next_row;
    int rc = pt_state_add(&g->st, row, shop, anon, id, strlen(id));
    if (rc)
        return pt_err_set(&c->e, rc, "out of memory");
    g->next_row++;
    if (into >= 0)
        pt_state_link(&g->st, (size_t)into, row);
    struct pt_cust_row r = row_of(&g->st, row);
    r.ext_id = id;
    r.created = c->now;
    *out = row;
    return pt_store_customer_insert(g->w, &r, &c->e);
}

int engine_user_row(struct pt_engine *g, uint32_t shop, const char *id, int64_t now, size_t *row,
                    struct pt_err *e)
{
    struct grp_ctx c = {.g = g, .now = now, .clock = now};
    int rc = create_row(&c, shop, 0, id, -1, row);
    if (rc && e)
        *e = c.e;
    return rc;
}

static size_t tree_size(const struct pt_state *s, size_t root)
{
    size_t tmp[1];
    return pt_state_tree(s, root, tmp, 0);
}

/* Merge the profile rooted at `from` under row `into`; logged. */
static int merge(struct grp_ctx *c, uint32_t shop, size_t into, size_t from, const char *reason,
                 int64_t t)
{
    struct pt_state *s = &c->g->st;
    if (pt_state_root(s, into) == from || s->parent[from])
        return 0;
    if (tree_size(s, pt_state_root(s, into)) + tree_size(s, from) > PT_STATE_MAX_TREE)
        return 0; /* documented limit: the identity stays a profile of its own */
    pt_state_link(s, into, from);
    /* the profile's cart is the newer of the two (a visitor's cart survives login);
     * the merged identity keeps its own copy, so an unmerge gives it back */
    size_t root = pt_state_root(s, into);
    if (s->cart_t[from] > s->cart_t[root] && s->cart_value[from] > 0) {
        s->cart_value[root] = s->cart_value[from];
        s->cart_since[root] = s->cart_since[from];
        s->cart_t[root] = s->cart_t[from];
        if (mark_dirty(c->g, root))
            return pt_err_set(&c->e, PT_ENOMEM, "out of memory");
    }
    int rc = mark_dirty(c->g, from);
    if (rc)
        return pt_err_set(&c->e, rc, "out of memory");
    if (c->g->nautos && (rc = engine_auto_merge(c->g, from, root, c->clock, &c->e)))
        return rc;
    return pt_store_merge_insert(c->g->w, shop, (int64_t)into + 1, (int64_t)from + 1, t, reason,
                                 NULL, &c->e);
}

static int link_identity(struct grp_ctx *c, uint32_t shop, size_t user, const char *other,
                         int alias, int64_t t)
{
    struct pt_state *s = &c->g->st;
    int64_t a = pt_state_find(s, shop, 1, other, strlen(other));
    if (a < 0 && alias)
        a = pt_state_find(s, shop, 0, other, strlen(other));
    if (a < 0) {
        size_t row;
        if (tree_size(s, pt_state_root(s, user)) + 1 > PT_STATE_MAX_TREE)
            return 0; /* over the limit: not linked (its own events make their own profile) */
        int rc = create_row(c, shop, 1, other, (int64_t)user, &row);
        if (rc)
            return rc;
        return pt_store_merge_insert(c->g->w, shop, (int64_t)user + 1, (int64_t)row + 1, t,
                                     alias ? "alias" : "identify", NULL, &c->e);
    }
    if (!alias && (s->flags[a] & ROW_SPLIT))
        return 0; /* a merge of it was undone: only an explicit alias merges it again */
    size_t ra = pt_state_root(s, (size_t)a);
    if (!alias && (size_t)a != ra)
        return 0; /* already part of another profile: first identification wins */
    return merge(c, shop, user, ra, alias ? "alias" : "identify", t);
}

static void apply_cart(struct pt_state *s, size_t r, const struct pt_event *ev)
{
    int64_t v = s->cart_value[r];
    if (ev->t < s->cart_t[r])
        return; /* older than the cart's last change (a late event, an imported order) */
    switch (ev->kind) {
    case PT_K_PRODUCT_ADDED:
        if (v == 0)
            s->cart_since[r] = ev->t;
        if (__builtin_add_overflow(v, ev->amount, &v))
            v = INT64_MAX;
        break;
    case PT_K_PRODUCT_REMOVED:
        v = v > ev->amount ? v - ev->amount : 0;
        break;
    case PT_K_CART_VIEWED:
    case PT_K_CHECKOUT_STARTED:
        if (!ev->has_amount)
            return;
        if (v == 0)
            s->cart_since[r] = ev->t;
        v = ev->amount;
        break;
    case PT_K_ORDER_COMPLETED:
        v = 0;
        break;
    default:
        return;
    }
    if (v == 0)
        s->cart_since[r] = 0;
    s->cart_value[r] = v;
    s->cart_t[r] = ev->t;
}

/* One event. *status: PT_EV_ACCEPTED or PT_EV_DUPLICATE. Store errors abort the group. */
static int apply_event(struct grp_ctx *c, int64_t shop64, const struct pt_event *ev,
                       uint8_t *status)
{
    struct pt_engine *g = c->g;
    struct pt_state *s = &g->st;
    uint32_t shop = (uint32_t)shop64;
    int anon = ev->user_id == NULL;
    const char *id = anon ? ev->anonymous_id : ev->user_id;
    int64_t found = pt_state_find(s, shop, anon, id, strlen(id));
    size_t target = found >= 0 ? (size_t)found : g->next_row;
    int64_t seq;
    int dup, rc;
    *status = PT_EV_DUPLICATE;
    int64_t prev = found >= 0 ? s->head[target] : 0;
    if ((rc = pt_store_event_insert(g->w, shop64, (int64_t)target + 1, prev, ev, c->now, &seq,
                                    &dup, &c->e)))
        return rc;
    if (dup)
        return 0;
    if (ev->kind == PT_K_ORDER_COMPLETED) {
        if ((rc = pt_store_order_insert(g->w, shop64, (int64_t)target + 1, ev, seq, &dup, &c->e)))
            return rc;
        if (dup)
            return pt_store_event_delete(g->w, seq, &c->e);
    }
    *status = PT_EV_ACCEPTED;
    if (found < 0 && (rc = create_row(c, shop, anon, id, -1, &target)))
        return rc;
    s->head[target] = seq;
    if (!anon && ev->anonymous_id &&
        (rc = link_identity(c, shop, target, ev->anonymous_id, 0, ev->t)))
        return rc;
    if (ev->type == PT_EV_ALIAS && strcmp(ev->previous_id, id) != 0 &&
        (rc = link_identity(c, shop, target, ev->previous_id, 1, ev->t)))
        return rc;
    if (ev->traits && (rc = pt_store_customer_traits(g->w, (int64_t)target + 1, ev->traits, &c->e)))
        return rc;
    if (ev->traits)
        engine_loy_traits(g, target, ev->traits); /* a member's birthday */
    size_t root = pt_state_root(s, target);
    if ((rc = engine_act_add(g, target, ev, seq)) || (rc = engine_seg_mark(g, root)))
        return pt_err_set(&c->e, rc, "out of memory");
    if ((rc = engine_loy_event(g, c->clock, shop, target, ev, seq, &c->e)))
        return rc;
    switch (ev->kind) {
    case PT_K_ORDER_COMPLETED: {
        struct pt_agg before;
        pt_state_agg(s, root, &before);
        pt_state_order(s, target, ev->t, ev->amount);
        apply_cart(s, root, ev);
        if ((rc = engine_loy_order(g, c->clock, shop, target, ev, before.last_t, &c->e)))
            return rc;
        break;
    }
    case PT_K_ORDER_REFUNDED: {
        int64_t cust, applied, t;
        rc = pt_store_order_refund(g->w, shop64, ev->order_id, ev->amount, !ev->has_amount, &cust,
                                   &applied, &t, &c->e);
        if (rc == PT_ENOTFOUND)
            return 0; /* kept on the timeline; no order to reduce */
        if (rc)
            return rc;
        if (cust >= 1 && (size_t)cust <= s->n) {
            s->refunded[cust - 1] += applied;
            if (engine_seg_mark(g, pt_state_root(s, (size_t)cust - 1)))
                return pt_err_set(&c->e, PT_ENOMEM, "out of memory");
        }
        return applied > 0 ? engine_loy_refund(g, c->clock, shop, ev->order_id, &c->e) : 0;
    }
    case PT_K_PRODUCT_ADDED:
    case PT_K_PRODUCT_REMOVED:
    case PT_K_CART_VIEWED:
    case PT_K_CHECKOUT_STARTED:
        apply_cart(s, root, ev);
        break;
    case PT_K_CONSENT_CHANGED:
        s->consent_set[root] |= ev->consent_set;
        s->consent[root] =
            (uint8_t)((s->consent[root] & ~ev->consent_set) | (ev->consent_val & ev->consent_set));
        break;
    default:
        return 0;
    }
    rc = mark_dirty(g, root);
    return rc ? pt_err_set(&c->e, rc, "out of memory") : 0;
}

static int64_t find_user(struct pt_engine *g, int64_t shop, const char *user_id)
{
    return pt_state_find(&g->st, (uint32_t)shop, 0, user_id, strlen(user_id));
}

/* The job's customer row, or -1 with the job answered "not found". */
static int64_t job_customer(struct pt_engine *g, struct pt_job *j)
{
    int64_t u = pt_state_find(&g->st, (uint32_t)j->shop, j->anonymous, j->user_id,
                              strlen(j->user_id));
    if (u < 0) {
        j->rc = PT_ENOTFOUND;
        snprintf(j->msg, sizeof j->msg, "no customer with that id");
    }
    return u;
}

static int do_unmerge(struct grp_ctx *c, struct pt_job *j)
{
    struct pt_engine *g = c->g;
    struct pt_state *s = &g->st;
    int64_t u = job_customer(g, j);
    if (u < 0)
        return 0;
    int64_t from = 0;
    if (j->anonymous_id) {
        int64_t a = pt_state_find(s, (uint32_t)j->shop, 1, j->anonymous_id,
                                  strlen(j->anonymous_id));
        if (a < 0)
            a = find_user(g, j->shop, j->anonymous_id);
        if (a < 0) {
            j->rc = PT_ENOTFOUND;
            snprintf(j->msg, sizeof j->msg, "no identity with that anonymousId");
            return 0;
        }
        from = a + 1;
    }
    int64_t into_id, from_id;
    int rc = pt_store_merge_undo(g->w, j->merge_id, u + 1, from, c->now, &into_id, &from_id,
                                 &c->e);
    if (rc == PT_ENOTFOUND) {
        j->rc = PT_ENOTFOUND;
        snprintf(j->msg, sizeof j->msg, "no active merge to undo");
        return 0;
    }
    if (rc)
        return rc;
    size_t row = (size_t)from_id - 1;
    if (row < s->n) {
        /* the cart the visitor brought at the merge goes back with it, unless the
         * profile has changed its cart since */
        size_t root = pt_state_root(s, row);
        if (root != row && s->cart_t[root] == s->cart_t[row] &&
            s->cart_value[root] == s->cart_value[row] && s->cart_value[row] > 0) {
            s->cart_value[root] = s->cart_since[root] = 0;
            if ((rc = mark_dirty(g, root)))
                return pt_err_set(&c->e, rc, "out of memory");
        }
        pt_state_unlink(s, row);
        s->flags[row] |= ROW_SPLIT;
        /* the profile it leaves has lost its orders and events */
        if (engine_seg_mark(g, root))
            return pt_err_set(&c->e, PT_ENOMEM, "out of memory");
        if ((rc = mark_dirty(g, row)))
            return pt_err_set(&c->e, rc, "out of memory");
    }
    j->out_row = from_id;
    return 0;
}

static int do_erase(struct grp_ctx *c, struct pt_job *j)
{
    struct pt_engine *g = c->g;
    struct pt_state *s = &g->st;
    int64_t u = job_customer(g, j);
    if (u < 0)
        return 0;
    size_t rows[PT_STATE_MAX_TREE];
    int64_t ids[PT_STATE_MAX_TREE], heads[PT_STATE_MAX_TREE];
    size_t root = pt_state_root(s, (size_t)u);
    size_t n = pt_state_tree(s, root, rows, PT_STATE_MAX_TREE);
    if (n > PT_STATE_MAX_TREE)
        n = PT_STATE_MAX_TREE;
    for (size_t i = 0; i < n; i++) {
        ids[i] = (int64_t)rows[i] + 1;
        heads[i] = s->head[rows[i]];
    }
    int rc = pt_store_erase(g->w, ids, heads, n, &c->e);
    if (rc)
        return rc;
    for (size_t i = n; i > 0; i--) {
        if ((rc = engine_auto_erase(g, rows[i - 1], &c->e)))
            return rc;
        engine_loy_erase(g, rows[i - 1]);
        pt_state_erase(s, rows[i - 1]);
        if (engine_seg_mark(g, rows[i - 1]))
            return pt_err_set(&c->e, PT_ENOMEM, "out of memory");
    }
    /* forget dirty marks of erased rows */
    for (size_t i = 0; i < g->ndirty; i++)
        if (s->flags[g->dirty[i]] & ROW_ERASED)
            g->dirty[i] = SIZE_MAX;
    j->out_row = (int64_t)n;
    g->scrub = 1;
    return 0;
}

/* An accepted event for the automations (the customer's root row). */
static int auto_event(struct grp_ctx *c, int64_t shop, const struct pt_event *ev)
{
    struct pt_engine *g = c->g;
    if (g->nautos == 0)
        return 0;
    int anon = ev->user_id == NULL;
    const char *id = anon ? ev->anonymous_id : ev->user_id;
    int64_t row = pt_state_find(&g->st, (uint32_t)shop, anon, id, strlen(id));
    if (row < 0)
        return 0;
    int rc = engine_auto_event(g, (uint32_t)shop, (size_t)row, ev);
    return rc ? pt_err_set(&c->e, rc, "out of memory") : 0;
}

static int group_body(struct grp_ctx *c, struct pt_job *head)
{
    struct pt_engine *g = c->g;
    int rc;
    for (struct pt_job *j = head; j; j = j->next) {
        j->accepted = j->duplicates = 0;
        switch (j->kind) {
        case PT_JOB_EVENTS:
            for (size_t i = 0; i < j->batch->n; i++) {
                if ((rc = apply_event(c, j->shop, &j->batch->ev[i], &j->status[i])))
                    return rc;
                if (j->status[i] == PT_EV_ACCEPTED &&
                    (rc = auto_event(c, j->shop, &j->batch->ev[i])))
                    return rc;
                if (j->status[i] == PT_EV_ACCEPTED)
                    j->accepted++;
                else
                    j->duplicates++;
            }
            break;
        case PT_JOB_UNMERGE:
            if ((rc = do_unmerge(c, j)))
                return rc;
            break;
        case PT_JOB_ERASE:
            if ((rc = do_erase(c, j)))
                return rc;
            break;
        case PT_JOB_SEGMENT:
            if ((rc = engine_seg_job(g, j, c->clock, &c->e)))
                return rc;
            break;
        case PT_JOB_TICK:
            break;
        case PT_JOB_LOYALTY:
            if ((rc = engine_loy_job(g, j, c->clock, &c->e)))
                return rc;
            break;
        case PT_JOB_AUTO:
            if ((rc = engine_auto_job(g, j, c->clock, &c->e)))
                return rc;
            break;
        }
    }
    if ((rc = engine_loy_tick(g, c->clock, &c->e)))
        return rc;
    double t0 = pt_mono_now();
    g->seg_write_s = 0;
    if ((rc = engine_seg_group(g, c->clock, &c->e)))
        return rc;
    /* automations: entries the group's events and segment changes queued,
     * waits that ended, time triggers; what their steps changed (points)
     * is evaluated for segments again (a few rounds at most) */
    for (int round = 0; rc == 0 && round < 3 && engine_auto_due(g, c->clock); round++) {
        if ((rc = engine_auto_group(g, c->clock, &c->e)))
            return rc;
        if (g->nsdirty && (rc = engine_seg_group(g, c->clock, &c->e)))
            return rc;
    }
    c->seg_seconds = pt_mono_now() - t0;
    c->seg_eval_seconds = c->seg_seconds - g->seg_write_s;
    for (size_t i = 0; i < g->ndirty; i++) {
        if (g->dirty[i] == SIZE_MAX)
            continue;
        struct pt_cust_row r = row_of(&g->st, g->dirty[i]);
        if ((rc = pt_store_customer_update(g->w, &r, &c->e)))
            return rc;
    }
    return 0;
}

void engine_group(struct pt_engine *g, struct pt_job *head)
{
    struct grp_ctx c = {.g = g, .now = (int64_t)time(NULL), .clock = engine_now(g)};
    g->ndirty = 0;
    g->nsdirty = 0;
    g->scrub = 0;
    pthread_rwlock_wrlock(&g->lock);
    int rc = pt_store_begin(g->w, &c.e);
    if (rc == 0)
        rc = group_body(&c, head);
    if (rc == 0)
        rc = pt_store_commit(g->w, &c.e);
    if (rc) {
        /* nothing of this group happened: roll back and rebuild memory from the store */
        pt_store_rollback(g->w);
        fprintf(stderr, "patron: engine: group of jobs failed, rolled back: %s\n", c.e.msg);
        struct pt_err le;
        if (engine_load(g, &le) || engine_seg_reload(g, &le) || engine_loy_load(g, &le) ||
            engine_auto_load(g, &le))
            fprintf(stderr, "patron: engine: reload failed: %s\n", le.msg);
        for (struct pt_job *j = head; j; j = j->next) {
            j->rc = PT_EIO;
            snprintf(j->msg, sizeof j->msg, "the store failed; nothing was written");
            j->accepted = j->duplicates = 0;
        }
    }
    int scrub = rc == 0 && g->scrub;
    if (rc == 0 && g->auto_wrote)
        engine_deliver_poke(g);
    g->auto_wrote = 0;
    g->version++;
    pthread_rwlock_unlock(&g->lock);
    if (scrub) {
        /* erased rows leave the WAL now (outside the lock: reads go on); if a
         * reader still holds old frames, the checkpoint thread retries */
        struct pt_err se;
        if (pt_store_scrub(g->w, &se)) {
            fprintf(stderr, "patron: engine: %s; retrying in the background\n", se.msg);
            pthread_mutex_lock(&g->mu);
            g->scrub_pending = 1;
            pthread_cond_signal(&g->ckpt_cv);
            pthread_mutex_unlock(&g->mu);
        }
    }
    pthread_mutex_lock(&g->mu);
    for (struct pt_job *j = head; j; j = j->next) {
        g->ev_accepted += j->accepted;
        g->ev_duplicate += j->duplicates;
    }
    g->seg_eval[g->nseg_lat % 4096] = c.seg_eval_seconds;
    g->seg_lat[g->nseg_lat++ % 4096] = c.seg_seconds;
    g->seg_count = g->nseg;
    g->seg_events_pub = g->seg_events;
    /* members every group (a cardinality is cheap); the serialized size, which
     * walks every container, every 64 groups or when segments changed */
    int sizes = g->nseg_lat % 64 == 1 || g->seg_stats_gen != g->seg_gen;
    g->seg_stats_gen = g->seg_gen;
    uint64_t m = 0, bytes = 0;
    for (size_t k = 0; k < g->nseg; k++) {
        m += roaring_bitmap_get_cardinality(g->segs[k].members);
        if (sizes)
            bytes += roaring_bitmap_portable_size_in_bytes(g->segs[k].members);
    }
    g->seg_members = m;
    if (sizes)
        g->seg_bytes = bytes;
    g->auto_pub.autos = 0;
    for (size_t i = 0; i < g->nautos; i++)
        g->auto_pub.autos += g->autos[i]->status != PT_AUTO_DELETED;
    g->auto_pub.runs = g->nruns - g->nfree;
    g->auto_pub.decided = g->auto_sent_decided;
    g->auto_pub.sweeps = g->auto_sweeps;
    g->auto_pub.sweep_s = g->auto_sweep_seconds;
    g->live_rows = g->st.live; /* the engine thread is the state's only writer */
    g->all_rows = g->st.n;
    pthread_mutex_unlock(&g->mu);
}
