/*
 * events_json.c - Segment-spec JSON events -> struct pt_event (see events.h).
 */
#include "ingest/events.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ingest/fields.h"
#include "util/ckd.h"
#include "util/mem.h"

struct pt_arena_block {
    struct pt_arena_block *next;
    size_t len, cap;
    char data[];
};

void pt_evbatch_init(struct pt_evbatch *b)
{
    memset(b, 0, sizeof *b);
}

void pt_evbatch_release(struct pt_evbatch *b)
{
    struct pt_arena_block *a = b->arena;
    while (a) {
        struct pt_arena_block *n = a->next;
        pt_free(a);
        a = n;
    }
    pt_free(b->ev);
    memset(b, 0, sizeof *b);
}

static void *arena_alloc(struct pt_evbatch *b, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    struct pt_arena_block *a = b->arena;
    if (a == NULL || a->cap - a->len < n) {
        size_t cap = n > 65536 ? n : 65536;
        a = pt_malloc(sizeof *a + cap);
        if (a == NULL)
            return NULL;
        a->cap = cap;
        a->len = 0;
        a->next = b->arena;
        b->arena = a;
    }
    void *p = a->data + a->len;
    a->len += n;
    return p;
}

char *pt_evbatch_strdup(struct pt_evbatch *b, const char *s, size_t n)
{
    char *p = arena_alloc(b, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static const char *const kind_names[PT_K_NKINDS] = {
    [PT_K_CUSTOM] = "custom",
    [PT_K_ORDER_COMPLETED] = "Order Completed",
    [PT_K_ORDER_REFUNDED] = "Order Refunded",
    [PT_K_PRODUCT_VIEWED] = "Product Viewed",
    [PT_K_PRODUCT_ADDED] = "Product Added",
    [PT_K_PRODUCT_REMOVED] = "Product Removed",
    [PT_K_CART_VIEWED] = "Cart Viewed",
    [PT_K_CHECKOUT_STARTED] = "Checkout Started",
    [PT_K_STORE_VISITED] = "Store Visited",
    [PT_K_CONSENT_CHANGED] = "Consent Changed",
    [PT_K_WISHLIST_ADDED] = "Product Added to Wishlist",
    [PT_K_WISHLIST_REMOVED] = "Product Removed from Wishlist",
};

const char *pt_ev_kind_name(enum pt_ev_kind k)
{
    return (unsigned)k < PT_K_NKINDS ? kind_names[k] : "custom";
}

const char *pt_ev_type_name(enum pt_ev_type t)
{
    switch (t) {
    case PT_EV_TRACK: return "track";
    case PT_EV_IDENTIFY: return "identify";
    case PT_EV_ALIAS: return "alias";
    case PT_EV_PAGE: return "page";
    case PT_EV_SCREEN: return "screen";
    case PT_EV_GROUP: return "group";
    }
    return "?";
}

static const char *const consent_names[] = {"email_marketing", "sms", "profiling"};

const char *pt_consent_name(unsigned bit)
{
    return bit < 3 ? consent_names[bit] : "?";
}

/* ---- error helpers ---- */

struct ctx {
    struct pt_evbatch *b;
    struct pt_everr *err;
    char prefix[48]; /* "batch[3]." or "" */
    int index;
    int64_t now;
};

__attribute__((format(printf, 4, 5))) static int fail(struct ctx *c, const char *code,
                                                      const char *field, const char *fmt, ...)
{
    struct pt_everr *e = c->err;
    e->index = c->index;
    snprintf(e->code, sizeof e->code, "%s", code);
    snprintf(e->field, sizeof e->field, "%s%s", c->prefix, field ? field : "");
    if (field == NULL && e->field[0]) /* drop the trailing '.' of the prefix */
        e->field[strlen(e->field) - 1] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return strcmp(code, "too_large") == 0 ? PT_ETOOBIG : PT_EPARSE;
}

static int nomem(struct ctx *c)
{
    fail(c, "internal", NULL, "out of memory");
    return PT_ENOMEM;
}

/* ---- field readers ---- */

/* An id: a non-empty string or an integer (made decimal), at most max bytes. */
static int get_id(struct ctx *c, json_t *o, const char *key, const char *field, size_t max,
                  const char **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    char tmp[32];
    const char *s;
    size_t n;
    if (json_is_string(v)) {
        s = json_string_value(v);
        n = json_string_length(v);
    } else if (json_is_integer(v)) {
        n = (size_t)snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = tmp;
    } else {
        return fail(c, "invalid_field", field, "%s must be a string", field);
    }
    if (n == 0)
        return fail(c, "invalid_field", field, "%s must not be empty", field);
    if (n > max)
        return fail(c, "too_large", field, "%s is %zu bytes; the limit is %zu", field, n, max);
    if (memchr(s, '\0', n))
        return fail(c, "invalid_field", field, "%s contains a NUL character", field);
    *out = pt_evbatch_strdup(c->b, s, n);
    return *out ? 0 : nomem(c);
}

static int get_str(struct ctx *c, json_t *o, const char *key, const char *field, const char **out)
{
    return get_id(c, o, key, field, PT_EV_MAX_STRING, out);
}

int pt_currency_scale(const char *cur)
{
    static const char zero[][4] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW",
                                   "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"};
    static const char three[][4] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"};
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
        if (strcmp(cur, zero[i]) == 0)
            return 0;
    for (size_t i = 0; i < sizeof three / sizeof three[0]; i++)
        if (strcmp(cur, three[i]) == 0)
            return 3;
    return 2;
}

/* Money: a JSON number or a decimal string, in major units -> minor units. */
static int get_money(struct ctx *c, json_t *o, const char *key, const char *field, int scale,
                     int allow_neg, int64_t *out, int *have)
{
    json_t *v = json_object_get(o, key);
    *have = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    static const double pow10[] = {1, 10, 100, 1000};
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        int64_t m;
        if (pt_ckd_mul(&m, (int64_t)x, (int64_t)pow10[scale]) || m > 1000000000000000LL ||
            m < -1000000000000000LL)
            return fail(c, "invalid_field", field, "%s is out of range", field);
        *out = m;
    } else if (json_is_real(v)) {
        double x = json_real_value(v) * pow10[scale];
        if (!isfinite(x) || fabs(x) > 1e15)
            return fail(c, "invalid_field", field, "%s is out of range", field);
        double r = nearbyint(x);
        /* x carries at most ~2 ulp of rounding (decimal -> double, then the
         * multiply); anything further from a whole minor unit is a real extra
         * decimal, however large x is. */
        if (fabs(x - r) > 16 * DBL_EPSILON * (fabs(x) > 1 ? fabs(x) : 1))
            return fail(c, "invalid_field", field, "%s has more than %d decimal places", field,
                        scale);
        *out = (int64_t)r;
    } else if (json_is_string(v)) {
        const char *why = NULL;
        if (pt_parse_decimal(json_string_value(v), json_string_length(v), scale, PT_DEC_ALLOW_NEG,
                             out, &why))
            return fail(c, "invalid_field", field, "%s: %s", field, why ? why : "not a number");
    } else {
        return fail(c, "invalid_field", field, "%s must be a number", field);
    }
    if (!allow_neg && *out < 0)
        return fail(c, "invalid_field", field, "%s must not be negative", field);
    *have = 1;
    return 0;
}

