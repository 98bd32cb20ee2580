/*
 * timeutil.c - civil date <-> day number.
 *
 * The conversion counts in 400-year eras that start on March 1st, so the leap
 * day is the last day of a counting year and the day-of-year formula is linear:
 * months March..February have lengths 31,30,31,30,31,31,30,31,30,31,31,28/29,
 * and (153 * mp + 2) / 5 gives the first day of shifted month mp (0 = March).
 * An era has 146097 days; 719468 is the day number of 0000-03-01 relative to
 * 1970-01-01.
 */
#include "util/timeutil.h"

#include <stdio.h>
#include <time.h>

int64_t pt_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = pt_floor_div(y, 400);
    int64_t yoe = y - era * 400;              /* 0..399 */
    int64_t mp = (m + 9) % 12;                /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + d - 1; /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void pt_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    days += 719468;
    int64_t era = pt_floor_div(days, 146097);
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int pt_days_in_month(int64_t y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2) {
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        return 28 + leap;
    }
    return len[m - 1];
}

void pt_format_utc(int64_t t, char out[21])
{
    int64_t days = pt_floor_div(t, 86400);
    int64_t sec = t - days * 86400;
    int64_t y;
    int m, d;
    pt_civil_from_days(days, &y, &m, &d);
    int yy = (int)(y % 10000), hh = (int)(sec / 3600), mi = (int)(sec / 60 % 60),
        ss = (int)(sec % 60);
    if (yy < 0)
        yy = -yy;
    snprintf(out, 21, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)yy % 10000u, (unsigned)m % 100u,
             (unsigned)d % 100u, (unsigned)hh % 100u, (unsigned)mi % 100u, (unsigned)ss % 100u);
}

double pt_mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
