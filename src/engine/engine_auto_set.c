/*
 * engine_auto_set.c - a shop's messaging settings (PUT /v1/messaging/settings;
 * docs/automation.md "Settings"): sender, link base, quiet hours, time zone,
 * default hour and frequency caps, with the defaults a shop without settings
 * gets; and the signatures of tracking links.
 *
 *   {"from": "shop@example.com", "from_name": "Example", "links_base_url": "https://...",
 *    "quiet_hours": {"start": 21, "end": 8}, "timezone_offset_minutes": 60,
 *    "default_hour": 10, "caps": {"email": {"max": 2, "per": "7d"}, "webhook": {...}},
 *    "webhook_secret": "at least 16 bytes"}
 */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"
#include "util/mem.h"

#define DAY 86400

void engine_auto_sign(struct pt_engine *g, const char *what, size_t len, char out[33])
{
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(mac, (const unsigned char *)what, len, g->secret);
    sodium_bin2hex(out, 33, mac, 16);
}

static void defaults(struct pt_engine *g, uint32_t shop, struct msgset *m)
{
    memset(m, 0, sizeof *m);
    m->shop = shop;
    /* from and base_url stay empty: the server's, as they are when used */
    m->quiet_start = 21;
    m->quiet_end = 8;
    m->default_hour = 10;
    m->cap_max[PT_CHAN_EMAIL] = 2;
    m->cap_per[PT_CHAN_EMAIL] = 7 * DAY;
    m->cap_max[PT_CHAN_WEBHOOK] = 2;
    m->cap_per[PT_CHAN_WEBHOOK] = 7 * DAY;
    char what[32];
    int n = snprintf(what, sizeof what, "webhook:%u", shop);
    char a[33], b[33];
    engine_auto_sign(g, what, (size_t)n, a);
    what[0] = 'W';
    engine_auto_sign(g, what, (size_t)n, b);
    snprintf(m->secret, sizeof m->secret, "%s%s", a, b);
}

const char *engine_auto_from(const struct pt_engine *g, const struct msgset *m)
{
    return m->from[0] ? m->from : g->mail_from ? g->mail_from : "patron@localhost";
}

const char *engine_auto_base(const struct pt_engine *g, const struct msgset *m)
{
    return m->base_url[0] ? m->base_url : g->public_url ? g->public_url : "http://127.0.0.1:8080";
}

const struct msgset *engine_auto_settings(struct pt_engine *g, uint32_t shop)
{
    for (size_t i = 0; i < g->nsets; i++)
        if (g->sets[i].shop == shop)
            return &g->sets[i];
    static __thread struct msgset d; /* a shop without settings: the defaults */
    defaults(g, shop, &d);
    return &d;
}

static int bad(char *field, const char *f, struct pt_err *e, const char *why)
{
    snprintf(field, 128, "%s", f);
    return pt_err_set(e, PT_EPARSE, "%s: %s", f, why);
}

static int str_to(json_t *v, char *out, size_t cap, size_t min, char *field, const char *f,
                  struct pt_err *e)
{
    if (v == NULL || json_is_null(v)) {
        out[0] = '\0'; /* null: not set (the default) */
        return 0;
    }
    const char *s = json_string_value(v);
    size_t n = s ? json_string_length(v) : 0;
    if (s == NULL || n < min || n >= cap || strlen(s) != n)
        return bad(field, f, e, "must be a string of the allowed length");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return bad(field, f, e, "must not hold control characters");
    memcpy(out, s, n + 1);
    return 0;
}

static int int_in(json_t *v, int lo, int hi, int *out, char *field, const char *f, struct pt_err *e)
{
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        char why[64];
        snprintf(why, sizeof why, "must be an integer from %d to %d", lo, hi);
        return bad(field, f, e, why);
    }
    *out = (int)json_integer_value(v);
    return 0;
}

