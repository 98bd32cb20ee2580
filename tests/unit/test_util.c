/* test_util.c - util/: buf, timeutil, radix, ckd, mem (with allocation-failure
 * injection) and err. Criterion runs each test in its own process, so the
 * process-wide pt_mem_fail_after counter never leaks between tests. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/ckd.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/radix.h"
#include "util/rng.h"
#include "util/timeutil.h"

/* ---- buf ---- */

static void expect_buf(const struct pt_buf *b, const char *want)
{
    size_t n = strlen(want);
    cr_assert_eq(b->len, n, "len %zu, want %zu (\"%s\")", b->len, n, want);
    cr_assert_not_null(b->data);
    cr_expect(memcmp(b->data, want, n) == 0, "\"%.*s\", want \"%s\"", (int)b->len, b->data, want);
    cr_expect_eq(b->data[b->len], '\0', "always NUL-terminated");
    cr_expect_lt(b->len, b->cap, "one spare byte for the NUL");
}

Test(buf, init_is_empty)
{
    struct pt_buf b;
    memset(&b, 0x5a, sizeof b);
    pt_buf_init(&b);
    cr_expect_null(b.data);
    cr_expect_eq(b.len, 0);
    cr_expect_eq(b.cap, 0);
    pt_buf_reset(&b); /* fine on an empty buffer */
    cr_expect_null(b.data);
    pt_buf_release(&b);
    cr_expect_null(b.data);
}

Test(buf, add_functions_append)
{
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_buf_add(&b, "abc", 3), 0);
    cr_assert_eq(pt_buf_adds(&b, "de"), 0);
    cr_assert_eq(pt_buf_addc(&b, 'f'), 0);
    cr_assert_eq(pt_buf_add(&b, "zzz", 0), 0);
    cr_assert_eq(pt_buf_printf(&b, "-%d-%s", 42, "x"), 0);
    expect_buf(&b, "abcdef-42-x");
    pt_buf_reset(&b);
    expect_buf(&b, "");
    cr_assert_eq(pt_buf_adds(&b, "again"), 0);
    expect_buf(&b, "again");
    pt_buf_release(&b);
    cr_expect_null(b.data);
    cr_expect_eq(b.len, 0);
    cr_expect_eq(b.cap, 0);
}

Test(buf, add_of_nothing_still_gives_a_c_string)
{
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_buf_add(&b, "", 0), 0);
    expect_buf(&b, "");
    pt_buf_release(&b);
    pt_buf_init(&b);
    cr_assert_eq(pt_buf_printf(&b, "%s", ""), 0);
    expect_buf(&b, "");
    pt_buf_release(&b);
}

Test(buf, grows_across_many_appends)
{
    struct pt_buf b;
    pt_buf_init(&b);
    for (int i = 0; i < 10000; i++)
        cr_assert_eq(pt_buf_addc(&b, (char)('a' + i % 26)), 0);
    cr_assert_eq(b.len, 10000);
    for (int i = 0; i < 10000; i++)
        cr_assert_eq(b.data[i], (char)('a' + i % 26), "byte %d", i);
    cr_expect_eq(b.data[10000], '\0');
    /* A long printf goes through the measured path. */
    char big[3000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_assert_eq(pt_buf_printf(&b, "[%s]", big), 0);
    cr_expect_eq(b.len, 10000 + 2 + 2999);
    cr_expect_eq(b.data[10000], '[');
    cr_expect_eq(b.data[b.len - 1], ']');
    cr_expect_eq(b.data[b.len], '\0');
    pt_buf_release(&b);
}

Test(buf, reserve)
{
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_buf_reserve(&b, 100), 0);
    cr_expect_geq(b.cap, 101);
    cr_expect_eq(b.len, 0);
    char *before = b.data;
    size_t cap = b.cap;
    for (size_t i = 0; i < 100; i++)
        cr_assert_eq(pt_buf_addc(&b, 'x'), 0);
    cr_expect_eq(b.data, before, "no reallocation within the reserved room");
    cr_expect_eq(b.cap, cap);
    cr_expect_eq(pt_buf_reserve(&b, SIZE_MAX), PT_ENOMEM, "len + extra + 1 overflows");
    cr_expect_eq(pt_buf_reserve(&b, SIZE_MAX - 200), PT_ENOMEM);
    cr_expect_eq(b.data, before, "unchanged after a failed reserve");
    cr_expect_eq(b.len, 100);
    cr_expect_eq(b.cap, cap);
    pt_buf_release(&b);
}

