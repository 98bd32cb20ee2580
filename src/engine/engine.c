/*
 * engine.c - queue, group commit and the writer thread (see engine.h).
 */
#include "engine/engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/mem.h"
#include "util/timeutil.h"

/* ---- auth ---- */

int pt_engine_auth(struct pt_engine *g, const char *key, size_t len, int64_t *shop)
{
    char key_id[24];
    uint8_t hash[32];
    if (pt_api_key_parse(key, len, key_id, hash))
        return PT_ENOTFOUND;
    /* Checked against the store on every request (one indexed read on this
     * thread's reader connection), so a key rotated by the CLI while the server
     * runs stops working at once. */
    struct pt_store *r = pt_engine_reader(g);
    struct pt_shop sh;
    if (r == NULL)
        return PT_EIO;
    int rc = pt_store_shop_by_key_id(r, key_id, &sh, NULL);
    if (rc)
        return rc == PT_ENOTFOUND ? PT_ENOTFOUND : PT_EIO;
    if (sodium_memcmp(sh.key_hash, hash, 32) != 0)
        return PT_ENOTFOUND;
    *shop = sh.id;
    return 0;
}

/* ---- reader connections ---- */

static void close_reader(void *p)
{
    pt_store_close(p);
}

struct pt_store *pt_engine_reader(struct pt_engine *g)
{
    struct pt_store *s = pthread_getspecific(g->reader_key);
    if (s == NULL) {
        if (pt_store_open(g->dir, PT_STORE_READ, &s, NULL))
            return NULL;
        pthread_setspecific(g->reader_key, s);
    }
    return s;
}

/* ---- loading ---- */

static int load_customer(void *ctx, const struct pt_cust_row *c)
{
    struct pt_engine *g = ctx;
    struct pt_state *s = &g->st;
    if (c->id < 1 || c->shop < 1 || c->shop > UINT32_MAX)
        return PT_EINVAL;
    size_t row = (size_t)c->id - 1;
    if (pt_state_add(s, row, (uint32_t)c->shop, c->kind == PT_CUST_ANON, c->ext_id,
                     strlen(c->ext_id)))
        return PT_ENOMEM;
    s->parent[row] = c->merged_into > 0 ? (uint32_t)c->merged_into : 0;
    s->consent[row] = c->consent;
    s->consent_set[row] = c->consent_set;
    s->cart_value[row] = c->cart_value;
    s->cart_since[row] = c->cart_since;
    s->cart_t[row] = c->cart_t;
    if (c->split)
        s->flags[row] |= ROW_SPLIT;
    if (g->progress && (row & 0xffff) == 0)
        g->progress(g->pctx, "customers", row);
    return 0;
}

static int load_order(void *ctx, const struct pt_order_row *o)
{
    struct pt_engine *g = ctx;
    struct pt_state *s = &g->st;
    if (o->customer < 1 || (size_t)o->customer > s->n)
        return 0; /* an order of an erased customer cannot exist; be lenient */
    size_t row = (size_t)o->customer - 1;
    pt_state_order(s, row, o->t, o->amount);
    s->refunded[row] += o->refunded;
    if (g->progress && (++g->loaded_orders & 0xfffff) == 0)
        g->progress(g->pctx, "orders", g->loaded_orders);
    return 0;
}

static int load_head(void *ctx, int64_t customer, int64_t seq)
{
    struct pt_engine *g = ctx;
    if (customer >= 1 && (size_t)customer <= g->st.n)
        g->st.head[customer - 1] = seq; /* rows come in seq order: the last one wins */
    return 0;
}

