/* test_rfm.c - RFM scoring and segments (rfm/rfm.h) against RFM-SPEC.md. */
#include <criterion/criterion.h>
#include <string.h>

#include "rfm/rfm.h"
#include "ingest/fields.h"
#include "util/hash.h"

static const char *seg(int r, int f)
{
    return pt_rfm_segment_names[pt_rfm_segment(r, f)];
}

Test(rfm, segment_grid_matches_spec_table)
{
    /* Rows R=5..1, columns F=1..5, as in RFM-SPEC.md. */
    static const char *grid[5][5] = {
        {"New Customers", "Potential Loyalists", "Potential Loyalists", "Champions", "Champions"},
        {"Promising", "Potential Loyalists", "Potential Loyalists", "Loyal Customers",
         "Loyal Customers"},
        {"About to Sleep", "About to Sleep", "Need Attention", "Loyal Customers",
         "Loyal Customers"},
        {"Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"},
        {"Lost", "Lost", "At Risk", "At Risk", "Can't Lose Them"},
    };
    for (int r = 5; r >= 1; r--)
        for (int f = 1; f <= 5; f++)
            cr_expect_str_eq(seg(r, f), grid[5 - r][f - 1], "R=%d F=%d", r, f);
}

Test(rfm, quintile_formula)
{
    cr_expect_eq(pt_rfm_quintile(1, 10), 1);
    cr_expect_eq(pt_rfm_quintile(2, 10), 1);
    cr_expect_eq(pt_rfm_quintile(3, 10), 2);
    cr_expect_eq(pt_rfm_quintile(10, 10), 5);
    cr_expect_eq(pt_rfm_quintile(1, 1), 1);
    /* 55 % ties at the bottom: the next value's min-rank is 56 of 100 -> 3. */
    cr_expect_eq(pt_rfm_quintile(56, 100), 3);
}

static void add(struct pt_rfm *x, const char *cid, int64_t t, int64_t amount, uint32_t flags)
{
    struct pt_order o = pt_order_make(cid, (uint32_t)strlen(cid), t, amount, flags);
    cr_assert_eq(pt_rfm_add(x, &o, 1, NULL), 0);
}

Test(rfm, ties_get_equal_scores_and_default_as_of)
{
    struct pt_rfm_opts o = {.threads = 2};
    struct pt_rfm *x = pt_rfm_new(&o);
    /* Two customers with identical behaviour, one better, one worse. */
    add(x, "10", 1000 * 86400, 500, 0);
    add(x, "2", 1000 * 86400, 500, 0);
    add(x, "3", 1001 * 86400 + 5, 900, 0);
    add(x, "3", 999 * 86400, 100, 0);
    add(x, "4", 900 * 86400, 100, 0);
    add(x, "4", 950 * 86400, -300, PT_ORDER_CANCEL);
    const struct pt_rfm_result *r;
    cr_assert_eq(pt_rfm_finish(x, 2, &r, NULL), 0);
    cr_assert_eq(r->n, 4);
    cr_expect_eq(r->as_of, 1002 * 86400, "day after the newest order");
    cr_expect(r->numeric_ids);
    /* Sorted numerically: 2, 3, 4, 10. */
    cr_expect_eq(r->id_len[0], 1);
    cr_expect_eq(r->id[0][0], '2');
    cr_expect_eq(r->id[3][0], '1');
    cr_expect_eq(r->r[0], r->r[3], "ties share a score");
    cr_expect_eq(r->m[0], r->m[3]);
    cr_expect_eq(r->frequency[1], 2);
    cr_expect_eq(r->monetary[1], 1000);
    cr_expect_eq(r->recency[1], 0);
    cr_expect_eq(r->monetary[2], -200, "cancellations net out");
    cr_expect_eq(r->frequency[2], 1);
    pt_rfm_destroy(x);
}
