/*
 * pnbd.c - Pareto/NBD log-likelihood and maximum-likelihood fit.
 *
 * Per customer (Fader & Hardie 2005, "A Note on Deriving the Pareto/NBD Model
 * and Related Expressions", eq. 22):
 *   L = G(r+x) alpha^r beta^s / G(r) * [ (alpha+T)^-(r+x) (beta+T)^-s + s (F(t_x) - F(T)) ]
 * where, with S = r + s + x,
 *   alpha >= beta: F(t) = 2F1(S, s+1; S+1; (alpha-beta)/(alpha+t)) / (S (alpha+t)^S)
 *   alpha <  beta: F(t) = 2F1(S, r+x; S+1; (beta-alpha)/(beta+t)) / (S (beta+t)^S)
 * Those 2F1 grow without bound as their argument nears 1. Euler's
 * transformation 2F1(a, b; c; z) = (1-z)^(c-a-b) 2F1(c-a, c-b; c; z) turns them
 * into 2F1(1, .; S+1; z) series of positive terms:
 *   alpha >= beta: F(t) = H(r+x) (beta+t)^-s (alpha+t)^-(r+x) / S
 *   alpha <  beta: F(t) = H(s+1) (alpha+t)^(1-r-x) (beta+t)^-(s+1) / S
 * with H(b) = 2F1(1, b; S+1; z); for alpha >= beta H lies in [1, S/s], so
 * nothing overflows. H is a series of positive terms, summed once per
 * distinct (x, time) per evaluation, up to z = 0.995 (one scale parameter
 * 200x the other, at small t). Beyond, s (F(t_x) - F(T)) is integrated
 * directly over [t_x, T] per group. Every term is shifted by r ln alpha +
 * s ln beta (see log_f). The fit is BFGS on the analytic gradient (log_f_d,
 * direct_tail_g) in the coordinates of objective_u.
 */
#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_psi.h>
#include <math.h>
#include <string.h>

#include "clv/clv_int.h"

/*
 * ln F(t) + r ln alpha + s ln beta, given la = ln(alpha + t), lb = ln(beta + t),
 * la1 = ln(1 + t/alpha), lb1 = ln(1 + t/beta). Every term of the likelihood
 * inside the log-sum is shifted by r ln alpha + s ln beta, so that the large
 * s ln beta - s ln(beta + t) of a fit far out on a ridge (s ~ 1e6) is
 * -s ln(1 + t/beta), exact, instead of the difference of two numbers ~1e7.
 */
static double log_f(double r, double al, double s, double be, double x, double t, double la,
                    double lb, double la1, double lb1)
{
    double S = r + s + x;
    if (al >= be)
        return clv_log_h1(r + x, S + 1, (al - be) / (al + t)) - s * lb1 - r * la1 - x * la - log(S);
    return clv_log_h1(s + 1, S + 1, (be - al) / (be + t)) - s * lb1 - lb - r * la1 + (1 - x) * la -
           log(S);
}

/* ln F(t) as log_f, with g = d ln F / d(r, alpha, s, beta) (docs/clv.md,
 * "Gradients"). */
static double log_f_d(double r, double al, double s, double be, double x, double t, double la,
                      double lb, double la1, double lb1, double *g)
{
    double S = r + s + x, h[3], lh;
    if (al >= be) {
        double z = (al - be) / (al + t);
        lh = clv_log_h1_d(r + x, S + 1, z, h);
        g[0] = h[0] + h[1] - la - 1 / S;
        g[1] = h[2] * (be + t) / ((al + t) * (al + t)) - (r + x) / (al + t);
        g[2] = h[1] - lb - 1 / S;
        g[3] = -h[2] / (al + t) - s / (be + t);
        return lh - s * lb1 - r * la1 - x * la - log(S);
    }
    double z = (be - al) / (be + t);
    lh = clv_log_h1_d(s + 1, S + 1, z, h);
    g[0] = h[1] - la - 1 / S;
    g[1] = -h[2] / (be + t) + (1 - r - x) / (al + t);
    g[2] = h[0] + h[1] - lb - 1 / S;
    g[3] = h[2] * (al + t) / ((be + t) * (be + t)) - (s + 1) / (be + t);
    return lh - s * lb1 - lb - r * la1 + (1 - x) * la - log(S);
}

