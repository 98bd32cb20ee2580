/*
 * idmap.c - open addressing with linear probing. A slot keeps the full 64-bit
 * hash and the length, so a probe compares id bytes only when both are equal,
 * and short ids are compared in the slot itself (no second cache miss).
 */
#include "core/idmap.h"

#include <string.h>

#include "util/err.h"
#include "util/mem.h"

void pt_idmap_init(struct pt_idmap *m)
{
    memset(m, 0, sizeof *m);
    pt_buf_init(&m->arena);
}

void pt_idmap_release(struct pt_idmap *m)
{
    pt_free(m->slot);
    pt_free(m->off);
    pt_free(m->len);
    pt_buf_release(&m->arena);
    pt_idmap_init(m);
}

static int grow_slots(struct pt_idmap *m)
{
    size_t ns = m->nslot ? m->nslot * 2 : 1024;
    struct pt_idslot *s = pt_calloc(ns, sizeof *s);
    if (s == NULL)
        return PT_ENOMEM;
    for (size_t i = 0; i < m->nslot; i++) {
        if (!m->slot[i].idx1)
            continue;
        size_t h = (size_t)m->slot[i].hash & (ns - 1);
        while (s[h].idx1)
            h = (h + 1) & (ns - 1);
        s[h] = m->slot[i];
    }
    pt_free(m->slot);
    m->slot = s;
    m->nslot = ns;
    return 0;
}

int pt_idmap_get(struct pt_idmap *m, const char *id, uint32_t len, uint64_t hash, uint32_t *idx,
                 int *is_new)
{
    if (m->nslot == 0 && grow_slots(m))
        return PT_ENOMEM;
    size_t mask = m->nslot - 1;
    size_t h = (size_t)hash & mask;
    /* Short ids: compare as two zero-padded words against the slot copy. */
    uint64_t w[2] = {0, 0};
    int short_id = len <= PT_IDMAP_INLINE;
    if (short_id)
        memcpy(w, id, len);
    for (;;) {
        struct pt_idslot *s = &m->slot[h];
        if (s->idx1 == 0)
            break;
        if (s->hash == hash && s->len == len) {
            uint32_t i = s->idx1 - 1;
            int eq;
            if (short_id) {
                uint64_t v[2];
                memcpy(v, s->inl, sizeof v);
                eq = v[0] == w[0] && v[1] == w[1];
            } else {
                eq = memcmp(m->arena.data + m->off[i], id, len) == 0;
            }
            if (eq) {
                *idx = i;
                *is_new = 0;
                return 0;
            }
        }
        h = (h + 1) & mask;
    }
    if (m->n >= UINT32_MAX - 1)
        return PT_ENOMEM;
    if ((m->n + 1) * 2 > m->nslot) {
        /* Grow only when inserting, so a lookup of a present id never fails. */
        if (grow_slots(m))
            return PT_ENOMEM;
        mask = m->nslot - 1;
        h = (size_t)hash & mask;
        while (m->slot[h].idx1)
            h = (h + 1) & mask;
    }
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 1024;
        size_t *no = pt_realloc_array(m->off, nc, sizeof *no);
        if (no == NULL)
            return PT_ENOMEM;
        m->off = no;
        uint32_t *nl = pt_realloc_array(m->len, nc, sizeof *nl);
        if (nl == NULL)
            return PT_ENOMEM;
        m->len = nl;
        m->cap = nc;
    }
    size_t off = m->arena.len;
    if (pt_buf_add(&m->arena, id, len))
        return PT_ENOMEM;
    m->off[m->n] = off;
    m->len[m->n] = len;
    m->slot[h].hash = hash;
    m->slot[h].idx1 = (uint32_t)(m->n + 1);
    m->slot[h].len = len;
    if (short_id)
        memcpy(m->slot[h].inl, w, sizeof w);
    *idx = (uint32_t)m->n++;
    *is_new = 1;
    return 0;
}
