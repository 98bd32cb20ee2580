/*
 * cdnow.h - read the CDNOW transaction format (Fader & Hardie's public data).
 *
 * Layer: ingest (util, ingest/fields). Whitespace-separated text, one
 * transaction per line, LF or CRLF line ends:
 *     customer_id  yyyymmdd  number_of_cds  dollar_value          (master file)
 *     customer_id  sample_id  yyyymmdd  number_of_cds  dollar_value (sample file)
 * Every data line must have the same number of fields (4 or 5). A first line
 * whose first field is not all digits is a header and is skipped. Blank lines
 * are ignored. Each line becomes one struct pt_order: cid = the first field,
 * t = 00:00:00Z of the date, amount = dollar_value in cents (scale 2), no
 * order id.
 *
 * Errors: PT_EPARSE with "NAME:LINE:COLUMN: field 'date': no such date
 * (\"19970231\")" for the first bad line (the sink may have had the lines before it),
 * or the sink's error. Pure: reads buf only; thread-safe.
 */
#ifndef PT_INGEST_CDNOW_H
#define PT_INGEST_CDNOW_H

#include <stddef.h>

#include "ingest/orders.h"

/* 1 if buf (the start of a file) looks like the CDNOW format: its first
 * non-blank line has no comma and 4 or 5 whitespace-separated fields. */
int pt_cdnow_sniff(const char *buf, size_t n);

int pt_ingest_cdnow(const char *buf, size_t n, const char *name, const struct pt_order_sink *sink,
                    struct pt_ingest_stats *st, struct pt_err *e);

#endif
