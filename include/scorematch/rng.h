/**
 * @file scorematch/rng.h
 * @brief Seedable, reproducible random number generator (::sm_rng).
 *
 * The generator is xoshiro256** (Blackman & Vigna, 2018), seeded by
 * expanding a 64-bit seed with SplitMix64. Uniform doubles take the top 53
 * bits of a 64-bit draw; bounded integers use Lemire's unbiased
 * multiply-and-reject method; normal deviates use the Box–Muller transform on
 * two uniforms, the second deviate of each pair being kept for the next call.
 * The sequence for a given seed is the same on every platform, build and run.
 *
 * There is no global generator: every function that draws random numbers
 * takes an ::sm_rng. For threads, give each thread its own generator made by
 * sm_rng_split(), whose streams do not overlap for 2^128 draws.
 */
#ifndef SCOREMATCH_RNG_H
#define SCOREMATCH_RNG_H

#include "scorematch/common.h"
#include "scorematch/error.h"

SM_BEGIN_DECLS

/** @brief Opaque random number generator. */
typedef struct sm_rng sm_rng;

/**
 * @brief Creates a generator from a seed.
 * @param[out] out  Receives the new generator; set to NULL on failure.
 * @param seed      Any 64-bit value; equal seeds give equal sequences.
 * @return #SM_OK, #SM_ERR_INVALID_ARG if @p out is NULL, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_rng_new(sm_rng **out, uint64_t seed);

/**
 * @brief Frees a generator.
 * @param rng  The generator, or NULL (ignored).
 */
SM_API void sm_rng_free(sm_rng *rng);

/**
 * @brief Restarts a generator as if it had just been created with @p seed.
 * @param rng   The generator.
 * @param seed  New seed.
 * @return #SM_OK or #SM_ERR_INVALID_ARG if @p rng is NULL.
 */
SM_API sm_status sm_rng_reseed(sm_rng *rng, uint64_t seed);

/**
 * @brief Creates an exact copy of a generator (same future sequence).
 * @param rng       Generator to copy.
 * @param[out] out  Receives the copy; set to NULL on failure.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_rng_clone(const sm_rng *rng, sm_rng **out);

/**
 * @brief Splits off an independent stream, e.g. for another thread.
 *
 * The child continues from the parent's current state; the parent then jumps
 * 2^128 draws ahead, so the two streams never overlap in practice. Splitting
 * is deterministic: the same parent state always gives the same child.
 *
 * @param rng       Parent generator (advanced by the call).
 * @param[out] out  Receives the child; set to NULL on failure.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_rng_split(sm_rng *rng, sm_rng **out);

/**
 * @brief Advances the generator by 2^128 draws (the xoshiro256** jump).
 * @param rng  The generator.
 * @return #SM_OK or #SM_ERR_INVALID_ARG if @p rng is NULL.
 */
SM_API sm_status sm_rng_jump(sm_rng *rng);

/**
 * @brief Next raw 64-bit value.
 * @param rng  The generator.
 * @return The value; 0 if @p rng is NULL.
 */
SM_API uint64_t sm_rng_next_u64(sm_rng *rng);

/**
 * @brief Uniform double in [0, 1) with 53 random bits.
 * @param rng  The generator.
 * @return The draw; 0 if @p rng is NULL.
 */
SM_API double sm_rng_uniform(sm_rng *rng);

/**
 * @brief Uniform integer in [0, @p bound), without modulo bias.
 * @param rng    The generator.
 * @param bound  Exclusive upper bound.
 * @return The draw; 0 if @p rng is NULL or @p bound is 0.
 */
SM_API uint64_t sm_rng_below(sm_rng *rng, uint64_t bound);

/**
 * @brief Standard normal deviate N(0, 1).
 * @param rng  The generator.
 * @return The draw; 0 if @p rng is NULL.
 */
SM_API double sm_rng_normal(sm_rng *rng);

/**
 * @brief Fills @p out with @p n normal deviates of mean @p mean and standard
 *        deviation @p std.
 * @param rng   The generator.
 * @param out   Receives @p n values.
 * @param n     Number of values.
 * @param mean  Mean.
 * @param std   Standard deviation, >= 0.
 * @return #SM_OK; #SM_ERR_INVALID_ARG for a NULL pointer (with @p n > 0) or a
 *         negative or non-finite @p std or non-finite @p mean;
 *         #SM_ERR_OVERFLOW if @p n floats cannot exist (byte count overflows).
 */
SM_API sm_status sm_rng_fill_normal(sm_rng *rng, float *out, size_t n,
                                    float mean, float std);

/**
 * @brief Fills @p out with @p n uniform values in [@p lo, @p hi).
 * @param rng  The generator.
 * @param out  Receives @p n values.
 * @param n    Number of values.
 * @param lo   Lower bound (inclusive).
 * @param hi   Upper bound (exclusive), >= @p lo.
 * @return #SM_OK; #SM_ERR_INVALID_ARG for a NULL pointer (with @p n > 0),
 *         non-finite bounds or @p hi < @p lo; #SM_ERR_OVERFLOW if @p n
 *         floats cannot exist.
 */
SM_API sm_status sm_rng_fill_uniform(sm_rng *rng, float *out, size_t n,
                                     float lo, float hi);

SM_END_DECLS

#endif /* SCOREMATCH_RNG_H */
