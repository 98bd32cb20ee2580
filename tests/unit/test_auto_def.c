/*
 * test_auto_def.c - an automation's JSON definition (src/automation/def.h):
 * every trigger type with its keys and defaults; every step type; the flat
 * program of a nested win-back journey and of branches with and without
 * else, op by op and jump by jump; each kind of refusal with its exact JSON
 * path (and for rules, the line and column inside the rule text); the depth
 * and step limits; the canonical JSON, its round trip and the nested form
 * rebuilt from the jumps; durations; allocation failures.
 *
 * Documents are written with ' for " (dq() swaps them) to stay readable.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "automation/def.h"
#include "automation/msgtmpl.h"
#include "util/buf.h"
#include "util/mem.h"

/* The document with every ' turned into " (static; one at a time). */
static const char *dq(const char *s)
{
    static char buf[1 << 16];
    size_t n = strlen(s);
    cr_assert_lt(n, sizeof buf);
    for (size_t i = 0; i <= n; i++)
        buf[i] = s[i] == '\'' ? '"' : s[i];
    return buf;
}

#define TRIG(t)  "{'name':'n','trigger':" t ",'steps':[{'type':'wait','for':'1d'}]}"
#define STEPS(s) "{'name':'n','trigger':{'type':'birthday'},'steps':[" s "]}"

static char *canon(const struct pt_auto_def *d)
{
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_auto_def_json(d, &b), 0);
    char *s = strdup(b.data);
    pt_buf_release(&b);
    return s;
}

/* The canonical JSON of d parses again to the same canonical JSON. */
static void expect_round_trip(const struct pt_auto_def *d)
{
    char *a = canon(d);
    struct pt_auto_def q;
    char field[128];
    struct pt_err e;
    int rc = pt_auto_def_parse(a, strlen(a), &q, field, &e);
    cr_assert_eq(rc, 0, "canonical form refused at %s: %s\n%s", field, e.msg, a);
    char *b = canon(&q);
    cr_expect_str_eq(a, b);
    cr_expect_eq(q.nsteps, d->nsteps);
    for (size_t i = 0; i < d->nsteps && i < q.nsteps; i++)
        cr_expect(q.steps[i].op == d->steps[i].op && q.steps[i].alt == d->steps[i].alt, "step %zu",
                  i);
    free(a);
    free(b);
    pt_auto_def_release(&q);
}

/* Parse a ' document (must succeed), check the round trip. */
static void parse_ok(const char *sq, struct pt_auto_def *d)
{
    const char *doc = dq(sq);
    char field[128];
    struct pt_err e;
    int rc = pt_auto_def_parse(doc, strlen(doc), d, field, &e);
    cr_assert_eq(rc, 0, "rc %d at \"%s\": %s\n%s", rc, field, e.msg, doc);
    expect_round_trip(d);
}

static int all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

/* Refused with PT_EPARSE at field; e->msg "FIELD: ..." containing part. */
static void refuse_doc(const char *doc, size_t len, const char *field, const char *part,
                       struct pt_err *e)
{
    struct pt_auto_def d;
    char f[128];
    memset(&d, 0xA5, sizeof d);
    int rc = pt_auto_def_parse(doc, len, &d, f, e);
    cr_expect_eq(rc, PT_EPARSE, "rc %d for %s", rc, doc);
    if (rc == 0) {
        pt_auto_def_release(&d);
        return;
    }
    cr_expect_str_eq(f, field, "field of %s (%s)", doc, e->msg);
    if (field[0]) {
        size_t n = strlen(field);
        cr_expect(strncmp(e->msg, field, n) == 0 && strncmp(e->msg + n, ": ", 2) == 0, "%s",
                  e->msg);
    }
    if (part)
        cr_expect(strstr(e->msg, part) != NULL, "\"%s\" not in \"%s\"", part, e->msg);
    cr_expect(all_zero(&d, sizeof d), "*d zeroed after a refusal of %s", doc);
}

static void refuse(const char *sq, const char *field, const char *part)
{
    struct pt_err e;
    const char *doc = dq(sq);
    refuse_doc(doc, strlen(doc), field, part, &e);
    if (strstr(field, "conditions") == NULL && strstr(field, ".if") == NULL)
        cr_expect(e.line == 0 && e.column == 0, "no position for %s", e.msg);
}

/* ---- triggers ---- */

Test(auto_def, every_trigger_with_its_keys_and_defaults)
{
    struct pt_auto_def d;
    parse_ok(TRIG("{'type':'event','event':'Order Completed'}"), &d);
    cr_expect_eq(d.trigger, PT_TRIG_EVENT);
    cr_expect_str_eq(d.event, "Order Completed");
    cr_expect_str_eq(d.name, "n");
    cr_expect(d.cond_text == NULL && d.control_share == 0 && d.reentry == PT_REENTRY_AFTER_EXIT &&
              d.reentry_after == 0 && d.exit_on == NULL);
    pt_auto_def_release(&d);

    parse_ok(TRIG("{'type':'segment_entered','segment':'Hibernating'}"), &d);
    cr_expect(d.trigger == PT_TRIG_SEG_ENTERED && d.seg_id == 0);
    cr_expect_str_eq(d.seg_name, "Hibernating");
    pt_auto_def_release(&d);
    parse_ok(TRIG("{'type':'segment_exited','segment':12}"), &d);
    cr_expect(d.trigger == PT_TRIG_SEG_EXITED && d.seg_id == 12 && d.seg_name == NULL);
    pt_auto_def_release(&d);

    parse_ok(TRIG("{'type':'cart_abandoned','idle':'90m'}"), &d);
    cr_expect(d.trigger == PT_TRIG_CART && d.idle_s == 5400 && d.min_value == 0);
    pt_auto_def_release(&d);
    parse_ok(TRIG("{'type':'cart_abandoned','idle':'1m','min_value':2500}"), &d);
    cr_expect(d.idle_s == 60 && d.min_value == 2500);
    pt_auto_def_release(&d);

    parse_ok(TRIG("{'type':'replenishment','products':[{'product':'sku-1','days_per_unit':30},"
                  "{'product':'sku-2','days_per_unit':3650}]}"),
             &d);
    cr_expect(d.trigger == PT_TRIG_REPLENISH && d.nproducts == 2 && d.before_s == 0);
    cr_expect_str_eq(d.products[0].product, "sku-1");
    cr_expect(d.products[0].days_per_unit == 30 && d.products[1].days_per_unit == 3650);
    pt_auto_def_release(&d);
    parse_ok(TRIG("{'type':'replenishment','products':[{'product':'x','days_per_unit':1}],"
                  "'before':'3d'}"),
             &d);
    cr_expect_eq(d.before_s, 3 * 86400);
    pt_auto_def_release(&d);

    parse_ok(TRIG("{'type':'rhythm_missed'}"), &d);
    cr_expect(d.trigger == PT_TRIG_RHYTHM && d.factor == 1.5 && d.min_orders == 3);
    pt_auto_def_release(&d);
    parse_ok(TRIG("{'type':'rhythm_missed','factor':10,'min_orders':1000}"), &d);
    cr_expect(d.factor == 10 && d.min_orders == 1000);
    pt_auto_def_release(&d);
    parse_ok(TRIG("{'type':'rhythm_missed','factor':1.1,'min_orders':2}"), &d);
    cr_expect(d.factor == 1.1 && d.min_orders == 2);
    pt_auto_def_release(&d);

    parse_ok(TRIG("{'type':'days_since_last_order','days':30}"), &d);
    cr_expect(d.trigger == PT_TRIG_SINCE_ORDER && d.days == 30);
    pt_auto_def_release(&d);
    parse_ok(TRIG("{'type':'points_expiring','within':'2w'}"), &d);
    cr_expect(d.trigger == PT_TRIG_POINTS_EXPIRING && d.within_s == 14 * 86400);
    pt_auto_def_release(&d);

    parse_ok(TRIG("{'type':'tier_changed'}"), &d);
    cr_expect(d.trigger == PT_TRIG_TIER && d.tier_dir == PT_TIER_ANY && d.tier == NULL);
    pt_auto_def_release(&d);
    parse_ok(TRIG("{'type':'tier_changed','direction':'up','tier':'Gold'}"), &d);
    cr_expect(d.tier_dir == PT_TIER_UP);
    cr_expect_str_eq(d.tier, "Gold");
    pt_auto_def_release(&d);
    parse_ok(TRIG("{'type':'tier_changed','direction':'down','tier':null}"), &d);
    cr_expect(d.tier_dir == PT_TIER_DOWN && d.tier == NULL);
    pt_auto_def_release(&d);

    parse_ok(TRIG("{'type':'birthday'}"), &d);
    cr_expect_eq(d.trigger, PT_TRIG_BIRTHDAY);
    pt_auto_def_release(&d);
    pt_auto_def_release(&d); /* twice is fine */
    pt_auto_def_release(NULL);
}

