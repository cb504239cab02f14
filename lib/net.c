/* The MLP of a score network: u → [Linear → SiLU] × depth → Linear, on an
 * input u prepared by the score model (scoremodel.c: scaled x ‖ σ
 * embedding ‖ context ‖ present flag for a network with a context). This
 * file knows nothing of σ, contexts or scores.
 *
 * Shapes (n rows, d = dim, w = width, L = depth hidden layers):
 *   in  : n × u             z_l, h_l : n × w  (l = 0 … L−1)      out : n × d
 *   W_0 : w × u             W_l      : w × w  (0 < l < L)        W_L : d × w
 * with u = d + 1, or d + c + 2 with a context of width c.
 * Forward:  z_0 = in·W_0ᵀ + b_0,  h_l = silu(z_l),  z_l = h_{l−1}·W_lᵀ + b_l,
 *           out = h_{L−1}·W_Lᵀ + b_L.
 * Backward: dW_l += dz_lᵀ·h_{l−1},  db_l += Σ_rows dz_l,
 *           dh_{l−1} = dz_l·W_l,    dz_{l−1} = dh_{l−1} ⊙ silu'(z_{l−1}),
 * with silu'(z) kept by the forward pass (the products' epilogue computes
 * it with the bias and the SiLU while each tile is in cache).
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
#include "dataset-private.h"
#include "internal.h"
#include "net-private.h"
#include "rng-private.h"
#include "rows-private.h"

/* One thread's share of a pass: its workspace for up to `cap` rows, its
 * BLIS runtime (one thread) and its gradient accumulator. */
typedef struct {
    size_t cap;
    float *mem;    /* one allocation for the buffers below */
    float *z;      /* depth × cap × width: pre-activations */
    float *h;      /* depth × cap × width: SiLU outputs */
    float *d;      /* depth × cap × width: silu'(z), kept for backward */
    float *g[2];   /* cap × width each: backward scratch */
    float *grads;  /* shards ≥ 1: private gradient sums (nparams) */
    sm__blas *blas; /* NULL: reference loops (tests only) */
} sm__shard;

struct sm_net {
    size_t dim, width, depth; /* d, hidden units, hidden layers */
    size_t context_dim;       /* c, 0 without a context */
    sm_parametrization param;
    float sigma_data;         /* EDM: σ_data, 0 while unknown */
    float *norm;              /* NULL, or dim shifts then dim scales (data units) */
    float *ctx_norm;          /* NULL, or c shifts then c scales (context units) */
    size_t nparams;
    float *params, *grads;    /* nparams each; layer l: W_l then b_l */
    void *params_mem;         /* the block params points into (params_alloc) */

    int use_blis;             /* sm_net_set_kernels(SM_KERNELS_BLIS) */
    size_t threads;           /* shards; rows are split between them */
    sm__shard *shards;
    size_t cap;               /* rows per shard */
    float *input;             /* cap·threads × in_dim: the prepared input */
    float *row_aux;           /* cap·threads: kept for the caller */
    float *scratch;           /* cap·threads × dim: the caller's scratch */
    sm__share share[256];     /* the rows of the current pass, per shard */
    size_t used;              /* shards of the current pass */
    const float *dF;          /* the current backward pass's ∂L/∂F */
    float *out;               /* the current forward pass's output */
    size_t train_rows;        /* rows of the last training forward, 0 if none */
    sm__pool *pool;           /* threads − 1 workers, NULL for one thread */
    int reference;
};

#define DEFAULT_ROWS 1024
/* Sizes passed to BLIS must fit its signed dim_t and keep products sane. */
#define MAX_EXTENT ((size_t)1 << 30)

static void layer_shape(const sm_net *net, size_t l, size_t *fin, size_t *fout)
{
    *fin = l == 0 ? sm__net_in_dim(net) : net->width;
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
        if (sh[i].blas)
            sm__blas_use_blis(sh[i].blas, net->use_blis);
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
    size_t hid, hid_all;
    if (sm__mul_size(cap, net->width, &hid) || sm__mul_size(hid, net->depth, &hid_all) ||
        hid_all > SIZE_MAX / 8 - 2 * hid)
        return 0;
    return 3 * hid_all + 2 * hid;
}

