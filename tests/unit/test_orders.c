/*
 * test_orders.c - the order reader (ingest/orders.h), driven through a
 * memfd (mapped, and read() with no_mmap) and through a pipe, with a sink
 * that records every order it is given.
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
#include "util/timeutil.h"

/* ---- the recording sink ---- */

#include "harness_orders.h"

/* A sink that also takes orders on the parser threads (sink->add). Contract
 * breaches seen on those threads are counted and checked afterwards. */
#define TREC_MAX 8
struct trec {
    struct recorder batch;         /* what batch() got */
    struct recorder tid[TREC_MAX]; /* what add() got, per tid */
    int threads;
    atomic_int busy[TREC_MAX]; /* an add() for this tid is running */
    atomic_int active;         /* add() calls running */
    atomic_int violations;     /* contract breaches */
    atomic_int adds;
    int unflushed[TREC_MAX]; /* add() calls since the last flush() */
};

static int trec_add(void *ctx, int tid, const struct pt_order *o)
{
    struct trec *t = ctx;
    if (tid < 0 || tid >= t->threads) {
        atomic_fetch_add(&t->violations, 1);
        return 0;
    }
    if (atomic_exchange(&t->busy[tid], 1) != 0)
        atomic_fetch_add(&t->violations, 1); /* two calls with one tid at once */
    atomic_fetch_add(&t->active, 1);
    atomic_fetch_add(&t->adds, 1);
    if (rec_push(&t->tid[tid], o))
        atomic_fetch_add(&t->violations, 1);
    t->unflushed[tid]++;
    atomic_fetch_sub(&t->active, 1);
    atomic_store(&t->busy[tid], 0);
    return 0;
}

static int trec_flush(void *ctx, int tid)
{
    struct trec *t = ctx;
    if (tid < 0 || tid >= t->threads) {
        atomic_fetch_add(&t->violations, 1);
        return 0;
    }
    t->unflushed[tid] = 0;
    return 0;
}

static int trec_batch(void *ctx, const struct pt_order *o, size_t n, struct pt_err *e)
{
    struct trec *t = ctx;
    cr_assert_eq(atomic_load(&t->active), 0, "batch() while add() runs");
    return rec_batch(&t->batch, o, n, e);
}

static void trec_reset(void *ctx)
{
    struct trec *t = ctx;
    rec_reset(&t->batch);
    for (int i = 0; i < TREC_MAX; i++) {
        t->tid[i].n = 0;
        t->unflushed[i] = 0;
    }
}

/* Everything the sink got, in one recorder (tids after batch). */
static void trec_collect(struct trec *t, struct recorder *all)
{
    memset(all, 0, sizeof *all);
    for (int i = -1; i < TREC_MAX; i++) {
        struct recorder *r = i < 0 ? &t->batch : &t->tid[i];
        for (size_t k = 0; k < r->n; k++) {
            if (all->n == all->cap) {
                all->cap = all->cap ? all->cap * 2 : 64;
                all->o = realloc(all->o, all->cap * sizeof *all->o);
                cr_assert_not_null(all->o);
            }
            all->o[all->n++] = r->o[k];
        }
    }
}

static void trec_free(struct trec *t)
{
    rec_free(&t->batch);
    for (int i = 0; i < TREC_MAX; i++)
        rec_free(&t->tid[i]);
}

/* ---- feeding input ---- */

/* ---- checking ---- */

static int64_t T(const char *iso)
{
    int64_t t;
    const char *why;
    cr_assert_eq(pt_parse_time(iso, strlen(iso), PT_TIME_ISO | PT_TIME_SPACE_SEP, &t, &why), 0,
                 "%s", iso);
    return t;
}

static void expect_order(const struct recorder *r, size_t i, const char *cid, const char *when,
                         int64_t amount, uint32_t flags)
{
    cr_assert_lt(i, r->n, "order %zu of %zu", i, r->n);
    const struct got *g = &r->o[i];
    cr_expect_str_eq(g->cid, cid, "order %zu: customer", i);
    cr_expect_eq(g->t, T(when), "order %zu: time %lld, want %s", i, (long long)g->t, when);
    cr_expect_eq(g->amount, amount, "order %zu: amount %lld, want %lld", i, (long long)g->amount,
                 (long long)amount);
    cr_expect_eq(g->flags, flags, "order %zu: flags", i);
}

/* The same multiset of orders (order of delivery aside). */
static void expect_same_orders(struct recorder *a, struct recorder *b, const char *what)
{
    sort_got(a);
    sort_got(b);
    cr_assert_eq(a->n, b->n, "%s: %zu orders, want %zu", what, a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        if (cmp_got(&a->o[i], &b->o[i]) != 0 || a->o[i].cid_len != b->o[i].cid_len)
            cr_assert_fail("%s: order %zu: (%s,%lld,%lld,%u), want (%s,%lld,%lld,%u)", what, i,
                           a->o[i].cid, (long long)a->o[i].t, (long long)a->o[i].amount,
                           a->o[i].flags, b->o[i].cid, (long long)b->o[i].t,
                           (long long)b->o[i].amount, b->o[i].flags);
    }
}

/* Read everything written to a tmpfile. */
static char *slurp(FILE *f)
{
    cr_assert_eq(fflush(f), 0);
    long n = ftell(f);
    cr_assert_geq(n, 0);
    char *s = malloc((size_t)n + 1);
    cr_assert_not_null(s);
    rewind(f);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    return s;
}

#define HDR "order_id,customer_id,ordered_at,amount\n"

/* ---- the order layout ---- */

Test(orders, one_row_per_order)
{
    const char *in = HDR "1,9821,2023-11-01T00:12:05Z,53.41\n"
                         "2,77,2023-11-02T10:00:00Z,7.5\n"
                         "3,9821,2023-11-03T00:00:00Z,150\n";
    for (int how = MAPPED; how <= PIPE; how++) {
        struct recorder r = {0};
        struct pt_ingest_stats st;
        struct pt_err e;
        int rc = ingest(in, (enum how)how, (struct pt_ingest_opts){.threads = 1}, &r, &st, &e);
        cr_assert_eq(rc, 0, "%s: %s", how_name[how], e.msg);
        cr_expect_eq(st.layout, PT_LAYOUT_ORDERS);
        cr_expect_eq(st.scale, 2);
        cr_expect_eq(st.rows, 3);
        cr_expect_eq(st.bad_rows, 0);
        cr_expect_eq(st.no_customer, 0);
        cr_expect_eq(st.orders, 3);
        cr_expect_eq(st.general_mode, how == PIPE, "%s: pipes start in general mode",
                     how_name[how]);
        cr_expect_eq(r.resets, 0);
        if (how != PIPE) {
            /* Streaming mode keeps file order. */
            expect_order(&r, 0, "9821", "2023-11-01T00:12:05Z", 5341, 0);
            expect_order(&r, 1, "77", "2023-11-02T10:00:00Z", 750, 0);
            expect_order(&r, 2, "9821", "2023-11-03T00:00:00Z", 15000, 0);
        } else {
            cr_expect_eq(r.n, 3);
        }
        rec_free(&r);
    }
}

Test(orders, header_only_gives_no_orders)
{
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    cr_assert_eq(ingest(HDR, MAPPED, (struct pt_ingest_opts){0}, &r, &st, &e), 0, "%s", e.msg);
    cr_expect_eq(r.n, 0);
    cr_expect_eq(st.rows, 0);
    cr_expect_eq(st.orders, 0);
    cr_expect_eq(st.layout, PT_LAYOUT_ORDERS);
    rec_free(&r);
    cr_assert_eq(ingest("order_id,customer_id,ordered_at,amount", READ, (struct pt_ingest_opts){0},
                        &r, &st, &e),
                 0, "header without a newline: %s", e.msg);
    cr_expect_eq(r.n, 0);
    rec_free(&r);
}

Test(orders, header_names_are_case_insensitive_and_extra_columns_ignored)
{
    const char *in = "Note,AMOUNT,Ordered_At,customer_ID,ORDER_ID\n"
                     "hello,1.05,2024-02-29T12:00:00Z,c-1,10\n";
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    cr_assert_eq(ingest(in, MAPPED, (struct pt_ingest_opts){0}, &r, &st, &e), 0, "%s", e.msg);
    cr_expect_eq(st.layout, PT_LAYOUT_ORDERS);
    cr_assert_eq(r.n, 1);
    expect_order(&r, 0, "c-1", "2024-02-29T12:00:00Z", 105, 0);
    rec_free(&r);
}

