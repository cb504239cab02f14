/**
 * @file scorematch/optim.h
 * @brief Gradient-descent optimizers over flat parameter buffers (::sm_optim).
 *
 * An optimizer owns its state (Adam's first and second moments, SGD's
 * velocity) for a fixed number of parameters and updates a flat parameter
 * buffer from a gradient buffer of the same length, typically a network's
 * sm_net_params() / sm_net_grads().
 *
 * Adam (Kingma & Ba, 2015) with bias correction, per step t:
 * m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − lr·m̂/(√v̂ + ε) with
 * m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ). With a weight decay λ > 0 it is AdamW
 * (Loshchilov & Hutter, 2019): θ ← θ(1 − lr·λ) before the update.
 *
 * SGD with momentum μ: u ← μu + g + λθ, θ ← θ − lr·u (PyTorch's form).
 *
 * Optional global-norm clipping scales g by min(1, c/‖g‖₂) before the update.
 */
#ifndef SCOREMATCH_OPTIM_H
#define SCOREMATCH_OPTIM_H

#include "scorematch/common.h"
#include "scorematch/error.h"
#include "scorematch/net.h"

SM_BEGIN_DECLS

/** @brief Opaque optimizer. */
typedef struct sm_optim sm_optim;

/**
 * @brief Creates an Adam/AdamW optimizer (lab defaults: lr 1e-3, β₁ 0.9,
 *        β₂ 0.999, ε 1e-8, weight decay 0).
 * @param[out] out      Receives the optimizer; set to NULL on failure.
 * @param num_params    Length of the buffers it will update, ≥ 1.
 * @param lr            Learning rate, finite and > 0.
 * @param beta1         In [0, 1).
 * @param beta2         In [0, 1).
 * @param eps           Finite and > 0.
 * @param weight_decay  Decoupled decay λ ≥ 0 (0 = plain Adam).
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_OVERFLOW (@p num_params
 *         floats cannot exist), #SM_ERR_NOMEM.
 */
SM_API sm_status sm_optim_new_adam(sm_optim **out, size_t num_params, double lr,
                                   double beta1, double beta2, double eps,
                                   double weight_decay);

/**
 * @brief Creates an SGD optimizer with momentum.
 * @param[out] out      Receives the optimizer; set to NULL on failure.
 * @param num_params    Length of the buffers it will update, ≥ 1.
 * @param lr            Learning rate, finite and > 0.
 * @param momentum      In [0, 1).
 * @param weight_decay  L2 penalty λ ≥ 0 added to the gradient.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_OVERFLOW (@p num_params
 *         floats cannot exist), #SM_ERR_NOMEM.
 */
SM_API sm_status sm_optim_new_sgd(sm_optim **out, size_t num_params, double lr,
                                  double momentum, double weight_decay);

/**
 * @brief Frees an optimizer.
 * @param opt  The optimizer, or NULL (ignored).
 */
SM_API void sm_optim_free(sm_optim *opt);

/**
 * @brief Changes the learning rate (for schedules driven by the caller).
 * @param opt  The optimizer.
 * @param lr   Finite and > 0.
 * @return #SM_OK or #SM_ERR_INVALID_ARG.
 */
SM_API sm_status sm_optim_set_lr(sm_optim *opt, double lr);

/**
 * @brief Current learning rate.
 * @param opt  The optimizer.
 * @return The rate; 0 if @p opt is NULL.
 */
SM_API double sm_optim_lr(const sm_optim *opt);

/**
 * @brief Enables global-norm gradient clipping.
 * @param opt       The optimizer.
 * @param max_norm  Largest allowed ‖g‖₂; 0 turns clipping off.
 * @return #SM_OK or #SM_ERR_INVALID_ARG (negative or non-finite).
 */
SM_API sm_status sm_optim_set_clip_norm(sm_optim *opt, double max_norm);

/**
 * @brief Number of updates applied so far (Adam's t).
 * @param opt  The optimizer.
 * @return The count; 0 if @p opt is NULL.
 */
SM_API uint64_t sm_optim_steps(const sm_optim *opt);

/**
 * @brief Clears the moments and the step count.
 * @param opt  The optimizer.
 * @return #SM_OK or #SM_ERR_INVALID_ARG.
 */
SM_API sm_status sm_optim_reset(sm_optim *opt);

/**
 * @brief Applies one update to @p params from @p grads.
 *
 * Nothing is changed if a gradient is NaN or infinite: the call returns
 * #SM_ERR_NONFINITE and leaves parameters and moments as they were.
 *
 * @param opt     The optimizer.
 * @param params  Parameters, updated in place.
 * @param grads   Gradients (not modified; clipping works on a scale factor).
 * @param n       Must equal the optimizer's num_params.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_SHAPE, #SM_ERR_NONFINITE.
 */
SM_API sm_status sm_optim_step(sm_optim *opt, float *params, const float *grads,
                               size_t n);

/**
 * @brief sm_optim_step() on a network's parameter and gradient buffers.
 * @param opt  The optimizer.
 * @param net  The network; its parameter count must match.
 * @return As sm_optim_step().
 */
SM_API sm_status sm_optim_step_net(sm_optim *opt, sm_net *net);

SM_END_DECLS

#endif /* SCOREMATCH_OPTIM_H */
