/*
 * engine_loy_ops.c - loyalty writes (PT_JOB_LOYALTY, engine.h): programme,
 * points, enrolment, redemption, rewards, voucher uses, code pools, imports
 * and batches. Each runs on the engine thread inside the group's
 * transaction and answers with an HTTP status and a JSON body; with an
 * idempotency key the answer is recorded in the same transaction.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"
#include "loyalty/batch.h"
#include "util/mem.h"

#define DAY 86400

static int answer_err(struct pt_loy_req *q, int status, const char *code, const char *field,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int answer_err(struct pt_loy_req *q, int status, const char *code, const char *field,
                      const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pt_buf_reset(&q->out);
    pt_buf_add_error(&q->out, code, field, msg); /* (the shape reply_error sends) */
    q->status = status;
    return 0;
}

/* A fresh key for an entry the caller gave no idempotency key for. */
static void random_key(char *out, size_t cap, const char *prefix)
{
    uint8_t r[12];
    char hex[25];
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(hex, sizeof hex, r, sizeof r);
    snprintf(out, cap, "%s:%s", prefix, hex);
}

/* The ledger key of an operation on `scope` (a member's row, a code): the
 * request's Idempotency-Key within that scope, or a fresh one. */
static void entry_key(const struct pt_loy_req *q, char *out, size_t cap, const char *prefix,
                      const char *scope)
{
    if (q->idem)
        snprintf(out, cap, "%s:%s:%s", prefix, scope, q->idem);
    else
        random_key(out, cap, prefix);
}

/* The profile root of user id, or -1 (answered 404). */
static int64_t member_root(struct pt_engine *g, int64_t shop, struct pt_loy_req *q,
                           const char *user_id)
{
    int64_t r = pt_state_find(&g->st, (uint32_t)shop, 0, user_id, strlen(user_id));
    if (r < 0) {
        answer_err(q, 404, "not_found", NULL, "no customer with userId \"%s\"", user_id);
        return -1;
    }
    return (int64_t)pt_state_root(&g->st, (size_t)r);
}

/* ---- programme ---- */

static int do_program(struct pt_engine *g, int64_t shop, struct pt_loy_req *q, int64_t now,
                      struct pt_err *e)
{
    struct pt_loy_program p;
    char field[160];
    struct pt_err pe;
    int rc = pt_loy_program_parse(q->json, q->len, &p, field, &pe);
    if (rc == PT_ENOMEM)
        return pt_err_set(e, rc, "out of memory");
    if (rc)
        return answer_err(q, rc == PT_ETOOBIG ? 413 : 400, "invalid_program", field, "%s", pe.msg);
    struct pt_buf canon;
    pt_buf_init(&canon);
    if (pt_loy_program_json(&p, &canon) || pt_buf_addc(&canon, '\0')) {
        pt_loy_program_release(&p);
        pt_buf_release(&canon);
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    }
    struct loy_prog *lp = engine_loy_prog(g, (uint32_t)shop);
    int64_t created = lp ? lp->created : now;
    int fresh = lp == NULL;
    rc = pt_store_loy_program_put(g->w, shop, canon.data, created, now, e);
    if (rc == 0 && lp == NULL) {
        struct loy_prog *x = pt_realloc_array(g->lprog, g->nlprog + 1, sizeof *x);
        if (x == NULL)
            rc = pt_err_set(e, PT_ENOMEM, "out of memory");
        else {
            g->lprog = x;
            lp = &g->lprog[g->nlprog++];
            memset(lp, 0, sizeof *lp);
            lp->shop = (uint32_t)shop;
            lp->created = created;
        }
    }
    if (rc) {
        pt_loy_program_release(&p);
        pt_buf_release(&canon);
        return rc;
    }
    pt_loy_program_release(&lp->p);
    pt_free(lp->json);
    lp->p = p;
    lp->json = canon.data; /* owned now */
    lp->updated = now;
    pt_buf_reset(&q->out);
    pt_buf_add(&q->out, lp->json, strlen(lp->json));
    q->status = fresh ? 201 : 200;
    return 0;
}

