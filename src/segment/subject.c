/*
 * subject.c - the rule language's attributes and functions over one
 * customer (see subject.h); interned strings.
 */
#include "segment/subject.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/events.h"
#include "rfm/rfm.h"
#include "util/hash.h"
#include "util/mem.h"

/* ---- attributes ---- */

enum attr {
    A_ORDERS, A_REVENUE, A_GROSS, A_REFUNDED, A_AOV, A_DAYS_FIRST, A_DAYS_LAST, A_AVG_GAP,
    A_MEDIAN_GAP, A_USUAL30, A_DISCOUNT, A_ANON, A_CART_VALUE, A_CART_ITEMS, A_CART_IDLE,
    A_FAV_CATS, A_C_EMAIL, A_C_SMS, A_C_PROFILING, A_RFM_R, A_RFM_F, A_RFM_M, A_RFM_SCORE,
    A_RFM_SEG, A_P_ALIVE, A_EXP90, A_EXP365, A_VALUE365, A_EOV, A_DAYS_NEXT, A_WISH_COUNT,
    A_WISH_PRODUCTS, A_POINTS, A_TIER, A_TRAITS, A_PREF, A_N
};
/* the rule table's names, in enum attr order */
static const char *const k_names[A_N] = {
    "orders", "revenue", "gross_revenue", "refunded", "average_order_value",
    "days_since_first_order", "days_since_last_order", "average_days_between_orders",
    "median_days_between_orders", "orders_per_30d_usual", "discount_share", "anonymous",
    "cart.value", "cart.items", "cart.idle_minutes", "favourite_categories", "consent.email",
    "consent.sms", "consent.profiling", "rfm.r", "rfm.f", "rfm.m", "rfm.score", "rfm.segment",
    "clv.p_alive", "clv.expected_orders_90d", "clv.expected_orders_365d", "clv.value_365d",
    "clv.expected_order_value", "clv.days_to_next_order", "wishlist.count", "wishlist.products",
    "points", "tier", "traits.", "preference.",
};

enum { F_COUNT, F_BOUGHT, F_VIEWED, F_ORDERS_IN, F_POINTS_EXPIRING, F_N };
static const char *const k_fnames[F_N] = {"count", "bought", "viewed", "orders_in",
                                          "points_expiring"};

enum { D_GAPS = 1, D_CATS = 2, D_WISH = 4, D_TRAITS = 8, D_DISC = 16, D_CART = 32 };

struct pt_seg_ctx {
    const struct pt_seg_subject *s;
    int8_t amap[64], fmap[16]; /* rule table index -> enum attr / function */
    unsigned have;            /* D_* derived for this subject */
    double avg_gap, median_gap, disc_share, cart_items;
    double *gaps;
    size_t gcap;
    /* lists: favourite categories, wishlist products */
    const char **cat_items, **wish_items, **tl_items;
    size_t *cat_lens, *wish_lens, *tl_lens, ncat, nwish, lcap;
    struct pt_buf tbuf;
    json_t *traits;
    char score[4];
    uint32_t order_name; /* "Order Completed" as interned by this subject's dict (0: none) */
};

struct pt_seg_ctx *pt_seg_ctx_new(void)
{
    struct pt_seg_ctx *x = pt_calloc(1, sizeof *x);
    if (x == NULL)
        return NULL;
    size_t na, nf;
    const struct pt_rule_attr *ta = pt_rule_attrs(&na);
    const struct pt_rule_func *tf = pt_rule_funcs(&nf);
    memset(x->amap, -1, sizeof x->amap);
    memset(x->fmap, -1, sizeof x->fmap);
    for (size_t i = 0; i < na && i < 64; i++)
        for (int k = 0; k < A_N; k++)
            if (strcmp(ta[i].name, k_names[k]) == 0)
                x->amap[i] = (int8_t)k;
    for (size_t i = 0; i < nf && i < 16; i++)
        for (int k = 0; k < F_N; k++)
            if (strcmp(tf[i].name, k_fnames[k]) == 0)
                x->fmap[i] = (int8_t)k;
    pt_buf_init(&x->tbuf);
    return x;
}

