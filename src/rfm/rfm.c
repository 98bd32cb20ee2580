/*
 * rfm.c - the RFM aggregator and scorer (see rfm.h and RFM-SPEC.md).
 *
 * State: customers live in P hash partitions (partition = top bits of the
 * customer id hash), each an idmap plus struct-of-arrays columns last order
 * time, order count and money. pt_rfm_add runs one thread per partition over
 * the batch; each thread touches only its own partition, so there are no
 * locks. Scores are computed with rank sorts (util/radix) over all customers:
 * after sorting a metric's "goodness" ascending, the min-rank of a customer is
 * one plus the position where its run of equal values starts.
 */
#include "rfm/rfm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/idmap.h"
#include "ingest/fields.h"
#include "util/ckd.h"
#include "util/mem.h"
#include "util/radix.h"
#include "util/timeutil.h"

#define MAX_PART 8
#define NO_TIME INT64_MIN

const char *const pt_rfm_segment_names[PT_RFM_NSEG] = {
    "Champions", "Loyal Customers", "Potential Loyalists", "New Customers",
    "Promising", "Need Attention",  "About to Sleep",      "At Risk",
    "Can't Lose Them", "Hibernating", "Lost",
};

enum {
    S_CHAMPIONS, S_LOYAL, S_POTENTIAL, S_NEW, S_PROMISING, S_NEED_ATTENTION,
    S_ABOUT_TO_SLEEP, S_AT_RISK, S_CANT_LOSE, S_HIBERNATING, S_LOST,
};

/* One customer's running totals: one cache line touched per order. */
struct agg {
    int64_t last;  /* newest order time, NO_TIME if none */
    uint64_t freq; /* orders */
    int64_t mon;   /* money, 10^-scale units */
    uint32_t src;  /* DIRECT | the id's value, or the idmap index */
};

/*
 * Customers whose id is a canonical integer below DIRECT_MAX are found through
 * a plain array indexed by the id's value (no hashing, no string compare);
 * all others through the idmap. Both lead to one index into `a`.
 */
#define DIRECT (UINT32_C(1) << 31)
#define DIRECT_MAX (UINT64_C(1) << 24)

struct rpart {
    struct pt_idmap map;
    uint32_t *hidx;   /* idmap index -> index into a */
    size_t hcap;
    uint32_t *direct; /* id value -> 1 + index into a; 0 = none yet */
    size_t ndirect;
    struct agg *a;
    size_t n, cap;
    uint32_t *idx; /* scratch: customer index per order of a batch */
    size_t idx_cap;
};

struct pt_rfm {
    struct pt_rfm_opts o;
    int np;
    struct rpart part[MAX_PART];
    /* results */
    struct pt_buf idtext; /* text of the ids that were found directly */
    struct pt_rfm_result res;
    void *res_mem[12];
};

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

static void free_results(struct pt_rfm *x)
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
    free_results(x);
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

void pt_rfm_sink(struct pt_rfm *x, struct pt_order_sink *sink)
{
    sink->ctx = x;
    sink->batch = pt_rfm_add;
    sink->reset = pt_rfm_reset;
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

int pt_rfm_segment(int r, int f)
{
    if (r == 5 && f >= 4)
        return S_CHAMPIONS;
    if (r >= 3 && f >= 4)
        return S_LOYAL;
    if (r >= 4 && (f == 2 || f == 3))
        return S_POTENTIAL;
    if (r == 5 && f == 1)
        return S_NEW;
    if (r == 4 && f == 1)
        return S_PROMISING;
    if (r == 3 && f == 3)
        return S_NEED_ATTENTION;
    if (r == 3 && f <= 2)
        return S_ABOUT_TO_SLEEP;
    if (r <= 2 && f == 5)
        return S_CANT_LOSE;
    if (r <= 2 && (f == 3 || f == 4))
        return S_AT_RISK;
    if (r == 2)
        return S_HIBERNATING;
    return S_LOST;
}

/* Quintile scores from goodness keys g (larger = better). g is clobbered. */
static int rank_scores(uint64_t *g, uint32_t *idx, size_t n, uint8_t *score)
{
    for (size_t i = 0; i < n; i++)
        idx[i] = (uint32_t)i;
    if (pt_radix_sort_kv(g, idx, n))
        return PT_ENOMEM;
    size_t run = 0;
    for (size_t j = 0; j < n; j++) {
        if (j > 0 && g[j] != g[j - 1])
            run = j;
        score[idx[j]] = (uint8_t)pt_rfm_quintile(run + 1, n);
    }
    return 0;
}

/* Fixed bands: ascending = 1 for "value <= b[0]" ... 5 above b[3] (F, M);
 * descending = 5 for "value <= b[0]" ... 1 above b[3] (R). */
static int band(const int64_t b[4], int64_t v, int descending)
{
    int s = 5;
    for (int i = 0; i < 4; i++) {
        if (v <= b[i]) {
            s = i + 1;
            break;
        }
    }
    return descending ? 6 - s : s;
}

/* Compare ids for the output order (byte order; shorter prefix first). */
struct idref {
    const char *p;
    uint32_t len;
    uint8_t direct; /* p is an offset into pt_rfm.idtext until rebased */
    uint8_t kind;   /* 2 canonical integer, 1 other non-negative int64 ("007"), 0 text */
    uint64_t num;   /* the value when kind > 0 */
};

static int cmp_bytes(const struct idref *a, const struct idref *b)
{
    uint32_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->p, b->p, n);
    if (c)
        return c;
    return (a->len > b->len) - (a->len < b->len);
}

