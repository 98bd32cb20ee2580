/*
 * program.c - a parsed loyalty programme (loyalty/program.h): the points of
 * an order, the tier a qualifying value reaches, look-ups of event rules and
 * pilot ids, its canonical JSON (pt_loy_program_json: every key in the order
 * of program_json.c's table, every default spelt out, compact, absent
 * sections as null, decimals without trailing zeros), and releasing it.
 * Reading and validating the document is program_json.c.
 *
 * Points of an order are one exact fraction, rounded once:
 *
 *            amount * rate * tier * sum_i(w_i * cat_i)
 *   points = -----------------------------------------      w_i = price_i * quantity_i
 *                   sum_i(w_i) * 100 * 1000^3
 *
 * (amount in minor units, 100 minor units a currency unit; rate, tier and
 * cat_i in thousandths). The shares amount * w_i / sum(w) are never rounded
 * on their own. Without lines, or when every w_i is 0, the fraction is
 * amount * rate * tier * default_cat / (100 * 1000^3). Lines with price or
 * quantity <= 0 weigh nothing; negative multipliers count as 0.
 *
 * Arithmetic: unsigned __int128 when the numerator and the denominator fit
 * in a signed __int128 (every realistic order: the event decoder caps
 * amounts at 10^15), else the same fraction in 512-bit unsigned integers
 * (struct big), which hold it for any int64 inputs and up to 2^32 lines, so
 * the answer is exact either way. The result saturates at PT_LOY_ORDER_CAP.
 */
#include "loyalty/program.h"

#include <stdio.h>
#include <string.h>

#include "util/ckd.h"
#include "util/mem.h"

/* Saturation of pt_loy_order_points: far above any cap a programme can set. */
#define PT_LOY_ORDER_CAP (PT_LOY_MAX_POINTS * 1000)
#define DENOM_SCALE      100000000000ULL /* 100 minor units x 1000^3 (three thousandths) */

typedef unsigned __int128 u128;

void pt_loy_program_release(struct pt_loy_program *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->ncats; i++)
        pt_free(p->cats[i].name);
    for (size_t i = 0; i < p->nevents; i++)
        pt_free(p->events[i].name);
    for (size_t i = 0; i < p->ntiers; i++)
        pt_free(p->tiers[i].name);
    for (size_t i = 0; i < p->npilot; i++)
        pt_free(p->pilot_ids[i]);
    pt_free(p->cats);
    pt_free(p->events);
    pt_free(p->tiers);
    pt_free(p->pilot_ids);
    pt_free(p->link);
    memset(p, 0, sizeof *p);
}

int pt_loy_tier_for(const struct pt_loy_program *p, int64_t qualifying)
{
    int best = -1;
    for (size_t i = 0; i < p->ntiers && i < PT_LOY_MAX_TIERS; i++)
        if (p->tiers[i].threshold <= qualifying)
            best = (int)i;
    return best;
}

