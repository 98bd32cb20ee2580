/*
 * radix.h - stable LSD radix sort of (uint64 key, uint32 value) pairs.
 *
 * Layer: util. Sorts ascending by key; equal keys keep their input order.
 * Byte positions where every key has the same byte are skipped, so small key
 * ranges cost few passes. Returns 0 or PT_ENOMEM (arrays unchanged).
 * Not thread-safe for the same arrays; never blocks.
 */
#ifndef PT_UTIL_RADIX_H
#define PT_UTIL_RADIX_H

#include <stddef.h>
#include <stdint.h>

int pt_radix_sort_kv(uint64_t *key, uint32_t *val, size_t n);

#endif
