/*
 * state.h - the in-memory customer state of DESIGN.md: struct-of-arrays keyed
 * by a dense row index (= store row id - 1), a hash map from (shop, kind,
 * external id) to the row, and the identity trees of merged profiles.
 *
 * Layer: engine (util, store). Ownership: the engine owns one pt_state and is
 * its only writer; readers hold the engine's read lock while they read.
 * Rows are never reused: an erased row keeps its index with every field zeroed
 * and its id bytes wiped. Errors: PT_ENOMEM (state unchanged).
 */
#ifndef PT_ENGINE_STATE_H
#define PT_ENGINE_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Rows one profile may hold (its own plus merged identities); merges beyond
 * this are refused. */
#define PT_STATE_MAX_TREE 128

enum { ROW_PRESENT = 1, ROW_ANON = 2, ROW_ERASED = 4 };

struct pt_state {
    size_t n, cap; /* rows 0..n-1 */
    /* per row */
    uint32_t *shop;
    uint32_t *parent, *child, *sibling; /* row + 1, 0 = none: merge tree */
    uint8_t *flags, *consent, *consent_set;
    uint32_t *orders;
    int64_t *first_t, *last_t, *revenue, *refunded;
    int64_t *cart_value, *cart_since, *cart_t;
    int64_t *head; /* seq of the identity's latest event (its chain's head), 0 = none */
    uint64_t *keyoff;
    uint32_t *keylen;
    struct pt_buf keys; /* external ids */
    /* map (shop, kind, id) -> row */
    struct slot {
        uint32_t tag;  /* high half of the key's hash */
        uint32_t row1; /* row + 1, 0 = empty */
    } *slot;           /* 8 bytes a slot; at most half full */
    size_t nslot, nused;
    size_t live; /* present, not erased rows */
};

void pt_state_init(struct pt_state *s);
void pt_state_release(struct pt_state *s);

/* Row of (shop, anon?, id) or -1. */
int64_t pt_state_find(const struct pt_state *s, uint32_t shop, int anon, const char *id,
                      size_t len);
/* Make row `row` (>= s->n is allowed: rows in between stay absent) for (shop, anon, id). */
int pt_state_add(struct pt_state *s, size_t row, uint32_t shop, int anon, const char *id,
                 size_t len);
static inline const char *pt_state_id(const struct pt_state *s, size_t row, uint32_t *len)
{
    *len = s->keylen[row];
    return s->keys.data + s->keyoff[row];
}

size_t pt_state_root(const struct pt_state *s, size_t row);
/* Link `from` (a root) under `into`. */
void pt_state_link(struct pt_state *s, size_t into, size_t from);
/* Unlink `row` from its parent (it becomes a root with its own subtree). */
void pt_state_unlink(struct pt_state *s, size_t row);
/* Rows of the tree under root (root first) into out[0..cap); returns the count (may exceed cap). */
size_t pt_state_tree(const struct pt_state *s, size_t root, size_t *out, size_t cap);
/* Wipe row (erasure): unlink from its tree, zero it, mark it erased. */
void pt_state_erase(struct pt_state *s, size_t row);

/* An order of row: counts, revenue, first/last time. */
void pt_state_order(struct pt_state *s, size_t row, int64_t t, int64_t amount);

/* Aggregates of a whole profile (the tree under root). */
struct pt_agg {
    uint32_t orders;
    int64_t first_t, last_t, revenue, refunded;
};
void pt_state_agg(const struct pt_state *s, size_t root, struct pt_agg *a);

#endif