/* 16-point Gauss-Legendre nodes and weights on [-1, 1] (positive half). */
static const double k_gl_x[8] = {0.0950125098376374, 0.2816035507792589, 0.4580167776572274,
                                 0.6178762444026438, 0.7554044083550030, 0.8656312023878318,
                                 0.9445750230732326, 0.9894009349916499};
static const double k_gl_w[8] = {0.1894506104550685, 0.1826034150449236, 0.1691565193950025,
                                 0.1495959888165767, 0.1246289712555339, 0.0951585116824928,
                                 0.0622535239386479, 0.0271524594117541};

/* ln s + ln of the integral over [t_x, T] of (alpha+t)^-(r+x) (beta+t)^-(s+1)
 * (= s (F(t_x) - F(T))), for one scale parameter much larger than the other,
 * where the series of F would be slow. The integrand is positive and falls by
 * e over about L at t_x; the range is cut at t_x + L 10^k (k = -2, -1, ...)
 * and each piece gets 16-point Gauss-Legendre, all relative to the
 * integrand's value at t_x (its largest), so nothing underflows. */
static double direct_tail_g(double r, double al, double s, double be, double x, double tx, double T,
                            double *g)
{
    if (!(T > tx))
        return -INFINITY;
    double rx = r + x, s1 = s + 1, ax = al + tx, bx = be + tx;
    /* ln of the integrand at t_x, shifted by r ln alpha + s ln beta */
    double l0 = -r * log1p(tx / al) - x * log(ax) - s * log1p(tx / be) - log(bx);
    double L = 1 / (rx / ax + s1 / bx), sum = 0, lo = tx, m[4] = {0, 0, 0, 0};
    for (double d = L * 1e-2; lo < T; d *= 10) {
        double hi = tx + d < T ? tx + d : T, mid = 0.5 * (lo + hi), half = 0.5 * (hi - lo);
        for (int k = 0; k < 8; k++)
            for (int sg = -1; sg <= 1; sg += 2) {
                double t = mid + sg * half * k_gl_x[k];
                /* relative to t_x, without the cancellation of s1 (lb - ln bx) */
                double rel = -rx * log1p((t - tx) / ax) - s1 * log1p((t - tx) / bx);
                double f = k_gl_w[k] * half * exp(rel);
                sum += f;
                if (g) { /* derivatives of the integrand's log, weighted by it */
                    double la = log(al + t), lb = log(be + t);
                    m[0] -= f * la;
                    m[1] -= f * rx / (al + t);
                    m[2] -= f * lb;
                    m[3] -= f * s1 / (be + t);
                }
            }
        lo = hi;
    }
    if (!(sum > 0))
        return -INFINITY;
    if (g) {
        for (int k = 0; k < 4; k++)
            g[k] = m[k] / sum;
        g[2] += 1 / s;
    }
    return log(s) + l0 + log(sum);
}

/* ln of s (F(t_x) - F(T)) from ln F of both; -inf when they are equal. */
static double tail_of(double s, double ftx, double fT)
{
    if (!(fT < ftx))
        return -INFINITY;
    return log(s) + ftx + log(-expm1(fT - ftx));
}

double clv_pnbd_log_tail(const double *v, double x, double tx, double T)
{
    double r = v[0], al = v[1], s = v[2], be = v[3];
    double ftx =
        log_f(r, al, s, be, x, tx, log(al + tx), log(be + tx), log1p(tx / al), log1p(tx / be));
    double fT = log_f(r, al, s, be, x, T, log(al + T), log(be + T), log1p(T / al), log1p(T / be));
    if (isnan(ftx) || isnan(fT))
        return direct_tail_g(r, al, s, be, x, tx, T, NULL);
    return tail_of(s, ftx, fT);
}

double clv_pnbd_log_head(const double *v, double x, double T)
{
    return -v[0] * log1p(T / v[1]) - x * log(v[1] + T) - v[2] * log1p(T / v[3]);
}

