/**
 * @file scorematch/sampler.h
 * @brief Annealed Langevin dynamics (::sm_sampler).
 *
 * Starting from an initial cloud, the sampler walks the noise ladder from
 * the largest σ₁ to the smallest σ_L and at each level σ_i takes T steps of
 *
 *     x ← x + ½·α_i·s_θ(x, σ_i) + √α_i · z,   z ~ N(0, I).
 *
 * **Step size.** α_i is set through the ratio r = α_i / σ_i², the same at
 * every level, so α_i = r·σ_i² (default r = 0.2). This is the NCSN rule
 * (Song & Ermon, 2019) α_i = ε·σ_i²/σ_L² written without its dependence on
 * the smallest σ: NCSN's ε converts as r = ε/σ_L² (sm_sampler_set_step_ncsn()
 * does it for you); the default r = 0.2 is NCSN's ε = 2·10⁻⁵ at σ_L = 0.01.
 * On the lab's two moons, r = 0.1 leaves about one sample in ten off the data
 * (precision ≈ 0.89) where r = 0.2 reaches ≈ 0.95 with the same coverage;
 * larger r trades a little coverage for more precision. Keep r·max|s|·σ_i² small: with r around 1 or more the
 * walk overshoots and diverges. A rule that sets α_i = η·(σ_i/σ_L)² with
 * η = 0.1, as printed in some tutorials, means r = 0.1/σ_L² = 1000 for
 * σ_L = 0.01 and diverges at once.
 *
 * **Divergence.** After every step the sampler checks that all points are
 * finite; if not, it stops with #SM_ERR_DIVERGED and a message naming the
 * level and step, and the output holds the last finite state.
 *
 * A sampler borrows its network and schedule; they must outlive it. The
 * network's workspace and thread count are used (sm_net_set_threads()).
 */
#ifndef SCOREMATCH_SAMPLER_H
#define SCOREMATCH_SAMPLER_H

#include "scorematch/common.h"
#include "scorematch/error.h"
#include "scorematch/net.h"
#include "scorematch/rng.h"
#include "scorematch/schedule.h"

SM_BEGIN_DECLS

/** @brief Opaque annealed Langevin sampler. */
typedef struct sm_sampler sm_sampler;

/**
 * @brief Per-level callback: called after the last step of each level (and
 *        once more after the final denoising step, with @p level = L).
 * @param level      0-based index of the level just finished.
 * @param levels     L.
 * @param sigma      σ of that level (σ_L for the denoising call).
 * @param x          Current n × dim points (read-only; valid during the call).
 * @param n          Number of points.
 * @param dim        Dimension.
 * @param user_data  The pointer given to sm_sampler_set_callback().
 * @return 0 to continue; non-zero stops the run with #SM_ERR_CANCELLED.
 */
typedef int (*sm_sampler_callback)(size_t level, size_t levels, float sigma, const float *x,
                                   size_t n, size_t dim, void *user_data);

/**
 * @brief Creates a sampler with the defaults: 20 steps per level, step
 *        ratio 0.2, noise on, start from N(0, I), no final denoising.
 * @param[out] out  Receives the sampler; set to NULL on failure.
 * @param net       Score network (borrowed).
 * @param sched     Noise ladder to anneal through (borrowed).
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_sampler_new(sm_sampler **out, sm_net *net, const sm_schedule *sched);

/**
 * @brief Frees a sampler (not the borrowed handles).
 * @param s  The sampler, or NULL (ignored).
 */
SM_API void sm_sampler_free(sm_sampler *s);

/**
 * @brief Sets the number of Langevin steps per noise level T.
 * @param s      The sampler.
 * @param steps  T ≥ 1 (default 20).
 * @return #SM_OK or #SM_ERR_INVALID_ARG.
 */
SM_API sm_status sm_sampler_set_steps_per_scale(sm_sampler *s, size_t steps);

/**
 * @brief Sets the step ratio r = α_i/σ_i².
 * @param s      The sampler.
 * @param ratio  Finite and > 0 (default 0.2).
 * @return #SM_OK or #SM_ERR_INVALID_ARG.
 */
SM_API sm_status sm_sampler_set_step_ratio(sm_sampler *s, double ratio);

/**
 * @brief Sets the step size by NCSN's ε: α_i = ε·σ_i²/σ_L², i.e. ratio
 *        ε/σ_L² for the sampler's schedule.
 * @param s    The sampler.
 * @param eps  Finite and > 0 (NCSN used 2e-5 with σ_L = 0.01, ratio 0.2).
 * @return #SM_OK or #SM_ERR_INVALID_ARG.
 */
