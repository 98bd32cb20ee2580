/*
 * text.h - small text helpers the JSON document parsers share (loyalty
 * rewards, automation definitions, message templates): cutting UTF-8 on a
 * character, the edit distance behind "did you mean", and the English name
 * of a JSON value's type for messages.
 *
 * Layer: util (the type name reads a jansson value). Thread-safe, no state.
 */
#ifndef PT_UTIL_TEXT_H
#define PT_UTIL_TEXT_H

#include <jansson.h>
#include <stddef.h>

/* Longest prefix of s[0..n) of at most cap bytes that ends on a character. */
size_t pt_utf8_cut(const char *s, size_t n, size_t cap);
/* Edit distance of two short strings, a swap of neighbours counting as one
 * edit (99 when either is over 32 bytes). */
size_t pt_edit_distance(const char *a, size_t na, const char *b, size_t nb);
/* "an object", "a list", "a string", "a number", "true", "false", "null". */
const char *pt_json_type_name(const json_t *v);

#endif