/* ---- points ---- */

static int points_one(struct pt_engine *g, int64_t shop, struct pt_loy_req *q, const char *user_id,
                      int64_t points, int kind, const char *reason, const char *base, int64_t now,
                      struct pt_err *e)
{
    if (engine_loy_prog(g, (uint32_t)shop) == NULL)
        return answer_err(q, 409, "no_program", NULL, "the shop has no loyalty programme");
    int64_t root = member_root(g, shop, q, user_id);
    if (root < 0)
        return 0;
    if (g->st.flags[root] & ROW_ANON)
        return answer_err(q, 409, "not_member", NULL, "anonymous profiles are not members");
    char key[400], why[220];
    if (base)
        snprintf(key, sizeof key, "%s:%lld", base, (long long)root + 1);
    else
        random_key(key, sizeof key, "manual");
    /* manual reasons are their own: they never count as purchases, events or bonuses */
    snprintf(why, sizeof why, "manual:%s", reason ? reason : "");
    struct loy_acct *a = engine_loy_acct(g, (size_t)root);
    int64_t bal = a ? a->balance : 0, prior;
    int rc = pt_store_loy_entry_find(g->w, shop, key, &prior, e);
    if (rc != PT_ENOTFOUND) { /* a retry of an entry already made (or a store error) */
        if (rc)
            return rc;
        pt_buf_reset(&q->out);
        pt_buf_printf(&q->out, "{\"entry\":%lld,\"user_id\":", (long long)prior);
        pt_buf_add_json_str(&q->out, user_id, strlen(user_id));
        pt_buf_printf(&q->out, ",\"points\":%lld,\"balance\":%lld,\"duplicate\":true}",
                      (long long)points, (long long)bal);
        q->status = 200;
        return 0;
    }
    if (points < 0 && bal + points < 0) /* (checked before anything is written) */
        return answer_err(q, 409, "insufficient_points", "points",
                          "the balance is %lld; taking %lld would make it negative", (long long)bal,
                          (long long)-points);
    rc = engine_loy_member(g, (uint32_t)shop, (size_t)root, now, &a, e);
    if (rc)
        return rc;
    int64_t id = 0;
    int dup = 0;
    if ((rc = engine_loy_entry(g, a, kind, points, now, 0, reason ? why : "manual", NULL, key, &id,
                               &dup, e)))
        return rc;
    struct loy_prog *lp = engine_loy_prog(g, (uint32_t)shop); /* (spend tiers: no change) */
    if (!dup && points > 0 && lp->p.tier_basis == PT_LOY_POINTS &&
        (rc = engine_loy_tier_check(g, a, now, 0, e)))
        return rc;
    pt_buf_reset(&q->out);
    pt_buf_printf(&q->out, "{\"entry\":%lld,\"user_id\":", (long long)id);
    pt_buf_add_json_str(&q->out, user_id, strlen(user_id));
    pt_buf_printf(&q->out, ",\"points\":%lld,\"balance\":%lld,\"duplicate\":%s}", (long long)points,
                  (long long)a->balance, dup ? "true" : "false");
    q->status = dup ? 200 : 201;
    return 0;
}

static int do_points(struct pt_engine *g, int64_t shop, struct pt_loy_req *q, int64_t now,
                     struct pt_err *e)
{
    char base[300];
    if (q->idem)
        snprintf(base, sizeof base, "api:%s", q->idem);
    return points_one(g, shop, q, q->user_id, q->points, q->kind, q->reason, q->idem ? base : NULL,
                      now, e);
}

/* {"operations":[...]} (loyalty/batch.h): parsed by the caller (q->batch,
 * the HTTP thread) or here. */
