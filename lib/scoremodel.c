/* The score model: the parametrization between the caller's (x, σ) and the
 * MLP (see scoremodel-private.h for the formulas), and the public passes of
 * sm_net that return scores or denoised points. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "scoremodel-private.h"

void sm__score_scalings(const sm_net *net, float sigma, sm__scalings *k)
{
    if (sm__net_param(net) == SM_PARAM_LAB) {
        k->c_in = 1.0f;
        k->c_noise = logf(sigma);
        k->a = 0.0f;
        k->b = 1.0f;
        k->c_skip = 1.0f;
        k->c_out = sigma * sigma;
        return;
    }
    /* In double: σ² + σ_d² must not lose σ_d² next to a large σ, nor
     * underflow for a tiny one. */
    const double s = sigma, sd = sm__net_sigma_data(net), v = s * s + sd * sd, r = sqrt(v);
    k->c_in = (float)(1.0 / r);
    k->c_noise = (float)(0.25 * log(s));
    k->a = (float)(-1.0 / v);
    k->b = (float)(sd / (s * r));
    k->c_skip = (float)(sd * sd / v);
    k->c_out = (float)(s * sd / r);
}

float sm__score_loss_weight(const sm_net *net, float sigma)
{
    if (sm__net_param(net) == SM_PARAM_LAB)
        return 1.0f;
    const double s = sigma, sd = sm__net_sigma_data(net);
    return (float)((s * s + sd * sd) / (sd * sd));
}

