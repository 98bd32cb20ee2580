/*
 * clv.h - customer lifetime value models: BG/NBD, Pareto/NBD and Gamma-Gamma.
 *
 * Layer: clv (util + GSL). Inputs are per-customer summaries in the
 * literature's convention: x repeat purchases, t_x the time of the last
 * purchase and T the customer's age, both measured from the first purchase,
 * in one time unit (weeks for CDNOW). Predictions are for a customer with that
 * summary, over the next t time units after T.
 *
 * Models and sources (formulas in docs/clv.md):
 *  - BG/NBD: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy
 *    Way", Marketing Science 24(2).
 *  - Pareto/NBD: Schmittlein, Morrison & Colombo (1987), Management Science
 *    33(1); likelihood and expectations as in Fader & Hardie (2005), "A Note
 *    on Deriving the Pareto/NBD Model and Related Expressions".
 *  - Gamma-Gamma spend: Fader, Hardie & Lee (2005), "RFM and CLV", JMR 42(4).
 *
 * Numerics: everything is computed in log space (lgamma, log-sum-exp,
 * hypergeometric functions in a bounded transformed form), so customers with
 * hundreds of purchases and extreme parameters give finite values. Fits work
 * on log-parameters (all are positive); standard errors come from the inverse
 * of a finite-difference Hessian of the log-likelihood at the optimum (NAN
 * when that Hessian is not negative definite).
 *
 * Errors: PT_EINVAL for bad input (negative or inconsistent x, t_x, T; no
 * customers), PT_ENOMEM, PT_EIO when the optimiser finds no finite optimum.
 * Every function is thread-safe. Global state: the first call turns GSL's
 * abort-on-error handler off for the whole process (this library checks every
 * GSL status itself; a program that relies on GSL aborting must not use it).
 */
#ifndef PT_CLV_CLV_H
#define PT_CLV_CLV_H

#include <stddef.h>

#include "util/err.h"

struct pt_rfx {
    double x;  /* repeat purchases (an integer >= 0) */
    double tx; /* time of the last purchase, 0 <= t_x <= T (0 when x = 0) */
    double T;  /* age: time from the first purchase to the end of calibration, > 0 */
};

enum pt_clv_model { PT_BGNBD = 0, PT_PNBD = 1 };

/* Parameters of a purchase model: BG/NBD (r, alpha, a, b) or Pareto/NBD
 * (r, alpha, s, beta), in that order in v. */
struct pt_clv_params {
    enum pt_clv_model model;
    double v[4];
};

/* What a fit reports besides the parameters. */
struct pt_clv_fit {
    double ll;    /* maximised log-likelihood (natural log) */
    double se[4]; /* standard errors of the parameters, NAN if unavailable */
    int evals;    /* likelihood evaluations used */
};

const char *pt_clv_model_name(enum pt_clv_model m); /* "bgnbd", "pareto_nbd" */

/* Log-likelihood of one customer / summed over n customers. */
double pt_clv_ll1(const struct pt_clv_params *p, const struct pt_rfx *c);
double pt_clv_ll(const struct pt_clv_params *p, const struct pt_rfx *c, size_t n);

/* Maximum-likelihood fit of model m (p->model is set). Customers with equal
 * summaries are grouped, so cost grows with the number of distinct ones. */
int pt_clv_fit(enum pt_clv_model m, const struct pt_rfx *c, size_t n, struct pt_clv_params *p,
               struct pt_clv_fit *fit, struct pt_err *e);

/* Probability that the customer is still active at T. */
double pt_clv_palive(const struct pt_clv_params *p, const struct pt_rfx *c);
/* Expected repeat purchases in (T, T + t]. */
double pt_clv_expected(const struct pt_clv_params *p, const struct pt_rfx *c, double t);
/* P(exactly y purchases in (T, T + t]), y >= 0. */
double pt_clv_pmf(const struct pt_clv_params *p, const struct pt_rfx *c, double t, int y);
/* The same for y = 0 .. n-1 at once into out[0..n) (much cheaper than n calls). */
void pt_clv_pmf_all(const struct pt_clv_params *p, const struct pt_rfx *c, double t, int n,
                    double *out);
/* Expected repeat purchases in (0, t] of a customer who made a first purchase
 * at 0 (the population curve behind tracking plots). */
double pt_clv_expected_new(const struct pt_clv_params *p, double t);
/* Median time after T to the next purchase: the t at which P(at least one
 * purchase in (T, T + t]) = 1/2; NAN if that chance stays at or below 1/2
 * through max_t (in particular whenever P(alive) <= 1/2). */
double pt_clv_next_purchase(const struct pt_clv_params *p, const struct pt_rfx *c, double max_t);
/*
 * Discounted value over (T, T + horizon]: the horizon is cut into periods of
 * `period` time units (the last may be shorter); the expected purchases of
 * period k are worth `spend` each and discounted by (1 + rate)^-k. At most
 * 64 periods (NAN beyond).
 */
double pt_clv_value(const struct pt_clv_params *p, const struct pt_rfx *c, double horizon,
                    double period, double rate, double spend);

/* A customer's scores at once, sharing P(alive) and the expectations:
 * exactly pt_clv_palive, pt_clv_expected(horizon), pt_clv_value (NAN when
 * spend is NAN) and pt_clv_next_purchase(max_t). */
struct pt_clv_scores {
    double p_alive, expected, value, next_t;
};
void pt_clv_score(const struct pt_clv_params *p, const struct pt_rfx *c, double horizon,
                  double period, double rate, double spend, double max_t,
                  struct pt_clv_scores *out);

/* Gamma-Gamma spend model: p, q, gamma > 0. */
struct pt_gg {
    double p, q, gamma;
};
/* Log-likelihood of a customer with x repeat transactions of mean value m (0 if x = 0). */
double pt_gg_ll1(const struct pt_gg *g, double x, double m);
/* Fit over customers (x[i], m[i]); those with x = 0 are skipped. fit->se[0..3)
 * are the standard errors of p, q, gamma. */
int pt_gg_fit(const double *x, const double *m, size_t n, struct pt_gg *g, struct pt_clv_fit *fit,
              struct pt_err *e);
/* Expected mean transaction value of a customer (x, m); the population mean
 * p gamma / (q - 1) when x = 0. NAN unless q > 1. */
double pt_gg_mean(const struct pt_gg *g, double x, double m);

#endif
