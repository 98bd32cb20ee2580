/*
 * test_clv.c - BG/NBD against the values published for the CDNOW sample
 * (Fader, Hardie & Lee 2005: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426,
 * log-likelihood -9582.4; 2,357 customers, calibration weeks 1-39), plus
 * numerical stability. The CDNOW summary is read from ../shared/data; a
 * clone without it skips those tests (CI has it).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clv/clv.h"
#include "util/mem.h"

#define SUMMARY "../shared/data/cdnow_summary.csv"

static size_t load(struct pt_rfx *c, size_t cap)
{
    FILE *f = fopen(SUMMARY, "r");
    if (f == NULL)
        return 0;
    char line[256];
    size_t n = 0;
    cr_assert(fgets(line, sizeof line, f), "empty summary");
    cr_assert(strncmp(line, "ID,frequency,recency,T", 22) == 0, "unexpected header: %s", line);
    while (n < cap && fgets(line, sizeof line, f)) {
        long id;
        double x, tx, T;
        cr_assert_eq(sscanf(line, "%ld,%lf,%lf,%lf", &id, &x, &tx, &T), 4, "bad line %s", line);
        c[n++] = (struct pt_rfx){x, tx, T};
    }
    fclose(f);
    return n;
}

Test(clv, bgnbd_fits_cdnow_as_published)
{
    static struct pt_rfx c[4000];
    size_t n = load(c, 4000);
    if (n == 0)
        cr_skip_test("%s is not here (a clone without ../shared)", SUMMARY);
    cr_assert_eq(n, 2357);
    struct pt_clv_params pp;
    struct pt_clv_fit fit;
    struct pt_err e;
    cr_assert_eq(pt_clv_fit(PT_BGNBD, c, n, &pp, &fit, &e), 0, "%s", e.msg);
    struct pt_bgnbd {
        double r, alpha, a, b;
    } p = {pp.v[0], pp.v[1], pp.v[2], pp.v[3]};
    double ll = fit.ll;
    /* published to 3 decimals; the log-likelihood to 1 */
    cr_expect(fabs(p.r - 0.243) < 0.0006, "r = %.5f", p.r);
    cr_expect(fabs(p.alpha - 4.414) < 0.0006, "alpha = %.5f", p.alpha);
    cr_expect(fabs(p.a - 0.793) < 0.0006, "a = %.5f", p.a);
    cr_expect(fabs(p.b - 2.426) < 0.0006, "b = %.5f", p.b);
    cr_expect(fabs(ll - -9582.4) < 0.06, "ll = %.4f", ll);
    /* the published point is not better than ours */
    struct pt_clv_params pub = {PT_BGNBD, {0.243, 4.414, 0.793, 2.426}};
    cr_expect(pt_clv_ll(&pub, c, n) <= ll + 1e-9);
}

Test(clv, bgnbd_ll_is_finite_for_extreme_customers_and_parameters)
{
    struct pt_rfx c[] = {{0, 0, 1e-3}, {500, 77.5, 78}, {1, 0.001, 1000}, {1e4, 1, 1}};
    struct pt_clv_params ps[] = {{PT_BGNBD, {0.243, 4.414, 0.793, 2.426}},
                                 {PT_BGNBD, {1e-6, 1e-6, 1e-6, 1e-6}},
                                 {PT_BGNBD, {1e6, 1e6, 1e6, 1e6}},
                                 {PT_BGNBD, {1e-6, 1e6, 1e6, 1e-6}}};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
            double v = pt_clv_ll1(&ps[i], &c[k]);
            cr_expect(isfinite(v), "params %zu customer %zu: %g", i, k, v);
            cr_expect(v <= 1e-9 || c[k].x > 0, "a probability above 1: %g", v);
        }
}