Test(auto_def, document_options)
{
    struct pt_auto_def d;
    parse_ok("{'name':'Win-back','trigger':{'type':'birthday'},'conditions':'orders >= 2',"
             "'control_share':0.1,'reentry':'never','exit_on':'Order Completed',"
             "'steps':[{'type':'wait','for':'1d'}]}",
             &d);
    cr_expect_str_eq(d.cond_text, "orders >= 2");
    cr_expect_geq(d.cond.n, 1);
    cr_expect(d.control_share == 0.1 && d.reentry == PT_REENTRY_NEVER);
    cr_expect_str_eq(d.exit_on, "Order Completed");
    pt_auto_def_release(&d);
    parse_ok("{'name':'x','trigger':{'type':'birthday'},'reentry':{'after':'30d'},"
             "'control_share':0.5,'conditions':null,'exit_on':null,"
             "'steps':[{'type':'wait','for':'1s'}]}",
             &d);
    cr_expect(d.reentry == PT_REENTRY_COOLDOWN && d.reentry_after == 30 * 86400);
    cr_expect(d.control_share == 0.5 && d.cond_text == NULL && d.exit_on == NULL);
    pt_auto_def_release(&d);
    parse_ok("{'name':'x','trigger':{'type':'birthday'},'reentry':'after_exit','control_share':0,"
             "'steps':[{'type':'wait','for':'1s'}]}",
             &d);
    cr_expect(d.reentry == PT_REENTRY_AFTER_EXIT && d.control_share == 0);
    pt_auto_def_release(&d);
}

/* ---- steps ---- */

Test(auto_def, every_step_type)
{
    struct pt_auto_def d;
    parse_ok(STEPS("{'type':'wait','for':'365d'},"
                   "{'type':'send','template':'winback-15'},"
                   "{'type':'send','template':'A.b_9-z','channel':'webhook',"
                   "'url':'https://hooks.example/x?a=1','transactional':true},"
                   "{'type':'send','template':'t','channel':'email','transactional':false},"
                   "{'type':'points','points':200,'reason':'welcome back'},"
                   "{'type':'points','points':-1000000000},"
                   "{'type':'voucher','reward':3},"
                   "{'type':'voucher','pool':'winback20'},"
                   "{'type':'tag','add':'vip'},"
                   "{'type':'tag','remove':'churn risk'},"
                   "{'type':'webhook','url':'http://h'}"),
             &d);
    cr_assert_eq(d.nsteps, 12);
    const struct pt_auto_step *s = d.steps;
    cr_expect(s[0].op == PT_AOP_WAIT && s[0].dur == 365 * 86400);
    cr_expect(s[1].op == PT_AOP_SEND && s[1].channel == PT_CHAN_EMAIL && s[1].url == NULL &&
              s[1].transactional == 0);
    cr_expect_str_eq(s[1].tmpl, "winback-15");
    cr_expect(s[2].channel == PT_CHAN_WEBHOOK && s[2].transactional == 1);
    cr_expect_str_eq(s[2].url, "https://hooks.example/x?a=1");
    cr_expect(s[3].channel == PT_CHAN_EMAIL && s[3].transactional == 0);
    cr_expect(s[4].op == PT_AOP_POINTS && s[4].points == 200);
    cr_expect_str_eq(s[4].reason, "welcome back");
    cr_expect(s[5].points == -1000000000 && s[5].reason == NULL);
    cr_expect(s[6].op == PT_AOP_VOUCHER && s[6].reward == 3 && s[6].pool == NULL);
    cr_expect(s[7].op == PT_AOP_VOUCHER && s[7].reward == 0);
    cr_expect_str_eq(s[7].pool, "winback20");
    cr_expect(s[8].op == PT_AOP_TAG && s[8].tag_add == 1);
    cr_expect_str_eq(s[8].tag, "vip");
    cr_expect(s[9].tag_add == 0);
    cr_expect_str_eq(s[9].tag, "churn risk");
    cr_expect(s[10].op == PT_AOP_WEBHOOK);
    cr_expect_str_eq(s[10].url, "http://h");
    cr_expect_eq(s[11].op, PT_AOP_END);
    for (size_t i = 0; i < d.nsteps; i++)
        cr_expect_eq(s[i].alt, 0, "no target at %zu", i);
    pt_auto_def_release(&d);

    parse_ok(STEPS("{'type':'wait_event','event':'Order Completed','timeout':'7d'}"), &d);
    cr_assert_eq(d.nsteps, 2);
    cr_expect(d.steps[0].op == PT_AOP_WAIT_EVENT && d.steps[0].dur == 7 * 86400 &&
              d.steps[0].alt == 1);
    cr_expect_str_eq(d.steps[0].event, "Order Completed");
    pt_auto_def_release(&d);

    parse_ok(STEPS("{'type':'branch','if':'orders >= 2','then':[{'type':'wait','for':'1h'}]}"), &d);
    cr_expect(d.steps[0].op == PT_AOP_BRANCH && d.steps[0].cond.n >= 1);
    cr_expect_str_eq(d.steps[0].cond_text, "orders >= 2");
    pt_auto_def_release(&d);
}

struct want {
    int op;
    uint32_t alt;
};

static void expect_program(const struct pt_auto_def *d, const struct want *w, size_t n)
{
    cr_assert_eq(d->nsteps, n, "%zu steps, want %zu", d->nsteps, n);
    for (size_t i = 0; i < n; i++) {
        cr_expect_eq(d->steps[i].op, w[i].op, "op of %zu: %s, want %s", i,
                     pt_auto_op_name(d->steps[i].op), pt_auto_op_name(w[i].op));
        cr_expect_eq(d->steps[i].alt, w[i].alt, "alt of %zu (%s): %u, want %u", i,
                     pt_auto_op_name(w[i].op), d->steps[i].alt, w[i].alt);
    }
}

