/*
 * idmap.h - external id (bytes) -> dense index, the customer index of DESIGN.md.
 *
 * Layer: core (util only).
 * Invariants: indexes are 0..n-1 in order of first insertion and never change;
 * the id bytes are copied into the map's arena (ids are at most 2^32-1 bytes);
 * the slot table is at most half full; a slot holds the hash, the length and,
 * for short ids, the id bytes. Callers supply the hash (so that it can
 * be computed once, elsewhere, e.g. on a parser thread); equal ids must have
 * equal hashes. Not thread-safe: one writer, no concurrent readers.
 */
#ifndef PT_CORE_IDMAP_H
#define PT_CORE_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Ids up to this many bytes are compared inside the slot (one cache line
 * touched per lookup); longer ids are compared in the arena. */
#define PT_IDMAP_INLINE 16

struct pt_idmap {
    struct pt_idslot {
        uint64_t hash;
        uint32_t idx1; /* index + 1; 0 = empty */
        uint32_t len;  /* id bytes */
        char inl[PT_IDMAP_INLINE]; /* the id itself when len <= PT_IDMAP_INLINE */
    } *slot;
    size_t nslot;  /* power of two, or 0 */
    size_t n;      /* ids stored */
    size_t *off;   /* id i is arena.data[off[i] .. off[i] + len[i]) */
    uint32_t *len;
    size_t cap;
    struct pt_buf arena;
};

void pt_idmap_init(struct pt_idmap *m);
void pt_idmap_release(struct pt_idmap *m);

/*
 * Index of id (inserting it if new: *is_new = 1). Returns 0, or PT_ENOMEM
 * (map unchanged).
 */
int pt_idmap_get(struct pt_idmap *m, const char *id, uint32_t len, uint64_t hash, uint32_t *idx,
                 int *is_new);

/* Hint that id with this hash will be looked up soon (prefetch its slot). */
static inline __attribute__((always_inline)) void pt_idmap_prefetch(const struct pt_idmap *m,
                                                                     uint64_t hash)
{
    if (m->nslot)
        __builtin_prefetch(&m->slot[hash & (m->nslot - 1)]);
}

static inline const char *pt_idmap_id(const struct pt_idmap *m, uint32_t i, uint32_t *len)
{
    *len = m->len[i];
    return m->arena.data + m->off[i];
}

#endif
