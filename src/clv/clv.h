/*
 * clv.h - customer lifetime value models (issue 4; in progress).
 *
 * Layer: clv (util + GSL). So far: the Gamma-Gamma spend model and the BG/NBD model of Fader, Hardie & Lee
 * (2005), "Counting Your Customers the Easy Way: An Alternative to the
 * Pareto/NBD Model", Marketing Science 24(2): its log-likelihood and its
 * maximum-likelihood fit. Inputs are per-customer summaries in the
 * literature's convention: x repeat purchases, t_x the time of the last
 * purchase and T the customer's age, both measured from the first purchase,
 * in one time unit (weeks for CDNOW).
 *
 * Numerics: everything is computed in log space (lgamma, log-sum-exp), so
 * customers with hundreds of purchases and extreme parameters give finite
 * values; the fit works on log-parameters (all four are positive).
 * Errors: PT_EINVAL for bad input (negative or inconsistent x, t_x, T),
 * PT_ENOMEM, PT_EIO when the optimiser does not converge.
 */
#ifndef PT_CLV_CLV_H
#define PT_CLV_CLV_H

#include <stddef.h>

#include "util/err.h"

struct pt_rfx {
    double x;  /* repeat purchases (an integer >= 0) */
    double tx; /* time of the last purchase, 0 <= t_x <= T (0 when x = 0) */
    double T;  /* age: time from the first purchase to the end of calibration */
};

struct pt_bgnbd {
    double r, alpha, a, b;
};

/* Log-likelihood of one customer (natural log). */
double pt_bgnbd_ll1(const struct pt_bgnbd *p, const struct pt_rfx *c);
/* Sum over n customers. */
double pt_bgnbd_ll(const struct pt_bgnbd *p, const struct pt_rfx *c, size_t n);

/* Maximum-likelihood fit; *ll receives the maximised log-likelihood. */
int pt_bgnbd_fit(const struct pt_rfx *c, size_t n, struct pt_bgnbd *p, double *ll,
                 struct pt_err *e);

/* Gamma-Gamma spend model: p, q, gamma > 0. */
struct pt_gg {
    double p, q, gamma;
};
/* Log-likelihood of a customer with x repeat transactions of mean value m (0 if x = 0). */
double pt_gg_ll1(const struct pt_gg *g, double x, double m);
/* Fit over customers (x[i], m[i]); those with x = 0 are skipped. */
int pt_gg_fit(const double *x, const double *m, size_t n, struct pt_gg *g, double *ll,
              struct pt_err *e);
/* Expected mean transaction value of a customer (x, m); the population mean
 * p gamma / (q - 1) when x = 0. Needs q > 1. */
double pt_gg_mean(const struct pt_gg *g, double x, double m);

#endif
