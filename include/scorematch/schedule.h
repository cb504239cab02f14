/**
 * @file scorematch/schedule.h
 * @brief Noise ladders σ₁ > σ₂ > … > σ_L (::sm_schedule).
 *
 * A schedule lists the noise levels the score network is trained on and the
 * sampler anneals through, from the largest to the smallest. The lab uses a
 * geometric ladder from 1.0 to 0.01 with L = 10.
 */
#ifndef SCOREMATCH_SCHEDULE_H
#define SCOREMATCH_SCHEDULE_H

#include "scorematch/common.h"
#include "scorematch/error.h"
#include "scorematch/dataset.h"
#include "scorematch/rng.h"

SM_BEGIN_DECLS

/** @brief Opaque noise schedule. */
typedef struct sm_schedule sm_schedule;

/**
 * @brief Geometric ladder: σ_i = σ_max·(σ_min/σ_max)^((i−1)/(L−1)).
 * @param[out] out   Receives the schedule; set to NULL on failure.
 * @param sigma_max  σ₁, > @p sigma_min and at most FLT_MAX (stored as float).
 * @param sigma_min  σ_L, > 0 and not rounding to 0 in float.
 * @param levels     L ≥ 2.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_schedule_new_geometric(sm_schedule **out, double sigma_max,
                                           double sigma_min, size_t levels);

/**
 * @brief Linear ladder: σ_i = σ_max + (σ_min − σ_max)·(i−1)/(L−1).
 * @param[out] out   Receives the schedule; set to NULL on failure.
 * @param sigma_max  σ₁, > @p sigma_min and at most FLT_MAX (stored as float).
 * @param sigma_min  σ_L, > 0 and not rounding to 0 in float.
 * @param levels     L ≥ 2.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_schedule_new_linear(sm_schedule **out, double sigma_max,
                                        double sigma_min, size_t levels);

/**
 * @brief Karras et al. (2022) discretisation: σ_i linear in σ^(1/ρ),
 *        σ_i = (σ_max^(1/ρ) + (i−1)/(L−1)·(σ_min^(1/ρ) − σ_max^(1/ρ)))^ρ.
 *
 * With ρ = 7 (the paper's choice) the levels crowd towards σ_min, where
 * the probability-flow ODE's trajectories bend most, so an ODE sampler
 * (::SM_SAMPLER_ODE_HEUN) needs fewer steps for the same error than on a
 * geometric grid (which is the case ρ → ∞). Meant as a sampling grid: the
 * network takes log σ as input, so it can be evaluated on any grid inside
 * the range it was trained on.
 * @param[out] out   Receives the schedule; set to NULL on failure.
 * @param sigma_max  σ₁, > @p sigma_min and at most FLT_MAX (stored as float).
 * @param sigma_min  σ_L, > 0 and not rounding to 0 in float.
 * @param levels     L ≥ 2.
 * @param rho        ρ in [1, 100]; 1 gives the linear ladder.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_schedule_new_karras(sm_schedule **out, double sigma_max, double sigma_min,
                                        size_t levels, double rho);

/**
 * @brief Ladder from a caller array (copied).
 * @param[out] out  Receives the schedule; set to NULL on failure.
 * @param sigmas    L values, positive, finite and strictly decreasing.
 * @param levels    L ≥ 1.
 * @return #SM_OK; #SM_ERR_INVALID_ARG (names the offending index);
 *         #SM_ERR_NONFINITE; #SM_ERR_OVERFLOW (@p levels floats cannot
 *         exist); #SM_ERR_NOMEM.
 */
SM_API sm_status sm_schedule_new_from_array(sm_schedule **out, const float *sigmas,
                                            size_t levels);

/**
 * @brief Frees a schedule.
 * @param sched  The schedule, or NULL (ignored).
 */
SM_API void sm_schedule_free(sm_schedule *sched);

/**
 * @brief Number of levels.
 * @param sched  The schedule.
 * @return L; 0 if @p sched is NULL.
 */
SM_API size_t sm_schedule_levels(const sm_schedule *sched);

/**
 * @brief One noise level.
 * @param sched  The schedule.
 * @param i      Index from 0 (largest σ) to L−1 (smallest).
 * @return σ_(i+1); 0 if @p sched is NULL or @p i is out of range.
 */
SM_API float sm_schedule_sigma(const sm_schedule *sched, size_t i);

/**
 * @brief The ladder as an array.
 * @param sched       The schedule.
 * @param[out] sigmas Receives L values, largest first.
 * @param levels      Length of @p sigmas; must equal sm_schedule_levels().
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_SHAPE.
 */
SM_API sm_status sm_schedule_get_sigmas(const sm_schedule *sched, float *sigmas,
                                        size_t levels);

/**
 * @brief Suggests σ₁ for a data set: the largest pairwise Euclidean distance
 *        (Song & Ermon, 2020, technique 1).
 *
 * Exact for n ≤ 2000; for larger sets the maximum is taken over 2000 points
 * drawn with @p rng against all points, which is a lower bound that is close
 * in practice.
 *
 * @param ds               The data set.
 * @param rng              Generator for the subsample (may be NULL when
 *                         n ≤ 2000).
 * @param[out] sigma_max   Receives the suggestion (left unchanged on failure).
 * @return #SM_OK; #SM_ERR_INVALID_ARG, also for a data set of one point or
 *         of identical points (no distance to suggest).
 */
SM_API sm_status sm_schedule_suggest_sigma_max(const sm_dataset *ds, sm_rng *rng,
                                               double *sigma_max);

SM_END_DECLS

#endif /* SCOREMATCH_SCHEDULE_H */
