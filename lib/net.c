/* Noise-conditioned MLP: x ‖ log σ → [Linear → SiLU] × depth → Linear.
 *
 * Shapes (n rows, d = dim, w = width, L = depth hidden layers):
 *   in  : n × (d+1)         z_l, h_l : n × w  (l = 0 … L−1)      out : n × d
 *   W_0 : w × (d+1)         W_l      : w × w  (0 < l < L)        W_L : d × w
 * Forward:  z_0 = in·W_0ᵀ + b_0,  h_l = silu(z_l),  z_l = h_{l−1}·W_lᵀ + b_l,
 *           out = h_{L−1}·W_Lᵀ + b_L.
 * Backward: dW_l += dz_lᵀ·h_{l−1},  db_l += Σ_rows dz_l,
 *           dh_{l−1} = dz_l·W_l,    dz_{l−1} = dh_{l−1} ⊙ silu'(z_{l−1}).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "activation.h"
#include "internal.h"
#include "net-private.h"
#include "rng-private.h"

#define DEFAULT_BLOCK 1024
/* Sizes passed to BLIS must fit its signed dim_t and keep products sane. */
#define MAX_EXTENT ((size_t)1 << 30)

static void layer_shape(const sm_net *net, size_t l, size_t *fin, size_t *fout)
{
    *fin = l == 0 ? net->dim + 1 : net->width;
    *fout = l == net->depth ? net->dim : net->width;
}

static size_t layer_w_offset(const sm_net *net, size_t l)
{
    size_t off = 0;
    for (size_t k = 0; k < l; k++) {
        size_t fin, fout;
        layer_shape(net, k, &fin, &fout);
        off += fout * fin + fout;
    }
    return off;
}

static void free_workspace(sm_net *net)
{
    free(net->ws);
    net->ws = NULL;
    net->cap = 0;
    net->train_rows = 0;
}

sm_status sm_net_new(sm_net **out, size_t dim, size_t width, size_t depth, sm_rng *rng)
{
    const char *fn = "sm_net_new";
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!rng)
        return sm__error(SM_ERR_INVALID_ARG, "%s: rng is NULL", fn);
    if (dim == 0 || width == 0 || depth == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: dim, width and depth must be >= 1 (got %zu, %zu, %zu)",
                         fn, dim, width, depth);
    if (dim >= MAX_EXTENT || width >= MAX_EXTENT || depth >= MAX_EXTENT)
        return sm__error(SM_ERR_OVERFLOW, "%s: dim, width or depth too large", fn);
    /* Parameter count with overflow checks: (d+1)w + w + (L-1)(w² + w) + wd + d. */
    size_t a, b, c, total = 0;
    if (sm__mul_size(dim + 1, width, &a) || sm__mul_size(width, width + 1, &b) ||
        sm__mul_size(b, depth - 1, &c) || sm__mul_size(width, dim, &total))
        return sm__error(SM_ERR_OVERFLOW, "%s: parameter count overflows", fn);
    size_t sum = a + width;
    if (sum < a || sum + c < sum || sum + c + total < sum + c ||
        sum + c + total + dim < sum + c + total)
        return sm__error(SM_ERR_OVERFLOW, "%s: parameter count overflows", fn);
    total = sum + c + total + dim;

    sm_net *net = calloc(1, sizeof *net);
    if (!net)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    net->dim = dim;
    net->width = width;
    net->depth = depth;
    net->nparams = total;
    net->threads = 1;
    net->params = sm__calloc(total, sizeof(float));
    net->grads = sm__calloc(total, sizeof(float));
    net->blas = sm__blas_new(1);
    if (!net->params || !net->grads || !net->blas) {
        sm_net_free(net);
        return sm__error(SM_ERR_NOMEM, "%s: out of memory for %zu parameters", fn, total);
    }
    /* PyTorch nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for W and b. */
    for (size_t l = 0; l <= depth; l++) {
        size_t fin, fout;
        layer_shape(net, l, &fin, &fout);
        double bound = 1.0 / sqrt((double)fin);
        float *p = net->params + layer_w_offset(net, l);
        for (size_t i = 0; i < fout * fin + fout; i++)
            p[i] = (float)(bound * (2.0 * sm__rng_uniform(rng) - 1.0));
    }
    *out = net;
    return SM_OK;
}

