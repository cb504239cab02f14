/* Noise-conditioned MLP: x ‖ log σ → [Linear → SiLU] × depth → Linear.
 *
 * Shapes (n rows, d = dim, w = width, L = depth hidden layers):
 *   in  : n × (d+1)         z_l, h_l : n × w  (l = 0 … L−1)      out : n × d
 *   W_0 : w × (d+1)         W_l      : w × w  (0 < l < L)        W_L : d × w
 * Forward:  z_0 = in·W_0ᵀ + b_0,  h_l = silu(z_l),  z_l = h_{l−1}·W_lᵀ + b_l,
 *           out = h_{L−1}·W_Lᵀ + b_L.
 * Backward: dW_l += dz_lᵀ·h_{l−1},  db_l += Σ_rows dz_l,
 *           dh_{l−1} = dz_l·W_l,    dz_{l−1} = dh_{l−1} ⊙ silu'(z_{l−1}).
 *
 * Threads: the rows of a pass are split into contiguous shards, one per
 * thread, each with its own workspace and single-threaded BLIS; a backward
 * pass sums the shards' gradients in shard order. Splitting rows keeps the
 * SiLU and the bookkeeping parallel too, which BLIS's own threading would
 * leave on one core.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "activation.h"
#include "internal.h"
#include "net-private.h"
#include "rng-private.h"

#define DEFAULT_ROWS 1024
/* Below this many rows per thread, a pass uses fewer threads. */
#define MIN_SHARD_ROWS 32
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

/* ---- shards ------------------------------------------------------------ */

static void shards_free(sm__shard *sh, size_t count)
{
    if (!sh)
        return;
    for (size_t i = 0; i < count; i++) {
        free(sh[i].mem);
        free(sh[i].grads);
        sm__blas_free(sh[i].blas);
    }
    free(sh);
}

/* Shards without workspaces; shard ≥ 1 gets a private gradient buffer. */
static sm__shard *shards_new(const sm_net *net, size_t count)
{
    sm__shard *sh = calloc(count, sizeof *sh);
    if (!sh)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        sh[i].blas = net->reference ? NULL : sm__blas_new(1);
        sh[i].grads = i ? sm__calloc(net->nparams, sizeof(float)) : NULL;
        if ((!net->reference && !sh[i].blas) || (i && !sh[i].grads)) {
            shards_free(sh, count);
            return NULL;
        }
    }
    return sh;
}

/* Workspace floats for cap rows, or 0 on overflow. */
static size_t workspace_size(const sm_net *net, size_t cap)
{
    size_t in_sz, hid, hid_all;
    if (sm__mul_size(cap, net->dim + 1, &in_sz) || sm__mul_size(cap, net->width, &hid) ||
        sm__mul_size(hid, net->depth, &hid_all) || hid_all > SIZE_MAX / 8 - in_sz - 2 * hid)
        return 0;
    return in_sz + 3 * hid_all + 2 * hid;
}

static void workspace_bind(const sm_net *net, sm__shard *sh, float *mem, size_t cap)
{
    size_t in_sz = cap * (net->dim + 1), hid = cap * net->width, hid_all = hid * net->depth;
    sh->mem = mem;
    sh->cap = cap;
    sh->in = mem;
    sh->z = sh->in + in_sz;
    sh->h = sh->z + hid_all;
    sh->sg = sh->h + hid_all;
    sh->g[0] = sh->sg + hid_all;
    sh->g[1] = sh->g[0] + hid;
    sh->rows = 0;
}

/* Gives every shard a workspace of `cap` rows; all or nothing. */
static sm_status shards_reserve(const sm_net *net, sm__shard *sh, size_t count, size_t cap,
                                const char *fn)
{
    size_t floats = workspace_size(net, cap);
    if (floats == 0)
        return sm__error(SM_ERR_OVERFLOW, "%s: workspace size overflows", fn);
    float *mem[64];
    float **mems = count <= 64 ? mem : calloc(count, sizeof *mems);
    if (!mems)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    size_t i;
    for (i = 0; i < count; i++)
        if (!(mems[i] = sm__calloc(floats, sizeof(float))))
            break;
    if (i < count) {
        while (i-- > 0)
            free(mems[i]);
        if (mems != mem)
            free(mems);
        return sm__error(SM_ERR_NOMEM, "%s: out of memory for a %zu-row workspace", fn, cap);
    }
    for (i = 0; i < count; i++) {
        free(sh[i].mem);
        workspace_bind(net, &sh[i], mems[i], cap);
    }
    if (mems != mem)
        free(mems);
    return SM_OK;
}

