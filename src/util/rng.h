/*
 * rng.h - small deterministic pseudo-random generator for demo data and tests
 * (splitmix64 seeding a xorshift-multiply state). NOT for secrets: codes and
 * keys come from libsodium. Pure, state in the caller's struct.
 */
#ifndef PT_UTIL_RNG_H
#define PT_UTIL_RNG_H

#include <math.h>
#include <stdint.h>

struct pt_rng {
    uint64_t s;
};

static inline uint64_t pt_rng_next(struct pt_rng *r)
{
    /* splitmix64 step: add the golden-ratio increment, then mix. */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline void pt_rng_seed(struct pt_rng *r, uint64_t seed)
{
    r->s = seed;
    (void)pt_rng_next(r);
}

/* Uniform in [0, 1). */
static inline double pt_rng_unit(struct pt_rng *r)
{
    return (double)(pt_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n), n > 0 (tiny modulo bias is irrelevant here). */
static inline uint64_t pt_rng_below(struct pt_rng *r, uint64_t n)
{
    return pt_rng_next(r) % n;
}

/* Standard normal (Box-Muller; one of the pair is dropped for simplicity). */
static inline double pt_rng_normal(struct pt_rng *r)
{
    double u = pt_rng_unit(r), v = pt_rng_unit(r);
    if (u < 1e-300)
        u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

#endif
