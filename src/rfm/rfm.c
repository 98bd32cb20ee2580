/*
 * rfm.c - the RFM aggregator (see rfm.h and RFM-SPEC.md).
 *
 * State: one partial per thread: an array of totals per customer (struct agg)
 * reached through an array indexed by small integer ids or through an idmap. A customer may be in several partials:
 * streaming ingest hands each parser thread's orders to that thread's partial
 * (add_one), and pt_rfm_add splits a batch by id hash over threads.
 * rfm_merge_partials folds them into partial 0 before scoring (rfm_score.c).
 * No locks: a partial has one writer at a time.
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

static void part_clear(struct rpart *p)
{
    pt_idmap_release(&p->map);
    pt_free(p->a);
    pt_free(p->direct);
    pt_free(p->idx);
    pt_free(p->hidx);
    memset(p, 0, sizeof *p);
    pt_idmap_init(&p->map);
}

void pt_rfm_reset(void *arg)
{
    struct pt_rfm *x = arg;
    for (int i = 0; i < x->np; i++)
        part_clear(&x->part[i]);
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

/* A new customer: its index in a, or UINT32_MAX (no memory). */
static uint32_t new_customer(struct rpart *p, uint32_t src)
{
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 4096;
        struct agg *a = nc < DIRECT ? pt_realloc_array(p->a, nc, sizeof *a) : NULL;
        if (a == NULL)
            return UINT32_MAX;
        p->a = a;
        p->cap = nc;
    }
    p->a[p->n] = (struct agg){NO_TIME, 0, 0, src, 0};
    return (uint32_t)p->n++;
}

/* Make sure direct has room for id value v. */
static int direct_room(struct rpart *p, uint64_t v)
{
    if (v < p->ndirect)
        return 0;
    size_t nd = p->ndirect ? p->ndirect : 4096;
    while (nd <= v)
        nd *= 2;
    /* A fresh zeroed block (calloc maps zero pages lazily) rather than
     * realloc + memset: measured faster for this random-access array. */
    uint32_t *d = pt_calloc(nd, sizeof *d);
    if (d == NULL)
        return PT_ENOMEM;
    if (p->ndirect)
        memcpy(d, p->direct, p->ndirect * sizeof *d);
    pt_free(p->direct);
    p->direct = d;
    p->ndirect = nd;
    return 0;
}

/* Index of the customer with id value v (< DIRECT_MAX), adding it if new. */
static uint32_t direct_get(struct rpart *p, uint64_t v)
{
    if (direct_room(p, v))
        return UINT32_MAX;
    uint32_t d = p->direct[v];
    if (d)
        return d - 1;
    uint32_t i = new_customer(p, DIRECT | (uint32_t)v);
    if (i != UINT32_MAX)
        p->direct[v] = i + 1;
    return i;
}

/* Index of any other customer, adding it if new. */
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

static uint32_t customer_of(struct rpart *p, const struct pt_order *o)
{
    return o->cnum && o->cnum <= DIRECT_MAX ? direct_get(p, o->cnum - 1) : hashed_get(p, o);
}

/* Add order o to the totals a. */
static int apply(struct agg *a, const struct pt_order *o)
{
    if (pt_ckd_add(&a->mon, a->mon, o->amount))
        return PT_EOVERFLOW;
    if (o->flags & PT_ORDER_CANCEL)
        return 0;
    if (a->freq == UINT32_MAX)
        return PT_EOVERFLOW;
    a->freq++;
    if (o->t > a->last)
        a->last = o->t;
    return 0;
}

/* An order at or after as-of is ignored (spec), but its id still decides
 * whether output is sorted numerically ("every id in the input"). */
static int late(const struct pt_rfm *x, struct rpart *p, const struct pt_order *o)
{
    if (!x->o.have_as_of || o->t < x->o.as_of)
        return 0;
    uint64_t v;
    if (!o->cnum && !pt_nonneg_int64(o->cid, o->cid_len, &v))
        p->text_late = 1;
    return 1;
}

/* Always inlined: as a function of its own GCC finds it free of side effects
 * and drops the calls, prefetches and all. */
static inline __attribute__((always_inline)) void prefetch_customer(const struct rpart *p,
                                                                    const struct pt_order *o)
{
    if (o->cnum && o->cnum - 1 < p->ndirect)
        __builtin_prefetch(&p->direct[o->cnum - 1]);
    else if (!o->cnum || o->cnum > DIRECT_MAX)
        pt_idmap_prefetch(&p->map, o->chash);
}

/* Pipeline stage 2 for queued order k: find the customer, prefetch totals. */
static int stage_resolve(struct rpart *p, uint64_t k)
{
    uint32_t idx = customer_of(p, &p->ring[k % RING]);
    if (idx == UINT32_MAX)
        return PT_ENOMEM;
    p->ring_idx[k % RING] = idx;
    __builtin_prefetch(&p->a[idx], 1);
    return 0;
}

static int stage_apply(struct rpart *p, uint64_t k)
{
    return apply(&p->a[p->ring_idx[k % RING]], &p->ring[k % RING]);
}

