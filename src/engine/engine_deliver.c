/*
 * engine_deliver.c - the delivery thread (docs/automation.md "Delivery"):
 * takes due messages from the outbox on its own connection, sends them
 * (automation/send.h), and hands the outcomes to the engine as one job per
 * round, so a message is marked sent only durably and only after the server
 * took it. A crash between the two sends it again with the same Message-ID /
 * Idempotency-Key, which the receiver drops: at least once, never lost.
 * Temporary failures retry with exponential backoff; after the last attempt,
 * or at once on a permanent failure, a message is dead with its reason (a
 * hard bounce also suppresses the address). Marketing messages are checked
 * for consent and suppression again just before sending.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/engine_int.h"
#include "util/mem.h"

enum { ROUND = 64 };

struct dmsg {
    struct pt_outbox_row m;
    struct pt_buf s; /* the row's strings */
};

struct due_ctx {
    struct dmsg *d;
    size_t n;
};

static int take_due(void *ctx, const struct pt_outbox_row *m)
{
    struct due_ctx *x = ctx;
    struct dmsg *d = &x->d[x->n];
    d->m = *m;
    if (pt_outbox_row_own(&d->m, &d->s))
        return PT_ENOMEM;
    x->n++;
    return 0;
}

/* Whether a marketing message may still go: consent and no suppression. */
static const char *still_allowed(struct pt_engine *g, struct pt_store *rd,
                                 const struct pt_outbox_row *m)
{
    int sup = 0;
    if (m->channel == PT_CHAN_EMAIL &&
        pt_store_suppressed(rd, m->shop, m->address, &sup, NULL) == 0 && sup)
        return "the address was suppressed before delivery (it bounced hard)";
    if (!m->marketing)
        return NULL;
    int ok = 0;
    pthread_rwlock_rdlock(&g->lock);
    const struct pt_state *st = &g->st;
    if (m->customer >= 1 && (size_t)m->customer <= st->n) {
        size_t row = pt_state_root(st, (size_t)m->customer - 1); /* (merged since?) */
        ok = (st->flags[row] & (ROW_PRESENT | ROW_ERASED)) == ROW_PRESENT &&
             engine_auto_consented(g, row, m->channel);
    }
    pthread_rwlock_unlock(&g->lock);
    return ok ? NULL : "consent withdrawn before delivery";
}

static void one(struct pt_engine *g, struct pt_store *rd, struct pt_sender *snd,
                const struct pt_outbox_row *m, int64_t now, struct pt_auto_result *r)
{
    memset(r, 0, sizeof *r);
    r->id = m->id;
    r->shop = m->shop;
    r->attempts = m->attempts;
    const char *no = still_allowed(g, rd, m);
    if (no) {
        r->status = PT_OUT_SKIPPED;
        snprintf(r->error, sizeof r->error, "%s", no);
        return;
    }
    int out;
    char why[200] = "";
    if (m->channel == PT_CHAN_EMAIL) {
        if (g->smtp.host == NULL) {
            /* not configured: wait without spending attempts */
            r->status = PT_OUT_PENDING;
            r->next_at = now + 300;
            snprintf(r->error, sizeof r->error, "no SMTP server configured (--smtp)");
            return;
        }
        char unsub[512];
        char tok[160];
        pthread_rwlock_rdlock(&g->lock);
        const struct msgset *set = engine_auto_settings(g, (uint32_t)m->shop);
        struct pt_smtp_cfg c = g->smtp;
        char from[256], from_name[128];
        snprintf(from, sizeof from, "%s", engine_auto_from(g, set));
        snprintf(from_name, sizeof from_name, "%s", set->from_name);
        pt_engine_track_token(g, 'u', m->msg_id, NULL, tok, sizeof tok);
        snprintf(unsub, sizeof unsub, "%s/u/%s", engine_auto_base(g, set), tok);
        pthread_rwlock_unlock(&g->lock);
        c.from = from;
        c.from_name = from_name[0] ? from_name : NULL;
        struct pt_mail mail = {.to = m->address,
                               .subject = m->subject ? m->subject : "",
                               .html = m->html,
                               .text = m->text,
                               .id = m->msg_id,
                               .unsubscribe_url = m->marketing ? unsub : NULL,
                               .date = now};
        out = pt_send_email(snd, &c, &mail, why, sizeof why);
        r->bounce = out == PT_SEND_PERM && strstr(why, "hard bounce") != NULL;
        snprintf(r->address, sizeof r->address, "%s", m->address ? m->address : "");
    } else {
        char secret[65];
        pthread_rwlock_rdlock(&g->lock);
        snprintf(secret, sizeof secret, "%s", engine_auto_settings(g, (uint32_t)m->shop)->secret);
        pthread_rwlock_unlock(&g->lock);
        const char *body = m->body ? m->body : "{}";
        out = pt_send_webhook(snd, m->address, secret, m->msg_id, body, strlen(body), now, 10000,
                              why, sizeof why);
    }
    r->attempts = m->attempts + 1;
    if (out == PT_SEND_OK) {
        r->status = PT_OUT_SENT;
        r->sent_at = now;
        return;
    }
    if (out == PT_SEND_TEMP && r->attempts < g->deliver_attempts) {
        int64_t d = g->deliver_backoff_s;
        for (int i = 1; i < r->attempts && d < 6 * 3600; i++)
            d *= 2;
        r->status = PT_OUT_PENDING;
        r->next_at = now + (d < 6 * 3600 ? d : 6 * 3600);
        snprintf(r->error, sizeof r->error, "attempt %d: %.160s", r->attempts, why);
        return;
    }
    r->status = PT_OUT_DEAD;
    if (out == PT_SEND_TEMP)
        snprintf(r->error, sizeof r->error, "gave up after %d attempts: %.150s", r->attempts, why);
    else
        snprintf(r->error, sizeof r->error, "%s", why);
}

