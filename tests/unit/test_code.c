/*
 * test_code.c - voucher and referral codes (src/loyalty/code.h): the
 * alphabet; fresh codes normalise back from every typed form; every single
 * substitution and every adjacent transposition is caught; errors say what
 * and where; prefixes; batches are distinct, valid and honour `taken`.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loyalty/code.h"
#include "util/mem.h"

#define ALPHA_N 31

static int in_alphabet(char c)
{
    return c != '\0' && strchr(PT_CODE_ALPHABET, c) != NULL;
}

/* A fresh code must be canonical: 14 symbols of the alphabet, check valid. */
static void expect_canonical(const char *c)
{
    cr_assert_eq(strlen(c), PT_CODE_LEN, "\"%s\"", c);
    for (size_t i = 0; i < PT_CODE_LEN; i++)
        cr_assert(in_alphabet(c[i]), "\"%s\"[%zu]", c, i);
    cr_assert_eq(pt_code_check(c), c[PT_CODE_DATA], "\"%s\"", c);
}

static int norm(const char *in, const char *prefix, char out[PT_CODE_LEN + 1], struct pt_err *e)
{
    return pt_code_normalize(in, strlen(in), prefix, out, e);
}

static void expect_norm(const char *in, const char *prefix, const char *want)
{
    char out[PT_CODE_LEN + 1];
    struct pt_err e = {0};
    int rc = norm(in, prefix, out, &e);
    cr_assert_eq(rc, 0, "\"%s\" (prefix %s): %s", in, prefix ? prefix : "none", e.msg);
    cr_assert_str_eq(out, want, "\"%s\"", in);
}

/* The input must be refused with PT_EINVAL and a message containing `want`. */
static void expect_bad(const char *in, const char *prefix, const char *want, uint64_t column)
{
    char out[PT_CODE_LEN + 1];
    struct pt_err e = {0};
    int rc = norm(in, prefix, out, &e);
    cr_assert_eq(rc, PT_EINVAL, "\"%s\": rc %d", in, rc);
    cr_assert_eq(e.code, PT_EINVAL);
    cr_assert(strstr(e.msg, want) != NULL, "\"%s\": \"%s\", want \"%s\"", in, e.msg, want);
    cr_assert_eq(e.column, column, "\"%s\": column %llu, want %llu", in,
                 (unsigned long long)e.column, (unsigned long long)column);
}

/* ---- alphabet and check ---- */

Test(code, alphabet_has_31_distinct_unambiguous_symbols)
{
    const char *a = PT_CODE_ALPHABET;
    cr_assert_eq(strlen(a), ALPHA_N);
    cr_assert_eq(sizeof PT_CODE_ALPHABET - 1, ALPHA_N);
    for (size_t i = 0; i < ALPHA_N; i++) {
        cr_expect((a[i] >= '2' && a[i] <= '9') || (a[i] >= 'A' && a[i] <= 'Z'), "%c", a[i]);
        if (i > 0)
            cr_expect_lt(a[i - 1], a[i], "sorted, hence distinct");
    }
    for (const char *p = "01OIL"; *p; p++)
        cr_expect_null(strchr(a, *p), "look-alike %c is absent", *p);
    /* 13 symbols carry more than 64 bits */
    double bits = 0;
    for (int i = 0; i < PT_CODE_DATA; i++)
        bits += 4.954; /* log2(31) */
    cr_expect_gt(bits, 64.0);
}

Test(code, check_symbol_is_the_documented_weighted_sum)
{
    /* all zeros -> 0 */
    cr_expect_eq(pt_code_check("2222222222222"), '2');
    /* v[0] = 1 with weight 1 -> 1 */
    cr_expect_eq(pt_code_check("3222222222222"), '3');
    /* v[12] = 1 with weight 13 -> 13 = 'F' */
    cr_expect_eq(pt_code_check("2222222222223"), PT_CODE_ALPHABET[13]);
    /* all 30 ('Z'): 30 * 91 = 2730 = 88 * 31 + 2 */
    cr_expect_eq(pt_code_check("ZZZZZZZZZZZZZ"), PT_CODE_ALPHABET[2]);
    /* case-insensitive, and '\0' for a symbol outside the alphabet */
    cr_expect_eq(pt_code_check("zzzzzzzzzzzzz"), PT_CODE_ALPHABET[2]);
    cr_expect_eq(pt_code_check("ZZZZZZOZZZZZZ"), '\0');
    cr_expect_eq(pt_code_check("ZZZZZZZZZZZZ-"), '\0');
}

