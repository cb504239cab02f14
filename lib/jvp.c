/* Jacobian-vector products of the score network, written by hand.
 *
 * Forward mode carries a tangent beside every activation (rows r; W_l is
 * fout × fin row-major, silu' and silu'' of z elementwise):
 *   in = x ‖ log σ            iṅ = v ‖ 0            (σ is not differentiated)
 *   z_l = a·W_lᵀ + b_l        ż_l = ȧ·W_lᵀ
 *   h_l = silu(z_l)           ḣ_l = silu'(z_l) ⊙ ż_l
 *   out = h·W_Lᵀ + b_L        jv = ḣ·W_Lᵀ            (jv = J·v, J = ∂out/∂x)
 * The reverse pass differentiates a scalar Σ g_out·out + g_jv·jv through both
 * streams (g_a, g_ȧ flowing back):
 *   g_ż = g_ḣ ⊙ silu'(z),     g_z = g_h ⊙ silu'(z) + g_ḣ ⊙ silu''(z) ⊙ ż
 *   dW_l += g_zᵀ·a + g_żᵀ·ȧ,  db_l += Σ_rows g_z
 *   g_a = g_z·W_l,            g_ȧ = g_ż·W_l
 * with silu(z) = z·s, silu' = s·(1 + z(1 − s)), silu'' = s(1 − s)(2 + z(1 − 2s)),
 * s = sigmoid(z). Each workspace multiplies with the BLIS handle of one of
 * the network's shards (looked up at every call: the handles change with
 * sm_net_set_threads()).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "activation.h"
#include "internal.h"
#include "jvp-private.h"

static size_t scratch_cols(const sm_net *net)
{
    return net->width > net->dim + 1 ? net->width : net->dim + 1;
}

sm_status sm__jvp_ws_init(sm__jvp_ws *w, const sm_net *net, size_t shard, const char *fn)
{
    const size_t R = SM__JVP_BLOCK;
    size_t in_sz, hid1, hid, g, total = 0;
    memset(w, 0, sizeof *w);
    int overflow = sm__mul_size(R, net->dim + 1, &in_sz) ||
                   sm__mul_size(R, net->width, &hid1) || sm__mul_size(hid1, net->depth, &hid) ||
                   sm__mul_size(R, scratch_cols(net), &g) || hid > SIZE_MAX / 8 ||
                   g > SIZE_MAX / 8 || in_sz > SIZE_MAX / 8;
    if (!overflow)
        total = 2 * in_sz + 5 * hid + 4 * g; /* each term < SIZE_MAX/8·5: no wrap */
    if (overflow || total < hid)
        return sm__error(SM_ERR_OVERFLOW, "%s: the Jacobian workspace size overflows", fn);
    w->shard = shard;
    w->mem = sm__calloc(total, sizeof(float));
    if (!w->mem)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory for the Jacobian workspace", fn);
    float *p = w->mem;
    w->in = p, p += in_sz;
    w->in_dot = p, p += in_sz;
    w->z = p, p += hid;
    w->z_dot = p, p += hid;
    w->h = p, p += hid;
    w->h_dot = p, p += hid;
    w->sg = p, p += hid;
    for (int i = 0; i < 4; i++)
        w->g[i] = p, p += g;
    return SM_OK;
}

void sm__jvp_ws_free(sm__jvp_ws *w)
{
    free(w->mem);
    w->mem = NULL;
}

static const float *layer(const sm_net *net, size_t l, size_t *fin, size_t *fout)
{
    size_t off;
    sm_net_layer(net, l, &off, NULL, fin, fout);
    return net->params + off;
}

/* c (rows × fout) = a (rows × fin) · Wᵀ, W fout × fin; beta 0 or 1. */
static void times_wt(sm__blas *blas, const float *a, size_t rows, const float *wt,
                     size_t fin, size_t fout, float beta, float *c)
{
    sm__sgemm(blas, rows, fout, fin, 1.0f, a, (ptrdiff_t)fin, 1, wt, 1,
              (ptrdiff_t)fin, beta, c, (ptrdiff_t)fout, 1);
}

void sm__jvp_tangent(const sm_net *net, sm__jvp_ws *w, const float *v, size_t rows, float *jv)
{
    const size_t d = net->dim, wd = net->width, R = SM__JVP_BLOCK;
    sm__blas *blas = net->shards[w->shard].blas;
    for (size_t r = 0; r < rows; r++) {
        memcpy(w->in_dot + r * (d + 1), v + r * d, d * sizeof(float));
        w->in_dot[r * (d + 1) + d] = 0.0f;
    }
    const float *a_dot = w->in_dot;
    for (size_t l = 0; l <= net->depth; l++) {
        size_t fin, fout;
        const float *wt = layer(net, l, &fin, &fout);
        const int last = l == net->depth;
        float *z_dot = last ? jv : w->z_dot + l * R * wd;
        times_wt(blas, a_dot, rows, wt, fin, fout, 0.0f, z_dot);
        if (last)
            break;
        const float *z = w->z + l * R * wd, *sg = w->sg + l * R * wd;
        float *h_dot = w->h_dot + l * R * wd;
        for (size_t k = 0; k < rows * fout; k++) {
            float s = sg[k];
            h_dot[k] = s * (1.0f + z[k] * (1.0f - s)) * z_dot[k];
        }
        a_dot = h_dot;
    }
}