static void expect_i64(int64_t v, const char *want)
{
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_buf_add_i64(&b, v), 0);
    expect_buf(&b, want);
    pt_buf_release(&b);
}

Test(buf, add_i64)
{
    expect_i64(0, "0");
    expect_i64(7, "7");
    expect_i64(-1, "-1");
    expect_i64(1234567890, "1234567890");
    expect_i64(INT64_MAX, "9223372036854775807");
    expect_i64(INT64_MIN, "-9223372036854775808");
    /* Appends after existing text. */
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_buf_adds(&b, "n="), 0);
    cr_assert_eq(pt_buf_add_i64(&b, -42), 0);
    expect_buf(&b, "n=-42");
    pt_buf_release(&b);
}

static void expect_money(int64_t v, int scale, const char *want)
{
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_buf_add_money(&b, v, scale), 0);
    expect_buf(&b, want);
    pt_buf_release(&b);
}

Test(buf, add_money)
{
    expect_money(1250, 2, "12.50");
    expect_money(-5, 2, "-0.05");
    expect_money(0, 2, "0.00");
    expect_money(5, 2, "0.05");
    expect_money(50, 2, "0.50");
    expect_money(100, 2, "1.00");
    expect_money(-1250, 2, "-12.50");
    expect_money(1, 3, "0.001");
    expect_money(-12345, 3, "-12.345");
    expect_money(7, 0, "7");
    expect_money(-7, 0, "-7");
    expect_money(12345, 1, "1234.5");
    expect_money(INT64_MAX, 2, "92233720368547758.07");
    expect_money(INT64_MIN, 2, "-92233720368547758.08");
}

/* ---- allocation failure injection ---- */

Test(mem, fail_after_counts_allocations)
{
    pt_mem_fail_after(3);
    void *a = pt_malloc(10);
    void *b = pt_calloc(2, 8);
    void *c = pt_malloc(10);
    void *d = pt_realloc(NULL, 10);
    cr_expect_not_null(a, "1st allocation succeeds");
    cr_expect_not_null(b, "2nd allocation succeeds");
    cr_expect_null(c, "3rd allocation fails");
    cr_expect_null(d, "and every later one");
    cr_expect_null(pt_strndup("abc", 3));
    cr_expect_null(pt_alloc_array(2, 2));
    pt_mem_fail_after(0);
    void *e = pt_malloc(10);
    cr_expect_not_null(e, "0 turns injection off");
    pt_free(a);
    pt_free(b);
    pt_free(e);
}

Test(mem, fail_after_one_fails_the_next_allocation)
{
    pt_mem_fail_after(1);
    cr_expect_null(pt_calloc(1, 1));
    cr_expect_null(pt_malloc(1));
    pt_mem_fail_after(0);
}

Test(mem, failed_realloc_keeps_the_old_block)
{
    char *p = pt_malloc(4);
    cr_assert_not_null(p);
    memcpy(p, "abc", 4);
    pt_mem_fail_after(1);
    char *q = pt_realloc(p, 1000);
    cr_expect_null(q);
    pt_mem_fail_after(0);
    cr_expect_str_eq(p, "abc", "the old block is untouched");
    pt_free(p);
}

Test(mem, zero_sizes_and_calloc)
{
    void *a = pt_malloc(0);
    cr_expect_not_null(a, "malloc(0) gives a freeable non-NULL pointer");
    pt_free(a);
    unsigned char *z = pt_calloc(64, 4);
    cr_assert_not_null(z);
    for (int i = 0; i < 256; i++)
        cr_assert_eq(z[i], 0, "byte %d", i);
    pt_free(z);
    void *c0 = pt_calloc(0, 8);
    cr_expect_not_null(c0);
    pt_free(c0);
    pt_free(NULL);
}

Test(mem, array_helpers_check_overflow)
{
    cr_expect_null(pt_alloc_array(SIZE_MAX / 2 + 1, 2));
    cr_expect_null(pt_alloc_array(SIZE_MAX, SIZE_MAX));
    uint32_t *a = pt_alloc_array(4, sizeof *a);
    cr_assert_not_null(a);
    a[0] = 1;
    a[3] = 4;
    uint32_t *b = pt_realloc_array(a, SIZE_MAX / 4 + 1, sizeof *a);
    cr_expect_null(b, "overflowing resize fails");
    cr_expect_eq(a[0], 1, "and leaves the array alone");
    cr_expect_eq(a[3], 4);
    b = pt_realloc_array(a, 1000, sizeof *a);
    cr_assert_not_null(b);
    cr_expect_eq(b[0], 1);
    cr_expect_eq(b[3], 4);
    b[999] = 9;
    pt_free(b);
}

