/*
 * engine_auto_ops.c - automation writes as engine jobs (PT_JOB_AUTO):
 * templates, automations (create, new version, pause, resume, delete),
 * messaging settings, manual entries, and the delivery thread's outcomes.
 * Each answers with an HTTP status and JSON (pt_auto_req.out) written in the
 * group's transaction; with an Idempotency-Key the answer is recorded and a
 * retry replays it (engine_idem_job).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"
#include "rfm/rfm.h"
#include "util/mem.h"

static int answer(struct pt_auto_req *q, int status, const char *code, const char *field,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int answer(struct pt_auto_req *q, int status, const char *code, const char *field,
                  const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pt_buf_reset(&q->out);
    pt_buf_add_error(&q->out, code, field, msg);
    q->status = status;
    return 0;
}

/* A parse error (PT_EPARSE with field, line, column) as a 400 answer. */
static int parse_answer(struct pt_auto_req *q, const char *field, const struct pt_err *pe)
{
    if (pe->line && strstr(pe->msg, "line ") == NULL)
        return answer(q, 400, "invalid_definition", field[0] ? field : NULL,
                      "%s (line %llu, column %llu)", pe->msg, (unsigned long long)pe->line,
                      (unsigned long long)pe->column);
    return answer(q, 400, "invalid_definition", field[0] ? field : NULL, "%s", pe->msg);
}

/* ---- templates ---- */

void engine_auto_tmpl_json(const struct etmpl *t, struct pt_buf *b);
void engine_auto_tmpl_json(const struct etmpl *t, struct pt_buf *b)
{
    pt_buf_adds(b, "{\"id\":");
    pt_buf_add_json_str(b, t->id, strlen(t->id));
    pt_buf_adds(b, ",\"template\":");
    pt_buf_adds(b, t->json);
    engine_loy_add_time(b, "created", t->created);
    engine_loy_add_time(b, "updated", t->updated);
    pt_buf_addc(b, '}');
}

static int do_template(struct pt_engine *g, int64_t shop, struct pt_auto_req *q, int64_t now,
                       struct pt_err *e)
{
    struct etmpl *t = engine_auto_tmpl(g, (uint32_t)shop, q->tmpl_id);
    int rc;
    if (q->del) {
        if (t == NULL)
            return answer(q, 404, "not_found", NULL, "no template \"%s\"", q->tmpl_id);
        if ((rc = pt_store_tmpl_del(g->w, shop, q->tmpl_id, e)))
            return rc;
        pt_msg_tmpl_release(&t->t);
        pt_free(t->json);
        *t = g->tmpls[--g->ntmpls];
        q->status = 204;
        return 0;
    }
    struct pt_msg_tmpl m;
    char field[64];
    struct pt_err pe;
    pt_err_clear(&pe);
    if (pt_msg_tmpl_parse(q->json, q->len, &m, field, &pe)) {
        if (pe.code == PT_ENOMEM)
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        return parse_answer(q, field, &pe);
    }
    struct pt_buf js;
    pt_buf_init(&js);
    if (pt_msg_tmpl_json(&m, &js) || pt_buf_addc(&js, '\0')) {
        pt_msg_tmpl_release(&m);
        pt_buf_release(&js);
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    }
    int created = t == NULL;
    if (created) {
        struct etmpl *x = pt_realloc_array(g->tmpls, g->ntmpls + 1, sizeof *x);
        if (x == NULL) {
            pt_msg_tmpl_release(&m);
            pt_buf_release(&js);
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        }
        g->tmpls = x;
        t = &x[g->ntmpls++];
        memset(t, 0, sizeof *t);
        t->shop = (uint32_t)shop;
        snprintf(t->id, sizeof t->id, "%s", q->tmpl_id);
        t->created = now;
    } else {
        pt_msg_tmpl_release(&t->t);
        pt_free(t->json);
    }
    t->t = m;
    t->json = js.data;
    t->updated = now;
    if ((rc = pt_store_tmpl_put(g->w, shop, t->id, t->json, now, e)))
        return rc;
    engine_auto_tmpl_json(t, &q->out);
    q->status = created ? 201 : 200;
    return 0;
}

/* ---- automations ---- */

static const char *status_name(int s)
{
    return s == PT_AUTO_ACTIVE ? "active" : s == PT_AUTO_PAUSED ? "paused" : "deleted";
}

void engine_auto_json(const struct eauto *a, struct pt_buf *b);
void engine_auto_json(const struct eauto *a, struct pt_buf *b)
{
    const struct pt_auto_def *d = a->defs[a->nvers - 1];
    pt_buf_printf(b, "{\"id\":%lld,\"name\":", (long long)a->id);
    pt_buf_add_json_str(b, d->name, strlen(d->name));
    pt_buf_printf(b, ",\"status\":\"%s\",\"version\":%lld,\"trigger\":\"%s\"",
                  status_name(a->status), (long long)a->vers[a->nvers - 1],
                  pt_auto_trigger_name(d->trigger));
    engine_loy_add_time(b, "created", a->created);
    engine_loy_add_time(b, "updated", a->updated);
    pt_buf_adds(b, ",\"definition\":");
    pt_buf_adds(b, a->json[a->nvers - 1]);
    pt_buf_addc(b, '}');
}

