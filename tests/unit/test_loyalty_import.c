/* test_loyalty_import.c - the members CSV of a loyalty import (loyalty/import.h). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "loyalty/import.h"
#include "util/buf.h"
#include "util/mem.h"

static void parse_ok(const char *csv, struct pt_loy_import *im)
{
    struct pt_err e;
    int rc = pt_loy_import_parse(csv, strlen(csv), im, &e);
    cr_assert_eq(rc, 0, "rejected: %s\n%s", e.msg, csv);
}

static void expect_row(const struct pt_loy_import *im, size_t i, const char *user, int64_t points,
                       const char *tier, int64_t joined)
{
    cr_assert_lt(i, im->n, "row %zu of %zu", i, im->n);
    const struct pt_loy_import_row *r = &im->rows[i];
    cr_expect_str_eq(r->user_id, user, "row %zu user_id", i);
    cr_expect_eq(r->points, points, "row %zu points %lld, want %lld", i, (long long)r->points,
                 (long long)points);
    if (tier == NULL)
        cr_expect_null(r->tier, "row %zu tier \"%s\", want none", i, r->tier ? r->tier : "");
    else if (r->tier == NULL)
        cr_expect_fail("row %zu: no tier, want \"%s\"", i, tier);
    else
        cr_expect_str_eq(r->tier, tier, "row %zu tier", i);
    cr_expect_eq(r->joined, joined, "row %zu joined %lld, want %lld", i, (long long)r->joined,
                 (long long)joined);
}

/* The CSV must be rejected with code, line, column and a message holding `frag`
 * after the "line N, column C: " prefix. */
static void parse_bad_code(const char *csv, size_t len, int code, uint64_t line, uint64_t col,
                           const char *frag)
{
    struct pt_loy_import im;
    struct pt_err e;
    memset(&e, 0x5a, sizeof e); /* the parser must set every field it reports */
    int rc = pt_loy_import_parse(csv, len, &im, &e);
    cr_expect_eq(rc, code, "rc %d, want %d for:\n%s", rc, code, csv);
    cr_expect_eq(e.code, code, "e.code %d", e.code);
    cr_expect_eq(e.line, line, "line %llu, want %llu: %s", (unsigned long long)e.line,
                 (unsigned long long)line, e.msg);
    cr_expect_eq(e.column, col, "column %llu, want %llu: %s", (unsigned long long)e.column,
                 (unsigned long long)col, e.msg);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "line %llu, column %llu: ", (unsigned long long)line,
             (unsigned long long)col);
    cr_expect(strncmp(e.msg, prefix, strlen(prefix)) == 0, "message \"%s\" lacks \"%s\"", e.msg,
              prefix);
    cr_expect(strstr(e.msg, frag) != NULL, "message \"%s\" lacks \"%s\"", e.msg, frag);
    cr_expect_eq(im.n, 0, "rows returned on error");
    cr_expect_null(im.rows);
    cr_expect_null(im.arena);
    pt_loy_import_release(&im);
}

static void parse_bad(const char *csv, uint64_t line, uint64_t col, const char *frag)
{
    parse_bad_code(csv, strlen(csv), PT_EPARSE, line, col, frag);
}

/* ---- valid files ---- */

Test(loyalty_import, minimal)
{
    struct pt_loy_import im;
    parse_ok("user_id,points\nalice,120\nbob,0\n", &im);
    cr_assert_eq(im.n, 2);
    expect_row(&im, 0, "alice", 120, NULL, 0);
    expect_row(&im, 1, "bob", 0, NULL, 0);
    cr_expect_eq(im.has_tier, 0);
    cr_expect_eq(im.has_joined, 0);
    pt_loy_import_release(&im);
    cr_expect_null(im.rows);
    cr_expect_eq(im.n, 0);
    pt_loy_import_release(&im); /* twice is harmless */
    pt_loy_import_release(NULL);
}

