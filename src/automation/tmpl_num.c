/*
 * tmpl_num.c - numbers as templates render them (tmpl.h): the shortest
 * decimal that reads back as the same double, laid out as JavaScript does.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "automation/tmpl_int.h"

/* x as the shortest decimal that reads back as x, in JavaScript's layout:
 * positional from 1e-6 up to 1e21, else d.ddde+X. */
int pt_tmpl_put_real(struct pt_buf *o, double x)
{
    if (!isfinite(x))
        return 0; /* (jansson holds none) */
    if (x > -1e15 && x < 1e15 && x == (double)(int64_t)x)
        return pt_buf_add_i64(o, (int64_t)x);
    if (fabs(x) >= 1e-6 && fabs(x) < 1e9) {
        /* Prices and the like, fast: the first k of 1..9 for which some
         * m / 10^k (m below 10^15, so at most 15 digits) reads back as x.
         * The division is correctly rounded, so the check is exact. */
        static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
        for (int k = 1; k <= 9; k++) {
            double m = nearbyint(fabs(x) * p10[k]);
            if (m >= 1e15)
                break;
            if (m / p10[k] != fabs(x))
                continue;
            char buf[40]; /* written backwards from the end */
            size_t n = sizeof buf;
            uint64_t im = (uint64_t)m;
            for (int d = 0; d < k; d++, im /= 10)
                buf[--n] = (char)('0' + im % 10);
            buf[--n] = '.';
            do {
                buf[--n] = (char)('0' + im % 10);
                im /= 10;
            } while (im);
            if (x < 0)
                buf[--n] = '-';
            return pt_buf_add(o, buf + n, sizeof buf - n);
        }
    }
    /* 15 significant digits, when they read back, hold the shortest form
     * with trailing zeros (DBL_DIG); else 16; 17 always read back.
     * Subnormals have less precision: every length is tried. */
    char m[40];
    for (int prec = fabs(x) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
        snprintf(m, sizeof m, "%.*e", prec - 1, x);
        if (strtod(m, NULL) == x)
            break;
    }
    char dig[24], buf[64];
    size_t nd = 0, n = 0;
    const char *p = m;
    if (*p == '-')
        buf[n++] = *p++;
    for (; *p && *p != 'e' && *p != 'E'; p++)
        if (*p >= '0' && *p <= '9' && nd < sizeof dig)
            dig[nd++] = *p;
    long ex = *p ? strtol(p + 1, NULL, 10) : 0;
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    long point = ex + 1; /* digits before the decimal point */
    if (point <= -6 || point > 21) {
        buf[n++] = dig[0];
        if (nd > 1)
            buf[n++] = '.';
        memcpy(buf + n, dig + 1, nd - 1);
        n += nd - 1;
        int w = snprintf(buf + n, sizeof buf - n, "e%c%ld", ex < 0 ? '-' : '+', ex < 0 ? -ex : ex);
        n += w > 0 ? (size_t)w : 0;
    } else {
        if (point <= 0) {
            buf[n++] = '0';
            buf[n++] = '.';
            for (long i = point; i < 0; i++)
                buf[n++] = '0';
        }
        for (long i = 0; i < (long)nd || i < point; i++) {
            if (i == point && point > 0)
                buf[n++] = '.';
            buf[n++] = i < (long)nd ? dig[i] : '0';
        }
    }
    return pt_buf_add(o, buf, n);
}