Test(orders, time_forms_and_ids_of_part_b)
{
    const char *in = HDR "1,\"5484\",2023-01-01,1\n"
                         "2,cust-abc,2023-01-01T05:00:00+05:00,0.99\n"
                         "3,-17,2023-01-01T00:00:00.750Z,0.5\n"
                         "4,Zo\xc3\xab,2022-12-31T19:00:00-05:00,.5\n";
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    cr_assert_eq(ingest(in, MAPPED, (struct pt_ingest_opts){0}, &r, &st, &e), 0, "%s", e.msg);
    cr_assert_eq(r.n, 4);
    expect_order(&r, 0, "5484", "2023-01-01T00:00:00Z", 100, 0);
    expect_order(&r, 1, "cust-abc", "2023-01-01T00:00:00Z", 99, 0);
    expect_order(&r, 2, "-17", "2023-01-01T00:00:00Z", 50, 0);
    expect_order(&r, 3, "Zo\xc3\xab", "2023-01-01T00:00:00Z", 50, 0);
    rec_free(&r);
}

Test(orders, rows_of_one_order_are_merged)
{
    /* Order 2 has three lines: amounts add up, its time is the earliest. */
    const char *in = HDR "1,10,2023-01-01T00:00:00Z,1.00\n"
                         "2,11,2023-01-05T12:00:00Z,2.50\n"
                         "2,11,2023-01-05T08:00:00Z,0.25\n"
                         "2,11,2023-01-06T00:00:00Z,10\n"
                         "3,10,2023-01-07T00:00:00Z,3.00\n";
    for (int how = MAPPED; how <= PIPE; how++) {
        struct recorder r = {0};
        struct pt_ingest_stats st;
        struct pt_err e;
        int rc = ingest(in, (enum how)how, (struct pt_ingest_opts){0}, &r, &st, &e);
        cr_assert_eq(rc, 0, "%s: %s", how_name[how], e.msg);
        cr_expect_eq(st.rows, 5);
        cr_expect_eq(st.orders, 3, "%s", how_name[how]);
        cr_assert_eq(r.n, 3);
        if (how == PIPE)
            sort_got(&r); /* general mode: any order; sorted: 10/Jan 1, 10/Jan 7, 11 */
        expect_order(&r, how == PIPE ? 2 : 1, "11", "2023-01-05T08:00:00Z", 1275, 0);
        rec_free(&r);
    }
}

Test(orders, customer_mismatch_stops_with_its_message)
{
    const char *in = HDR "1,10,2023-01-01T00:00:00Z,1.00\n"
                         "2,11,2023-01-02T00:00:00Z,2.00\n"
                         "2,12,2023-01-02T00:00:00Z,4.00\n"
                         "3,10,2023-01-03T00:00:00Z,8.00\n";
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    int rc = ingest(in, MAPPED, (struct pt_ingest_opts){0}, &r, &st, &e);
    cr_expect_eq(rc, PT_EPARSE);
    cr_expect_str_eq(e.msg, "t.csv:4:3: field 'customer_id': order 2 belongs to customer \"11\" "
                            "(line 3) (\"12\")");
    cr_expect_eq(e.code, PT_EPARSE);
    cr_expect_eq(e.line, 4);
    cr_expect_eq(e.column, 3);
    rec_free(&r);
}

