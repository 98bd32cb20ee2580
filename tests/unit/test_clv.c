/*
 * test_clv.c - the CLV models of src/clv, checked three ways:
 *  - against published numbers for the CDNOW sample (2,357 customers,
 *    calibration weeks 1-39): the BG/NBD fit of Fader, Hardie & Lee (2005:
 *    r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, log-likelihood -9582.4)
 *    and its worked example, the standard errors printed by the lifetimes
 *    package, the Pareto/NBD fit and examples of the BTYD walkthrough, the
 *    Gamma-Gamma fit of Fader, Hardie & Lee (2005, "RFM and CLV");
 *  - against independent computations written here in plain C: a Hessian of
 *    pt_clv_ll for the standard errors, and tanh-sinh quadrature of the
 *    defining integrals for P(alive), the expectations and the Pareto/NBD
 *    likelihood;
 *  - for internal consistency (pmf against expectation, next purchase against
 *    pmf, value against expectation) and numerical stability.
 * The CDNOW summaries are read from ../shared/data; a clone without them
 * skips those tests (CI has them).
 */
#include <criterion/criterion.h>
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clv/clv.h"
#include "clv/clv_int.h"
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

/* ---------------------------------------------------------------------------
 * Helpers for the tests below.
 */

#define MONETARY "../shared/data/cdnow_summary_with_monetary.csv"

/* The published BG/NBD and Pareto/NBD points for CDNOW. The Pareto/NBD one is
 * printed to full precision in the BTYD walkthrough (pnbd.EstimateParameters:
 * 0.5533971 10.5801985 0.6060625 11.6562237, log-likelihood -9594.976). */
static const struct pt_clv_params BG_PUB = {PT_BGNBD, {0.243, 4.414, 0.793, 2.426}};
static const struct pt_clv_params PN_PUB = {PT_PNBD,
                                            {0.5533971, 10.5801985, 0.6060625, 11.6562237}};

/* x and mean spend of the CDNOW customers; how many (0 if the file is not here). */
static size_t load_monetary(double *x, double *m, size_t cap)
{
    FILE *f = fopen(MONETARY, "r");
    if (f == NULL)
        return 0;
    char line[256];
    size_t n = 0;
    cr_assert(fgets(line, sizeof line, f), "empty summary");
    while (n < cap && fgets(line, sizeof line, f)) {
        long id;
        double tx, T;
        cr_assert_eq(sscanf(line, "%ld,%lf,%lf,%lf,%lf", &id, &x[n], &tx, &T, &m[n]), 5);
        n++;
    }
    fclose(f);
    return n;
}

static double rel_err(double got, double want)
{
    return fabs(got - want) / fabs(want);
}

/*
 * Standard errors from a Hessian taken here: central differences of ll (a
 * log-likelihood of the natural parameters th[0..d), d <= 4) with steps of
 * 1e-3 th[i] (the library uses 1e-4 and its own grouped objective), inverted
 * by Gauss-Jordan elimination. diag[i] = 1 / sqrt(-H_ii), the standard error
 * th[i] would have if the other parameters were known. Returns 0 unless -H is
 * positive definite on its diagonal and its inverse has a positive diagonal.
 */
static int hessian_std_errors(double (*ll)(const double *th, const void *data), const void *data,
                              int d, const double *th, double *se, double *diag)
{
    double H[4][4], M[4][8], t[4], h[4];
    double f0 = ll(th, data);
    for (int i = 0; i < d; i++)
        h[i] = 1e-3 * th[i];
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) {
            double s = 0;
            if (i == j) {
                memcpy(t, th, (size_t)d * sizeof *t);
                t[i] = th[i] + h[i];
                s += ll(t, data);
                t[i] = th[i] - h[i];
                s += ll(t, data);
                s = (s - 2 * f0) / (h[i] * h[i]);
            } else {
                for (int k = 0; k < 4; k++) {
                    int si = k < 2 ? 1 : -1, sj = k % 2 ? -1 : 1;
                    memcpy(t, th, (size_t)d * sizeof *t);
                    t[i] += si * h[i];
                    t[j] += sj * h[j];
                    s += si * sj * ll(t, data);
                }
                s /= 4 * h[i] * h[j];
            }
            H[i][j] = H[j][i] = s;
        }
    for (int i = 0; i < d; i++)
        for (int j = 0; j < 2 * d; j++)
            M[i][j] = j < d ? -H[i][j] : (j - d == i);
    for (int col = 0; col < d; col++) {
        int piv = col;
        for (int r = col + 1; r < d; r++)
            if (fabs(M[r][col]) > fabs(M[piv][col]))
                piv = r;
        if (!(fabs(M[piv][col]) > 0))
            return 0;
        for (int j = 0; j < 2 * d; j++) {
            double tmp = M[col][j];
            M[col][j] = M[piv][j];
            M[piv][j] = tmp;
        }
        double p = M[col][col];
        for (int j = 0; j < 2 * d; j++)
            M[col][j] /= p;
        for (int r = 0; r < d; r++)
            if (r != col) {
                double f = M[r][col];
                for (int j = 0; j < 2 * d; j++)
                    M[r][j] -= f * M[col][j];
            }
    }
    for (int i = 0; i < d; i++) {
        if (!(M[i][d + i] > 0) || !(-H[i][i] > 0))
            return 0;
        se[i] = sqrt(M[i][d + i]);
        diag[i] = 1 / sqrt(-H[i][i]);
    }
    return 1;
}

struct cust_set {
    enum pt_clv_model m;
    const struct pt_rfx *c;
    size_t n;
};

static double purchase_ll(const double *th, const void *data)
{
    const struct cust_set *s = data;
    struct pt_clv_params p = {s->m, {th[0], th[1], th[2], th[3]}};
    return pt_clv_ll(&p, s->c, s->n);
}

struct spend_set {
    const double *x, *m;
    size_t n;
};

static double spend_ll(const double *th, const void *data)
{
    const struct spend_set *s = data;
    struct pt_gg g = {th[0], th[1], th[2]};
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += pt_gg_ll1(&g, s->x[i], s->m[i]);
    return sum;
}

/*
 * Tanh-sinh (double-exponential) quadrature of f over [lo, hi]: with
 * x = lo + (hi - lo) (1 + tanh(pi/2 sinh u)) / 2 the trapezoid rule in u
 * converges exponentially even for integrable algebraic singularities at the
 * ends. f gets d0 = x - lo and d1 = hi - x, both without cancellation. The
 * step is halved (from 1/2 to at most 1/512, u in [-4.5, 4.5]) until two
 * estimates agree to 1e-14; *err receives their last difference.
 */
#define TS_U 4.5

static double ts_node(double (*f)(double, double, const void *), const void *arg, double half,
                      double u)
{
    double s = M_PI_2 * sinh(u), c = cosh(s);
    double d0 = 2 * half / (1 + exp(-2 * s)), d1 = 2 * half / (1 + exp(2 * s));
    return half * M_PI_2 * cosh(u) / (c * c) * f(d0, d1, arg);
}

