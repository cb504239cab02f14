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

/** @brief How the trainer draws each example's noise level (values are
 *  part of the ABI). */
typedef enum sm_sigma_sampling {
    /** Uniformly among the levels of the trainer's schedule (the lab's way;
     *  the default for ::SM_PARAM_LAB networks). */
    SM_SIGMA_LADDER = 0,
    /** ln σ ~ N(P_mean, P_std²), EDM's way (the default for ::SM_PARAM_EDM
     *  networks, with #SM_EDM_P_MEAN and #SM_EDM_P_STD); the schedule is not
     *  used to draw σ. */
    SM_SIGMA_LOGNORMAL = 1
} sm_sigma_sampling;

/** @brief EDM's P_mean: the mean of ln σ in training (Karras et al. 2022). */
#define SM_EDM_P_MEAN (-1.2)
/** @brief EDM's P_std: the standard deviation of ln σ in training. */
#define SM_EDM_P_STD 1.2

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
 *
 * The callback may read the trainer's network (to save a checkpoint, for
 * instance) and change the optimizer's learning rate, but must not change
 * or step the trainer that calls it: sm_trainer_step(), sm_trainer_fit()
 * and the trainer's setters called from it fail with #SM_ERR_STATE and
 * leave the fit as it was. Freeing the trainer or its handles from the
 * callback is not allowed.
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
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_SHAPE, #SM_ERR_STATE (called
 *         from the callback of sm_trainer_fit()).
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
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_NOMEM, #SM_ERR_STATE (called
 *         from the callback of sm_trainer_fit()).
 */
SM_API sm_status sm_trainer_set_objective(sm_trainer *tr, sm_objective objective);

/**
 * @brief Chooses how each example's σ is drawn (see ::sm_sigma_sampling).
 *        A new trainer uses its network's parametrization's way: the ladder
 *        for ::SM_PARAM_LAB, log-normal (#SM_EDM_P_MEAN, #SM_EDM_P_STD) for
 *        ::SM_PARAM_EDM.
 * @param tr      The trainer.
 * @param kind    ::SM_SIGMA_LADDER or ::SM_SIGMA_LOGNORMAL.
 * @param p_mean  Log-normal only: mean of ln σ, |p_mean| ≤ 20.
 * @param p_std   Log-normal only: standard deviation of ln σ, in [0, 10].
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_STATE (called from the
 *         callback of sm_trainer_fit()).
 */
SM_API sm_status sm_trainer_set_sigma_sampling(sm_trainer *tr, sm_sigma_sampling kind,
                                               double p_mean, double p_std);

/**
 * @brief How the trainer draws σ.
 * @param tr  The trainer.
 * @return Its ::sm_sigma_sampling; ::SM_SIGMA_LADDER if @p tr is NULL.
 */
SM_API sm_sigma_sampling sm_trainer_sigma_sampling(const sm_trainer *tr);

/**
 * @brief Sets a learning-rate schedule over the trainer's steps: a linear
 *        warm-up from 0 to the optimizer's current rate over
 *        @p warmup_steps, then (if @p total_steps > @p warmup_steps) a
 *        cosine decay to @p final_ratio times that rate at step
 *        @p total_steps, constant afterwards.
 * The trainer sets the optimizer's rate (sm_optim_set_lr()) before every
 * step; steps are counted from this call. Calling it again restarts from the
 * rate the optimizer had at the first call; (0, 0, 1) turns the schedule
 * off and restores that rate at the next call.
 * @param tr            The trainer.
 * @param warmup_steps  Steps of linear warm-up (0: none).
 * @param total_steps   Step at which the decay ends (0: no decay); ≥
 *                      @p warmup_steps when not 0.
 * @param final_ratio   In [0, 1]: the rate at the end of the decay,
 *                      relative to the base rate.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_STATE (called from the
 *         callback of sm_trainer_fit()).
 */
SM_API sm_status sm_trainer_set_lr_schedule(sm_trainer *tr, uint64_t warmup_steps,
                                            uint64_t total_steps, double final_ratio);

