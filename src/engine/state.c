/*
 * state.c - struct-of-arrays customer state and its id map (see state.h).
 */
#include "engine/state.h"

#include <stdint.h>
#include <string.h>

#include "util/err.h"
#include "util/hash.h"
#include "util/mem.h"

void pt_state_init(struct pt_state *s)
{
    memset(s, 0, sizeof *s);
    pt_buf_init(&s->keys);
}

#define ARRAYS(X)                                                                                \
    X(shop) X(parent) X(child) X(sibling) X(flags) X(consent) X(consent_set) X(orders)           \
    X(first_t) X(last_t) X(revenue) X(refunded) X(cart_value) X(cart_since) X(cart_t)           \
    X(keyoff) X(keylen) X(head)

void pt_state_release(struct pt_state *s)
{
#define FREE(f) pt_free(s->f);
    ARRAYS(FREE)
#undef FREE
    pt_free(s->slot);
    pt_buf_release(&s->keys);
    memset(s, 0, sizeof *s);
}

static int grow_rows(struct pt_state *s, size_t need)
{
    if (need <= s->cap)
        return 0;
    size_t nc = s->cap ? s->cap : 1024;
    while (nc < need)
        nc *= 2;
#define GROW(f)                                                                                  \
    {                                                                                            \
        void *p = pt_realloc_array(s->f, nc, sizeof *s->f);                                      \
        if (p == NULL)                                                                           \
            return PT_ENOMEM;                                                                    \
        s->f = p;                                                                                \
        memset(s->f + s->cap, 0, (nc - s->cap) * sizeof *s->f);                                  \
    }
    ARRAYS(GROW)
#undef GROW
    s->cap = nc;
    return 0;
}

static uint64_t key_hash(uint32_t shop, int anon, const char *id, size_t len)
{
    uint64_t h = pt_hash_bytes(id, len, 0x9e3779b97f4a7c15ULL ^ shop);
    return pt_hash_mix(h ^ ((uint64_t)shop << 1 | (uint64_t)(anon != 0)));
}

static int same_key(const struct pt_state *s, uint32_t row, uint32_t shop, int anon,
                    const char *id, size_t len)
{
    return (s->flags[row] & (ROW_PRESENT | ROW_ERASED)) == ROW_PRESENT && s->shop[row] == shop &&
           !!(s->flags[row] & ROW_ANON) == !!anon && s->keylen[row] == len &&
           memcmp(s->keys.data + s->keyoff[row], id, len) == 0;
}

int64_t pt_state_find(const struct pt_state *s, uint32_t shop, int anon, const char *id,
                      size_t len)
{
    if (s->nslot == 0)
        return -1;
    uint64_t h = key_hash(shop, anon, id, len);
    for (size_t i = h & (s->nslot - 1);; i = (i + 1) & (s->nslot - 1)) {
        const struct slot *x = &s->slot[i];
        if (x->row1 == 0)
            return -1;
        if (x->tag == (uint32_t)(h >> 32) && same_key(s, x->row1 - 1, shop, anon, id, len))
            return (int64_t)x->row1 - 1;
    }
}

static void put_slot(struct slot *tab, size_t nslot, uint64_t h, uint32_t row1)
{
    size_t i = h & (nslot - 1);
    while (tab[i].row1)
        i = (i + 1) & (nslot - 1);
    tab[i].tag = (uint32_t)(h >> 32);
    tab[i].row1 = row1;
}

static int grow_map(struct pt_state *s)
{
    if ((s->nused + 1) * 2 <= s->nslot)
        return 0;
    size_t nn = s->nslot ? s->nslot * 2 : 4096;
    struct slot *t = pt_calloc(nn, sizeof *t);
    if (t == NULL)
        return PT_ENOMEM;
    size_t used = 0;
    for (size_t i = 0; i < s->nslot; i++) {
        struct slot *x = &s->slot[i];
        uint32_t r = x->row1 ? x->row1 - 1 : 0;
        if (x->row1 && !(s->flags[r] & ROW_ERASED)) { /* drop erased rows */
            put_slot(t, nn,
                     key_hash(s->shop[r], s->flags[r] & ROW_ANON, s->keys.data + s->keyoff[r],
                              s->keylen[r]),
                     x->row1);
            used++;
        }
    }
    pt_free(s->slot);
    s->slot = t;
    s->nslot = nn;
    s->nused = used;
    return 0;
}

