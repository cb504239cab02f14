/**
 * @file scorematch/likelihood.h
 * @brief Log-density of points under a score model's probability-flow ODE.
 *
 * The probability-flow ODE of a VE model, dx/dσ = −σ·s(x, σ), moves points
 * of p_σ_L to points of p_σ₁ deterministically, and the change of density
 * along a trajectory is the integral of the divergence of the drift:
 *
 *     log p_σ_L(x) = log π(x(σ₁)) − ∫_{σ_L}^{σ₁} σ·tr J(x(σ), σ) dσ,
 *
 * with J = ∂s/∂x and π = N(0, prior_std²·I) standing in for p_σ₁. The
 * function integrates the point and the integral together with Heun's
 * method over the levels of a grid, from σ_L up to σ₁ (use a fine grid, e.g.
 * sm_schedule_new_karras() with 50–200 levels). The trace of J is exact
 * (dim Jacobian-vector products per evaluation, sm_net_jvp()), or for
 * larger dim Hutchinson's unbiased estimate E[vᵀJv] with Rademacher
 * probes v, the same probes along each trajectory.
 *
 * What is measured is the model's density of the data blurred by σ_L, the
 * smallest level of the grid, in the units of the network's inputs: for
 * standardized data add −Σ_j log std_j to get the density in the original
 * units. The result is only as good as the prior's match to p_σ₁: with σ₁
 * much larger than the data's spread, N(0, σ₁²I) is accurate; otherwise
 * pass the standard deviation of p_σ₁ (for standardized data √(σ₁² + 1)).
 *
 * A network with a context (sm_net_context_dim() > 0) is evaluated with the
 * null context here: the density is the unconditional model's.
 */
#ifndef SCOREMATCH_LIKELIHOOD_H
#define SCOREMATCH_LIKELIHOOD_H

#include "scorematch/common.h"
#include "scorematch/error.h"
#include "scorematch/net.h"
#include "scorematch/rng.h"
#include "scorematch/schedule.h"

SM_BEGIN_DECLS

/**
 * @brief Log-density (nats) of each point under the probability-flow ODE.
 *
 * Cost per point: 2(L − 1) evaluations of the drift, each dim (exact) or
 * @p probes (Hutchinson) Jacobian-vector products; one thread, blocks of
 * 256 points.
 * @param net        The score network.
 * @param grid       Levels to integrate over (at least 2); its smallest σ is
 *                   the blur of the density measured, its largest where the
 *                   prior takes over.
 * @param x          n × dim points (finite).
 * @param n          Number of points, ≥ 1.
 * @param dim        Must equal sm_net_dim().
 * @param prior_std  Standard deviation of the Gaussian prior at σ₁; ≤ 0
 *                   means σ₁ (the VE prior).
 * @param probes     0 for the exact trace; k ≥ 1 (at most 4096) for
 *                   Hutchinson's estimate with k probes per point.
 * @param rng        Generator for the probes; may be NULL when @p probes
 *                   is 0.
 * @param[out] log_p Receives n log-densities.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_SHAPE, #SM_ERR_OVERFLOW,
 *         #SM_ERR_NONFINITE (non-finite point), #SM_ERR_NOMEM,
 *         #SM_ERR_DIVERGED (a trajectory or density became non-finite).
 */
SM_API sm_status sm_log_likelihood(sm_net *net, const sm_schedule *grid, const float *x,
                                   size_t n, size_t dim, double prior_std, size_t probes,
                                   sm_rng *rng, double *log_p);

SM_END_DECLS

#endif /* SCOREMATCH_LIKELIHOOD_H */
