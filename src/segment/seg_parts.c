/*
 * seg_parts.c - the parts of segment/subject.h that need no customer: interned
 * strings, and what a rule reads that changes with time alone.
 */
#include <stdint.h>
#include <string.h>

#include "segment/subject.h"
#include "util/hash.h"
#include "util/mem.h"

/* ---- interned strings ---- */

void pt_dict_init(struct pt_dict *d)
{
    memset(d, 0, sizeof *d);
}

void pt_dict_release(struct pt_dict *d)
{
    pt_free(d->data);
    pt_free(d->off);
    pt_free(d->slot);
    memset(d, 0, sizeof *d);
}

const char *pt_dict_str(const struct pt_dict *d, uint32_t id, size_t *len)
{
    if (id == 0 || id > d->n) {
        *len = 0;
        return "";
    }
    uint64_t o = d->off[id - 1];
    *len = (size_t)(o & 0xffff);
    return d->data + (o >> 16);
}

uint32_t pt_dict_find(const struct pt_dict *d, const char *s, size_t len)
{
    if (d->nslot == 0)
        return 0;
    for (size_t i = pt_hash_bytes(s, len, 7) & (d->nslot - 1);; i = (i + 1) & (d->nslot - 1)) {
        uint32_t id = d->slot[i];
        if (id == 0)
            return 0;
        size_t l;
        const char *x = pt_dict_str(d, id, &l);
        if (l == len && memcmp(x, s, len) == 0)
            return id;
    }
}

static int dict_rehash(struct pt_dict *d)
{
    size_t nn = d->nslot ? d->nslot * 2 : 1024;
    uint32_t *t = pt_calloc(nn, sizeof *t);
    if (t == NULL)
        return -1;
    for (uint32_t id = 1; id <= d->n; id++) {
        size_t l;
        const char *x = pt_dict_str(d, id, &l);
        size_t i = pt_hash_bytes(x, l, 7) & (nn - 1);
        while (t[i])
            i = (i + 1) & (nn - 1);
        t[i] = id;
    }
    pt_free(d->slot);
    d->slot = t;
    d->nslot = nn;
    return 0;
}

uint32_t pt_dict_intern(struct pt_dict *d, const char *s, size_t len)
{
    uint32_t id = pt_dict_find(d, s, len);
    if (id || len > 0xffff || d->n >= UINT32_MAX - 1)
        return id;
    if ((d->n + 1) * 2 > d->nslot && dict_rehash(d))
        return 0;
    if (d->len + len > d->cap) {
        size_t nc = d->cap ? d->cap : 4096;
        while (nc < d->len + len)
            nc *= 2;
        char *p = pt_realloc(d->data, nc);
        if (p == NULL)
            return 0;
        d->data = p;
        d->cap = nc;
    }
    if (d->n == d->ncap) {
        size_t nc = d->ncap ? d->ncap * 2 : 256;
        uint64_t *p = pt_realloc_array(d->off, nc, sizeof *p);
        if (p == NULL)
            return 0;
        d->off = p;
        d->ncap = nc;
    }
    memcpy(d->data + d->len, s, len);
    d->off[d->n] = (uint64_t)d->len << 16 | len;
    d->len += len;
    id = (uint32_t)++d->n;
    size_t i = pt_hash_bytes(s, len, 7) & (d->nslot - 1);
    while (d->slot[i])
        i = (i + 1) & (d->nslot - 1);
    d->slot[i] = id;
    return id;
}

/* ---- time ---- */

static int add_window(struct pt_seg_time *t, int64_t w)
{
    for (size_t i = 0; i < t->nwin; i++)
        if (t->win[i] == w)
            return 0;
    if (t->nwin == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 8;
        int64_t *p = pt_realloc_array(t->win, nc, sizeof *p);
        if (p == NULL)
            return PT_ENOMEM;
        t->win = p;
        t->cap = nc;
    }
    t->win[t->nwin++] = w;
    return 0;
}

int pt_seg_time_uses(const struct pt_rule *r, struct pt_seg_time *t)
{
    size_t na;
    const struct pt_rule_attr *ta = pt_rule_attrs(&na);
    for (size_t i = 0; i < r->n; i++) {
        const struct pt_rule_node *n = &r->nodes[i];
        if (n->op == PT_R_ATTR && n->id >= 0 && (size_t)n->id < na) {
            const char *nm = ta[n->id].name;
            if (strcmp(nm, "days_since_first_order") == 0 ||
                strcmp(nm, "orders_per_30d_usual") == 0)
                t->uses |= PT_SEG_T_FIRST;
            else if (strcmp(nm, "days_since_last_order") == 0)
                t->uses |= PT_SEG_T_LAST;
            else if (strcmp(nm, "cart.idle_minutes") == 0)
                t->uses |= PT_SEG_T_CART;
            else if (strncmp(nm, "rfm.", 4) == 0)
                t->uses |= PT_SEG_T_RFM | PT_SEG_T_LAST;
            else if (strncmp(nm, "clv.", 4) == 0)
                t->uses |= PT_SEG_T_CLV;
            else if (strcmp(nm, "traits.") == 0 || strcmp(nm, "preference.") == 0)
                t->uses |= PT_SEG_T_TRAITS;
        } else if (n->op == PT_R_CALL) {
            for (int32_t k = 0; k < n->b; k++) {
                const struct pt_rule_node *a = &r->nodes[r->kids[n->a + k]];
                const char *an = r->strs + a->str;
                if (a->slen && strcmp(an, "within") && strcmp(an, "event") &&
                    strcmp(an, "product") && strcmp(an, "category"))
                    t->uses |= PT_SEG_T_PROPS;
                if (a->slen == 0 && n->id >= 0 &&
                    strcmp(pt_rule_funcs(&na)[n->id].name, "points_expiring") == 0) {
                    t->uses |= PT_SEG_T_LOTS;
                    if (add_window(t, (int64_t)r->nodes[a->a].num))
                        return PT_ENOMEM;
                } else if (a->slen == 0 || strcmp(r->strs + a->str, "within") == 0) {
                    t->uses |= PT_SEG_T_WINDOW;
                    if (add_window(t, (int64_t)r->nodes[a->a].num))
                        return PT_ENOMEM;
                }
            }
        }
    }
    return 0;
}

int pt_seg_time_merge(struct pt_seg_time *dst, const struct pt_seg_time *src)
{
    dst->uses |= src->uses;
    for (size_t i = 0; i < src->nwin; i++)
        if (add_window(dst, src->win[i]))
            return PT_ENOMEM;
    return 0;
}

int pt_seg_time_covers(const struct pt_seg_time *u, const struct pt_seg_time *t)
{
    if (t->uses & ~u->uses)
        return 0;
    for (size_t i = 0; i < t->nwin; i++) {
        size_t k = 0;
        while (k < u->nwin && u->win[k] != t->win[i])
            k++;
        if (k == u->nwin)
            return 0;
    }
    return 1;
}

void pt_seg_time_release(struct pt_seg_time *t)
{
    pt_free(t->win);
    memset(t, 0, sizeof *t);
}

