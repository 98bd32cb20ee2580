/* test_fields.c - typed field parsers (ingest/fields.h). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "ingest/fields.h"
#include "util/timeutil.h"

/* ---- decimals ---- */

static void dec_ok(const char *s, int scale, int flags, int64_t want)
{
    int64_t v = -777;
    const char *why = NULL;
    int rc = pt_parse_decimal(s, strlen(s), scale, flags, &v, &why);
    cr_expect_eq(rc, 0, "\"%s\" scale %d: %s", s, scale, why ? why : "");
    cr_expect_eq(v, want, "\"%s\" scale %d: %lld, want %lld", s, scale, (long long)v,
                 (long long)want);
}

static void dec_bad(const char *s, int scale, int flags, const char *want_why)
{
    int64_t v = -777;
    const char *why = NULL;
    int rc = pt_parse_decimal(s, strlen(s), scale, flags, &v, &why);
    cr_expect_eq(rc, -1, "\"%s\" should be rejected", s);
    cr_expect_eq(v, -777, "\"%s\": output untouched on error", s);
    if (rc == -1) {
        cr_assert_not_null(why, "\"%s\": no reason", s);
        cr_expect_str_eq(why, want_why, "\"%s\"", s);
    }
}

Test(fields, decimal_accepts_the_spec_examples)
{
    dec_ok("150.00", 2, 0, 15000);
    dec_ok("150", 2, 0, 15000);
    dec_ok("7.5", 2, 0, 750);
    dec_ok("0.99", 2, 0, 99);
    dec_ok("53.41", 2, 0, 5341);
    dec_ok("0", 2, 0, 0);
    dec_ok("0.0", 2, 0, 0);
    dec_ok(".5", 2, 0, 50);
    dec_ok("007.10", 2, 0, 710);
    dec_ok("999999999999999.99", 2, 0, 99999999999999999);
}

Test(fields, decimal_scales)
{
    dec_ok("2.55", 3, 0, 2550);
    dec_ok("0.001", 3, 0, 1);
    dec_ok("1.5", 0 + 1, 0, 15);
    dec_ok("42", 0, 0, 42);
    dec_bad("1.2345", 4, 0, "unsupported scale"); /* 15 digits x 10^4 would not fit */
    dec_bad("1.5", 0, 0, "too many decimals");
    dec_bad("1.2345", 3, 0, "too many decimals");
}

Test(fields, decimal_negative_only_when_allowed)
{
    dec_bad("-1", 2, 0, "negative");
    dec_bad("-0.01", 2, 0, "negative");
    dec_bad("+1", 2, 0, "sign not allowed");
    dec_bad("+1", 3, PT_DEC_ALLOW_NEG, "sign not allowed");
    dec_ok("-1.25", 3, PT_DEC_ALLOW_NEG, -1250);
    dec_ok("-0.001", 3, PT_DEC_ALLOW_NEG, -1);
    dec_ok("-.5", 3, PT_DEC_ALLOW_NEG, -500);
    dec_bad("-", 3, PT_DEC_ALLOW_NEG, "not a number");
    dec_bad("--1", 3, PT_DEC_ALLOW_NEG, "not a number");
}

Test(fields, decimal_rejects_what_the_spec_forbids)
{
    dec_bad("", 2, 0, "empty");
    dec_bad("1.234", 2, 0, "more than 2 decimals");
    dec_bad("1e5", 2, 0, "exponent not allowed");
    dec_bad("1.5E2", 2, 0, "exponent not allowed");
    dec_bad("1,000", 2, 0, "not a number");
    dec_bad("1 000", 2, 0, "not a number");
    dec_bad(" 1", 2, 0, "not a number");
    dec_bad("1 ", 2, 0, "not a number");
    dec_bad("12.5x", 2, 0, "not a number");
    dec_bad(".", 2, 0, "not a number");
    dec_bad("abc", 2, 0, "not a number");
    dec_bad("1.2.3", 2, 0, "not a number");
    dec_bad("e5", 2, 0, "not a number");
    dec_bad("0x10", 2, 0, "not a number");
    dec_bad("1234567890123456", 2, 0, "more than 15 integer digits");
    dec_bad("1234567890123456.5", 2, 0, "more than 15 integer digits");
}

Test(fields, decimal_reads_only_n_bytes)
{
    int64_t v = 0;
    const char *why = NULL;
    cr_expect_eq(pt_parse_decimal("12.34xyz", 5, 2, 0, &v, &why), 0);
    cr_expect_eq(v, 1234);
    cr_expect_eq(pt_parse_decimal("12.34", 2, 2, 0, &v, &why), 0);
    cr_expect_eq(v, 1200);
}

