/*
 * gen.h - realistic, deterministic demo order data (`patron gen`).
 *
 * Layer: gen (util only). Writes the order layout of RFM-SPEC.md:
 * order_id,customer_id,ordered_at,amount, sorted by time, order ids increasing.
 * Same options and seed give the same bytes on every machine. Malformed rows
 * (bad_fraction) come from a separate random stream and are inserted between
 * the valid rows, which stay byte-identical to those of the clean file; so a
 * loader that rejects exactly the bad rows gets the clean file's result.
 */
#ifndef PT_GEN_GEN_H
#define PT_GEN_GEN_H

#include <stdint.h>
#include <stdio.h>

#include "util/err.h"

struct pt_gen_opts {
    uint64_t customers;
    uint64_t orders;
    uint64_t seed;
    double bad_fraction; /* 0..1: chance of a bad row after each valid row */
    int max_lines;       /* 1..20 rows per order (default 1) */
    int64_t start, end;  /* orders fall in [start, end), Unix seconds */
    void (*progress)(void *pctx, uint64_t done); /* rows written; may be NULL */
    void *pctx;
};

struct pt_gen_stats {
    uint64_t rows, bad_rows, customers_with_orders;
};

/* Write the CSV to f. Returns 0, PT_EINVAL (bad opts, detail in e), PT_ENOMEM or PT_EIO. */
int pt_gen_orders(const struct pt_gen_opts *o, FILE *f, struct pt_gen_stats *st, struct pt_err *e);

#endif
