/**
 * @file scorematch/sampler.h
 * @brief Samplers for a noise-conditioned score model (::sm_sampler):
 *        annealed Langevin, predictor-corrector, probability-flow ODE, EDM's
 *        deterministic and stochastic samplers, DPM-Solver++(2M).
 *
 * Every sampler walks the σ values of the schedule it is given, from the
 * largest σ₁ down to the smallest σ_L, using the network's estimate
 * s(x, σ) ≈ ∇ₓ log p_σ(x) of a variance-exploding (VE) model: p_σ is the
 * data convolved with N(0, σ²I). The kind is chosen with
 * sm_sampler_set_kind():
 *
 * - ::SM_SAMPLER_LANGEVIN (default) — annealed Langevin dynamics (Song &
 *   Ermon, 2019): at each level T steps of
 *   x ← x + ½·α_i·s(x, σ_i) + √α_i·z, z ~ N(0, I). NFE = L·T.
 * - ::SM_SAMPLER_PC — predictor-corrector (Song et al., 2021): at each level
 *   C corrector steps of Langevin dynamics whose step
 *   ε = 2·(snr·‖z‖/‖s‖)² (norms averaged over the points of the run) holds
 *   the update's signal-to-noise ratio at the target snr, then the
 *   reverse-diffusion predictor of the VE SDE down to the next level,
 *   x ← x + (σ_i² − σ_{i+1}²)·s(x, σ_i) + √(σ_i² − σ_{i+1}²)·z.
 *   NFE = L·C + L − 1.
 * - ::SM_SAMPLER_ODE_EULER, ::SM_SAMPLER_ODE_HEUN — the probability-flow
 *   ODE of the VE SDE written in σ (Karras et al., 2022):
 *   dx/dσ = −σ·s(x, σ) = (x − D(x, σ))/σ with the denoiser
 *   D(x, σ) = x + σ²·s(x, σ). Euler steps between neighbouring levels
 *   (NFE = L − 1), or Heun's second-order steps (an Euler trial step, then
 *   the mean of the slopes at both ends; NFE = 2(L − 1)). Deterministic
 *   given the start points; pair them with sm_schedule_new_karras().
 *
 * - ::SM_SAMPLER_EDM_HEUN — EDM's deterministic sampler (Karras et al.
 *   2022, Algorithm 1): the Heun steps of the ODE kind over the levels, then
 *   one Euler step from σ_L to σ = 0 (x ← D(x, σ_L)). NFE = 2L − 1: with a
 *   Karras grid of 18 levels, 35 evaluations.
 * - ::SM_SAMPLER_EDM_STOCHASTIC — EDM's stochastic sampler (Algorithm 2):
 *   before each step whose σ_i lies in [S_tmin, S_tmax], noise of variance
 *   σ̂² − σ_i² (times S_noise) lifts the state to σ̂ = σ_i·(1 + γ),
 *   γ = min(S_churn/L, √2 − 1), and the Heun step starts from σ̂
 *   (sm_sampler_set_churn()). NFE = 2L − 1. The churn lengthens every
 *   step: on a known Gaussian its error at 18 levels is about 13 % of the
 *   standard deviation, against 5 % for ::SM_SAMPLER_EDM_HEUN; it pays off
 *   on fine grids (about 3.5 % at 60 levels).
 * - ::SM_SAMPLER_DPMPP_2M — DPM-Solver++(2M) (Lu et al. 2022) in σ: with
 *   t = −ln σ and h = t_{i+1} − t_i, x ← (σ_{i+1}/σ_i)·x − (e^{−h} − 1)·D̄,
 *   D̄ a second-order combination of the last two denoised estimates (the
 *   first one alone at the first step), and x ← D(x, σ_L) as the last step.
 *   One evaluation per level: NFE = L.
 * The three last kinds work on the denoiser D(x, σ) and end at σ = 0 by
 * themselves (the final denoising step below does not apply to them).
 * **Noise per point.** These three kinds draw the start (and the
 * stochastic kind its churn noise) of point p from a stream of its own,
 * keyed by one draw from the run's generator and by p: with the same seed,
 * the first k points of a run of n ≥ k points are the same (up to float
 * rounding of the network's products, which may differ with the batch
 * size). The deterministic ODE kinds share this property, their start
 * being drawn point after point. Langevin and predictor-corrector do not:
 * their noise is drawn for all points step after step (and the
 * corrector's step size depends on all points), which keeps the lab's
 * figures bit for bit.
 * Every other kind can end with the same optional final denoising step
 * x ← x + σ_L²·s(x, σ_L) (sm_sampler_set_final_denoise(), one more NFE);
 * for the ODE it is the last Euler step, from σ_L to 0.
 * sm_sampler_nfe() reports the evaluations per sample a run used.
 *
 * **Grids of one level.** A schedule of one level σ₁ is a valid grid for
 * the kinds that do something at a level: Langevin makes its T steps at σ₁,
 * predictor-corrector its C corrector steps (and no predictor step), and
 * the three kinds that end at σ = 0 make their single step to 0
 * (x ← D(x, σ₁), after the churn for the stochastic kind). The ODE kinds
 * step between neighbouring levels, and predictor-corrector without
 * corrector steps only predicts between them: on one level they would make
 * no step and return their start, so sm_sampler_run() refuses such a run
 * with #SM_ERR_INVALID_ARG unless the final denoising step is on (with it,
 * the ODE kinds make the Euler step from σ₁ to 0).
 *
 * **Sampling grids and the trained ladder.** The network takes log σ as an
 * input, so it can be evaluated at any σ > 0, not only at the levels it was
 * trained on: a sampler's schedule can be finer or coarser than the
 * training ladder (for instance a Karras grid of 10 levels for a net trained
 * on a 10-level geometric ladder). Between trained levels the network
 * interpolates in log σ, which is accurate for a smooth family p_σ (the
 * tests measure it on Gaussian data); outside [σ_L, σ₁] of training it
 * extrapolates and nothing is promised.
 *
 * **Step size (Langevin).** α_i is set through the ratio r = α_i / σ_i², the
 * same at every level, so α_i = r·σ_i² (default r = 0.2). This is the NCSN
 * rule α_i = ε·σ_i²/σ_L² written without its dependence on the smallest σ:
 * NCSN's ε converts as r = ε/σ_L² (sm_sampler_set_step_ncsn() does it for
 * you); the default r = 0.2 is NCSN's ε = 2·10⁻⁵ at σ_L = 0.01. On the lab's
 * two moons, r = 0.1 leaves about one sample in ten off the data (precision
 * ≈ 0.89) where r = 0.2 reaches ≈ 0.95 with the same coverage; larger r
 * trades a little coverage for more precision. Keep r·max|s|·σ_i² small:
 * with r around 1 or more the walk overshoots and diverges. A rule that sets
 * α_i = η·(σ_i/σ_L)² with η = 0.1, as printed in some tutorials, means
 * r = 0.1/σ_L² = 1000 for σ_L = 0.01 and diverges at once.
 *
 * **Divergence.** After every step the sampler checks that all points are
 * finite; if not, it stops with #SM_ERR_DIVERGED and a message naming the
 * level and step, and the output holds the last finite state.
 *
 * **Contexts and guidance.** For a network with a context
 * (sm_net_context_dim() > 0), sm_sampler_set_context() gives the condition
 * of every point (one row for all, or one per point, so that one run can
 * draw different conditions); without one the sampler uses the null
 * context, i.e. the unconditional score. sm_sampler_set_guidance() turns on
 * classifier-free guidance (Ho & Salimans 2022): wherever a kind evaluates
 * the model at a σ in [σ_lo, σ_hi], it uses
 * D_w = (1 + w)·D(x, σ, c) − w·D(x, σ, ∅) (the same combination of the
 * scores), which costs two network evaluations; elsewhere the plain
 * conditional D(x, σ, c). Every kind supports it, since they all evaluate
 * the model in the same place; sm_sampler_nfe() counts a guided
 * evaluation as 2.
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

/** @brief Opaque sampler. */
typedef struct sm_sampler sm_sampler;

