/* Sliced score matching with variance reduction (Song et al., 2019), on
 * noise-perturbed data with the σ² weighting of the DSM loss:
 *   loss = 1/(n·d) · Σ_r σ_r² · (v_rᵀ·J_r·v_r + ½‖s_r‖²),
 * s_r = s(x̃_r, σ_r), J_r = ∂s/∂x at x̃_r = x_r + σ_r·ε_r, v_r ~ N(0, I).
 * "Variance reduction": ½‖s‖² is computed exactly instead of estimated as
 * ½(vᵀs)² from the same projection. The Jacobian-vector product and its
 * gradient come from jvp.c; the rows are shared among the network's
 * threads (sm_net_set_threads()). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "process-private.h"
#include "rows-private.h"
#include "scoremodel-private.h"
#include "ssm-private.h"
#include "scorematch/losses.h"

/* One thread's share: a contiguous range of rows, processed in blocks. */
typedef struct {
    sm__jvp_ws ws;
    float *buf;   /* x̃, s, Jv, g_s, g_Jv for one block */
    float *grads; /* private gradient sum */
    double acc;   /* Σ_r σ_r²(v_rᵀJ_r v_r + ½‖s_r‖²) over the share */
} ssm_shard;

struct sm__ssm_ws {
    const sm_net *net; /* made for this network … */
    size_t threads;    /* … with this many threads */
    ssm_shard *sh;     /* threads of them */
    sm__share *share;  /* the rows of each */
    float **grads;     /* sh[1 …].grads, for the reduction */
};

void sm__ssm_ws_free(sm__ssm_ws *ws)
{
    if (!ws)
        return;
    /* Also a workspace whose shard array could not be allocated. */
    for (size_t k = 0; ws->sh && k < ws->threads; k++) {
        sm__jvp_ws_free(&ws->sh[k].ws);
        free(ws->sh[k].buf);
        free(ws->sh[k].grads);
    }
    free(ws->sh);
    free(ws->share);
    free(ws->grads);
    free(ws);
}

static sm_status ws_new(sm__ssm_ws **out, const sm_net *net, const char *fn)
{
    const size_t threads = sm_net_threads(net);
    sm__ssm_ws *ws = calloc(1, sizeof *ws);
    if (ws) {
        ws->net = net;
        ws->threads = threads;
        ws->sh = calloc(threads, sizeof *ws->sh);
        ws->share = calloc(threads, sizeof *ws->share);
        ws->grads = calloc(threads, sizeof *ws->grads);
    }
    if (!ws || !ws->sh || !ws->share || !ws->grads) {
        sm__ssm_ws_free(ws);
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    }
    for (size_t k = 0; k < ws->threads; k++) {
        ssm_shard *sh = &ws->sh[k];
        sm_status st = sm__jvp_ws_init(&sh->ws, net, k, fn);
        if (st == SM_OK) {
            sh->buf = sm__calloc((size_t)SM__JVP_BLOCK * sm_net_dim(net), 5 * sizeof(float));
            sh->grads = sm__calloc(sm_net_num_params(net), sizeof(float));
            if (!sh->buf || !sh->grads)
                st = sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
        }
        if (st) {
            sm__ssm_ws_free(ws);
            return st;
        }
    }
    *out = ws;
    return SM_OK;
}

typedef struct {
    sm_net *net;
    const float *x, *sigma, *eps, *v;
    const sm__cond *cond;
    size_t n, dim;
    int with_grad;
    ssm_shard *sh;
    const sm__share *share;
} ssm_job;

