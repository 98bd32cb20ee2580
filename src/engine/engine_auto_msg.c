/*
 * engine_auto_msg.c - a message decided (docs/automation.md "Messages"):
 * consent, suppression and frequency cap checked, the customer's best hour
 * outside quiet hours chosen, the template rendered with the customer's
 * profile, loyalty, voucher, triggering event and recently viewed products,
 * links made trackable, and the message written to the outbox in the
 * group's transaction. A message that must not go is written too, as
 * skipped with its reason, so the API can tell why nothing was sent.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"
#include "util/mem.h"
#include "util/timeutil.h"

#define HOUR 3600
#define DAY  86400

struct etmpl *engine_auto_tmpl(struct pt_engine *g, uint32_t shop, const char *id)
{
    for (size_t i = 0; i < g->ntmpls; i++)
        if (g->tmpls[i].shop == shop && strcmp(g->tmpls[i].id, id) == 0)
            return &g->tmpls[i];
    return NULL;
}

/* ---- timing ---- */

int64_t engine_auto_best_time(struct pt_engine *g, const struct msgset *m, size_t row, int64_t now)
{
    uint32_t hours[24] = {0}, opened = pt_dict_find(&g->dict, "Email Opened", 12);
    int64_t off = (int64_t)m->tz_min * 60;
    size_t rows[PT_STATE_MAX_TREE];
    size_t n = pt_state_tree(&g->st, row, rows, PT_STATE_MAX_TREE);
    if (n > PT_STATE_MAX_TREE)
        n = PT_STATE_MAX_TREE;
    uint32_t seen = 0;
    for (size_t i = 0; i < n; i++)
        for (uint32_t k = rows[i] < g->act_rows ? g->act_head[rows[i]] : 0; k && seen < 1000;
             k = g->act_next[k - 1]) {
            const struct pt_act *a = &g->acts[k - 1];
            if ((a->kind == PT_K_ORDER_COMPLETED && !(a->flags & PT_ACT_LINE)) ||
                (opened && a->name == opened)) {
                hours[pt_floor_div(a->t + off, HOUR) % 24]++;
                seen++;
            }
        }
    int best = m->default_hour;
    uint32_t most = 0;
    for (int h = 0; h < 24; h++)
        if (hours[h] > most) {
            most = hours[h];
            best = h;
        }
    int qs = m->quiet_start, qe = m->quiet_end;
    int quiet = qs != qe && (qs < qe ? best >= qs && best < qe : best >= qs || best < qe);
    if (quiet)
        best = qe;
    int64_t local = now + off, day0 = pt_floor_div(local, DAY) * DAY;
    int64_t at = day0 + best * HOUR;
    if (local >= at + HOUR)
        at += DAY; /* today's best hour is over: tomorrow's */
    else if (local > at)
        at = local; /* within the best hour now */
    return at - off;
}

/* ---- rendering ---- */

static void add_recent(struct pt_engine *g, struct pt_store *store, size_t row, json_t *ctx)
{
    /* recently viewed but not bought: the newest views of products with no order line */
    json_t *arr = json_array();
    uint32_t got[4], ngot = 0;
    size_t rows[PT_STATE_MAX_TREE];
    size_t n = pt_state_tree(&g->st, row, rows, PT_STATE_MAX_TREE);
    if (n > PT_STATE_MAX_TREE)
        n = PT_STATE_MAX_TREE;
    for (size_t i = 0; i < n && ngot < 4; i++)
        for (uint32_t k = rows[i] < g->act_rows ? g->act_head[rows[i]] : 0; k && ngot < 4;
             k = g->act_next[k - 1]) {
            const struct pt_act *a = &g->acts[k - 1];
            if (a->kind != PT_K_PRODUCT_VIEWED || a->prod == 0)
                continue;
            int skip = 0;
            for (uint32_t j = 0; j < ngot; j++)
                skip |= got[j] == a->prod;
            for (size_t r = 0; r < n && !skip; r++)
                for (uint32_t q = rows[r] < g->act_rows ? g->act_head[rows[r]] : 0; q && !skip;
                     q = g->act_next[q - 1])
                    skip = (g->acts[q - 1].flags & PT_ACT_LINE) && g->acts[q - 1].prod == a->prod;
            if (skip)
                continue;
            got[ngot++] = a->prod;
            size_t len;
            const char *pid = pt_dict_str(&g->dict, a->prod, &len);
            json_t *p = json_object();
            json_object_set_new(p, "id", json_stringn(pid, len));
            struct pt_buf b;
            pt_buf_init(&b);
            if (a->seq && pt_store_event_body(store, a->seq, &b, NULL) == 0) {
                json_t *ev = json_loadb(b.data, b.len, 0, NULL);
                json_t *pr = json_object_get(ev, "properties");
                static const char *const keys[] = {"name",      "price",    "url",
                                                   "image_url", "category", "brand"};
                for (size_t x = 0; x < sizeof keys / sizeof keys[0]; x++) {
                    json_t *v = json_object_get(pr, keys[x]);
                    if (v)
                        json_object_set(p, keys[x], v);
                }
                json_decref(ev);
            }
            pt_buf_release(&b);
            json_array_append_new(arr, p);
        }
    json_object_set_new(ctx, "products", arr);
}

