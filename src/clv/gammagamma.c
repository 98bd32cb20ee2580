/*
 * gammagamma.c - the Gamma-Gamma model of spend per transaction (see clv.h).
 *
 * Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for
 * Customer Base Analysis", JMR 42(4); the likelihood as in Fader & Hardie
 * (2013), "The Gamma-Gamma Model of Monetary Value". For a customer with x > 0
 * repeat transactions of mean value m:
 *   ln L = lnG(p x + q) - lnG(p x) - lnG(q) + q ln(gamma) + (p x - 1) ln(m)
 *          + p x ln(x) - (p x + q) ln(gamma + x m)
 * Customers with x = 0 carry no information and are skipped.
 */
#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_psi.h>
#include <math.h>
#include <stdlib.h>

#include "clv/clv.h"
#include "clv/clv_int.h"
#include "util/mem.h"

double pt_gg_ll1(const struct pt_gg *g, double x, double m)
{
    clv_gsl_quiet();
    if (x <= 0)
        return 0;
    double px = g->p * x;
    return gsl_sf_lngamma(px + g->q) - gsl_sf_lngamma(px) - gsl_sf_lngamma(g->q) +
           g->q * log(g->gamma) + (px - 1) * log(m) + px * log(x) -
           (px + g->q) * log(g->gamma + x * m);
}

/* Repeat customers sorted by x, with the per-customer logs taken once. */
struct gg_data {
    size_t n;
    double *x, *lm, *xm; /* x, ln m, x m */
    double wsum;
};

static int cmp_x(const void *pa, const void *pb)
{
    const double *a = pa, *b = pb;
    return a[0] < b[0] ? -1 : a[0] > b[0];
}

struct gg_eval {
    const struct gg_data *d;
    double p, q, ga;
    int grad;
    double part[PT_PAR_PARTS][4]; /* ll and its derivatives in p, q, gamma */
};

/* Customers [lo, hi): a run of equal x split by a part's edge is two runs. */
static void gg_part(void *arg, int part, size_t lo, size_t hi)
{
    struct gg_eval *ev = arg;
    const struct gg_data *d = ev->d;
    double p = ev->p, q = ev->q, ga = ev->ga, lg = log(ga), ll = 0, dp = 0, dq = 0, dg = 0;
    size_t i = lo;
    while (i < hi) {
        double x = d->x[i], px = p * x, lx = log(x);
        double c0 =
            gsl_sf_lngamma(px + q) - gsl_sf_lngamma(px) - gsl_sf_lngamma(q) + q * lg + px * lx;
        double wx = 0, slm = 0, sl = 0, sinv = 0;
        for (; i < hi && d->x[i] == x; i++) {
            double l = log(ga + d->xm[i]);
            wx += 1;
            slm += d->lm[i];
            sl += l;
            sinv += 1 / (ga + d->xm[i]);
        }
        ll += wx * c0 + (px - 1) * slm - (px + q) * sl;
        if (ev->grad) {
            double ppq = gsl_sf_psi(px + q);
            dp += x * (wx * (ppq - gsl_sf_psi(px) + lx) + slm - sl);
            dq += wx * (ppq - gsl_sf_psi(q) + lg) - sl;
            dg += wx * q / ga - (px + q) * sinv;
        }
    }
    ev->part[part][0] = ll;
    ev->part[part][1] = dp;
    ev->part[part][2] = dq;
    ev->part[part][3] = dg;
}

/* Mean negative log-likelihood at log-parameters v; gradient in g if not NULL. */
static double gg_objective(const double *v, double *g, void *arg)
{
    const struct gg_data *d = arg;
    double p = exp(v[0]), q = exp(v[1]), ga = exp(v[2]);
    if (!(p > 0 && q > 0 && ga > 0) || !isfinite(p * q * ga))
        return INFINITY;
    struct gg_eval ev = {.d = d, .p = p, .q = q, .ga = ga, .grad = g != NULL};
    pt_parallel(d->n, gg_part, &ev);
    double ll = 0, dp = 0, dq = 0, dg = 0;
    for (int k = 0; k < PT_PAR_PARTS; k++) {
        ll += ev.part[k][0];
        dp += ev.part[k][1];
        dq += ev.part[k][2];
        dg += ev.part[k][3];
    }
    if (!isfinite(ll))
        return INFINITY;
    if (g) {
        g[0] = -p * dp / d->wsum;
        g[1] = -q * dq / d->wsum;
        g[2] = -ga * dg / d->wsum;
    }
    return -ll / d->wsum;
}

int pt_gg_fit(const double *x, const double *m, size_t n, struct pt_gg *g, struct pt_clv_fit *fit,
              struct pt_err *e)
{
    clv_gsl_quiet();
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(x[i] >= 0) || x[i] != floor(x[i]) || (x[i] > 0 && !(m[i] > 0 && isfinite(m[i]))))
            return pt_err_set(e, PT_EINVAL,
                              "Gamma-Gamma: customer %zu has an impossible summary (x=%g, "
                              "mean value=%g)",
                              i + 1, x[i], m[i]);
        used += x[i] > 0;
    }
    if (used == 0)
        return pt_err_set(e, PT_EINVAL, "Gamma-Gamma: no customer with repeat purchases");
    double *pairs = pt_alloc_array(used, 2 * sizeof *pairs);
    struct gg_data d = {.n = used, .wsum = (double)used};
    d.x = pt_alloc_array(used, sizeof *d.x);
    d.lm = pt_alloc_array(used, sizeof *d.lm);
    d.xm = pt_alloc_array(used, sizeof *d.xm);
    int rc = 0;
    if (!pairs || !d.x || !d.lm || !d.xm) {
        rc = pt_err_set(e, PT_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0, k = 0; i < n; i++)
        if (x[i] > 0) {
            pairs[2 * k] = x[i];
            pairs[2 * k + 1] = m[i];
            k++;
        }
    qsort(pairs, used, 2 * sizeof *pairs, cmp_x);
    for (size_t k = 0; k < used; k++) {
        d.x[k] = pairs[2 * k];
        d.lm[k] = log(pairs[2 * k + 1]);
        d.xm[k] = pairs[2 * k] * pairs[2 * k + 1];
    }
    struct clv_obj o = {.dim = 3, .f = gg_objective, .arg = &d, .n = d.wsum, .newton = 1};
    double v[3] = {0, 0, 0}, best;
    rc = clv_minimize(&o, 1, v, &best);
    if (rc) {
        rc = rc == PT_ENOMEM
                 ? pt_err_set(e, rc, "out of memory")
                 : pt_err_set(e, PT_EIO, "Gamma-Gamma: the fit did not reach a finite likelihood");
        goto out;
    }
    *g = (struct pt_gg){exp(v[0]), exp(v[1]), exp(v[2])};
    fit->ll = -best * d.wsum;
    clv_std_errors(&o, v, d.wsum, fit->se);
    fit->se[3] = NAN;
    fit->evals = o.evals;
out:
    pt_free(pairs);
    pt_free(d.x);
    pt_free(d.lm);
    pt_free(d.xm);
    return rc;
}

double pt_gg_mean(const struct pt_gg *g, double x, double m)
{
    /* E[M | p, q, gamma, x, m] = (gamma + x m) p / (p x + q - 1) (needs q > 1) */
    if (!(g->q > 1))
        return NAN;
    return (g->gamma + x * m) * g->p / (g->p * x + g->q - 1);
}