/* ---- construction ------------------------------------------------------ */

sm_status sm__net_param_count(size_t dim, size_t width, size_t depth, size_t *count)
{
    if (dim == 0 || width == 0 || depth == 0)
        return SM_ERR_INVALID_ARG;
    if (dim >= MAX_EXTENT || width >= MAX_EXTENT || depth >= MAX_EXTENT)
        return SM_ERR_OVERFLOW;
    /* Parameter count with overflow checks: (d+1)w + w + (L-1)(w² + w) + wd + d. */
    size_t a, b, c, total = 0;
    if (sm__mul_size(dim + 1, width, &a) || sm__mul_size(width, width + 1, &b) ||
        sm__mul_size(b, depth - 1, &c) || sm__mul_size(width, dim, &total))
        return SM_ERR_OVERFLOW;
    size_t sum = a + width;
    if (sum < a || sum + c < sum || sum + c + total < sum + c ||
        sum + c + total + dim < sum + c + total)
        return SM_ERR_OVERFLOW;
    *count = sum + c + total + dim;
    return SM_OK;
}

/* A network of the given architecture with zero parameters and gradients,
 * one thread and no workspace. */
static sm_status net_alloc(sm_net **out, size_t dim, size_t width, size_t depth,
                           const char *fn)
{
    size_t total = 0;
    sm_status st = sm__net_param_count(dim, width, depth, &total);
    if (st == SM_ERR_INVALID_ARG)
        return sm__error(SM_ERR_INVALID_ARG, "%s: dim, width and depth must be >= 1 (got %zu, %zu, %zu)",
                         fn, dim, width, depth);
    if (st)
        return sm__error(SM_ERR_OVERFLOW, "%s: dim, width or depth too large", fn);

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
    if (net->params && net->grads)
        net->shards = shards_new(net, 1);
    if (!net->params || !net->grads || !net->shards) {
        sm_net_free(net);
        return sm__error(SM_ERR_NOMEM, "%s: out of memory for %zu parameters", fn, total);
    }
    *out = net;
    return SM_OK;
}

sm_status sm_net_new(sm_net **out, size_t dim, size_t width, size_t depth, sm_rng *rng)
{
    const char *fn = "sm_net_new";
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!rng)
        return sm__error(SM_ERR_INVALID_ARG, "%s: rng is NULL", fn);
    sm_net *net = NULL;
    sm_status st = net_alloc(&net, dim, width, depth, fn);
    if (st)
        return st;
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

sm_status sm__net_new_with_params(sm_net **out, size_t dim, size_t width, size_t depth,
                                  const float *params, const char *fn)
{
    *out = NULL;
    sm_net *net = NULL;
    sm_status st = net_alloc(&net, dim, width, depth, fn);
    if (st)
        return st;
    memcpy(net->params, params, net->nparams * sizeof(float));
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
    c->threads = 1;
    c->reference = net->reference;
    c->params = sm__calloc(net->nparams, sizeof(float));
    c->grads = sm__calloc(net->nparams, sizeof(float));
    if (c->params && c->grads)
        c->shards = shards_new(c, 1);
    if (!c->params || !c->grads || !c->shards) {
        sm_net_free(c);
        return sm__error(SM_ERR_NOMEM, "sm_net_clone: out of memory");
    }
    memcpy(c->params, net->params, net->nparams * sizeof(float));
    memcpy(c->grads, net->grads, net->nparams * sizeof(float));
    sm_status st = net->threads > 1 ? sm_net_set_threads(c, net->threads) : SM_OK;
    if (st) {
        sm_net_free(c);
        return st;
    }
    *out = c;
    return SM_OK;
}

void sm_net_free(sm_net *net)
{
    if (!net)
        return;
    sm__pool_free(net->pool);
    shards_free(net->shards, net->threads);
    free(net->params);
    free(net->grads);
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
    if (!sm__net_same_shape(dst, src))
        return sm__error(SM_ERR_SHAPE, "sm_net_copy_params: architectures differ");
    if (dst != src) /* memcpy must not overlap */
        memcpy(dst->params, src->params, src->nparams * sizeof(float));
    return SM_OK;
}