static int get_quantity(struct ctx *c, json_t *o, const char *field, int64_t *q)
{
    json_t *v = json_object_get(o, "quantity");
    *q = 1;
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
        fabs(json_real_value(v)) < 1e9) {
        *q = (int64_t)json_real_value(v);
    } else if (json_is_integer(v)) {
        *q = (int64_t)json_integer_value(v);
    } else {
        return fail(c, "invalid_field", field, "%s must be a whole number", field);
    }
    if (*q < 1 || *q > 1000000)
        return fail(c, "invalid_field", field, "%s must be between 1 and 1000000", field);
    return 0;
}

static int get_time(struct ctx *c, json_t *o, int64_t *t)
{
    static const char *const keys[] = {"timestamp", "originalTimestamp"};
    *t = c->now;
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(o, keys[i]);
        if (v == NULL || json_is_null(v))
            continue;
        if (!json_is_string(v))
            return fail(c, "invalid_field", keys[i], "%s must be an ISO-8601 string", keys[i]);
        const char *why = NULL;
        if (pt_parse_time(json_string_value(v), json_string_length(v),
                          PT_TIME_T_SEP | PT_TIME_ZONE | PT_TIME_FRACTION | PT_TIME_DATE_ONLY, t,
                          &why))
            return fail(c, "invalid_field", keys[i], "%s: %s (\"%.40s\")", keys[i],
                        why ? why : "not an ISO-8601 time", json_string_value(v));
        return 0;
    }
    return 0;
}