/**
 * @brief Sets the condition dropout of a network with a context: the
 *        probability that a training row gets the null context instead of
 *        its own, so that the network learns the unconditional score too
 *        (which classifier-free guidance needs, sm_sampler_set_guidance()).
 *        Default 0.1. Each row's choice is drawn from the fit's generator,
 *        so runs repeat with the same seed.
 * @param tr  The trainer.
 * @param p   In [0, 1]: 0 trains only conditionally, 1 only
 *            unconditionally.
 * @return #SM_OK, #SM_ERR_INVALID_ARG (NULL, @p p outside [0, 1] or NaN),
 *         #SM_ERR_STATE (the network has no context).
 */
SM_API sm_status sm_trainer_set_context_dropout(sm_trainer *tr, double p);

/**
 * @brief The condition dropout in use.
 * @param tr  The trainer.
 * @return The probability; 0 for a network without a context or a NULL
 *         @p tr.
 */
SM_API double sm_trainer_context_dropout(const sm_trainer *tr);

/**
 * @brief Gradient reduction callback of sm_trainer_set_grad_reduce(): makes
 *        the processes of a data-parallel run agree on a buffer.
 *
 * It must replace the @p n floats of @p buf, in place, by their **mean**
 * over all the processes (ranks) of the run, and give every rank the same
 * result (with MPI: MPI_Allreduce() with MPI_SUM over MPI_FLOAT, then a
 * division by the number of ranks). Each training step calls it twice, in
 * this order and on every rank: with the network's gradient
 * (sm_net_grads(), @p n = sm_net_num_params()), then with a one-element
 * buffer holding the step's loss.
 * @param user_data  The pointer given to sm_trainer_set_grad_reduce() (a
 *                   communicator, for instance).
 * @param buf        The values to reduce, in place.
 * @param n          Their number.
 * @return 0 on success; non-zero fails the step with #SM_ERR_CANCELLED.
 *
 * The callback must not change or step the trainer that calls it (those
 * calls fail with #SM_ERR_STATE).
 */
typedef int (*sm_grad_reduce_fn)(void *user_data, float *buf, size_t n);

/**
 * @brief Makes the trainer reduce the gradient across processes in every
 *        step: after the local gradient is computed into the network's
 *        gradient buffer and before the optimizer steps, @p fn replaces it
 *        (and the step's loss) by the mean over the ranks (see
 *        ::sm_grad_reduce_fn). The library itself does not communicate.
 *
 * The loss a step reports (sm_trainer_step(), the callback and final loss
 * of sm_trainer_fit()) is then the reduced one, rounded to float.
 * Clipping (sm_optim_set_clip_norm()) and the finiteness check apply to the
 * reduced gradient, so every rank takes the same update. When the local
 * loss or gradient of one rank is not finite, that rank still calls @p fn,
 * with NaN, so that every rank fails the step with #SM_ERR_DIVERGED
 * instead of waiting for it.
 *
 * When @p fn returns non-zero, the step fails with #SM_ERR_CANCELLED
 * (sm_trainer_fit() stops there, keeping the earlier steps): the
 * parameters, the optimizer's state, the average of sm_trainer_set_ema()
 * and the step count of the learning-rate schedule are those before the
 * step; the generator has advanced by the step's draws and the network's
 * gradient buffer holds what @p fn left in it.
 * @param tr         The trainer.
 * @param fn         The reduction, or NULL to train alone again.
 * @param user_data  Passed to @p fn.
 * @return #SM_OK, #SM_ERR_INVALID_ARG (NULL @p tr), #SM_ERR_STATE (called
 *         from a callback of the trainer).
 */
SM_API sm_status sm_trainer_set_grad_reduce(sm_trainer *tr, sm_grad_reduce_fn fn,
                                            void *user_data);

