/* test_state.c - the engine's in-memory customer state (engine/state.h): the
 * (shop, kind, id) -> row map, rows with gaps, merge trees (link, unlink,
 * pre-order walks), profile aggregates, erasure and allocation failures.
 * Criterion runs each test in its own process, so pt_mem_fail_after never
 * leaks between tests. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/state.h"
#include "util/err.h"
#include "util/mem.h"

static struct pt_state S;

static void setup(void)
{
    pt_state_init(&S);
}

static void teardown(void)
{
    pt_mem_fail_after(0);
    pt_state_release(&S);
}

TestSuite(state, .init = setup, .fini = teardown);

static int64_t find(uint32_t shop, int anon, const char *id)
{
    return pt_state_find(&S, shop, anon, id, strlen(id));
}

static void add(size_t row, uint32_t shop, int anon, const char *id)
{
    int rc = pt_state_add(&S, row, shop, anon, id, strlen(id));
    cr_assert_eq(rc, 0, "add row %zu (%u, %d, \"%s\"): rc %d", row, shop, anon, id, rc);
}

static void expect_id(size_t row, const char *id)
{
    uint32_t len = 0;
    const char *p = pt_state_id(&S, row, &len);
    cr_expect_eq(len, strlen(id), "row %zu: id length %u, want %zu", row, len, strlen(id));
    if (len == strlen(id))
        cr_expect(memcmp(p, id, len) == 0, "row %zu holds \"%.*s\", want \"%s\"", row, (int)len, p,
                  id);
}

/* Rows 0..n-1 as (shop 1, user, "r<i>"), no links. */
static void add_rows(size_t n)
{
    char id[32];
    for (size_t i = 0; i < n; i++) {
        snprintf(id, sizeof id, "r%zu", i);
        add(i, 1, 0, id);
    }
}

/* ---- map ---- */

Test(state, empty_state_finds_nothing)
{
    cr_expect_eq(find(1, 0, "x"), -1);
    cr_expect_eq(S.n, 0);
    cr_expect_eq(S.live, 0);
}

Test(state, same_id_in_other_shop_or_kind_is_another_row)
{
    add(0, 1, 0, "42");
    add(1, 2, 0, "42");
    add(2, 1, 1, "42");
    add(3, 2, 1, "42");
    cr_expect_eq(find(1, 0, "42"), 0);
    cr_expect_eq(find(2, 0, "42"), 1);
    cr_expect_eq(find(1, 1, "42"), 2);
    cr_expect_eq(find(2, 1, "42"), 3);
    cr_expect_eq(find(3, 0, "42"), -1, "unknown shop");
    cr_expect_eq(find(1, 0, "4"), -1, "prefix of an id");
    cr_expect_eq(find(1, 0, "420"), -1, "extension of an id");
    cr_expect_eq(S.n, 4);
    cr_expect_eq(S.live, 4);
    cr_expect_eq(S.shop[1], 2);
    cr_expect(S.flags[2] & ROW_ANON);
    cr_expect(!(S.flags[0] & ROW_ANON));
    for (size_t r = 0; r < 4; r++)
        expect_id(r, "42");
}

Test(state, ids_are_copied_and_may_hold_any_byte)
{
    char tmp[8] = "a\0b";
    add(0, 1, 0, tmp);                                  /* "a" */
    cr_assert_eq(pt_state_add(&S, 1, 1, 0, tmp, 3), 0); /* "a\0b" */
    cr_assert_eq(pt_state_add(&S, 2, 1, 0, "", 0), 0);
    memcpy(tmp, "zzz", 4);
    cr_expect_eq(pt_state_find(&S, 1, 0, "a", 1), 0);
    cr_expect_eq(pt_state_find(&S, 1, 0, "a\0b", 3), 1);
    cr_expect_eq(pt_state_find(&S, 1, 0, "", 0), 2);
    cr_expect_eq(pt_state_find(&S, 1, 0, "zzz", 3), -1);
}

