/*
 * rfm.h - RFM scores and segments exactly as RFM-SPEC.md defines them.
 *
 * Layer: rfm (util, core/idmap, ingest/orders for struct pt_order).
 *
 * Use: pt_rfm_new(), feed orders with pt_rfm_add() (it is a pt_order_sink
 * batch function; pt_rfm_sink() fills a sink), then pt_rfm_finish() computes
 * recency, frequency, monetary, the 1..5 scores and the segment of every
 * customer, sorted as the spec's output section says, plus a per-segment
 * summary. Customers are kept in `partitions` hash partitions so that
 * pt_rfm_add can update them on several threads at once.
 *
 * Money: amounts are integers in 10^-scale units (scale 2 or 3); monetary is
 * summed exactly (overflow is an error, never a wrap); M scores rank the exact
 * sums; output rounds half away from zero to 2 decimals.
 */
#ifndef PT_RFM_RFM_H
#define PT_RFM_RFM_H

#include <stdint.h>
#include <stdio.h>

#include "ingest/orders.h"
#include "util/buf.h"
#include "util/err.h"

#define PT_RFM_NSEG 11

/* The 11 segment names, in the order summaries list them (best first). */
extern const char *const pt_rfm_segment_names[PT_RFM_NSEG];

/* Fixed-band scoring for one metric (spec part B, "--thresholds"). */
struct pt_rfm_bands {
    int on;       /* 0: quintile scoring */
    int64_t b[4]; /* upper bounds for scores 5,4,3,2 (R) or 1,2,3,4 (F, M) */
};

struct pt_rfm_opts {
    int have_as_of;
    int64_t as_of;       /* Unix seconds; used when have_as_of */
    struct pt_rfm_bands r, f, m; /* m bounds are in minor units at scale 2 */
    int threads;         /* threads for pt_rfm_add; 0 = 1 */
};

struct pt_rfm_segstat {
    uint64_t customers;
    uint64_t orders;
    int64_t revenue;          /* in 10^-scale units */
    uint64_t recency_sum;     /* days */
};

struct pt_rfm_result {
    size_t n;             /* customers scored */
    int scale;            /* of monetary[] */
    int64_t as_of;
    const char **id;      /* id[i] (borrowed from the pt_rfm object), id_len[i] bytes */
    uint32_t *id_len;
    const uint64_t *num;  /* when every id is a canonical integer: num[i] is id[i]'s value; else NULL */
    int64_t *recency;
    uint64_t *frequency;
    int64_t *monetary;
    uint8_t *r, *f, *m, *seg; /* seg indexes pt_rfm_segment_names */
    struct pt_rfm_segstat seg_stat[PT_RFM_NSEG];
    uint64_t orders;
    int64_t revenue;
    uint64_t dropped;     /* customers with rows before as-of but no order: only cancellations
                             (customers whose rows all lie at or after as-of are not seen at all) */
    int numeric_ids;      /* sorted numerically */
};

struct pt_rfm;

/* New empty aggregator; NULL on allocation failure. opts is copied. */
struct pt_rfm *pt_rfm_new(const struct pt_rfm_opts *opts);
void pt_rfm_destroy(struct pt_rfm *x); /* accepts NULL; frees results too */

/* Sink functions: add a batch of orders / forget everything added. */
int pt_rfm_add(void *x, const struct pt_order *o, size_t n, struct pt_err *e);
void pt_rfm_reset(void *x);
void pt_rfm_sink(struct pt_rfm *x, struct pt_order_sink *sink);

/*
 * Compute the result. *out is owned by x (valid until pt_rfm_destroy).
 * Returns 0, PT_ENOMEM, or PT_EOVERFLOW (a sum does not fit; detail in e).
 * After a failure x is in an unspecified state: only pt_rfm_destroy (or
 * pt_rfm_reset) may follow.
 */
int pt_rfm_finish(struct pt_rfm *x, int scale, const struct pt_rfm_result **out, struct pt_err *e);

/* Segment index for scores (r, f), each 1..5. */
int pt_rfm_segment(int r, int f);

/* Per-customer CSV (the spec's output section) into f. Returns 0 or PT_EIO. */
int pt_rfm_write_csv(const struct pt_rfm_result *res, FILE *f);

/* Score 1..5 from a min-rank (1-based) among n: 1 + floor(5 (rank-1) / n). */
static inline int pt_rfm_quintile(uint64_t min_rank, uint64_t n)
{
    return 1 + (int)((5 * (min_rank - 1)) / n);
}

/* Append money in 10^-scale units rounded half away from zero to 2 decimals. */
int pt_rfm_add_money2(struct pt_buf *b, int64_t v, int scale);

#endif
