/* test_idmap.c - external id -> dense index (core/idmap.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/idmap.h"
#include "util/err.h"
#include "util/hash.h"
#include "util/mem.h"

static uint64_t h(const char *s, size_t n)
{
    return pt_hash_bytes(s, n, 12345);
}

/* get() with the real hash; returns the index, checks is_new. */
static uint32_t get(struct pt_idmap *m, const char *id, size_t n, uint64_t hash, int want_new)
{
    uint32_t idx = UINT32_MAX;
    int is_new = -1;
    cr_assert_eq(pt_idmap_get(m, id, (uint32_t)n, hash, &idx, &is_new), 0);
    cr_expect_eq(is_new, want_new, "id \"%.*s\": is_new %d", (int)n, id, is_new);
    return idx;
}

static void expect_id(const struct pt_idmap *m, uint32_t i, const char *id, size_t n)
{
    uint32_t len = 0;
    const char *p = pt_idmap_id(m, i, &len);
    cr_expect_eq(len, n, "index %u: length %u, want %zu", i, len, n);
    if (len == n)
        cr_expect(memcmp(p, id, n) == 0, "index %u holds \"%.*s\", want \"%.*s\"", i, (int)len, p,
                  (int)n, id);
}

Test(idmap, dense_indexes_in_insertion_order)
{
    struct pt_idmap m;
    pt_idmap_init(&m);
    cr_expect_eq(m.n, 0);
    pt_idmap_prefetch(&m, 42); /* fine on an empty map */
    const char *ids[] = {"9821", "cust-abc", "7", "-17", "Zo\xc3\xab"};
    for (uint32_t i = 0; i < 5; i++)
        cr_expect_eq(get(&m, ids[i], strlen(ids[i]), h(ids[i], strlen(ids[i])), 1), i);
    cr_expect_eq(m.n, 5);
    for (uint32_t i = 0; i < 5; i++) {
        cr_expect_eq(get(&m, ids[4 - i], strlen(ids[4 - i]), h(ids[4 - i], strlen(ids[4 - i])), 0),
                     4 - i);
        expect_id(&m, i, ids[i], strlen(ids[i]));
    }
    cr_expect_eq(m.n, 5, "lookups add nothing");
    pt_idmap_release(&m);
    cr_expect_eq(m.n, 0);
    /* Released maps can be used again. */
    cr_expect_eq(get(&m, "x", 1, h("x", 1), 1), 0);
    pt_idmap_release(&m);
}

Test(idmap, ids_are_copied)
{
    struct pt_idmap m;
    pt_idmap_init(&m);
    char tmp[32];
    snprintf(tmp, sizeof tmp, "abc");
    uint32_t i = get(&m, tmp, 3, h("abc", 3), 1);
    memcpy(tmp, "xyz", 3);
    expect_id(&m, i, "abc", 3);
    cr_expect_eq(get(&m, "abc", 3, h("abc", 3), 0), i);
    pt_idmap_release(&m);
}

Test(idmap, many_ids_survive_growth)
{
    struct pt_idmap m;
    pt_idmap_init(&m);
    char id[40];
    const uint32_t N = 100000;
    for (uint32_t i = 0; i < N; i++) {
        int n = snprintf(id, sizeof id, i % 3 ? "c%u" : "a-longer-customer-id-%u", i);
        uint32_t idx;
        int is_new;
        cr_assert_eq(pt_idmap_get(&m, id, (uint32_t)n, h(id, (size_t)n), &idx, &is_new), 0);
        if (!is_new || idx != i)
            cr_assert_fail("insert %u: idx %u is_new %d", i, idx, is_new);
    }
    cr_expect_eq(m.n, N);
    cr_expect_geq(m.nslot, 2 * (size_t)N, "at most half full");
    for (uint32_t i = 0; i < N; i += 7) {
        int n = snprintf(id, sizeof id, i % 3 ? "c%u" : "a-longer-customer-id-%u", i);
        uint32_t idx;
        int is_new;
        cr_assert_eq(pt_idmap_get(&m, id, (uint32_t)n, h(id, (size_t)n), &idx, &is_new), 0);
        if (is_new || idx != i)
            cr_assert_fail("lookup %u: idx %u is_new %d", i, idx, is_new);
        uint32_t len;
        const char *p = pt_idmap_id(&m, idx, &len);
        if (len != (uint32_t)n || memcmp(p, id, len) != 0)
            cr_assert_fail("id %u stored as \"%.*s\"", i, (int)len, p);
    }
    cr_expect_eq(m.n, N);
    pt_idmap_release(&m);
}

/* All ids share one hash: only the bytes tell them apart. */
Test(idmap, equal_hashes_compare_bytes)
{
    struct pt_idmap m;
    pt_idmap_init(&m);
    static const char *const ids[] = {
        "a",
        "b",
        "ab",
        "ba",
        "",
        "0123456789abcdef",                            /* 16 bytes */
        "0123456789abcdeg",                            /* 16 bytes, last byte differs */
        "0123456789abcdef0",                           /* 17 bytes */
        "0123456789abcdef1",                           /* 17 bytes, last byte differs */
        "0123456789abcde",                             /* 15 bytes */
        "x0123456789abcdef0123456789abcdef0123456789", /* long */
        "x0123456789abcdef0123456789abcdef0123456788",
    };
    const size_t n = sizeof ids / sizeof ids[0];
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < n; i++)
            cr_expect_eq(get(&m, ids[i], strlen(ids[i]), 7, round == 0), (uint32_t)i, "%s", ids[i]);
    cr_expect_eq(m.n, n);
    for (size_t i = 0; i < n; i++)
        expect_id(&m, (uint32_t)i, ids[i], strlen(ids[i]));
    pt_idmap_release(&m);
}

