/*
 * hash.h - fast non-cryptographic 64-bit hash for in-memory tables.
 *
 * Layer: util. Not for anything an attacker can exploit beyond making a table
 * slow: tables that hold untrusted keys seed it per process (pt_hash_bytes'
 * seed argument). Thread-safe, pure.
 */
#ifndef PT_UTIL_HASH_H
#define PT_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t pt_hash_mix(uint64_t x)
{
    /* A 64-bit finaliser: xor-shift / multiply rounds with odd constants. */
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    return x;
}

static inline uint64_t pt_load64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Hash n bytes at p. Reads 8 bytes at a time; never past p + n. */
static inline uint64_t pt_hash_bytes(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
    while (n >= 8) {
        h = (h ^ pt_load64(s)) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t t = 0;
        memcpy(&t, s, n);
        h = (h ^ t) * 0x94d049bb133111ebULL;
    }
    return pt_hash_mix(h);
}

#endif