static double tanh_sinh(double (*f)(double, double, const void *), const void *arg, double lo,
                        double hi, double *err)
{
    double half = 0.5 * (hi - lo), h = 0.5;
    double sum = ts_node(f, arg, half, 0);
    for (double u = h; u <= TS_U; u += h)
        sum += ts_node(f, arg, half, u) + ts_node(f, arg, half, -u);
    double est = h * sum;
    *err = INFINITY;
    for (int level = 0; level < 8 && !(*err <= 1e-14 * fabs(est)); level++) {
        h /= 2;
        for (double u = h; u <= TS_U; u += 2 * h)
            sum += ts_node(f, arg, half, u) + ts_node(f, arg, half, -u);
        double next = h * sum;
        *err = fabs(next - est);
        est = next;
    }
    return est;
}

/*
 * BG/NBD, alive at T: purchases in (T, T + t] are E over p ~ Beta(a, b + x)
 * of g(p) = (1 - (A / (A + p t))^R) / p, R = r + x, A = alpha + T (the
 * purchase rate is Gamma(R, A); a customer with dropout probability p makes a
 * geometric number of purchases). The Beta density is singular at 0 when
 * a < 1 and at 1 when b + x < 1, so [0, 1/2] is integrated in v = p^a and
 * [1/2, 1] in w = (1 - p)^(b + x): p^(a-1) dp = dv / a, and what remains is
 * bounded.
 */
struct bg_ref {
    double a, b, R, A, t, lnB;
};

static double bg_g(const struct bg_ref *q, double p)
{
    if (p < 1e-150) /* R t / A (1 + O(p)); keeps p away from subnormals */
        return q->R * q->t / q->A;
    return -expm1(-q->R * log1p(p * q->t / q->A)) / p;
}

static double bg_left(double v, double unused, const void *arg)
{
    (void)unused;
    const struct bg_ref *q = arg;
    double p = exp(log(v) / q->a);
    return exp((q->b - 1) * log1p(-p) - q->lnB - log(q->a)) * bg_g(q, p);
}

static double bg_right(double w, double unused, const void *arg)
{
    (void)unused;
    const struct bg_ref *q = arg;
    double m = exp(log(w) / q->b); /* 1 - p */
    return exp((q->a - 1) * log1p(-m) - q->lnB - log(q->b)) * bg_g(q, 1 - m);
}

static double ref_bg_alive_expected(const double *v, const struct pt_rfx *c, double t, double *err)
{
    struct bg_ref q = {v[2], v[3] + c->x, v[0] + c->x, v[1] + c->T, t, 0};
    q.lnB = lgamma(q.a) + lgamma(q.b) - lgamma(q.a + q.b);
    double e1, e2;
    double s = tanh_sinh(bg_left, &q, 0, pow(2, -q.a), &e1) +
               tanh_sinh(bg_right, &q, 0, pow(2, -q.b), &e2);
    *err = (e1 + e2) / s;
    return s;
}

/* BG/NBD P(alive) in closed form (Fader, Hardie & Lee 2005):
 * 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x)). */
static double ref_bg_palive(const double *v, const struct pt_rfx *c)
{
    if (c->x == 0)
        return 1;
    double r = v[0], al = v[1], a = v[2], b = v[3];
    return 1 / (1 + a / (b + c->x - 1) * exp((r + c->x) * log((al + c->T) / (al + c->tx))));
}

/*
 * Pareto/NBD likelihood written as the integral it comes from (Fader & Hardie
 * 2005, "A Note on Deriving the Pareto/NBD Model and Related Expressions",
 * before the integral over the death time is done; lambda and mu integrated
 * out):
 *   L = G(r+x) alpha^r beta^s / G(r) * [ (alpha+T)^-(r+x) (beta+T)^-s
 *       + s * integral_{t_x}^{T} (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau ]
 * (alive throughout, or dead at tau after the last purchase). The integrand,
 * divided by its value at t_x, is integrated over tau - t_x in [0, T - t_x].
 * ln of the bracket is returned, *head gets ln of its first term and *err
 * the quadrature's relative error.
 */
struct pn_ref {
    double k1, c1, k2, c2;
};

static double pn_tail(double d0, double unused, const void *arg)
{
    (void)unused;
    const struct pn_ref *q = arg;
    return exp(-q->k1 * log1p(d0 / q->c1) - q->k2 * log1p(d0 / q->c2));
}

static double ref_pn_bracket(const double *v, const struct pt_rfx *c, double *head, double *err)
{
    double r = v[0], al = v[1], s = v[2], be = v[3], x = c->x;
    *head = -(r + x) * log(al + c->T) - s * log(be + c->T);
    *err = 0;
    if (!(c->T > c->tx))
        return *head;
    struct pn_ref q = {r + x, al + c->tx, s + 1, be + c->tx};
    double I = tanh_sinh(pn_tail, &q, 0, c->T - c->tx, err);
    *err /= I;
    double lt = log(s) - (r + x) * log(al + c->tx) - (s + 1) * log(be + c->tx) + log(I);
    double m = fmax(*head, lt);
    return m + log(exp(*head - m) + exp(lt - m));
}

static double ref_pn_ll1(const double *v, const struct pt_rfx *c, double *err)
{
    double head, br = ref_pn_bracket(v, c, &head, err);
    return lgamma(v[0] + c->x) - lgamma(v[0]) + v[0] * log(v[1]) + v[2] * log(v[3]) + br;
}

static double ref_pn_palive(const double *v, const struct pt_rfx *c, double *err)
{
    double head, br = ref_pn_bracket(v, c, &head, err);
    return exp(head - br);
}

/* Pareto/NBD, alive at T: (R/A) * integral_0^t (B / (B + u))^s du, B = beta + T
 * (the expected purchase rate times the expected time alive in the window,
 * the remaining lifetime being Lomax(s, B)). */
struct pn_surv_arg {
    double s, B;
};

static double pn_surv(double d0, double unused, const void *arg)
{
    (void)unused;
    const struct pn_surv_arg *q = arg;
    return exp(-q->s * log1p(d0 / q->B));
}

static double ref_pn_alive_expected(const double *v, const struct pt_rfx *c, double t, double *err)
{
    struct pn_surv_arg q = {v[2], v[3] + c->T};
    double I = tanh_sinh(pn_surv, &q, 0, t, err);
    *err /= I;
    return (v[0] + c->x) / (v[1] + c->T) * I;
}

/* P(alive) and E[purchases in (T, T+t]] by the quadratures above. */
static double ref_palive(const struct pt_clv_params *p, const struct pt_rfx *c)
{
    double err;
    if (p->model == PT_BGNBD)
        return ref_bg_palive(p->v, c);
    double pa = ref_pn_palive(p->v, c, &err);
    cr_assert(err < 1e-11, "reference quadrature did not converge (%g)", err);
    return pa;
}

static double ref_expected(const struct pt_clv_params *p, const struct pt_rfx *c, double t)
{
    double err, e = p->model == PT_BGNBD ? ref_bg_alive_expected(p->v, c, t, &err)
                                         : ref_pn_alive_expected(p->v, c, t, &err);
    cr_assert(err < 1e-11, "reference quadrature did not converge (%g)", err);
    return ref_palive(p, c) * e;
}

/* Customers used by several tests: x = 0, 1, 5 (recent and not), 50, 300. */
static const struct pt_rfx CUSTOMERS[] = {{0, 0, 39},        {1, 20, 39},    {5, 35, 39},
                                          {5, 10, 39},       {50, 38, 39},   {300, 38.9, 39},
                                          {2, 30.43, 38.86}, {26, 30.86, 31}};
