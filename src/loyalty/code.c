/*
 * code.c - voucher and referral codes (see code.h).
 *
 * Symbols are drawn by rejection sampling from random bytes: a byte below 248
 * (= 8 * 31) gives symbol byte / 8, each of the 31 values from exactly 8 bytes,
 * so there is no modulo bias; bytes 248..255 are dropped.
 *
 * The check symbol is sum((i + 1) * v[i]) mod 31 over the 13 data values v,
 * i.e. the full code satisfies sum(w[i] * v[i]) == 0 (mod 31) with weights
 * 1..13 and 30 (= -1) for the check: distinct and non-zero modulo a prime, so
 * a single substitution (changes the sum by w * d, d != 0) and a swap of two
 * different neighbours (changes it by (w[i+1] - w[i]) * d) are both detected.
 */
#include "loyalty/code.h"

#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "util/ckd.h"
#include "util/mem.h"

#define NSYM   31
#define ACCEPT 248 /* bytes below this are used: 8 * NSYM */

static const char k_alpha[] = PT_CODE_ALPHABET;

/* Value 0..30 of a symbol (either case), -1 for any other byte. */
static int sym_value(unsigned char c)
{
    if (c >= 'a' && c <= 'z')
        c = (unsigned char)(c - 'a' + 'A');
    if (c >= '2' && c <= '9')
        return c - '2';
    if (c < 'A' || c > 'Z' || c == 'I' || c == 'L' || c == 'O')
        return -1;
    int v = 8 + (c - 'A');
    v -= c > 'I';
    v -= c > 'L';
    v -= c > 'O';
    return v;
}

static unsigned check_of_values(const unsigned char *v)
{
    unsigned s = 0;
    for (unsigned i = 0; i < PT_CODE_DATA; i++)
        s += (i + 1) * v[i];
    return s % NSYM;
}

char pt_code_check(const char *data)
{
    unsigned char v[PT_CODE_DATA];
    for (size_t i = 0; i < PT_CODE_DATA; i++) {
        int x = sym_value((unsigned char)data[i]);
        if (x < 0)
            return '\0';
        v[i] = (unsigned char)x;
    }
    return k_alpha[check_of_values(v)];
}

void pt_code_new(char out[PT_CODE_LEN + 1])
{
    unsigned char v[PT_CODE_DATA];
    unsigned char rnd[32];
    size_t have = 0;
    while (have < PT_CODE_DATA) {
        randombytes_buf(rnd, sizeof rnd);
        for (size_t i = 0; i < sizeof rnd && have < PT_CODE_DATA; i++) {
            if (rnd[i] < ACCEPT)
                v[have++] = (unsigned char)(rnd[i] >> 3);
        }
    }
    for (size_t i = 0; i < PT_CODE_DATA; i++)
        out[i] = k_alpha[v[i]];
    out[PT_CODE_DATA] = k_alpha[check_of_values(v)];
    out[PT_CODE_LEN] = '\0';
    sodium_memzero(rnd, sizeof rnd);
}

void pt_code_print(const char *canon, const char *prefix, char out[PT_CODE_PRINT_MAX])
{
    size_t o = 0;
    if (prefix != NULL && prefix[0] != '\0') {
        size_t plen = strnlen(prefix, PT_CODE_MAX_PREFIX);
        memcpy(out, prefix, plen);
        o = plen;
        out[o++] = '-';
    }
    for (size_t i = 0; i < PT_CODE_LEN; i++) {
        if (i > 0 && i % 4 == 0)
            out[o++] = '-';
        out[o++] = canon[i];
    }
    out[o] = '\0';
}