sm_status sm_net_clone(const sm_net *net, sm_net **out)
{
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "sm_net_clone: out is NULL");
    *out = NULL;
    if (!net)
        return sm__error(SM_ERR_INVALID_ARG, "sm_net_clone: net is NULL");
    sm_net *c = calloc(1, sizeof *c);
    if (!c)
        return sm__error(SM_ERR_NOMEM, "sm_net_clone: out of memory");
    c->dim = net->dim;
    c->width = net->width;
    c->depth = net->depth;
    c->nparams = net->nparams;
    c->threads = net->threads;
    c->params = sm__calloc(net->nparams, sizeof(float));
    c->grads = sm__calloc(net->nparams, sizeof(float));
    c->blas = net->blas ? sm__blas_new(net->threads) : NULL;
    if (!c->params || !c->grads || (net->blas && !c->blas)) {
        sm_net_free(c);
        return sm__error(SM_ERR_NOMEM, "sm_net_clone: out of memory");
    }
    memcpy(c->params, net->params, net->nparams * sizeof(float));
    memcpy(c->grads, net->grads, net->nparams * sizeof(float));
    *out = c;
    return SM_OK;
}

void sm_net_free(sm_net *net)
{
    if (!net)
        return;
    free(net->params);
    free(net->grads);
    free(net->ws);
    sm__blas_free(net->blas);
    free(net);
}

size_t sm_net_dim(const sm_net *net) { return net ? net->dim : 0; }
size_t sm_net_width(const sm_net *net) { return net ? net->width : 0; }
size_t sm_net_depth(const sm_net *net) { return net ? net->depth : 0; }
size_t sm_net_num_params(const sm_net *net) { return net ? net->nparams : 0; }
float *sm_net_params(sm_net *net) { return net ? net->params : NULL; }
float *sm_net_grads(sm_net *net) { return net ? net->grads : NULL; }
size_t sm_net_threads(const sm_net *net) { return net ? net->threads : 0; }

sm_status sm_net_layer(const sm_net *net, size_t layer, size_t *w_offset, size_t *b_offset,
                       size_t *fan_in, size_t *fan_out)
{
    if (!net)
        return sm__error(SM_ERR_INVALID_ARG, "sm_net_layer: net is NULL");
    if (layer > net->depth)
        return sm__error(SM_ERR_INVALID_ARG, "sm_net_layer: layer %zu out of range (0..%zu)",
                         layer, net->depth);
    size_t fin, fout, off = layer_w_offset(net, layer);
    layer_shape(net, layer, &fin, &fout);
    if (w_offset)
        *w_offset = off;
    if (b_offset)
        *b_offset = off + fin * fout;
    if (fan_in)
        *fan_in = fin;
    if (fan_out)
        *fan_out = fout;
    return SM_OK;
}

sm_status sm_net_copy_params(sm_net *dst, const sm_net *src)
{
    if (!dst || !src)
        return sm__error(SM_ERR_INVALID_ARG, "sm_net_copy_params: NULL network");
    if (dst->dim != src->dim || dst->width != src->width || dst->depth != src->depth)
        return sm__error(SM_ERR_SHAPE, "sm_net_copy_params: architectures differ");
    memcpy(dst->params, src->params, src->nparams * sizeof(float));
    return SM_OK;
}

sm_status sm_net_set_threads(sm_net *net, size_t threads)
{
    if (!net || threads == 0 || threads > 4096)
        return sm__error(SM_ERR_INVALID_ARG, "sm_net_set_threads: need a network and 1..4096 threads");
    net->threads = threads;
    if (net->blas)
        sm__blas_set_threads(net->blas, threads);
    return SM_OK;
}

sm_status sm__net_use_reference(sm_net *net, int reference)
{
    if (reference) {
        sm__blas_free(net->blas);
        net->blas = NULL;
    } else if (!net->blas) {
        net->blas = sm__blas_new(net->threads);
        if (!net->blas)
            return sm__error(SM_ERR_NOMEM, "sm__net_use_reference: out of memory");
    }
    return SM_OK;
}

