/*
 * predict.c - the public face of the purchase models (see clv.h): dispatch,
 * fitting entry point and per-customer predictions.
 *
 * Given a customer's summary, both models say the customer is alive at T with
 * probability P, and if alive: purchase rate lambda ~ Gamma(r + x, alpha + T);
 * BG/NBD dropout probability per purchase p ~ Beta(a, b + x); Pareto/NBD
 * remaining lifetime tau ~ Lomax(s, beta + T) (exponential with a Gamma(s,
 * beta + T) rate). The conditional distribution of purchases in (T, T + t]
 * below follows from those posteriors (derivation in docs/clv.md).
 */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_sf_gamma.h>
#include <math.h>
#include <pthread.h>

#include "clv/clv_int.h"

const char *pt_clv_model_name(enum pt_clv_model m)
{
    return m == PT_BGNBD ? "bgnbd" : "pareto_nbd";
}

double pt_clv_ll1(const struct pt_clv_params *p, const struct pt_rfx *c)
{
    clv_gsl_quiet();
    return p->model == PT_BGNBD ? clv_bgnbd_ll1(p->v, c) : clv_pnbd_ll1(p->v, c);
}

double pt_clv_ll(const struct pt_clv_params *p, const struct pt_rfx *c, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += pt_clv_ll1(p, &c[i]);
    return s;
}

int pt_clv_fit(enum pt_clv_model m, const struct pt_rfx *c, size_t n, struct pt_clv_params *p,
               struct pt_clv_fit *fit, struct pt_err *e)
{
    clv_gsl_quiet();
    struct clv_set s;
    int rc = clv_set_make(c, n, &s, e);
    if (rc)
        return rc;
    p->model = m;
    rc = m == PT_BGNBD ? clv_bgnbd_fit(&s, p->v, fit) : clv_pnbd_fit(&s, p->v, fit);
    clv_set_free(&s);
    if (rc == PT_ENOMEM)
        return pt_err_set(e, rc, "out of memory");
    if (rc)
        return pt_err_set(e, PT_EIO, "%s: the fit did not reach a finite likelihood",
                          pt_clv_model_name(m));
    return 0;
}

double pt_clv_palive(const struct pt_clv_params *p, const struct pt_rfx *c)
{
    clv_gsl_quiet();
    const double *v = p->v;
    double x = c->x;
    if (p->model == PT_BGNBD) {
        if (x <= 0)
            return 1;
        double lo =
            log(v[2]) - log(v[3] + x - 1) + (v[0] + x) * (log(v[1] + c->T) - log(v[1] + c->tx));
        return 1 / (1 + exp(lo));
    }
    double head = clv_pnbd_log_head(v, x, c->T);
    double tail = clv_pnbd_log_tail(v, x, c->tx, c->T);
    return exp(head - clv_lse(head, tail));
}

/* BG/NBD, alive: E over p ~ Beta(a, b + x) of g(p) = (1 - (A / (A + p t))^R) / p,
 * by adaptive quadrature on two pieces split at the density's mode (or 1/2),
 * so that a narrow peak sits at a piece's end. An end where the density is
 * infinite (exponent below 1) is substituted away: p = u^(1/a) near 0,
 * 1 - p = v^(1/(b+x)) near 1, leaving bounded smooth integrands. */
struct bg_int {
    double a, bx, R, A, t, lnb;
    int mode; /* 0: plain p, 1: u = p^a, 2: v = (1-p)^bx */
};

static double bg_g(const struct bg_int *q, double p)
{
    if (p <= 0)
        return q->R * q->t / q->A;
    return -expm1(-q->R * log1p(p * q->t / q->A)) / p;
}

static double bg_integrand(double u, void *arg)
{
    const struct bg_int *q = arg;
    if (q->mode == 0) {
        if (u <= 0 || u >= 1)
            return 0;
        return exp((q->a - 1) * log(u) + (q->bx - 1) * log1p(-u) - q->lnb) * bg_g(q, u);
    }
    if (q->mode == 1) {
        double p = u > 0 ? exp(log(u) / q->a) : 0;
        return exp((q->bx - 1) * log1p(-p) - log(q->a) - q->lnb) * bg_g(q, p);
    }
    if (u <= 0)
        return 0;
    double p = -expm1(log(u) / q->bx); /* 1 - u^(1/bx) */
    return exp((q->a - 1) * log(p) - log(q->bx) - q->lnb) * bg_g(q, p);
}