static enum pt_ev_kind kind_of(const char *name)
{
    for (int k = 1; k < PT_K_NKINDS; k++)
        if (strcmp(name, kind_names[k]) == 0)
            return (enum pt_ev_kind)k;
    if (strcmp(name, "Consent Updated") == 0)
        return PT_K_CONSENT_CHANGED;
    return PT_K_CUSTOM;
}

static int get_currency(struct ctx *c, json_t *p, char cur[4])
{
    json_t *v = json_object_get(p, "currency");
    cur[0] = '\0';
    if (v == NULL || json_is_null(v))
        return 0;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (s == NULL || json_string_length(v) != 3)
        return fail(c, "invalid_field", "properties.currency",
                    "properties.currency must be a 3-letter ISO-4217 code");
    for (int i = 0; i < 3; i++) {
        char ch = s[i];
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        if (ch < 'A' || ch > 'Z')
            return fail(c, "invalid_field", "properties.currency",
                        "properties.currency must be a 3-letter ISO-4217 code");
        cur[i] = ch;
    }
    cur[3] = '\0';
    return 0;
}

/* One product object (properties itself for Product Viewed/Added/Removed). */
static int get_line(struct ctx *c, json_t *p, const char *field, int scale, struct pt_evline *l)
{
    char f[96];
    int rc, have;
    memset(l, 0, sizeof *l);
#define SUB(name) (snprintf(f, sizeof f, "%s%s", field, name), f)
    if ((rc = get_id(c, p, "product_id", SUB("product_id"), PT_EV_MAX_ID, &l->product_id)) ||
        (rc = get_id(c, p, "sku", SUB("sku"), PT_EV_MAX_ID, &l->sku)) ||
        (rc = get_str(c, p, "category", SUB("category"), &l->category)) ||
        (rc = get_str(c, p, "name", SUB("name"), &l->name)) ||
        (rc = get_money(c, p, "price", SUB("price"), scale, 0, &l->price, &have)) ||
        (rc = get_quantity(c, p, SUB("quantity"), &l->quantity)))
        return rc;
#undef SUB
    return 0;
}

