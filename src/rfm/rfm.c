/*
 * rfm.c - the RFM aggregator (see rfm.h and RFM-SPEC.md).
 *
 * State: one partial per thread, each an idmap (plus a direct array for small
 * integer ids) and an array of running totals per customer (struct agg). A
 * customer may be in several partials: streaming ingest hands each parser
 * thread's orders to that thread's partial (add_one), and pt_rfm_add splits a
 * batch by id hash over threads. rfm_merge_partials folds them into partial 0
 * before scoring (rfm_score.c). No locks: a partial has one writer at a time.
 */
#include "rfm/rfm_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/fields.h"
#include "util/ckd.h"
#include "util/mem.h"

struct pt_rfm *pt_rfm_new(const struct pt_rfm_opts *opts)
{
    struct pt_rfm *x = pt_calloc(1, sizeof *x);
    if (x == NULL)
        return NULL;
    x->o = *opts;
    x->np = opts->threads < 1 ? 1 : opts->threads > MAX_PART ? MAX_PART : opts->threads;
    for (int i = 0; i < x->np; i++)
        pt_idmap_init(&x->part[i].map);
    return x;
}

void rfm_free_results(struct pt_rfm *x)
{
    for (size_t i = 0; i < sizeof x->res_mem / sizeof x->res_mem[0]; i++) {
        pt_free(x->res_mem[i]);
        x->res_mem[i] = NULL;
    }
    pt_buf_release(&x->idtext);
    memset(&x->res, 0, sizeof x->res);
}

void pt_rfm_reset(void *arg)
{
    struct pt_rfm *x = arg;
    for (int i = 0; i < x->np; i++) {
        struct rpart *p = &x->part[i];
        pt_idmap_release(&p->map);
        pt_free(p->a);
        pt_free(p->idx);
        pt_free(p->hidx);
        pt_free(p->direct);
        memset(p, 0, sizeof *p);
        pt_idmap_init(&p->map);
    }
    rfm_free_results(x);
}

void pt_rfm_destroy(struct pt_rfm *x)
{
    if (x == NULL)
        return;
    pt_rfm_reset(x);
    for (int i = 0; i < x->np; i++)
        pt_idmap_release(&x->part[i].map);
    pt_free(x);
}

static int part_of(const struct pt_rfm *x, uint64_t h)
{
    return (int)((h >> 40) % (uint64_t)x->np);
}

/* A new customer: its slot in a. Returns the index or UINT32_MAX (no memory). */
static uint32_t new_customer(struct rpart *p, uint32_t src)
{
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 4096;
        struct agg *a = pt_realloc_array(p->a, nc, sizeof *a);
        if (a == NULL || nc >= DIRECT) {
            if (a)
                p->a = a;
            return UINT32_MAX;
        }
        p->a = a;
        p->cap = nc;
    }
    p->a[p->n] = (struct agg){NO_TIME, 0, 0, src};
    return (uint32_t)p->n++;
}

/* Customer index for an id value < DIRECT_MAX, adding it if new. */
static uint32_t direct_get(struct rpart *p, uint64_t v)
{
    if (v >= p->ndirect) {
        size_t nd = p->ndirect ? p->ndirect : 65536;
        while (nd <= v)
            nd *= 2;
        uint32_t *d = pt_calloc(nd, sizeof *d);
        if (d == NULL)
            return UINT32_MAX;
        if (p->ndirect)
            memcpy(d, p->direct, p->ndirect * sizeof *d);
        pt_free(p->direct);
        p->direct = d;
        p->ndirect = nd;
    }
    uint32_t d = p->direct[v];
    if (d)
        return d - 1;
    uint32_t i = new_customer(p, DIRECT | (uint32_t)v);
    if (i != UINT32_MAX)
        p->direct[v] = i + 1;
    return i;
}

/* Customer index for any other id, adding it if new. */
static uint32_t hashed_get(struct rpart *p, const struct pt_order *o)
{
    uint32_t h;
    int is_new;
    if (pt_idmap_get(&p->map, o->cid, o->cid_len, o->chash, &h, &is_new))
        return UINT32_MAX;
    if (!is_new)
        return p->hidx[h];
    if (h >= p->hcap) {
        size_t nc = p->hcap ? p->hcap * 2 : 4096;
        uint32_t *n = pt_realloc_array(p->hidx, nc, sizeof *n);
        if (n == NULL)
            return UINT32_MAX; /* the idmap keeps the id; harmless, the run fails */
        p->hidx = n;
        p->hcap = nc;
    }
    uint32_t i = new_customer(p, h);
    p->hidx[h] = i;
    return i;
}

