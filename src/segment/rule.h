/*
 * rule.h - the segment rule language: parse and type-check (docs/segments.md).
 *
 * Layer: segment (util). A rule is text such as
 *     orders >= 3 and days_since_last_order <= 30
 *     rfm.segment in ("At Risk", "Can't Lose Them") and revenue >= 1000
 *     count(event = "Product Viewed", category = "shoes", within = 7d) >= 3
 * pt_rule_parse turns it into a flat tree of nodes (struct pt_rule) whose every
 * attribute, function and argument is known and whose types agree, or fails
 * with PT_EPARSE and "LINE:COLUMN: reason" in e->msg (e->line, e->column set),
 * with a suggestion for a misspelt name ("did you mean
 * days_since_last_order?"). Nothing is evaluated here.
 *
 * Ownership: a parsed rule owns its arrays; pt_rule_free releases them (and
 * is safe on a zeroed or failed rule). Pure and thread-safe: no globals but
 * the constant attribute and function tables.
 *
 * Limits (PT_ETOOBIG with a position): 65,536 bytes of text, 4,096 nodes,
 * nesting 64 deep.
 */
#ifndef PT_SEGMENT_RULE_H
#define PT_SEGMENT_RULE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

#define PT_RULE_MAX_TEXT  65536
#define PT_RULE_MAX_NODES 4096
#define PT_RULE_MAX_DEPTH 64

/* Value types. ANY: a free-form trait, checked when evaluated. */
enum pt_rule_type {
    PT_RT_BOOL,
    PT_RT_NUM,
    PT_RT_DUR, /* a duration, in seconds */
    PT_RT_STR,
    PT_RT_LIST, /* a list of strings (e.g. favourite categories) */
    PT_RT_ANY,
};

enum pt_rule_op {
    PT_R_NUM,  /* num */
    PT_R_DUR,  /* num = seconds */
    PT_R_STR,  /* str, slen */
    PT_R_BOOL, /* num = 0 or 1 */
    PT_R_ATTR, /* id = attribute (pt_rule_attrs), str/slen = the key after a prefix */
    PT_R_LIST, /* kids [a, a+b): literals */
    PT_R_AND,  /* a, b */
    PT_R_OR,
    PT_R_NOT, /* a */
    PT_R_EQ,  /* a, b */
    PT_R_NE,
    PT_R_LT,
    PT_R_LE,
    PT_R_GT,
    PT_R_GE,
    PT_R_IN,       /* a in list b */
    PT_R_BETWEEN,  /* a between b and c */
    PT_R_CONTAINS, /* a contains b */
    PT_R_EXISTS,   /* a (an attribute) exists */
    PT_R_ADD,      /* a, b */
    PT_R_SUB,
    PT_R_MUL,
    PT_R_DIV,
    PT_R_NEG,  /* a */
    PT_R_CALL, /* id = function (pt_rule_funcs), args kids [a, a+b) */
    PT_R_ARG,  /* a named (str/slen) or positional (slen 0) argument: value a */
};

struct pt_rule_node {
    uint8_t op, type;
    uint32_t line, col; /* where it starts, 1-based */
    int32_t a, b, c;    /* children (node indices, or kids range), -1 if none */
    int32_t id;         /* attribute or function */
    double num;
    uint32_t str, slen; /* into pt_rule.strs */
};

struct pt_rule {
    struct pt_rule_node *nodes;
    size_t n, cap;
    int32_t *kids; /* node indices of lists and argument lists */
    size_t nk, kcap;
    char *strs; /* string literals and keys, unescaped, each NUL-terminated */
    size_t ns, scap;
    int32_t root;
};

/* An attribute a rule may name. A name ending in '.' is a prefix: any key
 * follows it (traits.vip, preference.style). */
struct pt_rule_attr {
    const char *name;
    enum pt_rule_type type;
    const char *doc;
};
const struct pt_rule_attr *pt_rule_attrs(size_t *n);

/* A function: its result type and the names of its arguments. */
struct pt_rule_func {
    const char *name;
    enum pt_rule_type type;
    const char *doc;
};
const struct pt_rule_func *pt_rule_funcs(size_t *n);

int pt_rule_parse(const char *text, size_t len, struct pt_rule *r, struct pt_err *e);
void pt_rule_free(struct pt_rule *r);

/* The rule in canonical text: every operation in parentheses, names and
 * literals as parsed; parsing it gives the same tree. */
int pt_rule_format(const struct pt_rule *r, struct pt_buf *b);

const char *pt_rule_type_name(enum pt_rule_type t);

/*
 * Evaluation. The caller describes one customer through an environment: attr
 * fills the value of attribute `id` (an index of pt_rule_attrs; key/klen the
 * part after a prefix such as "traits."), or leaves present = 0 when the
 * customer has none; call answers a function node (count and orders_in as a
 * number, bought and viewed as 0 or 1). Both return 0, or a PT_E* code that
 * pt_rule_eval passes on.
 *
 * A missing value makes every comparison, in, between and contains false, and
 * arithmetic on it missing; `exists` is true exactly when it is present; `not`
 * inverts. A free-form trait of the wrong type for its comparison is false.
 * Strings compare byte for byte; contains is a substring test on a string and
 * a membership test on a list.
 */
struct pt_rule_value {
    enum pt_rule_type type; /* as the attribute table says, or the trait's own */
    int present;
    double num;      /* number, duration (seconds), boolean (0/1) */
    const char *str; /* string (not NUL-terminated) */
    size_t slen;
    const char *const *items; /* list of strings */
    const size_t *lens;
    size_t n;
};
struct pt_rule_env {
    int (*attr)(void *ctx, int32_t id, const char *key, size_t klen, struct pt_rule_value *out);
    int (*call)(void *ctx, const struct pt_rule *r, int32_t node, double *out);
    void *ctx;
};
int pt_rule_eval(const struct pt_rule *r, const struct pt_rule_env *env, int *match);
/* The truth of node (a subtree of r) as pt_rule_eval would find it. */
int pt_rule_eval_node(const struct pt_rule *r, int32_t node, const struct pt_rule_env *env,
                      int *match);
/* The canonical text of node (a subtree of r). */
int pt_rule_format_node(const struct pt_rule *r, int32_t node, struct pt_buf *b);

#endif