Test(auto_def, win_back_journey_compiles_to_this_program)
{
    struct pt_auto_def d;
    parse_ok("{'name':'Win-back','trigger':{'type':'segment_entered','segment':'Hibernating'},"
             "'steps':["
             " {'type':'voucher','reward':3},"
             " {'type':'send','channel':'email','template':'winback-15'},"
             " {'type':'wait_event','event':'Order Completed','timeout':'7d',"
             "  'on_event':[{'type':'points','points':200,'reason':'welcome back'}],"
             "  'on_timeout':["
             "   {'type':'voucher','pool':'winback20'},"
             "   {'type':'send','template':'winback-20'},"
             "   {'type':'wait_event','event':'Order Completed','timeout':'14d',"
             "    'on_event':[{'type':'points','points':300}]}]}]}",
             &d);
    static const struct want w[] = {
        {PT_AOP_VOUCHER, 0}, {PT_AOP_SEND, 0},    {PT_AOP_WAIT_EVENT, 5}, {PT_AOP_POINTS, 0},
        {PT_AOP_JUMP, 9},    {PT_AOP_VOUCHER, 0}, {PT_AOP_SEND, 0},       {PT_AOP_WAIT_EVENT, 9},
        {PT_AOP_POINTS, 0},  {PT_AOP_END, 0}};
    expect_program(&d, w, sizeof w / sizeof w[0]);
    cr_expect(d.steps[0].reward == 3 && d.steps[2].dur == 7 * 86400 &&
              d.steps[7].dur == 14 * 86400 && d.steps[3].points == 200 && d.steps[8].points == 300);
    cr_expect_str_eq(d.steps[5].pool, "winback20");
    cr_expect_str_eq(d.steps[6].tmpl, "winback-20");
    char *j = canon(&d);
    cr_expect_str_eq(
        j, "{\"name\":\"Win-back\",\"trigger\":{\"type\":\"segment_entered\",\"segment\":"
           "\"Hibernating\"},\"conditions\":null,\"control_share\":0,\"reentry\":\"after_exit\","
           "\"exit_on\":null,\"steps\":[{\"type\":\"voucher\",\"reward\":3},{\"type\":\"send\","
           "\"template\":\"winback-15\",\"channel\":\"email\",\"transactional\":false},"
           "{\"type\":\"wait_event\",\"event\":\"Order Completed\",\"timeout\":\"7d\","
           "\"on_event\":[{\"type\":\"points\",\"points\":200,\"reason\":\"welcome back\"}],"
           "\"on_timeout\":[{\"type\":\"voucher\",\"pool\":\"winback20\"},{\"type\":\"send\","
           "\"template\":\"winback-20\",\"channel\":\"email\",\"transactional\":false},"
           "{\"type\":\"wait_event\",\"event\":\"Order Completed\",\"timeout\":\"14d\","
           "\"on_event\":[{\"type\":\"points\",\"points\":300,\"reason\":null}],"
           "\"on_timeout\":[]}]}]}");
    free(j);
    pt_auto_def_release(&d);
}

Test(auto_def, branches_with_and_without_else)
{
    struct pt_auto_def d;
    parse_ok(STEPS("{'type':'branch','if':'orders >= 2',"
                   " 'then':[{'type':'tag','add':'vip'},{'type':'points','points':50}],"
                   " 'else':[{'type':'send','template':'x'}]},"
                   "{'type':'wait','for':'1d'}"),
             &d);
    static const struct want with_else[] = {
        {PT_AOP_BRANCH, 4}, {PT_AOP_TAG, 0},  {PT_AOP_POINTS, 0}, {PT_AOP_JUMP, 5},
        {PT_AOP_SEND, 0},   {PT_AOP_WAIT, 0}, {PT_AOP_END, 0}};
    expect_program(&d, with_else, 7);
    pt_auto_def_release(&d);

    parse_ok(STEPS("{'type':'branch','if':'orders >= 2',"
                   " 'then':[{'type':'tag','add':'vip'},{'type':'points','points':50}]},"
                   "{'type':'wait','for':'1d'}"),
             &d);
    static const struct want no_else[] = {
        {PT_AOP_BRANCH, 3}, {PT_AOP_TAG, 0}, {PT_AOP_POINTS, 0}, {PT_AOP_WAIT, 0}, {PT_AOP_END, 0}};
    expect_program(&d, no_else, 5);
    pt_auto_def_release(&d);

    /* an empty else is no else; an empty then jumps over the else */
    parse_ok(STEPS("{'type':'branch','if':'orders >= 2','then':[{'type':'wait','for':'1d'}],"
                   "'else':[]}"),
             &d);
    static const struct want empty_else[] = {{PT_AOP_BRANCH, 2}, {PT_AOP_WAIT, 0}, {PT_AOP_END, 0}};
    expect_program(&d, empty_else, 3);
    pt_auto_def_release(&d);
    parse_ok(STEPS("{'type':'branch','if':'orders >= 2','then':[],"
                   "'else':[{'type':'send','template':'x'}]}"),
             &d);
    static const struct want empty_then[] = {
        {PT_AOP_BRANCH, 2}, {PT_AOP_JUMP, 3}, {PT_AOP_SEND, 0}, {PT_AOP_END, 0}};
    expect_program(&d, empty_then, 4);
    pt_auto_def_release(&d);

    /* nested: a branch with else inside a then, a wait_event with only on_timeout */
    parse_ok(STEPS("{'type':'branch','if':'orders >= 2','then':["
                   "  {'type':'branch','if':'revenue > 100','then':[{'type':'tag','add':'a'}],"
                   "   'else':[{'type':'tag','add':'b'}]}],"
                   " 'else':[{'type':'wait_event','event':'E','timeout':'1h','on_event':[],"
                   "   'on_timeout':[{'type':'tag','add':'c'}]}]},"
                   "{'type':'tag','add':'d'}"),
             &d);
    static const struct want nested[] = {
        {PT_AOP_BRANCH, 6}, {PT_AOP_BRANCH, 4}, {PT_AOP_TAG, 0},        {PT_AOP_JUMP, 5},
        {PT_AOP_TAG, 0},    {PT_AOP_JUMP, 9},   {PT_AOP_WAIT_EVENT, 8}, {PT_AOP_JUMP, 9},
        {PT_AOP_TAG, 0},    {PT_AOP_TAG, 0},    {PT_AOP_END, 0}};
    expect_program(&d, nested, sizeof nested / sizeof nested[0]);
    char *j = canon(&d);
    cr_expect(strstr(j, "\"else\":[{\"type\":\"wait_event\",\"event\":\"E\",\"timeout\":\"1h\","
                        "\"on_event\":[],\"on_timeout\":[{\"type\":\"tag\",\"add\":\"c\"}]}]},"
                        "{\"type\":\"tag\",\"add\":\"d\"}]") != NULL,
              "%s", j);
    free(j);
    pt_auto_def_release(&d);
}

/* ---- refusals ---- */