static int cmp_idx(const void *a, const void *b, void *ids)
{
    const struct idref *v = ids;
    return cmp_bytes(&v[*(const uint32_t *)a], &v[*(const uint32_t *)b]);
}

/*
 * Output order: numeric when every id is a non-negative int64, else bytes.
 * On success *keyp holds the sorted keys (the caller frees it); *canonical is
 * 1 when every id is a canonical integer, so keys[j] spells the j-th id.
 */
static int sort_ids(const struct idref *ids, size_t n, uint32_t *perm, int *numeric,
                    int *canonical, uint64_t **keyp)
{
    uint64_t *key = pt_alloc_array(n ? n : 1, sizeof *key);
    if (key == NULL)
        return PT_ENOMEM;
    *numeric = 1;
    *canonical = 1;
    for (size_t i = 0; i < n; i++) {
        *numeric &= ids[i].kind > 0;
        *canonical &= ids[i].kind == 2;
        key[i] = ids[i].num;
    }
    if (!*numeric) {
        *canonical = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t k = 0;
            for (uint32_t b = 0; b < 8; b++)
                k = (k << 8) | (b < ids[i].len ? (unsigned char)ids[i].p[b] : 0);
            key[i] = k;
        }
    }
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    if (pt_radix_sort_kv(key, perm, n)) {
        pt_free(key);
        return PT_ENOMEM;
    }
    /* Runs of equal keys ("007" and "7", or a shared 8-byte prefix). */
    if (!*canonical) {
        for (size_t i = 0; i < n;) {
            size_t j = i + 1;
            while (j < n && key[j] == key[i])
                j++;
            if (j - i > 1)
                qsort_r(perm + i, j - i, sizeof *perm, cmp_idx, (void *)ids);
            i = j;
        }
    }
    *keyp = key;
    return 0;
}