/* The JSON path of the first step (nested lists included) whose `key` is the
 * string sv (or the integer iv) into out: "steps[1].on_timeout[0].template". */
static int find_step(json_t *steps, const char *prefix, const char *key, const char *sv, int64_t iv,
                     char *out, size_t cap)
{
    static const char *const lists[] = {"then", "else", "on_event", "on_timeout"};
    size_t i;
    json_t *s;
    json_array_foreach(steps, i, s)
    {
        json_t *v = json_object_get(s, key);
        if (v && (sv ? json_is_string(v) && strcmp(json_string_value(v), sv) == 0
                     : json_is_integer(v) && json_integer_value(v) == iv)) {
            snprintf(out, cap, "%s[%zu].%s", prefix, i, key);
            return 1;
        }
        for (size_t k = 0; k < 4; k++) {
            char p[160];
            snprintf(p, sizeof p, "%s[%zu].%s", prefix, i, lists[k]);
            json_t *l = json_object_get(s, lists[k]);
            if (json_is_array(l) && find_step(l, p, key, sv, iv, out, cap))
                return 1;
        }
    }
    return 0;
}

static void step_field(const struct pt_auto_req *q, const char *key, const char *sv, int64_t iv,
                       char *out, size_t cap)
{
    json_t *o = json_loadb(q->json, q->len, 0, NULL);
    if (!find_step(json_object_get(o, "steps"), "steps", key, sv, iv, out, cap))
        snprintf(out, cap, "steps");
    json_decref(o);
}

/* References a definition makes that must exist now: segments by id,
 * templates (of the step's channel), rewards. */
static int check_refs(struct pt_engine *g, int64_t shop, const struct pt_auto_def *d,
                      struct pt_auto_req *q)
{
    char f[200];
    if (d->seg_id || d->seg_name) {
        size_t n, found = 0;
        struct eseg **l = engine_seg_list(g, (uint32_t)shop, 0, d->seg_id, &n);
        for (size_t i = 0; i < n && d->seg_name; i++)
            found += engine_auto_seg_named(l[i], d->seg_name) != 0;
        for (size_t i = 0; i < PT_RFM_NSEG && d->seg_name;
             i++) /* (built-ins come with customers) */
            found += strcmp(pt_rfm_segment_names[i], d->seg_name) == 0;
        pt_free(l);
        if (d->seg_id && n == 0)
            return answer(q, 400, "invalid_definition", "trigger.segment",
                          "trigger.segment: no segment with id %lld", (long long)d->seg_id);
        if (d->seg_name && found == 0)
            return answer(q, 400, "invalid_definition", "trigger.segment",
                          "trigger.segment: no segment named \"%s\"", d->seg_name);
    }
    for (size_t i = 0; i < d->nsteps; i++) {
        const struct pt_auto_step *s = &d->steps[i];
        if (s->op == PT_AOP_SEND) {
            struct etmpl *t = engine_auto_tmpl(g, (uint32_t)shop, s->tmpl);
            if (t == NULL || t->t.channel != s->channel)
                step_field(q, "template", s->tmpl, 0, f, sizeof f);
            if (t == NULL)
                return answer(q, 400, "invalid_definition", f,
                              "%s: no template \"%s\" (save it first with PUT "
                              "/v1/templates/%s)",
                              f, s->tmpl, s->tmpl);
            if (t->t.channel != s->channel)
                return answer(q, 400, "invalid_definition", f,
                              "%s: template \"%s\" is not for the %s channel", f, s->tmpl,
                              s->channel == PT_CHAN_EMAIL ? "email" : "webhook");
        }
        if (s->op == PT_AOP_VOUCHER && s->reward &&
            engine_loy_reward_of(g, shop, s->reward) == NULL) {
            step_field(q, "reward", NULL, s->reward, f, sizeof f);
            return answer(q, 400, "invalid_definition", f, "%s: no reward with id %lld", f,
                          (long long)s->reward);
        }
    }
    return 0;
}