Test(state, growth_keeps_every_row_findable)
{
    const size_t N = 50000;
    char id[48];
    for (size_t i = 0; i < N; i++) {
        int n = snprintf(id, sizeof id, i % 3 ? "cust-%zu" : "a-longer-anonymous-id-%zu", i);
        int rc = pt_state_add(&S, i, (uint32_t)(1 + i % 4), i % 3 == 0, id, (size_t)n);
        if (rc)
            cr_assert_fail("add %zu: rc %d", i, rc);
    }
    cr_expect_eq(S.n, N);
    cr_expect_eq(S.live, N);
    cr_expect_geq(S.cap, N);
    cr_expect_geq(S.nslot, 2 * N, "the map is at most half full");
    for (size_t i = 0; i < N; i++) {
        int n = snprintf(id, sizeof id, i % 3 ? "cust-%zu" : "a-longer-anonymous-id-%zu", i);
        int64_t r = pt_state_find(&S, (uint32_t)(1 + i % 4), i % 3 == 0, id, (size_t)n);
        if (r != (int64_t)i)
            cr_assert_fail("find %zu (\"%s\"): row %lld", i, id, (long long)r);
        if (pt_state_find(&S, (uint32_t)(2 + i % 4), i % 3 == 0, id, (size_t)n) != -1)
            cr_assert_fail("\"%s\" found in the wrong shop", id);
        if (pt_state_find(&S, (uint32_t)(1 + i % 4), i % 3 != 0, id, (size_t)n) != -1)
            cr_assert_fail("\"%s\" found with the wrong kind", id);
    }
    for (size_t i = 0; i < N; i += 997) {
        snprintf(id, sizeof id, i % 3 ? "cust-%zu" : "a-longer-anonymous-id-%zu", i);
        expect_id(i, id);
    }
}

Test(state, rows_may_be_added_with_gaps)
{
    add(5, 1, 0, "five");
    cr_expect_eq(S.n, 6);
    cr_expect_eq(S.live, 1);
    for (size_t r = 0; r < 5; r++)
        cr_expect_eq(S.flags[r], 0, "row %zu stays absent", r);
    add(2, 1, 0, "two");
    cr_expect_eq(S.n, 6, "a row below n does not change n");
    add(5000, 1, 1, "far"); /* past the first allocation */
    cr_expect_eq(S.n, 5001);
    cr_expect_eq(S.live, 3);
    cr_expect_eq(S.flags[4999], 0);
    cr_expect_eq(S.parent[4999], 0);
    cr_expect_eq(S.orders[4000], 0);
    cr_expect_eq(find(1, 0, "five"), 5);
    cr_expect_eq(find(1, 0, "two"), 2);
    cr_expect_eq(find(1, 1, "far"), 5000);
    expect_id(5, "five");
    expect_id(5000, "far");
}

/* ---- trees ---- */

/* Pre-order by recursion over child/sibling: the reference for pt_state_tree. */
static void ref_walk(size_t row, size_t *out, size_t *n)
{
    out[(*n)++] = row;
    for (uint32_t c = S.child[row]; c; c = S.sibling[c - 1])
        ref_walk(c - 1, out, n);
}

static void expect_tree(size_t root, const size_t *want, size_t n)
{
    size_t got[256];
    size_t k = pt_state_tree(&S, root, got, 256);
    cr_assert_eq(k, n, "tree of %zu: %zu rows, want %zu", root, k, n);
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(got[i], want[i], "tree of %zu: [%zu] = %zu, want %zu", root, i, got[i],
                     want[i]);
}

Test(state, tree_walk_is_pre_order)
{
    add_rows(8);
    /* 0 -> {1 -> {3, 4}, 2 -> {5 -> {6}}}, 7 alone. link prepends: the child
     * linked last is walked first. */
    pt_state_link(&S, 5, 6);
    pt_state_link(&S, 2, 5);
    pt_state_link(&S, 1, 4);
    pt_state_link(&S, 1, 3);
    pt_state_link(&S, 0, 2);
    pt_state_link(&S, 0, 1);
    expect_tree(0, (size_t[]){0, 1, 3, 4, 2, 5, 6}, 7);
    expect_tree(2, (size_t[]){2, 5, 6}, 3); /* a subtree walk stops at its root */
    expect_tree(4, (size_t[]){4}, 1);       /* a leaf with a sibling */
    expect_tree(7, (size_t[]){7}, 1);
    for (size_t r = 0; r < 7; r++)
        cr_expect_eq(pt_state_root(&S, r), 0, "root of %zu", r);
    cr_expect_eq(pt_state_root(&S, 7), 7);
}

Test(state, tree_walk_counts_past_cap)
{
    add_rows(300);
    for (size_t i = 1; i < 300; i++)
        pt_state_link(&S, 0, i);
    size_t out[10];
    cr_expect_eq(pt_state_tree(&S, 0, out, 10), 300, "the count exceeds cap");
    cr_expect_eq(out[0], 0);
    cr_expect_eq(out[1], 299, "last linked first");
    cr_expect_eq(out[9], 291);
    cr_expect_eq(pt_state_tree(&S, 0, NULL, 0), 300, "cap 0 just counts");
}