struct bad {
    const char *doc, *field, *part;
};

static const struct bad BAD[] = {
    /* the document */
    {"[]", "", "must be a JSON object, not a list"},
    {"{'nmae':'x'}", "nmae", "unknown key \"nmae\"; did you mean \"name\"?"},
    {"{'zzz':1}", "zzz", "known keys: name, trigger, conditions"},
    {"{'trigger':{'type':'birthday'},'steps':[]}", "name", "missing"},
    {"{'name':5}", "name", "must be a string of 1 to 200 bytes, not a number"},
    {"{'name':''}", "name", "must not be empty"},
    {"{'name':'n'}", "trigger", "missing"},
    {"{'name':'n','trigger':'birthday'}", "trigger", "must be an object"},
    {"{'name':'n','trigger':{'type':'birthday'}}", "steps", "missing"},
    {"{'name':'n','trigger':{'type':'birthday'},'steps':[]}", "steps", "at least one step"},
    {"{'name':'n','trigger':{'type':'birthday'},'steps':{}}", "steps", "must be a list"},
    {"{'name':'n','trigger':{'type':'birthday'},'control_share':0.6,'steps':[]}", "control_share",
     "from 0 to 0.5, not 0.6"},
    {"{'name':'n','trigger':{'type':'birthday'},'control_share':-0.1,'steps':[]}", "control_share",
     NULL},
    {"{'name':'n','trigger':{'type':'birthday'},'control_share':'0.1','steps':[]}", "control_share",
     "not a string"},
    {"{'name':'n','trigger':{'type':'birthday'},'reentry':'sometimes','steps':[]}", "reentry",
     "must be one of after_exit, never"},
    {"{'name':'n','trigger':{'type':'birthday'},'reentry':'nevr','steps':[]}", "reentry",
     "did you mean \"never\""},
    {"{'name':'n','trigger':{'type':'birthday'},'reentry':{'after':'0d'},'steps':[]}",
     "reentry.after", "from 1s to 365d, not \"0d\""},
    {"{'name':'n','trigger':{'type':'birthday'},'reentry':{'afterr':'1d'},'steps':[]}",
     "reentry.afterr", "did you mean \"after\""},
    {"{'name':'n','trigger':{'type':'birthday'},'reentry':{},'steps':[]}", "reentry.after",
     "missing"},
    {"{'name':'n','trigger':{'type':'birthday'},'reentry':3,'steps':[]}", "reentry", NULL},
    {"{'name':'n','trigger':{'type':'birthday'},'exit_on':'','steps':[]}", "exit_on", "empty"},
    /* triggers */
    {TRIG("{}"), "trigger.type", "missing: give the trigger's type: event, segment_entered"},
    {TRIG("{'type':'evnt'}"), "trigger.type", "did you mean \"event\""},
    {TRIG("{'type':5}"), "trigger.type", "not a number"},
    {TRIG("{'type':'event'}"), "trigger.event", "missing"},
    {TRIG("{'type':'event','event':'E','idle':'1h'}"), "trigger.idle",
     "\"idle\" does not belong to the \"event\" trigger (its keys: type, event)"},
    {TRIG("{'type':'event','event':'E','evnt':'x'}"), "trigger.evnt", "did you mean \"event\""},
    {TRIG("{'type':'birthday','days':3}"), "trigger.days", "does not belong"},
    {TRIG("{'type':'segment_entered'}"), "trigger.segment", "missing"},
    {TRIG("{'type':'segment_entered','segment':0}"), "trigger.segment", "at least 1, not 0"},
    {TRIG("{'type':'segment_entered','segment':1.5}"), "trigger.segment", NULL},
    {TRIG("{'type':'segment_exited','segment':''}"), "trigger.segment", "empty"},
    {TRIG("{'type':'segment_exited','segment':true}"), "trigger.segment", "not true"},
    {TRIG("{'type':'cart_abandoned'}"), "trigger.idle", "missing"},
    {TRIG("{'type':'cart_abandoned','idle':'30s'}"), "trigger.idle", "from 1m to 365d"},
    {TRIG("{'type':'cart_abandoned','idle':'1h','min_value':-1}"), "trigger.min_value", NULL},
    {TRIG("{'type':'replenishment','products':[]}"), "trigger.products", "at least one"},
    {TRIG("{'type':'replenishment'}"), "trigger.products", "missing"},
    {TRIG("{'type':'replenishment','products':{}}"), "trigger.products", "must be a list"},
    {TRIG("{'type':'replenishment','products':['x']}"), "trigger.products[0]", "must be an object"},
    {TRIG("{'type':'replenishment','products':[{'product':'a','days_per_unit':3},"
          "{'product':'a','days_per_unit':4}]}"),
     "trigger.products[1].product", "\"a\" is listed twice (also at products[0])"},
    {TRIG("{'type':'replenishment','products':[{'product':'','days_per_unit':3}]}"),
     "trigger.products[0].product", "empty"},
    {TRIG("{'type':'replenishment','products':[{'product':'a'}]}"),
     "trigger.products[0].days_per_unit", "missing"},
    {TRIG("{'type':'replenishment','products':[{'product':'a','days_per_unit':3651}]}"),
     "trigger.products[0].days_per_unit", "from 1 to 3650, not 3651"},
    {TRIG("{'type':'replenishment','products':[{'product':'a','days_per_unit':2.0}]}"),
     "trigger.products[0].days_per_unit", "not 2.0"},
    {TRIG("{'type':'replenishment','products':[{'product':'a','days_per_unit':3,'qty':1}]}"),
     "trigger.products[0].qty", "unknown key"},
    {TRIG("{'type':'replenishment','products':[{'product':'a','days_per_unit':3}],"
          "'before':'0s'}"),
     "trigger.before", NULL},
    {TRIG("{'type':'rhythm_missed','factor':0.5}"), "trigger.factor", "from 1 to 10"},
    {TRIG("{'type':'rhythm_missed','factor':11}"), "trigger.factor", NULL},
    {TRIG("{'type':'rhythm_missed','min_orders':1}"), "trigger.min_orders", "from 2 to 1000"},
    {TRIG("{'type':'rhythm_missed','min_orders':1001}"), "trigger.min_orders", NULL},
    {TRIG("{'type':'days_since_last_order','days':0}"), "trigger.days", NULL},
    {TRIG("{'type':'days_since_last_order'}"), "trigger.days", "missing"},
    {TRIG("{'type':'points_expiring','within':'12h'}"), "trigger.within", "from 1d to 365d"},
    {TRIG("{'type':'tier_changed','direction':'sideways'}"), "trigger.direction",
     "must be one of any, up, down"},
    {TRIG("{'type':'tier_changed','tier':3}"), "trigger.tier", NULL},
    /* steps */
    {STEPS("3"), "steps[0]", "a step must be an object"},
    {STEPS("{}"), "steps[0].type", "missing: give the step's type: wait, wait_event, branch"},
    {STEPS("{'type':'jump'}"), "steps[0].type", "unknown step type \"jump\""},
    {STEPS("{'type':'wiat','for':'1d'}"), "steps[0].type", "did you mean \"wait\""},
    {STEPS("{'type':'wait'}"), "steps[0].for", "missing: give a duration such as \"7d\""},
    {STEPS("{'type':'wait','for':'1d'},{'type':'send','tempalte':'x'}"), "steps[1].tempalte",
     "unknown key \"tempalte\"; did you mean \"template\"?"},
    {STEPS("{'type':'send','template':'x','for':'1d'}"), "steps[0].for",
     "\"for\" does not belong to a \"send\" step (its keys: type, template, channel, url, "
     "transactional)"},
    {STEPS("{'type':'wait','for':7}"), "steps[0].for", "must be a string such as \"7d\""},
    {STEPS("{'type':'wait','for':'366d'}"), "steps[0].for", "from 1s to 365d, not \"366d\""},
    {STEPS("{'type':'wait','for':'0s'}"), "steps[0].for", NULL},
    {STEPS("{'type':'wait','for':'-1d'}"), "steps[0].for", "integer followed by"},
    {STEPS("{'type':'wait','for':'99999999999999999999s'}"), "steps[0].for", "365d"},
    {STEPS("{'type':'wait','for':'1 d'}"), "steps[0].for", NULL},
    {STEPS("{'type':'wait_event','event':'E'}"), "steps[0].timeout", "missing"},
    {STEPS("{'type':'wait_event','timeout':'1d'}"), "steps[0].event", "missing"},
    {STEPS("{'type':'wait_event','event':'E','timeout':'1d','on_event':{}}"), "steps[0].on_event",
     "must be a list of steps"},
    {STEPS("{'type':'wait_event','event':'E','timeout':'1d','if':'x'}"), "steps[0].if",
     "does not belong to a \"wait_event\" step"},
    {STEPS("{'type':'branch','then':[{'type':'wait','for':'1d'}]}"), "steps[0].if", "missing"},
    {STEPS("{'type':'branch','if':'orders > 1'}"), "steps[0].then", "missing"},
    {STEPS("{'type':'branch','if':'orders > 1','then':[]}"), "steps[0].then",
     "at least one step in then or else"},
    {STEPS("{'type':'branch','if':'orders > 1','then':[],'else':[]}"), "steps[0].then", NULL},
    {STEPS("{'type':'branch','if':'orders > 1','then':[],'else':3}"), "steps[0].else", NULL},
    {STEPS("{'type':'branch','if':3,'then':[]}"), "steps[0].if", NULL},
    {STEPS("{'type':'send'}"), "steps[0].template", "missing"},
    {STEPS("{'type':'send','template':'win back'}"), "steps[0].template", "byte 4"},
    {STEPS("{'type':'send','template':'"
           "12345678901234567890123456789012345678901234567890123456789012345'}"),
     "steps[0].template", "65 bytes long; the limit is 64"},
    {STEPS("{'type':'send','template':'x','channel':'sms'}"), "steps[0].channel",
     "must be one of email, webhook"},
    {STEPS("{'type':'send','template':'x','channel':'webhook'}"), "steps[0].url", "missing"},
    {STEPS("{'type':'send','template':'x','url':'https://h'}"), "steps[0].url",
     "only a webhook send has a url"},
    {STEPS("{'type':'send','template':'x','channel':'webhook','url':'ftp://h'}"), "steps[0].url",
     "http:// or https://"},
    {STEPS("{'type':'send','template':'x','channel':'webhook','url':'http://h/a b'}"),
     "steps[0].url", "spaces or control characters (byte 11)"},
    {STEPS("{'type':'send','template':'x','channel':'webhook','url':'https://'}"), "steps[0].url",
     "no host"},
    {STEPS("{'type':'send','template':'x','transactional':'yes'}"), "steps[0].transactional",
     "true or false"},
    {STEPS("{'type':'points','points':0}"), "steps[0].points", "must not be 0"},
    {STEPS("{'type':'points','points':1000000001}"), "steps[0].points", NULL},
    {STEPS("{'type':'points','points':1.5}"), "steps[0].points", "not 1.5"},
    {STEPS("{'type':'points'}"), "steps[0].points", "missing"},
    {STEPS("{'type':'points','points':5,'reason':''}"), "steps[0].reason", "empty"},
    {STEPS("{'type':'voucher','reward':3,'pool':'p'}"), "steps[0].pool", "not both"},
    {STEPS("{'type':'voucher'}"), "steps[0].reward", "missing: give \"reward\""},
    {STEPS("{'type':'voucher','reward':0}"), "steps[0].reward", NULL},
    {STEPS("{'type':'voucher','pool':7}"), "steps[0].pool", NULL},
    {STEPS("{'type':'tag','add':'a','remove':'b'}"), "steps[0].remove", "not both"},
    {STEPS("{'type':'tag'}"), "steps[0].add", "missing"},
    {STEPS("{'type':'tag','add':'a\\u0001b'}"), "steps[0].add", "control characters (byte 2)"},
    {STEPS("{'type':'tag','remove':''}"), "steps[0].remove", "empty"},
    {STEPS("{'type':'webhook'}"), "steps[0].url", "missing"},
    {STEPS("{'type':'webhook','url':'https://h\\u007f'}"), "steps[0].url", NULL},
    /* nested paths */
    {STEPS("{'type':'wait','for':'1d'},{'type':'send','template':'x'},"
           "{'type':'wait_event','event':'E','timeout':'7d','on_timeout':["
           "{'type':'send','template':'a/b'}]}"),
     "steps[2].on_timeout[0].template", NULL},
    {STEPS("{'type':'branch','if':'orders > 1','then':[{'type':'wait','for':'1d'}],"
           "'else':[{'type':'wait_event','event':'E','timeout':'7d','on_event':["
           "{'type':'tag','add':'x','bogus':1}]}]}"),
     "steps[0].else[0].on_event[0].bogus", "unknown key"},
};

