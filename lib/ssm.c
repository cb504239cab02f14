/* Sliced score matching with variance reduction (Song et al., 2019), on
 * noise-perturbed data with the σ² weighting of the DSM loss:
 *   loss = 1/(n·d) · Σ_r σ_r² · (v_rᵀ·J_r·v_r + ½‖s_r‖²),
 * s_r = s(x̃_r, σ_r), J_r = ∂s/∂x at x̃_r = x_r + σ_r·ε_r, v_r ~ N(0, I).
 * "Variance reduction": ½‖s‖² is computed exactly instead of estimated as
 * ½(vᵀs)² from the same projection. The Jacobian-vector product and its
 * gradient come from jvp.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "jvp-private.h"
#include "ssm-private.h"
#include "scorematch/train.h"

sm_status sm__ssm_core(sm_net *net, const float *x, const float *sigma, const float *eps,
                       const float *v, size_t n, size_t dim, int with_grad, double *loss,
                       const char *fn)
{
    const size_t B = SM__JVP_BLOCK;
    sm__jvp_ws w;
    sm_status st = sm__jvp_ws_init(&w, net, fn);
    if (st)
        return st;
    /* x̃, s, Jv, g_s, g_Jv for one block; gradients kept apart until the
     * loss is known to be finite. */
    float *buf = sm__calloc(B * dim, 5 * sizeof(float));
    float *grads = with_grad ? sm__calloc(net->nparams, sizeof(float)) : NULL;
    if (!buf || (with_grad && !grads)) {
        free(buf);
        free(grads);
        sm__jvp_ws_free(&w);
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    }
    float *xt = buf, *s = buf + B * dim, *jv = buf + 2 * B * dim, *gs = buf + 3 * B * dim,
          *gjv = buf + 4 * B * dim;
    const double norm = 1.0 / ((double)n * (double)dim);
    double acc = 0.0;
    for (size_t r0 = 0; r0 < n; r0 += B) {
        const size_t rows = n - r0 < B ? n - r0 : B;
        for (size_t r = 0; r < rows; r++)
            for (size_t j = 0; j < dim; j++) {
                size_t i = (r0 + r) * dim + j;
                xt[r * dim + j] = x[i] + sigma[r0 + r] * eps[i];
            }
        sm__jvp_forward(net, &w, xt, sigma + r0, v + r0 * dim, rows, s, jv);
        for (size_t r = 0; r < rows; r++) {
            const double s2 = (double)sigma[r0 + r] * sigma[r0 + r];
            double vjv = 0.0, ss = 0.0;
            for (size_t j = 0; j < dim; j++) {
                size_t k = r * dim + j;
                float vk = v[(r0 + r) * dim + j];
                vjv += (double)vk * jv[k];
                ss += (double)s[k] * s[k];
                gs[k] = (float)(s2 * norm) * s[k];
                gjv[k] = (float)(s2 * norm) * vk;
            }
            acc += s2 * (vjv + 0.5 * ss);
        }
        if (with_grad && isfinite(acc))
            sm__jvp_backward(net, &w, gs, gjv, rows, grads);
    }
    const double l = acc * norm;
    *loss = l;
    if (!isfinite(l)) {
        st = sm__error(SM_ERR_DIVERGED,
                       "%s: the loss is not finite (%g): NaN or infinite parameters, or values "
                       "too large for float; lower the learning rate or enable clipping", fn, l);
    } else if (with_grad) {
        size_t bad = sm__first_nonfinite(grads, net->nparams);
        if (bad < net->nparams)
            st = sm__error(SM_ERR_DIVERGED, "%s: the gradient is not finite (parameter %zu)", fn,
                           bad);
        else
            for (size_t i = 0; i < net->nparams; i++)
                net->grads[i] += grads[i];
    }
    free(grads);
    free(buf);
    sm__jvp_ws_free(&w);
    return st;
}

sm_status sm_ssm_loss(sm_net *net, const float *x, const float *sigma, const float *eps,
                      const float *v, size_t n, size_t dim, int with_grad, double *loss)
{
    const char *fn = "sm_ssm_loss";
    if (!net || !x || !sigma || !eps || !v || !loss || n == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument or n = 0", fn);
    if (dim != net->dim)
        return sm__error(SM_ERR_SHAPE, "%s: dim %zu, the network has %zu", fn, dim, net->dim);
    if (sm__array_too_big(n, dim, 4 * sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim overflows", fn);
    sm_status st;
    if ((st = sm__check_points(x, n, dim, "x", fn)) ||
        (st = sm__check_points(eps, n, dim, "eps", fn)) ||
        (st = sm__check_points(v, n, dim, "v", fn)) || (st = sm__check_sigmas(sigma, n, fn)))
        return st;
    return sm__ssm_core(net, x, sigma, eps, v, n, dim, with_grad, loss, fn);
}
