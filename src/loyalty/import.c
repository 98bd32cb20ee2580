/*
 * import.c - the members CSV of a loyalty import (loyalty/import.h).
 *
 * One pass over the buffer with ingest/csv.h's splitter. Strings go to one
 * growing arena (a pt_buf) as offsets while parsing; rows get their pointers
 * when the arena has stopped moving. Duplicate user_ids are found with an
 * open-addressing table of row indexes (seeded per parse from libsodium, so
 * a crafted file cannot make it slow), kept at most half full.
 */
#include "loyalty/import.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ingest/csv.h"
#include "ingest/fields.h"
#include "loyalty/program.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/mem.h"

#define MAX_RECORD (64u << 10) /* bytes of one row: far above any valid one */
#define NONE       ((size_t)-1)

enum { C_USER, C_POINTS, C_TIER, C_JOINED, C_N };
static const char *const k_cols[C_N] = {"user_id", "points", "tier", "joined"};

struct roff { /* a row's strings while the arena grows */
    size_t user, tier;
    uint32_t ulen;
};

struct parser {
    const char *buf;
    size_t len;
    struct pt_err *e;
    const struct pt_loy_import_opts *o;
    size_t max_rows;
    int col[C_N];                /* field index of each column, -1 if absent */
    int kind[PT_CSV_MAX_FIELDS]; /* column of each field */
    uint32_t nfields;
    struct pt_loy_import_row *rows;
    struct roff *off;
    size_t n, cap;
    struct pt_buf arena;
    uint32_t *ht; /* row index + 1; 0 = free */
    size_t hcap;
    uint64_t seed;
    struct pt_csv_rec rec;
    uint64_t line; /* physical line of rec's first line */
};

/* ---- messages ---- */

/* s[0..n) quoted for a message: at most ~40 bytes, bytes below 0x20, '"',
 * '\\' and DEL escaped, cut at a UTF-8 boundary with "..." if longer. */
static const char *quoted(char *dst, size_t cap, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    dst[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (k + 8 >= cap || (i >= 40 && (c & 0xC0) != 0x80)) {
            memcpy(dst + k, "...", 3);
            k += 3;
            break;
        }
        if (c < 0x20 || c == 0x7F) {
            dst[k++] = '\\';
            dst[k++] = 'x';
            dst[k++] = hex[c >> 4];
            dst[k++] = hex[c & 15];
        } else {
            if (c == '"' || c == '\\')
                dst[k++] = '\\';
            dst[k++] = (char)c;
        }
    }
    dst[k++] = '"';
    dst[k] = '\0';
    return dst;
}

static int fail_at(struct parser *P, int code, uint64_t line, uint64_t col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail_at(struct parser *P, int code, uint64_t line, uint64_t col, const char *fmt, ...)
{
    char what[PT_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (k < 0)
        what[0] = '\0';
    pt_err_set(P->e, code, "line %llu, column %llu: %s", (unsigned long long)line,
               (unsigned long long)col, what);
    if (P->e) {
        P->e->line = line;
        P->e->column = col;
    }
    return code;
}

/* Line and column of byte `off` of the current record. */
static void where(const struct parser *P, size_t off, uint64_t *line, uint64_t *col)
{
    uint64_t dl;
    pt_csv_position(&P->rec, off, &dl, col);
    *line = P->line + dl;
}

/* An error about field i of the current record. */
#define FAIL_FIELD(P, i, ...)                                                                      \
    do {                                                                                           \
        uint64_t ln_, cl_;                                                                         \
        where((P), (P)->rec.f[i].raw_off, &ln_, &cl_);                                             \
        return fail_at((P), PT_EPARSE, ln_, cl_, __VA_ARGS__);                                     \
    } while (0)

static int nomem(struct parser *P)
{
    pt_err_set(P->e, PT_ENOMEM, "out of memory");
    if (P->e)
        P->e->line = P->e->column = 0;
    return PT_ENOMEM;
}

/* ---- values ---- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t k;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        k = 2, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        k = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        k = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (n < k)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return k;
}

/* NULL if s[0..n) is UTF-8 without control characters, else why not. */
static const char *text_problem(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (u[i] < 0x20 || u[i] == 0x7F)
            return "contains a control character";
        size_t k = utf8_len(u + i, n - i);
        if (k == 0)
            return "is not valid UTF-8";
        i += k;
    }
    return NULL;
}

/* Digits only, value <= PT_LOY_MAX_POINTS: 0; not digits: -1; too big: -2. */
static int parse_points(const char *s, size_t n, int64_t *v)
{
    if (n == 0)
        return -1;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (x <= PT_LOY_MAX_POINTS)
            x = x * 10 + (s[i] - '0');
    }
    if (x > PT_LOY_MAX_POINTS)
        return -2;
    *v = x;
    return 0;
}