void pt_seg_ctx_free(struct pt_seg_ctx *x)
{
    if (x == NULL)
        return;
    pt_free(x->gaps);
    pt_free(x->cat_items);
    pt_free(x->wish_items);
    pt_free(x->cat_lens);
    pt_free(x->wish_lens);
    pt_free(x->tl_items);
    pt_free(x->tl_lens);
    pt_buf_release(&x->tbuf);
    if (x->traits)
        json_decref(x->traits);
    pt_free(x);
}

void pt_seg_ctx_set(struct pt_seg_ctx *x, const struct pt_seg_subject *s)
{
    x->s = s;
    x->have = 0;
    if (x->traits) {
        json_decref(x->traits);
        x->traits = NULL;
    }
    x->order_name = pt_dict_find(s->dict, "Order Completed", 15);
}

static size_t is_order(const struct pt_act *a)
{
    return a->kind == PT_K_ORDER_COMPLETED && !(a->flags & PT_ACT_LINE);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int grow_lists(struct pt_seg_ctx *x, size_t need)
{
    if (need <= x->lcap)
        return 0;
    size_t nc = x->lcap ? x->lcap : 16;
    while (nc < need)
        nc *= 2;
    const char **a = pt_realloc_array(x->cat_items, nc, sizeof *a);
    if (a)
        x->cat_items = a;
    const char **b = pt_realloc_array(x->wish_items, nc, sizeof *b);
    if (b)
        x->wish_items = b;
    size_t *c = pt_realloc_array(x->cat_lens, nc, sizeof *c);
    if (c)
        x->cat_lens = c;
    size_t *d = pt_realloc_array(x->wish_lens, nc, sizeof *d);
    if (d)
        x->wish_lens = d;
    const char **e = pt_realloc_array(x->tl_items, nc, sizeof *e);
    if (e)
        x->tl_items = e;
    size_t *f = pt_realloc_array(x->tl_lens, nc, sizeof *f);
    if (f)
        x->tl_lens = f;
    if (!a || !b || !c || !d || !e || !f)
        return PT_ENOMEM;
    x->lcap = nc;
    return 0;
}

/* Gaps between consecutive orders, in days (sorted order times). */
static int derive_gaps(struct pt_seg_ctx *x)
{
    const struct pt_seg_subject *s = x->s;
    size_t n = 0;
    for (size_t i = 0; i < s->nacts; i++)
        n += is_order(&s->acts[i]);
    if (n > x->gcap) {
        double *g = pt_realloc_array(x->gaps, n, sizeof *g);
        if (g == NULL)
            return PT_ENOMEM;
        x->gaps = g;
        x->gcap = n;
    }
    size_t k = 0;
    for (size_t i = 0; i < s->nacts; i++)
        if (is_order(&s->acts[i]))
            x->gaps[k++] = (double)s->acts[i].t;
    if (k > 1)
        qsort(x->gaps, k, sizeof *x->gaps, cmp_double);
    x->avg_gap = x->median_gap = NAN;
    if (k >= 2) {
        x->avg_gap = (x->gaps[k - 1] - x->gaps[0]) / (double)(k - 1) / 86400.0;
        for (size_t i = 0; i + 1 < k; i++)
            x->gaps[i] = (x->gaps[i + 1] - x->gaps[i]) / 86400.0;
        size_t m = k - 1;
        qsort(x->gaps, m, sizeof *x->gaps, cmp_double);
        x->median_gap = m % 2 ? x->gaps[m / 2] : (x->gaps[m / 2 - 1] + x->gaps[m / 2]) / 2;
    }
    size_t disc = 0;
    for (size_t i = 0; i < s->nacts; i++)
        disc += is_order(&s->acts[i]) && (s->acts[i].flags & PT_ACT_DISCOUNT);
    x->disc_share = k ? (double)disc / (double)k : NAN;
    x->have |= D_GAPS;
    return 0;
}

/* Top three categories by quantity bought (ties: the name first in byte order). */
static int derive_cats(struct pt_seg_ctx *x)
{
    const struct pt_seg_subject *s = x->s;
    uint32_t top[3] = {0, 0, 0};
    uint64_t topq[3] = {0, 0, 0};
    /* quadratic over the lines of one customer: a few dozen at most in practice */
    for (size_t i = 0; i < s->nacts; i++) {
        const struct pt_act *a = &s->acts[i];
        if (!(a->flags & PT_ACT_LINE) || a->cat == 0)
            continue;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = (s->acts[j].flags & PT_ACT_LINE) && s->acts[j].cat == a->cat;
        if (seen)
            continue;
        uint64_t q = 0;
        for (size_t j = i; j < s->nacts; j++)
            if ((s->acts[j].flags & PT_ACT_LINE) && s->acts[j].cat == a->cat)
                q += s->acts[j].qty;
        size_t la, lb;
        const char *na = pt_dict_str(s->dict, a->cat, &la);
        for (int k = 0; k < 3; k++) {
            int better = q > topq[k];
            if (!better && q == topq[k] && top[k]) {
                const char *nb = pt_dict_str(s->dict, top[k], &lb);
                int c = memcmp(na, nb, la < lb ? la : lb);
                better = c < 0 || (c == 0 && la < lb);
            }
            if (better || top[k] == 0) {
                for (int m = 2; m > k; m--) {
                    top[m] = top[m - 1];
                    topq[m] = topq[m - 1];
                }
                top[k] = a->cat;
                topq[k] = q;
                break;
            }
        }
    }
    if (grow_lists(x, 3))
        return PT_ENOMEM;
    x->ncat = 0;
    for (int k = 0; k < 3 && top[k]; k++) {
        x->cat_items[x->ncat] = pt_dict_str(s->dict, top[k], &x->cat_lens[x->ncat]);
        x->ncat++;
    }
    x->have |= D_CATS;
    return 0;
}

/* Wishlist: products added and not removed since (in time order). */
static int derive_wish(struct pt_seg_ctx *x)
{
    const struct pt_seg_subject *s = x->s;
    x->nwish = 0;
    for (size_t i = 0; i < s->nacts; i++) {
        const struct pt_act *a = &s->acts[i];
        if ((a->kind != PT_K_WISHLIST_ADDED && a->kind != PT_K_WISHLIST_REMOVED) || !a->prod)
            continue;
        /* the product's latest wishlist event decides */
        const struct pt_act *last = a;
        int first = 1;
        for (size_t j = 0; j < s->nacts && first; j++) {
            const struct pt_act *b = &s->acts[j];
            if ((b->kind == PT_K_WISHLIST_ADDED || b->kind == PT_K_WISHLIST_REMOVED) &&
                b->prod == a->prod && j < i)
                first = 0;
        }
        if (!first)
            continue;
        for (size_t j = 0; j < s->nacts; j++) {
            const struct pt_act *b = &s->acts[j];
            if ((b->kind == PT_K_WISHLIST_ADDED || b->kind == PT_K_WISHLIST_REMOVED) &&
                b->prod == a->prod && b->t >= last->t)
                last = b;
        }
        if (last->kind != PT_K_WISHLIST_ADDED)
            continue;
        if (grow_lists(x, x->nwish + 1))
            return PT_ENOMEM;
        x->wish_items[x->nwish] = pt_dict_str(s->dict, a->prod, &x->wish_lens[x->nwish]);
        x->nwish++;
    }
    x->have |= D_WISH;
    return 0;
}

/* Items in the open cart: added minus removed since the cart opened. */
static void derive_cart(struct pt_seg_ctx *x)
{
    const struct pt_seg_subject *s = x->s;
    double n = 0;
    if (s->cart_value > 0)
        for (size_t i = 0; i < s->nacts; i++) {
            const struct pt_act *a = &s->acts[i];
            if (a->t < s->cart_since || a->t > s->cart_t)
                continue;
            if (a->kind == PT_K_PRODUCT_ADDED)
                n += a->qty;
            else if (a->kind == PT_K_PRODUCT_REMOVED)
                n -= a->qty;
        }
    x->cart_items = n > 0 ? n : 0;
    x->have |= D_CART;
}

static int derive_traits(struct pt_seg_ctx *x)
{
    x->have |= D_TRAITS;
    if (x->s->traits == NULL)
        return 0;
    x->tbuf.len = 0;
    int rc = x->s->traits(x->s->tctx, &x->tbuf);
    if (rc)
        return rc;
    x->traits = json_loadb(x->tbuf.data, x->tbuf.len, 0, NULL);
    if (x->traits && !json_is_object(x->traits)) {
        json_decref(x->traits);
        x->traits = NULL;
    }
    return 0;
}

static void set_num(struct pt_rule_value *v, double x)
{
    v->type = PT_RT_NUM;
    v->present = !isnan(x);
    v->num = x;
}

static void set_bool(struct pt_rule_value *v, int b)
{
    v->type = PT_RT_BOOL;
    v->present = 1;
    v->num = b != 0;
}

static void set_str(struct pt_rule_value *v, const char *s, size_t n)
{
    v->type = PT_RT_STR;
    v->present = 1;
    v->str = s;
    v->slen = n;
}

/* A trait's JSON value as a rule value (missing for null, objects and mixed arrays). */
static int json_value(struct pt_seg_ctx *x, json_t *j, struct pt_rule_value *v)
{
    if (json_is_string(j)) {
        set_str(v, json_string_value(j), json_string_length(j));
    } else if (json_is_number(j)) {
        set_num(v, json_number_value(j));
    } else if (json_is_boolean(j)) {
        set_bool(v, json_is_true(j));
    } else if (json_is_array(j)) {
        size_t n = json_array_size(j);
        if (grow_lists(x, n))
            return PT_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(j, i);
            if (!json_is_string(e))
                return 0;
            x->tl_items[i] = json_string_value(e);
            x->tl_lens[i] = json_string_length(e);
        }
        v->type = PT_RT_LIST;
        v->present = 1;
        v->items = x->tl_items;
        v->lens = x->tl_lens;
        v->n = n;
    }
    return 0;
}

