/*
 * fit.c - the optimiser and standard errors the CLV models share (see clv_int.h).
 */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <math.h>
#include <string.h>

#include "clv/clv_int.h"

#define MAXDIM 8
/* Gain in the total log-likelihood (the objective, a mean, times the
 * customers) below which a search has nothing left to find. */
#define FLAT 1e-7
static double wrap_f(const gsl_vector *v, void *arg)
{
    struct clv_obj *o = arg;
    o->evals++;
    return o->f(v->data, NULL, o->arg);
}

static void wrap_df(const gsl_vector *v, void *arg, gsl_vector *g)
{
    struct clv_obj *o = arg;
    o->evals++;
    if (!isfinite(o->f(v->data, g->data, o->arg)))
        gsl_vector_set_all(g, 0.0);
}

static void wrap_fdf(const gsl_vector *v, void *arg, double *f, gsl_vector *g)
{
    struct clv_obj *o = arg;
    o->evals++;
    *f = o->f(v->data, g->data, o->arg);
    if (!isfinite(*f))
        gsl_vector_set_all(g, 0.0);
}

/* BFGS2 from x; leaves its end point in x if it is finite. *converged = 1 if
 * it stopped on a vanishing gradient. */
static int quasi_newton(struct clv_obj *o, double *x, double *best, int *converged, double gtol,
                        int polish)
{
    gsl_multimin_function_fdf fn = {
        .n = o->dim, .f = wrap_f, .df = wrap_df, .fdf = wrap_fdf, .params = o};
    gsl_vector *v = gsl_vector_alloc(o->dim);
    gsl_multimin_fdfminimizer *m =
        gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, o->dim);
    if (!v || !m) {
        gsl_vector_free(v);
        if (m)
            gsl_multimin_fdfminimizer_free(m);
        return PT_ENOMEM;
    }
    memcpy(v->data, x, o->dim * sizeof *x);
    if (gsl_multimin_fdfminimizer_set(m, &fn, v, 0.1, 0.1) == GSL_SUCCESS) {
        int status = GSL_CONTINUE, flat = 0;
        double prev = gsl_multimin_fdfminimizer_minimum(m), mark = prev;
        for (int it = 0; it < 1000 && status == GSL_CONTINUE; it++) {
            if (gsl_multimin_fdfminimizer_iterate(m))
                break;
            /* slowing down: 3 steps gained < 1 in all; Newton's method
             * (newton_polish) finishes faster from here */
            if (it % 3 == 2) {
                double now = gsl_multimin_fdfminimizer_minimum(m);
                if ((mark - now) * fmax(o->n, 1.0) < 1 && polish)
                    break;
                mark = now;
            }
            status = gsl_multimin_test_gradient(gsl_multimin_fdfminimizer_gradient(m), gtol);
            /* Done, too, once 5 steps in a row each raised the total
             * log-likelihood (the mean times the customers) by less than
             * FLAT: the estimate is then within a few thousandths of a
             * standard error of the optimum, and a big sample's small
             * gradient is not chased to 1e-7 through an ill-conditioned
             * valley. Also ends a walk along a ridge to infinity. */
            double cur = gsl_multimin_fdfminimizer_minimum(m);
            flat = (prev - cur) * fmax(o->n, 1.0) < FLAT ? flat + 1 : 0;
            prev = cur;
            if (flat >= 5 && status == GSL_CONTINUE)
                status = GSL_SUCCESS;
        }
        double val = gsl_multimin_fdfminimizer_minimum(m);
        *converged = status == GSL_SUCCESS && isfinite(val);
        if (isfinite(val) && val < *best) {
            *best = val;
            memcpy(x, gsl_multimin_fdfminimizer_x(m)->data, o->dim * sizeof *x);
        }
    }
    gsl_vector_free(v);
    gsl_multimin_fdfminimizer_free(m);
    return 0;
}

/* An objective without a gradient, given one by central differences (the
 * objectives are smooth and computed to ~1e-15 relative, so h = 1e-5 in log
 * space leaves an error near 1e-10). */