static int get_products(struct ctx *c, json_t *p, int scale, struct pt_event *ev)
{
    json_t *a = json_object_get(p, "products");
    if (a == NULL || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return fail(c, "invalid_field", "properties.products", "properties.products must be an array");
    size_t n = json_array_size(a);
    if (n > PT_EV_MAX_PRODUCTS)
        return fail(c, "too_large", "properties.products",
                    "properties.products has %zu items; the limit is %d", n, PT_EV_MAX_PRODUCTS);
    if (n == 0)
        return 0;
    ev->lines = arena_alloc(c->b, n * sizeof *ev->lines);
    if (ev->lines == NULL)
        return nomem(c);
    for (size_t i = 0; i < n; i++) {
        char f[48];
        snprintf(f, sizeof f, "properties.products[%zu].", i);
        json_t *x = json_array_get(a, i);
        if (!json_is_object(x)) {
            f[strlen(f) - 1] = '\0';
            return fail(c, "invalid_field", f, "%s must be an object", f);
        }
        int rc = get_line(c, x, f, scale, &ev->lines[i]);
        if (rc)
            return rc;
    }
    ev->nlines = (uint32_t)n;
    return 0;
}

static int64_t lines_value(const struct pt_event *ev)
{
    int64_t s = 0;
    for (uint32_t i = 0; i < ev->nlines; i++) {
        int64_t v;
        if (pt_ckd_mul(&v, ev->lines[i].price, ev->lines[i].quantity) || pt_ckd_add(&s, s, v))
            return -1;
    }
    return s > 1000000000000000LL ? -1 : s; /* the cap of every amount: 10^15 minor units */
}

/* products[], then the amount: properties.<first>, else properties.<second>,
 * else the products' sum; *have = 0 if none of them is given. */
static int get_value(struct ctx *c, json_t *p, int scale, const char *first, const char *second,
                     struct pt_event *ev, int *have)
{
    char f1[32], f2[32];
    snprintf(f1, sizeof f1, "properties.%s", first);
    snprintf(f2, sizeof f2, "properties.%s", second);
    int rc;
    if ((rc = get_products(c, p, scale, ev)) ||
        (rc = get_money(c, p, first, f1, scale, 0, &ev->amount, have)) ||
        (!*have && (rc = get_money(c, p, second, f2, scale, 0, &ev->amount, have))))
        return rc;
    if (!*have && ev->nlines) {
        ev->amount = lines_value(ev);
        if (ev->amount < 0)
            return fail(c, "invalid_field", "properties.products",
                        "the products' price x quantity is out of range");
        *have = 1;
    }
    return 0;
}

static int consent_bit(const char *purpose)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(purpose, consent_names[i]) == 0)
            return 1 << i;
    if (strcmp(purpose, "email") == 0)
        return PT_CONSENT_EMAIL;
    return 0;
}

static int get_consents(struct ctx *c, json_t *p, struct pt_event *ev)
{
    json_t *m = json_object_get(p, "consents");
    if (m) {
        if (!json_is_object(m))
            return fail(c, "invalid_field", "properties.consents",
                        "properties.consents must be an object of purpose: true|false");
        const char *k;
        json_t *v;
        json_object_foreach(m, k, v)
        {
            int bit = consent_bit(k);
            if (!bit)
                return fail(c, "invalid_field", "properties.consents",
                            "unknown consent purpose \"%.40s\" (email_marketing, sms, profiling)", k);
            if (!json_is_boolean(v))
                return fail(c, "invalid_field", "properties.consents",
                            "consent \"%s\" must be true or false", k);
            ev->consent_set |= (uint8_t)bit;
            if (json_is_true(v))
                ev->consent_val |= (uint8_t)bit;
        }
    }
    json_t *pu = json_object_get(p, "purpose");
    if (pu) {
        int bit = json_is_string(pu) ? consent_bit(json_string_value(pu)) : 0;
        if (!bit)
            return fail(c, "invalid_field", "properties.purpose",
                        "properties.purpose must be email_marketing, sms or profiling");
        json_t *g = json_object_get(p, "granted");
        if (!json_is_boolean(g))
            return fail(c, "missing_field", "properties.granted",
                        "properties.granted (true or false) is required with purpose");
        ev->consent_set |= (uint8_t)bit;
        if (json_is_true(g))
            ev->consent_val |= (uint8_t)bit;
    }
    if (!ev->consent_set)
        return fail(c, "missing_field", "properties.consents",
                    "a consent change needs properties.consents or properties.purpose");
    return 0;
}

