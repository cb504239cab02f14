/* Noise ladders. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "learning-private.h"
#include "dataset-private.h"
#include "rng-private.h"
#include "scorematch/schedule.h"

struct sm_schedule {
    size_t levels;
    float *sigma; /* largest first */
};

static sm_status make(sm_schedule **out, const float *sigmas, size_t levels, const char *fn)
{
    for (size_t i = 0; i < levels; i++) {
        if (!isfinite(sigmas[i]))
            return sm__error(SM_ERR_NONFINITE, "%s: sigma[%zu] is not finite", fn, i);
        if (!(sigmas[i] > 0.0f))
            return sm__error(SM_ERR_INVALID_ARG, "%s: sigma[%zu] = %g is not > 0", fn, i,
                             (double)sigmas[i]);
        if (i > 0 && !(sigmas[i] < sigmas[i - 1]))
            return sm__error(SM_ERR_INVALID_ARG,
                             "%s: sigmas must strictly decrease (sigma[%zu] = %g >= sigma[%zu] = %g)",
                             fn, i, (double)sigmas[i], i - 1, (double)sigmas[i - 1]);
    }
    sm_schedule *s = calloc(1, sizeof *s);
    float *copy = sm__calloc(levels, sizeof(float));
    if (!s || !copy) {
        free(s);
        free(copy);
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    }
    memcpy(copy, sigmas, levels * sizeof(float));
    s->levels = levels;
    s->sigma = copy;
    *out = s;
    return SM_OK;
}

enum { LADDER_LINEAR, LADDER_GEOMETRIC, LADDER_KARRAS };

static sm_status make_ladder(sm_schedule **out, double smax, double smin, size_t levels,
                             int kind, double rho, const char *fn)
{
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (levels < 2 || levels > (1u << 24))
        return sm__error(SM_ERR_INVALID_ARG, "%s: levels must be in [2, 2^24] (got %zu)", fn,
                         levels);
    if (!isfinite(smax) || !isfinite(smin) || !(smin > 0.0) || !(smax > smin))
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: need finite 0 < sigma_min < sigma_max (got %g, %g)", fn, smin,
                         smax);
    /* The ladder is stored as float: both ends must be positive floats. */
    if (smax > FLT_MAX || !((float)smin > 0.0f))
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: sigma_min %g and sigma_max %g must lie in the float range [%g, %g]",
                         fn, smin, smax, (double)FLT_TRUE_MIN, (double)FLT_MAX);
    float *tmp = sm__calloc(levels, sizeof(float));
    if (!tmp)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    for (size_t i = 0; i < levels; i++) {
        double t = (double)i / (double)(levels - 1);
        if (kind == LADDER_GEOMETRIC) {
            tmp[i] = (float)exp(log(smax) + t * (log(smin) - log(smax)));
        } else if (kind == LADDER_KARRAS) {
            /* Linear in σ^(1/ρ): steps shrink towards σ_min, where the
             * trajectories bend most. */
            double a = pow(smax, 1.0 / rho), b = pow(smin, 1.0 / rho);
            tmp[i] = (float)pow(a + t * (b - a), rho);
        } else {
            tmp[i] = (float)(smax + t * (smin - smax));
        }
    }
    if (kind == LADDER_KARRAS) { /* pin the ends: pow() may be an ulp off */
        tmp[0] = (float)smax;
        tmp[levels - 1] = (float)smin;
    }
    sm_status st = make(out, tmp, levels, fn);
    if (st == SM_ERR_INVALID_ARG)
        st = sm__error(SM_ERR_INVALID_ARG,
                       "%s: %zu levels between %g and %g are not distinct in float", fn,
                       levels, smin, smax);
    free(tmp);
    return st;
}

sm_status sm_schedule_new_geometric(sm_schedule **out, double sigma_max, double sigma_min,
                                    size_t levels)
{
    return make_ladder(out, sigma_max, sigma_min, levels, LADDER_GEOMETRIC, 0.0,
                       "sm_schedule_new_geometric");
}