static double bg_alive_by_quadrature(const double *v, double x, double T, double t)
{
    struct bg_int q = {v[2], v[3] + x, v[0] + x, v[1] + T, t, gsl_sf_lnbeta(v[2], v[3] + x), 0};
    gsl_integration_workspace *w = gsl_integration_workspace_alloc(200);
    if (w == NULL)
        return NAN;
    gsl_function f = {.function = bg_integrand, .params = &q};
    double m = q.a > 1 && q.bx > 1 ? (q.a - 1) / (q.a + q.bx - 2) : 0.5, sum = 0;
    for (int h = 0; h < 2; h++) {
        double lo, hi;
        if (h == 0 && q.a < 1) {
            q.mode = 1;
            lo = 0;
            hi = exp(q.a * log(m));
        } else if (h == 1 && q.bx < 1) {
            q.mode = 2;
            lo = 0;
            hi = exp(q.bx * log1p(-m));
        } else {
            q.mode = 0;
            lo = h ? m : 0;
            hi = h ? 1 : m;
        }
        double res = NAN, err = 0;
        gsl_integration_qag(&f, lo, hi, 0, 1e-11, 200, GSL_INTEG_GAUSS21, w, &res, &err);
        sum += res;
    }
    gsl_integration_workspace_free(w);
    /* QAG's error estimate is pessimistic at extreme parameters, where the
     * value is still good to ~1e-8: a finite non-negative result is the best
     * estimate there is */
    return sum >= 0 && isfinite(sum) ? sum : NAN;
}

static int bg_alive_expected_many(const double *v, double x, double T, const double *t, int n,
                                  double *out);

/* BG/NBD expected purchases in (T, T+t] if alive (FHL 2005 eq. 10 without
 * its P(alive) denominator), with the 2F1 in Euler-transformed form:
 *   (a+b+x-1)/(a-1) [1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)],
 * z = t / (alpha + T + t): a power series up to z = 0.8, the connection
 * formula to 1 - z beyond (see bg_alive_expected_many). Near a = 1 (0/0), for
 * a + b + x <= 1, or where neither settles, the same expectation by
 * quadrature over p. */
static double bg_alive_expected(const double *v, double x, double T, double t)
{
    double a = v[2], b = v[3];
    if (t <= 0)
        return 0;
    if (fabs(a - 1) > 1e-3 && a + b + x - 1 > 0) {
        double e;
        if (bg_alive_expected_many(v, x, T, &t, 1, &e))
            return e;
    }
    return bg_alive_by_quadrature(v, x, T, t);
}

/* Pareto/NBD expected purchases in (T, T+t] if alive:
 * (r+x)/(alpha+T) * (beta+T)/(s-1) * [1 - ((beta+T)/(beta+T+t))^(s-1)]. */
static double pnbd_alive_expected(const double *v, double x, double T, double t)
{
    double B = v[3] + T, L = log1p(t / B), s1 = v[2] - 1;
    double k = fabs(s1) < 1e-12 ? L : -expm1(-s1 * L) / s1;
    return (v[0] + x) / (v[1] + T) * B * k;
}

double pt_clv_expected(const struct pt_clv_params *p, const struct pt_rfx *c, double t)
{
    double pa = pt_clv_palive(p, c);
    if (p->model == PT_BGNBD)
        return pa * bg_alive_expected(p->v, c->x, c->T, t);
    return pa * pnbd_alive_expected(p->v, c->x, c->T, t);
}

double pt_clv_expected_new(const struct pt_clv_params *p, double t)
{
    struct pt_rfx c = {0, 0, 0};
    return pt_clv_expected(p, &c, t);
}

/* ln P(N = j) for N ~ NB(R, A) over a window of length t (Poisson-Gamma). */
static double ln_nb(double R, double A, double t, int j)
{
    return gsl_sf_lngamma(R + j) - gsl_sf_lngamma(R) - gsl_sf_lngamma(j + 1.0) - R * log1p(t / A) +
           (j ? j * log(t / (A + t)) : 0);
}

static gsl_integration_glfixed_table *g_gl;
static pthread_once_t g_gl_once = PTHREAD_ONCE_INIT;
static void gl_init(void)
{
    g_gl = gsl_integration_glfixed_table_alloc(64);
}

struct pn_int {
    double R, A, s, B;
    int y;
};

/* Lomax density of tau times P(y purchases in (0, tau]). */
static double pn_integrand(double tau, void *arg)
{
    const struct pn_int *q = arg;
    double lf = log(q->s / q->B) - (q->s + 1) * log1p(tau / q->B);
    if (tau <= 0)
        return q->y == 0 ? exp(lf) : 0;
    return exp(lf + ln_nb(q->R, q->A, tau, q->y));
}

