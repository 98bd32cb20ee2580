/*
 * ckd.h - checked size arithmetic (C23 ckd_* style, on GCC/Clang builtins).
 *
 * Layer: util. Each returns nonzero when the exact result does not fit in *r
 * (then *r holds the wrapped value and must not be used).
 */
#ifndef PT_UTIL_CKD_H
#define PT_UTIL_CKD_H

#include <stddef.h>
#include <stdint.h>

#define pt_ckd_add(r, a, b) __builtin_add_overflow((a), (b), (r))
#define pt_ckd_sub(r, a, b) __builtin_sub_overflow((a), (b), (r))
#define pt_ckd_mul(r, a, b) __builtin_mul_overflow((a), (b), (r))

#endif