Test(code, every_symbol_value_is_read_in_either_case)
{
    for (size_t s = 0; s < ALPHA_N; s++) {
        char c = PT_CODE_ALPHABET[s];
        char data[PT_CODE_DATA + 1];
        memset(data, '2', PT_CODE_DATA);
        data[PT_CODE_DATA] = '\0';
        data[0] = c; /* weight 1: the check is the value itself */
        cr_assert_eq(pt_code_check(data), c, "%c", c);
        if (c >= 'A' && c <= 'Z') {
            data[0] = (char)(c - 'A' + 'a');
            cr_assert_eq(pt_code_check(data), c, "%c", c);
        }
    }
}

/* ---- round trips ---- */

Test(code, fresh_codes_normalise_back_from_every_typed_form)
{
    for (int i = 0; i < 100000; i++) {
        char c[PT_CODE_LEN + 1], p[PT_CODE_PRINT_MAX], q[PT_CODE_PRINT_MAX];
        pt_code_new(c);
        expect_canonical(c);
        char out[PT_CODE_LEN + 1];
        cr_assert_eq(norm(c, NULL, out, NULL), 0, "%s", c);
        cr_assert_str_eq(out, c);

        pt_code_print(c, NULL, p);
        cr_assert_eq(strlen(p), 17, "%s", p);
        cr_assert(p[4] == '-' && p[9] == '-' && p[14] == '-', "%s", p);
        cr_assert_eq(norm(p, NULL, out, NULL), 0, "%s", p);
        cr_assert_str_eq(out, c);

        pt_code_print(c, "SUMMER", q);
        cr_assert_eq(strncmp(q, "SUMMER-", 7), 0, "%s", q);
        cr_assert_str_eq(q + 7, p);
        cr_assert_eq(norm(q, "SUMMER", out, NULL), 0, "%s", q);
        cr_assert_str_eq(out, c);

        /* lower case, spaces instead of dashes, stray spaces */
        char l[2 * PT_CODE_PRINT_MAX];
        size_t n = 0;
        l[n++] = ' ';
        for (size_t k = 0; p[k]; k++) {
            char ch = p[k];
            if (ch == '-')
                ch = ' ';
            else if (ch >= 'A' && ch <= 'Z' && (i + (int)k) % 2 == 0)
                ch = (char)(ch - 'A' + 'a');
            l[n++] = ch;
            if (k % 3 == 1)
                l[n++] = ' ';
        }
        l[n++] = '\t';
        l[n] = '\0';
        cr_assert_eq(norm(l, NULL, out, NULL), 0, "\"%s\"", l);
        cr_assert_str_eq(out, c);
        cr_assert_eq(norm(l, "SUMMER", out, NULL), 0, "\"%s\"", l);
        cr_assert_str_eq(out, c);
    }
}

Test(code, fresh_codes_differ)
{
    char a[PT_CODE_LEN + 1], b[PT_CODE_LEN + 1];
    pt_code_new(a);
    pt_code_new(b);
    cr_expect_str_neq(a, b);
}

/* ---- error detection ---- */

Test(code, every_single_substitution_is_detected)
{
    for (int i = 0; i < 300; i++) {
        char c[PT_CODE_LEN + 1];
        pt_code_new(c);
        for (size_t pos = 0; pos < PT_CODE_LEN; pos++) {
            for (size_t s = 0; s < ALPHA_N; s++) {
                char t[PT_CODE_LEN + 1];
                memcpy(t, c, sizeof t);
                if (t[pos] == PT_CODE_ALPHABET[s])
                    continue;
                t[pos] = PT_CODE_ALPHABET[s];
                char out[PT_CODE_LEN + 1];
                struct pt_err e = {0};
                cr_assert_eq(norm(t, NULL, out, &e), PT_EINVAL, "%s -> %s accepted", c, t);
                cr_assert_str_eq(e.msg, "the code has a typo: its check character does not match");
            }
        }
    }
}

Test(code, every_adjacent_transposition_is_detected)
{
    int swaps = 0;
    for (int i = 0; i < 300; i++) {
        char c[PT_CODE_LEN + 1];
        pt_code_new(c);
        for (size_t pos = 0; pos + 1 < PT_CODE_LEN; pos++) {
            if (c[pos] == c[pos + 1])
                continue;
            char t[PT_CODE_LEN + 1];
            memcpy(t, c, sizeof t);
            t[pos] = c[pos + 1];
            t[pos + 1] = c[pos];
            char out[PT_CODE_LEN + 1];
            cr_assert_eq(norm(t, NULL, out, NULL), PT_EINVAL, "%s -> %s accepted", c, t);
            swaps++;
        }
    }
    cr_expect_gt(swaps, 300 * 12);
}

