/*
 * orders_int.h - private types shared by orders_layout.c and orders_read.c.
 */
#ifndef PT_INGEST_ORDERS_INT_H
#define PT_INGEST_ORDERS_INT_H

#include <string.h>

#include "ingest/csv.h"
#include "ingest/orders.h"
#include "util/buf.h"

/* What each used column means. */
enum role { R_ORDER, R_CUSTOMER, R_TIME, R_AMOUNT, R_QUANTITY, R_PRICE, R_NROLES };

struct layout {
    enum pt_layout kind;
    uint32_t nfields;       /* header field count; every row must match */
    int col[R_NROLES];      /* field index per role, -1 = unused */
    char name[R_NROLES][64]; /* how messages name each role's field */
    int scale;
};

/* A converted row, or why it is bad. */
struct row {
    const char *cid, *oid;
    uint32_t cid_len, oid_len;
    int64_t t, amount;
    int cancel;      /* UCI 'C' invoice */
    int no_customer; /* UCI row without customer: skip, count */
};

struct bad {
    uint32_t off;      /* byte offset of the problem from the record start */
    const char *field; /* field name, or NULL for a record-level problem */
    const char *why;   /* static reason */
    const char *val;   /* offending value (may be NULL) */
    uint32_t val_len;
    char detail[160];  /* used instead of why when detail[0] != 0 */
};

/* Fast-path state of one parser thread: the last date seen. */
struct fast_ctx {
    int32_t dkey;
    int64_t days;
};

/* 1 if the line at p is a plain order-layout line (see orders_fast.c); then
 * *row, *okey (the order id's value) and *next (start of the next line) are
 * set. 0: not handled here, parse it the general way. Never reads past end. */
int fast_order_row(const char *p, const char *end, int eof, struct fast_ctx *fc, struct row *row,
                   uint64_t *okey, const char **next);
/* 1 if L is the order layout in the canonical column order (fast path usable). */
int layout_fast_ok(const struct layout *L);

#define NO_KEY UINT64_MAX /* okey of a non-canonical order id */

/* Adjacent rows of one order. Strings point into the read buffer. */
struct grp {
    const char *cid, *oid;
    uint32_t cid_len, oid_len;
    uint32_t nrows, flags;
    uint64_t chash, okey, cnum;
    uint64_t line; /* first row; relative to the part until merged */
    const char *raw; /* first row's text (no line end), for reports */
    uint32_t raw_len;
    uint32_t coff; /* offset of the first row's customer id in raw (for reports) */
    int64_t t, amount;
};

/* A bad row found while parsing a part. */
struct rej {
    uint64_t line; /* relative to the part start (0-based) */
    uint64_t col;
    uint64_t ref_line; /* mismatch: 1 + line of the order's first row (relative), else 0 */
    const char *ref_cid, *oid; /* mismatch: the order's customer and id */
    uint32_t ref_cid_len, oid_len;
    struct bad b;
    const char *raw;
    size_t raw_len;
};

struct part {
    const char *start, *limit, *end;
    int eof, last;
    const struct layout *L;
    size_t max_record;
    char *scratch;
    int stop_at_bad;
    /* results */
    const char *stop; /* start of the first record not consumed */
    uint64_t nl;      /* physical lines consumed */
    uint64_t rows, no_customer;
    int failed; /* stopped at a bad row (stop_at_bad) */
    int oom;
    /* streaming mode: g holds at most the part's first and current group;
     * the groups in between go to sink->add() on this thread */
    const struct pt_order_sink *stream;
    int tid;
    int nonmono;  /* order keys not strictly increasing, or not canonical */
    uint64_t streamed; /* orders given to sink->add() */
    int open_line;     /* the last record was an over-long line whose end is not in sight */
    int sink_rc;  /* sink->add() failed */
    int have_prev;
    uint64_t prev_key;
    struct grp *g;
    size_t ng, capg;
    struct rej *r;
    size_t nr, capr;
};


/* Is (okey, oid) the order of group g? Canonical integer order ids are equal
 * exactly when their values are; other ids compare as bytes. */
static inline int grp_same_order(const struct grp *g, uint64_t okey, const char *oid,
                                 uint32_t len)
{
    if (okey != NO_KEY)
        return g->okey == okey;
    return g->okey == NO_KEY && g->oid_len == len && memcmp(g->oid, oid, len) == 0;
}

/* Parse P->start .. (see struct part); sets the result fields. Thread entry:
 * part_thread(P). */
void part_run(struct part *P);
void *part_thread(void *arg);

/* orders_io.c: read() until buf holds cap bytes or input ends (0 or PT_EIO);
 * map in [from, to) of a file mapping in one call (best effort); whether fd is
 * a regular file at offset 0. */
int input_fill(int fd, const char *name, char *buf, size_t *len, size_t cap, int *eof,
               struct pt_err *e);
void input_populate(const char *map, size_t from, size_t to);
int input_seekable(int fd);

/* Parse the header record into *L (detect the layout). */
int layout_from_header(struct layout *L, const struct pt_csv_rec *r, enum pt_layout want,
                       const char *columns, const char *name, struct pt_err *e);

/* Convert one good CSV record. Returns 0, or -1 with *b filled. */
int layout_convert(const struct layout *L, const struct pt_csv_rec *r, struct row *out,
                   struct bad *b);

/* "NAME:LINE:COL: field 'x': why (\"val\")" into out (reset first). */
void bad_format(struct pt_buf *out, const char *name, uint64_t line, uint64_t col,
                const struct bad *b);
/* Append a rejects CSV row: line,column,field,reason,row. */
int bad_reject_row(struct pt_buf *out, uint64_t line, uint64_t col, const struct bad *b,
                   const char *raw, size_t raw_len);

#endif
