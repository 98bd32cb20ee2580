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
#include <math.h>

#include "clv/clv.h"
#include "clv/clv_int.h"

double pt_gg_ll1(const struct pt_gg *g, double x, double m)
{
    if (x <= 0)
        return 0;
    double px = g->p * x;
    return gsl_sf_lngamma(px + g->q) - gsl_sf_lngamma(px) - gsl_sf_lngamma(g->q) +
           g->q * log(g->gamma) + (px - 1) * log(m) + px * log(x) -
           (px + g->q) * log(g->gamma + x * m);
}

struct gg_data {
    const double *x, *m;
    size_t n;
};

static double gg_neg(const gsl_vector *v, void *arg)
{
    const struct gg_data *d = arg;
    struct pt_gg g = {exp(gsl_vector_get(v, 0)), exp(gsl_vector_get(v, 1)),
                      exp(gsl_vector_get(v, 2))};
    double s = 0;
    for (size_t i = 0; i < d->n; i++)
        s += pt_gg_ll1(&g, d->x[i], d->m[i]);
    return isfinite(s) ? -s : INFINITY;
}

int pt_gg_fit(const double *x, const double *m, size_t n, struct pt_gg *g, double *ll,
              struct pt_err *e)
{
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(x[i] >= 0) || x[i] != floor(x[i]) || (x[i] > 0 && !(m[i] > 0)))
            return pt_err_set(e, PT_EINVAL,
                              "Gamma-Gamma: customer %zu has an impossible summary (x=%g, "
                              "mean value=%g)",
                              i + 1, x[i], m[i]);
        used += x[i] > 0;
    }
    if (used == 0)
        return pt_err_set(e, PT_EINVAL, "Gamma-Gamma: no customer with repeat purchases");
    struct gg_data d = {x, m, n};
    double v[3], best;
    int rc = clv_minimize(gg_neg, &d, 3, v, &best);
    if (rc == PT_ENOMEM)
        return pt_err_set(e, rc, "out of memory");
    if (rc)
        return pt_err_set(e, PT_EIO, "Gamma-Gamma: the fit did not reach a finite likelihood");
    *g = (struct pt_gg){exp(v[0]), exp(v[1]), exp(v[2])};
    *ll = -best;
    return 0;
}

double pt_gg_mean(const struct pt_gg *g, double x, double m)
{
    /* E[M | p, q, gamma, x, m] = (gamma + x m) p / (p x + q - 1) (needs q > 1) */
    return (g->gamma + x * m) * g->p / (g->p * x + g->q - 1);
}
