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
 *    with a value of every attribute.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segment/rule.h"

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
    pt_buf_release(&a);
    pt_buf_release(&b);
    pt_rule_free(&r);
    return 0;
}