/* (Re)build memory from the store. */
int engine_load(struct pt_engine *g, struct pt_err *e)
{
    pt_state_release(&g->st);
    pt_state_init(&g->st);
    g->loaded_orders = 0;
    int rc = pt_store_load_customers(g->w, load_customer, g, e);
    if (rc == 0) {
        /* merge links: parent was stored as row id (1-based) = parent + 1 of memory */
        struct pt_state *s = &g->st;
        for (size_t i = 0; i < s->n; i++) {
            if (s->parent[i]) {
                size_t p = s->parent[i] - 1;
                s->parent[i] = 0;
                if (p < s->n && (s->flags[p] & ROW_PRESENT) && s->shop[p] == s->shop[i])
                    pt_state_link(s, p, i);
            }
        }
        rc = pt_store_load_orders(g->w, load_order, g, e);
    }
    if (rc == 0)
        rc = pt_store_load_heads(g->w, load_head, g, e);
    g->next_row = g->st.n;
    g->live_rows = g->st.live;
    g->all_rows = g->st.n;
    int64_t maxid = 0;
    /* rows of erased customers at the end leave no trace; continue after the store's max */
    if (rc == 0 && pt_store_max_customer(g->w, &maxid, e) == 0 && (size_t)maxid > g->next_row)
        g->next_row = (size_t)maxid;
    g->version++;
    return rc;
}

/* ---- queue ---- */

int pt_engine_submit(struct pt_engine *g, struct pt_job *j)
{
    size_t n = j->kind == PT_JOB_EVENTS ? j->batch->n : 1;
    j->finished = 0;
    j->rc = 0;
    j->next = NULL;
    pthread_mutex_lock(&g->mu);
    if (g->stopping || (g->q_events + n > g->queue_cap && g->q_events > 0)) {
        pthread_mutex_unlock(&g->mu);
        return PT_ETOOBIG;
    }
    if (g->q_tail)
        g->q_tail->next = j;
    else
        g->q_head = j;
    g->q_tail = j;
    g->q_events += n;
    g->q_jobs++;
    pthread_cond_signal(&g->work_cv);
    pthread_mutex_unlock(&g->mu);
    return 0;
}

int pt_engine_run(struct pt_engine *g, struct pt_job *j)
{
    int rc = pt_engine_submit(g, j);
    if (rc)
        return rc;
    pthread_mutex_lock(&g->mu);
    while (!j->finished)
        pthread_cond_wait(&g->done_cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    return j->rc;
}

static void *writer_main(void *arg)
{
    struct pt_engine *g = arg;
    for (;;) {
        pthread_mutex_lock(&g->mu);
        if (g->q_head == NULL && !g->stopping) {
            /* idle: wake within a second for timers and sweeps of segments */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&g->work_cv, &g->mu, &ts);
        }
        if (g->q_head == NULL && g->stopping) {
            pthread_mutex_unlock(&g->mu);
            break;
        }
        if (g->q_head == NULL) {
            pthread_mutex_unlock(&g->mu);
            /* the state is the engine thread's: reading it here needs no lock */
            if (engine_seg_due(g) || engine_loy_due(g, engine_now(g)) ||
                engine_auto_due(g, engine_now(g))) {
                struct pt_job tick;
                memset(&tick, 0, sizeof tick);
                tick.kind = PT_JOB_TICK;
                engine_group(g, &tick);
            }
            continue;
        }
        /* take jobs up to the group limit (at least one) */
        struct pt_job *head = g->q_head, *last = head;
        size_t n = last->kind == PT_JOB_EVENTS ? last->batch->n : 1, jobs = 1;
        while (last->next) {
            size_t k = last->next->kind == PT_JOB_EVENTS ? last->next->batch->n : 1;
            if (n + k > g->group_cap)
                break;
            n += k;
            jobs++;
            last = last->next;
        }
        g->q_head = last->next;
        if (g->q_head == NULL)
            g->q_tail = NULL;
        last->next = NULL;
        g->q_events -= n;
        g->q_jobs -= jobs;
        pthread_mutex_unlock(&g->mu);

        double t0 = pt_mono_now();
        engine_group(g, head);
        double t1 = pt_mono_now();

        pthread_mutex_lock(&g->mu);
        g->commits++;
        g->commit_events += n;
        g->commit_seconds += t1 - t0;
        /* committed and applied: durable once the sync thread has synced the WAL */
        if (g->s_tail)
            g->s_tail->next = head;
        else
            g->s_head = head;
        g->s_tail = last;
        pthread_cond_signal(&g->sync_cv);
        pthread_mutex_unlock(&g->mu);
    }
    return NULL;
}

/* fdatasync of the WAL file (its own descriptor: a sync covers the file, not
 * a descriptor), reopened if SQLite ever replaced the file. */