Test(code, a_check_over_every_position_pair_of_values)
{
    /* The same, exhaustively over values instead of random codes: for each
     * adjacent pair of positions (the check included) and each pair of
     * distinct values, the swap changes the weighted sum. */
    const char *a = PT_CODE_ALPHABET;
    for (size_t pos = 0; pos + 1 < PT_CODE_LEN; pos++) {
        for (size_t x = 0; x < ALPHA_N; x++) {
            for (size_t y = 0; y < ALPHA_N; y++) {
                char c[PT_CODE_LEN + 1];
                memset(c, '2', PT_CODE_LEN);
                c[PT_CODE_LEN] = '\0';
                c[pos] = a[x];
                if (pos + 1 < PT_CODE_DATA)
                    c[pos + 1] = a[y];
                c[PT_CODE_DATA] = pt_code_check(c);
                if (pos + 1 == PT_CODE_DATA && c[PT_CODE_DATA] != a[y])
                    continue; /* the check is what it is; pairs with it come from x */
                char out[PT_CODE_LEN + 1];
                cr_assert_eq(norm(c, NULL, out, NULL), 0, "%s", c);
                if (x == y)
                    continue;
                char t = c[pos];
                c[pos] = c[pos + 1];
                c[pos + 1] = t;
                cr_assert_eq(norm(c, NULL, out, NULL), PT_EINVAL, "swap at %zu in %s", pos, c);
            }
        }
    }
}

/* ---- error messages ---- */

Test(code, a_symbol_outside_the_alphabet_is_named_with_its_position)
{
    char c[PT_CODE_LEN + 1], p[PT_CODE_PRINT_MAX];
    memcpy(c, "ABCDEFGHJKMNP", PT_CODE_DATA);
    c[PT_CODE_DATA] = pt_code_check(c);
    c[PT_CODE_LEN] = '\0';
    pt_code_print(c, NULL, p); /* ABCD-EFGH-JKMN-P? */
    expect_norm(p, NULL, c);

    char t[PT_CODE_PRINT_MAX];
    memcpy(t, p, sizeof t);
    t[4] = 'O'; /* replaces the first '-': 17 bytes, 15 symbols */
    expect_bad(t, NULL, "15 characters", 0);

    memcpy(t, p, sizeof t);
    t[5] = 'O';
    expect_bad(t, NULL, "character 'O' at position 6 is not used in codes", 6);
    t[5] = 'o';
    expect_bad(t, NULL, "character 'o' at position 6 is not used in codes", 6);
    memcpy(t, p, sizeof t);
    t[0] = '0';
    expect_bad(t, NULL, "character '0' at position 1 is not used in codes", 1);
    memcpy(t, p, sizeof t);
    t[16] = 'l';
    expect_bad(t, NULL, "character 'l' at position 17", 17);
    memcpy(t, p, sizeof t);
    t[10] = '1';
    expect_bad(t, NULL, "character '1' at position 11", 11);
    memcpy(t, p, sizeof t);
    t[2] = 'I';
    expect_bad(t, NULL, "character 'I' at position 3", 3);
    memcpy(t, p, sizeof t);
    t[7] = '_';
    expect_bad(t, NULL, "character '_' at position 8", 8);

    /* the position counts bytes as typed, spaces and dashes included */
    expect_bad("  abcd efgh jkmn p*", NULL, "character '*' at position 19", 19);
    /* bytes that are not printable are shown in hex */
    char u[PT_CODE_PRINT_MAX];
    memcpy(u, p, sizeof u);
    u[1] = (char)0xc3;
    expect_bad(u, NULL, "byte 0xc3 at position 2 is not used in codes", 2);
}

Test(code, a_nul_byte_inside_is_an_error_not_an_end)
{
    char c[PT_CODE_LEN + 1];
    pt_code_new(c);
    char t[PT_CODE_LEN];
    memcpy(t, c, PT_CODE_LEN);
    t[3] = '\0';
    char out[PT_CODE_LEN + 1];
    struct pt_err e = {0};
    cr_assert_eq(pt_code_normalize(t, PT_CODE_LEN, NULL, out, &e), PT_EINVAL);
    cr_assert_str_eq(e.msg, "byte 0x00 at position 4 is not used in codes");
    /* and a code without its NUL, exactly len bytes, is read */
    memcpy(t, c, PT_CODE_LEN);
    cr_assert_eq(pt_code_normalize(t, PT_CODE_LEN, NULL, out, &e), 0, "%s", e.msg);
    cr_assert_str_eq(out, c);
}