#define NCUST (sizeof CUSTOMERS / sizeof CUSTOMERS[0])

/* ---------------------------------------------------------------------------
 * Fits and standard errors.
 */

/* Pareto/NBD on CDNOW as published in the BTYD walkthrough (BTYD package;
 * Fader, Hardie & Lee 2005): r = 0.5534, alpha = 10.5802, s = 0.6061,
 * beta = 11.6562, log-likelihood -9594.98. The likelihood is nearly flat
 * along beta, hence the looser bound there. */
Test(clv, pareto_nbd_fits_cdnow_as_published)
{
    static struct pt_rfx c[4000];
    size_t n = load(c, 4000);
    if (n == 0)
        cr_skip_test("%s is not here (a clone without ../shared)", SUMMARY);
    cr_assert_eq(n, 2357);
    struct pt_clv_params p;
    struct pt_clv_fit fit;
    struct pt_err e;
    cr_assert_eq(pt_clv_fit(PT_PNBD, c, n, &p, &fit, &e), 0, "%s", e.msg);
    cr_assert_eq(p.model, PT_PNBD);
    cr_expect(rel_err(p.v[0], 0.5534) < 0.005, "r = %.5f", p.v[0]);
    cr_expect(rel_err(p.v[1], 10.5802) < 0.005, "alpha = %.5f", p.v[1]);
    cr_expect(rel_err(p.v[2], 0.6061) < 0.005, "s = %.5f", p.v[2]);
    cr_expect(rel_err(p.v[3], 11.6562) < 0.01, "beta = %.5f", p.v[3]);
    cr_expect(fabs(fit.ll - -9594.98) < 0.05, "ll = %.4f", fit.ll);
    /* the reported log-likelihood is the likelihood at the reported point,
     * and the published point is not better */
    cr_expect(fabs(pt_clv_ll(&p, c, n) - fit.ll) < 1e-6, "%.6f vs %.6f", pt_clv_ll(&p, c, n),
              fit.ll);
    cr_expect(pt_clv_ll(&PN_PUB, c, n) <= fit.ll + 1e-9, "published point %.6f, ours %.6f",
              pt_clv_ll(&PN_PUB, c, n), fit.ll);
}

/*
 * BG/NBD standard errors on CDNOW: the lifetimes package (BetaGeoFitter on
 * the same data, exact Hessian by autograd) prints se(coef) = 0.012557 (r),
 * 0.378221 (alpha), 0.185719 (a), 0.705345 (b). Independently, the inverse of
 * a Hessian of pt_clv_ll taken here must give the same, and no standard error
 * may be below 1/sqrt(-H_ii), its value if the other parameters were known
 * (for a positive definite J = -H, (J^-1)_ii >= 1 / J_ii).
 */
Test(clv, bgnbd_standard_errors_match_lifetimes_and_own_hessian)
{
    static struct pt_rfx c[4000];
    size_t n = load(c, 4000);
    if (n == 0)
        cr_skip_test("%s is not here (a clone without ../shared)", SUMMARY);
    struct pt_clv_params p;
    struct pt_clv_fit fit;
    struct pt_err e;
    cr_assert_eq(pt_clv_fit(PT_BGNBD, c, n, &p, &fit, &e), 0, "%s", e.msg);
    static const double published[4] = {0.012557, 0.378221, 0.185719, 0.705345};
    static const char *name[4] = {"r", "alpha", "a", "b"};
    struct cust_set set = {PT_BGNBD, c, n};
    double se[4], diag[4];
    cr_assert(hessian_std_errors(purchase_ll, &set, 4, p.v, se, diag),
              "Hessian not negative definite");
    for (int i = 0; i < 4; i++) {
        cr_expect(isfinite(fit.se[i]) && fit.se[i] > 0, "se(%s) = %g", name[i], fit.se[i]);
        cr_expect(rel_err(fit.se[i], published[i]) < 0.02, "se(%s) = %.6f, lifetimes %.6f", name[i],
                  fit.se[i], published[i]);
        cr_expect(rel_err(fit.se[i], se[i]) < 0.005, "se(%s) = %.6f, own Hessian %.6f", name[i],
                  fit.se[i], se[i]);
        cr_expect(diag[i] <= fit.se[i], "se(%s) = %.6f below the profile bound %.6f", name[i],
                  fit.se[i], diag[i]);
    }
}

/* Pareto/NBD standard errors on CDNOW against a Hessian of pt_clv_ll taken
 * here (no published values to compare with). */
Test(clv, pareto_nbd_standard_errors_match_own_hessian)
{
    static struct pt_rfx c[4000];
    size_t n = load(c, 4000);
    if (n == 0)
        cr_skip_test("%s is not here (a clone without ../shared)", SUMMARY);
    struct pt_clv_params p;
    struct pt_clv_fit fit;
    struct pt_err e;
    cr_assert_eq(pt_clv_fit(PT_PNBD, c, n, &p, &fit, &e), 0, "%s", e.msg);
    struct cust_set set = {PT_PNBD, c, n};
    double se[4], diag[4];
    cr_assert(hessian_std_errors(purchase_ll, &set, 4, p.v, se, diag),
              "Hessian not negative definite");
    for (int i = 0; i < 4; i++) {
        cr_expect(isfinite(fit.se[i]) && fit.se[i] > 0, "se[%d] = %g", i, fit.se[i]);
        cr_expect(rel_err(fit.se[i], se[i]) < 0.005, "se[%d] = %.6f, own Hessian %.6f", i,
                  fit.se[i], se[i]);
        cr_expect(diag[i] <= fit.se[i], "se[%d] = %.6f below the profile bound %.6f", i, fit.se[i],
                  diag[i]);
    }
}

/* Gamma-Gamma standard errors on CDNOW: finite, positive, equal to those of a
 * Hessian of pt_gg_ll1 taken here; se[3] is unused (NAN). */
Test(clv, gamma_gamma_standard_errors_match_own_hessian)
{
    static double x[4000], m[4000];
    size_t n = load_monetary(x, m, 4000);
    if (n == 0)
        cr_skip_test("%s is not here (a clone without ../shared)", MONETARY);
    struct pt_gg g;
    struct pt_clv_fit fit;
    struct pt_err e;
    cr_assert_eq(pt_gg_fit(x, m, n, &g, &fit, &e), 0, "%s", e.msg);
    struct spend_set set = {x, m, n};
    double th[4] = {g.p, g.q, g.gamma, 0}, se[4], diag[4];
    cr_assert(hessian_std_errors(spend_ll, &set, 3, th, se, diag), "Hessian not negative definite");
    for (int i = 0; i < 3; i++) {
        cr_expect(isfinite(fit.se[i]) && fit.se[i] > 0, "se[%d] = %g", i, fit.se[i]);
        cr_expect(rel_err(fit.se[i], se[i]) < 0.005, "se[%d] = %.6f, own Hessian %.6f", i,
                  fit.se[i], se[i]);
        cr_expect(diag[i] <= fit.se[i], "se[%d] = %.6f below the profile bound %.6f", i, fit.se[i],
                  diag[i]);
    }
    cr_expect(isnan(fit.se[3]), "se[3] = %g", fit.se[3]);
}