static void *deliver_main(void *arg)
{
    struct pt_engine *g = arg;
    struct pt_store *rd = NULL;
    struct pt_sender *snd = NULL;
    struct dmsg *d = pt_calloc(ROUND, sizeof *d);
    struct pt_auto_result *res = pt_calloc(ROUND, sizeof *res);
    if (d == NULL || res == NULL || pt_store_open(g->dir, PT_STORE_READ, &rd, NULL) ||
        pt_sender_new(&snd)) {
        fprintf(stderr, "patron: delivery: cannot start\n");
        goto out;
    }
    for (size_t i = 0; i < ROUND; i++)
        pt_buf_init(&d[i].s);
    int64_t durable = 0; /* outbox rows up to this id are known synced */
    for (;;) {
        pthread_mutex_lock(&g->mu);
        int stop = g->stopping;
        pthread_mutex_unlock(&g->mu);
        if (stop)
            break;
        int64_t now = engine_now(g);
        struct due_ctx x = {.d = d};
        struct pt_err e;
        if (pt_store_outbox_due(rd, now, ROUND, take_due, &x, &e) && x.n == 0)
            fprintf(stderr, "patron: delivery: %s\n", e.msg);
        if (x.n == 0) {
            pthread_mutex_lock(&g->mu);
            if (!g->stopping && !g->auto_poke) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 250 * 1000000L; /* (an injected clock moves without telling) */
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&g->deliver_cv, &g->mu, &ts);
            }
            g->auto_poke = 0;
            pthread_mutex_unlock(&g->mu);
            continue;
        }
        /* a message is sent only once its decision is durable: a group
         * committed after it was read has been synced (groups sync in order) */
        int64_t top = 0;
        for (size_t i = 0; i < x.n; i++)
            top = d[i].m.id > top ? d[i].m.id : top;
        if (top > durable) {
            struct pt_job bar = {.kind = PT_JOB_TICK};
            if (pt_engine_run(g, &bar))
                continue;
            durable = top;
        }
        for (size_t i = 0; i < x.n; i++)
            one(g, rd, snd, &d[i].m, now, &res[i]);
        struct pt_auto_req q = {.op = PT_AUTOOP_DELIVERED, .results = res, .n = x.n};
        pt_buf_init(&q.out);
        struct pt_job j = {.kind = PT_JOB_AUTO, .aut = &q};
        int rc = pt_engine_run(g, &j);
        pt_buf_release(&q.out);
        pthread_mutex_lock(&g->mu);
        if (rc == 0 && j.rc == 0)
            for (size_t i = 0; i < x.n; i++) {
                g->delivered += res[i].status == PT_OUT_SENT;
                g->deliver_failed += res[i].status == PT_OUT_DEAD;
            }
        pthread_mutex_unlock(&g->mu);
        if (rc || j.rc) {
            /* the engine is stopping or the store failed: try again later */
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 200 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
out:
    if (d)
        for (size_t i = 0; i < ROUND; i++)
            pt_buf_release(&d[i].s);
    pt_free(d);
    pt_free(res);
    pt_sender_free(snd);
    pt_store_close(rd);
    return NULL;
}

int engine_deliver_start(struct pt_engine *g)
{
    pthread_cond_init(&g->deliver_cv, NULL);
    if (pthread_create(&g->deliver_thread, NULL, deliver_main, g))
        return PT_EIO;
    g->deliver_started = 1;
    return 0;
}

void engine_deliver_stop(struct pt_engine *g)
{
    if (!g->deliver_started)
        return;
    pthread_mutex_lock(&g->mu);
    pthread_cond_broadcast(&g->deliver_cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->deliver_thread, NULL);
    g->deliver_started = 0;
    pthread_cond_destroy(&g->deliver_cv);
}

void engine_deliver_poke(struct pt_engine *g)
{
    if (!g->deliver_started)
        return;
    pthread_mutex_lock(&g->mu);
    g->auto_poke = 1;
    pthread_cond_broadcast(&g->deliver_cv);
    pthread_mutex_unlock(&g->mu);
}