sm_status sm__score_check(const sm_net *net, const float *x, const float *sigma, float sigma1,
                          size_t n, size_t dim, const float *out, const char *fn)
{
    if (!net || ((!x || !out) && n))
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument", fn);
    if (dim != sm_net_dim(net))
        return sm__error(SM_ERR_SHAPE, "%s: points have dim %zu, the network %zu", fn, dim,
                         sm_net_dim(net));
    if (sm__array_too_big(n, dim, sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim overflows", fn);
    if (sm__net_param(net) == SM_PARAM_EDM && !(sm__net_sigma_data(net) > 0.0f))
        return sm__error(SM_ERR_STATE,
                         "%s: the network's sigma_data is not known yet: train it with "
                         "sm_trainer_fit() or set it (sm_net_set_sigma_data())", fn);
    sm_status st = sm__check_points(x, n, dim, "x", fn);
    if (st)
        return st;
    if (sigma)
        return sm__check_sigmas(sigma, n, fn);
    if (!(sigma1 > 0.0f) || !isfinite(sigma1))
        return sm__error(SM_ERR_INVALID_ARG, "%s: sigma = %g must be finite and > 0", fn,
                         (double)sigma1);
    return SM_OK;
}

sm_status sm__score_check_context(const sm_net *net, const float *ctx, size_t n,
                                  size_t context_dim, const char *fn)
{
    if (!ctx)
        return SM_OK;
    const size_t c = sm_net_context_dim(net);
    if (c == 0)
        return sm__error(SM_ERR_SHAPE, "%s: a context was given, but the network has none "
                         "(context_dim 0)", fn);
    if (context_dim != c)
        return sm__error(SM_ERR_SHAPE, "%s: contexts have width %zu, the network %zu", fn,
                         context_dim, c);
    if (sm__array_too_big(n, c, sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*context_dim overflows", fn);
    const size_t bad = sm__first_nonfinite(ctx, n * c);
    if (bad < n * c)
        return sm__error(SM_ERR_NONFINITE, "%s: context row %zu, column %zu is not finite", fn,
                         bad / c, bad % c);
    return SM_OK;
}

sm__cond sm__cond_rows(const sm_net *net, const sm__cond *cond, size_t r0)
{
    sm__cond sub = {NULL, NULL};
    if (cond) {
        sub.ctx = cond->ctx ? cond->ctx + r0 * sm_net_context_dim(net) : NULL;
        sub.drop = cond->drop ? cond->drop + r0 : NULL;
    }
    return sub;
}

/* The context part of u: context ‖ 1 (the context mapped by the network's
 * context normalization, if any), or the null context 0 ‖ 0 (never mapped).
 * Nothing for a network without a context, whose input ends at the σ
 * embedding. */
static void prepare_context(const sm_net *net, const sm__cond *cond, size_t rows, float *u)
{
    const size_t c = sm_net_context_dim(net);
    if (c == 0)
        return;
    const size_t d = sm_net_dim(net), in = sm__net_in_dim(net);
    const float *cn = sm__net_context_norm(net); /* NULL: contexts as given */
    for (size_t r = 0; r < rows; r++) {
        float *dst = u + r * in + d + 1;
        if (cond && cond->ctx && !(cond->drop && cond->drop[r])) {
            const float *src = cond->ctx + r * c;
            if (cn)
                for (size_t j = 0; j < c; j++)
                    dst[j] = (src[j] - cn[j]) / cn[c + j];
            else
                memcpy(dst, src, c * sizeof(float));
            dst[c] = 1.0f;
        } else {
            memset(dst, 0, (c + 1) * sizeof(float));
        }
    }
}

/* u = c_in·x ‖ c_noise [‖ context ‖ flag] for `rows` rows (in_dim per row). */
static void prepare(const sm_net *net, const float *x, const float *sigma, float sigma1,
                    const sm__cond *cond, size_t rows, float *u)
{
    const size_t d = sm_net_dim(net), in = sm__net_in_dim(net);
    prepare_context(net, cond, rows, u);
    if (sm__net_param(net) == SM_PARAM_LAB) {
        const float log1 = sigma ? 0.0f : logf(sigma1);
        for (size_t r = 0; r < rows; r++) {
            memcpy(u + r * in, x + r * d, d * sizeof(float));
            u[r * in + d] = sigma ? logf(sigma[r]) : log1;
        }
        return;
    }
    sm__scalings k = {0}; /* set per row, or once for a shared σ */
    if (!sigma)
        sm__score_scalings(net, sigma1, &k);
    for (size_t r = 0; r < rows; r++) {
        if (sigma)
            sm__score_scalings(net, sigma[r], &k);
        for (size_t j = 0; j < d; j++)
            u[r * in + j] = k.c_in * x[r * d + j];
        u[r * in + d] = k.c_noise;
    }
}

/* out ← the head from F (in out) and x, row by row. The lab's score is F
 * itself and is left untouched. */
static void finish(const sm_net *net, const float *x, const float *sigma, float sigma1,
                   size_t rows, sm__head head, float *out)
{
    const size_t d = sm_net_dim(net);
    if (sm__net_param(net) == SM_PARAM_LAB && head == SM__HEAD_SCORE)
        return;
    sm__scalings k = {0}; /* set per row, or once for a shared σ */
    if (!sigma)
        sm__score_scalings(net, sigma1, &k);
    for (size_t r = 0; r < rows; r++) {
        if (sigma)
            sm__score_scalings(net, sigma[r], &k);
        const float cx = head == SM__HEAD_SCORE ? k.a : k.c_skip;
        const float cf = head == SM__HEAD_SCORE ? k.b : k.c_out;
        for (size_t j = 0; j < d; j++)
            out[r * d + j] = cx * x[r * d + j] + cf * out[r * d + j];
    }
}

sm_status sm__score_eval(sm_net *net, const float *x, const float *sigma, float sigma1,
                         const sm__cond *cond, size_t n, sm__head head, float *out,
                         const char *fn)
{
    sm_status st = sm__net_ensure_workspace(net, fn);
    if (st)
        return st;
    const size_t d = sm_net_dim(net), block = sm__net_block_rows(net);
    for (size_t r0 = 0; r0 < n; r0 += block) {
        const size_t m = n - r0 < block ? n - r0 : block;
        const float *xs = x + r0 * d, *ss = sigma ? sigma + r0 : NULL;
        const sm__cond cs = sm__cond_rows(net, cond, r0);
        prepare(net, xs, ss, sigma1, &cs, m, sm__net_input(net));
        sm__net_mlp_forward(net, m, out + r0 * d, 0);
        finish(net, xs, ss, sigma1, m, head, out + r0 * d);
    }
    const size_t bad = sm__first_nonfinite(out, n * d);
    return bad < n * d ? sm__net_nonfinite_error(net, bad / d, fn) : SM_OK;
}

sm_status sm__score_forward_train(sm_net *net, const float *x, const float *sigma,
                                  const sm__cond *cond, size_t n, float *out, const char *fn)
{
    if (n > sm__net_block_rows(net))
        return sm__error(SM_ERR_STATE, "%s: %zu rows, workspace reserved for %zu (sm_net_reserve)",
                         fn, n, sm__net_block_rows(net));
    prepare(net, x, sigma, 0.0f, cond, n, sm__net_input(net));
    sm__net_mlp_forward(net, n, out, 1);
    finish(net, x, sigma, 0.0f, n, SM__HEAD_SCORE, out);
    /* A pass with a non-finite output keeps nothing to back-propagate. */
    const size_t d = sm_net_dim(net), bad = sm__first_nonfinite(out, n * d);
    if (bad < n * d) {
        sm__net_discard_train(net);
        return sm__net_nonfinite_error(net, bad / d, fn);
    }
    if (sm__net_param(net) != SM_PARAM_LAB) {
        float *b = sm__net_row_aux(net); /* ∂s/∂F of each row, for backward */
        sm__scalings k;
        for (size_t r = 0; r < n; r++) {
            sm__score_scalings(net, sigma[r], &k);
            b[r] = k.b;
        }
    }
    return SM_OK;
}

void sm__score_backward(sm_net *net, const float *dout, size_t n)
{
    if (sm__net_param(net) == SM_PARAM_LAB) {
        sm__net_mlp_backward(net, dout, n);
        return;
    }
    const size_t d = sm_net_dim(net);
    const float *b = sm__net_row_aux(net);
    float *dF = sm__net_scratch(net);
    for (size_t r = 0; r < n; r++)
        for (size_t j = 0; j < d; j++)
            dF[r * d + j] = b[r] * dout[r * d + j];
    sm__net_mlp_backward(net, dF, n);
}

/* ---- Jacobian-vector products ------------------------------------------- */

/* w->in_dot = c_in·v ‖ 0 [‖ 0 … 0]: σ and the context are held fixed. */
static void prepare_tangent(const sm_net *net, sm__jvp_ws *w, const float *sigma,
                            const float *v, size_t rows)
{
    const size_t d = sm_net_dim(net), in = sm__net_in_dim(net);
    const int lab = sm__net_param(net) == SM_PARAM_LAB;
    sm__scalings k = {.c_in = 1.0f};
    for (size_t r = 0; r < rows; r++) {
        if (!lab)
            sm__score_scalings(net, sigma[r], &k);
        for (size_t j = 0; j < d; j++)
            w->in_dot[r * in + j] = lab ? v[r * d + j] : k.c_in * v[r * d + j];
        memset(w->in_dot + r * in + d, 0, (in - d) * sizeof(float));
    }
}

/* jv = a·v + b·JF (the lab's jv is JF itself). */
static void finish_tangent(const sm_net *net, const float *sigma, const float *v, size_t rows,
                           float *jv)
{
    if (sm__net_param(net) == SM_PARAM_LAB)
        return;
    const size_t d = sm_net_dim(net);
    sm__scalings k;
    for (size_t r = 0; r < rows; r++) {
        sm__score_scalings(net, sigma[r], &k);
        for (size_t j = 0; j < d; j++)
            jv[r * d + j] = k.a * v[r * d + j] + k.b * jv[r * d + j];
    }
}

void sm__score_jvp_forward(const sm_net *net, sm__jvp_ws *w, const float *x, const float *sigma,
                           const sm__cond *cond, const float *v, size_t rows, float *out,
                           float *jv)
{
    prepare(net, x, sigma, 0.0f, cond, rows, w->in);
    prepare_tangent(net, w, sigma, v, rows);
    sm__jvp_forward(net, w, rows, out, jv);
    finish(net, x, sigma, 0.0f, rows, SM__HEAD_SCORE, out);
    finish_tangent(net, sigma, v, rows, jv);
}

void sm__score_jvp_tangent(const sm_net *net, sm__jvp_ws *w, const float *sigma,
                           const float *v, size_t rows, float *jv)
{
    prepare_tangent(net, w, sigma, v, rows);
    sm__jvp_tangent(net, w, rows, jv);
    finish_tangent(net, sigma, v, rows, jv);
}

void sm__score_jvp_backward(const sm_net *net, sm__jvp_ws *w, const float *sigma, float *g_out,
                            float *g_jv, size_t rows, float *grads)
{
    if (sm__net_param(net) != SM_PARAM_LAB) {
        /* s = a·x + b·F and jv = a·v + b·JF: only F and JF depend on θ. */
        const size_t d = sm_net_dim(net);
        sm__scalings k;
        for (size_t r = 0; r < rows; r++) {
            sm__score_scalings(net, sigma[r], &k);
            for (size_t j = 0; j < d; j++) {
                g_out[r * d + j] *= k.b;
                g_jv[r * d + j] *= k.b;
            }
        }
    }
    sm__jvp_backward(net, w, g_out, g_jv, rows, grads);
}

/* ---- public passes -------------------------------------------------------- */

/* A public inference pass with one σ per point and optional contexts. */
static sm_status eval_per_point(sm_net *net, const float *x, const float *sigma,
                                const float *ctx, size_t n, size_t dim, size_t context_dim,
                                float *out, sm__head head, const char *fn)
{
    if (!sigma && n)
        return sm__error(SM_ERR_INVALID_ARG, "%s: sigma is NULL", fn);
    sm_status st = sm__score_check(net, x, sigma, 0.0f, n, dim, out, fn);
    if (st || (st = sm__score_check_context(net, ctx, n, context_dim, fn)))
        return st;
    const sm__cond cond = {ctx, NULL};
    return sm__score_eval(net, x, sigma, 0.0f, &cond, n, head, out, fn);
}

sm_status sm_net_forward(sm_net *net, const float *x, const float *sigma, size_t n, size_t dim,
                         float *out)
{
    return eval_per_point(net, x, sigma, NULL, n, dim, 0, out, SM__HEAD_SCORE,
                          "sm_net_forward");
}

sm_status sm_net_forward_cond(sm_net *net, const float *x, const float *sigma, const float *ctx,
                              size_t n, size_t dim, size_t context_dim, float *out)
{
    return eval_per_point(net, x, sigma, ctx, n, dim, context_dim, out, SM__HEAD_SCORE,
                          "sm_net_forward_cond");
}

sm_status sm_net_forward_sigma(sm_net *net, const float *x, float sigma, size_t n, size_t dim,
                               float *out)
{
    const char *fn = "sm_net_forward_sigma";
    sm_status st = sm__score_check(net, x, NULL, sigma, n, dim, out, fn);
    return st ? st : sm__score_eval(net, x, NULL, sigma, NULL, n, SM__HEAD_SCORE, out, fn);
}

sm_status sm_net_denoise(sm_net *net, const float *x, const float *sigma, size_t n, size_t dim,
                         float *out)
{
    return eval_per_point(net, x, sigma, NULL, n, dim, 0, out, SM__HEAD_DENOISER,
                          "sm_net_denoise");
}

sm_status sm_net_denoise_cond(sm_net *net, const float *x, const float *sigma, const float *ctx,
                              size_t n, size_t dim, size_t context_dim, float *out)
{
    return eval_per_point(net, x, sigma, ctx, n, dim, context_dim, out, SM__HEAD_DENOISER,
                          "sm_net_denoise_cond");
}

sm_status sm_net_forward_train(sm_net *net, const float *x, const float *sigma, size_t n,
                               size_t dim, float *out)
{
    const char *fn = "sm_net_forward_train";
    if (!sigma && n)
        return sm__error(SM_ERR_INVALID_ARG, "%s: sigma is NULL", fn);
    sm_status st = sm__score_check(net, x, sigma, 0.0f, n, dim, out, fn);
    if (st)
        return st;
    if (n == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: n must be >= 1", fn);
    return sm__score_forward_train(net, x, sigma, NULL, n, out, fn);
}

sm_status sm_net_backward(sm_net *net, const float *dout, size_t n, size_t dim)
{
    const char *fn = "sm_net_backward";
    if (!net || !dout)
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument", fn);
    if (dim != sm_net_dim(net))
        return sm__error(SM_ERR_SHAPE, "%s: dim %zu, the network has %zu", fn, dim,
                         sm_net_dim(net));
    if (sm__net_train_rows(net) == 0 || n != sm__net_train_rows(net))
        return sm__error(SM_ERR_STATE, "%s: %zu rows, but the last training forward pass held %zu",
                         fn, n, sm__net_train_rows(net));
    sm__score_backward(net, dout, n);
    return SM_OK;
}

static sm_status jvp_pass(sm_net *net, const float *x, const float *sigma, const float *ctx,
                          const float *v, size_t n, size_t dim, size_t context_dim, float *out,
                          float *jv, const char *fn)
{
    if (!net || !x || !sigma || !v || !jv || n == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument or n = 0", fn);
    sm_status st = sm__score_check(net, x, sigma, 0.0f, n, dim, jv, fn);
    if (st || (st = sm__check_points(v, n, dim, "v", fn)) ||
        (st = sm__score_check_context(net, ctx, n, context_dim, fn)))
        return st;
    const sm__cond cond = {ctx, NULL};
    const size_t total = n * dim;
    sm__jvp_ws w;
    if ((st = sm__jvp_ws_init(&w, net, 0, fn)))
        return st;
    float *tmp = out ? NULL : sm__calloc((size_t)SM__JVP_BLOCK * dim, sizeof(float));
    if (!out && !tmp) {
        sm__jvp_ws_free(&w);
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    }
    for (size_t r0 = 0; r0 < n; r0 += SM__JVP_BLOCK) {
        size_t rows = n - r0 < SM__JVP_BLOCK ? n - r0 : SM__JVP_BLOCK;
        const sm__cond cs = sm__cond_rows(net, &cond, r0);
        sm__score_jvp_forward(net, &w, x + r0 * dim, sigma + r0, &cs, v + r0 * dim, rows,
                              out ? out + r0 * dim : tmp, jv + r0 * dim);
    }
    free(tmp);
    sm__jvp_ws_free(&w);
    size_t bad = sm__first_nonfinite(jv, total);
    if (bad == total && out)
        bad = sm__first_nonfinite(out, total);
    if (bad < total)
        return sm__error(SM_ERR_NONFINITE,
                         "%s: the result for point %zu is not finite (NaN or infinite "
                         "parameters, or values too large for float)", fn, bad / dim);
    return SM_OK;
}

sm_status sm_net_jvp(sm_net *net, const float *x, const float *sigma, const float *v, size_t n,
                     size_t dim, float *out, float *jv)
{
    return jvp_pass(net, x, sigma, NULL, v, n, dim, 0, out, jv, "sm_net_jvp");
}

sm_status sm_net_jvp_cond(sm_net *net, const float *x, const float *sigma, const float *ctx,
                          const float *v, size_t n, size_t dim, size_t context_dim, float *out,
                          float *jv)
{
    return jvp_pass(net, x, sigma, ctx, v, n, dim, context_dim, out, jv, "sm_net_jvp_cond");
}