static double days_since(int64_t now, int64_t t)
{
    int64_t d = (now - t) / 86400;
    return d < 0 ? 0 : (double)d;
}

static int attr(void *ctx, int32_t id, const char *key, size_t klen, struct pt_rule_value *v)
{
    struct pt_seg_ctx *x = ctx;
    const struct pt_seg_subject *s = x->s;
    int rc = 0;
    v->present = 0;
    int k = id >= 0 && id < 64 ? x->amap[id] : -1;
    int ord = s->orders > 0;
    switch (k) {
    case A_ORDERS:
        set_num(v, s->orders);
        break;
    case A_REVENUE:
        set_num(v, (double)(s->revenue - s->refunded) / 100.0);
        break;
    case A_GROSS:
        set_num(v, (double)s->revenue / 100.0);
        break;
    case A_REFUNDED:
        set_num(v, (double)s->refunded / 100.0);
        break;
    case A_AOV:
        set_num(v, ord ? (double)(s->revenue - s->refunded) / 100.0 / s->orders : NAN);
        break;
    case A_DAYS_FIRST:
        set_num(v, ord ? days_since(s->now, s->first_t) : NAN);
        break;
    case A_DAYS_LAST:
        set_num(v, ord ? days_since(s->now, s->last_t) : NAN);
        break;
    case A_AVG_GAP:
    case A_MEDIAN_GAP:
    case A_DISCOUNT:
        if (!(x->have & D_GAPS) && (rc = derive_gaps(x)))
            return rc;
        set_num(v, k == A_AVG_GAP ? x->avg_gap : k == A_MEDIAN_GAP ? x->median_gap
                                                                    : x->disc_share);
        break;
    case A_USUAL30: {
        double d = days_since(s->now, s->first_t);
        set_num(v, ord ? 30.0 * s->orders / (d > 30 ? d : 30) : NAN);
        break;
    }
    case A_ANON:
        set_bool(v, s->anonymous);
        break;
    case A_CART_VALUE:
        set_num(v, (double)s->cart_value / 100.0);
        break;
    case A_CART_ITEMS:
        if (!(x->have & D_CART))
            derive_cart(x);
        set_num(v, x->cart_items);
        break;
    case A_CART_IDLE:
        if (s->cart_value > 0) {
            int64_t m = (s->now - s->cart_t) / 60;
            set_num(v, m < 0 ? 0 : (double)m);
        }
        break;
    case A_FAV_CATS:
        if (!(x->have & D_CATS) && (rc = derive_cats(x)))
            return rc;
        v->type = PT_RT_LIST;
        v->present = 1;
        v->items = x->cat_items;
        v->lens = x->cat_lens;
        v->n = x->ncat;
        break;
    case A_C_EMAIL:
    case A_C_SMS:
    case A_C_PROFILING: {
        unsigned bit = k == A_C_EMAIL ? PT_CONSENT_EMAIL : k == A_C_SMS ? PT_CONSENT_SMS
                                                                          : PT_CONSENT_PROFILING;
        if (s->consent_set & bit)
            set_bool(v, (s->consent & bit) != 0);
        break;
    }
    case A_RFM_R:
    case A_RFM_F:
    case A_RFM_M:
        if (s->has_rfm)
            set_num(v, k == A_RFM_R ? s->r : k == A_RFM_F ? s->f : s->m);
        break;
    case A_RFM_SCORE:
        if (s->has_rfm) {
            x->score[0] = (char)('0' + s->r);
            x->score[1] = (char)('0' + s->f);
            x->score[2] = (char)('0' + s->m);
            set_str(v, x->score, 3);
        }
        break;
    case A_RFM_SEG:
        if (s->has_rfm && s->seg >= 0 && s->seg < PT_RFM_NSEG)
            set_str(v, pt_rfm_segment_names[s->seg], strlen(pt_rfm_segment_names[s->seg]));
        break;
    case A_P_ALIVE:
    case A_EXP90:
    case A_EXP365:
        if (s->has_clv)
            set_num(v, k == A_P_ALIVE ? s->p_alive : k == A_EXP90 ? s->exp90 : s->exp365);
        break;
    case A_VALUE365:
    case A_EOV: {
        int64_t m = k == A_VALUE365 ? s->value365 : s->aov;
        if (s->has_clv && m >= 0)
            set_num(v, (double)m / 100.0);
        break;
    }
    case A_DAYS_NEXT:
        if (s->has_clv && s->next_t > 0) {
            double d = ceil((double)(s->next_t - s->now) / 86400.0);
            set_num(v, d < 0 ? 0 : d);
        }
        break;
    case A_WISH_COUNT:
    case A_WISH_PRODUCTS:
        if (!(x->have & D_WISH) && (rc = derive_wish(x)))
            return rc;
        if (k == A_WISH_COUNT) {
            set_num(v, (double)x->nwish);
        } else {
            v->type = PT_RT_LIST;
            v->present = 1;
            v->items = x->wish_items;
            v->lens = x->wish_lens;
            v->n = x->nwish;
        }
        break;
    case A_POINTS:
        if (s->has_points)
            set_num(v, (double)s->points);
        break;
    case A_TIER:
        if (s->tier)
            set_str(v, s->tier, strlen(s->tier));
        break;
    case A_TRAITS:
    case A_PREF: {
        if (!(x->have & D_TRAITS) && (rc = derive_traits(x)))
            return rc;
        json_t *o = x->traits;
        if (o && k == A_PREF)
            o = json_object_get(o, "preferences");
        if (!json_is_object(o))
            break;
        json_t *j = json_object_getn(o, key, klen);
        if (j == NULL)
            break;
        if ((rc = json_value(x, j, v)))
            return rc;
        if (k == A_PREF && v->present && v->type != PT_RT_STR)
            v->present = 0; /* preferences are declared as strings */
        break;
    }
    default:
        return PT_EINVAL;
    }
    return 0;
}