Test(auto_def, each_refusal_names_its_field)
{
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++)
        refuse(BAD[i].doc, BAD[i].field, BAD[i].part);
}

Test(auto_def, exact_messages)
{
    struct pt_err e;
    const char *doc = dq(STEPS("{'type':'wait','for':'7 days'}"));
    refuse_doc(doc, strlen(doc), "steps[0].for", NULL, &e);
    cr_expect_str_eq(e.msg, "steps[0].for: duration must be an integer followed by s, m, h, d "
                            "or w, e.g. \"7d\"");
    doc = dq(TRIG("{'type':'event'}"));
    refuse_doc(doc, strlen(doc), "trigger.event", NULL, &e);
    cr_expect_str_eq(e.msg, "trigger.event: missing: give a string of 1 to 200 bytes");
}

Test(auto_def, bad_json_has_its_position)
{
    struct pt_err e;
    static const char doc[] = "{\n  \"name\": \"x\",\n  \"trigger\": ,\n}";
    refuse_doc(doc, sizeof doc - 1, "", "invalid JSON at line 3, column 14", &e);
    cr_expect(e.line == 3 && e.column == 14, "%llu:%llu %s", (unsigned long long)e.line,
              (unsigned long long)e.column, e.msg);
    static const char dup[] = "{\"name\":\"a\",\"name\":\"b\"}";
    refuse_doc(dup, sizeof dup - 1, "", "duplicate object key", &e);
    cr_expect(e.line == 1);
    refuse_doc("", 0, "", "invalid JSON", &e);
    refuse_doc(NULL, 0, "", "invalid JSON", &e);
    static const char nul[] = "{\"name\":\"a\\u0000b\"}";
    refuse_doc(nul, sizeof nul - 1, "", "invalid JSON", &e);
}

