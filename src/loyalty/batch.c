/*
 * batch.c - a batch of points operations (batch.h).
 */
#include "loyalty/batch.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "loyalty/program.h"
#include "util/err.h"
#include "util/mem.h"

#define MAX_ID 256 /* bytes of a userId (PT_EV_MAX_ID) */

/* A batch operation's kind: absent, "adjust", or "earn" with points > 0. */
static int kind_bad(const json_t *k, json_int_t points)
{
    const char *s = json_string_value(k);
    if (k == NULL)
        return 0;
    if (s == NULL)
        return 1;
    return strcmp(s, "adjust") != 0 && !(strcmp(s, "earn") == 0 && points > 0);
}

static int fail(struct pt_loy_batch *b, json_t *o, char *field, char *msg, const char *f,
                const char *m)
{
    snprintf(field, 64, "%s", f);
    snprintf(msg, 256, "%s", m);
    json_decref(o);
    memset(b, 0, sizeof *b);
    return PT_EPARSE;
}

int pt_loy_batch_parse(const char *json, size_t len, struct pt_loy_batch *b, char *field, char *msg)
{
    json_error_t je;
    memset(b, 0, sizeof *b);
    json_t *o = json_loadb(json, len, 0, &je);
    json_t *ops = json_object_get(o, "operations");
    if (!json_is_array(ops)) {
        char m[256];
        snprintf(m, sizeof m, "the body must be {\"operations\": [...]}%s%s", o ? "" : ": ",
                 o ? "" : je.text);
        return fail(b, o, field, msg, "operations", m);
    }
    size_t n = json_array_size(ops);
    if (n == 0 || n > PT_LOY_BATCH_MAX)
        return fail(b, o, field, msg, "operations", "operations must hold 1 to 1000 items");
    b->ops = pt_calloc(n, sizeof *b->ops);
    if (b->ops == NULL) {
        json_decref(o);
        return PT_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *op = json_array_get(ops, i);
        json_t *u = json_object_get(op, "user_id"), *p = json_object_get(op, "points");
        json_t *k = json_object_get(op, "idempotency_key"), *r = json_object_get(op, "reason");
        const char *bad =
            !json_is_object(op) ? ""
            : !json_is_string(u) || json_string_length(u) == 0 || json_string_length(u) > MAX_ID
                ? "user_id"
            : !json_is_integer(p) || json_integer_value(p) == 0 ||
                    json_integer_value(p) > PT_LOY_MAX_POINTS ||
                    json_integer_value(p) < -PT_LOY_MAX_POINTS
                ? "points"
            : k && (!json_is_string(k) || json_string_length(k) == 0 || json_string_length(k) > 255)
                ? "idempotency_key"
            : r && (!json_is_string(r) || json_string_length(r) == 0 || json_string_length(r) > 200)
                ? "reason"
            : kind_bad(json_object_get(op, "kind"), json_integer_value(p)) ? "kind"
                                                                           : NULL;
        if (bad) {
            char f[64];
            snprintf(f, sizeof f, "operations[%zu]%s%s", i, *bad ? "." : "", bad);
            pt_free(b->ops);
            return fail(b, o, field, msg, f,
                        "each operation needs user_id (a string), points (a non-zero integer), "
                        "and optionally kind (\"earn\" with points > 0, or \"adjust\", the "
                        "default), reason and idempotency_key (strings)");
        }
        const char *ks = json_string_value(json_object_get(op, "kind"));
        b->ops[i] = (struct pt_loy_point_op){.user_id = json_string_value(u),
                                             .points = json_integer_value(p),
                                             .earn = ks && strcmp(ks, "earn") == 0,
                                             .reason = json_string_value(r),
                                             .key = json_string_value(k)};
    }
    b->n = n;
    b->json = o;
    return 0;
}

void pt_loy_batch_release(struct pt_loy_batch *b)
{
    pt_free(b->ops);
    json_decref(b->json);
    memset(b, 0, sizeof *b);
}
