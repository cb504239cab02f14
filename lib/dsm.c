/* Denoising score matching: the loss and its gradient (scorematch/losses.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dsm-private.h"
#include "internal.h"
#include "learning-private.h"
#include "process-private.h"
#include "rng-private.h"
#include "scoremodel-private.h"
#include "scorematch/losses.h"

/* loss = mean_{r,j} w_r·(σ_r·s_rj + ε_rj)²  with s = s(x + σε, σ) and
 * w_r = w(σ_r) of the parametrization; ∂loss/∂s_rj = 2·w_r·σ_r·(σ_r·s_rj +
 * ε_rj)/(n·d). The gradient is accumulated only when the loss is finite, so
 * a diverging step leaves grads alone. */
sm_status sm__dsm_core(sm_net *net, const float *x, const float *sigma, const sm__cond *cond,
                       const float *eps, size_t n, size_t dim, int with_grad, double *loss,
                       sm__dsm_scratch *s, const char *fn)
{
    sm__ve_perturb(x, sigma, eps, n, dim, s->xt);
    sm_status st = with_grad ? sm__score_forward_train(net, s->xt, sigma, cond, n, s->out, fn)
                             : sm__score_eval(net, s->xt, sigma, 0.0f, cond, n, SM__HEAD_SCORE,
                                              s->out, fn);
    if (st == SM_ERR_NONFINITE) {
        /* The inputs were checked: NaN or infinite parameters, or overflow. */
        *loss = NAN;
        char detail[400];
        snprintf(detail, sizeof detail, "%s", sm_last_error());
        return sm__error(SM_ERR_DIVERGED, "%s: the loss is not finite (%s)", fn, detail);
    }
    if (st)
        return st;
    double acc = 0.0;
    const float scale = 2.0f / (float)(n * dim);
    for (size_t r = 0; r < n; r++) {
        const float w = sm__score_loss_weight(net, sigma[r]); /* 1 for the lab: same bits */
        const float ws = w * sigma[r];
        double racc = 0.0;
        for (size_t j = 0; j < dim; j++) {
            size_t i = r * dim + j;
            float e = sigma[r] * s->out[i] + eps[i];
            racc += (double)e * (double)e;
            s->dout[i] = scale * ws * e;
        }
        acc += (double)w * racc;
    }
    double l = acc / (double)(n * dim);
    *loss = l;
    if (!isfinite(l))
        return sm__error(SM_ERR_DIVERGED,
                         "%s: the loss is not finite (%g); lower the learning rate or enable gradient clipping",
                         fn, l);
    if (with_grad)
        sm__score_backward(net, s->dout, n);
    return SM_OK;
}
sm_status sm_dsm_loss(sm_net *net, const float *x, const float *sigma, const float *eps,
                      size_t n, size_t dim, int with_grad, double *loss)
{
    const char *fn = "sm_dsm_loss";
    if (!net || !x || !sigma || !eps || !loss || n == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument or n = 0", fn);
    if (dim != sm_net_dim(net))
        return sm__error(SM_ERR_SHAPE, "%s: dim %zu, the network has %zu", fn, dim,
                         sm_net_dim(net));
    /* Sizes and state before any buffer is read. */
    if (sm__array_too_big(n, dim, 3 * sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim overflows", fn);
    const size_t total = n * dim;
    if (with_grad && n > sm__net_block_rows(net))
        return sm__error(SM_ERR_STATE, "%s: %zu rows, the network's workspace holds %zu (sm_net_reserve)",
                         fn, n, sm__net_block_rows(net));
    size_t bad = sm__first_nonfinite(eps, total);
    if (bad < total)
        return sm__error(SM_ERR_NONFINITE, "%s: eps[%zu] is not finite", fn, bad);
    sm_status st = sm__score_check(net, x, sigma, 0.0f, n, dim, x, fn);
    if (st)
        return st;
    sm__dsm_scratch s;
    float *buf = sm__calloc(total, 3 * sizeof(float));
    if (!buf)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    s.xt = buf;
    s.out = buf + total;
    s.dout = buf + 2 * total;
    st = sm__dsm_core(net, x, sigma, NULL, eps, n, dim, with_grad, loss, &s, fn);
    free(buf);
    return st;
}

sm_status sm_dsm_loss_per_level(sm_net *net, const sm_schedule *sched, const float *x,
                                size_t n, size_t dim, sm_rng *rng, double *losses,
                                size_t levels)
{
    const char *fn = "sm_dsm_loss_per_level";
    if (!net || !sched || !x || !rng || !losses || n == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument or n = 0", fn);
    if (dim != sm_net_dim(net))
        return sm__error(SM_ERR_SHAPE, "%s: dim %zu, the network has %zu", fn, dim,
                         sm_net_dim(net));
    if (levels != sm_schedule_levels(sched))
        return sm__error(SM_ERR_SHAPE, "%s: room for %zu losses, the ladder has %zu levels", fn,
                         levels, sm_schedule_levels(sched));
    if (sm__array_too_big(n, dim, 4 * sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim overflows", fn);
    const size_t total = n * dim;
    sm_status st = sm__score_check(net, x, NULL, 1.0f, n, dim, x, fn);
    if (st)
        return st;
    float *buf = sm__calloc(total * 4 + n, sizeof(float));
    if (!buf)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    sm__dsm_scratch s = {buf, buf + total, buf + 2 * total};
    float *eps = buf + 3 * total, *sigma = buf + 4 * total;
    const float *ladder = sm__schedule_sigmas(sched);
    for (size_t i = 0; i < levels && !st; i++) {
        for (size_t r = 0; r < n; r++)
            sigma[r] = ladder[i];
        sm__rng_fill_normal(rng, eps, total, 0.0f, 1.0f);
        st = sm__dsm_core(net, x, sigma, NULL, eps, n, dim, 0, &losses[i], &s, fn);
    }
    free(buf);
    return st;
}