static int do_define(struct pt_engine *g, int64_t shop, struct pt_auto_req *q, int64_t now,
                     struct pt_err *e)
{
    struct eauto *a = NULL;
    if (q->op == PT_AUTOOP_UPDATE) {
        a = engine_auto_find(g, shop, q->id);
        if (a == NULL || a->status == PT_AUTO_DELETED)
            return answer(q, 404, "not_found", NULL, "no automation with id %lld",
                          (long long)q->id);
    }
    struct pt_auto_def d;
    char field[128];
    struct pt_err pe;
    pt_err_clear(&pe);
    if (pt_auto_def_parse(q->json, q->len, &d, field, &pe)) {
        if (pe.code == PT_ENOMEM)
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        return parse_answer(q, field, &pe);
    }
    struct pt_buf js;
    pt_buf_init(&js);
    int rc = check_refs(g, shop, &d, q);
    if (rc == 0 && q->status == 0 && (pt_auto_def_json(&d, &js) || pt_buf_addc(&js, '\0')))
        rc = pt_err_set(e, PT_ENOMEM, "out of memory");
    pt_auto_def_release(&d);
    if (rc || q->status) {
        pt_buf_release(&js);
        return rc;
    }
    int created = a == NULL;
    struct pt_auto_row row = {.id = a ? a->id : 0,
                              .shop = shop,
                              .version = a ? a->vers[a->nvers - 1] + 1 : 1,
                              .status = a ? a->status : PT_AUTO_ACTIVE,
                              .json = js.data,
                              .created = a ? a->created : now,
                              .updated = now};
    int64_t id;
    if ((rc = pt_store_auto_put(g->w, &row, &id, e))) {
        pt_buf_release(&js);
        return rc;
    }
    if (created) {
        struct eauto **x = pt_realloc_array(g->autos, g->nautos + 1, sizeof *x);
        if (x)
            g->autos = x;
        if (x == NULL || (a = pt_calloc(1, sizeof *a)) == NULL) {
            pt_buf_release(&js);
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        }
        g->autos[g->nautos++] = a;
        a->id = id;
        a->shop = (uint32_t)shop;
        a->status = PT_AUTO_ACTIVE;
        a->created = now;
    }
    a->updated = now;
    rc = engine_auto_add_version(a, row.version, js.data, e);
    pt_buf_release(&js);
    if (rc)
        return rc;
    engine_auto_json(a, &q->out);
    q->status = created ? 201 : 200;
    return 0;
}

struct retime_ctx {
    struct pt_engine *g;
    const struct msgset *m;
    int64_t now;
    struct pt_err *e;
};

static int retime_one(void *ctx, int64_t id, int64_t customer)
{
    struct retime_ctx *x = ctx;
    if (customer < 1 || (size_t)customer > x->g->st.n)
        return 0;
    int64_t t = engine_auto_best_time(x->g, x->m, (size_t)customer - 1, x->now);
    return pt_store_outbox_retime(x->g->w, id, t, x->e);
}

static int do_status(struct pt_engine *g, int64_t shop, struct pt_auto_req *q, int64_t now,
                     struct pt_err *e)
{
    struct eauto *a = engine_auto_find(g, shop, q->id);
    if (a == NULL || a->status == PT_AUTO_DELETED)
        return answer(q, 404, "not_found", NULL, "no automation with id %lld", (long long)q->id);
    int to = q->status_to, rc;
    if (to != a->status) {
        /* marketing messages a pause held past their time wait for the next best hour */
        struct retime_ctx rt = {.g = g, .m = engine_auto_settings(g, a->shop), .now = now, .e = e};
        if (to == PT_AUTO_ACTIVE &&
            (rc = pt_store_outbox_overdue(g->w, a->id, now, retime_one, &rt, e)))
            return rc;
        if ((rc = pt_store_auto_status(g->w, a->id, to, now, e)) ||
            (rc = pt_store_outbox_hold(g->w, a->id, to != PT_AUTO_ACTIVE, e)))
            return rc;
        a->status = to;
        a->updated = now;
        for (uint32_t k = 0; k < g->nruns; k++) {
            struct arun *r = &g->runs[k];
            if (!r->live || r->auto_id != a->id)
                continue;
            if (to == PT_AUTO_DELETED) {
                struct pt_auto_run_row rr = {.id = r->id,
                                             .state = PT_RUN_EXITED,
                                             .pc = r->pc,
                                             .flags = r->flags,
                                             .ended = now,
                                             .voucher = r->voucher};
                struct auto_seen *sn = engine_auto_seen(a, r->row, 0);
                if (sn)
                    sn->active = 0;
                if ((rc = pt_store_run_update(g->w, &rr, e)))
                    return rc;
                engine_auto_run_drop(g, k);
            } else if (to == PT_AUTO_ACTIVE && (r->flags & RUN_GOT_EVENT)) {
                /* the event a run waited for came while paused */
                r->flags &= ~(RUN_GOT_EVENT | RUN_PARKED);
                r->pc++;
                r->wake = 0;
                if ((rc = engine_auto_exec(g, k, now, e)))
                    return rc;
            } else if (to == PT_AUTO_ACTIVE && (r->flags & RUN_PARKED)) {
                r->flags &= ~RUN_PARKED;
                if (engine_auto_run_push(g, k))
                    return pt_err_set(e, PT_ENOMEM, "out of memory");
            }
        }
        if (to == PT_AUTO_ACTIVE)
            g->auto_wrote = 1;
    }
    if (to == PT_AUTO_DELETED) {
        q->status = 204;
        return 0;
    }
    engine_auto_json(a, &q->out);
    q->status = 200;
    return 0;
}

