/*
 * engine_loy_bday.c - members' traits the loyalty programme reads: the email
 * (no self-referral under a second account) and the birthday. A programme
 * with a behaviour rule named "Birthday" has Patron award it by itself once a
 * year on the member's birthday (traits.birthday: "YYYY-MM-DD", "MM-DD" or
 * "--MM-DD"; 29 February is celebrated on 28 February in other years), in the
 * first group after UTC midnight. Members' birthdays are read from the store
 * the first time a programme has such a rule, not at every start. A
 * "Birthday" event the shop sends is awarded as any behaviour event
 * (docs/loyalty.md).
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"
#include "util/timeutil.h"

#define DAY 86400

int engine_loy_trait(struct pt_engine *g, size_t root, const char *key, char *out, size_t cap,
                     struct pt_err *e)
{
    size_t rows[PT_STATE_MAX_TREE];
    int64_t ids[PT_STATE_MAX_TREE];
    size_t n = pt_state_tree(&g->st, root, rows, PT_STATE_MAX_TREE);
    if (n > PT_STATE_MAX_TREE)
        n = PT_STATE_MAX_TREE;
    for (size_t i = 0; i < n; i++)
        ids[i] = (int64_t)rows[i] + 1;
    struct pt_buf b;
    pt_buf_init(&b);
    out[0] = '\0';
    int rc = pt_store_traits_json(g->w, ids, n, &b, e);
    json_t *o = rc ? NULL : json_loadb(b.data ? b.data : "{}", b.len, 0, NULL);
    const char *v = json_string_value(json_object_get(o, key));
    if (v) {
        while (*v == ' ')
            v++;
        size_t k = 0;
        for (; v[k] && v[k] != ' ' && k + 1 < cap; k++)
            out[k] = (char)(v[k] >= 'A' && v[k] <= 'Z' ? v[k] + 32 : v[k]);
        out[k] = '\0';
    }
    json_decref(o);
    pt_buf_release(&b);
    return rc;
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "YYYY-MM-DD" (a time may follow), "MM-DD" or "--MM-DD" -> month * 100 + day; 0 if not one. */
int engine_bday_parse(const char *s)
{
    size_t n = strlen(s);
    const char *md = NULL;
    if (n >= 10 && s[4] == '-' && s[7] == '-' && digits(s, 4) >= 0)
        md = s + 5;
    else if (n == 7 && s[0] == '-' && s[1] == '-')
        md = s + 2;
    else if (n == 5)
        md = s;
    if (md == NULL || md[2] != '-')
        return 0;
    int m = digits(md, 2), d = digits(md + 3, 2);
    if (m < 1 || m > 12 || d < 1 || d > pt_days_in_month(2000, m)) /* (2000: a leap year) */
        return 0;
    return m * 100 + d;
}

int engine_loy_bday_read(struct pt_engine *g, struct loy_acct *a, struct pt_err *e)
{
    if (!g->loy_bdays)
        return 0; /* not in memory yet: the first birthday round reads everyone's */
    char v[64];
    int rc = engine_loy_trait(g, a->row, "birthday", v, sizeof v, e);
    a->bday = rc ? 0 : (uint16_t)engine_bday_parse(v);
    return rc;
}

static int load_one(void *ctx, int64_t customer, const char *birthday)
{
    struct pt_engine *g = ctx;
    if (customer < 1 || (size_t)customer > g->st.n || birthday == NULL)
        return 0;
    size_t row = (size_t)customer - 1, root = pt_state_root(&g->st, row);
    struct loy_acct *a = engine_loy_acct(g, root);
    int d = engine_bday_parse(birthday);
    if (a && d && (row == root || a->bday == 0)) /* the member's own identity wins */
        a->bday = (uint16_t)d;
    return 0;
}

int engine_loy_bdays_load(struct pt_engine *g, struct pt_err *e)
{
    int rc = pt_store_loy_birthdays(g->w, load_one, g, e);
    g->loy_bdays = rc == 0;
    return rc;
}

void engine_loy_traits(struct pt_engine *g, size_t row, const char *traits)
{
    engine_auto_traits(g, pt_state_root(&g->st, row), traits);
    struct loy_acct *a = g->loy_bdays ? engine_loy_acct(g, pt_state_root(&g->st, row)) : NULL;
    json_t *o = a ? json_loads(traits, 0, NULL) : NULL;
    json_t *b = json_object_get(o, "birthday");
    if (json_is_string(b))
        a->bday = (uint16_t)engine_bday_parse(json_string_value(b));
    else if (b)
        a->bday = 0; /* null or another type: no birthday */
    json_decref(o);
}

/* Whether some enabled programme has a "Birthday" rule. */
static int any_rule(struct pt_engine *g)
{
    for (size_t i = 0; i < g->nlprog; i++)
        if (g->lprog[i].p.enabled && pt_loy_event_rule(&g->lprog[i].p, "Birthday"))
            return 1;
    return 0;
}

int engine_loy_bday_due(struct pt_engine *g, int64_t now)
{
    return pt_floor_div(now, DAY) > g->loy_bday_day && any_rule(g);
}

int engine_loy_birthdays(struct pt_engine *g, int64_t now, struct pt_err *e)
{
    int64_t day = pt_floor_div(now, DAY), y;
    if (day <= g->loy_bday_day)
        return 0;
    g->loy_bday_day = day;
    if (!any_rule(g))
        return 0;
    /* birthdays are read from the store only once a programme awards them */
    int rc = g->loy_bdays ? 0 : engine_loy_bdays_load(g, e);
    if (rc)
        return rc;
    int m, d;
    pt_civil_from_days(day, &y, &m, &d);
    int today = m * 100 + d, leapday = m == 2 && d == 28 && pt_days_in_month(y, 2) == 28;
    for (size_t i = 0; i < g->naccts; i++) {
        struct loy_acct *a = g->accts[i];
        if (a->row == UINT32_MAX || a->bday == 0 ||
            (a->bday != today && !(leapday && a->bday == 229)))
            continue;
        struct loy_prog *lp = engine_loy_prog(g, a->shop);
        const struct pt_loy_event_rule *r = lp ? pt_loy_event_rule(&lp->p, "Birthday") : NULL;
        if (r == NULL || !engine_loy_eligible(g, a->shop, a->row, now))
            continue;
        char idem[64];
        snprintf(idem, sizeof idem, "birthday:%lld:%lld", (long long)a->row + 1, (long long)y);
        rc = engine_loy_award(g, lp, r, a, now, now, NULL, idem, e); /* (its caps apply) */
        if (rc)
            return rc;
    }
    return 0;
}