double pt_clv_pmf(const struct pt_clv_params *p, const struct pt_rfx *c, double t, int y)
{
    clv_gsl_quiet();
    const double *v = p->v;
    double pa = pt_clv_palive(p, c), x = c->x, R = v[0] + x, A = v[1] + c->T;
    if (y < 0)
        return 0;
    if (t <= 0)
        return y == 0;
    double alive;
    if (p->model == PT_BGNBD) {
        double a = v[2], bx = v[3] + x, lb = gsl_sf_lnbeta(a, bx);
        alive = exp(gsl_sf_lnbeta(a, bx + y) - lb + ln_nb(R, A, t, y));
        if (y > 0)
            alive += exp(gsl_sf_lnbeta(a + 1, bx + y - 1) - lb) *
                     gsl_sf_beta_inc((double)y, R, t / (A + t));
    } else {
        double B = v[3] + c->T;
        struct pn_int q = {R, A, v[2], B, y};
        pthread_once(&g_gl_once, gl_init);
        if (g_gl == NULL)
            return NAN;
        gsl_function f = {.function = pn_integrand, .params = &q};
        alive =
            exp(-v[2] * log1p(t / B) + ln_nb(R, A, t, y)) + gsl_integration_glfixed(&f, 0, t, g_gl);
    }
    return (y == 0 ? 1 - pa : 0) + pa * alive;
}

void pt_clv_pmf_all(const struct pt_clv_params *p, const struct pt_rfx *c, double t, int n,
                    double *out)
{
    clv_gsl_quiet();
    const double *v = p->v;
    double pa = pt_clv_palive(p, c), x = c->x, R = v[0] + x, A = v[1] + c->T;
    if (n <= 0)
        return;
    if (t <= 0) {
        for (int y = 0; y < n; y++)
            out[y] = y == 0;
        return;
    }
    /* NB(y) over (0, t] by the recurrence NB(y+1) = NB(y) (R+y)/(y+1) t/(A+t) */
    double q = t / (A + t), nb = exp(-R * log1p(t / A));
    if (p->model == PT_BGNBD) {
        /* B(a, bx+y)/B(a, bx) and B(a+1, bx+y-1)/B(a, bx) by their own recurrences */
        double a = v[2], bx = v[3] + x, b1 = 1, cum = 0;
        for (int y = 0; y < n; y++) {
            double alive = b1 * nb;
            if (y > 0) {
                double b2 = b1 * (a + bx + y - 1) / (bx + y - 1) * a / (a + bx + y - 1);
                double tail = 1 - cum;
                alive += b2 * (tail > 0 ? tail : 0);
            }
            out[y] = (y == 0 ? 1 - pa : 0) + pa * alive;
            cum += nb;
            nb *= (R + y) / (y + 1) * q;
            b1 *= (bx + y) / (a + bx + y);
        }
        return;
    }
    /* Pareto/NBD: alive through t, plus the Lomax-weighted NB over (0, tau] */
    double s = v[2], B = v[3] + c->T, head = exp(-s * log1p(t / B));
    for (int y = 0; y < n; y++) {
        out[y] = head * nb;
        nb *= (R + y) / (y + 1) * q;
    }
    pthread_once(&g_gl_once, gl_init);
    for (size_t i = 0; g_gl && i < g_gl->n; i++) {
        double tau, w;
        gsl_integration_glfixed_point(0, t, i, &tau, &w, g_gl);
        double f = w * s / B * exp(-(s + 1) * log1p(tau / B) - R * log1p(tau / A));
        double qt = tau / (A + tau);
        for (int y = 0; y < n; y++) {
            out[y] += f;
            f *= (R + y) / (y + 1) * qt;
        }
    }
    for (int y = 0; y < n; y++)
        out[y] = (y == 0 ? 1 - pa : 0) + pa * out[y];
}