Test(idmap, ids_with_nul_bytes_differ_by_length)
{
    struct pt_idmap m;
    pt_idmap_init(&m);
    cr_expect_eq(get(&m, "ab", 2, 1, 1), 0);
    cr_expect_eq(get(&m, "ab\0", 3, 1, 1), 1);
    cr_expect_eq(get(&m, "ab\0\0", 4, 1, 1), 2);
    cr_expect_eq(get(&m, "\0", 1, 1, 1), 3);
    cr_expect_eq(get(&m, "", 0, 1, 1), 4);
    cr_expect_eq(get(&m, "ab\0", 3, 1, 0), 1);
    cr_expect_eq(get(&m, "", 0, 1, 0), 4);
    cr_expect_eq(get(&m, "\0", 1, 1, 0), 3);
    pt_idmap_release(&m);
}

Test(idmap, probing_wraps_around_the_table_end)
{
    struct pt_idmap m;
    pt_idmap_init(&m);
    char id[16];
    /* Hashes that all land on the last slots of the (first) table. */
    for (uint32_t i = 0; i < 40; i++) {
        int n = snprintf(id, sizeof id, "w%u", i);
        cr_expect_eq(get(&m, id, (size_t)n, UINT64_MAX - (i % 2), 1), i);
    }
    for (uint32_t i = 0; i < 40; i++) {
        int n = snprintf(id, sizeof id, "w%u", i);
        cr_expect_eq(get(&m, id, (size_t)n, UINT64_MAX - (i % 2), 0), i);
    }
    /* A different id with one of those hashes is new. */
    cr_expect_eq(get(&m, "other", 5, UINT64_MAX, 1), 40);
    pt_idmap_release(&m);
}

Test(idmap, hash_decides_equal_bytes_with_different_hashes_are_distinct)
{
    /* The contract says equal ids must have equal hashes; the map trusts
     * the caller, so one id under two hashes is two entries. This pins
     * that the hash takes part in the comparison. */
    struct pt_idmap m;
    pt_idmap_init(&m);
    cr_expect_eq(get(&m, "same", 4, 1, 1), 0);
    cr_expect_eq(get(&m, "same", 4, 2, 1), 1);
    cr_expect_eq(get(&m, "same", 4, 1, 0), 0);
    pt_idmap_release(&m);
}

/* Fill a map with ids "k0".."k{n-1}". */
static void fill(struct pt_idmap *m, uint32_t n)
{
    char id[16];
    for (uint32_t i = 0; i < n; i++) {
        int k = snprintf(id, sizeof id, "k%u", i);
        get(m, id, (size_t)k, h(id, (size_t)k), 1);
    }
}

static void expect_all_present(struct pt_idmap *m, uint32_t n)
{
    char id[16];
    for (uint32_t i = 0; i < n; i++) {
        int k = snprintf(id, sizeof id, "k%u", i);
        uint32_t idx;
        int is_new;
        cr_assert_eq(pt_idmap_get(m, id, (uint32_t)k, h(id, (size_t)k), &idx, &is_new), 0);
        if (is_new || idx != i)
            cr_assert_fail("k%u: idx %u is_new %d", i, idx, is_new);
    }
}

/* Insert one more id with the (fail)-th allocation failing. For each
 * interesting fill level (first insert, slot-table growth at 512, column
 * growth at 1024) every failure point must give PT_ENOMEM and leave the map
 * as it was; the same insert then succeeds. */
Test(idmap, out_of_memory_leaves_the_map_unchanged)
{
    static const uint32_t levels[] = {0, 511, 512, 1023, 1024, 1500};
    for (size_t L = 0; L < sizeof levels / sizeof levels[0]; L++) {
        for (unsigned long fail = 1; fail <= 4; fail++) {
            struct pt_idmap m;
            pt_idmap_init(&m);
            fill(&m, levels[L]);
            uint32_t idx = 77;
            int is_new = 77;
            pt_mem_fail_after(fail);
            int rc = pt_idmap_get(&m, "new-id", 6, h("new-id", 6), &idx, &is_new);
            pt_mem_fail_after(0);
            if (rc == 0) {
                /* Needed fewer than `fail` allocations. */
                cr_expect_eq(is_new, 1);
                cr_expect_eq(idx, levels[L]);
                cr_expect_eq(m.n, levels[L] + 1);
            } else {
                cr_expect_eq(rc, PT_ENOMEM, "level %u fail %lu", levels[L], fail);
                cr_expect_eq(m.n, levels[L], "level %u fail %lu: n unchanged", levels[L], fail);
                cr_expect_eq(idx, 77, "outputs untouched");
                expect_all_present(&m, levels[L]);
                cr_expect_eq(m.n, levels[L]);
                idx = UINT32_MAX;
                cr_assert_eq(pt_idmap_get(&m, "new-id", 6, h("new-id", 6), &idx, &is_new), 0);
                cr_expect_eq(is_new, 1);
                cr_expect_eq(idx, levels[L], "level %u fail %lu", levels[L], fail);
            }
            expect_all_present(&m, levels[L]);
            expect_id(&m, levels[L], "new-id", 6);
            pt_idmap_release(&m);
        }
    }
}

Test(idmap, lookup_of_existing_id_needs_no_memory)
{
    struct pt_idmap m;
    pt_idmap_init(&m);
    fill(&m, 100);
    pt_mem_fail_after(1);
    expect_all_present(&m, 100);
    pt_mem_fail_after(0);
    pt_idmap_release(&m);
}