/* ---------------------------------------------------------------------------
 * Predictions against published worked examples.
 */

/* Fader, Hardie & Lee (2005), section 5: at the published point, customer
 * x = 2, t_x = 30.43, T = 38.86 is expected to make 1.226 purchases in the
 * next 39 weeks. */
Test(clv, bgnbd_conditional_expectation_as_published)
{
    struct pt_rfx c = {2, 30.43, 38.86};
    double e = pt_clv_expected(&BG_PUB, &c, 39);
    cr_expect(fabs(e - 1.226) < 0.001, "E = %.6f", e);
}

/* BTYD walkthrough (CDNOW, Pareto/NBD at its fit printed above): customer
 * 1516 (x = 26, t_x = 30.86, T = 31) is expected to make 25.46 purchases in
 * 52 weeks with P(alive) = 0.9979, and pnbd.Expectation(params, 52), a new
 * customer's expected purchases in a year, is 1.473. */
Test(clv, pareto_nbd_conditional_expectation_as_published)
{
    struct pt_rfx c = {26, 30.86, 31};
    double e = pt_clv_expected(&PN_PUB, &c, 52), pa = pt_clv_palive(&PN_PUB, &c);
    cr_expect(fabs(e - 25.46) < 0.006, "E = %.6f", e);
    cr_expect(fabs(pa - 0.9979) < 0.00006, "P(alive) = %.6f", pa);
    double en = pt_clv_expected_new(&PN_PUB, 52);
    cr_expect(fabs(en - 1.473) < 0.0006, "E new = %.6f", en);
}

/* ---------------------------------------------------------------------------
 * Predictions against quadrature of their defining integrals.
 */

/* BG/NBD P(alive) and E[Y(t)] for customers with x = 0 .. 300, at the CDNOW
 * point, with a > 1, and with a within 1e-3 of 1 where the library switches
 * from the hypergeometric form (0/0 at a = 1) to its own quadrature: 1 +- 1e-7
 * and 1.0009 (quadrature), 1.0011 (hypergeometric). */
Test(clv, bgnbd_expected_matches_quadrature)
{
    static const struct pt_clv_params ps[] = {{PT_BGNBD, {0.243, 4.414, 0.793, 2.426}},
                                              {PT_BGNBD, {0.243, 4.414, 1.0000001, 2.426}},
                                              {PT_BGNBD, {0.243, 4.414, 0.9999999, 2.426}},
                                              {PT_BGNBD, {0.243, 4.414, 1.0009, 2.426}},
                                              {PT_BGNBD, {0.243, 4.414, 1.0011, 2.426}},
                                              {PT_BGNBD, {2, 10, 3.5, 8}},
                                              {PT_BGNBD, {0.5, 1, 0.3, 0.7}}};
    static const double ts[] = {1, 39, 52};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        for (size_t k = 0; k < NCUST; k++) {
            const struct pt_rfx *c = &CUSTOMERS[k];
            double pa = pt_clv_palive(&ps[i], c), rpa = ref_palive(&ps[i], c);
            cr_expect(rel_err(pa, rpa) < 1e-10,
                      "params %zu customer %zu: P(alive) %.12g, formula %.12g", i, k, pa, rpa);
            for (size_t j = 0; j < sizeof ts / sizeof ts[0]; j++) {
                double e = pt_clv_expected(&ps[i], c, ts[j]), re = ref_expected(&ps[i], c, ts[j]);
                cr_expect(rel_err(e, re) < 1e-6,
                          "params %zu (a = %.7f) customer %zu t = %g: %.12g, quadrature %.12g", i,
                          ps[i].v[2], k, ts[j], e, re);
            }
        }
}

/* The same where the dropout distribution Beta(a, b) is U-shaped (a, b well
 * below 1), which the library's quadrature must survive too. */
Test(clv, bgnbd_expected_matches_quadrature_for_small_a_and_b)
{
    static const double rs[] = {0.243, 1, 5}, als[] = {0.5, 4.414, 30};
    static const double ab[][2] = {{0.01, 0.1}, {0.1, 0.01}, {0.01, 0.01}, {0.1, 0.1}};
    static const struct pt_rfx cs[] = {{0, 0, 39}, {2, 30.43, 38.86}, {50, 38, 39}};
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++)
            for (size_t l = 0; l < sizeof ab / sizeof ab[0]; l++)
                for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
                    struct pt_clv_params p = {PT_BGNBD, {rs[i], als[j], ab[l][0], ab[l][1]}};
                    double e = pt_clv_expected(&p, &cs[k], 52), re = ref_expected(&p, &cs[k], 52);
                    cr_expect(rel_err(e, re) < 1e-6,
                              "r=%g alpha=%g a=%g b=%g x=%g t_x=%g T=%g t=52: %.10g, quadrature "
                              "%.10g",
                              p.v[0], p.v[1], p.v[2], p.v[3], cs[k].x, cs[k].tx, cs[k].T, e, re);
                }
}

/* Young customers against long horizons: z = t / (alpha + T + t) above 0.95,
 * where the library leaves the power series for the connection formula to
 * 1 - z. At the 1M generated data set's fit, CDNOW's, a > 1 and a, b < 1. */
Test(clv, bgnbd_expected_matches_quadrature_near_z_one)
{
    static const double ps[][4] = {{0.2043, 1.3858, 0.6393, 1.856},
                                   {0.243, 4.414, 0.793, 2.426},
                                   {2, 10, 3.5, 8},
                                   {0.5, 1, 0.3, 0.7},
                                   {1, 0.1, 2.5, 0.4},
                                   {0.05, 0.2, 0.6, 12}};
    static const struct pt_rfx cs[] = {{0, 0, 0.1}, {0, 0, 1},  {1, 0.5, 1},
                                       {3, 2, 2.5}, {10, 4, 4}, {50, 5, 5}};
    static const double ts[] = {10, 52, 104, 260};
    int far = 0;
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++)
            for (size_t j = 0; j < sizeof ts / sizeof ts[0]; j++) {
                struct pt_clv_params p = {PT_BGNBD, {ps[i][0], ps[i][1], ps[i][2], ps[i][3]}};
                far += ts[j] / (p.v[1] + cs[k].T + ts[j]) > 0.95;
                double e = pt_clv_expected(&p, &cs[k], ts[j]), re = ref_expected(&p, &cs[k], ts[j]);
                cr_expect(rel_err(e, re) < 1e-7,
                          "r=%g alpha=%g a=%g b=%g x=%g T=%g t=%g: %.12g, quadrature %.12g", p.v[0],
                          p.v[1], p.v[2], p.v[3], cs[k].x, cs[k].T, ts[j], e, re);
                /* and the several-horizons path of pt_clv_value agrees */
                double v = pt_clv_value(&p, &cs[k], ts[j], ts[j] / 12, 0, 1);
                cr_expect(rel_err(v, e) < 1e-9, "value %.12g vs expected %.12g", v, e);
            }
    cr_assert(far > 60, "only %d cases with z > 0.95", far);
}

/* Pareto/NBD P(alive) and E[Y(t)] for customers with x = 0 .. 300 at the
 * BTYD point, with s = 1 (where the closed form's 1/(s-1) is replaced by its
 * limit) and s = 1 + 1e-13, with alpha >> beta and alpha << beta. */