Test(state, deep_and_wide_trees)
{
    const size_t N = 200;
    add_rows(2 * N);
    /* a chain 0 <- 1 <- ... <- N-1 (each row under the previous one) */
    for (size_t i = N - 1; i > 0; i--)
        pt_state_link(&S, i - 1, i);
    size_t want[256];
    for (size_t i = 0; i < N; i++)
        want[i] = i;
    expect_tree(0, want, N);
    cr_expect_eq(pt_state_root(&S, N - 1), 0);
    expect_tree(N / 2, want + N / 2, N - N / 2);
    /* a star: N..2N-1 under N */
    for (size_t i = N + 1; i < 2 * N; i++)
        pt_state_link(&S, N, i);
    size_t got[256], ref[256], nref = 0;
    size_t k = pt_state_tree(&S, N, got, 256);
    ref_walk(N, ref, &nref);
    cr_assert_eq(k, N);
    cr_assert_eq(nref, N);
    for (size_t i = 0; i < N; i++)
        cr_expect_eq(got[i], ref[i]);
    /* hang the star under the end of the chain */
    pt_state_link(&S, N - 1, N);
    cr_expect_eq(pt_state_tree(&S, 0, NULL, 0), 2 * N);
    cr_expect_eq(pt_state_root(&S, 2 * N - 1), 0);
}

Test(state, random_trees_match_a_recursive_walk)
{
    const size_t N = 240;
    add_rows(N);
    srand(7);
    /* each row i > 0 is linked under a random earlier row of another tree
     * (so a row is linked once, as a root, which is what link requires) */
    for (size_t i = 1; i < N; i++) {
        if (rand() % 5 == 0)
            continue; /* stays a root */
        pt_state_link(&S, (size_t)rand() % i, i);
    }
    size_t seen[256] = {0};
    size_t total = 0;
    for (size_t r = 0; r < N; r++) {
        if (S.parent[r])
            continue;
        size_t got[256], ref[256], nref = 0;
        size_t k = pt_state_tree(&S, r, got, 256);
        ref_walk(r, ref, &nref);
        cr_assert_eq(k, nref, "tree of %zu", r);
        for (size_t i = 0; i < k; i++) {
            cr_assert_eq(got[i], ref[i], "tree of %zu, position %zu", r, i);
            cr_assert_eq(pt_state_root(&S, got[i]), r);
            seen[got[i]]++;
        }
        total += k;
    }
    cr_expect_eq(total, N, "the trees partition the rows");
    for (size_t r = 0; r < N; r++)
        cr_expect_eq(seen[r], 1, "row %zu walked %zu times", r, seen[r]);
}

Test(state, unlink_of_a_middle_node_keeps_its_siblings)
{
    add_rows(8);
    pt_state_link(&S, 0, 1);
    pt_state_link(&S, 0, 2);
    pt_state_link(&S, 0, 3); /* children of 0: 3, 2, 1 */
    pt_state_link(&S, 2, 4);
    pt_state_link(&S, 2, 5); /* children of 2: 5, 4 */
    expect_tree(0, (size_t[]){0, 3, 2, 5, 4, 1}, 6);
    pt_state_unlink(&S, 2);
    cr_expect_eq(S.parent[2], 0);
    cr_expect_eq(S.sibling[2], 0);
    expect_tree(0, (size_t[]){0, 3, 1}, 3);
    expect_tree(2, (size_t[]){2, 5, 4}, 3);
    cr_expect_eq(pt_state_root(&S, 4), 2);
    /* first and last child */
    pt_state_unlink(&S, 3);
    expect_tree(0, (size_t[]){0, 1}, 2);
    pt_state_unlink(&S, 1);
    expect_tree(0, (size_t[]){0}, 1);
    cr_expect_eq(S.child[0], 0);
    pt_state_unlink(&S, 1); /* a root: nothing happens */
    pt_state_unlink(&S, 5); /* the first child of 2 */
    expect_tree(2, (size_t[]){2, 4}, 2);
    /* relink: an unlinked row can be merged again */
    pt_state_link(&S, 0, 2);
    expect_tree(0, (size_t[]){0, 2, 4}, 3);
}

/* ---- aggregates ---- */