/* Streaming: one order on parser thread tid, into partial tid (see RING). */
static int add_one(void *arg, int tid, const struct pt_order *o)
{
    struct pt_rfm *x = arg;
    struct rpart *p = &x->part[tid];
    if (late(x, p, o))
        return 0;
    uint64_t k = p->seq++;
    p->ring[k % RING] = *o;
    prefetch_customer(p, o);
    int rc = 0;
    if (k >= RING / 2)
        rc = stage_resolve(p, k - RING / 2);
    if (rc == 0 && k >= RING - 1)
        rc = stage_apply(p, k - (RING - 1));
    return rc;
}

/* Finish every queued order of partial tid (end of a parser part). */
static int flush_one(void *arg, int tid)
{
    struct pt_rfm *x = arg;
    struct rpart *p = &x->part[tid];
    uint64_t n = p->seq;
    p->seq = 0;
    uint64_t b0 = n > RING / 2 ? n - RING / 2 : 0;   /* first order not yet resolved */
    uint64_t c0 = n > RING - 1 ? n - (RING - 1) : 0; /* first order not yet applied */
    for (uint64_t k = b0; k < n; k++) {
        int rc = stage_resolve(p, k);
        if (rc)
            return rc;
    }
    for (uint64_t k = c0; k < n; k++) {
        int rc = stage_apply(p, k);
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
 * Apply the batch's orders that belong to partition j->pid (by id hash), in
 * two passes so that memory latency overlaps: pass 1 resolves customers
 * (prefetching ahead), pass 2 updates the totals (prefetching ahead).
 */
static void add_part(struct add_job *j)
{
    struct pt_rfm *x = j->x;
    struct rpart *p = &x->part[j->pid];
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
    for (size_t i = 0; i < j->n; i++) {
        if (i + PF < j->n && part_of(x, j->o[i + PF].chash) == j->pid)
            prefetch_customer(p, &j->o[i + PF]);
        const struct pt_order *o = &j->o[i];
        p->idx[i] = UINT32_MAX;
        if ((x->np > 1 && part_of(x, o->chash) != j->pid) || late(x, p, o))
            continue;
        if ((p->idx[i] = customer_of(p, o)) == UINT32_MAX) {
            j->rc = PT_ENOMEM;
            return;
        }
    }
    for (size_t i = 0; i < j->n; i++) {
        if (i + PF < j->n && p->idx[i + PF] != UINT32_MAX)
            __builtin_prefetch(&p->a[p->idx[i + PF]], 1);
        if (p->idx[i] != UINT32_MAX && (j->rc = apply(&p->a[p->idx[i]], &j->o[i])) != 0)
            return;
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
    for (int i = 1; i < np; i++)
        started[i] = pthread_create(&th[i], NULL, add_thread, &job[i]) == 0;
    for (int i = 0; i < x->np; i++)
        if (!started[i])
            add_part(&job[i]);
    for (int i = 1; i < np; i++)
        if (started[i])
            pthread_join(th[i], NULL);
    for (int i = 0; i < x->np; i++) {
        if (job[i].rc == PT_EOVERFLOW)
            return pt_err_set(e, PT_EOVERFLOW, "a customer's total does not fit in 64 bits");
        if (job[i].rc)
            return pt_err_set(e, job[i].rc, "out of memory");
    }
    return 0;
}

/* b += a (totals of one customer from two partials). */
static int combine(struct agg *b, const struct agg *a)
{
    if (pt_ckd_add(&b->mon, b->mon, a->mon) || b->freq > UINT32_MAX - a->freq)
        return PT_EOVERFLOW;
    b->freq += a->freq;
    if (a->last > b->last)
        b->last = a->last;
    return 0;
}

int rfm_merge_partials(struct pt_rfm *x)
{
    struct rpart *p0 = &x->part[0];
    for (int t = 1; t < x->np; t++) {
        struct rpart *p = &x->part[t];
        p0->text_late |= p->text_late;
        /* Direct customers: in id order through both index arrays. */
        if (p->ndirect && direct_room(p0, p->ndirect - 1))
            return PT_ENOMEM;
        const size_t PF = 32; /* prefetch distance */
        for (size_t v = 0; v < p->ndirect; v++) {
            if (v + PF < p->ndirect && p->direct[v + PF]) {
                __builtin_prefetch(&p->a[p->direct[v + PF] - 1]);
                if (p0->direct[v + PF])
                    __builtin_prefetch(&p0->a[p0->direct[v + PF] - 1], 1);
            }
            if (!p->direct[v])
                continue;
            uint32_t i0 = direct_get(p0, v);
            if (i0 == UINT32_MAX)
                return PT_ENOMEM;
            if (combine(&p0->a[i0], &p->a[p->direct[v] - 1]))
                return PT_EOVERFLOW;
        }
        for (size_t c = 0; c < p->n; c++) {
            if (p->a[c].src & DIRECT)
                continue;
            uint32_t len;
            const char *id = pt_idmap_id(&p->map, p->a[c].src, &len);
            struct pt_order o = pt_order_make(id, len, 0, 0, 0);
            uint32_t i0 = hashed_get(p0, &o);
            if (i0 == UINT32_MAX)
                return PT_ENOMEM;
            if (combine(&p0->a[i0], &p->a[c]))
                return PT_EOVERFLOW;
        }
        part_clear(p); /* emptied: partial t keeps nothing */
    }
    return 0;
}