static int do_batch(struct pt_engine *g, int64_t shop, struct pt_loy_req *q, int64_t now,
                    struct pt_err *e)
{
    struct pt_loy_batch own;
    const struct pt_loy_batch *b = q->batch;
    if (b == NULL) {
        char field[64], msg[256];
        int rc = pt_loy_batch_parse(q->json, q->len, &own, field, msg);
        if (rc == PT_ENOMEM)
            return pt_err_set(e, rc, "out of memory");
        if (rc)
            return answer_err(q, 400,
                              strncmp(msg, "the body", 8) == 0 ? "invalid_json" : "invalid_field",
                              field, "%s", msg);
        b = &own;
    }
    struct pt_buf res;
    pt_buf_init(&res);
    pt_buf_adds(&res, "{\"results\":[");
    int rc = 0;
    for (size_t i = 0; i < b->n && rc == 0; i++) {
        const struct pt_loy_point_op *op = &b->ops[i];
        char base[300];
        if (op->key)
            snprintf(base, sizeof base, "op:%s", op->key);
        rc = points_one(g, shop, q, op->user_id, op->points, op->earn ? PT_LOY_EARN : PT_LOY_ADJUST,
                        op->reason, op->key ? base : NULL, now, e);
        pt_buf_printf(&res, "%s{\"status\":%d,\"result\":", i ? "," : "", q->status);
        pt_buf_add(&res, q->out.data, q->out.len);
        pt_buf_addc(&res, '}');
    }
    if (b == &own)
        pt_loy_batch_release(&own);
    if (rc == 0) {
        pt_buf_reset(&q->out);
        pt_buf_add(&q->out, res.data, res.len);
        pt_buf_adds(&q->out, "]}");
        q->status = 200;
    }
    pt_buf_release(&res);
    return rc;
}

static int do_enrol(struct pt_engine *g, int64_t shop, struct pt_loy_req *q, int64_t now,
                    struct pt_err *e)
{
    if (engine_loy_prog(g, (uint32_t)shop) == NULL)
        return answer_err(q, 409, "no_program", NULL, "the shop has no loyalty programme");
    size_t row;
    int64_t r = pt_state_find(&g->st, (uint32_t)shop, 0, q->user_id, strlen(q->user_id));
    int rc;
    if (r < 0) {
        if ((rc = engine_user_row(g, (uint32_t)shop, q->user_id, now, &row, e)))
            return rc;
    } else {
        row = pt_state_root(&g->st, (size_t)r);
        if (g->st.flags[row] & ROW_ANON)
            return answer_err(q, 409, "not_member", NULL, "anonymous profiles are not members");
    }
    int existed = engine_loy_acct(g, row) != NULL;
    struct loy_acct *a;
    if ((rc = engine_loy_member(g, (uint32_t)shop, row, now, &a, e)))
        return rc;
    char code[PT_CODE_PRINT_MAX];
    pt_code_print(a->code, NULL, code);
    pt_buf_reset(&q->out);
    pt_buf_adds(&q->out, "{\"user_id\":");
    pt_buf_add_json_str(&q->out, q->user_id, strlen(q->user_id));
    engine_loy_add_time(&q->out, "member_since", a->joined);
    pt_buf_printf(&q->out, ",\"balance\":%lld,\"referral_code\":\"%s\"}", (long long)a->balance,
                  code);
    q->status = existed ? 200 : 201;
    return 0;
}

/* ---- rewards and redemption ---- */

struct loy_reward *engine_loy_reward_of(struct pt_engine *g, int64_t shop, int64_t id)
{
    for (size_t i = 0; i < g->nrewards; i++)
        if (g->rewards[i].id == id && g->rewards[i].shop == (uint32_t)shop)
            return &g->rewards[i];
    return NULL;
}

static int save_reward(struct pt_engine *g, struct loy_reward *w, struct pt_err *e)
{
    struct pt_buf js;
    pt_buf_init(&js);
    if (pt_loy_reward_json(&w->r, &js) || pt_buf_addc(&js, '\0')) {
        pt_buf_release(&js);
        return pt_err_set(e, PT_ENOMEM, "out of memory");
    }
    struct pt_loy_reward_row row = {.id = w->id,
                                    .shop = w->shop,
                                    .json = js.data,
                                    .stock = w->r.stock,
                                    .active = w->active,
                                    .created = w->created,
                                    .updated = w->updated};
    int rc = pt_store_loy_reward_put(g->w, &row, &w->id, e);
    pt_buf_release(&js);
    return rc;
}