Test(clv, pareto_nbd_expected_matches_quadrature)
{
    static const struct pt_clv_params ps[] = {{PT_PNBD, {0.5534, 10.5802, 0.6061, 11.6562}},
                                              {PT_PNBD, {0.5534, 10.5802, 1, 11.6562}},
                                              {PT_PNBD, {0.5534, 10.5802, 1 + 1e-13, 11.6562}},
                                              {PT_PNBD, {0.5534, 100, 2.5, 1}},
                                              {PT_PNBD, {0.5534, 1, 0.6061, 100}},
                                              {PT_PNBD, {3.3, 0.7, 1.7, 0.2}}};
    static const double ts[] = {1, 39, 52};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        for (size_t k = 0; k < NCUST; k++) {
            const struct pt_rfx *c = &CUSTOMERS[k];
            double pa = pt_clv_palive(&ps[i], c), rpa = ref_palive(&ps[i], c);
            cr_expect(rel_err(pa, rpa) < 1e-8,
                      "params %zu customer %zu: P(alive) %.12g, quadrature %.12g", i, k, pa, rpa);
            for (size_t j = 0; j < sizeof ts / sizeof ts[0]; j++) {
                double e = pt_clv_expected(&ps[i], c, ts[j]), re = ref_expected(&ps[i], c, ts[j]);
                cr_expect(rel_err(e, re) < 1e-6,
                          "params %zu customer %zu t = %g: %.12g, quadrature %.12g", i, k, ts[j], e,
                          re);
            }
        }
}

/*
 * The Pareto/NBD log-likelihood and P(alive) against the quadrature form of
 * the likelihood, over a grid with alpha both above and below beta and with
 * whole-number s and r (where the hypergeometric function's parameters
 * c - a - b = s, resp. r + x - 1, are integers), plus a few extreme points
 * with alpha << beta. 1e-7 absolute on ln L, relative on P(alive).
 */
Test(clv, pareto_nbd_ll_and_palive_match_quadrature)
{
    static const double rs[] = {0.1, 0.5534, 1, 2, 5}, als[] = {0.5, 10.58, 100};
    static const double ss[] = {0.1, 0.6061, 1, 2, 5}, bes[] = {0.5, 11.66, 100};
    static const struct pt_rfx cs[] = {{0, 0, 39},        {0, 0, 0.5},     {1, 5, 39},
                                       {2, 30.43, 38.86}, {26, 30.86, 31}, {50, 38, 39},
                                       {300, 5, 39}};
    /* GSL's default handler aborts on the extreme points (see
     * gsl_errors_do_not_abort_*); here the values are what is tested */
    gsl_set_error_handler_off();
    int bad = 0, total = 0;
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 3; j++)
            for (size_t l = 0; l < 5; l++)
                for (size_t m = 0; m < 3; m++)
                    for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
                        struct pt_clv_params p = {PT_PNBD, {rs[i], als[j], ss[l], bes[m]}};
                        double err, rll = ref_pn_ll1(p.v, &cs[k], &err);
                        cr_assert(err < 1e-11);
                        double rpa = ref_palive(&p, &cs[k]);
                        double ll = pt_clv_ll1(&p, &cs[k]), pa = pt_clv_palive(&p, &cs[k]);
                        total++;
                        if (fabs(ll - rll) < 1e-7 && rel_err(pa, rpa) < 1e-7)
                            continue;
                        if (++bad <= 10)
                            cr_expect(0,
                                      "r=%g alpha=%g s=%g beta=%g x=%g t_x=%g T=%g: ln L %.10g, "
                                      "quadrature %.10g; P(alive) %.10g, quadrature %.10g",
                                      p.v[0], p.v[1], p.v[2], p.v[3], cs[k].x, cs[k].tx, cs[k].T,
                                      ll, rll, pa, rpa);
                    }
    cr_expect_eq(bad, 0, "%d of %d grid points disagree with the quadrature", bad, total);
    /* alpha << beta at the extremes (GSL gives up on 2F1 there) */
    static const struct {
        double v[4];
        struct pt_rfx c;
    } ext[] = {{{1e-6, 1e-6, 1000, 1e6}, {0, 0, 39}},
               {{1e-6, 1e-6, 1e-6, 1e6}, {0, 0, 0.001}},
               {{1e-6, 1000, 1, 1}, {1, 0.001, 1000}}};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        struct pt_clv_params p = {PT_PNBD, {ext[i].v[0], ext[i].v[1], ext[i].v[2], ext[i].v[3]}};
        double err, rll = ref_pn_ll1(p.v, &ext[i].c, &err);
        cr_assert(err < 1e-11);
        double rpa = ref_palive(&p, &ext[i].c);
        double ll = pt_clv_ll1(&p, &ext[i].c), pa = pt_clv_palive(&p, &ext[i].c);
        cr_expect(fabs(ll - rll) < 1e-7 * fmax(1, fabs(rll)) && rel_err(pa, rpa) < 1e-7,
                  "r=%g alpha=%g s=%g beta=%g x=%g t_x=%g T=%g: ln L %.10g, quadrature %.10g; "
                  "P(alive) %.10g, quadrature %.10g",
                  p.v[0], p.v[1], p.v[2], p.v[3], ext[i].c.x, ext[i].c.tx, ext[i].c.T, ll, rll, pa,
                  rpa);
    }
}

/* ---------------------------------------------------------------------------
 * Consistency of the predictions with one another.
 */

/* Parameter sets for the consistency tests: BG/NBD at the CDNOW point, with
 * a near 1 and with a > 1; Pareto/NBD at the BTYD point, with alpha >> beta
 * and alpha << beta. */
static const struct pt_clv_params MODELS[] = {{PT_BGNBD, {0.243, 4.414, 0.793, 2.426}},
                                              {PT_BGNBD, {0.243, 4.414, 1.0000001, 2.426}},
                                              {PT_BGNBD, {2, 10, 3.5, 8}},
                                              {PT_PNBD, {0.5534, 10.5802, 0.6061, 11.6562}},
                                              {PT_PNBD, {0.5534, 100, 2.5, 1}},
                                              {PT_PNBD, {0.5534, 1, 0.6061, 100}}};
#define NMODELS (sizeof MODELS / sizeof MODELS[0])

/*
 * The PMF of purchases in (T, T+52] is a distribution whose mean is
 * pt_clv_expected: summed over y = 0 .. Y (Y beyond 10 times the mean of the
 * purchase count NB(r+x, alpha+T) alone, which bounds it, plus 200) it gives
 * 1 within 1e-8 and the expectation within 1e-6 relative; every value is in
 * [0, 1]. pt_clv_pmf_all gives the same values as pt_clv_pmf (to 1e-9
 * relative, 1e-13 absolute below 1e-4).
 */
