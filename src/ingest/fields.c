/*
 * fields.c - typed field parsers. Each parser accepts exactly the grammar in
 * its header comment and names the first thing wrong; nothing is guessed
 * (no locale, no trimming of spaces, no exponent).
 */
#include "ingest/fields.h"

#include <string.h>

#include "util/timeutil.h"

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int pt_parse_decimal(const char *s, size_t n, int scale, int flags, int64_t *out,
                     const char **why)
{
    static const int64_t pow10[4] = {1, 10, 100, 1000};
    size_t i = 0;
    int neg = 0;
    if (scale < 0 || scale > 3) {
        *why = "unsupported scale";
        return -1;
    }
    if (n == 0) {
        *why = "empty";
        return -1;
    }
    if (s[0] == '-' || s[0] == '+') {
        if (s[0] == '-' && (flags & PT_DEC_ALLOW_NEG)) {
            neg = 1;
            i = 1;
        } else {
            *why = s[0] == '-' ? "negative" : "sign not allowed";
            return -1;
        }
    }
    int64_t ip = 0;
    size_t idig = 0;
    while (i < n && is_digit(s[i])) {
        if (idig == 15) {
            *why = "more than 15 integer digits";
            return -1;
        }
        ip = ip * 10 + (s[i] - '0');
        idig++;
        i++;
    }
    int64_t fp = 0;
    int fdig = 0;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && is_digit(s[i])) {
            if (fdig == scale) {
                *why = scale == 2 ? "more than 2 decimals" : "too many decimals";
                return -1;
            }
            fp = fp * 10 + (s[i] - '0');
            fdig++;
            i++;
        }
        if (fdig == 0 && idig == 0) {
            *why = "not a number";
            return -1;
        }
    } else if (idig == 0) {
        *why = "not a number";
        return -1;
    }
    if (i != n) {
        *why = (s[i] == 'e' || s[i] == 'E') && idig ? "exponent not allowed" : "not a number";
        return -1;
    }
    int64_t v = ip * pow10[scale] + fp * pow10[scale - fdig];
    *out = neg ? -v : v;
    return 0;
}

int pt_parse_int(const char *s, size_t n, int64_t *out, const char **why)
{
    size_t i = 0;
    int neg = 0;
    if (n && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n) {
        *why = n ? "not a number" : "empty";
        return -1;
    }
    int64_t v = 0;
    for (; i < n; i++) {
        if (!is_digit(s[i])) {
            *why = "not an integer";
            return -1;
        }
        if (v >= 100000000000000000LL) {
            *why = "more than 18 digits";
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* Parse exactly k digits at s into *v. */
static int digits(const char *s, int k, int *v)
{
    int x = 0;
    for (int i = 0; i < k; i++) {
        if (!is_digit(s[i]))
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 0;
}

int pt_parse_time(const char *s, size_t n, int flags, int64_t *out, const char **why)
{
    int y, mo, d, h = 0, mi = 0, se = 0;
    if (n < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d)) {
        *why = n == 0 ? "empty" : "not a date-time";
        return -1;
    }
    size_t i = 10;
    if (i == n && !(flags & PT_TIME_DATE_ONLY)) {
        *why = "date without a time";
        return -1;
    }
    if (i < n) {
        int sep_ok = (s[i] == 'T' && (flags & PT_TIME_T_SEP)) ||
                     (s[i] == ' ' && (flags & PT_TIME_SPACE_SEP));
        if (!sep_ok || n < i + 9 || digits(s + i + 1, 2, &h) || s[i + 3] != ':' ||
            digits(s + i + 4, 2, &mi) || s[i + 6] != ':' || digits(s + i + 7, 2, &se)) {
            *why = "not a date-time";
            return -1;
        }
        i += 9;
        if (i < n && s[i] == '.' && (flags & PT_TIME_FRACTION)) {
            size_t j = i + 1;
            while (j < n && is_digit(s[j]))
                j++;
            if (j == i + 1 || j - i - 1 > 9) {
                *why = "not a date-time";
                return -1;
            }
            i = j;
        }
    }
    int off = 0;
    if (i < n && (flags & PT_TIME_ZONE) && n > 10) {
        if (s[i] == 'Z' && i + 1 == n) {
            i++;
        } else if ((s[i] == '+' || s[i] == '-') && i + 6 == n) {
            int oh, om;
            if (digits(s + i + 1, 2, &oh) || s[i + 3] != ':' || digits(s + i + 4, 2, &om)) {
                *why = "bad time zone offset";
                return -1;
            }
            if (oh > 23 || om > 59) {
                *why = "bad time zone offset";
                return -1;
            }
            off = (oh * 60 + om) * 60;
            if (s[i] == '-')
                off = -off;
            i = n;
        }
    }
    if (i != n) {
        *why = "not a date-time";
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > pt_days_in_month(y, mo)) {
        *why = "no such date";
        return -1;
    }
    if (h > 23 || mi > 59 || se > 59) {
        *why = "no such time";
        return -1;
    }
    *out = pt_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
    return 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    unsigned cp = c & (0x3Fu >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

int pt_check_id(const char *s, size_t n, int flags, const char **why)
{
    if (n == 0) {
        *why = "empty";
        return -1;
    }
    if (n > PT_ID_MAX_BYTES) {
        *why = "longer than 128 bytes";
        return -1;
    }
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        if (c < 0x20 || c == 0x7F) {
            *why = "control character";
            return -1;
        }
        if (c < 0x80 || !(flags & PT_ID_UTF8)) {
            i++;
            continue;
        }
        size_t k = utf8_seq(u + i, n - i);
        if (k == 0) {
            *why = "invalid UTF-8";
            return -1;
        }
        i += k;
    }
    return 0;
}

int pt_canonical_uint(const char *s, size_t n, uint64_t *v)
{
    if (n == 0 || n > 18 || (s[0] == '0' && n > 1))
        return 0;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return 0;
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    *v = x;
    return 1;
}

int pt_nonneg_int64(const char *s, size_t n, uint64_t *v)
{
    if (n == 0)
        return 0;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return 0;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (x > (UINT64_C(9223372036854775807) - d) / 10)
            return 0;
        x = x * 10 + d;
    }
    *v = x;
    return 1;
}