Test(mem, strndup)
{
    char *s = pt_strndup("hello world", 5);
    cr_assert_not_null(s);
    cr_expect_str_eq(s, "hello");
    pt_free(s);
    s = pt_strndup("x", 0);
    cr_assert_not_null(s);
    cr_expect_str_eq(s, "");
    pt_free(s);
    /* Embedded NULs are copied (n bytes, not a C string copy). */
    s = pt_strndup("a\0b", 3);
    cr_assert_not_null(s);
    cr_expect_eq(s[2], 'b');
    cr_expect_eq(s[3], '\0');
    pt_free(s);
}

/* Every buf operation, failing at its first allocation: PT_ENOMEM and the
 * buffer exactly as it was. */
Test(mem, buf_operations_leave_the_buffer_unchanged_on_failure)
{
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_buf_adds(&b, "0123456789"), 0);
    char *data = b.data;
    size_t cap = b.cap;
    char big[200];
    memset(big, 'x', sizeof big);
    for (int op = 0; op < 6; op++) {
        pt_mem_fail_after(1);
        int rc;
        switch (op) {
        case 0:
            rc = pt_buf_add(&b, big, sizeof big);
            break;
        case 1:
            rc = pt_buf_reserve(&b, 500);
            break;
        case 2:
            rc = pt_buf_printf(&b, "%.*s", (int)sizeof big, big);
            break;
        case 3: {
            /* Fill exactly to capacity, then one more byte needs growth. */
            pt_mem_fail_after(0);
            while (b.len + 1 < b.cap)
                cr_assert_eq(pt_buf_addc(&b, 'y'), 0);
            data = b.data;
            cap = b.cap;
            pt_mem_fail_after(1);
            rc = pt_buf_addc(&b, 'z');
            break;
        }
        case 4:
            rc = pt_buf_add_i64(&b, INT64_MIN);
            break;
        default:
            rc = pt_buf_add_money(&b, INT64_MIN, 2);
            break;
        }
        pt_mem_fail_after(0);
        cr_expect_eq(rc, PT_ENOMEM, "op %d", op);
        cr_expect_eq(b.data, data, "op %d: data pointer kept", op);
        cr_expect_eq(b.cap, cap, "op %d: cap kept", op);
        cr_expect_eq(b.data[b.len], '\0', "op %d: still terminated", op);
        cr_expect(memcmp(b.data, "0123456789", 10) == 0, "op %d: contents kept", op);
    }
    size_t len = b.len;
    cr_expect_eq(pt_buf_addc(&b, 'z'), 0, "works again once injection is off");
    cr_expect_eq(b.len, len + 1);
    pt_buf_release(&b);
}

/* ---- ckd ---- */

Test(ckd, size_t_arithmetic)
{
    size_t r;
    cr_expect_eq(pt_ckd_add(&r, (size_t)2, (size_t)3), 0);
    cr_expect_eq(r, 5);
    cr_expect_neq(pt_ckd_add(&r, SIZE_MAX, (size_t)1), 0);
    cr_expect_eq(pt_ckd_add(&r, SIZE_MAX - 1, (size_t)1), 0);
    cr_expect_eq(r, SIZE_MAX);
    cr_expect_neq(pt_ckd_sub(&r, (size_t)1, (size_t)2), 0);
    cr_expect_eq(pt_ckd_sub(&r, (size_t)5, (size_t)2), 0);
    cr_expect_eq(r, 3);
    cr_expect_neq(pt_ckd_mul(&r, SIZE_MAX / 2 + 1, (size_t)2), 0);
    cr_expect_eq(pt_ckd_mul(&r, SIZE_MAX / 3, (size_t)3), 0);
    cr_expect_eq(r, SIZE_MAX / 3 * 3);
}