/** @brief Sampling algorithms (values are part of the ABI). */
typedef enum sm_sampler_kind {
    SM_SAMPLER_LANGEVIN = 0,  /**< Annealed Langevin dynamics (default). */
    SM_SAMPLER_PC = 1,        /**< Reverse-diffusion predictor + Langevin corrector. */
    SM_SAMPLER_ODE_EULER = 2, /**< Probability-flow ODE, Euler steps. */
    SM_SAMPLER_ODE_HEUN = 3,  /**< Probability-flow ODE, Heun (2nd order) steps. */
    SM_SAMPLER_EDM_HEUN = 4,  /**< EDM deterministic (Heun, then Euler to σ = 0). */
    SM_SAMPLER_EDM_STOCHASTIC = 5, /**< EDM stochastic (churn + Heun). */
    SM_SAMPLER_DPMPP_2M = 6   /**< DPM-Solver++(2M). */
} sm_sampler_kind;

/**
 * @brief Per-level callback: called once per level of the schedule after
 *        the sampler is done with it (Langevin: its T steps; predictor-
 *        corrector: its corrector steps and the predictor step leaving it;
 *        ODE: the step leaving it, none for the last level), and once more
 *        after the final denoising step, with @p level = L.
 * @param level      0-based index of the level just finished.
 * @param levels     L.
 * @param sigma      σ of that level (σ_L for the denoising call).
 * @param x          Current n × dim points (read-only; valid during the call).
 * @param n          Number of points.
 * @param dim        Dimension.
 * @param user_data  The pointer given to sm_sampler_set_callback().
 * @return 0 to continue; non-zero stops the run with #SM_ERR_CANCELLED.
 *
 * The callback may read the sampler and use other handles, but must not
 * change or rerun the sampler that calls it: its setters,
 * sm_sampler_run() and sm_sampler_run_from() called from it fail with
 * #SM_ERR_STATE and leave the run as it was. Freeing the sampler (or its
 * network or schedule) from the callback is not allowed.
 */