static int only(json_t *o, const char *const *keys, const char *prefix, char *field,
                struct pt_err *e)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        int ok = 0;
        for (size_t i = 0; keys[i]; i++)
            ok |= strcmp(k, keys[i]) == 0;
        if (!ok) {
            char f[128];
            snprintf(f, sizeof f, "%s%s", prefix, k);
            return bad(field, f, e, "unknown key");
        }
    }
    return 0;
}

static int caps(json_t *c, struct msgset *m, char *field, struct pt_err *e)
{
    static const char *const chans[] = {"email", "webhook", NULL};
    static const char *const ck[] = {"max", "per", NULL};
    if (!json_is_object(c))
        return bad(field, "caps", e, "must be an object");
    int rc = only(c, chans, "caps.", field, e);
    for (int ch = PT_CHAN_EMAIL; rc == 0 && ch <= PT_CHAN_WEBHOOK; ch++) {
        json_t *x = json_object_get(c, chans[ch - 1]);
        if (x == NULL)
            continue;
        char f[64];
        snprintf(f, sizeof f, "caps.%s", chans[ch - 1]);
        if (json_is_null(x)) {
            m->cap_max[ch] = 0; /* no cap */
            continue;
        }
        if (!json_is_object(x))
            return bad(field, f, e, "must be an object {\"max\", \"per\"} or null");
        char p[72];
        snprintf(p, sizeof p, "%s.", f);
        if ((rc = only(x, ck, p, field, e)))
            return rc;
        snprintf(f, sizeof f, "caps.%s.max", chans[ch - 1]);
        if (json_object_get(x, "max") == NULL || json_object_get(x, "per") == NULL)
            return bad(field, f, e, "max and per are both required");
        if ((rc = int_in(json_object_get(x, "max"), 1, 1000, &m->cap_max[ch], field, f, e)))
            return rc;
        snprintf(f, sizeof f, "caps.%s.per", chans[ch - 1]);
        const char *per = json_string_value(json_object_get(x, "per"));
        if (per == NULL || pt_auto_duration(per, &m->cap_per[ch]) || m->cap_per[ch] > 365 * DAY ||
            m->cap_per[ch] < 3600)
            return bad(field, f, e, "must be a duration from 1h to 365d, e.g. \"7d\"");
    }
    return rc;
}

int engine_auto_settings_parse(struct pt_engine *g, uint32_t shop, const char *json,
                               struct msgset *out, char *field, struct pt_err *e)
{
    static const char *const keys[] = {
        "from",         "from_name", "links_base_url", "quiet_hours", "timezone_offset_minutes",
        "default_hour", "caps",      "webhook_secret", NULL};
    static const char *const qk[] = {"start", "end", NULL};
    struct msgset m;
    defaults(g, shop, &m);
    field[0] = '\0';
    json_error_t je;
    json_t *o = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL) {
        pt_err_set(e, PT_EPARSE, "invalid JSON: %s", je.text);
        e->line = (uint64_t)(je.line > 0 ? je.line : 1);
        e->column = (uint64_t)(je.column > 0 ? je.column : 1);
        return PT_EPARSE;
    }
    int rc = json_is_object(o) ? only(o, keys, "", field, e)
                               : bad(field, "", e, "settings must be a JSON object");
    if (rc == 0)
        rc = str_to(json_object_get(o, "from"), m.from, sizeof m.from, 3, field, "from", e);
    if (rc == 0 && m.from[0] &&
        (strchr(m.from, '@') == NULL || strchr(m.from, ' ') || strchr(m.from, '<')))
        rc = bad(field, "from", e, "must be an email address");
    if (rc == 0)
        rc = str_to(json_object_get(o, "from_name"), m.from_name, sizeof m.from_name, 1, field,
                    "from_name", e);
    if (rc == 0)
        rc = str_to(json_object_get(o, "links_base_url"), m.base_url, sizeof m.base_url, 8, field,
                    "links_base_url", e);
    if (rc == 0 && m.base_url[0] && strncmp(m.base_url, "http://", 7) &&
        strncmp(m.base_url, "https://", 8))
        rc = bad(field, "links_base_url", e, "must start with http:// or https://");
    size_t bl = strlen(m.base_url);
    if (rc == 0 && bl && m.base_url[bl - 1] == '/')
        m.base_url[bl - 1] = '\0';
    json_t *q = json_object_get(o, "quiet_hours");
    if (rc == 0 && q && json_is_null(q))
        m.quiet_start = m.quiet_end = 0;
    else if (rc == 0 && q) {
        rc = json_is_object(q)
                 ? only(q, qk, "quiet_hours.", field, e)
                 : bad(field, "quiet_hours", e, "must be {\"start\", \"end\"} or null");
        if (rc == 0 && (!json_object_get(q, "start") || !json_object_get(q, "end")))
            rc = bad(field, "quiet_hours", e, "start and end are both required");
        if (rc == 0)
            rc = int_in(json_object_get(q, "start"), 0, 23, &m.quiet_start, field,
                        "quiet_hours.start", e);
        if (rc == 0)
            rc =
                int_in(json_object_get(q, "end"), 0, 23, &m.quiet_end, field, "quiet_hours.end", e);
    }
    if (rc == 0)
        rc = int_in(json_object_get(o, "timezone_offset_minutes"), -720, 840, &m.tz_min, field,
                    "timezone_offset_minutes", e);
    if (rc == 0)
        rc = int_in(json_object_get(o, "default_hour"), 0, 23, &m.default_hour, field,
                    "default_hour", e);
    if (rc == 0 && json_object_get(o, "caps"))
        rc = caps(json_object_get(o, "caps"), &m, field, e);
    if (rc == 0)
        rc = str_to(json_object_get(o, "webhook_secret"), m.secret, sizeof m.secret, 16, field,
                    "webhook_secret", e);
    json_decref(o);
    if (rc)
        return rc;
    /* what the shop set is kept as it gave it: keys it left out follow the
     * server's defaults (--mail-from, --public-url) as they are at each start */
    if ((m.json = pt_strndup(json, strlen(json))) == NULL)
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    *out = m;
    return 0;
}