int pt_code_prefix_ok(const char *prefix)
{
    if (prefix == NULL || prefix[0] == '\0')
        return 0;
    size_t n = 0;
    for (; prefix[n] != '\0'; n++) {
        char c = prefix[n];
        if (n >= PT_CODE_MAX_PREFIX || !((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

/* Bytes a reader skips between symbols: '-' and ASCII white space. */
static int is_sep(unsigned char c)
{
    return c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static unsigned char upper(unsigned char c)
{
    return c >= 'a' && c <= 'z' ? (unsigned char)(c - 'a' + 'A') : c;
}

/* Whether the first plen non-separator bytes of in are the prefix (any case). */
static int starts_with_prefix(const unsigned char *in, size_t len, const char *prefix, size_t plen)
{
    size_t k = 0;
    for (size_t i = 0; i < len && k < plen; i++) {
        if (is_sep(in[i]))
            continue;
        if (upper(in[i]) != upper((unsigned char)prefix[k]))
            return 0;
        k++;
    }
    return k == plen;
}

static int bad_symbol(struct pt_err *e, unsigned char c, size_t pos)
{
    int rc;
    if (c > 0x20 && c < 0x7f)
        rc =
            pt_err_set(e, PT_EINVAL, "character '%c' at position %zu is not used in codes", c, pos);
    else
        rc = pt_err_set(e, PT_EINVAL, "byte 0x%02x at position %zu is not used in codes", c, pos);
    if (e != NULL) {
        e->line = 0;
        e->column = pos;
    }
    return rc;
}

int pt_code_normalize(const char *in, size_t len, const char *prefix, char out[PT_CODE_LEN + 1],
                      struct pt_err *e)
{
    const unsigned char *s = (const unsigned char *)in;
    out[0] = '\0';
    if (s == NULL && len > 0)
        return pt_err_set(e, PT_EINVAL, "no code given");
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += !is_sep(s[i]);
    if (n == 0)
        return pt_err_set(e, PT_EINVAL, "the code is empty");

    /* The shop's prefix is dropped when the code is not already exactly the
     * right length (a prefix may itself consist of code symbols). */
    size_t skip = 0;
    size_t plen = prefix != NULL ? strlen(prefix) : 0;
    if (n != PT_CODE_LEN && plen > 0 && n >= plen && starts_with_prefix(s, len, prefix, plen))
        skip = plen;
    if (n - skip != PT_CODE_LEN) {
        if (n == skip)
            return pt_err_set(e, PT_EINVAL, "only the prefix %s was given, not the code", prefix);
        return pt_err_set(e, PT_EINVAL,
                          "the code has %zu character%s%s, but a code has %d "
                          "(not counting '-' and spaces)",
                          n - skip, n - skip == 1 ? "" : "s", skip ? " after the prefix" : "",
                          PT_CODE_LEN);
    }

    unsigned char v[PT_CODE_LEN];
    size_t k = 0, seen = 0;
    for (size_t i = 0; i < len; i++) {
        if (is_sep(s[i]))
            continue;
        if (seen++ < skip)
            continue;
        int x = sym_value(s[i]);
        if (x < 0)
            return bad_symbol(e, s[i], i + 1);
        v[k++] = (unsigned char)x;
    }
    if (check_of_values(v) != v[PT_CODE_DATA])
        return pt_err_set(e, PT_EINVAL, "the code has a typo: its check character does not match");
    for (size_t i = 0; i < PT_CODE_LEN; i++)
        out[i] = k_alpha[v[i]];
    out[PT_CODE_LEN] = '\0';
    return 0;
}

/* ---- batches ---- */

#define POOL_BYTES (64u << 10)
#define STRIDE     (PT_CODE_LEN + 1)

struct pool { /* random bytes, refilled in bulk */
    unsigned char buf[POOL_BYTES];
    size_t pos;
};

static unsigned char next_value(struct pool *p)
{
    for (;;) {
        if (p->pos == POOL_BYTES) {
            randombytes_buf(p->buf, POOL_BYTES);
            p->pos = 0;
        }
        unsigned char b = p->buf[p->pos++];
        if (b < ACCEPT)
            return (unsigned char)(b >> 3);
    }
}

/* Open-addressing set of codes: keys[i] = the first 12 values packed 5 bits
 * each, plus one (0 = empty slot); last[i] = the 13th value. */
struct codeset {
    uint64_t *keys;
    unsigned char *last;
    size_t mask;
    int bits;
};

/* Codes `taken` may refuse in a batch of n before it fails: a quarter, plus
 * 1000 (a sane callback refuses next to none of 2^64 fresh codes). */
static size_t refuse_limit(size_t n)
{
    return n / 4 + 1000;
}

/* Room for up to n codes, at most 3/4 full. */
static int set_init(struct codeset *cs, size_t n)
{
    size_t cap = 16;
    int bits = 4;
    size_t want;
    if (pt_ckd_add(&want, n, n / 3))
        return PT_ENOMEM;
    while (cap < want) {
        if (pt_ckd_mul(&cap, cap, 2))
            return PT_ENOMEM;
        bits++;
    }
    cs->keys = pt_calloc(cap, sizeof *cs->keys);
    cs->last = pt_alloc_array(cap, 1);
    if (cs->keys == NULL || cs->last == NULL) {
        pt_free(cs->keys);
        pt_free(cs->last);
        return PT_ENOMEM;
    }
    cs->mask = cap - 1;
    cs->bits = bits;
    return 0;
}

static void set_release(struct codeset *cs)
{
    pt_free(cs->keys);
    pt_free(cs->last);
}

/* A candidate code: its values, set key and home slot. */
struct cand {
    unsigned char v[PT_CODE_DATA];
    uint64_t key;
    size_t slot;
};

static void cand_make(struct cand *c, struct pool *p, const struct codeset *cs)
{
    uint64_t key = 0;
    for (int i = 0; i < PT_CODE_DATA; i++) {
        c->v[i] = next_value(p);
        if (i < PT_CODE_DATA - 1)
            key = key << 5 | c->v[i];
    }
    c->key = key + 1;
    c->slot = (size_t)((c->key * 0x9e3779b97f4a7c15ULL) >> (64 - cs->bits));
}

/* Add a candidate; 1 if added, 0 if it was there. */
static int set_add(struct codeset *cs, const struct cand *c)
{
    unsigned char last = c->v[PT_CODE_DATA - 1];
    for (size_t i = c->slot;; i = (i + 1) & cs->mask) {
        if (cs->keys[i] == 0) {
            cs->keys[i] = c->key;
            cs->last[i] = last;
            return 1;
        }
        if (cs->keys[i] == c->key && cs->last[i] == last)
            return 0;
    }
}

/* Candidates made (and their slots prefetched) before any is inserted, so
 * that the cache misses of a large set overlap instead of queueing. */
#define BLOCK 32

int pt_code_batch(size_t n, int (*taken)(void *ctx, const char *code), void *ctx, char **out)
{
    *out = NULL;
    size_t bytes;
    if (n > SIZE_MAX / 2 || pt_ckd_mul(&bytes, n, (size_t)STRIDE))
        return PT_ENOMEM;
    char *codes = pt_malloc(bytes ? bytes : 1);
    struct pool *p = pt_malloc(sizeof *p);
    struct codeset cs = {0};
    int rc = codes != NULL && p != NULL ? set_init(&cs, n + refuse_limit(n)) : PT_ENOMEM;
    if (rc) {
        pt_free(codes);
        pt_free(p);
        return rc;
    }
    p->pos = POOL_BYTES;
    size_t refused = 0, limit = refuse_limit(n);
    struct cand cand[BLOCK];
    for (size_t k = 0; k < n && rc == 0;) {
        size_t m = n - k < BLOCK ? n - k : BLOCK;
        for (size_t j = 0; j < m; j++) {
            cand_make(&cand[j], p, &cs);
            __builtin_prefetch(&cs.keys[cand[j].slot], 1);
        }
        for (size_t j = 0; j < m && rc == 0; j++) {
            if (!set_add(&cs, &cand[j]))
                continue;
            const unsigned char *v = cand[j].v;
            char *c = codes + k * STRIDE;
            for (int i = 0; i < PT_CODE_DATA; i++)
                c[i] = k_alpha[v[i]];
            c[PT_CODE_DATA] = k_alpha[check_of_values(v)];
            c[PT_CODE_LEN] = '\0';
            int t = taken != NULL ? taken(ctx, c) : 0;
            if (t < 0)
                rc = t;
            else if (t == 0)
                k++;
            else if (++refused > limit) /* it stays in the set: never wanted */
                rc = PT_EINVAL;
        }
    }
    sodium_memzero(cand, sizeof cand);
    sodium_memzero(p, sizeof *p);
    pt_free(p);
    set_release(&cs);
    if (rc) {
        sodium_memzero(codes, bytes);
        pt_free(codes);
        return rc;
    }
    *out = codes;
    return 0;
}