Test(loyalty_import, columns_in_any_order_and_case)
{
    struct pt_loy_import im;
    parse_ok("Joined,TIER,Points,User_Id\n"
             "2024-03-01,Gold,5000,u1\n"
             ",,7,u2\n"
             "2024-03-01T12:30:00Z,Silver,1000000000,u3\n",
             &im);
    cr_assert_eq(im.n, 3);
    expect_row(&im, 0, "u1", 5000, "Gold", 1709251200);
    expect_row(&im, 1, "u2", 7, NULL, 0);
    expect_row(&im, 2, "u3", 1000000000, "Silver", 1709251200 + 12 * 3600 + 30 * 60);
    cr_expect_eq(im.has_tier, 1);
    cr_expect_eq(im.has_joined, 1);
    pt_loy_import_release(&im);
}

Test(loyalty_import, optional_columns_alone)
{
    struct pt_loy_import im;
    parse_ok("points,user_id,joined\n3,x,2020-01-01T00:00:00+02:00\n", &im);
    expect_row(&im, 0, "x", 3, NULL, 1577829600);
    cr_expect_eq(im.has_tier, 0);
    pt_loy_import_release(&im);
    parse_ok("tier,user_id,points\nBronze,y,9\n", &im);
    expect_row(&im, 0, "y", 9, "Bronze", 0);
    cr_expect_eq(im.has_joined, 0);
    pt_loy_import_release(&im);
}

Test(loyalty_import, crlf_bom_no_final_newline_and_blank_trailing_lines)
{
    struct pt_loy_import im;
    parse_ok("\xEF\xBB\xBFuser_id,points\r\na,1\r\nb,2", &im);
    cr_assert_eq(im.n, 2);
    expect_row(&im, 0, "a", 1, NULL, 0);
    expect_row(&im, 1, "b", 2, NULL, 0);
    pt_loy_import_release(&im);
    parse_ok("user_id,points\r\na,1\r\n\r\n", &im);
    cr_expect_eq(im.n, 1);
    pt_loy_import_release(&im);
    parse_ok("user_id,points\na,1\n\n\n", &im);
    cr_expect_eq(im.n, 1);
    pt_loy_import_release(&im);
}

Test(loyalty_import, quoted_fields)
{
    struct pt_loy_import im;
    parse_ok("\"user_id\",\"points\",\"tier\"\n"
             "\"a,b\",\"10\",\"Gold \"\"Plus\"\"\"\n"
             "\"zażółć\",007,\"\"\n",
             &im);
    cr_assert_eq(im.n, 2);
    expect_row(&im, 0, "a,b", 10, "Gold \"Plus\"", 0);
    expect_row(&im, 1, "zażółć", 7, NULL, 0);
    pt_loy_import_release(&im);
}

Test(loyalty_import, header_only_and_spaces_around_names)
{
    struct pt_loy_import im;
    parse_ok(" user_id , points\n", &im);
    cr_expect_eq(im.n, 0);
    pt_loy_import_release(&im);
}

Test(loyalty_import, strings_are_in_the_arena)
{
    struct pt_loy_import im;
    parse_ok("user_id,points,tier\nlonger-user-id-number-one,1,Gold\nb,2,Silver\n", &im);
    for (size_t i = 0; i < im.n; i++) {
        const char *u = im.rows[i].user_id, *t = im.rows[i].tier;
        cr_expect(u >= im.arena && u + strlen(u) < im.arena + im.arena_len);
        cr_expect(t >= im.arena && t + strlen(t) < im.arena + im.arena_len);
    }
    pt_loy_import_release(&im);
}

Test(loyalty_import, many_rows_and_limits)
{
    /* 20000 distinct members: the duplicate table grows several times */
    struct pt_buf b;
    pt_buf_init(&b);
    pt_buf_adds(&b, "user_id,points\n");
    for (int i = 0; i < 20000; i++)
        pt_buf_printf(&b, "user-%d,%d\n", i, i);
    struct pt_loy_import im;
    struct pt_err e;
    cr_assert_eq(pt_loy_import_parse(b.data, b.len, &im, &e), 0, "%s", e.msg);
    cr_assert_eq(im.n, 20000);
    expect_row(&im, 19999, "user-19999", 19999, NULL, 0);
    pt_loy_import_release(&im);
    /* the same id at the end: named with both lines */
    pt_buf_adds(&b, "user-123,5\n");
    parse_bad_code(b.data, b.len, PT_EPARSE, 20002, 1, "\"user-123\" is also on line 125");
    /* a row limit */
    struct pt_loy_import_opts o = {.max_rows = 100};
    cr_expect_eq(pt_loy_import_parse_opts(b.data, b.len, &o, &im, &e), PT_ETOOBIG);
    cr_expect_eq(e.line, 102);
    cr_expect(strstr(e.msg, "line 102, column 1: more than 100 members") == e.msg, "%s", e.msg);
    cr_expect_eq(im.n, 0);
    pt_buf_release(&b);
}