/* The properties that give a track event its meaning. */
static int decode_track(struct ctx *c, json_t *o, struct pt_event *ev)
{
    json_t *p = json_object_get(o, "properties");
    if (p && !json_is_object(p) && !json_is_null(p))
        return fail(c, "invalid_field", "properties", "properties must be an object");
    json_t *empty = NULL;
    if (p == NULL || json_is_null(p))
        p = empty = json_object();
    if (p == NULL)
        return nomem(c);
    int rc = 0, scale, have = 0;
    if ((rc = get_currency(c, p, ev->currency)))
        goto out;
    scale = ev->currency[0] ? pt_currency_scale(ev->currency) : 2;
    switch (ev->kind) {
    case PT_K_ORDER_COMPLETED:
    case PT_K_ORDER_REFUNDED:
        if ((rc = get_id(c, p, "order_id", "properties.order_id", PT_EV_MAX_ID, &ev->order_id)))
            goto out;
        if (ev->order_id == NULL) {
            rc = fail(c, "missing_field", "properties.order_id", "%s needs properties.order_id",
                      ev->name);
            goto out;
        }
        if ((rc = get_value(c, p, scale, "revenue", "total", ev, &have)))
            goto out;
        if (!have && ev->kind == PT_K_ORDER_COMPLETED) {
            rc = fail(c, "missing_field", "properties.revenue",
                      "Order Completed needs properties.revenue, properties.total or products");
            goto out;
        }
        ev->has_amount = have;
        if (ev->kind == PT_K_ORDER_COMPLETED) {
            int hd = 0;
            if ((rc = get_money(c, p, "discount", "properties.discount", scale, 0, &ev->discount,
                                &hd)))
                goto out;
            json_t *coupon = json_object_get(p, "coupon"); /* "" or null: no coupon */
            ev->discounted = ev->discount > 0 || (json_is_string(coupon) &&
                                                  json_string_length(coupon) > 0);
            /* a friend's referral code (docs/loyalty.md "Referrals") */
            json_t *rcode = json_object_get(p, "referral_code"); /* "": none */
            if (!(json_is_string(rcode) && json_string_length(rcode) == 0) &&
                (rc = get_id(c, p, "referral_code", "properties.referral_code", 64,
                             &ev->referral)))
                goto out;
        }
        break;
    case PT_K_PRODUCT_VIEWED:
    case PT_K_PRODUCT_ADDED:
    case PT_K_PRODUCT_REMOVED:
    case PT_K_WISHLIST_ADDED:
    case PT_K_WISHLIST_REMOVED:
        ev->lines = arena_alloc(c->b, sizeof *ev->lines);
        if (ev->lines == NULL) {
            rc = nomem(c);
            goto out;
        }
        if ((rc = get_line(c, p, "properties.", scale, ev->lines)))
            goto out;
        ev->nlines = 1;
        if (ev->kind != PT_K_PRODUCT_VIEWED && ev->lines[0].product_id == NULL &&
            ev->lines[0].sku == NULL) {
            rc = fail(c, "missing_field", "properties.product_id",
                      "%s needs properties.product_id or properties.sku", ev->name);
            goto out;
        }
        ev->amount = lines_value(ev);
        if (ev->amount < 0) {
            rc = fail(c, "invalid_field", "properties.price", "price x quantity is out of range");
            goto out;
        }
        ev->has_amount = 1;
        break;
    case PT_K_CART_VIEWED:
    case PT_K_CHECKOUT_STARTED:
        if ((rc = get_value(c, p, scale, "value", "revenue", ev, &have)))
            goto out;
        ev->has_amount = have;
        break;
    case PT_K_STORE_VISITED:
        rc = get_id(c, p, "store_id", "properties.store_id", PT_EV_MAX_ID, &ev->store_id);
        break;
    case PT_K_CONSENT_CHANGED:
        rc = get_consents(c, p, ev);
        break;
    default:
        break;
    }
out:
    if (empty)
        json_decref(empty);
    return rc;
}