typedef int (*sm_sampler_callback)(size_t level, size_t levels, float sigma, const float *x,
                                   size_t n, size_t dim, void *user_data);

/**
 * @brief Creates a sampler with the defaults: annealed Langevin, 20 steps
 *        per level, step ratio 0.2, noise on, start from N(0, I), no final
 *        denoising; for the other kinds one corrector step at snr 0.16 and
 *        a start from N(0, σ₁²I).
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
 * @brief Chooses the algorithm (see the file's description).
 * @param s     The sampler.
 * @param kind  One of ::sm_sampler_kind.
 * @return #SM_OK, #SM_ERR_INVALID_ARG (unknown kind), or #SM_ERR_STATE
 *         (called from the sampler's callback).
 */
SM_API sm_status sm_sampler_set_kind(sm_sampler *s, sm_sampler_kind kind);

/**
 * @brief The algorithm in use.
 * @param s  The sampler.
 * @return Its kind; ::SM_SAMPLER_LANGEVIN if @p s is NULL.
 */
SM_API sm_sampler_kind sm_sampler_get_kind(const sm_sampler *s);

/**
 * @brief A short name for a kind: "langevin", "pc", "ode-euler",
 *        "ode-heun", "edm-heun", "edm-stochastic", "dpmpp-2m".
 * @param kind  The kind.
 * @return A static string; "unknown" for a value outside the enumeration.
 */
SM_API const char *sm_sampler_kind_name(sm_sampler_kind kind);

/**
 * @brief The kind of a name given by sm_sampler_kind_name().
 * @param name       The name.
 * @param[out] kind  Receives the kind.
 * @return #SM_OK or #SM_ERR_INVALID_ARG (NULL or an unknown name).
 */
SM_API sm_status sm_sampler_kind_from_name(const char *name, sm_sampler_kind *kind);

/**
 * @brief Sets the churn of ::SM_SAMPLER_EDM_STOCHASTIC (Karras et al. 2022,
 *        Algorithm 2): S_churn, the σ range [S_tmin, S_tmax] where noise is
 *        added, and S_noise. Defaults: 40, 0.05, 50, 1.003 (EDM's
 *        ImageNet-64 settings). S_churn = 0 makes it ::SM_SAMPLER_EDM_HEUN.
 * @param s      The sampler.
 * @param churn  S_churn in [0, 10⁶].
 * @param tmin   S_tmin ≥ 0.
 * @param tmax   S_tmax ≥ S_tmin, finite.
 * @param noise  S_noise in [0, 10].
 * @return #SM_OK, #SM_ERR_INVALID_ARG, or #SM_ERR_STATE (called from the
 *         sampler's callback).
 */
SM_API sm_status sm_sampler_set_churn(sm_sampler *s, double churn, double tmin, double tmax,
                                      double noise);