Test(ckd, signed_and_narrowing)
{
    int64_t r;
    cr_expect_neq(pt_ckd_add(&r, INT64_MAX, (int64_t)1), 0);
    cr_expect_neq(pt_ckd_add(&r, INT64_MIN, (int64_t)-1), 0);
    cr_expect_eq(pt_ckd_add(&r, INT64_MAX, (int64_t)-1), 0);
    cr_expect_eq(r, INT64_MAX - 1);
    cr_expect_neq(pt_ckd_sub(&r, INT64_MIN, (int64_t)1), 0);
    cr_expect_neq(pt_ckd_mul(&r, INT64_MIN, (int64_t)-1), 0);
    cr_expect_eq(pt_ckd_mul(&r, (int64_t)-3, (int64_t)4), 0);
    cr_expect_eq(r, -12);
    /* The result type decides: a uint32_t result narrows with a check. */
    uint32_t n;
    cr_expect_neq(pt_ckd_add(&n, (uint64_t)UINT32_MAX, (uint64_t)1), 0);
    cr_expect_eq(pt_ckd_add(&n, (uint64_t)UINT32_MAX - 1, (uint64_t)1), 0);
    cr_expect_eq(n, UINT32_MAX);
    cr_expect_neq(pt_ckd_sub(&n, (int64_t)0, (int64_t)1), 0, "negative into unsigned");
}

/* ---- timeutil ---- */

Test(timeutil, known_days)
{
    cr_expect_eq(pt_days_from_civil(1970, 1, 1), 0);
    cr_expect_eq(pt_days_from_civil(1970, 1, 2), 1);
    cr_expect_eq(pt_days_from_civil(1969, 12, 31), -1);
    cr_expect_eq(pt_days_from_civil(2000, 3, 1), 11017);
    cr_expect_eq(pt_days_from_civil(2026, 11, 1), 1793491200 / 86400);
    cr_expect_eq(pt_days_from_civil(0, 3, 1), -719468);
    cr_expect_eq(pt_days_from_civil(0, 1, 1), -719528);
    cr_expect_eq(pt_days_from_civil(9999, 12, 31), 2932896);
}

Test(timeutil, civil_round_trip)
{
    /* Every day from 0000-01-01 to 9999-12-31 maps back to itself, and
     * consecutive days are consecutive dates. */
    int64_t first = pt_days_from_civil(0, 1, 1), last = pt_days_from_civil(9999, 12, 31);
    int64_t py = -1;
    int pm = 12, pd = 31;
    for (int64_t day = first; day <= last; day++) {
        int64_t y;
        int m, d;
        pt_civil_from_days(day, &y, &m, &d);
        if (pt_days_from_civil(y, m, d) != day)
            cr_assert_fail("day %lld -> %lld-%d-%d does not map back", (long long)day, (long long)y,
                           m, d);
        int next_ok = (y == py && m == pm && d == pd + 1) ||
                      (y == py && m == pm + 1 && d == 1 && pd == pt_days_in_month(py, pm)) ||
                      (y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31);
        if (!next_ok)
            cr_assert_fail("day %lld: %lld-%d-%d does not follow %lld-%d-%d", (long long)day,
                           (long long)y, m, d, (long long)py, pm, pd);
        py = y;
        pm = m;
        pd = d;
    }
    cr_expect_eq(py, 9999);
}

Test(timeutil, days_in_month)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int m = 1; m <= 12; m++)
        cr_expect_eq(pt_days_in_month(2023, m), len[m - 1], "month %d", m);
    cr_expect_eq(pt_days_in_month(2024, 2), 29);
    cr_expect_eq(pt_days_in_month(1900, 2), 28);
    cr_expect_eq(pt_days_in_month(2000, 2), 29);
    cr_expect_eq(pt_days_in_month(2100, 2), 28);
    cr_expect_eq(pt_days_in_month(0, 2), 29);
}

Test(timeutil, floor_div)
{
    cr_expect_eq(pt_floor_div(0, 86400), 0);
    cr_expect_eq(pt_floor_div(86399, 86400), 0);
    cr_expect_eq(pt_floor_div(86400, 86400), 1);
    cr_expect_eq(pt_floor_div(-1, 86400), -1);
    cr_expect_eq(pt_floor_div(-86400, 86400), -1);
    cr_expect_eq(pt_floor_div(-86401, 86400), -2);
    cr_expect_eq(pt_floor_div(7, 2), 3);
    cr_expect_eq(pt_floor_div(-7, 2), -4);
}

static void expect_utc(int64_t t, const char *want)
{
    char out[21];
    memset(out, '#', sizeof out);
    pt_format_utc(t, out);
    cr_expect_str_eq(out, want, "t = %lld", (long long)t);
}