double clv_pnbd_ll1(const double *v, const struct pt_rfx *c)
{
    double r = v[0], x = c->x;
    double head = clv_pnbd_log_head(v, x, c->T);
    double tail = clv_pnbd_log_tail(v, x, c->tx, c->T);
    return gsl_sf_lngamma(r + x) - gsl_sf_lngamma(r) + clv_lse(head, tail);
}

struct pn_eval {
    const struct clv_set *s;
    double r, al, sh, be;
    int grad;
    double part[PT_PAR_PARTS], gpart[PT_PAR_PARTS][4];
};

/* The groups [lo, hi), with this part's own cache of ln F (and, for the
 * gradient, its derivatives) per (x, time). */
static void pn_part(void *arg, int part, size_t lo, size_t hi)
{
    struct pn_eval *ev = arg;
    const struct clv_set *s = ev->s;
    size_t nv = s->nv;
    const double *la = s->tab, *lb = la + nv, *la1 = lb + nv, *lb1 = la1 + nv;
    double *lf = s->tab + (4 + 6 * (size_t)part) * nv, *stamp = lf + nv, *df = stamp + nv;
    double r = ev->r, al = ev->al, sh = ev->sh, be = ev->be, ls = log(sh), ll = 0;
    double G[4] = {0, 0, 0, 0};
    int grad = ev->grad;
    for (size_t i = 0; i < nv; i++)
        stamp[i] = -1;
    size_t i = lo;
    while (i < hi) {
        double x = s->x[i], wx = 0, sum = 0;
        for (; i < hi && s->x[i] == x; i++) {
            uint32_t a = s->ix[i], b = s->iT[i];
            uint32_t idx[2] = {a, b};
            for (int k = 0; k < 2; k++) {
                uint32_t c = idx[k];
                if (stamp[c] == x)
                    continue;
                lf[c] = grad ? log_f_d(r, al, sh, be, x, s->val[c], la[c], lb[c], la1[c], lb1[c],
                                       df + 4 * c)
                             : log_f(r, al, sh, be, x, s->val[c], la[c], lb[c], la1[c], lb1[c]);
                stamp[c] = x;
            }
            double head = -r * la1[b] - x * la[b] - sh * lb1[b], L, dt[4];
            double wh = 1, wt = 0;              /* shares of e^head and of the tail in e^L */
            if (isnan(lf[a]) || isnan(lf[b])) { /* extreme scale ratio: integrate */
                double tail =
                    direct_tail_g(r, al, sh, be, x, s->val[a], s->val[b], grad ? dt : NULL);
                L = clv_lse(head, tail);
                if (grad) {
                    wh = exp(head - L);
                    wt = tail > -INFINITY ? exp(tail - L) : 0;
                }
            } else if (lf[b] < lf[a]) {
                /* L = ln(e^head + s e^ftx (1 - e^(fT - ftx))), one expm1, two
                 * exp and one log shared by the value and the gradient */
                double em = expm1(lf[b] - lf[a]), m = head > lf[a] + ls ? head : lf[a] + ls;
                double eh = exp(head - m), et = exp(lf[a] + ls - m) * -em, tot = eh + et;
                L = m + log(tot);
                if (grad) {
                    wh = eh / tot;
                    wt = et / tot;
                    const double *ga = df + 4 * a, *gb = df + 4 * b;
                    for (int k = 0; k < 4; k++) /* d ln(e^ftx - e^fT) */
                        dt[k] = (ga[k] - (1 + em) * gb[k]) / -em;
                    dt[2] += 1 / sh;
                }
            } else {
                L = head; /* t_x = T: no tail */
            }
            sum += s->w[i] * L;
            wx += s->w[i];
            if (!grad)
                continue;
            /* dL = wh dhead + wt dtail */
            double w = s->w[i];
            G[0] -= w * wh * la[b];
            G[1] -= w * wh * (r + x) / (al + s->val[b]);
            G[2] -= w * wh * lb[b];
            G[3] -= w * wh * sh / (be + s->val[b]);
            if (wt > 0)
                for (int k = 0; k < 4; k++)
                    G[k] += w * wt * dt[k];
        }
        ll += wx * gsl_sf_lngamma(r + x) + sum;
        if (grad)
            G[0] += wx * gsl_sf_psi(r + x);
    }
    ev->part[part] = ll;
    for (int k = 0; k < 4; k++)
        ev->gpart[part][k] = G[k];
}

