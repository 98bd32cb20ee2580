/*
 * rfm_score.c - scores, segments, output order and the per-segment summary.
 *
 * Scores are computed with rank sorts (util/radix) over all customers: after
 * sorting a metric's "goodness" ascending (larger = better), the min-rank of a
 * customer is one plus the position where its run of equal values starts, and
 * score = 1 + floor(5 (min_rank - 1) / n) (RFM-SPEC part A).
 */
#include "rfm/rfm_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/fields.h"
#include "util/ckd.h"
#include "util/mem.h"
#include "util/radix.h"
#include "util/timeutil.h"

const char *const pt_rfm_segment_names[PT_RFM_NSEG] = {
    "Champions", "Loyal Customers", "Potential Loyalists", "New Customers",
    "Promising", "Need Attention",  "About to Sleep",      "At Risk",
    "Can't Lose Them", "Hibernating", "Lost",
};

enum {
    S_CHAMPIONS, S_LOYAL, S_POTENTIAL, S_NEW, S_PROMISING, S_NEED_ATTENTION,
    S_ABOUT_TO_SLEEP, S_AT_RISK, S_CANT_LOSE, S_HIBERNATING, S_LOST,
};

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

/* One independent sort of pt_rfm_finish: a score (kind 0 R, 1 F, 2 M) or the
 * output order (kind 3). */
struct score_job {
    int kind;
    const struct pt_rfm *x;
    size_t n;
    const int64_t *rec, *mon;
    const uint64_t *frq;
    uint8_t *out;
    int scale;
    const struct idref *ids;
    uint32_t *perm;
    int *numeric, *canonical;
    uint64_t **skey;
    int rc;
};

static void score_run(struct score_job *j)
{
    const struct pt_rfm_opts *o = &j->x->o;
    size_t n = j->n;
    if (j->kind == 3) {
        j->rc = sort_ids(j->ids, n, j->perm, j->numeric, j->canonical, j->skey);
        return;
    }
    const struct pt_rfm_bands *bd = j->kind == 0 ? &o->r : j->kind == 1 ? &o->f : &o->m;
    if (bd->on) {
        int64_t b[4];
        for (int i = 0; i < 4; i++)
            b[i] = j->kind == 2 && j->scale == 3 ? bd->b[i] * 10 : bd->b[i];
        for (size_t i = 0; i < n; i++) {
            int64_t v = j->kind == 0 ? j->rec[i] : j->kind == 1 ? (int64_t)j->frq[i] : j->mon[i];
            j->out[i] = (uint8_t)band(b, v, j->kind == 0); /* R: fewer days is better */
        }
        return;
    }
    uint64_t *g = pt_alloc_array(n ? n : 1, sizeof *g);
    uint32_t *idx = pt_alloc_array(n ? n : 1, sizeof *idx);
    j->rc = PT_ENOMEM;
    if (g != NULL && idx != NULL) {
        /* Goodness keys, larger = better, order-preserving into uint64. */
        for (size_t i = 0; i < n; i++)
            g[i] = j->kind == 0   ? UINT64_MAX - (uint64_t)j->rec[i]
                   : j->kind == 1 ? j->frq[i]
                                  : (uint64_t)j->mon[i] ^ (UINT64_C(1) << 63);
        j->rc = rank_scores(g, idx, n, j->out);
    }
    pt_free(g);
    pt_free(idx);
}

struct score_pair {
    struct score_job *a, *b;
};

static void *score_pair_run(void *arg)
{
    struct score_pair *p = arg;
    score_run(p->a);
    score_run(p->b);
    return NULL;
}

int pt_rfm_finish(struct pt_rfm *x, int scale, const struct pt_rfm_result **out, struct pt_err *e)
{
    rfm_free_results(x);
    int mrc = rfm_merge_partials(x);
    if (mrc)
        return pt_err_set(e, mrc, "%s", mrc == PT_EOVERFLOW
                                          ? "a customer's monetary total does not fit in 64 bits"
                                          : "out of memory");
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
    uint32_t *idx = pt_alloc_array(m1, sizeof *idx);
    const char **oid = pt_alloc_array(m1, sizeof *oid);
    uint32_t *olen = pt_alloc_array(m1, sizeof *olen);
    int64_t *orec = pt_alloc_array(m1, sizeof *orec);
    uint64_t *ofrq = pt_alloc_array(m1, sizeof *ofrq);
    int64_t *omon = pt_alloc_array(m1, sizeof *omon);
    uint8_t *osc = pt_alloc_array(m1, 4);
    int rc = PT_ENOMEM;
    if (!ids || !rec || !frq || !mon || !sc || !idx || !oid || !olen || !orec || !ofrq ||
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
    /* The three scores and the output order are independent sorts: run them
     * on two threads when the aggregator has more than one. */
    int numeric = 0, canonical = 0;
    uint64_t *skey = NULL;
    struct score_job jobs[4] = {
        {.kind = 0, .x = x, .n = n, .rec = rec, .out = rs},
        {.kind = 1, .x = x, .n = n, .frq = frq, .out = fs},
        {.kind = 2, .x = x, .n = n, .mon = mon, .out = ms, .scale = scale},
        {.kind = 3, .x = x, .n = n, .ids = ids, .perm = idx, .numeric = &numeric,
         .canonical = &canonical, .skey = &skey},
    };
    struct score_pair pair = {&jobs[0], &jobs[1]};
    pthread_t th;
    int threaded = x->np > 1 && n >= 50000 && pthread_create(&th, NULL, score_pair_run, &pair) == 0;
    if (!threaded)
        score_pair_run(&pair);
    score_run(&jobs[2]);
    score_run(&jobs[3]);
    if (threaded)
        pthread_join(th, NULL);
    if (jobs[0].rc || jobs[1].rc || jobs[2].rc || jobs[3].rc) {
        pt_free(skey);
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        ss[i] = (uint8_t)pt_rfm_segment(rs[i], fs[i]);
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
    pt_free(idx);
    *out = r;
    return 0;
fail:
    pt_free(ids);
    pt_free(rec);
    pt_free(frq);
    pt_free(mon);
    pt_free(sc);
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