Test(clv, pmf_sums_to_one_and_to_the_expectation)
{
    static double all[8000];
    const double t = 52;
    /* far tails underflow in GSL's incomplete beta, whose default handler
     * aborts (see gsl_errors_do_not_abort_*); here the values are tested */
    gsl_set_error_handler_off();
    for (size_t i = 0; i < NMODELS; i++)
        for (size_t k = 0; k < NCUST; k++) {
            const struct pt_rfx *c = &CUSTOMERS[k];
            const struct pt_clv_params *p = &MODELS[i];
            double R = p->v[0] + c->x, A = p->v[1] + c->T;
            int Y = (int)(10 * R * t / A) + 200;
            cr_assert(Y <= 8000);
            pt_clv_pmf_all(p, c, t, Y + 1, all);
            double sum = 0, mean = 0, worst = 0;
            int bad_range = 0;
            for (int y = 0; y <= Y; y++) {
                double f = pt_clv_pmf(p, c, t, y);
                bad_range += !(f >= 0 && f <= 1);
                sum += f;
                mean += y * f;
                /* "the same": to 1e-9 relative, or 1e-13 for tiny values */
                double d = fabs(all[y] - f) / (1e-4 + f);
                if (d > worst)
                    worst = d;
            }
            double e = pt_clv_expected(p, c, t);
            cr_expect_eq(bad_range, 0, "model %zu customer %zu: %d values outside [0, 1]", i, k,
                         bad_range);
            cr_expect(fabs(sum - 1) < 1e-8, "model %zu customer %zu: sum - 1 = %g", i, k, sum - 1);
            cr_expect(rel_err(mean, e) < 1e-6, "model %zu customer %zu: mean %.10g, E %.10g", i, k,
                      mean, e);
            cr_expect(worst < 1e-9,
                      "model %zu customer %zu: pmf_all differs from pmf by %g (relative)", i, k,
                      worst);
        }
}

/*
 * pt_clv_expected_new: a newcomer's expected purchases. It equals
 * pt_clv_expected for a customer x = 0 just born (T = 1e-9); for Pareto/NBD
 * it is the closed form of Fader & Hardie (2005), BTYD's pnbd.Expectation,
 *   r beta / (alpha (s - 1)) [1 - (beta / (beta + t))^(s-1)]
 * (r beta / alpha ln(1 + t / beta) at s = 1), and for BG/NBD the quadrature
 * of the alive expectation at x = 0, T = 0 (a newcomer is alive).
 */
Test(clv, expected_new_is_a_newcomers_expectation)
{
    static const double ts[] = {1, 39, 52, 78};
    struct pt_clv_params ps[NMODELS + 1];
    memcpy(ps, MODELS, sizeof MODELS);
    ps[NMODELS] = (struct pt_clv_params){PT_PNBD, {0.5534, 10.5802, 1, 11.6562}};
    const struct pt_rfx born = {0, 0, 1e-9}, zero = {0, 0, 0};
    for (size_t i = 0; i < NMODELS + 1; i++)
        for (size_t j = 0; j < sizeof ts / sizeof ts[0]; j++) {
            const struct pt_clv_params *p = &ps[i];
            double t = ts[j], e = pt_clv_expected_new(p, t);
            double ec = pt_clv_expected(p, &born, t);
            cr_expect(rel_err(e, ec) < 1e-7, "model %zu t=%g: %.12g, customer born now %.12g", i, t,
                      e, ec);
            double want;
            if (p->model == PT_PNBD) {
                double r = p->v[0], al = p->v[1], s = p->v[2], be = p->v[3];
                want = s == 1 ? r * be / al * log(1 + t / be)
                              : r * be / (al * (s - 1)) * (1 - pow(be / (be + t), s - 1));
            } else {
                double err;
                want = ref_bg_alive_expected(p->v, &zero, t, &err);
                cr_assert(err < 1e-11);
            }
            cr_expect(rel_err(e, want) < 1e-9, "model %zu t=%g: %.12g, formula %.12g", i, t, e,
                      want);
        }
}

/*
 * pt_clv_next_purchase returns the time by which the customer makes another
 * purchase with probability 1/2, i.e. 1 - pmf(y = 0, t) = 0.5 (1e-9 for
 * BG/NBD, whose answer is in closed form; 1e-5 for Pareto/NBD, found by
 * bisection); NAN when P(alive) <= 0.5 (never reached) or when the time is
 * beyond max_t.
 */
Test(clv, next_purchase_is_the_median_wait)
{
    static const struct pt_rfx cs[] = {
        {0, 0, 39}, {2, 30.43, 38.86}, {26, 30.86, 31}, {50, 38, 39}};
    int tested = 0;
    for (size_t i = 0; i < NMODELS; i++) {
        const struct pt_clv_params *p = &MODELS[i];
        double tol = p->model == PT_BGNBD ? 1e-9 : 1e-5;
        for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
            if (!(pt_clv_palive(p, &cs[k]) > 0.5) || !(pt_clv_pmf(p, &cs[k], 1e4, 0) < 0.5))
                continue; /* no median within 1e4 */
            tested++;
            double t = pt_clv_next_purchase(p, &cs[k], 1e4);
            cr_expect(t > 0 && t < 1e4, "model %zu customer %zu: t = %g", i, k, t);
            double p0 = pt_clv_pmf(p, &cs[k], t, 0);
            cr_expect(fabs(1 - p0 - 0.5) < tol,
                      "model %zu customer %zu: at t = %.10g P(a purchase) = %.12g", i, k, t,
                      1 - p0);
            cr_expect(isnan(pt_clv_next_purchase(p, &cs[k], 0.99 * t)), "model %zu customer %zu", i,
                      k);
            double t2 = pt_clv_next_purchase(p, &cs[k], 1.01 * t);
            cr_expect(fabs(t2 - t) < 1e-5 * t, "model %zu customer %zu: %.10g then %.10g", i, k, t,
                      t2);
        }
        /* CDNOW customer with 5 purchases, the last 29 weeks ago: most likely gone */
        struct pt_rfx gone = {5, 10, 39};
        double pa = pt_clv_palive(p, &gone);
        cr_assert(pa < 0.5, "model %zu: P(alive) = %g", i, pa);
        cr_expect(isnan(pt_clv_next_purchase(p, &gone, 1e6)), "model %zu: P(alive) = %g", i, pa);
    }
    cr_expect(tested >= 16, "only %d cases had a median", tested);
}

/*
 * pt_clv_value: undiscounted it is spend times the expected purchases over
 * the horizon, however the horizon is cut; discounting lowers it; with one
 * period it is spend E / (1 + rate), with two spend (E1 / (1 + rate) +
 * (E2 - E1) / (1 + rate)^2). More than 64 periods give NAN (documented).
 */