int pt_rfm_finish(struct pt_rfm *x, int scale, const struct pt_rfm_result **out, struct pt_err *e)
{
    free_results(x);
    struct pt_rfm_result *r = &x->res;
    r->scale = scale;
    size_t n = 0, total = 0;
    int64_t newest = NO_TIME;
    for (int i = 0; i < x->np; i++) {
        struct rpart *p = &x->part[i];
        total += p->n;
        for (size_t k = 0; k < p->n; k++) {
            if (p->a[k].freq == 0)
                continue;
            n++;
            if (p->a[k].last > newest)
                newest = p->a[k].last;
        }
    }
    r->dropped = total - n;
    if (x->o.have_as_of)
        r->as_of = x->o.as_of;
    else
        r->as_of = n ? (pt_floor_div(newest, 86400) + 1) * 86400 : 0;
    size_t m1 = n ? n : 1;
    struct idref *ids = pt_alloc_array(m1, sizeof *ids);
    int64_t *rec = pt_alloc_array(m1, sizeof *rec);
    uint64_t *frq = pt_alloc_array(m1, sizeof *frq);
    int64_t *mon = pt_alloc_array(m1, sizeof *mon);
    uint8_t *sc = pt_alloc_array(m1, 4);
    uint64_t *g = pt_alloc_array(m1, sizeof *g);
    uint32_t *idx = pt_alloc_array(m1, sizeof *idx);
    const char **oid = pt_alloc_array(m1, sizeof *oid);
    uint32_t *olen = pt_alloc_array(m1, sizeof *olen);
    int64_t *orec = pt_alloc_array(m1, sizeof *orec);
    uint64_t *ofrq = pt_alloc_array(m1, sizeof *ofrq);
    int64_t *omon = pt_alloc_array(m1, sizeof *omon);
    uint8_t *osc = pt_alloc_array(m1, 4);
    int rc = PT_ENOMEM;
    if (!ids || !rec || !frq || !mon || !sc || !g || !idx || !oid || !olen || !orec || !ofrq ||
        !omon || !osc)
        goto fail;
    /* Gather the customers with at least one order. */
    size_t k = 0;
    for (int i = 0; i < x->np; i++) {
        struct rpart *p = &x->part[i];
        for (size_t c = 0; c < p->n; c++) {
            const struct agg *a = &p->a[c];
            if (a->freq == 0)
                continue;
            if (a->src & DIRECT) {
                /* The id was a canonical integer: its text is the number. */
                size_t off = x->idtext.len;
                if (pt_buf_add_i64(&x->idtext, (int64_t)(a->src & ~DIRECT)))
                    goto fail;
                ids[k].p = (const char *)(uintptr_t)off; /* rebased below */
                ids[k].len = (uint32_t)(x->idtext.len - off);
                ids[k].direct = 1;
                ids[k].kind = 2;
                ids[k].num = a->src & ~DIRECT;
            } else {
                ids[k].p = pt_idmap_id(&p->map, a->src, &ids[k].len);
                ids[k].direct = 0;
                ids[k].kind = pt_canonical_uint(ids[k].p, ids[k].len, &ids[k].num)    ? 2
                              : pt_nonneg_int64(ids[k].p, ids[k].len, &ids[k].num) ? 1
                                                                                   : 0;
            }
            rec[k] = (r->as_of - a->last) / 86400;
            frq[k] = a->freq;
            mon[k] = a->mon;
            k++;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i].direct)
            ids[i].p = x->idtext.data + (uintptr_t)ids[i].p;
    uint8_t *rs = sc, *fs = sc + n, *ms = sc + 2 * n, *ss = sc + 3 * n;
    /* R: fewer days is better. */
    if (x->o.r.on) {
        for (size_t i = 0; i < n; i++)
            rs[i] = (uint8_t)band(x->o.r.b, rec[i], 1);
    } else {
        for (size_t i = 0; i < n; i++)
            g[i] = UINT64_MAX - (uint64_t)rec[i];
        if (rank_scores(g, idx, n, rs))
            goto fail;
    }
    if (x->o.f.on) {
        for (size_t i = 0; i < n; i++)
            fs[i] = (uint8_t)band(x->o.f.b, (int64_t)frq[i], 0);
    } else {
        for (size_t i = 0; i < n; i++)
            g[i] = frq[i];
        if (rank_scores(g, idx, n, fs))
            goto fail;
    }
    if (x->o.m.on) {
        int64_t b[4];
        for (int i = 0; i < 4; i++)
            b[i] = scale == 3 ? x->o.m.b[i] * 10 : x->o.m.b[i];
        for (size_t i = 0; i < n; i++)
            ms[i] = (uint8_t)band(b, mon[i], 0);
    } else {
        for (size_t i = 0; i < n; i++)
            g[i] = (uint64_t)mon[i] ^ (UINT64_C(1) << 63);
        if (rank_scores(g, idx, n, ms))
            goto fail;
    }
    for (size_t i = 0; i < n; i++)
        ss[i] = (uint8_t)pt_rfm_segment(rs[i], fs[i]);
    /* Output order, then the per-segment summary. */
    int numeric, canonical;
    uint64_t *skey = NULL;
    if (sort_ids(ids, n, idx, &numeric, &canonical, &skey))
        goto fail;
    if (canonical) {
        r->num = skey;
        x->res_mem[6] = skey;
    } else {
        pt_free(skey);
    }
    uint8_t *ors = osc, *ofs = osc + n, *oms = osc + 2 * n, *oss = osc + 3 * n;
    for (size_t j = 0; j < n; j++) {
        uint32_t i = idx[j];
        oid[j] = ids[i].p;
        olen[j] = ids[i].len;
        orec[j] = rec[i];
        ofrq[j] = frq[i];
        omon[j] = mon[i];
        ors[j] = rs[i];
        ofs[j] = fs[i];
        oms[j] = ms[i];
        oss[j] = ss[i];
        struct pt_rfm_segstat *s = &r->seg_stat[ss[i]];
        s->customers++;
        s->orders += frq[i];
        s->recency_sum += (uint64_t)rec[i];
        if (pt_ckd_add(&s->revenue, s->revenue, mon[i]) ||
            pt_ckd_add(&r->revenue, r->revenue, mon[i])) {
            rc = pt_err_set(e, PT_EOVERFLOW, "total revenue does not fit in 64 bits");
            goto fail;
        }
        r->orders += frq[i];
    }
    r->n = n;
    r->numeric_ids = numeric;
    r->id = oid;
    r->id_len = olen;
    r->recency = orec;
    r->frequency = ofrq;
    r->monetary = omon;
    r->r = ors;
    r->f = ofs;
    r->m = oms;
    r->seg = oss;
    void *keep[] = {oid, olen, orec, ofrq, omon, osc};
    memcpy(x->res_mem, keep, sizeof keep);
    pt_free(ids);
    pt_free(rec);
    pt_free(frq);
    pt_free(mon);
    pt_free(sc);
    pt_free(g);
    pt_free(idx);
    *out = r;
    return 0;
fail:
    pt_free(ids);
    pt_free(rec);
    pt_free(frq);
    pt_free(mon);
    pt_free(sc);
    pt_free(g);
    pt_free(idx);
    pt_free(oid);
    pt_free(olen);
    pt_free(orec);
    pt_free(ofrq);
    pt_free(omon);
    pt_free(osc);
    memset(r, 0, sizeof *r);
    if (rc == PT_ENOMEM)
        pt_err_set(e, rc, "out of memory");
    return rc;
}