/* Stored events keep numbers as sent: 15 significant digits re-print any
 * decimal of up to 15 digits exactly (167.17 stays 167.17, not 167.16999...). */
#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* json_dumps() strings come from jansson's allocator (libc unless someone
 * called json_set_alloc_funcs): give them back through it, not pt_free. */
static void dump_free(char *s)
{
    json_free_t jfree;
    json_get_alloc_funcs(NULL, &jfree);
    jfree(s);
}

static int decode_one(struct ctx *c, json_t *o, enum pt_ev_type type, struct pt_event *ev)
{
    int rc;
    memset(ev, 0, sizeof *ev);
    if (!json_is_object(o))
        return fail(c, "invalid_field", NULL, "an event must be a JSON object");
    if (type == 0) {
        json_t *t = json_object_get(o, "type");
        const char *s = json_is_string(t) ? json_string_value(t) : NULL;
        if (s == NULL)
            return fail(c, "missing_field", "type",
                        "type is required in a batch (track, identify, alias, page, screen, group)");
        for (int i = PT_EV_TRACK; i <= PT_EV_GROUP; i++)
            if (strcmp(s, pt_ev_type_name((enum pt_ev_type)i)) == 0)
                type = (enum pt_ev_type)i;
        if (type == 0)
            return fail(c, "invalid_field", "type", "unknown type \"%.40s\"", s);
    }
    ev->type = type;
    if ((rc = get_id(c, o, "messageId", "messageId", PT_EV_MAX_ID, &ev->message_id)) ||
        (rc = get_id(c, o, "userId", "userId", PT_EV_MAX_ID, &ev->user_id)) ||
        (rc = get_id(c, o, "anonymousId", "anonymousId", PT_EV_MAX_ID, &ev->anonymous_id)) ||
        (rc = get_time(c, o, &ev->t)))
        return rc;
    if (type == PT_EV_ALIAS) {
        if ((rc = get_id(c, o, "previousId", "previousId", PT_EV_MAX_ID, &ev->previous_id)))
            return rc;
        if (ev->previous_id == NULL)
            return fail(c, "missing_field", "previousId", "alias needs previousId");
        if (ev->user_id == NULL)
            return fail(c, "missing_field", "userId", "alias needs userId");
    } else if (ev->user_id == NULL && ev->anonymous_id == NULL) {
        return fail(c, "missing_field", "userId", "userId or anonymousId is required");
    }
    if (type == PT_EV_TRACK) {
        json_t *n = json_object_get(o, "event");
        if (!json_is_string(n) || json_string_length(n) == 0)
            return fail(c, "missing_field", "event", "track needs a non-empty event name");
        if ((rc = get_str(c, o, "event", "event", &ev->name)))
            return rc;
        ev->kind = kind_of(ev->name);
        if ((rc = decode_track(c, o, ev)))
            return rc;
    } else if (type == PT_EV_PAGE || type == PT_EV_SCREEN) {
        if ((rc = get_str(c, o, "name", "name", &ev->name)))
            return rc;
    } else if (type == PT_EV_IDENTIFY) {
        json_t *tr = json_object_get(o, "traits");
        if (tr && !json_is_null(tr)) {
            if (!json_is_object(tr))
                return fail(c, "invalid_field", "traits", "traits must be an object");
            char *s = json_dumps(tr, DUMP_FLAGS);
            if (s == NULL)
                return nomem(c);
            ev->traits = pt_evbatch_strdup(c->b, s, strlen(s));
            dump_free(s);
            if (ev->traits == NULL)
                return nomem(c);
        }
    }
    char *s = json_dumps(o, DUMP_FLAGS);
    if (s == NULL)
        return nomem(c);
    size_t n = strlen(s);
    if (n > PT_EV_MAX_EVENT) {
        dump_free(s);
        return fail(c, "too_large", NULL, "the event is %zu bytes; the limit is %u", n,
                    PT_EV_MAX_EVENT);
    }
    ev->json = pt_evbatch_strdup(c->b, s, n);
    ev->json_len = n;
    dump_free(s);
    return ev->json ? 0 : nomem(c);
}