static void count_progress(void *ctx, uint64_t done)
{
    uint64_t *last = ctx;
    cr_expect_geq(done, *last);
    *last = done;
}

Test(loyalty_import, progress_reaches_the_end)
{
    const char *csv = "user_id,points\na,1\n";
    uint64_t last = 0;
    struct pt_loy_import_opts o = {.progress = count_progress, .pctx = &last};
    struct pt_loy_import im;
    struct pt_err e;
    cr_assert_eq(pt_loy_import_parse_opts(csv, strlen(csv), &o, &im, &e), 0);
    cr_expect_eq(last, strlen(csv));
    pt_loy_import_release(&im);
}

Test(loyalty_import, out_of_memory_leaves_nothing)
{
    const char *csv = "user_id,points,tier\na,1,Gold\nb,2,Silver\n";
    for (unsigned long k = 1; k < 12; k++) {
        struct pt_loy_import im;
        struct pt_err e;
        pt_mem_fail_after(k);
        int rc = pt_loy_import_parse(csv, strlen(csv), &im, &e);
        pt_mem_fail_after(0);
        if (rc == 0) {
            cr_expect_eq(im.n, 2);
            pt_loy_import_release(&im);
            break;
        }
        cr_expect_eq(rc, PT_ENOMEM, "allocation %lu: %d %s", k, rc, e.msg);
        cr_expect_eq(im.n, 0);
        cr_expect_null(im.rows);
    }
}

/* ---- invalid files ---- */

Test(loyalty_import, empty_file)
{
    parse_bad("", 1, 1, "the file is empty");
    parse_bad("\xEF\xBB\xBF", 1, 1, "the file is empty");
    parse_bad("\n", 1, 1, "the header row is empty");
}

Test(loyalty_import, unknown_columns_are_named)
{
    parse_bad("user_id,points,email\n", 1, 16, "unknown column \"email\"");
    parse_bad(
        "user_id,Email,points,Name\na,b,1,c\n", 1, 9,
        "unknown columns \"Email\", \"Name\" (the columns are user_id, points, tier, joined)");
}

Test(loyalty_import, missing_and_repeated_columns)
{
    parse_bad("user_id,tier\na,Gold\n", 1, 1, "the header has no points column");
    parse_bad("points\n1\n", 1, 1, "the header has no user_id column");
    parse_bad("user_id,points,POINTS\n", 1, 16,
              "column points appears twice in the header "
              "(fields 2 and 3)");
    parse_bad("user_id,,points\n", 1, 9, "field 2 of the header has no column name");
}

Test(loyalty_import, bad_points)
{
    parse_bad("user_id,points\na,1\nb,2\nc,3\nd,4\ne,5\nf,12x\n", 7, 3,
              "points \"12x\" is not a whole number >= 0");
    parse_bad("user_id,points\na,-5\n", 2, 3, "points \"-5\" is not a whole number >= 0");
    parse_bad("user_id,points\na,1.5\n", 2, 3, "points \"1.5\" is not a whole number >= 0");
    parse_bad("user_id,points\na, 1\n", 2, 3, "points \" 1\" is not a whole number >= 0");
    parse_bad("user_id,points\na,\n", 2, 3, "points is empty");
    parse_bad("points,user_id\n1000000001,a\n", 2, 1,
              "points \"1000000001\" is over the limit of 1000000000");
    parse_bad("user_id,points\na,99999999999999999999999\n", 2, 3, "is over the limit");
}

