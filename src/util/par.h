/*
 * par.h - a parallel for over an index range, on short-lived threads.
 *
 * Layer: util. pt_parallel(n, fn, arg) runs fn(arg, part, lo, hi) for
 * PT_PAR_PARTS contiguous parts of [0, n), all but part 0 on their own threads
 * when n >= PT_PAR_MIN (below that, part 0 gets everything and the other parts
 * get empty ranges). Every part is called exactly once, and all have returned
 * when pt_parallel returns. If a thread cannot be started, its part runs on
 * the calling thread. fn must not touch what another part writes.
 */
#ifndef PT_UTIL_PAR_H
#define PT_UTIL_PAR_H

#include <stddef.h>

#define PT_PAR_PARTS 2 /* the machines we target have 2+ cores */
#define PT_PAR_MIN 20000

void pt_parallel(size_t n, void (*fn)(void *arg, int part, size_t lo, size_t hi), void *arg);

#endif