Test(timeutil, format_utc)
{
    expect_utc(0, "1970-01-01T00:00:00Z");
    expect_utc(1793491200, "2026-11-01T00:00:00Z");
    expect_utc(1793491199, "2026-10-31T23:59:59Z");
    expect_utc(-1, "1969-12-31T23:59:59Z");
    expect_utc(951782400, "2000-02-29T00:00:00Z");
    expect_utc(253402300799, "9999-12-31T23:59:59Z");
    expect_utc(pt_days_from_civil(0, 1, 1) * 86400, "0000-01-01T00:00:00Z");
    expect_utc(1700000000, "2023-11-14T22:13:20Z");
}

/* ---- radix ---- */

struct kv {
    uint64_t k;
    uint32_t v;
};

static int cmp_kv(const void *a, const void *b)
{
    const struct kv *x = a, *y = b;
    if (x->k != y->k)
        return x->k < y->k ? -1 : 1;
    return x->v < y->v ? -1 : x->v > y->v; /* v = input position: stable */
}

/* Sort keys (values = input positions) and compare with a stable qsort. */
static void check_sort(uint64_t *key, size_t n)
{
    uint32_t *val = malloc((n ? n : 1) * sizeof *val);
    struct kv *ref = malloc((n ? n : 1) * sizeof *ref);
    cr_assert(val && ref);
    for (size_t i = 0; i < n; i++) {
        val[i] = (uint32_t)i;
        ref[i] = (struct kv){key[i], (uint32_t)i};
    }
    qsort(ref, n, sizeof *ref, cmp_kv);
    cr_assert_eq(pt_radix_sort_kv(key, val, n), 0);
    for (size_t i = 0; i < n; i++) {
        if (key[i] != ref[i].k || val[i] != ref[i].v)
            cr_assert_fail("position %zu: (%llu, %u), want (%llu, %u)", i,
                           (unsigned long long)key[i], val[i], (unsigned long long)ref[i].k,
                           ref[i].v);
    }
    free(val);
    free(ref);
}

Test(radix, random_full_width_keys)
{
    struct pt_rng r;
    pt_rng_seed(&r, 1);
    size_t n = 20000;
    uint64_t *key = malloc(n * sizeof *key);
    cr_assert_not_null(key);
    for (size_t i = 0; i < n; i++)
        key[i] = pt_rng_next(&r);
    check_sort(key, n);
    free(key);
}

Test(radix, stable_with_many_duplicates)
{
    struct pt_rng r;
    pt_rng_seed(&r, 2);
    size_t n = 5000;
    uint64_t *key = malloc(n * sizeof *key);
    cr_assert_not_null(key);
    for (size_t i = 0; i < n; i++)
        key[i] = pt_rng_below(&r, 7) << 40 | pt_rng_below(&r, 3);
    check_sort(key, n);
    free(key);
}

Test(radix, skipped_byte_positions)
{
    /* Keys differing only in the top byte; in one middle byte; all equal. */
    uint64_t a[6] = {5ULL << 56, 1ULL << 56, 3ULL << 56, 1ULL << 56, 0, 255ULL << 56};
    check_sort(a, 6);
    uint64_t b[5] = {0x0000770000000000ULL, 0x0000110000000000ULL, 0x0000770000000000ULL,
                     0x0000000000000000ULL, 0x0000ff0000000000ULL};
    check_sort(b, 5);
    uint64_t c[4] = {42, 42, 42, 42};
    uint32_t v[4] = {3, 1, 2, 0};
    cr_assert_eq(pt_radix_sort_kv(c, v, 4), 0);
    cr_expect_eq(v[0], 3, "all-equal keys keep their order");
    cr_expect_eq(v[1], 1);
    cr_expect_eq(v[2], 2);
    cr_expect_eq(v[3], 0);
    uint64_t d[5] = {UINT64_MAX, 0, UINT64_MAX - 1, 1, UINT64_MAX};
    check_sort(d, 5);
}

Test(radix, odd_number_of_passes_copies_back)
{
    /* One varying byte: one pass, result in the scratch array, copied back. */
    uint64_t a[5] = {3, 1, 4, 1, 5};
    check_sort(a, 5);
    /* Three varying bytes. */
    uint64_t b[4] = {0x030201, 0x010203, 0x020301, 0x010202};
    check_sort(b, 4);
}

