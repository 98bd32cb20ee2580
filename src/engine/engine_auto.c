/*
 * engine_auto.c - automations on the engine thread (docs/automation.md): the
 * automations and their versions in memory, customers' runs through them
 * (with a timer heap for waits), and the hooks by which events, segment
 * changes and tier changes enter customers. Hooks only queue: the queue is
 * worked off after the group's segments (engine_auto_group), inside the
 * group's transaction, so an entry, every step it takes and every message
 * it decides are durable together with the change that caused them.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"
#include "util/mem.h"

/* ---- automations ---- */

struct eauto *engine_auto_find(struct pt_engine *g, int64_t shop, int64_t id)
{
    for (size_t i = 0; i < g->nautos; i++)
        if (g->autos[i]->id == id && (shop < 0 || g->autos[i]->shop == (uint32_t)shop))
            return g->autos[i];
    return NULL;
}

int engine_auto_add_version(struct eauto *a, int64_t version, const char *json, struct pt_err *e)
{
    char field[128];
    struct pt_auto_def *d = pt_calloc(1, sizeof *d);
    char *js = json ? pt_strndup(json, strlen(json)) : NULL;
    struct pt_auto_def **nd = pt_realloc_array(a->defs, a->nvers + 1, sizeof *nd);
    if (nd)
        a->defs = nd;
    char **nj = pt_realloc_array(a->json, a->nvers + 1, sizeof *nj);
    if (nj)
        a->json = nj;
    int64_t *nv = pt_realloc_array(a->vers, a->nvers + 1, sizeof *nv);
    if (nv)
        a->vers = nv;
    if (d == NULL || js == NULL || nd == NULL || nj == NULL || nv == NULL) {
        pt_free(d);
        pt_free(js);
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    }
    int rc = pt_auto_def_parse(json, strlen(json), d, field, e);
    if (rc) {
        pt_free(d);
        pt_free(js);
        return rc;
    }
    a->defs[a->nvers] = d;
    a->json[a->nvers] = js;
    a->vers[a->nvers++] = version;
    return 0;
}

static void auto_free(struct eauto *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->nvers; i++) {
        pt_auto_def_release(a->defs[i]);
        pt_free(a->defs[i]);
        pt_free(a->json[i]);
    }
    pt_free(a->defs);
    pt_free(a->json);
    pt_free(a->vers);
    pt_free(a->seen);
    pt_free(a->until);
    pt_free(a);
}

static int load_auto(void *ctx, const struct pt_auto_row *r)
{
    struct pt_engine *g = ctx;
    struct eauto *a = engine_auto_find(g, -1, r->id);
    if (a == NULL) {
        struct eauto **x = pt_realloc_array(g->autos, g->nautos + 1, sizeof *x);
        if (x == NULL)
            return PT_ENOMEM;
        g->autos = x;
        if ((a = pt_calloc(1, sizeof *a)) == NULL)
            return PT_ENOMEM;
        g->autos[g->nautos++] = a;
        a->id = r->id;
        a->shop = (uint32_t)r->shop;
    }
    a->status = r->status;
    a->created = r->created;
    a->updated = r->updated;
    struct pt_err e;
    int rc = engine_auto_add_version(a, r->version, r->json, &e);
    if (rc)
        fprintf(stderr, "patron: automation %lld version %lld: %s\n", (long long)r->id,
                (long long)r->version, e.msg);
    return rc == PT_ENOMEM ? rc : 0;
}

/* ---- runs ---- */

static int rheap_less(const struct run_timer *a, const struct run_timer *b)
{
    return a->t < b->t || (a->t == b->t && a->run < b->run);
}

int engine_auto_run_push(struct pt_engine *g, uint32_t run)
{
    if (g->nrheap == g->caprheap) {
        size_t nc = g->caprheap ? g->caprheap * 2 : 256;
        struct run_timer *x = pt_realloc_array(g->rheap, nc, sizeof *x);
        if (x == NULL)
            return PT_ENOMEM;
        g->rheap = x;
        g->caprheap = nc;
    }
    struct run_timer *h = g->rheap;
    size_t i = g->nrheap++;
    h[i] = (struct run_timer){.t = g->runs[run].wake, .run = run};
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!rheap_less(&h[i], &h[p]))
            break;
        struct run_timer t = h[p];
        h[p] = h[i];
        h[i] = t;
        i = p;
    }
    return 0;
}

