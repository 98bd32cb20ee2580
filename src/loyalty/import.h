/*
 * import.h - a members CSV to import into a loyalty programme (docs/loyalty.md
 * "Import"): members and their balances migrated from another programme.
 *
 * Format (RFC 4180, ingest/csv.h's dialect; a UTF-8 byte order mark is
 * skipped): a header row, then one member a row. Columns come in any order;
 * their names are case-insensitive (spaces around a name are ignored):
 *   user_id  required  1..PT_LOY_IMPORT_MAX_ID bytes of UTF-8, no control
 *                      characters; each user_id at most once in the file
 *   points   required  a whole number 0..PT_LOY_MAX_POINTS (digits only)
 *   tier     optional  a tier level's name (<= PT_LOY_MAX_NAME bytes), or empty
 *   joined   optional  an ISO-8601 date or time (pt_parse_time, PT_TIME_ISO)
 *                      after 1970-01-01T00:00:00Z, or empty
 * Any other column is an error. Blank lines are accepted at the end of the
 * file only. At most PT_LOY_IMPORT_MAX_ROWS rows.
 *
 * Every row of a valid file is on one physical line (no accepted value holds
 * a line break), so rows[i] is on line i + 2.
 *
 * Errors (nothing is returned on any error: all or nothing): PT_EPARSE, or
 * PT_ETOOBIG over the row limit, with e->line the 1-based physical line and
 * e->column the 1-based byte column in that line of the offending field, and
 * e->msg "line N, column C: <what>" naming the column by its header name
 * (`line 7, column 9: points "12x" is not a whole number >= 0`); PT_ENOMEM.
 *
 * Layer: loyalty (util, ingest; engine/engine.h for struct pt_loy_import_row
 * only). Pure: thread-safe on distinct objects; never blocks.
 */
#ifndef PT_LOYALTY_IMPORT_H
#define PT_LOYALTY_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "util/err.h"

#define PT_LOY_IMPORT_MAX_ROWS 1000000u
#define PT_LOY_IMPORT_MAX_ID   256 /* bytes of a user_id (PT_EV_MAX_ID) */

/* A parsed file. rows[i].user_id and .tier point into `arena` (NUL-terminated
 * strings; tier NULL when empty or without a tier column; joined 0 when empty
 * or without a joined column). Owned: free with pt_loy_import_release. */
struct pt_loy_import {
    struct pt_loy_import_row *rows;
    size_t n;
    char *arena;
    size_t arena_len;
    int has_tier, has_joined; /* whether the file has these columns */
};

struct pt_loy_import_opts {
    size_t max_rows; /* 0 = PT_LOY_IMPORT_MAX_ROWS (a lower limit for tests) */
    /* called now and then with the bytes parsed so far (may be NULL) */
    void (*progress)(void *ctx, uint64_t done);
    void *pctx;
};

/* Parse buf[0..len) into *out (which need not be initialised). On error *out
 * is left empty (releasing it is harmless). */
int pt_loy_import_parse(const char *buf, size_t len, struct pt_loy_import *out, struct pt_err *e);
/* The same with options (o may be NULL). */
int pt_loy_import_parse_opts(const char *buf, size_t len, const struct pt_loy_import_opts *o,
                             struct pt_loy_import *out, struct pt_err *e);
/* Free what *im owns and empty it. im may be NULL or empty. */
void pt_loy_import_release(struct pt_loy_import *im);

#endif