Test(state, agg_sums_a_tree)
{
    add_rows(6);
    pt_state_link(&S, 0, 1);
    pt_state_link(&S, 1, 2);
    pt_state_link(&S, 0, 3);
    /* row 4 is another profile, 5 has no orders */
    pt_state_link(&S, 0, 5);
    pt_state_order(&S, 0, 1000, 500);
    pt_state_order(&S, 0, 3000, 700);
    pt_state_order(&S, 2, 500, 100); /* earliest, deep in the tree */
    pt_state_order(&S, 3, 9000, 50); /* latest */
    pt_state_order(&S, 3, 2000, 25);
    pt_state_order(&S, 4, 1, 1000000);
    S.refunded[2] = 40;
    S.refunded[3] = 5;
    cr_expect_eq(S.orders[3], 2);
    cr_expect_eq(S.first_t[3], 2000);
    cr_expect_eq(S.last_t[3], 9000);
    struct pt_agg a;
    memset(&a, 0x5a, sizeof a);
    pt_state_agg(&S, 0, &a);
    cr_expect_eq(a.orders, 5);
    cr_expect_eq(a.first_t, 500);
    cr_expect_eq(a.last_t, 9000);
    cr_expect_eq(a.revenue, 500 + 700 + 100 + 50 + 25);
    cr_expect_eq(a.refunded, 45);
    pt_state_agg(&S, 1, &a); /* subtree {1, 2} */
    cr_expect_eq(a.orders, 1);
    cr_expect_eq(a.first_t, 500);
    cr_expect_eq(a.last_t, 500);
    cr_expect_eq(a.revenue, 100);
    cr_expect_eq(a.refunded, 40);
    pt_state_agg(&S, 5, &a);
    cr_expect_eq(a.orders, 0);
    cr_expect_eq(a.first_t, 0);
    cr_expect_eq(a.revenue, 0);
    /* unmerge 1 (with 2): the aggregates split back */
    pt_state_unlink(&S, 1);
    pt_state_agg(&S, 0, &a);
    cr_expect_eq(a.orders, 4);
    cr_expect_eq(a.first_t, 1000);
    cr_expect_eq(a.revenue, 1275);
    cr_expect_eq(a.refunded, 5);
}

/* ---- erasure ---- */

Test(state, erase_wipes_the_row_and_its_id)
{
    add(0, 1, 0, "alice@example.com");
    add(1, 1, 1, "anon-1");
    add(2, 1, 0, "bob");
    pt_state_link(&S, 0, 1);
    pt_state_order(&S, 0, 100, 999);
    S.cart_value[0] = 7;
    S.consent[0] = S.consent_set[0] = 3;
    uint64_t off = S.keyoff[0];
    size_t len = strlen("alice@example.com");
    cr_assert_eq(S.live, 3);

    pt_state_erase(&S, 1);
    pt_state_erase(&S, 0);
    cr_expect_eq(S.live, 1);
    cr_expect_eq(find(1, 0, "alice@example.com"), -1);
    cr_expect_eq(find(1, 1, "anon-1"), -1);
    cr_expect_eq(find(1, 0, "bob"), 2);
    for (size_t i = 0; i < len; i++)
        cr_expect_eq(S.keys.data[off + i], 0, "id byte %zu not wiped", i);
    cr_expect(memmem(S.keys.data, S.keys.len, "alice", 5) == NULL, "no trace of the id");
    cr_expect(memmem(S.keys.data, S.keys.len, "anon-1", 6) == NULL, "no trace of the id");
    cr_expect_eq(S.flags[0], ROW_ERASED);
    cr_expect_eq(S.keylen[0], 0);
    cr_expect_eq(S.orders[0], 0);
    cr_expect_eq(S.revenue[0], 0);
    cr_expect_eq(S.cart_value[0], 0);
    cr_expect_eq(S.consent[0], 0);
    cr_expect_eq(S.child[0], 0);
    cr_expect_eq(S.parent[1], 0);
    cr_expect_eq(S.n, 3, "rows are never reused");

    /* the same id again: a new row, findable, distinct */
    add(3, 1, 0, "alice@example.com");
    cr_expect_eq(find(1, 0, "alice@example.com"), 3);
    expect_id(3, "alice@example.com");
    cr_expect_eq(S.orders[3], 0);
    cr_expect_eq(S.live, 2);
    pt_state_erase(&S, 0); /* erasing twice changes nothing */
    cr_expect_eq(S.live, 2);
    cr_expect_eq(find(1, 0, "alice@example.com"), 3);
}