static int do_reward(struct pt_engine *g, int64_t shop, struct pt_loy_req *q, int64_t now,
                     struct pt_err *e)
{
    struct loy_reward *w = NULL;
    if (q->id && (w = engine_loy_reward_of(g, shop, q->id)) == NULL)
        return answer_err(q, 404, "not_found", NULL, "no reward with id %lld", (long long)q->id);
    if (q->del) {
        w->active = 0;
        w->updated = now;
    } else {
        struct pt_loy_reward r;
        memset(&r, 0, sizeof r);
        char field[64];
        struct pt_err pe;
        /* a tier restriction must name a level of the programme (checked first:
         * an update is applied in place) */
        json_t *o = json_loadb(q->json, q->len, 0, NULL);
        const char *mt = json_string_value(json_object_get(o, "min_tier"));
        struct loy_prog *lp = engine_loy_prog(g, (uint32_t)shop);
        int known = mt == NULL;
        for (size_t i = 0; !known && lp && i < lp->p.ntiers; i++)
            known = strcmp(lp->p.tiers[i].name, mt) == 0;
        if (!known) {
            answer_err(q, 400, "invalid_reward", "min_tier",
                       "min_tier \"%s\" is not a tier level of the programme", mt);
            json_decref(o);
            return 0;
        }
        json_decref(o);
        int rc = w ? pt_loy_reward_parse(q->json, q->len, 1, &w->r, field, &pe)
                   : pt_loy_reward_parse(q->json, q->len, 0, &r, field, &pe);
        if (rc == PT_ENOMEM)
            return pt_err_set(e, rc, "out of memory");
        if (rc)
            return answer_err(q, 400, "invalid_reward", field, "%s", pe.msg);

        if (w == NULL) {
            if ((w = engine_loy_reward_new(g)) == NULL) {
                pt_loy_reward_release(&r);
                return pt_err_set(e, PT_ENOMEM, "out of memory");
            }
            g->nrewards++;
            *w = (struct loy_reward){.shop = (uint32_t)shop, .r = r, .active = 1, .created = now};
        }
        w->updated = now;
    }
    int rc = save_reward(g, w, e);
    if (rc)
        return rc;
    pt_buf_reset(&q->out);
    engine_loy_reward_json(&q->out, w);
    q->status = q->id ? 200 : 201;
    return 0;
}

/* A voucher of spec v for customer (0: bearer) into out (a fresh unique code). */
int engine_loy_issue_voucher(struct pt_engine *g, int64_t shop, const struct pt_voucher_spec *v,
                             int64_t customer, int64_t pool, int64_t redemption, int64_t now,
                             struct pt_voucher_row *out, struct pt_err *e)
{
    memset(out, 0, sizeof *out);
    out->shop = shop;
    out->kind = v->kind;
    out->value = v->value;
    memcpy(out->currency, v->currency, sizeof out->currency);
    out->max_uses = v->max_uses;
    out->expires = v->expires ? v->expires : v->valid_days ? now + v->valid_days * DAY : 0;
    out->customer = customer;
    out->pool = pool;
    out->redemption = redemption;
    out->created = now;
    for (int tries = 0; tries < 8; tries++) {
        pt_code_new(out->code);
        int dup, rc = pt_store_voucher_insert(g->w, out, &dup, e);
        if (rc || !dup)
            return rc;
    }
    return pt_err_set(e, PT_EIO, "could not draw an unused voucher code");
}