Test(auto_def, rule_errors_have_their_position_in_the_rule)
{
    struct pt_err e;
    const char *doc = dq("{'name':'n','trigger':{'type':'birthday'},"
                         "'conditions':'orders >= 2 and\\n  bogus > 3','steps':[]}");
    refuse_doc(doc, strlen(doc), "conditions", "conditions: 2:3: unknown attribute", &e);
    cr_expect(e.line == 2 && e.column == 3, "%llu:%llu", (unsigned long long)e.line,
              (unsigned long long)e.column);
    doc = dq(STEPS("{'type':'wait','for':'1d'},{'type':'branch','if':'orders >=',"
                   "'then':[{'type':'wait','for':'1d'}]}"));
    refuse_doc(doc, strlen(doc), "steps[1].if", "steps[1].if: 1:", &e);
    cr_expect(e.line == 1 && e.column >= 9, "%llu:%llu %s", (unsigned long long)e.line,
              (unsigned long long)e.column, e.msg);
    doc = dq(STEPS("{'type':'branch','if':'orders','then':[{'type':'wait','for':'1d'}]}"));
    refuse_doc(doc, strlen(doc), "steps[0].if", "must be a condition", &e);
    cr_expect(e.line == 1 && e.column == 1);
    doc = dq(STEPS("{'type':'branch','if':'','then':[{'type':'wait','for':'1d'}]}"));
    refuse_doc(doc, strlen(doc), "steps[0].if", "empty", &e);
}

/* ---- limits ---- */

/* A document with n waits at the top level. */
static void waits(struct pt_buf *b, size_t n)
{
    pt_buf_reset(b);
    pt_buf_adds(b, "{\"name\":\"n\",\"trigger\":{\"type\":\"birthday\"},\"steps\":[");
    for (size_t i = 0; i < n; i++)
        pt_buf_adds(b, i ? ",{\"type\":\"wait\",\"for\":\"1d\"}"
                         : "{\"type\":\"wait\",\"for\":\"1d\"}");
    pt_buf_adds(b, "]}");
}

/* Steps nested `levels` deep: branch { then: branch { ... then: [wait] } }. */
static void nest(struct pt_buf *b, int levels)
{
    pt_buf_reset(b);
    pt_buf_adds(b, "{\"name\":\"n\",\"trigger\":{\"type\":\"birthday\"},\"steps\":[");
    for (int i = 1; i < levels; i++)
        pt_buf_adds(b, "{\"type\":\"branch\",\"if\":\"orders > 1\",\"then\":[");
    pt_buf_adds(b, "{\"type\":\"wait\",\"for\":\"1d\"}");
    for (int i = 1; i < levels; i++)
        pt_buf_adds(b, "],\"else\":[]}");
    pt_buf_adds(b, "]}");
}

Test(auto_def, limits)
{
    struct pt_buf b;
    pt_buf_init(&b);
    struct pt_auto_def d;
    char field[128];
    struct pt_err e;
    waits(&b, PT_AUTO_MAX_STEPS - 1);
    cr_assert_eq(pt_auto_def_parse(b.data, b.len, &d, field, &e), 0, "%s", e.msg);
    cr_expect_eq(d.nsteps, PT_AUTO_MAX_STEPS);
    expect_round_trip(&d);
    pt_auto_def_release(&d);
    waits(&b, PT_AUTO_MAX_STEPS);
    refuse_doc(b.data, b.len, "steps[255]", "more than 256", &e);

    /* a jump is a step too: 253 waits + branch, then, jump, else + END = 258 */
    pt_buf_reset(&b);
    pt_buf_adds(&b, "{\"name\":\"n\",\"trigger\":{\"type\":\"birthday\"},\"steps\":[");
    for (int i = 0; i < 253; i++)
        pt_buf_adds(&b, "{\"type\":\"wait\",\"for\":\"1d\"},");
    pt_buf_adds(&b, "{\"type\":\"branch\",\"if\":\"orders > 1\",\"then\":[{\"type\":\"wait\","
                    "\"for\":\"1d\"}],\"else\":[{\"type\":\"wait\",\"for\":\"1d\"}]}]}");
    refuse_doc(b.data, b.len, "steps[253].else", "more than 256", &e);

    nest(&b, PT_AUTO_MAX_DEPTH);
    cr_assert_eq(pt_auto_def_parse(b.data, b.len, &d, field, &e), 0, "%s", e.msg);
    cr_expect_eq(d.nsteps, PT_AUTO_MAX_DEPTH + 1);
    expect_round_trip(&d);
    pt_auto_def_release(&d);
    nest(&b, PT_AUTO_MAX_DEPTH + 1);
    refuse_doc(b.data, b.len,
               "steps[0].then[0].then[0].then[0].then[0].then[0].then[0].then[0].then[0]",
               "steps nest at most 8 levels deep", &e);

    /* 100 products fit, 101 do not */
    pt_buf_reset(&b);
    pt_buf_adds(&b, "{\"name\":\"n\",\"trigger\":{\"type\":\"replenishment\",\"products\":[");
    for (int i = 0; i < 101; i++)
        pt_buf_printf(&b, "%s{\"product\":\"p%d\",\"days_per_unit\":7}", i ? "," : "", i);
    pt_buf_adds(&b, "]},\"steps\":[{\"type\":\"wait\",\"for\":\"1d\"}]}");
    refuse_doc(b.data, b.len, "trigger.products", "101 products; the limit is 100", &e);
    char *cut = strstr(b.data, ",{\"product\":\"p100\"");
    memmove(cut, strchr(cut + 1, '}') + 1, strlen(strchr(cut + 1, '}') + 1) + 1);
    cr_assert_eq(pt_auto_def_parse(b.data, strlen(b.data), &d, field, &e), 0, "%s", e.msg);
    cr_expect_eq(d.nproducts, 100);
    pt_auto_def_release(&d);

    /* strings at their limits */
    char name[202];
    memset(name, 'a', 201);
    name[201] = '\0';
    pt_buf_reset(&b);
    pt_buf_printf(&b, "{\"name\":\"%s\"}", name);
    refuse_doc(b.data, b.len, "name", "201 bytes long; the limit is 200", &e);
    pt_buf_reset(&b);
    pt_buf_printf(&b,
                  "{\"name\":\"%.200s\",\"trigger\":{\"type\":\"birthday\"},\"steps\":[{\"type\":"
                  "\"webhook\",\"url\":\"https://h/%01990d\"}]}",
                  name, 0);
    cr_assert_eq(pt_auto_def_parse(b.data, b.len, &d, field, &e), 0, "%s", e.msg);
    cr_expect_eq(strlen(d.steps[0].url), 2000);
    pt_auto_def_release(&d);
    pt_buf_reset(&b);
    pt_buf_printf(&b,
                  "{\"name\":\"n\",\"trigger\":{\"type\":\"birthday\"},\"steps\":[{\"type\":"
                  "\"webhook\",\"url\":\"https://h/%01991d\"}]}",
                  0);
    refuse_doc(b.data, b.len, "steps[0].url", "2001 bytes long; the limit is 2000", &e);

    /* a long unknown key: the field is cut below 128 bytes, the message keeps more */
    char key[300];
    memset(key, 'k', 299);
    key[299] = '\0';
    pt_buf_reset(&b);
    pt_buf_printf(&b, "{\"%s\":1}", key);
    struct pt_auto_def z;
    cr_expect_eq(pt_auto_def_parse(b.data, b.len, &z, field, &e), PT_EPARSE);
    cr_expect_eq(strlen(field), 127);
    cr_expect(strncmp(e.msg, field, 127) == 0);
    pt_buf_release(&b);
}