static size_t div_up(size_t a, size_t b)
{
    return a / b + (a % b != 0);
}

sm_status sm_net_ema_update(sm_net *ema, const sm_net *net, double decay)
{
    const char *fn = "sm_net_ema_update";
    if (!ema || !net)
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL network", fn);
    if (!(decay >= 0.0 && decay <= 1.0))
        return sm__error(SM_ERR_INVALID_ARG, "%s: decay must be in [0, 1] (got %g)", fn, decay);
    if (!sm__net_same_shape(ema, net))
        return sm__error(SM_ERR_SHAPE, "%s: architectures differ", fn);
    size_t bad = sm__first_nonfinite(net->params, net->nparams);
    if (bad < net->nparams)
        return sm__error(SM_ERR_NONFINITE, "%s: parameter %zu of the trained network is not finite",
                         fn, bad);
    const float d = (float)decay, w = (float)(1.0 - decay);
    for (size_t i = 0; i < net->nparams; i++)
        ema->params[i] = d * ema->params[i] + w * net->params[i];
    return SM_OK;
}

sm_status sm_net_set_threads(sm_net *net, size_t threads)
{
    const char *fn = "sm_net_set_threads";
    if (!net || threads == 0 || threads > 256)
        return sm__error(SM_ERR_INVALID_ARG, "%s: need a network and 1..256 threads", fn);
    if (threads == net->threads)
        return SM_OK;
    sm__shard *sh = shards_new(net, threads);
    sm__pool *pool = NULL;
    if (!sh || (threads > 1 && !(pool = sm__pool_new(threads - 1)))) {
        shards_free(sh, threads);
        return sm__error(SM_ERR_NOMEM, "%s: cannot start %zu threads", fn, threads);
    }
    /* Keep the total row capacity reserved so far. */
    size_t cap = net->cap ? div_up(net->cap * net->threads, threads) : 0;
    sm_status st = cap ? shards_reserve(net, sh, threads, cap, fn) : SM_OK;
    if (st) {
        sm__pool_free(pool);
        shards_free(sh, threads);
        return st;
    }
    sm__pool_free(net->pool);
    shards_free(net->shards, net->threads);
    net->shards = sh;
    net->pool = pool;
    net->threads = threads;
    net->cap = cap;
    net->train_rows = 0;
    return SM_OK;
}

sm_status sm__net_use_reference(sm_net *net, int reference)
{
    net->reference = reference != 0;
    for (size_t i = 0; i < net->threads; i++) {
        sm__shard *sh = &net->shards[i];
        if (net->reference) {
            sm__blas_free(sh->blas);
            sh->blas = NULL;
        } else if (!sh->blas && !(sh->blas = sm__blas_new(1))) {
            return sm__error(SM_ERR_NOMEM, "sm__net_use_reference: out of memory");
        }
    }
    return SM_OK;
}