Test(radix, tiny_inputs)
{
    uint64_t k[1] = {9};
    uint32_t v[1] = {7};
    cr_expect_eq(pt_radix_sort_kv(k, v, 0), 0);
    cr_expect_eq(pt_radix_sort_kv(k, v, 1), 0);
    cr_expect_eq(k[0], 9);
    cr_expect_eq(v[0], 7);
    cr_expect_eq(pt_radix_sort_kv(NULL, NULL, 0), 0);
}

Test(radix, out_of_memory_leaves_arrays_unchanged)
{
    for (unsigned long fail = 1; fail <= 3; fail++) {
        uint64_t k[4] = {4, 3, 2, 1};
        uint32_t v[4] = {0, 1, 2, 3};
        pt_mem_fail_after(fail);
        int rc = pt_radix_sort_kv(k, v, 4);
        pt_mem_fail_after(0);
        cr_expect_eq(rc, PT_ENOMEM, "allocation %lu fails", fail);
        cr_expect_eq(k[0], 4);
        cr_expect_eq(k[3], 1);
        cr_expect_eq(v[0], 0);
        cr_expect_eq(v[3], 3);
    }
    uint64_t k[4] = {4, 3, 2, 1};
    uint32_t v[4] = {0, 1, 2, 3};
    pt_mem_fail_after(4);
    cr_expect_eq(pt_radix_sort_kv(k, v, 4), 0, "three allocations are all it needs");
    pt_mem_fail_after(0);
    cr_expect_eq(k[0], 1);
    cr_expect_eq(v[0], 3);
}

/* ---- err ---- */

Test(err, strerror_and_set)
{
    cr_expect_str_eq(pt_strerror(PT_OK), "success");
    cr_expect_str_eq(pt_strerror(PT_ENOMEM), "out of memory");
    cr_expect_str_eq(pt_strerror(PT_EPARSE), "malformed input");
    cr_expect_str_eq(pt_strerror(12345), "unknown error");
    for (int c = PT_ETOOBIG; c <= PT_OK; c++)
        cr_expect_str_neq(pt_strerror(c), "unknown error", "code %d has a text", c);

    struct pt_err e;
    pt_err_clear(&e);
    cr_expect_eq(e.code, 0);
    cr_expect_eq(e.line, 0);
    cr_expect_str_eq(e.msg, "");
    cr_expect_eq(pt_err_set(&e, PT_EINVAL, "bad %s %d", "thing", 7), PT_EINVAL);
    cr_expect_eq(e.code, PT_EINVAL);
    cr_expect_str_eq(e.msg, "bad thing 7");
    cr_expect_eq(pt_err_set(NULL, PT_EIO, "x"), PT_EIO, "NULL detail is allowed");
    pt_err_clear(NULL);
}

Test(err, long_message_is_cut_visibly)
{
    struct pt_err e;
    pt_err_clear(&e);
    char big[PT_ERR_MSG_MAX * 2];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    pt_err_set(&e, PT_EPARSE, "%s", big);
    size_t n = strlen(e.msg);
    cr_expect_eq(n, PT_ERR_MSG_MAX - 1);
    cr_expect_str_eq(e.msg + n - 3, "...");
    cr_expect_eq(e.msg[0], 'm');
    /* A message that fits exactly is not marked. */
    big[PT_ERR_MSG_MAX - 1] = '\0';
    pt_err_set(&e, PT_EPARSE, "%s", big);
    cr_expect_eq(strlen(e.msg), PT_ERR_MSG_MAX - 1);
    cr_expect_eq(e.msg[PT_ERR_MSG_MAX - 2], 'm');
}

Test(buf, json_str_escapes_and_is_unchanged_on_failure)
{
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_buf_adds(&b, "x="), 0);
    const char s[] = "a\"b\\c\n\x01\xc5\x82";
    cr_assert_eq(pt_buf_add_json_str(&b, s, sizeof s - 1), 0);
    cr_expect_str_eq(b.data, "x=\"a\\\"b\\\\c\\u000a\\u0001\xc5\x82\"");
    size_t len = b.len;
    pt_mem_fail_after(1);
    char big[5000];
    memset(big, '\n', sizeof big);
    int rc = pt_buf_add_json_str(&b, big, sizeof big);
    pt_mem_fail_after(0);
    cr_expect_eq(rc, PT_ENOMEM);
    cr_expect_eq(b.len, len);
    cr_expect_str_eq(b.data, "x=\"a\\\"b\\\\c\\u000a\\u0001\xc5\x82\"");
    pt_buf_release(&b);
}
