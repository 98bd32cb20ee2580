/*
 * fuzz_rule.c - libFuzzer target for the segment rule parser
 * (segment/rule.h).
 *
 * Checks, besides memory safety and leaks:
 *  - a failed parse returns PT_EPARSE or PT_ETOOBIG, leaves no tree, and its
 *    message starts with the "LINE:COLUMN: " it reports, inside the text;
 *  - a successful parse has a boolean (or free-form) root, and its canonical
 *    text parses again to the same canonical text;
 *  - it evaluates without error for a customer with no values and for one
 *    with a value of every attribute;
 *  - for real customers (segment/subject.h), the columnar evaluation of many
 *    customers (segment/colev.h) gives the interpreter's answer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/events.h"
#include "segment/colev.h"
#include "segment/rule.h"
#include "segment/subject.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const k_items[] = {"x", "shoes"};
static const size_t k_lens[] = {1, 5};

static int attr_fill(void *ctx, int32_t id, const char *key, size_t klen, struct pt_rule_value *v)
{
    (void)id, (void)key, (void)klen;
    if (*(int *)ctx == 0)
        return 0; /* nothing present */
    v->present = 1;
    if (v->type == PT_RT_ANY)
        v->type = PT_RT_NUM;
    v->num = 1;
    v->str = "x";
    v->slen = 1;
    v->items = k_items;
    v->lens = k_lens;
    v->n = 2;
    return 0;
}

static int call_fill(void *ctx, const struct pt_rule *r, int32_t node, double *out)
{
    (void)r, (void)node;
    *out = *(int *)ctx;
    return 0;
}

static int traits_of(void *ctx, struct pt_buf *out)
{
    return pt_buf_adds(out, (const char *)ctx);
}

static void hit(void *ctx, size_t rule, size_t row)
{
    (void)rule;
    ((int *)ctx)[row] = 1;
}

/* Three customers: none, one with everything, one with other values. */
static void differential(const struct pt_rule *r)
{
    static struct pt_dict d;
    static int init;
    static struct pt_act acts[4];
    if (!init) {
        pt_dict_init(&d);
        uint32_t oc = pt_dict_intern(&d, "Order Completed", 15);
        uint32_t pv = pt_dict_intern(&d, "Product Viewed", 14);
        uint32_t sh = pt_dict_intern(&d, "shoes", 5);
        acts[0] = (struct pt_act){.t = 999000, .name = oc, .qty = 1, .grp = 1,
                                  .kind = PT_K_ORDER_COMPLETED, .flags = PT_ACT_DISCOUNT};
        acts[1] = (struct pt_act){.t = 999000, .name = oc, .cat = sh, .qty = 2, .grp = 1,
                                  .kind = PT_K_ORDER_COMPLETED, .flags = PT_ACT_LINE};
        acts[2] = (struct pt_act){.t = 990000, .name = oc, .qty = 1, .grp = 2,
                                  .kind = PT_K_ORDER_COMPLETED};
        acts[3] = (struct pt_act){.t = 999900, .name = pv, .cat = sh, .qty = 1,
                                  .kind = PT_K_PRODUCT_VIEWED};
        init = 1;
    }
    struct pt_seg_subject s[3];
    memset(s, 0, sizeof s);
    for (int i = 0; i < 3; i++) {
        s[i].now = 1000000;
        s[i].dict = &d;
        s[i].value365 = s[i].aov = -1;
    }
    s[1] = (struct pt_seg_subject){
        .now = 1000000, .orders = 2, .first_t = 990000, .last_t = 999000, .revenue = 12345,
        .refunded = 45, .cart_value = 500, .cart_since = 999000, .cart_t = 999500,
        .consent = 1, .consent_set = 3, .has_rfm = 1, .r = 4, .f = 2, .m = 5, .seg = 3,
        .has_clv = 1, .p_alive = 0.5, .exp90 = 1, .exp365 = 2, .value365 = 900, .aov = 60,
        .next_t = 1100000, .acts = acts, .nacts = 4, .dict = &d, .traits = traits_of,
        .tctx = (void *)"{\"vip\":true,\"plan\":\"x\",\"n\":1,\"tags\":[\"x\"],"
                        "\"preferences\":{\"style\":\"x\"}}"};
    s[2] = s[1];
    s[2].anonymous = 1;
    s[2].acts = acts + 2;
    s[2].nacts = 2;
    s[2].has_rfm = 0;
    s[2].tctx = (void *)"{\"vip\":\"yes\",\"n\":\"1\"}";
    const struct pt_rule *rules[1] = {r};
    struct pt_seg_prog *prog;
    if (pt_seg_prog_new(rules, 1, &prog))
        return;
    struct pt_seg_block *b = pt_seg_block_new(prog);
    struct pt_seg_ctx *x = pt_seg_ctx_new();
    int want[3] = {0, 0, 0}, got[3] = {0, 0, 0};
    for (size_t i = 0; b && x && i < 3; i++) {
        pt_seg_ctx_set(x, &s[i]);
        pt_seg_match(x, r, &want[i]);
        pt_seg_block_row(b, x, i);
    }
    if (b && x) {
        pt_seg_block_run(b, 3, hit, got);
        check(memcmp(want, got, sizeof want) == 0);
    }
    pt_seg_ctx_free(x);
    pt_seg_block_free(b);
    pt_seg_prog_free(prog);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pt_rule r;
    struct pt_err e = {0};
    int rc = pt_rule_parse((const char *)data, size, &r, &e);
    if (rc != 0) {
        check(rc == PT_EPARSE || rc == PT_ETOOBIG);
        check(r.nodes == NULL && r.root == -1);
        check(e.line >= 1 && e.column >= 1);
        size_t lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += data[i] == '\n';
        check(e.line <= lines);
        char want[48];
        snprintf(want, sizeof want, "%llu:%llu: ", (unsigned long long)e.line,
                 (unsigned long long)e.column);
        check(strncmp(e.msg, want, strlen(want)) == 0);
        return 0;
    }
    check(r.root >= 0 && (size_t)r.root < r.n);
    check(r.nodes[r.root].type == PT_RT_BOOL || r.nodes[r.root].type == PT_RT_ANY);
    struct pt_buf a, b;
    pt_buf_init(&a);
    pt_buf_init(&b);
    check(pt_rule_format(&r, &a) == 0);
    struct pt_rule r2;
    rc = pt_rule_parse(a.data, a.len, &r2, &e);
    check(rc == 0 || rc == PT_ETOOBIG); /* parentheses may push it past a limit */
    if (rc == 0) {
        check(pt_rule_format(&r2, &b) == 0);
        check(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        pt_rule_free(&r2);
    }
    for (int full = 0; full < 2; full++) {
        struct pt_rule_env env = {attr_fill, call_fill, &full};
        int m = -1;
        check(pt_rule_eval(&r, &env, &m) == 0 && (m == 0 || m == 1));
    }
    differential(&r);
    pt_buf_release(&a);
    pt_buf_release(&b);
    pt_rule_free(&r);
    return 0;
}
