/*
 * cohort.c - transaction log and cohort summaries (see cohort.h).
 */
#include <string.h>

#include "clv/cohort.h"
#include "util/ckd.h"
#include "util/mem.h"
#include "util/radix.h"

#define DAY_BIAS ((int64_t)1 << 31)

void pt_txlog_init(struct pt_txlog *l)
{
    memset(l, 0, sizeof *l);
    pt_idmap_init(&l->ids);
}

void pt_txlog_release(struct pt_txlog *l)
{
    pt_idmap_release(&l->ids);
    pt_free(l->key);
    pt_free(l->val);
    pt_free(l->amount);
    memset(l, 0, sizeof *l);
}

static int grow(struct pt_txlog *l)
{
    size_t cap = l->cap ? l->cap * 2 : 4096;
    uint64_t *k = pt_realloc_array(l->key, cap, sizeof *k);
    if (k == NULL)
        return PT_ENOMEM;
    l->key = k;
    int64_t *a = pt_realloc_array(l->amount, cap, sizeof *a);
    if (a == NULL)
        return PT_ENOMEM;
    l->amount = a;
    l->cap = cap;
    return 0;
}

int pt_txlog_add(struct pt_txlog *l, const char *cid, uint32_t len, uint64_t hash, int64_t day,
                 int64_t amount)
{
    if (day <= -DAY_BIAS || day >= DAY_BIAS)
        return PT_EOVERFLOW;
    if (l->n == l->cap && grow(l))
        return PT_ENOMEM;
    uint32_t idx;
    int is_new;
    int rc = pt_idmap_get(&l->ids, cid, len, hash, &idx, &is_new);
    if (rc)
        return rc;
    l->key[l->n] = (uint64_t)idx << 32 | (uint64_t)(day + DAY_BIAS);
    l->amount[l->n] = amount;
    l->n++;
    return 0;
}

void pt_cohort_release(struct pt_cohort *c)
{
    pt_free(c->id);
    pt_free(c->first);
    pt_free(c->rfx);
    pt_free(c->m);
    pt_free(c->hold);
    pt_free(c->daily);
    memset(c, 0, sizeof *c);
}

static int64_t day_of(uint64_t key)
{
    return (int64_t)(key & 0xffffffffu) - DAY_BIAS;
}

/* The purchase days of one customer: keys[i..j) sorted, amounts by val. */
struct run {
    const uint64_t *key;
    const uint32_t *val;
    const int64_t *amount;
    size_t i, j;
};

/* Next distinct day of a run with its summed amount; 0 at the end, 1, or PT_EOVERFLOW. */
static int next_day(struct run *r, int64_t *day, int64_t *sum)
{
    if (r->i >= r->j)
        return 0;
    *day = day_of(r->key[r->i]);
    *sum = 0;
    while (r->i < r->j && day_of(r->key[r->i]) == *day) {
        if (pt_ckd_add(sum, *sum, r->amount[r->val[r->i]]))
            return PT_EOVERFLOW;
        r->i++;
    }
    return 1;
}

static int alloc_cohort(struct pt_cohort *c, size_t n)
{
    c->id = pt_alloc_array(n, sizeof *c->id);
    c->first = pt_alloc_array(n, sizeof *c->first);
    c->rfx = pt_alloc_array(n, sizeof *c->rfx);
    c->m = pt_alloc_array(n, sizeof *c->m);
    c->hold = pt_alloc_array(n, sizeof *c->hold);
    return c->id && c->first && c->rfx && c->m && c->hold ? 0 : PT_ENOMEM;
}

int pt_cohort_build(struct pt_txlog *l, int64_t end_day, int64_t horizon_days, struct pt_cohort *c,
                    struct pt_err *e)
{
    memset(c, 0, sizeof *c);
    if (l->n == 0)
        return pt_err_set(e, PT_EINVAL, "no transactions");
    pt_free(l->val);
    l->val = pt_alloc_array(l->n, sizeof *l->val);
    if (l->val == NULL)
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    for (size_t i = 0; i < l->n; i++)
        l->val[i] = (uint32_t)i;
    if (pt_radix_sort_kv(l->key, l->val, l->n) || alloc_cohort(c, l->ids.n)) {
        pt_cohort_release(c);
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    }
    c->day_min = INT64_MAX;
    c->day_max = INT64_MIN;
    for (size_t i = 0; i < l->n; i++) {
        int64_t d = day_of(l->key[i]);
        c->day_min = d < c->day_min ? d : c->day_min;
        c->day_max = d > c->day_max ? d : c->day_max;
    }
    int64_t hold_end = end_day + horizon_days;
    c->day0 = c->day_min;
    if (hold_end >= c->day0) {
        if (hold_end - c->day0 >= 40000000) {
            pt_cohort_release(c);
            return pt_err_set(e, PT_EOVERFLOW,
                              "the transactions and the holdout span more than 100,000 years");
        }
        c->ndays = (size_t)(hold_end - c->day0 + 1);
        c->daily = pt_calloc(c->ndays, sizeof *c->daily);
        if (c->daily == NULL) {
            pt_cohort_release(c);
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        }
    }
    size_t i = 0;
    while (i < l->n) {
        size_t j = i;
        while (j < l->n && l->key[j] >> 32 == l->key[i] >> 32)
            j++;
        struct run r = {l->key, l->val, l->amount, i, j};
        int64_t day, sum, first = 0, last = 0, rsum = 0;
        uint32_t days = 0, hold = 0;
        int rc;
        while ((rc = next_day(&r, &day, &sum)) == 1) {
            if (day <= end_day) {
                if (days == 0)
                    first = day;
                else if (pt_ckd_add(&rsum, rsum, sum))
                    rc = PT_EOVERFLOW;
                last = day;
                days++;
                if (days > 1)
                    c->daily[day - c->day0]++;
            } else if (day <= hold_end && days > 0) {
                hold++;
                c->daily[day - c->day0]++;
            }
            if (rc != 1)
                break;
        }
        if (rc < 0) {
            pt_cohort_release(c);
            return pt_err_set(e, rc, "customer %u: the money of one day does not fit in 64 bits",
                              (unsigned)(l->key[i] >> 32) + 1);
        }
        i = j;
        if (days == 0) {
            c->late++;
            continue;
        }
        size_t k = c->n++;
        c->id[k] = (uint32_t)(l->key[r.i - 1] >> 32);
        c->first[k] = first;
        c->rfx[k] = (struct pt_rfx){days - 1, (double)(last - first), (double)(end_day - first)};
        c->m[k] = days > 1 ? (double)rsum / (days - 1) : 0;
        c->hold[k] = hold;
        c->repeat_cal += days - 1;
        c->repeat_hold += hold;
    }
    if (c->n == 0) {
        pt_cohort_release(c);
        return pt_err_set(e, PT_EINVAL,
                          "no customer made a first purchase on or before the calibration end");
    }
    return 0;
}