static void voucher_json(struct pt_buf *b, const struct pt_voucher_row *v)
{
    char code[PT_CODE_PRINT_MAX];
    pt_code_print(v->code, NULL, code);
    pt_buf_printf(b, "{\"code\":\"%s\",\"type\":\"%s\",\"value\":%lld,\"currency\":", code,
                  pt_voucher_kind_name(v->kind), (long long)v->value);
    if (v->currency[0])
        pt_buf_printf(b, "\"%s\"", v->currency);
    else
        pt_buf_adds(b, "null");
    pt_buf_printf(b, ",\"max_uses\":%lld,\"uses\":%lld", (long long)v->max_uses,
                  (long long)v->uses);
    engine_loy_add_time(b, "expires", v->expires);
    pt_buf_addc(b, '}');
}

static int do_redeem(struct pt_engine *g, int64_t shop, struct pt_loy_req *q, int64_t now,
                     struct pt_err *e)
{
    struct loy_prog *lp = engine_loy_prog(g, (uint32_t)shop);
    if (lp == NULL)
        return answer_err(q, 409, "no_program", NULL, "the shop has no loyalty programme");
    struct loy_reward *w = engine_loy_reward_of(g, shop, q->id);
    if (w == NULL)
        return answer_err(q, 404, "not_found", NULL, "no reward with id %lld", (long long)q->id);
    int64_t root = member_root(g, shop, q, q->user_id);
    if (root < 0)
        return 0;
    if (g->st.flags[root] & ROW_ANON)
        return answer_err(q, 409, "not_member", NULL, "anonymous profiles are not members");
    struct loy_acct *a = engine_loy_acct(g, (size_t)root);
    const struct pt_loy_reward *r = &w->r;
    if (!w->active)
        return answer_err(q, 409, "reward_withdrawn", NULL, "the reward has been withdrawn");
    if (r->valid_from && now < r->valid_from)
        return answer_err(q, 409, "reward_not_yet_valid", NULL, "the reward is not valid yet");
    if (r->valid_to && now >= r->valid_to)
        return answer_err(q, 409, "reward_expired", NULL, "the reward is no longer valid");
    if (r->stock == 0)
        return answer_err(q, 409, "out_of_stock", NULL, "the reward is out of stock");
    if (r->min_tier) {
        int t = -1;
        for (size_t i = 0; i < lp->p.ntiers; i++)
            if (strcmp(lp->p.tiers[i].name, r->min_tier) == 0)
                t = (int)i;
        if (a == NULL || t < 0 || a->tier - 1 < t)
            return answer_err(q, 409, "tier_required", NULL, "the reward needs tier %s",
                              r->min_tier);
    }
    if (a == NULL || a->balance < r->cost)
        return answer_err(q, 409, "insufficient_points", NULL,
                          "the reward costs %lld points; the balance is %lld", (long long)r->cost,
                          (long long)(a ? a->balance : 0));
    int rc;
    if (r->per_member > 0) {
        int64_t n;
        if ((rc = pt_store_loy_redeemed(g->w, w->id, (int64_t)a->row + 1, &n, e)))
            return rc;
        if (n >= r->per_member)
            return answer_err(q, 409, "limit_reached", NULL,
                              "the member has redeemed this reward %lld times (the limit)",
                              (long long)n);
    }
    char key[400], ref[32], scope[32];
    snprintf(scope, sizeof scope, "%lld", (long long)a->row + 1);
    entry_key(q, key, sizeof key, "redeem", scope);
    snprintf(ref, sizeof ref, "%lld", (long long)w->id);
    int64_t entry = 0, rid = 0;
    int dup;
    if ((rc = engine_loy_entry(g, a, PT_LOY_REDEEM, -r->cost, now, 0, "reward", ref, key, &entry,
                               &dup, e)))
        return rc;
    if (dup)
        return answer_err(q, 409, "duplicate", NULL, "this idempotency key was used before");
    struct pt_voucher_row v;
    if ((rc = engine_loy_issue_voucher(g, shop, &r->voucher, (int64_t)a->row + 1, 0, 0, now, &v,
                                       e)) ||
        (rc = pt_store_loy_redemption(g->w, shop, w->id, (int64_t)a->row + 1, entry, v.code, now,
                                      &rid, e)) ||
        (rc = pt_store_voucher_redemption(g->w, v.code, rid, e)))
        return rc;
    if (w->r.stock > 0) {
        w->r.stock--;
        if ((rc = pt_store_loy_reward_stock(g->w, w->id, w->r.stock, e)))
            return rc;
    }
    pt_buf_reset(&q->out);
    pt_buf_printf(&q->out, "{\"redemption\":%lld,\"reward\":%lld,\"user_id\":", (long long)rid,
                  (long long)w->id);
    pt_buf_add_json_str(&q->out, q->user_id, strlen(q->user_id));
    pt_buf_printf(&q->out, ",\"points\":%lld,\"balance\":%lld,\"voucher\":", (long long)r->cost,
                  (long long)a->balance);
    voucher_json(&q->out, &v);
    pt_buf_addc(&q->out, '}');
    q->status = 201;
    return 0;
}

