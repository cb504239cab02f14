/* The generator's state, shared with modules that draw in hot loops. */
#ifndef SCOREMATCH_RNG_PRIVATE_H
#define SCOREMATCH_RNG_PRIVATE_H

#include "scorematch/rng.h"

struct sm_rng {
    uint64_t s[4];    /* xoshiro256** state */
    double spare;     /* second Box–Muller deviate */
    int has_spare;
};

/* Unchecked versions for library-internal hot paths (rng != NULL). */
uint64_t sm__rng_u64(sm_rng *r);
double sm__rng_uniform(sm_rng *r);
double sm__rng_normal(sm_rng *r);
uint64_t sm__rng_below(sm_rng *r, uint64_t bound);
void sm__rng_jump(sm_rng *r);
void sm__rng_fill_normal(sm_rng *r, float *out, size_t n, float mean, float std);

#endif