static struct run_timer rheap_pop(struct pt_engine *g)
{
    struct run_timer *h = g->rheap, top = h[0];
    h[0] = h[--g->nrheap];
    size_t i = 0, n = g->nrheap;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && rheap_less(&h[l], &h[m]))
            m = l;
        if (l + 1 < n && rheap_less(&h[l + 1], &h[m]))
            m = l + 1;
        if (m == i)
            break;
        struct run_timer t = h[m];
        h[m] = h[i];
        h[i] = t;
        i = m;
    }
    return top;
}

static int run_rows(struct pt_engine *g, size_t row)
{
    if (row < g->run_rows)
        return 0;
    size_t nc = g->run_rows ? g->run_rows : 1024;
    while (nc <= row)
        nc *= 2;
    uint32_t *x = pt_realloc_array(g->run_head, nc, sizeof *x);
    if (x == NULL)
        return PT_ENOMEM;
    memset(x + g->run_rows, 0, (nc - g->run_rows) * sizeof *x);
    g->run_head = x;
    g->run_rows = nc;
    return 0;
}

/* A slot for a new live run (linked to its row), or UINT32_MAX on ENOMEM. */
static uint32_t run_new(struct pt_engine *g, uint32_t row)
{
    if (run_rows(g, row))
        return UINT32_MAX;
    uint32_t k;
    if (g->nfree) {
        k = g->run_free[--g->nfree];
    } else {
        if (g->nruns == g->capruns) {
            size_t nc = g->capruns ? g->capruns * 2 : 256;
            struct arun *x = pt_realloc_array(g->runs, nc, sizeof *x);
            uint32_t *f = x ? pt_realloc_array(g->run_free, nc, sizeof *f) : NULL;
            if (x)
                g->runs = x;
            if (f == NULL)
                return UINT32_MAX;
            g->run_free = f;
            g->capruns = nc;
        }
        k = (uint32_t)g->nruns++;
    }
    memset(&g->runs[k], 0, sizeof g->runs[k]);
    g->runs[k].row = row;
    g->runs[k].live = 1;
    g->runs[k].rnext = g->run_head[row];
    g->run_head[row] = k + 1;
    return k;
}

/* Forget live run k (memory only). */
void engine_auto_run_drop(struct pt_engine *g, uint32_t k)
{
    struct arun *r = &g->runs[k];
    uint32_t *p = &g->run_head[r->row];
    while (*p && *p != k + 1)
        p = &g->runs[*p - 1].rnext;
    if (*p)
        *p = r->rnext;
    pt_free(r->ctx);
    r->ctx = NULL;
    r->live = 0;
    g->run_free[g->nfree++] = k;
}

static const struct pt_auto_def *def_of(struct eauto *a, int64_t version)
{
    for (size_t i = a->nvers; i > 0; i--)
        if (a->vers[i - 1] == version)
            return a->defs[i - 1];
    return NULL;
}

static int load_run(void *ctx, const struct pt_auto_run_row *r)
{
    struct pt_engine *g = ctx;
    struct eauto *a = engine_auto_find(g, r->shop, r->automation);
    if (a == NULL || r->customer < 1 || (size_t)r->customer > g->st.n)
        return 0;
    uint32_t row = (uint32_t)(r->customer - 1);
    struct auto_seen *sn = engine_auto_seen(a, row, 1);
    if (sn == NULL)
        return PT_ENOMEM;
    sn->key = r->key;
    sn->entered = r->entered;
    sn->active = r->state == PT_RUN_ACTIVE;
    if (r->state != PT_RUN_ACTIVE)
        return 0;
    const struct pt_auto_def *d = def_of(a, r->version);
    if (d == NULL)
        return 0;
    uint32_t k = run_new(g, row);
    if (k == UINT32_MAX)
        return PT_ENOMEM;
    struct arun *x = &g->runs[k];
    x->id = r->id;
    x->auto_id = r->automation;
    x->version = r->version;
    x->shop = (uint32_t)r->shop;
    x->def = d;
    x->pc = r->pc;
    x->flags = r->flags & ~RUN_PARKED;
    x->wake = r->wake;
    x->entered = r->entered;
    x->key = r->key;
    snprintf(x->voucher, sizeof x->voucher, "%s", r->voucher ? r->voucher : "");
    if (r->ctx && (x->ctx = pt_strndup(r->ctx, strlen(r->ctx))) == NULL)
        return PT_ENOMEM;
    if (x->wake && engine_auto_run_push(g, k))
        return PT_ENOMEM;
    return 0;
}