static void ssm_rows(void *ctx, size_t k)
{
    ssm_job *job = ctx;
    ssm_shard *sh = &job->sh[k];
    const size_t first = job->share[k].first, count = job->share[k].count;
    const size_t B = SM__JVP_BLOCK, dim = job->dim;
    float *xt = sh->buf, *s = xt + B * dim, *jv = s + B * dim, *gs = jv + B * dim,
          *gjv = gs + B * dim;
    const double norm = 1.0 / ((double)job->n * (double)dim);
    sh->acc = 0.0;
    if (job->with_grad)
        memset(sh->grads, 0, sm_net_num_params(job->net) * sizeof(float));
    for (size_t r0 = first; r0 < first + count; r0 += B) {
        const size_t end = first + count, rows = end - r0 < B ? end - r0 : B;
        sm__ve_perturb(job->x + r0 * dim, job->sigma + r0, job->eps + r0 * dim, rows, dim, xt);
        const sm__cond cs = sm__cond_rows(job->net, job->cond, r0);
        sm__score_jvp_forward(job->net, &sh->ws, xt, job->sigma + r0, &cs, job->v + r0 * dim, rows,
                              s, jv);
        for (size_t r = 0; r < rows; r++) {
            const double s2 = (double)job->sigma[r0 + r] * job->sigma[r0 + r];
            double vjv = 0.0, ss = 0.0;
            for (size_t j = 0; j < dim; j++) {
                size_t q = r * dim + j;
                float vq = job->v[(r0 + r) * dim + j];
                vjv += (double)vq * jv[q];
                ss += (double)s[q] * s[q];
                gs[q] = (float)(s2 * norm) * s[q];
                gjv[q] = (float)(s2 * norm) * vq;
            }
            sh->acc += s2 * (vjv + 0.5 * ss);
        }
        if (job->with_grad && isfinite(sh->acc))
            sm__score_jvp_backward(job->net, &sh->ws, job->sigma + r0, gs, gjv, rows, sh->grads);
    }
}

sm_status sm__ssm_core(sm_net *net, sm__ssm_ws **wsp, const float *x, const float *sigma,
                       const sm__cond *cond, const float *eps, const float *v, size_t n,
                       size_t dim, int with_grad, double *loss, const char *fn)
{
    sm__ssm_ws *tmp = NULL, *ws = wsp ? *wsp : NULL;
    sm_status st;
    if (!ws || ws->net != net || ws->threads != sm_net_threads(net)) {
        if ((st = ws_new(&tmp, net, fn)))
            return st;
        if (wsp) { /* keep the new one */
            sm__ssm_ws_free(*wsp);
            *wsp = tmp;
            tmp = NULL;
            ws = *wsp;
        } else {
            ws = tmp;
        }
    }
    /* Rows split into contiguous shares, one per thread of the network,
     * each with its own workspace, BLIS handle and gradient sum; the sums
     * are added in share order, so a thread count gives one result. */
    const size_t np = sm_net_num_params(net);
    const size_t used = sm__rows_split(n, ws->threads, n, ws->share);
    ssm_shard *sh = ws->sh;
    ssm_job job = {net, x, sigma, eps, v, cond, n, dim, with_grad, sh, ws->share};
    sm__rows_run(sm__net_pool(net), ssm_rows, &job, used);
    double acc = 0.0;
    for (size_t k = 0; k < used; k++)
        acc += sh[k].acc;
    if (with_grad) {
        for (size_t k = 1; k < used; k++)
            ws->grads[k - 1] = sh[k].grads;
        sm__rows_reduce(sh[0].grads, ws->grads, used - 1, np);
    }
    const double l = acc / ((double)n * (double)dim);
    *loss = l;
    st = SM_OK;
    if (!isfinite(l)) {
        st = sm__error(SM_ERR_DIVERGED,
                       "%s: the loss is not finite (%g): NaN or infinite parameters, or values "
                       "too large for float; lower the learning rate or enable clipping", fn, l);
    } else if (with_grad) {
        size_t bad = sm__first_nonfinite(sh[0].grads, np);
        if (bad < np)
            st = sm__error(SM_ERR_DIVERGED, "%s: the gradient is not finite (parameter %zu)", fn,
                           bad);
        else
            sm__rows_reduce(sm_net_grads(net), &sh[0].grads, 1, np);
    }
    sm__ssm_ws_free(tmp);
    return st;
}

sm_status sm_ssm_loss(sm_net *net, const float *x, const float *sigma, const float *eps,
                      const float *v, size_t n, size_t dim, int with_grad, double *loss)
{
    const char *fn = "sm_ssm_loss";
    if (!net || !x || !sigma || !eps || !v || !loss || n == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument or n = 0", fn);
    if (sm__array_too_big(n, dim, 4 * sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim overflows", fn);
    sm_status st;
    if ((st = sm__score_check(net, x, sigma, 0.0f, n, dim, x, fn)) ||
        (st = sm__check_points(eps, n, dim, "eps", fn)) ||
        (st = sm__check_points(v, n, dim, "v", fn)))
        return st;
    return sm__ssm_core(net, NULL, x, sigma, NULL, eps, v, n, dim, with_grad, loss, fn);
}