/* ---- functions ---- */

#define MAX_PROPS 8
struct filt {
    int64_t within;           /* 0: all time */
    uint32_t name, cat, prod; /* 0: any; UINT32_MAX: a name never seen (matches nothing) */
    int32_t props[MAX_PROPS]; /* argument nodes filtering on other properties */
    int nprops;
};

static uint32_t lit_id(const struct pt_seg_subject *s, const struct pt_rule *r, int32_t node)
{
    const struct pt_rule_node *n = &r->nodes[node];
    uint32_t id = pt_dict_find(s->dict, r->strs + n->str, n->slen);
    return id ? id : UINT32_MAX;
}

static void read_filter(const struct pt_seg_subject *s, const struct pt_rule *r, int32_t call,
                        struct filt *f)
{
    const struct pt_rule_node *c = &r->nodes[call];
    memset(f, 0, sizeof *f);
    for (int32_t i = 0; i < c->b; i++) {
        const struct pt_rule_node *a = &r->nodes[r->kids[c->a + i]];
        const char *an = a->slen ? r->strs + a->str : "";
        if (a->slen == 0 || strcmp(an, "within") == 0)
            f->within = (int64_t)r->nodes[a->a].num;
        else if (strcmp(an, "event") == 0)
            f->name = lit_id(s, r, a->a);
        else if (strcmp(an, "category") == 0)
            f->cat = lit_id(s, r, a->a);
        else if (strcmp(an, "product") == 0)
            f->prod = lit_id(s, r, a->a);
        else if (f->nprops < MAX_PROPS)
            f->props[f->nprops++] = r->kids[c->a + i];
        else
            f->name = UINT32_MAX; /* the parser allows no more; never here */
    }
}