int pt_state_add(struct pt_state *s, size_t row, uint32_t shop, int anon, const char *id,
                 size_t len)
{
    if (row >= UINT32_MAX - 1 || len > UINT32_MAX)
        return PT_EOVERFLOW;
    if (grow_rows(s, row + 1) || grow_map(s) || pt_buf_reserve(&s->keys, len))
        return PT_ENOMEM;
    s->keyoff[row] = s->keys.len;
    s->keylen[row] = (uint32_t)len;
    pt_buf_add(&s->keys, id, len);
    s->shop[row] = shop;
    s->flags[row] = (uint8_t)(ROW_PRESENT | (anon ? ROW_ANON : 0));
    put_slot(s->slot, s->nslot, key_hash(shop, anon, id, len), (uint32_t)row + 1);
    s->nused++;
    if (row >= s->n)
        s->n = row + 1;
    s->live++;
    return 0;
}

size_t pt_state_root(const struct pt_state *s, size_t row)
{
    for (int guard = 0; s->parent[row] && guard < 1000; guard++)
        row = s->parent[row] - 1;
    return row;
}

void pt_state_link(struct pt_state *s, size_t into, size_t from)
{
    s->parent[from] = (uint32_t)into + 1;
    s->sibling[from] = s->child[into];
    s->child[into] = (uint32_t)from + 1;
}

void pt_state_unlink(struct pt_state *s, size_t row)
{
    if (s->parent[row] == 0)
        return;
    size_t p = s->parent[row] - 1;
    uint32_t *link = &s->child[p];
    while (*link && *link != row + 1)
        link = &s->sibling[*link - 1];
    if (*link)
        *link = s->sibling[row];
    s->parent[row] = 0;
    s->sibling[row] = 0;
}

size_t pt_state_tree(const struct pt_state *s, size_t root, size_t *out, size_t cap)
{
    /* iterative pre-order walk over child/sibling links */
    size_t n = 0, cur = root;
    for (;;) {
        if (n < cap)
            out[n] = cur;
        n++;
        if (s->child[cur]) {
            cur = s->child[cur] - 1;
            continue;
        }
        while (cur != root && s->sibling[cur] == 0)
            cur = s->parent[cur] - 1;
        if (cur == root)
            return n;
        cur = s->sibling[cur] - 1;
    }
}

void pt_state_erase(struct pt_state *s, size_t row)
{
    pt_state_unlink(s, row);
    /* children become roots of their own (the caller erases a whole tree) */
    while (s->child[row])
        pt_state_unlink(s, s->child[row] - 1);
    memset(s->keys.data + s->keyoff[row], 0, s->keylen[row]);
    s->keylen[row] = 0;
    s->orders[row] = 0;
    s->first_t[row] = s->last_t[row] = s->revenue[row] = s->refunded[row] = 0;
    s->cart_value[row] = s->cart_since[row] = s->cart_t[row] = 0;
    s->head[row] = 0;
    s->consent[row] = s->consent_set[row] = 0;
    if (!(s->flags[row] & ROW_ERASED) && (s->flags[row] & ROW_PRESENT))
        s->live--;
    s->flags[row] = ROW_ERASED;
}

void pt_state_order(struct pt_state *s, size_t row, int64_t t, int64_t amount)
{
    if (s->orders[row] == 0 || t < s->first_t[row])
        s->first_t[row] = t;
    if (s->orders[row] == 0 || t > s->last_t[row])
        s->last_t[row] = t;
    s->orders[row]++;
    if (__builtin_add_overflow(s->revenue[row], amount, &s->revenue[row]))
        s->revenue[row] = amount < 0 ? INT64_MIN : INT64_MAX; /* saturate, never wrap */
}

void pt_state_agg(const struct pt_state *s, size_t root, struct pt_agg *a)
{
    size_t rows[PT_STATE_MAX_TREE];
    size_t n = pt_state_tree(s, root, rows, PT_STATE_MAX_TREE);
    memset(a, 0, sizeof *a);
    for (size_t i = 0; i < n && i < PT_STATE_MAX_TREE; i++) {
        size_t r = rows[i];
        if (s->orders[r] == 0)
            continue;
        if (a->orders == 0 || s->first_t[r] < a->first_t)
            a->first_t = s->first_t[r];
        if (a->orders == 0 || s->last_t[r] > a->last_t)
            a->last_t = s->last_t[r];
        a->orders += s->orders[r];
        if (__builtin_add_overflow(a->revenue, s->revenue[r], &a->revenue))
            a->revenue = INT64_MAX;
        if (__builtin_add_overflow(a->refunded, s->refunded[r], &a->refunded))
            a->refunded = INT64_MAX;
    }
}
