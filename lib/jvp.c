/* Jacobian-vector products of the MLP, written by hand.
 *
 * Forward mode carries a tangent beside every activation (rows r; W_l is
 * fout × fin row-major); the primal stream is the network's own forward
 * pass (sm__net_forward_rows()):
 *   z_l = a·W_lᵀ + b_l        ż_l = ȧ·W_lᵀ            (ȧ_0 = u̇)
 *   h_l = silu(z_l)           ḣ_l = silu'(z_l) ⊙ ż_l
 *   F = h·W_Lᵀ + b_L          JF = ḣ·W_Lᵀ
 * The reverse pass differentiates a scalar Σ g_out·F + g_jv·JF through both
 * streams (g_a, g_ȧ flowing back):
 *   g_ż = g_ḣ ⊙ silu'(z),     g_z = g_h ⊙ silu'(z) + g_ḣ ⊙ silu''(z) ⊙ ż
 *   dW_l += g_zᵀ·a + g_żᵀ·ȧ,  db_l += Σ_rows g_z
 *   g_a = g_z·W_l,            g_ȧ = g_ż·W_l
 * (the SiLU derivatives live in activation.c). Each workspace multiplies
 * with the BLIS handle of one of the network's threads.
 */
#include <stdlib.h>
#include <string.h>

#include "activation.h"
#include "internal.h"
#include "jvp-private.h"

static size_t scratch_cols(const sm_net *net)
{
    size_t in = sm__net_in_dim(net), w = sm_net_width(net);
    return w > in ? w : in;
}

sm_status sm__jvp_ws_init(sm__jvp_ws *w, const sm_net *net, size_t shard, const char *fn)
{
    const size_t R = SM__JVP_BLOCK;
    size_t in_sz, hid1, hid, g, total = 0;
    memset(w, 0, sizeof *w);
    int overflow = sm__mul_size(R, sm__net_in_dim(net), &in_sz) ||
                   sm__mul_size(R, sm_net_width(net), &hid1) ||
                   sm__mul_size(hid1, sm_net_depth(net), &hid) ||
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

static const float *layer(const sm_net *net, size_t l, size_t *fin, size_t *fout,
                          size_t *off)
{
    sm_net_layer(net, l, off, NULL, fin, fout);
    return sm__net_weights(net) + *off;
}

void sm__jvp_tangent(const sm_net *net, sm__jvp_ws *w, size_t rows, float *jv)
{
    const size_t wd = sm_net_width(net), R = SM__JVP_BLOCK, depth = sm_net_depth(net);
    sm__blas *blas = sm__net_blas(net, w->shard);
    const float *a_dot = w->in_dot;
    for (size_t l = 0; l <= depth; l++) {
        size_t fin, fout, off;
        const float *wt = layer(net, l, &fin, &fout, &off);
        float *z_dot = l == depth ? jv : w->z_dot + l * R * wd;
        /* ż (rows × fout) = ȧ (rows × fin) · Wᵀ */
        sm__sgemm(blas, rows, fout, fin, 1.0f, a_dot, (ptrdiff_t)fin, 1, wt, 1, (ptrdiff_t)fin,
                  0.0f, z_dot, (ptrdiff_t)fout, 1);
        if (l == depth)
            break;
        float *h_dot = w->h_dot + l * R * wd;
        sm__silu_tangent(w->z + l * R * wd, w->sg + l * R * wd, z_dot, h_dot, rows * fout);
        a_dot = h_dot;
    }
}

void sm__jvp_forward(const sm_net *net, sm__jvp_ws *w, size_t rows, float *out, float *jv)
{
    /* The primal pass keeps z, h and sigmoid(z) of every hidden layer … */
    sm__net_forward_rows(net, sm__net_blas(net, w->shard), w->in, rows, w->z, w->h, w->sg,
                         0, SM__JVP_BLOCK, out);
    /* … which the tangent pass reads. */
    sm__jvp_tangent(net, w, rows, jv);
}

void sm__jvp_backward(const sm_net *net, sm__jvp_ws *w, const float *g_out, const float *g_jv,
                      size_t rows, float *grads)
{
    const size_t wd = sm_net_width(net), R = SM__JVP_BLOCK;
    sm__blas *bl = sm__net_blas(net, w->shard);
    const float *gz = g_out, *gz_dot = g_jv; /* gradients at the current layer's z, ż */
    int cur = 0;
    for (size_t l = sm_net_depth(net) + 1; l-- > 0;) {
        size_t fin, fout, off;
        const float *wt = layer(net, l, &fin, &fout, &off);
        float *dw = grads + off, *db = dw + fin * fout;
        const float *a = l == 0 ? w->in : w->h + (l - 1) * R * wd;
        const float *a_dot = l == 0 ? w->in_dot : w->h_dot + (l - 1) * R * wd;
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
        sm__silu_tangent_backward(gh, gh_dot, w->z + (l - 1) * R * wd, w->sg + (l - 1) * R * wd,
                                  w->z_dot + (l - 1) * R * wd, rows * fin);
        gz = gh;
        gz_dot = gh_dot;
    }
}