static int do_settings(struct pt_engine *g, int64_t shop, struct pt_auto_req *q, struct pt_err *e)
{
    struct msgset m;
    char field[128];
    struct pt_err pe;
    pt_err_clear(&pe);
    if (engine_auto_settings_parse(g, (uint32_t)shop, q->json, &m, field, &pe)) {
        if (pe.code == PT_ENOMEM)
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        return parse_answer(q, field, &pe);
    }
    int rc = pt_store_msg_settings_put(g->w, shop, m.json, e);
    if (rc) {
        pt_free(m.json);
        return rc;
    }
    size_t i = 0;
    while (i < g->nsets && g->sets[i].shop != (uint32_t)shop)
        i++;
    if (i == g->nsets) {
        struct msgset *x = pt_realloc_array(g->sets, g->nsets + 1, sizeof *x);
        if (x == NULL) {
            pt_free(m.json);
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        }
        g->sets = x;
        g->nsets++;
    } else {
        pt_free(g->sets[i].json);
    }
    g->sets[i] = m;
    engine_auto_settings_json(g, &m, &q->out);
    q->status = 200;
    return 0;
}

static int do_delivered(struct pt_engine *g, struct pt_auto_req *q, int64_t now, struct pt_err *e)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < q->n; i++) {
        const struct pt_auto_result *x = &q->results[i];
        rc = pt_store_outbox_result(g->w, x->id, x->status, x->attempts, x->next_at,
                                    x->error[0] ? x->error : NULL, x->sent_at, e);
        if (rc == 0 && x->bounce && x->address[0])
            rc = pt_store_suppress(g->w, x->shop, x->address, x->error, now, e);
    }
    q->status = 200;
    return rc;
}

static int do_trigger(struct pt_engine *g, int64_t shop, struct pt_auto_req *q, int64_t now,
                      struct pt_err *e)
{
    struct eauto *a = engine_auto_find(g, shop, q->id);
    if (a == NULL || a->status == PT_AUTO_DELETED)
        return answer(q, 404, "not_found", NULL, "no automation with id %lld", (long long)q->id);
    if (a->status != PT_AUTO_ACTIVE)
        return answer(q, 409, "paused", NULL, "the automation is paused");
    int64_t row = pt_state_find(&g->st, (uint32_t)shop, 0, q->user_id, strlen(q->user_id));
    if (row < 0 || (g->st.flags[row] & (ROW_PRESENT | ROW_ERASED)) != ROW_PRESENT)
        return answer(q, 404, "not_found", NULL, "no customer with that userId");
    size_t root = pt_state_root(&g->st, (size_t)row);
    int out;
    int rc = engine_auto_enter(g, a, root, 0, NULL, now, &out, e);
    if (rc)
        return rc;
    pt_buf_printf(&q->out, "{\"automation\":%lld,\"entered\":%s,\"control\":%s}", (long long)a->id,
                  out == 1 || out == 2 ? "true" : "false", out == 2 ? "true" : "false");
    q->status = 200;
    return 0;
}

static int auto_op(struct pt_engine *g, struct pt_job *j, int64_t now, struct pt_err *e)
{
    struct pt_auto_req *q = j->aut;
    int rc;
    switch (q->op) {
    case PT_AUTOOP_TEMPLATE:
        rc = do_template(g, j->shop, q, now, e);
        break;
    case PT_AUTOOP_CREATE:
    case PT_AUTOOP_UPDATE:
        rc = do_define(g, j->shop, q, now, e);
        break;
    case PT_AUTOOP_STATUS:
        rc = do_status(g, j->shop, q, now, e);
        break;
    case PT_AUTOOP_SETTINGS:
        rc = do_settings(g, j->shop, q, e);
        break;
    case PT_AUTOOP_DELIVERED:
        rc = do_delivered(g, q, now, e);
        break;
    case PT_AUTOOP_TRIGGER:
        rc = do_trigger(g, j->shop, q, now, e);
        break;
    default:
        rc = answer(q, 400, "invalid", NULL, "unknown operation");
        break;
    }
    return rc;
}

int engine_auto_job(struct pt_engine *g, struct pt_job *j, int64_t now, struct pt_err *e)
{
    struct pt_auto_req *q = j->aut;
    return engine_idem_job(g, j, q->idem, q->hash, &q->out, &q->status, &q->replayed, now, auto_op,
                           e);
}