/* Append s[0..n) and a NUL to the arena; *off receives its offset. */
static int keep(struct parser *P, const char *s, size_t n, size_t *off)
{
    *off = P->arena.len;
    if (pt_buf_add(&P->arena, s, n) || pt_buf_addc(&P->arena, '\0'))
        return nomem(P);
    return 0;
}

/* ---- duplicates ---- */

static uint64_t hash_of(const struct parser *P, const char *s, size_t n)
{
    return pt_hash_bytes(s, n, P->seed);
}

static int ht_grow(struct parser *P)
{
    size_t nc = P->hcap ? P->hcap * 2 : 1024;
    uint32_t *t = pt_calloc(nc, sizeof *t);
    if (t == NULL)
        return nomem(P);
    for (size_t i = 0; i < P->n; i++) {
        const struct roff *r = &P->off[i];
        size_t h = (size_t)hash_of(P, P->arena.data + r->user, r->ulen) & (nc - 1);
        while (t[h])
            h = (h + 1) & (nc - 1);
        t[h] = (uint32_t)i + 1;
    }
    pt_free(P->ht);
    P->ht = t;
    P->hcap = nc;
    return 0;
}

/* The earlier row with user id s[0..n), or NONE; else *slot is where it goes. */
static size_t ht_find(const struct parser *P, const char *s, size_t n, size_t *slot)
{
    size_t h = (size_t)hash_of(P, s, n) & (P->hcap - 1);
    while (P->ht[h]) {
        const struct roff *r = &P->off[P->ht[h] - 1];
        if (r->ulen == n && memcmp(P->arena.data + r->user, s, n) == 0)
            return P->ht[h] - 1;
        h = (h + 1) & (P->hcap - 1);
    }
    *slot = h;
    return NONE;
}

/* ---- header ---- */

static int ieq(const char *a, size_t n, const char *b)
{
    if (strlen(b) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != b[i])
            return 0;
    }
    return 1;
}

static int header(struct parser *P)
{
    const struct pt_csv_rec *r = &P->rec;
    if (r->bad) {
        uint64_t ln, cl;
        where(P, r->bad_off, &ln, &cl);
        return fail_at(P, PT_EPARSE, ln, cl, "header: %s", pt_csv_bad_str(r->bad));
    }
    if (r->raw_len == 0)
        return fail_at(P, PT_EPARSE, P->line, 1,
                       "the header row is empty: expected column names (user_id, points, "
                       "and optionally tier, joined)");
    for (int k = 0; k < C_N; k++)
        P->col[k] = -1;
    char unknown[PT_ERR_MSG_MAX] = "";
    size_t ulen = 0;
    int nunknown = 0;
    uint32_t first_unknown = 0;
    for (uint32_t i = 0; i < r->nfields; i++) {
        const char *s = r->f[i].p;
        size_t n = r->f[i].len;
        while (n && (*s == ' ' || *s == '\t'))
            s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n == 0)
            FAIL_FIELD(P, i, "field %u of the header has no column name", i + 1);
        int k = 0;
        while (k < C_N && !ieq(s, n, k_cols[k]))
            k++;
        P->kind[i] = k;
        if (k == C_N) {
            char q[64];
            if (nunknown++ == 0)
                first_unknown = i;
            int w = snprintf(unknown + ulen, sizeof unknown - ulen, "%s%s",
                             nunknown > 1 ? ", " : "", quoted(q, sizeof q, s, n));
            if (w > 0 && (size_t)w < sizeof unknown - ulen)
                ulen += (size_t)w;
            continue;
        }
        if (P->col[k] >= 0)
            FAIL_FIELD(P, i, "column %s appears twice in the header (fields %d and %u)", k_cols[k],
                       P->col[k] + 1, i + 1);
        P->col[k] = (int)i;
    }
    if (nunknown)
        FAIL_FIELD(P, first_unknown,
                   "unknown column%s %s (the columns are user_id, points, tier, joined)",
                   nunknown > 1 ? "s" : "", unknown);
    for (int k = C_USER; k <= C_POINTS; k++)
        if (P->col[k] < 0)
            return fail_at(P, PT_EPARSE, P->line, 1,
                           "the header has no %s column (user_id and points are required)",
                           k_cols[k]);
    P->nfields = r->nfields;
    return 0;
}

