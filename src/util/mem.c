/* mem.c - allocator wrappers with overflow checks and failure injection. */
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

#include "util/ckd.h"

/* Failure injection counter (tests only; see mem.h). */
static unsigned long g_fail_after;

void pt_mem_fail_after(unsigned long n)
{
    g_fail_after = n;
}

static int should_fail(void)
{
    if (g_fail_after == 0)
        return 0;
    if (g_fail_after == 1)
        return 1; /* stays 1: every later allocation fails too */
    g_fail_after--;
    return 0;
}

void *pt_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *pt_calloc(size_t n, size_t size)
{
    if (should_fail())
        return NULL;
    if (n == 0 || size == 0)
        return calloc(1, 1);
    return calloc(n, size);
}

void *pt_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void pt_free(void *p)
{
    free(p);
}

void *pt_alloc_array(size_t n, size_t size)
{
    size_t total;
    if (pt_ckd_mul(&total, n, size))
        return NULL;
    return pt_malloc(total);
}

void *pt_realloc_array(void *p, size_t n, size_t size)
{
    size_t total;
    if (pt_ckd_mul(&total, n, size))
        return NULL;
    return pt_realloc(p, total);
}

char *pt_strndup(const char *s, size_t n)
{
    size_t total;
    if (pt_ckd_add(&total, n, 1))
        return NULL;
    char *d = pt_malloc(total);
    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}