static void add_loyalty(struct pt_engine *g, size_t row, int64_t now, json_t *ctx)
{
    struct loy_acct *a = engine_loy_acct(g, row);
    struct loy_prog *lp = a ? engine_loy_prog(g, a->shop) : NULL;
    json_t *l = json_object();
    json_object_set_new(l, "member", json_boolean(a != NULL));
    json_object_set_new(l, "points", json_integer(a ? a->balance : 0));
    if (a && lp && a->tier > 0 && (size_t)a->tier <= lp->p.ntiers)
        json_object_set_new(l, "tier", json_string(lp->p.tiers[a->tier - 1].name));
    int64_t exp_pts = 0, exp_t = 0;
    for (uint32_t i = a ? a->lot0 : 0; a && i < a->nlots; i++)
        if (a->lots[i].left > 0 && a->lots[i].expires > now) {
            if (exp_t == 0 || a->lots[i].expires < exp_t) {
                exp_t = a->lots[i].expires;
                exp_pts = 0;
            }
            if (a->lots[i].expires == exp_t)
                exp_pts += a->lots[i].left;
        }
    if (exp_t) {
        char ts[21];
        pt_format_utc(exp_t, ts);
        json_object_set_new(l, "expiring_points", json_integer(exp_pts));
        json_object_set_new(l, "expiring_at", json_stringn(ts, 10));
    }
    if (a) {
        char code[PT_CODE_PRINT_MAX];
        pt_code_print(a->code, NULL, code);
        json_object_set_new(l, "referral_code", json_string(code));
    }
    json_object_set_new(ctx, "loyalty", l);
}

static void link(struct pt_engine *g, const struct msgset *m, int kind, const char *msg_id,
                 const char *url, struct pt_buf *out)
{
    char tok[160];
    pt_engine_track_token(g, kind, msg_id, url, tok, sizeof tok);
    pt_buf_adds(out, engine_auto_base(g, m));
    pt_buf_adds(out, kind == 'o' ? "/t/o/" : kind == 'c' ? "/t/c/" : "/u/");
    pt_buf_adds(out, tok);
    if (kind == 'o')
        pt_buf_adds(out, ".gif");
    if (kind == 'c') {
        pt_buf_adds(out, "?u=");
        for (const unsigned char *p = (const unsigned char *)url; *p; p++)
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                strchr("-._~", *p))
                pt_buf_addc(out, (char)*p);
            else
                pt_buf_printf(out, "%%%02X", *p);
    }
}