static void workspace_bind(const sm_net *net, sm__shard *sh, float *mem, size_t cap)
{
    size_t hid = cap * net->width, hid_all = hid * net->depth;
    sh->mem = mem;
    sh->cap = cap;
    sh->z = mem;
    sh->h = sh->z + hid_all;
    sh->d = sh->h + hid_all;
    sh->g[0] = sh->d + hid_all;
    sh->g[1] = sh->g[0] + hid;
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
        return sm__error(SM_ERR_NOMEM,
                         "%s: out of memory for a %zu-row workspace (%zu bytes per thread)", fn,
                         cap, floats * sizeof(float));
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

/* MLP inputs per row: x ‖ σ embedding, then context ‖ present flag. */
static size_t input_width(size_t dim, size_t context_dim)
{
    return dim + 1 + (context_dim ? context_dim + 1 : 0);
}

sm_status sm__net_param_count(size_t dim, size_t context_dim, size_t width, size_t depth,
                              size_t *count)
{
    if (dim == 0 || width == 0 || depth == 0)
        return SM_ERR_INVALID_ARG;
    if (dim >= MAX_EXTENT || width >= MAX_EXTENT || depth >= MAX_EXTENT ||
        context_dim >= MAX_EXTENT || input_width(dim, context_dim) >= MAX_EXTENT)
        return SM_ERR_OVERFLOW;
    /* Parameter count with overflow checks: u·w + w + (L-1)(w² + w) + wd + d
     * with u inputs. */
    size_t a, b, c, total = 0;
    if (sm__mul_size(input_width(dim, context_dim), width, &a) || sm__mul_size(width, width + 1, &b) ||
        sm__mul_size(b, depth - 1, &c) || sm__mul_size(width, dim, &total))
        return SM_ERR_OVERFLOW;
    size_t sum = a + width;
    if (sum < a || sum + c < sum || sum + c + total < sum + c ||
        sum + c + total + dim < sum + c + total)
        return SM_ERR_OVERFLOW;
    *count = sum + c + total + dim;
    return SM_OK;
}

/* ---- options ----------------------------------------------------------- */

/* dst = src for the fields that options version `version` has, and
 * dst->version = version: never past the end of a caller's older struct
 * (the one place that knows which version added which field). */
static void copy_version_fields(sm_net_options *dst, const sm_net_options *src,
                                unsigned version)
{
    dst->version = version;
    dst->dim = src->dim;
    dst->width = src->width;
    dst->depth = src->depth;
    dst->parametrization = src->parametrization;
    dst->sigma_data = src->sigma_data;
    if (version >= 2)
        dst->context_dim = src->context_dim;
}

sm_status sm_net_options_init(sm_net_options *opts, unsigned version)
{
    const char *fn = "sm_net_options_init";
    if (!opts)
        return sm__error(SM_ERR_INVALID_ARG, "%s: opts is NULL", fn);
    if (version < 1 || version > SM_NET_OPTIONS_VERSION)
        return sm__error(SM_ERR_VERSION, "%s: version %u, this library knows 1 to %u", fn,
                         version, (unsigned)SM_NET_OPTIONS_VERSION);
    const sm_net_options init = SM_NET_OPTIONS_INIT;
    copy_version_fields(opts, &init, version);
    return SM_OK;
}

const char *sm_parametrization_name(sm_parametrization param)
{
    switch (param) {
    case SM_PARAM_LAB: return "lab";
    case SM_PARAM_EDM: return "edm";
    }
    return "unknown";
}

/* The context width of options; a version-1 struct ends before the field. */
static size_t options_context_dim(const sm_net_options *opts)
{
    return opts->version >= 2 ? opts->context_dim : 0;
}

sm_status sm__net_check_options(const sm_net_options *opts, const char *fn)
{
    if (!opts)
        return sm__error(SM_ERR_INVALID_ARG, "%s: opts is NULL", fn);
    if (opts->version < 1 || opts->version > SM_NET_OPTIONS_VERSION)
        return sm__error(SM_ERR_VERSION, "%s: opts->version is %u, this library knows 1 to %u "
                         "(initialise with SM_NET_OPTIONS_INIT or sm_net_options_init())",
                         fn, opts->version, (unsigned)SM_NET_OPTIONS_VERSION);
    size_t total;
    sm_status st = sm__net_param_count(opts->dim, options_context_dim(opts), opts->width,
                                       opts->depth, &total);
    if (st == SM_ERR_INVALID_ARG)
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: dim, width and depth must be >= 1 (got %zu, %zu, %zu)", fn,
                         opts->dim, opts->width, opts->depth);
    if (st)
        return sm__error(SM_ERR_OVERFLOW, "%s: dim, context_dim, width or depth too large", fn);
    if ((int)opts->parametrization != SM_PARAM_LAB && (int)opts->parametrization != SM_PARAM_EDM)
        return sm__error(SM_ERR_INVALID_ARG, "%s: unknown parametrization %d", fn,
                         (int)opts->parametrization);
    if (opts->parametrization == SM_PARAM_EDM &&
        !(opts->sigma_data >= 0.0 && opts->sigma_data <= 1e30))
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: sigma_data must be > 0 and finite, or 0 to estimate it from the "
                         "training data (got %g)", fn, opts->sigma_data);
    if (opts->parametrization == SM_PARAM_EDM && opts->sigma_data > 0.0 &&
        !((float)opts->sigma_data > 0.0f))
        return sm__error(SM_ERR_INVALID_ARG, "%s: sigma_data %g is 0 in float", fn,
                         opts->sigma_data);
    return SM_OK;
}

