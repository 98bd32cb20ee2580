/*
 * mem.h - the one allocator entry point of Patron.
 *
 * Layer: util. Nothing else in src/ calls malloc/calloc/realloc/free directly
 * (scripts/lint checks it). pt_alloc_array/pt_realloc_array check n * size for
 * overflow and return NULL on it, like a failed allocation.
 *
 * Allocation failure injection: pt_mem_fail_after(n) makes the n-th following
 * allocation (and every later one) fail; 0 turns injection off. Used by unit
 * tests only. The counter is a process-wide static in mem.c (the one global
 * of the library besides const tables), not
 * thread-safe by design: tests set it before starting work.
 */
#ifndef PT_UTIL_MEM_H
#define PT_UTIL_MEM_H

#include <stddef.h>

void *pt_malloc(size_t n);
void *pt_calloc(size_t n, size_t size);
void *pt_realloc(void *p, size_t n);
void pt_free(void *p); /* accepts NULL */

/* n * size bytes, NULL on overflow or failure. Uninitialised. */
void *pt_alloc_array(size_t n, size_t size);
/* Resize p to n * size bytes; NULL (p untouched) on overflow or failure. */
void *pt_realloc_array(void *p, size_t n, size_t size);

/* Copy of s[0..n) plus a NUL; NULL on failure. Free with pt_free. */
char *pt_strndup(const char *s, size_t n);

void pt_mem_fail_after(unsigned long n);

#endif
