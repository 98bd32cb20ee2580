/*
 * colev.h - many rules over many customers at once: the full evaluation of
 * a shop's segments (a new segment, a sweep, a preview, `patron segment
 * eval`), with the same answers as pt_rule_eval gives one customer at a time.
 *
 * Layer: segment (util, rule, subject). How: the rules are compiled together.
 * Their leaves - numeric attributes, function calls, and any comparison the
 * vector code does not cover (strings, lists, free-form traits) - are
 * deduplicated across rules by canonical text and computed once per
 * customer, row by row, into columns of a block of PT_SEG_BLOCK customers;
 * then each rule runs as a short vector program over the block's columns
 * (missing = NaN, booleans 0/1). docs/segments.md, "Full evaluation".
 *
 * Ownership: a program borrows its rules (they must outlive it); a block is
 * one thread's scratch. Errors: PT_ENOMEM.
 */
#ifndef PT_SEGMENT_COLEV_H
#define PT_SEGMENT_COLEV_H

#include <stddef.h>
#include <stdint.h>

#include "segment/rule.h"
#include "segment/subject.h"

#define PT_SEG_BLOCK 1024

struct pt_seg_prog;
struct pt_seg_block;

int pt_seg_prog_new(const struct pt_rule *const *rules, size_t n, struct pt_seg_prog **out);
void pt_seg_prog_free(struct pt_seg_prog *p);
/* Leaves computed per customer (for reports and tests). */
size_t pt_seg_prog_leaves(const struct pt_seg_prog *p);

struct pt_seg_block *pt_seg_block_new(const struct pt_seg_prog *p);
void pt_seg_block_free(struct pt_seg_block *b);
/* Row i (< PT_SEG_BLOCK) of the block: the customer x is bound to. */
void pt_seg_block_row(struct pt_seg_block *b, struct pt_seg_ctx *x, size_t i);
/* Run every rule over rows [0, m): hit(ctx, rule, row) for each match. */
void pt_seg_block_run(struct pt_seg_block *b, size_t m,
                      void (*hit)(void *ctx, size_t rule, size_t row), void *ctx);

#endif