/* ---- rows ---- */

static int grow_rows(struct parser *P)
{
    size_t nc = P->cap ? P->cap * 2 : 256;
    struct pt_loy_import_row *r = pt_realloc_array(P->rows, nc, sizeof *r);
    if (r == NULL)
        return nomem(P);
    P->rows = r;
    struct roff *o = pt_realloc_array(P->off, nc, sizeof *o);
    if (o == NULL)
        return nomem(P);
    P->off = o;
    P->cap = nc;
    return 0;
}

static int field_user(struct parser *P, uint32_t i, struct roff *ro)
{
    const char *s = P->rec.f[i].p, *why;
    size_t n = P->rec.f[i].len, slot = 0;
    char q[64];
    if (n == 0)
        FAIL_FIELD(P, i, "user_id is empty");
    if (n > PT_LOY_IMPORT_MAX_ID)
        FAIL_FIELD(P, i, "user_id %s is %zu bytes; the limit is %d", quoted(q, sizeof q, s, n), n,
                   PT_LOY_IMPORT_MAX_ID);
    if ((why = text_problem(s, n)) != NULL)
        FAIL_FIELD(P, i, "user_id %s %s", quoted(q, sizeof q, s, n), why);
    if ((P->n + 1) * 2 > P->hcap && ht_grow(P))
        return PT_ENOMEM;
    size_t prev = ht_find(P, s, n, &slot);
    if (prev != NONE)
        FAIL_FIELD(P, i, "user_id %s is also on line %zu (each member once)",
                   quoted(q, sizeof q, s, n), prev + 2);
    if (keep(P, s, n, &ro->user))
        return PT_ENOMEM;
    ro->ulen = (uint32_t)n;
    P->ht[slot] = (uint32_t)P->n + 1;
    return 0;
}

static int field_value(struct parser *P, uint32_t i, struct pt_loy_import_row *row, struct roff *ro)
{
    const char *s = P->rec.f[i].p, *why;
    size_t n = P->rec.f[i].len;
    char q[64];
    switch (P->kind[i]) {
    case C_POINTS: {
        if (n == 0)
            FAIL_FIELD(P, i, "points is empty (a whole number >= 0)");
        int rc = parse_points(s, n, &row->points);
        if (rc == -1)
            FAIL_FIELD(P, i, "points %s is not a whole number >= 0", quoted(q, sizeof q, s, n));
        if (rc == -2)
            FAIL_FIELD(P, i, "points %s is over the limit of %lld", quoted(q, sizeof q, s, n),
                       (long long)PT_LOY_MAX_POINTS);
        return 0;
    }
    case C_TIER:
        if (n == 0)
            return 0;
        if (n > PT_LOY_MAX_NAME)
            FAIL_FIELD(P, i, "tier %s is %zu bytes; the limit is %d", quoted(q, sizeof q, s, n), n,
                       PT_LOY_MAX_NAME);
        if ((why = text_problem(s, n)) != NULL)
            FAIL_FIELD(P, i, "tier %s %s", quoted(q, sizeof q, s, n), why);
        return keep(P, s, n, &ro->tier);
    case C_JOINED:
        if (n == 0)
            return 0;
        if (pt_parse_time(s, n, PT_TIME_ISO, &row->joined, &why))
            FAIL_FIELD(P, i, "joined %s is not an ISO-8601 date or time (%s)",
                       quoted(q, sizeof q, s, n), why);
        if (row->joined <= 0)
            FAIL_FIELD(P, i, "joined %s is not after 1970-01-01T00:00:00Z",
                       quoted(q, sizeof q, s, n));
        return 0;
    default:
        return field_user(P, i, ro);
    }
}

