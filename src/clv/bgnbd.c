/*
 * bgnbd.c - BG/NBD log-likelihood, its gradient and the maximum-likelihood fit.
 *
 * Per customer (Fader, Hardie & Lee 2005, eq. 6):
 *   L = A1 A2 (A3 + [x > 0] A4)
 *   ln A1 = lnG(r + x) - lnG(r) + r ln(alpha)
 *   ln A2 = lnG(a + b) + lnG(b + x) - lnG(b) - lnG(a + b + x)
 *   ln A3 = -(r + x) ln(alpha + T)
 *   ln A4 = ln(a) - ln(b + x - 1) - (r + x) ln(alpha + t_x)
 * The sum A3 + A4 is taken as a log-sum-exp. The fit minimises the mean
 * negative log-likelihood over log-parameters with BFGS on the analytic
 * gradient (digamma terms once per distinct x, logarithms once per distinct
 * time value), then confirms the point with a small simplex.
 */
#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_psi.h>
#include <math.h>

#include "clv/clv_int.h"

double clv_bgnbd_ll1(const double *v, const struct pt_rfx *c)
{
    double r = v[0], al = v[1], a = v[2], b = v[3], x = c->x;
    double la1 = gsl_sf_lngamma(r + x) - gsl_sf_lngamma(r) + r * log(al);
    double la2 = gsl_sf_lngamma(a + b) + gsl_sf_lngamma(b + x) - gsl_sf_lngamma(b) -
                 gsl_sf_lngamma(a + b + x);
    double la3 = -(r + x) * log(al + c->T);
    if (x <= 0)
        return la1 + la2 + la3;
    double la4 = log(a) - log(b + x - 1) - (r + x) * log(al + c->tx);
    return la1 + la2 + clv_lse(la3, la4);
}

struct bg_eval {
    const struct clv_set *s;
    double r, al, a, b, la;
    int grad;
    double part[PT_PAR_PARTS][5]; /* ll, d/dr, d/dalpha, d/da, d/db over a part's groups */
};

/* The groups [lo, hi): their terms of the log-likelihood and its gradient. */
static void bg_part(void *arg, int part, size_t lo, size_t hi)
{
    struct bg_eval *ev = arg;
    const struct clv_set *s = ev->s;
    const double *lt = s->tab, *inv = s->tab + s->nv;
    double r = ev->r, a = ev->a, b = ev->b, la = ev->la;
    double ll = 0, dr = 0, dal = 0, da = 0, db = 0;
    size_t i = lo;
    while (i < hi) {
        double x = s->x[i];
        double lx = gsl_sf_lngamma(r + x) + gsl_sf_lngamma(b + x) - gsl_sf_lngamma(a + b + x);
        double lb1 = x > 0 ? log(b + x - 1) : 0, ib1 = x > 0 ? 1 / (b + x - 1) : 0;
        double wx = 0, sl = 0, sr = 0, sal = 0, s4 = 0;
        for (; i < hi && s->x[i] == x; i++) {
            double w = s->w[i], la3 = -(r + x) * lt[s->iT[i]];
            wx += w;
            if (x == 0) {
                sl += w * la3;
                sr -= w * lt[s->iT[i]];
                sal -= w * (r + x) * inv[s->iT[i]];
                continue;
            }
            double la4 = la - lb1 - (r + x) * lt[s->ix[i]];
            /* L = lse(la3, la4) and the shares p3, p4 of its two terms, with one exp */
            double d = la3 - la4, q = exp(-fabs(d)), L = (d > 0 ? la3 : la4) + log1p(q);
            double big = 1 / (1 + q), p3 = d > 0 ? big : q * big, p4 = 1 - p3;
            sl += w * L;
            sr -= w * (p3 * lt[s->iT[i]] + p4 * lt[s->ix[i]]);
            sal -= w * (r + x) * (p3 * inv[s->iT[i]] + p4 * inv[s->ix[i]]);
            s4 += w * p4;
        }
        ll += wx * lx + sl;
        if (ev->grad) {
            double pab = gsl_sf_psi(a + b + x);
            dr += wx * gsl_sf_psi(r + x) + sr;
            dal += sal;
            da += -wx * pab + s4 / a;
            db += wx * (gsl_sf_psi(b + x) - pab) - s4 * ib1;
        }
    }
    double *o = ev->part[part];
    o[0] = ll;
    o[1] = dr;
    o[2] = dal;
    o[3] = da;
    o[4] = db;
}

/* Mean negative log-likelihood at log-parameters v; gradient in g if not NULL. */
static double objective(const double *v, double *g, void *arg)
{
    const struct clv_set *s = arg;
    double r = exp(v[0]), al = exp(v[1]), a = exp(v[2]), b = exp(v[3]);
    if (!(r > 0 && al > 0 && a > 0 && b > 0) || !isfinite(r * al * a * b))
        return INFINITY;
    double *lt = s->tab, *inv = s->tab + s->nv;
    for (size_t i = 0; i < s->nv; i++) {
        lt[i] = log(al + s->val[i]);
        inv[i] = 1 / (al + s->val[i]);
    }
    struct bg_eval ev = {.s = s, .r = r, .al = al, .a = a, .b = b, .la = log(a), .grad = g != NULL};
    pt_parallel(s->ng, bg_part, &ev);
    double W = s->wsum, sum[5] = {0};
    for (int p = 0; p < PT_PAR_PARTS; p++)
        for (int k = 0; k < 5; k++)
            sum[k] += ev.part[p][k];
    double ll =
        W * (-gsl_sf_lngamma(r) + r * log(al) + gsl_sf_lngamma(a + b) - gsl_sf_lngamma(b)) + sum[0];
    if (!isfinite(ll))
        return INFINITY;
    if (g) {
        double pab = gsl_sf_psi(a + b);
        g[0] = -r * (sum[1] + W * (log(al) - gsl_sf_psi(r))) / W;
        g[1] = -al * (sum[2] + W * r / al) / W;
        g[2] = -a * (sum[3] + W * pab) / W;
        g[3] = -b * (sum[4] + W * (pab - gsl_sf_psi(b))) / W;
    }
    return -ll / W;
}

int clv_bgnbd_fit(const struct clv_set *s, double *v, struct pt_clv_fit *fit)
{
    struct clv_obj o = {.dim = 4, .f = objective, .arg = (void *)s, .n = s->wsum, .newton = 1};
    /* start: r = a = b = 1 and the data's mean purchase rate r/alpha */
    double sx = s->xsum, sT = s->Tsum;
    double x[4] = {0, sx > 0 && sT > 0 ? log(sT / sx) : 0, 0, 0}, best;
    int rc = clv_minimize(&o, 1, x, &best);
    if (rc)
        return rc;
    for (int k = 0; k < 4; k++)
        v[k] = exp(x[k]);
    fit->ll = -best * s->wsum;
    clv_std_errors(&o, x, s->wsum, fit->se);
    fit->evals = o.evals;
    return 0;
}