/* Mean negative log-likelihood at v = ln(r, alpha, s, beta); g (if not NULL)
 * its gradient in v. */
static double objective(const double *v, double *g, void *arg)
{
    const struct clv_set *s = arg;
    double r = exp(v[0]), al = exp(v[1]), sh = exp(v[2]), be = exp(v[3]);
    if (!(r > 0 && al > 0 && sh > 0 && be > 0) || !isfinite(r * al * sh * be))
        return INFINITY;
    size_t nv = s->nv;
    double *la = s->tab, *lb = la + nv, *la1 = lb + nv, *lb1 = la1 + nv;
    for (size_t i = 0; i < nv; i++) {
        la[i] = log(al + s->val[i]);
        lb[i] = log(be + s->val[i]);
        la1[i] = log1p(s->val[i] / al);
        lb1[i] = log1p(s->val[i] / be);
    }
    struct pn_eval ev = {.s = s, .r = r, .al = al, .sh = sh, .be = be, .grad = g != NULL};
    pt_parallel(s->ng, pn_part, &ev);
    double W = s->wsum, ll = -W * gsl_sf_lngamma(r); /* r ln alpha + s ln beta: in log_f */
    double G[4] = {W * (-gsl_sf_psi(r) + log(al)), W * r / al, W * log(be), W * sh / be};
    for (int p = 0; p < PT_PAR_PARTS; p++) {
        ll += ev.part[p];
        for (int k = 0; k < 4; k++)
            G[k] += ev.gpart[p][k];
    }
    if (!isfinite(ll))
        return INFINITY;
    if (g) {
        const double th[4] = {r, al, sh, be};
        for (int k = 0; k < 4; k++) {
            g[k] = -th[k] * G[k] / W;
            if (!isfinite(g[k]))
                return INFINITY;
        }
    }
    return -ll / W;
}

/* The search runs on u = (ln r, ln r/alpha, ln s, ln s/beta): the mean
 * purchase and dropout rates as coordinates of their own. Where the data show
 * no heterogeneity in one of the rates, the likelihood's maximum is at
 * infinity along a ridge (s, beta -> inf at a fixed s/beta); in u that ridge is
 * one axis, along which the quasi-Newton steps grow geometrically and stop on
 * the vanishing gradient, instead of crawling up a narrow diagonal valley. */
static double objective_u(const double *u, double *g, void *arg)
{
    double ls = -2 * log(fabs(u[2])); /* s = 1 / u2^2 */
    double v[4] = {u[0], u[0] - u[1], ls, ls - u[3]}, gv[4];
    double f = objective(v, g ? gv : NULL, arg);
    if (g && isfinite(f)) {
        g[0] = gv[0] + gv[1];
        g[1] = -gv[1];
        g[2] = (gv[2] + gv[3]) * -2 / u[2];
        g[3] = -gv[3];
    }
    return f;
}

int clv_pnbd_fit(const struct clv_set *s, double *v, struct pt_clv_fit *fit)
{
    struct clv_obj o = {.dim = 4, .f = objective, .arg = (void *)s};
    struct clv_obj ou = {.dim = 4, .f = objective_u, .arg = (void *)s, .n = s->wsum};
    /* start: r = s = 1, the mean purchase rate r/alpha of the data and a mean
     * lifetime beta/s as long as the mean age */
    double sx = s->xsum, sT = s->Tsum;
    double rate = sx > 0 && sT > 0 ? sx / sT : 1, life = sT > 0 ? sT / s->wsum : 1;
    double u[4] = {0, log(rate), 1, -log(life)}, best;
    int rc = clv_minimize(&ou, 1, u, &best);
    if (rc)
        return rc;
    double ls = -2 * log(fabs(u[2]));
    double x[4] = {u[0], u[0] - u[1], ls, ls - u[3]};
    o.evals = ou.evals;
    for (int k = 0; k < 4; k++)
        v[k] = exp(x[k]);
    fit->ll = -best * s->wsum;
    clv_std_errors(&o, x, s->wsum, fit->se);
    fit->evals = o.evals;
    return 0;
}