/* The event of act a has every property filter's value (string, number or
 * boolean literal, equal by type and value). */
static int props_ok(struct pt_seg_ctx *x, const struct pt_rule *r, const struct filt *f,
                    const struct pt_act *a)
{
    const struct pt_seg_subject *s = x->s;
    if (f->nprops == 0)
        return 1;
    if (s->event_json == NULL || a->seq <= 0)
        return 0;
    x->tbuf.len = 0;
    if (s->event_json(s->tctx, a->seq, &x->tbuf))
        return 0;
    json_t *ev = json_loadb(x->tbuf.data, x->tbuf.len, 0, NULL);
    json_t *p = json_object_get(ev, "properties");
    int ok = json_is_object(p);
    for (int i = 0; ok && i < f->nprops; i++) {
        const struct pt_rule_node *arg = &r->nodes[f->props[i]];
        const struct pt_rule_node *lit = &r->nodes[arg->a];
        double num = lit->op == PT_R_NEG ? -r->nodes[lit->a].num : lit->num;
        json_t *v = json_object_get(p, r->strs + arg->str);
        if (lit->op == PT_R_STR)
            ok = json_is_string(v) && json_string_length(v) == lit->slen &&
                 memcmp(json_string_value(v), r->strs + lit->str, lit->slen) == 0;
        else if (lit->op == PT_R_BOOL)
            ok = json_is_boolean(v) && json_is_true(v) == (lit->num != 0);
        else
            ok = json_is_number(v) && json_number_value(v) == num;
    }
    json_decref(ev);
    return ok;
}