/* pt_clv_next_purchase, given the customer's P(alive) pa. */
static double next_purchase(const struct pt_clv_params *p, const struct pt_rfx *c, double pa,
                            double max_t)
{
    if (!(pa > 0.5))
        return NAN;
    if (p->model == PT_BGNBD) {
        /* P(no purchase by t) = 1 - P + P (A/(A+t))^R = 1/2 */
        double R = p->v[0] + c->x, A = p->v[1] + c->T;
        double t = A * expm1(-log1p(-1 / (2 * pa)) / R);
        return t <= max_t ? t : NAN;
    }
    if (pt_clv_pmf(p, c, max_t, 0) > 0.5)
        return NAN;
    double lo = 0, hi = max_t;
    for (int i = 0; i < 60 && hi - lo > 1e-6 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (pt_clv_pmf(p, c, mid, 0) > 0.5)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

double pt_clv_next_purchase(const struct pt_clv_params *p, const struct pt_rfx *c, double max_t)
{
    return next_purchase(p, c, pt_clv_palive(p, c), max_t);
}

/*
 * 2F1(A, B; C; z) near z = 1, by the connection formula (DLMF 15.8.4) to
 * series in w = 1 - z:
 *   G1 2F1(A, B; 1-d; w) + G2 w^d 2F1(C-A, C-B; d+1; w),  d = C - A - B,
 *   G1 = G(C) G(d) / (G(C-A) G(C-B)),  G2 = G(C) G(-d) / (G(A) G(B)).
 * The gamma factors do not depend on z: bg_far_init computes them once. It
 * refuses d within 1e-4 of an integer (the two terms then cancel), where the
 * caller falls back to quadrature. 1/G at a pole is 0 (that term vanishes).
 */
struct bg_far {
    double A, B, C, d, l1, l2;
    int s1, s2, ok;
};

/* ln |G(v)| and its sign; 0 at a pole (v a non-positive integer). */
static int lgam(double v, double *l, int *sg)
{
    double sgn;
    gsl_sf_result res;
    if (v <= 0 && v == floor(v))
        return 0;
    if (gsl_sf_lngamma_sgn_e(v, &res, &sgn) != GSL_SUCCESS || !isfinite(res.val))
        return 0;
    *l = res.val;
    *sg = sgn < 0 ? -1 : 1;
    return 1;
}

static void bg_far_init(struct bg_far *f, double A, double B, double C)
{
    double d = C - A - B, lc, ld, lmd, l;
    int sc, sd, smd, sg;
    f->A = A, f->B = B, f->C = C, f->d = d, f->ok = 0;
    if (fabs(d - nearbyint(d)) < 1e-4 || !lgam(C, &lc, &sc) || !lgam(d, &ld, &sd) ||
        !lgam(-d, &lmd, &smd))
        return;
    f->l1 = lc + ld, f->s1 = sc * sd;
    f->l2 = lc + lmd, f->s2 = sc * smd;
    /* a pole in a denominator makes that term 0 */
    if (lgam(C - A, &l, &sg))
        f->l1 -= l, f->s1 *= sg;
    else
        f->s1 = 0;
    if (lgam(C - B, &l, &sg))
        f->l1 -= l, f->s1 *= sg;
    else
        f->s1 = 0;
    if (lgam(A, &l, &sg))
        f->l2 -= l, f->s2 *= sg;
    else
        f->s2 = 0;
    if (lgam(B, &l, &sg))
        f->l2 -= l, f->s2 *= sg;
    else
        f->s2 = 0;
    f->ok = 1;
}

/* The series of 2F1(a, b; c; w) for small w (c not a non-positive integer);
 * NAN if it does not settle. */
static double small_series(double a, double b, double c, double w)
{
    double term = 1, sum = 1;
    for (int k = 0; k < 2000; k++) {
        term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * w;
        sum += term;
        if (fabs(term) <= 1e-17 * fabs(sum) && k > fabs(a) + fabs(b))
            return sum;
    }
    return NAN;
}

/* ln 2F1(A, B; C; 1 - w) for 0 < w <= 0.2; NAN when not positive or not
 * computable. */
static double bg_far_log(const struct bg_far *f, double w)
{
    if (!f->ok || !(w > 0 && w <= 0.2))
        return NAN;
    double lw = log(w), h = 0, m = -INFINITY;
    double t1 = f->s1 ? f->l1 : -INFINITY, t2 = f->s2 ? f->l2 + f->d * lw : -INFINITY;
    m = t1 > t2 ? t1 : t2;
    if (!isfinite(m))
        return NAN;
    if (f->s1)
        h += f->s1 * exp(t1 - m) * small_series(f->A, f->B, 1 - f->d, w);
    if (f->s2)
        h += f->s2 * exp(t2 - m) * small_series(f->C - f->A, f->C - f->B, f->d + 1, w);
    /* lost to cancellation: let quadrature decide */
    double mag = (f->s1 ? exp(t1 - m) : 0) + (f->s2 ? exp(t2 - m) : 0);
    return h > 1e-6 * mag && isfinite(h) ? m + log(h) : NAN;
}

/*
 * BG/NBD alive expectations at several t at once (t ascending, n <= 64). The
 * series coefficients of 2F1(a+b-1-r, a-1; a+b+x-1; z) do not depend on t, so
 * they are computed once and summed for every z <= 0.8; a larger z (a short
 * customer age against a long horizon) takes the connection formula above,
 * whose gamma factors are likewise shared. 0 if either does not apply (then
 * each t goes its own way).
 */
static int bg_alive_expected_many(const double *v, double x, double T, const double *t, int n,
                                  double *out)
{
    double r = v[0], al = v[1], a = v[2], b = v[3];
    double A = a + b - 1 - r, B = a - 1, C = a + b + x - 1, z[64], zp[64], sum[64];
    if (n > 64 || fabs(a - 1) <= 1e-3 || !(C > 0))
        return 0;
    int far = n; /* t[0..far) by the series, the rest near z = 1 */
    for (int i = 0; i < n; i++) {
        z[i] = t[i] / (al + T + t[i]);
        zp[i] = 1;
        sum[i] = 1;
        if (!(z[i] >= 0 && z[i] < 1))
            return 0;
        if (z[i] > 0.8 && far == n)
            far = i;
    }
    if (far > 0) {
        double coef = 1;
        int done = 0;
        for (int k = 0; k < 20000 && !done; k++) {
            coef *= (A + k) * (B + k) / ((C + k) * (k + 1));
            for (int i = 0; i < far; i++) {
                zp[i] *= z[i];
                sum[i] += coef * zp[i];
            }
            double last = fabs(coef * zp[far - 1]); /* the largest z converges last */
            done = last <= 1e-17 * fabs(sum[far - 1]) && k > fabs(A) + fabs(B) + 2;
        }
        if (!done)
            return 0;
    }
    struct bg_far fa = {0};
    if (far < n)
        bg_far_init(&fa, A, B, C);
    for (int i = 0; i < n; i++) {
        double lh, w = (al + T) / (al + T + t[i]); /* 1 - z, without cancellation */
        if (i < far) {
            if (!(sum[i] > 0) || !isfinite(sum[i]))
                return 0;
            lh = log(sum[i]);
        } else {
            lh = bg_far_log(&fa, w);
            if (isnan(lh))
                return 0;
        }
        out[i] = C / B * -expm1(B * log(w) + lh);
        if (!(out[i] >= 0) || !isfinite(out[i]))
            return 0;
    }
    return 1;
}

/* The expected purchases if alive at the ends of the periods of (T, T +
 * horizon]: their count, or 0 past 64 periods. */
static int period_expectations(const struct pt_clv_params *p, const struct pt_rfx *c,
                               double horizon, double period, double *ts, double *es)
{
    int n = 0;
    for (double t0 = 0; t0 < horizon && n < 64; t0 += period)
        ts[n++] = t0 + period < horizon ? t0 + period : horizon;
    if (n == 64 && ts[63] < horizon)
        return 0;
    int many = p->model == PT_BGNBD && bg_alive_expected_many(p->v, c->x, c->T, ts, n, es);
    for (int i = 0; i < n && !many; i++)
        es[i] = p->model == PT_BGNBD ? bg_alive_expected(p->v, c->x, c->T, ts[i])
                                     : pnbd_alive_expected(p->v, c->x, c->T, ts[i]);
    return n;
}

static double discounted(const double *es, int n, double rate)
{
    double prev = 0, sum = 0, disc = 1;
    for (int i = 0; i < n; i++) {
        disc /= 1 + rate;
        sum += (es[i] - prev) * disc;
        prev = es[i];
    }
    return sum;
}

double pt_clv_value(const struct pt_clv_params *p, const struct pt_rfx *c, double horizon,
                    double period, double rate, double spend)
{
    if (!(horizon > 0) || !(period > 0) || !(spend > 0))
        return 0;
    double ts[64], es[64];
    int n = period_expectations(p, c, horizon, period, ts, es);
    if (n == 0)
        return NAN; /* more than 64 periods: not supported (documented) */
    return pt_clv_palive(p, c) * spend * discounted(es, n, rate);
}

void pt_clv_score(const struct pt_clv_params *p, const struct pt_rfx *c, double horizon,
                  double period, double rate, double spend, double max_t, struct pt_clv_scores *out)
{
    double pa = pt_clv_palive(p, c), ts[64], es[64];
    int n = horizon > 0 && period > 0 ? period_expectations(p, c, horizon, period, ts, es) : 0;
    out->p_alive = pa;
    out->expected = n > 0 ? pa * es[n - 1] : pt_clv_expected(p, c, horizon);
    out->value = isnan(spend)                                      ? NAN
                 : !(horizon > 0) || !(period > 0) || !(spend > 0) ? 0
                 : n == 0                                          ? NAN
                          : pa * spend * discounted(es, n, rate);
    out->next_t = next_purchase(p, c, pa, max_t);
}