static double numeric_grad(const double *v, double *g, void *arg)
{
    struct clv_obj *o = arg;
    double f = o->f(v, NULL, o->arg);
    o->evals += 1 + (g ? 2 * (int)o->dim : 0);
    if (g == NULL || !isfinite(f))
        return f;
    double t[MAXDIM];
    memcpy(t, v, o->dim * sizeof *t);
    for (size_t i = 0; i < o->dim; i++) {
        const double h = 1e-5;
        t[i] = v[i] + h;
        double fp = o->f(t, NULL, o->arg);
        t[i] = v[i] - h;
        double fm = o->f(t, NULL, o->arg);
        t[i] = v[i];
        g[i] = (fp - fm) / (2 * h);
        if (!isfinite(g[i]))
            return INFINITY;
    }
    return f;
}

/* The objective's gradient at v (counted as an evaluation); 0 if not finite. */
static int grad_v(struct clv_obj *o, const double *v, double *g)
{
    o->evals++;
    return isfinite(o->f(v, g, o->arg));
}

/* Gradient in natural parameters theta (from the objective's, in ln theta). */
static int grad_theta(struct clv_obj *o, const double *theta, double *g)
{
    double v[MAXDIM];
    for (size_t i = 0; i < o->dim; i++)
        v[i] = log(theta[i]);
    if (!isfinite(o->f(v, g, o->arg)))
        return 0;
    for (size_t i = 0; i < o->dim; i++)
        g[i] /= theta[i];
    return 1;
}

/* H = scale * the Hessian at x, column j the central difference (step h[j])
 * of grad, then symmetrised. 0 if a gradient or an entry is not finite. */
static int diff_hessian(struct clv_obj *o, int (*grad)(struct clv_obj *, const double *, double *),
                        const double *x, const double *h, double scale, gsl_matrix *H)
{
    size_t d = o->dim;
    double t[MAXDIM], gp[MAXDIM], gm[MAXDIM];
    int ok = 1;
    for (size_t j = 0; j < d && ok; j++) {
        memcpy(t, x, d * sizeof *t);
        t[j] = x[j] + h[j];
        ok &= grad(o, t, gp);
        t[j] = x[j] - h[j];
        ok &= grad(o, t, gm);
        for (size_t i = 0; i < d; i++)
            gsl_matrix_set(H, i, j, (gp[i] - gm[i]) / (2 * h[j]) * scale);
    }
    for (size_t i = 0; i < d; i++)
        for (size_t j = i + 1; j < d; j++) {
            double m = 0.5 * (gsl_matrix_get(H, i, j) + gsl_matrix_get(H, j, i));
            gsl_matrix_set(H, i, j, m);
            gsl_matrix_set(H, j, i, m);
        }
    for (size_t i = 0; i < d * d; i++)
        ok &= isfinite(H->data[i]);
    return ok;
}

/*
 * Newton's method from x on the Hessian of central differences of the
 * analytic gradient (2 dim gradients per step), with step halving: near the
 * optimum of a smooth likelihood it converges in a few steps where BFGS
 * crawls through an ill-conditioned valley. 1 when a step gained less than
 * FLAT (done); 0 when it cannot go on (Hessian not positive definite, no step
 * gains): the caller then falls back on the simplex.
 */
static int newton_polish(struct clv_obj *o, double *x, double *best)
{
    size_t d = o->dim;
    double g[MAXDIM], t[MAXDIM], dx[MAXDIM];
    gsl_matrix *H = gsl_matrix_alloc(d, d);
    if (H == NULL)
        return 0;
    int done = 0;
    for (int it = 0; it < 20 && !done; it++) {
        o->evals++;
        double f = o->f(x, g, o->arg);
        if (!isfinite(f))
            break;
        const double h[MAXDIM] = {1e-5, 1e-5, 1e-5, 1e-5, 1e-5, 1e-5, 1e-5, 1e-5};
        int ok = diff_hessian(o, grad_v, x, h, 1, H);
        gsl_vector_view gv = gsl_vector_view_array(g, d), sv = gsl_vector_view_array(dx, d);
        if (!ok || gsl_linalg_cholesky_decomp1(H) != GSL_SUCCESS ||
            gsl_linalg_cholesky_solve(H, &gv.vector, &sv.vector) != GSL_SUCCESS)
            break;
        int moved = 0;
        for (double step = 1; step > 1e-3 && !moved; step *= 0.5) {
            for (size_t i = 0; i < d; i++)
                t[i] = x[i] - step * dx[i];
            o->evals++;
            double ft = o->f(t, NULL, o->arg);
            if (isfinite(ft) && ft < f) {
                done = (f - ft) * fmax(o->n, 1.0) < FLAT;
                memcpy(x, t, d * sizeof *t);
                *best = ft;
                moved = 1;
            }
        }
        if (!moved) { /* no step gains: at the optimum to rounding, or lost */
            done = *best <= f;
            break;
        }
    }
    gsl_matrix_free(H);
    return done;
}

