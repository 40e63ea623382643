/* The generator's PRNG: splitmix64 to derive a per-row state, xoshiro256**
 * to draw from it. Every row seeds its own state from (seed, row), so rows
 * are independent and any range of rows can be generated on its own. */
#ifndef CARPRICE_DATA_RNG_H
#define CARPRICE_DATA_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
    double spare; /* second Box-Muller variate, valid when has_spare */
    int has_spare;
} cp_rng_t;

static inline uint64_t cp_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A stateless 64-bit mix of two words; used for per-entity attributes
 * (dealers, models) that must not depend on which row asks for them. */
static inline uint64_t cp_hash2(uint64_t a, uint64_t b)
{
    uint64_t x = a ^ (b * 0xD6E8FEB86659FD93ull);
    return cp_splitmix64(&x);
}

static inline void cp_rng_seed(cp_rng_t *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = cp_hash2(seed, stream);
    for (int i = 0; i < 4; i++)
        r->s[i] = cp_splitmix64(&x);
    r->has_spare = 0;
    r->spare = 0.0;
}

static inline uint64_t cp_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t cp_rng_next(cp_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = cp_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = cp_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double cp_rng_unif(cp_rng_t *r)
{
    return (double)(cp_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n); n > 0. Lemire's multiply-shift (bias < 2^-32
 * for the small n used here, irrelevant for synthetic data). */
static inline uint32_t cp_rng_below(cp_rng_t *r, uint32_t n)
{
    return (uint32_t)(((cp_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Integer in [lo, hi]. */
static inline int cp_rng_range(cp_rng_t *r, int lo, int hi)
{
    return lo + (int)cp_rng_below(r, (uint32_t)(hi - lo + 1));
}

static inline int cp_rng_chance(cp_rng_t *r, double p)
{
    return cp_rng_unif(r) < p;
}

/* Standard normal variate (Box-Muller, both outputs used). */
static inline double cp_rng_normal(cp_rng_t *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u = 1.0 - cp_rng_unif(r); /* (0, 1] */
    double v = cp_rng_unif(r);
    double m = sqrt(-2.0 * log(u));
    r->spare = m * sin(6.283185307179586 * v);
    r->has_spare = 1;
    return m * cos(6.283185307179586 * v);
}

#endif