static int load_tmpl(void *ctx, int64_t shop, const char *id, const char *json, int64_t created,
                     int64_t updated)
{
    struct pt_engine *g = ctx;
    struct etmpl *x = pt_realloc_array(g->tmpls, g->ntmpls + 1, sizeof *x);
    if (x == NULL)
        return PT_ENOMEM;
    g->tmpls = x;
    struct etmpl *t = &x[g->ntmpls];
    memset(t, 0, sizeof *t);
    char field[64];
    struct pt_err e;
    if (pt_msg_tmpl_parse(json, strlen(json), &t->t, field, &e)) {
        fprintf(stderr, "patron: template %s: %s\n", id, e.msg);
        return 0;
    }
    t->shop = (uint32_t)shop;
    snprintf(t->id, sizeof t->id, "%s", id);
    t->json = pt_strndup(json, strlen(json));
    t->created = created;
    t->updated = updated;
    g->ntmpls++;
    return t->json ? 0 : PT_ENOMEM;
}

static int load_set(void *ctx, int64_t shop, const char *json)
{
    struct pt_engine *g = ctx;
    struct msgset *x = pt_realloc_array(g->sets, g->nsets + 1, sizeof *x);
    if (x == NULL)
        return PT_ENOMEM;
    g->sets = x;
    char field[128];
    struct pt_err e;
    if (engine_auto_settings_parse(g, (uint32_t)shop, json, &x[g->nsets], field, &e) == 0)
        g->nsets++;
    return 0;
}

void engine_auto_release(struct pt_engine *g)
{
    for (size_t i = 0; i < g->nautos; i++)
        auto_free(g->autos[i]);
    pt_free(g->autos);
    for (size_t i = 0; i < g->nruns; i++)
        if (g->runs[i].live)
            pt_free(g->runs[i].ctx);
    pt_free(g->runs);
    pt_free(g->run_free);
    pt_free(g->run_head);
    pt_free(g->rheap);
    for (size_t i = 0; i < g->ntmpls; i++) {
        pt_msg_tmpl_release(&g->tmpls[i].t);
        pt_free(g->tmpls[i].json);
    }
    pt_free(g->tmpls);
    for (size_t i = 0; i < g->nsets; i++)
        pt_free(g->sets[i].json);
    pt_free(g->sets);
    for (size_t i = 0; i < g->npend_q; i++) {
        pt_free(g->pend_q[i].ctx);
        pt_free(g->pend_q[i].name);
    }
    pt_free(g->pend_q);
    pt_free(g->bday);
    pt_buf_release(&g->abuf);
    if (g->auto_srow)
        engine_seg_row_release(g->auto_srow);
    pt_free(g->auto_srow);
    g->auto_srow = NULL;
    memset(g->cf_rule, 0, sizeof g->cf_rule);
    for (size_t k = 0; k < 16; k++) {
        pt_seg_time_release(&g->cf_time[k]);
        memset(&g->cf_time[k], 0, sizeof g->cf_time[k]);
    }
    g->autos = NULL;
    g->runs = NULL;
    g->run_free = g->run_head = NULL;
    g->rheap = NULL;
    g->tmpls = NULL;
    g->sets = NULL;
    g->pend_q = NULL;
    g->bday = NULL;
    g->nautos = g->nruns = g->capruns = g->nfree = g->run_rows = g->nrheap = g->caprheap = 0;
    g->ntmpls = g->nsets = g->npend_q = g->cappend_q = g->bday_rows = 0;
    g->auto_bdays = 0;
}

int engine_auto_load(struct pt_engine *g, struct pt_err *e)
{
    engine_auto_release(g);
    int rc = pt_store_secret(g->w, "tracking", g->secret, e);
    if (rc == 0)
        rc = pt_store_autos(g->w, load_auto, g, e);
    if (rc == 0)
        rc = pt_store_runs(g->w, 1, load_run, g, e);
    if (rc == 0)
        rc = pt_store_tmpls(g->w, load_tmpl, g, e);
    if (rc == 0)
        rc = pt_store_msg_settings(g->w, load_set, g, e);
    if (rc == PT_ENOMEM)
        pt_err_set(e, rc, "out of memory");
    return rc;
}

/* ---- hooks (queue only) ---- */