/**
 * @brief Sets the predictor-corrector sampler's corrector: @p steps Langevin
 *        steps per level whose step size targets the signal-to-noise ratio
 *        @p snr, i.e. ε = 2·(snr·‖z‖/‖s‖)² with ‖·‖ the mean per-point
 *        norm of the noise z and of the score s over the run's points.
 *
 * Larger snr means larger corrector steps. With noise off
 * (sm_sampler_set_noise()), ‖z‖ is replaced by √dim. A score that is zero
 * at every point leaves the points where they are. Only
 * ::SM_SAMPLER_PC uses these settings.
 * @param s      The sampler.
 * @param steps  C ≥ 0 (default 1; 0 leaves the predictor alone).
 * @param snr    Finite and > 0 (default 0.16, Song et al.'s value for VE
 *               models).
 * @return #SM_OK, #SM_ERR_INVALID_ARG, or #SM_ERR_STATE (called from the
 *         sampler's callback).
 */
SM_API sm_status sm_sampler_set_corrector(sm_sampler *s, size_t steps, double snr);

/**
 * @brief Sets the number of Langevin steps per noise level T
 *        (::SM_SAMPLER_LANGEVIN only).
 * @param s      The sampler.
 * @param steps  T ≥ 1 (default 20).
 * @return #SM_OK, #SM_ERR_INVALID_ARG, or #SM_ERR_STATE (called from the
 *         sampler's callback).
 */
SM_API sm_status sm_sampler_set_steps_per_scale(sm_sampler *s, size_t steps);

/**
 * @brief Sets the step ratio r = α_i/σ_i².
 * @param s      The sampler.
 * @param ratio  Finite and > 0 (default 0.2).
 * @return #SM_OK, #SM_ERR_INVALID_ARG, or #SM_ERR_STATE (called from the
 *         sampler's callback).
 */
SM_API sm_status sm_sampler_set_step_ratio(sm_sampler *s, double ratio);

/**
 * @brief Sets the step size by NCSN's ε: α_i = ε·σ_i²/σ_L², i.e. ratio
 *        ε/σ_L² for the sampler's schedule.
 * @param s    The sampler.
 * @param eps  Finite and > 0 (NCSN used 2e-5 with σ_L = 0.01, ratio 0.2).
 * @return #SM_OK, #SM_ERR_INVALID_ARG, or #SM_ERR_STATE (called from the
 *         sampler's callback).
 */
SM_API sm_status sm_sampler_set_step_ncsn(sm_sampler *s, double eps);

/**
 * @brief The step ratio r in use.
 * @param s  The sampler.
 * @return r; 0 if @p s is NULL.
 */
SM_API double sm_sampler_step_ratio(const sm_sampler *s);

/**
 * @brief Turns the noise terms (Langevin's √α·z, the corrector's and the
 *        predictor's) on or off. Off turns Langevin sampling into gradient
 *        ascent on log p_σ: the cloud collapses onto the modes. The ODE
 *        kinds have no noise term.
 * @param s        The sampler.
 * @param enabled  Non-zero for on (default on).
 * @return #SM_OK, #SM_ERR_INVALID_ARG, or #SM_ERR_STATE (called from the
 *         sampler's callback).
 */
SM_API sm_status sm_sampler_set_noise(sm_sampler *s, int enabled);

/**
 * @brief Starts sm_sampler_run() from N(0, std²·I). By default the start
 *        is N(0, I) for ::SM_SAMPLER_LANGEVIN (the lab's choice) and the VE
 *        prior N(0, σ₁²I) for the other kinds.
 * @param s    The sampler.
 * @param std  > 0 and at most FLT_MAX (the draws are floats; a std so large
 *             that a draw overflows makes sm_sampler_run() fail).
 * @return #SM_OK, #SM_ERR_INVALID_ARG, or #SM_ERR_STATE (called from the
 *         sampler's callback).
 */
SM_API sm_status sm_sampler_set_init_normal(sm_sampler *s, double std);

/**
 * @brief Starts sm_sampler_run() from the uniform box [lo, hi)^dim.
 * @param s   The sampler.
 * @param lo  Lower bound, finite in float.
 * @param hi  Upper bound, finite in float and > @p lo once both are
 *            rounded to float.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, or #SM_ERR_STATE (called from the
 *         sampler's callback).
 */
SM_API sm_status sm_sampler_set_init_uniform(sm_sampler *s, double lo, double hi);