/**
 * @brief Makes this process compute only its slice of every batch:
 *        @p ranks processes with the same data, seed and settings then take
 *        the same steps as one process with the whole batch.
 *
 * Every rank still draws all of the batch's random numbers (rows, context
 * dropout, σ, ε and the SSM projections), so the generators of all ranks
 * stay in step; rank r computes the loss and gradient of rows
 * ⌊n·r/ranks⌋ … ⌊n·(r+1)/ranks⌋ − 1 of a batch of n rows. Combined with
 * sm_trainer_set_grad_reduce() (a mean over the ranks), the update is that
 * of the whole batch up to the order of float summation. When @p ranks does
 * not divide n, each slice's gradient and loss are weighted by its share
 * (rows · ranks / n) so that the mean is still the whole batch's.
 *
 * Without this call (or with @p ranks = 1) the trainer computes on its whole
 * batch: the other way to train in parallel, each rank with its own data
 * shard, seed and batch, the reduction averaging their gradients.
 * @param tr     The trainer.
 * @param rank   This process's slice, < @p ranks.
 * @param ranks  Number of processes, 1 … the trainer's batch size.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_STATE (called from a callback
 *         of the trainer).
 */
SM_API sm_status sm_trainer_set_shard(sm_trainer *tr, size_t rank, size_t ranks);

/**
 * @brief Frees a trainer (not the borrowed handles).
 * @param tr  The trainer, or NULL (ignored).
 */
SM_API void sm_trainer_free(sm_trainer *tr);

/**
 * @brief One optimisation step on the given batch: draws σ per example
 *        (sm_trainer_set_sigma_sampling()) and ε ~ N(0, I) with @p rng,
 *        computes the loss and gradient and applies the optimizer.
 * An ::SM_PARAM_EDM network must know its σ_data (sm_net_set_sigma_data())
 * before this call (#SM_ERR_STATE otherwise); sm_trainer_fit() estimates it.
 * A network with a context is trained with the null context here (its
 * unconditional score); sm_trainer_fit() trains it on contexts.
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
 *         or infinity in @p x), #SM_ERR_DIVERGED, #SM_ERR_STATE (an EDM
 *         network without σ_data, or a call from the callback of
 *         sm_trainer_fit()).
 */
SM_API sm_status sm_trainer_step(sm_trainer *tr, const float *x, size_t n, size_t dim,
                                 sm_rng *rng, double *loss);

/**
 * @brief Trains for @p steps steps on minibatches drawn uniformly with
 *        replacement from @p data.
 * An ::SM_PARAM_EDM network whose σ_data is not known yet gets it from
 * @p data first (sm_dataset_sigma_data(); also set on the averaged network
 * of sm_trainer_set_ema()).
 *
 * A network with a context (sm_net_context_dim() c > 0) is trained on the
 * data set's contexts (sm_dataset_set_context(), width c), each row's
 * context travelling with its point; a data set without contexts but with
 * labels, all in [0, c), gives one-hot contexts of its labels
 * (sm_labels_one_hot()). After drawing a batch, every row is switched to
 * the null context with the probability of
 * sm_trainer_set_context_dropout(), from @p rng. The contexts of a data
 * set are ignored when the network has none.
 * @param tr               The trainer.
 * @param data             Training points; dimension must match the network.
 * @param steps            Number of steps, ≥ 1.
 * @param rng              Generator for batches, σ and ε.
 * @param callback         Called after every step; may be NULL.
 * @param user_data        Passed to @p callback.
 * @param[out] final_loss  Mean loss over the last min(steps, 100) steps
 *                         taken (may be NULL).
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_SHAPE (also contexts of
 *         another width than the network's, or a label ≥ c),
 *         #SM_ERR_STATE (a network with a context and a data set with
 *         neither contexts nor labels, or a call from its own callback),
 *         #SM_ERR_DIVERGED (at the step the message names; earlier steps
 *         are kept), #SM_ERR_CANCELLED.
 */
SM_API sm_status sm_trainer_fit(sm_trainer *tr, const sm_dataset *data, uint64_t steps,
                                sm_rng *rng, sm_train_callback callback, void *user_data,
                                double *final_loss);

SM_END_DECLS

#endif /* SCOREMATCH_TRAIN_H */