/* Customer index of order o in partial p, adding the customer if new. */
static uint32_t customer_of(struct rpart *p, const struct pt_order *o)
{
    return o->cnum && o->cnum <= DIRECT_MAX ? direct_get(p, o->cnum - 1) : hashed_get(p, o);
}

/* Add order o to customer idx's totals. */
static int apply(struct rpart *p, uint32_t idx, const struct pt_order *o)
{
    struct agg *a = &p->a[idx];
    if (pt_ckd_add(&a->mon, a->mon, o->amount))
        return PT_EOVERFLOW;
    if (o->flags & PT_ORDER_CANCEL)
        return 0;
    a->freq++;
    if (o->t > a->last)
        a->last = o->t;
    return 0;
}

/* Pipeline stage 2 for queued order k: find the customer, prefetch totals. */
static int stage_resolve(struct rpart *p, uint64_t k)
{
    const struct pt_order *o = &p->ring[k % RING];
    uint32_t idx = customer_of(p, o);
    if (idx == UINT32_MAX)
        return PT_ENOMEM;
    p->ring_idx[k % RING] = idx;
    __builtin_prefetch(&p->a[idx], 1);
    return 0;
}

/* Streaming: one order on parser thread tid, into partial tid (see RING). */
static int add_one(void *arg, int tid, const struct pt_order *o)
{
    struct pt_rfm *x = arg;
    struct rpart *p = &x->part[tid];
    if (x->o.have_as_of && o->t >= x->o.as_of)
        return 0; /* spec: only orders before the as-of instant */
    uint64_t k = p->seq++;
    p->ring[k % RING] = *o;
    if (o->cnum && o->cnum - 1 < p->ndirect)
        __builtin_prefetch(&p->direct[o->cnum - 1]);
    else if (!o->cnum || o->cnum > DIRECT_MAX)
        pt_idmap_prefetch(&p->map, o->chash);
    int rc = 0;
    if (k >= RING / 2)
        rc = stage_resolve(p, k - RING / 2);
    if (rc == 0 && k >= RING - 1)
        rc = apply(p, p->ring_idx[(k - (RING - 1)) % RING], &p->ring[(k - (RING - 1)) % RING]);
    return rc;
}

/* Finish every queued order of partial tid (end of a parser part). */
static int flush_one(void *arg, int tid)
{
    struct pt_rfm *x = arg;
    struct rpart *p = &x->part[tid];
    uint64_t n = p->seq;
    p->seq = 0;
    uint64_t b0 = n > RING / 2 ? n - RING / 2 : 0; /* first order not yet resolved */
    uint64_t c0 = n > RING - 1 ? n - (RING - 1) : 0; /* first order not yet applied */
    for (uint64_t k = b0; k < n; k++) {
        int rc = stage_resolve(p, k);
        if (rc)
            return rc;
    }
    for (uint64_t k = c0; k < n; k++) {
        int rc = apply(p, p->ring_idx[k % RING], &p->ring[k % RING]);
        if (rc)
            return rc;
    }
    return 0;
}

void pt_rfm_sink(struct pt_rfm *x, struct pt_order_sink *sink)
{
    sink->ctx = x;
    sink->batch = pt_rfm_add;
    sink->reset = pt_rfm_reset;
    sink->add = add_one;
    sink->flush = flush_one;
    sink->threads = x->np;
}

struct add_job {
    struct pt_rfm *x;
    int pid;
    const struct pt_order *o;
    size_t n;
    int rc;
};

/*
 * Apply the batch's orders that belong to partition j->pid, in two passes so
 * that memory latency overlaps: pass 1 resolves customer indexes (prefetching
 * hash slots ahead), pass 2 updates the totals (prefetching them ahead).
 */