Test(code, wrong_lengths_are_reported)
{
    expect_bad("", NULL, "the code is empty", 0);
    expect_bad(" - -\t", NULL, "the code is empty", 0);
    expect_bad("ABCD-EFGH-JKMN-P", NULL, "the code has 13 characters, but a code has 14", 0);
    expect_bad("ABCD-EFGH-JKMN-PQR", NULL, "the code has 15 characters", 0);
    expect_bad("A", NULL, "the code has 1 character,", 0);
    expect_bad("SUMMER-ABCD-EFGH-JKMN-P", "SUMMER", "13 characters after the prefix", 0);
    expect_bad("SUMMER-", "SUMMER", "only the prefix SUMMER was given", 0);
    char out[PT_CODE_LEN + 1] = "x";
    cr_assert_eq(pt_code_normalize(NULL, 0, NULL, out, NULL), PT_EINVAL);
    cr_assert_eq(out[0], '\0');
}

Test(code, a_wrong_check_symbol_is_a_typo)
{
    char c[PT_CODE_LEN + 1];
    pt_code_new(c);
    c[PT_CODE_DATA] = c[PT_CODE_DATA] == 'Z' ? 'Y' : 'Z';
    expect_bad(c, NULL, "the code has a typo: its check character does not match", 0);
}

/* ---- prefixes ---- */

Test(code, prefixes)
{
    char c[PT_CODE_LEN + 1], p[PT_CODE_PRINT_MAX], q[PT_CODE_PRINT_MAX];
    pt_code_new(c);
    pt_code_print(c, NULL, p);
    pt_code_print(c, "", q);
    cr_assert_str_eq(p, q, "an empty prefix prints nothing");

    /* a prefix of code symbols, one with look-alikes, and digits */
    const char *prefixes[] = {"SUMMER", "BLACK0FRIDAY", "2024", "X", "ABCDEFGHJKMNPQRS"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        const char *pre = prefixes[i];
        cr_assert(pt_code_prefix_ok(pre), "%s", pre);
        pt_code_print(c, pre, q);
        cr_assert_eq(strlen(q), strlen(pre) + 1 + 17, "%s", q);
        expect_norm(q, pre, c); /* with the prefix */
        expect_norm(p, pre, c); /* the shop's prefix left out */
        expect_norm(c, pre, c); /* canonical */
        expect_norm(q + strlen(pre) + 1, pre, c);
        /* typed in lower case, without the dash */
        char l[PT_CODE_PRINT_MAX];
        size_t n = 0;
        for (size_t k = 0; q[k]; k++) {
            if (k == strlen(pre))
                continue;
            char ch = q[k];
            l[n++] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
        }
        l[n] = '\0';
        expect_norm(l, pre, c);
        /* without telling normalize about the prefix it is just too long */
        char out[PT_CODE_LEN + 1];
        struct pt_err e = {0};
        cr_assert_eq(norm(q, NULL, out, &e), PT_EINVAL, "%s", q);
    }
    /* another shop's prefix is not stripped */
    pt_code_print(c, "WINTER", q);
    expect_bad(q, "SUMMER", "the code has 20 characters", 0);
    /* a prefix that is a code's own start is not stripped from a whole code */
    char pre[5];
    memcpy(pre, c, 4);
    pre[4] = '\0';
    expect_norm(c, pre, c);
    expect_norm(p, pre, c);
}

Test(code, print_truncates_an_overlong_prefix)
{
    char c[PT_CODE_LEN + 1], q[PT_CODE_PRINT_MAX];
    pt_code_new(c);
    pt_code_print(c, "ABCDEFGHJKMNPQRSTUVWXYZ23456789ABCDEFGH", q);
    cr_assert_eq(strlen(q), PT_CODE_MAX_PREFIX + 1 + 17);
    cr_assert_lt(strlen(q), PT_CODE_PRINT_MAX);
}

Test(code, prefix_ok)
{
    cr_expect(pt_code_prefix_ok("SUMMER"));
    cr_expect(pt_code_prefix_ok("A"));
    cr_expect(pt_code_prefix_ok("2024"));
    cr_expect(pt_code_prefix_ok("O0IL1"));
    cr_expect(pt_code_prefix_ok("ABCDEFGHIJKLMNOP")); /* 16 */
    cr_expect_not(pt_code_prefix_ok("ABCDEFGHIJKLMNOPQ"));
    cr_expect_not(pt_code_prefix_ok(""));
    cr_expect_not(pt_code_prefix_ok(NULL));
    cr_expect_not(pt_code_prefix_ok("summer"));
    cr_expect_not(pt_code_prefix_ok("SUM-MER"));
    cr_expect_not(pt_code_prefix_ok("SUM MER"));
    cr_expect_not(pt_code_prefix_ok("SUMMER\xc3\x89"));
}

