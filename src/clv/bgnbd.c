/*
 * bgnbd.c - BG/NBD log-likelihood and maximum-likelihood fit (see clv.h).
 *
 * Per customer (Fader, Hardie & Lee 2005, eq. 6):
 *   L = A1 A2 (A3 + [x > 0] A4)
 *   ln A1 = lnG(r + x) - lnG(r) + r ln(alpha)
 *   ln A2 = lnG(a + b) + lnG(b + x) - lnG(b) - lnG(a + b + x)
 *   ln A3 = -(r + x) ln(alpha + T)
 *   ln A4 = ln(a) - ln(b + x - 1) - (r + x) ln(alpha + t_x)
 * The sum A3 + A4 is taken as a log-sum-exp.
 */
#include <gsl/gsl_sf_gamma.h>
#include <math.h>

#include "clv/clv.h"
#include "clv/clv_int.h"
#include "util/mem.h"

static double lse(double u, double v)
{
    double m = u > v ? u : v;
    return m + log(exp(u - m) + exp(v - m));
}

double pt_bgnbd_ll1(const struct pt_bgnbd *p, const struct pt_rfx *c)
{
    double r = p->r, al = p->alpha, a = p->a, b = p->b, x = c->x;
    double la1 = gsl_sf_lngamma(r + x) - gsl_sf_lngamma(r) + r * log(al);
    double la2 = gsl_sf_lngamma(a + b) + gsl_sf_lngamma(b + x) - gsl_sf_lngamma(b) -
                 gsl_sf_lngamma(a + b + x);
    double la3 = -(r + x) * log(al + c->T);
    if (x <= 0)
        return la1 + la2 + la3;
    double la4 = log(a) - log(b + x - 1) - (r + x) * log(al + c->tx);
    return la1 + la2 + lse(la3, la4);
}

double pt_bgnbd_ll(const struct pt_bgnbd *p, const struct pt_rfx *c, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += pt_bgnbd_ll1(p, &c[i]);
    return s;
}

#define XCACHE 256 /* the x-only terms of customers with x < XCACHE are computed once */

struct fit_data {
    const struct pt_rfx *c;
    size_t n;
    double lx[XCACHE]; /* per evaluation: lnA1 + lnA2 - r ln(alpha) for x, by x */
};

/* The likelihood as pt_bgnbd_ll, with the terms that depend on x only (three
 * lgamma each) computed once per distinct x instead of once per customer. */
static double fast_ll(const struct pt_bgnbd *p, struct fit_data *d)
{
    double r = p->r, al = p->alpha, a = p->a, b = p->b;
    double base = -gsl_sf_lngamma(r) + gsl_sf_lngamma(a + b) - gsl_sf_lngamma(b);
    for (int x = 0; x < XCACHE; x++)
        d->lx[x] = NAN;
    double s = 0, lal = log(al), la = log(a);
    for (size_t i = 0; i < d->n; i++) {
        const struct pt_rfx *c = &d->c[i];
        if (c->x >= XCACHE) {
            s += pt_bgnbd_ll1(p, c);
            continue;
        }
        int x = (int)c->x;
        if (isnan(d->lx[x]))
            d->lx[x] = base + gsl_sf_lngamma(r + x) + gsl_sf_lngamma(b + x) -
                       gsl_sf_lngamma(a + b + x);
        double la3 = -(r + x) * log(al + c->T), v = la3;
        if (x > 0)
            v = lse(la3, la - log(b + x - 1) - (r + x) * log(al + c->tx));
        s += d->lx[x] + r * lal + v;
    }
    return s;
}

/* Negative log-likelihood of log-parameters (+inf where it is not finite). */
static double neg_ll(const gsl_vector *v, void *arg)
{
    struct fit_data *d = arg;
    struct pt_bgnbd p = {exp(gsl_vector_get(v, 0)), exp(gsl_vector_get(v, 1)),
                         exp(gsl_vector_get(v, 2)), exp(gsl_vector_get(v, 3))};
    double ll = fast_ll(&p, d);
    return isfinite(ll) ? -ll : INFINITY;
}

static int check_input(const struct pt_rfx *c, size_t n, struct pt_err *e)
{
    if (n == 0)
        return pt_err_set(e, PT_EINVAL, "BG/NBD: no customers to fit");
    for (size_t i = 0; i < n; i++) {
        const struct pt_rfx *x = &c[i];
        if (!(x->x >= 0) || x->x != floor(x->x) || !(x->T > 0) || !(x->tx >= 0) ||
            x->tx > x->T || (x->x == 0 && x->tx != 0))
            return pt_err_set(e, PT_EINVAL,
                              "BG/NBD: customer %zu has an impossible summary (x=%g, t_x=%g, "
                              "T=%g)",
                              i + 1, x->x, x->tx, x->T);
    }
    return 0;
}

int pt_bgnbd_fit(const struct pt_rfx *c, size_t n, struct pt_bgnbd *p, double *ll,
                 struct pt_err *e)
{
    int rc = check_input(c, n, e);
    if (rc)
        return rc;
    struct fit_data *d = pt_malloc(sizeof *d);
    if (d == NULL)
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    d->c = c;
    d->n = n;
    double v[4], best;
    rc = clv_minimize(neg_ll, d, 4, v, &best);
    pt_free(d);
    if (rc == PT_ENOMEM)
        return pt_err_set(e, rc, "out of memory");
    if (rc)
        return pt_err_set(e, PT_EIO, "BG/NBD: the fit did not reach a finite likelihood");
    *p = (struct pt_bgnbd){exp(v[0]), exp(v[1]), exp(v[2]), exp(v[3])};
    *ll = -best;
    return 0;
}
