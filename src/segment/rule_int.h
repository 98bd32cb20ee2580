/*
 * rule_int.h - what the parts of the rule language share (not for use
 * outside src/segment): the lexer's tokens and state, the error reporter and
 * the type rules of arithmetic.
 */
#ifndef PT_SEGMENT_RULE_INT_H
#define PT_SEGMENT_RULE_INT_H

#include "segment/rule.h"

enum tok {
    T_END,
    T_NUM,
    T_DUR,
    T_STR,
    T_IDENT,
    T_AND,
    T_OR,
    T_NOT,
    T_IN,
    T_BETWEEN,
    T_CONTAINS,
    T_EXISTS,
    T_TRUE,
    T_FALSE,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,
    T_LP,
    T_RP,
    T_COMMA,
    T_DOT,
};

struct parser {
    const char *s, *end, *p; /* text, its end, the lexer's position */
    uint32_t line;
    const char *line_start;
    /* the current token */
    enum tok t;
    const char *ts; /* its text */
    size_t tlen;
    uint32_t tline, tcol;
    double num;
    uint32_t str, slen; /* string token: unescaped into r->strs */
    struct pt_rule *r;
    struct pt_err *e;
    int depth, failed, code;
};

/* Records the first error ("LINE:COLUMN: ...") in ps->e; returns -1. */
int rule_fail(struct parser *ps, uint32_t line, uint32_t col, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Copies n bytes (and a NUL) into the rule's strings; *off receives where. */
int rule_add_str(struct parser *ps, const char *s, size_t n, uint32_t *off);
/* Reads the next token into ps; -1 after an error. */
int rule_next(struct parser *ps);

int rule_numeric(enum pt_rule_type t);
/* Result type of a op b for + - * /, or -1 when it has none. */
int rule_arith_type(enum pt_rule_op op, enum pt_rule_type a, enum pt_rule_type b);

#endif
