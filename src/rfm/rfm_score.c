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
static int sort_ids(const struct idref *ids, size_t n, uint32_t *perm, int text, int *numeric,
                    int *canonical, uint64_t **keyp)
{
    uint64_t *key = pt_alloc_array(n ? n : 1, sizeof *key);
    if (key == NULL)
        return PT_ENOMEM;
    *numeric = !text;
    *canonical = !text;
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

/* One independent sort of pt_rfm_finish: a score (kind 0 R, 1 F, 2 M). */
struct score_job {
    int kind;
    const struct pt_rfm *x;
    size_t n;
    const int64_t *rec, *mon;
    const uint64_t *frq;
    uint8_t *out;
    int scale;
    int rc;
};

static void score_run(struct score_job *j)
{
    const struct pt_rfm_opts *o = &j->x->o;
    size_t n = j->n;
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

/* Frees a pt_rfm_finish working set. */
struct finish_mem {
    struct idref *ids;
    int64_t *rec, *mon;
    uint64_t *frq;
    uint32_t *perm;
};

static void finish_mem_free(struct finish_mem *m)
{
    pt_free(m->ids);
    pt_free(m->rec);
    pt_free(m->mon);
    pt_free(m->frq);
    pt_free(m->perm);
}

/*
 * Put the customers with at least one order into the output arrays, sorted
 * (RFM-SPEC output section): gather, sort the ids, and permute. (The common
 * case of small integer ids takes collect_direct instead.)
 */
static int gather_sorted(struct pt_rfm *x, size_t n, int text, struct pt_rfm_result *r,
                         const char **oid, uint32_t *olen, int64_t *orec, uint64_t *ofrq,
                         int64_t *omon)
{
    struct rpart *p = &x->part[0];
    size_t k = 0;
    struct finish_mem m = {0};
    size_t m1 = n ? n : 1;
    m.ids = pt_alloc_array(m1, sizeof *m.ids);
    m.rec = pt_alloc_array(m1, sizeof *m.rec);
    m.mon = pt_alloc_array(m1, sizeof *m.mon);
    m.frq = pt_alloc_array(m1, sizeof *m.frq);
    m.perm = pt_alloc_array(m1, sizeof *m.perm);
    int rc = PT_ENOMEM;
    if (!m.ids || !m.rec || !m.mon || !m.frq || !m.perm)
        goto out;
    for (size_t c = 0; c < p->n; c++) {
        const struct agg *a = &p->a[c];
        if (!a->freq)
            continue;
        struct idref *id = &m.ids[k];
        if (a->src & DIRECT) {
            size_t off = x->idtext.len;
            if (pt_buf_add_i64(&x->idtext, (int64_t)(a->src & ~DIRECT)))
                goto out;
            *id = (struct idref){(const char *)(uintptr_t)off, (uint32_t)(x->idtext.len - off), 1,
                                 2, a->src & ~DIRECT};
        } else {
            id->p = pt_idmap_id(&p->map, a->src, &id->len);
            id->direct = 0;
            id->kind = pt_canonical_uint(id->p, id->len, &id->num)    ? 2
                       : pt_nonneg_int64(id->p, id->len, &id->num) ? 1
                                                                   : 0;
        }
        m.rec[k] = (r->as_of - a->last) / 86400;
        m.frq[k] = a->freq;
        m.mon[k] = a->mon;
        k++;
    }
    for (size_t i = 0; i < n; i++)
        if (m.ids[i].direct)
            m.ids[i].p = x->idtext.data + (uintptr_t)m.ids[i].p;
    int numeric, canonical;
    uint64_t *skey = NULL;
    if ((rc = sort_ids(m.ids, n, m.perm, text, &numeric, &canonical, &skey)) != 0)
        goto out;
    if (canonical) {
        r->num = skey;
        x->res_mem[6] = skey;
    } else {
        pt_free(skey);
    }
    r->numeric_ids = numeric;
    for (size_t j = 0; j < n; j++) {
        uint32_t i = m.perm[j];
        oid[j] = m.ids[i].p;
        olen[j] = m.ids[i].len;
        orec[j] = m.rec[i];
        ofrq[j] = m.frq[i];
        omon[j] = m.mon[i];
    }
    rc = 0;
out:
    finish_mem_free(&m);
    return rc;
}

/*
 * The common case, every id a canonical integer below DIRECT_MAX: walk the id
 * range once, summing each customer's totals over the per-thread partials
 * (no merge, no sort: id order is output order). Output arrays hold cap rows.
 */
static int collect_direct(struct pt_rfm *x, struct pt_rfm_result *r, size_t *n_out,
                          const char **oid, uint32_t *olen, int64_t *orec, uint64_t *ofrq,
                          int64_t *omon, uint64_t *num)
{
    size_t nd = 0, k = 0, total = 0;
    int64_t newest = NO_TIME;
    for (int t = 0; t < x->np; t++)
        nd = x->part[t].ndirect > nd ? x->part[t].ndirect : nd;
    const size_t PF = 32; /* prefetch distance: totals are in arrival order */
    for (size_t v = 0; v < nd; v++) {
        struct agg s = {NO_TIME, 0, 0, 0, 0};
        int seen = 0;
        for (int t = 0; t < x->np; t++) {
            const struct rpart *p = &x->part[t];
            if (v + PF < p->ndirect && p->direct[v + PF])
                __builtin_prefetch(&p->a[p->direct[v + PF] - 1]);
            if (v >= p->ndirect || !p->direct[v])
                continue;
            const struct agg *a = &p->a[p->direct[v] - 1];
            seen = 1;
            if (pt_ckd_add(&s.mon, s.mon, a->mon) || s.freq > UINT32_MAX - a->freq)
                return PT_EOVERFLOW;
            s.freq += a->freq;
            s.last = a->last > s.last ? a->last : s.last;
        }
        if (!seen)
            continue;
        total++;
        if (!s.freq)
            continue;
        newest = s.last > newest ? s.last : newest;
        num[k] = v;
        orec[k] = s.last; /* made into days below, once as-of is known */
        ofrq[k] = s.freq;
        omon[k] = s.mon;
        k++;
    }
    r->dropped = total - k;
    r->as_of = x->o.have_as_of ? x->o.as_of : k ? (pt_floor_div(newest, 86400) + 1) * 86400 : 0;
    for (size_t i = 0; i < k; i++) {
        orec[i] = (r->as_of - orec[i]) / 86400;
        size_t off = x->idtext.len;
        if (pt_buf_add_i64(&x->idtext, (int64_t)num[i]))
            return PT_ENOMEM;
        oid[i] = (const char *)(uintptr_t)off; /* rebased below: idtext may move */
        olen[i] = (uint32_t)(x->idtext.len - off);
    }
    for (size_t i = 0; i < k; i++)
        oid[i] = x->idtext.data + (uintptr_t)oid[i];
    r->num = num;
    r->numeric_ids = 1;
    *n_out = k;
    return 0;
}

/* Every other case: fold the partials, count, then gather and sort. */
static int collect_general(struct pt_rfm *x, struct pt_rfm_result *r, size_t *n_out,
                           int *text_out)
{
    int rc = rfm_merge_partials(x);
    if (rc)
        return rc;
    struct rpart *p = &x->part[0];
    /* Count; and does any id (even of a customer without orders) force byte order? */
    size_t n = 0, total = 0;
    int64_t newest = NO_TIME;
    int text = p->text_late;
    for (size_t c = 0; c < p->n; c++) {
        const struct agg *a = &p->a[c];
        total++;
        if (a->freq) {
            n++;
            newest = a->last > newest ? a->last : newest;
        }
        if (a->src & DIRECT)
            continue;
        uint32_t len;
        uint64_t v;
        const char *id = pt_idmap_id(&p->map, a->src, &len);
        if (!pt_nonneg_int64(id, len, &v))
            text = 1;
    }
    r->dropped = total - n;
    r->as_of = x->o.have_as_of ? x->o.as_of : n ? (pt_floor_div(newest, 86400) + 1) * 86400 : 0;
    *n_out = n;
    *text_out = text;
    return 0;
}

int pt_rfm_finish(struct pt_rfm *x, int scale, const struct pt_rfm_result **out, struct pt_err *e)
{
    rfm_free_results(x);
    struct pt_rfm_result *r = &x->res;
    r->scale = scale;
    int direct_only = 1, text = 0;
    size_t n = 0, cap = 0, nd = 0;
    for (int t = 0; t < x->np; t++) {
        direct_only &= x->part[t].map.n == 0 && !x->part[t].text_late;
        cap = x->part[t].n > cap ? x->part[t].n : cap;
        nd = x->part[t].ndirect > nd ? x->part[t].ndirect : nd;
    }
    if (direct_only && x->np > 1) {
        /* Customers seen by any partial: a cheap pass over the id indexes
         * sizes the output arrays exactly instead of by the sum of partials. */
        cap = 0;
        for (size_t v = 0; v < nd; v++) {
            int seen = 0;
            for (int t = 0; t < x->np; t++)
                seen |= v < x->part[t].ndirect && x->part[t].direct[v];
            cap += (size_t)seen;
        }
    }
    int rc = direct_only ? 0 : collect_general(x, r, &n, &text);
    if (rc)
        goto fail;
    size_t m1 = direct_only ? (cap ? cap : 1) : (n ? n : 1);
    const char **oid = pt_alloc_array(m1, sizeof *oid);
    uint32_t *olen = pt_alloc_array(m1, sizeof *olen);
    int64_t *orec = pt_alloc_array(m1, sizeof *orec);
    uint64_t *ofrq = pt_alloc_array(m1, sizeof *ofrq);
    int64_t *omon = pt_alloc_array(m1, sizeof *omon);
    uint8_t *osc = pt_alloc_array(m1, 4);
    uint64_t *num = direct_only ? pt_alloc_array(m1, sizeof *num) : NULL;
    void *keep[] = {oid, olen, orec, ofrq, omon, osc, num};
    memcpy(x->res_mem, keep, sizeof keep); /* freed with the results, or below */
    rc = PT_ENOMEM;
    if (!oid || !olen || !orec || !ofrq || !omon || !osc || (direct_only && !num))
        goto fail;
    rc = direct_only ? collect_direct(x, r, &n, oid, olen, orec, ofrq, omon, num)
                     : gather_sorted(x, n, text, r, oid, olen, orec, ofrq, omon);
    if (rc)
        goto fail;
    /* The three scores are independent sorts: two threads when there are two. */
    uint8_t *rs = osc, *fs = osc + n, *ms = osc + 2 * n, *ss = osc + 3 * n;
    struct score_job jobs[3] = {
        {.kind = 0, .x = x, .n = n, .rec = orec, .out = rs},
        {.kind = 1, .x = x, .n = n, .frq = ofrq, .out = fs},
        {.kind = 2, .x = x, .n = n, .mon = omon, .out = ms, .scale = scale},
    };
    struct score_pair pair = {&jobs[0], &jobs[1]};
    pthread_t th;
    int threaded = x->np > 1 && n >= 50000 && pthread_create(&th, NULL, score_pair_run, &pair) == 0;
    if (!threaded)
        score_pair_run(&pair);
    score_run(&jobs[2]);
    if (threaded)
        pthread_join(th, NULL);
    rc = jobs[0].rc ? jobs[0].rc : jobs[1].rc ? jobs[1].rc : jobs[2].rc;
    if (rc)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        ss[i] = (uint8_t)pt_rfm_segment(rs[i], fs[i]);
        struct pt_rfm_segstat *s = &r->seg_stat[ss[i]];
        s->customers++;
        s->orders += ofrq[i];
        s->recency_sum += (uint64_t)orec[i];
        if (pt_ckd_add(&s->revenue, s->revenue, omon[i]) ||
            pt_ckd_add(&r->revenue, r->revenue, omon[i])) {
            rc = pt_err_set(e, PT_EOVERFLOW, "total revenue does not fit in 64 bits");
            goto fail;
        }
        r->orders += ofrq[i];
    }
    r->n = n;
    r->id = oid;
    r->id_len = olen;
    r->recency = orec;
    r->frequency = ofrq;
    r->monetary = omon;
    r->r = rs;
    r->f = fs;
    r->m = ms;
    r->seg = ss;
    *out = r;
    return 0;
fail:
    rfm_free_results(x);
    if (rc == PT_ENOMEM)
        pt_err_set(e, rc, "out of memory");
    else if (rc == PT_EOVERFLOW && (e == NULL || e->msg[0] == '\0'))
        pt_err_set(e, rc, "a customer's total does not fit in 64 bits");
    return rc;
}