/* Deepest nesting of [ and { outside strings. */
static int depth_of(const char *s, size_t n)
{
    int d = 0, max = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == '[' || ch == '{') {
            if (++d > max)
                max = d;
        } else if (ch == ']' || ch == '}') {
            d--;
        }
    }
    return max;
}

static int push(struct ctx *c, struct pt_evbatch *b, struct pt_event **ev)
{
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 16;
        struct pt_event *x = pt_realloc_array(b->ev, nc, sizeof *x);
        if (x == NULL)
            return nomem(c);
        b->ev = x;
        b->cap = nc;
    }
    *ev = &b->ev[b->n];
    return 0;
}

int pt_events_decode(const char *body, size_t len, enum pt_ev_type type, int64_t now, int partial,
                     struct pt_evbatch *b, int *orig, struct pt_everr *bad, size_t nbad_cap,
                     size_t *nbad, struct pt_everr *err)
{
    struct ctx c = {.b = b, .err = err, .index = -1, .now = now};
    memset(err, 0, sizeof *err);
    if (nbad)
        *nbad = 0;
    if (len > PT_EV_MAX_BODY)
        return fail(&c, "too_large", NULL, "the body is %zu bytes; the limit is %u", len,
                    PT_EV_MAX_BODY);
    int depth_limit = PT_EV_MAX_DEPTH + (type == 0 ? 2 : 0);
    if (depth_of(body, len) > depth_limit)
        return fail(&c, "too_large", NULL, "JSON nesting is deeper than %d levels", depth_limit);
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return fail(&c, "invalid_json", NULL, "invalid JSON at line %d, column %d: %s", je.line,
                    je.column, je.text);
    int rc = 0;
    if (!json_is_object(root)) {
        rc = fail(&c, "invalid_json", NULL, "the body must be a JSON object");
        goto out;
    }
    if (type != 0) {
        struct pt_event *ev;
        if ((rc = push(&c, b, &ev)))
            goto out;
        if ((rc = decode_one(&c, root, type, ev)) == 0) {
            if (orig)
                orig[b->n] = 0;
            b->n++;
        }
        goto out;
    }
    json_t *arr = json_object_get(root, "batch");
    if (!json_is_array(arr)) {
        rc = fail(&c, "missing_field", "batch", "the body needs a \"batch\" array");
        goto out;
    }
    size_t n = json_array_size(arr);
    if (n > PT_EV_MAX_BATCH) {
        rc = fail(&c, "too_large", "batch", "batch has %zu events; the limit is %d", n,
                  PT_EV_MAX_BATCH);
        goto out;
    }
    if (n == 0) {
        rc = fail(&c, "invalid_field", "batch", "batch is empty");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct pt_event *ev;
        c.index = (int)i;
        snprintf(c.prefix, sizeof c.prefix, "batch[%zu].", i);
        if ((rc = push(&c, b, &ev)))
            goto out;
        struct pt_everr one;
        c.err = partial ? &one : err;
        rc = decode_one(&c, json_array_get(arr, i), 0, ev);
        c.err = err;
        if (rc == PT_ENOMEM) {
            if (partial) /* else nomem() already wrote *err and `one` is unset */
                *err = one;
            goto out;
        }
        if (rc == 0) {
            if (orig)
                orig[b->n] = (int)i;
            b->n++;
        } else if (!partial) {
            goto out;
        } else {
            if (*nbad < nbad_cap)
                bad[*nbad] = one;
            ++*nbad;
            rc = 0;
        }
    }
out:
    json_decref(root);
    return rc;
}