const struct pt_loy_event_rule *pt_loy_event_rule(const struct pt_loy_program *p, const char *name)
{
    if (name == NULL)
        return NULL;
    size_t lo = 0, hi = p->nevents;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, p->events[mid].name);
        if (c == 0)
            return &p->events[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int pt_loy_pilot_has(const struct pt_loy_program *p, const char *id)
{
    if (id == NULL)
        return 0;
    size_t lo = 0, hi = p->npilot;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(id, p->pilot_ids[mid]);
        if (c == 0)
            return 1;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

/* The multiplier of category `name` (exact match), else the default. */
static int64_t cat_milli(const struct pt_loy_program *p, const char *name)
{
    if (name != NULL) {
        size_t lo = 0, hi = p->ncats;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = strcmp(name, p->cats[mid].name);
            if (c == 0)
                return p->cats[mid].milli;
            if (c < 0)
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    return p->default_cat_milli;
}

static uint64_t nonneg(int64_t v)
{
    return v > 0 ? (uint64_t)v : 0;
}

/* w_i of a line: < 2^126, 0 unless price and quantity are both positive. */
static u128 line_weight(const struct pt_evline *l)
{
    if (l->price <= 0 || l->quantity <= 0)
        return 0;
    return (u128)(uint64_t)l->price * (uint64_t)l->quantity;
}

int64_t pt_loy_round(__int128 num, __int128 den, enum pt_loy_round mode)
{
    if (den <= 0 || num <= 0)
        return 0;
    __int128 q = num / den, r = num % den;
    /* r != 0 implies den >= 2, so q <= num / 2 and q + 1 cannot overflow */
    if (mode == PT_LOY_CEIL && r != 0)
        q++;
    else if (mode == PT_LOY_ROUND && r >= den - r) /* half up: 2r >= den */
        q++;
    return q > INT64_MAX ? INT64_MAX : (int64_t)q;
}

/* ---- 512-bit unsigned integers, for the fractions __int128 cannot hold ---- */

#define BIG_LIMBS 8

struct big {
    uint64_t w[BIG_LIMBS]; /* little-endian 64-bit limbs */
};

static void big_set(struct big *a, u128 v)
{
    memset(a, 0, sizeof *a);
    a->w[0] = (uint64_t)v;
    a->w[1] = (uint64_t)(v >> 64);
}

/* a *= m. The callers' bounds (file header) keep the product in 512 bits. */
static void big_mul(struct big *a, uint64_t m)
{
    u128 carry = 0;
    for (int i = 0; i < BIG_LIMBS; i++) {
        u128 t = (u128)a->w[i] * m + carry;
        a->w[i] = (uint64_t)t;
        carry = t >> 64;
    }
}

static void big_add(struct big *a, const struct big *b)
{
    u128 carry = 0;
    for (int i = 0; i < BIG_LIMBS; i++) {
        u128 t = (u128)a->w[i] + b->w[i] + carry;
        a->w[i] = (uint64_t)t;
        carry = t >> 64;
    }
}

/* a -= b, for a >= b */
static void big_sub(struct big *a, const struct big *b)
{
    uint64_t borrow = 0;
    for (int i = 0; i < BIG_LIMBS; i++) {
        uint64_t x = a->w[i], y = b->w[i];
        uint64_t d = x - y - borrow;
        borrow = (x < y) || (x - y < borrow);
        a->w[i] = d;
    }
}

static int big_cmp(const struct big *a, const struct big *b)
{
    for (int i = BIG_LIMBS - 1; i >= 0; i--)
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}

static int big_is_zero(const struct big *a)
{
    for (int i = 0; i < BIG_LIMBS; i++)
        if (a->w[i])
            return 0;
    return 1;
}

/* r = a << s, 0 <= s < 64 (the top bits are known to be zero) */
static void big_shl(struct big *r, const struct big *a, unsigned s)
{
    for (int i = BIG_LIMBS - 1; i >= 0; i--) {
        uint64_t lo = i > 0 && s ? a->w[i - 1] >> (64 - s) : 0;
        r->w[i] = (a->w[i] << s) | lo;
    }
}

/*
 * The fraction of the file header in struct big. Bounds: w_i < 2^126, so
 * sum(w_i * cat_i) < 2^221 for up to 2^32 lines; times amount, rate and tier
 * (each < 2^63) < 2^410. sum(w_i) * 10^11 < 2^195; times the cap (< 2^40)
 * < 2^235. All below 2^512.
 */
static int64_t points_big(const struct pt_loy_program *p, const struct pt_event *ev, uint64_t tier)
{
    struct big num, den, t;
    big_set(&num, 0);
    big_set(&den, 0);
    for (uint32_t i = 0; ev->lines != NULL && i < ev->nlines; i++) {
        u128 w = line_weight(&ev->lines[i]);
        if (w == 0)
            continue;
        big_set(&t, w);
        big_add(&den, &t);
        big_mul(&t, nonneg(cat_milli(p, ev->lines[i].category)));
        big_add(&num, &t);
    }
    if (big_is_zero(&den)) {
        big_set(&num, nonneg(p->default_cat_milli));
        big_set(&den, 1);
    }
    big_mul(&num, nonneg(ev->amount));
    big_mul(&num, nonneg(p->rate_milli));
    big_mul(&num, tier);
    big_mul(&den, DENOM_SCALE);
    t = den;
    big_mul(&t, (uint64_t)PT_LOY_ORDER_CAP);
    if (big_cmp(&num, &t) >= 0)
        return PT_LOY_ORDER_CAP;
    /* quotient < cap < 2^40: binary long division over its 40 bits */
    int64_t q = 0;
    for (int bit = 39; bit >= 0; bit--) {
        struct big d;
        big_shl(&d, &den, (unsigned)bit);
        if (big_cmp(&num, &d) >= 0) {
            big_sub(&num, &d);
            q |= (int64_t)1 << bit;
        }
    }
    /* num is now the remainder, < den */
    if (p->rounding == PT_LOY_CEIL && !big_is_zero(&num))
        q++;
    else if (p->rounding == PT_LOY_ROUND) {
        big_shl(&t, &num, 1);
        if (big_cmp(&t, &den) >= 0)
            q++;
    }
    return q > PT_LOY_ORDER_CAP ? PT_LOY_ORDER_CAP : q;
}

int64_t pt_loy_order_points(const struct pt_loy_program *p, const struct pt_event *ev, int tier)
{
    if (ev->amount <= 0)
        return 0;
    uint64_t tier_milli = 1000;
    if (tier >= 0 && (size_t)tier < p->ntiers)
        tier_milli = nonneg(p->tiers[tier].earn_milli);
    int over = 0;
    u128 num = 0, den = 0;
    for (uint32_t i = 0; ev->lines != NULL && i < ev->nlines; i++) {
        u128 w = line_weight(&ev->lines[i]), cw;
        if (w == 0)
            continue;
        over |= pt_ckd_add(&den, den, w);
        over |= pt_ckd_mul(&cw, w, (u128)nonneg(cat_milli(p, ev->lines[i].category)));
        over |= pt_ckd_add(&num, num, cw);
    }
    if (den == 0) {
        num = nonneg(p->default_cat_milli);
        den = 1;
    }
    u128 k = (u128)nonneg(ev->amount) * nonneg(p->rate_milli); /* < 2^126 */
    over |= pt_ckd_mul(&k, k, (u128)tier_milli);
    over |= pt_ckd_mul(&num, num, k);
    over |= pt_ckd_mul(&den, den, (u128)DENOM_SCALE);
    const u128 smax = ((u128)1 << 127) - 1;
    if (over || num > smax || den > smax)
        return points_big(p, ev, tier_milli);
    int64_t q = pt_loy_round((__int128)num, (__int128)den, p->rounding);
    return q > PT_LOY_ORDER_CAP ? PT_LOY_ORDER_CAP : q;
}

/* "1.25" for 1250 (thousandths, no trailing zeros) into b. */
static void milli_text(char b[32], int64_t m)
{
    unsigned long long a = m < 0 ? 0 - (unsigned long long)m : (unsigned long long)m;
    int n = snprintf(b, 32, "%s%llu", m < 0 ? "-" : "", a / 1000);
    unsigned f = (unsigned)(a % 1000);
    if (f != 0 && n > 0 && n < 27) {
        snprintf(b + n, (size_t)(32 - n), ".%03u", f);
        size_t len = strlen(b);
        while (b[len - 1] == '0')
            b[--len] = '\0';
    }
}

/* ---- the canonical form ---- */

struct wr {
    struct pt_buf *b;
    int rc;
};

static void w_raw(struct wr *w, const char *s)
{
    if (w->rc == 0)
        w->rc = pt_buf_adds(w->b, s);
}

static void w_str(struct wr *w, const char *s)
{
    if (w->rc == 0)
        w->rc = pt_buf_add_json_str(w->b, s, strlen(s));
}

static void w_i64(struct wr *w, int64_t v)
{
    if (w->rc == 0)
        w->rc = pt_buf_add_i64(w->b, v);
}

static void w_milli(struct wr *w, int64_t m)
{
    char b[32];
    milli_text(b, m);
    w_raw(w, b);
}

static void w_bool(struct wr *w, int v)
{
    w_raw(w, v ? "true" : "false");
}

static void w_earn(struct wr *w, const struct pt_loy_program *p)
{
    static const char *const rounding[] = {"floor", "round", "ceil"};
    w_raw(w, ",\"earn\":{\"points_per_unit\":");
    w_milli(w, p->rate_milli);
    w_raw(w, ",\"rounding\":");
    w_str(w, (unsigned)p->rounding < 3 ? rounding[p->rounding] : "floor");
    w_raw(w, ",\"categories\":{");
    for (size_t i = 0; i < p->ncats; i++) {
        w_raw(w, i ? "," : "");
        w_str(w, p->cats[i].name);
        w_raw(w, ":");
        w_milli(w, p->cats[i].milli);
    }
    w_raw(w, "},\"default_multiplier\":");
    w_milli(w, p->default_cat_milli);
    w_raw(w, ",\"max_per_order\":");
    w_i64(w, p->max_per_order);
    w_raw(w, ",\"max_per_day\":");
    w_i64(w, p->max_per_day);
    w_raw(w, ",\"events\":{");
    for (size_t i = 0; i < p->nevents; i++) {
        const struct pt_loy_event_rule *r = &p->events[i];
        w_raw(w, i ? "," : "");
        w_str(w, r->name);
        w_raw(w, ":{\"points\":");
        w_i64(w, r->points);
        w_raw(w, ",\"max_per_day\":");
        w_i64(w, r->max_per_day);
        w_raw(w, ",\"max_total\":");
        w_i64(w, r->max_total);
        w_raw(w, "}");
    }
    w_raw(w, "}}");
}

static void w_bonuses(struct wr *w, const struct pt_loy_program *p)
{
    w_raw(w, ",\"bonuses\":{\"intensify\":");
    if (p->has_intensify) {
        w_raw(w, "{\"points\":");
        w_i64(w, p->intensify_points);
        w_raw(w, ",\"window_days\":");
        w_i64(w, p->intensify_window_days);
        w_raw(w, ",\"factor\":");
        w_milli(w, p->intensify_factor_milli);
        w_raw(w, ",\"period_days\":");
        w_i64(w, p->intensify_period_days);
        w_raw(w, ",\"min_history_days\":");
        w_i64(w, p->intensify_min_history_days);
        w_raw(w, "}");
    } else {
        w_raw(w, "null");
    }
    w_raw(w, ",\"comeback\":");
    if (p->has_comeback) {
        w_raw(w, "{\"points\":");
        w_i64(w, p->comeback_points);
        w_raw(w, ",\"after_days\":");
        w_i64(w, p->comeback_after_days);
        w_raw(w, "}");
    } else {
        w_raw(w, "null");
    }
    w_raw(w, "}");
}

static void w_tiers(struct wr *w, const struct pt_loy_program *p)
{
    w_raw(w, ",\"tiers\":{\"basis\":");
    w_str(w, p->tier_basis == PT_LOY_POINTS ? "points" : "spend");
    w_raw(w, ",\"window_days\":");
    w_i64(w, p->tier_window_days);
    w_raw(w, ",\"review_months\":");
    w_i64(w, p->tier_review_months);
    w_raw(w, ",\"levels\":[");
    for (size_t i = 0; i < p->ntiers; i++) {
        const struct pt_loy_tier *t = &p->tiers[i];
        w_raw(w, i ? ",{\"name\":" : "{\"name\":");
        w_str(w, t->name);
        w_raw(w, ",\"threshold\":");
        w_i64(w, t->threshold);
        w_raw(w, ",\"multiplier\":");
        w_milli(w, t->earn_milli);
        w_raw(w, ",\"free_shipping\":");
        w_bool(w, t->free_shipping);
        w_raw(w, "}");
    }
    w_raw(w, "]}");
}

static void w_rest(struct wr *w, const struct pt_loy_program *p)
{
    w_raw(w, ",\"expiry\":{\"months\":");
    w_i64(w, p->expiry_months);
    w_raw(w, "},\"refunds\":{\"allow_debt\":");
    w_bool(w, p->allow_debt);
    w_raw(w, "},\"pilot\":");
    if (!p->has_pilot) {
        w_raw(w, "null");
    } else if (p->npilot == 0) {
        w_raw(w, "{\"segment\":");
        w_i64(w, p->pilot_segment);
        w_raw(w, "}");
    } else {
        w_raw(w, "{\"customers\":[");
        for (size_t i = 0; i < p->npilot; i++) {
            w_raw(w, i ? "," : "");
            w_str(w, p->pilot_ids[i]);
        }
        w_raw(w, "]}");
    }
    w_raw(w, ",\"referral\":");
    if (p->has_referral) {
        w_raw(w, "{\"referrer_points\":");
        w_i64(w, p->referrer_points);
        w_raw(w, ",\"friend_points\":");
        w_i64(w, p->friend_points);
        w_raw(w, ",\"return_window_days\":");
        w_i64(w, p->return_window_days);
        w_raw(w, ",\"link\":");
        if (p->link)
            w_str(w, p->link);
        else
            w_raw(w, "null");
        w_raw(w, "}");
    } else {
        w_raw(w, "null");
    }
}

int pt_loy_program_json(const struct pt_loy_program *p, struct pt_buf *out)
{
    struct wr w = {out, 0};
    size_t start = out->len;
    w_raw(&w, "{\"enabled\":");
    w_bool(&w, p->enabled);
    w_raw(&w, ",\"currency\":");
    if (p->currency[0])
        w_str(&w, p->currency);
    else
        w_raw(&w, "null");
    w_raw(&w, ",\"point_value\":");
    w_i64(&w, p->point_value);
    w_earn(&w, p);
    w_bonuses(&w, p);
    w_tiers(&w, p);
    w_rest(&w, p);
    w_raw(&w, "}");
    if (w.rc) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return PT_ENOMEM;
    }
    return 0;
}