SM_API sm_status sm_sampler_set_step_ncsn(sm_sampler *s, double eps);

/**
 * @brief The step ratio r in use.
 * @param s  The sampler.
 * @return r; 0 if @p s is NULL.
 */
SM_API double sm_sampler_step_ratio(const sm_sampler *s);

/**
 * @brief Turns the √α·z noise term on or off. Off turns sampling into
 *        gradient ascent on log p_σ: the cloud collapses onto the modes.
 * @param s        The sampler.
 * @param enabled  Non-zero for on (default on).
 * @return #SM_OK or #SM_ERR_INVALID_ARG.
 */
SM_API sm_status sm_sampler_set_noise(sm_sampler *s, int enabled);

/**
 * @brief Starts sm_sampler_run() from N(0, std²·I) (the default, std = 1).
 * @param s    The sampler.
 * @param std  > 0 and at most FLT_MAX (the draws are floats; a std so large
 *             that a draw overflows makes sm_sampler_run() fail).
 * @return #SM_OK or #SM_ERR_INVALID_ARG.
 */
SM_API sm_status sm_sampler_set_init_normal(sm_sampler *s, double std);

/**
 * @brief Starts sm_sampler_run() from the uniform box [lo, hi)^dim.
 * @param s   The sampler.
 * @param lo  Lower bound, finite in float.
 * @param hi  Upper bound, finite in float and > @p lo once both are
 *            rounded to float.
 * @return #SM_OK or #SM_ERR_INVALID_ARG.
 */
SM_API sm_status sm_sampler_set_init_uniform(sm_sampler *s, double lo, double hi);

/**
 * @brief Adds (or removes) a final denoising step x ← x + σ_L²·s_θ(x, σ_L)
 *        after the last level, without noise (Tweedie's estimate of the
 *        clean point). It removes the residual σ_L-sized noise.
 * @param s        The sampler.
 * @param enabled  Non-zero for on (default off, as in the lab).
 * @return #SM_OK or #SM_ERR_INVALID_ARG.
 */
SM_API sm_status sm_sampler_set_final_denoise(sm_sampler *s, int enabled);

/**
 * @brief Sets (or clears, with NULL) the per-level callback.
 * @param s          The sampler.
 * @param callback   Function to call, or NULL.
 * @param user_data  Passed to @p callback.
 * @return #SM_OK or #SM_ERR_INVALID_ARG.
 */
SM_API sm_status sm_sampler_set_callback(sm_sampler *s, sm_sampler_callback callback,
                                         void *user_data);

/**
 * @brief Draws @p n samples from the configured initial distribution.
 * @param s         The sampler.
 * @param rng       Generator for the start and the Langevin noise.
 * @param[out] out  n × dim samples.
 * @param n         Number of samples, ≥ 1.
 * @param dim       Must equal the network's dimension.
 * @return #SM_OK; #SM_ERR_INVALID_ARG (also an initial draw that overflows
 *         float); #SM_ERR_SHAPE; #SM_ERR_OVERFLOW; #SM_ERR_NOMEM;
 *         #SM_ERR_DIVERGED (a point or the network's score became non-finite,
 *         e.g. from NaN parameters; the message names the level and step;
 *         @p out holds the last finite state); #SM_ERR_CANCELLED.
 */
SM_API sm_status sm_sampler_run(sm_sampler *s, sm_rng *rng, float *out, size_t n, size_t dim);

/**
 * @brief Runs the dynamics from caller points (e.g. to continue a chain or
 *        to start from data).
 * @param s       The sampler.
 * @param rng     Generator for the Langevin noise.
 * @param[in,out] x  n × dim starting points (finite); receives the samples.
 * @param n       Number of points, ≥ 1.
 * @param dim     Must equal the network's dimension.
 * @return As sm_sampler_run(), plus #SM_ERR_NONFINITE for a non-finite start.
 */
SM_API sm_status sm_sampler_run_from(sm_sampler *s, sm_rng *rng, float *x, size_t n,
                                     size_t dim);

/**
 * @brief Network evaluations per sample made by the last run (NFE): L·T,
 *        plus one with the final denoising step.
 * @param s  The sampler.
 * @return The count; 0 before the first run or if @p s is NULL.
 */
SM_API uint64_t sm_sampler_nfe(const sm_sampler *s);

SM_END_DECLS

#endif /* SCOREMATCH_SAMPLER_H */