Test(clv, value_discounts_the_expected_purchases)
{
    const double spend = 35, h = 52;
    for (size_t i = 0; i < NMODELS; i++)
        for (size_t k = 0; k < NCUST; k++) {
            const struct pt_clv_params *p = &MODELS[i];
            const struct pt_rfx *c = &CUSTOMERS[k];
            double e = pt_clv_expected(p, c, h), e1 = pt_clv_expected(p, c, h / 2);
            double want = spend * e;
            static const double periods[] = {1, 4.33, 5, 13, 52, 100};
            for (size_t j = 0; j < sizeof periods / sizeof periods[0]; j++) {
                double v = pt_clv_value(p, c, h, periods[j], 0, spend);
                cr_expect(fabs(v - want) <= 1e-9 * want + 1e-300,
                          "model %zu customer %zu period %g: %.12g, spend * E = %.12g", i, k,
                          periods[j], v, want);
            }
            double v0 = pt_clv_value(p, c, h, 4.33, 0, spend);
            double v1 = pt_clv_value(p, c, h, 4.33, 0.01, spend);
            /* 13 periods, each discounted by at most 1.01^13 */
            cr_expect(v1 < v0 && v1 > v0 * pow(1.01, -13),
                      "model %zu customer %zu: %.12g discounted to %.12g", i, k, v0, v1);
            double one = pt_clv_value(p, c, h, h, 0.1, spend);
            cr_expect(rel_err(one, spend * e / 1.1) < 1e-9 || (e == 0 && one == 0),
                      "model %zu customer %zu: %.12g, spend E / 1.1 = %.12g", i, k, one,
                      spend * e / 1.1);
            double two = pt_clv_value(p, c, h, h / 2, 0.1, spend);
            double want2 = spend * (e1 / 1.1 + (e - e1) / 1.21);
            cr_expect(rel_err(two, want2) < 1e-9 || (e == 0 && two == 0),
                      "model %zu customer %zu: %.12g, by hand %.12g", i, k, two, want2);
        }
    struct pt_rfx c = {2, 30.43, 38.86};
    cr_expect(isfinite(pt_clv_value(&BG_PUB, &c, 64, 1, 0.01, spend)));
    cr_expect(isnan(pt_clv_value(&BG_PUB, &c, 65, 1, 0.01, spend)));
}

/* pt_gg_mean: NAN unless q > 1; otherwise the posterior mean, a weighted
 * average of the population mean p gamma / (q - 1) and the customer's own
 * mean m with weights (q - 1) and p x (Fader, Hardie & Lee 2005, "RFM and
 * CLV": the expected spend written as a credibility weighting). */
Test(clv, gamma_gamma_mean_needs_q_above_one)
{
    struct pt_gg g = {6.25, 1, 15.44};
    cr_expect(isnan(pt_gg_mean(&g, 0, 0)));
    cr_expect(isnan(pt_gg_mean(&g, 3, 40)));
    g.q = 0.5;
    cr_expect(isnan(pt_gg_mean(&g, 3, 40)));
    g.q = 3.74;
    double pop = g.p * g.gamma / (g.q - 1), w = (g.q - 1) / (g.p * 3 + g.q - 1);
    cr_expect(rel_err(pt_gg_mean(&g, 0, 0), pop) < 1e-12);
    cr_expect(rel_err(pt_gg_mean(&g, 3, 40), w * pop + (1 - w) * 40) < 1e-12, "%.12g",
              pt_gg_mean(&g, 3, 40));
    g.q = 1 + 1e-9;
    cr_expect(isfinite(pt_gg_mean(&g, 3, 40)) && pt_gg_mean(&g, 3, 40) > 0);
}

/* ---------------------------------------------------------------------------
 * Numerical stability: extreme customers (hundreds to 10,000 purchases) and
 * parameters from 1e-6 to 1e6. Each failing point is reported (the first 8
 * per function) and counted.
 */

static const struct pt_rfx EXTREME_CUSTOMERS[] = {
    {0, 0, 1e-3},     {0, 0, 39},    {1, 0.001, 1000},  {500, 77.5, 78},
    {1000, 10, 1000}, {10000, 1, 1}, {10000, 999, 1000}};
#define NEXT (sizeof EXTREME_CUSTOMERS / sizeof EXTREME_CUSTOMERS[0])

struct tally {
    const char *what;
    int bad, total;
};

static void tally(struct tally *t, int ok, const struct pt_clv_params *p, const struct pt_rfx *c,
                  double value)
{
    t->total++;
    if (ok || ++t->bad > 8)
        return;
    cr_expect(0, "%s: %s r=%g alpha=%g %g %g x=%g t_x=%g T=%g gives %.10g", t->what,
              pt_clv_model_name(p->model), p->v[0], p->v[1], p->v[2], p->v[3], c->x, c->tx, c->T,
              value);
}

/* ln L finite (<= 0 when x = 0: a probability; 1e-8 slack for the rounding
 * of lgamma near 1e6), P(alive) in [0, 1], E[Y(52)] finite and >= 0, pmf(52, y)
 * finite in [0, 1] (1e-9 slack) for y = 0, 1, x. */
static void check_point(const struct pt_clv_params *p, const struct pt_rfx *c, struct tally *t)
{
    double ll = pt_clv_ll1(p, c);
    tally(&t[0], isfinite(ll) && (c->x > 0 || ll <= 1e-8), p, c, ll);
    double pa = pt_clv_palive(p, c);
    tally(&t[1], pa >= 0 && pa <= 1, p, c, pa);
    double e = pt_clv_expected(p, c, 52);
    tally(&t[2], isfinite(e) && e >= 0, p, c, e);
    int ys[] = {0, 1, (int)c->x};
    for (int j = 0; j < 3; j++) {
        double f = pt_clv_pmf(p, c, 52, ys[j]);
        tally(&t[3], f >= 0 && f <= 1 + 1e-9, p, c, f);
    }
}

static void expect_no_bad(const struct tally *t)
{
    for (int i = 0; i < 4; i++)
        cr_expect_eq(t[i].bad, 0, "%s: %d of %d points fail", t[i].what, t[i].bad, t[i].total);
}

/* BG/NBD: every combination of r, alpha, a, b in {1e-6, 1e-3, 1, 1e3, 1e6}. */
Test(clv, bgnbd_predictions_are_finite_for_extreme_customers_and_parameters)
{
    static const double vals[] = {1e-6, 1e-3, 1, 1e3, 1e6};
    struct tally t[4] = {{"ln L", 0, 0}, {"P(alive)", 0, 0}, {"E[Y(52)]", 0, 0}, {"pmf", 0, 0}};
    gsl_set_error_handler_off(); /* see gsl_errors_do_not_abort_* */
    for (int i = 0; i < 625; i++) {
        struct pt_clv_params p = {PT_BGNBD,
                                  {vals[i % 5], vals[i / 5 % 5], vals[i / 25 % 5], vals[i / 125]}};
        for (size_t k = 0; k < NEXT; k++)
            check_point(&p, &EXTREME_CUSTOMERS[k], t);
    }
    expect_no_bad(t);
}

/* Pareto/NBD: r and s in {1e-6, 1, 1e6} with alpha = beta, alpha = 1000
 * beta and alpha = beta / 1000 at several scales; then alpha / beta = 1e12
 * and 1e-12 (ln L and P(alive) only, with r and s in {1e-6, 1}: there the
 * library takes 50-100 ms a call, in a 2e7-term series). */
