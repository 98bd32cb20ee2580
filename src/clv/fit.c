/*
 * fit.c - the optimiser the CLV models share (see clv_int.h).
 */
#include <gsl/gsl_errno.h>
#include <math.h>

#include "clv/clv_int.h"

int clv_minimize(double (*f)(const gsl_vector *v, void *arg), void *arg, size_t dim, double *x,
                 double *best)
{
    gsl_set_error_handler_off();
    gsl_multimin_function fn = {.n = dim, .f = f, .params = arg};
    gsl_vector *v = gsl_vector_alloc(dim), *step = gsl_vector_alloc(dim);
    gsl_multimin_fminimizer *m =
        gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, dim);
    if (!v || !step || !m) {
        gsl_vector_free(v);
        gsl_vector_free(step);
        if (m)
            gsl_multimin_fminimizer_free(m);
        return PT_ENOMEM;
    }
    *best = INFINITY;
    gsl_vector_set_all(v, 0.0);
    for (int round = 0; round < 8; round++) {
        gsl_vector_set_all(step, round ? 0.1 : 1.0);
        gsl_multimin_fminimizer_set(m, &fn, v, step);
        int status = GSL_CONTINUE;
        for (int it = 0; it < 20000 && status == GSL_CONTINUE; it++) {
            if (gsl_multimin_fminimizer_iterate(m))
                break;
            status = gsl_multimin_test_size(gsl_multimin_fminimizer_size(m), 1e-8);
        }
        gsl_vector_memcpy(v, gsl_multimin_fminimizer_x(m));
        double val = gsl_multimin_fminimizer_minimum(m);
        int done = *best - val < 1e-9;
        if (val < *best)
            *best = val;
        if (done)
            break;
    }
    for (size_t i = 0; i < dim; i++)
        x[i] = gsl_vector_get(v, i);
    gsl_vector_free(v);
    gsl_vector_free(step);
    gsl_multimin_fminimizer_free(m);
    return isfinite(*best) ? 0 : PT_EIO;
}