void sm__jvp_forward(const sm_net *net, sm__jvp_ws *w, const float *x, const float *sigma,
                     const float *v, size_t rows, float *out, float *jv)
{
    const size_t d = net->dim, wd = net->width, R = SM__JVP_BLOCK;
    sm__blas *blas = net->shards[w->shard].blas;
    for (size_t r = 0; r < rows; r++) {
        memcpy(w->in + r * (d + 1), x + r * d, d * sizeof(float));
        w->in[r * (d + 1) + d] = logf(sigma[r]);
    }
    /* The primal pass keeps z, h and sigmoid(z) of every hidden layer … */
    const float *a = w->in;
    for (size_t l = 0; l <= net->depth; l++) {
        size_t fin, fout;
        const float *wt = layer(net, l, &fin, &fout), *b = wt + fin * fout;
        float *z = l == net->depth ? out : w->z + l * R * wd;
        for (size_t r = 0; r < rows; r++)
            memcpy(z + r * fout, b, fout * sizeof(float));
        times_wt(blas, a, rows, wt, fin, fout, 1.0f, z);
        if (l == net->depth)
            break;
        float *h = w->h + l * R * wd;
        sm__silu_forward(z, h, w->sg + l * R * wd, rows * fout);
        a = h;
    }
    /* … which the tangent pass reads. */
    sm__jvp_tangent(net, w, v, rows, jv);
}

void sm__jvp_backward(const sm_net *net, sm__jvp_ws *w, const float *g_out, const float *g_jv,
                      size_t rows, float *grads)
{
    const size_t wd = net->width, R = SM__JVP_BLOCK;
    const float *gz = g_out, *gz_dot = g_jv; /* gradients at the current layer's z, ż */
    int cur = 0;
    for (size_t l = net->depth + 1; l-- > 0;) {
        size_t fin, fout, off;
        sm_net_layer(net, l, &off, NULL, &fin, &fout);
        const float *wt = net->params + off;
        float *dw = grads + off, *db = dw + fin * fout;
        const float *a = l == 0 ? w->in : w->h + (l - 1) * R * wd;
        const float *a_dot = l == 0 ? w->in_dot : w->h_dot + (l - 1) * R * wd;
        sm__blas *bl = net->shards[w->shard].blas;
        /* dW (fout × fin) += gzᵀ·a + gżᵀ·ȧ */
        sm__sgemm(bl, fout, fin, rows, 1.0f, gz, 1, (ptrdiff_t)fout, a, (ptrdiff_t)fin, 1, 1.0f,
                  dw, (ptrdiff_t)fin, 1);
        sm__sgemm(bl, fout, fin, rows, 1.0f, gz_dot, 1, (ptrdiff_t)fout, a_dot, (ptrdiff_t)fin,
                  1, 1.0f, dw, (ptrdiff_t)fin, 1);
        for (size_t r = 0; r < rows; r++)
            for (size_t j = 0; j < fout; j++)
                db[j] += gz[r * fout + j];
        if (l == 0)
            break;
        /* g_h = gz·W, g_ḣ = gż·W (rows × fin), then through the SiLU. */
        float *gh = w->g[cur], *gh_dot = w->g[cur + 1];
        cur ^= 2;
        sm__sgemm(bl, rows, fin, fout, 1.0f, gz, (ptrdiff_t)fout, 1, wt, (ptrdiff_t)fin, 1, 0.0f,
                  gh, (ptrdiff_t)fin, 1);
        sm__sgemm(bl, rows, fin, fout, 1.0f, gz_dot, (ptrdiff_t)fout, 1, wt, (ptrdiff_t)fin, 1,
                  0.0f, gh_dot, (ptrdiff_t)fin, 1);
        const float *z = w->z + (l - 1) * R * wd, *z_dot = w->z_dot + (l - 1) * R * wd;
        const float *sg = w->sg + (l - 1) * R * wd;
        for (size_t k = 0; k < rows * fin; k++) {
            float s = sg[k], zk = z[k];
            float d1 = s * (1.0f + zk * (1.0f - s));
            float d2 = s * (1.0f - s) * (2.0f + zk * (1.0f - 2.0f * s));
            float g = gh[k], gd = gh_dot[k];
            gh[k] = g * d1 + gd * d2 * z_dot[k]; /* g_z */
            gh_dot[k] = gd * d1;                 /* g_ż */
        }
        gz = gh;
        gz_dot = gh_dot;
    }
}

sm_status sm_net_jvp(sm_net *net, const float *x, const float *sigma, const float *v, size_t n,
                     size_t dim, float *out, float *jv)
{
    const char *fn = "sm_net_jvp";
    if (!net || !x || !sigma || !v || !jv || n == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument or n = 0", fn);
    if (dim != net->dim)
        return sm__error(SM_ERR_SHAPE, "%s: points have dim %zu, the network %zu", fn, dim,
                         net->dim);
    if (sm__array_too_big(n, dim, sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim overflows", fn);
    const size_t total = n * dim;
    sm_status st;
    if ((st = sm__check_points(x, n, dim, "x", fn)) || (st = sm__check_points(v, n, dim, "v", fn)) ||
        (st = sm__check_sigmas(sigma, n, fn)))
        return st;
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
        sm__jvp_forward(net, &w, x + r0 * dim, sigma + r0, v + r0 * dim, rows,
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
