/* The variance-exploding (VE) noise process, p_σ = data ∗ N(0, σ²I), in one
 * place: how the trainer perturbs data, the samplers' and the likelihood's
 * drift, the reverse-diffusion step's variance and the prior at the top of
 * the σ range. */
#ifndef SCOREMATCH_PROCESS_PRIVATE_H
#define SCOREMATCH_PROCESS_PRIVATE_H

#include <stddef.h>

/* out = x + σ_r·ε for n rows of dim values (σ per row). */
void sm__ve_perturb(const float *x, const float *sigma, const float *eps, size_t n, size_t dim,
                    float *out);

/* Slope of the probability-flow ODE in σ, dx/dσ = −σ·s(x, σ), for `total`
 * values of the score s at one σ: out = −σ·s (out may be s). */
void sm__ve_drift_from_score(const float *s, float sigma, size_t total, float *out);

/* The same slope from the denoiser D: (x − D)/σ (out may be D). */
void sm__ve_drift_from_denoised(const float *x, const float *d, float sigma, size_t total,
                                float *out);

/* Variance of a reverse-diffusion step from σ_from down to σ_to:
 * σ_from² − σ_to² (≥ 0 for σ_to ≤ σ_from). */
double sm__ve_step_variance(double sigma_from, double sigma_to);

/* The two steps of Heun's method for dx/dσ = f, shared by the samplers'
 * probability-flow ODE and the likelihood's augmented ODE (h = σ_to − σ_from):
 * the Euler predictor out = x + h·k1, and the corrector
 * out = x + h/2·(k1 + k2), k2 the slope at the predicted point and σ_to.
 * out may be x or one of the slopes. */
void sm__euler_step(const float *x, float h, const float *k1, size_t total, float *out);
void sm__heun_step(const float *x, float h, const float *k1, const float *k2, size_t total,
                   float *out);

/* Standard deviation of the prior N(0, std²·I) that stands in for p_σ at
 * the top of the range: the largest σ itself (the data's spread is small
 * against it). */
double sm__ve_prior_std(double sigma_max);

#endif