sm_status sm_schedule_new_linear(sm_schedule **out, double sigma_max, double sigma_min,
                                 size_t levels)
{
    return make_ladder(out, sigma_max, sigma_min, levels, LADDER_LINEAR, 0.0,
                       "sm_schedule_new_linear");
}

sm_status sm_schedule_new_karras(sm_schedule **out, double sigma_max, double sigma_min,
                                 size_t levels, double rho)
{
    const char *fn = "sm_schedule_new_karras";
    if (out && !(rho >= 1.0 && rho <= 100.0)) {
        *out = NULL;
        return sm__error(SM_ERR_INVALID_ARG, "%s: rho must be in [1, 100] (got %g)", fn, rho);
    }
    return make_ladder(out, sigma_max, sigma_min, levels, LADDER_KARRAS, rho, fn);
}

sm_status sm_schedule_new_from_array(sm_schedule **out, const float *sigmas, size_t levels)
{
    const char *fn = "sm_schedule_new_from_array";
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!sigmas || levels == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: need a non-empty array", fn);
    if (sm__array_too_big(levels, 1, sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "%s: levels = %zu is too large", fn, levels);
    return make(out, sigmas, levels, fn);
}

void sm_schedule_free(sm_schedule *sched)
{
    if (!sched)
        return;
    free(sched->sigma);
    free(sched);
}

size_t sm_schedule_levels(const sm_schedule *sched)
{
    return sched ? sched->levels : 0;
}

float sm_schedule_sigma(const sm_schedule *sched, size_t i)
{
    return (sched && i < sched->levels) ? sched->sigma[i] : 0.0f;
}

const float *sm__schedule_sigmas(const sm_schedule *sched)
{
    return sched->sigma;
}

sm_status sm_schedule_get_sigmas(const sm_schedule *sched, float *sigmas, size_t levels)
{
    if (!sched || !sigmas)
        return sm__error(SM_ERR_INVALID_ARG, "sm_schedule_get_sigmas: NULL argument");
    if (levels != sched->levels)
        return sm__error(SM_ERR_SHAPE, "sm_schedule_get_sigmas: %zu slots for %zu levels",
                         levels, sched->levels);
    memcpy(sigmas, sched->sigma, levels * sizeof(float));
    return SM_OK;
}

sm_status sm_schedule_suggest_sigma_max(const sm_dataset *ds, sm_rng *rng, double *sigma_max)
{
    const char *fn = "sm_schedule_suggest_sigma_max";
    if (!ds || !sigma_max)
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument", fn);
    if (ds->n < 2)
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: the data set has 1 point; sigma_max is the largest distance "
                         "between two points", fn);
    const size_t limit = 2000;
    if (ds->n > limit && !rng)
        return sm__error(SM_ERR_INVALID_ARG, "%s: rng is needed for more than %zu points", fn,
                         limit);
    size_t m = ds->n > limit ? limit : ds->n;
    double best = 0.0;
    for (size_t a = 0; a < m; a++) {
        size_t i = ds->n > limit ? (size_t)sm__rng_below(rng, ds->n) : a;
        const float *p = ds->x + i * ds->dim;
        for (size_t j = 0; j < ds->n; j++) {
            const float *q = ds->x + j * ds->dim;
            double d2 = 0.0;
            for (size_t k = 0; k < ds->dim; k++) {
                double d = (double)p[k] - (double)q[k];
                d2 += d * d;
            }
            if (d2 > best)
                best = d2;
        }
    }
    /* With a subsample, every point is at distance 0 from every drawn one,
     * so they are all the same point too. */
    if (!(best > 0.0))
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: all %zu points of the data set are the same, so no distance "
                         "gives a sigma_max", fn, ds->n);
    *sigma_max = sqrt(best);
    return SM_OK;
}
