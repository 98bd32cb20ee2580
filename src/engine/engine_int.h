/*
 * engine_int.h - the engine's private parts (engine.c, engine_apply.c, engine_read.c).
 */
#ifndef PT_ENGINE_ENGINE_INT_H
#define PT_ENGINE_ENGINE_INT_H

#include <pthread.h>
#include <sodium.h>

#include "engine/engine.h"
#include "engine/state.h"

enum { ROW_SPLIT = 8 }; /* state flag: unmerged once, not merged again automatically */

struct rfm_snap {
    int64_t shop;
    uint64_t version;
    int64_t built;
    size_t n;
    int64_t *last, *mon;
    uint32_t *freq;
};

struct pt_engine {
    char *dir;
    struct pt_store *w; /* writer connection (engine thread; load at open) */
    struct pt_state st;
    pthread_rwlock_t lock; /* st: engine writes under wrlock, readers rdlock */
    uint64_t version;      /* bumped on every applied group (under wrlock) */
    size_t next_row;       /* next new row index (engine thread) */
    uint64_t loaded_orders;

    /* queue */
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    struct pt_job *q_head, *q_tail;
    size_t q_events, q_jobs, queue_cap, group_cap;
    int stopping, no_thread;
    pthread_t thread;
    uint64_t ev_accepted, ev_duplicate, commits, commit_events;
    size_t live_rows, all_rows; /* state sizes after the last group (mu) */
    double commit_seconds;

    /* per-thread readers */
    pthread_key_t reader_key;

    /* live RFM */
    pthread_mutex_t rfm_mu;
    struct rfm_snap *rfm;
    size_t nrfm;
    int rfm_refresh;

    /* group scratch (engine thread) */
    size_t *dirty;
    size_t ndirty, capdirty;
    int scrub;
    int scrub_pending; /* an erasure's WAL truncate is still to do (mu) */

    /* durability: committed groups wait here for the sync thread's fdatasync
     * of the WAL, while the writer goes on with the next group */
    struct pt_job *s_head, *s_tail;
    pthread_cond_t sync_cv;
    pthread_t sync_thread;
    int sync_started, writer_done, wal_fd;

    /* checkpoints, on their own thread and connection */
    pthread_t ckpt_thread;
    int ckpt_started;
    pthread_cond_t ckpt_cv;
    uint64_t ckpt_commits; /* commits seen by the checkpointer */

    /* live CLV (engine_clv.c): fits under rfm_mu */
    pthread_t clv_thread;
    pthread_cond_t clv_cv; /* with mu: wakes the CLV thread to stop */
    int clv_started, clv_cv_init, clv_refit;
    struct pt_clv_live *clv;
    size_t nclv;
    uint64_t clv_fits;

    void (*progress)(void *ctx, const char *phase, uint64_t done);
    void *pctx;
};

int engine_load(struct pt_engine *g, struct pt_err *e);
void engine_group(struct pt_engine *g, struct pt_job *head);
void engine_rfm_release(struct pt_engine *g);
int engine_clv_start(struct pt_engine *g);
void engine_clv_stop(struct pt_engine *g);
void engine_clv_score(struct pt_engine *g, int64_t shop, struct pt_profile *p);

#endif