static int pend(struct pt_engine *g, int kind, struct eauto *a, uint32_t shop, size_t row,
                int64_t key, const char *ctx, size_t len, const char *name)
{
    if (g->npend_q == g->cappend_q) {
        size_t nc = g->cappend_q ? g->cappend_q * 2 : 64;
        struct apend *x = pt_realloc_array(g->pend_q, nc, sizeof *x);
        if (x == NULL)
            return PT_ENOMEM;
        g->pend_q = x;
        g->cappend_q = nc;
    }
    char *c = ctx ? pt_strndup(ctx, len) : NULL;
    char *nm = name ? pt_strndup(name, strlen(name)) : NULL;
    if ((ctx && c == NULL) || (name && nm == NULL)) {
        pt_free(c);
        pt_free(nm);
        return PT_ENOMEM;
    }
    g->pend_q[g->npend_q++] = (struct apend){
        .kind = kind, .a = a, .row = (uint32_t)row, .shop = shop, .key = key, .ctx = c, .name = nm};
    return 0;
}

static int wants_event(const struct pt_auto_def *d, const char *name)
{
    return d->trigger == PT_TRIG_EVENT && strcmp(d->event, name) == 0;
}

/* Whether root `row` has a live run (or one entering in this group) that an
 * event may move on or end. */
static int runs_listen(struct pt_engine *g, size_t row)
{
    if (row < g->run_rows && g->run_head[row] != 0)
        return 1;
    for (size_t i = 0; i < g->npend_q; i++)
        if (g->pend_q[i].kind == 1 && g->pend_q[i].row == row)
            return 1;
    return 0;
}

int engine_auto_event(struct pt_engine *g, uint32_t shop, size_t row, const struct pt_event *ev)
{
    if (g->nautos == 0 || ev->type != PT_EV_TRACK || ev->name == NULL)
        return 0;
    size_t root = pt_state_root(&g->st, row);
    int rc = 0;
    /* a customer with news: time triggers check their conditions again */
    engine_auto_touch(g, root);
    if (runs_listen(g, root))
        rc = pend(g, 2, NULL, shop, root, 0, ev->json, ev->json ? ev->json_len : 0, ev->name);
    for (size_t i = 0; rc == 0 && i < g->nautos; i++) {
        struct eauto *a = g->autos[i];
        if (a->shop == shop && a->status == PT_AUTO_ACTIVE &&
            wants_event(a->defs[a->nvers - 1], ev->name))
            rc = pend(g, 1, a, shop, root, 0, ev->json, ev->json ? ev->json_len : 0, NULL);
    }
    return rc;
}

int engine_auto_seg_named(const struct eseg *sg, const char *name)
{
    if (strcmp(sg->name, name) == 0)
        return 1;
    /* a built-in by its key ("rfm:Hibernating", "type:lapsed"), an RFM one by its bare name */
    return sg->builtin &&
           (strcmp(sg->builtin, name) == 0 ||
            (strncmp(sg->builtin, "rfm:", 4) == 0 && strcmp(sg->builtin + 4, name) == 0));
}

int engine_auto_segment(struct pt_engine *g, const struct eseg *sg, size_t row, int entered)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < g->nautos; i++) {
        struct eauto *a = g->autos[i];
        const struct pt_auto_def *d = a->defs[a->nvers - 1];
        if (a->shop != sg->shop || a->status != PT_AUTO_ACTIVE ||
            d->trigger != (entered ? PT_TRIG_SEG_ENTERED : PT_TRIG_SEG_EXITED))
            continue;
        if (d->seg_id ? d->seg_id == sg->id : engine_auto_seg_named(sg, d->seg_name))
            rc = pend(g, 1, a, sg->shop, row, 0, NULL, 0, NULL);
    }
    return rc;
}

int engine_auto_tier(struct pt_engine *g, uint32_t shop, size_t row, int from, int to)
{
    int rc = 0;
    struct loy_prog *lp = engine_loy_prog(g, shop);
    for (size_t i = 0; rc == 0 && i < g->nautos; i++) {
        struct eauto *a = g->autos[i];
        const struct pt_auto_def *d = a->defs[a->nvers - 1];
        if (a->shop != shop || a->status != PT_AUTO_ACTIVE || d->trigger != PT_TRIG_TIER)
            continue;
        if ((d->tier_dir == PT_TIER_UP && to <= from) ||
            (d->tier_dir == PT_TIER_DOWN && to >= from))
            continue;
        if (d->tier && (lp == NULL || to < 1 || (size_t)to > lp->p.ntiers ||
                        strcmp(lp->p.tiers[to - 1].name, d->tier) != 0))
            continue;
        rc = pend(g, 1, a, shop, row, 0, NULL, 0, NULL);
    }
    return rc;
}