/**
 * @brief Adds (or removes) a final denoising step x ← x + σ_L²·s_θ(x, σ_L)
 *        after the last level, without noise (Tweedie's estimate of the
 *        clean point), for every kind. It removes the residual σ_L-sized
 *        noise and costs one NFE.
 * @param s        The sampler.
 * @param enabled  Non-zero for on (default off, as in the lab).
 * @return #SM_OK, #SM_ERR_INVALID_ARG, or #SM_ERR_STATE (called from the
 *         sampler's callback).
 */
SM_API sm_status sm_sampler_set_final_denoise(sm_sampler *s, int enabled);

/**
 * @brief Sets (or clears, with NULL) the per-level callback.
 * @param s          The sampler.
 * @param callback   Function to call, or NULL.
 * @param user_data  Passed to @p callback.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, or #SM_ERR_STATE (called from the
 *         sampler's callback).
 */
SM_API sm_status sm_sampler_set_callback(sm_sampler *s, sm_sampler_callback callback,
                                         void *user_data);

/**
 * @brief Sets the contexts the network is evaluated with (copied), for a
 *        network with a context; NULL clears them (the null context: the
 *        unconditional score).
 * @param s            The sampler.
 * @param ctx          @p rows × @p context_dim finite values, or NULL.
 * @param rows         1 (every point gets this context) or the number of
 *                     points of the runs to come (row p is point p's; a run
 *                     of another size fails with #SM_ERR_SHAPE).
 * @param context_dim  Must equal sm_net_context_dim() of the sampler's
 *                     network.
 * @return #SM_OK, #SM_ERR_INVALID_ARG (NULL sampler, @p rows 0),
 *         #SM_ERR_SHAPE (@p context_dim differs from the network's, or a
 *         network without a context), #SM_ERR_NONFINITE (row named),
 *         #SM_ERR_OVERFLOW, #SM_ERR_NOMEM; on failure the previous
 *         contexts stay.
 */
SM_API sm_status sm_sampler_set_context(sm_sampler *s, const float *ctx, size_t rows,
                                        size_t context_dim);

/**
 * @brief Sets classifier-free guidance: at noise levels σ in
 *        [@p sigma_lo, @p sigma_hi] the model's denoiser becomes
 *        (1 + w)·D(x, σ, c) − w·D(x, σ, ∅), two network evaluations;
 *        at the other levels it is D(x, σ, c). Needs contexts
 *        (sm_sampler_set_context()). Default w = 0: plain conditional
 *        sampling, one evaluation.
 * @param s         The sampler.
 * @param w         Guidance weight, finite, in [0, 10⁶].
 * @param sigma_lo  Lower end of the σ range, finite, ≥ 0 (0: from the
 *                  smallest σ on).
 * @param sigma_hi  Upper end, ≥ @p sigma_lo; may be infinity (every σ above
 *                  @p sigma_lo).
 * @return #SM_OK or #SM_ERR_INVALID_ARG (NaN, negative or infinite @p w, a
 *         range that is empty or NaN); the previous setting stays on
 *         failure.
 */
