/*
 * code.h - voucher and referral codes (docs/loyalty.md "Codes").
 *
 * A code is PT_CODE_DATA symbols drawn uniformly from a CSPRNG (libsodium)
 * over an alphabet of 31 symbols without the look-alikes 0 O 1 I L
 * (PT_CODE_ALPHABET), plus one check symbol: 13 x log2(31) = 64.4 random bits.
 * The check symbol is a weighted sum modulo 31 (a prime) with distinct
 * non-zero weights, so every single mistyped symbol and every swap of two
 * neighbouring symbols is detected: with v[i] the value of data symbol i
 * (its index in PT_CODE_ALPHABET), check = sum((i + 1) * v[i]) mod 31. This is
 * part of the stored format: do not change it.
 *
 * Printed form: groups of four joined by '-' ("ABCD-EFGH-JKMN-PQ"), optionally
 * after a shop prefix ("SUMMER-..."). Input is normalised: case-insensitive;
 * '-' and white space ignored. The look-alikes 0 O 1 I L are not mapped to
 * anything (each could stand for two symbols): they are reported as not used
 * in codes, with their position.
 *
 * Layer: loyalty (util, libsodium). Thread-safe (libsodium's randombytes is).
 * Errors: PT_EINVAL for a malformed code (pt_code_normalize says why in e),
 * PT_ENOMEM.
 */
#ifndef PT_LOYALTY_CODE_H
#define PT_LOYALTY_CODE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define PT_CODE_ALPHABET "23456789ABCDEFGHJKMNPQRSTUVWXYZ" /* 31 symbols */
#define PT_CODE_DATA 13       /* random symbols of a code */
#define PT_CODE_LEN 14        /* + the check symbol: the canonical (stored) form */
#define PT_CODE_MAX_PREFIX 16 /* bytes of a prefix: [A-Z0-9], 1..16 */
#define PT_CODE_PRINT_MAX 48  /* buffer for a printed code with prefix and NUL */

/* A fresh random code in canonical form: PT_CODE_LEN symbols + NUL. */
void pt_code_new(char out[PT_CODE_LEN + 1]);
/* The check symbol of PT_CODE_DATA data symbols (in the alphabet, either
 * case); '\0' if one of them is not. */
char pt_code_check(const char *data);
/* Canonical form -> printed: prefix (may be NULL or "") + '-' + groups of 4.
 * The prefix should pass pt_code_prefix_ok; at most PT_CODE_MAX_PREFIX bytes
 * of it are used. */
void pt_code_print(const char *canon, const char *prefix, char out[PT_CODE_PRINT_MAX]);
/* Any typed form (printed, lower case, spaces, with or without the shop's
 * prefix `prefix`, which may be NULL; matched in any case) -> canonical form.
 * The prefix is only stripped when the input is not already a code's length.
 * PT_EINVAL with a reason in e: the wrong length (in symbols, after the
 * prefix), a byte outside the alphabet ("character 'O' at position 5 is not
 * used in codes": the 1-based byte position in `in`, also in e->column), or a
 * check symbol that does not match ("the code has a typo: ..."), checked in
 * that order. Never reads past len; in may hold any bytes, NUL included. */
int pt_code_normalize(const char *in, size_t len, const char *prefix,
                      char out[PT_CODE_LEN + 1], struct pt_err *e);
/* Whether a prefix is acceptable ([A-Z0-9], 1..PT_CODE_MAX_PREFIX bytes). */
int pt_code_prefix_ok(const char *prefix);

/* n distinct fresh codes (canonical, NUL-separated: code i at out + i *
 * (PT_CODE_LEN + 1)) into a new array *out (pt_free), none of which is
 * `taken` (a callback that says whether a code already exists somewhere: 0
 * no, > 0 yes, < 0 an error code that the batch returns; may be NULL). Fast:
 * bulk random bytes, rejection sampling, an open-addressing set for
 * distinctness; 1M codes well under a second. PT_EINVAL if `taken` refuses
 * more than n / 4 + 1000 codes (it must be broken). On error *out is NULL. */
int pt_code_batch(size_t n, int (*taken)(void *ctx, const char *code), void *ctx, char **out);

#endif