static int row(struct parser *P)
{
    const struct pt_csv_rec *r = &P->rec;
    if (r->bad) {
        uint64_t ln, cl;
        where(P, r->bad_off, &ln, &cl);
        return fail_at(P, PT_EPARSE, ln, cl, "%s", pt_csv_bad_str(r->bad));
    }
    if (r->nfields != P->nfields) {
        uint64_t ln, cl;
        if (r->nfields > P->nfields)
            where(P, r->f[P->nfields].raw_off, &ln, &cl);
        else
            where(P, r->raw_len, &ln, &cl);
        return fail_at(P, PT_EPARSE, ln, cl, "%u fields, but the header has %u", r->nfields,
                       P->nfields);
    }
    if (P->n == P->max_rows)
        return fail_at(P, PT_ETOOBIG, P->line, 1,
                       "more than %zu members in one file; split it and import each part",
                       P->max_rows);
    if (P->n == P->cap && grow_rows(P))
        return PT_ENOMEM;
    struct pt_loy_import_row *out = &P->rows[P->n];
    struct roff *ro = &P->off[P->n];
    *out = (struct pt_loy_import_row){0};
    ro->tier = NONE;
    for (uint32_t i = 0; i < r->nfields; i++) {
        int rc = field_value(P, i, out, ro);
        if (rc)
            return rc;
    }
    P->n++;
    return 0;
}

static int parse(struct parser *P)
{
    const char *end = P->buf + P->len;
    size_t pos = 0;
    if (P->len >= 3 && memcmp(P->buf, "\xEF\xBB\xBF", 3) == 0)
        pos = 3; /* UTF-8 byte order mark */
    char *scratch = pt_malloc(MAX_RECORD + 2);
    if (scratch == NULL)
        return nomem(P);
    int rc = 0;
    P->line = 1;
    if (!pt_csv_next(P->buf + pos, end, 1, MAX_RECORD, scratch, &P->rec)) {
        rc = fail_at(P, PT_EPARSE, 1, 1,
                     "the file is empty: expected a header row (user_id, points, ...)");
    } else {
        rc = header(P);
        pos += P->rec.consumed;
        P->line += P->rec.nlines;
    }
    uint64_t blank = 0; /* the first of blank lines seen since the last row */
    while (rc == 0 && pt_csv_next(P->buf + pos, end, 1, MAX_RECORD, scratch, &P->rec)) {
        if (P->rec.raw_len == 0 && !P->rec.bad) {
            if (!blank)
                blank = P->line;
        } else if (blank) {
            rc = fail_at(P, PT_EPARSE, blank, 1,
                         "blank line (blank lines are accepted at the end of the file only)");
        } else {
            rc = row(P);
        }
        pos += P->rec.consumed;
        P->line += P->rec.nlines;
        if (P->o && P->o->progress && (P->n & 0xFFFF) == 0)
            P->o->progress(P->o->pctx, pos);
    }
    if (rc == 0 && P->o && P->o->progress)
        P->o->progress(P->o->pctx, P->len);
    pt_free(scratch);
    return rc;
}

int pt_loy_import_parse_opts(const char *buf, size_t len, const struct pt_loy_import_opts *o,
                             struct pt_loy_import *out, struct pt_err *e)
{
    memset(out, 0, sizeof *out);
    pt_err_clear(e);
    struct parser *P = pt_calloc(1, sizeof *P); /* the record is ~1.6 KiB: not on the stack */
    if (P == NULL)
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    P->buf = buf;
    P->len = len;
    P->e = e;
    P->o = o;
    P->max_rows = o && o->max_rows ? o->max_rows : PT_LOY_IMPORT_MAX_ROWS;
    if (sodium_init() >= 0)
        randombytes_buf(&P->seed, sizeof P->seed);
    else
        P->seed = (uint64_t)(uintptr_t)P;
    pt_buf_init(&P->arena);
    int rc = parse(P);
    if (rc == 0) {
        /* the arena stopped moving: offsets become pointers */
        for (size_t i = 0; i < P->n; i++) {
            P->rows[i].user_id = P->arena.data + P->off[i].user;
            P->rows[i].tier = P->off[i].tier == NONE ? NULL : P->arena.data + P->off[i].tier;
        }
        out->rows = P->rows;
        out->n = P->n;
        out->arena = P->arena.data;
        out->arena_len = P->arena.len;
        out->has_tier = P->col[C_TIER] >= 0;
        out->has_joined = P->col[C_JOINED] >= 0;
    } else {
        pt_free(P->rows);
        pt_buf_release(&P->arena);
    }
    pt_free(P->off);
    pt_free(P->ht);
    pt_free(P);
    return rc;
}

int pt_loy_import_parse(const char *buf, size_t len, struct pt_loy_import *out, struct pt_err *e)
{
    return pt_loy_import_parse_opts(buf, len, NULL, out, e);
}

void pt_loy_import_release(struct pt_loy_import *im)
{
    if (im == NULL)
        return;
    pt_free(im->rows);
    pt_free(im->arena);
    memset(im, 0, sizeof *im);
}
