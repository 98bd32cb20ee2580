/*
 * rfm_int.h - private types of the rfm module (rfm.c aggregates, rfm_score.c
 * scores, rfm_out.c writes).
 */
#ifndef PT_RFM_RFM_INT_H
#define PT_RFM_RFM_INT_H

#include "core/idmap.h"
#include "rfm/rfm.h"

#define MAX_PART 8
#define NO_TIME INT64_MIN
#define RING 16 /* power of two */

/* One customer's running totals. 32 bytes and aligned so that an update
 * touches one cache line (24 would let every third one straddle two). */
struct agg {
    int64_t last;  /* newest order time, NO_TIME if none */
    int64_t mon;   /* money, 10^-scale units */
    uint32_t freq; /* orders */
    uint32_t src;  /* DIRECT | the id's value, or the idmap index */
    uint64_t pad;
};

/*
 * Customers whose id is a canonical integer below DIRECT_MAX are found through
 * an array indexed by the id's value (no hashing, no string compare; and it
 * lists them in output order); all others through the idmap. Both lead to an
 * index into `a`, which is in order of first appearance: in a time-ordered
 * export the customers buying now sit close together there, which keeps the
 * totals that are being updated in cache.
 */
#define DIRECT (UINT32_C(1) << 31)
#define DIRECT_MAX (UINT64_C(1) << 22) /* 4M ids: index arrays of at most 16 MiB */

struct rpart {
    struct pt_idmap map;
    uint32_t *hidx; /* idmap index -> index into a */
    size_t hcap;
    uint32_t *direct; /* id value -> 1 + index into a; 0 = not seen */
    size_t ndirect;
    struct agg *a;
    size_t n, cap;
    int text_late; /* a non-numeric id was seen in an order at/after as-of */
    uint32_t *idx; /* scratch: customer index per order of a batch */
    size_t idx_cap;
    /* Streaming pipeline (rfm.c add_one): order k is prefetched when it
     * arrives, resolved to a customer RING/2 orders later, and applied RING
     * orders later, so memory latency overlaps. */
    struct pt_order ring[RING];
    uint32_t ring_idx[RING];
    uint64_t seq; /* orders queued since the last flush */
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

/* Fold partials 1.. into partial 0 (so each customer is in one place).
 * Returns 0 or PT_ENOMEM / PT_EOVERFLOW. */
int rfm_merge_partials(struct pt_rfm *x);
/* Free the result arrays of x. */
void rfm_free_results(struct pt_rfm *x);


#endif