/* ---- vouchers ---- */

static int do_voucher_use(struct pt_engine *g, int64_t shop, struct pt_loy_req *q, int64_t now,
                          struct pt_err *e)
{
    struct pt_voucher_row v;
    int rc = pt_store_voucher_get(g->w, shop, q->code, &v, e);
    if (rc == PT_ENOTFOUND)
        return answer_err(q, 404, "not_found", NULL, "no such voucher code");
    if (rc)
        return rc;
    char key[PT_EV_MAX_ID + 64];
    if (q->order_id)
        snprintf(key, sizeof key, "use:%s:%s", q->code, q->order_id);
    else
        entry_key(q, key, sizeof key, "use", q->code);
    int dup = 0;
    if (v.expires && now >= v.expires)
        return answer_err(q, 410, "expired", NULL, "the voucher expired");
    if (v.max_uses > 0 && v.uses >= v.max_uses) {
        /* a retry of the use that used it up is still that use */
        if ((rc = pt_store_voucher_use_find(g->w, shop, key, e)) < 0)
            return rc;
        if (rc == 0)
            return answer_err(q, 409, "used_up", NULL, "the voucher has been used %lld times",
                              (long long)v.uses);
        dup = 1;
    } else if ((rc = pt_store_voucher_use(g->w, shop, q->code, q->order_id, now, key, &dup, e))) {
        return rc;
    }
    if (!dup)
        v.uses++;
    pt_buf_reset(&q->out);
    pt_buf_printf(&q->out, "{\"duplicate\":%s,\"voucher\":", dup ? "true" : "false");
    voucher_json(&q->out, &v);
    pt_buf_addc(&q->out, '}');
    q->status = 200;
    return 0;
}

static int do_pool(struct pt_engine *g, int64_t shop, struct pt_loy_req *q, int64_t now,
                   struct pt_err *e)
{
    json_t *o = json_loadb(q->json, q->len, 0, NULL);
    struct pt_voucher_spec v;
    char field[64];
    struct pt_err pe;
    if (o == NULL || pt_voucher_spec_parse(o, "", 1, &v, field, &pe)) {
        json_decref(o);
        return answer_err(q, 400, "invalid_pool", o ? field : "", "%s",
                          o ? pe.msg : "the body must be a JSON object");
    }
    const char *name = json_string_value(json_object_get(o, "name"));
    int64_t id;
    int rc =
        pt_store_voucher_pool(g->w, shop, name ? name : "", q->json, (int64_t)q->n, now, &id, e);
    struct pt_voucher_row row;
    memset(&row, 0, sizeof row);
    row.shop = shop;
    row.kind = v.kind;
    row.value = v.value;
    memcpy(row.currency, v.currency, sizeof row.currency);
    row.max_uses = v.max_uses;
    row.expires = v.expires ? v.expires : v.valid_days ? now + v.valid_days * DAY : 0;
    row.pool = id;
    row.created = now;
    size_t redrawn = 0, done = 0;
    if (rc == 0)
        rc = pt_store_voucher_insert_many(g->w, &row, q->codes, q->n, PT_CODE_LEN + 1, &done, e);
    while (rc == 0 && done < q->n) { /* codes another pool holds: draw others */
        int dup;
        pt_code_new(row.code);
        redrawn++;
        if ((rc = pt_store_voucher_insert(g->w, &row, &dup, e)) == 0 && !dup)
            done++;
    }
    if (rc == 0) {
        pt_buf_reset(&q->out);
        pt_buf_printf(&q->out, "{\"id\":%lld,\"name\":", (long long)id);
        pt_buf_add_json_str(&q->out, name ? name : "", name ? strlen(name) : 0);
        pt_buf_printf(&q->out, ",\"count\":%zu,\"redrawn\":%zu", q->n, redrawn);
        engine_loy_add_time(&q->out, "created", now);
        pt_buf_addc(&q->out, '}');
    }
    json_decref(o); /* (name points into it) */
    if (rc)
        return rc;
    q->status = 201;
    return 0;
}

