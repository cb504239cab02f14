/* The VE noise process (see process-private.h). */
#include "process-private.h"

void sm__ve_perturb(const float *x, const float *sigma, const float *eps, size_t n, size_t dim,
                    float *out)
{
    for (size_t r = 0; r < n; r++)
        for (size_t j = 0; j < dim; j++)
            out[r * dim + j] = x[r * dim + j] + sigma[r] * eps[r * dim + j];
}

void sm__ve_drift_from_score(const float *s, float sigma, size_t total, float *out)
{
    for (size_t i = 0; i < total; i++)
        out[i] = -sigma * s[i];
}

void sm__ve_drift_from_denoised(const float *x, const float *d, float sigma, size_t total,
                                float *out)
{
    for (size_t i = 0; i < total; i++)
        out[i] = (x[i] - d[i]) / sigma;
}

void sm__euler_step(const float *x, float h, const float *k1, size_t total, float *out)
{
    for (size_t i = 0; i < total; i++)
        out[i] = x[i] + h * k1[i];
}

void sm__heun_step(const float *x, float h, const float *k1, const float *k2, size_t total,
                   float *out)
{
    const float hh = 0.5f * h;
    for (size_t i = 0; i < total; i++)
        out[i] = x[i] + hh * (k1[i] + k2[i]);
}

double sm__ve_step_variance(double sigma_from, double sigma_to)
{
    return sigma_from * sigma_from - sigma_to * sigma_to;
}

double sm__ve_prior_std(double sigma_max)
{
    return sigma_max;
}
