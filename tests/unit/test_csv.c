/* test_csv.c - the RFC 4180 record splitter (ingest/csv.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ingest/csv.h"

#define MAXREC 4096

static char g_scratch[MAXREC];

/* Split the record at s + off (the whole string s is available, at eof).
 * The end is always computed from the start of the string: GCC 12 at -O1 and
 * above folds strlen(literal + a + b) wrongly when a and b are two loads of
 * the same struct member around a call, so tests never strlen() a pointer that
 * was advanced through r.consumed. */
static int next_at(const char *s, size_t off, struct pt_csv_rec *r)
{
    size_t n = strlen(s);
    return pt_csv_next(s + off, s + n, 1, MAXREC, g_scratch, r);
}

static int next_eof(const char *s, struct pt_csv_rec *r)
{
    return next_at(s, 0, r);
}

static void expect_field(const struct pt_csv_rec *r, uint32_t i, const char *want)
{
    cr_assert_lt(i, r->nfields, "field %u of %u", i, r->nfields);
    size_t n = strlen(want);
    cr_expect_eq(r->f[i].len, n, "field %u: length %u, want %zu", i, r->f[i].len, n);
    if (r->f[i].len == n)
        cr_expect(memcmp(r->f[i].p, want, n) == 0, "field %u: \"%.*s\", want \"%s\"", i,
                  (int)r->f[i].len, r->f[i].p, want);
}