Test(clv, bgnbd_one_customer_matches_the_formula_by_hand)
{
    /* x = 2, t_x = 30.43, T = 38.86 (CDNOW customer 1) at the published point,
     * written out term by term in plain (not log) arithmetic */
    struct pt_clv_params pp = {PT_BGNBD, {0.243, 4.414, 0.793, 2.426}};
    double r = pp.v[0], alpha = pp.v[1], a = pp.v[2], b = pp.v[3];
    struct pt_rfx c = {2, 30.43, 38.86};
    double A1 = tgamma(r + 2) * pow(alpha, r) / tgamma(r);
    double A2 = tgamma(a + b) * tgamma(b + 2) / (tgamma(b) * tgamma(a + b + 2));
    double A3 = pow(1 / (alpha + c.T), r + 2);
    double A4 = a / (b + 1) * pow(1 / (alpha + c.tx), r + 2);
    cr_expect(fabs(pt_clv_ll1(&pp, &c) - log(A1 * A2 * (A3 + A4))) < 1e-10);
}

Test(clv, bgnbd_refuses_impossible_summaries)
{
    struct pt_rfx bad[] = {{-1, 0, 5}, {1, 6, 5}, {0, 2, 5}, {1.5, 1, 5}, {1, 1, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct pt_clv_params p;
        struct pt_clv_fit fit;
        struct pt_err e;
        cr_expect_eq(pt_clv_fit(PT_BGNBD, &bad[i], 1, &p, &fit, &e), PT_EINVAL, "case %zu", i);
        cr_expect(strstr(e.msg, "customer 1") != NULL, "%s", e.msg);
    }
}

/* Gamma-Gamma on the CDNOW repeat customers (946 with x > 0): published
 * p = 6.25, q = 3.74, gamma = 15.44 (Fader, Hardie & Lee 2005, "RFM and CLV"). */
Test(clv, gamma_gamma_fits_cdnow_as_published)
{
    FILE *f = fopen("../shared/data/cdnow_summary_with_monetary.csv", "r");
    if (f == NULL)
        cr_skip_test("../shared/data is not here (a clone without it)");
    static double x[4000], m[4000];
    size_t n = 0, repeat = 0;
    char line[256];
    cr_assert(fgets(line, sizeof line, f));
    while (n < 4000 && fgets(line, sizeof line, f)) {
        long id;
        double tx, T;
        cr_assert_eq(sscanf(line, "%ld,%lf,%lf,%lf,%lf", &id, &x[n], &tx, &T, &m[n]), 5);
        repeat += x[n] > 0;
        n++;
    }
    fclose(f);
    cr_assert_eq(n, 2357);
    cr_assert_eq(repeat, 946);
    struct pt_gg g;
    struct pt_clv_fit fit;
    struct pt_err e;
    cr_assert_eq(pt_gg_fit(x, m, n, &g, &fit, &e), 0, "%s", e.msg);
    cr_expect(fabs(g.p - 6.25) < 0.006, "p = %.5f", g.p);
    cr_expect(fabs(g.q - 3.74) < 0.006, "q = %.5f", g.q);
    cr_expect(fabs(g.gamma - 15.44) < 0.011, "gamma = %.5f", g.gamma);
    /* the population mean spend p gamma / (q - 1), about $35 */
    double mean = pt_gg_mean(&g, 0, 0);
    cr_expect(fabs(mean - g.p * g.gamma / (g.q - 1)) < 1e-9 && mean > 34 && mean < 36, "%g", mean);
}

Test(clv, gamma_gamma_refuses_impossible_summaries)
{
    double x[] = {1, 2}, m[] = {10, 0};
    struct pt_gg g;
    struct pt_clv_fit fit;
    struct pt_err e;
    cr_expect_eq(pt_gg_fit(x, m, 2, &g, &fit, &e), PT_EINVAL);
    cr_expect(strstr(e.msg, "customer 2") != NULL, "%s", e.msg);
    double x0[] = {0, 0}, m0[] = {0, 0};
    cr_expect_eq(pt_gg_fit(x0, m0, 2, &g, &fit, &e), PT_EINVAL);
}