int pt_rfm_add_money2(struct pt_buf *b, int64_t v, int scale)
{
    if (scale == 3) {
        /* Round half away from zero to hundredths. */
        int64_t q = v / 10, rem = v % 10;
        if (rem >= 5)
            q++;
        else if (rem <= -5)
            q--;
        v = q;
    }
    return pt_buf_add_money(b, v, 2);
}

/* Decimal digits of v at o; returns the end. */
static char *put_u64(char *o, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *o++ = tmp[--n];
    return o;
}

/* Money in hundredths as text with exactly 2 decimals; returns the end. */
static char *put_cents(char *o, int64_t v)
{
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (v < 0)
        *o++ = '-';
    o = put_u64(o, mag / 100);
    *o++ = '.';
    *o++ = (char)('0' + mag / 10 % 10);
    *o++ = (char)('0' + mag % 10);
    return o;
}

int pt_rfm_write_csv(const struct pt_rfm_result *res, FILE *f)
{
    static const char head[] = "customer_id,recency,frequency,monetary,r,f,m,segment\n";
    size_t seglen[PT_RFM_NSEG];
    for (int i = 0; i < PT_RFM_NSEG; i++)
        seglen[i] = strlen(pt_rfm_segment_names[i]);
    /* A row is at most 258 (a quoted 128-byte id) + 4 * 21 (numbers) + 7 (scores)
     * + 20 (segment) bytes. */
    enum { CHUNK = 1 << 20, ROW_MAX = 512 };
    char *buf = pt_malloc(CHUNK + ROW_MAX);
    if (buf == NULL)
        return PT_ENOMEM;
    char *o = buf;
    memcpy(o, head, sizeof head - 1);
    o += sizeof head - 1;
    int rc = 0;
    for (size_t i = 0; i < res->n && rc == 0; i++) {
        if (res->num) {
            o = put_u64(o, res->num[i]);
        } else if (memchr(res->id[i], ',', res->id_len[i]) || memchr(res->id[i], '"', res->id_len[i])) {
            /* RFC 4180 quoting; ids have no line breaks (no control characters). */
            *o++ = '"';
            for (uint32_t k = 0; k < res->id_len[i]; k++) {
                if (res->id[i][k] == '"')
                    *o++ = '"';
                *o++ = res->id[i][k];
            }
            *o++ = '"';
        } else {
            memcpy(o, res->id[i], res->id_len[i]);
            o += res->id_len[i];
        }
        *o++ = ',';
        o = put_u64(o, (uint64_t)res->recency[i]);
        *o++ = ',';
        o = put_u64(o, res->frequency[i]);
        *o++ = ',';
        int64_t m = res->monetary[i];
        if (res->scale == 3) /* thousandths -> hundredths, half away from zero */
            m = m / 10 + (m % 10 >= 5) - (m % 10 <= -5);
        o = put_cents(o, m);
        o[0] = ',';
        o[1] = (char)('0' + res->r[i]);
        o[2] = ',';
        o[3] = (char)('0' + res->f[i]);
        o[4] = ',';
        o[5] = (char)('0' + res->m[i]);
        o[6] = ',';
        o += 7;
        memcpy(o, pt_rfm_segment_names[res->seg[i]], seglen[res->seg[i]]);
        o += seglen[res->seg[i]];
        *o++ = '\n';
        if (o - buf >= CHUNK) {
            size_t len = (size_t)(o - buf);
            if (fwrite(buf, 1, len, f) != len)
                rc = PT_EIO;
            o = buf;
        }
    }
    size_t len = (size_t)(o - buf);
    if (rc == 0 && len && fwrite(buf, 1, len, f) != len)
        rc = PT_EIO;
    pt_free(buf);
    return rc;
}