int clv_minimize(struct clv_obj *o, int has_grad, double *x, double *best)
{
    if (!has_grad) {
        struct clv_obj w = {
            .dim = o->dim, .f = numeric_grad, .arg = o, .differenced = 1, .n = o->n};
        return clv_minimize(&w, 1, x, best);
    }
    clv_gsl_quiet();
    *best = o->f(x, NULL, o->arg);
    if (!isfinite(*best))
        *best = INFINITY;
    /* a differenced gradient is good to ~1e-9 */
    double gtol = o->differenced ? 1e-6 : 1e-7;
    int polish = o->newton && !o->differenced;
    int converged = 0, rc = quasi_newton(o, x, best, &converged, gtol, polish);
    if (rc == 0 && !converged && polish && isfinite(*best))
        converged = newton_polish(o, x, best);
    if (rc || converged)
        return rc;
    gsl_multimin_function fn = {.n = o->dim, .f = wrap_f, .params = o};
    gsl_vector *v = gsl_vector_alloc(o->dim), *step = gsl_vector_alloc(o->dim);
    gsl_multimin_fminimizer *m =
        gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, o->dim);
    if (!v || !step || !m) {
        gsl_vector_free(v);
        gsl_vector_free(step);
        if (m)
            gsl_multimin_fminimizer_free(m);
        return PT_ENOMEM;
    }
    memcpy(v->data, x, o->dim * sizeof *x);
    /* after a quasi-Newton run that stalled, the simplex goes on from its
     * point with small steps */
    int first_big = !isfinite(*best);
    for (int round = 0; round < 8; round++) {
        gsl_vector_set_all(step, round == 0 && first_big ? 1.0 : 0.05);
        gsl_multimin_fminimizer_set(m, &fn, v, step);
        int status = GSL_CONTINUE;
        double mark = gsl_multimin_fminimizer_minimum(m);
        for (int it = 1; it <= 3000 && status == GSL_CONTINUE; it++) {
            if (gsl_multimin_fminimizer_iterate(m))
                break;
            status = gsl_multimin_test_size(gsl_multimin_fminimizer_size(m), 1e-6);
            if (it % 100 == 0) { /* along a ridge to infinity: stop once 100 steps gain nothing */
                double cur = gsl_multimin_fminimizer_minimum(m);
                if ((mark - cur) * fmax(o->n, 1.0) < FLAT)
                    break;
                mark = cur;
            }
        }
        double val = gsl_multimin_fminimizer_minimum(m);
        int done = !((*best - val) * fmax(o->n, 1.0) >= FLAT);
        if (val < *best) {
            *best = val;
            memcpy(x, gsl_multimin_fminimizer_x(m)->data, o->dim * sizeof *x);
        }
        gsl_vector_memcpy(v, gsl_multimin_fminimizer_x(m));
        if (done)
            break;
    }
    gsl_vector_free(v);
    gsl_vector_free(step);
    gsl_multimin_fminimizer_free(m);
    return isfinite(*best) ? 0 : PT_EIO;
}

void clv_std_errors(struct clv_obj *o, const double *v, double scale, double *se)
{
    size_t d = o->dim;
    double th[MAXDIM], h[MAXDIM];
    for (size_t i = 0; i < d; i++) {
        th[i] = exp(v[i]);
        h[i] = 1e-4 * th[i];
        se[i] = NAN;
    }
    gsl_matrix *H = gsl_matrix_alloc(d, d);
    if (H == NULL)
        return;
    if (diff_hessian(o, grad_theta, th, h, scale, H) &&
        gsl_linalg_cholesky_decomp1(H) == GSL_SUCCESS &&
        gsl_linalg_cholesky_invert(H) == GSL_SUCCESS)
        for (size_t i = 0; i < d; i++) {
            double var = gsl_matrix_get(H, i, i);
            se[i] = var > 0 ? sqrt(var) : NAN;
        }
    gsl_matrix_free(H);
}
