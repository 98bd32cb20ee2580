/*
 * cohort.h - per-customer summaries for the CLV models from raw transactions.
 *
 * Layer: clv (util, core/idmap). A transaction log collects (customer, day,
 * amount) records; a cohort is built from it for a calibration end date and
 * a holdout length, in the literature's conventions (docs/clv.md):
 *  - purchases of one customer on one UTC day count as one purchase (their
 *    amounts add up);
 *  - the calibration period includes its end date; x = purchase days in it
 *    minus one, t_x = last - first purchase day, T = end - first purchase day
 *    (whole days);
 *  - the mean value m is over the repeat purchase days of the calibration
 *    period (the first purchase is excluded), in the log's minor units;
 *  - holdout purchases are purchase days in (end, end + horizon].
 * Customers whose first purchase is after the end are not in the cohort
 * (counted in `late`).
 * Ownership: the caller owns both structs; release frees their arrays.
 * Errors: PT_ENOMEM, PT_EOVERFLOW (a day outside +-5.8 million years, or a
 * customer's day total beyond int64), PT_EINVAL (no customer in the cohort).
 */
#ifndef PT_CLV_COHORT_H
#define PT_CLV_COHORT_H

#include <stddef.h>
#include <stdint.h>

#include "clv/clv.h"
#include "core/idmap.h"

struct pt_txlog {
    struct pt_idmap ids; /* customer ids */
    uint64_t *key;       /* customer index << 32 | biased day */
    uint32_t *val;       /* record number (sort scratch) */
    int64_t *amount;
    size_t n, cap;
};

void pt_txlog_init(struct pt_txlog *l);
void pt_txlog_release(struct pt_txlog *l);
/* hash as pt_order.chash (equal ids, equal hashes). */
int pt_txlog_add(struct pt_txlog *l, const char *cid, uint32_t len, uint64_t hash, int64_t day,
                 int64_t amount);

struct pt_cohort {
    size_t n;                         /* customers */
    uint32_t *id;                     /* index into the log's ids */
    int64_t *first;                   /* first purchase day (days since 1970-01-01) */
    struct pt_rfx *rfx;               /* x, t_x, T in days */
    double *m;                        /* mean repeat purchase value (minor units), 0 when x = 0 */
    uint32_t *hold;                   /* purchase days in the holdout */
    size_t late;                      /* customers first seen after the calibration end */
    int64_t day_min, day_max;         /* first and last transaction day of the whole log */
    uint64_t repeat_cal, repeat_hold; /* repeat purchase days of the cohort */
    uint32_t *daily;                  /* repeat purchase days of the cohort per day, from the */
    size_t ndays;                     /* first cohort day to end + horizon */
    int64_t day0;                     /* the day of daily[0] */
};

/* Sorts the log (its order changes) and builds c. */
int pt_cohort_build(struct pt_txlog *l, int64_t end_day, int64_t horizon_days, struct pt_cohort *c,
                    struct pt_err *e);
void pt_cohort_release(struct pt_cohort *c);

#endif
