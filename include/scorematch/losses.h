/**
 * @file scorematch/losses.h
 * @brief Score matching losses: denoising (DSM), sliced (SSM) and DSM per
 *        noise level.
 * For a clean point x, a noise level σ and ε ~ N(0, I), the noisy point is
 * x̃ = x + σε and the score of the Gaussian kernel at x̃ is −ε/σ. The
 * σ²-weighted DSM loss is the mean over all elements of
 * w(σ)·σ²·(s_θ(x̃, σ) + ε/σ)², computed in the equivalent, stable form
 * w(σ)·(σ·s_θ(x̃, σ) + ε)². The weight w(σ) comes with the network's
 * parametrization: 1 for ::SM_PARAM_LAB; (σ² + σ_data²)/σ_data² for
 * ::SM_PARAM_EDM, which makes the loss EDM's
 * λ(σ)·‖D(x̃, σ) − x‖² with λ = (σ² + σ_data²)/(σ·σ_data)² (the effective
 * training target of the network is then of unit variance at every σ).
 * This loss cannot reach 0: at small σ the noise ε is not identifiable from
 * x̃, so its per-element value tends to w(σ) there. With the lab's ladder a
 * well-trained network sits near 0.75; judge training by samples and metrics,
 * not by the loss reaching a small number.
 */
#ifndef SCOREMATCH_LOSSES_H
#define SCOREMATCH_LOSSES_H

#include "scorematch/common.h"
#include "scorematch/error.h"
#include "scorematch/net.h"
#include "scorematch/rng.h"
#include "scorematch/schedule.h"

SM_BEGIN_DECLS

/**
 * @brief DSM loss for given noise, optionally with its gradient.
 *
 * Deterministic building block of the trainer, for callers who draw σ and ε
 * themselves. With @p with_grad, ∂loss/∂θ is added to the network's gradient
 * buffer (call sm_net_zero_grad() first to get the gradient alone).
 *
 * @param net         The network; n ≤ its reserved batch when @p with_grad.
 * @param x           n × dim clean points.
 * @param sigma       n noise levels, > 0.
 * @param eps         n × dim standard normal draws.
 * @param n           Rows, ≥ 1.
 * @param dim         Must equal sm_net_dim().
 * @param with_grad   Non-zero to back-propagate.
 * @param[out] loss   Receives the mean over the n × dim elements.
 * @return #SM_OK, #SM_ERR_INVALID_ARG (also a σ ≤ 0 or non-finite),
 *         #SM_ERR_SHAPE, #SM_ERR_OVERFLOW, #SM_ERR_NONFINITE (NaN or
 *         infinity in @p x or @p eps), #SM_ERR_STATE (@p with_grad and n
 *         beyond the reserved batch), #SM_ERR_NOMEM, #SM_ERR_DIVERGED
 *         (non-finite loss, e.g. from NaN parameters; no gradient is added).
 */
SM_API sm_status sm_dsm_loss(sm_net *net, const float *x, const float *sigma,
                             const float *eps, size_t n, size_t dim, int with_grad,
                             double *loss);

/**
 * @brief Sliced score matching loss with variance reduction (Song et al.,
 *        2019) on noise-perturbed points, optionally with its gradient.
 *
 * With x̃_r = x_r + σ_r·ε_r, s_r = s_θ(x̃_r, σ_r) and J_r = ∂s/∂x at x̃_r:
 *
 *     loss = 1/(n·dim) · Σ_r σ_r²·(v_rᵀ·J_r·v_r + ½‖s_r‖²).
 *
 * In expectation over v ~ N(0, I) the bracket is tr J + ½‖s‖², Hyvärinen's
 * score matching objective for p_σ, which needs no knowledge of how x̃ was
 * made (unlike DSM). "Variance reduction" means ½‖s‖² is computed exactly
 * rather than estimated as ½(vᵀs)². The σ² weighting is the DSM loss's, so
 * both train the same network to the same minimiser; the SSM value is not
 * bounded below by 0 (its minimum is minus the σ²-weighted Fisher
 * information of p_σ, up to the 1/dim factor). J·v comes from the
 * network's forward-mode derivative (sm_net_jvp()) and the gradient from a
 * reverse pass through it, both written by hand. The rows are shared among
 * the network's threads (sm_net_set_threads()), gradients summed in a fixed
 * order; this function allocates its workspaces on each call (the trainer
 * keeps its own).
 * @param net         The network.
 * @param x           n × dim clean points.
 * @param sigma       n noise levels, > 0.
 * @param eps         n × dim standard normal draws (the perturbation).
 * @param v           n × dim projection vectors (standard normal draws).
 * @param n           Rows, ≥ 1.
 * @param dim         Must equal sm_net_dim().
 * @param with_grad   Non-zero to add ∂loss/∂θ to the network's gradients.
 * @param[out] loss   Receives the loss.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_SHAPE, #SM_ERR_OVERFLOW,
 *         #SM_ERR_NONFINITE (in @p x, @p eps or @p v), #SM_ERR_NOMEM,
 *         #SM_ERR_DIVERGED (non-finite loss or gradient; no gradient is
 *         added).
 */
SM_API sm_status sm_ssm_loss(sm_net *net, const float *x, const float *sigma,
                             const float *eps, const float *v, size_t n, size_t dim,
                             int with_grad, double *loss);

/**
 * @brief DSM loss at every level of a ladder: which noise scales the
 *        network has learned.
 *
 * For level i every point is perturbed with fresh noise at σ_i and the
 * σ²-weighted loss of sm_dsm_loss() is averaged over the points. Compare
 * the values across training runs or checkpoints: a level whose loss stays
 * high while the others fall is a scale the network has not learned. (The
 * values do not go to 0: at small σ the per-element floor tends to 1 for
 * data in general position, less for data on a lower-dimensional set; at
 * large σ the loss of a good network is small.)
 * @param net          The network.
 * @param sched        The ladder whose levels to evaluate.
 * @param x            n × dim clean points (e.g. held-out data).
 * @param n            Rows, ≥ 1.
 * @param dim          Must equal sm_net_dim().
 * @param rng          Generator for the noise.
 * @param[out] losses  Receives one mean loss per level, largest σ first.
 * @param levels       Length of @p losses; must equal sm_schedule_levels().
 * @return As sm_dsm_loss() (without #SM_ERR_STATE), plus #SM_ERR_SHAPE for
 *         a @p levels mismatch.
 */
SM_API sm_status sm_dsm_loss_per_level(sm_net *net, const sm_schedule *sched, const float *x,
                                       size_t n, size_t dim, sm_rng *rng, double *losses,
                                       size_t levels);

SM_END_DECLS

#endif /* SCOREMATCH_LOSSES_H */