/* ---- integers ---- */

Test(fields, int_parser)
{
    int64_t v = 0;
    const char *why = NULL;
    cr_expect_eq(pt_parse_int("-12", 3, &v, &why), 0);
    cr_expect_eq(v, -12);
    cr_expect_eq(pt_parse_int("6", 1, &v, &why), 0);
    cr_expect_eq(v, 6);
    cr_expect_eq(pt_parse_int("+6", 2, &v, &why), 0);
    cr_expect_eq(v, 6);
    cr_expect_eq(pt_parse_int("0", 1, &v, &why), 0);
    cr_expect_eq(v, 0);
    cr_expect_eq(pt_parse_int("999999999999999999", 18, &v, &why), 0);
    cr_expect_eq(v, 999999999999999999LL);
    cr_expect_eq(pt_parse_int("-999999999999999999", 19, &v, &why), 0);
    cr_expect_eq(v, -999999999999999999LL);

    v = 5;
    cr_expect_eq(pt_parse_int("", 0, &v, &why), -1);
    cr_expect_str_eq(why, "empty");
    cr_expect_eq(pt_parse_int("-", 1, &v, &why), -1);
    cr_expect_str_eq(why, "not a number");
    cr_expect_eq(pt_parse_int("1.0", 3, &v, &why), -1);
    cr_expect_str_eq(why, "not an integer");
    cr_expect_eq(pt_parse_int("12a", 3, &v, &why), -1);
    cr_expect_str_eq(why, "not an integer");
    cr_expect_eq(pt_parse_int(" 1", 2, &v, &why), -1);
    cr_expect_eq(pt_parse_int("1000000000000000000", 19, &v, &why), -1);
    cr_expect_str_eq(why, "more than 18 digits");
    cr_expect_eq(v, 5, "output untouched on error");
}

/* ---- timestamps ---- */