void engine_auto_settings_json(const struct pt_engine *g, const struct msgset *m, struct pt_buf *b)
{
    const char *from = engine_auto_from(g, m), *base = engine_auto_base(g, m);
    static const char *const chans[] = {"", "email", "webhook"};
    pt_buf_adds(b, "{\"from\":");
    pt_buf_add_json_str(b, from, strlen(from));
    pt_buf_adds(b, ",\"from_name\":");
    if (m->from_name[0])
        pt_buf_add_json_str(b, m->from_name, strlen(m->from_name));
    else
        pt_buf_adds(b, "null");
    pt_buf_adds(b, ",\"links_base_url\":");
    pt_buf_add_json_str(b, base, strlen(base));
    if (m->quiet_start == m->quiet_end)
        pt_buf_adds(b, ",\"quiet_hours\":null");
    else
        pt_buf_printf(b, ",\"quiet_hours\":{\"start\":%d,\"end\":%d}", m->quiet_start,
                      m->quiet_end);
    pt_buf_printf(b, ",\"timezone_offset_minutes\":%d,\"default_hour\":%d,\"caps\":{", m->tz_min,
                  m->default_hour);
    for (int ch = PT_CHAN_EMAIL; ch <= PT_CHAN_WEBHOOK; ch++) {
        pt_buf_printf(b, "%s\"%s\":", ch > PT_CHAN_EMAIL ? "," : "", chans[ch]);
        if (m->cap_max[ch] == 0)
            pt_buf_adds(b, "null");
        else if (m->cap_per[ch] % DAY == 0)
            pt_buf_printf(b, "{\"max\":%d,\"per\":\"%lldd\"}", m->cap_max[ch],
                          (long long)(m->cap_per[ch] / DAY));
        else
            pt_buf_printf(b, "{\"max\":%d,\"per\":\"%llds\"}", m->cap_max[ch],
                          (long long)m->cap_per[ch]);
    }
    pt_buf_adds(b, "},\"webhook_secret\":");
    pt_buf_add_json_str(b, m->secret, strlen(m->secret));
    pt_buf_addc(b, '}');
}
