/*
 * orders.h - read an order export (CSV) into a stream of complete orders.
 *
 * Layer: ingest (util, ingest/csv, ingest/fields). Never touches state: the
 * caller's sink receives orders and does what it likes with them.
 *
 * Accepted layouts (RFM-SPEC.md parts A and B):
 *  - the order layout: columns order_id, customer_id, ordered_at, amount, found
 *    by header name (case-insensitive) or named with a --columns style mapping
 *    "order_id=Id,customer_id=Email"; other columns are ignored;
 *  - UCI Online Retail (InvoiceNo, ..., UnitPrice, CustomerID) and Online
 *    Retail II (Invoice, ..., Price, Customer ID): one row per invoice line.
 *
 * What an order is: rows sharing an order id are lines of one order (their
 * amounts add up, its time is the earliest row's); a row whose customer differs
 * from the first row of its order is a bad row. UCI invoices whose number
 * starts with 'C' are cancellations: they come out with PT_ORDER_CANCEL and
 * only carry money. UCI rows without a customer id are skipped and counted.
 *
 * Bad rows: with skip_bad == 0 the first bad row (in file order) ends the run
 * with PT_EPARSE and "NAME:LINE:COLUMN: field 'amount': not a number
 * (\"12.5x\")" in err->msg. With skip_bad, every bad row is counted, written to
 * `rejects` (if not NULL) as CSV "line,column,field,reason,row", and left out,
 * so the orders are exactly those of the file without the bad rows.
 *
 * Speed: the input is read in blocks; each block is split among `threads`
 * parser threads at line ends (a split that falls inside a quoted field is
 * detected and re-parsed). When every order's rows are adjacent and order ids
 * are canonical integers increasing through the file (the usual export), orders
 * stream to the sink block by block in constant memory ("streaming mode").
 * Otherwise a seekable input is re-read from the start in "general mode",
 * which merges orders through a hash map and emits them all at end of input;
 * the sink's reset() is called before the restart. Non-seekable inputs (pipes)
 * use general mode from the start.
 */
#ifndef PT_INGEST_ORDERS_H
#define PT_INGEST_ORDERS_H

#include <stdint.h>
#include <stdio.h>

#include "util/err.h"
#include "util/hash.h"

enum pt_layout {
    PT_LAYOUT_AUTO = 0,
    PT_LAYOUT_ORDERS, /* order_id,customer_id,ordered_at,amount */
    PT_LAYOUT_UCI,    /* UCI Online Retail */
    PT_LAYOUT_UCI2,   /* UCI Online Retail II */
};

enum {
    PT_ORDER_CANCEL = 1, /* UCI cancellation invoice: money only, not an order */
};

/* One complete order. cid points into ingest-owned memory, valid during the
 * sink call only. amount is in 10^-scale units (pt_ingest_stats.scale). */
struct pt_order {
    const char *cid;
    uint32_t cid_len;
    uint32_t flags;
    uint64_t chash; /* pt_cid_hash(cid, cid_len, cnum) */
    uint64_t cnum;  /* 1 + the id's value if it is a canonical integer (pt_canonical_uint), else 0 */
    int64_t t;      /* Unix seconds, UTC: the earliest row of the order */
    int64_t amount;
    const char *oid; /* the order id as in the input (same lifetime as cid); may be NULL */
    uint32_t oid_len;
};

#define PT_CID_SEED 0x5eed5eedULL

/* The customer id hash of struct pt_order: a mix of the value for canonical
 * integer ids (cnum = 1 + value), else a hash of the bytes. Equal ids always
 * get equal hashes, since a canonical integer has exactly one spelling. */
static inline uint64_t pt_cid_hash(const char *cid, uint32_t len, uint64_t cnum)
{
    return cnum ? pt_hash_mix(cnum ^ PT_CID_SEED) : pt_hash_bytes(cid, len, PT_CID_SEED);
}

/*
 * The consumer. batch() gets orders in file order (streaming mode) or all at
 * end of input (general mode); it returns 0 or a PT_E* code that stops the run.
 * reset() drops everything received so far (before a general-mode restart).
 * Both are called from the thread that called pt_ingest_orders.
 */
/* An order of customer cid[0..len): fills cnum and chash as ingest does (for
 * callers that make orders themselves: tests, other importers). cid is
 * borrowed. */
struct pt_order pt_order_make(const char *cid, uint32_t len, int64_t t, int64_t amount,
                              uint32_t flags);

struct pt_order_sink {
    void *ctx;
    int (*batch)(void *ctx, const struct pt_order *o, size_t n, struct pt_err *e);
    void (*reset)(void *ctx);
    /*
     * Optional (NULL: every order goes through batch). In streaming mode the
     * parser threads hand most orders straight to add(), on thread `tid`
     * (0 .. threads-1): calls with different tids run concurrently, calls with
     * one tid never do, and batch() never runs at the same time as add().
     * Returns 0 or a PT_E* code that stops the run (detail is not kept).
     */
    int (*add)(void *ctx, int tid, const struct pt_order *o);
    /* Called on thread tid after its last add() of a part, before the calling
     * thread goes on; the sink must have used every order by then (their cid
     * pointers die). NULL if not needed. */
    int (*flush)(void *ctx, int tid);
    int threads; /* tids the sink accepts; ingest uses no more parser threads */
};

struct pt_ingest_opts {
    const char *name;    /* shown in messages; required */
    enum pt_layout layout;
    const char *columns; /* "role=Header,..." for the order layout, or NULL */
    int skip_bad;
    FILE *rejects;     /* skip_bad only; NULL = not written; borrowed */
    size_t max_record; /* bytes; 0 = PT_CSV_DEFAULT_MAX_RECORD */
    size_t block_size; /* bytes per read block; 0 = default (tests use small) */
    int threads;       /* parser threads; 0 = online CPUs (at most 8) */
    int force_general; /* use general mode from the start (tests) */
    int no_mmap;       /* read() even a regular file (tests) */
    /* Called after each block with the bytes consumed so far (may be NULL). */
    void (*progress)(void *pctx, uint64_t bytes);
    void *pctx;
};

struct pt_ingest_stats {
    enum pt_layout layout; /* detected */
    int scale;             /* decimals of pt_order.amount: 2, or 3 for UCI */
    uint64_t rows;         /* data records read (not the header, not blank lines) */
    uint64_t bad_rows;     /* rejected rows */
    uint64_t no_customer;  /* UCI rows skipped for an empty customer id */
    uint64_t orders;       /* orders given to the sink, cancellations included */
    int general_mode;      /* 1 if general mode produced the result */
};

/*
 * Read fd to its end. Returns 0, or PT_EPARSE (first bad row / bad header /
 * empty input; detail in e), PT_EIO, PT_ENOMEM, PT_EUSAGE (bad opts->columns),
 * or the sink's error. On failure the sink may have received part of the data.
 * Blocks on fd; starts and joins its own threads; not reentrant per sink.
 */
int pt_ingest_orders(int fd, const struct pt_ingest_opts *opts, const struct pt_order_sink *sink,
                     struct pt_ingest_stats *st, struct pt_err *e);

const char *pt_layout_name(enum pt_layout l);

#endif