sm_status sm_net_reserve(sm_net *net, size_t batch)
{
    const char *fn = "sm_net_reserve";
    if (!net || batch == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: need a network and batch >= 1", fn);
    if (batch >= MAX_EXTENT)
        return sm__error(SM_ERR_OVERFLOW, "%s: batch %zu too large", fn, batch);
    size_t cap = div_up(batch, net->threads);
    if (cap <= net->cap)
        return SM_OK;
    sm_status st = shards_reserve(net, net->shards, net->threads, cap, fn);
    if (st)
        return st;
    net->cap = cap;
    net->train_rows = 0;
    return SM_OK;
}

/* ---- passes ------------------------------------------------------------ */

/* Fills a shard's input block: its rows of x followed by log σ. */
static void fill_input(const sm_net *net, sm__shard *sh)
{
    const size_t d = net->dim, n = sh->count;
    const float log1 = sh->sigma ? 0.0f : logf(sh->sigma1);
    for (size_t r = 0; r < n; r++) {
        memcpy(sh->in + r * (d + 1), sh->x + r * d, d * sizeof(float));
        sh->in[r * (d + 1) + d] = sh->sigma ? logf(sh->sigma[r]) : log1;
    }
}

/* Forward pass over the shard's rows; writes count × dim to sh->out. */
static void forward_rows(const sm_net *net, sm__shard *sh)
{
    const size_t n = sh->count;
    const float *a = sh->in;
    for (size_t l = 0; l <= net->depth; l++) {
        size_t fin, fout;
        layer_shape(net, l, &fin, &fout);
        const float *w = net->params + layer_w_offset(net, l);
        const float *b = w + fin * fout;
        float *z = l < net->depth ? sh->z + l * sh->cap * net->width : sh->out;
        for (size_t r = 0; r < n; r++)
            memcpy(z + r * fout, b, fout * sizeof(float));
        /* z (n×fout) += a (n×fin) · Wᵀ (fin×fout); W is fout×fin row-major. */
        sm__sgemm(sh->blas, n, fout, fin, 1.0f, a, (ptrdiff_t)fin, 1, w, 1, (ptrdiff_t)fin,
                  1.0f, z, (ptrdiff_t)fout, 1);
        if (l < net->depth) {
            float *h = sh->h + l * sh->cap * net->width;
            sm__silu_forward(z, h, sh->sg + l * sh->cap * net->width, n * fout);
            a = h;
        }
    }
}

/* Back-propagates the shard's rows of dout; adds into `grads`. */
static void backward_rows(const sm_net *net, sm__shard *sh, float *grads)
{
    const size_t n = sh->rows, cap = sh->cap, w = net->width;
    const float *dz = sh->dout; /* n × fout of the current layer */
    int scratch = 0;
    for (size_t l = net->depth + 1; l-- > 0;) {
        size_t fin, fout;
        layer_shape(net, l, &fin, &fout);
        size_t off = layer_w_offset(net, l);
        const float *wt = net->params + off;
        float *dw = grads + off, *db = dw + fin * fout;
        const float *a = l == 0 ? sh->in : sh->h + (l - 1) * cap * w;
        /* dW (fout×fin) += dzᵀ (fout×n) · a (n×fin) */
        sm__sgemm(sh->blas, fout, fin, n, 1.0f, dz, 1, (ptrdiff_t)fout, a, (ptrdiff_t)fin, 1,
                  1.0f, dw, (ptrdiff_t)fin, 1);
        for (size_t r = 0; r < n; r++)
            for (size_t j = 0; j < fout; j++)
                db[j] += dz[r * fout + j];
        if (l == 0)
            break;
        /* dh (n×fin) = dz (n×fout) · W (fout×fin), then dz_prev = dh ⊙ silu'(z_prev). */
        float *g = sh->g[scratch];
        scratch ^= 1;
        sm__sgemm(sh->blas, n, fin, fout, 1.0f, dz, (ptrdiff_t)fout, 1, wt, (ptrdiff_t)fin, 1,
                  0.0f, g, (ptrdiff_t)fin, 1);
        sm__silu_backward(g, sh->z + (l - 1) * cap * w, sh->sg + (l - 1) * cap * w, n * fin);
        dz = g;
    }
}

static void job_forward(void *ctx, size_t s)
{
    sm_net *net = ctx;
    sm__shard *sh = &net->shards[s];
    if (sh->count == 0)
        return;
    fill_input(net, sh);
    forward_rows(net, sh);
}

static void job_backward(void *ctx, size_t s)
{
    sm_net *net = ctx;
    sm__shard *sh = &net->shards[s];
    if (sh->rows == 0)
        return;
    float *grads = net->grads;
    if (s > 0) {
        grads = sh->grads;
        memset(grads, 0, net->nparams * sizeof(float));
    }
    backward_rows(net, sh, grads);
}

/* Splits m rows (m ≤ cap·threads) into contiguous shards, using fewer
 * threads for small m; sets each shard's job. Returns the shards used. */
static size_t split_rows(sm_net *net, size_t m, const float *x, const float *sigma,
                         float sigma1, float *out)
{
    size_t used = div_up(m, MIN_SHARD_ROWS);
    if (used > net->threads)
        used = net->threads;
    if (used < div_up(m, net->cap))
        used = div_up(m, net->cap);
    size_t chunk = div_up(m, used);
    const size_t d = net->dim;
    for (size_t s = 0; s < net->threads; s++) {
        sm__shard *sh = &net->shards[s];
        size_t first = s * chunk;
        sh->first = first;
        sh->count = s < used && first < m ? (m - first < chunk ? m - first : chunk) : 0;
        sh->x = x + (sh->count ? first * d : 0);
        sh->sigma = sigma ? sigma + (sh->count ? first : 0) : NULL;
        sh->sigma1 = sigma1;
        sh->out = out + (sh->count ? first * d : 0);
    }
    return used;
}

static void dispatch(sm_net *net, sm__pool_fn fn, size_t used)
{
    if (used <= 1 || !net->pool)
        for (size_t s = 0; s < used; s++)
            fn(net, s);
    else
        sm__pool_run(net->pool, fn, net, used);
}

static sm_status check_io(sm_net *net, const float *x, const float *sigma, float sigma1,
                          size_t n, size_t dim, const float *out, const char *fn)
{
    if (!net || ((!x || !out) && n))
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument", fn);
    if (dim != net->dim)
        return sm__error(SM_ERR_SHAPE, "%s: points have dim %zu, the network %zu", fn, dim,
                         net->dim);
    if (sm__array_too_big(n, dim, sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim overflows", fn);
    sm_status st = sm__check_points(x, n, dim, "x", fn);
    if (st)
        return st;
    if (sigma) {
        if ((st = sm__check_sigmas(sigma, n, fn)))
            return st;
    } else if (!(sigma1 > 0.0f) || !isfinite(sigma1)) {
        return sm__error(SM_ERR_INVALID_ARG, "%s: sigma = %g must be finite and > 0", fn,
                         (double)sigma1);
    }
    return SM_OK;
}

/* After a pass over n rows: SM_ERR_NONFINITE if the output holds NaN or
 * infinity (NaN or infinite parameters, or overflow), naming the first
 * non-finite parameter if there is one. */
static sm_status check_output(const sm_net *net, const float *out, size_t n, const char *fn)
{
    const size_t total = n * net->dim, bad = sm__first_nonfinite(out, total);
    if (bad == total)
        return SM_OK;
    size_t p = sm__first_nonfinite(net->params, net->nparams);
    if (p < net->nparams)
        return sm__error(SM_ERR_NONFINITE,
                         "%s: the output is not finite: parameter %zu is %g (sm_net_params())",
                         fn, p, (double)net->params[p]);
    return sm__error(SM_ERR_NONFINITE,
                     "%s: the output for point %zu is not finite: the input or the parameters "
                     "are too large for float",
                     fn, bad / net->dim);
}

static sm_status forward_blocks(sm_net *net, const float *x, const float *sigma, float sigma1,
                                size_t n, size_t dim, float *out, const char *fn)
{
    sm_status st = check_io(net, x, sigma, sigma1, n, dim, out, fn);
    if (st)
        return st;
    if (net->cap == 0 && (st = sm_net_reserve(net, DEFAULT_ROWS)))
        return sm__error_wrap(st, fn);
    net->train_rows = 0; /* the workspaces are about to be overwritten */
    for (size_t i = 0; i < net->threads; i++)
        net->shards[i].rows = 0;
    const size_t block = net->cap * net->threads;
    for (size_t r0 = 0; r0 < n; r0 += block) {
        size_t m = n - r0 < block ? n - r0 : block;
        size_t used = split_rows(net, m, x + r0 * dim, sigma ? sigma + r0 : NULL, sigma1,
                                 out + r0 * dim);
        dispatch(net, job_forward, used);
    }
    return check_output(net, out, n, fn);
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
    if (n == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: n must be >= 1", fn);
    if (n > net->cap * net->threads)
        return sm__error(SM_ERR_STATE, "%s: %zu rows, workspace reserved for %zu (sm_net_reserve)",
                         fn, n, net->cap * net->threads);
    size_t used = split_rows(net, n, x, sigma, 0.0f, out);
    dispatch(net, job_forward, used);
    /* A pass with a non-finite output keeps nothing to back-propagate. */
    st = check_output(net, out, n, fn);
    for (size_t s = 0; s < net->threads; s++)
        net->shards[s].rows = st ? 0 : net->shards[s].count;
    net->train_rows = st ? 0 : n;
    return st;
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
    size_t used = 0;
    for (size_t s = 0; s < net->threads; s++) {
        sm__shard *sh = &net->shards[s];
        sh->dout = dout + sh->first * dim;
        if (sh->rows)
            used = s + 1;
    }
    dispatch(net, job_backward, used);
    /* Sum the other shards' gradients in shard order (deterministic). */
    for (size_t s = 1; s < used; s++) {
        const float *g = net->shards[s].grads;
        for (size_t i = 0; i < net->nparams; i++)
            net->grads[i] += g[i];
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
