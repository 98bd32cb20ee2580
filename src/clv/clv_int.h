/*
 * clv_int.h - shared parts of the CLV models.
 */
#ifndef PT_CLV_CLV_INT_H
#define PT_CLV_CLV_INT_H

#include <gsl/gsl_multimin.h>

#include "util/err.h"

/*
 * Minimise f over R^dim (dim <= 8) from the origin with GSL's Nelder-Mead
 * simplex, restarted from its own result (smaller steps) until a restart no
 * longer improves it. x[0..dim) receives the minimiser, *best the minimum.
 * PT_ENOMEM, or PT_EIO if no finite value was found.
 */
int clv_minimize(double (*f)(const gsl_vector *v, void *arg), void *arg, size_t dim, double *x,
                 double *best);

#endif