Test(csv, simple_record)
{
    const char *s = "a,bc,def\nnext\n";
    struct pt_csv_rec r;
    cr_assert_eq(next_eof(s, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_GOOD);
    cr_expect_eq(r.start, s);
    cr_expect_eq(r.nfields, 3);
    cr_expect_eq(r.raw_len, 8);
    cr_expect_eq(r.consumed, 9);
    cr_expect_eq(r.nlines, 1);
    expect_field(&r, 0, "a");
    expect_field(&r, 1, "bc");
    expect_field(&r, 2, "def");
    cr_expect_eq(r.f[0].raw_off, 0);
    cr_expect_eq(r.f[1].raw_off, 2);
    cr_expect_eq(r.f[2].raw_off, 5);
    /* Unquoted fields are slices of the input. */
    cr_expect_eq(r.f[1].p, s + 2);
    cr_assert_eq(next_at(s, r.consumed, &r), 1);
    cr_expect_eq(r.nfields, 1);
    expect_field(&r, 0, "next");
}

Test(csv, empty_input_returns_zero)
{
    struct pt_csv_rec r;
    const char *s = "";
    cr_expect_eq(pt_csv_next(s, s, 1, MAXREC, g_scratch, &r), 0);
    cr_expect_eq(pt_csv_next(s, s, 0, MAXREC, g_scratch, &r), 0);
}

Test(csv, last_record_without_newline)
{
    const char *s = "x,y";
    struct pt_csv_rec r;
    /* Not at eof: more input could extend the last field. */
    cr_expect_eq(pt_csv_next(s, s + 3, 0, MAXREC, g_scratch, &r), 0);
    cr_assert_eq(pt_csv_next(s, s + 3, 1, MAXREC, g_scratch, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_GOOD);
    cr_expect_eq(r.nfields, 2);
    cr_expect_eq(r.raw_len, 3);
    cr_expect_eq(r.consumed, 3);
    expect_field(&r, 1, "y");
}

Test(csv, trailing_comma_gives_empty_last_field)
{
    struct pt_csv_rec r;
    cr_assert_eq(next_eof("a,\n", &r), 1);
    cr_expect_eq(r.nfields, 2);
    expect_field(&r, 1, "");
    cr_assert_eq(next_eof("a,", &r), 1);
    cr_expect_eq(r.nfields, 2);
    expect_field(&r, 1, "");
    cr_expect_eq(r.consumed, 2);
}

Test(csv, empty_fields_and_blank_line)
{
    struct pt_csv_rec r;
    cr_assert_eq(next_eof(",,\n", &r), 1);
    cr_expect_eq(r.nfields, 3);
    for (uint32_t i = 0; i < 3; i++)
        expect_field(&r, i, "");
    cr_assert_eq(next_eof("\nz\n", &r), 1);
    cr_expect_eq(r.bad, PT_CSV_GOOD);
    cr_expect_eq(r.raw_len, 0);
    cr_expect_eq(r.consumed, 1);
    cr_expect_eq(r.nfields, 1);
    expect_field(&r, 0, "");
}

Test(csv, crlf_line_ends)
{
    const char *s = "a,b\r\nc,\"d\"\r\n\r\n";
    struct pt_csv_rec r;
    size_t off = 0;
    cr_assert_eq(next_at(s, off, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_GOOD);
    expect_field(&r, 0, "a");
    expect_field(&r, 1, "b");
    cr_expect_eq(r.raw_len, 3, "the \\r is not part of the record");
    cr_expect_eq(r.consumed, 5);
    off += r.consumed;
    cr_assert_eq(next_at(s, off, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_GOOD, "quoted field before CRLF: %s", pt_csv_bad_str(r.bad));
    expect_field(&r, 0, "c");
    expect_field(&r, 1, "d");
    cr_expect_eq(r.raw_len, 5);
    cr_expect_eq(r.consumed, 7);
    off += r.consumed;
    cr_assert_eq(off, 12);
    cr_assert_eq(next_at(s, off, &r), 1);
    cr_expect_eq(r.raw_len, 0, "a CRLF blank line is blank");
    cr_expect_eq(r.consumed, 2);
    expect_field(&r, 0, "");
}

Test(csv, cr_inside_a_field_is_kept)
{
    struct pt_csv_rec r;
    cr_assert_eq(next_eof("a\rb,c\n", &r), 1);
    expect_field(&r, 0, "a\rb");
    expect_field(&r, 1, "c");
}

Test(csv, quoted_fields)
{
    const char *s = "\"a,b\",\"\",\"plain\"\n";
    struct pt_csv_rec r;
    cr_assert_eq(next_eof(s, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_GOOD);
    cr_expect_eq(r.nfields, 3);
    expect_field(&r, 0, "a,b");
    expect_field(&r, 1, "");
    expect_field(&r, 2, "plain");
    /* Without "" escapes the text is a slice of the input. */
    cr_expect_eq(r.f[2].p, s + 10);
    cr_expect_eq(r.f[0].raw_off, 0);
    cr_expect_eq(r.f[1].raw_off, 6);
    cr_expect_eq(r.f[2].raw_off, 9);
}

Test(csv, doubled_quotes_are_unescaped_into_scratch)
{
    const char *s = "\"a\"\"b\",\"\"\"\"\"\",\"x\"\"\"\n";
    struct pt_csv_rec r;
    cr_assert_eq(next_eof(s, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_GOOD);
    cr_expect_eq(r.nfields, 3);
    expect_field(&r, 0, "a\"b");
    expect_field(&r, 1, "\"\"");
    expect_field(&r, 2, "x\"");
    cr_expect(r.f[0].p >= g_scratch && r.f[0].p < g_scratch + MAXREC,
              "escaped field text lives in scratch");
    /* Fields copied into scratch must not overlap each other. */
    cr_expect(r.f[1].p >= r.f[0].p + r.f[0].len);
    cr_expect(r.f[2].p >= r.f[1].p + r.f[1].len);
}

Test(csv, embedded_newlines_count_physical_lines)
{
    const char *s = "1,\"x\ny\nz\",3\nnext\n";
    struct pt_csv_rec r;
    cr_assert_eq(next_eof(s, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_GOOD);
    cr_expect_eq(r.nlines, 3);
    cr_expect_eq(r.nfields, 3);
    expect_field(&r, 1, "x\ny\nz");
    expect_field(&r, 2, "3");
    cr_expect_eq(r.raw_len, 11);
    cr_expect_eq(r.consumed, 12);
    /* The third field is on the record's third line, column 4. */
    uint64_t dl, col;
    pt_csv_position(&r, r.f[2].raw_off, &dl, &col);
    cr_expect_eq(dl, 2);
    cr_expect_eq(col, 4);
    pt_csv_position(&r, r.f[1].raw_off, &dl, &col);
    cr_expect_eq(dl, 0);
    cr_expect_eq(col, 3);
}

Test(csv, quoted_crlf_inside_field_is_kept)
{
    struct pt_csv_rec r;
    cr_assert_eq(next_eof("\"a\r\nb\"\r\n", &r), 1);
    cr_expect_eq(r.bad, PT_CSV_GOOD);
    cr_expect_eq(r.nlines, 2);
    expect_field(&r, 0, "a\r\nb");
    cr_expect_eq(r.consumed, 8);
}

Test(csv, quote_inside_unquoted_field_is_bad)
{
    const char *s = "ab\"c,d\nok\n";
    struct pt_csv_rec r;
    cr_assert_eq(next_eof(s, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_QUOTE_IN_FIELD);
    cr_expect_eq(r.bad_off, 2);
    cr_expect_eq(r.consumed, 7, "the whole line is consumed");
    cr_assert_eq(next_at(s, r.consumed, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_GOOD);
    expect_field(&r, 0, "ok");
}

Test(csv, text_after_closing_quote_is_bad)
{
    const char *s = "x,\"ab\"c,d\nok\n";
    struct pt_csv_rec r;
    cr_assert_eq(next_eof(s, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_TEXT_AFTER_QUOTE);
    cr_expect_eq(r.bad_off, 6);
    cr_expect_eq(r.consumed, 10);
    cr_assert_eq(next_at(s, r.consumed, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_GOOD);
    expect_field(&r, 0, "ok");
}

Test(csv, unterminated_quote_resynchronises_at_next_line)
{
    const char *s = "a,\"open\nb,c\nd\n";
    struct pt_csv_rec r;
    cr_assert_eq(next_eof(s, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_UNTERMINATED);
    cr_expect_eq(r.bad_off, 2, "points at the opening quote");
    cr_expect_eq(r.nlines, 1);
    cr_expect_eq(r.consumed, 8, "only the first physical line");
    cr_expect_eq(r.raw_len, 7);
    cr_assert_eq(next_at(s, r.consumed, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_GOOD);
    expect_field(&r, 0, "b");
    expect_field(&r, 1, "c");
}

Test(csv, open_quote_waits_for_more_input_before_eof)
{
    const char *s = "a,\"open\nb,c\n";
    struct pt_csv_rec r;
    cr_expect_eq(pt_csv_next(s, s + strlen(s), 0, MAXREC, g_scratch, &r), 0);
    /* A closing quote at the very end might be the first half of "". */
    const char *t = "\"ab\"";
    cr_expect_eq(pt_csv_next(t, t + 4, 0, MAXREC, g_scratch, &r), 0);
    cr_assert_eq(pt_csv_next(t, t + 4, 1, MAXREC, g_scratch, &r), 1);
    expect_field(&r, 0, "ab");
}

Test(csv, unterminated_quote_on_last_line)
{
    const char *s = "\"abc";
    struct pt_csv_rec r;
    cr_assert_eq(next_eof(s, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_UNTERMINATED);
    cr_expect_eq(r.consumed, 4);
}

Test(csv, record_over_max_record_is_too_long_and_next_line_is_read)
{
    char scratch[32];
    const char *s = "aaaaaaaaaaaaaaaaaaaaaaaa,b\nc,d\n";
    struct pt_csv_rec r;
    cr_assert_eq(pt_csv_next(s, s + strlen(s), 1, 16, scratch, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_TOO_LONG);
    cr_expect_eq(r.consumed, 27, "skips to the end of the long line");
    cr_assert_eq(pt_csv_next(s + 27, s + strlen(s), 1, 16, scratch, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_GOOD);
    expect_field(&r, 0, "c");
    expect_field(&r, 1, "d");
}

Test(csv, too_long_is_reported_without_eof_once_max_record_is_available)
{
    char scratch[32];
    const char *s = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; /* 36 bytes, no newline yet */
    struct pt_csv_rec r;
    cr_expect_eq(pt_csv_next(s, s + 10, 0, 16, scratch, &r), 0, "could still end in time");
    cr_assert_eq(pt_csv_next(s, s + 36, 0, 16, scratch, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_TOO_LONG);
    cr_expect_gt(r.consumed, 0);
    cr_expect_leq(r.consumed, 36);
}

Test(csv, long_quoted_field_is_too_long)
{
    char scratch[32];
    const char *s = "\"0123456789012345678901234\"\nx\n";
    struct pt_csv_rec r;
    cr_assert_eq(pt_csv_next(s, s + strlen(s), 1, 16, scratch, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_TOO_LONG);
    cr_expect_eq(r.consumed, 28);
}

Test(csv, record_just_under_limit_is_good)
{
    char scratch[32];
    const char *s = "abcdefghijklmn\nxy\n"; /* 14 bytes + newline = 15 < 16 */
    struct pt_csv_rec r;
    cr_assert_eq(pt_csv_next(s, s + strlen(s), 1, 16, scratch, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_GOOD);
    expect_field(&r, 0, "abcdefghijklmn");
}

/* A record may have max_record bytes, not counting its line end. */
Test(csv, record_of_exactly_max_record_bytes)
{
    char scratch[32];
    static const char *const good[] = {"abcdefghijklmnop\nx\n", "abcdefghijklmnop\r\nx\n",
                                       "abcdefgh,ijklmno\nx\n", "\"abcdefghijklmn\"\nx\n",
                                       "abcdefghijklmnop"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const char *s = good[i];
        size_t n = strlen(s);
        struct pt_csv_rec r;
        for (int eof = 0; eof <= 1; eof++) {
            int got = pt_csv_next(s, s + n, eof, 16, scratch, &r);
            if (!eof && i == 4) {
                cr_expect_eq(got, 0, "no line end yet");
                continue;
            }
            cr_assert_eq(got, 1, "case %zu eof %d", i, eof);
            cr_expect_eq(r.bad, PT_CSV_GOOD, "case %zu eof %d: %s", i, eof, pt_csv_bad_str(r.bad));
            cr_expect_eq(r.raw_len, 16, "case %zu", i);
        }
    }
    static const char *const bad[] = {"abcdefghijklmnopq\nx\n", "abcdefghijklmnopq\r\nx\n",
                                      "\"abcdefghijklmno\"\nx\n", "abcdefghijklmnopq"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *s = bad[i];
        size_t n = strlen(s);
        struct pt_csv_rec r;
        cr_assert_eq(pt_csv_next(s, s + n, 1, 16, scratch, &r), 1, "case %zu", i);
        cr_expect_eq(r.bad, PT_CSV_TOO_LONG, "case %zu: %s", i, pt_csv_bad_str(r.bad));
        size_t nl = (size_t)(strchr(s, 'x') ? strchr(s, 'x') - s : (ptrdiff_t)n);
        cr_expect_eq(r.consumed, nl, "case %zu: resumes at the next line", i);
    }
}

Test(csv, too_many_fields)
{
    char line[400];
    size_t o = 0;
    for (int i = 0; i < PT_CSV_MAX_FIELDS; i++)
        o += (size_t)snprintf(line + o, sizeof line - o, "%s%d", i ? "," : "", i % 10);
    strcpy(line + o, "\n");
    struct pt_csv_rec r;
    cr_assert_eq(next_eof(line, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_GOOD, "exactly the maximum is fine");
    cr_expect_eq(r.nfields, PT_CSV_MAX_FIELDS);
    strcpy(line + o, ",9\n");
    cr_assert_eq(next_eof(line, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_TOO_MANY_FIELDS);
    cr_expect_eq(r.nfields, PT_CSV_MAX_FIELDS);
    cr_expect_eq(r.bad_off, o + 1, "points at the first extra field");
    cr_expect_eq(r.consumed, o + 3);
}

/* Every prefix of the input that ends before a record is complete must give
 * "need more input", and the complete record must come out the same as with
 * all input present. */
Test(csv, incremental_input_never_yields_a_wrong_record)
{
    static const char *const inputs[] = {
        "a,b,c\n",         "\"q\"\"x\",\"y\nz\",w\r\n",
        "\"\",\"\"\"\"\n", "1,2023-01-01T00:00:00Z,12.50\r\n",
        "\"a\"\r\n",
    };
    for (size_t t = 0; t < sizeof inputs / sizeof inputs[0]; t++) {
        const char *s = inputs[t];
        size_t n = strlen(s);
        struct pt_csv_rec full;
        char sc_full[MAXREC];
        cr_assert_eq(pt_csv_next(s, s + n, 0, MAXREC, sc_full, &full), 1, "input %zu", t);
        cr_assert_eq(full.consumed, n, "input %zu", t);
        cr_assert_eq(full.bad, PT_CSV_GOOD, "input %zu", t);
        for (size_t k = 0; k < n; k++) {
            struct pt_csv_rec r;
            int got = pt_csv_next(s, s + k, 0, MAXREC, g_scratch, &r);
            cr_expect_eq(got, 0, "input %zu, %zu of %zu bytes: got a record of %zu bytes", t, k, n,
                         got ? r.consumed : 0);
        }
        struct pt_csv_rec r;
        cr_assert_eq(pt_csv_next(s, s + n, 0, MAXREC, g_scratch, &r), 1);
        cr_expect_eq(r.nfields, full.nfields);
        for (uint32_t i = 0; i < r.nfields && i < full.nfields; i++) {
            cr_expect_eq(r.f[i].len, full.f[i].len);
            cr_expect(memcmp(r.f[i].p, full.f[i].p, r.f[i].len) == 0);
        }
    }
}

Test(csv, never_reads_past_end)
{
    /* The byte after `end` is a quote that would close the field. */
    const char *s = "\"abc\"";
    struct pt_csv_rec r;
    cr_assert_eq(pt_csv_next(s, s + 4, 1, MAXREC, g_scratch, &r), 1);
    cr_expect_eq(r.bad, PT_CSV_UNTERMINATED);
    const char *u = "ab,cd";
    cr_assert_eq(pt_csv_next(u, u + 2, 1, MAXREC, g_scratch, &r), 1);
    cr_expect_eq(r.nfields, 1);
    expect_field(&r, 0, "ab");
}

Test(csv, position_counts_lines_and_columns)
{
    const char *s = "ab\ncd\nef";
    struct pt_csv_rec r = {.start = s, .raw_len = 8};
    uint64_t dl, col;
    pt_csv_position(&r, 0, &dl, &col);
    cr_expect_eq(dl, 0);
    cr_expect_eq(col, 1);
    pt_csv_position(&r, 1, &dl, &col);
    cr_expect_eq(dl, 0);
    cr_expect_eq(col, 2);
    pt_csv_position(&r, 3, &dl, &col);
    cr_expect_eq(dl, 1);
    cr_expect_eq(col, 1);
    pt_csv_position(&r, 7, &dl, &col);
    cr_expect_eq(dl, 2);
    cr_expect_eq(col, 2);
}

Test(csv, bad_strings)
{
    cr_expect_str_eq(pt_csv_bad_str(PT_CSV_GOOD), "ok");
    cr_expect_str_eq(pt_csv_bad_str(PT_CSV_UNTERMINATED), "unterminated quoted field");
    cr_expect_str_eq(pt_csv_bad_str(PT_CSV_TOO_LONG), "line too long");
    const char *seen[6];
    for (int b = 0; b <= PT_CSV_TOO_MANY_FIELDS; b++) {
        seen[b] = pt_csv_bad_str((enum pt_csv_bad)b);
        cr_assert_not_null(seen[b]);
        for (int c = 0; c < b; c++)
            cr_expect_str_neq(seen[b], seen[c], "codes %d and %d share a text", b, c);
    }
}
