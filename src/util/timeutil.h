/*
 * timeutil.h - UTC calendar arithmetic on int64 Unix seconds.
 *
 * Layer: util. Proleptic Gregorian calendar, any year 0..9999. Pure and
 * thread-safe.
 */
#ifndef PT_UTIL_TIMEUTIL_H
#define PT_UTIL_TIMEUTIL_H

#include <stdint.h>

/* Days since 1970-01-01 of the civil date y-m-d (m 1..12, d 1..31). */
int64_t pt_days_from_civil(int64_t y, int m, int d);
/* Inverse of pt_days_from_civil. */
void pt_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
/* Number of days in month m of year y. */
int pt_days_in_month(int64_t y, int m);
/* floor(a / b) for b > 0. */
static inline int64_t pt_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}
/* Monotonic clock, seconds (for measuring durations). Thread-safe. */
double pt_mono_now(void);

/* Write t as "YYYY-MM-DDTHH:MM:SSZ" into out (at least 21 bytes). */
void pt_format_utc(int64_t t, char out[21]);

#endif
