/*
 * store_int.h - what the SQLite backend's files share (store_sqlite.c owns
 * struct pt_store and keeps the connection as its first member).
 */
#ifndef PT_STORE_STORE_INT_H
#define PT_STORE_STORE_INT_H

#include <sqlite3.h>

#include "store/store.h"

struct pt_store_head {
    sqlite3 *db;
};

static inline sqlite3 *db_of(struct pt_store *s)
{
    return ((struct pt_store_head *)(void *)s)->db;
}

#endif