/* ---- import ---- */

static int do_import(struct pt_engine *g, int64_t shop, struct pt_loy_req *q, int64_t now,
                     struct pt_err *e)
{
    struct loy_prog *lp = engine_loy_prog(g, (uint32_t)shop);
    if (lp == NULL)
        return answer_err(q, 409, "no_program", NULL,
                          "the shop has no loyalty programme: set one before importing");
    char field[64];
    for (size_t i = 0; i < q->n; i++) { /* all or nothing: check every row first */
        const struct pt_loy_import_row *r = &q->rows[i];
        int t = -1;
        for (size_t k = 0; r->tier && k < lp->p.ntiers; k++)
            if (strcmp(lp->p.tiers[k].name, r->tier) == 0)
                t = (int)k;
        int64_t f = pt_state_find(&g->st, (uint32_t)shop, 0, r->user_id, strlen(r->user_id));
        snprintf(field, sizeof field, "line %zu", i + 2);
        if (r->tier && t < 0)
            return answer_err(q, 400, "invalid_import", field,
                              "line %zu: tier \"%s\" is not a level of the programme", i + 2,
                              r->tier);
        if (f >= 0 && (g->st.flags[pt_state_root(&g->st, (size_t)f)] & ROW_ANON))
            return answer_err(q, 400, "invalid_import", field,
                              "line %zu: \"%s\" is merged into an anonymous profile", i + 2,
                              r->user_id);
    }
    size_t imported = 0, skipped = 0;
    for (size_t i = 0; i < q->n; i++) {
        const struct pt_loy_import_row *r = &q->rows[i];
        int64_t f = pt_state_find(&g->st, (uint32_t)shop, 0, r->user_id, strlen(r->user_id));
        size_t row;
        int rc = 0;
        if (f < 0)
            rc = engine_user_row(g, (uint32_t)shop, r->user_id, now, &row, e);
        else
            row = pt_state_root(&g->st, (size_t)f);
        struct loy_acct *a;
        if (rc ||
            (rc = engine_loy_member(g, (uint32_t)shop, row, r->joined ? r->joined : now, &a, e)))
            return rc;
        char key[PT_EV_MAX_ID + 16];
        snprintf(key, sizeof key, "import:%s", r->user_id);
        int dup = 0; /* (an entry even for 0 points: it records the import) */
        if ((rc = engine_loy_entry(g, a, PT_LOY_ADJUST, r->points, now, 0, "import", NULL, key,
                                   NULL, &dup, e)))
            return rc;
        if (dup) {
            skipped++;
            continue;
        }
        imported++;
        for (size_t k = 0; r->tier && k < lp->p.ntiers; k++)
            if (strcmp(lp->p.tiers[k].name, r->tier) == 0 && a->tier < (int)k + 1) {
                if ((rc = pt_store_loy_tier_log(g->w, shop, (int64_t)a->row + 1, now, a->tier,
                                                (int)k + 1, e)))
                    return rc;
                a->tier = (int)k + 1;
                a->tier_until = lp->p.tier_review_months > 0
                                    ? engine_loy_add_months(now, lp->p.tier_review_months)
                                    : now + DAY;
                engine_loy_note_due(g, a->tier_until);
            }
        if (r->joined && r->joined < a->joined)
            a->joined = r->joined;
        if ((rc = engine_loy_save_member(g, a, e)))
            return rc;
    }
    pt_buf_reset(&q->out);
    pt_buf_printf(&q->out, "{\"imported\":%zu,\"skipped\":%zu}", imported, skipped);
    q->status = 200;
    return 0;
}

