/* Log-density of points under the probability-flow ODE of a VE score model.
 *
 * The ODE dx/dσ = f(x, σ) = −σ·s(x, σ) carries p_σ_L to p_σ₁; along a
 * trajectory d log p_σ(x(σ))/dσ = −∇·f = σ·tr J (J = ∂s/∂x), so
 *   log p_σ_L(x) = log p_σ₁(x(σ₁)) + ∫_{σ_L}^{σ₁} ∇·f dσ,  ∇·f = −σ·tr J,
 * with p_σ₁ replaced by the prior N(0, prior_std²·I). The augmented state
 * (x, ∫∇·f) is integrated with Heun's method over the grid's levels, from
 * the smallest σ upwards. tr J is exact (dim Jacobian-vector products with
 * the basis vectors) or Hutchinson's estimate with Rademacher probes, the
 * same probes along the whole trajectory (so the integrand is smooth). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "process-private.h"
#include "scoremodel-private.h"
#include "learning-private.h"
#include "rng-private.h"
#include "scorematch/likelihood.h"

typedef struct {
    sm_net *net;
    sm__jvp_ws ws;
    size_t dim, probes;
    const float *probe; /* rows × dim × probes Rademacher values, or NULL (exact) */
    float *sig, *v, *out, *jv; /* rows; rows × dim each */
} ctx;

/* k = f(y, σ) = −σ·s and div[r] = ∇·f = −σ·tr J for `rows` rows. */
static void drift(ctx *c, const float *y, float sigma, size_t rows, float *k, double *div)
{
    const size_t d = c->dim;
    for (size_t r = 0; r < rows; r++) {
        c->sig[r] = sigma;
        div[r] = 0.0;
    }
    const size_t passes = c->probe ? c->probes : d;
    for (size_t p = 0; p < passes; p++) {
        for (size_t r = 0; r < rows; r++)
            for (size_t j = 0; j < d; j++)
                c->v[r * d + j] = c->probe ? c->probe[(r * d + j) * c->probes + p]
                                           : (float)(j == p);
        if (p == 0) /* the score and the first direction */
            sm__score_jvp_forward(c->net, &c->ws, y, c->sig, NULL, c->v, rows, c->out, c->jv);
        else /* further directions reuse the activations */
            sm__score_jvp_tangent(c->net, &c->ws, c->sig, c->v, rows, c->jv);
        for (size_t r = 0; r < rows; r++) {
            double t = 0.0;
            if (c->probe)
                for (size_t j = 0; j < d; j++)
                    t += (double)c->v[r * d + j] * c->jv[r * d + j];
            else
                t = c->jv[r * d + p];
            div[r] += t;
        }
    }
    for (size_t r = 0; r < rows; r++)
        div[r] *= -(double)sigma / (double)(c->probe ? c->probes : 1);
    sm__ve_drift_from_score(c->out, sigma, rows * d, k);
}

