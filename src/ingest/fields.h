/*
 * fields.h - typed field parsers for order data: money, timestamps, ids.
 *
 * Layer: ingest (util only). Pure functions; thread-safe; never allocate.
 * Each returns 0 on success or -1 with *why set to a static English reason
 * ("not a number", "no such date", ...) suitable for
 * "field 'amount': <why> ("<value>")".
 */
#ifndef PT_INGEST_FIELDS_H
#define PT_INGEST_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#define PT_ID_MAX_BYTES 128

/* Flags for pt_parse_decimal. */
enum {
    PT_DEC_ALLOW_NEG = 1, /* a leading '-' is accepted */
};

/*
 * Decimal "123", "7.5", "0.99" (at most `scale` fractional digits, at most 15
 * integer digits, no sign unless PT_DEC_ALLOW_NEG, no exponent, no
 * separators) -> value * 10^scale in *out. scale is 0..3 (so that every
 * accepted value fits in int64).
 */
int pt_parse_decimal(const char *s, size_t n, int scale, int flags, int64_t *out,
                     const char **why);

/* Signed integer of at most 18 digits ("-12", "6"). */
int pt_parse_int(const char *s, size_t n, int64_t *out, const char **why);

/* Flags for pt_parse_time. */
enum {
    PT_TIME_T_SEP = 1,     /* date and time separated by 'T' (ISO-8601) */
    PT_TIME_SPACE_SEP = 2, /* separated by ' ' (UCI Online Retail) */
    PT_TIME_ZONE = 4,      /* optional Z / +HH:MM / -HH:MM; none = UTC */
    PT_TIME_DATE_ONLY = 8, /* a bare YYYY-MM-DD (00:00:00Z) is accepted */
    PT_TIME_FRACTION = 16, /* optional .fraction of a second (truncated) */
    PT_TIME_ISO = PT_TIME_T_SEP | PT_TIME_ZONE | PT_TIME_DATE_ONLY | PT_TIME_FRACTION,
};

/* Timestamp -> Unix seconds (UTC). Dates and times must exist. */
int pt_parse_time(const char *s, size_t n, int flags, int64_t *out, const char **why);

/* Flags for pt_check_id. */
enum {
    PT_ID_UTF8 = 1, /* must be valid UTF-8 */
};

/* 1..128 bytes, no control characters (C0, DEL), and valid UTF-8 if asked. */
int pt_check_id(const char *s, size_t n, int flags, const char **why);

/*
 * If s is a canonical non-negative integer ("0", or digits without a leading
 * zero, at most 18 digits) set *v and return 1; else return 0.
 */
int pt_canonical_uint(const char *s, size_t n, uint64_t *v);

/* Like pt_canonical_uint but accepts leading zeros and up to 19 digits
 * (value <= INT64_MAX): "non-negative integer that fits in int64". */
int pt_nonneg_int64(const char *s, size_t n, uint64_t *v);

#endif
