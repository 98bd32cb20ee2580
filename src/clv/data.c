/*
 * data.c - compiling customer summaries for fitting, and the bounded
 * hypergeometric function the models share (see clv_int.h).
 */
#include <gsl/gsl_errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "clv/clv_int.h"
#include "util/mem.h"

static int cmp_rfx(const void *pa, const void *pb)
{
    const struct pt_rfx *a = pa, *b = pb;
    if (a->x != b->x)
        return a->x < b->x ? -1 : 1;
    if (a->tx != b->tx)
        return a->tx < b->tx ? -1 : 1;
    if (a->T != b->T)
        return a->T < b->T ? -1 : 1;
    return 0;
}

static int cmp_dbl(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return a < b ? -1 : a > b;
}

static uint32_t find_val(const double *val, size_t nv, double t)
{
    size_t lo = 0, hi = nv;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (val[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return (uint32_t)lo;
}

void clv_set_free(struct clv_set *s)
{
    pt_free(s->w);
    pt_free(s->x);
    pt_free(s->ix);
    pt_free(s->iT);
    pt_free(s->val);
    pt_free(s->tab);
    *s = (struct clv_set){0};
}

int clv_set_make(const struct pt_rfx *c, size_t n, struct clv_set *s, struct pt_err *e)
{
    *s = (struct clv_set){0};
    if (n == 0)
        return pt_err_set(e, PT_EINVAL, "no customers to fit");
    for (size_t i = 0; i < n; i++) {
        const struct pt_rfx *x = &c[i];
        if (!(x->x >= 0) || x->x != floor(x->x) || x->x > 1e9 || !(x->T > 0) || !(x->tx >= 0) ||
            x->tx > x->T || !isfinite(x->T) || (x->x == 0 && x->tx != 0))
            return pt_err_set(e, PT_EINVAL,
                              "customer %zu has an impossible summary (x=%g, t_x=%g, T=%g)", i + 1,
                              x->x, x->tx, x->T);
    }
    struct pt_rfx *srt = pt_alloc_array(n, sizeof *srt);
    double *vals = pt_alloc_array(n, 2 * sizeof *vals);
    s->w = pt_alloc_array(n, sizeof *s->w);
    s->x = pt_alloc_array(n, sizeof *s->x);
    s->ix = pt_alloc_array(n, sizeof *s->ix);
    s->iT = pt_alloc_array(n, sizeof *s->iT);
    if (!srt || !vals || !s->w || !s->x || !s->ix || !s->iT) {
        pt_free(srt);
        pt_free(vals);
        clv_set_free(s);
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        srt[i] = c[i];
        vals[2 * i] = c[i].tx;
        vals[2 * i + 1] = c[i].T;
    }
    qsort(srt, n, sizeof *srt, cmp_rfx);
    qsort(vals, 2 * n, sizeof *vals, cmp_dbl);
    size_t nv = 0;
    for (size_t i = 0; i < 2 * n; i++)
        if (nv == 0 || vals[i] != vals[nv - 1])
            vals[nv++] = vals[i];
    s->val = vals;
    s->nv = nv;
    s->tab = pt_alloc_array(nv, (4 + 6 * PT_PAR_PARTS) * sizeof *s->tab);
    if (s->tab == NULL) {
        pt_free(srt);
        clv_set_free(s);
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    }
    size_t g = 0;
    for (size_t i = 0; i < n; i++) {
        if (g > 0 && cmp_rfx(&srt[i], &srt[i - 1]) == 0) {
            s->w[g - 1] += 1;
            continue;
        }
        s->w[g] = 1;
        s->x[g] = srt[i].x;
        s->ix[g] = find_val(vals, nv, srt[i].tx);
        s->iT[g] = find_val(vals, nv, srt[i].T);
        g++;
    }
    s->ng = g;
    s->wsum = (double)n;
    for (size_t k = 0; k < g; k++) {
        s->xsum += s->w[k] * s->x[k];
        s->Tsum += s->w[k] * s->val[s->iT[k]];
    }
    s->xmax = (int)srt[n - 1].x;
    pt_free(srt);
    return 0;
}

static pthread_once_t g_quiet = PTHREAD_ONCE_INIT;
static void quiet_init(void)
{
    gsl_set_error_handler_off();
}

void clv_gsl_quiet(void)
{
    pthread_once(&g_quiet, quiet_init);
}

/* The series of 2F1(1, b; c; z): terms (b)_k / (c)_k z^k, all positive. 0 if
 * it has not settled within max_terms. */
static int h1_series(double b, double c, double z, long max_terms, double *out)
{
    double term = 1, sum = 1;
    for (long k = 0; k < max_terms; k++) {
        term *= (b + (double)k) / (c + (double)k) * z;
        sum += term;
        if (term < 1e-17 * sum) {
            *out = sum;
            return 1;
        }
    }
    return 0;
}

double clv_log_h1(double b, double c, double z)
{
    if (z <= 0)
        return 0;
    double v;
    /* up to z = 0.995 the series needs at most about 10,000 terms; each is
     * summed once per distinct (x, time) per evaluation */
    if (z <= CLV_H1_ZMAX && h1_series(b, c, z, 30000, &v))
        return log(v);
    return NAN;
}

/* Alongside the series: term k carries d ln term / db = sum_{j<k} 1/(b+j),
 * d / dc = -sum_{j<k} 1/(c+j) and d / dz = k / z. */
double clv_log_h1_d(double b, double c, double z, double d[3])
{
    d[0] = d[1] = 0;
    d[2] = b / c; /* the slope at z = 0 */
    if (z <= 0)
        return 0;
    if (!(z <= CLV_H1_ZMAX))
        return NAN;
    double term = 1, sum = 1, sb = 0, sc = 0, hb = 0, hc = 0, hz = 0;
    for (long k = 0; k < 30000; k++) {
        double dk = (double)k;
        term *= (b + dk) / (c + dk) * z;
        sb += 1 / (b + dk);
        sc += 1 / (c + dk);
        sum += term;
        hb += term * sb;
        hc += term * sc;
        hz += term * (dk + 1);
        if (term * (dk + 2) * (1 + sb) < 1e-17 * sum) {
            d[0] = hb / sum;
            d[1] = -hc / sum;
            d[2] = hz / (z * sum);
            return log(sum);
        }
    }
    return NAN;
}