Test(orders, customer_mismatch_row_is_skipped)
{
    const char *in = HDR "1,10,2023-01-01T00:00:00Z,1.00\n"
                         "2,11,2023-01-02T00:00:00Z,2.00\n"
                         "2,12,2023-01-02T00:00:00Z,4.00\n"
                         "2,11,2023-01-01T00:00:00Z,16.00\n"
                         "3,10,2023-01-03T00:00:00Z,8.00\n";
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    FILE *rej = tmpfile();
    cr_assert_not_null(rej);
    int rc =
        ingest(in, MAPPED, (struct pt_ingest_opts){.skip_bad = 1, .rejects = rej}, &r, &st, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_expect_eq(st.bad_rows, 1);
    cr_expect_eq(st.rows, 5);
    cr_assert_eq(r.n, 3);
    expect_order(&r, 1, "11", "2023-01-01T00:00:00Z", 1800, 0);
    char *s = slurp(rej);
    cr_expect_str_eq(s, "line,column,field,reason,row\n"
                        "4,3,customer_id,\"order 2 belongs to customer \"\"11\"\" (line 3)\","
                        "\"2,12,2023-01-02T00:00:00Z,4.00\"\n");
    free(s);
    fclose(rej);
    rec_free(&r);
}

/* ---- rows of one order that are not adjacent: general mode ---- */

static const char k_scattered[] = HDR "1,10,2023-01-01T00:00:00Z,1.00\n"
                                      "2,11,2023-01-02T00:00:00Z,2.00\n"
                                      "1,10,2022-12-31T00:00:00Z,4.00\n"
                                      "3,12,2023-01-03T00:00:00Z,8.00\n"
                                      "2,11,2023-01-04T00:00:00Z,16.00\n";

static void expect_scattered(struct recorder *r)
{
    sort_got(r);
    cr_assert_eq(r->n, 3);
    expect_order(r, 0, "10", "2022-12-31T00:00:00Z", 500, 0);
    expect_order(r, 1, "11", "2023-01-02T00:00:00Z", 1800, 0);
    expect_order(r, 2, "12", "2023-01-03T00:00:00Z", 800, 0);
}

Test(orders, scattered_order_rows_restart_in_general_mode)
{
    for (int how = MAPPED; how <= READ; how++) {
        struct recorder r = {0};
        struct pt_ingest_stats st;
        struct pt_err e;
        int rc =
            ingest(k_scattered, (enum how)how, (struct pt_ingest_opts){.threads = 1}, &r, &st, &e);
        cr_assert_eq(rc, 0, "%s: %s", how_name[how], e.msg);
        cr_expect_eq(st.general_mode, 1);
        cr_expect_leq(r.resets, 1, "at most one restart");
        cr_expect_eq(st.rows, 5, "stats are those of the final pass");
        cr_expect_eq(st.orders, 3);
        expect_scattered(&r);
        rec_free(&r);
    }
}

Test(orders, scattered_order_rows_force_general_and_pipe)
{
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    cr_assert_eq(
        ingest(k_scattered, MAPPED, (struct pt_ingest_opts){.force_general = 1}, &r, &st, &e), 0,
        "%s", e.msg);
    cr_expect_eq(st.general_mode, 1);
    cr_expect_eq(r.resets, 0, "no restart when general from the start");
    expect_scattered(&r);
    rec_free(&r);
    cr_assert_eq(ingest(k_scattered, PIPE, (struct pt_ingest_opts){0}, &r, &st, &e), 0, "%s",
                 e.msg);
    cr_expect_eq(st.general_mode, 1);
    cr_expect_eq(r.resets, 0);
    expect_scattered(&r);
    rec_free(&r);
}

Test(orders, decreasing_or_non_integer_order_ids_use_general_mode)
{
    static const char *const ins[] = {
        HDR "5,10,2023-01-01T00:00:00Z,1\n"
            "4,11,2023-01-02T00:00:00Z,2\n",
        HDR "A-1,10,2023-01-01T00:00:00Z,1\n"
            "A-2,11,2023-01-02T00:00:00Z,2\n",
        HDR "01,10,2023-01-01T00:00:00Z,1\n"
            "02,11,2023-01-02T00:00:00Z,2\n",
    };
    for (size_t i = 0; i < 3; i++) {
        struct recorder r = {0};
        struct pt_ingest_stats st;
        struct pt_err e;
        cr_assert_eq(ingest(ins[i], MAPPED, (struct pt_ingest_opts){0}, &r, &st, &e), 0, "%s",
                     e.msg);
        cr_expect_eq(st.general_mode, 1, "input %zu", i);
        sort_got(&r);
        cr_assert_eq(r.n, 2, "input %zu", i);
        expect_order(&r, 0, "10", "2023-01-01T00:00:00Z", 100, 0);
        expect_order(&r, 1, "11", "2023-01-02T00:00:00Z", 200, 0);
        rec_free(&r);
    }
}

Test(orders, order_ids_compare_as_text_07_is_not_7)
{
    const char *in = HDR "7,10,2023-01-01T00:00:00Z,1\n"
                         "07,10,2023-01-02T00:00:00Z,2\n"
                         "7,10,2023-01-03T00:00:00Z,4\n";
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    cr_assert_eq(ingest(in, MAPPED, (struct pt_ingest_opts){0}, &r, &st, &e), 0, "%s", e.msg);
    sort_got(&r);
    cr_assert_eq(r.n, 2);
    expect_order(&r, 0, "10", "2023-01-01T00:00:00Z", 500, 0);
    expect_order(&r, 1, "10", "2023-01-02T00:00:00Z", 200, 0);
    rec_free(&r);
}

Test(orders, scattered_mismatch_is_a_bad_row)
{
    const char *in = HDR "1,10,2023-01-01T00:00:00Z,1.00\n"
                         "2,11,2023-01-02T00:00:00Z,2.00\n"
                         "1,12,2023-01-03T00:00:00Z,4.00\n"
                         "3,13,2023-01-04T00:00:00Z,8.00\n";
    static const char want[] =
        "t.csv:4:3: field 'customer_id': order 1 belongs to customer \"10\" (line 2) (\"12\")";
    for (int how = MAPPED; how <= PIPE; how++) {
        struct recorder r = {0};
        struct pt_ingest_stats st;
        struct pt_err e;
        int rc = ingest(in, (enum how)how, (struct pt_ingest_opts){0}, &r, &st, &e);
        cr_expect_eq(rc, PT_EPARSE, "%s", how_name[how]);
        cr_expect_str_eq(e.msg, want, "%s", how_name[how]);
        cr_expect_eq(e.line, 4);
        cr_expect_eq(e.column, 3);
        rec_free(&r);
        /* The mismatching row is the last one. */
        const char *last = HDR "1,10,2023-01-01T00:00:00Z,1.00\n"
                               "2,11,2023-01-02T00:00:00Z,2.00\n"
                               "1,12,2023-01-03T00:00:00Z,4.00\n";
        rc = ingest(last, (enum how)how, (struct pt_ingest_opts){0}, &r, &st, &e);
        cr_expect_eq(rc, PT_EPARSE, "%s: mismatch in the last row", how_name[how]);
        cr_expect_str_eq(e.msg, want, "%s", how_name[how]);
        rec_free(&r);
    }
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    FILE *rej = tmpfile();
    cr_assert_not_null(rej);
    int rc = ingest(in, PIPE, (struct pt_ingest_opts){.skip_bad = 1, .rejects = rej}, &r, &st, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_expect_eq(st.bad_rows, 1);
    char *rs = slurp(rej);
    cr_expect_str_eq(rs, "line,column,field,reason,row\n"
                         "4,3,customer_id,\"order 1 belongs to customer \"\"10\"\" (line 2)\","
                         "\"1,12,2023-01-03T00:00:00Z,4.00\"\n");
    free(rs);
    fclose(rej);
    sort_got(&r);
    cr_assert_eq(r.n, 3);
    expect_order(&r, 0, "10", "2023-01-01T00:00:00Z", 100, 0);
    expect_order(&r, 1, "11", "2023-01-02T00:00:00Z", 200, 0);
    expect_order(&r, 2, "13", "2023-01-04T00:00:00Z", 800, 0);
    rec_free(&r);
}

/* ---- UCI Online Retail ---- */

static const char k_uci[] =
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United "
    "Kingdom\n"
    "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom\n"
    "536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,,United Kingdom\n"
    "C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527,United Kingdom\n"
    "536380,22961,\"JAM MAKING SET, PRINTED\",24,2010-12-01 09:41:00,1.45,17809,United Kingdom\n"
    "536381,B,Adjust bad debt,1,2010-12-01 10:00:00,-11062.055,17809,United Kingdom\n";

static void expect_uci(struct recorder *r, const struct pt_ingest_stats *st, enum pt_layout l)
{
    cr_expect_eq(st->layout, l);
    cr_expect_eq(st->scale, 3);
    cr_expect_eq(st->rows, 6);
    cr_expect_eq(st->no_customer, 1);
    cr_expect_eq(st->bad_rows, 0);
    cr_expect_eq(st->orders, 4, "cancellations are counted as orders given to the sink");
    sort_got(r);
    cr_assert_eq(r->n, 4);
    expect_order(r, 0, "14527", "2010-12-01 09:41:00", -27500, PT_ORDER_CANCEL);
    expect_order(r, 1, "17809", "2010-12-01 09:41:00", 34800, 0);
    expect_order(r, 2, "17809", "2010-12-01 10:00:00", -11062055, 0);
    expect_order(r, 3, "17850", "2010-12-01 08:26:00", 6 * 2550 + 6 * 3390, 0);
}

Test(orders, uci_online_retail)
{
    for (int how = MAPPED; how <= PIPE; how++) {
        struct recorder r = {0};
        struct pt_ingest_stats st;
        struct pt_err e;
        int rc = ingest(k_uci, (enum how)how, (struct pt_ingest_opts){0}, &r, &st, &e);
        cr_assert_eq(rc, 0, "%s: %s", how_name[how], e.msg);
        cr_expect_eq(st.general_mode, how == PIPE, "%s", how_name[how]);
        expect_uci(&r, &st, PT_LAYOUT_UCI);
        rec_free(&r);
    }
}

Test(orders, uci_online_retail_ii)
{
    /* Same data, Online Retail II header, CRLF line ends. */
    char in[2048];
    size_t o = 0;
    const char *h2 = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country";
    o += (size_t)snprintf(in, sizeof in, "%s\r\n", h2);
    const char *p = strchr(k_uci, '\n') + 1;
    for (; *p; p++) {
        if (*p == '\n')
            in[o++] = '\r';
        in[o++] = *p;
    }
    in[o] = '\0';
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    int rc = ingest(in, MAPPED, (struct pt_ingest_opts){0}, &r, &st, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    expect_uci(&r, &st, PT_LAYOUT_UCI2);
    rec_free(&r);
}

Test(orders, uci_bad_rows_name_the_uci_columns)
{
    const char *in =
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,X,6,2010-12-01 08:26:00,2.55,17850,UK\n"
        "536366,85123A,X,6,2010-12-01T08:26:00,2.55,17850,UK\n";
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    int rc = ingest(in, MAPPED, (struct pt_ingest_opts){0}, &r, &st, &e);
    cr_expect_eq(rc, PT_EPARSE);
    cr_expect_str_eq(e.msg,
                     "t.csv:3:19: field 'InvoiceDate': not a date-time (\"2010-12-01T08:26:00\")");
    rec_free(&r);
    const char *in2 =
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,X,6.5,2010-12-01 08:26:00,2.55,17850,UK\n";
    rc = ingest(in2, MAPPED, (struct pt_ingest_opts){0}, &r, &st, &e);
    cr_expect_eq(rc, PT_EPARSE);
    cr_expect_str_eq(e.msg, "t.csv:2:17: field 'Quantity': not an integer (\"6.5\")");
    rec_free(&r);
}

Test(orders, uci_layout_can_be_forced)
{
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    int rc = ingest(HDR "1,10,2023-01-01T00:00:00Z,1\n", MAPPED,
                    (struct pt_ingest_opts){.layout = PT_LAYOUT_UCI}, &r, &st, &e);
    cr_expect_eq(rc, PT_EPARSE);
    cr_expect_str_eq(e.msg, "t.csv:1: header: no column 'InvoiceNo' (header: "
                            "order_id,customer_id,ordered_at,amount)");
    rec_free(&r);
}

/* ---- --columns ---- */

Test(orders, columns_mapping)
{
    const char *in = "Id,Email,Date,Total,Note\n"
                     "7,a@example.com,2023-01-01,9.99,hello\n"
                     "8,b@example.com,2023-01-02T10:00:00Z,1,\"x, y\"\n";
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    struct pt_ingest_opts o = {.columns =
                                   "order_id=Id,customer_id=Email,ordered_at=Date,amount=Total"};
    int rc = ingest(in, MAPPED, o, &r, &st, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_expect_eq(st.layout, PT_LAYOUT_ORDERS);
    cr_assert_eq(r.n, 2);
    expect_order(&r, 0, "a@example.com", "2023-01-01T00:00:00Z", 999, 0);
    expect_order(&r, 1, "b@example.com", "2023-01-02T10:00:00Z", 100, 0);
    rec_free(&r);
    /* Header names match case-insensitively; messages name the role. */
    const char *bad = "Id,Email,Date,Total\n"
                      "7,a@example.com,2023-01-01,nine\n";
    o.columns = "order_id=id,customer_id=EMAIL,ordered_at=date,amount=total";
    rc = ingest(bad, MAPPED, o, &r, &st, &e);
    cr_expect_eq(rc, PT_EPARSE);
    cr_expect_str_eq(e.msg, "t.csv:2:28: field 'amount': not a number (\"nine\")");
    rec_free(&r);
}

Test(orders, columns_partial_mapping_keeps_the_other_defaults)
{
    const char *in = "order_id,Client,ordered_at,amount\n"
                     "1,c9,2023-01-01T00:00:00Z,3\n";
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    int rc =
        ingest(in, MAPPED, (struct pt_ingest_opts){.columns = "customer_id=Client"}, &r, &st, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_assert_eq(r.n, 1);
    expect_order(&r, 0, "c9", "2023-01-01T00:00:00Z", 300, 0);
    rec_free(&r);
}

Test(orders, columns_errors)
{
    const char *in = "Id,Email,Date,Total\n"
                     "7,a@example.com,2023-01-01,9.99\n";
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    int rc = ingest(in, MAPPED, (struct pt_ingest_opts){.columns = "order_id"}, &r, &st, &e);
    cr_expect_eq(rc, PT_EUSAGE);
    cr_expect_str_eq(e.msg, "--columns: expected ROLE=HEADER, got \"order_id\"");
    rc = ingest(in, MAPPED, (struct pt_ingest_opts){.columns = "order_id=Id,total=Total"}, &r, &st,
                &e);
    cr_expect_eq(rc, PT_EUSAGE);
    cr_expect_str_eq(e.msg, "--columns: unknown role \"total\" (roles: order_id, customer_id, "
                            "ordered_at, amount)");
    rc = ingest(in, MAPPED, (struct pt_ingest_opts){.columns = "order_id=Nope"}, &r, &st, &e);
    cr_expect_eq(rc, PT_EPARSE);
    cr_expect_str_eq(
        e.msg, "t.csv:1: --columns order_id=Nope: no such column (header: Id,Email,Date,Total)");
    rc = ingest(in, MAPPED, (struct pt_ingest_opts){.columns = "order_id=Id,customer_id=Email"}, &r,
                &st, &e);
    cr_expect_eq(rc, PT_EPARSE, "ordered_at and amount are not mapped");
    cr_expect(strstr(e.msg, "no column 'ordered_at'") != NULL, "%s", e.msg);
    rc = ingest(in, MAPPED,
                (struct pt_ingest_opts){.columns = "order_id=Id,customer_id=Id,ordered_at=Date,"
                                                   "amount=Total"},
                &r, &st, &e);
    cr_expect_eq(rc, PT_EPARSE);
    cr_expect_str_eq(e.msg, "t.csv:1: header: column 1 used for both 'order_id' and 'customer_id'");
    cr_expect_eq(r.n, 0);
    rec_free(&r);
}

/* ---- header and empty input ---- */

static void expect_header_error(const char *in, size_t n, const char *want)
{
    for (int how = MAPPED; how <= PIPE; how++) {
        struct recorder r = {0};
        struct pt_ingest_stats st;
        struct pt_err e;
        int rc = ingest_n(in, n, (enum how)how, (struct pt_ingest_opts){0}, &r, &st, &e);
        cr_expect_eq(rc, PT_EPARSE, "%s", how_name[how]);
        cr_expect_str_eq(e.msg, want, "%s", how_name[how]);
        cr_expect_eq(r.n, 0);
        rec_free(&r);
    }
}

Test(orders, empty_input)
{
    expect_header_error("", 0, "t.csv: empty input: no header line");
    expect_header_error("\xEF\xBB\xBF", 3, "t.csv: empty input: no header line");
}

Test(orders, unknown_header)
{
    expect_header_error("foo,bar\n1,2\n", 12,
                        "t.csv:1: unknown header: no column 'order_id' (header: foo,bar); "
                        "expected order_id,customer_id,ordered_at,amount, a UCI Online Retail "
                        "header, or --columns order_id=NAME");
    const char *h = "order_id,customer_id,ordered_at\n";
    expect_header_error(h, strlen(h),
                        "t.csv:1: unknown header: no column 'amount' (header: "
                        "order_id,customer_id,ordered_at); expected "
                        "order_id,customer_id,ordered_at,amount, a UCI Online Retail header, or "
                        "--columns amount=NAME");
}

Test(orders, malformed_header)
{
    const char *h = "order_id,\"customer_id\n1,2\n";
    expect_header_error(h, strlen(h), "t.csv:1: header: unterminated quoted field");
    const char *c = "order_id,cust\x01,ordered_at,amount\n";
    expect_header_error(c, strlen(c), "t.csv:1:10: header: column 2: control character");
}

Test(orders, byte_order_mark_is_skipped)
{
    const char *in = "\xEF\xBB\xBF" HDR "1,10,2023-01-01T00:00:00Z,1.00\n"
                     "2,10,2023-01-01T00:00:00Z,x\n";
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    int rc = ingest(in, MAPPED, (struct pt_ingest_opts){0}, &r, &st, &e);
    cr_expect_eq(rc, PT_EPARSE);
    cr_expect_str_eq(e.msg, "t.csv:3:27: field 'amount': not a number (\"x\")");
    rec_free(&r);
    rc = ingest(in, READ, (struct pt_ingest_opts){.skip_bad = 1}, &r, &st, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_expect_eq(st.layout, PT_LAYOUT_ORDERS);
    cr_assert_eq(r.n, 1);
    expect_order(&r, 0, "10", "2023-01-01T00:00:00Z", 100, 0);
    rec_free(&r);
}

/* ---- bad rows ---- */

static const char k_bad[] = HDR "1,10,2023-01-01T00:00:00Z,1.00\n"
                                "2,11,2023-01-02T00:00:00Z,12.5x\n"
                                "3,12,2023-01-03T00:00:00Z,3.00\n"
                                "4,13,2023-02-30T00:00:00Z,4.00\n"
                                "5,14,2023-01-05T00:00:00Z\n"
                                "6,15,2023-01-06T00:00:00Z,6.001\n"
                                "7,,2023-01-07T00:00:00Z,7\n"
                                "8,16,2023-01-08T00:00:00Z,-8\n"
                                "9,17,2023-01-09T00:00:00Z,9.00\n";

Test(orders, first_bad_row_stops_the_run)
{
    for (int how = MAPPED; how <= PIPE; how++) {
        struct recorder r = {0};
        struct pt_ingest_stats st;
        struct pt_err e;
        int rc = ingest(k_bad, (enum how)how, (struct pt_ingest_opts){0}, &r, &st, &e);
        cr_expect_eq(rc, PT_EPARSE, "%s", how_name[how]);
        cr_expect_eq(e.code, PT_EPARSE);
        cr_expect_str_eq(e.msg, "t.csv:3:27: field 'amount': not a number (\"12.5x\")", "%s",
                         how_name[how]);
        cr_expect_eq(e.line, 3);
        cr_expect_eq(e.column, 27);
        cr_expect_geq(st.bad_rows, 1);
        rec_free(&r);
    }
}

Test(orders, each_kind_of_bad_row_is_worded)
{
    /* Start at each bad row in turn (drop the rows before it). */
    static const char *const want[] = {
        "t.csv:2:27: field 'amount': not a number (\"12.5x\")",
        "t.csv:2:6: field 'ordered_at': no such date (\"2023-02-30T00:00:00Z\")",
        "t.csv:2:1: expected 4 fields, found 3",
        "t.csv:2:27: field 'amount': more than 2 decimals (\"6.001\")",
        "t.csv:2:3: field 'customer_id': empty (\"\")",
        "t.csv:2:27: field 'amount': negative (\"-8\")",
    };
    static const int line_of[] = {3, 5, 6, 7, 8, 9};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        /* Find physical line line_of[i] of k_bad. */
        const char *p = k_bad;
        for (int l = 1; l < line_of[i]; l++)
            p = strchr(p, '\n') + 1;
        char in[1024];
        snprintf(in, sizeof in, "%s%s", HDR, p);
        struct recorder r = {0};
        struct pt_ingest_stats st;
        struct pt_err e;
        int rc = ingest(in, MAPPED, (struct pt_ingest_opts){0}, &r, &st, &e);
        cr_expect_eq(rc, PT_EPARSE, "case %zu", i);
        cr_expect_str_eq(e.msg, want[i], "case %zu", i);
        rec_free(&r);
    }
}

static const char k_bad_rejects[] =
    "line,column,field,reason,row\n"
    "3,27,amount,not a number,\"2,11,2023-01-02T00:00:00Z,12.5x\"\n"
    "5,6,ordered_at,no such date,\"4,13,2023-02-30T00:00:00Z,4.00\"\n"
    "6,1,,\"expected 4 fields, found 3\",\"5,14,2023-01-05T00:00:00Z\"\n"
    "7,27,amount,more than 2 decimals,\"6,15,2023-01-06T00:00:00Z,6.001\"\n"
    "8,3,customer_id,empty,\"7,,2023-01-07T00:00:00Z,7\"\n"
    "9,27,amount,negative,\"8,16,2023-01-08T00:00:00Z,-8\"\n";

static void expect_bad_skipped(struct recorder *r, const struct pt_ingest_stats *st)
{
    cr_expect_eq(st->rows, 9);
    cr_expect_eq(st->bad_rows, 6);
    cr_expect_eq(st->orders, 3);
    sort_got(r);
    cr_assert_eq(r->n, 3);
    expect_order(r, 0, "10", "2023-01-01T00:00:00Z", 100, 0);
    expect_order(r, 1, "12", "2023-01-03T00:00:00Z", 300, 0);
    expect_order(r, 2, "17", "2023-01-09T00:00:00Z", 900, 0);
}

Test(orders, skip_bad_counts_and_writes_rejects)
{
    for (int how = MAPPED; how <= PIPE; how++) {
        struct recorder r = {0};
        struct pt_ingest_stats st;
        struct pt_err e;
        FILE *rej = tmpfile();
        cr_assert_not_null(rej);
        int rc = ingest(k_bad, (enum how)how,
                        (struct pt_ingest_opts){.skip_bad = 1, .rejects = rej}, &r, &st, &e);
        cr_assert_eq(rc, 0, "%s: %s", how_name[how], e.msg);
        expect_bad_skipped(&r, &st);
        char *s = slurp(rej);
        cr_expect_str_eq(s, k_bad_rejects, "%s", how_name[how]);
        free(s);
        fclose(rej);
        rec_free(&r);
    }
}

Test(orders, skip_bad_without_rejects_file)
{
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    int rc = ingest(k_bad, MAPPED, (struct pt_ingest_opts){.skip_bad = 1}, &r, &st, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    expect_bad_skipped(&r, &st);
    rec_free(&r);
}

Test(orders, rejects_to_a_memory_stream_in_streaming_mode)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *rej = open_memstream(&buf, &len);
    cr_assert_not_null(rej);
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    int rc =
        ingest(k_bad, MAPPED, (struct pt_ingest_opts){.skip_bad = 1, .rejects = rej}, &r, &st, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_expect_eq(st.general_mode, 0);
    expect_bad_skipped(&r, &st);
    fclose(rej);
    cr_assert_not_null(buf);
    cr_expect_str_eq(buf, k_bad_rejects);
    free(buf);
    rec_free(&r);
}

Test(orders, rejects_are_rewritten_on_restart)
{
    /* Scattered order 1 forces a restart after a bad row was seen. (A bad
     * row alone does not separate two rows of one order: without it they
     * are adjacent.) */
    const char *in = HDR "1,10,2023-01-01T00:00:00Z,1.00\n"
                         "2,11,2023-01-02T00:00:00Z,oops\n"
                         "3,12,2023-01-02T00:00:00Z,0.50\n"
                         "1,10,2023-01-03T00:00:00Z,2.00\n";
    FILE *rej = tmpfile();
    cr_assert_not_null(rej);
    cr_assert_gt(fputs("previous content\n", rej), 0);
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    int rc =
        ingest(in, MAPPED, (struct pt_ingest_opts){.skip_bad = 1, .rejects = rej}, &r, &st, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_expect_eq(st.general_mode, 1);
    cr_expect_eq(st.bad_rows, 1, "counted once, not once per pass");
    char *s = slurp(rej);
    cr_expect_str_eq(s, "previous content\n"
                        "line,column,field,reason,row\n"
                        "3,27,amount,not a number,\"2,11,2023-01-02T00:00:00Z,oops\"\n");
    free(s);
    fclose(rej);
    sort_got(&r);
    cr_assert_eq(r.n, 2);
    expect_order(&r, 0, "10", "2023-01-01T00:00:00Z", 300, 0);
    expect_order(&r, 1, "12", "2023-01-02T00:00:00Z", 50, 0);
    rec_free(&r);
}

Test(orders, bad_row_between_rows_of_one_order_keeps_them_adjacent)
{
    const char *in = HDR "1,10,2023-01-01T00:00:00Z,1.00\n"
                         "2,11,2023-01-02T00:00:00Z,oops\n"
                         "1,10,2023-01-03T00:00:00Z,2.00\n";
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    int rc = ingest(in, MAPPED, (struct pt_ingest_opts){.skip_bad = 1}, &r, &st, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_expect_eq(st.general_mode, 0, "the clean file is a plain streaming file");
    cr_expect_eq(st.bad_rows, 1);
    cr_assert_eq(r.n, 1);
    expect_order(&r, 0, "10", "2023-01-01T00:00:00Z", 300, 0);
    rec_free(&r);
}

Test(orders, bad_value_quotation_is_escaped_and_cut)
{
    /* The amount value is 1\2"3, U+00E9 (2 bytes), then 70 x's: 77 bytes. */
    char xs[71];
    memset(xs, 'x', 70);
    xs[70] = '\0';
    char in[512];
    snprintf(in, sizeof in, "%s1,10,2023-01-01T00:00:00Z,\"1\\2\"\"3\xc3\xa9%s\"\n", HDR, xs);
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    int rc = ingest(in, MAPPED, (struct pt_ingest_opts){0}, &r, &st, &e);
    cr_expect_eq(rc, PT_EPARSE);
    /* Backslash, quote and non-ASCII bytes as \xHH; the value cut after 60
     * bytes (7 before the x's, so 53 x's). */
    char want[256];
    snprintf(want, sizeof want,
             "t.csv:2:27: field 'amount': not a number (\"1\\x5c2\\x223\\xc3\\xa9%.53s...\")", xs);
    cr_expect_str_eq(e.msg, want);
    rec_free(&r);
}

/* ---- CSV details: CRLF, quotes, embedded newlines, blank lines, BOM ---- */

Test(orders, crlf_input_gives_the_same_orders_and_positions)
{
    const char *lf = HDR "1,10,2023-01-01T00:00:00Z,1.00\n"
                         "2,11,2023-01-02T00:00:00Z,2.00\n"
                         "2,11,2023-01-01T00:00:00Z,3.00\n"
                         "3,12,2023-01-03T00:00:00Z,x\n";
    char crlf[512];
    size_t o = 0;
    for (const char *p = lf; *p; p++) {
        if (*p == '\n')
            crlf[o++] = '\r';
        crlf[o++] = *p;
    }
    crlf[o] = '\0';
    struct recorder a = {0}, b = {0};
    struct pt_ingest_stats sa, sb;
    struct pt_err ea, eb;
    cr_expect_eq(ingest(lf, MAPPED, (struct pt_ingest_opts){0}, &a, &sa, &ea), PT_EPARSE);
    cr_expect_eq(ingest(crlf, MAPPED, (struct pt_ingest_opts){0}, &b, &sb, &eb), PT_EPARSE);
    cr_expect_str_eq(eb.msg, ea.msg);
    cr_expect_str_eq(eb.msg, "t.csv:5:27: field 'amount': not a number (\"x\")");
    rec_free(&a);
    rec_free(&b);
    cr_assert_eq(ingest(lf, MAPPED, (struct pt_ingest_opts){.skip_bad = 1}, &a, &sa, &ea), 0);
    cr_assert_eq(ingest(crlf, READ, (struct pt_ingest_opts){.skip_bad = 1}, &b, &sb, &eb), 0);
    expect_same_orders(&b, &a, "CRLF vs LF");
    cr_assert_eq(a.n, 2);
    expect_order(&a, 1, "11", "2023-01-01T00:00:00Z", 500, 0);
    rec_free(&a);
    rec_free(&b);
}

Test(orders, quoted_fields_and_embedded_newlines)
{
    /* A note column with "" escapes and line breaks; a quoted customer id. */
    const char *in = "order_id,customer_id,ordered_at,amount,note\n"
                     "1,\"5484\",2023-01-01T00:00:00Z,1.00,\"say \"\"hi\"\"\"\n"
                     "2,\"a,b\",2023-01-02T00:00:00Z,2.00,\"two\nlines\"\n"
                     "3,\"q\"\"x\",2023-01-03T00:00:00Z,3.00,\"three\r\nmore\nlines\"\n"
                     "4,13,2023-01-04T00:00:00Z,4.00,plain\n"
                     "5,14,2023-01-05T00:00:00Z,bad,\"x\ny\"\n"
                     "6,15,2023-01-06T00:00:00Z,6.00,\"\n"
                     "\",\n";
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    int rc = ingest(in, MAPPED, (struct pt_ingest_opts){0}, &r, &st, &e);
    cr_expect_eq(rc, PT_EPARSE);
    /* Physical lines: header 1, order 1 on 2, order 2 on 3-4, order 3 on
     * 5-7, order 4 on 8, order 5 starts on 9. */
    cr_expect_str_eq(e.msg, "t.csv:9:27: field 'amount': not a number (\"bad\")");
    cr_expect_eq(e.line, 9);
    rec_free(&r);
    FILE *rej = tmpfile();
    cr_assert_not_null(rej);
    rc = ingest(in, MAPPED, (struct pt_ingest_opts){.skip_bad = 1, .rejects = rej}, &r, &st, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_expect_eq(st.rows, 6);
    cr_expect_eq(st.bad_rows, 2);
    cr_assert_eq(r.n, 4);
    expect_order(&r, 0, "5484", "2023-01-01T00:00:00Z", 100, 0);
    expect_order(&r, 1, "a,b", "2023-01-02T00:00:00Z", 200, 0);
    expect_order(&r, 2, "q\"x", "2023-01-03T00:00:00Z", 300, 0);
    expect_order(&r, 3, "13", "2023-01-04T00:00:00Z", 400, 0);
    char *s = slurp(rej);
    /* The last row has 6 fields ("...,\"\n\","): a record-level problem on line 11. */
    cr_expect_str_eq(s, "line,column,field,reason,row\n"
                        "9,27,amount,not a number,\"5,14,2023-01-05T00:00:00Z,bad,\"\"x\ny\"\"\"\n"
                        "11,1,,\"expected 5 fields, found 6\","
                        "\"6,15,2023-01-06T00:00:00Z,6.00,\"\"\n\"\",\"\n");
    free(s);
    fclose(rej);
    rec_free(&r);
}

Test(orders, blank_lines_are_skipped_but_counted_as_lines)
{
    const char *in = HDR "\n"
                         "1,10,2023-01-01T00:00:00Z,1.00\n"
                         "\r\n"
                         "\n"
                         "2,11,2023-01-02T00:00:00Z,x\n"
                         "\n";
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    int rc = ingest(in, MAPPED, (struct pt_ingest_opts){0}, &r, &st, &e);
    cr_expect_eq(rc, PT_EPARSE);
    cr_expect_str_eq(e.msg, "t.csv:6:27: field 'amount': not a number (\"x\")");
    rec_free(&r);
    rc = ingest(in, PIPE, (struct pt_ingest_opts){.skip_bad = 1}, &r, &st, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_expect_eq(st.rows, 2, "blank lines are not rows");
    cr_expect_eq(st.bad_rows, 1);
    cr_assert_eq(r.n, 1);
    expect_order(&r, 0, "10", "2023-01-01T00:00:00Z", 100, 0);
    rec_free(&r);
}

Test(orders, last_row_without_newline)
{
    const char *in = HDR "1,10,2023-01-01T00:00:00Z,1.00\n"
                         "2,11,2023-01-02T00:00:00Z,2.50";
    for (int how = MAPPED; how <= PIPE; how++) {
        struct recorder r = {0};
        struct pt_ingest_stats st;
        struct pt_err e;
        cr_assert_eq(ingest(in, (enum how)how,
                            (struct pt_ingest_opts){.block_size = 7, .max_record = 64}, &r, &st,
                            &e),
                     0, "%s: %s", how_name[how], e.msg);
        sort_got(&r);
        cr_assert_eq(r.n, 2);
        expect_order(&r, 1, "11", "2023-01-02T00:00:00Z", 250, 0);
        rec_free(&r);
    }
}

Test(orders, record_over_max_record_is_a_bad_row)
{
    char in[1024];
    char note[300];
    memset(note, 'n', 200);
    note[200] = '\0';
    snprintf(in, sizeof in,
             "order_id,customer_id,ordered_at,amount,note\n"
             "1,10,2023-01-01T00:00:00Z,1.00,short\n"
             "2,11,2023-01-02T00:00:00Z,2.00,%s\n"
             "3,12,2023-01-03T00:00:00Z,3.00,short\n",
             note);
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    int rc = ingest(in, MAPPED, (struct pt_ingest_opts){.max_record = 128}, &r, &st, &e);
    cr_expect_eq(rc, PT_EPARSE);
    cr_expect_str_eq(e.msg, "t.csv:3:1: line too long");
    rec_free(&r);
    for (int how = MAPPED; how <= PIPE; how++) {
        FILE *rej = tmpfile();
        cr_assert_not_null(rej);
        rc = ingest(in, (enum how)how,
                    (struct pt_ingest_opts){.max_record = 128, .skip_bad = 1, .rejects = rej}, &r,
                    &st, &e);
        cr_assert_eq(rc, 0, "%s: %s", how_name[how], e.msg);
        cr_expect_eq(st.bad_rows, 1, "%s", how_name[how]);
        cr_expect_eq(st.rows, 3, "%s", how_name[how]);
        cr_assert_eq(r.n, 2, "%s", how_name[how]);
        sort_got(&r);
        expect_order(&r, 0, "10", "2023-01-01T00:00:00Z", 100, 0);
        expect_order(&r, 1, "12", "2023-01-03T00:00:00Z", 300, 0);
        char *s = slurp(rej);
        cr_expect(strncmp(s, "line,column,field,reason,row\n3,1,,line too long,\"2,11,", 54) == 0,
                  "%s: %s", how_name[how], s);
        free(s);
        fclose(rej);
        rec_free(&r);
    }
}

/* ---- block sizes, threads, read modes: same orders ---- */

/* A few hundred rows with multi-row orders, quoted multi-line notes, CRLF and
 * blank lines, and some bad rows, in the 5-column layout. */
static char *make_mixed(size_t *n, int bad)
{
    size_t cap = 1 << 16, o = 0;
    char *s = malloc(cap);
    cr_assert_not_null(s);
    o += (size_t)snprintf(s + o, cap - o, "order_id,customer_id,ordered_at,amount,note\n");
    for (int i = 1; i <= 300; i++) {
        int lines = 1 + i % 3;
        for (int k = 0; k < lines; k++) {
            const char *eol = i % 7 == 0 ? "\r\n" : "\n";
            const char *note = i % 5 == 0 ? "\"multi\nline \"\"note\"\"\"" : "plain";
            if (bad && i % 37 == 0 && k == 0)
                o += (size_t)snprintf(s + o, cap - o, "%d,c%d,2023-13-01T00:00:00Z,1.00,%s%s", i,
                                      i % 50, note, eol);
            else
                o += (size_t)snprintf(s + o, cap - o,
                                      "%d,c%d,2023-%02d-%02dT%02d:00:00Z,%d.%02d,%s%s", i, i % 50,
                                      1 + i % 12, 1 + (i + k) % 28, (i * 7 + k) % 24, i % 90,
                                      (i * 13 + k) % 100, note, eol);
            if (i % 11 == 0 && k == 0)
                o += (size_t)snprintf(s + o, cap - o, "\n");
            cr_assert_lt(o + 200, cap);
        }
    }
    *n = o;
    return s;
}

/* Same input through every block size, thread count and read mode: the same
 * orders (in the same sequence in streaming mode), stats and rejects. */
static void check_block_sizes(const char *in, size_t n, int skip_bad)
{
    struct recorder want = {0};
    struct pt_ingest_stats wst;
    struct pt_err e;
    FILE *wrej = skip_bad ? tmpfile() : NULL;
    int wrc =
        ingest_n(in, n, MAPPED, (struct pt_ingest_opts){.skip_bad = skip_bad, .rejects = wrej},
                 &want, &wst, &e);
    char wmsg[PT_ERR_MSG_MAX];
    snprintf(wmsg, sizeof wmsg, "%s", e.msg);
    char *wrs = wrej ? slurp(wrej) : NULL;
    static const size_t blocks[] = {1, 7, 64, 333, 4096};
    static const size_t maxrec[] = {128, 256, 1000};
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        for (int th = 1; th <= 2; th++) {
            for (int how = MAPPED; how <= PIPE; how++) {
                struct recorder r = {0};
                struct pt_ingest_stats st;
                FILE *rej = skip_bad ? tmpfile() : NULL;
                struct pt_ingest_opts o = {.skip_bad = skip_bad,
                                           .rejects = rej,
                                           .block_size = blocks[b],
                                           .max_record = maxrec[b % 3],
                                           .threads = th};
                int rc = ingest_n(in, n, (enum how)how, o, &r, &st, &e);
                char what[128];
                snprintf(what, sizeof what, "block %zu, max_record %zu, %d threads, %s", blocks[b],
                         maxrec[b % 3], th, how_name[how]);
                cr_assert_eq(rc, wrc, "%s: rc %d (%s)", what, rc, e.msg);
                if (rc) {
                    cr_expect_str_eq(e.msg, wmsg, "%s", what);
                } else {
                    cr_expect_eq(st.rows, wst.rows, "%s", what);
                    cr_expect_eq(st.bad_rows, wst.bad_rows, "%s", what);
                    cr_expect_eq(st.orders, wst.orders, "%s", what);
                    if (how != PIPE && !wst.general_mode) {
                        cr_assert_eq(r.n, want.n, "%s", what);
                        for (size_t i = 0; i < r.n; i++)
                            if (cmp_got(&r.o[i], &want.o[i]) != 0)
                                cr_assert_fail("%s: order %zu differs (%s %lld %lld)", what, i,
                                               r.o[i].cid, (long long)r.o[i].t,
                                               (long long)r.o[i].amount);
                    }
                    if (rej) {
                        char *s = slurp(rej);
                        cr_expect_str_eq(s, wrs, "%s: rejects", what);
                        free(s);
                    }
                    struct recorder w2 = want;
                    w2.o = malloc((want.n ? want.n : 1) * sizeof *w2.o);
                    cr_assert_not_null(w2.o);
                    if (want.n)
                        memcpy(w2.o, want.o, want.n * sizeof *w2.o);
                    expect_same_orders(&r, &w2, what);
                    free(w2.o);
                }
                if (rej)
                    fclose(rej);
                rec_free(&r);
            }
        }
    }
    free(wrs);
    if (wrej)
        fclose(wrej);
    rec_free(&want);
}

Test(orders, block_sizes_and_threads_give_the_same_orders)
{
    size_t n;
    char *in = make_mixed(&n, 0);
    check_block_sizes(in, n, 0);
    free(in);
}

Test(orders, block_sizes_and_threads_give_the_same_bad_rows)
{
    size_t n;
    char *in = make_mixed(&n, 1);
    check_block_sizes(in, n, 1);
    check_block_sizes(in, n, 0);
    free(in);
}

Test(orders, block_sizes_plain_four_column_layout)
{
    /* The usual export: the fast line path. */
    const size_t cap = 1 << 16;
    char *s = malloc(cap);
    cr_assert_not_null(s);
    size_t o = (size_t)snprintf(s, cap, "%s", HDR);
    for (int i = 1; i <= 400; i++) {
        for (int k = 0; k <= i % 2; k++) {
            o += (size_t)snprintf(s + o, cap - o, "%d,%d,2024-%02d-%02dT%02d:%02d:%02dZ,%d.%02d\n",
                                  i * 3, i % 61, 1 + i % 12, 1 + i % 28, i % 24, (i + k) % 60,
                                  i % 60, i % 1000, k * 5);
            cr_assert_lt(o, cap);
        }
    }
    check_block_sizes(s, o, 0);
    free(s);
}

/* Big enough (> 2 x 64 KiB per block) for two parser threads to split it. */
static char *make_big(size_t *n, int quoted_notes, int bad_at1, int bad_at2)
{
    size_t cap = 2u << 20, o = 0;
    char *s = malloc(cap);
    cr_assert_not_null(s);
    o += (size_t)snprintf(s + o, cap - o, "%s",
                          quoted_notes ? "order_id,customer_id,ordered_at,amount,note\n" : HDR);
    int line = 2;
    for (int i = 1; i <= 12000; i++) {
        int rows = 1 + (i % 4 == 0);
        for (int k = 0; k < rows; k++) {
            const char *amount = (line == bad_at1 || line == bad_at2) ? "1.2.3" : "12.34";
            o += (size_t)snprintf(s + o, cap - o, "%d,cust%d,2025-%02d-%02dT10:%02d:00Z,%s", i,
                                  i % 997, 1 + i % 12, 1 + i % 28, k, amount);
            if (quoted_notes) {
                o += (size_t)snprintf(s + o, cap - o, ",\"note %d\nsecond line\"\n", i);
                line += 2;
            } else {
                o += (size_t)snprintf(s + o, cap - o, "\n");
                line += 1;
            }
            cr_assert_lt(o + 200, cap);
        }
    }
    *n = o;
    return s;
}

static void compare_threads(const char *in, size_t n, int skip_bad, size_t block)
{
    struct recorder ref = {0};
    struct pt_ingest_stats rst;
    struct pt_err re;
    FILE *rrej = skip_bad ? tmpfile() : NULL;
    int rrc = ingest_n(in, n, MAPPED,
                       (struct pt_ingest_opts){.threads = 1,
                                               .skip_bad = skip_bad,
                                               .rejects = rrej,
                                               .block_size = block,
                                               .max_record = block ? 4096 : 0},
                       &ref, &rst, &re);
    char *rs = rrej ? slurp(rrej) : NULL;
    for (int th = 2; th <= 8; th *= 2) {
        for (int how = MAPPED; how <= PIPE; how++) {
            struct recorder r = {0};
            struct pt_ingest_stats st;
            struct pt_err e;
            FILE *rej = skip_bad ? tmpfile() : NULL;
            int rc = ingest_n(in, n, (enum how)how,
                              (struct pt_ingest_opts){.threads = th,
                                                      .skip_bad = skip_bad,
                                                      .rejects = rej,
                                                      .block_size = block,
                                                      .max_record = block ? 4096 : 0},
                              &r, &st, &e);
            cr_assert_eq(rc, rrc, "%d threads, %s: %s", th, how_name[how], e.msg);
            if (rc) {
                cr_expect_str_eq(e.msg, re.msg, "%d threads, %s", th, how_name[how]);
                cr_expect_eq(e.line, re.line);
            } else {
                cr_expect_eq(st.rows, rst.rows);
                cr_expect_eq(st.bad_rows, rst.bad_rows);
                cr_expect_eq(st.orders, rst.orders);
                if (how != PIPE) {
                    cr_assert_eq(r.n, ref.n);
                    for (size_t i = 0; i < r.n; i++)
                        if (cmp_got(&r.o[i], &ref.o[i]) != 0)
                            cr_assert_fail("%d threads: order %zu differs", th, i);
                }
                if (rej) {
                    char *s = slurp(rej);
                    cr_expect_str_eq(s, rs, "%d threads, %s: rejects", th, how_name[how]);
                    free(s);
                }
            }
            if (rej)
                fclose(rej);
            rec_free(&r);
        }
    }
    free(rs);
    if (rrej)
        fclose(rrej);
    rec_free(&ref);
}

Test(orders, threads_split_plain_lines)
{
    size_t n;
    char *in = make_big(&n, 0, 0, 0);
    cr_assert_gt(n, 2 * 65536);
    compare_threads(in, n, 0, 0);
    compare_threads(in, n, 0, 150000);
    free(in);
}

Test(orders, threads_split_inside_quoted_fields)
{
    size_t n;
    char *in = make_big(&n, 1, 0, 0);
    compare_threads(in, n, 0, 0);
    compare_threads(in, n, 0, 200000);
    free(in);
}

Test(orders, threads_report_the_first_bad_row_in_file_order)
{
    size_t n;
    /* Bad rows near the end and near the start: the early one is reported. */
    char *in = make_big(&n, 0, 14000, 100);
    compare_threads(in, n, 0, 0);
    compare_threads(in, n, 1, 0);
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    cr_expect_eq(ingest_n(in, n, MAPPED, (struct pt_ingest_opts){.threads = 2}, &r, &st, &e),
                 PT_EPARSE);
    cr_expect_eq(e.line, 100, "%s", e.msg);
    rec_free(&r);
    free(in);
    /* Only a bad row in the second half. */
    in = make_big(&n, 1, 20000, 0);
    compare_threads(in, n, 0, 0);
    cr_expect_eq(ingest_n(in, n, MAPPED, (struct pt_ingest_opts){.threads = 2}, &r, &st, &e),
                 PT_EPARSE);
    cr_expect_eq(e.line, 20000, "%s", e.msg);
    rec_free(&r);
    free(in);
}

/* ---- the sink and progress ---- */

Test(orders, sink_error_stops_the_run)
{
    struct recorder r = {.fail_with = PT_EIO};
    struct pt_ingest_stats st;
    struct pt_err e;
    int rc = ingest(HDR "1,10,2023-01-01T00:00:00Z,1\n", MAPPED, (struct pt_ingest_opts){0}, &r,
                    &st, &e);
    cr_expect_eq(rc, PT_EIO);
    cr_expect_eq(r.batches, 1);
    rec_free(&r);
}

static void on_progress(void *ctx, uint64_t bytes)
{
    uint64_t *last = ctx;
    cr_assert_geq(bytes, *last, "progress never goes back");
    *last = bytes;
}

Test(orders, progress_reaches_the_input_size)
{
    size_t n;
    char *in = make_mixed(&n, 0);
    for (int how = MAPPED; how <= PIPE; how++) {
        uint64_t last = 0;
        struct recorder r = {0};
        struct pt_ingest_stats st;
        struct pt_err e;
        struct pt_ingest_opts o = {
            .block_size = 100, .max_record = 256, .progress = on_progress, .pctx = &last};
        cr_assert_eq(ingest_n(in, n, (enum how)how, o, &r, &st, &e), 0, "%s", e.msg);
        cr_expect_eq(last, n, "%s", how_name[how]);
        rec_free(&r);
    }
    free(in);
}

Test(orders, order_total_overflow_is_a_bad_row)
{
    /* 93 lines of 999999999999999.99 overflow int64 cents. */
    const size_t cap = 8192;
    char *s = malloc(cap);
    cr_assert_not_null(s);
    size_t o = (size_t)snprintf(s, cap, "%s", HDR);
    for (int i = 0; i < 93; i++)
        o += (size_t)snprintf(s + o, cap - o, "1,10,2023-01-01T00:00:00Z,999999999999999.99\n");
    o += (size_t)snprintf(s + o, cap - o, "2,11,2023-01-02T00:00:00Z,1\n");
    cr_assert_lt(o, cap);
    struct recorder r = {0};
    struct pt_ingest_stats st;
    struct pt_err e;
    int rc = ingest(s, MAPPED, (struct pt_ingest_opts){.skip_bad = 1}, &r, &st, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_expect_eq(st.bad_rows, 1);
    cr_assert_eq(r.n, 2);
    expect_order(&r, 0, "10", "2023-01-01T00:00:00Z", 9199999999999999908LL, 0);
    rec_free(&r);
    rc = ingest(s, MAPPED, (struct pt_ingest_opts){0}, &r, &st, &e);
    cr_expect_eq(rc, PT_EPARSE);
    cr_expect_str_eq(e.msg, "t.csv:94:27: field 'amount': order total too large");
    rec_free(&r);
    free(s);
}

/* ---- the fast line path and the general path agree ---- */

/* Rows in the canonical 4-column order; the same rows with a 5th column (so
 * the fast path is off) and with the columns in another order must give the
 * same orders, counts and bad-row positions. */
static size_t make_rows(char *s, size_t cap, int variant, int skip_bad)
{
    static const char *const times[] = {
        "2024-02-29T23:59:59Z", "2023-01-01T00:00:00Z",      "1999-12-31T12:34:56Z",
        "2023-01-01",           "2023-01-01T01:00:00+01:00", "2023-06-15T08:00:00.5Z",
        "2023-02-30T00:00:00Z", "2023-13-01T00:00:00Z",      "2023-01-01T24:00:00Z",
        "2100-02-28T00:00:00Z",
    };
    static const char *const amounts[] = {"0",  "12", "12.5",  "12.34", "999999999999999.99",
                                          ".5", "5.", "1.234", "-1",    "00012.30"};
    static const char *const cids[] = {"1",
                                       "42",
                                       "cust-9",
                                       "\"quoted\"",
                                       "a b",
                                       "0123456789012345678901234567890123456789"
                                       "0123456789012345678901234567890123456789"
                                       "0123456789012345678901234567890123456789"
                                       "01234567"};
    size_t o = 0;
    const char *hdr = variant == 0   ? HDR
                      : variant == 1 ? "order_id,customer_id,ordered_at,amount,x\n"
                                     : "amount,ordered_at,customer_id,order_id\n";
    o += (size_t)snprintf(s + o, cap - o, "%s", hdr);
    for (int i = 0; i < 600; i++) {
        /* Every third order has two rows; a few second rows name another
         * customer (a mismatch). Times 6-8 and amounts 7-8 are bad values. */
        int first = i - (i % 3 == 1), mismatch = i % 30 == 1;
        const char *t = times[(i * 7) % 10], *a = amounts[(i * 3) % 10];
        const char *c = cids[(first + mismatch) % 6];
        int bad = mismatch || ((i * 7) % 10 >= 6 && (i * 7) % 10 <= 8) ||
                  ((i * 3) % 10 >= 7 && (i * 3) % 10 <= 8);
        if (bad && !skip_bad)
            continue;
        const char *eol = i % 4 == 0 ? "\r\n" : "\n";
        int oid = 1000 + first;
        if (variant == 2)
            o += (size_t)snprintf(s + o, cap - o, "%s,%s,%s,%d%s", a, t, c, oid, eol);
        else
            o += (size_t)snprintf(s + o, cap - o, "%d,%s,%s,%s%s%s", oid, c, t, a,
                                  variant == 1 ? ",x" : "", eol);
        cr_assert_lt(o + 300, cap);
    }
    return o;
}

Test(orders, fast_path_and_general_path_agree)
{
    for (int skip_bad = 0; skip_bad <= 1; skip_bad++) {
        struct recorder r[3] = {{0}};
        struct pt_ingest_stats st[3];
        for (int v = 0; v < 3; v++) {
            char *s = malloc(1 << 17);
            cr_assert_not_null(s);
            size_t n = make_rows(s, 1 << 17, v, skip_bad);
            struct pt_err e;
            int rc = ingest_n(s, n, MAPPED, (struct pt_ingest_opts){.skip_bad = skip_bad}, &r[v],
                              &st[v], &e);
            cr_assert_eq(rc, 0, "variant %d: %s", v, e.msg);
            free(s);
        }
        cr_expect_gt(r[0].n, 100);
        if (skip_bad)
            cr_expect_gt(st[0].bad_rows, 100);
        for (int v = 1; v < 3; v++) {
            cr_expect_eq(st[v].rows, st[0].rows, "variant %d", v);
            cr_expect_eq(st[v].bad_rows, st[0].bad_rows, "variant %d", v);
            cr_expect_eq(st[v].general_mode, st[0].general_mode, "variant %d", v);
            cr_assert_eq(r[v].n, r[0].n, "variant %d", v);
            for (size_t i = 0; i < r[0].n; i++)
                if (cmp_got(&r[v].o[i], &r[0].o[i]) != 0)
                    cr_assert_fail("variant %d, order %zu: (%s %lld %lld), want (%s %lld %lld)", v,
                                   i, r[v].o[i].cid, (long long)r[v].o[i].t,
                                   (long long)r[v].o[i].amount, r[0].o[i].cid,
                                   (long long)r[0].o[i].t, (long long)r[0].o[i].amount);
        }
        for (int v = 0; v < 3; v++)
            rec_free(&r[v]);
    }
}

/* ---- a sink that takes orders on the parser threads (sink->add) ---- */

/* Same input into a batch-only recorder and into a sink with add()/flush()
 * accepting `sink_threads` tids: the same orders, stats and result code. */
static void compare_add_path(const char *label, const char *in, size_t n, struct pt_ingest_opts o,
                             int sink_threads, int expect_adds)
{
    struct recorder ref = {0};
    struct pt_ingest_stats rst;
    struct pt_err re;
    int rrc = ingest_n(in, n, MAPPED, o, &ref, &rst, &re);
    for (int how = MAPPED; how <= PIPE; how++) {
        struct trec *t = calloc(1, sizeof *t);
        cr_assert_not_null(t);
        t->threads = sink_threads;
        struct pt_order_sink sink = {.ctx = t,
                                     .batch = trec_batch,
                                     .reset = trec_reset,
                                     .add = trec_add,
                                     .flush = trec_flush,
                                     .threads = sink_threads};
        struct pt_ingest_stats st;
        struct pt_err e;
        int rc = ingest_sink(in, n, (enum how)how, o, &sink, &st, &e);
        char what[96];
        snprintf(what, sizeof what, "%s, %d parser threads, sink of %d, %s", label, o.threads,
                 sink_threads, how_name[how]);
        cr_assert_eq(rc, rrc, "%s: %s", what, e.msg);
        cr_expect_eq(atomic_load(&t->violations), 0, "%s: contract breaches in add()", what);
        if (rc) {
            cr_expect_str_eq(e.msg, re.msg, "%s", what);
        } else {
            cr_expect_eq(st.rows, rst.rows, "%s", what);
            cr_expect_eq(st.bad_rows, rst.bad_rows, "%s", what);
            /* (st.orders leaves out the orders given to add(): see
             * pending_bugs.c.txt.) */
            for (int i = 0; i < TREC_MAX; i++)
                cr_expect_eq(t->unflushed[i], 0, "%s: tid %d not flushed after its last add()",
                             what, i);
            if (expect_adds && how != PIPE)
                cr_expect_gt(atomic_load(&t->adds), 0, "%s: the add() path was used", what);
            if (how == PIPE)
                cr_expect_eq(atomic_load(&t->adds), 0, "%s: general mode uses batch()", what);
            struct recorder all, want = {0};
            trec_collect(t, &all);
            want.n = want.cap = ref.n;
            want.o = malloc((ref.n ? ref.n : 1) * sizeof *want.o);
            cr_assert_not_null(want.o);
            if (ref.n)
                memcpy(want.o, ref.o, ref.n * sizeof *want.o);
            expect_same_orders(&all, &want, what);
            rec_free(&all);
            rec_free(&want);
        }
        trec_free(t);
        free(t);
    }
    rec_free(&ref);
}

Test(orders, add_path_small_inputs)
{
    compare_add_path("k_bad", k_bad, strlen(k_bad), (struct pt_ingest_opts){.skip_bad = 1}, 1, 1);
    compare_add_path("k_bad", k_bad, strlen(k_bad), (struct pt_ingest_opts){0}, 1, 0);
    compare_add_path("scattered", k_scattered, strlen(k_scattered), (struct pt_ingest_opts){0}, 2,
                     0);
    compare_add_path("uci", k_uci, strlen(k_uci), (struct pt_ingest_opts){0}, 4, 0);
    size_t n;
    char *in = make_mixed(&n, 1);
    compare_add_path("mixed", in, n, (struct pt_ingest_opts){.skip_bad = 1}, 1, 1);
    /* Tiny windows: each part holds one or two groups, so maybe no add(). */
    compare_add_path("mixed, block 7", in, n,
                     (struct pt_ingest_opts){.skip_bad = 1, .block_size = 7, .max_record = 128}, 1,
                     0);
    compare_add_path("mixed, block 333", in, n,
                     (struct pt_ingest_opts){.skip_bad = 1, .block_size = 333, .max_record = 256},
                     3, 0);
    free(in);
}

Test(orders, add_path_with_parser_threads)
{
    size_t n;
    char *in = make_big(&n, 0, 0, 0);
    for (int th = 1; th <= 8; th *= 2) {
        compare_add_path("big", in, n, (struct pt_ingest_opts){.threads = th}, th, 1);
        compare_add_path("big", in, n, (struct pt_ingest_opts){.threads = th}, 2, 1);
    }
    compare_add_path(
        "big, block 150000", in, n,
        (struct pt_ingest_opts){.threads = 2, .block_size = 150000, .max_record = 4096}, 2, 1);
    free(in);
    /* Cuts inside quoted fields (may restart in general mode). */
    in = make_big(&n, 1, 0, 0);
    compare_add_path("quoted notes", in, n, (struct pt_ingest_opts){.threads = 4}, 4, 0);
    free(in);
    /* Bad rows in both halves. */
    in = make_big(&n, 0, 14000, 100);
    compare_add_path("bad rows", in, n, (struct pt_ingest_opts){.threads = 2}, 2, 0);
    compare_add_path("bad rows", in, n, (struct pt_ingest_opts){.threads = 2, .skip_bad = 1}, 2, 1);
    free(in);
}