SM_API sm_status sm_sampler_set_guidance(sm_sampler *s, double w, double sigma_lo,
                                         double sigma_hi);

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
 *         @p out holds the last finite state); #SM_ERR_CANCELLED;
 *         #SM_ERR_STATE (an EDM network without σ_data, guidance without
 *         contexts, or a call from the sampler's own callback);
 *         #SM_ERR_SHAPE also for contexts of another number of rows than 1
 *         or @p n. #SM_ERR_INVALID_ARG also reports a run that would make
 *         no step (see "Grids of one level" above).
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
 * @brief Fills in the missing coordinates of points (imputation,
 *        inpainting) consistently with their observed ones.
 *
 * The replacement method (Song et al. 2021): the run is the sampler's own
 * (sm_sampler_run(), any kind, with its start, grid, context and guidance),
 * except that before every network evaluation at a noise level σ the
 * observed coordinates of the state are set to the observed values noised
 * to that σ, x_obs + σ·z with fresh z ~ N(0, I); the network thus denoises
 * the missing coordinates conditionally on the observed ones. At the end
 * the observed coordinates are set to the observed values exactly. The
 * noise z comes from each point's own stream for the kinds with noise per
 * point (::SM_SAMPLER_EDM_HEUN, ::SM_SAMPLER_EDM_STOCHASTIC,
 * ::SM_SAMPLER_DPMPP_2M; the first k rows of an imputation of n ≥ k rows
 * are then the same with the same seed), from @p rng otherwise. Every kind
 * supports it, and RePaint's resampling (sm_sampler_set_resample()).
 *
 * Quality: replacement approximates the conditional distribution. At
 * coarse levels the noised observed values say little about the observed
 * values themselves, and a deterministic kind has mostly settled the
 * missing coordinates by the time they do: the imputations are pulled
 * towards the marginal. Measured on N(0, [[1, 0.8], [0.8, 1]]) with x₀ = a
 * observed (conditional N(0.8a, 0.36)), ::SM_SAMPLER_EDM_HEUN at 18
 * levels gives a mean of about 0.44·0.8a and a standard deviation of 0.8,
 * with the exact denoiser as with a trained network. RePaint's resampling
 * (sm_sampler_set_resample()) closes the gap at the cost of network
 * evaluations: 0.73·0.8a and 0.69 with r = 2, 0.93·0.8a and 0.62 with
 * r = 10. ::SM_SAMPLER_EDM_STOCHASTIC, whose churn re-noises every step,
 * does somewhat better than ::SM_SAMPLER_EDM_HEUN at the same r.
 *
 * **Several draws.** One imputation is a draw from (an approximation of)
 * the conditional distribution of the missing coordinates: its expected
 * squared error is twice the conditional variance, while the conditional
 * mean, the best point estimate in squared error, has the variance alone.
 * With sm_sampler_set_impute_draws() set to K > 1 the function makes K
 * imputations one after the other (with the same @p rng, each taking what
 * a run takes from it) and returns their average on the missing entries,
 * whose expected squared error is (1 + 1/K) times the conditional variance
 * (plus the method's bias); sm_sampler_impute_spread() also returns their
 * standard deviation per entry. K = 1 (default) gives the bits of a single
 * draw. The callback sees the levels of every draw in turn.
 *
 * A row with every coordinate observed is returned unchanged (the network
 * still evaluates it); a row with none observed is sampled as by
 * sm_sampler_run() (with K > 1, the average of K samples). The network
 * evaluations are counted by sm_sampler_nfe() as for a run, plus the
 * repeated steps of resampling, times K.
 *
 * @param s       The sampler.
 * @param rng     Generator of the run (start, noise, per-point key).
 * @param[in,out] x  n × dim points, row-major: the observed entries (finite)
 *                are kept; the missing entries (any value, NaN included)
 *                receive the imputed values.
 * @param mask    n × dim bytes, row-major: 1 where @p x is observed, 0 where
 *                it is missing (any other value is refused).
 * @param n       Number of points, ≥ 1.
 * @param dim     Must equal the network's dimension.
 * @return As sm_sampler_run(); #SM_ERR_INVALID_ARG also for a NULL @p mask
 *         or a mask entry other than 0 or 1, #SM_ERR_NONFINITE for an
 *         observed entry that is NaN or infinite (nothing is changed then).
 *         After a failed run the observed entries of @p x hold the observed
 *         values, the missing ones the last finite state (of the draw that
 *         failed, with K > 1).
 */
SM_API sm_status sm_sampler_impute(sm_sampler *s, sm_rng *rng, float *x,
                                   const unsigned char *mask, size_t n, size_t dim);

/**
 * @brief Sets RePaint's resampling for sm_sampler_impute() (Lugmayr et al.
 *        2022): after the step of each level from σ_i down to σ_{i+1}, the
 *        state is sent back up to σ_i with noise of variance
 *        σ_i² − σ_{i+1}² and the step is repeated, @p r times per level.
 *
 * The jumps let the missing coordinates catch up with the observed ones
 * (harmonization). Cost: every repeated step costs what the step costs, so
 * a run makes about (1 + r) times the evaluations of a plain run: for
 * ::SM_SAMPLER_EDM_HEUN (1 + r)(2L − 1), for ::SM_SAMPLER_DPMPP_2M
 * (1 + r)L, for the ODE kinds (1 + r) times theirs. Annealed Langevin
 * repeats each level after the first (its walk from σ_{i−1} to σ_i):
 * L·T + r·(L − 1)·T; predictor-corrector each level but the last (the
 * correctors and the predictor): L·C + L − 1 + r·(L − 1)·(C + 1).
 * DPM-Solver++(2M) makes its repeated steps first order (the re-noised
 * state has no history for the second-order combination), so its error
 * grows with @p r; ::SM_SAMPLER_EDM_HEUN keeps its order.
 * sm_sampler_run() and sm_sampler_run_from() never resample.
 *
 * @param s  The sampler.
 * @param r  Jumps back per level, 0 (default: none) to 1000.
 * @return #SM_OK; #SM_ERR_INVALID_ARG (NULL sampler or @p r > 1000);
 *         #SM_ERR_STATE from the sampler's own callback.
 */
SM_API sm_status sm_sampler_set_resample(sm_sampler *s, size_t r);

/**
 * @brief The jumps back per level of sm_sampler_impute()
 *        (sm_sampler_set_resample()).
 * @param s  The sampler.
 * @return The count; 0 if @p s is NULL.
 */
SM_API size_t sm_sampler_resample(const sm_sampler *s);

/**
 * @brief Sets the number K of imputations sm_sampler_impute() and
 *        sm_sampler_impute_spread() average per point (multiple
 *        imputation's point estimate: the mean of K draws, an estimate of
 *        the conditional mean; see "Several draws" at sm_sampler_impute()).
 *
 * A run costs K times the evaluations of one draw. K = 1 (default) returns
 * one draw. sm_sampler_run() and sm_sampler_run_from() ignore it.
 *
 * @param s  The sampler.
 * @param k  Draws per point, 1 to 10000.
 * @return #SM_OK; #SM_ERR_INVALID_ARG (NULL sampler, @p k 0 or above
 *         10000; the previous setting stays); #SM_ERR_STATE from the
 *         sampler's own callback.
 */
SM_API sm_status sm_sampler_set_impute_draws(sm_sampler *s, size_t k);

/**
 * @brief The imputations averaged per point by sm_sampler_impute()
 *        (sm_sampler_set_impute_draws()).
 * @param s  The sampler.
 * @return The count (1 by default); 0 if @p s is NULL.
 */
SM_API size_t sm_sampler_impute_draws(const sm_sampler *s);

/**
 * @brief sm_sampler_impute(), also returning the spread of the draws: the
 *        standard deviation of the K imputations of every missing entry
 *        (sm_sampler_set_impute_draws()), a measure of how uncertain the
 *        model is about it.
 *
 * With K ≥ 2 the standard deviation has divisor K − 1; with K = 1 it is
 * unknown and the missing entries' spread is NaN. Observed entries get 0.
 * @p x receives what sm_sampler_impute() gives with the same sampler and
 * generator (the same bits).
 *
 * @param s       The sampler.
 * @param rng     Generator of the runs.
 * @param[in,out] x  n × dim points, as for sm_sampler_impute().
 * @param[out] spread  n × dim values (must not overlap @p x or @p mask);
 *                written only on success.
 * @param mask    n × dim bytes, 1 observed, 0 missing.
 * @param n       Number of points, ≥ 1.
 * @param dim     Must equal the network's dimension.
 * @return As sm_sampler_impute(); #SM_ERR_INVALID_ARG also for a NULL
 *         @p spread.
 */
SM_API sm_status sm_sampler_impute_spread(sm_sampler *s, sm_rng *rng, float *x, float *spread,
                                          const unsigned char *mask, size_t n, size_t dim);

/**
 * @brief Network evaluations per sample made by the last run (NFE): for a
 *        complete run L·T (Langevin), L·C + L − 1 (predictor-corrector),
 *        L − 1 (ODE, Euler), 2(L − 1) (ODE, Heun), 2L − 1 (EDM, both
 *        kinds) or L (DPM-Solver++(2M)), plus one with the final
 *        denoising step where it applies; with guidance
 *        (sm_sampler_set_guidance()) every evaluation at a σ in the guided
 *        range counts 2; an imputation counts the evaluations of all its
 *        draws (sm_sampler_set_impute_draws()). A run that fails counts the
 *        evaluations it made.
 * @param s  The sampler.
 * @return The count; 0 before the first run or if @p s is NULL.
 */
SM_API uint64_t sm_sampler_nfe(const sm_sampler *s);

SM_END_DECLS

#endif /* SCOREMATCH_SAMPLER_H */
