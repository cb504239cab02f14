/**
 * @file scorematch/train.h
 * @brief Denoising score matching (DSM) loss and training loop
 *        (::sm_trainer).
 *
 * For a clean point x, a noise level σ and ε ~ N(0, I), the noisy point is
 * x̃ = x + σε and the score of the Gaussian kernel at x̃ is −ε/σ. The
 * σ²-weighted DSM loss is the mean over all elements of
 * σ²·(s_θ(x̃, σ) + ε/σ)², computed in the equivalent, stable form
 * (σ·s_θ(x̃, σ) + ε)².
 *
 * This loss cannot reach 0: at small σ the noise ε is not identifiable from
 * x̃, so its per-element value tends to 1 there. With the lab's ladder a
 * well-trained network sits near 0.75; judge training by samples and metrics,
 * not by the loss reaching a small number.
 */
#ifndef SCOREMATCH_TRAIN_H
#define SCOREMATCH_TRAIN_H

#include "scorematch/common.h"
#include "scorematch/error.h"
#include "scorematch/dataset.h"
#include "scorematch/losses.h"
#include "scorematch/net.h"
#include "scorematch/optim.h"
#include "scorematch/rng.h"
#include "scorematch/schedule.h"

SM_BEGIN_DECLS

/** @brief Training objectives (values are part of the ABI). */
typedef enum sm_objective {
    SM_OBJECTIVE_DSM = 0,   /**< Denoising score matching (default). */
    SM_OBJECTIVE_SSM_VR = 1 /**< Sliced score matching, variance-reduced. */
} sm_objective;

/** @brief Opaque DSM trainer: a network, its noise ladder and an optimizer. */
typedef struct sm_trainer sm_trainer;

/**
 * @brief Progress callback of sm_trainer_fit().
 * @param step       Steps done so far (1 … total).
 * @param total      Steps requested.
 * @param loss       Loss of this step's batch.
 * @param user_data  The pointer given to sm_trainer_fit().
 * @return 0 to continue, non-zero to stop (the fit returns
 *         #SM_ERR_CANCELLED; the steps taken so far are kept).
 */
typedef int (*sm_train_callback)(uint64_t step, uint64_t total, double loss,
                                 void *user_data);

/**
 * @brief Creates a trainer. The handles are borrowed, not owned: they must
 *        outlive the trainer and are not freed by it.
 * @param[out] out    Receives the trainer; set to NULL on failure.
 * @param net         Network to train; its workspace is reserved for
 *                    @p batch_size rows.
 * @param sched       Noise ladder: each example's σ is drawn uniformly from it.
 * @param opt         Optimizer sized for sm_net_num_params().
 * @param batch_size  Examples per step, ≥ 1 (the lab: 256).
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_SHAPE (optimizer size),
 *         #SM_ERR_OVERFLOW (batch too large), #SM_ERR_NOMEM.
 */
SM_API sm_status sm_trainer_new(sm_trainer **out, sm_net *net, const sm_schedule *sched,
                                sm_optim *opt, size_t batch_size);

/**
 * @brief Keeps an exponential moving average of the weights during training:
 *        after every successful step the trainer calls
 *        sm_net_ema_update(@p ema, net, @p decay).
 * @param tr     The trainer.
 * @param ema    A network of the same architecture (borrowed; e.g. made with
 *               sm_net_clone() before training), or NULL to stop averaging.
 * @param decay  In [0, 1] (0.999 is common; ignored when @p ema is NULL).
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_SHAPE.
 */
SM_API sm_status sm_trainer_set_ema(sm_trainer *tr, sm_net *ema, double decay);

/**
 * @brief Chooses the loss the trainer minimises: #SM_OBJECTIVE_DSM
 *        (sm_dsm_loss(), the default) or #SM_OBJECTIVE_SSM_VR
 *        (sm_ssm_loss() with fresh projections v ~ N(0, I) each step; about
 *        twice the cost of a DSM step, on the network's threads). The losses reported
 *        by sm_trainer_step() and sm_trainer_fit() are those of the chosen
 *        objective.
 * @param tr         The trainer.
 * @param objective  One of ::sm_objective.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_trainer_set_objective(sm_trainer *tr, sm_objective objective);

/**
 * @brief Frees a trainer (not the borrowed handles).
 * @param tr  The trainer, or NULL (ignored).
 */
SM_API void sm_trainer_free(sm_trainer *tr);

/**
 * @brief One optimisation step on the given batch: draws σ per example from
 *        the ladder and ε ~ N(0, I) with @p rng, computes the DSM loss and
 *        gradient and applies the optimizer.
 *
 * If the loss or a gradient is not finite, the parameters are left unchanged
 * and #SM_ERR_DIVERGED is returned (lower the learning rate or enable
 * clipping).
 *
 * @param tr          The trainer.
 * @param x           n × dim clean points.
 * @param n           1 … batch size.
 * @param dim         Must equal the network's dimension.
 * @param rng         Generator for σ and ε.
 * @param[out] loss   Receives the batch loss (may be NULL).
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_SHAPE, #SM_ERR_NONFINITE (NaN
 *         or infinity in @p x), #SM_ERR_DIVERGED.
 */
SM_API sm_status sm_trainer_step(sm_trainer *tr, const float *x, size_t n, size_t dim,
                                 sm_rng *rng, double *loss);

/**
 * @brief Trains for @p steps steps on minibatches drawn uniformly with
 *        replacement from @p data.
 * @param tr               The trainer.
 * @param data             Training points; dimension must match the network.
 * @param steps            Number of steps, ≥ 1.
 * @param rng              Generator for batches, σ and ε.
 * @param callback         Called after every step; may be NULL.
 * @param user_data        Passed to @p callback.
 * @param[out] final_loss  Mean loss over the last min(steps, 100) steps
 *                         taken (may be NULL).
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_SHAPE, #SM_ERR_DIVERGED (at
 *         the step the message names; earlier steps are kept),
 *         #SM_ERR_CANCELLED.
 */
SM_API sm_status sm_trainer_fit(sm_trainer *tr, const sm_dataset *data, uint64_t steps,
                                sm_rng *rng, sm_train_callback callback, void *user_data,
                                double *final_loss);

SM_END_DECLS

#endif /* SCOREMATCH_TRAIN_H */
