/*
 * store_int.h - what the SQLite backend's files share (store_sqlite.c owns
 * struct pt_store and keeps the connection as its first member).
 */
#ifndef PT_STORE_STORE_INT_H
#define PT_STORE_STORE_INT_H

#include <sqlite3.h>
#include <stdarg.h>

#include "store/store.h"

struct pt_store_head {
    sqlite3 *db;
};

static inline sqlite3 *db_of(struct pt_store *s)
{
    return ((struct pt_store_head *)(void *)s)->db;
}

/* Prepared statements the other files of the backend keep on a connection:
 * slot i of PT_STORE_NSLOTS (store_seg.c uses [0, 16), store_loy.c [16, 64),
 * store_auto.c [64, 112)). pt_store_slot returns
 * the statement of `slot`, prepared from `sql` on first use (persistent,
 * finalized by pt_store_close), reset and with its bindings cleared; NULL if
 * it cannot be prepared (sqlite3_errmsg tells why). A slot always holds the
 * same sql. */
#define PT_STORE_NSLOTS 112
sqlite3_stmt *pt_store_slot(struct pt_store *s, int slot, const char *sql);

/* Shared statement helpers (store_sqlite.c): PT_EIO with "store: WHAT: why";
 * bind a string or NULL; step a statement that returns no rows, then reset. */
int pt_store_fail(struct pt_store *s, struct pt_err *e, const char *what);
void pt_store_bind_text(sqlite3_stmt *q, int i, const char *t);
int pt_store_run(struct pt_store *s, sqlite3_stmt *q, struct pt_err *e, const char *what);
/* Finish a query loop: rc is the last sqlite3_step result, r the callback's
 * (0 or its error); resets q. PT_EIO if the loop stopped on an error. */
int pt_store_done(struct pt_store *s, sqlite3_stmt *q, int rc, int r, struct pt_err *e,
                  const char *what);

/* pt_store_slot with its parameters bound by fmt: 'i' int64_t, 't' text
 * (NULL binds NULL), 'b' a 16-byte blob. NULL if it cannot be prepared. */
sqlite3_stmt *pt_store_vstmt(struct pt_store *s, int slot, const char *sql, const char *fmt,
                             va_list ap);
/* Step a one-row query: 0 with the row ready, PT_ENOTFOUND (no row) or
 * PT_EIO. q NULL (could not prepare) is PT_EIO. */
int pt_store_one_row(struct pt_store *s, sqlite3_stmt *q, struct pt_err *e, const char *what);
/* Run an insert/update; *dup (may be NULL) = 1 if it changed no row. */
int pt_store_run_dup(struct pt_store *s, sqlite3_stmt *q, int *dup, struct pt_err *e,
                     const char *what);
static inline const char *pt_store_text(sqlite3_stmt *q, int col)
{
    return (const char *)sqlite3_column_text(q, col);
}

/* The schema migrations (store_schema.c): PT_STORE_SCHEMA_VERSION of them. */
extern const char *const pt_store_migrations[];

#endif
