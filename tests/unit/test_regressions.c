/*
 * test_regressions.c - one test per bug found by review in src/ (fast-path date
 * cache, mismatches at block boundaries, over-long lines across windows,
 * decimal scale limits, stream statistics, the meaning of `dropped`). Each
 * failed once; the comment above each test says how.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ingest/fields.h"
#include "ingest/orders.h"
#include "rfm/rfm.h"
#include "util/mem.h"
#include "util/timeutil.h"

/* ---- the recording sink ---- */

#include "harness_orders.h"


/* ---- checking ---- */

#define HDR "order_id,customer_id,ordered_at,amount\n"

/*
 * 1. orders_fast.c caches the last validated date under the key
 *    ((YYYY * 16 + MM) * 32 + DD) without range-checking MM and DD first, so an
 *    impossible date whose key equals the cached valid date's is accepted as
 *    that date: "2024-01-33" after "2024-02-01" (33 = 32 + 1 carries into the
 *    month), "2023-17-01" after "2024-01-01" (17 = 16 + 1 carries into the year).
 *    Expected: the row is bad ("no such date"), as through the general path.
 *    Actual: rc 0, the order gets 2024-02-01 / 2024-01-01.
 */
Test(regressions, fast_path_date_cache_accepts_impossible_dates)
{
    static const char *const in[] = {
        HDR "1,10,2024-02-01T00:00:00Z,1.00\n"
            "2,11,2024-01-33T00:00:00Z,2.00\n",
        HDR "1,10,2024-01-01T00:00:00Z,1.00\n"
            "2,11,2023-17-01T00:00:00Z,2.00\n",
    };
    static const char *const want[] = {
        "t.csv:3:6: field 'ordered_at': no such date (\"2024-01-33T00:00:00Z\")",
        "t.csv:3:6: field 'ordered_at': no such date (\"2023-17-01T00:00:00Z\")",
    };
    for (int i = 0; i < 2; i++) {
        struct recorder r = {0};
        struct pt_ingest_stats st;
        struct pt_err e;
        int rc = ingest(in[i], MAPPED, (struct pt_ingest_opts){0}, &r, &st, &e);
        cr_expect_eq(rc, PT_EPARSE, "case %d: rc %d, %zu orders", i, rc, r.n);
        cr_expect_str_eq(e.msg, want[i], "case %d", i);
        rec_free(&r);
    }
}

/*
 * 2. Customer mismatch rows are handled differently when a block (read window)
 *    boundary falls inside an order's rows. Rows of order 5: customer 20,
 *    then 21 (a mismatch), then 20 again. With the default block size the 21
 *    row alone is bad and order 5 totals 1.00 + 4.00. With block_size 64 (and
 *    max_record 64) the boundary falls after the first row: the later part
 *    starts a group with customer 21, so the third row (customer 20, which IS
 *    the order's customer) is rejected too, and the order loses its 4.00.
 *    The reader promises the same orders for every block size and thread count.
 *    Expected: bad_rows 1, order of customer 20 amount 500.
 *    Actual (block 64): bad_rows 2, amount 100; rejects has a second line
 *    "5,3,customer_id,order 5 belongs to customer ""21"" (line 4),...".
 */
Test(regressions, mismatch_at_a_block_boundary_rejects_a_good_row)
{
    const char *in = HDR "1,10,2023-01-01T00:00:00Z,1.00\n"
                         "5,20,2023-01-05T00:00:00Z,1.00\n"
                         "5,21,2023-01-05T00:00:00Z,2.00\n"
                         "5,20,2023-01-06T00:00:00Z,4.00\n"
                         "6,30,2023-01-07T00:00:00Z,8.00\n";
    static const size_t blocks[] = {0, 1, 7, 20, 40, 64, 100};
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        for (int how = MAPPED; how <= PIPE; how++) {
            struct recorder r = {0};
            struct pt_ingest_stats st;
            struct pt_err e;
            int rc = ingest(
                in, (enum how)how,
                (struct pt_ingest_opts){.skip_bad = 1, .block_size = blocks[b], .max_record = 64},
                &r, &st, &e);
            cr_assert_eq(rc, 0, "%s", e.msg);
            cr_expect_eq(st.bad_rows, 1, "block %zu, %s", blocks[b], how_name[how]);
            sort_got(&r);
            cr_assert_eq(r.n, 3);
            cr_expect_eq(r.o[1].amount, 500, "block %zu, %s: order 5 has %lld", blocks[b],
                         how_name[how], (long long)r.o[1].amount);
            rec_free(&r);
        }
    }
}

/*
 * 3. A physical line longer than the read window: bad_first_line() consumes
 *    the available part of the line, and the reader then treats the rest as
 *    new records. Every window-sized piece counts as another bad row (all with
 *    the same line number), and the last piece, which is short, is parsed as
 *    a normal row: here "xxx...x,5,2023-01-02T00:00:00Z,1.00" becomes an order
 *    of customer 5. Needs a line longer than block_size + max_record (with the
 *    defaults 16 MiB + 1 MiB; with --max-line-bytes 100 and the default
 *    block, any line over ~16 MiB).
 *    Expected: one bad row (line 3, line too long), orders of customers 10
 *    and 12 only. Actual (mapped memfd): bad_rows 5, an order of customer "5".
 */