static int64_t utc(int64_t y, int mo, int d, int h, int mi, int s)
{
    return pt_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static void time_ok(const char *s, int flags, int64_t want)
{
    int64_t v = -1;
    const char *why = NULL;
    int rc = pt_parse_time(s, strlen(s), flags, &v, &why);
    cr_expect_eq(rc, 0, "\"%s\": %s", s, why ? why : "");
    cr_expect_eq(v, want, "\"%s\": %lld, want %lld", s, (long long)v, (long long)want);
}

static void time_bad(const char *s, int flags, const char *want_why)
{
    int64_t v = -1;
    const char *why = NULL;
    int rc = pt_parse_time(s, strlen(s), flags, &v, &why);
    cr_expect_eq(rc, -1, "\"%s\" should be rejected (got %lld)", s, (long long)v);
    if (rc == -1) {
        cr_assert_not_null(why);
        cr_expect_str_eq(why, want_why, "\"%s\"", s);
    }
}

Test(fields, time_iso_forms)
{
    const int64_t A = 1793491200; /* 2026-11-01T00:00:00Z, from the spec */
    time_ok("2026-11-01T00:00:00Z", PT_TIME_ISO, A);
    time_ok("2026-11-01", PT_TIME_ISO, A);
    time_ok("2026-11-01T00:00:00", PT_TIME_ISO, A);
    time_ok("2026-11-01T02:00:00+02:00", PT_TIME_ISO, A);
    time_ok("2026-10-31T19:00:00-05:00", PT_TIME_ISO, A);
    time_ok("2026-11-01T05:30:00+05:30", PT_TIME_ISO, A);
    time_ok("2026-11-01T00:00:00.999Z", PT_TIME_ISO, A);
    time_ok("2026-11-01T00:00:00.123456789+00:00", PT_TIME_ISO, A);
    time_ok("2026-10-31T23:59:59Z", PT_TIME_ISO, A - 1);
    time_ok("2023-11-01T00:12:05Z", PT_TIME_ISO, utc(2023, 11, 1, 0, 12, 5));
    time_ok("1970-01-01T00:00:00Z", PT_TIME_ISO, 0);
    time_ok("1969-12-31T23:59:59Z", PT_TIME_ISO, -1);
    time_ok("2024-02-29T12:00:00Z", PT_TIME_ISO, utc(2024, 2, 29, 12, 0, 0));
    time_ok("2000-02-29", PT_TIME_ISO, utc(2000, 2, 29, 0, 0, 0));
    time_ok("9999-12-31T23:59:59Z", PT_TIME_ISO, 253402300799);
}

Test(fields, time_rejects_impossible_dates_and_times)
{
    time_bad("2023-02-29T00:00:00Z", PT_TIME_ISO, "no such date");
    time_bad("1900-02-29", PT_TIME_ISO, "no such date");
    time_bad("2023-13-01T00:00:00Z", PT_TIME_ISO, "no such date");
    time_bad("2023-00-10T00:00:00Z", PT_TIME_ISO, "no such date");
    time_bad("2023-04-31T00:00:00Z", PT_TIME_ISO, "no such date");
    time_bad("2023-04-00", PT_TIME_ISO, "no such date");
    time_bad("2023-01-01T24:00:00Z", PT_TIME_ISO, "no such time");
    time_bad("2023-01-01T25:61:00Z", PT_TIME_ISO, "no such time");
    time_bad("2023-01-01T23:60:00Z", PT_TIME_ISO, "no such time");
    time_bad("2023-01-01T23:59:60Z", PT_TIME_ISO, "no such time");
}

Test(fields, time_rejects_malformed_text)
{
    time_bad("", PT_TIME_ISO, "empty");
    time_bad("2023-1-01T00:00:00Z", PT_TIME_ISO, "not a date-time");
    time_bad("2023/01/01", PT_TIME_ISO, "not a date-time");
    time_bad("01-01-2023", PT_TIME_ISO, "not a date-time");
    time_bad("2023-01-01 00:00:00Z", PT_TIME_ISO, "not a date-time");
    time_bad("2023-01-01T00:00Z", PT_TIME_ISO, "not a date-time");
    time_bad("2023-01-01T00:00:00ZZ", PT_TIME_ISO, "not a date-time");
    time_bad("2023-01-01T00:00:00.Z", PT_TIME_ISO, "not a date-time");
    time_bad("2023-01-01T00:00:00.1234567890Z", PT_TIME_ISO, "not a date-time");
    time_bad("2023-01-01T00:00:00+0100", PT_TIME_ISO, "not a date-time");
    time_bad("2023-01-01T00:00:00 ", PT_TIME_ISO, "not a date-time");
    time_bad("2023-01-01T", PT_TIME_ISO, "not a date-time");
    time_bad("2023-01-01T00:00:00+24:00", PT_TIME_ISO, "bad time zone offset");
    time_bad("2023-01-01T00:00:00+01:60", PT_TIME_ISO, "bad time zone offset");
    time_bad("2023-01-01T00:00:00+0a:00", PT_TIME_ISO, "bad time zone offset");
    time_bad("1700000000", PT_TIME_ISO, "not a date-time");
}

Test(fields, time_uci_form)
{
    const int flags = PT_TIME_SPACE_SEP;
    time_ok("2010-12-01 08:26:00", flags, utc(2010, 12, 1, 8, 26, 0));
    time_ok("2011-12-09 12:50:00", flags, utc(2011, 12, 9, 12, 50, 0));
    time_bad("2010-12-01T08:26:00", flags, "not a date-time");
    time_bad("2010-12-01", flags, "date without a time");
    time_bad("2010-12-01 08:26:00Z", flags, "not a date-time");
    time_bad("2010-12-01 08:26:00.5", flags, "not a date-time");
    time_bad("2010-12-01 8:26:00", flags, "not a date-time");
    /* T form without the date-only flag. */
    time_bad("2010-12-01", PT_TIME_T_SEP, "date without a time");
}

/* ---- ids ---- */

static void id_ok(const char *s, size_t n, int flags)
{
    const char *why = NULL;
    cr_expect_eq(pt_check_id(s, n, flags, &why), 0, "id of %zu bytes: %s", n, why ? why : "");
}

static void id_bad(const char *s, size_t n, int flags, const char *want_why)
{
    const char *why = NULL;
    int rc = pt_check_id(s, n, flags, &why);
    cr_expect_eq(rc, -1, "id of %zu bytes should be rejected", n);
    if (rc == -1)
        cr_expect_str_eq(why, want_why);
}

Test(fields, id_check)
{
    char big[200];
    memset(big, 'x', sizeof big);
    id_ok("5484", 4, PT_ID_UTF8);
    id_ok("cust-abc", 8, PT_ID_UTF8);
    id_ok("-17", 3, PT_ID_UTF8);
    id_ok("a b", 3, PT_ID_UTF8);
    id_ok(big, 128, PT_ID_UTF8);
    id_bad(big, 129, PT_ID_UTF8, "longer than 128 bytes");
    id_bad("", 0, PT_ID_UTF8, "empty");
    id_bad("", 0, 0, "empty");
    id_bad("a\tb", 3, PT_ID_UTF8, "control character");
    id_bad("a\nb", 3, 0, "control character");
    id_bad("ab\x7f", 3, 0, "control character");
    id_bad("a\0b", 3, 0, "control character");
}

Test(fields, id_utf8)
{
    id_ok("Zo\xc3\xab", 4, PT_ID_UTF8); /* Zoë */
    id_ok("\xe2\x82\xac"
          "5",
          4, PT_ID_UTF8);                                       /* €5 */
    id_ok("\xf0\x9f\x98\x80", 4, PT_ID_UTF8);                   /* U+1F600 */
    id_ok("\xf4\x8f\xbf\xbf", 4, PT_ID_UTF8);                   /* U+10FFFF */
    id_bad("\xc3\x28", 2, PT_ID_UTF8, "invalid UTF-8");         /* bad continuation */
    id_bad("\xc0\xaf", 2, PT_ID_UTF8, "invalid UTF-8");         /* overlong '/' */
    id_bad("\xe0\x80\xaf", 3, PT_ID_UTF8, "invalid UTF-8");     /* overlong */
    id_bad("\xed\xa0\x80", 3, PT_ID_UTF8, "invalid UTF-8");     /* surrogate */
    id_bad("\xf4\x90\x80\x80", 4, PT_ID_UTF8, "invalid UTF-8"); /* > U+10FFFF */
    id_bad("a\xe2\x82", 3, PT_ID_UTF8, "invalid UTF-8");        /* truncated */
    id_bad("\x80", 1, PT_ID_UTF8, "invalid UTF-8");             /* lone continuation */
    id_bad("\xff", 1, PT_ID_UTF8, "invalid UTF-8");
    /* Without the flag any byte >= 0x80 is fine (order ids). */
    id_ok("\xc3\x28", 2, 0);
    id_ok("\xff", 1, 0);
    /* A truncated sequence must not make the check read past n. */
    id_bad("\xe2\x82\xac", 2, PT_ID_UTF8, "invalid UTF-8");
}

/* ---- canonical integers ---- */

Test(fields, canonical_uint)
{
    uint64_t v = 0;
    cr_expect_eq(pt_canonical_uint("0", 1, &v), 1);
    cr_expect_eq(v, 0);
    cr_expect_eq(pt_canonical_uint("9821", 4, &v), 1);
    cr_expect_eq(v, 9821);
    cr_expect_eq(pt_canonical_uint("999999999999999999", 18, &v), 1);
    cr_expect_eq(v, 999999999999999999ULL);
    v = 3;
    cr_expect_eq(pt_canonical_uint("1000000000000000000", 19, &v), 0);
    cr_expect_eq(pt_canonical_uint("007", 3, &v), 0);
    cr_expect_eq(pt_canonical_uint("00", 2, &v), 0);
    cr_expect_eq(pt_canonical_uint("", 0, &v), 0);
    cr_expect_eq(pt_canonical_uint("-1", 2, &v), 0);
    cr_expect_eq(pt_canonical_uint("+1", 2, &v), 0);
    cr_expect_eq(pt_canonical_uint("12a", 3, &v), 0);
    cr_expect_eq(pt_canonical_uint("1.0", 3, &v), 0);
    cr_expect_eq(v, 3, "untouched when not canonical");
}

Test(fields, nonneg_int64)
{
    uint64_t v = 0;
    cr_expect_eq(pt_nonneg_int64("007", 3, &v), 1);
    cr_expect_eq(v, 7);
    cr_expect_eq(pt_nonneg_int64("0", 1, &v), 1);
    cr_expect_eq(v, 0);
    cr_expect_eq(pt_nonneg_int64("9223372036854775807", 19, &v), 1);
    cr_expect_eq(v, 9223372036854775807ULL);
    v = 3;
    cr_expect_eq(pt_nonneg_int64("9223372036854775808", 19, &v), 0);
    cr_expect_eq(pt_nonneg_int64("18446744073709551616", 20, &v), 0);
    cr_expect_eq(pt_nonneg_int64("", 0, &v), 0);
    cr_expect_eq(pt_nonneg_int64("-1", 2, &v), 0);
    cr_expect_eq(pt_nonneg_int64("1e3", 3, &v), 0);
    cr_expect_eq(pt_nonneg_int64("cust-1", 6, &v), 0);
    cr_expect_eq(v, 3);
}