sm_status sm_net_reserve(sm_net *net, size_t batch)
{
    const char *fn = "sm_net_reserve";
    if (!net || batch == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: need a network and batch >= 1", fn);
    if (batch <= net->cap)
        return SM_OK;
    if (batch >= MAX_EXTENT)
        return sm__error(SM_ERR_OVERFLOW, "%s: batch %zu too large", fn, batch);
    size_t in_sz, hid, hid_all, total;
    if (sm__mul_size(batch, net->dim + 1, &in_sz) || sm__mul_size(batch, net->width, &hid) ||
        sm__mul_size(hid, net->depth, &hid_all) || hid_all > SIZE_MAX / 4 - in_sz - 2 * hid)
        return sm__error(SM_ERR_OVERFLOW, "%s: workspace size overflows", fn);
    total = in_sz + 3 * hid_all + 2 * hid;
    float *ws = sm__calloc(total, sizeof(float));
    if (!ws)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory for a %zu-row workspace", fn, batch);
    free_workspace(net);
    net->ws = ws;
    net->cap = batch;
    net->in = ws;
    net->z = net->in + in_sz;
    net->h = net->z + hid_all;
    net->sg = net->h + hid_all;
    net->g[0] = net->sg + hid_all;
    net->g[1] = net->g[0] + hid;
    return SM_OK;
}

/* Fills the input block: rows of x followed by log σ. */
static void fill_input(sm_net *net, const float *x, const float *sigma, float sigma1,
                       size_t n)
{
    const size_t d = net->dim;
    const float log1 = sigma ? 0.0f : logf(sigma1);
    for (size_t r = 0; r < n; r++) {
        memcpy(net->in + r * (d + 1), x + r * d, d * sizeof(float));
        net->in[r * (d + 1) + d] = sigma ? logf(sigma[r]) : log1;
    }
}

/* Forward pass over the n ≤ cap rows held in net->in; writes n × dim to out. */
static void forward_rows(sm_net *net, size_t n, float *out)
{
    const float *a = net->in;
    for (size_t l = 0; l <= net->depth; l++) {
        size_t fin, fout;
        layer_shape(net, l, &fin, &fout);
        const float *w = net->params + layer_w_offset(net, l);
        const float *b = w + fin * fout;
        float *z = l < net->depth ? net->z + l * net->cap * net->width : out;
        for (size_t r = 0; r < n; r++)
            memcpy(z + r * fout, b, fout * sizeof(float));
        /* z (n×fout) += a (n×fin) · Wᵀ (fin×fout); W is fout×fin row-major. */
        sm__sgemm(net->blas, n, fout, fin, 1.0f, a, (ptrdiff_t)fin, 1, w, 1, (ptrdiff_t)fin,
                  1.0f, z, (ptrdiff_t)fout, 1);
        if (l < net->depth) {
            float *h = net->h + l * net->cap * net->width;
            sm__silu_forward(z, h, net->sg + l * net->cap * net->width, n * fout);
            a = h;
        }
    }
}

static sm_status check_io(sm_net *net, const float *x, const float *sigma, float sigma1,
                          size_t n, size_t dim, const float *out, const char *fn)
{
    if (!net || ((!x || !out) && n))
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument", fn);
    if (dim != net->dim)
        return sm__error(SM_ERR_SHAPE, "%s: points have dim %zu, the network %zu", fn, dim,
                         net->dim);
    size_t total;
    if (sm__mul_size(n, dim, &total))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim overflows", fn);
    size_t bad = sm__first_nonfinite(x, total);
    if (bad < total)
        return sm__error(SM_ERR_NONFINITE, "%s: x[%zu][%zu] is not finite", fn, bad / dim,
                         bad % dim);
    if (sigma) {
        for (size_t r = 0; r < n; r++)
            if (!(sigma[r] > 0.0f) || !isfinite(sigma[r]))
                return sm__error(SM_ERR_INVALID_ARG, "%s: sigma[%zu] = %g must be finite and > 0",
                                 fn, r, (double)sigma[r]);
    } else if (!(sigma1 > 0.0f) || !isfinite(sigma1)) {
        return sm__error(SM_ERR_INVALID_ARG, "%s: sigma = %g must be finite and > 0", fn,
                         (double)sigma1);
    }
    return SM_OK;
}

static sm_status forward_blocks(sm_net *net, const float *x, const float *sigma, float sigma1,
                                size_t n, size_t dim, float *out, const char *fn)
{
    sm_status st = check_io(net, x, sigma, sigma1, n, dim, out, fn);
    if (st)
        return st;
    if (net->cap == 0 && (st = sm_net_reserve(net, DEFAULT_BLOCK)))
        return st;
    net->train_rows = 0; /* the workspace is about to be overwritten */
    for (size_t r0 = 0; r0 < n; r0 += net->cap) {
        size_t m = n - r0 < net->cap ? n - r0 : net->cap;
        fill_input(net, x + r0 * dim, sigma ? sigma + r0 : NULL, sigma1, m);
        forward_rows(net, m, out + r0 * dim);
    }
    return SM_OK;
}

sm_status sm_net_forward(sm_net *net, const float *x, const float *sigma, size_t n, size_t dim,
                         float *out)
{
    if (!sigma && n)
        return sm__error(SM_ERR_INVALID_ARG, "sm_net_forward: sigma is NULL");
    return forward_blocks(net, x, sigma, 0.0f, n, dim, out, "sm_net_forward");
}

sm_status sm_net_forward_sigma(sm_net *net, const float *x, float sigma, size_t n, size_t dim,
                               float *out)
{
    return forward_blocks(net, x, NULL, sigma, n, dim, out, "sm_net_forward_sigma");
}

sm_status sm_net_forward_train(sm_net *net, const float *x, const float *sigma, size_t n,
                               size_t dim, float *out)
{
    const char *fn = "sm_net_forward_train";
    if (!sigma && n)
        return sm__error(SM_ERR_INVALID_ARG, "%s: sigma is NULL", fn);
    sm_status st = check_io(net, x, sigma, 0.0f, n, dim, out, fn);
    if (st)
        return st;
    if (n == 0 || n > net->cap)
        return sm__error(SM_ERR_STATE, "%s: %zu rows, workspace reserved for %zu (sm_net_reserve)",
                         fn, n, net->cap);
    fill_input(net, x, sigma, 0.0f, n);
    forward_rows(net, n, out);
    net->train_rows = n;
    return SM_OK;
}

sm_status sm_net_backward(sm_net *net, const float *dout, size_t n, size_t dim)
{
    const char *fn = "sm_net_backward";
    if (!net || !dout)
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument", fn);
    if (dim != net->dim)
        return sm__error(SM_ERR_SHAPE, "%s: dim %zu, the network has %zu", fn, dim, net->dim);
    if (net->train_rows == 0 || n != net->train_rows)
        return sm__error(SM_ERR_STATE, "%s: %zu rows, but the last training forward pass held %zu",
                         fn, n, net->train_rows);
    const size_t cap = net->cap, w = net->width;
    const float *dz = dout; /* n × fout of the current layer */
    int scratch = 0;
    for (size_t l = net->depth + 1; l-- > 0;) {
        size_t fin, fout;
        layer_shape(net, l, &fin, &fout);
        size_t off = layer_w_offset(net, l);
        const float *wt = net->params + off;
        float *dw = net->grads + off, *db = dw + fin * fout;
        const float *a = l == 0 ? net->in : net->h + (l - 1) * cap * w;
        /* dW (fout×fin) += dzᵀ (fout×n) · a (n×fin) */
        sm__sgemm(net->blas, fout, fin, n, 1.0f, dz, 1, (ptrdiff_t)fout, a, (ptrdiff_t)fin, 1,
                  1.0f, dw, (ptrdiff_t)fin, 1);
        for (size_t r = 0; r < n; r++)
            for (size_t j = 0; j < fout; j++)
                db[j] += dz[r * fout + j];
        if (l == 0)
            break;
        /* dh (n×fin) = dz (n×fout) · W (fout×fin), then dz_prev = dh ⊙ silu'(z_prev). */
        float *g = net->g[scratch];
        scratch ^= 1;
        sm__sgemm(net->blas, n, fin, fout, 1.0f, dz, (ptrdiff_t)fout, 1, wt, (ptrdiff_t)fin, 1,
                  0.0f, g, (ptrdiff_t)fin, 1);
        sm__silu_backward(g, net->z + (l - 1) * cap * w, net->sg + (l - 1) * cap * w, n * fin);
        dz = g;
    }
    return SM_OK;
}

sm_status sm_net_zero_grad(sm_net *net)
{
    if (!net)
        return sm__error(SM_ERR_INVALID_ARG, "sm_net_zero_grad: net is NULL");
    memset(net->grads, 0, net->nparams * sizeof(float));
    return SM_OK;
}
