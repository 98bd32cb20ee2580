/*
 * fuzz_rule.c - libFuzzer target for the segment rule parser
 * (segment/rule.h).
 *
 * Checks, besides memory safety and leaks:
 *  - a failed parse returns PT_EPARSE or PT_ETOOBIG, leaves no tree, and its
 *    message starts with the "LINE:COLUMN: " it reports, inside the text;
 *  - a successful parse has a boolean (or free-form) root, and its canonical
 *    text parses again to the same canonical text.
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
    pt_buf_release(&a);
    pt_buf_release(&b);
    pt_rule_free(&r);
    return 0;
}