/* ---- random journeys ---- */

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* A random journey as JSON with the program it must compile to (an
 * independent model of def.h's layout). */
struct gen {
    uint64_t seed;
    struct pt_buf b;
    struct want w[PT_AUTO_MAX_STEPS];
    size_t n;
};

static size_t put(struct gen *g, int op)
{
    cr_assert_lt(g->n, PT_AUTO_MAX_STEPS);
    g->w[g->n].op = op;
    g->w[g->n].alt = 0;
    return g->n++;
}

static void gen_list(struct gen *g, int depth, size_t max);

/* ,"K":[...] */
static void gen_sub(struct gen *g, const char *key, int depth, size_t max)
{
    pt_buf_printf(&g->b, ",\"%s\":", key);
    gen_list(g, depth, max);
}

static void gen_step(struct gen *g, int depth)
{
    static const char *const simple[] = {
        "{\"type\":\"wait\",\"for\":\"%dh\"}",
        "{\"type\":\"send\",\"template\":\"t-%d\",\"transactional\":true}",
        "{\"type\":\"send\",\"template\":\"w%d\",\"channel\":\"webhook\",\"url\":\"https://h/\"}",
        "{\"type\":\"points\",\"points\":%d,\"reason\":\"r\"}",
        "{\"type\":\"voucher\",\"reward\":%d}",
        "{\"type\":\"tag\",\"remove\":\"t%d\"}",
        "{\"type\":\"webhook\",\"url\":\"http://x/%d\"}",
    };
    static const int ops[] = {PT_AOP_WAIT,    PT_AOP_SEND, PT_AOP_SEND,   PT_AOP_POINTS,
                              PT_AOP_VOUCHER, PT_AOP_TAG,  PT_AOP_WEBHOOK};
    uint64_t r = rnd(&g->seed);
    int nested = depth < PT_AUTO_MAX_DEPTH && g->n < PT_AUTO_MAX_STEPS - 40 && r % 3 == 0;
    if (!nested) {
        size_t i = (size_t)(r >> 8) % 7;
        pt_buf_printf(&g->b, simple[i], (int)((r >> 20) % 50) + 1);
        put(g, ops[i]);
        return;
    }
    int branch = (r >> 8) & 1, has2 = ((r >> 9) & 3) != 0;
    size_t k = put(g, branch ? PT_AOP_BRANCH : PT_AOP_WAIT_EVENT);
    if (branch)
        pt_buf_adds(&g->b, "{\"type\":\"branch\",\"if\":\"orders > 1\"");
    else
        pt_buf_adds(&g->b, "{\"type\":\"wait_event\",\"event\":\"E\",\"timeout\":\"2d\"");
    size_t before = g->n;
    gen_sub(g, branch ? "then" : "on_event", depth + 1, 3);
    int empty1 = g->n == before;
    if (!has2 && branch && empty1)
        has2 = 1; /* a branch needs a step somewhere */
    if (!has2) {
        g->w[k].alt = (uint32_t)g->n;
        if ((r >> 11) & 1)
            pt_buf_printf(&g->b, ",\"%s\":[]", branch ? "else" : "on_timeout");
        pt_buf_addc(&g->b, '}');
        return;
    }
    size_t j = put(g, PT_AOP_JUMP);
    g->w[k].alt = (uint32_t)g->n;
    pt_buf_printf(&g->b, ",\"%s\":[", branch ? "else" : "on_timeout");
    gen_step(g, depth + 1); /* at least one */
    pt_buf_adds(&g->b, "]}");
    g->w[j].alt = (uint32_t)g->n;
}

static void gen_list(struct gen *g, int depth, size_t max)
{
    size_t n = (size_t)(rnd(&g->seed) % (max + 1));
    pt_buf_addc(&g->b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            pt_buf_addc(&g->b, ',');
        gen_step(g, depth);
    }
    pt_buf_addc(&g->b, ']');
}

Test(auto_def, random_journeys_compile_as_modelled_and_round_trip)
{
    struct gen g = {.seed = 12345};
    pt_buf_init(&g.b);
    for (int iter = 0; iter < 500; iter++) {
        pt_buf_reset(&g.b);
        g.n = 0;
        pt_buf_adds(&g.b, "{\"name\":\"r\",\"trigger\":{\"type\":\"birthday\"},\"steps\":[");
        gen_step(&g, 1);
        size_t more = (size_t)(rnd(&g.seed) % 6);
        for (size_t i = 0; i < more; i++) {
            pt_buf_addc(&g.b, ',');
            gen_step(&g, 1);
        }
        pt_buf_adds(&g.b, "]}");
        put(&g, PT_AOP_END);
        struct pt_auto_def d;
        char field[128];
        struct pt_err e;
        int rc = pt_auto_def_parse(g.b.data, g.b.len, &d, field, &e);
        cr_assert_eq(rc, 0, "%s\n%s", e.msg, g.b.data);
        expect_program(&d, g.w, g.n);
        expect_round_trip(&d);
        pt_auto_def_release(&d);
    }
    pt_buf_release(&g.b);
}

/* ---- canonical JSON ---- */

Test(auto_def, canonical_json_spells_out_the_defaults)
{
    struct pt_auto_def d;
    parse_ok("{'steps':[{'type':'send','template':'t'}],'trigger':{'type':'rhythm_missed'},"
             "'name':'R\\u00e9\\n'}",
             &d);
    char *j = canon(&d);
    cr_expect_str_eq(j, "{\"name\":\"R\xc3\xa9\\u000a\",\"trigger\":{\"type\":\"rhythm_missed\","
                        "\"factor\":1.5,\"min_orders\":3},\"conditions\":null,\"control_share\":0,"
                        "\"reentry\":\"after_exit\",\"exit_on\":null,\"steps\":[{\"type\":"
                        "\"send\",\"template\":\"t\",\"channel\":\"email\",\"transactional\":"
                        "false}]}");
    free(j);
    pt_auto_def_release(&d);

    static const char *const triggers[] = {
        "{'type':'cart_abandoned','idle':'120m'}",
        "{'type':'replenishment','products':[{'product':'b','days_per_unit':9}],'before':'48h'}",
        "{'type':'points_expiring','within':'1w'}",
        "{'type':'tier_changed'}",
        "{'type':'segment_exited','segment':9223372036854775807}",
    };
    static const char *const want[] = {
        "{\"type\":\"cart_abandoned\",\"idle\":\"2h\",\"min_value\":0}",
        "{\"type\":\"replenishment\",\"products\":[{\"product\":\"b\",\"days_per_unit\":9}],"
        "\"before\":\"2d\"}",
        "{\"type\":\"points_expiring\",\"within\":\"7d\"}",
        "{\"type\":\"tier_changed\",\"direction\":\"any\",\"tier\":null}",
        "{\"type\":\"segment_exited\",\"segment\":9223372036854775807}",
    };
    char doc[512];
    for (size_t i = 0; i < sizeof triggers / sizeof triggers[0]; i++) {
        snprintf(doc, sizeof doc, TRIG("%s"), triggers[i]);
        parse_ok(doc, &d);
        j = canon(&d);
        cr_expect(strstr(j, want[i]) != NULL, "%s in %s", want[i], j);
        free(j);
        pt_auto_def_release(&d);
    }

    parse_ok("{'name':'x','trigger':{'type':'birthday'},'reentry':{'after':'90m'},"
             "'control_share':0.1,'conditions':'  orders >= 2  # comment','steps':[{'type':"
             "'points','points':-5,'reason':'r'},{'type':'wait','for':'86401s'}]}",
             &d);
    j = canon(&d);
    cr_expect(strstr(j, "\"conditions\":\"  orders >= 2  # comment\",\"control_share\":0.1,"
                        "\"reentry\":{\"after\":\"90m\"}") != NULL,
              "%s", j);
    cr_expect(strstr(j, "{\"type\":\"wait\",\"for\":\"86401s\"}") != NULL, "%s", j);
    free(j);
    pt_auto_def_release(&d);
}

Test(auto_def, canonical_json_refuses_a_broken_program)
{
    struct pt_auto_def d;
    parse_ok(STEPS("{'type':'branch','if':'orders > 1','then':[{'type':'wait','for':'1d'}]}"), &d);
    struct pt_buf b;
    pt_buf_init(&b);
    pt_buf_adds(&b, "keep");
    d.steps[0].alt = 7; /* past the end */
    cr_expect_eq(pt_auto_def_json(&d, &b), PT_EINVAL);
    d.steps[0].alt = 0; /* backwards */
    cr_expect_eq(pt_auto_def_json(&d, &b), PT_EINVAL);
    d.steps[0].alt = 2;
    d.steps[2].op = PT_AOP_WAIT; /* no END */
    cr_expect_eq(pt_auto_def_json(&d, &b), PT_EINVAL);
    d.steps[2].op = PT_AOP_END;
    d.steps[1].op = PT_AOP_JUMP; /* a jump with no list after it */
    d.steps[1].alt = 9;
    cr_expect_eq(pt_auto_def_json(&d, &b), PT_EINVAL);
    cr_expect_str_eq(b.data, "keep");
    d.steps[1].op = PT_AOP_WAIT;
    d.steps[1].alt = 0;
    cr_expect_eq(pt_auto_def_json(&d, &b), 0);
    pt_buf_release(&b);
    pt_auto_def_release(&d);
}

/* ---- durations and names ---- */

Test(auto_def, durations)
{
    static const struct {
        const char *text;
        int64_t s;
    } ok[] = {{"1s", 1},
              {"90m", 5400},
              {"12h", 43200},
              {"7d", 604800},
              {"2w", 1209600},
              {"007d", 604800},
              {"9223372036854775807s", INT64_MAX},
              {"15250284452471w", 15250284452471LL * 604800}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t s = -1;
        cr_expect_eq(pt_auto_duration(ok[i].text, &s), 0, "%s", ok[i].text);
        cr_expect_eq(s, ok[i].s, "%s", ok[i].text);
    }
    static const char *const bad[] = {"",
                                      "d",
                                      "7",
                                      "0d",
                                      "00s",
                                      "-1d",
                                      "+1d",
                                      " 1d",
                                      "1d ",
                                      "1 d",
                                      "1D",
                                      "1y",
                                      "1.5d",
                                      "1dd",
                                      "9223372036854775808s",
                                      "15250284452472w",
                                      NULL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t s = 42;
        cr_expect_eq(pt_auto_duration(bad[i], &s), PT_EINVAL, "%s", bad[i] ? bad[i] : "NULL");
        cr_expect_eq(s, 42);
    }
}

Test(auto_def, names)
{
    static const char *const trig[] = {
        "event",         "segment_entered", "segment_exited",        "cart_abandoned",
        "replenishment", "rhythm_missed",   "days_since_last_order", "points_expiring",
        "tier_changed",  "birthday"};
    for (int t = PT_TRIG_EVENT; t <= PT_TRIG_BIRTHDAY; t++)
        cr_expect_str_eq(pt_auto_trigger_name(t), trig[t - 1]);
    cr_expect_str_eq(pt_auto_trigger_name(0), "unknown");
    cr_expect_str_eq(pt_auto_trigger_name(11), "unknown");
    static const char *const ops[] = {"end",  "wait",   "wait_event", "branch", "jump",
                                      "send", "points", "voucher",    "tag",    "webhook"};
    for (int op = PT_AOP_END; op <= PT_AOP_WEBHOOK; op++)
        cr_expect_str_eq(pt_auto_op_name(op), ops[op]);
    cr_expect_str_eq(pt_auto_op_name(-1), "unknown");
    cr_expect_str_eq(pt_auto_op_name(10), "unknown");
}

/* ---- memory ---- */

Test(auto_def, allocation_failures_are_clean)
{
    const char *doc =
        dq("{'name':'Win-back','trigger':{'type':'replenishment','products':[{'product':'a',"
           "'days_per_unit':3},{'product':'b','days_per_unit':4}]},'conditions':'orders >= 2',"
           "'exit_on':'Order Completed','steps':[{'type':'branch','if':'revenue > 10','then':["
           "{'type':'tag','add':'x'}],'else':[{'type':'send','template':'t','channel':'webhook',"
           "'url':'https://h'}]},{'type':'wait_event','event':'E','timeout':'1d','on_event':["
           "{'type':'points','points':5,'reason':'r'}],'on_timeout':[{'type':'voucher','pool':"
           "'p'}]}]}");
    int ok = 0;
    for (unsigned long n = 1; n < 400 && !ok; n++) {
        struct pt_auto_def d;
        struct pt_err e;
        char field[128];
        pt_mem_fail_after(n);
        int rc = pt_auto_def_parse(doc, strlen(doc), &d, field, &e);
        pt_mem_fail_after(0);
        cr_assert(rc == 0 || rc == PT_ENOMEM, "rc %d at %lu: %s", rc, n, e.msg);
        if (rc == 0)
            ok = 1;
        else
            cr_expect(all_zero(&d, sizeof d), "zeroed after failure %lu", n);
        pt_auto_def_release(&d);
    }
    cr_expect(ok, "parses once allocations succeed");

    struct pt_auto_def d;
    parse_ok(doc, &d);
    struct pt_buf b;
    pt_buf_init(&b);
    pt_buf_adds(&b, "prefix");
    for (unsigned long n = 1; n < 8; n++) {
        pt_mem_fail_after(n);
        int rc = pt_auto_def_json(&d, &b);
        pt_mem_fail_after(0);
        if (rc == 0)
            break;
        cr_expect_eq(rc, PT_ENOMEM);
        cr_expect_str_eq(b.data, "prefix", "unchanged on failure");
    }
    pt_buf_release(&b);
    pt_auto_def_release(&d);
}
