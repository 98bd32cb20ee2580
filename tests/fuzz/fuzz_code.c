/*
 * fuzz_code.c - libFuzzer target for code normalisation (loyalty/code.h).
 *
 * Checks, besides memory safety (never reading past len):
 *  - a refused input gives PT_EINVAL, clears out, and a non-empty message;
 *    a position it names (e.column) is inside the input and is a byte that
 *    is not a code symbol;
 *  - an accepted input gives a canonical code (14 alphabet symbols, valid
 *    check), and its printed form, with and without the prefix, in upper and
 *    lower case, normalises back to the same code;
 *  - what is accepted without a prefix is accepted, the same, with one;
 *  - the prefix is taken from the input too: its first byte, if 1..16, is the
 *    length of a prefix read from the following bytes (used if it passes
 *    pt_code_prefix_ok), and the rest is normalised with it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loyalty/code.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void expect_same(const char *typed, const char *prefix, const char *canon)
{
    char out[PT_CODE_LEN + 1];
    check(pt_code_normalize(typed, strlen(typed), prefix, out, NULL) == 0);
    check(memcmp(out, canon, PT_CODE_LEN + 1) == 0);
}

/* Normalise in[0..len) with prefix; returns whether it was accepted. */
static int one(const uint8_t *in, size_t len, const char *prefix, char out[PT_CODE_LEN + 1])
{
    struct pt_err e = {0};
    int rc = pt_code_normalize((const char *)in, len, prefix, out, &e);
    if (rc != 0) {
        check(rc == PT_EINVAL && e.code == PT_EINVAL);
        check(out[0] == '\0');
        check(e.msg[0] != '\0' && memchr(e.msg, '\0', sizeof e.msg) != NULL);
        if (e.column != 0) {
            check(e.column <= len);
            uint8_t c = in[e.column - 1];
            if (c >= 'a' && c <= 'z')
                c = (uint8_t)(c - 'a' + 'A');
            check(c != '-' && c != ' ');
            check(c == '\0' || strchr(PT_CODE_ALPHABET, c) == NULL);
        }
        return 0;
    }
    check(strlen(out) == PT_CODE_LEN);
    for (size_t i = 0; i < PT_CODE_LEN; i++)
        check(strchr(PT_CODE_ALPHABET, out[i]) != NULL);
    check(pt_code_check(out) == out[PT_CODE_DATA]);

    char p[PT_CODE_PRINT_MAX];
    expect_same(out, prefix, out);
    expect_same(out, NULL, out);
    pt_code_print(out, NULL, p);
    expect_same(p, prefix, out);
    expect_same(p, NULL, out);
    if (prefix != NULL && pt_code_prefix_ok(prefix)) {
        pt_code_print(out, prefix, p);
        expect_same(p, prefix, out);
        for (char *q = p; *q; q++)
            if (*q >= 'A' && *q <= 'Z')
                *q = (char)(*q - 'A' + 'a');
        expect_same(p, prefix, out);
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char a[PT_CODE_LEN + 1], b[PT_CODE_LEN + 1];
    int ok = one(data, size, NULL, a);
    /* a prefix may make a longer input acceptable, never a code refused */
    int ok_summer = one(data, size, "SUMMER", b);
    if (ok) {
        check(ok_summer && memcmp(a, b, sizeof a) == 0);
        check(one(data, size, "2024", b));
        check(memcmp(a, b, sizeof a) == 0);
    }

    if (size > 0 && data[0] >= 1 && data[0] <= PT_CODE_MAX_PREFIX && size > data[0]) {
        size_t plen = data[0];
        char prefix[PT_CODE_MAX_PREFIX + 1];
        memcpy(prefix, data + 1, plen);
        prefix[plen] = '\0';
        if (pt_code_prefix_ok(prefix))
            (void)one(data + 1 + plen, size - 1 - plen, prefix, b);
    }
    return 0;
}
