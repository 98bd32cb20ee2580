/*
 * csv.h - RFC 4180 record splitter over an in-memory buffer.
 *
 * Layer: ingest (depends on util only). Never touches state.
 *
 * The reader is a pure function of the bytes: pt_csv_next() takes the start of
 * a record and the end of the available input and returns one record, split
 * into fields, or says it needs more input. It never reads past `end` and never
 * allocates. Field text is either a slice of the input (unquoted fields and
 * quoted fields without "" escapes) or a slice of the caller's scratch buffer
 * (quoted fields with escapes), valid until the next call with that scratch.
 *
 * Dialect: comma separator, '"' quote with "" as the escaped quote, records end
 * at '\n' outside quotes; a '\r' just before that '\n' is dropped. A last record
 * without a final '\n' is accepted at end of input.
 *
 * Row-level problems do not stop the reader: the record comes back with `bad`
 * set, and the reader resynchronises so the next call starts at a sensible
 * place (for an unterminated quote or an over-long record, at the next physical
 * line after the record's first line).
 */
#ifndef PT_INGEST_CSV_H
#define PT_INGEST_CSV_H

#include <stddef.h>
#include <stdint.h>

#define PT_CSV_MAX_FIELDS 64           /* more fields than this: PT_CSV_TOO_MANY_FIELDS */
#define PT_CSV_DEFAULT_MAX_RECORD (1u << 20) /* bytes; see pt_csv_next */

enum pt_csv_bad {
    PT_CSV_GOOD = 0,
    PT_CSV_QUOTE_IN_FIELD,   /* '"' inside an unquoted field */
    PT_CSV_TEXT_AFTER_QUOTE, /* "abc"x */
    PT_CSV_UNTERMINATED,     /* quoted field not closed before end of input */
    PT_CSV_TOO_LONG,         /* record longer than max_record bytes */
    PT_CSV_TOO_MANY_FIELDS,  /* more than PT_CSV_MAX_FIELDS fields */
};

struct pt_csv_field {
    const char *p;    /* field text (unquoted); not NUL-terminated */
    uint32_t len;     /* bytes of text */
    uint32_t raw_off; /* offset of the field's first raw byte from the record start */
};

struct pt_csv_rec {
    const char *start; /* first byte of the record in the input */
    size_t raw_len;    /* record bytes, without the final line terminator */
    size_t consumed;   /* bytes to advance to reach the next record */
    uint32_t nlines;   /* physical lines the record spans (>= 1) */
    uint32_t nfields;  /* fields found (<= PT_CSV_MAX_FIELDS) */
    enum pt_csv_bad bad;
    uint32_t bad_off; /* offset from start where the problem was seen */
    struct pt_csv_field f[PT_CSV_MAX_FIELDS];
};

/*
 * Split the record that starts at p. `end` is the end of available input; `eof`
 * says no input follows `end`. A record may have at most max_record bytes, not
 * counting its line end; a longer one comes back as PT_CSV_TOO_LONG. `scratch`
 * must hold at least max_record + 2 bytes.
 * Returns 1 when *r holds a record (possibly with r->bad set), 0 when the
 * record is not complete before `end` and !eof (call again with more input;
 * when end - p > max_record + 2 this never happens). At eof with p == end,
 * returns 0.
 * Thread-safe for distinct r and scratch; never blocks.
 */
int pt_csv_next(const char *p, const char *end, int eof, size_t max_record, char *scratch,
                struct pt_csv_rec *r);

/* Short English description of a pt_csv_bad value. */
const char *pt_csv_bad_str(enum pt_csv_bad b);

/* Line offset and 1-based byte column of offset `off` in text s[0..len):
 * *dline counts the line breaks before off (0 on the first line). */
void pt_text_position(const char *s, size_t len, size_t off, uint64_t *dline, uint64_t *col);

/* The same for offset `off` of record r. */
void pt_csv_position(const struct pt_csv_rec *r, size_t off, uint64_t *dline, uint64_t *col);

#endif
