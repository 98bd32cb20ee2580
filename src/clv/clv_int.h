/*
 * clv_int.h - shared parts of the CLV models (not for use outside src/clv).
 */
#ifndef PT_CLV_CLV_INT_H
#define PT_CLV_CLV_INT_H

#include <gsl/gsl_multimin.h>
#include <math.h>
#include <stdint.h>

#include "clv/clv.h"
#include "util/err.h"
#include "util/par.h"

/*
 * Customers compiled for fitting: equal (x, t_x, T) summaries become one group
 * with a weight; the distinct time values (of t_x and T together) are listed
 * once so that per-evaluation logarithms are taken per distinct value. Groups
 * are sorted by x.
 */
struct clv_set {
    size_t ng;         /* groups */
    double *w, *x;     /* weight (customers) and x of each group */
    uint32_t *ix, *iT; /* indices into val of t_x and T */
    size_t nv;
    double *val;       /* distinct times, ascending */
    double wsum;       /* customers */
    double xsum, Tsum; /* repeat purchases and ages, summed over customers (start points) */
    int xmax;          /* largest x */
    double *tab;       /* scratch: (4 + 6 * PT_PAR_PARTS) * nv doubles for the models */
};

/* Validates (PT_EINVAL naming the 1-based customer) and compiles. */
int clv_set_make(const struct pt_rfx *c, size_t n, struct clv_set *s, struct pt_err *e);
void clv_set_free(struct clv_set *s);

/* Objective for the minimisers: value and (optionally) gradient at v. */
struct clv_obj {
    size_t dim;
    /* f(v) (and g = gradient if g != NULL); +INFINITY where not finite */
    double (*f)(const double *v, double *g, void *arg);
    void *arg;
    int evals;
    int differenced; /* f's gradient is by finite differences (clv_minimize sets it) */
    double n;        /* f is a mean over n customers (the stopping rule's scale) */
    int newton;      /* once BFGS slows down, finish with Newton steps (cheap gradients) */
};

/*
 * Minimise from x (in/out; x[0..dim) start point, dim <= 8): quasi-Newton
 * (GSL's BFGS2) on the objective's gradient, or on central differences when
 * it has none (has_grad = 0); with o->newton, Newton steps on a differenced
 * Hessian of the gradient once BFGS slows down; if that stalls before the
 * gradient vanishes, Nelder-Mead simplex restarts from its point until one no
 * longer improves it.
 * *best receives the minimum. PT_ENOMEM, or PT_EIO if nothing finite was found.
 */
int clv_minimize(struct clv_obj *o, int has_grad, double *x, double *best);

/*
 * Standard errors of natural parameters theta = exp(v) at the optimum of the
 * objective o (in log-parameters; scale * o is the negative log-likelihood):
 * the inverse of the Hessian in theta, by central differences of the
 * objective's analytic gradient (every model has one). se[i] = NAN when it is
 * not positive definite.
 */
void clv_std_errors(struct clv_obj *o, const double *v, double scale, double *se);

/* ln 2F1(1, b; c; z) for 0 <= z <= CLV_H1_ZMAX, c > b > 0, by its series of
 * positive terms; NAN beyond (the caller then integrates directly:
 * GSL's 2F1 is wrong near z = 1 when c - 1 - b is a whole number). */
#define CLV_H1_ZMAX 0.995
double clv_log_h1(double b, double c, double z);
/* The same with its partial derivatives d[0..3) = d ln H / d(b, c, z). */
double clv_log_h1_d(double b, double c, double z, double d[3]);

/* Turn GSL's abort-on-error handler off, once per process: every GSL status
 * is checked here. Called by every public entry point. */
void clv_gsl_quiet(void);

/* Objectives split their groups among threads with pt_parallel (util/par.h). */

static inline double clv_lse(double u, double v)
{
    double m = u > v ? u : v;
    if (m == -INFINITY)
        return -INFINITY;
    return m + log1p(exp((u > v ? v : u) - m));
}

/* Per-model internals shared with predict.c */
double clv_bgnbd_ll1(const double *v, const struct pt_rfx *c);
double clv_pnbd_ll1(const double *v, const struct pt_rfx *c);
/* Pareto/NBD: the two terms of the likelihood's sum, each + r ln alpha + s ln
 * beta (see pnbd.c): ln (alpha+T)^-(r+x) (beta+T)^-s and ln s (F(t_x) - F(T)) */
double clv_pnbd_log_head(const double *v, double x, double T);
double clv_pnbd_log_tail(const double *v, double x, double tx, double T);
int clv_bgnbd_fit(const struct clv_set *s, double *v, struct pt_clv_fit *fit);
int clv_pnbd_fit(const struct clv_set *s, double *v, struct pt_clv_fit *fit);

#endif
