/*
 * engine_auto_read.c - automation reads for the HTTP threads (read lock):
 * automations with their counts, templates, settings, previews, the outbox,
 * and the signed tokens of tracking and unsubscribe links.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"
#include "util/mem.h"

void engine_auto_json(const struct eauto *a, struct pt_buf *b);
void engine_auto_tmpl_json(const struct etmpl *t, struct pt_buf *b);

static const char *const out_status[] = {"pending", "sent", "dead", "held", "skipped"};

struct counts_ctx {
    int64_t id;
    struct pt_auto_counts c;
};

static int one_count(void *ctx, const struct pt_auto_counts *c)
{
    struct counts_ctx *x = ctx;
    if (c->automation == x->id)
        x->c = *c;
    return 0;
}

static void add_stats(struct pt_engine *g, struct pt_store *rd, const struct eauto *a,
                      struct pt_buf *out)
{
    struct counts_ctx cc = {.id = a->id};
    int64_t n[5] = {0};
    if (rd) {
        pt_store_run_counts(rd, a->shop, one_count, &cc, NULL);
        pt_store_outbox_counts(rd, a->shop, a->id, n, NULL);
    }
    (void)g;
    pt_buf_printf(out,
                  ",\"stats\":{\"entered\":%lld,\"control\":%lld,\"active\":%lld,\"done\":%lld,"
                  "\"exited\":%lld,\"failed\":%lld,\"messages\":{",
                  (long long)cc.c.entered, (long long)cc.c.control, (long long)cc.c.active,
                  (long long)cc.c.done, (long long)cc.c.exited, (long long)cc.c.failed);
    for (int i = 0; i < 5; i++)
        pt_buf_printf(out, "%s\"%s\":%lld", i ? "," : "", out_status[i], (long long)n[i]);
    pt_buf_adds(out, "}}");
}

int pt_engine_auto_list(struct pt_engine *g, int64_t shop, int64_t id, struct pt_buf *out)
{
    struct pt_store *rd = pt_engine_reader(g);
    pthread_rwlock_rdlock(&g->lock);
    int rc = 0, first = 1;
    if (id == 0)
        pt_buf_adds(out, "{\"automations\":[");
    else
        rc = PT_ENOTFOUND;
    for (size_t i = 0; i < g->nautos; i++) {
        const struct eauto *a = g->autos[i];
        if (a->shop != (uint32_t)shop || a->status == PT_AUTO_DELETED || (id && a->id != id))
            continue;
        if (!first)
            pt_buf_addc(out, ',');
        first = 0;
        engine_auto_json(a, out);
        out->len--; /* reopen the object for its stats */
        add_stats(g, rd, a, out);
        pt_buf_addc(out, '}');
        rc = 0;
    }
    if (id == 0)
        pt_buf_adds(out, "]}");
    pthread_rwlock_unlock(&g->lock);
    return rc;
}

int pt_engine_auto_templates(struct pt_engine *g, int64_t shop, const char *id, struct pt_buf *out)
{
    pthread_rwlock_rdlock(&g->lock);
    int rc = id ? PT_ENOTFOUND : 0, first = 1;
    if (id == NULL)
        pt_buf_adds(out, "{\"templates\":[");
    for (size_t i = 0; i < g->ntmpls; i++) {
        const struct etmpl *t = &g->tmpls[i];
        if (t->shop != (uint32_t)shop || (id && strcmp(t->id, id) != 0))
            continue;
        if (!first)
            pt_buf_addc(out, ',');
        first = 0;
        engine_auto_tmpl_json(t, out);
        rc = 0;
    }
    if (id == NULL)
        pt_buf_adds(out, "]}");
    pthread_rwlock_unlock(&g->lock);
    return rc;
}

int pt_engine_auto_settings(struct pt_engine *g, int64_t shop, struct pt_buf *out)
{
    pthread_rwlock_rdlock(&g->lock);
    engine_auto_settings_json(g, engine_auto_settings(g, (uint32_t)shop), out);
    pthread_rwlock_unlock(&g->lock);
    return 0;
}

