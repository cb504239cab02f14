/* xoshiro256** with SplitMix64 seeding; Box–Muller normals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rng-private.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sm__rng_u64(sm_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sm__rng_uniform(sm_rng *r)
{
    return (double)(sm__rng_u64(r) >> 11) * 0x1.0p-53;
}

double sm__rng_normal(sm_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    /* 1 - u lies in (0, 1], so the log is finite. */
    double u1 = 1.0 - sm__rng_uniform(r);
    double u2 = sm__rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    double th = 6.283185307179586 * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

uint64_t sm__rng_below(sm_rng *r, uint64_t bound)
{
    /* Lemire (2019): multiply-shift with rejection of the biased low part. */
    __uint128_t m = (__uint128_t)sm__rng_u64(r) * bound;
    uint64_t low = (uint64_t)m;
    if (low < bound) {
        uint64_t threshold = (0 - bound) % bound;
        while (low < threshold) {
            m = (__uint128_t)sm__rng_u64(r) * bound;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

static void seed_state(sm_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    r->has_spare = 0;
    r->spare = 0.0;
}

sm_status sm_rng_new(sm_rng **out, uint64_t seed)
{
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "sm_rng_new: out is NULL");
    *out = NULL;
    sm_rng *r = calloc(1, sizeof *r);
    if (!r)
        return sm__error(SM_ERR_NOMEM, "sm_rng_new: out of memory");
    seed_state(r, seed);
    *out = r;
    return SM_OK;
}

void sm_rng_free(sm_rng *rng)
{
    free(rng);
}

sm_status sm_rng_reseed(sm_rng *rng, uint64_t seed)
{
    if (!rng)
        return sm__error(SM_ERR_INVALID_ARG, "sm_rng_reseed: rng is NULL");
    seed_state(rng, seed);
    return SM_OK;
}

sm_status sm_rng_clone(const sm_rng *rng, sm_rng **out)
{
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "sm_rng_clone: out is NULL");
    *out = NULL;
    if (!rng)
        return sm__error(SM_ERR_INVALID_ARG, "sm_rng_clone: rng is NULL");
    sm_rng *r = malloc(sizeof *r);
    if (!r)
        return sm__error(SM_ERR_NOMEM, "sm_rng_clone: out of memory");
    *r = *rng;
    *out = r;
    return SM_OK;
}

void sm__rng_jump(sm_rng *r)
{
    static const uint64_t JUMP[] = {0x180ec6d33cfd0abaULL, 0xd5a61266f0c9392cULL,
                                    0xa9582618e03fc9aaULL, 0x39abdc4529b1661cULL};
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int i = 0; i < 4; i++) {
        for (int b = 0; b < 64; b++) {
            if (JUMP[i] & (UINT64_C(1) << b)) {
                s0 ^= r->s[0];
                s1 ^= r->s[1];
                s2 ^= r->s[2];
                s3 ^= r->s[3];
            }
            sm__rng_u64(r);
        }
    }
    r->s[0] = s0;
    r->s[1] = s1;
    r->s[2] = s2;
    r->s[3] = s3;
    r->has_spare = 0;
}

sm_status sm_rng_jump(sm_rng *rng)
{
    if (!rng)
        return sm__error(SM_ERR_INVALID_ARG, "sm_rng_jump: rng is NULL");
    sm__rng_jump(rng);
    return SM_OK;
}

sm_status sm_rng_split(sm_rng *rng, sm_rng **out)
{
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "sm_rng_split: out is NULL");
    *out = NULL;
    if (!rng)
        return sm__error(SM_ERR_INVALID_ARG, "sm_rng_split: rng is NULL");
    sm_rng *child = malloc(sizeof *child);
    if (!child)
        return sm__error(SM_ERR_NOMEM, "sm_rng_split: out of memory");
    *child = *rng;
    child->has_spare = 0;
    sm__rng_jump(rng);
    *out = child;
    return SM_OK;
}

uint64_t sm_rng_next_u64(sm_rng *rng)
{
    return rng ? sm__rng_u64(rng) : 0;
}

double sm_rng_uniform(sm_rng *rng)
{
    return rng ? sm__rng_uniform(rng) : 0.0;
}

uint64_t sm_rng_below(sm_rng *rng, uint64_t bound)
{
    return (rng && bound) ? sm__rng_below(rng, bound) : 0;
}

double sm_rng_normal(sm_rng *rng)
{
    return rng ? sm__rng_normal(rng) : 0.0;
}

void sm__rng_fill_normal(sm_rng *r, float *out, size_t n, float mean, float std)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float)((double)mean + (double)std * sm__rng_normal(r));
}

sm_status sm_rng_fill_normal(sm_rng *rng, float *out, size_t n, float mean,
                             float std)
{
    if (!rng || (!out && n))
        return sm__error(SM_ERR_INVALID_ARG, "sm_rng_fill_normal: NULL argument");
    if (sm__array_too_big(n, 1, sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "sm_rng_fill_normal: n = %zu floats is too large", n);
    if (!isfinite(mean) || !isfinite(std) || std < 0)
        return sm__error(SM_ERR_INVALID_ARG,
                         "sm_rng_fill_normal: mean must be finite and std finite and >= 0");
    sm__rng_fill_normal(rng, out, n, mean, std);
    return SM_OK;
}

sm_status sm_rng_fill_uniform(sm_rng *rng, float *out, size_t n, float lo,
                              float hi)
{
    if (!rng || (!out && n))
        return sm__error(SM_ERR_INVALID_ARG, "sm_rng_fill_uniform: NULL argument");
    if (sm__array_too_big(n, 1, sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "sm_rng_fill_uniform: n = %zu floats is too large", n);
    if (!isfinite(lo) || !isfinite(hi) || hi < lo)
        return sm__error(SM_ERR_INVALID_ARG,
                         "sm_rng_fill_uniform: bounds must be finite with lo <= hi");
    double width = (double)hi - (double)lo;
    for (size_t i = 0; i < n; i++) {
        float v = (float)((double)lo + width * sm__rng_uniform(rng));
        out[i] = v < hi ? v : lo; /* rounding to float may reach hi */
    }
    return SM_OK;
}