static int in_window(const struct pt_seg_subject *s, const struct filt *f, int64_t t)
{
    return f->within <= 0 || t > s->now - f->within;
}

static int item_ok(const struct filt *f, const struct pt_act *a)
{
    return (f->cat == 0 || a->cat == f->cat) && (f->prod == 0 || a->prod == f->prod);
}

/* The order record of line i (lines follow or precede it with the same grp). */
static const struct pt_act *order_of(const struct pt_seg_subject *s, size_t i)
{
    uint32_t g = s->acts[i].grp;
    for (size_t j = i; j-- > 0 && s->acts[j].grp == g;)
        if (is_order(&s->acts[j]))
            return &s->acts[j];
    for (size_t j = i + 1; j < s->nacts && s->acts[j].grp == g; j++)
        if (is_order(&s->acts[j]))
            return &s->acts[j];
    return &s->acts[i];
}

static int call(void *ctx, const struct pt_rule *r, int32_t node, double *out)
{
    struct pt_seg_ctx *x = ctx;
    const struct pt_seg_subject *s = x->s;
    int fid = r->nodes[node].id;
    int k = fid >= 0 && fid < 16 ? x->fmap[fid] : -1;
    struct filt f;
    read_filter(s, r, node, &f);
    if (k == F_BOUGHT || k == F_VIEWED) {
        int hit = 0;
        for (size_t i = 0; i < s->nacts && !hit; i++) {
            const struct pt_act *a = &s->acts[i];
            int kind_ok = (int)(k == F_VIEWED ? a->kind == PT_K_PRODUCT_VIEWED
                          : (f.cat || f.prod) ? a->kind == PT_K_ORDER_COMPLETED &&
                                                    (a->flags & PT_ACT_LINE)
                                              : is_order(a));
            /* a property filter on an order reads the order's own event */
            const struct pt_act *ev = (a->flags & PT_ACT_LINE) ? order_of(s, i) : a;
            hit = kind_ok && in_window(s, &f, a->t) && item_ok(&f, a) && props_ok(x, r, &f, ev);
        }
        *out = hit;
        return 0;
    }
    if (k == F_POINTS_EXPIRING) {
        double n = 0; /* (a customer who is not a member has none) */
        for (size_t i = 0; i < s->nlots; i++)
            if (s->lot_exp[i] > s->now && s->lot_exp[i] <= s->now + f.within)
                n += (double)s->lot_pts[i];
        *out = n;
        return 0;
    }
    if (k == F_ORDERS_IN) {
        size_t n = 0;
        for (size_t i = 0; i < s->nacts; i++)
            n += is_order(&s->acts[i]) && in_window(s, &f, s->acts[i].t) &&
                 props_ok(x, r, &f, &s->acts[i]);
        *out = (double)n;
        return 0;
    }
    if (k != F_COUNT)
        return PT_EINVAL;
    /* count: events named so; an order counts once if any of its lines matches */
    size_t n = 0;
    int orders = f.name != 0 && f.name == x->order_name;
    if (orders && (f.cat || f.prod)) {
        uint32_t last = UINT32_MAX;
        for (size_t i = 0; i < s->nacts; i++) {
            const struct pt_act *a = &s->acts[i];
            if ((a->flags & PT_ACT_LINE) && a->grp != last && in_window(s, &f, a->t) &&
                item_ok(&f, a) && props_ok(x, r, &f, order_of(s, i))) {
                n++;
                last = a->grp;
            }
        }
    } else {
        for (size_t i = 0; i < s->nacts; i++) {
            const struct pt_act *a = &s->acts[i];
            n += !(a->flags & PT_ACT_LINE) && a->name == f.name && in_window(s, &f, a->t) &&
                 item_ok(&f, a) && props_ok(x, r, &f, a);
        }
    }
    *out = (double)n;
    return 0;
}

