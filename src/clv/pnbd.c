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
 * nothing overflows. When z > 0.95 (one scale parameter 20x the other or
 * more, at small t) the series would be slow, and s (F(t_x) - F(T)) is
 * instead integrated directly over [t_x, T]. The fit (no gradient) is the simplex on the mean negative
 * log-likelihood; F is computed once per distinct (x, time) per evaluation.
 */
#include <gsl/gsl_sf_gamma.h>
#include <math.h>

#include "clv/clv_int.h"

/* ln F(t) given la = ln(alpha + t), lb = ln(beta + t). */
static double log_f(double r, double al, double s, double be, double x, double t, double la,
                    double lb)
{
    double S = r + s + x;
    if (al >= be)
        return clv_log_h1(r + x, S + 1, (al - be) / (al + t)) - s * lb - (r + x) * la - log(S);
    return clv_log_h1(s + 1, S + 1, (be - al) / (be + t)) - (s + 1) * lb + (1 - r - x) * la -
           log(S);
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
static double direct_tail(double r, double al, double s, double be, double x, double tx, double T)
{
    if (!(T > tx))
        return -INFINITY;
    double rx = r + x, s1 = s + 1, l0 = -rx * log(al + tx) - s1 * log(be + tx);
    double L = 1 / (rx / (al + tx) + s1 / (be + tx)), sum = 0, lo = tx;
    for (double d = L * 1e-2; lo < T; d *= 10) {
        double hi = tx + d < T ? tx + d : T, mid = 0.5 * (lo + hi), half = 0.5 * (hi - lo);
        for (int k = 0; k < 8; k++)
            for (int sg = -1; sg <= 1; sg += 2) {
                double t = mid + sg * half * k_gl_x[k];
                sum += k_gl_w[k] * half * exp(-rx * log(al + t) - s1 * log(be + t) - l0);
            }
        lo = hi;
    }
    return sum > 0 ? log(s) + l0 + log(sum) : -INFINITY;
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
    double ftx = log_f(r, al, s, be, x, tx, log(al + tx), log(be + tx));
    double fT = log_f(r, al, s, be, x, T, log(al + T), log(be + T));
    if (isnan(ftx) || isnan(fT))
        return direct_tail(r, al, s, be, x, tx, T);
    return tail_of(s, ftx, fT);
}

double clv_pnbd_ll1(const double *v, const struct pt_rfx *c)
{
    double r = v[0], al = v[1], s = v[2], be = v[3], x = c->x;
    double head = -(r + x) * log(al + c->T) - s * log(be + c->T);
    double tail = clv_pnbd_log_tail(v, x, c->tx, c->T);
    return gsl_sf_lngamma(r + x) - gsl_sf_lngamma(r) + r * log(al) + s * log(be) +
           clv_lse(head, tail);
}

struct pn_eval {
    const struct clv_set *s;
    double r, al, sh, be;
    double part[PT_PAR_PARTS];
};

/* ln(e^head + s (e^ftx - e^fT)) with two exps and one log (fT <= ftx). */
static double group_ll(double head, double ls, double ftx, double fT)
{
    if (!(fT < ftx))
        return head;
    double m = head > ftx + ls ? head : ftx + ls;
    return m + log(exp(head - m) + exp(ftx + ls - m) * -expm1(fT - ftx));
}

/* The groups [lo, hi), with this part's own cache of ln F per (x, time). */
static void pn_part(void *arg, int part, size_t lo, size_t hi)
{
    struct pn_eval *ev = arg;
    const struct clv_set *s = ev->s;
    size_t nv = s->nv;
    const double *la = s->tab, *lb = s->tab + nv;
    double *lf = s->tab + (2 + 2 * (size_t)part) * nv, *stamp = lf + nv;
    double r = ev->r, al = ev->al, sh = ev->sh, be = ev->be, ls = log(sh), ll = 0;
    for (size_t i = 0; i < nv; i++)
        stamp[i] = -1;
    size_t i = lo;
    while (i < hi) {
        double x = s->x[i], wx = 0, sum = 0;
        for (; i < hi && s->x[i] == x; i++) {
            uint32_t a = s->ix[i], b = s->iT[i];
            if (stamp[a] != x) {
                lf[a] = log_f(r, al, sh, be, x, s->val[a], la[a], lb[a]);
                stamp[a] = x;
            }
            if (stamp[b] != x) {
                lf[b] = log_f(r, al, sh, be, x, s->val[b], la[b], lb[b]);
                stamp[b] = x;
            }
            double head = -(r + x) * la[b] - sh * lb[b];
            if (isnan(lf[a]) || isnan(lf[b])) /* extreme scale ratio: integrate */
                sum += s->w[i] *
                       clv_lse(head, direct_tail(r, al, sh, be, x, s->val[a], s->val[b]));
            else
                sum += s->w[i] * group_ll(head, ls, lf[a], lf[b]);
            wx += s->w[i];
        }
        ll += wx * gsl_sf_lngamma(r + x) + sum;
    }
    ev->part[part] = ll;
}

static double objective(const double *v, double *g, void *arg)
{
    (void)g;
    const struct clv_set *s = arg;
    double r = exp(v[0]), al = exp(v[1]), sh = exp(v[2]), be = exp(v[3]);
    if (!(r > 0 && al > 0 && sh > 0 && be > 0) || !isfinite(r * al * sh * be))
        return INFINITY;
    size_t nv = s->nv;
    double *la = s->tab, *lb = s->tab + nv;
    for (size_t i = 0; i < nv; i++) {
        la[i] = log(al + s->val[i]);
        lb[i] = log(be + s->val[i]);
    }
    struct pn_eval ev = {.s = s, .r = r, .al = al, .sh = sh, .be = be};
    pt_parallel(s->ng, pn_part, &ev);
    double W = s->wsum, ll = W * (-gsl_sf_lngamma(r) + r * log(al) + sh * log(be));
    for (int p = 0; p < PT_PAR_PARTS; p++)
        ll += ev.part[p];
    return isfinite(ll) ? -ll / W : INFINITY;
}

/* The search runs on u = (ln r, ln r/alpha, ln s, ln s/beta): the mean
 * purchase and dropout rates as coordinates of their own. Where the data show
 * no heterogeneity in one of the rates, the likelihood's maximum is at
 * infinity along a ridge (s, beta -> inf at a fixed s/beta); in u that ridge is
 * one axis, along which the quasi-Newton steps grow geometrically and stop on
 * the vanishing gradient, instead of crawling up a narrow diagonal valley. */
static double objective_u(const double *u, double *g, void *arg)
{
    (void)g;
    double v[4] = {u[0], u[0] - u[1], u[2], u[2] - u[3]};
    return objective(v, NULL, arg);
}

int clv_pnbd_fit(const struct clv_set *s, double *v, struct pt_clv_fit *fit)
{
    struct clv_obj o = {.dim = 4, .f = objective, .arg = (void *)s};
    struct clv_obj ou = {.dim = 4, .f = objective_u, .arg = (void *)s};
    double u[4] = {0, 0, 0, 0}, best;
    int rc = clv_minimize(&ou, 0, u, &best);
    if (rc)
        return rc;
    double x[4] = {u[0], u[0] - u[1], u[2], u[2] - u[3]};
    o.evals = ou.evals;
    for (int k = 0; k < 4; k++)
        v[k] = exp(x[k]);
    fit->ll = -best * s->wsum;
    clv_std_errors(&o, x, s->wsum, fit->se);
    fit->evals = o.evals;
    return 0;
}