void engine_auto_touch(struct pt_engine *g, size_t row)
{
    for (size_t i = 0; i < g->nautos; i++)
        if (row < g->autos[i]->nuntil)
            g->autos[i]->until[row] = 0;
}

void engine_auto_traits(struct pt_engine *g, size_t row, const char *traits)
{
    engine_auto_touch(g, row); /* (a birthday may have come: look again) */
    if (!g->auto_bdays)
        return;
    if (row >= g->bday_rows) { /* a new customer */
        size_t nr = row + 1024;
        uint16_t *x = pt_realloc_array(g->bday, nr, sizeof *x);
        if (x == NULL)
            return; /* (read again at the next start) */
        memset(x + g->bday_rows, 0, (nr - g->bday_rows) * sizeof *x);
        g->bday = x;
        g->bday_rows = nr;
    }
    json_t *o = json_loads(traits, 0, NULL);
    json_t *b = json_object_get(o, "birthday");
    if (json_is_string(b))
        g->bday[row] = (uint16_t)engine_bday_parse(json_string_value(b));
    else if (b)
        g->bday[row] = 0;
    json_decref(o);
}

/* ---- entering ---- */

/* Whether root `row` of automation a's shop falls in its control group:
 * a keyed hash of (automation, customer id), uniform in [0, 1). */
static int in_control(struct pt_engine *g, struct eauto *a, size_t row, double share)
{
    if (share <= 0)
        return 0;
    uint32_t len;
    const char *id = pt_state_id(&g->st, row, &len);
    uint8_t key[crypto_shorthash_KEYBYTES] = {0}, h[crypto_shorthash_BYTES];
    memcpy(key, &a->id, sizeof a->id);
    crypto_shorthash(h, (const unsigned char *)id, len, key);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | h[i];
    return (double)(v >> 11) / 9007199254740992.0 < share;
}

int engine_auto_check(struct pt_engine *g, struct eauto *a, size_t row, int64_t key, int64_t now,
                      int *out, struct pt_err *e)
{
    struct pt_state *st = &g->st;
    *out = 0;
    if (a->status != PT_AUTO_ACTIVE || row >= st->n || st->shop[row] != a->shop ||
        (st->flags[row] & (ROW_PRESENT | ROW_ERASED)) != ROW_PRESENT || st->parent[row] != 0)
        return 0;
    const struct pt_auto_def *d = a->defs[a->nvers - 1];
    struct auto_seen *sn = engine_auto_seen(a, (uint32_t)row, 0);
    if (sn && key && sn->key == key)
        return 0; /* this occurrence was handled */
    if (sn && sn->active) {
        if (key)
            sn->key = key; /* (an occurrence while in the automation is dropped) */
        return 0;
    }
    if (sn && d->reentry == PT_REENTRY_NEVER) {
        *out = 5;
        return 0;
    }
    if (sn && d->reentry == PT_REENTRY_COOLDOWN && now - sn->entered < d->reentry_after) {
        *out = 4;
        return 0;
    }
    if (d->cond_text) {
        int match, rc = engine_auto_cond(g, a->shop, row, &d->cond, now, &match, e);
        if (rc)
            return rc;
        if (!match) {
            *out = 3;
            return 0;
        }
    }
    *out = 1;
    return 0;
}