Test(regressions, tail_of_an_over_long_line_is_read_as_a_row)
{
    const size_t cap = 4096;
    char *in = malloc(cap);
    cr_assert_not_null(in);
    size_t o = (size_t)snprintf(in, cap, "%s1,10,2023-01-01T00:00:00Z,1.00\n", HDR);
    memset(in + o, 'x', 1000);
    o += 1000;
    snprintf(in + o, cap - o, ",5,2023-01-02T00:00:00Z,1.00\n3,12,2023-01-03T00:00:00Z,3.00\n");
    for (int how = MAPPED; how <= PIPE; how++) {
        struct recorder r = {0};
        struct pt_ingest_stats st;
        struct pt_err e;
        int rc = ingest(in, (enum how)how,
                        (struct pt_ingest_opts){.skip_bad = 1, .block_size = 64, .max_record = 128},
                        &r, &st, &e);
        cr_assert_eq(rc, 0, "%s", e.msg);
        cr_expect_eq(st.bad_rows, 1, "%s", how_name[how]);
        cr_expect_eq(r.n, 2, "%s: %zu orders", how_name[how], r.n);
        for (size_t i = 0; i < r.n; i++)
            cr_expect_str_neq(r.o[i].cid, "5", "%s: the tail of line 3 became an order",
                              how_name[how]);
        rec_free(&r);
    }
    free(in);
}

/*
 * 4. pt_parse_decimal documents scale 0..4 and at most 15 integer digits, but
 *    at scale 4 a 15-digit value times 10^4 does not fit in int64: signed
 *    overflow (undefined behaviour; UBSan aborts) and a wrong, negative result.
 *    Expected: -1 with a reason (or a correct value). Actual: 0 and
 *    -8446744073709551617 for "999999999999999.9999". No caller uses scale 4
 *    today (orders use 2, UCI prices 3).
 */
Test(regressions, decimal_scale_4_overflows)
{
    int64_t v = 0;
    const char *why = NULL;
    int rc = pt_parse_decimal("999999999999999.9999", 20, 4, 0, &v, &why);
    cr_expect_neq(rc, 0, "cannot be represented: %lld", (long long)v);
}

/*
 * (A retry of pt_rfm_finish after a failed one counted customers twice; rfm.h
 * now says only destroy or reset may follow a failure, so there is no test.)
 */
static struct pt_order mk(const char *cid, int64_t t, int64_t amount, uint32_t flags)
{
    return pt_order_make(cid, (uint32_t)strlen(cid), t, amount, flags);
}

/*
 * 6. (doubtful) rfm.h: "dropped: customers without an order before as-of
 *    (cancellations only, or later)". A customer whose only orders are at or
 *    after as-of is never entered (add skips the order before looking the
 *    customer up), so it is not counted in dropped; only cancellations-only
 *    customers are. Expected by the comment: dropped 2. Actual: 1.
 *    Either the comment or the count should change.
 */
Test(regressions, dropped_counts_customers_with_only_later_orders)
{
    const int64_t A = 1793491200;
    struct pt_rfm_opts opts = {.have_as_of = 1, .as_of = A};
    struct pt_rfm *x = pt_rfm_new(&opts);
    struct pt_order o[3] = {mk("1", A - 86400, 100, 0), mk("2", A + 86400, 100, 0),
                            mk("3", A - 86400, -100, PT_ORDER_CANCEL)};
    cr_assert_eq(pt_rfm_add(x, o, 3, NULL), 0);
    const struct pt_rfm_result *r;
    cr_assert_eq(pt_rfm_finish(x, 2, &r, NULL), 0);
    cr_expect_eq(r->n, 1);
    /* rfm.h: customers whose rows all lie at or after as-of are not seen at all. */
    cr_expect_eq(r->dropped, 1, "customer 3 (cancellation only)");
    pt_rfm_destroy(x);
}

/*
 * 7. pt_ingest_stats.orders is documented as "orders given to the sink,
 *    cancellations included", but orders handed to sink->add() on the parser
 *    threads (streaming mode) are not counted: only those that go through
 *    batch() are (each part's first and last groups, carried groups, ...).
 *    Input: 3 orders, sink with add(). Expected st.orders 3. Actual 2.
 *    (With 12000 orders and 1 thread: 2 instead of 12000.)
 */
static atomic_int g_added;
static int count_add(void *ctx, int tid, const struct pt_order *o)
{
    (void)ctx;
    (void)tid;
    (void)o;
    atomic_fetch_add(&g_added, 1);
    return 0;
}

static int count_batch(void *ctx, const struct pt_order *o, size_t n, struct pt_err *e)
{
    (void)o;
    (void)e;
    *(size_t *)ctx += n;
    return 0;
}

static void count_reset(void *ctx)
{
    *(size_t *)ctx = 0;
    atomic_store(&g_added, 0);
}

Test(regressions, stats_orders_leave_out_orders_given_to_add)
{
    const char *in = HDR "1,10,2023-01-01T00:00:00Z,1.00\n"
                         "2,11,2023-01-02T00:00:00Z,2.00\n"
                         "3,12,2023-01-03T00:00:00Z,3.00\n";
    size_t batched = 0;
    struct pt_order_sink sink = {.ctx = &batched,
                                 .batch = count_batch,
                                 .reset = count_reset,
                                 .add = count_add,
                                 .threads = 1};
    struct pt_ingest_stats st;
    struct pt_err e;
    cr_assert_eq(ingest_sink(in, strlen(in), MAPPED, (struct pt_ingest_opts){0}, &sink, &st, &e), 0,
                 "%s", e.msg);
    size_t given = batched + (size_t)atomic_load(&g_added);
    cr_assert_eq(given, 3, "the sink got every order (%zu by batch, %d by add)", batched,
                 atomic_load(&g_added));
    cr_expect_eq(st.orders, given, "st.orders %llu, orders given to the sink %zu",
                 (unsigned long long)st.orders, given);
}