/* &amp; &lt; &gt; &quot; &#39; in place (what the template's escaping writes). */
static void html_unescape(char *s)
{
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}};
    char *w = s;
    for (const char *p = s; *p;) {
        size_t k = 0;
        while (k < sizeof ents / sizeof ents[0] && strncmp(p, ents[k].ent, strlen(ents[k].ent)))
            k++;
        if (k < sizeof ents / sizeof ents[0]) {
            *w++ = ents[k].c;
            p += strlen(ents[k].ent);
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
}

/* href="http..." made a tracked click; the open pixel before </body> (or at the end). */
static int track_html(struct pt_engine *g, const struct msgset *m, const char *msg_id,
                      const struct pt_buf *in, struct pt_buf *out)
{
    const char *p = in->data ? in->data : "", *end = p + in->len;
    char unsub[300];
    snprintf(unsub, sizeof unsub, "%s/u/", engine_auto_base(g, m));
    while (p < end) {
        /* an href attribute (not data-href=...) whose value is an http(s) URL */
        const char *h = strstr(p, "href=\"http");
        while (h && h > in->data && h[-1] != ' ' && h[-1] != '\t' && h[-1] != '\n' && h[-1] != '\r')
            h = strstr(h + 1, "href=\"http");
        const char *body = strstr(p, "</body>");
        if (h == NULL || h >= end)
            h = end;
        if (body && body < h) {
            pt_buf_add(out, p, (size_t)(body - p));
            pt_buf_adds(out, "<img src=\"");
            link(g, m, 'o', msg_id, NULL, out);
            pt_buf_adds(out, "\" width=\"1\" height=\"1\" alt=\"\">");
            pt_buf_add(out, body, (size_t)(end - body));
            return pt_buf_addc(out, '\0');
        }
        pt_buf_add(out, p, (size_t)(h - p));
        if (h == end)
            break;
        const char *u = h + 6, *q = memchr(u, '"', (size_t)(end - u));
        if (q == NULL) {
            pt_buf_add(out, h, (size_t)(end - h));
            break;
        }
        char *url = pt_strndup(u, (size_t)(q - u));
        if (url == NULL)
            return PT_ENOMEM;
        html_unescape(url); /* the attribute's text is HTML: the link is what it means */
        pt_buf_adds(out, "href=\"");
        if (strncmp(url, unsub, strlen(unsub)) == 0) {
            pt_buf_add(out, u, (size_t)(q - u)); /* the unsubscribe link is no click */
        } else {
            struct pt_buf lk;
            pt_buf_init(&lk);
            link(g, m, 'c', msg_id, url, &lk);
            pt_buf_add(out, lk.data, lk.len);
            pt_buf_release(&lk);
        }
        pt_free(url);
        p = q;
    }
    pt_buf_adds(out, "<img src=\"");
    link(g, m, 'o', msg_id, NULL, out);
    pt_buf_adds(out, "\" width=\"1\" height=\"1\" alt=\"\">");
    return pt_buf_addc(out, '\0');
}

int engine_auto_render(struct pt_engine *g, struct pt_store *store, const struct etmpl *t,
                       size_t row, const struct arun *r, const char *msg_id, int64_t now,
                       struct auto_msg *out, struct pt_err *e)
{
    const struct msgset *m = engine_auto_settings(g, t->shop);
    size_t rows[PT_STATE_MAX_TREE];
    int64_t ids[PT_STATE_MAX_TREE];
    size_t n = pt_state_tree(&g->st, row, rows, PT_STATE_MAX_TREE);
    if (n > PT_STATE_MAX_TREE)
        n = PT_STATE_MAX_TREE;
    for (size_t i = 0; i < n; i++)
        ids[i] = (int64_t)rows[i] + 1;
    struct pt_buf b;
    pt_buf_init(&b);
    int rc = pt_store_traits_json(store, ids, n, &b, e);
    json_t *traits = rc ? NULL : json_loadb(b.data ? b.data : "{}", b.len, 0, NULL);
    pt_buf_release(&b);
    if (rc)
        return rc;
    if (!json_is_object(traits)) {
        json_decref(traits);
        traits = json_object();
    }
    json_t *ctx = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(traits, k, v) json_object_set(ctx, k, v);
    uint32_t len;
    const char *id = pt_state_id(&g->st, row, &len);
    json_object_set_new(traits, "id", json_stringn(id, len));
    json_object_set_new(ctx, "customer", traits);
    add_loyalty(g, row, now, ctx);
    add_recent(g, store, row, ctx);
    if (r && r->voucher[0]) {
        char code[PT_CODE_PRINT_MAX];
        pt_code_print(r->voucher, NULL, code);
        json_t *vo = json_object();
        json_object_set_new(vo, "code", json_string(code));
        json_object_set_new(ctx, "voucher", vo);
    }
    json_t *ev = r && r->ctx ? json_loads(r->ctx, 0, NULL) : NULL;
    if (ev) {
        const char *name = json_string_value(json_object_get(ev, "event"));
        if (name && strcmp(name, "Order Completed") == 0)
            json_object_set(ctx, "order", json_object_get(ev, "properties"));
        json_object_set_new(ctx, "event", ev);
    }
    if (r) {
        struct eauto *a = engine_auto_find(g, r->shop, r->auto_id);
        json_t *ao = json_object();
        json_object_set_new(ao, "id", json_integer(r->auto_id));
        if (a)
            json_object_set_new(ao, "name", json_string(a->defs[a->nvers - 1]->name));
        json_object_set_new(ctx, "automation", ao);
    }
    json_t *shop = json_object();
    json_object_set_new(shop, "name",
                        json_string(m->from_name[0] ? m->from_name : engine_auto_from(g, m)));
    json_object_set_new(ctx, "shop", shop);
    json_object_set_new(ctx, "message_id", json_string(msg_id));
    struct pt_buf u;
    pt_buf_init(&u);
    link(g, m, 'u', msg_id, NULL, &u);
    pt_buf_addc(&u, '\0');
    json_object_set_new(ctx, "unsubscribe_url", json_string(u.data ? u.data : ""));
    json_object_set_new(ctx, "preferences_url", json_string(u.data ? u.data : ""));
    pt_buf_release(&u);
    rc = 0;
    if (t->t.subject)
        rc |= pt_tmpl_render(t->t.subject, ctx, PT_TMPL_TEXT, &out->subject) ||
              pt_buf_addc(&out->subject, '\0');
    if (t->t.text)
        rc |= pt_tmpl_render(t->t.text, ctx, PT_TMPL_TEXT, &out->text) ||
              pt_buf_addc(&out->text, '\0');
    if (t->t.body)
        rc |= pt_tmpl_render(t->t.body, ctx, PT_TMPL_JSON, &out->body) ||
              pt_buf_addc(&out->body, '\0');
    if (t->t.html) {
        struct pt_buf h;
        pt_buf_init(&h);
        rc |= pt_tmpl_render(t->t.html, ctx, PT_TMPL_HTML, &h) ||
              track_html(g, m, msg_id, &h, &out->html);
        pt_buf_release(&h);
    }
    json_decref(ctx);
    return rc ? pt_err_set(e, PT_ENOMEM, "out of memory") : 0;
}

/* ---- the decision ---- */

int engine_auto_consented(const struct pt_engine *g, size_t row, int channel)
{
    unsigned bit = channel == PT_CHAN_EMAIL ? PT_CONSENT_EMAIL : PT_CONSENT_SMS;
    return (g->st.consent_set[row] & bit) && (g->st.consent[row] & bit);
}

int engine_auto_send(struct pt_engine *g, struct arun *r, const struct pt_auto_step *s, int64_t now,
                     struct pt_err *e)
{
    const struct msgset *m = engine_auto_settings(g, r->shop);
    int channel = s->op == PT_AOP_WEBHOOK ? PT_CHAN_WEBHOOK : s->channel;
    struct pt_outbox_row o = {.shop = r->shop,
                              .automation = r->auto_id,
                              .run = r->id,
                              .customer = (int64_t)r->row + 1,
                              .channel = channel,
                              .marketing = s->op == PT_AOP_SEND && !s->transactional,
                              .status = PT_OUT_PENDING,
                              .next_at = now,
                              .created = now,
                              .tmpl = s->tmpl};
    snprintf(o.msg_id, sizeof o.msg_id, "a%lld-r%lld-s%d", (long long)r->auto_id, (long long)r->id,
             r->pc);
    char email[256] = "";
    const char *skip = NULL;
    char why[160];
    struct etmpl *t = s->tmpl ? engine_auto_tmpl(g, r->shop, s->tmpl) : NULL;
    int rc = 0;
    if (channel == PT_CHAN_EMAIL) {
        if ((rc = engine_loy_trait(g, r->row, "email", email, sizeof email, e)))
            return rc;
        o.address = email;
    } else {
        o.address = s->url;
    }
    int sup = 0;
    if (s->tmpl && t == NULL) {
        snprintf(why, sizeof why, "no template \"%s\"", s->tmpl);
        skip = why;
    } else if (t && t->t.channel != channel) {
        skip = "the template is for another channel";
    } else if (channel == PT_CHAN_EMAIL && (email[0] == '\0' || strchr(email, '@') == NULL)) {
        skip = "no email address";
    } else if (o.marketing && !engine_auto_consented(g, r->row, channel)) {
        skip = channel == PT_CHAN_EMAIL ? "no consent to email marketing" : "no consent to sms";
    } else if (channel == PT_CHAN_EMAIL &&
               (rc = pt_store_suppressed(g->w, r->shop, email, &sup, e)) == 0 && sup) {
        skip = "the address is suppressed (it bounced hard)";
    }
    if (rc)
        return rc;
    if (skip == NULL && o.marketing && m->cap_max[channel] > 0) {
        int64_t cnt;
        if ((rc = pt_store_outbox_count(g->w, o.customer, channel, now - m->cap_per[channel], &cnt,
                                        e)))
            return rc;
        if (cnt >= m->cap_max[channel]) {
            snprintf(why, sizeof why, "frequency cap: %d per %lld h reached", m->cap_max[channel],
                     (long long)(m->cap_per[channel] / HOUR));
            skip = why;
        }
    }
    struct auto_msg msg;
    pt_buf_init(&msg.subject);
    pt_buf_init(&msg.html);
    pt_buf_init(&msg.text);
    pt_buf_init(&msg.body);
    if (skip) {
        o.status = PT_OUT_SKIPPED;
        o.error = skip;
    } else if (t) {
        rc = engine_auto_render(g, g->w, t, r->row, r, o.msg_id, now, &msg, e);
        o.subject = msg.subject.data;
        o.html = msg.html.data;
        o.text = msg.text.data;
        o.body = msg.body.data;
        if (rc == 0 && o.body) {
            json_t *j = json_loads(o.body, 0, NULL);
            if (j == NULL) {
                o.status = PT_OUT_SKIPPED;
                o.error = "the template's body did not render to valid JSON";
            }
            json_decref(j);
        }
    } else {
        /* a webhook step: the run as JSON */
        uint32_t len;
        const char *id = pt_state_id(&g->st, r->row, &len);
        pt_buf_printf(&msg.body,
                      "{\"message_id\":\"%s\",\"automation\":%lld,\"run\":%lld,"
                      "\"step\":%d,\"user_id\":",
                      o.msg_id, (long long)r->auto_id, (long long)r->id, r->pc);
        pt_buf_add_json_str(&msg.body, id, len);
        if (r->voucher[0]) {
            char code[PT_CODE_PRINT_MAX];
            pt_code_print(r->voucher, NULL, code);
            pt_buf_printf(&msg.body, ",\"voucher\":\"%s\"", code);
        }
        pt_buf_adds(&msg.body, ",\"event\":");
        pt_buf_adds(&msg.body, r->ctx ? r->ctx : "null");
        pt_buf_printf(&msg.body, ",\"t\":%lld}", (long long)now);
        pt_buf_addc(&msg.body, '\0');
        o.body = msg.body.data;
    }
    if (rc == 0 && o.status == PT_OUT_PENDING && o.marketing)
        o.next_at = engine_auto_best_time(g, m, r->row, now);
    int64_t id;
    if (rc == 0)
        rc = pt_store_outbox_insert(g->w, &o, &id, e);
    if (rc == 0 && o.status == PT_OUT_PENDING) {
        g->auto_wrote = 1;
        g->auto_sent_decided++;
    }
    pt_buf_release(&msg.subject);
    pt_buf_release(&msg.html);
    pt_buf_release(&msg.text);
    pt_buf_release(&msg.body);
    return rc;
}
