/* mem.c - allocator wrappers with overflow checks and failure injection. */
#include "util/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

/*
 * Large blocks (customer tables, sort buffers) are touched at random: ask for
 * transparent huge pages on the 2 MiB-aligned part of them, which cuts page
 * faults and TLB misses. Advice only: where THP is off, nothing changes.
 */
#define HUGE_MIN (8u << 20)
static void *hint_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    if (p != NULL && n >= HUGE_MIN) {
        uintptr_t a = ((uintptr_t)p + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1);
        uintptr_t e = ((uintptr_t)p + n) & ~(uintptr_t)((2u << 20) - 1);
        if (e > a)
            madvise((void *)a, e - a, MADV_HUGEPAGE);
    }
#else
    (void)n;
#endif
    return p;
}

void *pt_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return hint_huge(malloc(n ? n : 1), n);
}

void *pt_calloc(size_t n, size_t size)
{
    if (should_fail())
        return NULL;
    if (n == 0 || size == 0)
        return calloc(1, 1);
    return hint_huge(calloc(n, size), n * size); /* calloc checked n * size */
}

void *pt_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return hint_huge(realloc(p, n ? n : 1), n);
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