int engine_auto_enter_now(struct pt_engine *g, struct eauto *a, size_t row, int64_t key,
                          const char *ctx, int64_t now, int *out, struct pt_err *e)
{
    const struct pt_auto_def *d = a->defs[a->nvers - 1];
    struct auto_seen *sn = engine_auto_seen(a, (uint32_t)row, 1);
    if (sn == NULL)
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    if (key)
        sn->key = key; /* (a manual entry leaves the last occurrence as it was) */
    sn->entered = now;
    int control = in_control(g, a, row, d->control_share);
    if (out)
        *out = control ? 2 : 1;
    struct pt_auto_run_row rr = {.shop = a->shop,
                                 .automation = a->id,
                                 .version = a->vers[a->nvers - 1],
                                 .customer = (int64_t)row + 1,
                                 .state = control ? PT_RUN_CONTROL : PT_RUN_ACTIVE,
                                 .entered = now,
                                 .ended = control ? now : 0,
                                 .key = key ? key : sn->key,
                                 .ctx = ctx};
    int64_t id;
    int rc = pt_store_run_insert(g->w, &rr, &id, e);
    if (rc || control)
        return rc;
    sn->active = 1;
    uint32_t k = run_new(g, (uint32_t)row);
    if (k == UINT32_MAX)
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    struct arun *r = &g->runs[k];
    r->id = id;
    r->auto_id = a->id;
    r->version = rr.version;
    r->shop = a->shop;
    r->def = d;
    r->entered = now;
    r->key = key;
    if (ctx && (r->ctx = pt_strndup(ctx, strlen(ctx))) == NULL)
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    return engine_auto_exec(g, k, now, e);
}

int engine_auto_enter(struct pt_engine *g, struct eauto *a, size_t row, int64_t key,
                      const char *ctx, int64_t now, int *out, struct pt_err *e)
{
    int may, rc = engine_auto_check(g, a, row, key, now, &may, e);
    if (out)
        *out = may == 1 ? 0 : may == 3 ? 3 : 0;
    if (rc || may != 1)
        return rc;
    return engine_auto_enter_now(g, a, row, key, ctx, now, out, e);
}

/* ---- the group's work ---- */

int engine_auto_due(struct pt_engine *g, int64_t now)
{
    if (g->nautos == 0)
        return 0;
    return g->npend_q || (g->nrheap && g->rheap[0].t <= now) ||
           now - g->auto_swept >= g->auto_sweep_s;
}

/* An event reached root row's live runs: waits for it move on, exit_on ends them. */
static int on_event(struct pt_engine *g, size_t row, const char *name, const char *json,
                    int64_t now, struct pt_err *e)
{
    int rc = 0;
    for (uint32_t k = row < g->run_rows ? g->run_head[row] : 0; rc == 0 && k;) {
        uint32_t next = g->runs[k - 1].rnext;
        struct arun *r = &g->runs[k - 1];
        const struct pt_auto_step *s = &r->def->steps[r->pc];
        struct eauto *a = engine_auto_find(g, r->shop, r->auto_id);
        if (a && r->def->exit_on && strcmp(r->def->exit_on, name) == 0) {
            struct auto_seen *sn = engine_auto_seen(a, r->row, 0);
            if (sn)
                sn->active = 0;
            struct pt_auto_run_row rr = {.id = r->id,
                                         .state = PT_RUN_EXITED,
                                         .pc = r->pc,
                                         .flags = r->flags,
                                         .ended = now,
                                         .voucher = r->voucher};
            rc = pt_store_run_update(g->w, &rr, e);
            engine_auto_run_drop(g, k - 1);
        } else if (a && s->op == PT_AOP_WAIT_EVENT && strcmp(s->event, name) == 0 &&
                   !(r->flags & (RUN_GOT_EVENT | RUN_PARKED))) {
            /* the event that ended the wait is what later steps' templates see */
            char *c = json ? pt_strndup(json, strlen(json)) : NULL;
            if (json && c == NULL)
                return pt_err_set(e, PT_ENOMEM, "out of memory");
            pt_free(r->ctx);
            r->ctx = c;
            if (a->status == PT_AUTO_ACTIVE) {
                r->pc++;
                r->wake = 0;
                rc = engine_auto_exec(g, k - 1, now, e);
            } else {
                /* paused: taken when resumed, unless its timeout came first (parked) */
                r->flags |= RUN_GOT_EVENT;
                struct pt_auto_run_row rr = {.id = r->id,
                                             .state = PT_RUN_ACTIVE,
                                             .pc = r->pc,
                                             .flags = r->flags,
                                             .wake = r->wake,
                                             .voucher = r->voucher,
                                             .ctx = r->ctx};
                rc = pt_store_run_update(g->w, &rr, e);
            }
        }
        k = next;
    }
    return rc;
}