static int sync_wal(struct pt_engine *g)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/patron.db-wal", g->dir);
    struct stat a, b;
    if (g->wal_fd >= 0 && (stat(path, &a) || fstat(g->wal_fd, &b) || a.st_ino != b.st_ino)) {
        fdatasync(g->wal_fd); /* the old file's frames, if it still matters */
        close(g->wal_fd);
        g->wal_fd = -1;
    }
    if (g->wal_fd < 0)
        g->wal_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (g->wal_fd < 0)
        return -1;
    return fdatasync(g->wal_fd);
}

/* Group commit, second half: one fdatasync for every group committed since
 * the last one, then the jobs are done and their callbacks run. */
static void *sync_main(void *arg)
{
    struct pt_engine *g = arg;
    pthread_mutex_lock(&g->mu);
    for (;;) {
        while (g->s_head == NULL && !g->writer_done)
            pthread_cond_wait(&g->sync_cv, &g->mu);
        if (g->s_head == NULL)
            break;
        struct pt_job *head = g->s_head;
        g->s_head = g->s_tail = NULL;
        pthread_mutex_unlock(&g->mu);
        if (sync_wal(g)) {
            /* After a failed fsync the kernel may have dropped the pages, and a
             * later fsync can succeed without them: nothing committed since the
             * last good sync can be called durable any more, nor can this
             * process go on from its memory. Stop; a restart rebuilds from what
             * is on disk, and no request of these groups was answered. */
            fprintf(stderr, "patron: engine: fdatasync of the WAL failed: %s; stopping\n",
                    strerror(errno));
            abort();
        }
        pthread_mutex_lock(&g->mu);
        /* callbacks are collected before the jobs are marked finished: a
         * waiter of pt_engine_run may free its job as soon as it is finished */
        struct pt_job *cb = NULL, **cbt = &cb;
        for (struct pt_job *j = head, *nx; j; j = nx) {
            nx = j->next;
            if (j->done) {
                *cbt = j;
                cbt = &j->cb_next;
                j->cb_next = NULL;
            }
            j->finished = 1;
        }
        pthread_cond_broadcast(&g->done_cv);
        pthread_cond_signal(&g->ckpt_cv);
        pthread_mutex_unlock(&g->mu);
        /* a callback may free its job: read the next one first */
        for (struct pt_job *j = cb, *nx; j; j = nx) {
            nx = j->cb_next;
            j->done(j, j->ctx);
        }
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

/* Checkpoints: woken after commits, copies the WAL into the database with its
 * own connection so the writer never pays for it; the WAL is reset by SQLite
 * once a checkpoint has caught up and no reader needs the old frames. */
static void *ckpt_main(void *arg)
{
    struct pt_engine *g = arg;
    struct pt_store *s;
    if (pt_store_open(g->dir, PT_STORE_READ, &s, NULL))
        return NULL;
    pthread_mutex_lock(&g->mu);
    for (;;) {
        while (!g->stopping && g->commits == g->ckpt_commits && !g->scrub_pending)
            pthread_cond_wait(&g->ckpt_cv, &g->mu);
        if (g->stopping && !g->scrub_pending)
            break;
        g->ckpt_commits = g->commits;
        int scrub = g->scrub_pending;
        pthread_mutex_unlock(&g->mu);
        int pages = 0;
        struct pt_err e;
        if (scrub) {
            int rc = pt_store_scrub(s, &e);
            pthread_mutex_lock(&g->mu);
            if (rc == 0)
                g->scrub_pending = 0;
            pthread_mutex_unlock(&g->mu);
            if (rc)
                usleep(200000);
            else
                fprintf(stderr, "patron: engine: erased rows are out of the WAL\n");
            pthread_mutex_lock(&g->mu);
            continue;
        }
        if (pt_store_checkpoint(s, &pages, &e))
            fprintf(stderr, "patron: engine: %s\n", e.msg);
        usleep(pages > 20000 ? 1000 : 50000); /* a long WAL: catch up sooner */
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    pt_store_checkpoint(s, NULL, NULL);
    pt_store_close(s);
    return NULL;
}

/* One engine per data directory: a second writer (a server, an import) is
 * refused while the first holds DIR/patron.lock (released when it exits). */
static int lock_dir(struct pt_engine *g, struct pt_err *e)
{
    char path[4096];
    if (mkdir(g->dir, 0700) != 0 && errno != EEXIST)
        return pt_err_set(e, PT_EIO, "cannot create %s: %s", g->dir, strerror(errno));
    snprintf(path, sizeof path, "%s/patron.lock", g->dir);
    g->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (g->lock_fd < 0)
        return pt_err_set(e, PT_EIO, "cannot open %s: %s", path, strerror(errno));
    if (flock(g->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return pt_err_set(e, PT_EIO,
                          "%s is in use by another patron process (a running server?); stop "
                          "it first",
                          g->dir);
    return 0;
}

int pt_engine_open(const struct pt_engine_opts *o, struct pt_engine **out, struct pt_err *e)
{
    *out = NULL;
    struct pt_engine *g = pt_calloc(1, sizeof *g);
    if (g == NULL)
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    g->dir = pt_strndup(o->data_dir, strlen(o->data_dir));
    g->queue_cap = o->queue_events ? o->queue_events : 200000;
    g->group_cap = o->group_events ? o->group_events : 20000;
    g->rfm_refresh = o->rfm_refresh_s > 0 ? o->rfm_refresh_s : 5;
    g->clv_refit = o->clv_refit_s == 0 ? 3600 : o->clv_refit_s;
    g->progress = o->progress;
    g->pctx = o->pctx;
    g->clock = o->clock;
    g->clock_ctx = o->clock_ctx;
    g->seg_sweep_s = o->seg_sweep_s;
    g->auto_sweep_s = o->auto_sweep_s > 0 ? o->auto_sweep_s : 60;
    if (o->smtp)
        g->smtp = *o->smtp; /* (its strings are the caller's, alive while the engine is) */
    g->mail_from = o->mail_from ? pt_strndup(o->mail_from, strlen(o->mail_from)) : NULL;
    g->public_url = o->public_url ? pt_strndup(o->public_url, strlen(o->public_url)) : NULL;
    g->deliver_attempts = o->deliver_attempts > 0 ? o->deliver_attempts : 8;
    g->deliver_backoff_s = o->deliver_backoff_s > 0 ? o->deliver_backoff_s : 60;
    pt_buf_init(&g->abuf);
    pt_state_init(&g->st);
    pthread_mutex_init(&g->mu, NULL);
    pthread_mutex_init(&g->rfm_mu, NULL);
    pthread_cond_init(&g->work_cv, NULL);
    pthread_cond_init(&g->done_cv, NULL);
    pthread_cond_init(&g->ckpt_cv, NULL);
    pthread_cond_init(&g->sync_cv, NULL);
    g->wal_fd = -1;
    /* writers first: a stream of readers (profile reads, RFM rebuilds) must
     * not starve the engine */
    pthread_rwlockattr_t la;
    pthread_rwlockattr_init(&la);
    pthread_rwlockattr_setkind_np(&la, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&g->lock, &la);
    pthread_rwlockattr_destroy(&la);
    pthread_key_create(&g->reader_key, close_reader);
    g->lock_fd = -1;
    /* the directory's lock first: a second engine must not even migrate */
    int rc = g->dir ? lock_dir(g, e) : pt_err_set(e, PT_ENOMEM, "out of memory");
    if (rc == 0)
        rc = pt_store_open(o->data_dir, PT_STORE_ENGINE, &g->w, e);
    if (rc == 0)
        rc = engine_load(g, e);
    if (rc == 0)
        rc = engine_loy_load(g, e);
    if (rc == 0)
        rc = engine_seg_open(g, e);
    if (rc == 0)
        rc = engine_auto_load(g, e);
    if (rc == 0 && pthread_create(&g->sync_thread, NULL, sync_main, g))
        rc = pt_err_set(e, PT_EIO, "cannot start the engine's sync thread");
    else if (rc == 0)
        g->sync_started = 1;
    if (rc == 0 && pthread_create(&g->thread, NULL, writer_main, g))
        rc = pt_err_set(e, PT_EIO, "cannot start the engine thread");
    if (rc == 0 && pthread_create(&g->ckpt_thread, NULL, ckpt_main, g) == 0)
        g->ckpt_started = 1;
    if (rc == 0 && engine_clv_start(g))
        rc = pt_err_set(e, PT_EIO, "cannot start the engine's CLV thread");
    if (rc == 0 && o->deliver && engine_deliver_start(g))
        rc = pt_err_set(e, PT_EIO, "cannot start the engine's delivery thread");
    if (rc) {
        g->no_thread = 1;
        pt_engine_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

void pt_engine_close(struct pt_engine *g)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&g->mu);
    g->stopping = 1;
    pthread_cond_broadcast(&g->work_cv);
    pthread_mutex_unlock(&g->mu);
    engine_deliver_stop(g); /* (before the writer: its last round is a job) */
    engine_clv_stop(g);
    if (!g->no_thread)
        pthread_join(g->thread, NULL);
    pthread_mutex_lock(&g->mu);
    g->writer_done = 1;
    pthread_cond_broadcast(&g->sync_cv);
    pthread_mutex_unlock(&g->mu);
    if (g->sync_started)
        pthread_join(g->sync_thread, NULL);
    if (g->wal_fd >= 0)
        close(g->wal_fd);
    pthread_mutex_lock(&g->mu);
    pthread_cond_broadcast(&g->ckpt_cv);
    pthread_mutex_unlock(&g->mu);
    if (g->ckpt_started)
        pthread_join(g->ckpt_thread, NULL);
    struct pt_store *r = pthread_getspecific(g->reader_key);
    if (r) {
        pthread_setspecific(g->reader_key, NULL);
        pt_store_close(r);
    }
    pthread_key_delete(g->reader_key);
    engine_seg_close(g);
    engine_loy_release(g);
    engine_auto_release(g);
    pt_free(g->mail_from);
    pt_free(g->public_url);
    pt_store_close(g->w);
    if (g->lock_fd >= 0)
        close(g->lock_fd); /* (releases the directory's lock) */
    pt_state_release(&g->st);
    engine_rfm_release(g);
    pt_free(g->dirty);
    pt_free(g->dir);
    pthread_rwlock_destroy(&g->lock);
    pthread_mutex_destroy(&g->mu);
    pthread_mutex_destroy(&g->rfm_mu);
    pthread_cond_destroy(&g->work_cv);
    pthread_cond_destroy(&g->done_cv);
    pthread_cond_destroy(&g->ckpt_cv);
    pthread_cond_destroy(&g->sync_cv);
    pt_free(g);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void pt_engine_stats(struct pt_engine *g, struct pt_engine_stats *st)
{
    pthread_mutex_lock(&g->mu);
    st->queue_events = g->q_events;
    st->queue_jobs = g->q_jobs;
    st->events_accepted = g->ev_accepted;
    st->events_duplicate = g->ev_duplicate;
    st->commits = g->commits;
    st->commit_events = g->commit_events;
    st->commit_seconds = g->commit_seconds;
    st->customers = g->live_rows; /* no state lock: /metrics never waits for a group */
    st->rows = g->all_rows;
    st->segments = g->seg_count;
    st->segment_members = g->seg_members;
    st->segment_bytes = g->seg_bytes;
    st->segment_events = g->seg_events_pub;
    st->automations = g->auto_pub.autos;
    st->runs_active = g->auto_pub.runs;
    st->messages_decided = g->auto_pub.decided;
    st->auto_sweeps = g->auto_pub.sweeps;
    st->auto_sweep_seconds = g->auto_pub.sweep_s;
    st->delivered = g->delivered;
    st->delivery_dead = g->deliver_failed;
    size_t n = g->nseg_lat < 4096 ? g->nseg_lat : 4096;
    double lat[4096], ev[4096];
    memcpy(lat, g->seg_lat, n * sizeof *lat);
    memcpy(ev, g->seg_eval, n * sizeof *ev);
    pthread_mutex_unlock(&g->mu);
    qsort(lat, n, sizeof *lat, cmp_double);
    qsort(ev, n, sizeof *ev, cmp_double);
    st->segment_p50 = n ? lat[n / 2] : 0;
    st->segment_p99 = n ? lat[n * 99 / 100] : 0;
    st->segment_eval_p50 = n ? ev[n / 2] : 0;
    st->segment_eval_p99 = n ? ev[n * 99 / 100] : 0;
}
