/*
 * fuzz_auto_def.c - libFuzzer target for the automation definition parser
 * (automation/def.h).
 *
 * Checks, besides memory safety and leaks:
 *  - a refusal is PT_EPARSE, leaves *d all zero, and names its field in
 *    under 128 bytes; e->msg starts with the field; a syntax error has field
 *    "" and a line inside the text; a position is only given for bad JSON
 *    and for rules (a field ending in "conditions" or ".if");
 *  - an accepted definition's program ends with its only END, every alt is
 *    in range, JUMPs go forwards, it has at most PT_AUTO_MAX_STEPS steps,
 *    each step carries what its op needs;
 *  - its canonical JSON parses again, to the same program and the same
 *    canonical JSON.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "automation/def.h"
#include "automation/msgtmpl.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void failed(const uint8_t *data, size_t size, int rc, const struct pt_auto_def *d,
                   const char *field, const struct pt_err *e)
{
    check(rc == PT_EPARSE);
    const unsigned char *p = (const unsigned char *)d;
    for (size_t i = 0; i < sizeof *d; i++)
        check(p[i] == 0);
    size_t n = strlen(field);
    check(n < 128);
    check(strncmp(e->msg, field, n) == 0);
    if (n > 0 && n < 124) /* (longer ones may be cut, at a character) */
        check(e->msg[n] == ':' && e->msg[n + 1] == ' ');
    if (field[0] == '\0' && e->line != 0) { /* a syntax error */
        size_t lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += data[i] == '\n';
        check(e->line <= lines && e->column >= 1);
        check(strncmp(e->msg, "invalid JSON at line ", 21) == 0);
    } else if (e->line != 0) { /* a rule */
        check((n >= 10 && strcmp(field + n - 10, "conditions") == 0) ||
              (n >= 3 && strcmp(field + n - 3, ".if") == 0));
        check(e->column >= 1);
    }
}

static void program(const struct pt_auto_def *d)
{
    check(d->nsteps >= 2 && d->nsteps <= PT_AUTO_MAX_STEPS);
    check(d->name != NULL && d->trigger >= PT_TRIG_EVENT && d->trigger <= PT_TRIG_BIRTHDAY);
    check(d->control_share >= 0 && d->control_share <= 0.5);
    check((d->cond_text == NULL) == (d->cond.nodes == NULL));
    size_t end = d->nsteps - 1;
    check(d->steps[end].op == PT_AOP_END);
    for (size_t i = 0; i < d->nsteps; i++) {
        const struct pt_auto_step *s = &d->steps[i];
        check(s->alt <= end);
        check(s->op >= PT_AOP_END && s->op <= PT_AOP_WEBHOOK);
        check(s->op != PT_AOP_END || i == end);
        switch (s->op) {
        case PT_AOP_BRANCH:
        case PT_AOP_WAIT_EVENT:
        case PT_AOP_JUMP:
            check(s->alt > i);
            break;
        default:
            check(s->alt == 0);
        }
        if (s->op == PT_AOP_BRANCH)
            check(s->cond_text != NULL && s->cond.nodes != NULL);
        if (s->op == PT_AOP_WAIT || s->op == PT_AOP_WAIT_EVENT)
            check(s->dur > 0 && s->dur <= 365 * 86400);
        if (s->op == PT_AOP_WAIT_EVENT)
            check(s->event != NULL);
        if (s->op == PT_AOP_SEND)
            check(s->tmpl != NULL && (s->channel == PT_CHAN_WEBHOOK) == (s->url != NULL));
        if (s->op == PT_AOP_POINTS)
            check(s->points != 0 && s->points >= -1000000000 && s->points <= 1000000000);
        if (s->op == PT_AOP_VOUCHER)
            check((s->pool != NULL) != (s->reward > 0));
        if (s->op == PT_AOP_TAG || s->op == PT_AOP_WEBHOOK)
            check(s->op == PT_AOP_TAG ? s->tag != NULL : s->url != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pt_auto_def d;
    char field[128];
    struct pt_err e;
    memset(&d, 0x5A, sizeof d);
    int rc = pt_auto_def_parse((const char *)data, size, &d, field, &e);
    if (rc != 0) {
        failed(data, size, rc, &d, field, &e);
        pt_auto_def_release(&d);
        return 0;
    }
    program(&d);
    struct pt_buf a, b;
    pt_buf_init(&a);
    pt_buf_init(&b);
    check(pt_auto_def_json(&d, &a) == 0);
    struct pt_auto_def q;
    rc = pt_auto_def_parse(a.data, a.len, &q, field, &e);
    if (rc != 0)
        fprintf(stderr, "canonical form refused: %s\n%s\n", e.msg, a.data);
    check(rc == 0);
    check(q.nsteps == d.nsteps);
    for (size_t i = 0; i < d.nsteps; i++)
        check(q.steps[i].op == d.steps[i].op && q.steps[i].alt == d.steps[i].alt);
    check(pt_auto_def_json(&q, &b) == 0);
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
        fprintf(stderr, "canonical forms differ:\n%s\n%s\n", a.data, b.data);
    check(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    pt_auto_def_release(&q);
    pt_auto_def_release(&d);
    pt_buf_release(&a);
    pt_buf_release(&b);
    return 0;
}