/* ---- batches ---- */

static int cmp_code(const void *a, const void *b)
{
    return memcmp(a, b, PT_CODE_LEN);
}

struct taken_ctx {
    size_t calls;
    size_t refused;
};

static int starts_with_a(void *ctx, const char *code)
{
    struct taken_ctx *t = ctx;
    t->calls++;
    cr_assert_eq(strlen(code), PT_CODE_LEN);
    if (code[0] == 'A') {
        t->refused++;
        return 1;
    }
    return 0;
}

Test(code, batch_gives_distinct_valid_codes_none_taken)
{
    size_t n = 200000;
    char *codes = NULL;
    struct taken_ctx t = {0, 0};
    cr_assert_eq(pt_code_batch(n, starts_with_a, &t, &codes), 0);
    cr_assert_not_null(codes);
    for (size_t i = 0; i < n; i++) {
        const char *c = codes + i * (PT_CODE_LEN + 1);
        expect_canonical(c);
        cr_assert_neq(c[0], 'A', "%s was taken", c);
    }
    /* 1/31 of the candidates start with 'A' */
    cr_expect_eq(t.calls, n + t.refused);
    cr_expect_gt(t.refused, n / 31 / 2);
    cr_expect_lt(t.refused, n / 31 * 2);
    qsort(codes, n, PT_CODE_LEN + 1, cmp_code);
    for (size_t i = 1; i < n; i++)
        cr_assert_neq(cmp_code(codes + (i - 1) * (PT_CODE_LEN + 1), codes + i * (PT_CODE_LEN + 1)),
                      0, "duplicate");
    /* symbols are spread evenly: every symbol at every position */
    size_t count[PT_CODE_DATA][ALPHA_N];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < PT_CODE_DATA; k++)
            count[k]
                 [strchr(PT_CODE_ALPHABET, codes[i * (PT_CODE_LEN + 1) + k]) - PT_CODE_ALPHABET]++;
    for (size_t k = 1; k < PT_CODE_DATA; k++)
        for (size_t s = 0; s < ALPHA_N; s++)
            cr_expect(count[k][s] > n / 31 * 9 / 10 && count[k][s] < n / 31 * 11 / 10,
                      "position %zu symbol %c: %zu", k, PT_CODE_ALPHABET[s], count[k][s]);
    pt_free(codes);
}

Test(code, batch_without_callback_and_small_sizes)
{
    char *codes = NULL;
    cr_assert_eq(pt_code_batch(0, NULL, NULL, &codes), 0);
    pt_free(codes);
    cr_assert_eq(pt_code_batch(1, NULL, NULL, &codes), 0);
    expect_canonical(codes);
    pt_free(codes);
    cr_assert_eq(pt_code_batch(1000, NULL, NULL, &codes), 0);
    for (size_t i = 0; i < 1000; i++)
        expect_canonical(codes + i * (PT_CODE_LEN + 1));
    pt_free(codes);
}

static int always_taken(void *ctx, const char *code)
{
    (void)code;
    ++*(size_t *)ctx;
    return 1;
}

static int store_error(void *ctx, const char *code)
{
    (void)code;
    return ++*(size_t *)ctx == 10 ? PT_EIO : 0;
}

Test(code, batch_stops_on_a_broken_callback)
{
    char *codes = (char *)"x";
    size_t calls = 0;
    cr_assert_eq(pt_code_batch(10, always_taken, &calls, &codes), PT_EINVAL);
    cr_expect_null(codes);
    cr_expect_eq(calls, 10 / 4 + 1000 + 1);
    calls = 0;
    cr_assert_eq(pt_code_batch(100, store_error, &calls, &codes), PT_EIO);
    cr_expect_null(codes);
    cr_expect_eq(calls, 10);
}

Test(code, batch_out_of_memory)
{
    char *codes = NULL;
    for (unsigned long k = 1; k <= 4; k++) {
        pt_mem_fail_after(k);
        int rc = pt_code_batch(100, NULL, NULL, &codes);
        pt_mem_fail_after(0);
        if (rc == 0) {
            pt_free(codes);
            continue;
        }
        cr_assert_eq(rc, PT_ENOMEM);
        cr_assert_null(codes);
    }
    cr_assert_eq(pt_code_batch(SIZE_MAX / 4, NULL, NULL, &codes), PT_ENOMEM);
    cr_assert_eq(pt_code_batch(SIZE_MAX, NULL, NULL, &codes), PT_ENOMEM);
    cr_assert_null(codes);
}