Test(loyalty_import, bad_user_ids)
{
    parse_bad("points,user_id\n5,\n", 2, 3, "user_id is empty");
    char csv[600] = "user_id,points\n";
    size_t n = strlen(csv);
    memset(csv + n, 'x', 257);
    memcpy(csv + n + 257, ",1\n", 4);
    parse_bad(csv, 2, 1, "is 257 bytes; the limit is 256");
    memcpy(csv + n + 256, ",1\n", 4); /* exactly 256 bytes: fine */
    struct pt_loy_import im;
    parse_ok(csv, &im);
    cr_expect_eq(strlen(im.rows[0].user_id), 256);
    pt_loy_import_release(&im);
    parse_bad("user_id,points\n\"a\tb\",1\n", 2, 1,
              "user_id \"a\\x09b\" contains a control character");
    parse_bad("user_id,points\nok,1\n\xC3\x28,1\n", 3, 1, "is not valid UTF-8");
    parse_bad("user_id,points\n\xED\xA0\x80,1\n", 2, 1, "is not valid UTF-8"); /* a surrogate */
}

Test(loyalty_import, duplicate_user_ids_name_both_lines)
{
    parse_bad("user_id,points\na,1\nb,2\na,3\n", 4, 1, "user_id \"a\" is also on line 2");
    /* case matters: ids are exact */
    struct pt_loy_import im;
    parse_ok("user_id,points\na,1\nA,2\n", &im);
    cr_expect_eq(im.n, 2);
    pt_loy_import_release(&im);
}

Test(loyalty_import, bad_tier)
{
    char csv[400] = "user_id,points,tier\na,1,";
    size_t n = strlen(csv);
    memset(csv + n, 'T', 129);
    memcpy(csv + n + 129, "\n", 2);
    parse_bad(csv, 2, 5, "tier \"TTTT");
    parse_bad(csv, 2, 5, "is 129 bytes; the limit is 128");
    parse_bad("user_id,points,tier\na,1,\"Go\nld\"\n", 2, 5,
              "tier \"Go\\x0ald\" contains a control");
}

Test(loyalty_import, bad_joined)
{
    parse_bad("user_id,points,joined\na,1,2024-02-30\n", 2, 5,
              "joined \"2024-02-30\" is not an ISO-8601 date or time");
    parse_bad("user_id,points,joined\na,1,yesterday\n", 2, 5, "joined \"yesterday\" is not");
    parse_bad("user_id,points,joined\na,1,1970-01-01\n", 2, 5, "is not after 1970-01-01T00:00:00Z");
}

Test(loyalty_import, wrong_number_of_fields)
{
    parse_bad("user_id,points\na,1,extra\n", 2, 5, "3 fields, but the header has 2");
    parse_bad("user_id,points,tier\na,1\n", 2, 4, "2 fields, but the header has 3");
}

Test(loyalty_import, blank_line_in_the_middle)
{
    parse_bad("user_id,points\na,1\n\nb,2\n", 3, 1, "blank line");
    parse_bad("user_id,points\r\na,1\r\n\r\n\r\nb,2\r\n", 3, 1, "blank line");
}

Test(loyalty_import, csv_syntax_errors)
{
    parse_bad("user_id,points\na\"b,1\n", 2, 2, "quote character inside an unquoted field");
    parse_bad("user_id,points\n\"ab\"x,1\n", 2, 5, "text after the closing quote");
    parse_bad("user_id,points\nz,1\n\"ab,1\n", 3, 1, "unterminated quoted field");
    parse_bad("user_id,\"points\nx\n", 1, 9, "header: unterminated");
}

Test(loyalty_import, positions_after_a_multi_line_field)
{
    /* a quoted line break inside a record moves the line of what follows */
    parse_bad("user_id,points,tier\na,1,\"x\ny\"\n", 2, 5, "contains a control character");
    parse_bad("user_id,tier,points\na,\"x\ny\",5,extra\n", 3, 6, "4 fields, but the header has 3");
}

Test(loyalty_import, long_values_are_cut_in_messages)
{
    char csv[400] = "user_id,points\na,";
    size_t n = strlen(csv);
    memset(csv + n, '9', 100);
    memcpy(csv + n + 100, "x\n", 3);
    struct pt_loy_import im;
    struct pt_err e;
    cr_assert_eq(pt_loy_import_parse(csv, strlen(csv), &im, &e), PT_EPARSE);
    cr_expect(strstr(e.msg, "...\" is not a whole number") != NULL, "%s", e.msg);
    cr_expect_lt(strlen(e.msg), 120, "%s", e.msg);
}