Test(state, erased_rows_survive_rehash)
{
    /* erase many rows, then grow the map: the new rows and the untouched ones
     * are findable, the erased ones are not */
    char id[32];
    const size_t N = 6000;
    add_rows(N);
    for (size_t i = 0; i < N; i += 2)
        pt_state_erase(&S, i);
    cr_expect_eq(S.live, N / 2);
    for (size_t i = 0; i < N; i += 2) { /* the same ids again, as new rows */
        snprintf(id, sizeof id, "r%zu", i);
        add(N + i, 1, 0, id);
    }
    cr_expect_eq(S.live, N);
    for (size_t i = 0; i < N; i++) {
        snprintf(id, sizeof id, "r%zu", i);
        int64_t want = i % 2 ? (int64_t)i : (int64_t)(N + i);
        int64_t got = find(1, 0, id);
        if (got != want)
            cr_assert_fail("find %s: %lld, want %lld", id, (long long)got, (long long)want);
    }
}

Test(state, erase_of_a_root_leaves_children_as_roots)
{
    add_rows(4);
    pt_state_link(&S, 0, 1);
    pt_state_link(&S, 0, 2);
    pt_state_link(&S, 2, 3);
    pt_state_erase(&S, 0);
    cr_expect_eq(S.parent[1], 0);
    cr_expect_eq(S.parent[2], 0);
    expect_tree(2, (size_t[]){2, 3}, 2);
    expect_tree(1, (size_t[]){1}, 1);
}

Test(state, erase_of_an_absent_row)
{
    add(3, 1, 0, "x");
    pt_state_erase(&S, 1); /* never present: live does not change */
    cr_expect_eq(S.live, 1);
    cr_expect_eq(find(1, 0, "x"), 3);
}

/* ---- allocation failures ---- */

/* Fail the k-th allocation of an add that grows rows, map and keys at once, for
 * every k: each add either works or gives PT_ENOMEM, and the state stays
 * usable and consistent. */
Test(state, allocation_failure_leaves_the_state_usable)
{
    char id[32];
    int failures = 0;
    for (unsigned long k = 1; k < 40; k++) {
        struct pt_state t;
        pt_state_init(&t);
        for (size_t i = 0; i < 1024; i++) { /* rows at their first capacity, map half full */
            int n = snprintf(id, sizeof id, "r%zu", i);
            cr_assert_eq(pt_state_add(&t, i, 1, 0, id, (size_t)n), 0);
        }
        pt_mem_fail_after(k);
        int rc = 0;
        size_t i = 1024;
        for (; i < 5000 && rc == 0; i++) {
            int n = snprintf(id, sizeof id, "r%zu", i);
            rc = pt_state_add(&t, i, 1, 0, id, (size_t)n);
        }
        pt_mem_fail_after(0);
        size_t bad = i - 1; /* the row whose add failed, if rc != 0 */
        if (rc) {
            failures++;
            cr_expect_eq(rc, PT_ENOMEM, "k=%lu: rc %d", k, rc);
            cr_expect_eq(t.n, bad, "k=%lu: a failed add changes n", k);
            cr_expect_eq(t.live, bad, "k=%lu: a failed add changes live", k);
            int n = snprintf(id, sizeof id, "r%zu", bad);
            cr_expect_eq(pt_state_find(&t, 1, 0, id, (size_t)n), -1, "k=%lu", k);
        }
        for (size_t r = 0; r < t.n; r++) {
            int n = snprintf(id, sizeof id, "r%zu", r);
            if (pt_state_find(&t, 1, 0, id, (size_t)n) != (int64_t)r)
                cr_assert_fail("k=%lu: row %zu lost after a failed add", k, r);
        }
        /* usable: the failed add and more work now */
        for (size_t r = t.n; r < 6000; r++) {
            int n = snprintf(id, sizeof id, "r%zu", r);
            cr_assert_eq(pt_state_add(&t, r, 1, 0, id, (size_t)n), 0, "k=%lu, row %zu", k, r);
        }
        for (size_t r = 0; r < 6000; r += 7) {
            int n = snprintf(id, sizeof id, "r%zu", r);
            cr_assert_eq(pt_state_find(&t, 1, 0, id, (size_t)n), (int64_t)r, "k=%lu", k);
        }
        pt_state_order(&t, 5999, 10, 20);
        cr_expect_eq(t.orders[5999], 1);
        pt_state_release(&t);
    }
    cr_expect_gt(failures, 5, "the injection reached the state's allocations");
}