int pt_engine_auto_preview(struct pt_engine *g, int64_t shop, const char *id, const char *user_id,
                           struct pt_buf *out)
{
    struct pt_store *rd = pt_engine_reader(g);
    if (rd == NULL)
        return PT_EIO;
    pthread_rwlock_rdlock(&g->lock);
    int rc = PT_ENOTFOUND;
    struct etmpl *t = engine_auto_tmpl(g, (uint32_t)shop, id);
    int64_t row = pt_state_find(&g->st, (uint32_t)shop, 0, user_id, strlen(user_id));
    if (row >= 0 && (g->st.flags[row] & (ROW_PRESENT | ROW_ERASED)) != ROW_PRESENT)
        row = -1;
    if (t && row >= 0) {
        struct auto_msg m;
        pt_buf_init(&m.subject);
        pt_buf_init(&m.html);
        pt_buf_init(&m.text);
        pt_buf_init(&m.body);
        struct pt_err e;
        size_t root = pt_state_root(&g->st, (size_t)row);
        rc = engine_auto_render(g, rd, t, root, NULL, "preview", engine_now(g), &m, &e);
        if (rc == 0) {
            pt_buf_adds(out, "{\"template\":");
            pt_buf_add_json_str(out, t->id, strlen(t->id));
            pt_buf_adds(out, ",\"user_id\":");
            pt_buf_add_json_str(out, user_id, strlen(user_id));
            struct pt_buf *parts[] = {&m.subject, &m.html, &m.text, &m.body};
            const char *names[] = {"subject", "html", "text", "body"};
            for (int i = 0; i < 4; i++) {
                pt_buf_printf(out, ",\"%s\":", names[i]);
                if (parts[i]->len)
                    pt_buf_add_json_str(out, parts[i]->data, parts[i]->len - 1);
                else
                    pt_buf_adds(out, "null");
            }
            pt_buf_addc(out, '}');
        }
        pt_buf_release(&m.subject);
        pt_buf_release(&m.html);
        pt_buf_release(&m.text);
        pt_buf_release(&m.body);
    }
    pthread_rwlock_unlock(&g->lock);
    return rc;
}

void pt_engine_set_public_url(struct pt_engine *g, const char *url)
{
    char *u = pt_strndup(url, strlen(url));
    if (u == NULL)
        return;
    pthread_rwlock_wrlock(&g->lock);
    pt_free(g->public_url);
    g->public_url = u;
    pthread_rwlock_unlock(&g->lock);
}

/* ---- the outbox ---- */

struct list_ctx {
    struct pt_engine *g;
    struct pt_buf *out;
    int n;
    int64_t last;
};

static void str_or_null(struct pt_buf *b, const char *key, const char *v)
{
    pt_buf_printf(b, ",\"%s\":", key);
    if (v)
        pt_buf_add_json_str(b, v, strlen(v));
    else
        pt_buf_adds(b, "null");
}

static int list_one(void *ctx, const struct pt_outbox_row *m)
{
    struct list_ctx *x = ctx;
    struct pt_buf *b = x->out;
    if (x->n++)
        pt_buf_addc(b, ',');
    x->last = m->id;
    pt_buf_printf(b, "{\"id\":%lld,\"message_id\":\"%s\",\"automation\":%lld,\"run\":%lld",
                  (long long)m->id, m->msg_id, (long long)m->automation, (long long)m->run);
    const struct pt_state *st = &x->g->st;
    if (m->customer >= 1 && (size_t)m->customer <= st->n) {
        uint32_t len;
        const char *id = pt_state_id(st, (size_t)m->customer - 1, &len);
        pt_buf_adds(b, ",\"user_id\":");
        pt_buf_add_json_str(b, id, len);
    }
    pt_buf_printf(b, ",\"channel\":\"%s\",\"marketing\":%s,\"status\":\"%s\",\"attempts\":%d",
                  m->channel == PT_CHAN_EMAIL ? "email" : "webhook",
                  m->marketing ? "true" : "false",
                  m->status >= 0 && m->status < 5 ? out_status[m->status] : "unknown", m->attempts);
    str_or_null(b, "template", m->tmpl);
    str_or_null(b, "address", m->address);
    str_or_null(b, "subject", m->subject);
    str_or_null(b, "error", m->error);
    engine_loy_add_time(b, "created", m->created);
    engine_loy_add_time(b, "next_attempt", m->status == PT_OUT_PENDING ? m->next_at : 0);
    engine_loy_add_time(b, "sent_at", m->sent_at);
    return pt_buf_addc(b, '}');
}