struct pt_rule_env pt_seg_env(struct pt_seg_ctx *x)
{
    return (struct pt_rule_env){.attr = attr, .call = call, .ctx = x};
}

int pt_seg_match(struct pt_seg_ctx *x, const struct pt_rule *r, int *match)
{
    struct pt_rule_env env = pt_seg_env(x);
    return pt_rule_eval(r, &env, match);
}

/* ---- time ---- */

/* The next instant after now at which whole units since t0 tick over. */
static int64_t next_tick(int64_t now, int64_t t0, int64_t unit)
{
    if (t0 > now)
        return t0 + unit; /* a future time: days since stays 0 until then */
    return now + (unit - (now - t0) % unit);
}

int64_t pt_seg_next_change(struct pt_seg_ctx *x, const struct pt_seg_time *t)
{
    const struct pt_seg_subject *s = x->s;
    int64_t next = INT64_MAX, now = s->now;
#define MIN_T(v)                                                                                 \
    do {                                                                                         \
        int64_t v_ = (v);                                                                        \
        if (v_ > now && v_ < next)                                                               \
            next = v_;                                                                           \
    } while (0)
    if (s->orders && (t->uses & PT_SEG_T_FIRST))
        MIN_T(next_tick(now, s->first_t, 86400));
    if (s->orders && (t->uses & PT_SEG_T_LAST))
        MIN_T(next_tick(now, s->last_t, 86400));
    if (s->cart_value > 0 && (t->uses & PT_SEG_T_CART))
        MIN_T(next_tick(now, s->cart_t, 60));
    if (t->uses & PT_SEG_T_LOTS) /* a lot comes within a window */
        for (size_t i = 0; i < s->nlots; i++)
            for (size_t k = 0; k < t->nwin; k++)
                MIN_T(s->lot_exp[i] - t->win[k]);
    if (t->uses & PT_SEG_T_WINDOW)
        for (size_t i = 0; i < s->nacts; i++)
            for (size_t k = 0; k < t->nwin; k++)
                MIN_T(s->acts[i].t + t->win[k]);
#undef MIN_T
    return next;
}