static void add_part(struct add_job *j)
{
    struct pt_rfm *x = j->x;
    struct rpart *p = &x->part[j->pid];
    int64_t A = x->o.have_as_of ? x->o.as_of : INT64_MAX;
    const size_t PF = 16; /* prefetch distance, in orders */
    if (j->n > p->idx_cap) {
        uint32_t *ni = pt_realloc_array(p->idx, j->n, sizeof *ni);
        if (ni == NULL) {
            j->rc = PT_ENOMEM;
            return;
        }
        p->idx = ni;
        p->idx_cap = j->n;
    }
    /* Pass 1: orders of this partition before as-of -> customer index. */
    size_t k = 0;
    for (size_t i = 0; i < j->n; i++) {
        if (i + PF < j->n) {
            const struct pt_order *f = &j->o[i + PF];
            if (f->cnum && f->cnum - 1 < p->ndirect)
                __builtin_prefetch(&p->direct[f->cnum - 1]);
            else if (!f->cnum && part_of(x, f->chash) == j->pid)
                pt_idmap_prefetch(&p->map, f->chash);
        }
        const struct pt_order *o = &j->o[i];
        p->idx[i] = UINT32_MAX;
        if ((x->np > 1 && part_of(x, o->chash) != j->pid) || o->t >= A)
            continue; /* another partition's, or at/after as-of (spec: ignored) */
        uint32_t idx = o->cnum && o->cnum <= DIRECT_MAX ? direct_get(p, o->cnum - 1)
                                                        : hashed_get(p, o);
        if (idx == UINT32_MAX) {
            j->rc = PT_ENOMEM;
            return;
        }
        p->idx[i] = idx;
        k++;
    }
    if (k == 0)
        return;
    /* Pass 2: totals. */
    for (size_t i = 0; i < j->n; i++) {
        if (i + PF < j->n && p->idx[i + PF] != UINT32_MAX)
            __builtin_prefetch(&p->a[p->idx[i + PF]]);
        if (p->idx[i] == UINT32_MAX)
            continue;
        const struct pt_order *o = &j->o[i];
        struct agg *a = &p->a[p->idx[i]];
        if (pt_ckd_add(&a->mon, a->mon, o->amount)) {
            j->rc = PT_EOVERFLOW;
            return;
        }
        if (o->flags & PT_ORDER_CANCEL)
            continue;
        a->freq++;
        if (o->t > a->last)
            a->last = o->t;
    }
}

static void *add_thread(void *arg)
{
    add_part(arg);
    return NULL;
}

int pt_rfm_add(void *arg, const struct pt_order *o, size_t n, struct pt_err *e)
{
    struct pt_rfm *x = arg;
    struct add_job job[MAX_PART];
    pthread_t th[MAX_PART];
    int started[MAX_PART] = {0};
    int np = n < 20000 ? 1 : x->np;
    for (int i = 0; i < x->np; i++)
        job[i] = (struct add_job){x, i, o, n, 0};
    if (np == 1) {
        for (int i = 0; i < x->np; i++)
            add_part(&job[i]);
    } else {
        for (int i = 1; i < np; i++)
            started[i] = pthread_create(&th[i], NULL, add_thread, &job[i]) == 0;
        add_part(&job[0]);
        for (int i = 1; i < np; i++) {
            if (started[i])
                pthread_join(th[i], NULL);
            else
                add_part(&job[i]);
        }
    }
    for (int i = 0; i < x->np; i++) {
        if (job[i].rc == PT_EOVERFLOW)
            return pt_err_set(e, PT_EOVERFLOW, "a customer's monetary total does not fit in 64 bits");
        if (job[i].rc)
            return pt_err_set(e, job[i].rc, "out of memory");
    }
    return 0;
}

int rfm_merge_partials(struct pt_rfm *x)
{
    struct rpart *p0 = &x->part[0];
    for (int t = 1; t < x->np; t++) {
        struct rpart *p = &x->part[t];
        for (size_t c = 0; c < p->n; c++) {
            const struct agg *a = &p->a[c];
            uint32_t idx;
            if (a->src & DIRECT) {
                idx = direct_get(p0, a->src & ~DIRECT);
            } else {
                struct pt_order o;
                uint64_t v;
                o.cid = pt_idmap_id(&p->map, a->src, &o.cid_len);
                o.cnum = pt_canonical_uint(o.cid, o.cid_len, &v) ? v + 1 : 0;
                o.chash = pt_cid_hash(o.cid, o.cid_len, o.cnum);
                idx = hashed_get(p0, &o);
            }
            if (idx == UINT32_MAX)
                return PT_ENOMEM;
            struct agg *b = &p0->a[idx];
            if (pt_ckd_add(&b->mon, b->mon, a->mon))
                return PT_EOVERFLOW;
            b->freq += a->freq;
            if (a->last > b->last)
                b->last = a->last;
        }
        /* Emptied: partial t keeps nothing. */
        pt_idmap_release(&p->map);
        pt_free(p->a);
        pt_free(p->idx);
        pt_free(p->hidx);
        pt_free(p->direct);
        memset(p, 0, sizeof *p);
        pt_idmap_init(&p->map);
    }
    return 0;
}