sm_status sm_log_likelihood(sm_net *net, const sm_schedule *grid, const float *x, size_t n,
                            size_t dim, double prior_std, size_t probes, sm_rng *rng,
                            double *log_p)
{
    const char *fn = "sm_log_likelihood";
    if (!net || !grid || !x || !log_p || n == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument or n = 0", fn);
    if (dim != sm_net_dim(net))
        return sm__error(SM_ERR_SHAPE, "%s: points have dim %zu, the network %zu", fn, dim,
                         sm_net_dim(net));
    const size_t L = sm_schedule_levels(grid);
    if (L < 2)
        return sm__error(SM_ERR_INVALID_ARG, "%s: the grid needs at least 2 levels", fn);
    if (isnan(prior_std) || isinf(prior_std) || prior_std > 1e30)
        return sm__error(SM_ERR_INVALID_ARG, "%s: prior_std must be finite (got %g)", fn,
                         prior_std);
    if (probes > 4096)
        return sm__error(SM_ERR_INVALID_ARG, "%s: probes must be in [0, 4096] (got %zu)", fn,
                         probes);
    if (probes && !rng)
        return sm__error(SM_ERR_INVALID_ARG, "%s: Hutchinson probes need an rng", fn);
    if (sm__array_too_big(n, dim, sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim overflows", fn);
    sm_status st = sm__check_points(x, n, dim, "x", fn);
    if (st)
        return st;
    const float *sig = sm__schedule_sigmas(grid);
    const double pstd = prior_std > 0.0 ? prior_std : sm__ve_prior_std(sig[0]);

    const size_t B = SM__JVP_BLOCK, bd = B * dim;
    size_t probe_len = 0;
    if (probes && sm__mul_size(bd, probes, &probe_len))
        return sm__error(SM_ERR_OVERFLOW, "%s: too many probes for dim %zu", fn, dim);
    ctx c = {.net = net, .dim = dim, .probes = probes};
    if ((st = sm__jvp_ws_init(&c.ws, net, 0, fn)))
        return st;
    float *buf = sm__calloc(bd * 7 + B, sizeof(float));
    float *probe = probes ? sm__calloc(probe_len, sizeof(float)) : NULL;
    double *dv = sm__calloc(2 * B, sizeof(double));
    if (!buf || !dv || (probes && !probe)) {
        free(buf);
        free(probe);
        free(dv);
        sm__jvp_ws_free(&c.ws);
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    }
    float *y = buf, *y2 = buf + bd, *k1 = buf + 2 * bd, *k2 = buf + 3 * bd;
    c.v = buf + 4 * bd;
    c.out = buf + 5 * bd;
    c.jv = buf + 6 * bd;
    c.sig = buf + 7 * bd;
    c.probe = probe;
    double *t1 = dv, *t2 = dv + B;

    for (size_t r0 = 0; r0 < n && !st; r0 += B) {
        const size_t rows = n - r0 < B ? n - r0 : B;
        memcpy(y, x + r0 * dim, rows * dim * sizeof(float));
        for (size_t r = 0; r < rows; r++)
            log_p[r0 + r] = 0.0;
        if (probes) /* Rademacher ±1, fixed along the trajectory */
            for (size_t i = 0; i < rows * dim * probes; i++)
                probe[i] = (sm__rng_u64(rng) >> 63) ? 1.0f : -1.0f;
        for (size_t i = L - 1; i > 0; i--) {
            const float sa = sig[i], sb = sig[i - 1];
            const float h = sb - sa;
            drift(&c, y, sa, rows, k1, t1);
            sm__euler_step(y, h, k1, rows * dim, y2);
            drift(&c, y2, sb, rows, k2, t2);
            sm__heun_step(y, h, k1, k2, rows * dim, y);
            for (size_t r = 0; r < rows; r++)
                log_p[r0 + r] += 0.5 * (double)h * (t1[r] + t2[r]);
            if (sm__first_nonfinite(y, rows * dim) < rows * dim) {
                st = sm__error(SM_ERR_DIVERGED,
                               "%s: the trajectory of a point in rows %zu..%zu became non-finite "
                               "between sigma %g and %g (NaN or infinite parameters, or use a "
                               "finer grid)", fn, r0, r0 + rows - 1, (double)sa, (double)sb);
                break;
            }
        }
        if (st)
            break;
        /* log N(y; 0, pstd²·I) */
        const double c0 = -0.5 * (double)dim * log(2.0 * 3.14159265358979323846 * pstd * pstd);
        for (size_t r = 0; r < rows; r++) {
            double q = 0.0;
            for (size_t j = 0; j < dim; j++)
                q += (double)y[r * dim + j] * y[r * dim + j];
            log_p[r0 + r] += c0 - 0.5 * q / (pstd * pstd);
            if (!isfinite(log_p[r0 + r])) {
                st = sm__error(SM_ERR_DIVERGED, "%s: the log-density of point %zu is not finite",
                               fn, r0 + r);
                break;
            }
        }
    }
    free(buf);
    free(probe);
    free(dv);
    sm__jvp_ws_free(&c.ws);
    return st;
}