int pt_engine_outbox(struct pt_engine *g, int64_t shop, int status, int64_t automation,
                     const char *user_id, int64_t before, int limit, struct pt_buf *out)
{
    struct pt_store *rd = pt_engine_reader(g);
    if (rd == NULL)
        return PT_EIO;
    pthread_rwlock_rdlock(&g->lock);
    int64_t cust = 0;
    int rc = 0;
    if (user_id) {
        int64_t row = pt_state_find(&g->st, (uint32_t)shop, 0, user_id, strlen(user_id));
        if (row < 0)
            rc = PT_ENOTFOUND;
        else
            cust = (int64_t)pt_state_root(&g->st, (size_t)row) + 1;
    }
    struct list_ctx x = {.g = g, .out = out};
    if (rc == 0) {
        pt_buf_adds(out, "{\"messages\":[");
        rc = pt_store_outbox_list(rd, shop, status, automation, cust, before, limit, list_one, &x,
                                  NULL);
        pt_buf_adds(out, "],\"next\":");
        if (x.n == limit && x.last > 1)
            pt_buf_printf(out, "%lld}", (long long)x.last);
        else
            pt_buf_adds(out, "null}");
    }
    pthread_rwlock_unlock(&g->lock);
    return rc;
}

/* ---- tracking tokens: MSGID "." hex(HMAC(kind MSGID [url]))[0..32) ---- */

static void token_sig(struct pt_engine *g, int kind, const char *msg_id, const char *url,
                      char sig[33])
{
    struct pt_buf b;
    pt_buf_init(&b);
    pt_buf_addc(&b, (char)kind);
    pt_buf_adds(&b, msg_id);
    if (url) {
        pt_buf_addc(&b, '\n');
        pt_buf_adds(&b, url);
    }
    engine_auto_sign(g, b.data ? b.data : "", b.len, sig);
    pt_buf_release(&b);
}

void pt_engine_track_token(struct pt_engine *g, int kind, const char *msg_id, const char *url,
                           char *out, size_t cap)
{
    char sig[33];
    token_sig(g, kind, msg_id, url, sig);
    snprintf(out, cap, "%s.%s", msg_id, sig);
}

int pt_engine_track(struct pt_engine *g, int kind, const char *token, const char *url,
                    struct pt_track *out)
{
    memset(out, 0, sizeof *out);
    const char *dot = strrchr(token, '.');
    if (dot == NULL || (size_t)(dot - token) >= sizeof out->msg_id || strlen(dot + 1) != 32)
        return PT_ENOTFOUND;
    memcpy(out->msg_id, token, (size_t)(dot - token));
    out->msg_id[dot - token] = '\0';
    char sig[33];
    token_sig(g, kind, out->msg_id, url, sig);
    if (sodium_memcmp(sig, dot + 1, 32) != 0)
        return PT_ENOTFOUND;
    struct pt_store *rd = pt_engine_reader(g);
    if (rd == NULL)
        return PT_EIO;
    struct pt_outbox_row m;
    struct pt_buf strings;
    pt_buf_init(&strings);
    int rc = pt_store_outbox_by_msg(rd, out->msg_id, &m, &strings, NULL);
    pt_buf_release(&strings);
    if (rc)
        return rc;
    out->shop = m.shop;
    out->customer = m.customer;
    out->automation = m.automation;
    pthread_rwlock_rdlock(&g->lock);
    const struct pt_state *st = &g->st;
    rc = PT_ENOTFOUND;
    if (m.customer >= 1 && (size_t)m.customer <= st->n &&
        (st->flags[m.customer - 1] & (ROW_PRESENT | ROW_ERASED)) == ROW_PRESENT) {
        uint32_t len;
        const char *id = pt_state_id(st, (size_t)m.customer - 1, &len);
        if (len < sizeof out->user_id) {
            memcpy(out->user_id, id, len);
            out->user_id[len] = '\0';
            out->anonymous = (st->flags[m.customer - 1] & ROW_ANON) != 0;
            rc = 0;
        }
    }
    pthread_rwlock_unlock(&g->lock);
    return rc;
}