/* ---- construction ------------------------------------------------------ */

/* Zeroed room for `total` parameters starting on a cache line: *mem gets
 * the block to free (NULL when out of memory). The 256-wide layers' weight
 * matrices then start on cache lines too (their sizes are multiples of 16
 * floats), so a one-row product (lib/gemm.c, sampling one point) reads
 * each row of W with aligned loads; glibc's calloc of this size returns 16
 * bytes past a page, which splits every 64-byte load in two. Only the
 * speed depends on the address, never a result. */
static float *params_alloc(size_t total, void **mem)
{
    enum { LINE = 64 / sizeof(float) };
    *mem = total <= SIZE_MAX / sizeof(float) - LINE ? sm__calloc(total + LINE, sizeof(float))
                                                     : NULL;
    if (!*mem)
        return NULL;
    const uintptr_t at = (uintptr_t)*mem;
    return (float *)*mem + ((64 - at % 64) % 64) / sizeof(float);
}

/* A network for checked options with zero parameters and gradients, one
 * thread and no workspace. */
static sm_status net_alloc(sm_net **out, const sm_net_options *opts, const char *fn)
{
    size_t total = 0;
    sm__net_param_count(opts->dim, options_context_dim(opts), opts->width, opts->depth, &total);
    sm_net *net = calloc(1, sizeof *net);
    if (!net)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    net->dim = opts->dim;
    net->context_dim = options_context_dim(opts);
    net->width = opts->width;
    net->depth = opts->depth;
    net->param = opts->parametrization;
    net->sigma_data = net->param == SM_PARAM_EDM ? (float)opts->sigma_data : 0.0f;
    net->nparams = total;
    net->threads = 1;
    net->params = params_alloc(total, &net->params_mem);
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

static sm_status net_new(sm_net **out, const sm_net_options *opts, sm_rng *rng, const char *fn)
{
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!rng)
        return sm__error(SM_ERR_INVALID_ARG, "%s: rng is NULL", fn);
    sm_status st = sm__net_check_options(opts, fn);
    if (st)
        return st;
    sm_net *net = NULL;
    if ((st = net_alloc(&net, opts, fn)))
        return st;
    /* PyTorch nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for W and b. */
    for (size_t l = 0; l <= net->depth; l++) {
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

sm_status sm_net_new(sm_net **out, size_t dim, size_t width, size_t depth, sm_rng *rng)
{
    sm_net_options opts = SM_NET_OPTIONS_INIT;
    opts.dim = dim;
    opts.width = width;
    opts.depth = depth;
    return net_new(out, &opts, rng, "sm_net_new");
}

sm_status sm_net_new_ex(sm_net **out, const sm_net_options *opts, sm_rng *rng)
{
    return net_new(out, opts, rng, "sm_net_new_ex");
}

sm_status sm__net_new_with_params(sm_net **out, const sm_net_options *opts,
                                  const float *params, const char *fn)
{
    *out = NULL;
    sm_net *net = NULL;
    sm_status st = net_alloc(&net, opts, fn);
    if (st)
        return st;
    memcpy(net->params, params, net->nparams * sizeof(float));
    *out = net;
    return SM_OK;
}

static void options_of(const sm_net *net, sm_net_options *opts)
{
    const sm_net_options init = SM_NET_OPTIONS_INIT;
    *opts = init;
    opts->dim = net->dim;
    opts->width = net->width;
    opts->depth = net->depth;
    opts->parametrization = net->param;
    opts->sigma_data = net->sigma_data;
    opts->context_dim = net->context_dim;
}

sm_status sm_net_get_options(const sm_net *net, sm_net_options *opts)
{
    if (!net || !opts)
        return sm__error(SM_ERR_INVALID_ARG, "sm_net_get_options: NULL argument");
    /* A caller built against the version-1 header has a struct that ends
     * before context_dim; any other gets this header's layout. */
    sm_net_options all;
    options_of(net, &all);
    copy_version_fields(opts, &all, opts->version == 1 ? 1 : SM_NET_OPTIONS_VERSION);
    return SM_OK;
}

sm_status sm_net_clone(const sm_net *net, sm_net **out)
{
    const char *fn = "sm_net_clone";
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!net)
        return sm__error(SM_ERR_INVALID_ARG, "%s: net is NULL", fn);
    sm_net_options opts;
    options_of(net, &opts);
    sm_net *c = NULL;
    sm_status st = sm__net_new_with_params(&c, &opts, net->params, fn);
    if (st)
        return st;
    memcpy(c->grads, net->grads, net->nparams * sizeof(float));
    if ((net->norm && (st = sm_net_set_normalization(c, net->norm, net->norm + net->dim,
                                                      net->dim))) ||
        (net->ctx_norm &&
         (st = sm_net_set_context_normalization(c, net->ctx_norm,
                                                net->ctx_norm + net->context_dim,
                                                net->context_dim))) ||
        (net->use_blis && (st = sm_net_set_kernels(c, SM_KERNELS_BLIS))) ||
        (net->reference && (st = sm__net_use_reference(c, 1))) ||
        (net->threads > 1 && (st = sm_net_set_threads(c, net->threads)))) {
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
    free(net->input);
    free(net->row_aux);
    free(net->scratch);
    free(net->norm);
    free(net->ctx_norm);
    free(net->params_mem);
    free(net->grads);
    free(net);
}

size_t sm_net_dim(const sm_net *net) { return net ? net->dim : 0; }
size_t sm_net_width(const sm_net *net) { return net ? net->width : 0; }
size_t sm_net_depth(const sm_net *net) { return net ? net->depth : 0; }
size_t sm_net_context_dim(const sm_net *net) { return net ? net->context_dim : 0; }
size_t sm_net_num_params(const sm_net *net) { return net ? net->nparams : 0; }
float *sm_net_params(sm_net *net) { return net ? net->params : NULL; }
float *sm_net_grads(sm_net *net) { return net ? net->grads : NULL; }
size_t sm_net_threads(const sm_net *net) { return net ? net->threads : 0; }

sm_status sm_net_set_kernels(sm_net *net, sm_kernels kernels)
{
    if (!net)
        return sm__error(SM_ERR_INVALID_ARG, "sm_net_set_kernels: net is NULL");
    if (kernels != SM_KERNELS_AUTO && kernels != SM_KERNELS_BLIS)
        return sm__error(SM_ERR_INVALID_ARG, "sm_net_set_kernels: unknown kernels %d",
                         (int)kernels);
    net->use_blis = kernels == SM_KERNELS_BLIS;
    for (size_t i = 0; i < net->threads; i++)
        if (net->shards[i].blas)
            sm__blas_use_blis(net->shards[i].blas, net->use_blis);
    return SM_OK;
}

const char *sm_net_kernels(const sm_net *net)
{
    if (!net)
        return NULL;
    return net->reference ? "reference" : sm__blas_kernels(net->shards[0].blas);
}

sm_parametrization sm_net_parametrization(const sm_net *net)
{
    return net ? net->param : SM_PARAM_LAB;
}

double sm_net_sigma_data(const sm_net *net)
{
    return net ? (double)net->sigma_data : 0.0;
}

sm_status sm_net_set_sigma_data(sm_net *net, double sigma_data)
{
    const char *fn = "sm_net_set_sigma_data";
    if (!net)
        return sm__error(SM_ERR_INVALID_ARG, "%s: net is NULL", fn);
    if (net->param != SM_PARAM_EDM)
        return sm__error(SM_ERR_STATE, "%s: the %s parametrization has no sigma_data", fn,
                         sm_parametrization_name(net->param));
    if (!(sigma_data > 0.0 && sigma_data <= 1e30) || !((float)sigma_data > 0.0f))
        return sm__error(SM_ERR_INVALID_ARG, "%s: sigma_data must be > 0 and finite (got %g)",
                         fn, sigma_data);
    net->sigma_data = (float)sigma_data;
    return SM_OK;
}

/* A normalization (the data's or the contexts'): n shifts then n scales in
 * one block, or NULL for none. Checks the values and stores them in *slot,
 * reusing its block; nothing changes on an error. */
static sm_status affine_store(float **slot, const float *shift, const float *scale, size_t n,
                              const char *fn)
{
    for (size_t j = 0; j < n; j++) {
        if (!isfinite(shift[j]))
            return sm__error(SM_ERR_NONFINITE, "%s: shift[%zu] is not finite", fn, j);
        if (!(scale[j] > 0.0f) || !isfinite(scale[j]))
            return sm__error(SM_ERR_INVALID_ARG, "%s: scale[%zu] = %g must be finite and > 0", fn,
                             j, (double)scale[j]);
    }
    float *norm = *slot ? *slot : sm__calloc(n, 2 * sizeof(float));
    if (!norm)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    memcpy(norm, shift, n * sizeof(float));
    memcpy(norm + n, scale, n * sizeof(float));
    *slot = norm;
    return SM_OK;
}

/* Copies a normalization block of n columns out (shift 0 and scale 1 when
 * there is none); either output may be NULL. */
static void affine_copy(const float *norm, size_t n, float *shift, float *scale)
{
    for (size_t j = 0; j < n; j++) {
        if (shift)
            shift[j] = norm ? norm[j] : 0.0f;
        if (scale)
            scale[j] = norm ? norm[n + j] : 1.0f;
    }
}

sm_status sm_net_set_normalization(sm_net *net, const float *shift, const float *scale,
                                   size_t dim)
{
    const char *fn = "sm_net_set_normalization";
    if (!net)
        return sm__error(SM_ERR_INVALID_ARG, "%s: net is NULL", fn);
    if (!shift && !scale) {
        free(net->norm);
        net->norm = NULL;
        return SM_OK;
    }
    if (!shift || !scale)
        return sm__error(SM_ERR_INVALID_ARG, "%s: give both shift and scale, or neither", fn);
    if (dim != net->dim)
        return sm__error(SM_ERR_SHAPE, "%s: %zu columns, the network has dim %zu", fn, dim,
                         net->dim);
    return affine_store(&net->norm, shift, scale, dim, fn);
}

int sm_net_has_normalization(const sm_net *net)
{
    return net && net->norm != NULL;
}

sm_status sm_net_get_normalization(const sm_net *net, float *shift, float *scale, size_t dim)
{
    const char *fn = "sm_net_get_normalization";
    if (!net)
        return sm__error(SM_ERR_INVALID_ARG, "%s: net is NULL", fn);
    if (dim != net->dim)
        return sm__error(SM_ERR_SHAPE, "%s: room for %zu columns, the network has dim %zu", fn,
                         dim, net->dim);
    affine_copy(net->norm, dim, shift, scale);
    return SM_OK;
}

sm_status sm_net_set_context_normalization(sm_net *net, const float *shift,
                                           const float *scale, size_t context_dim)
{
    const char *fn = "sm_net_set_context_normalization";
    if (!net)
        return sm__error(SM_ERR_INVALID_ARG, "%s: net is NULL", fn);
    if (!shift && !scale) {
        free(net->ctx_norm);
        net->ctx_norm = NULL;
        return SM_OK;
    }
    if (!shift || !scale)
        return sm__error(SM_ERR_INVALID_ARG, "%s: give both shift and scale, or neither", fn);
    const size_t c = net->context_dim;
    if (c == 0)
        return sm__error(SM_ERR_SHAPE, "%s: the network has no context (context_dim 0)", fn);
    if (context_dim != c)
        return sm__error(SM_ERR_SHAPE, "%s: %zu columns, the network's context has %zu", fn,
                         context_dim, c);
    return affine_store(&net->ctx_norm, shift, scale, c, fn);
}

int sm_net_has_context_normalization(const sm_net *net)
{
    return net && net->ctx_norm != NULL;
}

sm_status sm_net_get_context_normalization(const sm_net *net, float *shift, float *scale,
                                           size_t context_dim)
{
    const char *fn = "sm_net_get_context_normalization";
    if (!net)
        return sm__error(SM_ERR_INVALID_ARG, "%s: net is NULL", fn);
    const size_t c = net->context_dim;
    if (context_dim != c)
        return sm__error(SM_ERR_SHAPE, "%s: room for %zu columns, the network's context has "
                         "%zu", fn, context_dim, c);
    affine_copy(net->ctx_norm, c, shift, scale);
    return SM_OK;
}

const float *sm__net_context_norm(const sm_net *net)
{
    return net->ctx_norm;
}

static sm_status convert_units(const sm_net *net, float *points, size_t n, size_t dim,
                               int to_data, const char *fn)
{
    if (!net || (!points && n))
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument", fn);
    if (dim != net->dim)
        return sm__error(SM_ERR_SHAPE, "%s: points have dim %zu, the network %zu", fn, dim,
                         net->dim);
    if (sm__array_too_big(n, dim, sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim overflows", fn);
    if (net->norm)
        sm__map_columns(points, n, dim, net->norm, net->norm + dim, to_data);
    return SM_OK;
}

sm_status sm_net_to_data_units(const sm_net *net, float *points, size_t n, size_t dim)
{
    return convert_units(net, points, n, dim, 1, "sm_net_to_data_units");
}

sm_status sm_net_from_data_units(const sm_net *net, float *points, size_t n, size_t dim)
{
    return convert_units(net, points, n, dim, 0, "sm_net_from_data_units");
}

sm_parametrization sm__net_param(const sm_net *net) { return net->param; }
float sm__net_sigma_data(const sm_net *net) { return net->sigma_data; }
size_t sm__net_in_dim(const sm_net *net) { return input_width(net->dim, net->context_dim); }
const float *sm__net_weights(const sm_net *net) { return net->params; }
sm__pool *sm__net_pool(const sm_net *net) { return net->pool; }
size_t sm__net_block_rows(const sm_net *net) { return net->cap * net->threads; }
float *sm__net_input(sm_net *net) { return net->input; }
float *sm__net_row_aux(sm_net *net) { return net->row_aux; }
float *sm__net_scratch(sm_net *net) { return net->scratch; }
size_t sm__net_train_rows(const sm_net *net) { return net->train_rows; }
void sm__net_discard_train(sm_net *net) { net->train_rows = 0; }

sm__blas *sm__net_blas(const sm_net *net, size_t shard)
{
    return net->shards[shard].blas;
}

int sm__net_same_shape(const sm_net *a, const sm_net *b)
{
    return a->dim == b->dim && a->width == b->width && a->depth == b->depth &&
           a->param == b->param && a->context_dim == b->context_dim;
}

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
    dst->sigma_data = src->sigma_data;
    return SM_OK;
}

static size_t div_up(size_t a, size_t b)
{
    return a / b + (a % b != 0);
}

/* avg = d·avg + w·p, built for the CPU's vector width (the same bits on
 * every variant). */
SM_MULTIVERSION
static void ema_blend(float *avg, const float *p, size_t n, float d, float w)
{
    for (size_t i = 0; i < n; i++)
        avg[i] = d * avg[i] + w * p[i];
}

typedef struct {
    sm_net *ema;
    const sm_net *net;
    float d, w;
    size_t shards;
} ema_job;

static void job_ema(void *ctx, size_t s)
{
    const ema_job *j = ctx;
    size_t first, count = sm__slice(j->net->nparams, j->shards, s, &first);
    if (count)
        ema_blend(j->ema->params + first, j->net->params + first, count, j->d, j->w);
}

/* The average's update, on `pool` (net's, or NULL for the calling thread
 * alone) when the buffer is large enough to be worth splitting. */
static void ema_apply(sm_net *ema, const sm_net *net, double decay, sm__pool *pool)
{
    ema_job j = {ema, net, (float)decay, (float)(1.0 - decay), net->threads};
    if (pool && net->threads > 1 && net->nparams >= SM__MIN_SLICE * net->threads)
        sm__pool_run(pool, job_ema, &j, net->threads);
    else
        ema_blend(ema->params, net->params, net->nparams, j.d, j.w);
    ema->sigma_data = net->sigma_data;
}

void sm__net_ema_step(sm_net *ema, const sm_net *net, double decay)
{
    ema_apply(ema, net, decay, net->pool);
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
    /* Not on net's threads: net is only read here and may be in use on
     * another thread (as for every const argument), which its pool is not
     * made for. */
    ema_apply(ema, net, decay, NULL);
    return SM_OK;
}

/* New input and per-row buffers for `rows` rows; the old ones are freed
 * only when both allocations succeed. */
static sm_status io_reserve(sm_net *net, size_t rows, const char *fn)
{
    float *in = sm__calloc(rows, sm__net_in_dim(net) * sizeof(float));
    float *aux = sm__calloc(rows, sizeof(float));
    float *scratch = sm__calloc(rows, net->dim * sizeof(float));
    if (!in || !aux || !scratch) {
        free(in);
        free(aux);
        free(scratch);
        return sm__error(SM_ERR_NOMEM, "%s: out of memory for a %zu-row workspace", fn, rows);
    }
    free(net->input);
    free(net->row_aux);
    free(net->scratch);
    net->input = in;
    net->row_aux = aux;
    net->scratch = scratch;
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
    if (!st && cap && cap * threads != net->cap * net->threads)
        st = io_reserve(net, cap * threads, fn);
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
        } else if (!sh->blas) {
            if (!(sh->blas = sm__blas_new(1)))
                return sm__error(SM_ERR_NOMEM, "sm__net_use_reference: out of memory");
            sm__blas_use_blis(sh->blas, net->use_blis);
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
    if ((st = io_reserve(net, cap * net->threads, fn)))
        return st; /* the larger shard workspaces stay; the old capacity still holds */
    net->cap = cap;
    net->train_rows = 0;
    return SM_OK;
}

sm_status sm__net_ensure_workspace(sm_net *net, const char *fn)
{
    sm_status st = net->cap ? SM_OK : sm_net_reserve(net, DEFAULT_ROWS);
    return st ? sm__error_wrap(st, fn) : SM_OK;
}

sm_status sm_net_zero_grad(sm_net *net)
{
    if (!net)
        return sm__error(SM_ERR_INVALID_ARG, "sm_net_zero_grad: net is NULL");
    memset(net->grads, 0, net->nparams * sizeof(float));
    return SM_OK;
}

/* ---- passes ------------------------------------------------------------ */

void sm__net_forward_rows(const sm_net *net, sm__blas *blas, const float *in, size_t rows,
                          float *zs, float *hs, float *acts, int derivative, size_t ld,
                          float *out)
{
    const float *a = in;
    for (size_t l = 0; l <= net->depth; l++) {
        size_t fin, fout;
        layer_shape(net, l, &fin, &fout);
        const float *w = net->params + layer_w_offset(net, l);
        sm__epilogue epi = {.bias = w + fin * fout};
        const int hidden = l < net->depth;
        float *z = hidden ? zs + l * ld * net->width : out;
        if (hidden) {
            epi.h = hs + l * ld * net->width;
            if (acts)
                *(derivative ? &epi.d : &epi.s) = acts + l * ld * net->width;
            epi.discard_c = derivative || !acts; /* training and sampling never read z */
        }
        /* z (rows×fout) = a (rows×fin) · Wᵀ (fin×fout) + b, W fout×fin
         * row-major; then h = silu(z) and silu'(z) or sigmoid(z). */
        sm__sgemm_ex(blas, rows, fout, fin, 1.0f, a, (ptrdiff_t)fin, 1, w, 1, (ptrdiff_t)fin,
                     0.0f, z, (ptrdiff_t)fout, 1, &epi);
        if (hidden)
            a = epi.h;
    }
}

/* Back-propagates dz (rows × dim, ∂L/∂out) through the activations a shard
 * kept for input `in`; adds into `grads`. */
static void backward_rows(const sm_net *net, sm__shard *sh, const float *in, size_t n,
                          const float *dout, float *grads)
{
    const size_t cap = sh->cap, w = net->width;
    const float *dz = dout; /* n × fout of the current layer */
    int scratch = 0;
    for (size_t l = net->depth + 1; l-- > 0;) {
        size_t fin, fout;
        layer_shape(net, l, &fin, &fout);
        size_t off = layer_w_offset(net, l);
        const float *wt = net->params + off;
        float *dw = grads + off, *db = dw + fin * fout;
        const float *a = l == 0 ? in : sh->h + (l - 1) * cap * w;
        /* dW (fout×fin) += dzᵀ (fout×n) · a (n×fin) */
        sm__sgemm(sh->blas, fout, fin, n, 1.0f, dz, 1, (ptrdiff_t)fout, a, (ptrdiff_t)fin, 1,
                  1.0f, dw, (ptrdiff_t)fin, 1);
        if (l == net->depth) /* lower layers' db come with their dz, below */
            for (size_t r = 0; r < n; r++)
                for (size_t j = 0; j < fout; j++)
                    db[j] += dz[r * fout + j];
        if (l == 0)
            break;
        /* dz_prev (n×fin) = dz (n×fout) · W (fout×fin) ⊙ silu'(z_prev), and
         * db_prev += Σ_rows dz_prev, tile by tile in the product's epilogue. */
        float *g = sh->g[scratch];
        scratch ^= 1;
        size_t pfin, pfout; /* the layer below: pfout == fin */
        layer_shape(net, l - 1, &pfin, &pfout);
        const sm__epilogue epi = {.mul = sh->d + (l - 1) * cap * w,
                                  .colsum = grads + layer_w_offset(net, l - 1) + pfin * pfout};
        sm__sgemm_ex(sh->blas, n, fin, fout, 1.0f, dz, (ptrdiff_t)fout, 1, wt, (ptrdiff_t)fin, 1,
                     0.0f, g, (ptrdiff_t)fin, 1, &epi);
        dz = g;
    }
}

static void job_forward(void *ctx, size_t s)
{
    sm_net *net = ctx;
    sm__shard *sh = &net->shards[s];
    const sm__share *q = &net->share[s];
    if (q->count)
        sm__net_forward_rows(net, sh->blas, net->input + q->first * sm__net_in_dim(net),
                             q->count, sh->z, sh->h, net->train_rows ? sh->d : NULL, 1, sh->cap,
                             net->out + q->first * net->dim);
}

static void job_backward(void *ctx, size_t s)
{
    sm_net *net = ctx;
    sm__shard *sh = &net->shards[s];
    const sm__share *q = &net->share[s];
    if (q->count == 0)
        return;
    float *grads = net->grads;
    if (s > 0) {
        grads = sh->grads;
        memset(grads, 0, net->nparams * sizeof(float));
    }
    backward_rows(net, sh, net->input + q->first * sm__net_in_dim(net), q->count,
                  net->dF + q->first * net->dim, grads);
}

void sm__net_mlp_forward(sm_net *net, size_t n, float *out, int train)
{
    net->used = sm__rows_split(n, net->threads, net->cap, net->share);
    net->out = out;
    net->train_rows = train ? n : 0; /* set first: a training pass keeps silu'(z) */
    sm__rows_run(net->pool, job_forward, net, net->used);
}

/* Adds the other shards' gradients into shard 0's, element range by range:
 * each thread takes a slice of the parameters (whole cache lines), and
 * every element still sums the shards in shard order, so the bits are
 * those of one thread doing it all. */
static void job_reduce(void *ctx, size_t s)
{
    sm_net *net = ctx;
    size_t first, count = sm__slice(net->nparams, net->used, s, &first);
    if (!count)
        return;
    float *g[256];
    for (size_t i = 1; i < net->used; i++)
        g[i - 1] = net->shards[i].grads + first;
    sm__rows_reduce(net->grads + first, g, net->used - 1, count);
}

void sm__net_mlp_backward(sm_net *net, const float *dF, size_t n)
{
    (void)n; /* the split of the forward pass is kept in net->share */
    net->dF = dF;
    sm__rows_run(net->pool, job_backward, net, net->used);
    if (net->used > 1)
        sm__rows_run(net->pool, job_reduce, net, net->used);
}

sm_status sm__net_nonfinite_error(const sm_net *net, size_t row, const char *fn)
{
    size_t p = sm__first_nonfinite(net->params, net->nparams);
    if (p < net->nparams)
        return sm__error(SM_ERR_NONFINITE,
                         "%s: the output is not finite: parameter %zu is %g (sm_net_params())",
                         fn, p, (double)net->params[p]);
    return sm__error(SM_ERR_NONFINITE,
                     "%s: the output for point %zu is not finite: the input or the parameters "
                     "are too large for float",
                     fn, row);
}