int engine_auto_group(struct pt_engine *g, int64_t now, struct pt_err *e)
{
    int rc = 0;
    /* what the clock ended first (a wait's timeout came before this group's events) */
    while (rc == 0 && g->nrheap && g->rheap[0].t <= now) {
        struct run_timer t = rheap_pop(g);
        struct arun *r = &g->runs[t.run];
        if (!r->live || r->wake != t.t)
            continue; /* stale */
        struct eauto *a = engine_auto_find(g, r->shop, r->auto_id);
        if (a == NULL)
            continue;
        if (a->status != PT_AUTO_ACTIVE) {
            r->flags |= RUN_PARKED; /* pushed again when resumed */
            continue;
        }
        const struct pt_auto_step *s = &r->def->steps[r->pc];
        r->wake = 0;
        r->pc = s->op == PT_AOP_WAIT_EVENT ? (int)s->alt : r->pc + 1; /* timeout / waited */
        rc = engine_auto_exec(g, t.run, now, e);
    }
    for (size_t i = 0; rc == 0 && i < g->npend_q; i++) {
        struct apend p = g->pend_q[i];
        if (p.kind == 1)
            rc = engine_auto_enter(g, p.a, p.row, p.key, p.ctx, now, NULL, e);
        else
            rc = on_event(g, p.row, p.name, p.ctx, now, e);
    }
    for (size_t i = 0; i < g->npend_q; i++) {
        pt_free(g->pend_q[i].ctx);
        pt_free(g->pend_q[i].name);
    }
    g->npend_q = 0;
    if (rc == 0 && now - g->auto_swept >= g->auto_sweep_s) {
        rc = engine_auto_sweep(g, now, e);
        g->auto_swept = now;
    }
    if (rc == PT_ENOMEM)
        pt_err_set(e, rc, "out of memory");
    return rc;
}

int engine_auto_merge(struct pt_engine *g, size_t from, size_t root, int64_t now, struct pt_err *e)
{
    int rc = 0;
    /* the person's passages: the profile keeps its own, takes the identity's others */
    for (size_t i = 0; i < g->nautos; i++) {
        struct auto_seen *f = engine_auto_seen(g->autos[i], (uint32_t)from, 0);
        if (f == NULL || engine_auto_seen(g->autos[i], (uint32_t)root, 0))
            continue;
        struct auto_seen copy = *f;
        struct auto_seen *t = engine_auto_seen(g->autos[i], (uint32_t)root, 1);
        if (t == NULL)
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        t->key = copy.key;
        t->entered = copy.entered;
        t->active = 0; /* (set below if its run moves) */
    }
    while (rc == 0 && from < g->run_rows && g->run_head[from]) {
        uint32_t k = g->run_head[from] - 1;
        struct arun *r = &g->runs[k];
        struct eauto *a = engine_auto_find(g, r->shop, r->auto_id);
        struct auto_seen *f = a ? engine_auto_seen(a, (uint32_t)from, 0) : NULL;
        struct auto_seen *t = a ? engine_auto_seen(a, (uint32_t)root, 0) : NULL;
        if (f)
            f->active = 0;
        if (a == NULL || t == NULL || t->active) {
            /* the profile is in this automation already: the identity's run ends */
            struct pt_auto_run_row rr = {.id = r->id,
                                         .state = PT_RUN_EXITED,
                                         .pc = r->pc,
                                         .flags = r->flags,
                                         .ended = now,
                                         .voucher = r->voucher};
            rc = pt_store_run_update(g->w, &rr, e);
            engine_auto_run_drop(g, k);
            continue;
        }
        if ((rc = pt_store_run_move(g->w, r->id, (int64_t)root + 1, e)) || run_rows(g, root))
            return rc ? rc : pt_err_set(e, PT_ENOMEM, "out of memory");
        r = &g->runs[k];
        g->run_head[from] = r->rnext;
        r->rnext = g->run_head[root];
        g->run_head[root] = k + 1;
        r->row = (uint32_t)root;
        t->active = 1;
        t->entered = r->entered;
        t->key = r->key;
    }
    return rc;
}

int engine_auto_erase(struct pt_engine *g, size_t row, struct pt_err *e)
{
    for (size_t i = 0; i < g->nautos; i++) {
        struct auto_seen *sn = engine_auto_seen(g->autos[i], (uint32_t)row, 0);
        if (sn)
            sn->active = 0; /* (the slot stays: the map has no deletion) */
    }
    while (row < g->run_rows && g->run_head[row])
        engine_auto_run_drop(g, g->run_head[row] - 1);
    if (row < g->bday_rows)
        g->bday[row] = 0;
    return pt_store_auto_erase(g->w, (int64_t)row + 1, e);
}