/* An Idempotency-Key's recorded answer into out/status (*done = 1: replayed,
 * or 422 for another request under the same key); *done = 0: not seen. */
static int idem_replay(struct pt_engine *g, int64_t shop, const char *idem, const uint8_t hash[16],
                       struct pt_buf *out, int *status, int *replayed, int *done, struct pt_err *e)
{
    uint8_t h[16];
    int st;
    *done = 0;
    int rc = pt_store_idem_get(g->w, shop, idem, h, &st, out, e);
    if (rc == 0) {
        *done = 1;
        if (sodium_memcmp(h, hash, 16) != 0) {
            pt_buf_reset(out);
            pt_buf_add_error(out, "idempotency_key_reused", NULL,
                             "this Idempotency-Key was used with a different request");
            *status = 422;
            return 0;
        }
        *status = st;
        *replayed = 1;
        return 0;
    }
    pt_buf_reset(out);
    return rc == PT_ENOTFOUND ? 0 : rc;
}

int engine_idem_job(struct pt_engine *g, struct pt_job *j, const char *idem, const uint8_t hash[16],
                    struct pt_buf *out, int *status, int *replayed, int64_t now,
                    int (*op)(struct pt_engine *g, struct pt_job *j, int64_t now, struct pt_err *e),
                    struct pt_err *e)
{
    pt_buf_reset(out);
    *status = 0;
    *replayed = 0;
    int rc;
    if (idem) {
        int done = 0;
        if ((rc = idem_replay(g, j->shop, idem, hash, out, status, replayed, &done, e)) || done)
            return rc;
    }
    rc = op(g, j, now, e);
    if (rc == 0 && idem && *status < 500)
        rc = pt_store_idem_put(g->w, j->shop, idem, hash, *status, out->data ? out->data : "",
                               out->len, now, e);
    return rc;
}

static int loy_op(struct pt_engine *g, struct pt_job *j, int64_t now, struct pt_err *e)
{
    struct pt_loy_req *q = j->loy;
    int rc;
    switch (q->op) {
    case PT_LOYOP_PROGRAM:
        rc = do_program(g, j->shop, q, now, e);
        break;
    case PT_LOYOP_POINTS:
        rc = do_points(g, j->shop, q, now, e);
        break;
    case PT_LOYOP_BATCH:
        rc = do_batch(g, j->shop, q, now, e);
        break;
    case PT_LOYOP_ENROL:
        rc = do_enrol(g, j->shop, q, now, e);
        break;
    case PT_LOYOP_REDEEM:
        rc = do_redeem(g, j->shop, q, now, e);
        break;
    case PT_LOYOP_REWARD:
        rc = do_reward(g, j->shop, q, now, e);
        break;
    case PT_LOYOP_VOUCHER_USE:
        rc = do_voucher_use(g, j->shop, q, now, e);
        break;
    case PT_LOYOP_POOL:
        rc = do_pool(g, j->shop, q, now, e);
        break;
    case PT_LOYOP_IMPORT:
        rc = do_import(g, j->shop, q, now, e);
        break;
    default:
        rc = answer_err(q, 400, "invalid", NULL, "unknown operation");
        break;
    }
    return rc;
}

int engine_loy_job(struct pt_engine *g, struct pt_job *j, int64_t now, struct pt_err *e)
{
    struct pt_loy_req *q = j->loy;
    return engine_idem_job(g, j, q->idem, q->hash, &q->out, &q->status, &q->replayed, now, loy_op,
                           e);
}
