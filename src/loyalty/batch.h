/*
 * batch.h - the body of POST /v1/loyalty/points, {"operations": [{"user_id",
 * "points", "kind", "reason", "idempotency_key"}, ...]}, parsed and checked
 * whole before any operation runs (docs/api.yaml).
 *
 * Layer: loyalty (util; jansson). Ownership: a parsed batch owns the JSON
 * its strings point into (pt_loy_batch_release). Thread-safe on distinct
 * batches. Errors: PT_EPARSE with `field` (at least 64 bytes: "operations",
 * "operations[3].points") and msg (at least 256 bytes); PT_ENOMEM.
 */
#ifndef PT_LOYALTY_BATCH_H
#define PT_LOYALTY_BATCH_H

#include <stddef.h>
#include <stdint.h>

#define PT_LOY_BATCH_MAX 1000 /* operations in one request */

struct pt_loy_point_op {
    const char *user_id;
    int64_t points;           /* non-zero */
    int earn;                 /* kind "earn" (points > 0); else an adjustment */
    const char *reason, *key; /* NULL if not given */
};

struct pt_loy_batch {
    struct pt_loy_point_op *ops;
    size_t n;
    void *json; /* the parsed document (json_t *) */
};

int pt_loy_batch_parse(const char *json, size_t len, struct pt_loy_batch *b, char *field,
                       char *msg);
void pt_loy_batch_release(struct pt_loy_batch *b);

#endif
