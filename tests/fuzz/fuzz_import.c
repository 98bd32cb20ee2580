/*
 * fuzz_import.c - libFuzzer target for the members CSV of a loyalty import
 * (loyalty/import.h).
 *
 * The input is the file, parsed with a limit of MAX_ROWS rows (so a large
 * input is refused quickly instead of timing out). Checks, besides memory
 * safety and leaks:
 *  - a failed parse returns PT_EPARSE or PT_ETOOBIG, leaves *out empty, and
 *    its message is "line N, column C: <what>" with N = e.line >= 1 inside the
 *    file and C = e.column >= 1 at most one past the end of that line;
 *  - an accepted file has its header on line 1, row i on line i + 2 and only
 *    blank lines after the last row (so no value holds a line break), and
 *    every row has a user_id in the arena of 1..PT_LOY_IMPORT_MAX_ID bytes
 *    (NUL-terminated, no control characters), points 0..PT_LOY_MAX_POINTS, a
 *    tier (NULL without a tier column) of 1..PT_LOY_MAX_NAME bytes, joined
 *    >= 0 (0 without a joined column), and no user_id twice;
 *  - the progress callback sees a non-decreasing count of at most the size;
 *  - the answer does not depend on the row limit (or on the per-parse hash
 *    seed): pt_loy_import_parse, without a limit, gives the same result,
 *    unless the limited parse was refused as too big.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loyalty/import.h"
#include "loyalty/program.h"

#define MAX_ROWS 1000

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct progress {
    uint64_t last;
    size_t size;
};

static void on_progress(void *ctx, uint64_t done)
{
    struct progress *p = ctx;
    check(done >= p->last && done <= p->size);
    p->last = done;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void failed(const uint8_t *data, size_t size, int rc, const struct pt_loy_import *im,
                   const struct pt_err *e)
{
    check(rc == PT_EPARSE || rc == PT_ETOOBIG);
    check(e->code == rc);
    check(im->rows == NULL && im->n == 0 && im->arena == NULL && im->arena_len == 0);
    check(memchr(e->msg, '\0', sizeof e->msg) != NULL && e->msg[0] != '\0');
    check(e->line >= 1 && e->column >= 1);
    /* e.line is a physical line of the file; e.column at most one past its end */
    uint64_t line = 1;
    size_t start = 0;
    for (size_t i = 0; i < size && line < e->line; i++) {
        if (data[i] == '\n') {
            line++;
            start = i + 1;
        }
    }
    check(line == e->line);
    const uint8_t *nl = memchr(data + start, '\n', size - start);
    size_t linelen = (nl ? (size_t)(nl - data) : size) - start;
    check(e->column <= linelen + 1);
    char prefix[64];
    int k = snprintf(prefix, sizeof prefix, "line %llu, column %llu: ", (unsigned long long)e->line,
                     (unsigned long long)e->column);
    check(k > 0 && strncmp(e->msg, prefix, (size_t)k) == 0 && e->msg[k] != '\0');
}

static int in_arena(const struct pt_loy_import *im, const char *s, size_t n)
{
    return s >= im->arena && n < im->arena_len && (size_t)(s - im->arena) < im->arena_len - n;
}

static void accepted(const uint8_t *data, size_t size, const struct pt_loy_import *im)
{
    /* the header and each row on one line, then only blank lines: after the
     * first n + 1 lines, nothing but line ends */
    size_t lines = 1, k = 0;
    for (; k < size && lines < im->n + 2; k++)
        lines += data[k] == '\n';
    check(lines == im->n + 2 || (lines == im->n + 1 && k == size));
    for (; k < size; k++)
        check(data[k] == '\n' || (data[k] == '\r' && (k + 1 == size || data[k + 1] == '\n')));
    check(im->n <= MAX_ROWS);
    check(im->n == 0 || (im->rows != NULL && im->arena != NULL));
    const char **ids = malloc((im->n ? im->n : 1) * sizeof *ids);
    check(ids != NULL);
    for (size_t i = 0; i < im->n; i++) {
        const struct pt_loy_import_row *r = &im->rows[i];
        check(r->user_id != NULL);
        const char *nul = memchr(r->user_id, '\0', PT_LOY_IMPORT_MAX_ID + 1);
        check(nul != NULL);
        size_t n = (size_t)(nul - r->user_id);
        check(n >= 1 && n <= PT_LOY_IMPORT_MAX_ID && in_arena(im, r->user_id, n));
        for (size_t j = 0; j < n; j++)
            check((unsigned char)r->user_id[j] >= 0x20 && r->user_id[j] != 0x7F);
        check(r->points >= 0 && r->points <= PT_LOY_MAX_POINTS);
        if (r->tier != NULL) {
            check(im->has_tier);
            nul = memchr(r->tier, '\0', PT_LOY_MAX_NAME + 1);
            check(nul != NULL);
            size_t t = (size_t)(nul - r->tier);
            check(t >= 1 && t <= PT_LOY_MAX_NAME && in_arena(im, r->tier, t));
        }
        check(r->joined >= 0 && (im->has_joined || r->joined == 0));
        ids[i] = r->user_id;
    }
    qsort(ids, im->n, sizeof *ids, cmp_str);
    for (size_t i = 1; i < im->n; i++)
        check(strcmp(ids[i - 1], ids[i]) != 0);
    free(ids);
}

static void same(const struct pt_loy_import *a, const struct pt_loy_import *b)
{
    check(a->n == b->n && a->has_tier == b->has_tier && a->has_joined == b->has_joined);
    for (size_t i = 0; i < a->n; i++) {
        const struct pt_loy_import_row *x = &a->rows[i], *y = &b->rows[i];
        check(strcmp(x->user_id, y->user_id) == 0 && x->points == y->points &&
              x->joined == y->joined);
        check((x->tier == NULL) == (y->tier == NULL));
        check(x->tier == NULL || strcmp(x->tier, y->tier) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct progress pr = {0, size};
    struct pt_loy_import_opts o = {.max_rows = MAX_ROWS, .progress = on_progress, .pctx = &pr};
    struct pt_loy_import im, full;
    struct pt_err e, e2;
    int rc = pt_loy_import_parse_opts((const char *)data, size, &o, &im, &e);
    if (rc != 0)
        failed(data, size, rc, &im, &e);
    else
        accepted(data, size, &im);

    if (rc != PT_ETOOBIG) {
        int rc2 = pt_loy_import_parse((const char *)data, size, &full, &e2);
        check(rc2 == rc);
        if (rc == 0)
            same(&im, &full);
        else
            check(e2.line == e.line && e2.column == e.column && strcmp(e2.msg, e.msg) == 0);
        pt_loy_import_release(&full);
    }
    pt_loy_import_release(&im);
    check(im.rows == NULL && im.n == 0 && im.arena == NULL);
    pt_loy_import_release(&im); /* harmless twice */
    return 0;
}