Test(clv, pareto_nbd_predictions_are_finite_for_extreme_customers_and_parameters)
{
    static const double rs[] = {1e-6, 1, 1e6};
    static const double ab[][2] = {{1e-6, 1e-6}, {1, 1},     {1e6, 1e6},   {1e3, 1},
                                   {1, 1e3},     {1e6, 1e3}, {1e-3, 1e-6}, {1e-6, 1e-3}};
    struct tally t[4] = {{"ln L", 0, 0}, {"P(alive)", 0, 0}, {"E[Y(52)]", 0, 0}, {"pmf", 0, 0}};
    gsl_set_error_handler_off(); /* see gsl_errors_do_not_abort_* */
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++)
            for (size_t l = 0; l < sizeof ab / sizeof ab[0]; l++) {
                struct pt_clv_params p = {PT_PNBD, {rs[i], ab[l][0], rs[j], ab[l][1]}};
                for (size_t k = 0; k < NEXT; k++)
                    check_point(&p, &EXTREME_CUSTOMERS[k], t);
            }
    static const double far[][2] = {{1e6, 1e-6}, {1e-6, 1e6}};
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 2; j++)
            for (size_t l = 0; l < 2; l++) {
                struct pt_clv_params p = {PT_PNBD, {rs[i], far[l][0], rs[j], far[l][1]}};
                for (size_t k = 0; k < NEXT; k++) {
                    const struct pt_rfx *c = &EXTREME_CUSTOMERS[k];
                    double ll = pt_clv_ll1(&p, c), pa = pt_clv_palive(&p, c);
                    tally(&t[0], isfinite(ll) && (c->x > 0 || ll <= 1e-8), &p, c, ll);
                    tally(&t[1], pa >= 0 && pa <= 1, &p, c, pa);
                }
            }
    expect_no_bad(t);
}

/*
 * GSL's default error handler aborts the process. The library turns it off
 * only inside fits and some BG/NBD expectation paths, so a process that calls
 * a prediction first (a server scoring with stored parameters) must not die
 * on an input where GSL reports an error. Each test below runs in a fresh
 * process (Criterion forks per test) and calls one entry point.
 */

/* Pareto/NBD ln L at r = 1, alpha = 0.001, s = 10, beta = 10, x = 0, T = 39:
 * GSL's 2F1 fails (the library then falls back to its series). */
Test(clv, gsl_errors_do_not_abort_pareto_nbd_ll)
{
    struct pt_clv_params p = {PT_PNBD, {1, 0.001, 10, 10}};
    struct pt_rfx c = {0, 0, 39};
    double err, want = ref_pn_ll1(p.v, &c, &err);
    double ll = pt_clv_ll1(&p, &c);
    cr_expect(fabs(ll - want) < 1e-7, "%.10g, quadrature %.10g", ll, want);
}

/* BG/NBD pmf at the CDNOW point, customer x = 2, t_x = 30.43, T = 38.86,
 * y = 1200 in 52 weeks: GSL underflows in the incomplete beta function (a
 * sum of the pmf over y reaches such y). */
Test(clv, gsl_errors_do_not_abort_bgnbd_pmf)
{
    struct pt_rfx c = {2, 30.43, 38.86};
    double f = pt_clv_pmf(&BG_PUB, &c, 52, 1200);
    cr_expect(f >= 0 && f < 1e-250, "%g", f);
}

/* BG/NBD E[Y(52)] with a = 1 exactly (the library's quadrature path) at
 * r = 10, alpha = 1, b = 0.1, x = 0, T = 1: GSL's QAGS reports round-off. */
Test(clv, gsl_errors_do_not_abort_bgnbd_expected)
{
    struct pt_clv_params p = {PT_BGNBD, {10, 1, 1, 0.1}};
    struct pt_rfx c = {0, 0, 1};
    double e = pt_clv_expected(&p, &c, 52), want = ref_expected(&p, &c, 52);
    cr_expect(rel_err(e, want) < 1e-6, "%.10g, quadrature %.10g", e, want);
}

/* The Pareto/NBD gradient rests on d ln H / d(b, c, z) of H = 2F1(1, b; c; z),
 * summed alongside the series: against central differences of ln H itself,
 * over the range the likelihood uses (z up to the 0.95 switch, b and c from
 * small to S + 1 of customers with hundreds of purchases), and at z = 0. */
Test(clv, h1_derivatives_match_differences)
{
    static const double bs[] = {0.05, 0.6, 1.6, 30, 300};
    static const double dc[] = {0.01, 0.7, 5, 50};
    static const double zs[] = {0, 1e-6, 0.1, 0.5, 0.8, 0.94};
    for (size_t i = 0; i < sizeof bs / sizeof bs[0]; i++)
        for (size_t j = 0; j < sizeof dc / sizeof dc[0]; j++)
            for (size_t k = 0; k < sizeof zs / sizeof zs[0]; k++) {
                double b = bs[i], c = b + 1 + dc[j], z = zs[k], d[3];
                double l = clv_log_h1_d(b, c, z, d);
                cr_assert(fabs(l - clv_log_h1(b, c, z)) <= 1e-14 * (1 + fabs(l)),
                          "b=%g c=%g z=%g: ln H %.17g vs %.17g", b, c, z, l, clv_log_h1(b, c, z));
                double hb = 1e-6 * b, hc = 1e-6 * c, hz = 1e-7;
                double nb = (clv_log_h1(b + hb, c, z) - clv_log_h1(b - hb, c, z)) / (2 * hb);
                double nc = (clv_log_h1(b, c + hc, z) - clv_log_h1(b, c - hc, z)) / (2 * hc);
                double nz = z >= hz
                                ? (clv_log_h1(b, c, z + hz) - clv_log_h1(b, c, z - hz)) / (2 * hz)
                                : (clv_log_h1(b, c, z + hz) - clv_log_h1(b, c, z)) / hz;
                double tol = z >= hz ? 1e-6 : 1e-5;
                cr_expect(fabs(d[0] - nb) <= tol * (1 + fabs(nb)),
                          "b=%g c=%g z=%g: d/db %.10g, differences %.10g", b, c, z, d[0], nb);
                cr_expect(fabs(d[1] - nc) <= tol * (1 + fabs(nc)),
                          "b=%g c=%g z=%g: d/dc %.10g, differences %.10g", b, c, z, d[1], nc);
                cr_expect(fabs(d[2] - nz) <= tol * (1 + fabs(nz)),
                          "b=%g c=%g z=%g: d/dz %.10g, differences %.10g", b, c, z, d[2], nz);
            }
}

/* pt_clv_score is the separate functions at once, exactly. */
Test(clv, score_equals_the_separate_predictions)
{
    for (size_t i = 0; i < NMODELS; i++)
        for (size_t k = 0; k < NCUST; k++) {
            const struct pt_clv_params *p = &MODELS[i];
            const struct pt_rfx *c = &CUSTOMERS[k];
            static const double hs[] = {4, 52, 104};
            for (size_t j = 0; j < sizeof hs / sizeof hs[0]; j++) {
                struct pt_clv_scores sc;
                pt_clv_score(p, c, hs[j], 4.35, 0.01, 35, 520, &sc);
                double e = pt_clv_expected(p, c, hs[j]), n = pt_clv_next_purchase(p, c, 520);
                cr_expect_eq(sc.p_alive, pt_clv_palive(p, c));
                cr_expect(rel_err(sc.expected, e) < 1e-12 || sc.expected == e,
                          "model %zu customer %zu h %g: %.15g vs %.15g", i, k, hs[j], sc.expected,
                          e);
                cr_expect_eq(sc.value, pt_clv_value(p, c, hs[j], 4.35, 0.01, 35));
                cr_expect((isnan(sc.next_t) && isnan(n)) || rel_err(sc.next_t, n) < 1e-12,
                          "model %zu customer %zu: next %.15g vs %.15g", i, k, sc.next_t, n);
                pt_clv_score(p, c, hs[j], 4.35, 0.01, NAN, 520, &sc);
                cr_expect(isnan(sc.value));
            }
        }
}
